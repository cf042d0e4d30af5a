/* kernel.h — the simulated kernel: runs a compiled scenario on a machine of N cores and writes
 * what happens as trace records.
 *
 * Each thread is a task interpreted by the VM; the kernel answers its system calls, burns its
 * CPU work on a core, blocks and wakes it, and asks the scheduling class (sched.h) which task
 * runs next. Time advances only through the event queue (event.h), so a scenario, a machine and
 * a seed always give the same trace. */
#ifndef TIMESLICE_KERNEL_H
#define TIMESLICE_KERNEL_H

#include "ast.h"
#include "diag.h"
#include "machine.h"
#include "trace.h"
#include "vm.h"

/* Runs the program to its end, a deadlock, --until or a limit, then checks the `expect`
 * lines. Returns the trace (free with trace_destroy): its `end` says how the run ended, its
 * expects hold the results. Errors in the scenario at run time (an exception in a thread) are
 * part of the trace, not failures of this call. Returns NULL with *err only when the run
 * cannot start (out of memory, a machine the kernel cannot model, or a Thread/Process
 * keyword the machine contradicts, such as cpus= naming a core it does not have). */
struct trace *sim_run(const struct ast_program *ast, struct vm_program *prog,
		      const struct machine *m, struct diag *err);

/* Checks the program's expectations against a finished trace, with `main` the main
 * process's final state (its globals). Fills tr->expects. Returns the number that failed. */
int expect_check(struct trace *tr, struct vm_program *prog, struct vm_proc *main);

#endif

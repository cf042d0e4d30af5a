/* real.h — the real runner: interprets a compiled scenario for real on this machine (processes
 * by fork, threads by pthreads, compute as a spin on the thread's CPU clock, io and sleep as
 * clock_nanosleep, an optional real GIL) and returns what happened as the same trace the
 * simulator makes (trace->origin "real"). See docs/real.md. */
#ifndef TIMESLICE_REAL_H
#define TIMESLICE_REAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"
#include "machine.h"
#include "trace.h"
#include "vm.h"

enum real_gil {
	REAL_GIL_NONE, /* threads of a process compute in parallel */
	REAL_GIL_PY3,  /* CPython >= 3.2: switch interval, drop request, forced hand-off */
};

struct real_options {
	int cores;               /* run on this many cores (sched_setaffinity); 0 = all allowed */
	int policy;              /* -1: the OS default; POLICY_RR or POLICY_FIFO: SCHED_RR/FIFO */
	enum real_gil gil;
	int64_t switch_interval; /* py3 GIL switch interval, ns (default 5 ms) */
	int64_t timeout;         /* ns: kill the run after this long (must be > 0) */
	int64_t until;           /* ns: stop the run here (END_UNTIL); -1 = none */
	uint64_t seed;           /* the run's seed (random streams) */
	size_t max_records;      /* trace records kept; 0 = no limit */
};

/* Defaults: all cores, OS policy, no GIL, 5 ms interval, 60 s timeout, no until, seed 1. */
void real_options_default(struct real_options *o);

/* What the caller should tell the user besides the trace (stderr notes, e.g. "SCHED_RR not
 * permitted (EPERM): running under SCHED_OTHER"). */
struct real_report {
	char notes[1024];
	bool timed_out;          /* killed by --timeout (not --until) */
	int ncores;              /* cores the run used */
};

/* Cores this process may run on (its affinity mask). */
int real_cores_available(void);

/* Checks, before anything starts, that the real runner can execute every element of the
 * program and machine: returns 0, or -1 with *err at the first element it cannot execute
 * (file:line:col and the reason). */
int real_check(const struct ast_program *ast, const struct machine *m, struct diag *err);

/* The core count the scenario's machine line asks for (its line and column in *line, *col),
 * or 0 if it sets none. */
int real_machine_cores(const struct ast_program *ast, int *line, int *col);

/* Runs the program for real (after real_check). Blocks until every process of the run has
 * ended, or the timeout or until has passed (then the whole process group is killed with
 * SIGKILL), or SIGINT/SIGTERM/SIGHUP arrives (handled the same way). Every process of the run
 * is reaped before it returns; the shared area is unmapped; nothing is left on disk.
 * Returns the trace (free with trace_destroy) with its expectations checked against the main
 * process's final variables, or NULL with *err when the run cannot start (bad --cores, no
 * memory, fork failed). *rep (may be NULL) gets notes for the user. */
struct trace *real_run(const struct ast_program *ast, struct vm_program *prog,
		       const struct machine *m, const struct real_options *o,
		       struct real_report *rep, struct diag *err);

/* ---- calibration (calibrate.c): this machine's costs, for `timeslice calibrate` ---- */

#include <stdio.h>

/* One measured cost over its repetitions, in ns. n == 0: not measured (see why). */
struct real_sample {
	double median, p25, p75; /* the median and the quartiles */
	int n;                   /* repetitions measured */
	char why[96];            /* why it was not measured, when n == 0 */
};

/* What `timeslice calibrate` measures, and the machine keys it derives (see docs/real.md,
 * "Calibration"). */
struct real_calibration {
	int runs;                    /* repetitions per measurement */
	int cpu_a, cpu_b;            /* the CPUs used (cpu_b -1: only one may be used) */
	int cores;                   /* CPUs this process may use */
	char host[64], cpu_model[96], date[32];
	double load[2];              /* the 1-minute load average before and after; -1 unknown */
	struct real_sample syscall;       /* a 1-byte pipe write + read by one thread (no switch) */
	struct real_sample roundtrip;     /* two threads pinned to cpu_a ping-pong a byte: per trip */
	struct real_sample fork_child;    /* fork() to the child's first instruction */
	struct real_sample fork_return;   /* fork() to its return in the parent */
	struct real_sample fork_wait;     /* fork(), the child's _exit(0), waitpid() */
	struct real_sample thread_start;  /* pthread_create() to the new thread's first instruction */
	struct real_sample thread_return; /* pthread_create() to its return in the creator */
	struct real_sample wakeup;        /* pthread_cond_signal() on cpu_a to the waiter running
	                                   * on cpu_b */
	struct real_sample instr;         /* one VM instruction, in a fixed loop */
	/* The machine keys derived from the samples, in ns; -1 when not measured. fork, thread
	 * and gil_wakeup have cs taken off: the model adds a switch when a core picks the new or
	 * woken task. Rounded to three significant digits, as the profile writes them. */
	int64_t cs, fork, thread, gil_wakeup, instr_ns;
};

/* Measures this machine's costs, `runs` repetitions each (1 to 100000). Pins only threads
 * of its own (the caller's affinity is unchanged); forks and reaps its own children.
 * Returns 0, or -1 with a message in err when a measurement could not be made at all
 * (pipe, fork or pthread_create failed, a woken thread did not run within 2 s); *c then
 * holds what was measured before. */
int real_calibrate(int runs, struct real_calibration *c, char *err, size_t errsize);

/* Writes c as a machine profile: `#` comments (where, when, how, the quartiles) and one
 * `machine key=value ...` line of the keys measured, in the scenario language's duration
 * syntax (values that parse back exactly). Returns 0, or -1 on a write error. */
int real_calibration_write(FILE *f, const struct real_calibration *c);

#endif

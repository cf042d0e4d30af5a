/* vm_bare.h — the interpreter's lock-free path: runs a thread's plain arithmetic, local and
 * global variables of unboxed values, calls and range loops without the interpreter lock, so
 * that threads of one real process interpret in parallel and lose updates of a shared global
 * as free-threaded C does. Used by the real runner only; the simulator never calls it. */
#ifndef TIMESLICE_VM_BARE_H
#define TIMESLICE_VM_BARE_H

#include <stdatomic.h>
#include <stdint.h>

#include "vm.h"

enum vm_bare_status {
	VM_BARE_LOCK,  /* the next instruction needs the interpreter lock: run it with vm_run */
	VM_BARE_PAUSE, /* stopped at a call or a backward jump: `budget` instructions are done,
	                * or *stop was set; call again (nothing to answer) */
};

/* Runs t's next instructions as long as each one touches only unboxed values (None, bools,
 * ints, floats, durations, functions, builtins, modules) in t's own stack and frames and in
 * global variables, and ends before the first instruction that would need more: an object's
 * reference count, a system call, an error to raise, the end of the thread. vm_run then runs
 * that instruction with the same semantics, so vm_run_bare only ever moves a thread forward by
 * instructions vm_run would have executed the same way. Returns the same (VM_BARE_LOCK, with
 * nothing executed) when t is not ready or its process needs what only vm_run does: an
 * instruction cost, a shared-time lookahead, an access hook, or an eval breaker before every
 * instruction.
 *
 * Concurrency (the caller's contract): while vm_run_bare runs on a thread of a process, no
 * thread of that process may be in vm_run or touch its VM state otherwise, but any number may
 * be in vm_run_bare (the real runner holds a reader-writer lock: readers here, writers
 * everywhere else). Other bare threads race with this one only on global slots, through
 * relaxed atomic 8-byte loads and stores of the slot's payload; see vm_bare.c for why nothing
 * else can race.
 *
 * budget: instructions after which it pauses at the next call or backward jump (as vm_run's
 * slice); stop: when non-NULL and set, it pauses at the next one. lost: NULL, or one byte per
 * global slot of the program, set to 1 when this thread overwrote a global that another
 * thread had written since this thread read it (an update lost for real). Adds the
 * instructions executed to t's count (vm_thread_take_instructions). */
enum vm_bare_status vm_run_bare(struct vm_thread *t, long budget, const atomic_int *stop,
				uint8_t *lost);

/* The number of global slots of prog (the length of `lost`), and the name of slot i (NULL
 * when there is none). */
int vm_bare_nglobals(const struct vm_program *prog);
const char *vm_bare_global_name(const struct vm_program *prog, int slot);

#endif

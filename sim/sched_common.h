/* sched_common.h — the scheduler around one class's run queue: one global queue or one per
 * core, wake-up placement, wake-up preemption, load balancing and migration, CPU affinity,
 * per-thread priority and nice, and priority inheritance through inherit=True locks.
 *
 * The kernel (kernel.c) calls these where it used to call the class directly; with the
 * default global queue and the fifo or rr class they make exactly the calls it made before,
 * so those schedules stay byte-identical. Not for use outside sim/. */
#ifndef TIMESLICE_SCHED_COMMON_H
#define TIMESLICE_SCHED_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel_internal.h"

/* Sets up the per-core queues (runqueues=percore) beside k->rq, which serves core 0 (or
 * every core with the global queue). Returns 0, or -1 when out of memory (nothing to undo
 * but sched_finish, which is always safe). */
int sched_init(struct kernel *k);
void sched_finish(struct kernel *k); /* frees what sched_init made; k->rq stays the kernel's */

/* Checks the scenario's literal scheduling keywords against the machine before a run:
 * Thread(...)/Process(...) with cpus= naming a core that does not exist, a priority= or
 * nice= out of range. Returns 0, or -1 with *err at the keyword (file:line:col). */
int sched_check_program(const struct ast_program *ast, const struct machine *m,
			struct diag *err);

/* t became runnable: enqueues it (on a core's queue chosen by wake-up placement when the
 * queues are per core) and asks a running task to give way when the class says the new one
 * preempts it. Returns the idle core the kernel must make pick now, or -1. */
int sched_enqueue(struct kernel *k, struct task *t, int flags);
/* The core whose queue sched_enqueue would put t in now (per-core queues), or -1 with the
 * global queue: what t's ready record names. */
int sched_ready_core(const struct kernel *k, const struct task *t);
/* Whether the queues are per core (preempted tasks go back to their core's queue). */
bool sched_percore(const struct kernel *k);

/* The next task for core c (its own queue, then, per core, one pulled from the busiest),
 * or NULL. The task is then "on the CPU" until sched_requeue or sched_leave. */
struct task *sched_pick(struct kernel *k, int c);

/* t starts running on core c: accounts from now, charges a migration when it last ran on
 * another core (per-core queues), and returns its slice (0 when it must give way at once). */
int64_t sched_start(struct kernel *k, int c, struct task *t);

/* The running t is being preempted: accounts its CPU time and returns the reason to record
 * (0: the kernel's own "quantum expired" reason). Call before it changes state. */
uint32_t sched_preempted(struct kernel *k, struct task *t);
/* ... and back in the queue of core c (preempted). */
void sched_requeue(struct kernel *k, struct task *t, int c);
/* t left the CPU to block or finish (safe to call twice). */
void sched_leave(struct kernel *k, struct task *t);
/* t ends: off its queue or off the CPU. */
void sched_dequeue(struct kernel *k, struct task *t);

/* The load-balance tick (EV_BALANCE): evens out the per-core queues. */
void sched_balance(struct kernel *k);

/* The scheduling keywords of Thread(...)/Process(...) in c (priority=, nice=, cpus=) over
 * the creator's parameters into *out. Returns false after raising a Python exception in t. */
bool sched_params_from_call(struct kernel *k, struct task *t, const struct vm_call *c,
			    const char *what, struct sched_params *out);
/* A new task inherits: from its Process(...) when np made by one, else from its creator. */
void sched_inherit(struct kernel *k, struct task *creator, struct task *child,
		   const struct proc *np);

/* Priority inheritance: recomputes what t borrows from the waiters of the inherit=True locks
 * it holds, requeues or preempts as the new priority demands, and follows the chain when t
 * itself waits on such a lock. */
void sched_pi_update(struct kernel *k, struct task *t);

/* ---- for the classes: a FIFO list of tasks linked through rq_prev/rq_next ---- */

struct sched_list {
	struct task *head, *tail;
	int n;
};

/* Inserts t after `after` (NULL: at the head). */
static inline void sched_list_insert(struct sched_list *l, struct task *after, struct task *t)
{
	t->rq_prev = after;
	t->rq_next = after ? after->rq_next : l->head;
	if (t->rq_next)
		t->rq_next->rq_prev = t;
	else
		l->tail = t;
	if (after)
		after->rq_next = t;
	else
		l->head = t;
	t->on_rq = true;
	l->n++;
}

static inline void sched_list_remove(struct sched_list *l, struct task *t)
{
	if (t->rq_prev)
		t->rq_prev->rq_next = t->rq_next;
	else
		l->head = t->rq_next;
	if (t->rq_next)
		t->rq_next->rq_prev = t->rq_prev;
	else
		l->tail = t->rq_prev;
	t->rq_prev = t->rq_next = NULL;
	t->on_rq = false;
	l->n--;
}

/* The first task of l that may run on core c, or NULL. */
static inline struct task *sched_list_first(const struct sched_list *l, int c)
{
	struct task *t = l->head;
	while (t && !sched_allowed(t, c))
		t = t->rq_next;
	return t;
}

#endif

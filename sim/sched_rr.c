/* sched_rr.c — first-in first-out and round robin, on a run queue (global or a core's).
 *
 * FIFO is round robin with an infinite quantum: a task runs until it blocks or exits, and a
 * woken task goes to the tail. Under RR a task whose quantum ran out also goes to the tail,
 * behind every task that became ready before that instant (SCHED_RR's rule). */
#include "sched.h"

#include <stdlib.h>

struct rr_queue {
	struct task *head, *tail;
	int n;
	int64_t quantum; /* INT64_MAX for FIFO */
};

static void *rr_create_with(const struct machine *m, int64_t quantum)
{
	struct rr_queue *q = calloc(1, sizeof *q);
	if (q)
		q->quantum = quantum;
	(void)m;
	return q;
}

static void *fifo_create(const struct machine *m)
{
	return rr_create_with(m, INT64_MAX);
}

static void *rr_create(const struct machine *m)
{
	return rr_create_with(m, m->quantum);
}

static void rr_destroy(void *rq)
{
	free(rq);
}

static void rr_enqueue(void *rq, struct task *t, int flags)
{
	struct rr_queue *q = rq;
	(void)flags;
	t->rq_next = NULL;
	t->rq_prev = q->tail;
	if (q->tail)
		q->tail->rq_next = t;
	else
		q->head = t;
	q->tail = t;
	t->on_rq = true;
	q->n++;
}

static void rr_dequeue(void *rq, struct task *t)
{
	struct rr_queue *q = rq;
	if (!t->on_rq)
		return;
	if (t->rq_prev)
		t->rq_prev->rq_next = t->rq_next;
	else
		q->head = t->rq_next;
	if (t->rq_next)
		t->rq_next->rq_prev = t->rq_prev;
	else
		q->tail = t->rq_prev;
	t->rq_prev = t->rq_next = NULL;
	t->on_rq = false;
	q->n--;
}

static struct task *rr_pick_next(void *rq, int core)
{
	struct rr_queue *q = rq;
	struct task *t = q->head;
	while (t && !sched_allowed(t, core)) /* the first it may run: affinity */
		t = t->rq_next;
	if (t)
		rr_dequeue(rq, t);
	return t;
}

static int64_t rr_slice(void *rq, const struct task *t)
{
	(void)t;
	return ((struct rr_queue *)rq)->quantum;
}

static bool rr_check_preempt(void *rq, const struct task *curr, const struct task *woken)
{
	(void)rq, (void)curr, (void)woken;
	return false;
}

static int rr_nr_running(const void *rq)
{
	return ((const struct rr_queue *)rq)->n;
}

const struct sched_class sched_fifo_class = {
	.name = "fifo",
	.create = fifo_create,
	.destroy = rr_destroy,
	.enqueue = rr_enqueue,
	.dequeue = rr_dequeue,
	.pick_next = rr_pick_next,
	.slice = rr_slice,
	.check_preempt = rr_check_preempt,
	.nr_running = rr_nr_running,
};

const struct sched_class sched_rr_class = {
	.name = "rr",
	.create = rr_create,
	.destroy = rr_destroy,
	.enqueue = rr_enqueue,
	.dequeue = rr_dequeue,
	.pick_next = rr_pick_next,
	.slice = rr_slice,
	.check_preempt = rr_check_preempt,
	.nr_running = rr_nr_running,
};

const struct sched_class *sched_class_for(enum policy p)
{
	switch (p) {
	case POLICY_FIFO:
		return &sched_fifo_class;
	case POLICY_RR:
		return &sched_rr_class;
	case POLICY_PRIO:
		return &sched_prio_class;
	case POLICY_MLFQ:
		return &sched_mlfq_class;
	case POLICY_FAIR:
		return &sched_fair_class;
	default:
		return NULL;
	}
}

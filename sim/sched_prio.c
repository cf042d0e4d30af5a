/* sched_prio.c — static priority, preemptive, after SCHED_RR: the highest priority ready task
 * runs; among equals, round robin with the machine's quantum. A task that becomes ready with
 * a higher priority than a running one preempts it (check_preempt). The priority a task runs
 * at is sched_prio(): its own (priority=, 0 to 99, higher first), or more while a waiter on
 * an inherit=True lock it holds lends it its own. */
#include <stdlib.h>

#include "sched_common.h"

struct prio_queue {
	struct sched_list l; /* by priority, highest first; FIFO among equals */
	int64_t quantum;
};

static void *prio_create(const struct machine *m)
{
	struct prio_queue *q = calloc(1, sizeof *q);
	if (q)
		q->quantum = m->quantum;
	return q;
}

static void prio_destroy(void *rq)
{
	free(rq);
}

static void prio_enqueue(void *rq, struct task *t, int flags)
{
	struct prio_queue *q = rq;
	(void)flags;
	/* behind every task of its priority or higher: the tail of its level */
	struct task *after = q->l.tail;
	while (after && sched_prio(after) < sched_prio(t))
		after = after->rq_prev;
	sched_list_insert(&q->l, after, t);
}

static void prio_dequeue(void *rq, struct task *t)
{
	if (t->on_rq)
		sched_list_remove(&((struct prio_queue *)rq)->l, t);
}

static struct task *prio_pick_next(void *rq, int core)
{
	struct prio_queue *q = rq;
	struct task *t = sched_list_first(&q->l, core);
	if (t)
		sched_list_remove(&q->l, t);
	return t;
}

static int64_t prio_slice(void *rq, const struct task *t)
{
	(void)t;
	return ((struct prio_queue *)rq)->quantum;
}

static bool prio_check_preempt(void *rq, const struct task *curr, const struct task *woken)
{
	(void)rq;
	return sched_prio(woken) > sched_prio(curr);
}

static int prio_nr_running(const void *rq)
{
	return ((const struct prio_queue *)rq)->l.n;
}

const struct sched_class sched_prio_class = {
	.name = "prio",
	.create = prio_create,
	.destroy = prio_destroy,
	.enqueue = prio_enqueue,
	.dequeue = prio_dequeue,
	.pick_next = prio_pick_next,
	.slice = prio_slice,
	.check_preempt = prio_check_preempt,
	.nr_running = prio_nr_running,
};

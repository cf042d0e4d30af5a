/* sched_fair.c — weighted fair sharing after Linux's CFS (kernel/sched/fair.c before 6.6; see
 * docs/scheduling.md for what is modelled and what is simplified).
 *
 * Each task has a weight from its nice value (Linux's sched_prio_to_weight: nice 0 = 1024,
 * each step about 1.25x) and a virtual runtime that grows by ran * 1024 / weight. The queue
 * runs the task with the smallest vruntime (ties: the one queued first), for a slice of
 * max(min_granularity, sched_latency * weight / total weight), where the total counts every
 * task queued or running on this queue. The tunables are Linux's defaults scaled by
 * 1 + log2(min(cores, 8)) (SCHED_TUNABLESCALING_LOG): sched_latency 6 ms, min_granularity
 * (the base slice) 0.75 ms, wakeup_granularity 1 ms.
 *
 * Placement: a new task starts at the queue's min_vruntime; a waking task at
 * max(its own, min_vruntime - sched_latency / 2) (GENTLE_FAIR_SLEEPERS), so a sleeper gets
 * ahead a little but cannot bank its sleep; a task moved to another core's queue keeps its
 * distance from min_vruntime. A waking task preempts the running one when its vruntime is
 * smaller by more than the wakeup granularity (converted to the woken task's virtual time). */
#include <stdlib.h>

#include "sched_common.h"

static const int prio_to_weight[40] = {
	/* -20 */ 88761, 71755, 56483, 46273, 36291,
	/* -15 */ 29154, 23254, 18705, 14949, 11916,
	/* -10 */ 9548,  7620,  6100,  4904,  3906,
	/*  -5 */ 3121,  2501,  1991,  1586,  1277,
	/*   0 */ 1024,  820,   655,   526,   423,
	/*   5 */ 335,   272,   215,   172,   137,
	/*  10 */ 110,   87,    70,    56,    45,
	/*  15 */ 36,    29,    23,    18,    15,
};

struct fair_queue {
	struct sched_list l;   /* by vruntime, smallest first; FIFO among equals */
	int64_t min_vruntime;  /* never decreases */
	int64_t load;          /* weights of the tasks queued or running here */
	int64_t latency, min_gran, wakeup_gran;
};

static int64_t weight_of(const struct task *t)
{
	int n = t->se.p.nice < -20 ? -20 : t->se.p.nice > 19 ? 19 : t->se.p.nice;
	return prio_to_weight[n + 20];
}

static void *fair_create(const struct machine *m)
{
	struct fair_queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	int n = m->cores < 8 ? m->cores : 8, factor = 1;
	while (n >>= 1)
		factor++; /* 1 + ilog2(min(cores, 8)) */
	q->latency = 6000000LL * factor;
	q->min_gran = 750000LL * factor;
	q->wakeup_gran = 1000000LL * factor;
	return q;
}

static void fair_destroy(void *rq)
{
	free(rq);
}

static void update_min_vruntime(struct fair_queue *q, const struct task *curr)
{
	int64_t v = curr ? curr->se.vruntime : INT64_MAX;
	if (q->l.head && q->l.head->se.vruntime < v)
		v = q->l.head->se.vruntime;
	if (v != INT64_MAX && v > q->min_vruntime)
		q->min_vruntime = v;
}

static void fair_enqueue(void *rq, struct task *t, int flags)
{
	struct fair_queue *q = rq;
	if (flags & ENQ_NEW) {
		t->se.vruntime = q->min_vruntime;
	} else if (flags & ENQ_WAKEUP) {
		int64_t floor = q->min_vruntime - q->latency / 2;
		if (t->se.vruntime < floor)
			t->se.vruntime = floor;
	} else if (flags & ENQ_MIGRATE) {
		t->se.vruntime = q->min_vruntime + t->se.vlag;
	}
	if (!(flags & ENQ_PREEMPTED))
		q->load += weight_of(t); /* a preempted task was counted while it ran */
	struct task *after = q->l.tail;
	while (after && after->se.vruntime > t->se.vruntime)
		after = after->rq_prev;
	sched_list_insert(&q->l, after, t);
}

static void fair_dequeue(void *rq, struct task *t)
{
	struct fair_queue *q = rq;
	if (!t->on_rq)
		return;
	sched_list_remove(&q->l, t);
	q->load -= weight_of(t);
	t->se.vlag = t->se.vruntime - q->min_vruntime;
}

static struct task *fair_pick_next(void *rq, int core)
{
	struct fair_queue *q = rq;
	struct task *t = sched_list_first(&q->l, core);
	if (t)
		sched_list_remove(&q->l, t); /* still counted in load: it runs here */
	return t;
}

static void fair_account(void *rq, struct task *t, int64_t ran)
{
	struct fair_queue *q = rq;
	t->se.vruntime += ran * 1024 / weight_of(t);
	update_min_vruntime(q, t);
}

static void fair_leave(void *rq, struct task *t)
{
	struct fair_queue *q = rq;
	q->load -= weight_of(t);
	update_min_vruntime(q, NULL);
}

static int64_t fair_slice(void *rq, const struct task *t)
{
	struct fair_queue *q = rq;
	int64_t w = weight_of(t), load = q->load > w ? q->load : w;
	int64_t s = q->latency * w / load;
	return s > q->min_gran ? s : q->min_gran;
}

static bool fair_check_preempt(void *rq, const struct task *curr, const struct task *woken)
{
	struct fair_queue *q = rq;
	int64_t gran = q->wakeup_gran * 1024 / weight_of(woken);
	return curr->se.vruntime - woken->se.vruntime > gran;
}

static int fair_nr_running(const void *rq)
{
	return ((const struct fair_queue *)rq)->l.n;
}

const struct sched_class sched_fair_class = {
	.name = "fair",
	.create = fair_create,
	.destroy = fair_destroy,
	.enqueue = fair_enqueue,
	.dequeue = fair_dequeue,
	.pick_next = fair_pick_next,
	.slice = fair_slice,
	.check_preempt = fair_check_preempt,
	.nr_running = fair_nr_running,
	.account = fair_account,
	.leave = fair_leave,
};

/* sched_mlfq.c — the multi-level feedback queue of OSTEP (Arpaci-Dusseau, ch. 8):
 *   1. a task at a higher level runs before one at a lower level (level 0 is the top);
 *   2. tasks at one level take turns (round robin), with that level's quantum: mlfq_quantum
 *      at the top, doubling at each level down;
 *   3. a new task starts at the top;
 *   4. once a task has used its allotment (mlfq_allotment of CPU) at a level, however many
 *      times it gave the CPU up (I/O keeps its level and what it used there), it moves down;
 *   5. every mlfq_boost all tasks go back to the top.
 * A task that becomes ready at a higher level than a running task preempts it. The boost is
 * applied at the first scheduling decision at or after each multiple of mlfq_boost (tasks
 * running then are moved up when next accounted), which is exact whenever anything competes
 * for the CPU — the only time a boost matters. */
#include <stdlib.h>

#include "sched_common.h"

struct mlfq_queue {
	struct sched_list level[MACHINE_MLFQ_MAX_LEVELS];
	int levels, n;
	int64_t quantum, allotment, boost;
	int64_t next_boost;
	uint64_t boost_gen;  /* boosts so far: a task that saw fewer is moved to the top */
};

static void *mlfq_create(const struct machine *m)
{
	struct mlfq_queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->levels = m->mlfq_levels;
	q->quantum = m->mlfq_quantum;
	q->allotment = m->mlfq_allotment;
	q->boost = m->mlfq_boost;
	q->next_boost = m->mlfq_boost;
	return q;
}

static void mlfq_destroy(void *rq)
{
	free(rq);
}

/* A task that has not seen the latest boost is at the top with a fresh allotment. */
static void catch_up(struct mlfq_queue *q, struct task *t)
{
	if (t->se.boost_gen != q->boost_gen) {
		t->se.boost_gen = q->boost_gen;
		t->se.level = 0;
		t->se.level_used = 0;
	}
}

static void mlfq_enqueue(void *rq, struct task *t, int flags)
{
	struct mlfq_queue *q = rq;
	if (flags & ENQ_NEW) {
		t->se.level = 0;
		t->se.level_used = 0;
		t->se.boost_gen = q->boost_gen;
	}
	catch_up(q, t);
	if (t->se.level >= q->levels)
		t->se.level = q->levels - 1;
	struct sched_list *l = &q->level[t->se.level];
	sched_list_insert(l, l->tail, t);
	q->n++;
}

static void mlfq_dequeue(void *rq, struct task *t)
{
	struct mlfq_queue *q = rq;
	if (!t->on_rq)
		return;
	sched_list_remove(&q->level[t->se.level], t);
	q->n--;
}

static void mlfq_tick(void *rq, int64_t now)
{
	struct mlfq_queue *q = rq;
	if (now < q->next_boost)
		return;
	while (q->next_boost <= now)
		q->next_boost += q->boost;
	q->boost_gen++;
	/* everyone queued goes to the top, level by level in their order */
	struct sched_list *top = &q->level[0];
	for (struct task *t = top->head; t; t = t->rq_next)
		t->se.boost_gen = q->boost_gen, t->se.level_used = 0;
	for (int lv = 1; lv < q->levels; lv++) {
		struct sched_list *l = &q->level[lv];
		while (l->head) {
			struct task *t = l->head;
			sched_list_remove(l, t);
			catch_up(q, t);
			sched_list_insert(top, top->tail, t);
		}
	}
}

static struct task *mlfq_pick_next(void *rq, int core)
{
	struct mlfq_queue *q = rq;
	for (int lv = 0; lv < q->levels; lv++) {
		struct task *t = sched_list_first(&q->level[lv], core);
		if (t) {
			sched_list_remove(&q->level[lv], t);
			q->n--;
			return t;
		}
	}
	return NULL;
}

static void mlfq_account(void *rq, struct task *t, int64_t ran)
{
	struct mlfq_queue *q = rq;
	catch_up(q, t);
	t->se.level_used += ran;
	if (t->se.level_used >= q->allotment) {
		t->se.level_used = 0;
		if (t->se.level < q->levels - 1)
			t->se.level++;
	}
}

/* The level's quantum, cut short where the allotment ends so that the move down is on time. */
static int64_t mlfq_slice(void *rq, const struct task *t)
{
	struct mlfq_queue *q = rq;
	int lv = t->se.boost_gen != q->boost_gen ? 0 : t->se.level;
	int64_t used = t->se.boost_gen != q->boost_gen ? 0 : t->se.level_used;
	int64_t slice = q->quantum << lv, left = q->allotment - used;
	return left < slice ? left : slice;
}

static bool mlfq_check_preempt(void *rq, const struct task *curr, const struct task *woken)
{
	struct mlfq_queue *q = rq;
	int lc = curr->se.boost_gen != q->boost_gen ? 0 : curr->se.level;
	int lw = woken->se.boost_gen != q->boost_gen ? 0 : woken->se.level;
	return lw < lc;
}

static int mlfq_nr_running(const void *rq)
{
	return ((const struct mlfq_queue *)rq)->n;
}

const struct sched_class sched_mlfq_class = {
	.name = "mlfq",
	.create = mlfq_create,
	.destroy = mlfq_destroy,
	.enqueue = mlfq_enqueue,
	.dequeue = mlfq_dequeue,
	.pick_next = mlfq_pick_next,
	.slice = mlfq_slice,
	.check_preempt = mlfq_check_preempt,
	.nr_running = mlfq_nr_running,
	.account = mlfq_account,
	.tick = mlfq_tick,
};

/* event.c — a binary min-heap ordered by (t, prio, seq). */
#include "event.h"

#include <assert.h>
#include <stdlib.h>

static bool before(const struct event *a, const struct event *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->prio != b->prio)
		return a->prio < b->prio;
	return a->seq < b->seq;
}

void event_queue_init(struct event_queue *q)
{
	*q = (struct event_queue){0};
}

void event_queue_finish(struct event_queue *q)
{
	free(q->heap);
	*q = (struct event_queue){0};
}

int event_push(struct event_queue *q, int64_t t, int32_t prio, int32_t kind, int32_t target,
	       uint32_t gen)
{
	assert(t >= q->now && "event scheduled in the past");
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct event *h = realloc(q->heap, cap * sizeof *h);
		if (!h)
			return -1;
		q->heap = h;
		q->cap = cap;
	}
	struct event e = {t, prio, kind, target, gen, q->next_seq++};
	size_t i = q->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&e, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = e;
	return 0;
}

bool event_pop(struct event_queue *q, struct event *out)
{
	if (q->n == 0)
		return false;
	*out = q->heap[0];
	struct event last = q->heap[--q->n];
	size_t i = 0, n = q->n;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct event *best = &last;
		if (l < n && before(&q->heap[l], best)) {
			m = l;
			best = &q->heap[l];
		}
		if (r < n && before(&q->heap[r], best))
			m = r;
		if (m == i)
			break;
		q->heap[i] = q->heap[m];
		i = m;
	}
	if (n > 0)
		q->heap[i] = last;
	assert(out->t >= q->now && "clock ran backwards");
	q->now = out->t;
	q->popped++;
	return true;
}

const struct event *event_peek(const struct event_queue *q)
{
	return q->n ? &q->heap[0] : NULL;
}

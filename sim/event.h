/* event.h — the discrete-event queue of the simulator.
 *
 * Ordering rule: events leave the queue in order of time, then priority (lower first), then
 * the order in which they were pushed. Nothing else (addresses, hashing) takes part, so one
 * scenario and one seed give the same sequence of events, and so a byte-identical trace.
 * The clock never runs backwards: `now` is the time of the last event popped, and pushing an
 * event before it is a bug in the caller (asserted). */
#ifndef TIMESLICE_EVENT_H
#define TIMESLICE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event {
	int64_t t;      /* ns */
	int32_t prio;   /* lower pops first among events at the same t */
	int32_t kind;   /* meaning is the caller's */
	int32_t target; /* meaning is the caller's (a task or core index) */
	uint32_t gen;   /* the caller's generation stamp: lets it ignore stale events */
	uint64_t seq;   /* insertion order, assigned by event_push */
};

struct event_queue {
	struct event *heap;
	size_t n, cap;
	uint64_t next_seq;
	int64_t now;
	uint64_t popped; /* events popped so far */
};

void event_queue_init(struct event_queue *q);   /* empty queue, now = 0 */
void event_queue_finish(struct event_queue *q); /* frees the heap; q may be reused after init */

/* Schedules an event. Returns 0, or -1 when out of memory (the queue is unchanged). */
int event_push(struct event_queue *q, int64_t t, int32_t prio, int32_t kind, int32_t target,
	       uint32_t gen);

/* Removes the first event into *out and advances now to its time. Returns false when empty. */
bool event_pop(struct event_queue *q, struct event *out);

/* The first event without removing it; NULL when empty. */
const struct event *event_peek(const struct event_queue *q);

#endif

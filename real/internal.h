/* internal.h — what the real runner's files share: the merge of the shared records into a
 * trace. Not for other modules. */
#ifndef TIMESLICE_REAL_INTERNAL_H
#define TIMESLICE_REAL_INTERNAL_H

#include "shm.h"
#include "trace.h"

enum real_stop {
	STOP_COMPLETED, /* every process ended by itself */
	STOP_TIMEOUT,   /* --timeout ran out: the group was killed */
	STOP_UNTIL,     /* --until reached: the group was killed */
	STOP_SIGNAL,    /* the supervisor got SIGINT/SIGTERM/SIGHUP: the group was killed */
};

struct real_merge_in {
	const struct real_shm *shm;
	int ncores;
	const int16_t *cpu_core; /* cpu id -> core index of the run, -1 if not in the run's set */
	int ncpu;                /* entries in cpu_core */
	const char *source_name;
	size_t max_recs;
	enum real_stop stop;
	int64_t stop_t;          /* ns since t0 when the group was killed (not STOP_COMPLETED) */
	int signal;              /* STOP_SIGNAL: which */
	int64_t timeout;         /* for the message */
	int64_t switch_interval; /* for the GIL reasons */
};

/* Merges every slot's records in time order into a new trace (origin "real"): thread states,
 * cores derived from sched_getcpu, printed lines, exceptions, how the run ended. Returns NULL
 * when out of memory. Deterministic: the same shared area gives the same trace. */
struct trace *real_merge(const struct real_merge_in *in);

#endif

/* trace.h — trace records: the one format that the simulator and the real runner write and that
 * every output (metrics, Chrome JSON, terminal Gantt, expectations, the window) reads.
 *
 * A trace is a list of records in time order, each saying "entity X enters state S at time t",
 * plus tables of the processes, threads and cores it speaks of, interned strings, the final
 * variables of the main process, the expectations' results and how the run ended.
 * Time is int64_t nanoseconds from the start of the run. */
#ifndef TIMESLICE_TRACE_H
#define TIMESLICE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a thread is doing. Everything from TS_SLEEP to TS_WAIT is "blocked" with that reason. */
enum thread_state {
	TS_NEW,     /* created, not yet runnable (fork/thread creation in progress) */
	TS_READY,   /* runnable, waiting for a core */
	TS_RUNNING, /* on a core (rec.core) */
	TS_SLEEP,   /* sleep() */
	TS_IO,      /* io() */
	TS_JOIN,    /* join() on a thread or process */
	TS_LOCK,    /* waiting for a lock, semaphore, condition, event or barrier */
	TS_GIL,     /* waiting for its process's GIL */
	TS_WAIT,    /* waiting on a queue, pipe, pool result, or anything else */
	TS_DONE,    /* finished (or killed) */
	TS_COUNT
};

static inline bool thread_state_blocked(enum thread_state s)
{
	return s >= TS_SLEEP && s <= TS_WAIT;
}

/* What a core is doing. A core runs a thread exactly when that thread is TS_RUNNING on it;
 * the core records say so too, so a core's track can be drawn from its records alone. */
enum core_state {
	CS_IDLE,   /* nothing to run */
	CS_SWITCH, /* context switch in progress towards rec.tid (costs the machine's `cs`) */
	CS_RUN,    /* running thread rec.tid */
	CS_COUNT
};

enum trace_kind {
	TR_STATE, /* thread tid enters state `state` (enum thread_state); `core`: when running,
	           * the core it runs on; when ready, the core whose run queue it waits in
	           * (runqueues=percore; a queued task moved to another core's queue gets a new
	           * ready record naming it), or -1 with the one global queue; -1 otherwise */
	TR_CORE,  /* core `core` enters state `state` (enum core_state); tid = thread or -1 */
	TR_PRINT, /* thread tid printed the line `text` (string id; no trailing newline) */
	TR_WAKE,  /* thread `obj` (a thread index) woke thread tid; reason says how */
	TR_MARK,  /* instant event of thread tid named by `text` (fork, start, exit, error...) */
	TR_OBJ,   /* object `obj` (index into objects) enters state (enum obj_state): held by
	           * thread tid, or free (tid -1); its own track in the trace */
	TR_COUNTER, /* counter `obj` (index into objects) takes the value in `line` (for this
	             * kind `line` carries the value, not a scenario line): a multiprocessing
	             * Queue's pipe fill, in bytes (the object is the Queue); tid -1 */
	TR_KIND_COUNT
};

enum obj_state {
	OBJ_FREE,
	OBJ_HELD,
};

/* 32 bytes. Thread and core numbers are indexes into the trace's tables, not pids/tids. */
struct trace_rec {
	int64_t t;       /* ns since the start of the run */
	int32_t tid;     /* thread index, or -1 */
	int16_t core;    /* core index, or -1 */
	uint8_t kind;    /* enum trace_kind */
	uint8_t state;   /* enum thread_state or enum core_state, by kind */
	int32_t obj;     /* object involved (thread index for TR_WAKE), or -1 */
	uint32_t text;   /* string id (TR_PRINT, TR_MARK), 0 = none */
	uint32_t reason; /* string id explaining the change, 0 = none */
	uint32_t line;   /* scenario line that caused it, 0 = none; TR_COUNTER: the value */
};

struct trace_process {
	int pid, ppid;
	uint32_t name;     /* string id */
	int main_thread;   /* thread index of its first thread */
};

struct trace_thread {
	int tid;           /* the OS-style thread id (main thread's tid == its pid) */
	int proc;          /* index into procs */
	uint32_t name;     /* string id ("MainThread", "Thread-1", "Process-1", ...) */
};

/* A synchronisation object with a track of its own (a lock, a GIL, ...). */
struct trace_object {
	uint32_t name;     /* string id: the scenario's variable name, e.g. "lock_a" */
	uint32_t kind;     /* string id: "Lock", "RLock", "GIL", ... */
	int line;          /* where it was made, 0 if unknown */
};

/* One thread of a deadlock cycle: it holds `holds` (acquired at holds_line) and waits for
 * `waits_for` at `line`. The next entry's thread is the one that holds what this one waits
 * for; the last one's is the first's. */
struct trace_wait_edge {
	int thread;        /* thread index */
	uint32_t holds;    /* string id of what it holds that the previous one waits for */
	int holds_line;
	uint32_t waits_for; /* string id of what it waits for */
	int line;
};

/* A data race: two accesses to one variable by two threads, at least one a write, with
 * nothing ordering them (happens-before). */
struct trace_race {
	uint32_t var;      /* string id: the variable's name */
	int thread_a, line_a;
	bool write_a;
	int thread_b, line_b;
	bool write_b;
};

/* The counters of one process's GIL. */
struct trace_gil {
	int proc;          /* process index */
	int64_t holds, switches, forced_switches, drop_requests;
};

struct trace_var {
	uint32_t name;     /* string id */
	uint32_t repr;     /* string id: the value as Python's repr() would print it */
};

struct trace_expect {
	int line;
	uint32_t text;     /* the expectation as written after `expect` */
	bool ok;
	uint32_t detail;   /* what was found, e.g. "balance is 12, expected 0"; 0 when ok */
};

/* How the run ended. */
enum trace_end {
	END_COMPLETED,  /* every thread finished */
	END_UNTIL,      /* stopped at --until */
	END_LIMIT,      /* an event, time or memory limit was hit: end_msg says which */
	END_DEADLOCK,   /* every live thread blocked with nothing pending, or a wait-for cycle */
	END_ERROR,      /* the scenario failed at run time: end_msg holds the diagnostic */
};

struct trace {
	struct trace_rec *recs;     /* appended by trace_emit only */
	size_t nrecs, caprecs;
	bool recs_mapped;           /* private: recs is a mapping, not heap memory */
	size_t max_recs;            /* trace_emit fails beyond this; 0 = no limit */

	struct trace_process *procs;
	int nprocs, capprocs;
	struct trace_thread *threads;
	int nthreads, capthreads;
	int ncores;
	uint32_t *core_labels;      /* per core: string id of its name ("worker core 1") when
	                             * the run has several hosts; NULL: "core N" */

	struct trace_object *objects;
	int nobjects, capobjects;

	/* when end == END_DEADLOCK: "cycle" (a wait-for cycle) or "all-blocked" */
	char deadlock_kind[16];
	struct trace_wait_edge *cycle;
	int ncycle;

	struct trace_gil *gils;     /* one per process with a GIL */
	int ngils, capgils;
	char gil_model[8];          /* "none", "py2", "py3" */
	char python[8];             /* the Python version that set it, or "" */

	bool races_checked;         /* the race detector ran (races is meaningful) */
	struct trace_race *races;
	int nraces, capraces;

	struct trace_var *vars;     /* final globals of the main process, in definition order */
	int nvars, capvars;
	struct trace_expect *expects;
	int nexpects, capexpects;

	int64_t makespan;           /* time the last thread finished (or the run stopped) */
	enum trace_end end;
	char end_msg[1024];         /* human explanation of end (empty for END_COMPLETED) */
	char source_name[256];      /* scenario file or bundled id */
	char origin[16];            /* "sim" or "real" */
	uint64_t nevents;           /* events the simulator processed (0 for real runs) */

	/* interned strings; id 0 is the empty string */
	char **strs;
	uint32_t nstrs, capstrs;
	void *strindex;             /* private hash index for trace_intern */
};

/* Creates an empty trace with `ncores` cores. Returns NULL when out of memory.
 * Free with trace_destroy (NULL is safe). */
struct trace *trace_create(int ncores);
void trace_destroy(struct trace *tr);

/* Whether r is one of the run's events a reader is told of: a mark on a thread other than an
 * uncaught exception (shown as such) and the GIL's drop requests (too many to list). */
bool trace_is_event(const struct trace *tr, const struct trace_rec *r);

/* Core c's name: "core 3", or the label its host gave it ("worker core 1"). */
const char *trace_core_label(const struct trace *tr, int c, char *buf, size_t size);
/* Names core c (several hosts). Returns 0, or -1 when out of memory. */
int trace_set_core_label(struct trace *tr, int c, const char *label);

/* Returns the id of s (interning a copy on first use); 0 for NULL or "". Returns UINT32_MAX
 * when out of memory. */
uint32_t trace_intern(struct trace *tr, const char *s);
const char *trace_str(const struct trace *tr, uint32_t id); /* never NULL: "" for bad ids */

/* Add table entries; return the new index, or -1 when out of memory. */
int trace_add_process(struct trace *tr, int pid, int ppid, const char *name);
int trace_add_thread(struct trace *tr, int proc, int tid, const char *name);

/* Appends a record. Records must come in non-decreasing time. Returns 0, or -1 when the
 * record limit (max_recs) is reached or memory runs out; the trace is unchanged then. */
int trace_emit(struct trace *tr, const struct trace_rec *rec);

int trace_add_var(struct trace *tr, const char *name, const char *repr);
int trace_add_object(struct trace *tr, const char *name, const char *kind, int line);
int trace_add_gil(struct trace *tr, int proc, int64_t holds, int64_t switches,
		  int64_t forced_switches, int64_t drop_requests);
int trace_add_race(struct trace *tr, const char *var, int thread_a, bool write_a, int line_a,
		   int thread_b, bool write_b, int line_b);
/* Records a deadlock cycle (copied). Returns 0, or -1 when out of memory. */
int trace_set_cycle(struct trace *tr, const struct trace_wait_edge *edges, int n);
int trace_add_expect(struct trace *tr, int line, const char *text, bool ok, const char *detail);

/* How text outputs name thread t: its own name in the first process, "process/thread" in
 * the others (every process has a "MainThread"). Writes into buf and returns it. */
const char *trace_thread_label(const struct trace *tr, int t, char *buf, size_t size);

const char *thread_state_name(enum thread_state s);  /* "running", "ready", "sleep", ... */
const char *core_state_name(enum core_state s);      /* "idle", "switch", "run" */

#endif

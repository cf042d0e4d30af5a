/* shm.h — the real runner's shared recording area: one anonymous MAP_SHARED mapping, made
 * before the first fork, that every process and thread of a real run writes its records to.
 *
 * Layout: a header, a table of process slots, a table of thread slots, a text arena (printed
 * lines, exception texts, expectation results) and one record region per thread slot. A thread
 * writes only to its own region and bumps its own count (release store), so the hot path takes
 * no lock; slots and text are allocated with atomic fetch-and-add, which works across processes
 * on a shared mapping. Nothing here is named in the file system: the mapping disappears with the
 * last process that maps it, also when they are killed. */
#ifndef TIMESLICE_REAL_SHM_H
#define TIMESLICE_REAL_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REAL_MAX_PROCS 256
#define REAL_MAX_THREADS 512
#define REAL_RECS_PER_THREAD 16384
#define REAL_TEXT_CAP ((size_t)8 << 20)
#define REAL_MAX_RESULTS 512
#define REAL_MAX_OBJS 4096            /* locks, semaphores, ..., Values and Arrays per run */
#define REAL_DATA_CAP ((size_t)1 << 21) /* 8-byte elements of Values and Arrays per run */

enum real_rec_kind {
	RK_STATE,       /* subject enters `state` */
	RK_SPAWN_READY, /* the creator's call returned: subject is ready unless it already ran */
	RK_PRINT,       /* subject printed text at offset arg */
	RK_MARK,        /* an instant event (an exception): text at offset arg */
	RK_WAKE,        /* obj (a thread slot) woke subject */
};

/* Why a state was entered; turned into the trace's reason strings when records are merged. */
enum real_reason {
	RR_NONE,
	RR_PROGRAM_START,  /* the program starts */
	RR_RUN,            /* the OS runs it on a cpu */
	RR_PREEMPTED,      /* observed: wall time passed without CPU time inside compute() */
	RR_RESUMED,        /* observed: back on a cpu after a preemption */
	RR_MIGRATED,       /* now on another cpu */
	RR_SLEEP,          /* sleep(arg) */
	RR_IO,             /* io(arg) */
	RR_SLEEP_END,      /* sleep or io ended */
	RR_JOIN_THREAD,    /* join(obj = thread slot), arg = timeout or -1 */
	RR_JOIN_PROC,      /* join(obj = proc slot), arg = timeout or -1 */
	RR_JOIN_DONE,      /* the joined thread or process ended */
	RR_JOIN_TIMEOUT,   /* join's timeout ran out */
	RR_SHUTDOWN_THREAD,/* threading._shutdown joins thread obj */
	RR_SHUTDOWN_CHILD, /* multiprocessing's exit hook joins process obj */
	RR_GIL_WAIT,       /* waits for the GIL held by thread obj */
	RR_GIL_DROP,       /* dropped the GIL on a drop request (forced switch) */
	RR_GIL_TAKEN,      /* took the GIL */
	RR_INTERP_WAIT,    /* waits for the runner's interpreter mutex (not a GIL) */
	RR_INTERP_TAKEN,
	RR_THREAD_NEW,     /* Thread.start() by obj (a thread slot) */
	RR_PROC_NEW,       /* Process.start() by obj */
	RR_FORK_NEW,       /* os.fork() by obj */
	RR_THREAD_STARTED, RR_PROC_STARTED, RR_FORK_RETURNED,
	RR_RETURNED,       /* its function returned */
	RR_EXCEPTION,      /* ended by an uncaught exception */
	RR_PROC_EXIT,      /* the process exits with code arg */
	RR_KILLED,         /* its process was killed by signal arg (injected by the merge) */
	RR_DAEMON_END,     /* daemon thread ends with its process */
	RR_SYNC_WAIT,      /* waits on sync object obj (lock, semaphore, event, barrier) */
	RR_COND_WAIT,      /* waits on condition obj, its lock released */
	RR_COND_REACQUIRE, /* notified on (or timed out at) condition obj; re-acquires its lock */
	RR_SYNC_DONE,      /* got what it waited for at obj (arg 1 = timed out) */
	RR_QUEUE_GET,      /* waits in get()/recv() of queue or connection obj */
	RR_QUEUE_PUT,      /* a put()/send() waits for room in obj's full pipe (arg: bytes) */
	RR_FEEDER_FLUSH,   /* the process cannot exit until its feeder of queue obj has written
	                    * arg bytes into the pipe (CPython's Queue.join_thread at exit) */
	RR_POOL_TASK,      /* a pool worker waits for a task of pool obj */
	RR_POOL_RUN,       /* a pool worker runs task arg of pool obj */
	RR_COUNT
};

/* 48 bytes. Times are CLOCK_MONOTONIC ns since the run's start. */
struct real_rec {
	int64_t t;
	int64_t cpu_ns;   /* the writer's CLOCK_THREAD_CPUTIME_ID where it blocks or ends; -1 */
	int64_t arg;      /* a duration, a text offset, an exit code, by reason/kind */
	int32_t subject;  /* thread slot the record is about */
	int32_t obj;      /* thread or process slot involved, or -1 */
	uint32_t line;    /* scenario line, 0 = none */
	int16_t cpu;      /* sched_getcpu() of the writer, -1 if unknown */
	uint8_t kind;     /* enum real_rec_kind */
	uint8_t state;    /* enum thread_state */
	uint16_t reason;  /* enum real_reason */
	uint16_t pad;
};

enum real_pstate { PS_UNUSED, PS_RUNNING, PS_EXITED, PS_DIED };

struct real_pslot {
	_Atomic int state;    /* enum real_pstate; PS_EXITED/PS_DIED set once by exchange */
	int32_t pid, ppid;
	int32_t main_slot;    /* thread slot of its first thread */
	int32_t exitcode;     /* exit code, or -signal */
	int64_t end_t;        /* PS_DIED: when the reaper saw it dead */
	int32_t terminated;   /* killed on purpose: terminate(), kill(), a daemon at exit */
	char name[64];
};

struct real_tslot {
	_Atomic uint32_t nrecs; /* records written to this slot's region */
	int32_t proc;           /* process slot */
	int32_t tid;            /* gettid(), set by the thread itself */
	int32_t daemon;
	char name[64];
};

/* A threading/multiprocessing object, process-shared: every field is guarded by `mu` (a robust,
 * process-shared mutex) and waiters wait on `cv` (process-shared, CLOCK_MONOTONIC). Lives in the
 * shared area, so a handle (its index) means the same object in every process of the run. */
struct real_sobj {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int32_t kind;            /* enum vm_handle_kind */
	int32_t owner;           /* Lock/RLock: owning thread slot, -1 = unlocked */
	int64_t count;           /* RLock recursion; Semaphore permits */
	int64_t bound;           /* BoundedSemaphore: the initial value; -1 */
	int32_t lock;            /* Condition: its lock object; Value/Array: get_lock(), or -1 */
	int32_t nwait, wakeups;  /* Condition: waiters, notifications not yet taken */
	int32_t flag;            /* Event */
	int32_t parties, arrived, broken;
	uint64_t gen;            /* Barrier: generation; a reset or abort breaks the current one */
	uint64_t broken_gen;     /* Barrier: generation broken by reset/abort/timeout (+1; 0 none) */
	int64_t btimeout;        /* Barrier: default timeout, -1 */
	int64_t data;            /* Value/Array: first element in the data arena */
	int32_t n;               /* Value/Array: elements */
	int32_t rfd, wfd;        /* Queue, SimpleQueue, a Pipe end: the real pipe's fds (the
	                          * same numbers in every process: made before the forks) */
	int32_t simple;          /* SimpleQueue: put() writes itself, no feeder */
	int32_t rfd2, wfd2;      /* Pool: the task pipe's read end, the result pipe's write end
	                          * (rfd: results, wfd: tasks); wlock: the result writers' lock */
	int32_t wlock;
	char typecode;
	char name[47];
};

struct real_result {          /* one variable or expectation, strings as text offsets */
	int64_t a, b, c;
	int32_t line, ok;
};

struct real_hdr {
	uint64_t magic;
	int64_t t0;                   /* CLOCK_MONOTONIC at the run's start */
	_Atomic int32_t nprocs, nthreads;
	_Atomic int32_t live_procs;   /* processes started and not yet exited or reaped dead */
	_Atomic uint64_t text_used;
	_Atomic int32_t overflow;     /* records or text were lost */
	_Atomic int32_t policy_denied;/* sched_setscheduler said EPERM */
	int32_t policy_errno;
	_Atomic int32_t results_ready;
	_Atomic int32_t nobjs;        /* sync objects allocated */
	_Atomic uint64_t data_used;   /* elements of the data arena allocated */
	_Atomic int32_t model_pids;   /* pids the simulator would have given so far after 1000
	                               * (processes and threads, in creation order): a forked
	                               * process's random stream is seeded from it, as simulated */
	int32_t nvars, nexpects;
	struct real_result vars[REAL_MAX_RESULTS];
	struct real_result expects[REAL_MAX_RESULTS];
};

struct real_shm {
	void *base;
	size_t size;
	struct real_hdr *hdr;
	struct real_pslot *procs;
	struct real_tslot *threads;
	char *text;
	struct real_rec *recs;       /* REAL_RECS_PER_THREAD per thread slot */
	struct real_sobj *objs;      /* REAL_MAX_OBJS */
	int64_t *data;               /* REAL_DATA_CAP elements (int64 or double by typecode) */
};

/* Maps a new, zeroed recording area. Returns 0, or -1 with errno set. Release with
 * real_shm_unmap (safe on a zeroed struct). */
int real_shm_map(struct real_shm *s);
void real_shm_unmap(struct real_shm *s);

/* Allocates a slot; returns its index or -1 when the table is full. */
int real_shm_new_proc(struct real_shm *s);
int real_shm_new_thread(struct real_shm *s, int proc, const char *name);

/* Allocates a sync object (zeroed, its mutex and condition initialised process-shared and
 * robust); returns its index or -1 when the table is full. */
int real_shm_new_obj(struct real_shm *s, int kind, const char *name);
/* Allocates n zeroed data elements; returns the first or -1 when the arena is full. */
int64_t real_shm_new_data(struct real_shm *s, int64_t n);

/* Copies len bytes of text (and a NUL) into the arena; returns its offset, or -1 when full. */
int64_t real_shm_text(struct real_shm *s, const char *text, size_t len);
const char *real_shm_text_at(const struct real_shm *s, int64_t off); /* "" for -1 */

int64_t real_mono_ns(void);
int64_t real_thread_cpu_ns(void);

/* Appends r (cpu and cpu_ns filled in here, t too unless t >= 0 is given) to the region of
 * thread slot `writer`. Lock-free; drops the record and sets hdr->overflow when the region is
 * full. */
void real_record(struct real_shm *s, int writer, struct real_rec *r);

#endif

/* sched.h — the scheduling-class interface, after Linux's struct sched_class, and the task
 * (thread) as the kernel and the classes see it.
 *
 * The kernel owns tasks and cores; a class owns only its run queue. The kernel calls
 * enqueue when a task becomes runnable (new, woken, preempted), dequeue when it must leave the
 * queue without running (killed or migrated), pick_next when a core needs work (the class
 * removes and returns its best task whose affinity allows that core, or NULL), and slice to
 * learn how long a task may run before the kernel preempts it. check_preempt says whether a
 * newly runnable task should take a core from the task running there. Classes must be
 * deterministic: no addresses or clocks in decisions. */
#ifndef TIMESLICE_SCHED_H
#define TIMESLICE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "machine.h"
#include "trace.h"
#include "vm.h"

enum enqueue_flags {
	ENQ_NEW = 1,       /* first time runnable */
	ENQ_WAKEUP = 2,    /* was blocked */
	ENQ_PREEMPTED = 4, /* its slice ran out */
	ENQ_MIGRATE = 8,   /* moved from another core's queue (or requeued at a new priority) */
};

/* What a task does when its CPU debt has been burnt. */
enum task_after {
	AFTER_EXEC,  /* go on interpreting */
	AFTER_SPAWN, /* finish Process.start()/Thread.start()/os.fork(): the child becomes ready */
};

/* A FIFO of blocked tasks (ids), linked through the tasks themselves. */
struct kernel;

/* A task's scheduling parameters, as sched_setscheduler/setpriority/sched_setaffinity set
 * them; a new thread or forked process inherits its creator's (sched_common.c). */
struct sched_params {
	int prio;             /* static priority 0..99, higher runs first (the prio class) */
	int nice;             /* -20..19: the fair class's weight */
	bool pinned;          /* cpus is an affinity mask; false: every core */
	uint64_t cpus[MACHINE_MAX_CORES / 64];
};

/* The scheduler's per-task state (sched_common.c and the classes). Zero is the start. */
struct sched_entity {
	struct sched_params p;
	int pi_prio;          /* priority lent by waiters on an inherit=True lock it holds (0: none) */
	int rq;               /* the run queue it is on or runs from (a core; 0 when global) */
	int ran_on;           /* core it last ran on + 1; 0 before its first run */
	bool on_cpu;          /* picked: running or being switched in */
	bool charging;        /* running: its CPU time is accounted from exec_start */
	bool need_resched;    /* a woken task preempts it at its next instant on the CPU */
	uint32_t resched_reason;
	int64_t exec_start;   /* when its CPU time was last accounted */
	int64_t sum_exec;     /* CPU time accounted to it in all */
	int64_t migrations;   /* runs started on another core than the last one (percore) */
	/* mlfq */
	int level;
	int64_t level_used;   /* CPU time used at its level (the allotment) */
	uint64_t boost_gen;
	/* fair */
	int64_t vruntime;
	int64_t vlag;         /* vruntime - min_vruntime when it left a queue (migration) */
};

struct waitq {
	int head, tail; /* -1 when empty */
};

struct task {
	int id;               /* index in the kernel's task table */
	int trace_idx;        /* index in the trace's thread table; -1 until started */
	int tid;              /* 0 until started */
	int proc;             /* the process it belongs to (kernel index) */
	char name[64];
	bool daemon;
	enum thread_state state;
	uint32_t reason;      /* string id of the reason for the current state */
	bool started;
	bool is_main;         /* the first thread of its process */

	struct vm_thread *vm;
	struct value target;  /* Thread(target=, args=) kept until start() */
	int nargs;
	struct value args[VM_MAX_ARGS];

	/* running */
	int core;             /* core it runs on (or is being switched onto), -1 otherwise */
	int64_t debt;         /* CPU ns to burn before it may go on */
	int64_t burn_start;   /* when the current burn started */
	int64_t slice_end;    /* when its slice runs out */
	enum task_after after;
	bool burning;         /* an EV_BURN is pending for it */
	bool droppable;       /* it stopped where CPython may drop the GIL (an eval-breaker
	                       * check, a call, or inside compute()) */
	bool nogil;           /* its debt is compute_nogil() work: burnt without the GIL */
	bool py2_retry;       /* woken by a py2 check to try for the GIL */
	int pool;             /* the pool (object id) whose worker it is, -1 for none */
	int pool_origin;      /* the pool it was made for, even after it stopped working */
	const char *timeout_raise; /* raise this exception type when its timeout fires */
	int job, job_call;    /* a worker's current job (pool job index) and call within it */
	uint64_t gil_switch_seen; /* py3: the GIL's switch number when it began to wait */
	int spawn;            /* AFTER_SPAWN: the task or process being created */
	bool spawn_is_proc;
	bool has_call;        /* `call` is pending (VM suspended in it) */
	bool answered;        /* the pending call was answered while blocked */
	struct vm_call call;
	int line;             /* scenario line of the current operation */

	/* blocked */
	uint32_t gen;         /* bumped on every wake-up: stale timers are ignored */
	struct waitq *wq;     /* the wait queue it is on, or NULL */
	int wq_prev, wq_next;
	struct waitq joiners; /* threads in join() on it */
	int wait_obj;         /* what it waits for without a timeout (the wait-for graph): an
	                       * object, task or process id by wait_kind; -1 for none */
	int wait_kind;        /* enum vm_handle_kind of wait_obj */
	int wait_cond;        /* the Condition or Barrier it waits on */
	int want_count;       /* RLock depth to restore / barrier arrival index */
	bool handoff_answer;  /* what acquire() returns when the lock is handed over */
	/* called instead of a plain wake-up when its timer fires (condition, barrier) */
	void (*timeout_hook)(struct kernel *k, struct task *t);
	struct value wake_value;  /* the answer given when woken */
	struct value timeout_value; /* the answer given when its timeout fires */
	bool exiting;         /* main thread waiting for the interpreter's shutdown joins */
	/* a call through a manager (net.c): 1 while its request travels, 2 when it has reached
	 * the server, 3 while it runs there; then its answer (net_reply_bytes) travels back
	 * from host net_from */
	int net_phase;
	int net_from;
	int wait_pid;         /* os.waitpid(): the child it waits for, -1 for any */
	int64_t net_reply_bytes;

	/* run queue, owned by the scheduling class */
	struct task *rq_prev, *rq_next;
	bool on_rq;

	/* statistics the classes may use */
	int64_t last_ran;     /* when it last left a core */
	int64_t enqueued_at;
	struct sched_entity se;
};

/* The effective static priority: its own, or what a waiter lends it (inherit=True locks). */
static inline int sched_prio(const struct task *t)
{
	return t->se.pi_prio > t->se.p.prio ? t->se.pi_prio : t->se.p.prio;
}

/* May t run on core c (its affinity mask)? */
static inline bool sched_allowed(const struct task *t, int core)
{
	return !t->se.p.pinned || (t->se.p.cpus[core / 64] >> (core % 64) & 1);
}

struct sched_class {
	const char *name;
	void *(*create)(const struct machine *m);   /* NULL when out of memory */
	void (*destroy)(void *rq);
	void (*enqueue)(void *rq, struct task *t, int flags);
	void (*dequeue)(void *rq, struct task *t);
	struct task *(*pick_next)(void *rq, int core);
	int64_t (*slice)(void *rq, const struct task *t); /* INT64_MAX: run until it blocks */
	bool (*check_preempt)(void *rq, const struct task *curr, const struct task *woken);
	int (*nr_running)(const void *rq);              /* tasks waiting in the queue */
	/* Optional (NULL: nothing to do). account: the running t used `ran` ns of CPU since
	 * its last accounting. leave: t left the CPU without going back to the queue (blocked
	 * or done). tick: the clock reads `now` (periodic work such as MLFQ's boost). */
	void (*account)(void *rq, struct task *t, int64_t ran);
	void (*leave)(void *rq, struct task *t);
	void (*tick)(void *rq, int64_t now);
};

extern const struct sched_class sched_fifo_class;
extern const struct sched_class sched_rr_class;
extern const struct sched_class sched_prio_class;
extern const struct sched_class sched_mlfq_class;
extern const struct sched_class sched_fair_class;

/* The class for a policy. */
const struct sched_class *sched_class_for(enum policy p);

#endif

/* kernel_internal.h — the simulated kernel's state and the helpers its modules share
 * (kernel.c: tasks, scheduling, processes; sync.c: locks and other synchronisation objects;
 * deadlock.c: the wait-for graph). Not for use outside sim/. */
#ifndef TIMESLICE_KERNEL_INTERNAL_H
#define TIMESLICE_KERNEL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "kernel.h"
#include "sched.h"

enum ev_kind {
	EV_WAKE,     /* target task: its sleep, io or timeout ends (gen must match) */
	EV_DISPATCH, /* target core: the context switch is done, the task starts running */
	EV_BURN,     /* target core: the running task's burn ends (debt paid or slice over) */
	EV_RESCHED,  /* target core: it has nothing to run; pick the next task */
	EV_BALANCE,  /* the per-core queues' load-balance tick (sched_common.c) */
};

enum { PRIO_WAKE = 0, PRIO_CORE = 1 };

enum { TASK_SLAB = 256 };

struct gil {
	enum gil_model model;   /* GIL_NONE: no GIL in this process */
	int holder;             /* task, -1 when free */
	int last_holder;
	int forced;             /* task that dropped on request and waits for the switch, -1 */
	bool drop_request;
	uint64_t switch_number;
	int64_t interval;       /* py3 switch interval */
	struct waitq waiters;
	int trace_obj;
	int64_t holds, switches, forced_switches, drop_requests, contended;
};

struct proc {
	int id;
	int trace_idx;          /* -1 until started */
	int pid, ppid;
	int parent;             /* kernel index of the parent process, -1 for the first */
	char name[64];
	bool started, ended, daemon;
	bool via_process;       /* made by multiprocessing.Process (joined at the parent's exit) */
	int exitcode;
	struct vm_proc *vm;
	struct value target;    /* Process(target=, args=) kept until start() */
	int nargs;
	struct value args[VM_MAX_ARGS];
	int main_task;
	int live;               /* threads started and not done */
	int live_nondaemon;     /* of which non-main, non-daemon: the shutdown joins them */
	int live_children;      /* non-daemon Process children started and not ended */
	bool counted;           /* counted in its parent's live_children */
	int nchildren;          /* for naming children Process-N */
	int nthreads_named;     /* for naming threads Thread-N */
	int64_t start_time;
	struct waitq joiners;
	struct waitq child_waiters; /* its threads in os.wait() / os.waitpid() */
	struct gil gil;
	struct sched_params sp; /* Process(priority=, nice=, cpus=) for its first thread */
	int64_t feeder_bytes;   /* bytes its queue feeders have not written yet */
	int popen;              /* an external command's process: its Popen object id; -1 */
	int host;               /* the host it runs on (0: localhost); its threads' cores */
	int64_t end_time;       /* when it exited */
	bool reaped;            /* ended and waited for (join, os.wait, ...): no longer a zombie */
	int manager;            /* a BaseManager's server process: the manager's object id; -1 */
};

struct core {
	int cur;                /* task running or being switched in, -1 for none */
	int last;               /* task that ran last, -1 at first */
	bool switching;
	bool resched;           /* an EV_RESCHED is pending */
	enum core_state state;
	uint32_t gen;
};

struct kernel {
	const struct machine *m; /* = &mc */
	struct machine mc;      /* the run's machine, cores = every host's together */
	int host_first[MACHINE_MAX_HOSTS], host_cores[MACHINE_MAX_HOSTS];
	struct vm_program *prog;
	const struct ast_program *ast;
	struct trace *tr;
	struct event_queue q;
	struct host_sched {     /* each host's scheduling: its class, and its machine (policy,
	                         * quantum, its own core count) for that class */
		const struct sched_class *cls;
		struct machine m;
		uint32_t preempt_reason;
	} hs[MACHINE_MAX_HOSTS];
	int16_t *core_host;     /* per core: its host */

	struct task **tasks;
	int ntasks, captasks;
	struct proc **procs;
	int nprocs, capprocs;
	struct core *cores;
	int next_pid;
	int live;               /* tasks started and not done */
	int64_t last_exit;      /* when the last task finished */

	bool stopped;
	bool oom;
	int zero_time_yields;   /* consecutive VM budget yields without time passing */
	int64_t zero_time_at;
	int errors;             /* threads that ended with an exception */
	struct diag first_error;
	uint32_t *picked_reason; /* "picked by core N", per core, made on first use */
	uint32_t switch_reason, finished_reason, gil_take_reason, gil_drop_reason;
	bool in_task;           /* inside task_exec: scheduling waits for an event */
	struct race_state *race; /* the race detector, NULL when off */
	uint64_t rng;           /* the kernel's own stream (jitter), from the seed */
	uint64_t instructions;  /* interpreted so far, against m->max_instructions */
	int64_t jitter_q;       /* jitter in 1/65536 */
	int64_t horizon_q;      /* 65536 / (1 + jitter): how far ahead a shared task may run */
	struct sched_state *sched; /* per-core queues and balancing (sched_common.c) */
	struct kobj **objs;     /* synchronisation objects, indexed by handle id */
	int nobjs, capobjs;
	struct aio_state *aio;  /* asyncio's event loops, tasks and futures (aio.c); NULL until
	                         * a program first uses asyncio */
	struct subp_state *subp; /* external commands and the file system (subproc.c); NULL
	                          * until first used */
	struct net_state *net;  /* BaseManager registrations, servers and links (net.c); NULL
	                         * until first used */
};

/* A synchronisation object (Lock, RLock, Semaphore, Condition, Event, Barrier, local),
 * shared by every thread and process that holds its handle. */
struct local_attr {
	int task;
	char *name;
	struct value value;
};

struct kobj {
	int id;
	int trace_idx;          /* its index in the trace's objects */
	enum vm_handle_kind kind;
	char name[64];          /* the scenario's variable ("lock_a"), else "Lock-3" */
	int line;               /* where it was made */
	int owner;              /* lock, RLock: the holding task, -1 when free */
	bool inherit;           /* Lock(inherit=True): waiters lend the owner their priority */
	int count;              /* RLock: recursion depth */
	int owner_line;         /* line where the owner acquired it */
	int64_t value, bound;   /* Semaphore: value; BoundedSemaphore: its initial value */
	int lock;               /* Condition: the object id of its lock */
	bool flag;              /* Event */
	int parties, arrived;   /* Barrier */
	bool broken;
	struct waitq waiters;
	struct local_attr *attrs; /* local */
	int nattrs, capattrs;
	void *ipc;              /* queues, pipes, shared memory, pools: ipc.c's own state */
};

/* What a system call did with the calling task. */
enum sys_result {
	SR_CONTINUE, /* answered: interpret on */
	SR_BURN,     /* debt added: burn it, then t->after */
	SR_BLOCKED,  /* the task left its core */
	SR_RAISED,   /* vm_raise was called: interpret on (the VM reports the error) */
};

/* ---- kernel.c ---- */
void kern_stop(struct kernel *k, enum trace_end end, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void kern_emit(struct kernel *k, struct trace_rec rec);
/* An interned reason string (formatted like printf); 0 when out of memory. */
uint32_t kern_reason(struct kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kern_mark(struct kernel *k, struct task *t, const char *text, uint32_t reason);
void kern_push_event(struct kernel *k, int64_t t, int prio, int kind, int target, uint32_t gen);
void kern_make_ready(struct kernel *k, struct task *t, int flags, uint32_t reason);
/* A queued task moved to core t->se.rq's queue (per-core queues): a ready record naming it. */
void kern_requeued(struct kernel *k, struct task *t);
/* Makes core c pick now if it is idle and not about to pick already. */
void kern_resched_idle(struct kernel *k, int c);
/* Blocks the running task in state s (its pending call stays unanswered), with a timer after
 * `timeout` ns (-1: none) that wakes it with t->timeout_value. It leaves its core. */
void kern_block(struct kernel *k, struct task *t, enum thread_state s, int64_t timeout,
		uint32_t reason);
/* Wakes a blocked task, answering its pending call with `answer` (taken). */
void kern_wake(struct kernel *k, struct task *t, struct value answer, struct task *waker,
	       uint32_t reason);
void kern_wake_all(struct kernel *k, struct waitq *q, struct task *waker, uint32_t reason);
/* As kern_wake, but the task stays blocked (in io, with `reason`) for `delay` ns more: its
 * answer is a message still on its way. */
void kern_wake_later(struct kernel *k, struct task *t, struct value answer, struct task *waker,
		     int64_t delay, uint32_t reason);
void kern_waitq_add(struct kernel *k, struct waitq *q, struct task *t);
/* Queues the running task on q (no wait-for edge) and blocks it as kern_block does. */
void kern_wait(struct kernel *k, struct task *t, struct waitq *q, enum thread_state s,
	       int64_t timeout, uint32_t reason);
void kern_waitq_remove(struct kernel *k, struct task *t);
enum sys_result kern_raise(struct kernel *k, struct task *t, const char *type, const char *fmt,
			   ...) __attribute__((format(printf, 4, 5)));
enum sys_result kern_answer(struct task *t, struct value v);
const struct value *kern_kwarg(const struct vm_call *c, const char *name);
const char *kern_dur_text(int64_t ns, char *buf); /* buf of 32 bytes */
/* A timeout argument in ns: None -> -1; a number of seconds or a duration. Returns false
 * (and raises in t) when it is not one, or negative where negative is not allowed. */
bool kern_timeout_arg(struct kernel *k, struct task *t, const struct value *v, int64_t *ns);

/* Cuts the running task's current burn short now (its debt keeps the rest); the core's
 * burn event then comes at once. */
void kern_interrupt_burn(struct kernel *k, struct task *t);

/* ---- gil.c ---- */
void gil_proc_init(struct kernel *k, struct proc *p); /* after p->vm and p->pid are set */
bool gil_holds(struct kernel *k, const struct task *t);
/* Takes the GIL for t if it is free (true), or blocks t waiting for it (false). */
bool gil_ensure(struct kernel *k, struct task *t);
bool gil_must_drop(struct kernel *k, const struct task *t);
/* A drop request waits for t (it holds the GIL): it must stop at its next check point. */
bool gil_drop_pending(struct kernel *k, const struct task *t);
void gil_forced_drop(struct kernel *k, struct task *t);
void gil_release_voluntary(struct kernel *k, struct task *t);
void gil_py2_check(struct kernel *k, struct task *t);
void gil_collect(struct kernel *k); /* counters into the trace at the end */

/* ---- race.c: happens-before; every call is a no-op when the detector is off ---- */
bool race_init(struct kernel *k);
void race_free(struct kernel *k);
void race_spawn(struct kernel *k, struct task *parent, struct task *child);
void race_join(struct kernel *k, struct task *joiner, struct task *joined);
void race_release(struct kernel *k, struct task *t, int obj); /* t signals obj */
void race_acquire(struct kernel *k, struct task *t, int obj); /* t learns from obj */
void race_access(void *ctx, void *user, int slot, const char *name, bool write, int line);

/* ---- ipc.c ---- */
enum sys_result ipc_new(struct kernel *k, struct task *t);
enum sys_result ipc_method(struct kernel *k, struct task *t);
enum sys_result ipc_getattr(struct kernel *k, struct task *t);
enum sys_result ipc_setattr(struct kernel *k, struct task *t);
void ipc_free_obj(struct kernel *k, struct kobj *o);
/* Bytes p's queue feeders still have to write before it may exit (0: none); fills what
 * with a description when non-zero. */
int64_t ipc_unflushed(struct kernel *k, const struct proc *p, char *what, size_t size);
/* When p's feeder cannot write the rest of a message into a Queue's full pipe: the queue's
 * object id, with the bytes left, the line of its put(), the process that reads the queue
 * (the last that called get(), else the one that made it) and the pipe's capacity; else -1. */
int ipc_feeder_stuck(struct kernel *k, const struct proc *p, int64_t *left, int *line,
		     int *reader, int64_t *cap);
/* A pool worker's call returned (or raised: error set): records the result and gives it
 * its next task. Returns true when it has one (t->vm is then the new call) or waits idle
 * for one (t has left its core); false when t is not a pool worker with work to go on. */
bool ipc_worker_done(struct kernel *k, struct task *t, bool error);
void ipc_worker_exited(struct kernel *k, struct task *t); /* wakes the pool's join() */

/* kernel.c, for ipc.c: pool workers and process exit */
int kern_spawn_worker(struct kernel *k, struct task *creator, int pool, bool thread, int index,
		      struct waitq *idle);
bool kern_worker_start(struct kernel *k, struct task *w, struct value fn, struct value args,
		       bool thread);
void kern_kill_worker(struct kernel *k, struct task *w, bool thread);
void kern_proc_may_exit(struct kernel *k, struct proc *p);

/* kernel.c, for net.c */
/* Scheduling parameters that keep a task on host h's cores (unpinned with one host). */
void kern_host_params(struct kernel *k, int h, struct sched_params *sp);
/* Ends process p at once with exitcode (its threads leave their cores and waits). */
void kern_kill_process(struct kernel *k, struct proc *p, int exitcode, const char *why);
/* Forks process np (prepared with proc fields set) from t's process, as Process.start() does:
 * returns SR_BURN; when the fork cost is paid net_spawn_end follows (np->manager >= 0). */
enum sys_result kern_spawn_server(struct kernel *k, struct task *t, struct proc *np);
struct proc *kern_proc_new(struct kernel *k, int parent);
/* An exited process is waited for (`by` says how): it stops being a zombie. */
void kern_reap(struct kernel *k, struct proc *p, const char *by);
/* A method call on t->call.self, by the handle's kind: what SYS_METHOD does. */
enum sys_result kern_method(struct kernel *k, struct task *t);

/* ---- net.c: hosts, links, and multiprocessing.managers across them ---- */
bool net_owns_new(const char *cls); /* "BaseManager", "BaseManager.register" */
enum sys_result net_new(struct kernel *k, struct task *t);
enum sys_result net_method(struct kernel *k, struct task *t);  /* H_MANAGER, H_PROXY */
enum sys_result net_getattr(struct kernel *k, struct task *t);
/* The manager's server process has been forked: it starts serving (its main thread waits
 * for requests) and t's start() returns. */
void net_spawn_end(struct kernel *k, struct task *t, struct task *child);
/* Where a blocked call is answered (a wake-up, a timeout): how long its answer takes back
 * to t when the call ran at a manager's server (0 otherwise), with the reason for t's io
 * state meanwhile in *reason. */
int64_t net_reply_delay(struct kernel *k, struct task *t, uint32_t *reason);
int64_t net_answer_size(struct value v); /* bytes a value takes on the wire (an estimate) */
void net_proc_exited(struct kernel *k, struct proc *p); /* a server's process ended */
void net_free_obj(struct kernel *k, struct kobj *o);
void net_free(struct kernel *k);

/* ---- subproc.c: external commands (subprocess) and open files across fork ---- */
/* Whether subp_new answers this SYS_NEW class ("subprocess.call", "Popen", "open", ...). */
bool subp_owns_new(const char *cls);
enum sys_result subp_new(struct kernel *k, struct task *t);
enum sys_result subp_method(struct kernel *k, struct task *t);  /* H_POPEN, H_FILE */
enum sys_result subp_getattr(struct kernel *k, struct task *t);
/* The command's process p has been forked by t (the fork+exec cost is paid): starts its
 * function (or lets it wait for its stdin) and answers or blocks t. */
void subp_spawn_end(struct kernel *k, struct task *t, struct task *child);
/* A print by a command's process: true when its stdout is captured (the line is kept). */
bool subp_print(struct kernel *k, struct proc *p, const char *s, size_t len);
/* The command's function returned `result` in t, its process's main thread: writes what it
 * gives for stderr ((code, text), or a str as exit() takes one) and returns the exit status. */
int subp_returned(struct kernel *k, struct task *t, struct value result);
/* p (a command) ended: wakes its waiters; true when someone was waiting (it is reaped). */
bool subp_exited(struct kernel *k, struct proc *p);
void subp_free_obj(struct kernel *k, struct kobj *o);
void subp_free(struct kernel *k);
/* kernel.c, for subproc.c: forks (fork+exec: the machine's fork cost, burnt by t) a process
 * named `name` for the Popen object popen_obj; subp_spawn_end follows. */
enum sys_result kern_spawn_command(struct kernel *k, struct task *t, int popen_obj,
				   const char *name, const char *how);
void kern_set_state(struct kernel *k, struct task *t, enum thread_state s, uint32_t reason);
/* ---- aio.c: asyncio's event loop, inside the kernel task that called asyncio.run ----
 * Each asyncio Task is a vm_thread of its own; the task's `vm` points at the one running.
 * Tasks switch only at an await of something not done; the loop runs ready tasks in FIFO
 * order and fires its timers in (time, creation) order; with nothing ready it blocks the
 * kernel task until its earliest timer. */
/* Whether aio answers this call: SYS_AIO, SYS_AWAIT, or a method/attribute of a Task or
 * Future handle. */
bool aio_owns(const struct vm_call *c);
enum sys_result aio_syscall(struct kernel *k, struct task *t);
/* t->vm finished its code: if it is an asyncio Task, records its result and switches t to
 * the next task (or back to the code that called asyncio.run) and returns true; false when
 * t->vm is no coroutine of a loop (the thread really ends). */
bool aio_coro_exit(struct kernel *k, struct task *t);
/* t->vm raised: if it is an asyncio Task, the exception ends the loop and with it the
 * thread (there is no try/except): the loop's other coroutines are freed and t->vm stays
 * the failing one, for its error. */
void aio_coro_error(struct kernel *k, struct task *t);
/* repr() of a Task or Future handle; false if h is not one. */
bool aio_repr(struct kernel *k, const struct value *h, char *buf, size_t size);
void aio_free(struct kernel *k); /* before the tasks' vm threads are destroyed */

/* ---- sync.c ---- */
struct kobj *sync_obj_new(struct kernel *k, struct task *t, enum vm_handle_kind kind);
enum sys_result sync_new(struct kernel *k, struct task *t);
enum sys_result sync_method(struct kernel *k, struct task *t);
enum sys_result sync_getattr(struct kernel *k, struct task *t);
enum sys_result sync_setattr(struct kernel *k, struct task *t);
/* The object's name as reports write it ("lock_a", "Lock-2"). */
const char *sync_name(const struct kernel *k, int obj);
void sync_free(struct kernel *k);
/* Called when a task is about to block in a wait the wait-for graph follows (a lock, a join):
 * stops the run with a deadlock report if the wait closes a cycle. */
void deadlock_check(struct kernel *k, struct task *t);
/* Called when every live thread is blocked: reports the join deadlock across processes (a
 * thread joins a process whose exit waits for its queue feeder, blocked on a full pipe that
 * only the joiner's process reads) as a cycle and stops the run; false when there is none. */
bool deadlock_feeder_cycle(struct kernel *k);

#endif

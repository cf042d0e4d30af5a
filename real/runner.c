/* runner.c — the real runner: the scenario's processes are real processes (fork), its threads
 * real threads (pthreads), and each thread interprets its own struct vm_thread and answers the
 * VM's system calls itself, with the semantics of sim/kernel.c.
 *
 * Processes. The caller (the supervisor) forks the run's MainProcess into a process group of
 * its own and waits: every process of the run is in that group, so a timeout, --until or a
 * signal kills them all with one kill(-pgid, SIGKILL). The supervisor is a child subreaper for
 * the run, so orphans come back to it and every process is reaped before real_run returns.
 * If the supervisor itself dies, MainProcess gets SIGUSR2 (PR_SET_PDEATHSIG) and kills its
 * group.
 *
 * Threads. The VM is not thread-safe (non-atomic reference counts, shared globals), so each
 * process has an interpreter lock that a thread holds whenever it runs VM code. Without a GIL
 * (--gil none) it is a reader-writer lock: vm_run, system calls and everything else of the
 * runner hold it exclusively, and it is released during compute(), io(), sleep() and joins, so
 * computes run in parallel; stretches of unboxed instructions (ints, floats, bools, calls,
 * range loops, global variables holding those) run with vm_run_bare (sim/vm_bare.c) holding it
 * shared, so threads of one process interpret in parallel and race on their globals for real,
 * as in free-threaded C. It is not a GIL model. With --gil py3 it is CPython's GIL (mutex,
 * condition variable, switch interval, drop request, forced hand-off): a thread holds it while
 * interpreting and computing and releases it in io(), sleep() and joins.
 *
 * Recording. Each thread writes records about itself (and about the threads it creates) to its
 * own region of the shared area (shm.h); merge.c makes the trace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "kernel.h"
#include "real.h"
#include "vm_bare.h"

/* A gap this long in compute()'s spin loop with (almost) no CPU time is a preemption. */
#define GAP_NS 30000
/* Waiting this long for the interpreter mutex is recorded (shorter waits are folded into
 * running: they are the runner's own cost). */
#define INTERP_WAIT_NS 50000
/* --gil none: a thread goes shared when its next BARE_PROBE instructions run bare (fewer would
 * not pay for the locking); a shared stretch looks at its line and core every BARE_SLICE
 * instructions; after BARE_MISSES probes in a row that found less, the thread runs a whole
 * slice of vm_run before it probes again (code that needs the lock every few instructions);
 * a thread lets the others in after LOCKED_SLICE instructions of vm_run (vm.c's slice). */
#define BARE_PROBE 256
#define BARE_SLICE 100000
#define BARE_MISSES 8
#define LOCKED_SLICE 100000

struct rproc;

struct rthread {
	int idx;               /* in its process's table: the handle's id */
	int slot;              /* shared thread slot, -1 until started */
	bool started, done, daemon, is_main;
	char name[64];
	struct vm_thread *vm;
	struct value target;
	int nargs;
	struct value args[VM_MAX_ARGS];
	int line;
	struct rproc *P;
	bool task_mode;        /* a pool worker running a task: thread_loop returns at its end */
	char task_err[512];    /* the task's uncaught exception ("Type: message"), or "" */
};

struct rchild {                /* a multiprocessing.Process made in this process */
	int idx;
	char name[64];
	bool daemon, started, reaped;
	int pid, pidfd, pslot;
	int exitcode;
	struct value target;
	int nargs;
	struct value args[VM_MAX_ARGS];
	int pool;                  /* a pool worker: its pool's object + 1; 0 otherwise */
};

/* The interpreter lock: a reader-writer lock (--gil none), or CPython 3's GIL. */
struct ilock {
	pthread_rwlock_t rw;        /* --gil none: exclusive for vm_run, shared for vm_run_bare */
	_Atomic int excl_waiting;   /* threads waiting to take rw exclusively: bare runs pause */
	pthread_mutex_t mu;         /* the GIL's */
	pthread_cond_t cond;        /* GIL waiters */
	pthread_cond_t switch_cond; /* a forced drop waits here until another thread took it */
	bool py3;
	bool locked;
	struct rthread *holder, *last_holder;
	uint64_t switch_number;
	_Atomic int drop_request;
	int64_t interval;
};

struct rproc {
	int pslot, pid, ppid;
	char name[64];
	bool top;                  /* the run's MainProcess */
	struct vm_proc *vm;
	pthread_mutex_t lock;      /* the tables below and the done/reaped flags */
	pthread_cond_t cond;       /* broadcast when a thread ends */
	struct ilock il;
	uint8_t *lost;             /* per global: an update lost by a bare store (vm_run_bare) */
	struct rthread **threads;
	int nthreads, capthreads;
	struct rchild **children;
	int nchildren, capchildren;
	int nthreads_named;        /* Thread-N */
	int nchildren_named;       /* Process-N */
	int exitcode;
};

/* One run, as each process sees it (copied by fork). */
struct run {
	struct real_shm shm;
	struct vm_program *prog;
	const struct machine *m;
	struct real_options opt;
	int ncores;
	int16_t cpu_core[CPU_SETSIZE];
	cpu_set_t cpus;
	int go_fd;                 /* MainProcess: read end of the supervisor's "go" pipe */
	const char *source_name;
};

static struct run *R;

/* ---- handles ---- */

#define HANDLE_SELF 0xFFFFF

static int64_t handle_id(const struct rproc *P, int idx)
{
	return ((int64_t)P->pslot << 20) | (idx & 0xFFFFF);
}

/* The local index of a handle of this process, or -1 if it belongs to another process. */
static int handle_idx(const struct rproc *P, struct value h)
{
	if ((h.u.i >> 20) != P->pslot)
		return -1;
	return (int)(h.u.i & 0xFFFFF);
}

/* ---- recording ---- */

static void rec_full(struct rthread *w, int subject, int kind, int state, int reason, int obj,
		     int64_t arg, int line, int64_t t)
{
	struct real_rec r = {.t = t, .subject = subject, .obj = obj, .arg = arg,
			     .line = (uint32_t)(line > 0 ? line : 0), .kind = (uint8_t)kind,
			     .state = (uint8_t)state, .reason = (uint16_t)reason};
	real_record(&R->shm, w->slot, &r);
}

static void rec_state(struct rthread *T, int state, int reason, int obj, int64_t arg)
{
	rec_full(T, T->slot, RK_STATE, state, reason, obj, arg, T->line, -1);
}

static int64_t rel_now(void)
{
	return real_mono_ns() - R->shm.hdr->t0;
}

static void abs_deadline(struct timespec *ts, int64_t mono_ns)
{
	ts->tv_sec = mono_ns / 1000000000;
	ts->tv_nsec = mono_ns % 1000000000;
}

/* ---- the interpreter lock / GIL ---- */

static void il_init(struct ilock *g)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cond, &ca);
	pthread_cond_init(&g->switch_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* writers first: a bare run that paused for a waiting writer cannot take it back first */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g->rw, &ra);
	pthread_rwlockattr_destroy(&ra);
	atomic_store(&g->excl_waiting, 0);
	g->py3 = R->opt.gil == REAL_GIL_PY3;
	g->interval = R->opt.switch_interval;
	g->locked = false;
	g->holder = g->last_holder = NULL;
	g->switch_number = 0;
	atomic_store(&g->drop_request, 0);
}

/* take_gil of CPython's ceval_gil.c: wait in intervals; an interval that passes with no switch
 * sets the drop request, which the holder sees in its eval breaker (here: compute's loop and
 * the VM's periodic yields). `record` says whether to record the wait. */
static void gil_take(struct rthread *T, bool record)
{
	struct ilock *g = &T->P->il;
	pthread_mutex_lock(&g->mu);
	if (g->locked && record && g->holder)
		rec_state(T, TS_GIL, RR_GIL_WAIT, g->holder->slot, 0);
	while (g->locked) {
		uint64_t saved = g->switch_number;
		struct timespec ts;
		abs_deadline(&ts, real_mono_ns() + g->interval);
		int rc = pthread_cond_timedwait(&g->cond, &g->mu, &ts);
		if (rc == ETIMEDOUT && g->locked && g->switch_number == saved)
			atomic_store(&g->drop_request, 1);
	}
	g->locked = true;
	g->holder = T;
	g->last_holder = T;
	g->switch_number++;
	pthread_cond_broadcast(&g->switch_cond);
	atomic_store(&g->drop_request, 0);
	pthread_mutex_unlock(&g->mu);
}

/* drop_gil: a forced drop (the holder saw the drop request) waits until another thread has
 * taken the GIL, so the holder cannot win it straight back; a voluntary one does not wait. */
static void gil_drop(struct rthread *T, bool forced)
{
	struct ilock *g = &T->P->il;
	pthread_mutex_lock(&g->mu);
	g->locked = false;
	g->holder = NULL;
	pthread_cond_signal(&g->cond);
	if (forced)
		while (g->last_holder == T)
			pthread_cond_wait(&g->switch_cond, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* --gil none: takes the interpreter lock exclusively or shared (a bare run); a wait longer
 * than INTERP_WAIT_NS is recorded. A would-be writer raises excl_waiting, so that bare runs
 * pause at their next call or backward jump and let it in. */
static void il_take(struct rthread *T, bool excl)
{
	struct ilock *g = &T->P->il;
	if ((excl ? pthread_rwlock_trywrlock(&g->rw) : pthread_rwlock_tryrdlock(&g->rw)) == 0)
		return;
	int64_t t0 = real_mono_ns();
	if (excl) {
		atomic_fetch_add(&g->excl_waiting, 1);
		pthread_rwlock_wrlock(&g->rw);
		atomic_fetch_sub(&g->excl_waiting, 1);
	} else {
		pthread_rwlock_rdlock(&g->rw);
	}
	int64_t t1 = real_mono_ns();
	if (t1 - t0 > INTERP_WAIT_NS) {
		rec_full(T, T->slot, RK_STATE, TS_WAIT, RR_INTERP_WAIT, -1, 0, T->line,
			 t0 - R->shm.hdr->t0);
		rec_state(T, TS_RUNNING, RR_INTERP_TAKEN, -1, 0);
	}
}

static void il_acquire(struct rthread *T)
{
	if (T->P->il.py3)
		gil_take(T, true);
	else
		il_take(T, true);
}

static void il_release(struct rthread *T)
{
	if (T->P->il.py3)
		gil_drop(T, false);
	else
		pthread_rwlock_unlock(&T->P->il.rw);
}

/* ---- processes and threads ---- */

static struct rproc *proc_create(int pslot, const char *name)
{
	struct rproc *P = calloc(1, sizeof *P);
	if (!P)
		return NULL;
	P->pslot = pslot;
	snprintf(P->name, sizeof P->name, "%s", name);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&P->lock, NULL);
	pthread_cond_init(&P->cond, &ca);
	pthread_condattr_destroy(&ca);
	il_init(&P->il);
	if (!P->il.py3 && !(P->lost = calloc((size_t)vm_bare_nglobals(R->prog) + 1, 1))) {
		free(P);
		return NULL;
	}
	return P;
}

/* --gil none: vm_run's eval breaker at calls and backward jumps, so that a locked stretch
 * whose cost starts at the horizon ends at the first of them (see thread_loop). */
static void proc_vm_setup(struct rproc *P)
{
	if (!P->il.py3)
		vm_proc_set_breaker(P->vm, 2);
}

static struct rthread *thread_add(struct rproc *P, const char *name)
{
	if (P->nthreads == P->capthreads) {
		int cap = P->capthreads ? P->capthreads * 2 : 8;
		struct rthread **v = realloc(P->threads, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		P->threads = v;
		P->capthreads = cap;
	}
	struct rthread *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->idx = P->nthreads;
	t->slot = -1;
	t->P = P;
	t->target = vm_none();
	snprintf(t->name, sizeof t->name, "%s", name);
	P->threads[P->nthreads++] = t;
	return t;
}

static struct rchild *child_add(struct rproc *P)
{
	if (P->nchildren == P->capchildren) {
		int cap = P->capchildren ? P->capchildren * 2 : 8;
		struct rchild **v = realloc(P->children, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		P->children = v;
		P->capchildren = cap;
	}
	struct rchild *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->idx = P->nchildren;
	c->pidfd = -1;
	c->pslot = -1;
	c->target = vm_none();
	P->children[P->nchildren++] = c;
	return c;
}

static void handle_repr(void *ctx, const struct value *h, char *buf, size_t size)
{
	struct rproc *P = ctx;
	int i = handle_idx(P, *h);
	if (h->aux == H_PROCESS && i == HANDLE_SELF) {
		snprintf(buf, size, "<_MainProcess name='%s' pid=%d parent=%d started>", P->name, P->pid,
			 P->ppid);
	} else if (h->aux == H_PROCESS && i >= 0 && i < P->nchildren) {
		struct rchild *c = P->children[i];
		if (c->started)
			snprintf(buf, size, "<Process name='%s' pid=%d parent=%d %s>", c->name, c->pid,
				 P->pid, c->reaped ? "stopped" : "started");
		else
			snprintf(buf, size, "<Process name='%s' parent=%d initial>", c->name, P->pid);
	} else if (h->aux == H_THREAD && i >= 0 && i < P->nthreads) {
		struct rthread *t = P->threads[i];
		snprintf(buf, size, "<Thread(%s, %s)>", t->name,
			 !t->started ? "initial" : t->done ? "stopped" : "started");
	} else if (h->aux == H_VALUE && h->u.i >= 0 && h->u.i < atomic_load(&R->shm.hdr->nobjs)) {
		const struct real_sobj *o = &R->shm.objs[h->u.i];
		int64_t bits = __atomic_load_n(&R->shm.data[o->data], __ATOMIC_RELAXED);
		double d;
		memcpy(&d, &bits, sizeof d);
		if (o->typecode == 'f' || o->typecode == 'd')
			snprintf(buf, size, "<Synchronized wrapper for c_double(%g)>", d);
		else
			snprintf(buf, size, "<Synchronized wrapper for c_long(%lld)>", (long long)bits);
	} else if (h->aux != H_PROCESS && h->aux != H_THREAD && h->u.i >= 0 &&
		   h->u.i < atomic_load(&R->shm.hdr->nobjs)) {
		snprintf(buf, size, "<%s %s>", vm_handle_class((enum vm_handle_kind)h->aux),
			 R->shm.objs[h->u.i].name);
	} else {
		snprintf(buf, size, "<object %d>", i);
	}
}

/* The process slot ends: PS_EXITED by itself, or PS_DIED seen by a reaper. Counts it out of
 * the live processes exactly once. */
static void pslot_end(int pslot, int state, int exitcode)
{
	if (pslot < 0)
		return;
	struct real_pslot *ps = &R->shm.procs[pslot];
	int expected = PS_RUNNING;
	if (state == PS_DIED)
		ps->end_t = rel_now();
	if (atomic_compare_exchange_strong(&ps->state, &expected, state)) {
		ps->exitcode = exitcode;
		atomic_fetch_sub(&R->shm.hdr->live_procs, 1);
	}
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1;
}

/* Reaps child c if it has ended. Returns whether it is reaped. */
static bool child_try_reap(struct rproc *P, struct rchild *c)
{
	pthread_mutex_lock(&P->lock);
	if (!c->reaped) {
		int st;
		pid_t r = waitpid(c->pid, &st, WNOHANG);
		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			c->reaped = true;
			c->exitcode = r == c->pid ? status_code(st) : -1;
			if (c->pidfd >= 0)
				close(c->pidfd);
			c->pidfd = -1;
			pslot_end(c->pslot, PS_DIED, c->exitcode); /* no-op if it exited by itself */
			if (atomic_load(&R->shm.procs[c->pslot].state) == PS_EXITED)
				c->exitcode = R->shm.procs[c->pslot].exitcode;
		}
	}
	bool done = c->reaped;
	pthread_mutex_unlock(&P->lock);
	return done;
}

/* Waits until child c has ended (reaping it) or the absolute deadline passes (-1: none).
 * Returns whether it ended. */
static bool child_wait(struct rproc *P, struct rchild *c, int64_t deadline)
{
	for (;;) {
		if (child_try_reap(P, c))
			return true;
		int64_t now = real_mono_ns();
		if (deadline >= 0 && now >= deadline)
			return false;
		int64_t left = deadline >= 0 ? deadline - now : 1000000000;
		if (c->pidfd >= 0) {
			struct pollfd pfd = {.fd = c->pidfd, .events = POLLIN};
			struct timespec ts = {left / 1000000000, left % 1000000000};
			ppoll(&pfd, 1, &ts, NULL);
		} else { /* no pidfd (old kernel): poll waitpid */
			struct timespec ts = {0, left < 200000 ? left : 200000};
			nanosleep(&ts, NULL);
		}
	}
}

static void thread_loop(struct rproc *P, struct rthread *T);

static void *thread_main(void *arg)
{
	struct rthread *T = arg;
	R->shm.threads[T->slot].tid = (int32_t)syscall(SYS_gettid);
	il_acquire(T);
	rec_state(T, TS_RUNNING, RR_RUN, -1, 0);
	thread_loop(T->P, T);
	return NULL;
}

/* ---- the end of a thread, and of a process ---- */

static void proc_exit(struct rproc *P, struct rthread *T) __attribute__((noreturn));

static void thread_end(struct rproc *P, struct rthread *T, bool error)
{
	if (T->is_main) {
		if (error)
			P->exitcode = 1;
		proc_exit(P, T);
	}
	rec_state(T, TS_DONE, error ? RR_EXCEPTION : RR_RETURNED, -1, 0);
	vm_thread_destroy(T->vm);
	T->vm = NULL;
	pthread_mutex_lock(&P->lock);
	T->done = true;
	pthread_cond_broadcast(&P->cond);
	pthread_mutex_unlock(&P->lock);
	il_release(T);
}

/* Waits (interpreter lock released) until thread o is done or the deadline passes. */
static bool thread_wait(struct rproc *P, struct rthread *o, int64_t deadline)
{
	pthread_mutex_lock(&P->lock);
	while (!o->done) {
		if (deadline < 0) {
			pthread_cond_wait(&P->cond, &P->lock);
		} else {
			struct timespec ts;
			abs_deadline(&ts, deadline);
			if (pthread_cond_timedwait(&P->cond, &P->lock, &ts) == ETIMEDOUT)
				break;
		}
	}
	bool done = o->done;
	pthread_mutex_unlock(&P->lock);
	return done;
}

static void results_write(struct rproc *P);
static void feeders_flush(struct rthread *T);

/* CPython's exit: threading._shutdown joins the non-daemon threads, multiprocessing's exit
 * hook joins the non-daemon children and terminates the daemon ones; then the process ends. */
static void proc_exit(struct rproc *P, struct rthread *T)
{
	for (int i = 0; i < P->nthreads; i++) {
		struct rthread *o = P->threads[i];
		if (o == T || !o->started || o->daemon)
			continue;
		pthread_mutex_lock(&P->lock);
		bool done = o->done;
		pthread_mutex_unlock(&P->lock);
		if (done)
			continue;
		rec_state(T, TS_JOIN, RR_SHUTDOWN_THREAD, o->slot, -1);
		il_release(T);
		thread_wait(P, o, -1);
		il_acquire(T);
		rec_full(T, T->slot, RK_WAKE, 0, RR_JOIN_DONE, o->slot, 0, T->line, -1);
		rec_state(T, TS_RUNNING, RR_JOIN_DONE, o->slot, 0);
	}
	for (int i = 0; i < P->nchildren; i++) {
		struct rchild *c = P->children[i];
		if (!c->started || c->daemon || child_try_reap(P, c))
			continue;
		rec_state(T, TS_JOIN, RR_SHUTDOWN_CHILD, c->pslot, -1);
		il_release(T);
		child_wait(P, c, -1);
		il_acquire(T);
		rec_state(T, TS_RUNNING, RR_JOIN_DONE, c->pslot, 1);
	}
	for (int i = 0; i < P->nchildren; i++) {
		struct rchild *c = P->children[i];
		if (!c->started || !c->daemon || child_try_reap(P, c))
			continue;
		R->shm.procs[c->pslot].terminated = 1;
		kill(c->pid, SIGTERM);
		child_wait(P, c, -1);
	}
	feeders_flush(T);
	pthread_mutex_lock(&P->lock);
	for (int i = 0; i < P->nthreads; i++) {
		struct rthread *o = P->threads[i];
		if (o != T && o->started && !o->done)
			rec_full(T, o->slot, RK_STATE, TS_DONE, RR_DAEMON_END, -1, 0, 0, -1);
	}
	pthread_mutex_unlock(&P->lock);
	rec_state(T, TS_DONE, RR_PROC_EXIT, -1, P->exitcode);
	pslot_end(P->pslot, PS_EXITED, P->exitcode);
	if (P->top)
		results_write(P);
	_exit(P->exitcode);
}

/* ---- system calls ---- */

static const struct value *kwarg(const struct vm_call *c, const char *name)
{
	for (int i = 0; i < c->kwc; i++)
		if (strcmp(c->kwname[i], name) == 0)
			return &c->kwv[i];
	return NULL;
}

static void sys_raise(struct rthread *T, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sys_raise(struct rthread *T, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vm_raise(T->vm, type, msg);
}

static int64_t dur_arg(const struct vm_call *c)
{
	return c->argc > 0 && c->argv[0].type == V_DUR ? c->argv[0].u.i : 0;
}

static void do_compute(struct rproc *P, struct rthread *T, int64_t d)
{
	if (d <= 0)
		return;
	bool gil = P->il.py3;
	if (!gil)
		il_release(T);
	int64_t c = real_thread_cpu_ns(), target = c + d;
	int64_t lw = real_mono_ns(), lc = c;
	int cpu = sched_getcpu();
	for (unsigned iter = 1;; iter++) {
		c = real_thread_cpu_ns();
		int64_t w = real_mono_ns();
		if (c >= target)
			break;
		bool wrote = false;
		if (w - lw > GAP_NS && c - lc < (w - lw) / 2) {
			/* the CPU time it got in the gap came first, then it waited */
			rec_full(T, T->slot, RK_STATE, TS_READY, RR_PREEMPTED, -1, 0, T->line,
				 lw + (c - lc) - R->shm.hdr->t0);
			rec_state(T, TS_RUNNING, RR_RESUMED, -1, 0);
			cpu = sched_getcpu();
			wrote = true;
		} else if ((iter & 63) == 0 && sched_getcpu() != cpu) {
			rec_state(T, TS_RUNNING, RR_MIGRATED, -1, 0);
			cpu = sched_getcpu();
			wrote = true;
		}
		if (gil && atomic_load_explicit(&P->il.drop_request, memory_order_relaxed)) {
			rec_state(T, TS_GIL, RR_GIL_DROP, -1, 0);
			gil_drop(T, true);
			gil_take(T, false);
			rec_state(T, TS_RUNNING, RR_GIL_TAKEN, -1, 0);
			cpu = sched_getcpu();
			wrote = true;
		}
		if (wrote) {
			c = real_thread_cpu_ns();
			w = real_mono_ns();
		}
		lw = w;
		lc = c;
	}
	if (!gil)
		il_acquire(T);
}

static void do_block(struct rthread *T, int state, int reason, int64_t d)
{
	rec_state(T, state, reason, -1, d);
	int64_t until = real_mono_ns() + (d > 0 ? d : 0);
	il_release(T);
	struct timespec ts;
	abs_deadline(&ts, until);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	il_acquire(T);
	rec_state(T, TS_RUNNING, RR_SLEEP_END, -1, state == TS_IO);
}

/* Process(...) or Thread(...), as sim/kernel.c's sys_new. */
static void sys_new(struct rproc *P, struct rthread *T, const struct vm_call *c, bool is_proc)
{
	const char *what = is_proc ? "Process" : "Thread";
	static const char *const known[] = {"target", "args", "name", "daemon", "kwargs", "group"};
	for (int i = 0; i < c->kwc; i++) {
		bool ok = false;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok = ok || strcmp(c->kwname[i], known[j]) == 0;
		if (!ok) {
			sys_raise(T, "TypeError", "%s() got an unexpected keyword argument '%s'", what,
				  c->kwname[i]);
			return;
		}
	}
	if (c->argc > 0) {
		sys_raise(T, "TypeError",
			  "%s() takes keyword arguments only here: write %s(target=f, args=(...))", what,
			  what);
		return;
	}
	const struct value *target = kwarg(c, "target");
	const struct value *args = kwarg(c, "args");
	const struct value *name = kwarg(c, "name");
	const struct value *daemon = kwarg(c, "daemon");
	if (!target || (target->type != V_FUNC && target->type != V_BUILTIN)) {
		sys_raise(T, "TypeError", "%s() needs target= a function", what);
		return;
	}
	if (args && args->type != V_TUPLE && args->type != V_LIST) {
		sys_raise(T, "TypeError", "%s() args= must be a tuple", what);
		return;
	}
	int nargs = args ? vm_seq_len(*args) : 0;
	if (nargs > VM_MAX_ARGS) {
		sys_raise(T, "TypeError", "%s() takes at most %d args", what, VM_MAX_ARGS);
		return;
	}
	if (name && name->type != V_STR && name->type != V_NONE) {
		sys_raise(T, "TypeError", "%s() name= must be a string", what);
		return;
	}
	struct value *dst_target, *dst_args;
	int *dst_n;
	struct value h;
	pthread_mutex_lock(&P->lock);
	if (is_proc) {
		struct rchild *ch = child_add(P);
		if (!ch) {
			pthread_mutex_unlock(&P->lock);
			sys_raise(T, "MemoryError", "out of memory");
			return;
		}
		P->nchildren_named++;
		if (name && name->type == V_STR)
			snprintf(ch->name, sizeof ch->name, "%s", vm_str_data(*name, NULL));
		else if (P->top)
			snprintf(ch->name, sizeof ch->name, "Process-%d", P->nchildren_named);
		else
			snprintf(ch->name, sizeof ch->name, "%.40s:%d", P->name, P->nchildren_named);
		ch->daemon = daemon && vm_truthy(*daemon);
		dst_target = &ch->target;
		dst_args = ch->args;
		dst_n = &ch->nargs;
		h = vm_handle(H_PROCESS, handle_id(P, ch->idx));
	} else {
		struct rthread *nt = thread_add(P, "");
		if (!nt) {
			pthread_mutex_unlock(&P->lock);
			sys_raise(T, "MemoryError", "out of memory");
			return;
		}
		P->nthreads_named++;
		if (name && name->type == V_STR)
			snprintf(nt->name, sizeof nt->name, "%s", vm_str_data(*name, NULL));
		else
			snprintf(nt->name, sizeof nt->name, "Thread-%d", P->nthreads_named);
		nt->daemon = daemon ? vm_truthy(*daemon) : T->daemon;
		dst_target = &nt->target;
		dst_args = nt->args;
		dst_n = &nt->nargs;
		h = vm_handle(H_THREAD, handle_id(P, nt->idx));
	}
	pthread_mutex_unlock(&P->lock);
	vm_ref(*target);
	*dst_target = *target;
	for (int i = 0; i < nargs; i++) {
		dst_args[i] = vm_seq_item(*args, i);
		vm_ref(dst_args[i]);
	}
	*dst_n = nargs;
	vm_return(T->vm, h);
}

static void thread_start(struct rproc *P, struct rthread *T, struct rthread *o)
{
	if (o->started) {
		sys_raise(T, "RuntimeError", "threads can only be started once");
		return;
	}
	int slot = real_shm_new_thread(&R->shm, P->pslot, o->name);
	if (slot < 0) {
		sys_raise(T, "RuntimeError", "can't start new thread: the real runner records at most "
			  "%d threads", REAL_MAX_THREADS);
		return;
	}
	R->shm.threads[slot].daemon = o->daemon;
	atomic_fetch_add(&R->shm.hdr->model_pids, 1); /* the simulator gives the thread a tid */
	for (int i = 0; i < o->nargs; i++)
		vm_ref(o->args[i]);
	vm_ref(o->target);
	o->vm = vm_thread_create_call(P->vm, o->target, o->nargs, o->args);
	if (!o->vm) {
		sys_raise(T, "MemoryError", "out of memory");
		return;
	}
	o->slot = slot;
	rec_full(T, slot, RK_STATE, TS_NEW, RR_THREAD_NEW, T->slot, 0, T->line, -1);
	pthread_mutex_lock(&P->lock);
	o->started = true;
	pthread_mutex_unlock(&P->lock);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t pt;
	int rc = pthread_create(&pt, &attr, thread_main, o);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		rec_full(T, slot, RK_STATE, TS_DONE, RR_EXCEPTION, -1, 0, T->line, -1);
		pthread_mutex_lock(&P->lock);
		o->done = true;
		pthread_mutex_unlock(&P->lock);
		sys_raise(T, "RuntimeError", "can't start new thread: %s", strerror(rc));
		return;
	}
	rec_full(T, slot, RK_SPAWN_READY, TS_READY, RR_THREAD_STARTED, T->slot, 0, T->line, -1);
	vm_return(T->vm, vm_none());
}

/* In a new child process: the runner's state for it, and the thread that goes on there. */
static void feeders_forget(void);
static int g_model_pid = 1000; /* this process's pid in the simulation (see real_hdr) */

static void become_child(struct rproc **Pp, struct rthread **Tp, int pslot, int tslot,
			 const char *name, struct rchild *ch)
{
	struct rproc *old = *Pp;
	struct rthread *oldT = *Tp;
	signal(SIGUSR2, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, 0);
	if (R->go_fd >= 0) {
		close(R->go_fd);
		R->go_fd = -1;
	}
	feeders_forget();
	struct rproc *np = proc_create(pslot, name);
	struct rthread *nt = np ? thread_add(np, "MainThread") : NULL;
	int pid = getpid();
	if (!np || !nt)
		_exit(1);
	np->pid = pid;
	np->ppid = old->pid;
	/* seeded from the pid the simulator would have given it, so that random() gives the
	 * simulated values in the same order */
	np->vm = vm_proc_fork(old->vm, R->opt.seed * 0x9E3779B97F4A7C15ULL + (uint64_t)g_model_pid);
	if (!np->vm)
		_exit(1);
	proc_vm_setup(np);
	R->shm.procs[pslot].pid = pid;
	R->shm.procs[pslot].ppid = old->pid;
	R->shm.threads[tslot].tid = pid;
	nt->slot = tslot;
	nt->is_main = true;
	nt->started = true;
	nt->line = oldT->line;
	if (!ch) {
		nt->vm = vm_thread_fork(oldT->vm, np->vm);
		if (nt->vm)
			vm_return(nt->vm, vm_int(0));
	} else if (ch->pool) {
		nt->vm = NULL; /* worker_main makes one per task */
	} else {
		vm_ref(ch->target);
		for (int i = 0; i < ch->nargs; i++)
			vm_ref(ch->args[i]);
		nt->vm = vm_thread_create_call(np->vm, ch->target, ch->nargs, ch->args);
	}
	if (!nt->vm && !(ch && ch->pool))
		_exit(1);
	vm_program_set_handle_repr(R->prog, handle_repr, np);
	il_acquire(nt);
	rec_state(nt, TS_RUNNING, RR_RUN, -1, 0);
	/* the parent's state (its other threads' VM frames, its tables) is left as it is: this
	 * process never touches it and ends with _exit */
	*Pp = np;
	*Tp = nt;
}

/* fork() for os.fork() (ch == NULL) or Process.start(). In the child, *Pp and *Tp become the
 * child's process and main thread. */
static void do_fork(struct rproc **Pp, struct rthread **Tp, struct rchild *ch)
{
	struct rproc *P = *Pp;
	struct rthread *T = *Tp;
	const char *name = ch ? ch->name : P->name;
	int pslot = real_shm_new_proc(&R->shm);
	int tslot = pslot >= 0 ? real_shm_new_thread(&R->shm, pslot, "MainThread") : -1;
	if (tslot < 0) {
		if (pslot >= 0)
			atomic_store(&R->shm.procs[pslot].state, PS_UNUSED);
		sys_raise(T, "OSError", "fork failed: the real runner records at most %d processes "
			  "and %d threads", REAL_MAX_PROCS, REAL_MAX_THREADS);
		return;
	}
	struct real_pslot *ps = &R->shm.procs[pslot];
	snprintf(ps->name, sizeof ps->name, "%s", name);
	ps->main_slot = tslot;
	ps->ppid = P->pid;
	atomic_fetch_add(&R->shm.hdr->live_procs, 1);
	rec_full(T, tslot, RK_STATE, TS_NEW, ch ? RR_PROC_NEW : RR_FORK_NEW, T->slot, 0, T->line, -1);
	g_model_pid = 1001 + atomic_fetch_add(&R->shm.hdr->model_pids, 1);
	pid_t pid = fork();
	if (pid == 0) {
		become_child(Pp, Tp, pslot, tslot, name, ch);
		return;
	}
	if (pid < 0) {
		int e = errno;
		rec_full(T, tslot, RK_STATE, TS_DONE, RR_EXCEPTION, -1, 0, T->line, -1);
		atomic_store(&ps->state, PS_UNUSED);
		atomic_fetch_sub(&R->shm.hdr->live_procs, 1);
		sys_raise(T, "OSError", "fork failed: %s", strerror(e));
		return;
	}
	ps->pid = pid;
	if (ch) {
		pthread_mutex_lock(&P->lock);
		ch->pid = pid;
		ch->pslot = pslot;
		ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		ch->started = true;
		pthread_mutex_unlock(&P->lock);
	}
	rec_full(T, tslot, RK_SPAWN_READY, TS_READY, ch ? RR_PROC_STARTED : RR_FORK_RETURNED,
		 T->slot, 0, T->line, -1);
	if (!ch || !ch->pool) /* Pool() answers when all its workers are started */
		vm_return(T->vm, ch ? vm_none() : vm_int(pid));
}

static int64_t join_timeout(struct rthread *T, const struct vm_call *c, bool *bad)
{
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
	*bad = false;
	if (!tv || tv->type == V_NONE)
		return -1;
	int64_t t;
	if (tv->type == V_DUR)
		t = tv->u.i;
	else if (tv->type == V_INT)
		t = tv->u.i * 1000000000LL;
	else if (tv->type == V_FLOAT)
		t = (int64_t)(tv->u.f * 1e9);
	else {
		sys_raise(T, "TypeError", "join() timeout must be a number or duration");
		*bad = true;
		return -1;
	}
	return t < 0 ? 0 : t;
}

static void sys_method(struct rproc **Pp, struct rthread **Tp, const struct vm_call *c)
{
	struct rproc *P = *Pp;
	struct rthread *T = *Tp;
	bool is_proc = c->self.aux == H_PROCESS;
	const char *m = c->name;
	int i = handle_idx(P, c->self);
	if (c->self.aux != H_PROCESS && c->self.aux != H_THREAD) {
		sys_raise(T, "AttributeError", "object has no attribute '%s'", m);
		return;
	}
	bool self_proc = is_proc && i == HANDLE_SELF;
	bool known = is_proc ? (i >= 0 && i < P->nchildren) || self_proc : i >= 0 && i < P->nthreads;
	if (!known) {
		/* a handle made in another process (copied by fork): not ours to act on */
		if (strcmp(m, "is_alive") == 0) {
			vm_return(T->vm, vm_bool(false));
			return;
		}
		sys_raise(T, "AssertionError", "can only %s a child %s", m,
			  is_proc ? "process" : "thread of this process");
		return;
	}
	if (strcmp(m, "start") == 0) {
		if (self_proc) {
			sys_raise(T, "AssertionError", "cannot start a process twice");
			return;
		}
		if (is_proc) {
			struct rchild *ch = P->children[i];
			if (ch->started) {
				sys_raise(T, "AssertionError", "cannot start a process twice");
				return;
			}
			do_fork(Pp, Tp, ch);
			return;
		}
		thread_start(P, T, P->threads[i]);
		return;
	}
	if (strcmp(m, "join") == 0) {
		bool bad;
		int64_t timeout = join_timeout(T, c, &bad);
		if (bad)
			return;
		int64_t deadline = timeout >= 0 ? real_mono_ns() + timeout : -1;
		if (is_proc) {
			if (self_proc) {
				sys_raise(T, "AssertionError", "can only join a child process");
				return;
			}
			struct rchild *ch = P->children[i];
			if (!ch->started) {
				sys_raise(T, "AssertionError", "can only join a started process");
				return;
			}
			if (child_try_reap(P, ch)) {
				vm_return(T->vm, vm_none());
				return;
			}
			rec_state(T, TS_JOIN, RR_JOIN_PROC, ch->pslot, timeout);
			il_release(T);
			bool ended = child_wait(P, ch, deadline);
			il_acquire(T);
			rec_state(T, TS_RUNNING, ended ? RR_JOIN_DONE : RR_JOIN_TIMEOUT, ch->pslot, 1);
			vm_return(T->vm, vm_none());
			return;
		}
		struct rthread *o = P->threads[i];
		if (!o->started) {
			sys_raise(T, "RuntimeError", "cannot join thread before it is started");
			return;
		}
		if (o == T) {
			sys_raise(T, "RuntimeError", "cannot join current thread");
			return;
		}
		pthread_mutex_lock(&P->lock);
		bool done = o->done;
		pthread_mutex_unlock(&P->lock);
		if (!done) {
			rec_state(T, TS_JOIN, RR_JOIN_THREAD, o->slot, timeout);
			il_release(T);
			done = thread_wait(P, o, deadline);
			il_acquire(T);
			if (done)
				rec_full(T, T->slot, RK_WAKE, 0, RR_JOIN_DONE, o->slot, 0, T->line, -1);
			rec_state(T, TS_RUNNING, done ? RR_JOIN_DONE : RR_JOIN_TIMEOUT, o->slot, 0);
		}
		vm_return(T->vm, vm_none());
		return;
	}
	if (strcmp(m, "is_alive") == 0) {
		bool alive;
		if (self_proc)
			alive = true;
		else if (is_proc)
			alive = P->children[i]->started && !P->children[i]->reaped &&
				atomic_load(&R->shm.procs[P->children[i]->pslot].state) == PS_RUNNING;
		else {
			pthread_mutex_lock(&P->lock);
			alive = P->threads[i]->started && !P->threads[i]->done;
			pthread_mutex_unlock(&P->lock);
		}
		vm_return(T->vm, vm_bool(alive));
		return;
	}
	if (is_proc && (strcmp(m, "terminate") == 0 || strcmp(m, "kill") == 0)) {
		if (self_proc) {
			sys_raise(T, "RuntimeError", "a process cannot terminate itself here");
			return;
		}
		struct rchild *ch = P->children[i];
		if (ch->started && !child_try_reap(P, ch)) {
			R->shm.procs[ch->pslot].terminated = 1;
			kill(ch->pid, m[0] == 't' ? SIGTERM : SIGKILL);
		}
		vm_return(T->vm, vm_none());
		return;
	}
	if (!is_proc && strcmp(m, "getName") == 0) {
		vm_return(T->vm, vm_str(P->threads[i]->name, strlen(P->threads[i]->name)));
		return;
	}
	sys_raise(T, "AttributeError", "'%s' object has no attribute '%s'",
		  is_proc ? "Process" : "Thread", m);
}

static void sys_getattr(struct rproc *P, struct rthread *T, const struct vm_call *c)
{
	const char *a = c->name;
	int i = handle_idx(P, c->self);
	if (c->self.aux == H_PROCESS) {
		const char *name = NULL;
		int pid = 0, exitcode = 0;
		bool started = false, ended = false, daemon = false;
		if (i == HANDLE_SELF) {
			name = P->name;
			pid = P->pid;
			started = true;
		} else if (i >= 0 && i < P->nchildren) {
			struct rchild *ch = P->children[i];
			name = ch->name;
			pid = ch->pid;
			started = ch->started;
			daemon = ch->daemon;
			if (started && child_try_reap(P, ch)) {
				ended = true;
				exitcode = ch->exitcode;
			}
		} else {
			sys_raise(T, "AttributeError", "a process handle from another process");
			return;
		}
		if (strcmp(a, "name") == 0)
			vm_return(T->vm, vm_str(name, strlen(name)));
		else if (strcmp(a, "pid") == 0 || strcmp(a, "ident") == 0)
			vm_return(T->vm, started ? vm_int(pid) : vm_none());
		else if (strcmp(a, "exitcode") == 0)
			vm_return(T->vm, ended ? vm_int(exitcode) : vm_none());
		else if (strcmp(a, "daemon") == 0)
			vm_return(T->vm, vm_bool(daemon));
		else
			sys_raise(T, "AttributeError", "'Process' object has no attribute '%s'", a);
		return;
	}
	if (c->self.aux == H_THREAD && i >= 0 && i < P->nthreads) {
		struct rthread *o = P->threads[i];
		if (strcmp(a, "name") == 0)
			vm_return(T->vm, vm_str(o->name, strlen(o->name)));
		else if (strcmp(a, "ident") == 0 || strcmp(a, "native_id") == 0)
			vm_return(T->vm, o->started && o->slot >= 0
						 ? vm_int(o->is_main ? P->pid : R->shm.threads[o->slot].tid)
						 : vm_none());
		else if (strcmp(a, "daemon") == 0)
			vm_return(T->vm, vm_bool(o->daemon));
		else
			sys_raise(T, "AttributeError", "'Thread' object has no attribute '%s'", a);
		return;
	}
	sys_raise(T, "AttributeError", "object has no attribute '%s'", a);
}

static void sys_setattr(struct rproc *P, struct rthread *T, const struct vm_call *c)
{
	const char *a = c->name;
	int i = handle_idx(P, c->self);
	bool is_proc = c->self.aux == H_PROCESS;
	struct value v = c->argc > 0 ? c->argv[0] : vm_none();
	char *name;
	bool started, *daemon;
	if (is_proc && i >= 0 && i < P->nchildren) {
		name = P->children[i]->name;
		started = P->children[i]->started;
		daemon = &P->children[i]->daemon;
	} else if (!is_proc && c->self.aux == H_THREAD && i >= 0 && i < P->nthreads) {
		name = P->threads[i]->name;
		started = P->threads[i]->started;
		daemon = &P->threads[i]->daemon;
	} else {
		sys_raise(T, "AttributeError", "cannot set attribute '%s'", a);
		return;
	}
	if (strcmp(a, "name") == 0) {
		if (v.type != V_STR) {
			sys_raise(T, "TypeError", "name must be a string");
			return;
		}
		if (started) {
			sys_raise(T, "RuntimeError",
				  "renaming a started %s is not modelled (its trace row is named)",
				  is_proc ? "process" : "thread");
			return;
		}
		snprintf(name, 64, "%s", vm_str_data(v, NULL));
		vm_return(T->vm, vm_none());
		return;
	}
	if (strcmp(a, "daemon") == 0) {
		if (started) {
			sys_raise(T, "RuntimeError", "cannot set daemon status of active thread");
			return;
		}
		*daemon = vm_truthy(v);
		vm_return(T->vm, vm_none());
		return;
	}
	sys_raise(T, "AttributeError", "cannot set attribute '%s'", a);
}

/* ---- synchronisation objects and shared memory (process-shared, in the shared area) ----
 *
 * Every object is a monitor in the shared mapping (shm.h's struct real_sobj): a robust,
 * process-shared mutex guards its fields and waiters wait on its process-shared condition
 * variable, so threads of one process and processes that inherited the handle (its index) by
 * fork share it. A Lock is an owner field under that mutex rather than the pthread mutex itself:
 * Python lets any thread release a Lock, which a pthread mutex forbids. Who gets a released
 * lock is the OS's choice (the simulator hands over in FIFO order). A thread that must wait
 * records TS_LOCK and releases its interpreter lock (or the GIL) while it waits. */

static struct real_sobj *sobj_at(struct value h)
{
	int64_t i = h.u.i;
	if (i < 0 || i >= atomic_load(&R->shm.hdr->nobjs))
		return NULL;
	return &R->shm.objs[i];
}

static void sobj_lock(struct real_sobj *o)
{
	if (pthread_mutex_lock(&o->mu) == EOWNERDEAD) /* a process died holding it */
		pthread_mutex_consistent(&o->mu);
}

static void sobj_unlock(struct real_sobj *o)
{
	pthread_mutex_unlock(&o->mu);
}

/* Waits on o's condition (o->mu held) until woken or the absolute deadline (-1: none). Returns
 * false when the deadline passed. */
static bool sobj_wait(struct real_sobj *o, int64_t deadline)
{
	int rc;
	if (deadline < 0) {
		rc = pthread_cond_wait(&o->cv, &o->mu);
	} else {
		struct timespec ts;
		abs_deadline(&ts, deadline);
		rc = pthread_cond_timedwait(&o->cv, &o->mu, &ts);
	}
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(&o->mu);
	return rc != ETIMEDOUT;
}

static void sync_block(struct rthread *T, int reason, int obj, int64_t arg)
{
	rec_state(T, TS_LOCK, reason, obj, arg);
	il_release(T);
}

static void sync_unblock(struct rthread *T, int obj, bool timed_out)
{
	il_acquire(T);
	rec_state(T, TS_RUNNING, RR_SYNC_DONE, obj, timed_out);
}

/* A timeout argument (seconds, a duration, None = -1). Returns false after raising. */
static bool timeout_of(struct rthread *T, const struct value *v, int64_t *ns)
{
	*ns = -1;
	if (!v || v->type == V_NONE)
		return true;
	if (v->type == V_DUR)
		*ns = v->u.i;
	else if (v->type == V_INT || v->type == V_BOOL)
		*ns = v->u.i * 1000000000LL;
	else if (v->type == V_FLOAT)
		*ns = (int64_t)(v->u.f * 1e9);
	else {
		sys_raise(T, "TypeError", "timeout must be a number or a duration");
		return false;
	}
	return true;
}

static int64_t deadline_of(int64_t timeout)
{
	return timeout < 0 ? -1 : real_mono_ns() + timeout;
}

/* Takes lock L for T, waiting at most until deadline (-1: none; with blocking false: not at
 * all). Returns whether T holds it. */
static bool lock_take(struct rthread *T, int idx, bool blocking, int64_t deadline)
{
	struct real_sobj *L = &R->shm.objs[idx];
	bool rlock = L->kind == H_RLOCK;
	sobj_lock(L);
	if (L->owner < 0 || (rlock && L->owner == T->slot)) {
		L->owner = T->slot;
		L->count++;
		sobj_unlock(L);
		return true;
	}
	int holder = L->owner;
	sobj_unlock(L);
	if (!blocking || (deadline >= 0 && real_mono_ns() >= deadline))
		return false;
	sync_block(T, RR_SYNC_WAIT, idx, holder);
	sobj_lock(L);
	bool ok = true;
	while (L->owner >= 0)
		if (!sobj_wait(L, deadline) && L->owner >= 0) {
			ok = false;
			break;
		}
	if (ok) {
		L->owner = T->slot;
		L->count = 1;
	}
	sobj_unlock(L);
	sync_unblock(T, idx, !ok);
	return ok;
}

static void lock_acquire_call(struct rthread *T, int idx, const struct vm_call *c, bool with)
{
	const struct value *bv = with ? NULL : c->argc > 0 ? &c->argv[0] : kwarg(c, "blocking");
	const struct value *tv = with ? NULL : c->argc > 1 ? &c->argv[1] : kwarg(c, "timeout");
	bool blocking = !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (tv && !((tv->type == V_INT && tv->u.i == -1) || (tv->type == V_FLOAT && tv->u.f == -1))) {
		if (!blocking) {
			sys_raise(T, "ValueError", "can't specify a timeout for a non-blocking call");
			return;
		}
		if (!timeout_of(T, tv, &timeout))
			return;
		if (timeout < 0 && tv->type != V_NONE) {
			sys_raise(T, "ValueError", "timeout value must be positive");
			return;
		}
	}
	bool ok = lock_take(T, idx, blocking, deadline_of(timeout));
	vm_return(T->vm, with ? vm_none() : vm_bool(ok));
}

static void lock_release_call(struct rthread *T, int idx)
{
	struct real_sobj *L = &R->shm.objs[idx];
	sobj_lock(L);
	if (L->kind == H_RLOCK && L->owner != T->slot) {
		sobj_unlock(L);
		sys_raise(T, "RuntimeError", "cannot release un-acquired lock");
		return;
	}
	if (L->owner < 0) {
		sobj_unlock(L);
		sys_raise(T, "RuntimeError", "release unlocked lock");
		return;
	}
	if (--L->count <= 0) {
		L->count = 0;
		L->owner = -1;
		pthread_cond_signal(&L->cv);
	}
	sobj_unlock(L);
	vm_return(T->vm, vm_none());
}

static void cond_wait_call(struct rthread *T, int idx, const struct vm_call *c)
{
	struct real_sobj *cv = &R->shm.objs[idx];
	struct real_sobj *L = &R->shm.objs[cv->lock];
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
	int64_t timeout;
	if (!timeout_of(T, tv, &timeout))
		return;
	int64_t deadline = deadline_of(timeout);
	sobj_lock(L);
	if (L->owner != T->slot) {
		sobj_unlock(L);
		sys_raise(T, "RuntimeError", "cannot wait on un-acquired lock");
		return;
	}
	sobj_lock(cv); /* registered before the lock is released: no notify is lost */
	cv->nwait++;
	sobj_unlock(cv);
	int64_t saved = L->count;
	L->owner = -1;
	L->count = 0;
	pthread_cond_signal(&L->cv);
	sobj_unlock(L);
	sync_block(T, RR_COND_WAIT, idx, -1);
	sobj_lock(cv);
	bool notified = false;
	for (;;) {
		if (cv->wakeups > 0) {
			cv->wakeups--;
			notified = true;
			break;
		}
		if (!sobj_wait(cv, deadline)) {
			if (cv->wakeups > 0) {
				cv->wakeups--;
				notified = true;
			}
			break;
		}
	}
	cv->nwait--;
	sobj_unlock(cv);
	rec_state(T, TS_LOCK, RR_COND_REACQUIRE, idx, 0);
	sobj_lock(L);
	while (L->owner >= 0)
		sobj_wait(L, -1);
	L->owner = T->slot;
	L->count = saved;
	sobj_unlock(L);
	sync_unblock(T, idx, !notified);
	vm_return(T->vm, vm_bool(notified));
}

static void cond_notify_call(struct rthread *T, int idx, const struct vm_call *c, bool all)
{
	struct real_sobj *cv = &R->shm.objs[idx];
	struct real_sobj *L = &R->shm.objs[cv->lock];
	int64_t n = 1;
	const struct value *nv = all ? NULL : c->argc > 0 ? &c->argv[0] : kwarg(c, "n");
	if (nv) {
		if (nv->type != V_INT) {
			sys_raise(T, "TypeError", "n must be an integer");
			return;
		}
		n = nv->u.i;
	}
	sobj_lock(L);
	bool owned = L->owner == T->slot;
	sobj_unlock(L);
	if (!owned) {
		sys_raise(T, "RuntimeError", "cannot notify on un-acquired lock");
		return;
	}
	sobj_lock(cv);
	int64_t free_waiters = cv->nwait - cv->wakeups;
	int64_t k = all || n > free_waiters ? free_waiters : n;
	if (k > 0) {
		cv->wakeups += (int32_t)k;
		pthread_cond_broadcast(&cv->cv);
	}
	sobj_unlock(cv);
	vm_return(T->vm, vm_none());
}

static void sem_acquire_call(struct rthread *T, int idx, const struct vm_call *c, bool with)
{
	struct real_sobj *o = &R->shm.objs[idx];
	const struct value *bv = with ? NULL : c->argc > 0 ? &c->argv[0] : kwarg(c, "blocking");
	const struct value *tv = with ? NULL : c->argc > 1 ? &c->argv[1] : kwarg(c, "timeout");
	bool blocking = !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (tv && tv->type != V_NONE) {
		if (!blocking) {
			sys_raise(T, "ValueError", "can't specify timeout for non-blocking acquire");
			return;
		}
		if (!timeout_of(T, tv, &timeout))
			return;
	}
	int64_t deadline = deadline_of(timeout);
	sobj_lock(o);
	bool ok = o->count > 0;
	if (ok)
		o->count--;
	sobj_unlock(o);
	if (!ok && blocking && timeout != 0) {
		sync_block(T, RR_SYNC_WAIT, idx, -1);
		sobj_lock(o);
		ok = true;
		while (o->count <= 0)
			if (!sobj_wait(o, deadline) && o->count <= 0) {
				ok = false;
				break;
			}
		if (ok)
			o->count--;
		sobj_unlock(o);
		sync_unblock(T, idx, !ok);
	}
	vm_return(T->vm, with ? vm_none() : vm_bool(ok));
}

static void sem_release_call(struct rthread *T, int idx, const struct vm_call *c, bool with)
{
	struct real_sobj *o = &R->shm.objs[idx];
	const struct value *nv = with ? NULL : c->argc > 0 ? &c->argv[0] : kwarg(c, "n");
	int64_t n = 1;
	if (nv) {
		if (nv->type != V_INT) {
			sys_raise(T, "TypeError", "n must be an integer");
			return;
		}
		n = nv->u.i;
		if (n < 1) {
			sys_raise(T, "ValueError", "n must be one or more");
			return;
		}
	}
	sobj_lock(o);
	if (o->bound >= 0 && o->count + n > o->bound) {
		sobj_unlock(o);
		sys_raise(T, "ValueError", "Semaphore released too many times");
		return;
	}
	o->count += n;
	pthread_cond_broadcast(&o->cv);
	sobj_unlock(o);
	vm_return(T->vm, vm_none());
}

static void event_wait_call(struct rthread *T, int idx, const struct vm_call *c)
{
	struct real_sobj *o = &R->shm.objs[idx];
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
	int64_t timeout;
	if (!timeout_of(T, tv, &timeout))
		return;
	int64_t deadline = deadline_of(timeout);
	sobj_lock(o);
	bool set = o->flag;
	sobj_unlock(o);
	if (!set && timeout != 0) {
		sync_block(T, RR_SYNC_WAIT, idx, -1);
		sobj_lock(o);
		while (!o->flag && sobj_wait(o, deadline))
			;
		set = o->flag;
		sobj_unlock(o);
		sync_unblock(T, idx, !set);
	}
	vm_return(T->vm, vm_bool(set));
}

static void barrier_wait_call(struct rthread *T, int idx, const struct vm_call *c)
{
	struct real_sobj *o = &R->shm.objs[idx];
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
	int64_t timeout = o->btimeout;
	if (tv && tv->type != V_NONE && !timeout_of(T, tv, &timeout))
		return;
	int64_t deadline = deadline_of(timeout);
	sobj_lock(o);
	if (o->broken) {
		sobj_unlock(o);
		sys_raise(T, "BrokenBarrierError", "the barrier is broken");
		return;
	}
	int index = o->arrived++;
	if (o->arrived == o->parties) {
		o->arrived = 0;
		o->gen++;
		pthread_cond_broadcast(&o->cv);
		sobj_unlock(o);
		vm_return(T->vm, vm_int(index));
		return;
	}
	uint64_t gen = o->gen;
	sobj_unlock(o);
	sync_block(T, RR_SYNC_WAIT, idx, -1);
	sobj_lock(o);
	bool timed_out = false;
	while (o->gen == gen && !o->broken)
		if (!sobj_wait(o, deadline) && o->gen == gen && !o->broken) {
			timed_out = true; /* as CPython: a timeout breaks the barrier for everyone */
			o->broken = 1;
			o->broken_gen = gen + 1;
			pthread_cond_broadcast(&o->cv);
			break;
		}
	bool broken = o->broken_gen == gen + 1;
	sobj_unlock(o);
	sync_unblock(T, idx, timed_out);
	if (broken)
		sys_raise(T, "BrokenBarrierError", "the barrier is broken");
	else
		vm_return(T->vm, vm_int(index));
}

static void barrier_break(struct real_sobj *o, bool reset)
{
	sobj_lock(o);
	if (reset || o->arrived > 0)
		o->broken_gen = o->gen + 1;
	o->arrived = 0;
	o->gen++;
	o->broken = reset ? 0 : 1;
	pthread_cond_broadcast(&o->cv);
	sobj_unlock(o);
}

/* Value and Array elements: plain (relaxed) loads and stores of the shared arena, so
 * `v.value += 1` in two processes is a read, then a write, and updates can be lost. */
static bool tc_float(char tc)
{
	return tc == 'f' || tc == 'd';
}

static struct value elem_load(const struct real_sobj *o, int64_t i)
{
	int64_t bits = __atomic_load_n(&R->shm.data[o->data + i], __ATOMIC_RELAXED);
	if (tc_float(o->typecode)) {
		double d;
		memcpy(&d, &bits, sizeof d);
		return vm_float(d);
	}
	return vm_int(bits);
}

/* Stores v as ctypes would (integers wrap to the type's width). Returns false after raising. */
static bool elem_store(struct rthread *T, const struct real_sobj *o, int64_t i, struct value v)
{
	int64_t bits;
	if (tc_float(o->typecode)) {
		double d;
		if (v.type == V_FLOAT)
			d = v.u.f;
		else if (v.type == V_INT || v.type == V_BOOL)
			d = (double)v.u.i;
		else {
			sys_raise(T, "TypeError", "must be real number");
			return false;
		}
		if (o->typecode == 'f')
			d = (float)d;
		memcpy(&bits, &d, sizeof bits);
	} else {
		if (v.type != V_INT && v.type != V_BOOL) {
			sys_raise(T, "TypeError", "int expected instead of %s",
				  v.type == V_FLOAT ? "float" : "this type");
			return false;
		}
		int64_t x = v.u.i;
		switch (o->typecode) {
		case 'b': bits = (int8_t)x; break;
		case 'B': bits = (uint8_t)x; break;
		case 'h': bits = (int16_t)x; break;
		case 'H': bits = (uint16_t)x; break;
		case 'i': bits = (int32_t)x; break;
		case 'I': bits = (uint32_t)x; break;
		default: bits = x; break;
		}
	}
	__atomic_store_n(&R->shm.data[o->data + i], bits, __ATOMIC_RELAXED);
	return true;
}

static int sobj_make(struct rthread *T, int kind, const char *target, const char *cls)
{
	char name[64];
	if (target)
		snprintf(name, sizeof name, "%s", target);
	else
		snprintf(name, sizeof name, "%s-%d", cls, atomic_load(&R->shm.hdr->nobjs) + 1);
	int i = real_shm_new_obj(&R->shm, kind, name);
	if (i < 0)
		sys_raise(T, "RuntimeError", "the real runner makes at most %d objects per run",
			  REAL_MAX_OBJS);
	return i;
}

static bool ipc_new_real(struct rthread *T, const struct vm_call *c);
static void ipc_method_real(struct rthread *T, struct real_sobj *o, int idx, const struct vm_call *c);

/* Lock(), RLock(), Semaphore(v), BoundedSemaphore(v), Condition([lock]), Event(),
 * Barrier(n[, timeout=]), Value(tc, init[, lock=]), Array(tc, n|seq[, lock=]). */
static void sys_obj_new(struct rthread *T, const struct vm_call *c)
{
	const char *cls = c->name ? c->name : "";
	const struct value *a0 = c->argc > 0 ? &c->argv[0] : NULL;
	int i;
	if (ipc_new_real(T, c))
		return;
	if (strcmp(cls, "Lock") == 0 || strcmp(cls, "RLock") == 0) {
		int kind = cls[0] == 'R' ? H_RLOCK : H_LOCK;
		if ((i = sobj_make(T, kind, c->target, cls)) >= 0)
			vm_return(T->vm, vm_handle(kind, i));
		return;
	}
	if (strcmp(cls, "Semaphore") == 0 || strcmp(cls, "BoundedSemaphore") == 0) {
		int64_t value = 1;
		if (!a0)
			a0 = kwarg(c, "value");
		if (a0) {
			if (a0->type != V_INT) {
				sys_raise(T, "TypeError", "semaphore value must be an integer");
				return;
			}
			value = a0->u.i;
		}
		if (value < 0) {
			sys_raise(T, "ValueError", "semaphore initial value must be >= 0");
			return;
		}
		if ((i = sobj_make(T, H_SEMAPHORE, c->target, cls)) < 0)
			return;
		R->shm.objs[i].count = value;
		R->shm.objs[i].bound = cls[0] == 'B' ? value : -1;
		vm_return(T->vm, vm_handle(H_SEMAPHORE, i));
		return;
	}
	if (strcmp(cls, "Condition") == 0) {
		if (!a0)
			a0 = kwarg(c, "lock");
		int lock = -1;
		if (a0 && a0->type != V_NONE) {
			if (a0->type != V_HANDLE || (a0->aux != H_LOCK && a0->aux != H_RLOCK) ||
			    !sobj_at(*a0)) {
				sys_raise(T, "TypeError", "Condition(lock) needs a Lock or RLock");
				return;
			}
			lock = (int)a0->u.i;
		}
		if ((i = sobj_make(T, H_CONDITION, c->target, cls)) < 0)
			return;
		if (lock < 0) { /* Condition() makes an RLock of its own */
			char name[64];
			snprintf(name, sizeof name, "%.40s.lock", R->shm.objs[i].name);
			if ((lock = real_shm_new_obj(&R->shm, H_RLOCK, name)) < 0) {
				sys_raise(T, "RuntimeError", "too many objects");
				return;
			}
		}
		R->shm.objs[i].lock = lock;
		vm_return(T->vm, vm_handle(H_CONDITION, i));
		return;
	}
	if (strcmp(cls, "Event") == 0) {
		if ((i = sobj_make(T, H_EVENT, c->target, cls)) >= 0)
			vm_return(T->vm, vm_handle(H_EVENT, i));
		return;
	}
	if (strcmp(cls, "Barrier") == 0) {
		if (!a0)
			a0 = kwarg(c, "parties");
		if (!a0 || a0->type != V_INT) {
			sys_raise(T, "TypeError", "Barrier(parties) needs an integer");
			return;
		}
		if (a0->u.i < 1) {
			sys_raise(T, "ValueError", "parties must be > 0");
			return;
		}
		int64_t timeout = -1;
		if (!timeout_of(T, kwarg(c, "timeout"), &timeout))
			return;
		if ((i = sobj_make(T, H_BARRIER, c->target, cls)) < 0)
			return;
		R->shm.objs[i].parties = (int32_t)a0->u.i;
		R->shm.objs[i].btimeout = timeout;
		vm_return(T->vm, vm_handle(H_BARRIER, i));
		return;
	}
	if (strcmp(cls, "Value") == 0 || strcmp(cls, "Array") == 0) {
		bool arr = cls[0] == 'A';
		if (!a0 || a0->type != V_STR) {
			sys_raise(T, "TypeError", "%s() needs a typecode such as 'i' or 'd'", cls);
			return;
		}
		const char *tc = vm_str_data(*a0, NULL);
		if (!strchr("bBhHiIlLqQfd", tc[0]) || tc[1]) {
			sys_raise(T, "TypeError", "bad typecode for the real runner (b, B, h, H, i, I, l, "
				  "L, q, Q, f or d): '%s'", tc);
			return;
		}
		const struct value *init = c->argc > 1 ? &c->argv[1] : NULL;
		int64_t n = 1;
		if (arr) {
			if (init && init->type == V_INT)
				n = init->u.i;
			else if (init && vm_seq_len(*init) >= 0)
				n = vm_seq_len(*init);
			else {
				sys_raise(T, "TypeError", "Array() needs a size or a sequence");
				return;
			}
			if (n < 0 || n > 1000000) {
				sys_raise(T, "ValueError", "Array size must be 0 to 1000000");
				return;
			}
		}
		int kind = arr ? H_ARRAY : H_VALUE;
		if ((i = sobj_make(T, kind, c->target, cls)) < 0)
			return;
		struct real_sobj *o = &R->shm.objs[i];
		o->typecode = tc[0];
		o->n = (int32_t)n;
		o->data = real_shm_new_data(&R->shm, n);
		if (o->data < 0) {
			sys_raise(T, "MemoryError", "the real runner's shared arena is full (%zu elements)",
				  (size_t)REAL_DATA_CAP);
			return;
		}
		for (int64_t k = 0; k < n; k++) {
			struct value v = tc_float(tc[0]) ? vm_float(0) : vm_int(0);
			if (!arr && init)
				v = *init;
			else if (arr && init && init->type != V_INT)
				v = vm_seq_item(*init, (int)k);
			if (!elem_store(T, o, k, v))
				return;
		}
		const struct value *lk = kwarg(c, "lock");
		if (!lk || vm_truthy(*lk)) {
			char name[64];
			snprintf(name, sizeof name, "%.40s.lock", o->name);
			if ((o->lock = real_shm_new_obj(&R->shm, H_RLOCK, name)) < 0) {
				sys_raise(T, "RuntimeError", "too many objects");
				return;
			}
		}
		vm_return(T->vm, vm_handle(kind, i));
		return;
	}
	/* real_check refuses the rest before the run; this is for a dynamic use */
	sys_raise(T, "NotImplementedError", "the real runner cannot execute %s() yet",
		  c->name ? c->name : "this object");
}

static bool is_sobj_kind(int aux)
{
	return aux == H_LOCK || aux == H_RLOCK || aux == H_SEMAPHORE || aux == H_CONDITION ||
	       aux == H_EVENT || aux == H_BARRIER || aux == H_VALUE || aux == H_ARRAY ||
	       aux == H_QUEUE || aux == H_CONN;
}

/* ---- queues and pipes: real pipes ----
 *
 * Queue(), SimpleQueue() and Pipe() make their pipe (pipe(2); a duplex Pipe: socketpair) when
 * they are created, so processes forked later inherit the same fds. A message is a 4-byte
 * big-endian length and the value in a small tagged encoding of our own (not pickle, not repr):
 * None, bools, ints, floats, durations, strs, lists and tuples of those (nested), functions of
 * the program and handles of shared objects (locks, queues, ...: their index is valid in every
 * process of the run). A Queue's put() hands the message to the feeder thread of this process
 * (one per queue per process, as CPython's), which write()s it, blocking while the pipe is
 * full; a process's exit waits until its feeders have flushed (Queue.join_thread), so a child
 * that put more than the pipe holds cannot exit before someone get()s. get() takes the queue's
 * reader lock (the object's process-shared mutex) and reads one whole message. */

struct qbuf {
	char *p;
	size_t n, cap;
	bool bad;
	char why[96];
};

static void qb_put(struct qbuf *b, const void *d, size_t n)
{
	if (b->bad)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->bad = true;
			snprintf(b->why, sizeof b->why, "out of memory");
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void qb_tag64(struct qbuf *b, char tag, int64_t x)
{
	qb_put(b, &tag, 1);
	qb_put(b, &x, 8);
}

static void qb_encode(struct qbuf *b, struct value v, int depth)
{
	if (depth > 64) {
		b->bad = true;
		snprintf(b->why, sizeof b->why, "nested too deeply");
		return;
	}
	switch (v.type) {
	case V_NONE: qb_tag64(b, 'N', 0); return;
	case V_BOOL: qb_tag64(b, 'B', v.u.i); return;
	case V_INT: qb_tag64(b, 'I', v.u.i); return;
	case V_DUR: qb_tag64(b, 'D', v.u.i); return;
	case V_FUNC: qb_tag64(b, 'f', v.u.i); return;
	case V_FLOAT: {
		int64_t x;
		memcpy(&x, &v.u.f, 8);
		qb_tag64(b, 'F', x);
		return;
	}
	case V_HANDLE:
		if (is_sobj_kind(v.aux)) {
			qb_tag64(b, 'H', v.aux);
			qb_put(b, &v.u.i, 8);
			return;
		}
		break;
	case V_STR: {
		size_t len;
		const char *s = vm_str_data(v, &len);
		qb_tag64(b, 'S', (int64_t)len);
		qb_put(b, s, len);
		return;
	}
	case V_TUPLE:
	case V_LIST: {
		int n = vm_seq_len(v);
		qb_tag64(b, v.type == V_LIST ? 'L' : 'T', n);
		for (int i = 0; i < n && !b->bad; i++)
			qb_encode(b, vm_seq_item(v, i), depth + 1);
		return;
	}
	default:
		break;
	}
	b->bad = true;
	snprintf(b->why, sizeof b->why, "the real runner cannot send a value of this type "
		 "(type %d) through a pipe yet", v.type);
}

/* Decodes one value at *pos; false on a malformed message. Tuples come back as lists (the
 * VM's API has no tuple constructor; see docs/real.md). */
static bool qb_decode(const char *p, size_t n, size_t *pos, struct value *out, int depth)
{
	if (depth > 64 || *pos + 9 > n)
		return false;
	char tag = p[*pos];
	int64_t x;
	memcpy(&x, p + *pos + 1, 8);
	*pos += 9;
	switch (tag) {
	case 'N': *out = vm_none(); return true;
	case 'B': *out = vm_bool(x != 0); return true;
	case 'I': *out = vm_int(x); return true;
	case 'D': *out = vm_dur(x); return true;
	case 'f': *out = (struct value){.type = V_FUNC, .u.i = x}; return true;
	case 'F': {
		double d;
		memcpy(&d, &x, 8);
		*out = vm_float(d);
		return true;
	}
	case 'H': {
		int64_t id;
		if (*pos + 8 > n)
			return false;
		memcpy(&id, p + *pos, 8);
		*pos += 8;
		*out = vm_handle((enum vm_handle_kind)x, id);
		return true;
	}
	case 'S':
		if (x < 0 || (size_t)x > n - *pos)
			return false;
		*out = vm_str(p + *pos, (size_t)x);
		*pos += (size_t)x;
		return true;
	case 'L':
	case 'T': {
		if (x < 0 || (size_t)x > (n - *pos) / 9)
			return false;
		struct value *items = calloc((size_t)x + 1, sizeof *items);
		if (!items)
			return false;
		for (int64_t i = 0; i < x; i++)
			if (!qb_decode(p, n, pos, &items[i], depth + 1)) {
				for (int64_t k = 0; k < i; k++)
					vm_unref(items[k]);
				free(items);
				return false;
			}
		*out = vm_list((int)x, items); /* no tuple constructor in the VM's API */
		free(items);
		return true;
	}
	default:
		return false;
	}
}

/* The framed message of v (length header first) in *b; false (raised) if v cannot be sent. */
static bool q_frame(struct rthread *T, struct value v, struct qbuf *b)
{
	memset(b, 0, sizeof *b);
	uint32_t zero = 0;
	qb_put(b, &zero, 4);
	qb_encode(b, v, 0);
	if (b->bad) {
		sys_raise(T, "TypeError", "%s", b->why);
		free(b->p);
		return false;
	}
	uint32_t len = (uint32_t)(b->n - 4);
	unsigned char hdr[4] = {len >> 24, len >> 16, len >> 8, len};
	memcpy(b->p, hdr, 4);
	return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

struct fmsg {
	struct fmsg *next;
	size_t n;
	char *p;
};

struct feeder {                /* one per queue per putting process (process-local memory) */
	struct feeder *next;
	int obj, wfd;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fmsg *head, *tail;
	int64_t pending;           /* bytes not yet written */
	bool closing;
};

static struct feeder *g_feeders; /* this process's; forgotten by a forked child (CPython's
                                  * Queue._after_fork) */
static pthread_mutex_t g_feeders_mu = PTHREAD_MUTEX_INITIALIZER;

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->head && !f->closing)
			pthread_cond_wait(&f->cv, &f->mu);
		struct fmsg *m = f->head;
		if (!m)
			break;
		f->head = m->next;
		if (!f->head)
			f->tail = NULL;
		pthread_mutex_unlock(&f->mu);
		size_t done = 0;
		while (done < m->n) { /* blocks while the pipe is full */
			/* at most 64 KiB a write, so that what is left is known while it blocks */
			size_t chunk = m->n - done < 65536 ? m->n - done : 65536;
			ssize_t w = write(f->wfd, m->p + done, chunk);
			if (w < 0 && errno == EINTR)
				continue;
			pthread_mutex_lock(&f->mu);
			f->pending -= w > 0 ? (int64_t)w : (int64_t)(m->n - done);
			pthread_cond_broadcast(&f->cv); /* progress, for feeders_flush */
			pthread_mutex_unlock(&f->mu);
			if (w <= 0)
				break;
			done += (size_t)w;
		}
		pthread_mutex_lock(&f->mu);
		free(m->p);
		free(m);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static struct feeder *feeder_of(int obj, int wfd)
{
	pthread_mutex_lock(&g_feeders_mu);
	struct feeder *f = g_feeders;
	while (f && f->obj != obj)
		f = f->next;
	if (!f && (f = calloc(1, sizeof *f))) {
		f->obj = obj;
		f->wfd = wfd;
		pthread_mutex_init(&f->mu, NULL);
		pthread_cond_init(&f->cv, NULL);
		if (pthread_create(&f->th, NULL, feeder_main, f) != 0) {
			free(f);
			f = NULL;
		} else {
			f->next = g_feeders;
			g_feeders = f;
		}
	}
	pthread_mutex_unlock(&g_feeders_mu);
	return f;
}

/* At a process's exit: waits until every feeder of this process has written its messages. */
static void feeders_flush(struct rthread *T)
{
	for (struct feeder *f = g_feeders; f; f = f->next) {
		pthread_mutex_lock(&f->mu);
		f->closing = true;
		pthread_cond_broadcast(&f->cv);
		int64_t left = f->pending, shown = left;
		if (left > 0) {
			rec_state(T, TS_WAIT, RR_FEEDER_FLUSH, f->obj, left);
			il_release(T);
		}
		/* while it blocks, the record says how much is left (again when it changed) */
		while (f->pending > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT &&
			    f->pending > 0 && f->pending != shown) {
				shown = f->pending;
				rec_state(T, TS_WAIT, RR_FEEDER_FLUSH, f->obj, shown);
			}
		}
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
		if (left > 0) {
			il_acquire(T);
			rec_state(T, TS_RUNNING, RR_SYNC_DONE, f->obj, 0);
		}
	}
}

static void feeders_forget(void)
{
	g_feeders = NULL; /* the parent's feeder threads do not exist in a forked child */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	g_feeders_mu = fresh;
}

static int q_read_raw(int fd, int64_t deadline, char **buf, size_t *len);

/* Reads one message from fd into *out, waiting until deadline (-1: none). Returns 1, 0 on
 * timeout, -1 on end of file or a bad message. The caller holds the reader lock. */
static int q_read(int fd, int64_t deadline, struct value *out)
{
	char *p;
	size_t len, pos = 0;
	int r = q_read_raw(fd, deadline, &p, &len);
	if (r <= 0)
		return r;
	bool ok = qb_decode(p, len, &pos, out, 0) && pos == len;
	free(p);
	return ok ? 1 : -1;
}

/* q.get([block[, timeout]]), conn.recv(). */
static void q_get_call(struct rthread *T, int idx, const struct vm_call *c, bool is_conn)
{
	struct real_sobj *o = &R->shm.objs[idx];
	const struct value *bv = c->argc > 0 ? &c->argv[0] : kwarg(c, "block");
	const struct value *tv = c->argc > 1 ? &c->argv[1] : kwarg(c, "timeout");
	bool block = is_conn || !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (!is_conn && !timeout_of(T, tv, &timeout))
		return;
	if (!block)
		timeout = 0;
	if (o->rfd < 0) {
		sys_raise(T, "OSError", "handle is closed");
		return;
	}
	int64_t deadline = deadline_of(timeout);
	/* record a wait only when nothing is there yet */
	struct pollfd pfd = {.fd = o->rfd, .events = POLLIN};
	bool waits = timeout != 0 && poll(&pfd, 1, 0) == 0;
	if (waits)
		rec_state(T, TS_WAIT, RR_QUEUE_GET, idx, 0);
	il_release(T);
	sobj_lock(o); /* the reader lock: one whole message per reader */
	struct value v = vm_none();
	int r = q_read(o->rfd, deadline, &v);
	sobj_unlock(o);
	il_acquire(T);
	if (waits)
		rec_state(T, TS_RUNNING, RR_SYNC_DONE, idx, r == 0);
	if (r == 0)
		sys_raise(T, "queue.Empty", "%s", "the queue is empty");
	else if (r < 0)
		sys_raise(T, is_conn ? "EOFError" : "OSError", "%s", is_conn ? "" :
			  "the queue's pipe was closed or a message was malformed");
	else
		vm_return(T->vm, v);
}

/* q.put(obj) (Queue: to the feeder; SimpleQueue: written here), conn.send(obj). */
static void q_put_call(struct rthread *T, int idx, const struct vm_call *c, bool direct)
{
	struct real_sobj *o = &R->shm.objs[idx];
	if (c->argc < 1) {
		sys_raise(T, "TypeError", "put() missing 1 required argument: 'obj'");
		return;
	}
	if (o->wfd < 0) {
		sys_raise(T, "OSError", "handle is closed");
		return;
	}
	struct qbuf b;
	if (!q_frame(T, c->argv[0], &b))
		return;
	if (!direct) {
		struct feeder *f = feeder_of(idx, o->wfd);
		struct fmsg *m = f ? calloc(1, sizeof *m) : NULL;
		if (!m) {
			free(b.p);
			sys_raise(T, "MemoryError", "out of memory");
			return;
		}
		m->p = b.p;
		m->n = b.n;
		pthread_mutex_lock(&f->mu);
		if (f->tail)
			f->tail->next = m;
		else
			f->head = m;
		f->tail = m;
		f->pending += (int64_t)b.n;
		pthread_cond_signal(&f->cv);
		pthread_mutex_unlock(&f->mu);
		vm_return(T->vm, vm_none());
		return;
	}
	/* written by the caller, blocking while the pipe is full; a message larger than the pipe
	 * is recorded as a wait */
	bool waits = b.n > 65536;
	if (waits)
		rec_state(T, TS_WAIT, RR_QUEUE_PUT, idx, (int64_t)b.n);
	il_release(T);
	bool ok = write_all(o->wfd, b.p, b.n);
	il_acquire(T);
	if (waits)
		rec_state(T, TS_RUNNING, RR_SYNC_DONE, idx, 0);
	free(b.p);
	if (!ok)
		sys_raise(T, "BrokenPipeError", "[Errno 32] Broken pipe");
	else
		vm_return(T->vm, vm_none());
}

/* Queue(), SimpleQueue(), Pipe([duplex]): returns false if cls is none of them. */
static bool ipc_new_real(struct rthread *T, const struct vm_call *c)
{
	const char *cls = c->name ? c->name : "";
	bool q = strcmp(cls, "Queue") == 0, sq = strcmp(cls, "SimpleQueue") == 0;
	if (q || sq) {
		int fds[2];
		if (pipe2(fds, O_CLOEXEC) < 0) {
			sys_raise(T, "OSError", "pipe: %s", strerror(errno));
			return true;
		}
		int i = sobj_make(T, H_QUEUE, c->target, cls);
		if (i < 0) {
			close(fds[0]);
			close(fds[1]);
			return true;
		}
		R->shm.objs[i].rfd = fds[0];
		R->shm.objs[i].wfd = fds[1];
		R->shm.objs[i].simple = sq;
		vm_return(T->vm, vm_handle(H_QUEUE, i));
		return true;
	}
	if (strcmp(cls, "Pipe") == 0) {
		const struct value *a0 = c->argc > 0 ? &c->argv[0] : kwarg(c, "duplex");
		bool duplex = !a0 || vm_truthy(*a0);
		int fa[2], fb[2] = {-1, -1};
		int r = duplex ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fa)
			       : pipe2(fa, O_CLOEXEC);
		if (r < 0) {
			sys_raise(T, "OSError", "Pipe: %s", strerror(errno));
			return true;
		}
		char n1[64], n2[64];
		snprintf(n1, sizeof n1, "%.40s[0]", c->target ? c->target : "pipe");
		snprintf(n2, sizeof n2, "%.40s[1]", c->target ? c->target : "pipe");
		int i1 = sobj_make(T, H_CONN, n1, "Connection");
		int i2 = i1 >= 0 ? sobj_make(T, H_CONN, n2, "Connection") : -1;
		if (i2 < 0) {
			close(fa[0]);
			close(fa[1]);
			return true;
		}
		(void)fb;
		if (duplex) {
			R->shm.objs[i1].rfd = R->shm.objs[i1].wfd = fa[0];
			R->shm.objs[i2].rfd = R->shm.objs[i2].wfd = fa[1];
		} else { /* Pipe(False): the first end receives, the second sends */
			R->shm.objs[i1].rfd = fa[0];
			R->shm.objs[i2].wfd = fa[1];
		}
		struct value ends[2] = {vm_handle(H_CONN, i1), vm_handle(H_CONN, i2)};
		vm_return(T->vm, vm_list(2, ends));
		return true;
	}
	return false;
}

static void ipc_method_real(struct rthread *T, struct real_sobj *o, int idx, const struct vm_call *c)
{
	const char *m = c->name;
	if (o->kind == H_QUEUE) {
		if (strcmp(m, "get") == 0) {
			q_get_call(T, idx, c, false);
			return;
		}
		if (strcmp(m, "get_nowait") == 0) {
			struct vm_call nc = *c;
			nc.argc = 1;
			nc.argv[0] = vm_bool(false);
			nc.kwc = 0;
			q_get_call(T, idx, &nc, false);
			return;
		}
		if (strcmp(m, "put") == 0 || strcmp(m, "put_nowait") == 0) {
			q_put_call(T, idx, c, o->simple);
			return;
		}
		if (strcmp(m, "empty") == 0) {
			struct pollfd pfd = {.fd = o->rfd, .events = POLLIN};
			vm_return(T->vm, vm_bool(o->rfd < 0 || poll(&pfd, 1, 0) <= 0));
			return;
		}
		if (strcmp(m, "close") == 0 || strcmp(m, "join_thread") == 0 ||
		    strcmp(m, "cancel_join_thread") == 0) {
			vm_return(T->vm, vm_none()); /* the feeder is flushed at the exit anyway */
			return;
		}
	} else if (o->kind == H_CONN) {
		if (strcmp(m, "send") == 0) {
			q_put_call(T, idx, c, true);
			return;
		}
		if (strcmp(m, "recv") == 0) {
			q_get_call(T, idx, c, true);
			return;
		}
		if (strcmp(m, "poll") == 0) {
			int64_t timeout = 0;
			const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
			if (tv && !timeout_of(T, tv, &timeout))
				return;
			struct pollfd pfd = {.fd = o->rfd, .events = POLLIN};
			il_release(T);
			int r = o->rfd < 0 ? 0 : poll(&pfd, 1, timeout < 0 ? -1 : (int)(timeout / 1000000));
			il_acquire(T);
			vm_return(T->vm, vm_bool(r > 0));
			return;
		}
		if (strcmp(m, "close") == 0) { /* closes this process's copy (the fds are per process) */
			vm_return(T->vm, vm_none());
			return;
		}
	}
	sys_raise(T, "AttributeError", "'%s' object has no attribute '%s'",
		  vm_handle_class((enum vm_handle_kind)o->kind), m);
}



/* ---- Pool: forked workers, a task pipe and a result pipe ----
 *
 * Pool(n) forks n daemon processes ForkPoolWorker-1..n (as CPython's fork context). A task is
 * a framed [job, function, args] written by the owner into the task pipe (None: the sentinel
 * close() sends each worker); a worker takes the task pipe's reader lock, reads one task, runs
 * the function in its own VM, and writes a framed result (8-byte job, 1-byte ok, the encoded
 * value or the error text) into the result pipe under the result writers' lock. The owner
 * reads results when it needs one (AsyncResult.get/wait/ready, map, join drains them while it
 * waits for the workers), instead of CPython's result-handler thread. */

struct rjob {
	bool done, ok;
	char *raw;   /* the encoded value, or the error text */
	size_t n;
};

struct rpool {                 /* the owner's (process-local) */
	struct rpool *next;
	int obj, n;
	bool closed, terminated;
	struct rchild **workers;
	struct rjob *jobs;
	int njobs, capjobs;
	pthread_mutex_t mu;        /* reading results */
};

static struct rpool *g_pools;

static struct rpool *pool_of(int obj)
{
	for (struct rpool *p = g_pools; p; p = p->next)
		if (p->obj == obj)
			return p;
	return NULL;
}

/* Reads one framed message into *buf (malloc'd, *len bytes). 1, 0 on timeout, -1 at EOF. */
static int q_read_raw(int fd, int64_t deadline, char **buf, size_t *len)
{
	for (;;) {
		int ms = -1;
		if (deadline >= 0) {
			int64_t left = deadline - real_mono_ns();
			ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return 0;
		if (r < 0)
			return -1;
		break;
	}
	unsigned char hdr[4];
	if (!read_all(fd, (char *)hdr, 4))
		return -1;
	size_t n = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];
	char *p = malloc(n + 1);
	if (!p)
		return -1;
	if (!read_all(fd, p, n)) {
		free(p);
		return -1;
	}
	*buf = p;
	*len = n;
	return 1;
}

static bool write_framed(int fd, const char *p, size_t n)
{
	unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
				(unsigned char)(n >> 8), (unsigned char)n};
	char *all = malloc(n + 4);
	if (!all)
		return false;
	memcpy(all, hdr, 4);
	memcpy(all + 4, p, n);
	bool ok = write_all(fd, all, n + 4);
	free(all);
	return ok;
}

/* In a worker (this process's main thread): runs tasks until the sentinel, then exits. */
static void worker_main(struct rproc *P, struct rthread *T, int obj) __attribute__((noreturn));
static void worker_main(struct rproc *P, struct rthread *T, int obj)
{
	struct real_sobj *o = &R->shm.objs[obj];
	struct real_sobj *wl = &R->shm.objs[o->wlock];
	for (;;) {
		rec_state(T, TS_WAIT, RR_POOL_TASK, obj, 0);
		il_release(T);
		sobj_lock(o);
		char *buf = NULL;
		size_t len = 0;
		int r = q_read_raw(o->rfd2, -1, &buf, &len);
		sobj_unlock(o);
		il_acquire(T);
		struct value v = vm_none();
		size_t pos = 0;
		bool ok = r > 0 && qb_decode(buf, len, &pos, &v, 0);
		free(buf);
		if (!ok || vm_seq_len(v) != 3) {
			vm_unref(v);
			rec_state(T, TS_RUNNING, RR_SYNC_DONE, obj, 0);
			break;
		}
		int64_t job = vm_seq_item(v, 0).u.i;
		struct value fn = vm_seq_item(v, 1), args = vm_seq_item(v, 2);
		int nargs = vm_seq_len(args);
		if (nargs > VM_MAX_ARGS)
			nargs = VM_MAX_ARGS;
		struct value argv[VM_MAX_ARGS];
		for (int i = 0; i < nargs; i++) {
			argv[i] = vm_seq_item(args, i);
			vm_ref(argv[i]);
		}
		vm_ref(fn);
		vm_unref(v);
		rec_state(T, TS_RUNNING, RR_POOL_RUN, obj, job);
		T->vm = vm_thread_create_call(P->vm, fn, nargs, argv);
		if (!T->vm)
			_exit(1);
		T->task_mode = true;
		T->task_err[0] = 0;
		thread_loop(P, T);
		T->task_mode = false;
		struct qbuf b;
		memset(&b, 0, sizeof b);
		qb_put(&b, &job, 8);
		char okc = T->task_err[0] == 0;
		if (okc) {
			qb_put(&b, &okc, 1);
			qb_encode(&b, vm_thread_result(T->vm), 0);
			if (b.bad) {
				b.n = 8;
				b.bad = false;
				okc = 0;
				snprintf(T->task_err, sizeof T->task_err, "TypeError: %s", b.why);
			}
		}
		if (!okc) {
			qb_put(&b, &okc, 1);
			qb_put(&b, T->task_err, strlen(T->task_err));
		}
		vm_thread_destroy(T->vm);
		T->vm = NULL;
		il_release(T);
		sobj_lock(wl);
		write_framed(o->wfd2, b.p, b.n);
		sobj_unlock(wl);
		il_acquire(T);
		free(b.p);
	}
	P->exitcode = 0;
	proc_exit(P, T);
}

/* Reads results until job is done or the deadline passes (interpreter lock released). */
static bool pool_wait_job(struct rthread *T, struct rpool *pl, int job, int64_t deadline)
{
	struct real_sobj *o = &R->shm.objs[pl->obj];
	bool waits = false;
	for (;;) {
		pthread_mutex_lock(&pl->mu);
		if (pl->jobs[job].done) {
			pthread_mutex_unlock(&pl->mu);
			break;
		}
		if (!waits) {
			waits = true;
			pthread_mutex_unlock(&pl->mu);
			rec_state(T, TS_WAIT, RR_QUEUE_GET, pl->obj, 0);
			il_release(T);
			continue;
		}
		char *buf = NULL;
		size_t len = 0;
		int r = q_read_raw(o->rfd, deadline, &buf, &len);
		if (r > 0 && len >= 9) {
			int64_t j;
			memcpy(&j, buf, 8);
			if (j >= 0 && j < pl->njobs && !pl->jobs[j].done) {
				struct rjob *rj = &pl->jobs[j];
				rj->ok = buf[8] != 0;
				rj->n = len - 9;
				rj->raw = malloc(rj->n + 1);
				if (rj->raw) {
					memcpy(rj->raw, buf + 9, rj->n);
					rj->raw[rj->n] = 0;
				}
				rj->done = true;
			}
		}
		free(buf);
		pthread_mutex_unlock(&pl->mu);
		if (r <= 0)
			break;
	}
	if (waits) {
		il_acquire(T);
		rec_state(T, TS_RUNNING, RR_SYNC_DONE, pl->obj, !pl->jobs[job].done);
	}
	return pl->jobs[job].done;
}

/* The value of a done job (a new reference), or false after raising its error. */
static bool job_value(struct rthread *T, struct rpool *pl, int job, struct value *out)
{
	struct rjob *rj = &pl->jobs[job];
	if (!rj->raw) {
		sys_raise(T, "MemoryError", "out of memory");
		return false;
	}
	if (!rj->ok) {
		const char *text = rj->raw, *colon = strstr(text, ": ");
		char type[64] = "Exception";
		/* "file:line:col: Type: message" or "Type: message": re-raise Type */
		const char *p = text;
		for (const char *q = text; (q = strstr(q, ": ")) != NULL; q += 2) {
			size_t k = (size_t)(q - p);
			bool ident = k > 0 && k < sizeof type;
			for (size_t i = 0; ident && i < k; i++)
				ident = p[i] == '_' || p[i] == '.' || (p[i] >= 'A' && p[i] <= 'Z') ||
					(p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9');
			if (ident && p[0] >= 'A' && p[0] <= 'Z') {
				memcpy(type, p, k);
				type[k] = 0;
				colon = q;
				break;
			}
			p = q + 2;
		}
		sys_raise(T, type, "%s", colon ? colon + 2 : text);
		return false;
	}
	size_t pos = 0;
	if (!qb_decode(rj->raw, rj->n, &pos, out, 0)) {
		sys_raise(T, "RuntimeError", "a malformed result came back from the pool");
		return false;
	}
	return true;
}

static int pool_submit(struct rthread *T, struct rpool *pl, struct value fn, struct value args)
{
	if (pl->closed) {
		sys_raise(T, "ValueError", "Pool not running");
		return -1;
	}
	if (pl->njobs == pl->capjobs) {
		int cap = pl->capjobs ? pl->capjobs * 2 : 16;
		struct rjob *v = realloc(pl->jobs, (size_t)cap * sizeof *v);
		if (!v) {
			sys_raise(T, "MemoryError", "out of memory");
			return -1;
		}
		pl->jobs = v;
		pl->capjobs = cap;
	}
	int job = pl->njobs;
	struct value items[3] = {vm_int(job), fn, args};
	struct value task = vm_list(3, items); /* takes the references: give it some */
	vm_ref(fn);
	vm_ref(args);
	struct qbuf b;
	bool ok = q_frame(T, task, &b);
	vm_unref(task);
	if (!ok)
		return -1;
	pl->jobs[job] = (struct rjob){0};
	pl->njobs++;
	il_release(T);
	ok = write_all(R->shm.objs[pl->obj].wfd, b.p, b.n);
	il_acquire(T);
	free(b.p);
	if (!ok) {
		sys_raise(T, "OSError", "the pool's task pipe is closed");
		return -1;
	}
	return job;
}

static void pool_new(struct rproc **Pp, struct rthread **Tp, const struct vm_call *c)
{
	struct rproc *P = *Pp;
	struct rthread *T = *Tp;
	const struct value *a0 = c->argc > 0 ? &c->argv[0] : kwarg(c, "processes");
	int64_t n = R->ncores;
	if (a0 && a0->type != V_NONE) {
		if (a0->type != V_INT) {
			sys_raise(T, "TypeError", "processes must be an integer");
			return;
		}
		n = a0->u.i;
	}
	if (n < 1 || n > 64) {
		sys_raise(T, "ValueError", "Number of processes must be at least 1 (at most 64 here)");
		return;
	}
	if (kwarg(c, "initializer")) {
		sys_raise(T, "NotImplementedError", "the real runner cannot run a pool initializer yet");
		return;
	}
	int tp[2], rp[2];
	if (pipe2(tp, O_CLOEXEC) < 0) {
		sys_raise(T, "OSError", "pipe: %s", strerror(errno));
		return;
	}
	if (pipe2(rp, O_CLOEXEC) < 0) {
		close(tp[0]);
		close(tp[1]);
		sys_raise(T, "OSError", "pipe: %s", strerror(errno));
		return;
	}
	int obj = sobj_make(T, H_POOL, c->target, "Pool");
	struct rpool *pl = obj >= 0 ? calloc(1, sizeof *pl) : NULL;
	if (pl)
		pl->workers = calloc((size_t)n, sizeof *pl->workers);
	if (!pl || !pl->workers) {
		if (pl)
			free(pl);
		for (int i = 0; i < 2; i++)
			close(tp[i]), close(rp[i]);
		if (obj >= 0)
			sys_raise(T, "MemoryError", "out of memory");
		return;
	}
	struct real_sobj *o = &R->shm.objs[obj];
	o->wfd = tp[1];
	o->rfd2 = tp[0];
	o->rfd = rp[0];
	o->wfd2 = rp[1];
	o->n = (int32_t)n;
	char wname[64];
	snprintf(wname, sizeof wname, "%.40s.results", o->name);
	o->wlock = real_shm_new_obj(&R->shm, H_LOCK, wname);
	if (o->wlock < 0) {
		free(pl->workers);
		free(pl);
		sys_raise(T, "RuntimeError", "too many objects");
		return;
	}
	pl->obj = obj;
	pl->n = (int)n;
	pthread_mutex_init(&pl->mu, NULL);
	pl->next = g_pools;
	g_pools = pl;
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&P->lock);
		struct rchild *ch = child_add(P);
		pthread_mutex_unlock(&P->lock);
		if (!ch) {
			sys_raise(T, "MemoryError", "out of memory");
			return;
		}
		snprintf(ch->name, sizeof ch->name, "ForkPoolWorker-%d", i + 1);
		ch->daemon = true;
		ch->pool = obj + 1;
		do_fork(Pp, Tp, ch);
		if (*Pp != P)
			worker_main(*Pp, *Tp, obj);
		if (!ch->started)
			return; /* do_fork raised */
		pl->workers[i] = ch;
	}
	vm_return(T->vm, vm_handle(H_POOL, obj));
}

static int64_t async_id(int obj, int job)
{
	return ((int64_t)obj << 24) | job;
}

static void pool_method(struct rproc *P, struct rthread *T, const struct vm_call *c)
{
	const char *m = c->name;
	if (c->self.aux == H_ASYNC) {
		struct rpool *pl = pool_of((int)(c->self.u.i >> 24));
		int job = (int)(c->self.u.i & 0xFFFFFF);
		if (!pl || job >= pl->njobs) {
			sys_raise(T, "RuntimeError", "an AsyncResult of another process");
			return;
		}
		bool get = strcmp(m, "get") == 0, wait = strcmp(m, "wait") == 0;
		if (get || wait) {
			const struct value *tv = c->argc > 0 ? &c->argv[0] : kwarg(c, "timeout");
			int64_t timeout = -1;
			if (!timeout_of(T, tv, &timeout))
				return;
			bool done = pool_wait_job(T, pl, job, deadline_of(timeout));
			struct value v;
			if (wait)
				vm_return(T->vm, vm_none());
			else if (!done)
				sys_raise(T, "multiprocessing.TimeoutError", "%s", "");
			else if (job_value(T, pl, job, &v))
				vm_return(T->vm, v);
			return;
		}
		if (strcmp(m, "ready") == 0 || strcmp(m, "successful") == 0) {
			bool done = pool_wait_job(T, pl, job, real_mono_ns());
			if (m[0] == 's' && !done)
				sys_raise(T, "ValueError", "%s", "result is not ready");
			else
				vm_return(T->vm, vm_bool(m[0] == 'r' ? done : pl->jobs[job].ok));
			return;
		}
		sys_raise(T, "AttributeError", "'AsyncResult' object has no attribute '%s'", m);
		return;
	}
	int obj = (int)c->self.u.i;
	struct rpool *pl = pool_of(obj);
	if (!pl) {
		sys_raise(T, "RuntimeError", "a Pool of another process");
		return;
	}
	if (strcmp(m, "__enter__") == 0) {
		vm_return(T->vm, c->self);
		return;
	}
	if (strcmp(m, "apply_async") == 0 || strcmp(m, "apply") == 0) {
		if (c->argc < 1) {
			sys_raise(T, "TypeError", "apply_async() missing 1 required argument: 'func'");
			return;
		}
		const struct value *args = c->argc > 1 ? &c->argv[1] : kwarg(c, "args");
		struct value none_args = vm_list(0, NULL);
		if (args && vm_seq_len(*args) < 0) {
			vm_unref(none_args);
			sys_raise(T, "TypeError", "args must be a tuple");
			return;
		}
		int job = pool_submit(T, pl, c->argv[0], args ? *args : none_args);
		vm_unref(none_args);
		if (job < 0)
			return;
		if (m[5] == '_') {
			vm_return(T->vm, vm_handle(H_ASYNC, async_id(obj, job)));
			return;
		}
		struct value v;
		pool_wait_job(T, pl, job, -1);
		if (job_value(T, pl, job, &v))
			vm_return(T->vm, v);
		return;
	}
	if (strcmp(m, "map") == 0 || strcmp(m, "starmap") == 0) {
		if (c->argc < 2 || vm_seq_len(c->argv[1]) < 0) {
			sys_raise(T, "TypeError", "%s() needs a function and a sequence", m);
			return;
		}
		int n = vm_seq_len(c->argv[1]), first = pl->njobs;
		for (int i = 0; i < n; i++) {
			struct value item = vm_seq_item(c->argv[1], i), args;
			if (m[0] == 's') {
				args = item;
				vm_ref(args);
			} else {
				vm_ref(item);
				args = vm_list(1, &item);
			}
			int job = pool_submit(T, pl, c->argv[0], args);
			vm_unref(args);
			if (job < 0)
				return;
		}
		struct value *items = calloc((size_t)n + 1, sizeof *items);
		if (!items) {
			sys_raise(T, "MemoryError", "out of memory");
			return;
		}
		for (int i = 0; i < n; i++) {
			pool_wait_job(T, pl, first + i, -1);
			if (!job_value(T, pl, first + i, &items[i])) {
				for (int k = 0; k < i; k++)
					vm_unref(items[k]);
				free(items);
				return;
			}
		}
		vm_return(T->vm, vm_list(n, items));
		free(items);
		return;
	}
	if (strcmp(m, "close") == 0) {
		if (!pl->closed) {
			pl->closed = true;
			struct qbuf b;
			if (!q_frame(T, vm_none(), &b))
				return;
			il_release(T);
			for (int i = 0; i < pl->n; i++)
				write_all(R->shm.objs[obj].wfd, b.p, b.n);
			il_acquire(T);
			free(b.p);
		}
		vm_return(T->vm, vm_none());
		return;
	}
	if (strcmp(m, "terminate") == 0 || strcmp(m, "__exit__") == 0) {
		pl->closed = pl->terminated = true;
		for (int i = 0; i < pl->n; i++) {
			struct rchild *ch = pl->workers[i];
			if (!ch || child_try_reap(P, ch))
				continue;
			R->shm.procs[ch->pslot].terminated = 1;
			kill(ch->pid, SIGTERM);
		}
		il_release(T);
		for (int i = 0; i < pl->n; i++)
			if (pl->workers[i])
				child_wait(P, pl->workers[i], -1);
		il_acquire(T);
		vm_return(T->vm, vm_none());
		return;
	}
	if (strcmp(m, "join") == 0) {
		if (!pl->closed) {
			sys_raise(T, "ValueError", "Pool is still running");
			return;
		}
		/* waits for each worker; reads results meanwhile so that no worker blocks on a full
		 * result pipe */
		for (int i = 0; i < pl->n; i++) {
			struct rchild *ch = pl->workers[i];
			if (!ch || child_try_reap(P, ch))
				continue;
			rec_state(T, TS_JOIN, RR_JOIN_PROC, ch->pslot, -1);
			il_release(T);
			while (!child_wait(P, ch, real_mono_ns() + 2000000)) {
				pthread_mutex_lock(&pl->mu);
				char *buf = NULL;
				size_t len = 0;
				struct real_sobj *o = &R->shm.objs[obj];
				struct pollfd pfd = {.fd = o->rfd, .events = POLLIN};
				if (poll(&pfd, 1, 0) > 0 && q_read_raw(o->rfd, -1, &buf, &len) > 0 &&
				    len >= 9) {
					int64_t j;
					memcpy(&j, buf, 8);
					if (j >= 0 && j < pl->njobs && !pl->jobs[j].done) {
						struct rjob *rj = &pl->jobs[j];
						rj->ok = buf[8] != 0;
						rj->n = len - 9;
						if ((rj->raw = malloc(rj->n + 1))) {
							memcpy(rj->raw, buf + 9, rj->n);
							rj->raw[rj->n] = 0;
						}
						rj->done = true;
					}
				}
				free(buf);
				pthread_mutex_unlock(&pl->mu);
			}
			il_acquire(T);
			rec_state(T, TS_RUNNING, RR_JOIN_DONE, ch->pslot, 0);
		}
		vm_return(T->vm, vm_none());
		return;
	}
	sys_raise(T, "AttributeError", "'Pool' object has no attribute '%s'", m);
}

static void sobj_method(struct rthread *T, const struct vm_call *c)
{
	struct real_sobj *o = sobj_at(c->self);
	const char *m = c->name;
	if (!o || o->kind != c->self.aux) {
		sys_raise(T, "RuntimeError", "not an object of this run");
		return;
	}
	int idx = (int)c->self.u.i;
	bool enter = strcmp(m, "__enter__") == 0, exit_ = strcmp(m, "__exit__") == 0;
	bool acq = enter || strcmp(m, "acquire") == 0, rel = exit_ || strcmp(m, "release") == 0;
	switch (o->kind) {
	case H_LOCK:
	case H_RLOCK:
		if (acq) {
			lock_acquire_call(T, idx, c, enter);
			return;
		}
		if (rel) {
			lock_release_call(T, idx);
			return;
		}
		if (strcmp(m, "locked") == 0) {
			sobj_lock(o);
			bool l = o->owner >= 0;
			sobj_unlock(o);
			vm_return(T->vm, vm_bool(l));
			return;
		}
		break;
	case H_SEMAPHORE:
		if (acq) {
			sem_acquire_call(T, idx, c, enter);
			return;
		}
		if (rel) {
			sem_release_call(T, idx, c, exit_);
			return;
		}
		break;
	case H_CONDITION:
		if (acq) {
			lock_acquire_call(T, o->lock, c, enter);
			return;
		}
		if (rel) {
			lock_release_call(T, o->lock);
			return;
		}
		if (strcmp(m, "wait") == 0) {
			cond_wait_call(T, idx, c);
			return;
		}
		if (strcmp(m, "notify") == 0 || strcmp(m, "notify_all") == 0 ||
		    strcmp(m, "notifyAll") == 0) {
			cond_notify_call(T, idx, c, strcmp(m, "notify") != 0);
			return;
		}
		if (strcmp(m, "wait_for") == 0) {
			sys_raise(T, "NotImplementedError", "the real runner cannot execute "
				  "Condition.wait_for() yet: write `while not pred(): cond.wait()`");
			return;
		}
		break;
	case H_EVENT:
		if (strcmp(m, "set") == 0 || strcmp(m, "clear") == 0) {
			sobj_lock(o);
			o->flag = m[0] == 's';
			if (o->flag)
				pthread_cond_broadcast(&o->cv);
			sobj_unlock(o);
			vm_return(T->vm, vm_none());
			return;
		}
		if (strcmp(m, "is_set") == 0 || strcmp(m, "isSet") == 0) {
			sobj_lock(o);
			bool f = o->flag;
			sobj_unlock(o);
			vm_return(T->vm, vm_bool(f));
			return;
		}
		if (strcmp(m, "wait") == 0) {
			event_wait_call(T, idx, c);
			return;
		}
		break;
	case H_BARRIER:
		if (strcmp(m, "wait") == 0) {
			barrier_wait_call(T, idx, c);
			return;
		}
		if (strcmp(m, "abort") == 0 || strcmp(m, "reset") == 0) {
			barrier_break(o, m[0] == 'r');
			vm_return(T->vm, vm_none());
			return;
		}
		break;
	case H_QUEUE:
	case H_CONN:
		ipc_method_real(T, o, idx, c);
		return;
	case H_VALUE:
	case H_ARRAY:
		if (strcmp(m, "get_lock") == 0 || acq || rel) {
			if (o->lock < 0) {
				sys_raise(T, "AttributeError", "'%s' object has no attribute '%s' (made "
					  "with lock=False)", o->kind == H_VALUE ? "Value" : "Array", m);
				return;
			}
			if (acq)
				lock_acquire_call(T, o->lock, c, enter);
			else if (rel)
				lock_release_call(T, o->lock);
			else
				vm_return(T->vm, vm_handle(H_RLOCK, o->lock));
			return;
		}
		if (o->kind != H_ARRAY)
			break;
		if (strcmp(m, "__len__") == 0) {
			vm_return(T->vm, vm_int(o->n));
			return;
		}
		if (strcmp(m, "tolist") == 0 || (strcmp(m, "__getitem__") == 0 && c->argc == 3)) {
			struct value *items = calloc((size_t)o->n + 1, sizeof *items);
			if (!items) {
				sys_raise(T, "MemoryError", "out of memory");
				return;
			}
			for (int k = 0; k < o->n; k++)
				items[k] = elem_load(o, k);
			struct value all = vm_list(o->n, items), out;
			free(items);
			if (m[0] == 't') {
				vm_return(T->vm, all);
				return;
			}
			char err[256];
			bool ok = vm_slice_of(all, c->argv[0], c->argv[1], c->argv[2], &out, err,
					      sizeof err);
			vm_unref(all);
			if (!ok)
				sys_raise(T, "TypeError", "%s", err);
			else
				vm_return(T->vm, out);
			return;
		}
		if (strcmp(m, "__getitem__") == 0 || strcmp(m, "__setitem__") == 0) {
			if (c->argc < 1 || c->argv[0].type != V_INT) {
				sys_raise(T, "TypeError", "array indices must be integers");
				return;
			}
			int64_t k = c->argv[0].u.i;
			if (k < 0)
				k += o->n;
			if (k < 0 || k >= o->n) {
				sys_raise(T, "IndexError", "invalid index");
				return;
			}
			if (m[2] == 'g')
				vm_return(T->vm, elem_load(o, k));
			else if (elem_store(T, o, k, c->argc > 1 ? c->argv[1] : vm_none()))
				vm_return(T->vm, vm_none());
			return;
		}
		break;
	default:
		break;
	}
	sys_raise(T, "AttributeError", "'%s' object has no attribute '%s'",
		  vm_handle_class((enum vm_handle_kind)o->kind), m);
}

static void sobj_getattr(struct rthread *T, const struct vm_call *c)
{
	struct real_sobj *o = sobj_at(c->self);
	const char *a = c->name;
	if (o && o->kind == H_VALUE && strcmp(a, "value") == 0) {
		vm_return(T->vm, elem_load(o, 0));
		return;
	}
	if (o && o->kind == H_BARRIER) {
		sobj_lock(o);
		int parties = o->parties, arrived = o->arrived, broken = o->broken;
		sobj_unlock(o);
		if (strcmp(a, "parties") == 0) {
			vm_return(T->vm, vm_int(parties));
			return;
		}
		if (strcmp(a, "n_waiting") == 0) {
			vm_return(T->vm, vm_int(arrived));
			return;
		}
		if (strcmp(a, "broken") == 0) {
			vm_return(T->vm, vm_bool(broken));
			return;
		}
	}
	sys_raise(T, "AttributeError", "'%s' object has no attribute '%s'",
		  vm_handle_class((enum vm_handle_kind)c->self.aux), a);
}

static void sobj_setattr(struct rthread *T, const struct vm_call *c)
{
	struct real_sobj *o = sobj_at(c->self);
	if (o && o->kind == H_VALUE && strcmp(c->name, "value") == 0 && c->argc > 0) {
		if (elem_store(T, o, 0, c->argv[0]))
			vm_return(T->vm, vm_none());
		return;
	}
	sys_raise(T, "AttributeError", "'%s' object attribute '%s' is read-only",
		  vm_handle_class((enum vm_handle_kind)c->self.aux), c->name);
}

static void syscall_answer(struct rproc **Pp, struct rthread **Tp, const struct vm_call *c)
{
	struct rproc *P = *Pp;
	struct rthread *T = *Tp;
	T->line = c->line;
	switch (c->sys) {
	case SYS_PRINT: {
		size_t len = 0;
		const char *s = c->argc > 0 ? vm_str_data(c->argv[0], &len) : "";
		int64_t off = real_shm_text(&R->shm, s ? s : "", s ? len : 0);
		rec_full(T, T->slot, RK_PRINT, 0, 0, -1, off, T->line, -1);
		vm_return(T->vm, vm_none());
		return;
	}
	case SYS_COMPUTE:
		do_compute(P, T, dur_arg(c));
		vm_return(T->vm, vm_none());
		return;
	case SYS_IO:
	case SYS_SLEEP:
		do_block(T, c->sys == SYS_IO ? TS_IO : TS_SLEEP, c->sys == SYS_IO ? RR_IO : RR_SLEEP,
			 dur_arg(c));
		vm_return(T->vm, vm_none());
		return;
	case SYS_FORK:
		do_fork(Pp, Tp, NULL);
		return;
	case SYS_GETPID:
		vm_return(T->vm, vm_int(P->pid));
		return;
	case SYS_GETPPID:
		vm_return(T->vm, vm_int(P->ppid));
		return;
	case SYS_GETTID:
		vm_return(T->vm, vm_int(R->shm.threads[T->slot].tid));
		return;
	case SYS_THREAD_NAME:
		vm_return(T->vm, vm_str(T->name, strlen(T->name)));
		return;
	case SYS_NOW:
	case SYS_ELAPSED: /* every process of a real run starts at its own fork: see docs */
		vm_return(T->vm, vm_dur(rel_now()));
		return;
	case SYS_TIME:
		vm_return(T->vm, vm_float((double)rel_now() / 1e9));
		return;
	case SYS_CPU_COUNT:
		vm_return(T->vm, vm_int(R->ncores));
		return;
	case SYS_ACTIVE_CHILDREN: {
		struct value items[256];
		int n = 0;
		for (int i = 0; i < P->nchildren && n < 256; i++) {
			struct rchild *ch = P->children[i];
			if (ch->started && !child_try_reap(P, ch) &&
			    atomic_load(&R->shm.procs[ch->pslot].state) == PS_RUNNING)
				items[n++] = vm_handle(H_PROCESS, handle_id(P, i));
		}
		vm_return(T->vm, vm_list(n, items));
		return;
	}
	case SYS_CURRENT_THREAD:
		vm_return(T->vm, vm_handle(H_THREAD, handle_id(P, T->idx)));
		return;
	case SYS_CURRENT_PROCESS:
		vm_return(T->vm, vm_handle(H_PROCESS, handle_id(P, HANDLE_SELF)));
		return;
	case SYS_PROCESS_NEW:
	case SYS_THREAD_NEW:
		sys_new(P, T, c, c->sys == SYS_PROCESS_NEW);
		return;
	case SYS_METHOD:
		if (c->self.aux == H_POOL || c->self.aux == H_ASYNC)
			pool_method(P, T, c);
		else if (is_sobj_kind(c->self.aux))
			sobj_method(T, c);
		else
			sys_method(Pp, Tp, c);
		return;
	case SYS_GETATTR:
		if (is_sobj_kind(c->self.aux))
			sobj_getattr(T, c);
		else
			sys_getattr(P, T, c);
		return;
	case SYS_SETATTR:
		if (is_sobj_kind(c->self.aux))
			sobj_setattr(T, c);
		else
			sys_setattr(P, T, c);
		return;
	case SYS_NEW:
		if (c->name && strcmp(c->name, "Pool") == 0)
			pool_new(Pp, Tp, c);
		else
			sys_obj_new(T, c);
		return;
	case SYS_QUERY:
	default:
		sys_raise(T, "NameError", "name '%s' is only defined in expect lines",
			  c->name ? c->name : "?");
		return;
	}
}

static void note_line(struct rthread *T)
{
	int line = vm_thread_line(T->vm);
	if (line > 0)
		T->line = line;
}

/* --gil none, the interpreter lock held exclusively: if T's next BARE_PROBE instructions run
 * bare, runs T's code on with the lock shared (in parallel with the process's other bare
 * threads) until an instruction needs vm_run; returns with the lock exclusive again. While a
 * thread waits to take it exclusively, bare runs pause at their next call or backward jump and
 * stand back (the lock prefers writers). A move to another core is recorded at each pause, as
 * compute()'s loop does: without it the trace would see two interpreting threads on the core
 * where they last made a record, one displacing the other. */
static bool bare_stretch(struct rproc *P, struct rthread *T)
{
	struct ilock *g = &P->il;
	if (vm_run_bare(T->vm, BARE_PROBE, NULL, P->lost) != VM_BARE_PAUSE)
		return false;
	il_release(T);
	il_take(T, false);
	int cpu = sched_getcpu();
	while (vm_run_bare(T->vm, BARE_SLICE, &g->excl_waiting, P->lost) == VM_BARE_PAUSE) {
		note_line(T);
		if (sched_getcpu() != cpu) {
			rec_state(T, TS_RUNNING, RR_MIGRATED, -1, 0);
			cpu = sched_getcpu();
		}
		if (atomic_load_explicit(&g->excl_waiting, memory_order_relaxed)) {
			pthread_rwlock_unlock(&g->rw);
			il_take(T, false);
		}
	}
	note_line(T);
	pthread_rwlock_unlock(&g->rw);
	il_acquire(T);
	return true;
}

/* Interprets T until its code ends. Holds the interpreter lock except while waiting (and,
 * --gil none, shared during bare stretches). Returns when a non-main thread ends; a process's
 * main thread ends the process (_exit). */
static void thread_loop(struct rproc *P, struct rthread *T)
{
	const bool bare = !P->il.py3;
	uint64_t locked = 0; /* instructions of vm_run since the others were last let in */
	int misses = 0;      /* bare probes in a row that did not go shared */
	for (;;) {
		struct vm_call call;
		int64_t cost = 0;
		if (bare && misses < BARE_MISSES) {
			misses = bare_stretch(P, T) ? 0 : misses + 1;
			/* the eval breaker (at calls and backward jumps) is due at once: vm_run runs
			 * the instructions that need the lock up to the next of them, then the bare
			 * path can take over again */
			cost = 1;
		} else {
			misses = 0; /* cost 0: a whole slice, or up to the next system call */
		}
		vm_thread_take_instructions(T->vm);
		enum vm_status st = vm_run(T->vm, &call, &cost);
		note_line(T);
		switch (st) {
		case VM_SYSCALL:
			syscall_answer(&P, &T, &call);
			continue;
		case VM_YIELD:
			/* a long stretch of pure interpretation: let the others in, and (py3) honour a
			 * drop request as the eval breaker would */
			if (P->il.py3 && atomic_load(&P->il.drop_request)) {
				rec_state(T, TS_GIL, RR_GIL_DROP, -1, 0);
				gil_drop(T, true);
				gil_take(T, false);
				rec_state(T, TS_RUNNING, RR_GIL_TAKEN, -1, 0);
			} else if (!P->il.py3 &&
				   (locked += vm_thread_take_instructions(T->vm)) >= LOCKED_SLICE) {
				locked = 0;
				il_release(T);
				sched_yield();
				il_acquire(T);
			}
			continue;
		case VM_EXIT:
			if (T->task_mode)
				return;
			thread_end(P, T, false);
			return;
		case VM_ERROR: {
			char text[2048], full[2300];
			int code;
			const char *exit_text;
			if (!T->task_mode && vm_system_exit(vm_thread_error(T->vm), &code, &exit_text)) {
				/* sys.exit(): quietly; a main thread's code is its process's */
				if (T->is_main)
					P->exitcode = code;
				thread_end(P, T, false);
				return;
			}
			diag_format(vm_thread_error(T->vm), text, sizeof text);
			if (T->task_mode) { /* re-raised by the owner's get() */
				size_t k = strnlen(text, sizeof T->task_err - 1);
				memcpy(T->task_err, text[0] ? text : "Exception", text[0] ? k : 10);
				T->task_err[text[0] ? k : 9] = 0;
				return;
			}
			snprintf(full, sizeof full, "Exception in %s (pid %d): %s", T->name, P->pid, text);
			int64_t off = real_shm_text(&R->shm, full, strlen(full));
			rec_full(T, T->slot, RK_MARK, 0, RR_EXCEPTION, -1, off, T->line, -1);
			thread_end(P, T, true);
			return;
		}
		}
	}
}

/* ---- the main process's results ---- */

static struct real_merge_in merge_in(enum real_stop stop, int64_t stop_t, int sig)
{
	return (struct real_merge_in){.shm = &R->shm, .ncores = R->ncores, .cpu_core = R->cpu_core,
				      .ncpu = CPU_SETSIZE, .source_name = R->source_name,
				      .max_recs = R->opt.max_records, .stop = stop, .stop_t = stop_t,
				      .signal = sig, .timeout = R->opt.timeout,
				      .switch_interval = R->opt.switch_interval};
}

static int64_t text_of(const char *s)
{
	return real_shm_text(&R->shm, s, strlen(s));
}

static void collect_var(void *ctx, const char *name, const char *repr)
{
	struct real_hdr *h = ctx;
	if (h->nvars >= REAL_MAX_RESULTS)
		return;
	h->vars[h->nvars++] = (struct real_result){.a = text_of(name), .b = text_of(repr)};
}

/* MainProcess, after its own end: waits until the supervisor says every process has ended,
 * merges the records itself and checks the expectations against its own final variables,
 * which live only here; the supervisor copies the results into its trace. */
static void results_write(struct rproc *P)
{
	char b;
	ssize_t n;
	do
		n = read(R->go_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return;
	struct real_hdr *h = R->shm.hdr;
	struct real_merge_in in = merge_in(STOP_COMPLETED, 0, 0);
	struct trace *tr = real_merge(&in);
	if (!tr)
		return;
	vm_proc_foreach_global(P->vm, collect_var, h);
	if (P->lost) { /* --gil none: races seen as updates lost by bare stores (docs/real.md);
			* the lock held exclusively orders every bare store before this */
		tr->races_checked = true;
		for (int i = 0; i < vm_bare_nglobals(R->prog); i++)
			if (P->lost[i])
				trace_add_race(tr, vm_bare_global_name(R->prog, i), -1, true, 0, -1,
					       true, 0);
	}
	expect_check(tr, R->prog, P->vm);
	for (int i = 0; i < tr->nexpects && h->nexpects < REAL_MAX_RESULTS; i++) {
		const struct trace_expect *x = &tr->expects[i];
		h->expects[h->nexpects++] = (struct real_result){
			.a = text_of(trace_str(tr, x->text)), .b = text_of(trace_str(tr, x->detail)),
			.line = x->line, .ok = x->ok};
	}
	atomic_store(&h->results_ready, 1);
	trace_destroy(tr);
}

/* ---- the supervisor ---- */

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
	g_signal = sig;
}

static void on_parent_death(int sig)
{
	(void)sig;
	kill(0, SIGKILL); /* our own process group: the whole run */
}

void real_options_default(struct real_options *o)
{
	*o = (struct real_options){.cores = 0, .policy = -1, .gil = REAL_GIL_NONE,
				   .switch_interval = 5000000, .timeout = 60000000000LL,
				   .until = -1, .seed = 1, .max_records = 0};
}

int real_cores_available(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return (int)sysconf(_SC_NPROCESSORS_ONLN);
	return CPU_COUNT(&set);
}

/* MainProcess: set up the machine, then run the program's top level. Never returns. */
static void main_process(int go_fd) __attribute__((noreturn));

static void main_process(int go_fd)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGHUP, &dfl, NULL);
	struct sigaction pd = {.sa_handler = on_parent_death};
	sigaction(SIGUSR2, &pd, NULL);
	pid_t parent = getppid();
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() != parent)
		kill(0, SIGKILL);
	R->go_fd = go_fd;
	struct real_hdr *h = R->shm.hdr;
	sched_setaffinity(0, sizeof R->cpus, &R->cpus);
	if (R->opt.policy >= 0) {
		int pol = R->opt.policy == POLICY_FIFO ? SCHED_FIFO : SCHED_RR;
		struct sched_param sp = {.sched_priority = 1};
		if (sched_setscheduler(0, pol, &sp) < 0) {
			h->policy_errno = errno;
			atomic_store(&h->policy_denied, 1);
		}
	}
	int pslot = real_shm_new_proc(&R->shm);
	int tslot = real_shm_new_thread(&R->shm, pslot, "MainThread");
	struct rproc *P = proc_create(pslot, "MainProcess");
	struct rthread *T = P ? thread_add(P, "MainThread") : NULL;
	if (!P || !T || pslot < 0 || tslot < 0)
		_exit(1);
	P->top = true;
	P->pid = getpid();
	P->ppid = parent;
	struct real_pslot *ps = &R->shm.procs[pslot];
	snprintf(ps->name, sizeof ps->name, "MainProcess");
	ps->pid = P->pid;
	ps->ppid = parent;
	ps->main_slot = tslot;
	R->shm.threads[tslot].tid = P->pid;
	T->slot = tslot;
	T->is_main = true;
	T->started = true;
	vm_program_set_instr_cost(R->prog, 0);
	vm_program_set_handle_repr(R->prog, handle_repr, P);
	P->vm = vm_proc_create(R->prog, R->opt.seed);
	T->vm = P->vm ? vm_thread_create_main(P->vm) : NULL;
	if (!T->vm)
		_exit(1);
	proc_vm_setup(P);
	h->t0 = real_mono_ns();
	rec_full(T, tslot, RK_STATE, TS_NEW, RR_PROGRAM_START, -1, 0, 0, 0);
	il_acquire(T);
	rec_state(T, TS_RUNNING, RR_RUN, -1, 0);
	thread_loop(P, T);
	_exit(1); /* not reached: the main thread ends in proc_exit */
}

static void note_reaped(pid_t pid, int st)
{
	int n = atomic_load(&R->shm.hdr->nprocs);
	for (int i = 0; i < n && i < REAL_MAX_PROCS; i++)
		if (R->shm.procs[i].pid == pid)
			pslot_end(i, PS_DIED, status_code(st));
}

static int set_cpus(struct run *run, int want, struct diag *err, const struct ast_program *ast)
{
	cpu_set_t have;
	CPU_ZERO(&have);
	if (sched_getaffinity(0, sizeof have, &have) < 0) {
		diag_set(err, ast->src, 0, 0, "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	int avail = CPU_COUNT(&have);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (want > avail) {
		diag_set(err, ast->src, 0, 0,
			 "--cores %d: this machine has %ld online core%s, and this process may use %d",
			 want, online, online == 1 ? "" : "s", avail);
		return -1;
	}
	if (want <= 0)
		want = avail;
	CPU_ZERO(&run->cpus);
	for (int i = 0; i < CPU_SETSIZE; i++)
		run->cpu_core[i] = -1;
	int k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < want; c++)
		if (CPU_ISSET(c, &have)) {
			CPU_SET(c, &run->cpus);
			run->cpu_core[c] = (int16_t)k++;
		}
	run->ncores = want;
	return 0;
}

struct trace *real_run(const struct ast_program *ast, struct vm_program *prog,
		       const struct machine *m, const struct real_options *o,
		       struct real_report *rep, struct diag *err)
{
	struct real_report dummy;
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof *rep);
	if (real_check(ast, m, err) < 0)
		return NULL;
	struct run *run = calloc(1, sizeof *run);
	if (!run) {
		diag_set(err, ast->src, 0, 0, "out of memory");
		return NULL;
	}
	run->prog = prog;
	run->m = m;
	run->opt = *o;
	if (run->opt.switch_interval <= 0)
		run->opt.switch_interval = 5000000;
	run->source_name = ast->src->name;
	run->go_fd = -1;
	if (set_cpus(run, o->cores, err, ast) < 0) {
		free(run);
		return NULL;
	}
	rep->ncores = run->ncores;
	if (real_shm_map(&run->shm) < 0) {
		diag_set(err, ast->src, 0, 0, "cannot map the shared trace buffers: %s", strerror(errno));
		free(run);
		return NULL;
	}
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0) {
		diag_set(err, ast->src, 0, 0, "pipe: %s", strerror(errno));
		real_shm_unmap(&run->shm);
		free(run);
		return NULL;
	}
	R = run;
	atomic_store(&run->shm.hdr->live_procs, 1);
	int was_subreaper = 0;
	prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term, old_hup;
	sigemptyset(&sa.sa_mask);
	g_signal = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	fflush(NULL); /* the children must not flush our buffered output again */
	int64_t started = real_mono_ns();
	pid_t main_pid = fork();
	if (main_pid == 0) {
		close(go[1]);
		main_process(go[0]);
	}
	close(go[0]);
	struct trace *tr = NULL;
	if (main_pid < 0) {
		diag_set(err, ast->src, 0, 0, "fork: %s", strerror(errno));
		goto out;
	}
	setpgid(main_pid, main_pid);

	enum real_stop stop = STOP_COMPLETED;
	bool go_sent = false, main_reaped = false;
	int64_t stop_abs = 0;
	for (;;) {
		int st;
		pid_t r;
		while ((r = waitpid(-main_pid, &st, WNOHANG)) > 0) {
			if (r == main_pid)
				main_reaped = true;
			note_reaped(r, st);
		}
		int live = atomic_load(&run->shm.hdr->live_procs);
		if (live == 0 && !go_sent) {
			go_sent = true;
			if (write(go[1], "g", 1) != 1)
				go_sent = true; /* MainProcess is gone: nothing to tell */
		}
		if (live == 0 && main_reaped)
			break;
		int64_t now = real_mono_ns();
		int64_t t0 = run->shm.hdr->t0 ? run->shm.hdr->t0 : started;
		stop_abs = now;
		if (g_signal) {
			stop = STOP_SIGNAL;
			break;
		}
		if (o->until >= 0 && now >= t0 + o->until && !go_sent) {
			stop = STOP_UNTIL;
			break;
		}
		if (now >= started + o->timeout) {
			stop = STOP_TIMEOUT;
			break;
		}
		struct timespec ts = {0, 500000};
		nanosleep(&ts, NULL);
	}
	if (stop != STOP_COMPLETED)
		kill(-main_pid, SIGKILL);
	for (;;) { /* reap the whole group: direct children and orphans that came back to us */
		int st;
		pid_t r = waitpid(-main_pid, &st, 0);
		if (r > 0) {
			if (stop == STOP_COMPLETED) /* else: killed by us, and left as they were */
				note_reaped(r, st);
			continue;
		}
		if (errno == EINTR)
			continue;
		break;
	}
	int64_t t0 = run->shm.hdr->t0 ? run->shm.hdr->t0 : started;
	int64_t stop_t = stop == STOP_UNTIL ? o->until : stop_abs - t0;
	if (stop_t < 0)
		stop_t = 0;
	struct real_merge_in in = merge_in(stop, stop_t, (int)g_signal);
	tr = real_merge(&in);
	if (!tr) {
		diag_set(err, ast->src, 0, 0, "out of memory merging the real run's records");
		goto out;
	}
	struct real_hdr *h = run->shm.hdr;
	if (atomic_load(&h->results_ready)) {
		for (int i = 0; i < h->nvars; i++)
			trace_add_var(tr, real_shm_text_at(&run->shm, h->vars[i].a),
				      real_shm_text_at(&run->shm, h->vars[i].b));
		for (int i = 0; i < h->nexpects; i++)
			trace_add_expect(tr, h->expects[i].line,
					 real_shm_text_at(&run->shm, h->expects[i].a), h->expects[i].ok,
					 real_shm_text_at(&run->shm, h->expects[i].b));
	} else {
		/* the main process did not finish: check against its initial variables, so the
		 * expectations about the run itself (deadlock, makespan, printed...) still hold */
		struct vm_proc *p0 = vm_proc_create(prog, o->seed);
		if (p0) {
			expect_check(tr, prog, p0);
			vm_proc_destroy(p0);
		}
	}
	if (atomic_load(&h->policy_denied))
		snprintf(rep->notes, sizeof rep->notes,
			 "--policy %s: SCHED_%s is not permitted here (%s); the run used SCHED_OTHER",
			 policy_name((enum policy)o->policy), o->policy == POLICY_FIFO ? "FIFO" : "RR",
			 strerror(h->policy_errno));
	rep->timed_out = stop == STOP_TIMEOUT;
out:
	close(go[1]);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, was_subreaper);
	real_shm_unmap(&run->shm);
	R = NULL;
	free(run);
	return tr;
}

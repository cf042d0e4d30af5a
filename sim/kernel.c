/* kernel.c — the simulated kernel: tasks, processes, cores, system calls and the event loop.
 *
 * Time model. A running task alternates between interpreting (the VM, which takes no
 * simulated time of its own but reports instruction costs) and burning CPU debt: compute(d),
 * instruction costs, and fork/thread-creation costs are debt, burnt on a core until it is
 * paid or the task's slice runs out. A system call is performed only once the debt before it
 * is paid, so every effect (a print, a fork, a wake-up) happens at the simulated instant it
 * would on a real machine.
 *
 * Events (event.h) at one instant are ordered by priority: wake-ups and timers first, then
 * cores (burns ending, context switches completing), then by insertion. Every scheduling
 * decision below is a function of that order, the machine and the seed. */
#include "kernel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"
#include "sched_common.h"

/* ---- trace helpers ---- */

void kern_stop(struct kernel *k, enum trace_end end, const char *fmt, ...)
{
	if (k->stopped)
		return;
	k->stopped = true;
	k->tr->end = end;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->tr->end_msg, sizeof k->tr->end_msg, fmt, ap);
	va_end(ap);
}

void kern_emit(struct kernel *k, struct trace_rec rec)
{
	if (k->stopped && k->tr->end == END_LIMIT)
		return;
	rec.t = k->q.now;
	if (trace_emit(k->tr, &rec) < 0) {
		if (k->tr->max_recs && k->tr->nrecs >= k->tr->max_recs)
			kern_stop(k, END_LIMIT,
			     "trace record limit of %zu reached at %" PRId64
			     " ns (memory); raise it or shorten the run with --until",
			     k->tr->max_recs, k->q.now);
		else
			kern_stop(k, END_LIMIT, "out of memory for trace records");
	}
}

uint32_t kern_reason(struct kernel *k, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	uint32_t id = trace_intern(k->tr, buf);
	if (id == UINT32_MAX) {
		k->oom = true;
		return 0;
	}
	return id;
}

/* `core`: the record's core when ready (the queue's, per core), -1 otherwise. */
static void set_state_on(struct kernel *k, struct task *t, enum thread_state s, uint32_t reason,
			 int core)
{
	t->state = s;
	t->reason = reason;
	kern_emit(k, (struct trace_rec){.tid = t->trace_idx,
				   .core = (int16_t)(s == TS_RUNNING ? t->core
						     : s == TS_READY ? core : -1),
				   .kind = TR_STATE,
				   .state = (uint8_t)s,
				   .obj = -1,
				   .reason = reason,
				   .line = (uint32_t)t->line});
}

static void set_state(struct kernel *k, struct task *t, enum thread_state s, uint32_t reason)
{
	set_state_on(k, t, s, reason, -1);
}

static void set_core(struct kernel *k, int c, enum core_state s, int task, uint32_t reason)
{
	struct core *core = &k->cores[c];
	if (core->state == s && s == CS_IDLE)
		return;
	core->state = s;
	kern_emit(k, (struct trace_rec){.tid = task >= 0 ? k->tasks[task]->trace_idx : -1,
				   .core = (int16_t)c,
				   .kind = TR_CORE,
				   .state = (uint8_t)s,
				   .obj = -1,
				   .reason = reason});
}

void kern_mark(struct kernel *k, struct task *t, const char *text, uint32_t reason)
{
	uint32_t id = trace_intern(k->tr, text);
	kern_emit(k, (struct trace_rec){.tid = t->trace_idx, .core = -1, .kind = TR_MARK, .obj = -1,
				   .text = id == UINT32_MAX ? 0 : id, .reason = reason,
				   .line = (uint32_t)t->line});
}

void kern_push_event(struct kernel *k, int64_t t, int prio, int kind, int target, uint32_t gen)
{
	if (event_push(&k->q, t, prio, kind, target, gen) < 0) {
		k->oom = true;
		kern_stop(k, END_LIMIT, "out of memory for events");
	}
}

/* ---- objects ---- */

static struct task *task_new(struct kernel *k, int proc)
{
	if (k->ntasks == k->captasks) {
		int cap = k->captasks ? k->captasks * 2 : 16;
		struct task **v = realloc(k->tasks, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		k->tasks = v;
		k->captasks = cap;
	}
	/* tasks come from slabs of TASK_SLAB: one allocation per slab, not per thread */
	if (k->ntasks % TASK_SLAB == 0) {
		struct task *slab = calloc(TASK_SLAB, sizeof *slab);
		if (!slab)
			return NULL;
		k->tasks[k->ntasks] = slab; /* the slab's first task: owned by the table */
	}
	struct task *t = k->ntasks % TASK_SLAB == 0 ? k->tasks[k->ntasks]
						     : k->tasks[k->ntasks - 1] + 1;
	t->id = k->ntasks;
	t->trace_idx = -1;
	t->proc = proc;
	t->core = -1;
	t->state = TS_NEW;
	t->wq = NULL;
	t->joiners = (struct waitq){-1, -1};
	t->wait_obj = -1;
	t->handoff_answer = true;
	t->pool = t->pool_origin = t->job = -1;
	t->wq_prev = t->wq_next = -1;
	t->target = vm_none();
	t->wake_value = vm_none();
	t->timeout_value = vm_none();
	kern_host_params(k, k->procs[proc]->host, &t->se.p); /* its process's host's cores */
	k->tasks[k->ntasks++] = t;
	return t;
}

static struct proc *proc_new(struct kernel *k, int parent)
{
	if (k->nprocs == k->capprocs) {
		int cap = k->capprocs ? k->capprocs * 2 : 8;
		struct proc **v = realloc(k->procs, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		k->procs = v;
		k->capprocs = cap;
	}
	struct proc *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->id = k->nprocs;
	p->trace_idx = -1;
	p->parent = parent;
	p->main_task = -1;
	p->target = vm_none();
	p->joiners = p->child_waiters = (struct waitq){-1, -1};
	p->exitcode = -1;
	p->popen = -1;
	p->manager = -1;
	p->host = parent >= 0 ? k->procs[parent]->host : 0;
	k->procs[k->nprocs++] = p;
	return p;
}

struct proc *kern_proc_new(struct kernel *k, int parent)
{
	return proc_new(k, parent);
}

void kern_host_params(struct kernel *k, int h, struct sched_params *sp)
{
	if (k->m->nhosts <= 1)
		return;
	sp->pinned = true;
	memset(sp->cpus, 0, sizeof sp->cpus);
	for (int c = k->host_first[h]; c < k->host_first[h] + k->host_cores[h]; c++)
		sp->cpus[c / 64] |= UINT64_C(1) << (c % 64);
}

/* Registers a started process in the trace and gives it a pid. */
static int proc_register(struct kernel *k, struct proc *p)
{
	p->pid = k->next_pid++;
	p->ppid = p->parent >= 0 ? k->procs[p->parent]->pid : 1;
	p->started = true;
	p->start_time = k->q.now;
	p->trace_idx = trace_add_process(k->tr, p->pid, p->ppid, p->name);
	if (p->via_process && !p->daemon && p->parent >= 0) {
		k->procs[p->parent]->live_children++;
		p->counted = true;
	}
	return p->trace_idx < 0 ? -1 : 0;
}

/* Registers a started thread in the trace; the first thread of a process takes its pid. */
static int task_register(struct kernel *k, struct task *t)
{
	struct proc *p = k->procs[t->proc];
	t->tid = t->is_main ? p->pid : k->next_pid++;
	t->started = true;
	t->trace_idx = trace_add_thread(k->tr, p->trace_idx, t->tid, t->name);
	if (t->trace_idx < 0)
		return -1;
	if (t->is_main)
		k->tr->procs[p->trace_idx].main_thread = t->trace_idx;
	p->live++;
	if (!t->is_main && !t->daemon)
		p->live_nondaemon++;
	k->live++;
	vm_proc_set_shared(p->vm, p->live > 1);
	return 0;
}

/* ---- wait queues ---- */

void kern_waitq_add(struct kernel *k, struct waitq *q, struct task *t)
{
	t->wq = q;
	t->wq_next = -1;
	t->wq_prev = q->tail;
	if (q->tail >= 0)
		k->tasks[q->tail]->wq_next = t->id;
	else
		q->head = t->id;
	q->tail = t->id;
}

void kern_waitq_remove(struct kernel *k, struct task *t)
{
	struct waitq *q = t->wq;
	if (!q)
		return;
	if (t->wq_prev >= 0)
		k->tasks[t->wq_prev]->wq_next = t->wq_next;
	else
		q->head = t->wq_next;
	if (t->wq_next >= 0)
		k->tasks[t->wq_next]->wq_prev = t->wq_prev;
	else
		q->tail = t->wq_prev;
	t->wq_prev = t->wq_next = -1;
	t->wq = NULL;
}

/* ---- scheduling ---- */

static void task_exec(struct kernel *k, struct task *t);
static void burn(struct kernel *k, struct task *t);
static void spawn_end(struct kernel *k, struct task *t);

/* Starts `t` running on core c now (the switch, if any, is done). */
static void run_on(struct kernel *k, int c, struct task *t)
{
	struct core *core = &k->cores[c];
	core->cur = t->id;
	core->last = t->id;
	core->switching = false;
	t->core = c;
	int64_t slice = sched_start(k, c, t);
	t->slice_end = slice == INT64_MAX || k->q.now > INT64_MAX - slice ? INT64_MAX : k->q.now + slice;
	set_core(k, c, CS_RUN, t->id, 0);
	if (!k->picked_reason[c])
		k->picked_reason[c] = kern_reason(k, "picked by core %d (%s)", c,
						  k->hs[k->core_host[c]].cls->name);
	set_state(k, t, TS_RUNNING, k->picked_reason[c]);
	if (t->debt > 0) {
		/* pending work is Python code (it needs the GIL) unless it is compute_nogil */
		if (!t->nogil) {
			if (!gil_ensure(k, t))
				return;
			if (gil_must_drop(k, t)) {
				gil_forced_drop(k, t);
				return;
			}
		}
		burn(k, t);
	} else {
		task_exec(k, t);
	}
}

static void schedule(struct kernel *k, int c);

/* Core c has nothing running. Outside any task's code (an event handler) it picks the next
 * task at once; inside a task's system call it picks at an event of its own at the same
 * instant, so that no task ever runs nested inside another's call. */
static void resched(struct kernel *k, int c)
{
	struct core *core = &k->cores[c];
	core->cur = -1;
	core->switching = false;
	core->gen++;
	if (core->resched || k->stopped)
		return;
	if (!k->in_task) {
		schedule(k, c);
		return;
	}
	core->resched = true;
	kern_push_event(k, k->q.now, PRIO_CORE, EV_RESCHED, c, core->gen);
}

static void schedule(struct kernel *k, int c)
{
	struct core *core = &k->cores[c];
	if (k->stopped || core->cur >= 0)
		return;
	struct task *next = sched_pick(k, c);
	if (!next) {
		set_core(k, c, CS_IDLE, -1, 0);
		return;
	}
	if (next->id == core->last || k->m->cs == 0) {
		run_on(k, c, next);
		return;
	}
	core->cur = next->id;
	core->switching = true;
	next->core = c;
	if (!k->switch_reason)
		k->switch_reason = kern_reason(k, "context switch");
	set_core(k, c, CS_SWITCH, next->id, k->switch_reason);
	kern_push_event(k, k->q.now + k->m->cs, PRIO_CORE, EV_DISPATCH, c, core->gen);
}

void kern_make_ready(struct kernel *k, struct task *t, int flags, uint32_t reason)
{
	set_state_on(k, t, TS_READY, reason, sched_ready_core(k, t));
	t->enqueued_at = k->q.now;
	/* queued; the idle core to pick it (the lowest-numbered one, with a global queue) */
	int c = sched_enqueue(k, t, flags);
	if (c >= 0)
		resched(k, c);
}

void kern_requeued(struct kernel *k, struct task *t)
{
	if (t->state == TS_READY)
		set_state_on(k, t, TS_READY, t->reason, t->se.rq);
}

void kern_resched_idle(struct kernel *k, int c)
{
	if (k->cores[c].cur < 0 && !k->cores[c].resched)
		resched(k, c);
}

/* The running task leaves its core (blocked, done or preempted); the core picks again. */
static void leave_core(struct kernel *k, struct task *t)
{
	int c = t->core;
	sched_leave(k, t);
	t->core = -1;
	t->last_ran = k->q.now;
	if (c >= 0)
		resched(k, c);
}

static void preempt(struct kernel *k, struct task *t)
{
	int c = t->core;
	/* the record names the thread; the reason says only why */
	struct host_sched *hs = &k->hs[k->core_host[c]];
	if (!hs->preempt_reason)
		hs->preempt_reason = kern_reason(k, "preempted: its quantum of %s expired",
						 vm_format_dur(hs->m.quantum, (char[32]){0}, 32));
	int line = t->vm ? vm_thread_line(t->vm) : 0;
	if (line > 0)
		t->line = line;
	uint32_t why = sched_preempted(k, t); /* 0: the quantum above */
	set_state_on(k, t, TS_READY, why ? why : hs->preempt_reason, sched_percore(k) ? c : -1);
	t->core = -1;
	t->last_ran = k->q.now;
	t->enqueued_at = k->q.now;
	sched_requeue(k, t, c);
	resched(k, c);
}

/* Burns the running task's debt until it is paid or the slice ends. */
static void burn(struct kernel *k, struct task *t)
{
	int64_t now = k->q.now;
	if (t->slice_end <= now) {
		preempt(k, t);
		return;
	}
	int64_t until = t->slice_end - now < t->debt ? t->slice_end : now + t->debt;
	const struct gil *g = &k->procs[t->proc]->gil;
	if (g->model == GIL_PY2 && !t->nogil && g->holder == t->id && g->waiters.head >= 0) {
		/* the old GIL checks every check interval: the burn stops there */
		int64_t chunk = (int64_t)k->m->check_interval * k->m->tick;
		if (chunk > 0 && now + chunk < until)
			until = now + chunk;
	}
	t->burn_start = now;
	t->burning = true;
	kern_push_event(k, until, PRIO_CORE, EV_BURN, t->core, k->cores[t->core].gen);
}

void kern_interrupt_burn(struct kernel *k, struct task *t)
{
	if (!t->burning || t->core < 0)
		return;
	struct core *core = &k->cores[t->core];
	t->debt -= k->q.now - t->burn_start;
	t->burn_start = k->q.now;
	core->gen++; /* the old burn event is stale */
	kern_push_event(k, k->q.now, PRIO_CORE, EV_BURN, t->core, core->gen);
}

/* Burns the running task's debt at once when nothing else can happen before it is paid:
 * the debt ends inside the slice, strictly before every pending event, and within the run's
 * limits. Then the clock simply moves on, exactly as the event would have moved it, without
 * the event queue. Returns false (and does nothing) when the burn must be an event. */
static bool burn_fast(struct kernel *k, struct task *t)
{
	int64_t now = k->q.now, end = now + t->debt;
	const struct event *next = event_peek(&k->q);
	const struct gil *g = &k->procs[t->proc]->gil;
	if (g->model == GIL_PY2 && g->waiters.head >= 0)
		return false; /* its check intervals are events */
	if (t->debt < 0 || end > t->slice_end || (next && next->t <= end) ||
	    (k->m->until >= 0 && end > k->m->until) || end > k->m->max_time ||
	    k->q.popped >= k->m->max_events)
		return false;
	k->q.now = end;
	k->q.popped++; /* it counts as the event it stands for */
	t->debt = 0;
	t->nogil = false;
	if (t->after == AFTER_SPAWN)
		spawn_end(k, t);
	return true;
}

/* Blocks the running task in state s; it stays blocked until woken or its timer fires. */
void kern_block(struct kernel *k, struct task *t, enum thread_state s, int64_t timeout,
		  uint32_t reason)
{
	gil_release_voluntary(k, t); /* a blocking call releases the GIL (it does not wait) */
	t->gen++;
	set_state(k, t, s, reason);
	if (timeout >= 0)
		kern_push_event(k, k->q.now + timeout, PRIO_WAKE, EV_WAKE, t->id, t->gen);
	leave_core(k, t);
}

void kern_wait(struct kernel *k, struct task *t, struct waitq *q, enum thread_state s,
	       int64_t timeout, uint32_t reason)
{
	kern_waitq_add(k, q, t);
	t->wait_obj = -1;
	kern_block(k, t, s, timeout, reason);
}

/* The first half of every wake-up: t leaves its wait queue and timers, and its pending call
 * gets `answer` (taken). */
static void wake_answer(struct kernel *k, struct task *t, struct value answer, struct task *waker,
			uint32_t reason)
{
	kern_waitq_remove(k, t);
	t->gen++; /* its timer, if any, is now stale */
	t->wait_obj = -1;
	t->timeout_hook = NULL;
	t->timeout_raise = NULL;
	if (t->net_phase == 3)
		t->net_reply_bytes = net_answer_size(answer);
	if (t->has_call) {
		vm_return(t->vm, answer);
		t->has_call = false;
	} else {
		vm_unref(answer);
	}
	if (waker)
		kern_emit(k, (struct trace_rec){.tid = t->trace_idx, .core = -1, .kind = TR_WAKE,
					   .obj = waker->trace_idx, .reason = reason});
}

static void delivered(struct kernel *k, struct task *t)
{
	t->timeout_hook = NULL;
	t->gen++;
	kern_make_ready(k, t, ENQ_WAKEUP, kern_reason(k, "its message arrived"));
}

/* t's call is answered: it is ready now, or after `delay` more ns in io (its answer is a
 * message still on its way, or a manager's reply, net_reply_delay). */
static void ready_after(struct kernel *k, struct task *t, int64_t delay, uint32_t reason)
{
	delay += net_reply_delay(k, t, &reason);
	if (delay <= 0) {
		kern_make_ready(k, t, ENQ_WAKEUP, reason);
		return;
	}
	set_state(k, t, TS_IO, reason);
	t->timeout_hook = delivered;
	kern_push_event(k, k->q.now + delay, PRIO_WAKE, EV_WAKE, t->id, t->gen);
}

/* Wakes a blocked task with `answer` as the result of its pending call. */
void kern_wake(struct kernel *k, struct task *t, struct value answer, struct task *waker,
		 uint32_t reason)
{
	kern_wake_later(k, t, answer, waker, 0, reason);
}

void kern_wake_later(struct kernel *k, struct task *t, struct value answer, struct task *waker,
		     int64_t delay, uint32_t reason)
{
	wake_answer(k, t, answer, waker, reason);
	ready_after(k, t, delay, reason);
}

void kern_wake_all(struct kernel *k, struct waitq *q, struct task *waker, uint32_t reason)
{
	while (q && q->head >= 0)
		kern_wake(k, k->tasks[q->head], vm_none(), waker, reason);
}

/* ---- exit ---- */

static void proc_try_exit(struct kernel *k, struct proc *p);

static void task_done(struct kernel *k, struct task *t, uint32_t reason)
{
	if (t->state == TS_DONE)
		return;
	bool was_running = t->state == TS_RUNNING;
	gil_release_voluntary(k, t);
	sched_dequeue(k, t);
	kern_waitq_remove(k, t);
	t->gen++;
	set_state(k, t, TS_DONE, reason);
	vm_thread_destroy(t->vm); /* its code will not run again: free the frames now */
	t->vm = NULL;
	t->has_call = false;
	struct proc *p = k->procs[t->proc];
	p->live--;
	if (!t->is_main && !t->daemon)
		p->live_nondaemon--;
	k->live--;
	k->last_exit = k->q.now;
	vm_proc_set_shared(p->vm, p->live > 1);
	if (t->pool_origin >= 0)
		ipc_worker_exited(k, t);
	struct waitq *joiners = &t->joiners;
	for (int w = joiners->head; w >= 0; w = k->tasks[w]->wq_next)
		race_join(k, k->tasks[w], t);
	if (joiners->head >= 0)
		kern_wake_all(k, joiners, t, kern_reason(k, "%s finished", t->name));
	if (was_running)
		leave_core(k, t);
	else if (t->core >= 0) { /* being switched in */
		struct core *core = &k->cores[t->core];
		t->core = -1;
		if (core->cur == t->id)
			resched(k, (int)(core - k->cores));
	}
	proc_try_exit(k, p);
}

/* What the interpreter's shutdown still waits for: non-daemon threads and (multiprocessing's
 * atexit hook) non-daemon child processes. Returns a description, or NULL if nothing. */
static const char *exit_waits_for(struct kernel *k, struct proc *p, char *buf, size_t size)
{
	if (p->live_nondaemon == 0 && p->live_children == 0 && p->feeder_bytes <= 0)
		return NULL;
	for (int i = 0; i < k->ntasks; i++) {
		struct task *o = k->tasks[i];
		if (o->proc == p->id && !o->is_main && o->started && !o->daemon &&
		    o->state != TS_DONE) {
			snprintf(buf, size, "interpreter shutdown joins non-daemon thread %s", o->name);
			return buf;
		}
	}
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *c = k->procs[i];
		if (c->parent == p->id && c->via_process && c->started && !c->ended && !c->daemon) {
			snprintf(buf, size, "multiprocessing's exit hook joins child %s (pid %d)",
				 c->name, c->pid);
			return buf;
		}
	}
	if (p->feeder_bytes > 0 && ipc_unflushed(k, p, buf, size) > 0)
		return buf;
	return NULL;
}

static void kill_process(struct kernel *k, struct proc *p, int exitcode, const char *why);

static struct value wait_status(const struct proc *p)
{
	struct value v[2] = {vm_int(p->pid),
			     vm_int(p->exitcode >= 0 ? (int64_t)p->exitcode << 8 : -p->exitcode)};
	return vm_tuple(2, v);
}

/* An ended process stops being a zombie: its parent waited for it (`by`), or init did. */
static void reap(struct kernel *k, struct proc *p, const char *by)
{
	if (!p->ended || p->reaped)
		return;
	p->reaped = true;
	if (p->main_task < 0 || k->q.now == p->end_time)
		return; /* waited for as it exited: never a zombie */
	char text[160], buf[32];
	snprintf(text, sizeof text, "pid %d reaped by %s after %s as a zombie", p->pid, by,
		 kern_dur_text(k->q.now - p->end_time, buf));
	kern_mark(k, k->tasks[p->main_task], text, kern_reason(k, "a zombie reaped"));
}

void kern_reap(struct kernel *k, struct proc *p, const char *by)
{
	reap(k, p, by);
}

/* p has exited: it is a zombie until its parent waits for it; its own children go to init
 * (pid 1), which reaps them when they end, as Linux does without a subreaper. */
static void proc_exited(struct kernel *k, struct proc *p)
{
	p->end_time = k->q.now;
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *c = k->procs[i];
		if (c->parent != p->id || !c->started || c->ppid == 1)
			continue;
		if (c->ended) {
			reap(k, c, "init (its parent exited)");
		} else {
			c->ppid = 1;
			char text[128];
			snprintf(text, sizeof text, "pid %d re-parented to init (pid 1): its parent "
				 "pid %d exited", c->pid, p->pid);
			if (c->main_task >= 0 && k->tasks[c->main_task]->state != TS_DONE)
				kern_mark(k, k->tasks[c->main_task], text, kern_reason(k, "re-parented"));
		}
	}
	if (p->parent < 0 || p->ppid == 1 || k->procs[p->parent]->ended) {
		reap(k, p, "init");
		return;
	}
	/* a pool's worker handler thread and a manager's shutdown() join their processes */
	if (p->manager >= 0 || (p->main_task >= 0 && k->tasks[p->main_task]->pool_origin >= 0)) {
		reap(k, p, "its pool or manager");
		return;
	}
	struct proc *parent = k->procs[p->parent];
	for (int w = parent->child_waiters.head; w >= 0; w = k->tasks[w]->wq_next) {
		struct task *t = k->tasks[w];
		if (t->wait_pid != -1 && t->wait_pid != p->pid)
			continue;
		reap(k, p, "os.wait()");
		kern_wake(k, t, wait_status(p), NULL,
			  kern_reason(k, "child pid %d exited with code %d", p->pid, p->exitcode));
		return;
	}
	if (p->joiners.head >= 0)
		reap(k, p, "its parent's join()");
}

/* os.wait() / os.waitpid(pid, options): a child that has exited and is not yet reaped,
 * as (pid, status) with Linux's encoding (exit code << 8, or the signal's number); blocks
 * until one exits, or (WNOHANG) answers (0, 0). ChildProcessError when there is none. */
static enum sys_result sys_wait(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	bool any = strcmp(c->name, "os.wait") == 0;
	int64_t pid = -1, options = 0;
	if (!any) {
		if (c->argv[0].type != V_INT || c->argv[1].type != V_INT)
			return kern_raise(k, t, "TypeError", "waitpid() takes two integers (pid, options)");
		pid = c->argv[0].u.i <= 0 ? -1 : c->argv[0].u.i; /* 0 and -1: any child here */
		options = c->argv[1].u.i;
		if (options & ~INT64_C(1))
			return kern_raise(k, t, "NotImplementedError",
					  "waitpid(): only os.WNOHANG is modelled among the options");
	}
	struct proc *self = k->procs[t->proc];
	bool some = false;
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *o = k->procs[i];
		if (o->parent != self->id || !o->started || o->reaped || o->ppid == 1 ||
		    (pid > 0 && o->pid != pid))
			continue;
		some = true;
		if (o->ended) {
			reap(k, o, any ? "os.wait()" : "os.waitpid()");
			return kern_answer(t, wait_status(o));
		}
	}
	if (!some)
		return kern_raise(k, t, "ChildProcessError", "[Errno 10] No child processes");
	if (options & 1) {
		struct value z[2] = {vm_int(0), vm_int(0)};
		return kern_answer(t, vm_tuple(2, z));
	}
	t->wait_pid = (int)pid;
	kern_wait(k, t, &self->child_waiters, TS_JOIN, -1,
		  kern_reason(k, "%s waits in %s at line %d", t->name, any ? "os.wait()" : "os.waitpid()",
			      t->line));
	return SR_BLOCKED;
}

static void proc_uncount(struct kernel *k, struct proc *p)
{
	if (p->counted) {
		k->procs[p->parent]->live_children--;
		p->counted = false;
	}
}

/* p has ended (exited or killed): its command's and its manager's waiters hear of it, it is a
 * zombie or reaped, its joiners wake, and its parent's shutdown may have waited for it. */
static void proc_ended(struct kernel *k, struct proc *p, struct task *main, uint32_t reason)
{
	bool waited = p->popen >= 0 && subp_exited(k, p);
	if (p->manager >= 0)
		net_proc_exited(k, p);
	proc_exited(k, p);
	if (waited)
		reap(k, p, "Popen's waitpid()");
	kern_wake_all(k, &p->joiners, main, reason);
	if (p->parent >= 0)
		proc_try_exit(k, k->procs[p->parent]);
}

/* Ends the process once its main thread has finished its code and nothing holds it. */
static void proc_try_exit(struct kernel *k, struct proc *p)
{
	if (p->ended || p->main_task < 0)
		return;
	struct task *main = k->tasks[p->main_task];
	if (!main->exiting)
		return;
	if (p->live_nondaemon > 0 || p->live_children > 0 || p->feeder_bytes > 0) {
		char buf[256];
		if (main->state == TS_RUNNING && exit_waits_for(k, p, buf, sizeof buf))
			kern_block(k, main, TS_JOIN, -1, kern_reason(k, "%s", buf));
		return; /* blocked already: woken when the last of them ends */
	}
	/* Daemon threads die with the process; daemon children are terminated. */
	for (int i = 0; i < k->ntasks; i++) {
		struct task *o = k->tasks[i];
		if (o->proc == p->id && o != main && o->started && o->state != TS_DONE)
			task_done(k, o, kern_reason(k, "daemon thread %s ends with its process", o->name));
	}
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *c = k->procs[i];
		if (c->parent == p->id && c->via_process && c->started && !c->ended && c->daemon)
			kill_process(k, c, -15, "daemon process terminated at its parent's exit");
	}
	if (main->state != TS_DONE) {
		p->ended = true; /* set first: task_done would come back here */
		main->exiting = false;
		if (p->exitcode < 0)
			p->exitcode = 0;
		task_done(k, main, kern_reason(k, "process %d exits with code %d", p->pid, p->exitcode));
	}
	p->ended = true;
	if (p->exitcode < 0)
		p->exitcode = 0;
	proc_uncount(k, p);
	proc_ended(k, p, main, kern_reason(k, "process %s (pid %d) exited", p->name, p->pid));
}

static void kill_process(struct kernel *k, struct proc *p, int exitcode, const char *why)
{
	if (p->ended || !p->started)
		return;
	p->exitcode = exitcode;
	p->ended = true;
	proc_uncount(k, p);
	uint32_t r = kern_reason(k, "%s", why);
	struct task *main = p->main_task >= 0 ? k->tasks[p->main_task] : NULL;
	for (int i = 0; i < k->ntasks; i++) {
		struct task *o = k->tasks[i];
		if (o->proc == p->id && o->started && o->state != TS_DONE)
			task_done(k, o, r);
	}
	proc_ended(k, p, main, r);
}

void kern_kill_process(struct kernel *k, struct proc *p, int exitcode, const char *why)
{
	kill_process(k, p, exitcode, why);
}

/* The thread's code has finished (normally or by an exception). */
static void task_finish(struct kernel *k, struct task *t, bool error)
{
	/* a pool worker's call returned: it takes the next task, or waits for one */
	if (t->pool >= 0 && ipc_worker_done(k, t, error))
		return;
	struct proc *p = k->procs[t->proc];
	if (!error && t->is_main && p->popen >= 0 && t->vm) /* a command's function returned */
		p->exitcode = subp_returned(k, t, vm_thread_result(t->vm));
	if (error && t->is_main)
		p->exitcode = 1;
	if (t->is_main) {
		t->exiting = true;
		char buf[256];
		if (exit_waits_for(k, p, buf, sizeof buf)) {
			kern_block(k, t, TS_JOIN, -1, kern_reason(k, "%s", buf));
			return;
		}
		proc_try_exit(k, p);
		return;
	}
	if (!k->finished_reason)
		k->finished_reason = kern_reason(k, "its function returned");
	task_done(k, t, error ? kern_reason(k, "ended by an uncaught exception") : k->finished_reason);
}

void kern_proc_may_exit(struct kernel *k, struct proc *p)
{
	proc_try_exit(k, p);
}

int kern_spawn_worker(struct kernel *k, struct task *creator, int pool, bool thread, int index,
		      struct waitq *idle)
{
	struct proc *cur = k->procs[creator->proc];
	struct task *w;
	if (thread) {
		if (!(w = task_new(k, cur->id)))
			return -1;
		cur->nthreads_named++;
		snprintf(w->name, sizeof w->name, "Thread-%d", cur->nthreads_named);
		w->daemon = true;
	} else {
		struct proc *np = proc_new(k, cur->id);
		if (!np)
			return -1;
		snprintf(np->name, sizeof np->name, "ForkPoolWorker-%d", index);
		np->via_process = true;
		np->daemon = true; /* terminated when its parent exits, as CPython's pool workers */
		if (proc_register(k, np) < 0 || !(w = task_new(k, np->id)))
			return -1;
		np->vm = vm_proc_fork(cur->vm, k->m->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)np->pid);
		if (!np->vm)
			return -1;
		if (k->race)
			vm_proc_set_access_hook(np->vm, race_access, k);
		w->is_main = true;
		np->main_task = w->id;
		snprintf(w->name, sizeof w->name, "MainThread");
		gil_proc_init(k, np);
	}
	if (task_register(k, w) < 0)
		return -1;
	w->pool = w->pool_origin = pool;
	w->job = -1;
	w->line = creator->line;
	set_state(k, w, TS_NEW, kern_reason(k, "pool worker started by %s at line %d", creator->name,
					    creator->line));
	kern_waitq_add(k, idle, w);
	w->wait_obj = -1;
	set_state(k, w, TS_WAIT, kern_reason(k, "an idle pool worker waits for a task"));
	return w->id;
}

bool kern_worker_start(struct kernel *k, struct task *w, struct value fn, struct value args,
		       bool thread)
{
	int n = vm_seq_len(args);
	struct value argv[VM_MAX_ARGS];
	if (n < 0 || n > VM_MAX_ARGS)
		n = 0;
	for (int i = 0; i < n; i++) {
		argv[i] = vm_seq_item(args, i);
		vm_ref(argv[i]);
	}
	vm_ref(fn);
	vm_thread_destroy(w->vm);
	w->vm = vm_thread_create_call(k->procs[w->proc]->vm, fn, n, argv);
	if (!w->vm)
		return false;
	vm_thread_set_user(w->vm, w);
	w->has_call = false;
	(void)thread;
	return true;
}

void kern_kill_worker(struct kernel *k, struct task *w, bool thread)
{
	w->pool = -1;
	if (w->state == TS_DONE)
		return;
	if (thread)
		task_done(k, w, kern_reason(k, "the pool was terminated"));
	else
		kill_process(k, k->procs[w->proc], -15, "the pool was terminated (SIGTERM)");
}

/* ---- system calls ---- */

const struct value *kern_kwarg(const struct vm_call *c, const char *name)
{
	for (int i = 0; i < c->kwc; i++)
		if (strcmp(c->kwname[i], name) == 0)
			return &c->kwv[i];
	return NULL;
}

enum sys_result kern_raise(struct kernel *k, struct task *t, const char *type, const char *fmt,
			     ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->has_call = false;
	vm_raise(t->vm, type, msg);
	(void)k;
	return SR_RAISED;
}

enum sys_result kern_answer(struct task *t, struct value v)
{
	if (t->net_phase == 3) /* a call through a manager's proxy: its reply's size */
		t->net_reply_bytes = net_answer_size(v);
	t->has_call = false;
	vm_return(t->vm, v);
	return SR_CONTINUE;
}

/* A duration argument, already a V_DUR from the VM. */
static int64_t dur_arg(const struct vm_call *c)
{
	return c->argc > 0 && c->argv[0].type == V_DUR ? c->argv[0].u.i : 0;
}

bool kern_timeout_arg(struct kernel *k, struct task *t, const struct value *v, int64_t *ns)
{
	switch (v->type) {
	case V_NONE:
		*ns = -1;
		return true;
	case V_DUR:
		*ns = v->u.i < 0 ? 0 : v->u.i;
		return true;
	case V_INT:
	case V_BOOL:
		*ns = v->u.i < 0 ? 0 : v->u.i > INT64_MAX / 1000000000 ? INT64_MAX / 2
								   : v->u.i * 1000000000;
		return true;
	case V_FLOAT:
		*ns = !(v->u.f > 0) ? 0 : v->u.f > 9e9 ? INT64_MAX / 2 : (int64_t)(v->u.f * 1e9);
		return true;
	default:
		kern_raise(k, t, "TypeError", "timeout must be a number of seconds or a duration");
		return false;
	}
}

const char *kern_dur_text(int64_t ns, char *buf)
{
	return vm_format_dur(ns, buf, 32);
}

/* Process(...) or Thread(...): validates the arguments and keeps target and args. */
static enum sys_result sys_new(struct kernel *k, struct task *t, bool is_proc)
{
	const struct vm_call *c = &t->call;
	const char *what = is_proc ? "Process" : "Thread";
	static const char *const known[] = {"target", "args", "name", "daemon", "kwargs", "group",
					    "priority", "nice", "cpus", "host"};
	for (int i = 0; i < c->kwc; i++) {
		bool ok = false;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			ok = ok || strcmp(c->kwname[i], known[j]) == 0;
		if (!ok)
			return kern_raise(k, t, "TypeError", "%s() got an unexpected keyword argument '%s'",
				     what, c->kwname[i]);
	}
	if (c->argc > 0)
		return kern_raise(k, t, "TypeError",
			     "%s() takes keyword arguments only here: write %s(target=f, args=(...))",
			     what, what);
	const struct value *target = kern_kwarg(c, "target");
	const struct value *args = kern_kwarg(c, "args");
	const struct value *name = kern_kwarg(c, "name");
	const struct value *daemon = kern_kwarg(c, "daemon");
	if (!target || (target->type != V_FUNC && target->type != V_BUILTIN))
		return kern_raise(k, t, "TypeError", "%s() needs target= a function", what);
	int nargs = args ? vm_seq_len(*args) : 0;
	if (args && args->type != V_TUPLE && args->type != V_LIST)
		return kern_raise(k, t, "TypeError", "%s() args= must be a tuple", what);
	if (nargs > VM_MAX_ARGS)
		return kern_raise(k, t, "TypeError", "%s() takes at most %d args", what, VM_MAX_ARGS);
	if (name && name->type != V_STR && name->type != V_NONE)
		return kern_raise(k, t, "TypeError", "%s() name= must be a string", what);
	const struct value *hostv = kern_kwarg(c, "host");
	int host = k->procs[t->proc]->host;
	if (hostv && hostv->type != V_NONE) {
		if (!is_proc)
			return kern_raise(k, t, "TypeError",
					  "Thread() got an unexpected keyword argument 'host'");
		if (hostv->type != V_STR)
			return kern_raise(k, t, "TypeError", "Process() host= must be a host's name");
		if ((host = machine_host_index(k->m, vm_str_data(*hostv, NULL))) < 0)
			return kern_raise(k, t, "ValueError",
					  "Process() host='%s': no such host (declare it with `machine "
					  "host=%s cores=N`)",
					  vm_str_data(*hostv, NULL), vm_str_data(*hostv, NULL));
		if (kern_kwarg(c, "cpus"))
			return kern_raise(k, t, "ValueError",
					  "Process(): give host= or cpus=, not both (a host's process "
					  "runs on that host's cores)");
	}
	struct sched_params sp; /* priority=, nice=, cpus= over the creator's */
	if (!sched_params_from_call(k, t, c, what, &sp))
		return SR_RAISED;

	struct proc *cur = k->procs[t->proc];
	struct value *dst_target, *dst_args;
	int *dst_n;
	struct value h;
	if (is_proc) {
		struct proc *np = proc_new(k, cur->id);
		if (!np)
			return kern_raise(k, t, "MemoryError", "out of memory");
		cur->nchildren++;
		if (name && name->type == V_STR)
			snprintf(np->name, sizeof np->name, "%s", vm_str_data(*name, NULL));
		else if (cur->parent < 0)
			snprintf(np->name, sizeof np->name, "Process-%d", cur->nchildren);
		else
			snprintf(np->name, sizeof np->name, "%.40s:%d", cur->name, cur->nchildren);
		np->via_process = true;
		np->daemon = daemon && vm_truthy(*daemon);
		np->host = host;
		np->sp = sp;
		if (hostv && hostv->type != V_NONE)
			kern_host_params(k, host, &np->sp);
		dst_target = &np->target;
		dst_args = np->args;
		dst_n = &np->nargs;
		h = vm_handle(H_PROCESS, np->id);
	} else {
		struct task *nt = task_new(k, cur->id);
		if (!nt)
			return kern_raise(k, t, "MemoryError", "out of memory");
		cur->nthreads_named++;
		if (name && name->type == V_STR)
			snprintf(nt->name, sizeof nt->name, "%s", vm_str_data(*name, NULL));
		else
			snprintf(nt->name, sizeof nt->name, "Thread-%d", cur->nthreads_named);
		nt->daemon = daemon ? vm_truthy(*daemon) : k->tasks[t->id]->daemon;
		nt->se.p = sp;
		dst_target = &nt->target;
		dst_args = nt->args;
		dst_n = &nt->nargs;
		h = vm_handle(H_THREAD, nt->id);
	}
	vm_ref(*target);
	*dst_target = *target;
	for (int i = 0; i < nargs; i++) {
		dst_args[i] = vm_seq_item(*args, i);
		vm_ref(dst_args[i]);
	}
	*dst_n = nargs;
	return kern_answer(t, h);
}

/* Starts a fork, Process.start or Thread.start: the child appears now as new, and becomes
 * ready when the creator has burnt the creation cost. */
static enum sys_result spawn_begin(struct kernel *k, struct task *t, bool is_proc, int obj,
				   int64_t cost, const char *how)
{
	struct proc *cur = k->procs[t->proc];
	struct task *child;
	if (is_proc) {
		struct proc *np = k->procs[obj];
		if (proc_register(k, np) < 0 || !(child = task_new(k, np->id)))
			return kern_raise(k, t, "MemoryError", "out of memory");
		child->is_main = true;
		child->daemon = false;
		snprintf(child->name, sizeof child->name, "MainThread");
		np->main_task = child->id;
		sched_inherit(k, t, child, np);
		/* the child's interpreter state comes at the end of the fork; register needs one */
		np->vm = vm_proc_fork(cur->vm, k->m->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)np->pid);
		if (!np->vm)
			return kern_raise(k, t, "MemoryError", "out of memory");
		if (k->race)
			vm_proc_set_access_hook(np->vm, race_access, k);
		gil_proc_init(k, np);
	} else {
		child = k->tasks[obj];
	}
	if (task_register(k, child) < 0)
		return kern_raise(k, t, "MemoryError", "out of memory");
	set_state(k, child, TS_NEW,
		  kern_reason(k, "%s by %s (pid %d) at line %d", how, t->name, cur->pid, t->line));
	t->after = AFTER_SPAWN;
	t->spawn = child->id;
	t->spawn_is_proc = is_proc;
	t->debt += cost;
	return SR_BURN;
}

enum sys_result kern_spawn_server(struct kernel *k, struct task *t, struct proc *np)
{
	return spawn_begin(k, t, true, np->id, k->m->fork_cost, "BaseManager.start()");
}

enum sys_result kern_spawn_command(struct kernel *k, struct task *t, int popen_obj,
				   const char *name, const char *how)
{
	struct proc *np = proc_new(k, t->proc);
	if (!np)
		return kern_raise(k, t, "OSError", "fork failed: out of memory");
	snprintf(np->name, sizeof np->name, "%s", name);
	np->popen = popen_obj;
	return spawn_begin(k, t, true, np->id, k->m->fork_cost, how);
}

void kern_set_state(struct kernel *k, struct task *t, enum thread_state s, uint32_t reason)
{
	set_state(k, t, s, reason);
}

/* The creation cost is paid: the child becomes ready and the creator's call returns. */
static void spawn_end(struct kernel *k, struct task *t)
{
	struct task *child = k->tasks[t->spawn];
	struct proc *cp = k->procs[child->proc];
	t->after = AFTER_EXEC;
	if (child->state == TS_DONE) { /* killed meanwhile */
		kern_answer(t, vm_none());
		return;
	}
	bool os_fork = t->call.sys == SYS_FORK;
	if (!os_fork && t->spawn_is_proc && cp->popen >= 0) { /* an external command */
		subp_spawn_end(k, t, child);
		return;
	}
	if (!os_fork && t->spawn_is_proc && cp->manager >= 0) { /* a manager's server */
		net_spawn_end(k, t, child);
		return;
	}
	if (os_fork) {
		child->vm = vm_thread_fork(t->vm, cp->vm);
	} else if (t->spawn_is_proc) {
		/* the child's arguments are its own copies, as a fork (or pickling) gives it: a list
		 * it changes is not the parent's (aliasing with its copied globals is not kept) */
		struct value argv[VM_MAX_ARGS];
		vm_ref(cp->target);
		for (int i = 0; i < cp->nargs; i++)
			argv[i] = vm_value_copy(cp->args[i]);
		child->vm = vm_thread_create_call(cp->vm, cp->target, cp->nargs, argv);
	} else {
		vm_ref(child->target);
		for (int i = 0; i < child->nargs; i++)
			vm_ref(child->args[i]);
		child->vm = vm_thread_create_call(k->procs[child->proc]->vm, child->target,
						  child->nargs, child->args);
	}
	if (!child->vm) {
		k->oom = true;
		kern_stop(k, END_LIMIT, "out of memory creating a thread");
		return;
	}
	vm_thread_set_user(child->vm, child);
	if (!t->spawn_is_proc)
		race_spawn(k, t, child); /* a process has memory of its own: nothing to order */
	if (os_fork) {
		vm_return(child->vm, vm_int(0));
		kern_answer(t, vm_int(cp->pid));
	} else {
		kern_answer(t, vm_none());
	}
	kern_make_ready(k, child, ENQ_NEW,
		   kern_reason(k, "%s", os_fork ? "fork() returned" : t->spawn_is_proc ? "process started"
										: "thread started"));
}

static enum sys_result sys_join(struct kernel *k, struct task *t, bool is_proc, int obj)
{
	const struct vm_call *c = &t->call;
	int64_t timeout = -1;
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	char buf[32];
	if (is_proc) {
		struct proc *p = k->procs[obj];
		if (!p->started)
			return kern_raise(k, t, "AssertionError", "can only join a started process");
		if (p->id == t->proc)
			return kern_raise(k, t, "AssertionError", "can only join a child process");
		if (p->ended) {
			reap(k, p, "its parent's join()");
			return kern_answer(t, vm_none());
		}
		kern_waitq_add(k, &p->joiners, t);
		t->wait_obj = timeout < 0 ? p->id : -1;
		t->wait_kind = H_PROCESS;
		kern_block(k, t, TS_JOIN, timeout,
		      timeout >= 0 ? kern_reason(k, "%s waits in join(%s, timeout=%s) at line %d", t->name,
					     p->name, kern_dur_text(timeout, buf), t->line)
				   : kern_reason(k, "%s waits in join(%s) at line %d", t->name, p->name,
					     t->line));
		if (timeout < 0)
			deadlock_check(k, t);
		return SR_BLOCKED;
	}
	struct task *o = k->tasks[obj];
	if (!o->started)
		return kern_raise(k, t, "RuntimeError", "cannot join thread before it is started");
	if (o == t)
		return kern_raise(k, t, "RuntimeError", "cannot join current thread");
	if (o->state == TS_DONE) {
		race_join(k, t, o);
		return kern_answer(t, vm_none());
	}
	struct waitq *q = &o->joiners;
	if (!q)
		return SR_BLOCKED;
	kern_waitq_add(k, q, t);
	t->wait_obj = timeout < 0 ? o->id : -1;
	t->wait_kind = H_THREAD;
	kern_block(k, t, TS_JOIN, timeout,
	      timeout >= 0 ? kern_reason(k, "%s waits in join(%s, timeout=%s) at line %d", t->name,
				     o->name, kern_dur_text(timeout, buf), t->line)
			   : kern_reason(k, "%s waits in join(%s) at line %d", t->name, o->name, t->line));
	if (timeout < 0)
		deadlock_check(k, t);
	return SR_BLOCKED;
}

static enum sys_result sys_method(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	bool is_proc = c->self.aux == H_PROCESS;
	int obj = (int)c->self.u.i;
	const char *m = c->name;
	if (c->self.aux != H_PROCESS && c->self.aux != H_THREAD)
		return kern_raise(k, t, "AttributeError", "object has no attribute '%s'", m);
	if (strcmp(m, "start") == 0) {
		if (is_proc) {
			struct proc *p = k->procs[obj];
			if (p->started)
				return kern_raise(k, t, "AssertionError", "cannot start a process twice");
			return spawn_begin(k, t, true, obj, k->m->fork_cost, "Process.start()");
		}
		struct task *o = k->tasks[obj];
		if (o->started)
			return kern_raise(k, t, "RuntimeError", "threads can only be started once");
		if (o->proc != t->proc)
			return kern_raise(k, t, "RuntimeError",
				     "a thread can only be started in the process that created it");
		return spawn_begin(k, t, false, obj, k->m->thread_cost, "Thread.start()");
	}
	if (strcmp(m, "join") == 0)
		return sys_join(k, t, is_proc, obj);
	if (strcmp(m, "is_alive") == 0) {
		bool alive = is_proc ? k->procs[obj]->started && !k->procs[obj]->ended
				     : k->tasks[obj]->started && k->tasks[obj]->state != TS_DONE;
		if (is_proc && k->procs[obj]->ended) /* CPython polls it with waitpid(WNOHANG) */
			reap(k, k->procs[obj], "is_alive()");
		return kern_answer(t, vm_bool(alive));
	}
	if (is_proc && (strcmp(m, "terminate") == 0 || strcmp(m, "kill") == 0)) {
		struct proc *p = k->procs[obj];
		if (p->id == t->proc)
			return kern_raise(k, t, "RuntimeError", "a process cannot terminate itself here");
		kill_process(k, p, m[0] == 't' ? -15 : -9,
			     m[0] == 't' ? "terminated (SIGTERM)" : "killed (SIGKILL)");
		return kern_answer(t, vm_none());
	}
	if (!is_proc && (strcmp(m, "getName") == 0))
		return kern_answer(t, vm_str(k->tasks[obj]->name, strlen(k->tasks[obj]->name)));
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
		     is_proc ? "Process" : "Thread", m);
}

static enum sys_result sys_getattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const char *a = c->name;
	int obj = (int)c->self.u.i;
	if (c->self.aux == H_PROCESS) {
		struct proc *p = k->procs[obj];
		if (strcmp(a, "name") == 0)
			return kern_answer(t, vm_str(p->name, strlen(p->name)));
		if (strcmp(a, "pid") == 0 || strcmp(a, "ident") == 0)
			return kern_answer(t, p->started ? vm_int(p->pid) : vm_none());
		if (strcmp(a, "exitcode") == 0)
			return kern_answer(t, p->ended ? vm_int(p->exitcode) : vm_none());
		if (strcmp(a, "daemon") == 0)
			return kern_answer(t, vm_bool(p->daemon));
		return kern_raise(k, t, "AttributeError", "'Process' object has no attribute '%s'", a);
	}
	if (c->self.aux == H_THREAD) {
		struct task *o = k->tasks[obj];
		if (strcmp(a, "name") == 0)
			return kern_answer(t, vm_str(o->name, strlen(o->name)));
		if (strcmp(a, "ident") == 0 || strcmp(a, "native_id") == 0)
			return kern_answer(t, o->started ? vm_int(o->tid) : vm_none());
		if (strcmp(a, "daemon") == 0)
			return kern_answer(t, vm_bool(o->daemon));
		return kern_raise(k, t, "AttributeError", "'Thread' object has no attribute '%s'", a);
	}
	return kern_raise(k, t, "AttributeError", "object has no attribute '%s'", a);
}

static enum sys_result sys_setattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const char *a = c->name;
	int obj = (int)c->self.u.i;
	struct value v = c->argc > 0 ? c->argv[0] : vm_none();
	bool is_proc = c->self.aux == H_PROCESS;
	char *name = is_proc ? k->procs[obj]->name : k->tasks[obj]->name;
	bool started = is_proc ? k->procs[obj]->started : k->tasks[obj]->started;
	if (strcmp(a, "name") == 0) {
		if (v.type != V_STR)
			return kern_raise(k, t, "TypeError", "name must be a string");
		if (started)
			return kern_raise(k, t, "RuntimeError",
				     "renaming a started %s is not modelled (its trace row is named)",
				     is_proc ? "process" : "thread");
		snprintf(name, 64, "%s", vm_str_data(v, NULL));
		return kern_answer(t, vm_none());
	}
	if (strcmp(a, "daemon") == 0) {
		if (started)
			return kern_raise(k, t, "RuntimeError", "cannot set daemon status of active thread");
		if (is_proc)
			k->procs[obj]->daemon = vm_truthy(v);
		else
			k->tasks[obj]->daemon = vm_truthy(v);
		return kern_answer(t, vm_none());
	}
	return kern_raise(k, t, "AttributeError", "cannot set attribute '%s'", a);
}

enum sys_result kern_method(struct kernel *k, struct task *t)
{
	int kind = t->call.self.aux;
	return kind >= H_MANAGER ? net_method(k, t)
	       : kind >= H_POPEN ? subp_method(k, t)
	       : kind >= H_QUEUE ? ipc_method(k, t)
	       : kind >= H_LOCK  ? sync_method(k, t)
				 : sys_method(k, t);
}

static enum sys_result syscall(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct proc *p = k->procs[t->proc];
	char buf[32];
	t->line = c->line;
	if (aio_owns(c)) /* asyncio: the event loop (aio.c) */
		return aio_syscall(k, t);
	switch (c->sys) {
	case SYS_PRINT: {
		size_t len = 0;
		const char *s = c->argc > 0 ? vm_str_data(c->argv[0], &len) : "";
		if (p->popen >= 0 && subp_print(k, p, s ? s : "", len))
			return kern_answer(t, vm_none()); /* its stdout is a pipe to its parent */
		uint32_t id = trace_intern(k->tr, s ? s : "");
		kern_emit(k, (struct trace_rec){.tid = t->trace_idx, .core = (int16_t)t->core,
					   .kind = TR_PRINT, .obj = -1,
					   .text = id == UINT32_MAX ? 0 : id,
					   .line = (uint32_t)t->line});
		return kern_answer(t, vm_none());
	}
	case SYS_COMPUTE:
		t->debt += dur_arg(c);
		t->after = AFTER_EXEC;
		t->droppable = true; /* compute() is Python code: its loops check the breaker */
		kern_answer(t, vm_none());
		return t->debt > 0 ? SR_BURN : SR_CONTINUE;
	case SYS_COMPUTE_NOGIL:
		/* C code that releases the GIL around its work (ctypes, numpy) */
		gil_release_voluntary(k, t);
		t->debt += dur_arg(c);
		t->nogil = true;
		t->after = AFTER_EXEC;
		kern_answer(t, vm_none());
		return t->debt > 0 ? SR_BURN : SR_CONTINUE;
	case SYS_GILCTL: {
		struct gil *g = &p->gil;
		const char *n = c->name ? c->name : "";
		if (strcmp(n, "getswitchinterval") == 0)
			return kern_answer(t, vm_float((double)(g->model == GIL_NONE ? k->m->switch_interval
										: g->interval) / 1e9));
		if (strcmp(n, "setswitchinterval") == 0) {
			int64_t ns;
			if (c->argc != 1 || c->argv[0].type == V_NONE || !kern_timeout_arg(k, t, &c->argv[0], &ns))
				return t->has_call ? kern_raise(k, t, "TypeError",
								"setswitchinterval() takes a number of seconds")
						   : SR_RAISED;
			if (ns <= 0)
				return kern_raise(k, t, "ValueError", "switch interval must be strictly positive");
			g->interval = ns;
			return kern_answer(t, vm_none());
		}
		if (strcmp(n, "setcheckinterval") == 0 || strcmp(n, "getcheckinterval") == 0)
			return n[0] == 'g' ? kern_answer(t, vm_int(k->m->check_interval))
					   : kern_raise(k, t, "NotImplementedError",
							"sys.setcheckinterval(): set the machine's "
							"check-interval instead");
		return kern_raise(k, t, "AttributeError", "sys.%s is not part of the scenario language yet", n);
	}
	case SYS_IO:
	case SYS_SLEEP: {
		int64_t d = dur_arg(c);
		bool io = c->sys == SYS_IO;
		kern_answer(t, vm_none());
		kern_block(k, t, io ? TS_IO : TS_SLEEP, d,
		      kern_reason(k, "%s(%s) at line %d", io ? "io" : "sleep", kern_dur_text(d, buf), t->line));
		return SR_BLOCKED;
	}
	case SYS_FORK: {
		struct proc *np = proc_new(k, p->id);
		if (!np)
			return kern_raise(k, t, "OSError", "fork failed: out of memory");
		snprintf(np->name, sizeof np->name, "%s", p->name);
		return spawn_begin(k, t, true, np->id, k->m->fork_cost, "os.fork()");
	}
	case SYS_GETPID:
		return kern_answer(t, vm_int(p->pid));
	case SYS_GETPPID:
		return kern_answer(t, vm_int(p->ppid));
	case SYS_GETTID:
		return kern_answer(t, vm_int(t->tid));
	case SYS_THREAD_NAME:
		return kern_answer(t, vm_str(t->name, strlen(t->name)));
	case SYS_NOW:
		return kern_answer(t, vm_dur(k->q.now));
	case SYS_ELAPSED:
		return kern_answer(t, vm_dur(k->q.now - p->start_time));
	case SYS_TIME:
		return kern_answer(t, vm_float((double)k->q.now / 1e9));
	case SYS_CPU_COUNT:
		return kern_answer(t, vm_int(k->host_cores[p->host]));
	case SYS_ACTIVE_CHILDREN: {
		int n = 0;
		for (int i = 0; i < k->nprocs; i++) { /* it joins the ended ones, as CPython's does */
			struct proc *o = k->procs[i];
			if (o->parent == p->id && o->via_process && o->ended)
				reap(k, o, "active_children()");
			n += o->parent == p->id && o->via_process && o->started && !o->ended;
		}
		struct value *items = calloc((size_t)n + 1, sizeof *items);
		if (!items)
			return kern_raise(k, t, "MemoryError", "out of memory");
		n = 0;
		for (int i = 0; i < k->nprocs; i++) {
			struct proc *o = k->procs[i];
			if (o->parent == p->id && o->via_process && o->started && !o->ended)
				items[n++] = vm_handle(H_PROCESS, o->id);
		}
		struct value list = vm_list(n, items);
		free(items);
		return kern_answer(t, list);
	}
	case SYS_CURRENT_THREAD:
		return kern_answer(t, vm_handle(H_THREAD, t->id));
	case SYS_CURRENT_PROCESS:
		return kern_answer(t, vm_handle(H_PROCESS, p->id));
	case SYS_PROCESS_NEW:
		return sys_new(k, t, true);
	case SYS_THREAD_NEW:
		return sys_new(k, t, false);
	case SYS_NEW:
		if (c->name && strncmp(c->name, "os.wait", 7) == 0)
			return sys_wait(k, t);
		if (c->name && strcmp(c->name, "os._exit") == 0) { /* at once: no cleanup at all */
			if (c->argv[0].type != V_INT)
				return kern_raise(k, t, "TypeError", "_exit() takes an integer");
			char why[64];
			snprintf(why, sizeof why, "os._exit(%lld)", (long long)c->argv[0].u.i);
			t->has_call = false;
			kill_process(k, p, (int)(c->argv[0].u.i & 0xff), why);
			return SR_BLOCKED;
		}
		return net_owns_new(c->name ? c->name : "") ? net_new(k, t) : sync_new(k, t);
	case SYS_METHOD:
		return kern_method(k, t);
	case SYS_GETATTR:
		return c->self.aux >= H_MANAGER ? net_getattr(k, t)
		       : c->self.aux >= H_POPEN  ? subp_getattr(k, t)
		       : c->self.aux >= H_QUEUE ? ipc_getattr(k, t)
		       : c->self.aux >= H_LOCK ? sync_getattr(k, t)
					       : sys_getattr(k, t);
	case SYS_SETATTR:
		return c->self.aux >= H_QUEUE  ? ipc_setattr(k, t)
		       : c->self.aux >= H_LOCK ? sync_setattr(k, t)
					       : sys_setattr(k, t);
	case SYS_QUERY:
	default:
		return kern_raise(k, t, "NameError", "name '%s' is only defined in expect lines",
			     c->name ? c->name : "?");
	}
}

static void task_exec_inner(struct kernel *k, struct task *t);

/* An uncaught SystemExit (sys.exit(arg)) ends its thread quietly; in a process's main thread
 * it gives the exit code (vm_system_exit); a message is shown, as CPython writes it to
 * stderr. */
static void system_exit(struct kernel *k, struct task *t, int code, const char *text)
{
	if (text[0])
		kern_mark(k, t, text, kern_reason(k, "sys.exit() with a message"));
	if (t->is_main)
		k->procs[t->proc]->exitcode = code;
	task_finish(k, t, false);
}

/* How much instruction cost the running task may run ahead while touching shared
 * variables: the time before the next event of any kind, its slice end or a run limit,
 * shrunk by the most jitter can stretch it. No other thread can act in that time, so what
 * the task reads and writes there is what it would read and write event by event. */
static int64_t horizon(struct kernel *k, const struct task *t)
{
	if (gil_drop_pending(k, t))
		return 1; /* asked to drop the GIL: stop at the very next check point */
	int64_t now = k->q.now + t->debt, end = t->slice_end;
	const struct event *next = event_peek(&k->q);
	if (next && next->t < end)
		end = next->t;
	if (k->m->until >= 0 && k->m->until < end)
		end = k->m->until;
	int64_t room = end - now;
	if (room <= 1)
		return 1;
	/* room / (1 + jitter), in 16-bit fixed point (a division here showed in profiles) */
	return room < (INT64_C(1) << 46) ? (room * k->horizon_q) >> 16
					   : (room >> 16) * k->horizon_q;
}

/* Interprets the running task until it blocks, must burn CPU, or ends. */
static void task_exec(struct kernel *k, struct task *t)
{
	bool outer = !k->in_task;
	k->in_task = true;
	task_exec_inner(k, t);
	if (outer)
		k->in_task = false;
}

static void task_exec_inner(struct kernel *k, struct task *t)
{
	for (;;) {
		if (k->stopped || t->state != TS_RUNNING)
			return;
		if (t->se.need_resched) { /* a woken task preempts it (sched_common.c) */
			preempt(k, t);
			return;
		}
		if (!t->vm) { /* a pool worker let go with no task left to run: it exits */
			task_finish(k, t, false);
			return;
		}
		/* Python code runs only with its process's GIL, and gives it up when asked */
		if (!gil_ensure(k, t))
			return;
		if (gil_must_drop(k, t)) {
			gil_forced_drop(k, t);
			return;
		}
		if (t->has_call) {
			enum sys_result r = syscall(k, t);
			if (r == SR_BLOCKED)
				return;
			if (r == SR_BURN) {
				if (burn_fast(k, t))
					continue;
				burn(k, t);
				return;
			}
		}
		int64_t cost = 0;
		/* alone in its process nobody can touch its globals or ask for its GIL */
		vm_thread_set_horizon(t->vm, k->procs[t->proc]->live > 1 ? horizon(k, t)
									   : INT64_MAX / 2);
		enum vm_status st = vm_run(t->vm, &t->call, &cost);
		k->instructions += vm_thread_take_instructions(t->vm);
		if (k->instructions > k->m->max_instructions) {
			kern_stop(k, END_LIMIT,
				  "instruction limit of %llu reached at %s (line %d of %s); raise it with "
				  "--max-instructions or stop earlier with --until",
				  (unsigned long long)k->m->max_instructions,
				  kern_dur_text(k->q.now, (char[32]){0}),
				  vm_thread_line(t->vm) ? vm_thread_line(t->vm) : t->line, t->name);
			return;
		}
		t->droppable = st == VM_SYSCALL || (st == VM_YIELD && vm_thread_at_breaker(t->vm));
		if (st == VM_SYSCALL) {
			t->has_call = true;
			t->line = t->call.line;
		}
		if (cost > 0) {
			k->zero_time_yields = 0;
			if (k->jitter_q) {
				/* xorshift64*, then cost * (1 + jitter * s) with s uniform in [-1, 1],
				 * in 16-bit fixed point: this runs for every stretch of code */
				k->rng ^= k->rng >> 12, k->rng ^= k->rng << 25, k->rng ^= k->rng >> 27;
				int64_t s16 = (int64_t)((k->rng * 0x2545F4914F6CDD1DULL) >> 48) * 2 - 65535;
				cost += (((cost * k->jitter_q) >> 16) * s16) >> 16;
				if (cost < 1)
					cost = 1;
			}
			t->debt += cost;
			t->after = AFTER_EXEC;
			if (burn_fast(k, t))
				continue;
			burn(k, t);
			return;
		}
		switch (st) {
		case VM_SYSCALL:
			continue;
		case VM_YIELD:
			/* A long stretch of instructions that cost no time: let the other events at
			 * this instant go first, and stop a loop that never lets time advance. */
			if (k->zero_time_at != k->q.now) {
				k->zero_time_at = k->q.now;
				k->zero_time_yields = 0;
			}
			if (++k->zero_time_yields > 2000) {
				kern_stop(k, END_LIMIT,
				     "%s ran about 200 million instructions at %s without simulated time "
				     "passing (line %d): an endless loop that costs nothing; give it "
				     "compute() or sleep(), or set machine instr=",
				     t->name, kern_dur_text(k->q.now, (char[32]){0}),
				     vm_thread_line(t->vm)); /* t->line is its last call's */
				return;
			}
			t->debt = 0;
			t->after = AFTER_EXEC;
			t->burn_start = k->q.now;
			kern_push_event(k, k->q.now, PRIO_CORE, EV_BURN, t->core, k->cores[t->core].gen);
			return;
		case VM_EXIT:
			if (k->aio && aio_coro_exit(k, t))
				continue; /* an asyncio Task ended: the loop switched t->vm */
			task_finish(k, t, false);
			return;
		case VM_ERROR: {
			if (k->aio)
				aio_coro_error(k, t); /* an asyncio Task's exception ends its loop */
			/* a pool task's exception goes to its AsyncResult, not to the worker */
			if (t->pool >= 0 && ipc_worker_done(k, t, true))
				return;
			const struct diag *d = vm_thread_error(t->vm);
			int code;
			const char *exit_text;
			if (vm_system_exit(d, &code, &exit_text)) {
				system_exit(k, t, code, exit_text);
				return;
			}
			char text[2048];
			diag_format(d, text, sizeof text);
			char full[2300];
			snprintf(full, sizeof full, "Exception in %s (pid %d): %s", t->name,
				 k->procs[t->proc]->pid, text);
			kern_mark(k, t, full, kern_reason(k, "uncaught exception"));
			if (!k->errors++)
				k->first_error = *d;
			task_finish(k, t, true);
			return;
		}
		}
	}
}

/* ---- the event loop ---- */

static void on_event(struct kernel *k, const struct event *e)
{
	switch (e->kind) {
	case EV_WAKE: {
		struct task *t = k->tasks[e->target];
		if (t->gen != e->gen || !thread_state_blocked(t->state))
			return;
		/* timers at one instant all fire before any core picks (cores are PRIO_CORE) */
		bool outer = !k->in_task;
		k->in_task = true;
		if (t->timeout_hook) {
			t->timeout_hook(k, t);
		} else if (t->timeout_raise) {
			/* get(timeout=...) ran out: the call raises (queue.Empty, TimeoutError) */
			const char *type = t->timeout_raise;
			kern_waitq_remove(k, t);
			t->gen++;
			t->timeout_raise = NULL;
			if (t->has_call) {
				vm_raise(t->vm, type, "the wait timed out");
				t->has_call = false;
			}
			ready_after(k, t, 0, kern_reason(k, "%s: the wait timed out", type));
		} else {
			struct value v = t->timeout_value;
			t->timeout_value = vm_none();
			kern_wake(k, t, v, NULL,
				  kern_reason(k, "%s ends (line %d)",
					      t->state == TS_SLEEP ? "sleep"
					      : t->state == TS_IO  ? "io"
								   : "timeout",
					      t->line));
		}
		if (outer)
			k->in_task = false;
		return;
	}
	case EV_BALANCE:
		sched_balance(k);
		return;
	case EV_RESCHED: {
		struct core *core = &k->cores[e->target];
		if (core->gen != e->gen)
			return;
		core->resched = false;
		schedule(k, e->target);
		return;
	}
	case EV_DISPATCH: {
		struct core *core = &k->cores[e->target];
		if (core->gen != e->gen || core->cur < 0)
			return;
		run_on(k, e->target, k->tasks[core->cur]);
		return;
	}
	case EV_BURN: {
		struct core *core = &k->cores[e->target];
		if (core->gen != e->gen || core->cur < 0)
			return;
		struct task *t = k->tasks[core->cur];
		if (t->state != TS_RUNNING)
			return;
		t->debt -= k->q.now - t->burn_start;
		t->burning = false;
		if (!t->nogil && gil_must_drop(k, t)) {
			gil_forced_drop(k, t); /* keeps the rest of its debt for later */
			return;
		}
		if (t->debt > 0) {
			if (k->q.now >= t->slice_end) {
				preempt(k, t);
				return;
			}
			/* cut short inside its slice: a py2 check interval, or an interrupt */
			if (!t->nogil)
				gil_py2_check(k, t);
			burn(k, t);
			return;
		}
		t->debt = 0;
		t->nogil = false;
		if (t->after == AFTER_SPAWN)
			spawn_end(k, t);
		task_exec(k, t);
		return;
	}
	}
}

/* Names who waits for what when nothing can happen any more. */
static void describe_deadlock(struct kernel *k)
{
	if (deadlock_feeder_cycle(k))
		return;
	char msg[sizeof k->tr->end_msg];
	size_t n = (size_t)snprintf(msg, sizeof msg,
				    "every live thread is blocked and nothing is pending:");
	for (int i = 0; i < k->ntasks && n < sizeof msg; i++) {
		struct task *t = k->tasks[i];
		if (!t->started || t->state == TS_DONE)
			continue;
		n += (size_t)snprintf(msg + n, sizeof msg - n, " %s (pid %d): %s;", t->name,
				      k->procs[t->proc]->pid,
				      t->reason ? trace_str(k->tr, t->reason) : thread_state_name(t->state));
	}
	snprintf(k->tr->deadlock_kind, sizeof k->tr->deadlock_kind, "all-blocked");
	kern_stop(k, END_DEADLOCK, "%s", msg);
}

static void collect_var(void *ctx, const char *name, const char *repr)
{
	trace_add_var(ctx, name, repr);
}

static void handle_repr(void *ctx, const struct value *h, char *buf, size_t size)
{
	struct kernel *k = ctx;
	int id = (int)h->u.i;
	if (h->aux == H_PROCESS && id >= 0 && id < k->nprocs) {
		struct proc *p = k->procs[id];
		if (p->started)
			snprintf(buf, size, "<Process name='%s' pid=%d parent=%d %s>", p->name, p->pid,
				 p->ppid, p->ended ? "stopped" : "started");
		else
			snprintf(buf, size, "<Process name='%s' parent=%d initial>", p->name,
				 p->parent >= 0 ? k->procs[p->parent]->pid : 0);
	} else if (h->aux == H_THREAD && id >= 0 && id < k->ntasks) {
		struct task *t = k->tasks[id];
		snprintf(buf, size, "<Thread(%s, %s)>", t->name,
			 !t->started ? "initial" : t->state == TS_DONE ? "stopped" : "started");
	} else if ((h->aux == H_AIOTASK || h->aux == H_FUTURE) && aio_repr(k, h, buf, size)) {
		/* an asyncio Task or Future: aio_repr wrote it */
	} else if (h->aux >= H_LOCK && id >= 0 && id < k->nobjs) {
		const struct kobj *o = k->objs[id];
		if (o->kind == H_LOCK || o->kind == H_RLOCK)
			snprintf(buf, size, "<%s %s %s>", o->owner >= 0 ? "locked" : "unlocked",
				 o->kind == H_LOCK ? "Lock" : "RLock", o->name);
		else
			snprintf(buf, size, "<%s %s>", vm_handle_class((enum vm_handle_kind)o->kind),
				 o->name);
	} else {
		snprintf(buf, size, "<object %d>", id);
	}
}

static void kernel_free(struct kernel *k, bool keep_main)
{
	aio_free(k);
	for (int i = 0; i < k->ntasks; i++) {
		struct task *t = k->tasks[i];
		vm_thread_destroy(t->vm);
		vm_unref(t->target);
		for (int a = 0; a < t->nargs; a++)
			vm_unref(t->args[a]);
		vm_unref(t->wake_value);
		vm_unref(t->timeout_value);
	}
	for (int i = 0; i < k->ntasks; i += TASK_SLAB)
		free(k->tasks[i]); /* a slab: the first task of each owns it */
	free(k->tasks);
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *p = k->procs[i];
		if (!(keep_main && i == 0))
			vm_proc_destroy(p->vm);
		vm_unref(p->target);
		for (int a = 0; a < p->nargs; a++)
			vm_unref(p->args[a]);
		free(p);
	}
	free(k->procs);
	sync_free(k);
	subp_free(k);
	net_free(k);
	race_free(k);
	free(k->cores);
	free(k->picked_reason);
	sched_finish(k);
	free(k->core_host);
	event_queue_finish(&k->q);
}

struct trace *sim_run(const struct ast_program *ast, struct vm_program *prog,
		      const struct machine *m, struct diag *err)
{
	if (sched_check_program(ast, m, err) < 0) /* cpus= naming a missing core, ... */
		return NULL;
	if (machine_total_cores(m) > MACHINE_MAX_CORES) { /* --cores on top of the hosts' */
		diag_set(err, ast->src, 0, 0, "the hosts have %d cores together: at most %d",
			 machine_total_cores(m), MACHINE_MAX_CORES);
		return NULL;
	}
	struct kernel *k = calloc(1, sizeof *k);
	struct trace *tr = trace_create(machine_total_cores(m));
	if (!k || !tr) {
		free(k);
		trace_destroy(tr);
		diag_set(err, ast->src, 0, 0, "out of memory");
		return NULL;
	}
	/* the kernel's machine numbers every host's cores: localhost's first */
	k->mc = *m;
	for (int h = 0; h < m->nhosts; h++) {
		k->host_first[h] = machine_host_first_core(m, h);
		k->host_cores[h] = h == 0 ? m->cores : m->hosts[h].cores;
	}
	k->mc.cores = machine_total_cores(m);
	m = k->m = &k->mc;
	k->prog = prog;
	k->ast = ast;
	k->tr = tr;
	tr->max_recs = m->max_records;
	snprintf(tr->source_name, sizeof tr->source_name, "%s", ast->src->name);
	snprintf(tr->origin, sizeof tr->origin, "sim");
	event_queue_init(&k->q);
	k->core_host = calloc((size_t)m->cores, sizeof *k->core_host);
	bool classes = k->core_host != NULL;
	for (int h = 0; h < m->nhosts && classes; h++) {
		struct host_sched *hs = &k->hs[h];
		hs->m = *m;
		hs->m.cores = k->host_cores[h];
		if (h > 0 && m->hosts[h].policy >= 0)
			hs->m.policy = (enum policy)m->hosts[h].policy;
		if (h > 0 && m->hosts[h].quantum > 0)
			hs->m.quantum = m->hosts[h].quantum;
		classes = (hs->cls = sched_class_for(hs->m.policy)) != NULL;
		for (int c = k->host_first[h]; c < k->host_first[h] + k->host_cores[h]; c++)
			k->core_host[c] = (int16_t)h;
	}
	k->cores = calloc((size_t)m->cores, sizeof *k->cores);
	k->picked_reason = calloc((size_t)m->cores, sizeof *k->picked_reason);
	k->next_pid = 1000;
	k->rng = m->seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	k->jitter_q = (int64_t)(m->jitter * 65536.0 + 0.5);
	k->horizon_q = (int64_t)(65536.0 / (1.0 + m->jitter));
	if (!k->rng)
		k->rng = 1;
	if (!classes || !k->cores || !k->picked_reason || sched_init(k) < 0) {
		kernel_free(k, false);
		free(k);
		trace_destroy(tr);
		diag_set(err, ast->src, 0, 0, "out of memory");
		return NULL;
	}
	for (int c = 0; c < m->cores; c++)
		k->cores[c] = (struct core){.cur = -1, .last = -1, .state = CS_IDLE};
	for (int c = 0; m->nhosts > 1 && c < m->cores; c++) {
		char label[64];
		int h = k->core_host[c];
		snprintf(label, sizeof label, "%s core %d", m->hosts[h].name, c - k->host_first[h]);
		trace_set_core_label(tr, c, label);
	}
	vm_program_set_instr_cost(prog, m->instr);
	vm_program_set_handle_repr(prog, handle_repr, k);

	struct proc *p0 = proc_new(k, -1);
	struct task *t0 = p0 ? task_new(k, 0) : NULL;
	if (t0) {
		snprintf(p0->name, sizeof p0->name, "MainProcess");
		snprintf(t0->name, sizeof t0->name, "MainThread");
		t0->is_main = true;
		p0->main_task = 0;
		p0->vm = vm_proc_create(prog, m->seed);
		t0->vm = p0->vm ? vm_thread_create_main(p0->vm) : NULL;
		if (t0->vm)
			vm_thread_set_user(t0->vm, t0);
	}
	/* the race detector: asked for, or needed by an expectation that speaks of races */
	bool races = m->races;
	for (int i = 0; i < vm_program_expect_count(prog) && !races; i++) {
		int line;
		const char *text;
		vm_program_expect_info(prog, i, &line, &text);
		races = strstr(text, "race") != NULL;
	}
	snprintf(tr->gil_model, sizeof tr->gil_model, "%s",
		 m->gil == GIL_PY3 ? "py3" : m->gil == GIL_PY2 ? "py2" : "none");
	snprintf(tr->python, sizeof tr->python, "%s", m->python);
	if (races && p0 && p0->vm && race_init(k)) {
		vm_proc_set_access_hook(p0->vm, race_access, k);
		tr->races_checked = true;
	}
	if (!t0 || !t0->vm || proc_register(k, p0) < 0 || task_register(k, t0) < 0) {
		kernel_free(k, false);
		free(k);
		trace_destroy(tr);
		diag_set(err, ast->src, 0, 0, "out of memory");
		return NULL;
	}
	gil_proc_init(k, p0); /* after its pid: the GIL is named after it */
	set_state(k, t0, TS_NEW, kern_reason(k, "the program starts"));
	kern_make_ready(k, t0, ENQ_NEW, kern_reason(k, "the program starts"));

	struct event e;
	while (!k->stopped) {
		const struct event *next = event_peek(&k->q);
		if (!next) {
			if (k->live > 0)
				describe_deadlock(k);
			break;
		}
		if (m->until >= 0 && next->t > m->until) {
			k->q.now = m->until;
			kern_stop(k, END_UNTIL, "stopped at --until %s",
			     vm_format_dur(m->until, (char[32]){0}, 32));
			break;
		}
		if (next->t > m->max_time) {
			k->q.now = m->max_time;
			kern_stop(k, END_LIMIT,
			     "simulated time limit of %s reached; use --until for a shorter run",
			     vm_format_dur(m->max_time, (char[32]){0}, 32));
			break;
		}
		if (k->q.popped >= m->max_events) {
			kern_stop(k, END_LIMIT,
			     "event limit of %" PRIu64 " reached at %s; raise it with --max-events "
			     "or stop earlier with --until",
			     m->max_events, vm_format_dur(k->q.now, (char[32]){0}, 32));
			break;
		}
		event_pop(&k->q, &e);
		on_event(k, &e);
		if (k->live == 0 && !k->stopped)
			break;
	}
	if (!k->stopped)
		tr->end = END_COMPLETED;
	tr->makespan = tr->end == END_COMPLETED ? k->last_exit : k->q.now;
	if (tr->end == END_COMPLETED && k->errors) {
		char text[1024];
		diag_format(&k->first_error, text, sizeof text);
		snprintf(tr->end_msg, sizeof tr->end_msg, "%d thread%s ended with an exception; the first: %.900s",
			 k->errors, k->errors == 1 ? "" : "s", text);
		size_t n = strlen(tr->end_msg);
		if (n && tr->end_msg[n - 1] == '\n')
			tr->end_msg[n - 1] = '\0';
		tr->end = END_ERROR;
	}

	tr->nevents = k->q.popped;
	gil_collect(k);
	struct vm_proc *main = p0->vm;
	vm_proc_foreach_global(main, collect_var, tr); /* handles still print by name here */
	vm_program_set_handle_repr(prog, NULL, NULL);
	/* the expectations below run in the main process after the kernel is gone: its race
	 * detector must not hear of their reads */
	vm_proc_set_access_hook(main, NULL, NULL);
	kernel_free(k, true);
	free(k);
	expect_check(tr, prog, main);
	vm_proc_destroy(main);
	return tr;
}

/* gil.c — a Global Interpreter Lock per process, after CPython's Python/ceval_gil.c.
 *
 * py3 (CPython >= 3.2): a thread that wants the GIL while another holds it waits on a
 * condition with a timeout of the switch interval (5 ms). If the interval passes with no
 * switch, it sets the drop request; the holder sees it at its next eval-breaker check, drops
 * the GIL, signals one waiter and — because the drop was requested — waits until another
 * thread has taken it (forced switching). The new holder clears pending drop requests. A
 * voluntary release (sleep, I/O, a blocking call, compute_nogil) signals a waiter but does
 * not wait, so the releasing thread may take the GIL back first.
 *
 * py2: the holder releases and at once re-acquires the GIL every check interval (100
 * ticks), signalling a waiter but never handing over. On one core the woken waiter cannot
 * run before the holder has it again; on several it runs, finds the GIL taken, and sleeps
 * again, and the holder pays for the fight (gil_contention): the old GIL's battle.
 *
 * Waiting for the GIL is its own thread state (TS_GIL, off the CPU); the GIL is an object with
 * a track of its own in the trace (TR_OBJ), and its counters go to the summary. */
#include <stdio.h>
#include <string.h>

#include "kernel_internal.h"

static struct gil *gil_of(struct kernel *k, const struct task *t)
{
	struct gil *g = &k->procs[t->proc]->gil;
	return g->model == GIL_NONE ? NULL : g;
}

void gil_proc_init(struct kernel *k, struct proc *p)
{
	struct gil *g = &p->gil;
	memset(g, 0, sizeof *g);
	g->model = k->m->gil;
	g->holder = -1;
	g->last_holder = -1;
	g->forced = -1;
	g->interval = k->m->switch_interval;
	g->waiters = (struct waitq){-1, -1};
	g->trace_obj = -1;
	if (g->model == GIL_NONE)
		return;
	char name[64];
	snprintf(name, sizeof name, "GIL (pid %d)", p->pid);
	g->trace_obj = trace_add_object(k->tr, name, "GIL", 0);
	if (p->vm)
		vm_proc_set_breaker(p->vm, k->m->breaker == BREAKER_EVERY_INSTRUCTION ? 1 : 2);
}

static void gil_record(struct kernel *k, struct gil *g, uint32_t reason)
{
	if (g->trace_obj < 0)
		return;
	kern_emit(k, (struct trace_rec){.tid = g->holder >= 0 ? k->tasks[g->holder]->trace_idx : -1,
					.core = -1,
					.kind = TR_OBJ,
					.state = (uint8_t)(g->holder >= 0 ? OBJ_HELD : OBJ_FREE),
					.obj = g->trace_obj,
					.reason = reason});
}

bool gil_drop_pending(struct kernel *k, const struct task *t)
{
	struct gil *g = gil_of(k, t);
	return g && g->drop_request && g->holder == t->id;
}

bool gil_holds(struct kernel *k, const struct task *t)
{
	struct gil *g = gil_of(k, t);
	return !g || g->holder == t->id;
}

static void take(struct kernel *k, struct gil *g, struct task *t)
{
	g->holder = t->id;
	g->holds++;
	/* as ceval_gil.c: the switch number counts changes of holder, so a waiter's timed wait
	 * sees no switch when the same thread keeps taking the GIL back */
	if (g->last_holder != t->id) {
		if (g->last_holder >= 0)
			g->switches++;
		g->switch_number++;
	}
	g->last_holder = t->id;
	g->drop_request = false; /* the new holder clears pending drop requests */
	gil_record(k, g, k->gil_take_reason ? k->gil_take_reason
					    : (k->gil_take_reason = kern_reason(k, "takes the GIL")));
	/* forced switching: the thread that dropped on request waits for exactly this */
	if (g->forced >= 0 && g->forced != t->id) {
		struct task *f = k->tasks[g->forced];
		g->forced = -1;
		if (f->state == TS_GIL)
			kern_wake(k, f, vm_none(), t,
				  kern_reason(k, "%s took the GIL: the forced switch is done", t->name));
	}
}

/* Signals one waiter (CPython's COND_SIGNAL): it becomes ready and tries again when it runs. */
static void woken_late(struct kernel *k, struct task *w)
{
	w->timeout_hook = NULL;
	kern_wake(k, w, vm_none(), NULL, kern_reason(k, "the GIL's signal arrived"));
}

/* Signals one waiter (CPython's COND_SIGNAL): it becomes ready after the machine's
 * gil_wakeup latency and tries again when it runs; meanwhile the releasing thread may
 * take the GIL back. */
static void signal_one(struct kernel *k, struct gil *g, struct task *by)
{
	if (g->waiters.head < 0)
		return;
	struct task *w = k->tasks[g->waiters.head];
	if (k->m->gil_wakeup <= 0) {
		w->timeout_hook = NULL;
		kern_wake(k, w, vm_none(), by, kern_reason(k, "the GIL was released by %s", by->name));
		return;
	}
	kern_waitq_remove(k, w); /* signalled: no longer a waiter the next release would pick */
	w->gen++;
	w->timeout_hook = woken_late;
	kern_push_event(k, k->q.now + k->m->gil_wakeup, PRIO_WAKE, EV_WAKE, w->id, w->gen);
}

static void release(struct kernel *k, struct gil *g, struct task *t, uint32_t reason)
{
	g->holder = -1;
	gil_record(k, g, reason);
	signal_one(k, g, t);
}

void gil_release_voluntary(struct kernel *k, struct task *t)
{
	struct gil *g = gil_of(k, t);
	if (!g || g->holder != t->id)
		return;
	release(k, g, t, k->gil_drop_reason ? k->gil_drop_reason
					    : (k->gil_drop_reason = kern_reason(k, "releases the GIL "
										   "(a blocking call)")));
}

static void gil_timeout(struct kernel *k, struct task *t);

/* Blocks t until the GIL is signalled, with the switch interval as timeout. */
static void wait_for_gil(struct kernel *k, struct gil *g, struct task *t)
{
	kern_waitq_add(k, &g->waiters, t);
	t->gil_switch_seen = g->switch_number;
	t->wait_obj = -1;
	t->timeout_hook = g->model == GIL_PY3 ? gil_timeout : NULL;
	kern_block(k, t, TS_GIL, g->model == GIL_PY3 ? g->interval : -1,
		   kern_reason(k, "waits for the GIL held by %s",
			       g->holder >= 0 ? k->tasks[g->holder]->name : "nobody"));
}

/* The waiter's timed wait ran out: with no switch meanwhile, it asks the holder to drop. */
static void gil_timeout(struct kernel *k, struct task *t)
{
	struct gil *g = gil_of(k, t);
	kern_waitq_remove(k, t);
	t->timeout_hook = NULL;
	if (!g)
		return;
	if (g->holder >= 0 && g->switch_number == t->gil_switch_seen && !g->drop_request) {
		g->drop_request = true;
		g->drop_requests++;
		struct task *h = k->tasks[g->holder];
		kern_emit(k, (struct trace_rec){.tid = h->trace_idx, .core = -1, .kind = TR_MARK,
						.obj = t->trace_idx,
						.text = trace_intern(k->tr, "gil drop request"),
						.reason = kern_reason(k, "%s has waited %s for the GIL: drop request",
								      t->name,
								      kern_dur_text(g->interval, (char[32]){0}))});
		/* a holder burning compute() work sees the request at once (its loop checks) */
		if (h->state == TS_RUNNING && h->burning)
			kern_interrupt_burn(k, h);
	}
	if (g->holder < 0) { /* free by now: go and take it */
		kern_wake(k, t, vm_none(), NULL, kern_reason(k, "the GIL is free"));
		return;
	}
	/* wait another interval (CPython's loop around the timed wait) */
	kern_waitq_add(k, &g->waiters, t);
	t->gil_switch_seen = g->switch_number;
	t->timeout_hook = gil_timeout;
	t->gen++;
	kern_push_event(k, k->q.now + g->interval, PRIO_WAKE, EV_WAKE, t->id, t->gen);
}

bool gil_ensure(struct kernel *k, struct task *t)
{
	struct gil *g = gil_of(k, t);
	if (!g || g->holder == t->id)
		return true;
	if (g->holder < 0) {
		take(k, g, t);
		return true;
	}
	wait_for_gil(k, g, t);
	return false;
}

bool gil_must_drop(struct kernel *k, const struct task *t)
{
	struct gil *g = gil_of(k, t);
	return g && g->model == GIL_PY3 && g->drop_request && g->holder == t->id &&
	       g->waiters.head >= 0 && t->droppable;
}

void gil_forced_drop(struct kernel *k, struct task *t)
{
	struct gil *g = gil_of(k, t);
	g->forced_switches++;
	g->forced = t->id;
	/* block first, then signal: the woken waiter may run at once, and its take() must find
	 * this thread already waiting for the switch */
	bool outer = !k->in_task;
	k->in_task = true;
	g->holder = -1;
	gil_record(k, g, kern_reason(k, "drops the GIL on request"));
	t->wait_obj = -1;
	t->timeout_hook = NULL;
	kern_block(k, t, TS_GIL, -1,
		   kern_reason(k, "dropped the GIL on request; waits until another thread takes it "
				  "(forced switching)"));
	signal_one(k, g, t);
	if (outer)
		k->in_task = false;
}

/* py2: every check interval the holder releases and re-acquires, signalling a waiter. */
void gil_py2_check(struct kernel *k, struct task *t)
{
	struct gil *g = gil_of(k, t);
	if (!g || g->model != GIL_PY2 || g->holder != t->id || g->waiters.head < 0)
		return;
	struct task *w = k->tasks[g->waiters.head];
	/* the waiter can fight for the GIL only if a core is free to run it now */
	bool idle = false;
	int h = k->procs[t->proc]->host; /* a core of its own host */
	for (int c = k->host_first[h]; c < k->host_first[h] + k->host_cores[h] && !idle; c++)
		idle = k->cores[c].cur < 0;
	g->holder = -1;
	g->holder = t->id; /* released and taken back before anyone else can run */
	g->holds++;
	if (idle) {
		kern_waitq_remove(k, w);
		w->gen++;
		w->py2_retry = true;
		kern_make_ready(k, w, ENQ_WAKEUP,
				kern_reason(k, "signalled by %s at its check interval", t->name));
		t->debt += k->m->gil_contention;
		g->contended++;
	}
}

void gil_collect(struct kernel *k)
{
	for (int i = 0; i < k->nprocs; i++) {
		struct proc *p = k->procs[i];
		if (p->gil.model == GIL_NONE || p->trace_idx < 0)
			continue;
		trace_add_gil(k->tr, p->trace_idx, p->gil.holds, p->gil.switches,
			      p->gil.forced_switches, p->gil.drop_requests);
	}
}

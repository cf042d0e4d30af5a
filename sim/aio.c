/* aio.c — asyncio's event loop, as part of the kernel task (OS thread) that called
 * asyncio.run().
 *
 * Model. Every asyncio Task (the coroutine given to asyncio.run, each create_task(), each
 * coroutine handed to gather()) is a vm_thread of its own, but all of them belong to one
 * kernel task: the task's `vm` points at the coroutine running, and only that one runs.
 * A coroutine runs until it awaits something that is not done (asyncio.sleep, a Task, a
 * gather); then the loop switches, at no simulated cost, to the next ready Task. `await coro`
 * on a plain coroutine is not a switch: the VM runs it in the awaiting Task, as a call.
 * CPU work inside a coroutine (compute) burns on the thread as usual and holds up every
 * other Task: nothing preempts a coroutine but its own await.
 *
 * Determinism. Ready Tasks run first come, first served (the order they became ready in);
 * timers fire in (time, creation) order, and those due are moved to the ready queue, in that
 * order, before the loop picks. With nothing ready and a timer pending, the kernel task
 * blocks (TS_SLEEP, "event loop idle until ...") until the earliest one; with neither, it
 * blocks for good, which the kernel reports as a deadlock once nothing else can happen.
 *
 * Ownership. A Task owns its vm_thread until it finishes and the loop has switched away;
 * the loop owns the thread that called asyncio.run (`outer`) while it runs. The running
 * Task's thread is also t->vm: whoever ends the kernel task frees that one. Tasks and
 * futures outlive their loop (handles to them stay valid) and are freed by aio_free. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

enum ao_kind {
	AO_TASK,    /* asyncio.Task: runs a coroutine */
	AO_SLEEP,   /* asyncio.sleep(d): done d after it is first awaited */
	AO_GATHER,  /* asyncio.gather(...): done when all its children are */
	AO_WAITFOR, /* asyncio.wait_for(aw, timeout): its child's result, or TimeoutError */
};

struct aobj {
	enum ao_kind kind;
	int loop;             /* the loop it belongs to; -1 once that loop has ended */
	int line;             /* where it was made */
	char name[40];        /* "Task-2" */
	char coro[64];        /* a Task's coroutine function */
	bool started;         /* sleep/wait_for: awaited (or gathered) once: its timer runs */
	bool done;
	const char *fail;     /* done with this exception type instead of a result */
	struct value result;
	int64_t delay;        /* sleep: how long; wait_for: the timeout (-1: none) */
	/* AO_TASK */
	struct vm_thread *vm; /* NULL once freed */
	bool ran;             /* has run at least once */
	bool has_answer;      /* resume it by answering its pending await with `answer` */
	struct value answer;
	const char *raise;    /* ... or by raising this */
	int awaiting;         /* the object it awaits, -1 */
	int await_line;
	/* AO_GATHER, AO_WAITFOR: the children */
	int *kids;
	int nkids, kids_done;
	/* objects to tell when it is done: Tasks awaiting it, gathers and wait_fors holding it */
	int *waiters;
	int nwaiters, capwaiters;
};

struct timer {
	int64_t at;
	uint64_t seq;
	int obj; /* the sleep or wait_for it ends */
};

struct aio_loop {
	int task;                 /* the kernel task running the loop */
	bool live;
	struct vm_thread *outer;  /* the code that called asyncio.run, waiting in that call */
	int main;                 /* the Task of asyncio.run's coroutine */
	int cur;                  /* the Task running (its vm is the kernel task's vm) */
	int *ready;               /* FIFO of Tasks: ready[head..n) */
	int nready, headready, capready;
	struct timer *timers;     /* sorted by (at, seq) */
	int ntimers, captimers;
};

struct aio_state {
	struct aobj **objs;       /* handle id -> object */
	int nobjs, capobjs;
	struct aio_loop **loops;
	int nloops, caploops;
	int ntasks_named;         /* for naming Tasks "Task-N", as CPython counts them */
	uint64_t timer_seq;
};

static bool grow(void **v, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return true;
	int nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *p = realloc(*v, (size_t)nc * elem);
	if (!p)
		return false;
	*v = p;
	*cap = nc;
	return true;
}

static struct aio_state *state(struct kernel *k)
{
	if (!k->aio)
		k->aio = calloc(1, sizeof *k->aio);
	return k->aio;
}

static struct aio_loop *loop_of(struct kernel *k, const struct task *t)
{
	struct aio_state *s = k->aio;
	for (int i = 0; s && i < s->nloops; i++)
		if (s->loops[i]->live && s->loops[i]->task == t->id)
			return s->loops[i];
	return NULL;
}

static int loop_index(struct kernel *k, const struct aio_loop *l)
{
	for (int i = 0; i < k->aio->nloops; i++)
		if (k->aio->loops[i] == l)
			return i;
	return -1;
}

static struct aobj *obj_new(struct kernel *k, enum ao_kind kind, int loop, int line)
{
	struct aio_state *s = state(k);
	if (!s || !grow((void **)&s->objs, &s->capobjs, s->nobjs + 1, sizeof *s->objs))
		return NULL;
	struct aobj *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->kind = kind;
	o->loop = loop;
	o->line = line;
	o->result = vm_none();
	o->answer = vm_none();
	o->awaiting = -1;
	o->delay = -1;
	s->objs[s->nobjs++] = o;
	return o;
}

static int obj_id(struct kernel *k, const struct aobj *o)
{
	for (int i = k->aio->nobjs - 1; i >= 0; i--)
		if (k->aio->objs[i] == o)
			return i;
	return -1;
}

/* The object behind a Task or Future handle, or NULL. */
static struct aobj *obj_of(struct kernel *k, struct value h)
{
	if (h.type != V_HANDLE || (h.aux != H_AIOTASK && h.aux != H_FUTURE) || !k->aio ||
	    h.u.i < 0 || h.u.i >= k->aio->nobjs)
		return NULL;
	return k->aio->objs[h.u.i];
}

static bool add_waiter(struct aobj *o, int id)
{
	if (!grow((void **)&o->waiters, &o->capwaiters, o->nwaiters + 1, sizeof *o->waiters))
		return false;
	o->waiters[o->nwaiters++] = id;
	return true;
}

static bool push_ready(struct aio_loop *l, int id)
{
	if (l->headready > 0 && l->headready == l->nready)
		l->headready = l->nready = 0;
	if (!grow((void **)&l->ready, &l->capready, l->nready + 1, sizeof *l->ready))
		return false;
	l->ready[l->nready++] = id;
	return true;
}

static bool add_timer(struct kernel *k, struct aio_loop *l, int64_t at, int obj)
{
	if (!grow((void **)&l->timers, &l->captimers, l->ntimers + 1, sizeof *l->timers))
		return false;
	int i = l->ntimers;
	while (i > 0 && l->timers[i - 1].at > at) /* equal times keep creation order */
		i--;
	memmove(l->timers + i + 1, l->timers + i, (size_t)(l->ntimers - i) * sizeof *l->timers);
	l->timers[i] = (struct timer){.at = at, .seq = k->aio->timer_seq++, .obj = obj};
	l->ntimers++;
	return true;
}

static void drop_timer(struct aio_loop *l, int obj)
{
	for (int i = 0; i < l->ntimers; i++)
		if (l->timers[i].obj == obj) {
			memmove(l->timers + i, l->timers + i + 1,
				(size_t)(l->ntimers - i - 1) * sizeof *l->timers);
			l->ntimers--;
			return;
		}
}

static void mark(struct kernel *k, struct task *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void mark(struct kernel *k, struct task *t, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	kern_mark(k, t, text, kern_reason(k, "asyncio event loop"));
}

/* What an await waits for, as a mark says it: "asyncio.sleep(1s)", "Task-3 (fetch)". */
static const char *describe(struct kernel *k, const struct aobj *o, char *buf, size_t size)
{
	char d[32];
	switch (o->kind) {
	case AO_SLEEP:
		snprintf(buf, size, "asyncio.sleep(%s)", kern_dur_text(o->delay, d));
		break;
	case AO_GATHER:
		snprintf(buf, size, "asyncio.gather() of %d", o->nkids);
		break;
	case AO_WAITFOR:
		snprintf(buf, size, "asyncio.wait_for(timeout=%s)",
			 o->delay < 0 ? "None" : kern_dur_text(o->delay, d));
		break;
	case AO_TASK:
		snprintf(buf, size, "%s (%s)", o->name, o->coro);
		break;
	}
	(void)k;
	return buf;
}

/* ---- completion ---- */

static void complete(struct kernel *k, struct task *t, struct aobj *o, struct value result,
		     const char *fail);

/* A child of a gather or wait_for is done. */
static void child_done(struct kernel *k, struct task *t, struct aobj *parent,
		       const struct aobj *kid)
{
	if (parent->done)
		return;
	if (kid->fail) {
		complete(k, t, parent, vm_none(), kid->fail);
		return;
	}
	if (parent->kind == AO_WAITFOR) {
		vm_ref(kid->result);
		complete(k, t, parent, kid->result, NULL);
		return;
	}
	if (++parent->kids_done < parent->nkids)
		return;
	struct value *items = calloc((size_t)parent->nkids + 1, sizeof *items);
	if (!items) {
		complete(k, t, parent, vm_none(), "MemoryError");
		return;
	}
	for (int i = 0; i < parent->nkids; i++) {
		items[i] = k->aio->objs[parent->kids[i]]->result;
		vm_ref(items[i]);
	}
	struct value list = vm_list(parent->nkids, items);
	free(items);
	complete(k, t, parent, list, NULL);
}

/* o is done (result taken): Tasks awaiting it become ready, in the order they began to
 * wait; gathers and wait_fors holding it hear of it. */
static void complete(struct kernel *k, struct task *t, struct aobj *o, struct value result,
		     const char *fail)
{
	if (o->done) {
		vm_unref(result);
		return;
	}
	o->done = true;
	o->fail = fail;
	vm_unref(o->result);
	o->result = result;
	struct aio_loop *l = o->loop >= 0 ? k->aio->loops[o->loop] : NULL;
	if (l && (o->kind == AO_WAITFOR || o->kind == AO_SLEEP))
		drop_timer(l, obj_id(k, o));
	for (int i = 0; i < o->nwaiters; i++) {
		struct aobj *w = k->aio->objs[o->waiters[i]];
		if (w->kind != AO_TASK) {
			child_done(k, t, w, o);
			continue;
		}
		if (w->done || w->awaiting != obj_id(k, o))
			continue;
		w->awaiting = -1;
		if (fail) {
			w->raise = fail;
		} else {
			w->has_answer = true;
			vm_unref(w->answer);
			w->answer = o->result;
			vm_ref(w->answer);
		}
		if (l && !push_ready(l, o->waiters[i]))
			kern_stop(k, END_LIMIT, "out of memory for the event loop");
	}
}

/* Fires every timer due by now, in (time, creation) order. */
static void fire_due(struct kernel *k, struct task *t, struct aio_loop *l)
{
	while (l->ntimers > 0 && l->timers[0].at <= k->q.now) {
		struct aobj *o = k->aio->objs[l->timers[0].obj];
		memmove(l->timers, l->timers + 1, (size_t)(l->ntimers - 1) * sizeof *l->timers);
		l->ntimers--;
		if (o->kind == AO_SLEEP) {
			vm_ref(o->result);
			complete(k, t, o, o->result, NULL);
		} else {
			complete(k, t, o, vm_none(), "TimeoutError");
		}
	}
}

/* ---- switching ---- */

/* Makes Task `id` the running one: t->vm becomes its thread, and its pending await is
 * answered. The Task it replaces is freed if it has finished. */
static void resume(struct kernel *k, struct task *t, struct aio_loop *l, int id)
{
	struct aobj *old = k->aio->objs[l->cur], *o = k->aio->objs[id];
	if (old != o && old->done && old->vm) {
		vm_thread_destroy(old->vm);
		old->vm = NULL;
	}
	l->cur = id;
	if (o->ran)
		t->line = o->await_line; /* the marks and states name the line it waited at */
	t->vm = o->vm;
	t->has_call = false;
	if (o->raise) {
		vm_raise(o->vm, o->raise, "the wait timed out");
		o->raise = NULL;
	} else if (o->has_answer) {
		o->has_answer = false;
		vm_return(o->vm, o->answer);
		o->answer = vm_none();
	}
	mark(k, t, "%s (%s) %s", o->name, o->coro, o->ran ? "resumes" : "starts");
	o->ran = true;
}

/* The running Task cannot go on: run the next ready one, or block the thread until the
 * earliest timer (or for good, when there is none). */
static enum sys_result switch_next(struct kernel *k, struct task *t, struct aio_loop *l)
{
	fire_due(k, t, l);
	if (l->headready < l->nready) {
		resume(k, t, l, l->ready[l->headready++]);
		return SR_CONTINUE;
	}
	t->has_call = false; /* the running Task's await stays pending in its own thread */
	char d[32], what[128];
	if (l->ntimers > 0) {
		const struct timer *tm = &l->timers[0];
		const struct aobj *o = k->aio->objs[tm->obj];
		kern_block(k, t, TS_SLEEP, tm->at - k->q.now,
			   kern_reason(k, "event loop idle until %s (next timer: %s, line %d)",
				       kern_dur_text(tm->at, d), describe(k, o, what, sizeof what),
				       o->line));
		t->timeout_hook = NULL; /* set below: kern_block keeps it, a wake clears it */
	} else {
		const struct aobj *c = k->aio->objs[l->cur];
		kern_block(k, t, TS_WAIT, -1,
			   kern_reason(k, "event loop has nothing to run and no timer: %s (%s) "
					  "awaits at line %d",
				       c->name, c->coro, c->await_line));
		return SR_BLOCKED;
	}
	return SR_BLOCKED;
}

/* EV_WAKE of a thread whose loop was idle: its earliest timer is due. */
static void loop_wake(struct kernel *k, struct task *t)
{
	struct aio_loop *l = loop_of(k, t);
	if (!l)
		return;
	fire_due(k, t, l);
	if (l->headready >= l->nready) { /* nothing became ready: wait for the next timer */
		if (l->ntimers > 0) {
			t->gen++;
			kern_push_event(k, l->timers[0].at, PRIO_WAKE, EV_WAKE, t->id, t->gen);
		}
		return;
	}
	int id = l->ready[l->headready++];
	resume(k, t, l, id);
	const struct aobj *o = k->aio->objs[id];
	kern_wake(k, t, vm_none(), NULL,
		  kern_reason(k, "event loop: %s (%s) is ready", o->name, o->coro));
}

static enum sys_result block_idle_hooked(struct kernel *k, struct task *t, struct aio_loop *l)
{
	enum sys_result r = switch_next(k, t, l);
	if (r == SR_BLOCKED && t->state == TS_SLEEP)
		t->timeout_hook = loop_wake;
	return r;
}

/* ---- making Tasks and futures ---- */

static struct aobj *task_new(struct kernel *k, struct task *t, struct aio_loop *l,
			     struct value coro, const char *name)
{
	struct aobj *o = obj_new(k, AO_TASK, l ? loop_index(k, l) : -1, t->line);
	if (!o)
		return NULL;
	const char *cname = vm_coro_name(coro, NULL);
	snprintf(o->coro, sizeof o->coro, "%s", cname ? cname : "?");
	k->aio->ntasks_named++;
	if (name)
		snprintf(o->name, sizeof o->name, "%s", name);
	else
		snprintf(o->name, sizeof o->name, "Task-%d", k->aio->ntasks_named);
	vm_ref(coro);
	o->vm = vm_thread_create_call(k->procs[t->proc]->vm, coro, 0, NULL);
	if (!o->vm)
		return NULL;
	vm_thread_set_user(o->vm, t);
	return o;
}

static enum sys_result oom(struct kernel *k, struct task *t)
{
	return kern_raise(k, t, "MemoryError", "out of memory for the event loop");
}

/* A coroutine argument: its repr for a message when it is not a fresh one. */
static bool want_coro(struct kernel *k, struct task *t, struct value v, const char *what)
{
	bool started = false;
	if (!vm_coro_name(v, &started)) {
		char r[128];
		vm_value_repr(k->prog, v, r, sizeof r);
		kern_raise(k, t, what[0] == 'r' ? "ValueError" : "TypeError",
			   "a coroutine was expected, got %s", r);
		return false;
	}
	if (started) {
		kern_raise(k, t, "RuntimeError", "cannot reuse already awaited coroutine");
		return false;
	}
	return true;
}

/* A sleep or wait_for starts its clock when first awaited or gathered. */
static bool start(struct kernel *k, struct task *t, struct aio_loop *l, struct aobj *o)
{
	if (o->started || o->done)
		return true;
	o->started = true;
	o->loop = loop_index(k, l);
	int id = obj_id(k, o);
	if (o->kind == AO_SLEEP) {
		if (o->delay <= 0) { /* sleep(0): done at once; its awaiter yields to the others */
			vm_ref(o->result);
			complete(k, t, o, o->result, NULL);
			return true;
		}
		return add_timer(k, l, k->q.now + o->delay, id);
	}
	if (o->kind == AO_WAITFOR) {
		struct aobj *kid = k->aio->objs[o->kids[0]];
		if (!start(k, t, l, kid) || !add_waiter(kid, id))
			return false;
		if (kid->done) {
			child_done(k, t, o, kid);
			return true;
		}
		return o->delay < 0 || add_timer(k, l, k->q.now + o->delay, id);
	}
	return true;
}

/* An argument of gather or wait_for: a coroutine becomes a new Task (ready to run); a Task
 * or future is used as it is. Returns its id, or -1 after raising. */
static int awaitable_arg(struct kernel *k, struct task *t, struct aio_loop *l, struct value v,
			 const char *fn)
{
	struct aobj *o = obj_of(k, v);
	if (o)
		return obj_id(k, o);
	if (vm_coro_name(v, NULL)) {
		if (!want_coro(k, t, v, fn))
			return -1;
		struct aobj *n = task_new(k, t, l, v, NULL);
		if (!n || !push_ready(l, obj_id(k, n))) {
			oom(k, t);
			return -1;
		}
		return obj_id(k, n);
	}
	kern_raise(k, t, "TypeError", "An asyncio.Future, a coroutine or an awaitable is required");
	return -1;
}

/* ---- system calls ---- */

bool aio_owns(const struct vm_call *c)
{
	if (c->sys == SYS_AIO || c->sys == SYS_AWAIT)
		return true;
	return (c->sys == SYS_METHOD || c->sys == SYS_GETATTR || c->sys == SYS_SETATTR) &&
	       c->self.type == V_HANDLE && (c->self.aux == H_AIOTASK || c->self.aux == H_FUTURE);
}

static enum sys_result aio_run(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	if (loop_of(k, t))
		return kern_raise(k, t, "RuntimeError",
				  "asyncio.run() cannot be called from a running event loop");
	if (!want_coro(k, t, c->argv[0], "run"))
		return SR_RAISED;
	struct aio_state *s = state(k);
	struct aio_loop *l = s ? calloc(1, sizeof *l) : NULL;
	if (!l || !grow((void **)&s->loops, &s->caploops, s->nloops + 1, sizeof *s->loops)) {
		free(l);
		return oom(k, t);
	}
	s->loops[s->nloops++] = l;
	l->task = t->id;
	struct aobj *m = task_new(k, t, l, c->argv[0], NULL);
	if (!m)
		return oom(k, t); /* l is not live: freed with the others */
	l->live = true;
	l->outer = t->vm;
	l->main = l->cur = obj_id(k, m);
	mark(k, t, "asyncio.run(%s()): the event loop starts", m->coro);
	/* the outer code waits in asyncio.run(); the main Task runs in its place */
	t->vm = m->vm;
	t->has_call = false;
	mark(k, t, "%s (%s) starts", m->name, m->coro);
	m->ran = true;
	return SR_CONTINUE;
}

static enum sys_result aio_await(struct kernel *k, struct task *t, struct aio_loop *l)
{
	const struct vm_call *c = &t->call;
	struct aobj *o = obj_of(k, c->argv[0]);
	if (!o) /* a Lock, a Thread, ...: handles that are not awaitable */
		return kern_raise(k, t, "TypeError", "object %s can't be used in 'await' expression",
				  vm_handle_class((enum vm_handle_kind)c->argv[0].aux));
	int id = obj_id(k, o);
	struct aobj *cur = k->aio->objs[l->cur];
	if (id == l->cur)
		return kern_raise(k, t, "RuntimeError", "Task cannot await on itself");
	if (o->kind == AO_SLEEP || o->kind == AO_WAITFOR) {
		/* coroutines in CPython: awaited once */
		if (o->started && o->done)
			return kern_raise(k, t, "RuntimeError", "cannot reuse already awaited coroutine");
		if (o->started)
			return kern_raise(k, t, "RuntimeError", "coroutine is being awaited already");
		if (!start(k, t, l, o))
			return oom(k, t);
		if (o->done && o->kind == AO_SLEEP) {
			/* sleep(0) and less: the Task goes behind the ready ones */
			cur->has_answer = true;
			cur->answer = o->result;
			vm_ref(cur->answer);
			if (!push_ready(l, l->cur))
				return oom(k, t);
			cur->await_line = c->line;
			mark(k, t, "%s (%s) yields at line %d", cur->name, cur->coro, c->line);
			return block_idle_hooked(k, t, l);
		}
	}
	if (o->done) {
		if (o->fail)
			return kern_raise(k, t, o->fail, "the wait timed out");
		vm_ref(o->result);
		return kern_answer(t, o->result);
	}
	if (!add_waiter(o, l->cur))
		return oom(k, t);
	cur->awaiting = id;
	cur->await_line = c->line;
	char what[128];
	mark(k, t, "%s (%s) awaits %s at line %d", cur->name, cur->coro,
	     describe(k, o, what, sizeof what), c->line);
	return block_idle_hooked(k, t, l);
}

static enum sys_result aio_call(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const char *n = c->name ? c->name : "";
	if (strncmp(n, "asyncio.", 8) == 0)
		n += 8;
	if (strcmp(n, "run") == 0)
		return aio_run(k, t);
	struct aio_loop *l = loop_of(k, t);
	if (strcmp(n, "sleep") == 0) {
		int64_t ns;
		if (c->argc < 1 || c->argv[0].type == V_NONE ||
		    !kern_timeout_arg(k, t, &c->argv[0], &ns))
			return t->has_call ? kern_raise(k, t, "TypeError",
							"asyncio.sleep() takes a number of seconds or a duration")
					   : SR_RAISED;
		struct aobj *o = obj_new(k, AO_SLEEP, l ? loop_index(k, l) : -1, c->line);
		if (!o)
			return oom(k, t);
		o->delay = ns;
		const struct value *r = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "result");
		if (r) {
			o->result = *r;
			vm_ref(o->result);
		}
		return kern_answer(t, vm_handle(H_FUTURE, obj_id(k, o)));
	}
	if (!l)
		return kern_raise(k, t, "RuntimeError", "no running event loop");
	if (strcmp(n, "create_task") == 0) {
		if (!want_coro(k, t, c->argv[0], "create_task"))
			return SR_RAISED;
		const struct value *nm = kern_kwarg(c, "name");
		const char *name = nm ? vm_str_data(*nm, NULL) : NULL;
		struct aobj *o = task_new(k, t, l, c->argv[0], name);
		if (!o || !push_ready(l, obj_id(k, o)))
			return oom(k, t);
		return kern_answer(t, vm_handle(H_AIOTASK, obj_id(k, o)));
	}
	if (strcmp(n, "gather") == 0 || strcmp(n, "wait_for") == 0) {
		bool gather = n[0] == 'g';
		int nk = gather ? c->argc : 1;
		int64_t timeout = -1;
		if (!gather) {
			const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
			if (!tv)
				return kern_raise(k, t, "TypeError",
						  "wait_for() missing 1 required positional argument: 'timeout'");
			if (!kern_timeout_arg(k, t, tv, &timeout))
				return SR_RAISED;
		}
		int kids[VM_MAX_ARGS];
		for (int i = 0; i < nk; i++)
			if ((kids[i] = awaitable_arg(k, t, l, c->argv[i], n)) < 0)
				return SR_RAISED;
		struct aobj *g = obj_new(k, gather ? AO_GATHER : AO_WAITFOR, loop_index(k, l), c->line);
		if (!g || !(g->kids = malloc(((size_t)nk + 1) * sizeof *g->kids)))
			return oom(k, t);
		memcpy(g->kids, kids, (size_t)nk * sizeof *kids);
		g->nkids = nk;
		g->delay = timeout;
		int gid = obj_id(k, g);
		if (gather) {
			/* the children run (sleeps start) now; the gather hears of each */
			for (int i = 0; i < nk; i++) {
				struct aobj *kid = k->aio->objs[kids[i]];
				if (!start(k, t, l, kid) || !add_waiter(kid, gid))
					return oom(k, t);
			}
			for (int i = 0; i < nk; i++)
				if (k->aio->objs[kids[i]]->done)
					child_done(k, t, g, k->aio->objs[kids[i]]);
			if (nk == 0)
				complete(k, t, g, vm_list(0, NULL), NULL);
		}
		return kern_answer(t, vm_handle(H_FUTURE, gid));
	}
	return kern_raise(k, t, "AttributeError", "asyncio.%s is not part of the scenario language yet", n);
}

static enum sys_result aio_method(struct kernel *k, struct task *t, struct aobj *o)
{
	const struct vm_call *c = &t->call;
	const char *n = c->name ? c->name : "";
	const char *cls = o->kind == AO_TASK ? "Task" : "Future";
	if (c->sys == SYS_SETATTR)
		return kern_raise(k, t, "AttributeError", "'%s' object attribute '%s' is read-only",
				  cls, n);
	if (c->sys == SYS_GETATTR)
		return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'", cls, n);
	if (strcmp(n, "done") == 0)
		return kern_answer(t, vm_bool(o->done));
	if (strcmp(n, "cancelled") == 0)
		return kern_answer(t, vm_bool(false));
	if (strcmp(n, "get_name") == 0 && o->kind == AO_TASK)
		return kern_answer(t, vm_str(o->name, strlen(o->name)));
	if (strcmp(n, "result") == 0) {
		if (!o->done)
			return kern_raise(k, t, "asyncio.InvalidStateError", "Result is not set.");
		if (o->fail)
			return kern_raise(k, t, o->fail, "the wait timed out");
		vm_ref(o->result);
		return kern_answer(t, o->result);
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'", cls, n);
}

enum sys_result aio_syscall(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	if (!state(k))
		return oom(k, t);
	if (c->sys == SYS_AIO)
		return aio_call(k, t);
	if (c->sys == SYS_AWAIT) {
		struct aio_loop *l = loop_of(k, t);
		if (!l)
			return kern_raise(k, t, "RuntimeError", "no running event loop");
		return aio_await(k, t, l);
	}
	struct aobj *o = obj_of(k, c->self);
	if (!o)
		return kern_raise(k, t, "ValueError", "not a Task or Future of this run");
	return aio_method(k, t, o);
}

/* ---- the end of a Task, of a loop ---- */

/* The loop is over: its Tasks' threads are freed, except `keep` (the kernel task's vm). */
static void loop_end(struct kernel *k, struct aio_loop *l, struct vm_thread *keep)
{
	int li = loop_index(k, l);
	for (int i = 0; i < k->aio->nobjs; i++) {
		struct aobj *o = k->aio->objs[i];
		if (o->loop != li)
			continue;
		if (o->vm && o->vm != keep)
			vm_thread_destroy(o->vm);
		o->vm = NULL;
		o->loop = -1;
	}
	if (l->outer != keep)
		vm_thread_destroy(l->outer);
	l->outer = NULL;
	l->live = false;
	l->ntimers = 0;
	l->nready = l->headready = 0;
}

bool aio_coro_exit(struct kernel *k, struct task *t)
{
	struct aio_loop *l = loop_of(k, t);
	if (!l || t->vm == l->outer)
		return false;
	struct aobj *o = k->aio->objs[l->cur];
	struct value r = vm_thread_result(t->vm);
	vm_ref(r);
	mark(k, t, "%s (%s) finished", o->name, o->coro);
	complete(k, t, o, r, NULL);
	if (l->cur != l->main) {
		/* task_exec goes on with the next Task, or finds the thread blocked (idle) */
		block_idle_hooked(k, t, l);
		return true;
	}
	/* asyncio.run's coroutine returned: the loop closes (Tasks still pending are dropped,
	 * as CPython cancels them) and the outer code gets the result */
	struct vm_thread *outer = l->outer;
	vm_ref(o->result);
	struct value res = o->result;
	l->outer = NULL;
	loop_end(k, l, NULL);
	t->vm = outer;
	t->has_call = false;
	vm_return(outer, res);
	mark(k, t, "asyncio.run() returns: the event loop is closed");
	return true;
}

void aio_coro_error(struct kernel *k, struct task *t)
{
	struct aio_loop *l = loop_of(k, t);
	if (!l || t->vm == l->outer)
		return;
	loop_end(k, l, t->vm);
}

bool aio_repr(struct kernel *k, const struct value *h, char *buf, size_t size)
{
	struct aobj *o = obj_of(k, *h);
	if (!o)
		return false;
	char what[128];
	if (o->kind == AO_TASK)
		snprintf(buf, size, "<Task %s name='%s' coro=<coroutine object %s>>",
			 o->done ? "finished" : "pending", o->name, o->coro);
	else
		snprintf(buf, size, "<Future %s %s>", o->done ? "finished" : "pending",
			 describe(k, o, what, sizeof what));
	return true;
}

void aio_free(struct kernel *k)
{
	struct aio_state *s = k->aio;
	if (!s)
		return;
	for (int i = 0; i < s->nloops; i++) {
		struct aio_loop *l = s->loops[i];
		if (l->live) {
			/* the running Task's thread is the kernel task's vm: the kernel frees it */
			struct vm_thread *keep = s->objs[l->cur]->vm;
			loop_end(k, l, keep);
		}
		free(l->ready);
		free(l->timers);
		free(l);
	}
	for (int i = 0; i < s->nobjs; i++) {
		struct aobj *o = s->objs[i];
		vm_thread_destroy(o->vm);
		vm_unref(o->result);
		vm_unref(o->answer);
		free(o->kids);
		free(o->waiters);
		free(o);
	}
	free(s->objs);
	free(s->loops);
	free(s);
	k->aio = NULL;
}

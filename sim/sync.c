/* sync.c — threading's synchronisation objects in the simulated kernel: Lock, RLock,
 * Semaphore, BoundedSemaphore, Condition, Event, Barrier and local.
 *
 * Waiters queue in FIFO order, and a released lock or semaphore permit is handed directly to
 * the first waiter (it becomes ready owning it), so a schedule can be worked out by hand.
 * CPython's locks make no such promise; where order matters, that is the model's choice.
 * Errors are the ones CPython raises, with its messages. Every block and hand-over is a trace
 * record with its reason, and lock ownership is a track of its own (TR_OBJ records). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"
#include "sched_common.h"

static struct kobj *obj_of(struct kernel *k, const struct value *h)
{
	int id = (int)h->u.i;
	return id >= 0 && id < k->nobjs ? k->objs[id] : NULL;
}

const char *sync_name(const struct kernel *k, int obj)
{
	return obj >= 0 && obj < k->nobjs ? k->objs[obj]->name : "?";
}

static const char *task_name(const struct kernel *k, int task)
{
	return task >= 0 && task < k->ntasks ? k->tasks[task]->name : "nobody";
}

/* Ownership changed: a record on the object's own track. */
static void owner_record(struct kernel *k, struct kobj *o, uint32_t reason)
{
	kern_emit(k, (struct trace_rec){.tid = o->owner >= 0 ? k->tasks[o->owner]->trace_idx : -1,
					.core = -1,
					.kind = TR_OBJ,
					.state = (uint8_t)(o->owner >= 0 ? OBJ_HELD : OBJ_FREE),
					.obj = o->trace_idx,
					.reason = reason,
					.line = (uint32_t)(o->owner >= 0 ? o->owner_line : 0)});
}

static void take(struct kernel *k, struct kobj *o, struct task *t, int count)
{
	race_acquire(k, t, o->id);
	o->owner = t->id;
	o->count = count;
	o->owner_line = t->line;
	owner_record(k, o, kern_reason(k, "%s acquires %s at line %d", t->name, o->name, t->line));
}

/* Wakes w with a Python exception instead of a value. */
static void wake_raise(struct kernel *k, struct task *w, const char *type, const char *msg)
{
	kern_waitq_remove(k, w);
	w->gen++;
	w->timeout_hook = NULL;
	if (w->has_call) {
		vm_raise(w->vm, type, msg);
		w->has_call = false;
	}
	kern_make_ready(k, w, ENQ_WAKEUP, kern_reason(k, "%s: %s", type, msg));
}

/* Frees a lock (fully) and hands it to its first waiter, if any. */
static void lock_pass_on(struct kernel *k, struct kobj *o, struct task *by)
{
	race_release(k, by, o->id);
	int head = o->waiters.head;
	if (head < 0) {
		o->owner = -1;
		o->count = 0;
		owner_record(k, o, kern_reason(k, "%s releases %s", by ? by->name : "exit", o->name));
		return;
	}
	struct task *w = k->tasks[head];
	race_acquire(k, w, o->id);
	o->owner = w->id;
	o->count = w->want_count > 0 ? w->want_count : 1;
	o->owner_line = w->line;
	w->wait_obj = -1;
	owner_record(k, o, kern_reason(k, "%s hands %s to %s", by ? by->name : "exit", o->name,
				       w->name));
	bool answer = w->handoff_answer;
	w->timeout_hook = NULL;
	if (o->inherit) /* what the waiters lent the old owner now goes to the new one */
		sched_pi_update(k, by);
	kern_wake(k, w, vm_bool(answer), by,
		  kern_reason(k, "%s handed over by %s", o->name, by ? by->name : "exit"));
	if (o->inherit)
		sched_pi_update(k, w);
}

static void wait_on(struct kernel *k, struct task *t, struct kobj *o, int64_t timeout,
		    bool follow, uint32_t reason)
{
	kern_waitq_add(k, &o->waiters, t);
	t->wait_obj = follow && timeout < 0 ? o->id : -1;
	t->wait_kind = o->kind;
	t->timeout_value = vm_bool(false);
	t->handoff_answer = true;
	kern_block(k, t, TS_LOCK, timeout, reason);
	if (follow && timeout < 0)
		deadlock_check(k, t);
}

/* acquire(blocking=True, timeout=-1) of a Lock or RLock, also `with lock:`. */
static enum sys_result lock_acquire(struct kernel *k, struct task *t, struct kobj *o)
{
	const struct vm_call *c = &t->call;
	const struct value *bv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "blocking");
	const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
	bool blocking = !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (tv && !(tv->type == V_INT && tv->u.i == -1) && !(tv->type == V_FLOAT && tv->u.f == -1)) {
		if (!blocking)
			return kern_raise(k, t, "ValueError",
					  "can't specify a timeout for a non-blocking call");
		if (!kern_timeout_arg(k, t, tv, &timeout))
			return SR_RAISED;
		if (timeout < 0)
			return kern_raise(k, t, "ValueError", "timeout value must be positive");
	}
	if (o->owner < 0) {
		take(k, o, t, 1);
		return kern_answer(t, vm_bool(true));
	}
	if (o->kind == H_RLOCK && o->owner == t->id) {
		o->count++;
		return kern_answer(t, vm_bool(true));
	}
	if (!blocking)
		return kern_answer(t, vm_bool(false));
	t->want_count = 1;
	wait_on(k, t, o, timeout, true,
		kern_reason(k, "waits for %s held by %s (since line %d)", o->name,
			    task_name(k, o->owner), o->owner_line));
	if (o->inherit && o->owner >= 0) /* lends the owner its priority */
		sched_pi_update(k, k->tasks[o->owner]);
	return SR_BLOCKED;
}

static enum sys_result lock_release(struct kernel *k, struct task *t, struct kobj *o)
{
	if (o->kind == H_RLOCK) {
		if (o->owner != t->id)
			return kern_raise(k, t, "RuntimeError", "cannot release un-acquired lock");
		if (--o->count > 0)
			return kern_answer(t, vm_none());
	} else if (o->owner < 0) {
		return kern_raise(k, t, "RuntimeError", "release unlocked lock");
	}
	lock_pass_on(k, o, t);
	return kern_answer(t, vm_none());
}

static enum sys_result sem_acquire(struct kernel *k, struct task *t, struct kobj *o)
{
	const struct vm_call *c = &t->call;
	const struct value *bv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "blocking");
	const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
	bool blocking = !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (tv && tv->type != V_NONE) {
		if (!blocking)
			return kern_raise(k, t, "ValueError",
					  "can't specify timeout for non-blocking acquire");
		if (!kern_timeout_arg(k, t, tv, &timeout))
			return SR_RAISED;
	}
	if (o->value > 0) {
		o->value--;
		race_acquire(k, t, o->id);
		return kern_answer(t, vm_bool(true));
	}
	if (!blocking)
		return kern_answer(t, vm_bool(false));
	wait_on(k, t, o, timeout, false,
		kern_reason(k, "waits for %s (no permit left)", o->name));
	return SR_BLOCKED;
}

static enum sys_result sem_release(struct kernel *k, struct task *t, struct kobj *o)
{
	const struct vm_call *c = &t->call;
	const struct value *nv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "n");
	int64_t n = 1;
	if (nv) {
		if (nv->type != V_INT)
			return kern_raise(k, t, "TypeError", "n must be an integer");
		n = nv->u.i;
		if (n < 1)
			return kern_raise(k, t, "ValueError", "n must be one or more");
	}
	if (o->bound >= 0 && o->value + n > o->bound)
		return kern_raise(k, t, "ValueError", "Semaphore released too many times");
	race_release(k, t, o->id);
	for (int64_t i = 0; i < n; i++) {
		if (o->waiters.head >= 0) {
			struct task *w = k->tasks[o->waiters.head];
			race_acquire(k, w, o->id);
			w->timeout_hook = NULL;
			kern_wake(k, w, vm_bool(true), t,
				  kern_reason(k, "%s gives a permit of %s", t->name, o->name));
		} else {
			o->value++;
		}
	}
	return kern_answer(t, vm_none());
}

/* ---- Condition ---- */

static bool owns(const struct kobj *lock, const struct task *t)
{
	return lock->owner == t->id;
}

/* A condition wait timed out: the thread must re-acquire the lock before wait() returns
 * False. */
static void cond_timeout(struct kernel *k, struct task *t)
{
	struct kobj *cv = k->objs[t->wait_cond];
	struct kobj *lock = k->objs[cv->lock];
	kern_waitq_remove(k, t);
	t->timeout_hook = NULL;
	t->handoff_answer = false;
	if (lock->owner < 0) {
		take(k, lock, t, t->want_count);
		kern_wake(k, t, vm_bool(false), NULL,
			  kern_reason(k, "wait(%s) timed out; %s re-acquired", cv->name, lock->name));
		return;
	}
	kern_waitq_add(k, &lock->waiters, t);
	t->wait_obj = lock->id;
	t->wait_kind = lock->kind;
	t->state = TS_LOCK;
	kern_emit(k, (struct trace_rec){.tid = t->trace_idx, .core = -1, .kind = TR_STATE,
					.state = TS_LOCK, .obj = -1,
					.reason = kern_reason(k, "wait(%s) timed out; waits to re-acquire %s",
							      cv->name, lock->name),
					.line = (uint32_t)t->line});
}

static enum sys_result cond_wait(struct kernel *k, struct task *t, struct kobj *cv)
{
	struct kobj *lock = k->objs[cv->lock];
	const struct vm_call *c = &t->call;
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
	int64_t timeout = -1;
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	if (!owns(lock, t))
		return kern_raise(k, t, "RuntimeError", "cannot wait on un-acquired lock");
	t->want_count = lock->count;
	lock_pass_on(k, lock, t);
	kern_waitq_add(k, &cv->waiters, t);
	t->wait_obj = -1; /* a notify can come from anyone: not an edge of the graph */
	t->wait_kind = H_CONDITION;
	t->wait_cond = cv->id;
	t->handoff_answer = true;
	if (timeout >= 0)
		t->timeout_hook = cond_timeout;
	kern_block(k, t, TS_LOCK, timeout,
		   kern_reason(k, "waits on %s (line %d), %s released", cv->name, t->line,
			       lock->name));
	return SR_BLOCKED;
}

static enum sys_result cond_notify(struct kernel *k, struct task *t, struct kobj *cv, bool all)
{
	struct kobj *lock = k->objs[cv->lock];
	const struct vm_call *c = &t->call;
	int64_t n = 1;
	if (!all) {
		const struct value *nv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "n");
		if (nv) {
			if (nv->type != V_INT)
				return kern_raise(k, t, "TypeError", "n must be an integer");
			n = nv->u.i;
		}
	}
	if (!owns(lock, t))
		return kern_raise(k, t, "RuntimeError", "cannot notify on un-acquired lock");
	race_release(k, t, cv->id);
	/* the notified move to the lock's queue: they return once they hold it again */
	while ((all || n-- > 0) && cv->waiters.head >= 0) {
		struct task *w = k->tasks[cv->waiters.head];
		race_acquire(k, w, cv->id);
		kern_waitq_remove(k, w);
		w->gen++; /* its timeout no longer applies */
		w->timeout_hook = NULL;
		w->handoff_answer = true;
		kern_waitq_add(k, &lock->waiters, w);
		w->wait_obj = lock->id;
		w->wait_kind = lock->kind;
		kern_emit(k, (struct trace_rec){.tid = w->trace_idx, .core = -1, .kind = TR_WAKE,
						.obj = t->trace_idx,
						.reason = kern_reason(k, "%s notifies %s", t->name,
								      cv->name)});
		kern_emit(k, (struct trace_rec){.tid = w->trace_idx, .core = -1, .kind = TR_STATE,
						.state = TS_LOCK, .obj = -1,
						.reason = kern_reason(k, "notified on %s; waits to re-acquire %s",
								      cv->name, lock->name),
						.line = (uint32_t)w->line});
	}
	return kern_answer(t, vm_none());
}

/* ---- Event and Barrier ---- */

static enum sys_result event_wait(struct kernel *k, struct task *t, struct kobj *o)
{
	const struct vm_call *c = &t->call;
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
	int64_t timeout = -1;
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	if (o->flag) {
		race_acquire(k, t, o->id);
		return kern_answer(t, vm_bool(true));
	}
	wait_on(k, t, o, timeout, false, kern_reason(k, "waits for %s to be set", o->name));
	return SR_BLOCKED;
}

static void barrier_break(struct kernel *k, struct kobj *o)
{
	o->broken = true;
	while (o->waiters.head >= 0)
		wake_raise(k, k->tasks[o->waiters.head], "BrokenBarrierError", "the barrier is broken");
}

static void barrier_timeout(struct kernel *k, struct task *t)
{
	struct kobj *o = k->objs[t->wait_cond];
	t->timeout_hook = NULL;
	barrier_break(k, o); /* wakes t too, with the error */
}

static enum sys_result barrier_wait(struct kernel *k, struct task *t, struct kobj *o)
{
	const struct vm_call *c = &t->call;
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
	int64_t timeout = o->value; /* the barrier's default timeout, -1 for none */
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	if (o->broken)
		return kern_raise(k, t, "BrokenBarrierError", "%s", "the barrier is broken");
	int index = o->arrived++;
	race_release(k, t, o->id);
	if (o->arrived == o->parties) {
		/* the last to arrive releases everyone; each gets its arrival index */
		o->arrived = 0;
		race_acquire(k, t, o->id);
		while (o->waiters.head >= 0) {
			struct task *w = k->tasks[o->waiters.head];
			race_acquire(k, w, o->id);
			w->timeout_hook = NULL;
			kern_wake(k, w, vm_int(w->want_count), t,
				  kern_reason(k, "%s is the last of %d at %s", t->name, o->parties,
					      o->name));
		}
		return kern_answer(t, vm_int(index));
	}
	t->want_count = index;
	t->wait_cond = o->id;
	if (timeout >= 0)
		t->timeout_hook = barrier_timeout;
	kern_waitq_add(k, &o->waiters, t);
	t->wait_obj = -1;
	t->wait_kind = H_BARRIER;
	kern_block(k, t, TS_LOCK, timeout,
		   kern_reason(k, "waits at %s (%d of %d arrived)", o->name, o->arrived, o->parties));
	return SR_BLOCKED;
}

/* ---- local ---- */

static struct local_attr *local_find(struct kobj *o, int task, const char *name)
{
	for (int i = 0; i < o->nattrs; i++)
		if (o->attrs[i].task == task && strcmp(o->attrs[i].name, name) == 0)
			return &o->attrs[i];
	return NULL;
}

/* ---- dispatch ---- */

static const char *const kind_class[H_KIND_COUNT] = {
	[H_LOCK] = "Lock", [H_RLOCK] = "RLock", [H_SEMAPHORE] = "Semaphore",
	[H_CONDITION] = "Condition", [H_EVENT] = "Event", [H_BARRIER] = "Barrier",
	[H_LOCAL] = "local", [H_QUEUE] = "Queue", [H_TQUEUE] = "Queue", [H_CONN] = "Connection",
	[H_VALUE] = "Value", [H_ARRAY] = "Array", [H_POOL] = "Pool", [H_ASYNC] = "AsyncResult",
	[H_POPEN] = "Popen", [H_FILE] = "file", [H_MANAGER] = "BaseManager", [H_PROXY] = "proxy",
};

struct kobj *sync_obj_new(struct kernel *k, struct task *t, enum vm_handle_kind kind)
{
	if (k->nobjs == k->capobjs) {
		int cap = k->capobjs ? k->capobjs * 2 : 16;
		struct kobj **v = realloc(k->objs, (size_t)cap * sizeof *v);
		if (!v)
			return NULL;
		k->objs = v;
		k->capobjs = cap;
	}
	struct kobj *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->id = k->nobjs;
	o->kind = kind;
	o->owner = -1;
	o->bound = -1;
	o->value = -1;
	o->lock = -1;
	o->line = t->line;
	o->waiters = (struct waitq){-1, -1};
	int same = 0;
	for (int i = 0; i < k->nobjs; i++)
		same += k->objs[i]->kind == kind;
	if (t->call.target)
		snprintf(o->name, sizeof o->name, "%s", t->call.target);
	else
		snprintf(o->name, sizeof o->name, "%s-%d", kind_class[kind], same + 1);
	o->trace_idx = trace_add_object(k->tr, o->name, kind_class[kind], o->line);
	if (o->trace_idx < 0) {
		free(o);
		return NULL;
	}
	k->objs[k->nobjs++] = o;
	return o;
}

enum sys_result sync_new(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const char *cls = c->name ? c->name : "";
	static const struct {
		const char *name;
		enum vm_handle_kind kind;
	} classes[] = {
		{"Lock", H_LOCK}, {"RLock", H_RLOCK}, {"Semaphore", H_SEMAPHORE},
		{"BoundedSemaphore", H_SEMAPHORE}, {"Condition", H_CONDITION}, {"Event", H_EVENT},
		{"Barrier", H_BARRIER}, {"local", H_LOCAL},
	};
	int kind = -1;
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strcmp(cls, classes[i].name) == 0)
			kind = (int)classes[i].kind;
	if (kind < 0)
		return subp_owns_new(cls) ? subp_new(k, t) /* external commands, open files */
					  : ipc_new(k, t); /* queues, pipes, shared memory, pools */
	const struct value *a0 = c->argc > 0 ? &c->argv[0] : NULL;
	int64_t value = 1, timeout = -1;
	int lock = -1;
	switch (kind) {
	case H_SEMAPHORE:
		if (!a0)
			a0 = kern_kwarg(c, "value");
		if (a0) {
			if (a0->type != V_INT)
				return kern_raise(k, t, "TypeError", "semaphore value must be an integer");
			value = a0->u.i;
		}
		if (value < 0)
			return kern_raise(k, t, "ValueError", "semaphore initial value must be >= 0");
		break;
	case H_CONDITION:
		if (!a0)
			a0 = kern_kwarg(c, "lock");
		if (a0 && a0->type != V_NONE) {
			if (a0->type != V_HANDLE || (a0->aux != H_LOCK && a0->aux != H_RLOCK))
				return kern_raise(k, t, "TypeError", "Condition(lock) needs a Lock or RLock");
			lock = (int)a0->u.i;
		}
		break;
	case H_BARRIER:
		if (!a0 || a0->type != V_INT)
			return kern_raise(k, t, "TypeError", "Barrier(parties) needs an integer");
		if (a0->u.i < 1) /* CPython 3.13's check; 3.11 accepted it and hung in wait() */
			return kern_raise(k, t, "ValueError", "parties must be > 0");
		if (kern_kwarg(c, "timeout") && !kern_timeout_arg(k, t, kern_kwarg(c, "timeout"), &timeout))
			return SR_RAISED;
		break;
	default:
		break;
	}
	struct kobj *o = sync_obj_new(k, t, (enum vm_handle_kind)kind);
	if (!o)
		return kern_raise(k, t, "MemoryError", "out of memory");
	if (kind == H_LOCK && kern_kwarg(c, "inherit")) /* priority inheritance, sched_common.c */
		o->inherit = vm_truthy(*kern_kwarg(c, "inherit"));
	if (kind == H_SEMAPHORE) {
		o->value = value;
		o->bound = strcmp(cls, "BoundedSemaphore") == 0 ? value : -1;
	} else if (kind == H_CONDITION) {
		if (lock < 0) { /* Condition() makes an RLock of its own */
			char name[64];
			snprintf(name, sizeof name, "%.58s.lock", o->name);
			struct vm_call save = t->call;
			t->call.target = NULL;
			struct kobj *l = sync_obj_new(k, t, H_RLOCK);
			t->call = save;
			if (!l)
				return kern_raise(k, t, "MemoryError", "out of memory");
			snprintf(l->name, sizeof l->name, "%s", name);
			lock = l->id;
		}
		o->lock = lock;
	} else if (kind == H_BARRIER) {
		o->parties = (int)a0->u.i;
		o->value = timeout;
	}
	return kern_answer(t, vm_handle((enum vm_handle_kind)kind, o->id));
}

enum sys_result sync_method(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct kobj *o = obj_of(k, &c->self);
	const char *m = c->name;
	if (!o)
		return kern_raise(k, t, "RuntimeError", "not a synchronisation object");
	bool enter = strcmp(m, "__enter__") == 0, exit_ = strcmp(m, "__exit__") == 0;
	switch (o->kind) {
	case H_LOCK:
	case H_RLOCK:
		if (enter || strcmp(m, "acquire") == 0)
			return lock_acquire(k, t, o);
		if (exit_ || strcmp(m, "release") == 0)
			return lock_release(k, t, o);
		if (strcmp(m, "locked") == 0)
			return kern_answer(t, vm_bool(o->owner >= 0));
		break;
	case H_SEMAPHORE:
		if (enter || strcmp(m, "acquire") == 0)
			return sem_acquire(k, t, o);
		if (exit_ || strcmp(m, "release") == 0)
			return sem_release(k, t, o);
		break;
	case H_CONDITION: {
		struct kobj *lock = k->objs[o->lock];
		if (enter || strcmp(m, "acquire") == 0)
			return lock_acquire(k, t, lock);
		if (exit_ || strcmp(m, "release") == 0)
			return lock_release(k, t, lock);
		if (strcmp(m, "wait") == 0)
			return cond_wait(k, t, o);
		if (strcmp(m, "notify") == 0)
			return cond_notify(k, t, o, false);
		if (strcmp(m, "notify_all") == 0 || strcmp(m, "notifyAll") == 0)
			return cond_notify(k, t, o, true);
		break;
	}
	case H_EVENT:
		if (strcmp(m, "set") == 0) {
			o->flag = true;
			race_release(k, t, o->id);
			while (o->waiters.head >= 0) {
				struct task *w = k->tasks[o->waiters.head];
				race_acquire(k, w, o->id);
				w->timeout_hook = NULL;
				kern_wake(k, w, vm_bool(true), t,
					  kern_reason(k, "%s sets %s", t->name, o->name));
			}
			return kern_answer(t, vm_none());
		}
		if (strcmp(m, "clear") == 0) {
			o->flag = false;
			return kern_answer(t, vm_none());
		}
		if (strcmp(m, "is_set") == 0 || strcmp(m, "isSet") == 0)
			return kern_answer(t, vm_bool(o->flag));
		if (strcmp(m, "wait") == 0)
			return event_wait(k, t, o);
		break;
	case H_BARRIER:
		if (strcmp(m, "wait") == 0)
			return barrier_wait(k, t, o);
		if (strcmp(m, "abort") == 0) {
			barrier_break(k, o);
			return kern_answer(t, vm_none());
		}
		if (strcmp(m, "reset") == 0) {
			barrier_break(k, o);
			o->broken = false;
			o->arrived = 0;
			return kern_answer(t, vm_none());
		}
		break;
	default:
		break;
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  kind_class[o->kind] ? kind_class[o->kind] : "object", m);
}

enum sys_result sync_getattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct kobj *o = obj_of(k, &c->self);
	const char *a = c->name;
	if (!o)
		return kern_raise(k, t, "RuntimeError", "not a synchronisation object");
	if (o->kind == H_LOCAL) {
		struct local_attr *la = local_find(o, t->id, a);
		if (!la)
			return kern_raise(k, t, "AttributeError",
					  "'_thread._local' object has no attribute '%s'", a);
		vm_ref(la->value);
		return kern_answer(t, la->value);
	}
	if (o->kind == H_BARRIER) {
		if (strcmp(a, "parties") == 0)
			return kern_answer(t, vm_int(o->parties));
		if (strcmp(a, "n_waiting") == 0)
			return kern_answer(t, vm_int(o->arrived));
		if (strcmp(a, "broken") == 0)
			return kern_answer(t, vm_bool(o->broken));
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  kind_class[o->kind], a);
}

enum sys_result sync_setattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct kobj *o = obj_of(k, &c->self);
	if (!o || o->kind != H_LOCAL)
		return kern_raise(k, t, "AttributeError", "'%s' object attribute '%s' is read-only",
				  o && kind_class[o->kind] ? kind_class[o->kind] : "object", c->name);
	struct value v = c->argc > 0 ? c->argv[0] : vm_none();
	struct local_attr *la = local_find(o, t->id, c->name);
	if (!la) {
		if (o->nattrs == o->capattrs) {
			int cap = o->capattrs ? o->capattrs * 2 : 8;
			struct local_attr *n = realloc(o->attrs, (size_t)cap * sizeof *n);
			if (!n)
				return kern_raise(k, t, "MemoryError", "out of memory");
			o->attrs = n;
			o->capattrs = cap;
		}
		char *name = strdup(c->name);
		if (!name)
			return kern_raise(k, t, "MemoryError", "out of memory");
		la = &o->attrs[o->nattrs++];
		*la = (struct local_attr){.task = t->id, .name = name, .value = vm_none()};
	}
	vm_ref(v);
	vm_unref(la->value);
	la->value = v;
	return kern_answer(t, vm_none());
}

void sync_free(struct kernel *k)
{
	for (int i = 0; i < k->nobjs; i++) {
		struct kobj *o = k->objs[i];
		if (o->kind >= H_MANAGER)
			net_free_obj(k, o);
		else
			ipc_free_obj(k, o);
		for (int a = 0; a < o->nattrs; a++) {
			free(o->attrs[a].name);
			vm_unref(o->attrs[a].value);
		}
		free(o->attrs);
		free(o);
	}
	free(k->objs);
	k->objs = NULL;
	k->nobjs = k->capobjs = 0;
}

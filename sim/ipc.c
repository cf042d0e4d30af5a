/* ipc.c — processes that talk: multiprocessing.Queue, queue.Queue, Pipe, Value, Array and
 * Pool, in the simulated kernel.
 *
 * multiprocessing.Queue is built as CPython builds it: a pipe of 64 KiB (the machine's
 * pipe_capacity) and, in every process that puts, a feeder that writes the pickled items into
 * the pipe while there is room. put() blocks only on a bounded Queue(maxsize) holding maxsize
 * items (CPython's BoundedSemaphore: put() acquires, get() releases; items in the feeder and
 * in the pipe both count); get() reads the pipe, draining it as the feeder fills it; and a
 * process cannot exit while its feeder still holds bytes it could not write — the documents'
 * join deadlock. An item's size is what pickle would make of it (exact
 * for strings, from its repr for the rest) plus the 4-byte length header of a Connection.
 * Moving bytes takes no simulated time: the model is about who waits for whom.
 *
 * A Pipe's send() writes directly and blocks while the pipe is full; recv() drains it. Values
 * and Arrays live in shared memory: every read and write is a system call of its own, so
 * `v.value += 1` from two processes loses updates exactly when the schedule interleaves them.
 * A Pool forks its workers when it is made; each worker takes the next job first come, first
 * served, runs it as a call in its own process and hands back a copy of the result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

/* ---- messages and pipes ---- */

struct msg {
	struct value v;   /* a copy, owned */
	int64_t size;     /* bytes on the wire */
	int64_t written, read;
	int proc;         /* the process whose feeder (or sender) writes it */
	int sender;       /* Pipe: the task blocked until it is written, -1 */
	int line;         /* Queue: the line of its put() */
	struct msg *next;
};

struct chan {
	int64_t cap;
	struct msg *head, *tail; /* in the pipe: head is being read, tail being written */
	struct msg *pend, *pend_tail; /* Queue: items in feeders, not yet in the pipe, in order */
	struct waitq readers;
	struct waitq writers;
	bool closed;
	int trace_obj;    /* Queue: its trace object, whose TR_COUNTER records give the pipe's
	                   * fill; -1 (a Pipe's directions): none */
	int64_t shown;    /* the fill last recorded */
	bool simple;      /* SimpleQueue: put() writes itself (no feeder), blocking while full */
	bool joinable;    /* JoinableQueue: task_done() and join() */
	int unfinished;   /* JoinableQueue: items put and not yet task_done() */
	struct waitq joiners; /* JoinableQueue: waiting in join() */
	int maker;        /* Queue: the process that made it */
	int reader;       /* Queue: the last process that called get(), -1 before the first */
	int64_t maxsize;  /* Queue(maxsize): the items put and not yet got that make put() wait;
	                   * 0: unbounded */
	struct waitq putters; /* Queue: put()s waiting for room, first come, first served; each
	                   * one's item is its pending call's argument */
	int obj;          /* Queue: its object id, -1 (a Pipe's directions): none */
};

struct tqueue { /* queue.Queue */
	struct value *items;
	int n, cap;
	int64_t maxsize;        /* 0: unbounded */
	const char *bad_maxsize; /* Queue(maxsize='x'): its type, for put()'s TypeError */
	int unfinished;
	struct waitq getters, putters, joiners;
};

struct conn {
	int rx, tx;         /* channel ids (in struct ipc_pipe), -1 when this end cannot */
	int pipe;           /* the kobj id of the pipe's shared state */
	bool closed;
};

struct shared {         /* Value and Array */
	char typecode[4];
	struct value *v;
	int n;              /* 1 for a Value */
	int lock;           /* kobj id of its RLock, -1 with lock=False */
};

struct job {
	struct value fn;
	struct value *args; /* per call: a tuple of arguments */
	struct value *results;
	int ncalls, next, done;
	bool failed;
	char error[512];
	int result;         /* the AsyncResult kobj id */
	bool is_map;
	int chunk;          /* calls a worker takes at once and runs back to back (>= 1) */
	bool unordered;     /* imap_unordered: the results in completion order */
	int *order;         /* the calls in the order they completed */
	int64_t done_at;    /* when the last call completed */
	uint64_t done_seq;  /* the pool's completion count then (orders as_completed) */
};

struct pool {
	bool threads;       /* ThreadPool: workers are threads of the owner process */
	int owner;          /* process that made it */
	int nworkers;
	int *workers;       /* task ids */
	struct job *jobs;
	int njobs, capjobs, next_job;
	bool closed, terminated;
	struct waitq idle;  /* workers waiting for a job */
	struct waitq joiners;
	int *chunk_end;     /* per worker: the end of the calls it took (exclusive) */
	bool *initing;      /* per worker: running the initializer */
	struct value init_fn, init_args; /* initializer and initargs, V_NONE when none */
	bool executor;      /* concurrent.futures: shutdown(), Future, with = shutdown(wait) */
	uint64_t completed; /* jobs completed so far */
};

struct async {
	int pool, job;      /* pool -1: an as_completed() wait, not a result */
	struct waitq waiters;
	int *watchers;      /* as_completed() waits (kobj ids) told when this one is done */
	int nwatchers;
	struct value list;  /* as_completed(): the futures; pending: how many are not done */
	int pending;
};

struct ipc {
	enum vm_handle_kind kind;
	union {
		struct chan q;       /* H_QUEUE */
		struct tqueue tq;    /* H_TQUEUE */
		struct conn c;       /* H_CONN */
		struct shared sh;    /* H_VALUE, H_ARRAY */
		struct pool pl;      /* H_POOL */
		struct async ar;     /* H_ASYNC */
	} u;
	struct chan *chans;      /* a Pipe's two directions (on the first end only) */
};

static struct ipc *ipc_of(struct kernel *k, const struct value *h)
{
	int id = (int)h->u.i;
	return id >= 0 && id < k->nobjs ? k->objs[id]->ipc : NULL;
}

/* ---- sizes: what pickle would make of a value ---- */

static int64_t pickled_size(const struct kernel *k, struct value v)
{
	size_t len;
	const char *s = vm_str_data(v, &len);
	if (s) { /* exact for protocol 4: see docs/model.md */
		int64_t n = (int64_t)len;
		if (n + 9 >= 65536)
			return n + 9;
		return n < 256 ? n + 15 : n + 18;
	}
	char buf[4096];
	vm_value_repr(k->prog, v, buf, sizeof buf);
	return (int64_t)strlen(buf) + 15;
}

/* ---- pipes ---- */

static void chan_init(struct chan *c, int64_t cap)
{
	memset(c, 0, sizeof *c);
	c->cap = cap;
	c->readers = c->writers = c->joiners = c->putters = (struct waitq){-1, -1};
	c->trace_obj = -1;
	c->maker = c->reader = c->obj = -1;
}

static int64_t chan_inpipe(const struct chan *c)
{
	int64_t n = 0;
	for (const struct msg *m = c->head; m; m = m->next)
		n += m->written - m->read;
	return n;
}

/* Records the pipe's fill (bytes written and not yet read) when it changed: a Queue's counter. */
static void chan_report(struct kernel *k, struct chan *c)
{
	if (c->trace_obj < 0)
		return;
	int64_t n = chan_inpipe(c);
	if (n == c->shown)
		return;
	c->shown = n;
	kern_emit(k, (struct trace_rec){.tid = -1, .core = -1, .kind = TR_COUNTER,
				   .obj = c->trace_obj,
				   .line = n > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)n});
}

static void msg_free(struct msg *m)
{
	vm_unref(m->v);
	free(m);
}

static void proc_feeder_add(struct kernel *k, int proc, int64_t bytes)
{
	struct proc *p = k->procs[proc];
	p->feeder_bytes += bytes;
}

/* The items put and not yet got (in feeders and in the pipe): CPython's qsize(), what its
 * BoundedSemaphore counts. */
static int64_t chan_items(const struct chan *c)
{
	int64_t n = 0;
	for (const struct msg *m = c->head; m; m = m->next)
		n++;
	for (const struct msg *m = c->pend; m; m = m->next)
		n++;
	return n;
}

/* put() once it has room: a copy of v goes to the feeder of process proc (sender >= 0: a
 * SimpleQueue's put(), which writes it itself). Returns NULL when out of memory, with
 * nothing changed. */
static struct msg *chan_enqueue(struct kernel *k, struct chan *q, struct value v, int64_t size,
				int proc, int line, int sender)
{
	struct msg *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->v = vm_value_copy(v);
	m->size = size + 4;
	m->proc = proc;
	m->sender = sender;
	m->line = line;
	if (q->pend_tail)
		q->pend_tail->next = m;
	else
		q->pend = m;
	q->pend_tail = m;
	if (q->joinable)
		q->unfinished++;
	if (sender < 0)
		proc_feeder_add(k, proc, m->size);
	return m;
}

/* A get() took an item out of a bounded Queue: as CPython's get() releases the semaphore,
 * the first put() waiting for room takes the permit (the model's FIFO rule), and its item
 * goes to its process's feeder. The caller settles the pipe. */
static void chan_admit(struct kernel *k, struct chan *q, struct task *by)
{
	while (q->maxsize > 0 && q->putters.head >= 0 && chan_items(q) < q->maxsize) {
		struct task *w = k->tasks[q->putters.head];
		const struct value *sv = kern_kwarg(&w->call, "size"); /* checked by its put() */
		int64_t bytes = sv ? sv->u.i : pickled_size(k, w->call.argv[0]);
		if (!chan_enqueue(k, q, w->call.argv[0], bytes, w->proc, w->line, -1)) {
			k->oom = true;
			kern_stop(k, END_LIMIT, "out of memory in a queue's put()");
			return;
		}
		kern_wake(k, w, vm_none(), by,
			  kern_reason(k, "a get() made room in %s", k->objs[q->obj]->name));
	}
}

/* Moves bytes: writers into the pipe while there is room, the first blocked reader out of
 * it; wakes readers whose message is complete and senders whose message is written, and lets
 * a process whose feeder is now empty exit. Repeats until nothing moves. */
static void settle(struct kernel *k, struct chan *c, struct task *by)
{
	for (bool moved = true; moved;) {
		moved = false;
		/* the message being written (the pipe's tail), or the next pending one */
		struct msg *w = c->tail && c->tail->written < c->tail->size ? c->tail : NULL;
		if (!w && c->pend) {
			w = c->pend;
			c->pend = w->next;
			if (!c->pend)
				c->pend_tail = NULL;
			w->next = NULL;
			if (c->tail)
				c->tail->next = w;
			else
				c->head = w;
			c->tail = w;
			moved = true;
		}
		if (w) {
			int64_t room = c->cap - chan_inpipe(c);
			int64_t n = w->size - w->written < room ? w->size - w->written : room;
			if (n > 0) {
				w->written += n;
				moved = true;
				chan_report(k, c);
				if (w->sender < 0)
					proc_feeder_add(k, w->proc, -n);
				if (w->written == w->size && w->sender >= 0) {
					struct task *s = k->tasks[w->sender];
					w->sender = -1;
					if (s->state != TS_DONE)
						kern_wake(k, s, vm_none(), by,
							  kern_reason(k, "the message is in the pipe"));
				}
				if (w->written == w->size && w->sender < 0 && k->procs[w->proc]->feeder_bytes == 0)
					kern_proc_may_exit(k, k->procs[w->proc]);
			}
		}
		/* the first reader drains what is there of the head message */
		struct msg *r = c->head;
		if (r && c->readers.head >= 0 && r->written > r->read) {
			r->read = r->written;
			moved = true;
			chan_report(k, c);
			if (r->read == r->size) {
				struct task *t = k->tasks[c->readers.head];
				c->head = r->next;
				if (!c->head)
					c->tail = NULL;
				t->timeout_hook = NULL;
				kern_wake(k, t, r->v, by,
					  kern_reason(k, "a %lld-byte message arrived", (long long)r->size));
				free(r); /* its value went to the reader */
				chan_admit(k, c, by);
			}
		}
	}
	chan_report(k, c); /* a read_now() before it drained the pipe */
}

/* A message ready for a reader that is not blocked yet: returns it (the reader takes the
 * value) when it is complete after draining what is there. */
static struct msg *read_now(struct chan *c)
{
	struct msg *r = c->head;
	if (!r)
		return NULL;
	r->read = r->written;
	if (r->read < r->size)
		return NULL;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	return r;
}

/* ---- objects ---- */

static struct ipc *make(struct kernel *k, struct task *t, enum vm_handle_kind kind,
			struct kobj **out)
{
	struct kobj *o = sync_obj_new(k, t, kind);
	struct ipc *x = o ? calloc(1, sizeof *x) : NULL;
	if (!x)
		return NULL;
	x->kind = kind;
	o->ipc = x;
	*out = o;
	return x;
}

/* Python's name of a value's type, for a maxsize that is no number. */
static const char *maxsize_type(struct value v)
{
	switch (v.type) {
	case V_NONE: return "NoneType";
	case V_STR: return "str";
	case V_TUPLE: return "tuple";
	case V_LIST: return "list";
	case V_DUR: return "duration";
	case V_FUNC: return "function";
	case V_HANDLE: return vm_handle_class((enum vm_handle_kind)v.aux);
	default: return "object";
	}
}

static enum sys_result new_pool(struct kernel *k, struct task *t, bool threads);
static enum sys_result new_executor(struct kernel *k, struct task *t, bool threads);
static enum sys_result as_completed(struct kernel *k, struct task *t);

enum sys_result ipc_new(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const char *cls = c->name ? c->name : "";
	const struct value *a0 = c->argc > 0 ? &c->argv[0] : NULL;
	struct kobj *o;
	struct ipc *x;
	if (strcmp(cls, "Queue") == 0 || strcmp(cls, "queue.Queue") == 0 ||
	    strcmp(cls, "SimpleQueue") == 0 || strcmp(cls, "JoinableQueue") == 0) {
		bool mp = cls[0] != 'q';
		if (!a0)
			a0 = kern_kwarg(c, "maxsize");
		int64_t maxsize = 0;
		const char *bad = NULL;
		if (a0 && (a0->type == V_INT || a0->type == V_BOOL))
			maxsize = a0->u.i;
		else if (a0 && a0->type == V_FLOAT && !mp) /* n >= 2.5 when n >= 3 */
			maxsize = a0->u.f > 0 ? (int64_t)ceil(a0->u.f) : 0;
		else if (a0 && a0->type == V_FLOAT && a0->u.f > 0) /* BoundedSemaphore(2.5) */
			return kern_raise(k, t, "TypeError", "'float' object cannot be interpreted as an integer");
		else if (a0 && a0->type != V_FLOAT)
			bad = maxsize_type(*a0);
		/* multiprocessing's __init__ compares maxsize <= 0; queue.Queue's first put() compares
		 * maxsize > 0 */
		if (bad && mp)
			return kern_raise(k, t, "TypeError",
					  "'<=' not supported between instances of '%s' and 'int'", bad);
		if (!(x = make(k, t, mp ? H_QUEUE : H_TQUEUE, &o)))
			return kern_raise(k, t, "MemoryError", "out of memory");
		if (mp) {
			chan_init(&x->u.q, k->m->pipe_capacity);
			x->u.q.trace_obj = o->trace_idx;
			x->u.q.obj = o->id;
			x->u.q.simple = cls[0] == 'S';
			x->u.q.joinable = cls[0] == 'J';
			x->u.q.maker = t->proc;
			x->u.q.maxsize = maxsize > 0 ? maxsize : 0;
		} else {
			x->u.tq.maxsize = maxsize > 0 ? maxsize : 0;
			x->u.tq.bad_maxsize = bad;
			x->u.tq.getters = x->u.tq.putters = x->u.tq.joiners = (struct waitq){-1, -1};
		}
		return kern_answer(t, vm_handle(x->kind, o->id));
	}
	if (strcmp(cls, "Pipe") == 0) {
		if (!a0)
			a0 = kern_kwarg(c, "duplex");
		bool duplex = !a0 || vm_truthy(*a0);
		struct kobj *o1, *o2;
		struct ipc *e1 = make(k, t, H_CONN, &o1), *e2 = e1 ? make(k, t, H_CONN, &o2) : NULL;
		if (!e2 || !(e1->chans = calloc(2, sizeof *e1->chans)))
			return kern_raise(k, t, "MemoryError", "out of memory");
		chan_init(&e1->chans[0], k->m->pipe_capacity); /* 1 -> 2 */
		chan_init(&e1->chans[1], k->m->pipe_capacity); /* 2 -> 1 */
		e1->u.c = (struct conn){.rx = 1, .tx = duplex ? 0 : -1, .pipe = o1->id};
		e2->u.c = (struct conn){.rx = duplex ? 0 : -1, .tx = 1, .pipe = o1->id};
		if (!duplex) /* Pipe(False): the first end only receives, the second only sends */
			e1->u.c.rx = 1, e2->u.c.tx = 1;
		snprintf(o1->name, sizeof o1->name, "%s[0]", t->call.target ? t->call.target : "pipe");
		snprintf(o2->name, sizeof o2->name, "%s[1]", t->call.target ? t->call.target : "pipe");
		struct value ends[2] = {vm_handle(H_CONN, o1->id), vm_handle(H_CONN, o2->id)};
		return kern_answer(t, vm_tuple(2, ends)); /* as Pipe() returns them */
	}
	if (strcmp(cls, "Value") == 0 || strcmp(cls, "Array") == 0) {
		bool arr = cls[0] == 'A';
		if (!a0 || a0->type != V_STR)
			return kern_raise(k, t, "TypeError", "%s() needs a typecode such as 'i' or 'd'", cls);
		const char *tc = vm_str_data(*a0, NULL);
		if (!strchr("bBhHiIlLqQfdc", tc[0]) || tc[1])
			return kern_raise(k, t, "TypeError", "bad typecode (must be b, B, h, H, i, I, l, L, "
					  "q, Q, f, d or c): '%s'", tc);
		const struct value *init = c->argc > 1 ? &c->argv[1] : NULL;
		const struct value *lk = kern_kwarg(c, "lock");
		int n = 1;
		if (arr) {
			if (init && init->type == V_INT)
				n = (int)init->u.i;
			else if (init && vm_seq_len(*init) >= 0)
				n = vm_seq_len(*init);
			else
				return kern_raise(k, t, "TypeError", "Array() needs a size or a sequence");
			if (n < 0 || n > 1000000)
				return kern_raise(k, t, "ValueError", "Array size must be 0 to 1000000");
		}
		if (!(x = make(k, t, arr ? H_ARRAY : H_VALUE, &o)))
			return kern_raise(k, t, "MemoryError", "out of memory");
		struct shared *sh = &x->u.sh;
		snprintf(sh->typecode, sizeof sh->typecode, "%s", tc);
		sh->n = n;
		sh->v = calloc((size_t)n + 1, sizeof *sh->v);
		bool fl = strchr("fd", tc[0]) != NULL;
		for (int i = 0; i < n; i++) {
			struct value v = fl ? vm_float(0) : vm_int(0);
			if (!arr && init)
				v = *init;
			else if (arr && init && init->type != V_INT)
				v = vm_seq_item(*init, i);
			if (fl && v.type == V_INT)
				v = vm_float((double)v.u.i);
			vm_ref(v);
			sh->v[i] = v;
		}
		sh->lock = -1;
		if (!lk || vm_truthy(*lk)) {
			struct vm_call save = t->call;
			t->call.target = NULL;
			struct kobj *l = sync_obj_new(k, t, H_RLOCK);
			t->call = save;
			if (!l)
				return kern_raise(k, t, "MemoryError", "out of memory");
			snprintf(l->name, sizeof l->name, "%.50s.lock", o->name);
			sh->lock = l->id;
		}
		return kern_answer(t, vm_handle(x->kind, o->id));
	}
	if (strcmp(cls, "Pool") == 0 || strcmp(cls, "ThreadPool") == 0)
		return new_pool(k, t, cls[0] == 'T');
	if (strcmp(cls, "ProcessPoolExecutor") == 0 || strcmp(cls, "ThreadPoolExecutor") == 0)
		return new_executor(k, t, cls[0] == 'T');
	if (strcmp(cls, "as_completed") == 0)
		return as_completed(k, t);
	return kern_raise(k, t, "NameError", "%s is not part of the scenario language yet", cls);
}

/* ---- put() on a bounded queue ---- */

/* put(obj, block=True, timeout=None) and put_nowait(obj): whether it may wait, and for how
 * long (-1: for ever). Returns false when the timeout is no number (raised in t). */
/* The bytes v takes in a pipe: the call's `size=` (the scenario gives it: a simulation's
 * extension, for an object whose printed form is not its pickle), else its pickled size.
 * False (with TypeError raised) when size= is not a non-negative integer. */
static bool wire_bytes(struct kernel *k, struct task *t, struct value v, int64_t *out)
{
	const struct value *sv = kern_kwarg(&t->call, "size");
	if (!sv) {
		*out = pickled_size(k, v);
		return true;
	}
	if (sv->type != V_INT || sv->u.i < 0 || sv->u.i > (INT64_C(1) << 40)) {
		kern_raise(k, t, "TypeError", "size= must be a number of bytes from 0 to 2**40");
		return false;
	}
	*out = sv->u.i;
	return true;
}

static bool put_args(struct kernel *k, struct task *t, bool *block, int64_t *timeout)
{
	const struct vm_call *c = &t->call;
	bool nowait = strcmp(c->name, "put_nowait") == 0;
	const struct value *bv = nowait ? NULL : c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "block");
	const struct value *tv = nowait ? NULL : c->argc > 2 ? &c->argv[2] : kern_kwarg(c, "timeout");
	*block = !nowait && (!bv || vm_truthy(*bv));
	*timeout = -1;
	return !tv || kern_timeout_arg(k, t, tv, timeout);
}

/* A put() that found its queue o full: queue.Full at once without block (or with a timeout of
 * 0), else t waits on putters, first come, first served, until a get() lets its item in or
 * its timeout raises queue.Full. */
static enum sys_result put_full(struct kernel *k, struct task *t, struct kobj *o,
				struct waitq *putters, int64_t maxsize, bool block, int64_t timeout)
{
	if (!block || timeout == 0)
		return kern_raise(k, t, "queue.Full", "%s", "the queue is full");
	kern_waitq_add(k, putters, t);
	t->wait_obj = -1; /* no single task holds the room: no edge of the wait-for graph */
	t->timeout_hook = NULL;
	t->timeout_raise = "queue.Full";
	kern_block(k, t, TS_WAIT, timeout,
		   kern_reason(k, "waits in %s.put() at line %d for room (%s is full: maxsize %lld)",
			       o->name, t->line, o->name, (long long)maxsize));
	return SR_BLOCKED;
}

/* ---- multiprocessing.Queue ---- */

static enum sys_result queue_get(struct kernel *k, struct task *t, struct kobj *o, struct chan *q)
{
	const struct vm_call *c = &t->call;
	const struct value *bv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "block");
	const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
	bool block = !bv || vm_truthy(*bv);
	int64_t timeout = -1;
	if (q->simple && c->argc + c->kwc > 0)
		return kern_raise(k, t, "TypeError", "SimpleQueue.get() takes no arguments");
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	if (q->closed && q->simple) /* close() closed both ends of its pipe */
		return kern_raise(k, t, "OSError", "handle is closed");
	if (q->closed)
		return kern_raise(k, t, "ValueError", "Queue %s is closed", o->name);
	q->reader = t->proc;
	if (q->readers.head < 0) {
		struct msg *m = read_now(q);
		if (m)
			chan_admit(k, q, t);
		settle(k, q, t); /* reading made room for the feeders */
		if (m) {
			struct value v = m->v;
			free(m);
			return kern_answer(t, v);
		}
	}
	if (!block)
		return kern_raise(k, t, "queue.Empty", "%s", "the queue is empty");
	kern_waitq_add(k, &q->readers, t);
	t->wait_obj = -1;
	t->timeout_hook = NULL;
	t->timeout_raise = "queue.Empty";
	kern_block(k, t, TS_WAIT, timeout,
		   kern_reason(k, "waits in %s.get() at line %d", o->name, t->line));
	settle(k, q, t);
	return SR_BLOCKED;
}

/* put(obj, block=True, timeout=None), put_nowait(obj): CPython's order — the closed check,
 * then the semaphore of a bounded queue (queue.Full when it cannot be had), then the item to
 * the feeder. */
static enum sys_result queue_put(struct kernel *k, struct task *t, struct kobj *o, struct chan *q)
{
	const struct vm_call *c = &t->call;
	if (c->argc < 1)
		return kern_raise(k, t, "TypeError", "put() missing 1 required argument: 'obj'");
	if (q->simple && c->argc + c->kwc - (kern_kwarg(c, "size") != NULL) > 1)
		return kern_raise(k, t, "TypeError", "SimpleQueue.put() takes one argument");
	int64_t bytes;
	if (!wire_bytes(k, t, c->argv[0], &bytes))
		return SR_RAISED;
	bool block;
	int64_t timeout;
	if (!put_args(k, t, &block, &timeout))
		return SR_RAISED;
	if (q->closed && q->simple)
		return kern_raise(k, t, "OSError", "handle is closed");
	if (q->closed)
		return kern_raise(k, t, "ValueError", "Queue %s is closed", o->name);
	if (q->maxsize > 0 && chan_items(q) >= q->maxsize) /* the semaphore's acquire() */
		return put_full(k, t, o, &q->putters, q->maxsize, block, timeout);
	struct msg *m = chan_enqueue(k, q, c->argv[0], bytes, t->proc, t->line,
				     q->simple ? t->id : -1);
	if (!m)
		return kern_raise(k, t, "MemoryError", "out of memory");
	if (q->simple) {
		/* SimpleQueue: no feeder; put() writes the message itself, blocking while the pipe
		 * is full, as a Connection's send() does */
		kern_wait(k, t, &q->writers, TS_WAIT, -1,
			   kern_reason(k, "%s.put() of %lld bytes at line %d waits for room in the pipe",
				       o->name, (long long)m->size, t->line));
		settle(k, q, t);
		return SR_BLOCKED;
	}
	settle(k, q, t);
	return kern_answer(t, vm_none());
}

/* ---- queue.Queue ---- */

/* Appends (a reference to) v, counted as unfinished. Returns false when out of memory, with
 * nothing changed. */
static bool tq_append(struct tqueue *q, struct value v)
{
	if (q->n == q->cap) {
		int cap = q->cap ? q->cap * 2 : 16;
		struct value *items = realloc(q->items, (size_t)cap * sizeof *items);
		if (!items)
			return false;
		q->items = items;
		q->cap = cap;
	}
	vm_ref(v);
	q->items[q->n++] = v;
	q->unfinished++;
	return true;
}

static enum sys_result tq_method(struct kernel *k, struct task *t, struct kobj *o,
				 struct tqueue *q, const char *m)
{
	const struct vm_call *c = &t->call;
	if (strcmp(m, "put") == 0 || strcmp(m, "put_nowait") == 0) {
		if (c->argc < 1)
			return kern_raise(k, t, "TypeError", "put() missing 1 required argument: 'item'");
		bool block;
		int64_t timeout;
		if (!put_args(k, t, &block, &timeout))
			return SR_RAISED;
		const struct value *tv = c->argc > 2 ? &c->argv[2] : kern_kwarg(c, "timeout");
		if (q->bad_maxsize) /* CPython's put() compares self.maxsize > 0 */
			return kern_raise(k, t, "TypeError",
					  "'>' not supported between instances of '%s' and 'int'", q->bad_maxsize);
		bool negative = tv && ((tv->type == V_INT && tv->u.i < 0) ||
				       (tv->type == V_FLOAT && tv->u.f < 0) ||
				       (tv->type == V_DUR && tv->u.i < 0));
		if (q->maxsize && block && negative)
			return kern_raise(k, t, "ValueError", "'timeout' must be a non-negative number");
		if (q->getters.head >= 0) { /* straight to a waiting getter */
			struct task *g = k->tasks[q->getters.head];
			vm_ref(c->argv[0]);
			q->unfinished++;
			g->timeout_hook = NULL;
			kern_wake(k, g, c->argv[0], t, kern_reason(k, "%s puts into %s", t->name, o->name));
			return kern_answer(t, vm_none());
		}
		if (q->maxsize && q->n >= q->maxsize)
			return put_full(k, t, o, &q->putters, q->maxsize, block, timeout);
		if (!tq_append(q, c->argv[0]))
			return kern_raise(k, t, "MemoryError", "out of memory");
		return kern_answer(t, vm_none());
	}
	if (strcmp(m, "get") == 0 || strcmp(m, "get_nowait") == 0) {
		const struct value *bv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "block");
		const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
		bool block = m[3] != '_' && (!bv || vm_truthy(*bv));
		int64_t timeout = -1;
		if (tv && !kern_timeout_arg(k, t, tv, &timeout))
			return SR_RAISED;
		if (q->n > 0) {
			struct value v = q->items[0];
			memmove(q->items, q->items + 1, (size_t)(q->n - 1) * sizeof *q->items);
			q->n--;
			/* not_full.notify(): the first put() waiting for room puts its item */
			if (q->putters.head >= 0) {
				struct task *w = k->tasks[q->putters.head];
				if (!tq_append(q, w->call.argv[0]))
					return kern_raise(k, t, "MemoryError", "out of memory");
				kern_wake(k, w, vm_none(), t, kern_reason(k, "a get() made room in %s", o->name));
			}
			return kern_answer(t, v);
		}
		if (!block)
			return kern_raise(k, t, "queue.Empty", "%s", "the queue is empty");
		kern_waitq_add(k, &q->getters, t);
		t->wait_obj = -1;
		t->timeout_raise = "queue.Empty";
		kern_block(k, t, TS_WAIT, timeout,
			   kern_reason(k, "waits in %s.get() at line %d", o->name, t->line));
		return SR_BLOCKED;
	}
	if (strcmp(m, "task_done") == 0) {
		if (q->unfinished <= 0)
			return kern_raise(k, t, "ValueError", "task_done() called too many times");
		if (--q->unfinished == 0)
			kern_wake_all(k, &q->joiners, t, kern_reason(k, "every item of %s is done", o->name));
		return kern_answer(t, vm_none());
	}
	if (strcmp(m, "join") == 0) {
		if (q->unfinished == 0)
			return kern_answer(t, vm_none());
		kern_wait(k, t, &q->joiners, TS_WAIT, -1, kern_reason(k, "waits in %s.join()", o->name));
		return SR_BLOCKED;
	}
	if (strcmp(m, "qsize") == 0)
		return kern_answer(t, vm_int(q->n));
	if (strcmp(m, "empty") == 0)
		return kern_answer(t, vm_bool(q->n == 0));
	if (strcmp(m, "full") == 0) {
		if (q->bad_maxsize) /* 0 < self.maxsize <= self._qsize() */
			return kern_raise(k, t, "TypeError",
					  "'<' not supported between instances of 'int' and '%s'", q->bad_maxsize);
		return kern_answer(t, vm_bool(q->maxsize && q->n >= q->maxsize));
	}
	return kern_raise(k, t, "AttributeError", "'Queue' object has no attribute '%s'", m);
}

/* ---- Pipe ---- */

static enum sys_result conn_method(struct kernel *k, struct task *t, struct kobj *o,
				   struct conn *cn, const char *m)
{
	const struct vm_call *c = &t->call;
	struct chan *chans = ((struct ipc *)k->objs[cn->pipe]->ipc)->chans;
	if (strcmp(m, "close") == 0) {
		cn->closed = true;
		return kern_answer(t, vm_none());
	}
	if (cn->closed)
		return kern_raise(k, t, "OSError", "handle is closed");
	if (strcmp(m, "send") == 0) {
		if (cn->tx < 0)
			return kern_raise(k, t, "OSError", "connection is read-only");
		if (c->argc != 1 || c->kwc - (kern_kwarg(c, "size") != NULL) > 0)
			return kern_raise(k, t, "TypeError", "send() takes one object");
		int64_t bytes;
		if (!wire_bytes(k, t, c->argv[0], &bytes))
			return SR_RAISED;
		struct chan *ch = &chans[cn->tx];
		struct msg *msg = calloc(1, sizeof *msg);
		if (!msg)
			return kern_raise(k, t, "MemoryError", "out of memory");
		msg->v = vm_value_copy(c->argv[0]);
		msg->size = bytes + 4;
		msg->proc = t->proc;
		msg->sender = t->id;
		if (ch->pend_tail)
			ch->pend_tail->next = msg;
		else
			ch->pend = msg;
		ch->pend_tail = msg;
		/* the sender writes itself: it blocks until the whole message is in the pipe */
		kern_wait(k, t, &ch->writers, TS_WAIT, -1,
			   kern_reason(k, "%s.send() of %lld bytes waits for room in the pipe", o->name,
				       (long long)msg->size));
		settle(k, ch, t);
		return SR_BLOCKED;
	}
	if (strcmp(m, "recv") == 0 || strcmp(m, "poll") == 0) {
		if (cn->rx < 0)
			return kern_raise(k, t, "OSError", "connection is write-only");
		struct chan *ch = &chans[cn->rx];
		if (m[0] == 'p') { /* poll(timeout=0): is there something to read? */
			if (ch->head || ch->pend)
				return kern_answer(t, vm_bool(true));
			const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
			int64_t timeout = 0;
			if (tv && !kern_timeout_arg(k, t, tv, &timeout))
				return SR_RAISED;
			if (timeout == 0)
				return kern_answer(t, vm_bool(false));
			return kern_raise(k, t, "NotImplementedError",
					  "poll() with a timeout is not modelled yet");
		}
		if (ch->readers.head < 0) {
			struct msg *msg = read_now(ch);
			settle(k, ch, t);
			if (msg) {
				struct value v = msg->v;
				free(msg);
				return kern_answer(t, v);
			}
		}
		kern_wait(k, t, &ch->readers, TS_WAIT, -1, kern_reason(k, "waits in %s.recv() at line %d", o->name,
							  t->line));
		settle(k, ch, t);
		return SR_BLOCKED;
	}
	return kern_raise(k, t, "AttributeError", "'Connection' object has no attribute '%s'", m);
}

/* ---- Pool ---- */

/* Pool(processes, initializer, initargs), ThreadPool(...), and the executors'
 * (max_workers): n workers, forked (or started) now. */
static enum sys_result make_pool(struct kernel *k, struct task *t, bool threads, int n,
				 const struct value *init, const struct value *initargs, bool executor)
{
	if (init && init->type == V_NONE)
		init = NULL;
	if (init && init->type != V_FUNC && init->type != V_BUILTIN)
		return kern_raise(k, t, "TypeError", "initializer must be a callable");
	if (initargs && initargs->type != V_TUPLE && initargs->type != V_LIST)
		return kern_raise(k, t, "TypeError", "initargs must be a tuple");
	struct kobj *o;
	struct ipc *x = make(k, t, H_POOL, &o);
	if (!x || !(x->u.pl.workers = calloc((size_t)n, sizeof(int))) ||
	    !(x->u.pl.chunk_end = calloc((size_t)n, sizeof(int))) ||
	    !(x->u.pl.initing = calloc((size_t)n, sizeof(bool))))
		return kern_raise(k, t, "MemoryError", "out of memory");
	struct pool *pl = &x->u.pl;
	pl->threads = threads;
	pl->executor = executor;
	pl->owner = t->proc;
	pl->nworkers = n;
	pl->idle = pl->joiners = (struct waitq){-1, -1};
	pl->init_fn = pl->init_args = vm_none();
	if (init) {
		pl->init_fn = *init;
		vm_ref(*init);
		if (initargs)
			pl->init_args = threads ? *initargs : vm_value_copy(*initargs);
		else
			pl->init_args = vm_list(0, NULL);
		if (initargs && threads)
			vm_ref(*initargs);
	}
	/* the workers start now, each costing its creator a fork (or a thread start) */
	int64_t cost = 0;
	for (int i = 0; i < n; i++) {
		int w = kern_spawn_worker(k, t, o->id, threads, i + 1, &pl->idle);
		if (w < 0)
			return kern_raise(k, t, "MemoryError", "out of memory");
		pl->workers[i] = w;
		cost += threads ? k->m->thread_cost : k->m->fork_cost;
		if (init) { /* its first call: initializer(*initargs) */
			struct task *wt = k->tasks[w];
			kern_waitq_remove(k, wt);
			if (!kern_worker_start(k, wt, pl->init_fn, pl->init_args, threads))
				return kern_raise(k, t, "MemoryError", "out of memory");
			pl->initing[i] = true;
			kern_wake(k, wt, vm_none(), t, kern_reason(k, "runs the pool's initializer"));
		}
	}
	kern_answer(t, vm_handle(H_POOL, o->id));
	t->debt += cost;
	t->after = AFTER_EXEC;
	return cost > 0 ? SR_BURN : SR_CONTINUE;
}

static enum sys_result new_pool(struct kernel *k, struct task *t, bool threads)
{
	const struct vm_call *c = &t->call;
	const struct value *nv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "processes");
	const struct value *init = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "initializer");
	const struct value *initargs = c->argc > 2 ? &c->argv[2] : kern_kwarg(c, "initargs");
	int n = k->host_cores[k->procs[t->proc]->host]; /* os.cpu_count() of its host */
	if (nv && nv->type != V_NONE) {
		if (nv->type != V_INT)
			return kern_raise(k, t, "TypeError", "processes must be an integer");
		if (nv->u.i < 1)
			return kern_raise(k, t, "ValueError", "Number of processes must be at least 1");
		if (nv->u.i > 4096)
			return kern_raise(k, t, "ValueError", "at most 4096 pool workers");
		n = (int)nv->u.i;
	}
	return make_pool(k, t, threads, n, init, initargs, false);
}

/* concurrent.futures: ProcessPoolExecutor(max_workers=None) and ThreadPoolExecutor, on the
 * pool's machinery. All the workers start at once (CPython starts threads as work comes). */
static enum sys_result new_executor(struct kernel *k, struct task *t, bool threads)
{
	const struct vm_call *c = &t->call;
	const struct value *nv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "max_workers");
	const struct value *init = c->argc > 2 ? &c->argv[2] : kern_kwarg(c, "initializer");
	const struct value *initargs = c->argc > 3 ? &c->argv[3] : kern_kwarg(c, "initargs");
	/* CPython's defaults: os.cpu_count() processes; min(32, cpu_count + 4) threads */
	int cores = k->host_cores[k->procs[t->proc]->host];
	int n = threads ? (cores + 4 < 32 ? cores + 4 : 32) : cores;
	if (nv && nv->type != V_NONE) {
		if (nv->type != V_INT)
			return kern_raise(k, t, "TypeError", "max_workers must be an integer");
		if (nv->u.i <= 0)
			return kern_raise(k, t, "ValueError", "max_workers must be greater than 0");
		if (nv->u.i > 4096)
			return kern_raise(k, t, "ValueError", "at most 4096 pool workers");
		n = (int)nv->u.i;
	}
	return make_pool(k, t, threads, n, init, initargs, true);
}

static struct pool *pool_of(struct kernel *k, int id)
{
	return &((struct ipc *)k->objs[id]->ipc)->u.pl;
}

/* Gives idle workers their jobs' next calls. */
static int worker_index(const struct pool *pl, int task)
{
	for (int i = 0; i < pl->nworkers; i++)
		if (pl->workers[i] == task)
			return i;
	return -1;
}

/* What a message of `bytes` takes between a process pool's caller and a worker: through a
 * pipe and a handler thread, pickled (docs/model.md). A thread pool's queues cost nothing. */
static int64_t handoff(const struct kernel *k, const struct pool *pl, int64_t bytes)
{
	return pl->threads || k->m->handoff == 0 ? 0 : k->m->handoff + 2 * bytes; /* 0: free */
}

static void dispatch(struct kernel *k, int pool_id, struct task *by)
{
	struct pool *pl = pool_of(k, pool_id);
	while (pl->idle.head >= 0 && pl->next_job < pl->njobs) {
		struct job *j = &pl->jobs[pl->next_job];
		if (j->next >= j->ncalls) {
			pl->next_job++;
			continue;
		}
		struct task *w = k->tasks[pl->idle.head];
		kern_waitq_remove(k, w);
		if (!kern_worker_start(k, w, j->fn, j->args[j->next], pl->threads)) {
			kern_stop(k, END_LIMIT, "out of memory starting a pool task");
			return;
		}
		/* the worker takes a chunk of calls and runs them back to back */
		int end = j->next + (j->chunk > 0 ? j->chunk : 1);
		if (end > j->ncalls)
			end = j->ncalls;
		int wi = worker_index(pl, w->id);
		if (wi >= 0)
			pl->chunk_end[wi] = end;
		w->job = pl->next_job;
		w->job_call = j->next;
		int64_t bytes = 0; /* the chunk travels as one message */
		for (int c = j->next; c < end; c++)
			bytes += pickled_size(k, j->args[c]);
		j->next = end;
		kern_wake_later(k, w, vm_none(), by, handoff(k, pl, bytes),
				kern_reason(k, "picks up a task of %s (%lld bytes)", k->objs[pool_id]->name,
					    (long long)bytes));
	}
	/* closed and out of work: the idle workers exit */
	if (pl->closed && pl->next_job >= pl->njobs)
		while (pl->idle.head >= 0) {
			struct task *w = k->tasks[pl->idle.head];
			kern_waitq_remove(k, w);
			w->pool = -1;
			/* no code left to run (its last call's may have ended in an exception that
			 * went to the caller): the kernel lets it exit */
			vm_thread_destroy(w->vm);
			w->vm = NULL;
			kern_wake(k, w, vm_none(), by, kern_reason(k, "the pool is closed: the worker exits"));
		}
}

static int submit(struct kernel *k, struct task *t, int pool_id, struct value fn,
		  const struct value *argsets, int ncalls, bool is_map, int chunk, bool unordered)
{
	struct pool *pl = pool_of(k, pool_id);
	if (pl->njobs == pl->capjobs) {
		int cap = pl->capjobs ? pl->capjobs * 2 : 16;
		struct job *v = realloc(pl->jobs, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		pl->jobs = v;
		pl->capjobs = cap;
	}
	struct job *j = &pl->jobs[pl->njobs];
	memset(j, 0, sizeof *j);
	j->fn = fn;
	vm_ref(fn);
	j->ncalls = ncalls;
	j->is_map = is_map;
	j->chunk = chunk > 0 ? chunk : 1;
	j->unordered = unordered;
	j->args = calloc((size_t)ncalls + 1, sizeof *j->args);
	j->results = calloc((size_t)ncalls + 1, sizeof *j->results);
	j->order = calloc((size_t)ncalls + 1, sizeof *j->order);
	if (!j->args || !j->results || !j->order)
		return -1;
	for (int i = 0; i < ncalls; i++) {
		j->args[i] = pl->threads ? argsets[i] : vm_value_copy(argsets[i]);
		if (pl->threads)
			vm_ref(argsets[i]);
		j->results[i] = vm_none();
	}
	struct kobj *ro;
	struct ipc *rx = make(k, t, H_ASYNC, &ro);
	if (!rx)
		return -1;
	rx->u.ar = (struct async){.pool = pool_id, .job = pl->njobs, .waiters = {-1, -1}};
	j->result = ro->id;
	pl->njobs++;
	dispatch(k, pool_id, t);
	return ro->id;
}

/* The value a finished job gives: its result, or the list of a map's results. */
static struct value job_value(const struct job *j)
{
	if (!j->is_map) {
		vm_ref(j->results[0]);
		return j->results[0];
	}
	if (j->unordered) {
		struct value *v = calloc((size_t)j->ncalls + 1, sizeof *v);
		if (!v)
			return vm_none();
		for (int i = 0; i < j->ncalls; i++) {
			v[i] = j->results[j->order[i]];
			vm_ref(v[i]);
		}
		struct value l = vm_list(j->ncalls, v);
		free(v);
		return l;
	}
	for (int i = 0; i < j->ncalls; i++)
		vm_ref(j->results[i]);
	return vm_list(j->ncalls, j->results);
}

static enum sys_result async_get(struct kernel *k, struct task *t, struct kobj *o, bool wait_only)
{
	const struct vm_call *c = &t->call;
	struct async *ar = &((struct ipc *)o->ipc)->u.ar;
	struct job *j = &pool_of(k, ar->pool)->jobs[ar->job];
	const struct value *tv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "timeout");
	int64_t timeout = -1;
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	if (j->done == j->ncalls) {
		if (wait_only)
			return kern_answer(t, vm_none());
		if (j->failed)
			return kern_raise(k, t, "RemoteError", "%s", j->error);
		return kern_answer(t, job_value(j));
	}
	kern_waitq_add(k, &ar->waiters, t);
	t->wait_obj = -1;
	t->timeout_raise = wait_only ? NULL
			   : pool_of(k, ar->pool)->executor ? "concurrent.futures.TimeoutError"
							    : "multiprocessing.TimeoutError";
	kern_block(k, t, TS_WAIT, timeout,
		   kern_reason(k, "waits in %s.%s() at line %d", o->name, wait_only ? "wait" : "get",
			       t->line));
	return SR_BLOCKED;
}

/* as_completed(): the futures of list in the order they completed. */
static struct value completed_list(struct kernel *k, struct value list)
{
	int n = vm_seq_len(list);
	struct value *v = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *v);
	const struct job **jb = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *jb);
	if (!v || !jb) {
		free(v);
		free(jb);
		return vm_none();
	}
	for (int i = 0; i < n; i++) {
		struct value f = vm_seq_item(list, i);
		struct ipc *x = ipc_of(k, &f);
		const struct job *j = &pool_of(k, x->u.ar.pool)->jobs[x->u.ar.job];
		int p = i; /* insertion by (time, completion count) */
		while (p > 0 && (jb[p - 1]->done_at > j->done_at ||
				 (jb[p - 1]->done_at == j->done_at && jb[p - 1]->done_seq > j->done_seq))) {
			v[p] = v[p - 1];
			jb[p] = jb[p - 1];
			p--;
		}
		v[p] = f;
		jb[p] = j;
	}
	for (int i = 0; i < n; i++)
		vm_ref(v[i]);
	struct value l = vm_list(n, v);
	free(v);
	free(jb);
	return l;
}

/* The job's last call completed: its get()s, wait()s and as_completed()s wake. */
static void job_completed(struct kernel *k, struct pool *pl, struct job *j, struct task *t)
{
	j->done_at = k->q.now;
	j->done_seq = ++pl->completed;
	struct ipc *rx = k->objs[j->result]->ipc;
	struct waitq *wq = &rx->u.ar.waiters;
	while (wq->head >= 0) {
		struct task *w = k->tasks[wq->head];
		/* the result (or the exception) travels back through the result queue */
		if (j->failed && w->timeout_raise) { /* get(): the job's exception */
			vm_raise(w->vm, "RemoteError", j->error);
			w->has_call = false;
			kern_wake_later(k, w, vm_none(), t, handoff(k, pl, 200),
					kern_reason(k, "the task failed"));
		} else {
			struct value v = j->failed ? vm_none()
					 : (w->timeout_raise ? job_value(j) : vm_none());
			kern_wake_later(k, w, v, t, handoff(k, pl, pickled_size(k, v)),
					kern_reason(k, "the pool's task is done"));
		}
	}
	for (int i = 0; i < rx->u.ar.nwatchers; i++) {
		struct ipc *wx = k->objs[rx->u.ar.watchers[i]]->ipc;
		if (--wx->u.ar.pending > 0)
			continue;
		while (wx->u.ar.waiters.head >= 0) {
			struct task *w = k->tasks[wx->u.ar.waiters.head];
			w->timeout_hook = NULL;
			kern_wake_later(k, w, completed_list(k, wx->u.ar.list), t, handoff(k, pl, 0),
					kern_reason(k, "every future given to as_completed() is done"));
		}
	}
}

static bool is_future(struct kernel *k, struct value f)
{
	if (f.type != V_HANDLE || f.aux != H_ASYNC)
		return false;
	struct ipc *x = ipc_of(k, &f);
	return x && x->kind == H_ASYNC && x->u.ar.pool >= 0;
}

/* concurrent.futures.as_completed(fs, timeout=None): without generators, it waits until
 * every future is done and gives the list of them in the order they completed. */
static enum sys_result as_completed(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const struct value *tv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "timeout");
	int64_t timeout = -1;
	if (tv && !kern_timeout_arg(k, t, tv, &timeout))
		return SR_RAISED;
	int n = c->argc > 0 ? vm_seq_len(c->argv[0]) : -1;
	if (n < 0)
		return kern_raise(k, t, "TypeError", "as_completed() needs a list of futures");
	int pending = 0;
	for (int i = 0; i < n; i++) {
		struct value f = vm_seq_item(c->argv[0], i);
		if (!is_future(k, f))
			return kern_raise(k, t, "TypeError", "as_completed() needs a list of futures");
		struct ipc *x = ipc_of(k, &f);
		const struct job *j = &pool_of(k, x->u.ar.pool)->jobs[x->u.ar.job];
		pending += j->done < j->ncalls;
	}
	if (!pending)
		return kern_answer(t, completed_list(k, c->argv[0]));
	struct kobj *wo;
	struct ipc *w = make(k, t, H_ASYNC, &wo);
	if (!w)
		return kern_raise(k, t, "MemoryError", "out of memory");
	w->u.ar = (struct async){.pool = -1, .job = -1, .waiters = {-1, -1}, .list = c->argv[0],
				 .pending = pending};
	vm_ref(c->argv[0]);
	for (int i = 0; i < n; i++) {
		struct value f = vm_seq_item(c->argv[0], i);
		struct async *ar = &ipc_of(k, &f)->u.ar;
		const struct job *j = &pool_of(k, ar->pool)->jobs[ar->job];
		if (j->done == j->ncalls)
			continue;
		int *v = realloc(ar->watchers, (size_t)(ar->nwatchers + 1) * sizeof *v);
		if (!v)
			return kern_raise(k, t, "MemoryError", "out of memory");
		ar->watchers = v;
		ar->watchers[ar->nwatchers++] = wo->id;
	}
	kern_waitq_add(k, &w->u.ar.waiters, t);
	t->wait_obj = -1;
	t->timeout_hook = NULL;
	t->timeout_raise = "concurrent.futures.TimeoutError";
	kern_block(k, t, TS_WAIT, timeout,
		   kern_reason(k, "waits in as_completed() at line %d for %d futures", t->line, pending));
	return SR_BLOCKED;
}

/* The worker goes on at once with the next call of its chunk, as CPython's worker loops
 * over a chunk's calls. */
static bool worker_next_call(struct kernel *k, struct task *t, struct job *j)
{
	if (!kern_worker_start(k, t, j->fn, j->args[t->job_call], false)) {
		kern_stop(k, END_LIMIT, "out of memory starting a pool task");
		return true; /* the run is over */
	}
	t->debt = 0;
	t->after = AFTER_EXEC;
	t->burn_start = k->q.now;
	kern_push_event(k, k->q.now, PRIO_CORE, EV_BURN, t->core, k->cores[t->core].gen);
	return true;
}

bool ipc_worker_done(struct kernel *k, struct task *t, bool error)
{
	if (t->pool < 0)
		return false;
	int pool_id = t->pool;
	struct pool *pl = pool_of(k, pool_id);
	int wi = worker_index(pl, t->id);
	if (wi >= 0 && pl->initing[wi]) {
		pl->initing[wi] = false;
		if (error) /* the initializer raised: the worker dies of it */
			return false;
	} else if (t->job >= 0) {
		struct job *j = &pl->jobs[t->job];
		int end = wi >= 0 ? pl->chunk_end[wi] : t->job_call + 1;
		if (error) {
			if (!j->failed) {
				const struct diag *d = vm_thread_error(t->vm);
				snprintf(j->error, sizeof j->error, "%.400s (in %.60s, line %d)", d->msg,
					 k->procs[t->proc]->name, d->line);
			}
			j->failed = true;
			/* the rest of the chunk is not run: its calls fail with it */
			for (int c = t->job_call; c < end; c++)
				j->order[j->done++] = c;
		} else {
			struct value r = vm_thread_result(t->vm);
			vm_unref(j->results[t->job_call]);
			j->results[t->job_call] = pl->threads ? r : vm_value_copy(r);
			if (pl->threads)
				vm_ref(r);
			j->order[j->done++] = t->job_call;
			if (++t->job_call < end)
				return worker_next_call(k, t, j);
		}
		t->job = -1;
		if (j->done == j->ncalls)
			job_completed(k, pl, j, t);
	}
	if (pl->terminated)
		return false;
	/* next: another call of some job, or wait idle; closed and done: exit */
	if (pl->closed && pl->next_job >= pl->njobs) {
		t->pool = -1;
		if (!error)
			return false;
		/* its call's exception went to the caller: the worker exits without reporting it */
		vm_thread_destroy(t->vm);
		t->vm = NULL;
		t->debt = 0;
		t->after = AFTER_EXEC;
		t->burn_start = k->q.now;
		kern_push_event(k, k->q.now, PRIO_CORE, EV_BURN, t->core, k->cores[t->core].gen);
		return true;
	}
	kern_wait(k, t, &pl->idle, TS_WAIT, -1, kern_reason(k, "an idle pool worker waits for a task"));
	dispatch(k, pool_id, t);
	return true;
}

/* A map of fn over the n items of seq (each an argument tuple when star), in chunks. */
static int map_submit(struct kernel *k, struct task *t, int pool_id, struct value fn,
		      struct value seq, int n, bool star, int chunk, bool unordered)
{
	struct value *argsets = calloc((size_t)n + 1, sizeof *argsets);
	if (!argsets)
		return -1;
	for (int i = 0; i < n; i++) {
		struct value item = vm_seq_item(seq, i);
		vm_ref(item);
		argsets[i] = star ? item : vm_list(1, &item);
	}
	int r = submit(k, t, pool_id, fn, argsets, n, true, chunk, unordered);
	for (int i = 0; i < n; i++)
		vm_unref(argsets[i]);
	free(argsets);
	return r;
}

static enum sys_result executor_method(struct kernel *k, struct task *t, struct kobj *o,
				       struct pool *pl, const char *m);

static enum sys_result pool_method(struct kernel *k, struct task *t, struct kobj *o,
				   struct pool *pl, const char *m)
{
	if (pl->executor)
		return executor_method(k, t, o, pl, m);
	const struct vm_call *c = &t->call;
	if (strcmp(m, "__enter__") == 0) {
		struct value h = c->self;
		return kern_answer(t, h);
	}
	if (strcmp(m, "close") == 0) {
		pl->closed = true;
		dispatch(k, o->id, t);
		return kern_answer(t, vm_none());
	}
	if (strcmp(m, "terminate") == 0 || strcmp(m, "__exit__") == 0) {
		pl->closed = pl->terminated = true;
		for (int i = 0; i < pl->nworkers; i++)
			kern_kill_worker(k, k->tasks[pl->workers[i]], pl->threads);
		return kern_answer(t, vm_none());
	}
	if (strcmp(m, "join") == 0) {
		if (!pl->closed)
			return kern_raise(k, t, "ValueError", "Pool is still running");
		bool alive = false;
		for (int i = 0; i < pl->nworkers; i++)
			alive |= k->tasks[pl->workers[i]]->state != TS_DONE;
		if (!alive)
			return kern_answer(t, vm_none());
		kern_wait(k, t, &pl->joiners, TS_JOIN, -1,
			   kern_reason(k, "waits in %s.join() for its workers to exit", o->name));
		return SR_BLOCKED;
	}
	if (pl->closed)
		return kern_raise(k, t, "ValueError", "Pool not running");
	if (strcmp(m, "apply_async") == 0 || strcmp(m, "apply") == 0) {
		const struct value *fn = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "func");
		const struct value *args = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "args");
		if (!fn || (fn->type != V_FUNC && fn->type != V_BUILTIN))
			return kern_raise(k, t, "TypeError", "%s() needs a function", m);
		struct value empty = vm_list(0, NULL);
		struct value a = args ? *args : empty;
		if (a.type != V_TUPLE && a.type != V_LIST) {
			vm_unref(empty);
			return kern_raise(k, t, "TypeError", "args must be a tuple");
		}
		int r = submit(k, t, o->id, *fn, &a, 1, false, 1, false);
		vm_unref(empty);
		if (r < 0)
			return kern_raise(k, t, "MemoryError", "out of memory");
		if (m[5] == '_')
			return kern_answer(t, vm_handle(H_ASYNC, r));
		/* apply(): wait for it, as get() does */
		t->call.argc = 0;
		t->call.kwc = 0;
		return async_get(k, t, k->objs[r], false);
	}
	bool imap = strcmp(m, "imap") == 0 || strcmp(m, "imap_unordered") == 0;
	if (strcmp(m, "map") == 0 || strcmp(m, "starmap") == 0 || strcmp(m, "map_async") == 0 ||
	    strcmp(m, "starmap_async") == 0 || imap) {
		if (c->argc < 2 || (c->argv[0].type != V_FUNC && c->argv[0].type != V_BUILTIN))
			return kern_raise(k, t, "TypeError", "%s() needs a function and an iterable", m);
		int n = vm_seq_len(c->argv[1]);
		if (n < 0)
			return kern_raise(k, t, "TypeError", "%s() needs a list or tuple here", m);
		const struct value *cv = c->argc > 2 ? &c->argv[2] : kern_kwarg(c, "chunksize");
		int chunk;
		if (cv && cv->type != V_NONE) {
			if (cv->type != V_INT)
				return kern_raise(k, t, "TypeError", "chunksize must be an integer");
			if (cv->u.i < 1)
				return kern_raise(k, t, "ValueError", "Chunksize must be 1+, not %lld",
						  (long long)cv->u.i);
			chunk = cv->u.i > n ? (n > 0 ? n : 1) : (int)cv->u.i;
		} else if (imap) {
			chunk = 1;
		} else { /* CPython's default: ceil(len / (4 x workers)) */
			int per = 4 * pl->nworkers;
			chunk = n / per + (n % per != 0);
		}
		bool star = strncmp(m, "star", 4) == 0;
		int r = map_submit(k, t, o->id, c->argv[0], c->argv[1], n, star, chunk,
				   strcmp(m, "imap_unordered") == 0);
		if (r < 0)
			return kern_raise(k, t, "MemoryError", "out of memory");
		if (strstr(m, "_async"))
			return kern_answer(t, vm_handle(H_ASYNC, r));
		/* map() waits; imap() and imap_unordered(), without generators, wait too and give
		 * the list of every result (input order; completion order) */
		t->call.argc = 0;
		t->call.kwc = 0;
		return async_get(k, t, k->objs[r], false);
	}
	return kern_raise(k, t, "AttributeError", "'Pool' object has no attribute '%s'", m);
}

/* ---- concurrent.futures executors ---- */

static enum sys_result executor_method(struct kernel *k, struct task *t, struct kobj *o,
				       struct pool *pl, const char *m)
{
	const struct vm_call *c = &t->call;
	if (strcmp(m, "__enter__") == 0)
		return kern_answer(t, c->self);
	if (strcmp(m, "shutdown") == 0 || strcmp(m, "__exit__") == 0) {
		/* shutdown(wait=True); leaving a with block is shutdown(wait=True) */
		const struct value *wv = NULL;
		if (m[0] == 's')
			wv = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "wait");
		bool wait = !wv || vm_truthy(*wv);
		pl->closed = true;
		dispatch(k, o->id, t);
		bool alive = false;
		for (int i = 0; i < pl->nworkers; i++)
			alive |= k->tasks[pl->workers[i]]->state != TS_DONE;
		if (!wait || !alive)
			return kern_answer(t, vm_none());
		kern_wait(k, t, &pl->joiners, TS_JOIN, -1,
			   kern_reason(k, "waits in %s.shutdown() for its workers to finish", o->name));
		return SR_BLOCKED;
	}
	if (strcmp(m, "submit") == 0 || strcmp(m, "map") == 0) {
		if (pl->closed)
			return kern_raise(k, t, "RuntimeError", "cannot schedule new futures after shutdown");
		if (c->argc < 1 || (c->argv[0].type != V_FUNC && c->argv[0].type != V_BUILTIN))
			return kern_raise(k, t, "TypeError", "%s() needs a function", m);
	}
	if (strcmp(m, "submit") == 0) {
		if (c->kwc > 0)
			return kern_raise(k, t, "NotImplementedError",
					  "keyword arguments to submit() are not modelled yet");
		struct value items[VM_MAX_ARGS];
		int na = c->argc - 1 < VM_MAX_ARGS ? c->argc - 1 : VM_MAX_ARGS;
		for (int i = 0; i < na; i++) {
			items[i] = c->argv[i + 1];
			vm_ref(items[i]);
		}
		struct value a = vm_list(na, items);
		int r = submit(k, t, o->id, c->argv[0], &a, 1, false, 1, false);
		vm_unref(a);
		if (r < 0)
			return kern_raise(k, t, "MemoryError", "out of memory");
		return kern_answer(t, vm_handle(H_ASYNC, r));
	}
	if (strcmp(m, "map") == 0) {
		/* map(fn, *iterables, timeout=None, chunksize=1): the list of the results, in
		 * order, once all are done; chunks matter for processes only, as in CPython */
		if (c->argc < 2)
			return kern_raise(k, t, "TypeError", "map() needs a function and an iterable");
		int n = -1;
		for (int i = 1; i < c->argc; i++) {
			int len = vm_seq_len(c->argv[i]);
			if (len < 0)
				return kern_raise(k, t, "TypeError", "map() needs lists or tuples here");
			if (n < 0 || len < n)
				n = len;
		}
		const struct value *cv = kern_kwarg(c, "chunksize");
		int chunk = 1;
		if (cv && cv->type != V_NONE) {
			if (cv->type != V_INT)
				return kern_raise(k, t, "TypeError", "chunksize must be an integer");
			if (cv->u.i < 1)
				return kern_raise(k, t, "ValueError", "chunksize must be >= 1.");
			chunk = cv->u.i > n ? (n > 0 ? n : 1) : (int)cv->u.i;
		}
		if (pl->threads)
			chunk = 1;
		struct value *argsets = calloc((size_t)n + 1, sizeof *argsets);
		if (!argsets)
			return kern_raise(k, t, "MemoryError", "out of memory");
		for (int i = 0; i < n; i++) { /* zip(*iterables) */
			struct value items[VM_MAX_ARGS];
			int na = c->argc - 1 < VM_MAX_ARGS ? c->argc - 1 : VM_MAX_ARGS;
			for (int a = 0; a < na; a++) {
				items[a] = vm_seq_item(c->argv[a + 1], i);
				vm_ref(items[a]);
			}
			argsets[i] = vm_list(na, items);
		}
		int r = submit(k, t, o->id, c->argv[0], argsets, n, true, chunk, false);
		for (int i = 0; i < n; i++)
			vm_unref(argsets[i]);
		free(argsets);
		if (r < 0)
			return kern_raise(k, t, "MemoryError", "out of memory");
		t->call.argc = 0;
		t->call.kwc = 0;
		return async_get(k, t, k->objs[r], false);
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  pl->threads ? "ThreadPoolExecutor" : "ProcessPoolExecutor", m);
}

/* ---- dispatch ---- */

enum sys_result ipc_method(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct ipc *x = ipc_of(k, &c->self);
	struct kobj *o = k->objs[c->self.u.i];
	const char *m = c->name;
	if (!x)
		return kern_raise(k, t, "RuntimeError", "not an IPC object");
	switch (x->kind) {
	case H_QUEUE: {
		struct chan *q = &x->u.q;
		const char *cls = q->simple ? "SimpleQueue" : q->joinable ? "JoinableQueue" : "Queue";
		if (strcmp(m, "get") == 0 || (!q->simple && strcmp(m, "get_nowait") == 0))
			return queue_get(k, t, o, q);
		if (strcmp(m, "put") == 0 || (!q->simple && strcmp(m, "put_nowait") == 0))
			return queue_put(k, t, o, q);
		if (strcmp(m, "empty") == 0) {
			if (q->closed && q->simple)
				return kern_raise(k, t, "OSError", "handle is closed");
			return kern_answer(t, vm_bool(!q->head && !q->pend));
		}
		if (q->joinable && strcmp(m, "task_done") == 0) {
			if (q->unfinished <= 0)
				return kern_raise(k, t, "ValueError", "task_done() called too many times");
			if (--q->unfinished == 0)
				kern_wake_all(k, &q->joiners, t,
					      kern_reason(k, "every item put into %s is done", o->name));
			return kern_answer(t, vm_none());
		}
		if (q->joinable && strcmp(m, "join") == 0) {
			if (q->unfinished == 0)
				return kern_answer(t, vm_none());
			kern_wait(k, t, &q->joiners, TS_WAIT, -1,
				   kern_reason(k, "waits in %s.join() at line %d for %d unfinished items",
					       o->name, t->line, q->unfinished));
			return SR_BLOCKED;
		}
		if (q->simple && strcmp(m, "close") == 0) {
			q->closed = true;
			return kern_answer(t, vm_none());
		}
		if (q->simple)
			return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
					  cls, m);
		if (strcmp(m, "qsize") == 0)
			return kern_answer(t, vm_int(chan_items(q)));
		if (strcmp(m, "full") == 0) /* the semaphore is at zero */
			return kern_answer(t, vm_bool(q->maxsize > 0 && chan_items(q) >= q->maxsize));
		if (strcmp(m, "close") == 0) {
			x->u.q.closed = true;
			return kern_answer(t, vm_none());
		}
		if (strcmp(m, "join_thread") == 0 || strcmp(m, "cancel_join_thread") == 0)
			return kern_answer(t, vm_none());
		return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'", cls, m);
	}
	case H_TQUEUE:
		return tq_method(k, t, o, &x->u.tq, m);
	case H_CONN:
		return conn_method(k, t, o, &x->u.c, m);
	case H_VALUE:
	case H_ARRAY: {
		struct shared *sh = &x->u.sh;
		if (strcmp(m, "get_lock") == 0) {
			if (sh->lock < 0)
				return kern_raise(k, t, "AttributeError",
						  "'%s' object has no attribute 'get_lock' (made with lock=False)",
						  x->kind == H_VALUE ? "Value" : "Array");
			return kern_answer(t, vm_handle(H_RLOCK, sh->lock));
		}
		if (x->kind == H_ARRAY && strcmp(m, "__len__") == 0)
			return kern_answer(t, vm_int(sh->n));
		if (x->kind == H_ARRAY && strcmp(m, "__getitem__") == 0 && c->argc == 3) {
			/* arr[start:stop:step]: a list, as SynchronizedArray's slices are */
			for (int i = 0; i < sh->n; i++)
				vm_ref(sh->v[i]);
			struct value all = vm_list(sh->n, sh->v), out;
			char err[256];
			bool ok = vm_slice_of(all, c->argv[0], c->argv[1], c->argv[2], &out, err, sizeof err);
			vm_unref(all);
			if (!ok)
				return kern_raise(k, t, "TypeError", "%s", err);
			return kern_answer(t, out);
		}
		if (x->kind == H_ARRAY && (strcmp(m, "__getitem__") == 0 || strcmp(m, "__setitem__") == 0)) {
			if (c->argc < 1 || c->argv[0].type != V_INT)
				return kern_raise(k, t, "TypeError", "array indices must be integers");
			int64_t i = c->argv[0].u.i;
			if (i < 0)
				i += sh->n;
			if (i < 0 || i >= sh->n)
				return kern_raise(k, t, "IndexError", "invalid index");
			if (m[2] == 'g') {
				vm_ref(sh->v[i]);
				return kern_answer(t, sh->v[i]);
			}
			struct value v = c->argc > 1 ? c->argv[1] : vm_none();
			vm_ref(v);
			vm_unref(sh->v[i]);
			sh->v[i] = v;
			return kern_answer(t, vm_none());
		}
		if (x->kind == H_ARRAY && strcmp(m, "tolist") == 0) {
			for (int i = 0; i < sh->n; i++)
				vm_ref(sh->v[i]);
			return kern_answer(t, vm_list(sh->n, sh->v));
		}
		break;
	}
	case H_POOL:
		return pool_method(k, t, o, &x->u.pl, m);
	case H_ASYNC:
		if (x->u.ar.pool < 0)
			break;
		if (pool_of(k, x->u.ar.pool)->executor) { /* a concurrent.futures Future */
			struct job *j = &pool_of(k, x->u.ar.pool)->jobs[x->u.ar.job];
			if (strcmp(m, "result") == 0)
				return async_get(k, t, o, false);
			if (strcmp(m, "done") == 0)
				return kern_answer(t, vm_bool(j->done == j->ncalls));
			if (strcmp(m, "running") == 0)
				return kern_answer(t, vm_bool(j->next > 0 && j->done < j->ncalls));
			if (strcmp(m, "cancel") == 0 || strcmp(m, "cancelled") == 0)
				return kern_answer(t, vm_bool(false));
			return kern_raise(k, t, "AttributeError", "'Future' object has no attribute '%s'", m);
		}
		if (strcmp(m, "get") == 0)
			return async_get(k, t, o, false);
		if (strcmp(m, "wait") == 0)
			return async_get(k, t, o, true);
		if (strcmp(m, "ready") == 0 || strcmp(m, "successful") == 0) {
			struct job *j = &pool_of(k, x->u.ar.pool)->jobs[x->u.ar.job];
			if (m[0] == 's' && j->done < j->ncalls)
				return kern_raise(k, t, "ValueError", "result is not ready");
			return kern_answer(t, vm_bool(m[0] == 'r' ? j->done == j->ncalls : !j->failed));
		}
		break;
	default:
		break;
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  vm_handle_class(x->kind), m);
}

enum sys_result ipc_getattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct ipc *x = ipc_of(k, &c->self);
	if (x && x->kind == H_VALUE && strcmp(c->name, "value") == 0) {
		vm_ref(x->u.sh.v[0]);
		return kern_answer(t, x->u.sh.v[0]);
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  x ? vm_handle_class(x->kind) : "object", c->name);
}

enum sys_result ipc_setattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct ipc *x = ipc_of(k, &c->self);
	if (x && x->kind == H_VALUE && strcmp(c->name, "value") == 0 && c->argc > 0) {
		struct value v = c->argv[0];
		if (strchr("fd", x->u.sh.typecode[0]) && v.type == V_INT)
			v = vm_float((double)v.u.i);
		vm_ref(v);
		vm_unref(x->u.sh.v[0]);
		x->u.sh.v[0] = v;
		return kern_answer(t, vm_none());
	}
	return kern_raise(k, t, "AttributeError", "'%s' object attribute '%s' is read-only",
			  x ? vm_handle_class(x->kind) : "object", c->name);
}

void ipc_worker_exited(struct kernel *k, struct task *t)
{
	if (t->pool_origin < 0)
		return;
	struct pool *pl = pool_of(k, t->pool_origin);
	for (int i = 0; i < pl->nworkers; i++)
		if (k->tasks[pl->workers[i]]->state != TS_DONE)
			return;
	kern_wake_all(k, &pl->joiners, t, kern_reason(k, "every worker of the pool has exited"));
}

int64_t ipc_unflushed(struct kernel *k, const struct proc *p, char *what, size_t size)
{
	if (p->feeder_bytes <= 0)
		return 0;
	for (int i = 0; i < k->nobjs; i++) {
		struct ipc *x = k->objs[i]->ipc;
		if (!x || x->kind != H_QUEUE)
			continue;
		for (struct msg *m = x->u.q.tail; m; m = m->next)
			if (m->proc == p->id && m->written < m->size) {
				snprintf(what, size,
					 "its queue feeder must flush %lld bytes into %s's full %lld-byte pipe "
					 "before the process can exit (only a get() would drain it)",
					 (long long)(m->size - m->written), k->objs[i]->name,
					 (long long)x->u.q.cap);
				return p->feeder_bytes;
			}
		for (struct msg *m = x->u.q.pend; m; m = m->next)
			if (m->proc == p->id) {
				snprintf(what, size,
					 "its queue feeder must flush %lld bytes into %s before the process can "
					 "exit",
					 (long long)p->feeder_bytes, k->objs[i]->name);
				return p->feeder_bytes;
			}
	}
	snprintf(what, size, "its queue feeders must flush %lld bytes", (long long)p->feeder_bytes);
	return p->feeder_bytes;
}

int ipc_feeder_stuck(struct kernel *k, const struct proc *p, int64_t *left, int *line,
		     int *reader, int64_t *cap)
{
	if (p->feeder_bytes <= 0)
		return -1;
	for (int i = 0; i < k->nobjs; i++) {
		struct ipc *x = k->objs[i]->ipc;
		if (!x || x->kind != H_QUEUE)
			continue;
		struct chan *q = &x->u.q;
		struct msg *m = q->tail;
		if (!m || m->proc != p->id || m->sender >= 0 || m->written >= m->size ||
		    chan_inpipe(q) < q->cap)
			continue;
		*left = m->size - m->written;
		*line = m->line;
		*reader = q->reader >= 0 ? q->reader : q->maker;
		*cap = q->cap;
		return i;
	}
	return -1;
}

static void chan_free(struct chan *c)
{
	for (struct msg *m = c->head, *n; m; m = n) {
		n = m->next;
		msg_free(m);
	}
	for (struct msg *m = c->pend, *n; m; m = n) {
		n = m->next;
		msg_free(m);
	}
}

void ipc_free_obj(struct kernel *k, struct kobj *o)
{
	struct ipc *x = o->ipc;
	if (!x)
		return;
	if (x->kind == H_POPEN || x->kind == H_FILE) { /* subproc.c's own */
		subp_free_obj(k, o);
		return;
	}
	switch (x->kind) {
	case H_QUEUE:
		chan_free(&x->u.q);
		break;
	case H_TQUEUE:
		for (int i = 0; i < x->u.tq.n; i++)
			vm_unref(x->u.tq.items[i]);
		free(x->u.tq.items);
		break;
	case H_VALUE:
	case H_ARRAY:
		for (int i = 0; i < x->u.sh.n; i++)
			vm_unref(x->u.sh.v[i]);
		free(x->u.sh.v);
		break;
	case H_POOL:
		for (int j = 0; j < x->u.pl.njobs; j++) {
			struct job *jb = &x->u.pl.jobs[j];
			vm_unref(jb->fn);
			for (int i = 0; i < jb->ncalls; i++) {
				vm_unref(jb->args[i]);
				vm_unref(jb->results[i]);
			}
			free(jb->args);
			free(jb->results);
			free(jb->order);
		}
		free(x->u.pl.jobs);
		free(x->u.pl.workers);
		free(x->u.pl.chunk_end);
		free(x->u.pl.initing);
		vm_unref(x->u.pl.init_fn);
		vm_unref(x->u.pl.init_args);
		break;
	case H_ASYNC:
		free(x->u.ar.watchers);
		vm_unref(x->u.ar.list);
		break;
	default:
		break;
	}
	if (x->chans) {
		chan_free(&x->chans[0]);
		chan_free(&x->chans[1]);
		free(x->chans);
	}
	free(x);
	o->ipc = NULL;
	(void)k;
}

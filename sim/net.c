/* net.c — hosts on a network, and multiprocessing.managers.BaseManager across them.
 *
 * Hosts and links are the machine's (`machine host=` / `machine link=` lines, machine.c); a
 * process runs on its host's cores (kern_host_params). A message from host a to host b takes
 * the link's latency plus its size over the bandwidth; each direction of a link sends one
 * message after another, so a busy link queues them (bandwidth is shared in time, not split).
 * A host reaches itself over its loopback.
 *
 * A manager (docs/model.md, "Managers"): `BaseManager.register(typeid, callable)` records the
 * typeid in the calling process; a forked or started child sees what its ancestors had
 * registered before it was made, as it would see the class attribute CPython keeps.
 * `start()` forks the server process, which listens on (host, port) until `shutdown()` or
 * its parent's exit. `connect()` finds the server at the address (ConnectionRefusedError
 * when nothing listens, OSError "No route to host" without a link) and checks the authkey
 * (AuthenticationError after the exchange); it takes two round trips (TCP's handshake and
 * the authkey challenge). `m.typeid()` asks the server to call its callable — in the
 * server's copy of the program, at once: a callable that would block is an error — and
 * gives a proxy. A proxy's method call travels to the server (latency + size), runs there
 * on the object with the caller's task waiting as a thread of the server would (so
 * `get(timeout=1)` times out at the server after 1 s), and the answer travels back.
 *
 * Sizes on the wire are estimates: 60 bytes of framing plus the values' printed size. The
 * server's threads take no CPU; its process shows its lifetime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

enum { FRAMING = 60 };

struct reg {
	int proc;         /* the process that registered it */
	int nprocs_at;    /* processes made before: later ones do not inherit it */
	char typeid[64];
	struct value callable; /* V_NONE: the client side's registration */
};

struct net_state {
	struct reg *regs;
	int nregs, capregs;
	int64_t wire_free[MACHINE_MAX_LINKS + MACHINE_MAX_HOSTS][2]; /* per link direction */
};

enum mgr_state { MGR_INITIAL, MGR_STARTED, MGR_CONNECTED, MGR_SHUTDOWN };

struct manager {
	enum vm_handle_kind kind; /* H_MANAGER: first, as every kobj->ipc */
	char host[32];            /* the address's host as written ("" for any) */
	int64_t port;
	char authkey[128];
	enum mgr_state state;
	int server_proc;          /* started: the server's process */
	int server_mgr;           /* connected: the serving manager's object id */
	int nchildren;
};

struct proxy {
	enum vm_handle_kind kind; /* H_PROXY */
	struct value target;      /* the server's object (a kernel handle) */
	int server_mgr;
	char typeid[64];
};

static struct net_state *state(struct kernel *k)
{
	if (!k->net)
		k->net = calloc(1, sizeof *k->net);
	return k->net;
}

bool net_owns_new(const char *cls)
{
	return strcmp(cls, "BaseManager") == 0 || strcmp(cls, "BaseManager.register") == 0;
}

/* ---- the wire ---- */

/* An estimate of a value's pickled size. */
static int64_t wire_size(struct value v, int depth)
{
	size_t len;
	if (vm_str_data(v, &len))
		return (int64_t)len + 15;
	int n = vm_seq_len(v);
	if (n >= 0 && (v.type == V_TUPLE || v.type == V_LIST) && depth < 8) {
		int64_t s = 10;
		for (int i = 0; i < n; i++)
			s += wire_size(vm_seq_item(v, i), depth + 1);
		return s;
	}
	return v.type == V_HANDLE ? 60 : 10;
}

static int host_of(struct kernel *k, const struct task *t)
{
	return k->procs[t->proc]->host;
}

/* How long `bytes` take from host a to host b if sent now (and the wire is taken for
 * them); -1 when b cannot be reached from a. */
static int64_t send_time(struct kernel *k, int a, int b, int64_t bytes)
{
	const struct machine_link *l = machine_link_between(k->m, a, b);
	if (!l)
		return -1;
	struct net_state *ns = state(k);
	int idx = l >= k->m->links && l < k->m->links + k->m->nlinks
			  ? (int)(l - k->m->links)
			  : MACHINE_MAX_LINKS + a; /* a host's default loopback */
	int64_t *free_at = &ns->wire_free[idx][l->a == a ? 0 : 1];
	int64_t now = k->q.now, start = *free_at > now ? *free_at : now;
	int64_t tx = (int64_t)((double)bytes * 1e9 / (double)l->bandwidth);
	*free_at = start + tx;
	return start + tx + l->latency - now;
}

/* ---- registrations ---- */

static bool is_ancestor(struct kernel *k, int anc, int p)
{
	for (int q = k->procs[p]->parent; q >= 0; q = k->procs[q]->parent)
		if (q == anc)
			return true;
	return false;
}

/* The registration of typeid that process p sees, or NULL. */
static const struct reg *lookup(struct kernel *k, int p, const char *typeid)
{
	struct net_state *ns = k->net;
	for (int i = ns ? ns->nregs - 1 : -1; i >= 0; i--) {
		const struct reg *r = &ns->regs[i];
		if (strcmp(r->typeid, typeid) != 0)
			continue;
		if (r->proc == p || (is_ancestor(k, r->proc, p) && p >= r->nprocs_at))
			return r;
	}
	return NULL;
}

static enum sys_result do_register(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const struct value *cb = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "callable");
	const char *typeid = c->argc > 0 ? vm_str_data(c->argv[0], NULL) : NULL;
	if (!typeid)
		return kern_raise(k, t, "TypeError", "register() needs a typeid: a str");
	if (strlen(typeid) >= sizeof ((struct reg *)0)->typeid || !typeid[0])
		return kern_raise(k, t, "ValueError", "register(): a typeid of 1 to 63 characters");
	if (cb && cb->type != V_NONE && cb->type != V_FUNC && cb->type != V_BUILTIN)
		return kern_raise(k, t, "TypeError", "register(): callable must be a function");
	struct net_state *ns = state(k);
	if (!ns)
		return kern_raise(k, t, "MemoryError", "out of memory");
	if (ns->nregs == ns->capregs) {
		int cap = ns->capregs ? ns->capregs * 2 : 8;
		struct reg *v = realloc(ns->regs, (size_t)cap * sizeof *v);
		if (!v)
			return kern_raise(k, t, "MemoryError", "out of memory");
		ns->regs = v;
		ns->capregs = cap;
	}
	struct reg *r = &ns->regs[ns->nregs++];
	*r = (struct reg){.proc = t->proc, .nprocs_at = k->nprocs,
			  .callable = cb ? *cb : vm_none()};
	vm_ref(r->callable);
	snprintf(r->typeid, sizeof r->typeid, "%s", typeid);
	return kern_answer(t, vm_none());
}

/* ---- managers ---- */

static struct manager *mgr_of(struct kernel *k, int id)
{
	return id >= 0 && id < k->nobjs && k->objs[id]->kind == H_MANAGER ? k->objs[id]->ipc : NULL;
}

/* The host an address names, seen from host `from`: "" and "127.0.0.1" are `from` itself. */
static int resolve(struct kernel *k, const char *host, int from)
{
	if (!host[0] || strcmp(host, "127.0.0.1") == 0)
		return from;
	return machine_host_index(k->m, host);
}

static const char *host_name(struct kernel *k, int h)
{
	return k->m->hosts[h].name;
}

/* The started manager listening on (host, port), or -1. */
static int listening(struct kernel *k, int host, int64_t port)
{
	for (int i = 0; i < k->nobjs; i++) {
		struct manager *m = mgr_of(k, i);
		if (!m || m->state != MGR_STARTED || m->port != port)
			continue;
		const struct proc *sp = k->procs[m->server_proc];
		if (sp->started && !sp->ended && sp->host == host)
			return i;
	}
	return -1;
}

static enum sys_result new_manager(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	const struct value *addr = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "address");
	const struct value *key = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "authkey");
	const char *host = "";
	int64_t port = 0;
	if (addr && addr->type != V_NONE) {
		struct value h = vm_seq_item(*addr, 0), p = vm_seq_item(*addr, 1);
		if (addr->type != V_TUPLE || vm_seq_len(*addr) != 2 || !vm_str_data(h, NULL) ||
		    p.type != V_INT)
			return kern_raise(k, t, "TypeError",
					  "address must be a (host, port) tuple such as ('', 5000)");
		host = vm_str_data(h, NULL);
		port = p.u.i;
		if (port < 0 || port > 65535)
			return kern_raise(k, t, "OverflowError", "port must be 0-65535.");
		if (strlen(host) >= sizeof ((struct manager *)0)->host)
			return kern_raise(k, t, "ValueError", "address: a host name of at most 31 characters");
	}
	const char *ks = key && key->type != V_NONE ? vm_str_data(*key, NULL) : "";
	if (!ks)
		return kern_raise(k, t, "TypeError", "authkey should be a byte string");
	struct kobj *o = sync_obj_new(k, t, H_MANAGER);
	struct manager *m = o ? calloc(1, sizeof *m) : NULL;
	if (!m)
		return kern_raise(k, t, "MemoryError", "out of memory");
	o->ipc = m;
	*m = (struct manager){.kind = H_MANAGER, .port = port, .server_proc = -1, .server_mgr = -1};
	snprintf(m->host, sizeof m->host, "%s", host);
	snprintf(m->authkey, sizeof m->authkey, "%s", ks);
	return kern_answer(t, vm_handle(H_MANAGER, o->id));
}

enum sys_result net_new(struct kernel *k, struct task *t)
{
	if (strcmp(t->call.name, "BaseManager.register") == 0)
		return do_register(k, t);
	return new_manager(k, t);
}

static enum sys_result mgr_start(struct kernel *k, struct task *t, struct kobj *o,
				 struct manager *m)
{
	int here = host_of(k, t);
	if (m->state != MGR_INITIAL)
		return kern_raise(k, t, "multiprocessing.ProcessError", "Already started server");
	if (resolve(k, m->host, here) != here)
		return kern_raise(k, t, "OSError", "[Errno 99] Cannot assign requested address: "
				  "a server listens on its own host (%s)", host_name(k, here));
	if (listening(k, here, m->port) >= 0)
		return kern_raise(k, t, "OSError", "[Errno 98] Address already in use");
	struct proc *np = kern_proc_new(k, t->proc);
	if (!np)
		return kern_raise(k, t, "MemoryError", "out of memory");
	struct proc *cur = k->procs[t->proc];
	cur->nchildren++;
	snprintf(np->name, sizeof np->name, "BaseManager-%d", cur->nchildren);
	np->via_process = true;
	np->daemon = true; /* shut down at its parent's exit, as CPython's finalizer does */
	np->manager = o->id;
	np->sp = t->se.p;
	m->state = MGR_STARTED;
	m->server_proc = np->id;
	return kern_spawn_server(k, t, np);
}

void net_spawn_end(struct kernel *k, struct task *t, struct task *child)
{
	struct proc *p = k->procs[child->proc];
	struct manager *m = mgr_of(k, p->manager);
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)(m ? m->port : 0));
	kern_set_state(k, child, TS_WAIT,
		       kern_reason(k, "serves the manager's objects at %s:%s", host_name(k, p->host),
				   buf));
	kern_answer(t, vm_none());
}

void net_proc_exited(struct kernel *k, struct proc *p)
{
	struct manager *m = mgr_of(k, p->manager);
	if (m)
		m->state = MGR_SHUTDOWN;
}

/* The serving manager for m (itself when started), or NULL with an error raised. */
static struct manager *server_of(struct kernel *k, struct task *t, struct manager *m, int *id,
				 int self_id)
{
	int sid = m->state == MGR_STARTED ? self_id : m->state == MGR_CONNECTED ? m->server_mgr : -1;
	struct manager *s = mgr_of(k, sid);
	if (m->state == MGR_INITIAL) {
		kern_raise(k, t, "ValueError",
			   "the manager is neither started nor connected: call start() or connect()");
		return NULL;
	}
	if (!s || s->state != MGR_STARTED) {
		kern_raise(k, t, "ConnectionRefusedError", "[Errno 111] Connection refused");
		return NULL;
	}
	*id = sid;
	return s;
}

/* ---- calls that travel ---- */

static void request_arrived(struct kernel *k, struct task *t)
{
	t->timeout_hook = NULL;
	t->gen++;
	t->net_phase = 2;
	kern_make_ready(k, t, ENQ_WAKEUP, kern_reason(k, "its request reached the server"));
}

/* Phase 1: the call's request leaves for host `to` (plus `extra` ns of handshakes); t
 * blocks until it is there, then calls again in phase 2. */
static enum sys_result travel(struct kernel *k, struct task *t, int to, int64_t extra,
			      const char *what)
{
	int from = host_of(k, t);
	int64_t bytes = FRAMING;
	for (int i = 0; i < t->call.argc; i++)
		bytes += wire_size(t->call.argv[i], 0);
	for (int i = 0; i < t->call.kwc; i++)
		bytes += wire_size(t->call.kwv[i], 0);
	int64_t d = send_time(k, from, to, bytes);
	if (d < 0)
		return kern_raise(k, t, "OSError", "[Errno 113] No route to host: no link from %s to %s",
				  host_name(k, from), host_name(k, to));
	t->net_phase = 1;
	t->timeout_hook = request_arrived;
	kern_block(k, t, TS_IO, d + extra,
		   kern_reason(k, "%s: the request travels %s -> %s (%lld bytes, line %d)", what,
			       host_name(k, from), host_name(k, to), (long long)bytes, t->line));
	return SR_BLOCKED;
}

/* The call ran at the server (answered or raised): its answer travels back. */
/* The answer's way back from host `from` to t's host: how long it takes (the wire is taken
 * for it), with the reason t's io state gives. */
static int64_t reply_time(struct kernel *k, struct task *t, int from, int64_t bytes,
			  uint32_t *reason)
{
	int to = host_of(k, t);
	t->net_phase = 0;
	*reason = kern_reason(k, "the reply travels %s -> %s (line %d)", host_name(k, from),
			      host_name(k, to), t->line);
	return send_time(k, from, to, bytes + FRAMING);
}

/* The call ran at the server, t still on its core: it blocks until the reply is back. */
static enum sys_result reply(struct kernel *k, struct task *t, int from, int64_t bytes)
{
	uint32_t reason;
	int64_t d = reply_time(k, t, from, bytes, &reason);
	if (d <= 0)
		return SR_CONTINUE;
	kern_block(k, t, TS_IO, d, reason);
	return SR_BLOCKED;
}

int64_t net_reply_delay(struct kernel *k, struct task *t, uint32_t *reason)
{
	if (t->net_phase != 3)
		return 0;
	int64_t bytes = t->net_reply_bytes;
	t->net_reply_bytes = 0;
	return reply_time(k, t, t->net_from, bytes, reason);
}

int64_t net_answer_size(struct value v)
{
	return wire_size(v, 0);
}

/* Calls the manager's callable for typeid in the server's copy of the program: it must
 * return without needing the kernel (`lambda: task_queue`). */
static bool call_callable(struct kernel *k, struct task *t, struct proc *server,
			  const struct reg *r, struct value *out)
{
	vm_ref(r->callable);
	struct vm_thread *th = vm_thread_create_call(server->vm, r->callable, 0, NULL);
	if (!th) {
		kern_raise(k, t, "MemoryError", "out of memory");
		return false;
	}
	struct vm_call call;
	enum vm_status st = VM_YIELD;
	for (int i = 0; i < 1000 && st == VM_YIELD; i++) {
		int64_t cost = 0;
		st = vm_run(th, &call, &cost);
	}
	bool ok = st == VM_EXIT;
	if (ok) {
		*out = vm_thread_result(th);
		vm_ref(*out);
	} else if (st == VM_ERROR) {
		char text[600];
		diag_format(vm_thread_error(th), text, sizeof text);
		size_t n = strlen(text);
		if (n && text[n - 1] == '\n')
			text[n - 1] = 0;
		kern_raise(k, t, "multiprocessing.managers.RemoteError",
			   "the server's callable for '%s' raised: %s", r->typeid, text);
	} else {
		kern_raise(k, t, "multiprocessing.managers.RemoteError",
			   "the server's callable for '%s' must return an object at once (it %s)",
			   r->typeid, st == VM_SYSCALL ? "called into the kernel" : "did not return");
	}
	vm_thread_destroy(th);
	return ok;
}

/* m.typeid() at the server: a proxy for what the callable returns. */
static enum sys_result make_proxy(struct kernel *k, struct task *t, int sid, const char *typeid)
{
	struct manager *s = mgr_of(k, sid);
	struct proc *server = k->procs[s->server_proc];
	const struct reg *r = lookup(k, server->id, typeid);
	if (!r || r->callable.type == V_NONE)
		return kern_raise(k, t, "multiprocessing.managers.RemoteError",
				  "KeyError: '%s' (the server registered no callable for it)", typeid);
	struct value obj;
	if (!call_callable(k, t, server, r, &obj))
		return SR_RAISED;
	if (obj.type != V_HANDLE || obj.aux == H_MANAGER || obj.aux == H_PROXY) {
		vm_unref(obj);
		return kern_raise(k, t, "multiprocessing.managers.RemoteError",
				  "the callable for '%s' must return a queue, lock, event or other "
				  "synchronisation object: proxies here are for the kernel's objects",
				  typeid);
	}
	struct kobj *o = sync_obj_new(k, t, H_PROXY);
	struct proxy *px = o ? calloc(1, sizeof *px) : NULL;
	if (!px) {
		vm_unref(obj);
		return kern_raise(k, t, "MemoryError", "out of memory");
	}
	o->ipc = px;
	*px = (struct proxy){.kind = H_PROXY, .target = obj, .server_mgr = sid};
	/* named after its object and the process that uses it: "task_queue in 1002" */
	int tid = (int)obj.u.i;
	if (tid >= 0 && tid < k->nobjs && o->trace_idx >= 0) {
		snprintf(o->name, sizeof o->name, "%.40s in %d", k->objs[tid]->name,
			 k->procs[t->proc]->pid);
		uint32_t id = trace_intern(k->tr, o->name);
		if (id != UINT32_MAX)
			k->tr->objects[o->trace_idx].name = id;
	}
	snprintf(px->typeid, sizeof px->typeid, "%s", typeid);
	return kern_answer(t, vm_handle(H_PROXY, o->id));
}

static enum sys_result mgr_method(struct kernel *k, struct task *t, struct kobj *o,
				  struct manager *m)
{
	const char *name = t->call.name;
	int here = host_of(k, t);
	if (strcmp(name, "start") == 0)
		return mgr_start(k, t, o, m);
	if (strcmp(name, "__enter__") == 0) {
		if (m->state == MGR_INITIAL)
			return mgr_start(k, t, o, m);
		return kern_answer(t, vm_handle(H_MANAGER, o->id));
	}
	if (strcmp(name, "shutdown") == 0 || strcmp(name, "__exit__") == 0) {
		if (m->state == MGR_STARTED)
			kern_kill_process(k, k->procs[m->server_proc], 0,
					  "the manager was shut down");
		else if (strcmp(name, "shutdown") == 0)
			return kern_raise(k, t, "AttributeError",
					  "'BaseManager' object has no attribute 'shutdown' (only a "
					  "started manager has one)");
		if (m->state == MGR_STARTED)
			m->state = MGR_SHUTDOWN;
		return kern_answer(t, vm_none());
	}
	if (strcmp(name, "connect") == 0) {
		int to = resolve(k, m->host, here);
		if (to < 0)
			return kern_raise(k, t, "socket.gaierror",
					  "[Errno -2] Name or service not known: '%s'", m->host);
		const struct machine_link *l = machine_link_between(k->m, here, to);
		if (t->net_phase != 2) /* TCP's handshake, then the challenge: a round trip more */
			return travel(k, t, to, l ? 2 * l->latency : 0, "connect()");
		t->net_phase = 0;
		int sid = listening(k, to, m->port);
		if (sid < 0) {
			kern_raise(k, t, "ConnectionRefusedError", "[Errno 111] Connection refused");
			return reply(k, t, to, 0);
		}
		if (strcmp(mgr_of(k, sid)->authkey, m->authkey) != 0) {
			kern_raise(k, t, "multiprocessing.AuthenticationError", "digest received was wrong");
			return reply(k, t, to, 0);
		}
		m->state = MGR_CONNECTED;
		m->server_mgr = sid;
		kern_answer(t, vm_none());
		return reply(k, t, to, 20);
	}
	/* m.typeid(): a registered typeid of the caller's process */
	if (!lookup(k, t->proc, name))
		return kern_raise(k, t, "AttributeError", "'BaseManager' object has no attribute '%s'",
				  name);
	int sid;
	struct manager *s = server_of(k, t, m, &sid, o->id);
	if (!s)
		return SR_RAISED;
	int to = k->procs[s->server_proc]->host;
	if (t->net_phase != 2)
		return travel(k, t, to, 0, name);
	t->net_phase = 0;
	enum sys_result r = make_proxy(k, t, sid, name);
	return r == SR_CONTINUE || r == SR_RAISED ? reply(k, t, to, 80) : r;
}

static enum sys_result proxy_method(struct kernel *k, struct task *t, struct proxy *px)
{
	struct manager *s = mgr_of(k, px->server_mgr);
	if (!s || s->state != MGR_STARTED)
		return kern_raise(k, t, "EOFError", "the manager's server has shut down");
	int to = k->procs[s->server_proc]->host;
	if (t->net_phase != 2) {
		char what[96];
		snprintf(what, sizeof what, "%.60s()", t->call.name);
		return travel(k, t, to, 0, what);
	}
	/* at the server: the call runs on its object, t waiting as a server thread would */
	t->net_phase = 3;
	t->net_from = to;
	t->net_reply_bytes = 0;
	t->call.self = px->target;
	enum sys_result r = kern_method(k, t);
	if (r == SR_BLOCKED)
		return r; /* its answer's way back is added where it is woken (net_reply_delay) */
	if (r == SR_BURN) {
		t->net_phase = 0;
		return r;
	}
	int64_t bytes = t->net_reply_bytes;
	t->net_reply_bytes = 0;
	return reply(k, t, to, bytes);
}

enum sys_result net_method(struct kernel *k, struct task *t)
{
	int id = (int)t->call.self.u.i;
	struct kobj *o = id >= 0 && id < k->nobjs ? k->objs[id] : NULL;
	if (!o || !o->ipc)
		return kern_raise(k, t, "AttributeError", "object has no attribute '%s'", t->call.name);
	if (o->kind == H_MANAGER)
		return mgr_method(k, t, o, o->ipc);
	return proxy_method(k, t, o->ipc);
}

enum sys_result net_getattr(struct kernel *k, struct task *t)
{
	int id = (int)t->call.self.u.i;
	const char *a = t->call.name;
	struct manager *m = mgr_of(k, id);
	if (m && strcmp(a, "address") == 0) {
		struct value items[2] = {vm_str(m->host, strlen(m->host)), vm_int(m->port)};
		return kern_answer(t, vm_tuple(2, items));
	}
	return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
			  m ? "BaseManager" : "AutoProxy", a);
}

void net_free_obj(struct kernel *k, struct kobj *o)
{
	(void)k;
	if (o->kind == H_PROXY && o->ipc)
		vm_unref(((struct proxy *)o->ipc)->target);
	free(o->ipc);
	o->ipc = NULL;
}

void net_free(struct kernel *k)
{
	struct net_state *ns = k->net;
	if (!ns)
		return;
	for (int i = 0; i < ns->nregs; i++)
		vm_unref(ns->regs[i].callable);
	free(ns->regs);
	free(ns);
	k->net = NULL;
}

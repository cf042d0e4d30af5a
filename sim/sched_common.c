/* sched_common.c — the scheduler around a class's run queues (see sched_common.h).
 *
 * Two layouts. `runqueues=global` (the default): one queue every core picks from; a task that
 * becomes ready takes the lowest-numbered idle core its affinity allows. `runqueues=percore`:
 * a queue per core, after Linux's SMP scheduler. A waking task goes to the core it last ran
 * on when that core is idle, else to the lowest-numbered idle core it may use, else to the
 * least loaded one (load = the task running there + the tasks queued; ties go to the core it
 * last ran on, then to the lowest number). A core that runs dry pulls the longest-waiting
 * task it may run from the busiest queue (new-idle balancing), and every `balance` (4 ms) a
 * tick moves tasks from the busiest core to the least loaded one while they differ by two or
 * more. A task that starts on another core than the one it last ran on pays `migration`
 * (50 us) of CPU there first: the cold cache.
 *
 * Wake-up preemption: when a ready task finds no idle core, the class's check_preempt is
 * asked about each running task it may replace; of those it would preempt, the least
 * important gives way at its next instant on the CPU (its slice is cut short now), with a
 * reason naming the task that preempts it.
 *
 * Determinism: every choice scans cores and tasks in index order and breaks ties by number. */
#include "sched_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sched_state {
	bool percore;           /* a queue per core, else one per host */
	void **rq;              /* per core, or per host (indexed by host) */
	bool balance_pending;   /* an EV_BALANCE is in the event queue */
};

static bool percore(const struct kernel *k)
{
	return k->sched && k->sched->percore;
}

/* Each host has its own class and machine (policy, quantum); core c belongs to one. */
static const struct sched_class *cls_of(const struct kernel *k, int c)
{
	return k->hs[k->core_host[c]].cls;
}

static const struct machine *mach_of(const struct kernel *k, int c)
{
	return &k->hs[k->core_host[c]].m;
}

/* Core c's queue: its own (percore), or its host's. */
static void *rq_of(const struct kernel *k, int c)
{
	return percore(k) ? k->sched->rq[c] : k->sched->rq[k->core_host[c]];
}

/* With a queue per host, a queued task's se.rq is its host's first core. */
static int host_rq(const struct kernel *k, int c)
{
	return k->host_first[k->core_host[c]];
}

int sched_init(struct kernel *k)
{
	struct sched_state *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	k->sched = s;
	s->percore = k->m->percore;
	int n = s->percore ? k->m->cores : k->m->nhosts;
	s->rq = calloc((size_t)n, sizeof *s->rq);
	if (!s->rq)
		return -1;
	for (int i = 0; i < n; i++) {
		int c = s->percore ? i : k->host_first[i];
		if (!(s->rq[i] = cls_of(k, c)->create(mach_of(k, c))))
			return -1;
	}
	return 0;
}

void sched_finish(struct kernel *k)
{
	struct sched_state *s = k->sched;
	if (!s)
		return;
	int n = s->percore ? k->m->cores : k->m->nhosts;
	for (int i = 0; s->rq && i < n; i++)
		if (s->rq[i])
			cls_of(k, s->percore ? i : k->host_first[i])->destroy(s->rq[i]);
	free(s->rq);
	free(s);
	k->sched = NULL;
}

/* ---- accounting ---- */

/* Charges a running task's CPU time since its last accounting to its class. */
static void update_curr(struct kernel *k, struct task *t)
{
	if (!t->se.charging)
		return;
	int64_t ran = k->q.now - t->se.exec_start;
	t->se.exec_start = k->q.now;
	if (ran <= 0)
		return;
	t->se.sum_exec += ran;
	if (cls_of(k, t->se.rq)->account)
		cls_of(k, t->se.rq)->account(rq_of(k, t->se.rq), t, ran);
}

/* ---- the reasons preemptions give ---- */

static uint32_t preempted_by(struct kernel *k, const struct task *curr, const struct task *woken)
{
	switch (mach_of(k, curr->core >= 0 ? curr->core : 0)->policy) {
	case POLICY_PRIO:
		return kern_reason(k, "preempted by %s (priority %d > %d)", woken->name,
				   sched_prio(woken), sched_prio(curr));
	case POLICY_MLFQ:
		return kern_reason(k, "preempted by %s (mlfq level %d above %d)", woken->name,
				   woken->se.level, curr->se.level);
	case POLICY_FAIR: {
		char a[32];
		return kern_reason(k, "preempted by %s (its vruntime is %s smaller)", woken->name,
				   kern_dur_text(curr->se.vruntime - woken->se.vruntime, a));
	}
	default:
		return kern_reason(k, "preempted by %s", woken->name);
	}
}

/* Asks the task on core c to give way at its next instant on the CPU. */
static void resched_curr(struct kernel *k, int c, uint32_t reason)
{
	struct task *curr = k->tasks[k->cores[c].cur];
	if (curr->se.need_resched)
		return;
	curr->se.need_resched = true;
	curr->se.resched_reason = reason;
	if (curr->state != TS_RUNNING)
		return; /* being switched in: sched_start gives it no slice */
	curr->slice_end = k->q.now;
	if (curr->burning)
		kern_interrupt_burn(k, curr);
	/* otherwise it is interpreting: the kernel checks need_resched before its next step */
}

/* A ready task found no idle core: preempt the least important running task it beats. */
static void check_preempt(struct kernel *k, struct task *t, int only)
{
	int best = -1;
	for (int c = only >= 0 ? only : 0; c < (only >= 0 ? only + 1 : k->m->cores); c++) {
		const struct core *core = &k->cores[c];
		if (core->cur < 0 || !sched_allowed(t, c))
			continue;
		struct task *curr = k->tasks[core->cur];
		if (curr == t || curr->se.need_resched)
			continue;
		const struct sched_class *cls = cls_of(k, c);
		if (!cls->check_preempt)
			continue;
		update_curr(k, curr);
		void *rq = rq_of(k, c);
		if (!cls->check_preempt(rq, curr, t))
			continue;
		if (best < 0 || cls->check_preempt(rq, curr, k->tasks[k->cores[best].cur]))
			best = c;
	}
	if (best >= 0)
		resched_curr(k, best, preempted_by(k, k->tasks[k->cores[best].cur], t));
}

/* ---- placement ---- */

static int load_of(const struct kernel *k, int c)
{
	return cls_of(k, c)->nr_running(rq_of(k, c)) + (k->cores[c].cur >= 0);
}

static bool core_idle(const struct kernel *k, int c)
{
	return k->cores[c].cur < 0 && cls_of(k, c)->nr_running(rq_of(k, c)) == 0;
}

/* Where a waking task goes with per-core queues. */
static int select_core(const struct kernel *k, const struct task *t)
{
	int prev = t->se.ran_on - 1;
	if (prev >= 0 && prev < k->m->cores && sched_allowed(t, prev) && core_idle(k, prev))
		return prev;
	int best = -1, best_load = 0;
	for (int c = 0; c < k->m->cores; c++) {
		if (!sched_allowed(t, c))
			continue;
		if (core_idle(k, c))
			return c;
		int l = load_of(k, c);
		if (best < 0 || l < best_load || (l == best_load && c == prev)) {
			best = c;
			best_load = l;
		}
	}
	return best >= 0 ? best : 0;
}

static void arm_balance(struct kernel *k)
{
	struct sched_state *s = k->sched;
	if (!percore(k) || s->balance_pending || k->stopped)
		return;
	s->balance_pending = true;
	kern_push_event(k, k->q.now + k->m->balance, PRIO_CORE, EV_BALANCE, 0, 0);
}

int sched_ready_core(const struct kernel *k, const struct task *t)
{
	return percore(k) ? select_core(k, t) : -1;
}

bool sched_percore(const struct kernel *k)
{
	return percore(k);
}

int sched_enqueue(struct kernel *k, struct task *t, int flags)
{
	if (!percore(k)) {
		int first = k->host_first[k->procs[t->proc]->host];
		t->se.rq = first;
		cls_of(k, first)->enqueue(rq_of(k, first), t, flags);
		/* the lowest-numbered idle core (that it may use) not already about to pick */
		for (int c = 0; c < k->m->cores; c++)
			if (k->cores[c].cur < 0 && !k->cores[c].resched && sched_allowed(t, c))
				return c;
		check_preempt(k, t, -1);
		return -1;
	}
	int c = select_core(k, t);
	bool idle = k->cores[c].cur < 0;
	t->se.rq = c;
	cls_of(k, c)->enqueue(k->sched->rq[c], t, flags);
	arm_balance(k);
	if (idle)
		return k->cores[c].resched ? -1 : c;
	check_preempt(k, t, c);
	return -1;
}

/* Moves a queued task to core `to`'s queue. */
static void migrate_queued(struct kernel *k, struct task *t, int to)
{
	cls_of(k, t->se.rq)->dequeue(k->sched->rq[t->se.rq], t);
	t->se.rq = to;
	cls_of(k, to)->enqueue(k->sched->rq[to], t, ENQ_MIGRATE);
	kern_requeued(k, t);
}

/* The task queued on core `from` that core `to` should take: the one waiting longest. */
static struct task *movable(struct kernel *k, int from, int to)
{
	struct task *best = NULL;
	for (int i = 0; i < k->ntasks; i++) {
		struct task *t = k->tasks[i];
		if (!t->on_rq || t->se.rq != from || !sched_allowed(t, to))
			continue;
		if (!best || t->enqueued_at < best->enqueued_at)
			best = t;
	}
	return best;
}

/* New-idle balancing: core c found its queue empty. */
static struct task *pull(struct kernel *k, int c)
{
	int busiest = -1, most = 0;
	for (int o = 0; o < k->m->cores; o++) {
		int n = o == c ? 0 : cls_of(k, o)->nr_running(k->sched->rq[o]);
		if (n > most && movable(k, o, c)) {
			busiest = o;
			most = n;
		}
	}
	if (busiest < 0)
		return NULL;
	migrate_queued(k, movable(k, busiest, c), c);
	return cls_of(k, c)->pick_next(k->sched->rq[c], c);
}

struct task *sched_pick(struct kernel *k, int c)
{
	void *rq = rq_of(k, c);
	const struct sched_class *cls = cls_of(k, c);
	if (cls->tick)
		cls->tick(rq, k->q.now);
	struct task *t = cls->pick_next(rq, c);
	if (!t && percore(k))
		t = pull(k, c);
	if (t) {
		t->se.on_cpu = true;
		t->se.rq = percore(k) ? c : host_rq(k, c);
	}
	return t;
}

void sched_balance(struct kernel *k)
{
	struct sched_state *s = k->sched;
	s->balance_pending = false;
	if (!percore(k) || k->stopped)
		return;
	int n = k->m->cores;
	for (int moves = 0; moves < n; moves++) {
		/* the least loaded core that some busier core can give a task to */
		int from = -1, to = -1, gap = 1;
		for (int dst = 0; dst < n; dst++)
			for (int src = 0; src < n; src++) {
				int d = load_of(k, src) - load_of(k, dst);
				if (d > gap && movable(k, src, dst)) {
					gap = d;
					from = src;
					to = dst;
				}
			}
		if (from < 0)
			break;
		migrate_queued(k, movable(k, from, to), to);
		kern_resched_idle(k, to);
	}
	for (int c = 0; c < n; c++)
		if (cls_of(k, c)->nr_running(s->rq[c]) > 0) {
			arm_balance(k);
			break;
		}
}

/* ---- running ---- */

int64_t sched_start(struct kernel *k, int c, struct task *t)
{
	t->se.on_cpu = true;
	t->se.charging = true;
	t->se.exec_start = k->q.now;
	if (percore(k) && t->se.ran_on > 0 && t->se.ran_on - 1 != c) {
		t->debt += k->m->migration;
		t->se.migrations++;
	}
	t->se.ran_on = c + 1;
	if (t->se.need_resched)
		return 0;
	return cls_of(k, c)->slice(rq_of(k, c), t);
}

uint32_t sched_preempted(struct kernel *k, struct task *t)
{
	int level = t->se.level;
	update_curr(k, t);
	if (t->se.need_resched)
		return t->se.resched_reason;
	char a[32], b[32];
	const struct machine *m = mach_of(k, t->se.rq);
	switch (m->policy) {
	case POLICY_MLFQ: {
		int64_t q = m->mlfq_quantum << level;
		if (t->se.level != level)
			return kern_reason(k, "preempted: used its allotment of %s at mlfq level %d; "
					      "moves down to level %d",
					   kern_dur_text(m->mlfq_allotment, a), level, t->se.level);
		return kern_reason(k, "preempted: its mlfq level-%d quantum of %s expired", level,
				   kern_dur_text(q, b));
	}
	case POLICY_FAIR:
		return kern_reason(k, "preempted: its fair slice ended (vruntime %s)",
				   kern_dur_text(t->se.vruntime, a));
	default:
		return 0;
	}
}

void sched_requeue(struct kernel *k, struct task *t, int c)
{
	update_curr(k, t);
	t->se.on_cpu = t->se.charging = t->se.need_resched = false;
	t->se.rq = percore(k) ? c : host_rq(k, c);
	cls_of(k, c)->enqueue(rq_of(k, t->se.rq), t, ENQ_PREEMPTED);
	arm_balance(k);
}

void sched_leave(struct kernel *k, struct task *t)
{
	if (!t->se.on_cpu)
		return;
	update_curr(k, t);
	t->se.on_cpu = t->se.charging = t->se.need_resched = false;
	if (cls_of(k, t->se.rq)->leave)
		cls_of(k, t->se.rq)->leave(rq_of(k, t->se.rq), t);
}

void sched_dequeue(struct kernel *k, struct task *t)
{
	if (t->on_rq)
		cls_of(k, t->se.rq)->dequeue(rq_of(k, t->se.rq), t);
	else
		sched_leave(k, t);
}

/* ---- parameters: keywords, inheritance ---- */

static bool is_spawn_call(const struct ast_node *call)
{
	const struct ast_node *f = call->a;
	const char *name = !f ? NULL : f->kind == AST_NAME || f->kind == AST_ATTR ? f->str : NULL;
	return name && (strcmp(name, "Thread") == 0 || strcmp(name, "Process") == 0);
}

static bool literal_int(const struct ast_node *v, int64_t *out)
{
	if (v->kind == AST_INT) {
		*out = v->ival;
		return true;
	}
	if (v->kind == AST_UNARY && v->op == '-' && v->a && v->a->kind == AST_INT) {
		*out = -v->a->ival;
		return true;
	}
	return false;
}

static int check_node(const struct ast_program *ast, const struct ast_node *n,
		      const struct machine *m, struct diag *err, int depth);

static int check_list(const struct ast_program *ast, const struct ast_list *l,
		      const struct machine *m, struct diag *err, int depth)
{
	for (int i = 0; i < l->n; i++)
		if (check_node(ast, l->v[i], m, err, depth) < 0)
			return -1;
	return 0;
}

static int check_node(const struct ast_program *ast, const struct ast_node *n,
		      const struct machine *m, struct diag *err, int depth)
{
	if (!n || depth > 200)
		return 0;
	if (n->kind == AST_CALL && is_spawn_call(n)) {
		for (int i = 0; i < n->items2.n; i++) {
			const struct ast_node *kw = n->items2.v[i];
			if (kw->kind != AST_KWARG || !kw->a || !kw->str)
				continue;
			int64_t v;
			if (strcmp(kw->str, "cpus") == 0 &&
			    (kw->a->kind == AST_LIST || kw->a->kind == AST_TUPLE)) {
				for (int j = 0; j < kw->a->items.n; j++) {
					const struct ast_node *e = kw->a->items.v[j];
					if (literal_int(e, &v) && (v < 0 || v >= m->cores)) {
						diag_set(err, ast->src, e->line, e->col,
							 "cpus=: core %lld does not exist (the machine has %d "
							 "core%s, numbered 0 to %d)",
							 (long long)v, m->cores, m->cores == 1 ? "" : "s",
							 m->cores - 1);
						return -1;
					}
				}
			} else if (strcmp(kw->str, "priority") == 0 && literal_int(kw->a, &v) &&
				   (v < 0 || v > 99)) {
				diag_set(err, ast->src, kw->a->line, kw->a->col,
					 "priority=: expected 0 to 99 (higher runs first), found %lld",
					 (long long)v);
				return -1;
			} else if (strcmp(kw->str, "nice") == 0 && literal_int(kw->a, &v) &&
				   (v < -20 || v > 19)) {
				diag_set(err, ast->src, kw->a->line, kw->a->col,
					 "nice=: expected -20 to 19, found %lld", (long long)v);
				return -1;
			}
		}
	}
	if (check_node(ast, n->a, m, err, depth + 1) < 0 || check_node(ast, n->b, m, err, depth + 1) < 0 ||
	    check_node(ast, n->c, m, err, depth + 1) < 0 ||
	    check_list(ast, &n->items, m, err, depth + 1) < 0 ||
	    check_list(ast, &n->items2, m, err, depth + 1) < 0)
		return -1;
	return 0;
}

int sched_check_program(const struct ast_program *ast, const struct machine *m,
			struct diag *err)
{
	return check_list(ast, &ast->body, m, err, 0);
}

bool sched_params_from_call(struct kernel *k, struct task *t, const struct vm_call *c,
			    const char *what, struct sched_params *out)
{
	struct sched_params p = t->se.p;
	const struct value *v = kern_kwarg(c, "priority");
	if (v) {
		if (v->type != V_INT) {
			kern_raise(k, t, "TypeError", "%s() priority= must be an integer", what);
			return false;
		}
		if (v->u.i < 0 || v->u.i > 99) {
			kern_raise(k, t, "ValueError",
				   "%s() priority=%lld: expected 0 to 99 (higher runs first)", what,
				   (long long)v->u.i);
			return false;
		}
		p.prio = (int)v->u.i;
	}
	if ((v = kern_kwarg(c, "nice"))) {
		if (v->type != V_INT) {
			kern_raise(k, t, "TypeError", "%s() nice= must be an integer", what);
			return false;
		}
		if (v->u.i < -20 || v->u.i > 19) {
			kern_raise(k, t, "ValueError", "%s() nice=%lld: expected -20 to 19", what,
				   (long long)v->u.i);
			return false;
		}
		p.nice = (int)v->u.i;
	}
	if ((v = kern_kwarg(c, "cpus")) && v->type != V_NONE) {
		int n = vm_seq_len(*v);
		if (n <= 0) {
			kern_raise(k, t, n == 0 ? "ValueError" : "TypeError",
				   "%s() cpus= must be a non-empty list of core numbers", what);
			return false;
		}
		memset(p.cpus, 0, sizeof p.cpus);
		p.pinned = true;
		for (int i = 0; i < n; i++) {
			struct value e = vm_seq_item(*v, i);
			if (e.type != V_INT) {
				kern_raise(k, t, "TypeError", "%s() cpus= must list core numbers", what);
				return false;
			}
			if (e.u.i < 0 || e.u.i >= k->m->cores) {
				kern_raise(k, t, "ValueError",
					   "%s() cpus=: core %lld does not exist (the machine has %d "
					   "core%s, numbered 0 to %d)",
					   what, (long long)e.u.i, k->m->cores,
					   k->m->cores == 1 ? "" : "s", k->m->cores - 1);
				return false;
			}
			p.cpus[e.u.i / 64] |= UINT64_C(1) << (e.u.i % 64);
		}
	}
	*out = p;
	return true;
}

void sched_inherit(struct kernel *k, struct task *creator, struct task *child,
		   const struct proc *np)
{
	(void)k;
	child->se.p = np && np->via_process ? np->sp : creator->se.p;
}

/* ---- priority inheritance ---- */

static void pi_update(struct kernel *k, struct task *t, int depth)
{
	int lent = 0;
	for (int i = 0; i < k->nobjs; i++) {
		const struct kobj *o = k->objs[i];
		if (!o->inherit || o->owner != t->id)
			continue;
		for (int w = o->waiters.head; w >= 0; w = k->tasks[w]->wq_next)
			if (sched_prio(k->tasks[w]) > lent)
				lent = sched_prio(k->tasks[w]);
	}
	if (lent == t->se.pi_prio)
		return;
	int before = sched_prio(t);
	t->se.pi_prio = lent;
	int after = sched_prio(t);
	if (after != before && t->state != TS_DONE) {
		if (t->on_rq) {
			/* its place in the queue follows its priority */
			void *rq = rq_of(k, t->se.rq);
			cls_of(k, t->se.rq)->dequeue(rq, t);
			cls_of(k, t->se.rq)->enqueue(rq, t, ENQ_MIGRATE);
			if (after > before)
				check_preempt(k, t, percore(k) ? t->se.rq : -1);
		} else if (t->se.on_cpu && after < before && t->core >= 0) {
			/* lowered while running: give way if a queued task now beats it */
			for (int i = 0; i < k->ntasks; i++) {
				struct task *o = k->tasks[i];
				if (o->on_rq && (!percore(k) || o->se.rq == t->core) &&
				    sched_allowed(o, t->core) && cls_of(k, t->core)->check_preempt &&
				    cls_of(k, t->core)->check_preempt(rq_of(k, t->se.rq), t, o)) {
					resched_curr(k, t->core,
						     kern_reason(k, "gives way to %s: its lent priority "
								    "%d ends (back to %d)",
								 o->name, before, after));
					break;
				}
			}
		}
	}
	/* it waits on an inherit lock itself: pass the change on to that lock's owner */
	if (depth < 32 && t->wait_obj >= 0 && t->wait_obj < k->nobjs &&
	    (t->wait_kind == H_LOCK || t->wait_kind == H_RLOCK) && thread_state_blocked(t->state)) {
		const struct kobj *o = k->objs[t->wait_obj];
		if (o->inherit && o->owner >= 0 && o->owner != t->id)
			pi_update(k, k->tasks[o->owner], depth + 1);
	}
}

void sched_pi_update(struct kernel *k, struct task *t)
{
	if (t)
		pi_update(k, t, 0);
}

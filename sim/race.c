/* race.c — data races on shared variables, found by happens-before (vector clocks).
 *
 * Each task carries a vector clock; starting a thread, joining one, and every hand-off
 * through a synchronisation object (a lock's release then acquire, a semaphore, a condition's
 * notify, an event's set, a barrier) order what came before it against what comes after.
 * Two accesses to one global variable of a process by two threads, at least one a write,
 * with neither ordered before the other, are a race: the first per variable is reported
 * with the two threads and the two lines (the checks follow FastTrack's: the last write,
 * and the reads since it, per variable). Whether the race loses an update in this run
 * depends on the schedule; the report does not. Processes have separate memory and never
 * race with each other here. */
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

struct vclock {
	uint32_t *c;
	int n;
};

struct access {
	int task;       /* -1: none */
	uint32_t clock; /* the task's own component when it accessed */
	int line;
};

struct var_state {
	struct access write;
	struct access *reads; /* reads since the last write, one per task */
	int nreads, capreads;
	bool reported;
};

struct race_state {
	struct vclock *tasks;  /* indexed by task id */
	int ntasks;
	struct vclock *objs;   /* indexed by kobj id */
	int nobjs;
	struct var_state **vars; /* [proc][slot] */
	int *nvars;
	int nprocs;
};

static bool vc_fit(struct vclock *v, int n)
{
	if (n <= v->n)
		return true;
	uint32_t *c = realloc(v->c, (size_t)n * sizeof *c);
	if (!c)
		return false;
	memset(c + v->n, 0, (size_t)(n - v->n) * sizeof *c);
	v->c = c;
	v->n = n;
	return true;
}

static uint32_t vc_get(const struct vclock *v, int i)
{
	return i < v->n ? v->c[i] : 0;
}

/* dst = max(dst, src) */
static void vc_join(struct vclock *dst, const struct vclock *src)
{
	if (!vc_fit(dst, src->n))
		return;
	for (int i = 0; i < src->n; i++)
		if (src->c[i] > dst->c[i])
			dst->c[i] = src->c[i];
}

static bool grow_table(void **p, int *n, int need, size_t elem)
{
	if (need <= *n)
		return true;
	int cap = *n ? *n : 16;
	while (cap < need)
		cap *= 2;
	char *q = realloc(*p, (size_t)cap * elem);
	if (!q)
		return false;
	memset(q + (size_t)*n * elem, 0, (size_t)(cap - *n) * elem);
	*p = q;
	*n = cap;
	return true;
}

static struct vclock *task_vc(struct kernel *k, int task)
{
	struct race_state *r = k->race;
	if (!grow_table((void **)&r->tasks, &r->ntasks, task + 1, sizeof *r->tasks))
		return NULL;
	struct vclock *v = &r->tasks[task];
	if (vc_get(v, task) == 0 && vc_fit(v, task + 1))
		v->c[task] = 1; /* its own epoch starts at 1: 0 means "never seen" */
	return v;
}

static struct vclock *obj_vc(struct kernel *k, int obj)
{
	struct race_state *r = k->race;
	if (!grow_table((void **)&r->objs, &r->nobjs, obj + 1, sizeof *r->objs))
		return NULL;
	return &r->objs[obj];
}

bool race_init(struct kernel *k)
{
	k->race = calloc(1, sizeof *k->race);
	return k->race != NULL;
}

void race_free(struct kernel *k)
{
	struct race_state *r = k->race;
	if (!r)
		return;
	for (int i = 0; i < r->ntasks; i++)
		free(r->tasks[i].c);
	for (int i = 0; i < r->nobjs; i++)
		free(r->objs[i].c);
	for (int p = 0; p < r->nprocs; p++) {
		for (int s = 0; r->vars[p] && s < r->nvars[p]; s++)
			free(r->vars[p][s].reads);
		free(r->vars[p]);
	}
	free(r->tasks);
	free(r->objs);
	free(r->vars);
	free(r->nvars);
	free(r);
	k->race = NULL;
}

void race_spawn(struct kernel *k, struct task *parent, struct task *child)
{
	if (!k->race)
		return;
	struct vclock *pv = task_vc(k, parent->id), *cv = task_vc(k, child->id);
	if (!pv || !cv)
		return;
	vc_join(cv, pv);
	pv->c[parent->id]++;
}

void race_join(struct kernel *k, struct task *joiner, struct task *joined)
{
	if (!k->race)
		return;
	struct vclock *jv = task_vc(k, joiner->id), *dv = task_vc(k, joined->id);
	if (jv && dv)
		vc_join(jv, dv);
}

void race_release(struct kernel *k, struct task *t, int obj)
{
	if (!k->race || !t)
		return;
	struct vclock *tv = task_vc(k, t->id), *ov = obj_vc(k, obj);
	if (!tv || !ov)
		return;
	vc_join(ov, tv);
	tv->c[t->id]++;
}

void race_acquire(struct kernel *k, struct task *t, int obj)
{
	if (!k->race || !t)
		return;
	struct vclock *tv = task_vc(k, t->id), *ov = obj_vc(k, obj);
	if (tv && ov)
		vc_join(tv, ov);
}

static void report(struct kernel *k, struct var_state *v, const char *name,
		   const struct access *earlier, bool earlier_write, struct task *t, bool write,
		   int line)
{
	if (v->reported)
		return;
	v->reported = true;
	const struct task *a = k->tasks[earlier->task];
	trace_add_race(k->tr, name, a->trace_idx, earlier_write, earlier->line, t->trace_idx,
		       write, line);
}

void race_access(void *ctx, void *user, int slot, const char *name, bool write, int line)
{
	struct kernel *k = ctx;
	struct task *t = user;
	struct race_state *r = k->race;
	if (!r || !t)
		return;
	int p = t->proc;
	if (p >= r->nprocs) {
		int cap = r->nprocs ? r->nprocs : 4;
		while (cap <= p)
			cap *= 2;
		struct var_state **vars = realloc(r->vars, (size_t)cap * sizeof *vars);
		if (!vars)
			return;
		r->vars = vars;
		int *nvars = realloc(r->nvars, (size_t)cap * sizeof *nvars);
		if (!nvars)
			return;
		r->nvars = nvars;
		for (int i = r->nprocs; i < cap; i++) {
			r->vars[i] = NULL;
			r->nvars[i] = 0;
		}
		r->nprocs = cap;
	}
	if (!grow_table((void **)&r->vars[p], &r->nvars[p], slot + 1, sizeof *r->vars[p]))
		return;
	struct var_state *v = &r->vars[p][slot];
	if (v->write.task == 0 && v->write.clock == 0)
		v->write.task = -1; /* fresh: calloc'd zeros mean no write yet */
	struct vclock *tv = task_vc(k, t->id);
	if (!tv)
		return;
	const struct access *w = &v->write;
	if (w->task >= 0 && w->task != t->id && w->clock > vc_get(tv, w->task))
		report(k, v, name, w, true, t, write, line);
	if (write) {
		for (int i = 0; i < v->nreads; i++) {
			const struct access *rd = &v->reads[i];
			if (rd->task != t->id && rd->clock > vc_get(tv, rd->task))
				report(k, v, name, rd, false, t, true, line);
		}
		v->write = (struct access){t->id, tv->c[t->id], line};
		v->nreads = 0;
		return;
	}
	for (int i = 0; i < v->nreads; i++)
		if (v->reads[i].task == t->id) {
			v->reads[i] = (struct access){t->id, tv->c[t->id], line};
			return;
		}
	if (v->nreads == v->capreads) {
		int cap = v->capreads ? v->capreads * 2 : 4;
		struct access *a = realloc(v->reads, (size_t)cap * sizeof *a);
		if (!a)
			return;
		v->reads = a;
		v->capreads = cap;
	}
	v->reads[v->nreads++] = (struct access){t->id, tv->c[t->id], line};
}

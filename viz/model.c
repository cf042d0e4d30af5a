/* model.c — the rows the view draws, derived once from the trace's records: per thread and per
 * core, the stretches of time in one state (as the Chrome writer makes them: a record in the
 * same state, and for running on the same core, continues the stretch); per lock and GIL (the
 * TR_OBJ records) the stretches it is held and by whom; counters (threads ready, per core
 * when the ready records name the core's queue; threads waiting for each GIL; the bytes in a
 * Queue's pipe, from TR_COUNTER records) as steps; and the causality arrows: who woke whom (TR_WAKE) and the
 * hand-overs of locks and GILs (a release, then the acquisition by a thread that waited).
 *
 * A second trace (the real run of the same program) adds its own rows below the first's, with
 * "real: " before their labels, on the same time axis. */
#include "viz_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct open_seg {
	int state;        /* -1: none */
	bool done;
	int who;
	int64_t t;
	uint32_t reason, line;
};

static int push_seg(struct vrow *r, size_t *cap, const struct open_seg *o, int64_t end)
{
	if (o->state < 0 || end <= o->t)
		return 0;
	if (r->nsegs == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct vseg *p = realloc(r->segs, ncap * sizeof *p);
		if (!p)
			return -1;
		r->segs = p;
		*cap = ncap;
	}
	r->segs[r->nsegs++] = (struct vseg){.t0 = o->t, .t1 = end, .reason = o->reason,
					    .line = o->line, .who = o->who,
					    .state = (uint8_t)o->state};
	return 0;
}

/* A counter's new value at t (a point at the same time replaces the last one, except for a
 * pipe's fill: data that passed through the pipe in one instant still shows, a pixel wide). */
static int push_point(struct vrow *r, size_t *cap, int64_t t, int32_t val)
{
	if (r->npts > 0 && r->pts[r->npts - 1].val == val)
		return 0;
	if (r->npts > 0 && r->pts[r->npts - 1].t == t && r->index != CNT_PIPE) {
		r->pts[r->npts - 1].val = val;
		if (r->npts > 1 && r->pts[r->npts - 2].val == val)
			r->npts--;
	} else {
		if (r->npts == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct vpoint *p = realloc(r->pts, ncap * sizeof *p);
			if (!p)
				return -1;
			r->pts = p;
			*cap = ncap;
		}
		r->pts[r->npts++] = (struct vpoint){t, val};
	}
	if (val > r->ymax)
		r->ymax = val;
	return 0;
}

static int push_arrow(struct viz *v, size_t *cap, struct varrow a)
{
	if (v->narrows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct varrow *p = realloc(v->arrows, ncap * sizeof *p);
		if (!p)
			return -1;
		v->arrows = p;
		*cap = ncap;
	}
	v->arrows[v->narrows++] = a;
	if (a.t1 - a.t0 > v->arrow_span)
		v->arrow_span = a.t1 - a.t0;
	return 0;
}

void model_thread_label(const struct trace *tr, int t, char *buf, size_t size)
{
	const struct trace_thread *th = &tr->threads[t];
	int pid = th->proc >= 0 && th->proc < tr->nprocs ? tr->procs[th->proc].pid : -1;
	snprintf(buf, size, "%s (%d/%d)", trace_str(tr, th->name), pid, th->tid);
}

static bool is_gil(const struct trace *tr, int o)
{
	return strcmp(trace_str(tr, tr->objects[o].kind), "GIL") == 0;
}

/* Which process an object's row goes under: a GIL's own ("GIL (pid N)"), a lock's when every
 * thread that held it belongs to one process; -1 (the "Locks" group) otherwise. */
static void object_procs(const struct trace *tr, int *proc)
{
	for (int o = 0; o < tr->nobjects; o++)
		proc[o] = -2;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind != TR_OBJ || r->obj < 0 || r->obj >= tr->nobjects || r->state != OBJ_HELD ||
		    r->tid < 0 || r->tid >= tr->nthreads)
			continue;
		int p = tr->threads[r->tid].proc;
		if (proc[r->obj] == -2)
			proc[r->obj] = p;
		else if (proc[r->obj] != p)
			proc[r->obj] = -1;
	}
	for (int o = 0; o < tr->nobjects; o++) {
		const char *pid = strstr(trace_str(tr, tr->objects[o].name), "pid ");
		if (is_gil(tr, o) && pid)
			for (int p = 0; p < tr->nprocs; p++)
				if (tr->procs[p].pid == atoi(pid + 4))
					proc[o] = p;
		if (proc[o] < 0 || proc[o] >= tr->nprocs)
			proc[o] = -1;
	}
}

struct build {
	struct viz *v;
	int maxrows;
	size_t *cap, *capts;
	size_t caparrows, capevents;
};

static struct vrow *new_row(struct build *b, int src, enum row_kind kind, int index,
			    const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct vrow *new_row(struct build *b, int src, enum row_kind kind, int index,
			    const char *prefix, const char *fmt, ...)
{
	struct viz *v = b->v;
	struct vrow *r = &v->rows[v->nrows++];
	r->kind = kind;
	r->index = index;
	r->src = src;
	if (row_is_head(kind))
		v->ngroups++;
	r->group = v->ngroups - 1;
	int n = snprintf(r->label, sizeof r->label, "%s", prefix);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->label + n, sizeof r->label - (size_t)n, fmt, ap);
	va_end(ap);
	return r;
}

static int build_trace(struct build *b, int src)
{
	struct viz *v = b->v;
	const struct trace *tr = v->trs[src];
	int nt = tr->nthreads, nc = tr->ncores, np = tr->nprocs, no = tr->nobjects;
	const char *pre = src ? "real: " : "";
	int *thread_row = calloc((size_t)nt + 1, sizeof *thread_row);
	int *core_row = calloc((size_t)nc + 1, sizeof *core_row);
	int *obj_row = calloc((size_t)no + 1, sizeof *obj_row);
	int *obj_proc = calloc((size_t)no + 1, sizeof *obj_proc);
	int *gil_row = calloc((size_t)np + 1, sizeof *gil_row);
	bool *gil_wait = calloc((size_t)np + 1, sizeof *gil_wait);
	int *ngil = calloc((size_t)np + 1, sizeof *ngil);
	int64_t *wait_left = calloc((size_t)nt + 1, sizeof *wait_left);
	int64_t *released = calloc((size_t)no + 1, sizeof *released);
	int *last_holder = calloc((size_t)no + 1, sizeof *last_holder);
	int *cnt_row = calloc((size_t)no + 1, sizeof *cnt_row);       /* TR_COUNTER: row or -1 */
	bool *has_obj = calloc((size_t)no + 1, sizeof *has_obj);      /* it has TR_OBJ records */
	int *runq_row = calloc((size_t)nc + 1, sizeof *runq_row);
	int *nrunq = calloc((size_t)nc + 1, sizeof *nrunq);
	int *ready_core = calloc((size_t)nt + 1, sizeof *ready_core); /* its queue's core or -1 */
	struct open_seg *open = calloc((size_t)(nt + nc + no) + 1, sizeof *open);
	int status = -1;
	if (!thread_row || !core_row || !obj_row || !obj_proc || !gil_row || !gil_wait || !ngil ||
	    !wait_left || !released || !last_holder || !cnt_row || !has_obj || !runq_row || !nrunq ||
	    !ready_core || !open)
		goto out;
	v->thread_row[src] = thread_row;
	object_procs(tr, obj_proc);
	bool percore = false;
	for (int o = 0; o < no; o++)
		cnt_row[o] = obj_row[o] = -1;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind == TR_STATE && r->state == TS_READY && r->core >= 0 && r->core < nc)
			percore = true;
		if (r->kind == TR_COUNTER && r->obj >= 0 && r->obj < no)
			cnt_row[r->obj] = 0; /* a row below */
		if (r->kind == TR_OBJ && r->obj >= 0 && r->obj < no)
			has_obj[r->obj] = true;
		if (r->kind == TR_STATE && r->state == TS_GIL && r->tid >= 0 && r->tid < nt &&
		    tr->threads[r->tid].proc >= 0 && tr->threads[r->tid].proc < np)
			gil_wait[tr->threads[r->tid].proc] = true;
	}

	for (int p = 0; p < np; p++) {
		new_row(b, src, ROW_PROC, p, pre, "%s (pid %d)", trace_str(tr, tr->procs[p].name),
			tr->procs[p].pid);
		for (int t = 0; t < nt; t++) {
			if (tr->threads[t].proc != p)
				continue;
			struct vrow *r = new_row(b, src, ROW_THREAD, t, pre, "%s", "");
			model_thread_label(tr, t, r->label + strlen(pre), sizeof r->label - strlen(pre));
			thread_row[t] = v->nrows - 1;
		}
		for (int o = 0; o < no; o++)
			if (obj_proc[o] == p) {
				/* under its process a GIL needs no pid */
				struct vrow *r = new_row(b, src, ROW_OBJ, o, pre, "%s",
							 is_gil(tr, o) ? "GIL" : trace_str(tr, tr->objects[o].name));
				r->aux = p;
				obj_row[o] = v->nrows - 1;
			}
	}
	/* threads of no known process still get a row, under a header of their own */
	bool orphans = false;
	for (int t = 0; t < nt; t++) {
		int p = tr->threads[t].proc;
		if (p >= 0 && p < np)
			continue;
		if (!orphans)
			new_row(b, src, ROW_PROC, -1, pre, "%s", "other threads");
		orphans = true;
		struct vrow *r = new_row(b, src, ROW_THREAD, t, pre, "%s", "");
		model_thread_label(tr, t, r->label + strlen(pre), sizeof r->label - strlen(pre));
		thread_row[t] = v->nrows - 1;
	}
	bool locks = false;
	for (int o = 0; o < no; o++) {
		if (obj_proc[o] >= 0)
			continue;
		if (cnt_row[o] >= 0 && !has_obj[o])
			continue; /* a Queue: its pipe's counter tells more than an empty track */
		if (!locks)
			new_row(b, src, ROW_LOCKS, 0, pre, "%s", "Locks");
		locks = true;
		const char *kind = trace_str(tr, tr->objects[o].kind);
		struct vrow *r = new_row(b, src, ROW_OBJ, o, pre, "%s%s%s%s",
					 trace_str(tr, tr->objects[o].name), kind[0] ? " (" : "", kind,
					 kind[0] ? ")" : "");
		r->aux = -1;
		obj_row[o] = v->nrows - 1;
	}
	if (nc > 0) {
		new_row(b, src, ROW_CORES, 0, pre, "CPU cores (%d)", nc);
		for (int c = 0; c < nc; c++) {
			char label[64];
			new_row(b, src, ROW_CORE, c, pre, "%s", trace_core_label(tr, c, label, sizeof label));
			core_row[c] = v->nrows - 1;
		}
	}
	int ready_row = -1;
	bool counters = nt > 0;
	for (int c = 0; c < nc; c++)
		runq_row[c] = -1;
	if (nt > 0) {
		new_row(b, src, ROW_COUNTERS, 0, pre, "%s", "Counters");
		if (percore) {
			for (int c = 0; c < nc; c++) {
				struct vrow *r = new_row(b, src, ROW_COUNTER, CNT_RUNQ, pre,
							 "run queue core %d", c);
				r->aux = c;
				runq_row[c] = v->nrows - 1;
			}
		} else {
			new_row(b, src, ROW_COUNTER, CNT_READY, pre, "%s", "ready threads");
			ready_row = v->nrows - 1;
		}
		for (int p = 0; p < np; p++) {
			gil_row[p] = -1;
			if (!gil_wait[p])
				continue;
			struct vrow *r = new_row(b, src, ROW_COUNTER, CNT_GIL, pre, "GIL waiters (pid %d)",
						 tr->procs[p].pid);
			r->aux = p;
			gil_row[p] = v->nrows - 1;
		}
	}
	for (int o = 0; o < no; o++) {
		if (cnt_row[o] < 0)
			continue;
		if (!counters)
			new_row(b, src, ROW_COUNTERS, 0, pre, "%s", "Counters");
		counters = true;
		struct vrow *r = new_row(b, src, ROW_COUNTER, CNT_PIPE, pre, "pipe fill: %s",
					 trace_str(tr, tr->objects[o].name));
		r->aux = o;
		cnt_row[o] = v->nrows - 1;
	}

	for (int i = 0; i < nt + nc + no; i++)
		open[i] = (struct open_seg){.state = -1, .who = -1};
	for (int t = 0; t < nt; t++)
		wait_left[t] = ready_core[t] = -1;
	for (int o = 0; o < no; o++) {
		last_holder[o] = -1;
		released[o] = -1;
	}
	int nready = 0;
	int64_t last_t = 0;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *rec = &tr->recs[i];
		last_t = rec->t;
		if (rec->kind == TR_STATE && rec->tid >= 0 && rec->tid < nt && rec->state < TS_COUNT) {
			struct open_seg *o = &open[rec->tid];
			int who = rec->state == TS_RUNNING ? rec->core : -1;
			if (o->done)
				continue;
			/* the core whose queue it waits in (per-core queues; a move is a record too) */
			int rq = percore && rec->state == TS_READY && rec->core >= 0 && rec->core < nc
					 ? rec->core : -1;
			if (rq != ready_core[rec->tid]) {
				int was = ready_core[rec->tid];
				ready_core[rec->tid] = rq;
				if (was >= 0 &&
				    push_point(&v->rows[runq_row[was]], &b->capts[runq_row[was]], rec->t,
					       --nrunq[was]) < 0)
					goto out;
				if (rq >= 0 &&
				    push_point(&v->rows[runq_row[rq]], &b->capts[runq_row[rq]], rec->t,
					       ++nrunq[rq]) < 0)
					goto out;
			}
			if (o->state == rec->state && o->who == who)
				continue;
			int row = thread_row[rec->tid];
			if (push_seg(&v->rows[row], &b->cap[row], o, rec->t) < 0)
				goto out;
			int p = tr->threads[rec->tid].proc;
			if ((o->state == TS_READY) != (rec->state == TS_READY)) {
				nready += rec->state == TS_READY ? 1 : -1;
				if (ready_row >= 0 &&
				    push_point(&v->rows[ready_row], &b->capts[ready_row], rec->t, nready) < 0)
					goto out;
			}
			if ((o->state == TS_GIL) != (rec->state == TS_GIL) && p >= 0 && p < np &&
			    gil_row[p] >= 0) {
				ngil[p] += rec->state == TS_GIL ? 1 : -1;
				if (push_point(&v->rows[gil_row[p]], &b->capts[gil_row[p]], rec->t,
					       ngil[p]) < 0)
					goto out;
			}
			if ((o->state == TS_LOCK || o->state == TS_GIL) &&
			    !(rec->state == TS_LOCK || rec->state == TS_GIL))
				wait_left[rec->tid] = rec->t;
			*o = (struct open_seg){.state = rec->state, .who = who, .t = rec->t,
					       .reason = rec->reason, .line = rec->line,
					       .done = rec->state == TS_DONE};
		} else if (rec->kind == TR_CORE && rec->core >= 0 && rec->core < nc &&
			   rec->state < CS_COUNT) {
			struct open_seg *o = &open[nt + rec->core];
			int st = rec->state == CS_RUN ? VS_CORE_RUN
				 : rec->state == CS_SWITCH ? VS_SWITCH : -1;
			int who = st < 0 ? -1 : rec->tid;
			if (o->state == st && o->who == who)
				continue;
			int row = core_row[rec->core];
			if (push_seg(&v->rows[row], &b->cap[row], o, rec->t) < 0)
				goto out;
			*o = (struct open_seg){.state = st, .who = who, .t = rec->t,
					       .reason = rec->reason, .line = rec->line};
		} else if (rec->kind == TR_OBJ && rec->obj >= 0 && rec->obj < no &&
			   obj_row[rec->obj] >= 0) {
			int ob = rec->obj;
			struct open_seg *o = &open[nt + nc + ob];
			bool held = rec->state == OBJ_HELD && rec->tid >= 0 && rec->tid < nt;
			int who = held ? rec->tid : -1;
			if (o->who == who)
				continue;
			int row = obj_row[ob];
			if (push_seg(&v->rows[row], &b->cap[row], o, rec->t) < 0)
				goto out;
			if (o->who >= 0) {
				last_holder[ob] = o->who;
				released[ob] = rec->t;
			}
			/* a hand-over: the last holder released it, and a thread that waited for a
			 * lock or a GIL since then takes it */
			int from = last_holder[ob];
			if (held && from >= 0 && from != who &&
			    (open[who].state == TS_LOCK || open[who].state == TS_GIL ||
			     wait_left[who] >= released[ob])) {
				struct varrow a = {.t0 = released[ob], .t1 = rec->t,
						   .from_row = thread_row[from], .to_row = thread_row[who],
						   .kind = is_gil(tr, ob) ? ARROW_GIL : ARROW_LOCK,
						   .reason = rec->reason};
				if (push_arrow(v, &b->caparrows, a) < 0)
					goto out;
			}
			*o = (struct open_seg){.state = held ? VS_HOLD0 + who % NHOLD : -1, .who = who,
					       .t = rec->t, .reason = rec->reason, .line = rec->line};
		} else if (rec->kind == TR_COUNTER && rec->obj >= 0 && rec->obj < no &&
			   cnt_row[rec->obj] >= 0) {
			int row = cnt_row[rec->obj];
			int32_t val = rec->line > INT32_MAX ? INT32_MAX : (int32_t)rec->line;
			if (push_point(&v->rows[row], &b->capts[row], rec->t, val) < 0)
				goto out;
		} else if (rec->kind == TR_WAKE && rec->tid >= 0 && rec->tid < nt && rec->obj >= 0 &&
			   rec->obj < nt && rec->obj != rec->tid) {
			struct varrow a = {.t0 = rec->t, .t1 = rec->t, .from_row = thread_row[rec->obj],
					   .to_row = thread_row[rec->tid], .kind = ARROW_WAKE,
					   .reason = rec->reason};
			if (push_arrow(v, &b->caparrows, a) < 0)
				goto out;
		} else if ((rec->kind == TR_PRINT || trace_is_event(tr, rec)) && src == 0) {
			if (v->nprints % 64 == 0) {
				struct vprint *p = realloc(v->prints, (v->nprints + 64) * sizeof *p);
				if (!p)
					goto out;
				v->prints = p;
			}
			v->prints[v->nprints++] = (struct vprint){.t = rec->t, .thread = rec->tid,
								  .text = rec->text,
								  .event = rec->kind == TR_MARK};
		}
		if (v->nevents == 0 || v->events[v->nevents - 1] != rec->t) {
			if (v->nevents == b->capevents) {
				size_t ncap = b->capevents ? b->capevents * 2 : 256;
				int64_t *p = realloc(v->events, ncap * sizeof *p);
				if (!p)
					goto out;
				v->events = p;
				b->capevents = ncap;
			}
			v->events[v->nevents++] = rec->t;
		}
	}
	int64_t end = tr->makespan > last_t ? tr->makespan : last_t;
	if (end > v->end)
		v->end = end;
	for (int t = 0; t < nt; t++)
		if (push_seg(&v->rows[thread_row[t]], &b->cap[thread_row[t]], &open[t], end) < 0)
			goto out;
	for (int c = 0; c < nc; c++)
		if (push_seg(&v->rows[core_row[c]], &b->cap[core_row[c]], &open[nt + c], end) < 0)
			goto out;
	for (int o = 0; o < no; o++)
		if (obj_row[o] >= 0 &&
		    push_seg(&v->rows[obj_row[o]], &b->cap[obj_row[o]], &open[nt + nc + o], end) < 0)
			goto out;
	for (int i = 0; i < v->nrows; i++) { /* the scale of each counter */
		struct vrow *r = &v->rows[i];
		if (r->kind == ROW_COUNTER && r->src == src) {
			size_t n = strlen(r->label);
			snprintf(r->label + n, sizeof r->label - n, " (max %d%s)", r->ymax,
				 r->index == CNT_PIPE ? " bytes" : "");
		}
	}
	status = 0;
out:
	if (status < 0 && v->thread_row[src] == thread_row)
		v->thread_row[src] = NULL;
	if (status < 0)
		free(thread_row);
	free(core_row);
	free(obj_row);
	free(obj_proc);
	free(gil_row);
	free(gil_wait);
	free(ngil);
	free(wait_left);
	free(released);
	free(last_holder);
	free(cnt_row);
	free(has_obj);
	free(runq_row);
	free(nrunq);
	free(ready_core);
	free(open);
	return status;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_arrow(const void *a, const void *b)
{
	const struct varrow *x = a, *y = b;
	return x->t1 < y->t1 ? -1 : x->t1 > y->t1;
}

static int rows_of(const struct trace *tr)
{
	/* processes and their GIL waiters, threads, objects and their pipe fills, the headers,
	 * cores and their run queues */
	return 2 * tr->nprocs + tr->nthreads + 2 * tr->nobjects + 2 + 2 * tr->ncores + 1 + 2 + 1;
}

int model_build(struct viz *v, char *err, size_t errsize)
{
	struct build b = {.v = v};
	b.maxrows = rows_of(v->trs[0]) + (v->trs[1] ? rows_of(v->trs[1]) : 0);
	v->rows = calloc((size_t)b.maxrows, sizeof *v->rows);
	b.cap = calloc((size_t)b.maxrows, sizeof *b.cap);
	b.capts = calloc((size_t)b.maxrows, sizeof *b.capts);
	v->nrows = v->ngroups = 0;
	v->end = 0;
	int status = -1;
	if (!v->rows || !b.cap || !b.capts)
		goto out;
	for (int src = 0; src < 2; src++)
		if (v->trs[src] && build_trace(&b, src) < 0)
			goto out;
	if (v->trs[1]) { /* the events of both runs, in order, once each */
		if (v->nevents > 0)
			qsort(v->events, v->nevents, sizeof *v->events, cmp_i64);
		size_t n = 0;
		for (size_t i = 0; i < v->nevents; i++)
			if (n == 0 || v->events[n - 1] != v->events[i])
				v->events[n++] = v->events[i];
		v->nevents = n;
		if (v->narrows > 0)
			qsort(v->arrows, v->narrows, sizeof *v->arrows, cmp_arrow);
	}
	if (v->end < 1)
		v->end = 1;
	v->collapsed = calloc((size_t)v->ngroups + 1, sizeof *v->collapsed);
	if (!v->collapsed)
		goto out;
	status = 0;
out:
	free(b.cap);
	free(b.capts);
	if (status < 0)
		snprintf(err, errsize, "out of memory while preparing the view");
	return status;
}

void model_free(struct viz *v)
{
	for (int i = 0; i < v->nrows; i++) {
		free(v->rows[i].segs);
		free(v->rows[i].pts);
	}
	free(v->rows);
	free(v->prints);
	free(v->events);
	free(v->collapsed);
	free(v->arrows);
	free(v->thread_row[0]);
	free(v->thread_row[1]);
	v->thread_row[0] = v->thread_row[1] = NULL;
	v->rows = NULL;
	v->prints = NULL;
	v->events = NULL;
	v->collapsed = NULL;
	v->arrows = NULL;
	v->narrows = 0;
	v->arrow_span = 0;
	v->nprints = v->nevents = 0;
	v->nrows = 0;
}

size_t model_first_after(const struct vrow *r, int64_t t)
{
	size_t lo = 0, hi = r->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->segs[mid].t1 <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct vseg *model_seg_at(const struct vrow *r, int64_t t)
{
	size_t i = model_first_after(r, t);
	if (i < r->nsegs && r->segs[i].t0 <= t)
		return &r->segs[i];
	return NULL;
}

static int cmp_agg(const void *a, const void *b)
{
	const struct vagg *x = a, *y = b;
	return x->run > y->run ? -1 : x->run < y->run;
}

int model_aggregate(const struct viz *v, int64_t t0, int64_t t1, struct vagg *out, int max)
{
	int n = 0;
	for (int i = 0; i < v->nrows && n < max; i++) {
		const struct vrow *r = &v->rows[i];
		if (r->kind != ROW_THREAD)
			continue;
		struct vagg a = {.row = i};
		for (size_t k = model_first_after(r, t0); k < r->nsegs && r->segs[k].t0 < t1; k++) {
			const struct vseg *s = &r->segs[k];
			int64_t a0 = s->t0 > t0 ? s->t0 : t0, a1 = s->t1 < t1 ? s->t1 : t1;
			int64_t d = a1 - a0;
			if (s->state == TS_RUNNING) {
				a.run += d;
				if (s->t0 >= t0 && (k == 0 || r->segs[k - 1].state != TS_RUNNING))
					a.switches++;
			} else if (s->state == TS_READY) {
				a.ready += d;
				/* a scheduling delay: ready until switched in, within the range */
				if (s->t1 <= t1 && k + 1 < r->nsegs && r->segs[k + 1].state == TS_RUNNING) {
					int64_t delay = s->t1 - s->t0;
					a.delay_sum += delay;
					a.delays++;
					if (delay > a.max_delay) {
						a.max_delay = delay;
						a.max_delay_at = s->t1;
					}
				}
			} else if (thread_state_blocked(s->state)) {
				a.blocked += d;
			}
		}
		if (a.run || a.ready || a.blocked)
			out[n++] = a;
	}
	qsort(out, (size_t)n, sizeof *out, cmp_agg);
	return n;
}

static bool has_state_in(const struct vrow *r, int state, int core, double t0, double t1)
{
	for (size_t k = model_first_after(r, t0 > 0 ? (int64_t)t0 : 0);
	     k < r->nsegs && (double)r->segs[k].t0 < t1; k++)
		if ((state < 0 || r->segs[k].state == state) && (core < 0 || r->segs[k].who == core))
			return true;
	return false;
}

bool model_row_active(const struct viz *v, int i, double t0, double t1)
{
	const struct vrow *r = &v->rows[i];
	if (r->kind != ROW_THREAD)
		return true;
	return has_state_in(r, TS_RUNNING, -1, t0, t1) || has_state_in(r, TS_READY, -1, t0, t1);
}

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

bool model_row_matches(const struct viz *v, int i, const char *q)
{
	const struct vrow *r = &v->rows[i];
	if (!q[0])
		return true;
	if (r->kind == ROW_COUNTER)
		return false;
	if (contains_nocase(r->label, q))
		return true;
	const struct trace *tr = row_trace(v, r);
	char *end;
	/* a number: a pid or a tid */
	long num = strtol(q, &end, 10);
	if (end != q && !*end && r->kind == ROW_THREAD) {
		const struct trace_thread *th = &tr->threads[r->index];
		return th->tid == num ||
		       (th->proc >= 0 && th->proc < tr->nprocs && tr->procs[th->proc].pid == num);
	}
	/* "core N" or "cN": the threads that ran on it in view */
	const char *c = strncasecmp(q, "core", 4) == 0 ? q + 4 : (q[0] == 'c' || q[0] == 'C') ? q + 1 : NULL;
	if (c) {
		while (*c == ' ')
			c++;
		long core = strtol(c, &end, 10);
		if (end != c && !*end && r->kind == ROW_CORE)
			return r->index == core;
		if (end != c && !*end && r->kind == ROW_THREAD)
			return has_state_in(r, TS_RUNNING, (int)core, v->t0, v->t1);
	}
	/* a state: the threads in it somewhere in view */
	for (int s = 0; s < TS_COUNT; s++)
		if (strcasecmp(q, thread_state_name(s)) == 0)
			return r->kind == ROW_THREAD && has_state_in(r, s, -1, v->t0, v->t1);
	return false;
}

int model_cursor_line(const struct viz *v)
{
	if (!v->has_cursor)
		return 0;
	if (v->sel_row >= 0 && v->sel_row < v->nrows && v->rows[v->sel_row].src == 0) {
		const struct vseg *s = model_seg_at(&v->rows[v->sel_row], v->cursor);
		if (s && s->line)
			return (int)s->line;
	}
	const struct trace *tr = v->tr;
	size_t lo = 0, hi = tr->nrecs;
	while (lo < hi) { /* the first record after the cursor */
		size_t mid = lo + (hi - lo) / 2;
		if (tr->recs[mid].t <= v->cursor)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;)
		if (tr->recs[i].line && tr->recs[i].kind != TR_COUNTER) /* its line is a value */
			return (int)tr->recs[i].line;
	return 0;
}

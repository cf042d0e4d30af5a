/* model.c — the rows the view draws, derived once from the trace's records: per thread and per
 * core, the stretches of time in one state (as the Chrome writer makes them: a record in the
 * same state, and for running on the same core, continues the stretch). */
#include "viz_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void model_thread_label(const struct trace *tr, int t, char *buf, size_t size)
{
	const struct trace_thread *th = &tr->threads[t];
	int pid = th->proc >= 0 && th->proc < tr->nprocs ? tr->procs[th->proc].pid : -1;
	snprintf(buf, size, "%s (%d/%d)", trace_str(tr, th->name), pid, th->tid);
}

int model_build(struct viz *v, char *err, size_t errsize)
{
	const struct trace *tr = v->tr;
	int nt = tr->nthreads, nc = tr->ncores, np = tr->nprocs;
	v->ngroups = np + 1;
	int maxrows = np + nt + (nc > 0 ? 1 + nc : 0) + 1;
	v->rows = calloc((size_t)maxrows, sizeof *v->rows);
	int *thread_row = calloc((size_t)nt + 1, sizeof *thread_row);
	int *core_row = calloc((size_t)nc + 1, sizeof *core_row);
	size_t *cap = calloc((size_t)maxrows, sizeof *cap);
	struct open_seg *open = calloc((size_t)(nt + nc) + 1, sizeof *open);
	v->collapsed = calloc((size_t)v->ngroups, sizeof *v->collapsed);
	if (!v->rows || !thread_row || !core_row || !cap || !open || !v->collapsed)
		goto oom;

	int n = 0;
	for (int p = 0; p < np; p++) {
		struct vrow *r = &v->rows[n++];
		r->kind = ROW_PROC;
		r->index = r->group = p;
		snprintf(r->label, sizeof r->label, "%s (pid %d)", trace_str(tr, tr->procs[p].name),
			 tr->procs[p].pid);
		for (int t = 0; t < nt; t++) {
			if (tr->threads[t].proc != p)
				continue;
			r = &v->rows[n];
			r->kind = ROW_THREAD;
			r->index = t;
			r->group = p;
			model_thread_label(tr, t, r->label, sizeof r->label);
			thread_row[t] = n++;
		}
	}
	/* threads of no known process still get a row, at the end of the processes */
	for (int t = 0; t < nt; t++) {
		int p = tr->threads[t].proc;
		if (p >= 0 && p < np)
			continue;
		struct vrow *r = &v->rows[n];
		r->kind = ROW_THREAD;
		r->index = t;
		r->group = np;
		model_thread_label(tr, t, r->label, sizeof r->label);
		thread_row[t] = n++;
	}
	if (nc > 0) {
		struct vrow *r = &v->rows[n++];
		r->kind = ROW_CORES;
		r->index = r->group = np;
		snprintf(r->label, sizeof r->label, "CPU cores (%d)", nc);
		for (int c = 0; c < nc; c++) {
			r = &v->rows[n];
			r->kind = ROW_CORE;
			r->index = c;
			r->group = np;
			snprintf(r->label, sizeof r->label, "core %d", c);
			core_row[c] = n++;
		}
	}
	v->nrows = n;

	for (int i = 0; i < nt + nc; i++)
		open[i] = (struct open_seg){.state = -1, .who = -1};
	size_t capprints = 0, capevents = 0;
	int64_t last_t = 0;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *rec = &tr->recs[i];
		last_t = rec->t;
		if (v->nevents == 0 || v->events[v->nevents - 1] != rec->t) {
			if (v->nevents == capevents) {
				capevents = capevents ? capevents * 2 : 256;
				int64_t *p = realloc(v->events, capevents * sizeof *p);
				if (!p)
					goto oom;
				v->events = p;
			}
			v->events[v->nevents++] = rec->t;
		}
		if (rec->kind == TR_STATE && rec->tid >= 0 && rec->tid < nt && rec->state < TS_COUNT) {
			struct open_seg *o = &open[rec->tid];
			int who = rec->state == TS_RUNNING ? rec->core : -1;
			if (o->done || (o->state == rec->state && o->who == who))
				continue;
			int row = thread_row[rec->tid];
			if (push_seg(&v->rows[row], &cap[row], o, rec->t) < 0)
				goto oom;
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
			if (push_seg(&v->rows[row], &cap[row], o, rec->t) < 0)
				goto oom;
			*o = (struct open_seg){.state = st, .who = who, .t = rec->t,
					       .reason = rec->reason, .line = rec->line};
		} else if (rec->kind == TR_PRINT) {
			if (v->nprints == capprints) {
				capprints = capprints ? capprints * 2 : 64;
				struct vprint *p = realloc(v->prints, capprints * sizeof *p);
				if (!p)
					goto oom;
				v->prints = p;
			}
			v->prints[v->nprints++] = (struct vprint){.t = rec->t, .thread = rec->tid,
								  .text = rec->text};
		}
	}
	v->end = tr->makespan > last_t ? tr->makespan : last_t;
	if (v->end < 1)
		v->end = 1;
	for (int t = 0; t < nt; t++)
		if (push_seg(&v->rows[thread_row[t]], &cap[thread_row[t]], &open[t], v->end) < 0)
			goto oom;
	for (int c = 0; c < nc; c++)
		if (push_seg(&v->rows[core_row[c]], &cap[core_row[c]], &open[nt + c], v->end) < 0)
			goto oom;
	free(thread_row);
	free(core_row);
	free(cap);
	free(open);
	return 0;
oom:
	free(thread_row);
	free(core_row);
	free(cap);
	free(open);
	snprintf(err, errsize, "out of memory while preparing the view");
	return -1;
}

void model_free(struct viz *v)
{
	for (int i = 0; i < v->nrows; i++)
		free(v->rows[i].segs);
	free(v->rows);
	free(v->prints);
	free(v->events);
	free(v->collapsed);
	v->rows = NULL;
	v->prints = NULL;
	v->events = NULL;
	v->collapsed = NULL;
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

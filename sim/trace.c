/* trace.c — the trace store: records, tables and interned strings. */
#define _GNU_SOURCE /* mremap */
#include "trace.h"

#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The intern index: open addressing with linear probing over string ids. Slot value 0 means
 * empty (id 0, the empty string, is never stored in the index: trace_intern answers it
 * before looking). Capacity is a power of two and kept at most half full, so a probe
 * sequence is short on average and always ends at an empty slot. */
struct strindex {
	uint32_t *slots;
	uint32_t cap;
};

static uint32_t hash_str(const char *s)
{
	/* FNV-1a: cheap and good enough for identifiers, thread names and printed lines */
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

/* Returns arr grown so that it holds at least need elements of size elem (doubling, so appends
 * are amortised O(1)) and updates *cap; NULL when out of memory or the size would overflow,
 * and arr is left as it was then. */
#define RECS_MAP_MIN ((size_t)2 << 20)

static void recs_free(struct trace *tr);

static void *grow(void *arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return arr;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return NULL;
	void *p = realloc(arr, ncap * elem);
	if (p)
		*cap = ncap;
	return p;
}

/* grow() for the int-counted tables of struct trace: room for one more after n */
static void *grow_int(void *arr, int *cap, int n, size_t elem)
{
	if (n >= INT32_MAX - 1)
		return NULL;
	size_t c = (size_t)*cap;
	void *p = grow(arr, &c, (size_t)n + 1, elem);
	if (p)
		*cap = c > INT32_MAX ? INT32_MAX : (int)c;
	return p;
}

struct trace *trace_create(int ncores)
{
	if (ncores < 0)
		return NULL;
	struct trace *tr = calloc(1, sizeof *tr);
	struct strindex *ix = calloc(1, sizeof *ix);
	char **strs = calloc(16, sizeof *strs);
	char *empty = calloc(1, 1);
	if (!tr || !ix || !strs || !empty) {
		free(tr);
		free(ix);
		free(strs);
		free(empty);
		return NULL;
	}
	strs[0] = empty;
	tr->strs = strs;
	tr->nstrs = 1;
	tr->capstrs = 16;
	tr->strindex = ix;
	tr->ncores = ncores;
	tr->end = END_COMPLETED;
	memcpy(tr->origin, "sim", 4);
	return tr;
}

void trace_destroy(struct trace *tr)
{
	if (!tr)
		return;
	for (uint32_t i = 0; i < tr->nstrs; i++)
		free(tr->strs[i]);
	free(tr->strs);
	struct strindex *ix = tr->strindex;
	if (ix)
		free(ix->slots);
	free(ix);
	recs_free(tr);
	free(tr->procs);
	free(tr->threads);
	free(tr->vars);
	free(tr->expects);
	free(tr->objects);
	free(tr->cycle);
	free(tr->races);
	free(tr->gils);
	free(tr->core_labels);
	free(tr);
}

/* Rebuilds the index with ncap slots from the strings themselves. Returns 0 or -1 (the old
 * index is kept then). */
static int index_rehash(struct trace *tr, uint32_t ncap)
{
	struct strindex *ix = tr->strindex;
	uint32_t *slots = calloc(ncap, sizeof *slots);
	if (!slots)
		return -1;
	for (uint32_t id = 1; id < tr->nstrs; id++) {
		uint32_t i = hash_str(tr->strs[id]) & (ncap - 1);
		while (slots[i])
			i = (i + 1) & (ncap - 1);
		slots[i] = id;
	}
	free(ix->slots);
	ix->slots = slots;
	ix->cap = ncap;
	return 0;
}

uint32_t trace_intern(struct trace *tr, const char *s)
{
	if (!s || !*s)
		return 0;
	struct strindex *ix = tr->strindex;
	uint32_t h = hash_str(s);
	if (ix->cap) {
		for (uint32_t i = h & (ix->cap - 1); ix->slots[i]; i = (i + 1) & (ix->cap - 1))
			if (strcmp(tr->strs[ix->slots[i]], s) == 0)
				return ix->slots[i];
	}
	/* New string: make room in the index (at most half full after adding) and in strs
	 * before changing anything, so that failure leaves the trace as it was. */
	if (tr->nstrs >= UINT32_MAX - 1)
		return UINT32_MAX;
	if ((uint64_t)tr->nstrs * 2 > ix->cap) {
		uint32_t ncap = ix->cap ? ix->cap : 64;
		while ((uint64_t)tr->nstrs * 2 > ncap) {
			if (ncap > UINT32_MAX / 2)
				return UINT32_MAX;
			ncap *= 2;
		}
		if (index_rehash(tr, ncap) != 0)
			return UINT32_MAX;
	}
	size_t cap = tr->capstrs;
	char **strs = grow(tr->strs, &cap, (size_t)tr->nstrs + 1, sizeof *tr->strs);
	if (!strs)
		return UINT32_MAX;
	tr->strs = strs;
	tr->capstrs = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	char *copy = strdup(s);
	if (!copy)
		return UINT32_MAX;
	uint32_t id = tr->nstrs++;
	tr->strs[id] = copy;
	uint32_t i = h & (ix->cap - 1);
	while (ix->slots[i])
		i = (i + 1) & (ix->cap - 1);
	ix->slots[i] = id;
	return id;
}

const char *trace_str(const struct trace *tr, uint32_t id)
{
	if (!tr || id >= tr->nstrs)
		return "";
	return tr->strs[id];
}

int trace_add_process(struct trace *tr, int pid, int ppid, const char *name)
{
	uint32_t nm = trace_intern(tr, name);
	if (nm == UINT32_MAX)
		return -1;
	void *procs = grow_int(tr->procs, &tr->capprocs, tr->nprocs, sizeof *tr->procs);
	if (!procs)
		return -1;
	tr->procs = procs;
	struct trace_process *p = &tr->procs[tr->nprocs];
	p->pid = pid;
	p->ppid = ppid;
	p->name = nm;
	p->main_thread = -1; /* set by the first trace_add_thread for this process */
	return tr->nprocs++;
}

int trace_add_thread(struct trace *tr, int proc, int tid, const char *name)
{
	uint32_t nm = trace_intern(tr, name);
	if (nm == UINT32_MAX)
		return -1;
	void *threads = grow_int(tr->threads, &tr->capthreads, tr->nthreads, sizeof *tr->threads);
	if (!threads)
		return -1;
	tr->threads = threads;
	struct trace_thread *t = &tr->threads[tr->nthreads];
	t->tid = tid;
	t->proc = proc;
	t->name = nm;
	if (proc >= 0 && proc < tr->nprocs && tr->procs[proc].main_thread < 0)
		tr->procs[proc].main_thread = tr->nthreads;
	return tr->nthreads++;
}

/* Time runs from 0 (the start of the run) and never backwards: a record earlier than the last
 * one, or before the start, is the producer's bug, and refusing it keeps every reader's
 * "records are in time order" assumption true. */
/* Room for at least one more record. Small traces live on the heap; from 2 MiB on, the
 * records move to a mapping of their own that grows by mremap and asks for transparent huge
 * pages: a long run writes hundreds of megabytes of records, and faulting them in 4 KiB at a
 * time cost more than the simulation itself. */
static int recs_reserve(struct trace *tr)
{
	if (tr->nrecs < tr->caprecs)
		return 0;
	size_t ncap = tr->caprecs ? tr->caprecs * 2 : 256;
	if (ncap > SIZE_MAX / sizeof *tr->recs / 2)
		return -1;
	size_t bytes = ncap * sizeof *tr->recs;
	void *p;
	if (bytes < RECS_MAP_MIN) {
		p = realloc(tr->recs, bytes);
		if (!p)
			return -1;
	} else if (!tr->recs_mapped) {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		memcpy(p, tr->recs, tr->nrecs * sizeof *tr->recs);
		free(tr->recs);
		tr->recs_mapped = true;
	} else {
		p = mremap(tr->recs, tr->caprecs * sizeof *tr->recs, bytes, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			return -1;
	}
#ifdef MADV_HUGEPAGE
	if (tr->recs_mapped)
		madvise(p, bytes, MADV_HUGEPAGE);
#endif
	tr->recs = p;
	tr->caprecs = ncap;
	return 0;
}

static void recs_free(struct trace *tr)
{
	if (tr->recs_mapped)
		munmap(tr->recs, tr->caprecs * sizeof *tr->recs);
	else
		free(tr->recs);
	tr->recs = NULL;
	tr->nrecs = tr->caprecs = 0;
	tr->recs_mapped = false;
}

int trace_emit(struct trace *tr, const struct trace_rec *rec)
{
	if (tr->max_recs && tr->nrecs >= tr->max_recs)
		return -1;
	if (rec->t < 0 || (tr->nrecs && rec->t < tr->recs[tr->nrecs - 1].t))
		return -1;
	if (recs_reserve(tr) < 0)
		return -1;
	tr->recs[tr->nrecs++] = *rec;
	return 0;
}

int trace_add_var(struct trace *tr, const char *name, const char *repr)
{
	uint32_t nm = trace_intern(tr, name);
	uint32_t rp = trace_intern(tr, repr);
	if (nm == UINT32_MAX || rp == UINT32_MAX)
		return -1;
	void *vars = grow_int(tr->vars, &tr->capvars, tr->nvars, sizeof *tr->vars);
	if (!vars)
		return -1;
	tr->vars = vars;
	tr->vars[tr->nvars] = (struct trace_var){.name = nm, .repr = rp};
	return tr->nvars++;
}

int trace_add_object(struct trace *tr, const char *name, const char *kind, int line)
{
	uint32_t nm = trace_intern(tr, name);
	uint32_t kd = trace_intern(tr, kind);
	if (nm == UINT32_MAX || kd == UINT32_MAX)
		return -1;
	void *objs = grow_int(tr->objects, &tr->capobjects, tr->nobjects, sizeof *tr->objects);
	if (!objs)
		return -1;
	tr->objects = objs;
	tr->objects[tr->nobjects] = (struct trace_object){.name = nm, .kind = kd, .line = line};
	return tr->nobjects++;
}

int trace_add_gil(struct trace *tr, int proc, int64_t holds, int64_t switches,
		  int64_t forced_switches, int64_t drop_requests)
{
	void *g = grow_int(tr->gils, &tr->capgils, tr->ngils, sizeof *tr->gils);
	if (!g)
		return -1;
	tr->gils = g;
	tr->gils[tr->ngils] = (struct trace_gil){proc, holds, switches, forced_switches,
						 drop_requests};
	return tr->ngils++;
}

int trace_add_race(struct trace *tr, const char *var, int thread_a, bool write_a, int line_a,
		   int thread_b, bool write_b, int line_b)
{
	uint32_t v = trace_intern(tr, var);
	if (v == UINT32_MAX)
		return -1;
	void *races = grow_int(tr->races, &tr->capraces, tr->nraces, sizeof *tr->races);
	if (!races)
		return -1;
	tr->races = races;
	tr->races[tr->nraces] = (struct trace_race){v, thread_a, line_a, write_a,
						    thread_b, line_b, write_b};
	return tr->nraces++;
}

int trace_set_cycle(struct trace *tr, const struct trace_wait_edge *edges, int n)
{
	struct trace_wait_edge *c = n > 0 ? malloc((size_t)n * sizeof *c) : NULL;
	if (n > 0 && !c)
		return -1;
	if (n > 0)
		memcpy(c, edges, (size_t)n * sizeof *c);
	free(tr->cycle);
	tr->cycle = c;
	tr->ncycle = n;
	return 0;
}

int trace_add_expect(struct trace *tr, int line, const char *text, bool ok, const char *detail)
{
	uint32_t tx = trace_intern(tr, text);
	uint32_t dt = ok ? 0 : trace_intern(tr, detail);
	if (tx == UINT32_MAX || dt == UINT32_MAX)
		return -1;
	void *expects = grow_int(tr->expects, &tr->capexpects, tr->nexpects, sizeof *tr->expects);
	if (!expects)
		return -1;
	tr->expects = expects;
	tr->expects[tr->nexpects] = (struct trace_expect){
		.line = line, .text = tx, .ok = ok, .detail = dt};
	return tr->nexpects++;
}

const char *thread_state_name(enum thread_state s)
{
	static const char *const names[TS_COUNT] = {
		[TS_NEW] = "new",     [TS_READY] = "ready", [TS_RUNNING] = "running",
		[TS_SLEEP] = "sleep", [TS_IO] = "io",       [TS_JOIN] = "join",
		[TS_LOCK] = "lock",   [TS_GIL] = "gil",     [TS_WAIT] = "wait",
		[TS_DONE] = "done",
	};
	return (unsigned)s < TS_COUNT ? names[s] : "?";
}

const char *core_state_name(enum core_state s)
{
	static const char *const names[CS_COUNT] = {
		[CS_IDLE] = "idle", [CS_SWITCH] = "switch", [CS_RUN] = "run",
	};
	return (unsigned)s < CS_COUNT ? names[s] : "?";
}

const char *trace_thread_label(const struct trace *tr, int t, char *buf, size_t size)
{
	if (t < 0 || t >= tr->nthreads) {
		snprintf(buf, size, "?");
		return buf;
	}
	const struct trace_thread *th = &tr->threads[t];
	const char *name = trace_str(tr, th->name);
	if (th->proc <= 0 || th->proc >= tr->nprocs)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s/%s", trace_str(tr, tr->procs[th->proc].name), name);
	return buf;
}

const char *trace_core_label(const struct trace *tr, int c, char *buf, size_t size)
{
	if (tr->core_labels && c >= 0 && c < tr->ncores && tr->core_labels[c])
		snprintf(buf, size, "%s", trace_str(tr, tr->core_labels[c]));
	else
		snprintf(buf, size, "core %d", c);
	return buf;
}

int trace_set_core_label(struct trace *tr, int c, const char *label)
{
	if (c < 0 || c >= tr->ncores)
		return -1;
	if (!tr->core_labels && !(tr->core_labels = calloc((size_t)tr->ncores, sizeof(uint32_t))))
		return -1;
	uint32_t id = trace_intern(tr, label);
	if (id == UINT32_MAX)
		return -1;
	tr->core_labels[c] = id;
	return 0;
}

bool trace_is_event(const struct trace *tr, const struct trace_rec *r)
{
	if (r->kind != TR_MARK || r->tid < 0 || r->tid >= tr->nthreads)
		return false;
	const char *text = trace_str(tr, r->text);
	return strncmp(text, "Exception in ", 13) != 0 && strncmp(text, "gil ", 4) != 0;
}

/* trace_load.c — Chrome trace-event JSON → struct trace (see trace_load.h).
 *
 * Events are collected per thread (and per core for our own "CPU cores" process), turned into
 * slices, then into records; records from every track are sorted by time, then by the order
 * they were made, so that a state that ends at the instant the next begins is replaced by it. */
#include "trace_load.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Core numbers beyond this are not taken for cores (a foreign "CPU cores" look-alike). */
#define MAX_CORES_LOADED 4096

/* A thread (or core) track while loading. */
struct slice {
	int64_t t0, t1;
	int state;          /* enum thread_state / core_state, or -1: foreign (running) */
	uint32_t reason, line;
	int core;           /* running on (thread tracks) */
	int64_t who_pid, who_tid; /* the thread a core runs (core tracks) */
};

struct track {
	int64_t pid, tid;
	int sort;           /* thread_sort_index, or INT32_MAX */
	int first;          /* order of first appearance */
	uint32_t name;
	bool is_core;
	int core;           /* its core number (cores only) */
	int index;          /* thread index in the trace (threads only) */
	struct slice *sl;
	size_t nsl, capsl;
	struct slice *open; /* B events not yet ended (stack) */
	size_t nopen, capopen;
};

struct proc {
	int64_t pid;
	int sort, first;
	uint32_t name;
	int index;
};

struct pending {
	int64_t t;
	size_t seq;
	struct trace_rec rec;
	int64_t who_pid, who_tid; /* TR_CORE: resolved to rec.tid after the tables are built */
};

struct loader {
	struct trace *tr;
	struct diag *err;
	const char *name;
	struct track *tracks;
	size_t ntracks, captracks;
	struct proc *procs;
	size_t nprocs, capprocs;
	struct pending *recs;
	size_t nrecs, caprecs;
	bool ours;          /* written by timeslice: otherData.cores_pid is there */
	int64_t cores_pid;
	int64_t max_t;
	int64_t makespan;   /* otherData.makespan_ns, or -1 */
	bool oom;
};

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / elem)
		return false;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static struct proc *proc_get(struct loader *L, int64_t pid)
{
	for (size_t i = L->nprocs; i-- > 0;)
		if (L->procs[i].pid == pid)
			return &L->procs[i];
	if (!grow((void **)&L->procs, &L->capprocs, L->nprocs, sizeof *L->procs)) {
		L->oom = true;
		return NULL;
	}
	struct proc *p = &L->procs[L->nprocs];
	*p = (struct proc){.pid = pid, .sort = INT32_MAX, .first = (int)L->nprocs, .index = -1};
	L->nprocs++;
	return p;
}

/* The track of (pid, tid), made on first use. Traces have few threads: a linear search from
 * the newest is enough. */
static struct track *track_get(struct loader *L, int64_t pid, int64_t tid)
{
	for (size_t i = L->ntracks; i-- > 0;)
		if (L->tracks[i].pid == pid && L->tracks[i].tid == tid)
			return &L->tracks[i];
	if (!proc_get(L, pid))
		return NULL;
	if (!grow((void **)&L->tracks, &L->captracks, L->ntracks, sizeof *L->tracks)) {
		L->oom = true;
		return NULL;
	}
	struct track *t = &L->tracks[L->ntracks];
	*t = (struct track){.pid = pid, .tid = tid, .sort = INT32_MAX, .first = (int)L->ntracks,
			    .index = -1, .core = -1};
	L->ntracks++;
	return t;
}

static bool add_slice(struct loader *L, struct track *t, const struct slice *s)
{
	if (!grow((void **)&t->sl, &t->capsl, t->nsl, sizeof *t->sl)) {
		L->oom = true;
		return false;
	}
	t->sl[t->nsl++] = *s;
	if (s->t1 > L->max_t)
		L->max_t = s->t1;
	return true;
}

static bool add_rec(struct loader *L, const struct trace_rec *r, int64_t who_pid, int64_t who_tid)
{
	if (!grow((void **)&L->recs, &L->caprecs, L->nrecs, sizeof *L->recs)) {
		L->oom = true;
		return false;
	}
	L->recs[L->nrecs] = (struct pending){.t = r->t, .seq = L->nrecs, .rec = *r,
					     .who_pid = who_pid, .who_tid = who_tid};
	L->nrecs++;
	if (r->t > L->max_t)
		L->max_t = r->t;
	return true;
}

static uint32_t intern(struct loader *L, const char *s)
{
	uint32_t id = trace_intern(L->tr, s);
	if (id == UINT32_MAX) {
		L->oom = true;
		return 0;
	}
	return id;
}

/* Microseconds (a JSON number) → ns. False when missing, not finite or out of range. */
static bool get_us(const cJSON *obj, const char *key, int64_t *ns)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 9e12)
		return false;
	*ns = llround(v->valuedouble * 1000.0);
	return true;
}

static bool get_int(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 9e15)
		return false;
	*out = (int64_t)v->valuedouble;
	return true;
}

static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int state_by_name(const char *name)
{
	for (int s = 0; s < TS_COUNT; s++)
		if (name && strcmp(name, thread_state_name(s)) == 0)
			return s;
	return -1;
}

static int fail(struct loader *L, const char *fmt, int index, const char *what)
{
	diag_set(L->err, NULL, 0, 0, fmt, index, what);
	snprintf(L->err->file, sizeof L->err->file, "%s", L->name);
	return -1;
}

/* One event of traceEvents. Returns 0, or -1 with L->err filled. */
static int load_event(struct loader *L, const cJSON *ev, int i)
{
	if (!cJSON_IsObject(ev))
		return fail(L, "not a Chrome trace: event %d is %s, not an object", i, "something else");
	const char *ph = get_str(ev, "ph");
	if (!ph || !ph[0])
		return fail(L, "not a Chrome trace: event %d has no \"ph\" (phase) %s", i, "string");
	const char *name = get_str(ev, "name");
	const char *cat = get_str(ev, "cat");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(ev, "args");
	int64_t pid = 0, tid = 0;
	get_int(ev, "pid", &pid);
	get_int(ev, "tid", &tid);

	if (strcmp(ph, "M") == 0) {
		const char *an = args ? get_str(args, "name") : NULL;
		int64_t sort;
		if (name && strcmp(name, "process_name") == 0 && an) {
			struct proc *p = proc_get(L, pid);
			if (p)
				p->name = intern(L, an);
		} else if (name && strcmp(name, "thread_name") == 0 && an) {
			struct track *t = track_get(L, pid, tid);
			if (t)
				t->name = intern(L, an);
		} else if (name && strcmp(name, "process_sort_index") == 0 && args &&
			   get_int(args, "sort_index", &sort)) {
			struct proc *p = proc_get(L, pid);
			if (p)
				p->sort = (int)sort;
		} else if (name && strcmp(name, "thread_sort_index") == 0 && args &&
			   get_int(args, "sort_index", &sort)) {
			struct track *t = track_get(L, pid, tid);
			if (t)
				t->sort = (int)sort;
		}
		return 0;
	}

	if (strcmp(ph, "C") == 0 && L->ours && pid == L->cores_pid && cat &&
	    strcmp(cat, "counter") == 0 && name && args) {
		/* our counter (a Queue's pipe fill): a TR_COUNTER record of the object so named */
		int64_t ts, bytes;
		if (!get_us(ev, "ts", &ts) || !get_int(args, "bytes", &bytes))
			return 0;
		int o = 0;
		while (o < L->tr->nobjects &&
		       strcmp(trace_str(L->tr, L->tr->objects[o].name), name) != 0)
			o++;
		if (o == L->tr->nobjects && trace_add_object(L->tr, name, "Queue", 0) < 0) {
			L->oom = true;
			return -1;
		}
		struct trace_rec r = {.t = ts, .tid = -1, .core = -1, .kind = TR_COUNTER, .obj = o,
				      .line = bytes < 0 ? 0 : bytes > UINT32_MAX ? UINT32_MAX
									 : (uint32_t)bytes};
		return add_rec(L, &r, INT64_MIN, INT64_MIN) ? 0 : -1;
	}

	bool complete = strcmp(ph, "X") == 0, begin = strcmp(ph, "B") == 0;
	bool end = strcmp(ph, "E") == 0, instant = strcmp(ph, "i") == 0 || strcmp(ph, "I") == 0;
	if (!complete && !begin && !end && !instant)
		return 0; /* counters, flows, async events...: not drawn */
	int64_t ts, dur = 0;
	if (!get_us(ev, "ts", &ts))
		return fail(L, "not a Chrome trace: event %d has no valid \"ts\" %s", i, "number");
	if (complete && (!get_us(ev, "dur", &dur) || dur < 0))
		return fail(L, "not a Chrome trace: complete event %d has no valid \"dur\" %s", i,
			    "number");

	if (instant) {
		const char *scope = get_str(ev, "s");
		bool global = scope && strcmp(scope, "g") == 0;
		if (L->ours && (global || pid == L->cores_pid))
			return 0; /* the end marker: otherData says the same */
		struct track *t = global ? NULL : track_get(L, pid, tid);
		if (!global && !t)
			return -1;
		struct trace_rec r = {.t = ts, .tid = -1, .core = -1, .obj = -1};
		const char *text = args ? get_str(args, "text") : NULL;
		const char *reason = args ? get_str(args, "reason") : NULL;
		int64_t line = 0;
		if (args)
			get_int(args, "line", &line);
		r.line = line > 0 && line < UINT32_MAX ? (uint32_t)line : 0;
		if (cat && strcmp(cat, "print") == 0) {
			r.kind = TR_PRINT;
			r.text = intern(L, text ? text : name ? name : "");
		} else if (cat && strcmp(cat, "wake") == 0) {
			r.kind = TR_WAKE;
			r.reason = intern(L, reason ? reason : "");
		} else {
			r.kind = TR_MARK;
			r.text = intern(L, name ? name : "mark");
			r.reason = intern(L, reason ? reason : "");
		}
		/* the thread index is known only later: keep the track's pid/tid */
		return add_rec(L, &r, global ? INT64_MIN : pid, global ? INT64_MIN : tid) ? 0 : -1;
	}

	struct track *t = track_get(L, pid, tid);
	if (!t)
		return -1;
	if (end) {
		if (t->nopen == 0)
			return 0; /* an end without a begin: nothing to close */
		struct slice s = t->open[--t->nopen];
		s.t1 = ts < s.t0 ? s.t0 : ts;
		return add_slice(L, t, &s) ? 0 : -1;
	}
	struct slice s = {.t0 = ts, .t1 = ts + dur, .state = -1, .core = -1};
	if (L->ours && pid == L->cores_pid) {
		t->is_core = true;
		s.state = cat && strcmp(cat, "switch") == 0 ? CS_SWITCH : CS_RUN;
		if (!args || !get_int(args, "pid", &s.who_pid) || !get_int(args, "tid", &s.who_tid))
			s.who_pid = s.who_tid = -1;
	} else if (L->ours && cat && strcmp(cat, "state") == 0) {
		s.state = state_by_name(name);
		int64_t core;
		if (args && get_int(args, "core", &core) && core >= 0 && core < MAX_CORES_LOADED)
			s.core = (int)core;
	}
	if (args) {
		const char *reason = get_str(args, "reason");
		int64_t line = 0;
		get_int(args, "line", &line);
		s.line = line > 0 && line < UINT32_MAX ? (uint32_t)line : 0;
		if (reason && reason[0])
			s.reason = intern(L, reason);
	}
	if (s.state < 0 && !t->is_core) {
		/* a foreign slice: "running", explained by its name (and category) */
		char buf[512];
		snprintf(buf, sizeof buf, "%s%s%s%s", name ? name : "slice", cat ? " [" : "",
			 cat ? cat : "", cat ? "]" : "");
		s.reason = intern(L, buf);
	}
	if (begin) {
		if (!grow((void **)&t->open, &t->capopen, t->nopen, sizeof *t->open)) {
			L->oom = true;
			return -1;
		}
		t->open[t->nopen++] = s;
		return 0;
	}
	return add_slice(L, t, &s) ? 0 : -1;
}

static int cmp_slice(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;
	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return x->t1 > y->t1 ? -1 : x->t1 < y->t1; /* the enclosing one first */
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;
	if (x->sort != y->sort)
		return x->sort < y->sort ? -1 : 1;
	return x->first - y->first;
}

static int cmp_track(const void *a, const void *b)
{
	const struct track *x = *(struct track *const *)a, *y = *(struct track *const *)b;
	if (x->sort != y->sort)
		return x->sort < y->sort ? -1 : 1;
	return x->first - y->first;
}

static int thread_index_of(const struct loader *L, int64_t pid, int64_t tid)
{
	for (size_t i = 0; i < L->ntracks; i++)
		if (L->tracks[i].pid == pid && L->tracks[i].tid == tid && !L->tracks[i].is_core)
			return L->tracks[i].index;
	return -1;
}

/* Records of one track from its slices (sorted): each stretch, then what comes after it. */
static void track_records(struct loader *L, struct track *t, int64_t makespan)
{
	if (t->nsl > 1) /* an idle core has none (and no array) */
		qsort(t->sl, t->nsl, sizeof *t->sl, cmp_slice);
	int64_t busy = INT64_MIN;
	for (size_t k = 0; k < t->nsl && !L->oom; k++) {
		const struct slice *s = &t->sl[k];
		if (s->t0 < busy) {
			if (s->t1 > busy)
				busy = s->t1; /* nested or overlapping: folded into the open one */
			continue;
		}
		if (busy != INT64_MIN && s->t0 > busy) {
			struct trace_rec gap = {.t = busy, .tid = t->index, .core = -1, .obj = -1};
			if (t->is_core) {
				gap.kind = TR_CORE, gap.state = CS_IDLE, gap.tid = -1, gap.core = (int16_t)t->core;
			} else {
				gap.kind = TR_STATE, gap.state = TS_WAIT;
				gap.reason = L->ours ? 0 : intern(L, "no event in the trace");
			}
			add_rec(L, &gap, INT64_MIN, INT64_MIN);
		}
		struct trace_rec r = {.t = s->t0, .tid = t->index, .core = -1, .obj = -1,
				      .reason = s->reason, .line = s->line};
		if (t->is_core) {
			r.kind = TR_CORE;
			r.state = (uint8_t)s->state;
			r.core = (int16_t)t->core;
			add_rec(L, &r, s->who_pid, s->who_tid);
		} else {
			r.kind = TR_STATE;
			r.state = (uint8_t)(s->state < 0 ? TS_RUNNING : s->state);
			r.core = r.state == TS_RUNNING ? (int16_t)s->core : -1;
			add_rec(L, &r, INT64_MIN, INT64_MIN);
		}
		busy = s->t1;
	}
	if (busy == INT64_MIN || L->oom)
		return;
	struct trace_rec last = {.t = busy, .tid = t->index, .core = -1, .obj = -1};
	if (t->is_core) {
		last.kind = TR_CORE, last.state = CS_IDLE, last.tid = -1, last.core = (int16_t)t->core;
		add_rec(L, &last, INT64_MIN, INT64_MIN);
	} else if (busy < makespan || !L->ours || L->tr->end == END_COMPLETED) {
		/* ours: a state that ends before the makespan, or in a run where every thread
		 * finished, is followed by the thread's end; otherwise it was still open when the
		 * run stopped */
		last.kind = TR_STATE, last.state = TS_DONE;
		add_rec(L, &last, INT64_MIN, INT64_MIN);
	}
}

static void loader_free(struct loader *L)
{
	for (size_t i = 0; i < L->ntracks; i++) {
		free(L->tracks[i].sl);
		free(L->tracks[i].open);
	}
	free(L->tracks);
	free(L->procs);
	free(L->recs);
}

/* line:col of byte offset off in text */
static void position(const char *text, size_t len, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

/* True when text ends inside a string, an object or an array: a file cut short. */
static bool truncated(const char *text, size_t len)
{
	long depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return in_str || depth > 0;
}

static void read_other_data(struct loader *L, const cJSON *root)
{
	const cJSON *od = cJSON_GetObjectItemCaseSensitive(root, "otherData");
	int64_t cp;
	if (!cJSON_IsObject(od))
		return;
	if (get_int(od, "cores_pid", &cp)) {
		L->ours = true;
		L->cores_pid = cp;
	}
	int64_t ms;
	if (get_int(od, "makespan_ns", &ms) && ms >= 0)
		L->makespan = ms;
	const char *s;
	if ((s = get_str(od, "source")))
		snprintf(L->tr->source_name, sizeof L->tr->source_name, "%s", s);
	if ((s = get_str(od, "origin")))
		snprintf(L->tr->origin, sizeof L->tr->origin, "%s", s);
	if ((s = get_str(od, "end_msg")))
		snprintf(L->tr->end_msg, sizeof L->tr->end_msg, "%s", s);
	if ((s = get_str(od, "end"))) {
		static const char *const names[] = {"completed", "until", "limit", "deadlock", "error"};
		for (int e = 0; e < 5; e++)
			if (strcmp(s, names[e]) == 0)
				L->tr->end = (enum trace_end)e;
	}
}

struct trace *trace_load_chrome_text(const char *name, const char *text, size_t len,
				     struct diag *err)
{
	struct diag dummy;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof *err);
	const char *endp = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &endp, false);
	if (!root) {
		size_t off = endp && endp >= text && endp <= text + len ? (size_t)(endp - text) : len;
		const char *e = cJSON_GetErrorPtr();
		if (!endp && e >= text && e <= text + len)
			off = (size_t)(e - text);
		int line, col;
		position(text, len, off, &line, &col);
		struct source *src = source_from_memory(name, text, len);
		bool at_end = truncated(text, len);
		if (at_end)
			off = len;
		diag_set(err, src, line, col, "%s",
			 len == 0 ? "empty file: expected a Chrome trace-event JSON object"
			 : at_end ? "invalid JSON: the file ends too early (truncated?)"
				  : "invalid JSON");
		snprintf(err->file, sizeof err->file, "%s", name);
		source_destroy(src);
		return NULL;
	}
	struct loader L = {.err = err, .name = name, .makespan = -1};
	const cJSON *events = root;
	if (cJSON_IsObject(root))
		events = cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
	if (!cJSON_IsArray(events)) {
		diag_set(err, NULL, 0, 0, "not a Chrome trace: expected an object with a "
			 "\"traceEvents\" array, or an array of events");
		snprintf(err->file, sizeof err->file, "%s", name);
		cJSON_Delete(root);
		return NULL;
	}
	L.tr = trace_create(0);
	if (!L.tr)
		goto oom;
	snprintf(L.tr->source_name, sizeof L.tr->source_name, "%s", name);
	snprintf(L.tr->origin, sizeof L.tr->origin, "%s", "file");
	if (cJSON_IsObject(root))
		read_other_data(&L, root);

	int i = 0;
	int64_t min_t = INT64_MAX;
	for (const cJSON *ev = events->child; ev; ev = ev->next, i++) {
		if (load_event(&L, ev, i) < 0)
			goto failed;
		int64_t ts;
		if (get_us(ev, "ts", &ts) && ts < min_t)
			min_t = ts;
	}
	/* begins never ended run to the end of the trace */
	for (size_t k = 0; k < L.ntracks; k++)
		while (L.tracks[k].nopen > 0) {
			struct slice s = L.tracks[k].open[--L.tracks[k].nopen];
			s.t1 = L.max_t > s.t0 ? L.max_t : s.t0;
			if (!add_slice(&L, &L.tracks[k], &s))
				goto oom;
		}
	size_t nslices = 0;
	for (size_t k = 0; k < L.ntracks; k++)
		nslices += L.tracks[k].nsl;
	if (nslices == 0) {
		diag_set(err, NULL, 0, 0, "%s", "the trace holds no complete (\"X\") or begin/end "
			 "(\"B\"/\"E\") events: nothing to draw");
		snprintf(err->file, sizeof err->file, "%s", name);
		goto failed;
	}
	cJSON_Delete(root);
	root = NULL;

	/* A foreign trace starts at its first event; ours at 0 already. */
	int64_t shift = !L.ours && min_t != INT64_MAX ? min_t : 0;
	for (size_t k = 0; k < L.ntracks; k++)
		for (size_t s = 0; s < L.tracks[k].nsl; s++) {
			L.tracks[k].sl[s].t0 -= shift;
			L.tracks[k].sl[s].t1 -= shift;
		}
	for (size_t r = 0; r < L.nrecs; r++)
		L.recs[r].t -= shift, L.recs[r].rec.t -= shift;
	L.max_t -= shift;

	/* tables: processes, then their threads, in sort order; cores apart */
	qsort(L.procs, L.nprocs, sizeof *L.procs, cmp_proc);
	struct track **order = malloc((L.ntracks + 1) * sizeof *order);
	if (!order)
		goto oom;
	for (size_t k = 0; k < L.ntracks; k++)
		order[k] = &L.tracks[k];
	qsort(order, L.ntracks, sizeof *order, cmp_track);
	int ncores = 0;
	for (size_t k = 0; k < L.ntracks; k++) {
		/* a named core that never ran anything is still a core of the machine */
		if (L.ours && L.tracks[k].pid == L.cores_pid && L.tracks[k].name)
			L.tracks[k].is_core = true;
		if (L.tracks[k].is_core)
			L.tracks[k].core = (int)(L.tracks[k].tid - L.cores_pid - 1);
	}
	for (size_t k = 0; k < L.ntracks; k++) {
		struct track *t = &L.tracks[k];
		if (t->is_core && (t->core < 0 || t->core >= MAX_CORES_LOADED))
			t->is_core = false, t->core = -1; /* not numbered as ours: a thread then */
		if (t->is_core && t->core + 1 > ncores)
			ncores = t->core + 1;
	}
	L.tr->ncores = ncores;
	for (size_t k = 0; k < L.ntracks && !L.oom; k++) { /* hosts' labels ("worker core 1") */
		const struct track *t = &L.tracks[k];
		char plain[32];
		snprintf(plain, sizeof plain, "core %d", t->core);
		if (t->is_core && t->name && strcmp(trace_str(L.tr, t->name), plain) != 0 &&
		    trace_set_core_label(L.tr, t->core, trace_str(L.tr, t->name)) < 0)
			L.oom = true;
	}
	for (size_t p = 0; p < L.nprocs && !L.oom; p++) {
		struct proc *pr = &L.procs[p];
		if (L.ours && pr->pid == L.cores_pid)
			continue;
		bool any = false;
		for (size_t k = 0; k < L.ntracks; k++)
			any |= order[k]->pid == pr->pid && !order[k]->is_core;
		if (!any)
			continue;
		char buf[64];
		snprintf(buf, sizeof buf, "pid %lld", (long long)pr->pid);
		int pid = pr->pid >= INT32_MIN && pr->pid <= INT32_MAX ? (int)pr->pid : -1;
		pr->index = trace_add_process(L.tr, pid, -1, pr->name ? trace_str(L.tr, pr->name) : buf);
		if (pr->index < 0) {
			L.oom = true;
			break;
		}
		for (size_t k = 0; k < L.ntracks; k++) {
			struct track *t = order[k];
			if (t->pid != pr->pid || t->is_core)
				continue;
			snprintf(buf, sizeof buf, "tid %lld", (long long)t->tid);
			int tid = t->tid >= INT32_MIN && t->tid <= INT32_MAX ? (int)t->tid : -1;
			t->index = trace_add_thread(L.tr, pr->index, tid,
						    t->name ? trace_str(L.tr, t->name) : buf);
			if (t->index < 0) {
				L.oom = true;
				break;
			}
			if (L.tr->procs[pr->index].main_thread < 0 || t->tid == t->pid)
				L.tr->procs[pr->index].main_thread = t->index;
		}
	}
	free(order);
	if (L.oom)
		goto oom;

	int64_t makespan = L.makespan >= 0 && !shift ? L.makespan : L.max_t;
	for (size_t k = 0; k < L.ntracks && !L.oom; k++)
		track_records(&L, &L.tracks[k], makespan);
	if (L.oom)
		goto oom;
	qsort(L.recs, L.nrecs, sizeof *L.recs, cmp_pending);
	for (size_t r = 0; r < L.nrecs; r++) {
		struct pending *p = &L.recs[r];
		if (p->rec.kind == TR_CORE) {
			if (p->rec.state != CS_IDLE)
				p->rec.tid = thread_index_of(&L, p->who_pid, p->who_tid);
		} else if (p->rec.kind != TR_STATE) {
			p->rec.tid = p->who_pid == INT64_MIN ? -1
							     : thread_index_of(&L, p->who_pid, p->who_tid);
		}
		if (trace_emit(L.tr, &p->rec) < 0)
			goto oom;
	}
	L.tr->makespan = makespan;
	struct trace *tr = L.tr;
	loader_free(&L);
	return tr;

oom:
	diag_set(err, NULL, 0, 0, "%s", "out of memory while loading the trace");
	snprintf(err->file, sizeof err->file, "%s", name);
failed:
	cJSON_Delete(root);
	trace_destroy(L.tr);
	loader_free(&L);
	return NULL;
}

struct trace *trace_load_chrome(const char *path, struct diag *err)
{
	struct diag dummy;
	if (!err)
		err = &dummy;
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f)
		goto io_error;
	for (;;) {
		if (len + 65536 > cap) {
			size_t ncap = cap ? cap * 2 : 1 << 20;
			char *p = realloc(buf, ncap);
			if (!p) {
				free(buf);
				fclose(f);
				diag_set(err, NULL, 0, 0, "%s", "out of memory while reading the trace");
				snprintf(err->file, sizeof err->file, "%s", path);
				return NULL;
			}
			buf = p;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		goto io_error;
	}
	fclose(f);
	struct trace *tr = trace_load_chrome_text(path, buf, len, err);
	free(buf);
	return tr;

io_error:;
	int e = errno;
	if (f)
		fclose(f);
	diag_set(err, NULL, 0, 0, "cannot read the trace: %s", strerror(e));
	snprintf(err->file, sizeof err->file, "%s", path);
	return NULL;
}

bool trace_load_is_json_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	int c;
	while ((c = getc(f)) == ' ' || c == '\n' || c == '\r' || c == '\t')
		;
	if (c == 0xEF) /* a UTF-8 byte order mark */
		c = getc(f) == 0xBB && getc(f) == 0xBF ? getc(f) : 0;
	fclose(f);
	return c == '{' || c == '[';
}

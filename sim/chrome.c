/* chrome.c — the Chrome trace-event JSON writer (opens in Perfetto UI and chrome://tracing).
 *
 * The file is the object form {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {}}.
 * Each simulated process is a Chrome process (its pid), each simulated thread a Chrome thread
 * (its tid); a thread's states are complete ("X") events. The cores are drawn as one more
 * process, "CPU cores", with one thread per core; see cores_pid() for its numbers. Prints and
 * marks are thread-scoped instant events, wake-ups too. Counters (TR_COUNTER: a Queue's pipe
 * fill) are "C" events of the cores process. docs/json.md has the schema. */
#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>

/* The "CPU cores" process needs a pid that no simulated process has and tids that no simulated
 * thread has (Perfetto treats tids as machine-wide). Linux pids stay below 2^22 and the
 * simulator numbers from small values, so 1000000000 is free in practice: the cores process is
 * pid 1000000000 and core c is tid 1000000001 + c. A trace that does use numbers that large gets
 * one past its largest pid or tid instead. */
#define CORES_PID_DEFAULT 1000000000

static int64_t cores_pid(const struct trace *tr)
{
	int64_t max = -1;
	for (int i = 0; i < tr->nprocs; i++)
		if (tr->procs[i].pid > max)
			max = tr->procs[i].pid;
	for (int i = 0; i < tr->nthreads; i++)
		if (tr->threads[i].tid > max)
			max = tr->threads[i].tid;
	return max < CORES_PID_DEFAULT ? CORES_PID_DEFAULT : max + 1;
}

struct writer {
	FILE *out;
	const struct trace *tr;
	bool first;       /* no event written yet (no comma needed) */
	int64_t cpid;     /* the "CPU cores" pid */
};

/* Writes ns as microseconds with nanosecond precision: 1500 -> 1.5, 3 -> 0.003, 2000 -> 2. */
static void put_us(FILE *out, int64_t ns)
{
	if (ns < 0) {
		putc('-', out);
		ns = -ns; /* times are never INT64_MIN: trace_emit refuses negative times */
	}
	int64_t frac = ns % 1000;
	fprintf(out, "%" PRId64, ns / 1000);
	if (frac) {
		char d[4] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
			     (char)('0' + frac % 10), 0};
		for (int i = 2; i > 0 && d[i] == '0'; i--)
			d[i] = 0;
		fprintf(out, ".%s", d);
	}
}

static void begin_event(struct writer *w, const char *ph, const char *name, int64_t pid,
			int64_t tid)
{
	fputs(w->first ? "\n" : ",\n", w->out);
	w->first = false;
	fprintf(w->out, "{\"ph\": \"%s\", \"pid\": %" PRId64 ", \"tid\": %" PRId64 ", \"name\": ",
		ph, pid, tid);
	metrics_json_string(w->out, name);
}

static void metadata(struct writer *w, const char *what, int64_t pid, int64_t tid,
		     const char *name)
{
	begin_event(w, "M", what, pid, tid);
	fputs(", \"args\": {\"name\": ", w->out);
	metrics_json_string(w->out, name);
	fputs("}}", w->out);
}

static void sort_index(struct writer *w, const char *what, int64_t pid, int64_t tid, int sort)
{
	begin_event(w, "M", what, pid, tid);
	fprintf(w->out, ", \"args\": {\"sort_index\": %d}}", sort);
}

static int64_t thread_pid(const struct trace *tr, int t)
{
	int p = tr->threads[t].proc;
	return p >= 0 && p < tr->nprocs ? tr->procs[p].pid : -1;
}

/* An open segment: a thread's or core's current state since t. */
struct seg {
	int state;        /* -1: none open */
	bool done;        /* the thread finished: its later records are ignored */
	int core;         /* for threads: the core it runs on; for cores: the thread index */
	int64_t t;
	uint32_t reason, line;
};

static void thread_segment(struct writer *w, int t, const struct seg *s, int64_t end)
{
	if (s->state < 0 || end <= s->t)
		return; /* zero-length segments draw nothing */
	const struct trace *tr = w->tr;
	begin_event(w, "X", thread_state_name(s->state), thread_pid(tr, t), tr->threads[t].tid);
	fputs(", \"cat\": \"state\", \"ts\": ", w->out);
	put_us(w->out, s->t);
	fputs(", \"dur\": ", w->out);
	put_us(w->out, end - s->t);
	fputs(", \"args\": {\"reason\": ", w->out);
	metrics_json_string(w->out, trace_str(tr, s->reason));
	fprintf(w->out, ", \"line\": %" PRIu32 ", \"core\": ", s->line);
	if (s->state == TS_RUNNING && s->core >= 0)
		fprintf(w->out, "%d}}", s->core);
	else
		fputs("null}}", w->out);
}

static void core_segment(struct writer *w, int c, const struct seg *s, int64_t end)
{
	if (s->state <= CS_IDLE || end <= s->t)
		return;
	const struct trace *tr = w->tr;
	bool known = s->core >= 0 && s->core < tr->nthreads;
	const char *thread = known ? trace_str(tr, tr->threads[s->core].name) : "";
	bool run = s->state == CS_RUN;
	begin_event(w, "X", run ? (known ? thread : "run") : "switch", w->cpid, w->cpid + 1 + c);
	fprintf(w->out, ", \"cat\": \"%s\", \"ts\": ", run ? "run" : "switch");
	put_us(w->out, s->t);
	fputs(", \"dur\": ", w->out);
	put_us(w->out, end - s->t);
	fprintf(w->out, ", \"args\": {\"%s\": ", run ? "thread" : "to");
	metrics_json_string(w->out, thread);
	fprintf(w->out, ", \"pid\": %" PRId64 ", \"tid\": %d, \"reason\": ",
		known ? thread_pid(tr, s->core) : -1, known ? tr->threads[s->core].tid : -1);
	metrics_json_string(w->out, trace_str(tr, s->reason));
	fprintf(w->out, ", \"line\": %" PRIu32 "}}", s->line);
}

/* An instant event of thread r->tid, or of the whole run (global scope) for tid -1. */
static void instant(struct writer *w, const struct trace_rec *r, const char *name,
		    const char *cat)
{
	const struct trace *tr = w->tr;
	bool known = r->tid >= 0 && r->tid < tr->nthreads;
	if (known)
		begin_event(w, "i", name, thread_pid(tr, r->tid), tr->threads[r->tid].tid);
	else
		begin_event(w, "i", name, w->cpid, w->cpid);
	fprintf(w->out, ", \"s\": \"%s\", \"cat\": \"%s\", \"ts\": ", known ? "t" : "g", cat);
	put_us(w->out, r->t);
	fputs(", \"args\": {", w->out);
	if (r->kind == TR_PRINT) {
		fputs("\"text\": ", w->out);
		metrics_json_string(w->out, trace_str(tr, r->text));
	} else if (r->kind == TR_WAKE) {
		bool waker = r->obj >= 0 && r->obj < tr->nthreads;
		fputs("\"by\": ", w->out);
		metrics_json_string(w->out, waker ? trace_str(tr, tr->threads[r->obj].name) : "");
		fputs(", \"reason\": ", w->out);
		metrics_json_string(w->out, trace_str(tr, r->reason));
	} else {
		fputs("\"reason\": ", w->out);
		metrics_json_string(w->out, trace_str(tr, r->reason));
	}
	fprintf(w->out, ", \"line\": %" PRIu32 "}}", r->line);
}

/* A counter's new value (a Queue's pipe fill): a "C" event of the "CPU cores" process, named
 * by the object, that Perfetto draws as a counter track. */
static void counter(struct writer *w, const struct trace_rec *r)
{
	const struct trace *tr = w->tr;
	if (r->obj < 0 || r->obj >= tr->nobjects)
		return;
	begin_event(w, "C", trace_str(tr, tr->objects[r->obj].name), w->cpid, w->cpid);
	fputs(", \"cat\": \"counter\", \"ts\": ", w->out);
	put_us(w->out, r->t);
	fprintf(w->out, ", \"args\": {\"bytes\": %" PRIu32 "}}", r->line);
}

static const char *end_name(enum trace_end e)
{
	static const char *const names[] = {"completed", "until", "limit", "deadlock", "error"};
	return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "error";
}

int chrome_write(FILE *out, const struct trace *tr)
{
	int nt = tr->nthreads > 0 ? tr->nthreads : 0;
	int nc = tr->ncores > 0 ? tr->ncores : 0;
	struct seg *ts = calloc((size_t)nt + 1, sizeof *ts);
	struct seg *cs = calloc((size_t)nc + 1, sizeof *cs);
	if (!ts || !cs) {
		free(ts);
		free(cs);
		return -1;
	}
	for (int i = 0; i < nt; i++)
		ts[i].state = -1;
	for (int c = 0; c < nc; c++)
		cs[c] = (struct seg){.state = CS_IDLE, .core = -1};

	struct writer w = {.out = out, .tr = tr, .first = true, .cpid = cores_pid(tr)};
	fputs("{\"traceEvents\": [", out);

	for (int p = 0; p < tr->nprocs; p++) {
		metadata(&w, "process_name", tr->procs[p].pid, 0, trace_str(tr, tr->procs[p].name));
		sort_index(&w, "process_sort_index", tr->procs[p].pid, 0, p);
	}
	for (int t = 0; t < nt; t++) {
		int64_t pid = thread_pid(tr, t);
		metadata(&w, "thread_name", pid, tr->threads[t].tid, trace_str(tr, tr->threads[t].name));
		sort_index(&w, "thread_sort_index", pid, tr->threads[t].tid, t);
	}
	if (nc > 0) {
		metadata(&w, "process_name", w.cpid, 0, "CPU cores");
		sort_index(&w, "process_sort_index", w.cpid, 0, tr->nprocs);
		for (int c = 0; c < nc; c++) {
			char name[64];
			metadata(&w, "thread_name", w.cpid, w.cpid + 1 + c,
				 trace_core_label(tr, c, name, sizeof name));
			sort_index(&w, "thread_sort_index", w.cpid, w.cpid + 1 + c, c);
		}
	}

	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		switch (r->kind) {
		case TR_STATE: {
			if (r->tid < 0 || r->tid >= nt || r->state >= TS_COUNT || ts[r->tid].done)
				break;
			struct seg *s = &ts[r->tid];
			int core = r->state == TS_RUNNING ? r->core : -1;
			if (s->state == r->state && s->core == core)
				break; /* the same state again: one segment */
			thread_segment(&w, r->tid, s, r->t);
			if (r->state == TS_DONE)
				*s = (struct seg){.state = -1, .done = true};
			else
				*s = (struct seg){.state = r->state, .core = core, .t = r->t,
						  .reason = r->reason, .line = r->line};
			break;
		}
		case TR_CORE: {
			if (r->core < 0 || r->core >= nc || r->state >= CS_COUNT)
				break;
			struct seg *s = &cs[r->core];
			int thread = r->state == CS_IDLE ? -1 : r->tid;
			if (s->state == r->state && s->core == thread)
				break;
			core_segment(&w, r->core, s, r->t);
			*s = (struct seg){.state = r->state, .core = thread, .t = r->t,
					  .reason = r->reason, .line = r->line};
			break;
		}
		case TR_PRINT:
			instant(&w, r, trace_str(tr, r->text), "print");
			break;
		case TR_MARK:
			instant(&w, r, r->text ? trace_str(tr, r->text) : "mark", "mark");
			break;
		case TR_WAKE:
			instant(&w, r, "wake", "wake");
			break;
		case TR_COUNTER:
			counter(&w, r);
			break;
		default:
			break;
		}
	}
	for (int t = 0; t < nt; t++)
		thread_segment(&w, t, &ts[t], tr->makespan);
	for (int c = 0; c < nc; c++)
		core_segment(&w, c, &cs[c], tr->makespan);
	if (tr->end != END_COMPLETED) {
		/* say on the timeline why the run stopped there */
		char name[32];
		snprintf(name, sizeof name, "end: %s", end_name(tr->end));
		begin_event(&w, "i", name, w.cpid, w.cpid);
		fputs(", \"s\": \"g\", \"cat\": \"end\", \"ts\": ", out);
		put_us(out, tr->makespan);
		fputs(", \"args\": {\"message\": ", out);
		metrics_json_string(out, tr->end_msg);
		fputs("}}", out);
	}

	fputs("\n],\n\"displayTimeUnit\": \"ns\",\n\"otherData\": {\"source\": ", out);
	metrics_json_string(out, tr->source_name);
	fputs(", \"origin\": ", out);
	metrics_json_string(out, tr->origin);
	fprintf(out, ", \"end\": \"%s\", \"end_msg\": ", end_name(tr->end));
	metrics_json_string(out, tr->end_msg);
	fprintf(out, ", \"makespan_ns\": %" PRId64 ", \"cores_pid\": %" PRId64 "}}\n", tr->makespan,
		w.cpid);
	free(ts);
	free(cs);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

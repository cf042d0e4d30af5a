/* metrics.c — numbers read off a trace, and the text and JSON summaries that print them. */
#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- metrics ---------------------------------------------------------------------------- */

/* A thread's or core's state while scanning the records. */
struct scan {
	int cur;        /* current state; -1 until a thread's first record */
	bool done;      /* the thread has finished: ignore its later records */
	int64_t since;  /* when it entered cur */
	int core;       /* the core of its last run; -1 before its first */
};

/* Applies a thread's TR_STATE record r to its metrics; *running counts threads on a core. */
static void thread_enter(struct scan *s, struct thread_metrics *th, const struct trace_rec *r,
			 int *running)
{
	int st = r->state;
	if (s->cur < 0) {
		th->start_ns = r->t;
	} else if (st == s->cur) {
		return; /* the same state again (a new reason, a migration): no change */
	} else {
		th->state_ns[s->cur] += r->t - s->since;
		if (s->cur == TS_RUNNING) {
			(*running)--;
			th->switches++;
			if (st == TS_READY)
				th->involuntary++;
			else
				th->voluntary++;
		}
	}
	s->cur = st;
	s->since = r->t;
	if (st == TS_RUNNING) {
		if (s->core >= 0 && r->core >= 0 && r->core != s->core)
			th->migrations++;
		if (r->core >= 0)
			s->core = r->core;
		(*running)++;
		if (th->first_run_ns < 0)
			th->first_run_ns = r->t;
	} else if (st == TS_DONE) {
		th->end_ns = r->t;
		s->done = true;
	}
}

struct metrics *metrics_compute(const struct trace *tr)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	int nt = tr->nthreads > 0 ? tr->nthreads : 0;
	int nc = tr->ncores > 0 ? tr->ncores : 0;
	struct scan *ts = calloc((size_t)nt + 1, sizeof *ts);
	struct scan *cs = calloc((size_t)nc + 1, sizeof *cs);
	m->threads = calloc((size_t)nt + 1, sizeof *m->threads);
	m->cores = calloc((size_t)nc + 1, sizeof *m->cores);
	if (!ts || !cs || !m->threads || !m->cores) {
		free(ts);
		free(cs);
		metrics_destroy(m);
		return NULL;
	}
	m->nthreads = nt;
	m->ncores = nc;
	m->makespan_ns = tr->makespan;
	for (int i = 0; i < nt; i++) {
		ts[i].cur = -1;
		ts[i].core = -1;
		struct thread_metrics *th = &m->threads[i];
		th->start_ns = th->first_run_ns = th->end_ns = -1;
	}
	for (int c = 0; c < nc; c++)
		cs[c].cur = CS_IDLE; /* a core idles until its first record says otherwise */

	int running = 0;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind == TR_STATE && r->tid >= 0 && r->tid < nt && r->state < TS_COUNT &&
		    !ts[r->tid].done) {
			thread_enter(&ts[r->tid], &m->threads[r->tid], r, &running);
		} else if (r->kind == TR_CORE && r->core >= 0 && r->core < nc && r->state < CS_COUNT &&
			   r->state != cs[r->core].cur) {
			struct scan *s = &cs[r->core];
			int64_t d = r->t - s->since;
			if (s->cur != CS_IDLE)
				m->cores[r->core].busy_ns += d;
			if (s->cur == CS_SWITCH)
				m->cores[r->core].switch_ns += d;
			s->cur = r->state;
			s->since = r->t;
		}
		/* "at one instant": a hand-over at time t (one thread leaves, another enters) is
		 * not two threads at once, so count only after all records of the same time */
		if ((i + 1 == tr->nrecs || tr->recs[i + 1].t != r->t) && running > m->max_parallel)
			m->max_parallel = running;
	}

	for (int i = 0; i < nt; i++) {
		struct thread_metrics *th = &m->threads[i];
		if (ts[i].cur >= 0 && !ts[i].done && tr->makespan > ts[i].since)
			th->state_ns[ts[i].cur] += tr->makespan - ts[i].since;
		th->cpu_ns = th->state_ns[TS_RUNNING];
		th->ready_ns = th->state_ns[TS_READY];
		for (int s = TS_SLEEP; s <= TS_WAIT; s++)
			th->blocked_ns += th->state_ns[s];
		th->turnaround_ns = th->end_ns >= 0 ? th->end_ns - th->start_ns : -1;
		th->response_ns = th->first_run_ns >= 0 ? th->first_run_ns - th->start_ns : -1;
		m->total_cpu_ns += th->cpu_ns;
		m->context_switches += th->switches;
		m->migrations += th->migrations;
	}
	/* fairness among the threads that were runnable throughout their lives */
	double sum = 0, sum2 = 0;
	m->fairness = -1;
	for (int i = 0; i < nt; i++) {
		const struct thread_metrics *th = &m->threads[i];
		int64_t life = (th->end_ns >= 0 ? th->end_ns : tr->makespan) - th->start_ns;
		if (th->start_ns < 0 || th->blocked_ns > 0 || life <= 0)
			continue;
		double x = (double)th->cpu_ns / (double)life;
		sum += x;
		sum2 += x * x;
		m->fairness_threads++;
	}
	if (m->fairness_threads >= 2 && sum2 > 0)
		m->fairness = sum * sum / (m->fairness_threads * sum2);
	for (int c = 0; c < nc; c++) {
		struct core_metrics *cm = &m->cores[c];
		if (cs[c].cur != CS_IDLE && tr->makespan > cs[c].since) {
			cm->busy_ns += tr->makespan - cs[c].since;
			if (cs[c].cur == CS_SWITCH)
				cm->switch_ns += tr->makespan - cs[c].since;
		}
		cm->utilisation = tr->makespan > 0 ? (double)cm->busy_ns / (double)tr->makespan : 0.0;
	}
	m->cpu_percent = tr->makespan > 0 ? (double)m->total_cpu_ns / (double)tr->makespan * 100.0
					  : 0.0;
	free(ts);
	free(cs);
	return m;
}

void metrics_destroy(struct metrics *m)
{
	if (!m)
		return;
	free(m->threads);
	free(m->cores);
	free(m);
}

/* ---- shared helpers --------------------------------------------------------------------- */

const char *metrics_format_ns(char *buf, size_t size, int64_t ns)
{
	if (ns < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (ns < 1000) {
		snprintf(buf, size, "%" PRId64 " ns", ns);
		return buf;
	}
	/* round to thousandths of the unit first, so 999.9996 us reads 1.000 ms, not 1000.000 us */
	static const struct {
		int64_t per_thousandth;
		const char *name;
	} units[] = {{1, "us"}, {1000, "ms"}, {1000000, "s"}};
	for (size_t u = 0; u < 3; u++) {
		int64_t d = units[u].per_thousandth;
		int64_t th = ns / d + (ns % d >= (d + 1) / 2 && d > 1);
		if (th < 1000000 || u == 2) {
			snprintf(buf, size, "%" PRId64 ".%03" PRId64 " %s", th / 1000, th % 1000,
				 units[u].name);
			break;
		}
	}
	return buf;
}

/* Decodes one UTF-8 character at s (NUL-terminated). Returns its length in bytes and stores
 * the code point, or returns 0 when the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF included). */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0];
	int n;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

void metrics_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	putc('"', out);
	while (*p) {
		uint32_t cp;
		int n = utf8_decode(p, &cp);
		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
		} else if (cp == '"' || cp == '\\') {
			putc('\\', out);
			putc((int)cp, out);
			p++;
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(out, "\\u%04x", (unsigned)cp);
			p++;
		} else {
			fwrite(p, 1, (size_t)n, out);
			p += n;
		}
	}
	putc('"', out);
}

static int cp_width(uint32_t c)
{
	if (c == 0)
		return 0;
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) || (c >= 0xfe00 && c <= 0xfe0f))
		return 0; /* combining marks, zero-width spaces, variation selectors */
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

size_t metrics_text_fit(const char *s, int max, int *cells)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t bytes = 0;
	int used = 0;
	while (p[bytes]) {
		uint32_t cp;
		int n = utf8_decode(p + bytes, &cp);
		int w = n ? cp_width(cp) : 1;
		if (n == 0)
			n = 1;
		if (used + w > max)
			break;
		used += w;
		bytes += (size_t)n;
	}
	if (cells)
		*cells = used;
	return bytes;
}

/* Writes s in exactly `width` cells: truncated with "…" when longer, padded with spaces on
 * the right (or the left, if right_align) when shorter. */
static void put_cells(FILE *out, const char *s, int width, bool right_align)
{
	int cells;
	size_t n = metrics_text_fit(s, width, &cells);
	if (s[n]) { /* does not fit: keep width-1 cells and mark the cut */
		n = metrics_text_fit(s, width - 1, &cells);
		if (right_align)
			fprintf(out, "%*s", width - 1 - cells, "");
		fwrite(s, 1, n, out);
		fputs("…", out);
		if (!right_align)
			fprintf(out, "%*s", width - 1 - cells, "");
		return;
	}
	if (right_align)
		fprintf(out, "%*s", width - cells, "");
	fwrite(s, 1, n, out);
	if (!right_align)
		fprintf(out, "%*s", width - cells, "");
}

/* ---- text summary ----------------------------------------------------------------------- */

static const char *end_name(enum trace_end e)
{
	switch (e) {
	case END_COMPLETED: return "completed";
	case END_UNTIL: return "until";
	case END_LIMIT: return "limit";
	case END_DEADLOCK: return "deadlock";
	case END_ERROR: return "error";
	}
	return "error";
}

static const char *end_phrase(enum trace_end e)
{
	switch (e) {
	case END_COMPLETED: return "completed: every thread finished";
	case END_UNTIL: return "stopped at --until";
	case END_LIMIT: return "stopped at a limit";
	case END_DEADLOCK: return "DEADLOCK";
	case END_ERROR: return "run-time error";
	}
	return "?";
}

static const struct trace_process *thread_proc(const struct trace *tr, int t)
{
	int p = tr->threads[t].proc;
	return p >= 0 && p < tr->nprocs ? &tr->procs[p] : NULL;
}

/* Prints each line of msg indented by two spaces. */
static void put_indented(FILE *out, const char *msg)
{
	while (*msg) {
		const char *nl = strchr(msg, '\n');
		size_t n = nl ? (size_t)(nl - msg) : strlen(msg);
		fprintf(out, "  %.*s\n", (int)n, msg);
		msg += n + (nl != NULL);
	}
}

void metrics_print_text(FILE *out, const struct trace *tr, const struct metrics *m)
{
	char b[10][32];
	if (tr->source_name[0])
		fprintf(out, "Scenario: %s (%s)\n", tr->source_name, tr->origin[0] ? tr->origin : "sim");
	fprintf(out, "Ended: %s\n", end_phrase(tr->end));
	put_indented(out, tr->end_msg);
	fprintf(out, "Makespan: %s\n\n", metrics_format_ns(b[0], sizeof b[0], m->makespan_ns));

	int namew = 6;
	for (int i = 0; i < m->nthreads && i < tr->nthreads; i++) {
		int cells;
		char lab[160];
		metrics_text_fit(trace_thread_label(tr, i, lab, sizeof lab), 1 << 20, &cells);
		if (cells > namew)
			namew = cells;
	}
	if (namew > 24)
		namew = 24;
	put_cells(out, "Thread", namew, false);
	fprintf(out, " %7s %7s %10s %10s %10s %10s %10s %10s %10s %8s\n", "pid", "tid", "start",
		"end", "cpu", "ready", "blocked", "turnaround", "response", "switches");
	for (int i = 0; i < m->nthreads && i < tr->nthreads; i++) {
		const struct thread_metrics *th = &m->threads[i];
		const struct trace_process *p = thread_proc(tr, i);
		char lab[160];
		put_cells(out, trace_thread_label(tr, i, lab, sizeof lab), namew, false);
		fprintf(out, " %7d %7d %10s %10s %10s %10s %10s %10s %10s %8" PRId64 "\n",
			p ? p->pid : -1, tr->threads[i].tid,
			metrics_format_ns(b[0], sizeof b[0], th->start_ns),
			metrics_format_ns(b[1], sizeof b[1], th->end_ns),
			metrics_format_ns(b[2], sizeof b[2], th->cpu_ns),
			metrics_format_ns(b[3], sizeof b[3], th->ready_ns),
			metrics_format_ns(b[4], sizeof b[4], th->blocked_ns),
			metrics_format_ns(b[5], sizeof b[5], th->turnaround_ns),
			metrics_format_ns(b[6], sizeof b[6], th->response_ns), th->switches);
	}
	if (m->ncores > 0) {
		int w = 6;
		char label[64];
		for (int c = 0; c < m->ncores; c++) {
			int n = (int)strlen(trace_core_label(tr, c, label, sizeof label));
			w = n > w ? n : w;
		}
		fprintf(out, "\n%-*s %10s %10s %11s\n", w, "Core", "busy", "switching", "utilisation");
		for (int c = 0; c < m->ncores; c++)
			fprintf(out, "%-*s %10s %10s %9.1f %%\n", w,
				trace_core_label(tr, c, label, sizeof label),
				metrics_format_ns(b[0], sizeof b[0], m->cores[c].busy_ns),
				metrics_format_ns(b[1], sizeof b[1], m->cores[c].switch_ns),
				m->cores[c].utilisation * 100.0);
	}
	fprintf(out, "\nCPU use: %.0f %% (of one core)\n", m->cpu_percent);
	fprintf(out, "Context switches: %" PRId64 "\n", m->context_switches);
	fprintf(out, "Most threads running at once: %d\n", m->max_parallel);
	fprintf(out, "Migrations: %" PRId64, m->migrations);
	for (int i = 0, n = 0; i < m->nthreads && i < tr->nthreads; i++)
		if (m->threads[i].migrations > 0)
			fprintf(out, "%s%s %" PRId64, n++ ? ", " : " (",
				trace_str(tr, tr->threads[i].name), m->threads[i].migrations);
	fputs(m->migrations > 0 ? ")\n" : "\n", out);
	if (m->fairness >= 0)
		fprintf(out, "Fairness: %.4f (Jain's index of the CPU shares of the %d threads "
			     "runnable throughout)\n", m->fairness, m->fairness_threads);

	for (int i = 0; i < tr->ngils; i++) {
		const struct trace_gil *g = &tr->gils[i];
		int pid = g->proc >= 0 && g->proc < tr->nprocs ? tr->procs[g->proc].pid : -1;
		int64_t wait = 0;
		for (int t = 0; t < tr->nthreads && t < m->nthreads; t++)
			if (tr->threads[t].proc == g->proc)
				wait += m->threads[t].state_ns[TS_GIL];
		if (i == 0)
			fprintf(out, "\nGIL (%s%s%s):\n", tr->gil_model, tr->python[0] ? ", Python " : "",
				tr->python);
		fprintf(out,
			"  pid %d: %" PRId64 " holds, %" PRId64 " switches (%" PRId64
			" forced), %" PRId64 " drop requests, %s waited for it in all\n",
			pid, g->holds, g->switches, g->forced_switches, g->drop_requests,
			metrics_format_ns(b[0], sizeof b[0], wait));
	}

	if (tr->races_checked) {
		fprintf(out, "\nData races: %d\n", tr->nraces);
		for (int i = 0; i < tr->nraces; i++) {
			const struct trace_race *r = &tr->races[i];
			char la[160], lb[160];
			fprintf(out, "  %s: %s %s it at line %d, %s %s it at line %d, unordered\n",
				trace_str(tr, r->var), trace_thread_label(tr, r->thread_a, la, sizeof la),
				r->write_a ? "writes" : "reads", r->line_a,
				trace_thread_label(tr, r->thread_b, lb, sizeof lb),
				r->write_b ? "writes" : "reads", r->line_b);
		}
	}

	if (tr->nexpects > 0) {
		int failed = 0;
		for (int i = 0; i < tr->nexpects; i++)
			failed += !tr->expects[i].ok;
		fprintf(out, "\nExpectations: %d of %d ok\n", tr->nexpects - failed, tr->nexpects);
		for (int i = 0; i < tr->nexpects; i++) {
			const struct trace_expect *e = &tr->expects[i];
			fprintf(out, "  %-4s line %d: %s", e->ok ? "ok" : "FAIL", e->line,
				trace_str(tr, e->text));
			if (e->detail)
				fprintf(out, " (%s)", trace_str(tr, e->detail));
			putc('\n', out);
		}
	}
}

/* ---- JSON summary ----------------------------------------------------------------------- */

/* -1 is the metrics' "never": null in JSON */
static void json_ns(FILE *out, int64_t ns)
{
	if (ns < 0)
		fputs("null", out);
	else
		fprintf(out, "%" PRId64, ns);
}

static void json_race_side(FILE *out, const struct trace *tr, int thread, bool write, int line)
{
	fputs("{\"thread\": ", out);
	metrics_json_string(out, thread >= 0 && thread < tr->nthreads
					 ? trace_str(tr, tr->threads[thread].name) : "?");
	fprintf(out, ", \"op\": \"%s\", \"line\": %d}", write ? "write" : "read", line);
}

/* null without a GIL, else {model, python, processes: [{pid, holds, switches, forced_switches,
 * drop_requests, wait_ns: {thread: ns}}]} */
static void json_gil(FILE *out, const struct trace *tr, const struct metrics *m)
{
	if (!tr->ngils) {
		fputs("null", out);
		return;
	}
	fputs("{\"model\": ", out);
	metrics_json_string(out, tr->gil_model);
	fputs(", \"python\": ", out);
	metrics_json_string(out, tr->python);
	fputs(", \"processes\": [", out);
	for (int i = 0; i < tr->ngils; i++) {
		const struct trace_gil *g = &tr->gils[i];
		int pid = g->proc >= 0 && g->proc < tr->nprocs ? tr->procs[g->proc].pid : -1;
		fprintf(out,
			"%s{\"pid\": %d, \"holds\": %" PRId64 ", \"switches\": %" PRId64
			", \"forced_switches\": %" PRId64 ", \"drop_requests\": %" PRId64
			", \"wait_ns\": {",
			i ? ", " : "", pid, g->holds, g->switches, g->forced_switches, g->drop_requests);
		bool first = true;
		for (int t = 0; t < tr->nthreads && t < m->nthreads; t++) {
			if (tr->threads[t].proc != g->proc)
				continue;
			fputs(first ? "" : ", ", out);
			first = false;
			metrics_json_string(out, trace_str(tr, tr->threads[t].name));
			fprintf(out, ": %" PRId64, m->threads[t].state_ns[TS_GIL]);
		}
		fputs("}}", out);
	}
	fputs("]}", out);
}

/* null when the detector did not run, else the list of races (one per variable) */
static void json_races(FILE *out, const struct trace *tr)
{
	if (!tr->races_checked) {
		fputs("null", out);
		return;
	}
	fputs("[", out);
	for (int i = 0; i < tr->nraces; i++) {
		const struct trace_race *r = &tr->races[i];
		fputs(i ? ", {\"var\": " : "{\"var\": ", out);
		metrics_json_string(out, trace_str(tr, r->var));
		fputs(", \"first\": ", out);
		json_race_side(out, tr, r->thread_a, r->write_a, r->line_a);
		fputs(", \"second\": ", out);
		json_race_side(out, tr, r->thread_b, r->write_b, r->line_b);
		fputs("}", out);
	}
	fputs("]", out);
}

static void json_deadlock(FILE *out, const struct trace *tr)
{
	if (tr->end != END_DEADLOCK) {
		fputs("null", out);
		return;
	}
	/* who is blocked at the end, and on what: each live thread's last state record */
	const struct trace_rec **last = calloc((size_t)tr->nthreads + 1, sizeof *last);
	fputs("{\"kind\": ", out);
	metrics_json_string(out, tr->deadlock_kind[0] ? tr->deadlock_kind : "all-blocked");
	fputs(", \"t_ns\": ", out);
	json_ns(out, tr->makespan);
	fputs(", \"message\": ", out);
	metrics_json_string(out, tr->end_msg);
	fputs(", \"cycle\": [", out);
	for (int i = 0; i < tr->ncycle; i++) {
		const struct trace_wait_edge *e = &tr->cycle[i];
		fputs(i ? ", {\"thread\": " : "{\"thread\": ", out);
		metrics_json_string(out, e->thread >= 0 && e->thread < tr->nthreads
						 ? trace_str(tr, tr->threads[e->thread].name) : "?");
		fputs(", \"holds\": ", out);
		metrics_json_string(out, trace_str(tr, e->holds));
		fprintf(out, ", \"holds_line\": %d, \"waits_for\": ", e->holds_line);
		metrics_json_string(out, trace_str(tr, e->waits_for));
		fprintf(out, ", \"line\": %d}", e->line);
	}
	fputs("]", out);
	fputs(", \"blocked\": [", out);
	if (last) {
		for (size_t i = 0; i < tr->nrecs; i++) {
			const struct trace_rec *r = &tr->recs[i];
			if (r->kind == TR_STATE && r->tid >= 0 && r->tid < tr->nthreads &&
			    (!last[r->tid] || last[r->tid]->state != TS_DONE))
				last[r->tid] = r;
		}
		bool first = true;
		for (int t = 0; t < tr->nthreads; t++) {
			if (!last[t] || !thread_state_blocked(last[t]->state))
				continue;
			fputs(first ? "\n    {\"thread\": " : ",\n    {\"thread\": ", out);
			first = false;
			metrics_json_string(out, trace_str(tr, tr->threads[t].name));
			fprintf(out, ", \"tid\": %d, \"state\": ", tr->threads[t].tid);
			metrics_json_string(out, thread_state_name(last[t]->state));
			fputs(", \"reason\": ", out);
			metrics_json_string(out, trace_str(tr, last[t]->reason));
			fprintf(out, ", \"line\": %" PRIu32 "}", last[t]->line);
		}
		free(last);
	}
	fputs("]}", out);
}

void metrics_print_json(FILE *out, const struct trace *tr, const struct metrics *m)
{
	fprintf(out, "{\n  \"makespan_ns\": %" PRId64 ",\n  \"end\": \"%s\",\n  \"end_msg\": ",
		m->makespan_ns, end_name(tr->end));
	metrics_json_string(out, tr->end_msg);
	fputs(",\n  \"source\": ", out);
	metrics_json_string(out, tr->source_name);
	fputs(",\n  \"origin\": ", out);
	metrics_json_string(out, tr->origin);

	fputs(",\n  \"threads\": [", out);
	for (int i = 0; i < m->nthreads && i < tr->nthreads; i++) {
		const struct thread_metrics *th = &m->threads[i];
		const struct trace_process *p = thread_proc(tr, i);
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
		metrics_json_string(out, trace_str(tr, tr->threads[i].name));
		fprintf(out, ", \"pid\": %d, \"tid\": %d, \"proc\": ", p ? p->pid : -1,
			tr->threads[i].tid);
		metrics_json_string(out, p ? trace_str(tr, p->name) : "");
		fputs(", \"start_ns\": ", out);
		json_ns(out, th->start_ns);
		fputs(", \"end_ns\": ", out);
		json_ns(out, th->end_ns);
		fputs(", \"first_run_ns\": ", out);
		json_ns(out, th->first_run_ns);
		fprintf(out, ", \"cpu_ns\": %" PRId64 ", \"ready_ns\": %" PRId64
			     ", \"blocked_ns\": %" PRId64 ", \"blocked_by\": {",
			th->cpu_ns, th->ready_ns, th->blocked_ns);
		for (int s = TS_SLEEP; s <= TS_WAIT; s++)
			fprintf(out, "%s\"%s\": %" PRId64, s == TS_SLEEP ? "" : ", ",
				thread_state_name(s), th->state_ns[s]);
		fputs("}, \"turnaround_ns\": ", out);
		json_ns(out, th->turnaround_ns);
		fputs(", \"response_ns\": ", out);
		json_ns(out, th->response_ns);
		fprintf(out, ", \"switches\": %" PRId64 ", \"voluntary\": %" PRId64
			     ", \"involuntary\": %" PRId64 ", \"migrations\": %" PRId64 "}",
			th->switches, th->voluntary, th->involuntary, th->migrations);
	}
	fputs(m->nthreads ? "\n  ],\n  \"cores\": [" : "],\n  \"cores\": [", out);
	for (int c = 0; c < m->ncores; c++) {
		fprintf(out, "%s{\"core\": %d, \"busy_ns\": %" PRId64 ", \"switch_ns\": %" PRId64
			     ", \"utilisation\": %.6g",
			c ? ",\n    " : "\n    ", c, m->cores[c].busy_ns, m->cores[c].switch_ns,
			m->cores[c].utilisation);
		if (tr->core_labels && c < tr->ncores && tr->core_labels[c]) { /* several hosts */
			fputs(", \"label\": ", out);
			metrics_json_string(out, trace_str(tr, tr->core_labels[c]));
		}
		putc('}', out);
	}
	fprintf(out, "%s],\n  \"cpu_percent\": %.6g,\n  \"context_switches\": %" PRId64
		     ",\n  \"max_parallel\": %d,\n  \"migrations\": %" PRId64 ",\n  \"fairness\": ",
		m->ncores ? "\n  " : "", m->cpu_percent, m->context_switches, m->max_parallel,
		m->migrations);
	if (m->fairness >= 0)
		fprintf(out, "{\"jain\": %.6g, \"threads\": %d}", m->fairness, m->fairness_threads);
	else
		fputs("null", out);
	fputs(",\n  \"output\": [", out);

	bool first = true;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind != TR_PRINT)
			continue;
		bool known = r->tid >= 0 && r->tid < tr->nthreads;
		const struct trace_process *p = known ? thread_proc(tr, r->tid) : NULL;
		fprintf(out, "%s{\"t_ns\": %" PRId64 ", \"pid\": %d, \"thread\": ",
			first ? "\n    " : ",\n    ", r->t, p ? p->pid : -1);
		first = false;
		metrics_json_string(out, known ? trace_str(tr, tr->threads[r->tid].name) : "");
		fputs(", \"text\": ", out);
		metrics_json_string(out, trace_str(tr, r->text));
		putc('}', out);
	}
	fputs(first ? "],\n  \"vars\": {" : "\n  ],\n  \"vars\": {", out);
	for (int i = 0; i < tr->nvars; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		metrics_json_string(out, trace_str(tr, tr->vars[i].name));
		fputs(": ", out);
		metrics_json_string(out, trace_str(tr, tr->vars[i].repr));
	}
	fputs(tr->nvars ? "\n  },\n  \"deadlock\": " : "},\n  \"deadlock\": ", out);
	json_deadlock(out, tr);
	fputs(",\n  \"races\": ", out);
	json_races(out, tr);
	fputs(",\n  \"gil\": ", out);
	json_gil(out, tr, m);
	fputs(",\n  \"expect\": [", out);
	for (int i = 0; i < tr->nexpects; i++) {
		const struct trace_expect *e = &tr->expects[i];
		fprintf(out, "%s{\"line\": %d, \"text\": ", i ? ",\n    " : "\n    ", e->line);
		metrics_json_string(out, trace_str(tr, e->text));
		fprintf(out, ", \"ok\": %s, \"detail\": ", e->ok ? "true" : "false");
		if (e->detail)
			metrics_json_string(out, trace_str(tr, e->detail));
		else
			fputs("null", out);
		putc('}', out);
	}
	fputs(tr->nexpects ? "\n  ]\n}\n" : "]\n}\n", out);
}

void trace_print_output(FILE *out, const struct trace *tr)
{
	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_PRINT)
			fprintf(out, "%s\n", trace_str(tr, tr->recs[i].text));
}

size_t trace_print_events(FILE *out, const struct trace *tr, const char *heading)
{
	size_t n = 0;
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (!trace_is_event(tr, r))
			continue;
		if (!n++ && heading)
			fputs(heading, out);
		char t[32];
		const struct trace_thread *th = &tr->threads[r->tid];
		fprintf(out, "%12s  %s (%d): %s\n", metrics_format_ns(t, sizeof t, r->t),
			trace_str(tr, th->name), th->tid, trace_str(tr, r->text));
	}
	return n;
}

/* gantt.c — the terminal Gantt: one row per thread and per core, a time axis and a legend.
 *
 * Each of the chart's columns covers makespan/cols of time and shows the state that occupied
 * most of it; running wins ties (then the order of enum thread_state), so that a thread that
 * ran for half a column still shows. Without colour each state is one letter; with colour,
 * an ANSI background per state under the same letter. */
#include "metrics.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A row's states: the thread states, then "none" (not yet created, or finished), then the
 * core states. */
enum {
	G_NONE = TS_DONE,           /* before the first record or after TS_DONE */
	G_IDLE = TS_COUNT,
	G_SWITCH,
	G_RUN,
	G_COUNT
};

static const struct {
	char letter;
	const char *sgr;  /* ANSI colours: black letter on a background */
	const char *name;
} look[G_COUNT] = {
	[TS_NEW] = {'n', "30;47", "new"},
	[TS_READY] = {'r', "30;43", "ready"},
	[TS_RUNNING] = {'R', "30;42", "running"},
	[TS_SLEEP] = {'S', "30;44", "sleep"},
	[TS_IO] = {'I', "30;46", "io"},
	[TS_JOIN] = {'J', "30;45", "join"},
	[TS_LOCK] = {'L', "30;41", "lock"},
	[TS_GIL] = {'G', "30;101", "gil"},
	[TS_WAIT] = {'W', "30;104", "wait"},
	[G_NONE] = {'.', NULL, "not started/done"},
	[G_IDLE] = {' ', NULL, "idle"},
	[G_SWITCH] = {'s', "30;100", "switch"},
	[G_RUN] = {'R', "30;42", "core running"},
};

/* Which state wins a column on a tie: running first, then the rest in this order. */
static const int tie_order[G_COUNT] = {
	TS_RUNNING, G_RUN, G_SWITCH, TS_READY, TS_NEW, TS_SLEEP, TS_IO, TS_JOIN,
	TS_LOCK, TS_GIL, TS_WAIT, G_NONE, G_IDLE,
};

struct chart {
	FILE *out;
	bool color;
	int lw, cols;
	int64_t *edge;    /* cols + 1 column boundaries in scaled time: column c is [edge[c], edge[c+1]) */
	int64_t scale;    /* trace ns * scale = chart time (so that no column is empty) */
	int64_t (*acc)[G_COUNT]; /* time per state in each column of the current row */
};

/* Adds the segment [t0, t1) (trace ns) in state st to the current row. */
static void add_segment(struct chart *ch, int64_t t0, int64_t t1, int st)
{
	t0 *= ch->scale;
	t1 *= ch->scale;
	if (t1 <= t0)
		return;
	/* first column whose end is past t0 */
	int lo = 0, hi = ch->cols - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (ch->edge[mid + 1] <= t0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int c = lo; c < ch->cols && ch->edge[c] < t1; c++) {
		int64_t a = t0 > ch->edge[c] ? t0 : ch->edge[c];
		int64_t b = t1 < ch->edge[c + 1] ? t1 : ch->edge[c + 1];
		if (b > a)
			ch->acc[c][st] += b - a;
	}
}

/* Writes s in exactly width cells, cut with "…" when too long. */
static void put_label(FILE *out, const char *s, int width)
{
	int cells;
	size_t n = metrics_text_fit(s, width, &cells);
	if (s[n]) {
		n = metrics_text_fit(s, width - 1, &cells);
		fwrite(s, 1, n, out);
		fputs("…", out);
		cells++;
	} else {
		fwrite(s, 1, n, out);
	}
	fprintf(out, "%*s", width - cells, "");
}

/* Writes "name (pid/tid)" in exactly width cells. When too long, the name is cut rather than
 * the numbers, as long as a few cells of the name remain. */
static void put_thread_label(FILE *out, const char *name, const char *ids, int width)
{
	int ncells, icells;
	metrics_text_fit(name, 1 << 20, &ncells);
	metrics_text_fit(ids, 1 << 20, &icells);
	if (ncells + icells <= width || width - icells < 4) {
		size_t sz = strlen(name) + strlen(ids) + 1;
		char *all = malloc(sz);
		if (all) {
			snprintf(all, sz, "%s%s", name, ids);
			put_label(out, all, width);
			free(all);
		} else {
			put_label(out, name, width); /* out of memory: the name alone */
		}
		return;
	}
	put_label(out, name, width - icells);
	fputs(ids, out);
}

/* Prints the current row: label, then the winning state of each column; clears acc. */
static void put_row(struct chart *ch, const char *label, const char *ids, int fill)
{
	if (ids)
		put_thread_label(ch->out, label, ids, ch->lw);
	else
		put_label(ch->out, label, ch->lw);
	putc(' ', ch->out);
	int shown = -1; /* the state whose colours are on; -1: the terminal's own */
	for (int c = 0; c < ch->cols; c++) {
		int64_t len = ch->edge[c + 1] - ch->edge[c];
		int64_t sum = 0;
		for (int s = 0; s < G_COUNT; s++)
			sum += ch->acc[c][s];
		ch->acc[c][fill] += len - sum; /* what no record covers */
		int best = tie_order[0];
		for (int k = 1; k < G_COUNT; k++)
			if (ch->acc[c][tie_order[k]] > ch->acc[c][best])
				best = tie_order[k];
		memset(ch->acc[c], 0, sizeof ch->acc[c]);
		if (ch->color && look[best].sgr && best != shown) {
			fprintf(ch->out, "\x1b[0;%sm", look[best].sgr);
			shown = best;
		} else if (ch->color && !look[best].sgr && shown >= 0) {
			fputs("\x1b[0m", ch->out);
			shown = -1;
		}
		putc(look[best].letter, ch->out);
	}
	if (shown >= 0)
		fputs("\x1b[0m", ch->out);
	putc('\n', ch->out);
}

/* A time for the axis, short: "0", "750 us", "1.5 ms", "12.003 s" (at most 3 decimals). */
static int axis_label(char *buf, size_t size, int64_t ns)
{
	static const struct {
		int64_t div;
		const char *name;
	} units[] = {{1000000000, "s"}, {1000000, "ms"}, {1000, "us"}, {1, "ns"}};
	if (ns <= 0)
		return snprintf(buf, size, "0");
	size_t u = 0;
	while (u < 3 && ns < units[u].div)
		u++;
	int64_t d = units[u].div;
	int64_t milli = d >= 1000 ? (ns + d / 2000) / (d / 1000) : ns * 1000; /* thousandths */
	char frac[8] = "";
	if (milli % 1000) {
		snprintf(frac, sizeof frac, ".%03d", (int)(milli % 1000));
		for (int i = 3; frac[i] == '0'; i--)
			frac[i] = 0;
	}
	return snprintf(buf, size, "%" PRId64 "%s %s", milli / 1000, frac, units[u].name);
}

/* The time axis: labels at round times that never overlap, and a ruler with '+' under them. */
static void put_axis(struct chart *ch, int64_t span)
{
	char *line = malloc((size_t)ch->cols + 1);
	char *rule = malloc((size_t)ch->cols + 1);
	if (!line || !rule) {
		free(line);
		free(rule);
		return;
	}
	memset(line, ' ', (size_t)ch->cols);
	memset(rule, '-', (size_t)ch->cols);
	line[ch->cols] = rule[ch->cols] = 0;

	char lab[32];
	int n = axis_label(lab, sizeof lab, span);
	int end_at = ch->cols - n; /* the end label is right-aligned to the last column */
	if (end_at < 2)
		end_at = 2; /* (never at width >= 40) */
	memcpy(line + end_at, lab, (size_t)(ch->cols - end_at));
	line[0] = '0';
	rule[0] = rule[ch->cols - 1] = '+';

	/* the smallest round step (1, 2 or 5 times a power of ten) whose labels sit at least three
	 * blanks apart, so that the axis has a few labels, never crowded */
	int64_t step = 1;
	for (int k = 0;; k++) {
		step = (k % 3 == 0 ? 1 : k % 3 == 1 ? 2 : 5);
		for (int z = 0; z < k / 3; z++)
			step *= 10;
		if (step >= span || k >= 3 * 18) /* (10^18 ns: 31 years) */
			break;
		char widest[32];
		int wn = axis_label(widest, sizeof widest, span / step * step);
		if ((double)step / (double)span * ch->cols >= wn + 3) /* columns between ticks */
			break;
	}
	int free_from = 2; /* first column a label may use: one blank after "0" */
	for (int64_t t = step; t < span; t += step) {
		/* the column holding t: the last whose start is <= t */
		int64_t st = t * ch->scale;
		int c = 0;
		while (c + 1 < ch->cols && ch->edge[c + 1] <= st)
			c++;
		n = axis_label(lab, sizeof lab, t);
		if (c < free_from || c + n + 1 > end_at)
			continue;
		memcpy(line + c, lab, (size_t)n);
		rule[c] = '+';
		free_from = c + n + 1;
	}
	fprintf(ch->out, "%*s %s\n%*s %s\n", ch->lw, "", line, ch->lw, "", rule);
	free(line);
	free(rule);
}

static void put_legend(struct chart *ch, int width)
{
	static const int order[] = {TS_RUNNING, TS_READY, TS_NEW, TS_SLEEP, TS_IO, TS_JOIN,
				    TS_LOCK, TS_GIL, TS_WAIT, G_NONE, G_SWITCH, G_IDLE};
	int x = fprintf(ch->out, "Legend:");
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		int s = order[i];
		bool idle = s == G_IDLE; /* a blank needs quotes to be seen */
		int w = 2 + (idle ? 3 : 1) + 1 + (int)strlen(look[s].name);
		if (x + w > width) {
			fputs("\n       ", ch->out);
			x = 7;
		}
		if (ch->color && look[s].sgr)
			fprintf(ch->out, "  \x1b[0;%sm%c\x1b[0m %s", look[s].sgr, look[s].letter,
				look[s].name);
		else
			fprintf(ch->out, idle ? "  '%c' %s" : "  %c %s", look[s].letter, look[s].name);
		x += w;
	}
	putc('\n', ch->out);
}

void gantt_print(FILE *out, const struct trace *tr, int width, bool color)
{
	if (width < 40)
		width = 40;
	int nt = tr->nthreads > 0 ? tr->nthreads : 0;
	int nc = tr->ncores > 0 ? tr->ncores : 0;
	int64_t span = tr->makespan;
	if (tr->nrecs && tr->recs[tr->nrecs - 1].t > span)
		span = tr->recs[tr->nrecs - 1].t;

	struct chart ch = {.out = out, .color = color, .scale = 1};
	size_t *first = NULL, *idx = NULL, *fill = NULL; /* TR_STATE records bucketed by thread */
	/* labels: "name (pid/tid)" and "core N"; their column is at most a quarter of the width */
	char **labels = calloc((size_t)nt + 1, sizeof *labels); /* " (pid/tid)" */
	if (!labels)
		return;
	int lw = 6;
	for (int t = 0; t < nt; t++) {
		const struct trace_thread *th = &tr->threads[t];
		int p = th->proc;
		int pid = p >= 0 && p < tr->nprocs ? tr->procs[p].pid : -1;
		labels[t] = malloc(32);
		if (!labels[t])
			goto done;
		snprintf(labels[t], 32, " (%d/%d)", pid, th->tid);
		int ncells, icells;
		char lab[160];
		metrics_text_fit(trace_thread_label(tr, t, lab, sizeof lab), 1 << 20, &ncells);
		metrics_text_fit(labels[t], 1 << 20, &icells);
		if (ncells + icells > lw)
			lw = ncells + icells;
	}
	int cap = width / 4 < 8 ? 8 : width / 4 > 32 ? 32 : width / 4;
	ch.lw = lw < cap ? lw : cap;
	ch.cols = width - ch.lw - 1;
	if (span <= 0)
		span = 1;
	if (span < ch.cols) /* stretch time so that every column covers some */
		ch.scale = (ch.cols + span - 1) / span;
	ch.edge = malloc(((size_t)ch.cols + 1) * sizeof *ch.edge);
	ch.acc = calloc((size_t)ch.cols, sizeof *ch.acc);
	first = calloc((size_t)nt + 1, sizeof *first);
	fill = calloc((size_t)nt + 1, sizeof *fill);
	idx = malloc((tr->nrecs + 1) * sizeof *idx);
	if (!ch.edge || !ch.acc || !first || !fill || !idx)
		goto done;
	int64_t total = span * ch.scale;
	for (int c = 0; c <= ch.cols; c++)
		ch.edge[c] = total / ch.cols * c + total % ch.cols * c / ch.cols;

	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_STATE && tr->recs[i].tid >= 0 && tr->recs[i].tid < nt)
			first[tr->recs[i].tid + 1]++;
	for (int t = 0; t < nt; t++)
		first[t + 1] += first[t];
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind == TR_STATE && r->tid >= 0 && r->tid < nt)
			idx[first[r->tid] + fill[r->tid]++] = i;
	}

	put_axis(&ch, span);
	for (int t = 0; t < nt; t++) {
		int cur = -1;
		int64_t since = 0;
		for (size_t k = first[t]; k < first[t + 1]; k++) {
			const struct trace_rec *r = &tr->recs[idx[k]];
			if (r->state >= TS_COUNT)
				continue;
			if (cur >= 0)
				add_segment(&ch, since, r->t, cur);
			cur = r->state;
			since = r->t;
			if (cur == TS_DONE)
				break;
		}
		if (cur >= 0 && cur != TS_DONE)
			add_segment(&ch, since, span, cur);
		char lab[160];
		put_row(&ch, trace_thread_label(tr, t, lab, sizeof lab), labels[t], G_NONE);
	}
	for (int c = 0; c < nc; c++) {
		int cur = G_IDLE;
		int64_t since = 0;
		for (size_t i = 0; i < tr->nrecs; i++) {
			const struct trace_rec *r = &tr->recs[i];
			if (r->kind != TR_CORE || r->core != c || r->state >= CS_COUNT)
				continue;
			add_segment(&ch, since, r->t, cur);
			cur = r->state == CS_RUN ? G_RUN : r->state == CS_SWITCH ? G_SWITCH : G_IDLE;
			since = r->t;
		}
		add_segment(&ch, since, span, cur);
		char label[64];
		put_row(&ch, trace_core_label(tr, c, label, sizeof label), NULL, G_IDLE);
	}
	put_legend(&ch, width);
done:
	for (int t = 0; t < nt; t++)
		free(labels[t]);
	free(labels);
	free(ch.edge);
	free(ch.acc);
	free(first);
	free(fill);
	free(idx);
}

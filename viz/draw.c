/* draw.c — the one drawing module: lays out and draws the picture on any SDL_Renderer (the
 * window's, or a software renderer over a surface for PNG files), so both give the same pixels.
 *
 * Speed: each row is reduced to one bucket per pixel column before anything is drawn. The
 * visible segments are found by binary search; each adds the time it covers to its pixels'
 * per-state sums, and each pixel takes its dominant state, so a row costs O(visible segments +
 * width) whatever the zoom. Runs of equal pixels become one rectangle, and all rectangles of one
 * colour go to the renderer in one call. A state that is alone in a pixel shows however short
 * it is. */
#include "viz_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RGB(x) {(Uint8)((x) >> 16), (Uint8)((x) >> 8 & 0xFF), (Uint8)((x) & 0xFF), 255}

static const struct theme theme_normal = {
	.state = {
		[TS_NEW] = RGB(0xb8c2cc), [TS_READY] = RGB(0xf2c14e), [TS_RUNNING] = RGB(0x2e9d4f),
		[TS_SLEEP] = RGB(0x5b8fd9), [TS_IO] = RGB(0x3bb3c3), [TS_JOIN] = RGB(0x9b6fc4),
		[TS_LOCK] = RGB(0xd64545), [TS_GIL] = RGB(0xf07f2a), [TS_WAIT] = RGB(0x8c6d4f),
		[TS_DONE] = RGB(0xe2e2e2), [VS_SWITCH] = RGB(0x4d4d4d), [VS_CORE_RUN] = RGB(0x2e9d4f),
		/* holders of locks and GILs: darker hues than the states' */
		[VS_HOLD0] = RGB(0x2a7f8f), RGB(0x4b3f9e), RGB(0x7d8a2e), RGB(0xb5397a),
		RGB(0x4f6d8f), RGB(0x9a5b2c), RGB(0x2f6b3f), RGB(0x7b4f7e),
	},
	.arrow = {RGB(0x1f3fbf), RGB(0xa01010), RGB(0xc05a00)}, .counter = RGB(0x5a6b7d),
	.marker_ab = RGB(0x007a7a), .match = {255, 214, 0, 255},
	.bg = RGB(0xffffff), .fg = RGB(0x1e1e1e), .dim = RGB(0x6b6b6b),
	.band = {RGB(0xfafafa), RGB(0xf1f2f4)}, .group_band = RGB(0xdde3ea), .grid = RGB(0xd8d8d8),
	.axis_fg = RGB(0x333333), .panel_bg = RGB(0xf4f5f7), .panel_fg = RGB(0x222222),
	.select = {48, 112, 255, 60}, .cursor = RGB(0xd0006f), .tooltip_bg = {255, 251, 230, 245},
	.tooltip_fg = RGB(0x111111), .deadlock_bg = RGB(0xc62828), .deadlock_fg = RGB(0xffffff),
	.warn_bg = RGB(0xffb300), .warn_fg = RGB(0x000000), .marker = RGB(0x202020),
	.core_text = RGB(0xffffff),
};

/* Okabe & Ito's palette, which readers with any common colour-vision deficiency can tell
 * apart; black on white; no pastel bands. */
static const struct theme theme_projector = {
	.state = {
		[TS_NEW] = RGB(0x999999), [TS_READY] = RGB(0xF0E442), [TS_RUNNING] = RGB(0x009E73),
		[TS_SLEEP] = RGB(0x56B4E9), [TS_IO] = RGB(0x0072B2), [TS_JOIN] = RGB(0xCC79A7),
		[TS_LOCK] = RGB(0xD55E00), [TS_GIL] = RGB(0xE69F00), [TS_WAIT] = RGB(0x000000),
		[TS_DONE] = RGB(0xdddddd), [VS_SWITCH] = RGB(0x555555), [VS_CORE_RUN] = RGB(0x009E73),
		[VS_HOLD0] = RGB(0x0072B2), RGB(0xD55E00), RGB(0x009E73), RGB(0xCC79A7),
		RGB(0x56B4E9), RGB(0xE69F00), RGB(0xF0E442), RGB(0x777777),
	},
	.arrow = {RGB(0x000000), RGB(0xD55E00), RGB(0x0072B2)}, .counter = RGB(0x333333),
	.marker_ab = RGB(0xCC79A7), .match = {240, 228, 66, 255},
	.bg = RGB(0xffffff), .fg = RGB(0x000000), .dim = RGB(0x333333),
	.band = {RGB(0xffffff), RGB(0xf0f0f0)}, .group_band = RGB(0xd0d0d0), .grid = RGB(0xbbbbbb),
	.axis_fg = RGB(0x000000), .panel_bg = RGB(0xf2f2f2), .panel_fg = RGB(0x000000),
	.select = {0, 114, 178, 70}, .cursor = RGB(0xD55E00), .tooltip_bg = {255, 255, 255, 250},
	.tooltip_fg = RGB(0x000000), .deadlock_bg = RGB(0xb00000), .deadlock_fg = RGB(0xffffff),
	.warn_bg = RGB(0xE69F00), .warn_fg = RGB(0x000000), .marker = RGB(0x000000),
	.core_text = RGB(0xffffff),
};

const char *const viz_help_lines[][2] = {
	{"wheel", "zoom in/out at the mouse (over the labels or panel: scroll)"},
	{"drag", "pan the timeline"},
	{"shift+drag", "zoom to the selected range"},
	{"ctrl+drag", "select a range: markers A and B at its ends"},
	{"click", "set the time cursor: the panel shows the kernel's state then"},
	{"ctrl+click / alt+click", "put marker A / B there"},
	{"click a group's label", "collapse or expand it (a process, Locks, CPU cores, Counters)"},
	{"click an output line", "jump to the time it was printed"},
	{"left / right", "pan by a tenth of the view"},
	{"up / down, PgUp / PgDn", "scroll the rows"},
	{"+ / -", "zoom in / out at the centre"},
	{"F or Home", "fit the whole run"},
	{". / ,", "cursor to the next / previous event"},
	{"space", "play / pause: the cursor walks through time"},
	{"A / B", "marker A / B at the cursor (or the mouse); again there: remove it"},
	{"W", "causality arrows (wake-ups, lock and GIL hand-overs) on / off"},
	{"/", "search: a name, pid, tid, core (c1) or state; Enter keeps it, Esc clears"},
	{"O", "show only the threads active in view (running or ready)"},
	{"C / shift+C", "rerun with one core more / less"},
	{"P / shift+P", "rerun with the next / previous policy"},
	{"] / [", "rerun with the quantum doubled / halved"},
	{"G / shift+G", "rerun with the next / previous GIL model (none, py3, py2)"},
	{"I / shift+I", "rerun with the GIL switch interval doubled / halved"},
	{"R / shift+R", "rerun with the next / previous seed"},
	{"Tab", "show / hide the side panel"},
	{"S", "save the window as a PNG file"},
	{"F11", "full screen on / off"},
	{"H or ?", "this help"},
	{"Esc", "close the help or the search; clear the cursor"},
	{"Q", "quit"},
	{NULL, NULL},
};

static void set_color(SDL_Renderer *r, SDL_Color c)
{
	SDL_SetRenderDrawColor(r, c.r, c.g, c.b, c.a);
}

static void fill(SDL_Renderer *r, SDL_Color c, int x, int y, int w, int h)
{
	if (w <= 0 || h <= 0)
		return;
	set_color(r, c);
	SDL_Rect rc = {x, y, w, h};
	SDL_RenderFillRect(r, &rc);
}

void fmt_time(char *buf, size_t size, int64_t ns)
{
	if (ns == 0)
		snprintf(buf, size, "0");
	else
		metrics_format_ns(buf, size, ns);
}

double viz_x_of_d(const struct viz *v, double t)
{
	return v->L.tl_x + (t - v->t0) * v->L.tl_w / (v->t1 - v->t0);
}

double viz_t_of_x(const struct viz *v, double x)
{
	return v->t0 + (x - v->L.tl_x) * (v->t1 - v->t0) / v->L.tl_w;
}

/* An axis label: the unit of the largest visible time, as many decimals as the step needs. */
static void axis_label(char *buf, size_t size, int64_t t, int64_t step, double tmax)
{
	if (t == 0) {
		snprintf(buf, size, "0");
		return;
	}
	static const struct {
		double div;
		const char *name;
	} units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
	int u = 0;
	while (u < 3 && fabs(tmax) < units[u].div)
		u++;
	int dec = 0;
	for (double s = (double)step; s < units[u].div && dec < 9; s *= 10)
		dec++;
	snprintf(buf, size, "%.*f %s", dec, (double)t / units[u].div, units[u].name);
}

/* The axis step: 1-2-5 times a power of ten, the smallest whose labels do not crowd. */
static int64_t choose_step(struct viz *v)
{
	double span = v->t1 - v->t0, px_per_ns = v->L.tl_w / span;
	for (int64_t pow10 = 1; pow10 <= INT64_MAX / 10; pow10 *= 10) {
		static const int mult[] = {1, 2, 5};
		for (int m = 0; m < 3; m++) {
			int64_t step = pow10 * mult[m];
			double px = (double)step * px_per_ns;
			if (px < 24)
				continue;
			char a[64], b[64];
			int64_t last = (int64_t)floor(v->t1 / (double)step) * step;
			axis_label(a, sizeof a, last, step, v->t1);
			axis_label(b, sizeof b, last - step, step, v->t1);
			int lw = text_width(v, FONT_REGULAR, a);
			int lw2 = text_width(v, FONT_REGULAR, b);
			if (lw2 > lw)
				lw = lw2;
			if (px >= lw + 3 * v->L.pad)
				return step;
		}
	}
	return INT64_MAX / 10;
}

static const char *end_title(enum trace_end e)
{
	switch (e) {
	case END_COMPLETED: return "completed";
	case END_UNTIL: return "stopped at --until";
	case END_LIMIT: return "stopped: a limit was reached";
	case END_DEADLOCK: return "DEADLOCK";
	default: return "error";
	}
}

static bool has_banner(const struct viz *v)
{
	return v->tr->end == END_DEADLOCK || v->tr->end == END_ERROR || v->tr->end == END_LIMIT;
}

/* The banner's lines: "Deadlock at T: " and end_msg, wrapped at spaces to the width of the
 * timeline's side, at most 3 lines (the last is cut with "…" when drawn). Returns how many. */
static int banner_lines(struct viz *v, char lines[3][512])
{
	char when[64], all[1200];
	fmt_time(when, sizeof when, v->tr->makespan);
	const char *what = v->tr->end == END_DEADLOCK ? "Deadlock"
			   : v->tr->end == END_ERROR  ? "Error"
						      : "Stopped";
	snprintf(all, sizeof all, "%s at %s: %s", what, when, v->tr->end_msg);
	int maxw = v->w - v->L.panel_w - 2 * v->L.pad;
	int n = 0;
	const char *p = all;
	while (*p && n < 3) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		/* take words while they fit; a line break in the message ends the line */
		size_t best = 0, len = 0;
		for (;;) {
			size_t next = len;
			while (p[next] && p[next] != ' ' && p[next] != '\n')
				next++;
			char try[512];
			snprintf(try, sizeof try, "%.*s", (int)next, p);
			if (best > 0 && (text_width(v, n == 0 ? FONT_BOLD : FONT_REGULAR, try) > maxw ||
					 next >= sizeof try - 1))
				break;
			best = next;
			if (!p[next] || p[next] == '\n' || n == 2)
				break;
			len = next + 1;
		}
		if (n == 2)
			best = strcspn(p, "\n");
		snprintf(lines[n++], 512, "%.*s", (int)best, p);
		p += best;
	}
	return n > 0 ? n : 1;
}

/* Legend entries: a swatch colour (or -1 for the idle band, -2 for the print marker), a name. */
struct legend_item {
	int state;
	const char *name;
};
enum { LEGEND_EVENT = -100 }; /* an event of the run: an up-pointing triangle */
static const struct legend_item legend[] = {
	{TS_RUNNING, "running"}, {TS_READY, "ready"}, {TS_NEW, "new"}, {TS_SLEEP, "sleep"},
	{TS_IO, "io"}, {TS_JOIN, "join"}, {TS_LOCK, "lock"}, {TS_GIL, "gil"}, {TS_WAIT, "wait"},
	{TS_DONE, "done"}, {VS_SWITCH, "core: switch"}, {-1, "core: idle"}, {-2, "print"},
	{-3, "held by (thread colour)"}, {-4, "woke"}, {-5, "lock hand-over"},
	{-6, "GIL hand-over"}, {LEGEND_EVENT, "event"},
};
#define NLEGEND (int)(sizeof legend / sizeof legend[0])

/* The legend speaks of objects and arrows only when the run has them. */
static bool legend_used(const struct viz *v, int i)
{
	int st = legend[i].state;
	if (st > -3)
		return true;
	if (st == -3)
		return v->tr->nobjects > 0 || (v->trs[1] && v->trs[1]->nobjects > 0);
	if (st == LEGEND_EVENT) {
		for (size_t k = 0; k < v->nprints; k++)
			if (v->prints[k].event)
				return true;
		return false;
	}
	for (size_t k = 0; k < v->narrows; k++)
		if (v->arrows[k].kind == -4 - st)
			return true;
	return false;
}

static int legend_item_w(struct viz *v, int i)
{
	return v->L.line_h + 4 + text_width(v, FONT_REGULAR, legend[i].name) + 2 * v->L.pad;
}

void layout_compute(struct viz *v)
{
	struct layout *L = &v->L;
	int lh = TTF_FontLineSkip(v->font[FONT_REGULAR]);
	L->line_h = lh;
	L->pad = v->font_px / 2;
	L->row_h = lh + (v->projector ? 10 : 6);
	L->title_h = 2 * lh + 2 * L->pad;
	L->banner_y = L->title_h;
	L->panel_w = 0;
	if (v->show_panel && v->w >= 700) {
		L->panel_w = v->w * (v->projector ? 36 : 27) / 100;
		if (L->panel_w < 240)
			L->panel_w = 240;
		if (L->panel_w > 40 * v->font_px)
			L->panel_w = 40 * v->font_px;
	}
	L->panel_x = v->w - L->panel_w;
	int main_w = v->w - L->panel_w;
	L->banner_h = 0;
	if (has_banner(v)) {
		char lines[3][512];
		L->banner_h = banner_lines(v, lines) * lh + 2 * L->pad;
	}

	L->legend_y = L->banner_y + L->banner_h;
	int x = L->pad, lines = 1;
	for (int i = 0; i < NLEGEND; i++) {
		if (!legend_used(v, i))
			continue;
		int iw = legend_item_w(v, i);
		if (x + iw > main_w && x > L->pad) {
			lines++;
			x = L->pad;
		}
		x += iw;
	}
	L->legend_h = lines * (lh + 4) + L->pad;

	L->axis_y = L->legend_y + L->legend_h;
	L->axis_h = lh + L->pad + 6;
	L->status_h = v->interactive ? lh + 6 : 0;
	L->status_y = v->h - L->status_h;
	L->rows_y = L->axis_y + L->axis_h;
	L->rows_h = L->status_y - L->rows_y;
	if (L->rows_h < 0)
		L->rows_h = 0;

	int lw = 60;
	for (int i = 0; i < v->nrows; i++) {
		const struct vrow *r = &v->rows[i];
		bool head = row_is_head(r->kind);
		int w = text_width(v, head ? FONT_BOLD : FONT_REGULAR, r->label) +
			(head ? lh : 2 * lh) + 2 * L->pad;
		if (w > lw)
			lw = w;
	}
	if (lw > main_w * 35 / 100)
		lw = main_w * 35 / 100;
	L->label_w = lw;
	L->tl_x = lw;
	L->tl_w = main_w - lw - 2 * L->pad;
	if (L->tl_w < 10)
		L->tl_w = 10;
	if (!(v->t1 > v->t0)) {
		v->t0 = 0;
		v->t1 = (double)v->end;
	}

	if (!v->vis)
		v->vis = calloc((size_t)v->nrows + 1, sizeof *v->vis);
	if (!v->rowy)
		v->rowy = calloc((size_t)v->nrows + 1, sizeof *v->rowy);
	v->nvis = 0;
	int y = 0, head_y = 0;
	for (int i = 0; v->vis && v->rowy && i < v->nrows; i++) {
		const struct vrow *r = &v->rows[i];
		bool head = row_is_head(r->kind);
		v->rowy[i] = INT32_MIN;
		if (head)
			head_y = y;
		if (!head && v->collapsed[r->group]) {
			v->rowy[i] = -head_y - 1; /* its header's, patched below */
			continue;
		}
		if (v->active_only && !model_row_active(v, i, v->t0, v->t1))
			continue;
		v->rowy[i] = y;
		v->vis[v->nvis++] = (struct vis_row){.row = i, .y = y};
		y += L->row_h;
	}
	L->content_h = y;
	int maxscroll = L->content_h - L->rows_h;
	if (v->scroll > maxscroll)
		v->scroll = maxscroll;
	if (v->scroll < 0)
		v->scroll = 0;
	/* screen y of every row; a collapsed row takes its header's */
	for (int i = 0; v->rowy && i < v->nrows; i++) {
		if (v->rowy[i] == INT32_MIN)
			continue;
		int cy = v->rowy[i] < 0 ? -v->rowy[i] - 1 : v->rowy[i];
		v->rowy[i] = L->rows_y + cy - v->scroll;
	}
	v->nmatch = 0;
	for (int i = 0; v->search[0] && i < v->nrows; i++)
		v->nmatch += !row_is_head(v->rows[i].kind) && model_row_matches(v, i, v->search);
	L->tick_step = choose_step(v);
}

int layout_row_y(const struct viz *v, int row)
{
	return row >= 0 && row < v->nrows && v->rowy ? v->rowy[row] : INT32_MIN;
}

int layout_row_at(const struct viz *v, int y)
{
	if (y < v->L.rows_y || y >= v->L.rows_y + v->L.rows_h)
		return -1;
	int cy = y - v->L.rows_y + v->scroll;
	int i = cy / v->L.row_h;
	return i >= 0 && i < v->nvis ? v->vis[i].row : -1;
}

/* Adds the row's segments to the per-pixel sums acc[px * VS_COUNT + state]. */
static void accumulate(const struct viz *v, const struct vrow *r, float *acc, int W)
{
	double t0 = v->t0, t1 = v->t1, k = W / (t1 - t0);
	size_t i = model_first_after(r, t0 > 0 ? (int64_t)t0 : 0);
	for (; i < r->nsegs; i++) {
		const struct vseg *s = &r->segs[i];
		if ((double)s->t0 >= t1)
			break;
		double x0 = ((double)s->t0 - t0) * k, x1 = ((double)s->t1 - t0) * k;
		if (x0 < 0)
			x0 = 0;
		if (x1 > W)
			x1 = W;
		if (x1 <= x0)
			continue;
		int p0 = (int)x0, p1 = (int)x1;
		float *a = acc + s->state;
		if (p0 == p1) {
			a[p0 * VS_COUNT] += (float)(x1 - x0);
			continue;
		}
		a[p0 * VS_COUNT] += (float)(p0 + 1 - x0);
		for (int p = p0 + 1; p < p1; p++)
			a[p * VS_COUNT] += 1;
		if (p1 < W)
			a[p1 * VS_COUNT] += (float)(x1 - p1);
	}
}

static void batch_add(struct viz *v, int state, float x, float y, float w, float h)
{
	struct rectbatch *b = &v->batch[state];
	if (b->n == b->cap) {
		int ncap = b->cap ? b->cap * 2 : 256;
		SDL_FRect *p = realloc(b->r, (size_t)ncap * sizeof *p);
		if (!p)
			return; /* out of memory: this rectangle is not drawn */
		b->r = p;
		b->cap = ncap;
	}
	b->r[b->n++] = (SDL_FRect){x, y, w, h};
}

/* For a collapsed process: the state that tells most, when present in the pixel at all. */
static const int collapsed_order[] = {TS_RUNNING, TS_LOCK, TS_GIL, TS_READY, TS_IO, TS_SLEEP,
				      TS_JOIN, TS_WAIT, TS_NEW, TS_DONE};

/* Turns a row's sums into rectangles (one per run of equal pixels) and clears the sums. */
static void emit_row(struct viz *v, float *acc, int W, float y, float h, bool by_priority)
{
	int cur = -1, start = 0;
	for (int p = 0; p <= W; p++) {
		int best = -1;
		if (p < W) {
			float *a = acc + p * VS_COUNT;
			if (by_priority) {
				float sum = 0;
				for (int s = 0; s < VS_COUNT; s++)
					sum += a[s];
				for (size_t k = 0; k < sizeof collapsed_order / sizeof *collapsed_order; k++)
					if (a[collapsed_order[k]] > 0.2f * sum && sum > 0) {
						best = collapsed_order[k];
						break;
					}
			} else {
				float bv = 0;
				for (int s = 0; s < VS_COUNT; s++)
					if (a[s] > bv) {
						bv = a[s];
						best = s;
					}
			}
			memset(a, 0, VS_COUNT * sizeof *a);
		}
		if (best != cur) {
			if (cur >= 0)
				batch_add(v, cur, (float)(v->L.tl_x + start), y, (float)(p - start), h);
			cur = best;
			start = p;
		}
	}
}

static void draw_row_segments(struct viz *v, const struct vrow *r, int y)
{
	int W = v->L.tl_w;
	size_t need = (size_t)W * VS_COUNT;
	if (need > v->capacc) {
		float *p = calloc(need, sizeof *p);
		if (!p)
			return;
		free(v->acc);
		v->acc = p;
		v->capacc = need;
	}
	int inset = v->projector ? 3 : 2;
	float h = (float)(v->L.row_h - 2 * inset);
	if (row_is_head(r->kind)) {
		/* a collapsed group on one row: its threads (the most telling state winning), or
		 * its cores or objects (the dominant one) */
		if (!v->collapsed[r->group] || r->kind == ROW_COUNTERS)
			return;
		enum row_kind want = r->kind == ROW_PROC ? ROW_THREAD : r->kind == ROW_CORES ? ROW_CORE : ROW_OBJ;
		for (int i = 0; i < v->nrows; i++)
			if (v->rows[i].kind == want && v->rows[i].group == r->group)
				accumulate(v, &v->rows[i], v->acc, W);
		emit_row(v, v->acc, W, (float)(y + inset), h, r->kind == ROW_PROC);
		return;
	}
	if (r->kind == ROW_COUNTER)
		return;
	accumulate(v, r, v->acc, W);
	emit_row(v, v->acc, W, (float)(y + inset), h, false);
}

/* A counter as a step chart: each pixel column the highest value it saw, as a bar. */
static void draw_counter(struct viz *v, const struct vrow *r, int y)
{
	int W = v->L.tl_w;
	if (r->npts == 0 || r->ymax <= 0)
		return;
	int *col = calloc((size_t)W + 1, sizeof *col);
	if (!col)
		return;
	for (int p = 0; p < W; p++)
		col[p] = -1;
	double t0 = v->t0, t1 = v->t1, k = W / (t1 - t0);
	size_t lo = 0, hi = r->npts;
	while (lo < hi) { /* the last point at or before t0 */
		size_t mid = lo + (hi - lo) / 2;
		if ((double)r->pts[mid].t <= t0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo ? lo - 1 : 0; i < r->npts && (double)r->pts[i].t < t1; i++) {
		double a = ((double)r->pts[i].t - t0) * k;
		double b = ((i + 1 < r->npts ? (double)r->pts[i + 1].t : (double)v->end) - t0) * k;
		if (b <= 0 || a >= W)
			continue;
		int p0 = a < 0 ? 0 : (int)a, p1 = b > W ? W : (int)ceil(b);
		if (p1 <= p0)
			p1 = p0 + 1;
		for (int p = p0; p < p1 && p < W; p++)
			if (r->pts[i].val > col[p])
				col[p] = r->pts[i].val;
	}
	int inset = v->projector ? 3 : 2;
	float full = (float)(v->L.row_h - 2 * inset);
	float base = (float)(y + v->L.row_h - inset);
	SDL_FRect *rects = malloc((size_t)W * sizeof *rects);
	int n = 0;
	for (int p = 0; rects && p < W;) {
		int q = p;
		while (q < W && col[q] == col[p])
			q++;
		if (col[p] > 0) {
			float hh = full * (float)col[p] / (float)r->ymax;
			rects[n++] = (SDL_FRect){(float)(v->L.tl_x + p), base - hh, (float)(q - p), hh};
		}
		p = q;
	}
	set_color(v->ren, v->th->counter);
	if (n)
		SDL_RenderFillRectsF(v->ren, rects, n);
	free(rects);
	free(col);
}

/* Names of the threads a core runs, inside the stretches wide enough to hold them. */
static void draw_core_names(struct viz *v, const struct vrow *r, int y)
{
	double t0 = v->t0, t1 = v->t1;
	int minw = 4 * v->font_px;
	for (size_t i = model_first_after(r, (int64_t)(t0 > 0 ? t0 : 0)); i < r->nsegs; i++) {
		const struct vseg *s = &r->segs[i];
		if ((double)s->t0 >= t1)
			break;
		const struct trace *tr = row_trace(v, r);
		bool obj = r->kind == ROW_OBJ;
		if ((obj ? s->state < VS_HOLD0 : s->state != VS_CORE_RUN) || s->who < 0 ||
		    s->who >= tr->nthreads)
			continue;
		double x0 = viz_x_of_d(v, (double)s->t0), x1 = viz_x_of_d(v, (double)s->t1);
		if (x0 < v->L.tl_x)
			x0 = v->L.tl_x;
		if (x1 > v->L.tl_x + v->L.tl_w)
			x1 = v->L.tl_x + v->L.tl_w;
		if (x1 - x0 >= 4 && x0 > v->L.tl_x) /* where one thread's run meets the next's */
			fill(v->ren, v->th->bg, (int)x0, y + 2, 1, v->L.row_h - 4);
		SDL_Color tc = v->th->core_text;
		if (obj) { /* dark text on light holder colours */
			SDL_Color hc = v->th->state[s->state];
			if (hc.r * 299 + hc.g * 587 + hc.b * 114 > 150000)
				tc = v->th->fg;
		}
		if (x1 - x0 < minw)
			continue;
		/* the thread's label, or its tid when that does not fit */
		char lab[160];
		trace_thread_label(tr, s->who, lab, sizeof lab);
		int tw = text_width(v, FONT_REGULAR, lab);
		int room = (int)(x1 - x0) - v->L.pad;
		if (tw > room) {
			snprintf(lab, sizeof lab, "%d", tr->threads[s->who].tid);
			tw = text_width(v, FONT_REGULAR, lab);
			if (tw > room)
				continue;
		}
		int x = tw < room ? (int)((x0 + x1 - tw) / 2) : (int)x0 + v->L.pad / 2;
		text_draw(v, FONT_REGULAR, tc, lab, x, y + (v->L.row_h - v->L.line_h) / 2, room);
	}
}

/* Print markers: a small dark triangle at the top of the thread's row, one per pixel. */
static void draw_prints(struct viz *v)
{
	int rowof_thread_n = v->tr->nthreads;
	int *rowy = malloc(((size_t)rowof_thread_n + 1) * sizeof *rowy);
	int *lastx = malloc(((size_t)rowof_thread_n + 1) * sizeof *lastx);
	SDL_Vertex *vert = NULL;
	int nv = 0, capv = 0;
	if (!rowy || !lastx)
		goto out;
	for (int t = 0; t < rowof_thread_n; t++) {
		rowy[t] = INT32_MIN;
		lastx[t] = INT32_MIN;
	}
	for (int t = 0; t < rowof_thread_n && v->thread_row[0]; t++) {
		int row = v->thread_row[0][t];
		/* on its own row only (not on a collapsed process's) */
		if (v->rows[row].kind == ROW_THREAD && !v->collapsed[v->rows[row].group])
			rowy[t] = layout_row_y(v, row);
	}
	float s = (float)(v->projector ? 6 : 4);
	SDL_Color c = v->th->marker;
	for (size_t i = 0; i < v->nprints; i++) {
		const struct vprint *p = &v->prints[i];
		if (p->thread < 0 || p->thread >= rowof_thread_n || rowy[p->thread] == INT32_MIN)
			continue;
		if ((double)p->t < v->t0 || (double)p->t > v->t1)
			continue;
		int x = (int)floor(viz_x_of_d(v, (double)p->t));
		if (x == lastx[p->thread])
			continue;
		lastx[p->thread] = x;
		if (nv + 3 > capv) {
			capv = capv ? capv * 2 : 192;
			SDL_Vertex *q = realloc(vert, (size_t)capv * sizeof *q);
			if (!q)
				break;
			vert = q;
		}
		float y = (float)rowy[p->thread] + 1;
		/* a printed line: a triangle pointing down from the row's top; an event: one
		 * pointing up from its bottom, in the dim colour */
		SDL_Color col = p->event ? v->th->dim : c;
		float y0 = p->event ? y + (float)v->L.row_h - 2 : y;
		float tip = p->event ? y0 - s * 1.5f : y0 + s * 1.5f;
		vert[nv++] = (SDL_Vertex){{(float)x - s, y0}, col, {0, 0}};
		vert[nv++] = (SDL_Vertex){{(float)x + s + 1, y0}, col, {0, 0}};
		vert[nv++] = (SDL_Vertex){{(float)x + 0.5f, tip}, col, {0, 0}};
	}
	if (nv)
		SDL_RenderGeometry(v->ren, NULL, vert, nv, NULL, 0);
out:
	free(vert);
	free(rowy);
	free(lastx);
}

static void draw_arrow(struct viz *v, float x0, float y0, float x1, float y1, SDL_Color c, int thick,
		       bool head);

static void draw_title(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	int main_w = v->w - L->panel_w;
	text_draw(v, FONT_BOLD, th->fg, v->title, L->pad, L->pad, main_w - 2 * L->pad);
	char sub[700], span[64];
	fmt_time(span, sizeof span, v->tr->makespan);
	snprintf(sub, sizeof sub, "%s%s%s · %s at %s", v->subtitle[0] ? v->subtitle : "",
		 v->subtitle[0] ? " · " : "",
		 strcmp(v->tr->origin, "real") == 0 ? "real run" : "simulated",
		 end_title(v->tr->end), span);
	if (strcmp(v->tr->origin, "file") == 0)
		snprintf(sub, sizeof sub, "%s%sloaded trace · %s at %s", v->subtitle,
			 v->subtitle[0] ? " · " : "", end_title(v->tr->end), span);
	if (v->trs[1]) {
		char rs[64];
		fmt_time(rs, sizeof rs, v->trs[1]->makespan);
		size_t n = strlen(sub);
		snprintf(sub + n, sizeof sub - n, " · below, \"real:\": the real run, %s at %s",
			 end_title(v->trs[1]->end), rs);
	}
	text_draw(v, FONT_REGULAR, th->dim, sub, L->pad, L->pad + L->line_h, main_w - 2 * L->pad);
	if (L->banner_h > 0) {
		bool dl = v->tr->end == END_DEADLOCK;
		fill(v->ren, dl ? th->deadlock_bg : th->warn_bg, 0, L->banner_y, main_w, L->banner_h);
		char lines[3][512];
		int n = banner_lines(v, lines);
		for (int i = 0; i < n; i++)
			text_draw(v, i == 0 ? FONT_BOLD : FONT_REGULAR,
				  dl ? th->deadlock_fg : th->warn_fg, lines[i], L->pad,
				  L->banner_y + L->pad + i * L->line_h, main_w - 2 * L->pad);
	}
}

static void draw_legend(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	int main_w = v->w - L->panel_w;
	int x = L->pad, y = L->legend_y + L->pad / 2;
	int sw = L->line_h - 4;
	for (int i = 0; i < NLEGEND; i++) {
		if (!legend_used(v, i))
			continue;
		int iw = legend_item_w(v, i);
		if (x + iw > main_w && x > L->pad) {
			x = L->pad;
			y += L->line_h + 4;
		}
		int sy = y + 2;
		if (legend[i].state >= 0) {
			fill(v->ren, th->state[legend[i].state], x, sy, sw, sw);
		} else if (legend[i].state == -1) {
			fill(v->ren, th->band[1], x, sy, sw, sw);
			set_color(v->ren, th->grid);
			SDL_Rect rc = {x, sy, sw, sw};
			SDL_RenderDrawRect(v->ren, &rc);
		} else if (legend[i].state == -3) {
			for (int k = 0; k < 4; k++)
				fill(v->ren, th->state[VS_HOLD0 + k], x + k * sw / 4, sy, sw / 4 + 1, sw);
		} else if (legend[i].state == LEGEND_EVENT) {
			SDL_Vertex tri[3] = {
				{{(float)x + 1, (float)(sy + sw - 2)}, th->dim, {0, 0}},
				{{(float)(x + sw - 1), (float)(sy + sw - 2)}, th->dim, {0, 0}},
				{{(float)x + sw / 2.0f, (float)sy + 2}, th->dim, {0, 0}},
			};
			SDL_RenderGeometry(v->ren, NULL, tri, 3, NULL, 0);
		} else if (legend[i].state <= -4) {
			draw_arrow(v, (float)x, (float)(sy + sw / 2), (float)(x + sw), (float)(sy + sw / 2),
				   th->arrow[-4 - legend[i].state], 2, true);
		} else {
			SDL_Vertex tri[3] = {
				{{(float)x + 1, (float)sy + 2}, th->marker, {0, 0}},
				{{(float)(x + sw - 1), (float)sy + 2}, th->marker, {0, 0}},
				{{(float)x + sw / 2.0f, (float)(sy + sw - 2)}, th->marker, {0, 0}},
			};
			SDL_RenderGeometry(v->ren, NULL, tri, 3, NULL, 0);
		}
		text_draw(v, FONT_REGULAR, th->fg, legend[i].name, x + sw + 4, y, 0);
		x += iw;
	}
}

static void draw_axis(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	int64_t step = L->tick_step;
	int64_t first = (int64_t)ceil(v->t0 / (double)step) * step;
	int base = L->axis_y + L->axis_h - 1;
	set_color(v->ren, th->axis_fg);
	SDL_RenderDrawLine(v->ren, L->tl_x, base, L->tl_x + L->tl_w, base);
	for (int64_t t = first; (double)t <= v->t1; t += step) {
		int x = (int)lround(viz_x_of_d(v, (double)t));
		char lab[64];
		axis_label(lab, sizeof lab, t, step, v->t1);
		int w = text_width(v, FONT_REGULAR, lab);
		int lx = x - w / 2;
		if (lx + w > v->w - L->panel_w)
			lx = v->w - L->panel_w - w;
		if (lx < L->tl_x - L->pad && t != first)
			continue;
		text_draw(v, FONT_REGULAR, th->axis_fg, lab, lx, L->axis_y + L->pad / 2, 0);
		set_color(v->ren, th->axis_fg);
		SDL_RenderDrawLine(v->ren, x, base - 5, x, base);
		if (step > INT64_MAX - t)
			break;
	}
}

static void draw_grid(struct viz *v)
{
	struct layout *L = &v->L;
	int64_t step = L->tick_step;
	set_color(v->ren, v->th->grid);
	int bottom = L->rows_y + (L->content_h - v->scroll < L->rows_h ? L->content_h - v->scroll
								      : L->rows_h);
	for (int64_t t = (int64_t)ceil(v->t0 / (double)step) * step; (double)t <= v->t1; t += step) {
		int x = (int)lround(viz_x_of_d(v, (double)t));
		SDL_RenderDrawLine(v->ren, x, L->rows_y, x, bottom);
		if (step > INT64_MAX - t)
			break;
	}
}

/* A line of thickness th (1 to 3 px) with a filled head at (x1, y1). */
static void draw_arrow(struct viz *v, float x0, float y0, float x1, float y1, SDL_Color c, int thick,
		       bool head)
{
	set_color(v->ren, c);
	float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
	if (len < 1)
		return;
	float ux = dx / len, uy = dy / len;
	float hs = (float)(v->projector ? 10 : 7);
	float ex = head ? x1 - ux * hs * 0.8f : x1, ey = head ? y1 - uy * hs * 0.8f : y1;
	for (int k = 0; k < thick; k++) {
		float o = (float)k - (float)(thick - 1) / 2;
		SDL_RenderDrawLineF(v->ren, x0 - uy * o, y0 + ux * o, ex - uy * o, ey + ux * o);
	}
	if (!head)
		return;
	SDL_Vertex tri[3] = {
		{{x1, y1}, c, {0, 0}},
		{{x1 - ux * hs - uy * hs * 0.45f, y1 - uy * hs + ux * hs * 0.45f}, c, {0, 0}},
		{{x1 - ux * hs + uy * hs * 0.45f, y1 - uy * hs - ux * hs * 0.45f}, c, {0, 0}},
	};
	SDL_RenderGeometry(v->ren, NULL, tri, 3, NULL, 0);
}

static bool row_on_screen(const struct viz *v, int row)
{
	int y = layout_row_y(v, row);
	return y != INT32_MIN && y + v->L.row_h > v->L.rows_y && y < v->L.rows_y + v->L.rows_h;
}

/* Where an arrow from row a ends on row b: the near edge of b's bar. */
static void arrow_ys(const struct viz *v, int a, int b, float *y0, float *y1)
{
	int inset = v->projector ? 3 : 2;
	float ya = (float)layout_row_y(v, a), yb = (float)layout_row_y(v, b);
	*y0 = ya + v->L.row_h / 2.0f;
	*y1 = yb > ya ? yb + inset : yb + v->L.row_h - inset;
}

#define MAX_ARROWS 200

static bool arrow_shown(const struct viz *v, const struct varrow *a)
{
	int ya = layout_row_y(v, a->from_row), yb = layout_row_y(v, a->to_row);
	return (double)a->t0 <= v->t1 && a->from_row != a->to_row && ya != INT32_MIN &&
	       yb != INT32_MIN && ya != yb && (row_on_screen(v, a->from_row) || row_on_screen(v, a->to_row));
}

/* Wake-ups and hand-overs in view, unless there are too many to tell apart. */
static void draw_arrows(struct viz *v)
{
	v->arrows_shown = 0;
	if (!v->show_arrows || v->narrows == 0)
		return;
	size_t lo = 0, hi = v->narrows;
	while (lo < hi) { /* the first arrow ending at or after the view's start */
		size_t mid = lo + (hi - lo) / 2;
		if ((double)v->arrows[mid].t1 < v->t0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* count them, and how many fall within a few pixels of the one before: when most do,
	 * they would only make a smear */
	int n = 0, close = 0;
	double lastx = -1e9;
	size_t last = lo;
	for (size_t i = lo; i < v->narrows && (double)v->arrows[i].t1 <= v->t1 + (double)v->arrow_span;
	     i++) {
		const struct varrow *a = &v->arrows[i];
		if (!arrow_shown(v, a))
			continue;
		double x = viz_x_of_d(v, (double)a->t1);
		close += x - lastx < 8;
		lastx = x;
		if (++n > MAX_ARROWS) {
			v->arrows_shown = -1;
			return;
		}
		last = i + 1;
	}
	if (n > 8 && close > n / 2) {
		v->arrows_shown = -1;
		return;
	}
	lastx = -1e9;
	for (size_t i = lo; i < last; i++) {
		const struct varrow *a = &v->arrows[i];
		if (!arrow_shown(v, a))
			continue;
		float y0, y1;
		arrow_ys(v, a->from_row, a->to_row, &y0, &y1);
		float x0 = (float)viz_x_of_d(v, (double)a->t0), x1 = (float)viz_x_of_d(v, (double)a->t1);
		if (x1 - lastx < 3) /* merged with the one just drawn */
			continue;
		lastx = x1;
		draw_arrow(v, x0, y0, x1, y1, v->th->arrow[a->kind], v->projector ? 2 : 1, true);
		/* the start: a dot on the waker's (releaser's) row */
		fill(v->ren, v->th->arrow[a->kind], (int)x0 - 1, (int)y0 - 1, 3, 3);
		v->arrows_shown++;
	}
}

/* The deadlock's wait-for cycle at the end of the run: from each thread's row a bracket to the
 * row of the thread holding what it waits for, labelled with the object and the lines. */
static void draw_cycle(struct viz *v)
{
	for (int src = 0; src < 2; src++) {
		const struct trace *tr = v->trs[src];
		if (!tr || tr->end != END_DEADLOCK || tr->ncycle <= 0 || !v->thread_row[src])
			continue;
		double xe = viz_x_of_d(v, (double)tr->makespan);
		if (xe < v->L.tl_x - 1 || xe > v->L.tl_x + v->L.tl_w + 1)
			continue;
		int n = tr->ncycle;
		float gap = (float)(v->projector ? 22 : 16);
		SDL_Color c = v->th->deadlock_bg;
		for (int i = 0; i < n; i++) {
			const struct trace_wait_edge *e = &tr->cycle[i], *nx = &tr->cycle[(i + 1) % n];
			if (e->thread < 0 || e->thread >= tr->nthreads || nx->thread < 0 ||
			    nx->thread >= tr->nthreads)
				continue;
			int ra = v->thread_row[src][e->thread], rb = v->thread_row[src][nx->thread];
			if (layout_row_y(v, ra) == INT32_MIN || layout_row_y(v, rb) == INT32_MIN)
				continue;
			float ya = (float)layout_row_y(v, ra) + v->L.row_h / 2.0f;
			float yb = (float)layout_row_y(v, rb) + v->L.row_h / 2.0f;
			if (ra == rb || ya == yb) { /* waits for itself: a small loop */
				ya -= v->L.row_h / 4.0f;
				yb += v->L.row_h / 4.0f;
			}
			float xl = (float)xe - gap * (float)(i + 1), x1 = (float)xe - 2;
			int thick = v->projector ? 4 : 3;
			draw_arrow(v, (float)xe, ya, xl, ya, c, thick, false);
			draw_arrow(v, xl, ya, xl, yb, c, thick, false);
			draw_arrow(v, xl - (float)thick / 2, yb, x1, yb, c, thick, true);
			char lab[400], who[160];
			trace_thread_label(tr, nx->thread, who, sizeof who);
			snprintf(lab, sizeof lab, "waits for %s (line %d), held by %s (line %d)",
				 trace_str(tr, e->waits_for), e->line, who, nx->holds_line);
			/* on the waiting thread's own row, left of every bracket */
			int tw = text_width(v, FONT_BOLD, lab), pad = v->L.pad;
			int right = (int)((float)xe - gap * (float)n) - pad;
			int lx = right - tw - pad, ly = (int)ya - v->L.line_h / 2;
			if (ra == rb || ya == yb)
				ly = (int)(ya + yb) / 2 - v->L.line_h / 2;
			if (lx < v->L.tl_x)
				lx = v->L.tl_x;
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
			SDL_Color bg = v->th->bg;
			bg.a = 230;
			fill(v->ren, bg, lx - pad / 2, ly, right - lx + pad, v->L.line_h);
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
			draw_arrow(v, (float)right, ya, xl, ya, c, 1, false);
			text_draw(v, FONT_BOLD, c, lab, lx, ly, right - lx);
		}
	}
}

/* Markers A and B: lines across the rows, the range between them tinted. */
static void draw_markers(struct viz *v)
{
	const struct layout *L = &v->L;
	int h = L->content_h - v->scroll < L->rows_h ? L->content_h - v->scroll : L->rows_h;
	if (v->has_a && v->has_b) {
		double a = viz_x_of_d(v, (double)(v->mark_a < v->mark_b ? v->mark_a : v->mark_b));
		double b = viz_x_of_d(v, (double)(v->mark_a < v->mark_b ? v->mark_b : v->mark_a));
		if (a < L->tl_x)
			a = L->tl_x;
		if (b > L->tl_x + L->tl_w)
			b = L->tl_x + L->tl_w;
		if (b > a) {
			SDL_Color c = v->th->marker_ab;
			c.a = 28;
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
			fill(v->ren, c, (int)a, L->rows_y, (int)(b - a), h);
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
		}
	}
	for (int k = 0; k < 2; k++) {
		if (!(k ? v->has_b : v->has_a))
			continue;
		int x = (int)lround(viz_x_of_d(v, (double)(k ? v->mark_b : v->mark_a)));
		if (x < L->tl_x || x > L->tl_x + L->tl_w)
			continue;
		fill(v->ren, v->th->marker_ab, x - 1, L->rows_y, 2, h);
	}
}

static void draw_marker_flags(struct viz *v)
{
	const struct layout *L = &v->L;
	for (int k = 0; k < 2; k++) {
		if (!(k ? v->has_b : v->has_a))
			continue;
		int x = (int)lround(viz_x_of_d(v, (double)(k ? v->mark_b : v->mark_a)));
		if (x < L->tl_x || x > L->tl_x + L->tl_w)
			continue;
		const char *lab = k ? "B" : "A";
		int tw = text_width(v, FONT_BOLD, lab);
		fill(v->ren, v->th->marker_ab, x - tw / 2 - 3, L->axis_y, tw + 6, L->line_h + 2);
		text_draw(v, FONT_BOLD, v->th->core_text, lab, x - tw / 2, L->axis_y + 1, 0);
	}
}

static void draw_rows(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	int main_w = v->w - L->panel_w;
	SDL_Rect clip = {0, L->rows_y, main_w, L->rows_h};
	SDL_RenderSetClipRect(v->ren, &clip);
	for (int s = 0; s < VS_COUNT; s++)
		v->batch[s].n = 0;
	int band = 0;
	for (int i = 0; i < v->nvis; i++) {
		int y = L->rows_y + v->vis[i].y - v->scroll;
		if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
			continue;
		const struct vrow *r = &v->rows[v->vis[i].row];
		bool head = row_is_head(r->kind);
		fill(v->ren, head ? th->group_band : th->band[band ^= 1], 0, y, main_w, L->row_h);
	}
	draw_grid(v);
	for (int i = 0; i < v->nvis; i++) {
		int y = L->rows_y + v->vis[i].y - v->scroll;
		if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
			continue;
		draw_row_segments(v, &v->rows[v->vis[i].row], y);
	}
	for (int s = 0; s < VS_COUNT; s++) {
		if (!v->batch[s].n)
			continue;
		set_color(v->ren, th->state[s]);
		SDL_RenderFillRectsF(v->ren, v->batch[s].r, v->batch[s].n);
	}
	for (int i = 0; i < v->nvis; i++) {
		int y = L->rows_y + v->vis[i].y - v->scroll;
		if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
			continue;
		const struct vrow *r = &v->rows[v->vis[i].row];
		if (r->kind == ROW_CORE || r->kind == ROW_OBJ)
			draw_core_names(v, r, y);
		else if (r->kind == ROW_COUNTER)
			draw_counter(v, r, y);
	}
	draw_prints(v);
	draw_markers(v);
	draw_arrows(v);

	/* the search: rows that do not match are dimmed */
	if (v->search[0]) {
		SDL_Color dim = th->bg;
		dim.a = 175;
		SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
		for (int i = 0; i < v->nvis; i++) {
			int y = L->rows_y + v->vis[i].y - v->scroll;
			if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
				continue;
			int row = v->vis[i].row;
			if (!row_is_head(v->rows[row].kind) && !model_row_matches(v, row, v->search))
				fill(v->ren, dim, L->tl_x, y, main_w - L->tl_x, L->row_h);
		}
		SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
	}

	/* the labels, over their own column */
	band = 0;
	for (int i = 0; i < v->nvis; i++) {
		int y = L->rows_y + v->vis[i].y - v->scroll;
		if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
			continue;
		const struct vrow *r = &v->rows[v->vis[i].row];
		bool head = row_is_head(r->kind);
		int ty = y + (L->row_h - L->line_h) / 2;
		if (head) {
			float cx = (float)L->pad + L->line_h * 0.35f, cy = (float)y + L->row_h / 2.0f;
			float a = L->line_h * 0.28f;
			SDL_Vertex tri[3];
			if (v->collapsed[r->group]) { /* ▸ */
				tri[0] = (SDL_Vertex){{cx - a * 0.6f, cy - a}, th->fg, {0, 0}};
				tri[1] = (SDL_Vertex){{cx + a * 0.9f, cy}, th->fg, {0, 0}};
				tri[2] = (SDL_Vertex){{cx - a * 0.6f, cy + a}, th->fg, {0, 0}};
			} else { /* ▾ */
				tri[0] = (SDL_Vertex){{cx - a, cy - a * 0.6f}, th->fg, {0, 0}};
				tri[1] = (SDL_Vertex){{cx + a, cy - a * 0.6f}, th->fg, {0, 0}};
				tri[2] = (SDL_Vertex){{cx, cy + a * 0.9f}, th->fg, {0, 0}};
			}
			SDL_RenderGeometry(v->ren, NULL, tri, 3, NULL, 0);
			text_draw(v, FONT_BOLD, th->fg, r->label, L->pad + L->line_h, ty,
				  L->label_w - L->pad - L->line_h - 4);
		} else {
			band ^= 1;
			bool match = v->search[0] && model_row_matches(v, v->vis[i].row, v->search);
			fill(v->ren, match ? th->match : th->band[band], 0, y, L->label_w - 2, L->row_h);
			/* a thread's own colour, the one its locks and GILs take when it holds them */
			if (r->kind == ROW_THREAD && row_trace(v, r)->nobjects > 0) {
				int sw = L->line_h / 2;
				fill(v->ren, th->state[VS_HOLD0 + r->index % NHOLD], L->pad + L->line_h - sw - 4,
				     y + (L->row_h - sw) / 2, sw, sw);
			}
			bool dimmed = v->search[0] && !match;
			text_draw(v, FONT_REGULAR, dimmed ? th->dim : th->fg, r->label, L->pad + L->line_h,
				  ty, L->label_w - L->pad - L->line_h - 4);
		}
	}

	if (v->tr->end == END_DEADLOCK) {
		int x = (int)lround(viz_x_of_d(v, (double)v->tr->makespan));
		if (x >= L->tl_x && x <= L->tl_x + L->tl_w)
			fill(v->ren, th->deadlock_bg, x - 1, L->rows_y, 3, L->rows_h);
	}
	draw_cycle(v);
	if (v->has_cursor) {
		int x = (int)lround(viz_x_of_d(v, (double)v->cursor));
		if (x >= L->tl_x && x <= L->tl_x + L->tl_w)
			fill(v->ren, th->cursor, x - 1, L->rows_y, 2, L->rows_h);
	}
	if (v->selecting) {
		int a = v->sel_x0 < v->sel_x1 ? v->sel_x0 : v->sel_x1;
		int b = v->sel_x0 < v->sel_x1 ? v->sel_x1 : v->sel_x0;
		SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
		fill(v->ren, th->select, a, L->rows_y, b - a + 1, L->rows_h);
		SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
	}
	SDL_RenderSetClipRect(v->ren, NULL);
	if (v->has_cursor) {
		int x = (int)lround(viz_x_of_d(v, (double)v->cursor));
		if (x >= L->tl_x && x <= L->tl_x + L->tl_w)
			fill(v->ren, th->cursor, x - 1, L->axis_y, 2, L->axis_h);
	}
	draw_marker_flags(v);
}

struct waiting {
	int64_t since;
	int thread;
	const struct vseg *s;
};

/* Lines of the panel's "state at the cursor" section, derived from the rows. */
static int cursor_lines(struct viz *v, char (*out)[256], int max)
{
	const struct trace *tr = v->tr;
	int n = 0;
	int64_t t = v->cursor;
	char when[64], lab[192];
	fmt_time(when, sizeof when, t);
	snprintf(out[n++], 256, "\001" "At %s", when);
	for (int i = 0; i < v->nrows && n < max; i++) {
		const struct vrow *r = &v->rows[i];
		if (r->kind != ROW_CORE)
			continue;
		const struct trace *rt = row_trace(v, r);
		const struct vseg *s = model_seg_at(r, t);
		if (!s || s->who < 0 || s->who >= rt->nthreads) {
			snprintf(out[n++], 256, "%s: idle", r->label);
			continue;
		}
		trace_thread_label(rt, s->who, lab, sizeof lab);
		snprintf(out[n++], 256, "%.60s: %s %.150s", r->label,
			 s->state == VS_SWITCH ? "switching to" : "runs", lab);
	}
	/* threads by state: ready ones in the order they became ready (the run queue's) */
	static const int groups[] = {TS_READY, -1, TS_NEW};
	for (int g = 0; g < 3 && n < max; g++) {
		struct waiting list[64];
		int nl = 0;
		for (int i = 0; i < v->nrows && nl < 64; i++) {
			const struct vrow *r = &v->rows[i];
			if (r->kind != ROW_THREAD)
				continue;
			const struct vseg *s = model_seg_at(r, t);
			if (!s)
				continue;
			bool want = groups[g] < 0 ? thread_state_blocked(s->state) : s->state == groups[g];
			if (want)
				list[nl++] = (struct waiting){s->t0, i, s};
		}
		for (int a = 1; a < nl; a++) /* insertion sort by since: tiny lists */
			for (int b = a; b > 0 && list[b].since < list[b - 1].since; b--) {
				struct waiting x = list[b];
				list[b] = list[b - 1];
				list[b - 1] = x;
			}
		if (nl == 0)
			continue;
		snprintf(out[n++], 256, "\x01%s", g == 0 ? "Ready (run queue order)" : g == 1 ? "Blocked" : "Being created");
		for (int k = 0; k < nl && n < max; k++) {
			const struct vrow *r = &v->rows[list[k].thread];
			const char *why = trace_str(row_trace(v, r), list[k].s->reason);
			if (g == 1)
				snprintf(out[n++], 256, "%s: %s%s%s", r->label, thread_state_name(list[k].s->state),
					 why[0] ? " — " : "", why);
			else
				snprintf(out[n++], 256, "%s", r->label);
		}
	}
	/* who holds each lock and GIL */
	bool heading = false;
	for (int i = 0; i < v->nrows && n < max; i++) {
		const struct vrow *r = &v->rows[i];
		if (r->kind != ROW_OBJ)
			continue;
		if (!heading) {
			snprintf(out[n++], 256, "\x01%s", "Locks and GILs");
			heading = true;
			if (n >= max)
				break;
		}
		const struct vseg *s = model_seg_at(r, t);
		const struct trace *rt = row_trace(v, r);
		char name[200];
		if (r->aux >= 0 && r->aux < rt->nprocs) /* under its process: say which */
			snprintf(name, sizeof name, "%.80s of %.80s", r->label,
				 trace_str(rt, rt->procs[r->aux].name));
		else
			snprintf(name, sizeof name, "%.190s", r->label);
		if (s && s->who >= 0 && s->who < rt->nthreads) {
			trace_thread_label(rt, s->who, lab, sizeof lab);
			snprintf(out[n++], 256, "%.100s: held by %.140s", name, lab);
		} else {
			snprintf(out[n++], 256, "%.200s: free", name);
		}
	}
	/* what happened at exactly this instant */
	size_t lo = 0, hi = tr->nrecs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tr->recs[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	heading = false;
	for (size_t i = lo; i < tr->nrecs && tr->recs[i].t == t && n < max; i++) {
		const struct trace_rec *r = &tr->recs[i];
		if (r->kind != TR_STATE || r->tid < 0 || r->tid >= tr->nthreads)
			continue;
		if (!heading) {
			snprintf(out[n++], 256, "\x01%s", "Events at this instant");
			heading = true;
			if (n >= max)
				break;
		}
		trace_thread_label(tr, r->tid, lab, sizeof lab);
		const char *why = trace_str(tr, r->reason);
		snprintf(out[n++], 256, "%s → %s%s%s", lab, thread_state_name(r->state),
			 why[0] ? ": " : "", why);
	}
	return n;
}

int panel_output_at(const struct viz *v, int x, int y)
{
	const struct layout *L = &v->L;
	if (L->panel_w == 0 || x < L->panel_x || y < L->out_y)
		return -1;
	int k = (y - L->out_y) / L->line_h;
	return k < L->out_n ? v->out_scroll + k : -1;
}

static void section(struct viz *v, const char *title, int y)
{
	if (v->nsections < 8) {
		snprintf(v->sections[v->nsections].title, sizeof v->sections[0].title, "%s", title);
		v->sections[v->nsections++].y = y;
	}
}

/* A number of ns in the unit `div` with two decimals. */
static void fmt_in(char *buf, size_t size, int64_t ns, double div)
{
	snprintf(buf, size, "%.2f", (double)ns / div);
}

/* The range A-B: per thread run, ready, blocked, switches in, and the scheduling delay (ready
 * until running: the mean and the longest), busiest first, as `perf sched latency` lists them. */
static int draw_range(struct viz *v, int x, int y, int w, int ymax)
{
	const struct theme *th = v->th;
	int pad = v->L.pad, lh = v->L.line_h;
	int64_t a = v->mark_a < v->mark_b ? v->mark_a : v->mark_b;
	int64_t b = v->mark_a < v->mark_b ? v->mark_b : v->mark_a;
	char sa[64], sb[64], sd[64], line[300];
	fmt_time(sa, sizeof sa, a);
	fmt_time(sb, sizeof sb, b);
	fmt_time(sd, sizeof sd, b - a);
	section(v, "Range A–B", y);
	snprintf(line, sizeof line, "Range A–B: %s – %s (%s)", sa, sb, sd);
	text_draw(v, FONT_BOLD, th->panel_fg, line, x + pad, y, w - 2 * pad);
	y += lh;
	if (b <= a)
		return y;
	struct vagg agg[64];
	int n = model_aggregate(v, a, b, agg, 64);
	double div = b - a >= 10000000 ? 1e6 : b - a >= 10000 ? 1e3 : 1;
	const char *unit = div == 1e6 ? "ms" : div == 1e3 ? "us" : "ns";
	static const char *const cols[] = {"run", "ready", "blocked", "sw", "avg", "max"};
	/* each thread on two lines: its name, then its numbers in columns under the headings */
	int cx[7];
	int inner = w - 3 * pad;
	for (int k = 0; k <= 6; k++)
		cx[k] = x + 2 * pad + inner * k / 6;
	snprintf(line, sizeof line, "in %s; sw: switches in; avg, max: delay (ready to running)", unit);
	text_draw(v, FONT_REGULAR, th->dim, line, x + pad, y, w - 2 * pad);
	y += lh;
	for (int k = 0; k < 6; k++) {
		int tw = text_width(v, FONT_BOLD, cols[k]);
		int cwk = cx[k + 1] - cx[k];
		text_draw(v, FONT_BOLD, th->dim, cols[k], cx[k + 1] - (tw < cwk ? tw : cwk) - pad / 2, y,
			  cwk - pad / 2);
	}
	y += lh;
	for (int i = 0; i < n && y + 2 * lh <= ymax; i++) {
		const struct vagg *g = &agg[i];
		text_draw(v, FONT_REGULAR, th->panel_fg, v->rows[g->row].label, x + pad, y, w - 2 * pad);
		y += lh;
		char val[6][32];
		fmt_in(val[0], 32, g->run, div);
		fmt_in(val[1], 32, g->ready, div);
		fmt_in(val[2], 32, g->blocked, div);
		snprintf(val[3], 32, "%d", g->switches);
		fmt_in(val[4], 32, g->delays ? g->delay_sum / g->delays : 0, div);
		fmt_in(val[5], 32, g->max_delay, div);
		for (int k = 0; k < 6; k++) {
			int tw = text_width(v, FONT_REGULAR, val[k]);
			text_draw(v, FONT_REGULAR, th->panel_fg, val[k], cx[k + 1] - tw - pad / 2, y,
				  cx[k + 1] - cx[k]);
		}
		y += lh;
	}
	return y;
}

/* The scenario's source around the line of the event at the cursor, that line highlighted. */
static int draw_source(struct viz *v, int x, int y, int w, int nlines)
{
	const struct theme *th = v->th;
	int pad = v->L.pad, lh = v->L.line_h;
	int hl = model_cursor_line(v);
	if (hl > v->nsrc_lines)
		hl = 0;
	v->src_hl = hl;
	char head[80];
	if (hl)
		snprintf(head, sizeof head, "Source (line %d)", hl);
	else
		snprintf(head, sizeof head, "Source");
	section(v, "Source", y);
	text_draw(v, FONT_BOLD, th->panel_fg, head, x + pad, y, w - 2 * pad);
	y += lh;
	if (nlines < 1)
		return y;
	int first = hl ? hl - nlines / 2 : 1;
	if (first + nlines - 1 > v->nsrc_lines)
		first = v->nsrc_lines - nlines + 1;
	if (first < 1)
		first = 1;
	int numw = text_width(v, FONT_REGULAR, "8888") + pad / 2;
	for (int ln = first; ln < first + nlines && ln <= v->nsrc_lines; ln++) {
		if (ln == hl) {
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
			SDL_Color c = th->cursor;
			c.a = 60;
			fill(v->ren, c, x + 2, y, w - 4, lh);
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
			fill(v->ren, th->cursor, x + 2, y, 3, lh);
		}
		char num[16], text[300];
		snprintf(num, sizeof num, "%d", ln);
		int tw = text_width(v, FONT_REGULAR, num);
		text_draw(v, FONT_REGULAR, th->dim, num, x + pad + numw - tw - pad / 2, y, numw);
		const char *p = v->source + v->src_lines[ln - 1];
		size_t len = strcspn(p, "\n");
		/* tabs as 4 spaces, the rest as it is */
		size_t k = 0;
		for (size_t i = 0; i < len && k + 5 < sizeof text; i++) {
			if (p[i] == '\t')
				for (int s = 0; s < 4; s++)
					text[k++] = ' ';
			else if (p[i] != '\r')
				text[k++] = p[i];
		}
		text[k] = 0;
		text_draw(v, FONT_REGULAR, ln == hl ? th->fg : th->panel_fg, text, x + pad + numw, y,
			  w - 2 * pad - numw);
		y += lh;
	}
	return y;
}

static void draw_panel(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	v->nsections = 0;
	v->src_hl = 0;
	if (L->panel_w == 0) {
		v->src_hl = model_cursor_line(v);
		return;
	}
	int x = L->panel_x, w = L->panel_w, pad = L->pad, lh = L->line_h;
	int bottom = v->h - L->status_h;
	fill(v->ren, th->panel_bg, x, 0, w, bottom);
	fill(v->ren, th->grid, x, 0, 1, bottom);
	int y = pad;
	int tw = w - 2 * pad;
	bool range = v->has_a && v->has_b;
	bool src = v->source && v->nsrc_lines > 0;
	/* the state at the cursor gets up to 40 % of the height, less with more sections */
	int cap = bottom * (range && src ? 30 : range || src ? 40 : 50) / 100;
	if (v->has_cursor) {
		char lines[64][256];
		section(v, "At", y);
		int n = cursor_lines(v, lines, 64);
		for (int i = 0; i < n && y + lh < cap; i++) {
			bool head = lines[i][0] == '\x01';
			text_draw(v, head ? FONT_BOLD : FONT_REGULAR, th->panel_fg,
				  lines[i] + head, x + pad + (head ? 0 : pad), y, tw - (head ? 0 : pad));
			y += lh;
		}
		y += pad;
	} else if (v->m) {
		char a[64], line[256];
		section(v, "Summary", y);
		text_draw(v, FONT_BOLD, th->panel_fg, "Summary", x + pad, y, tw);
		y += lh;
		fmt_time(a, sizeof a, v->m->makespan_ns);
		snprintf(line, sizeof line, "makespan %s, CPU %.*f %%", a, v->m->cpu_percent < 10 ? 1 : 0,
			 v->m->cpu_percent);
		text_draw(v, FONT_REGULAR, th->panel_fg, line, x + 2 * pad, y, tw - pad);
		y += lh;
		snprintf(line, sizeof line, "%" PRId64 " context switches, at most %d running at once",
			 v->m->context_switches, v->m->max_parallel);
		text_draw(v, FONT_REGULAR, th->panel_fg, line, x + 2 * pad, y, tw - pad);
		y += lh;
		int ok = 0;
		for (int i = 0; i < v->tr->nexpects; i++)
			ok += v->tr->expects[i].ok;
		if (v->tr->nexpects) {
			snprintf(line, sizeof line, "expectations: %d of %d ok", ok, v->tr->nexpects);
			text_draw(v, FONT_REGULAR, th->panel_fg, line, x + 2 * pad, y, tw - pad);
			y += lh;
		}
		for (int i = 0; i < v->tr->ngils; i++) {
			const struct trace_gil *g = &v->tr->gils[i];
			int pid = g->proc >= 0 && g->proc < v->tr->nprocs ? v->tr->procs[g->proc].pid : -1;
			snprintf(line, sizeof line, "GIL (pid %d): %" PRId64 " holds, %" PRId64 " switches, %"
				 PRId64 " forced", pid, g->holds, g->switches, g->forced_switches);
			text_draw(v, FONT_REGULAR, th->panel_fg, line, x + 2 * pad, y, tw - pad);
			y += lh;
		}
		if (v->interactive) {
			text_draw(v, FONT_REGULAR, th->dim, "click the timeline for the state at an instant",
				  x + 2 * pad, y, tw - pad);
			y += lh;
		}
		y += pad;
	}
	if (range)
		y = draw_range(v, x, y, w, y + (bottom * (src ? 30 : 45) / 100)) + pad;
	if (src) {
		int room = (bottom - y) / lh - 6; /* leave the output a few lines */
		int want = v->nsrc_lines < 13 ? v->nsrc_lines : 13;
		y = draw_source(v, x, y, w, room < want ? room : want) + pad;
	}
	char head[64];
	size_t nlines = 0;
	for (size_t i = 0; i < v->nprints; i++)
		nlines += !v->prints[i].event;
	snprintf(head, sizeof head, "Output (%zu line%s)", nlines, nlines == 1 ? "" : "s");
	section(v, "Output", y);
	text_draw(v, FONT_BOLD, th->panel_fg, head, x + pad, y, tw);
	y += lh + 2;
	int room = (bottom - y - pad) / lh;
	if (room < 0)
		room = 0;
	/* the line printed last at or before the cursor, kept in sight */
	long at = -1;
	for (size_t i = 0; v->has_cursor && i < v->nprints && v->prints[i].t <= v->cursor; i++)
		at = (long)i;
	if (at >= 0 && room > 0) {
		if (at < v->out_scroll)
			v->out_scroll = (int)at;
		if (at >= v->out_scroll + room)
			v->out_scroll = (int)at - room + 1;
	}
	if (v->out_scroll > (int)v->nprints - room)
		v->out_scroll = (int)v->nprints - room;
	if (v->out_scroll < 0)
		v->out_scroll = 0;
	int timew = text_width(v, FONT_REGULAR, "888.888 ms") + pad;
	L->out_y = y;
	L->out_n = 0;
	for (int k = 0; k < room && (size_t)(v->out_scroll + k) < v->nprints; k++) {
		const struct vprint *p = &v->prints[v->out_scroll + k];
		if (v->out_scroll + k == at) {
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
			fill(v->ren, th->select, x + 2, y, w - 4, lh);
			SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
		}
		char when[64], lab[192], line[600];
		fmt_time(when, sizeof when, p->t);
		text_draw(v, FONT_REGULAR, th->dim, when, x + pad, y, timew);
		if (p->thread >= 0 && p->thread < v->tr->nthreads)
			trace_thread_label(v->tr, p->thread, lab, sizeof lab);
		else
			lab[0] = 0;
		snprintf(line, sizeof line, "%s%s%s%s", p->event ? "event: " : "", lab, lab[0] ? ": " : "",
			 trace_str(v->tr, p->text));
		text_draw(v, FONT_REGULAR, p->event ? th->dim : th->panel_fg, line, x + pad + timew, y,
			  tw - timew);
		y += lh;
		L->out_n++;
	}
}

static void draw_status(struct viz *v)
{
	struct layout *L = &v->L;
	if (!L->status_h)
		return;
	const struct theme *th = v->th;
	fill(v->ren, th->group_band, 0, L->status_y, v->w, L->status_h);
	char a[64], b[64], c[64], line[700];
	fmt_time(a, sizeof a, (int64_t)v->t0);
	fmt_time(b, sizeof b, (int64_t)v->t1);
	fmt_time(c, sizeof c, (int64_t)(v->t1 - v->t0));
	int n = snprintf(line, sizeof line, "view %s – %s (%s)", a, b, c);
	if (v->has_cursor) {
		fmt_time(a, sizeof a, v->cursor);
		n += snprintf(line + n, sizeof line - (size_t)n, "   cursor %s", a);
	}
	if (v->playing)
		n += snprintf(line + n, sizeof line - (size_t)n, "   ▶ playing");
	for (int k = 0; k < 2; k++)
		if (k ? v->has_b : v->has_a) {
			fmt_time(a, sizeof a, k ? v->mark_b : v->mark_a);
			n += snprintf(line + n, sizeof line - (size_t)n, "   %c %s", k ? 'B' : 'A', a);
		}
	if (v->has_a && v->has_b) {
		int64_t d = v->mark_b - v->mark_a;
		fmt_time(a, sizeof a, d < 0 ? -d : d);
		n += snprintf(line + n, sizeof line - (size_t)n, "   B−A %s%s", d < 0 ? "−" : "", a);
	}
	if (v->searching || v->search[0])
		n += snprintf(line + n, sizeof line - (size_t)n, "   search: %s%s (%d row%s)", v->search,
			      v->searching ? "▏" : "", v->nmatch, v->nmatch == 1 ? "" : "s");
	if (v->active_only)
		n += snprintf(line + n, sizeof line - (size_t)n, "   active only");
	if (v->arrows_shown < 0)
		n += snprintf(line + n, sizeof line - (size_t)n, "   arrows: too many, zoom in");
	else if (!v->show_arrows && v->narrows)
		n += snprintf(line + n, sizeof line - (size_t)n, "   arrows off");
	if (n > (int)sizeof line - 1)
		n = (int)sizeof line - 1;
	snprintf(line + n, sizeof line - (size_t)n, "   H: help");
	int sw = v->status[0] ? text_width(v, FONT_REGULAR, v->status) + 3 * L->pad : 0;
	if (sw > v->w / 2)
		sw = v->w / 2;
	text_draw(v, FONT_REGULAR, th->fg, line, L->pad, L->status_y + 3, v->w - sw - 2 * L->pad);
	if (v->status[0]) {
		int w = text_width(v, FONT_REGULAR, v->status);
		text_draw(v, FONT_REGULAR, th->fg, v->status, v->w - w - L->pad, L->status_y + 3,
			  v->w / 2 - 2 * L->pad);
	}
}

/* A box of lines near (x, y), kept inside the window. */
static void draw_box(struct viz *v, char (*lines)[256], int n, int x, int y)
{
	const struct theme *th = v->th;
	int pad = v->L.pad, lh = v->L.line_h, w = 0;
	for (int i = 0; i < n; i++) {
		int lw = text_width(v, i == 0 ? FONT_BOLD : FONT_REGULAR, lines[i]);
		if (lw > w)
			w = lw;
	}
	if (w > v->w - 4 * pad)
		w = v->w - 4 * pad;
	int bw = w + 2 * pad, bh = n * lh + 2 * pad;
	if (x + bw > v->w)
		x = v->w - bw;
	if (y + bh > v->h)
		y = v->h - bh;
	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_BLEND);
	fill(v->ren, th->tooltip_bg, x, y, bw, bh);
	SDL_SetRenderDrawBlendMode(v->ren, SDL_BLENDMODE_NONE);
	set_color(v->ren, th->dim);
	SDL_Rect rc = {x, y, bw, bh};
	SDL_RenderDrawRect(v->ren, &rc);
	for (int i = 0; i < n; i++)
		text_draw(v, i == 0 ? FONT_BOLD : FONT_REGULAR, th->tooltip_fg, lines[i], x + pad,
			  y + pad + i * lh, w);
}

static void draw_tooltip(struct viz *v)
{
	struct layout *L = &v->L;
	if (!v->hover || v->selecting || v->show_help || v->mx < L->tl_x || v->mx >= L->tl_x + L->tl_w)
		return;
	int row = layout_row_at(v, v->my);
	if (row < 0)
		return;
	const struct vrow *r = &v->rows[row];
	if (r->kind != ROW_THREAD && r->kind != ROW_CORE && r->kind != ROW_OBJ &&
	    r->kind != ROW_COUNTER)
		return;
	const struct trace *tr = row_trace(v, r);
	double ta = viz_t_of_x(v, v->mx), tb = viz_t_of_x(v, v->mx + 1);
	char lines[6][256], a[64], b[64];
	int n = 0;
	snprintf(lines[n++], 256, "%s", r->label);
	if (r->kind == ROW_COUNTER) {
		int32_t val = 0, hi = 0;
		for (size_t i = 0; i < r->npts; i++) {
			if ((double)r->pts[i].t >= tb)
				break;
			val = r->pts[i].val;
			if ((double)r->pts[i].t >= ta && val > hi)
				hi = val;
		}
		fmt_time(a, sizeof a, (int64_t)ta);
		snprintf(lines[n++], 256, "%d at %s%s", val > hi ? val : hi, a,
			 r->index == CNT_READY  ? " (threads ready: the run queue)"
			 : r->index == CNT_RUNQ ? " (threads ready in this core's queue)"
			 : r->index == CNT_PIPE ? " bytes in the pipe"
						: " (threads waiting)");
		draw_box(v, lines, n, v->mx + 14, v->my + 18);
		return;
	}
	/* the segment under the mouse's pixel: the one at its middle, else any it touches */
	const struct vseg *s = model_seg_at(r, (int64_t)((ta + tb) / 2));
	if (!s) {
		size_t i = model_first_after(r, (int64_t)ta);
		if (i < r->nsegs && (double)r->segs[i].t0 < tb)
			s = &r->segs[i];
	}
	if (!s) {
		snprintf(lines[n++], 256, "%s", r->kind == ROW_CORE ? "idle" : r->kind == ROW_OBJ ? "free"
						: "not running yet, or gone");
	} else {
		char who[192] = "";
		if ((r->kind == ROW_CORE || r->kind == ROW_OBJ) && s->who >= 0 && s->who < tr->nthreads)
			trace_thread_label(tr, s->who, who, sizeof who);
		if (r->kind == ROW_CORE)
			snprintf(lines[n++], 256, "%s %s", s->state == VS_SWITCH ? "switching to" : "running",
				 who);
		else if (r->kind == ROW_OBJ)
			snprintf(lines[n++], 256, "held by %s", who);
		else if (s->state == TS_RUNNING && s->who >= 0)
			snprintf(lines[n++], 256, "running on core %d", s->who);
		else
			snprintf(lines[n++], 256, "%s", thread_state_name(s->state));
		fmt_time(a, sizeof a, s->t0);
		fmt_time(b, sizeof b, s->t1 - s->t0);
		snprintf(lines[n++], 256, "from %s for %s", a, b);
		const char *why = trace_str(tr, s->reason);
		if (why[0])
			snprintf(lines[n++], 256, "why: %s", why);
		if (s->line)
			snprintf(lines[n++], 256, "scenario line %u", s->line);
	}
	draw_box(v, lines, n, v->mx + 14, v->my + 18);
}

static void draw_help(struct viz *v)
{
	if (!v->show_help)
		return;
	const struct theme *th = v->th;
	int pad = v->L.pad, lh = v->L.line_h;
	int n = 0, kw = 0, dw = 0;
	for (; viz_help_lines[n][0]; n++) {
		int a = text_width(v, FONT_BOLD, viz_help_lines[n][0]);
		int b = text_width(v, FONT_REGULAR, viz_help_lines[n][1]);
		kw = a > kw ? a : kw;
		dw = b > dw ? b : dw;
	}
	int bw = kw + dw + 5 * pad, bh = (n + 2) * lh + 2 * pad;
	if (bw > v->w)
		bw = v->w;
	int x = (v->w - bw) / 2, y = (v->h - bh) / 2;
	if (y < 0)
		y = 0;
	SDL_Color bg = th->tooltip_bg;
	bg.a = 255;
	fill(v->ren, bg, x, y, bw, bh);
	set_color(v->ren, th->fg);
	SDL_Rect rc = {x, y, bw, bh};
	SDL_RenderDrawRect(v->ren, &rc);
	text_draw(v, FONT_BOLD, th->fg, "Keys and mouse", x + pad, y + pad, bw - 2 * pad);
	for (int i = 0; i < n; i++) {
		int ly = y + pad + (i + 2) * lh;
		text_draw(v, FONT_BOLD, th->fg, viz_help_lines[i][0], x + 2 * pad, ly, kw);
		text_draw(v, FONT_REGULAR, th->fg, viz_help_lines[i][1], x + 3 * pad + kw + pad, ly,
			  bw - kw - 5 * pad);
	}
}

void viz_draw(struct viz *v, SDL_Renderer *r)
{
	if (v->ren != r) {
		text_cache_clear(v);
		v->ren = r;
	}
	layout_compute(v);
	SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_NONE);
	set_color(r, v->th->bg);
	SDL_RenderClear(r);
	draw_title(v);
	draw_legend(v);
	draw_axis(v);
	draw_rows(v);
	draw_panel(v);
	draw_status(v);
	draw_tooltip(v);
	draw_help(v);
}

const struct theme *viz_theme(bool projector)
{
	return projector ? &theme_projector : &theme_normal;
}

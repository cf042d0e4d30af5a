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
	},
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
	},
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
	{"click", "set the time cursor: the panel shows the kernel's state then"},
	{"click a process", "collapse or expand its threads"},
	{"click an output line", "jump to the time it was printed"},
	{"left / right", "pan by a tenth of the view"},
	{"up / down, PgUp / PgDn", "scroll the rows"},
	{"+ / -", "zoom in / out at the centre"},
	{"F or Home", "fit the whole run"},
	{". / ,", "cursor to the next / previous event"},
	{"space", "play / pause: the cursor walks through time"},
	{"P", "show / hide the side panel"},
	{"S", "save the window as a PNG file"},
	{"F11", "full screen on / off"},
	{"H or ?", "this help"},
	{"Esc", "close the help; clear the cursor"},
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
static const struct legend_item legend[] = {
	{TS_RUNNING, "running"}, {TS_READY, "ready"}, {TS_NEW, "new"}, {TS_SLEEP, "sleep"},
	{TS_IO, "io"}, {TS_JOIN, "join"}, {TS_LOCK, "lock"}, {TS_GIL, "gil"}, {TS_WAIT, "wait"},
	{TS_DONE, "done"}, {VS_SWITCH, "core: switch"}, {-1, "core: idle"}, {-2, "print"},
};
#define NLEGEND (int)(sizeof legend / sizeof legend[0])

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
		L->panel_w = v->w * 27 / 100;
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
		bool head = r->kind == ROW_PROC || r->kind == ROW_CORES;
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

	if (!v->vis)
		v->vis = calloc((size_t)v->nrows + 1, sizeof *v->vis);
	v->nvis = 0;
	int y = 0;
	for (int i = 0; v->vis && i < v->nrows; i++) {
		const struct vrow *r = &v->rows[i];
		bool head = r->kind == ROW_PROC || r->kind == ROW_CORES;
		if (!head && v->collapsed[r->group])
			continue;
		v->vis[v->nvis++] = (struct vis_row){.row = i, .y = y};
		y += L->row_h;
	}
	L->content_h = y;
	int maxscroll = L->content_h - L->rows_h;
	if (v->scroll > maxscroll)
		v->scroll = maxscroll;
	if (v->scroll < 0)
		v->scroll = 0;
	if (!(v->t1 > v->t0)) {
		v->t0 = 0;
		v->t1 = (double)v->end;
	}
	L->tick_step = choose_step(v);
}

int layout_row_y(const struct viz *v, int row)
{
	for (int i = 0; i < v->nvis; i++)
		if (v->vis[i].row == row)
			return v->L.rows_y + v->vis[i].y - v->scroll;
	return INT32_MIN;
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
	if (r->kind == ROW_PROC) {
		if (!v->collapsed[r->group])
			return;
		for (int i = 0; i < v->nrows; i++)
			if (v->rows[i].kind == ROW_THREAD && v->rows[i].group == r->group)
				accumulate(v, &v->rows[i], v->acc, W);
		emit_row(v, v->acc, W, (float)(y + inset), h, true);
		return;
	}
	if (r->kind == ROW_CORES) {
		if (!v->collapsed[r->group])
			return;
		for (int i = 0; i < v->nrows; i++)
			if (v->rows[i].kind == ROW_CORE)
				accumulate(v, &v->rows[i], v->acc, W);
		emit_row(v, v->acc, W, (float)(y + inset), h, false);
		return;
	}
	accumulate(v, r, v->acc, W);
	emit_row(v, v->acc, W, (float)(y + inset), h, false);
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
		if (s->state != VS_CORE_RUN || s->who < 0 || s->who >= v->tr->nthreads)
			continue;
		double x0 = viz_x_of_d(v, (double)s->t0), x1 = viz_x_of_d(v, (double)s->t1);
		if (x0 < v->L.tl_x)
			x0 = v->L.tl_x;
		if (x1 > v->L.tl_x + v->L.tl_w)
			x1 = v->L.tl_x + v->L.tl_w;
		if (x1 - x0 >= 4 && x0 > v->L.tl_x) /* where one thread's run meets the next's */
			fill(v->ren, v->th->bg, (int)x0, y + 2, 1, v->L.row_h - 4);
		if (x1 - x0 < minw)
			continue;
		/* the thread's label, or its tid when that does not fit */
		char lab[160];
		trace_thread_label(v->tr, s->who, lab, sizeof lab);
		int tw = text_width(v, FONT_REGULAR, lab);
		int room = (int)(x1 - x0) - v->L.pad;
		if (tw > room) {
			snprintf(lab, sizeof lab, "%d", v->tr->threads[s->who].tid);
			tw = text_width(v, FONT_REGULAR, lab);
			if (tw > room)
				continue;
		}
		int x = tw < room ? (int)((x0 + x1 - tw) / 2) : (int)x0 + v->L.pad / 2;
		text_draw(v, FONT_REGULAR, v->th->core_text, lab, x,
			  y + (v->L.row_h - v->L.line_h) / 2, room);
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
	for (int i = 0; i < v->nvis; i++) {
		const struct vrow *r = &v->rows[v->vis[i].row];
		if (r->kind == ROW_THREAD)
			rowy[r->index] = v->L.rows_y + v->vis[i].y - v->scroll;
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
		vert[nv++] = (SDL_Vertex){{(float)x - s, y}, c, {0, 0}};
		vert[nv++] = (SDL_Vertex){{(float)x + s + 1, y}, c, {0, 0}};
		vert[nv++] = (SDL_Vertex){{(float)x + 0.5f, y + s * 1.5f}, c, {0, 0}};
	}
	if (nv)
		SDL_RenderGeometry(v->ren, NULL, vert, nv, NULL, 0);
out:
	free(vert);
	free(rowy);
	free(lastx);
}

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
		bool head = r->kind == ROW_PROC || r->kind == ROW_CORES;
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
		if (r->kind == ROW_CORE)
			draw_core_names(v, r, y);
	}
	draw_prints(v);

	/* the labels, over their own column */
	band = 0;
	for (int i = 0; i < v->nvis; i++) {
		int y = L->rows_y + v->vis[i].y - v->scroll;
		if (y + L->row_h <= L->rows_y || y >= L->rows_y + L->rows_h)
			continue;
		const struct vrow *r = &v->rows[v->vis[i].row];
		bool head = r->kind == ROW_PROC || r->kind == ROW_CORES;
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
			fill(v->ren, th->band[band], 0, y, L->label_w - 2, L->row_h);
			text_draw(v, FONT_REGULAR, th->fg, r->label, L->pad + L->line_h, ty,
				  L->label_w - L->pad - L->line_h - 4);
		}
	}

	if (v->tr->end == END_DEADLOCK) {
		int x = (int)lround(viz_x_of_d(v, (double)v->tr->makespan));
		if (x >= L->tl_x && x <= L->tl_x + L->tl_w)
			fill(v->ren, th->deadlock_bg, x - 1, L->rows_y, 3, L->rows_h);
	}
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
		const struct vseg *s = model_seg_at(r, t);
		if (!s || s->who < 0 || s->who >= tr->nthreads) {
			snprintf(out[n++], 256, "core %d: idle", r->index);
			continue;
		}
		trace_thread_label(tr, s->who, lab, sizeof lab);
		snprintf(out[n++], 256, "core %d: %s %s", r->index,
			 s->state == VS_SWITCH ? "switching to" : "runs", lab);
	}
	/* threads by state: ready ones in the order they became ready (the run queue's) */
	static const int groups[] = {TS_READY, -1, TS_NEW};
	for (int g = 0; g < 3 && n < max; g++) {
		int first = n;
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
				list[nl++] = (struct waiting){s->t0, r->index, s};
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
			trace_thread_label(tr, list[k].thread, lab, sizeof lab);
			const char *why = trace_str(tr, list[k].s->reason);
			if (g == 1)
				snprintf(out[n++], 256, "%s: %s%s%s", lab, thread_state_name(list[k].s->state),
					 why[0] ? " — " : "", why);
			else
				snprintf(out[n++], 256, "%s", lab);
		}
		(void)first;
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
	bool heading = false;
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

static void draw_panel(struct viz *v)
{
	const struct theme *th = v->th;
	struct layout *L = &v->L;
	if (L->panel_w == 0)
		return;
	int x = L->panel_x, w = L->panel_w, pad = L->pad, lh = L->line_h;
	fill(v->ren, th->panel_bg, x, 0, w, v->h - L->status_h);
	fill(v->ren, th->grid, x, 0, 1, v->h - L->status_h);
	int y = pad;
	int tw = w - 2 * pad;
	if (v->has_cursor) {
		char lines[48][256];
		int n = cursor_lines(v, lines, 48);
		for (int i = 0; i < n && y + lh < v->h / 2; i++) {
			bool head = lines[i][0] == '\x01';
			text_draw(v, head ? FONT_BOLD : FONT_REGULAR, th->panel_fg,
				  lines[i] + head, x + pad + (head ? 0 : pad), y, tw - (head ? 0 : pad));
			y += lh;
		}
		y += pad;
	} else if (v->m) {
		char a[64], line[256];
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
		if (v->interactive) {
			text_draw(v, FONT_REGULAR, th->dim, "click the timeline for the state at an instant",
				  x + 2 * pad, y, tw - pad);
			y += lh;
		}
		y += pad;
	}
	char head[64];
	snprintf(head, sizeof head, "Output (%zu line%s)", v->nprints, v->nprints == 1 ? "" : "s");
	text_draw(v, FONT_BOLD, th->panel_fg, head, x + pad, y, tw);
	y += lh + 2;
	int room = (v->h - L->status_h - y - pad) / lh;
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
		snprintf(line, sizeof line, "%s%s%s", lab, lab[0] ? ": " : "", trace_str(v->tr, p->text));
		text_draw(v, FONT_REGULAR, th->panel_fg, line, x + pad + timew, y, tw - timew);
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
	char a[64], b[64], c[64], line[400];
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
	snprintf(line + n, sizeof line - (size_t)n, "   H: help");
	text_draw(v, FONT_REGULAR, th->fg, line, L->pad, L->status_y + 3, v->w / 2);
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
	if (r->kind != ROW_THREAD && r->kind != ROW_CORE)
		return;
	/* the segment under the mouse's pixel: the one at its middle, else any it touches */
	double ta = viz_t_of_x(v, v->mx), tb = viz_t_of_x(v, v->mx + 1);
	const struct vseg *s = model_seg_at(r, (int64_t)((ta + tb) / 2));
	if (!s) {
		size_t i = model_first_after(r, (int64_t)ta);
		if (i < r->nsegs && (double)r->segs[i].t0 < tb)
			s = &r->segs[i];
	}
	char lines[6][256], a[64], b[64];
	int n = 0;
	snprintf(lines[n++], 256, "%s", r->label);
	if (!s) {
		snprintf(lines[n++], 256, "%s", r->kind == ROW_CORE ? "idle" : "not running yet, or gone");
	} else {
		char who[192] = "";
		if (r->kind == ROW_CORE && s->who >= 0 && s->who < v->tr->nthreads)
			trace_thread_label(v->tr, s->who, who, sizeof who);
		if (r->kind == ROW_CORE)
			snprintf(lines[n++], 256, "%s %s", s->state == VS_SWITCH ? "switching to" : "running",
				 who);
		else if (s->state == TS_RUNNING && s->who >= 0)
			snprintf(lines[n++], 256, "running on core %d", s->who);
		else
			snprintf(lines[n++], 256, "%s", thread_state_name(s->state));
		fmt_time(a, sizeof a, s->t0);
		fmt_time(b, sizeof b, s->t1 - s->t0);
		snprintf(lines[n++], 256, "from %s for %s", a, b);
		const char *why = trace_str(v->tr, s->reason);
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

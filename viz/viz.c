/* viz.c — making and destroying the view, the queries tests use, and the PNG renderer: the
 * drawing module on a software renderer over a surface, saved by SDL_image. */
#include "viz_internal.h"

#include <SDL_image.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct viz *viz_create(const struct viz_input *in, const struct viz_options *opt, char *err,
		       size_t errsize)
{
	struct viz *v = calloc(1, sizeof *v);
	if (!v) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	v->projector = opt->projector;
	v->th = viz_theme(v->projector);
	v->show_panel = !opt->no_panel;
	v->show_arrows = true;
	v->sel_row = -1;
	if (font_open(v, v->projector ? 21 : 13, err, errsize) < 0 ||
	    viz_set_input(v, in, err, errsize) < 0) {
		viz_destroy(v);
		return NULL;
	}
	v->w = opt->width > 0 ? opt->width : 1400;
	v->h = opt->height > 0 ? opt->height : 800;
	if (opt->to > opt->from) {
		v->t0 = (double)opt->from;
		v->t1 = (double)opt->to;
	} else {
		v->t0 = 0;
		v->t1 = (double)v->end;
	}
	return v;
}

/* Splits the source into lines (offsets of their starts). */
static int set_source(struct viz *v, const char *text)
{
	free(v->source);
	free(v->src_lines);
	v->source = NULL;
	v->src_lines = NULL;
	v->nsrc_lines = 0;
	if (!text)
		return 0;
	v->source = strdup(text);
	size_t n = 1;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	v->src_lines = malloc(n * sizeof *v->src_lines);
	if (!v->source || !v->src_lines)
		return -1;
	v->src_lines[v->nsrc_lines++] = 0;
	for (size_t i = 0; v->source[i]; i++)
		if (v->source[i] == '\n' && v->source[i + 1])
			v->src_lines[v->nsrc_lines++] = i + 1;
	return 0;
}

int viz_set_input(struct viz *v, const struct viz_input *in, char *err, size_t errsize)
{
	int ngroups = v->ngroups;
	bool *collapsed = v->collapsed;
	v->collapsed = NULL;
	model_free(v);
	free(v->vis);
	free(v->rowy);
	v->vis = NULL;
	v->rowy = NULL;
	v->tr = v->trs[0] = in->tr;
	v->trs[1] = in->real;
	v->m = in->m;
	v->rerun = in->rerun;
	v->rerun_ctx = in->rerun_ctx;
	v->sel_row = -1;
	snprintf(v->title, sizeof v->title, "%s",
		 in->title ? in->title : in->tr->source_name[0] ? in->tr->source_name : "trace");
	snprintf(v->subtitle, sizeof v->subtitle, "%s", in->subtitle ? in->subtitle : "");
	int st = (in->source != v->source ? set_source(v, in->source) : 0) < 0 ||
			 model_build(v, err, errsize) < 0
		 ? -1
		 : 0;
	if (st < 0)
		snprintf(err, errsize, "out of memory while preparing the view");
	else if (collapsed && ngroups == v->ngroups) /* a rerun of the same program */
		memcpy(v->collapsed, collapsed, (size_t)ngroups * sizeof *collapsed);
	free(collapsed);
	if (v->has_cursor && v->cursor > v->end)
		v->cursor = v->end;
	return st;
}

void viz_destroy(struct viz *v)
{
	if (!v)
		return;
	font_close(v);
	model_free(v);
	free(v->source);
	free(v->src_lines);
	free(v->rowy);
	free(v->vis);
	free(v->acc);
	for (int s = 0; s < VS_COUNT; s++)
		free(v->batch[s].r);
	free(v);
}

void viz_resize(struct viz *v, int width, int height)
{
	v->w = width > 100 ? width : 100;
	v->h = height > 100 ? height : 100;
}

SDL_Color viz_state_color(const struct viz *v, enum thread_state s)
{
	return v->th->state[(unsigned)s < TS_COUNT ? s : TS_DONE];
}

SDL_Color viz_core_color(const struct viz *v, enum core_state s)
{
	return s == CS_RUN ? v->th->state[VS_CORE_RUN] : s == CS_SWITCH ? v->th->state[VS_SWITCH]
								       : v->th->band[1];
}

SDL_Color viz_background(const struct viz *v)
{
	return v->th->bg;
}

int viz_x_of(const struct viz *v, int64_t t)
{
	return (int)floor(viz_x_of_d(v, (double)t));
}

void viz_range(const struct viz *v, double *t0, double *t1)
{
	*t0 = v->t0;
	*t1 = v->t1;
}

void viz_set_range(struct viz *v, double t0, double t1)
{
	/* at least 10 ns wide, and never entirely off the run */
	if (t1 - t0 < 10) {
		double mid = (t0 + t1) / 2;
		t0 = mid - 5;
		t1 = mid + 5;
	}
	double span = t1 - t0, end = (double)v->end;
	if (span > end * 20)
		span = end * 20, t1 = t0 + span;
	if (t1 < 0)
		t0 = -span * 0.5, t1 = t0 + span;
	if (t0 > end)
		t0 = end - span * 0.5, t1 = t0 + span;
	v->t0 = t0;
	v->t1 = t1;
}

static int row_mid_src(const struct viz *v, enum row_kind kind, int index, int src, int aux)
{
	for (int i = 0; i < v->nvis; i++) {
		const struct vrow *r = &v->rows[v->vis[i].row];
		if (r->kind == kind && r->index == index && r->src == src && (aux < 0 || r->aux == aux)) {
			int y = v->L.rows_y + v->vis[i].y - v->scroll;
			if (y < v->L.rows_y || y + v->L.row_h > v->L.rows_y + v->L.rows_h)
				return -1;
			return y + v->L.row_h / 2;
		}
	}
	return -1;
}

static int row_mid(const struct viz *v, enum row_kind kind, int index)
{
	return row_mid_src(v, kind, index, 0, -1);
}

int viz_object_row_y(const struct viz *v, int src, int obj)
{
	return row_mid_src(v, ROW_OBJ, obj, src, -1);
}

int viz_real_thread_row_y(const struct viz *v, int thread)
{
	return row_mid_src(v, ROW_THREAD, thread, 1, -1);
}

int viz_counter_row_y(const struct viz *v, int kind, int proc)
{
	return row_mid_src(v, ROW_COUNTER, kind, 0, kind == CNT_READY ? -1 : proc);
}

SDL_Color viz_holder_color(const struct viz *v, int thread)
{
	return v->th->state[VS_HOLD0 + (thread < 0 ? 0 : thread) % NHOLD];
}

SDL_Color viz_arrow_color(const struct viz *v, int kind)
{
	return v->th->arrow[kind >= 0 && kind < 3 ? kind : 0];
}

SDL_Color viz_deadlock_color(const struct viz *v)
{
	return v->th->deadlock_bg;
}

SDL_Color viz_counter_color(const struct viz *v)
{
	return v->th->counter;
}

SDL_Color viz_marker_color(const struct viz *v)
{
	return v->th->marker_ab;
}

int viz_arrows_shown(const struct viz *v)
{
	return v->arrows_shown;
}

void viz_set_arrows(struct viz *v, bool on)
{
	v->show_arrows = on;
}

void viz_set_markers(struct viz *v, bool has_a, int64_t a, bool has_b, int64_t b)
{
	v->has_a = has_a;
	v->mark_a = a;
	v->has_b = has_b;
	v->mark_b = b;
}

void viz_set_cursor(struct viz *v, bool on, int64_t t)
{
	v->has_cursor = on;
	v->cursor = t;
}

void viz_set_search(struct viz *v, const char *q, bool active_only)
{
	snprintf(v->search, sizeof v->search, "%s", q ? q : "");
	v->active_only = active_only;
}

int viz_search_matches(const struct viz *v)
{
	return v->nmatch;
}

int viz_source_line(const struct viz *v)
{
	return v->src_hl;
}

int viz_panel_section_y(const struct viz *v, const char *title)
{
	for (int i = 0; i < v->nsections; i++)
		if (strcmp(v->sections[i].title, title) == 0)
			return v->sections[i].y;
	return -1;
}

int viz_thread_row_y(const struct viz *v, int thread)
{
	return row_mid(v, ROW_THREAD, thread);
}

int viz_core_row_y(const struct viz *v, int core)
{
	return row_mid(v, ROW_CORE, core);
}

void viz_axis_band(const struct viz *v, int *y0, int *y1)
{
	*y0 = v->L.axis_y;
	*y1 = v->L.axis_y + v->L.axis_h;
}

int viz_axis_ticks(const struct viz *v, int64_t *t, int *x, int max)
{
	int64_t step = v->L.tick_step;
	if (step <= 0)
		return 0;
	int n = 0;
	for (int64_t k = (int64_t)ceil(v->t0 / (double)step) * step; (double)k <= v->t1 && n < max;
	     k += step) {
		t[n] = k;
		x[n++] = (int)lround(viz_x_of_d(v, (double)k));
	}
	return n;
}

bool viz_banner(const struct viz *v, SDL_Rect *rect)
{
	if (v->L.banner_h <= 0)
		return false;
	*rect = (SDL_Rect){0, v->L.banner_y, v->w - v->L.panel_w, v->L.banner_h};
	return true;
}

int viz_render_png(const struct viz_input *in, const struct viz_options *opt, const char *path,
		   char *err, size_t errsize)
{
	struct viz *v = viz_create(in, opt, err, errsize);
	if (!v)
		return -1;
	if (opt->height <= 0) {
		/* tall enough for every row, and for the output beside them */
		v->h = 100000;
		layout_compute(v);
		int h = v->L.rows_y + v->L.content_h + v->L.pad;
		if (v->L.panel_w > 0) {
			int ph = (int)(v->nprints + 7) * v->L.line_h + 2 * v->L.pad;
			if (ph > h)
				h = ph < 1600 ? ph : (h > 1600 ? h : 1600);
		}
		v->h = h < 300 ? 300 : h > 8000 ? 8000 : h;
	}
	int status = -1;
	SDL_Surface *surf = SDL_CreateRGBSurfaceWithFormat(0, v->w, v->h, 32, SDL_PIXELFORMAT_ARGB8888);
	SDL_Renderer *r = surf ? SDL_CreateSoftwareRenderer(surf) : NULL;
	if (!surf || !r) {
		snprintf(err, errsize, "cannot make a %dx%d picture: %s", v->w, v->h, SDL_GetError());
		goto out;
	}
	viz_draw(v, r);
	SDL_RenderPresent(r);
	if (IMG_SavePNG(surf, path) < 0) {
		snprintf(err, errsize, "cannot write %s: %s", path, IMG_GetError());
		goto out;
	}
	status = 0;
out:
	text_cache_clear(v); /* the textures belong to r */
	if (r)
		SDL_DestroyRenderer(r);
	v->ren = NULL;
	SDL_FreeSurface(surf);
	viz_destroy(v);
	return status;
}

/* viz_internal.h — the view's one struct and what viz/'s files share: the model (rows and
 * segments derived from records), fonts and the text cache, the layout, the drawing. */
#ifndef TIMESLICE_VIZ_INTERNAL_H
#define TIMESLICE_VIZ_INTERNAL_H

#include <SDL_ttf.h>

#include "viz.h"

/* Drawable states of a row: the thread states, then a core's switch and run (idle is not
 * drawn: the row's background shows through). */
enum {
	VS_SWITCH = TS_COUNT,
	VS_CORE_RUN,
	VS_COUNT
};

/* One stretch of a row in one state; 32 bytes. */
struct vseg {
	int64_t t0, t1;
	uint32_t reason, line;
	int32_t who;      /* thread rows: the core when running; core rows: the thread */
	uint8_t state;    /* VS_* / enum thread_state */
};

enum row_kind { ROW_PROC, ROW_THREAD, ROW_CORES, ROW_CORE };

struct vrow {
	enum row_kind kind;
	int index;        /* process, thread or core number; group number for ROW_PROC/ROW_CORES */
	int group;        /* the process (or nprocs for the cores) it belongs to */
	struct vseg *segs;
	size_t nsegs;
	char label[192];
};

struct vprint {
	int64_t t;
	int thread;
	uint32_t text;
};

struct text_entry {
	char *s;          /* NULL: free slot */
	uint32_t hash;
	uint32_t rgba;
	int font;
	SDL_Texture *tex;
	int w, h;
};

enum { FONT_REGULAR, FONT_BOLD, FONT_COUNT };

struct theme {
	SDL_Color state[VS_COUNT];
	SDL_Color bg, fg, dim, band[2], group_band, grid, axis_fg, panel_bg, panel_fg, select,
		cursor, tooltip_bg, tooltip_fg, deadlock_bg, deadlock_fg, warn_bg, warn_fg, marker,
		core_text;
};

struct rectbatch {
	SDL_FRect *r;
	int n, cap;
};

/* A row as laid out: its index in rows and its top y (content, before scrolling). */
struct vis_row {
	int row;
	int y;
};

struct layout {
	int row_h, line_h, pad;
	int title_h;
	int banner_y, banner_h;
	int legend_y, legend_h;
	int axis_y, axis_h;
	int rows_y, rows_h;        /* the scrolled rows' viewport */
	int content_h;             /* height of all shown rows */
	int label_w;
	int tl_x, tl_w;            /* the timeline's x and width */
	int panel_x, panel_w;      /* 0 width: no panel */
	int status_y, status_h;    /* window only */
	int64_t tick_step;         /* ns between axis ticks */
	int out_y, out_n;          /* the panel's output lines: first y, how many shown */
};

struct viz {
	const struct trace *tr;
	const struct metrics *m;
	char title[320], subtitle[320];

	/* model */
	struct vrow *rows;
	int nrows;
	struct vprint *prints;
	size_t nprints;
	int64_t *events;          /* distinct record times, ascending */
	size_t nevents;
	int64_t end;              /* the makespan, at least 1 */
	int ngroups;              /* processes, plus one for the cores */

	/* fonts and text */
	TTF_Font *font[FONT_COUNT];
	TTF_Font *fallback;       /* for characters the main fonts lack (CJK), or NULL */
	int font_px;
	SDL_Renderer *ren;        /* the renderer the cached textures belong to */
	struct text_entry *cache;
	int ncache, capcache;

	/* theme and view state */
	bool projector;
	const struct theme *th;
	int w, h;
	double t0, t1;            /* visible range, ns */
	int scroll;               /* px the rows are scrolled up */
	bool *collapsed;          /* per group */
	bool has_cursor;
	int64_t cursor;
	bool hover;
	int mx, my;
	bool show_help, show_panel, interactive, playing;
	bool selecting;
	int sel_x0, sel_x1;
	int out_scroll;           /* first output line shown */
	char status[256];         /* a passing message in the status bar */

	struct layout L;
	struct vis_row *vis;
	int nvis;

	/* scratch, reused frame to frame */
	float *acc;
	size_t capacc;
	struct rectbatch batch[VS_COUNT];
};

/* model.c */
int model_build(struct viz *v, char *err, size_t errsize);
void model_free(struct viz *v);
/* The segment of row r that holds time t, or NULL. */
const struct vseg *model_seg_at(const struct vrow *r, int64_t t);
/* Index of the first segment of r that ends after t. */
size_t model_first_after(const struct vrow *r, int64_t t);
/* The thread's label: "name (pid/tid)". */
void model_thread_label(const struct trace *tr, int t, char *buf, size_t size);

/* font.c */
int font_open(struct viz *v, int px, char *err, size_t errsize);
void font_close(struct viz *v);
/* The cached texture of s in font f and colour c (NULL for "" or on failure); *w, *h its size. */
SDL_Texture *text_get(struct viz *v, int f, SDL_Color c, const char *s, int *w, int *h);
int text_width(struct viz *v, int f, const char *s);
/* Draws s at (x, y) (top left); when wider than maxw (> 0), cut with "…". Returns its width. */
int text_draw(struct viz *v, int f, SDL_Color c, const char *s, int x, int y, int maxw);
void text_cache_clear(struct viz *v);

/* draw.c */
void layout_compute(struct viz *v);
double viz_x_of_d(const struct viz *v, double t);
double viz_t_of_x(const struct viz *v, double x);
/* The laid-out row under y (window coordinates), or -1. */
int layout_row_at(const struct viz *v, int y);
int layout_row_y(const struct viz *v, int row); /* top y on screen, or INT32_MIN */
void fmt_time(char *buf, size_t size, int64_t ns); /* "12.003 ms" */
/* The output line under (x, y) in the side panel, or -1. */
int panel_output_at(const struct viz *v, int x, int y);
extern const char *const viz_help_lines[][2];
const struct theme *viz_theme(bool projector);

#endif

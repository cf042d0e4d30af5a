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
	VS_HOLD0,         /* an object held: VS_HOLD0 + the holder's colour (thread % NHOLD) */
	VS_COUNT = VS_HOLD0 + 8
};
#define NHOLD 8

/* One stretch of a row in one state; 32 bytes. */
struct vseg {
	int64_t t0, t1;
	uint32_t reason, line;
	int32_t who;      /* thread rows: the core when running; core and object rows: the thread */
	uint8_t state;    /* VS_* / enum thread_state */
};

/* Headers (PROC, CORES, LOCKS, COUNTERS) start a group that collapses; the others belong to
 * the group of the header above them. */
enum row_kind { ROW_PROC, ROW_THREAD, ROW_CORES, ROW_CORE, ROW_LOCKS, ROW_OBJ, ROW_COUNTERS,
		ROW_COUNTER };

static inline bool row_is_head(int kind)
{
	return kind == ROW_PROC || kind == ROW_CORES || kind == ROW_LOCKS || kind == ROW_COUNTERS;
}

/* Counter tracks: how many threads are ready (the run queue: the machine's, or with per-core
 * queues one row per core), wait for a process's GIL, or the bytes in a Queue's pipe. */
enum { CNT_READY, CNT_GIL, CNT_RUNQ, CNT_PIPE };

/* A step of a counter: value from t until the next point. */
struct vpoint {
	int64_t t;
	int32_t val;
};

struct vrow {
	enum row_kind kind;
	int index;        /* process, thread, core, object number; counter kind (CNT_*) */
	int group;        /* the group (header) it belongs to */
	int src;          /* 0: the main (simulated) trace; 1: the real run shown below it */
	int aux;          /* ROW_COUNTER CNT_GIL: the process; CNT_RUNQ: the core; CNT_PIPE: the
	                   * object */
	struct vseg *segs;
	size_t nsegs;
	struct vpoint *pts; /* ROW_COUNTER */
	size_t npts;
	int32_t ymax;
	char label[192];
};

/* A causality arrow: from row from_row at t0 to row to_row at t1. */
enum { ARROW_WAKE, ARROW_LOCK, ARROW_GIL };
struct varrow {
	int64_t t0, t1;
	int from_row, to_row;
	uint8_t kind;
	uint32_t reason;  /* string id in the row's trace */
};

struct vprint {
	int64_t t;
	int thread;
	uint32_t text;
	bool event;       /* an event of the run (a zombie reaped, ...), not a printed line */
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
	SDL_Color arrow[3], counter, marker_ab, match;
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
	const struct trace *tr;   /* == trs[0] */
	const struct trace *trs[2]; /* the main trace; the real run (or NULL) */
	const struct metrics *m;
	char title[320], subtitle[320];
	char *source;             /* the scenario's text (a copy), or NULL */
	size_t *src_lines;        /* offsets of each line's start */
	int nsrc_lines;
	viz_rerun_fn rerun;
	void *rerun_ctx;

	/* model */
	struct vrow *rows;
	int nrows;
	struct vprint *prints;
	size_t nprints;
	int64_t *events;          /* distinct record times, ascending */
	size_t nevents;
	int64_t end;              /* the makespan, at least 1 */
	int ngroups;              /* headers */
	int *thread_row[2];       /* per trace: thread index -> row */
	struct varrow *arrows;    /* sorted by t1 */
	size_t narrows;
	int64_t arrow_span;       /* the longest t1 - t0 */

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
	bool show_arrows;         /* causality arrows (when they do not crowd) */
	int arrows_shown;         /* drawn in the last frame; -1: too many, hidden */
	bool has_a, has_b;        /* markers */
	int64_t mark_a, mark_b;
	int sel_row;              /* the row last clicked (its segment at the cursor), or -1 */
	bool searching;           /* typing a search */
	char search[64];          /* the filter ("" none) */
	bool active_only;         /* hide threads that neither run nor wait for a core in view */
	int nmatch;               /* rows matching the search in the last frame */
	int src_hl;               /* the source line highlighted in the last frame, 0 none */
	struct {
		char title[32];
		int y;
	} sections[8];            /* the panel's sections in the last frame */
	int nsections;

	struct layout L;
	struct vis_row *vis;
	int nvis;
	int *rowy;                /* per row: top y on screen (its header's when collapsed), or
	                           * INT32_MIN when hidden */

	/* scratch, reused frame to frame */
	float *acc;
	size_t capacc;
	struct rectbatch batch[VS_COUNT];
};

/* model.c */
int model_build(struct viz *v, char *err, size_t errsize);
/* The trace a row comes from. */
static inline const struct trace *row_trace(const struct viz *v, const struct vrow *r)
{
	return v->trs[r->src] ? v->trs[r->src] : v->tr;
}
/* Per-thread aggregates over [t0, t1) as `perf sched latency` prints them. */
struct vagg {
	int row;
	int64_t run, ready, blocked, max_delay, max_delay_at, delay_sum;
	int switches, delays;
};
int model_aggregate(const struct viz *v, int64_t t0, int64_t t1, struct vagg *out, int max);
/* Whether row i matches the search string (name, pid, tid, core, state). */
bool model_row_matches(const struct viz *v, int i, const char *q);
/* Whether a thread row runs or waits for a core in [t0, t1). */
bool model_row_active(const struct viz *v, int i, double t0, double t1);
/* The scenario line to highlight: the clicked segment's at the cursor, else the last record's
 * at or before the cursor that has one; 0 for none. */
int model_cursor_line(const struct viz *v);
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

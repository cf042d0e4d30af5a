/* viz.h — the timeline view: draws a trace's records as a Gantt chart (a row per thread,
 * grouped under its process, and a row per core) with one drawing module used both for the
 * SDL window and for the off-screen PNG renderer, so that both give the same pixels.
 *
 * The view reads records only (a const struct trace) and keeps all its state in one struct
 * viz; nothing here is global except SDL's and SDL_ttf's own initialisation. */
#ifndef TIMESLICE_VIZ_H
#define TIMESLICE_VIZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <SDL.h>

#include "metrics.h"
#include "trace.h"

struct viz_input;

/* Change and rerun (the window's keys c, p, [, ], g, i, r with or without shift): change the
 * machine setting `key` ("cores", "policy", "quantum", "gil", "switch-interval", "seed") one
 * step in direction dir (+1 or -1), simulate again and fill *in with the new run (its trace
 * and metrics must stay valid until the next call or the end of the window). Returns 0, or
 * -1 with a message (the setting cannot change, the scenario fails...). */
typedef int (*viz_rerun_fn)(void *ctx, const char *key, int dir, struct viz_input *in,
			    char *msg, size_t msgsize);

/* What to draw. The trace (and metrics) must outlive the viz made from them. */
struct viz_input {
	const struct trace *tr;      /* required */
	const struct metrics *m;     /* optional: the summary shown in the side panel */
	const char *title;           /* first line of the title; NULL: the trace's source */
	const char *subtitle;        /* e.g. the machine ("1 core, rr, quantum 10 ms"); may be NULL */
	const struct trace *real;    /* optional: a real run of the same program, drawn below on
	                              * the same time axis, its rows prefixed "real:" */
	const char *source;          /* optional: the scenario's text, shown with the line of the
	                              * event at the cursor highlighted */
	viz_rerun_fn rerun;          /* optional: the window's change-and-rerun keys */
	void *rerun_ctx;
};

struct viz_options {
	int width, height;           /* pixels; 0: a default (render: height fits every row) */
	int64_t from, to;            /* the visible time range in ns; to <= from: the whole run */
	bool projector;              /* large type, high contrast, colour-blind-safe palette */
	bool no_panel;               /* leave out the side panel (program output, state at cursor) */
};

struct viz;

/* Builds the view of a trace: loads the fonts (fontconfig, else DejaVu Sans in its Debian
 * place), derives the rows and segments. Calls TTF_Init. Returns NULL with a message in err
 * when no font can be opened or memory runs out. Free with viz_destroy (NULL is safe). */
struct viz *viz_create(const struct viz_input *in, const struct viz_options *opt, char *err,
		       size_t errsize);
void viz_destroy(struct viz *v);
/* Shows another run (a rerun) in the same view: keeps the visible range, the cursor, the
 * markers, the search. Returns 0, or -1 (out of memory: the view is then empty). */
int viz_set_input(struct viz *v, const struct viz_input *in, char *err, size_t errsize);

/* Draws the whole picture on r at the view's size (viz_resize). Textures of text are cached
 * per renderer: drawing on another renderer drops the cache first. */
void viz_draw(struct viz *v, SDL_Renderer *r);
void viz_resize(struct viz *v, int width, int height);

/* Renders the picture into a PNG file without any display. Returns 0, or -1 with a message in
 * err (no font, cannot write the file...). */
int viz_render_png(const struct viz_input *in, const struct viz_options *opt, const char *path,
		   char *err, size_t errsize);

/* Opens the window and runs it until it is closed. script, when not NULL, is a file of
 * synthetic input (viz/window.c describes it) played into the window; the visible range is
 * printed after each step on stdout. Returns 0, or -1 with a message in err (no display, no
 * font, a bad script line). */
int viz_window_run(const struct viz_input *in, const struct viz_options *opt,
		   const char *script, char *err, size_t errsize);

/* Queries for tests and tools; they answer for the layout of the last viz_draw. */

/* The colour that fills a thread state (enum thread_state) in the current theme. */
SDL_Color viz_state_color(const struct viz *v, enum thread_state s);
/* Colours of a core's run and context switch stretches. */
SDL_Color viz_core_color(const struct viz *v, enum core_state s);
SDL_Color viz_background(const struct viz *v);
/* The x of time t (ns), and the visible range. */
int viz_x_of(const struct viz *v, int64_t t);
void viz_range(const struct viz *v, double *t0, double *t1);
void viz_set_range(struct viz *v, double t0, double t1);
/* The vertical middle of thread `thread`'s (or core `core`'s) row; -1 when not shown. */
int viz_thread_row_y(const struct viz *v, int thread);
int viz_core_row_y(const struct viz *v, int core);
/* The axis band (labels and ticks): top and bottom y; and up to max ticks' times and x. */
void viz_axis_band(const struct viz *v, int *y0, int *y1);
int viz_axis_ticks(const struct viz *v, int64_t *t, int *x, int max);
/* The banner that marks a deadlock (or an error or a limit): false when there is none. */
bool viz_banner(const struct viz *v, SDL_Rect *rect);
/* The vertical middle of object `obj`'s row (a lock or a GIL) in trace src (0 main, 1 real),
 * a thread's row in the real run, a counter row (CNT_READY; CNT_GIL of process `proc`,
 * CNT_RUNQ of core `proc`, CNT_PIPE of object `proc`); -1
 * when not shown. */
int viz_object_row_y(const struct viz *v, int src, int obj);
int viz_real_thread_row_y(const struct viz *v, int thread);
int viz_counter_row_y(const struct viz *v, int kind, int proc);
/* The colour of a lock or GIL held by thread `thread` (its holder colour). */
SDL_Color viz_holder_color(const struct viz *v, int thread);
SDL_Color viz_arrow_color(const struct viz *v, int kind); /* 0 wake, 1 lock, 2 GIL */
SDL_Color viz_deadlock_color(const struct viz *v);
SDL_Color viz_counter_color(const struct viz *v);
SDL_Color viz_marker_color(const struct viz *v);
/* View state, for tests: arrows drawn in the last frame (-1: too many, hidden); markers;
 * the search; the source line highlighted (0: none). */
int viz_arrows_shown(const struct viz *v);
void viz_set_arrows(struct viz *v, bool on);
void viz_set_markers(struct viz *v, bool has_a, int64_t a, bool has_b, int64_t b);
void viz_set_cursor(struct viz *v, bool on, int64_t t);
void viz_set_search(struct viz *v, const char *q, bool active_only);
int viz_search_matches(const struct viz *v);
int viz_source_line(const struct viz *v);
/* The x range of the side panel's lines of text: its y of the first line of a section
 * ("Range A–B", "Source"), -1 when not drawn. */
int viz_panel_section_y(const struct viz *v, const char *title);

#endif

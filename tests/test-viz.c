/* test-viz.c — the timeline drawing (off-screen, on a software renderer: the pixels of known
 * instants on known rows, the axis labels, the deadlock banner, the PNG file) and the Chrome
 * trace loader that lets the window open saved traces. */
#define _GNU_SOURCE /* open_memstream */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "suites.h"
#include "trace.h"
#include "trace_load.h"
#ifdef HAVE_VIZ
#include <SDL_image.h>

#include "viz.h"
#include "viz_internal.h"
#endif

/* A hand-made run on one core, worked out in full:
 *
 *   MainThread (100/100)  running 0-4 us, sleep 4-8 us, ready 8-10 us, running 10-12 us, done
 *   Worker (100/101)      new 0-1 us, ready 1-5 us, running 5-9 us, done from 9 us
 *   core 0                run Main 0-4, switch 4-5, run Worker 5-9, switch 9-10, run Main 10-12
 *
 * MainThread prints "hello" at 2 us. */
static void st(struct trace *tr, int64_t t, int tid, int state, int core, const char *why)
{
	struct trace_rec r = {.t = t, .tid = tid, .core = (int16_t)core, .kind = TR_STATE,
			      .state = (uint8_t)state, .obj = -1, .reason = trace_intern(tr, why)};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
}

static void cs(struct trace *tr, int64_t t, int core, int state, int tid)
{
	struct trace_rec r = {.t = t, .tid = tid, .core = (int16_t)core, .kind = TR_CORE,
			      .state = (uint8_t)state, .obj = -1};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
}

static struct trace *hand_trace(void)
{
	struct trace *tr = trace_create(1);
	ck_assert_ptr_nonnull(tr);
	int p = trace_add_process(tr, 100, 0, "MainProcess");
	ck_assert_int_eq(trace_add_thread(tr, p, 100, "MainThread"), 0);
	ck_assert_int_eq(trace_add_thread(tr, p, 101, "Worker"), 1);
	snprintf(tr->source_name, sizeof tr->source_name, "hand-made");
	snprintf(tr->origin, sizeof tr->origin, "sim");
	st(tr, 0, 0, TS_RUNNING, 0, "picked");
	cs(tr, 0, 0, CS_RUN, 0);
	st(tr, 0, 1, TS_NEW, -1, "thread start");
	st(tr, 1000, 1, TS_READY, -1, "created");
	struct trace_rec pr = {.t = 2000, .tid = 0, .core = -1, .kind = TR_PRINT, .obj = -1,
			       .text = trace_intern(tr, "hello")};
	ck_assert_int_eq(trace_emit(tr, &pr), 0);
	st(tr, 4000, 0, TS_SLEEP, -1, "sleep(4us)");
	cs(tr, 4000, 0, CS_SWITCH, 1);
	st(tr, 5000, 1, TS_RUNNING, 0, "picked by RR");
	cs(tr, 5000, 0, CS_RUN, 1);
	st(tr, 8000, 0, TS_READY, -1, "sleep over");
	st(tr, 9000, 1, TS_DONE, -1, "exit");
	cs(tr, 9000, 0, CS_SWITCH, 0);
	st(tr, 10000, 0, TS_RUNNING, 0, "picked");
	cs(tr, 10000, 0, CS_RUN, 0);
	st(tr, 12000, 0, TS_DONE, -1, "exit");
	cs(tr, 12000, 0, CS_IDLE, -1);
	tr->makespan = 12000;
	tr->end = END_COMPLETED;
	return tr;
}

/* ---- the Chrome trace loader (no SDL needed) ---- */

static char *chrome_text(const struct trace *tr, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(chrome_write(f, tr), 0);
	fclose(f);
	return buf;
}

START_TEST(load_round_trip)
{
	struct trace *tr = hand_trace();
	size_t len;
	char *json = chrome_text(tr, &len);
	struct diag d;
	struct trace *back = trace_load_chrome_text("hand.json", json, len, &d);
	ck_assert_msg(back != NULL, "load failed: %s", d.msg);
	ck_assert_int_eq(back->nthreads, 2);
	ck_assert_int_eq(back->nprocs, 1);
	ck_assert_int_eq(back->ncores, 1);
	ck_assert_int_eq(back->makespan, 12000);
	ck_assert_str_eq(back->source_name, "hand-made");
	struct metrics *a = metrics_compute(tr), *b = metrics_compute(back);
	for (int t = 0; t < 2; t++) {
		ck_assert_int_eq(a->threads[t].cpu_ns, b->threads[t].cpu_ns);
		ck_assert_int_eq(a->threads[t].ready_ns, b->threads[t].ready_ns);
		ck_assert_int_eq(a->threads[t].blocked_ns, b->threads[t].blocked_ns);
		ck_assert_int_eq(a->threads[t].end_ns, b->threads[t].end_ns);
	}
	ck_assert_int_eq(a->cores[0].busy_ns, b->cores[0].busy_ns);
	ck_assert_int_eq(a->cores[0].switch_ns, b->cores[0].switch_ns);
	bool printed = false;
	for (size_t i = 0; i < back->nrecs; i++)
		printed |= back->recs[i].kind == TR_PRINT && back->recs[i].t == 2000 &&
			   strcmp(trace_str(back, back->recs[i].text), "hello") == 0;
	ck_assert_msg(printed, "the print at 2 us did not come back");
	metrics_destroy(a);
	metrics_destroy(b);
	trace_destroy(back);
	trace_destroy(tr);
	free(json);
}
END_TEST

START_TEST(load_foreign_begin_end)
{
	/* another tool's trace: B/E pairs with nesting, a complete event, absolute timestamps */
	static const char json[] =
		"[{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":7,\"tid\":8,\"args\":{\"name\":\"render\"}},\n"
		" {\"ph\":\"B\",\"name\":\"frame\",\"pid\":7,\"tid\":8,\"ts\":1000000},\n"
		" {\"ph\":\"B\",\"name\":\"inner\",\"pid\":7,\"tid\":8,\"ts\":1000001},\n"
		" {\"ph\":\"E\",\"pid\":7,\"tid\":8,\"ts\":1000002},\n"
		" {\"ph\":\"E\",\"pid\":7,\"tid\":8,\"ts\":1000003},\n"
		" {\"ph\":\"X\",\"name\":\"work\",\"pid\":7,\"tid\":8,\"ts\":1000005,\"dur\":2}]\n";
	struct diag d;
	struct trace *tr = trace_load_chrome_text("foreign.json", json, strlen(json), &d);
	ck_assert_msg(tr != NULL, "load failed: %s", d.msg);
	ck_assert_int_eq(tr->nthreads, 1);
	ck_assert_str_eq(trace_str(tr, tr->threads[0].name), "render");
	ck_assert_int_eq(tr->makespan, 7000); /* from the first event, in ns */
	struct metrics *m = metrics_compute(tr);
	ck_assert_int_eq(m->threads[0].cpu_ns, 5000); /* 3 us of frame (inner folded) + 2 us */
	ck_assert_int_eq(m->threads[0].state_ns[TS_WAIT], 2000); /* the gap */
	metrics_destroy(m);
	trace_destroy(tr);
}
END_TEST

START_TEST(load_bad_input)
{
	struct diag d;
	/* truncated: the position is the end of the text, on line 2 */
	static const char trunc[] = "{\"traceEvents\": [\n{\"ph\": \"X\", \"ts\": 1";
	ck_assert_ptr_null(trace_load_chrome_text("t.json", trunc, strlen(trunc), &d));
	ck_assert_int_eq(d.line, 2);
	ck_assert_int_gt(d.col, 1);
	ck_assert_msg(strstr(d.msg, "truncated") != NULL, "message: %s", d.msg);
	ck_assert_str_eq(d.file, "t.json");
	/* JSON, not a trace */
	ck_assert_ptr_null(trace_load_chrome_text("n.json", "{\"a\": 1}", 8, &d));
	ck_assert_msg(strstr(d.msg, "traceEvents") != NULL, "message: %s", d.msg);
	ck_assert_ptr_null(trace_load_chrome_text("n.json", "42", 2, &d));
	/* an event without its phase, a complete event without a duration */
	static const char noph[] = "[{\"ts\": 1}]";
	ck_assert_ptr_null(trace_load_chrome_text("e.json", noph, strlen(noph), &d));
	ck_assert_msg(strstr(d.msg, "event 0") != NULL, "message: %s", d.msg);
	static const char nodur[] = "[{\"ph\": \"X\", \"ts\": 1}]";
	ck_assert_ptr_null(trace_load_chrome_text("e.json", nodur, strlen(nodur), &d));
	ck_assert_msg(strstr(d.msg, "dur") != NULL, "message: %s", d.msg);
	/* nothing to draw; an empty file; a missing file */
	ck_assert_ptr_null(trace_load_chrome_text("e.json", "[]", 2, &d));
	ck_assert_ptr_null(trace_load_chrome_text("e.json", "", 0, &d));
	ck_assert_ptr_null(trace_load_chrome("/nonexistent/x.json", &d));
	ck_assert_msg(strstr(d.msg, "No such file") != NULL, "message: %s", d.msg);
}
END_TEST

#ifdef HAVE_VIZ
/* ---- drawing, off-screen ---- */

struct canvas {
	SDL_Surface *surf;
	SDL_Renderer *ren;
	struct viz *v;
};

static void canvas_open(struct canvas *c, struct trace *tr, int w, int h, bool projector)
{
	struct viz_input in = {.tr = tr, .title = "test"};
	struct viz_options opt = {.width = w, .height = h, .projector = projector};
	char err[256];
	c->v = viz_create(&in, &opt, err, sizeof err);
	ck_assert_msg(c->v != NULL, "viz_create: %s", err);
	c->surf = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
	ck_assert_ptr_nonnull(c->surf);
	c->ren = SDL_CreateSoftwareRenderer(c->surf);
	ck_assert_msg(c->ren != NULL, "software renderer: %s", SDL_GetError());
	viz_draw(c->v, c->ren);
	SDL_RenderPresent(c->ren);
}

static void canvas_close(struct canvas *c)
{
	viz_destroy(c->v); /* before the renderer: it holds textures made on it */
	SDL_DestroyRenderer(c->ren);
	SDL_FreeSurface(c->surf);
}

static SDL_Color pixel(const struct canvas *c, int x, int y)
{
	ck_assert_msg(x >= 0 && y >= 0 && x < c->surf->w && y < c->surf->h, "(%d, %d) is outside", x, y);
	Uint32 p = ((const Uint32 *)c->surf->pixels)[y * (c->surf->pitch / 4) + x];
	SDL_Color col;
	SDL_GetRGBA(p, c->surf->format, &col.r, &col.g, &col.b, &col.a);
	return col;
}

static bool same(SDL_Color a, SDL_Color b)
{
	return a.r == b.r && a.g == b.g && a.b == b.b;
}

#define ck_assert_color(got, want, what) \
	ck_assert_msg(same(got, want), "%s: got #%02x%02x%02x, want #%02x%02x%02x", what, (got).r, \
		      (got).g, (got).b, (want).r, (want).g, (want).b)

static void setup_sdl(void)
{
	/* the software renderer needs no display; the dummy driver keeps SDL off any that is set */
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	ck_assert_msg(SDL_Init(SDL_INIT_VIDEO) == 0, "SDL_Init: %s", SDL_GetError());
}

static void teardown_sdl(void)
{
	SDL_Quit();
}

/* The colour at the x of an instant on a row is the colour of the state at that instant. */
static void check_states(bool projector)
{
	struct trace *tr = hand_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 400, projector);
	int main_y = viz_thread_row_y(c.v, 0), worker_y = viz_thread_row_y(c.v, 1);
	int core_y = viz_core_row_y(c.v, 0);
	ck_assert_int_gt(main_y, 0);
	ck_assert_int_gt(worker_y, main_y);
	ck_assert_int_gt(core_y, worker_y);
	static const struct {
		int64_t t;
		int thread;
		enum thread_state s;
	} want[] = {
		{3000, 0, TS_RUNNING}, {6000, 0, TS_SLEEP}, {9000, 0, TS_READY}, {11000, 0, TS_RUNNING},
		{500, 1, TS_NEW}, {3000, 1, TS_READY}, {7000, 1, TS_RUNNING}, {11000, 1, TS_DONE},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		int x = viz_x_of(c.v, want[i].t);
		int y = want[i].thread ? worker_y : main_y;
		char what[80];
		snprintf(what, sizeof what, "thread %d at %lld ns (x %d)", want[i].thread,
			 (long long)want[i].t, x);
		ck_assert_color(pixel(&c, x, y), viz_state_color(c.v, want[i].s), what);
	}
	/* the core: switching 4-5 us; running Worker from 5 us (near the start: the middle holds
	 * the thread's name) */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 4500), core_y), viz_core_color(c.v, CS_SWITCH),
			"core 0 at 4.5 us");
	ck_assert_color(pixel(&c, viz_x_of(c.v, 5300), core_y), viz_core_color(c.v, CS_RUN),
			"core 0 at 5.3 us");
	/* after the end nothing is drawn on the rows but their band */
	SDL_Color past = pixel(&c, viz_x_of(c.v, 12000) + 5, main_y);
	ck_assert_msg(!same(past, viz_state_color(c.v, TS_RUNNING)), "running drawn past the end");
	canvas_close(&c);
	trace_destroy(tr);
}

START_TEST(state_colours_at_instants)
{
	check_states(false);
}
END_TEST

START_TEST(state_colours_projector)
{
	check_states(true);
	/* Okabe-Ito's bluish green for running */
	struct trace *tr = hand_trace();
	struct canvas c;
	canvas_open(&c, tr, 800, 300, true);
	SDL_Color run = viz_state_color(c.v, TS_RUNNING);
	ck_assert(run.r == 0x00 && run.g == 0x9E && run.b == 0x73);
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(colours_are_distinct)
{
	struct trace *tr = hand_trace();
	for (int proj = 0; proj < 2; proj++) {
		struct canvas c;
		canvas_open(&c, tr, 600, 300, proj);
		for (int a = 0; a < TS_COUNT; a++)
			for (int b = a + 1; b < TS_COUNT; b++)
				ck_assert_msg(!same(viz_state_color(c.v, a), viz_state_color(c.v, b)),
					      "%s and %s share a colour", thread_state_name(a),
					      thread_state_name(b));
		canvas_close(&c);
	}
	trace_destroy(tr);
}
END_TEST

/* The axis: 1-2-5 steps, labels that do not crowd, ink at every tick. */
START_TEST(axis_labels)
{
	struct trace *tr = hand_trace();
	static const int widths[] = {500, 1000, 1900};
	for (size_t k = 0; k < 3; k++) {
		struct canvas c;
		canvas_open(&c, tr, widths[k], 300, false);
		int64_t t[64];
		int x[64];
		int n = viz_axis_ticks(c.v, t, x, 64);
		ck_assert_int_ge(n, 3);
		int64_t step = t[1] - t[0];
		int64_t m = step;
		while (m % 10 == 0)
			m /= 10;
		ck_assert_msg(m == 1 || m == 2 || m == 5, "step %lld is not 1-2-5", (long long)step);
		ck_assert_int_ge(x[1] - x[0], 30);
		int y0, y1;
		viz_axis_band(c.v, &y0, &y1);
		SDL_Color bg = viz_background(c.v);
		for (int i = 0; i < n; i++) {
			int ink = 0;
			for (int y = y0; y < y1; y++)
				for (int dx = -8; dx <= 8; dx++)
					if (x[i] + dx >= 0 && x[i] + dx < c.surf->w)
						ink += !same(pixel(&c, x[i] + dx, y), bg);
			ck_assert_msg(ink > 10, "no label at tick %d (%lld ns, x %d)", i,
				      (long long)t[i], x[i]);
		}
		canvas_close(&c);
	}
	trace_destroy(tr);
}
END_TEST

START_TEST(deadlock_banner)
{
	struct trace *tr = hand_trace();
	struct canvas c;
	SDL_Rect rc;
	canvas_open(&c, tr, 900, 300, false);
	ck_assert(!viz_banner(c.v, &rc)); /* completed: no banner */
	canvas_close(&c);

	tr->end = END_DEADLOCK;
	snprintf(tr->end_msg, sizeof tr->end_msg, "deadlock: MainThread waits for Worker");
	canvas_open(&c, tr, 900, 300, false);
	ck_assert(viz_banner(c.v, &rc));
	ck_assert_int_gt(rc.h, 10);
	SDL_Color col = pixel(&c, rc.x + 2, rc.y + 2);
	ck_assert_msg(col.r > 150 && col.g < 80 && col.b < 80, "banner not red: #%02x%02x%02x",
		      col.r, col.g, col.b);
	/* white text on it */
	int white = 0;
	for (int y = rc.y; y < rc.y + rc.h; y++)
		for (int x = rc.x; x < rc.x + 300; x++) {
			SDL_Color p = pixel(&c, x, y);
			white += p.r > 200 && p.g > 200 && p.b > 200;
		}
	ck_assert_int_gt(white, 50);
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(png_written_and_read_back)
{
	struct trace *tr = hand_trace();
	char path[] = "/tmp/timeslice-viz-XXXXXX.png";
	int fd = mkstemps(path, 4);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct viz_input in = {.tr = tr};
	struct viz_options opt = {.width = 640, .height = 360};
	char err[256];
	ck_assert_msg(viz_render_png(&in, &opt, path, err, sizeof err) == 0, "render: %s", err);
	SDL_Surface *s = IMG_Load(path);
	ck_assert_msg(s != NULL, "IMG_Load: %s", IMG_GetError());
	ck_assert_int_eq(s->w, 640);
	ck_assert_int_eq(s->h, 360);
	SDL_FreeSurface(s);
	unlink(path);
	/* a place that cannot be written: an error, not a crash */
	ck_assert_int_eq(viz_render_png(&in, &opt, "/nonexistent/dir/x.png", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "/nonexistent/dir/x.png") != NULL, "message: %s", err);
	trace_destroy(tr);
}
END_TEST

/* A trace of many segments far narrower than a pixel still draws, and what is drawn at a
 * pixel is a state that happened there. */
START_TEST(many_segments_merge)
{
	struct trace *tr = trace_create(1);
	int p = trace_add_process(tr, 1, 0, "P");
	trace_add_thread(tr, p, 1, "T");
	for (int i = 0; i < 100000; i++) {
		st(tr, i * 10, 0, i % 2 ? TS_READY : TS_RUNNING, 0, NULL);
	}
	st(tr, 1000000, 0, TS_DONE, -1, NULL);
	tr->makespan = 1000000;
	struct canvas c;
	canvas_open(&c, tr, 800, 300, false);
	int y = viz_thread_row_y(c.v, 0);
	SDL_Color run = viz_state_color(c.v, TS_RUNNING), ready = viz_state_color(c.v, TS_READY);
	for (int64_t t = 50000; t < 1000000; t += 100000) {
		SDL_Color col = pixel(&c, viz_x_of(c.v, t), y);
		ck_assert_msg(same(col, run) || same(col, ready), "at %lld: #%02x%02x%02x",
			      (long long)t, col.r, col.g, col.b);
	}
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

/* ---- object rows, arrows, the deadlock cycle, markers, search, source, real, counters ---- */

static void obj(struct trace *tr, int64_t t, int o, int holder)
{
	struct trace_rec r = {.t = t, .tid = holder, .core = -1, .kind = TR_OBJ,
			      .state = holder >= 0 ? OBJ_HELD : OBJ_FREE, .obj = o};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
}

/* The hand-made run with a lock: MainThread holds lock_a 0-4 us, Worker takes it at 5 us
 * (it waited: lock state 4-5 us is not in the run, so the hand-over is when Worker was in
 * lock) and holds it to 9 us; and Worker wakes MainThread at 8 us. Built in time order. */
static struct trace *lock_trace(void)
{
	struct trace *tr = trace_create(1);
	int p = trace_add_process(tr, 100, 0, "MainProcess");
	trace_add_thread(tr, p, 100, "MainThread");
	trace_add_thread(tr, p, 101, "Worker");
	ck_assert_int_eq(trace_add_object(tr, "lock_a", "Lock", 3), 0);
	snprintf(tr->source_name, sizeof tr->source_name, "lock-made");
	st(tr, 0, 0, TS_RUNNING, 0, "picked");
	cs(tr, 0, 0, CS_RUN, 0);
	obj(tr, 0, 0, 0);
	st(tr, 0, 1, TS_NEW, -1, NULL);
	st(tr, 1000, 1, TS_LOCK, -1, "waits for lock_a");
	st(tr, 4000, 0, TS_SLEEP, -1, "sleep");
	obj(tr, 4000, 0, -1);
	cs(tr, 4000, 0, CS_SWITCH, 1);
	st(tr, 4000, 1, TS_READY, -1, "lock_a released");
	st(tr, 5000, 1, TS_RUNNING, 0, "picked");
	obj(tr, 5000, 0, 1);
	cs(tr, 5000, 0, CS_RUN, 1);
	struct trace_rec wk = {.t = 8000, .tid = 0, .core = -1, .kind = TR_WAKE, .obj = 1,
			       .reason = trace_intern(tr, "Worker sets the event")};
	ck_assert_int_eq(trace_emit(tr, &wk), 0);
	st(tr, 8000, 0, TS_READY, -1, "woken");
	obj(tr, 9000, 0, -1);
	st(tr, 9000, 1, TS_DONE, -1, "exit");
	cs(tr, 9000, 0, CS_SWITCH, 0);
	st(tr, 10000, 0, TS_RUNNING, 0, "picked");
	cs(tr, 10000, 0, CS_RUN, 0);
	st(tr, 12000, 0, TS_DONE, -1, "exit");
	cs(tr, 12000, 0, CS_IDLE, -1);
	tr->makespan = 12000;
	return tr;
}

/* How many pixels of colour want in a rectangle. */
static int count_color(const struct canvas *c, SDL_Color want, int x0, int y0, int x1, int y1)
{
	int n = 0;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++)
			if (x >= 0 && y >= 0 && x < c->surf->w && y < c->surf->h)
				n += same(pixel(c, x, y), want);
	return n;
}

static void canvas_open_in(struct canvas *c, const struct viz_input *in, int w, int h)
{
	struct viz_options opt = {.width = w, .height = h};
	char err[256];
	c->v = viz_create(in, &opt, err, sizeof err);
	ck_assert_msg(c->v != NULL, "viz_create: %s", err);
	c->surf = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
	c->ren = SDL_CreateSoftwareRenderer(c->surf);
	ck_assert_ptr_nonnull(c->ren);
	viz_draw(c->v, c->ren);
	SDL_RenderPresent(c->ren);
}

static void redraw(struct canvas *c)
{
	viz_draw(c->v, c->ren);
	SDL_RenderPresent(c->ren);
}

START_TEST(object_rows_show_the_holder)
{
	struct trace *tr = lock_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 500, false);
	int oy = viz_object_row_y(c.v, 0, 0);
	/* under the threads of the process that holds it, above the cores */
	ck_assert_int_gt(oy, viz_thread_row_y(c.v, 1));
	ck_assert_int_lt(oy, viz_core_row_y(c.v, 0));
	ck_assert_color(pixel(&c, viz_x_of(c.v, 2500), oy - 3), viz_holder_color(c.v, 0),
			"lock_a at 2.5 us: held by MainThread");
	ck_assert_color(pixel(&c, viz_x_of(c.v, 8500), oy - 3), viz_holder_color(c.v, 1),
			"lock_a at 8.5 us: held by Worker");
	SDL_Color free_px = pixel(&c, viz_x_of(c.v, 4500), oy);
	ck_assert_msg(!same(free_px, viz_holder_color(c.v, 0)) && !same(free_px, viz_holder_color(c.v, 1)),
		      "lock_a free at 4.5 us");
	ck_assert(!same(viz_holder_color(c.v, 0), viz_holder_color(c.v, 1)));
	/* the GIL wait is a state of its own on the thread rows */
	ck_assert(!same(viz_state_color(c.v, TS_GIL), viz_state_color(c.v, TS_LOCK)));
	canvas_close(&c);

	/* a lock held by threads of two processes goes under "Locks", after every process */
	struct trace *t2 = trace_create(1);
	int p0 = trace_add_process(t2, 1, 0, "A"), p1 = trace_add_process(t2, 2, 1, "B");
	trace_add_thread(t2, p0, 1, "a");
	trace_add_thread(t2, p1, 2, "b");
	trace_add_object(t2, "shared", "Lock", 0);
	trace_add_object(t2, "GIL (pid 2)", "GIL", 0);
	st(t2, 0, 0, TS_RUNNING, 0, NULL);
	st(t2, 0, 1, TS_READY, -1, NULL);
	obj(t2, 0, 0, 0);
	obj(t2, 0, 1, 1);
	obj(t2, 10, 0, 1);
	st(t2, 20, 0, TS_DONE, -1, NULL);
	st(t2, 20, 1, TS_DONE, -1, NULL);
	t2->makespan = 20;
	canvas_open(&c, t2, 900, 400, false);
	int gy = viz_object_row_y(c.v, 0, 1), sy = viz_object_row_y(c.v, 0, 0);
	ck_assert_int_gt(gy, viz_thread_row_y(c.v, 1)); /* the GIL of pid 2 under its process */
	ck_assert_int_gt(sy, gy);                        /* the shared lock below, in Locks */
	ck_assert_int_lt(sy, viz_core_row_y(c.v, 0));
	canvas_close(&c);
	trace_destroy(t2);
	trace_destroy(tr);
}
END_TEST

START_TEST(causality_arrows)
{
	struct trace *tr = lock_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 500, false);
	/* the wake-up at 8 us (Worker -> MainThread) and the hand-over of lock_a (MainThread at
	 * 4 us -> Worker at 5 us) */
	ck_assert_int_eq(viz_arrows_shown(c.v), 2);
	int my = viz_thread_row_y(c.v, 0), wy = viz_thread_row_y(c.v, 1);
	int x = viz_x_of(c.v, 8000);
	int ink = count_color(&c, viz_arrow_color(c.v, 0), x - 1, my, x + 1, wy);
	ck_assert_msg(ink >= 5, "no wake arrow at 8 us (%d px)", ink);
	int hx0 = viz_x_of(c.v, 4000), hx1 = viz_x_of(c.v, 5000);
	ink = count_color(&c, viz_arrow_color(c.v, 1), hx0, my, hx1, wy);
	ck_assert_msg(ink >= 5, "no hand-over arrow 4-5 us (%d px)", ink);
	/* W turns them off */
	viz_set_arrows(c.v, false);
	redraw(&c);
	ck_assert_int_eq(viz_arrows_shown(c.v), 0);
	ck_assert_int_eq(count_color(&c, viz_arrow_color(c.v, 0), x - 1, my, x + 1, wy), 0);
	canvas_close(&c);
	trace_destroy(tr);

	/* 400 wake-ups in view: too many to tell apart, none drawn */
	tr = trace_create(1);
	int p = trace_add_process(tr, 1, 0, "P");
	trace_add_thread(tr, p, 1, "a");
	trace_add_thread(tr, p, 2, "b");
	for (int i = 0; i < 400; i++) {
		st(tr, i * 100, i % 2, TS_RUNNING, 0, NULL);
		st(tr, i * 100, 1 - i % 2, TS_LOCK, -1, NULL);
		struct trace_rec wk = {.t = i * 100 + 50, .tid = 1 - i % 2, .core = -1, .kind = TR_WAKE,
				       .obj = i % 2};
		ck_assert_int_eq(trace_emit(tr, &wk), 0);
	}
	tr->makespan = 40000;
	canvas_open(&c, tr, 1000, 400, false);
	ck_assert_int_eq(viz_arrows_shown(c.v), -1);
	/* zoomed in to a few, they are drawn */
	viz_set_range(c.v, 1000, 1500);
	redraw(&c);
	ck_assert_int_ge(viz_arrows_shown(c.v), 4);
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(deadlock_cycle_drawn)
{
	struct trace *tr = hand_trace();
	tr->end = END_DEADLOCK;
	snprintf(tr->end_msg, sizeof tr->end_msg, "deadlock: MainThread and Worker");
	struct canvas c;
	canvas_open(&c, tr, 1000, 500, false);
	int my = viz_thread_row_y(c.v, 0), wy = viz_thread_row_y(c.v, 1);
	int xe = viz_x_of(c.v, 12000);
	SDL_Color red = viz_deadlock_color(c.v);
	int before = count_color(&c, red, xe - 60, my - 2, xe - 4, wy + 2);
	canvas_close(&c);

	struct trace_wait_edge e[2] = {
		{.thread = 0, .holds = trace_intern(tr, "lock_b"), .holds_line = 23,
		 .waits_for = trace_intern(tr, "lock_a"), .line = 19},
		{.thread = 1, .holds = trace_intern(tr, "lock_a"), .holds_line = 17,
		 .waits_for = trace_intern(tr, "lock_b"), .line = 25},
	};
	ck_assert_int_eq(trace_set_cycle(tr, e, 2), 0);
	canvas_open(&c, tr, 1000, 500, false);
	/* the brackets: vertical red strokes between the two rows, left of the end */
	int after = count_color(&c, red, xe - 60, my - 2, xe - 4, wy + 2);
	ck_assert_msg(after > before + 40, "cycle not drawn: %d red px, %d without it", after, before);
	/* labels in red on each thread's row, further left */
	int lab0 = count_color(&c, red, viz_x_of(c.v, 2000), my - 6, xe - 60, my + 6);
	int lab1 = count_color(&c, red, viz_x_of(c.v, 2000), wy - 6, xe - 60, wy + 6);
	ck_assert_msg(lab0 > 30 && lab1 > 30, "labels: %d and %d red px", lab0, lab1);
	/* the banner keeps the message */
	SDL_Rect rc;
	ck_assert(viz_banner(c.v, &rc));
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(markers_and_range_aggregates)
{
	struct trace *tr = hand_trace();
	struct canvas c;
	canvas_open(&c, tr, 1200, 600, false);
	ck_assert_int_eq(viz_panel_section_y(c.v, "Range A–B"), -1);
	viz_set_markers(c.v, true, 0, true, 12000);
	redraw(&c);
	ck_assert_int_gt(viz_panel_section_y(c.v, "Range A–B"), 0);
	int x = viz_x_of(c.v, 3000);
	viz_set_markers(c.v, true, 3000, true, 12000);
	redraw(&c);
	ck_assert_color(pixel(&c, x, viz_thread_row_y(c.v, 1)), viz_marker_color(c.v), "marker A");
	/* the aggregates over the whole run, as perf sched latency has them */
	struct vagg g[8];
	int n = model_aggregate(c.v, 0, 12000, g, 8);
	ck_assert_int_eq(n, 2);
	const struct vagg *m = c.v->rows[g[0].row].index == 0 ? &g[0] : &g[1];
	const struct vagg *w = m == &g[0] ? &g[1] : &g[0];
	ck_assert_int_eq(m->run, 6000);
	ck_assert_int_eq(m->ready, 2000);
	ck_assert_int_eq(m->blocked, 4000);
	ck_assert_int_eq(m->switches, 2);
	ck_assert_int_eq(m->max_delay, 2000);
	ck_assert_int_eq(m->max_delay_at, 10000);
	ck_assert_int_eq(w->run, 4000);
	ck_assert_int_eq(w->ready, 4000);
	ck_assert_int_eq(w->max_delay, 4000);
	ck_assert_int_eq(w->switches, 1);
	ck_assert_int_eq(g[0].run >= g[1].run, 1); /* busiest first */
	/* a part of the run: 6-11 us */
	n = model_aggregate(c.v, 6000, 11000, g, 8);
	m = c.v->rows[g[0].row].index == 0 ? &g[0] : &g[1];
	ck_assert_int_eq(m->run, 1000);
	ck_assert_int_eq(m->ready, 2000);
	ck_assert_int_eq(m->blocked, 2000);
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(search_and_active_only)
{
	struct trace *tr = hand_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 400, false);
	int my = viz_thread_row_y(c.v, 0), wy = viz_thread_row_y(c.v, 1);
	viz_set_search(c.v, "worker", false);
	redraw(&c);
	ck_assert_int_eq(viz_search_matches(c.v), 1);
	/* Worker keeps its colours, MainThread is dimmed */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 7000), wy), viz_state_color(c.v, TS_RUNNING),
			"Worker matches");
	SDL_Color d = pixel(&c, viz_x_of(c.v, 3000), my);
	ck_assert_msg(!same(d, viz_state_color(c.v, TS_RUNNING)), "MainThread not dimmed");
	static const struct {
		const char *q;
		int n;
	} q[] = {{"101", 1}, {"100", 2} /* the pid of both */, {"sleep", 1}, {"running", 2}, {"c0", 3},
		 {"core 0", 3}, {"MainThread", 1}, {"nothing", 0}};
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		viz_set_search(c.v, q[i].q, false);
		redraw(&c);
		ck_assert_msg(viz_search_matches(c.v) == q[i].n, "'%s': %d matches, want %d", q[i].q,
			      viz_search_matches(c.v), q[i].n);
	}
	/* active threads only: from 10 us only MainThread runs */
	viz_set_search(c.v, "", true);
	viz_set_range(c.v, 10000, 12000);
	redraw(&c);
	ck_assert_int_gt(viz_thread_row_y(c.v, 0), 0);
	ck_assert_int_eq(viz_thread_row_y(c.v, 1), -1);
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(source_line_highlighted)
{
	struct trace *tr = hand_trace();
	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_STATE)
			tr->recs[i].line = tr->recs[i].tid == 0 ? 2 : 3;
	static const char src[] = "import threading\nmain_work()\nworker_work()\n";
	struct viz_input in = {.tr = tr, .source = src};
	struct canvas c;
	canvas_open_in(&c, &in, 1200, 600);
	ck_assert_int_gt(viz_panel_section_y(c.v, "Source"), 0);
	ck_assert_int_eq(viz_source_line(c.v), 0);
	viz_set_cursor(c.v, true, 5500); /* Worker ran from 5 us: its record's line */
	redraw(&c);
	ck_assert_int_eq(viz_source_line(c.v), 3);
	viz_set_cursor(c.v, true, 8500); /* MainThread ready at 8 us */
	redraw(&c);
	ck_assert_int_eq(viz_source_line(c.v), 2);
	/* the highlighted line is tinted in the panel */
	int sy = viz_panel_section_y(c.v, "Source");
	int lh = (viz_panel_section_y(c.v, "Output") - sy) / 5;
	SDL_Color hl = pixel(&c, 1200 - 20, sy + lh * 2 + lh / 2);
	SDL_Color plain = pixel(&c, 1200 - 20, sy + lh * 3 + lh / 2);
	ck_assert_msg(!same(hl, plain), "line 2 not highlighted");
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

START_TEST(real_run_below)
{
	struct trace *tr = hand_trace(), *real = hand_trace();
	snprintf(real->origin, sizeof real->origin, "real");
	/* the real run is slower: its Worker runs until 11 us */
	for (size_t i = 0; i < real->nrecs; i++)
		if (real->recs[i].t == 9000 && real->recs[i].tid == 1)
			real->recs[i].t = 9000;
	struct viz_input in = {.tr = tr, .real = real};
	struct canvas c;
	canvas_open_in(&c, &in, 1000, 700);
	int sim_core = viz_core_row_y(c.v, 0), ry = viz_real_thread_row_y(c.v, 1);
	ck_assert_int_gt(ry, sim_core);
	ck_assert_color(pixel(&c, viz_x_of(c.v, 7000), ry), viz_state_color(c.v, TS_RUNNING),
			"real Worker at 7 us");
	ck_assert_color(pixel(&c, viz_x_of(c.v, 3000), ry), viz_state_color(c.v, TS_READY),
			"real Worker at 3 us");
	ck_assert_str_eq(c.v->rows[c.v->thread_row[1][1]].label, "real: Worker (100/101)");
	canvas_close(&c);
	trace_destroy(real);
	trace_destroy(tr);
}
END_TEST

START_TEST(counter_tracks)
{
	struct trace *tr = hand_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 500, false);
	int cy = viz_counter_row_y(c.v, CNT_READY, 0);
	ck_assert_int_gt(cy, viz_core_row_y(c.v, 0));
	SDL_Color k = viz_counter_color(c.v);
	/* Worker ready 1-5 us: one thread ready, a full-height bar (the maximum is 1) */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 3000), cy), k, "one ready at 3 us");
	/* 6 us: nobody ready */
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 6500), cy + 2), k), "none ready at 6.5 us");
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

/* Two cores with per-core run queues (the ready records name the queue's core) and a Queue
 * whose pipe fills (TR_COUNTER records, the value in `line`):
 *   T0      running on core 0 0-10 us
 *   T1      ready in core 0's queue 1-5 us, moved to core 1's queue 5-7 us, running 7-10 us
 *   q       pipe fill 65536 bytes 2-6 us, 1000 bytes 6-8 us, then 0 */
static struct trace *percore_trace(int *q)
{
	struct trace *tr = trace_create(2);
	ck_assert_ptr_nonnull(tr);
	int p = trace_add_process(tr, 100, 0, "MainProcess");
	ck_assert_int_eq(trace_add_thread(tr, p, 100, "T0"), 0);
	ck_assert_int_eq(trace_add_thread(tr, p, 101, "T1"), 1);
	*q = trace_add_object(tr, "q", "Queue", 3);
	ck_assert_int_ge(*q, 0);
	struct trace_rec cnt = {.tid = -1, .core = -1, .kind = TR_COUNTER, .obj = *q};
	st(tr, 0, 0, TS_RUNNING, 0, "picked");
	cs(tr, 0, 0, CS_RUN, 0);
	st(tr, 0, 1, TS_NEW, -1, "thread start");
	st(tr, 1000, 1, TS_READY, 0, "created");
	cnt.t = 2000, cnt.line = 65536;
	ck_assert_int_eq(trace_emit(tr, &cnt), 0);
	st(tr, 5000, 1, TS_READY, 1, "created"); /* balancing moved it */
	cnt.t = 6000, cnt.line = 1000;
	ck_assert_int_eq(trace_emit(tr, &cnt), 0);
	st(tr, 7000, 1, TS_RUNNING, 1, "picked");
	cs(tr, 7000, 1, CS_RUN, 1);
	cnt.t = 8000, cnt.line = 0;
	ck_assert_int_eq(trace_emit(tr, &cnt), 0);
	st(tr, 10000, 0, TS_DONE, -1, "exit");
	st(tr, 10000, 1, TS_DONE, -1, "exit");
	cs(tr, 10000, 0, CS_IDLE, -1);
	cs(tr, 10000, 1, CS_IDLE, -1);
	tr->makespan = 10000;
	tr->end = END_COMPLETED;
	return tr;
}

START_TEST(run_queue_per_core_and_pipe_fill)
{
	int q;
	struct trace *tr = percore_trace(&q);
	struct canvas c;
	canvas_open(&c, tr, 1000, 700, false);
	ck_assert_int_eq(viz_counter_row_y(c.v, CNT_READY, 0), -1); /* one row per core instead */
	int r0 = viz_counter_row_y(c.v, CNT_RUNQ, 0), r1 = viz_counter_row_y(c.v, CNT_RUNQ, 1);
	int py = viz_counter_row_y(c.v, CNT_PIPE, q);
	ck_assert_int_gt(r0, viz_core_row_y(c.v, 1));
	ck_assert_int_gt(r1, r0);
	ck_assert_int_gt(py, r1);
	ck_assert_int_eq(viz_object_row_y(c.v, 0, q), -1); /* no empty lock track for the Queue */
	bool labelled = false;
	for (int i = 0; i < c.v->nrows; i++)
		if (c.v->rows[i].kind == ROW_COUNTER && c.v->rows[i].index == CNT_PIPE)
			labelled = strcmp(c.v->rows[i].label, "pipe fill: q (max 65536 bytes)") == 0;
	ck_assert(labelled);
	SDL_Color k = viz_counter_color(c.v);
	/* T1 in core 0's queue at 3 us, in core 1's at 6 us, in none at 8 us */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 3000), r0), k, "core 0's queue at 3 us");
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 3000), r1), k), "core 1's queue at 3 us");
	ck_assert_color(pixel(&c, viz_x_of(c.v, 6000 + 500), r1), k, "core 1's queue at 6.5 us");
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 6500), r0), k), "core 0's queue at 6.5 us");
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 8500), r1), k), "core 1's queue at 8.5 us");
	/* the pipe: full (the maximum) at 4 us, 1000 of 65536 bytes (under a pixel) at 7 us */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 4000), py), k, "pipe full at 4 us");
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 7000), py), k), "pipe almost empty at 7 us");
	ck_assert_msg(!same(pixel(&c, viz_x_of(c.v, 9000), py), k), "pipe empty at 9 us");
	canvas_close(&c);
	trace_destroy(tr);
}
END_TEST

/* The Chrome file's counter events load back as TR_COUNTER records of an object so named. */
START_TEST(counters_load_back)
{
	int q;
	struct trace *tr = percore_trace(&q);
	size_t len;
	char *json = chrome_text(tr, &len);
	struct diag d;
	struct trace *back = trace_load_chrome_text("percore.json", json, len, &d);
	ck_assert_msg(back != NULL, "load failed: %s", d.msg);
	static const uint32_t want[] = {65536, 1000, 0};
	static const int64_t at[] = {2000, 6000, 8000};
	int n = 0;
	for (size_t i = 0; i < back->nrecs; i++) {
		const struct trace_rec *r = &back->recs[i];
		if (r->kind != TR_COUNTER)
			continue;
		ck_assert_int_lt(n, 3);
		ck_assert_int_ge(r->obj, 0);
		ck_assert_int_lt(r->obj, back->nobjects);
		ck_assert_str_eq(trace_str(back, back->objects[r->obj].name), "q");
		ck_assert_int_eq(r->line, want[n]);
		ck_assert_int_eq(r->t, at[n]);
		n++;
	}
	ck_assert_int_eq(n, 3);
	trace_destroy(back);
	trace_destroy(tr);
	free(json);
}
END_TEST

START_TEST(rerun_keeps_the_view)
{
	struct trace *tr = hand_trace(), *t2 = lock_trace();
	struct canvas c;
	canvas_open(&c, tr, 1000, 500, false);
	viz_set_range(c.v, 2000, 6000);
	viz_set_markers(c.v, true, 3000, false, 0);
	struct viz_input in = {.tr = t2, .subtitle = "rerun"};
	char err[256];
	ck_assert_int_eq(viz_set_input(c.v, &in, err, sizeof err), 0);
	redraw(&c);
	double t0, t1;
	viz_range(c.v, &t0, &t1);
	ck_assert(t0 == 2000 && t1 == 6000);
	ck_assert_int_gt(viz_object_row_y(c.v, 0, 0), 0); /* the new run's rows */
	ck_assert_color(pixel(&c, viz_x_of(c.v, 3000), viz_thread_row_y(c.v, 1)),
			viz_marker_color(c.v), "marker A kept");
	canvas_close(&c);
	trace_destroy(t2);
	trace_destroy(tr);
}
END_TEST
#endif

Suite *viz_suite(void)
{
	Suite *s = suite_create("viz");
	TCase *tc = tcase_create("Chrome trace loading");
	tcase_add_test(tc, load_round_trip);
	tcase_add_test(tc, load_foreign_begin_end);
	tcase_add_test(tc, load_bad_input);
	suite_add_tcase(s, tc);
#ifdef HAVE_VIZ
	/* the drawing needs SDL's dummy video driver at least; without it they cannot run */
	setenv("SDL_VIDEODRIVER", "dummy", 1);
	if (SDL_Init(SDL_INIT_VIDEO) < 0) {
		fprintf(stderr, "viz: SKIP the drawing tests: SDL cannot start even its dummy video "
			"driver: %s\n", SDL_GetError());
		return s;
	}
	SDL_Quit();
	tc = tcase_create("Drawing off-screen");
	tcase_add_checked_fixture(tc, setup_sdl, teardown_sdl);
	tcase_add_test(tc, state_colours_at_instants);
	tcase_add_test(tc, state_colours_projector);
	tcase_add_test(tc, colours_are_distinct);
	tcase_add_test(tc, axis_labels);
	tcase_add_test(tc, deadlock_banner);
	tcase_add_test(tc, png_written_and_read_back);
	tcase_add_test(tc, many_segments_merge);
	tcase_add_test(tc, object_rows_show_the_holder);
	tcase_add_test(tc, causality_arrows);
	tcase_add_test(tc, deadlock_cycle_drawn);
	tcase_add_test(tc, markers_and_range_aggregates);
	tcase_add_test(tc, search_and_active_only);
	tcase_add_test(tc, source_line_highlighted);
	tcase_add_test(tc, real_run_below);
	tcase_add_test(tc, counter_tracks);
	tcase_add_test(tc, run_queue_per_core_and_pipe_fill);
	tcase_add_test(tc, counters_load_back);
	tcase_add_test(tc, rerun_keeps_the_view);
	suite_add_tcase(s, tc);
#endif
	return s;
}

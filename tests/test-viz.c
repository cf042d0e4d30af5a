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
	suite_add_tcase(s, tc);
#endif
	return s;
}

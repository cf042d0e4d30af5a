/* bench-render.c — frame time of the timeline over a synthetic trace of 1 000 000 segments:
 * a whole-run frame, then frames while zooming in and out at a point and panning, each drawn
 * in full (layout, per-pixel reduction of every row, text from the cache) on a software
 * renderer 1600x900, as the PNG renderer and a window without a GPU draw. Prints the median and
 * the worst frame in ms, and the time of a PNG of the whole run. */
#include <SDL.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trace.h"
#include "viz.h"

#define SEGMENTS 1000000
#define THREADS 16
#define FRAMES 120

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	/* 16 threads in 4 processes, each alternating running / ready / io with lengths from
	 * 1 to 20 us: 62 500 segments per thread, records in time order */
	struct trace *tr = trace_create(0);
	if (!tr)
		return 1;
	for (int p = 0; p < 4; p++) {
		char name[32];
		snprintf(name, sizeof name, "Process-%d", p);
		trace_add_process(tr, 1000 + p, 0, name);
		for (int k = 0; k < THREADS / 4; k++) {
			snprintf(name, sizeof name, "Thread-%d", k);
			trace_add_thread(tr, p, 1000 + p * 10 + k, name);
		}
	}
	int64_t next[THREADS] = {0};
	int count[THREADS] = {0};
	uint64_t rng = 88172645463325252ull;
	int per = SEGMENTS / THREADS;
	for (;;) {
		int best = -1;
		for (int t = 0; t < THREADS; t++)
			if (count[t] <= per && (best < 0 || next[t] < next[best]))
				best = t;
		if (best < 0)
			break;
		struct trace_rec r = {.t = next[best], .tid = best, .core = -1, .kind = TR_STATE,
				      .obj = -1};
		if (count[best] == per) {
			r.state = TS_DONE;
		} else {
			static const uint8_t cycle[3] = {TS_RUNNING, TS_READY, TS_IO};
			r.state = cycle[count[best] % 3];
			r.core = r.state == TS_RUNNING ? 0 : -1;
		}
		if (trace_emit(tr, &r) < 0)
			return 1;
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		next[best] += 1000 + (int64_t)(rng % 19000);
		count[best]++;
	}
	int64_t end = 0;
	for (int t = 0; t < THREADS; t++)
		end = next[t] > end ? next[t] : end;
	tr->makespan = end;

	SDL_Surface *surf = SDL_CreateRGBSurfaceWithFormat(0, 1600, 900, 32, SDL_PIXELFORMAT_ARGB8888);
	SDL_Renderer *ren = surf ? SDL_CreateSoftwareRenderer(surf) : NULL;
	char err[256];
	struct viz_input in = {.tr = tr, .title = "bench"};
	struct viz_options opt = {.width = 1600, .height = 900};
	struct viz *v = ren ? viz_create(&in, &opt, err, sizeof err) : NULL;
	if (!v) {
		fprintf(stderr, "bench-render: %s\n", ren ? err : SDL_GetError());
		return 1;
	}
	viz_draw(v, ren); /* warms the text cache */
	double t0 = now_ms();
	viz_draw(v, ren);
	double whole = now_ms() - t0;

	double ms[FRAMES];
	double a = 0, b = (double)end, focus = end * 0.37;
	for (int f = 0; f < FRAMES; f++) {
		double k = f < 40 ? 0.8 : f < 80 ? 1.25 : 1.0; /* zoom in, out, then pan */
		if (f >= 80) {
			double shift = (b - a) * 0.05;
			a += shift;
			b += shift;
		} else {
			a = focus - (focus - a) * k;
			b = focus + (b - focus) * k;
		}
		viz_set_range(v, a, b);
		double s = now_ms();
		viz_draw(v, ren);
		ms[f] = now_ms() - s;
	}
	qsort(ms, FRAMES, sizeof *ms, cmp_double);
	viz_destroy(v);
	SDL_DestroyRenderer(ren);
	SDL_FreeSurface(surf);

	t0 = now_ms();
	if (viz_render_png(&in, &opt, "/tmp/timeslice-bench-render.png", err, sizeof err) < 0) {
		fprintf(stderr, "bench-render: %s\n", err);
		return 1;
	}
	double png = now_ms() - t0;
	remove("/tmp/timeslice-bench-render.png");

	printf("render: %zu records, %d segments on %d rows, 1600x900, software renderer\n",
	       tr->nrecs, SEGMENTS, THREADS);
	printf("whole-run frame: %.2f ms\n", whole);
	printf("zoom and pan, %d frames: median %.2f ms, worst %.2f ms\n", FRAMES, ms[FRAMES / 2],
	       ms[FRAMES - 1]);
	printf("PNG of the whole run (create, draw, encode): %.0f ms\n", png);
	trace_destroy(tr);
	return 0;
}

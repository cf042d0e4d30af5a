/* window.c — the SDL window around the drawing module: mouse and keys change the view's state
 * (struct viz), and the frame is drawn again when something changed.
 *
 * A script (`timeslice view --script FILE`, for tests) plays synthetic input into the very same
 * event loop: each line pushes SDL events, the loop handles them like real ones, draws, and
 * prints "STEP: range T0 T1" (ns) on stdout. Lines ('#' starts a comment):
 *
 *     motion X Y             move the mouse
 *     wheel X Y N            the wheel at (X, Y), N notches (> 0 zooms in, 2 notches halve)
 *     drag X0 Y0 X1 Y1       press the left button at (X0, Y0), move, release at (X1, Y1)
 *     shiftdrag X0 Y0 X1 Y1  the same with shift held: zoom to the selection
 *     click X Y              press and release without moving
 *     key NAME               a key by its SDL name: F, Home, Left, Right, Space, H, F11...,
 *                            or period / comma for . and ,
 *     screenshot FILE        save the window as it is now to a PNG file
 *     range                  print the range only
 *     quit                   close the window
 */
#include "viz_internal.h"

#include <SDL_image.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZOOM_NOTCH 0.70710678118654752 /* two notches halve the span */

struct win {
	SDL_Window *win;
	SDL_Renderer *ren;
	struct viz *v;
	bool quit, dirty;
	bool dragging, moved;
	int press_x, press_y;
	double drag_t0, drag_t1;
	Uint32 last_tick;
	FILE *script;
	int script_line;
	char step[160];          /* the script line being played, for the printed range */
	bool step_pending;
	char shot[1024];         /* a screenshot to save at the next frame */
	int shots;
	char *err;
	size_t errsize;
	int status;
};

static bool over_timeline(const struct viz *v, int x, int y)
{
	return x >= v->L.tl_x && x < v->L.tl_x + v->L.tl_w && y >= v->L.rows_y &&
	       y < v->L.rows_y + v->L.rows_h;
}

static void zoom_at(struct viz *v, double t, double f)
{
	viz_set_range(v, t - (t - v->t0) * f, t + (v->t1 - t) * f);
}

static void fit_all(struct viz *v)
{
	viz_set_range(v, 0, (double)v->end);
	v->scroll = 0;
}

/* Keeps t in view, centring it when it is out. */
static void show_time(struct viz *v, double t)
{
	if (t < v->t0 || t > v->t1) {
		double span = v->t1 - v->t0;
		viz_set_range(v, t - span / 2, t + span / 2);
	}
}

static void set_cursor(struct viz *v, int64_t t)
{
	if (t < 0)
		t = 0;
	if (t > v->end)
		t = v->end;
	v->cursor = t;
	v->has_cursor = true;
	show_time(v, (double)t);
}

/* The next (dir > 0) or previous record time from the cursor (or the view's start). */
static void step_event(struct viz *v, int dir)
{
	if (v->nevents == 0)
		return;
	int64_t from = v->has_cursor ? v->cursor : (int64_t)v->t0;
	size_t lo = 0, hi = v->nevents;
	while (lo < hi) { /* first event >= from */
		size_t mid = lo + (hi - lo) / 2;
		if (v->events[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t i;
	if (dir > 0) {
		i = lo < v->nevents && v->events[lo] == from && v->has_cursor ? lo + 1 : lo;
		if (i >= v->nevents)
			i = v->nevents - 1;
	} else {
		i = lo > 0 ? lo - 1 : 0;
	}
	set_cursor(v, v->events[i]);
}

static void save_png(struct win *w, const char *path)
{
	int ww, hh;
	SDL_GetRendererOutputSize(w->ren, &ww, &hh);
	SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, ww, hh, 32, SDL_PIXELFORMAT_ARGB8888);
	if (s && SDL_RenderReadPixels(w->ren, NULL, SDL_PIXELFORMAT_ARGB8888, s->pixels, s->pitch) == 0 &&
	    IMG_SavePNG(s, path) == 0)
		snprintf(w->v->status, sizeof w->v->status, "saved %.200s", path);
	else
		snprintf(w->v->status, sizeof w->v->status, "cannot save %.120s: %.100s", path, SDL_GetError());
	SDL_FreeSurface(s);
	if (w->script)
		printf("screenshot %s: %s\n", path, w->v->status);
}

static void key(struct win *w, const SDL_Keysym *k)
{
	struct viz *v = w->v;
	double span = v->t1 - v->t0, mid = (v->t0 + v->t1) / 2;
	bool shift = k->mod & KMOD_SHIFT;
	switch (k->sym) {
	case SDLK_q:
		w->quit = true;
		break;
	case SDLK_ESCAPE:
		if (v->show_help)
			v->show_help = false;
		else
			v->has_cursor = v->playing = false;
		break;
	case SDLK_h:
	case SDLK_QUESTION:
		v->show_help = !v->show_help;
		break;
	case SDLK_SLASH:
		if (shift)
			v->show_help = !v->show_help;
		break;
	case SDLK_f:
	case SDLK_HOME:
		fit_all(v);
		break;
	case SDLK_LEFT:
		viz_set_range(v, v->t0 - span / 10, v->t1 - span / 10);
		break;
	case SDLK_RIGHT:
		viz_set_range(v, v->t0 + span / 10, v->t1 + span / 10);
		break;
	case SDLK_UP:
		v->scroll -= v->L.row_h;
		break;
	case SDLK_DOWN:
		v->scroll += v->L.row_h;
		break;
	case SDLK_PAGEUP:
		v->scroll -= v->L.rows_h - v->L.row_h;
		break;
	case SDLK_PAGEDOWN:
		v->scroll += v->L.rows_h - v->L.row_h;
		break;
	case SDLK_PLUS:
	case SDLK_EQUALS:
	case SDLK_KP_PLUS:
		zoom_at(v, mid, ZOOM_NOTCH);
		break;
	case SDLK_MINUS:
	case SDLK_KP_MINUS:
		zoom_at(v, mid, 1 / ZOOM_NOTCH);
		break;
	case SDLK_PERIOD:
		step_event(v, 1);
		break;
	case SDLK_COMMA:
		step_event(v, -1);
		break;
	case SDLK_SPACE:
		v->playing = !v->playing;
		if (v->playing && (!v->has_cursor || v->cursor >= v->end))
			set_cursor(v, v->t0 > 0 ? (int64_t)v->t0 : 0);
		w->last_tick = SDL_GetTicks();
		break;
	case SDLK_p:
		v->show_panel = !v->show_panel;
		break;
	case SDLK_s: {
		snprintf(w->shot, sizeof w->shot, "timeslice-view-%d.png", ++w->shots);
		break;
	}
	case SDLK_F11: {
		bool full = SDL_GetWindowFlags(w->win) & SDL_WINDOW_FULLSCREEN_DESKTOP;
		SDL_SetWindowFullscreen(w->win, full ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
		break;
	}
	default:
		return;
	}
	w->dirty = true;
}

static void handle(struct win *w, const SDL_Event *e)
{
	struct viz *v = w->v;
	switch (e->type) {
	case SDL_QUIT:
		w->quit = true;
		break;
	case SDL_WINDOWEVENT:
		if (e->window.event == SDL_WINDOWEVENT_LEAVE)
			v->hover = false;
		w->dirty = true;
		break;
	case SDL_KEYDOWN:
		key(w, &e->key.keysym);
		break;
	case SDL_MOUSEMOTION:
		v->mx = e->motion.x;
		v->my = e->motion.y;
		v->hover = true;
		if (w->dragging) {
			double k = (w->drag_t1 - w->drag_t0) / v->L.tl_w;
			int dx = v->mx - w->press_x;
			if (abs(dx) > 2 || abs(v->my - w->press_y) > 2)
				w->moved = true;
			if (w->moved)
				viz_set_range(v, w->drag_t0 - dx * k, w->drag_t1 - dx * k);
		}
		if (v->selecting)
			v->sel_x1 = v->mx < v->L.tl_x ? v->L.tl_x
				    : v->mx > v->L.tl_x + v->L.tl_w ? v->L.tl_x + v->L.tl_w : v->mx;
		w->dirty = true;
		break;
	case SDL_MOUSEWHEEL: {
		int dy = e->wheel.y;
		if (e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED)
			dy = -dy;
		if (dy == 0)
			break;
		if (over_timeline(v, v->mx, v->my) ||
		    (v->mx >= v->L.tl_x && v->mx < v->L.tl_x + v->L.tl_w && v->my < v->L.rows_y))
			zoom_at(v, viz_t_of_x(v, v->mx), pow(ZOOM_NOTCH, dy));
		else if (v->L.panel_w && v->mx >= v->L.panel_x)
			v->out_scroll -= 3 * dy;
		else
			v->scroll -= dy * v->L.row_h * 2;
		w->dirty = true;
		break;
	}
	case SDL_MOUSEBUTTONDOWN: {
		if (e->button.button != SDL_BUTTON_LEFT)
			break;
		int x = e->button.x, y = e->button.y;
		v->mx = x;
		v->my = y;
		if (over_timeline(v, x, y)) {
			if (SDL_GetModState() & KMOD_SHIFT) {
				v->selecting = true;
				v->sel_x0 = v->sel_x1 = x;
			} else {
				w->dragging = true;
				w->moved = false;
				w->press_x = x;
				w->press_y = y;
				w->drag_t0 = v->t0;
				w->drag_t1 = v->t1;
			}
		} else if (x < v->L.label_w) {
			int row = layout_row_at(v, y);
			if (row >= 0 && (v->rows[row].kind == ROW_PROC || v->rows[row].kind == ROW_CORES))
				v->collapsed[v->rows[row].group] = !v->collapsed[v->rows[row].group];
		} else {
			int line = panel_output_at(v, x, y);
			if (line >= 0 && (size_t)line < v->nprints)
				set_cursor(v, v->prints[line].t);
		}
		w->dirty = true;
		break;
	}
	case SDL_MOUSEBUTTONUP:
		if (e->button.button != SDL_BUTTON_LEFT)
			break;
		if (v->selecting) {
			v->selecting = false;
			int a = v->sel_x0 < v->sel_x1 ? v->sel_x0 : v->sel_x1;
			int b = v->sel_x0 < v->sel_x1 ? v->sel_x1 : v->sel_x0;
			if (b - a >= 3)
				viz_set_range(v, viz_t_of_x(v, a), viz_t_of_x(v, b));
		} else if (w->dragging) {
			w->dragging = false;
			if (!w->moved)
				set_cursor(v, (int64_t)llround(viz_t_of_x(v, e->button.x)));
		}
		w->dirty = true;
		break;
	default:
		break;
	}
}

static void push_motion(int x, int y, Uint32 state)
{
	SDL_Event e = {.type = SDL_MOUSEMOTION};
	e.motion.x = x;
	e.motion.y = y;
	e.motion.state = state;
	SDL_PushEvent(&e);
}

static void push_button(Uint32 type, int x, int y)
{
	SDL_Event e = {.type = type};
	e.button.button = SDL_BUTTON_LEFT;
	e.button.state = type == SDL_MOUSEBUTTONDOWN ? SDL_PRESSED : SDL_RELEASED;
	e.button.clicks = 1;
	e.button.x = x;
	e.button.y = y;
	SDL_PushEvent(&e);
}

/* Plays the next script line: pushes its events. Returns 0, 1 at the end, -1 on a bad line. */
static int script_step(struct win *w)
{
	char line[1200];
	for (;;) {
		if (!fgets(line, sizeof line, w->script))
			return 1;
		w->script_line++;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		p[strcspn(p, "\r\n")] = 0;
		if (*p && *p != '#')
			break;
	}
	char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	snprintf(w->step, sizeof w->step, "%.150s", p);
	char cmd[32], arg[1024];
	int a, b, c, d, n = sscanf(p, "%31s", cmd);
	if (n != 1)
		return -1;
	const char *rest = p + strlen(cmd);
	if (strcmp(cmd, "motion") == 0 && sscanf(rest, "%d %d", &a, &b) == 2) {
		push_motion(a, b, 0);
	} else if (strcmp(cmd, "wheel") == 0 && sscanf(rest, "%d %d %d", &a, &b, &c) == 3) {
		push_motion(a, b, 0);
		SDL_Event e = {.type = SDL_MOUSEWHEEL};
		e.wheel.y = c;
		e.wheel.direction = SDL_MOUSEWHEEL_NORMAL;
		SDL_PushEvent(&e);
	} else if ((strcmp(cmd, "drag") == 0 || strcmp(cmd, "shiftdrag") == 0) &&
		   sscanf(rest, "%d %d %d %d", &a, &b, &c, &d) == 4) {
		bool shift = cmd[0] == 's';
		if (shift)
			SDL_SetModState(KMOD_LSHIFT);
		push_motion(a, b, 0);
		push_button(SDL_MOUSEBUTTONDOWN, a, b);
		for (int k = 1; k <= 4; k++)
			push_motion(a + (c - a) * k / 4, b + (d - b) * k / 4, SDL_BUTTON_LMASK);
		push_button(SDL_MOUSEBUTTONUP, c, d);
		w->step_pending = shift; /* the shift is released once these are handled */
	} else if (strcmp(cmd, "click") == 0 && sscanf(rest, "%d %d", &a, &b) == 2) {
		push_motion(a, b, 0);
		push_button(SDL_MOUSEBUTTONDOWN, a, b);
		push_button(SDL_MOUSEBUTTONUP, a, b);
	} else if (strcmp(cmd, "key") == 0 && sscanf(rest, "%1023s", arg) == 1) {
		/* SDL names "." and "," by the characters; words are easier to read in a file */
		const char *name = strcmp(arg, "period") == 0 ? "." : strcmp(arg, "comma") == 0 ? ","
				   : arg;
		SDL_Keycode k = SDL_GetKeyFromName(name);
		if (k == SDLK_UNKNOWN)
			return -1;
		SDL_Event e = {.type = SDL_KEYDOWN};
		e.key.state = SDL_PRESSED;
		e.key.keysym.sym = k;
		e.key.keysym.scancode = SDL_GetScancodeFromKey(k);
		SDL_PushEvent(&e);
	} else if (strcmp(cmd, "screenshot") == 0 && sscanf(rest, " %1023[^\n]", arg) == 1) {
		snprintf(w->shot, sizeof w->shot, "%s", arg);
	} else if (strcmp(cmd, "quit") == 0) {
		w->quit = true;
	} else if (strcmp(cmd, "range") != 0) {
		return -1;
	}
	w->dirty = true;
	return 0;
}

static void frame(struct win *w)
{
	viz_draw(w->v, w->ren);
	if (w->shot[0]) {
		save_png(w, w->shot);
		w->shot[0] = 0;
		viz_draw(w->v, w->ren); /* with the status line saying so */
	}
	SDL_RenderPresent(w->ren);
	w->dirty = false;
}

static void advance_play(struct win *w)
{
	struct viz *v = w->v;
	Uint32 now = SDL_GetTicks();
	double dt = (now - w->last_tick) / 1000.0;
	w->last_tick = now;
	/* the cursor crosses the view in 8 s */
	int64_t t = v->cursor + (int64_t)((v->t1 - v->t0) * dt / 8);
	if (t >= v->end) {
		t = v->end;
		v->playing = false;
	}
	v->cursor = t;
	if ((double)t > v->t1) {
		double span = v->t1 - v->t0;
		viz_set_range(v, (double)t - span * 0.1, (double)t + span * 0.9);
	}
	w->dirty = true;
}

int viz_window_run(const struct viz_input *in, const struct viz_options *opt,
		   const char *script, char *err, size_t errsize)
{
	struct win w = {.err = err, .errsize = errsize};
	if (script) {
		w.script = fopen(script, "r");
		if (!w.script) {
			snprintf(err, errsize, "cannot read the script %s: %s", script, strerror(errno));
			return -1;
		}
	}
	if (SDL_Init(SDL_INIT_VIDEO) < 0) {
		const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
		snprintf(err, errsize, "cannot open a window: %s%s (use `timeslice render` to draw a "
			 "PNG without a display)", SDL_GetError(),
			 (!disp || !*disp) && (!way || !*way) ? "; $DISPLAY is not set" : "");
		if (w.script)
			fclose(w.script);
		return -1;
	}
	/* SDL falls back to its off-screen driver when there is no display: a window nobody can
	 * see. Only a script (tests) may ask for that, by setting SDL_VIDEODRIVER itself. */
	const char *drv = SDL_GetCurrentVideoDriver(), *asked = getenv("SDL_VIDEODRIVER");
	if (drv && (strcmp(drv, "offscreen") == 0 || strcmp(drv, "dummy") == 0) &&
	    !(asked && strcmp(asked, drv) == 0 && script)) {
		snprintf(err, errsize, "cannot open a window: no display (%s; SDL found only its "
			 "\"%s\" video driver); use `timeslice render` to draw a PNG instead",
			 getenv("DISPLAY") && *getenv("DISPLAY") ? "$DISPLAY is set but unusable"
								: "$DISPLAY is not set", drv);
		SDL_Quit();
		if (w.script)
			fclose(w.script);
		return -1;
	}
	int status = -1;
	w.v = viz_create(in, opt, err, errsize);
	if (!w.v)
		goto out;
	w.v->interactive = true;
	int ww = opt->width > 0 ? opt->width : 1280, hh = opt->height > 0 ? opt->height : 760;
	SDL_Rect bounds;
	if (!opt->width && SDL_GetDisplayUsableBounds(0, &bounds) == 0) {
		if (ww > bounds.w)
			ww = bounds.w;
		if (hh > bounds.h)
			hh = bounds.h;
	}
	char title[400];
	snprintf(title, sizeof title, "timeslice — %s", w.v->title);
	w.win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, ww, hh,
				 SDL_WINDOW_RESIZABLE);
	if (!w.win) {
		snprintf(err, errsize, "cannot open a window: %s", SDL_GetError());
		goto out;
	}
	w.ren = SDL_CreateRenderer(w.win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
	if (!w.ren)
		w.ren = SDL_CreateRenderer(w.win, -1, SDL_RENDERER_SOFTWARE);
	if (!w.ren) {
		snprintf(err, errsize, "cannot draw in the window: %s", SDL_GetError());
		goto out;
	}
	SDL_GetRendererOutputSize(w.ren, &ww, &hh);
	viz_resize(w.v, ww, hh);
	w.dirty = true;
	status = 0;
	while (!w.quit) {
		SDL_Event e;
		int timeout = w.script ? 1 : w.v->playing ? 15 : 500;
		if (SDL_WaitEventTimeout(&e, timeout)) {
			handle(&w, &e);
			while (SDL_PollEvent(&e))
				handle(&w, &e);
		}
		if (w.step_pending) {
			SDL_SetModState(KMOD_NONE);
			w.step_pending = false;
		}
		int rw, rh;
		SDL_GetRendererOutputSize(w.ren, &rw, &rh);
		if (rw != w.v->w || rh != w.v->h) {
			viz_resize(w.v, rw, rh);
			w.dirty = true;
		}
		if (w.v->playing)
			advance_play(&w);
		if (w.dirty || w.shot[0])
			frame(&w);
		if (w.script && !w.quit) {
			if (w.step[0]) {
				printf("%s: range %.0f %.0f\n", w.step, w.v->t0, w.v->t1);
				fflush(stdout);
				w.step[0] = 0;
			}
			int r = script_step(&w);
			if (r < 0) {
				snprintf(err, errsize, "%s:%d: cannot read this script line: %s", script,
					 w.script_line, w.step);
				status = -1;
				break;
			}
			if (r > 0)
				w.quit = true;
		}
	}
	if (w.script && w.step[0] && status == 0) {
		printf("%s: range %.0f %.0f\n", w.step, w.v->t0, w.v->t1);
		fflush(stdout);
	}
out:
	if (w.v)
		text_cache_clear(w.v); /* before the renderer its textures belong to goes */
	if (w.ren)
		SDL_DestroyRenderer(w.ren);
	if (w.win)
		SDL_DestroyWindow(w.win);
	viz_destroy(w.v);
	SDL_Quit();
	if (w.script)
		fclose(w.script);
	return status;
}

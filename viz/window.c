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
 *     ctrldrag X0 Y0 X1 Y1   the same with ctrl held: markers A and B at the ends
 *     click X Y              press and release without moving
 *     ctrlclick X Y          the same with ctrl held (marker A); altclick X Y: marker B
 *     key NAME               a key by its SDL name: F, Home, Left, Right, Space, H, F11...,
 *                            or period / comma / slash / leftbracket / rightbracket; a
 *                            "shift+" or "ctrl+" before it holds that modifier
 *     type TEXT              type TEXT (text input, as into the search)
 *     screenshot FILE        save the window as it is now to a PNG file
 *     range                  print the range only
 *     state                  print "state: " and the view's state as key=value words
 *                            (cursor, markers, search, matches, arrows, rows, machine)
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
	bool dragging, moved, marking;
	bool search_fresh;       /* the search just opened: the '/' typed to open it is not text */
	int press_x, press_y;
	double drag_t0, drag_t1;
	Uint32 last_tick;
	FILE *script;
	int script_line;
	char step[160];          /* the script line being played, for the printed range */
	bool step_pending;
	char shot[1024];         /* a screenshot to save at the next frame */
	bool print_state;        /* print the state line after this step */
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

/* Change and rerun: the setting, one step in dir; the view keeps its range. */
static void rerun(struct win *w, const char *what, int dir)
{
	struct viz *v = w->v;
	if (!v->rerun) {
		snprintf(v->status, sizeof v->status, "rerun: only a scenario can be rerun");
		return;
	}
	double t0 = v->t0, t1 = v->t1;
	struct viz_input in;
	char msg[256];
	if (v->rerun(v->rerun_ctx, what, dir, &in, msg, sizeof msg) < 0) {
		snprintf(v->status, sizeof v->status, "%s", msg);
		return;
	}
	char err[256];
	text_cache_clear(v); /* labels change */
	if (viz_set_input(v, &in, err, sizeof err) < 0) {
		snprintf(v->status, sizeof v->status, "%s", err);
		return;
	}
	v->t0 = t0;
	v->t1 = t1;
	viz_set_range(v, t0, t1);
	snprintf(v->status, sizeof v->status, "rerun: %.240s", msg);
}

/* The time a marker key puts a marker at: the cursor, else the mouse, else the view's middle. */
static int64_t marker_time(const struct viz *v)
{
	if (v->has_cursor)
		return v->cursor;
	if (v->hover && v->mx >= v->L.tl_x && v->mx < v->L.tl_x + v->L.tl_w)
		return (int64_t)llround(viz_t_of_x(v, v->mx));
	return (int64_t)llround((v->t0 + v->t1) / 2);
}

static void set_marker(struct viz *v, int which, int64_t t, bool toggle)
{
	bool *has = which ? &v->has_b : &v->has_a;
	int64_t *m = which ? &v->mark_b : &v->mark_a;
	if (toggle && *has && *m == t)
		*has = false;
	else
		*has = true, *m = t;
}

/* Keys while typing a search. */
static bool search_key(struct win *w, const SDL_Keysym *k)
{
	struct viz *v = w->v;
	if (!v->searching)
		return false;
	size_t n = strlen(v->search);
	switch (k->sym) {
	case SDLK_RETURN:
	case SDLK_KP_ENTER:
		v->searching = false;
		SDL_StopTextInput();
		break;
	case SDLK_ESCAPE:
		v->searching = false;
		v->search[0] = 0;
		SDL_StopTextInput();
		break;
	case SDLK_BACKSPACE:
		while (n > 0 && (v->search[n - 1] & 0xC0) == 0x80) /* a whole UTF-8 character */
			n--;
		if (n > 0)
			v->search[n - 1] = 0;
		break;
	default:
		return true; /* typed characters come as text input */
	}
	w->dirty = true;
	return true;
}

static void key(struct win *w, const SDL_Keysym *k)
{
	struct viz *v = w->v;
	if (search_key(w, k))
		return;
	double span = v->t1 - v->t0, mid = (v->t0 + v->t1) / 2;
	bool shift = k->mod & KMOD_SHIFT;
	int dir = shift ? -1 : 1;
	switch (k->sym) {
	case SDLK_q:
		w->quit = true;
		break;
	case SDLK_ESCAPE:
		if (v->show_help)
			v->show_help = false;
		else if (v->search[0])
			v->search[0] = 0;
		else
			v->has_cursor = v->playing = false;
		break;
	case SDLK_h:
	case SDLK_QUESTION:
		v->show_help = !v->show_help;
		break;
	case SDLK_SLASH:
		if (shift) {
			v->show_help = !v->show_help;
		} else {
			v->searching = true;
			v->search[0] = 0;
			w->search_fresh = true;
			SDL_StartTextInput();
		}
		break;
	case SDLK_a:
	case SDLK_b:
		set_marker(v, k->sym == SDLK_b, marker_time(v), true);
		break;
	case SDLK_w:
		v->show_arrows = !v->show_arrows;
		break;
	case SDLK_o:
		v->active_only = !v->active_only;
		break;
	case SDLK_c:
		rerun(w, "cores", dir);
		break;
	case SDLK_p:
		rerun(w, "policy", dir);
		break;
	case SDLK_RIGHTBRACKET:
		rerun(w, "quantum", 1);
		break;
	case SDLK_LEFTBRACKET:
		rerun(w, "quantum", -1);
		break;
	case SDLK_g:
		rerun(w, "gil", dir);
		break;
	case SDLK_i:
		rerun(w, "switch-interval", dir);
		break;
	case SDLK_r:
		rerun(w, "seed", dir);
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
	case SDLK_TAB:
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
	case SDL_TEXTINPUT:
		if (v->searching && w->search_fresh && strcmp(e->text.text, "/") == 0) {
			w->search_fresh = false;
		} else if (v->searching) {
			w->search_fresh = false;
			size_t n = strlen(v->search), add = strlen(e->text.text);
			if (n + add < sizeof v->search)
				memcpy(v->search + n, e->text.text, add + 1);
			w->dirty = true;
		}
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
		SDL_Keymod mod = SDL_GetModState();
		if (over_timeline(v, x, y) && (mod & (KMOD_CTRL | KMOD_ALT))) {
			/* ctrl: marker A (ctrl+drag: A and B at the ends); alt: marker B */
			int64_t t = (int64_t)llround(viz_t_of_x(v, x));
			set_marker(v, (mod & KMOD_CTRL) ? 0 : 1, t, false);
			if (mod & KMOD_CTRL) {
				w->marking = true;
				v->selecting = true;
				v->sel_x0 = v->sel_x1 = x;
			}
		} else if (over_timeline(v, x, y)) {
			if (mod & KMOD_SHIFT) {
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
			if (row >= 0 && row_is_head(v->rows[row].kind))
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
		if (v->selecting && w->marking) {
			v->selecting = w->marking = false;
			int a = v->sel_x0 < v->sel_x1 ? v->sel_x0 : v->sel_x1;
			int b = v->sel_x0 < v->sel_x1 ? v->sel_x1 : v->sel_x0;
			if (b - a >= 3) {
				set_marker(v, 0, (int64_t)llround(viz_t_of_x(v, a)), false);
				set_marker(v, 1, (int64_t)llround(viz_t_of_x(v, b)), false);
			}
		} else if (v->selecting) {
			v->selecting = false;
			int a = v->sel_x0 < v->sel_x1 ? v->sel_x0 : v->sel_x1;
			int b = v->sel_x0 < v->sel_x1 ? v->sel_x1 : v->sel_x0;
			if (b - a >= 3)
				viz_set_range(v, viz_t_of_x(v, a), viz_t_of_x(v, b));
		} else if (w->dragging) {
			w->dragging = false;
			if (!w->moved) {
				set_cursor(v, (int64_t)llround(viz_t_of_x(v, e->button.x)));
				v->sel_row = layout_row_at(v, e->button.y);
			}
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
	} else if ((strcmp(cmd, "drag") == 0 || strcmp(cmd, "shiftdrag") == 0 ||
		    strcmp(cmd, "ctrldrag") == 0) &&
		   sscanf(rest, "%d %d %d %d", &a, &b, &c, &d) == 4) {
		bool shift = cmd[0] == 's' || cmd[0] == 'c';
		if (shift)
			SDL_SetModState(cmd[0] == 's' ? KMOD_LSHIFT : KMOD_LCTRL);
		push_motion(a, b, 0);
		push_button(SDL_MOUSEBUTTONDOWN, a, b);
		for (int k = 1; k <= 4; k++)
			push_motion(a + (c - a) * k / 4, b + (d - b) * k / 4, SDL_BUTTON_LMASK);
		push_button(SDL_MOUSEBUTTONUP, c, d);
		w->step_pending = shift; /* the shift is released once these are handled */
	} else if ((strcmp(cmd, "click") == 0 || strcmp(cmd, "ctrlclick") == 0 ||
		    strcmp(cmd, "altclick") == 0) && sscanf(rest, "%d %d", &a, &b) == 2) {
		if (cmd[0] != 'c' || cmd[1] != 'l') {
			SDL_SetModState(cmd[0] == 'c' ? KMOD_LCTRL : KMOD_LALT);
			w->step_pending = true;
		}
		push_motion(a, b, 0);
		push_button(SDL_MOUSEBUTTONDOWN, a, b);
		push_button(SDL_MOUSEBUTTONUP, a, b);
	} else if (strcmp(cmd, "key") == 0 && sscanf(rest, "%1023s", arg) == 1) {
		Uint16 mod = 0;
		char *name = arg;
		if (strncmp(name, "shift+", 6) == 0)
			mod = KMOD_LSHIFT, name += 6;
		else if (strncmp(name, "ctrl+", 5) == 0)
			mod = KMOD_LCTRL, name += 5;
		/* SDL names punctuation by the characters; words are easier to read in a file */
		static const char *const words[][2] = {{"period", "."}, {"comma", ","}, {"slash", "/"},
						       {"leftbracket", "["}, {"rightbracket", "]"}};
		for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
			if (strcmp(name, words[i][0]) == 0)
				name = (char *)words[i][1];
		SDL_Keycode k = SDL_GetKeyFromName(name);
		if (k == SDLK_UNKNOWN)
			return -1;
		SDL_Event e = {.type = SDL_KEYDOWN};
		e.key.state = SDL_PRESSED;
		e.key.keysym.sym = k;
		e.key.keysym.mod = mod;
		e.key.keysym.scancode = SDL_GetScancodeFromKey(k);
		SDL_PushEvent(&e);
	} else if (strcmp(cmd, "type") == 0 && sscanf(rest, " %1023[^\n]", arg) == 1) {
		/* one event per character, as a keyboard sends them */
		for (const char *q = arg; *q; q++) {
			SDL_Event e = {.type = SDL_TEXTINPUT};
			e.text.text[0] = *q;
			SDL_PushEvent(&e);
		}
	} else if (strcmp(cmd, "state") == 0) {
		w->print_state = true;
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

static void print_state(struct win *w)
{
	struct viz *v = w->v;
	int threads = 0;
	for (int i = 0; i < v->nvis; i++)
		threads += v->rows[v->vis[i].row].kind == ROW_THREAD;
	printf("state: cursor=%lld a=%lld b=%lld search='%s' matches=%d arrows=%d rows=%d "
	       "threads=%d source_line=%d end=%lld subtitle='%s' status='%s'\n",
	       v->has_cursor ? (long long)v->cursor : -1LL, v->has_a ? (long long)v->mark_a : -1LL,
	       v->has_b ? (long long)v->mark_b : -1LL, v->search, v->nmatch, v->arrows_shown, v->nvis,
	       threads, v->src_hl, (long long)v->end, v->subtitle, v->status);
	fflush(stdout);
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
	SDL_StopTextInput(); /* text only while typing a search */
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
			if (w.print_state) {
				print_state(&w);
				w.print_state = false;
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

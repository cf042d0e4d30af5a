/* view.c — `timeslice view` (the window) and `timeslice render` (a PNG file): load a scenario
 * and simulate it as `timeslice run` does, or load a saved Chrome trace, then hand the trace to
 * viz/. Built without SDL2 (-Dgui=disabled), both commands say so and fail. */
#include "view.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "profile.h"
#include "scenario.h"
#include "trace.h"
#include "trace_load.h"
#ifdef HAVE_VIZ
#include "real.h"
#include "viz.h"
#endif

/* Exit statuses as `timeslice run` has them. */
enum { ST_OK = 0, ST_FAILED = 1, ST_USAGE = 2 };

struct view_args {
	const char *input, *output, *script;
	int width, height;
	const char *from, *to;
	const char *profile;  /* --machine FILE, or NULL */
	bool projector, no_panel, real;
	char flags[8][2][64]; /* machine flags, applied after the scenario's own settings */
	int nflags;
};

static const char render_usage[] =
	"usage: timeslice render SCENARIO|TRACE.json -o OUT.png [options]\n"
	"  -o, --output FILE   the PNG to write\n"
	"  --width N           picture width in pixels (default 1400)\n"
	"  --height N          height (default: tall enough for every row)\n"
	"  --from D, --to D    the time range shown, e.g. --from 10ms --to 40ms\n"
	"  --projector         large type, high contrast, colour-blind-safe colours\n"
	"  --no-panel          leave out the side panel (summary and program output)\n"
	"  --real              run the scenario for real too; its rows below, on the same axis\n"
	"  --cores N, --policy P, --quantum D, --seed N, --until D, --max-events N\n"
	"                      the machine, as for `timeslice run` (scenarios only)\n"
	"  --machine FILE      a machine profile (`timeslice calibrate -o FILE`), applied first\n";

static const char view_usage[] =
	"usage: timeslice view SCENARIO|TRACE.json [options]\n"
	"  opens the timeline in a window (H in the window lists the keys)\n"
	"  --width N, --height N, --from D, --to D, --projector, --no-panel, --real: as for render\n"
	"  --cores N, --policy P, --quantum D, --seed N, --until D, --max-events N\n"
	"                      the machine, as for `timeslice run` (scenarios only)\n"
	"  --machine FILE      a machine profile (`timeslice calibrate -o FILE`), applied first\n";

static int parse_int(const char *flag, const char *val, int lo, int hi, int *out)
{
	char *end;
	long n = strtol(val, &end, 10);
	if (!*val || *end || n < lo || n > hi) {
		fprintf(stderr, "timeslice: %s: expected a number from %d to %d, found '%s'\n", flag,
			lo, hi, val);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int parse_args(int argc, char **argv, bool render, struct view_args *a)
{
	memset(a, 0, sizeof *a);
	static const char *const machine_flags[] = {"cores", "policy", "quantum", "seed", "until",
						   "max-events"};
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (arg[0] != '-') {
			if (a->input) {
				fprintf(stderr, "timeslice %s: give one scenario or trace, not '%s' too\n",
					argv[1], arg);
				return -1;
			}
			a->input = arg;
			continue;
		}
		if (strcmp(arg, "--projector") == 0) {
			a->projector = true;
			continue;
		}
		if (strcmp(arg, "--no-panel") == 0) {
			a->no_panel = true;
			continue;
		}
		if (strcmp(arg, "--real") == 0) {
			a->real = true;
			continue;
		}
		char name[64];
		const char *eq = strchr(arg, '=');
		snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - arg) : 63, arg);
		const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		bool known = strcmp(name, "--width") == 0 || strcmp(name, "--height") == 0 ||
			     strcmp(name, "--machine") == 0 ||
			     strcmp(name, "--from") == 0 || strcmp(name, "--to") == 0 ||
			     (render && (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0)) ||
			     (!render && strcmp(name, "--script") == 0);
		int mf = -1;
		for (int k = 0; k < 6; k++)
			if (strncmp(name, "--", 2) == 0 && strcmp(name + 2, machine_flags[k]) == 0)
				mf = k;
		if (!known && mf < 0) {
			fprintf(stderr, "timeslice %s: unknown option '%s'\n%s", argv[1], arg,
				render ? render_usage : view_usage);
			return -1;
		}
		if (!val) {
			fprintf(stderr, "timeslice %s: %s needs a value\n", argv[1], name);
			return -1;
		}
		if (mf >= 0) {
			if (a->nflags == 8) {
				fprintf(stderr, "timeslice: too many machine flags\n");
				return -1;
			}
			struct machine probe;
			char err[256];
			machine_defaults(&probe);
			if (machine_set(&probe, machine_flags[mf], val, err, sizeof err) < 0) {
				fprintf(stderr, "timeslice: --%s\n", err);
				return -1;
			}
			snprintf(a->flags[a->nflags][0], 64, "%s", machine_flags[mf]);
			snprintf(a->flags[a->nflags][1], 64, "%s", val);
			a->nflags++;
		} else if (strcmp(name, "--width") == 0) {
			if (parse_int("--width", val, 200, 16384, &a->width) < 0)
				return -1;
		} else if (strcmp(name, "--height") == 0) {
			if (parse_int("--height", val, 150, 16384, &a->height) < 0)
				return -1;
		} else if (strcmp(name, "--from") == 0) {
			a->from = val;
		} else if (strcmp(name, "--to") == 0) {
			a->to = val;
		} else if (strcmp(name, "--script") == 0) {
			a->script = val;
		} else if (strcmp(name, "--machine") == 0) {
			a->profile = val;
		} else {
			a->output = val;
		}
	}
	if (!a->input) {
		fprintf(stderr, "timeslice %s: give a scenario (a file or bundled id) or a trace "
			"(.json)\n%s", argv[1], render ? render_usage : view_usage);
		return -1;
	}
	if (render && !a->output) {
		fprintf(stderr, "timeslice render: give the PNG to write with -o FILE\n%s", render_usage);
		return -1;
	}
	return 0;
}

#ifdef HAVE_VIZ
/* The run to show: a simulated scenario or a loaded trace, with its title lines. */
struct loaded {
	struct trace *tr;
	struct metrics *m;
	char title[320], subtitle[320];
	struct trace *real;          /* --real: the real run, or NULL */
	bool have_scenario;
	struct scenario s;           /* kept for reruns and its source text */
	struct machine mach;         /* the machine of the run shown */
	struct trace *old_tr;        /* the run shown before the last rerun (the view may still */
	struct metrics *old_m;       /* read it until it has switched) */
	uint64_t seed0;
};

/* "10 ms", "2.5 s", "750 us": a machine setting as a user writes it */
static const char *short_time(char *buf, size_t size, int64_t ns)
{
	static const struct {
		int64_t div;
		const char *unit;
	} units[] = {{1000000000, "s"}, {1000000, "ms"}, {1000, "us"}, {1, "ns"}};
	size_t u = 0;
	while (u < 3 && ns < units[u].div)
		u++;
	snprintf(buf, size, "%g %s", (double)ns / (double)units[u].div, units[u].unit);
	return buf;
}

static void loaded_free(struct loaded *l);

/* The subtitle: the machine of the run shown. */
static void machine_line(struct loaded *l)
{
	const struct machine *m = &l->mach;
	char q[64] = "", g[96] = "", sd[48] = "", t[32];
	if (m->policy == POLICY_RR)
		snprintf(q, sizeof q, ", quantum %s", short_time(t, sizeof t, m->quantum));
	if (m->gil != GIL_NONE)
		snprintf(g, sizeof g, ", GIL %s (switch interval %s)", m->gil == GIL_PY3 ? "py3" : "py2",
			 short_time(t, sizeof t, m->switch_interval));
	if (m->seed != l->seed0)
		snprintf(sd, sizeof sd, ", seed %llu", (unsigned long long)m->seed);
	char hosts[256] = "";
	const char *semi = NULL;
	if (m->nhosts > 1) { /* "; host worker: 2 cores, rr" from machine_describe */
		char all[512];
		machine_describe(m, all, sizeof all);
		semi = strchr(all, ';');
		snprintf(hosts, sizeof hosts, "%s", semi ? semi : "");
	}
	snprintf(l->subtitle, sizeof l->subtitle, "%d core%s, %s%s%s%s%s", m->cores,
		 m->cores == 1 ? "" : "s", policy_name(m->policy), q, g, sd, hosts);
}

/* --real: the same program run for real on this machine (as `timeslice real` does, on at most
 * the cores this process may use), shown below the simulated run. */
static int run_real(struct loaded *l)
{
	struct diag d;
	if (real_check(l->s.ast, &l->mach, &d) < 0) {
		diag_print(&d, stderr);
		return -1;
	}
	struct real_options o;
	real_options_default(&o);
	int avail = real_cores_available();
	o.cores = l->mach.cores < avail ? l->mach.cores : avail;
	o.gil = l->mach.gil == GIL_NONE ? REAL_GIL_NONE : REAL_GIL_PY3;
	o.switch_interval = l->mach.switch_interval;
	int64_t timeout = 3 * l->tr->makespan + 2000000000LL;
	o.timeout = timeout > 60000000000LL ? 60000000000LL : timeout;
	o.until = l->mach.until;
	o.seed = l->mach.seed;
	o.max_records = l->mach.max_records;
	struct real_report rep;
	l->real = real_run(l->s.ast, l->s.prog, &l->mach, &o, &rep, &d);
	if (!l->real) {
		diag_print(&d, stderr);
		return -1;
	}
	if (rep.notes[0])
		fprintf(stderr, "timeslice: real run: %s\n", rep.notes);
	if (l->mach.gil == GIL_PY2)
		fprintf(stderr, "timeslice: real run: the real GIL follows py3 (there is no real py2 "
			"GIL)\n");
	return 0;
}

static const char *const gil_names[] = {"none", "py3", "py2"};

/* viz_rerun_fn: one machine setting a step up or down, and the scenario simulated again. */
static int rerun(void *ctx, const char *key, int dir, struct viz_input *in, char *msg,
		 size_t msgsize)
{
	struct loaded *l = ctx;
	struct machine m = l->mach;
	char val[64], err[256];
	if (strcmp(key, "cores") == 0) {
		snprintf(val, sizeof val, "%d", m.cores + dir);
	} else if (strcmp(key, "policy") == 0) {
		snprintf(val, sizeof val, "%s",
			 policy_name((enum policy)((m.policy + dir + POLICY_COUNT) % POLICY_COUNT)));
	} else if (strcmp(key, "quantum") == 0 || strcmp(key, "switch-interval") == 0) {
		int64_t cur = key[0] == 'q' ? m.quantum : m.switch_interval;
		snprintf(val, sizeof val, "%lldns", (long long)(dir > 0 ? cur * 2 : cur / 2));
	} else if (strcmp(key, "gil") == 0) {
		int g = m.gil == GIL_NONE ? 0 : m.gil == GIL_PY3 ? 1 : 2;
		snprintf(val, sizeof val, "%s", gil_names[(g + dir + 3) % 3]);
	} else if (strcmp(key, "seed") == 0) {
		if (dir < 0 && m.seed == 0) {
			snprintf(msg, msgsize, "seed: already 0");
			return -1;
		}
		snprintf(val, sizeof val, "%llu", (unsigned long long)(m.seed + (uint64_t)(int64_t)dir));
	} else {
		snprintf(msg, msgsize, "cannot change %s", key);
		return -1;
	}
	if (machine_set(&m, key, val, err, sizeof err) < 0) {
		snprintf(msg, msgsize, "%s", err);
		return -1;
	}
	if (strcmp(key, "gil") == 0)
		m.python[0] = 0; /* set on its own now */
	struct diag d;
	struct trace *tr = sim_run(l->s.ast, l->s.prog, &m, &d);
	struct metrics *mt = tr ? metrics_compute(tr) : NULL;
	if (!tr || !mt) {
		snprintf(msg, msgsize, "%s: %s", tr ? "out of memory" : d.msg, key);
		trace_destroy(tr);
		return -1;
	}
	trace_destroy(l->old_tr);
	metrics_destroy(l->old_m);
	l->old_tr = l->tr;
	l->old_m = l->m;
	l->tr = tr;
	l->m = mt;
	l->mach = m;
	machine_line(l);
	*in = (struct viz_input){.tr = l->tr, .m = l->m, .title = l->title, .subtitle = l->subtitle,
				 .real = l->real, .source = l->s.src->text, .rerun = rerun,
				 .rerun_ctx = l};
	bool doubling = strcmp(key, "quantum") == 0 || strcmp(key, "switch-interval") == 0;
	snprintf(msg, msgsize, "%s %s", key, doubling ? (dir > 0 ? "doubled" : "halved") : val);
	return 0;
}

static int load_input(const struct view_args *a, struct loaded *out)
{
	memset(out, 0, sizeof *out);
	struct diag d;
	if (trace_load_is_json_file(a->input)) {
		if (a->nflags > 0) {
			fprintf(stderr, "timeslice: --%s applies to scenarios, not to a saved trace\n",
				a->flags[0][0]);
			return ST_USAGE;
		}
		out->tr = trace_load_chrome(a->input, &d);
		if (!out->tr) {
			diag_print(&d, stderr);
			return ST_USAGE;
		}
		const char *src = out->tr->source_name;
		snprintf(out->title, sizeof out->title, "%s", src);
		if (strcmp(src, a->input) != 0)
			snprintf(out->subtitle, sizeof out->subtitle, "from %s", a->input);
	} else {
		struct scenario s;
		if (scenario_load(a->input, &s) < 0)
			return ST_USAGE;
		struct machine m;
		machine_defaults(&m);
		static struct profile prof; /* large: not on the stack */
		if (a->profile) { /* defaults, then the profile, then the scenario's own lines */
			if (profile_load(&prof, a->profile, &d) < 0) {
				diag_print(&d, stderr);
				scenario_free(&s);
				return ST_USAGE;
			}
			m = prof.m;
		}
		if (machine_apply_ast(&m, s.ast, &d) < 0 || machine_apply_run_lines(&m, s.src, &d) < 0) {
			diag_print(&d, stderr);
			scenario_free(&s);
			return ST_USAGE;
		}
		for (int i = 0; i < a->nflags; i++) {
			char err[256];
			if (machine_set(&m, a->flags[i][0], a->flags[i][1], err, sizeof err) < 0) {
				fprintf(stderr, "timeslice: --%s\n", err);
				scenario_free(&s);
				return ST_USAGE;
			}
		}
		out->tr = sim_run(s.ast, s.prog, &m, &d);
		if (!out->tr) {
			diag_print(&d, stderr);
			scenario_free(&s);
			return ST_FAILED;
		}
		snprintf(out->title, sizeof out->title, "%s", s.id ? s.id : s.src->name);
		out->s = s;
		out->have_scenario = true;
		out->mach = m;
		out->seed0 = m.seed;
		machine_line(out);
		if (a->real && run_real(out) < 0) {
			trace_destroy(out->tr);
			scenario_free(&out->s);
			out->tr = NULL;
			return ST_FAILED;
		}
	}
	if (a->real && !out->have_scenario) {
		fprintf(stderr, "timeslice: --real runs a scenario; a saved trace cannot be run\n");
		trace_destroy(out->tr);
		out->tr = NULL;
		return ST_USAGE;
	}
	out->m = metrics_compute(out->tr);
	if (!out->m) {
		fprintf(stderr, "timeslice: out of memory\n");
		loaded_free(out);
		memset(out, 0, sizeof *out);
		return ST_FAILED;
	}
	return ST_OK;
}

static void loaded_free(struct loaded *l)
{
	metrics_destroy(l->m);
	trace_destroy(l->tr);
	metrics_destroy(l->old_m);
	trace_destroy(l->old_tr);
	trace_destroy(l->real);
	if (l->have_scenario)
		scenario_free(&l->s);
}

#endif

static int time_flag(const char *flag, const char *val, int64_t *ns)
{
	if (!val)
		return 0;
	if (parse_duration(val, ns) < 0 || *ns < 0) {
		fprintf(stderr, "timeslice: %s: expected a time such as 20ms or 1.5s, found '%s'\n",
			flag, val);
		return -1;
	}
	return 0;
}

static int run(int argc, char **argv, bool render)
{
	const char *cmd = render ? "render" : "view";
	/* for scripts (run.sh): whether this build has the window, silently */
	if (argc == 3 && strcmp(argv[2], "--window-built") == 0) {
#ifdef HAVE_VIZ
		return ST_OK;
#else
		return ST_FAILED;
#endif
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(render ? render_usage : view_usage, stdout);
			return ST_OK;
		}
	struct view_args a;
	if (parse_args(argc, argv, render, &a) < 0)
		return ST_USAGE;
	int64_t from = 0, to = 0;
	if (time_flag("--from", a.from, &from) < 0 || time_flag("--to", a.to, &to) < 0)
		return ST_USAGE;
	if (a.from && a.to && to <= from) {
		fprintf(stderr, "timeslice %s: --to must be after --from\n", cmd);
		return ST_USAGE;
	}
#ifndef HAVE_VIZ
	fprintf(stderr, "timeslice %s: this timeslice was built without the window and the PNG "
		"renderer (SDL2, SDL2_ttf or SDL2_image was missing); install them "
		"(bash scripts/deps.sh gui) and rebuild (meson setup --reconfigure build "
		"-Dgui=enabled)\n", cmd);
	return ST_FAILED;
#else
	struct loaded l;
	int st = load_input(&a, &l);
	if (st != ST_OK)
		return st;
	if (a.from && !a.to)
		to = l.tr->makespan > from ? l.tr->makespan : from + 1;
	struct viz_input in = {.tr = l.tr, .m = l.m, .title = l.title, .subtitle = l.subtitle,
			       .real = l.real};
	if (l.have_scenario) {
		in.source = l.s.src->text;
		in.rerun = rerun;
		in.rerun_ctx = &l;
	}
	struct viz_options opt = {.width = a.width, .height = a.height, .from = from, .to = to,
				  .projector = a.projector, .no_panel = a.no_panel};
	char err[512];
	int rc = render ? viz_render_png(&in, &opt, a.output, err, sizeof err)
			: viz_window_run(&in, &opt, a.script, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "timeslice %s: %s\n", cmd, err);
		st = ST_FAILED;
	}
	loaded_free(&l);
	return st;
#endif
}

int cmd_render(int argc, char **argv)
{
	return run(argc, argv, true);
}

int cmd_view(int argc, char **argv)
{
	return run(argc, argv, false);
}

/* real_cmd.c — `timeslice real` runs a scenario for real (real/real.h) and prints it as `run`
 * prints a simulation; `timeslice compare` runs the simulation and the real run (median of
 * --runs) and prints, per thread and overall, simulated, real, difference and relative
 * difference; `timeslice calibrate` measures this machine's costs into a machine profile. */
#include "real_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "profile.h"
#include "real.h"
#include "scenario.h"
#include "trace.h"
#include "vm.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_DEADLOCK = 3, EXIT_LIMIT = 4 };

#define TIMEOUT_CAP 60000000000LL

struct real_args {
	const char *name;
	int cores;                /* 0 = the scenario's machine line, else all */
	int policy;               /* -1 = OS default */
	enum real_gil gil;
	bool gil_given;           /* --gil; else the scenario's (python=3.x or gil=py3: py3) */
	int64_t switch_interval;
	int64_t timeout;          /* 0 = from the simulated makespan */
	const char *seed, *until;
	const char *trace_file;
	bool json, no_gantt;
	int width, color;
	int runs;                 /* compare */
	double tolerance;         /* compare, percent */
	const char *profile_path; /* --machine FILE */
	struct profile profile;   /* loaded from it (when profile_path) */
};

static int usage(const char *cmd, bool help)
{
	FILE *out = help ? stdout : stderr;
	if (strcmp(cmd, "compare") == 0)
		fprintf(out,
			"usage: timeslice compare SCENARIO [--runs K] [--tolerance PCT] [--cores N]\n"
			"                         [--gil none|py3] [--policy rr|fifo] [--timeout D] [--seed N]\n"
			"                         [--machine FILE] [--json]\n");
	else
		fprintf(out,
			"usage: timeslice real SCENARIO [--cores N] [--gil none|py3] [--switch-interval D]\n"
			"                      [--policy rr|fifo] [--timeout D] [--until D] [--seed N]\n"
			"                      [--machine FILE] [--trace FILE] [--json] [--no-gantt] [--width N]\n"
			"                      [--color WHEN]\n");
	if (help)
		fprintf(out, "See docs/real.md. The default --timeout is 3x the simulated makespan + 2 s "
			     "(at most 60 s); --cores defaults to the scenario's machine line, else every "
			     "core. --machine FILE: a machine profile (`timeslice calibrate`) for the "
			     "simulated side, under the scenario's own machine line.\n");
	return help ? EXIT_OK : EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct real_args *a)
{
	const char *cmd = argv[1];
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	*a = (struct real_args){.policy = -1, .gil = REAL_GIL_NONE, .color = -1, .runs = 5,
				.tolerance = 10.0};
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		if (s[0] != '-') {
			if (a->name) {
				fprintf(stderr, "timeslice %s: give one scenario\n", cmd);
				return -1;
			}
			a->name = s;
			continue;
		}
		if (strcmp(s, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (strcmp(s, "--no-gantt") == 0) {
			a->no_gantt = true;
			continue;
		}
		char flag[64];
		const char *eq = strchr(s, '=');
		snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - s) : 63, s);
		const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v) {
			fprintf(stderr, "timeslice %s: %s needs a value\n", cmd, flag);
			return -1;
		}
		char *end = NULL;
		if (strcmp(flag, "--cores") == 0) {
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > MACHINE_MAX_CORES) {
				fprintf(stderr, "timeslice %s: --cores: expected 1 to %d, found '%s'\n", cmd,
					MACHINE_MAX_CORES, v);
				return -1;
			}
			a->cores = (int)n;
		} else if (strcmp(flag, "--gil") == 0) {
			a->gil_given = true;
			if (strcmp(v, "none") == 0)
				a->gil = REAL_GIL_NONE;
			else if (strcmp(v, "py3") == 0)
				a->gil = REAL_GIL_PY3;
			else {
				fprintf(stderr, "timeslice %s: --gil: expected none or py3, found '%s'\n", cmd, v);
				return -1;
			}
		} else if (strcmp(flag, "--policy") == 0) {
			if (strcmp(v, "rr") == 0)
				a->policy = POLICY_RR;
			else if (strcmp(v, "fifo") == 0)
				a->policy = POLICY_FIFO;
			else {
				fprintf(stderr, "timeslice %s: --policy: expected rr or fifo, found '%s'\n", cmd, v);
				return -1;
			}
		} else if (strcmp(flag, "--timeout") == 0 || strcmp(flag, "--switch-interval") == 0) {
			int64_t ns;
			if (parse_duration(v, &ns) < 0 || ns <= 0) {
				fprintf(stderr, "timeslice %s: %s: expected a positive duration such as 5s, found '%s'\n",
					cmd, flag, v);
				return -1;
			}
			if (flag[2] == 't')
				a->timeout = ns;
			else
				a->switch_interval = ns;
		} else if (strcmp(flag, "--seed") == 0) {
			a->seed = v;
		} else if (strcmp(flag, "--machine") == 0) {
			a->profile_path = v;
		} else if (strcmp(flag, "--until") == 0 && strcmp(cmd, "real") == 0) {
			a->until = v;
		} else if (strcmp(flag, "--trace") == 0 && strcmp(cmd, "real") == 0) {
			a->trace_file = v;
		} else if (strcmp(flag, "--width") == 0 && strcmp(cmd, "real") == 0) {
			long w = strtol(v, &end, 10);
			if (*end || w < 40 || w > 10000) {
				fprintf(stderr, "timeslice real: --width: expected 40 to 10000, found '%s'\n", v);
				return -1;
			}
			a->width = (int)w;
		} else if (strcmp(flag, "--color") == 0 && strcmp(cmd, "real") == 0) {
			a->color = strcmp(v, "always") == 0 ? 1 : strcmp(v, "never") == 0 ? 0
				 : strcmp(v, "auto") == 0 ? -1 : -2;
			if (a->color == -2) {
				fprintf(stderr, "timeslice real: --color: expected auto, always or never, found '%s'\n", v);
				return -1;
			}
		} else if (strcmp(flag, "--runs") == 0 && strcmp(cmd, "compare") == 0) {
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 1000) {
				fprintf(stderr, "timeslice compare: --runs: expected 1 to 1000, found '%s'\n", v);
				return -1;
			}
			a->runs = (int)n;
		} else if (strcmp(flag, "--tolerance") == 0 && strcmp(cmd, "compare") == 0) {
			double t = strtod(v, &end);
			if (*end == '%')
				end++;
			if (*end || !(t >= 0)) {
				fprintf(stderr, "timeslice compare: --tolerance: expected a percentage such as 10, found '%s'\n", v);
				return -1;
			}
			a->tolerance = t;
		} else {
			fprintf(stderr, "timeslice %s: unknown option '%s'\n", cmd, s);
			return -1;
		}
	}
	if (!a->name) {
		fprintf(stderr, "timeslice %s: give one scenario (a file or a bundled id)\n", cmd);
		return -1;
	}
	return 0;
}

/* The flags of a real run or compare that set the machine (--seed, --until); returns how many. */
static int flags_of(const struct real_args *a, struct profile_flag flags[2])
{
	int n = 0;
	if (a->seed)
		flags[n++] = (struct profile_flag){"seed", a->seed};
	if (a->until)
		flags[n++] = (struct profile_flag){"until", a->until};
	return n;
}

/* The machine of the scenario: base (the defaults, or the profile), its machine line, its
 * # run: lines, --seed, --until. */
static int machine_of(const struct real_args *a, const struct scenario *s,
		      const struct machine *base, struct machine *m)
{
	struct diag d;
	struct profile_flag flags[2];
	if (profile_machine_for(base, s->ast, s->src, flags, flags_of(a, flags), m, &d) < 0) {
		diag_print(&d, stderr);
		return -1;
	}
	return 0;
}

/* The cores of the real run: --cores, else the machine line's, else every core we may use. */
static int cores_of(const struct real_args *a, const struct scenario *s)
{
	int avail = real_cores_available();
	if (a->cores > 0) {
		if (a->cores > avail) {
			fprintf(stderr, "timeslice: --cores %d: this machine has %d core%s for this run\n",
				a->cores, avail, avail == 1 ? "" : "s");
			return -1;
		}
		return a->cores;
	}
	int line = 0, col = 0;
	int want = real_machine_cores(s->ast, &line, &col);
	if (want <= 0)
		return avail;
	if (want > avail) {
		struct diag d;
		diag_set(&d, s->src, line, col,
			 "machine cores=%d: a real run cannot use more cores than this machine has "
			 "(%d); give --cores N to run it on fewer", want, avail);
		diag_print(&d, stderr);
		return -1;
	}
	return want;
}

static struct trace *simulate(const struct scenario *s, struct machine m, int cores)
{
	struct diag d;
	m.cores = cores;
	struct trace *tr = sim_run(s->ast, s->prog, &m, &d);
	if (!tr)
		diag_print(&d, stderr);
	return tr;
}

/* --timeout, or 3x the simulated makespan + 2 s (at most 60 s). */
static int64_t timeout_of(const struct real_args *a, const struct trace *sim)
{
	if (a->timeout > 0)
		return a->timeout;
	if (!sim || sim->makespan > TIMEOUT_CAP)
		return TIMEOUT_CAP;
	int64_t t = 3 * sim->makespan + 2000000000LL;
	return t > TIMEOUT_CAP ? TIMEOUT_CAP : t;
}

static void options_of(const struct real_args *a, const struct machine *m, int cores,
		       int64_t timeout, struct real_options *o)
{
	real_options_default(o);
	o->cores = cores;
	o->policy = a->policy;
	o->gil = a->gil;
	if (a->switch_interval > 0)
		o->switch_interval = a->switch_interval;
	o->timeout = timeout;
	o->until = m->until;
	o->seed = m->seed;
	o->max_records = m->max_records;
}

static int exit_status_of(const struct trace *tr)
{
	int st = tr->end == END_COMPLETED || tr->end == END_UNTIL ? EXIT_OK
		 : tr->end == END_DEADLOCK			 ? EXIT_DEADLOCK
		 : tr->end == END_LIMIT				 ? EXIT_LIMIT
								 : EXIT_FAILED;
	for (int i = 0; i < tr->nexpects && st == EXIT_OK; i++)
		if (!tr->expects[i].ok)
			st = EXIT_FAILED;
	return st;
}

static int terminal_width(int width)
{
	if (width > 0)
		return width;
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	const char *cols = getenv("COLUMNS");
	return cols && atoi(cols) >= 40 ? atoi(cols) : 100;
}

static bool use_color(int color)
{
	if (color >= 0)
		return color;
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

/* Loads the profile, the scenario and everything a real run needs: *m the simulated side's
 * machine, *rm the real run's. Returns 0 or an exit status. */
static int prepare(struct real_args *a, struct scenario *s, struct machine *m,
		   struct machine *rm, int *cores)
{
	struct diag d;
	struct machine defaults;
	machine_defaults(&defaults);
	memset(s, 0, sizeof *s);
	if (a->profile_path && profile_load(&a->profile, a->profile_path, &d) < 0) {
		diag_print(&d, stderr);
		return EXIT_USAGE;
	}
	if (scenario_load(a->name, s) < 0)
		return EXIT_USAGE;
	if (machine_of(a, s, a->profile_path ? &a->profile.m : &defaults, m) < 0 ||
	    machine_of(a, s, &defaults, rm) < 0 || (*cores = cores_of(a, s)) < 0)
		return EXIT_USAGE;
	/* The real run takes the profile too, but not its instr: that is the real interpreter's
	 * own cost, which the simulated side adds and a real run pays anyway; only a scenario's
	 * instr= asks a real run for work it cannot do (real_check refuses it). */
	int64_t instr = rm->instr;
	*rm = *m;
	rm->instr = instr;
	if (!a->gil_given) { /* the scenario's GIL, as the simulation uses it (py2 has no real
			      * counterpart: none) */
		a->gil = m->gil == GIL_PY3 ? REAL_GIL_PY3 : REAL_GIL_NONE;
		if (a->gil == REAL_GIL_PY3 && a->switch_interval <= 0 && m->switch_interval > 0)
			a->switch_interval = m->switch_interval;
	}
	if (real_check(s->ast, rm, &d) < 0) {
		diag_print(&d, stderr);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_real(int argc, char **argv)
{
	struct real_args a;
	int pa = parse_args(argc, argv, &a);
	if (pa != 0)
		return usage(argv[1], pa > 0);
	struct scenario s;
	struct machine m, real_m;
	int cores = 0;
	int st = prepare(&a, &s, &m, &real_m, &cores);
	if (st) {
		scenario_free(&s);
		return st;
	}
	struct trace *sim = a.timeout > 0 ? NULL : simulate(&s, m, cores);
	int64_t timeout = timeout_of(&a, sim);
	trace_destroy(sim);
	struct real_options o;
	options_of(&a, &m, cores, timeout, &o);
	struct real_report rep;
	struct diag d;
	struct trace *tr = real_run(s.ast, s.prog, &real_m, &o, &rep, &d);
	if (!tr) {
		diag_print(&d, stderr);
		scenario_free(&s);
		return EXIT_FAILED;
	}
	if (rep.notes[0])
		fprintf(stderr, "timeslice real: %s\n", rep.notes);
	st = exit_status_of(tr);
	struct metrics *mt = metrics_compute(tr);
	if (a.trace_file) {
		FILE *f = fopen(a.trace_file, "w");
		if (!f || chrome_write(f, tr) < 0 || fclose(f) != 0) {
			fprintf(stderr, "timeslice: cannot write trace %s\n", a.trace_file);
			st = EXIT_FAILED;
		}
	}
	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_MARK &&
		    strncmp(trace_str(tr, tr->recs[i].text), "Exception in ", 13) == 0)
			fprintf(stderr, "%s", trace_str(tr, tr->recs[i].text));
	if (!mt) {
		fprintf(stderr, "timeslice: out of memory\n");
		st = EXIT_FAILED;
	} else if (a.json) {
		metrics_print_json(stdout, tr, mt);
	} else {
		printf("== output of %s (real, %d core%s, gil %s) ==\n", s.src->name, rep.ncores,
		       rep.ncores == 1 ? "" : "s", a.gil == REAL_GIL_PY3 ? "py3" : "none");
		trace_print_output(stdout, tr);
		if (!a.no_gantt) {
			printf("\n== timeline ==\n");
			gantt_print(stdout, tr, terminal_width(a.width), use_color(a.color));
		}
		printf("\n== summary ==\n");
		metrics_print_text(stdout, tr, mt);
	}
	metrics_destroy(mt);
	trace_destroy(tr);
	scenario_free(&s);
	return st;
}

/* ---- compare ---- */

enum { M_START, M_END, M_CPU, M_READY, M_BLOCKED, M_SWITCHES, M_THREAD_COUNT };
static const char *const metric_names[M_THREAD_COUNT] = {"start", "end", "cpu", "ready",
							  "blocked", "switches"};

static int64_t thread_metric(const struct thread_metrics *t, int k)
{
	switch (k) {
	case M_START: return t->start_ns;
	case M_END: return t->end_ns;
	case M_CPU: return t->cpu_ns;
	case M_READY: return t->ready_ns;
	case M_BLOCKED: return t->blocked_ns;
	default: return t->switches;
	}
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static int64_t median(int64_t *v, int n)
{
	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The thread of trace b with the same label as thread t of trace a, or -1. */
static int match_thread(const struct trace *a, int t, const struct trace *b)
{
	char la[160], lb[160];
	trace_thread_label(a, t, la, sizeof la);
	for (int i = 0; i < b->nthreads; i++)
		if (strcmp(la, trace_thread_label(b, i, lb, sizeof lb)) == 0)
			return i;
	return -1;
}

/* A printed line with the trace's pids and tids replaced by "<pid>", so that lines that print
 * ids compare between a simulation (pids from 1000) and a real run. */
static void normalise(const struct trace *tr, const char *s, char *out, size_t size)
{
	size_t n = 0;
	while (*s && n + 8 < size) {
		if (*s >= '0' && *s <= '9') {
			const char *e = s;
			long v = 0;
			while (*e >= '0' && *e <= '9' && v < 100000000)
				v = v * 10 + (*e++ - '0');
			bool id = false;
			for (int i = 0; i < tr->nprocs && !id; i++)
				id = tr->procs[i].pid == v || (i > 0 && tr->procs[i].ppid == v);
			for (int i = 0; i < tr->nthreads && !id; i++)
				id = tr->threads[i].tid == v;
			id = id && v >= 100; /* the first process's parent (1 in a simulation) is not one */
			if (id) {
				n += (size_t)snprintf(out + n, size - n, "<pid>");
				s = e;
				continue;
			}
			while (s < e && n + 1 < size)
				out[n++] = *s++;
			continue;
		}
		out[n++] = *s++;
	}
	out[n] = '\0';
}

/* Whether the printed lines come in the same order; where not, a description in why. */
static bool same_output(const struct trace *a, const struct trace *b, char *why, size_t size)
{
	size_t i = 0, j = 0;
	int line = 0;
	char x[512], y[512];
	for (;;) {
		while (i < a->nrecs && a->recs[i].kind != TR_PRINT)
			i++;
		while (j < b->nrecs && b->recs[j].kind != TR_PRINT)
			j++;
		if (i >= a->nrecs || j >= b->nrecs) {
			if (i >= a->nrecs && j >= b->nrecs) {
				snprintf(why, size, "same order (%d lines)", line);
				return true;
			}
			snprintf(why, size, "differs: the %s run printed more lines (from line %d)",
				 i < a->nrecs ? "simulated" : "real", line + 1);
			return false;
		}
		normalise(a, trace_str(a, a->recs[i].text), x, sizeof x);
		normalise(b, trace_str(b, b->recs[j].text), y, sizeof y);
		if (strcmp(x, y) != 0) {
			snprintf(why, size, "differs at line %d: simulated \"%.80s\", real \"%.80s\"",
				 line + 1, x, y);
			return false;
		}
		i++;
		j++;
		line++;
	}
}

static void print_row(const char *what, int64_t sim, int64_t real, bool is_time, bool json,
		      bool *first)
{
	char a[32], b[32], c[32], rel[32];
	if (sim < 0 || real < 0) {
		snprintf(c, sizeof c, "-");
		snprintf(rel, sizeof rel, "-");
	} else {
		int64_t d = real - sim;
		if (is_time) {
			metrics_format_ns(c + 1, sizeof c - 1, d < 0 ? -d : d);
			c[0] = d < 0 ? '-' : '+';
		} else {
			snprintf(c, sizeof c, "%+" PRId64, d);
		}
		if (sim != 0)
			snprintf(rel, sizeof rel, "%+.1f %%", 100.0 * (double)d / (double)sim);
		else
			snprintf(rel, sizeof rel, "%s", d == 0 ? "0.0 %" : "-");
	}
	if (is_time) {
		metrics_format_ns(a, sizeof a, sim);
		metrics_format_ns(b, sizeof b, real);
	} else {
		snprintf(a, sizeof a, "%" PRId64, sim);
		snprintf(b, sizeof b, "%" PRId64, real);
	}
	if (json) {
		char key[32];
		size_t k = 0;
		for (const char *p = what; *p && k + 1 < sizeof key; p++)
			if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
				key[k++] = *p;
			else if (k && key[k - 1] != '_')
				key[k++] = '_';
		while (k && key[k - 1] == '_')
			k--;
		key[k] = '\0';
		printf("%s\"%s%s\": {\"sim\": %" PRId64 ", \"real\": %" PRId64 "}", *first ? "" : ", ",
		       key, is_time ? "_ns" : "", sim, real);
		*first = false;
		return;
	}
	printf("  %-18s %14s %14s %14s %10s\n", what, a, b, c, rel);
}

/* The header line saying which costs the simulated side used, and where they came from. */
static void print_costs(const struct machine *m, const struct profile *p, const char *over)
{
	char cs[32], fk[32], th[32], gw[32], in[32];
	printf("simulated costs: cs %s, fork %s, thread %s, gil_wakeup %s, instr %s; ",
	       vm_format_dur(m->cs, cs, sizeof cs), vm_format_dur(m->fork_cost, fk, sizeof fk),
	       vm_format_dur(m->thread_cost, th, sizeof th),
	       vm_format_dur(m->gil_wakeup, gw, sizeof gw), vm_format_dur(m->instr, in, sizeof in));
	if (!p)
		printf("model defaults (run `timeslice calibrate`)\n");
	else
		printf("machine profile %s (%s)%s%s%s\n", p->path, p->settings,
		       over[0] ? "; the scenario sets " : "", over,
		       over[0] ? " itself, overriding the profile" : "");
}

int cmd_compare(int argc, char **argv)
{
	struct real_args a;
	int pa = parse_args(argc, argv, &a);
	if (pa != 0)
		return usage(argv[1], pa > 0);
	struct scenario s;
	struct machine m, real_m;
	int cores = 0;
	int st = prepare(&a, &s, &m, &real_m, &cores);
	if (st) {
		scenario_free(&s);
		return st;
	}
	struct trace *sim = simulate(&s, m, cores);
	if (!sim) {
		scenario_free(&s);
		return EXIT_FAILED;
	}
	struct metrics *sm = metrics_compute(sim);
	struct real_options o;
	options_of(&a, &m, cores, timeout_of(&a, sim), &o);
	int k = a.runs;
	struct trace **tr = calloc((size_t)k, sizeof *tr);
	struct metrics **rm = calloc((size_t)k, sizeof *rm);
	int64_t *v = calloc((size_t)k + 1, sizeof *v);
	if (!sm || !tr || !rm || !v) {
		fprintf(stderr, "timeslice: out of memory\n");
		st = EXIT_FAILED;
		goto out;
	}
	int same = 0;
	char why[256] = "", first_why[256] = "";
	for (int r = 0; r < k; r++) {
		struct real_report rep;
		struct diag d;
		tr[r] = real_run(s.ast, s.prog, &real_m, &o, &rep, &d);
		if (!tr[r]) {
			diag_print(&d, stderr);
			st = EXIT_FAILED;
			goto out;
		}
		if (rep.notes[0] && r == 0)
			fprintf(stderr, "timeslice compare: %s\n", rep.notes);
		if (tr[r]->end != END_COMPLETED && tr[r]->end != END_UNTIL)
			fprintf(stderr, "timeslice compare: real run %d: %s\n", r + 1, tr[r]->end_msg);
		rm[r] = metrics_compute(tr[r]);
		if (!rm[r]) {
			fprintf(stderr, "timeslice: out of memory\n");
			st = EXIT_FAILED;
			goto out;
		}
		if (same_output(sim, tr[r], why, sizeof why))
			same++;
		else if (!first_why[0])
			snprintf(first_why, sizeof first_why, "run %d %s", r + 1, why);
	}
	/* overall */
	for (int r = 0; r < k; r++)
		v[r] = rm[r]->makespan_ns;
	int64_t lo = INT64_MAX, hi = 0;
	for (int r = 0; r < k; r++) {
		lo = v[r] < lo ? v[r] : lo;
		hi = v[r] > hi ? v[r] : hi;
	}
	int64_t makespan = median(v, k);
	for (int r = 0; r < k; r++)
		v[r] = (int64_t)llround(rm[r]->cpu_percent * 10);
	int64_t cpu10 = median(v, k);
	for (int r = 0; r < k; r++)
		v[r] = rm[r]->context_switches;
	int64_t switches = median(v, k);
	double rel = sm->makespan_ns > 0
			     ? 100.0 * (double)(makespan - sm->makespan_ns) / (double)sm->makespan_ns
			     : 0.0;
	bool within = fabs(rel) <= a.tolerance;
	bool first = true;
	char d1[32], d2[32], over[256] = "";
	struct profile_flag flags[2];
	if (a.profile_path)
		profile_overridden(&a.profile, s.ast, s.src, flags, flags_of(&a, flags), over,
				   sizeof over);
	if (a.json) {
		printf("{\"scenario\": ");
		metrics_json_string(stdout, s.src->name);
		printf(", \"cores\": %d, \"runs\": %d, \"gil\": \"%s\", \"machine_profile\": ", cores,
		       k, a.gil == REAL_GIL_PY3 ? "py3" : "none");
		if (a.profile_path)
			metrics_json_string(stdout, a.profile.path);
		else
			printf("null");
		printf(", \"profile_overridden\": ");
		metrics_json_string(stdout, over);
		printf(", \"overall\": {");
	} else {
		printf("compare %s on %d core%s: simulated (%s) vs real (gil %s), real = median of %d run%s\n",
		       s.src->name, cores, cores == 1 ? "" : "s", policy_name(m.policy),
		       a.gil == REAL_GIL_PY3 ? "py3" : "none", k, k == 1 ? "" : "s");
		print_costs(&m, a.profile_path ? &a.profile : NULL, over);
		printf("  %-18s %14s %14s %14s %10s\n", "", "simulated", "real", "difference", "relative");
		printf("overall\n");
	}
	print_row("makespan", sm->makespan_ns, makespan, true, a.json, &first);
	print_row("cpu % (x10)", (int64_t)llround(sm->cpu_percent * 10), cpu10, false, a.json, &first);
	print_row("context switches", sm->context_switches, switches, false, a.json, &first);
	if (a.json)
		printf("}, \"threads\": [");
	for (int t = 0; t < sim->nthreads; t++) {
		char label[160];
		trace_thread_label(sim, t, label, sizeof label);
		if (a.json) {
			printf("%s{\"thread\": ", t ? ", " : "");
			metrics_json_string(stdout, label);
			printf(", ");
		} else {
			printf("thread %s\n", label);
		}
		first = true;
		for (int mi = 0; mi < M_THREAD_COUNT; mi++) {
			int n = 0;
			for (int r = 0; r < k; r++) {
				int rt = match_thread(sim, t, tr[r]);
				if (rt >= 0)
					v[n++] = thread_metric(&rm[r]->threads[rt], mi);
			}
			print_row(metric_names[mi], thread_metric(&sm->threads[t], mi),
				  n ? median(v, n) : -1, mi != M_SWITCHES, a.json, &first);
		}
		if (a.json)
			printf("}");
	}
	if (a.json) {
		printf("], \"output_order_matches\": %d, \"makespan_spread_ns\": [%" PRId64 ", %" PRId64
		       "], \"relative_makespan_percent\": %.3f, \"tolerance_percent\": %.3f, \"within\": %s}\n",
		       same, lo, hi, rel, a.tolerance, within ? "true" : "false");
	} else {
		printf("printed lines: same order as simulated in %d of %d real run%s%s%s\n", same, k,
		       k == 1 ? "" : "s", first_why[0] ? "; " : "", first_why);
		printf("real makespan spread: %s .. %s\n", metrics_format_ns(d1, sizeof d1, lo),
		       metrics_format_ns(d2, sizeof d2, hi));
		printf("fidelity: makespan %+.1f %% (tolerance %.1f %%): %s\n", rel, a.tolerance,
		       within ? "within" : "OUTSIDE");
	}
	st = within ? EXIT_OK : EXIT_FAILED;
out:
	for (int r = 0; tr && r < k; r++) {
		metrics_destroy(rm ? rm[r] : NULL);
		trace_destroy(tr[r]);
	}
	free(tr);
	free(rm);
	free(v);
	metrics_destroy(sm);
	trace_destroy(sim);
	scenario_free(&s);
	return st;
}

/* ---- calibrate ---- */

static const char calibrate_usage[] =
	"usage: timeslice calibrate [-o FILE] [--runs N]\n"
	"  measures this machine's context switch, fork, thread creation, wake-up and interpreter\n"
	"  costs, each the median of N repetitions (default %d), prints them beside the model's\n"
	"  defaults and writes them as a machine profile: to FILE with -o, else after the table.\n"
	"  Load it with --machine FILE (run, check, test, real, compare). See docs/real.md.\n";

#define CALIBRATE_RUNS 101

/* One row of the table: what, the measured median (ns, fractional), its quartiles, the value
 * written (ns; < 0: none) and the model's default. */
static void calibrate_row(const char *key, const char *what, const struct real_sample *x,
			  double median, double p25, double p75, int64_t written, int64_t dflt)
{
	char a[32], b[32], c[32], w[32] = "-", df[32] = "-", ratio[16] = "-";
	if (!x->n) {
		printf("  %-10s %-44s not measured: %s\n", key, what, x->why);
		return;
	}
	if (median < 100) { /* instr: a few ns; keep the fraction */
		snprintf(a, sizeof a, "%.2f ns", median);
		snprintf(b, sizeof b, "%.2f ns", p25);
		snprintf(c, sizeof c, "%.2f ns", p75);
	} else {
		metrics_format_ns(a, sizeof a, llround(median));
		metrics_format_ns(b, sizeof b, llround(p25));
		metrics_format_ns(c, sizeof c, llround(p75));
	}
	if (written >= 0)
		vm_format_dur(written, w, sizeof w);
	if (key[0])
		vm_format_dur(dflt, df, sizeof df);
	if (written >= 0 && dflt > 0)
		snprintf(ratio, sizeof ratio, "%.2f", (double)written / (double)dflt);
	printf("  %-10s %-44s %11s  %10s .. %-10s %9s %9s %6s\n", key, what, a, b, c, w, df, ratio);
}

/* Whether the option s (its name: the first n bytes) is f. */
static bool is_flag(const char *s, size_t n, const char *f)
{
	return strlen(f) == n && strncmp(s, f, n) == 0;
}

int cmd_calibrate(int argc, char **argv)
{
	const char *out = NULL;
	int runs = CALIBRATE_RUNS;
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		const char *eq = strchr(s, '=');
		size_t n = eq ? (size_t)(eq - s) : strlen(s);
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			printf(calibrate_usage, CALIBRATE_RUNS);
			return EXIT_OK;
		}
		bool runs_flag = is_flag(s, n, "--runs");
		if (!runs_flag && !is_flag(s, n, "-o") && !is_flag(s, n, "--output")) {
			fprintf(stderr, "timeslice calibrate: unknown option '%s'\n", s);
			fprintf(stderr, calibrate_usage, CALIBRATE_RUNS);
			return EXIT_USAGE;
		}
		const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!v) {
			fprintf(stderr, "timeslice calibrate: %s needs a value\n", s);
			return EXIT_USAGE;
		}
		if (runs_flag) {
			char *end;
			long r = strtol(v, &end, 10);
			if (!*v || *end || r < 1 || r > 100000) {
				fprintf(stderr, "timeslice calibrate: --runs: expected 1 to 100000, found '%s'\n", v);
				return EXIT_USAGE;
			}
			runs = (int)r;
		} else {
			out = v;
		}
	}
	/* open the file first: a path that cannot be written fails before seconds of measuring */
	FILE *f = out && strcmp(out, "-") != 0 ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "timeslice calibrate: cannot write %s: %s\n", out, strerror(errno));
		return EXIT_USAGE;
	}
	static struct real_calibration c;
	char err[256];
	if (real_calibrate(runs, &c, err, sizeof err) < 0) {
		fprintf(stderr, "timeslice calibrate: %s\n", err);
		if (f != stdout) { /* leave no empty profile behind */
			fclose(f);
			unlink(out);
		}
		return EXIT_FAILED;
	}
	struct machine d;
	machine_defaults(&d);
	printf("timeslice calibrate on %s (%s, %d core%s), median of %d repetition%s each, load "
	       "average %.2f before, %.2f after\n", c.host, c.cpu_model, c.cores,
	       c.cores == 1 ? "" : "s", c.runs, c.runs == 1 ? "" : "s", c.load[0], c.load[1]);
	printf("  %-10s %-44s %11s  %-24s %9s %9s %6s\n", "key", "what is timed", "median",
	       "quartiles", "writes", "default", "ratio");
	double half_sys = c.syscall.median;
	calibrate_row("cs", "pipe ping-pong on one CPU: trip/2 - syscall", &c.roundtrip,
		      c.roundtrip.median / 2 - half_sys, c.roundtrip.p25 / 2 - half_sys,
		      c.roundtrip.p75 / 2 - half_sys, c.cs, d.cs);
	calibrate_row("fork", "fork() to the child's first instruction", &c.fork_child,
		      c.fork_child.median, c.fork_child.p25, c.fork_child.p75, c.fork, d.fork_cost);
	calibrate_row("thread", "pthread_create() to the thread's first instr.", &c.thread_start,
		      c.thread_start.median, c.thread_start.p25, c.thread_start.p75, c.thread,
		      d.thread_cost);
	calibrate_row("gil_wakeup", "cond signal to the waiter running (other CPU)", &c.wakeup,
		      c.wakeup.median, c.wakeup.p25, c.wakeup.p75, c.gil_wakeup, d.gil_wakeup);
	calibrate_row("instr", "one VM instruction (a fixed loop)", &c.instr, c.instr.median,
		      c.instr.p25, c.instr.p75, c.instr_ns, d.instr);
	printf("  (fork, thread and gil_wakeup are written minus cs: the model adds a switch when a\n"
	       "  core picks the new or woken task)\n  not written:\n");
	const struct {
		const char *what;
		const struct real_sample *x;
	} info[] = {
		{"a 1-byte pipe write + read, no switch", &c.syscall},
		{"ping-pong round trip (2 switches)", &c.roundtrip},
		{"fork() returning in the parent", &c.fork_return},
		{"fork() + child _exit(0) + waitpid()", &c.fork_wait},
		{"pthread_create() returning in the creator", &c.thread_return},
	};
	for (size_t i = 0; i < sizeof info / sizeof info[0]; i++)
		calibrate_row("", info[i].what, info[i].x, info[i].x->median, info[i].x->p25,
			      info[i].x->p75, -1, 0);
	if (f == stdout)
		printf("\n");
	double load = c.load[0] > c.load[1] ? c.load[0] : c.load[1];
	if (load > 0.5 * c.cores)
		fprintf(stderr, "timeslice calibrate: warning: the machine was busy (load average %.2f "
			"on %d core%s): fork, thread and wake-up figures include waiting for a CPU; "
			"calibrate on an idle machine\n", load, c.cores, c.cores == 1 ? "" : "s");
	int st = EXIT_OK;
	if (real_calibration_write(f, &c) < 0 || (f != stdout && fclose(f) != 0)) {
		fprintf(stderr, "timeslice calibrate: cannot write %s\n", out ? out : "stdout");
		st = EXIT_FAILED;
	} else if (f != stdout) {
		printf("wrote %s: use it with --machine %s\n", out, out);
	}
	return st;
}

/* main.c — the `timeslice` command: run, check, list and test scenarios. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ast.h"
#include "bundled.h"
#include "diag.h"
#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "profile.h"
#include "scenario.h"
#include "trace.h"
#include "view.h"
#include "real_cmd.h"
#include "sweep.h"
#include "vm.h"

#ifndef TIMESLICE_VERSION
#define TIMESLICE_VERSION "unknown"
#endif

/* Exit statuses, also listed in --help. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,   /* an exception in the scenario, or an expectation failed */
	EXIT_USAGE = 2,    /* bad command line or a malformed scenario */
	EXIT_DEADLOCK = 3, /* the run ended in a deadlock */
	EXIT_LIMIT = 4,    /* the run hit an event, time or memory limit */
};

static const char usage_text[] =
	"usage: timeslice COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  run SCENARIO      simulate a scenario (a file, or a bundled id from `timeslice list`)\n"
	"                    and print its output, a terminal Gantt and a summary\n"
	"  check FILE...     parse and compile scenarios, report errors, run nothing\n"
	"  list              the bundled scenarios, one line each with its claim\n"
	"  test [SCENARIO...] run scenarios (all bundled ones by default) and check their\n"
	"                    `expect` lines; ends with `N passed, N failed`\n"
	"  view SCENARIO|TRACE.json    open the timeline in a window (`timeslice view -h`)\n"
	"  render SCENARIO|TRACE.json -o OUT.png   draw the timeline into a PNG file\n"
	"  real SCENARIO     run it for real on this machine (fork, pthreads; `timeslice real -h`)\n"
	"  compare SCENARIO  simulated beside real, per metric (`timeslice compare -h`)\n"
	"  sweep SCENARIO --cores 1,2,4 --policy rr,fair ...   every combination of machine\n"
	"                    settings, in parallel, in one table (`timeslice sweep -h`)\n"
	"  calibrate [-o FILE] [--runs N]   measure this machine's switch, fork, thread and\n"
	"                    wake-up costs into a machine profile (`timeslice calibrate -h`)\n"
	"\n"
	"Options of run, check and test (and real, compare):\n"
	"  --machine FILE    a machine profile (`timeslice calibrate -o FILE`): applied first;\n"
	"                    the scenario's machine and `# run:` lines, then flags, override it\n"
	"  --cores N         cores of the simulated machine (1 to 1024)\n"
	"  --policy P        scheduling policy: fifo, rr, prio, mlfq or fair\n"
	"  --quantum D       round-robin time slice (rr, prio), e.g. 10ms\n"
	"  --runqueues R     global (one queue) or percore (balancing, migration, affinity)\n"
	"  --migration D     CPU a task pays when it moves to another core (default 50us)\n"
	"  --mlfq-levels N, --mlfq-quantum D, --mlfq-allotment D, --mlfq-boost D   MLFQ knobs\n"
	"  --seed N          seed of the run's random numbers\n"
	"  --until D         stop the simulation at simulated time D\n"
	"  --max-events N    stop after N events (default 50000000)\n"
	"  --max-instructions N  stop after N interpreted instructions (default 10^10)\n"
	"  --python V        2.7, 3.9, 3.11 or 3.13t: sets the GIL and the eval breaker\n"
	"  --gil G           none, py2 or py3 (a GIL per process)\n"
	"  --switch-interval D   py3's switch interval (default 5ms)\n"
	"  --eval-breaker B  every-instruction or calls-and-back-edges\n"
	"  --check-interval N    py2's check interval in ticks (default 100)\n"
	"Options of run:\n"
	"  --trace FILE      write a Chrome trace-event JSON file (Perfetto, chrome://tracing)\n"
	"  --json            print the summary as one JSON object instead of text\n"
	"  --width N         width of the terminal Gantt (default: the terminal's)\n"
	"  --no-gantt        leave out the terminal Gantt\n"
	"  --color WHEN      auto, always or never (default auto)\n"
	"\n"
	"  -h, --help        this text;  --version  the version\n"
	"\n"
	"Exit status: 0 done, 1 the scenario raised or an expectation failed, 2 bad usage or\n"
	"a malformed scenario, 3 deadlock, 4 a limit was reached.\n";

struct options {
	struct machine m;      /* the defaults, with the --machine profile applied */
	const char *profile;   /* --machine FILE, or NULL */
	char flags[16][2][64]; /* machine flags given on the command line, applied last */
	int nflags;
	const char *trace_file;
	bool json, no_gantt;
	int width;
	int color; /* -1 auto, 0 never, 1 always */
	const char *names[256];
	int nnames;
};

/* The machine for one scenario: defaults, the profile, its machine lines, its # run: lines,
 * the flags. */
static int machine_for(const struct options *o, const struct scenario *s, struct machine *m)
{
	struct diag d;
	struct profile_flag flags[16];
	for (int i = 0; i < o->nflags; i++)
		flags[i] = (struct profile_flag){o->flags[i][0], o->flags[i][1]};
	if (profile_machine_for(&o->m, s->ast, s->src, flags, o->nflags, m, &d) < 0) {
		diag_print(&d, stderr);
		return -1;
	}
	return 0;
}

static int terminal_width(const struct options *o)
{
	if (o->width > 0)
		return o->width;
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	const char *cols = getenv("COLUMNS");
	if (cols && atoi(cols) >= 40)
		return atoi(cols);
	return 100;
}

static bool use_color(const struct options *o)
{
	if (o->color >= 0)
		return o->color;
	const char *term = getenv("TERM");
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static int exit_status_of(const struct trace *tr)
{
	switch (tr->end) {
	case END_COMPLETED:
	case END_UNTIL:
		return EXIT_OK;
	case END_DEADLOCK:
		return EXIT_DEADLOCK;
	case END_LIMIT:
		return EXIT_LIMIT;
	case END_ERROR:
	default:
		return EXIT_FAILED;
	}
}

/* Prints the uncaught exceptions of the run (TR_MARK records) to stderr, as Python would. */
static void print_exceptions(const struct trace *tr)
{
	for (size_t i = 0; i < tr->nrecs; i++) {
		const struct trace_rec *r = &tr->recs[i];
		const char *text = trace_str(tr, r->text);
		if (r->kind == TR_MARK && strncmp(text, "Exception in ", 13) == 0)
			fprintf(stderr, "%s", text);
	}
}

static int cmd_run(struct options *o)
{
	if (o->nnames != 1) {
		fprintf(stderr, "timeslice run: give one scenario (a file or a bundled id)\n");
		return EXIT_USAGE;
	}
	struct scenario s;
	if (scenario_load(o->names[0], &s) < 0)
		return EXIT_USAGE;
	struct machine m;
	if (machine_for(o, &s, &m) < 0) {
		scenario_free(&s);
		return EXIT_USAGE;
	}
	struct diag d;
	struct trace *tr = sim_run(s.ast, s.prog, &m, &d);
	if (!tr) {
		diag_print(&d, stderr);
		scenario_free(&s);
		return EXIT_FAILED;
	}
	struct metrics *mt = metrics_compute(tr);
	int status = exit_status_of(tr);
	if (o->trace_file) {
		FILE *f = fopen(o->trace_file, "w");
		if (!f || chrome_write(f, tr) < 0 || fclose(f) != 0) {
			fprintf(stderr, "timeslice: cannot write trace %s: %s\n", o->trace_file,
				strerror(errno));
			status = EXIT_FAILED;
		}
	}
	print_exceptions(tr);
	if (!mt) {
		fprintf(stderr, "timeslice: out of memory\n");
		status = EXIT_FAILED;
	} else if (o->json) {
		metrics_print_json(stdout, tr, mt);
	} else {
		char what[512];
		machine_describe(&m, what, sizeof what);
		printf("== output of %s (simulated, %s) ==\n", s.src->name, what);
		trace_print_output(stdout, tr);
		trace_print_events(stdout, tr, "\n== events ==\n");
		if (!o->no_gantt) {
			printf("\n== timeline ==\n");
			gantt_print(stdout, tr, terminal_width(o), use_color(o));
		}
		printf("\n== summary ==\n");
		metrics_print_text(stdout, tr, mt);
	}
	for (int i = 0; i < tr->nexpects && status == EXIT_OK; i++)
		if (!tr->expects[i].ok)
			status = EXIT_FAILED;
	metrics_destroy(mt);
	trace_destroy(tr);
	scenario_free(&s);
	return status;
}

static int cmd_check(struct options *o)
{
	if (o->nnames == 0) {
		fprintf(stderr, "timeslice check: give one or more scenario files\n");
		return EXIT_USAGE;
	}
	int status = EXIT_OK;
	for (int i = 0; i < o->nnames; i++) {
		struct scenario s;
		struct machine m;
		if (scenario_load(o->names[i], &s) < 0) {
			status = EXIT_USAGE;
			continue;
		}
		if (machine_for(o, &s, &m) < 0)
			status = EXIT_USAGE;
		else
			printf("%s: ok (%d expectation%s)\n", s.src->name,
			       vm_program_expect_count(s.prog),
			       vm_program_expect_count(s.prog) == 1 ? "" : "s");
		scenario_free(&s);
	}
	return status;
}

static int cmd_list(void)
{
	for (size_t i = 0; i < bundled_count; i++)
		printf("%-18s %s\n", bundled_scenarios[i].id, bundled_scenarios[i].claim);
	return EXIT_OK;
}

static int cmd_test(struct options *o)
{
	const char *all[512];
	int n = o->nnames;
	const char **names = o->names;
	if (n == 0) {
		for (size_t i = 0; i < bundled_count && i < 512; i++)
			all[i] = bundled_scenarios[i].id;
		n = (int)(bundled_count < 512 ? bundled_count : 512);
		names = all;
	}
	int passed = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		struct scenario s;
		struct machine m;
		if (scenario_load(names[i], &s) < 0) {
			printf("FAIL %s: does not load\n", names[i]);
			failed++;
			continue;
		}
		if (machine_for(o, &s, &m) < 0) {
			printf("FAIL %s: bad machine settings\n", names[i]);
			failed++;
			scenario_free(&s);
			continue;
		}
		struct diag d;
		struct trace *tr = sim_run(s.ast, s.prog, &m, &d);
		if (!tr) {
			diag_print(&d, stderr);
			printf("FAIL %s: cannot run\n", names[i]);
			failed++;
			scenario_free(&s);
			continue;
		}
		bool expects_deadlock = false;
		int bad = 0;
		for (int e = 0; e < tr->nexpects; e++) {
			const struct trace_expect *x = &tr->expects[e];
			expects_deadlock |= strcmp(trace_str(tr, x->text), "deadlock") == 0;
			if (x->ok) {
				passed++;
				continue;
			}
			bad++;
			failed++;
			printf("FAIL %s:%d: expect %s -- %s\n", s.src->name, x->line,
			       trace_str(tr, x->text), trace_str(tr, x->detail));
		}
		bool ended_badly = tr->end == END_ERROR || tr->end == END_LIMIT ||
				   (tr->end == END_DEADLOCK && !expects_deadlock);
		if (ended_badly) {
			bad++;
			failed++;
			print_exceptions(tr);
			printf("FAIL %s: the run ended badly: %s\n", s.src->name, tr->end_msg);
		}
		if (tr->nexpects == 0) {
			printf("FAIL %s: no expect lines\n", s.src->name);
			failed++;
			bad++;
		}
		if (!bad)
			printf("ok   %s (%d expectation%s)\n", s.src->name, tr->nexpects,
			       tr->nexpects == 1 ? "" : "s");
		trace_destroy(tr);
		scenario_free(&s);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? EXIT_FAILED : EXIT_OK;
}

static int parse_options(int argc, char **argv, int first, struct options *o)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (o->nnames >= 256) {
				fprintf(stderr, "timeslice: at most 256 scenarios at once\n");
				return -1;
			}
			o->names[o->nnames++] = a;
			continue;
		}
		const char *flag = a + 2;
		char *eq = strchr(a, '=');
		char name[64];
		snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - flag) : 63, flag);
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--no-gantt") == 0) {
			o->no_gantt = true;
			continue;
		}
		static const char *const machine_flags[] = {"cores", "policy", "quantum", "seed",
							   "until", "max-events", "max-instructions",
							   "gil", "python",
							   "switch-interval", "eval-breaker",
							   "check-interval", "runqueues", "migration",
							   "balance", "mlfq-levels", "mlfq-quantum",
							   "mlfq-allotment", "mlfq-boost"};
		static const char *const other_flags[] = {"trace", "width", "color", "machine"};
		bool is_machine = false, is_other = false;
		for (size_t k = 0; k < sizeof machine_flags / sizeof *machine_flags; k++)
			is_machine |= strncmp(a, "--", 2) == 0 && strcmp(name, machine_flags[k]) == 0;
		for (size_t k = 0; k < sizeof other_flags / sizeof *other_flags; k++)
			is_other |= strncmp(a, "--", 2) == 0 && strcmp(name, other_flags[k]) == 0;
		if (!is_machine && !is_other) {
			fprintf(stderr, "timeslice: unknown option '%s' (see timeslice --help)\n", a);
			return -1;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val) {
			fprintf(stderr, "timeslice: --%s needs a value\n", name);
			return -1;
		}
		if (is_machine) {
			char err[256];
			struct machine probe = o->m;
			if (machine_set(&probe, name, val, err, sizeof err) < 0) {
				fprintf(stderr, "timeslice: --%s\n", err);
				return -1;
			}
			if (o->nflags == 16) {
				fprintf(stderr, "timeslice: too many machine flags\n");
				return -1;
			}
			snprintf(o->flags[o->nflags][0], 64, "%s", name);
			snprintf(o->flags[o->nflags][1], 64, "%s", val);
			o->nflags++;
		} else if (strcmp(name, "trace") == 0) {
			o->trace_file = val;
		} else if (strcmp(name, "machine") == 0) {
			o->profile = val;
		} else if (strcmp(name, "width") == 0) {
			char *end;
			long w = strtol(val, &end, 10);
			if (*end || w < 40 || w > 10000) {
				fprintf(stderr, "timeslice: --width: expected 40 to 10000, found '%s'\n", val);
				return -1;
			}
			o->width = (int)w;
		} else {
			if (strcmp(val, "auto") == 0)
				o->color = -1;
			else if (strcmp(val, "always") == 0)
				o->color = 1;
			else if (strcmp(val, "never") == 0)
				o->color = 0;
			else {
				fprintf(stderr, "timeslice: --color: expected auto, always or never, found '%s'\n", val);
				return -1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("timeslice %s\n", TIMESLICE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "view") == 0)
		return cmd_view(argc, argv);
	if (strcmp(cmd, "real") == 0)
		return cmd_real(argc, argv);
	if (strcmp(cmd, "compare") == 0)
		return cmd_compare(argc, argv);
	if (strcmp(cmd, "render") == 0)
		return cmd_render(argc, argv);
	if (strcmp(cmd, "sweep") == 0)
		return cmd_sweep(argc, argv);
	if (strcmp(cmd, "calibrate") == 0)
		return cmd_calibrate(argc, argv);
	static struct options o;
	machine_defaults(&o.m);
	o.color = -1;
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
	if (parse_options(argc, argv, 2, &o) < 0)
		return EXIT_USAGE;
	if (o.profile) { /* before anything runs: a bad profile is bad usage */
		static struct profile p;
		struct diag d;
		if (profile_load(&p, o.profile, &d) < 0) {
			diag_print(&d, stderr);
			return EXIT_USAGE;
		}
		o.m = p.m;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(&o);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(&o);
	if (strcmp(cmd, "list") == 0)
		return cmd_list();
	if (strcmp(cmd, "test") == 0)
		return cmd_test(&o);
	fprintf(stderr, "timeslice: unknown command '%s' (expected run, check, list, test, view, "
		"render, real, compare, sweep or calibrate)\n", cmd);
	return EXIT_USAGE;
}

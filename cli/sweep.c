/* sweep.c — `timeslice sweep`: every combination of the given machine settings, each run in
 * a child process of its own (fork, a pipe back with the numbers), at most as many at once as
 * the machine has processors, then one table, CSV or JSON in the order of the combinations:
 * the first flag given varies slowest. The simulator is deterministic, so the table does not
 * depend on which child finishes first. */
#include "sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "profile.h"
#include "scenario.h"
#include "trace.h"

enum { MAX_AXES = 16, MAX_VALUES = 64, MAX_COMBOS = 4096, VALUE_LEN = 64 };

struct axis {
	char name[VALUE_LEN];
	char values[MAX_VALUES][VALUE_LEN];
	int n;
};

/* What a child sends back: plain numbers, one write of less than PIPE_BUF bytes. */
struct sweep_result {
	int ran;                 /* 1 when the run started */
	int end;                 /* enum trace_end */
	int64_t makespan, mean_turnaround, mean_response; /* -1: no thread finished / ran */
	double cpu_percent, fairness;
	int64_t context_switches, migrations;
	char msg[1200];
};

static const char usage[] =
	"usage: timeslice sweep SCENARIO --FLAG V1,V2,... [--FLAG ...] [--csv | --json] [--jobs N]\n"
	"\n"
	"Runs the scenario under every combination of the machine settings given (any flag of\n"
	"`timeslice run` that sets the machine: --cores, --policy, --quantum, --runqueues,\n"
	"--migration, --mlfq-levels, --gil, ...), each in a process of its own, at most N at once\n"
	"(default: the number of processors), and prints one row per combination: makespan, mean\n"
	"turnaround, mean response, CPU use, context switches, migrations, fairness and how the run\n"
	"ended. Example: timeslice sweep cpu-bound --cores 1,2,4,8 --policy rr,fair --quantum 1ms,10ms\n"
	"--machine FILE applies a machine profile (`timeslice calibrate -o FILE`) first.\n";

static int64_t mean_of(const struct metrics *m, bool turnaround)
{
	int64_t sum = 0, n = 0;
	for (int i = 0; i < m->nthreads; i++) {
		int64_t v = turnaround ? m->threads[i].turnaround_ns : m->threads[i].response_ns;
		if (v >= 0)
			sum += v, n++;
	}
	return n ? sum / n : -1;
}

/* The machine of one combination: base (defaults, or a --machine profile), the scenario's
 * lines, then the combination. */
static int machine_of(const struct machine *base, const struct scenario *s, const struct axis *ax,
		      int nax, const int *pick, struct machine *m, char *err, size_t size)
{
	struct diag d;
	*m = *base;
	if (machine_apply_ast(m, s->ast, &d) < 0 || machine_apply_run_lines(m, s->src, &d) < 0) {
		diag_format(&d, err, size);
		return -1;
	}
	for (int a = 0; a < nax; a++) {
		char msg[256];
		if (machine_set(m, ax[a].name, ax[a].values[pick[a]], msg, sizeof msg) < 0) {
			snprintf(err, size, "--%s", msg);
			return -1;
		}
	}
	return 0;
}

static void run_child(const struct scenario *s, const struct machine *m, int fd)
{
	struct sweep_result r = {0};
	struct diag d;
	struct trace *tr = sim_run(s->ast, s->prog, m, &d);
	struct metrics *mt = tr ? metrics_compute(tr) : NULL;
	if (!tr || !mt) {
		if (!tr)
			snprintf(r.msg, sizeof r.msg, "%.200s:%d:%d: %.512s", d.file, d.line, d.col, d.msg);
		else
			snprintf(r.msg, sizeof r.msg, "out of memory");
	} else {
		r.ran = 1;
		r.end = tr->end;
		r.makespan = mt->makespan_ns;
		r.mean_turnaround = mean_of(mt, true);
		r.mean_response = mean_of(mt, false);
		r.cpu_percent = mt->cpu_percent;
		r.fairness = mt->fairness;
		r.context_switches = mt->context_switches;
		r.migrations = mt->migrations;
		snprintf(r.msg, sizeof r.msg, "%.1100s", tr->end_msg);
	}
	metrics_destroy(mt);
	trace_destroy(tr);
	ssize_t w = write(fd, &r, sizeof r);
	_exit(w == (ssize_t)sizeof r ? 0 : 1); /* not exit(): the parent's stdio is not ours */
}

static const char *end_word(const struct sweep_result *r)
{
	if (!r->ran)
		return "error";
	switch (r->end) {
	case END_COMPLETED: return "completed";
	case END_UNTIL: return "until";
	case END_LIMIT: return "limit";
	case END_DEADLOCK: return "deadlock";
	default: return "error";
	}
}

/* Runs every combination; results[i] for combination i. Returns 0, or -1 if a child could
 * not be started or did not answer (its result then says so). */
static int run_all(const struct scenario *s, const struct machine *ms, int n, int jobs,
		   struct sweep_result *results)
{
	pid_t *pids = calloc((size_t)n, sizeof *pids);
	int *fds = calloc((size_t)n, sizeof *fds);
	int status = 0;
	if (!pids || !fds) {
		free(pids);
		free(fds);
		return -1;
	}
	int next = 0, running = 0, done = 0;
	fflush(stdout);
	fflush(stderr);
	while (done < n) {
		while (running < jobs && next < n) {
			int p[2];
			if (pipe(p) < 0) {
				snprintf(results[next].msg, sizeof results[next].msg, "pipe: %s", strerror(errno));
				status = -1, next++, done++;
				continue;
			}
			pid_t pid = fork();
			if (pid < 0) {
				snprintf(results[next].msg, sizeof results[next].msg, "fork: %s", strerror(errno));
				close(p[0]);
				close(p[1]);
				status = -1, next++, done++;
				continue;
			}
			if (pid == 0) {
				close(p[0]);
				run_child(s, &ms[next], p[1]);
			}
			close(p[1]);
			pids[next] = pid;
			fds[next] = p[0];
			next++, running++;
		}
		if (running == 0)
			continue;
		int wst;
		pid_t pid = waitpid(-1, &wst, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < next; i++) {
			if (pids[i] != pid)
				continue;
			struct sweep_result r;
			ssize_t got = read(fds[i], &r, sizeof r);
			close(fds[i]);
			if (got == (ssize_t)sizeof r) {
				results[i] = r;
			} else {
				snprintf(results[i].msg, sizeof results[i].msg,
					 "the run's process ended without an answer (%s %d)",
					 WIFSIGNALED(wst) ? "signal" : "status",
					 WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
				status = -1;
			}
			pids[i] = 0;
			running--, done++;
		}
	}
	free(pids);
	free(fds);
	return status;
}

static void print_table(const struct axis *ax, int nax, const int (*picks)[MAX_AXES], int n,
			const struct sweep_result *res)
{
	int w[MAX_AXES];
	for (int a = 0; a < nax; a++) {
		w[a] = (int)strlen(ax[a].name);
		for (int v = 0; v < ax[a].n; v++)
			if ((int)strlen(ax[a].values[v]) > w[a])
				w[a] = (int)strlen(ax[a].values[v]);
	}
	for (int a = 0; a < nax; a++)
		printf("%-*s  ", w[a], ax[a].name);
	printf("%12s %12s %12s %7s %9s %10s %8s  %s\n", "makespan", "turnaround", "response", "cpu%",
	       "switches", "migrations", "fairness", "end");
	for (int i = 0; i < n; i++) {
		const struct sweep_result *r = &res[i];
		char b[3][32], fair[16];
		for (int a = 0; a < nax; a++)
			printf("%-*s  ", w[a], ax[a].values[picks[i][a]]);
		if (!r->ran) {
			printf("%12s %12s %12s %7s %9s %10s %8s  error: %s\n", "-", "-", "-", "-", "-",
			       "-", "-", r->msg);
			continue;
		}
		if (r->fairness >= 0)
			snprintf(fair, sizeof fair, "%.3f", r->fairness);
		else
			snprintf(fair, sizeof fair, "-");
		printf("%12s %12s %12s %7.1f %9" PRId64 " %10" PRId64 " %8s  %s\n",
		       metrics_format_ns(b[0], sizeof b[0], r->makespan),
		       metrics_format_ns(b[1], sizeof b[1], r->mean_turnaround),
		       metrics_format_ns(b[2], sizeof b[2], r->mean_response), r->cpu_percent,
		       r->context_switches, r->migrations, fair, end_word(r));
	}
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(const struct axis *ax, int nax, const int (*picks)[MAX_AXES], int n,
		      const struct sweep_result *res)
{
	for (int a = 0; a < nax; a++)
		printf("%s,", ax[a].name);
	printf("makespan_ns,mean_turnaround_ns,mean_response_ns,cpu_percent,context_switches,"
	       "migrations,fairness,end,message\n");
	for (int i = 0; i < n; i++) {
		const struct sweep_result *r = &res[i];
		for (int a = 0; a < nax; a++) {
			csv_field(ax[a].values[picks[i][a]]);
			putchar(',');
		}
		if (r->ran) {
			printf("%" PRId64 ",%" PRId64 ",%" PRId64 ",%.3f,%" PRId64 ",%" PRId64 ",", r->makespan,
			       r->mean_turnaround, r->mean_response, r->cpu_percent, r->context_switches,
			       r->migrations);
			if (r->fairness >= 0)
				printf("%.6f", r->fairness);
		} else {
			printf(",,,,,,");
		}
		printf(",%s,", end_word(r));
		csv_field(r->msg);
		putchar('\n');
	}
}

static void json_ns_or_null(int64_t v)
{
	if (v < 0)
		fputs("null", stdout);
	else
		printf("%" PRId64, v);
}

static void print_json(const char *scenario, const struct axis *ax, int nax,
		       const int (*picks)[MAX_AXES], int n, const struct sweep_result *res)
{
	fputs("{\"scenario\": ", stdout);
	metrics_json_string(stdout, scenario);
	fputs(", \"runs\": [", stdout);
	for (int i = 0; i < n; i++) {
		const struct sweep_result *r = &res[i];
		fputs(i ? ",\n  {\"settings\": {" : "\n  {\"settings\": {", stdout);
		for (int a = 0; a < nax; a++) {
			if (a)
				fputs(", ", stdout);
			metrics_json_string(stdout, ax[a].name);
			fputs(": ", stdout);
			metrics_json_string(stdout, ax[a].values[picks[i][a]]);
		}
		printf("}, \"end\": \"%s\"", end_word(r));
		if (r->ran) {
			fputs(", \"makespan_ns\": ", stdout);
			json_ns_or_null(r->makespan);
			fputs(", \"mean_turnaround_ns\": ", stdout);
			json_ns_or_null(r->mean_turnaround);
			fputs(", \"mean_response_ns\": ", stdout);
			json_ns_or_null(r->mean_response);
			printf(", \"cpu_percent\": %.6g, \"context_switches\": %" PRId64
			       ", \"migrations\": %" PRId64 ", \"fairness\": ",
			       r->cpu_percent, r->context_switches, r->migrations);
			if (r->fairness >= 0)
				printf("%.6g", r->fairness);
			else
				fputs("null", stdout);
		}
		fputs(", \"message\": ", stdout);
		metrics_json_string(stdout, r->msg);
		putchar('}');
	}
	fputs("\n]}\n", stdout);
}

/* Splits "a,b,c" into the axis's values. Returns -1 on an empty value or too many. */
static int split_values(struct axis *ax, const char *list)
{
	const char *p = list;
	ax->n = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= VALUE_LEN || ax->n == MAX_VALUES)
			return -1;
		snprintf(ax->values[ax->n++], VALUE_LEN, "%.*s", (int)len, p);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int cmd_sweep(int argc, char **argv)
{
	static struct axis axes[MAX_AXES];
	int nax = 0, jobs = 0;
	const char *name = NULL;
	static struct profile prof;
	struct machine base;
	machine_defaults(&base);
	bool csv = false, json = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (strcmp(a, "--csv") == 0 || strcmp(a, "--json") == 0) {
			csv |= a[2] == 'c';
			json |= a[2] == 'j';
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (name) {
				fprintf(stderr, "timeslice sweep: give one scenario (found '%s' after '%s')\n",
					a, name);
				return 2;
			}
			name = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		char flag[VALUE_LEN];
		snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a - 2) : VALUE_LEN - 1, a + 2);
		const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (!val) {
			fprintf(stderr, "timeslice sweep: --%s needs a value\n", flag);
			return 2;
		}
		if (strcmp(flag, "machine") == 0) {
			struct diag d;
			if (profile_load(&prof, val, &d) < 0) {
				diag_print(&d, stderr);
				return 2;
			}
			base = prof.m;
			continue;
		}
		if (strcmp(flag, "jobs") == 0) {
			char *end;
			long j = strtol(val, &end, 10);
			if (*end || j < 1 || j > 4096) {
				fprintf(stderr, "timeslice sweep: --jobs: expected 1 to 4096, found '%s'\n", val);
				return 2;
			}
			jobs = (int)j;
			continue;
		}
		if (nax == MAX_AXES) {
			fprintf(stderr, "timeslice sweep: at most %d flags\n", MAX_AXES);
			return 2;
		}
		struct axis *ax = &axes[nax];
		snprintf(ax->name, sizeof ax->name, "%s", flag);
		if (split_values(ax, val) < 0) {
			fprintf(stderr,
				"timeslice sweep: --%s: expected a comma-separated list of at most %d "
				"values, found '%s'\n", flag, MAX_VALUES, val);
			return 2;
		}
		/* every value must be one the machine takes: the message names the flag */
		for (int v = 0; v < ax->n; v++) {
			struct machine probe;
			char err[256];
			machine_defaults(&probe);
			if (machine_set(&probe, flag, ax->values[v], err, sizeof err) < 0) {
				fprintf(stderr, "timeslice sweep: --%s\n", err);
				return 2;
			}
		}
		nax++;
	}
	if (!name) {
		fputs(usage, stderr);
		return 2;
	}
	if (csv && json) {
		fprintf(stderr, "timeslice sweep: give --csv or --json, not both\n");
		return 2;
	}
	int n = 1;
	for (int a = 0; a < nax; a++) {
		if (n > MAX_COMBOS / axes[a].n) {
			fprintf(stderr, "timeslice sweep: more than %d combinations\n", MAX_COMBOS);
			return 2;
		}
		n *= axes[a].n;
	}
	struct scenario s;
	if (scenario_load(name, &s) < 0)
		return 2;
	int (*picks)[MAX_AXES] = calloc((size_t)n, sizeof *picks);
	struct machine *ms = calloc((size_t)n, sizeof *ms);
	struct sweep_result *res = calloc((size_t)n, sizeof *res);
	int status = 0;
	if (!picks || !ms || !res) {
		fprintf(stderr, "timeslice sweep: out of memory\n");
		status = 2;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int rest = i;
		for (int a = nax - 1; a >= 0; a--) {
			picks[i][a] = rest % axes[a].n;
			rest /= axes[a].n;
		}
		char err[600];
		if (machine_of(&base, &s, axes, nax, picks[i], &ms[i], err, sizeof err) < 0) {
			fprintf(stderr, "timeslice sweep: %s\n", err);
			status = 2;
			goto out;
		}
	}
	if (jobs <= 0) {
		long np = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = np > 0 ? (int)np : 1;
	}
	if (run_all(&s, ms, n, jobs, res) < 0)
		status = 1;
	if (csv)
		print_csv(axes, nax, (const int(*)[MAX_AXES])picks, n, res);
	else if (json)
		print_json(s.src->name, axes, nax, (const int(*)[MAX_AXES])picks, n, res);
	else
		print_table(axes, nax, (const int(*)[MAX_AXES])picks, n, res);
	for (int i = 0; i < n; i++)
		if (!res[i].ran || res[i].end == END_ERROR || res[i].end == END_LIMIT)
			status = 1; /* its expect lines speak of its own machine: not checked here */
out:
	free(picks);
	free(ms);
	free(res);
	scenario_free(&s);
	return status;
}

/* machine.c — machine parameters from defaults, `machine` lines and flags. */
#include "machine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const policy_names[POLICY_COUNT] = {"fifo", "rr", "prio", "mlfq", "fair"};

const char *policy_name(enum policy p)
{
	return (unsigned)p < POLICY_COUNT ? policy_names[p] : "?";
}

void machine_defaults(struct machine *m)
{
	*m = (struct machine){
		.cores = 1,
		.policy = POLICY_RR,
		.quantum = 10000000,   /* 10 ms */
		.cs = 3000,            /* 3 us, a Linux context switch with cache effects */
		.fork_cost = 400000,   /* 400 us, fork() of a CPython process */
		.thread_cost = 30000,  /* 30 us, pthread_create + CPython's thread bootstrap */
		.pipe_capacity = 65536, /* a Linux pipe */
		.instr = 0,
		.seed = 1,
		.gil = GIL_NONE,
		.breaker = BREAKER_CALLS_AND_BACK_EDGES,
		.switch_interval = 5000000,  /* 5 ms, sys.getswitchinterval() */
		.check_interval = 100,       /* sys.getcheckinterval() of Python 2 */
		.tick = 30,                  /* Python 2 ran about 30 M bytecodes per second */
		.gil_contention = 2000,      /* a futex wake and a lost race for the mutex */
		.gil_wakeup = 0,             /* the woken waiter is ready at once (a switch to it
		                              * still costs cs) */
		.mlfq_levels = 3,
		.mlfq_quantum = 10000000,    /* 10 ms at the top, 20 ms, 40 ms below */
		.mlfq_allotment = 20000000,  /* 20 ms of CPU per level */
		.mlfq_boost = 1000000000,    /* OSTEP's S: 1 s */
		.migration = 50000,          /* 50 us: a cold cache on the new core */
		.balance = 4000000,          /* 4 ms, Linux's balance interval on a small machine */
		.until = -1,
		.max_time = 24LL * 3600 * 1000000000LL,
		.max_events = 50000000,
		.max_instructions = 10000000000ULL, /* about half a minute of interpreting */
		.max_records = 20000000,
	};
}

static const struct {
	const char *name;
	int64_t ns;
} units[] = {
	{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"ms", 1000000}, {"s", 1000000000},
	{"min", 60000000000LL}, {"h", 3600000000000LL},
};

int parse_duration(const char *text, int64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v < 0)
		return -1;
	int64_t unit = 1000000000; /* a bare number is seconds, as time.sleep takes it */
	if (*end) {
		unit = 0;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
			if (strcmp(end, units[i].name) == 0)
				unit = units[i].ns;
		if (!unit)
			return -1;
	}
	double r = v * (double)unit;
	if (r > 9.2e18 || r != floor(r))
		return -1;
	*ns = (int64_t)r;
	return 0;
}

static int parse_count(const char *text, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (end == text || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int machine_set(struct machine *m, const char *key, const char *text, char *err, size_t errsize)
{
	struct machine t = *m;
	long long n;
	int64_t d;
	if (strcmp(key, "cores") == 0) {
		if (parse_count(text, 1, MACHINE_MAX_CORES, &n) < 0)
			goto bad_cores;
		t.cores = (int)n;
	} else if (strcmp(key, "policy") == 0) {
		int found = -1;
		for (int i = 0; i < POLICY_COUNT; i++)
			if (strcmp(text, policy_names[i]) == 0)
				found = i;
		if (found < 0) {
			snprintf(err, errsize,
				 "policy: unknown policy '%s' (expected fifo, rr, prio, mlfq or fair)",
				 text);
			return -1;
		}
		t.policy = (enum policy)found;
	} else if (strcmp(key, "quantum") == 0 || strcmp(key, "until") == 0 ||
		   strcmp(key, "max-time") == 0) {
		if (parse_duration(text, &d) < 0 || d <= 0) {
			snprintf(err, errsize,
				 "%s: expected a positive duration such as 10ms, found '%s'", key, text);
			return -1;
		}
		if (key[0] == 'q')
			t.quantum = d;
		else if (key[0] == 'u')
			t.until = d;
		else
			t.max_time = d;
	} else if (strcmp(key, "gil_wakeup") == 0 || strcmp(key, "gil-wakeup") == 0) {
		if (parse_duration(text, &d) < 0 || d > 1000000000LL) {
			snprintf(err, errsize, "gil_wakeup: expected a duration such as 20us (0 to 1s), found '%s'",
				 text);
			return -1;
		}
		t.gil_wakeup = d;
	} else if (strcmp(key, "cs") == 0 || strcmp(key, "fork") == 0 ||
		   strcmp(key, "thread") == 0 || strcmp(key, "instr") == 0) {
		if (parse_duration(text, &d) < 0 || d > 3600000000000LL) {
			snprintf(err, errsize,
				 "%s: expected a duration such as 3us (0 to 1h), found '%s'", key, text);
			return -1;
		}
		if (key[0] == 'c')
			t.cs = d;
		else if (key[0] == 'f')
			t.fork_cost = d;
		else if (key[0] == 't')
			t.thread_cost = d;
		else
			t.instr = d;
	} else if (strcmp(key, "mlfq_levels") == 0 || strcmp(key, "mlfq-levels") == 0) {
		if (parse_count(text, 1, MACHINE_MLFQ_MAX_LEVELS, &n) < 0) {
			snprintf(err, errsize, "%s: expected 1 to %d levels, found '%s'", key,
				 MACHINE_MLFQ_MAX_LEVELS, text);
			return -1;
		}
		t.mlfq_levels = (int)n;
	} else if (strncmp(key, "mlfq", 4) == 0 && (key[4] == '_' || key[4] == '-') &&
		   (strcmp(key + 5, "quantum") == 0 || strcmp(key + 5, "allotment") == 0 ||
		    strcmp(key + 5, "boost") == 0)) {
		if (parse_duration(text, &d) < 0 || d <= 0 || d > 3600000000000LL) {
			snprintf(err, errsize,
				 "%s: expected a positive duration such as 10ms, found '%s'", key, text);
			return -1;
		}
		if (key[5] == 'q')
			t.mlfq_quantum = d;
		else if (key[5] == 'a')
			t.mlfq_allotment = d;
		else
			t.mlfq_boost = d;
	} else if (strcmp(key, "runqueues") == 0) {
		if (strcmp(text, "global") == 0)
			t.percore = false;
		else if (strcmp(text, "percore") == 0)
			t.percore = true;
		else {
			snprintf(err, errsize, "runqueues: expected global or percore, found '%s'", text);
			return -1;
		}
	} else if (strcmp(key, "migration") == 0 || strcmp(key, "balance") == 0) {
		if (parse_duration(text, &d) < 0 || d > 3600000000000LL ||
		    (key[0] == 'b' && d <= 0)) {
			snprintf(err, errsize, "%s: expected a duration such as %s, found '%s'", key,
				 key[0] == 'b' ? "4ms (more than 0)" : "50us", text);
			return -1;
		}
		if (key[0] == 'm')
			t.migration = d;
		else
			t.balance = d;
	} else if (strcmp(key, "gil") == 0) {
		if (strcmp(text, "none") == 0)
			t.gil = GIL_NONE;
		else if (strcmp(text, "py2") == 0)
			t.gil = GIL_PY2;
		else if (strcmp(text, "py3") == 0)
			t.gil = GIL_PY3;
		else {
			snprintf(err, errsize, "gil: expected none, py2 or py3, found '%s'", text);
			return -1;
		}
		t.python[0] = '\0';
	} else if (strcmp(key, "eval-breaker") == 0 || strcmp(key, "eval_breaker") == 0) {
		if (strcmp(text, "every-instruction") == 0)
			t.breaker = BREAKER_EVERY_INSTRUCTION;
		else if (strcmp(text, "calls-and-back-edges") == 0)
			t.breaker = BREAKER_CALLS_AND_BACK_EDGES;
		else {
			snprintf(err, errsize,
				 "eval-breaker: expected every-instruction or calls-and-back-edges, "
				 "found '%s'", text);
			return -1;
		}
	} else if (strcmp(key, "python") == 0) {
		static const struct {
			const char *v;
			enum gil_model gil;
			enum eval_breaker breaker;
		} versions[] = {
			{"2.7", GIL_PY2, BREAKER_EVERY_INSTRUCTION},
			{"3.9", GIL_PY3, BREAKER_EVERY_INSTRUCTION},
			{"3.11", GIL_PY3, BREAKER_CALLS_AND_BACK_EDGES},
			{"3.13t", GIL_NONE, BREAKER_CALLS_AND_BACK_EDGES},
		};
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strcmp(text, versions[i].v) == 0)
				found = i;
		if (found < 0) {
			snprintf(err, errsize,
				 "python: unknown version '%s' (expected 2.7, 3.9, 3.11 or 3.13t)", text);
			return -1;
		}
		t.gil = versions[found].gil;
		t.breaker = versions[found].breaker;
		snprintf(t.python, sizeof t.python, "%s", versions[found].v);
	} else if (strcmp(key, "switch-interval") == 0 || strcmp(key, "switch_interval") == 0) {
		if (parse_duration(text, &d) < 0 || d <= 0 || d > 3600000000000LL) {
			snprintf(err, errsize,
				 "switch-interval: expected a positive duration such as 5ms, found '%s'",
				 text);
			return -1;
		}
		t.switch_interval = d;
	} else if (strcmp(key, "check-interval") == 0 || strcmp(key, "check_interval") == 0) {
		if (parse_count(text, 1, 1000000000, &n) < 0) {
			snprintf(err, errsize, "check-interval: expected 1 to 1000000000, found '%s'", text);
			return -1;
		}
		t.check_interval = (int)n;
	} else if (strcmp(key, "races") == 0) {
		if (strcmp(text, "on") == 0 || strcmp(text, "True") == 0 || strcmp(text, "1") == 0)
			t.races = true;
		else if (strcmp(text, "off") == 0 || strcmp(text, "False") == 0 || strcmp(text, "0") == 0)
			t.races = false;
		else {
			snprintf(err, errsize, "races: expected on or off, found '%s'", text);
			return -1;
		}
	} else if (strcmp(key, "jitter") == 0) {
		char *end;
		errno = 0;
		double j = strtod(text, &end);
		if (end == text || *end || errno || !(j >= 0 && j <= 1)) {
			snprintf(err, errsize, "jitter: expected a fraction from 0 to 1, found '%s'", text);
			return -1;
		}
		t.jitter = j;
	} else if (strcmp(key, "pipe") == 0 || strcmp(key, "pipe_capacity") == 0) {
		if (parse_count(text, 1, 1LL << 30, &n) < 0) {
			snprintf(err, errsize, "pipe: expected a capacity in bytes from 1 to 1073741824, found '%s'", text);
			return -1;
		}
		t.pipe_capacity = n;
	} else if (strcmp(key, "seed") == 0) {
		char *end;
		errno = 0;
		unsigned long long s = strtoull(text, &end, 0);
		if (end == text || *end || errno || text[0] == '-') {
			snprintf(err, errsize, "seed: expected a non-negative integer, found '%s'", text);
			return -1;
		}
		t.seed = s;
	} else if (strcmp(key, "max-instructions") == 0) {
		if (parse_count(text, 1, 1000000000000000LL, &n) < 0) {
			snprintf(err, errsize, "max-instructions: expected 1 to 10^15, found '%s'", text);
			return -1;
		}
		t.max_instructions = (uint64_t)n;
	} else if (strcmp(key, "max-events") == 0) {
		if (parse_count(text, 1, 4000000000LL, &n) < 0) {
			snprintf(err, errsize, "max-events: expected 1 to 4000000000, found '%s'", text);
			return -1;
		}
		t.max_events = (uint64_t)n;
	} else {
		snprintf(err, errsize,
			 "unknown machine setting '%s' (expected cores, policy, quantum, cs, fork, "
			 "thread, instr, jitter, races, gil, python, switch-interval, check-interval, "
			 "eval-breaker, seed, runqueues, migration, balance, mlfq_levels, "
			 "mlfq_quantum, mlfq_allotment or mlfq_boost)",
			 key);
		return -1;
	}
	*m = t;
	return 0;
bad_cores:
	snprintf(err, errsize, "cores: expected a whole number from 1 to %d, found '%s'",
		 MACHINE_MAX_CORES, text);
	return -1;
}

/* The text of a machine line's value as written in the source, so that a message quotes
 * what the user wrote ("0ms", not a number of nanoseconds). Columns count code points. */
static int value_text(const struct source *src, const struct ast_node *v, char *buf, size_t size)
{
	switch (v->kind) {
	case AST_INT:
	case AST_FLOAT:
	case AST_DURATION:
	case AST_NAME:
		break;
	case AST_STR:
		snprintf(buf, size, "%s", v->str ? v->str : "");
		return 0;
	default:
		return -1;
	}
	size_t len;
	const char *line = source_line(src, v->line, &len);
	if (!line)
		return -1;
	size_t i = 0;
	for (int c = 1; c < v->col && i < len; c++) /* skip col-1 code points */
		for (i++; i < len && ((unsigned char)line[i] & 0xC0) == 0x80; i++)
			;
	size_t j = i;
	while (j < len && line[j] != ' ' && line[j] != '\t' && line[j] != ',' && line[j] != '#')
		j++;
	snprintf(buf, size, "%.*s", (int)(j - i), line + i);
	return 0;
}

int machine_apply_ast(struct machine *m, const struct ast_program *prog, struct diag *err)
{
	struct machine t = *m;
	for (int i = 0; i < prog->body.n; i++) {
		const struct ast_node *st = prog->body.v[i];
		if (st->kind != AST_MACHINE)
			continue;
		for (int k = 0; k < st->items.n; k++) {
			const struct ast_node *kw = st->items.v[k];
			char text[128], msg[256];
			if (!kw->a || value_text(prog->src, kw->a, text, sizeof text) < 0) {
				diag_set(err, prog->src, kw->line, kw->col,
					 "machine %s: expected a number, duration or name", kw->str);
				return -1;
			}
			if (strcmp(kw->str, "until") == 0 || strcmp(kw->str, "max-events") == 0 ||
			    machine_set(&t, kw->str, text, msg, sizeof msg) < 0) {
				if (strcmp(kw->str, "until") == 0 || strcmp(kw->str, "max-events") == 0)
					snprintf(msg, sizeof msg,
						 "'%s' is a run limit: give it on the command line",
						 kw->str);
				bool at_key = strncmp(msg, "unknown", 7) == 0 || !kw->a;
				diag_set(err, prog->src, at_key ? kw->line : kw->a->line,
					 at_key ? kw->col : kw->a->col, "%s", msg);
				return -1;
			}
		}
	}
	*m = t;
	return 0;
}

int machine_apply_run_lines(struct machine *m, const struct source *src, struct diag *err)
{
	static const char tag[] = "# run:";
	struct machine t = *m;
	for (int line = 1;; line++) {
		size_t len;
		const char *text = source_line(src, line, &len);
		if (!text)
			break;
		if (len < sizeof tag - 1 || strncmp(text, tag, sizeof tag - 1) != 0)
			continue;
		char buf[256];
		snprintf(buf, sizeof buf, "%.*s", (int)(len - (sizeof tag - 1)), text + sizeof tag - 1);
		char *save = NULL, *key = strtok_r(buf, " \t", &save);
		while (key) {
			char *val = strtok_r(NULL, " \t", &save);
			char msg[256];
			if (strncmp(key, "--", 2) != 0 || !val) {
				diag_set(err, src, line, 1,
					 "a `# run:` line takes flags with values, such as `# run: --until 5s`");
				return -1;
			}
			if (machine_set(&t, key + 2, val, msg, sizeof msg) < 0) {
				diag_set(err, src, line, 1, "%s", msg);
				return -1;
			}
			key = strtok_r(NULL, " \t", &save);
		}
	}
	*m = t;
	return 0;
}

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
		.handoff = 50000,      /* 50 us: a message through a process pool's pipe and its
		                        * handler thread (CPython 3.11 here: about 100 us a task in
		                        * a pipelined map, 240 us an apply() round trip) */
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
		.nhosts = 1,
		.hosts = {{.name = "localhost", .cores = 0}}, /* its cores are m->cores */
	};
}

void machine_describe(const struct machine *m, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "%d core%s, %s", m->cores, m->cores == 1 ? "" : "s",
				    policy_name(m->policy));
	for (int h = 1; h < m->nhosts && n < size; h++) {
		const struct machine_host *x = &m->hosts[h];
		n += (size_t)snprintf(buf + n, size - n, "; host %s: %d core%s, %s", x->name, x->cores,
				      x->cores == 1 ? "" : "s",
				      policy_name(x->policy >= 0 ? (enum policy)x->policy : m->policy));
	}
}

int machine_host_index(const struct machine *m, const char *name)
{
	if (!name[0] || strcmp(name, "127.0.0.1") == 0)
		return 0;
	for (int h = 0; h < m->nhosts; h++)
		if (strcmp(m->hosts[h].name, name) == 0)
			return h;
	return -1;
}

static int host_cores(const struct machine *m, int h)
{
	return h == 0 ? m->cores : m->hosts[h].cores;
}

int machine_host_first_core(const struct machine *m, int h)
{
	int first = 0;
	for (int i = 0; i < h && i < m->nhosts; i++)
		first += host_cores(m, i);
	return first;
}

int machine_total_cores(const struct machine *m)
{
	return machine_host_first_core(m, m->nhosts);
}

const struct machine_link *machine_link_between(const struct machine *m, int a, int b)
{
	static const struct machine_link loopback = {.latency = 20000, .bandwidth = 10000000000LL};
	for (int i = 0; i < m->nlinks; i++) {
		const struct machine_link *l = &m->links[i];
		if ((l->a == a && l->b == b) || (l->a == b && l->b == a))
			return l;
	}
	return a == b ? &loopback : NULL;
}

/* "100Mbit", "1Gbit/s", "12.5MB/s", "125000000" (bytes per second). */
static int parse_bandwidth(const char *text, int64_t *bytes_per_s)
{
	static const struct {
		const char *unit;
		double bytes;
	} bw[] = {{"", 1}, {"B", 1}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"bit", 0.125},
		  {"kbit", 125}, {"Mbit", 125e3}, {"Gbit", 125e6}};
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || errno || !isfinite(v) || v <= 0)
		return -1;
	while (*end == ' ')
		end++;
	char unit[16];
	size_t n = strlen(end);
	if (n >= 2 && strcmp(end + n - 2, "/s") == 0)
		n -= 2;
	if (n >= sizeof unit)
		return -1;
	memcpy(unit, end, n);
	unit[n] = 0;
	for (size_t i = 0; i < sizeof bw / sizeof bw[0]; i++)
		if (strcmp(unit, bw[i].unit) == 0) {
			double r = v * bw[i].bytes;
			if (r < 1 || r > 1e15)
				return -1;
			*bytes_per_s = (int64_t)r;
			return 0;
		}
	return -1;
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
		   strcmp(key, "thread") == 0 || strcmp(key, "instr") == 0 ||
		   strcmp(key, "handoff") == 0) {
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
		else if (key[0] == 'h')
			t.handoff = d;
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

#define NET_FAIL(node, ...) \
	(diag_set(err, src, (node)->line, (node)->col, __VA_ARGS__), -1)

/* `machine host=NAME cores=N` declares a host; `machine link=A to=B latency=D
 * bandwidth=RATE` a link between two declared hosts. */
static int network_line(struct machine *m, const struct source *src, const struct ast_node *st,
			struct diag *err)
{
	bool host = strcmp(st->items.v[0]->str, "host") == 0;
	char val[4][128] = {{0}};
	const struct ast_node *at[4] = {0};
	static const char *const host_keys[] = {"host", "cores", "policy", "quantum"};
	static const char *const link_keys[] = {"link", "to", "latency", "bandwidth"};
	const char *const *keys = host ? host_keys : link_keys;
	int nkeys = 4;
	for (int k = 0; k < st->items.n; k++) {
		const struct ast_node *kw = st->items.v[k];
		int slot = -1;
		for (int j = 0; j < nkeys; j++)
			if (strcmp(kw->str, keys[j]) == 0)
				slot = j;
		if (slot < 0)
			return NET_FAIL(kw,
				       host ? "unknown key '%s' in a host line (expected cores=, policy= "
					      "and quantum=; the other costs are the machine's)"
					    : "unknown key '%s' in a link line (expected to=, latency= "
					      "and bandwidth=)",
				       kw->str);
		if (!kw->a || value_text(src, kw->a, val[slot], sizeof val[slot]) < 0)
			return NET_FAIL(kw, "machine %s: expected a number, duration or name",
				       kw->str);
		at[slot] = kw->a;
	}
	if (host) {
		const char *name = val[0];
		long long n = 1;
		if (!name[0] || strlen(name) >= sizeof m->hosts[0].name)
			return NET_FAIL(at[0], "a host needs a name of 1 to 31 characters");
		if (machine_host_index(m, name) >= 0 || strcmp(name, "localhost") == 0)
			return NET_FAIL(at[0], "host '%s' is declared twice", name);
		if (m->nhosts >= MACHINE_MAX_HOSTS)
			return NET_FAIL(at[0], "more than 16 hosts");
		if (at[1] && parse_count(val[1], 1, MACHINE_MAX_CORES, &n) < 0)
			return NET_FAIL(at[1], "cores: expected a count from 1 to 1024, found '%s'",
				       val[1]);
		struct machine_host *h = &m->hosts[m->nhosts];
		*h = (struct machine_host){.cores = (int)n, .policy = -1};
		snprintf(h->name, sizeof h->name, "%s", name);
		struct machine own = *m;
		char msg[256];
		for (int j = 2; j < 4; j++)
			if (at[j] && machine_set(&own, keys[j], val[j], msg, sizeof msg) < 0)
				return NET_FAIL(at[j], "%s", msg);
		if (at[2])
			h->policy = (int)own.policy;
		if (at[3])
			h->quantum = own.quantum;
		if (machine_total_cores(m) + h->cores > MACHINE_MAX_CORES)
			return NET_FAIL(at[1] ? at[1] : at[0],
				       "the hosts have more than 1024 cores together");
		m->nhosts++;
		return 0;
	}
	struct machine_link l = {.latency = 100000, .bandwidth = 125000000}; /* 100 us, 1 Gbit/s */
	if (!at[1])
		return NET_FAIL(st->items.v[0], "a link needs to=HOST: the host at its "
				"other end");
	l.a = machine_host_index(m, val[0]);
	l.b = machine_host_index(m, val[1]);
	for (int e = 0; e < 2; e++)
		if ((e ? l.b : l.a) < 0)
			return NET_FAIL(at[e],
				       "unknown host '%s' (declare it first with `machine host=%s "
				       "cores=N`)",
				       val[e], val[e]);
	for (int i = 0; i < m->nlinks; i++)
		if ((m->links[i].a == l.a && m->links[i].b == l.b) ||
		    (m->links[i].a == l.b && m->links[i].b == l.a))
			return NET_FAIL(at[0], "the link %s-%s is declared twice", val[0], val[1]);
	if (at[2] && parse_duration(val[2], &l.latency) < 0)
		return NET_FAIL(at[2], "latency: expected a duration such as 5ms, found '%s'",
			       val[2]);
	if (at[3] && parse_bandwidth(val[3], &l.bandwidth) < 0)
		return NET_FAIL(at[3],
			       "bandwidth: expected a rate such as \"100Mbit\" or \"12.5MB/s\" "
			       "(bit, kbit, Mbit, Gbit, B, kB, MB, GB per second), found '%s'",
			       val[3]);
	if (m->nlinks >= MACHINE_MAX_LINKS)
		return NET_FAIL(at[0], "more than 64 links");
	m->links[m->nlinks++] = l;
	return 0;
}

bool machine_line_is_network(const struct ast_node *line)
{
	const char *first = line->items.n > 0 ? line->items.v[0]->str : "";
	return line->kind == AST_MACHINE && (strcmp(first, "host") == 0 || strcmp(first, "link") == 0);
}

int machine_apply_ast(struct machine *m, const struct ast_program *prog, struct diag *err)
{
	struct machine t = *m;
	for (int i = 0; i < prog->body.n; i++) {
		const struct ast_node *st = prog->body.v[i];
		if (st->kind != AST_MACHINE)
			continue;
		if (machine_line_is_network(st)) {
			if (network_line(&t, prog->src, st, err) < 0)
				return -1;
			continue;
		}
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

/* calibrate.c — measures this machine's context-switch, fork, thread-creation, wake-up and
 * interpreter costs for `timeslice calibrate`, and writes them as a machine profile.
 *
 * Every measurement is repeated `runs` times and reported as the median with its quartiles:
 * the median ignores the few repetitions another process or an interrupt spoils. What each one
 * times, and why it maps to which machine key, is in docs/real.md ("Calibration"). Only threads
 * made here are pinned (sched_setaffinity on a thread pins that thread alone), so the caller's
 * affinity is never changed. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "real.h"
#include "shm.h" /* real_mono_ns */

/* Round trips per repetition of the ping-pong (and write+read pairs of the syscall alone): a
 * switch is too short to time alone against the clock's own cost. */
#define TRIPS 200
/* Iterations of the VM loop per repetition (about 5 instructions each). */
#define LOOP_ITERATIONS 20000
/* How long the signaller waits after the waiter announced itself, so that the waiter is
 * asleep in the kernel rather than on its way in. */
#define WAKE_SETTLE_NS 200000
#define WAKE_TIMEOUT_NS 2000000000LL

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* The value at fraction q (0..1) of the sorted v, interpolated between neighbours. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;
	return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Sorts v (n > 0 values, ns) into a sample. */
static void summarise(struct real_sample *s, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	s->n = n;
	s->median = quantile(v, n, 0.5);
	s->p25 = quantile(v, n, 0.25);
	s->p75 = quantile(v, n, 0.75);
}

static int fail(char *err, size_t size, const char *what)
{
	snprintf(err, size, "%s: %s", what, strerror(errno));
	return -1;
}

static int pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

static bool write_byte(int fd, char b)
{
	return write(fd, &b, 1) == 1;
}

static bool read_byte(int fd, char *b)
{
	return read(fd, b, 1) == 1;
}

/* The quantities measured, one value per repetition each (ns). */
enum {
	Q_SYSCALL, Q_ROUNDTRIP, Q_FORK_CHILD, Q_FORK_RETURN, Q_FORK_WAIT, Q_THREAD_START,
	Q_THREAD_RETURN, Q_WAKEUP, Q_INSTR, Q_COUNT
};

/* What the repetitions share: pipes made once, the VM's loop compiled once. */
struct bench {
	int cpu_a, cpu_b;
	int ab[2], ba[2], self[2]; /* ping to pong, pong to ping, the syscall alone */
	int report[2];             /* a forked child's first timestamp */
	struct source *loop_src;   /* the VM's loop: the program points into its AST and source */
	struct ast_program *loop_ast;
	struct vm_program *loop;
	double *v[Q_COUNT];        /* [quantity][repetition] */
};

static void close_pair(int fd[2])
{
	for (int i = 0; i < 2; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	fd[0] = fd[1] = -1;
}

/* ---- context switch: a ping-pong between two threads on one CPU ---- */

struct pingpong {
	const struct bench *b;
	double sys, rt; /* ns per write+read pair, per round trip */
	bool failed;
};

static void *pong_main(void *arg)
{
	struct pingpong *pp = arg;
	char c;
	if (pin_to(pp->b->cpu_a) < 0)
		pp->failed = true;
	while (read_byte(pp->b->ab[0], &c) && c != 'q')
		if (!write_byte(pp->b->ba[1], c))
			break;
	return NULL;
}

/* TRIPS of fd_out -> fd_in (the same pipe: no switch; through pong: two switches); ns each. */
static double trips(struct pingpong *pp, int fd_out, int fd_in)
{
	char c;
	int64_t t0 = real_mono_ns();
	for (int k = 0; k < TRIPS && !pp->failed; k++)
		if (!write_byte(fd_out, 'p') || !read_byte(fd_in, &c))
			pp->failed = true;
	return (double)(real_mono_ns() - t0) / TRIPS;
}

static void *ping_main(void *arg)
{
	struct pingpong *pp = arg;
	const struct bench *b = pp->b;
	if (pin_to(b->cpu_a) < 0)
		pp->failed = true;
	pp->sys = trips(pp, b->self[1], b->self[0]);
	trips(pp, b->ab[1], b->ba[0]); /* warm up: both sides have slept once */
	pp->rt = trips(pp, b->ab[1], b->ba[0]);
	write_byte(b->ab[1], 'q');
	return NULL;
}

static int measure_switch(struct bench *b, int r, char *err, size_t size)
{
	struct pingpong pp = {.b = b};
	pthread_t ping, pong;
	if ((errno = pthread_create(&pong, NULL, pong_main, &pp)) != 0)
		return fail(err, size, "context switch: pthread_create");
	if ((errno = pthread_create(&ping, NULL, ping_main, &pp)) != 0) {
		fail(err, size, "context switch: pthread_create");
		write_byte(b->ab[1], 'q');
		pthread_join(pong, NULL);
		return -1;
	}
	pthread_join(ping, NULL);
	pthread_join(pong, NULL);
	if (pp.failed) {
		snprintf(err, size, "context switch: cannot pin two threads to CPU %d or move bytes "
			 "through a pipe", b->cpu_a);
		return -1;
	}
	b->v[Q_SYSCALL][r] = pp.sys;
	b->v[Q_ROUNDTRIP][r] = pp.rt;
	return 0;
}

/* ---- fork ---- */

static int measure_fork(struct bench *b, int r, char *err, size_t size)
{
	int64_t t0 = real_mono_ns();
	pid_t pid = fork();
	if (pid == 0) {
		int64_t t = real_mono_ns(); /* the child's first instruction */
		_exit(write(b->report[1], &t, sizeof t) == sizeof t ? 0 : 1);
	}
	int64_t t1 = real_mono_ns();
	if (pid < 0)
		return fail(err, size, "fork");
	int64_t tc = 0;
	size_t got = 0;
	while (got < sizeof tc) {
		ssize_t n = read(b->report[0], (char *)&tc + got, sizeof tc - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int64_t t2 = real_mono_ns();
	if (got != sizeof tc) {
		snprintf(err, size, "fork: the child did not report its start");
		return -1;
	}
	b->v[Q_FORK_CHILD][r] = (double)(tc - t0);
	b->v[Q_FORK_RETURN][r] = (double)(t1 - t0);
	b->v[Q_FORK_WAIT][r] = (double)(t2 - t0);
	return 0;
}

/* ---- thread creation ---- */

static void *thread_first(void *arg)
{
	*(int64_t *)arg = real_mono_ns();
	return NULL;
}

static int measure_thread(struct bench *b, int r, char *err, size_t size)
{
	int64_t first = 0;
	pthread_t t;
	int64_t t0 = real_mono_ns();
	errno = pthread_create(&t, NULL, thread_first, &first);
	int64_t t1 = real_mono_ns();
	if (errno != 0)
		return fail(err, size, "thread: pthread_create");
	pthread_join(t, NULL); /* makes `first` visible here */
	b->v[Q_THREAD_START][r] = (double)(first - t0);
	b->v[Q_THREAD_RETURN][r] = (double)(t1 - t0);
	return 0;
}

/* ---- wake-up: a condition variable signalled on one CPU, its waiter on another ---- */

struct wake {
	pthread_mutex_t mu;
	pthread_cond_t cv, done; /* done: CLOCK_MONOTONIC */
	int cpu_a, cpu_b;
	bool waiting;  /* the waiter is in pthread_cond_wait */
	bool signalled, woke, failed;
	int64_t t_signal, t_woke;
	const char *problem;
};

static void *waiter_main(void *arg)
{
	struct wake *w = arg;
	bool pinned = pin_to(w->cpu_b) == 0;
	pthread_mutex_lock(&w->mu);
	w->failed = !pinned;
	w->waiting = pinned;
	while (pinned && !w->signalled)
		pthread_cond_wait(&w->cv, &w->mu);
	w->t_woke = real_mono_ns();
	w->waiting = false;
	w->woke = true;
	pthread_cond_signal(&w->done);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void *signaller_main(void *arg)
{
	struct wake *w = arg;
	if (pin_to(w->cpu_a) < 0) {
		w->problem = "cannot pin the signalling thread";
		return NULL;
	}
	/* the waiter does not signal when it starts waiting: poll for it */
	int64_t deadline = real_mono_ns() + WAKE_TIMEOUT_NS;
	pthread_mutex_lock(&w->mu);
	while (!w->waiting && !w->failed && real_mono_ns() < deadline) {
		pthread_mutex_unlock(&w->mu);
		struct timespec poll = {0, 20000};
		nanosleep(&poll, NULL);
		pthread_mutex_lock(&w->mu);
	}
	bool ready = w->waiting;
	pthread_mutex_unlock(&w->mu);
	if (!ready) {
		w->problem = w->failed ? "cannot pin the waiting thread"
			     : "the waiting thread did not start waiting within 2 s";
		return NULL;
	}
	struct timespec settle = {0, WAKE_SETTLE_NS};
	nanosleep(&settle, NULL);
	pthread_mutex_lock(&w->mu);
	w->t_signal = real_mono_ns();
	w->signalled = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int measure_wakeup(struct bench *b, int r, char *err, size_t size)
{
	struct wake w = {.cpu_a = b->cpu_a, .cpu_b = b->cpu_b};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	pthread_cond_init(&w.done, &ca);
	pthread_condattr_destroy(&ca);
	pthread_t wt, st;
	int rc = 0;
	if ((errno = pthread_create(&wt, NULL, waiter_main, &w)) != 0) {
		rc = fail(err, size, "wake-up: pthread_create");
		goto out;
	}
	if ((errno = pthread_create(&st, NULL, signaller_main, &w)) != 0)
		rc = fail(err, size, "wake-up: pthread_create");
	else
		pthread_join(st, NULL);
	pthread_mutex_lock(&w.mu);
	if (rc == 0 && !w.problem) { /* wait for the measured wake-up, at most 2 s */
		struct timespec ts;
		int64_t deadline = real_mono_ns() + WAKE_TIMEOUT_NS;
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		while (!w.woke && pthread_cond_timedwait(&w.done, &w.mu, &ts) != ETIMEDOUT)
			;
		if (!w.woke)
			w.problem = "the woken thread did not run within 2 s";
	}
	w.signalled = true; /* whatever happened, let the waiter go */
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(wt, NULL);
	if (rc == 0 && w.problem) {
		snprintf(err, size, "wake-up: %s", w.problem);
		rc = -1;
	}
	if (rc == 0)
		b->v[Q_WAKEUP][r] = (double)(w.t_woke - w.t_signal);
out:
	pthread_cond_destroy(&w.done);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc;
}

/* ---- the interpreter: the VM on a fixed loop ---- */

static const char loop_program[] =
	"def spin(n):\n"
	"    i = 0\n"
	"    x = 0\n"
	"    while i < n:\n"
	"        x = x + i\n"
	"        i = i + 1\n"
	"    return x\n"
	"spin(%d)\n";

/* Compiles the loop into b. Returns 0, or -1 with a message. */
static int compile_loop(struct bench *b, char *err, size_t size)
{
	char text[sizeof loop_program + 16];
	snprintf(text, sizeof text, loop_program, LOOP_ITERATIONS);
	struct diag d = {.msg = "out of memory"};
	b->loop_src = source_from_memory("<calibrate>", text, strlen(text));
	b->loop_ast = b->loop_src ? ast_parse(b->loop_src, &d) : NULL;
	b->loop = b->loop_ast ? vm_compile(b->loop_ast, &d) : NULL;
	if (b->loop)
		return 0;
	snprintf(err, size, "instr: the VM's loop does not compile: %s", d.msg);
	return -1;
}

static int measure_instr(struct bench *b, int r, char *err, size_t size)
{
	struct vm_proc *p = vm_proc_create(b->loop, 1);
	struct vm_thread *t = p ? vm_thread_create_main(p) : NULL;
	uint64_t n = 0;
	int64_t ns = 0;
	if (t) {
		struct vm_call call;
		int64_t cost = 0;
		enum vm_status st;
		int64_t t0 = real_mono_ns();
		while ((st = vm_run(t, &call, &cost)) == VM_YIELD)
			;
		ns = real_mono_ns() - t0;
		n = st == VM_EXIT ? vm_thread_take_instructions(t) : 0;
	}
	vm_thread_destroy(t);
	vm_proc_destroy(p);
	if (n == 0) {
		snprintf(err, size, "instr: the VM could not run its loop to the end");
		return -1;
	}
	b->v[Q_INSTR][r] = (double)ns / (double)n;
	return 0;
}

/* ---- where ---- */

static double load_average(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f && fscanf(f, "%lf", &l) != 1)
		l = -1;
	if (f)
		fclose(f);
	return l;
}

static void describe_machine(struct real_calibration *c)
{
	if (gethostname(c->host, sizeof c->host) < 0 || !c->host[0])
		snprintf(c->host, sizeof c->host, "unknown host");
	c->host[sizeof c->host - 1] = '\0';
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(c->date, sizeof c->date, "%Y-%m-%d %H:%M UTC", &tm);
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(c->cpu_model, sizeof c->cpu_model, "%s", colon + 1 + (colon[1] == ' '));
			c->cpu_model[strcspn(c->cpu_model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	struct utsname u;
	if (!c->cpu_model[0])
		snprintf(c->cpu_model, sizeof c->cpu_model, "%s",
			 uname(&u) == 0 ? u.machine : "unknown CPU");
	cpu_set_t set;
	c->cpu_a = c->cpu_b = -1;
	c->cores = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		c->cores = CPU_COUNT(&set);
		for (int i = 0; i < CPU_SETSIZE && c->cpu_b < 0; i++)
			if (CPU_ISSET(i, &set)) {
				if (c->cpu_a < 0)
					c->cpu_a = i;
				else
					c->cpu_b = i;
			}
	}
	if (c->cpu_a < 0) { /* no affinity call: trust CPU 0 */
		c->cpu_a = 0;
		c->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	}
}

/* ns rounded to three significant digits, so that the profile reads 2.13us, 412us. */
static int64_t round3(double ns)
{
	if (!(ns > 0) || !isfinite(ns))
		return 0;
	double scale = 1;
	while (ns / scale >= 1000)
		scale *= 10;
	return (int64_t)(llround(ns / scale) * scale);
}

static void derive(struct real_calibration *c)
{
	double cs = c->roundtrip.median / 2 - c->syscall.median;
	c->cs = round3(cs > 0 ? cs : 0);
	c->fork = round3(c->fork_child.median - (double)c->cs);
	c->thread = round3(c->thread_start.median - (double)c->cs);
	c->gil_wakeup = c->wakeup.n ? round3(c->wakeup.median - (double)c->cs) : -1;
	c->instr_ns = c->instr.n ? llround(c->instr.median) : -1;
}

int real_calibrate(int runs, struct real_calibration *c, char *err, size_t errsize)
{
	memset(c, 0, sizeof *c);
	c->cs = c->fork = c->thread = c->gil_wakeup = c->instr_ns = -1;
	if (runs < 1 || runs > 100000) {
		snprintf(err, errsize, "runs: expected 1 to 100000, found %d", runs);
		return -1;
	}
	c->runs = runs;
	describe_machine(c);
	c->load[0] = load_average();
	struct bench b = {.cpu_a = c->cpu_a, .cpu_b = c->cpu_b, .ab = {-1, -1}, .ba = {-1, -1},
			  .self = {-1, -1}, .report = {-1, -1}};
	double *all = calloc((size_t)runs * Q_COUNT, sizeof *all);
	int rc = -1;
	if (!all) {
		snprintf(err, errsize, "out of memory");
		goto out;
	}
	for (int q = 0; q < Q_COUNT; q++)
		b.v[q] = all + (size_t)q * (size_t)runs;
	if (pipe(b.ab) < 0 || pipe(b.ba) < 0 || pipe(b.self) < 0 || pipe(b.report) < 0) {
		fail(err, errsize, "pipe");
		goto out;
	}
	if (compile_loop(&b, err, errsize) < 0)
		goto out;
	/* Round by round, one repetition of everything: a burst of other load then spoils one
	 * repetition of each measurement, which the medians leave out, not a whole measurement. */
	rc = 0;
	for (int r = 0; r < runs && rc == 0; r++) {
		rc = measure_switch(&b, r, err, errsize);
		if (rc == 0)
			rc = measure_fork(&b, r, err, errsize);
		if (rc == 0)
			rc = measure_thread(&b, r, err, errsize);
		if (rc == 0 && b.cpu_b >= 0)
			rc = measure_wakeup(&b, r, err, errsize);
		if (rc == 0)
			rc = measure_instr(&b, r, err, errsize);
	}
	if (rc == 0) {
		struct real_sample *to[Q_COUNT] = {
			[Q_SYSCALL] = &c->syscall, [Q_ROUNDTRIP] = &c->roundtrip,
			[Q_FORK_CHILD] = &c->fork_child, [Q_FORK_RETURN] = &c->fork_return,
			[Q_FORK_WAIT] = &c->fork_wait, [Q_THREAD_START] = &c->thread_start,
			[Q_THREAD_RETURN] = &c->thread_return, [Q_WAKEUP] = &c->wakeup,
			[Q_INSTR] = &c->instr,
		};
		for (int q = 0; q < Q_COUNT; q++)
			if (q != Q_WAKEUP || b.cpu_b >= 0)
				summarise(to[q], b.v[q], runs);
		if (b.cpu_b < 0)
			snprintf(c->wakeup.why, sizeof c->wakeup.why,
				 "needs two CPUs (this process may use one)");
		derive(c);
	}
	c->load[1] = load_average();
out:
	vm_program_destroy(b.loop);
	ast_program_destroy(b.loop_ast);
	source_destroy(b.loop_src);
	close_pair(b.ab);
	close_pair(b.ba);
	close_pair(b.self);
	close_pair(b.report);
	free(all);
	return rc;
}

/* ---- the profile ---- */

/* ns as the scenario language writes a duration (2.13us), checked to parse back to exactly
 * ns; else as a whole number of nanoseconds. */
static const char *duration_text(int64_t ns, char *buf, size_t size)
{
	int64_t back;
	vm_format_dur(ns, buf, size);
	if (parse_duration(buf, &back) < 0 || back != ns)
		snprintf(buf, size, "%lldns", (long long)ns);
	return buf;
}

/* "1.78ms (quartiles 1.67ms .. 1.94ms)": a sample for a comment, three digits each. */
static const char *spread_text(const struct real_sample *s, char *buf, size_t size)
{
	char a[32], b[32], m[32];
	snprintf(buf, size, "%s (quartiles %s .. %s)", vm_format_dur(round3(s->median), m, sizeof m),
		 vm_format_dur(round3(s->p25), a, sizeof a), vm_format_dur(round3(s->p75), b, sizeof b));
	return buf;
}

int real_calibration_write(FILE *f, const struct real_calibration *c)
{
	char s1[160], s2[160], d[32];
	fprintf(f, "# timeslice machine profile: measured by `timeslice calibrate` on %s, %s, %s, "
		"%d core%s\n", c->host, c->date, c->cpu_model, c->cores, c->cores == 1 ? "" : "s");
	fprintf(f, "# Each figure is the median of %d repetition%s (docs/real.md, \"Calibration\"); "
		"load average %.2f before, %.2f after.\n", c->runs, c->runs == 1 ? "" : "s", c->load[0],
		c->load[1]);
	fprintf(f, "# Load it with --machine FILE (run, check, test, real, compare); the scenario's "
		"own machine line,\n# then its `# run:` lines, then command-line flags override "
		"it.\n#\n");
	if (c->cs >= 0)
		fprintf(f, "# cs: two threads pinned to CPU %d ping-pong a byte through pipes: round "
			"trip %s / 2,\n#   minus a pipe write + read alone, %s\n", c->cpu_a,
			spread_text(&c->roundtrip, s1, sizeof s1),
			spread_text(&c->syscall, s2, sizeof s2));
	if (c->fork >= 0)
		fprintf(f, "# fork: fork() to the child's first instruction %s, minus cs\n#   (the "
			"parent's fork() returns after %s)\n",
			spread_text(&c->fork_child, s1, sizeof s1),
			spread_text(&c->fork_return, s2, sizeof s2));
	if (c->thread >= 0)
		fprintf(f, "# thread: pthread_create() to the new thread's first instruction %s, "
			"minus cs\n", spread_text(&c->thread_start, s1, sizeof s1));
	if (c->gil_wakeup >= 0)
		fprintf(f, "# gil_wakeup: pthread_cond_signal() on CPU %d to the waiter running on "
			"CPU %d %s, minus cs\n", c->cpu_a, c->cpu_b,
			spread_text(&c->wakeup, s1, sizeof s1));
	else
		fprintf(f, "# gil_wakeup: not measured: %s\n", c->wakeup.why);
	if (c->instr_ns >= 0)
		fprintf(f, "# instr: the VM on a fixed loop, %.2f ns per instruction (quartiles %.2f "
			".. %.2f), rounded\n", c->instr.median, c->instr.p25, c->instr.p75);
	fprintf(f, "machine");
	const struct {
		const char *key;
		int64_t ns;
	} keys[] = {{"cs", c->cs}, {"fork", c->fork}, {"thread", c->thread},
		    {"gil_wakeup", c->gil_wakeup}, {"instr", c->instr_ns}};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].ns >= 0)
			fprintf(f, " %s=%s", keys[i].key, duration_text(keys[i].ns, d, sizeof d));
	fprintf(f, "\n");
	return ferror(f) ? -1 : 0;
}

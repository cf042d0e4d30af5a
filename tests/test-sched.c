/* test-sched.c — the scheduling classes (prio, mlfq, fair), per-core run queues with
 * balancing and affinity, priority inheritance, the new metrics, and bad scheduling input.
 * Expected values are worked out by hand in the comments (costs set to 0 where that keeps
 * the arithmetic clean); FIFO's convoy and RR's response against turnaround are in
 * test-kernel.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* Does some TR_STATE record of thread `name` carry a reason containing `text`? */
static bool has_reason(const struct run *r, const char *name, const char *text)
{
	int t = thread_named(r->tr, name);
	for (size_t i = 0; i < r->tr->nrecs; i++) {
		const struct trace_rec *x = &r->tr->recs[i];
		if (x->kind == TR_STATE && x->tid == t && x->reason &&
		    strstr(trace_str(r->tr, x->reason), text))
			return true;
	}
	return false;
}

/* ---- static priority ---- */

/* The jobs wait for one Event, so they become ready together at 0 whatever their priority;
 * the main thread (priority 0) sets it and gives way. */
static const char prio_jobs[] =
	"machine cores=1 policy=prio quantum=100ms cs=0ns thread=0ns\n"
	"import threading\n"
	"go = threading.Event()\n"
	"def job(d):\n"
	"    go.wait()\n"
	"    compute(d)\n"
	"threading.Thread(target=job, args=(30ms,), name='A', priority=%d).start()\n"
	"threading.Thread(target=job, args=(10ms,), name='B', priority=%d).start()\n"
	"threading.Thread(target=job, args=(10ms,), name='C', priority=%d).start()\n"
	"go.set()\n";

START_TEST(prio_convoy_and_shortest_first)
{
	struct run r;
	char text[1024];
	/* Equal priorities: FIFO among equals, A 0-30, B 30-40, C 40-50 (the convoy):
	 * turnarounds 30 + 40 + 50 = 120 ms. */
	snprintf(text, sizeof text, prio_jobs, 1, 1, 1);
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "B")->turnaround_ns, 40 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 50 * MS);
	run_free(&r);
	/* The short jobs at a higher priority run first, as SJF would order them: B 0-10,
	 * C 10-20, A 20-50: turnarounds 10 + 20 + 50 = 80 ms. */
	snprintf(text, sizeof text, prio_jobs, 1, 2, 2);
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "B")->turnaround_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 20 * MS);
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 50 * MS);
	ck_assert_int_eq(r.m->makespan_ns, 50 * MS);
	run_free(&r);
}
END_TEST

START_TEST(prio_wakeup_preempts)
{
	/* L (priority 1) computes 30 ms from 0; H (priority 5) sleeps 10 ms, then computes
	 * 5 ms. At 10 H wakes and takes the core at once: H runs 10-15, L 0-10 and 15-35.
	 * L is preempted once, with a reason naming H. */
	struct run r;
	run_text(&r,
		 "machine cores=1 policy=prio cs=0ns thread=0ns quantum=100ms\n"
		 "import threading, time\n"
		 "def low():\n"
		 "    compute(30ms)\n"
		 "def high():\n"
		 "    time.sleep(10ms)\n"
		 "    compute(5ms)\n"
		 "threading.Thread(target=high, name='H', priority=5).start()\n"
		 "threading.Thread(target=low, name='L', priority=1).start()\n",
		 NULL);
	ck_assert_int_eq(tm(&r, "H")->end_ns, 15 * MS);
	ck_assert_int_eq(tm(&r, "H")->ready_ns, 0);
	ck_assert_int_eq(tm(&r, "L")->end_ns, 35 * MS);
	ck_assert_int_eq(tm(&r, "L")->involuntary, 1);
	ck_assert(has_reason(&r, "L", "preempted by H (priority 5 > 1)"));
	run_free(&r);
}
END_TEST

/* ---- priority inversion and inheritance ---- */

static const char inversion[] =
	"machine cores=1 policy=prio cs=0ns thread=0ns quantum=100ms\n"
	"import threading, time\n"
	"lock = threading.Lock(%s)\n"
	"def low():\n"
	"    with lock:\n"
	"        compute(20ms)\n"
	"def medium():\n"
	"    time.sleep(5ms)\n"
	"    compute(50ms)\n"
	"def high():\n"
	"    time.sleep(2ms)\n"
	"    with lock:\n"
	"        compute(5ms)\n"
	"threading.Thread(target=high, name='H', priority=10).start()\n"
	"threading.Thread(target=medium, name='M', priority=5).start()\n"
	"threading.Thread(target=low, name='L', priority=1).start()\n";

START_TEST(priority_inversion_and_inheritance)
{
	struct run r;
	char text[1024];
	/* Without inheritance. H and M start and go to sleep at once; L takes the lock at 0
	 * and computes. At 2 H wakes, preempts L, blocks on the lock. At 5 M wakes and preempts
	 * L (5 > 1) after 5 of L's 20 ms: M runs 5-55, L the other 15 ms 55-70, hands the lock
	 * to H, which runs 70-75. H (the most important) ends after M: the inversion. H waited
	 * 68 ms for the lock. */
	snprintf(text, sizeof text, inversion, "");
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "M")->end_ns, 55 * MS);
	ck_assert_int_eq(tm(&r, "H")->end_ns, 75 * MS);
	ck_assert_int_eq(tm(&r, "H")->state_ns[TS_LOCK], 68 * MS);
	run_free(&r);
	/* With inherit=True. At 2 H blocks and lends L its priority 10; at 5 M (5 < 10) does not
	 * preempt. L ends its 20 ms at 20 and hands the lock to H; L falls back to 1 and H runs
	 * 20-25; then M 25-75. H waited 18 ms; it ends before M. */
	snprintf(text, sizeof text, inversion, "inherit=True");
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "H")->end_ns, 25 * MS);
	ck_assert_int_eq(tm(&r, "H")->state_ns[TS_LOCK], 18 * MS);
	ck_assert_int_eq(tm(&r, "M")->end_ns, 75 * MS);
	ck_assert_int_eq(tm(&r, "L")->end_ns, 20 * MS);
	ck_assert_int_eq(tm(&r, "L")->involuntary, 1); /* at 2, by H, before H blocks */
	run_free(&r);
}
END_TEST

/* ---- MLFQ ---- */

START_TEST(mlfq_interactive_keeps_its_level)
{
	/* Quantum 10 ms at the top (20, 40 below), allotment 10 ms. The hog runs 0-10 at
	 * level 0 and moves down to 1. The interactive job runs 10-11, does 9 ms of I/O; the hog
	 * runs 11-20 at level 1 and is preempted by the job's wake-up at 20 (level 0 above 1);
	 * it uses the last 1 ms of its level-1 allotment 21-22 and moves down to 2. The job
	 * uses 1 ms per wake-up, 5 ms in all: it never uses its 10 ms allotment and keeps level
	 * 0, so after its first wait it never waits again: it runs at 10, 20, 30, 40, 50 and
	 * ends at 60; its only ready time is 0-10. The hog's 100 ms end at 105. */
	struct run r;
	run_text(&r,
		 "machine cores=1 policy=mlfq cs=0ns thread=0ns mlfq_quantum=10ms "
		 "mlfq_allotment=10ms mlfq_levels=3\n"
		 "import threading\n"
		 "def hog():\n"
		 "    compute(100ms)\n"
		 "def interactive():\n"
		 "    for i in range(5):\n"
		 "        compute(1ms)\n"
		 "        io(9ms)\n"
		 "threading.Thread(target=hog, name='hog').start()\n"
		 "threading.Thread(target=interactive, name='job').start()\n",
		 NULL);
	ck_assert_int_eq(tm(&r, "job")->ready_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "job")->end_ns, 60 * MS);
	ck_assert_int_eq(tm(&r, "job")->involuntary, 0);
	ck_assert_int_eq(tm(&r, "hog")->end_ns, 105 * MS);
	ck_assert(has_reason(&r, "hog", "moves down to level 1"));
	ck_assert(has_reason(&r, "hog", "moves down to level 2"));
	ck_assert(has_reason(&r, "hog", "preempted by job (mlfq level 0 above 1)"));
	ck_assert(!has_reason(&r, "job", "moves down"));
	run_free(&r);
}
END_TEST

static const char starve[] =
	"machine cores=1 policy=mlfq cs=0ns thread=0ns mlfq_levels=2 mlfq_quantum=10ms "
	"mlfq_allotment=10ms mlfq_boost=%s\n"
	"import threading, time\n"
	"def hog():\n"
	"    compute(1s)\n"
	"def pinger():\n"
	"    time.sleep(10ms)\n"
	"    for i in range(20):\n"
	"        compute(1ms)\n"
	"        io(3ms)\n"
	"for i in range(4):\n"
	"    threading.Thread(target=pinger).start()\n"
	"threading.Thread(target=hog, name='hog').start()\n";

START_TEST(mlfq_boost_rescues_a_starved_job)
{
	struct machine m;
	machine_defaults(&m);
	m.until = 50 * MS;
	struct run r;
	char text[1024];
	/* The four pingers go to sleep at 0; the hog runs 0-10 and moves down to the bottom
	 * level. From 10 the pingers (1 ms of CPU per 4 ms each, so four of them fill the core)
	 * stay at the top until each has used its 10 ms allotment, at 50: without a boost the
	 * hog gets nothing from 10 to 50. */
	snprintf(text, sizeof text, starve, "10s");
	run_text(&r, text, &m);
	ck_assert_int_eq(tm(&r, "hog")->cpu_ns, 10 * MS);
	run_free(&r);
	/* A boost every 20 ms puts the hog back at the top at 20, where it takes its turn
	 * among the pingers and runs a whole 10 ms quantum; so by 50 it has had at least
	 * 10 + 10 ms. */
	snprintf(text, sizeof text, starve, "20ms");
	run_text(&r, text, &m);
	ck_assert_int_ge(tm(&r, "hog")->cpu_ns, 20 * MS);
	run_free(&r);
}
END_TEST

/* ---- fair ---- */

static const char two_spinners[] =
	"machine cores=1 policy=fair\n"
	"import threading\n"
	"def spin():\n"
	"    compute(10s)\n"
	"a = threading.Thread(target=spin, name='A', nice=%d)\n"
	"b = threading.Thread(target=spin, name='B', nice=%d)\n"
	"a.start()\n"
	"b.start()\n"
	"a.join()\n";

START_TEST(fair_equal_nice_halves)
{
	/* One core, sched_latency 6 ms: each slice is max(0.75 ms, 6 ms * 1024 / 2048) = 3 ms;
	 * A and B take turns of 3 ms (vruntime grows equally), so in the first second each gets
	 * half of what is left after the main thread's 60 us and the 3 us switches:
	 * 500 ms +- 1 % (5 ms). Jain's index of two equal shares is 1. */
	struct machine m;
	machine_defaults(&m);
	m.until = 1000 * MS;
	struct run r;
	char text[512];
	snprintf(text, sizeof text, two_spinners, 0, 0);
	run_text(&r, text, &m);
	int64_t a = tm(&r, "A")->cpu_ns, b = tm(&r, "B")->cpu_ns;
	ck_assert_msg(a > 495 * MS && a < 505 * MS, "A got %lld ns", (long long)a);
	ck_assert_msg(b > 495 * MS && b < 505 * MS, "B got %lld ns", (long long)b);
	ck_assert_msg(llabs(a - b) <= 3 * MS + 100 * US, "A %lld, B %lld", (long long)a, (long long)b);
	ck_assert_int_eq(r.m->fairness_threads, 2);
	ck_assert(r.m->fairness > 0.9999);
	ck_assert(has_reason(&r, "A", "preempted: its fair slice ended"));
	run_free(&r);
}
END_TEST

START_TEST(fair_nice_weights)
{
	/* nice 0 weighs 1024, nice 5 weighs 335 (sched_prio_to_weight). Slices: 6 ms * 1024 /
	 * 1359 = 4.52 ms and 6 ms * 335 / 1359 = 1.48 ms; both advance vruntime by 4.52 ms, so
	 * they alternate and the CPU splits 1024:335 = 3.057. Shares x = 0.753 and 0.247 give
	 * Jain's index 1 / (2 * (0.753^2 + 0.247^2)) = 0.797. */
	struct machine m;
	machine_defaults(&m);
	m.until = 1000 * MS;
	struct run r;
	char text[512];
	snprintf(text, sizeof text, two_spinners, 0, 5);
	run_text(&r, text, &m);
	double ratio = (double)tm(&r, "A")->cpu_ns / (double)tm(&r, "B")->cpu_ns;
	ck_assert_msg(ratio > 1024.0 / 335 * 0.98 && ratio < 1024.0 / 335 * 1.02, "ratio %.3f", ratio);
	ck_assert_msg(r.m->fairness > 0.79 && r.m->fairness < 0.80, "Jain %.4f", r.m->fairness);
	run_free(&r);
}
END_TEST

START_TEST(fair_sleeper_preempts)
{
	/* A computes 50 ms; S sleeps 20 ms then computes 1 ms. While S sleeps, A's vruntime
	 * runs 20 ms ahead; S wakes at min_vruntime - 3 ms (half of sched_latency), 23 ms
	 * behind A, more than the 1 ms wakeup granularity: S preempts A at once and runs
	 * 20-21 with no ready time. */
	struct run r;
	run_text(&r,
		 "machine cores=1 policy=fair cs=0ns thread=0ns\n"
		 "import threading, time\n"
		 "def a():\n"
		 "    compute(50ms)\n"
		 "def s():\n"
		 "    time.sleep(20ms)\n"
		 "    compute(1ms)\n"
		 "threading.Thread(target=s, name='S').start()\n"
		 "threading.Thread(target=a, name='A').start()\n",
		 NULL);
	ck_assert_int_eq(tm(&r, "S")->end_ns, 21 * MS);
	ck_assert_int_eq(tm(&r, "S")->ready_ns, 0);
	ck_assert(has_reason(&r, "A", "preempted by S"));
	run_free(&r);
}
END_TEST

/* ---- multi-core placement ---- */

static const char pinned[] =
	"machine cores=2 runqueues='%s'\n" /* global is a keyword: quoted */
	"import threading\n"
	"def spin():\n"
	"    for i in range(20):\n"
	"        compute(3ms)\n"
	"        io(1ms)\n"
	"for i in range(3):\n"
	"    threading.Thread(target=spin).start()\n"
	"threading.Thread(target=spin, name='P', cpus=[1]).start()\n";

START_TEST(affinity_pins_a_thread)
{
	static const char *const modes[] = {"global", "percore"};
	for (int mode = 0; mode < 2; mode++) {
		struct run r;
		char text[1024];
		snprintf(text, sizeof text, pinned, modes[mode]);
		run_text(&r, text, NULL);
		ck_assert_int_eq(r.tr->end, END_COMPLETED);
		int p = thread_named(r.tr, "P"), runs = 0;
		for (size_t i = 0; i < r.tr->nrecs; i++) {
			const struct trace_rec *x = &r.tr->recs[i];
			if (x->kind == TR_STATE && x->tid == p && x->state == TS_RUNNING) {
				ck_assert_msg(x->core == 1, "%s: P ran on core %d at %lld ns", modes[mode],
					      x->core, (long long)x->t);
				runs++;
			}
		}
		ck_assert_int_ge(runs, 20);
		ck_assert_int_eq(tm(&r, "P")->cpu_ns, 60 * MS);
		ck_assert_int_eq(tm(&r, "P")->migrations, 0);
		run_free(&r);
	}
}
END_TEST

START_TEST(percore_eight_on_four_balanced)
{
	/* Wake-up placement spreads the eight threads two per core (idle cores first, then
	 * the least loaded); each core then runs 2 x 200 ms: every core busy all along, the
	 * makespan about 400 ms, utilisation above 95 % everywhere. */
	struct run r;
	run_text(&r,
		 "machine cores=4 runqueues=percore\n"
		 "import threading\n"
		 "def spin():\n"
		 "    compute(200ms)\n"
		 "ts = []\n"
		 "for i in range(8):\n"
		 "    t = threading.Thread(target=spin)\n"
		 "    t.start()\n"
		 "    ts.append(t)\n"
		 "for t in ts:\n"
		 "    t.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	for (int c = 0; c < 4; c++)
		ck_assert_msg(r.m->cores[c].utilisation > 0.95, "core %d at %.3f", c,
			      r.m->cores[c].utilisation);
	ck_assert_int_lt(r.m->makespan_ns, 410 * MS);
	run_free(&r);
}
END_TEST

START_TEST(percore_balancing_migrates_and_charges)
{
	/* Three CPU-bound threads on two per-core queues: one core has two, the other one;
	 * when the lone thread's core runs dry it pulls, so threads move between cores. Each
	 * move costs the moved thread `migration` (1 ms here) of extra CPU: the threads' CPU
	 * time is their 3 x 40 ms plus 1 ms per migration, and the metrics count the same
	 * migrations the kernel charged. */
	struct run r;
	run_text(&r,
		 "machine cores=2 runqueues=percore migration=1ms cs=0ns thread=0ns\n"
		 "import threading\n"
		 "def spin(d):\n"
		 "    compute(d)\n"
		 "threading.Thread(target=spin, args=(40ms,), name='A').start()\n"
		 "threading.Thread(target=spin, args=(40ms,), name='B').start()\n"
		 "threading.Thread(target=spin, args=(40ms,), name='C').start()\n",
		 NULL);
	int64_t cpu = tm(&r, "A")->cpu_ns + tm(&r, "B")->cpu_ns + tm(&r, "C")->cpu_ns;
	ck_assert_int_gt(r.m->migrations, 0);
	ck_assert_int_eq(cpu, 120 * MS + r.m->migrations * MS);
	run_free(&r);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_scheduling_input)
{
	struct machine m;
	char err[256];
	machine_defaults(&m);
	ck_assert_int_lt(machine_set(&m, "policy", "lottery", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "policy: unknown policy 'lottery'"));
	ck_assert_int_lt(machine_set(&m, "quantum", "0ms", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "quantum: expected a positive duration"));
	ck_assert_int_lt(machine_set(&m, "quantum", "-5ms", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "quantum"));
	ck_assert_int_lt(machine_set(&m, "mlfq_levels", "9", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "mlfq_levels: expected 1 to 8 levels, found '9'"));
	ck_assert_int_lt(machine_set(&m, "runqueues", "both", err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(err, "runqueues"));
	ck_assert_int_eq(m.policy, POLICY_RR); /* unchanged */

	/* a machine line names the line and the value */
	struct diag d;
	const char *bad = "machine cores=1 mlfq_levels=12\ncompute(1ms)\n";
	struct source *src = source_from_memory("bad.slice", bad, strlen(bad));
	struct ast_program *ast = ast_parse(src, &d);
	ck_assert_ptr_nonnull(ast);
	ck_assert_int_lt(machine_apply_ast(&m, ast, &d), 0);
	ck_assert_int_eq(d.line, 1);
	ck_assert_ptr_nonnull(strstr(d.msg, "mlfq_levels"));
	ast_program_destroy(ast);
	source_destroy(src);

	/* cpus= naming a core the machine lacks: no run, the error at the keyword's line */
	const char *pin = "machine cores=2\ndef f():\n    compute(1ms)\n"
			  "Thread(target=f, cpus=[0, 5]).start()\n";
	src = source_from_memory("pin.slice", pin, strlen(pin));
	ast = ast_parse(src, &d);
	struct vm_program *prog = vm_compile(ast, &d);
	ck_assert_ptr_nonnull(prog);
	machine_defaults(&m);
	ck_assert_int_eq(machine_apply_ast(&m, ast, &d), 0);
	ck_assert_ptr_null(sim_run(ast, prog, &m, &d));
	ck_assert_int_eq(d.line, 4);
	ck_assert_ptr_nonnull(strstr(d.msg, "core 5 does not exist (the machine has 2 cores"));
	vm_program_destroy(prog);
	ast_program_destroy(ast);
	source_destroy(src);

	/* computed at run time: a ValueError at that line */
	struct run r;
	run_text(&r,
		 "machine cores=2\n"
		 "def f():\n"
		 "    compute(1ms)\n"
		 "n = 3\n"
		 "Thread(target=f, cpus=[n]).start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "core 3 does not exist"));
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, ":5:"));
	run_free(&r);
}
END_TEST

/* ---- global fifo/rr unchanged ---- */

START_TEST(global_rr_unchanged_by_new_hooks)
{
	/* rr on a global queue takes no new path: no migration cost, no wake-up preemption
	 * (a woken thread waits its turn), the quantum reason as before. */
	struct run r;
	run_text(&r,
		 "machine cores=1 cs=0ns thread=0ns\n"
		 "import threading, time\n"
		 "def a():\n"
		 "    compute(30ms)\n"
		 "def s():\n"
		 "    time.sleep(5ms)\n"
		 "    compute(1ms)\n"
		 "threading.Thread(target=s, name='S').start()\n"
		 "threading.Thread(target=a, name='A').start()\n",
		 NULL);
	/* A runs 0-10 (its quantum), S woke at 5 and runs 10-11, A 11-31 */
	ck_assert_int_eq(tm(&r, "S")->ready_ns, 5 * MS);
	ck_assert_int_eq(tm(&r, "A")->end_ns, 31 * MS);
	ck_assert(has_reason(&r, "A", "preempted: its quantum of 10ms expired"));
	run_free(&r);
}
END_TEST

/* With per-core queues a ready record names the core whose queue the thread waits in (a move
 * to another queue is a new ready record), so a thread runs on the core its last ready record
 * named; with the global queue ready records name no core. */
static void ready_cores(const char *rq, bool percore)
{
	char text[512];
	snprintf(text, sizeof text,
		 "machine cores=4 runqueues='%s' policy=rr\n"
		 "import threading\n"
		 "def spin():\n"
		 "    compute(20ms)\n"
		 "    sleep(1ms)\n"
		 "    compute(20ms)\n"
		 "ts = []\n"
		 "for i in range(9):\n"
		 "    t = threading.Thread(target=spin)\n"
		 "    t.start()\n"
		 "    ts.append(t)\n"
		 "for t in ts:\n"
		 "    t.join()\n",
		 rq);
	struct run r;
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	int *last = calloc((size_t)r.tr->nthreads, sizeof *last);
	ck_assert_ptr_nonnull(last);
	for (int t = 0; t < r.tr->nthreads; t++)
		last[t] = -2;
	bool used[4] = {false};
	int nready = 0;
	for (size_t i = 0; i < r.tr->nrecs; i++) {
		const struct trace_rec *x = &r.tr->recs[i];
		if (x->kind != TR_STATE)
			continue;
		if (x->state == TS_READY) {
			nready++;
			if (!percore) {
				ck_assert_int_eq(x->core, -1);
				continue;
			}
			ck_assert_int_ge(x->core, 0);
			ck_assert_int_lt(x->core, 4);
			used[x->core] = true;
			last[x->tid] = x->core;
		} else if (x->state == TS_RUNNING && percore) {
			ck_assert_msg(last[x->tid] == x->core,
				      "thread %d runs on core %d, its ready record said %d", x->tid,
				      x->core, last[x->tid]);
		}
	}
	ck_assert_int_gt(nready, 9);
	if (percore)
		ck_assert(used[0] && used[1] && used[2] && used[3]);
	free(last);
	run_free(&r);
}

START_TEST(ready_records_name_the_queue)
{
	ready_cores("percore", true);
	ready_cores("global", false);
}
END_TEST

Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("Static priority and priority inheritance");
	tcase_add_test(tc, prio_convoy_and_shortest_first);
	tcase_add_test(tc, prio_wakeup_preempts);
	tcase_add_test(tc, priority_inversion_and_inheritance);
	suite_add_tcase(s, tc);
	tc = tcase_create("MLFQ: levels, allotment, boost");
	tcase_add_test(tc, mlfq_interactive_keeps_its_level);
	tcase_add_test(tc, mlfq_boost_rescues_a_starved_job);
	suite_add_tcase(s, tc);
	tc = tcase_create("Fair class: weights, slices, wake-up preemption");
	tcase_add_test(tc, fair_equal_nice_halves);
	tcase_add_test(tc, fair_nice_weights);
	tcase_add_test(tc, fair_sleeper_preempts);
	suite_add_tcase(s, tc);
	tc = tcase_create("Per-core queues, balancing, migration, affinity");
	tcase_add_test(tc, affinity_pins_a_thread);
	tcase_add_test(tc, percore_eight_on_four_balanced);
	tcase_add_test(tc, percore_balancing_migrates_and_charges);
	suite_add_tcase(s, tc);
	tc = tcase_create("Bad input and unchanged defaults");
	tcase_add_test(tc, bad_scheduling_input);
	tcase_add_test(tc, global_rr_unchanged_by_new_hooks);
	tcase_add_test(tc, ready_records_name_the_queue);
	suite_add_tcase(s, tc);
	return s;
}

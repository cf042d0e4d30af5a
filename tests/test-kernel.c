/* test-kernel.c — the kernel model: textbook FIFO and RR schedules worked out by hand,
 * costs, process and thread semantics, limits, determinism. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* Three threads started at t=0 by the main thread; no costs, so the schedule is the
 * textbook one. */
static const char three_jobs[] =
	"machine cores=1 policy=%s quantum=10ms cs=0ns thread=0ns fork=0ns\n"
	"def job(d):\n"
	"    compute(d)\n"
	"Thread(target=job, args=(%s,), name='A').start()\n"
	"Thread(target=job, args=(%s,), name='B').start()\n"
	"Thread(target=job, args=(%s,), name='C').start()\n";

static void run_three(struct run *r, const char *policy, const char *a, const char *b,
		      const char *c)
{
	char text[512];
	snprintf(text, sizeof text, three_jobs, policy, a, b, c);
	run_text(r, text, NULL);
	ck_assert_int_eq(r->tr->end, END_COMPLETED);
}

START_TEST(fifo_convoy)
{
	/* FIFO, one core, A=30ms first: A 0-30, B 30-40, C 40-50.
	 * Turnarounds 30, 40, 50 (mean 40); responses 0, 30, 40. */
	struct run r;
	run_three(&r, "fifo", "30ms", "10ms", "10ms");
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "B")->turnaround_ns, 40 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 50 * MS);
	ck_assert_int_eq(tm(&r, "A")->response_ns, 0);
	ck_assert_int_eq(tm(&r, "B")->response_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "C")->response_ns, 40 * MS);
	ck_assert_int_eq(r.m->makespan_ns, 50 * MS);
	run_free(&r);
}
END_TEST

START_TEST(fifo_shortest_first)
{
	/* The same jobs shortest first (what SJF would pick): B 0-10, C 10-20, A 20-50.
	 * Turnarounds 10, 20, 50: mean 26.67 ms against the convoy's 40 ms. */
	struct run r;
	run_three(&r, "fifo", "10ms", "10ms", "30ms");
	int64_t sum = tm(&r, "A")->turnaround_ns + tm(&r, "B")->turnaround_ns +
		      tm(&r, "C")->turnaround_ns;
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 50 * MS);
	ck_assert_int_eq(sum, 80 * MS);
	run_free(&r);
}
END_TEST

START_TEST(rr_one_core)
{
	/* RR, quantum 10ms, three 30ms jobs: A 0-10, B 10-20, C 20-30, A 30-40, B 40-50,
	 * C 50-60, A 60-70, B 70-80, C 80-90. Turnarounds 70, 80, 90; responses 0, 10, 20;
	 * each is preempted twice and leaves the core a third time when it finishes. */
	struct run r;
	run_three(&r, "rr", "30ms", "30ms", "30ms");
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 70 * MS);
	ck_assert_int_eq(tm(&r, "B")->turnaround_ns, 80 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 90 * MS);
	ck_assert_int_eq(tm(&r, "B")->response_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "C")->response_ns, 20 * MS);
	ck_assert_int_eq(tm(&r, "A")->involuntary, 2);
	ck_assert_int_eq(tm(&r, "A")->voluntary, 1);
	ck_assert_int_eq(tm(&r, "A")->cpu_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "A")->ready_ns, 40 * MS);
	run_free(&r);
}
END_TEST

START_TEST(rr_response_against_fifo)
{
	/* RR's point: the mean response falls from FIFO's (0+30+60)/3 = 30 ms to
	 * (0+10+20)/3 = 10 ms, while the mean turnaround grows from (30+60+90)/3 = 60 ms to
	 * 80 ms. */
	struct run f, r;
	run_three(&f, "fifo", "30ms", "30ms", "30ms");
	run_three(&r, "rr", "30ms", "30ms", "30ms");
	int64_t fresp = 0, rresp = 0, fturn = 0, rturn = 0;
	for (const char *n = "A"; *n <= 'C'; n = (*n == 'A') ? "B" : (*n == 'B') ? "C" : "D") {
		fresp += tm(&f, n)->response_ns;
		rresp += tm(&r, n)->response_ns;
		fturn += tm(&f, n)->turnaround_ns;
		rturn += tm(&r, n)->turnaround_ns;
	}
	ck_assert_int_eq(fresp, 90 * MS);
	ck_assert_int_eq(rresp, 30 * MS);
	ck_assert_int_eq(fturn, 180 * MS);
	ck_assert_int_eq(rturn, 240 * MS);
	run_free(&f);
	run_free(&r);
}
END_TEST

START_TEST(fifo_two_cores)
{
	/* Two cores: A starts on core 1 (the idle one) while the main thread still runs on
	 * core 0; B and C queue; when the main thread finishes its code, core 0 takes B
	 * (0-10) then C (10-20); A runs 0-30 on core 1. */
	struct run r;
	char text[512];
	snprintf(text, sizeof text, three_jobs, "fifo", "30ms", "10ms", "10ms");
	text[14] = '2'; /* machine cores=2 */
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "A")->turnaround_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "B")->turnaround_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "C")->turnaround_ns, 20 * MS);
	ck_assert_int_eq(r.m->makespan_ns, 30 * MS);
	ck_assert_int_eq(r.m->max_parallel, 2);
	/* busy: core 0 ran B and C (20 ms), core 1 ran A (30 ms); 50 ms of CPU in 30 ms */
	ck_assert_int_eq(r.m->cores[0].busy_ns, 20 * MS);
	ck_assert_int_eq(r.m->cores[1].busy_ns, 30 * MS);
	ck_assert(r.m->cpu_percent > 166.6 && r.m->cpu_percent < 166.7);
	run_free(&r);
}
END_TEST

START_TEST(rr_two_cores)
{
	/* RR on two cores, quantum 10ms, three 20ms jobs (cs 0). At 0, A takes core 1 (idle)
	 * and B core 0 when the main thread ends; C waits. At 10 both slices end; A's burn
	 * event was pushed first, so the queue becomes C, A, B and core 1 (rescheduled first)
	 * takes C, core 0 takes A. At 20 A is done and C is requeued behind B; core 1 takes B,
	 * core 0 takes C; both end at 30. C's response is 10 ms; 60 ms of work fills two cores
	 * for 30 ms. */
	struct run r;
	char text[512];
	snprintf(text, sizeof text, three_jobs, "rr", "20ms", "20ms", "20ms");
	text[14] = '2';
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.m->makespan_ns, 30 * MS);
	ck_assert_int_eq(r.m->cores[0].busy_ns + r.m->cores[1].busy_ns, 60 * MS);
	ck_assert_int_eq(tm(&r, "C")->response_ns, 10 * MS);
	ck_assert_int_eq(tm(&r, "A")->end_ns, 20 * MS);
	ck_assert_int_eq(tm(&r, "B")->end_ns, 30 * MS);
	ck_assert_int_eq(tm(&r, "C")->end_ns, 30 * MS);
	run_free(&r);
}
END_TEST

START_TEST(context_switch_cost)
{
	/* RR 10ms, cs=1ms, A and B of 20ms on one core. The main thread runs first (it is the
	 * core's first task: a switch from idle, 0-1ms), starts A and B (no cost) and ends at
	 * 1ms. Switch to A 1-2, A 2-12, switch to B 12-13, B 13-23, switch to A 23-24,
	 * A 24-34 (done), switch to B 34-35, B 35-45 (done). */
	struct run r;
	run_text(&r,
		 "machine cores=1 policy=rr quantum=10ms cs=1ms thread=0ns\n"
		 "def job():\n"
		 "    compute(20ms)\n"
		 "Thread(target=job, name='A').start()\n"
		 "Thread(target=job, name='B').start()\n",
		 NULL);
	ck_assert_int_eq(tm(&r, "A")->end_ns, 34 * MS);
	ck_assert_int_eq(tm(&r, "B")->end_ns, 45 * MS);
	ck_assert_int_eq(tm(&r, "MainThread")->first_run_ns, 1 * MS);
	ck_assert_int_eq(r.m->cores[0].switch_ns, 5 * MS);
	ck_assert_int_eq(r.m->cores[0].busy_ns, 45 * MS);
	run_free(&r);
}
END_TEST

START_TEST(fork_and_thread_costs)
{
	/* The creator pays the creation cost on its CPU; the child is new meanwhile and
	 * ready after it. fork=400us: the child's first line comes at 400us at the earliest;
	 * thread=30us likewise. With 2 cores and cs=0 both run at once. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns\n"
		 "import os, threading\n"
		 "def child():\n"
		 "    print('child', now)\n"
		 "def th():\n"
		 "    print('thread', now)\n"
		 "pid = os.fork()\n"
		 "if pid == 0:\n"
		 "    print('forked', now)\n"
		 "else:\n"
		 "    t = threading.Thread(target=th)\n"
		 "    t.start()\n"
		 "    t.join()\n"
		 "    print('parent', now)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	/* parent: fork burns 0-400us; child ready at 400us on core 1, prints at 400us; parent
	 * starts the thread: 400-430us, thread prints at 430us; join returns at 430us. */
	ck_assert_str_eq(out, "forked 400us|thread 430us|parent 430us");
	ck_assert_int_eq(r.tr->nprocs, 2);
	ck_assert_int_eq(r.tr->procs[1].ppid, r.tr->procs[0].pid);
	run_free(&r);
}
END_TEST

START_TEST(sleep_overlaps_on_one_core)
{
	/* Two threads each sleeping 1s overlap even on one core: the run ends at 1s plus the
	 * thread costs (30us each) and the switches (3us default). */
	struct run r;
	run_text(&r,
		 "machine cores=1\n"
		 "def nap():\n"
		 "    sleep(1s)\n"
		 "a = Thread(target=nap)\n"
		 "b = Thread(target=nap)\n"
		 "a.start()\n"
		 "b.start()\n"
		 "a.join()\n"
		 "b.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	ck_assert(r.m->makespan_ns > 1000 * MS && r.m->makespan_ns < 1001 * MS);
	ck_assert_int_eq(tm(&r, "Thread-1")->state_ns[TS_SLEEP], 1000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(join_timeout_returns)
{
	/* join(0.5) on a thread sleeping 2s returns at 0.5s (plus costs), is_alive is True. */
	struct run r;
	run_text(&r,
		 "machine cs=0ns thread=0ns\n"
		 "def nap():\n"
		 "    sleep(2s)\n"
		 "t = Thread(target=nap)\n"
		 "t.start()\n"
		 "t.join(0.5)\n"
		 "print(now, t.is_alive())\n"
		 "t.join()\n"
		 "print(now, t.is_alive())\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "500ms True|2s False");
	run_free(&r);
}
END_TEST

START_TEST(globals_copied_at_fork)
{
	struct run r;
	run_text(&r,
		 "from multiprocessing import Process\n"
		 "num = 100\n"
		 "def run():\n"
		 "    global num\n"
		 "    num += 1\n"
		 "    print(f'child {num}')\n"
		 "p = Process(target=run)\n"
		 "p.start()\n"
		 "p.join()\n"
		 "print(f'parent {num}')\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "child 101|parent 100");
	ck_assert_int_eq(r.tr->nvars >= 1, 1);
	ck_assert_str_eq(var_of(r.tr, "num"), "100");
	run_free(&r);
}
END_TEST

START_TEST(parent_waits_for_children_at_exit)
{
	/* multiprocessing joins non-daemon children when the parent's code ends: the parent's
	 * last line comes first, yet the process ends after the child. */
	struct run r;
	run_text(&r,
		 "from multiprocessing import Process\n"
		 "import time\n"
		 "def run():\n"
		 "    print('child start')\n"
		 "    time.sleep(2)\n"
		 "    print('child end')\n"
		 "print('parent start')\n"
		 "p = Process(target=run)\n"
		 "p.start()\n"
		 "print('parent end')\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "parent start|parent end|child start|child end");
	const struct thread_metrics *mainm = &r.m->threads[0];
	ck_assert(mainm->end_ns >= 2000 * MS);
	ck_assert(mainm->state_ns[TS_JOIN] >= 2000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(uncaught_exception_ends_thread_only)
{
	struct run r;
	run_text(&r,
		 "def bad():\n"
		 "    x = 1 / 0\n"
		 "t = Thread(target=bad)\n"
		 "t.start()\n"
		 "t.join()\n"
		 "print('main goes on')\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "main goes on");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:2:"));
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "ZeroDivisionError"));
	run_free(&r);
}
END_TEST

START_TEST(join_errors_are_python_errors)
{
	struct run r;
	run_text(&r,
		 "import threading\n"
		 "t = threading.current_thread()\n"
		 "t.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "RuntimeError: cannot join current thread"));
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:3:"));
	run_free(&r);
}
END_TEST

START_TEST(deadlock_when_all_blocked)
{
	/* Two threads that join each other: nothing can ever happen. */
	struct run r;
	run_text(&r,
		 "def a():\n"
		 "    tb.join()\n"
		 "def b():\n"
		 "    ta.join()\n"
		 "ta = Thread(target=a, name='TA')\n"
		 "tb = Thread(target=b, name='TB')\n"
		 "ta.start()\n"
		 "tb.start()\n"
		 "ta.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_str_eq(r.tr->deadlock_kind, "cycle");
	ck_assert_str_eq(r.tr->end_msg,
			 "deadlock: TA waits for join(TB) (line 2); TB waits for join(TA) (line 4)");
	ck_assert_int_eq(r.tr->ncycle, 2);
	run_free(&r);

	/* a wait with no owner (an Event nobody sets): every thread blocked, nothing pending */
	run_text(&r,
		 "import threading\n"
		 "e = threading.Event()\n"
		 "e.wait()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_str_eq(r.tr->deadlock_kind, "all-blocked");
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "MainThread (pid 1000): waits for e to be set"));
	run_free(&r);
}
END_TEST

START_TEST(limits_stop_with_a_message)
{
	struct machine m;
	machine_defaults(&m);
	m.max_events = 1000;
	struct run r;
	run_text(&r, "while True:\n    sleep(1ms)\n", &m);
	ck_assert_int_eq(r.tr->end, END_LIMIT);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "event limit of 1000 reached"));
	run_free(&r);

	run_text(&r, "while True:\n    pass\n", NULL);
	ck_assert_int_eq(r.tr->end, END_LIMIT);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "without simulated time passing"));
	run_free(&r);

	/* instructions that cost time but never block: the instruction limit stops them */
	machine_defaults(&m);
	m.max_instructions = 1000000;
	run_text(&r, "machine instr=1ns\nx = 0\nwhile True:\n    x = x + 1\n", &m);
	ck_assert_int_eq(r.tr->end, END_LIMIT);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "instruction limit of 1000000 reached"));
	run_free(&r);

	machine_defaults(&m);
	m.until = 2500 * MS;
	run_text(&r, "machine cs=0ns\nwhile True:\n    print(now)\n    sleep(1s)\n", &m);
	ck_assert_int_eq(r.tr->end, END_UNTIL);
	ck_assert_int_eq(r.tr->makespan, 2500 * MS);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "0s|1s|2s");
	run_free(&r);
}
END_TEST

START_TEST(zero_cost_loop_in_a_thread_names_its_line)
{
	/* Found by fuzz-run (a mangled gil-busy whose machine line became a comment, so instr
	 * was 0): a thread that never made a call spun at one instant; the run must stop with
	 * the limit message naming where the thread was (the loop, or the line just before its
	 * head when the slice ended there), not "line 0". */
	struct run r;
	run_text(&r,
		 "import threading\n"
		 "def loop():\n"
		 "    x = 0\n"
		 "    while True:\n"
		 "        x = x ^ 1\n"
		 "threading.Thread(target=loop).start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_LIMIT);
	ck_assert_msg(strstr(r.tr->end_msg, "Thread-1 ran about") &&
			      (strstr(r.tr->end_msg, "(line 3)") || strstr(r.tr->end_msg, "(line 4)") ||
			       strstr(r.tr->end_msg, "(line 5)")),
		      "end_msg: %s", r.tr->end_msg);
	run_free(&r);
}
END_TEST

/* Serialises the whole trace so two runs can be compared byte for byte. */
static char *trace_bytes(const struct trace *tr, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	chrome_write(f, tr);
	fclose(f);
	return buf;
}

static const char random_work[] =
	"machine cores=2 seed=%d\n"
	"def w(i):\n"
	"    for k in range(5):\n"
	"        compute(uniform(1ms, 20ms))\n"
	"        sleep(uniform(0s, 10ms))\n"
	"for i in range(4):\n"
	"    Thread(target=w, args=(i,)).start()\n";

START_TEST(same_seed_same_bytes)
{
	char text[512];
	struct run a, b, c;
	snprintf(text, sizeof text, random_work, 7);
	run_text(&a, text, NULL);
	run_text(&b, text, NULL);
	snprintf(text, sizeof text, random_work, 8);
	run_text(&c, text, NULL);
	size_t la, lb, lc;
	char *ba = trace_bytes(a.tr, &la), *bb = trace_bytes(b.tr, &lb), *bc = trace_bytes(c.tr, &lc);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(ba, bb, la) == 0);
	ck_assert(la != lc || memcmp(ba, bc, la) != 0);
	ck_assert_int_ne(a.m->makespan_ns, c.m->makespan_ns);
	free(ba);
	free(bb);
	free(bc);
	run_free(&a);
	run_free(&b);
	run_free(&c);
}
END_TEST

START_TEST(many_cores)
{
	/* 1024 cores, 2000 threads of 1ms: two rounds, so the run ends just after 2ms. */
	struct run r;
	run_text(&r,
		 "machine cores=1024 cs=0ns thread=0ns\n"
		 "def w():\n"
		 "    compute(1ms)\n"
		 "for i in range(2000):\n"
		 "    Thread(target=w).start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	ck_assert_int_eq(r.m->makespan_ns, 2 * MS);
	ck_assert_int_eq(r.m->max_parallel, 1024);
	run_free(&r);
}
END_TEST

/* A forked child that exits is a zombie until its parent waits for it; a child whose parent
 * exits goes to init (pid 1). With free forks and switches: the child raises at 100 ms
 * (exit code 1: status 1 << 8 = 256); waitpid(WNOHANG) at 0 finds nothing yet: (0, 0);
 * os.wait() at 1 s reaps it after 900 ms as a zombie. The second child sleeps 500 ms, by
 * then its parent has exited (at 1 s), so its getppid() is 1 at 1.5 s. */
START_TEST(zombies_and_orphans)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns\n"
		 "import os\n"
		 "pid = os.fork()\n"
		 "if pid == 0:\n"
		 "    sleep(100ms)\n"
		 "    raise ValueError('child fails')\n"
		 "print('nohang', os.waitpid(pid, os.WNOHANG), now)\n"
		 "sleep(1s)\n"
		 "print('waited', os.wait(), now)\n"
		 "orphan = os.fork()\n"
		 "if orphan == 0:\n"
		 "    sleep(500ms)\n"
		 "    print('orphan parent', os.getppid(), now)\n"
		 "else:\n"
		 "    print('parent exits', now)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "nohang (0, 0) 0s|waited (1001, 256) 1s|parent exits 1s|"
			      "orphan parent 1 1.5s");
	bool zombie = false, reparented = false;
	for (size_t i = 0; i < r.tr->nrecs; i++) {
		const struct trace_rec *rec = &r.tr->recs[i];
		if (rec->kind != TR_MARK)
			continue;
		const char *text = trace_str(r.tr, rec->text);
		zombie |= rec->t == 1000 * MS &&
			  strcmp(text, "pid 1001 reaped by os.wait() after 900ms as a zombie") == 0;
		reparented |= rec->t == 1000 * MS &&
			      strcmp(text, "pid 1002 re-parented to init (pid 1): its parent pid 1000 "
					   "exited") == 0;
	}
	ck_assert(zombie);
	ck_assert(reparented);
	run_free(&r);
	/* waiting with no children is Python's error */
	raises_at("import os\nos.wait()\n",
		  "test.slice:2:1: error: ChildProcessError: [Errno 10] No child processes");
}
END_TEST

/* A Process's arguments are the child's own copies (found by the dict helper: the child used
 * to change the parent's list). CPython 3.11 prints "child [1, 2]" then "parent [1]". */
START_TEST(process_args_are_copies)
{
	struct run r;
	run_text(&r,
		 "from multiprocessing import Process\nL = [1]\ndef f(x):\n    x.append(2)\n"
		 "    print('child', x)\np = Process(target=f, args=(L,))\np.start()\np.join()\n"
		 "print('parent', L)\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "child [1, 2]|parent [1]");
	run_free(&r);
}
END_TEST

Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("Textbook schedules (FIFO, RR) worked out by hand");
	tcase_add_test(tc, fifo_convoy);
	tcase_add_test(tc, fifo_shortest_first);
	tcase_add_test(tc, rr_one_core);
	tcase_add_test(tc, rr_response_against_fifo);
	tcase_add_test(tc, fifo_two_cores);
	tcase_add_test(tc, rr_two_cores);
	tcase_add_test(tc, context_switch_cost);
	suite_add_tcase(s, tc);

	tc = tcase_create("Processes, threads, fork, join and exit");
	tcase_add_test(tc, fork_and_thread_costs);
	tcase_add_test(tc, sleep_overlaps_on_one_core);
	tcase_add_test(tc, join_timeout_returns);
	tcase_add_test(tc, globals_copied_at_fork);
	tcase_add_test(tc, parent_waits_for_children_at_exit);
	tcase_add_test(tc, zombies_and_orphans);
	tcase_add_test(tc, process_args_are_copies);
	tcase_add_test(tc, uncaught_exception_ends_thread_only);
	tcase_add_test(tc, join_errors_are_python_errors);
	tcase_add_test(tc, deadlock_when_all_blocked);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits, determinism and scale");
	tcase_add_test(tc, limits_stop_with_a_message);
	tcase_add_test(tc, zero_cost_loop_in_a_thread_names_its_line);
	tcase_add_test(tc, same_seed_same_bytes);
	tcase_add_test(tc, many_cores);
	suite_add_tcase(s, tc);
	return s;
}

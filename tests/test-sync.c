/* test-sync.c — locks and the other synchronisation objects, races on shared variables and
 * the wait-for graph. Times are worked out by hand from the machine lines (cs=0 and no
 * creation costs unless said). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

START_TEST(lock_hands_over_in_fifo_order)
{
	/* A holds the lock 0-30ms; B asks at 10ms, C at 20ms. FIFO hand-over: B gets it at 30,
	 * holds it 10ms; C at 40, until 50. */
	struct run r;
	run_text(&r,
		 "machine cores=4 cs=0ns thread=0ns\n"
		 "import threading, time\n"
		 "lock = threading.Lock()\n"
		 "def a():\n"
		 "    with lock:\n"
		 "        sleep(30ms)\n"
		 "def w(d):\n"
		 "    sleep(d)\n"
		 "    with lock:\n"
		 "        print(thread_name, now)\n"
		 "        sleep(10ms)\n"
		 "threading.Thread(target=a, name='A').start()\n"
		 "threading.Thread(target=w, args=(20ms,), name='C').start()\n"
		 "threading.Thread(target=w, args=(10ms,), name='B').start()\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "B 30ms|C 40ms");
	ck_assert_int_eq(tm(&r, "C")->state_ns[TS_LOCK], 20 * MS);
	ck_assert_int_eq(r.tr->nobjects, 1);
	ck_assert_str_eq(trace_str(r.tr, r.tr->objects[0].name), "lock");
	run_free(&r);
}
END_TEST

START_TEST(acquire_variants)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns\n"
		 "import threading\n"
		 "l = threading.Lock()\n"
		 "def holder():\n"
		 "    l.acquire()\n"
		 "    sleep(100ms)\n"
		 "    l.release()\n"
		 "threading.Thread(target=holder).start()\n"
		 "sleep(1ms)\n"
		 "print(l.acquire(False), l.locked())\n"
		 "print(l.acquire(timeout=0.02), now)\n"
		 "print(l.acquire(True, 1), now)\n"
		 "l.release()\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	/* not free at 1ms; a 20ms timeout expires at 21ms; a 1s one is handed the lock at 100ms */
	ck_assert_str_eq(out, "False True|False 21ms|True 100ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
}
END_TEST

START_TEST(python_errors)
{
	static const struct {
		const char *prog, *msg;
	} cases[] = {
		{"import threading\nl = threading.Lock()\nl.release()\n",
		 "test.slice:3:1: error: RuntimeError: release unlocked lock"},
		{"import threading\nl = threading.RLock()\nl.release()\n",
		 "test.slice:3:1: error: RuntimeError: cannot release un-acquired lock"},
		{"import threading\nc = threading.Condition()\nc.wait()\n",
		 "test.slice:3:1: error: RuntimeError: cannot wait on un-acquired lock"},
		{"import threading\nc = threading.Condition()\nc.notify()\n",
		 "test.slice:3:1: error: RuntimeError: cannot notify on un-acquired lock"},
		{"import threading\ns = threading.BoundedSemaphore(1)\ns.release()\n",
		 "test.slice:3:1: error: ValueError: Semaphore released too many times"},
		{"import threading\ns = threading.Semaphore(-1)\n",
		 "test.slice:2:5: error: ValueError: semaphore initial value must be >= 0"},
		{"import threading\nb = threading.Barrier(0)\n",
		 "test.slice:2:5: error: ValueError: parties must be > 0"},
		{"import threading\nl = threading.local()\nprint(l.x)\n",
		 "test.slice:3:7: error: AttributeError: '_thread._local' object has no attribute 'x'"},
		{"import threading\nl = threading.Lock()\nl.acquire(False, 1)\n",
		 "test.slice:3:1: error: ValueError: can't specify a timeout for a non-blocking call"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct run r;
		run_text(&r, cases[i].prog, NULL);
		ck_assert_int_eq(r.tr->end, END_ERROR);
		ck_assert_msg(strstr(r.tr->end_msg, cases[i].msg), "case %zu: got %s", i,
			      r.tr->end_msg);
		run_free(&r);
	}
}
END_TEST

START_TEST(rlock_and_with_exits)
{
	/* an RLock taken twice by one thread; `with` releases on break and on return */
	struct run r;
	run_text(&r,
		 "import threading\n"
		 "r = threading.RLock()\n"
		 "l = threading.Lock()\n"
		 "with r:\n"
		 "    with r:\n"
		 "        pass\n"
		 "for i in range(3):\n"
		 "    with l:\n"
		 "        if i == 1:\n"
		 "            break\n"
		 "def f():\n"
		 "    with l:\n"
		 "        return 7\n"
		 "x = f()\n"
		 "print(l.locked(), r.acquire(False), x, i)\n",
		 NULL);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "False True 7 1");
	run_free(&r);
}
END_TEST

START_TEST(semaphore_limits_parallelism)
{
	/* 6 workers of 10ms on 4 cores, 2 permits: never more than 2 run; 3 rounds = 30ms */
	struct run r;
	run_text(&r,
		 "machine cores=4 cs=0ns thread=0ns\n"
		 "import threading\n"
		 "s = threading.Semaphore(2)\n"
		 "def w():\n"
		 "    with s:\n"
		 "        compute(10ms)\n"
		 "for i in range(6):\n"
		 "    threading.Thread(target=w).start()\n",
		 NULL);
	ck_assert_int_eq(r.m->max_parallel, 2);
	ck_assert_int_eq(r.m->makespan_ns, 30 * MS);
	run_free(&r);
}
END_TEST

START_TEST(condition_event_barrier)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns\n"
		 "import threading\n"
		 "c = threading.Condition()\n"
		 "e = threading.Event()\n"
		 "b = threading.Barrier(2)\n"
		 "def waiter():\n"
		 "    with c:\n"
		 "        got = c.wait(1s)\n"
		 "        print('notified', got, now)\n"
		 "    print('event', e.wait(), now)\n"
		 "    print('index', b.wait(), now)\n"
		 "threading.Thread(target=waiter).start()\n"
		 "sleep(10ms)\n"
		 "with c:\n"
		 "    c.notify()\n"
		 "    sleep(5ms)\n"   /* the waiter needs the lock back: it returns at 15ms */
		 "sleep(5ms)\n"
		 "e.set()\n"
		 "sleep(5ms)\n"
		 "print('main index', b.wait(), now)\n"
		 "with c:\n"
		 "    print('timeout', c.wait(0.01), now)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	/* the last to reach the barrier goes on first; the waiter it wakes prints after it */
	ck_assert_str_eq(out, "notified True 15ms|event True 20ms|main index 1 25ms|index 0 25ms|"
			      "timeout False 35ms");
	run_free(&r);
}
END_TEST

START_TEST(condition_wait_for)
{
	/* wait_for(predicate) returns once the predicate holds (the 2nd item, at 20 ms);
	 * wait_for(never, timeout=0.05) gives up 50 ms later, at 70 ms, returning False */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns\n"
		 "import threading\n"
		 "cv = threading.Condition()\n"
		 "items = []\n"
		 "def two():\n"
		 "    return len(items) >= 2\n"
		 "def never():\n"
		 "    return False\n"
		 "def consumer():\n"
		 "    with cv:\n"
		 "        print('ready', cv.wait_for(two), now)\n"
		 "    with cv:\n"
		 "        print('timed out', cv.wait_for(never, timeout=0.05), now)\n"
		 "t = threading.Thread(target=consumer)\n"
		 "t.start()\n"
		 "for i in range(3):\n"
		 "    sleep(10ms)\n"
		 "    with cv:\n"
		 "        items.append(i)\n"
		 "        cv.notify_all()\n"
		 "t.join()\n",
		 NULL);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "ready True 20ms|timed out False 70ms");
	run_free(&r);
}
END_TEST

START_TEST(barrier_timeout_breaks_it)
{
	struct run r;
	run_text(&r,
		 "machine cs=0ns thread=0ns\n"
		 "import threading\n"
		 "b = threading.Barrier(3)\n"
		 "def w():\n"
		 "    b.wait(0.05)\n"
		 "t = threading.Thread(target=w, name='W')\n"
		 "t.start()\n"
		 "t.join()\n"
		 "print(b.broken, now)\n",
		 NULL);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "True 50ms");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "BrokenBarrierError"));
	run_free(&r);
}
END_TEST

START_TEST(deadlock_cycle_named)
{
	struct run r;
	run_text(&r,
		 "machine cores=2\n"
		 "import threading, time\n"
		 "lock_a = threading.Lock()\n"
		 "lock_b = threading.Lock()\n"
		 "def one():\n"
		 "    lock_a.acquire()\n"
		 "    time.sleep(0.1)\n"
		 "    lock_b.acquire()\n"
		 "def two():\n"
		 "    lock_b.acquire()\n"
		 "    time.sleep(0.1)\n"
		 "    lock_a.acquire()\n"
		 "threading.Thread(target=one, name='Thread-1').start()\n"
		 "threading.Thread(target=two, name='Thread-2').start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_str_eq(r.tr->end_msg,
			 "deadlock: Thread-1 holds lock_a (line 6) and waits for lock_b (line 8); "
			 "Thread-2 holds lock_b (line 10) and waits for lock_a (line 12)");
	ck_assert_int_eq(r.tr->ncycle, 2);
	ck_assert_str_eq(trace_str(r.tr, r.tr->cycle[1].holds), "lock_b");
	ck_assert_int_eq(r.tr->cycle[1].holds_line, 10);
	ck_assert_int_eq(r.tr->cycle[1].line, 12);
	run_free(&r);

	/* a thread that takes a Lock twice waits for itself */
	run_text(&r, "import threading\nl = threading.Lock()\nl.acquire()\nl.acquire()\n", NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_str_eq(r.tr->end_msg,
			 "deadlock: MainThread holds l (line 3) and waits for l (line 4)");
	run_free(&r);
}
END_TEST

START_TEST(looks_like_deadlock_but_is_not)
{
	/* AB/BA again, but the second acquire of each has a timeout: no cycle is reported;
	 * both time out at 100ms + 50ms and the run completes. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns\n"
		 "import threading, time\n"
		 "a = threading.Lock()\n"
		 "b = threading.Lock()\n"
		 "def one():\n"
		 "    with a:\n"
		 "        time.sleep(0.1)\n"
		 "        print('one', b.acquire(timeout=0.05), now)\n"
		 "def two():\n"
		 "    with b:\n"
		 "        time.sleep(0.1)\n"
		 "        print('two', a.acquire(timeout=0.05), now)\n"
		 "threading.Thread(target=one).start()\n"
		 "threading.Thread(target=two).start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "one False 150ms|two False 150ms");
	run_free(&r);

	/* a thread blocked on a lock held by a sleeping thread: a timer is pending */
	run_text(&r,
		 "import threading\n"
		 "l = threading.Lock()\n"
		 "def h():\n"
		 "    with l:\n"
		 "        sleep(1s)\n"
		 "threading.Thread(target=h).start()\n"
		 "sleep(1ms)\n"
		 "with l:\n"
		 "    print('got it')\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
}
END_TEST

static const char race[] =
	"machine cores=%d seed=%d instr=25ns jitter=0.2\n"
	"import threading\n"
	"balance = 0\n"
	"lock = threading.Lock()\n"
	"def change_it(n):\n"
	"    global balance\n"
	"    balance = balance + n\n"
	"    balance = balance - n\n"
	"def run(n):\n"
	"    for i in range(%d):\n"
	"        %s\n"
	"t1 = threading.Thread(target=run, args=(5,))\n"
	"t2 = threading.Thread(target=run, args=(8,))\n"
	"t1.start()\n"
	"t2.start()\n"
	"t1.join()\n"
	"t2.join()\n";

static long long race_balance(int cores, int seed, int n, bool locked)
{
	char text[1024];
	snprintf(text, sizeof text, race, cores, seed, n,
		 locked ? "with lock:\n            change_it(n)" : "change_it(n)");
	struct run r;
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	long long b = atoll(var_of(r.tr, "balance"));
	run_free(&r);
	return b;
}

START_TEST(balance_with_lock_is_zero)
{
	static const int cores[] = {1, 2, 4};
	for (int c = 0; c < 3; c++)
		for (int seed = 1; seed <= 5; seed++)
			ck_assert_int_eq(race_balance(cores[c], seed, 3000, true), 0);
}
END_TEST

START_TEST(balance_without_lock_loses_updates)
{
	/* Two cores, no GIL: the reads and writes interleave. Each lost update leaves +-5 or
	 * +-8 behind; over 8 seeds most runs end non-zero, and more iterations lose more. */
	int nonzero = 0;
	long long small = 0, large = 0;
	for (int seed = 1; seed <= 8; seed++) {
		long long b = race_balance(2, seed, 3000, false);
		nonzero += b != 0;
		small += b < 0 ? -b : b;
		b = race_balance(2, seed, 30000, false);
		large += b < 0 ? -b : b;
	}
	ck_assert_int_ge(nonzero, 6);
	ck_assert_int_gt(large, small);
}
END_TEST

START_TEST(thread_local_is_per_thread)
{
	struct run r;
	run_text(&r,
		 "import threading\n"
		 "data = threading.local()\n"
		 "data.x = 'main'\n"
		 "def f(v):\n"
		 "    data.x = v\n"
		 "    sleep(1ms)\n"
		 "    print(thread_name, data.x)\n"
		 "a = threading.Thread(target=f, args=('a',), name='A')\n"
		 "b = threading.Thread(target=f, args=('b',), name='B')\n"
		 "a.start()\n"
		 "b.start()\n"
		 "a.join()\n"
		 "b.join()\n"
		 "print(thread_name, data.x)\n",
		 NULL);
	char out[128];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "A a|B b|MainThread main");
	run_free(&r);
}
END_TEST

START_TEST(race_report_by_happens_before)
{
	/* balance is touched by both threads with nothing between them: a race, reported with
	 * both threads and lines. total is only touched under the lock: no race. The final read
	 * by the main thread comes after join(): ordered. */
	struct run r;
	run_text(&r,
		 "machine cores=2 instr=25ns races=on\n"
		 "import threading\n"
		 "balance = 0\n"
		 "total = 0\n"
		 "lock = threading.Lock()\n"
		 "def run(n):\n"
		 "    global balance, total\n"
		 "    for i in range(50):\n"
		 "        balance = balance + n\n"
		 "        with lock:\n"
		 "            total = total + n\n"
		 "t1 = threading.Thread(target=run, args=(5,))\n"
		 "t2 = threading.Thread(target=run, args=(8,))\n"
		 "t1.start()\n"
		 "t2.start()\n"
		 "t1.join()\n"
		 "t2.join()\n"
		 "print(balance, total)\n",
		 NULL);
	ck_assert(r.tr->races_checked);
	ck_assert_int_eq(r.tr->nraces, 1);
	const struct trace_race *x = &r.tr->races[0];
	ck_assert_str_eq(trace_str(r.tr, x->var), "balance");
	ck_assert_int_eq(x->line_a, 9);
	ck_assert_int_eq(x->line_b, 9);
	ck_assert_int_ne(x->thread_a, x->thread_b);
	run_free(&r);

	/* the same threads one after the other (start, join, start, join): ordered, no race */
	run_text(&r,
		 "machine cores=2 instr=25ns races=on\n"
		 "import threading\n"
		 "balance = 0\n"
		 "def run(n):\n"
		 "    global balance\n"
		 "    for i in range(50):\n"
		 "        balance = balance + n\n"
		 "for n in (5, 8):\n"
		 "    t = threading.Thread(target=run, args=(n,))\n"
		 "    t.start()\n"
		 "    t.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->nraces, 0);
	ck_assert_str_eq(var_of(r.tr, "balance"), "650");
	run_free(&r);

	/* an Event orders a write before a read */
	run_text(&r,
		 "machine cores=2 races=on\n"
		 "import threading\n"
		 "x = 0\n"
		 "ready = threading.Event()\n"
		 "def producer():\n"
		 "    global x\n"
		 "    x = 42\n"
		 "    ready.set()\n"
		 "def consumer():\n"
		 "    ready.wait()\n"
		 "    print(x)\n"
		 "threading.Thread(target=consumer).start()\n"
		 "threading.Thread(target=producer).start()\n",
		 NULL);
	ck_assert_int_eq(r.tr->nraces, 0);
	run_free(&r);
}
END_TEST

START_TEST(expect_reads_globals_after_race_detector)
{
	/* Found by fuzz-run: the expectations run in the main process after the kernel is
	 * freed, and their reads of globals reached the race detector's hook (a use after
	 * free). They must be read like any other expectation. */
	struct run r;
	run_text(&r,
		 "machine races=on\n"
		 "x = 1\n"
		 "expect x == 1\n"
		 "expect race_on(\"x\") == False\n",
		 NULL);
	ck_assert(r.tr->races_checked);
	ck_assert_int_eq(r.tr->nexpects, 2);
	ck_assert_msg(r.tr->expects[0].ok && r.tr->expects[1].ok, "expect failed: %s",
		      trace_str(r.tr, r.tr->expects[0].detail));
	run_free(&r);
}
END_TEST

Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("Locks, semaphores, conditions, events, barriers");
	tcase_add_test(tc, lock_hands_over_in_fifo_order);
	tcase_add_test(tc, acquire_variants);
	tcase_add_test(tc, python_errors);
	tcase_add_test(tc, rlock_and_with_exits);
	tcase_add_test(tc, semaphore_limits_parallelism);
	tcase_add_test(tc, condition_event_barrier);
	tcase_add_test(tc, barrier_timeout_breaks_it);
	tcase_add_test(tc, condition_wait_for);
	tcase_add_test(tc, thread_local_is_per_thread);
	suite_add_tcase(s, tc);

	tc = tcase_create("The wait-for graph");
	tcase_add_test(tc, deadlock_cycle_named);
	tcase_add_test(tc, looks_like_deadlock_but_is_not);
	suite_add_tcase(s, tc);

	tc = tcase_create("Races on shared variables");
	tcase_add_test(tc, balance_with_lock_is_zero);
	tcase_add_test(tc, balance_without_lock_loses_updates);
	tcase_add_test(tc, race_report_by_happens_before);
	tcase_add_test(tc, expect_reads_globals_after_race_detector);
	suite_add_tcase(s, tc);
	return s;
}

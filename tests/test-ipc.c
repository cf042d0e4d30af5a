/* test-ipc.c — queues, pipes, shared memory and pools between processes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

static bool deadlocks(int n, bool swapped)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "machine cores=2\n"
		 "from multiprocessing import Process, Queue\n"
		 "def f(q):\n"
		 "    q.put('X' * %d)\n"
		 "q = Queue()\n"
		 "p = Process(target=f, args=(q,))\n"
		 "p.start()\n"
		 "%s\n"
		 "%s\n",
		 n, swapped ? "obj = q.get()" : "p.join()", swapped ? "p.join()" : "obj = q.get()");
	struct run r;
	run_text(&r, text, NULL);
	bool d = r.tr->end == END_DEADLOCK;
	if (!d)
		ck_assert_int_eq(r.tr->end, END_COMPLETED);
	if (d && n == 1000000)
		ck_assert_msg(strstr(r.tr->end_msg, "must flush 934477 bytes into q's full 65536-byte pipe"),
			      "%s", r.tr->end_msg);
	run_free(&r);
	return d;
}

START_TEST(join_deadlock_by_size)
{
	/* pickle sizes (protocol 4, measured with CPython 3.11): 1000 chars -> 1018 bytes,
	 * 65000 -> 65018, 65536 -> 65545, 1000000 -> 1000009; plus a 4-byte length. Only what
	 * does not fit in the 65536-byte pipe keeps the child from exiting. */
	ck_assert(deadlocks(1000000, false));
	ck_assert(deadlocks(65536, false));
	ck_assert(!deadlocks(65000, false));
	ck_assert(!deadlocks(1000, false));
	ck_assert(!deadlocks(1000000, true));
	ck_assert(!deadlocks(65536, true));
}
END_TEST

START_TEST(pool_fifth_task_waits)
{
	/* Pool(4), five tasks of 1, 2, 3, 4 and 1 s: the fifth starts when the 1 s one ends, in
	 * that worker; with Pool(5) all five start together. */
	static const char prog[] =
		"machine cores=4 cs=0ns\n"
		"from multiprocessing import Pool\n"
		"import os\n"
		"def task(d):\n"
		"    print('run', d, os.getpid(), now)\n"
		"    sleep(d)\n"
		"    return os.getpid()\n"
		"p = Pool(%d)\n"
		"rs = []\n"
		"for d in [1, 2, 3, 4, 1]:\n"
		"    rs.append(p.apply_async(task, args=(d,)))\n"
		"p.close()\n"
		"p.join()\n"
		"pids = []\n"
		"for r in rs:\n"
		"    pids.append(r.get())\n";
	char text[1024], out[1024];
	snprintf(text, sizeof text, prog, 4);
	struct run r;
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	/* the pool forks four workers (4 x 400 us of the parent) and they start at once */
	ck_assert_str_eq(out, "run 1 1001 1.6ms|run 2 1002 1.6ms|run 3 1003 1.6ms|run 4 1004 1.6ms|"
			      "run 1 1001 1.0016s");
	ck_assert_int_eq(r.m->makespan_ns, 4001600000LL);
	run_free(&r);

	snprintf(text, sizeof text, prog, 5);
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "run 1 1001 2ms|run 2 1002 2ms|run 3 1003 2ms|run 4 1004 2ms|"
			      "run 1 1005 2ms");
	run_free(&r);
}
END_TEST

START_TEST(pool_map_and_errors)
{
	struct run r;
	run_text(&r,
		 "machine cores=2\n"
		 "import multiprocessing as mp\n"
		 "def sq(x):\n"
		 "    compute(1ms)\n"
		 "    return x * x\n"
		 "def boom(x):\n"
		 "    return 1 / 0\n"
		 "pool = mp.Pool(2)\n"
		 "print(pool.map(sq, range(7)))\n"
		 "print('skip')\n"
		 "res = pool.apply_async(boom, (1,))\n"
		 "res.wait()\n"
		 "print(res.ready(), res.successful())\n"
		 "pool.close()\n"
		 "pool.apply_async(sq, (2,))\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "[0, 1, 4, 9, 16, 25, 36]|skip|True False");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:15:1: error: ValueError: Pool not running"));
	run_free(&r);
}
END_TEST

START_TEST(get_timeouts)
{
	/* pool-api's last get(timeout=1) on a 10 s task raises at 1 s, not at 10 s; a Queue's
	 * get(timeout=0.5) raises queue.Empty at 0.5 s */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns\n"
		 "import multiprocessing as mp\n"
		 "def slow():\n"
		 "    sleep(10)\n"
		 "pool = mp.Pool(1)\n"
		 "r = pool.apply_async(slow)\n"
		 "print(now)\n"
		 "r.get(timeout=1)\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "multiprocessing.TimeoutError"));
	/* the main thread ended at 1 s: the error, then the exit hook terminates the daemon
	 * worker */
	ck_assert_int_eq(tm(&r, "MainThread")->end_ns, 1000 * MS);
	run_free(&r);

	run_text(&r,
		 "machine cs=0ns\n"
		 "from multiprocessing import Queue\n"
		 "q = Queue()\n"
		 "q.get(True, 0.5)\n",
		 NULL);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:4:1: error: queue.Empty"));
	ck_assert_int_eq(r.m->makespan_ns, 500 * MS);
	run_free(&r);
}
END_TEST

START_TEST(shared_value_races_across_processes)
{
	/* v.value += 1 is a read and a write of shared memory: with instruction costs and two
	 * processes on two cores, updates are lost; under the Value's lock, none are. */
	static const char prog[] =
		"machine cores=2 instr=25ns jitter=0.2 seed=%d\n"
		"import multiprocessing as mp\n"
		"def add(v):\n"
		"    for i in range(2000):\n"
		"        %s\n"
		"v = mp.Value('i', 0)\n"
		"a = mp.Process(target=add, args=(v,))\n"
		"b = mp.Process(target=add, args=(v,))\n"
		"a.start()\n"
		"b.start()\n"
		"a.join()\n"
		"b.join()\n"
		"total = v.value\n";
	int lost = 0;
	for (int seed = 1; seed <= 3; seed++) {
		char text[1024];
		struct run r;
		snprintf(text, sizeof text, prog, seed, "v.value += 1");
		run_text(&r, text, NULL);
		lost += strcmp(trace_str(r.tr, r.tr->vars[1].repr), "4000") != 0;
		run_free(&r);
		snprintf(text, sizeof text, prog, seed,
			 "with v.get_lock():\n            v.value += 1");
		run_text(&r, text, NULL);
		bool found = false;
		for (int i = 0; i < r.tr->nvars; i++)
			if (strcmp(trace_str(r.tr, r.tr->vars[i].name), "total") == 0) {
				ck_assert_str_eq(trace_str(r.tr, r.tr->vars[i].repr), "4000");
				found = true;
			}
		ck_assert(found);
		run_free(&r);
	}
	ck_assert_int_ge(lost, 2);
}
END_TEST

START_TEST(thread_queue_and_pipe)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns fork=0ns\n"
		 "import queue, threading\n"
		 "from multiprocessing import Pipe, Process\n"
		 "q = queue.Queue()\n"
		 "def worker():\n"
		 "    while True:\n"
		 "        item = q.get()\n"
		 "        if item is None:\n"
		 "            break\n"
		 "        print('got', item, now)\n"
		 "        q.task_done()\n"
		 "t = threading.Thread(target=worker)\n"
		 "t.start()\n"
		 "for i in range(2):\n"
		 "    sleep(10ms)\n"
		 "    q.put(i)\n"
		 "q.join()\n"
		 "q.put(None)\n"
		 "t.join()\n"
		 "a, b = Pipe()\n"
		 "def child(c):\n"
		 "    sleep(5ms)\n"
		 "    c.send('ping')\n"
		 "p = Process(target=child, args=(b,))\n"
		 "p.start()\n"
		 "print(a.recv(), now)\n"
		 "p.join()\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "got 0 10ms|got 1 20ms|ping 25ms");
	run_free(&r);
}
END_TEST

Suite *ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("Queues, pipes, shared memory and pools");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, join_deadlock_by_size);
	tcase_add_test(tc, pool_fifth_task_waits);
	tcase_add_test(tc, pool_map_and_errors);
	tcase_add_test(tc, get_timeouts);
	tcase_add_test(tc, shared_value_races_across_processes);
	tcase_add_test(tc, thread_queue_and_pipe);
	suite_add_tcase(s, tc);
	return s;
}

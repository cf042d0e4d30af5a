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
	if (d) {
		/* 'X' * n pickles to n + 9 bytes (n >= 65527), plus a 4-byte length: what does not
		 * fit in the 65536-byte pipe is left in the feeder: 934477 bytes for 1000000
		 * characters, 13 for 65536. A cycle of two: the parent's join() at line 8, the
		 * child's put() at line 4. */
		char want[512];
		snprintf(want, sizeof want,
			 "deadlock: MainThread waits in join(Process-1) (line 8); Process-1 cannot exit "
			 "until its queue feeder flushes %d bytes into q's full 65536-byte pipe, which "
			 "only a get() by MainThread would drain (put() at line 4)",
			 n + 9 + 4 - 65536);
		ck_assert_str_eq(r.tr->end_msg, want);
		ck_assert_str_eq(r.tr->deadlock_kind, "cycle");
		ck_assert_int_eq(r.tr->ncycle, 2);
		ck_assert_int_eq(r.tr->cycle[0].thread, 0);
		ck_assert_str_eq(trace_str(r.tr, r.tr->cycle[0].waits_for), "join(Process-1)");
		ck_assert_int_eq(r.tr->cycle[0].line, 8);
		ck_assert_int_eq(r.tr->cycle[1].thread, r.tr->procs[1].main_thread);
		snprintf(want, sizeof want,
			 "its queue feeder to flush %d bytes into q's full 65536-byte pipe",
			 n + 9 + 4 - 65536);
		ck_assert_str_eq(trace_str(r.tr, r.tr->cycle[1].waits_for), want);
		ck_assert_int_eq(r.tr->cycle[1].line, 4);
	}
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

/* A 100000-character string (100013 bytes with pickle's framing and the length) fills the
 * Queue's 65536-byte pipe while no one reads; the reader drains it to 0. The fill is a
 * TR_COUNTER record of the Queue's object, the value in `line`. */
START_TEST(pipe_fill_counter)
{
	static const char prog[] =
		"machine cores=2\n"
		"from multiprocessing import Process, Queue\n"
		"def f(q):\n"
		"    q.put('X' * 100000)\n"
		"q = Queue()\n"
		"p = Process(target=f, args=(q,))\n"
		"p.start()\n"
		"sleep(0.01)\n"
		"obj = q.get()\n"
		"p.join()\n";
	struct run r;
	run_text(&r, prog, NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	int64_t peak = -1, last = -1, peak_t = -1, last_t = -1;
	int n = 0;
	for (size_t i = 0; i < r.tr->nrecs; i++) {
		const struct trace_rec *rec = &r.tr->recs[i];
		if (rec->kind != TR_COUNTER)
			continue;
		ck_assert_int_ge(rec->obj, 0);
		ck_assert_int_lt(rec->obj, r.tr->nobjects);
		ck_assert_str_eq(trace_str(r.tr, r.tr->objects[rec->obj].name), "q");
		if ((int64_t)rec->line > peak) {
			peak = rec->line;
			peak_t = rec->t;
		}
		last = rec->line;
		last_t = rec->t;
		n++;
	}
	ck_assert_int_ge(n, 2);
	ck_assert_int_eq(peak, 65536);
	ck_assert_int_eq(last, 0);
	ck_assert_int_ge(last_t - peak_t, 9000000); /* full until the get() after the sleep */
	run_free(&r);
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
	/* the pool forks four workers (4 x 400 us of the parent) and each gets its task through
	 * the task queue: handoff (50 us) + 2 ns a byte of the pickled (d,) (repr "(1,)" is 4
	 * characters + 15 = 19 bytes: 38 ns), so all four start at 1.650038 ms; worker 1001 is
	 * free at 1.001650038 s and gets the fifth the same way, 50.038 us later */
	ck_assert_str_eq(out, "run 1 1001 1.650038ms|run 2 1002 1.650038ms|run 3 1003 1.650038ms|"
			      "run 4 1004 1.650038ms|run 1 1001 1.001700076s");
	ck_assert_int_eq(r.m->makespan_ns, 4001650038LL);
	run_free(&r);

	snprintf(text, sizeof text, prog, 5);
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "run 1 1001 2.050038ms|run 2 1002 2.050038ms|run 3 1003 2.050038ms|"
			      "run 4 1004 2.050038ms|run 1 1005 2.050038ms");
	run_free(&r);
}
END_TEST

/* A task and its result each cross the pool's pipe: handoff (50 us) + 2 ns a pickled byte.
 * apply(f, (7,)): the task "(7,)" is 4 + 15 = 19 bytes (50.038 us), the result 49 is
 * 2 + 15 = 17 bytes (50.034 us): the caller has it at 100.072 us. A ThreadPool's queues
 * cost nothing. */
START_TEST(pool_handoffs_cost)
{
	static const char prog[] =
		"machine cores=2 cs=0ns fork=0ns thread=0ns\n"
		"from multiprocessing.pool import Pool, ThreadPool\n"
		"def f(x):\n"
		"    return x * x\n"
		"p = %s(1)\n"
		"print(p.apply(f, (7,)), now)\n";
	char text[512], out[256];
	struct run r;
	snprintf(text, sizeof text, prog, "Pool");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "49 100.072us");
	run_free(&r);
	snprintf(text, sizeof text, prog, "ThreadPool");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "49 0s");
	run_free(&r);
}
END_TEST

/* size= gives the bytes an item takes in the pipe (a value whose printed form is not its
 * pickle): a 1-character item sent as 100,000 bytes (+ 4 of framing) does not fit the 64 KiB
 * pipe, so the child cannot exit before the parent's get() and the join deadlocks, as the
 * documents' 1,000,000-character item does; given 1,000 bytes it fits and the run ends. */
START_TEST(item_size_given)
{
	static const char prog[] =
		"machine cores=2\n"
		"from multiprocessing import Process, Queue\n"
		"def f(q):\n"
		"    q.put('x', size=%d)\n"
		"q = Queue()\n"
		"p = Process(target=f, args=(q,))\n"
		"p.start()\n"
		"p.join()\n"
		"print(q.get())\n";
	char text[512];
	struct run r;
	snprintf(text, sizeof text, prog, 100000);
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	/* 100,004 bytes, 65,536 of them in the pipe: 34,468 left in the feeder */
	ck_assert_msg(strstr(r.tr->end_msg, "flushes 34468 bytes into q's full 65536-byte pipe"),
		      "%s", r.tr->end_msg);
	run_free(&r);
	snprintf(text, sizeof text, prog, 1000);
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
	raises_at("from multiprocessing import Queue\nq = Queue()\nq.put(1, size=-1)\n",
		  "test.slice:3:1: error: TypeError: size= must be a number of bytes");
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
		lost += strcmp(var_of(r.tr, "total"), "4000") != 0;
		run_free(&r);
		snprintf(text, sizeof text, prog, seed,
			 "with v.get_lock():\n            v.value += 1");
		run_text(&r, text, NULL);
		ck_assert_str_eq(var_of(r.tr, "total"), "4000");
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

START_TEST(pool_imap_chunks_initializer)
{
	/* Pool(2) with an initializer that sleeps 5 ms: both workers run it at 0 s. imap of
	 * 30, 10, 20 ms: worker 2 runs 10 then 20 ms (15, 35 ms), worker 1 30 ms (35 ms); the
	 * list is in input order. imap_unordered of the same from 35 ms: 1 at 45 ms, then 3
	 * and 2 at 65 ms, in completion order. map(chunksize=3) of nine 10 ms calls: chunks of
	 * three, each run back to back on one worker: 65 -> 95 ms on both, the third chunk on
	 * worker 1 95 -> 125 ms. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns handoff=0ns\n" /* free hand-offs: chunks and order */
		 "from multiprocessing import Pool\n"
		 "import os\n"
		 "def f(x):\n"
		 "    sleep(x * 10ms)\n"
		 "    return x * x\n"
		 "def g(x):\n"
		 "    sleep(10ms)\n"
		 "    return os.getpid()\n"
		 "def init(tag):\n"
		 "    print(tag, os.getpid(), now)\n"
		 "    sleep(5ms)\n"
		 "p = Pool(2, init, ('init',))\n"
		 "print(p.imap(f, [3, 1, 2]), now)\n"
		 "print(p.imap_unordered(f, [3, 1, 2]), now)\n"
		 "print(p.map(g, range(9), chunksize=3), now)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "init 1001 0s|init 1002 0s|[9, 1, 4] 35ms|[1, 9, 4] 65ms|"
			      "[1001, 1001, 1001, 1002, 1002, 1002, 1001, 1001, 1001] 125ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);

	/* the default chunksize is ceil(10 / (4 x 2)) = 2: five chunks of 20 ms on two workers
	 * end at 60 ms (worker 1 runs three); chunksize=1 spreads the ten calls 5 + 5: 50 ms */
	static const char prog[] =
		"machine cores=2 cs=0ns fork=0ns handoff=0ns\n"
		"import multiprocessing as mp\n"
		"def g(x):\n"
		"    sleep(10ms)\n"
		"    return x\n"
		"p = mp.Pool(2)\n"
		"p.map(g, range(10)%s)\n";
	char text[512];
	snprintf(text, sizeof text, prog, "");
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "MainThread")->end_ns, 60 * MS);
	run_free(&r);
	snprintf(text, sizeof text, prog, ", 1");
	run_text(&r, text, NULL);
	ck_assert_int_eq(tm(&r, "MainThread")->end_ns, 50 * MS);
	run_free(&r);
}
END_TEST

START_TEST(futures_executors)
{
	/* ProcessPoolExecutor(2): f(3) on worker 1 (0-30 ms), f(1) then f(2) on worker 2
	 * (0-10, 10-30 ms). as_completed gives them in completion order; map of 1..4 from
	 * 30 ms: 30-40, 30-50, 40-70, 50-90 ms; leaving the with block waits for the workers.
	 * ThreadPoolExecutor() has min(32, 4 + 4) = 8 threads: nine 10 ms calls take two
	 * rounds (90 -> 110 ms). result(timeout=0.05) on a 100 ms call raises at 160 ms. */
	struct run r;
	run_text(&r,
		 "machine cores=4 cs=0ns fork=0ns thread=0ns handoff=0ns\n"
		 "import concurrent.futures\n"
		 "from concurrent.futures import ThreadPoolExecutor, as_completed\n"
		 "def f(x):\n"
		 "    sleep(x * 10ms)\n"
		 "    return x * 2\n"
		 "with concurrent.futures.ProcessPoolExecutor(max_workers=2) as ex:\n"
		 "    fs = [ex.submit(f, 3), ex.submit(f, 1), ex.submit(f, 2)]\n"
		 "    print(fs[0].done(), now)\n"
		 "    print(fs[1].result(), now)\n"
		 "    for d in as_completed(fs):\n"
		 "        print(d.result(), now)\n"
		 "    print(ex.map(f, [1, 2, 3, 4]), now)\n"
		 "print('out', now)\n"
		 "with ThreadPoolExecutor() as tx:\n"
		 "    print(tx.map(f, [1, 1, 1, 1, 1, 1, 1, 1, 1]), now)\n"
		 "tx = ThreadPoolExecutor(1)\n"
		 "g = tx.submit(f, 10)\n"
		 "g.result(timeout=0.05)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "False 0s|2 10ms|2 30ms|6 30ms|4 30ms|[2, 4, 6, 8] 90ms|out 90ms|"
			      "[2, 2, 2, 2, 2, 2, 2, 2, 2] 110ms");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:19:1: error: concurrent.futures.TimeoutError"));
	ck_assert_int_eq(tm(&r, "MainThread")->end_ns, 160 * MS);
	run_free(&r);

	/* after shutdown(), submit() raises */
	run_text(&r,
		 "from concurrent.futures import ProcessPoolExecutor\n"
		 "def f(x):\n"
		 "    return x\n"
		 "ex = ProcessPoolExecutor()\n"
		 "ex.shutdown()\n"
		 "ex.submit(f, 1)\n",
		 NULL);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg,
				     "test.slice:6:1: error: RuntimeError: cannot schedule new futures after shutdown"));
	run_free(&r);
}
END_TEST

START_TEST(pool_api_timeout)
{
	/* pool-api as the document has it: the last get(timeout=1) on a 10 s sleep raises
	 * multiprocessing.TimeoutError at 1 s (the bundled scenario waits instead) */
	struct run r;
	run_text(&r,
		 "machine cores=4\n"
		 "from multiprocessing import Pool\n"
		 "import time\n"
		 "def f(x):\n"
		 "    return x*x\n"
		 "with Pool(processes=4) as pool:\n"
		 "    result = pool.apply_async(f, (10,))\n"
		 "    print(result.get(timeout=1))\n"
		 "    print(pool.map(f, range(10)))\n"
		 "    it = pool.imap(f, range(10))\n"
		 "    print(it[0], it[1], it[2])\n"
		 "    result = pool.apply_async(time.sleep, (10,))\n"
		 "    t0 = time.time()\n"
		 "    print(result.get(timeout=1))\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "100|[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]|0 1 4");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg, "test.slice:14:11: error: multiprocessing.TimeoutError"));
	int64_t t0 = (int64_t)(atof(var_of(r.tr, "t0")) * 1e9 + 0.5);
	ck_assert_int_gt(t0, 0);
	/* 1 s after t0, give or take the few interpreted instructions between */
	ck_assert_int_ge(tm(&r, "MainThread")->end_ns - t0, 1000 * MS);
	ck_assert_int_lt(tm(&r, "MainThread")->end_ns - t0, 1000 * MS + 10000);
	run_free(&r);
}
END_TEST

START_TEST(pool_chunk_error)
{
	/* map_async in chunks of 2: worker 1 runs 10 // 1 (10 ms) then 10 // 0, which fails the
	 * chunk at 20 ms; worker 2 runs 2 and 5 (10, 20 ms); the apply_async of 10 // 0 fails at
	 * 30 ms. The exceptions go to the results only: after close() and join() the run
	 * completes, with no uncaught exception in a worker. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns handoff=0ns\n"
		 "from multiprocessing import Pool\n"
		 "def f(x):\n"
		 "    sleep(10ms)\n"
		 "    return 10 // x\n"
		 "p = Pool(2)\n"
		 "r = p.map_async(f, [1, 0, 2, 5], 2)\n"
		 "q = p.apply_async(f, (0,))\n"
		 "p.close()\n"
		 "p.join()\n"
		 "print(r.ready(), r.successful(), q.successful(), now)\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "True False False 30ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
}
END_TEST

START_TEST(simple_queue_put_blocks)
{
	/* SimpleQueue has no feeder: the child's put() of 100000 characters (100009 pickled + 4
	 * = 100013 bytes) writes 65536 bytes into the empty pipe and blocks for the other 34477
	 * until the parent's get() at 10 ms drains it; a 2-character item ('ab': 17 + 4 = 21
	 * bytes) fits and does not block. empty() is False while bytes are in the pipe. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns\n"
		 "from multiprocessing import Process, SimpleQueue\n"
		 "def f(q):\n"
		 "    q.put('ab')\n"
		 "    print('small', now)\n"
		 "    q.put('X' * 100000)\n"
		 "    print('big', now)\n"
		 "q = SimpleQueue()\n"
		 "p = Process(target=f, args=(q,))\n"
		 "p.start()\n"
		 "sleep(10ms)\n"
		 "e = q.empty()\n"
		 "a = q.get()\n"
		 "b = q.get()\n"
		 "p.join()\n"
		 "print(e, a, len(b), q.empty(), now)\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "small 0s|big 10ms|False ab 100000 True 10ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
}
END_TEST

START_TEST(joinable_queue_task_done)
{
	/* the worker takes item 1 at 0, is done with it at 10 ms, takes item 2, done at 20 ms:
	 * join() returns at 20 ms. A third task_done() raises at its line. */
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns\n"
		 "from multiprocessing import Process, JoinableQueue\n"
		 "def worker(q):\n"
		 "    for i in range(2):\n"
		 "        item = q.get()\n"
		 "        sleep(10ms)\n"
		 "        q.task_done()\n"
		 "q = JoinableQueue()\n"
		 "p = Process(target=worker, args=(q,))\n"
		 "p.start()\n"
		 "q.put(1)\n"
		 "q.put(2)\n"
		 "q.join()\n"
		 "print('joined', now, q.empty())\n"
		 "p.join()\n"
		 "q.task_done()\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "joined 20ms True");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_ptr_nonnull(strstr(r.tr->end_msg,
				     "test.slice:16:1: error: ValueError: task_done() called too many times"));
	run_free(&r);
}
END_TEST

START_TEST(join_deadlock_other_reader)
{
	/* the stuck feeder's queue is read by another process (the last to call get()), not by
	 * the joiner's: no two-edge cycle, the all-blocked report */
	struct run r;
	run_text(&r,
		 "machine cores=2\n"
		 "from multiprocessing import Process, Queue, Event\n"
		 "def reader(q, ev):\n"
		 "    x = q.get()\n"
		 "    ev.wait()\n"
		 "def writer(q):\n"
		 "    q.put('X' * 1000000)\n"
		 "q = Queue()\n"
		 "ev = Event()\n"
		 "r = Process(target=reader, args=(q, ev))\n"
		 "r.start()\n"
		 "q.put(1)\n"
		 "sleep(10ms)\n"
		 "w = Process(target=writer, args=(q,))\n"
		 "w.start()\n"
		 "w.join()\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_str_eq(r.tr->deadlock_kind, "all-blocked");
	ck_assert_int_eq(r.tr->ncycle, 0);
	run_free(&r);
}
END_TEST

/* The run completes, and its printed lines joined by '|' are want. */
static void completes_with(const char *prog, const char *want)
{
	struct run r;
	char out[1024];
	run_text(&r, prog, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, want);
	ck_assert_msg(r.tr->end == END_COMPLETED, "%s", r.tr->end_msg);
	run_free(&r);
}

START_TEST(closed_objects_raise)
{
	/* what CPython raises: Queue._check_closed's ValueError, a closed Connection's (and a
	 * closed SimpleQueue's pipe's) OSError, Pool._check_running's ValueError */
	raises_at("machine cores=1\nfrom multiprocessing import Queue\nq = Queue()\nq.close()\n"
		  "q.put(1)\n",
		  "test.slice:5:1: error: ValueError: Queue q is closed");
	raises_at("machine cores=1\nfrom multiprocessing import Queue\nq = Queue()\nq.put(1)\n"
		  "q.close()\nq.get()\n",
		  "test.slice:6:1: error: ValueError: Queue q is closed");
	raises_at("machine cores=1\nfrom multiprocessing import JoinableQueue\nq = JoinableQueue()\n"
		  "q.close()\nq.put(1)\n",
		  "test.slice:5:1: error: ValueError: Queue q is closed");
	raises_at("machine cores=1\nfrom multiprocessing import SimpleQueue\nq = SimpleQueue()\n"
		  "q.close()\nq.put(1)\n",
		  "test.slice:5:1: error: OSError: handle is closed");
	raises_at("machine cores=1\nfrom multiprocessing import SimpleQueue\nq = SimpleQueue()\n"
		  "q.close()\nq.get()\n",
		  "test.slice:5:1: error: OSError: handle is closed");
	raises_at("machine cores=1\nfrom multiprocessing import Pipe\na, b = Pipe()\na.close()\n"
		  "a.send('x')\n",
		  "test.slice:5:1: error: OSError: handle is closed");
	raises_at("machine cores=1\nfrom multiprocessing import Pipe\na, b = Pipe()\nb.send('x')\n"
		  "a.close()\na.recv()\n",
		  "test.slice:6:1: error: OSError: handle is closed");
	static const char pool[] =
		"machine cores=2\n"
		"from multiprocessing import Pool\n"
		"def sq(x):\n"
		"    return x * x\n"
		"p = Pool(2)\n"
		"r = p.apply_async(sq, (3,))\n"
		"p.close()\n"
		"%s\n";
	char text[512];
	snprintf(text, sizeof text, pool, "p.map(sq, [1, 2])");
	raises_at(text, "test.slice:8:1: error: ValueError: Pool not running");
	snprintf(text, sizeof text, pool, "p.apply(sq, (2,))");
	raises_at(text, "test.slice:8:1: error: ValueError: Pool not running");
	snprintf(text, sizeof text, pool, "p.apply_async(sq, (2,))");
	raises_at(text, "test.slice:8:1: error: ValueError: Pool not running");
	/* a closed pool's results can still be fetched, before and after join() */
	snprintf(text, sizeof text, pool, "print(r.get())\np.join()\nprint(r.get())");
	struct run r;
	run_text(&r, text, NULL);
	char out[64];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "9|9");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
}
END_TEST

/* Bounded queues: Queue(2) (also JoinableQueue(2), and queue.Queue(2) between threads), a
 * producer putting five items at once and a consumer taking one a second. Moving bytes takes
 * no time and machine cs=0 fork=thread=0, so: puts 0 and 1 return at 0 (qsize 1, then 2 =
 * maxsize: full); put 2 waits until the consumer's first get() at 1 s releases a place, put 3
 * until the get at 2 s, put 4 until 3 s; the consumer prints each item after its get, just
 * before the woken producer prints. */
static const char bounded_prog[] =
	"machine cores=2 cs=0ns fork=0ns thread=0ns\n"
	"%s\n"
	"def consumer(q):\n"
	"    for i in range(5):\n"
	"        sleep(1)\n"
	"        print('got', q.get(), now)\n"
	"q = %s(2)\n"
	"c = %s(target=consumer, args=(q,))\n"
	"c.start()\n"
	"for i in range(5):\n"
	"    q.put(i)\n"
	"    print('put', i, now, q.qsize(), q.full())\n"
	"c.join()\n"
	"print(q.qsize(), q.full(), q.empty())\n";

static const char bounded_want[] =
	"put 0 0s 1 False|put 1 0s 2 True|got 0 1s|put 2 1s 2 True|got 1 2s|put 3 2s 2 True|"
	"got 2 3s|put 4 3s 2 True|got 3 4s|got 4 5s|0 False True";

START_TEST(bounded_queue_put_waits)
{
	static const char *const kinds[][3] = {
		{"from multiprocessing import Process, Queue", "Queue", "Process"},
		{"from multiprocessing import Process, JoinableQueue", "JoinableQueue", "Process"},
		{"import queue\nfrom threading import Thread", "queue.Queue", "Thread"},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		char text[1024], out[512];
		snprintf(text, sizeof text, bounded_prog, kinds[i][0], kinds[i][1], kinds[i][2]);
		struct run r;
		run_text(&r, text, NULL);
		output_of(r.tr, out, sizeof out);
		ck_assert_msg(strcmp(out, bounded_want) == 0, "%s: %s", kinds[i][1], out);
		ck_assert_int_eq(r.tr->end, END_COMPLETED);
		/* the producer waited 1 s in each of puts 2, 3 and 4 (its join() waited 2 s) */
		ck_assert_int_eq(tm(&r, "MainThread")->end_ns, 5000 * MS);
		run_free(&r);
	}
}
END_TEST

/* put(x, timeout=0.5) on a full queue raises queue.Full at 0.5 s (also positionally,
 * put(x, True, 0.5)); put_nowait() and put(x, False) raise at once; a put() whose timeout
 * has not run out when a get() makes room returns then: the other process's get() at 0.3 s. */
START_TEST(bounded_queue_full_raises)
{
	static const char prog[] =
		"machine cores=2 cs=0ns fork=0ns\n"
		"%s\n"
		"q = %s(1)\n"
		"q.put('a')\n"
		"print(q.full(), now)\n"
		"%s\n";
	static const char *const kinds[][2] = {
		{"from multiprocessing import Queue", "Queue"},
		{"from multiprocessing import JoinableQueue", "JoinableQueue"},
		{"import queue", "queue.Queue"},
	};
	static const struct {
		const char *put;
		int64_t at;
		const char *msg;
	} cases[] = {
		{"q.put('b', timeout=0.5)", 500 * MS, "the wait timed out"},
		{"q.put('b', True, 0.5)", 500 * MS, "the wait timed out"},
		{"q.put('b', timeout=250ms)", 250 * MS, "the wait timed out"},
		{"q.put_nowait('b')", 0, "the queue is full"},
		{"q.put('b', False)", 0, "the queue is full"},
		{"q.put('b', block=False, timeout=5)", 0, "the queue is full"},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
			char text[512], want[128], out[64];
			snprintf(text, sizeof text, prog, kinds[i][0], kinds[i][1], cases[j].put);
			struct run r;
			run_text(&r, text, NULL);
			output_of(r.tr, out, sizeof out);
			ck_assert_str_eq(out, "True 0s");
			ck_assert_int_eq(r.tr->end, END_ERROR);
			snprintf(want, sizeof want, "test.slice:6:1: error: queue.Full: %s", cases[j].msg);
			ck_assert_msg(strstr(r.tr->end_msg, want), "%s / %s: %s", kinds[i][1],
				      cases[j].put, r.tr->end_msg);
			ck_assert_int_eq(r.m->makespan_ns, cases[j].at);
			run_free(&r);
		}

	/* caught where Python catches it, the run goes on from the instant it was raised */
	completes_with("machine cs=0ns\n"
		 "import queue\n"
		 "from multiprocessing import Queue\n"
		 "q = Queue(1)\n"
		 "t = queue.Queue(1)\n"
		 "for x in [q, t]:\n"
		 "    x.put(1)\n"
		 "    try:\n"
		 "        x.put(2, timeout=0.5)\n"
		 "    except queue.Full:\n"
		 "        print('full at', now, x.qsize())\n",
		 "full at 500ms 1|full at 1s 1");
	completes_with("machine cores=2 cs=0ns fork=0ns\n"
		 "from multiprocessing import Process, Queue\n"
		 "def taker(q):\n"
		 "    sleep(0.3)\n"
		 "    q.get()\n"
		 "q = Queue(1)\n"
		 "q.put('a')\n"
		 "p = Process(target=taker, args=(q,))\n"
		 "p.start()\n"
		 "q.put('b', timeout=0.5)\n"
		 "print('in', now, q.qsize())\n"
		 "p.join()\n",
		 "in 300ms 1");
}
END_TEST

/* Blocked puts are served first come, first served: P1 blocks at 10 ms, P2 at 20 ms; the
 * get at 100 ms lets P1's 'a' in, the one at 200 ms P2's 'b' (which the main thread, going
 * on at once, gets before P2 prints). The items in the feeder count
 * as CPython's semaphore counts them: a 100000-character item, 34477 of its 100013 bytes
 * still in the feeder (the 65536-byte pipe is full), fills Queue(1); the next put() waits
 * until drain()'s get() at 1.2 s has taken the whole item. */
START_TEST(bounded_queue_fifo_and_feeder)
{
	completes_with("machine cores=4 cs=0ns fork=0ns\n"
		 "from multiprocessing import Process, Queue\n"
		 "def producer(q, d, x):\n"
		 "    sleep(d)\n"
		 "    q.put(x)\n"
		 "    print('in', x, now)\n"
		 "q = Queue(1)\n"
		 "q.put('m')\n"
		 "p1 = Process(target=producer, args=(q, 10ms, 'a'))\n"
		 "p2 = Process(target=producer, args=(q, 20ms, 'b'))\n"
		 "p1.start()\n"
		 "p2.start()\n"
		 "sleep(100ms)\n"
		 "x = q.get()\n"
		 "sleep(100ms)\n"
		 "y = q.get()\n"
		 "z = q.get()\n"
		 "print(x, y, z, now)\n"
		 "p1.join()\n"
		 "p2.join()\n"
		 "def drain(q):\n"
		 "    sleep(1)\n"
		 "    print(len(q.get()), q.get(), now)\n"
		 "big = Queue(1)\n"
		 "big.put('X' * 100000)\n"
		 "print(big.qsize(), big.full(), big.empty())\n"
		 "d = Process(target=drain, args=(big,))\n"
		 "d.start()\n"
		 "big.put('y')\n"
		 "print('y in', now)\n"
		 "d.join()\n",
		 "in a 100ms|m a b 200ms|in b 200ms|1 True False|100000 y 1.2s|y in 1.2s");
}
END_TEST

/* With everyone blocked, a put() waiting for room ends the run as all-blocked, naming the
 * put's line (no single thread holds the room: it is no wait-for edge). */
START_TEST(bounded_queue_deadlock)
{
	static const char *const kinds[][2] = {
		{"from multiprocessing import JoinableQueue", "JoinableQueue"},
		{"import queue", "queue.Queue"},
	};
	for (size_t i = 0; i < 2; i++) {
		char text[256];
		snprintf(text, sizeof text,
			 "machine cores=1\n"
			 "%s\n"
			 "q = %s(maxsize=1)\n"
			 "q.put('a')\n"
			 "q.put('b')\n",
			 kinds[i][0], kinds[i][1]);
		struct run r;
		run_text(&r, text, NULL);
		ck_assert_int_eq(r.tr->end, END_DEADLOCK);
		ck_assert_str_eq(r.tr->deadlock_kind, "all-blocked");
		ck_assert_msg(strstr(r.tr->end_msg, "MainThread (pid 1000): waits in q.put() at line 5 for "
						    "room (q is full: maxsize 1)"),
			      "%s", r.tr->end_msg);
		run_free(&r);
	}
}
END_TEST

/* Bad maxsize, as CPython: multiprocessing's Queue.__init__ compares maxsize <= 0 and its
 * BoundedSemaphore wants an int; queue.Queue keeps any maxsize and its put() compares
 * maxsize > 0 (full(): 0 < maxsize). maxsize <= 0 is unbounded; a float bound n >= 1.5
 * holds from 2 items. A closed queue's put() raises ValueError before it looks for room. */
START_TEST(bounded_queue_bad_input)
{
	raises_at("from multiprocessing import Queue\nq = Queue(maxsize='x')\n",
		  "test.slice:2:5: error: TypeError: '<=' not supported between instances of 'str' and 'int'");
	raises_at("from multiprocessing import JoinableQueue\nq = JoinableQueue(None)\n",
		  "test.slice:2:5: error: TypeError: '<=' not supported between instances of 'NoneType' "
		  "and 'int'");
	raises_at("from multiprocessing import Queue\nq = Queue(2.5)\n",
		  "test.slice:2:5: error: TypeError: 'float' object cannot be interpreted as an integer");
	raises_at("import queue\nq = queue.Queue('x')\nprint(q.qsize(), q.empty())\nq.put(1)\n",
		  "test.slice:4:1: error: TypeError: '>' not supported between instances of 'str' and 'int'");
	raises_at("import queue\nq = queue.Queue('x')\nq.full()\n",
		  "test.slice:3:1: error: TypeError: '<' not supported between instances of 'int' and 'str'");
	raises_at("import queue\nq = queue.Queue(1)\nq.put(1)\nq.put(2, timeout=-1)\n",
		  "test.slice:4:1: error: ValueError: 'timeout' must be a non-negative number");
	raises_at("from multiprocessing import Queue\nq = Queue(1)\nq.put(1)\nq.close()\n"
		  "q.put_nowait(2)\n",
		  "test.slice:5:1: error: ValueError: Queue q is closed");

	completes_with("import queue\n"
		 "from multiprocessing import Queue\n"
		 "a = Queue(0)\n"
		 "b = Queue(-3)\n"
		 "c = queue.Queue(1.5)\n"
		 "for i in range(3):\n"
		 "    a.put(i)\n"
		 "    b.put(i)\n"
		 "c.put(1)\n"
		 "f1 = c.full()\n"
		 "c.put(2)\n"
		 "print(a.full(), b.full(), a.qsize(), f1, c.full(), c.qsize())\n",
		 "False False 3 False True 2");
}
END_TEST

/* External commands: fork+exec costs the machine's fork cost (1 ms here), burnt by the
 * caller; the command runs 2 ms of CPU and 5 ms of I/O, so each takes 8 ms from its call.
 * call() at 0 -> 8 ms; run() 8 -> 16 ms; Popen() returns at 17 ms, and the command waits for
 * its stdin until communicate() at 27 ms, then ends at 34 ms. Its exit code is the function's
 * return value (len(args)). */
START_TEST(subprocess_call_run_popen)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns thread=0ns fork=1ms\n"
		 "import subprocess\n"
		 "def echo(args, stdin):\n"
		 "    compute(2ms)\n"
		 "    io(5ms)\n"
		 "    print(args[1] + stdin)\n"
		 "    return len(args)\n"
		 "subprocess.define('echo', echo)\n"
		 "r = subprocess.call(['echo', 'hi'])\n"
		 "print('call', r, now)\n"
		 "cp = subprocess.run(['echo', 'x', 'y'], input='in', capture_output=True)\n"
		 "print('run', cp.returncode, repr(cp.stdout), now)\n"
		 "p = subprocess.Popen(['echo', 'z'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
		 "print('popen', p.returncode, now)\n"
		 "sleep(10ms)\n"
		 "out, err = p.communicate('data')\n"
		 "print('comm', repr(out), err, p.returncode, p.wait(), now)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "hi|call 2 8ms|run 3 'xin\\n' 16ms|popen None 17ms|"
			      "comm 'zdata\\n' None 2 2 34ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
	raises_at("machine cores=1\nimport subprocess\nprint('x')\nr = subprocess.call(['nslookup'])\n",
		  "test.slice:4:5: error: FileNotFoundError: [Errno 2] No such file or directory: "
		  "'nslookup'");
}
END_TEST

/* terminate(), kill(), send_signal() and stderr. fork=1ms, cs=0: each command starts 1 ms
 * after its Popen/run. p (started 0 -> 1 ms) prints into its stdout pipe and sleeps; at 6 ms
 * signal 0 does nothing, terminate() ends it: returncode -15 at once, wait() returns it, and
 * terminate() and kill() on the ended command do nothing (as CPython's send_signal after
 * poll()); communicate() gives what it had printed. q (6 -> 7 ms, killed at 8 ms): -9; s
 * (8 -> 9 ms, SIGINT at 10 ms): -2. `bad` returns (2, text): its stderr. Into pipes
 * (communicate at 11 ms; run with capture_output 12 ms); stderr=STDOUT after its stdout
 * (13 ms); without pipes, its lines are the program's output (14 ms). `die` returns a str,
 * as exit('fatal: gone') does: 1, the text and a newline to stderr (15 ms); `bad` with both
 * streams to DEVNULL prints nothing (16 ms). w waits for its stdin and is killed (17 ms): communicate() writes into
 * the dead pipe and returns (None, None). */
START_TEST(subprocess_signals_and_stderr)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=1ms\n"
		 "import subprocess\n"
		 "def server(args, stdin):\n"
		 "    print('serving', args[1])\n"
		 "    sleep(10)\n"
		 "def bad(args, stdin):\n"
		 "    print('partial')\n"
		 "    return (2, 'bad: no such option\\nusage: bad [-x]\\n')\n"
		 "def die(args, stdin):\n"
		 "    return 'fatal: gone'\n"
		 "subprocess.define('server', server)\n"
		 "subprocess.define('bad', bad)\n"
		 "subprocess.define('die', die)\n"
		 "p = subprocess.Popen(['server', 'p'], stdout=subprocess.PIPE)\n"
		 "sleep(5ms)\n"
		 "p.send_signal(0)\n"
		 "print('poll', p.poll(), now)\n"
		 "p.terminate()\n"
		 "print('terminated', p.returncode, p.wait(), now)\n"
		 "p.terminate()\n"
		 "p.kill()\n"
		 "out, err = p.communicate()\n"
		 "print(repr(out), err, p.returncode)\n"
		 "q = subprocess.Popen(['server', 'q'])\n"
		 "sleep(1ms)\n"
		 "q.kill()\n"
		 "print('killed', q.wait(), now)\n"
		 "s = subprocess.Popen(['server', 's'])\n"
		 "sleep(1ms)\n"
		 "s.send_signal(2)\n"
		 "print('int', s.wait(), now)\n"
		 "out, err = subprocess.Popen(['bad'], stdout=subprocess.PIPE, "
		 "stderr=subprocess.PIPE).communicate()\n"
		 "print(repr(out), repr(err), now)\n"
		 "r = subprocess.run(['bad'], capture_output=True)\n"
		 "print(r.returncode, repr(r.stdout), repr(r.stderr), now)\n"
		 "r = subprocess.run(['bad'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\n"
		 "print(r.returncode, repr(r.stdout), r.stderr)\n"
		 "r = subprocess.run(['bad'])\n"
		 "print(r.returncode, r.stdout, r.stderr, now)\n"
		 "r = subprocess.run(['die'], stderr=subprocess.PIPE)\n"
		 "print(r.returncode, repr(r.stderr))\n"
		 "r = subprocess.run(['bad'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
		 "print(r.returncode, r.stderr, now)\n"
		 "w = subprocess.Popen(['server', 'w'], stdin=subprocess.PIPE)\n"
		 "w.kill()\n"
		 "out, err = w.communicate('late')\n"
		 "print(out, err, w.returncode, now)\n",
		 NULL);
	char out[1024];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out,
			 "poll None 6ms|terminated -15 -15 6ms|'serving p\\n' None -15|serving q|"
			 "killed -9 8ms|serving s|int -2 10ms|"
			 "'partial\\n' 'bad: no such option\\nusage: bad [-x]\\n' 11ms|"
			 "2 'partial\\n' 'bad: no such option\\nusage: bad [-x]\\n' 12ms|"
			 "2 'partial\\nbad: no such option\\nusage: bad [-x]\\n' None|"
			 "partial|bad: no such option|usage: bad [-x]|2 None None 14ms|"
			 "1 'fatal: gone\\n'|2 None 16ms|None None -9 17ms");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	ck_assert_int_eq(r.m->makespan_ns, 17 * MS);
	run_free(&r);

	static const char bad[] =
		"machine cores=1\n"
		"import subprocess\n"
		"def cmd(args, stdin):\n"
		"    sleep(1)\n"
		"subprocess.define('cmd', cmd)\n"
		"%s\n";
	char text[512];
	snprintf(text, sizeof text, bad, "p = subprocess.Popen(['cmd'])\np.send_signal('x')");
	raises_at(text, "test.slice:7:1: error: TypeError: send_signal() takes a signal number");
	snprintf(text, sizeof text, bad, "p = subprocess.Popen(['cmd'])\np.send_signal(99)");
	raises_at(text, "test.slice:7:1: error: OSError: [Errno 22] Invalid argument");
	snprintf(text, sizeof text, bad,
		 "r = subprocess.run(['cmd'], capture_output=True, stderr=subprocess.PIPE)");
	raises_at(text, "test.slice:6:5: error: ValueError: stdout and stderr arguments may not be "
			"used with capture_output.");
}
END_TEST

/* Open files: the parent writes 'ab' (offset 2) and forks; the child writes 'cd' through the
 * shared description (offset 4), then opens the file itself (its own offset, 0) and
 * overwrites 'ab' with 'XY'; the parent, 1 ms later, writes 'ef' at the shared offset 4:
 * 'XYcdef'. Mode 'a' writes at the end whatever the offset. */
START_TEST(files_shared_offset_across_fork)
{
	struct run r;
	run_text(&r,
		 "machine cores=2 cs=0ns fork=0ns\n"
		 "import os\n"
		 "f = open('log', 'w')\n"
		 "f.write('ab')\n"
		 "pid = os.fork()\n"
		 "if pid == 0:\n"
		 "    f.write('cd')\n"
		 "    g = open('log', 'r+')\n"
		 "    g.write('XY')\n"
		 "else:\n"
		 "    sleep(1ms)\n"
		 "    f.write('ef')\n"
		 "    print(f.tell(), repr(open('log').read()))\n"
		 "    a = open('log', 'a')\n"
		 "    a.seek(0)\n"
		 "    a.write('!\\n')\n"
		 "    print(a.tell(), a.seek(1), repr(open('log').read()))\n"
		 "    with open('log') as h:\n"
		 "        print(h.read(2), h.tell(), repr(h.readline()), h.readlines())\n"
		 "    print(h.closed, f.closed)\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "6 'XYcdef'|8 1 'XYcdef!\\n'|XY 2 'cdef!\\n' []|True False");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	run_free(&r);
	raises_at("machine cores=1\nx = 1\nf = open('missing.log')\n",
		  "test.slice:3:5: error: FileNotFoundError: [Errno 2] No such file or directory: "
		  "'missing.log'");
	raises_at("machine cores=1\nf = open('a.log', 'w')\nf.read()\n",
		  "test.slice:3:1: error: io.UnsupportedOperation: not readable");
	raises_at("machine cores=1\nf = open('a.log', 'w')\nf.close()\nf.write('x')\n",
		  "test.slice:4:1: error: ValueError: I/O operation on closed file.");
}
END_TEST

Suite *ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("Queues, pipes, shared memory and pools");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, join_deadlock_by_size);
	tcase_add_test(tc, pipe_fill_counter);
	tcase_add_test(tc, pool_fifth_task_waits);
	tcase_add_test(tc, pool_handoffs_cost);
	tcase_add_test(tc, item_size_given);
	tcase_add_test(tc, pool_map_and_errors);
	tcase_add_test(tc, get_timeouts);
	tcase_add_test(tc, shared_value_races_across_processes);
	tcase_add_test(tc, thread_queue_and_pipe);
	tcase_add_test(tc, pool_imap_chunks_initializer);
	tcase_add_test(tc, futures_executors);
	tcase_add_test(tc, pool_api_timeout);
	tcase_add_test(tc, pool_chunk_error);
	tcase_add_test(tc, simple_queue_put_blocks);
	tcase_add_test(tc, joinable_queue_task_done);
	tcase_add_test(tc, closed_objects_raise);
	tcase_add_test(tc, join_deadlock_other_reader);
	tcase_add_test(tc, bounded_queue_put_waits);
	tcase_add_test(tc, bounded_queue_full_raises);
	tcase_add_test(tc, bounded_queue_fifo_and_feeder);
	tcase_add_test(tc, bounded_queue_deadlock);
	tcase_add_test(tc, bounded_queue_bad_input);
	tcase_add_test(tc, subprocess_call_run_popen);
	tcase_add_test(tc, subprocess_signals_and_stderr);
	tcase_add_test(tc, files_shared_offset_across_fork);
	suite_add_tcase(s, tc);
	return s;
}

/* test-aio.c — coroutines: async def, await, and asyncio's event loop (sim/aio.c), with every
 * time worked out by hand. cs=0ns throughout where times are compared exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

/* When the first printed line containing `text` was printed; -1 if none. */
static int64_t printed_at(const struct trace *tr, const char *text)
{
	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_PRINT && strstr(trace_str(tr, tr->recs[i].text), text))
			return tr->recs[i].t;
	return -1;
}

static int marks_with(const struct trace *tr, const char *text)
{
	int n = 0;
	for (size_t i = 0; i < tr->nrecs; i++)
		n += tr->recs[i].kind == TR_MARK && strstr(trace_str(tr, tr->recs[i].text), text);
	return n;
}

static const char fetch3[] =
	"machine cores=2 python=3.11 cs=0ns\n"
	"import asyncio\n"
	"async def fetch(i):\n"
	"    print(f'{i} req1')\n"
	"    await asyncio.sleep(1)\n"
	"    compute(10ms)\n"
	"    print(f'{i} req2')\n"
	"    await asyncio.sleep(1)\n"
	"    compute(10ms)\n"
	"    print(f'{i} done')\n"
	"    return i * 10\n"
	"async def main():\n"
	"    return await asyncio.gather(fetch(0), fetch(1), fetch(2))\n"
	"r = asyncio.run(main())\n"
	"print(r)\n";

START_TEST(interleaving_at_awaits)
{
	/* each coroutine runs until its await: all first requests, then (at 1 s, in timer
	 * order) each parse and second request, then (from 2.01 s) each end */
	struct run r;
	run_text(&r, fetch3, NULL);
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "0 req1|1 req1|2 req1|0 req2|1 req2|2 req2|0 done|1 done|2 done|"
			      "[0, 10, 20]");
	run_free(&r);
}
END_TEST

START_TEST(makespan_one_thread)
{
	/* 1 s of sleep, three 10 ms parses one after another (1.00-1.03), then the second
	 * sleeps end at 2.01, 2.02, 2.03 and each parse follows the previous: 2.04 s, not the
	 * 6.06 s of running them one after another */
	struct run r;
	run_text(&r, fetch3, NULL);
	ck_assert_int_eq(r.tr->makespan, 2040 * MS);
	ck_assert_int_eq(printed_at(r.tr, "0 req2"), 1010 * MS);
	ck_assert_int_eq(printed_at(r.tr, "2 req2"), 1030 * MS);
	ck_assert_int_eq(printed_at(r.tr, "1 done"), 2030 * MS);
	ck_assert_int_eq(r.tr->nthreads, 1);
	ck_assert_int_eq(r.m->max_parallel, 1);
	ck_assert_int_eq(tm(&r, "MainThread")->cpu_ns, 60 * MS);
	/* idle in between: blocked, not holding the GIL and not waiting for it */
	ck_assert_int_eq(tm(&r, "MainThread")->blocked_ns, 2040 * MS - 60 * MS);
	ck_assert_int_eq(r.tr->ngils, 1);
	ck_assert_int_eq(r.tr->gils[0].switches, 0);
	run_free(&r);
}
END_TEST

START_TEST(gather_results_in_order)
{
	/* they finish in the reverse order (3 s, 2 s, 1 s) but gather lists them as given */
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def job(name, d):\n"
		 "    await asyncio.sleep(d)\n"
		 "    print(name)\n"
		 "    return name\n"
		 "async def main():\n"
		 "    return await asyncio.gather(job('a', 3s), job('b', 2s), job('c', 1s))\n"
		 "print(asyncio.run(main()))\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "c|b|a|['a', 'b', 'c']");
	ck_assert_int_eq(r.tr->makespan, 3000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(await_coroutine_is_a_call)
{
	/* `await coro` runs it inside the awaiting Task: no new Task, no switch */
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def add(a, b=2):\n"
		 "    await asyncio.sleep(1s)\n"
		 "    return a + b\n"
		 "async def main():\n"
		 "    x = await add(1)\n"
		 "    y = await add(x, b=10)\n"
		 "    return x * 100 + y\n"
		 "print(asyncio.run(main()))\n",
		 NULL);
	char out[64];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "313");
	ck_assert_int_eq(r.tr->makespan, 2000 * MS);
	ck_assert_int_eq(marks_with(r.tr, "Task-2"), 0);
	ck_assert_int_eq(marks_with(r.tr, "Task-1 (main) awaits asyncio.sleep(1s) at line 4"), 2);
	run_free(&r);
}
END_TEST

START_TEST(create_task_and_await)
{
	/* create_task schedules: it runs when main first awaits (at 0), sleeps 1 s; main
	 * sleeps 2 s, then the task is done: awaiting it gives its result at once */
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def work():\n"
		 "    print('work starts')\n"
		 "    await asyncio.sleep(1)\n"
		 "    return 42\n"
		 "async def main():\n"
		 "    t = asyncio.create_task(work())\n"
		 "    print('created', t.done())\n"
		 "    await asyncio.sleep(2)\n"
		 "    print('slept', t.done())\n"
		 "    v = await t\n"
		 "    return v + await t\n"
		 "print(asyncio.run(main()))\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "created False|work starts|slept True|84");
	ck_assert_int_eq(printed_at(r.tr, "slept"), 2000 * MS);
	ck_assert_int_eq(r.tr->makespan, 2000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(blocking_call_pitfall)
{
	/* compute(1s) without an await holds the loop: the ticker's 100 ms sleep ends at
	 * 0.1 s but it runs only when the blocker returns, at 1 s */
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def blocker():\n"
		 "    compute(1s)\n"
		 "    print('blocker done')\n"
		 "async def ticker():\n"
		 "    await asyncio.sleep(100ms)\n"
		 "    print('tick')\n"
		 "async def main():\n"
		 "    await asyncio.gather(ticker(), blocker())\n"
		 "asyncio.run(main())\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "blocker done|tick");
	ck_assert_int_eq(printed_at(r.tr, "tick"), 1000 * MS);
	run_free(&r);
	/* the cure: give the loop a chance every 100 ms. sleep(0) puts the blocker behind the
	 * ready Tasks, and the ticker's timer, due at 0.1 s, is moved to the ready queue after
	 * it (CPython's order): the ticker runs after the second chunk, at 0.2 s */
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def blocker():\n"
		 "    for i in range(10):\n"
		 "        compute(100ms)\n"
		 "        await asyncio.sleep(0)\n"
		 "    print('blocker done')\n"
		 "async def ticker():\n"
		 "    await asyncio.sleep(100ms)\n"
		 "    print('tick')\n"
		 "async def main():\n"
		 "    await asyncio.gather(ticker(), blocker())\n"
		 "asyncio.run(main())\n",
		 NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "tick|blocker done");
	ck_assert_int_eq(printed_at(r.tr, "tick"), 200 * MS);
	ck_assert_int_eq(r.tr->makespan, 1000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(time_sleep_blocks_the_loop)
{
	/* time.sleep in a coroutine blocks the thread, so the loop: both 1 s waits add up */
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio, time\n"
		 "async def bad():\n"
		 "    time.sleep(1)\n"
		 "async def main():\n"
		 "    await asyncio.gather(bad(), bad())\n"
		 "asyncio.run(main())\n",
		 NULL);
	ck_assert_int_eq(r.tr->makespan, 2000 * MS);
	run_free(&r);
}
END_TEST

START_TEST(idle_loop_state_and_marks)
{
	struct run r;
	run_text(&r, fetch3, NULL);
	bool idle = false;
	for (size_t i = 0; i < r.tr->nrecs; i++) {
		const struct trace_rec *x = &r.tr->recs[i];
		if (x->kind == TR_STATE && x->state == TS_SLEEP && x->t == 0)
			idle = strstr(trace_str(r.tr, x->reason),
				      "event loop idle until 1s (next timer: asyncio.sleep(1s), line 5)") != NULL;
	}
	ck_assert_msg(idle, "no idle state at 0 with its reason");
	ck_assert_int_eq(marks_with(r.tr, "asyncio.run(main()): the event loop starts"), 1);
	ck_assert_int_eq(marks_with(r.tr, "(fetch) starts"), 3);
	ck_assert_int_eq(marks_with(r.tr, "Task-3 (fetch) awaits asyncio.sleep(1s) at line 8"), 1);
	ck_assert_int_eq(marks_with(r.tr, "(fetch) resumes"), 6);
	ck_assert_int_eq(marks_with(r.tr, "(fetch) finished"), 3);
	ck_assert_int_eq(marks_with(r.tr, "the event loop is closed"), 1);
	run_free(&r);
}
END_TEST

START_TEST(wait_for_timeout)
{
	struct run r;
	run_text(&r,
		 "machine cs=0ns\n"
		 "import asyncio\n"
		 "async def slow(d):\n"
		 "    await asyncio.sleep(d)\n"
		 "    return d\n"
		 "async def main():\n"
		 "    print(await asyncio.wait_for(slow(1s), timeout=2))\n"
		 "    print(await asyncio.wait_for(slow(5s), 1))\n"
		 "asyncio.run(main())\n",
		 NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "1s");
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_msg(strstr(r.tr->end_msg, "test.slice:8:11: error: TimeoutError"), "%s",
		      r.tr->end_msg);
	ck_assert_int_eq(r.tr->makespan, 2000 * MS);
	run_free(&r);
}
END_TEST

/* ---- bad input ---- */

static void compile_error(const char *text, const char *want)
{
	struct diag d;
	struct source *src = source_from_memory("test.slice", text, strlen(text));
	struct ast_program *ast = ast_parse(src, &d);
	struct vm_program *prog = ast ? vm_compile(ast, &d) : NULL;
	ck_assert_ptr_null(prog);
	char buf[1024];
	diag_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, want);
	ast_program_destroy(ast);
	source_destroy(src);
}

START_TEST(await_outside_async_def)
{
	compile_error("import asyncio\n"
		      "def f():\n"
		      "    x = await asyncio.sleep(1)\n",
		      "test.slice:3:9: error: 'await' outside async function\n"
		      "        x = await asyncio.sleep(1)\n"
		      "            ^\n");
	/* at the top level CPython says "outside function" */
	compile_error("import asyncio\n"
		      "await asyncio.sleep(1)\n",
		      "test.slice:2:1: error: 'await' outside function\n"
		      "    await asyncio.sleep(1)\n"
		      "    ^\n");
	/* a def nested in an async def is not async */
	compile_error("async def f():\n"
		      "    def g():\n"
		      "        await f()\n",
		      "test.slice:3:9: error: 'await' outside async function\n"
		      "            await f()\n"
		      "            ^\n");
	compile_error("async for x in y:\n    pass\n",
		      "test.slice:1:1: error: 'async for' is not part of the scenario language yet\n"
		      "    async for x in y:\n"
		      "    ^\n");
}
END_TEST

static void run_error(const char *text, const char *want)
{
	struct run r;
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_msg(strstr(r.tr->end_msg, want), "%s", r.tr->end_msg);
	run_free(&r);
}

START_TEST(runtime_errors)
{
	run_error("import asyncio\n"
		  "async def f():\n"
		  "    x = 1\n"
		  "    await x\n"
		  "asyncio.run(f())\n",
		  "test.slice:4:5: error: TypeError: object int can't be used in 'await' expression");
	run_error("import asyncio, threading\n"
		  "async def f():\n"
		  "    await threading.Lock()\n"
		  "asyncio.run(f())\n",
		  "test.slice:3:5: error: TypeError: object lock can't be used in 'await' expression");
	run_error("import asyncio\n"
		  "async def g():\n"
		  "    return 1\n"
		  "async def f():\n"
		  "    return asyncio.run(g())\n"
		  "asyncio.run(f())\n",
		  "test.slice:5:12: error: RuntimeError: asyncio.run() cannot be called from a running "
		  "event loop");
	run_error("import asyncio\n"
		  "def f():\n"
		  "    return 1\n"
		  "asyncio.run(f())\n",
		  "test.slice:4:1: error: ValueError: a coroutine was expected, got 1");
	run_error("import asyncio\n"
		  "async def g():\n"
		  "    return 1\n"
		  "async def f():\n"
		  "    c = g()\n"
		  "    await c\n"
		  "    await c\n"
		  "asyncio.run(f())\n",
		  "test.slice:7:5: error: RuntimeError: cannot reuse already awaited coroutine");
	run_error("import asyncio\n"
		  "asyncio.create_task(asyncio.sleep(1))\n",
		  "test.slice:2:1: error: RuntimeError: no running event loop");
	/* an exception in a gathered coroutine ends the loop, and the thread, at its line */
	run_error("import asyncio\n"
		  "async def bad():\n"
		  "    await asyncio.sleep(1)\n"
		  "    return 1 / 0\n"
		  "async def main():\n"
		  "    await asyncio.gather(bad(), asyncio.sleep(5))\n"
		  "asyncio.run(main())\n",
		  "test.slice:4:12: error: ZeroDivisionError: division by zero");
}
END_TEST

START_TEST(cycle_is_a_deadlock)
{
	/* x awaits y, which awaits x: nothing ready, no timer */
	struct run r;
	run_text(&r,
		 "import asyncio\n"
		 "async def x():\n"
		 "    await asyncio.sleep(0)\n"
		 "    await t2\n"
		 "async def y():\n"
		 "    await t1\n"
		 "async def main():\n"
		 "    global t1, t2\n"
		 "    t1 = asyncio.create_task(x())\n"
		 "    t2 = asyncio.create_task(y())\n"
		 "    await t1\n"
		 "asyncio.run(main())\n",
		 NULL);
	ck_assert_int_eq(r.tr->end, END_DEADLOCK);
	ck_assert_msg(strstr(r.tr->end_msg, "event loop has nothing to run and no timer: Task-2 (x) "
					    "awaits at line 4"),
		      "%s", r.tr->end_msg);
	run_free(&r);
}
END_TEST

START_TEST(deterministic)
{
	/* random sleeps from the seed: one seed, one trace, record for record */
	static const char text[] =
		"machine cores=2 jitter=0.1 instr=50ns seed=7\n"
		"import asyncio, random\n"
		"async def w(i):\n"
		"    for k in range(3):\n"
		"        await asyncio.sleep(uniform(1ms, 20ms))\n"
		"        compute(uniform(100us, 2ms))\n"
		"        print(i, k)\n"
		"    return i\n"
		"async def main():\n"
		"    return await asyncio.gather(w(0), w(1), w(2), w(3))\n"
		"print(asyncio.run(main()))\n";
	struct run a, b;
	run_text(&a, text, NULL);
	run_text(&b, text, NULL);
	ck_assert_int_eq(a.tr->end, END_COMPLETED);
	ck_assert_int_eq(a.tr->nrecs, b.tr->nrecs);
	for (size_t i = 0; i < a.tr->nrecs; i++) {
		ck_assert_int_eq(a.tr->recs[i].t, b.tr->recs[i].t);
		ck_assert_int_eq(a.tr->recs[i].kind, b.tr->recs[i].kind);
		ck_assert_int_eq(a.tr->recs[i].text, b.tr->recs[i].text);
	}
	char oa[1024], ob[1024];
	output_of(a.tr, oa, sizeof oa);
	output_of(b.tr, ob, sizeof ob);
	ck_assert_str_eq(oa, ob);
	ck_assert_int_eq(a.tr->makespan, b.tr->makespan);
	run_free(&a);
	run_free(&b);
}
END_TEST

START_TEST(repr_of_tasks)
{
	struct run r;
	run_text(&r,
		 "import asyncio\n"
		 "async def w():\n"
		 "    return 1\n"
		 "async def main():\n"
		 "    c = w()\n"
		 "    print(c)\n"
		 "    t = asyncio.create_task(c)\n"
		 "    print(t)\n"
		 "    await t\n"
		 "    print(t, t.result(), t.get_name())\n"
		 "asyncio.run(main())\n",
		 NULL);
	char out[512];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "<coroutine object w>|"
			      "<Task pending name='Task-2' coro=<coroutine object w>>|"
			      "<Task finished name='Task-2' coro=<coroutine object w>> 1 Task-2");
	run_free(&r);
}
END_TEST

Suite *aio_suite(void)
{
	Suite *s = suite_create("aio");
	TCase *tc = tcase_create("Event loop: switching at awaits");
	tcase_add_test(tc, interleaving_at_awaits);
	tcase_add_test(tc, makespan_one_thread);
	tcase_add_test(tc, gather_results_in_order);
	tcase_add_test(tc, await_coroutine_is_a_call);
	tcase_add_test(tc, create_task_and_await);
	tcase_add_test(tc, idle_loop_state_and_marks);
	tcase_add_test(tc, wait_for_timeout);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, repr_of_tasks);
	suite_add_tcase(s, tc);
	tc = tcase_create("Blocking calls hold the loop");
	tcase_add_test(tc, blocking_call_pitfall);
	tcase_add_test(tc, time_sleep_blocks_the_loop);
	suite_add_tcase(s, tc);
	tc = tcase_create("Bad input");
	tcase_add_test(tc, await_outside_async_def);
	tcase_add_test(tc, runtime_errors);
	tcase_add_test(tc, cycle_is_a_deadlock);
	suite_add_tcase(s, tc);
	return s;
}

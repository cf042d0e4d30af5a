/* test-net.c — hosts, links and BaseManager (sim/net.c, docs/network.md). The expected
 * times are worked out by hand from the model: a message takes latency + bytes / bandwidth,
 * with 60 bytes of framing; a str of n characters is n + 15 bytes; the loopback is 20 us
 * each way; fork costs the parent 400 us; a context switch onto an idle core 3 us. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "harness.h"
#include "trace_load.h"
#include "suites.h"

/* The machine-line error for text, or "" when the lines are accepted. */
static const char *machine_error(const char *text, char *buf, size_t size)
{
	struct diag d;
	struct source *src = source_from_memory("test.slice", text, strlen(text));
	struct ast_program *ast = ast_parse(src, &d);
	ck_assert_msg(ast, "parse: %s", d.msg);
	struct machine m;
	machine_defaults(&m);
	buf[0] = 0;
	if (machine_apply_ast(&m, ast, &d) < 0)
		snprintf(buf, size, "%d:%d: %.400s", d.line, d.col, d.msg);
	ast_program_destroy(ast);
	source_destroy(src);
	return buf;
}

START_TEST(host_and_link_lines)
{
	char b[512];
	ck_assert_str_eq(machine_error("machine host=w cores=2\n"
				       "machine link=localhost to=w latency=5ms bandwidth=\"100Mbit\"\n",
				       b, sizeof b),
			 "");
	ck_assert_str_eq(machine_error("machine host=w cores=0\n", b, sizeof b),
			 "1:22: cores: expected a count from 1 to 1024, found '0'");
	ck_assert_str_eq(machine_error("machine host=w\nmachine host=w\n", b, sizeof b),
			 "2:14: host 'w' is declared twice");
	ck_assert_str_eq(machine_error("machine host=w cs=1us\n", b, sizeof b),
			 "1:16: unknown key 'cs' in a host line (expected cores=, policy= and "
			 "quantum=; the other costs are the machine's)");
	ck_assert_str_eq(machine_error("machine host=w policy=lottery\n", b, sizeof b),
			 "1:23: policy: unknown policy 'lottery' (expected fifo, rr, prio, mlfq or "
			 "fair)");
	ck_assert_str_eq(machine_error("machine link=localhost to=mars\n", b, sizeof b),
			 "1:27: unknown host 'mars' (declare it first with `machine host=mars "
			 "cores=N`)");
	ck_assert_str_eq(machine_error("machine host=w\nmachine link=localhost\n", b, sizeof b),
			 "2:9: a link needs to=HOST: the host at its other end");
	ck_assert_str_eq(machine_error("machine host=w\nmachine link=w to=localhost "
				       "bandwidth=\"fast\"\n",
				       b, sizeof b),
			 "2:39: bandwidth: expected a rate such as \"100Mbit\" or \"12.5MB/s\" (bit, "
			 "kbit, Mbit, Gbit, B, kB, MB, GB per second), found 'fast'");
	ck_assert_str_eq(machine_error("machine host=w\nmachine link=w to=localhost\n"
				       "machine link=localhost to=w\n",
				       b, sizeof b),
			 "3:14: the link localhost-w is declared twice");
}
END_TEST

/* Two processes sent to a 2-core host run side by side there while localhost's one core is
 * free; at home they would take turns. The parent starts at 3 us (its switch onto core 0)
 * and pays each fork (400 us): the children are ready at 403 us and 803 us, each switched
 * onto an idle core (3 us), and each computes 100 ms: they end at 100.406 and 100.806 ms. */
START_TEST(processes_run_on_their_host)
{
	static const char fmt[] =
		"machine cores=1\n"
		"machine host=big cores=2\n"
		"import os\n"
		"from multiprocessing import Process\n"
		"def work():\n"
		"    print(os.cpu_count())\n"
		"    compute(100ms)\n"
		"ps = [Process(target=work%s), Process(target=work%s)]\n"
		"for p in ps:\n"
		"    p.start()\n"
		"for p in ps:\n"
		"    p.join()\n"
		"print(os.cpu_count())\n";
	char text[1024], out[256];
	struct run r;
	snprintf(text, sizeof text, fmt, ", host='big'", ", host='big'");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "2|2|1");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	ck_assert_int_eq(r.tr->ncores, 3);
	ck_assert_int_eq(r.m->threads[thread_named(r.tr, "MainThread")].end_ns, r.tr->makespan);
	/* the second child ends last; the parent's join returns then */
	ck_assert_int_eq(r.tr->makespan, 100806 * US);
	/* no child record ever names core 0 (localhost's) */
	for (size_t i = 0; i < r.tr->nrecs; i++) {
		const struct trace_rec *rec = &r.tr->recs[i];
		if (rec->kind == TR_STATE && rec->state == TS_RUNNING && rec->tid > 0)
			ck_assert_int_ne(rec->core, 0);
	}
	run_free(&r);
	/* at home the two share localhost's one core: 200 ms of work one after the other */
	snprintf(text, sizeof text, fmt, "", "");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "1|1|1");
	ck_assert_int_ge(r.tr->makespan, 200 * MS);
	run_free(&r);
}
END_TEST

/* Each host schedules with its own policy: on a one-core FIFO host, two 100 ms processes run
 * one after the other (the first ends at 100.406 ms as above; the second, ready at 803 us,
 * waits for the core and ends 3 us + 100 ms after it: 200.409 ms);
 * on a one-core RR host with a 10 ms quantum they take turns and both end after 190 ms. */
START_TEST(each_host_has_its_policy)
{
	static const char fmt[] =
		"machine cores=1 policy=rr quantum=10ms\n"
		"machine host=h cores=1%s\n"
		"import time\n"
		"from multiprocessing import Process\n"
		"def work():\n"
		"    compute(100ms)\n"
		"    print('%%.3f' %% (time.time() * 1000))\n"
		"ps = [Process(target=work, host='h'), Process(target=work, host='h')]\n"
		"for p in ps:\n"
		"    p.start()\n"
		"for p in ps:\n"
		"    p.join()\n";
	char text[1024], out[256];
	struct run r;
	snprintf(text, sizeof text, fmt, " policy=fifo");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "100.406|200.409");
	run_free(&r);
	snprintf(text, sizeof text, fmt, "");
	run_text(&r, text, NULL);
	output_of(r.tr, out, sizeof out);
	double a = 0, b = 0;
	ck_assert_int_eq(sscanf(out, "%lf|%lf", &a, &b), 2);
	ck_assert_msg(a > 190 && b > 190, "rr: %s", out);
	run_free(&r);
}
END_TEST

/* With several hosts each core has a label, in the summary's JSON and the Chrome trace; a
 * trace loaded back keeps them, idle cores too. */
START_TEST(core_labels_round_trip)
{
	struct run r;
	run_text(&r, "machine cores=2\nmachine host=w cores=2\ncompute(1ms)\n", NULL);
	char b[64];
	ck_assert_str_eq(trace_core_label(r.tr, 1, b, sizeof b), "localhost core 1");
	ck_assert_str_eq(trace_core_label(r.tr, 3, b, sizeof b), "w core 1");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(chrome_write(f, r.tr), 0);
	fclose(f);
	struct diag d;
	struct trace *back = trace_load_chrome_text("t.json", text, len, &d);
	ck_assert_msg(back, "%s", d.msg);
	ck_assert_int_eq(back->ncores, 4);
	for (int c = 0; c < 4; c++) {
		char a[64];
		ck_assert_str_eq(trace_core_label(back, c, a, sizeof a),
				 trace_core_label(r.tr, c, b, sizeof b));
	}
	trace_destroy(back);
	free(text);
	run_free(&r);
	/* one host: plain names, no labels */
	run_text(&r, "machine cores=2\ncompute(1ms)\n", NULL);
	ck_assert_ptr_null(r.tr->core_labels);
	ck_assert_str_eq(trace_core_label(r.tr, 1, b, sizeof b), "core 1");
	run_free(&r);
}
END_TEST

/* The master-worker program with a link of `lat` each way: a result every 1 s + 4 x lat
 * (the put's reply, the next get's round trip, the next put's request) plus the bytes'
 * time: at 100 Mbit/s (12.5 bytes per us) a get request is 60 + 10 (its timeout=1) = 70
 * bytes: 5.6 us; its reply 60 + 10 = 70 bytes: 5.6 us; the put's request carries the result
 * string ('%d * %d = %d' of a number < 10000: about 20-30 characters, 95-105 bytes, ~8 us)
 * and its reply 70 bytes: 5.6 us. About 25 us in all. */
static const char master_worker[] =
	"machine cores=2 seed=3\n"
	"machine host=worker cores=1\n"
	"machine link=localhost to=worker latency=%s bandwidth=\"100Mbit\"\n"
	"import time, queue\n"
	"from multiprocessing import Process\n"
	"from multiprocessing.managers import BaseManager\n"
	"tq = queue.Queue()\n"
	"rq = queue.Queue()\n"
	"def worker():\n"
	"    BaseManager.register('tasks')\n"
	"    BaseManager.register('results')\n"
	"    m = BaseManager(address=('localhost', 5000), authkey='%s')\n"
	"    m.connect()\n"
	"    t = m.tasks()\n"
	"    r = m.results()\n"
	"    for i in range(3):\n"
	"        n = t.get(timeout=1)\n"
	"        time.sleep(1)\n"
	"        r.put('%%d * %%d = %%d' %% (n, n, n * n))\n"
	"def get_tq():\n"
	"    return tq\n"
	"def get_rq():\n"
	"    return rq\n"
	"BaseManager.register('tasks', callable=get_tq)\n"
	"BaseManager.register('results', callable=get_rq)\n"
	"m = BaseManager(address=('', 5000), authkey='abc')\n"
	"m.start()\n"
	"t = m.tasks()\n"
	"r = m.results()\n"
	"for n in [3411, 1605, 1398]:\n"
	"    t.put(n)\n"
	"w = Process(target=worker, host='worker')\n"
	"w.start()\n"
	"at = []\n"
	"for i in range(3):\n"
	"    print(r.get(timeout=10))\n"
	"    at.append(time.time())\n"
	"w.join()\n"
	"m.shutdown()\n"
	"gap = at[2] - at[1]\n";

static double gap_of(const char *latency)
{
	char text[2048];
	snprintf(text, sizeof text, master_worker, latency, "abc");
	struct run r;
	run_text(&r, text, NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "3411 * 3411 = 11634921|1605 * 1605 = 2576025|1398 * 1398 = 1954404");
	ck_assert_int_eq(r.tr->end, END_COMPLETED);
	double gap = 0;
	ck_assert_int_eq(sscanf(var_of(r.tr, "gap"), "%lf", &gap), 1);
	run_free(&r);
	return gap;
}

START_TEST(results_come_after_the_work_and_the_network)
{
	double g5 = gap_of("5ms"), g50 = gap_of("50ms");
	ck_assert_msg(g5 > 1.020 && g5 < 1.020 + 40e-6, "gap with 5 ms: %.6f", g5);
	ck_assert_msg(g50 > 1.200 && g50 < 1.200 + 40e-6, "gap with 50 ms: %.6f", g50);
}
END_TEST

/* A 1,000,000-character str put through a proxy over a 1 MB/s link with 1 ms latency: its
 * request is 1,000,015 + 60 bytes: 1.000075 s + 1 ms; the reply (None: 70 bytes) 70 us +
 * 1 ms. put() returns 1.002145 s after it was called. */
START_TEST(bandwidth_delays_big_messages)
{
	static const char text[] =
		"machine cores=1\n"
		"machine host=far cores=1\n"
		"machine link=localhost to=far latency=1ms bandwidth=\"1MB/s\"\n"
		"import time, queue\n"
		"from multiprocessing import Process\n"
		"from multiprocessing.managers import BaseManager\n"
		"q = queue.Queue()\n"
		"def get_q():\n"
		"    return q\n"
		"def far():\n"
		"    m = BaseManager(address=('localhost', 6000))\n"
		"    m.connect()\n"
		"    p = m.q()\n"
		"    t0 = time.time()\n"
		"    p.put('x' * 1000000)\n"
		"    print('%.6f' % (time.time() - t0))\n"
		"BaseManager.register('q', callable=get_q)\n"
		"m = BaseManager(address=('', 6000))\n"
		"m.start()\n"
		"w = Process(target=far, host='far')\n"
		"w.start()\n"
		"w.join()\n"
		"print(len(q.get()))\n";
	struct run r;
	run_text(&r, text, NULL);
	char out[256];
	output_of(r.tr, out, sizeof out);
	ck_assert_str_eq(out, "1.002145|1000000");
	run_free(&r);
}
END_TEST

START_TEST(bad_connections_raise_at_their_line)
{
	char text[2048];
	/* the worker's key differs from the server's */
	snprintf(text, sizeof text, master_worker, "5ms", "abd");
	raises_at(text, "test.slice:13:5: error: multiprocessing.AuthenticationError: digest "
			 "received was wrong");
	/* nothing listens */
	raises_at("machine cores=1\n"
		   "from multiprocessing.managers import BaseManager\n"
		   "m = BaseManager(address=('', 5000))\n"
		   "m.connect()\n",
		   "test.slice:4:1: error: ConnectionRefusedError: [Errno 111] Connection refused");
	/* no link between the hosts */
	raises_at("machine cores=1\n"
		   "machine host=island cores=1\n"
		   "from multiprocessing import Process\n"
		   "from multiprocessing.managers import BaseManager\n"
		   "def f():\n"
		   "    BaseManager(address=('localhost', 5000)).connect()\n"
		   "m = BaseManager(address=('', 5000))\n"
		   "m.start()\n"
		   "p = Process(target=f, host='island')\n"
		   "p.start()\n"
		   "p.join()\n",
		   "test.slice:6:5: error: OSError: [Errno 113] No route to host: no link from "
		   "island to localhost");
	/* a typeid nobody registered, and a second start() */
	raises_at("machine cores=1\n"
		   "from multiprocessing.managers import BaseManager\n"
		   "m = BaseManager(address=('', 5000))\n"
		   "m.start()\n"
		   "m.get_nothing()\n",
		   "test.slice:5:1: error: AttributeError: 'BaseManager' object has no attribute "
		   "'get_nothing'");
	raises_at("machine cores=1\n"
		   "from multiprocessing.managers import BaseManager\n"
		   "m = BaseManager(address=('', 5000))\n"
		   "m.start()\n"
		   "m.start()\n",
		   "test.slice:5:1: error: multiprocessing.ProcessError: Already started server");
	raises_at("machine cores=1\n"
		   "from multiprocessing import Process\n"
		   "p = Process(target=print, host='nowhere')\n",
		   "test.slice:3:5: error: ValueError: Process() host='nowhere': no such host");
}
END_TEST

Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("Hosts, links and managers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, host_and_link_lines);
	tcase_add_test(tc, processes_run_on_their_host);
	tcase_add_test(tc, each_host_has_its_policy);
	tcase_add_test(tc, core_labels_round_trip);
	tcase_add_test(tc, results_come_after_the_work_and_the_network);
	tcase_add_test(tc, bandwidth_delays_big_messages);
	tcase_add_test(tc, bad_connections_raise_at_their_line);
	suite_add_tcase(s, tc);
	return s;
}

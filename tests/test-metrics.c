/* test-metrics.c — metrics read off hand-made traces, the text and JSON summaries. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "suites.h"

static void emit(struct trace *tr, int64_t t, int kind, int tid, int core, int state)
{
	struct trace_rec r = {.t = t, .tid = tid, .core = (int16_t)core, .kind = (uint8_t)kind,
			      .state = (uint8_t)state, .obj = -1};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
}

static void thread_to(struct trace *tr, int64_t t, int tid, int state, int core)
{
	emit(tr, t, TR_STATE, tid, core, state);
}

static void core_to(struct trace *tr, int64_t t, int core, int state, int tid)
{
	emit(tr, t, TR_CORE, tid, core, state);
}

/* Two threads on one core, round robin with a 10 us quantum and a 3 us context switch:
 *
 *   time (us)  0    3        13   16       26   29   34    40   43     50
 *   core 0     sw-A run A    sw-B run B    sw-A run A idle sw-B run B
 *   A          ready running ready.............running done
 *   B          ready...............running sleep..........ready running done
 *
 * A: cpu 10+5 = 15 us, ready 3+16 = 19 us, response 3 us, turnaround 34 us, switches 2
 *    (preempted at 13 = involuntary, done at 34 = voluntary).
 * B: cpu 10+7 = 17 us, ready 16+3 = 19 us, sleep 14 us, response 16 us, turnaround 50 us,
 *    switches 2 (sleep and done, both voluntary).
 * core 0: switching 4 x 3 = 12 us, running 10+10+5+7 = 32 us, busy 44 us of 50: 0.88.
 * cpu 32 us of 50 = 64 %. */
static struct trace *rr_trace(void)
{
	struct trace *tr = trace_create(1);
	ck_assert_ptr_nonnull(tr);
	trace_add_process(tr, 100, 1, "MainProcess");
	trace_add_thread(tr, 0, 100, "MainThread");
	trace_add_thread(tr, 0, 101, "Thread-1");
	snprintf(tr->source_name, sizeof tr->source_name, "rr.slice");
	thread_to(tr, 0, 0, TS_READY, -1);
	thread_to(tr, 0, 1, TS_READY, -1);
	core_to(tr, 0, 0, CS_SWITCH, 0);
	core_to(tr, 3000, 0, CS_RUN, 0);
	thread_to(tr, 3000, 0, TS_RUNNING, 0);
	struct trace_rec p = {.t = 5000, .tid = 0, .core = 0, .kind = TR_PRINT, .obj = -1,
			      .text = trace_intern(tr, "hello \"world\""), .line = 4};
	ck_assert_int_eq(trace_emit(tr, &p), 0);
	thread_to(tr, 13000, 0, TS_READY, -1);
	core_to(tr, 13000, 0, CS_SWITCH, 1);
	core_to(tr, 16000, 0, CS_RUN, 1);
	thread_to(tr, 16000, 1, TS_RUNNING, 0);
	thread_to(tr, 26000, 1, TS_SLEEP, -1);
	core_to(tr, 26000, 0, CS_SWITCH, 0);
	core_to(tr, 29000, 0, CS_RUN, 0);
	thread_to(tr, 29000, 0, TS_RUNNING, 0);
	thread_to(tr, 34000, 0, TS_DONE, -1);
	core_to(tr, 34000, 0, CS_IDLE, -1);
	thread_to(tr, 40000, 1, TS_READY, -1);
	core_to(tr, 40000, 0, CS_SWITCH, 1);
	core_to(tr, 43000, 0, CS_RUN, 1);
	thread_to(tr, 43000, 1, TS_RUNNING, 0);
	p.t = 45000;
	p.tid = 1;
	p.text = trace_intern(tr, "二 done");
	ck_assert_int_eq(trace_emit(tr, &p), 0);
	thread_to(tr, 50000, 1, TS_DONE, -1);
	core_to(tr, 50000, 0, CS_IDLE, -1);
	tr->makespan = 50000;
	trace_add_var(tr, "balance", "12");
	trace_add_var(tr, "names", "['a', \"b\"]");
	trace_add_expect(tr, 7, "completes", true, NULL);
	trace_add_expect(tr, 8, "balance == 0", false, "balance is 12");
	return tr;
}

/* Three threads on two cores, no core records, ending in a deadlock at 300 ns:
 *   X runs 0-100 and finishes (a record after its end is ignored);
 *   Y is ready 0-100, takes X's place at 100 (a hand-over, not 3 at once), waits for a lock
 *     from 200 to the end;
 *   Z appears at 50, runs to 120, then is ready to the end;
 *   W never has a record. */
static struct trace *open_ended_trace(void)
{
	struct trace *tr = trace_create(2);
	trace_add_process(tr, 7, 0, "P");
	trace_add_thread(tr, 0, 7, "X");
	trace_add_thread(tr, 0, 8, "Y");
	trace_add_thread(tr, 0, 9, "Z");
	trace_add_thread(tr, 0, 10, "W");
	thread_to(tr, 0, 0, TS_RUNNING, 0);
	thread_to(tr, 0, 1, TS_READY, -1);
	thread_to(tr, 50, 2, TS_RUNNING, 1);
	thread_to(tr, 100, 0, TS_DONE, -1);
	thread_to(tr, 100, 1, TS_RUNNING, 0);
	thread_to(tr, 120, 2, TS_READY, -1);
	thread_to(tr, 150, 0, TS_RUNNING, 1); /* after X's end: ignored */
	struct trace_rec r = {.t = 200, .tid = 1, .core = -1, .kind = TR_STATE, .state = TS_LOCK,
			      .obj = -1, .reason = trace_intern(tr, "lock a held by Z"), .line = 12};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	tr->makespan = 300;
	tr->end = END_DEADLOCK;
	snprintf(tr->end_msg, sizeof tr->end_msg, "Y waits for lock a\nheld by Z");
	return tr;
}

START_TEST(rr_thread_metrics)
{
	struct trace *tr = rr_trace();
	struct metrics *m = metrics_compute(tr);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->nthreads, 2);
	const struct thread_metrics *a = &m->threads[0], *b = &m->threads[1];
	ck_assert_int_eq(a->start_ns, 0);
	ck_assert_int_eq(a->first_run_ns, 3000);
	ck_assert_int_eq(a->end_ns, 34000);
	ck_assert_int_eq(a->cpu_ns, 15000);
	ck_assert_int_eq(a->state_ns[TS_RUNNING], 15000);
	ck_assert_int_eq(a->ready_ns, 19000);
	ck_assert_int_eq(a->state_ns[TS_READY], 19000);
	ck_assert_int_eq(a->blocked_ns, 0);
	ck_assert_int_eq(a->state_ns[TS_DONE], 0);
	ck_assert_int_eq(a->turnaround_ns, 34000);
	ck_assert_int_eq(a->response_ns, 3000);
	ck_assert_int_eq(a->switches, 2);
	ck_assert_int_eq(a->voluntary, 1);
	ck_assert_int_eq(a->involuntary, 1);

	ck_assert_int_eq(b->start_ns, 0);
	ck_assert_int_eq(b->first_run_ns, 16000);
	ck_assert_int_eq(b->end_ns, 50000);
	ck_assert_int_eq(b->cpu_ns, 17000);
	ck_assert_int_eq(b->ready_ns, 19000);
	ck_assert_int_eq(b->state_ns[TS_SLEEP], 14000);
	ck_assert_int_eq(b->blocked_ns, 14000);
	ck_assert_int_eq(b->turnaround_ns, 50000);
	ck_assert_int_eq(b->response_ns, 16000);
	ck_assert_int_eq(b->switches, 2);
	ck_assert_int_eq(b->voluntary, 2);
	ck_assert_int_eq(b->involuntary, 0);
	metrics_destroy(m);
	trace_destroy(tr);
}
END_TEST

START_TEST(rr_core_and_totals)
{
	struct trace *tr = rr_trace();
	struct metrics *m = metrics_compute(tr);
	ck_assert_int_eq(m->ncores, 1);
	ck_assert_int_eq(m->cores[0].busy_ns, 44000);
	ck_assert_int_eq(m->cores[0].switch_ns, 12000);
	ck_assert_double_eq_tol(m->cores[0].utilisation, 0.88, 1e-12);
	ck_assert_int_eq(m->makespan_ns, 50000);
	ck_assert_int_eq(m->total_cpu_ns, 32000);
	ck_assert_double_eq_tol(m->cpu_percent, 64.0, 1e-9);
	ck_assert_int_eq(m->context_switches, 4);
	ck_assert_int_eq(m->max_parallel, 1);
	metrics_destroy(m);
	trace_destroy(tr);
	metrics_destroy(NULL);
}
END_TEST

START_TEST(open_states_and_hand_over)
{
	struct trace *tr = open_ended_trace();
	struct metrics *m = metrics_compute(tr);
	const struct thread_metrics *x = &m->threads[0], *y = &m->threads[1], *z = &m->threads[2],
				    *w = &m->threads[3];
	ck_assert_int_eq(x->cpu_ns, 100); /* not 100 + the ignored run from 150 */
	ck_assert_int_eq(x->end_ns, 100);
	ck_assert_int_eq(x->turnaround_ns, 100);
	ck_assert_int_eq(x->response_ns, 0);
	ck_assert_int_eq(x->voluntary, 1);

	ck_assert_int_eq(y->ready_ns, 100);
	ck_assert_int_eq(y->cpu_ns, 100);
	ck_assert_int_eq(y->state_ns[TS_LOCK], 100); /* open to the makespan */
	ck_assert_int_eq(y->blocked_ns, 100);
	ck_assert_int_eq(y->end_ns, -1);
	ck_assert_int_eq(y->turnaround_ns, -1);
	ck_assert_int_eq(y->response_ns, 100);

	ck_assert_int_eq(z->start_ns, 50);
	ck_assert_int_eq(z->cpu_ns, 70);
	ck_assert_int_eq(z->ready_ns, 180);
	ck_assert_int_eq(z->response_ns, 0);
	ck_assert_int_eq(z->involuntary, 1);
	ck_assert_int_eq(z->voluntary, 0);

	ck_assert_int_eq(w->start_ns, -1);
	ck_assert_int_eq(w->first_run_ns, -1);
	ck_assert_int_eq(w->response_ns, -1);
	ck_assert_int_eq(w->cpu_ns, 0);

	ck_assert_int_eq(m->max_parallel, 2);
	ck_assert_int_eq(m->total_cpu_ns, 270);
	ck_assert_double_eq_tol(m->cpu_percent, 90.0, 1e-9);
	ck_assert_int_eq(m->context_switches, 3);
	ck_assert_int_eq(m->cores[0].busy_ns, 0);
	ck_assert_double_eq(m->cores[1].utilisation, 0.0);
	metrics_destroy(m);
	trace_destroy(tr);
}
END_TEST

START_TEST(empty_trace)
{
	struct trace *tr = trace_create(0);
	struct metrics *m = metrics_compute(tr);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->nthreads, 0);
	ck_assert_int_eq(m->max_parallel, 0);
	ck_assert_double_eq(m->cpu_percent, 0.0); /* no division by a zero makespan */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	metrics_print_json(f, tr, m);
	metrics_print_text(f, tr, m);
	fclose(f);
	cJSON *j = cJSON_Parse(buf); /* parses up to the end of the JSON object */
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "threads")), 0);
	cJSON_Delete(j);
	free(buf);
	metrics_destroy(m);
	trace_destroy(tr);
}
END_TEST

START_TEST(format_durations)
{
	char b[32];
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 0), "0 ns");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 999), "999 ns");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 1000), "1.000 us");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 1500), "1.500 us");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 999999), "999.999 us");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 1000000), "1.000 ms");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 12003456), "12.003 ms");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 12003500), "12.004 ms");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 999999600), "1.000 s");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 2500000000), "2.500 s");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, 3600000000000), "3600.000 s");
	ck_assert_str_eq(metrics_format_ns(b, sizeof b, -1), "-");
}
END_TEST

static char *text_of(const struct trace *tr, bool json)
{
	struct metrics *m = metrics_compute(tr);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (json)
		metrics_print_json(f, tr, m);
	else
		metrics_print_text(f, tr, m);
	fclose(f);
	metrics_destroy(m);
	return buf;
}

#define ck_assert_contains(hay, needle) \
	ck_assert_msg(strstr(hay, needle) != NULL, "missing line\n%s\nin\n%s", needle, hay)

START_TEST(text_summary)
{
	struct trace *tr = rr_trace();
	char *s = text_of(tr, false);
	ck_assert_contains(s, "Scenario: rr.slice (sim)\n");
	ck_assert_contains(s, "Ended: completed: every thread finished\n");
	ck_assert_contains(s, "Makespan: 50.000 us\n");
	ck_assert_contains(s, "Thread         pid     tid      start        end        cpu      ready"
			      "    blocked turnaround   response switches\n");
	ck_assert_contains(s, "MainThread     100     100       0 ns  34.000 us  15.000 us  19.000 us"
			      "       0 ns  34.000 us   3.000 us        2\n");
	ck_assert_contains(s, "Thread-1       100     101       0 ns  50.000 us  17.000 us  19.000 us"
			      "  14.000 us  50.000 us  16.000 us        2\n");
	ck_assert_contains(s, "core 0  44.000 us  12.000 us      88.0 %\n");
	ck_assert_contains(s, "CPU use: 64 % (of one core)\n");
	ck_assert_contains(s, "Context switches: 4\n");
	ck_assert_contains(s, "Expectations: 1 of 2 ok\n");
	ck_assert_contains(s, "  ok   line 7: completes\n");
	ck_assert_contains(s, "  FAIL line 8: balance == 0 (balance is 12)\n");
	free(s);
	trace_destroy(tr);

	tr = open_ended_trace();
	s = text_of(tr, false);
	ck_assert_contains(s, "Ended: DEADLOCK\n  Y waits for lock a\n  held by Z\n");
	ck_assert_contains(s, "Y            7       8       0 ns          -     100 ns     100 ns"
			      "     100 ns          -     100 ns        1\n");
	ck_assert_contains(s, "W            7      10          -          -       0 ns");
	ck_assert_contains(s, "CPU use: 90 % (of one core)\n");
	free(s);
	trace_destroy(tr);
}
END_TEST

static cJSON *item(const cJSON *o, const char *key)
{
	cJSON *i = cJSON_GetObjectItemCaseSensitive(o, key);
	ck_assert_msg(i != NULL, "no field %s", key);
	return i;
}

static double num(const cJSON *o, const char *key)
{
	cJSON *i = item(o, key);
	ck_assert_msg(cJSON_IsNumber(i), "%s is not a number", key);
	return i->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
	cJSON *i = item(o, key);
	ck_assert_msg(cJSON_IsString(i), "%s is not a string", key);
	return i->valuestring;
}

START_TEST(json_summary)
{
	struct trace *tr = rr_trace();
	char *s = text_of(tr, true);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	ck_assert_double_eq(num(j, "makespan_ns"), 50000);
	ck_assert_str_eq(str(j, "end"), "completed");
	ck_assert_str_eq(str(j, "end_msg"), "");
	ck_assert_str_eq(str(j, "source"), "rr.slice");
	ck_assert_str_eq(str(j, "origin"), "sim");

	cJSON *threads = item(j, "threads");
	ck_assert_int_eq(cJSON_GetArraySize(threads), 2);
	cJSON *a = cJSON_GetArrayItem(threads, 0), *b = cJSON_GetArrayItem(threads, 1);
	ck_assert_str_eq(str(a, "name"), "MainThread");
	ck_assert_str_eq(str(a, "proc"), "MainProcess");
	ck_assert_double_eq(num(a, "pid"), 100);
	ck_assert_double_eq(num(a, "tid"), 100);
	ck_assert_double_eq(num(a, "start_ns"), 0);
	ck_assert_double_eq(num(a, "end_ns"), 34000);
	ck_assert_double_eq(num(a, "first_run_ns"), 3000);
	ck_assert_double_eq(num(a, "cpu_ns"), 15000);
	ck_assert_double_eq(num(a, "ready_ns"), 19000);
	ck_assert_double_eq(num(a, "blocked_ns"), 0);
	ck_assert_double_eq(num(a, "turnaround_ns"), 34000);
	ck_assert_double_eq(num(a, "response_ns"), 3000);
	ck_assert_double_eq(num(a, "switches"), 2);
	ck_assert_double_eq(num(a, "voluntary"), 1);
	ck_assert_double_eq(num(a, "involuntary"), 1);
	ck_assert_double_eq(num(b, "tid"), 101);
	ck_assert_double_eq(num(b, "blocked_ns"), 14000);
	cJSON *by = item(b, "blocked_by");
	ck_assert_double_eq(num(by, "sleep"), 14000);
	ck_assert_double_eq(num(by, "io"), 0);
	ck_assert_double_eq(num(by, "join"), 0);
	ck_assert_double_eq(num(by, "lock"), 0);
	ck_assert_double_eq(num(by, "gil"), 0);
	ck_assert_double_eq(num(by, "wait"), 0);

	cJSON *cores = item(j, "cores");
	ck_assert_int_eq(cJSON_GetArraySize(cores), 1);
	cJSON *c0 = cJSON_GetArrayItem(cores, 0);
	ck_assert_double_eq(num(c0, "core"), 0);
	ck_assert_double_eq(num(c0, "busy_ns"), 44000);
	ck_assert_double_eq(num(c0, "switch_ns"), 12000);
	ck_assert_double_eq_tol(num(c0, "utilisation"), 0.88, 1e-9);
	ck_assert_double_eq_tol(num(j, "cpu_percent"), 64, 1e-9);
	ck_assert_double_eq(num(j, "context_switches"), 4);
	ck_assert_double_eq(num(j, "max_parallel"), 1);

	cJSON *out = item(j, "output");
	ck_assert_int_eq(cJSON_GetArraySize(out), 2);
	cJSON *o0 = cJSON_GetArrayItem(out, 0), *o1 = cJSON_GetArrayItem(out, 1);
	ck_assert_double_eq(num(o0, "t_ns"), 5000);
	ck_assert_double_eq(num(o0, "pid"), 100);
	ck_assert_str_eq(str(o0, "thread"), "MainThread");
	ck_assert_str_eq(str(o0, "text"), "hello \"world\"");
	ck_assert_str_eq(str(o1, "thread"), "Thread-1");
	ck_assert_str_eq(str(o1, "text"), "二 done");

	cJSON *vars = item(j, "vars");
	ck_assert_str_eq(str(vars, "balance"), "12");
	ck_assert_str_eq(str(vars, "names"), "['a', \"b\"]");
	ck_assert(cJSON_IsNull(item(j, "deadlock")));
	cJSON *ex = item(j, "expect");
	ck_assert_int_eq(cJSON_GetArraySize(ex), 2);
	cJSON *e0 = cJSON_GetArrayItem(ex, 0), *e1 = cJSON_GetArrayItem(ex, 1);
	ck_assert_double_eq(num(e0, "line"), 7);
	ck_assert_str_eq(str(e0, "text"), "completes");
	ck_assert(cJSON_IsTrue(item(e0, "ok")));
	ck_assert(cJSON_IsNull(item(e0, "detail")));
	ck_assert(cJSON_IsFalse(item(e1, "ok")));
	ck_assert_str_eq(str(e1, "detail"), "balance is 12");
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(json_deadlock_and_nevers)
{
	struct trace *tr = open_ended_trace();
	char *s = text_of(tr, true);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	ck_assert_str_eq(str(j, "end"), "deadlock");
	ck_assert_str_eq(str(j, "end_msg"), "Y waits for lock a\nheld by Z");
	cJSON *y = cJSON_GetArrayItem(item(j, "threads"), 1);
	ck_assert(cJSON_IsNull(item(y, "end_ns")));
	ck_assert(cJSON_IsNull(item(y, "turnaround_ns")));
	ck_assert_double_eq(num(y, "response_ns"), 100);
	cJSON *w = cJSON_GetArrayItem(item(j, "threads"), 3);
	ck_assert(cJSON_IsNull(item(w, "start_ns")));
	ck_assert(cJSON_IsNull(item(w, "first_run_ns")));
	ck_assert_double_eq(num(j, "max_parallel"), 2);
	ck_assert_int_eq(cJSON_GetArraySize(item(j, "output")), 0);
	ck_assert_int_eq(cJSON_GetArraySize(item(j, "expect")), 0);
	cJSON *d = item(j, "deadlock");
	ck_assert(cJSON_IsObject(d));
	ck_assert_double_eq(num(d, "t_ns"), 300);
	cJSON *blocked = item(d, "blocked");
	ck_assert_int_eq(cJSON_GetArraySize(blocked), 1); /* Z is ready, not blocked */
	cJSON *b0 = cJSON_GetArrayItem(blocked, 0);
	ck_assert_str_eq(str(b0, "thread"), "Y");
	ck_assert_str_eq(str(b0, "state"), "lock");
	ck_assert_str_eq(str(b0, "reason"), "lock a held by Z");
	ck_assert_double_eq(num(b0, "line"), 12);
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

static char *json_string_of(const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	metrics_json_string(f, in);
	fclose(f);
	return buf;
}

START_TEST(json_string_escaping)
{
	char *s = json_string_of("a\"b\\c\nd\te\x01 打印 \x7f");
	ck_assert_str_eq(s, "\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001 打印 \\u007f\"");
	cJSON *j = cJSON_Parse(s);
	ck_assert(cJSON_IsString(j));
	ck_assert_str_eq(j->valuestring, "a\"b\\c\nd\te\x01 打印 \x7f");
	cJSON_Delete(j);
	free(s);

	/* invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', an
	 * encoded surrogate; each bad byte becomes U+FFFD and what follows survives */
	s = json_string_of("x\x80y\xe6\x89z\xc0\xafw\xed\xa0\x80v");
	ck_assert_str_eq(s, "\"x\\ufffdy\\ufffd\\ufffdz\\ufffd\\ufffdw\\ufffd\\ufffd\\ufffdv\"");
	j = cJSON_Parse(s);
	ck_assert(cJSON_IsString(j));
	cJSON_Delete(j);
	free(s);

	s = json_string_of("emoji 😀 ok");
	ck_assert_str_eq(s, "\"emoji 😀 ok\"");
	free(s);
}
END_TEST

START_TEST(text_cells)
{
	int cells;
	ck_assert_uint_eq(metrics_text_fit("abc", 10, &cells), 3);
	ck_assert_int_eq(cells, 3);
	ck_assert_uint_eq(metrics_text_fit("打印x", 10, &cells), 7);
	ck_assert_int_eq(cells, 5);
	ck_assert_uint_eq(metrics_text_fit("打印x", 3, &cells), 3); /* half a wide char never fits */
	ck_assert_int_eq(cells, 2);
	ck_assert_uint_eq(metrics_text_fit("e\xcc\x81", 1, &cells), 3); /* combining accent */
	ck_assert_int_eq(cells, 1);
}
END_TEST

START_TEST(program_output)
{
	struct trace *tr = rr_trace();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	trace_print_output(f, tr);
	fclose(f);
	ck_assert_str_eq(buf, "hello \"world\"\n二 done\n");
	free(buf);
	trace_destroy(tr);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("Metrics of hand-made traces");
	tcase_add_test(tc, rr_thread_metrics);
	tcase_add_test(tc, rr_core_and_totals);
	tcase_add_test(tc, open_states_and_hand_over);
	tcase_add_test(tc, empty_trace);
	suite_add_tcase(s, tc);
	tc = tcase_create("Text summary and program output");
	tcase_add_test(tc, format_durations);
	tcase_add_test(tc, text_cells);
	tcase_add_test(tc, text_summary);
	tcase_add_test(tc, program_output);
	suite_add_tcase(s, tc);
	tc = tcase_create("JSON summary");
	tcase_add_test(tc, json_summary);
	tcase_add_test(tc, json_deadlock_and_nevers);
	tcase_add_test(tc, json_string_escaping);
	suite_add_tcase(s, tc);
	return s;
}

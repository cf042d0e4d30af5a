/* test-chrome.c — the Chrome trace-event JSON file, parsed back with cJSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "suites.h"

#define PRINTED "say \"hi\"\x01 你好"

static void emit(struct trace *tr, int64_t t, int kind, int tid, int core, int state,
		 const char *text, const char *reason)
{
	struct trace_rec r = {.t = t, .tid = tid, .core = (int16_t)core, .kind = (uint8_t)kind,
			      .state = (uint8_t)state, .obj = -1, .text = trace_intern(tr, text),
			      .reason = trace_intern(tr, reason), .line = 3};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
}

/* One core; times in ns:
 *   core 0   switch 0-1500, run T1 1500-4250, switch 4250-7250, run T2 7250-10000,
 *            switch 10000-13000, run T1 13000-14000
 *   T1       ready 0-1500, running 1500-4250, io 4250-9250, ready 9250-13000,
 *            running 13000-14000, done; prints PRINTED at 2000
 *   T2       ready 2000-7250, running 7250-10000, done; mark "start" at 7250 */
static struct trace *small_trace(int pid)
{
	struct trace *tr = trace_create(1);
	trace_add_process(tr, pid, 1, "Main 进程");
	trace_add_thread(tr, 0, pid, "MainThread");
	trace_add_thread(tr, 0, pid + 1, "worker");
	emit(tr, 0, TR_STATE, 0, -1, TS_READY, NULL, "created");
	emit(tr, 0, TR_CORE, 0, 0, CS_SWITCH, NULL, NULL);
	emit(tr, 1500, TR_CORE, 0, 0, CS_RUN, NULL, NULL);
	emit(tr, 1500, TR_STATE, 0, 0, TS_RUNNING, NULL, "picked");
	emit(tr, 2000, TR_PRINT, 0, 0, 0, PRINTED, NULL);
	emit(tr, 2000, TR_STATE, 1, -1, TS_READY, NULL, NULL);
	emit(tr, 4250, TR_STATE, 0, -1, TS_IO, NULL, "io(5us)");
	emit(tr, 4250, TR_CORE, 1, 0, CS_SWITCH, NULL, NULL);
	emit(tr, 7250, TR_CORE, 1, 0, CS_RUN, NULL, NULL);
	emit(tr, 7250, TR_STATE, 1, 0, TS_RUNNING, NULL, NULL);
	emit(tr, 7250, TR_MARK, 1, 0, 0, "start", NULL);
	emit(tr, 9250, TR_STATE, 0, -1, TS_READY, NULL, "io done");
	emit(tr, 10000, TR_STATE, 1, -1, TS_DONE, NULL, NULL);
	emit(tr, 10000, TR_CORE, 0, 0, CS_SWITCH, NULL, NULL);
	emit(tr, 13000, TR_CORE, 0, 0, CS_RUN, NULL, NULL);
	emit(tr, 13000, TR_STATE, 0, 0, TS_RUNNING, NULL, NULL);
	emit(tr, 14000, TR_STATE, 0, -1, TS_DONE, NULL, NULL);
	emit(tr, 14000, TR_CORE, -1, 0, CS_IDLE, NULL, NULL);
	tr->makespan = 14000;
	snprintf(tr->source_name, sizeof tr->source_name, "small.slice");
	return tr;
}

static char *chrome_text(const struct trace *tr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_int_eq(chrome_write(f, tr), 0);
	fclose(f);
	return buf;
}

static const char *sfield(const cJSON *o, const char *k)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(i) ? i->valuestring : NULL;
}

static double nfield(const cJSON *o, const char *k)
{
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, k);
	ck_assert_msg(cJSON_IsNumber(i), "field %s is not a number", k);
	return i->valuedouble;
}

/* Finds the one event with this phase, pid, tid and name (tid < 0: any); fails if there are
 * none or several. */
static const cJSON *find(const cJSON *events, const char *ph, double pid, double tid,
			 const char *name, double ts)
{
	const cJSON *found = NULL, *e;
	cJSON_ArrayForEach(e, events)
	{
		if (strcmp(sfield(e, "ph"), ph) != 0 || nfield(e, "pid") != pid ||
		    (tid >= 0 && nfield(e, "tid") != tid) || strcmp(sfield(e, "name"), name) != 0)
			continue;
		if (ts >= 0 && nfield(e, "ts") != ts)
			continue;
		ck_assert_msg(found == NULL, "two %s events named %s at %g", ph, name, ts);
		found = e;
	}
	ck_assert_msg(found != NULL, "no %s event named %s (pid %g tid %g ts %g)", ph, name, pid,
		      tid, ts);
	return found;
}

static const char *meta_name(const cJSON *events, const char *what, double pid, double tid)
{
	const cJSON *e = find(events, "M", pid, tid, what, -1);
	return sfield(cJSON_GetObjectItemCaseSensitive(e, "args"), "name");
}

static int count(const cJSON *events, const char *ph)
{
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, events) n += strcmp(sfield(e, "ph"), ph) == 0;
	return n;
}

START_TEST(structure_and_metadata)
{
	struct trace *tr = small_trace(42);
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
	ck_assert(cJSON_IsArray(events));
	ck_assert_str_eq(sfield(j, "displayTimeUnit"), "ns");
	const cJSON *other = cJSON_GetObjectItemCaseSensitive(j, "otherData");
	ck_assert_str_eq(sfield(other, "source"), "small.slice");
	ck_assert_str_eq(sfield(other, "end"), "completed");
	ck_assert_double_eq(nfield(other, "cores_pid"), 1000000000);

	ck_assert_str_eq(meta_name(events, "process_name", 42, -1), "Main 进程");
	ck_assert_str_eq(meta_name(events, "thread_name", 42, 42), "MainThread");
	ck_assert_str_eq(meta_name(events, "thread_name", 42, 43), "worker");
	ck_assert_str_eq(meta_name(events, "process_name", 1000000000, -1), "CPU cores");
	ck_assert_str_eq(meta_name(events, "thread_name", 1000000000, 1000000001), "core 0");
	const cJSON *e = find(events, "M", 42, 43, "thread_sort_index", -1);
	ck_assert_double_eq(nfield(cJSON_GetObjectItemCaseSensitive(e, "args"), "sort_index"), 1);
	e = find(events, "M", 1000000000, -1, "process_sort_index", -1);
	ck_assert_double_eq(nfield(cJSON_GetObjectItemCaseSensitive(e, "args"), "sort_index"), 1);
	ck_assert_int_eq(count(events, "M"), 10);
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

static void check_x(const cJSON *events, double pid, double tid, const char *name, double ts,
		    double dur)
{
	const cJSON *e = find(events, "X", pid, tid, name, ts);
	ck_assert_msg(nfield(e, "dur") == dur, "%s at %g: dur %g, expected %g", name, ts,
		      nfield(e, "dur"), dur);
}

START_TEST(state_segments)
{
	struct trace *tr = small_trace(42);
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
	/* microseconds with nanosecond precision */
	check_x(events, 42, 42, "ready", 0, 1.5);
	check_x(events, 42, 42, "running", 1.5, 2.75);
	check_x(events, 42, 42, "io", 4.25, 5);
	check_x(events, 42, 42, "ready", 9.25, 3.75);
	check_x(events, 42, 42, "running", 13, 1);
	check_x(events, 42, 43, "ready", 2, 5.25);
	check_x(events, 42, 43, "running", 7.25, 2.75);
	const cJSON *run = find(events, "X", 42, 42, "running", 1.5);
	ck_assert_str_eq(sfield(run, "cat"), "state");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(run, "args");
	ck_assert_str_eq(sfield(args, "reason"), "picked");
	ck_assert_double_eq(nfield(args, "line"), 3);
	ck_assert_double_eq(nfield(args, "core"), 0);
	args = cJSON_GetObjectItemCaseSensitive(find(events, "X", 42, 42, "io", 4.25), "args");
	ck_assert_str_eq(sfield(args, "reason"), "io(5us)");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(args, "core")));

	/* the core's track: runs named after the thread, switches between them */
	check_x(events, 1000000000, 1000000001, "switch", 0, 1.5);
	check_x(events, 1000000000, 1000000001, "MainThread", 1.5, 2.75);
	check_x(events, 1000000000, 1000000001, "switch", 4.25, 3);
	check_x(events, 1000000000, 1000000001, "worker", 7.25, 2.75);
	check_x(events, 1000000000, 1000000001, "switch", 10, 3);
	check_x(events, 1000000000, 1000000001, "MainThread", 13, 1);
	args = cJSON_GetObjectItemCaseSensitive(find(events, "X", 1000000000, 1000000001, "switch",
						     4.25),
						"args");
	ck_assert_str_eq(sfield(args, "to"), "worker");
	ck_assert_int_eq(count(events, "X"), 13);
	ck_assert_msg(strstr(s, "\"ts\": 1.5, \"dur\": 2.75,") != NULL, "ts and dur as decimals");
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(instants_and_escaping)
{
	struct trace *tr = small_trace(42);
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
	const cJSON *p = find(events, "i", 42, 42, PRINTED, 2);
	ck_assert_str_eq(sfield(p, "s"), "t");
	ck_assert_str_eq(sfield(p, "cat"), "print");
	ck_assert_str_eq(sfield(cJSON_GetObjectItemCaseSensitive(p, "args"), "text"), PRINTED);
	/* on the wire: quotes escaped, the control character as \u0001, Chinese as UTF-8 */
	ck_assert(strstr(s, "\"say \\\"hi\\\"\\u0001 你好\"") != NULL);
	const cJSON *m = find(events, "i", 42, 43, "start", 7.25);
	ck_assert_str_eq(sfield(m, "cat"), "mark");
	ck_assert_int_eq(count(events, "i"), 2);
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(cores_pid_avoids_collisions)
{
	struct trace *tr = small_trace(1000000005);
	tr->end = END_DEADLOCK;
	snprintf(tr->end_msg, sizeof tr->end_msg, "T1 waits for T2");
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
	/* largest pid/tid is 1000000006 (the worker's tid) */
	ck_assert_str_eq(meta_name(events, "process_name", 1000000007, -1), "CPU cores");
	ck_assert_str_eq(meta_name(events, "thread_name", 1000000007, 1000000008), "core 0");
	const cJSON *end = find(events, "i", 1000000007, -1, "end: deadlock", 14);
	ck_assert_str_eq(sfield(end, "s"), "g");
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(write_failure_is_reported)
{
	struct trace *tr = small_trace(42);
	FILE *f = fopen("/dev/null", "r"); /* every write fails */
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(chrome_write(f, tr), -1);
	fclose(f);
	trace_destroy(tr);
}
END_TEST

START_TEST(empty_trace_is_valid)
{
	struct trace *tr = trace_create(0);
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "traceEvents")), 0);
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

/* TR_COUNTER records (a Queue's pipe fill) become "C" events of the cores process, named by
 * the object, with the value in args.bytes; a bad object index writes nothing. */
START_TEST(counter_events)
{
	struct trace *tr = small_trace(42);
	int q = trace_add_object(tr, "q", "Queue", 3);
	ck_assert_int_ge(q, 0);
	struct trace_rec r = {.t = 14000, .tid = -1, .core = -1, .kind = TR_COUNTER, .obj = q,
			      .line = 65536};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	r.line = 0;
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	r.obj = 99;
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	char *s = chrome_text(tr);
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "invalid JSON:\n%s", s);
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "traceEvents");
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, events) {
		if (!sfield(e, "ph") || strcmp(sfield(e, "ph"), "C") != 0)
			continue;
		ck_assert_str_eq(sfield(e, "name"), "q");
		ck_assert_double_eq(nfield(e, "pid"), 1000000000);
		ck_assert_double_eq_tol(nfield(e, "ts"), 14, 1e-9);
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
		ck_assert_double_eq(nfield(args, "bytes"), n == 0 ? 65536 : 0);
		n++;
	}
	ck_assert_int_eq(n, 2);
	/* the other readers pass over them: the same numbers as without */
	struct trace *plain = small_trace(42);
	struct metrics *a = metrics_compute(tr), *b = metrics_compute(plain);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	for (int t = 0; t < 2; t++) {
		ck_assert_int_eq(a->threads[t].cpu_ns, b->threads[t].cpu_ns);
		ck_assert_int_eq(a->threads[t].ready_ns, b->threads[t].ready_ns);
	}
	char *ga = NULL, *gb = NULL;
	size_t la = 0, lb = 0;
	FILE *fa = open_memstream(&ga, &la), *fb = open_memstream(&gb, &lb);
	gantt_print(fa, tr, 60, false);
	gantt_print(fb, plain, 60, false);
	fclose(fa);
	fclose(fb);
	ck_assert_str_eq(ga, gb);
	free(ga);
	free(gb);
	metrics_destroy(a);
	metrics_destroy(b);
	trace_destroy(plain);
	cJSON_Delete(j);
	free(s);
	trace_destroy(tr);
}
END_TEST

Suite *chrome_suite(void)
{
	Suite *s = suite_create("chrome");
	TCase *tc = tcase_create("Chrome trace-event JSON");
	tcase_add_test(tc, structure_and_metadata);
	tcase_add_test(tc, state_segments);
	tcase_add_test(tc, instants_and_escaping);
	tcase_add_test(tc, cores_pid_avoids_collisions);
	tcase_add_test(tc, write_failure_is_reported);
	tcase_add_test(tc, empty_trace_is_valid);
	tcase_add_test(tc, counter_events);
	suite_add_tcase(s, tc);
	return s;
}

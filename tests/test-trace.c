/* test-trace.c — the trace store: interning, tables, growth and the emit rules. */
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "trace.h"

START_TEST(intern_returns_same_id)
{
	struct trace *tr = trace_create(2);
	ck_assert_ptr_nonnull(tr);
	ck_assert_uint_eq(trace_intern(tr, ""), 0);
	ck_assert_uint_eq(trace_intern(tr, NULL), 0);
	ck_assert_str_eq(trace_str(tr, 0), "");
	uint32_t a = trace_intern(tr, "MainThread");
	uint32_t b = trace_intern(tr, "Thread-1");
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_ne(b, 0);
	ck_assert_uint_ne(a, b);
	char copy[] = "MainThread"; /* equal text at another address */
	ck_assert_uint_eq(trace_intern(tr, copy), a);
	ck_assert_str_eq(trace_str(tr, a), "MainThread");
	ck_assert_str_eq(trace_str(tr, b), "Thread-1");
	ck_assert_str_eq(trace_str(tr, 99999), ""); /* bad ids read as "" */
	ck_assert_str_eq(trace_str(tr, UINT32_MAX), "");
	trace_destroy(tr);
	trace_destroy(NULL);
}
END_TEST

START_TEST(intern_many_strings)
{
	/* enough to rehash the index many times; every id must still find its text */
	struct trace *tr = trace_create(1);
	enum { N = 20000 };
	static uint32_t ids[N];
	char buf[32];
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof buf, "s%d", i);
		ids[i] = trace_intern(tr, buf);
		ck_assert_uint_eq(ids[i], (uint32_t)i + 1);
	}
	ck_assert_uint_eq(tr->nstrs, N + 1);
	for (int i = 0; i < N; i++) {
		snprintf(buf, sizeof buf, "s%d", i);
		ck_assert_uint_eq(trace_intern(tr, buf), ids[i]);
		ck_assert_str_eq(trace_str(tr, ids[i]), buf);
	}
	ck_assert_uint_eq(tr->nstrs, N + 1); /* nothing was added twice */
	trace_destroy(tr);
}
END_TEST

START_TEST(tables)
{
	struct trace *tr = trace_create(4);
	ck_assert_int_eq(tr->ncores, 4);
	ck_assert_int_eq(trace_add_process(tr, 100, 1, "MainProcess"), 0);
	ck_assert_int_eq(trace_add_process(tr, 101, 100, "Process-1"), 1);
	ck_assert_int_eq(trace_add_thread(tr, 0, 100, "MainThread"), 0);
	ck_assert_int_eq(trace_add_thread(tr, 0, 102, "Thread-1"), 1);
	ck_assert_int_eq(trace_add_thread(tr, 1, 101, "MainThread"), 2);
	ck_assert_int_eq(tr->procs[0].main_thread, 0);
	ck_assert_int_eq(tr->procs[1].main_thread, 2);
	ck_assert_int_eq(tr->procs[1].ppid, 100);
	ck_assert_str_eq(trace_str(tr, tr->procs[1].name), "Process-1");
	ck_assert_uint_eq(tr->threads[0].name, tr->threads[2].name); /* interned once */
	ck_assert_int_eq(tr->threads[1].tid, 102);

	ck_assert_int_eq(trace_add_var(tr, "balance", "12"), 0);
	ck_assert_int_eq(trace_add_var(tr, "names", "['a', 'b']"), 1);
	ck_assert_str_eq(trace_str(tr, tr->vars[1].repr), "['a', 'b']");
	ck_assert_int_eq(trace_add_expect(tr, 7, "deadlock", true, NULL), 0);
	ck_assert_int_eq(trace_add_expect(tr, 8, "balance == 0", false, "balance is 12"), 1);
	ck_assert(tr->expects[0].ok);
	ck_assert_uint_eq(tr->expects[0].detail, 0);
	ck_assert(!tr->expects[1].ok);
	ck_assert_str_eq(trace_str(tr, tr->expects[1].detail), "balance is 12");
	ck_assert_int_eq(tr->expects[1].line, 8);
	trace_destroy(tr);
	ck_assert_ptr_null(trace_create(-1));
}
END_TEST

START_TEST(emit_grows_past_thousands)
{
	struct trace *tr = trace_create(1);
	enum { N = 100000 };
	for (int i = 0; i < N; i++) {
		struct trace_rec r = {.t = i / 3, .tid = i % 7, .core = -1, .kind = TR_STATE,
				      .state = (uint8_t)(i % TS_COUNT), .obj = -1, .line = (uint32_t)i};
		ck_assert_int_eq(trace_emit(tr, &r), 0);
	}
	ck_assert_uint_eq(tr->nrecs, N);
	ck_assert_uint_ge(tr->caprecs, N);
	ck_assert_uint_le(tr->caprecs, 2 * N); /* amortised doubling, not one slot at a time */
	for (int i = 0; i < N; i += 997) {
		ck_assert_int_eq(tr->recs[i].t, i / 3);
		ck_assert_int_eq(tr->recs[i].tid, i % 7);
		ck_assert_uint_eq(tr->recs[i].line, (uint32_t)i);
	}
	trace_destroy(tr);
}
END_TEST

START_TEST(emit_enforces_max_recs)
{
	struct trace *tr = trace_create(1);
	tr->max_recs = 3000;
	struct trace_rec r = {.t = 0, .tid = 0, .core = -1, .kind = TR_MARK, .obj = -1};
	for (int i = 0; i < 3000; i++) {
		r.t = i;
		ck_assert_int_eq(trace_emit(tr, &r), 0);
	}
	r.t = 5000;
	ck_assert_int_eq(trace_emit(tr, &r), -1);
	ck_assert_uint_eq(tr->nrecs, 3000);
	ck_assert_int_eq(tr->recs[2999].t, 2999);
	tr->max_recs = 0; /* no limit */
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	ck_assert_uint_eq(tr->nrecs, 3001);
	trace_destroy(tr);
}
END_TEST

START_TEST(emit_enforces_time_order)
{
	struct trace *tr = trace_create(1);
	struct trace_rec r = {.t = 10, .tid = 0, .core = 0, .kind = TR_STATE, .state = TS_RUNNING,
			      .obj = -1};
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	r.t = 10; /* equal times are fine */
	r.state = TS_READY;
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	r.t = 9;
	r.state = TS_DONE;
	ck_assert_int_eq(trace_emit(tr, &r), -1);
	ck_assert_uint_eq(tr->nrecs, 2);
	ck_assert_int_eq(tr->recs[1].state, TS_READY);
	r.t = -1;
	ck_assert_int_eq(trace_emit(tr, &r), -1); /* nothing precedes the start of the run */
	r.t = 11;
	ck_assert_int_eq(trace_emit(tr, &r), 0);
	ck_assert_uint_eq(tr->nrecs, 3);
	trace_destroy(tr);

	tr = trace_create(1);
	r.t = -5;
	ck_assert_int_eq(trace_emit(tr, &r), -1);
	ck_assert_uint_eq(tr->nrecs, 0);
	trace_destroy(tr);
}
END_TEST

START_TEST(state_names)
{
	ck_assert_str_eq(thread_state_name(TS_NEW), "new");
	ck_assert_str_eq(thread_state_name(TS_READY), "ready");
	ck_assert_str_eq(thread_state_name(TS_RUNNING), "running");
	ck_assert_str_eq(thread_state_name(TS_SLEEP), "sleep");
	ck_assert_str_eq(thread_state_name(TS_IO), "io");
	ck_assert_str_eq(thread_state_name(TS_JOIN), "join");
	ck_assert_str_eq(thread_state_name(TS_LOCK), "lock");
	ck_assert_str_eq(thread_state_name(TS_GIL), "gil");
	ck_assert_str_eq(thread_state_name(TS_WAIT), "wait");
	ck_assert_str_eq(thread_state_name(TS_DONE), "done");
	ck_assert_str_eq(thread_state_name(TS_COUNT), "?");
	ck_assert_str_eq(core_state_name(CS_IDLE), "idle");
	ck_assert_str_eq(core_state_name(CS_SWITCH), "switch");
	ck_assert_str_eq(core_state_name(CS_RUN), "run");
	ck_assert_str_eq(core_state_name(CS_COUNT), "?");
}
END_TEST

Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("Interned strings");
	tcase_add_test(tc, intern_returns_same_id);
	tcase_add_test(tc, intern_many_strings);
	suite_add_tcase(s, tc);
	tc = tcase_create("Processes, threads, vars and expectations");
	tcase_add_test(tc, tables);
	tcase_add_test(tc, state_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("Emitting records: growth, limit, time order");
	tcase_add_test(tc, emit_grows_past_thousands);
	tcase_add_test(tc, emit_enforces_max_recs);
	tcase_add_test(tc, emit_enforces_time_order);
	suite_add_tcase(s, tc);
	return s;
}

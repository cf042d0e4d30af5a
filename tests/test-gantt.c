/* test-gantt.c — the terminal Gantt, compared character by character. */
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

/* One core, 52 us. At width 60 the labels take 7 cells ("A (5/5)") plus a blank, leaving 52
 * columns of exactly 1 us each. Times in us:
 *   A   ready 0-3, running 3-13, sleep 13-30, ready 30-33, running 33-40.5, done
 *   B   (absent 0-2), new 2-4, ready 4-16, running 16-30, ready 30-43.5, running 43.5-50,
 *       lock 50-52
 *   core 0  switch 0-3, run 3-13, switch 13-16, run 16-30, switch 30-33, run 33-40.5,
 *           switch 40.5-43.5, run 43.5-50, idle 50-52
 * Columns 40 and 43 are half running, half something else: running wins the tie. */
static struct trace *tiny_trace(void)
{
	struct trace *tr = trace_create(1);
	trace_add_process(tr, 5, 1, "P");
	trace_add_thread(tr, 0, 5, "A");
	trace_add_thread(tr, 0, 6, "B");
	emit(tr, 0, TR_STATE, 0, -1, TS_READY);
	emit(tr, 0, TR_CORE, 0, 0, CS_SWITCH);
	emit(tr, 2000, TR_STATE, 1, -1, TS_NEW);
	emit(tr, 3000, TR_STATE, 0, 0, TS_RUNNING);
	emit(tr, 3000, TR_CORE, 0, 0, CS_RUN);
	emit(tr, 4000, TR_STATE, 1, -1, TS_READY);
	emit(tr, 13000, TR_STATE, 0, -1, TS_SLEEP);
	emit(tr, 13000, TR_CORE, 1, 0, CS_SWITCH);
	emit(tr, 16000, TR_STATE, 1, 0, TS_RUNNING);
	emit(tr, 16000, TR_CORE, 1, 0, CS_RUN);
	emit(tr, 30000, TR_STATE, 0, -1, TS_READY);
	emit(tr, 30000, TR_STATE, 1, -1, TS_READY);
	emit(tr, 30000, TR_CORE, 0, 0, CS_SWITCH);
	emit(tr, 33000, TR_STATE, 0, 0, TS_RUNNING);
	emit(tr, 33000, TR_CORE, 0, 0, CS_RUN);
	emit(tr, 40500, TR_STATE, 0, -1, TS_DONE);
	emit(tr, 40500, TR_CORE, 1, 0, CS_SWITCH);
	emit(tr, 43500, TR_STATE, 1, 0, TS_RUNNING);
	emit(tr, 43500, TR_CORE, 1, 0, CS_RUN);
	emit(tr, 50000, TR_STATE, 1, -1, TS_LOCK);
	emit(tr, 50000, TR_CORE, -1, 0, CS_IDLE);
	tr->makespan = 52000;
	return tr;
}

static char *gantt_text(const struct trace *tr, int width, bool color)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	gantt_print(f, tr, width, color);
	fclose(f);
	return buf;
}

START_TEST(plain_width_60)
{
	struct trace *tr = tiny_trace();
	char *s = gantt_text(tr, 60, false);
	const char *want =
		/* a 10 us step (10 columns, room for "50 us" and three blanks); the label at 50
		 * would run into the end label, right-aligned, so it is left out */
		"        0         10 us     20 us     30 us     40 us  52 us\n"
		"        +---------+---------+---------+---------+----------+\n"
		"A (5/5) rrrRRRRRRRRRRSSSSSSSSSSSSSSSSSrrrRRRRRRRR...........\n"
		"B (5/6) ..nnrrrrrrrrrrrrRRRRRRRRRRRRRRrrrrrrrrrrrrrRRRRRRRLL\n"
		"core 0  sssRRRRRRRRRRsssRRRRRRRRRRRRRRsssRRRRRRRRssRRRRRRR  \n"
		"Legend:  R running  r ready  n new  S sleep  I io  J join\n"
		"         L lock  G gil  W wait  . not started/done  s switch\n"
		"         ' ' idle\n";
	ck_assert_msg(strcmp(s, want) == 0, "got:\n%s\nwant:\n%s", s, want);
	free(s);
	trace_destroy(tr);
}
END_TEST

/* Every line of the chart part (axis and rows) is exactly `width` cells wide. */
static void check_widths(const char *s, int width, int lines)
{
	const char *p = s;
	for (int i = 0; i < lines; i++) {
		const char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		int cells;
		char *line = strndup(p, (size_t)(nl - p));
		metrics_text_fit(line, 1 << 20, &cells);
		ck_assert_msg(cells == width, "line %d is %d cells, not %d: '%s'", i, cells, width,
			      line);
		free(line);
		p = nl + 1;
	}
}

START_TEST(widths_and_labels)
{
	struct trace *tr = tiny_trace();
	trace_add_thread(tr, 0, 7, "a_very_long_thread_name");
	char *s = gantt_text(tr, 10, false); /* too narrow: 40 is the minimum */
	check_widths(s, 40, 6);
	/* a quarter of 40 for labels: cut with an ellipsis */
	ck_assert_msg(strstr(s, "\na_v… (5/7) ") != NULL, "%s", s); /* the name is cut, not the ids */
	free(s);
	s = gantt_text(tr, 80, false); /* labels up to 20 cells */
	check_widths(s, 80, 6);
	ck_assert_msg(strstr(s, "\na_very_long_t… (5/7) ") != NULL, "%s", s);
	free(s);
	s = gantt_text(tr, 200, false); /* up to 32 */
	check_widths(s, 200, 6);
	ck_assert(strstr(s, "\na_very_long_thread_name (5/7) ") != NULL);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(color_mode)
{
	struct trace *tr = tiny_trace();
	char *s = gantt_text(tr, 60, true);
	/* A's row: ready (yellow) for 3 columns, then running (green) for 10 */
	ck_assert_msg(strstr(s, "A (5/5) \x1b[0;30;43mrrr\x1b[0;30;42mRRRRRRRRRR\x1b[0;30;44mS") !=
			      NULL,
		      "%s", s);
	ck_assert(strstr(s, "\x1b[0m...........\n") != NULL); /* done: no colour */
	ck_assert(strstr(s, "LL\x1b[0m\n") != NULL);          /* reset at the end of a row */
	ck_assert(strstr(s, "Legend:  \x1b[0;30;42mR\x1b[0m running") != NULL);
	free(s);
	trace_destroy(tr);
}
END_TEST

START_TEST(tiny_and_empty_traces)
{
	/* a makespan shorter than the number of columns still fills every column */
	struct trace *tr = trace_create(1);
	trace_add_process(tr, 1, 0, "P");
	trace_add_thread(tr, 0, 1, "T");
	emit(tr, 0, TR_STATE, 0, 0, TS_RUNNING);
	emit(tr, 5, TR_STATE, 0, -1, TS_DONE);
	tr->makespan = 10;
	char *s = gantt_text(tr, 40, false);
	check_widths(s, 40, 4);
	ck_assert_msg(strstr(s, "T (1/1) RRRRRRRRRRRRRRRR................\n") != NULL, "%s", s);
	free(s);
	trace_destroy(tr);

	tr = trace_create(0);
	s = gantt_text(tr, 50, false);
	check_widths(s, 50, 2);
	free(s);
	trace_destroy(tr);
}
END_TEST

Suite *gantt_suite(void)
{
	Suite *s = suite_create("gantt");
	TCase *tc = tcase_create("Terminal Gantt");
	tcase_add_test(tc, plain_width_60);
	tcase_add_test(tc, widths_and_labels);
	tcase_add_test(tc, color_mode);
	tcase_add_test(tc, tiny_and_empty_traces);
	suite_add_tcase(s, tc);
	return s;
}

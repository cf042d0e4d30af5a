/* test-diag.c — sources and diagnostics. */
#include <string.h>

#include "diag.h"
#include "suites.h"

START_TEST(line_lookup)
{
	const char text[] = "first\nsecond\r\n\nlast";
	struct source *src = source_from_memory("a.slice", text, sizeof text - 1);
	size_t n;
	const char *l = source_line(src, 2, &n);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq((int)n, 6); /* the \r is not part of the line */
	ck_assert(strncmp(l, "second", n) == 0);
	l = source_line(src, 3, &n);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq((int)n, 0);
	l = source_line(src, 4, &n);
	ck_assert(strncmp(l, "last", n) == 0 && n == 4);
	ck_assert_ptr_null(source_line(src, 5, &n));
	ck_assert_ptr_null(source_line(src, 0, &n));
	source_destroy(src);
}
END_TEST

START_TEST(format_with_caret)
{
	const char text[] = "x = 1\nsleep(3 parsecs)\n";
	struct source *src = source_from_memory("s.slice", text, sizeof text - 1);
	struct diag d;
	diag_set(&d, src, 2, 9, "expected ')' or ',', found name 'parsecs'");
	char buf[512];
	diag_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "s.slice:2:9: error: expected ')' or ',', found name 'parsecs'\n"
			      "    sleep(3 parsecs)\n"
			      "            ^\n");
	source_destroy(src);
}
END_TEST

START_TEST(caret_counts_wide_characters)
{
	/* "打印" is two characters, each two cells wide on a terminal */
	const char text[] = "打印 = 5\n";
	struct source *src = source_from_memory("w.slice", text, sizeof text - 1);
	struct diag d;
	diag_set(&d, src, 1, 4, "bad");
	char buf[512];
	diag_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "w.slice:1:4: error: bad\n    打印 = 5\n         ^\n");
	source_destroy(src);
}
END_TEST

START_TEST(file_errors_have_no_echo)
{
	struct diag d;
	struct source *src = source_read_file("/nonexistent/dir/x.slice", &d);
	ck_assert_ptr_null(src);
	ck_assert_str_eq(d.file, "/nonexistent/dir/x.slice");
	ck_assert_int_eq(d.line, 0);
	char buf[512];
	diag_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "/nonexistent/dir/x.slice: error: cannot open scenario: No such file or directory\n");
}
END_TEST

Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("Source lines and caret diagnostics");
	tcase_add_test(tc, line_lookup);
	tcase_add_test(tc, format_with_caret);
	tcase_add_test(tc, caret_counts_wide_characters);
	tcase_add_test(tc, file_errors_have_no_echo);
	suite_add_tcase(s, tc);
	return s;
}

/* test-golden.c — whole traces of a few bundled scenarios against the golden files in
 * tests/reference/ (listed in tests/reference/LIST). The simulator is deterministic, so any
 * difference is a change of behaviour: regenerate with scripts/regen-golden.sh and review
 * the diff when the change is intended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "metrics.h"
#include "suites.h"

#define MAX_GOLDEN 32

static char golden_ids[MAX_GOLDEN][64];
static int ngolden;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void load_list(void)
{
	size_t len;
	char *text = slurp(SOURCE_ROOT "/tests/reference/LIST", &len);
	ngolden = 0;
	if (!text)
		return;
	char *save = NULL;
	text = realloc(text, len + 1);
	text[len] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line && ngolden < MAX_GOLDEN;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		snprintf(golden_ids[ngolden++], sizeof golden_ids[0], "%s", line);
	}
	free(text);
}

/* The first line where two texts differ, for a readable failure. */
static int first_diff_line(const char *a, size_t la, const char *b, size_t lb)
{
	int line = 1;
	for (size_t i = 0; i < la && i < lb; i++) {
		if (a[i] != b[i])
			return line;
		line += a[i] == '\n';
	}
	return la == lb ? 0 : line;
}

static void check_same(const char *what, const char *path, const char *got, size_t glen)
{
	size_t wlen;
	char *want = slurp(path, &wlen);
	ck_assert_msg(want, "cannot read %s", path);
	int diff = first_diff_line(want, wlen, got, glen);
	ck_assert_msg(diff == 0 && wlen == glen,
		      "%s differs from %s from line %d on (regenerate with scripts/regen-golden.sh "
		      "if the change is intended)",
		      what, path, diff);
	free(want);
}

START_TEST(golden_trace)
{
	ck_assert_int_gt(ngolden, _i);
	const char *id = golden_ids[_i];
	char path[512], name[128];
	snprintf(path, sizeof path, SOURCE_ROOT "/scenarios/%s.slice", id);
	snprintf(name, sizeof name, "scenarios/%s.slice", id);
	size_t len;
	char *text = slurp(path, &len);
	ck_assert_msg(text, "cannot read %s", path);
	struct source *src = source_from_memory(name, text, len);
	free(text);
	struct diag d;
	struct ast_program *ast = ast_parse(src, &d);
	ck_assert_ptr_nonnull(ast);
	struct vm_program *prog = vm_compile(ast, &d);
	ck_assert_ptr_nonnull(prog);
	struct machine m;
	machine_defaults(&m);
	ck_assert_int_eq(machine_apply_ast(&m, ast, &d), 0);
	ck_assert_int_eq(machine_apply_run_lines(&m, src, &d), 0);
	struct trace *tr = sim_run(ast, prog, &m, &d);
	ck_assert_ptr_nonnull(tr);
	struct metrics *mt = metrics_compute(tr);

	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	metrics_print_json(f, tr, mt);
	fclose(f);
	snprintf(path, sizeof path, SOURCE_ROOT "/tests/reference/%s.json", id);
	check_same("the JSON summary", path, buf, blen);
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &blen);
	ck_assert_int_eq(chrome_write(f, tr), 0);
	fclose(f);
	snprintf(path, sizeof path, SOURCE_ROOT "/tests/reference/%s.trace.json", id);
	check_same("the Chrome trace", path, buf, blen);
	free(buf);

	metrics_destroy(mt);
	trace_destroy(tr);
	vm_program_destroy(prog);
	ast_program_destroy(ast);
	source_destroy(src);
}
END_TEST

Suite *golden_suite(void)
{
	load_list();
	Suite *s = suite_create("golden");
	TCase *tc = tcase_create("Golden traces of bundled scenarios");
	tcase_add_loop_test(tc, golden_trace, 0, ngolden > 0 ? ngolden : 1);
	suite_add_tcase(s, tc);
	return s;
}

/* harness.c — runs scenario text for the tests (see harness.h). */
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "harness.h"


/* Parses, compiles and runs text with the machine defaults plus its machine line. */
void run_text(struct run *r, const char *text, const struct machine *override)
{
	struct diag d;
	memset(r, 0, sizeof *r);
	r->src = source_from_memory("test.slice", text, strlen(text));
	r->ast = ast_parse(r->src, &d);
	ck_assert_msg(r->ast, "parse: %s:%d:%d: %s", d.file, d.line, d.col, d.msg);
	r->prog = vm_compile(r->ast, &d);
	ck_assert_msg(r->prog, "compile: %s:%d:%d: %s", d.file, d.line, d.col, d.msg);
	struct machine m;
	if (override)
		m = *override;
	else
		machine_defaults(&m);
	ck_assert_int_eq(machine_apply_ast(&m, r->ast, &d), 0);
	r->tr = sim_run(r->ast, r->prog, &m, &d);
	ck_assert_ptr_nonnull(r->tr);
	r->m = metrics_compute(r->tr);
	ck_assert_ptr_nonnull(r->m);
}

void run_free(struct run *r)
{
	metrics_destroy(r->m);
	trace_destroy(r->tr);
	vm_program_destroy(r->prog);
	ast_program_destroy(r->ast);
	source_destroy(r->src);
}

int thread_named(const struct trace *tr, const char *name)
{
	for (int i = 0; i < tr->nthreads; i++)
		if (strcmp(trace_str(tr, tr->threads[i].name), name) == 0)
			return i;
	ck_abort_msg("no thread named %s", name);
	return -1;
}

const struct thread_metrics *tm(const struct run *r, const char *name)
{
	return &r->m->threads[thread_named(r->tr, name)];
}

/* The printed lines joined by '|'. */
void output_of(const struct trace *tr, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < tr->nrecs; i++)
		if (tr->recs[i].kind == TR_PRINT)
			n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s", n ? "|" : "",
					      trace_str(tr, tr->recs[i].text));
}


const char *var_of(const struct trace *tr, const char *name)
{
	for (int i = 0; i < tr->nvars; i++)
		if (strcmp(trace_str(tr, tr->vars[i].name), name) == 0)
			return trace_str(tr, tr->vars[i].repr);
	ck_abort_msg("no variable %s", name);
	return "";
}

void raises_at(const char *text, const char *want)
{
	struct run r;
	run_text(&r, text, NULL);
	ck_assert_int_eq(r.tr->end, END_ERROR);
	ck_assert_msg(strstr(r.tr->end_msg, want), "%s: wanted %s", r.tr->end_msg, want);
	run_free(&r);
}

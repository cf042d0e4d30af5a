/* harness.h — runs scenario text through the parser, compiler and kernel for the tests. */
#ifndef TIMESLICE_TEST_HARNESS_H
#define TIMESLICE_TEST_HARNESS_H

#include <stddef.h>

#include "kernel.h"
#include "metrics.h"

#define MS 1000000LL
#define US 1000LL

struct run {
	struct source *src;
	struct ast_program *ast;
	struct vm_program *prog;
	struct trace *tr;
	struct metrics *m;
};

/* Parses, compiles and runs text with the machine defaults (or *override) plus its machine
 * line; fails the test on a parse or compile error. */
void run_text(struct run *r, const char *text, const struct machine *override);
void run_free(struct run *r);
/* The index of the thread of that name (fails the test when there is none). */
int thread_named(const struct trace *tr, const char *name);
const struct thread_metrics *tm(const struct run *r, const char *name);
/* repr() of the main process's final variable `name` (fails the test when there is none). */
const char *var_of(const struct trace *tr, const char *name);
/* Runs text (machine defaults) and checks that it ends with an uncaught exception whose
 * report contains want ("test.slice:5:1: error: ValueError: ..."). */
void raises_at(const char *text, const char *want);
/* The printed lines joined by '|'. */
void output_of(const struct trace *tr, char *buf, size_t size);

#endif

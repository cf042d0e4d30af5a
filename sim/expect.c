/* expect.c — checks a scenario's `expect` lines against a finished trace.
 *
 * Each expectation is compiled by the VM into a code object of its own and evaluated in the
 * main process's final state; names that are not variables of the program arrive here as
 * SYS_QUERY calls and are answered from the trace and its metrics (docs/language.md lists
 * them). Nothing here knows whether the trace came from the simulator or a real run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "metrics.h"

struct checker {
	struct trace *tr;
	struct metrics *m;
	struct vm_program *prog;
};

static bool arg_str(const struct vm_call *c, int i, const char **s)
{
	if (c->argc <= i || c->argv[i].type != V_STR)
		return false;
	*s = vm_str_data(c->argv[i], NULL);
	return true;
}

/* The thread of that name: a thread's own name, or a process's name for its main thread. */
static int find_thread(const struct trace *tr, const char *name)
{
	for (int i = 0; i < tr->nthreads; i++)
		if (strcmp(trace_str(tr, tr->threads[i].name), name) == 0)
			return i;
	for (int i = 0; i < tr->nprocs; i++)
		if (strcmp(trace_str(tr, tr->procs[i].name), name) == 0)
			return tr->procs[i].main_thread;
	return -1;
}

/* Answers one query. Returns false with a message in err when it cannot. */
static bool query(struct checker *ck, const struct vm_call *c, struct value *out, char *err,
		  size_t errsize)
{
	const struct trace *tr = ck->tr;
	const struct metrics *m = ck->m;
	const char *q = c->name ? c->name : "";
	const char *s = NULL;

	if (c->argc == 0) {
		if (strcmp(q, "makespan") == 0)
			*out = vm_dur(tr->makespan);
		else if (strcmp(q, "deadlock") == 0)
			*out = vm_bool(tr->end == END_DEADLOCK);
		else if (strcmp(q, "cpu_percent") == 0)
			*out = vm_float(m->cpu_percent);
		else if (strcmp(q, "max_parallel") == 0)
			*out = vm_int(m->max_parallel);
		else if (strcmp(q, "race") == 0 || strcmp(q, "races") == 0) {
			if (!tr->races_checked) {
				snprintf(err, errsize, "the race detector did not run");
				return false;
			}
			*out = q[4] ? vm_int(tr->nraces) : vm_bool(tr->nraces > 0);
		} else if (strcmp(q, "context_switches") == 0)
			*out = vm_int(m->context_switches);
		else if (strcmp(q, "lines") == 0) {
			int64_t n = 0;
			for (size_t i = 0; i < tr->nrecs; i++)
				n += tr->recs[i].kind == TR_PRINT;
			*out = vm_int(n);
		} else if (strcmp(q, "output") == 0) {
			int n = 0;
			for (size_t i = 0; i < tr->nrecs; i++)
				n += tr->recs[i].kind == TR_PRINT;
			struct value *items = calloc((size_t)n + 1, sizeof *items);
			if (!items) {
				snprintf(err, errsize, "out of memory");
				return false;
			}
			n = 0;
			for (size_t i = 0; i < tr->nrecs; i++)
				if (tr->recs[i].kind == TR_PRINT) {
					const char *text = trace_str(tr, tr->recs[i].text);
					items[n++] = vm_str(text, strlen(text));
				}
			*out = vm_list(n, items);
			free(items);
		} else {
			snprintf(err, errsize, "name '%s' is not defined (not a variable of the program "
				 "nor something an expectation can ask)", q);
			return false;
		}
		return true;
	}

	if (strcmp(q, "printed") == 0 || strcmp(q, "printed_count") == 0 ||
	    strcmp(q, "line_of") == 0) {
		if (c->argc != 1 || !arg_str(c, 0, &s)) {
			snprintf(err, errsize, "%s() takes one string", q);
			return false;
		}
		int64_t count = 0, index = 0;
		for (size_t i = 0; i < tr->nrecs; i++) {
			const struct trace_rec *r = &tr->recs[i];
			if (r->kind != TR_PRINT)
				continue;
			if (strstr(trace_str(tr, r->text), s)) {
				if (q[0] == 'p' && q[7] == '\0') {
					*out = vm_dur(r->t);
					return true;
				}
				if (q[0] == 'l') {
					*out = vm_int(index);
					return true;
				}
				count++;
			}
			index++;
		}
		if (strcmp(q, "printed_count") == 0) {
			*out = vm_int(count);
			return true;
		}
		snprintf(err, errsize, "no printed line contains \"%s\"", s);
		return false;
	}

	if (strcmp(q, "race_on") == 0) {
		if (c->argc != 1 || !arg_str(c, 0, &s)) {
			snprintf(err, errsize, "race_on() takes the name of a variable");
			return false;
		}
		if (!tr->races_checked) {
			snprintf(err, errsize, "the race detector did not run");
			return false;
		}
		bool found = false;
		for (int i = 0; i < tr->nraces; i++)
			found |= strcmp(trace_str(tr, tr->races[i].var), s) == 0;
		*out = vm_bool(found);
		return true;
	}

	static const char *const per_thread[] = {"started", "ended", "cpu", "ready", "blocked",
						 "first_run"};
	for (size_t i = 0; i < sizeof per_thread / sizeof per_thread[0]; i++) {
		if (strcmp(q, per_thread[i]) != 0)
			continue;
		if (c->argc != 1 || !arg_str(c, 0, &s)) {
			snprintf(err, errsize, "%s() takes the name of a thread or process", q);
			return false;
		}
		int th = find_thread(tr, s);
		if (th < 0) {
			snprintf(err, errsize, "no thread or process is named \"%s\"", s);
			return false;
		}
		const struct thread_metrics *tm = &m->threads[th];
		int64_t v;
		switch (i) {
		case 0: v = tm->start_ns; break;
		case 1: v = tm->end_ns; break;
		case 2: v = tm->cpu_ns; break;
		case 3: v = tm->ready_ns; break;
		case 4: v = tm->blocked_ns; break;
		default: v = tm->first_run_ns; break;
		}
		if (v < 0) {
			snprintf(err, errsize, "\"%s\" never %s", s,
				 i == 1 ? "ended" : i == 5 ? "ran" : "started");
			return false;
		}
		*out = vm_dur(v);
		return true;
	}
	snprintf(err, errsize, "%s() is not something an expectation can ask", q);
	return false;
}

/* Runs expectation i; fills ok and detail. */
static void check_one(struct checker *ck, struct vm_proc *main, int i, bool *ok, char *detail,
		      size_t size)
{
	struct vm_thread *t = vm_thread_create_expect(main, i);
	*ok = false;
	detail[0] = '\0';
	if (!t) {
		snprintf(detail, size, "out of memory");
		return;
	}
	struct vm_call call;
	for (int steps = 0; steps < 10000; steps++) {
		int64_t cost = 0;
		enum vm_status st = vm_run(t, &call, &cost);
		if (st == VM_YIELD)
			continue;
		if (st == VM_EXIT) {
			*ok = vm_truthy(vm_thread_result(t));
			if (!*ok)
				snprintf(detail, size, "%s", vm_expect_detail(t));
			vm_thread_destroy(t);
			return;
		}
		if (st == VM_ERROR) {
			const struct diag *d = vm_thread_error(t);
			snprintf(detail, size, "%s", d->msg);
			vm_thread_destroy(t);
			return;
		}
		char err[256];
		struct value v;
		if (call.sys != SYS_QUERY) {
			vm_raise(t, "RuntimeError", "an expectation cannot act, only look at the run");
			continue;
		}
		if (query(ck, &call, &v, err, sizeof err))
			vm_return(t, v);
		else
			vm_raise(t, "ExpectError", err);
	}
	snprintf(detail, size, "the expectation did not finish evaluating");
	vm_thread_destroy(t);
}

int expect_check(struct trace *tr, struct vm_program *prog, struct vm_proc *main)
{
	struct checker ck = {tr, metrics_compute(tr), prog};
	int failed = 0;
	int n = vm_program_expect_count(prog);
	for (int i = 0; i < n; i++) {
		int line = 0;
		const char *text = "";
		vm_program_expect_info(prog, i, &line, &text);
		bool ok = false;
		char detail[512];
		if (!ck.m)
			snprintf(detail, sizeof detail, "out of memory");
		else
			check_one(&ck, main, i, &ok, detail, sizeof detail);
		failed += !ok;
		trace_add_expect(tr, line, text, ok, ok ? NULL : detail);
	}
	metrics_destroy(ck.m);
	return failed;
}

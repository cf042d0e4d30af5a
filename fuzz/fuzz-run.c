/* fuzz-run.c — libFuzzer target for the whole pipeline: any bytes are parsed, compiled, applied
 * to a machine, simulated and written out (JSON summary, Chrome trace, Gantt), and must end in
 * a diagnostic or a trace without crashing, asserting, leaking or hanging. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ast.h"
#include "diag.h"
#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "trace.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Limits that keep one input cheap: a run that reaches them ends with END_LIMIT or END_UNTIL,
 * which is a clean outcome. Applied after the scenario's own lines so that it cannot lift
 * them. */
static void clamp(struct machine *m)
{
	if (m->cores > 8)
		m->cores = 8;
	if (m->max_events > 20000)
		m->max_events = 20000;
	if (m->max_records > 100000)
		m->max_records = 100000;
	if (m->max_time > 10000000000LL)
		m->max_time = 10000000000LL;
	if (m->until < 0 || m->until > 1000000000LL)
		m->until = 1000000000LL;
	/* A busy loop costs the host one interpreted instruction per `instr` of simulated time
	 * on every core, and the event limit does not bound that (one event may stand for
	 * 100000 instructions): keep it to about 50 million instructions, a few seconds under
	 * the sanitizers. Loops that cost nothing are stopped by the kernel's own check. */
	if (m->instr > 0 && m->instr < 1000000) {
		int64_t cap = 50000000LL * m->instr / m->cores;
		if (m->until > cap)
			m->until = cap;
	}
}

static void write_outputs(const struct trace *tr, const struct metrics *mt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return;
	metrics_print_json(out, tr, mt);
	metrics_print_text(out, tr, mt);
	trace_print_output(out, tr);
	chrome_write(out, tr);
	gantt_print(out, tr, 100, true);
	gantt_print(out, tr, 40, false);
	fclose(out);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source *src = source_from_memory("fuzz.slice", (const char *)data, size);
	if (!src)
		return 0;
	struct diag d;
	char msg[2048];
	struct ast_program *ast = ast_parse(src, &d);
	struct vm_program *prog = ast ? vm_compile(ast, &d) : NULL;
	struct machine m;
	machine_defaults(&m);
	if (!prog || machine_apply_ast(&m, ast, &d) < 0 || machine_apply_run_lines(&m, src, &d) < 0) {
		diag_format(&d, msg, sizeof msg);
		goto done;
	}
	clamp(&m);
	struct trace *tr = sim_run(ast, prog, &m, &d);
	if (!tr) {
		diag_format(&d, msg, sizeof msg);
		goto done;
	}
	struct metrics *mt = metrics_compute(tr);
	if (mt)
		write_outputs(tr, mt);
	metrics_destroy(mt);
	trace_destroy(tr);
done:
	vm_program_destroy(prog);
	ast_program_destroy(ast);
	source_destroy(src);
	return 0;
}

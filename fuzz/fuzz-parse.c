/* fuzz-parse.c — libFuzzer target: any bytes must give a program or exactly one diagnostic,
 * without crashing, leaking or reading past the input. */
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source *src = source_from_memory("fuzz.slice", (const char *)data, size);
	if (!src)
		return 0;
	struct diag d;
	struct ast_program *prog = ast_parse(src, &d);
	if (!prog) {
		char buf[2048];
		diag_format(&d, buf, sizeof buf);
	}
	ast_program_destroy(prog);
	source_destroy(src);
	return 0;
}

/* scenario.c — loading a scenario for the CLI's commands (moved out of main.c so that the
 * `view` and `render` commands load scenarios exactly as `run` does). */
#include "scenario.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundled.h"

void scenario_free(struct scenario *s)
{
	vm_program_destroy(s->prog);
	ast_program_destroy(s->ast);
	source_destroy(s->src);
	memset(s, 0, sizeof *s);
}

/* Loads a file, or a bundled scenario by id. Returns 0, or -1 after printing the diagnostic. */
int scenario_load(const char *name, struct scenario *s)
{
	struct diag d;
	memset(s, 0, sizeof *s);
	const struct bundled_scenario *b = NULL;
	if (access(name, F_OK) != 0)
		b = bundled_find(name);
	if (b) {
		char path[300];
		snprintf(path, sizeof path, "scenarios/%s.slice", b->id);
		s->src = source_from_memory(path, b->text, strlen(b->text));
		s->id = b->id;
		if (!s->src) {
			fprintf(stderr, "timeslice: out of memory\n");
			return -1;
		}
	} else {
		s->src = source_read_file(name, &d);
		if (!s->src) {
			if (errno == ENOENT || access(name, F_OK) != 0)
				snprintf(d.msg, sizeof d.msg,
					 "no such file, and no bundled scenario of that name "
					 "(`timeslice list` shows them)");
			diag_print(&d, stderr);
			return -1;
		}
	}
	s->ast = ast_parse(s->src, &d);
	if (!s->ast) {
		diag_print(&d, stderr);
		scenario_free(s);
		return -1;
	}
	s->prog = vm_compile(s->ast, &d);
	if (!s->prog) {
		diag_print(&d, stderr);
		scenario_free(s);
		return -1;
	}
	return 0;
}

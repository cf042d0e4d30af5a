/* scenario.h — loading a scenario for the CLI's commands: a file, or a bundled one by id;
 * parsed and compiled, with diagnostics printed as file:line:col. */
#ifndef TIMESLICE_CLI_SCENARIO_H
#define TIMESLICE_CLI_SCENARIO_H

#include "ast.h"
#include "diag.h"
#include "vm.h"

/* A loaded scenario: its source, tree and program. */
struct scenario {
	struct source *src;
	struct ast_program *ast;
	struct vm_program *prog;
	const char *id; /* the bundled id, or NULL */
};

/* Loads a file, or a bundled scenario by id (when no file of that name exists). Returns 0,
 * or -1 after printing the diagnostic on stderr; s is then empty. Free with scenario_free. */
int scenario_load(const char *name, struct scenario *s);
void scenario_free(struct scenario *s); /* an empty or freed scenario is safe */

#endif

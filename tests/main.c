/* main.c — runs one suite by name (`timeslice-tests parse`) or all of them. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

struct suite_entry {
	const char *name;
	Suite *(*make)(void);
};

#define ENTRY(name) {#name, name##_suite},
static const struct suite_entry suites[] = {SUITES(ENTRY)};
#undef ENTRY

int main(int argc, char **argv)
{
	SRunner *runner = NULL;
	size_t n = sizeof suites / sizeof suites[0];
	for (size_t i = 0; i < n; i++) {
		bool wanted = argc < 2;
		for (int a = 1; a < argc; a++)
			wanted = wanted || strcmp(argv[a], suites[i].name) == 0;
		if (!wanted)
			continue;
		if (!runner)
			runner = srunner_create(suites[i].make());
		else
			srunner_add_suite(runner, suites[i].make());
	}
	if (!runner) {
		fprintf(stderr, "timeslice-tests: no suite named %s\n", argc > 1 ? argv[1] : "");
		return 2;
	}
	srunner_run_all(runner, CK_NORMAL);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

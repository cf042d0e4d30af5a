/* suites.h — every Check suite of the project, one per module. Add yours to SUITES. */
#ifndef TIMESLICE_TEST_SUITES_H
#define TIMESLICE_TEST_SUITES_H

#include <check.h>

/* X(name): tests/test-name.c defines Suite *name_suite(void). */
#define SUITES(X) \
	X(diag) \
	X(parse) \
	X(trace) \
	X(metrics) \
	X(chrome) \
	X(gantt) \
	X(vm) \
	X(kernel) \
	X(golden) \
	X(sync) \
	X(gil) \
	X(ipc) \
	X(sched) \
	X(viz) \
	X(real) \
	X(aio) \
	X(net) \
	X(profile)

#define DECLARE_SUITE(name) Suite *name##_suite(void);
SUITES(DECLARE_SUITE)
#undef DECLARE_SUITE

#endif

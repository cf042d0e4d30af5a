/* test-profile.c — machine profiles (cli/profile.c): loading a good file, each malformed form
 * with its exact diagnostic, the order profile < scenario < `# run:` lines < flags, and that
 * what `timeslice calibrate` writes (real/calibrate.c) loads back to the values measured.
 * Nothing here asserts on a timing: the calibration runs with 3 repetitions and is only
 * checked for positive, finite figures and a profile that parses. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine.h"
#include "profile.h"
#include "real.h"
#include "suites.h"

static int load_text(struct profile *p, const char *text, struct diag *d)
{
	return profile_load_text(p, "t.profile", text, strlen(text), d);
}

/* The diagnostic's first line: "file:line:col: error: message". */
static const char *first_line(const struct diag *d)
{
	static char buf[2048];
	diag_format(d, buf, sizeof buf);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

START_TEST(test_good_profile)
{
	static const char text[] =
		"# timeslice machine profile: measured by `timeslice calibrate` on h, d, cpu, 2 cores\n"
		"\n"
		"   # an indented comment\n"
		"machine cs=2.13us fork=412us  # a comment after the line\n"
		"machine thread=38.2us, gil_wakeup=25us instr=7ns\n"
		"machine cs=2.5us\n"; /* a later line wins, as in a scenario */
	struct profile p;
	struct diag d;
	ck_assert_msg(load_text(&p, text, &d) == 0, "%s", first_line(&d));
	struct machine def;
	machine_defaults(&def);
	ck_assert_int_eq(p.m.cs, 2500);
	ck_assert_int_eq(p.m.fork_cost, 412000);
	ck_assert_int_eq(p.m.thread_cost, 38200);
	ck_assert_int_eq(p.m.gil_wakeup, 25000);
	ck_assert_int_eq(p.m.instr, 7);
	ck_assert_int_eq(p.m.cores, def.cores); /* what it does not set stays the model's */
	ck_assert_int_eq(p.m.quantum, def.quantum);
	ck_assert_int_eq(p.nkeys, 5);
	ck_assert_str_eq(p.keys[0], "cs");
	ck_assert_str_eq(p.keys[4], "instr");
	ck_assert_str_eq(p.settings,
			 "cs=2.13us fork=412us thread=38.2us gil_wakeup=25us instr=7ns cs=2.5us");
	ck_assert_str_eq(p.path, "t.profile");

	/* only comments: loads, sets nothing */
	ck_assert_int_eq(load_text(&p, "# nothing measured yet\n", &d), 0);
	ck_assert_int_eq(p.nkeys, 0);
	ck_assert_int_eq(p.m.cs, def.cs);
}
END_TEST

START_TEST(test_malformed_profiles)
{
	static const struct {
		const char *text, *diag;
	} cases[] = {
		{"machine cs=fast\n",
		 "t.profile:1:12: error: cs: expected a duration such as 3us (0 to 1h), found 'fast'"},
		{"# ok\nmachine fork=400us\nmachine thread=-3us\n",
		 "t.profile:3:16: error: expected a value for 'thread' (a number, duration, string, "
		 "True, False or name), found '-'"},
		{"machine gil_wakeup=2s\n",
		 "t.profile:1:20: error: gil_wakeup: expected a duration such as 20us (0 to 1s), "
		 "found '2s'"},
		{"cores = 2\n",
		 "t.profile:1:1: error: a machine profile holds only `machine key=value ...` lines "
		 "and comments"},
		{"machine cs=3us\n  print('hi')\n",
		 "t.profile:2:3: error: a machine profile holds only `machine key=value ...` lines "
		 "and comments"},
		{"machine = 3\n",
		 "t.profile:1:1: error: a machine profile holds only `machine key=value ...` lines "
		 "and comments"},
		{"machine_cs=3us\n",
		 "t.profile:1:1: error: a machine profile holds only `machine key=value ...` lines "
		 "and comments"},
		{"machine until=5s\n",
		 "t.profile:1:15: error: 'until' is a run limit: give it on the command line"},
		{"machine cs=3us cs=4us\n",
		 "t.profile:1:16: error: 'cs' is set twice in the machine line"},
	};
	struct machine def;
	machine_defaults(&def);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct profile p = {.nkeys = 99};
		struct diag d;
		ck_assert_msg(load_text(&p, cases[i].text, &d) < 0, "case %zu loaded", i);
		ck_assert_str_eq(first_line(&d), cases[i].diag);
		ck_assert_int_eq(p.nkeys, 99); /* a failed load changes nothing */
	}
	/* an unknown key: at the key (the list of keys that follows is machine.c's) */
	struct profile p;
	struct diag d;
	ck_assert_int_lt(load_text(&p, "machine cs=3us\nmachine warp=9\n", &d), 0);
	ck_assert_msg(strncmp(first_line(&d), "t.profile:2:9: error: unknown machine setting 'warp'",
			      52) == 0, "%s", first_line(&d));
	/* the parser's own errors keep its position */
	ck_assert_int_lt(load_text(&p, "machine cs=\n", &d), 0);
	ck_assert_int_eq(d.line, 1);
	ck_assert_int_eq(d.col, 12);
	ck_assert_str_eq(d.file, "t.profile");
	/* a NUL byte, invalid UTF-8, an empty `machine`: errors, never a crash */
	static const char nul[] = "machine cs=3us\0 fork=1us\n";
	ck_assert_int_lt(profile_load_text(&p, "t.profile", nul, sizeof nul - 1, &d), 0);
	ck_assert_int_lt(load_text(&p, "machine cs=\xff\xfe\n", &d), 0);
	ck_assert_int_lt(load_text(&p, "machine\n", &d), 0);
	ck_assert_int_eq(d.line, 1);
	/* a file that is not there */
	ck_assert_int_lt(profile_load(&p, "/nonexistent/dir/m.profile", &d), 0);
	ck_assert_str_eq(first_line(&d), "/nonexistent/dir/m.profile: error: cannot open machine "
			 "profile: No such file or directory");
	ck_assert_int_lt(profile_load(&p, "/", &d), 0);
	ck_assert_str_eq(first_line(&d), "/: error: cannot open machine profile: Is a directory");
}
END_TEST

START_TEST(test_override_order)
{
	/* profile < scenario's machine line < its # run: lines < flags */
	static const char scen[] =
		"# run: --quantum 5ms\n"
		"machine cores=2 fork=200us\n"
		"print('hi')\n";
	struct profile p;
	struct diag d;
	ck_assert_int_eq(load_text(&p, "machine cs=2us fork=100us quantum=20ms thread=9us\n", &d), 0);
	struct source *src = source_from_memory("s.slice", scen, strlen(scen));
	struct ast_program *ast = ast_parse(src, &d);
	ck_assert_msg(ast != NULL, "%s", d.msg);
	struct profile_flag flags[] = {{"cores", "1"}, {"thread", "11us"}};
	struct machine m;
	ck_assert_int_eq(profile_machine_for(&p.m, ast, src, flags, 2, &m, &d), 0);
	ck_assert_int_eq(m.cs, 2000);          /* the profile's: nobody else sets it */
	ck_assert_int_eq(m.fork_cost, 200000); /* the scenario's machine line over the profile */
	ck_assert_int_eq(m.quantum, 5000000);  /* the # run: line over the profile */
	ck_assert_int_eq(m.cores, 1);          /* the flag over the machine line */
	ck_assert_int_eq(m.thread_cost, 11000); /* the flag over the profile */
	char over[128];
	ck_assert_int_eq(profile_overridden(&p, ast, src, flags, 2, over, sizeof over), 3);
	ck_assert_str_eq(over, "fork, quantum, thread");
	ck_assert_int_eq(profile_overridden(&p, ast, src, NULL, 0, over, sizeof over), 2);
	ck_assert_str_eq(over, "fork, quantum");

	/* a bad flag: reported as the flag, m unchanged */
	struct profile_flag bad[] = {{"quantum", "0"}};
	m.cs = 77;
	ck_assert_int_lt(profile_machine_for(&p.m, ast, src, bad, 1, &m, &d), 0);
	ck_assert_str_eq(first_line(&d),
			 "timeslice: error: --quantum: expected a positive duration such as 10ms, "
			 "found '0'");
	ck_assert_int_eq(m.cs, 77);
	ast_program_destroy(ast);
	source_destroy(src);
}
END_TEST

static void check_sample(const struct real_sample *s, const char *what)
{
	ck_assert_msg(s->n == 3, "%s: %d repetitions", what, s->n);
	ck_assert_msg(isfinite(s->median) && s->median > 0, "%s: median %g", what, s->median);
	ck_assert_msg(s->p25 > 0 && s->p25 <= s->median && s->median <= s->p75 && isfinite(s->p75),
		      "%s: quartiles %g .. %g", what, s->p25, s->p75);
}

/* Writes c as a profile into memory and loads it back. */
static void round_trip(const struct real_calibration *c, struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(real_calibration_write(f, c), 0);
	ck_assert_int_eq(fclose(f), 0);
	struct diag d;
	ck_assert_msg(profile_load_text(p, "calibrated.profile", buf, len, &d) == 0, "%s\n%s",
		      first_line(&d), buf);
	ck_assert_msg(strncmp(buf, "# timeslice machine profile: measured by `timeslice "
			      "calibrate` on ", 60) == 0, "%s", buf);
	free(buf);
}

START_TEST(test_calibration_round_trip)
{
	static struct real_calibration c;
	char err[256] = "";
	ck_assert_msg(real_calibrate(3, &c, err, sizeof err) == 0, "%s", err);
	check_sample(&c.syscall, "syscall");
	check_sample(&c.roundtrip, "round trip");
	check_sample(&c.fork_child, "fork to the child");
	check_sample(&c.fork_return, "fork return");
	check_sample(&c.fork_wait, "fork + waitpid");
	check_sample(&c.thread_start, "thread start");
	check_sample(&c.thread_return, "thread return");
	check_sample(&c.instr, "instr");
	if (c.cpu_b >= 0)
		check_sample(&c.wakeup, "wake-up");
	else
		ck_assert_int_eq(c.gil_wakeup, -1);
	ck_assert_int_ge(c.cs, 0);
	ck_assert_int_ge(c.fork, 0);
	ck_assert_int_ge(c.thread, 0);
	ck_assert_int_ge(c.instr_ns, 0);
	struct profile p;
	round_trip(&c, &p);
	ck_assert_int_eq(p.m.cs, c.cs);
	ck_assert_int_eq(p.m.fork_cost, c.fork);
	ck_assert_int_eq(p.m.thread_cost, c.thread);
	ck_assert_int_eq(p.m.instr, c.instr_ns);
	if (c.gil_wakeup >= 0)
		ck_assert_int_eq(p.m.gil_wakeup, c.gil_wakeup);
	ck_assert_int_eq(p.nkeys, c.gil_wakeup >= 0 ? 5 : 4);

	ck_assert_int_lt(real_calibrate(0, &c, err, sizeof err), 0);
	ck_assert_str_eq(err, "runs: expected 1 to 100000, found 0");
}
END_TEST

START_TEST(test_written_values_parse_back)
{
	/* values whose decimal form does not multiply back exactly (1.001us) are written in ns */
	static const int64_t values[] = {0, 1, 999, 1001, 1003, 2134, 38211, 412345, 1000001,
					 999999999};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		struct real_calibration c = {.runs = 1, .cores = 1, .cpu_a = 0, .cpu_b = -1,
					     .cs = values[i], .fork = values[i] + 1,
					     .thread = values[i] + 2, .gil_wakeup = -1,
					     .instr_ns = values[i] % 1000};
		snprintf(c.host, sizeof c.host, "h");
		snprintf(c.wakeup.why, sizeof c.wakeup.why, "needs two CPUs");
		struct profile p;
		round_trip(&c, &p);
		ck_assert_int_eq(p.m.cs, values[i]);
		ck_assert_int_eq(p.m.fork_cost, values[i] + 1);
		ck_assert_int_eq(p.m.thread_cost, values[i] + 2);
		ck_assert_int_eq(p.m.instr, values[i] % 1000);
		ck_assert_int_eq(p.nkeys, 4);
	}
}
END_TEST

Suite *profile_suite(void)
{
	Suite *s = suite_create("profile");
	TCase *tc = tcase_create("Loading machine profiles");
	tcase_add_test(tc, test_good_profile);
	tcase_add_test(tc, test_malformed_profiles);
	tcase_add_test(tc, test_override_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("Calibration writes a profile that loads back");
	tcase_add_test(tc, test_calibration_round_trip);
	tcase_add_test(tc, test_written_values_parse_back);
	suite_add_tcase(s, tc);
	return s;
}

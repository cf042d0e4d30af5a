/* profile.h — machine profiles: text files of `machine key=value ...` lines and `#` comments
 * (what `timeslice calibrate` writes), loaded by `--machine FILE` underneath a scenario's own
 * settings. The order, lowest first: the model's defaults, the profile, the scenario's
 * `machine` lines, its `# run:` lines, the command-line flags. */
#ifndef TIMESLICE_CLI_PROFILE_H
#define TIMESLICE_CLI_PROFILE_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"
#include "machine.h"

#define PROFILE_MAX_KEYS 48

/* A loaded profile. Plain data: nothing to free. */
struct profile {
	char path[256];
	struct machine m;               /* the model's defaults with the profile applied */
	int nkeys;
	char keys[PROFILE_MAX_KEYS][32]; /* the keys it sets, once each, in order */
	char settings[256];             /* its machine lines' settings as written, joined by a
	                                 * space ("cs=2.13us fork=412us"), cut with "..." */
};

/* A machine setting given on the command line: --key value. */
struct profile_flag {
	const char *key, *value;
};

/* Loads the profile at path. Every line must be blank, a comment, or a `machine` line as a
 * scenario writes it (docs/language.md, "The machine line"), with keys and values that
 * machine_set takes; `until` and `max-events` are run limits, not machine settings.
 * Returns 0, or -1 with *err: at line 0 when the file cannot be read, else at the
 * file:line:col of the first line that is neither, of an unknown key or of a bad value;
 * *p is then unchanged. */
int profile_load(struct profile *p, const char *path, struct diag *err);

/* The same on text in memory; name is the file name diagnostics give. */
int profile_load_text(struct profile *p, const char *name, const char *text, size_t len,
		      struct diag *err);

/* The machine of a scenario: *base (machine_defaults, or a profile's m), then the scenario's
 * `machine` lines, then its `# run:` lines, then flags in order. Returns 0, or -1 with *err
 * (at the scenario's line, or for a flag at line 0 of "timeslice" with the flag's message)
 * and *m unchanged. */
int profile_machine_for(const struct machine *base, const struct ast_program *ast,
			const struct source *src, const struct profile_flag *flags, int nflags,
			struct machine *m, struct diag *err);

/* The keys of p that the scenario (its `machine` and `# run:` lines) or the flags set again,
 * so that they override the profile: written into buf as "cs, fork" (empty when none).
 * Returns how many. '-' and '_' in keys are the same. */
int profile_overridden(const struct profile *p, const struct ast_program *ast,
		       const struct source *src, const struct profile_flag *flags, int nflags,
		       char *buf, size_t size);

#endif

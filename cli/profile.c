/* profile.c — machine profiles (`--machine FILE`): loaded with the scenario language's own
 * parser, so that a profile's `machine` line reads, and fails, exactly as a scenario's does. */
#include "profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char only_machine_lines[] =
	"a machine profile holds only `machine key=value ...` lines and comments";

/* Whether the text (len bytes) is blank, a comment or a `machine` line; if not, the column
 * of its first character in *col. */
static bool profile_line_ok(const char *text, size_t len, int *col)
{
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	*col = (int)i + 1; /* only spaces and tabs before it: bytes are columns */
	if (i == len || text[i] == '#')
		return true;
	static const char kw[] = "machine";
	size_t n = sizeof kw - 1;
	return len - i >= n && memcmp(text + i, kw, n) == 0 &&
	       (len - i == n || text[i + n] == ' ' || text[i + n] == '\t');
}

/* The text of the token at line:col (col in code points) up to a space, tab, comma or '#'. */
static void token_at(const struct source *src, int line, int col, char *buf, size_t size)
{
	size_t len = 0, i = 0;
	const char *text = source_line(src, line, &len);
	buf[0] = '\0';
	if (!text)
		return;
	for (int c = 1; c < col && i < len; c++)
		for (i++; i < len && ((unsigned char)text[i] & 0xC0) == 0x80; i++)
			;
	size_t j = i;
	while (j < len && !strchr(" \t,#", text[j]))
		j++;
	snprintf(buf, size, "%.*s", (int)(j - i), text + i);
}

static bool same_key(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

static void add_key(struct profile *p, const char *key)
{
	for (int i = 0; i < p->nkeys; i++)
		if (same_key(p->keys[i], key))
			return;
	if (p->nkeys < PROFILE_MAX_KEYS)
		snprintf(p->keys[p->nkeys++], sizeof p->keys[0], "%s", key);
}

/* Fills p from a parsed profile whose lines were all checked. */
static void describe(struct profile *p, const struct ast_program *ast)
{
	size_t n = 0;
	bool cut = false;
	for (int i = 0; i < ast->body.n; i++) {
		const struct ast_node *st = ast->body.v[i];
		for (int k = 0; k < st->items.n; k++) {
			const struct ast_node *kw = st->items.v[k];
			char value[96];
			token_at(ast->src, kw->a->line, kw->a->col, value, sizeof value);
			add_key(p, kw->str);
			int w = snprintf(p->settings + n, sizeof p->settings - n, "%s%s=%s",
					 n ? " " : "", kw->str, value);
			if (w < 0 || (size_t)w >= sizeof p->settings - n - 4)
				cut = true;
			else
				n += (size_t)w;
		}
	}
	p->settings[n] = '\0';
	if (cut)
		snprintf(p->settings + n, sizeof p->settings - n, " ...");
}

int profile_load_text(struct profile *p, const char *name, const char *text, size_t len,
		      struct diag *err)
{
	struct source *src = source_from_memory(name, text, len);
	if (!src) {
		diag_set(err, NULL, 0, 0, "out of memory reading the machine profile");
		snprintf(err->file, sizeof err->file, "%s", name);
		return -1;
	}
	int rc = -1;
	struct ast_program *ast = NULL;
	for (int line = 1;; line++) {
		size_t n;
		int col;
		const char *l = source_line(src, line, &n);
		if (!l)
			break;
		if (!profile_line_ok(l, n, &col)) {
			diag_set(err, src, line, col, "%s", only_machine_lines);
			goto out;
		}
	}
	ast = ast_parse(src, err);
	if (!ast)
		goto out;
	for (int i = 0; i < ast->body.n; i++) {
		const struct ast_node *st = ast->body.v[i];
		if (st->kind != AST_MACHINE) { /* `machine = 3`, or a statement after a `;` */
			diag_set(err, src, st->line, st->col, "%s", only_machine_lines);
			goto out;
		}
	}
	struct machine m;
	machine_defaults(&m);
	if (machine_apply_ast(&m, ast, err) < 0)
		goto out;
	memset(p, 0, sizeof *p);
	snprintf(p->path, sizeof p->path, "%s", name);
	p->m = m;
	describe(p, ast);
	rc = 0;
out:
	ast_program_destroy(ast);
	source_destroy(src);
	return rc;
}

int profile_load(struct profile *p, const char *path, struct diag *err)
{
	/* opened here first to say "machine profile", not "scenario", when it fails */
	FILE *f = fopen(path, "rb");
	struct stat st;
	bool dir = f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
	if (dir)
		errno = EISDIR;
	if (!f || dir) {
		diag_set(err, NULL, 0, 0, "cannot open machine profile: %s", strerror(errno));
		snprintf(err->file, sizeof err->file, "%s", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	struct source *src = source_read_file(path, err);
	if (!src)
		return -1;
	int rc = profile_load_text(p, path, src->text, src->len, err);
	source_destroy(src);
	return rc;
}

int profile_machine_for(const struct machine *base, const struct ast_program *ast,
			const struct source *src, const struct profile_flag *flags, int nflags,
			struct machine *m, struct diag *err)
{
	struct machine t = *base;
	if (machine_apply_ast(&t, ast, err) < 0 || machine_apply_run_lines(&t, src, err) < 0)
		return -1;
	for (int i = 0; i < nflags; i++) {
		char msg[256];
		if (machine_set(&t, flags[i].key, flags[i].value, msg, sizeof msg) < 0) {
			diag_set(err, NULL, 0, 0, "--%s", msg);
			snprintf(err->file, sizeof err->file, "timeslice");
			return -1;
		}
	}
	*m = t;
	return 0;
}

/* Whether the scenario or the flags set key. */
static bool set_again(const char *key, const struct ast_program *ast, const struct source *src,
		      const struct profile_flag *flags, int nflags)
{
	for (int i = 0; i < ast->body.n; i++) {
		const struct ast_node *st = ast->body.v[i];
		for (int k = 0; st->kind == AST_MACHINE && k < st->items.n; k++)
			if (st->items.v[k]->str && same_key(st->items.v[k]->str, key))
				return true;
	}
	static const char tag[] = "# run:";
	size_t len;
	const char *text;
	for (int line = 1; (text = source_line(src, line, &len)); line++) {
		if (len < sizeof tag - 1 || strncmp(text, tag, sizeof tag - 1) != 0)
			continue;
		char buf[256];
		snprintf(buf, sizeof buf, "%.*s", (int)len, text);
		char *save = NULL;
		for (char *w = strtok_r(buf + sizeof tag - 1, " \t", &save); w;
		     w = strtok_r(NULL, " \t", &save))
			if (strncmp(w, "--", 2) == 0 && same_key(w + 2, key))
				return true;
	}
	for (int i = 0; i < nflags; i++)
		if (same_key(flags[i].key, key))
			return true;
	return false;
}

int profile_overridden(const struct profile *p, const struct ast_program *ast,
		       const struct source *src, const struct profile_flag *flags, int nflags,
		       char *buf, size_t size)
{
	int count = 0;
	size_t n = 0;
	if (size)
		buf[0] = '\0';
	for (int i = 0; i < p->nkeys; i++) {
		if (!set_again(p->keys[i], ast, src, flags, nflags))
			continue;
		int w = snprintf(buf + n, size - n, "%s%s", count ? ", " : "", p->keys[i]);
		if (w > 0 && (size_t)w < size - n)
			n += (size_t)w;
		count++;
	}
	return count;
}

/* diag.h — source text and diagnostics: every error names file:line:col, echoes the line and
 * points a caret at the column. The CLI, the tests and the window all print them this way. */
#ifndef TIMESLICE_DIAG_H
#define TIMESLICE_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct diag;

/* A scenario's text, kept whole so any diagnostic can echo its line. */
struct source {
	char *name;   /* file name as given, or "<bundled:ID>" */
	char *text;   /* NUL-terminated copy of the file */
	size_t len;   /* bytes in text, not counting the NUL */
};

/* Reads a file. Returns NULL and fills *err (if not NULL) with a diagnostic at line 0 when the
 * file cannot be read, is not UTF-8 text (contains a NUL) or is larger than 16 MiB.
 * The caller frees with source_destroy(). */
struct source *source_read_file(const char *path, struct diag *err);

/* Copies len bytes of text (which may contain anything, including NULs: they make the parser
 * report an error, not stop early). Never returns NULL except when out of memory. */
struct source *source_from_memory(const char *name, const char *text, size_t len);

void source_destroy(struct source *src); /* NULL is safe */

/* Returns a pointer to the start of line `line` (1-based) and its length without the newline
 * in *len; NULL if there is no such line. */
const char *source_line(const struct source *src, int line, size_t *len);

/* One diagnostic. line and col are 1-based; line 0 means "the whole file" (no echo). */
struct diag {
	char file[256];
	int line, col;
	char msg[512];
	char text[256]; /* the echoed source line, truncated to fit; empty when line is 0 */
};

/* Fills d with a message at src:line:col and copies the line's text for the echo.
 * src may be NULL (no echo). The message is formatted like printf. */
void diag_set(struct diag *d, const struct source *src, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void diag_setv(struct diag *d, const struct source *src, int line, int col, const char *fmt,
	       va_list ap);

/* Prints
 *     file:line:col: error: msg
 *         <the line>
 *         ^
 * (the last two lines only when line > 0). */
void diag_print(const struct diag *d, FILE *out);

/* Writes the same as diag_print into buf (always NUL-terminated); returns buf. */
char *diag_format(const struct diag *d, char *buf, size_t size);

#endif

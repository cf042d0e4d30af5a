/* diag.c — source text and diagnostics. */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_MAX_BYTES (16u << 20)

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

struct source *source_from_memory(const char *name, const char *text, size_t len)
{
	struct source *src = calloc(1, sizeof *src);
	if (!src)
		return NULL;
	src->name = strdup(name ? name : "<input>");
	src->text = malloc(len + 1);
	if (!src->name || !src->text) {
		source_destroy(src);
		return NULL;
	}
	memcpy(src->text, text, len);
	src->text[len] = '\0';
	src->len = len;
	return src;
}

struct source *source_read_file(const char *path, struct diag *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (err) {
			diag_set(err, NULL, 0, 0, "cannot open scenario: %s", strerror(errno));
			copy_str(err->file, sizeof err->file, path);
		}
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len == cap) {
			if (cap >= SOURCE_MAX_BYTES)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	bool failed = ferror(f);
	fclose(f);
	if (!buf || failed || len > SOURCE_MAX_BYTES || (len == cap && cap >= SOURCE_MAX_BYTES)) {
		if (err) {
			if (!buf)
				diag_set(err, NULL, 0, 0, "out of memory reading the scenario");
			else if (failed)
				diag_set(err, NULL, 0, 0, "cannot read scenario");
			else
				diag_set(err, NULL, 0, 0, "scenario is larger than the limit of %u MiB",
					 SOURCE_MAX_BYTES >> 20);
			copy_str(err->file, sizeof err->file, path);
		}
		free(buf);
		return NULL;
	}
	struct source *src = source_from_memory(path, buf, len);
	free(buf);
	if (!src && err) {
		diag_set(err, NULL, 0, 0, "out of memory reading the scenario");
		copy_str(err->file, sizeof err->file, path);
	}
	return src;
}

void source_destroy(struct source *src)
{
	if (!src)
		return;
	free(src->name);
	free(src->text);
	free(src);
}

const char *source_line(const struct source *src, int line, size_t *len)
{
	if (!src || line < 1)
		return NULL;
	const char *p = src->text, *end = src->text + src->len;
	for (int l = 1; l < line; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (len)
		*len = n;
	return p;
}

void diag_setv(struct diag *d, const struct source *src, int line, int col, const char *fmt,
	       va_list ap)
{
	memset(d, 0, sizeof *d);
	copy_str(d->file, sizeof d->file, src ? src->name : "");
	d->line = line;
	d->col = col;
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	size_t n = 0;
	const char *text = source_line(src, line, &n);
	if (text) {
		if (n >= sizeof d->text)
			n = sizeof d->text - 1;
		memcpy(d->text, text, n);
		d->text[n] = '\0';
		/* control characters would garble the terminal; show them as '?' */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)d->text[i] < 0x20 && d->text[i] != '\t')
				d->text[i] = '?';
	}
}

void diag_set(struct diag *d, const struct source *src, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_setv(d, src, line, col, fmt, ap);
	va_end(ap);
}

char *diag_format(const struct diag *d, char *buf, size_t size)
{
	if (!size)
		return buf;
	if (d->line <= 0) {
		snprintf(buf, size, "%s: error: %s\n", d->file, d->msg);
		return buf;
	}
	/* The caret goes under the column, which counts characters (UTF-8 code points). Tabs are
	 * kept and East Asian wide characters take two cells, so it lines up on a terminal. */
	char pad[512];
	size_t np = 0;
	const unsigned char *p = (const unsigned char *)d->text;
	for (int c = 1; c < d->col && *p && np + 3 < sizeof pad; c++) {
		uint32_t cp = *p;
		int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : cp >= 0xC0 ? 1 : 0;
		if (extra)
			cp &= 0x3Fu >> extra;
		p++;
		for (; extra > 0 && (*p & 0xC0) == 0x80; extra--, p++)
			cp = (cp << 6) | (*p & 0x3F);
		bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
			    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
			    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
			    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
		if (cp == '\t')
			pad[np++] = '\t';
		else {
			pad[np++] = ' ';
			if (wide)
				pad[np++] = ' ';
		}
	}
	pad[np] = '\0';
	snprintf(buf, size, "%s:%d:%d: error: %s\n    %s\n    %s^\n", d->file, d->line, d->col,
		 d->msg, d->text, pad);
	return buf;
}

void diag_print(const struct diag *d, FILE *out)
{
	char buf[2048];
	fputs(diag_format(d, buf, sizeof buf), out);
}

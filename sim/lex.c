/* lex.c — the scenario language's tokenizer (see lex.h). One pass, no backtracking beyond a
 * few bytes, so the time is linear in the size of the source. */
#include "lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEX_MAX_NESTING 200 /* the parser's limit too: brackets beyond it cannot be parsed */

static const struct {
	const char *name;
	int type;
} keywords[] = {
	{"def", LEX_DEF},       {"return", LEX_RETURN},     {"if", LEX_IF},
	{"elif", LEX_ELIF},     {"else", LEX_ELSE},         {"while", LEX_WHILE},
	{"for", LEX_FOR},       {"in", TOK_IN},             {"not", TOK_NOT},
	{"and", TOK_AND},       {"or", TOK_OR},             {"is", TOK_IS},
	{"None", LEX_NONE},     {"True", LEX_TRUE},         {"False", LEX_FALSE},
	{"pass", LEX_PASS},     {"break", LEX_BREAK},       {"continue", LEX_CONTINUE},
	{"global", LEX_GLOBAL}, {"import", LEX_IMPORT},     {"from", LEX_FROM},
	{"as", LEX_AS},         {"with", LEX_WITH},
	{"async", LEX_ASYNC},   {"await", LEX_AWAIT},       {"try", LEX_TRY},
	{"except", LEX_EXCEPT}, {"finally", LEX_FINALLY},   {"raise", LEX_RAISE},
	{"lambda", LEX_LAMBDA}, {"class", LEX_CLASS},
};

/* Python keywords the language does not have yet: naming them is an error, so that a program
 * written for a later version fails loudly instead of being misread. */
static const char *const reserved[] = {
	"yield", "nonlocal", "del", "assert",
};

uint32_t lex_utf8_decode(const char *s, int *n)
{
	const unsigned char *p = (const unsigned char *)s;
	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	if (p[0] < 0xE0) {
		*n = 2;
		return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
	}
	if (p[0] < 0xF0) {
		*n = 3;
		return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) |
		       (p[2] & 0x3F);
	}
	*n = 4;
	return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
	       ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

/* Python uses the Unicode XID_Start / XID_Continue tables. Carrying those tables is not worth
 * it here: every non-ASCII character counts as a letter except the punctuation, symbol, space,
 * private-use and emoji blocks below, which is right for every script's letters and wrong only
 * for rare symbols (which then become names instead of errors). */
bool lex_is_name_char(uint32_t c, bool first)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		       (!first && c >= '0' && c <= '9');
	if (c < 0xC0)
		return c == 0xAA || c == 0xB5 || c == 0xBA;
	if (c == 0xD7 || c == 0xF7)
		return false;
	static const uint32_t not_letters[][2] = {
		{0x2000, 0x206F}, {0x20A0, 0x20CF}, {0x2190, 0x2BFF}, {0x2E00, 0x2E7F},
		{0x3000, 0x3003}, {0x3008, 0x3020}, {0x3030, 0x3030}, {0xD800, 0xF8FF},
		{0xFE10, 0xFE1F}, {0xFE30, 0xFE6F}, {0xFEFF, 0xFEFF}, {0xFF01, 0xFF0F},
		{0xFF1A, 0xFF20}, {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65}, {0xFFF0, 0xFFFF},
		{0x1F000, 0x1FAFF}, {0xE0000, 0x10FFFF},
	};
	for (size_t i = 0; i < sizeof not_letters / sizeof not_letters[0]; i++)
		if (c >= not_letters[i][0] && c <= not_letters[i][1])
			return false;
	return true;
}

static void set_error(struct lexer *lx, struct lex_token *t, int line, int col, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));

static void set_error(struct lexer *lx, struct lex_token *t, int line, int col, const char *fmt,
		      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lx->errmsg, sizeof lx->errmsg, fmt, ap);
	va_end(ap);
	memset(&lx->errtok, 0, sizeof lx->errtok);
	lx->errtok.type = LEX_ERROR;
	lx->errtok.line = line;
	lx->errtok.col = col;
	lx->errtok.start = lx->p;
	lx->errtok.msg = lx->errmsg;
	lx->failed = true;
	*t = lx->errtok;
}

/* Returns the first encoding problem's message and position, or NULL. Checked before lexing
 * so that the rest of the lexer may assume well-formed UTF-8 with no NULs. */
static const char *check_encoding(const struct source *src, int *line, int *col, unsigned *byte)
{
	const unsigned char *p = (const unsigned char *)src->text;
	const unsigned char *end = p + src->len;
	*line = 1;
	*col = 1;
	while (p < end) {
		unsigned c = *p;
		size_t need;
		unsigned lo = 0x80, hi = 0xBF;
		if (c == 0)
			return "NUL character in source";
		if (c < 0x80) {
			p++;
			if (c == '\n') {
				++*line;
				*col = 1;
			} else {
				++*col;
			}
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			*byte = c;
			return "invalid UTF-8 (byte 0x%02X)";
		}
		if ((size_t)(end - p) <= need) {
			*byte = c;
			return "invalid UTF-8 (byte 0x%02X)";
		}
		for (size_t i = 1; i <= need; i++) {
			unsigned lim_lo = i == 1 ? lo : 0x80, lim_hi = i == 1 ? hi : 0xBF;
			if (p[i] < lim_lo || p[i] > lim_hi) {
				*byte = c;
				return "invalid UTF-8 (byte 0x%02X)";
			}
		}
		p += need + 1;
		++*col;
	}
	return NULL;
}

static void common_init(struct lexer *lx, const struct source *src)
{
	memset(lx, 0, sizeof *lx);
	lx->src = src;
	lx->line = 1;
	lx->col = 1;
	lx->last_line = 1;
	lx->last_col = 1;
}

void lex_init(struct lexer *lx, const struct source *src)
{
	common_init(lx, src);
	lx->p = src->text;
	lx->end = src->text + src->len;
	lx->at_bol = true;
	lx->indents = malloc(16 * sizeof *lx->indents);
	lx->capindent = 16;
	struct lex_token dummy;
	if (!lx->indents) {
		set_error(lx, &dummy, 1, 1, "out of memory");
		return;
	}
	lx->indents[0] = 0;
	lx->nindent = 1;
	int line, col;
	unsigned byte = 0;
	const char *msg = check_encoding(src, &line, &col, &byte);
	if (msg)
		set_error(lx, &dummy, line, col, msg, byte);
	else if (src->len >= 3 && memcmp(src->text, "\xEF\xBB\xBF", 3) == 0) {
		lx->p += 3; /* a byte order mark is a character the echoed line keeps */
		lx->col = 2;
	}
}

void lex_init_field(struct lexer *lx, const struct source *src, const char *begin,
		    const char *end, int line, int col)
{
	common_init(lx, src);
	lx->p = begin;
	lx->end = end;
	lx->line = lx->last_line = line;
	lx->col = lx->last_col = col;
	lx->field = true;
}

void lex_finish(struct lexer *lx)
{
	free(lx->indents);
	free(lx->brackets);
	lx->indents = NULL;
	lx->brackets = NULL;
}

/* Advances over n bytes that contain no newline. */
static void skip(struct lexer *lx, size_t n)
{
	for (size_t i = 0; i < n; i++, lx->p++)
		if (((unsigned char)*lx->p & 0xC0) != 0x80)
			lx->col++;
}

static void newline(struct lexer *lx)
{
	lx->p++;
	lx->line++;
	lx->col = 1;
}

static int peekc(const struct lexer *lx, size_t k)
{
	return lx->p + k < lx->end ? (unsigned char)lx->p[k] : -1;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Measures the indentation of the line at p. Returns true when it produced a token (INDENT,
 * DEDENT or an error); false when the caller should go on lexing (same level, or a blank line
 * was skipped and p is at the next line or the end). */
static bool indentation(struct lexer *lx, struct lex_token *t)
{
	for (;;) {
		int width = 0;
		while (lx->p < lx->end) {
			char c = *lx->p;
			if (c == ' ')
				width++;
			else if (c == '\t')
				width = (width / 8 + 1) * 8;
			else if (c == '\f')
				width = 0;
			else if (c == '\r' && peekc(lx, 1) != '\n')
				; /* a lone CR is blank space, as source_line sees lines */
			else
				break;
			skip(lx, 1);
		}
		if (lx->p >= lx->end)
			return false; /* end of file: the caller closes the blocks */
		char c = *lx->p;
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				skip(lx, 1);
			continue;
		}
		if (c == '\r' && peekc(lx, 1) == '\n')
			skip(lx, 1), c = '\n';
		if (c == '\n') {
			newline(lx);
			continue;
		}
		/* the line has a token: compare its indentation with the open blocks' */
		lx->at_bol = false;
		memset(t, 0, sizeof *t);
		t->line = lx->line;
		t->col = lx->col;
		t->start = lx->p;
		int top = lx->indents[lx->nindent - 1];
		if (width == top)
			return false;
		if (width > top) {
			if (lx->nindent == lx->capindent) {
				int ncap = lx->capindent * 2;
				int *ni = realloc(lx->indents, (size_t)ncap * sizeof *ni);
				if (!ni) {
					set_error(lx, t, t->line, t->col, "out of memory");
					return true;
				}
				lx->indents = ni;
				lx->capindent = ncap;
			}
			lx->indents[lx->nindent++] = width;
			t->type = LEX_INDENT;
			return true;
		}
		int n = 0;
		while (lx->nindent > 1 && lx->indents[lx->nindent - 1] > width) {
			lx->nindent--;
			n++;
		}
		if (lx->indents[lx->nindent - 1] != width) {
			set_error(lx, t, t->line, t->col,
				  "unindent does not match any outer indentation level");
			return true;
		}
		lx->pending_dedents = n - 1;
		t->type = LEX_DEDENT;
		return true;
	}
}

static bool push_bracket(struct lexer *lx, struct lex_token *t)
{
	if (lx->nbracket >= LEX_MAX_NESTING) {
		set_error(lx, t, t->line, t->col, "nesting deeper than %d levels", LEX_MAX_NESTING);
		return false;
	}
	if (lx->nbracket == lx->capbracket) {
		int ncap = lx->capbracket ? lx->capbracket * 2 : 16;
		struct lex_bracket *nb = realloc(lx->brackets, (size_t)ncap * sizeof *nb);
		if (!nb) {
			set_error(lx, t, t->line, t->col, "out of memory");
			return false;
		}
		lx->brackets = nb;
		lx->capbracket = ncap;
	}
	lx->brackets[lx->nbracket++] = (struct lex_bracket){*lx->p, t->line, t->col};
	return true;
}

static const char *bracket_name(char c)
{
	return c == '(' ? "'('" : c == ')' ? "')'" : c == '[' ? "'['" : c == ']' ? "']'"
	       : c == '{' ? "'{'" : "'}'";
}

/* Reads a name (the caller checked its first character). */
static void read_name(struct lexer *lx)
{
	while (lx->p < lx->end) {
		unsigned char c = (unsigned char)*lx->p;
		if (c < 0x80) {
			if (!lex_is_name_char(c, false))
				break;
			lx->p++;
			lx->col++;
		} else {
			int n;
			uint32_t cp = lex_utf8_decode(lx->p, &n);
			if (!lex_is_name_char(cp, false))
				break;
			lx->p += n;
			lx->col++;
		}
	}
}

/* Reads a quoted string whose quote is at p (the prefix, if any, is already read). */
static void read_string(struct lexer *lx, struct lex_token *t, unsigned flags)
{
	char q = *lx->p;
	bool triple = peekc(lx, 1) == q && peekc(lx, 2) == q;
	size_t ql = triple ? 3 : 1;
	t->type = LEX_STRING;
	t->str_flags = flags | (triple ? LEX_STR_TRIPLE : 0);
	t->str_skip = (int)(lx->p - t->start + (ptrdiff_t)ql);
	skip(lx, ql);
	const char *body = lx->p;
	for (;;) {
		if (lx->p >= lx->end) {
			set_error(lx, t, t->line, t->col,
				  triple ? "unterminated triple-quoted string" : "unterminated string");
			return;
		}
		char c = *lx->p;
		if (c == '\\') {
			skip(lx, 1);
			if (lx->p >= lx->end)
				continue;
			if (*lx->p == '\r' && peekc(lx, 1) == '\n')
				skip(lx, 1);
			if (*lx->p == '\n')
				newline(lx);
			else
				skip(lx, 1);
			continue;
		}
		if (c == '\n') {
			if (!triple) {
				set_error(lx, t, t->line, t->col, "unterminated string");
				return;
			}
			newline(lx);
			continue;
		}
		if (c == q && (!triple || (peekc(lx, 1) == q && peekc(lx, 2) == q))) {
			t->str_len = (size_t)(lx->p - body);
			skip(lx, ql);
			return;
		}
		skip(lx, 1);
	}
}

static int unit_exponent(const char *u, size_t n, int *mult)
{
	/* ns = 10^0, us = 10^3 ... ; min and h are 6 and 36 times a power of ten */
	*mult = 1;
	if (n == 2 && memcmp(u, "ns", 2) == 0)
		return 0;
	if ((n == 2 && memcmp(u, "us", 2) == 0) || (n == 3 && memcmp(u, "\xC2\xB5s", 3) == 0) ||
	    (n == 3 && memcmp(u, "\xCE\xBCs", 3) == 0))
		return 3;
	if (n == 2 && memcmp(u, "ms", 2) == 0)
		return 6;
	if (n == 1 && u[0] == 's')
		return 9;
	if (n == 3 && memcmp(u, "min", 3) == 0) {
		*mult = 6;
		return 10;
	}
	if (n == 1 && u[0] == 'h') {
		*mult = 36;
		return 11;
	}
	return -1;
}

/* The exact value of digits × 10^exp × mult in nanoseconds, computed on decimal digit strings
 * so that 1.1s is 1100000000 and not 1099999999.9999. Returns 0 on success, 1 when the value is
 * not whole, 2 when it does not fit in int64. `digits` has room for 3 more characters. */
static int decimal_to_ns(char *digits, size_t n, long exp, int mult, int64_t *out)
{
	size_t lead = 0;
	while (lead < n && digits[lead] == '0')
		lead++;
	memmove(digits, digits + lead, n - lead);
	n -= lead;
	while (n > 0 && digits[n - 1] == '0') {
		n--;
		exp++;
	}
	if (n == 0) {
		*out = 0;
		return 0;
	}
	if (mult > 1) { /* digits *= mult, schoolbook, growing at the front */
		int carry = 0;
		for (size_t i = n; i-- > 0;) {
			int v = (digits[i] - '0') * mult + carry;
			digits[i] = (char)('0' + v % 10);
			carry = v / 10;
		}
		while (carry) {
			memmove(digits + 1, digits, n++);
			digits[0] = (char)('0' + carry % 10);
			carry /= 10;
		}
		while (n > 0 && digits[n - 1] == '0') {
			n--;
			exp++;
		}
	}
	if (exp < 0)
		return 1; /* the last digit is not zero, so something is left after the point */
	if ((long)n + exp > 19)
		return 2;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(digits[i] - '0');
	for (long i = 0; i < exp; i++)
		v *= 10; /* at most 19 digits in all: no wrap-around */
	if (v > (uint64_t)INT64_MAX)
		return 2;
	*out = (int64_t)v;
	return 0;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a run of digits of the given base with single '_' between them. Returns false (and
 * leaves p on the bad character) if an underscore is misplaced. */
static bool read_digits(struct lexer *lx, int base, bool *any)
{
	*any = false;
	while (lx->p < lx->end) {
		int c = (unsigned char)*lx->p;
		int v = hex_value(c);
		if (c == '_') {
			int d = peekc(lx, 1);
			int dv = d < 0 ? -1 : hex_value(d);
			if (!*any || dv < 0 || dv >= base)
				return false;
			skip(lx, 1);
			continue;
		}
		if (v < 0 || v >= base)
			break;
		*any = true;
		skip(lx, 1);
	}
	return true;
}

static bool starts_name(const struct lexer *lx)
{
	if (lx->p >= lx->end)
		return false;
	int n;
	return lex_is_name_char(lex_utf8_decode(lx->p, &n), false);
}

/* After the integer part, p is at '.': is what follows an attribute name (`1.real`) rather
 * than the rest of the number (`1.5`, `1.`, `1.e3`)? */
static bool starts_name_after_dot(const struct lexer *lx)
{
	int c = peekc(lx, 1);
	if ((c == 'e' || c == 'E') &&
	    (is_digit(peekc(lx, 2)) ||
	     ((peekc(lx, 2) == '+' || peekc(lx, 2) == '-') && is_digit(peekc(lx, 3)))))
		return false;
	if (lx->p + 1 >= lx->end)
		return false;
	int n;
	return lex_is_name_char(lex_utf8_decode(lx->p + 1, &n), true);
}

static void read_number(struct lexer *lx, struct lex_token *t)
{
	const char *s = lx->p;
	bool any;
	int c1 = peekc(lx, 1);
	if (*s == '0' && c1 >= 0 && strchr("xXoObB", c1)) {
		int base = (c1 == 'x' || c1 == 'X') ? 16 : (c1 == 'o' || c1 == 'O') ? 8 : 2;
		const char *what = base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary";
		skip(lx, 2);
		if (peekc(lx, 0) == '_')
			skip(lx, 1);
		if (!read_digits(lx, base, &any) || !any || starts_name(lx) || is_digit(peekc(lx, 0))) {
			set_error(lx, t, t->line, t->col, "invalid %s literal", what);
			return;
		}
		uint64_t v = 0;
		for (const char *q = s + 2; q < lx->p; q++) {
			if (*q == '_')
				continue;
			if (v > ((uint64_t)INT64_MAX - (uint64_t)hex_value(*q)) / (uint64_t)base) {
				set_error(lx, t, t->line, t->col, "integer literal too large");
				return;
			}
			v = v * (uint64_t)base + (uint64_t)hex_value(*q);
		}
		t->type = LEX_INT;
		t->ival = (int64_t)v;
		return;
	}
	bool is_float = false;
	if (*s != '.') {
		if (!read_digits(lx, 10, &any)) {
			set_error(lx, t, t->line, t->col, "invalid decimal literal");
			return;
		}
	}
	if (peekc(lx, 0) == '.' &&
	    (is_digit(peekc(lx, 1)) || !starts_name_after_dot(lx))) {
		is_float = true;
		skip(lx, 1);
		if (is_digit(peekc(lx, 0)) && !read_digits(lx, 10, &any)) {
			set_error(lx, t, t->line, t->col, "invalid decimal literal");
			return;
		}
	}
	if ((peekc(lx, 0) == 'e' || peekc(lx, 0) == 'E') &&
	    (is_digit(peekc(lx, 1)) ||
	     ((peekc(lx, 1) == '+' || peekc(lx, 1) == '-') && is_digit(peekc(lx, 2))))) {
		is_float = true;
		skip(lx, 2);
		if (!read_digits(lx, 10, &any)) {
			set_error(lx, t, t->line, t->col, "invalid decimal literal");
			return;
		}
	}
	const char *num_end = lx->p;
	size_t nlen = (size_t)(num_end - s);
	/* a unit right after the number makes it a duration */
	const char *unit = NULL;
	size_t ulen = 0;
	int uline = lx->line, ucol = lx->col;
	if (starts_name(lx)) {
		unit = lx->p;
		read_name(lx);
		ulen = (size_t)(lx->p - unit);
	}
	char small[64];
	char *buf = nlen + 4 <= sizeof small ? small : malloc(nlen + 4);
	if (!buf) {
		set_error(lx, t, t->line, t->col, "out of memory");
		return;
	}
	size_t bn = 0;
	for (const char *q = s; q < num_end; q++)
		if (*q != '_')
			buf[bn++] = *q;
	buf[bn] = '\0';
	if (unit) {
		int mult;
		int e10 = unit_exponent(unit, ulen, &mult);
		if (e10 < 0) {
			set_error(lx, t, uline, ucol, "unknown duration unit '%.*s'",
				  (int)(ulen > 40 ? 40 : ulen), unit);
		} else {
			/* split buf into significant digits and a power of ten */
			size_t nd = 0;
			long exp = e10;
			bool frac = false;
			size_t i = 0;
			for (; i < bn && buf[i] != 'e' && buf[i] != 'E'; i++) {
				if (buf[i] == '.') {
					frac = true;
					continue;
				}
				buf[nd++] = buf[i];
				if (frac)
					exp--;
			}
			if (i < bn) {
				long e = strtol(buf + i + 1, NULL, 10); /* saturates on huge exponents */
				if (e > 100000)
					e = 100000;
				if (e < -100000)
					e = -100000;
				exp += e;
			}
			int64_t ns = 0;
			int r = decimal_to_ns(buf, nd, exp, mult, &ns);
			int tl = (int)(lx->p - s > 60 ? 60 : lx->p - s);
			if (r == 1)
				set_error(lx, t, t->line, t->col,
					  "duration %.*s is not a whole number of nanoseconds", tl, s);
			else if (r == 2)
				set_error(lx, t, t->line, t->col, "duration %.*s is too large", tl, s);
			else {
				t->type = LEX_DURATION;
				t->ival = ns;
			}
		}
	} else if (is_float) {
		t->type = LEX_FLOAT;
		t->fval = strtod(buf, NULL);
	} else {
		bool leading_zero = bn > 1 && buf[0] == '0';
		for (size_t i = 0; leading_zero && i < bn; i++)
			if (buf[i] != '0')
				break;
			else if (i == bn - 1)
				leading_zero = false; /* 000 is zero, as in Python */
		uint64_t v = 0;
		bool big = false;
		for (size_t i = 0; i < bn && !big; i++) {
			uint64_t d = (uint64_t)(buf[i] - '0');
			if (v > ((uint64_t)INT64_MAX - d) / 10)
				big = true;
			v = v * 10 + d;
		}
		if (leading_zero)
			set_error(lx, t, t->line, t->col,
				  "leading zeros in decimal integer literals are not permitted");
		else if (big)
			set_error(lx, t, t->line, t->col, "integer literal too large");
		else {
			t->type = LEX_INT;
			t->ival = (int64_t)v;
		}
	}
	if (buf != small)
		free(buf);
}

static int keyword_type(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strlen(keywords[i].name) == n && memcmp(keywords[i].name, s, n) == 0)
			return keywords[i].type;
	return LEX_NAME;
}

static bool is_reserved(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strlen(reserved[i]) == n && memcmp(reserved[i], s, n) == 0)
			return true;
	return false;
}

static bool ascii_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* A string prefix (r, f, u, b, rf, fr, rb, br in either case) right before a quote? Returns
 * the flags, or -1 if the name is not a prefix. */
static int string_prefix(const char *s, size_t n)
{
	unsigned flags = 0;
	if (n == 0 || n > 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == 'r' || c == 'R')
			flags |= LEX_STR_RAW;
		else if (c == 'f' || c == 'F')
			flags |= LEX_STR_F;
		else if (c == 'b' || c == 'B')
			flags |= LEX_STR_BYTES;
		else if ((c == 'u' || c == 'U') && n == 1)
			;
		else
			return -1;
	}
	if (n == 2 && flags != (LEX_STR_RAW | LEX_STR_F) && flags != (LEX_STR_RAW | LEX_STR_BYTES))
		return -1;
	return (int)flags;
}

/* Reads an operator or punctuation character at p into t. */
static void read_operator(struct lexer *lx, struct lex_token *t)
{
	int c = (unsigned char)*lx->p, c1 = peekc(lx, 1), c2 = peekc(lx, 2);
	size_t n = 1;
	t->type = c;
	switch (c) {
	case '(':
	case '[':
	case '{':
		if (!push_bracket(lx, t))
			return;
		break;
	case ')':
	case ']':
	case '}': {
		if (lx->nbracket == 0) {
			set_error(lx, t, t->line, t->col, "unmatched %s", bracket_name((char)c));
			return;
		}
		struct lex_bracket *b = &lx->brackets[lx->nbracket - 1];
		if (c != (b->ch == '(' ? ')' : b->ch == '[' ? ']' : '}')) {
			set_error(lx, t, t->line, t->col,
				  "closing %s does not match %s on line %d", bracket_name((char)c),
				  bracket_name(b->ch), b->line);
			return;
		}
		lx->nbracket--;
		break;
	}
	case '@':
		set_error(lx, t, t->line, t->col,
			  "decorators ('@') are not part of the scenario language yet");
		return;
	case ',': case ';': case '.': case '~':
		break;
	case ':':
		if (c1 == '=') {
			set_error(lx, t, t->line, t->col,
				  "':=' is not part of the scenario language yet");
			return;
		}
		break;
	case '=':
		if (c1 == '=')
			t->type = TOK_EQ, n = 2;
		break;
	case '!':
		if (c1 != '=') {
			set_error(lx, t, t->line, t->col, "invalid character '!' (U+0021)");
			return;
		}
		t->type = TOK_NE, n = 2;
		break;
	case '<':
	case '>': {
		int shift = c == '<' ? TOK_SHL : TOK_SHR;
		if (c1 == c && c2 == '=')
			t->type = LEX_AUGASSIGN, t->op = shift, n = 3;
		else if (c1 == c)
			t->type = shift, n = 2;
		else if (c1 == '=')
			t->type = c == '<' ? TOK_LE : TOK_GE, n = 2;
		break;
	}
	case '*':
	case '/': {
		int dbl = c == '*' ? TOK_POW : TOK_FLOORDIV;
		if (c1 == c && c2 == '=')
			t->type = LEX_AUGASSIGN, t->op = dbl, n = 3;
		else if (c1 == c)
			t->type = dbl, n = 2;
		else if (c1 == '=')
			t->type = LEX_AUGASSIGN, t->op = c, n = 2;
		break;
	}
	case '+': case '-': case '%': case '|': case '^': case '&':
		if (c1 == '=')
			t->type = LEX_AUGASSIGN, t->op = c, n = 2;
		break;
	default:
		if (c >= 0x20 && c < 0x7F)
			set_error(lx, t, t->line, t->col, "invalid character '%c' (U+%04X)", c,
				  (unsigned)c);
		else
			set_error(lx, t, t->line, t->col, "invalid character (U+%04X)", (unsigned)c);
		return;
	}
	skip(lx, n);
}

static void finish_token(struct lexer *lx, struct lex_token *t)
{
	if (lx->failed)
		return;
	t->len = (size_t)(lx->p - t->start);
	lx->last_line = lx->line;
	lx->last_col = lx->col;
	lx->line_has_tokens = true;
}

static void simple_token(struct lexer *lx, struct lex_token *t, int type)
{
	memset(t, 0, sizeof *t);
	t->type = type;
	t->line = lx->last_line;
	t->col = lx->last_col;
	t->start = lx->p;
}

void lex_next(struct lexer *lx, struct lex_token *t)
{
	if (lx->failed) {
		*t = lx->errtok;
		return;
	}
	if (lx->pending_dedents > 0) {
		lx->pending_dedents--;
		simple_token(lx, t, LEX_DEDENT);
		t->line = lx->line;
		t->col = lx->col;
		return;
	}
	for (;;) {
		if (lx->at_bol && !lx->field && lx->nbracket == 0 && indentation(lx, t))
			return;
		lx->at_bol = false;
		if (lx->p >= lx->end)
			break;
		unsigned char c = (unsigned char)*lx->p;
		if (c == ' ' || c == '\t' || c == '\f' || (c == '\r' && peekc(lx, 1) != '\n')) {
			skip(lx, 1);
			continue;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				skip(lx, 1);
			continue;
		}
		if (c == '\\') {
			int c1 = peekc(lx, 1);
			if (c1 == '\r' && peekc(lx, 2) == '\n') {
				skip(lx, 2);
				newline(lx);
				continue;
			}
			if (c1 == '\n') {
				skip(lx, 1);
				newline(lx);
				continue;
			}
			memset(t, 0, sizeof *t);
			set_error(lx, t, lx->line, lx->col,
				  c1 < 0 ? "unexpected end of file after line continuation character"
					 : "unexpected character after line continuation character");
			return;
		}
		if (c == '\r' || c == '\n') {
			if (c == '\r')
				skip(lx, 1);
			if (lx->field || lx->nbracket > 0) {
				newline(lx);
				continue;
			}
			bool owed = lx->line_has_tokens;
			simple_token(lx, t, LEX_NEWLINE);
			newline(lx);
			lx->at_bol = true;
			if (owed) {
				lx->line_has_tokens = false;
				return;
			}
			continue;
		}
		memset(t, 0, sizeof *t);
		t->line = lx->line;
		t->col = lx->col;
		t->start = lx->p;
		if (is_digit(c) || (c == '.' && is_digit(peekc(lx, 1)))) {
			read_number(lx, t);
			finish_token(lx, t);
			return;
		}
		if (c == '"' || c == '\'') {
			read_string(lx, t, 0);
			finish_token(lx, t);
			return;
		}
		int n;
		uint32_t cp = lex_utf8_decode(lx->p, &n);
		if (lex_is_name_char(cp, true)) {
			read_name(lx);
			size_t len = (size_t)(lx->p - t->start);
			if (lx->p < lx->end && (*lx->p == '"' || *lx->p == '\'')) {
				int flags = string_prefix(t->start, len);
				if (flags >= 0) {
					read_string(lx, t, (unsigned)flags);
					if (t->type == LEX_STRING && (flags & LEX_STR_BYTES) &&
					    !ascii_only(t->start + t->str_skip, t->str_len)) {
						set_error(lx, t, t->line, t->col,
							  "bytes can only contain ASCII literal characters");
						return;
					}
					finish_token(lx, t);
					return;
				}
			}
			t->type = keyword_type(t->start, len);
			if (t->type == LEX_NAME && is_reserved(t->start, len)) {
				set_error(lx, t, t->line, t->col,
					  "'%.*s' is not part of the scenario language yet", (int)len,
					  t->start);
				return;
			}
			finish_token(lx, t);
			return;
		}
		if (cp == 0xB1) { /* ± */
			t->type = LEX_PLUSMINUS;
			skip(lx, (size_t)n);
			finish_token(lx, t);
			return;
		}
		if (cp >= 0x80) {
			set_error(lx, t, t->line, t->col, "invalid character '%.*s' (U+%04X)", n,
				  t->start, (unsigned)cp);
			return;
		}
		read_operator(lx, t);
		finish_token(lx, t);
		return;
	}
	/* end of input */
	if (lx->field) {
		simple_token(lx, t, LEX_EOF);
		t->line = lx->line;
		t->col = lx->col;
		return;
	}
	if (lx->nbracket > 0) {
		struct lex_bracket *b = &lx->brackets[lx->nbracket - 1];
		memset(t, 0, sizeof *t);
		set_error(lx, t, b->line, b->col, "%s was never closed", bracket_name(b->ch));
		return;
	}
	if (lx->line_has_tokens) {
		lx->line_has_tokens = false;
		simple_token(lx, t, LEX_NEWLINE);
		return;
	}
	if (lx->nindent > 1) {
		lx->nindent--;
		simple_token(lx, t, LEX_DEDENT);
		return;
	}
	simple_token(lx, t, LEX_EOF);
}

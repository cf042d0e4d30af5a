/* lex.h — the scenario language's tokenizer: turns source text into tokens, with Python's
 * INDENT / DEDENT / NEWLINE structure. Used by the parser (parse.c) only. */
#ifndef TIMESLICE_LEX_H
#define TIMESLICE_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

/* A token's type is one of these, a single character ('(', '+', ...) or an enum ast_op code
 * (TOK_EQ ... TOK_IS; `and or not in is` are lexed as TOK_AND, TOK_OR, TOK_NOT, TOK_IN,
 * TOK_IS). `not in` and `is not` are two tokens: the parser joins them. */
enum lex_type {
	LEX_EOF = 0,
	LEX_NAME = 512, /* an identifier (soft keywords `machine`, `expect` included) */
	LEX_INT,        /* ival */
	LEX_FLOAT,      /* fval */
	LEX_DURATION,   /* ival = nanoseconds */
	LEX_STRING,     /* see lex_token.str_* */
	LEX_NEWLINE,    /* end of a logical line */
	LEX_INDENT,
	LEX_DEDENT,
	LEX_AUGASSIGN,  /* +=, -=, ... : op = the binary operator ('+', TOK_FLOORDIV, ...) */
	LEX_PLUSMINUS,  /* '±' (the ASCII spelling `+-` is lexed as '+' then '-') */
	LEX_ERROR,      /* msg says what is wrong; every later call returns the same token */
	/* keywords */
	LEX_DEF, LEX_RETURN, LEX_IF, LEX_ELIF, LEX_ELSE, LEX_WHILE, LEX_FOR, LEX_NONE,
	LEX_TRUE, LEX_FALSE, LEX_PASS, LEX_BREAK, LEX_CONTINUE, LEX_GLOBAL, LEX_IMPORT,
	LEX_FROM, LEX_AS, LEX_WITH, LEX_ASYNC, LEX_AWAIT, LEX_TRY, LEX_EXCEPT, LEX_FINALLY,
	LEX_RAISE, LEX_LAMBDA, LEX_CLASS,
};

/* String prefix flags (lex_token.str_flags). */
#define LEX_STR_RAW    1u
#define LEX_STR_F      2u
#define LEX_STR_TRIPLE 4u
#define LEX_STR_BYTES  8u /* b'...': ASCII only, and a str once parsed (bytes are not modeled) */

struct lex_token {
	int type;            /* enum lex_type, a character or an enum ast_op */
	int op;              /* LEX_AUGASSIGN: the operator */
	int line, col;       /* 1-based; col counts characters, not bytes */
	const char *start;   /* the token's text in the source (not NUL-terminated) */
	size_t len;
	int64_t ival;
	double fval;
	/* LEX_STRING: the text between the quotes is start + str_skip, str_len bytes long, and
	 * starts at column col + str_skip (prefix and quotes are ASCII). Escapes are not checked
	 * yet: the parser decodes them. */
	unsigned str_flags;
	int str_skip;
	size_t str_len;
	const char *msg;     /* LEX_ERROR: the message, owned by the lexer */
};

struct lex_bracket {
	char ch;
	int line, col;
};

/* The tokenizer's state. Lives on the caller's stack; lex_finish() frees what it allocated. */
struct lexer {
	const struct source *src;
	const char *p, *end;
	int line, col;          /* position of p */
	bool field;             /* lexing an f-string field: no NEWLINE/INDENT, ends at `end` */
	bool at_bol;            /* indentation of the next line still to be measured */
	bool line_has_tokens;   /* a NEWLINE is owed before the next line */
	int pending_dedents;
	int *indents;           /* indentation levels; indents[0] == 0 */
	int nindent, capindent;
	struct lex_bracket *brackets; /* open ( and [ for implicit line joining */
	int nbracket, capbracket;
	int last_line, last_col; /* just after the last token: where NEWLINE and EOF point */
	bool failed;
	struct lex_token errtok;
	char errmsg[256];
};

/* Starts tokenizing a whole source file. A NUL byte or invalid UTF-8 anywhere makes the first
 * token a LEX_ERROR (the encoding is checked before any syntax, as Python does). */
void lex_init(struct lexer *lx, const struct source *src);

/* Starts tokenizing the expression of an f-string field: bytes [begin, end) of src, which start
 * at line:col. Newlines are ignored (as inside brackets); the token after the last is LEX_EOF. */
void lex_init_field(struct lexer *lx, const struct source *src, const char *begin,
		    const char *end, int line, int col);

/* Frees the lexer's stacks (not the lexer). Tokens already returned stay valid as long as the
 * source does, except an error token's msg, which lives in the lexer. */
void lex_finish(struct lexer *lx);

/* Reads the next token into *tok. After LEX_EOF or LEX_ERROR, returns the same token again. */
void lex_next(struct lexer *lx, struct lex_token *tok);

/* Decodes the UTF-8 sequence at p (which must be valid, as lex_init checked); stores its length
 * in *n and returns the code point. */
uint32_t lex_utf8_decode(const char *p, int *n);

/* Whether c may appear in a name (letters of any script, digits, '_'); `first`: at its start. */
bool lex_is_name_char(uint32_t c, bool first);

#endif

/* ast.h — the scenario language's syntax tree: built by the parser (parse.c), read by the
 * compiler (vm_compile) and by the runner (the `machine` line). */
#ifndef TIMESLICE_AST_H
#define TIMESLICE_AST_H

#include <stdint.h>

#include "diag.h"

enum ast_kind {
	/* ---- expressions ---- */
	AST_INT,      /* ival */
	AST_FLOAT,    /* fval */
	AST_DURATION, /* ival = nanoseconds (3ms -> 3000000; 1.5s -> 1500000000) */
	AST_STR,      /* str = the decoded text (escapes resolved), len in ival */
	AST_FSTR,     /* f"...": items = parts, each AST_STR or AST_FMT */
	AST_FMT,      /* one {expr}, {expr!r} or {expr:spec} of an f-string: a = expr,
	               * str = spec or NULL, op = conversion 'r', 's' or 0 */
	AST_NONE, AST_TRUE, AST_FALSE,
	AST_NAME,     /* str = identifier */
	AST_ATTR,     /* a.str : a = object, str = attribute name */
	AST_INDEX,    /* a[b] */
	AST_CALL,     /* a(items..., items2 = keyword args as AST_KWARG) */
	AST_KWARG,    /* str = keyword, a = value (only inside AST_CALL.items2) */
	AST_UNARY,    /* op = '-', '+', '~', TOK_NOT ; a = operand */
	AST_BINARY,   /* op = '+','-','*','/','%','|','^','&', TOK_FLOORDIV, TOK_POW, TOK_SHL,
	               * TOK_SHR, TOK_AND, TOK_OR; a, b */
	AST_IFEXP,    /* a if b else c */
	AST_COMPARE,  /* chained comparison a < b <= c: items = operands (n >= 2),
	               * ops[i] compares items[i] and items[i+1]; ops in `cmp_ops` */
	AST_APPROX,   /* expect-only: a == b +- c  (|a - b| <= c) */
	AST_TUPLE,    /* (x, y) or x, y : items */
	AST_LIST,     /* [x, y] : items */

	/* ---- statements ---- */
	AST_EXPR_STMT, /* a */
	AST_ASSIGN,    /* items = targets (NAME, ATTR, INDEX, or TUPLE of those); a = value.
	                * `x = y = 1` has two targets. */
	AST_AUGASSIGN, /* a = target, op = any AST_BINARY operator but and/or ; b = value */
	AST_IF,        /* a = condition, items = body, items2 = else body (an elif is an AST_IF
	                * alone in items2) */
	AST_WHILE,     /* a = condition, items = body */
	AST_FOR,       /* a = target (NAME or TUPLE of NAMEs), b = iterable, items = body */
	AST_DEF,       /* str = name, params = parameter names, items2 = defaults for the last
	                * items2.n parameters (expressions), items = body; ival = 1 for
	                * `async def` */
	AST_RETURN,    /* a = value or NULL */
	AST_PASS, AST_BREAK, AST_CONTINUE,
	AST_GLOBAL,    /* params = names */
	AST_IMPORT,    /* `import x, y` / `from x import y as z`: str = module; params = names
	                * imported (for `from`), aliases in params2 (NULL entry = no alias).
	                * Plain `import a.b, c as d`: str = NULL, params = the modules ("a.b",
	                * "c"), params2 = their aliases (NULL, "d"). params.n == params2.n always.
	                * Dotted module names are one string with the dots ("os.path"). */
	AST_WITH,      /* with a [as str]: items = body */
	AST_MACHINE,   /* machine key=value ... : items = AST_KWARG (value is a literal expr) */
	AST_EXPECT,    /* expect a : a = the expression (may be AST_APPROX or a bare NAME such
	                * as `deadlock`); str = the source text after `expect`, trimmed */

	AST_SLICE,     /* start:stop:step inside a subscript (only as AST_INDEX.b): a, b, c, each
	                * NULL when left out */

	AST_AWAIT,     /* await a */

	AST_TRY,       /* try: items = body, items2 = the AST_EXCEPT clauses in order, a = the
	                * `else:` block or NULL, b = the `finally:` block or NULL (both
	                * AST_BLOCK); at least one clause or a finally */
	AST_EXCEPT,    /* except [a [as str]]: a = the class expression (NULL: bare `except:`),
	                * str = the name bound or NULL, items = body (only in AST_TRY.items2) */
	AST_BLOCK,     /* items = statements (a try's else and finally blocks) */
	AST_RAISE,     /* raise [a [from b]]: a = the exception or NULL (re-raise), b = cause */
	AST_LAMBDA,    /* lambda params: a ; params = parameter names, items2 = defaults of the
	                * last items2.n parameters, a = the body expression */
	AST_CLASS,     /* class str(items2...): items = body; items2 = the bases as written */
	AST_DICT,      /* {k: v, ...}: items = the keys, items2 = their values (as many) */

	AST_KIND_COUNT
};

/* Token codes for operators that are not single characters. Single-character operators use
 * the character itself ('+', '<', ...). */
enum ast_op {
	TOK_EQ = 256, /* == */
	TOK_NE,       /* != */
	TOK_LE,       /* <= */
	TOK_GE,       /* >= */
	TOK_FLOORDIV, /* // */
	TOK_POW,      /* ** */
	TOK_SHL,      /* << */
	TOK_SHR,      /* >> */
	TOK_AND,      /* and */
	TOK_OR,       /* or */
	TOK_NOT,      /* not */
	TOK_IN,       /* in */
	TOK_NOT_IN,   /* not in */
	TOK_IS,       /* is */
	TOK_IS_NOT,   /* is not */
};

struct ast_node;

struct ast_list {
	struct ast_node **v;
	int n, cap;
};

struct ast_names {
	char **v; /* owned strings; an entry may be NULL where documented */
	int n, cap;
};

struct ast_node {
	enum ast_kind kind;
	int line, col;   /* 1-based position of the construct's first character */
	int op;          /* operator (see enum ast_op and single characters) */
	int64_t ival;
	double fval;
	char *str;       /* owned; see the kind's comment */
	struct ast_node *a, *b, *c;
	struct ast_list items, items2;
	struct ast_names params, params2;
	int *cmp_ops;    /* AST_COMPARE: items.n - 1 operators */
};

/* A parsed scenario file. */
struct ast_program {
	const struct source *src; /* not owned: keep the source alive as long as the program */
	struct ast_list body;     /* top-level statements in order */
};

/* Parses a whole scenario. Returns NULL and fills *err with the first error (file:line:col,
 * message saying what was expected) on any malformed input; never aborts, never reads past
 * src->len. The caller frees the result with ast_program_destroy(). */
struct ast_program *ast_parse(const struct source *src, struct diag *err);

void ast_program_destroy(struct ast_program *prog); /* NULL is safe */

/* Human name of a node kind, for messages ("expression", "for loop", ...). */
const char *ast_kind_name(enum ast_kind kind);

#endif

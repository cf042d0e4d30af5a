/* parse.c — the scenario language's recursive-descent parser: tokens (lex.c) to the syntax
 * tree of ast.h. The grammar is Python's, cut down to docs/language.md.
 *
 * Errors: the first one wins. Every parse function returns NULL (or false) once p->failed is
 * set and its callers unwind at once; nothing is freed on the way out: every node is also
 * recorded in p->all, and a failed parse frees them all from there. A successful parse frees
 * only that record, so no node may be dropped from the tree on the success path.
 *
 * Recursion is bounded: every construct that nests (brackets, calls, unary operators, blocks,
 * `elif`, the operands of a chain of binary operators, f-string fields) counts one level, and
 * more than PARSE_MAX_DEPTH levels is an error. That keeps both the parser's stack and the
 * depth of the tree (which the compiler and ast_program_destroy walk recursively) bounded. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lex.h"

#define PARSE_MAX_DEPTH 200
#define LOOKAHEAD 4
/* Duplicate names are found by comparing with each earlier one; these caps keep that linear in
 * the size of the source (Python has no such limits, but no scenario comes near them). */
#define PARSE_MAX_KWARGS 255
#define PARSE_MAX_PARAMS 255
#define PARSE_MAX_MACHINE_KEYS 64

struct parser {
	const struct source *src;
	struct diag *err;
	bool failed;
	struct lexer *lx;
	struct lex_token la[LOOKAHEAD]; /* la[0] is the current token */
	int nla;
	int prev_type;          /* the last consumed token's type */
	const char *prev_end;   /* and the byte after it */
	int depth;
	int loops, funcs, blocks; /* enclosing loops (in this function), functions, blocks */
	bool approx_ok;         /* a `+-` here ends an expect comparison */
	struct ast_node **all;  /* every node made, for freeing after an error */
	size_t nall, capall;
	char desc[128];
};

/* ------------------------------------------------------------------ errors */

static const char *describe(struct parser *p, const struct lex_token *t);

static void *fail_at(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void *fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	if (!p->failed) {
		va_list ap;
		va_start(ap, fmt);
		diag_setv(p->err, p->src, line, col, fmt, ap);
		va_end(ap);
		p->failed = true;
	}
	return NULL;
}

/* Reports "<what>, found <token t>" at t, or the lexer's own message if t is an error. */
static void *fail_found(struct parser *p, const struct lex_token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void *fail_found(struct parser *p, const struct lex_token *t, const char *fmt, ...)
{
	if (p->failed)
		return NULL;
	if (t->type == LEX_ERROR)
		return fail_at(p, t->line, t->col, "%s", t->msg);
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	const char *hint = "";
	/* `sleep(3 ms)`: the space makes 3 a number and ms a name */
	if (t->type == LEX_NAME && (p->prev_type == LEX_INT || p->prev_type == LEX_FLOAT) &&
	    ((t->len == 2 && (!memcmp(t->start, "ns", 2) || !memcmp(t->start, "us", 2) ||
			      !memcmp(t->start, "ms", 2))) ||
	     (t->len == 1 && (*t->start == 's' || *t->start == 'h')) ||
	     (t->len == 3 && !memcmp(t->start, "min", 3))))
		hint = " (a duration's unit follows the number without a space: 3ms)";
	return fail_at(p, t->line, t->col, "%s, found %s%s", what, describe(p, t), hint);
}

static void *out_of_memory(struct parser *p)
{
	return fail_at(p, 0, 0, "out of memory");
}

/* ------------------------------------------------------------------ tokens */

static struct lex_token *peek(struct parser *p, int k)
{
	while (p->nla <= k)
		lex_next(p->lx, &p->la[p->nla++]);
	return &p->la[k];
}

static struct lex_token *cur(struct parser *p)
{
	return peek(p, 0);
}

static int cur_type(struct parser *p)
{
	return peek(p, 0)->type;
}

static void advance(struct parser *p)
{
	struct lex_token *t = peek(p, 0);
	if (t->type == LEX_EOF || t->type == LEX_ERROR)
		return; /* the lexer repeats these: nothing to move past */
	p->prev_type = t->type;
	p->prev_end = t->start + t->len;
	memmove(&p->la[0], &p->la[1], (size_t)(p->nla - 1) * sizeof p->la[0]);
	p->nla--;
}

static bool accept(struct parser *p, int type)
{
	if (cur_type(p) != type)
		return false;
	advance(p);
	return true;
}

static const char *token_spelling(int type)
{
	switch (type) {
	case TOK_EQ: return "==";
	case TOK_NE: return "!=";
	case TOK_LE: return "<=";
	case TOK_GE: return ">=";
	case TOK_FLOORDIV: return "//";
	case TOK_POW: return "**";
	case TOK_SHL: return "<<";
	case TOK_SHR: return ">>";
	case TOK_AND: return "and";
	case TOK_OR: return "or";
	case TOK_NOT: return "not";
	case TOK_IN: return "in";
	case TOK_IS: return "is";
	case TOK_NOT_IN: return "not in";
	case TOK_IS_NOT: return "is not";
	default: return NULL;
	}
}

/* The token as a message shows it: "name 'x'", "end of line", "'+='", ... */
static const char *describe(struct parser *p, const struct lex_token *t)
{
	char *d = p->desc;
	size_t size = sizeof p->desc;
	/* the raw text, cut at a line end and at about 30 bytes (on a character boundary) */
	size_t n = 0;
	while (n < t->len && t->start[n] != '\n' && t->start[n] != '\r' && n < 30) {
		int k;
		lex_utf8_decode(t->start + n, &k);
		n += (size_t)k;
	}
	if (n > t->len)
		n = t->len;
	const char *more = n < t->len ? "..." : "";
	switch (t->type) {
	case LEX_EOF:
		snprintf(d, size, "%s", p->lx->field ? "the end of the f-string field" : "end of file");
		break;
	case LEX_NEWLINE: snprintf(d, size, "end of line"); break;
	case LEX_INDENT: snprintf(d, size, "an indented line"); break;
	case LEX_DEDENT: snprintf(d, size, "the end of the block"); break;
	case LEX_NAME: snprintf(d, size, "name '%.*s%s'", (int)n, t->start, more); break;
	case LEX_INT:
	case LEX_FLOAT: snprintf(d, size, "number %.*s%s", (int)n, t->start, more); break;
	case LEX_DURATION: snprintf(d, size, "duration %.*s%s", (int)n, t->start, more); break;
	case LEX_STRING: snprintf(d, size, "string %.*s%s", (int)n, t->start, more); break;
	case LEX_AUGASSIGN:
	case LEX_PLUSMINUS: snprintf(d, size, "'%.*s'", (int)n, t->start); break;
	default:
		if (t->type >= LEX_DEF || t->type == TOK_AND || t->type == TOK_OR ||
		    t->type == TOK_NOT || t->type == TOK_IN || t->type == TOK_IS)
			snprintf(d, size, "keyword '%.*s'", (int)n, t->start);
		else
			snprintf(d, size, "'%.*s'", (int)n, t->start);
	}
	return d;
}

/* ------------------------------------------------------------------ nodes */

static struct ast_node *node_new(struct parser *p, enum ast_kind kind, int line, int col)
{
	if (p->failed)
		return NULL;
	if (p->nall == p->capall) {
		size_t ncap = p->capall ? p->capall * 2 : 256;
		struct ast_node **na = realloc(p->all, ncap * sizeof *na);
		if (!na)
			return out_of_memory(p);
		p->all = na;
		p->capall = ncap;
	}
	struct ast_node *n = calloc(1, sizeof *n);
	if (!n)
		return out_of_memory(p);
	n->kind = kind;
	n->line = line;
	n->col = col;
	p->all[p->nall++] = n;
	return n;
}

static struct ast_node *node_at(struct parser *p, enum ast_kind kind, const struct lex_token *t)
{
	return node_new(p, kind, t->line, t->col);
}

static bool list_push(struct parser *p, struct ast_list *l, struct ast_node *n)
{
	if (p->failed || !n)
		return false;
	if (l->n == l->cap) {
		int ncap = l->cap ? l->cap * 2 : 4;
		struct ast_node **nv = realloc(l->v, (size_t)ncap * sizeof *nv);
		if (!nv)
			return out_of_memory(p);
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = n;
	return true;
}

/* Takes s (which may be NULL only where documented, with allow_null). Frees it on failure. */
static bool names_push(struct parser *p, struct ast_names *l, char *s)
{
	if (p->failed) {
		free(s);
		return false;
	}
	if (l->n == l->cap) {
		int ncap = l->cap ? l->cap * 2 : 4;
		char **nv = realloc(l->v, (size_t)ncap * sizeof *nv);
		if (!nv) {
			free(s);
			return out_of_memory(p);
		}
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = s;
	return true;
}

static char *dup_span(struct parser *p, const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return out_of_memory(p);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *token_text(struct parser *p, const struct lex_token *t)
{
	return dup_span(p, t->start, t->len);
}

static void node_free_shallow(struct ast_node *n)
{
	free(n->str);
	free(n->items.v);
	free(n->items2.v);
	for (int i = 0; i < n->params.n; i++)
		free(n->params.v[i]);
	free(n->params.v);
	for (int i = 0; i < n->params2.n; i++)
		free(n->params2.v[i]);
	free(n->params2.v);
	free(n->cmp_ops);
	free(n);
}

static void node_free(struct ast_node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	node_free(n->c);
	for (int i = 0; i < n->items.n; i++)
		node_free(n->items.v[i]);
	for (int i = 0; i < n->items2.n; i++)
		node_free(n->items2.v[i]);
	node_free_shallow(n);
}

/* Counts one level of nesting; false (with the error set) beyond the limit. */
static bool enter(struct parser *p)
{
	if (++p->depth > PARSE_MAX_DEPTH) {
		struct lex_token *t = cur(p);
		fail_at(p, t->line, t->col, "nesting deeper than %d levels", PARSE_MAX_DEPTH);
		return false;
	}
	return true;
}

static void leave(struct parser *p, int levels)
{
	p->depth -= levels;
}

/* ------------------------------------------------------------------ expressions */

static struct ast_node *parse_test(struct parser *p);
static struct ast_node *parse_testlist(struct parser *p);
static struct ast_node *parse_binary(struct parser *p, int min_prec);
static struct ast_node *parse_unary(struct parser *p);
static struct ast_node *parse_strings(struct parser *p);

static bool starts_expr(int type)
{
	switch (type) {
	case LEX_NAME: case LEX_INT: case LEX_FLOAT: case LEX_DURATION: case LEX_STRING:
	case LEX_NONE: case LEX_TRUE: case LEX_FALSE: case '(': case '[': case '{': case '-':
	case '+':
	case '~': case TOK_NOT: case LEX_ERROR: case LEX_AWAIT: case LEX_LAMBDA:
		return true;
	default:
		return false;
	}
}

/* false (with the error set) at a comprehension's `for`. */
static bool no_comprehension(struct parser *p)
{
	if (cur_type(p) != LEX_FOR)
		return true;
	return fail_at(p, cur(p)->line, cur(p)->col,
		       "comprehensions are not part of the scenario language yet");
}

/* Elements of a parenthesized tuple, a list, up to the closing bracket. `first` is parsed. */
static bool parse_elements(struct parser *p, struct ast_list *out, struct ast_node *first,
			   int close)
{
	if (!list_push(p, out, first))
		return false;
	for (;;) {
		if (!no_comprehension(p))
			return false;
		if (cur_type(p) == close)
			return true;
		if (!accept(p, ','))
			return fail_found(p, cur(p), "expected '%c' or ','", close);
		if (cur_type(p) == close)
			return true;
		if (!list_push(p, out, parse_test(p)))
			return false;
	}
}

/* {k: v, ...} from its '{' (a set or a comprehension is an error). */
static struct ast_node *parse_dict(struct parser *p)
{
	struct lex_token *open = cur(p);
	int line = open->line, col = open->col;
	if (!enter(p))
		return NULL;
	bool approx = p->approx_ok;
	p->approx_ok = false;
	struct ast_node *n = node_new(p, AST_DICT, line, col);
	advance(p);
	while (n && cur_type(p) != '}') {
		struct ast_node *key = parse_test(p);
		if (!key || !list_push(p, &n->items, key) || !no_comprehension(p))
			return NULL;
		if (cur_type(p) != ':') {
			if (n->items.n == 1 && (cur_type(p) == ',' || cur_type(p) == '}'))
				return fail_at(p, line, col,
					       "sets are not part of the scenario language yet");
			return fail_found(p, cur(p), "expected ':' after the dictionary key");
		}
		advance(p);
		if (!starts_expr(cur_type(p)))
			return fail_found(p, cur(p), "expected a value after the dictionary key and ':'");
		struct ast_node *val = parse_test(p);
		if (!val || !list_push(p, &n->items2, val) || !no_comprehension(p))
			return NULL;
		if (cur_type(p) != '}' && !accept(p, ','))
			return fail_found(p, cur(p), "expected '}' or ','");
	}
	if (!n)
		return NULL;
	advance(p); /* } */
	p->approx_ok = approx;
	leave(p, 1);
	return n;
}

static struct ast_node *parse_atom(struct parser *p)
{
	struct lex_token *t = cur(p);
	struct ast_node *n = NULL;
	switch (t->type) {
	case LEX_NAME:
		n = node_at(p, AST_NAME, t);
		if (n && !(n->str = token_text(p, t)))
			return NULL;
		advance(p);
		return n;
	case LEX_INT:
	case LEX_DURATION:
		n = node_at(p, t->type == LEX_INT ? AST_INT : AST_DURATION, t);
		if (n)
			n->ival = t->ival;
		advance(p);
		return n;
	case LEX_FLOAT:
		n = node_at(p, AST_FLOAT, t);
		if (n)
			n->fval = t->fval;
		advance(p);
		return n;
	case LEX_NONE:
	case LEX_TRUE:
	case LEX_FALSE:
		n = node_at(p, t->type == LEX_NONE ? AST_NONE : t->type == LEX_TRUE ? AST_TRUE
										 : AST_FALSE, t);
		advance(p);
		return n;
	case LEX_STRING:
		return parse_strings(p);
	case '{':
		return parse_dict(p);
	case '(':
	case '[': {
		int close = t->type == '(' ? ')' : ']';
		int line = t->line, col = t->col;
		if (!enter(p))
			return NULL;
		bool approx = p->approx_ok;
		p->approx_ok = false;
		advance(p);
		if (close == ')' && cur_type(p) == ')') {
			n = node_new(p, AST_TUPLE, line, col);
		} else if (close == ']' && cur_type(p) == ']') {
			n = node_new(p, AST_LIST, line, col);
		} else {
			struct ast_node *first = parse_test(p);
			if (!first)
				return NULL;
			if (close == ')' && cur_type(p) == ')') {
				n = first; /* just parentheses */
			} else {
				n = node_new(p, close == ')' ? AST_TUPLE : AST_LIST, line, col);
				if (!n || !parse_elements(p, &n->items, first, close))
					return NULL;
			}
		}
		if (!n)
			return NULL;
		advance(p); /* the closing bracket */
		p->approx_ok = approx;
		leave(p, 1);
		return n;
	}
	default:
		return fail_found(p, t, "expected an expression");
	}
}

static struct ast_node *parse_call(struct parser *p, struct ast_node *fn)
{
	struct ast_node *call = node_new(p, AST_CALL, fn->line, fn->col);
	if (!call)
		return NULL;
	call->a = fn;
	advance(p); /* ( */
	while (cur_type(p) != ')') {
		struct lex_token *t = cur(p);
		if (t->type == '*' || t->type == TOK_POW)
			return fail_at(p, t->line, t->col,
				       "'%s' arguments are not part of the scenario language yet",
				       t->type == '*' ? "*" : "**");
		struct ast_node *arg = parse_test(p);
		if (!arg)
			return NULL;
		if (cur_type(p) == '=') {
			if (arg->kind != AST_NAME || p->prev_type != LEX_NAME)
				return fail_at(p, cur(p)->line, cur(p)->col,
					       "a keyword argument needs a plain name before '='");
			if (call->items2.n >= PARSE_MAX_KWARGS)
				return fail_at(p, arg->line, arg->col,
					       "more than %d keyword arguments in one call",
					       PARSE_MAX_KWARGS);
			for (int i = 0; i < call->items2.n; i++)
				if (strcmp(call->items2.v[i]->str, arg->str) == 0)
					return fail_at(p, arg->line, arg->col,
						       "keyword argument '%s' repeated", arg->str);
			advance(p);
			/* the name node becomes the keyword argument: no node is dropped */
			struct ast_node *kw = arg;
			kw->kind = AST_KWARG;
			if (!(kw->a = parse_test(p)) || !list_push(p, &call->items2, kw))
				return NULL;
		} else {
			if (call->items2.n > 0)
				return fail_at(p, arg->line, arg->col,
					       "positional argument follows keyword argument");
			if (!list_push(p, &call->items, arg))
				return NULL;
		}
		if (cur_type(p) == LEX_FOR)
			return fail_at(p, cur(p)->line, cur(p)->col,
				       "comprehensions are not part of the scenario language yet");
		if (cur_type(p) == ')')
			break;
		if (!accept(p, ','))
			return fail_found(p, cur(p), "expected ')' or ','");
	}
	advance(p); /* ) */
	return call;
}

static struct ast_node *parse_postfix(struct parser *p)
{
	struct ast_node *e = parse_atom(p);
	int levels = 0;
	while (e) {
		int type = cur_type(p);
		if (type != '(' && type != '[' && type != '.')
			break;
		if (!enter(p))
			return NULL;
		levels++;
		bool approx = p->approx_ok;
		p->approx_ok = false;
		if (type == '(') {
			e = parse_call(p, e);
		} else if (type == '[') {
			struct lex_token *open = cur(p);
			advance(p);
			struct ast_node *idx = NULL;
			if (cur_type(p) != ':') {
				idx = parse_testlist(p);
				if (!idx)
					return NULL;
			}
			if (cur_type(p) == ':') { /* a slice: start:stop:step, each optional */
				struct ast_node *sl = node_new(p, AST_SLICE, open->line, open->col);
				if (!sl)
					return NULL;
				sl->a = idx;
				struct ast_node **parts[2] = {&sl->b, &sl->c};
				for (int k = 0; k < 2 && cur_type(p) == ':'; k++) {
					advance(p);
					if (cur_type(p) != ':' && cur_type(p) != ']') {
						*parts[k] = parse_test(p);
						if (!*parts[k])
							return NULL;
					}
				}
				idx = sl;
			}
			if (cur_type(p) != ']')
				return fail_found(p, cur(p), "expected ']' after the index");
			advance(p);
			struct ast_node *n = node_new(p, AST_INDEX, e->line, e->col);
			if (!n)
				return NULL;
			n->a = e;
			n->b = idx;
			e = n;
		} else {
			advance(p);
			struct lex_token *t = cur(p);
			if (t->type != LEX_NAME)
				return fail_found(p, t, "expected an attribute name after '.'");
			struct ast_node *n = node_new(p, AST_ATTR, e->line, e->col);
			if (!n || !(n->str = token_text(p, t)))
				return NULL;
			n->a = e;
			advance(p);
			e = n;
		}
		p->approx_ok = approx;
	}
	leave(p, levels);
	return e;
}

/* await primary (Python's await_primary: tighter than '**' on its left) */
static struct ast_node *parse_await(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (t->type != LEX_AWAIT)
		return parse_postfix(p);
	if (!enter(p))
		return NULL;
	struct ast_node *n = node_at(p, AST_AWAIT, t);
	if (!n)
		return NULL;
	advance(p);
	if (!(n->a = parse_postfix(p)))
		return NULL;
	leave(p, 1);
	return n;
}

static struct ast_node *parse_power(struct parser *p)
{
	struct ast_node *base = parse_await(p);
	if (!base || cur_type(p) != TOK_POW)
		return base;
	if (!enter(p))
		return NULL;
	advance(p);
	struct ast_node *n = node_new(p, AST_BINARY, base->line, base->col);
	if (!n)
		return NULL;
	n->op = TOK_POW;
	n->a = base;
	if (!(n->b = parse_unary(p)))
		return NULL;
	leave(p, 1);
	return n;
}

static struct ast_node *parse_unary(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (t->type != '-' && t->type != '+' && t->type != '~')
		return parse_power(p);
	if (!enter(p))
		return NULL;
	struct ast_node *n = node_at(p, AST_UNARY, t);
	if (!n)
		return NULL;
	n->op = t->type;
	advance(p);
	if (!(n->a = parse_unary(p)))
		return NULL;
	leave(p, 1);
	return n;
}

static int binary_prec(int type)
{
	switch (type) {
	case '|': return 1;
	case '^': return 2;
	case '&': return 3;
	case TOK_SHL: case TOK_SHR: return 4;
	case '+': case '-': return 5;
	case '*': case '/': case '%': case TOK_FLOORDIV: return 6;
	default: return 0;
	}
}

/* Is the current token the `+-` (or `±`) of an expect line's `a == b +- c`? */
static bool at_plusminus(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (t->type == LEX_PLUSMINUS)
		return true;
	if (t->type != '+')
		return false;
	struct lex_token *u = peek(p, 1);
	return u->type == '-' && u->start == t->start + 1;
}

/* Binary operators from `|` to `* / // %` by precedence climbing: left-associative, and each
 * operator of a chain counts a level, since the tree grows one deeper with each. */
static struct ast_node *parse_binary(struct parser *p, int min_prec)
{
	struct ast_node *lhs = parse_unary(p);
	int levels = 0;
	for (;;) {
		if (!lhs)
			return NULL;
		if (cur_type(p) == LEX_PLUSMINUS && !p->approx_ok)
			return fail_at(p, cur(p)->line, cur(p)->col,
				       "'±' is only allowed after a comparison in an expect line");
		int prec = binary_prec(cur_type(p));
		if (prec < min_prec || prec == 0 || (p->approx_ok && at_plusminus(p)))
			break;
		if (!enter(p))
			return NULL;
		levels++;
		int op = cur_type(p);
		advance(p);
		struct ast_node *n = node_new(p, AST_BINARY, lhs->line, lhs->col);
		if (!n)
			return NULL;
		n->op = op;
		n->a = lhs;
		if (!(n->b = parse_binary(p, prec + 1)))
			return NULL;
		lhs = n;
	}
	leave(p, levels);
	return lhs;
}

/* Returns the comparison operator at the current token (consuming `not in` / `is not` as one),
 * or 0. */
static int comparison_op(struct parser *p)
{
	int t = cur_type(p);
	switch (t) {
	case '<': case '>': case TOK_EQ: case TOK_NE: case TOK_LE: case TOK_GE: case TOK_IN:
		advance(p);
		return t;
	case TOK_IS:
		advance(p);
		return accept(p, TOK_NOT) ? TOK_IS_NOT : TOK_IS;
	case TOK_NOT:
		if (peek(p, 1)->type != TOK_IN)
			return 0;
		advance(p);
		advance(p);
		return TOK_NOT_IN;
	default:
		return 0;
	}
}

static struct ast_node *parse_comparison(struct parser *p)
{
	struct ast_node *first = parse_binary(p, 1);
	if (!first)
		return NULL;
	int op = comparison_op(p);
	if (!op)
		return first;
	struct ast_node *n = node_new(p, AST_COMPARE, first->line, first->col);
	if (!n || !list_push(p, &n->items, first))
		return NULL;
	int cap = 0;
	while (op) {
		if (n->items.n > cap) { /* doubling: a long chain costs linear time */
			cap = cap ? cap * 2 : 4;
			int *ops = realloc(n->cmp_ops, (size_t)cap * sizeof *ops);
			if (!ops)
				return out_of_memory(p);
			n->cmp_ops = ops;
		}
		n->cmp_ops[n->items.n - 1] = op;
		if (!list_push(p, &n->items, parse_binary(p, 1)))
			return NULL;
		op = comparison_op(p);
	}
	return n;
}

static struct ast_node *parse_not(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (t->type != TOK_NOT)
		return parse_comparison(p);
	if (!enter(p))
		return NULL;
	struct ast_node *n = node_at(p, AST_UNARY, t);
	if (!n)
		return NULL;
	n->op = TOK_NOT;
	advance(p);
	if (!(n->a = parse_not(p)))
		return NULL;
	leave(p, 1);
	return n;
}

/* `and` (op TOK_AND, operands parse_not) or `or` (TOK_OR, operands: the `and` level). */
static struct ast_node *parse_logic(struct parser *p, int op)
{
	struct ast_node *lhs = op == TOK_OR ? parse_logic(p, TOK_AND) : parse_not(p);
	int levels = 0;
	while (lhs && cur_type(p) == op) {
		if (!enter(p))
			return NULL;
		levels++;
		advance(p);
		struct ast_node *n = node_new(p, AST_BINARY, lhs->line, lhs->col);
		if (!n)
			return NULL;
		n->op = op;
		n->a = lhs;
		if (!(n->b = op == TOK_OR ? parse_logic(p, TOK_AND) : parse_not(p)))
			return NULL;
		lhs = n;
	}
	leave(p, levels);
	return lhs;
}

static bool parse_params(struct parser *p, struct ast_node *n, int close);

/* lambda params: test — an anonymous function whose body is one expression */
static struct ast_node *parse_lambda(struct parser *p)
{
	if (!enter(p))
		return NULL;
	struct ast_node *n = node_at(p, AST_LAMBDA, cur(p));
	if (!n)
		return NULL;
	advance(p);
	if (!parse_params(p, n, ':'))
		return NULL;
	bool approx = p->approx_ok;
	p->approx_ok = false;
	if (!(n->a = parse_test(p)))
		return NULL;
	p->approx_ok = approx;
	leave(p, 1);
	return n;
}

static struct ast_node *parse_test(struct parser *p)
{
	if (cur_type(p) == LEX_LAMBDA)
		return parse_lambda(p);
	struct ast_node *e = parse_logic(p, TOK_OR);
	if (!e || cur_type(p) != LEX_IF)
		return e;
	if (!enter(p))
		return NULL;
	advance(p);
	struct ast_node *n = node_new(p, AST_IFEXP, e->line, e->col);
	if (!n)
		return NULL;
	n->a = e;
	if (!(n->b = parse_logic(p, TOK_OR)))
		return NULL;
	if (!accept(p, LEX_ELSE))
		return fail_found(p, cur(p), "expected 'else' in the conditional expression");
	if (!(n->c = parse_test(p)))
		return NULL;
	leave(p, 1);
	return n;
}

/* test (',' test)* [','] : a tuple if there is a comma. */
static struct ast_node *parse_testlist(struct parser *p)
{
	struct ast_node *first = parse_test(p);
	if (!first || cur_type(p) != ',')
		return first;
	struct ast_node *n = node_new(p, AST_TUPLE, first->line, first->col);
	if (!n || !list_push(p, &n->items, first))
		return NULL;
	while (accept(p, ',')) {
		if (!starts_expr(cur_type(p)))
			break;
		if (!list_push(p, &n->items, parse_test(p)))
			return NULL;
	}
	return n;
}

/* ------------------------------------------------------------------ strings */

struct buf {
	char *v;
	size_t n, cap;
	int line, col; /* where the text in v started */
};

static bool buf_add(struct parser *p, struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 32;
		while (ncap < b->n + n + 1)
			ncap *= 2;
		char *nv = realloc(b->v, ncap);
		if (!nv)
			return out_of_memory(p);
		b->v = nv;
		b->cap = ncap;
	}
	memcpy(b->v + b->n, s, n);
	b->n += n;
	b->v[b->n] = '\0';
	return true;
}

static bool buf_add_utf8(struct parser *p, struct buf *b, uint32_t c)
{
	char u[4];
	size_t n;
	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xC0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else {
		u[0] = (char)(0xE0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	}
	return buf_add(p, b, u, n);
}

/* A position in a string's body, kept in step with the bytes. */
struct cursor {
	const char *s, *end;
	int line, col;
};

static void cur_step(struct cursor *c)
{
	if (*c->s == '\n') {
		c->line++;
		c->col = 1;
	} else if (((unsigned char)*c->s & 0xC0) != 0x80) {
		c->col++;
	}
	c->s++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one character (or escape) at c into b. In raw strings every byte is kept as it is
 * (the lexer already knows that r'\'' does not end at the second quote). */
static bool decode_char(struct parser *p, struct cursor *c, struct buf *b, bool raw)
{
	char ch = *c->s;
	if (ch == '\r' && c->s + 1 < c->end && c->s[1] == '\n') {
		cur_step(c); /* CRLF inside a string is a newline, as in Python */
		return true;
	}
	if (ch != '\\' || raw) {
		int n = 1;
		if ((unsigned char)ch >= 0x80)
			lex_utf8_decode(c->s, &n);
		bool ok = buf_add(p, b, c->s, (size_t)n);
		for (int i = 0; i < n; i++)
			cur_step(c);
		return ok;
	}
	int line = c->line, col = c->col;
	cur_step(c);
	if (c->s >= c->end)
		return fail_at(p, line, col, "unterminated string");
	char e = *c->s;
	const char *simple = NULL;
	switch (e) {
	case 'n': simple = "\n"; break;
	case 't': simple = "\t"; break;
	case 'r': simple = "\r"; break;
	case '\\': simple = "\\"; break;
	case '\'': simple = "'"; break;
	case '"': simple = "\""; break;
	case '\r':
		cur_step(c);
		if (c->s < c->end && *c->s == '\n')
			cur_step(c);
		return true;
	case '\n':
		cur_step(c); /* a backslash at the end of a line joins the next */
		return true;
	case 'x':
	case 'u': {
		int digits = e == 'x' ? 2 : 4;
		uint32_t v = 0;
		cur_step(c);
		for (int i = 0; i < digits; i++) {
			int h = c->s < c->end ? hexval((unsigned char)*c->s) : -1;
			if (h < 0)
				return fail_at(p, line, col, "truncated \\%c escape: expected %d hex digits",
					       e, digits);
			v = v * 16 + (uint32_t)h;
			cur_step(c);
		}
		if (v >= 0xD800 && v <= 0xDFFF)
			return fail_at(p, line, col, "\\u escape U+%04X is a lone surrogate", v);
		return buf_add_utf8(p, b, v);
	}
	default: {
		int n = 1;
		if ((unsigned char)e >= 0x80)
			lex_utf8_decode(c->s, &n);
		return fail_at(p, line, col, "invalid escape sequence '\\%.*s'", n, c->s);
	}
	}
	cur_step(c);
	return buf_add(p, b, simple, 1);
}

/* Starts a string token's body walk. */
static struct cursor body_of(const struct lex_token *t)
{
	return (struct cursor){t->start + t->str_skip, t->start + t->str_skip + t->str_len,
			       t->line, t->col + t->str_skip};
}

/* Turns the literal text gathered so far into an AST_STR part of f. */
static bool flush_part(struct parser *p, struct ast_node *f, struct buf *b)
{
	if (b->n == 0)
		return true;
	struct ast_node *s = node_new(p, AST_STR, b->line, b->col);
	if (!s || !list_push(p, &f->items, s))
		return false;
	s->str = b->v;
	s->ival = (int64_t)b->n;
	*b = (struct buf){0};
	return true;
}

/* Parses the expression of an f-string field from the source bytes [c->s, end), which start at
 * c's line:col, with a lexer of its own; the outer token state is put back afterwards. */
static struct ast_node *parse_field_expr(struct parser *p, const struct cursor *c, const char *end)
{
	struct lexer sub, *outer = p->lx;
	struct lex_token saved[LOOKAHEAD];
	int nsaved = p->nla, prev_type = p->prev_type;
	const char *prev_end = p->prev_end;
	bool approx = p->approx_ok;
	memcpy(saved, p->la, sizeof saved);
	lex_init_field(&sub, p->src, c->s, end, c->line, c->col);
	p->lx = &sub;
	p->nla = 0;
	p->approx_ok = false;
	struct ast_node *e = parse_testlist(p);
	if (e && cur_type(p) != LEX_EOF)
		e = fail_found(p, cur(p), "expected '}', '!' or ':' after the f-string expression");
	lex_finish(&sub);
	p->lx = outer;
	memcpy(p->la, saved, sizeof saved);
	p->nla = nsaved;
	p->prev_type = prev_type;
	p->prev_end = prev_end;
	p->approx_ok = approx;
	return e;
}

/* One {field} at c (on the '{') of an f-string body; adds an AST_FMT to f. */
static bool parse_field(struct parser *p, struct ast_node *f, struct cursor *c)
{
	int line = c->line, col = c->col;
	cur_step(c);
	struct cursor start = *c;
	int depth = 0;
	char quote = 0;
	/* find where the expression ends: '}', '!' (not '!='), ':' outside brackets and quotes */
	for (; c->s < c->end; cur_step(c)) {
		char ch = *c->s;
		if (quote) {
			if (ch == quote)
				quote = 0;
			continue;
		}
		if (ch == '\\')
			return fail_at(p, c->line, c->col,
				       "an f-string field cannot contain a backslash");
		if (ch == '#')
			return fail_at(p, c->line, c->col, "an f-string field cannot contain '#'");
		if (ch == '\'' || ch == '"')
			quote = ch;
		else if (ch == '(' || ch == '[' || ch == '{')
			depth++;
		else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0)
			depth--;
		else if (depth == 0 && (ch == '}' || ch == ':' ||
					(ch == '!' && !(c->s + 1 < c->end && c->s[1] == '='))))
			break;
	}
	if (c->s >= c->end)
		return fail_at(p, line, col, "expected '}' to close the f-string field");
	if (!enter(p))
		return false;
	struct ast_node *fmt = node_new(p, AST_FMT, line, col);
	if (!fmt || !list_push(p, &f->items, fmt))
		return false;
	if (!(fmt->a = parse_field_expr(p, &start, c->s)))
		return false;
	leave(p, 1);
	if (*c->s == '!') {
		cur_step(c);
		if (c->s >= c->end || (*c->s != 'r' && *c->s != 's'))
			return fail_at(p, c->line, c->col,
				       "expected 'r' or 's' after '!' in an f-string field");
		fmt->op = *c->s;
		cur_step(c);
		if (c->s >= c->end || (*c->s != ':' && *c->s != '}'))
			return fail_at(p, c->line, c->col,
				       "expected '}' or ':' after the conversion in an f-string field");
	}
	if (*c->s == ':') {
		cur_step(c);
		const char *spec = c->s;
		while (c->s < c->end && *c->s != '}') {
			if (*c->s == '{')
				return fail_at(p, c->line, c->col,
					       "fields inside a format spec are not part of the "
					       "scenario language yet");
			cur_step(c);
		}
		if (c->s >= c->end)
			return fail_at(p, line, col, "expected '}' to close the f-string field");
		if (c->s > spec && !(fmt->str = dup_span(p, spec, (size_t)(c->s - spec))))
			return false;
	}
	cur_step(c); /* } */
	return true;
}

/* Adds the body of one f-string token to f, literal text going through b. */
static bool parse_fstring_body(struct parser *p, struct ast_node *f, struct buf *b,
			       const struct lex_token *t)
{
	struct cursor c = body_of(t);
	bool raw = t->str_flags & LEX_STR_RAW;
	while (c.s < c.end && !p->failed) {
		if (b->n == 0) {
			b->line = c.line;
			b->col = c.col;
		}
		if (*c.s == '{' && c.s + 1 < c.end && c.s[1] == '{') {
			cur_step(&c);
			cur_step(&c);
			buf_add(p, b, "{", 1);
		} else if (*c.s == '}' && c.s + 1 < c.end && c.s[1] == '}') {
			cur_step(&c);
			cur_step(&c);
			buf_add(p, b, "}", 1);
		} else if (*c.s == '}') {
			return fail_at(p, c.line, c.col, "single '}' is not allowed in an f-string");
		} else if (*c.s == '{') {
			if (!flush_part(p, f, b) || !parse_field(p, f, &c))
				return false;
		} else {
			decode_char(p, &c, b, raw);
		}
	}
	return !p->failed;
}

/* One or more adjacent string literals: an AST_STR, or an AST_FSTR if any is an f-string.
 * In an AST_FSTR, adjacent literal text is merged into one AST_STR part, and no part is
 * empty. */
static struct ast_node *parse_strings(struct parser *p)
{
	struct ast_node *n = node_at(p, AST_STR, cur(p));
	if (!n)
		return NULL;
	struct buf b = {0};
	bool is_f = false;
	int kinds = 0; /* 1: a str literal seen, 2: a bytes literal */
	while (!p->failed && cur_type(p) == LEX_STRING) {
		struct lex_token s = *cur(p);
		kinds |= s.str_flags & LEX_STR_BYTES ? 2 : 1;
		if (kinds == 3) {
			fail_at(p, n->line, n->col, "cannot mix bytes and nonbytes literals");
			break;
		}
		advance(p);
		if ((s.str_flags & LEX_STR_F) && !is_f) {
			/* the literal text so far will be the first part */
			n->kind = AST_FSTR;
			is_f = true;
		}
		if (s.str_flags & LEX_STR_F) {
			if (!parse_fstring_body(p, n, &b, &s))
				break;
		} else {
			struct cursor c = body_of(&s);
			if (b.n == 0) {
				b.line = c.line;
				b.col = c.col;
			}
			while (c.s < c.end && decode_char(p, &c, &b, s.str_flags & LEX_STR_RAW))
				;
		}
	}
	if (p->failed) {
		free(b.v);
		return NULL;
	}
	if (is_f) {
		if (!flush_part(p, n, &b)) {
			free(b.v);
			return NULL;
		}
	} else {
		if (!b.v && !buf_add(p, &b, "", 0))
			return NULL;
		n->str = b.v;
		n->ival = (int64_t)b.n;
	}
	return n;
}

/* ------------------------------------------------------------------ statements */

static bool parse_statement(struct parser *p, struct ast_list *out);

/* An expression as messages name it: "a function call", "None", ... */
static const char *node_desc(const struct ast_node *n)
{
	switch (n->kind) {
	case AST_NAME: return "a name";
	case AST_ATTR: return "an attribute";
	case AST_INDEX: return "a subscript";
	case AST_TUPLE: return n->items.n ? "a tuple" : "()";
	case AST_CALL: return "a function call";
	case AST_INT: case AST_FLOAT: case AST_DURATION: case AST_STR: return "a literal";
	case AST_FSTR: return "an f-string";
	case AST_NONE: return "None";
	case AST_TRUE: return "True";
	case AST_FALSE: return "False";
	case AST_COMPARE: return "a comparison";
	case AST_IFEXP: return "a conditional expression";
	case AST_LIST: return "a list";
	case AST_DICT: return "a dict literal";
	case AST_AWAIT: return "await expression";
	case AST_LAMBDA: return "a lambda";
	default: return "an expression";
	}
}

/* What an assignment target may not be, as "cannot assign to <this>"; NULL if n is fine.
 * *where is set to the offending node. */
static const char *bad_target(const struct ast_node *n, bool in_tuple,
			      const struct ast_node **where)
{
	*where = n;
	switch (n->kind) {
	case AST_NAME: case AST_ATTR: case AST_INDEX:
		return NULL;
	case AST_TUPLE:
		if (in_tuple)
			return "a nested tuple";
		if (n->items.n == 0)
			return "()";
		for (int i = 0; i < n->items.n; i++) {
			const char *why = bad_target(n->items.v[i], true, where);
			if (why)
				return why;
		}
		return NULL;
	default:
		return node_desc(n);
	}
}

static bool check_target(struct parser *p, const struct ast_node *n)
{
	const struct ast_node *where;
	const char *why = bad_target(n, false, &where);
	if (why)
		return fail_at(p, where->line, where->col, "cannot assign to %s", why);
	return true;
}

static bool end_of_simple(int type)
{
	return type == LEX_NEWLINE || type == ';' || type == LEX_EOF;
}

/* An indented block after a compound statement's ':' (or statements on the same line). */
static bool parse_suite(struct parser *p, struct ast_list *out, const char *kw, int kwline)
{
	if (cur_type(p) != LEX_NEWLINE) {
		/* `if x: pass` — simple statements on the same line */
		if (!starts_expr(cur_type(p)) && cur_type(p) != LEX_PASS &&
		    cur_type(p) != LEX_BREAK && cur_type(p) != LEX_CONTINUE &&
		    cur_type(p) != LEX_RETURN && cur_type(p) != LEX_GLOBAL &&
		    cur_type(p) != LEX_IMPORT && cur_type(p) != LEX_FROM &&
		    cur_type(p) != LEX_RAISE)
			return fail_found(p, cur(p), "expected a statement after ':'");
		if (!enter(p))
			return false;
		p->blocks++;
		if (!parse_statement(p, out))
			return false;
		p->blocks--;
		leave(p, 1);
		return true;
	}
	advance(p);
	struct lex_token *t = cur(p);
	if (t->type == LEX_ERROR)
		return fail_found(p, t, "unreachable");
	if (t->type != LEX_INDENT)
		return fail_at(p, t->line, t->col, "expected an indented block after '%s' on line %d",
			       kw, kwline);
	if (!enter(p))
		return false;
	advance(p);
	p->blocks++;
	while (!p->failed && cur_type(p) != LEX_DEDENT && cur_type(p) != LEX_EOF &&
	       cur_type(p) != LEX_ERROR)
		parse_statement(p, out);
	if (p->failed)
		return false;
	if (cur_type(p) == LEX_ERROR)
		return fail_found(p, cur(p), "unreachable");
	accept(p, LEX_DEDENT);
	p->blocks--;
	leave(p, 1);
	return true;
}

static struct ast_node *parse_if(struct parser *p, const char *kw)
{
	struct lex_token *t = cur(p);
	int line = t->line;
	struct ast_node *n = node_at(p, AST_IF, t);
	if (!n)
		return NULL;
	advance(p);
	if (!(n->a = parse_test(p)))
		return NULL;
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the condition of '%s'", kw);
	if (!parse_suite(p, &n->items, kw, line))
		return NULL;
	t = cur(p);
	if (t->type == LEX_ELIF) {
		if (!enter(p))
			return NULL;
		if (!list_push(p, &n->items2, parse_if(p, "elif")))
			return NULL;
		leave(p, 1);
	} else if (t->type == LEX_ELSE) {
		int eline = t->line;
		advance(p);
		if (!accept(p, ':'))
			return fail_found(p, cur(p), "expected ':' after 'else'");
		if (!parse_suite(p, &n->items2, "else", eline))
			return NULL;
	}
	return n;
}

static struct ast_node *parse_while(struct parser *p)
{
	struct lex_token *t = cur(p);
	int line = t->line;
	struct ast_node *n = node_at(p, AST_WHILE, t);
	if (!n)
		return NULL;
	advance(p);
	if (!(n->a = parse_test(p)))
		return NULL;
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the condition of 'while'");
	p->loops++;
	if (!parse_suite(p, &n->items, "while", line))
		return NULL;
	p->loops--;
	return n;
}

static struct ast_node *parse_for(struct parser *p)
{
	struct lex_token *t = cur(p);
	int line = t->line;
	struct ast_node *n = node_at(p, AST_FOR, t);
	if (!n)
		return NULL;
	advance(p);
	/* the target stops before `in`, so it is read at the level of `|`, not as a comparison */
	struct ast_node *target = parse_binary(p, 1);
	if (!target)
		return NULL;
	if (cur_type(p) == ',') {
		struct ast_node *tup = node_new(p, AST_TUPLE, target->line, target->col);
		if (!tup || !list_push(p, &tup->items, target))
			return NULL;
		while (accept(p, ',') && cur_type(p) != TOK_IN)
			if (!list_push(p, &tup->items, parse_binary(p, 1)))
				return NULL;
		target = tup;
	}
	n->a = target;
	const struct ast_node *bad = target->kind == AST_NAME ? NULL : target;
	if (target->kind == AST_TUPLE) {
		bad = NULL;
		for (int i = 0; i < target->items.n && !bad; i++)
			if (target->items.v[i]->kind != AST_NAME)
				bad = target->items.v[i];
	}
	if (bad)
		return fail_at(p, bad->line, bad->col,
			       "cannot use %s as a 'for' loop variable", node_desc(bad));
	if (!accept(p, TOK_IN))
		return fail_found(p, cur(p), "expected 'in' after the loop variable of 'for'");
	if (!(n->b = parse_testlist(p)))
		return NULL;
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the iterable of 'for'");
	p->loops++;
	if (!parse_suite(p, &n->items, "for", line))
		return NULL;
	p->loops--;
	return n;
}

/* Parameters `a, b, c=1` of a def (up to `close`, ')') or a lambda (':') into n->params and
 * n->items2 (defaults); consumes `close`. */
static bool parse_params(struct parser *p, struct ast_node *n, int close)
{
	while (cur_type(p) != close) {
		struct lex_token *t = cur(p);
		if (t->type == '*' || t->type == TOK_POW)
			return fail_at(p, t->line, t->col,
				       "'%s' parameters are not part of the scenario language yet",
				       t->type == '*' ? "*args" : "**kwargs");
		if (t->type != LEX_NAME)
			return fail_found(p, t, close == ':' ? "expected a parameter name or ':'"
							     : "expected a parameter name");
		if (n->params.n >= PARSE_MAX_PARAMS)
			return fail_at(p, t->line, t->col, "more than %d parameters",
				       PARSE_MAX_PARAMS);
		for (int i = 0; i < n->params.n; i++)
			if (strlen(n->params.v[i]) == t->len &&
			    memcmp(n->params.v[i], t->start, t->len) == 0)
				return fail_at(p, t->line, t->col, "duplicate parameter '%s'",
					       n->params.v[i]);
		if (!names_push(p, &n->params, token_text(p, t)))
			return false;
		int pline = t->line, pcol = t->col;
		advance(p);
		if (close != ':' && cur_type(p) == ':')
			return fail_at(p, cur(p)->line, cur(p)->col,
				       "annotations are not part of the scenario language yet");
		if (accept(p, '=')) {
			if (!list_push(p, &n->items2, parse_test(p)))
				return false;
		} else if (n->items2.n > 0) {
			return fail_at(p, pline, pcol,
				       "parameter '%s' without a default follows one with a default",
				       n->params.v[n->params.n - 1]);
		}
		if (cur_type(p) == close)
			break;
		if (!accept(p, ','))
			return fail_found(p, cur(p), "expected '%c' or ',' after a parameter", close);
	}
	advance(p); /* the close */
	return true;
}

/* `def name` or `class name`: the statement's node with its name, or NULL */
static struct ast_node *parse_named(struct parser *p, enum ast_kind kind, const char *what)
{
	struct ast_node *n = node_at(p, kind, cur(p));
	if (!n)
		return NULL;
	const char *kw = kind == AST_DEF ? "def" : "class";
	advance(p);
	struct lex_token *t = cur(p);
	if (t->type != LEX_NAME)
		return fail_found(p, t, "expected a %s name after '%s'", what, kw);
	if (!(n->str = token_text(p, t)))
		return NULL;
	advance(p);
	return n;
}

static struct ast_node *parse_def(struct parser *p)
{
	int line = cur(p)->line;
	struct ast_node *n = parse_named(p, AST_DEF, "function");
	if (!n)
		return NULL;
	if (!accept(p, '('))
		return fail_found(p, cur(p), "expected '(' after the function name");
	if (!parse_params(p, n, ')'))
		return NULL;
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the parameters of 'def'");
	int loops = p->loops;
	p->loops = 0;
	p->funcs++;
	if (!parse_suite(p, &n->items, "def", line))
		return NULL;
	p->funcs--;
	p->loops = loops;
	return n;
}

/* async def: a coroutine function; `async for` and `async with` are not in the language */
static struct ast_node *parse_async(struct parser *p)
{
	int line = cur(p)->line, col = cur(p)->col;
	advance(p);
	struct lex_token *nx = cur(p);
	if (nx->type == LEX_FOR || nx->type == LEX_WITH)
		return fail_at(p, line, col, "'async %s' is not part of the scenario language yet",
			       nx->type == LEX_FOR ? "for" : "with");
	if (nx->type != LEX_DEF)
		return fail_found(p, nx, "expected 'def' after 'async'");
	struct ast_node *n = parse_def(p);
	if (n)
		n->ival = 1;
	return n;
}

/* try: ... except [E [as e]]: ... else: ... finally: ... */
static struct ast_node *parse_try(struct parser *p)
{
	struct lex_token *t = cur(p);
	int line = t->line;
	struct ast_node *n = node_at(p, AST_TRY, t);
	if (!n)
		return NULL;
	advance(p);
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after 'try'");
	if (!parse_suite(p, &n->items, "try", line))
		return NULL;
	const struct ast_node *bare = NULL;
	while (cur_type(p) == LEX_EXCEPT) {
		t = cur(p);
		int hline = t->line;
		if (bare)
			return fail_at(p, bare->line, bare->col, "default 'except:' must be last");
		struct ast_node *h = node_at(p, AST_EXCEPT, t);
		if (!h || !list_push(p, &n->items2, h))
			return NULL;
		advance(p);
		if (cur_type(p) == '*')
			return fail_at(p, cur(p)->line, cur(p)->col,
				       "'except*' is not part of the scenario language yet");
		if (cur_type(p) == ':') {
			bare = h;
		} else {
			if (!(h->a = parse_test(p)))
				return NULL;
			if (cur_type(p) == ',')
				return fail_at(p, h->a->line, h->a->col,
					       "multiple exception types must be parenthesized");
			if (accept(p, LEX_AS)) {
				t = cur(p);
				if (t->type != LEX_NAME)
					return fail_found(p, t, "expected a name after 'as'");
				if (!(h->str = token_text(p, t)))
					return NULL;
				advance(p);
			}
		}
		if (!accept(p, ':'))
			return fail_found(p, cur(p), "expected ':' after the 'except' clause");
		if (!parse_suite(p, &h->items, "except", hline))
			return NULL;
	}
	struct ast_node **blocks[2] = {&n->a, &n->b};
	const int kws[2] = {LEX_ELSE, LEX_FINALLY};
	for (int k = 0; k < 2; k++) {
		t = cur(p);
		if (t->type != kws[k] || (k == 0 && n->items2.n == 0))
			continue;
		int kline = t->line;
		struct ast_node *b = node_at(p, AST_BLOCK, t);
		if (!b)
			return NULL;
		*blocks[k] = b;
		advance(p);
		if (!accept(p, ':'))
			return fail_found(p, cur(p), "expected ':' after '%s'", k ? "finally" : "else");
		if (!parse_suite(p, &b->items, k ? "finally" : "else", kline))
			return NULL;
	}
	if (n->items2.n == 0 && !n->b)
		return fail_found(p, cur(p), "expected 'except' or 'finally' block");
	return n;
}

/* class Name(Base): body — the compiler decides which are in the language */
static struct ast_node *parse_class(struct parser *p)
{
	int line = cur(p)->line;
	struct ast_node *n = parse_named(p, AST_CLASS, "class");
	if (!n)
		return NULL;
	if (accept(p, '(')) {
		while (cur_type(p) != ')') {
			if (!list_push(p, &n->items2, parse_test(p)))
				return NULL;
			if (cur_type(p) == ')')
				break;
			if (!accept(p, ','))
				return fail_found(p, cur(p), "expected ')' or ',' after a base class");
		}
		advance(p); /* ) */
	}
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the class name");
	int loops = p->loops;
	p->loops = 0;
	if (!parse_suite(p, &n->items, "class", line))
		return NULL;
	p->loops = loops;
	return n;
}

static struct ast_node *parse_with(struct parser *p)
{
	struct lex_token *t = cur(p);
	int line = t->line;
	struct ast_node *n = node_at(p, AST_WITH, t);
	if (!n)
		return NULL;
	advance(p);
	if (!(n->a = parse_test(p)))
		return NULL;
	if (accept(p, LEX_AS)) {
		t = cur(p);
		if (t->type != LEX_NAME)
			return fail_found(p, t, "expected a name after 'as'");
		if (!(n->str = token_text(p, t)))
			return NULL;
		advance(p);
	}
	if (cur_type(p) == ',')
		return fail_at(p, cur(p)->line, cur(p)->col,
			       "more than one context manager in a 'with' is not part of the "
			       "scenario language yet");
	if (!accept(p, ':'))
		return fail_found(p, cur(p), "expected ':' after the 'with' expression");
	if (!parse_suite(p, &n->items, "with", line))
		return NULL;
	return n;
}

/* a.b.c as one string "a.b.c" */
static char *parse_dotted(struct parser *p, const char *what)
{
	struct lex_token *t = cur(p);
	if (t->type != LEX_NAME)
		return fail_found(p, t, "expected %s", what);
	const char *start = t->start;
	advance(p);
	while (cur_type(p) == '.') {
		advance(p);
		if (cur_type(p) != LEX_NAME)
			return fail_found(p, cur(p), "expected a module name after '.'");
		advance(p);
	}
	/* the text may hold spaces (`os . path`): rebuild it from the names */
	struct buf b = {0};
	const char *s = start;
	while (s < p->prev_end) {
		if (*s != ' ' && *s != '\t' && *s != '\\' && *s != '\n' && *s != '\r' &&
		    *s != '\f' && !buf_add(p, &b, s, 1)) {
			free(b.v);
			return NULL;
		}
		s++;
	}
	return b.v;
}

/* name [as alias] into params / params2 */
static bool parse_import_name(struct parser *p, struct ast_node *n, bool dotted)
{
	char *name;
	if (dotted) {
		name = parse_dotted(p, "a module name");
	} else {
		struct lex_token *t = cur(p);
		if (t->type != LEX_NAME)
			return fail_found(p, t, "expected a name to import");
		name = token_text(p, t);
		advance(p);
	}
	if (!name || !names_push(p, &n->params, name))
		return false;
	char *alias = NULL;
	if (accept(p, LEX_AS)) {
		struct lex_token *t = cur(p);
		if (t->type != LEX_NAME)
			return fail_found(p, t, "expected a name after 'as'");
		if (!(alias = token_text(p, t)))
			return false;
		advance(p);
	}
	return names_push(p, &n->params2, alias);
}

static struct ast_node *parse_import(struct parser *p)
{
	struct lex_token *t = cur(p);
	struct ast_node *n = node_at(p, AST_IMPORT, t);
	if (!n)
		return NULL;
	if (t->type == LEX_IMPORT) {
		advance(p);
		do {
			if (!parse_import_name(p, n, true))
				return NULL;
		} while (accept(p, ','));
		return n;
	}
	advance(p); /* from */
	if (cur_type(p) == '.')
		return fail_at(p, cur(p)->line, cur(p)->col,
			       "relative imports are not part of the scenario language");
	if (!(n->str = parse_dotted(p, "a module name after 'from'")))
		return NULL;
	if (!accept(p, LEX_IMPORT))
		return fail_found(p, cur(p), "expected 'import' after the module name");
	if (cur_type(p) == '*')
		return fail_at(p, cur(p)->line, cur(p)->col,
			       "'import *' is not part of the scenario language yet");
	bool paren = accept(p, '(');
	do {
		if (paren && cur_type(p) == ')' && n->params.n > 0)
			break;
		if (!parse_import_name(p, n, false))
			return NULL;
	} while (accept(p, ','));
	if (paren && !accept(p, ')'))
		return fail_found(p, cur(p), "expected ')' or ','");
	return n;
}

static struct ast_node *parse_machine(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (p->blocks > 0)
		return fail_at(p, t->line, t->col, "'machine' is only allowed at the top level");
	struct ast_node *n = node_at(p, AST_MACHINE, t);
	if (!n)
		return NULL;
	advance(p);
	for (;;) {
		struct lex_token *k = cur(p);
		if (k->type != LEX_NAME)
			return fail_found(p, k, "expected a key=value pair in the machine line");
		if (n->items.n >= PARSE_MAX_MACHINE_KEYS)
			return fail_at(p, k->line, k->col, "more than %d settings in the machine line",
				       PARSE_MAX_MACHINE_KEYS);
		struct ast_node *kw = node_at(p, AST_KWARG, k);
		if (!kw || !(kw->str = token_text(p, k)))
			return NULL;
		for (int i = 0; i < n->items.n; i++)
			if (strcmp(n->items.v[i]->str, kw->str) == 0)
				return fail_at(p, k->line, k->col,
					       "'%s' is set twice in the machine line", kw->str);
		if (!list_push(p, &n->items, kw))
			return NULL;
		advance(p);
		if (!accept(p, '='))
			return fail_found(p, cur(p), "expected '=' after '%s' in the machine line",
					  kw->str);
		struct lex_token *v = cur(p);
		switch (v->type) {
		case LEX_INT: case LEX_FLOAT: case LEX_DURATION: case LEX_TRUE: case LEX_FALSE:
		case LEX_NAME:
			kw->a = parse_atom(p);
			break;
		case LEX_STRING:
			if (v->str_flags & LEX_STR_F)
				return fail_at(p, v->line, v->col,
					       "an f-string cannot be a value in the machine line");
			if (peek(p, 1)->type == LEX_STRING) { /* one literal, not a concatenation */
				advance(p);
				return fail_found(p, cur(p),
						  "expected a key=value pair or end of line");
			}
			kw->a = parse_strings(p);
			break;
		default:
			return fail_found(p, v,
					  "expected a value for '%s' (a number, duration, string, "
					  "True, False or name)", kw->str);
		}
		if (!kw->a)
			return NULL;
		if (accept(p, ',')) {
			if (cur_type(p) != LEX_NAME)
				return fail_found(p, cur(p), "expected a key=value pair after ','");
			continue;
		}
		if (cur_type(p) == LEX_NAME)
			continue;
		if (end_of_simple(cur_type(p)))
			return n;
		return fail_found(p, cur(p), "expected a key=value pair or end of line");
	}
}

static struct ast_node *parse_expect(struct parser *p)
{
	struct lex_token *t = cur(p);
	if (p->blocks > 0)
		return fail_at(p, t->line, t->col, "'expect' is only allowed at the top level");
	struct ast_node *n = node_at(p, AST_EXPECT, t);
	if (!n)
		return NULL;
	advance(p);
	if (!starts_expr(cur_type(p)))
		return fail_found(p, cur(p), "expected an expression after 'expect'");
	const char *start = cur(p)->start;
	p->approx_ok = true;
	struct ast_node *e = parse_test(p);
	p->approx_ok = false;
	if (!e)
		return NULL;
	if (at_plusminus(p)) {
		struct lex_token *pm = cur(p);
		if (e->kind != AST_COMPARE || e->items.n != 2 || e->cmp_ops[0] != TOK_EQ)
			return fail_at(p, pm->line, pm->col,
				       "'%s' must follow a comparison 'a == b' in an expect line",
				       pm->type == LEX_PLUSMINUS ? "±" : "+-");
		if (pm->type == '+')
			advance(p);
		advance(p);
		struct ast_node *tol = parse_binary(p, 1);
		if (!tol)
			return NULL;
		/* the comparison node becomes the AST_APPROX: no node is dropped */
		e->kind = AST_APPROX;
		e->a = e->items.v[0];
		e->b = e->items.v[1];
		e->c = tol;
		free(e->items.v);
		e->items = (struct ast_list){0};
		free(e->cmp_ops);
		e->cmp_ops = NULL;
	}
	n->a = e;
	const char *end = p->prev_end;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (!(n->str = dup_span(p, start, (size_t)(end - start))))
		return NULL;
	return n;
}

/* Is this NAME `machine` / `expect` used as the statement keyword, not as a variable? */
static bool soft_keyword(struct parser *p, const char *kw)
{
	struct lex_token *t = cur(p);
	size_t n = strlen(kw);
	if (t->type != LEX_NAME || t->len != n || memcmp(t->start, kw, n) != 0)
		return false;
	int next = peek(p, 1)->type;
	if (kw[0] == 'm')
		return next == LEX_NAME && peek(p, 2)->type == '=';
	/* `expect = 3`, `expect(x)`, `expect.x`, `expect += 1`, `expect, y = ...` use the name */
	return next != '=' && next != '(' && next != '.' && next != LEX_AUGASSIGN && next != ',' &&
	       next != ';' && next != LEX_NEWLINE && next != LEX_EOF;
}

static const char *augassign_spelling(int op, char *buf, size_t size)
{
	const char *s = token_spelling(op);
	if (s)
		snprintf(buf, size, "%s=", s);
	else
		snprintf(buf, size, "%c=", op);
	return buf;
}

static struct ast_node *parse_simple(struct parser *p)
{
	struct lex_token *t = cur(p);
	struct ast_node *n;
	switch (t->type) {
	case LEX_PASS:
	case LEX_BREAK:
	case LEX_CONTINUE:
		if (t->type != LEX_PASS && p->loops == 0)
			return fail_at(p, t->line, t->col, "'%s' outside a loop",
				       t->type == LEX_BREAK ? "break" : "continue");
		n = node_at(p, t->type == LEX_PASS ? AST_PASS : t->type == LEX_BREAK ? AST_BREAK
										 : AST_CONTINUE, t);
		advance(p);
		return n;
	case LEX_RETURN:
		if (p->funcs == 0)
			return fail_at(p, t->line, t->col, "'return' outside a function");
		n = node_at(p, AST_RETURN, t);
		advance(p);
		if (n && !end_of_simple(cur_type(p)) && !(n->a = parse_testlist(p)))
			return NULL;
		return n;
	case LEX_GLOBAL:
		n = node_at(p, AST_GLOBAL, t);
		if (!n)
			return NULL;
		advance(p);
		do {
			t = cur(p);
			if (t->type != LEX_NAME)
				return fail_found(p, t, "expected a name after 'global'");
			if (!names_push(p, &n->params, token_text(p, t)))
				return NULL;
			advance(p);
		} while (accept(p, ','));
		return n;
	case LEX_IMPORT:
	case LEX_FROM:
		return parse_import(p);
	case LEX_RAISE:
		n = node_at(p, AST_RAISE, t);
		advance(p);
		if (n && !end_of_simple(cur_type(p))) {
			if (!(n->a = parse_test(p)))
				return NULL;
			if (accept(p, LEX_FROM) && !(n->b = parse_test(p)))
				return NULL;
		}
		return n;
	case LEX_EXCEPT:
	case LEX_FINALLY:
		return fail_at(p, t->line, t->col, "'%s' without a matching 'try'",
			       t->type == LEX_EXCEPT ? "except" : "finally");
	case LEX_INDENT:
		return fail_at(p, t->line, t->col, "unexpected indent");
	case LEX_ELSE:
	case LEX_ELIF:
		return fail_at(p, t->line, t->col, "'%s' without a matching 'if'",
			       t->type == LEX_ELSE ? "else" : "elif");
	default:
		break;
	}
	if (soft_keyword(p, "machine"))
		return parse_machine(p);
	if (soft_keyword(p, "expect"))
		return parse_expect(p);

	struct ast_node *first = parse_testlist(p);
	if (!first)
		return NULL;
	t = cur(p);
	if (t->type == LEX_AUGASSIGN) {
		char spell[8];
		augassign_spelling(t->op, spell, sizeof spell);
		if (first->kind != AST_NAME && first->kind != AST_ATTR && first->kind != AST_INDEX) {
			return fail_at(p, first->line, first->col, "'%s' cannot assign to %s", spell,
				       node_desc(first));
		}
		n = node_new(p, AST_AUGASSIGN, first->line, first->col);
		if (!n)
			return NULL;
		n->op = t->op;
		n->a = first;
		advance(p);
		if (!(n->b = parse_testlist(p)))
			return NULL;
		return n;
	}
	if (t->type == '=') {
		n = node_new(p, AST_ASSIGN, first->line, first->col);
		if (!n)
			return NULL;
		struct ast_node *value = first;
		while (accept(p, '=')) {
			if (!check_target(p, value) || !list_push(p, &n->items, value))
				return NULL;
			if (!(value = parse_testlist(p)))
				return NULL;
		}
		n->a = value;
		return n;
	}
	n = node_new(p, AST_EXPR_STMT, first->line, first->col);
	if (n)
		n->a = first;
	return n;
}

/* simple (';' simple)* [';'] NEWLINE */
static bool parse_simple_line(struct parser *p, struct ast_list *out)
{
	for (;;) {
		if (!list_push(p, out, parse_simple(p)))
			return false;
		if (!accept(p, ';'))
			break;
		if (cur_type(p) == LEX_NEWLINE || cur_type(p) == LEX_EOF)
			break;
	}
	if (cur_type(p) == LEX_EOF)
		return true;
	if (!accept(p, LEX_NEWLINE))
		return fail_found(p, cur(p), "expected end of line");
	return true;
}

static bool parse_statement(struct parser *p, struct ast_list *out)
{
	struct ast_node *n;
	switch (cur_type(p)) {
	case LEX_IF: n = parse_if(p, "if"); break;
	case LEX_WHILE: n = parse_while(p); break;
	case LEX_FOR: n = parse_for(p); break;
	case LEX_DEF: n = parse_def(p); break;
	case LEX_ASYNC: n = parse_async(p); break;
	case LEX_WITH: n = parse_with(p); break;
	case LEX_TRY: n = parse_try(p); break;
	case LEX_CLASS: n = parse_class(p); break;
	default: return parse_simple_line(p, out);
	}
	return list_push(p, out, n);
}

/* ------------------------------------------------------------------ entry points */

struct ast_program *ast_parse(const struct source *src, struct diag *err)
{
	struct diag scratch;
	struct lexer lx;
	struct parser p = {0};
	p.src = src;
	p.err = err ? err : &scratch;
	p.lx = &lx;
	lex_init(&lx, src);
	struct ast_program *prog = calloc(1, sizeof *prog);
	if (!prog)
		out_of_memory(&p);
	while (!p.failed && cur_type(&p) != LEX_EOF) {
		if (accept(&p, LEX_NEWLINE))
			continue;
		if (cur_type(&p) == LEX_ERROR || cur_type(&p) == LEX_DEDENT) {
			fail_found(&p, cur(&p), "expected a statement");
			break;
		}
		parse_statement(&p, &prog->body);
	}
	lex_finish(&lx);
	if (p.failed) {
		for (size_t i = 0; i < p.nall; i++)
			node_free_shallow(p.all[i]);
		free(p.all);
		if (prog)
			free(prog->body.v);
		free(prog);
		return NULL;
	}
	free(p.all);
	prog->src = src;
	return prog;
}

void ast_program_destroy(struct ast_program *prog)
{
	if (!prog)
		return;
	for (int i = 0; i < prog->body.n; i++)
		node_free(prog->body.v[i]);
	free(prog->body.v);
	free(prog);
}

const char *ast_kind_name(enum ast_kind kind)
{
	static const char *const names[AST_KIND_COUNT] = {
		[AST_INT] = "integer",
		[AST_FLOAT] = "float",
		[AST_DURATION] = "duration",
		[AST_STR] = "string",
		[AST_FSTR] = "f-string",
		[AST_FMT] = "f-string field",
		[AST_NONE] = "None",
		[AST_TRUE] = "True",
		[AST_FALSE] = "False",
		[AST_NAME] = "name",
		[AST_ATTR] = "attribute",
		[AST_INDEX] = "subscript",
		[AST_SLICE] = "slice",
		[AST_CALL] = "function call",
		[AST_KWARG] = "keyword argument",
		[AST_UNARY] = "unary operation",
		[AST_BINARY] = "binary operation",
		[AST_IFEXP] = "conditional expression",
		[AST_COMPARE] = "comparison",
		[AST_APPROX] = "approximate comparison",
		[AST_TUPLE] = "tuple",
		[AST_LIST] = "list",
		[AST_EXPR_STMT] = "expression statement",
		[AST_ASSIGN] = "assignment",
		[AST_AUGASSIGN] = "augmented assignment",
		[AST_IF] = "if statement",
		[AST_WHILE] = "while loop",
		[AST_FOR] = "for loop",
		[AST_DEF] = "function definition",
		[AST_RETURN] = "return statement",
		[AST_PASS] = "pass statement",
		[AST_BREAK] = "break statement",
		[AST_CONTINUE] = "continue statement",
		[AST_GLOBAL] = "global declaration",
		[AST_IMPORT] = "import",
		[AST_WITH] = "with statement",
		[AST_MACHINE] = "machine line",
		[AST_EXPECT] = "expect line",
		[AST_AWAIT] = "await expression",
		[AST_TRY] = "try statement",
		[AST_EXCEPT] = "except clause",
		[AST_BLOCK] = "block",
		[AST_RAISE] = "raise statement",
		[AST_LAMBDA] = "lambda",
		[AST_CLASS] = "class statement",
		[AST_DICT] = "dict",
	};
	if ((int)kind < 0 || kind >= AST_KIND_COUNT || !names[kind])
		return "syntax";
	return names[kind];
}

/* test-parse.c — the scenario language's lexer and parser: tree shapes for every construct,
 * positions, and the exact diagnostics for malformed input. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "suites.h"

/* ------------------------------------------------------------------ a tree printer */

/* Writes trees as S-expressions: (+ a b), (call f x (= k v)), "text", 5000000ns, ... */
struct out {
	char buf[8192];
	size_t n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k;
	if (o->n >= sizeof o->buf)
		o->n = sizeof o->buf - 1;
}

static const char *op_name(int op)
{
	static char one[2];
	switch (op) {
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
	case TOK_NOT_IN: return "not-in";
	case TOK_IS: return "is";
	case TOK_IS_NOT: return "is-not";
	default:
		one[0] = (char)op;
		one[1] = '\0';
		return one;
	}
}

static void dump(struct out *o, const struct ast_node *n);

static void dump_list(struct out *o, const struct ast_list *l)
{
	put(o, "(");
	for (int i = 0; i < l->n; i++) {
		if (i)
			put(o, " ");
		dump(o, l->v[i]);
	}
	put(o, ")");
}

static void dump_items(struct out *o, const struct ast_list *l)
{
	for (int i = 0; i < l->n; i++) {
		put(o, " ");
		dump(o, l->v[i]);
	}
}

static void dump_str(struct out *o, const char *s, size_t n)
{
	put(o, "\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			put(o, "\\n");
		else if (s[i] == '\t')
			put(o, "\\t");
		else if (s[i] == '\0')
			put(o, "\\0");
		else
			put(o, "%c", s[i]);
	}
	put(o, "\"");
}

static void dump(struct out *o, const struct ast_node *n)
{
	if (!n) {
		put(o, "NULL");
		return;
	}
	switch (n->kind) {
	case AST_INT: put(o, "%lld", (long long)n->ival); break;
	case AST_FLOAT: put(o, "%g", n->fval); break;
	case AST_DURATION: put(o, "%lldns", (long long)n->ival); break;
	case AST_STR: dump_str(o, n->str, (size_t)n->ival); break;
	case AST_FSTR: put(o, "(f"); dump_items(o, &n->items); put(o, ")"); break;
	case AST_FMT:
		put(o, "(fmt ");
		dump(o, n->a);
		if (n->op)
			put(o, " !%c", n->op);
		if (n->str)
			put(o, " :\"%s\"", n->str);
		put(o, ")");
		break;
	case AST_NONE: put(o, "None"); break;
	case AST_TRUE: put(o, "True"); break;
	case AST_FALSE: put(o, "False"); break;
	case AST_NAME: put(o, "%s", n->str); break;
	case AST_ATTR: put(o, "(. "); dump(o, n->a); put(o, " %s)", n->str); break;
	case AST_INDEX:
		put(o, "([] ");
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, ")");
		break;
	case AST_CALL:
		put(o, "(call ");
		dump(o, n->a);
		dump_items(o, &n->items);
		dump_items(o, &n->items2);
		put(o, ")");
		break;
	case AST_KWARG: put(o, "(= %s ", n->str); dump(o, n->a); put(o, ")"); break;
	case AST_UNARY: put(o, "(%s ", op_name(n->op)); dump(o, n->a); put(o, ")"); break;
	case AST_BINARY:
		put(o, "(%s ", op_name(n->op));
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, ")");
		break;
	case AST_IFEXP:
		put(o, "(ifexp ");
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, " ");
		dump(o, n->c);
		put(o, ")");
		break;
	case AST_COMPARE:
		put(o, "(cmp ");
		dump(o, n->items.v[0]);
		for (int i = 1; i < n->items.n; i++) {
			put(o, " %s ", op_name(n->cmp_ops[i - 1]));
			dump(o, n->items.v[i]);
		}
		put(o, ")");
		break;
	case AST_APPROX:
		put(o, "(approx ");
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, " ");
		dump(o, n->c);
		put(o, ")");
		break;
	case AST_TUPLE: put(o, "(tuple"); dump_items(o, &n->items); put(o, ")"); break;
	case AST_LIST: put(o, "(list"); dump_items(o, &n->items); put(o, ")"); break;
	case AST_DICT:
		put(o, "(dict");
		for (int i = 0; i < n->items.n; i++) {
			put(o, " (: ");
			dump(o, n->items.v[i]);
			put(o, " ");
			dump(o, n->items2.v[i]);
			put(o, ")");
		}
		put(o, ")");
		break;
	case AST_EXPR_STMT: put(o, "(expr "); dump(o, n->a); put(o, ")"); break;
	case AST_ASSIGN:
		put(o, "(=");
		dump_items(o, &n->items);
		put(o, " ");
		dump(o, n->a);
		put(o, ")");
		break;
	case AST_AUGASSIGN:
		put(o, "(%s= ", op_name(n->op));
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, ")");
		break;
	case AST_IF:
		put(o, "(if ");
		dump(o, n->a);
		put(o, " ");
		dump_list(o, &n->items);
		put(o, " ");
		dump_list(o, &n->items2);
		put(o, ")");
		break;
	case AST_WHILE:
		put(o, "(while ");
		dump(o, n->a);
		put(o, " ");
		dump_list(o, &n->items);
		put(o, ")");
		break;
	case AST_FOR:
		put(o, "(for ");
		dump(o, n->a);
		put(o, " ");
		dump(o, n->b);
		put(o, " ");
		dump_list(o, &n->items);
		put(o, ")");
		break;
	case AST_DEF:
	case AST_LAMBDA:
		put(o, n->kind == AST_DEF ? "(def %s (" : "(lambda (", n->str);
		for (int i = 0; i < n->params.n; i++) {
			int d = i - (n->params.n - n->items2.n);
			put(o, "%s%s", i ? " " : "", n->params.v[i]);
			if (d >= 0) {
				put(o, "=");
				dump(o, n->items2.v[d]);
			}
		}
		put(o, ") ");
		if (n->kind == AST_LAMBDA)
			dump(o, n->a);
		else
			dump_list(o, &n->items);
		put(o, ")");
		break;
	case AST_TRY:
		put(o, "(try ");
		dump_list(o, &n->items);
		for (int i = 0; i < n->items2.n; i++) {
			const struct ast_node *h = n->items2.v[i];
			put(o, " (except ");
			if (h->a)
				dump(o, h->a);
			else
				put(o, "*");
			if (h->str)
				put(o, " as %s", h->str);
			put(o, " ");
			dump_list(o, &h->items);
			put(o, ")");
		}
		if (n->a) {
			put(o, " (else ");
			dump_list(o, &n->a->items);
			put(o, ")");
		}
		if (n->b) {
			put(o, " (finally ");
			dump_list(o, &n->b->items);
			put(o, ")");
		}
		put(o, ")");
		break;
	case AST_RAISE:
		put(o, "(raise");
		if (n->a) {
			put(o, " ");
			dump(o, n->a);
		}
		if (n->b) {
			put(o, " from ");
			dump(o, n->b);
		}
		put(o, ")");
		break;
	case AST_CLASS:
		put(o, "(class %s (", n->str);
		for (int i = 0; i < n->items2.n; i++) {
			put(o, "%s", i ? " " : "");
			dump(o, n->items2.v[i]);
		}
		put(o, ") ");
		dump_list(o, &n->items);
		put(o, ")");
		break;
	case AST_RETURN:
		put(o, "(return");
		if (n->a) {
			put(o, " ");
			dump(o, n->a);
		}
		put(o, ")");
		break;
	case AST_PASS: put(o, "pass"); break;
	case AST_BREAK: put(o, "break"); break;
	case AST_CONTINUE: put(o, "continue"); break;
	case AST_GLOBAL:
		put(o, "(global");
		for (int i = 0; i < n->params.n; i++)
			put(o, " %s", n->params.v[i]);
		put(o, ")");
		break;
	case AST_IMPORT:
		put(o, "(import %s", n->str ? n->str : "-");
		for (int i = 0; i < n->params.n; i++) {
			put(o, " %s", n->params.v[i]);
			if (n->params2.v[i])
				put(o, ":%s", n->params2.v[i]);
		}
		put(o, ")");
		break;
	case AST_WITH:
		put(o, "(with ");
		dump(o, n->a);
		if (n->str)
			put(o, " as %s", n->str);
		put(o, " ");
		dump_list(o, &n->items);
		put(o, ")");
		break;
	case AST_MACHINE: put(o, "(machine"); dump_items(o, &n->items); put(o, ")"); break;
	case AST_EXPECT:
		put(o, "(expect ");
		dump_str(o, n->str, strlen(n->str));
		put(o, " ");
		dump(o, n->a);
		put(o, ")");
		break;
	default: put(o, "?%d", (int)n->kind); break;
	}
}

/* Parses text (which must be valid; len 0 means strlen) and hands back program and source. */
static struct ast_program *parse_ok(const char *text, size_t len, struct source **srcp)
{
	if (len == 0)
		len = strlen(text);
	struct source *src = source_from_memory("t.slice", text, len);
	struct diag d;
	struct ast_program *prog = ast_parse(src, &d);
	if (!prog) {
		char buf[2048];
		ck_abort_msg("unexpected parse error for <<%s>>:\n%s", text,
			     diag_format(&d, buf, sizeof buf));
	}
	*srcp = src;
	return prog;
}

static void check_tree_n(const char *text, size_t len, const char *expected)
{
	struct source *src;
	struct ast_program *prog = parse_ok(text, len, &src);
	struct out o = {.n = 0};
	for (int i = 0; i < prog->body.n; i++) {
		dump(&o, prog->body.v[i]);
		put(&o, "\n");
	}
	ck_assert_msg(strcmp(o.buf, expected) == 0, "source:\n%s\nexpected:\n%s\ngot:\n%s", text,
		      expected, o.buf);
	ast_program_destroy(prog);
	source_destroy(src);
}

static void check_tree(const char *text, const char *expected)
{
	check_tree_n(text, strlen(text), expected);
}

/* ------------------------------------------------------------------ literals */

START_TEST(durations)
{
	check_tree("x = (250ns, 30us, 30µs, 5ms, 2s, 1.5min, 1h, 1_000ms, 1e3us, .5s, 0ns)\n",
		   "(= x (tuple 250ns 30000ns 30000ns 5000000ns 2000000000ns 90000000000ns "
		   "3600000000000ns 1000000000ns 1000000ns 500000000ns 0ns))\n");
	/* exact decimal arithmetic: 1.1s is not 1099999999ns; 0.25us is whole */
	check_tree("y = [1.1s, 0.25us, 2.5e-3s, 9223372036854775807ns, 0.001min]\n",
		   "(= y (list 1100000000ns 250ns 2500000ns 9223372036854775807ns 60000000ns))\n");
	/* a number, a space and a name is not a duration */
	check_tree("z = 3 if ms else 4\n", "(= z (ifexp 3 ms 4))\n");
}
END_TEST

START_TEST(numbers)
{
	check_tree("x = [42, 1_000_000, 0x1f, 0o17, 0b101, 0, 00, 3.14, .5, 1e-3, 2., 1.e2]\n",
		   "(= x (list 42 1000000 31 15 5 0 0 3.14 0.5 0.001 2 100))\n");
	check_tree("m = 9223372036854775807\n", "(= m 9223372036854775807)\n");
	check_tree("a = 1 .real\n", "(= a (. 1 real))\n");
}
END_TEST

START_TEST(strings)
{
	check_tree("a = 'a\\tb'\n", "(= a \"a\\tb\")\n");
	/* \x41 is A, \u00e9 is é (two bytes), then \ ' " */
	struct source *src;
	struct ast_program *prog = parse_ok("e = \"\\x41\\u00e9\\\\\\'\\\"\"\n", 0, &src);
	const struct ast_node *s = prog->body.v[0]->a;
	ck_assert_int_eq(s->kind, AST_STR);
	ck_assert_int_eq((int)s->ival, 6);
	ck_assert_str_eq(s->str, "A\xC3\xA9\\'\"");
	ast_program_destroy(prog);
	source_destroy(src);

	check_tree("r = r'\\d\\''\n", "(= r \"\\d\\'\")\n");
	check_tree("c = \"a\" 'b'  \"\"\"c\"\"\"\n", "(= c \"abc\")\n");
	check_tree("t = '''x\ny'''\nu = 1\n", "(= t \"x\\ny\")\n(= u 1)\n");
	check_tree("j = 'ab\\\ncd'\n", "(= j \"abcd\")\n");
	check_tree("n = '\\u0000' + \"\"\n", "(= n (+ \"\\0\" \"\"))\n");
}
END_TEST

START_TEST(fstrings)
{
	check_tree("s = f\"v={x!r:>5} {{lit}} {a.b + 1}\"\n",
		   "(= s (f \"v=\" (fmt x !r :\">5\") \" {lit} \" (fmt (+ (. a b) 1))))\n");
	/* a plain string next to an f-string: one AST_FSTR, literal text merged */
	check_tree("s = \"a\" f\"b{x}\" 'c' f'd'\n", "(= s (f \"ab\" (fmt x) \"cd\"))\n");
	check_tree("s = f''\n", "(= s (f))\n");
	check_tree("s = f'{a!s}{b:}{c != d}{(e, f)}{ \"}\" }'\n",
		   "(= s (f (fmt a !s) (fmt b) (fmt (cmp c != d)) (fmt (tuple e f)) (fmt \"}\")))\n");

	/* positions point into the real source */
	struct source *src;
	struct ast_program *prog = parse_ok("s = f\"ab{xy}\"\nt = f\"é{ü}\" f'''\n  {z}'''\n", 0,
					    &src);
	const struct ast_node *f = prog->body.v[0]->a;
	ck_assert_int_eq(f->kind, AST_FSTR);
	ck_assert_int_eq(f->items.n, 2);
	ck_assert_int_eq(f->items.v[0]->col, 7); /* "ab" starts after f" */
	ck_assert_int_eq(f->items.v[1]->kind, AST_FMT);
	ck_assert_int_eq(f->items.v[1]->col, 9); /* the { */
	ck_assert_int_eq(f->items.v[1]->a->line, 1);
	ck_assert_int_eq(f->items.v[1]->a->col, 10); /* xy */
	f = prog->body.v[1]->a;
	ck_assert_int_eq(f->items.n, 4); /* "é" {ü} "\n  " {z} */
	ck_assert_int_eq(f->items.v[1]->a->col, 9); /* ü: t,space,=,space,f,",é,{ come first */
	ck_assert_str_eq(f->items.v[2]->str, "\n  ");
	ck_assert_int_eq(f->items.v[2]->col, 17); /* right after f''' on line 2 */
	ck_assert_int_eq(f->items.v[3]->a->line, 3);
	ck_assert_int_eq(f->items.v[3]->a->col, 4);
	ast_program_destroy(prog);
	source_destroy(src);
}
END_TEST

/* ------------------------------------------------------------------ expressions */

START_TEST(precedence)
{
	check_tree("x = a or b and not c\n", "(= x (or a (and b (not c))))\n");
	check_tree("y = -a ** -b\n", "(= y (- (** a (- b))))\n");
	check_tree("z = a + b * c - d\n", "(= z (- (+ a (* b c)) d))\n");
	check_tree("w = a | b ^ c & d << 1 + 2\n", "(= w (| a (^ b (& c (<< d (+ 1 2))))))\n");
	check_tree("v = x if c else y if d else z\n", "(= v (ifexp x c (ifexp y d z)))\n");
	check_tree("u = a // b % c / d >> ~e\n", "(= u (>> (/ (% (// a b) c) d) (~ e)))\n");
	check_tree("t = 2 ** 3 ** 2\n", "(= t (** 2 (** 3 2)))\n");
	check_tree("s = (a or b) and c\n", "(= s (and (or a b) c))\n");
	check_tree("r = not a == b\n", "(= r (not (cmp a == b)))\n");
	check_tree("q = a +- b\n", "(= q (+ a (- b)))\n");
}
END_TEST

START_TEST(comparisons)
{
	check_tree("ok = 0.9 < r <= 1.2 != x\n", "(= ok (cmp 0.9 < r <= 1.2 != x))\n");
	check_tree("a = x not in y\nb = x is not None\nc = x is y in z\nd = not x in y\n",
		   "(= a (cmp x not-in y))\n(= b (cmp x is-not None))\n"
		   "(= c (cmp x is y in z))\n(= d (not (cmp x in y)))\n");
	check_tree("e = a > b >= c == d\n", "(= e (cmp a > b >= c == d))\n");
}
END_TEST

START_TEST(postfix_and_collections)
{
	check_tree("p = Process(target=f, args=(1,), name=\"w\").start()\n",
		   "(= p (call (. (call Process (= target f) (= args (tuple 1)) (= name \"w\")) "
		   "start)))\n");
	check_tree("a[i][j] = x.y\n", "(= ([] ([] a i) j) (. x y))\n");
	check_tree("f()\ng(1, 2,)\nh[1, 2]\n",
		   "(expr (call f))\n(expr (call g 1 2))\n(expr ([] h (tuple 1 2)))\n");
	check_tree("t = ()\nl = []\nu = (1,)\nv = [1, [2], (3)]\nw = 1, 2,\n",
		   "(= t (tuple))\n(= l (list))\n(= u (tuple 1))\n(= v (list 1 (list 2) 3))\n"
		   "(= w (tuple 1 2))\n");
	check_tree("x = None, True, False\n", "(= x (tuple None True False))\n");
	/* dicts: anywhere an expression goes, lines join inside the braces, a trailing comma */
	check_tree("d = {}\ne = {'a': 1, (1, 2): [3],}\n",
		   "(= d (dict))\n(= e (dict (: \"a\" 1) (: (tuple 1 2) (list 3))))\n");
	check_tree("f({1: {2: 3}}[1], k={})\ng = {\n    x: lambda y: y,\n    1 + 2: a if b else c\n}\n",
		   "(expr (call f ([] (dict (: 1 (dict (: 2 3)))) 1) (= k (dict))))\n"
		   "(= g (dict (: x (lambda (y) y)) (: (+ 1 2) (ifexp a b c))))\n");
	check_tree("d[k] += 1\nprint(f'{ {1: 2}[1] }')\n",
		   "(+= ([] d k) 1)\n(expr (call print (f (fmt ([] (dict (: 1 2)) 1)))))\n");
}
END_TEST

/* ------------------------------------------------------------------ statements */

START_TEST(if_elif_else)
{
	check_tree("if a:\n"
		   "    x = 1\n"
		   "elif b:\n"
		   "    x = 2\n"
		   "elif c:\n"
		   "    pass\n"
		   "else:\n"
		   "    x = 3\n"
		   "y = 4\n",
		   "(if a ((= x 1)) ((if b ((= x 2)) ((if c (pass) ((= x 3)))))))\n(= y 4)\n");
	check_tree("if x: y = 1; z = 2\nelse: pass\n", "(if x ((= y 1) (= z 2)) (pass))\n");
}
END_TEST

START_TEST(indentation)
{
	/* blank and comment-only lines do not count; a tab goes to column 8 */
	check_tree("while x:\n"
		   "        y = 1\n"
		   "\n"
		   "   # a comment at another indentation\n"
		   "\ty = 2\n"
		   "  \n"
		   "z = 3\n",
		   "(while x ((= y 1) (= y 2)))\n(= z 3)\n");
	/* several blocks closed at once, and at the end of the file without a newline */
	check_tree("def f():\n"
		   "  while a:\n"
		   "    if b:\n"
		   "      c = 1\n"
		   "d = 2\n"
		   "if e:\n"
		   "  if f:\n"
		   "    g",
		   "(def f () ((while a ((if b ((= c 1)) ())))))\n(= d 2)\n"
		   "(if e ((if f ((expr g)) ())) ())\n");
	/* CRLF line ends */
	check_tree("if a:\r\n    b = 1\r\n\r\nc = 2\r\n", "(if a ((= b 1)) ())\n(= c 2)\n");
	check_tree("", "");
	check_tree("# only a comment\n\n   \n", "");
}
END_TEST

START_TEST(line_joining)
{
	struct source *src;
	struct ast_program *prog = parse_ok("x = (1 +\n   2)\ny = [1,\n# c\n 2]\nz = 1 + \\\n  2\n",
					    0, &src);
	struct out o = {.n = 0};
	for (int i = 0; i < prog->body.n; i++) {
		dump(&o, prog->body.v[i]);
		put(&o, "\n");
	}
	ck_assert_str_eq(o.buf, "(= x (+ 1 2))\n(= y (list 1 2))\n(= z (+ 1 2))\n");
	const struct ast_node *z = prog->body.v[2];
	ck_assert_int_eq(z->line, 6);
	ck_assert_int_eq(z->a->b->line, 7); /* the 2 after the backslash */
	ck_assert_int_eq(z->a->b->col, 3);
	ast_program_destroy(prog);
	source_destroy(src);
	check_tree("def f(a,\n      b=(1,\n   2)):\n\treturn a\n",
		   "(def f (a b=(tuple 1 2)) ((return a)))\n");
}
END_TEST

START_TEST(functions_and_loops)
{
	check_tree("def f(a, b=1, c=x):\n"
		   "    global g, h\n"
		   "    for i, j in pairs:\n"
		   "        if i:\n"
		   "            break\n"
		   "        continue\n"
		   "    with lock as l:\n"
		   "        return a, b\n"
		   "    with m:\n"
		   "        pass\n"
		   "    return\n",
		   "(def f (a b=1 c=x) ((global g h) (for (tuple i j) pairs ((if i (break) ()) "
		   "continue)) (with lock as l ((return (tuple a b)))) (with m (pass)) (return)))\n");
	check_tree("for x in 1, 2:\n  pass\n", "(for x (tuple 1 2) (pass))\n");
	check_tree("while True:\n  def g(): return 1\n  break\n",
		   "(while True ((def g () ((return 1))) break))\n");
}
END_TEST

START_TEST(exceptions_lambdas_classes)
{
	check_tree("try:\n"
		   "    x = 1\n"
		   "except (ValueError, queue.Empty) as e:\n"
		   "    raise\n"
		   "except KeyError:\n"
		   "    raise TypeError('t') from e\n"
		   "except:\n"
		   "    pass\n"
		   "else:\n"
		   "    y = 2\n"
		   "finally:\n"
		   "    z = 3\n",
		   "(try ((= x 1)) (except (tuple ValueError (. queue Empty)) as e ((raise))) "
		   "(except KeyError ((raise (call TypeError \"t\") from e))) (except * (pass)) "
		   "(else ((= y 2))) (finally ((= z 3))))\n");
	check_tree("try: f()\nfinally: g()\n", "(try ((expr (call f))) (finally ((expr (call g)))))\n");
	check_tree("if x: raise E\n", "(if x ((raise E)) ())\n");
	check_tree("f = lambda: 0\ng = lambda a, b=1: a + b\nh = lambda x: lambda y: x if y else 1, 2\n",
		   "(= f (lambda () 0))\n(= g (lambda (a b=1) (+ a b)))\n"
		   "(= h (tuple (lambda (x) (lambda (y) (ifexp x y 1))) 2))\n");
	check_tree("sorted(l, key=lambda p: p[1])\n",
		   "(expr (call sorted l (= key (lambda (p) ([] p 1)))))\n");
	check_tree("class QM(BaseManager): pass\nclass P(mp.Process):\n    '''doc'''\n    pass\n",
		   "(class QM (BaseManager) (pass))\n(class P ((. mp Process)) ((expr \"doc\") pass))\n");
	/* bytes are str: b'', rb'' and bytes strings joined */
	check_tree("x = b'ab\\x41', rb'\\n', B'a' b\"c\"\n", "(= x (tuple \"abA\" \"\\n\" \"ac\"))\n");
}
END_TEST

START_TEST(assignments)
{
	check_tree("a, b = b, a\nx = y = 0\n", "(= (tuple a b) (tuple b a))\n(= x y 0)\n");
	check_tree("x += 1\no.n //= 2\nl[0] **= 3\nx >>= 1\nx -= 1; y |= 2\n",
		   "(+= x 1)\n(//= (. o n) 2)\n(**= ([] l 0) 3)\n(>>= x 1)\n(-= x 1)\n(|= y 2)\n");
	check_tree("a; b; c = 1;\n", "(expr a)\n(expr b)\n(= c 1)\n");
	check_tree("(a) = 1\n", "(= a 1)\n");
}
END_TEST

START_TEST(imports)
{
	check_tree("import os, time as t, os.path\n"
		   "from multiprocessing import Process\n"
		   "from threading import (Thread as T, Lock,)\n"
		   "from os . path import join\n",
		   "(import - os time:t os.path)\n(import multiprocessing Process)\n"
		   "(import threading Thread:T Lock)\n(import os.path join)\n");
}
END_TEST

START_TEST(machine_line)
{
	check_tree("machine cores=2 policy=rr quantum=10ms, cs=3us seed=1 name=\"x\" gil=True\n",
		   "(machine (= cores 2) (= policy rr) (= quantum 10000000ns) (= cs 3000ns) "
		   "(= seed 1) (= name \"x\") (= gil True))\n");
	/* `machine` is a name everywhere else */
	check_tree("machine = 3\nmachine(1)\nmachine.x = 2\n",
		   "(= machine 3)\n(expr (call machine 1))\n(= (. machine x) 2)\n");
	struct source *src;
	struct ast_program *prog = parse_ok("\nmachine  cores=4\n", 0, &src);
	const struct ast_node *m = prog->body.v[0];
	ck_assert_int_eq(m->kind, AST_MACHINE);
	ck_assert_int_eq(m->line, 2);
	ck_assert_int_eq(m->col, 1);
	ck_assert_int_eq(m->items.v[0]->col, 10);
	ck_assert_int_eq(m->items.v[0]->a->col, 16);
	ast_program_destroy(prog);
	source_destroy(src);
}
END_TEST

START_TEST(expect_line)
{
	check_tree("expect makespan == 5s +- 10ms\n",
		   "(expect \"makespan == 5s +- 10ms\" (approx makespan 5000000000ns 10000000ns))\n");
	check_tree("expect x == 1 ± 2\n", "(expect \"x == 1 ± 2\" (approx x 1 2))\n");
	check_tree("expect a + 1 == b * 2 +-c + 1\n",
		   "(expect \"a + 1 == b * 2 +-c + 1\" (approx (+ a 1) (* b 2) (+ c 1)))\n");
	check_tree("expect 0.9 <= a / b <= 1.2   # ratio\n",
		   "(expect \"0.9 <= a / b <= 1.2\" (cmp 0.9 <= (/ a b) <= 1.2))\n");
	check_tree("expect deadlock\nexpect not deadlock\n",
		   "(expect \"deadlock\" deadlock)\n(expect \"not deadlock\" (not deadlock))\n");
	check_tree("expect printed(\"end.\") > printed(\"hello bob\")\n",
		   "(expect \"printed(\"end.\") > printed(\"hello bob\")\" "
		   "(cmp (call printed \"end.\") > (call printed \"hello bob\")))\n");
	/* inside brackets `+-` is `+ -` again */
	check_tree("expect f(a +- b) == 1\n",
		   "(expect \"f(a +- b) == 1\" (cmp (call f (+ a (- b))) == 1))\n");
	/* `expect` is a name when assigned, called, or used as an object */
	check_tree("expect = 3\nexpect(1)\nexpect += 1\nexpect.x = 1\nexpect\n",
		   "(= expect 3)\n(expr (call expect 1))\n(+= expect 1)\n(= (. expect x) 1)\n"
		   "(expr expect)\n");
}
END_TEST

START_TEST(unicode_names_and_columns)
{
	struct source *src;
	const char text[] = "打印 = \"héllo\"; ü = 打印\nµ = 1µs\n";
	struct ast_program *prog = parse_ok(text, sizeof text - 1, &src);
	ck_assert_int_eq(prog->body.n, 3);
	const struct ast_node *a = prog->body.v[0], *b = prog->body.v[1], *c = prog->body.v[2];
	ck_assert_str_eq(a->items.v[0]->str, "打印");
	ck_assert_int_eq(a->a->col, 6);
	ck_assert_str_eq(a->a->str, "héllo");
	ck_assert_int_eq((int)a->a->ival, 6);
	ck_assert_int_eq(b->col, 15);
	ck_assert_str_eq(b->a->str, "打印");
	ck_assert_int_eq(b->a->col, 19);
	ck_assert_str_eq(c->items.v[0]->str, "µ");
	ck_assert_int_eq(c->a->kind, AST_DURATION);
	ck_assert_int_eq((int)c->a->ival, 1000);
	ck_assert_int_eq(c->a->col, 5);
	ast_program_destroy(prog);
	source_destroy(src);
}
END_TEST

START_TEST(positions)
{
	struct source *src;
	const char text[] = "def f(x):\n    return g(x)[0].y\n";
	struct ast_program *prog = parse_ok(text, sizeof text - 1, &src);
	const struct ast_node *def = prog->body.v[0];
	ck_assert_int_eq(def->line, 1);
	ck_assert_int_eq(def->col, 1);
	const struct ast_node *ret = def->items.v[0];
	ck_assert_int_eq(ret->line, 2);
	ck_assert_int_eq(ret->col, 5);
	const struct ast_node *attr = ret->a; /* g(x)[0].y starts at the g */
	ck_assert_int_eq(attr->kind, AST_ATTR);
	ck_assert_int_eq(attr->col, 12);
	ck_assert_int_eq(attr->a->a->a->col, 12); /* g */
	ck_assert_int_eq(attr->a->a->items.v[0]->col, 14); /* x */
	ck_assert_int_eq(attr->a->b->col, 17); /* 0 */
	ck_assert_str_eq(ast_kind_name(AST_FOR), "for loop");
	ck_assert_str_eq(ast_kind_name(AST_CALL), "function call");
	ast_program_destroy(prog);
	source_destroy(src);
}
END_TEST

/* ------------------------------------------------------------------ malformed input */

struct bad_case {
	const char *src;
	size_t len; /* 0: strlen(src) */
	const char *diag;
};

static const struct bad_case bad_cases[] = {
	{"sleep(3 parsecs)\n", 0,
	 "t.slice:1:9: error: expected ')' or ',', found name 'parsecs'\n"
	 "    sleep(3 parsecs)\n"
	 "            ^\n"},
	{"sleep(3parsecs)\n", 0,
	 "t.slice:1:8: error: unknown duration unit 'parsecs'\n"
	 "    sleep(3parsecs)\n"
	 "           ^\n"},
	{"if x\n    pass\n", 0,
	 "t.slice:1:5: error: expected ':' after the condition of 'if', found end of line\n"
	 "    if x\n"
	 "        ^\n"},
	{"x = 1\n\ndef f():\nreturn 1\n", 0,
	 "t.slice:4:1: error: expected an indented block after 'def' on line 3\n"
	 "    return 1\n"
	 "    ^\n"},
	{"x = 'abc\n", 0,
	 "t.slice:1:5: error: unterminated string\n"
	 "    x = 'abc\n"
	 "        ^\n"},
	{"nonlocal x\n", 0,
	 "t.slice:1:1: error: 'nonlocal' is not part of the scenario language yet\n"
	 "    nonlocal x\n"
	 "    ^\n"},
	{"try:\n    pass\nx = 1\n", 0,
	 "t.slice:3:1: error: expected 'except' or 'finally' block, found name 'x'\n"
	 "    x = 1\n"
	 "    ^\n"},
	{"try:\n    pass\nelse:\n    pass\n", 0,
	 "t.slice:3:1: error: expected 'except' or 'finally' block, found keyword 'else'\n"
	 "    else:\n"
	 "    ^\n"},
	{"x = 1\nexcept ValueError:\n    pass\n", 0,
	 "t.slice:2:1: error: 'except' without a matching 'try'\n"
	 "    except ValueError:\n"
	 "    ^\n"},
	{"finally:\n    pass\n", 0,
	 "t.slice:1:1: error: 'finally' without a matching 'try'\n"
	 "    finally:\n"
	 "    ^\n"},
	{"try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass\n", 0,
	 "t.slice:3:1: error: default 'except:' must be last\n"
	 "    except:\n"
	 "    ^\n"},
	{"try:\n    pass\nexcept A, B:\n    pass\n", 0,
	 "t.slice:3:8: error: multiple exception types must be parenthesized\n"
	 "    except A, B:\n"
	 "           ^\n"},
	{"try:\n    pass\nexcept E as:\n    pass\n", 0,
	 "t.slice:3:12: error: expected a name after 'as', found ':'\n"
	 "    except E as:\n"
	 "               ^\n"},
	{"try:\n    pass\nexcept E\n    pass\n", 0,
	 "t.slice:3:9: error: expected ':' after the 'except' clause, found end of line\n"
	 "    except E\n"
	 "            ^\n"},
	{"try:\n    pass\nexcept* E:\n    pass\n", 0,
	 "t.slice:3:7: error: 'except*' is not part of the scenario language yet\n"
	 "    except* E:\n"
	 "          ^\n"},
	{"try:\n    pass\nfinally:\n    pass\nelse:\n    pass\n", 0,
	 "t.slice:5:1: error: 'else' without a matching 'if'\n"
	 "    else:\n"
	 "    ^\n"},
	{"try\n    pass\n", 0,
	 "t.slice:1:4: error: expected ':' after 'try', found end of line\n"
	 "    try\n"
	 "       ^\n"},
	{"raise ValueError('x'), 1\n", 0,
	 "t.slice:1:22: error: expected end of line, found ','\n"
	 "    raise ValueError('x'), 1\n"
	 "                         ^\n"},
	{"raise from e\n", 0,
	 "t.slice:1:7: error: expected an expression, found keyword 'from'\n"
	 "    raise from e\n"
	 "          ^\n"},
	{"f = lambda x x\n", 0,
	 "t.slice:1:14: error: expected ':' or ',' after a parameter, found name 'x'\n"
	 "    f = lambda x x\n"
	 "                 ^\n"},
	{"f = lambda x, x: 1\n", 0,
	 "t.slice:1:15: error: duplicate parameter 'x'\n"
	 "    f = lambda x, x: 1\n"
	 "                  ^\n"},
	{"f = lambda *a: 1\n", 0,
	 "t.slice:1:12: error: '*args' parameters are not part of the scenario language yet\n"
	 "    f = lambda *a: 1\n"
	 "               ^\n"},
	{"f = lambda a=1, b: 1\n", 0,
	 "t.slice:1:17: error: parameter 'b' without a default follows one with a default\n"
	 "    f = lambda a=1, b: 1\n"
	 "                    ^\n"},
	{"f = lambda: return\n", 0,
	 "t.slice:1:13: error: expected an expression, found keyword 'return'\n"
	 "    f = lambda: return\n"
	 "                ^\n"},
	{"class (A):\n    pass\n", 0,
	 "t.slice:1:7: error: expected a class name after 'class', found '('\n"
	 "    class (A):\n"
	 "          ^\n"},
	{"class A(B\n    pass\n", 0,
	 "t.slice:2:5: error: expected ')' or ',' after a base class, found keyword 'pass'\n"
	 "        pass\n"
	 "        ^\n"},
	{"x = b'caf\xc3\xa9'\n", 0,
	 "t.slice:1:5: error: bytes can only contain ASCII literal characters\n"
	 "    x = b'caf\xc3\xa9'\n"
	 "        ^\n"},
	{"x = b'a' 'b'\n", 0,
	 "t.slice:1:5: error: cannot mix bytes and nonbytes literals\n"
	 "    x = b'a' 'b'\n"
	 "        ^\n"},
	{"x = bf'a'\n", 0,
	 "t.slice:1:7: error: expected end of line, found string 'a'\n"
	 "    x = bf'a'\n"
	 "          ^\n"},
	{"t = 0.5ns\n", 0,
	 "t.slice:1:5: error: duration 0.5ns is not a whole number of nanoseconds\n"
	 "    t = 0.5ns\n"
	 "        ^\n"},
	{"n = 9223372036854775808\n", 0,
	 "t.slice:1:5: error: integer literal too large\n"
	 "    n = 9223372036854775808\n"
	 "        ^\n"},
	{"d = {1: }\n", 0,
	 "t.slice:1:9: error: expected a value after the dictionary key and ':', found '}'\n"
	 "    d = {1: }\n"
	 "            ^\n"},
	{"d = {:1}\n", 0,
	 "t.slice:1:6: error: expected an expression, found ':'\n"
	 "    d = {:1}\n"
	 "         ^\n"},
	{"d = {1: 2, 3}\n", 0,
	 "t.slice:1:13: error: expected ':' after the dictionary key, found '}'\n"
	 "    d = {1: 2, 3}\n"
	 "                ^\n"},
	{"d = {1: 2 3: 4}\n", 0,
	 "t.slice:1:11: error: expected '}' or ',', found number 3\n"
	 "    d = {1: 2 3: 4}\n"
	 "              ^\n"},
	{"s = {1, 2}\n", 0,
	 "t.slice:1:5: error: sets are not part of the scenario language yet\n"
	 "    s = {1, 2}\n"
	 "        ^\n"},
	{"s = {1}\n", 0,
	 "t.slice:1:5: error: sets are not part of the scenario language yet\n"
	 "    s = {1}\n"
	 "        ^\n"},
	{"d = {k: 1 for k in x}\n", 0,
	 "t.slice:1:11: error: comprehensions are not part of the scenario language yet\n"
	 "    d = {k: 1 for k in x}\n"
	 "              ^\n"},
	{"d = {1: 2]\n", 0,
	 "t.slice:1:10: error: closing ']' does not match '{' on line 1\n"
	 "    d = {1: 2]\n"
	 "             ^\n"},
	{"d = {1: 2,\n", 0,
	 "t.slice:1:5: error: '{' was never closed\n"
	 "    d = {1: 2,\n"
	 "        ^\n"},
	{"x = 1 }\n", 0,
	 "t.slice:1:7: error: unmatched '}'\n"
	 "    x = 1 }\n"
	 "          ^\n"},
	{"{} = 1\n", 0,
	 "t.slice:1:1: error: cannot assign to a dict literal\n"
	 "    {} = 1\n"
	 "    ^\n"},
	{"def f():\n    machine cores=2\n", 0,
	 "t.slice:2:5: error: 'machine' is only allowed at the top level\n"
	 "        machine cores=2\n"
	 "        ^\n"},
	{"f(x) = 3\n", 0,
	 "t.slice:1:1: error: cannot assign to a function call\n"
	 "    f(x) = 3\n"
	 "    ^\n"},
	{"x = (1,\n     2\n", 0,
	 "t.slice:1:5: error: '(' was never closed\n"
	 "    x = (1,\n"
	 "        ^\n"},
	{"a = 1\0\n", 7,
	 "t.slice:1:6: error: NUL character in source\n"
	 "    a = 1?\n"
	 "         ^\n"},
	{"s = '\xff'\n", 0,
	 "t.slice:1:6: error: invalid UTF-8 (byte 0xFF)\n"
	 "    s = '\xff'\n"
	 "         ^\n"},
	{"if x:\n        a = 1\n    b = 2\n", 0,
	 "t.slice:3:5: error: unindent does not match any outer indentation level\n"
	 "        b = 2\n"
	 "        ^\n"},
	{"a = 1\n    b = 2\n", 0,
	 "t.slice:2:5: error: unexpected indent\n"
	 "        b = 2\n"
	 "        ^\n"},
	{"x = 1 +\n", 0,
	 "t.slice:1:8: error: expected an expression, found end of line\n"
	 "    x = 1 +\n"
	 "           ^\n"},
	{"for 1 in x:\n    pass\n", 0,
	 "t.slice:1:5: error: cannot use a literal as a 'for' loop variable\n"
	 "    for 1 in x:\n"
	 "        ^\n"},
	{"for x y:\n    pass\n", 0,
	 "t.slice:1:7: error: expected 'in' after the loop variable of 'for', found name 'y'\n"
	 "    for x y:\n"
	 "          ^\n"},
	{"yield x\n", 0,
	 "t.slice:1:1: error: 'yield' is not part of the scenario language yet\n"
	 "    yield x\n"
	 "    ^\n"},
	{"x = a if b\n", 0,
	 "t.slice:1:11: error: expected 'else' in the conditional expression, found end of "
	 "line\n"
	 "    x = a if b\n"
	 "              ^\n"},
	{"expect a +- 1\n", 0,
	 "t.slice:1:10: error: '+-' must follow a comparison 'a == b' in an expect line\n"
	 "    expect a +- 1\n"
	 "             ^\n"},
	{"x = a ± b\n", 0,
	 "t.slice:1:7: error: '±' is only allowed after a comparison in an expect line\n"
	 "    x = a ± b\n"
	 "          ^\n"},
	{"if x:\n    expect y\n", 0,
	 "t.slice:2:5: error: 'expect' is only allowed at the top level\n"
	 "        expect y\n"
	 "        ^\n"},
	{"s = f'{x'\n", 0,
	 "t.slice:1:7: error: expected '}' to close the f-string field\n"
	 "    s = f'{x'\n"
	 "          ^\n"},
	{"s = f'a}b'\n", 0,
	 "t.slice:1:8: error: single '}' is not allowed in an f-string\n"
	 "    s = f'a}b'\n"
	 "           ^\n"},
	{"s = f'{}'\n", 0,
	 "t.slice:1:8: error: expected an expression, found the end of the f-string field\n"
	 "    s = f'{}'\n"
	 "           ^\n"},
	{"s = f'{x!z}'\n", 0,
	 "t.slice:1:10: error: expected 'r' or 's' after '!' in an f-string field\n"
	 "    s = f'{x!z}'\n"
	 "             ^\n"},
	{"s = f'{x y}'\n", 0,
	 "t.slice:1:10: error: expected '}', '!' or ':' after the f-string expression, found "
	 "name 'y'\n"
	 "    s = f'{x y}'\n"
	 "             ^\n"},
	{"s = 'a\\qb'\n", 0,
	 "t.slice:1:7: error: invalid escape sequence '\\q'\n"
	 "    s = 'a\\qb'\n"
	 "          ^\n"},
	{"s = \"a\\x4\"\n", 0,
	 "t.slice:1:7: error: truncated \\x escape: expected 2 hex digits\n"
	 "    s = \"a\\x4\"\n"
	 "          ^\n"},
	{"break\n", 0,
	 "t.slice:1:1: error: 'break' outside a loop\n"
	 "    break\n"
	 "    ^\n"},
	{"return 1\n", 0,
	 "t.slice:1:1: error: 'return' outside a function\n"
	 "    return 1\n"
	 "    ^\n"},
	{"def f(a=1, b):\n    pass\n", 0,
	 "t.slice:1:12: error: parameter 'b' without a default follows one with a default\n"
	 "    def f(a=1, b):\n"
	 "               ^\n"},
	{"f(a=1, 2)\n", 0,
	 "t.slice:1:8: error: positional argument follows keyword argument\n"
	 "    f(a=1, 2)\n"
	 "           ^\n"},
	{"x = 3 ms\n", 0,
	 "t.slice:1:7: error: expected end of line, found name 'ms' (a duration's unit follows "
	 "the number without a space: 3ms)\n"
	 "    x = 3 ms\n"
	 "          ^\n"},
	{"x = [1, 2\n", 0,
	 "t.slice:1:5: error: '[' was never closed\n"
	 "    x = [1, 2\n"
	 "        ^\n"},
	{"x = (1, 2]\n", 0,
	 "t.slice:1:10: error: closing ']' does not match '(' on line 1\n"
	 "    x = (1, 2]\n"
	 "             ^\n"},
	{"import os as\n", 0,
	 "t.slice:1:13: error: expected a name after 'as', found end of line\n"
	 "    import os as\n"
	 "                ^\n"},
	{"x = a[1:2:3:4]\n", 0,
	 "t.slice:1:12: error: expected ']' after the index, found ':'\n"
	 "    x = a[1:2:3:4]\n"
	 "               ^\n"},
	{"x = [i for i in y]\n", 0,
	 "t.slice:1:8: error: comprehensions are not part of the scenario language yet\n"
	 "    x = [i for i in y]\n"
	 "           ^\n"},
	{"else:\n    pass\n", 0,
	 "t.slice:1:1: error: 'else' without a matching 'if'\n"
	 "    else:\n"
	 "    ^\n"},
	{"machine cores=2 cores=3\n", 0,
	 "t.slice:1:17: error: 'cores' is set twice in the machine line\n"
	 "    machine cores=2 cores=3\n"
	 "                    ^\n"},
	{"machine cores=-1\n", 0,
	 "t.slice:1:15: error: expected a value for 'cores' (a number, duration, string, True, "
	 "False or name), found '-'\n"
	 "    machine cores=-1\n"
	 "                  ^\n"},
	{"t = 1e30s\n", 0,
	 "t.slice:1:5: error: duration 1e30s is too large\n"
	 "    t = 1e30s\n"
	 "        ^\n"},
	{"x = 0777\n", 0,
	 "t.slice:1:5: error: leading zeros in decimal integer literals are not permitted\n"
	 "    x = 0777\n"
	 "        ^\n"},
	{"with a, b:\n    pass\n", 0,
	 "t.slice:1:7: error: more than one context manager in a 'with' is not part of the "
	 "scenario language yet\n"
	 "    with a, b:\n"
	 "          ^\n"},
	{"x = 1 \\ 2\n", 0,
	 "t.slice:1:7: error: unexpected character after line continuation character\n"
	 "    x = 1 \\ 2\n"
	 "          ^\n"},
	{"print('a' 'b' x)\n", 0,
	 "t.slice:1:15: error: expected ')' or ',', found name 'x'\n"
	 "    print('a' 'b' x)\n"
	 "                  ^\n"},
	{"x = \"\"\"abc\n\n", 0,
	 "t.slice:1:5: error: unterminated triple-quoted string\n"
	 "    x = \"\"\"abc\n"
	 "        ^\n"},
	/* columns count characters; the caret pads wide ones with two cells */
	{"打印 = 3 parsecs\n", 0,
	 "t.slice:1:8: error: expected end of line, found name 'parsecs'\n"
	 "    打印 = 3 parsecs\n"
	 "             ^\n"},
	{"def f(a, a):\n  pass\n", 0,
	 "t.slice:1:10: error: duplicate parameter 'a'\n"
	 "    def f(a, a):\n"
	 "             ^\n"},
	{"f(x=1, x=2)\n", 0,
	 "t.slice:1:8: error: keyword argument 'x' repeated\n"
	 "    f(x=1, x=2)\n"
	 "           ^\n"},
	{"a, b += 1\n", 0,
	 "t.slice:1:1: error: '+=' cannot assign to a tuple\n"
	 "    a, b += 1\n"
	 "    ^\n"},
	{"@dec\ndef f():\n  pass\n", 0,
	 "t.slice:1:1: error: decorators ('@') are not part of the scenario language yet\n"
	 "    @dec\n"
	 "    ^\n"},
	{"if x:\n    pass\n  else:\n    pass\n", 0,
	 "t.slice:3:3: error: unindent does not match any outer indentation level\n"
	 "      else:\n"
	 "      ^\n"},
	{"x = 1\ny = (2 +\n     3 3)\n", 0,
	 "t.slice:3:8: error: expected ')' or ',', found number 3\n"
	 "         3 3)\n"
	 "           ^\n"},
	{"if a == 1:\n    x = 1\nelif:\n    pass\n", 0,
	 "t.slice:3:5: error: expected an expression, found ':'\n"
	 "    elif:\n"
	 "        ^\n"},
	{"import\n", 0,
	 "t.slice:1:7: error: expected a module name, found end of line\n"
	 "    import\n"
	 "          ^\n"},
	{"x = a.if\n", 0,
	 "t.slice:1:7: error: expected an attribute name after '.', found keyword 'if'\n"
	 "    x = a.if\n"
	 "          ^\n"},
	{"x = 1 =\n", 0,
	 "t.slice:1:5: error: cannot assign to a literal\n"
	 "    x = 1 =\n"
	 "        ^\n"},
	{"x = 0x\n", 0,
	 "t.slice:1:5: error: invalid hexadecimal literal\n"
	 "    x = 0x\n"
	 "        ^\n"},
	{"print x\n", 0,
	 "t.slice:1:7: error: expected end of line, found name 'x'\n"
	 "    print x\n"
	 "          ^\n"},
};

START_TEST(malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	size_t len = c->len ? c->len : strlen(c->src);
	struct source *src = source_from_memory("t.slice", c->src, len);
	struct diag d;
	memset(&d, 0x55, sizeof d);
	struct ast_program *prog = ast_parse(src, &d);
	ck_assert_msg(prog == NULL, "case %d parsed but should not have: %s", _i, c->src);
	char buf[2048];
	diag_format(&d, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->diag) == 0, "case %d:\nexpected:\n%s\ngot:\n%s", _i, c->diag,
		      buf);
	source_destroy(src);
}
END_TEST

/* Nesting is capped so that neither the parser nor anything walking the tree recurses
 * without bound. */
static void check_too_deep(const char *prefix, const char *unit, int count, const char *suffix,
			   int col)
{
	size_t n = strlen(prefix) + strlen(unit) * (size_t)count + strlen(suffix) * (size_t)count;
	char *text = calloc(1, n + 2);
	strcpy(text, prefix);
	for (int i = 0; i < count; i++)
		strcat(text, unit);
	strcat(text, "1");
	for (int i = 0; i < count; i++)
		strcat(text, suffix);
	struct source *src = source_from_memory("t.slice", text, strlen(text));
	struct diag d;
	ck_assert_ptr_null(ast_parse(src, &d));
	ck_assert_str_eq(d.msg, "nesting deeper than 200 levels");
	ck_assert_int_eq(d.line, 1);
	ck_assert_int_eq(d.col, col);
	source_destroy(src);
	free(text);
}

START_TEST(nesting_limit)
{
	/* the 201st bracket or operator is the one refused: "x = " is 4 characters */
	check_too_deep("x = ", "(", 300, ")", 4 + 201);
	check_too_deep("x = ", "[", 300, "]", 4 + 201);
	check_too_deep("x = ", "-", 5000, "", 4 + 201);
	check_too_deep("x = ", "not ", 300, "", 4 + 4 * 200 + 1);
	check_too_deep("x = ", "f(", 300, ")", 4 + 2 * 200 + 2);

	/* 150 levels are fine */
	char text[512] = "x = ";
	for (int i = 0; i < 150; i++)
		strcat(text, "(");
	strcat(text, "1");
	for (int i = 0; i < 150; i++)
		strcat(text, ")");
	strcat(text, "\n");
	struct source *src;
	struct ast_program *prog = parse_ok(text, strlen(text), &src);
	ck_assert_int_eq(prog->body.v[0]->a->kind, AST_INT);
	ast_program_destroy(prog);
	source_destroy(src);

	/* a long chain of + is a deep tree too */
	size_t n = 4 + 300 * 2 + 2;
	char *chain = calloc(1, n + 1);
	strcpy(chain, "x = 1");
	for (int i = 0; i < 300; i++)
		strcat(chain, "+1");
	struct diag d;
	src = source_from_memory("t.slice", chain, strlen(chain));
	ck_assert_ptr_null(ast_parse(src, &d));
	ck_assert_str_eq(d.msg, "nesting deeper than 200 levels");
	ck_assert_int_eq(d.col, 6 + 2 * 200); /* the 201st '+' */
	source_destroy(src);
	free(chain);
}
END_TEST

START_TEST(lexer_stress)
{
	/* a long line inside brackets and many statements: linear time, no stack growth */
	size_t count = 200000;
	char *text = malloc(count * 3 + 16);
	size_t n = 0;
	n += (size_t)sprintf(text + n, "x = [");
	for (size_t i = 0; i < count; i++)
		n += (size_t)sprintf(text + n, "1,");
	n += (size_t)sprintf(text + n, "]\n");
	struct source *src;
	struct ast_program *prog = parse_ok(text, n, &src);
	ck_assert_int_eq(prog->body.v[0]->a->items.n, (int)count);
	ast_program_destroy(prog);
	source_destroy(src);
	free(text);
}
END_TEST

Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("Literals: numbers, durations, strings, f-strings");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, fstrings);
	suite_add_tcase(s, tc);

	tc = tcase_create("Expressions: precedence, comparisons, calls, collections");
	tcase_add_test(tc, precedence);
	tcase_add_test(tc, comparisons);
	tcase_add_test(tc, postfix_and_collections);
	suite_add_tcase(s, tc);

	tc = tcase_create("Statements, blocks and line structure");
	tcase_add_test(tc, if_elif_else);
	tcase_add_test(tc, indentation);
	tcase_add_test(tc, line_joining);
	tcase_add_test(tc, functions_and_loops);
	tcase_add_test(tc, exceptions_lambdas_classes);
	tcase_add_test(tc, assignments);
	tcase_add_test(tc, imports);
	tcase_add_test(tc, machine_line);
	tcase_add_test(tc, expect_line);
	tcase_add_test(tc, unicode_names_and_columns);
	tcase_add_test(tc, positions);
	suite_add_tcase(s, tc);

	tc = tcase_create("Malformed input gives one exact diagnostic");
	tcase_add_loop_test(tc, malformed, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_test(tc, nesting_limit);
	tcase_add_test(tc, lexer_stress);
	suite_add_tcase(s, tc);
	return s;
}

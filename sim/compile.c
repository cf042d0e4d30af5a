/* compile.c — turns the syntax tree into bytecode: one code object for the module's top
 * level, one per function and one per `expect` line. Names are resolved here with Python's
 * rules (a name assigned in a function is local unless declared global; names assigned at the
 * top level or declared global get a global slot), so the VM never looks a name up by text. */
#include "vm_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct names {
	const char **v;
	int n, cap;
};

struct loop {
	bool is_for;
	int top;
	int depth; /* the stack depth in its body (a for loop's iterator and state included) */
	int *breaks;
	int nbreaks, cbreaks;
};

/* A block being compiled that break, continue and return must leave on their way out (and an
 * exception too, at run time: each but U_EXCEPT has a try block there):
 * - U_WITH: its context manager stays on the stack at `depth` (the compile-time depth just
 *   after it was pushed) until the block is left; leaving calls its __exit__;
 * - U_TRY: the body of a try with except clauses;
 * - U_FINALLY: the part of a try that its finally block guards; leaving runs the finally
 *   block (compiled once more, there);
 * - U_EXCEPT: an except clause's body, or a finally block run for an exception: leaving
 *   ends the handling of that exception. */
enum unwind_kind { U_WITH, U_TRY, U_FINALLY, U_EXCEPT };

struct unwind {
	enum unwind_kind kind;
	int depth;
	int nloops; /* loops open when the block began: it is inside loop number nloops-1... */
	const struct ast_list *final; /* U_FINALLY */
};

/* The scope a lambda is compiled in: the enclosing functions' locals, which it may not use. */
struct scope {
	const struct names *locals;
	const struct scope *up;
};

struct import {
	const char *name;
	struct value val;
};

struct comp {
	struct vm_program *prog;
	struct diag *err;
	bool failed;
	int *gbind;                   /* binding sites per global slot */
	const struct ast_node **gdef; /* the def statement binding it, if a top-level def does */
	int gcap;
	struct import *imps;
	int nimps, cimps;
	struct vm_code *code;
	int depth;
	bool in_func, in_expect;
	struct names locals, gdecl;
	struct loop *loops;
	int nloops, cloops;
	struct unwind *unw;
	int nunw, cunw;
	const struct scope *outer; /* compiling a lambda: the scopes around it */
	const char *assign_target; /* `x = f(...)`: x, for the next call compiled */
	const char *list_target;   /* `x = [f(), g()]`: x, naming the items x[0], x[1] */
	bool has_prelude;          /* the prelude's functions are compiled in */
	int line, col;
};

static void cerr(struct comp *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cerr(struct comp *c, int line, int col, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	va_list ap;
	va_start(ap, fmt);
	diag_setv(c->err, c->prog->src, line, col, fmt, ap);
	va_end(ap);
}

static bool grow(void **p, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return true;
	int nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, (size_t)nc * elem);
	if (!q)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

static void oom(struct comp *c)
{
	cerr(c, 0, 0, "out of memory compiling the scenario");
}

static int names_find(const struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return i;
	return -1;
}

static void names_add(struct comp *c, struct names *s, const char *name)
{
	if (names_find(s, name) >= 0)
		return;
	if (!grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v)) {
		oom(c);
		return;
	}
	s->v[s->n++] = name;
}

/* ---- code objects ---- */

static struct vm_code *code_new(const char *name)
{
	struct vm_code *k = calloc(1, sizeof *k);
	if (k)
		k->name = name;
	return k;
}

void vm_code_destroy(struct vm_code *k)
{
	if (!k)
		return;
	free(k->ins);
	free(k->line);
	free(k->col);
	for (int i = 0; i < k->nconsts; i++)
		vunref(k->consts[i]);
	free(k->consts);
	for (int i = 0; i < k->ncs; i++)
		free(k->cs[i].kwnames);
	free(k->cs);
	free(k->localnames);
	free(k);
}

static int effect(const struct comp *c, int op, int arg)
{
	const struct vm_code *k = c->code;
	switch (op) {
	case OP_INT: case OP_CONST: case OP_LOAD_LOCAL: case OP_LOAD_GLOBAL: case OP_LOAD_FIXED:
	case OP_DUP: case OP_PICK:
	case OP_GET_ITER: case OP_FOR_ITER: case OP_SYSCALL:
		return 1;
	case OP_DUP2:
		return 2;
	case OP_STORE_LOCAL: case OP_STORE_GLOBAL: case OP_POP: case OP_ADD: case OP_SUB:
	case OP_MUL: case OP_BINOP: case OP_INPLACE_ADD: case OP_LT: case OP_LE: case OP_GT:
	case OP_GE: case OP_EQ: case OP_NE: case OP_CMP: case OP_JUMP_IF_FALSE:
	case OP_JUMP_IF_TRUE: case OP_JUMP_IF_FALSE_OR_POP: case OP_JUMP_IF_TRUE_OR_POP:
	case OP_INDEX: case OP_RETURN:
		return -1;
	case OP_POPN:
		return -arg;
	case OP_BUILD_LIST: case OP_BUILD_TUPLE: case OP_BUILD_STR:
		return 1 - arg;
	case OP_BUILD_DICT:
		return 1 - 2 * arg;
	case OP_UNPACK:
		return arg - 1;
	case OP_STORE_INDEX: case OP_SLICE:
		return -3;
	case OP_BEGIN_EXCEPT: case OP_RERAISE:
		return -1;
	case OP_RAISE:
		return -arg;
	case OP_SETATTR: case OP_APPROX:
		return -2;
	case OP_CALL: case OP_CALL_METHOD:
		return -(k->cs[arg].argc + k->cs[arg].kwc);
	case OP_CALL_BUILTIN: case OP_QUERY:
		return 1 - (k->cs[arg].argc + k->cs[arg].kwc);
	case OP_MAKE_FUNC:
		return 1 - c->prog->funcs[arg].ndefaults;
	default:
		return 0;
	}
}

static int emit(struct comp *c, int op, int arg)
{
	struct vm_code *k = c->code;
	if (c->failed)
		return 0;
	if (arg > INS_ARG_MAX || arg < -INS_ARG_MAX) {
		cerr(c, c->line, c->col, "the scenario is too large to compile");
		return 0;
	}
	int cap = k->cap;
	if (k->n + 1 > cap) {
		int nc = cap ? cap * 2 : 64;
		uint32_t *ins = realloc(k->ins, (size_t)nc * sizeof *ins);
		if (ins)
			k->ins = ins;
		int *line = realloc(k->line, (size_t)nc * sizeof *line);
		if (line)
			k->line = line;
		int *col = realloc(k->col, (size_t)nc * sizeof *col);
		if (col)
			k->col = col;
		if (!ins || !line || !col) {
			oom(c);
			return 0;
		}
		k->cap = nc;
	}
	k->ins[k->n] = INS(op, arg);
	k->line[k->n] = c->line;
	k->col[k->n] = c->col;
	c->depth += effect(c, op, arg);
	if (c->depth > k->maxstack)
		k->maxstack = c->depth;
	return k->n++;
}

static int here(const struct comp *c)
{
	return c->code->n;
}

static void patch(struct comp *c, int at, int target)
{
	if (c->failed)
		return;
	c->code->ins[at] = INS(INS_OP(c->code->ins[at]), target);
}

static int add_const(struct comp *c, struct value v)
{
	struct vm_code *k = c->code;
	if (!grow((void **)&k->consts, &k->cconsts, k->nconsts + 1, sizeof *k->consts)) {
		vunref(v);
		oom(c);
		return 0;
	}
	k->consts[k->nconsts] = v;
	return k->nconsts++;
}

static void emit_const(struct comp *c, struct value v)
{
	emit(c, OP_CONST, add_const(c, v));
}

static int add_str_const(struct comp *c, const char *s, size_t n)
{
	struct value v = vm_str(s, n);
	if (v.type != V_STR) {
		oom(c);
		return 0;
	}
	return add_const(c, v);
}

static int add_cs(struct comp *c, int argc, int kwc, const char **kwn, const char *name, int bid)
{
	struct vm_code *k = c->code;
	if (!grow((void **)&k->cs, &k->ccs, k->ncs + 1, sizeof *k->cs)) {
		oom(c);
		return 0;
	}
	struct vm_callsite *cs = &k->cs[k->ncs];
	memset(cs, 0, sizeof *cs);
	cs->argc = argc;
	cs->kwc = kwc;
	cs->name = name;
	cs->builtin = bid;
	if (kwc) {
		cs->kwnames = malloc((size_t)kwc * sizeof *cs->kwnames);
		if (!cs->kwnames) {
			oom(c);
			return 0;
		}
		memcpy(cs->kwnames, kwn, (size_t)kwc * sizeof *kwn);
	}
	return k->ncs++;
}

static void at(struct comp *c, const struct ast_node *n)
{
	c->line = n->line;
	c->col = n->col;
}

/* ---- globals and imports (first pass) ---- */

static int gslot(const struct comp *c, const char *name)
{
	for (int i = 0; i < c->prog->nglobals; i++)
		if (strcmp(c->prog->gnames[i], name) == 0)
			return i;
	return -1;
}

static int gbind(struct comp *c, const char *name, const struct ast_node *def)
{
	int g = gslot(c, name);
	struct vm_program *p = c->prog;
	if (g < 0) {
		if (p->nglobals + 1 > c->gcap) {
			int cap = c->gcap ? c->gcap * 2 : 32;
			const char **gn = realloc(p->gnames, (size_t)cap * sizeof *gn);
			if (gn)
				p->gnames = gn;
			int *gb = realloc(c->gbind, (size_t)cap * sizeof *gb);
			if (gb)
				c->gbind = gb;
			const struct ast_node **gd = realloc(c->gdef, (size_t)cap * sizeof *gd);
			if (gd)
				c->gdef = gd;
			if (!gn || !gb || !gd) {
				oom(c);
				return 0;
			}
			c->gcap = cap;
		}
		g = p->nglobals++;
		p->gnames[g] = name;
		c->gbind[g] = 0;
		c->gdef[g] = NULL;
	}
	c->gbind[g]++;
	if (def)
		c->gdef[g] = def;
	return g;
}

static int module_index(const char *name)
{
	for (int m = 0; m < M_COUNT; m++)
		if (strcmp(vm_module_names[m], name) == 0)
			return m;
	return -1;
}

static void add_import(struct comp *c, const char *name, struct value v)
{
	for (int i = 0; i < c->nimps; i++)
		if (strcmp(c->imps[i].name, name) == 0) {
			c->imps[i].val = v;
			return;
		}
	if (!grow((void **)&c->imps, &c->cimps, c->nimps + 1, sizeof *c->imps)) {
		oom(c);
		return;
	}
	c->imps[c->nimps].name = name;
	c->imps[c->nimps].val = v;
	c->nimps++;
}

static void import_module(struct comp *c, const struct ast_node *n, const char *mod,
			  const char *alias)
{
	int m = module_index(mod);
	if (m < 0) {
		cerr(c, n->line, n->col, "%s is not part of the scenario language yet", mod);
		return;
	}
	struct value v = {.type = V_MODULE};
	v.u.i = m;
	add_import(c, alias ? alias : mod, v);
}

static void process_import(struct comp *c, const struct ast_node *n)
{
	if (!n->str) { /* import a [as b], c */
		for (int i = 0; i < n->params.n; i++)
			import_module(c, n, n->params.v[i],
				      i < n->params2.n ? n->params2.v[i] : NULL);
		return;
	}
	if (n->params.n == 0) { /* import a [as b] */
		import_module(c, n, n->str, n->params2.n > 0 ? n->params2.v[0] : NULL);
		return;
	}
	int m = module_index(n->str);
	if (m < 0) {
		cerr(c, n->line, n->col, "%s is not part of the scenario language yet", n->str);
		return;
	}
	for (int i = 0; i < n->params.n; i++) {
		const char *name = n->params.v[i];
		struct value v;
		if (strcmp(name, "*") == 0) {
			cerr(c, n->line, n->col, "'from %s import *' is not supported: import the names you use",
			     n->str);
			return;
		}
		if (!vm_module_attr(m, name, &v)) {
			cerr(c, n->line, n->col, "%s.%s is not part of the scenario language yet",
			     n->str, name);
			return;
		}
		const char *alias = i < n->params2.n && n->params2.v[i] ? n->params2.v[i] : name;
		add_import(c, alias, v);
	}
}

static void bind_target_global(struct comp *c, const struct ast_node *t)
{
	if (!t)
		return;
	if (t->kind == AST_NAME)
		gbind(c, t->str, NULL);
	else if (t->kind == AST_TUPLE || t->kind == AST_LIST)
		for (int i = 0; i < t->items.n; i++)
			bind_target_global(c, t->items.v[i]);
}

/* The statement lists of a try, in order (its body, each except clause's, else, finally): the
 * k-th, or NULL past the last. */
static const struct ast_list *try_block(const struct ast_node *s, int k)
{
	if (k == 0)
		return &s->items;
	k--;
	if (k < s->items2.n)
		return &s->items2.v[k]->items;
	k -= s->items2.n;
	const struct ast_node *rest[2] = {s->a, s->b};
	for (int i = 0; i < 2; i++)
		if (rest[i] && k-- == 0)
			return &rest[i]->items;
	return NULL;
}

static void class_alias(struct comp *c, const struct ast_node *n);

/* Inside a function body: `global` declarations and imports (nested functions too). */
static void scan_func_body(struct comp *c, const struct ast_list *body)
{
	for (int i = 0; i < body->n; i++) {
		const struct ast_node *s = body->v[i];
		switch (s->kind) {
		case AST_GLOBAL:
			for (int k = 0; k < s->params.n; k++)
				gbind(c, s->params.v[k], NULL);
			break;
		case AST_IMPORT:
			process_import(c, s);
			break;
		case AST_CLASS:
			class_alias(c, s);
			break;
		case AST_TRY:
			for (int k = 0; try_block(s, k); k++)
				scan_func_body(c, try_block(s, k));
			break;
		case AST_IF:
		case AST_WHILE:
		case AST_FOR:
		case AST_WITH:
		case AST_DEF:
			scan_func_body(c, &s->items);
			if (s->kind == AST_IF)
				scan_func_body(c, &s->items2);
			break;
		default:
			break;
		}
	}
}

static void scan_module(struct comp *c, const struct ast_list *body)
{
	for (int i = 0; i < body->n; i++) {
		const struct ast_node *s = body->v[i];
		switch (s->kind) {
		case AST_ASSIGN:
			for (int k = 0; k < s->items.n; k++)
				bind_target_global(c, s->items.v[k]);
			break;
		case AST_AUGASSIGN:
			bind_target_global(c, s->a);
			break;
		case AST_FOR:
			bind_target_global(c, s->a);
			scan_module(c, &s->items);
			break;
		case AST_IF:
			scan_module(c, &s->items);
			scan_module(c, &s->items2);
			break;
		case AST_WHILE:
		case AST_WITH:
			if (s->kind == AST_WITH && s->str)
				gbind(c, s->str, NULL);
			scan_module(c, &s->items);
			break;
		case AST_DEF:
			gbind(c, s->str, s);
			scan_func_body(c, &s->items);
			break;
		case AST_GLOBAL:
			for (int k = 0; k < s->params.n; k++)
				gbind(c, s->params.v[k], NULL);
			break;
		case AST_IMPORT:
			process_import(c, s);
			break;
		case AST_CLASS:
			class_alias(c, s);
			break;
		case AST_TRY:
			for (int k = 0; k < s->items2.n; k++)
				if (s->items2.v[k]->str)
					gbind(c, s->items2.v[k]->str, NULL);
			for (int k = 0; try_block(s, k); k++)
				scan_module(c, try_block(s, k));
			break;
		default:
			break;
		}
	}
}

/* ---- function scopes ---- */

static void collect_target_local(struct comp *c, struct names *out, const struct ast_node *t)
{
	if (!t)
		return;
	if (t->kind == AST_NAME)
		names_add(c, out, t->str);
	else if (t->kind == AST_TUPLE || t->kind == AST_LIST)
		for (int i = 0; i < t->items.n; i++)
			collect_target_local(c, out, t->items.v[i]);
}

static void collect_func(struct comp *c, const struct ast_list *body, struct names *assigned,
			 struct names *gdecl)
{
	for (int i = 0; i < body->n; i++) {
		const struct ast_node *s = body->v[i];
		switch (s->kind) {
		case AST_ASSIGN:
			for (int k = 0; k < s->items.n; k++)
				collect_target_local(c, assigned, s->items.v[k]);
			break;
		case AST_AUGASSIGN:
			collect_target_local(c, assigned, s->a);
			break;
		case AST_FOR:
			collect_target_local(c, assigned, s->a);
			collect_func(c, &s->items, assigned, gdecl);
			break;
		case AST_IF:
			collect_func(c, &s->items, assigned, gdecl);
			collect_func(c, &s->items2, assigned, gdecl);
			break;
		case AST_WHILE:
		case AST_WITH:
			if (s->kind == AST_WITH && s->str)
				names_add(c, assigned, s->str);
			collect_func(c, &s->items, assigned, gdecl);
			break;
		case AST_DEF:
			names_add(c, assigned, s->str);
			break;
		case AST_TRY:
			for (int k = 0; k < s->items2.n; k++)
				if (s->items2.v[k]->str)
					names_add(c, assigned, s->items2.v[k]->str);
			for (int k = 0; try_block(s, k); k++)
				collect_func(c, try_block(s, k), assigned, gdecl);
			break;
		case AST_GLOBAL:
			for (int k = 0; k < s->params.n; k++)
				names_add(c, gdecl, s->params.v[k]);
			break;
		default:
			break;
		}
	}
}

/* ---- name resolution ---- */

enum res { R_LOCAL, R_GLOBAL, R_CONST, R_SYSNAME, R_QUERY, R_UNDEF };

static const struct {
	const char *name;
	enum vm_sys sys;
} sysnames[] = {
	{"pid", SYS_GETPID}, {"ppid", SYS_GETPPID}, {"tid", SYS_GETTID},
	{"thread_name", SYS_THREAD_NAME}, {"now", SYS_NOW}, {"elapsed", SYS_ELAPSED},
};

static enum res resolve(const struct comp *c, const char *name, int *idx, struct value *val)
{
	if (c->in_func) {
		int l = names_find(&c->locals, name);
		if (l >= 0) {
			*idx = l;
			return R_LOCAL;
		}
	}
	int g = gslot(c, name);
	if (g >= 0) {
		*idx = g;
		return R_GLOBAL;
	}
	for (int i = 0; i < c->nimps; i++)
		if (strcmp(c->imps[i].name, name) == 0) {
			*val = c->imps[i].val;
			return R_CONST;
		}
	for (size_t i = 0; i < sizeof sysnames / sizeof sysnames[0]; i++)
		if (strcmp(sysnames[i].name, name) == 0) {
			*idx = (int)sysnames[i].sys;
			return R_SYSNAME;
		}
	for (int b = 0; b < BI_COUNT; b++)
		if (vm_builtins[b].bare && strcmp(vm_builtins[b].name, name) == 0) {
			val->type = V_BUILTIN;
			val->aux = 0;
			val->u.i = b;
			return R_CONST;
		}
	int x = vm_exc_builtin(name);
	if (x >= 0) {
		val->type = V_EXCTYPE;
		val->aux = 0;
		val->u.i = x;
		return R_CONST;
	}
	return c->in_expect ? R_QUERY : R_UNDEF;
}

static void expr(struct comp *c, const struct ast_node *n);
static void function(struct comp *c, const struct ast_node *n, const char *name);

static struct value unbound_value(void)
{
	struct value v = {.type = V_UNBOUND};
	return v;
}

static void load_name(struct comp *c, const struct ast_node *n)
{
	int idx = 0;
	struct value v = {.type = V_NONE};
	if (c->outer && names_find(&c->locals, n->str) < 0)
		for (const struct scope *s = c->outer; s; s = s->up)
			if (s->locals && names_find(s->locals, n->str) >= 0) {
				cerr(c, n->line, n->col,
				     "lambda cannot use the local variable '%s' of the enclosing function "
				     "(no closures)", n->str);
				return;
			}
	switch (resolve(c, n->str, &idx, &v)) {
	case R_LOCAL:
		emit(c, OP_LOAD_LOCAL, idx);
		break;
	case R_GLOBAL:
		emit(c, c->gbind[idx] == 1 && c->gdef[idx] ? OP_LOAD_FIXED : OP_LOAD_GLOBAL, idx);
		break;
	case R_CONST:
		emit_const(c, v);
		break;
	case R_SYSNAME:
		emit(c, OP_SYSCALL, idx);
		break;
	case R_QUERY:
		emit(c, OP_QUERY, add_cs(c, 0, 0, NULL, n->str, -1));
		break;
	case R_UNDEF:
		cerr(c, n->line, n->col, "name '%s' is not defined", n->str);
		break;
	}
}

static void store_name(struct comp *c, const struct ast_node *n, const char *name)
{
	int idx = -1;
	if (c->in_func) {
		idx = names_find(&c->locals, name);
		if (idx >= 0) {
			emit(c, OP_STORE_LOCAL, idx);
			return;
		}
	}
	idx = gslot(c, name);
	if (idx < 0) {
		cerr(c, n->line, n->col, "cannot assign to '%s' here", name);
		return;
	}
	emit(c, OP_STORE_GLOBAL, idx);
}

/* A module attribute (os.getpid) when n is `module.attr` with a known module. Returns 1 and
 * the value, 0 when n is not a module attribute, -1 after an error. */
static int module_attr(struct comp *c, const struct ast_node *n, struct value *out)
{
	if (n->kind != AST_ATTR)
		return 0;
	char dotted[128]; /* `import concurrent.futures`, then concurrent.futures.attr */
	const char *mod;
	if (n->a->kind == AST_NAME)
		mod = n->a->str;
	else if (n->a->kind == AST_ATTR && n->a->a->kind == AST_NAME &&
		 (size_t)snprintf(dotted, sizeof dotted, "%s.%s", n->a->a->str, n->a->str) < sizeof dotted)
		mod = dotted;
	else
		return 0;
	int idx;
	struct value m = {.type = V_NONE};
	if (resolve(c, mod, &idx, &m) != R_CONST)
		return 0;
	if (m.type == V_BUILTIN && n->a->kind == AST_NAME) /* BaseManager.register */
		return vm_class_attr((int)m.u.i, n->str, out) ? 1 : 0;
	if (m.type != V_MODULE)
		return 0;
	if (!vm_module_attr((int)m.u.i, n->str, out)) {
		cerr(c, n->line, n->col, "%s.%s is not part of the scenario language yet",
		     vm_module_names[m.u.i], n->str);
		return -1;
	}
	return 1;
}

/* Whether builtin bid makes an object of a class (Process, Queue, BaseManager, ...). */
static bool is_class_builtin(int bid)
{
	int sys = vm_builtins[bid].sys;
	const char *name = vm_builtins[bid].name, *dot = strrchr(name, '.');
	name = dot ? dot + 1 : name;
	return (sys == SYS_NEW || sys == SYS_PROCESS_NEW || sys == SYS_THREAD_NEW) &&
	       name[0] >= 'A' && name[0] <= 'Z';
}

/* class Name(Base): pass — Name becomes another name of Base, a built-in class, bound for the
 * whole program as an import is. Any other class is an error. */
static void class_alias(struct comp *c, const struct ast_node *n)
{
	for (int i = 0; i < n->items.n; i++) {
		const struct ast_node *s = n->items.v[i];
		if (s->kind != AST_PASS && !(s->kind == AST_EXPR_STMT && s->a->kind == AST_STR)) {
			cerr(c, n->line, n->col, "class bodies other than `pass` are not in the language "
						 "yet (write target= functions)");
			return;
		}
	}
	struct value v = {.type = V_NONE};
	const struct ast_node *base = n->items2.n == 1 ? n->items2.v[0] : NULL;
	int idx;
	if (base && base->kind == AST_NAME && resolve(c, base->str, &idx, &v) != R_CONST)
		v.type = V_NONE;
	else if (base && base->kind == AST_ATTR && module_attr(c, base, &v) <= 0)
		v.type = V_NONE;
	if (c->failed)
		return;
	if (v.type == V_BUILTIN && is_class_builtin((int)v.u.i)) {
		add_import(c, n->str, v);
		return;
	}
	if (v.type == V_EXCTYPE)
		cerr(c, n->line, n->col, "exception classes of your own are not in the language yet "
					 "(raise and catch a built-in one)");
	else
		cerr(c, n->line, n->col, "a class is only another name for one built-in class "
					 "(class QueueManager(BaseManager): pass); other classes are not "
					 "in the language yet (write target= functions)");
}

/* ---- expressions ---- */

static void binop(struct comp *c, int op, bool inplace)
{
	switch (op) {
	case '+': emit(c, inplace ? OP_INPLACE_ADD : OP_ADD, 0); break;
	case '-': emit(c, OP_SUB, 0); break;
	case '*': emit(c, OP_MUL, 0); break;
	default: emit(c, OP_BINOP, op); break;
	}
}

static void cmpop(struct comp *c, int op)
{
	switch (op) {
	case '<': emit(c, OP_LT, 0); break;
	case TOK_LE: emit(c, OP_LE, 0); break;
	case '>': emit(c, OP_GT, 0); break;
	case TOK_GE: emit(c, OP_GE, 0); break;
	case TOK_EQ: emit(c, OP_EQ, 0); break;
	case TOK_NE: emit(c, OP_NE, 0); break;
	default: emit(c, OP_CMP, op); break;
	}
}

static void compare(struct comp *c, const struct ast_node *n, bool record)
{
	int k = n->items.n;
	if (k < 2 || !n->cmp_ops) {
		cerr(c, n->line, n->col, "malformed comparison");
		return;
	}
	expr(c, n->items.v[0]);
	if (record)
		emit(c, OP_RECORD, 0);
	int fails[64], nf = 0;
	for (int i = 0; i < k - 1; i++) {
		expr(c, n->items.v[i + 1]);
		if (record)
			emit(c, OP_RECORD, i + 1);
		at(c, n);
		if (i < k - 2) {
			emit(c, OP_DUP, 0);
			emit(c, OP_ROT3, 0);
			cmpop(c, n->cmp_ops[i]);
			int j = emit(c, OP_JUMP_IF_FALSE_OR_POP, 0);
			if (nf < 64)
				fails[nf++] = j;
			else
				cerr(c, n->line, n->col, "comparison chain too long");
		} else {
			cmpop(c, n->cmp_ops[i]);
		}
	}
	if (nf == 0)
		return;
	int jend = emit(c, OP_JUMP, 0);
	c->depth++; /* on the failure path the last operand is still below the result */
	for (int i = 0; i < nf; i++)
		patch(c, fails[i], here(c));
	emit(c, OP_ROT2, 0);
	emit(c, OP_POP, 0);
	patch(c, jend, here(c));
}

/* "name[i]", kept by the program for as long as its code. */
static const char *own_name(struct comp *c, const char *name, int i)
{
	struct vm_program *p = c->prog;
	if (!grow((void **)&p->names, &p->cnames, p->nnames + 1, sizeof *p->names)) {
		oom(c);
		return NULL;
	}
	size_t n = strlen(name) + 16;
	char *s = malloc(n);
	if (!s) {
		oom(c);
		return NULL;
	}
	snprintf(s, n, "%s[%d]", name, i);
	p->names[p->nnames++] = s;
	return s;
}

static void call(struct comp *c, const struct ast_node *n)
{
	const struct ast_node *fn = n->a;
	const char *target = c->assign_target;
	c->assign_target = NULL; /* only for this call, not those in its arguments */
	if (fn->kind == AST_ATTR && strcmp(fn->str, "wait_for") == 0 && c->has_prelude &&
	    n->items.n < VM_MAX_ARGS && module_attr(c, fn, &(struct value){0}) == 0) {
		/* (asyncio.wait_for is a module's function, not this method) */
		/* cond.wait_for(pred, timeout) is the prelude's __wait_for(cond, pred, timeout):
		 * CPython's own loop of wait() and predicate() */
		const char *kwn[VM_MAX_ARGS];
		int kwc = n->items2.n < VM_MAX_ARGS ? n->items2.n : VM_MAX_ARGS;
		at(c, n);
		emit(c, OP_LOAD_FIXED, gslot(c, "__wait_for"));
		expr(c, fn->a);
		for (int i = 0; i < n->items.n; i++)
			expr(c, n->items.v[i]);
		for (int i = 0; i < kwc; i++) {
			kwn[i] = n->items2.v[i]->str;
			expr(c, n->items2.v[i]->a);
		}
		at(c, n);
		emit(c, OP_CALL, add_cs(c, n->items.n + 1, kwc, kwn, NULL, -1));
		return;
	}
	int argc = n->items.n, kwc = n->items2.n;
	if (argc > VM_MAX_ARGS || kwc > VM_MAX_ARGS) {
		cerr(c, n->line, n->col, "too many arguments (at most %d)", VM_MAX_ARGS);
		return;
	}
	const char *kwn[VM_MAX_ARGS];
	for (int i = 0; i < kwc; i++) {
		kwn[i] = n->items2.v[i]->str;
		for (int j = 0; j < i; j++)
			if (strcmp(kwn[i], kwn[j]) == 0) {
				cerr(c, n->items2.v[i]->line, n->items2.v[i]->col,
				     "keyword argument repeated: %s", kwn[i]);
				return;
			}
	}
	int bid = -1, idx = 0;
	bool query = false, method = false;
	struct value v = {.type = V_NONE};
	char msg[256];
	if (fn->kind == AST_NAME) {
		enum res r = resolve(c, fn->str, &idx, &v);
		if (r == R_CONST && v.type == V_BUILTIN)
			bid = (int)v.u.i;
		else if (r == R_QUERY)
			query = true;
		else if (r == R_GLOBAL && c->gbind[idx] == 1 && c->gdef[idx]) {
			const struct ast_node *d = c->gdef[idx];
			if (!vm_func_check(d->str, d->params.n, d->params.v, d->items2.n, argc, kwn,
					   kwc, msg, sizeof msg)) {
				cerr(c, n->line, n->col, "TypeError: %s", msg);
				return;
			}
		}
	} else if (fn->kind == AST_ATTR) {
		int m = module_attr(c, fn, &v);
		if (m < 0)
			return;
		if (m > 0 && v.type == V_BUILTIN)
			bid = (int)v.u.i;
		else if (m == 0)
			method = true;
	}
	if (bid >= 0 && !vm_builtin_check(bid, argc, kwn, kwc, msg, sizeof msg)) {
		cerr(c, n->line, n->col, "TypeError: %s", msg);
		return;
	}
	if (method)
		expr(c, fn->a);
	else if (bid < 0 && !query)
		expr(c, fn);
	for (int i = 0; i < argc; i++)
		expr(c, n->items.v[i]);
	for (int i = 0; i < kwc; i++)
		expr(c, n->items2.v[i]->a);
	at(c, n);
	if (method)
		emit(c, OP_CALL_METHOD, add_cs(c, argc, kwc, kwn, fn->str, -1));
	else if (query)
		emit(c, OP_QUERY, add_cs(c, argc, kwc, kwn, fn->str, -1));
	else if (bid >= 0) {
		int cs = add_cs(c, argc, kwc, kwn, vm_builtins[bid].name, bid);
		if (!c->failed)
			c->code->cs[cs].target = target;
		emit(c, OP_CALL_BUILTIN, cs);
	}
	else
		emit(c, OP_CALL, add_cs(c, argc, kwc, kwn, NULL, -1));
}

/* `await x`: only in the body of an async def, with CPython's messages otherwise. */
static void await_expr(struct comp *c, const struct ast_node *n)
{
	bool in_async = false;
	for (int i = 0; c->in_func && i < c->prog->nfuncs; i++)
		if (c->prog->funcs[i].code == c->code)
			in_async = c->prog->funcs[i].is_async;
	if (!in_async) {
		cerr(c, n->line, n->col, c->in_func ? "'await' outside async function"
						   : "'await' outside function");
		return;
	}
	expr(c, n->a);
	at(c, n);
	emit(c, OP_AWAIT, 0);
}

static void expr(struct comp *c, const struct ast_node *n)
{
	if (c->failed)
		return;
	at(c, n);
	switch (n->kind) {
	case AST_INT:
		if (n->ival >= -INS_ARG_MAX && n->ival <= INS_ARG_MAX)
			emit(c, OP_INT, (int)n->ival);
		else
			emit_const(c, vint(n->ival));
		break;
	case AST_FLOAT:
		emit_const(c, vm_float(n->fval));
		break;
	case AST_DURATION:
		emit_const(c, vm_dur(n->ival));
		break;
	case AST_STR:
		emit(c, OP_CONST, add_str_const(c, n->str ? n->str : "", n->str ? (size_t)n->ival : 0));
		break;
	case AST_FSTR: {
		int parts = 0;
		for (int i = 0; i < n->items.n; i++) {
			const struct ast_node *p = n->items.v[i];
			if (p->kind == AST_STR) {
				expr(c, p);
			} else if (p->kind == AST_FMT) {
				expr(c, p->a);
				at(c, p);
				int spec = p->str ? add_str_const(c, p->str, strlen(p->str)) + 1 : 0;
				int conv = p->op == 'r' ? 1 : p->op == 's' ? 2 : 0;
				if (spec > (INS_ARG_MAX >> 2))
					cerr(c, p->line, p->col, "the scenario is too large to compile");
				emit(c, OP_FORMAT, spec << 2 | conv);
			} else {
				expr(c, p);
				emit(c, OP_FORMAT, 0);
			}
			parts++;
		}
		at(c, n);
		if (parts == 0)
			emit(c, OP_CONST, add_str_const(c, "", 0));
		else
			emit(c, OP_BUILD_STR, parts);
		break;
	}
	case AST_NONE:
		emit_const(c, vm_none());
		break;
	case AST_TRUE:
	case AST_FALSE:
		emit_const(c, vm_bool(n->kind == AST_TRUE));
		break;
	case AST_NAME:
		load_name(c, n);
		break;
	case AST_ATTR: {
		struct value v;
		int m = module_attr(c, n, &v);
		if (m > 0) {
			emit_const(c, v);
		} else if (m == 0) {
			expr(c, n->a);
			at(c, n);
			emit(c, OP_GETATTR, add_str_const(c, n->str, strlen(n->str)));
		}
		break;
	}
	case AST_INDEX:
		expr(c, n->a);
		if (n->b->kind == AST_SLICE) { /* obj[start:stop:step], None where left out */
			const struct ast_node *parts[3] = {n->b->a, n->b->b, n->b->c};
			for (int i = 0; i < 3; i++) {
				if (parts[i])
					expr(c, parts[i]);
				else
					emit_const(c, vm_none());
			}
			at(c, n);
			emit(c, OP_SLICE, 0);
			break;
		}
		expr(c, n->b);
		at(c, n);
		emit(c, OP_INDEX, 0);
		break;
	case AST_CALL:
		call(c, n);
		break;
	case AST_UNARY:
		if (n->op == '-' && n->a->kind == AST_INT && n->a->ival <= INS_ARG_MAX) {
			emit(c, OP_INT, (int)-n->a->ival);
			break;
		}
		expr(c, n->a);
		at(c, n);
		emit(c, OP_UNARY, n->op);
		break;
	case AST_BINARY:
		expr(c, n->a);
		if (n->op == TOK_AND || n->op == TOK_OR) {
			at(c, n);
			int j = emit(c, n->op == TOK_AND ? OP_JUMP_IF_FALSE_OR_POP : OP_JUMP_IF_TRUE_OR_POP, 0);
			expr(c, n->b);
			patch(c, j, here(c));
			break;
		}
		expr(c, n->b);
		at(c, n);
		binop(c, n->op, false);
		break;
	case AST_IFEXP: {
		expr(c, n->b);
		at(c, n);
		int jf = emit(c, OP_JUMP_IF_FALSE, 0);
		expr(c, n->a);
		int je = emit(c, OP_JUMP, 0);
		c->depth--;
		patch(c, jf, here(c));
		expr(c, n->c);
		patch(c, je, here(c));
		break;
	}
	case AST_COMPARE:
		compare(c, n, false);
		break;
	case AST_AWAIT:
		await_expr(c, n);
		break;
	case AST_LAMBDA:
		function(c, n, "<lambda>");
		break;
	case AST_APPROX:
		if (!c->in_expect) {
			cerr(c, n->line, n->col, "'+-' is only allowed in an expect line");
			break;
		}
		expr(c, n->a);
		expr(c, n->b);
		expr(c, n->c);
		at(c, n);
		emit(c, OP_APPROX, 0);
		break;
	case AST_TUPLE:
	case AST_LIST: {
		const char *list = c->list_target;
		c->list_target = NULL;
		for (int i = 0; i < n->items.n; i++) {
			if (list && n->items.v[i]->kind == AST_CALL)
				c->assign_target = own_name(c, list, i);
			expr(c, n->items.v[i]);
			c->assign_target = NULL;
		}
		at(c, n);
		emit(c, n->kind == AST_LIST ? OP_BUILD_LIST : OP_BUILD_TUPLE, n->items.n);
		break;
	}
	case AST_DICT:
		for (int i = 0; i < n->items.n; i++) { /* each key before its value, as Python */
			expr(c, n->items.v[i]);
			expr(c, n->items2.v[i]);
		}
		at(c, n);
		emit(c, OP_BUILD_DICT, n->items.n);
		break;
	default:
		cerr(c, n->line, n->col, "this is not an expression");
		break;
	}
}

/* ---- statements ---- */

static void stmt(struct comp *c, const struct ast_node *n);

static void block(struct comp *c, const struct ast_list *body)
{
	for (int i = 0; i < body->n && !c->failed; i++)
		stmt(c, body->v[i]);
}

static void store(struct comp *c, const struct ast_node *t)
{
	at(c, t);
	switch (t->kind) {
	case AST_NAME:
		store_name(c, t, t->str);
		break;
	case AST_TUPLE:
	case AST_LIST:
		emit(c, OP_UNPACK, t->items.n);
		for (int i = 0; i < t->items.n; i++)
			store(c, t->items.v[i]);
		break;
	case AST_ATTR:
		expr(c, t->a);
		at(c, t);
		emit(c, OP_SETATTR, add_str_const(c, t->str, strlen(t->str)));
		break;
	case AST_INDEX:
		if (t->b->kind == AST_SLICE) {
			cerr(c, t->b->line, t->b->col,
			     "assigning to a slice is not part of the scenario language yet");
			break;
		}
		expr(c, t->a);
		expr(c, t->b);
		at(c, t);
		emit(c, OP_STORE_INDEX, 0);
		break;
	default:
		cerr(c, t->line, t->col, "cannot assign to this expression");
		break;
	}
}

static struct loop *push_loop(struct comp *c, bool is_for, int top)
{
	if (!grow((void **)&c->loops, &c->cloops, c->nloops + 1, sizeof *c->loops)) {
		oom(c);
		return NULL;
	}
	struct loop *l = &c->loops[c->nloops++];
	memset(l, 0, sizeof *l);
	l->is_for = is_for;
	l->top = top;
	l->depth = c->depth;
	return l;
}

static void pop_loop(struct comp *c, int exit)
{
	struct loop *l = &c->loops[--c->nloops];
	for (int i = 0; i < l->nbreaks; i++)
		patch(c, l->breaks[i], exit);
	free(l->breaks);
}

static bool push_unwind(struct comp *c, enum unwind_kind kind, const struct ast_list *final)
{
	if (!grow((void **)&c->unw, &c->cunw, c->nunw + 1, sizeof *c->unw)) {
		oom(c);
		return false;
	}
	c->unw[c->nunw++] = (struct unwind){.kind = kind, .depth = c->depth, .nloops = c->nloops,
					    .final = final};
	return true;
}

/* Compiles body inside a block of that kind (U_WITH, U_TRY, U_EXCEPT). */
static void guarded_block(struct comp *c, enum unwind_kind kind, const struct ast_list *body)
{
	if (!push_unwind(c, kind, NULL))
		return;
	block(c, body);
	c->nunw--;
}

/* Calls __exit__ of the context manager `pick` slots down (1: the top), dropping its result. */
static void call_exit(struct comp *c, int pick)
{
	emit(c, OP_PICK, pick);
	emit(c, OP_CALL_METHOD, add_cs(c, 0, 0, NULL, "__exit__", -1));
	emit(c, OP_POP, 0);
}

static void inline_finally(struct comp *c, int i);

/* Leaves the blocks of unw[from] to the innermost, innermost first: pops their try and except
 * blocks, calls the __exit__ of `with` managers (which stay on the stack), runs finally
 * blocks. For break, continue and return. */
static void exit_unwind(struct comp *c, int from)
{
	for (int i = c->nunw - 1; i >= from && !c->failed; i--) {
		switch (c->unw[i].kind) {
		case U_EXCEPT:
			emit(c, OP_POP_EXCEPT, 0);
			break;
		case U_TRY:
			emit(c, OP_POP_BLOCK, 0);
			break;
		case U_WITH:
			emit(c, OP_POP_BLOCK, 0);
			call_exit(c, c->depth - c->unw[i].depth + 1);
			break;
		case U_FINALLY:
			emit(c, OP_POP_BLOCK, 0);
			inline_finally(c, i);
			break;
		}
	}
}

/* Compiles the finally block of unw[i] where a break, continue or return leaves it, as if it
 * were written there outside the try: the blocks and loops opened inside the try are hidden
 * meanwhile (a `break` in it ends the loop around the try). */
static void inline_finally(struct comp *c, int i)
{
	struct unwind u = c->unw[i];
	int nu = c->nunw - i, nl = c->nloops - u.nloops;
	struct unwind *su = malloc((size_t)nu * sizeof *su);
	struct loop *sl = malloc((size_t)(nl ? nl : 1) * sizeof *sl);
	if (!su || !sl) {
		free(su);
		free(sl);
		oom(c);
		return;
	}
	memcpy(su, c->unw + i, (size_t)nu * sizeof *su);
	memcpy(sl, c->loops + u.nloops, (size_t)nl * sizeof *sl);
	c->nunw = i;
	c->nloops = u.nloops;
	block(c, u.final);
	memcpy(c->unw + i, su, (size_t)nu * sizeof *su);
	memcpy(c->loops + u.nloops, sl, (size_t)nl * sizeof *sl);
	c->nunw = i + nu;
	c->nloops = u.nloops + nl;
	free(su);
	free(sl);
}

/* The first unwind entry opened inside the innermost loop (nunw if none). */
static int unwind_in_loop(const struct comp *c)
{
	int i = c->nunw;
	while (i > 0 && c->unw[i - 1].nloops == c->nloops)
		i--;
	return i;
}

/* Stores the value on top of the stack in the name `name` (a with's or an except's `as`). */
static void store_as(struct comp *c, const struct ast_node *n, const char *name)
{
	struct ast_node target = {.kind = AST_NAME, .line = n->line, .col = n->col,
				  .str = (char *)name};
	store_name(c, &target, name);
}

/* with m [as x]: body — a try/finally whose finally is m.__exit__() */
static void with_stmt(struct comp *c, const struct ast_node *n)
{
	expr(c, n->a);
	at(c, n);
	emit(c, OP_DUP, 0);
	emit(c, OP_CALL_METHOD, add_cs(c, 0, 0, NULL, "__enter__", -1));
	if (n->str)
		store_as(c, n, n->str);
	else
		emit(c, OP_POP, 0);
	int setup = emit(c, OP_SETUP_TRY, 0);
	guarded_block(c, U_WITH, &n->items);
	at(c, n);
	emit(c, OP_POP_BLOCK, 0);
	call_exit(c, 1);
	emit(c, OP_POP, 0);
	int jend = emit(c, OP_JUMP, 0);
	/* an exception: __exit__, then it goes on */
	patch(c, setup, here(c));
	c->depth += 2; /* the manager, the exception */
	emit(c, OP_BEGIN_EXCEPT, 0);
	call_exit(c, 1);
	emit(c, OP_POP, 0);
	emit(c, OP_END_FINALLY, 0);
	patch(c, jend, here(c));
}

/* try: body, except clauses and else (n has at least one clause) */
static void try_except(struct comp *c, const struct ast_node *n)
{
	int setup = emit(c, OP_SETUP_TRY, 0);
	guarded_block(c, U_TRY, &n->items);
	at(c, n);
	emit(c, OP_POP_BLOCK, 0);
	if (n->a)
		block(c, &n->a->items);
	int nends = n->items2.n + 1, k = 0;
	int *ends = malloc((size_t)nends * sizeof *ends);
	if (!ends) {
		oom(c);
		return;
	}
	at(c, n);
	ends[k++] = emit(c, OP_JUMP, 0);
	patch(c, setup, here(c));
	c->depth++; /* the exception */
	for (int i = 0; i < n->items2.n && !c->failed; i++) {
		const struct ast_node *h = n->items2.v[i];
		int next = -1;
		if (h->a) {
			expr(c, h->a);
			at(c, h);
			emit(c, OP_EXC_MATCH, 0);
			next = emit(c, OP_JUMP_IF_FALSE, 0);
		}
		at(c, h);
		if (h->str) {
			emit(c, OP_DUP, 0);
			store_as(c, h, h->str);
		}
		emit(c, OP_BEGIN_EXCEPT, 0);
		guarded_block(c, U_EXCEPT, &h->items);
		at(c, h);
		emit(c, OP_POP_EXCEPT, 0);
		if (h->str) { /* as Python does, the name is unbound after the clause */
			emit_const(c, unbound_value());
			store_as(c, h, h->str);
		}
		ends[k++] = emit(c, OP_JUMP, 0);
		c->depth++; /* the next clause starts with the exception on the stack again */
		if (next >= 0)
			patch(c, next, here(c));
	}
	at(c, n);
	emit(c, OP_RERAISE, 0); /* no clause matched */
	for (int i = 0; i < k; i++)
		patch(c, ends[i], here(c));
	free(ends);
}

static void try_stmt(struct comp *c, const struct ast_node *n)
{
	if (!n->b) {
		try_except(c, n);
		return;
	}
	const struct ast_list *fin = &n->b->items;
	at(c, n);
	int setup = emit(c, OP_SETUP_TRY, 0);
	if (!push_unwind(c, U_FINALLY, fin))
		return;
	if (n->items2.n)
		try_except(c, n);
	else
		block(c, &n->items);
	c->nunw--;
	at(c, n->b);
	emit(c, OP_POP_BLOCK, 0);
	block(c, fin);
	at(c, n->b);
	int jend = emit(c, OP_JUMP, 0);
	/* an exception: the finally block, then it goes on */
	patch(c, setup, here(c));
	c->depth++;
	emit(c, OP_BEGIN_EXCEPT, 0);
	guarded_block(c, U_EXCEPT, fin);
	at(c, n->b);
	emit(c, OP_END_FINALLY, 0);
	patch(c, jend, here(c));
}

/* raise [x [from y]] */
static void raise_stmt(struct comp *c, const struct ast_node *n)
{
	if (n->a)
		expr(c, n->a);
	if (n->b)
		expr(c, n->b);
	at(c, n);
	emit(c, OP_RAISE, n->b ? 2 : n->a ? 1 : 0);
}

/* Compiles a function — a def's body, or a lambda's expression (n->a) — into a new entry of
 * the program's functions, with a fresh scope, and emits OP_MAKE_FUNC after its defaults. */
static void function(struct comp *c, const struct ast_node *n, const char *name)
{
	struct vm_program *p = c->prog;
	bool lambda = n->kind == AST_LAMBDA;
	for (int i = 0; i < n->params.n; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(n->params.v[i], n->params.v[j]) == 0) {
				cerr(c, n->line, n->col, "duplicate argument '%s' in function definition",
				     n->params.v[i]);
				return;
			}
	if (n->items2.n > n->params.n) {
		cerr(c, n->line, n->col, "more defaults than parameters");
		return;
	}
	if (!grow((void **)&p->funcs, &p->cfuncs, p->nfuncs + 1, sizeof *p->funcs)) {
		oom(c);
		return;
	}
	int fidx = p->nfuncs++;
	struct vm_func *f = &p->funcs[fidx];
	memset(f, 0, sizeof *f);
	f->name = name;
	f->nparams = n->params.n;
	f->ndefaults = n->items2.n;
	f->params = n->params.v;
	f->line = n->line;
	f->col = n->col;
	f->code = code_new(name);
	if (!f->code) {
		oom(c);
		return;
	}

	/* compile the body with a fresh scope */
	struct vm_code *save_code = c->code;
	int save_depth = c->depth;
	bool save_in_func = c->in_func;
	struct names save_locals = c->locals, save_gdecl = c->gdecl;
	struct loop *save_loops = c->loops;
	int save_nloops = c->nloops, save_cloops = c->cloops;
	struct unwind *save_unw = c->unw;
	int save_nunw = c->nunw, save_cunw = c->cunw;
	const struct scope *save_outer = c->outer;
	const char *save_target = c->assign_target, *save_list = c->list_target;
	/* a lambda must not use the locals around it: there are no closures */
	struct scope around = {.locals = c->in_func ? &save_locals : NULL, .up = c->outer};

	c->code = f->code;
	c->depth = 0;
	c->in_func = true;
	memset(&c->locals, 0, sizeof c->locals);
	memset(&c->gdecl, 0, sizeof c->gdecl);
	c->loops = NULL;
	c->nloops = c->cloops = 0;
	c->unw = NULL;
	c->nunw = c->cunw = 0;
	c->outer = lambda ? &around : NULL;
	c->assign_target = c->list_target = NULL;

	struct names assigned = {0};
	for (int i = 0; i < n->params.n; i++)
		names_add(c, &c->locals, n->params.v[i]);
	if (!lambda)
		collect_func(c, &n->items, &assigned, &c->gdecl);
	for (int i = 0; i < c->gdecl.n; i++)
		if (names_find(&c->locals, c->gdecl.v[i]) >= 0)
			cerr(c, n->line, n->col, "name '%s' is parameter and global", c->gdecl.v[i]);
	for (int i = 0; i < assigned.n; i++)
		if (names_find(&c->gdecl, assigned.v[i]) < 0)
			names_add(c, &c->locals, assigned.v[i]);
	free(assigned.v);
	f->code->nlocals = c->locals.n;
	if (n->ival) { /* async def: a call returns a coroutine; OP_AWAIT runs the rest */
		f->is_async = true;
		at(c, n);
		emit(c, OP_CORO, fidx);
	}

	if (lambda) {
		expr(c, n->a);
	} else {
		block(c, &n->items);
		at(c, n);
		emit_const(c, vm_none());
	}
	at(c, n);
	emit(c, OP_RETURN, 0);

	f = &p->funcs[fidx];
	f->code->localnames = c->locals.v; /* the code object owns the array */
	free(c->gdecl.v);
	free(c->loops);
	free(c->unw);
	c->unw = save_unw;
	c->nunw = save_nunw;
	c->cunw = save_cunw;
	c->outer = save_outer;
	c->assign_target = save_target;
	c->list_target = save_list;
	c->code = save_code;
	c->depth = save_depth;
	c->in_func = save_in_func;
	c->locals = save_locals;
	c->gdecl = save_gdecl;
	c->loops = save_loops;
	c->nloops = save_nloops;
	c->cloops = save_cloops;

	for (int i = 0; i < n->items2.n; i++)
		expr(c, n->items2.v[i]);
	at(c, n);
	emit(c, OP_MAKE_FUNC, fidx);
}

static void def(struct comp *c, const struct ast_node *n)
{
	function(c, n, n->str);
	store_name(c, n, n->str);
}

static void expect(struct comp *c, const struct ast_node *n)
{
	struct vm_program *p = c->prog;
	if (!grow((void **)&p->expects, &p->cexpects, p->nexpects + 1, sizeof *p->expects)) {
		oom(c);
		return;
	}
	int cap = p->cexpects;
	const struct ast_node **en = realloc(p->expect_nodes, (size_t)cap * sizeof *en);
	if (!en) {
		oom(c);
		return;
	}
	p->expect_nodes = en;
	struct vm_code *k = code_new("<expect>");
	if (!k) {
		oom(c);
		return;
	}
	p->expects[p->nexpects] = k;
	p->expect_nodes[p->nexpects] = n;
	p->nexpects++;

	struct vm_code *save = c->code;
	int save_depth = c->depth;
	c->code = k;
	c->depth = 0;
	c->in_expect = true;
	const struct ast_node *e = n->a;
	if (!e) {
		cerr(c, n->line, n->col, "expected an expression after 'expect'");
	} else if (e->kind == AST_COMPARE) {
		compare(c, e, true);
	} else if (e->kind == AST_APPROX) {
		expr(c, e->a);
		emit(c, OP_RECORD, 0);
		expr(c, e->b);
		emit(c, OP_RECORD, 1);
		expr(c, e->c);
		emit(c, OP_RECORD, 2);
		at(c, e);
		emit(c, OP_APPROX, 0);
	} else {
		expr(c, e);
	}
	at(c, n);
	emit(c, OP_RETURN, 0);
	c->in_expect = false;
	c->code = save;
	c->depth = save_depth;
}

static void stmt(struct comp *c, const struct ast_node *n)
{
	at(c, n);
	switch (n->kind) {
	case AST_EXPR_STMT:
		expr(c, n->a);
		emit(c, OP_POP, 0);
		break;
	case AST_ASSIGN:
		if (n->items.n == 1 && n->items.v[0]->kind == AST_NAME && n->a->kind == AST_CALL) {
			c->assign_target = n->items.v[0]->str;
		} else if (n->items.n == 1 && n->items.v[0]->kind == AST_NAME &&
			   (n->a->kind == AST_LIST || n->a->kind == AST_TUPLE)) {
			/* `forks = [Lock(), Lock()]`: the objects are forks[0], forks[1] */
			c->list_target = n->items.v[0]->str;
		}
		expr(c, n->a);
		c->assign_target = NULL;
		c->list_target = NULL;
		for (int i = 0; i < n->items.n; i++) {
			if (i < n->items.n - 1) {
				at(c, n);
				emit(c, OP_DUP, 0);
			}
			store(c, n->items.v[i]);
		}
		break;
	case AST_AUGASSIGN: {
		const struct ast_node *t = n->a;
		if (t->kind == AST_NAME) {
			load_name(c, t);
			expr(c, n->b);
			at(c, n);
			binop(c, n->op, true);
			store_name(c, t, t->str);
		} else if (t->kind == AST_ATTR) {
			expr(c, t->a);
			at(c, t);
			int name = add_str_const(c, t->str, strlen(t->str));
			emit(c, OP_DUP, 0);
			emit(c, OP_GETATTR, name);
			expr(c, n->b);
			at(c, n);
			binop(c, n->op, true);
			emit(c, OP_ROT2, 0);
			emit(c, OP_SETATTR, name);
		} else if (t->kind == AST_INDEX) {
			expr(c, t->a);
			expr(c, t->b);
			at(c, t);
			emit(c, OP_DUP2, 0);
			emit(c, OP_INDEX, 0);
			expr(c, n->b);
			at(c, n);
			binop(c, n->op, true);
			emit(c, OP_ROT3, 0);
			emit(c, OP_STORE_INDEX, 0);
		} else {
			cerr(c, t->line, t->col, "cannot assign to this expression");
		}
		break;
	}
	case AST_IF: {
		expr(c, n->a);
		at(c, n);
		int jf = emit(c, OP_JUMP_IF_FALSE, 0);
		block(c, &n->items);
		if (n->items2.n) {
			at(c, n);
			int je = emit(c, OP_JUMP, 0);
			patch(c, jf, here(c));
			block(c, &n->items2);
			patch(c, je, here(c));
		} else {
			patch(c, jf, here(c));
		}
		break;
	}
	case AST_WHILE: {
		int top = here(c);
		expr(c, n->a);
		at(c, n);
		int jf = emit(c, OP_JUMP_IF_FALSE, 0);
		if (!push_loop(c, false, top))
			break;
		block(c, &n->items);
		at(c, n);
		emit(c, OP_LOOP, top);
		patch(c, jf, here(c));
		pop_loop(c, here(c));
		break;
	}
	case AST_FOR: {
		expr(c, n->b);
		at(c, n);
		emit(c, OP_GET_ITER, 0);
		int top = here(c);
		int jx = emit(c, OP_FOR_ITER, 0);
		store(c, n->a);
		if (!push_loop(c, true, top))
			break;
		block(c, &n->items);
		at(c, n);
		emit(c, OP_LOOP, top);
		c->depth -= 2;
		patch(c, jx, here(c));
		pop_loop(c, here(c));
		break;
	}
	case AST_BREAK:
	case AST_CONTINUE: {
		if (c->nloops == 0) {
			cerr(c, n->line, n->col, "'%s' outside loop",
			     n->kind == AST_BREAK ? "break" : "continue");
			break;
		}
		int d = c->depth;
		exit_unwind(c, unwind_in_loop(c)); /* the blocks opened inside this loop */
		at(c, n);
		struct loop *l = &c->loops[c->nloops - 1];
		/* what the blocks left on the stack (`with` managers), and a for loop's iterator */
		int pop = c->depth - l->depth + (n->kind == AST_BREAK && l->is_for ? 2 : 0);
		if (pop)
			emit(c, OP_POPN, pop);
		if (n->kind == AST_CONTINUE) {
			emit(c, OP_LOOP, l->top);
			c->depth = d;
			break;
		}
		int j = emit(c, OP_JUMP, 0);
		c->depth = d;
		l = &c->loops[c->nloops - 1];
		if (!grow((void **)&l->breaks, &l->cbreaks, l->nbreaks + 1, sizeof *l->breaks)) {
			oom(c);
			break;
		}
		l->breaks[l->nbreaks++] = j;
		break;
	}
	case AST_DEF:
		def(c, n);
		break;
	case AST_RETURN: {
		if (!c->in_func) {
			cerr(c, n->line, n->col, "'return' outside function");
			break;
		}
		int d = c->depth;
		if (n->a)
			expr(c, n->a);
		else
			emit_const(c, vm_none());
		at(c, n);
		exit_unwind(c, 0);
		at(c, n);
		emit(c, OP_RETURN, 0);
		c->depth = d;
		break;
	}
	case AST_PASS:
	case AST_GLOBAL:
	case AST_IMPORT:
	case AST_MACHINE:
		break;
	case AST_WITH:
		with_stmt(c, n);
		break;
	case AST_TRY:
		try_stmt(c, n);
		break;
	case AST_RAISE:
		raise_stmt(c, n);
		break;
	case AST_CLASS: /* an alias bound when the program was scanned (class_alias) */
		break;
	case AST_EXPECT:
		expect(c, n);
		break;
	default:
		cerr(c, n->line, n->col, "this is not a statement");
		break;
	}
}

/* ---- the program ---- */

static struct vm_code *trampoline(struct comp *c, int argc)
{
	struct vm_code *k = code_new("<call>");
	if (!k)
		return NULL;
	struct vm_code *save = c->code;
	int save_depth = c->depth;
	c->code = k;
	c->depth = argc + 1;
	c->line = c->col = 0;
	emit(c, OP_CALL, add_cs(c, argc, 0, NULL, NULL, -1));
	emit(c, OP_RETURN, 0);
	k->maxstack = argc + 1;
	c->code = save;
	c->depth = save_depth;
	return k;
}

void vm_program_destroy(struct vm_program *prog)
{
	if (!prog)
		return;
	vm_code_destroy(prog->main);
	for (int i = 0; i < prog->nfuncs; i++)
		vm_code_destroy(prog->funcs[i].code);
	free(prog->funcs);
	for (int i = 0; i < prog->nexpects; i++)
		vm_code_destroy(prog->expects[i]);
	free(prog->expects);
	free(prog->expect_nodes);
	free(prog->gnames);
	ast_program_destroy(prog->prelude);
	source_destroy(prog->prelude_src);
	for (int i = 0; i < prog->nnames; i++)
		free(prog->names[i]);
	free(prog->names);
	for (int i = 0; i <= VM_MAX_ARGS; i++)
		vm_code_destroy(prog->tramp[i]);
	free(prog);
}

/* threading.Condition.wait_for, as CPython writes it (Lib/threading.py), in the language */
static const char prelude_text[] =
	"def __wait_for(cond, predicate, timeout=None):\n"
	"    endtime = None\n"
	"    waittime = timeout\n"
	"    result = predicate()\n"
	"    while not result:\n"
	"        if waittime is not None:\n"
	"            if endtime is None:\n"
	"                endtime = now / 1s + waittime\n"
	"            else:\n"
	"                waittime = endtime - now / 1s\n"
	"                if waittime <= 0:\n"
	"                    break\n"
	"        cond.wait(waittime)\n"
	"        result = predicate()\n"
	"    return result\n";

/* Parses the prelude (kept by the program) and makes *body the prelude's statements
 * followed by the program's. Returns 0, or -1 (and nothing changed) on failure. */
static int add_prelude(struct vm_program *prog, const struct ast_program *ast,
		       struct ast_list *body)
{
	struct diag d;
	prog->prelude_src = source_from_memory("<prelude>", prelude_text, sizeof prelude_text - 1);
	prog->prelude = prog->prelude_src ? ast_parse(prog->prelude_src, &d) : NULL;
	if (!prog->prelude)
		return -1;
	int n = prog->prelude->body.n + ast->body.n;
	struct ast_node **v = malloc((size_t)(n ? n : 1) * sizeof *v);
	if (!v)
		return -1;
	if (prog->prelude->body.n) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(v, prog->prelude->body.v, (size_t)prog->prelude->body.n * sizeof *v);
	if (ast->body.n) /* a program of comments only */
		memcpy(v + prog->prelude->body.n, ast->body.v, (size_t)ast->body.n * sizeof *v);
	*body = (struct ast_list){.v = v, .n = n, .cap = n};
	return 0;
}

struct vm_program *vm_compile(const struct ast_program *ast, struct diag *err)
{
	struct diag scratch;
	if (!err)
		err = &scratch;
	struct vm_program *prog = calloc(1, sizeof *prog);
	if (!prog) {
		diag_set(err, NULL, 0, 0, "out of memory compiling the scenario");
		return NULL;
	}
	prog->ast = ast;
	prog->src = ast->src;
	struct comp c = {.prog = prog, .err = err};
	gbind(&c, "__name__", NULL);
	c.gbind[0]++; /* never a plain def */
	/* Library code written in the language itself, compiled in when the program uses it:
	 * the prelude's defs run first, then the program. */
	struct ast_list body = ast->body;
	if (ast->src && strstr(ast->src->text, "wait_for") && add_prelude(prog, ast, &body) == 0)
		c.has_prelude = true;
	scan_module(&c, &body);
	if (!c.failed) {
		prog->main = code_new("<module>");
		c.code = prog->main;
		if (!c.code)
			oom(&c);
		else
			block(&c, &body);
		c.line = c.col = 0;
		emit_const(&c, vm_none());
		emit(&c, OP_RETURN, 0);
		for (int i = 0; i <= VM_MAX_ARGS && !c.failed; i++)
			if (!(prog->tramp[i] = trampoline(&c, i)))
				oom(&c);
	}
	free(c.gbind);
	free(c.gdef);
	free(c.imps);
	free(c.locals.v);
	free(c.gdecl.v);
	free(c.loops);
	free(c.unw);
	if (body.v != ast->body.v)
		free(body.v);
	if (c.failed) {
		vm_program_destroy(prog);
		return NULL;
	}
	return prog;
}

void vm_program_set_instr_cost(struct vm_program *prog, int64_t ns)
{
	prog->instr_cost = ns < 0 ? 0 : ns;
}

void vm_program_set_handle_repr(struct vm_program *prog, vm_handle_repr_fn fn, void *ctx)
{
	prog->hrepr = fn;
	prog->hctx = ctx;
}

int vm_program_expect_count(const struct vm_program *prog)
{
	return prog ? prog->nexpects : 0;
}

void vm_program_expect_info(const struct vm_program *prog, int i, int *line, const char **text)
{
	if (i < 0 || i >= prog->nexpects) {
		if (line)
			*line = 0;
		if (text)
			*text = "";
		return;
	}
	if (line)
		*line = prog->expect_nodes[i]->line;
	if (text)
		*text = prog->expect_nodes[i]->str ? prog->expect_nodes[i]->str : "";
}

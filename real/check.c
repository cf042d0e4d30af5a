/* check.c — what the real runner refuses before anything starts.
 *
 * The real runner answers the VM's process and thread calls (see runner.c). What it cannot
 * reproduce is every kernel object that has no real counterpart yet (JoinableQueue, ThreadPool,
 * executors, thread-locals, asyncio: anything of os, threading, multiprocessing and asyncio
 * not listed in `executable` below). Costs of the model's own machine (cs, fork, thread,
 * quantum, and instr: the simulated cost of one interpreted instruction, with its jitter) are
 * this machine's real costs in a real run and are not refused: a real run interprets at the
 * runner's own speed. A core count above this machine's is refused where the CLI resolves it
 * (real_machine_cores). */
#include <stdbool.h>
#include <string.h>

#include "real.h"

/* What the runner executes of the modules that have kernel objects; everything else of them
 * (JoinableQueue, queue.Queue, ThreadPool, local, asyncio, and what later issues add) is refused. */
static const char *const executable[][2] = {
	{"os", "fork"}, {"os", "getpid"}, {"os", "getppid"}, {"os", "cpu_count"},
	{"multiprocessing", "Process"}, {"multiprocessing", "current_process"},
	{"multiprocessing", "active_children"}, {"multiprocessing", "cpu_count"},
	{"threading", "Thread"}, {"threading", "current_thread"}, {"threading", "get_ident"},
	/* process-shared pthread objects in the shared area (runner.c) */
	{"threading", "Lock"}, {"threading", "RLock"}, {"threading", "Semaphore"},
	{"threading", "BoundedSemaphore"}, {"threading", "Condition"}, {"threading", "Event"},
	{"threading", "Barrier"}, {"threading", "BrokenBarrierError"},
	{"multiprocessing", "Lock"}, {"multiprocessing", "RLock"}, {"multiprocessing", "Semaphore"},
	{"multiprocessing", "BoundedSemaphore"}, {"multiprocessing", "Condition"},
	{"multiprocessing", "Event"}, {"multiprocessing", "Barrier"},
	{"multiprocessing", "Value"}, {"multiprocessing", "Array"},
	/* real pipes with a 4-byte length framing; a Queue's feeder thread per process */
	{"multiprocessing", "Queue"}, {"multiprocessing", "SimpleQueue"},
	{"multiprocessing", "Pipe"}, {"queue", "Empty"},
	/* forked workers, a task pipe and a result pipe */
	{"multiprocessing", "Pool"}, {"multiprocessing", "TimeoutError"},
	{"multiprocessing.pool", "Pool"},
};

static bool guarded(const char *module)
{
	return module && (strcmp(module, "os") == 0 || strcmp(module, "multiprocessing") == 0 ||
			  strcmp(module, "threading") == 0 || strcmp(module, "asyncio") == 0 ||
			  strcmp(module, "queue") == 0 || strcmp(module, "concurrent.futures") == 0 ||
			  strcmp(module, "multiprocessing.pool") == 0 ||
			  strcmp(module, "multiprocessing.dummy") == 0 ||
			  strcmp(module, "multiprocessing.managers") == 0 ||
			  strcmp(module, "subprocess") == 0);
}

static bool can_execute(const char *module, const char *attr)
{
	if (!guarded(module))
		return true;
	for (size_t i = 0; i < sizeof executable / sizeof executable[0]; i++)
		if (strcmp(executable[i][0], module) == 0 && strcmp(executable[i][1], attr) == 0)
			return true;
	return false;
}

#define MAX_ALIASES 64

struct checker {
	const struct ast_program *ast;
	const char *alias[MAX_ALIASES];  /* a name bound to a module by `import` */
	const char *module[MAX_ALIASES];
	int naliases;
	struct diag *err;
	bool failed;
};

static void refuse(struct checker *c, const struct ast_node *n, const char *module,
		   const char *attr)
{
	if (c->failed)
		return;
	c->failed = true;
	diag_set(c->err, c->ast->src, n->line, n->col,
		 "the real runner cannot execute %s.%s yet: processes, threads, locks, semaphores, "
		 "conditions, events, barriers, shared Values/Arrays, multiprocessing Queue, "
		 "SimpleQueue, Pipe and Pool run for real, JoinableQueue, queue.Queue, ThreadPool, "
		 "executors, "
		 "thread-locals, coroutines, subprocess, open(), managers and bounded queues not yet "
		 "(docs/real.md); run it "
		 "with `timeslice run`",
		 module, attr);
}

static const char *module_of(const struct checker *c, const char *name)
{
	for (int i = c->naliases - 1; i >= 0; i--)
		if (strcmp(c->alias[i], name) == 0)
			return c->module[i];
	return NULL;
}

static void collect_imports(struct checker *c, const struct ast_node *n)
{
	if (!n)
		return;
	if (n->kind == AST_IMPORT && !n->str) { /* import a, b as c */
		for (int i = 0; i < n->params.n && c->naliases < MAX_ALIASES; i++) {
			const char *mod = n->params.v[i];
			const char *as = n->params2.v[i] ? n->params2.v[i] : mod;
			c->alias[c->naliases] = as;
			c->module[c->naliases++] = mod;
		}
	}
	collect_imports(c, n->a);
	collect_imports(c, n->b);
	collect_imports(c, n->c);
	for (int i = 0; i < n->items.n; i++)
		collect_imports(c, n->items.v[i]);
	for (int i = 0; i < n->items2.n; i++)
		collect_imports(c, n->items2.v[i]);
}

/* The real Queue has no maxsize: Queue(n) / Queue(maxsize=n), a put() that could block or
 * time out (its block= or timeout=, or a second argument), put_nowait() and full(). */
static bool bounded_queue_call(const struct ast_node *n)
{
	const struct ast_node *f = n->a;
	const char *name = f && (f->kind == AST_NAME || f->kind == AST_ATTR) ? f->str : NULL;
	if (!name)
		return false;
	int args = n->items.n + n->items2.n;
	if (strcmp(name, "Queue") == 0 || strcmp(name, "JoinableQueue") == 0)
		return args > 0;
	if (f->kind != AST_ATTR)
		return false;
	if (strcmp(name, "put_nowait") == 0 || strcmp(name, "full") == 0)
		return true;
	return strcmp(name, "put") == 0 && args > 1;
}

static void walk(struct checker *c, const struct ast_node *n)
{
	if (!n || c->failed)
		return;
	switch (n->kind) {
	case AST_IMPORT:
		if (n->str) /* from M import x, y */
			for (int i = 0; i < n->params.n; i++)
				if (!can_execute(n->str, n->params.v[i]))
					refuse(c, n, n->str, n->params.v[i]);
		break;
	case AST_ATTR:
		if (n->a && n->a->kind == AST_NAME) {
			const char *mod = module_of(c, n->a->str);
			if (mod && !can_execute(mod, n->str))
				refuse(c, n, mod, n->str);
		}
		break;
	case AST_CALL: /* the builtin open(): a simulated file, no real counterpart yet */
		if (n->a && n->a->kind == AST_NAME && n->a->str && strcmp(n->a->str, "open") == 0)
			refuse(c, n, "builtins", "open");
		else if (bounded_queue_call(n))
			refuse(c, n, "multiprocessing", "Queue(maxsize) and put(block, timeout)");
		break;
	case AST_EXPECT: /* checked after the run, against the trace: nothing to execute */
		return;
	default:
		break;
	}
	walk(c, n->a);
	walk(c, n->b);
	walk(c, n->c);
	for (int i = 0; i < n->items.n; i++)
		walk(c, n->items.v[i]);
	for (int i = 0; i < n->items2.n; i++)
		walk(c, n->items2.v[i]);
}

/* The machine line's key `key`, or NULL. */
static const struct ast_node *machine_key(const struct ast_program *ast, const char *key)
{
	const struct ast_node *found = NULL;
	for (int i = 0; i < ast->body.n; i++) {
		const struct ast_node *s = ast->body.v[i];
		if (s->kind != AST_MACHINE || machine_line_is_network(s))
			continue; /* another host's line, not this machine's */
		for (int k = 0; k < s->items.n; k++) {
			const struct ast_node *kw = s->items.v[k];
			if (kw->kind == AST_KWARG && kw->str && strcmp(kw->str, key) == 0)
				found = kw; /* the last one wins, as machine_apply_ast applies them */
		}
	}
	return found;
}

int real_check(const struct ast_program *ast, const struct machine *m, struct diag *err)
{
	struct checker c = {.ast = ast, .err = err};
	for (int i = 0; i < ast->body.n; i++)
		collect_imports(&c, ast->body.v[i]);
	for (int i = 0; i < ast->body.n && !c.failed; i++)
		walk(&c, ast->body.v[i]);
	if (c.failed)
		return -1;
	if (m->nhosts > 1) { /* the first `machine host=` line */
		const struct ast_node *at = NULL;
		for (int i = 0; i < ast->body.n && !at; i++) {
			const struct ast_node *s = ast->body.v[i];
			if (machine_line_is_network(s))
				at = s->items.v[0];
		}
		diag_set(err, ast->src, at ? at->line : 0, at ? at->col : 0,
			 "the real runner cannot execute hosts and links: a real run has this machine "
			 "only (run it with `timeslice run`)");
		return -1;
	}
	return 0;
}

int real_machine_cores(const struct ast_program *ast, int *line, int *col)
{
	const struct ast_node *kw = machine_key(ast, "cores");
	if (!kw || !kw->a || kw->a->kind != AST_INT)
		return 0;
	if (line)
		*line = kw->line;
	if (col)
		*col = kw->col;
	return (int)kw->a->ival;
}

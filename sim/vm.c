/* vm.c — the bytecode interpreter: processes (globals, random stream), threads (frames and
 * a value stack), the built-in functions, and the system-call protocol with the kernel.
 *
 * Determinism: the only source of randomness is each process's xoshiro256** stream, seeded
 * through splitmix64 from the seed given to vm_proc_create / vm_proc_fork, so one seed gives
 * one sequence of values. Nothing here reads a clock. */
#include "vm_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VM_SLICE /* the fuzz build takes smaller slices, so that its limits bound its work */
#define VM_SLICE 100000     /* instructions per vm_run before VM_YIELD */
#endif

/* ---- built-ins and modules ---- */

const struct vm_builtin vm_builtins[BI_COUNT] = {
	[BI_PRINT] = {"print", 0, -1, "sep,end,flush", true, SYS_PRINT},
	[BI_RANGE] = {"range", 1, 3, "", true, SYS_COUNT},
	[BI_LEN] = {"len", 1, 1, "", true, SYS_COUNT},
	[BI_STR] = {"str", 0, 1, "", true, SYS_COUNT},
	[BI_REPR] = {"repr", 1, 1, "", true, SYS_COUNT},
	[BI_INT] = {"int", 0, 1, "", true, SYS_COUNT},
	[BI_FLOAT] = {"float", 0, 1, "", true, SYS_COUNT},
	[BI_BOOL] = {"bool", 0, 1, "", true, SYS_COUNT},
	[BI_ABS] = {"abs", 1, 1, "", true, SYS_COUNT},
	[BI_MIN] = {"min", 1, -1, "", true, SYS_COUNT},
	[BI_MAX] = {"max", 1, -1, "", true, SYS_COUNT},
	[BI_ROUND] = {"round", 1, 2, "ndigits", true, SYS_COUNT},
	[BI_SUM] = {"sum", 1, 2, "start", true, SYS_COUNT},
	[BI_LIST] = {"list", 0, 1, "", true, SYS_COUNT},
	[BI_TUPLE] = {"tuple", 0, 1, "", true, SYS_COUNT},
	[BI_SORTED] = {"sorted", 1, 1, "reverse", true, SYS_COUNT},
	[BI_ENUMERATE] = {"enumerate", 1, 2, "start", true, SYS_COUNT},
	[BI_COMPUTE] = {"compute", 1, 1, "", true, SYS_COMPUTE},
	[BI_IO] = {"io", 1, 1, "", true, SYS_IO},
	[BI_SLEEP] = {"sleep", 1, 1, "", true, SYS_SLEEP},
	[BI_UNIFORM] = {"uniform", 2, 2, "", true, SYS_COUNT},
	[BI_RANDOM] = {"random", 0, 0, "", true, SYS_COUNT},
	[BI_RANDINT] = {"randint", 2, 2, "", true, SYS_COUNT},
	[BI_CHOICE] = {"choice", 1, -1, "", true, SYS_COUNT},
	[BI_SEED] = {"seed", 0, 1, "", false, SYS_COUNT},
	[BI_FORK] = {"fork", 0, 0, "", false, SYS_FORK},
	[BI_GETPID] = {"getpid", 0, 0, "", false, SYS_GETPID},
	[BI_GETPPID] = {"getppid", 0, 0, "", false, SYS_GETPPID},
	[BI_CPU_COUNT] = {"cpu_count", 0, 0, "", true, SYS_CPU_COUNT},
	[BI_TIME] = {"time", 0, 0, "", false, SYS_TIME},
	[BI_PERF_COUNTER] = {"perf_counter", 0, 0, "", false, SYS_TIME},
	[BI_MONOTONIC] = {"monotonic", 0, 0, "", false, SYS_TIME},
	[BI_PROCESS] = {"Process", 0, -1, "*", true, SYS_PROCESS_NEW},
	[BI_THREAD] = {"Thread", 0, -1, "*", true, SYS_THREAD_NEW},
	[BI_CURRENT_THREAD] = {"current_thread", 0, 0, "", true, SYS_CURRENT_THREAD},
	[BI_CURRENT_PROCESS] = {"current_process", 0, 0, "", true, SYS_CURRENT_PROCESS},
	[BI_ACTIVE_CHILDREN] = {"active_children", 0, 0, "", false, SYS_ACTIVE_CHILDREN},
	[BI_GET_IDENT] = {"get_ident", 0, 0, "", false, SYS_GETTID},
	[BI_LOCK] = {"Lock", 0, 0, "inherit", false, SYS_NEW},
	[BI_RLOCK] = {"RLock", 0, 0, "", false, SYS_NEW},
	[BI_SEMAPHORE] = {"Semaphore", 0, 1, "value", false, SYS_NEW},
	[BI_BSEMAPHORE] = {"BoundedSemaphore", 0, 1, "value", false, SYS_NEW},
	[BI_CONDITION] = {"Condition", 0, 1, "lock", false, SYS_NEW},
	[BI_EVENT] = {"Event", 0, 0, "", false, SYS_NEW},
	[BI_BARRIER] = {"Barrier", 1, 1, "timeout", false, SYS_NEW},
	[BI_LOCAL] = {"local", 0, 0, "", false, SYS_NEW},
	[BI_COMPUTE_NOGIL] = {"compute_nogil", 1, 1, "", true, SYS_COMPUTE_NOGIL},
	[BI_SETSWITCH] = {"setswitchinterval", 1, 1, "", false, SYS_GILCTL},
	[BI_GETSWITCH] = {"getswitchinterval", 0, 0, "", false, SYS_GILCTL},
	[BI_SETCHECK] = {"setcheckinterval", 1, 1, "", false, SYS_GILCTL},
	[BI_GETCHECK] = {"getcheckinterval", 0, 0, "", false, SYS_GILCTL},
	[BI_MPQUEUE] = {"Queue", 0, 1, "maxsize", false, SYS_NEW},
	[BI_TQUEUE] = {"queue.Queue", 0, 1, "maxsize", false, SYS_NEW},
	[BI_PIPE] = {"Pipe", 0, 1, "duplex", false, SYS_NEW},
	[BI_VALUE] = {"Value", 1, 2, "lock", false, SYS_NEW},
	[BI_ARRAY] = {"Array", 2, 2, "lock", false, SYS_NEW},
	[BI_POOL] = {"Pool", 0, 3, "processes,initializer,initargs", false, SYS_NEW},
	[BI_THREADPOOL] = {"ThreadPool", 0, 3, "processes,initializer,initargs", false, SYS_NEW},
	[BI_ZIP] = {"zip", 0, 8, "", true, SYS_COUNT},
	[BI_AIO_RUN] = {"asyncio.run", 1, 1, "debug", false, SYS_AIO},
	[BI_AIO_GATHER] = {"asyncio.gather", 0, -1, "return_exceptions", false, SYS_AIO},
	[BI_AIO_SLEEP] = {"asyncio.sleep", 1, 2, "result", false, SYS_AIO},
	[BI_AIO_CREATE_TASK] = {"asyncio.create_task", 1, 1, "name", false, SYS_AIO},
	[BI_AIO_WAIT_FOR] = {"asyncio.wait_for", 1, 2, "timeout", false, SYS_AIO},
	[BI_PPEXECUTOR] = {"ProcessPoolExecutor", 0, 4, "max_workers,mp_context,initializer,initargs",
			   false, SYS_NEW},
	[BI_TPEXECUTOR] = {"ThreadPoolExecutor", 0, 4,
			   "max_workers,thread_name_prefix,initializer,initargs", false, SYS_NEW},
	[BI_AS_COMPLETED] = {"as_completed", 1, 2, "timeout", false, SYS_NEW},
	[BI_SIMPLEQUEUE] = {"SimpleQueue", 0, 0, "", false, SYS_NEW},
	[BI_JQUEUE] = {"JoinableQueue", 0, 1, "maxsize", false, SYS_NEW},
	[BI_SP_DEFINE] = {"subprocess.define", 2, 2, "", false, SYS_NEW},
	[BI_SP_CALL] = {"subprocess.call", 1, 1, "args,stdin,stdout,stderr,shell", false, SYS_NEW},
	[BI_SP_RUN] = {"subprocess.run", 1, 1,
		       "args,input,capture_output,stdin,stdout,stderr,text,shell", false, SYS_NEW},
	[BI_SP_POPEN] = {"Popen", 1, 1, "args,stdin,stdout,stderr,shell,text", false, SYS_NEW},
	[BI_OPEN] = {"open", 1, 2, "mode,encoding", true, SYS_NEW},
	[BI_MANAGER] = {"BaseManager", 0, 2, "address,authkey", false, SYS_NEW},
	[BI_MGR_REGISTER] = {"BaseManager.register", 1, 2,
			     "callable,proxytype,exposed,method_to_typeid,create_method", false,
			     SYS_NEW},
	[BI_OS_WAIT] = {"os.wait", 0, 0, "", false, SYS_NEW},
	[BI_OS_WAITPID] = {"os.waitpid", 2, 2, "", false, SYS_NEW},
	[BI_OS_EXIT] = {"os._exit", 1, 1, "", false, SYS_NEW},
	[BI_SYS_EXIT] = {"sys.exit", 0, 1, "", false, SYS_COUNT},
	[BI_DICT] = {"dict", 0, 1, "", true, SYS_COUNT},
};

const char *const vm_module_names[M_COUNT] = {
	[M_OS] = "os", [M_TIME] = "time", [M_RANDOM] = "random", [M_SYS] = "sys",
	[M_MULTIPROCESSING] = "multiprocessing", [M_THREADING] = "threading", [M_QUEUE] = "queue",
	[M_MP_POOL] = "multiprocessing.pool", [M_MP_DUMMY] = "multiprocessing.dummy",
	[M_ASYNCIO] = "asyncio", [M_FUTURES] = "concurrent.futures",
	[M_SUBPROCESS] = "subprocess", [M_MP_MANAGERS] = "multiprocessing.managers",
};

static const struct {
	int module;
	const char *attr;
	int bid;
} module_attrs[] = {
	{M_OS, "fork", BI_FORK}, {M_OS, "getpid", BI_GETPID}, {M_OS, "getppid", BI_GETPPID},
	{M_OS, "cpu_count", BI_CPU_COUNT}, {M_OS, "wait", BI_OS_WAIT}, {M_OS, "waitpid", BI_OS_WAITPID},
	{M_OS, "_exit", BI_OS_EXIT}, {M_SYS, "exit", BI_SYS_EXIT},
	{M_TIME, "sleep", BI_SLEEP}, {M_TIME, "time", BI_TIME},
	{M_TIME, "perf_counter", BI_PERF_COUNTER}, {M_TIME, "monotonic", BI_MONOTONIC},
	{M_RANDOM, "random", BI_RANDOM}, {M_RANDOM, "uniform", BI_UNIFORM},
	{M_RANDOM, "randint", BI_RANDINT}, {M_RANDOM, "choice", BI_CHOICE},
	{M_RANDOM, "seed", BI_SEED},
	{M_MULTIPROCESSING, "Process", BI_PROCESS}, {M_MULTIPROCESSING, "cpu_count", BI_CPU_COUNT},
	{M_MULTIPROCESSING, "active_children", BI_ACTIVE_CHILDREN},
	{M_MULTIPROCESSING, "current_process", BI_CURRENT_PROCESS},
	{M_THREADING, "Thread", BI_THREAD}, {M_THREADING, "current_thread", BI_CURRENT_THREAD},
	{M_THREADING, "get_ident", BI_GET_IDENT},
	{M_THREADING, "Lock", BI_LOCK}, {M_THREADING, "RLock", BI_RLOCK},
	{M_THREADING, "Semaphore", BI_SEMAPHORE}, {M_THREADING, "BoundedSemaphore", BI_BSEMAPHORE},
	{M_THREADING, "Condition", BI_CONDITION}, {M_THREADING, "Event", BI_EVENT},
	{M_THREADING, "Barrier", BI_BARRIER}, {M_THREADING, "local", BI_LOCAL},
	{M_MULTIPROCESSING, "Lock", BI_LOCK}, {M_MULTIPROCESSING, "RLock", BI_RLOCK},
	{M_MULTIPROCESSING, "Semaphore", BI_SEMAPHORE},
	{M_MULTIPROCESSING, "BoundedSemaphore", BI_BSEMAPHORE},
	{M_MULTIPROCESSING, "Condition", BI_CONDITION}, {M_MULTIPROCESSING, "Event", BI_EVENT},
	{M_MULTIPROCESSING, "Barrier", BI_BARRIER},
	{M_MULTIPROCESSING, "Queue", BI_MPQUEUE}, {M_MULTIPROCESSING, "Pipe", BI_PIPE},
	{M_MULTIPROCESSING, "Value", BI_VALUE}, {M_MULTIPROCESSING, "Array", BI_ARRAY},
	{M_MULTIPROCESSING, "Pool", BI_POOL}, {M_QUEUE, "Queue", BI_TQUEUE},
	{M_MULTIPROCESSING, "SimpleQueue", BI_SIMPLEQUEUE},
	{M_MULTIPROCESSING, "JoinableQueue", BI_JQUEUE},
	{M_MP_POOL, "Pool", BI_POOL}, {M_MP_POOL, "ThreadPool", BI_THREADPOOL},
	{M_MP_DUMMY, "Pool", BI_THREADPOOL},
	{M_SYS, "setswitchinterval", BI_SETSWITCH}, {M_SYS, "getswitchinterval", BI_GETSWITCH},
	{M_SYS, "setcheckinterval", BI_SETCHECK}, {M_SYS, "getcheckinterval", BI_GETCHECK},
	{M_ASYNCIO, "run", BI_AIO_RUN}, {M_ASYNCIO, "gather", BI_AIO_GATHER},
	{M_ASYNCIO, "sleep", BI_AIO_SLEEP}, {M_ASYNCIO, "create_task", BI_AIO_CREATE_TASK},
	{M_ASYNCIO, "wait_for", BI_AIO_WAIT_FOR},
	{M_FUTURES, "ProcessPoolExecutor", BI_PPEXECUTOR}, {M_FUTURES, "ThreadPoolExecutor", BI_TPEXECUTOR},
	{M_FUTURES, "as_completed", BI_AS_COMPLETED},
	{M_SUBPROCESS, "define", BI_SP_DEFINE}, {M_SUBPROCESS, "call", BI_SP_CALL},
	{M_SUBPROCESS, "run", BI_SP_RUN}, {M_SUBPROCESS, "Popen", BI_SP_POPEN},
	{M_MP_MANAGERS, "BaseManager", BI_MANAGER},
};

/* Exception classes that live in a module (the others are bare names: ValueError). */
static const struct {
	int module;
	const char *attr;
	int exc;
} module_excs[] = {
	{M_QUEUE, "Empty", EXC_QUEUE_EMPTY}, {M_QUEUE, "Full", EXC_QUEUE_FULL},
	{M_MULTIPROCESSING, "ProcessError", EXC_MP_PROCESS},
	{M_MULTIPROCESSING, "TimeoutError", EXC_MP_TIMEOUT},
	{M_MULTIPROCESSING, "AuthenticationError", EXC_MP_AUTH},
	{M_MULTIPROCESSING, "BufferTooShort", EXC_MP_BUFFER},
	{M_MP_POOL, "TimeoutError", EXC_MP_TIMEOUT},
	{M_FUTURES, "TimeoutError", EXC_TIMEOUT}, /* 3.11: the built-in one */
	{M_ASYNCIO, "TimeoutError", EXC_TIMEOUT},
	{M_ASYNCIO, "InvalidStateError", EXC_INVALIDSTATE},
	{M_THREADING, "BrokenBarrierError", EXC_BROKENBARRIER},
};

/* Attributes of built-in classes: QueueManager.register, where QueueManager is BaseManager. */
static const struct {
	int cls;
	const char *attr;
	int bid;
} class_attrs[] = {
	{BI_MANAGER, "register", BI_MGR_REGISTER},
};

/* Sets *out to the value of that type and index (a builtin, a module's exception class). */
static bool found(struct value *out, uint8_t type, int64_t i)
{
	out->type = type;
	out->aux = 0;
	out->u.i = i;
	return true;
}

bool vm_class_attr(int bid, const char *attr, struct value *out)
{
	for (size_t i = 0; i < sizeof class_attrs / sizeof class_attrs[0]; i++)
		if (class_attrs[i].cls == bid && strcmp(class_attrs[i].attr, attr) == 0)
			return found(out, V_BUILTIN, class_attrs[i].bid);
	return false;
}

int vm_exc_builtin(const char *name)
{
	for (int i = 0; i < EXC_COUNT; i++)
		if (!strchr(vm_exc_classes[i].name, '.') && strcmp(vm_exc_classes[i].name, name) == 0)
			return i;
	return -1;
}

bool vm_module_attr(int module, const char *attr, struct value *out)
{
	for (size_t i = 0; i < sizeof module_attrs / sizeof module_attrs[0]; i++)
		if (module_attrs[i].module == module && strcmp(module_attrs[i].attr, attr) == 0)
			return found(out, V_BUILTIN, module_attrs[i].bid);
	for (size_t i = 0; i < sizeof module_excs / sizeof module_excs[0]; i++)
		if (module_excs[i].module == module && strcmp(module_excs[i].attr, attr) == 0)
			return found(out, V_EXCTYPE, module_excs[i].exc);
	if (module == M_OS && strcmp(attr, "WNOHANG") == 0) {
		*out = vint(1); /* Linux's value */
		return true;
	}
	if (module == M_SYS && strcmp(attr, "maxsize") == 0) {
		*out = vint(INT64_MAX);
		return true;
	}
	if (module == M_SUBPROCESS && (strcmp(attr, "PIPE") == 0 || strcmp(attr, "STDOUT") == 0 ||
				       strcmp(attr, "DEVNULL") == 0)) {
		*out = vint(attr[0] == 'P' ? -1 : attr[0] == 'S' ? -2 : -3); /* CPython's values */
		return true;
	}
	return false;
}

const char *vm_builtin_name(int i)
{
	return i >= 0 && i < BI_COUNT ? vm_builtins[i].name : NULL;
}

static bool kw_allowed(const char *list, const char *name)
{
	if (strcmp(list, "*") == 0)
		return true;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (comma != NULL);
	}
	return false;
}

bool vm_builtin_check(int bid, int argc, const char **kwn, int kwc, char *msg, size_t size)
{
	const struct vm_builtin *b = &vm_builtins[bid];
	if (argc < b->minargs || (b->maxargs >= 0 && argc > b->maxargs)) {
		if (b->maxargs == b->minargs)
			snprintf(msg, size, "%s() takes %d argument%s (%d given)", b->name, b->minargs,
				 b->minargs == 1 ? "" : "s", argc);
		else if (b->maxargs < 0)
			snprintf(msg, size, "%s() takes at least %d argument%s (%d given)", b->name,
				 b->minargs, b->minargs == 1 ? "" : "s", argc);
		else
			snprintf(msg, size, "%s() takes from %d to %d arguments (%d given)", b->name,
				 b->minargs, b->maxargs, argc);
		return false;
	}
	for (int i = 0; i < kwc; i++)
		if (!kw_allowed(b->kwargs, kwn[i])) {
			if (!b->kwargs[0])
				snprintf(msg, size, "%s() takes no keyword arguments", b->name);
			else
				snprintf(msg, size, "%s() got an unexpected keyword argument '%s'",
					 b->name, kwn[i]);
			return false;
		}
	return true;
}

bool vm_func_check(const char *name, int nparams, char *const *params, int ndefaults, int argc,
		   const char **kwn, int kwc, char *msg, size_t size)
{
	if (argc > nparams) {
		if (ndefaults)
			snprintf(msg, size, "%s() takes from %d to %d positional arguments but %d were given",
				 name, nparams - ndefaults, nparams, argc);
		else
			snprintf(msg, size, "%s() takes %d positional argument%s but %d %s given", name,
				 nparams, nparams == 1 ? "" : "s", argc, argc == 1 ? "was" : "were");
		return false;
	}
	bool filled[256] = {false};
	for (int i = 0; i < argc && i < 256; i++)
		filled[i] = true;
	for (int k = 0; k < kwc; k++) {
		int p = 0;
		while (p < nparams && strcmp(params[p], kwn[k]) != 0)
			p++;
		if (p == nparams) {
			snprintf(msg, size, "%s() got an unexpected keyword argument '%s'", name, kwn[k]);
			return false;
		}
		if (p < 256 && filled[p]) {
			snprintf(msg, size, "%s() got multiple values for argument '%s'", name, kwn[k]);
			return false;
		}
		if (p < 256)
			filled[p] = true;
	}
	int missing[256], nm = 0;
	for (int p = 0; p < nparams - ndefaults && p < 256; p++)
		if (!filled[p])
			missing[nm++] = p;
	if (nm) {
		struct sbuf b = {0};
		for (int i = 0; i < nm; i++) {
			if (i)
				sb_puts(&b, nm == 2 ? " and " : i == nm - 1 ? ", and " : ", ");
			sb_printf(&b, "'%s'", params[missing[i]]);
		}
		snprintf(msg, size, "%s() missing %d required positional argument%s: %s", name, nm,
			 nm == 1 ? "" : "s", b.p ? b.p : "");
		sb_free(&b);
		return false;
	}
	return true;
}

/* ---- random numbers ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(uint64_t s[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static double rng_double(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n) without modulo bias; n == 0 means the full 2^64 range. */
static uint64_t rng_below(uint64_t s[4], uint64_t n)
{
	if (n == 0)
		return rng_next(s);
	uint64_t threshold = -n % n;
	for (;;) {
		uint64_t x = rng_next(s);
		if (x >= threshold)
			return x % n;
	}
}

/* ---- processes ---- */

/* struct vm_proc, struct vm_thread and struct frame are in vm_internal.h: vm_bare.c runs
 * threads too. */

static struct value unbound(void)
{
	struct value v = {.type = V_UNBOUND};
	return v;
}

static struct vm_proc *proc_alloc(struct vm_program *prog)
{
	struct vm_proc *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->prog = prog;
	p->globals = malloc((size_t)(prog->nglobals ? prog->nglobals : 1) * sizeof *p->globals);
	p->defaults = calloc((size_t)(prog->nfuncs ? prog->nfuncs : 1), sizeof *p->defaults);
	if (!p->globals || !p->defaults) {
		free(p->globals);
		free(p->defaults);
		free(p);
		return NULL;
	}
	for (int i = 0; i < prog->nglobals; i++)
		p->globals[i] = unbound();
	return p;
}

struct vm_proc *vm_proc_create(struct vm_program *prog, uint64_t seed)
{
	struct vm_proc *p = proc_alloc(prog);
	if (!p)
		return NULL;
	p->globals[0] = vm_str("__main__", 8);
	rng_seed(p->rng, seed);
	return p;
}

struct vm_proc *vm_proc_fork(const struct vm_proc *parent, uint64_t seed)
{
	struct vm_proc *p = proc_alloc(parent->prog);
	if (!p)
		return NULL;
	p->fork_memo = vm_memo_create();
	if (!p->fork_memo) {
		vm_proc_destroy(p);
		return NULL;
	}
	const struct vm_program *prog = parent->prog;
	for (int i = 0; i < prog->nglobals; i++)
		p->globals[i] = vm_deep_copy(parent->globals[i], p->fork_memo);
	for (int f = 0; f < prog->nfuncs; f++) {
		if (!parent->defaults[f])
			continue;
		int nd = prog->funcs[f].ndefaults;
		p->defaults[f] = malloc((size_t)(nd ? nd : 1) * sizeof **p->defaults);
		if (!p->defaults[f]) {
			vm_proc_destroy(p);
			return NULL;
		}
		for (int k = 0; k < nd; k++)
			p->defaults[f][k] = vm_deep_copy(parent->defaults[f][k], p->fork_memo);
	}
	p->shared = false;
	rng_seed(p->rng, seed);
	return p;
}

void vm_proc_destroy(struct vm_proc *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->prog->nglobals; i++)
		vunref(p->globals[i]);
	for (int f = 0; f < p->prog->nfuncs; f++) {
		if (!p->defaults[f])
			continue;
		for (int k = 0; k < p->prog->funcs[f].ndefaults; k++)
			vunref(p->defaults[f][k]);
		free(p->defaults[f]);
	}
	vm_memo_destroy(p->fork_memo);
	free(p->defaults);
	free(p->globals);
	free(p);
}

void vm_proc_set_breaker(struct vm_proc *p, int mode)
{
	p->breaker = mode;
}

void vm_proc_set_access_hook(struct vm_proc *p, vm_access_fn fn, void *ctx)
{
	p->access = fn;
	p->access_ctx = ctx;
}

void vm_proc_set_shared(struct vm_proc *p, bool shared)
{
	p->shared = shared;
}

void vm_proc_foreach_global(const struct vm_proc *p,
			    void (*fn)(void *ctx, const char *name, const char *repr), void *ctx)
{
	for (int i = 1; i < p->prog->nglobals; i++) {
		struct value v = p->globals[i];
		if (v.type == V_UNBOUND || v.type == V_FUNC || v.type == V_BUILTIN ||
		    v.type == V_MODULE)
			continue;
		struct sbuf b = {0};
		vm_to_text(p->prog, &b, v, true);
		fn(ctx, p->prog->gnames[i], b.p ? b.p : "");
		sb_free(&b);
	}
}

/* ---- threads ---- */

/* Records an error; keeps the thread small until one happens. */
static void thread_error(struct vm_thread *t, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static struct diag oom_diag = {.msg = "MemoryError: out of memory"};

static void thread_error(struct vm_thread *t, int line, int col, const char *fmt, ...)
{
	if (!t->err && !(t->err = malloc(sizeof *t->err))) {
		t->err = &oom_diag;
		return;
	}
	if (t->err == &oom_diag)
		return;
	va_list ap;
	va_start(ap, fmt);
	diag_setv(t->err, t->proc->prog->src, line, col, fmt, ap);
	va_end(ap);
}

static bool ensure_stack(struct vm_thread *t, int need)
{
	if (need <= t->cap)
		return true;
	int cap = t->cap ? t->cap : 16; /* most threads need little: a pool of 100k stays small */
	while (cap < need)
		cap *= 2;
	struct value *s = realloc(t->stack, (size_t)cap * sizeof *s);
	if (!s)
		return false;
	t->stack = s;
	t->cap = cap;
	return true;
}

static bool push_frame(struct vm_thread *t, const struct vm_code *code, int base)
{
	if (t->nframes == t->fcap) {
		int cap = t->fcap ? t->fcap * 2 : 8;
		struct frame *f = realloc(t->frames, (size_t)cap * sizeof *f);
		if (!f)
			return false;
		t->frames = f;
		t->fcap = cap;
	}
	t->frames[t->nframes].code = code;
	t->frames[t->nframes].pc = 0;
	t->frames[t->nframes].base = base;
	t->nframes++;
	return true;
}

static struct vm_thread *thread_new(struct vm_proc *p, const struct vm_code *code, int stack)
{
	struct vm_thread *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->proc = p;
	t->expect = -1;
	t->horizon = 1;
	if (!ensure_stack(t, stack + code->maxstack + 8) || !push_frame(t, code, 0)) {
		vm_thread_destroy(t);
		return NULL;
	}
	return t;
}

struct vm_thread *vm_thread_create_main(struct vm_proc *p)
{
	return thread_new(p, p->prog->main, 0);
}

static void fail_at_start(struct vm_thread *t, int line, int col, const char *msg)
{
	thread_error(t, line, col, "%s", msg);
	t->status = T_FAILED;
}

/* A thread whose only frame is the coroutine's body, past its OP_CORO. */
static struct vm_thread *thread_from_coro(struct vm_proc *p, struct value coro)
{
	struct vcoro *co = (struct vcoro *)coro.u.o;
	const struct vm_code *code = p->prog->funcs[co->func].code;
	int nslots = code->nlocals > co->nargs ? code->nlocals : co->nargs;
	struct vm_thread *t = thread_new(p, code, nslots);
	if (!t) {
		vunref(coro);
		return NULL;
	}
	t->frames[0].pc = 1;
	for (int i = 0; i < nslots; i++)
		t->stack[i] = unbound();
	if (co->started) {
		fail_at_start(t, p->prog->funcs[co->func].line, p->prog->funcs[co->func].col,
			      "RuntimeError: cannot reuse already awaited coroutine");
	} else {
		co->started = true;
		for (int i = 0; i < co->nargs; i++) {
			t->stack[i] = co->args[i];
			vref(t->stack[i]);
		}
	}
	t->sp = nslots;
	vunref(coro);
	return t;
}

const char *vm_coro_name(struct value v, bool *started)
{
	if (v.type != V_CORO)
		return NULL;
	const struct vcoro *co = (const struct vcoro *)v.u.o;
	if (started)
		*started = co->started;
	return co->name;
}

struct vm_thread *vm_thread_create_call(struct vm_proc *p, struct value fn, int argc,
					struct value *argv)
{
	const struct vm_program *prog = p->prog;
	if (fn.type == V_CORO && argc == 0)
		return thread_from_coro(p, fn);
	int n = argc < 0 ? 0 : argc > VM_MAX_ARGS ? VM_MAX_ARGS : argc;
	struct vm_thread *t = thread_new(p, prog->tramp[n], n + 1);
	if (!t) {
		vunref(fn);
		for (int i = 0; i < argc; i++)
			vunref(argv[i]);
		return NULL;
	}
	t->stack[0] = fn;
	for (int i = 0; i < n; i++)
		t->stack[1 + i] = argv[i];
	for (int i = n; i < argc; i++)
		vunref(argv[i]);
	t->sp = n + 1;
	char msg[400];
	if (argc > VM_MAX_ARGS) {
		fail_at_start(t, 0, 0, "TypeError: too many arguments");
	} else if (fn.type == V_FUNC && fn.u.i >= 0 && fn.u.i < prog->nfuncs) {
		const struct vm_func *f = &prog->funcs[fn.u.i];
		if (!vm_func_check(f->name, f->nparams, f->params, f->ndefaults, argc, NULL, 0,
				   msg + 11, sizeof msg - 11)) {
			memcpy(msg, "TypeError: ", 11);
			fail_at_start(t, f->line, f->col, msg);
		}
	} else if (fn.type == V_BUILTIN && fn.u.i >= 0 && fn.u.i < BI_COUNT) {
		if (!vm_builtin_check((int)fn.u.i, argc, NULL, 0, msg + 11, sizeof msg - 11)) {
			memcpy(msg, "TypeError: ", 11);
			fail_at_start(t, 0, 0, msg);
		}
	} else {
		snprintf(msg, sizeof msg, "TypeError: '%s' object is not callable",
			 vm_type_name(fn));
		fail_at_start(t, 0, 0, msg);
	}
	return t;
}

struct vm_thread *vm_thread_create_expect(struct vm_proc *p, int i)
{
	if (i < 0 || i >= p->prog->nexpects)
		return NULL;
	struct vm_thread *t = thread_new(p, p->prog->expects[i], 0);
	if (t)
		t->expect = i;
	return t;
}

struct vm_thread *vm_thread_fork(const struct vm_thread *t, struct vm_proc *child)
{
	struct vm_thread *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->proc = child;
	c->horizon = 1;
	c->expect = t->expect;
	c->status = t->status;
	c->call_line = t->call_line;
	c->call_col = t->call_col;
	c->result = vm_none();
	if (!ensure_stack(c, t->cap)) {
		free(c);
		return NULL;
	}
	c->frames = malloc((size_t)t->fcap * sizeof *c->frames);
	struct vm_memo *memo = child->fork_memo ? child->fork_memo : vm_memo_create();
	if (!c->frames || !memo) {
		if (memo != child->fork_memo)
			vm_memo_destroy(memo);
		free(c->frames);
		free(c->stack);
		free(c);
		return NULL;
	}
	memcpy(c->frames, t->frames, (size_t)t->nframes * sizeof *c->frames);
	c->nframes = t->nframes;
	c->fcap = t->fcap;
	for (int i = 0; i < t->sp; i++)
		c->stack[i] = vm_deep_copy(t->stack[i], memo);
	c->sp = t->sp;
	if (t->nblocks && (c->blocks = malloc((size_t)t->nblocks * sizeof *c->blocks))) {
		c->cblocks = c->nblocks = t->nblocks;
		for (int i = 0; i < t->nblocks; i++) {
			c->blocks[i] = t->blocks[i];
			c->blocks[i].exc = vm_deep_copy(t->blocks[i].exc, memo);
		}
	} /* out of memory: the child's handlers are lost, its exceptions end it */
	vm_memo_destroy(memo);
	child->fork_memo = NULL;
	return c;
}

static void drop_pending(struct vm_thread *t)
{
	for (int i = 0; i < t->npend; i++)
		vunref(t->pend[i]);
	t->npend = 0;
}

void vm_thread_destroy(struct vm_thread *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->sp; i++)
		vunref(t->stack[i]);
	for (int i = 0; i < t->nblocks; i++)
		vunref(t->blocks[i].exc);
	free(t->blocks);
	vunref(t->raised);
	drop_pending(t);
	for (int i = 0; i < t->nrec; i++)
		vunref(t->rec[i]);
	vunref(t->result);
	free(t->stack);
	free(t->frames);
	if (t->err != &oom_diag)
		free(t->err);
	free(t->detail);
	free(t);
}

struct value vm_thread_result(const struct vm_thread *t)
{
	return t->status == T_EXIT ? t->result : vm_none();
}

const struct diag *vm_thread_error(const struct vm_thread *t)
{
	static const struct diag none;
	return t->err ? t->err : &none;
}

uint64_t vm_thread_take_instructions(struct vm_thread *t)
{
	uint64_t n = t->instructions;
	t->instructions = 0;
	return n;
}

bool vm_thread_at_breaker(const struct vm_thread *t)
{
	return t->at_breaker;
}

void vm_thread_set_user(struct vm_thread *t, void *user)
{
	t->user = user;
}

void vm_thread_set_horizon(struct vm_thread *t, int64_t cost)
{
	t->horizon = cost < 1 ? 1 : cost;
}

int vm_thread_line(const struct vm_thread *t)
{
	if (t->nframes == 0)
		return 0;
	const struct frame *f = &t->frames[t->nframes - 1];
	if (f->pc == 0)
		return 0;
	return f->code->line[f->pc - 1];
}

const char *vm_expect_detail(const struct vm_thread *t)
{
	return t->detail ? t->detail : "";
}

void vm_return(struct vm_thread *t, struct value v)
{
	if (t->status != T_WAIT || t->sp >= t->cap) {
		vunref(v);
		return;
	}
	drop_pending(t);
	if (t->discard) {
		t->discard = false;
		vunref(v);
	} else {
		t->stack[t->sp++] = v;
	}
	t->status = T_READY;
}

void vm_raise(struct vm_thread *t, const char *type, const char *msg)
{
	if (t->status != T_WAIT)
		return;
	t->discard = false;
	drop_pending(t);
	struct value args = vm_seq_new(V_TUPLE, 1);
	struct value x = vm_none();
	if (args.type == V_TUPLE) {
		SEQ(args)->items[0] = vm_str(msg, strlen(msg));
		x = vm_exc_new(vm_exc_lookup(type), type, args);
	}
	if (x.type == V_EXC) {
		EXC(x)->line = t->call_line;
		EXC(x)->col = t->call_col;
		vunref(t->raised);
		t->raised = x;
	} else { /* out of memory: the thread ends with the error, as it cannot be caught */
		thread_error(t, t->call_line, t->call_col, "%s: %s", type, msg);
	}
	t->status = T_RAISED;
}

/* ---- system calls ---- */

static void sys_begin(struct vm_call *call, enum vm_sys sys)
{
	call->sys = sys;
	call->self = vm_none();
	call->name = NULL;
	call->target = NULL;
	call->argc = 0;
	call->kwc = 0;
}

/* Keeps a reference to v in the thread for as long as the call is pending. */
static struct value pend(struct vm_thread *t, struct value v)
{
	vref(v);
	if (t->npend < (int)(sizeof t->pend / sizeof t->pend[0]))
		t->pend[t->npend++] = v;
	return v;
}

static int sys_args(struct vm_thread *t, struct vm_call *call, enum vm_sys sys,
		    const struct value *args, int argc, const char **kwn, const struct value *kwv,
		    int kwc)
{
	sys_begin(call, sys);
	for (int i = 0; i < argc; i++)
		call->argv[call->argc++] = pend(t, args[i]);
	for (int i = 0; i < kwc; i++) {
		call->kwname[call->kwc] = kwn[i];
		call->kwv[call->kwc++] = pend(t, kwv[i]);
	}
	return 1;
}

/* ---- built-in functions ---- */

static bool to_index(struct value v, int64_t *out, struct vm_err *e)
{
	if (v.type == V_INT || v.type == V_BOOL) {
		*out = v.u.i;
		return true;
	}
	return vm_seterr(e, "TypeError", "'%s' object cannot be interpreted as an integer",
			 vm_type_name(v));
}

static bool is_seq(struct value v)
{
	return v.type == V_LIST || v.type == V_TUPLE || v.type == V_STR || v.type == V_RANGE;
}

/* A new list with the items of an iterable (a dict's keys). */
static bool to_list(struct value it, struct value *out, struct vm_err *e)
{
	if (it.type == V_DICT) {
		const struct vdict *d = DICT(it);
		*out = vm_seq_new(V_LIST, d->n);
		if (out->type != V_LIST)
			return vm_seterr(e, "MemoryError", "out of memory");
		int pos = 0, i, k = 0;
		while ((i = vm_dict_next(d, &pos)) >= 0) {
			SEQ(*out)->items[k++] = d->ent[i].key;
			vref(d->ent[i].key);
		}
		return true;
	}
	if (!is_seq(it))
		return vm_seterr(e, "TypeError", "'%s' object is not iterable", vm_type_name(it));
	int64_t n = vm_len(it, e);
	if (n > VM_LIST_LIMIT)
		return vm_seterr(e, "MemoryError", "list larger than %zu MiB", VM_OBJ_LIMIT >> 20);
	*out = vm_seq_new(V_LIST, (int)n);
	if (out->type != V_LIST)
		return vm_seterr(e, "MemoryError", "out of memory");
	if (it.type == V_STR) {
		const struct vstr *s = STR(it);
		size_t off = 0;
		for (int i = 0; i < n; i++) {
			size_t l = 1;
			while (off + l < s->len && ((unsigned char)s->data[off + l] & 0xc0) == 0x80)
				l++;
			SEQ(*out)->items[i] = vm_str(s->data + off, l);
			off += l;
		}
		return true;
	}
	for (int i = 0; i < n; i++)
		vm_seq_get(it, i, &SEQ(*out)->items[i], e);
	return true;
}

static bool seconds_to_dur(const char *what, struct value v, struct value *out, struct vm_err *e)
{
	double ns;
	switch (v.type) {
	case V_DUR:
		*out = v;
		break;
	case V_INT:
	case V_BOOL:
		if (v.u.i > INT64_MAX / 1000000000 || v.u.i < INT64_MIN / 1000000000)
			return vm_seterr(e, "OverflowError", "%s length too large", what);
		*out = vm_dur(v.u.i * 1000000000);
		break;
	case V_FLOAT:
		ns = v.u.f * 1e9;
		if (isnan(ns) || fabs(ns) >= 9.2e18)
			return vm_seterr(e, isnan(ns) ? "ValueError" : "OverflowError",
					 "invalid %s length", what);
		*out = vm_dur((int64_t)llround(ns));
		break;
	default:
		return vm_seterr(e, "TypeError",
				 "%s() needs a duration such as 10ms, or a number of seconds, not '%s'",
				 what, vm_type_name(v));
	}
	if (out->u.i < 0)
		return vm_seterr(e, "ValueError", "%s length must be non-negative", what);
	return true;
}

static bool parse_int(struct value s, struct value *out, struct vm_err *e)
{
	const char *p = STR(s)->data, *end = p + STR(s)->len;
	while (p < end && isspace((unsigned char)*p))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	bool neg = false;
	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	uint64_t v = 0;
	bool any = false, bad = p == end;
	for (const char *q = p; q < end; q++) {
		if (*q == '_' && q > p && q + 1 < end && isdigit((unsigned char)q[1]))
			continue;
		if (!isdigit((unsigned char)*q)) {
			bad = true;
			break;
		}
		any = true;
		if (v > (UINT64_MAX - 9) / 10) {
			return vm_seterr(e, "OverflowError", "int too large (integers are 64-bit here)");
		}
		v = v * 10 + (uint64_t)(*q - '0');
	}
	if (bad || !any) {
		struct sbuf b = {0};
		vm_to_text(NULL, &b, s, true);
		vm_seterr(e, "ValueError", "invalid literal for int() with base 10: %.200s",
			  b.p ? b.p : "");
		sb_free(&b);
		return false;
	}
	if (v > (uint64_t)INT64_MAX + neg)
		return vm_seterr(e, "OverflowError", "int too large (integers are 64-bit here)");
	*out = vint(neg ? (int64_t)(0 - v) : (int64_t)v);
	return true;
}

static bool minmax(bool is_max, const struct value *args, int argc, struct value *out,
		   struct vm_err *e)
{
	struct value lst = vm_none();
	const struct value *items = args;
	int n = argc;
	if (argc == 1) {
		if (!to_list(args[0], &lst, e))
			return false;
		items = SEQ(lst)->items;
		n = SEQ(lst)->n;
	}
	if (n == 0) {
		vunref(lst);
		return vm_seterr(e, "ValueError", "%s() arg is an empty sequence",
				 is_max ? "max" : "min");
	}
	struct value best = items[0];
	for (int i = 1; i < n; i++) {
		bool better;
		if (!vm_compare(is_max ? '>' : '<', items[i], best, &better, e)) {
			vunref(lst);
			return false;
		}
		if (better)
			best = items[i];
	}
	vref(best);
	vunref(lst);
	*out = best;
	return true;
}

static bool do_round(const struct value *args, int argc, const char **kwn,
		     const struct value *kwv, int kwc, struct value *out, struct vm_err *e)
{
	struct value x = args[0];
	struct value nd = argc > 1 ? args[1] : kwc ? kwv[0] : vm_none();
	(void)kwn;
	if (x.type == V_BOOL)
		x.type = V_INT;
	if (x.type != V_INT && x.type != V_FLOAT)
		return vm_seterr(e, "TypeError", "type %s doesn't define __round__ method",
				 vm_type_name(x));
	if (nd.type == V_NONE) {
		if (x.type == V_INT) {
			*out = x;
			return true;
		}
		if (!isfinite(x.u.f))
			return vm_seterr(e, isnan(x.u.f) ? "ValueError" : "OverflowError",
					 "cannot convert float %s to integer", isnan(x.u.f) ? "NaN" : "infinity");
		double r = nearbyint(x.u.f); /* ties to even, as Python */
		if (fabs(r) >= 9.2e18)
			return vm_seterr(e, "OverflowError", "int too large (integers are 64-bit here)");
		*out = vint((int64_t)r);
		return true;
	}
	int64_t n = 0;
	if (!to_index(nd, &n, e))
		return false;
	if (x.type == V_INT) {
		if (n >= 0) {
			*out = x;
			return true;
		}
		if (n < -18) {
			*out = vint(0);
			return true;
		}
		int64_t m = 1;
		for (int64_t i = 0; i < -n; i++)
			m *= 10;
		int64_t q = x.u.i / m, r = x.u.i % m;
		if (r < 0) {
			q--;
			r += m;
		}
		if (r * 2 > m || (r * 2 == m && (q & 1)))
			q++;
		int64_t res;
		if (__builtin_mul_overflow(q, m, &res))
			return vm_seterr(e, "OverflowError", "int too large (integers are 64-bit here)");
		*out = vint(res);
		return true;
	}
	if (!isfinite(x.u.f) || n > 300) {
		*out = x;
		return true;
	}
	if (n >= 0) {
		/* printf rounds the exact binary value correctly, as CPython's round() does */
		char buf[400];
		snprintf(buf, sizeof buf, "%.*f", (int)n, x.u.f);
		*out = vm_float(strtod(buf, NULL));
	} else {
		double m = pow(10.0, (double)-n);
		*out = vm_float(nearbyint(x.u.f / m) * m);
	}
	return true;
}

static bool do_sum(const struct value *args, int argc, const struct value *kwv, int kwc,
		   struct value *out, struct vm_err *e)
{
	struct value lst;
	if (!to_list(args[0], &lst, e))
		return false;
	struct value acc;
	if (argc > 1)
		acc = args[1];
	else if (kwc)
		acc = kwv[0];
	else if (SEQ(lst)->n && SEQ(lst)->items[0].type == V_DUR)
		acc = vm_dur(0); /* so sum() of durations works without start=0s */
	else
		acc = vint(0);
	vref(acc);
	for (int i = 0; i < SEQ(lst)->n; i++) {
		struct value r;
		if (!vm_binop('+', acc, SEQ(lst)->items[i], &r, e)) {
			vunref(acc);
			vunref(lst);
			return false;
		}
		vunref(acc);
		acc = r;
	}
	vunref(lst);
	*out = acc;
	return true;
}

/* Stable merge sort of v[0..n) using '<' (or '>' reversed); false on a TypeError. */
static bool merge_sort(struct value *v, struct value *tmp, int n, bool reverse, struct vm_err *e)
{
	if (n < 2)
		return true;
	int h = n / 2;
	if (!merge_sort(v, tmp, h, reverse, e) || !merge_sort(v + h, tmp, n - h, reverse, e))
		return false;
	int i = 0, j = h, k = 0;
	while (i < h && j < n) {
		bool take_right;
		/* take the right one only when strictly before the left one: stable */
		if (!vm_compare(reverse ? '>' : '<', v[j], v[i], &take_right, e))
			return false;
		tmp[k++] = take_right ? v[j++] : v[i++];
	}
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, (size_t)n * sizeof *v);
	return true;
}

static bool sort_list(struct value lst, bool reverse, struct vm_err *e)
{
	int n = SEQ(lst)->n;
	if (n < 2)
		return true;
	struct value *tmp = malloc((size_t)n * sizeof *tmp);
	if (!tmp)
		return vm_seterr(e, "MemoryError", "out of memory");
	struct value *copy = malloc((size_t)n * sizeof *copy);
	if (!copy) {
		free(tmp);
		return vm_seterr(e, "MemoryError", "out of memory");
	}
	memcpy(copy, SEQ(lst)->items, (size_t)n * sizeof *copy);
	bool ok = merge_sort(copy, tmp, n, reverse, e);
	if (ok) /* a failed sort leaves the list as it was */
		memcpy(SEQ(lst)->items, copy, (size_t)n * sizeof *copy);
	free(tmp);
	free(copy);
	return ok;
}

static bool kwarg_bool(const char **kwn, const struct value *kwv, int kwc, const char *name)
{
	for (int i = 0; i < kwc; i++)
		if (strcmp(kwn[i], name) == 0)
			return vm_truthy(kwv[i]);
	return false;
}

/* Runs built-in bid. Returns 0 with *out (a new reference), 1 when *call is filled (a
 * system call is pending), -1 on an error (in e). Arguments are borrowed. */
static bool dict_update(struct value d, struct value other, struct vm_err *e);

static int builtin(struct vm_thread *t, int bid, const struct value *args, int argc,
		   const char **kwn, const struct value *kwv, int kwc, struct vm_call *call,
		   struct value *out, struct vm_err *e)
{
	struct vm_proc *P = t->proc;
	const struct vm_program *prog = P->prog;
	char msg[300];
	if (bid < 0 || bid >= BI_COUNT)
		return vm_seterr(e, "TypeError", "not callable"), -1;
	if (!vm_builtin_check(bid, argc, kwn, kwc, msg, sizeof msg))
		return vm_seterr(e, "TypeError", "%s", msg), -1;
	struct value a = argc > 0 ? args[0] : vm_none();
	struct value d;
	int64_t i0 = 0, i1 = 0, i2 = 1;
	switch (bid) {
	case BI_PRINT: {
		struct value sep = vm_none(), end = vm_none();
		for (int k = 0; k < kwc; k++) {
			if (strcmp(kwn[k], "flush") == 0)
				continue;
			if (kwv[k].type != V_STR && kwv[k].type != V_NONE)
				return vm_seterr(e, "TypeError", "%s must be None or a string, not %s",
						 kwn[k], vm_type_name(kwv[k])), -1;
			if (strcmp(kwn[k], "sep") == 0)
				sep = kwv[k];
			else
				end = kwv[k];
		}
		struct sbuf b = {0};
		for (int i = 0; i < argc; i++) {
			if (i) {
				if (sep.type == V_STR)
					sb_add(&b, STR(sep)->data, STR(sep)->len);
				else
					sb_putc(&b, ' ');
			}
			vm_to_text(prog, &b, args[i], false);
		}
		/* The kernel prints whole lines: a custom end is appended, less one trailing
		 * newline (print(x, end='') prints the line "x"). */
		if (end.type == V_STR) {
			sb_add(&b, STR(end)->data, STR(end)->len);
			if (b.n && b.p[b.n - 1] == '\n')
				b.p[--b.n] = '\0';
		}
		struct value line;
		if (!sb_to_str(&b, &line, e))
			return -1;
		sys_begin(call, SYS_PRINT);
		call->argv[call->argc++] = pend(t, line);
		vunref(line);
		return 1;
	}
	case BI_RANGE:
		i0 = 0, i2 = 1;
		if (!to_index(a, argc == 1 ? &i1 : &i0, e))
			return -1;
		if (argc > 1 && !to_index(args[1], &i1, e))
			return -1;
		if (argc > 2 && !to_index(args[2], &i2, e))
			return -1;
		if (i2 == 0)
			return vm_seterr(e, "ValueError", "range() arg 3 must not be zero"), -1;
		*out = vm_range_new(i0, i1, i2);
		break;
	case BI_LEN:
		if (a.type == V_HANDLE) { /* len() of a kernel object: Array, Queue, ... */
			sys_begin(call, SYS_METHOD);
			call->self = pend(t, a);
			call->name = "__len__";
			return 1;
		}
		i0 = vm_len(a, e);
		if (i0 < 0)
			return -1;
		*out = vint(i0);
		return 0;
	case BI_STR:
	case BI_REPR: {
		struct sbuf b = {0};
		if (argc)
			vm_to_text(prog, &b, a, bid == BI_REPR);
		return sb_to_str(&b, out, e) ? 0 : -1;
	}
	case BI_INT:
		switch (a.type) {
		case V_NONE:
			if (argc)
				goto int_bad;
			*out = vint(0);
			return 0;
		case V_INT:
		case V_BOOL:
			*out = vint(a.u.i);
			return 0;
		case V_FLOAT:
			if (isnan(a.u.f))
				return vm_seterr(e, "ValueError", "cannot convert float NaN to integer"), -1;
			if (!(fabs(a.u.f) < 9.2e18))
				return vm_seterr(e, "OverflowError", "cannot convert float %s to integer",
						 isinf(a.u.f) ? "infinity" : "(too large)"), -1;
			*out = vint((int64_t)a.u.f);
			return 0;
		case V_STR:
			return parse_int(a, out, e) ? 0 : -1;
		default:
		int_bad:
			return vm_seterr(e, "TypeError", "int() argument must be a string or a real number, not '%s'",
					 vm_type_name(a)), -1;
		}
	case BI_FLOAT:
		switch (a.type) {
		case V_NONE:
			if (argc)
				goto float_bad;
			*out = vm_float(0);
			return 0;
		case V_INT:
		case V_BOOL:
			*out = vm_float((double)a.u.i);
			return 0;
		case V_FLOAT:
			*out = a;
			return 0;
		case V_STR: {
			const char *s = STR(a)->data;
			char *endp;
			errno = 0;
			double x = strtod(s, &endp);
			while (*endp && isspace((unsigned char)*endp))
				endp++;
			if (endp == s || *endp || (size_t)(endp - s) != STR(a)->len ||
			    strpbrk(s, "xXpP")) {
				struct sbuf b = {0};
				vm_to_text(prog, &b, a, true);
				vm_seterr(e, "ValueError", "could not convert string to float: %.200s",
					  b.p ? b.p : "");
				sb_free(&b);
				return -1;
			}
			*out = vm_float(x);
			return 0;
		}
		default:
		float_bad:
			return vm_seterr(e, "TypeError", "float() argument must be a string or a real number, not '%s'",
					 vm_type_name(a)), -1;
		}
	case BI_BOOL:
		*out = vm_bool(argc && vm_truthy(a));
		return 0;
	case BI_ABS:
		if (a.type == V_FLOAT) {
			*out = vm_float(fabs(a.u.f));
			return 0;
		}
		if (a.type == V_INT || a.type == V_BOOL || a.type == V_DUR) {
			if (a.u.i == INT64_MIN)
				return vm_seterr(e, "OverflowError", "integer overflow (integers are 64-bit here)"), -1;
			*out = a.type == V_DUR ? vm_dur(llabs(a.u.i)) : vint(llabs(a.u.i));
			return 0;
		}
		return vm_seterr(e, "TypeError", "bad operand type for abs(): '%s'", vm_type_name(a)), -1;
	case BI_MIN:
	case BI_MAX:
		return minmax(bid == BI_MAX, args, argc, out, e) ? 0 : -1;
	case BI_ROUND:
		return do_round(args, argc, kwn, kwv, kwc, out, e) ? 0 : -1;
	case BI_SUM:
		return do_sum(args, argc, kwv, kwc, out, e) ? 0 : -1;
	case BI_LIST:
	case BI_TUPLE:
		if (!argc) {
			*out = vm_seq_new(bid == BI_LIST ? V_LIST : V_TUPLE, 0);
			break;
		}
		if (bid == BI_TUPLE && a.type == V_TUPLE) {
			vref(a);
			*out = a;
			return 0;
		}
		if (!to_list(a, out, e))
			return -1;
		if (bid == BI_TUPLE)
			out->type = out->u.o->type = V_TUPLE;
		return 0;
	case BI_DICT:
		*out = vm_dict_new();
		if (out->type != V_DICT)
			return vm_seterr(e, "MemoryError", "out of memory"), -1;
		if (argc && !dict_update(*out, a, e)) {
			vunref(*out);
			return -1;
		}
		return 0;
	case BI_SORTED:
		if (!to_list(a, out, e))
			return -1;
		if (!sort_list(*out, kwarg_bool(kwn, kwv, kwc, "reverse"), e)) {
			vunref(*out);
			return -1;
		}
		return 0;
	case BI_ZIP: { /* a list of tuples (Python's is an iterator; lists serve every use here) */
		struct value lists[8];
		int64_t n = INT64_MAX;
		for (int k = 0; k < argc; k++) {
			if (!to_list(args[k], &lists[k], e)) {
				while (k-- > 0)
					vunref(lists[k]);
				return -1;
			}
			if (SEQ(lists[k])->n < n)
				n = SEQ(lists[k])->n;
		}
		if (argc == 0)
			n = 0;
		struct value res = vm_seq_new(V_LIST, (int)n);
		for (int64_t i = 0; i < n && res.type == V_LIST; i++) {
			struct value tup = vm_seq_new(V_TUPLE, argc);
			if (tup.type != V_TUPLE) {
				vunref(res);
				res = vm_none();
				break;
			}
			for (int k = 0; k < argc; k++) {
				SEQ(tup)->items[k] = SEQ(lists[k])->items[i];
				vref(SEQ(tup)->items[k]);
			}
			SEQ(res)->items[i] = tup;
		}
		for (int k = 0; k < argc; k++)
			vunref(lists[k]);
		if (res.type != V_LIST)
			return vm_seterr(e, "MemoryError", "out of memory"), -1;
		*out = res;
		return 0;
	}
	case BI_ENUMERATE: {
		struct value lst;
		i0 = 0;
		if (argc > 1 && !to_index(args[1], &i0, e))
			return -1;
		if (kwc && !to_index(kwv[0], &i0, e))
			return -1;
		if (!to_list(a, &lst, e))
			return -1;
		for (int i = 0; i < SEQ(lst)->n; i++) {
			struct value pair = vm_seq_new(V_TUPLE, 2);
			if (pair.type != V_TUPLE) {
				vunref(lst);
				return vm_seterr(e, "MemoryError", "out of memory"), -1;
			}
			SEQ(pair)->items[0] = vint(i0 + i);
			SEQ(pair)->items[1] = SEQ(lst)->items[i];
			SEQ(lst)->items[i] = pair;
		}
		*out = lst;
		return 0;
	}
	case BI_COMPUTE:
	case BI_COMPUTE_NOGIL:
	case BI_IO:
	case BI_SLEEP:
		if (!seconds_to_dur(vm_builtins[bid].name, a, &d, e))
			return -1;
		sys_begin(call, (enum vm_sys)vm_builtins[bid].sys);
		call->argv[call->argc++] = d;
		return 1;
	case BI_UNIFORM: {
		struct value b = args[1];
		double r = rng_double(P->rng);
		if (a.type == V_DUR && b.type == V_DUR) {
			/* a + (b - a) * r, computed in doubles as Python's uniform() does */
			*out = vm_dur(a.u.i + (int64_t)llround(((double)b.u.i - (double)a.u.i) * r));
			return 0;
		}
		if ((a.type == V_INT || a.type == V_BOOL || a.type == V_FLOAT) &&
		    (b.type == V_INT || b.type == V_BOOL || b.type == V_FLOAT)) {
			double x = a.type == V_FLOAT ? a.u.f : (double)a.u.i;
			double y = b.type == V_FLOAT ? b.u.f : (double)b.u.i;
			*out = vm_float(x + (y - x) * r);
			return 0;
		}
		return vm_seterr(e, "TypeError", "uniform() needs two numbers or two durations, not '%s' and '%s'",
				 vm_type_name(a), vm_type_name(b)), -1;
	}
	case BI_RANDOM:
		*out = vm_float(rng_double(P->rng));
		return 0;
	case BI_RANDINT:
		if (!to_index(a, &i0, e) || !to_index(args[1], &i1, e))
			return -1;
		if (i0 > i1)
			return vm_seterr(e, "ValueError", "empty range in randint(%lld, %lld)",
					 (long long)i0, (long long)i1), -1;
		*out = vint((int64_t)((uint64_t)i0 + rng_below(P->rng, (uint64_t)i1 - (uint64_t)i0 + 1)));
		return 0;
	case BI_CHOICE:
		if (argc > 1) {
			*out = args[rng_below(P->rng, (uint64_t)argc)];
			vref(*out);
			return 0;
		}
		if (!is_seq(a))
			return vm_seterr(e, "TypeError", "choice() needs a sequence or several values, not '%s'",
					 vm_type_name(a)), -1;
		i0 = vm_len(a, e);
		if (i0 == 0)
			return vm_seterr(e, "IndexError", "Cannot choose from an empty sequence"), -1;
		return vm_seq_get(a, (int64_t)rng_below(P->rng, (uint64_t)i0), out, e) ? 0 : -1;
	case BI_SYS_EXIT: { /* raises SystemExit(arg), as sys.exit does: nothing of the kernel's */
		if (!argc || a.type == V_NONE)
			return vm_seterr(e, "SystemExit", "%s", ""), -1;
		if (a.type == V_INT || a.type == V_BOOL)
			return vm_seterr(e, "SystemExit", "%lld", (long long)a.u.i), -1;
		struct sbuf b = {0};
		vm_to_text(prog, &b, a, false);
		vm_seterr(e, "SystemExit", "%.400s", b.p ? b.p : "");
		sb_free(&b);
		return -1;
	}
	case BI_SEED:
		if (argc && a.type != V_NONE && !to_index(a, &i0, e))
			return -1;
		rng_seed(P->rng, argc && a.type != V_NONE ? (uint64_t)a.u.i : 0);
		*out = vm_none();
		return 0;
	default:
		/* the remaining built-ins are system calls with their arguments as given */
		sys_args(t, call, (enum vm_sys)vm_builtins[bid].sys, args, argc, kwn, kwv, kwc);
		call->name = vm_builtins[bid].name;
		return 1;
	}
	if (out->type == V_NONE)
		return vm_seterr(e, "MemoryError", "out of memory"), -1;
	return 0;
}

/* ---- methods of lists and strings ---- */

static bool want_args(const char *type, const char *name, int argc, int lo, int hi, int kwc,
		      struct vm_err *e)
{
	if (kwc)
		return vm_seterr(e, "TypeError", "%s.%s() takes no keyword arguments", type, name);
	if (argc < lo || argc > hi) {
		if (lo == hi)
			return vm_seterr(e, "TypeError", "%s.%s() takes exactly %d argument%s (%d given)",
					 type, name, lo, lo == 1 ? "" : "s", argc);
		return vm_seterr(e, "TypeError", "%s.%s() takes %d to %d arguments (%d given)", type,
				 name, lo, hi, argc);
	}
	return true;
}

static bool list_method(struct value self, const char *name, const struct value *args, int argc,
			const char **kwn, const struct value *kwv, int kwc, struct value *out,
			struct vm_err *e)
{
	struct vseq *s = SEQ(self);
	int64_t i = 0;
	*out = vm_none();
	if (strcmp(name, "append") == 0) {
		if (!want_args("list", name, argc, 1, 1, kwc, e))
			return false;
		vref(args[0]);
		return vm_list_append(self, args[0], e);
	}
	if (strcmp(name, "pop") == 0) {
		if (!want_args("list", name, argc, 0, 1, kwc, e))
			return false;
		i = -1;
		if (argc && !to_index(args[0], &i, e))
			return false;
		if (s->n == 0)
			return vm_seterr(e, "IndexError", "pop from empty list");
		if (i < 0)
			i += s->n;
		if (i < 0 || i >= s->n)
			return vm_seterr(e, "IndexError", "pop index out of range");
		*out = s->items[i];
		memmove(s->items + i, s->items + i + 1, (size_t)(s->n - i - 1) * sizeof *s->items);
		s->n--;
		return true;
	}
	if (strcmp(name, "index") == 0 || strcmp(name, "count") == 0 ||
	    strcmp(name, "remove") == 0) {
		if (!want_args("list", name, argc, 1, 1, kwc, e))
			return false;
		int count = 0;
		for (int k = 0; k < s->n; k++) {
			if (!vm_equal(s->items[k], args[0]))
				continue;
			if (name[0] == 'i') {
				*out = vint(k);
				return true;
			}
			if (name[0] == 'r') {
				vunref(s->items[k]);
				memmove(s->items + k, s->items + k + 1,
					(size_t)(s->n - k - 1) * sizeof *s->items);
				s->n--;
				return true;
			}
			count++;
		}
		if (name[0] == 'c') {
			*out = vint(count);
			return true;
		}
		struct sbuf b = {0};
		vm_to_text(NULL, &b, args[0], true);
		vm_seterr(e, "ValueError", name[0] == 'i' ? "%.200s is not in list"
							   : "list.remove(x): x not in list",
			  b.p ? b.p : "");
		sb_free(&b);
		return false;
	}
	if (strcmp(name, "insert") == 0) {
		if (!want_args("list", name, argc, 2, 2, kwc, e) || !to_index(args[0], &i, e))
			return false;
		if (i < 0)
			i = i + s->n < 0 ? 0 : i + s->n;
		if (i > s->n)
			i = s->n;
		vref(args[1]);
		if (!vm_list_append(self, args[1], e))
			return false;
		memmove(s->items + i + 1, s->items + i, (size_t)(s->n - 1 - i) * sizeof *s->items);
		s->items[i] = args[1];
		return true;
	}
	if (strcmp(name, "extend") == 0) {
		struct value l;
		if (!want_args("list", name, argc, 1, 1, kwc, e) || !to_list(args[0], &l, e))
			return false;
		for (int k = 0; k < SEQ(l)->n; k++) {
			vref(SEQ(l)->items[k]);
			if (!vm_list_append(self, SEQ(l)->items[k], e)) {
				vunref(l);
				return false;
			}
		}
		vunref(l);
		return true;
	}
	if (strcmp(name, "reverse") == 0 || strcmp(name, "clear") == 0 ||
	    strcmp(name, "copy") == 0) {
		if (!want_args("list", name, argc, 0, 0, kwc, e))
			return false;
		if (name[0] == 'r') {
			for (int k = 0; k < s->n / 2; k++) {
				struct value tmp = s->items[k];
				s->items[k] = s->items[s->n - 1 - k];
				s->items[s->n - 1 - k] = tmp;
			}
		} else if (name[1] == 'l') {
			int n = s->n;
			s->n = 0;
			for (int k = 0; k < n; k++)
				vunref(s->items[k]);
		} else {
			return to_list(self, out, e);
		}
		return true;
	}
	if (strcmp(name, "sort") == 0) {
		for (int k = 0; k < kwc; k++)
			if (strcmp(kwn[k], "reverse") != 0)
				return vm_seterr(e, "TypeError", "sort() got an unexpected keyword argument '%s'",
						 kwn[k]);
		if (!want_args("list", name, argc, 0, 0, 0, e))
			return false;
		return sort_list(self, kwarg_bool(kwn, kwv, kwc, "reverse"), e);
	}
	return vm_seterr(e, "AttributeError", "'list' object has no attribute '%s'", name);
}

/* d.update(other): other a dict or an iterable of (key, value) pairs. */
static bool dict_update(struct value d, struct value other, struct vm_err *e)
{
	if (other.type == V_DICT) {
		const struct vdict *o = DICT(other);
		int pos = 0, i;
		while ((i = vm_dict_next(o, &pos)) >= 0)
			if (!vm_dict_set(d, o->ent[i].key, o->ent[i].val, e))
				return false;
		return true;
	}
	struct value l;
	if (!to_list(other, &l, e))
		return false;
	bool ok = true;
	for (int k = 0; k < SEQ(l)->n && ok; k++) {
		struct value pair = SEQ(l)->items[k];
		if (!is_seq(pair)) {
			ok = vm_seterr(e, "TypeError", "cannot convert dictionary update sequence "
				       "element #%d to a sequence", k);
			break;
		}
		int64_t n = vm_len(pair, e);
		if (n != 2) {
			ok = vm_seterr(e, "ValueError", "dictionary update sequence element #%d has "
				       "length %lld; 2 is required", k, (long long)n);
			break;
		}
		struct value kv[2];
		vm_seq_get(pair, 0, &kv[0], e);
		vm_seq_get(pair, 1, &kv[1], e);
		ok = vm_dict_set(d, kv[0], kv[1], e);
		vunref(kv[0]);
		vunref(kv[1]);
	}
	vunref(l);
	return ok;
}

/* KeyError(key), to throw: V_NONE when out of memory. */
static struct value key_error(struct value key)
{
	vref(key);
	struct value args = vm_tuple(1, &key);
	if (args.type != V_TUPLE)
		return args;
	return vm_exc_new(EXC_KEY, NULL, args);
}

/* A method of a dict. A missing key sets *exc to the KeyError to throw (and returns false
 * with e unset); other errors are in e. */
static bool dict_method(struct value self, const char *name, const struct value *args,
			int argc, int kwc, struct value *out, struct vm_err *e, struct value *exc)
{
	struct vdict *d = DICT(self);
	*out = vm_none();
	bool get = strcmp(name, "get") == 0, pop = strcmp(name, "pop") == 0,
	     setdefault = strcmp(name, "setdefault") == 0;
	if (get || pop || setdefault) {
		if (!want_args("dict", name, argc, 1, 2, kwc, e))
			return false;
		int i = vm_dict_find(d, args[0], e);
		if (i == -2)
			return false;
		if (i >= 0) {
			if (pop) {
				vm_dict_remove(self, i, out);
			} else {
				*out = d->ent[i].val;
				vref(*out);
			}
			return true;
		}
		if (pop && argc < 2) {
			*exc = key_error(args[0]);
			if (exc->type != V_EXC)
				vm_seterr(e, "MemoryError", "out of memory");
			return false;
		}
		*out = argc > 1 ? args[1] : vm_none();
		if (setdefault && !vm_dict_set(self, args[0], *out, e))
			return false;
		vref(*out);
		return true;
	}
	if (strcmp(name, "update") == 0) {
		if (!want_args("dict", name, argc, 0, 1, kwc, e))
			return false;
		return !argc || dict_update(self, args[0], e);
	}
	bool keys = strcmp(name, "keys") == 0, values = strcmp(name, "values") == 0,
	     items = strcmp(name, "items") == 0;
	if (keys || values || items || strcmp(name, "clear") == 0 || strcmp(name, "copy") == 0) {
		if (!want_args("dict", name, argc, 0, 0, kwc, e))
			return false;
		if (name[0] == 'c' && name[1] == 'l') {
			vm_dict_clear(self);
			return true;
		}
		if (name[0] == 'c') {
			*out = vm_dict_new();
			if (out->type != V_DICT)
				return vm_seterr(e, "MemoryError", "out of memory");
			if (!dict_update(*out, self, e)) {
				vunref(*out);
				*out = vm_none();
				return false;
			}
			return true;
		}
		if (keys)
			return to_list(self, out, e);
		*out = vm_seq_new(V_LIST, d->n);
		if (out->type != V_LIST)
			return vm_seterr(e, "MemoryError", "out of memory");
		int pos = 0, i, k = 0;
		while ((i = vm_dict_next(d, &pos)) >= 0) {
			struct value v = d->ent[i].val;
			vref(v);
			if (items) {
				struct value kv[2] = {d->ent[i].key, v};
				vref(kv[0]);
				v = vm_tuple(2, kv);
				if (v.type != V_TUPLE) {
					vunref(*out);
					*out = vm_none();
					return vm_seterr(e, "MemoryError", "out of memory");
				}
			}
			SEQ(*out)->items[k++] = v;
		}
		return true;
	}
	return vm_seterr(e, "AttributeError", "'dict' object has no attribute '%s'", name);
}

static bool is_strip_char(const struct value *args, int argc, char c)
{
	if (argc && args[0].type == V_STR)
		return memchr(STR(args[0])->data, c, STR(args[0])->len) != NULL;
	return isspace((unsigned char)c);
}

static bool str_method(const struct vm_program *prog, struct value self, const char *name,
		       const struct value *args, int argc, const char **kwn,
		       const struct value *kwv, int kwc, struct value *out, struct vm_err *e)
{
	const char *s = STR(self)->data;
	size_t n = STR(self)->len;
	if (strcmp(name, "format") == 0)
		return vm_str_format(prog, self, args, argc, kwn, kwv, kwc, out, e);
	if (strcmp(name, "upper") == 0 || strcmp(name, "lower") == 0) {
		if (!want_args("str", name, argc, 0, 0, kwc, e))
			return false;
		*out = vm_str(s, n);
		if (out->type != V_STR)
			return vm_seterr(e, "MemoryError", "out of memory");
		for (size_t i = 0; i < n; i++)
			STR(*out)->data[i] = (char)(name[0] == 'u' ? toupper((unsigned char)s[i])
								   : tolower((unsigned char)s[i]));
		return true;
	}
	if (strcmp(name, "decode") == 0 || strcmp(name, "encode") == 0) {
		/* bytes are not in the language: a str stands for them, so these are identities */
		if (!want_args("str", name, argc, 0, 2, kwc, e))
			return false;
		vref(self);
		*out = self;
		return true;
	}
	if (strcmp(name, "startswith") == 0 || strcmp(name, "endswith") == 0) {
		if (!want_args("str", name, argc, 1, 1, kwc, e))
			return false;
		if (args[0].type != V_STR)
			return vm_seterr(e, "TypeError", "%s first arg must be str, not %s", name,
					 vm_type_name(args[0]));
		size_t k = STR(args[0])->len;
		const char *p = STR(args[0])->data;
		*out = vm_bool(k <= n && memcmp(name[0] == 's' ? s : s + n - k, p, k) == 0);
		return true;
	}
	if (strcmp(name, "strip") == 0 || strcmp(name, "lstrip") == 0 ||
	    strcmp(name, "rstrip") == 0) {
		if (!want_args("str", name, argc, 0, 1, kwc, e))
			return false;
		size_t a = 0, b = n;
		if (name[0] != 'r')
			while (a < b && is_strip_char(args, argc, s[a]))
				a++;
		if (name[0] != 'l')
			while (b > a && is_strip_char(args, argc, s[b - 1]))
				b--;
		*out = vm_str(s + a, b - a);
		return out->type == V_STR || vm_seterr(e, "MemoryError", "out of memory");
	}
	if (strcmp(name, "join") == 0) {
		struct value l;
		if (!want_args("str", name, argc, 1, 1, kwc, e) || !to_list(args[0], &l, e))
			return false;
		struct sbuf b = {0};
		for (int i = 0; i < SEQ(l)->n; i++) {
			struct value it = SEQ(l)->items[i];
			if (it.type != V_STR) {
				sb_free(&b);
				vunref(l);
				return vm_seterr(e, "TypeError", "sequence item %d: expected str instance, %s found",
						 i, vm_type_name(it));
			}
			if (i)
				sb_add(&b, s, n);
			sb_add(&b, STR(it)->data, STR(it)->len);
		}
		vunref(l);
		return sb_to_str(&b, out, e);
	}
	if (strcmp(name, "split") == 0) {
		if (!want_args("str", name, argc, 0, 1, kwc, e))
			return false;
		*out = vm_seq_new(V_LIST, 0);
		if (out->type != V_LIST)
			return vm_seterr(e, "MemoryError", "out of memory");
		if (argc && args[0].type == V_STR) {
			const char *sep = STR(args[0])->data;
			size_t k = STR(args[0])->len, start = 0;
			if (!k)
				return vunref(*out), vm_seterr(e, "ValueError", "empty separator");
			for (size_t i = 0; i + k <= n;) {
				if (memcmp(s + i, sep, k) == 0) {
					if (!vm_list_append(*out, vm_str(s + start, i - start), e))
						return vunref(*out), false;
					i += k;
					start = i;
				} else {
					i++;
				}
			}
			if (!vm_list_append(*out, vm_str(s + start, n - start), e))
				return vunref(*out), false;
			return true;
		}
		size_t i = 0;
		while (i < n) {
			while (i < n && isspace((unsigned char)s[i]))
				i++;
			size_t st = i;
			while (i < n && !isspace((unsigned char)s[i]))
				i++;
			if (i > st && !vm_list_append(*out, vm_str(s + st, i - st), e))
				return vunref(*out), false;
		}
		return true;
	}
	if (strcmp(name, "replace") == 0 || strcmp(name, "find") == 0 ||
	    strcmp(name, "count") == 0) {
		int want = name[0] == 'r' ? 2 : 1;
		if (!want_args("str", name, argc, want, want, kwc, e))
			return false;
		for (int i = 0; i < want; i++)
			if (args[i].type != V_STR)
				return vm_seterr(e, "TypeError", "must be str, not %s", vm_type_name(args[i]));
		const char *old = STR(args[0])->data;
		size_t k = STR(args[0])->len;
		struct sbuf b = {0};
		long count = 0, first = -1;
		size_t i = 0;
		while (i <= n) {
			if (k == 0 ? true : (i + k <= n && memcmp(s + i, old, k) == 0)) {
				if (first < 0)
					first = (long)i;
				count++;
				if (name[0] == 'r')
					sb_add(&b, STR(args[1])->data, STR(args[1])->len);
				if (k == 0) {
					if (i < n && name[0] == 'r')
						sb_putc(&b, s[i]);
					i++;
				} else {
					i += k;
				}
			} else {
				if (i < n && name[0] == 'r')
					sb_putc(&b, s[i]);
				i++;
			}
		}
		if (name[0] == 'r')
			return sb_to_str(&b, out, e);
		sb_free(&b);
		*out = vint(name[0] == 'f' ? (first < 0 ? -1 : (int64_t)vm_utf8_count(s, (size_t)first))
					   : count);
		return true;
	}
	return vm_seterr(e, "AttributeError", "'str' object has no attribute '%s'", name);
}

/* ---- the interpreter ---- */

static void set_error(struct vm_thread *t, int line, int col, const char *msg)
{
	thread_error(t, line, col, "%s", msg);
	t->status = T_ERROR;
}

static void build_detail(struct vm_thread *t)
{
	const struct vm_program *prog = t->proc->prog;
	const struct ast_node *n = prog->expect_nodes[t->expect]->a;
	struct sbuf b = {0};
	if (n && n->kind == AST_COMPARE && t->nrec >= 2) {
		int k = t->nrec < n->items.n ? t->nrec : n->items.n;
		int link = -1;
		for (int i = 0; i + 1 < k && link < 0; i++) {
			bool ok = false;
			struct vm_err e;
			if (!vm_compare(n->cmp_ops[i], t->rec[i], t->rec[i + 1], &ok, &e) || !ok)
				link = i;
		}
		if (link >= 0) {
			vm_to_text(prog, &b, t->rec[link], true);
			sb_printf(&b, " %s ", vm_op_text(n->cmp_ops[link]));
			vm_to_text(prog, &b, t->rec[link + 1], true);
		} else {
			for (int i = 0; i < k; i++) {
				if (i)
					sb_printf(&b, " %s ", vm_op_text(n->cmp_ops[i - 1]));
				vm_to_text(prog, &b, t->rec[i], true);
			}
		}
	} else if (n && n->kind == AST_APPROX && t->nrec >= 3) {
		vm_to_text(prog, &b, t->rec[0], true);
		sb_puts(&b, " == ");
		vm_to_text(prog, &b, t->rec[1], true);
		sb_puts(&b, " +- ");
		vm_to_text(prog, &b, t->rec[2], true);
	}
	free(t->detail);
	t->detail = strdup(b.p ? b.p : "");
	sb_free(&b);
}

static bool approx(struct value a, struct value b, struct value tol, bool *res, struct vm_err *e)
{
	if (a.type == V_DUR && b.type == V_DUR && tol.type == V_DUR) {
		uint64_t d = a.u.i > b.u.i ? (uint64_t)a.u.i - (uint64_t)b.u.i
					   : (uint64_t)b.u.i - (uint64_t)a.u.i;
		*res = tol.u.i >= 0 && d <= (uint64_t)tol.u.i;
		return true;
	}
	bool na = a.type == V_INT || a.type == V_BOOL || a.type == V_FLOAT;
	bool nb = b.type == V_INT || b.type == V_BOOL || b.type == V_FLOAT;
	bool nt = tol.type == V_INT || tol.type == V_BOOL || tol.type == V_FLOAT;
	if (na && nb && nt) {
		double x = a.type == V_FLOAT ? a.u.f : (double)a.u.i;
		double y = b.type == V_FLOAT ? b.u.f : (double)b.u.i;
		double z = tol.type == V_FLOAT ? tol.u.f : (double)tol.u.i;
		*res = fabs(x - y) <= z;
		return true;
	}
	return vm_seterr(e, "TypeError", "'== +-' needs numbers or durations on all sides, not '%s', '%s' and '%s'",
			 vm_type_name(a), vm_type_name(b), vm_type_name(tol));
}

static bool index_get(struct value obj, struct value idx, struct value *out, struct vm_err *e)
{
	if (!is_seq(obj))
		return vm_seterr(e, "TypeError", "'%s' object is not subscriptable", vm_type_name(obj));
	if (idx.type != V_INT && idx.type != V_BOOL)
		return vm_seterr(e, "TypeError", "%s indices must be integers, not %s",
				 vm_type_name(obj), vm_type_name(idx));
	int64_t n = vm_len(obj, e), i = idx.u.i;
	if (i < 0)
		i += n;
	if (i < 0 || i >= n)
		return vm_seterr(e, "IndexError", "%s index out of range",
				 obj.type == V_STR ? "string" : vm_type_name(obj));
	return vm_seq_get(obj, i, out, e);
}

static bool inplace_extend(struct value list, struct value other, struct vm_err *e)
{
	struct value l;
	if (!to_list(other, &l, e))
		return false;
	for (int k = 0; k < SEQ(l)->n; k++) {
		vref(SEQ(l)->items[k]);
		if (!vm_list_append(list, SEQ(l)->items[k], e)) {
			vunref(l);
			return false;
		}
	}
	vunref(l);
	return true;
}

/* Formats one f-string field. */
static bool format_field(const struct vm_program *prog, struct value v, const struct vm_code *code,
			 int arg, struct value *out, struct vm_err *e)
{
	int conv = arg & 3, spec = (arg >> 2) - 1;
	struct sbuf b = {0};
	const char *sp = spec >= 0 ? STR(code->consts[spec])->data : NULL;
	if (conv) {
		struct value s;
		struct sbuf t = {0};
		vm_to_text(prog, &t, v, conv == 1);
		if (!sb_to_str(&t, &s, e))
			return false;
		bool ok = vm_format_spec(prog, &b, s, sp, e);
		vunref(s);
		if (!ok) {
			sb_free(&b);
			return false;
		}
	} else if (!vm_format_spec(prog, &b, v, sp, e)) {
		sb_free(&b);
		return false;
	}
	return sb_to_str(&b, out, e);
}

/* `except cls:` — cls an exception class or a tuple of them; *m: whether x is one */
static bool exc_match(const struct vexc *x, struct value cls, bool *m, struct vm_err *e)
{
	if (cls.type == V_TUPLE) {
		for (int i = 0; i < SEQ(cls)->n && !*m; i++)
			if (!exc_match(x, SEQ(cls)->items[i], m, e))
				return false;
		return true;
	}
	if (cls.type != V_EXCTYPE)
		return vm_seterr(e, "TypeError",
				 "catching classes that do not inherit from BaseException is not allowed");
	*m = vm_exc_matches(x, (int)cls.u.i);
	return true;
}

/* e.args, and an exception class's __name__; *out is V_UNBOUND for any other attribute. */
static bool exc_attr(struct value obj, const char *name, struct value *out, struct vm_err *e)
{
	out->type = V_UNBOUND;
	if (obj.type == V_EXC && strcmp(name, "args") == 0) {
		*out = EXC(obj)->args;
		vref(*out);
	} else if (obj.type == V_EXCTYPE && strcmp(name, "__name__") == 0) {
		const char *n = vm_exc_classes[obj.u.i].name, *dot = strrchr(n, '.');
		n = dot ? dot + 1 : n;
		*out = vm_str(n, strlen(n));
		if (out->type != V_STR)
			return vm_seterr(e, "MemoryError", "out of memory");
	}
	return true;
}

enum vm_status vm_run(struct vm_thread *t, struct vm_call *call, int64_t *cost)
{
	switch (t->status) {
	case T_READY:
		break;
	case T_EXIT:
		return VM_EXIT;
	case T_ERROR:
		return VM_ERROR;
	case T_RAISED:
		if (t->raised.type == V_EXC)
			break; /* thrown below, where a try block may catch it */
		/* out of memory: the error is already set */
		t->status = T_ERROR;
		return VM_ERROR;
	case T_FAILED:
		t->status = T_ERROR;
		return VM_ERROR;
	case T_WAIT:
		set_error(t, t->call_line, t->call_col,
			  "SystemError: vm_run called before the pending system call was answered");
		return VM_ERROR;
	}
	struct vm_proc *P = t->proc;
	const struct vm_program *prog = P->prog;
	struct value *globals = P->globals;
	const int64_t icost = prog->instr_cost, cost0 = *cost;
	long executed = 0;
	struct vm_err e;
	struct frame *f;
	const struct vm_code *code;
	const uint32_t *ip;
	const struct value *K;
	struct value *locals, *sp;
	int pc;

#define LOAD()                                                                                  \
	do {                                                                                    \
		f = &t->frames[t->nframes - 1];                                                 \
		code = f->code;                                                                 \
		ip = code->ins + f->pc;                                                         \
		K = code->consts;                                                               \
		locals = t->stack + f->base;                                                    \
		sp = t->stack + t->sp;                                                          \
	} while (0)
#define SAVE()                                                                                  \
	do {                                                                                    \
		f->pc = (uint32_t)(ip - code->ins);                                             \
		t->sp = (int)(sp - t->stack);                                                   \
	} while (0)
#define RAISE(...)                                                                              \
	do {                                                                                    \
		vm_seterr(&e, __VA_ARGS__);                                                     \
		goto error;                                                                     \
	} while (0)
#define SHARED_GATE()                                                                           \
	do {                                                                                    \
		if (P->shared && cost0 + (executed - 1) * icost >= t->horizon) {                \
			ip--;                                                                   \
			executed--;                                                             \
			t->at_breaker = every; /* mid-statement unless every instruction checks */ \
			goto yield;                                                             \
		}                                                                               \
	} while (0)

	/* the eval breaker: with a GIL, the thread stops at a check point once its cost has
	 * reached the horizon, so a drop request set meanwhile is seen where CPython sees it */
	const bool every = P->breaker == 1, calls = P->breaker == 2;
#define BREAKER_DUE() (cost0 + (executed - 1) * icost >= t->horizon)
	struct value x = vm_none(); /* the exception being thrown */
	LOAD();
	if (t->status == T_RAISED) {
		t->status = T_READY;
		x = t->raised;
		t->raised = vm_none();
		goto throw;
	}
interpret:
	for (;;) {
		uint32_t w = *ip++;
		int32_t arg = INS_ARG(w);
		executed++;
		if (every && executed > 1 && BREAKER_DUE()) {
			ip--;
			executed--;
			t->at_breaker = true;
			goto yield;
		}
		switch ((enum vm_opcode)INS_OP(w)) {
		case OP_NOP:
			break;
		case OP_INT:
			*sp++ = vint(arg);
			break;
		case OP_CONST:
			*sp = K[arg];
			vref(*sp++);
			break;
		case OP_LOAD_LOCAL:
			*sp = locals[arg];
			if (sp->type == V_UNBOUND)
				RAISE("UnboundLocalError",
				      "cannot access local variable '%s' where it is not associated with a value",
				      code->localnames[arg]);
			vref(*sp++);
			break;
		case OP_STORE_LOCAL: {
			struct value old = locals[arg];
			locals[arg] = *--sp;
			vunref(old);
			break;
		}
		case OP_LOAD_GLOBAL:
			SHARED_GATE();
			if (P->access)
				P->access(P->access_ctx, t->user, arg, prog->gnames[arg], false,
					  code->line[ip - code->ins - 1]);
			/* fall through */
		case OP_LOAD_FIXED:
			*sp = globals[arg];
			if (sp->type == V_UNBOUND)
				RAISE("NameError", "name '%s' is not defined", prog->gnames[arg]);
			vref(*sp++);
			break;
		case OP_STORE_GLOBAL: {
			SHARED_GATE();
			if (P->access)
				P->access(P->access_ctx, t->user, arg, prog->gnames[arg], true,
					  code->line[ip - code->ins - 1]);
			struct value old = globals[arg];
			globals[arg] = *--sp;
			vunref(old);
			break;
		}
		case OP_POP:
			vunref(*--sp);
			break;
		case OP_POPN:
			for (int i = 0; i < arg; i++)
				vunref(*--sp);
			break;
		case OP_DUP:
			*sp = sp[-1];
			vref(*sp++);
			break;
		case OP_PICK:
			*sp = sp[-arg];
			vref(*sp++);
			break;
		case OP_DUP2:
			sp[0] = sp[-2];
			sp[1] = sp[-1];
			vref(sp[0]);
			vref(sp[1]);
			sp += 2;
			break;
		case OP_ROT2: {
			struct value tmp = sp[-1];
			sp[-1] = sp[-2];
			sp[-2] = tmp;
			break;
		}
		case OP_ROT3: {
			struct value tmp = sp[-1];
			sp[-1] = sp[-2];
			sp[-2] = sp[-3];
			sp[-3] = tmp;
			break;
		}
		case OP_ADD:
			if (sp[-2].type == V_INT && sp[-1].type == V_INT) {
				if (__builtin_add_overflow(sp[-2].u.i, sp[-1].u.i, &sp[-2].u.i))
					RAISE("OverflowError", "integer overflow (integers are 64-bit here)");
				sp--;
				break;
			}
			arg = '+';
			goto binop;
		case OP_SUB:
			if (sp[-2].type == V_INT && sp[-1].type == V_INT) {
				if (__builtin_sub_overflow(sp[-2].u.i, sp[-1].u.i, &sp[-2].u.i))
					RAISE("OverflowError", "integer overflow (integers are 64-bit here)");
				sp--;
				break;
			}
			arg = '-';
			goto binop;
		case OP_MUL:
			arg = '*';
			goto binop;
		case OP_INPLACE_ADD:
			if (sp[-2].type == V_LIST) {
				if (!inplace_extend(sp[-2], sp[-1], &e))
					goto error;
				vunref(*--sp);
				break;
			}
			arg = '+';
			goto binop;
		case OP_BINOP:
		binop: {
			struct value r;
			bool ok = arg == '%' && sp[-2].type == V_STR
					  ? vm_percent_format(prog, sp[-2], sp[-1], &r, &e)
					  : vm_binop(arg, sp[-2], sp[-1], &r, &e);
			if (!ok)
				goto error;
			vunref(sp[-1]);
			vunref(sp[-2]);
			sp--;
			sp[-1] = r;
			break;
		}
#define INT_CMP(OPC, OPER, TOK)                                                                 \
	case OPC:                                                                               \
		if (sp[-2].type == V_INT && sp[-1].type == V_INT) {                             \
			sp[-2] = vm_bool(sp[-2].u.i OPER sp[-1].u.i);                           \
			sp--;                                                                   \
			break;                                                                  \
		}                                                                               \
		arg = TOK;                                                                      \
		goto cmp;
		INT_CMP(OP_LT, <, '<')
		INT_CMP(OP_LE, <=, TOK_LE)
		INT_CMP(OP_GT, >, '>')
		INT_CMP(OP_GE, >=, TOK_GE)
		INT_CMP(OP_EQ, ==, TOK_EQ)
		INT_CMP(OP_NE, !=, TOK_NE)
#undef INT_CMP
		case OP_CMP:
		cmp: {
			bool r;
			if (!vm_compare(arg, sp[-2], sp[-1], &r, &e))
				goto error;
			vunref(sp[-1]);
			vunref(sp[-2]);
			sp--;
			sp[-1] = vm_bool(r);
			break;
		}
		case OP_UNARY: {
			struct value r;
			if (!vm_unop(arg, sp[-1], &r, &e))
				goto error;
			vunref(sp[-1]);
			sp[-1] = r;
			break;
		}
		case OP_JUMP:
			ip = code->ins + arg;
			break;
		case OP_LOOP:
			ip = code->ins + arg;
			if (executed >= VM_SLICE || (calls && BREAKER_DUE())) {
				t->at_breaker = true;
				goto yield;
			}
			break;
		case OP_JUMP_IF_FALSE:
		case OP_JUMP_IF_TRUE: {
			struct value v = *--sp;
			bool b = v.type == V_BOOL ? v.u.i != 0 : vm_truthy(v);
			vunref(v);
			if (b == (INS_OP(w) == OP_JUMP_IF_TRUE))
				ip = code->ins + arg;
			break;
		}
		case OP_JUMP_IF_FALSE_OR_POP:
		case OP_JUMP_IF_TRUE_OR_POP:
			if (vm_truthy(sp[-1]) == (INS_OP(w) == OP_JUMP_IF_TRUE_OR_POP))
				ip = code->ins + arg;
			else
				vunref(*--sp);
			break;
		case OP_GET_ITER:
			if (!is_seq(sp[-1]) && sp[-1].type != V_DICT)
				RAISE("TypeError", "'%s' object is not iterable", vm_type_name(sp[-1]));
			{
				struct value st = vint(sp[-1].type == V_RANGE ? RNG(sp[-1])->start : 0);
				if (sp[-1].type == V_DICT) /* its size, to notice a change */
					st.aux = DICT(sp[-1])->n;
				*sp++ = st;
			}
			break;
		case OP_FOR_ITER: {
			struct value it = sp[-2];
			int64_t st = sp[-1].u.i;
			bool more;
			switch (it.type) {
			case V_RANGE: {
				const struct vrange *r = RNG(it);
				more = r->step > 0 ? st < r->stop : st > r->stop;
				if (more) {
					*sp++ = vint(st);
					if (__builtin_add_overflow(st, r->step, &sp[-2].u.i))
						sp[-2].u.i = r->stop;
				}
				break;
			}
			case V_STR: {
				const struct vstr *s = STR(it);
				more = (size_t)st < s->len;
				if (more) {
					size_t l = 1;
					while ((size_t)st + l < s->len &&
					       ((unsigned char)s->data[st + l] & 0xc0) == 0x80)
						l++;
					*sp = vm_str(s->data + st, l);
					if (sp->type != V_STR)
						RAISE("MemoryError", "out of memory");
					sp++;
					sp[-2].u.i = st + (int64_t)l;
				}
				break;
			}
			case V_DICT: {
				const struct vdict *d = DICT(it);
				if (d->n != sp[-1].aux)
					RAISE("RuntimeError", "dictionary changed size during iteration");
				int pos = (int)st, i = vm_dict_next(d, &pos);
				more = i >= 0;
				if (more) {
					*sp = d->ent[i].key;
					vref(*sp++);
					sp[-2].u.i = pos;
				}
				break;
			}
			default:
				more = st < SEQ(it)->n;
				if (more) {
					*sp = SEQ(it)->items[st];
					vref(*sp++);
					sp[-2].u.i = st + 1;
				}
				break;
			}
			if (!more) {
				sp -= 2;
				vunref(it);
				ip = code->ins + arg;
			}
			break;
		}
		case OP_BUILD_LIST:
		case OP_BUILD_TUPLE: {
			struct value s = vm_seq_new(INS_OP(w) == OP_BUILD_LIST ? V_LIST : V_TUPLE, arg);
			if (s.type == V_NONE)
				RAISE("MemoryError", "out of memory");
			sp -= arg;
			if (arg)
				memcpy(SEQ(s)->items, sp, (size_t)arg * sizeof *sp);
			*sp++ = s;
			break;
		}
		case OP_BUILD_DICT: {
			struct value d = vm_dict_new();
			if (d.type != V_DICT)
				RAISE("MemoryError", "out of memory");
			for (int i = 2 * arg; i > 0; i -= 2)
				if (!vm_dict_set(d, sp[-i], sp[-i + 1], &e)) {
					vunref(d); /* the pairs stay on the stack, released as it unwinds */
					goto error;
				}
			for (int i = 0; i < 2 * arg; i++)
				vunref(*--sp);
			*sp++ = d;
			break;
		}
		case OP_BUILD_STR: {
			size_t len = 0;
			for (int i = 1; i <= arg; i++)
				len += STR(sp[-i])->len;
			struct value s = vm_str_new(len);
			if (s.type != V_STR)
				RAISE("MemoryError", "string larger than %zu MiB", VM_OBJ_LIMIT >> 20);
			char *p = STR(s)->data;
			sp -= arg;
			for (int i = 0; i < arg; i++) {
				memcpy(p, STR(sp[i])->data, STR(sp[i])->len);
				p += STR(sp[i])->len;
				vunref(sp[i]);
			}
			*sp++ = s;
			break;
		}
		case OP_UNPACK: {
			struct value v = sp[-1];
			if (!is_seq(v))
				RAISE("TypeError", "cannot unpack non-iterable %s object", vm_type_name(v));
			int64_t n = vm_len(v, &e);
			if (n != arg) {
				if (n > arg)
					RAISE("ValueError", "too many values to unpack (expected %d)", arg);
				RAISE("ValueError", "not enough values to unpack (expected %d, got %lld)",
				      arg, (long long)n);
			}
			sp--;
			for (int i = arg - 1; i >= 0; i--) {
				if (!vm_seq_get(v, i, sp, &e)) { /* the items so far stay on the stack */
					vunref(v);
					goto error;
				}
				sp++;
			}
			vunref(v);
			break;
		}
		case OP_INDEX: {
			if (sp[-2].type == V_HANDLE) { /* a kernel object: Array, ... */
				sys_begin(call, SYS_METHOD);
				call->self = pend(t, sp[-2]);
				call->name = "__getitem__";
				call->argv[call->argc++] = pend(t, sp[-1]);
				vunref(*--sp);
				vunref(*--sp);
				goto syscall;
			}
			struct value r;
			if (sp[-2].type == V_DICT) {
				int i = vm_dict_find(DICT(sp[-2]), sp[-1], &e);
				if (i == -2)
					goto error;
				if (i == -1) {
					x = key_error(sp[-1]);
					if (x.type != V_EXC)
						RAISE("MemoryError", "out of memory");
					goto throw;
				}
				r = DICT(sp[-2])->ent[i].val;
				vref(r);
			} else if (!index_get(sp[-2], sp[-1], &r, &e)) {
				goto error;
			}
			vunref(sp[-1]);
			vunref(sp[-2]);
			sp--;
			sp[-1] = r;
			break;
		}
		case OP_SLICE: {
			struct value obj = sp[-4];
			if (obj.type == V_HANDLE) { /* Array[:] and friends */
				sys_begin(call, SYS_METHOD);
				call->self = pend(t, obj);
				call->name = "__getitem__";
				for (int i = 3; i >= 1; i--)
					call->argv[call->argc++] = pend(t, sp[-i]);
				for (int i = 0; i < 4; i++)
					vunref(*--sp);
				goto syscall;
			}
			struct value r;
			if (!vm_slice(obj, sp[-3], sp[-2], sp[-1], &r, &e))
				goto error;
			for (int i = 0; i < 4; i++)
				vunref(*--sp);
			*sp++ = r;
			break;
		}
		case OP_STORE_INDEX: {
			struct value obj = sp[-2], idx = sp[-1];
			if (obj.type == V_HANDLE) {
				sys_begin(call, SYS_METHOD);
				call->self = pend(t, obj);
				call->name = "__setitem__";
				call->argv[call->argc++] = pend(t, idx);
				call->argv[call->argc++] = pend(t, sp[-3]);
				vunref(*--sp);
				vunref(*--sp);
				vunref(*--sp);
				t->discard = true;
				goto syscall;
			}
			if (obj.type == V_DICT) {
				if (!vm_dict_set(obj, idx, sp[-3], &e))
					goto error;
				for (int i = 0; i < 3; i++)
					vunref(*--sp);
				break;
			}
			if (obj.type != V_LIST) {
				if (is_seq(obj))
					RAISE("TypeError", "'%s' object does not support item assignment",
					      vm_type_name(obj));
				RAISE("TypeError", "'%s' object is not subscriptable", vm_type_name(obj));
			}
			if (idx.type != V_INT && idx.type != V_BOOL)
				RAISE("TypeError", "list indices must be integers, not %s",
				      vm_type_name(idx));
			int64_t i = idx.u.i, n = SEQ(obj)->n;
			if (i < 0)
				i += n;
			if (i < 0 || i >= n)
				RAISE("IndexError", "list assignment index out of range");
			struct value old = SEQ(obj)->items[i];
			SEQ(obj)->items[i] = sp[-3];
			vunref(old);
			vunref(obj);
			sp -= 3;
			break;
		}
		case OP_GETATTR: {
			const char *name = STR(K[arg])->data;
			struct value obj = sp[-1];
			if (obj.type == V_HANDLE) {
				sys_begin(call, SYS_GETATTR);
				call->self = pend(t, obj);
				call->name = name;
				vunref(*--sp);
				goto syscall;
			}
			struct value r;
			if (obj.type == V_MODULE && vm_module_attr((int)obj.u.i, name, &r)) {
				sp[-1] = r;
				break;
			}
			if (obj.type == V_MODULE)
				RAISE("AttributeError", "%s.%s is not part of the scenario language yet",
				      vm_module_names[obj.u.i], name);
			if (obj.type == V_BUILTIN && vm_class_attr((int)obj.u.i, name, &r)) {
				sp[-1] = r;
				break;
			}
			if (!exc_attr(obj, name, &r, &e))
				goto error;
			if (r.type != V_UNBOUND) {
				vunref(sp[-1]);
				sp[-1] = r;
				break;
			}
			RAISE("AttributeError", "'%s' object has no attribute '%s'", vm_type_name(obj),
			      name);
		}
		case OP_SETATTR: {
			const char *name = STR(K[arg])->data;
			struct value obj = sp[-1];
			if (obj.type != V_HANDLE)
				RAISE("AttributeError", "'%s' object has no attribute '%s'",
				      vm_type_name(obj), name);
			sys_begin(call, SYS_SETATTR);
			call->self = pend(t, obj);
			call->name = name;
			call->argv[call->argc++] = pend(t, sp[-2]);
			vunref(*--sp);
			vunref(*--sp);
			t->discard = true;
			goto syscall;
		}
		case OP_CALL: {
			const struct vm_callsite *cs = &code->cs[arg];
			int na = cs->argc + cs->kwc;
			struct value *fs = sp - na - 1;
			if (fs->type == V_FUNC) {
				const int64_t fidx = fs->u.i; /* fs dangles once the stack grows */
				const struct vm_func *fn = &prog->funcs[fidx];
				const struct vm_code *fc = fn->code;
				char msg[300];
				if (t->nframes >= VM_MAX_DEPTH)
					RAISE("RecursionError", "maximum recursion depth exceeded");
				if ((cs->kwc || cs->argc != fn->nparams) &&
				    !vm_func_check(fn->name, fn->nparams, fn->params, fn->ndefaults,
						   cs->argc, cs->kwnames, cs->kwc, msg, sizeof msg))
					RAISE("TypeError", "%s", msg);
				int base = (int)(fs - t->stack) + 1;
				int nslots = fc->nlocals > na ? fc->nlocals : na;
				SAVE();
				if (!ensure_stack(t, base + nslots + fc->maxstack + 8) ||
				    !push_frame(t, fc, base)) {
					LOAD();
					RAISE("MemoryError", "out of memory");
				}
				struct value *slots = t->stack + base;
				struct value kw[VM_MAX_ARGS];
				memcpy(kw, slots + cs->argc, (size_t)cs->kwc * sizeof *kw);
				for (int i = cs->argc; i < nslots; i++)
					slots[i] = unbound();
				for (int k = 0; k < cs->kwc; k++) {
					int p = 0;
					while (strcmp(fn->params[p], cs->kwnames[k]) != 0)
						p++;
					slots[p] = kw[k];
				}
				const struct value *defs = P->defaults[fidx];
				int firstdef = fn->nparams - fn->ndefaults;
				for (int p = firstdef; p < fn->nparams && defs; p++)
					if (slots[p].type == V_UNBOUND) {
						slots[p] = defs[p - firstdef];
						vref(slots[p]);
					}
				t->sp = base + fc->nlocals;
				LOAD();
				if (executed >= VM_SLICE || (calls && BREAKER_DUE())) {
					t->at_breaker = true;
					goto yield;
				}
				break;
			}
			if (fs->type == V_BUILTIN) {
				struct value r;
				int rc = builtin(t, (int)fs->u.i, fs + 1, cs->argc, cs->kwnames,
						 fs + 1 + cs->argc, cs->kwc, call, &r, &e);
				if (rc < 0)
					goto error;
				while (sp > fs)
					vunref(*--sp);
				if (rc > 0)
					goto syscall;
				*sp++ = r;
				break;
			}
			if (fs->type == V_EXCTYPE) { /* ValueError('x'): an exception, not raised yet */
				if (cs->kwc)
					RAISE("TypeError", "%s() takes no keyword arguments",
					      vm_exc_classes[fs->u.i].name);
				struct value args = vm_seq_new(V_TUPLE, cs->argc);
				if (args.type != V_TUPLE)
					RAISE("MemoryError", "out of memory");
				sp -= cs->argc;
				memcpy(SEQ(args)->items, sp, (size_t)cs->argc * sizeof *sp);
				struct value r = vm_exc_new((int)fs->u.i, NULL, args);
				if (r.type != V_EXC)
					RAISE("MemoryError", "out of memory");
				sp[-1] = r; /* the class was not a reference */
				break;
			}
			RAISE("TypeError", "'%s' object is not callable", vm_type_name(*fs));
		}
		case OP_CALL_BUILTIN: {
			const struct vm_callsite *cs = &code->cs[arg];
			struct value *as = sp - cs->argc - cs->kwc, r;
			int rc = builtin(t, cs->builtin, as, cs->argc, cs->kwnames, as + cs->argc,
					 cs->kwc, call, &r, &e);
			if (rc < 0)
				goto error;
			if (rc > 0)
				call->target = cs->target;
			while (sp > as)
				vunref(*--sp);
			if (rc > 0)
				goto syscall;
			*sp++ = r;
			break;
		}
		case OP_CALL_METHOD: {
			const struct vm_callsite *cs = &code->cs[arg];
			struct value *os = sp - cs->argc - cs->kwc - 1, r;
			struct value obj = *os, *as = os + 1, *kv = as + cs->argc;
			int rc = 0;
			bool ok = true;
			switch (obj.type) {
			case V_HANDLE:
				rc = sys_args(t, call, SYS_METHOD, as, cs->argc, cs->kwnames, kv, cs->kwc);
				call->self = pend(t, obj);
				call->name = cs->name;
				break;
			case V_LIST:
				ok = list_method(obj, cs->name, as, cs->argc, cs->kwnames, kv, cs->kwc, &r, &e);
				break;
			case V_DICT:
				x = vm_none();
				ok = dict_method(obj, cs->name, as, cs->argc, cs->kwc, &r, &e, &x);
				if (!ok && x.type == V_EXC)
					goto throw;
				break;
			case V_STR:
				ok = str_method(prog, obj, cs->name, as, cs->argc, cs->kwnames, kv, cs->kwc,
						&r, &e);
				break;
			case V_MODULE:
				if (!vm_module_attr((int)obj.u.i, cs->name, &r))
					RAISE("AttributeError", "%s.%s is not part of the scenario language yet",
					      vm_module_names[obj.u.i], cs->name);
				if (r.type != V_BUILTIN)
					RAISE("TypeError", "'%s' object is not callable", vm_type_name(r));
				rc = builtin(t, (int)r.u.i, as, cs->argc, cs->kwnames, kv, cs->kwc, call, &r, &e);
				ok = rc >= 0;
				break;
			case V_BUILTIN: /* QueueManager.register(...) */
				if (!vm_class_attr((int)obj.u.i, cs->name, &r))
					RAISE("AttributeError", "'%s' object has no attribute '%s'",
					      vm_type_name(obj), cs->name);
				rc = builtin(t, (int)r.u.i, as, cs->argc, cs->kwnames, kv, cs->kwc, call, &r, &e);
				ok = rc >= 0;
				break;
			default:
				RAISE("AttributeError", "'%s' object has no attribute '%s'",
				      vm_type_name(obj), cs->name);
			}
			if (!ok)
				goto error;
			while (sp > os)
				vunref(*--sp);
			if (rc > 0)
				goto syscall;
			*sp++ = r;
			break;
		}
		case OP_QUERY: {
			const struct vm_callsite *cs = &code->cs[arg];
			struct value *as = sp - cs->argc - cs->kwc;
			sys_args(t, call, SYS_QUERY, as, cs->argc, cs->kwnames, as + cs->argc, cs->kwc);
			call->name = cs->name;
			while (sp > as)
				vunref(*--sp);
			goto syscall;
		}
		case OP_SYSCALL:
			sys_begin(call, (enum vm_sys)arg);
			goto syscall;
		case OP_AWAIT: {
			struct value aw = sp[-1];
			if (aw.type == V_HANDLE) { /* a Task or Future: the event loop answers */
				sys_begin(call, SYS_AWAIT);
				call->argv[call->argc++] = pend(t, aw);
				vunref(*--sp);
				goto syscall;
			}
			if (aw.type != V_CORO)
				RAISE("TypeError", "object %s can't be used in 'await' expression",
				      vm_type_name(aw));
			/* a coroutine runs here, as a call would: its frame returns its result in
			 * the coroutine's stack slot */
			struct vcoro *co = (struct vcoro *)aw.u.o;
			if (co->started)
				RAISE("RuntimeError", "cannot reuse already awaited coroutine");
			if (t->nframes >= VM_MAX_DEPTH)
				RAISE("RecursionError", "maximum recursion depth exceeded");
			const struct vm_code *fc = prog->funcs[co->func].code;
			int base = (int)(sp - t->stack);
			int nslots = fc->nlocals > co->nargs ? fc->nlocals : co->nargs;
			SAVE();
			if (!ensure_stack(t, base + nslots + fc->maxstack + 8) ||
			    !push_frame(t, fc, base)) {
				LOAD();
				RAISE("MemoryError", "out of memory");
			}
			co->started = true;
			t->frames[t->nframes - 1].pc = 1; /* past its OP_CORO */
			for (int i = 0; i < nslots; i++) {
				t->stack[base + i] = i < co->nargs ? co->args[i] : unbound();
				vref(t->stack[base + i]);
			}
			t->sp = base + nslots;
			LOAD();
			break;
		}
		case OP_CORO: {
			/* calling an async def: keep the bound arguments, return without running */
			const struct vm_func *fn = &prog->funcs[arg];
			struct vcoro *co = malloc(sizeof *co + (size_t)fn->nparams * sizeof co->args[0]);
			if (!co)
				RAISE("MemoryError", "out of memory");
			co->h.refs = 1;
			co->h.type = V_CORO;
			co->func = arg;
			co->name = fn->name;
			co->started = false;
			co->nargs = fn->nparams;
			for (int i = 0; i < fn->nparams; i++) {
				co->args[i] = locals[i];
				vref(co->args[i]);
			}
			struct value cv = {.type = V_CORO};
			cv.u.o = &co->h;
			*sp++ = cv;
		}
			/* fall through */
		case OP_RETURN: {
			struct value r = *--sp;
			if (t->nframes == 1) {
				while (sp > t->stack)
					vunref(*--sp);
				SAVE();
				vunref(t->result);
				t->result = r;
				t->status = T_EXIT;
				if (t->expect >= 0)
					build_detail(t);
				*cost = cost0 + executed * icost;
	t->instructions += (uint64_t)executed;
				return VM_EXIT;
			}
			struct value *bottom = t->stack + f->base - 1;
			while (t->nblocks && t->blocks[t->nblocks - 1].frame >= t->nframes - 1)
				vunref(t->blocks[--t->nblocks].exc); /* none, as compiled: defensive */
			while (sp > bottom)
				vunref(*--sp);
			*sp++ = r;
			t->sp = (int)(sp - t->stack);
			t->nframes--;
			LOAD();
			break;
		}
		case OP_MAKE_FUNC: {
			int nd = prog->funcs[arg].ndefaults;
			struct value *defs = NULL;
			if (nd) {
				defs = malloc((size_t)nd * sizeof *defs);
				if (!defs)
					RAISE("MemoryError", "out of memory");
				sp -= nd;
				memcpy(defs, sp, (size_t)nd * sizeof *defs);
			}
			struct value *old = P->defaults[arg];
			P->defaults[arg] = defs;
			if (old) {
				for (int i = 0; i < nd; i++)
					vunref(old[i]);
				free(old);
			}
			struct value fv = {.type = V_FUNC};
			fv.u.i = arg;
			*sp++ = fv;
			break;
		}
		case OP_FORMAT: {
			struct value r;
			if (!format_field(prog, sp[-1], code, arg, &r, &e))
				goto error;
			vunref(sp[-1]);
			sp[-1] = r;
			break;
		}
		case OP_RECORD:
			if (arg < VM_RECORDS) {
				if (arg < t->nrec)
					vunref(t->rec[arg]);
				else
					for (int i = t->nrec; i < arg; i++)
						t->rec[i] = vm_none();
				t->rec[arg] = sp[-1];
				vref(t->rec[arg]);
				if (arg >= t->nrec)
					t->nrec = arg + 1;
			}
			break;
		case OP_APPROX: {
			bool r = false;
			if (!approx(sp[-3], sp[-2], sp[-1], &r, &e))
				goto error;
			for (int i = 0; i < 3; i++)
				vunref(*--sp);
			*sp++ = vm_bool(r);
			break;
		}
		case OP_SETUP_TRY:
		case OP_BEGIN_EXCEPT: {
			if (t->nblocks == t->cblocks) {
				int nc = t->cblocks ? t->cblocks * 2 : 4;
				struct block *nb = realloc(t->blocks, (size_t)nc * sizeof *nb);
				if (!nb)
					RAISE("MemoryError", "out of memory");
				t->blocks = nb;
				t->cblocks = nc;
			}
			struct block *b = &t->blocks[t->nblocks++];
			b->frame = t->nframes - 1;
			b->handler = (uint32_t)arg;
			b->exc = INS_OP(w) == OP_BEGIN_EXCEPT ? *--sp : vm_none();
			b->sp = (int)(sp - t->stack);
			break;
		}
		case OP_POP_BLOCK:
		case OP_POP_EXCEPT:
			vunref(t->blocks[--t->nblocks].exc);
			break;
		case OP_END_FINALLY:
			x = t->blocks[--t->nblocks].exc;
			goto throw;
		case OP_RERAISE:
			x = *--sp;
			goto throw;
		case OP_EXC_MATCH: {
			bool m = false;
			if (!exc_match(EXC(sp[-2]), sp[-1], &m, &e))
				goto error;
			vunref(sp[-1]);
			sp[-1] = vm_bool(m);
			break;
		}
		case OP_RAISE:
			if (arg == 0) { /* bare raise: the exception being handled, in any frame */
				int i = t->nblocks - 1;
				while (i >= 0 && t->blocks[i].exc.type == V_NONE)
					i--;
				if (i < 0)
					RAISE("RuntimeError", "No active exception to reraise");
				x = t->blocks[i].exc;
				vref(x);
				goto throw;
			}
			if (arg == 2) { /* raise x from cause: the cause is checked, not kept */
				struct value cause = sp[-1];
				if (cause.type != V_NONE && cause.type != V_EXC && cause.type != V_EXCTYPE)
					RAISE("TypeError", "exception causes must derive from BaseException");
				vunref(*--sp);
			}
			if (sp[-1].type == V_EXCTYPE) {
				x = vm_exc_new((int)sp[-1].u.i, NULL, vm_seq_new(V_TUPLE, 0));
				if (x.type != V_EXC)
					RAISE("MemoryError", "out of memory");
				sp--;
				goto throw;
			}
			if (sp[-1].type != V_EXC)
				RAISE("TypeError", "exceptions must derive from BaseException");
			x = *--sp;
			goto throw;
		default:
			RAISE("SystemError", "bad instruction %u", (unsigned)INS_OP(w));
		}
	}

syscall:
	SAVE();
	pc = (int)f->pc - 1;
	call->line = t->call_line = code->line[pc];
	call->col = t->call_col = code->col[pc];
	t->status = T_WAIT;
	*cost = cost0 + executed * icost;
	t->instructions += (uint64_t)executed;
	return VM_SYSCALL;

yield:
	SAVE();
	*cost = cost0 + executed * icost;
	t->instructions += (uint64_t)executed;
	return VM_YIELD;

error:
	/* an error of the VM's own (vm_seterr's "Type: message") becomes an exception here */
	SAVE();
	pc = (int)f->pc - 1;
	x = vm_exc_from_text(e.msg);
	if (x.type != V_EXC) { /* out of memory: it cannot be caught */
		set_error(t, code->line[pc], code->col[pc], e.msg);
		goto failed;
	}
	EXC(x)->line = code->line[pc];
	EXC(x)->col = code->col[pc];

throw:
	/* x (a reference) unwinds blocks and frames to the innermost try block, whose handler
	 * runs with x pushed; without one the thread ends with it */
	SAVE();
	if (!EXC(x)->line) {
		pc = (int)f->pc - 1;
		EXC(x)->line = code->line[pc < 0 ? 0 : pc];
		EXC(x)->col = code->col[pc < 0 ? 0 : pc];
	}
	for (;;) {
		int fi = t->nframes - 1;
		if (t->nblocks && t->blocks[t->nblocks - 1].frame == fi) {
			struct block *b = &t->blocks[--t->nblocks];
			if (b->exc.type != V_NONE) { /* the handler it was in is over */
				vunref(b->exc);
				continue;
			}
			while (t->sp > b->sp)
				vunref(t->stack[--t->sp]);
			t->stack[t->sp++] = x;
			t->frames[fi].pc = b->handler;
			LOAD();
			goto interpret;
		}
		if (fi == 0)
			break;
		while (t->sp > t->frames[fi].base - 1) /* the callee's slot too, as a return */
			vunref(t->stack[--t->sp]);
		t->nframes--;
	}
	{
		struct sbuf b = {0};
		vm_exc_text(prog, EXC(x), &b);
		set_error(t, EXC(x)->line, EXC(x)->col, b.p ? b.p : "MemoryError: out of memory");
		sb_free(&b);
		vunref(x);
	}
failed:
	*cost = cost0 + executed * icost;
	t->instructions += (uint64_t)executed;
	return VM_ERROR;
#undef LOAD
#undef SAVE
#undef BREAKER_DUE
#undef RAISE
#undef SHARED_GATE
}

bool vm_system_exit(const struct diag *d, int *code, const char **text)
{
	const char *msg = d->msg;
	if (strncmp(msg, "SystemExit", 10) != 0 || (msg[10] && msg[10] != ':'))
		return false;
	const char *arg = msg[10] ? msg + 12 : "";
	char *end;
	long long n = strtoll(arg, &end, 10);
	*code = !arg[0] ? 0 : *end ? 1 : (int)(n & 0xff);
	*text = arg[0] && *end ? arg : "";
	return true;
}

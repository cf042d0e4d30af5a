/* vm.h — the scenario language's compiler and bytecode interpreter.
 *
 * The VM runs one thread's code until the thread needs the kernel: a system call (compute,
 * sleep, print, fork, start, join, ...), the end of the thread, a run-time error, or a point
 * where time must pass before it may go on (VM_YIELD). It knows nothing of time, cores or
 * scheduling: the kernel (kernel.c) or the expectation checker answers its calls. The real
 * runner drives the same VM. Pure computation (arithmetic, strings, lists, random numbers from
 * the process's own stream) happens inside the VM, and every instruction adds the machine's
 * per-instruction cost to the caller's cost counter, which the kernel burns as CPU time.
 *
 * Memory: values are reference counted. A `struct value` handed to the kernel in a vm_call is
 * borrowed (valid until the next vm_run, vm_return or vm_raise on that thread); take a
 * reference with vm_ref to keep it. Values given to the VM (vm_return, argument arrays) are
 * given with their reference: the VM owns them afterwards. */
#ifndef TIMESLICE_VM_H
#define TIMESLICE_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

enum vtype {
	V_NONE,
	V_BOOL,    /* u.i = 0 or 1 */
	V_INT,     /* u.i */
	V_FLOAT,   /* u.f */
	V_DUR,     /* u.i = nanoseconds */
	V_STR,     /* u.o */
	V_TUPLE,   /* u.o */
	V_LIST,    /* u.o (mutable; deep-copied by vm_proc_fork) */
	V_FUNC,    /* u.i = function index in the program */
	V_BUILTIN, /* u.i = builtin index (see vm_builtin_name) */
	V_MODULE,  /* u.i = module index (os, time, random, multiprocessing, threading, sys) */
	V_HANDLE,  /* a kernel object: u.i = the kernel's id, aux = enum vm_handle_kind */
};

enum vm_handle_kind {
	H_PROCESS = 1, /* multiprocessing.Process, or the current process */
	H_THREAD,      /* threading.Thread, or current_thread() */
	H_LOCK,        /* threading.Lock, multiprocessing.Lock */
	H_RLOCK,       /* RLock */
	H_SEMAPHORE,   /* Semaphore, BoundedSemaphore */
	H_CONDITION,   /* Condition */
	H_EVENT,       /* Event */
	H_BARRIER,     /* Barrier */
	H_LOCAL,       /* threading.local(): attributes per thread */
	H_QUEUE,       /* multiprocessing.Queue: a pipe and a feeder per putting process */
	H_TQUEUE,      /* queue.Queue: between threads of one process */
	H_CONN,        /* one end of a multiprocessing.Pipe */
	H_VALUE,       /* multiprocessing.Value in shared memory */
	H_ARRAY,       /* multiprocessing.Array in shared memory */
	H_POOL,        /* multiprocessing.Pool, ThreadPool */
	H_ASYNC,       /* a pool's AsyncResult */
	H_AIOTASK,     /* asyncio.Task: a coroutine scheduled on an event loop (aio.c) */
	H_FUTURE,      /* another awaitable of the event loop: asyncio.sleep(d), gather(...) */
	H_POPEN,       /* subprocess.Popen, and run()'s CompletedProcess (subproc.c) */
	H_FILE,        /* open(): an open file description (subproc.c) */
	H_MANAGER,     /* multiprocessing.managers.BaseManager (net.c) */
	H_PROXY,       /* a manager's proxy for an object its server holds (net.c) */
	H_KIND_COUNT
};

struct vobj; /* private: strings, tuples, lists */

struct value {
	uint8_t type;  /* enum vtype */
	int32_t aux;
	union {
		int64_t i;
		double f;
		struct vobj *o;
	} u;
};

/* What the VM asks of the kernel. */
enum vm_sys {
	SYS_PRINT,         /* argv[0]: the line to print (a str, sep/end already applied, no '\n') */
	SYS_COMPUTE,       /* argv[0]: V_DUR of CPU work */
	SYS_IO,            /* argv[0]: V_DUR of blocking I/O */
	SYS_COMPUTE_NOGIL, /* argv[0]: V_DUR of CPU work in C code that releases the GIL */
	SYS_GILCTL,        /* sys.setswitchinterval(s), sys.getswitchinterval(),
	                    * sys.getcheckinterval(): name = the function */
	SYS_SLEEP,         /* argv[0]: V_DUR (time.sleep) */
	SYS_FORK,          /* os.fork(): the kernel returns 0 in the child, the child's pid in the
	                    * parent (see vm_thread_fork) */
	SYS_GETPID,        /* os.getpid(), and the bare name `pid` */
	SYS_GETPPID,       /* os.getppid(), `ppid` */
	SYS_GETTID,        /* threading.get_ident(), `tid` */
	SYS_THREAD_NAME,   /* `thread_name` */
	SYS_NOW,           /* `now`: V_DUR since the run started */
	SYS_ELAPSED,       /* `elapsed`: V_DUR since the current process started */
	SYS_TIME,          /* time.time(), time.perf_counter(), time.monotonic(): float seconds */
	SYS_CPU_COUNT,     /* os.cpu_count(), multiprocessing.cpu_count(): the machine's cores */
	SYS_ACTIVE_CHILDREN, /* multiprocessing.active_children(): list of process handles */
	SYS_CURRENT_THREAD,  /* threading.current_thread(): thread handle */
	SYS_CURRENT_PROCESS, /* multiprocessing.current_process(): process handle */
	SYS_PROCESS_NEW,   /* Process(target=, args=, name=, daemon=): kwargs as given */
	SYS_THREAD_NEW,    /* Thread(target=, args=, name=, daemon=) */
	SYS_METHOD,        /* self.name(args...) where self is a V_HANDLE: start, join, is_alive,
	                    * terminate, ... */
	SYS_GETATTR,       /* self.name where self is a V_HANDLE: name, pid, ident, exitcode, ... */
	SYS_SETATTR,       /* self.name = argv[0] where self is a V_HANDLE: name, daemon */
	SYS_NEW,           /* a kernel object: name = its class ("Lock", "Semaphore", ...), the
	                    * arguments as given; answered with a V_HANDLE */
	SYS_AWAIT,         /* `await x` where x is a V_HANDLE (a Task or a Future): argv[0] = x;
	                    * answered with its result when it is done */
	SYS_AIO,           /* asyncio.run, gather, sleep, create_task: name = the function,
	                    * arguments as given (coroutines are opaque values: vm_coro_name) */
	SYS_QUERY,         /* expect-only: a name that is not a variable (`makespan`, `deadlock`,
	                    * `printed("x")`, ...): name + args; answered by the checker */
	SYS_COUNT
};

#define VM_MAX_ARGS 16

struct vm_call {
	enum vm_sys sys;
	int line, col;       /* where the call is in the scenario */
	struct value self;   /* SYS_METHOD, SYS_GETATTR, SYS_SETATTR */
	const char *name;    /* method, attribute, query or class name */
	const char *target;  /* the variable the result is assigned to (`lock_a = Lock()`), or
	                      * NULL: lets reports name objects as the scenario does */
	int argc;
	struct value argv[VM_MAX_ARGS];
	int kwc;
	const char *kwname[VM_MAX_ARGS];
	struct value kwv[VM_MAX_ARGS];
};

enum vm_status {
	VM_SYSCALL, /* *call is filled: answer with vm_return or vm_raise, then vm_run again */
	VM_YIELD,   /* time must pass first: burn *cost, then vm_run again (nothing to answer) */
	VM_EXIT,    /* the thread's code finished; vm_thread_result has its return value */
	VM_ERROR,   /* an uncaught exception; vm_thread_error has the diagnostic */
};

struct vm_program;
struct vm_proc;   /* a process's interpreter state: its globals and random stream */
struct vm_thread; /* a thread's interpreter state: frames and stack */

/* Compiles a parsed scenario. Returns NULL and fills *err (file:line:col, what was expected)
 * on errors found before running: undefined names, wrong argument counts to builtins, `return`
 * outside a function, `break` outside a loop, unsupported modules or names. `machine` lines
 * are skipped (the runner reads them from the AST); each `expect` line becomes a small code
 * object of its own. The program keeps pointers into `ast` and its source: keep both alive.
 * Free with vm_program_destroy (NULL is safe). */
struct vm_program *vm_compile(const struct ast_program *ast, struct diag *err);
void vm_program_destroy(struct vm_program *prog);

/* Cost in ns added to *cost for every instruction executed (default 0). */
void vm_program_set_instr_cost(struct vm_program *prog, int64_t ns);

/* Formats a handle for str()/repr() (e.g. "<Process name='Process-1' pid=1001>"); without
 * one, handles print as "<process 3>". fn writes at most size bytes (NUL-terminated). */
typedef void (*vm_handle_repr_fn)(void *ctx, const struct value *h, char *buf, size_t size);
void vm_program_set_handle_repr(struct vm_program *prog, vm_handle_repr_fn fn, void *ctx);

/* ---- processes ---- */

/* A new process state with fresh globals (`__name__` is "__main__") and a random stream
 * seeded from `seed`. Returns NULL when out of memory. */
struct vm_proc *vm_proc_create(struct vm_program *prog, uint64_t seed);
/* A copy of parent's globals (deep: lists are copied) with a new random stream from `seed`:
 * what fork() gives the child. Returns NULL when out of memory. */
struct vm_proc *vm_proc_fork(const struct vm_proc *parent, uint64_t seed);
void vm_proc_destroy(struct vm_proc *p); /* NULL is safe; threads must be destroyed first */

/* Whether more than one thread of this process may run: when set, the VM stops with
 * VM_YIELD before touching a global while *cost > 0, so shared accesses happen in
 * simulated-time order. */
void vm_proc_set_shared(struct vm_proc *p, bool shared);

/* Where a thread of p checks CPython's eval breaker: 0 never (no GIL), 1 before every
 * instruction (CPython <= 3.9), 2 at function entry and backward jumps (>= 3.10). At a check,
 * once the thread's cost has reached its horizon (below), vm_run returns VM_YIELD so the
 * kernel can act on a GIL drop request. */
void vm_proc_set_breaker(struct vm_proc *p, int mode);

/* Instructions t executed since the last call (the kernel's instruction limit). */
uint64_t vm_thread_take_instructions(struct vm_thread *t);

/* Whether the last VM_YIELD stopped at an eval-breaker check point (where CPython may drop
 * the GIL), rather than in the middle of a statement before a shared global. */
bool vm_thread_at_breaker(const struct vm_thread *t);

/* Lookahead for a shared process: t may touch globals as long as the instruction cost it has
 * added in this vm_run (plus the *cost it was given) stays below `cost` (at least 1, the
 * default: stop before any global once time must pass). The kernel sets it to the time left
 * before anything else can happen, so that running ahead changes nothing. */
void vm_thread_set_horizon(struct vm_thread *t, int64_t cost);

/* Told of every read (write == false) and write of a global variable of a process, with the
 * thread's user pointer (vm_thread_set_user), the variable's slot and name, and the line:
 * the race detector's input. Reading a function bound once by a def is not reported. */
typedef void (*vm_access_fn)(void *ctx, void *user, int slot, const char *name, bool write,
			     int line);
void vm_proc_set_access_hook(struct vm_proc *p, vm_access_fn fn, void *ctx);
/* An opaque pointer the VM hands back in its hooks (the kernel's task). */
void vm_thread_set_user(struct vm_thread *t, void *user);

/* Calls fn for every global variable of p that the program assigned (not functions, modules
 * or builtins), in order of first assignment, with repr() of its value. */
void vm_proc_foreach_global(const struct vm_proc *p,
			    void (*fn)(void *ctx, const char *name, const char *repr), void *ctx);

/* ---- threads ---- */

/* A thread that runs the program's top level. */
struct vm_thread *vm_thread_create_main(struct vm_proc *p);
/* A thread that calls fn(*argv) and exits: a Process or Thread target. fn must be V_FUNC or
 * V_BUILTIN; argv are given to the VM (it owns them). Returns NULL when out of memory.
 * fn may also be a coroutine (what calling an `async def` returns; argc 0): the thread then
 * runs the coroutine's body and exits with its return value, as an asyncio Task does. A
 * coroutine runs once: a second thread made from it fails at its first vm_run with
 * "RuntimeError: cannot reuse already awaited coroutine". */
struct vm_thread *vm_thread_create_call(struct vm_proc *p, struct value fn, int argc,
					struct value *argv);
/* A copy of `t`, running in `child`, stopped at the same SYS_FORK call: the kernel then
 * answers vm_return(child_thread, 0) and vm_return(t, child_pid). */
struct vm_thread *vm_thread_fork(const struct vm_thread *t, struct vm_proc *child);
/* A thread that evaluates expectation number i (0-based, in file order) in process p. */
struct vm_thread *vm_thread_create_expect(struct vm_proc *p, int i);
void vm_thread_destroy(struct vm_thread *t); /* NULL is safe */

/* Runs t until it needs the kernel. Adds instruction costs to *cost. Executes at most about
 * 100000 instructions per call (then VM_YIELD), so a loop never hangs the caller. */
enum vm_status vm_run(struct vm_thread *t, struct vm_call *call, int64_t *cost);

/* Answers the pending VM_SYSCALL with a value (the VM takes the reference). */
void vm_return(struct vm_thread *t, struct value v);
/* Answers the pending VM_SYSCALL by raising `type` ("RuntimeError", "queue.Empty", ...) with
 * msg at the call's position. The next vm_run throws it: a `try` whose except clause names the
 * class (matched on the type's last component, "Empty" as "queue.Empty") catches it and the
 * thread goes on; uncaught, vm_run returns VM_ERROR with "type: msg". */
void vm_raise(struct vm_thread *t, const char *type, const char *msg);

struct value vm_thread_result(const struct vm_thread *t); /* borrowed; V_NONE before exit */
/* Whether the error d is an uncaught SystemExit (sys.exit(arg)): *code is the exit code
 * CPython gives (an int arg & 0xff; none: 0; anything else: 1) and *text the arg's text when
 * it is no int, else "" (borrowed from d). */
bool vm_system_exit(const struct diag *d, int *code, const char **text);
/* The error of a VM_ERROR: "ZeroDivisionError: division by zero" at its file:line:col. */
const struct diag *vm_thread_error(const struct vm_thread *t);
/* The current line (for trace records); 0 before the first instruction. */
int vm_thread_line(const struct vm_thread *t);

/* For a failed expectation: the values it compared, e.g. "12 == 0" or
 * "1.52 <= 1.2 (t_threads / t_plain)". Empty when not a comparison. */
const char *vm_expect_detail(const struct vm_thread *t);

/* For a coroutine value (calling an `async def` made it): its function's name, and in
 * *started whether it has begun running (awaited, or made into a thread). NULL for any other
 * value. */
const char *vm_coro_name(struct value v, bool *started);

/* The name of built-in function i (a V_BUILTIN's u.i), e.g. "sleep"; NULL if there is none. */
const char *vm_builtin_name(int i);

/* ---- expectations ---- */
int vm_program_expect_count(const struct vm_program *prog);
/* Line and text (as written after `expect`) of expectation i. */
void vm_program_expect_info(const struct vm_program *prog, int i, int *line, const char **text);

/* ---- values ---- */
struct value vm_none(void);
struct value vm_bool(bool b);
struct value vm_int(int64_t i);
struct value vm_float(double f);
struct value vm_dur(int64_t ns);
struct value vm_handle(enum vm_handle_kind kind, int64_t id);
struct value vm_str(const char *s, size_t len); /* copies; V_NONE if out of memory */
struct value vm_list(int n, struct value *items); /* takes the items' references */
struct value vm_tuple(int n, struct value *items); /* the same, a tuple */
const char *vm_str_data(struct value v, size_t *len); /* NULL unless V_STR */
int vm_seq_len(struct value v);                       /* tuple/list/range length, -1 otherwise */
struct value vm_seq_item(struct value v, int i);      /* borrowed */
void vm_ref(struct value v);
void vm_unref(struct value v);
bool vm_truthy(struct value v);
/* Python's str() and repr() of v, NUL-terminated, truncated to size. Returns buf. */
char *vm_value_str(const struct vm_program *prog, struct value v, char *buf, size_t size);
char *vm_value_repr(const struct vm_program *prog, struct value v, char *buf, size_t size);
/* seq[start:stop:step] of a list, tuple, str or range (None for a part left out), as Python
 * slices: a new reference in *out; false with the error ("TypeError: ...") in err. */
bool vm_slice_of(struct value seq, struct value start, struct value stop, struct value step,
		 struct value *out, char *err, size_t size);

/* A deep copy of v (lists copied, sharing kept), as pickling it to another process would
 * give. A new reference. */
struct value vm_value_copy(struct value v);

/* The Python class name of a handle kind ("Process", "lock", "Semaphore", ...). */
const char *vm_handle_class(enum vm_handle_kind kind);
/* A duration as the language writes it: "1.5s", "300ms", "25us", "7ns". Returns buf. */
char *vm_format_dur(int64_t ns, char *buf, size_t size);

#endif

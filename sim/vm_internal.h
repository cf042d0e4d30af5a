/* vm_internal.h — what the VM's files (compile.c, value.c, vm.c, vm_bare.c) share: object layouts,
 * the bytecode format, the built-in table and the pure value operations. Not for other modules. */
#ifndef TIMESLICE_VM_INTERNAL_H
#define TIMESLICE_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* Value types the kernel never sees. */
enum {
	V_RANGE = V_HANDLE + 1, /* u.o: a lazy range(start, stop, step) */
	V_UNBOUND,              /* a variable slot not yet assigned */
	V_CORO,                 /* u.o: what calling an `async def` returns (the kernel sees it
	                         * only through vm_coro_name) */
	V_EXC,                  /* u.o: an exception (struct vexc) */
	V_EXCTYPE,              /* u.i: an exception class, an index into vm_exc_classes */
	V_DICT,                 /* u.o: a dict (struct vdict), mutable; deep-copied like a list */
};

#define VM_OBJ_MASK                                                                             \
	((1u << V_STR) | (1u << V_TUPLE) | (1u << V_LIST) | (1u << V_RANGE) | (1u << V_CORO) |   \
	 (1u << V_EXC) | (1u << V_DICT))
#define VM_IS_OBJ(t) ((VM_OBJ_MASK >> (t)) & 1u)

/* Strings, lists and tuples grow to at most this many bytes each (MemoryError beyond). */
#define VM_OBJ_LIMIT ((size_t)64 << 20)
#define VM_LIST_LIMIT ((int)(VM_OBJ_LIMIT / sizeof(struct value)))

struct vobj {
	long refs;
	uint8_t type;
};

struct vstr {
	struct vobj h;
	size_t len;
	char data[]; /* len bytes of UTF-8 and a NUL */
};

struct vseq { /* V_TUPLE and V_LIST */
	struct vobj h;
	int n, cap;
	struct value *items;
};

/* A dict: entries in insertion order (a removed one keeps its place, key V_UNBOUND, until
 * the next resize packs them) and an open-addressing index of entry numbers (-1: empty),
 * mask + 1 slots, a power of two at least twice cap. */
struct vdict_entry {
	struct value key, val;
	uint64_t hash;
};

struct vdict {
	struct vobj h;
	int n;          /* live entries */
	int used, cap;  /* entries used (live or removed) and allocated */
	struct vdict_entry *ent;
	int32_t *index;
	uint32_t mask;
};

/* A dict holds at most this many entries (MemoryError beyond). */
#define VM_DICT_LIMIT ((int)(VM_OBJ_LIMIT / sizeof(struct vdict_entry)))

struct vrange {
	struct vobj h;
	int64_t start, stop, step;
};

/* A coroutine: the function and its bound arguments (its first nparams locals), made by
 * OP_CORO and run once, by OP_AWAIT in the awaiting frame or as a thread of its own. */
struct vcoro {
	struct vobj h;
	int func;
	const char *name; /* the function's (borrowed from the program) */
	bool started;
	int nargs;
	struct value args[];
};

struct sbuf;

/* An exception: raised by `raise`, by the VM (ZeroDivisionError, ...) or by the kernel
 * (vm_raise), caught by `except`. Immutable once raised, except for its position. */
struct vexc {
	struct vobj h;
	int cls;           /* vm_exc_classes index; -1 for a type the table does not know */
	int line, col;     /* where it was first raised; 0 before */
	struct value args; /* a tuple: str(e) is its only item, or its repr when not one */
	char type[];       /* the name it is reported by: "ValueError", "queue.Empty" */
};

/* The exception classes the language knows, with Python 3.11's hierarchy (a class has at most
 * two bases: io.UnsupportedOperation is an OSError and a ValueError). */
enum vm_exc_id {
	EXC_BASE, EXC_SYSTEMEXIT, EXC_KEYBOARDINTERRUPT, EXC_EXCEPTION,
	EXC_ARITHMETIC, EXC_ZERODIVISION, EXC_OVERFLOW,
	EXC_LOOKUP, EXC_INDEX, EXC_KEY,
	EXC_OS, EXC_FILENOTFOUND, EXC_FILEEXISTS, EXC_TIMEOUT, EXC_CONNECTION,
	EXC_CONNREFUSED, EXC_CONNRESET, EXC_BROKENPIPE,
	EXC_VALUE, EXC_TYPE, EXC_RUNTIME, EXC_NOTIMPLEMENTED, EXC_RECURSION, EXC_NAME,
	EXC_UNBOUNDLOCAL, EXC_ATTRIBUTE, EXC_MEMORY, EXC_ASSERTION, EXC_EOF, EXC_SYSTEM,
	EXC_QUEUE_EMPTY, EXC_QUEUE_FULL,
	EXC_MP_PROCESS, EXC_MP_TIMEOUT, EXC_MP_AUTH, EXC_MP_BUFFER,
	EXC_BROKENBARRIER, EXC_INVALIDSTATE, EXC_UNSUPPORTED,
	EXC_COUNT
};
struct vm_exc_class {
	const char *name; /* as reported: "ValueError", "queue.Empty" */
	int base, base2;  /* -1 when none */
};
extern const struct vm_exc_class vm_exc_classes[EXC_COUNT];
/* The class a type name given to vm_raise stands for: the exact name, a known alias
 * ("concurrent.futures.TimeoutError" is TimeoutError, as in 3.11), else the first class whose
 * name has the same last component ("Empty" is queue.Empty); -1 when none. */
int vm_exc_lookup(const char *type);
/* A new exception of class cls (-1: unknown) reported as `type` (NULL: the class's name), with
 * args (a tuple; its reference is taken). V_NONE when out of memory. */
struct value vm_exc_new(int cls, const char *type, struct value args);
/* An exception from "Type: message" (how vm_seterr and vm_raise word errors). */
struct value vm_exc_from_text(const char *text);
/* Whether exception x is an instance of class cls (an unknown type matches Exception,
 * BaseException and any class with the same last name component). */
bool vm_exc_matches(const struct vexc *x, int cls);
/* "Type: message" as an uncaught exception is reported ("Type" alone without a message). */
void vm_exc_text(const struct vm_program *prog, const struct vexc *x, struct sbuf *b);

#define STR(v) ((struct vstr *)(v).u.o)
#define EXC(v) ((struct vexc *)(v).u.o)
#define SEQ(v) ((struct vseq *)(v).u.o)
#define RNG(v) ((struct vrange *)(v).u.o)
#define DICT(v) ((struct vdict *)(v).u.o)

void vm_obj_free(struct vobj *o);

static inline void vref(struct value v)
{
	if (VM_IS_OBJ(v.type))
		v.u.o->refs++;
}

static inline void vunref(struct value v)
{
	if (VM_IS_OBJ(v.type) && --v.u.o->refs == 0)
		vm_obj_free(v.u.o);
}

static inline struct value vint(int64_t i)
{
	struct value v = {.type = V_INT};
	v.u.i = i;
	return v;
}

/* A run-time error being raised: "Type: message". */
struct vm_err {
	char msg[480];
};
bool vm_seterr(struct vm_err *e, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A growable string; `oom` is set (and appends stop) on allocation failure or past
 * VM_OBJ_LIMIT. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_putc(struct sbuf *b, char c);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *b);
/* Moves the text into a new V_STR (MemoryError in e when it failed). */
bool sb_to_str(struct sbuf *b, struct value *out, struct vm_err *e);

/* ---- objects ---- */
struct value vm_str_new(size_t len);            /* uninitialised text; V_NONE when OOM */
struct value vm_seq_new(uint8_t type, int n);   /* n V_NONE items; V_NONE when OOM */
bool vm_list_append(struct value list, struct value item, struct vm_err *e); /* takes item */
struct value vm_range_new(int64_t start, int64_t stop, int64_t step);
int64_t vm_range_len(const struct vrange *r);
size_t vm_utf8_count(const char *s, size_t n);
/* Item i (0-based, already bounds-checked) of a str, list, tuple or range: a new reference. */
bool vm_seq_get(struct value seq, int64_t i, struct value *out, struct vm_err *e);
/* Python's slice bounds for a sequence of length n: start, stop, step (None = default),
 * giving the first index, the step and the count. false (and an error) when not ints or a
 * zero step. */
bool vm_slice_indices(int64_t n, struct value start, struct value stop, struct value step,
		      int64_t *first, int64_t *stride, int64_t *count, struct vm_err *e);
/* obj[start:stop:step] of a str, list, tuple or range: a new reference. */
bool vm_slice(struct value obj, struct value start, struct value stop, struct value step,
	      struct value *out, struct vm_err *e);
/* Length of a str (code points), list, tuple or range; -1 (and TypeError) otherwise. */
int64_t vm_len(struct value v, struct vm_err *e);

/* ---- dicts (value.c) ----
 * Keys must be hashable (None, bool, int, float, duration, str, tuples of hashables,
 * functions, modules, handles, ...): anything else fails with "TypeError: unhashable type".
 * Numbers that compare equal (1, 1.0, True) are the same key. */
struct value vm_dict_new(void); /* V_NONE when out of memory */
/* Where key is: the entry's number, -1 when absent, -2 (and TypeError) when unhashable. */
int vm_dict_find(const struct vdict *d, struct value key, struct vm_err *e);
/* d[key] = val; takes neither reference (both are copied with a new reference). false
 * (TypeError, MemoryError) leaves d unchanged. */
bool vm_dict_set(struct value d, struct value key, struct value val, struct vm_err *e);
/* Removes entry i (from vm_dict_find), moving its value to *val (a reference the caller
 * then owns) when val is not NULL. */
void vm_dict_remove(struct value d, int i, struct value *val);
void vm_dict_clear(struct value d);
/* Entries at or after *pos: the next live one's number (and *pos past it), or -1. */
int vm_dict_next(const struct vdict *d, int *pos);

/* Deep copy of lists and dicts (and of tuples holding them), keeping aliasing: two references to one
 * list give two references to one copy. */
struct vm_memo;
struct vm_memo *vm_memo_create(void);
void vm_memo_destroy(struct vm_memo *m);
struct value vm_deep_copy(struct value v, struct vm_memo *m); /* a new reference */

/* ---- text ---- */
const char *vm_type_name(struct value v);
bool vm_to_text(const struct vm_program *prog, struct sbuf *b, struct value v, bool repr);
void vm_float_repr(double x, char *buf, size_t size);
bool vm_format_spec(const struct vm_program *prog, struct sbuf *b, struct value v,
		    const char *spec, struct vm_err *e);
bool vm_percent_format(const struct vm_program *prog, struct value fmt, struct value args,
		       struct value *out, struct vm_err *e);
bool vm_str_format(const struct vm_program *prog, struct value fmt, const struct value *args,
		   int argc, const char **kwn, const struct value *kwv, int kwc, struct value *out,
		   struct vm_err *e);

/* ---- operators (op as in ast.h: '+', TOK_FLOORDIV, TOK_LT is '<', ...) ---- */
bool vm_binop(int op, struct value a, struct value b, struct value *out, struct vm_err *e);
bool vm_unop(int op, struct value a, struct value *out, struct vm_err *e);
bool vm_compare(int op, struct value a, struct value b, bool *res, struct vm_err *e);
/* a == b where it never raises (durations against numbers are just unequal). */
bool vm_equal(struct value a, struct value b);
const char *vm_op_text(int op);

/* ---- bytecode ----
 * One 32-bit word per instruction: the opcode in the low 8 bits, a signed 24-bit argument
 * above. Each instruction has its own line and column. */
enum vm_opcode {
	OP_NOP,
	OP_INT,          /* push the argument as an int */
	OP_CONST,        /* push consts[arg] */
	OP_LOAD_LOCAL, OP_STORE_LOCAL,
	OP_LOAD_GLOBAL, OP_STORE_GLOBAL,
	OP_LOAD_FIXED,   /* a global bound once, by a top-level def: no other thread can change
	                  * it, so reading it needs no ordering against them */
	OP_POP, OP_POPN, OP_DUP, OP_DUP2, OP_ROT2, OP_ROT3,
	OP_PICK,         /* push a copy of the value arg slots down (1 = the top: DUP) */
	OP_ADD, OP_SUB, OP_MUL, OP_BINOP, OP_INPLACE_ADD, /* OP_BINOP: arg = operator */
	OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_CMP, /* OP_CMP: arg = operator */
	OP_UNARY,        /* arg = operator */
	OP_JUMP, OP_LOOP, /* LOOP is a backward jump: it may yield */
	OP_JUMP_IF_FALSE, OP_JUMP_IF_TRUE, OP_JUMP_IF_FALSE_OR_POP, OP_JUMP_IF_TRUE_OR_POP,
	OP_GET_ITER,     /* iterable -> iterable, state */
	OP_FOR_ITER,     /* iterable, state -> iterable, state, item; or pops both and jumps */
	OP_BUILD_LIST, OP_BUILD_TUPLE, OP_BUILD_STR, OP_UNPACK,
	OP_INDEX, OP_STORE_INDEX, /* STORE_INDEX: value, obj, index -> */
	OP_SLICE,        /* obj, start, stop, step -> obj[start:stop:step] */
	OP_GETATTR, OP_SETATTR,   /* arg = const (attribute name); SETATTR: value, obj -> */
	OP_CALL,         /* arg = callsite: callee, args, kwargs -> result */
	OP_CALL_BUILTIN, /* arg = callsite (its builtin): args, kwargs -> result */
	OP_CALL_METHOD,  /* arg = callsite (its name): obj, args, kwargs -> result */
	OP_QUERY,        /* arg = callsite (its name): args -> SYS_QUERY result */
	OP_SYSCALL,      /* arg = enum vm_sys, no arguments (`pid`, `now`, ...) -> result */
	OP_RETURN,
	OP_MAKE_FUNC,    /* arg = function; pops its defaults */
	OP_FORMAT,       /* arg = (spec const + 1) << 2 | conversion (0, 1 = r, 2 = s) */
	OP_RECORD,       /* expect detail: remember TOS as operand arg */
	OP_APPROX,       /* a, b, tol -> |a - b| <= tol */
	OP_CORO,         /* first instruction of an async def (arg = function): returns a
	                  * coroutine holding the bound arguments instead of running the body */
	OP_AWAIT,        /* awaitable -> result: a coroutine runs in a new frame here; a Task or
	                  * Future is SYS_AWAIT */
	/* Exceptions. A thread keeps a stack of blocks: a try block (SETUP_TRY: where its
	 * handler is, the stack depth to unwind to) or an except block (the exception being
	 * handled: what a bare `raise` re-raises). An exception pops blocks, and frames, until a
	 * try block: the stack is cut to its depth, the exception pushed and its handler run. */
	OP_SETUP_TRY,    /* arg = handler: push a try block */
	OP_POP_BLOCK,    /* pop the try block (its body ended, or break/continue/return) */
	OP_BEGIN_EXCEPT, /* exc -> : push an except block holding it */
	OP_POP_EXCEPT,   /* pop the except block (the handler ended) */
	OP_END_FINALLY,  /* pop the except block and raise its exception again */
	OP_RERAISE,      /* exc -> : raise it again (no except clause matched) */
	OP_EXC_MATCH,    /* exc, cls -> exc, bool: isinstance (cls a class or a tuple of them) */
	OP_RAISE,        /* arg 0: re-raise the handled exception; 1: exc -> ; 2: exc, cause -> */
	OP_BUILD_DICT,   /* k1, v1, ..., k_arg, v_arg -> {k1: v1, ...} */
	OP_COUNT
};

#define INS(op, arg) ((uint32_t)(op) | ((uint32_t)(arg) << 8))
#define INS_OP(w) ((w) & 0xffu)
#define INS_ARG(w) ((int32_t)(w) >> 8)
#define INS_ARG_MAX ((1 << 23) - 1)

struct vm_callsite {
	int argc, kwc;
	int builtin;          /* OP_CALL_BUILTIN */
	const char *name;     /* OP_CALL_METHOD, OP_QUERY */
	const char *target;   /* `x = f(...)`: the variable x, for naming kernel objects */
	const char **kwnames; /* kwc names (borrowed from the AST) */
};

struct vm_code {
	uint32_t *ins;
	int *line, *col;
	int n, cap;
	struct value *consts;
	int nconsts, cconsts;
	struct vm_callsite *cs;
	int ncs, ccs;
	int nlocals;
	const char **localnames; /* borrowed from the AST */
	int maxstack;
	const char *name;
};

struct vm_func {
	struct vm_code *code;
	const char *name;
	int nparams, ndefaults;
	char **params;
	int line, col;
	bool is_async;   /* async def: calling it makes a coroutine (its code opens with OP_CORO) */
};

struct vm_program {
	const struct ast_program *ast;
	char **names;             /* owned strings the code refers to ("forks[2]" targets) */
	struct ast_program *prelude; /* library code in the language (compile.c), or NULL */
	struct source *prelude_src;
	int nnames, cnames;
	const struct source *src;
	struct vm_code *main;
	struct vm_func *funcs;
	int nfuncs, cfuncs;
	struct vm_code **expects;
	const struct ast_node **expect_nodes;
	int nexpects, cexpects;
	const char **gnames; /* global slot -> name; slot 0 is __name__ */
	int nglobals;
	int64_t instr_cost;
	vm_handle_repr_fn hrepr;
	void *hctx;
	struct vm_code *tramp[VM_MAX_ARGS + 1]; /* "call the callee with n args, return" */
};

void vm_code_destroy(struct vm_code *c);

/* ---- processes and threads (vm.c; vm_bare.c runs threads too: a field added here may need
 * setting there as well) ---- */

#define VM_MAX_DEPTH 1000   /* frames: RecursionError beyond */
#define VM_RECORDS 16       /* operands of an expectation remembered for its detail */

struct vm_proc {
	struct vm_program *prog;
	struct value *globals;
	struct value **defaults; /* per function: its default values, set by MAKE_FUNC */
	uint64_t rng[4];
	bool shared;
	struct vm_memo *fork_memo; /* from vm_proc_fork to vm_thread_fork: keeps aliasing */
	vm_access_fn access;       /* told of every read and write of a global, or NULL */
	int breaker;               /* where the eval breaker is checked: 0 (no GIL), 1 before
	                            * every instruction, 2 at calls and backward jumps */
	void *access_ctx;
};

struct frame {
	const struct vm_code *code;
	uint32_t pc;
	int base; /* stack index of local 0 */
};

enum tstatus { T_READY, T_WAIT, T_RAISED, T_FAILED, T_EXIT, T_ERROR };

/* A try block (exc is V_NONE: where its handler is and the stack depth to cut back to) or an
 * except block (exc: the exception its handler is handling). Blocks belong to a frame; the
 * compiler pops them before a return, so a frame returns with none of its own left. */
struct block {
	uint32_t handler;
	int sp;
	int frame;
	struct value exc;
};

struct vm_thread {
	struct vm_proc *proc;
	void *user;      /* the caller's (the kernel's task) */
	bool at_breaker; /* the last VM_YIELD stopped at an eval-breaker check point */
	uint64_t instructions; /* executed since vm_thread_take_instructions last asked */
	bool discard;    /* the pending call is a statement (obj.x = v, obj[i] = v): its
	                  * answer is not pushed */
	int64_t horizon; /* shared globals may be touched while the cost stays below this */
	struct value *stack;
	int sp, cap;
	struct frame *frames;
	int nframes, fcap;
	struct block *blocks;
	int nblocks, cblocks;
	struct value raised; /* T_RAISED: what vm_raise raised, thrown at the next vm_run */
	enum tstatus status;
	struct value pend[2 * VM_MAX_ARGS + 2]; /* what a pending call's argv borrows */
	int npend;
	int call_line, call_col;
	struct diag *err;   /* made when the thread fails: most threads never do */
	struct value result;
	int expect; /* expectation index, -1 otherwise */
	struct value rec[VM_RECORDS];
	int nrec;
	char *detail;       /* made for a failed expectation */
};


/* ---- built-ins ---- */
enum vm_builtin_id {
	BI_PRINT, BI_RANGE, BI_LEN, BI_STR, BI_REPR, BI_INT, BI_FLOAT, BI_BOOL, BI_ABS, BI_MIN,
	BI_MAX, BI_ROUND, BI_SUM, BI_LIST, BI_TUPLE, BI_SORTED, BI_ENUMERATE,
	BI_COMPUTE, BI_IO, BI_SLEEP, BI_UNIFORM, BI_RANDOM, BI_RANDINT, BI_CHOICE, BI_SEED,
	BI_FORK, BI_GETPID, BI_GETPPID, BI_CPU_COUNT, BI_TIME, BI_PERF_COUNTER, BI_MONOTONIC,
	BI_PROCESS, BI_THREAD, BI_CURRENT_THREAD, BI_CURRENT_PROCESS, BI_ACTIVE_CHILDREN,
	BI_GET_IDENT,
	BI_LOCK, BI_RLOCK, BI_SEMAPHORE, BI_BSEMAPHORE, BI_CONDITION, BI_EVENT, BI_BARRIER,
	BI_LOCAL,
	BI_COMPUTE_NOGIL, BI_SETSWITCH, BI_GETSWITCH, BI_SETCHECK, BI_GETCHECK,
	BI_MPQUEUE, BI_TQUEUE, BI_PIPE, BI_VALUE, BI_ARRAY, BI_POOL, BI_THREADPOOL,
	BI_ZIP,
	BI_AIO_RUN, BI_AIO_GATHER, BI_AIO_SLEEP, BI_AIO_CREATE_TASK, BI_AIO_WAIT_FOR,
	BI_PPEXECUTOR, BI_TPEXECUTOR, BI_AS_COMPLETED,
	BI_SIMPLEQUEUE, BI_JQUEUE,
	BI_SP_DEFINE, BI_SP_CALL, BI_SP_RUN, BI_SP_POPEN, BI_OPEN,
	BI_MANAGER, BI_MGR_REGISTER,
	BI_OS_WAIT, BI_OS_WAITPID, BI_OS_EXIT, BI_SYS_EXIT,
	BI_DICT,
	BI_COUNT
};

struct vm_builtin {
	const char *name;
	int minargs, maxargs; /* positional; maxargs -1: any number */
	const char *kwargs;   /* accepted keywords, comma-separated; "*": any (kernel checks) */
	bool bare;            /* usable without a module */
	int sys;              /* the system call it makes, SYS_COUNT when pure */
};
extern const struct vm_builtin vm_builtins[BI_COUNT];

enum vm_module_id {
	M_OS, M_TIME, M_RANDOM, M_SYS, M_MULTIPROCESSING, M_THREADING, M_QUEUE, M_MP_POOL,
	M_MP_DUMMY, M_ASYNCIO, M_FUTURES, M_SUBPROCESS, M_MP_MANAGERS, M_COUNT
};
extern const char *const vm_module_names[M_COUNT];
/* Resolves module.attr to a value (a builtin, an exception class or a constant); false when
 * not modelled. */
bool vm_module_attr(int module, const char *attr, struct value *out);
/* Resolves an attribute of a built-in class (BaseManager.register) to a builtin; false when
 * there is none. */
bool vm_class_attr(int bid, const char *attr, struct value *out);
/* The exception class of that bare name (ValueError, Exception, ...), or -1. */
int vm_exc_builtin(const char *name);
/* Checks an argument count against a builtin; fills msg and returns false when wrong. */
bool vm_builtin_check(int bid, int argc, const char **kwn, int kwc, char *msg, size_t size);
/* Checks a call of a user function (params, ndefaults) against positional and keyword
 * arguments; fills msg when wrong. */
bool vm_func_check(const char *name, int nparams, char *const *params, int ndefaults, int argc,
		   const char **kwn, int kwc, char *msg, size_t size);

#endif

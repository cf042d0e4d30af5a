/* vm_bare.c — vm_run_bare: a thread's unboxed instructions without the interpreter lock.
 *
 * Why this is memory-safe while other threads of the process run the same code:
 *
 * - Values of the types V_NONE, V_BOOL, V_INT, V_FLOAT, V_DUR, V_FUNC, V_BUILTIN and V_MODULE
 *   are unboxed: a type and a payload, no pointer, no reference count. Every other value
 *   (V_IS_OBJ, V_HANDLE, V_UNBOUND) ends a bare run before the instruction that would copy it
 *   (a reference to take), drop it (a reference to release), or do anything else with it.
 *   Moving a value inside the thread's own stack (STORE_LOCAL of a popped value, ROT, a
 *   function's result) changes no count and is allowed for any value; so is reading the start,
 *   stop and step of a range that the thread's own stack holds a reference to (a range never
 *   changes, and a reference held here keeps it alive).
 * - A thread's stack and frames are its own: no other thread reads or writes them (the runner
 *   creates a thread's VM state before the thread starts, and forks only while it holds the
 *   interpreter lock exclusively, when no bare run is in progress). Frames and the stack are
 *   never reallocated here: a call that needs more room ends the bare run.
 * - Global slots are shared. A slot's type and aux change only under vm_run (a store of
 *   another type, an object, the first assignment), which never runs at the same time as a
 *   bare run (the caller's contract, vm_bare.h): during bare runs they are constant, so reading
 *   them needs no atomics and they cannot tear. A bare store writes only the 8-byte payload,
 *   and only over a slot that already has the stored value's type and aux; it is a relaxed
 *   atomic store, and bare loads are relaxed atomic loads, so concurrent bare accesses are
 *   well-defined C (and plain `mov`s on x86-64 and aarch64): a load sees one whole earlier
 *   store, never half of two. That is the intended race: `balance = balance + n` is a load,
 *   an add and a store, and two threads interleaving them lose updates as free-threaded C or
 *   a free-threaded CPython does. Nothing here ever follows a pointer read from a global.
 *
 * Semantics: each instruction implemented here does what vm.c's does for the same operands
 * (through the same value operations where there is one); anything else — another operand
 * type, an error to raise, an integer overflow, the end of a loop (its iterator to release),
 * the thread's last return — leaves the thread at that instruction for vm_run. */
#include "vm_bare.h"

#include <string.h>

#include "vm_internal.h"

/* What a bare run may copy, compute with and store. */
static inline bool unboxed(uint8_t type)
{
	return type <= V_DUR || type == V_FUNC || type == V_BUILTIN || type == V_MODULE;
}

_Static_assert(V_NONE == 0 && V_BOOL == 1 && V_INT == 2 && V_FLOAT == 3 && V_DUR == 4,
	       "unboxed() takes the first five types of enum vtype");

/* What it may drop: anything without a reference count (an unbound slot, a handle too). */
static inline bool no_refs(uint8_t type)
{
	return !VM_IS_OBJ(type);
}

/* The operators of OP_LT .. OP_NE, in that order (vm_internal.h). */
static const int cmp_token[] = {'<', TOK_LE, '>', TOK_GE, TOK_EQ, TOK_NE};
_Static_assert(OP_NE - OP_LT + 1 == sizeof cmp_token / sizeof cmp_token[0], "OP_LT .. OP_NE");

/* vm_compare of two ints by one of cmp_token's operators, without its general path. */
static inline bool int_compare(int op, int64_t a, int64_t b)
{
	switch (op) {
	case '<': return a < b;
	case TOK_LE: return a <= b;
	case '>': return a > b;
	case TOK_GE: return a >= b;
	case TOK_EQ: return a == b;
	default: return a != b; /* TOK_NE */
	}
}

static inline int64_t payload_load(const struct value *g)
{
	return __atomic_load_n(&g->u.i, __ATOMIC_RELAXED);
}

static inline void payload_store(struct value *g, int64_t bits)
{
	__atomic_store_n(&g->u.i, bits, __ATOMIC_RELAXED);
}

enum vm_bare_status vm_run_bare(struct vm_thread *t, long budget, const atomic_int *stop,
				uint8_t *lost)
{
	struct vm_proc *P = t->proc;
	const struct vm_program *prog = P->prog;
	if (t->status != T_READY || prog->instr_cost != 0 || P->shared || P->access ||
	    P->breaker == 1 || t->nframes == 0)
		return VM_BARE_LOCK;
	struct value *globals = P->globals;
	long executed = 0;
	int last_slot = -1;   /* the global this thread last read or wrote here, and the */
	int64_t last_bits = 0; /* payload it saw or left: another value at a store = a lost update */
	struct frame *f;
	const struct vm_code *code;
	const uint32_t *ip;
	struct value *locals, *sp;
	enum vm_bare_status status;

#define LOAD()                                                                                  \
	do {                                                                                    \
		f = &t->frames[t->nframes - 1];                                                 \
		code = f->code;                                                                 \
		ip = code->ins + f->pc;                                                         \
		locals = t->stack + f->base;                                                    \
		sp = t->stack + t->sp;                                                          \
	} while (0)
#define SAVE()                                                                                  \
	do {                                                                                    \
		f->pc = (uint32_t)(ip - code->ins);                                             \
		t->sp = (int)(sp - t->stack);                                                   \
	} while (0)
	/* back to the start of this instruction, which vm_run will execute */
#define NEEDS_LOCK()                                                                            \
	do {                                                                                    \
		ip--;                                                                           \
		executed--;                                                                     \
		status = VM_BARE_LOCK;                                                          \
		goto out;                                                                       \
	} while (0)
	/* vm_run's check point (calls and backward jumps): the caller's eval breaker */
#define CHECK_POINT()                                                                           \
	do {                                                                                    \
		if (executed >= budget ||                                                       \
		    (stop && atomic_load_explicit(stop, memory_order_relaxed))) {               \
			status = VM_BARE_PAUSE;                                                 \
			goto out;                                                               \
		}                                                                               \
	} while (0)

	LOAD();
	for (;;) {
		uint32_t w = *ip++;
		int32_t arg = INS_ARG(w);
		executed++;
		switch ((enum vm_opcode)INS_OP(w)) {
		case OP_NOP:
			break;
		case OP_INT:
			*sp++ = vint(arg);
			break;
		case OP_CONST:
			if (!unboxed(code->consts[arg].type))
				NEEDS_LOCK();
			*sp++ = code->consts[arg];
			break;
		case OP_LOAD_LOCAL:
			if (!unboxed(locals[arg].type)) /* an object, or unbound: UnboundLocalError */
				NEEDS_LOCK();
			*sp++ = locals[arg];
			break;
		case OP_STORE_LOCAL: /* a move: the value may be an object; the old one is dropped */
			if (!no_refs(locals[arg].type))
				NEEDS_LOCK();
			locals[arg] = *--sp;
			break;
		case OP_LOAD_GLOBAL:
		case OP_LOAD_FIXED: {
			const struct value *g = &globals[arg];
			if (!unboxed(g->type)) /* an object, or unbound: NameError */
				NEEDS_LOCK();
			struct value v = {.type = g->type, .aux = g->aux};
			v.u.i = payload_load(g);
			*sp++ = v;
			last_slot = arg;
			last_bits = v.u.i;
			break;
		}
		case OP_STORE_GLOBAL: {
			struct value *g = &globals[arg], v = sp[-1];
			if (!unboxed(v.type) || g->type != v.type || g->aux != v.aux)
				NEEDS_LOCK();
			if (lost && last_slot == arg && payload_load(g) != last_bits)
				__atomic_store_n(&lost[arg], 1, __ATOMIC_RELAXED);
			payload_store(g, v.u.i);
			last_slot = arg;
			last_bits = v.u.i;
			sp--;
			break;
		}
		case OP_POP:
			if (!no_refs(sp[-1].type))
				NEEDS_LOCK();
			sp--;
			break;
		case OP_POPN:
			for (int i = 1; i <= arg; i++)
				if (!no_refs(sp[-i].type))
					NEEDS_LOCK();
			sp -= arg;
			break;
		case OP_DUP:
		case OP_PICK: {
			int k = INS_OP(w) == OP_DUP ? 1 : arg;
			if (!unboxed(sp[-k].type))
				NEEDS_LOCK();
			*sp = sp[-k];
			sp++;
			break;
		}
		case OP_DUP2:
			if (!unboxed(sp[-2].type) || !unboxed(sp[-1].type))
				NEEDS_LOCK();
			sp[0] = sp[-2];
			sp[1] = sp[-1];
			sp += 2;
			break;
		case OP_ROT2:
		case OP_ROT3: { /* the top value goes 1 or 2 down: moves, for any value */
			int k = INS_OP(w) == OP_ROT2 ? 2 : 3;
			struct value top = sp[-1];
			memmove(sp - k + 1, sp - k, (size_t)(k - 1) * sizeof *sp);
			sp[-k] = top;
			break;
		}
		case OP_ADD:
		case OP_SUB:
			if (sp[-2].type == V_INT && sp[-1].type == V_INT) {
				int64_t r;
				bool ovf = INS_OP(w) == OP_ADD
						   ? __builtin_add_overflow(sp[-2].u.i, sp[-1].u.i, &r)
						   : __builtin_sub_overflow(sp[-2].u.i, sp[-1].u.i, &r);
				if (ovf) /* OverflowError */
					NEEDS_LOCK();
				sp[-2].u.i = r;
				sp--;
				break;
			}
			arg = INS_OP(w) == OP_ADD ? '+' : '-';
			goto binop;
		case OP_MUL:
			arg = '*';
			goto binop;
		case OP_INPLACE_ADD: /* a list extends in place: not unboxed, so vm_run's */
			arg = '+';
			/* fall through */
		case OP_BINOP:
		binop: {
			struct value r;
			struct vm_err e;
			if (!unboxed(sp[-2].type) || !unboxed(sp[-1].type) ||
			    !vm_binop(arg, sp[-2], sp[-1], &r, &e))
				NEEDS_LOCK(); /* vm_run raises the same error */
			if (!unboxed(r.type)) { /* not made from unboxed operands; kept private */
				vunref(r);
				NEEDS_LOCK();
			}
			sp--;
			sp[-1] = r;
			break;
		}
		case OP_LT:
		case OP_LE:
		case OP_GT:
		case OP_GE:
		case OP_EQ:
		case OP_NE:
			arg = cmp_token[INS_OP(w) - OP_LT];
			/* fall through */
		case OP_CMP: {
			bool r;
			struct vm_err e;
			if (INS_OP(w) != OP_CMP && sp[-2].type == V_INT && sp[-1].type == V_INT)
				r = int_compare(arg, sp[-2].u.i, sp[-1].u.i);
			else if (!unboxed(sp[-2].type) || !unboxed(sp[-1].type) ||
				 !vm_compare(arg, sp[-2], sp[-1], &r, &e))
				NEEDS_LOCK();
			sp--;
			sp[-1] = vm_bool(r);
			break;
		}
		case OP_UNARY: {
			struct value r;
			struct vm_err e;
			if (!unboxed(sp[-1].type) || !vm_unop(arg, sp[-1], &r, &e))
				NEEDS_LOCK();
			sp[-1] = r;
			break;
		}
		case OP_JUMP:
			ip = code->ins + arg;
			break;
		case OP_LOOP:
			ip = code->ins + arg;
			CHECK_POINT();
			break;
		case OP_JUMP_IF_FALSE:
		case OP_JUMP_IF_TRUE: {
			struct value v = sp[-1];
			if (!unboxed(v.type))
				NEEDS_LOCK();
			sp--;
			if (vm_truthy(v) == (INS_OP(w) == OP_JUMP_IF_TRUE))
				ip = code->ins + arg;
			break;
		}
		case OP_JUMP_IF_FALSE_OR_POP:
		case OP_JUMP_IF_TRUE_OR_POP:
			if (!unboxed(sp[-1].type))
				NEEDS_LOCK();
			if (vm_truthy(sp[-1]) == (INS_OP(w) == OP_JUMP_IF_TRUE_OR_POP))
				ip = code->ins + arg;
			else
				sp--;
			break;
		case OP_GET_ITER: /* a range: its state is the next number */
			if (sp[-1].type != V_RANGE)
				NEEDS_LOCK();
			*sp = vint(RNG(sp[-1])->start);
			sp++;
			break;
		case OP_FOR_ITER: {
			if (sp[-2].type != V_RANGE)
				NEEDS_LOCK();
			const struct vrange *r = RNG(sp[-2]);
			int64_t st = sp[-1].u.i;
			if (!(r->step > 0 ? st < r->stop : st > r->stop))
				NEEDS_LOCK(); /* the end: the range's reference is released there */
			*sp++ = vint(st);
			if (__builtin_add_overflow(st, r->step, &sp[-2].u.i))
				sp[-2].u.i = r->stop;
			break;
		}
		case OP_CALL: {
			/* a function of the program with exactly its positional parameters; defaults,
			 * keywords, errors and builtins are vm_run's */
			const struct vm_callsite *cs = &code->cs[arg];
			struct value *fs = sp - cs->argc - 1;
			if (cs->kwc || fs->type != V_FUNC || fs->u.i < 0 || fs->u.i >= prog->nfuncs)
				NEEDS_LOCK();
			const struct vm_func *fn = &prog->funcs[fs->u.i];
			const struct vm_code *fc = fn->code;
			int base = (int)(fs - t->stack) + 1;
			int nslots = fc->nlocals > cs->argc ? fc->nlocals : cs->argc;
			if (cs->argc != fn->nparams || t->nframes >= VM_MAX_DEPTH ||
			    t->nframes == t->fcap || base + nslots + fc->maxstack + 8 > t->cap)
				NEEDS_LOCK(); /* vm_run raises, or grows the stack or the frames */
			SAVE();
			t->frames[t->nframes++] = (struct frame){.code = fc, .pc = 0, .base = base};
			for (int i = cs->argc; i < nslots; i++)
				t->stack[base + i] = (struct value){.type = V_UNBOUND};
			t->sp = base + fc->nlocals;
			LOAD();
			CHECK_POINT();
			break;
		}
		case OP_RETURN: { /* the result moves; locals and the callee are dropped */
			struct value *bottom = t->stack + f->base - 1; /* the callee's slot */
			if (t->nframes == 1) /* the thread's end */
				NEEDS_LOCK();
			for (struct value *v = bottom; v < sp - 1; v++)
				if (!no_refs(v->type))
					NEEDS_LOCK();
			*bottom = sp[-1];
			sp = bottom + 1;
			t->sp = (int)(sp - t->stack);
			t->nframes--;
			LOAD();
			break;
		}
		default:
			NEEDS_LOCK();
		}
	}
out:
	SAVE();
	t->instructions += (uint64_t)executed;
	return status;
#undef LOAD
#undef SAVE
#undef NEEDS_LOCK
#undef CHECK_POINT
}

int vm_bare_nglobals(const struct vm_program *prog)
{
	return prog->nglobals;
}

const char *vm_bare_global_name(const struct vm_program *prog, int slot)
{
	return slot >= 0 && slot < prog->nglobals ? prog->gnames[slot] : NULL;
}

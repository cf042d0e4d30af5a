/* value.c — the scenario language's values: reference-counted strings, lists, tuples, dicts and
 * ranges; str()/repr(); % and format-spec formatting; arithmetic and comparisons with
 * Python's rules (and durations). Pure: nothing here knows threads or the kernel. */
#include "vm_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool vm_seterr(struct vm_err *e, const char *type, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(e->msg, sizeof e->msg, "%s: %s", type, msg);
	return false;
}

/* ---- string building ---- */

static bool sb_reserve(struct sbuf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (b->n + extra + 1 <= b->cap)
		return true;
	if (b->n + extra > VM_OBJ_LIMIT) {
		b->oom = true;
		return false;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->n + extra + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void sb_puts(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_putc(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sb_add(b, small, (size_t)n);
		return;
	}
	if (!sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

bool sb_to_str(struct sbuf *b, struct value *out, struct vm_err *e)
{
	if (b->oom) {
		sb_free(b);
		return vm_seterr(e, "MemoryError", "string larger than %zu MiB",
				 VM_OBJ_LIMIT >> 20);
	}
	*out = vm_str(b->p ? b->p : "", b->n);
	sb_free(b);
	if (out->type != V_STR)
		return vm_seterr(e, "MemoryError", "out of memory");
	return true;
}

/* ---- objects ---- */

void vm_obj_free(struct vobj *o)
{
	if (o->type == V_TUPLE || o->type == V_LIST) {
		struct vseq *s = (struct vseq *)o;
		for (int i = 0; i < s->n; i++)
			vunref(s->items[i]);
		free(s->items);
	} else if (o->type == V_CORO) {
		struct vcoro *c = (struct vcoro *)o;
		for (int i = 0; i < c->nargs; i++)
			vunref(c->args[i]);
	} else if (o->type == V_EXC) {
		vunref(((struct vexc *)o)->args);
	} else if (o->type == V_DICT) {
		struct vdict *d = (struct vdict *)o;
		for (int i = 0; i < d->used; i++) {
			vunref(d->ent[i].key);
			vunref(d->ent[i].val);
		}
		free(d->ent);
		free(d->index);
	}
	free(o);
}

/* ---- dicts ---- */

struct value vm_dict_new(void)
{
	struct value v = {.type = V_NONE};
	struct vdict *d = calloc(1, sizeof *d);
	if (!d)
		return v;
	d->h.refs = 1;
	d->h.type = V_DICT;
	v.type = V_DICT;
	v.u.o = &d->h;
	return v;
}

static uint64_t mix(uint64_t h, uint64_t x)
{
	h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* A hash agreeing with vm_equal: numbers that compare equal hash alike. Only lookups depend
 * on it (iteration follows insertion order), so hashing an object by its address keeps runs
 * deterministic. */
static bool hash_value(struct value v, uint64_t *h, struct vm_err *e)
{
	switch (v.type) {
	case V_NONE:
		*h = 0x5bd1e995u;
		return true;
	case V_BOOL:
	case V_INT:
		*h = mix(1, (uint64_t)v.u.i);
		return true;
	case V_FLOAT:
		if (v.u.f == floor(v.u.f) && fabs(v.u.f) < 9.2e18) {
			*h = mix(1, (uint64_t)(int64_t)v.u.f);
		} else {
			uint64_t bits;
			memcpy(&bits, &v.u.f, sizeof bits);
			*h = mix(2, bits);
		}
		return true;
	case V_STR: {
		uint64_t x = 0xcbf29ce484222325ull; /* FNV-1a */
		for (size_t i = 0; i < STR(v)->len; i++)
			x = (x ^ (unsigned char)STR(v)->data[i]) * 0x100000001b3ull;
		*h = x;
		return true;
	}
	case V_TUPLE: {
		uint64_t x = 3;
		for (int i = 0; i < SEQ(v)->n; i++) {
			uint64_t k;
			if (!hash_value(SEQ(v)->items[i], &k, e))
				return false;
			x = mix(x, k);
		}
		*h = x;
		return true;
	}
	case V_RANGE:
		*h = mix(mix(mix(4, (uint64_t)RNG(v)->start), (uint64_t)RNG(v)->stop),
			 (uint64_t)RNG(v)->step);
		return true;
	case V_DUR:
	case V_FUNC:
	case V_BUILTIN:
	case V_MODULE:
	case V_EXCTYPE:
	case V_HANDLE:
		*h = mix(mix(v.type, (uint64_t)(uint32_t)v.aux), (uint64_t)v.u.i);
		return true;
	case V_CORO:
	case V_EXC:
		*h = mix(v.type, (uint64_t)(uintptr_t)v.u.o);
		return true;
	default:
		return vm_seterr(e, "TypeError", "unhashable type: '%s'", vm_type_name(v));
	}
}

static int dict_lookup(const struct vdict *d, struct value key, uint64_t h, uint32_t *slot)
{
	if (!d->index)
		return -1;
	uint32_t i = (uint32_t)h & d->mask;
	for (;;) {
		int32_t k = d->index[i];
		if (k < 0) {
			*slot = i;
			return -1;
		}
		const struct vdict_entry *en = &d->ent[k];
		if (en->hash == h && en->key.type != V_UNBOUND && vm_equal(en->key, key)) {
			*slot = i;
			return k;
		}
		i = (i + 1) & d->mask;
	}
}

int vm_dict_find(const struct vdict *d, struct value key, struct vm_err *e)
{
	uint64_t h;
	uint32_t slot;
	if (!hash_value(key, &h, e))
		return -2;
	return dict_lookup(d, key, h, &slot);
}

/* Packs the live entries into room for cap and rebuilds the index; false when out of
 * memory (d unchanged). */
static bool dict_resize(struct vdict *d, int cap)
{
	uint32_t slots = 8;
	while (slots < 2u * (uint32_t)cap)
		slots *= 2;
	struct vdict_entry *ent = malloc((size_t)cap * sizeof *ent);
	int32_t *index = malloc(slots * sizeof *index);
	if (!ent || !index) {
		free(ent);
		free(index);
		return false;
	}
	memset(index, 0xff, slots * sizeof *index);
	int n = 0;
	for (int i = 0; i < d->used; i++) {
		if (d->ent[i].key.type == V_UNBOUND)
			continue;
		ent[n] = d->ent[i];
		uint32_t s = (uint32_t)ent[n].hash & (slots - 1);
		while (index[s] >= 0)
			s = (s + 1) & (slots - 1);
		index[s] = n++;
	}
	free(d->ent);
	free(d->index);
	d->ent = ent;
	d->index = index;
	d->mask = slots - 1;
	d->used = n;
	d->cap = cap;
	return true;
}

bool vm_dict_set(struct value dv, struct value key, struct value val, struct vm_err *e)
{
	struct vdict *d = DICT(dv);
	uint64_t h;
	uint32_t slot;
	if (!hash_value(key, &h, e))
		return false;
	int i = dict_lookup(d, key, h, &slot);
	if (i >= 0) {
		struct value old = d->ent[i].val;
		vref(val);
		d->ent[i].val = val;
		vunref(old);
		return true;
	}
	if (d->used == d->cap) {
		if (d->n >= VM_DICT_LIMIT)
			return vm_seterr(e, "MemoryError", "dict larger than %zu MiB",
					 VM_OBJ_LIMIT >> 20);
		int cap = d->n < 4 ? 8 : d->n * 2;
		if (cap > VM_DICT_LIMIT)
			cap = VM_DICT_LIMIT;
		if (!dict_resize(d, cap))
			return vm_seterr(e, "MemoryError", "out of memory");
		dict_lookup(d, key, h, &slot);
	}
	vref(key);
	vref(val);
	d->ent[d->used] = (struct vdict_entry){key, val, h};
	d->index[slot] = d->used++;
	d->n++;
	return true;
}

void vm_dict_remove(struct value dv, int i, struct value *val)
{
	struct vdict *d = DICT(dv);
	struct vdict_entry *en = &d->ent[i];
	/* the index keeps pointing at the entry: a removed key never matches, and the slot
	 * stays taken so that probes for later keys go on past it */
	vunref(en->key);
	if (val)
		*val = en->val;
	else
		vunref(en->val);
	en->key.type = V_UNBOUND;
	en->val = vm_none();
	d->n--;
}

void vm_dict_clear(struct value dv)
{
	struct vdict *d = DICT(dv);
	for (int i = 0; i < d->used; i++) {
		vunref(d->ent[i].key);
		vunref(d->ent[i].val);
	}
	free(d->ent);
	free(d->index);
	d->ent = NULL;
	d->index = NULL;
	d->n = d->used = d->cap = 0;
	d->mask = 0;
}

int vm_dict_next(const struct vdict *d, int *pos)
{
	while (*pos < d->used) {
		int i = (*pos)++;
		if (d->ent[i].key.type != V_UNBOUND)
			return i;
	}
	return -1;
}

/* Whether a and b (both dicts) hold equal keys with equal values. */
static bool dict_equal(struct value a, struct value b)
{
	const struct vdict *x = DICT(a), *y = DICT(b);
	if (x->n != y->n)
		return false;
	if (a.u.o == b.u.o)
		return true;
	struct vm_err e;
	int pos = 0, i;
	while ((i = vm_dict_next(x, &pos)) >= 0) {
		int j = vm_dict_find(y, x->ent[i].key, &e);
		if (j < 0 || !vm_equal(x->ent[i].val, y->ent[j].val))
			return false;
	}
	return true;
}

/* ---- exceptions ---- */

const struct vm_exc_class vm_exc_classes[EXC_COUNT] = {
	[EXC_BASE] = {"BaseException", -1, -1},
	[EXC_SYSTEMEXIT] = {"SystemExit", EXC_BASE, -1},
	[EXC_KEYBOARDINTERRUPT] = {"KeyboardInterrupt", EXC_BASE, -1},
	[EXC_EXCEPTION] = {"Exception", EXC_BASE, -1},
	[EXC_ARITHMETIC] = {"ArithmeticError", EXC_EXCEPTION, -1},
	[EXC_ZERODIVISION] = {"ZeroDivisionError", EXC_ARITHMETIC, -1},
	[EXC_OVERFLOW] = {"OverflowError", EXC_ARITHMETIC, -1},
	[EXC_LOOKUP] = {"LookupError", EXC_EXCEPTION, -1},
	[EXC_INDEX] = {"IndexError", EXC_LOOKUP, -1},
	[EXC_KEY] = {"KeyError", EXC_LOOKUP, -1},
	[EXC_OS] = {"OSError", EXC_EXCEPTION, -1},
	[EXC_FILENOTFOUND] = {"FileNotFoundError", EXC_OS, -1},
	[EXC_FILEEXISTS] = {"FileExistsError", EXC_OS, -1},
	[EXC_TIMEOUT] = {"TimeoutError", EXC_OS, -1},
	[EXC_CONNECTION] = {"ConnectionError", EXC_OS, -1},
	[EXC_CONNREFUSED] = {"ConnectionRefusedError", EXC_CONNECTION, -1},
	[EXC_CONNRESET] = {"ConnectionResetError", EXC_CONNECTION, -1},
	[EXC_BROKENPIPE] = {"BrokenPipeError", EXC_CONNECTION, -1},
	[EXC_VALUE] = {"ValueError", EXC_EXCEPTION, -1},
	[EXC_TYPE] = {"TypeError", EXC_EXCEPTION, -1},
	[EXC_RUNTIME] = {"RuntimeError", EXC_EXCEPTION, -1},
	[EXC_NOTIMPLEMENTED] = {"NotImplementedError", EXC_RUNTIME, -1},
	[EXC_RECURSION] = {"RecursionError", EXC_RUNTIME, -1},
	[EXC_NAME] = {"NameError", EXC_EXCEPTION, -1},
	[EXC_UNBOUNDLOCAL] = {"UnboundLocalError", EXC_NAME, -1},
	[EXC_ATTRIBUTE] = {"AttributeError", EXC_EXCEPTION, -1},
	[EXC_MEMORY] = {"MemoryError", EXC_EXCEPTION, -1},
	[EXC_ASSERTION] = {"AssertionError", EXC_EXCEPTION, -1},
	[EXC_EOF] = {"EOFError", EXC_EXCEPTION, -1},
	[EXC_SYSTEM] = {"SystemError", EXC_EXCEPTION, -1},
	[EXC_QUEUE_EMPTY] = {"queue.Empty", EXC_EXCEPTION, -1},
	[EXC_QUEUE_FULL] = {"queue.Full", EXC_EXCEPTION, -1},
	[EXC_MP_PROCESS] = {"multiprocessing.ProcessError", EXC_EXCEPTION, -1},
	[EXC_MP_TIMEOUT] = {"multiprocessing.TimeoutError", EXC_MP_PROCESS, -1},
	[EXC_MP_AUTH] = {"multiprocessing.AuthenticationError", EXC_MP_PROCESS, -1},
	[EXC_MP_BUFFER] = {"multiprocessing.BufferTooShort", EXC_MP_PROCESS, -1},
	[EXC_BROKENBARRIER] = {"threading.BrokenBarrierError", EXC_RUNTIME, -1},
	[EXC_INVALIDSTATE] = {"asyncio.InvalidStateError", EXC_EXCEPTION, -1},
	[EXC_UNSUPPORTED] = {"io.UnsupportedOperation", EXC_OS, EXC_VALUE},
};

static const char *last_component(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

int vm_exc_lookup(const char *type)
{
	static const struct {
		const char *name;
		int cls;
	} aliases[] = {
		{"concurrent.futures.TimeoutError", EXC_TIMEOUT},
		{"asyncio.TimeoutError", EXC_TIMEOUT},
		{"multiprocessing.context.TimeoutError", EXC_MP_TIMEOUT},
		{"multiprocessing.context.AuthenticationError", EXC_MP_AUTH},
		{"_queue.Empty", EXC_QUEUE_EMPTY},
	};
	for (int i = 0; i < EXC_COUNT; i++)
		if (strcmp(vm_exc_classes[i].name, type) == 0)
			return i;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(aliases[i].name, type) == 0)
			return aliases[i].cls;
	const char *last = last_component(type);
	for (int i = 0; i < EXC_COUNT; i++)
		if (strcmp(last_component(vm_exc_classes[i].name), last) == 0)
			return i;
	return -1;
}

struct value vm_exc_new(int cls, const char *type, struct value args)
{
	const char *name = type ? type : cls >= 0 ? vm_exc_classes[cls].name : "Exception";
	size_t n = strlen(name);
	struct vexc *x = malloc(sizeof *x + n + 1);
	if (!x) {
		vunref(args);
		return vm_none();
	}
	x->h.refs = 1;
	x->h.type = V_EXC;
	x->cls = cls;
	x->line = x->col = 0;
	x->args = args;
	memcpy(x->type, name, n + 1);
	struct value v = {.type = V_EXC};
	v.u.o = &x->h;
	return v;
}

struct value vm_exc_from_text(const char *text)
{
	char type[128];
	const char *colon = strstr(text, ": ");
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	snprintf(type, sizeof type, "%.*s", (int)n, text);
	struct value args = vm_seq_new(V_TUPLE, colon ? 1 : 0);
	if (args.type != V_TUPLE)
		return vm_none();
	if (colon) {
		SEQ(args)->items[0] = vm_str(colon + 2, strlen(colon + 2));
		if (SEQ(args)->items[0].type != V_STR) {
			vunref(args);
			return vm_none();
		}
	}
	/* the type is kept as given (the kernel's "concurrent.futures.TimeoutError"), and the
	 * class found from it decides what catches it */
	return vm_exc_new(vm_exc_lookup(type), type, args);
}

static bool exc_subclass(int cls, int of)
{
	if (cls < 0)
		return false;
	if (cls == of)
		return true;
	return exc_subclass(vm_exc_classes[cls].base, of) ||
	       exc_subclass(vm_exc_classes[cls].base2, of);
}

bool vm_exc_matches(const struct vexc *x, int cls)
{
	if (x->cls >= 0)
		return exc_subclass(x->cls, cls);
	return cls == EXC_BASE || cls == EXC_EXCEPTION ||
	       strcmp(last_component(x->type), last_component(vm_exc_classes[cls].name)) == 0;
}

/* str(e): its only argument's str(), "" without any, the tuple's repr() with several */
static void exc_str(const struct vm_program *prog, const struct vexc *x, struct sbuf *b)
{
	const struct vseq *a = SEQ(x->args);
	if (a->n == 1) /* a KeyError shows its key as repr() does: KeyError: 'k' */
		vm_to_text(prog, b, a->items[0], x->cls == EXC_KEY);
	else if (a->n > 1)
		vm_to_text(prog, b, x->args, true);
}

void vm_exc_text(const struct vm_program *prog, const struct vexc *x, struct sbuf *b)
{
	sb_puts(b, x->type);
	size_t at = b->n;
	sb_puts(b, ": ");
	size_t body = b->n;
	exc_str(prog, x, b);
	if (b->n == body && !b->oom) { /* no message: the type alone, as Python prints it */
		b->n = at;
		b->p[at] = '\0';
	}
}

struct value vm_none(void)
{
	struct value v = {.type = V_NONE};
	return v;
}

struct value vm_bool(bool b)
{
	struct value v = {.type = V_BOOL};
	v.u.i = b;
	return v;
}

struct value vm_int(int64_t i)
{
	return vint(i);
}

struct value vm_float(double f)
{
	struct value v = {.type = V_FLOAT};
	v.u.f = f;
	return v;
}

struct value vm_dur(int64_t ns)
{
	struct value v = {.type = V_DUR};
	v.u.i = ns;
	return v;
}

struct value vm_handle(enum vm_handle_kind kind, int64_t id)
{
	struct value v = {.type = V_HANDLE, .aux = (int32_t)kind};
	v.u.i = id;
	return v;
}

struct value vm_str_new(size_t len)
{
	struct value v = {.type = V_NONE};
	if (len > VM_OBJ_LIMIT)
		return v;
	struct vstr *s = malloc(sizeof *s + len + 1);
	if (!s)
		return v;
	s->h.refs = 1;
	s->h.type = V_STR;
	s->len = len;
	s->data[len] = '\0';
	v.type = V_STR;
	v.u.o = &s->h;
	return v;
}

struct value vm_str(const char *s, size_t len)
{
	struct value v = vm_str_new(len);
	if (v.type == V_STR)
		memcpy(STR(v)->data, s, len);
	return v;
}

struct value vm_seq_new(uint8_t type, int n)
{
	struct value v = {.type = V_NONE};
	if (n < 0 || n > VM_LIST_LIMIT)
		return v;
	struct vseq *s = malloc(sizeof *s);
	if (!s)
		return v;
	s->h.refs = 1;
	s->h.type = type;
	s->n = n;
	s->cap = n;
	s->items = NULL;
	if (n > 0) {
		s->items = calloc((size_t)n, sizeof *s->items);
		if (!s->items) {
			free(s);
			return v;
		}
	}
	v.type = type;
	v.u.o = &s->h;
	return v;
}

static struct value seq_of(enum vtype type, int n, struct value *items)
{
	struct value v = vm_seq_new(type, n);
	if (v.type != type) {
		for (int i = 0; i < n; i++)
			vunref(items[i]);
		return v;
	}
	for (int i = 0; i < n; i++)
		SEQ(v)->items[i] = items[i];
	return v;
}

struct value vm_list(int n, struct value *items)
{
	return seq_of(V_LIST, n, items);
}

struct value vm_tuple(int n, struct value *items)
{
	return seq_of(V_TUPLE, n, items);
}

bool vm_list_append(struct value list, struct value item, struct vm_err *e)
{
	struct vseq *s = SEQ(list);
	if (s->n == s->cap) {
		if (s->cap >= VM_LIST_LIMIT) {
			vunref(item);
			return vm_seterr(e, "MemoryError", "list larger than %zu MiB",
					 VM_OBJ_LIMIT >> 20);
		}
		int cap = s->cap < 4 ? 8 : s->cap * 2;
		if (cap > VM_LIST_LIMIT)
			cap = VM_LIST_LIMIT;
		struct value *p = realloc(s->items, (size_t)cap * sizeof *p);
		if (!p) {
			vunref(item);
			return vm_seterr(e, "MemoryError", "out of memory");
		}
		s->items = p;
		s->cap = cap;
	}
	s->items[s->n++] = item;
	return true;
}

struct value vm_range_new(int64_t start, int64_t stop, int64_t step)
{
	struct value v = {.type = V_NONE};
	struct vrange *r = malloc(sizeof *r);
	if (!r)
		return v;
	r->h.refs = 1;
	r->h.type = V_RANGE;
	r->start = start;
	r->stop = stop;
	r->step = step;
	v.type = V_RANGE;
	v.u.o = &r->h;
	return v;
}

int64_t vm_range_len(const struct vrange *r)
{
	/* computed in unsigned arithmetic: stop - start may not fit an int64 */
	if (r->step > 0 && r->start < r->stop)
		return (int64_t)(((uint64_t)r->stop - (uint64_t)r->start - 1) / (uint64_t)r->step + 1);
	if (r->step < 0 && r->start > r->stop)
		return (int64_t)(((uint64_t)r->start - (uint64_t)r->stop - 1) /
				 (uint64_t)(-(r->step + 1) + 1ull) + 1);
	return 0;
}

const char *vm_str_data(struct value v, size_t *len)
{
	if (v.type != V_STR)
		return NULL;
	if (len)
		*len = STR(v)->len;
	return STR(v)->data;
}

int vm_seq_len(struct value v)
{
	if (v.type == V_RANGE) {
		int64_t n = vm_range_len(RNG(v));
		return n > INT32_MAX ? INT32_MAX : (int)n;
	}
	if (v.type != V_TUPLE && v.type != V_LIST)
		return -1;
	return SEQ(v)->n;
}

struct value vm_seq_item(struct value v, int i)
{
	if (v.type == V_RANGE) /* an int: nothing to borrow */
		return i >= 0 && i < vm_range_len(RNG(v)) ? vint(RNG(v)->start + i * RNG(v)->step)
							 : vm_none();
	if ((v.type != V_TUPLE && v.type != V_LIST) || i < 0 || i >= SEQ(v)->n)
		return vm_none();
	return SEQ(v)->items[i];
}

bool vm_slice_of(struct value seq, struct value start, struct value stop, struct value step,
		 struct value *out, char *err, size_t size)
{
	struct vm_err e;
	if (vm_slice(seq, start, stop, step, out, &e))
		return true;
	snprintf(err, size, "%s", e.msg);
	return false;
}

void vm_ref(struct value v)
{
	vref(v);
}

void vm_unref(struct value v)
{
	vunref(v);
}

size_t vm_utf8_count(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Byte offset of code point i (i < count). */
static size_t utf8_offset(const char *s, size_t n, int64_t i)
{
	size_t off = 0;
	for (int64_t k = 0; k < i && off < n; k++) {
		off++;
		while (off < n && ((unsigned char)s[off] & 0xc0) == 0x80)
			off++;
	}
	return off;
}

static size_t utf8_char_len(const char *s, size_t n, size_t off)
{
	size_t e = off + 1;
	while (e < n && ((unsigned char)s[e] & 0xc0) == 0x80)
		e++;
	return e - off;
}

int64_t vm_len(struct value v, struct vm_err *e)
{
	switch (v.type) {
	case V_STR:
		return (int64_t)vm_utf8_count(STR(v)->data, STR(v)->len);
	case V_LIST:
	case V_TUPLE:
		return SEQ(v)->n;
	case V_RANGE:
		return vm_range_len(RNG(v));
	case V_DICT:
		return DICT(v)->n;
	default:
		vm_seterr(e, "TypeError", "object of type '%s' has no len()", vm_type_name(v));
		return -1;
	}
}

bool vm_seq_get(struct value seq, int64_t i, struct value *out, struct vm_err *e)
{
	switch (seq.type) {
	case V_LIST:
	case V_TUPLE:
		*out = SEQ(seq)->items[i];
		vref(*out);
		return true;
	case V_RANGE:
		*out = vint(RNG(seq)->start + i * RNG(seq)->step);
		return true;
	case V_STR: {
		const struct vstr *s = STR(seq);
		size_t off = utf8_offset(s->data, s->len, i);
		*out = vm_str(s->data + off, utf8_char_len(s->data, s->len, off));
		if (out->type != V_STR)
			return vm_seterr(e, "MemoryError", "out of memory");
		return true;
	}
	default:
		return vm_seterr(e, "TypeError", "'%s' object is not iterable", vm_type_name(seq));
	}
}

static bool slice_bound(struct value v, int64_t n, int64_t def, int64_t lo, int64_t hi,
			int64_t *out, struct vm_err *e)
{
	if (v.type == V_NONE) {
		*out = def;
		return true;
	}
	if (v.type != V_INT && v.type != V_BOOL)
		return vm_seterr(e, "TypeError",
				 "slice indices must be integers or None or have an __index__ method");
	int64_t i = v.u.i;
	if (i < 0)
		i = i < -n ? lo : i + n;
	*out = i < lo ? lo : i > hi ? hi : i;
	return true;
}

bool vm_slice_indices(int64_t n, struct value start, struct value stop, struct value step,
		      int64_t *first, int64_t *stride, int64_t *count, struct vm_err *e)
{
	int64_t st = 1;
	if (step.type != V_NONE) {
		if (step.type != V_INT && step.type != V_BOOL)
			return vm_seterr(e, "TypeError", "slice indices must be integers or None");
		st = step.u.i;
		if (st == 0)
			return vm_seterr(e, "ValueError", "slice step cannot be zero");
	}
	int64_t a = 0, b = 0;
	if (st > 0) {
		if (!slice_bound(start, n, 0, 0, n, &a, e) || !slice_bound(stop, n, n, 0, n, &b, e))
			return false;
		*count = b > a ? (b - a + st - 1) / st : 0;
	} else {
		if (!slice_bound(start, n, n - 1, -1, n - 1, &a, e) ||
		    !slice_bound(stop, n, -1, -1, n - 1, &b, e))
			return false;
		*count = a > b ? (a - b + (-st) - 1) / (-st) : 0;
	}
	*first = a;
	*stride = st;
	return true;
}

bool vm_slice(struct value obj, struct value start, struct value stop, struct value step,
	      struct value *out, struct vm_err *e)
{
	if (obj.type != V_LIST && obj.type != V_TUPLE && obj.type != V_STR && obj.type != V_RANGE)
		return vm_seterr(e, "TypeError", "'%s' object is not subscriptable", vm_type_name(obj));
	int64_t n = vm_len(obj, e), first, stride, count;
	if (n < 0 || !vm_slice_indices(n, start, stop, step, &first, &stride, &count, e))
		return false;
	if (obj.type == V_STR) {
		struct sbuf b = {0};
		const struct vstr *sv = STR(obj);
		for (int64_t k = 0; k < count; k++) {
			size_t off = utf8_offset(sv->data, sv->len, first + k * stride);
			sb_add(&b, sv->data + off, utf8_char_len(sv->data, sv->len, off));
		}
		*out = vm_str(b.p ? b.p : "", b.n);
		sb_free(&b);
		return out->type == V_STR || vm_seterr(e, "MemoryError", "out of memory");
	}
	struct value *items = malloc((size_t)(count ? count : 1) * sizeof *items);
	if (!items)
		return vm_seterr(e, "MemoryError", "out of memory");
	for (int64_t k = 0; k < count; k++)
		if (!vm_seq_get(obj, first + k * stride, &items[k], e)) {
			while (k-- > 0)
				vunref(items[k]);
			free(items);
			return false;
		}
	*out = vm_seq_new(obj.type == V_TUPLE ? V_TUPLE : V_LIST, (int)count);
	if (out->type == V_NONE) {
		for (int64_t k = 0; k < count; k++)
			vunref(items[k]);
	} else {
		for (int64_t k = 0; k < count; k++)
			SEQ(*out)->items[k] = items[k];
	}
	free(items);
	return out->type != V_NONE || vm_seterr(e, "MemoryError", "out of memory");
}

bool vm_truthy(struct value v)
{
	switch (v.type) {
	case V_NONE:
	case V_UNBOUND:
		return false;
	case V_BOOL:
	case V_INT:
	case V_DUR:
		return v.u.i != 0;
	case V_FLOAT:
		return v.u.f != 0.0;
	case V_STR:
		return STR(v)->len != 0;
	case V_TUPLE:
	case V_LIST:
		return SEQ(v)->n != 0;
	case V_RANGE:
		return vm_range_len(RNG(v)) != 0;
	case V_DICT:
		return DICT(v)->n != 0;
	default:
		return true;
	}
}

/* ---- deep copy for fork ---- */

struct vm_memo {
	struct vobj **from, **to;
	size_t n, cap; /* cap is a power of two: open addressing */
};

struct vm_memo *vm_memo_create(void)
{
	return calloc(1, sizeof(struct vm_memo));
}

void vm_memo_destroy(struct vm_memo *m)
{
	if (!m)
		return;
	free(m->from);
	free(m->to);
	free(m);
}

static size_t memo_slot(const struct vm_memo *m, const struct vobj *o)
{
	size_t h = ((uintptr_t)o >> 4) * 0x9e3779b97f4a7c15ull;
	size_t i = h & (m->cap - 1);
	while (m->from[i] && m->from[i] != o)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static bool memo_put(struct vm_memo *m, struct vobj *from, struct vobj *to)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct vm_memo bigger = {.cap = m->cap ? m->cap * 2 : 64};
		bigger.from = calloc(bigger.cap, sizeof *bigger.from);
		bigger.to = calloc(bigger.cap, sizeof *bigger.to);
		if (!bigger.from || !bigger.to) {
			free(bigger.from);
			free(bigger.to);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->from[i]) {
				size_t j = memo_slot(&bigger, m->from[i]);
				bigger.from[j] = m->from[i];
				bigger.to[j] = m->to[i];
			}
		free(m->from);
		free(m->to);
		m->from = bigger.from;
		m->to = bigger.to;
		m->cap = bigger.cap;
	}
	size_t i = memo_slot(m, from);
	m->from[i] = from;
	m->to[i] = to;
	m->n++;
	return true;
}

/* A dict's deep copy: the same entries in the same order (keys are immutable but may be
 * tuples: they are copied too, keeping aliasing). */
static struct value dict_copy(struct value v, struct vm_memo *m)
{
	const struct vdict *d = DICT(v);
	struct value c = vm_dict_new();
	if (c.type != V_DICT || (d->n && !dict_resize(DICT(c), d->n)) ||
	    !memo_put(m, v.u.o, c.u.o)) {
		/* out of memory: share rather than crash; the child may see the parent's dict */
		vunref(c);
		vref(v);
		return v;
	}
	struct vdict *to = DICT(c);
	int pos = 0, i;
	while ((i = vm_dict_next(d, &pos)) >= 0) {
		struct vdict_entry en = {vm_deep_copy(d->ent[i].key, m),
					 vm_deep_copy(d->ent[i].val, m), d->ent[i].hash};
		uint32_t s = (uint32_t)en.hash & to->mask;
		while (to->index[s] >= 0)
			s = (s + 1) & to->mask;
		to->index[s] = to->used;
		to->ent[to->used++] = en;
		to->n++;
	}
	return c;
}

struct value vm_deep_copy(struct value v, struct vm_memo *m)
{
	if (v.type == V_EXC) { /* its arguments may hold lists */
		const struct vexc *x = EXC(v);
		struct value c = vm_exc_new(x->cls, x->type, vm_deep_copy(x->args, m));
		if (c.type != V_EXC) {
			vref(v);
			return v;
		}
		EXC(c)->line = x->line;
		EXC(c)->col = x->col;
		return c;
	}
	if (v.type != V_LIST && v.type != V_TUPLE && v.type != V_DICT) {
		vref(v);
		return v;
	}
	if (m->cap) {
		size_t i = memo_slot(m, v.u.o);
		if (m->from[i]) {
			struct value c = v;
			c.u.o = m->to[i];
			vref(c);
			return c;
		}
	}
	if (v.type == V_DICT)
		return dict_copy(v, m);
	const struct vseq *s = SEQ(v);
	struct value c = vm_seq_new(v.type, s->n);
	if (c.type != v.type) {
		/* out of memory: share rather than crash; the child may see the parent's list */
		vref(v);
		return v;
	}
	if (!memo_put(m, v.u.o, c.u.o)) {
		vunref(c);
		vref(v);
		return v;
	}
	for (int i = 0; i < s->n; i++)
		SEQ(c)->items[i] = vm_deep_copy(s->items[i], m);
	return c;
}

/* ---- str() and repr() ---- */

struct value vm_value_copy(struct value v)
{
	struct vm_memo *m = vm_memo_create();
	if (!m)
		return vm_none();
	struct value c = vm_deep_copy(v, m);
	vm_memo_destroy(m);
	return c;
}

const char *vm_handle_class(enum vm_handle_kind kind)
{
	static const char *const names[H_KIND_COUNT] = {
		[H_PROCESS] = "Process", [H_THREAD] = "Thread", [H_LOCK] = "lock",
		[H_RLOCK] = "RLock", [H_SEMAPHORE] = "Semaphore", [H_CONDITION] = "Condition",
		[H_EVENT] = "Event", [H_BARRIER] = "Barrier", [H_LOCAL] = "_thread._local",
		[H_QUEUE] = "Queue", [H_TQUEUE] = "queue.Queue", [H_CONN] = "Connection",
		[H_VALUE] = "Synchronized", [H_ARRAY] = "SynchronizedArray", [H_POOL] = "Pool",
		[H_ASYNC] = "AsyncResult", [H_AIOTASK] = "Task", [H_FUTURE] = "Future",
		[H_POPEN] = "Popen", [H_FILE] = "TextIOWrapper", [H_MANAGER] = "BaseManager",
		[H_PROXY] = "AutoProxy"};
	return kind > 0 && kind < H_KIND_COUNT && names[kind] ? names[kind] : "object";
}

const char *vm_type_name(struct value v)
{
	switch (v.type) {
	case V_NONE: return "NoneType";
	case V_BOOL: return "bool";
	case V_INT: return "int";
	case V_FLOAT: return "float";
	case V_DUR: return "duration";
	case V_STR: return "str";
	case V_TUPLE: return "tuple";
	case V_LIST: return "list";
	case V_DICT: return "dict";
	case V_FUNC: return "function";
	case V_BUILTIN: return "builtin_function_or_method";
	case V_MODULE: return "module";
	case V_RANGE: return "range";
	case V_CORO: return "coroutine";
	case V_EXC: return last_component(EXC(v)->type);
	case V_EXCTYPE: return "type";
	case V_HANDLE: return vm_handle_class((enum vm_handle_kind)v.aux);
	default: return "object";
	}
}

void vm_float_repr(double x, char *buf, size_t size)
{
	if (isnan(x)) {
		snprintf(buf, size, "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, size, x < 0 ? "-inf" : "inf");
		return;
	}
	/* the shortest of 15, 16, 17 significant digits that reads back as x (15 digits always
	 * give the shortest form padded with zeros when one of at most 15 digits exists) */
	char e[40];
	for (int p = 15; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, x);
		if (strtod(e, NULL) == x)
			break;
	}
	char digits[24];
	int nd = 0;
	const char *q = e;
	bool neg = false;
	if (*q == '-') {
		neg = true;
		q++;
	}
	for (; *q && *q != 'e'; q++)
		if (isdigit((unsigned char)*q))
			digits[nd++] = *q;
	int exp = atoi(q + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	struct sbuf b = {0};
	if (neg)
		sb_putc(&b, '-');
	if (exp >= -5 + 1 && exp < 16) {
		if (exp >= 0) {
			for (int i = 0; i <= exp; i++)
				sb_putc(&b, i < nd ? digits[i] : '0');
			sb_putc(&b, '.');
			if (nd > exp + 1)
				sb_add(&b, digits + exp + 1, (size_t)(nd - exp - 1));
			else
				sb_putc(&b, '0');
		} else {
			sb_puts(&b, "0.");
			for (int i = 0; i < -exp - 1; i++)
				sb_putc(&b, '0');
			sb_add(&b, digits, (size_t)nd);
		}
	} else {
		sb_putc(&b, digits[0]);
		if (nd > 1) {
			sb_putc(&b, '.');
			sb_add(&b, digits + 1, (size_t)(nd - 1));
		}
		sb_printf(&b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	}
	snprintf(buf, size, "%s", b.p ? b.p : "0.0");
	sb_free(&b);
}

char *vm_format_dur(int64_t ns, char *buf, size_t size)
{
	/* the largest unit the value reaches, with every digit it needs: 1.5s, 300ms,
	 * 1.000003s, 25us, 7ns */
	static const struct {
		uint64_t unit;
		int digits;
		const char *name;
	} units[] = {{1000000000, 9, "s"}, {1000000, 6, "ms"}, {1000, 3, "us"}, {1, 0, "ns"}};
	uint64_t mag = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	const char *sign = ns < 0 ? "-" : "";
	if (mag == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	size_t i = 0;
	while (mag < units[i].unit)
		i++;
	uint64_t u = units[i].unit, whole = mag / u, frac = mag % u;
	if (frac == 0) {
		snprintf(buf, size, "%s%llu%s", sign, (unsigned long long)whole, units[i].name);
		return buf;
	}
	char f[16];
	snprintf(f, sizeof f, "%0*llu", units[i].digits, (unsigned long long)frac);
	for (int k = units[i].digits - 1; k > 0 && f[k] == '0'; k--)
		f[k] = '\0';
	snprintf(buf, size, "%s%llu.%s%s", sign, (unsigned long long)whole, f, units[i].name);
	return buf;
}

static void str_repr(struct sbuf *b, const char *s, size_t n)
{
	bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
	char q = has_sq && !has_dq ? '"' : '\'';
	sb_putc(b, q);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == (unsigned char)q || c == '\\') {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
		} else if (c == '\n') {
			sb_puts(b, "\\n");
		} else if (c == '\t') {
			sb_puts(b, "\\t");
		} else if (c == '\r') {
			sb_puts(b, "\\r");
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\x%02x", c);
		} else {
			sb_putc(b, (char)c);
		}
	}
	sb_putc(b, q);
}

static bool to_text(const struct vm_program *prog, struct sbuf *b, struct value v, bool repr,
		    int depth)
{
	char tmp[64];
	switch (v.type) {
	case V_NONE:
		sb_puts(b, "None");
		break;
	case V_BOOL:
		sb_puts(b, v.u.i ? "True" : "False");
		break;
	case V_INT:
		sb_printf(b, "%lld", (long long)v.u.i);
		break;
	case V_FLOAT:
		vm_float_repr(v.u.f, tmp, sizeof tmp);
		sb_puts(b, tmp);
		break;
	case V_DUR:
		sb_puts(b, vm_format_dur(v.u.i, tmp, sizeof tmp));
		break;
	case V_STR:
		if (repr)
			str_repr(b, STR(v)->data, STR(v)->len);
		else
			sb_add(b, STR(v)->data, STR(v)->len);
		break;
	case V_LIST:
	case V_TUPLE: {
		const struct vseq *s = SEQ(v);
		bool list = v.type == V_LIST;
		if (depth > 64) {
			sb_puts(b, list ? "[...]" : "(...)");
			break;
		}
		sb_putc(b, list ? '[' : '(');
		for (int i = 0; i < s->n && !b->oom; i++) {
			if (i)
				sb_puts(b, ", ");
			to_text(prog, b, s->items[i], true, depth + 1);
		}
		if (!list && s->n == 1)
			sb_putc(b, ',');
		sb_putc(b, list ? ']' : ')');
		break;
	}
	case V_DICT: {
		const struct vdict *d = DICT(v);
		if (depth > 64) {
			sb_puts(b, "{...}");
			break;
		}
		sb_putc(b, '{');
		int pos = 0, i, k = 0;
		while ((i = vm_dict_next(d, &pos)) >= 0 && !b->oom) {
			if (k++)
				sb_puts(b, ", ");
			to_text(prog, b, d->ent[i].key, true, depth + 1);
			sb_puts(b, ": ");
			to_text(prog, b, d->ent[i].val, true, depth + 1);
		}
		sb_putc(b, '}');
		break;
	}
	case V_RANGE: {
		const struct vrange *r = RNG(v);
		if (r->step == 1)
			sb_printf(b, "range(%lld, %lld)", (long long)r->start, (long long)r->stop);
		else
			sb_printf(b, "range(%lld, %lld, %lld)", (long long)r->start,
				  (long long)r->stop, (long long)r->step);
		break;
	}
	case V_CORO:
		sb_printf(b, "<coroutine object %s>", ((const struct vcoro *)v.u.o)->name);
		break;
	case V_EXC: {
		const struct vexc *x = EXC(v);
		const struct vseq *a = SEQ(x->args);
		if (!repr) {
			exc_str(prog, x, b);
			break;
		}
		sb_printf(b, "%s(", last_component(x->type)); /* ValueError('x'), Empty() */
		for (int i = 0; i < a->n && !b->oom; i++) {
			if (i)
				sb_puts(b, ", ");
			to_text(prog, b, a->items[i], true, depth + 1);
		}
		sb_putc(b, ')');
		break;
	}
	case V_EXCTYPE:
		sb_printf(b, "<class '%s'>",
			  v.u.i >= 0 && v.u.i < EXC_COUNT ? vm_exc_classes[v.u.i].name : "?");
		break;
	case V_FUNC:
		sb_printf(b, "<function %s>",
			  prog && v.u.i >= 0 && v.u.i < prog->nfuncs ? prog->funcs[v.u.i].name : "?");
		break;
	case V_BUILTIN:
		sb_printf(b, "<built-in function %s>",
			  v.u.i >= 0 && v.u.i < BI_COUNT ? vm_builtins[v.u.i].name : "?");
		break;
	case V_MODULE:
		sb_printf(b, "<module '%s'>",
			  v.u.i >= 0 && v.u.i < M_COUNT ? vm_module_names[v.u.i] : "?");
		break;
	case V_HANDLE:
		if (prog && prog->hrepr) {
			char hb[256] = "";
			prog->hrepr(prog->hctx, &v, hb, sizeof hb);
			hb[sizeof hb - 1] = '\0';
			sb_puts(b, hb);
		} else {
			sb_printf(b, "<%s %lld>",
				  v.aux == H_PROCESS ? "process" : v.aux == H_THREAD ? "thread"
										     : "object",
				  (long long)v.u.i);
		}
		break;
	default:
		sb_puts(b, "<unbound>");
		break;
	}
	return !b->oom;
}

bool vm_to_text(const struct vm_program *prog, struct sbuf *b, struct value v, bool repr)
{
	return to_text(prog, b, v, repr, 0);
}

static char *text_into(const struct vm_program *prog, struct value v, bool repr, char *buf,
		       size_t size)
{
	struct sbuf b = {0};
	to_text(prog, &b, v, repr, 0);
	if (size) {
		size_t n = b.n < size - 1 ? b.n : size - 1;
		if (n)
			memcpy(buf, b.p, n);
		buf[n] = '\0';
	}
	sb_free(&b);
	return buf;
}

char *vm_value_str(const struct vm_program *prog, struct value v, char *buf, size_t size)
{
	return text_into(prog, v, false, buf, size);
}

char *vm_value_repr(const struct vm_program *prog, struct value v, char *buf, size_t size)
{
	return text_into(prog, v, true, buf, size);
}

/* ---- format specs: [[fill]align][sign][#][0][width][,|_][.precision][type] ---- */

struct fspec {
	char fill[5]; /* one UTF-8 character */
	char align;   /* '<', '>', '^', '=' or 0 */
	char sign;    /* '+', '-', ' ' or 0 */
	bool alt, zero;
	int width, prec; /* -1 when absent */
	char group;      /* ',', '_' or 0 */
	char type;       /* 0 when absent */
};

static bool parse_spec(const char *s, struct fspec *f, struct vm_err *e)
{
	memset(f, 0, sizeof *f);
	f->width = f->prec = -1;
	strcpy(f->fill, " ");
	size_t cl = *s ? utf8_char_len(s, strlen(s), 0) : 0;
	if (cl && cl < 5 && s[cl] && strchr("<>^=", s[cl])) {
		memcpy(f->fill, s, cl);
		f->fill[cl] = '\0';
		f->align = s[cl];
		s += cl + 1;
	} else if (*s && strchr("<>^=", *s)) {
		f->align = *s++;
	}
	if (*s == '+' || *s == '-' || *s == ' ')
		f->sign = *s++;
	if (*s == '#') {
		f->alt = true;
		s++;
	}
	if (*s == '0') {
		f->zero = true;
		s++;
	}
	if (isdigit((unsigned char)*s)) {
		f->width = 0;
		while (isdigit((unsigned char)*s) && f->width < 100000)
			f->width = f->width * 10 + (*s++ - '0');
	}
	if (*s == ',' || *s == '_')
		f->group = *s++;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return vm_seterr(e, "ValueError", "Format specifier missing precision");
		f->prec = 0;
		while (isdigit((unsigned char)*s) && f->prec < 100000)
			f->prec = f->prec * 10 + (*s++ - '0');
	}
	if (*s && !s[1] && (isalpha((unsigned char)*s) || *s == '%'))
		f->type = *s++;
	if (*s)
		return vm_seterr(e, "ValueError", "Invalid format specifier");
	if (f->width > 10000 || f->prec > 10000)
		return vm_seterr(e, "ValueError", "Too many decimal digits in format string");
	return true;
}

/* Pads body (sign already split off into prefix) to the spec's width. */
static void pad_out(struct sbuf *b, const struct fspec *f, const char *prefix, const char *body,
		    size_t blen, char default_align)
{
	size_t plen = strlen(prefix);
	size_t cells = vm_utf8_count(prefix, plen) + vm_utf8_count(body, blen);
	char align = f->align ? f->align : default_align;
	size_t pad = f->width > 0 && (size_t)f->width > cells ? (size_t)f->width - cells : 0;
	size_t left = 0, right = 0;
	switch (align) {
	case '<': right = pad; break;
	case '^': left = pad / 2; right = pad - left; break;
	case '=':
		sb_puts(b, prefix);
		for (size_t i = 0; i < pad; i++)
			sb_puts(b, f->fill);
		sb_add(b, body, blen);
		return;
	default: left = pad; break;
	}
	for (size_t i = 0; i < left; i++)
		sb_puts(b, f->fill);
	sb_puts(b, prefix);
	sb_add(b, body, blen);
	for (size_t i = 0; i < right; i++)
		sb_puts(b, f->fill);
}

/* Inserts group separators into the integer digits of a number text. */
static void group_digits(const char *in, char sep, struct sbuf *out)
{
	size_t n = 0;
	while (isdigit((unsigned char)in[n]))
		n++;
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			sb_putc(out, sep);
		sb_putc(out, in[i]);
	}
	sb_puts(out, in + n);
}

static bool format_number(struct sbuf *b, struct value v, struct fspec *f, struct vm_err *e)
{
	bool is_float = v.type == V_FLOAT;
	char type = f->type;
	if (!is_float && type && strchr("eEfFgG%", type)) {
		is_float = true;
		v = vm_float((double)v.u.i);
	}
	if (!is_float && type && !strchr("dbnoxXc", type))
		return vm_seterr(e, "ValueError", "Unknown format code '%c' for object of type '%s'",
				 type, vm_type_name(v));
	if (is_float && type && !strchr("eEfFgGn%", type))
		return vm_seterr(e, "ValueError", "Unknown format code '%c' for object of type 'float'",
				 type);
	char body[400];
	bool neg;
	if (!is_float) {
		int64_t i = v.u.i;
		neg = i < 0;
		uint64_t mag = neg ? -(uint64_t)i : (uint64_t)i;
		if (type == 'x' || type == 'X' || type == 'o' || type == 'b') {
			char tmp[80];
			int k = 0;
			unsigned base = type == 'o' ? 8 : type == 'b' ? 2 : 16;
			const char *dig = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
			do {
				tmp[k++] = dig[mag % base];
				mag /= base;
			} while (mag);
			int o = 0;
			if (f->alt) {
				body[o++] = '0';
				body[o++] = type == 'o' ? 'o' : type == 'b' ? 'b' : type;
			}
			while (k)
				body[o++] = tmp[--k];
			body[o] = '\0';
		} else if (type == 'c') {
			if (mag > 0x10ffff)
				return vm_seterr(e, "OverflowError", "%%c arg not in range(0x110000)");
			snprintf(body, sizeof body, "%c", (int)mag);
		} else {
			snprintf(body, sizeof body, "%llu", (unsigned long long)mag);
		}
		if (f->prec >= 0)
			return vm_seterr(e, "ValueError", "Precision not allowed in integer format specifier");
	} else {
		double x = v.u.f;
		neg = signbit(x) && !isnan(x);
		double m = fabs(x);
		int prec = f->prec;
		if (isinf(m) || isnan(m)) {
			snprintf(body, sizeof body, "%s", isnan(m) ? "nan" : "inf");
			if (type && isupper((unsigned char)type))
				for (char *p = body; *p; p++)
					*p = (char)toupper((unsigned char)*p);
			if (type == '%')
				strcat(body, "%");
		} else if (type == 'f' || type == 'F') {
			snprintf(body, sizeof body, "%.*f", prec < 0 ? 6 : prec, m);
		} else if (type == 'e' || type == 'E') {
			snprintf(body, sizeof body, type == 'e' ? "%.*e" : "%.*E", prec < 0 ? 6 : prec, m);
		} else if (type == 'g' || type == 'G' || type == 'n') {
			snprintf(body, sizeof body, type == 'G' ? "%.*G" : "%.*g",
				 prec < 0 ? 6 : prec == 0 ? 1 : prec, m);
		} else if (type == '%') {
			snprintf(body, sizeof body, "%.*f%%", prec < 0 ? 6 : prec, m * 100.0);
		} else if (prec < 0) {
			vm_float_repr(m, body, sizeof body);
		} else {
			snprintf(body, sizeof body, "%.*g", prec == 0 ? 1 : prec, m);
			if (!strpbrk(body, ".e"))
				strcat(body, ".0");
		}
		if (m > 1e300 && (type == 'f' || type == 'F' || type == '%'))
			body[sizeof body - 1] = '\0';
	}
	char prefix[4] = "";
	if (neg)
		strcpy(prefix, "-");
	else if (f->sign == '+')
		strcpy(prefix, "+");
	else if (f->sign == ' ')
		strcpy(prefix, " ");
	struct sbuf g = {0};
	if (f->group)
		group_digits(body, f->group, &g);
	else
		sb_puts(&g, body);
	if (f->zero && !f->align) {
		f->align = '=';
		strcpy(f->fill, "0");
	}
	pad_out(b, f, prefix, g.p ? g.p : "", g.n, '>');
	sb_free(&g);
	return true;
}

bool vm_format_spec(const struct vm_program *prog, struct sbuf *b, struct value v,
		    const char *spec, struct vm_err *e)
{
	if (!spec || !*spec)
		return vm_to_text(prog, b, v, false) ||
		       vm_seterr(e, "MemoryError", "string too large");
	struct fspec f;
	if (!parse_spec(spec, &f, e))
		return false;
	switch (v.type) {
	case V_INT:
	case V_FLOAT:
		return format_number(b, v, &f, e);
	case V_BOOL:
		if (f.type)
			return format_number(b, vint(v.u.i), &f, e);
		break;
	case V_STR:
		break;
	case V_DUR:
		if (f.type && f.type != 's')
			return vm_seterr(e, "ValueError", "Unknown format code '%c' for object of type 'duration'",
					 f.type);
		break;
	default:
		return vm_seterr(e, "TypeError", "unsupported format string passed to %s.__format__",
				 vm_type_name(v));
	}
	if (f.type && f.type != 's')
		return vm_seterr(e, "ValueError", "Unknown format code '%c' for object of type '%s'",
				 f.type, vm_type_name(v));
	if (f.sign || f.group)
		return vm_seterr(e, "ValueError", "Sign not allowed in string format specifier");
	struct sbuf t = {0};
	vm_to_text(prog, &t, v, false);
	size_t len = t.n;
	if (f.prec >= 0 && t.p)
		len = utf8_offset(t.p, t.n, f.prec);
	if (f.zero && !f.align) {
		strcpy(f.fill, "0");
		f.align = '<';
	}
	pad_out(b, &f, "", t.p ? t.p : "", len, '<');
	sb_free(&t);
	return !b->oom || vm_seterr(e, "MemoryError", "string too large");
}

/* ---- printf-style % ---- */

bool vm_percent_format(const struct vm_program *prog, struct value fmt, struct value args,
		       struct value *out, struct vm_err *e)
{
	const struct value *argv = &args;
	int argc = 1;
	if (args.type == V_TUPLE) {
		argv = SEQ(args)->items;
		argc = SEQ(args)->n;
	}
	int next = 0;
	const char *s = STR(fmt)->data, *end = s + STR(fmt)->len;
	struct sbuf b = {0};
	while (s < end) {
		const char *pct = memchr(s, '%', (size_t)(end - s));
		if (!pct) {
			sb_add(&b, s, (size_t)(end - s));
			break;
		}
		sb_add(&b, s, (size_t)(pct - s));
		s = pct + 1;
		struct fspec f;
		memset(&f, 0, sizeof f);
		f.width = f.prec = -1;
		strcpy(f.fill, " ");
		bool left = false;
		for (; s < end && strchr("-+ 0#", *s); s++) {
			if (*s == '-')
				left = true;
			else if (*s == '+' || (*s == ' ' && f.sign != '+'))
				f.sign = *s;
			else if (*s == '0')
				f.zero = true;
			else if (*s == '#')
				f.alt = true;
		}
		if (s < end && *s == '*') {
			s++;
			if (next >= argc || argv[next].type != V_INT) {
				sb_free(&b);
				return vm_seterr(e, "TypeError", "* wants int");
			}
			f.width = (int)(argv[next].u.i < 0 ? 0 : argv[next].u.i > 10000 ? 10000
											: argv[next].u.i);
			next++;
		}
		for (; s < end && isdigit((unsigned char)*s); s++)
			f.width = (f.width < 0 ? 0 : f.width) * 10 + (*s - '0');
		if (s < end && *s == '.') {
			s++;
			f.prec = 0;
			for (; s < end && isdigit((unsigned char)*s); s++)
				f.prec = f.prec * 10 + (*s - '0');
		}
		if (f.width > 10000 || f.prec > 10000) {
			sb_free(&b);
			return vm_seterr(e, "ValueError", "width or precision too big");
		}
		if (s >= end) {
			sb_free(&b);
			return vm_seterr(e, "ValueError", "incomplete format");
		}
		char c = *s++;
		if (c == '%') {
			sb_putc(&b, '%');
			continue;
		}
		if (next >= argc) {
			sb_free(&b);
			return vm_seterr(e, "TypeError", "not enough arguments for format string");
		}
		struct value a = argv[next++];
		if (left) {
			f.align = '<';
			f.zero = false;
		}
		bool ok = true;
		if (c == 's' || c == 'r' || c == 'a') {
			struct sbuf t = {0};
			vm_to_text(prog, &t, a, c != 's');
			size_t len = t.n;
			if (f.prec >= 0 && t.p)
				len = utf8_offset(t.p, t.n, f.prec);
			f.zero = false;
			pad_out(&b, &f, "", t.p ? t.p : "", len, '>');
			sb_free(&t);
		} else if (strchr("diuxXoeEfFgGc", c)) {
			if (a.type != V_INT && a.type != V_BOOL && a.type != V_FLOAT) {
				sb_free(&b);
				if (strchr("eEfFgG", c))
					return vm_seterr(e, "TypeError", "must be real number, not %s",
							 vm_type_name(a));
				return vm_seterr(e, "TypeError", "%%%c format: a real number is required, not %s",
						 c, vm_type_name(a));
			}
			struct value n = a;
			if (n.type == V_BOOL)
				n.type = V_INT;
			if (strchr("diuxXoc", c) && n.type == V_FLOAT) {
				if (c != 'd' && c != 'i' && c != 'u') {
					sb_free(&b);
					return vm_seterr(e, "TypeError", "%%%c format: an integer is required, not float", c);
				}
				if (!isfinite(n.u.f) || fabs(n.u.f) >= 9.2e18) {
					sb_free(&b);
					return vm_seterr(e, "OverflowError", "cannot convert float to integer");
				}
				n = vint((int64_t)n.u.f);
			}
			struct fspec g = f;
			g.type = c == 'i' || c == 'u' ? 'd' : c;
			if (n.type == V_INT && g.type != 'c' && g.prec >= 0) {
				/* %.3d pads digits with zeros */
				uint64_t mag = n.u.i < 0 ? -(uint64_t)n.u.i : (uint64_t)n.u.i;
				struct sbuf t = {0};
				sb_printf(&t, "%0*llu", g.prec, (unsigned long long)mag);
				g.prec = -1;
				const char *sign = n.u.i < 0 ? "-" : g.sign == '+' ? "+" : g.sign == ' ' ? " " : "";
				if (g.zero && !g.align) {
					g.align = '=';
					strcpy(g.fill, "0");
				}
				pad_out(&b, &g, sign, t.p ? t.p : "", t.n, '>');
				sb_free(&t);
			} else {
				if (n.type == V_FLOAT && g.type == 'd')
					g.type = 0;
				if (g.alt && (g.type == 'o'))
					g.alt = true;
				ok = format_number(&b, n, &g, e);
			}
		} else {
			sb_free(&b);
			return vm_seterr(e, "ValueError", "unsupported format character '%c' (0x%x)",
					 c, (unsigned char)c);
		}
		if (!ok) {
			sb_free(&b);
			return false;
		}
	}
	if (next < argc && args.type == V_TUPLE) {
		sb_free(&b);
		return vm_seterr(e, "TypeError", "not all arguments converted during string formatting");
	}
	if (next == 0 && args.type != V_TUPLE) {
		sb_free(&b);
		return vm_seterr(e, "TypeError", "not all arguments converted during string formatting");
	}
	return sb_to_str(&b, out, e);
}

/* str.format: {} {0} {name} with !r/!s and :spec. */
bool vm_str_format(const struct vm_program *prog, struct value fmt, const struct value *args,
		   int argc, const char **kwn, const struct value *kwv, int kwc, struct value *out,
		   struct vm_err *e)
{
	const char *s = STR(fmt)->data, *end = s + STR(fmt)->len;
	struct sbuf b = {0};
	int autonum = 0;
	while (s < end) {
		if (*s == '{' && s + 1 < end && s[1] == '{') {
			sb_putc(&b, '{');
			s += 2;
			continue;
		}
		if (*s == '}' && s + 1 < end && s[1] == '}') {
			sb_putc(&b, '}');
			s += 2;
			continue;
		}
		if (*s == '}') {
			sb_free(&b);
			return vm_seterr(e, "ValueError", "Single '}' encountered in format string");
		}
		if (*s != '{') {
			sb_putc(&b, *s++);
			continue;
		}
		const char *close = memchr(s, '}', (size_t)(end - s));
		if (!close) {
			sb_free(&b);
			return vm_seterr(e, "ValueError", "Single '{' encountered in format string");
		}
		char field[256];
		size_t fl = (size_t)(close - s - 1);
		if (fl >= sizeof field)
			fl = sizeof field - 1;
		memcpy(field, s + 1, fl);
		field[fl] = '\0';
		s = close + 1;
		char *spec = strchr(field, ':');
		if (spec)
			*spec++ = '\0';
		char conv = 0;
		char *bang = strchr(field, '!');
		if (bang) {
			conv = bang[1];
			*bang = '\0';
		}
		struct value v;
		if (!field[0]) {
			if (autonum >= argc) {
				sb_free(&b);
				return vm_seterr(e, "IndexError", "Replacement index %d out of range for positional args tuple",
						 autonum);
			}
			v = args[autonum++];
		} else if (isdigit((unsigned char)field[0])) {
			int i = atoi(field);
			if (i >= argc) {
				sb_free(&b);
				return vm_seterr(e, "IndexError", "Replacement index %d out of range for positional args tuple",
						 i);
			}
			v = args[i];
		} else {
			int k = 0;
			while (k < kwc && strcmp(kwn[k], field) != 0)
				k++;
			if (k == kwc) {
				sb_free(&b);
				return vm_seterr(e, "KeyError", "'%s'", field);
			}
			v = kwv[k];
		}
		bool ok;
		if (conv == 'r' || conv == 's') {
			struct sbuf t = {0};
			vm_to_text(prog, &t, v, conv == 'r');
			struct value sv;
			ok = sb_to_str(&t, &sv, e) && vm_format_spec(prog, &b, sv, spec, e);
			if (sv.type == V_STR && ok)
				vunref(sv);
		} else {
			ok = vm_format_spec(prog, &b, v, spec, e);
		}
		if (!ok) {
			sb_free(&b);
			return false;
		}
	}
	return sb_to_str(&b, out, e);
}

/* ---- arithmetic ---- */

const char *vm_op_text(int op)
{
	switch (op) {
	case TOK_EQ: return "==";
	case TOK_NE: return "!=";
	case TOK_LE: return "<=";
	case TOK_GE: return ">=";
	case '<': return "<";
	case '>': return ">";
	case TOK_FLOORDIV: return "//";
	case TOK_POW: return "**";
	case TOK_SHL: return "<<";
	case TOK_SHR: return ">>";
	case TOK_AND: return "and";
	case TOK_OR: return "or";
	case TOK_NOT: return "not";
	case TOK_IN: return "in";
	case TOK_NOT_IN: return "not in";
	case TOK_IS: return "is";
	case TOK_IS_NOT: return "is not";
	case '+': return "+";
	case '-': return "-";
	case '*': return "*";
	case '/': return "/";
	case '%': return "%";
	case '|': return "|";
	case '^': return "^";
	case '&': return "&";
	case '~': return "~";
	default: return "?";
	}
}

static bool is_num(struct value v)
{
	return v.type == V_INT || v.type == V_BOOL || v.type == V_FLOAT;
}

static double num_f(struct value v)
{
	return v.type == V_FLOAT ? v.u.f : (double)v.u.i;
}

static bool overflow(struct vm_err *e)
{
	return vm_seterr(e, "OverflowError", "integer overflow (integers are 64-bit here)");
}

static bool unsupported(int op, struct value a, struct value b, struct vm_err *e)
{
	return vm_seterr(e, "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'",
			 vm_op_text(op), vm_type_name(a), vm_type_name(b));
}

static int64_t floordiv_i(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t mod_i(int64_t a, int64_t b)
{
	int64_t r = a % b;
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static bool int_pow(int64_t base, int64_t exp, int64_t *out)
{
	int64_t r = 1;
	while (exp > 0) {
		if (exp & 1)
			if (__builtin_mul_overflow(r, base, &r))
				return false;
		exp >>= 1;
		if (exp && __builtin_mul_overflow(base, base, &base))
			return false;
	}
	*out = r;
	return true;
}

/* Rounds a double number of ns to an int64 duration. */
static bool dur_from_double(double ns, struct value *out, struct vm_err *e)
{
	if (!isfinite(ns) || fabs(ns) >= 9.2e18)
		return vm_seterr(e, "OverflowError", "duration out of range");
	*out = vm_dur((int64_t)llround(ns));
	return true;
}

/* a / b rounded to the nearest ns, half away from zero. */
static int64_t div_round(int64_t a, int64_t b)
{
	int64_t q = a / b, r = a % b;
	uint64_t r2 = (r < 0 ? -(uint64_t)r : (uint64_t)r) * 2;
	uint64_t bb = b < 0 ? -(uint64_t)b : (uint64_t)b;
	if (r2 >= bb)
		q += ((a < 0) != (b < 0)) ? -1 : 1;
	return q;
}

static bool seq_concat(struct value a, struct value b, struct value *out, struct vm_err *e)
{
	int n = SEQ(a)->n + SEQ(b)->n;
	if ((int64_t)SEQ(a)->n + SEQ(b)->n > VM_LIST_LIMIT)
		return vm_seterr(e, "MemoryError", "%s larger than %zu MiB", vm_type_name(a),
				 VM_OBJ_LIMIT >> 20);
	*out = vm_seq_new(a.type, n);
	if (out->type != a.type)
		return vm_seterr(e, "MemoryError", "out of memory");
	for (int i = 0; i < SEQ(a)->n; i++) {
		SEQ(*out)->items[i] = SEQ(a)->items[i];
		vref(SEQ(a)->items[i]);
	}
	for (int i = 0; i < SEQ(b)->n; i++) {
		SEQ(*out)->items[SEQ(a)->n + i] = SEQ(b)->items[i];
		vref(SEQ(b)->items[i]);
	}
	return true;
}

static bool repeat(struct value s, int64_t k, struct value *out, struct vm_err *e)
{
	if (k < 0)
		k = 0;
	if (s.type == V_STR) {
		size_t len = STR(s)->len;
		if (len && (uint64_t)k > VM_OBJ_LIMIT / len)
			return vm_seterr(e, "MemoryError", "string larger than %zu MiB",
					 VM_OBJ_LIMIT >> 20);
		*out = vm_str_new(len * (size_t)k);
		if (out->type != V_STR)
			return vm_seterr(e, "MemoryError", "out of memory");
		for (int64_t i = 0; i < k; i++)
			memcpy(STR(*out)->data + (size_t)i * len, STR(s)->data, len);
		return true;
	}
	int n = SEQ(s)->n;
	if (n && k > VM_LIST_LIMIT / n)
		return vm_seterr(e, "MemoryError", "%s larger than %zu MiB", vm_type_name(s),
				 VM_OBJ_LIMIT >> 20);
	*out = vm_seq_new(s.type, (int)(n * k));
	if (out->type != s.type)
		return vm_seterr(e, "MemoryError", "out of memory");
	for (int64_t i = 0; i < k; i++)
		for (int j = 0; j < n; j++) {
			SEQ(*out)->items[i * n + j] = SEQ(s)->items[j];
			vref(SEQ(s)->items[j]);
		}
	return true;
}

static bool float_op(int op, double x, double y, struct value *out, struct vm_err *e)
{
	double r;
	switch (op) {
	case '+': r = x + y; break;
	case '-': r = x - y; break;
	case '*': r = x * y; break;
	case '/':
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "float division by zero");
		r = x / y;
		break;
	case TOK_FLOORDIV:
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "float floor division by zero");
		{
			/* CPython's float_floor_div */
			double m = fmod(x, y), d = (x - m) / y;
			if (m != 0 && ((y < 0) != (m < 0)))
				d -= 1.0;
			if (d != 0) {
				r = floor(d);
				if (d - r > 0.5)
					r += 1.0;
			} else {
				r = copysign(0.0, x / y);
			}
		}
		break;
	case '%':
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "float modulo");
		r = fmod(x, y);
		if (r != 0 && ((r < 0) != (y < 0)))
			r += y;
		else if (r == 0)
			r = copysign(0.0, y);
		break;
	case TOK_POW:
		if (x == 0 && y < 0)
			return vm_seterr(e, "ZeroDivisionError", "0.0 cannot be raised to a negative power");
		if (x < 0 && y != floor(y))
			return vm_seterr(e, "ValueError", "complex numbers are not part of the scenario language");
		r = pow(x, y);
		if (isinf(r) && isfinite(x) && isfinite(y))
			return vm_seterr(e, "OverflowError", "(34, 'Numerical result out of range')");
		break;
	default:
		return vm_seterr(e, "TypeError", "unsupported operand type(s) for %s: 'float' and 'float'",
				 vm_op_text(op));
	}
	*out = vm_float(r);
	return true;
}

static bool int_op(int op, int64_t x, int64_t y, struct value *out, struct vm_err *e)
{
	int64_t r;
	switch (op) {
	case '+':
		if (__builtin_add_overflow(x, y, &r))
			return overflow(e);
		break;
	case '-':
		if (__builtin_sub_overflow(x, y, &r))
			return overflow(e);
		break;
	case '*':
		if (__builtin_mul_overflow(x, y, &r))
			return overflow(e);
		break;
	case '/':
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "division by zero");
		*out = vm_float((double)x / (double)y);
		return true;
	case TOK_FLOORDIV:
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "integer division or modulo by zero");
		if (x == INT64_MIN && y == -1)
			return overflow(e);
		r = floordiv_i(x, y);
		break;
	case '%':
		if (y == 0)
			return vm_seterr(e, "ZeroDivisionError", "integer division or modulo by zero");
		r = y == -1 ? 0 : mod_i(x, y);
		break;
	case TOK_POW:
		if (y < 0) {
			if (x == 0)
				return vm_seterr(e, "ZeroDivisionError", "0.0 cannot be raised to a negative power");
			*out = vm_float(pow((double)x, (double)y));
			return true;
		}
		if (!int_pow(x, y, &r))
			return overflow(e);
		break;
	case '&': r = x & y; break;
	case '|': r = x | y; break;
	case '^': r = x ^ y; break;
	case TOK_SHL:
		if (y < 0)
			return vm_seterr(e, "ValueError", "negative shift count");
		if (x == 0) {
			r = 0;
			break;
		}
		if (y >= 63 || (x > 0 ? x > (INT64_MAX >> y) : x < (INT64_MIN >> y)))
			return overflow(e);
		r = (int64_t)((uint64_t)x << y);
		break;
	case TOK_SHR:
		if (y < 0)
			return vm_seterr(e, "ValueError", "negative shift count");
		r = y >= 63 ? (x < 0 ? -1 : 0) : x >> y; /* arithmetic shift: Python floors */
		break;
	default:
		return vm_seterr(e, "TypeError", "bad operator");
	}
	*out = vint(r);
	return true;
}

bool vm_binop(int op, struct value a, struct value b, struct value *out, struct vm_err *e)
{
	bool ai = a.type == V_INT || a.type == V_BOOL, bi = b.type == V_INT || b.type == V_BOOL;
	if (ai && bi) {
		if (a.type == V_BOOL && b.type == V_BOOL && (op == '&' || op == '|' || op == '^')) {
			int64_t r = op == '&' ? (a.u.i & b.u.i) : op == '|' ? (a.u.i | b.u.i) : (a.u.i ^ b.u.i);
			*out = vm_bool(r != 0);
			return true;
		}
		return int_op(op, a.u.i, b.u.i, out, e);
	}
	if (is_num(a) && is_num(b)) {
		if (op == '&' || op == '|' || op == '^' || op == TOK_SHL || op == TOK_SHR)
			return unsupported(op, a, b, e);
		return float_op(op, num_f(a), num_f(b), out, e);
	}
	if (a.type == V_DUR && b.type == V_DUR) {
		int64_t x = a.u.i, y = b.u.i, r;
		switch (op) {
		case '+':
			if (__builtin_add_overflow(x, y, &r))
				return vm_seterr(e, "OverflowError", "duration out of range");
			*out = vm_dur(r);
			return true;
		case '-':
			if (__builtin_sub_overflow(x, y, &r))
				return vm_seterr(e, "OverflowError", "duration out of range");
			*out = vm_dur(r);
			return true;
		case '/':
			if (y == 0)
				return vm_seterr(e, "ZeroDivisionError", "division by zero");
			*out = vm_float((double)x / (double)y);
			return true;
		case TOK_FLOORDIV:
			if (y == 0)
				return vm_seterr(e, "ZeroDivisionError", "integer division or modulo by zero");
			if (x == INT64_MIN && y == -1)
				return overflow(e);
			*out = vint(floordiv_i(x, y));
			return true;
		case '%':
			if (y == 0)
				return vm_seterr(e, "ZeroDivisionError", "integer division or modulo by zero");
			*out = vm_dur(y == -1 ? 0 : mod_i(x, y));
			return true;
		default:
			return unsupported(op, a, b, e);
		}
	}
	if (a.type == V_DUR && is_num(b)) {
		if (op == '*') {
			if (b.type != V_FLOAT) {
				int64_t r;
				if (__builtin_mul_overflow(a.u.i, b.u.i, &r))
					return vm_seterr(e, "OverflowError", "duration out of range");
				*out = vm_dur(r);
				return true;
			}
			return dur_from_double((double)a.u.i * b.u.f, out, e);
		}
		if (op == '/' || op == TOK_FLOORDIV) {
			if (num_f(b) == 0)
				return vm_seterr(e, "ZeroDivisionError", "division by zero");
			if (b.type != V_FLOAT) {
				if (a.u.i == INT64_MIN && b.u.i == -1)
					return overflow(e);
				*out = vm_dur(op == '/' ? div_round(a.u.i, b.u.i) : floordiv_i(a.u.i, b.u.i));
				return true;
			}
			double q = (double)a.u.i / b.u.f;
			return dur_from_double(op == '/' ? q : floor(q), out, e);
		}
		return unsupported(op, a, b, e);
	}
	if (is_num(a) && b.type == V_DUR && op == '*')
		return vm_binop('*', b, a, out, e);
	if (a.type == V_STR && op == '%')
		return vm_percent_format(NULL, a, b, out, e);
	if (op == '+' && a.type == b.type && a.type == V_STR) {
		size_t la = STR(a)->len, lb = STR(b)->len;
		if (la + lb > VM_OBJ_LIMIT)
			return vm_seterr(e, "MemoryError", "string larger than %zu MiB",
					 VM_OBJ_LIMIT >> 20);
		*out = vm_str_new(la + lb);
		if (out->type != V_STR)
			return vm_seterr(e, "MemoryError", "out of memory");
		memcpy(STR(*out)->data, STR(a)->data, la);
		memcpy(STR(*out)->data + la, STR(b)->data, lb);
		return true;
	}
	if (op == '+' && a.type == b.type && (a.type == V_LIST || a.type == V_TUPLE))
		return seq_concat(a, b, out, e);
	if (op == '*' && (a.type == V_STR || a.type == V_LIST || a.type == V_TUPLE) && bi)
		return repeat(a, b.u.i, out, e);
	if (op == '*' && (b.type == V_STR || b.type == V_LIST || b.type == V_TUPLE) && ai)
		return repeat(b, a.u.i, out, e);
	if (op == '+' && (a.type == V_STR || b.type == V_STR) && (a.type == V_STR ? b : a).type != V_STR)
		return vm_seterr(e, "TypeError", a.type == V_STR ? "can only concatenate str (not \"%s\") to str"
								 : "unsupported operand type(s) for +: '%s' and 'str'",
				 vm_type_name(a.type == V_STR ? b : a));
	return unsupported(op, a, b, e);
}

bool vm_unop(int op, struct value a, struct value *out, struct vm_err *e)
{
	if (op == TOK_NOT) {
		*out = vm_bool(!vm_truthy(a));
		return true;
	}
	switch (a.type) {
	case V_BOOL:
	case V_INT:
		if (op == '-') {
			if (a.u.i == INT64_MIN)
				return overflow(e);
			*out = vint(-a.u.i);
		} else if (op == '+') {
			*out = vint(a.u.i);
		} else {
			*out = vint(~a.u.i);
		}
		return true;
	case V_FLOAT:
		if (op == '~')
			break;
		*out = vm_float(op == '-' ? -a.u.f : a.u.f);
		return true;
	case V_DUR:
		if (op == '~')
			break;
		if (op == '-' && a.u.i == INT64_MIN)
			return overflow(e);
		*out = vm_dur(op == '-' ? -a.u.i : a.u.i);
		return true;
	default:
		break;
	}
	return vm_seterr(e, "TypeError", "bad operand type for unary %s: '%s'", vm_op_text(op),
			 vm_type_name(a));
}

/* Three-way comparison; false (with TypeError) when the types do not order. */
static bool cmp3(struct value a, struct value b, int *res, int op, struct vm_err *e)
{
	if ((a.type == V_INT || a.type == V_BOOL) && (b.type == V_INT || b.type == V_BOOL)) {
		*res = (a.u.i > b.u.i) - (a.u.i < b.u.i);
		return true;
	}
	if (is_num(a) && is_num(b)) {
		double x = num_f(a), y = num_f(b);
		if (isnan(x) || isnan(y)) {
			*res = 2; /* unordered: every comparison but != is false */
			return true;
		}
		*res = (x > y) - (x < y);
		return true;
	}
	if (a.type == V_DUR && b.type == V_DUR) {
		*res = (a.u.i > b.u.i) - (a.u.i < b.u.i);
		return true;
	}
	if (a.type == V_STR && b.type == V_STR) {
		size_t la = STR(a)->len, lb = STR(b)->len;
		int c = memcmp(STR(a)->data, STR(b)->data, la < lb ? la : lb);
		*res = c ? (c > 0 ? 1 : -1) : (la > lb) - (la < lb);
		return true;
	}
	if (a.type == b.type && (a.type == V_LIST || a.type == V_TUPLE)) {
		const struct vseq *x = SEQ(a), *y = SEQ(b);
		for (int i = 0; i < x->n && i < y->n; i++) {
			if (vm_equal(x->items[i], y->items[i]))
				continue;
			return cmp3(x->items[i], y->items[i], res, op, e);
		}
		*res = (x->n > y->n) - (x->n < y->n);
		return true;
	}
	return vm_seterr(e, "TypeError", "'%s' not supported between instances of '%s' and '%s'",
			 vm_op_text(op), vm_type_name(a), vm_type_name(b));
}

bool vm_equal(struct value a, struct value b)
{
	if (is_num(a) && is_num(b)) {
		if (a.type != V_FLOAT && b.type != V_FLOAT)
			return a.u.i == b.u.i;
		return num_f(a) == num_f(b);
	}
	if (a.type != b.type)
		return false;
	switch (a.type) {
	case V_NONE:
		return true;
	case V_DUR:
	case V_FUNC:
	case V_BUILTIN:
	case V_MODULE:
	case V_EXCTYPE:
		return a.u.i == b.u.i;
	case V_HANDLE:
		return a.aux == b.aux && a.u.i == b.u.i;
	case V_STR:
		return STR(a)->len == STR(b)->len &&
		       memcmp(STR(a)->data, STR(b)->data, STR(a)->len) == 0;
	case V_LIST:
	case V_TUPLE:
		if (SEQ(a)->n != SEQ(b)->n)
			return false;
		if (a.u.o == b.u.o)
			return true;
		for (int i = 0; i < SEQ(a)->n; i++)
			if (!vm_equal(SEQ(a)->items[i], SEQ(b)->items[i]))
				return false;
		return true;
	case V_RANGE:
		return RNG(a)->start == RNG(b)->start && RNG(a)->stop == RNG(b)->stop &&
		       RNG(a)->step == RNG(b)->step;
	case V_DICT:
		return dict_equal(a, b);
	case V_CORO:
	case V_EXC:
		return a.u.o == b.u.o;
	default:
		return false;
	}
}

/* Offset of the first occurrence of needle in hay, -1 if none. */
static long find_bytes(const char *hay, size_t hn, const char *needle, size_t nn)
{
	if (nn == 0)
		return 0;
	for (size_t i = 0; i + nn <= hn; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nn) == 0)
			return (long)i;
	return -1;
}

static bool contains(struct value item, struct value seq, bool *res, struct vm_err *e)
{
	switch (seq.type) {
	case V_LIST:
	case V_TUPLE:
		*res = false;
		for (int i = 0; i < SEQ(seq)->n && !*res; i++)
			*res = vm_equal(item, SEQ(seq)->items[i]);
		return true;
	case V_STR:
		if (item.type != V_STR)
			return vm_seterr(e, "TypeError", "'in <string>' requires string as left operand, not %s",
					 vm_type_name(item));
		if (STR(item)->len == 0) {
			*res = true;
			return true;
		}
		*res = STR(item)->len <= STR(seq)->len &&
		       find_bytes(STR(seq)->data, STR(seq)->len, STR(item)->data, STR(item)->len) >= 0;
		return true;
	case V_DICT: {
		int i = vm_dict_find(DICT(seq), item, e);
		*res = i >= 0;
		return i != -2;
	}
	case V_RANGE: {
		const struct vrange *r = RNG(seq);
		*res = false;
		if (item.type == V_INT || item.type == V_BOOL) {
			int64_t x = item.u.i;
			if (r->step > 0 ? (x >= r->start && x < r->stop) : (x <= r->start && x > r->stop))
				*res = ((uint64_t)x - (uint64_t)r->start) % (uint64_t)(r->step > 0 ? r->step : -r->step) == 0;
		}
		return true;
	}
	default:
		return vm_seterr(e, "TypeError", "argument of type '%s' is not iterable",
				 vm_type_name(seq));
	}
}

bool vm_compare(int op, struct value a, struct value b, bool *res, struct vm_err *e)
{
	switch (op) {
	case TOK_IN:
	case TOK_NOT_IN:
		if (!contains(a, b, res, e))
			return false;
		if (op == TOK_NOT_IN)
			*res = !*res;
		return true;
	case TOK_IS:
	case TOK_IS_NOT: {
		bool same = a.type == b.type &&
			    (VM_IS_OBJ(a.type) ? a.u.o == b.u.o
					       : a.type == V_NONE || (a.u.i == b.u.i && a.aux == b.aux));
		*res = op == TOK_IS ? same : !same;
		return true;
	}
	default:
		break;
	}
	if ((a.type == V_DUR && is_num(b)) || (b.type == V_DUR && is_num(a)))
		return vm_seterr(e, "TypeError",
				 "'%s' not supported between instances of '%s' and '%s' (write a unit: 5 -> 5s)",
				 vm_op_text(op), vm_type_name(a), vm_type_name(b));
	if (op == TOK_EQ || op == TOK_NE) {
		bool eq = vm_equal(a, b);
		*res = op == TOK_EQ ? eq : !eq;
		return true;
	}
	int c;
	if (!cmp3(a, b, &c, op, e))
		return false;
	switch (op) {
	case '<': *res = c == -1; break;
	case TOK_LE: *res = c == -1 || c == 0; break;
	case '>': *res = c == 1; break;
	case TOK_GE: *res = c == 1 || c == 0; break;
	default: return vm_seterr(e, "TypeError", "bad comparison");
	}
	return true;
}

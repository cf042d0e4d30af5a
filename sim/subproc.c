/* subproc.c — external commands (subprocess) and open files across fork, in the simulated
 * kernel.
 *
 * An external command is a function of the scenario registered under a name with
 * `subprocess.define('nslookup', nslookup)`. Running it (call, run, Popen) forks a process of
 * its own — fork+exec costs the machine's fork cost, burnt by the caller — whose main thread
 * calls fn(args, stdin): args the command line (a list of str), stdin what the parent wrote
 * into its stdin pipe (a str; '' when none). What it prints is its stdout: the program's
 * output, or, with stdout=PIPE (capture_output=True), kept in the pipe for communicate() /
 * run().stdout. Its return value is its exit code (None: 0; an int as exit() takes it, so
 * -1 gives 255); an uncaught exception gives 1, a kill -N. The language has no sys.stderr:
 * what a command writes to stderr is what its function returns beside the code, `return
 * (2, 'usage: ...\n')`, or a str alone, as exit('msg') writes msg and exits with 1; it is
 * written when the function returns, to the program's output unless stderr=PIPE (kept for
 * communicate() and run().stderr), STDOUT (where its stdout goes) or DEVNULL. terminate(),
 * kill() and send_signal(n) end the command's process at once with returncode -n. With
 * stdin=PIPE the command reads its stdin before anything else: its function starts when
 * communicate() has written the input and closed the pipe. Moving bytes through the pipes
 * takes no simulated time.
 *
 * Files live in the kernel: a path names the bytes of a file. open() makes an open file
 * description (H_FILE) holding the offset; a process forked later holds the same handle, so
 * it shares the offset exactly as Linux shares it, and two processes that open() the file
 * each have their own offset (each from 0, overwriting each other's bytes), unless the mode
 * is 'a' (O_APPEND: every write goes to the end). Writes are unbuffered (as with
 * flush() after every write) and take no simulated time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

struct sp_cmd {
	char *name;
	struct value fn;
};

struct sp_file {
	char *path;
	char *data;
	size_t len, cap;
};

struct subp_state {
	struct sp_cmd *cmds;
	int ncmds, capcmds;
	struct sp_file *files;
	int nfiles, capfiles;
};

enum { MODE_POPEN, MODE_CALL, MODE_RUN };

/* Where a command's stdout or stderr goes: subprocess's None, PIPE, STDOUT, DEVNULL. */
enum stream { TO_PARENT, TO_PIPE, TO_STDOUT, TO_NULL };

struct buf {
	char *p;
	size_t n, cap;
};

struct popen {
	enum vm_handle_kind kind; /* H_POPEN: first, as struct ipc's */
	int mode;
	int proc;                 /* the command's process (kernel index) */
	int cmd;
	struct value args;        /* the command line, a list */
	enum stream out_to, err_to;
	bool stdin_pipe;          /* stdin=PIPE and not yet written */
	struct value input;       /* what its stdin gives, a str */
	struct buf out, err;      /* what went into its stdout and stderr pipes */
	bool done;
	int returncode;
	int child;                /* its main task, -1 before the fork ends */
	bool child_waits_stdin;
	struct waitq waiters;     /* call(), run(), wait(), communicate() */
};

struct ofile {
	enum vm_handle_kind kind; /* H_FILE */
	int file;
	int64_t off;
	bool rd, wr, app;
	char mode[8];
	int *closed;              /* the processes that closed their descriptor */
	int nclosed;
};

static struct subp_state *state(struct kernel *k)
{
	if (!k->subp)
		k->subp = calloc(1, sizeof *k->subp);
	return k->subp;
}

static bool grow(void **p, int *cap, int n, size_t size)
{
	if (n < *cap)
		return true;
	int nc = *cap ? *cap * 2 : 8;
	void *v = realloc(*p, (size_t)nc * size);
	if (!v)
		return false;
	*p = v;
	*cap = nc;
	return true;
}

bool subp_owns_new(const char *cls)
{
	return strncmp(cls, "subprocess.", 11) == 0 || strcmp(cls, "Popen") == 0 ||
	       strcmp(cls, "open") == 0;
}

static struct popen *popen_of(struct kernel *k, int id)
{
	return (struct popen *)k->objs[id]->ipc;
}

/* ---- files ---- */

static int file_find(struct subp_state *s, const char *path)
{
	for (int i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return i;
	return -1;
}

static bool file_write(struct sp_file *f, int64_t off, const char *p, size_t n)
{
	size_t end = (size_t)off + n;
	if (end > f->cap) {
		size_t nc = f->cap ? f->cap : 64;
		while (nc < end)
			nc *= 2;
		char *d = realloc(f->data, nc);
		if (!d)
			return false;
		f->data = d;
		f->cap = nc;
	}
	if ((size_t)off > f->len) /* a hole reads as zero bytes */
		memset(f->data + f->len, 0, (size_t)off - f->len);
	memcpy(f->data + off, p, n);
	if (end > f->len)
		f->len = end;
	return true;
}

static enum sys_result do_open(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct subp_state *s = state(k);
	if (!s)
		return kern_raise(k, t, "MemoryError", "out of memory");
	const struct value *pv = &c->argv[0];
	const struct value *mv = c->argc > 1 ? &c->argv[1] : kern_kwarg(c, "mode");
	if (pv->type != V_STR)
		return kern_raise(k, t, "TypeError", "open() needs a path: a str");
	const char *path = vm_str_data(*pv, NULL);
	const char *mode = mv && mv->type == V_STR ? vm_str_data(*mv, NULL) : "r";
	if (mv && mv->type != V_STR)
		return kern_raise(k, t, "TypeError", "open() argument 'mode' must be str");
	char base = 0;
	bool plus = false, bad = false;
	for (const char *m = mode; *m; m++) {
		if (strchr("rwax", *m) && !base)
			base = *m;
		else if (*m == '+' && !plus)
			plus = true;
		else if (*m != 'b' && *m != 't')
			bad = true;
	}
	if (bad || !base || strlen(mode) > 4)
		return kern_raise(k, t, "ValueError", "invalid mode: '%s'", mode);
	int fi = file_find(s, path);
	if (base == 'r' && fi < 0)
		return kern_raise(k, t, "FileNotFoundError", "[Errno 2] No such file or directory: '%s'",
				  path);
	if (base == 'x' && fi >= 0)
		return kern_raise(k, t, "FileExistsError", "[Errno 17] File exists: '%s'", path);
	if (fi < 0) {
		if (!grow((void **)&s->files, &s->capfiles, s->nfiles, sizeof *s->files))
			return kern_raise(k, t, "MemoryError", "out of memory");
		fi = s->nfiles;
		s->files[fi] = (struct sp_file){.path = strdup(path)};
		if (!s->files[fi].path)
			return kern_raise(k, t, "MemoryError", "out of memory");
		s->nfiles++;
	}
	if (base == 'w')
		s->files[fi].len = 0; /* O_TRUNC */
	struct kobj *o = sync_obj_new(k, t, H_FILE);
	struct ofile *f = o ? calloc(1, sizeof *f) : NULL;
	if (!f)
		return kern_raise(k, t, "MemoryError", "out of memory");
	f->kind = H_FILE;
	f->file = fi;
	f->rd = base == 'r' || plus;
	f->wr = base != 'r' || plus;
	f->app = base == 'a';
	f->off = f->app ? (int64_t)s->files[fi].len : 0;
	snprintf(f->mode, sizeof f->mode, "%s", mode);
	o->ipc = f;
	return kern_answer(t, vm_handle(H_FILE, o->id));
}

static bool closed_in(const struct ofile *f, int proc)
{
	for (int i = 0; i < f->nclosed; i++)
		if (f->closed[i] == proc)
			return true;
	return false;
}

static enum sys_result file_method(struct kernel *k, struct task *t, struct kobj *o,
				   struct ofile *f, const char *m)
{
	const struct vm_call *c = &t->call;
	struct sp_file *sf = &k->subp->files[f->file];
	if (strcmp(m, "close") == 0 || strcmp(m, "__exit__") == 0) {
		if (!closed_in(f, t->proc)) {
			int *v = realloc(f->closed, (size_t)(f->nclosed + 1) * sizeof *v);
			if (!v)
				return kern_raise(k, t, "MemoryError", "out of memory");
			f->closed = v;
			f->closed[f->nclosed++] = t->proc;
		}
		return kern_answer(t, vm_none());
	}
	if (closed_in(f, t->proc))
		return kern_raise(k, t, "ValueError", "I/O operation on closed file.");
	if (strcmp(m, "__enter__") == 0)
		return kern_answer(t, vm_handle(H_FILE, o->id));
	if (strcmp(m, "write") == 0) {
		if (!f->wr)
			return kern_raise(k, t, "io.UnsupportedOperation", "not writable");
		size_t n = 0;
		const char *p = c->argc == 1 ? vm_str_data(c->argv[0], &n) : NULL;
		if (!p)
			return kern_raise(k, t, "TypeError", "write() argument must be str");
		if (f->app) /* O_APPEND: the end of the file, whatever the offset */
			f->off = (int64_t)sf->len;
		if (!file_write(sf, f->off, p, n))
			return kern_raise(k, t, "MemoryError", "out of memory");
		f->off += (int64_t)n;
		return kern_answer(t, vm_int((int64_t)n));
	}
	if (strcmp(m, "read") == 0 || strcmp(m, "readline") == 0 || strcmp(m, "readlines") == 0) {
		if (!f->rd)
			return kern_raise(k, t, "io.UnsupportedOperation", "not readable");
		size_t from = (size_t)f->off < sf->len ? (size_t)f->off : sf->len, to = sf->len;
		if (m[4] == 0 && c->argc > 0 && c->argv[0].type == V_INT && c->argv[0].u.i >= 0 &&
		    from + (size_t)c->argv[0].u.i < to)
			to = from + (size_t)c->argv[0].u.i;
		if (m[4] == 'l' && m[8] == 0) { /* readline */
			const char *nl = memchr(sf->data + from, '\n', to - from);
			if (nl)
				to = (size_t)(nl - sf->data) + 1;
		}
		f->off = (int64_t)to;
		if (m[4] == 0 || m[8] == 0)
			return kern_answer(t, vm_str(sf->data ? sf->data + from : "", to - from));
		int n = 0;
		for (size_t i = from; i < to; i++)
			n += sf->data[i] == '\n';
		n += to > from && sf->data[to - 1] != '\n';
		struct value *items = calloc((size_t)n + 1, sizeof *items);
		if (!items)
			return kern_raise(k, t, "MemoryError", "out of memory");
		n = 0;
		for (size_t i = from; i < to;) {
			const char *nl = memchr(sf->data + i, '\n', to - i);
			size_t e = nl ? (size_t)(nl - sf->data) + 1 : to;
			items[n++] = vm_str(sf->data + i, e - i);
			i = e;
		}
		struct value list = vm_list(n, items);
		free(items);
		return kern_answer(t, list);
	}
	if (strcmp(m, "seek") == 0) {
		if (c->argc < 1 || c->argv[0].type != V_INT)
			return kern_raise(k, t, "TypeError", "seek() takes an integer offset");
		int64_t whence = c->argc > 1 && c->argv[1].type == V_INT ? c->argv[1].u.i : 0;
		int64_t base = whence == 0 ? 0 : whence == 1 ? f->off : (int64_t)sf->len;
		if (whence < 0 || whence > 2)
			return kern_raise(k, t, "ValueError", "invalid whence (%lld, should be 0, 1 or 2)",
					  (long long)whence);
		if (base + c->argv[0].u.i < 0)
			return kern_raise(k, t, "ValueError", "negative seek position %lld",
					  (long long)(base + c->argv[0].u.i));
		f->off = base + c->argv[0].u.i;
		return kern_answer(t, vm_int(f->off));
	}
	if (strcmp(m, "tell") == 0)
		return kern_answer(t, vm_int(f->off));
	if (strcmp(m, "flush") == 0)
		return kern_answer(t, vm_none());
	return kern_raise(k, t, "AttributeError", "'_io.TextIOWrapper' object has no attribute '%s'",
			  m);
}

/* ---- commands ---- */

static int cmd_find(struct subp_state *s, const char *name)
{
	for (int i = 0; i < s->ncmds; i++)
		if (strcmp(s->cmds[i].name, name) == 0)
			return i;
	return -1;
}

static bool is_pipe(const struct value *v)
{
	return v && v->type == V_INT && v->u.i == -1;
}

/* stdout= or stderr=: None, PIPE (-1), STDOUT (-2, stderr only) or DEVNULL (-3); anything
 * else (a file descriptor, a file) is not modelled. */
static bool stream_arg(const struct value *v, bool is_err, enum stream *to)
{
	*to = TO_PARENT;
	if (!v || v->type == V_NONE)
		return true;
	if (v->type != V_INT || v->u.i < -3 || v->u.i > -1 || (v->u.i == -2 && !is_err))
		return false;
	*to = v->u.i == -1 ? TO_PIPE : v->u.i == -2 ? TO_STDOUT : TO_NULL;
	return true;
}

static bool buf_add(struct buf *b, const char *s, size_t len, bool newline)
{
	size_t need = b->n + len + 2;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < need)
			nc *= 2;
		char *d = realloc(b->p, nc);
		if (!d)
			return false;
		b->p = d;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	if (newline)
		b->p[b->n++] = '\n';
	return true;
}

static enum sys_result do_define(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	struct subp_state *s = state(k);
	if (!s)
		return kern_raise(k, t, "MemoryError", "out of memory");
	if (c->argv[0].type != V_STR || c->argv[1].type != V_FUNC)
		return kern_raise(k, t, "TypeError",
				  "subprocess.define() takes a command name and a function");
	const char *name = vm_str_data(c->argv[0], NULL);
	int i = cmd_find(s, name);
	if (i < 0) {
		if (!grow((void **)&s->cmds, &s->capcmds, s->ncmds, sizeof *s->cmds))
			return kern_raise(k, t, "MemoryError", "out of memory");
		i = s->ncmds++;
		s->cmds[i] = (struct sp_cmd){.name = strdup(name), .fn = vm_none()};
		if (!s->cmds[i].name)
			return kern_raise(k, t, "MemoryError", "out of memory");
	}
	vm_unref(s->cmds[i].fn);
	s->cmds[i].fn = c->argv[1];
	vm_ref(s->cmds[i].fn);
	return kern_answer(t, vm_none());
}

static enum sys_result do_spawn(struct kernel *k, struct task *t, int mode)
{
	const struct vm_call *c = &t->call;
	struct subp_state *s = state(k);
	if (!s)
		return kern_raise(k, t, "MemoryError", "out of memory");
	const struct value *av = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "args");
	const char *fname = mode == MODE_CALL ? "call" : mode == MODE_RUN ? "run" : "Popen";
	const char *name = NULL;
	struct value argl;
	if (av && av->type == V_STR) { /* a lone program name */
		name = vm_str_data(*av, NULL);
		vm_ref(*av);
		struct value one = *av;
		argl = vm_list(1, &one);
	} else if (av && (av->type == V_LIST || av->type == V_TUPLE) && vm_seq_len(*av) > 0) {
		struct value a0 = vm_seq_item(*av, 0);
		if (a0.type != V_STR)
			return kern_raise(k, t, "TypeError", "%s()'s command line must be str items",
					  fname);
		name = vm_str_data(a0, NULL);
		argl = vm_value_copy(*av);
	} else {
		return kern_raise(k, t, "TypeError", "%s() needs the command line: a list of str",
				  fname);
	}
	int ci = cmd_find(s, name);
	if (ci < 0) {
		vm_unref(argl);
		return kern_raise(k, t, "FileNotFoundError", "[Errno 2] No such file or directory: '%s'",
				  name);
	}
	const struct value *in = kern_kwarg(c, "input");
	if (in && in->type != V_STR && in->type != V_NONE) {
		vm_unref(argl);
		return kern_raise(k, t, "TypeError", "input= must be a str (bytes are written as str)");
	}
	const struct value *co = kern_kwarg(c, "capture_output");
	bool capture = co && vm_truthy(*co);
	enum stream out_to, err_to;
	const struct value *so = kern_kwarg(c, "stdout"), *se = kern_kwarg(c, "stderr");
	if (capture && (so || se)) {
		vm_unref(argl);
		return kern_raise(k, t, "ValueError",
				  "stdout and stderr arguments may not be used with capture_output.");
	}
	if (!stream_arg(so, false, &out_to) || !stream_arg(se, true, &err_to)) {
		vm_unref(argl);
		return kern_raise(k, t, "NotImplementedError",
				  "stdout= and stderr= take None, subprocess.PIPE, DEVNULL or (stderr) "
				  "STDOUT here; files are not modelled");
	}
	if (capture)
		out_to = err_to = TO_PIPE;
	struct kobj *o = sync_obj_new(k, t, H_POPEN);
	struct popen *po = o ? calloc(1, sizeof *po) : NULL;
	if (!po) {
		vm_unref(argl);
		return kern_raise(k, t, "MemoryError", "out of memory");
	}
	snprintf(o->name, sizeof o->name, "%.40s", name);
	po->kind = H_POPEN;
	po->mode = mode;
	po->cmd = ci;
	po->args = argl;
	po->out_to = out_to;
	po->err_to = err_to;
	po->stdin_pipe = mode == MODE_POPEN && is_pipe(kern_kwarg(c, "stdin"));
	po->input = in && in->type == V_STR ? *in : vm_str("", 0);
	if (in && in->type == V_STR)
		vm_ref(*in);
	po->returncode = -1;
	po->child = -1;
	po->proc = -1; /* set when the fork ends */
	po->waiters = (struct waitq){-1, -1};
	o->ipc = po;
	char how[64];
	snprintf(how, sizeof how, "subprocess.%s(['%.30s', ...])", fname, name);
	return kern_spawn_command(k, t, o->id, name, how);
}

static void start_child(struct kernel *k, struct popen *po, struct task *by)
{
	struct task *child = k->tasks[po->child];
	struct proc *cp = k->procs[child->proc];
	struct value argv[2] = {vm_value_copy(po->args), po->input};
	struct value fn = k->subp->cmds[po->cmd].fn;
	vm_ref(po->input);
	vm_ref(fn);
	child->vm = vm_thread_create_call(cp->vm, fn, 2, argv);
	if (!child->vm) {
		k->oom = true;
		kern_stop(k, END_LIMIT, "out of memory starting a command");
		return;
	}
	vm_thread_set_user(child->vm, child);
	if (po->child_waits_stdin) {
		po->child_waits_stdin = false;
		kern_wake(k, child, vm_none(), by,
			  kern_reason(k, "its stdin was written and closed by communicate()"));
	} else {
		kern_make_ready(k, child, ENQ_NEW, kern_reason(k, "command %s started", cp->name));
	}
}

static void wait_for(struct kernel *k, struct task *t, struct popen *po, const char *what)
{
	kern_wait(k, t, &po->waiters, TS_WAIT, -1,
		   kern_reason(k, "waits in %s at line %d for command %s (pid %d)", what, t->line,
			       k->procs[po->proc]->name, k->procs[po->proc]->pid));
}

void subp_spawn_end(struct kernel *k, struct task *t, struct task *child)
{
	struct proc *cp = k->procs[child->proc];
	int id = cp->popen;
	struct popen *po = popen_of(k, id);
	po->child = child->id;
	po->proc = child->proc;
	/* the caller's answer or wait first: called from an event handler, start_child() may
	 * run the command to its exit at once on an idle core */
	if (po->mode == MODE_POPEN)
		kern_answer(t, vm_handle(H_POPEN, id));
	else
		wait_for(k, t, po, po->mode == MODE_CALL ? "subprocess.call()" : "subprocess.run()");
	if (po->stdin_pipe) { /* it reads its stdin first: it waits for communicate() */
		po->child_waits_stdin = true;
		kern_set_state(k, child, TS_WAIT,
			       kern_reason(k, "command %s reads its stdin (a pipe) until the parent "
					      "writes it", cp->name));
	} else {
		start_child(k, po, t);
	}
}

/* communicate()'s and CompletedProcess's stdout or stderr: the pipe's text, None without
 * a pipe. */
static struct value pipe_value(const struct buf *b, enum stream to)
{
	return to == TO_PIPE ? vm_str(b->p ? b->p : "", b->n) : vm_none();
}

/* What a waiter's pending call returns now that the command has exited. */
static struct value answer_for(struct kernel *k, struct popen *po, int id, const struct task *w)
{
	const char *m = w->call.name ? w->call.name : "";
	(void)k;
	if (w->call.sys == SYS_NEW)
		return po->mode == MODE_RUN ? vm_handle(H_POPEN, id) : vm_int(po->returncode);
	if (strcmp(m, "communicate") == 0) {
		struct value pair[2] = {pipe_value(&po->out, po->out_to), pipe_value(&po->err, po->err_to)};
		return vm_tuple(2, pair);
	}
	return vm_int(po->returncode);
}

bool subp_print(struct kernel *k, struct proc *p, const char *s, size_t len)
{
	struct popen *po = popen_of(k, p->popen);
	if (po->out_to == TO_PARENT)
		return false;
	if (po->out_to == TO_PIPE && !buf_add(&po->out, s, len, true))
		k->oom = true; /* the line is lost */
	return true;
}

/* Text the command writes to its stderr: into the pipe, where its stdout goes, or printed
 * line by line as the program's output by t, the command's main thread. */
static void write_stderr(struct kernel *k, struct task *t, struct popen *po, const char *s,
			 size_t len)
{
	enum stream to = po->err_to == TO_STDOUT ? po->out_to : po->err_to;
	struct buf *b = po->err_to == TO_STDOUT ? &po->out : &po->err;
	if (to == TO_NULL || len == 0)
		return;
	if (to == TO_PIPE) {
		if (!buf_add(b, s, len, false))
			k->oom = true;
		return;
	}
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - s) : len;
		char line[1024];
		snprintf(line, sizeof line, "%.*s", (int)(e - i), s + i);
		uint32_t id = trace_intern(k->tr, line);
		kern_emit(k, (struct trace_rec){.tid = t->trace_idx, .core = (int16_t)t->core,
					   .kind = TR_PRINT, .obj = -1,
					   .text = id == UINT32_MAX ? 0 : id, .line = (uint32_t)t->line});
		i = e + 1;
	}
}

int subp_returned(struct kernel *k, struct task *t, struct value r)
{
	struct popen *po = popen_of(k, k->procs[t->proc]->popen);
	if (r.type == V_NONE || r.type == V_INT || r.type == V_BOOL)
		return r.type == V_NONE ? 0 : (int)(r.u.i & 0xff); /* as exit(n): -1 gives 255 */
	if ((r.type == V_TUPLE || r.type == V_LIST) && vm_seq_len(r) == 2) { /* (code, stderr) */
		struct value code = vm_seq_item(r, 0), text = vm_seq_item(r, 1);
		size_t len;
		const char *s = vm_str_data(text, &len);
		bool is_code = code.type == V_NONE || code.type == V_INT || code.type == V_BOOL;
		if (is_code && (s || text.type == V_NONE)) {
			if (s)
				write_stderr(k, t, po, s, len);
			return code.type == V_NONE ? 0 : (int)(code.u.i & 0xff);
		}
	}
	/* anything else as exit(obj) takes it: str(obj) and a newline to stderr, code 1 */
	char text[4096];
	size_t len;
	const char *s = vm_str_data(r, &len);
	if (!s) {
		vm_value_repr(k->prog, r, text, sizeof text);
		s = text;
		len = strlen(text);
	}
	char *line = malloc(len + 1);
	if (!line) {
		k->oom = true;
		return 1;
	}
	memcpy(line, s, len);
	line[len] = '\n';
	write_stderr(k, t, po, line, len + 1);
	free(line);
	return 1;
}

bool subp_exited(struct kernel *k, struct proc *p)
{
	int id = p->popen;
	struct popen *po = popen_of(k, id);
	if (po->done)
		return false;
	bool waited = po->waiters.head >= 0;
	po->done = true;
	po->returncode = p->exitcode;
	po->child_waits_stdin = false; /* killed before communicate() wrote its stdin */
	struct task *by = p->main_task >= 0 ? k->tasks[p->main_task] : NULL;
	uint32_t r = p->exitcode < 0
			     ? kern_reason(k, "command %s (pid %d) was killed by signal %d", p->name,
					   p->pid, -p->exitcode)
			     : kern_reason(k, "command %s (pid %d) exited with code %d", p->name, p->pid,
					   p->exitcode);
	while (po->waiters.head >= 0) {
		struct task *w = k->tasks[po->waiters.head];
		kern_wake(k, w, answer_for(k, po, id, w), by, r);
	}
	return waited;
}

/* Popen.send_signal(sig), terminate() (SIGTERM), kill() (SIGKILL): as CPython does, nothing
 * once the command has exited; otherwise the signal's default action on Linux. */
static enum sys_result popen_signal(struct kernel *k, struct task *t, struct popen *po, int sig,
				    const char *how)
{
	static const char *const names[] = {[1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT",
					    [6] = "SIGABRT", [9] = "SIGKILL", [10] = "SIGUSR1",
					    [12] = "SIGUSR2", [13] = "SIGPIPE", [14] = "SIGALRM",
					    [15] = "SIGTERM"};
	struct proc *cp = k->procs[po->proc];
	if (po->done || cp->ended || sig == 0) /* signal 0 only asks whether it exists */
		return kern_answer(t, vm_none());
	if (cp->id == t->proc)
		return kern_raise(k, t, "RuntimeError", "a command cannot signal itself here");
	if (sig == 17 || sig == 18 || sig == 23 || sig == 28) /* SIGCHLD, SIGCONT, SIGURG, SIGWINCH */
		return kern_answer(t, vm_none());             /* ignored by default */
	if (sig >= 19 && sig <= 22)
		return kern_raise(k, t, "NotImplementedError",
				  "stopping a command (signal %d) is not modelled", sig);
	char why[128];
	const char *name = sig < (int)(sizeof names / sizeof names[0]) ? names[sig] : NULL;
	if (name)
		snprintf(why, sizeof why, "%s by Popen.%s() at line %d", name, how, t->line);
	else
		snprintf(why, sizeof why, "signal %d by Popen.%s() at line %d", sig, how, t->line);
	kern_kill_process(k, cp, -sig, why);
	return kern_answer(t, vm_none());
}

static enum sys_result popen_method(struct kernel *k, struct task *t, struct kobj *o,
				    struct popen *po, const char *m)
{
	const struct vm_call *c = &t->call;
	if (po->mode == MODE_RUN)
		return kern_raise(k, t, "AttributeError",
				  "'CompletedProcess' object has no attribute '%s'", m);
	if (po->done && po->proc >= 0 && (strcmp(m, "communicate") == 0 || strcmp(m, "wait") == 0 ||
					  strcmp(m, "poll") == 0))
		kern_reap(k, k->procs[po->proc], "Popen's waitpid()");
	if (strcmp(m, "communicate") == 0) {
		const struct value *in = c->argc > 0 ? &c->argv[0] : kern_kwarg(c, "input");
		if (in && in->type != V_NONE) {
			if (!po->stdin_pipe && !po->child_waits_stdin)
				return kern_raise(k, t, "ValueError",
						  "communicate() with input needs Popen(..., stdin=PIPE)");
			if (in->type != V_STR)
				return kern_raise(k, t, "TypeError",
						  "communicate() input must be a str (bytes are written as str)");
			vm_unref(po->input);
			po->input = *in;
			vm_ref(*in);
		}
		po->stdin_pipe = false; /* written and closed */
		if (po->child_waits_stdin)
			start_child(k, po, t);
		if (po->done)
			return kern_answer(t, answer_for(k, po, o->id, t));
		wait_for(k, t, po, "communicate()");
		return SR_BLOCKED;
	}
	if (strcmp(m, "wait") == 0) {
		if (po->done)
			return kern_answer(t, vm_int(po->returncode));
		wait_for(k, t, po, "wait()");
		return SR_BLOCKED;
	}
	if (strcmp(m, "poll") == 0)
		return kern_answer(t, po->done ? vm_int(po->returncode) : vm_none());
	if (strcmp(m, "terminate") == 0 || strcmp(m, "kill") == 0 || strcmp(m, "send_signal") == 0) {
		int sig = m[0] == 't' ? 15 : 9;
		if (m[0] == 's') {
			if (c->argc != 1 || (c->argv[0].type != V_INT && c->argv[0].type != V_BOOL))
				return kern_raise(k, t, "TypeError", "send_signal() takes a signal number");
			if (c->argv[0].u.i < 0 || c->argv[0].u.i > 64)
				return kern_raise(k, t, "OSError", "[Errno 22] Invalid argument");
			sig = (int)c->argv[0].u.i;
		}
		return popen_signal(k, t, po, sig, m);
	}
	if (strcmp(m, "__enter__") == 0)
		return kern_answer(t, vm_handle(H_POPEN, o->id));
	return kern_raise(k, t, "AttributeError", "'Popen' object has no attribute '%s'", m);
}

enum sys_result subp_method(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	int id = (int)c->self.u.i;
	struct kobj *o = id >= 0 && id < k->nobjs ? k->objs[id] : NULL;
	if (!o || !o->ipc)
		return kern_raise(k, t, "RuntimeError", "not a file or Popen object");
	if (o->kind == H_FILE)
		return file_method(k, t, o, o->ipc, c->name);
	return popen_method(k, t, o, o->ipc, c->name);
}

enum sys_result subp_getattr(struct kernel *k, struct task *t)
{
	const struct vm_call *c = &t->call;
	int id = (int)c->self.u.i;
	struct kobj *o = id >= 0 && id < k->nobjs ? k->objs[id] : NULL;
	const char *a = c->name;
	if (o && o->kind == H_FILE) {
		struct ofile *f = o->ipc;
		if (strcmp(a, "name") == 0) {
			const char *p = k->subp->files[f->file].path;
			return kern_answer(t, vm_str(p, strlen(p)));
		}
		if (strcmp(a, "mode") == 0)
			return kern_answer(t, vm_str(f->mode, strlen(f->mode)));
		if (strcmp(a, "closed") == 0)
			return kern_answer(t, vm_bool(closed_in(f, t->proc)));
		return kern_raise(k, t, "AttributeError",
				  "'_io.TextIOWrapper' object has no attribute '%s'", a);
	}
	if (o && o->kind == H_POPEN) {
		struct popen *po = o->ipc;
		if (strcmp(a, "returncode") == 0)
			return kern_answer(t, po->done ? vm_int(po->returncode) : vm_none());
		if (strcmp(a, "pid") == 0 && po->mode != MODE_RUN && po->proc >= 0)
			return kern_answer(t, vm_int(k->procs[po->proc]->pid));
		if (strcmp(a, "args") == 0) {
			vm_ref(po->args);
			return kern_answer(t, po->args);
		}
		if (po->mode == MODE_RUN && strcmp(a, "stdout") == 0)
			return kern_answer(t, pipe_value(&po->out, po->out_to));
		if (po->mode == MODE_RUN && strcmp(a, "stderr") == 0)
			return kern_answer(t, pipe_value(&po->err, po->err_to));
		return kern_raise(k, t, "AttributeError", "'%s' object has no attribute '%s'",
				  po->mode == MODE_RUN ? "CompletedProcess" : "Popen", a);
	}
	return kern_raise(k, t, "AttributeError", "object has no attribute '%s'", a);
}

enum sys_result subp_new(struct kernel *k, struct task *t)
{
	const char *cls = t->call.name ? t->call.name : "";
	if (strcmp(cls, "open") == 0)
		return do_open(k, t);
	if (strcmp(cls, "subprocess.define") == 0)
		return do_define(k, t);
	if (strcmp(cls, "subprocess.call") == 0)
		return do_spawn(k, t, MODE_CALL);
	if (strcmp(cls, "subprocess.run") == 0)
		return do_spawn(k, t, MODE_RUN);
	if (strcmp(cls, "Popen") == 0)
		return do_spawn(k, t, MODE_POPEN);
	return kern_raise(k, t, "NameError", "%s is not part of the scenario language yet", cls);
}

void subp_free_obj(struct kernel *k, struct kobj *o)
{
	(void)k;
	if (o->kind == H_POPEN) {
		struct popen *po = o->ipc;
		vm_unref(po->args);
		vm_unref(po->input);
		free(po->out.p);
		free(po->err.p);
	} else {
		free(((struct ofile *)o->ipc)->closed);
	}
	free(o->ipc);
	o->ipc = NULL;
}

void subp_free(struct kernel *k)
{
	struct subp_state *s = k->subp;
	if (!s)
		return;
	for (int i = 0; i < s->ncmds; i++) {
		free(s->cmds[i].name);
		vm_unref(s->cmds[i].fn);
	}
	for (int i = 0; i < s->nfiles; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->cmds);
	free(s->files);
	free(s);
	k->subp = NULL;
}

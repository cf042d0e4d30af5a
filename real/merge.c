/* merge.c — turns the records that a real run's threads wrote to shared memory into the trace
 * the simulator makes, so every output reads a real run unchanged.
 *
 * How states are derived (user space cannot see the scheduler's run queue exactly):
 * - running: from a thread's first instruction, and again when it returns from a wait; inside
 *   compute() the spin loop watches both clocks, and a stretch where wall time passed but the
 *   thread's CPU clock did not is recorded as ready (preempted) from the last sample before the
 *   gap to the first after it;
 * - a thread's core is sched_getcpu() at each record (and every 64 spins in compute()); when a
 *   thread is seen running on a core that another thread was last seen running on, the other
 *   one must have left it: it is marked ready there ("displaced", inferred);
 * - blocked states (sleep, io, join, GIL) are recorded by the thread itself around the wait.
 * Records are sorted by time (CLOCK_MONOTONIC, one clock for every process), then by writer and
 * order of writing; a thread's records after its end are dropped. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vm.h"

struct mrec {
	struct real_rec r;
	int32_t w;  /* writer slot (INT32_MAX for records the merge adds) */
	uint32_t i; /* index in the writer's region */
};

static int mrec_cmp(const void *a, const void *b)
{
	const struct mrec *x = a, *y = b;
	if (x->r.t != y->r.t)
		return x->r.t < y->r.t ? -1 : 1;
	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

struct tstate {
	int idx;     /* trace thread index, -1 if not in the trace */
	int cur;     /* current state, -1 before the first record */
	int core;    /* core while running */
	bool done;
	uint32_t reason;
};

struct merger {
	const struct real_merge_in *in;
	const struct real_shm *s;
	struct trace *tr;
	struct tstate *ts;
	int nthreads, nprocs;
	int *owner;   /* per core: thread slot running there, -1 */
	bool oom;
};

static const char *tname(const struct merger *g, int slot)
{
	if (slot < 0 || slot >= g->nthreads)
		return "?";
	return g->s->threads[slot].name;
}

static int tpid(const struct merger *g, int slot)
{
	if (slot < 0 || slot >= g->nthreads)
		return 0;
	int p = g->s->threads[slot].proc;
	return p >= 0 && p < g->nprocs ? g->s->procs[p].pid : 0;
}

static const char *pname(const struct merger *g, int p)
{
	return p >= 0 && p < g->nprocs ? g->s->procs[p].name : "?";
}

static int ppid_of(const struct merger *g, int p)
{
	return p >= 0 && p < g->nprocs ? g->s->procs[p].pid : 0;
}

static uint32_t intern(struct merger *g, const char *text)
{
	uint32_t id = trace_intern(g->tr, text);
	if (id == UINT32_MAX) {
		g->oom = true;
		return 0;
	}
	return id;
}

static uint32_t reason_of(struct merger *g, const struct real_rec *r, int core)
{
	char b[512], d1[32], d2[32];
	int line = (int)r->line;
	const char *self = tname(g, r->subject);
	switch (r->reason) {
	case RR_PROGRAM_START: return intern(g, "the program starts");
	case RR_RUN: snprintf(b, sizeof b, "runs on core %d (the OS's choice)", core); break;
	case RR_PREEMPTED:
		return intern(g, "preempted by the OS (seen in compute(): wall time passed, CPU time did not)");
	case RR_RESUMED: snprintf(b, sizeof b, "back on core %d after a preemption", core); break;
	case RR_MIGRATED: snprintf(b, sizeof b, "moved to core %d by the OS", core); break;
	case RR_SLEEP:
	case RR_IO:
		snprintf(b, sizeof b, "%s(%s) at line %d", r->reason == RR_IO ? "io" : "sleep",
			 vm_format_dur(r->arg, d1, sizeof d1), line);
		break;
	case RR_SLEEP_END:
		snprintf(b, sizeof b, "%s ends (line %d)", r->arg ? "io" : "sleep", line);
		break;
	case RR_JOIN_THREAD:
	case RR_JOIN_PROC: {
		const char *who = r->reason == RR_JOIN_THREAD ? tname(g, r->obj) : pname(g, r->obj);
		if (r->arg >= 0)
			snprintf(b, sizeof b, "%s waits in join(%s, timeout=%s) at line %d", self, who,
				 vm_format_dur(r->arg, d1, sizeof d1), line);
		else
			snprintf(b, sizeof b, "%s waits in join(%s) at line %d", self, who, line);
		break;
	}
	case RR_JOIN_DONE:
		if (r->arg)
			snprintf(b, sizeof b, "process %s (pid %d) exited", pname(g, r->obj),
				 ppid_of(g, r->obj));
		else
			snprintf(b, sizeof b, "%s finished", tname(g, r->obj));
		break;
	case RR_JOIN_TIMEOUT: snprintf(b, sizeof b, "timeout ends (join at line %d)", line); break;
	case RR_SHUTDOWN_THREAD:
		snprintf(b, sizeof b, "interpreter shutdown joins non-daemon thread %s", tname(g, r->obj));
		break;
	case RR_SHUTDOWN_CHILD:
		snprintf(b, sizeof b, "multiprocessing's exit hook joins child %s (pid %d)",
			 pname(g, r->obj), ppid_of(g, r->obj));
		break;
	case RR_GIL_WAIT:
		snprintf(b, sizeof b, "%s waits for the GIL held by %s (%s switch interval)", self,
			 tname(g, r->obj), vm_format_dur(g->in->switch_interval, d2, sizeof d2));
		break;
	case RR_GIL_DROP:
		snprintf(b, sizeof b, "dropped the GIL: a thread waited %s for it (forced switch)",
			 vm_format_dur(g->in->switch_interval, d2, sizeof d2));
		break;
	case RR_GIL_TAKEN: return intern(g, "took the GIL");
	case RR_INTERP_WAIT:
		return intern(g, "waits for the runner's interpreter mutex (the VM is not thread-safe; "
				 "this is not a GIL)");
	case RR_INTERP_TAKEN: return intern(g, "took the interpreter mutex");
	case RR_THREAD_NEW:
	case RR_PROC_NEW:
	case RR_FORK_NEW:
		snprintf(b, sizeof b, "%s by %s (pid %d) at line %d",
			 r->reason == RR_THREAD_NEW ? "Thread.start()"
			 : r->reason == RR_PROC_NEW ? "Process.start()" : "os.fork()",
			 tname(g, r->obj), tpid(g, r->obj), line);
		break;
	case RR_THREAD_STARTED: return intern(g, "thread started");
	case RR_PROC_STARTED: return intern(g, "process started");
	case RR_FORK_RETURNED: return intern(g, "fork() returned");
	case RR_RETURNED: return intern(g, "its function returned");
	case RR_EXCEPTION: return intern(g, "ended by an uncaught exception");
	case RR_PROC_EXIT:
		snprintf(b, sizeof b, "process %d exits with code %d", tpid(g, r->subject), (int)r->arg);
		break;
	case RR_KILLED:
		if (r->arg < 0)
			snprintf(b, sizeof b, "its process was killed by signal %d (%s)", (int)-r->arg,
				 strsignal((int)-r->arg));
		else
			snprintf(b, sizeof b, "its process ended (code %d) without recording its end",
				 (int)r->arg);
		break;
	case RR_DAEMON_END:
		snprintf(b, sizeof b, "daemon thread %s ends with its process", self);
		break;
	case RR_QUEUE_GET:
	case RR_QUEUE_PUT:
	case RR_POOL_TASK:
	case RR_POOL_RUN:
	case RR_FEEDER_FLUSH: {
		const char *on = "?";
		if (r->obj >= 0 && r->obj < REAL_MAX_OBJS && r->obj < atomic_load(&g->s->hdr->nobjs))
			on = g->s->objs[r->obj].name;
		if (r->reason == RR_POOL_TASK)
			snprintf(b, sizeof b, "%s waits for a task of %s", self, on);
		else if (r->reason == RR_POOL_RUN)
			snprintf(b, sizeof b, "%s runs task %lld of %s", self, (long long)r->arg, on);
		else if (r->reason == RR_QUEUE_GET)
			snprintf(b, sizeof b, "%s waits in %s.get() at line %d", self, on, line);
		else if (r->reason == RR_QUEUE_PUT)
			snprintf(b, sizeof b, "%s: put()/send() of %lld bytes at line %d waits for room "
				 "in %s's pipe", self, (long long)r->arg, line, on);
		else
			snprintf(b, sizeof b, "%s cannot exit until its queue feeder flushes %lld bytes "
				 "into %s's full pipe, which only a get() would drain", self,
				 (long long)r->arg, on);
		break;
	}
	case RR_SYNC_WAIT:
	case RR_COND_WAIT:
	case RR_COND_REACQUIRE:
	case RR_SYNC_DONE: {
		const char *on = "?";
		int hold = -1;
		if (r->obj >= 0 && r->obj < REAL_MAX_OBJS &&
		    r->obj < atomic_load(&g->s->hdr->nobjs)) {
			on = g->s->objs[r->obj].name;
			hold = (int)r->arg;
		}
		if (r->reason == RR_SYNC_WAIT && hold >= 0)
			snprintf(b, sizeof b, "%s waits for %s held by %s (line %d)", self, on,
				 tname(g, hold), line);
		else if (r->reason == RR_SYNC_WAIT)
			snprintf(b, sizeof b, "%s waits on %s (line %d)", self, on, line);
		else if (r->reason == RR_COND_WAIT)
			snprintf(b, sizeof b, "%s waits on %s (line %d), its lock released", self, on, line);
		else if (r->reason == RR_COND_REACQUIRE)
			snprintf(b, sizeof b, "%s woke on %s; waits to re-acquire its lock", self, on);
		else
			snprintf(b, sizeof b, "%s %s (line %d)", r->arg ? "timed out waiting on" :
				 "got", on, line);
		break;
	}
	default: return 0;
	}
	return intern(g, b);
}

static void emit(struct merger *g, struct trace_rec rec)
{
	if (trace_emit(g->tr, &rec) < 0)
		g->oom = g->oom || !(g->tr->max_recs && g->tr->nrecs >= g->tr->max_recs);
}

static int core_of(const struct merger *g, int cpu)
{
	if (cpu >= 0 && cpu < g->in->ncpu && g->in->cpu_core[cpu] >= 0)
		return g->in->cpu_core[cpu];
	return cpu >= 0 && g->in->ncores > 0 ? cpu % g->in->ncores : 0;
}

static void set_state(struct merger *g, int slot, int64_t t, int state, int core, uint32_t reason,
		      uint32_t line)
{
	struct tstate *s = &g->ts[slot];
	if (s->cur == TS_RUNNING && (state != TS_RUNNING || core != s->core)) {
		if (g->owner[s->core] == slot) {
			g->owner[s->core] = -1;
			if (state != TS_RUNNING || core != s->core)
				emit(g, (struct trace_rec){.t = t, .tid = -1, .core = (int16_t)s->core,
							   .kind = TR_CORE, .state = CS_IDLE, .obj = -1});
		}
	}
	if (state == TS_RUNNING) {
		int other = g->owner[core];
		if (other >= 0 && other != slot) {
			/* one core runs one thread: the other one left it before now */
			struct tstate *o = &g->ts[other];
			o->cur = TS_READY;
			char b[160];
			snprintf(b, sizeof b, "displaced from core %d by %s (inferred)", core,
				 tname(g, slot));
			o->reason = intern(g, b);
			emit(g, (struct trace_rec){.t = t, .tid = o->idx, .core = -1, .kind = TR_STATE,
						   .state = TS_READY, .obj = -1, .reason = o->reason});
		}
		g->owner[core] = slot;
		emit(g, (struct trace_rec){.t = t, .tid = s->idx, .core = (int16_t)core, .kind = TR_CORE,
					   .state = CS_RUN, .obj = -1});
	}
	s->cur = state;
	s->core = state == TS_RUNNING ? core : -1;
	s->reason = reason;
	if (state == TS_DONE)
		s->done = true;
	emit(g, (struct trace_rec){.t = t, .tid = s->idx,
				   .core = (int16_t)(state == TS_RUNNING ? core : -1), .kind = TR_STATE,
				   .state = (uint8_t)state, .obj = -1, .reason = reason, .line = line});
}

static void apply(struct merger *g, const struct real_rec *r)
{
	int slot = r->subject;
	if (slot < 0 || slot >= g->nthreads || g->ts[slot].idx < 0 || g->ts[slot].done)
		return;
	struct tstate *s = &g->ts[slot];
	int core = core_of(g, r->cpu);
	switch (r->kind) {
	case RK_STATE:
		if (r->state >= TS_COUNT)
			return;
		if (r->state == s->cur && (r->state != TS_RUNNING || core == s->core)) {
			/* nothing changed (a new reason for the same wait, say); a feeder's flush
			 * says how much is left, which the report of a deadlock gives */
			if (r->reason == RR_FEEDER_FLUSH)
				s->reason = reason_of(g, r, core);
			return;
		}
		if (r->state == TS_NEW && s->cur >= 0)
			return;
		set_state(g, slot, r->t, r->state, core, reason_of(g, r, core), r->line);
		return;
	case RK_SPAWN_READY:
		if (s->cur == TS_NEW)
			set_state(g, slot, r->t, TS_READY, core, reason_of(g, r, core), r->line);
		return;
	case RK_PRINT:
	case RK_MARK: {
		uint32_t text = intern(g, real_shm_text_at(g->s, r->arg));
		emit(g, (struct trace_rec){.t = r->t, .tid = s->idx,
					   .core = (int16_t)(s->cur == TS_RUNNING ? s->core : -1),
					   .kind = r->kind == RK_PRINT ? TR_PRINT : TR_MARK, .obj = -1,
					   .text = text,
					   .reason = r->kind == RK_MARK ? intern(g, "uncaught exception") : 0,
					   .line = r->line});
		return;
	}
	case RK_WAKE:
		if (r->obj >= 0 && r->obj < g->nthreads && g->ts[r->obj].idx >= 0)
			emit(g, (struct trace_rec){.t = r->t, .tid = s->idx, .core = -1, .kind = TR_WAKE,
						   .obj = g->ts[r->obj].idx,
						   .reason = reason_of(g, r, core)});
		return;
	}
}

/* The threads that had not finished, with what they were doing, for the end message. */
static void describe_live(struct merger *g, char *out, size_t size, bool *all_blocked)
{
	size_t n = strlen(out);
	*all_blocked = true;
	int live = 0;
	for (int i = 0; i < g->nthreads && n + 1 < size; i++) {
		struct tstate *s = &g->ts[i];
		if (s->idx < 0 || s->done || s->cur < 0)
			continue;
		live++;
		bool blocked = s->cur == TS_JOIN || s->cur == TS_LOCK || s->cur == TS_WAIT ||
			       s->cur == TS_GIL;
		*all_blocked = *all_blocked && blocked;
		n += (size_t)snprintf(out + n, size - n, " %s (pid %d): %s%s%s;", tname(g, i), tpid(g, i),
				      thread_state_name((enum thread_state)s->cur),
				      s->reason ? ", " : "", trace_str(g->tr, s->reason));
	}
	if (live == 0)
		*all_blocked = false;
}

static void finish(struct merger *g, int64_t last_done, int errors, int64_t first_error_text)
{
	const struct real_merge_in *in = g->in;
	struct trace *tr = g->tr;
	char d[32];
	bool all_blocked = false;
	switch (in->stop) {
	case STOP_COMPLETED:
		tr->end = END_COMPLETED;
		tr->makespan = last_done;
		for (int p = 0; p < g->nprocs; p++) {
			const struct real_pslot *ps = &g->s->procs[p];
			if (atomic_load(&ps->state) == PS_DIED && !ps->terminated && !errors) {
				tr->end = END_ERROR;
				snprintf(tr->end_msg, sizeof tr->end_msg,
					 "process %s (pid %d) ended without finishing its code (%s %d)",
					 ps->name, ps->pid, ps->exitcode < 0 ? "signal" : "exit code",
					 ps->exitcode < 0 ? -ps->exitcode : ps->exitcode);
				break;
			}
		}
		if (errors) {
			tr->end = END_ERROR;
			snprintf(tr->end_msg, sizeof tr->end_msg,
				 "%d thread%s ended with an exception; the first: %.900s", errors,
				 errors == 1 ? "" : "s", real_shm_text_at(g->s, first_error_text));
			size_t n = strlen(tr->end_msg);
			if (n && tr->end_msg[n - 1] == '\n')
				tr->end_msg[n - 1] = '\0';
		}
		break;
	case STOP_UNTIL:
		tr->end = END_UNTIL;
		tr->makespan = in->stop_t;
		snprintf(tr->end_msg, sizeof tr->end_msg,
			 "stopped at --until %s (the run's processes were killed)",
			 vm_format_dur(in->stop_t, d, sizeof d));
		break;
	case STOP_TIMEOUT:
		tr->makespan = in->stop_t;
		snprintf(tr->end_msg, sizeof tr->end_msg,
			 "the real run did not finish within --timeout %s; its process group was killed "
			 "(SIGKILL). Still alive:", vm_format_dur(in->timeout, d, sizeof d));
		describe_live(g, tr->end_msg, sizeof tr->end_msg, &all_blocked);
		tr->end = all_blocked ? END_DEADLOCK : END_LIMIT;
		if (all_blocked) {
			char msg[sizeof tr->end_msg];
			snprintf(msg, sizeof msg, "every live thread was still blocked when --timeout %s "
				 "ran out (a real deadlock); its process group was killed (SIGKILL):",
				 vm_format_dur(in->timeout, d, sizeof d));
			describe_live(g, msg, sizeof msg, &all_blocked);
			memcpy(tr->end_msg, msg, sizeof msg);
		}
		break;
	case STOP_SIGNAL:
		tr->end = END_LIMIT;
		tr->makespan = in->stop_t;
		snprintf(tr->end_msg, sizeof tr->end_msg,
			 "interrupted by signal %d (%s); the run's processes were killed. Still alive:",
			 in->signal, strsignal(in->signal));
		describe_live(g, tr->end_msg, sizeof tr->end_msg, &all_blocked);
		break;
	}
	if (atomic_load(&g->s->hdr->overflow)) {
		size_t n = strlen(tr->end_msg);
		snprintf(tr->end_msg + n, sizeof tr->end_msg - n,
			 "%srecords were lost: a thread wrote more than %d records, or the text arena "
			 "(%zu MB) filled", n ? "; " : "", REAL_RECS_PER_THREAD, REAL_TEXT_CAP >> 20);
		if (tr->end == END_COMPLETED)
			tr->end = END_LIMIT;
	}
}

struct trace *real_merge(const struct real_merge_in *in)
{
	const struct real_shm *s = in->shm;
	struct merger g = {.in = in, .s = s};
	g.nprocs = atomic_load(&s->hdr->nprocs);
	g.nthreads = atomic_load(&s->hdr->nthreads);
	if (g.nprocs > REAL_MAX_PROCS)
		g.nprocs = REAL_MAX_PROCS;
	if (g.nthreads > REAL_MAX_THREADS)
		g.nthreads = REAL_MAX_THREADS;
	g.tr = trace_create(in->ncores);
	g.ts = calloc((size_t)g.nthreads + 1, sizeof *g.ts);
	g.owner = malloc(((size_t)in->ncores + 1) * sizeof *g.owner);
	int *pmap = malloc(((size_t)g.nprocs + 1) * sizeof *pmap);
	size_t total = 0;
	for (int i = 0; i < g.nthreads; i++) {
		uint32_t n = atomic_load_explicit(&s->threads[i].nrecs, memory_order_acquire);
		total += n > REAL_RECS_PER_THREAD ? REAL_RECS_PER_THREAD : n;
	}
	struct mrec *all = malloc((total + (size_t)g.nthreads + 1) * sizeof *all);
	if (!g.tr || !g.ts || !g.owner || !pmap || !all)
		goto oom;
	g.tr->max_recs = in->max_recs;
	snprintf(g.tr->origin, sizeof g.tr->origin, "real");
	snprintf(g.tr->source_name, sizeof g.tr->source_name, "%s", in->source_name);
	for (int c = 0; c < in->ncores; c++)
		g.owner[c] = -1;

	for (int p = 0; p < g.nprocs; p++) {
		const struct real_pslot *ps = &s->procs[p];
		pmap[p] = -1;
		if (atomic_load(&ps->state) == PS_UNUSED || ps->pid <= 0)
			continue;
		pmap[p] = trace_add_process(g.tr, ps->pid, ps->ppid, ps->name);
		if (pmap[p] < 0)
			goto oom;
	}
	for (int i = 0; i < g.nthreads; i++) {
		const struct real_tslot *t = &s->threads[i];
		g.ts[i] = (struct tstate){.idx = -1, .cur = -1, .core = -1};
		if (t->proc < 0 || t->proc >= g.nprocs || pmap[t->proc] < 0)
			continue;
		g.ts[i].idx = trace_add_thread(g.tr, pmap[t->proc], t->tid, t->name);
		if (g.ts[i].idx < 0)
			goto oom;
		if (s->procs[t->proc].main_slot == i)
			g.tr->procs[pmap[t->proc]].main_thread = g.ts[i].idx;
	}

	size_t n = 0;
	int errors = 0;
	int64_t first_error = -1, first_error_t = INT64_MAX;
	for (int i = 0; i < g.nthreads; i++) {
		uint32_t cnt = atomic_load_explicit(&s->threads[i].nrecs, memory_order_acquire);
		if (cnt > REAL_RECS_PER_THREAD)
			cnt = REAL_RECS_PER_THREAD;
		const struct real_rec *base = s->recs + (size_t)i * REAL_RECS_PER_THREAD;
		for (uint32_t k = 0; k < cnt; k++) {
			all[n++] = (struct mrec){.r = base[k], .w = i, .i = k};
			if (base[k].kind == RK_MARK && base[k].reason == RR_EXCEPTION) {
				errors++;
				if (base[k].t < first_error_t) {
					first_error_t = base[k].t;
					first_error = base[k].arg;
				}
			}
		}
	}
	/* threads of processes that died without recording their end end when they were seen
	 * dead */
	for (int i = 0; i < g.nthreads; i++) {
		int p = s->threads[i].proc;
		if (p < 0 || p >= g.nprocs || atomic_load(&s->procs[p].state) != PS_DIED)
			continue;
		all[n++] = (struct mrec){.r = {.t = s->procs[p].end_t, .subject = i, .obj = -1,
					       .arg = s->procs[p].exitcode, .cpu = -1,
					       .kind = RK_STATE, .state = TS_DONE, .reason = RR_KILLED},
					 .w = INT32_MAX, .i = (uint32_t)i};
	}
	qsort(all, n, sizeof *all, mrec_cmp);
	int64_t last_done = 0;
	for (size_t k = 0; k < n && !g.oom; k++) {
		bool was_done = all[k].r.subject >= 0 && all[k].r.subject < g.nthreads &&
				g.ts[all[k].r.subject].done;
		apply(&g, &all[k].r);
		if (!was_done && all[k].r.subject >= 0 && all[k].r.subject < g.nthreads &&
		    g.ts[all[k].r.subject].done)
			last_done = all[k].r.t;
	}
	if (g.oom)
		goto oom;
	finish(&g, last_done, errors, first_error);
	free(all);
	free(pmap);
	free(g.owner);
	free(g.ts);
	return g.tr;
oom:
	free(all);
	free(pmap);
	free(g.owner);
	free(g.ts);
	trace_destroy(g.tr);
	return NULL;
}

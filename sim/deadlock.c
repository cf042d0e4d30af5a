/* deadlock.c — the wait-for graph: finds the cycle a blocking wait closes.
 *
 * Each blocked task waits for at most one thing. The edges followed are the waits that can
 * only end when another task acts and that have no timeout: a lock or RLock (→ its owner),
 * join() of a thread (→ that thread) and join() of a process (→ its main thread). Waits on
 * semaphores, conditions, events and barriers have no single owner; they are caught when
 * every live thread is blocked with nothing pending (kernel.c), not here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_internal.h"

/* The task `t` waits for, or -1 when its wait is not an edge of the graph. */
static int waits_for(const struct kernel *k, const struct task *t)
{
	if (t->state == TS_DONE || !thread_state_blocked(t->state) || t->wait_obj < 0)
		return -1;
	switch (t->wait_kind) {
	case H_LOCK:
	case H_RLOCK:
		return t->wait_obj < k->nobjs ? k->objs[t->wait_obj]->owner : -1;
	case H_THREAD:
		return t->wait_obj;
	case H_PROCESS:
		return t->wait_obj < k->nprocs ? k->procs[t->wait_obj]->main_task : -1;
	default:
		return -1;
	}
}

/* What t waits for, in the scenario's words, and the line where what it waits for was taken
 * by its holder. */
static void describe_wait(const struct kernel *k, const struct task *t, char *buf, size_t size,
			  int *held_since)
{
	*held_since = 0;
	switch (t->wait_kind) {
	case H_LOCK:
	case H_RLOCK: {
		const struct kobj *o = k->objs[t->wait_obj];
		snprintf(buf, size, "%s", o->name);
		*held_since = o->owner_line;
		break;
	}
	case H_THREAD:
		snprintf(buf, size, "join(%s)", k->tasks[t->wait_obj]->name);
		break;
	case H_PROCESS:
		snprintf(buf, size, "join(%s)", k->procs[t->wait_obj]->name);
		break;
	default:
		snprintf(buf, size, "?");
	}
}

void deadlock_check(struct kernel *k, struct task *t)
{
	int n = 0, cur = t->id;
	int *path = malloc((size_t)k->ntasks * sizeof *path);
	if (!path)
		return;
	/* follow the edges; every task waits for one thing, so the walk is a path that either
	 * ends or comes back to t (a cycle not through t was found when it closed) */
	while (n < k->ntasks) {
		path[n++] = cur;
		int next = waits_for(k, k->tasks[cur]);
		if (next < 0) {
			free(path);
			return;
		}
		if (next == t->id)
			break;
		cur = next;
	}
	if (n >= k->ntasks && waits_for(k, k->tasks[path[n - 1]]) != t->id) {
		free(path);
		return;
	}
	/* report from the earliest-created thread, so the text does not depend on which wait
	 * closed the cycle */
	int first = 0;
	for (int i = 1; i < n; i++)
		if (path[i] < path[first])
			first = i;
	struct trace_wait_edge *edges = calloc((size_t)n, sizeof *edges);
	char msg[sizeof k->tr->end_msg];
	size_t len = (size_t)snprintf(msg, sizeof msg, "deadlock: ");
	for (int j = 0; j < n; j++) {
		const struct task *a = k->tasks[path[(first + j) % n]];
		const struct task *prev = k->tasks[path[(first + j + n - 1) % n]];
		char wait[96], held[96];
		int since_a, since_prev;
		describe_wait(k, a, wait, sizeof wait, &since_a);
		describe_wait(k, prev, held, sizeof held, &since_prev);
		bool holds_lock = prev->wait_kind == H_LOCK || prev->wait_kind == H_RLOCK;
		if (len < sizeof msg) {
			if (holds_lock)
				len += (size_t)snprintf(msg + len, sizeof msg - len,
							"%s%s holds %s (line %d) and waits for %s (line %d)",
							j ? "; " : "", a->name, held, since_prev, wait, a->line);
			else
				len += (size_t)snprintf(msg + len, sizeof msg - len,
							"%s%s waits for %s (line %d)", j ? "; " : "",
							a->name, wait, a->line);
		}
		if (edges) {
			edges[j] = (struct trace_wait_edge){
				.thread = a->trace_idx,
				.holds = holds_lock ? trace_intern(k->tr, held) : 0,
				.holds_line = holds_lock ? since_prev : 0,
				.waits_for = trace_intern(k->tr, wait),
				.line = a->line,
			};
			if (edges[j].holds == UINT32_MAX)
				edges[j].holds = 0;
			if (edges[j].waits_for == UINT32_MAX)
				edges[j].waits_for = 0;
		}
	}
	free(path);
	if (edges)
		trace_set_cycle(k->tr, edges, n);
	free(edges);
	snprintf(k->tr->deadlock_kind, sizeof k->tr->deadlock_kind, "cycle");
	kern_stop(k, END_DEADLOCK, "%s", msg);
}

bool deadlock_feeder_cycle(struct kernel *k)
{
	for (int i = 0; i < k->ntasks; i++) {
		struct task *a = k->tasks[i];
		if (!a->started || a->state != TS_JOIN || a->wait_kind != H_PROCESS ||
		    a->wait_obj < 0 || a->wait_obj >= k->nprocs)
			continue;
		const struct proc *c = k->procs[a->wait_obj];
		if (c->ended || c->main_task < 0 || c->live_nondaemon > 0 || c->live_children > 0)
			continue;
		const struct task *cm = k->tasks[c->main_task];
		if (!cm->exiting || cm->state == TS_DONE)
			continue;
		int64_t left, cap;
		int line, reader;
		int q = ipc_feeder_stuck(k, c, &left, &line, &reader, &cap);
		if (q < 0 || reader != a->proc)
			continue;
		char wait0[96], wait1[256], hold0[96], hold1[96];
		snprintf(wait0, sizeof wait0, "join(%s)", c->name);
		snprintf(wait1, sizeof wait1,
			 "its queue feeder to flush %lld bytes into %s's full %lld-byte pipe",
			 (long long)left, k->objs[q]->name, (long long)cap);
		snprintf(hold0, sizeof hold0, "the get() that would drain %s", k->objs[q]->name);
		snprintf(hold1, sizeof hold1, "%s's exit", c->name);
		struct trace_wait_edge edges[2] = {
			{.thread = a->trace_idx, .holds = trace_intern(k->tr, hold0),
			 .holds_line = a->line, .waits_for = trace_intern(k->tr, wait0),
			 .line = a->line},
			{.thread = cm->trace_idx, .holds = trace_intern(k->tr, hold1),
			 .holds_line = line, .waits_for = trace_intern(k->tr, wait1), .line = line},
		};
		for (int j = 0; j < 2; j++) {
			if (edges[j].holds == UINT32_MAX)
				edges[j].holds = 0;
			if (edges[j].waits_for == UINT32_MAX)
				edges[j].waits_for = 0;
		}
		trace_set_cycle(k->tr, edges, 2);
		snprintf(k->tr->deadlock_kind, sizeof k->tr->deadlock_kind, "cycle");
		kern_stop(k, END_DEADLOCK,
			  "deadlock: %s waits in join(%s) (line %d); %s cannot exit until its queue "
			  "feeder flushes %lld bytes into %s's full %lld-byte pipe, which only a get() by "
			  "%s would drain (put() at line %d)",
			  a->name, c->name, a->line, c->name, (long long)left, k->objs[q]->name,
			  (long long)cap, a->name, line);
		return true;
	}
	return false;
}

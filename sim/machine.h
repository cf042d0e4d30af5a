/* machine.h — the simulated machine: cores, scheduling policy, costs, seed and the run's limits.
 * Set from defaults, then the scenario's `machine` line, then command-line flags. */
#ifndef TIMESLICE_MACHINE_H
#define TIMESLICE_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

#define MACHINE_MAX_CORES 1024
#define MACHINE_MLFQ_MAX_LEVELS 8

enum policy {
	POLICY_FIFO, /* run to block or exit, no time slice */
	POLICY_RR,   /* round robin with a quantum */
	POLICY_PRIO, /* static priority, preemptive; round robin among equals */
	POLICY_MLFQ, /* multi-level feedback queue */
	POLICY_FAIR, /* weighted fair sharing after Linux's CFS */
	POLICY_COUNT
};

enum gil_model {
	GIL_NONE, /* C programs, free-threaded Python (3.13t) */
	GIL_PY2,  /* CPython 2: release and re-acquire every check interval, no hand-off */
	GIL_PY3,  /* CPython >= 3.2: switch interval, drop request, forced switching */
};

enum eval_breaker {
	BREAKER_EVERY_INSTRUCTION,   /* CPython <= 3.9 */
	BREAKER_CALLS_AND_BACK_EDGES, /* CPython >= 3.10: function entry, calls, backward jumps */
};

struct machine {
	int cores;
	enum policy policy;
	int64_t quantum;     /* ns, RR time slice */
	int64_t cs;          /* ns, context switch cost */
	int64_t fork_cost;   /* ns of the parent's CPU for fork()/Process.start() */
	int64_t thread_cost; /* ns of the creator's CPU for Thread.start() */
	int64_t pipe_capacity; /* bytes a pipe holds (Linux: 64 KiB) */
	int64_t instr;       /* ns per interpreted instruction */
	double jitter;       /* each stretch of instruction cost varies by up to +-jitter (0..1),
	                      * from the run's seed: real CPUs never run two threads in lockstep */
	uint64_t seed;
	bool races;          /* run the race detector (also on when an expect line asks) */
	enum gil_model gil;  /* per process; default none */
	enum eval_breaker breaker;
	int64_t switch_interval; /* py3: how long a waiter waits before asking for a drop */
	int check_interval;  /* py2: instructions ("ticks") between releases */
	int64_t tick;        /* py2: CPU time of one tick inside compute() */
	int64_t gil_wakeup;  /* how long a signalled GIL waiter takes to wake (futex latency) */
	int64_t gil_contention; /* py2: what a release costs the holder when a woken waiter
	                         * runs on another core and fights for the GIL */
	char python[8];      /* the version that set gil and breaker, "" if set separately */

	/* scheduling classes and placement (docs/scheduling.md) */
	int mlfq_levels;         /* 1 to MACHINE_MLFQ_MAX_LEVELS */
	int64_t mlfq_quantum;    /* the top level's quantum; it doubles at each level down */
	int64_t mlfq_allotment;  /* CPU a task may use at one level before it moves down */
	int64_t mlfq_boost;      /* every this often all tasks go back to the top level */
	bool percore;            /* runqueues=percore: a run queue per core, with balancing */
	int64_t migration;       /* CPU a task pays when it moves to another core's queue */
	int64_t balance;         /* the period of the load-balance tick (percore) */

	/* limits of one run */
	int64_t until;       /* stop at this simulated time (END_UNTIL); -1 = none */
	int64_t max_time;    /* simulated time after which the run is stopped (END_LIMIT) */
	uint64_t max_events; /* events processed */
	uint64_t max_instructions; /* interpreted instructions, all threads together */
	size_t max_records;  /* trace records kept (memory) */
};

void machine_defaults(struct machine *m);

/* Sets one key from text as a user types it on the command line ("4", "rr", "10ms", "2.5s").
 * Returns 0, or -1 with a message in err ("--quantum: expected a positive duration such as
 * 10ms, found '0'") and m unchanged. */
int machine_set(struct machine *m, const char *key, const char *text, char *err, size_t errsize);

/* Applies every `machine` line of the program in order. Returns 0, or -1 with *err at the
 * offending key or value (file:line:col) and m unchanged. */
int machine_apply_ast(struct machine *m, const struct ast_program *prog, struct diag *err);

/* Applies the scenario's `# run: --flag value ...` comment lines (run limits and machine
 * settings it needs, e.g. `# run: --until 5.5s`). Returns 0, or -1 with *err at the line and
 * m unchanged. */
int machine_apply_run_lines(struct machine *m, const struct source *src, struct diag *err);

const char *policy_name(enum policy p);

/* Parses a duration as a user writes it: "10ms", "1.5s", "250us", "7ns", "2" (seconds).
 * Returns 0 and *ns, or -1 if malformed or out of range. */
int parse_duration(const char *text, int64_t *ns);

#endif

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
#define MACHINE_MAX_HOSTS 16
#define MACHINE_MAX_LINKS 64

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

/* Another computer on the simulated network (`machine host=NAME cores=N`). The program
 * starts on the first host, "localhost": the machine line's own cores. */
struct machine_host {
	char name[32];
	int cores;
	int policy;          /* its scheduling policy (enum policy); -1: the machine's */
	int64_t quantum;     /* its quantum; 0: the machine's */
};

/* A network link between two hosts (`machine link=A to=B latency=… bandwidth=…`): messages
 * each way take latency plus their size over the bandwidth, one after another. */
struct machine_link {
	int a, b;           /* host indexes (0: localhost); a == b: that host's loopback */
	int64_t latency;    /* ns, one way */
	int64_t bandwidth;  /* bytes per second */
};

struct machine {
	int cores;          /* localhost's cores */
	enum policy policy;
	int64_t quantum;     /* ns, RR time slice */
	int64_t cs;          /* ns, context switch cost */
	int64_t fork_cost;   /* ns of the parent's CPU for fork()/Process.start() */
	int64_t thread_cost; /* ns of the creator's CPU for Thread.start() */
	int64_t pipe_capacity; /* bytes a pipe holds (Linux: 64 KiB) */
	int64_t handoff;     /* ns a task or a result takes between a process pool's caller and
	                      * its worker, plus 2 ns a byte (pickling and the pipe) */
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

	/* the network (docs/model.md, "Hosts and the network"): hosts[0] is localhost */
	int nhosts;                 /* 1 unless `machine host=` lines declare more */
	struct machine_host hosts[MACHINE_MAX_HOSTS];
	int nlinks;
	struct machine_link links[MACHINE_MAX_LINKS];

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

/* Whether a `machine` line declares another host or a link (`machine host=…`, `machine
 * link=…`) rather than setting this machine. */
bool machine_line_is_network(const struct ast_node *line);

/* Applies every `machine` line of the program in order. Returns 0, or -1 with *err at the
 * offending key or value (file:line:col) and m unchanged. */
int machine_apply_ast(struct machine *m, const struct ast_program *prog, struct diag *err);

/* Applies the scenario's `# run: --flag value ...` comment lines (run limits and machine
 * settings it needs, e.g. `# run: --until 5.5s`). Returns 0, or -1 with *err at the line and
 * m unchanged. */
int machine_apply_run_lines(struct machine *m, const struct source *src, struct diag *err);

const char *policy_name(enum policy p);

/* "2 cores, rr", and each other host's cores and policy ("; host worker: 4 cores, fair"). */
void machine_describe(const struct machine *m, char *buf, size_t size);

/* The host named `name` ("localhost", "127.0.0.1" and "" name host 0), or -1. */
int machine_host_index(const struct machine *m, const char *name);
/* Every host's cores together: the simulated kernel numbers them localhost's first, then
 * each host's in the order declared. Returns the first core of host h in *first. */
int machine_total_cores(const struct machine *m);
int machine_host_first_core(const struct machine *m, int h);
/* The link between hosts a and b, or NULL when they cannot reach each other. A host reaches
 * itself over its loopback (20 us, 10 GB/s) unless a link a-a says otherwise. */
const struct machine_link *machine_link_between(const struct machine *m, int a, int b);

/* Parses a duration as a user writes it: "10ms", "1.5s", "250us", "7ns", "2" (seconds).
 * Returns 0 and *ns, or -1 if malformed or out of range. */
int parse_duration(const char *text, int64_t *ns);

#endif

/* metrics.h — numbers read off a trace: per thread, per core and overall; and the writers that
 * print them (text summary, JSON summary), the Chrome trace-event JSON and the terminal Gantt.
 * Everything here reads trace records only and never knows whether the simulator or the real
 * runner made them. */
#ifndef TIMESLICE_METRICS_H
#define TIMESLICE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trace.h"

struct thread_metrics {
	int64_t start_ns;         /* first record of the thread (it was created) */
	int64_t first_run_ns;     /* first time it ran; -1 if never */
	int64_t end_ns;           /* entered TS_DONE; -1 if it never did */
	int64_t state_ns[TS_COUNT]; /* time spent in each state up to end (or the trace's end) */
	int64_t cpu_ns;           /* == state_ns[TS_RUNNING] */
	int64_t ready_ns;         /* == state_ns[TS_READY] */
	int64_t blocked_ns;       /* sum of the blocked states */
	int64_t turnaround_ns;    /* end - start, or -1 if it never finished */
	int64_t response_ns;      /* first_run - start, or -1 if it never ran */
	int64_t switches;         /* times it left a core: voluntary + involuntary */
	int64_t voluntary;        /* left running to block or finish */
	int64_t involuntary;      /* left running to ready (preempted) */
	int64_t migrations;       /* times it ran on another core than in its previous run */
};

struct core_metrics {
	int64_t busy_ns;          /* running a thread or switching */
	int64_t switch_ns;        /* of which context switching */
	double utilisation;       /* busy / makespan, 0..1 */
};

struct metrics {
	int nthreads, ncores;
	struct thread_metrics *threads; /* indexed like trace->threads */
	struct core_metrics *cores;     /* indexed by core */
	int64_t makespan_ns;
	int64_t total_cpu_ns;     /* sum of all threads' cpu */
	double cpu_percent;       /* total_cpu / makespan * 100: "100 %" = one core busy */
	int64_t context_switches; /* sum over threads */
	int max_parallel;         /* most threads running at one instant */
	int64_t migrations;       /* sum over threads */
	/* Jain's fairness index (sum x)^2 / (n * sum x^2) of the CPU shares x = cpu / lifetime
	 * of the threads that were runnable (running or ready) for their whole life, never
	 * blocked: 1 when they got equal shares, 1/n when one got everything. -1 when fewer
	 * than two threads qualify. */
	double fairness;
	int fairness_threads;     /* how many threads it was computed over */
};

/* Computes metrics from a trace's records. Returns NULL when out of memory. Records after a
 * thread's TS_DONE are ignored; a state still open at the end runs to trace->makespan.
 * Free with metrics_destroy (NULL is safe). */
struct metrics *metrics_compute(const struct trace *tr);
void metrics_destroy(struct metrics *m);

/* The human summary: makespan, a table of threads, cores, CPU %, how the run ended, the
 * expectations. The program's output is printed by the caller (see trace_print_output). */
void metrics_print_text(FILE *out, const struct trace *tr, const struct metrics *m);

/* One JSON object (schema in docs/json.md): makespan_ns, end, threads[], cores[],
 * cpu_percent, output[], vars{}, deadlock, expect[]. */
void metrics_print_json(FILE *out, const struct trace *tr, const struct metrics *m);

/* The program's printed lines in order, one per line, as the program printed them. */
void trace_print_output(FILE *out, const struct trace *tr);
/* The run's events other than exceptions (a zombie reaped, a process re-parented, a
 * sys.exit message...), one a line with its time and thread, after `heading` when there is
 * at least one. Returns how many. */
size_t trace_print_events(FILE *out, const struct trace *tr, const char *heading);

/* Chrome trace-event JSON (the "traceEvents" object form) that Perfetto UI and
 * chrome://tracing open. Returns 0, or -1 if writing failed. */
int chrome_write(FILE *out, const struct trace *tr);

/* A terminal Gantt: one row per thread and per core, `width` columns wide in all; with
 * `color`, ANSI background colours, else one letter per state. */
void gantt_print(FILE *out, const struct trace *tr, int width, bool color);

/* Helpers the writers above share; the CLI and the window may use them too. */

/* Writes a duration human-readably into buf: "250 ns", "1.500 us", "12.003 ms", "2.000 s"
 * (three decimals above 1 us); "-" when ns is negative (the metrics' "never"). Returns buf. */
const char *metrics_format_ns(char *buf, size_t size, int64_t ns);

/* Writes s as a JSON string literal, quotes included: '"' and '\\' escaped, control characters
 * as \u00XX, valid UTF-8 passed through, each byte of invalid UTF-8 replaced by U+FFFD. */
void metrics_json_string(FILE *out, const char *s);

/* Measures the UTF-8 text s in terminal cells (East Asian wide characters take two, combining
 * marks none). Returns how many bytes of s fit within max cells and stores their width in
 * *cells (if not NULL). Invalid bytes count as one cell each. */
size_t metrics_text_fit(const char *s, int max, int *cells);

#endif

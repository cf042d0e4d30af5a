/* test-real.c — the real runner (real/): what it refuses, real runs recorded as traces, the GIL,
 * timeouts, and that nothing outlives a run that is killed midway. Timing assertions use wide
 * tolerances: these runs happen on a possibly loaded machine. Set TIMESLICE_SKIP_REAL_TIMING=1
 * (as under valgrind, where everything is ~50x slower) to skip the timing tests. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "machine.h"
#include "metrics.h"
#include "real.h"
#include "harness.h"
#include "suites.h"

#define MS 1000000LL

struct loaded {
	struct source *src;
	struct ast_program *ast;
	struct vm_program *prog;
	struct machine m;
};

static void load(struct loaded *l, const char *text)
{
	struct diag d;
	l->src = source_from_memory("test.slice", text, strlen(text));
	ck_assert_ptr_nonnull(l->src);
	l->ast = ast_parse(l->src, &d);
	ck_assert_msg(l->ast != NULL, "parse: %s", d.msg);
	l->prog = vm_compile(l->ast, &d);
	ck_assert_msg(l->prog != NULL, "compile: %s", d.msg);
	machine_defaults(&l->m);
	ck_assert_int_eq(machine_apply_ast(&l->m, l->ast, &d), 0);
}

static void unload(struct loaded *l)
{
	vm_program_destroy(l->prog);
	ast_program_destroy(l->ast);
	source_destroy(l->src);
}

static struct trace *run_real(struct loaded *l, int cores, enum real_gil gil, int64_t timeout)
{
	struct real_options o;
	real_options_default(&o);
	o.cores = cores;
	o.gil = gil;
	o.timeout = timeout;
	o.seed = l->m.seed; /* as the CLI does */
	struct diag d;
	struct trace *tr = real_run(l->ast, l->prog, &l->m, &o, NULL, &d);
	ck_assert_msg(tr != NULL, "real_run: %s", d.msg);
	return tr;
}

static bool skip_timing(void)
{
	const char *s = getenv("TIMESLICE_SKIP_REAL_TIMING");
	return s && *s && strcmp(s, "0") != 0;
}

static int thread_index(const struct trace *tr, const char *name)
{
	for (int i = 0; i < tr->nthreads; i++)
		if (strcmp(trace_str(tr, tr->threads[i].name), name) == 0)
			return i;
	ck_abort_msg("no thread named %s", name);
	return -1;
}

/* Processes whose process group is pgid, or whose parent is ppid (0: ignored). */
static int count_procs(pid_t pgid, pid_t ppid)
{
	DIR *d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		char *p = strrchr(buf, ')');
		char state;
		int pp, pg;
		if (!p || sscanf(p + 1, " %c %d %d", &state, &pp, &pg) != 3)
			continue;
		if ((pgid > 0 && pg == pgid) || (ppid > 0 && pp == ppid))
			n++;
	}
	closedir(d);
	return n;
}

/* A process whose parent is ppid (and, if pgid_self, which leads its own process group), or 0. */
static pid_t find_child(pid_t ppid, bool pgid_self)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d)) && !found) {
		pid_t pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		char *p = strrchr(buf, ')');
		char state;
		int pp, pg;
		if (p && sscanf(p + 1, " %c %d %d", &state, &pp, &pg) == 3 && pp == ppid &&
		    (!pgid_self || pg == pid) && state != 'Z')
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* ---- refused before anything starts ---- */

START_TEST(test_refuses_queue)
{
	struct loaded l;
	load(&l, "import multiprocessing\nq = multiprocessing.JoinableQueue()\nprint('x')\n");
	struct diag d;
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 2);
	ck_assert_int_eq(d.col, 5);
	ck_assert_msg(strstr(d.msg, "multiprocessing.JoinableQueue") != NULL, "%s", d.msg);
	/* real_run refuses it too, and starts nothing */
	struct real_options o;
	real_options_default(&o);
	ck_assert_ptr_null(real_run(l.ast, l.prog, &l.m, &o, NULL, &d));
	ck_assert_int_eq(d.line, 2);
	unload(&l);
}
END_TEST

START_TEST(test_refuses_aliases_and_with)
{
	struct loaded l;
	load(&l, "from threading import Thread, local as L\ns = L()\n");
	struct diag d;
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 1);
	ck_assert_msg(strstr(d.msg, "threading.local") != NULL, "%s", d.msg);
	unload(&l);

	load(&l, "import multiprocessing as mp\ndef f():\n    q = mp.JoinableQueue()\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 3);
	ck_assert_int_eq(d.col, 9);
	ck_assert_msg(strstr(d.msg, "multiprocessing.JoinableQueue") != NULL, "%s", d.msg);
	unload(&l);

	load(&l, "from multiprocessing.pool import ThreadPool\nwith ThreadPool(2) as p:\n    print(1)\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 1);
	ck_assert_msg(strstr(d.msg, "ThreadPool") != NULL, "%s", d.msg);
	unload(&l);

	load(&l, "import queue\nq = queue.Queue()\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	unload(&l);

	load(&l, "import subprocess\nsubprocess.call(['ls'])\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 2);
	ck_assert_msg(strstr(d.msg, "subprocess.call") != NULL, "%s", d.msg);
	unload(&l);

	load(&l, "x = 1\nf = open('log.txt', 'w')\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 2);
	ck_assert_int_eq(d.col, 5);
	ck_assert_msg(strstr(d.msg, "builtins.open") != NULL, "%s", d.msg);
	unload(&l);

	/* managers, hosts and bounded queues have no real counterpart */
	load(&l, "from multiprocessing.managers import BaseManager\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_msg(strstr(d.msg, "multiprocessing.managers.BaseManager") != NULL, "%s", d.msg);
	unload(&l);
	load(&l, "machine cores=1\nmachine host=w cores=2\nprint(1)\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
	ck_assert_int_eq(d.line, 2);
	ck_assert_int_eq(d.col, 9);
	ck_assert_msg(strstr(d.msg, "hosts and links") != NULL, "%s", d.msg);
	ck_assert_int_eq(real_machine_cores(l.ast, NULL, NULL), 1); /* not the host's 2 */
	unload(&l);
	static const char *const bounded[] = {"q = Queue(3)\n", "q = Queue(maxsize=3)\n",
					      "q = Queue()\nq.put(1, timeout=1)\n",
					      "q = Queue()\nq.put_nowait(1)\n", "q = Queue()\nq.full()\n"};
	for (size_t i = 0; i < sizeof bounded / sizeof bounded[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "from multiprocessing import Queue\n%s", bounded[i]);
		load(&l, text);
		ck_assert_int_eq(real_check(l.ast, &l.m, &d), -1);
		ck_assert_msg(strstr(d.msg, "Queue(maxsize)") != NULL, "%s: %s", bounded[i], d.msg);
		unload(&l);
	}

	/* the synchronisation objects, shared memory and with-statements run now */
	load(&l, "import threading, multiprocessing as mp\nfrom threading import Semaphore as S\n"
		 "l = threading.RLock()\ns = S(2)\ne = mp.Event()\nv = mp.Value('i', 0)\n"
		 "a = mp.Array('d', 3)\nb = threading.Barrier(2)\nc = mp.Condition()\n"
		 "with l:\n    print(1)\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), 0);
	unload(&l);

	/* a simulated instruction cost is a model cost, as cs= is: a real run interprets at
	 * its own speed */
	load(&l, "machine cores=1 instr=1us jitter=0.2\nprint('x')\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), 0);
	unload(&l);

	/* what it runs passes */
	load(&l, "import os, threading\nfrom multiprocessing import Process, current_process\n"
		 "t = threading.Thread(target=print, args=('x',))\nprint(os.getpid())\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), 0);
	unload(&l);
}
END_TEST

START_TEST(test_cores_above_machine)
{
	struct loaded l;
	load(&l, "print('x')\n");
	struct real_options o;
	real_options_default(&o);
	o.cores = real_cores_available() + 1;
	struct diag d;
	ck_assert_ptr_null(real_run(l.ast, l.prog, &l.m, &o, NULL, &d));
	ck_assert_msg(strstr(d.msg, "--cores") != NULL, "%s", d.msg);
	unload(&l);
}
END_TEST

/* ---- real runs as traces ---- */

START_TEST(test_processes_threads_fork)
{
	struct loaded l;
	load(&l,
	     "import os, threading\nfrom multiprocessing import Process\n"
	     "num = 100\n"
	     "def child(k):\n    global num\n    num += k\n    print('child', num)\n"
	     "def th():\n    sleep(20ms)\n    print('thread', threading.current_thread().name)\n"
	     "p = Process(target=child, args=(5,))\np.start()\np.join()\n"
	     "t = threading.Thread(target=th, name='T')\nt.start()\n"
	     "alive = t.is_alive()\nt.join(timeout=1s)\n"
	     "r = os.fork()\nif r == 0:\n    print('forked child')\nelse:\n    sleep(50ms)\n"
	     "    print('parent', num, p.exitcode)\n"
	     "expect num == 100\nexpect alive\nexpect line_of('child 105') < line_of('thread T')\n"
	     "expect printed_count('forked child') == 1\nexpect printed('parent 100 0') > 0ns\n");
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_str_eq(tr->origin, "real");
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nprocs, 3);
	ck_assert_str_eq(trace_str(tr, tr->procs[0].name), "MainProcess");
	ck_assert_str_eq(trace_str(tr, tr->procs[1].name), "Process-1");
	ck_assert_int_eq(tr->procs[1].ppid, tr->procs[0].pid);
	ck_assert_int_eq(tr->nexpects, 5);
	for (int i = 0; i < tr->nexpects; i++)
		ck_assert_msg(tr->expects[i].ok, "expect %s: %s", trace_str(tr, tr->expects[i].text),
			      trace_str(tr, tr->expects[i].detail));
	ck_assert_str_eq(var_of(tr, "num"), "100");
	/* the thread slept about 20 ms, and the trace says so */
	struct metrics *m = metrics_compute(tr);
	int t = thread_index(tr, "T");
	ck_assert_int_ge(m->threads[t].state_ns[TS_SLEEP], 19 * MS);
	ck_assert_int_ge(m->threads[t].end_ns, m->threads[t].start_ns);
	ck_assert_int_eq(count_procs(tr->procs[0].pid, 0), 0);
	metrics_destroy(m);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

START_TEST(test_exception_is_error)
{
	struct loaded l;
	load(&l, "import threading\ndef f():\n    x = 1 / 0\n"
		 "t = threading.Thread(target=f)\nt.start()\nt.join()\nprint('after')\n");
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_int_eq(tr->end, END_ERROR);
	ck_assert_msg(strstr(tr->end_msg, "ZeroDivisionError") != NULL, "%s", tr->end_msg);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

START_TEST(test_gil_py3_serialises)
{
	if (skip_timing())
		return;
	struct loaded l;
	load(&l, "import threading\ndef work():\n    compute(100ms)\n"
		 "a = threading.Thread(target=work)\nb = threading.Thread(target=work)\n"
		 "a.start()\nb.start()\na.join()\nb.join()\n");
	struct trace *tr = run_real(&l, 2, REAL_GIL_PY3, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	struct metrics *m = metrics_compute(tr);
	/* one after the other: never two running, and together as long as both */
	ck_assert_int_eq(m->max_parallel, 1);
	ck_assert_msg(tr->makespan >= 190 * MS && tr->makespan <= 1000 * MS,
		      "py3 makespan %lld ms", (long long)(tr->makespan / MS));
	int a = thread_index(tr, "Thread-1");
	ck_assert_int_gt(m->threads[a].state_ns[TS_GIL], 0);
	bool forced = false;
	for (size_t i = 0; i < tr->nrecs; i++)
		forced |= tr->recs[i].kind == TR_STATE && tr->recs[i].state == TS_GIL &&
			  strstr(trace_str(tr, tr->recs[i].reason), "forced switch") != NULL;
	ck_assert_msg(forced, "no forced GIL switch recorded");
	metrics_destroy(m);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

START_TEST(test_time_slicing_near_sim)
{
	if (skip_timing())
		return;
	struct loaded l;
	load(&l, "machine cores=1\nfrom multiprocessing import Process\n"
		 "def task(name):\n    for i in range(3):\n        compute(17ms)\n    print(name)\n"
		 "ps = [Process(target=task, args=('A',)), Process(target=task, args=('B',))]\n"
		 "for p in ps:\n    p.start()\nfor p in ps:\n    p.join()\n");
	struct diag d;
	struct trace *sim = sim_run(l.ast, l.prog, &l.m, &d);
	ck_assert_ptr_nonnull(sim);
	/* On an idle machine the makespans agree within a few percent (docs/real.md has the
	 * `compare` figures); here other tests may share the core, so only what contention cannot
	 * change is asserted: the work done (each task's CPU) and that one core cannot be faster
	 * than the sum of the work. */
	struct trace *tr = run_real(&l, 1, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	struct metrics *m = metrics_compute(tr);
	ck_assert_int_eq(m->max_parallel, 1); /* one core */
	for (int p = 1; p <= 2; p++) {
		int t = tr->procs[p].main_thread;
		ck_assert_msg(m->threads[t].cpu_ns >= 35 * MS && m->threads[t].cpu_ns <= 70 * MS,
			      "task %d ran %lld us", p, (long long)(m->threads[t].cpu_ns / 1000));
	}
	ck_assert_msg(tr->makespan >= sim->makespan * 95 / 100 && tr->makespan <= 5 * sim->makespan,
		      "real %lld us vs sim %lld us", (long long)(tr->makespan / 1000),
		      (long long)(sim->makespan / 1000));
	metrics_destroy(m);
	trace_destroy(tr);
	trace_destroy(sim);
	unload(&l);
}
END_TEST

START_TEST(test_deadlock_killed_by_timeout)
{
	struct loaded l;
	load(&l, "import threading\nfrom multiprocessing import Process\n"
		 "def nap():\n    sleep(60s)\n"
		 "def wa():\n    t2.join()\ndef wb():\n    t1.join()\n"
		 "t1 = threading.Thread(target=wa, name='A')\nt2 = threading.Thread(target=wb, name='B')\n"
		 "t1.start()\nt2.start()\nt1.join()\nexpect deadlock\n");
	int64_t t0 = (int64_t)time(NULL);
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 400 * MS);
	ck_assert_int_le((int64_t)time(NULL) - t0, 10);
	ck_assert_msg(tr->end == END_DEADLOCK, "%d %s", tr->end, tr->end_msg);
	ck_assert_msg(strstr(tr->end_msg, "A waits in join(B) at line 6") != NULL, "%s", tr->end_msg);
	ck_assert_msg(strstr(tr->end_msg, "B waits in join(A) at line 8") != NULL, "%s", tr->end_msg);
	ck_assert_msg(strstr(tr->end_msg, "MainThread waits in join(A)") != NULL, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 1);
	ck_assert(tr->expects[0].ok);
	ck_assert_int_eq(count_procs(tr->procs[0].pid, 0), 0);
	trace_destroy(tr);
	unload(&l);
}
END_TEST


/* multiprocessing.Queue over a real pipe: values of several types cross processes, get()
 * blocks until a put, get(timeout) raises queue.Empty, a SimpleQueue and a Pipe work too. */
START_TEST(test_queue_pipe_real)
{
	struct loaded l;
	struct diag d;
	load(&l, "import queue\nfrom multiprocessing import Process, Queue, SimpleQueue, Pipe\n"
		 "def f(q, c, sq):\n"
		 "    sleep(30ms)\n"
		 "    q.put([1, 'two', 3.5, None, [4, 5], True])\n"
		 "    q.put('X' * 100000)\n"
		 "    sq.put(c.recv() + 1)\n"
		 "q = Queue()\nsq = SimpleQueue()\na, b = Pipe()\n"
		 "p = Process(target=f, args=(q, b, sq))\np.start()\n"
		 "got = -1\n"
		 "x = q.get()\ny = q.get()\n"
		 "print(x)\nprint(len(y))\n"
		 "a.send(41)\n"
		 "z = sq.get()\n"
		 "p.join()\nprint(got, z, p.exitcode)\n"
		 "expect output() == [\"[1, 'two', 3.5, None, [4, 5], True]\", \"100000\", \"-1 42 0\"]\n");
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), 0);
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%d %s", tr->end, tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 1);
	ck_assert_msg(tr->expects[0].ok, "%s", trace_str(tr, tr->expects[0].detail));
	trace_destroy(tr);
	unload(&l);

	/* get(timeout) on an empty queue raises queue.Empty after the timeout (the language has
	 * no try yet: the exception ends the run as an error) */
	load(&l, "import queue\nfrom multiprocessing import Queue\nq = Queue()\n"
		 "q.get(timeout=0.05)\nprint('not reached')\n");
	tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_int_eq(tr->end, END_ERROR);
	ck_assert_msg(strstr(tr->end_msg, "Empty") != NULL, "%s", tr->end_msg);
	if (!skip_timing())
		ck_assert_int_ge(tr->makespan, 50 * MS);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

static const char *join_deadlock_src(bool swapped)
{
	return swapped ?
		"from multiprocessing import Process, Queue\n"
		"def f(q):\n    q.put('X' * 1000000)\n"
		"queue = Queue()\np = Process(target=f, args=(queue,))\np.start()\n"
		"obj = queue.get()\np.join()\nprint(len(obj))\n"
		"expect output() == [\"1000000\"]\nexpect not deadlock\n" :
		"from multiprocessing import Process, Queue\n"
		"def f(q):\n    q.put('X' * 1000000)\n"
		"queue = Queue()\np = Process(target=f, args=(queue,))\np.start()\n"
		"p.join()\nobj = queue.get()\nexpect deadlock\n";
}

/* The documentation's join deadlock really blocks: the child cannot exit before its feeder
 * has written 1 MB into a 64 KiB pipe, the parent waits in join(). Killed by the timeout,
 * reported as a deadlock naming both; get() before join() completes. */
START_TEST(test_join_deadlock_real)
{
	struct loaded l;
	load(&l, join_deadlock_src(false));
	int64_t t0 = (int64_t)time(NULL);
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 600 * MS);
	ck_assert_int_le((int64_t)time(NULL) - t0, 10);
	ck_assert_msg(tr->end == END_DEADLOCK, "%d %s", tr->end, tr->end_msg);
	ck_assert_msg(strstr(tr->end_msg, "MainThread waits in join(Process-1)") != NULL, "%s",
		      tr->end_msg);
	/* 1,000,013 bytes, 65,536 of them in the pipe: the simulator's figure too */
	ck_assert_msg(strstr(tr->end_msg, "cannot exit until its queue feeder flushes 934477 bytes")
		      != NULL, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 1);
	ck_assert(tr->expects[0].ok);
	ck_assert_int_eq(count_procs(tr->procs[0].pid, 0), 0);
	trace_destroy(tr);
	unload(&l);
	load(&l, join_deadlock_src(true));
	tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%d %s", tr->end, tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 2);
	ck_assert(tr->expects[0].ok);
	ck_assert(tr->expects[1].ok);
	trace_destroy(tr);
	unload(&l);
}
END_TEST


/* The printed lines of a trace, sorted, joined by '\n' (order across processes is the OS's). */
static void printed_sorted(const struct trace *tr, char *out, size_t size)
{
	const char *lines[64];
	int n = 0;
	for (size_t i = 0; i < (size_t)tr->nrecs && n < 64; i++)
		if (tr->recs[i].kind == TR_PRINT)
			lines[n++] = trace_str(tr, tr->recs[i].text);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && strcmp(lines[k - 1], lines[k]) > 0; k--) {
			const char *t = lines[k];
			lines[k] = lines[k - 1];
			lines[k - 1] = t;
		}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		strncat(out, lines[i], size - strlen(out) - 1);
		strncat(out, "\n", size - strlen(out) - 1);
	}
}

/* Pool for real: forked workers, apply_async/get/map/close/join, results and exceptions come
 * back through the result pipe; the workers' random streams are those of the simulation (the
 * same seed and simulated pid), so a seeded scenario draws the same numbers for real. */
START_TEST(test_pool_real)
{
	struct loaded l;
	load(&l, "machine seed=2\nfrom multiprocessing import Pool\nimport os, random\n"
		 "def sq(x):\n    sleep(10ms)\n    return x * x\n"
		 "def draw(i):\n    r = random.random()\n    print('draws %.6f' % r)\n    sleep(150ms)\n"
		 "    return [i, os.getpid()]\n"
		 "def bad(x):\n    return 1 / x\n"
		 "p = Pool(2)\n"
		 "rs = []\nfor i in range(2):\n    rs.append(p.apply_async(draw, args=(i,)))\n"
		 "got = []\nids = []\npids = []\nfor r in rs:\n    g = r.get(timeout=10)\n"
		 "    got.append(g)\n    ids.append(g[0])\n    if g[1] not in pids:\n"
		 "        pids.append(g[1])\n"
		 "squares = p.map(sq, [1, 2, 3, 4, 5])\n"
		 "e = p.apply_async(bad, (0,))\n"
		 "p.close()\np.join()\n"
		 "expect squares == [1, 4, 9, 16, 25]\nexpect ids == [0, 1]\n"
		 "expect len(pids) <= 2\n");
	struct diag d;
	ck_assert_int_eq(real_check(l.ast, &l.m, &d), 0);
	struct trace *sim = sim_run(l.ast, l.prog, &l.m, &d);
	ck_assert_ptr_nonnull(sim);
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%d %s", tr->end, tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 3);
	for (int i = 0; i < tr->nexpects; i++)
		ck_assert_msg(tr->expects[i].ok, "expect %s: %s", trace_str(tr, tr->expects[i].text),
			      trace_str(tr, tr->expects[i].detail));
	/* each worker draws once (the first sleeps while the second takes the other task); which
	 * takes which is the OS's choice, the numbers drawn are the simulation's */
	char a[2048], b[2048];
	printed_sorted(sim, a, sizeof a);
	printed_sorted(tr, b, sizeof b);
	ck_assert_msg(strstr(b, "draws 0.") != NULL, "%s", b);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(tr->nprocs, 3);
	ck_assert_str_eq(trace_str(tr, tr->procs[1].name), "ForkPoolWorker-1");
	trace_destroy(sim);
	trace_destroy(tr);
	unload(&l);

	/* an exception in a task is re-raised by get() */
	load(&l, "from multiprocessing import Pool\ndef bad(x):\n    return 1 / x\n"
		 "p = Pool(1)\nr = p.apply_async(bad, (0,))\nv = r.get()\nprint('not reached')\n");
	tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_int_eq(tr->end, END_ERROR);
	ck_assert_msg(strstr(tr->end_msg, "ZeroDivisionError") != NULL, "%s", tr->end_msg);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

static const char long_run[] =
	"import threading\nfrom multiprocessing import Process\n"
	"def child():\n    t = threading.Thread(target=sleep, args=(30s,))\n    t.start()\n"
	"    sleep(30s)\n"
	"p = Process(target=child)\np.start()\nq = Process(target=child)\nq.start()\n"
	"compute(10ms)\np.join()\n";

/* A supervisor (a child of this test) runs long_run; after a while it is killed with `sig`.
 * Whatever happens to it, no process of the run may remain. */
static void kill_midway(int sig)
{
	struct loaded l;
	load(&l, long_run);
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of a killed supervisor come back to us */
	pid_t sup = fork();
	ck_assert_int_ge(sup, 0);
	if (sup == 0) {
		struct real_options o;
		real_options_default(&o);
		o.timeout = 50000 * MS;
		struct diag d;
		struct trace *tr = real_run(l.ast, l.prog, &l.m, &o, NULL, &d);
		int code = tr && tr->end == END_LIMIT && strstr(tr->end_msg, "interrupted") ? 42 : 1;
		trace_destroy(tr);
		unload(&l);
		_exit(code);
	}
	/* wait until the run has its processes: MainProcess (the supervisor's child, leading
	 * the run's process group) and its two children */
	pid_t main_pid = 0;
	for (int i = 0; i < 500 && (!main_pid || count_procs(main_pid, 0) < 3); i++) {
		sleep_ms(10);
		if (!main_pid)
			main_pid = find_child(sup, true);
	}
	ck_assert_int_gt(main_pid, 0);
	ck_assert_int_ge(count_procs(main_pid, 0), 3);
	kill(sup, sig);
	int st;
	ck_assert_int_eq(waitpid(sup, &st, 0), sup);
	if (sig == SIGTERM)
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42, "supervisor status %d", st);
	/* everything of the run is gone within a second (the run would last 30 s) */
	int left = 0;
	for (int i = 0; i < 100; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans that came back to us */
			;
		left = count_procs(main_pid, 0);
		if (left == 0)
			break;
		sleep_ms(10);
	}
	ck_assert_msg(left == 0, "%d processes of the run remain", left);
	ck_assert_int_eq(count_procs(0, sup), 0);
	ck_assert_int_eq(kill(main_pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	unload(&l);
}

START_TEST(test_interrupt_midway_leaves_nothing)
{
	kill_midway(SIGTERM);
}
END_TEST

START_TEST(test_supervisor_killed_leaves_nothing)
{
	kill_midway(SIGKILL);
}
END_TEST

START_TEST(test_child_killed_midway)
{
	/* a process of the run is killed from outside: the run still ends, says so, and its
	 * threads end where it was seen dead */
	struct loaded l;
	load(&l, "from multiprocessing import Process\ndef nap():\n    sleep(20s)\n"
		 "p = Process(target=nap, name='Napper')\np.start()\np.join()\nprint('joined')\n");
	pid_t killer = fork();
	ck_assert_int_ge(killer, 0);
	if (killer == 0) {
		/* MainProcess is the test's child that leads its own group; Napper its child */
		pid_t me = getppid();
		for (int i = 0; i < 500; i++) {
			sleep_ms(10);
			pid_t main_pid = find_child(me, true);
			pid_t napper = main_pid ? find_child(main_pid, false) : 0;
			if (napper) {
				sleep_ms(100);
				kill(napper, SIGKILL);
				_exit(0);
			}
		}
		_exit(1);
	}
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 15000 * MS);
	int st;
	ck_assert_int_eq(waitpid(killer, &st, 0), killer);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the killer did not find the child");
	ck_assert_msg(tr->end == END_ERROR, "%d %s", tr->end, tr->end_msg);
	ck_assert_msg(strstr(tr->end_msg, "Napper") && strstr(tr->end_msg, "signal 9"), "%s",
		      tr->end_msg);
	ck_assert_int_lt(tr->makespan, 10000 * MS);
	int napper = -1;
	for (int i = 0; i < tr->nthreads; i++)
		if (tr->threads[i].proc == 1)
			napper = i;
	ck_assert_int_ge(napper, 0);
	struct metrics *m = metrics_compute(tr);
	ck_assert_int_ge(m->threads[napper].end_ns, 0);
	ck_assert_int_eq(count_procs(tr->procs[0].pid, 0), 0);
	metrics_destroy(m);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

/* ---- synchronisation objects and shared memory ---- */

static void assert_expects(const struct trace *tr)
{
	for (int i = 0; i < tr->nexpects; i++)
		ck_assert_msg(tr->expects[i].ok, "expect %s: %s", trace_str(tr, tr->expects[i].text),
			      trace_str(tr, tr->expects[i].detail));
}

/* A real run of text (--gil none, any cores) ends in an error whose message holds `what`. */
static void assert_real_error(const char *text, const char *what)
{
	struct loaded l;
	load(&l, text);
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_int_eq(tr->end, END_ERROR);
	ck_assert_msg(strstr(tr->end_msg, what), "%s", tr->end_msg);
	trace_destroy(tr);
	unload(&l);
}

/* The main thread of the run's process number `proc` (0 = MainProcess, 1 = Process-1, ...). */
static int proc_main(const struct trace *tr, int proc)
{
	for (int i = 0; i < tr->nthreads; i++)
		if (tr->threads[i].proc == proc)
			return i;
	ck_abort_msg("no process %d", proc);
	return -1;
}

START_TEST(test_lock_rlock_threads)
{
	struct loaded l;
	load(&l, "import threading\nl = threading.Lock()\nr = threading.RLock()\n"
		 "a1 = l.acquire()\na2 = l.acquire(False)\na3 = l.acquire(timeout=0.05)\n"
		 "lk = l.locked()\nl.release()\nlk2 = l.locked()\n"
		 "r.acquire()\nr.acquire()\nr.release()\nr.release()\n"
		 "def holder():\n    with l:\n        sleep(100ms)\n"
		 "t = threading.Thread(target=holder, name='H')\nt.start()\nsleep(20ms)\n"
		 "with l:\n    print('got it')\nt.join()\n"
		 "expect a1 == True\nexpect a2 == False\nexpect a3 == False\nexpect lk == True\n"
		 "expect lk2 == False\nexpect printed('got it') > 0ns\n");
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 6);
	assert_expects(tr);
	/* MainThread waited for the lock: 50 ms of timeout, then until H released it (~80 ms) */
	struct metrics *m = metrics_compute(tr);
	int mt = thread_index(tr, "MainThread");
	if (!skip_timing())
		ck_assert_msg(m->threads[mt].state_ns[TS_LOCK] >= 100 * MS,
			      "lock wait %lld ms", (long long)(m->threads[mt].state_ns[TS_LOCK] / MS));
	bool named = false;
	for (size_t i = 0; i < tr->nrecs; i++)
		named |= tr->recs[i].kind == TR_STATE && tr->recs[i].state == TS_LOCK &&
			 strstr(trace_str(tr, tr->recs[i].reason), "waits for l held by H") != NULL;
	ck_assert_msg(named, "no lock-wait record naming l and its holder H");
	metrics_destroy(m);
	trace_destroy(tr);
	unload(&l);

	/* Python's errors */
	assert_real_error("import threading\nl = threading.Lock()\nl.release()\n",
			  "RuntimeError: release unlocked lock");
	assert_real_error("import threading\nr = threading.RLock()\n"
			  "def f():\n    r.release()\nr.acquire()\n"
			  "t = threading.Thread(target=f)\nt.start()\nt.join()\n",
			  "cannot release un-acquired lock");
}
END_TEST

/* Two real processes add to a shared Value: under a process-shared Lock no update is lost;
 * without it (read, compute, write) updates are lost for real. */
START_TEST(test_process_lock_and_value)
{
	const char *text =
		"import multiprocessing as mp\nv = mp.Value('i', 0)\npl = mp.Lock()\n"
		"def add(lock):\n    for _ in range(100):\n        if lock:\n            pl.acquire()\n"
		"        x = v.value\n        compute(300us)\n        v.value = x + 1\n"
		"        if lock:\n            pl.release()\n"
		"p1 = mp.Process(target=add, args=(True,))\np2 = mp.Process(target=add, args=(True,))\n"
		"p1.start()\np2.start()\np1.join()\np2.join()\nlocked = v.value\nv.value = 0\n"
		"p3 = mp.Process(target=add, args=(False,))\np4 = mp.Process(target=add, args=(False,))\n"
		"p3.start()\np4.start()\np3.join()\np4.join()\nunlocked = v.value\n"
		"expect locked == 200\nexpect unlocked <= 200\n";
	int lost_runs = 0, waited_runs = 0;
	for (int run = 0; run < 3 && (lost_runs == 0 || waited_runs == 0); run++) {
		struct loaded l;
		load(&l, text);
		struct trace *tr = run_real(&l, 2, REAL_GIL_NONE, 20000 * MS);
		ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
		assert_expects(tr);
		ck_assert_str_eq(var_of(tr, "locked"), "200");
		lost_runs += atoi(var_of(tr, "unlocked")) < 200;
		/* one of the locked processes waited for the lock the other held: on a loaded
		 * machine the first can finish its 30 ms before the second starts, so this is
		 * asked of one run in three, as the lost update is */
		struct metrics *m = metrics_compute(tr);
		int64_t waited = m->threads[proc_main(tr, 1)].state_ns[TS_LOCK] +
				 m->threads[proc_main(tr, 2)].state_ns[TS_LOCK];
		waited_runs += waited > 0;
		metrics_destroy(m);
		trace_destroy(tr);
		unload(&l);
	}
	if (!skip_timing()) {
		ck_assert_msg(lost_runs > 0, "no update lost without the lock in 3 runs");
		ck_assert_msg(waited_runs > 0, "no process waited for the lock in 3 runs");
	}
}
END_TEST

/* Without a GIL two threads of one process interpret in parallel (vm_run_bare) and race on a
 * global for real: `counter = counter + 1` is a load and a store, and updates are lost as in
 * free-threaded C. A real race is probabilistic. Measured on the 2-core test machine with 1M
 * increments per thread: 12 of 12 runs lost updates on an idle machine, 18 of 20 with two busy
 * loops and other builds on the two cores (load average 5); so up to 5 attempts until one loses
 * one fail together with a probability below 1e-5 even there. Under a threading.Lock the total
 * is exact in every attempt, and race_on() reports the lost updates that were seen. */
/* sys.exit(3) in a real child: its exit code, quietly (no exception); the run completes. */
START_TEST(test_sys_exit_gives_the_exit_code)
{
	struct loaded l;
	load(&l, "import sys\nfrom multiprocessing import Process\ndef f():\n    sys.exit(3)\n"
		 "p = Process(target=f)\np.start()\np.join()\nprint('code', p.exitcode)\n");
	struct trace *tr = run_real(&l, 1, REAL_GIL_NONE, 10 * 1000000000LL);
	char out[256];
	printed_sorted(tr, out, sizeof out);
	ck_assert_str_eq(out, "code 3\n");
	ck_assert_int_eq(tr->end, END_COMPLETED);
	trace_destroy(tr);
	unload(&l);
}
END_TEST

START_TEST(test_threads_lose_updates_without_gil)
{
	if (real_cores_available() < 2)
		return;
	const char *text =
		"import threading\ncounter = 0\nlock = threading.Lock()\n"
		"def add(n):\n    global counter\n    for i in range(n):\n        counter = counter + 1\n"
		"def add_locked(n):\n    global counter\n    for i in range(n):\n"
		"        with lock:\n            counter = counter + 1\n"
		"def race(f, n):\n    global counter\n    counter = 0\n"
		"    a = threading.Thread(target=f, args=(n,))\n"
		"    b = threading.Thread(target=f, args=(n,))\n"
		"    a.start()\n    b.start()\n    a.join()\n    b.join()\n    return counter\n"
		"locked = race(add_locked, 3000)\nunlocked = race(add, 1000000)\n"
		"expect locked == 6000\nexpect unlocked <= 2000000\n";
	int lost_runs = 0, attempts = 0;
	while (attempts < 5 && lost_runs == 0) {
		attempts++;
		struct loaded l;
		load(&l, text);
		struct trace *tr = run_real(&l, 2, REAL_GIL_NONE, 20000 * MS);
		ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
		assert_expects(tr);
		ck_assert_str_eq(var_of(tr, "locked"), "6000");
		long unlocked = atol(var_of(tr, "unlocked"));
		ck_assert_int_gt(unlocked, 0);
		lost_runs += unlocked < 2000000;
		trace_destroy(tr);
		unload(&l);
	}
	if (!skip_timing()) /* under valgrind the threads hardly ever interleave */
		ck_assert_msg(lost_runs > 0, "no update lost without a lock in %d runs", attempts);

	/* the same with py3's GIL: it changes hands only at calls and backward jumps (here: every
	 * 100000 instructions), never between the load and the store */
	struct loaded l;
	load(&l, text);
	struct trace *tr = run_real(&l, 2, REAL_GIL_PY3, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_str_eq(var_of(tr, "unlocked"), "2000000");
	ck_assert_str_eq(var_of(tr, "locked"), "6000");
	trace_destroy(tr);
	unload(&l);
}
END_TEST

/* What the bare path leaves to vm_run, with threads running in parallel: a store that changes
 * a global's type, an object in a global, a function's defaults, a loop's end, recursion, an
 * integer overflow; and race_on() of a variable that lost no update. */
START_TEST(test_bare_path_semantics)
{
	struct loaded l;
	load(&l, "import threading\nx = 0\nf = 0.5\nname = 'a'\n"
		 "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"
		 "def scale(v, k=3):\n    return v * k\n"
		 "def work(k):\n    global x, f, name\n    s = 0\n    for i in range(2000):\n"
		 "        s = s + scale(i) - i * 3\n        f = f * 1.0\n        name = 'b'\n"
		 "    if k == 1:\n        x = 2.5\n    return s\n"
		 "a = threading.Thread(target=work, args=(1,))\n"
		 "b = threading.Thread(target=work, args=(2,))\n"
		 "a.start()\nb.start()\na.join()\nb.join()\nr = fib(18)\n"
		 "expect x == 2.5\nexpect f == 0.5\nexpect name == 'b'\nexpect r == 2584\n"
		 "expect race_on('x') == False\n");
	struct trace *tr = run_real(&l, 2, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 5);
	assert_expects(tr);
	trace_destroy(tr);
	unload(&l);

	/* errors the bare path leaves to vm_run, raised where they happen */
	assert_real_error("big = 9223372036854775806\nfor i in range(5):\n    big = big + 1\n",
			  "test.slice:3:11: error: OverflowError");

	assert_real_error("def down(n):\n    return down(n + 1)\ndown(0)\n", "RecursionError");
}
END_TEST

START_TEST(test_semaphore_event_condition_barrier)
{
	struct loaded l;
	load(&l, "import threading, multiprocessing as mp\n"
		 "sem = threading.BoundedSemaphore(2)\ns1 = sem.acquire()\ns2 = sem.acquire()\n"
		 "s3 = sem.acquire(False)\ns4 = sem.acquire(timeout=0.02)\nsem.release()\nsem.release()\n"
		 "ev = mp.Event()\nbar = mp.Barrier(3)\ncount = mp.Value('i', 0)\n"
		 "def child():\n    ev.wait()\n    with count.get_lock():\n        count.value += 1\n"
		 "    bar.wait()\n"
		 "p1 = mp.Process(target=child)\np2 = mp.Process(target=child)\np1.start()\np2.start()\n"
		 "sleep(30ms)\nbefore = count.value\nev.set()\nidx = bar.wait()\np1.join()\np2.join()\n"
		 "after = count.value\nflag = ev.is_set()\n"
		 "cv = threading.Condition()\nready = mp.Value('i', 0)\n"
		 "def waiter():\n    with cv:\n        while ready.value == 0:\n            cv.wait()\n"
		 "        print('woken', ready.value)\n"
		 "t = threading.Thread(target=waiter, name='W')\nt.start()\n"
		 "with cv:\n    timed = cv.wait(0.02)\n"
		 "sleep(20ms)\nwith cv:\n    ready.value = 7\n    cv.notify_all()\nt.join()\n"
		 "b2 = threading.Barrier(2)\nparties = b2.parties\n"
		 "expect s1 == True\nexpect s2 == True\nexpect s3 == False\nexpect s4 == False\n"
		 "expect before == 0\nexpect after == 2\nexpect flag == True\n"
		 "expect timed == False\nexpect printed('woken 7') > 0ns\nexpect parties == 2\n");
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 10);
	assert_expects(tr);
	int idx = atoi(var_of(tr, "idx"));
	ck_assert(idx >= 0 && idx <= 2);
	struct metrics *m = metrics_compute(tr);
	/* the children waited for the event (about 30 ms), W on the condition */
	if (!skip_timing()) {
		ck_assert_int_ge(m->threads[proc_main(tr, 1)].state_ns[TS_LOCK],
				 10 * MS);
		ck_assert_int_ge(m->threads[thread_index(tr, "W")].state_ns[TS_LOCK], 10 * MS);
	}
	metrics_destroy(m);
	trace_destroy(tr);
	unload(&l);

	assert_real_error("import threading\ns = threading.BoundedSemaphore(1)\ns.release()\n",
			  "released too many times");

	/* a barrier wait that times out breaks it */
	assert_real_error("import threading\nb = threading.Barrier(2)\nb.wait(0.02)\n",
			  "BrokenBarrierError");
}
END_TEST

START_TEST(test_array_value_shared)
{
	struct loaded l;
	load(&l, "import multiprocessing as mp\na = mp.Array('d', [1, 2, 3])\n"
		 "c = mp.Array('i', 4)\nv = mp.Value('b', 0)\n"
		 "def child():\n    a[0] = 10\n    a[2] += 1.5\n    c[-1] = 5\n    v.value = 130\n"
		 "p = mp.Process(target=child)\np.start()\np.join()\n"
		 "x = a[:]\nn = len(a)\ny = c[1:]\nw = v.value\nz = a[1]\n"
		 "expect x == [10.0, 2.0, 4.5]\nexpect n == 3\nexpect y == [0, 0, 5]\n"
		 "expect w == -126\nexpect z == 2.0\n");
	struct trace *tr = run_real(&l, 0, REAL_GIL_NONE, 20000 * MS);
	ck_assert_msg(tr->end == END_COMPLETED, "%s", tr->end_msg);
	ck_assert_int_eq(tr->nexpects, 5);
	assert_expects(tr);
	trace_destroy(tr);
	unload(&l);

	assert_real_error("import multiprocessing as mp\na = mp.Array('i', 2)\nx = a[2]\n",
			  "IndexError");
}
END_TEST

Suite *real_suite(void)
{
	Suite *s = suite_create("real");
	TCase *tc = tcase_create("Refused before anything starts");
	tcase_add_test(tc, test_refuses_queue);
	tcase_add_test(tc, test_refuses_aliases_and_with);
	tcase_add_test(tc, test_cores_above_machine);
	suite_add_tcase(s, tc);
	tc = tcase_create("Real runs recorded as traces");
	tcase_add_test(tc, test_processes_threads_fork);
	tcase_add_test(tc, test_exception_is_error);
	tcase_add_test(tc, test_gil_py3_serialises);
	tcase_add_test(tc, test_time_slicing_near_sim);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("Locks, semaphores, conditions, events, barriers, shared memory");
	tcase_add_test(tc, test_lock_rlock_threads);
	tcase_add_test(tc, test_process_lock_and_value);
	tcase_add_test(tc, test_threads_lose_updates_without_gil);
	tcase_add_test(tc, test_bare_path_semantics);
	tcase_add_test(tc, test_sys_exit_gives_the_exit_code);
	tcase_add_test(tc, test_semaphore_event_condition_barrier);
	tcase_add_test(tc, test_array_value_shared);
	tcase_add_test(tc, test_queue_pipe_real);
	tcase_add_test(tc, test_join_deadlock_real);
	tcase_add_test(tc, test_pool_real);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("Timeouts and kills leave nothing behind");
	tcase_add_test(tc, test_deadlock_killed_by_timeout);
	tcase_add_test(tc, test_interrupt_midway_leaves_nothing);
	tcase_add_test(tc, test_supervisor_killed_leaves_nothing);
	tcase_add_test(tc, test_child_killed_midway);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

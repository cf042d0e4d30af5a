/* bench-balance.c — the documents' balance race at their 2,000,000 iterations per thread:
 * the simulator (two cores, no GIL, 25 ns per instruction) against CPython running the
 * documents' program on this machine, in the same run, with the ratio.
 *
 * Both are timed from start to end (wall clock, median of three). CPython 3.11 prints 0 (its
 * GIL switches only at calls and backward jumps); the simulator, modelling free-threaded
 * execution, loses updates. The point is the cost of simulating every shared read and write
 * in simulated-time order, against running the program for real. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"

static const char program[] =
	"import time, threading\n"
	"balance = 0\n"
	"def change_it(n):\n"
	"    global balance\n"
	"    balance = balance + n\n"
	"    balance = balance - n\n"
	"def run_thread(n):\n"
	"    for i in range(2000000):\n"
	"        change_it(n)\n"
	"t1 = threading.Thread(target=run_thread, args=(5,))\n"
	"t2 = threading.Thread(target=run_thread, args=(8,))\n"
	"t1.start()\n"
	"t2.start()\n"
	"t1.join()\n"
	"t2.join()\n"
	"print(balance)\n";

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double simulate(char *balance, size_t size)
{
	char text[2048];
	snprintf(text, sizeof text, "machine cores=2 instr=25ns jitter=0.2\n%s", program);
	struct diag d;
	struct source *src = source_from_memory("balance.slice", text, strlen(text));
	struct ast_program *ast = ast_parse(src, &d);
	struct vm_program *prog = ast ? vm_compile(ast, &d) : NULL;
	if (!prog) {
		diag_print(&d, stderr);
		exit(1);
	}
	struct machine m;
	machine_defaults(&m);
	machine_apply_ast(&m, ast, &d);
	double t0 = seconds();
	struct trace *tr = sim_run(ast, prog, &m, &d);
	double dt = seconds() - t0;
	if (!tr || tr->end != END_COMPLETED) {
		fprintf(stderr, "bench-balance: the simulation did not complete\n");
		exit(1);
	}
	snprintf(balance, size, "?");
	for (int i = 0; i < tr->nvars; i++)
		if (strcmp(trace_str(tr, tr->vars[i].name), "balance") == 0)
			snprintf(balance, size, "%s", trace_str(tr, tr->vars[i].repr));
	trace_destroy(tr);
	vm_program_destroy(prog);
	ast_program_destroy(ast);
	source_destroy(src);
	return dt;
}

/* Runs CPython on the program; returns its wall time, or -1 if there is no python3. */
static double cpython(char *out, size_t size)
{
	int fd[2];
	if (pipe(fd) < 0)
		return -1;
	double t0 = seconds();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execlp("python3", "python3", "-c", program, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(fd[0]);
	int status;
	waitpid(pid, &status, 0);
	double dt = seconds() - t0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? dt : -1;
}

int main(void)
{
	double sim[3], py[3];
	char sim_balance[64], py_balance[64] = "";
	for (int i = 0; i < 3; i++) {
		sim[i] = simulate(sim_balance, sizeof sim_balance);
		py[i] = cpython(py_balance, sizeof py_balance);
	}
	qsort(sim, 3, sizeof *sim, cmp);
	qsort(py, 3, sizeof *py, cmp);
	printf("balance race, 2 threads x 2,000,000 iterations (median of 3)\n");
	printf("  simulator (2 cores, no GIL): %7.3f s   final balance %s\n", sim[1], sim_balance);
	if (py[1] < 0) {
		printf("  CPython: python3 not found or failed; no comparison\n");
		return 0;
	}
	printf("  CPython (this machine):      %7.3f s   final balance %s\n", py[1], py_balance);
	printf("  simulator / CPython:         %7.2fx\n", sim[1] / py[1]);
	return 0;
}

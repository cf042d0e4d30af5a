/* bench-record.c — what one real-run trace record costs: real_record() as a thread calls it on
 * every state change (CLOCK_MONOTONIC, sched_getcpu() and a store to the shared mapping; where
 * it blocks or ends also CLOCK_THREAD_CPUTIME_ID), and its parts. Prints ns per record, the median of 7 rounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "shm.h"

#define ROUNDS 7
#define N 200000

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	struct real_shm s = {0};
	if (real_shm_map(&s) < 0) {
		perror("mmap");
		return 1;
	}
	s.hdr->t0 = real_mono_ns();
	int slot = real_shm_new_thread(&s, 0, "bench");
	double rec[ROUNDS], blk[ROUNDS], mono[ROUNDS], cpu[ROUNDS];
	volatile int64_t sink = 0;
	for (int r = 0; r < ROUNDS; r++) {
		atomic_store(&s.threads[slot].nrecs, 0); /* reuse the region: N < its capacity */
		int64_t t0 = real_mono_ns();
		for (int i = 0; i < N && i < REAL_RECS_PER_THREAD; i++) {
			struct real_rec x = {.t = -1, .subject = slot, .obj = -1, .kind = RK_STATE,
					     .state = 2, .reason = RR_RUN};
			real_record(&s, slot, &x);
		}
		int n = N < REAL_RECS_PER_THREAD ? N : REAL_RECS_PER_THREAD;
		rec[r] = (double)(real_mono_ns() - t0) / n;
		atomic_store(&s.threads[slot].nrecs, 0);
		t0 = real_mono_ns();
		for (int i = 0; i < n; i++) {
			struct real_rec x = {.t = -1, .subject = slot, .obj = -1, .kind = RK_STATE,
					     .state = 3 /* TS_SLEEP: reads the CPU clock */, .reason = RR_SLEEP};
			real_record(&s, slot, &x);
		}
		blk[r] = (double)(real_mono_ns() - t0) / n;
		t0 = real_mono_ns();
		for (int i = 0; i < N; i++)
			sink += real_mono_ns();
		mono[r] = (double)(real_mono_ns() - t0) / N;
		t0 = real_mono_ns();
		for (int i = 0; i < N; i++)
			sink += real_thread_cpu_ns();
		cpu[r] = (double)(real_mono_ns() - t0) / N;
	}
	qsort(rec, ROUNDS, sizeof *rec, cmp);
	qsort(blk, ROUNDS, sizeof *blk, cmp);
	qsort(mono, ROUNDS, sizeof *mono, cmp);
	qsort(cpu, ROUNDS, sizeof *cpu, cmp);
	printf("real_record: %.1f ns per record (median of %d rounds of %d records of %zu bytes)\n",
	       rec[ROUNDS / 2], ROUNDS, REAL_RECS_PER_THREAD, sizeof(struct real_rec));
	printf("real_record of a block or end (reads the thread's CPU clock too): %.1f ns\n",
	       blk[ROUNDS / 2]);
	printf("  parts: clock_gettime(CLOCK_MONOTONIC): %.1f ns, "
	       "clock_gettime(CLOCK_THREAD_CPUTIME_ID): %.1f ns\n", mono[ROUNDS / 2], cpu[ROUNDS / 2]);
	real_shm_unmap(&s);
	return sink == 42;
}

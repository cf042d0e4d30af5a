/* shm.c — the shared recording area (see shm.h). */
#define _GNU_SOURCE
#include "shm.h"

#include "trace.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define REAL_MAGIC 0x7265616c74726163ULL /* "realtrac" */

static size_t align_up(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

int real_shm_map(struct real_shm *s)
{
	size_t hdr = align_up(sizeof(struct real_hdr));
	size_t procs = align_up(sizeof(struct real_pslot) * REAL_MAX_PROCS);
	size_t threads = align_up(sizeof(struct real_tslot) * REAL_MAX_THREADS);
	size_t text = align_up(REAL_TEXT_CAP);
	size_t recs = sizeof(struct real_rec) * (size_t)REAL_MAX_THREADS * REAL_RECS_PER_THREAD;
	size_t objs = align_up(sizeof(struct real_sobj) * REAL_MAX_OBJS);
	size_t data = align_up(sizeof(int64_t) * REAL_DATA_CAP);
	size_t size = hdr + procs + threads + text + objs + data + recs;
	/* Anonymous and shared: inherited by every fork, gone with the last process mapping it.
	 * Pages are only backed when touched, so the size is an upper bound, not a cost. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -1;
	char *b = p;
	s->base = p;
	s->size = size;
	s->hdr = (struct real_hdr *)b;
	s->procs = (struct real_pslot *)(b + hdr);
	s->threads = (struct real_tslot *)(b + hdr + procs);
	s->text = b + hdr + procs + threads;
	s->objs = (struct real_sobj *)(b + hdr + procs + threads + text);
	s->data = (int64_t *)(b + hdr + procs + threads + text + objs);
	s->recs = (struct real_rec *)(b + hdr + procs + threads + text + objs + data);
	s->hdr->magic = REAL_MAGIC;
	atomic_store(&s->hdr->text_used, 1); /* offset 0 is the empty string */
	return 0;
}

void real_shm_unmap(struct real_shm *s)
{
	if (s->base)
		munmap(s->base, s->size);
	memset(s, 0, sizeof *s);
}

int real_shm_new_proc(struct real_shm *s)
{
	int i = atomic_fetch_add(&s->hdr->nprocs, 1);
	if (i >= REAL_MAX_PROCS) {
		atomic_fetch_sub(&s->hdr->nprocs, 1);
		return -1;
	}
	s->procs[i].main_slot = -1;
	atomic_store(&s->procs[i].state, PS_RUNNING);
	return i;
}

int real_shm_new_thread(struct real_shm *s, int proc, const char *name)
{
	int i = atomic_fetch_add(&s->hdr->nthreads, 1);
	if (i >= REAL_MAX_THREADS) {
		atomic_fetch_sub(&s->hdr->nthreads, 1);
		return -1;
	}
	s->threads[i].proc = proc;
	s->threads[i].tid = 0;
	strncpy(s->threads[i].name, name, sizeof s->threads[i].name - 1);
	return i;
}

int real_shm_new_obj(struct real_shm *s, int kind, const char *name)
{
	int i = atomic_fetch_add(&s->hdr->nobjs, 1);
	if (i >= REAL_MAX_OBJS) {
		atomic_fetch_sub(&s->hdr->nobjs, 1);
		return -1;
	}
	struct real_sobj *o = &s->objs[i];
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&o->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cv, &ca);
	pthread_condattr_destroy(&ca);
	o->kind = kind;
	o->owner = -1;
	o->bound = -1;
	o->lock = -1;
	o->btimeout = -1;
	o->data = -1;
	o->rfd = o->wfd = o->rfd2 = o->wfd2 = o->wlock = -1;
	strncpy(o->name, name ? name : "", sizeof o->name - 1);
	return i;
}

int64_t real_shm_new_data(struct real_shm *s, int64_t n)
{
	uint64_t off = atomic_fetch_add(&s->hdr->data_used, (uint64_t)n);
	if (off + (uint64_t)n > REAL_DATA_CAP)
		return -1;
	return (int64_t)off;
}

int64_t real_shm_text(struct real_shm *s, const char *text, size_t len)
{
	uint64_t off = atomic_fetch_add(&s->hdr->text_used, (uint64_t)len + 1);
	if (off + len + 1 > REAL_TEXT_CAP) {
		atomic_store(&s->hdr->overflow, 1);
		return -1;
	}
	memcpy(s->text + off, text, len);
	s->text[off + len] = '\0';
	return (int64_t)off;
}

const char *real_shm_text_at(const struct real_shm *s, int64_t off)
{
	if (off <= 0 || (uint64_t)off >= REAL_TEXT_CAP)
		return "";
	return s->text + off;
}

int64_t real_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t real_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void real_record(struct real_shm *s, int writer, struct real_rec *r)
{
	if (writer < 0 || writer >= REAL_MAX_THREADS)
		return;
	struct real_tslot *ts = &s->threads[writer];
	uint32_t n = atomic_load_explicit(&ts->nrecs, memory_order_relaxed);
	if (n >= REAL_RECS_PER_THREAD) {
		atomic_store_explicit(&s->hdr->overflow, 1, memory_order_relaxed);
		return;
	}
	if (r->t < 0)
		r->t = real_mono_ns() - s->hdr->t0;
	r->cpu = (int16_t)sched_getcpu();
	/* the thread's CPU clock is a system call (about 1.4 us on this project's VM, 30x the rest
	 * of a record): read it only where a thread blocks or ends */
	r->cpu_ns = r->kind == RK_STATE && r->state >= TS_SLEEP ? real_thread_cpu_ns() : -1;
	s->recs[(size_t)writer * REAL_RECS_PER_THREAD + n] = *r;
	/* publish: a reader that sees the count sees the record */
	atomic_store_explicit(&ts->nrecs, n + 1, memory_order_release);
}

/* SPDX-License-Identifier: MIT */
/* Helpers of the runner workloads: threads, timed windows, pools, checks,
 * medians. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void runner_barrier_init(struct runner_barrier *b, int n)
{
	atomic_init(&b->arrived, 0);
	atomic_init(&b->gen, 0);
	b->n = (unsigned)n;
}

void runner_barrier_wait(struct runner_barrier *b)
{
	unsigned gen = atomic_load_explicit(&b->gen, memory_order_acquire);
	unsigned spins = 0;

	if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->n) {
		/* the reset comes before the release that lets the others go */
		atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
		atomic_store_explicit(&b->gen, gen + 1, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&b->gen, memory_order_acquire) == gen)
		if (++spins > 1u << 16)
			sched_yield();
}

struct thread_arg {
	void (*fn)(void *arg, int i);
	void *arg;
	int i;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;

	if (ropt.pin)
		bench_pin_to(t->i, "runner");
	t->fn(t->arg, t->i);
	return NULL;
}

int runner_threads(int n, void (*fn)(void *arg, int i), void *arg)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	struct thread_arg *ta = calloc((size_t)n, sizeof(*ta));
	int i, err = 0;

	if (!th || !ta) {
		free(th);
		free(ta);
		return runner_fail("out of memory for %d threads", n);
	}
	/* The others first: they inherit the affinity of this thread, which
	 * thread_main pins last. */
	for (i = 1; i < n && !err; i++) {
		ta[i] = (struct thread_arg){ fn, arg, i };
		err = pthread_create(&th[i], NULL, thread_main, &ta[i]);
	}
	if (err) {
		/* The others would wait at a barrier for ever. */
		fprintf(stderr, "runner: pthread_create: %s\n", strerror(err));
		exit(1);
	}
	ta[0] = (struct thread_arg){ fn, arg, 0 };
	thread_main(&ta[0]);
	for (i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
	free(ta);
	return 0;
}

void runner_stagger(int i)
{
	uint64_t ns = (uint64_t)(ropt.stagger_ms * 1e6);
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	if (i == 1 && ns)
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
}

void runner_warmup(struct peer_pool *pool, unsigned order, char *why, size_t len)
{
	void *p;
	int e;

	if (!ropt.warmup)
		return;
	p = pool->alloc(pool, order);
	if (!p) {
		snprintf(why, len, "the warm-up allocation (order %u) returned NULL", order);
		return;
	}
	e = pool->free(pool, p, order);
	if (e)
		snprintf(why, len, "the warm-up free failed (%d)", e);
}

/* The calling thread's runqueue wait in ns, from schedstat ("on-CPU wait
 * slices"), its fd kept open per thread; -1 when the kernel has none. */
static int64_t runqueue_wait_ns(void)
{
	static _Thread_local int fd = -2;
	unsigned long long run, wait;
	char buf[96];
	ssize_t n;

	if (fd == -2)
		fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return -1;
	return (int64_t)wait;
}

/* Without schedstat: the time the thread was off its CPU counts as waiting
 * (this also counts sleeping in a lock). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void runner_window_begin(struct runner_window *w)
{
	int64_t q = runqueue_wait_ns();

	w->q0 = q >= 0 ? (uint64_t)q : thread_cpu_ns();
	w->t0 = bench_now_ns();
}

void runner_window_end(struct runner_window *w)
{
	int64_t q;

	w->t1 = bench_now_ns();
	q = runqueue_wait_ns();
	if (q >= 0) {
		w->q1 = (uint64_t)q;
	} else {
		/* waited = wall - cpu, as q1 - q0 */
		uint64_t cpu = thread_cpu_ns() - w->q0;

		w->q0 = 0;
		w->q1 = w->t1 - w->t0 > cpu ? w->t1 - w->t0 - cpu : 0;
	}
}

void runner_span_add(struct runner_span *s, const struct runner_window *w, int n)
{
	uint64_t lo = UINT64_MAX, hi = 0, last_start = 0, first_end = UINT64_MAX;

	for (int i = 0; i < n; i++) {
		s->wall += w[i].t1 - w[i].t0;
		s->waited += w[i].q1 - w[i].q0;
		lo = w[i].t0 < lo ? w[i].t0 : lo;
		hi = w[i].t1 > hi ? w[i].t1 : hi;
		last_start = w[i].t0 > last_start ? w[i].t0 : last_start;
		first_end = w[i].t1 < first_end ? w[i].t1 : first_end;
	}
	if (hi > lo)
		s->uni += hi - lo;
	if (first_end > last_start)
		s->inter += first_end - last_start;
}

struct peer_pool *runner_pool(size_t pages, unsigned flags)
{
	char why[256] = "";
	struct peer_pool *p = ropt.peer->create(pages, ropt.page_size, flags, why, sizeof(why));

	if (!p)
		runner_fail("creating a pool of %zu rooms of %zu B failed: %s", pages,
			    ropt.page_size, why);
	return p;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

/* The blocks are aligned to bytes: in a range of at most 64 slots per block,
 * one bit per slot finds a block handed out twice. */
static int check_dense(void *const *p, size_t n, size_t bytes, uintptr_t lo, size_t slots,
		       const char *what)
{
	uint64_t *seen = calloc((slots + 63) / 64, sizeof(*seen));

	if (!seen)
		return runner_fail("out of memory for the check");
	for (size_t i = 0; i < n; i++) {
		size_t s = ((uintptr_t)p[i] - lo) / bytes;

		if (seen[s / 64] & (uint64_t)1 << (s % 64)) {
			free(seen);
			return runner_fail("%s: block %p handed out twice", what, p[i]);
		}
		seen[s / 64] |= (uint64_t)1 << (s % 64);
	}
	free(seen);
	return 0;
}

int runner_check_blocks(void *const *p, size_t n, size_t bytes, const char *what)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, *s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!p[i])
			return runner_fail("%s: allocation %zu of %zu returned NULL", what, i, n);
		if ((uintptr_t)p[i] & (bytes - 1))
			return runner_fail("%s: block %p is not aligned to %zu B", what, p[i],
					   bytes);
		lo = (uintptr_t)p[i] < lo ? (uintptr_t)p[i] : lo;
		hi = (uintptr_t)p[i] > hi ? (uintptr_t)p[i] : hi;
	}
	if (n < 2)
		return 0;
	if ((hi - lo) / bytes < 64 * (uintptr_t)n)
		return check_dense(p, n, bytes, lo, (hi - lo) / bytes + 1, what);
	s = malloc(n * sizeof(*s));
	if (!s)
		return runner_fail("out of memory for the check");
	for (i = 0; i < n; i++)
		s[i] = (uintptr_t)p[i];
	qsort(s, n, sizeof(*s), cmp_ptr);
	for (i = 1; i < n; i++)
		if (s[i] - s[i - 1] < bytes) {
			free(s);
			return runner_fail("%s: blocks %#lx and %#lx overlap (handed out twice)",
					   what, (unsigned long)s[i - 1], (unsigned long)s[i]);
		}
	free(s);
	return 0;
}

void **runner_ptrs(size_t n)
{
	void **p = malloc((n ? n : 1) * sizeof(*p));

	if (p)
		memset(p, 0xa5, (n ? n : 1) * sizeof(*p));
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double runner_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

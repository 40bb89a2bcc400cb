/* SPDX-License-Identifier: MIT */
/* Runner workload signal: a timer signal (SIGALRM from setitimer, every
 * 100 us) whose handler allocates SIG_ROOMS rooms and frees them, timed
 * inside the handler, while the main thread churns the same pool (free a
 * random held room + allocate one) at --fill percent. The main thread runs
 * until the handler has run a number of times set by --ops (times
 * --repeat), or the deadline. Only peers with PEER_SIGNAL run it. One thread.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define SIG_ROOMS 4
#define SIG_PERIOD_US 100
#define SIG_HARD_CAP_S 10.0 /* with --ops and no --duration: never hang */

/* Written by the handler only, read by the main thread (the same thread)
 * after the timer is stopped; lock-free atomics are what a handler may use. */
static struct peer_pool *_Atomic sig_pool;
static _Atomic uint64_t sig_calls, sig_ns, sig_nulls, sig_bits;
/* sig_tickets: handler calls started; those past sig_want do nothing, so
 * that every run counts exactly the same work */
static _Atomic uint64_t sig_tickets, sig_want;
static _Atomic int sig_err;

static void on_alarm(int signo)
{
	struct peer_pool *pool = atomic_load_explicit(&sig_pool, memory_order_relaxed);
	void *p[SIG_ROOMS];
	uint64_t t0, t1, nulls = 0, bits = 0;
	int saved = errno, e = 0, k;

	(void)signo;
	if (!pool)
		return;
	if (atomic_fetch_add_explicit(&sig_tickets, 1, memory_order_relaxed) >=
	    atomic_load_explicit(&sig_want, memory_order_relaxed))
		return;
	t0 = bench_now_ns(); /* clock_gettime is async-signal-safe */
	for (k = 0; k < SIG_ROOMS; k++) {
		p[k] = pool->alloc(pool, 0);
		nulls += !p[k];
		bits |= (uintptr_t)p[k];
	}
	for (k = 0; k < SIG_ROOMS; k++)
		if (p[k])
			e |= pool->free(pool, p[k], 0);
	t1 = bench_now_ns();
	atomic_fetch_add_explicit(&sig_ns, t1 - t0, memory_order_relaxed);
	atomic_fetch_add_explicit(&sig_calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sig_nulls, nulls, memory_order_relaxed);
	atomic_fetch_or_explicit(&sig_bits, bits, memory_order_relaxed);
	atomic_fetch_or_explicit(&sig_err, e, memory_order_relaxed);
	errno = saved;
}

static int timer_set(long us)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_interval.tv_usec = us;
	it.it_value.tv_usec = us;
	return setitimer(ITIMER_REAL, &it, NULL);
}

int wl_signal(void)
{
	size_t n = ropt.pages, keep = n * (size_t)ropt.fill / 100, j;
	struct peer_pool *pool = runner_pool(n, 0);
	void **held = runner_ptrs(n);
	uint64_t want = ropt.ops / 2000, steps = 0, nulls = 0, t0, deadline, calls;
	uint64_t rng = bench_rng_seed(ropt.seed, 40);
	double ns;
	uintptr_t bits = 0;
	struct sigaction sa, old;
	struct runner_span span = { 0, 0, 0, 0 };
	struct runner_window win;
	int rc = -1, e = 0;

	want = (want < 20 ? 20 : want > 1000 ? 1000 : want) * ropt.repeat;
	if (ropt.duration > 0 && !ropt.ops_set)
		want = UINT64_MAX; /* the deadline alone */
	if (!pool || !held || !keep) {
		runner_fail(keep ? "set-up failed" : "--fill of --pages holds no room");
		goto out;
	}
	for (j = 0; j < n; j++)
		if (!(held[j] = pool->alloc(pool, 0))) {
			runner_fail("pre-fill: allocation %zu of %zu returned NULL", j + 1, n);
			goto out;
		}
	bench_shuffle(held, n, &rng);
	for (j = keep; j < n; j++)
		e |= pool->free(pool, held[j], 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	atomic_store(&sig_pool, pool);
	atomic_store(&sig_tickets, 0);
	atomic_store(&sig_want, want);
	if (e || sigaction(SIGALRM, &sa, &old) || timer_set(SIG_PERIOD_US)) {
		if (e)
			runner_fail("pre-fill: a free failed (OR of results %d)", e);
		else
			runner_fail("sigaction/setitimer: %s", strerror(errno));
		goto out;
	}
	runner_window_begin(&win);
	t0 = win.t0;
	deadline = runner_deadline(t0);
	if (!deadline)
		deadline = t0 + (uint64_t)(SIG_HARD_CAP_S * 1e9);
	while (atomic_load_explicit(&sig_calls, memory_order_relaxed) < want) {
		for (unsigned k = 0; k < RUNNER_CHUNK; k++) {
			size_t r = bench_rng_below(&rng, keep);
			void *p;

			e |= pool->free(pool, held[r], 0);
			p = pool->alloc(pool, 0);
			bits |= (uintptr_t)p;
			nulls += !p;
			held[r] = p;
		}
		steps += RUNNER_CHUNK;
		if (bench_now_ns() >= deadline)
			break;
	}
	runner_window_end(&win);
	timer_set(0);
	sigaction(SIGALRM, &old, NULL);
	atomic_store(&sig_pool, NULL);
	calls = atomic_load(&sig_calls);
	if (nulls || atomic_load(&sig_nulls)) {
		runner_fail("%llu allocations in the main loop and %llu in the handler returned "
			    "NULL",
			    (unsigned long long)nulls, (unsigned long long)atomic_load(&sig_nulls));
		goto out;
	}
	if (e || atomic_load(&sig_err)) {
		runner_fail("a free failed: main loop OR %d, handler OR %d", e,
			    atomic_load(&sig_err));
		goto out;
	}
	if ((bits | atomic_load(&sig_bits)) & (pool->page_size - 1)) {
		runner_fail("a room not aligned to %zu B", pool->page_size);
		goto out;
	}
	if (!calls) {
		runner_fail("no signal arrived in %llu main-loop steps", (unsigned long long)steps);
		goto out;
	}
	if ((rc = runner_check_blocks(held, keep, pool->page_size, "held rooms")))
		goto out;
	runner_sink += (uintptr_t)held[0];
	runner_span_add(&span, &win, 1);
	runner_set_span(&span);
	ns = (double)atomic_load(&sig_ns) / (double)(calls * SIG_ROOMS);
	runner_report("op", ns, "ns", 1e3 / ns, calls * SIG_ROOMS, 1,
		      "ns per alloc+free inside a SIGALRM handler: %llu handler calls of %d "
		      "allocs then %d frees, every %d us, during %llu main-thread churn steps "
		      "at %d%% fill",
		      (unsigned long long)calls, SIG_ROOMS, SIG_ROOMS, SIG_PERIOD_US,
		      (unsigned long long)steps, ropt.fill);
	rc = 0;
out:
	if (pool)
		ropt.peer->destroy(pool);
	free(held);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* Signal reentrancy: a timer signal aimed at the main thread every 50 us
 * allocates blocks (LAB_GFP_ATOMIC), writes and verifies cookies and frees
 * them, while the interrupted thread allocates and frees in a tight loop,
 * holding some blocks, and a second thread (signal blocked) churns too.
 * Checks: no room held twice, every cookie intact, every free succeeds, the
 * handler's ATOMIC allocations never fail (the others leave the reserve
 * alone), counts balance and the maze validates at the end. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define PAGES 1024
#define RESERVE 128
#define MAIN_HOLD 160
#define CHURN_HOLD 160
#define SIG SIGRTMIN

static struct labyrinth *maze;
static _Atomic uint8_t holder[PAGES]; /* 0 free, 1 main, 2 handler, 3 churner */
static lab_owner_t main_tid;

static volatile sig_atomic_t in_op; /* main is inside an alloc or free */
static atomic_ulong handled, interrupted, h_allocs, h_fail, h_dup, h_cookie, h_free_err, h_owner;
static atomic_ulong dups, errors;
static atomic_int stop_churn;

static uint64_t cookie_of(long idx, unsigned who, uint64_t gen)
{
	return ((uint64_t)who << 60) ^ ((uint64_t)idx << 32) ^ gen;
}

static void fill(long idx, unsigned order, uint64_t c)
{
	uint64_t *w = (uint64_t *)lab_index_page(maze, (size_t)idx);
	size_t words = (4096u << order) / 8;
	for (size_t k = 0; k < words; k++)
		w[k] = c + k;
}

static int intact(long idx, unsigned order, uint64_t c)
{
	const uint64_t *w = (const uint64_t *)lab_index_page(maze, (size_t)idx);
	size_t words = (4096u << order) / 8;
	for (size_t k = 0; k < words; k++)
		if (w[k] != c + k)
			return 0;
	return 1;
}

static int claim(long idx, unsigned order, uint8_t who)
{
	for (long r = idx; r < idx + (1L << order); r++) {
		uint8_t e = 0;
		if (!atomic_compare_exchange_strong(&holder[r], &e, who))
			return 0;
	}
	return 1;
}

static int unclaim(long idx, unsigned order, uint8_t who)
{
	int ok = 1;
	for (long r = idx; r < idx + (1L << order); r++) {
		uint8_t e = who;
		if (!atomic_compare_exchange_strong(&holder[r], &e, 0))
			ok = 0;
	}
	return ok;
}

static int zeroed(long idx, unsigned order)
{
	const uint64_t *w = (const uint64_t *)lab_index_page(maze, (size_t)idx);
	size_t words = (4096u << order) / 8;
	for (size_t k = 0; k < words; k++)
		if (w[k])
			return 0;
	return 1;
}

/* ---- the handler: async-signal-safe calls only ---- */

static void on_timer(int sig)
{
	(void)sig;
	int saved = errno;
	static uint64_t gen;
	long idx[3];
	uint64_t c[3] = { 0, 0, 0 };
	static const unsigned ord[3] = { 0, 1, 2 };
	if (in_op)
		atomic_fetch_add(&interrupted, 1);
	for (int k = 0; k < 3; k++) {
		lab_gfp_t gfp = LAB_GFP_ATOMIC | (k == 1 ? LAB_GFP_EXCLUSIVE : 0) |
				(k == 2 ? LAB_GFP_ZERO : 0);
		if (k == 0) {
			void *p = lab_alloc_pages(maze, gfp, ord[k]);
			idx[k] = p ? lab_page_index(maze, p) : -ENOMEM;
		} else {
			idx[k] = lab_alloc_index(maze, gfp, ord[k]);
		}
		if (idx[k] < 0) {
			atomic_fetch_add(&h_fail, 1);
			continue;
		}
		atomic_fetch_add(&h_allocs, 1);
		if (lab_index_owner(maze, (size_t)idx[k]) != main_tid)
			atomic_fetch_add(&h_owner, 1);
		if (!claim(idx[k], ord[k], 2)) {
			atomic_fetch_add(&h_dup, 1);
			idx[k] = -1; /* someone else's block: leave it alone */
			continue;
		}
		if (k == 2 && !zeroed(idx[k], ord[k]))
			atomic_fetch_add(&h_cookie, 1);
		c[k] = cookie_of(idx[k], 2, ++gen);
		fill(idx[k], ord[k], c[k]);
	}
	for (int k = 2; k >= 0; k--) {
		if (idx[k] < 0)
			continue;
		if (!intact(idx[k], ord[k], c[k]))
			atomic_fetch_add(&h_cookie, 1);
		unclaim(idx[k], ord[k], 2);
		int rc = k == 0 ? lab_free_pages(maze, lab_index_page(maze, (size_t)idx[k]),
						 ord[k]) :
				  lab_free_index(maze, (size_t)idx[k], ord[k]);
		if (rc != 0)
			atomic_fetch_add(&h_free_err, 1);
	}
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

/* ---- the interrupted thread and a churner ---- */

struct held {
	long idx;
	unsigned order;
	uint64_t c;
};

struct loop {
	uint8_t who;
	int hold;
	uint64_t rng;
	struct held h[MAIN_HOLD > CHURN_HOLD ? MAIN_HOLD : CHURN_HOLD];
	int n;
	unsigned long allocs, frees, nulls;
};

static void step(struct loop *L, int track)
{
	uint64_t r = harness_rand(&L->rng);
	if ((r & 1) && L->n < L->hold) {
		unsigned order = (unsigned)((r >> 1) % 3);
		/* NOWAIT or no mode: the reserve stays for the handler */
		lab_gfp_t gfp = ((r >> 3) & 1 ? LAB_GFP_NOWAIT : 0) |
				((r >> 4) & 1 ? LAB_GFP_EXCLUSIVE : 0);
		long i;
		if (track)
			in_op = 1;
		if ((r >> 5) & 1) {
			void *p = lab_alloc_pages(maze, gfp, order);
			i = p ? lab_page_index(maze, p) : -ENOMEM;
		} else {
			i = lab_alloc_index(maze, gfp, order);
		}
		if (track)
			in_op = 0;
		if (i < 0) {
			L->nulls++;
			return;
		}
		L->allocs++;
		if (!claim(i, order, L->who)) {
			atomic_fetch_add(&dups, 1);
			return;
		}
		struct held *h = &L->h[L->n++];
		h->idx = i;
		h->order = order;
		h->c = cookie_of(i, L->who, r >> 8);
		/* first and last word of each room: the loop must stay tight */
		uint64_t *w = (uint64_t *)lab_index_page(maze, (size_t)i);
		w[0] = h->c;
		w[(512u << order) - 1] = ~h->c;
	} else if (L->n > 0) {
		int k = (int)((r >> 1) % (uint64_t)L->n);
		struct held h = L->h[k];
		L->h[k] = L->h[--L->n];
		uint64_t *w = (uint64_t *)lab_index_page(maze, (size_t)h.idx);
		if (w[0] != h.c || w[(512u << h.order) - 1] != ~h.c)
			atomic_fetch_add(&errors, 1);
		if (!unclaim(h.idx, h.order, L->who))
			atomic_fetch_add(&dups, 1);
		int rc;
		if (track)
			in_op = 1;
		if ((r >> 9) & 1)
			rc = lab_free_pages(maze, (void *)w, h.order);
		else
			rc = lab_free_index(maze, (size_t)h.idx, h.order);
		if (track)
			in_op = 0;
		if (rc != 0)
			atomic_fetch_add(&errors, 1);
		L->frees++;
	}
}

static void drain(struct loop *L)
{
	while (L->n > 0) {
		L->n--;
		unclaim(L->h[L->n].idx, L->h[L->n].order, L->who);
		if (lab_free_index(maze, (size_t)L->h[L->n].idx, L->h[L->n].order) != 0)
			atomic_fetch_add(&errors, 1);
		L->frees++;
	}
}

static void *churner(void *arg)
{
	struct loop *L = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIG);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!atomic_load(&stop_churn))
		step(L, 0);
	drain(L);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run(long interval_ns, unsigned long target, int with_churner)
{
	struct lab_config cfg = { 0 };
	cfg.pages = PAGES;
	cfg.reserve = RESERVE;
	REQUIRE(lab_create(&maze, &cfg) == 0);
	main_tid = lab_self();
	for (size_t i = 0; i < PAGES; i++)
		atomic_store(&holder[i], 0);
	atomic_store(&handled, 0);
	atomic_store(&interrupted, 0);
	atomic_store(&h_allocs, 0);
	atomic_store(&h_fail, 0);
	atomic_store(&h_dup, 0);
	atomic_store(&h_cookie, 0);
	atomic_store(&h_free_err, 0);
	atomic_store(&h_owner, 0);
	atomic_store(&dups, 0);
	atomic_store(&errors, 0);
	atomic_store(&stop_churn, 0);

	static struct loop M, C;
	memset(&M, 0, sizeof M);
	memset(&C, 0, sizeof C);
	M.who = 1;
	M.hold = MAIN_HOLD;
	M.rng = harness_seed(getenv("LAB_TEST_SEED"), 5) + (uint64_t)with_churner;
	C.who = 3;
	C.hold = CHURN_HOLD;
	C.rng = M.rng ^ 0xabcdef;
	pthread_t ct;
	if (with_churner)
		REQUIRE(pthread_create(&ct, NULL, churner, &C) == 0);

	struct sigaction sa = { 0 };
	sa.sa_handler = on_timer;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIG, &sa, NULL) == 0);
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIG;
	sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
	timer_t timer;
	REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &timer) == 0);
	struct itimerspec its = { { 0, interval_ns }, { 0, interval_ns } };
	REQUIRE(timer_settime(timer, 0, &its, NULL) == 0);

	double t0 = now(), limit = 20.0;
	while (atomic_load(&handled) < target && now() - t0 < limit)
		for (int i = 0; i < 64; i++)
			step(&M, 1);
	timer_delete(timer);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIG);
	pthread_sigmask(SIG_BLOCK, &set, &old); /* a last queued signal may still be pending */
	atomic_store(&stop_churn, 1);
	if (with_churner)
		pthread_join(ct, NULL);
	drain(&M);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIG, SIG_IGN);

	unsigned long hd = atomic_load(&handled);
	printf("%s: %lu signals in %.2f s, %lu interrupted an alloc/free; handler %lu allocs %lu failed; "
	       "main %lu allocs %lu frees %lu NULL; churner %lu allocs %lu NULL\n",
	       with_churner ? "with churner" : "alone", hd, now() - t0, atomic_load(&interrupted),
	       atomic_load(&h_allocs), atomic_load(&h_fail), M.allocs, M.frees, M.nulls, C.allocs,
	       C.nulls);
	CHECK_MSG(hd >= target || hd >= 200, "only %lu signals handled", hd);
	CHECK(atomic_load(&interrupted) > 0);
	CHECK_EQ(atomic_load(&h_fail), 0);
	CHECK_EQ(atomic_load(&h_dup), 0);
	CHECK_EQ(atomic_load(&h_cookie), 0);
	CHECK_EQ(atomic_load(&h_free_err), 0);
	CHECK_EQ(atomic_load(&h_owner), 0);
	CHECK_EQ(atomic_load(&dups), 0);
	CHECK_EQ(atomic_load(&errors), 0);
	CHECK_EQ(M.allocs, M.frees);
	CHECK_EQ(C.allocs, C.frees);
	CHECK_EQ(atomic_load(&h_allocs), 3 * hd - atomic_load(&h_fail));
	struct lab_stats st;
	lab_stats(maze, &st);
	CHECK_EQ(st.free, PAGES);
	char why[256] = "";
	int rc = lab_validate(maze, why, sizeof why);
	CHECK_MSG(rc == 0, "lab_validate = %d: %s", rc, why);
	lab_destroy(maze);
	maze = NULL;
}

TEST(signal_alone)
{
	run(50000, harness_scale(5000), 0);
}

TEST(signal_with_churner)
{
	run(100000, harness_scale(3000), 1);
}

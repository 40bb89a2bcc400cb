/* SPDX-License-Identifier: MIT */
/* Blocking: LAB_GFP_KERNEL sleeps while only the reserve is left or the maze
 * is full, and wakes when another thread frees. Every wait is bounded by a
 * watchdog so a lost wake-up fails the test instead of hanging it. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void watchdog_fired(int sig)
{
	static const char msg[] = "watchdog: a wait did not end (lost wake-up?)\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	(void)sig;
	_exit(3);
}

static void watchdog(unsigned seconds)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = watchdog_fired;
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

static struct labyrinth *mk(size_t pages, size_t reserve)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.pages = pages;
	cfg.reserve = reserve;
	int rc = lab_create(&m, &cfg);
	CHECK_EQ(rc, 0);
	REQUIRE(rc == 0 && m);
	return m;
}

static struct lab_stats stats(const struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

struct waiter {
	struct labyrinth *m;
	lab_gfp_t gfp;
	unsigned order;
	int by_index;
	long index; /* result */
	void *page; /* result */
	lab_owner_t self, owner;
	atomic_int started, done;
	pthread_t thread;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	w->self = lab_self();
	atomic_store(&w->started, 1);
	if (w->by_index) {
		w->index = lab_alloc_index(w->m, w->gfp, w->order);
		if (w->index >= 0)
			w->owner = lab_index_owner(w->m, (size_t)w->index);
	} else {
		w->page = lab_alloc_pages(w->m, w->gfp, w->order);
		w->index = w->page ? lab_page_index(w->m, w->page) : -ENOMEM;
		if (w->page)
			w->owner = lab_page_owner(w->m, w->page);
	}
	atomic_store(&w->done, 1);
	return NULL;
}

static void start(struct waiter *w, struct labyrinth *m, lab_gfp_t gfp, unsigned order,
		  int by_index)
{
	memset(w, 0, sizeof *w);
	w->m = m;
	w->gfp = gfp;
	w->order = order;
	w->by_index = by_index;
	REQUIRE(pthread_create(&w->thread, NULL, waiter_thread, w) == 0);
	while (!atomic_load(&w->started))
		sched_yield();
}

/* Wait until the maze reports n sleepers (or 5 s pass); then make sure the
 * sleepers really are asleep a while. */
static void settle(struct labyrinth *m, size_t n)
{
	for (int i = 0; i < 5000 && stats(m).waiters < n; i++)
		sleep_ms(1);
	CHECK_EQ(stats(m).waiters, n);
	sleep_ms(50);
}

static void finish(struct waiter *w)
{
	pthread_join(w->thread, NULL);
	CHECK(atomic_load(&w->done));
	CHECK_MSG(w->index >= 0, "waiter got %ld", w->index);
	CHECK_EQ(w->owner, w->self);
}

TEST(kernel_waits_for_reserve)
{
	watchdog(20);
	struct labyrinth *m = mk(8, 2);
	long held[8];
	for (int i = 0; i < 6; i++) {
		held[i] = lab_alloc_index(m, LAB_GFP_NOWAIT, 0);
		REQUIRE(held[i] >= 0);
	}
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_NOWAIT, 0), -ENOMEM);
	struct waiter w;
	start(&w, m, LAB_GFP_KERNEL, 0, 0);
	settle(m, 1);
	CHECK_MSG(!atomic_load(&w.done), "KERNEL took a reserve room (got index %ld)", w.index);
	CHECK_EQ(stats(m).free, 2);
	CHECK_EQ(lab_free_index(m, (size_t)held[0], 0), 0);
	finish(&w);
	CHECK(w.page != NULL);
	CHECK_EQ(stats(m).free, 2);
	CHECK_EQ(stats(m).waiters, 0);
	/* ATOMIC still gets the reserve */
	CHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	CHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	CHECK_EQ(stats(m).free, 0);
	lab_destroy(m);
	alarm(0);
}

TEST(kernel_waits_when_full)
{
	watchdog(20);
	struct labyrinth *m = mk(8, 0);
	for (int i = 0; i < 8; i++)
		REQUIRE(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	/* non-waiting modes fail at once */
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK(lab_alloc_page(m, LAB_GFP_NOWAIT) == NULL);
	CHECK(lab_alloc_page(m, 0) == NULL);
	struct waiter w;
	start(&w, m, LAB_GFP_KERNEL | LAB_GFP_EXCLUSIVE, 0, 1);
	settle(m, 1);
	CHECK(!atomic_load(&w.done));
	CHECK_EQ(lab_free_index(m, 5, 0), 0);
	finish(&w);
	CHECK_EQ(w.index, 5);
	CHECK_EQ(stats(m).free, 0);
	/* the waiter's page is exclusive to it */
	CHECK_EQ(lab_free_index(m, 5, 0), -EPERM);
	lab_destroy(m);
	alarm(0);
}

TEST(kernel_nofail_waits)
{
	watchdog(20);
	struct labyrinth *m = mk(8, 1);
	for (int i = 0; i < 8; i++)
		REQUIRE(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	struct waiter w;
	start(&w, m, LAB_GFP_KERNEL | LAB_GFP_NOFAIL, 0, 0);
	settle(m, 1);
	CHECK(!atomic_load(&w.done));
	/* one free room is only the reserve: still asleep */
	CHECK_EQ(lab_free_index(m, 2, 0), 0);
	sleep_ms(100);
	CHECK_MSG(!atomic_load(&w.done), "KERNEL|NOFAIL took the reserve room");
	CHECK_EQ(lab_free_index(m, 6, 0), 0);
	finish(&w);
	CHECK(w.page != NULL);
	CHECK(w.index == 2 || w.index == 6);
	CHECK_EQ(stats(m).free, 1);
	lab_destroy(m);
	alarm(0);
}

TEST(kernel_waits_for_a_whole_block)
{
	watchdog(20);
	struct labyrinth *m = mk(8, 0);
	for (int i = 0; i < 8; i++)
		REQUIRE(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	struct waiter w;
	start(&w, m, LAB_GFP_KERNEL, 2, 1);
	settle(m, 1);
	/* three rooms of the block, and one of the other block, are not enough */
	CHECK_EQ(lab_free_index(m, 0, 0), 0);
	CHECK_EQ(lab_free_index(m, 1, 0), 0);
	CHECK_EQ(lab_free_index(m, 2, 0), 0);
	CHECK_EQ(lab_free_index(m, 7, 0), 0);
	sleep_ms(100);
	CHECK_MSG(!atomic_load(&w.done), "order-2 waiter returned %ld with no whole block free",
		  w.index);
	CHECK_EQ(lab_free_index(m, 3, 0), 0);
	finish(&w);
	CHECK_EQ(w.index, 0);
	CHECK_EQ(stats(m).free, 1);
	CHECK_EQ(lab_free_index(m, 0, 2), 0);
	lab_destroy(m);
	alarm(0);
}

TEST(kernel_many_waiters)
{
	watchdog(30);
	enum {
		W = 4
	};
	struct labyrinth *m = mk(16, 0);
	for (int i = 0; i < 16; i++)
		REQUIRE(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	struct waiter w[W];
	for (int i = 0; i < W; i++)
		start(&w[i], m, i & 1 ? LAB_GFP_KERNEL : LAB_GFP_KERNEL | LAB_GFP_NOFAIL, 0, i & 1);
	settle(m, W);
	for (int i = 0; i < W; i++)
		CHECK(!atomic_load(&w[i].done));
	/* free one room at a time; exactly one more sleeper wakes each time */
	for (int k = 0; k < W; k++) {
		CHECK_EQ(lab_free_index(m, (size_t)(3 * k + 1), 0), 0);
		int done = 0;
		for (int t = 0; t < 5000; t++) {
			done = 0;
			for (int i = 0; i < W; i++)
				done += atomic_load(&w[i].done);
			if (done == k + 1)
				break;
			sleep_ms(1);
		}
		sleep_ms(20);
		done = 0;
		for (int i = 0; i < W; i++)
			done += atomic_load(&w[i].done);
		CHECK_MSG(done == k + 1, "after %d frees %d waiters returned", k + 1, done);
	}
	for (int i = 0; i < W; i++) {
		finish(&w[i]);
		for (int j = 0; j < i; j++)
			CHECK(w[i].index != w[j].index);
	}
	CHECK_EQ(stats(m).free, 0);
	CHECK_EQ(stats(m).waiters, 0);
	char why[128];
	CHECK_EQ(lab_validate(m, why, sizeof why), 0);
	lab_destroy(m);
	alarm(0);
}

struct freer {
	struct labyrinth *m;
	size_t index;
	int rc;
};

static void *freer_thread(void *arg)
{
	struct freer *f = arg;
	f->rc = lab_free_index(f->m, f->index, 0);
	return NULL;
}

TEST(kernel_woken_by_third_thread)
{
	watchdog(20);
	struct labyrinth *m = mk(64, 0);
	for (int i = 0; i < 64; i++)
		REQUIRE(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	struct waiter w;
	start(&w, m, LAB_GFP_KERNEL | LAB_GFP_ZERO, 0, 0);
	settle(m, 1);
	struct freer f = { .m = m, .index = 37 };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, freer_thread, &f) == 0);
	pthread_join(t, NULL);
	CHECK_EQ(f.rc, 0);
	finish(&w);
	CHECK_EQ(w.index, 37);
	lab_destroy(m);
	alarm(0);
}

/* Repeated hand-over through the allocator: one thread frees, the other
 * waits, many times; a lost wake-up trips the watchdog. */
struct pingpong {
	struct labyrinth *m;
	int rounds;
	atomic_long got;
};

static void *pingpong_waiter(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < p->rounds; i++) {
		long idx = lab_alloc_index(p->m, LAB_GFP_KERNEL, 0);
		if (idx < 0)
			break;
		atomic_fetch_add(&p->got, 1);
		if (lab_free_index(p->m, (size_t)idx, 0) != 0)
			break;
	}
	return NULL;
}

TEST(kernel_pingpong)
{
	watchdog(40);
	struct labyrinth *m = mk(4, 0);
	struct pingpong p = { .m = m, .rounds = (int)harness_scale(20000) };
	pthread_t t[2];
	REQUIRE(pthread_create(&t[0], NULL, pingpong_waiter, &p) == 0);
	REQUIRE(pthread_create(&t[1], NULL, pingpong_waiter, &p) == 0);
	/* the main thread holds three rooms most of the time */
	for (int i = 0; i < p.rounds / 4; i++) {
		long a = lab_alloc_index(m, LAB_GFP_KERNEL, 0);
		long b = lab_alloc_index(m, LAB_GFP_KERNEL, 0);
		long c = lab_alloc_index(m, LAB_GFP_KERNEL, 0);
		CHECK(a >= 0 && b >= 0 && c >= 0);
		if (a >= 0)
			CHECK_EQ(lab_free_index(m, (size_t)a, 0), 0);
		if (b >= 0)
			CHECK_EQ(lab_free_index(m, (size_t)b, 0), 0);
		if (c >= 0)
			CHECK_EQ(lab_free_index(m, (size_t)c, 0), 0);
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	CHECK_EQ(atomic_load(&p.got), 2L * p.rounds);
	CHECK_EQ(stats(m).free, 4);
	CHECK_EQ(stats(m).waiters, 0);
	lab_destroy(m);
	alarm(0);
}

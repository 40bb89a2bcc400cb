/* SPDX-License-Identifier: MIT */
/* Exhaustion under threads: a tiny maze that runs dry all the time, so that
 * allocations steal from other threads' caches and higher orders flush
 * them. Invariants: no room held twice, every free succeeds, and at the end
 * every room is free and reachable by one thread.
 * Usage: test_steal [THREADS [ITERS [SEED]]] */
#define HARNESS_CUSTOM_MAIN
#include "harness.h"

#include <labyrinth.h>
#include <errno.h>
#include <pthread.h>

#define PAGES 300
#define MAXT 64

static struct labyrinth *maze;
static atomic_int holder[PAGES];
static atomic_long n_alloc, n_fail;
static unsigned long iters;
static uint64_t seed;

static void hold(long idx, unsigned order, int who)
{
	for (long k = 0; k < (1L << order); k++) {
		int z = 0;
		CHECK_MSG(atomic_compare_exchange_strong(&holder[idx + k], &z, who),
			  "room %ld handed out twice (held by %d, now %d)", idx + k, z, who);
	}
}

static void unhold(long idx, unsigned order)
{
	for (long k = 0; k < (1L << order); k++)
		atomic_store(&holder[idx + k], 0);
}

static void *worker(void *arg)
{
	int who = (int)(intptr_t)arg + 1;
	uint64_t rng = seed ^ ((uint64_t)who * 0x9e3779b97f4a7c15ull);
	long held[PAGES];
	unsigned ord[PAGES];
	int n = 0;
	for (unsigned long it = 0; it < iters; it++) {
		uint64_t r = harness_rand(&rng);
		if (r % 100 < 55 && n < PAGES) {
			lab_gfp_t gfp = LAB_GFP_ATOMIC | ((r >> 8) & 1 ? LAB_GFP_EXCLUSIVE : 0);
			unsigned order = (r >> 16) % 16 == 0 ? 2 : 0;
			long idx = lab_alloc_index(maze, gfp, order);
			if (idx < 0) {
				CHECK_EQ(idx, -ENOMEM);
				atomic_fetch_add(&n_fail, 1);
				continue;
			}
			atomic_fetch_add(&n_alloc, 1);
			CHECK_EQ(idx % (1L << order), 0);
			hold(idx, order, who);
			held[n] = idx;
			ord[n++] = order;
		} else if (n) {
			int k = (int)((r >> 8) % (uint64_t)n);
			long idx = held[k];
			unsigned order = ord[k];
			held[k] = held[--n];
			ord[k] = ord[n];
			unhold(idx, order);
			CHECK_EQ(lab_free_index(maze, (size_t)idx, order), 0);
		}
	}
	while (n--) {
		unhold(held[n], ord[n]);
		CHECK_EQ(lab_free_index(maze, (size_t)held[n], ord[n]), 0);
	}
	return NULL;
}

static int nthreads;

TEST(steal_exhaustion)
{
	struct lab_config cfg = { .pages = PAGES, .flags = LAB_NO_MEMORY };
	REQUIRE(lab_create(&maze, &cfg) == 0);
	pthread_t t[MAXT];
	for (int i = 0; i < nthreads; i++)
		REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	printf("threads=%d iters=%lu allocs=%ld failures=%ld\n", nthreads, iters,
	       atomic_load(&n_alloc), atomic_load(&n_fail));
	struct lab_stats st;
	lab_stats(maze, &st);
	char why[256];
	CHECK_MSG(lab_validate(maze, why, sizeof why) == 0, "validate: %s", why);
	CHECK_EQ(st.free, PAGES);
	CHECK_EQ(st.cached, 0); /* exited threads gave their caches back */
	if (nthreads > 1)
		CHECK(atomic_load(&n_fail) > 0); /* the maze really ran dry */
	long got = 0;
	while (lab_alloc_index(maze, LAB_GFP_NOWAIT, 0) >= 0)
		got++;
	CHECK_EQ(got, PAGES);
	lab_destroy(maze);
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 4;
	if (nthreads < 1 || nthreads > MAXT)
		nthreads = 4;
	iters = harness_scale(argc > 2 ? strtoul(argv[2], NULL, 10) : 100000);
	seed = harness_seed(argc > 3 ? argv[3] : NULL, 42);
	return harness_run(NULL);
}

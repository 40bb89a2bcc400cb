/* SPDX-License-Identifier: MIT */
/* Exhaustion: every room exactly once, aligned, distinct, writable, then NULL,
 * at 4 KiB, 2 MiB and 1 GiB rooms and index-only; blocks of order 9 and of
 * mixed orders fill the maze; a nearly full maze finds its one free room;
 * rooms parked in another thread's cache are still reachable. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <time.h>

#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

static struct labyrinth *mk(size_t page_size, size_t pages, size_t reserve, unsigned flags)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.page_size = page_size;
	cfg.pages = pages;
	cfg.reserve = reserve;
	cfg.flags = flags;
	int rc = lab_create(&m, &cfg);
	CHECK_MSG(rc == 0 && m, "lab_create(page_size=%zu pages=%zu flags=%#x) = %d", page_size,
		  pages, flags, rc);
	REQUIRE(rc == 0 && m);
	return m;
}

static struct lab_stats stats(const struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	return st;
}

static void valid(const struct labyrinth *m, int line)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	if (rc != 0)
		harness_fail(__FILE__, line, "lab_validate = %d: %s", rc, why);
}
#define VALID(m) valid((m), __LINE__)

static uint64_t cookie(size_t index, size_t word)
{
	return 0xC0FFEE0000000000ull ^ ((uint64_t)index << 20) ^ word;
}

/* Write the room's cookie: every word for small rooms, otherwise the first
 * and last words only (1 GiB rooms are address space, not memory). */
static void write_cookie(char *p, size_t index, size_t ps)
{
	uint64_t *w = (uint64_t *)(void *)p;
	size_t words = ps / 8;
	if (ps <= 64 * 1024) {
		for (size_t k = 0; k < words; k++)
			w[k] = cookie(index, k);
	} else {
		w[0] = cookie(index, 0);
		w[words - 1] = cookie(index, words - 1);
	}
}

static int check_cookie(const char *p, size_t index, size_t ps)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	size_t words = ps / 8;
	if (ps <= 64 * 1024) {
		for (size_t k = 0; k < words; k++)
			if (w[k] != cookie(index, k))
				return 0;
		return 1;
	}
	return w[0] == cookie(index, 0) && w[words - 1] == cookie(index, words - 1);
}

static void shuffle(size_t *a, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = harness_rand(seed) % i;
		size_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* Allocate until NULL; every room once; free in random order; twice over. */
static void exhaust(size_t ps, size_t pages, unsigned flags, lab_gfp_t gfp)
{
	int index_only = (flags & LAB_NO_MEMORY) != 0;
	struct labyrinth *m = mk(ps, pages, 0, flags);
	unsigned char *seen = calloc(pages, 1);
	size_t *order = malloc(pages * sizeof *order);
	uint64_t seed = 42 + pages;
	REQUIRE(seen && order);
	char *base = index_only ? NULL : lab_index_page(m, 0);
	if (!index_only) {
		REQUIRE(base != NULL);
		CHECK(((uintptr_t)base & (ps - 1)) == 0);
	}
	for (int round = 0; round < 2; round++) {
		size_t n = 0;
		int bad = 0;
		memset(seen, 0, pages);
		for (;;) {
			size_t i;
			if (index_only) {
				long r = lab_alloc_index(m, gfp, 0);
				if (r < 0) {
					CHECK_EQ(r, -ENOMEM);
					break;
				}
				i = (size_t)r;
			} else {
				char *p = lab_alloc_page(m, gfp);
				if (!p)
					break;
				long r = lab_page_index(m, p);
				if (r < 0 || (size_t)r >= pages || p != base + (size_t)r * ps ||
				    ((uintptr_t)p & (ps - 1)) != 0) {
					CHECK_MSG(0, "page %p index %ld outside or misaligned",
						  (void *)p, r);
					bad = 1;
					break;
				}
				i = (size_t)r;
				write_cookie(p, i, ps);
			}
			if (i >= pages || seen[i]) {
				CHECK_MSG(0, "room %zu handed out twice or out of range (n=%zu)", i,
					  n);
				bad = 1;
				break;
			}
			seen[i] = 1;
			order[n++] = i;
			if (n > pages)
				break;
		}
		CHECK_MSG(n == pages, "ps %zu pages %zu round %d: got %zu rooms", ps, pages, round,
			  n);
		if (bad || n != pages)
			break;
		struct lab_stats st = stats(m);
		CHECK_EQ(st.free, 0);
		CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
		CHECK(lab_alloc_page(m, LAB_GFP_NOWAIT | LAB_GFP_ZERO) == NULL);
		CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 0), -ENOMEM);
		CHECK_EQ(stats(m).free, 0);
		VALID(m);
		if (!index_only)
			for (size_t i = 0; i < pages; i++)
				if (!check_cookie(base + i * ps, i, ps)) {
					CHECK_MSG(0, "cookie of room %zu overwritten", i);
					break;
				}
		shuffle(order, n, &seed);
		for (size_t k = 0; k < n; k++) {
			int rc = index_only ? lab_free_index(m, order[k], 0) :
					      lab_free_page(m, base + order[k] * ps);
			if (rc != 0) {
				CHECK_MSG(0, "free of room %zu = %d", order[k], rc);
				break;
			}
		}
		st = stats(m);
		CHECK_EQ(st.free, pages);
		CHECK_EQ(st.pages, pages);
		CHECK_EQ(st.page_size, ps);
		VALID(m);
	}
	free(seen);
	free(order);
	lab_destroy(m);
}

TEST(exhaust_4k)
{
	exhaust(4096, 3000, 0, LAB_GFP_ATOMIC);
	exhaust(4096, 3000, 0, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE);
	exhaust(4096, 1, 0, LAB_GFP_ATOMIC);
	exhaust(4096, 513, 0, 0);
}

TEST(exhaust_2m)
{
	exhaust(2 * MiB, 64, 0, LAB_GFP_ATOMIC);
}

TEST(exhaust_2m_hugetlb)
{
	/* MAP_HUGETLB when the system has huge pages, a quiet fallback otherwise */
	exhaust(2 * MiB, 8, LAB_HUGETLB, LAB_GFP_ATOMIC);
}

TEST(exhaust_1g)
{
	exhaust(GiB, 16, 0, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
}

/* Resident memory of this process in bytes (Linux). */
static size_t rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (size_t)res * 4096;
}

TEST(huge_address_space_untouched)
{
	/* 64 rooms of 1 GiB: address space only, so it fits any machine */
	size_t before = rss();
	struct labyrinth *m = mk(GiB, 64, 0, 0);
	size_t after = rss();
	/* the process may also give memory back meanwhile (sanitizer shadow) */
	size_t grew = after > before ? after - before : 0;
	printf("64 x 1 GiB maze: resident +%zu KiB\n", grew / 1024);
	CHECK_MSG(grew < 32 * MiB, "creating it made %zu bytes resident", grew);
	struct lab_stats st = stats(m);
	CHECK_EQ(st.pages, 64);
	CHECK_EQ(st.free, 64);
	CHECK(st.meta_bytes < MiB);
	char *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(p);
	p[0] = 1;
	p[GiB - 1] = 2;
	after = rss();
	CHECK_MSG(after - before < 64 * MiB, "one touched 1 GiB room made %zu bytes resident",
		  after - before);
	CHECK_EQ(lab_free_page(m, p), 0);
	lab_destroy(m);
}

TEST(exhaust_index_only)
{
	exhaust(4096, 100000, LAB_NO_MEMORY, LAB_GFP_ATOMIC);
	exhaust(GiB, 100000, LAB_NO_MEMORY, LAB_GFP_NOWAIT);
}

/* Count the order-o blocks that can be had, holding them; returns the count. */
static size_t take_blocks(struct labyrinth *m, unsigned o, long *out, size_t max)
{
	size_t n = 0;
	long i;
	while (n < max && (i = lab_alloc_index(m, LAB_GFP_ATOMIC, o)) >= 0) {
		CHECK_MSG((i & ((1L << o) - 1)) == 0, "order %u index %ld", o, i);
		out[n++] = i;
	}
	return n;
}

TEST(exhaust_order9)
{
	struct labyrinth *m = mk(4096, 4096, 0, 0);
	long blk[16];
	CHECK_EQ(stats(m).huge_free, 8);
	size_t n = take_blocks(m, 9, blk, 16);
	CHECK_EQ(n, 8);
	CHECK_EQ(stats(m).free, 0);
	for (size_t k = 0; k < n; k++) {
		char *p = lab_index_page(m, (size_t)blk[k]);
		CHECK(((uintptr_t)p & (2 * MiB - 1)) == 0);
		for (size_t j = 0; j < k; j++)
			CHECK(blk[j] != blk[k]);
	}
	for (size_t k = 0; k < n; k++)
		CHECK_EQ(lab_free_index(m, (size_t)blk[k], 9), 0);
	CHECK_EQ(stats(m).free, 4096);

	/* churn at order 0, everything back: all 8 huge frames are whole again */
	uint64_t seed = 9;
	size_t *idx = malloc(4096 * sizeof *idx);
	REQUIRE(idx);
	for (int round = 0; round < 3; round++) {
		size_t got = 0;
		long r;
		while ((r = lab_alloc_index(m, LAB_GFP_ATOMIC, 0)) >= 0)
			idx[got++] = (size_t)r;
		CHECK_EQ(got, 4096);
		shuffle(idx, got, &seed);
		for (size_t k = 0; k < got; k++)
			CHECK_EQ(lab_free_index(m, idx[k], 0), 0);
	}
	free(idx);
	lab_drain(m);
	CHECK_EQ(stats(m).huge_free, 8);
	n = take_blocks(m, 9, blk, 16);
	CHECK_EQ(n, 8);
	for (size_t k = 0; k < n; k++)
		CHECK_EQ(lab_free_index(m, (size_t)blk[k], 9), 0);

	/* small allocations are grouped: 300 single rooms leave >= 6 huge frames */
	long small[300];
	for (int k = 0; k < 300; k++) {
		small[k] = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
		REQUIRE(small[k] >= 0);
	}
	n = take_blocks(m, 9, blk, 16);
	CHECK_MSG(n >= 6, "300 order-0 rooms left only %zu order-9 blocks of 8", n);
	for (size_t k = 0; k < n; k++)
		CHECK_EQ(lab_free_index(m, (size_t)blk[k], 9), 0);
	for (int k = 0; k < 300; k++)
		CHECK_EQ(lab_free_index(m, (size_t)small[k], 0), 0);
	CHECK_EQ(stats(m).free, 4096);
	VALID(m);
	lab_destroy(m);
}

/* Random orders until they fail, then smaller ones: the maze fills exactly. */
static void mixed_fill(size_t pages, unsigned flags, uint64_t seed)
{
	struct labyrinth *m = mk(4096, pages, 0, flags);
	unsigned char *used = calloc(pages, 1);
	long *blk = malloc(pages * sizeof *blk);
	unsigned *ord = malloc(pages * sizeof *ord);
	REQUIRE(used && blk && ord);
	size_t nb = 0, rooms = 0;
	unsigned maxo = 6;
	while (1) {
		unsigned o = (unsigned)(harness_rand(&seed) % (maxo + 1));
		long i = lab_alloc_index(m, LAB_GFP_ATOMIC, o);
		if (i < 0) {
			/* this order is gone for good: nothing is freed meanwhile */
			if (o == 0)
				break;
			if (o <= maxo)
				maxo = o - 1;
			continue;
		}
		CHECK_MSG((i & ((1L << o) - 1)) == 0, "order %u index %ld", o, i);
		REQUIRE((size_t)i + ((size_t)1 << o) <= pages);
		for (size_t r = (size_t)i; r < (size_t)i + ((size_t)1 << o); r++) {
			if (used[r])
				CHECK_MSG(0, "room %zu in two blocks", r);
			used[r] = 1;
		}
		if (!(flags & LAB_NO_MEMORY)) {
			char *p = lab_index_page(m, (size_t)i);
			CHECK(((uintptr_t)p & ((4096u << o) - 1)) == 0);
			p[0] = 1;
		}
		blk[nb] = i;
		ord[nb++] = o;
		rooms += (size_t)1 << o;
		REQUIRE(rooms <= pages);
	}
	CHECK_EQ(rooms, pages);
	CHECK_EQ(stats(m).free, 0);
	VALID(m);
	for (size_t k = 0; k < nb; k++)
		CHECK_EQ(lab_free_index(m, (size_t)blk[k], ord[k]), 0);
	CHECK_EQ(stats(m).free, pages);
	VALID(m);
	free(used);
	free(blk);
	free(ord);
	lab_destroy(m);
}

TEST(exhaust_mixed_orders)
{
	uint64_t seed = harness_seed(getenv("LAB_TEST_SEED"), 1234);
	mixed_fill(4096, 0, seed);
	mixed_fill(3000, LAB_NO_MEMORY, seed + 1);
	mixed_fill(50000, LAB_NO_MEMORY, seed + 2);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

TEST(nearly_full)
{
	size_t pages = (size_t)1 << 20;
	struct labyrinth *m = mk(4096, pages, 0, LAB_NO_MEMORY);
	size_t n = 0;
	while (lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0)
		n++;
	CHECK_EQ(n, pages);
	CHECK_EQ(stats(m).free, 0);
	uint64_t seed = harness_seed(getenv("LAB_TEST_SEED"), 77);
	double worst = 0;
	for (int k = 0; k < 64; k++) {
		size_t i = harness_rand(&seed) % pages;
		if (k == 0)
			i = pages - 1;
		if (k == 1)
			i = 0;
		CHECK_EQ(lab_free_index(m, i, 0), 0);
		CHECK_EQ(stats(m).free, 1);
		double t = now_us();
		long r = lab_alloc_index(m, LAB_GFP_NOWAIT, 0);
		t = now_us() - t;
		worst = t > worst ? t : worst;
		CHECK_MSG(r == (long)i, "freed %zu, got %ld", i, r);
		CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 0), -ENOMEM);
	}
	printf("nearly full 2^20: worst %.1f us per allocation\n", worst);
	VALID(m);
	lab_destroy(m);
}

/* ---- rooms parked in a thread's cache are free for everyone ---- */

struct parker {
	struct labyrinth *m;
	int n;
	atomic_int parked, release;
};

static void *parker_thread(void *arg)
{
	struct parker *p = arg;
	long idx[256];
	for (int k = 0; k < p->n; k++)
		idx[k] = lab_alloc_index(p->m, LAB_GFP_ATOMIC, 0);
	for (int k = 0; k < p->n; k++)
		if (idx[k] >= 0)
			lab_free_index(p->m, (size_t)idx[k], 0);
	/* a few more pairs, so a cache has something to hold */
	for (int k = 0; k < 32; k++) {
		long i = lab_alloc_index(p->m, LAB_GFP_NOWAIT, 0);
		if (i >= 0)
			lab_free_index(p->m, (size_t)i, 0);
	}
	atomic_store(&p->parked, 1);
	while (!atomic_load(&p->release))
		sched_yield();
	return NULL;
}

static void cached_case(size_t pages, size_t reserve)
{
	struct labyrinth *m = mk(4096, pages, reserve, 0);
	struct parker pk = { .m = m, .n = 200 };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, parker_thread, &pk) == 0);
	while (!atomic_load(&pk.parked))
		sched_yield();
	struct lab_stats st = stats(m);
	CHECK_EQ(st.free, pages);
	CHECK(st.cached <= st.free);
	/* the main thread sees every room although the parker may cache some */
	size_t n = 0;
	while (lab_alloc_index(m, LAB_GFP_NOWAIT, 0) >= 0)
		n++;
	CHECK_MSG(n == pages - reserve, "NOWAIT got %zu of %zu (reserve %zu)", n, pages, reserve);
	size_t a = 0;
	while (lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0)
		a++;
	CHECK_MSG(a == reserve, "ATOMIC got %zu of reserve %zu", a, reserve);
	CHECK_EQ(stats(m).free, 0);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(lab_free_index(m, i, 0), 0);
	atomic_store(&pk.release, 1);
	pthread_join(t, NULL);
	st = stats(m);
	CHECK_EQ(st.free, pages);
	VALID(m);
	lab_destroy(m);
}

TEST(cached_rooms_reachable)
{
	cached_case(256, 0);
	cached_case(256, 16);
	cached_case(2000, 100);
}

struct churner {
	struct labyrinth *m;
};

static void *churn_exit_thread(void *arg)
{
	struct churner *c = arg;
	long idx[64];
	for (int r = 0; r < 10; r++) {
		for (int k = 0; k < 64; k++)
			idx[k] = lab_alloc_index(c->m, LAB_GFP_ATOMIC, (unsigned)(k & 1));
		for (int k = 0; k < 64; k++)
			if (idx[k] >= 0)
				lab_free_index(c->m, (size_t)idx[k], (unsigned)(k & 1));
	}
	return NULL;
}

TEST(cache_returned_at_thread_exit)
{
	struct labyrinth *m = mk(4096, 4096, 0, 0);
	struct churner c = { .m = m };
	for (int k = 0; k < 4; k++) {
		pthread_t t;
		REQUIRE(pthread_create(&t, NULL, churn_exit_thread, &c) == 0);
		pthread_join(t, NULL);
		struct lab_stats st = stats(m);
		CHECK_EQ(st.free, 4096);
		CHECK_EQ(st.cached, 0);
		CHECK_EQ(st.huge_free, 8);
	}
	VALID(m);
	lab_destroy(m);
}

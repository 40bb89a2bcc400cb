/* SPDX-License-Identifier: MIT */
/* Concurrency stress: test_stress [THREADS [ITERS [SEED]]]
 *
 * Threads allocate blocks of order 0..3 with random flags, write a cookie into
 * every word, verify it at free, and hand blocks to each other through mutex
 * mailboxes (lab_page_give for exclusive ones, so the receiver may free them).
 * A shared table room -> holder is claimed with CAS 0 -> holder whenever a
 * block is received from the allocator or from a mailbox: a block held twice
 * fails the test. At the end every block is freed and the maze must be whole:
 * free == pages, lab_validate() == 0, rooms allocated == rooms freed. */
#define _GNU_SOURCE
#define HARNESS_CUSTOM_MAIN
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <time.h>

#define MAX_THREADS 64
#define HOLD 192 /* most blocks one worker holds; see hold_limit */
#define BOX 64
#define PAGES 2048
#define RESERVE 32
#define MAX_ORDER_USED 3

struct slot {
	long idx;
	unsigned order;
	unsigned excl;
	uint64_t cookie;
};

struct mailbox {
	pthread_mutex_t mu;
	struct slot q[BOX];
	int head, n;
	atomic_int hint; /* n, read without the lock */
};

struct worker {
	int id; /* 1-based: the holder value */
	lab_owner_t tid;
	uint64_t rng;
	struct slot held[HOLD];
	int nheld;
	unsigned long iters;
	/* totals */
	unsigned long long alloc_rooms, free_rooms, allocs, frees, nulls, sent, received;
	struct mailbox box;
	atomic_int finished; /* no longer receiving until the end: send elsewhere */
	pthread_t thread;
};

static struct labyrinth *maze;
static int index_only;
static int nthreads;
static int hold_limit; /* sized so that 4 or more threads run the maze dry now and then */
static struct worker workers[MAX_THREADS];
static _Atomic uint32_t holder[PAGES];
static pthread_barrier_t ready, done_sending;
static atomic_int fatal; /* stop early after the first broken invariant */

#define FAIL_STOP(...)                                                                             \
	do {                                                                                       \
		harness_fail(__FILE__, __LINE__, __VA_ARGS__);                                     \
		atomic_store(&fatal, 1);                                                           \
	} while (0)

static char *addr(long idx)
{
	return index_only ? NULL : lab_index_page(maze, (size_t)idx);
}

static void write_cookie(const struct slot *s)
{
	if (index_only)
		return;
	uint64_t *w = (uint64_t *)(void *)addr(s->idx);
	size_t words = (4096u << s->order) / 8;
	for (size_t k = 0; k < words; k++)
		w[k] = s->cookie ^ k;
}

static int check_cookie(const struct slot *s)
{
	if (index_only)
		return 1;
	const uint64_t *w = (const uint64_t *)(const void *)addr(s->idx);
	size_t words = (4096u << s->order) / 8;
	for (size_t k = 0; k < words; k++)
		if (w[k] != (s->cookie ^ k))
			return 0;
	return 1;
}

static int all_zero(const struct slot *s)
{
	if (index_only)
		return 1;
	const uint64_t *w = (const uint64_t *)(const void *)addr(s->idx);
	size_t words = (4096u << s->order) / 8;
	for (size_t k = 0; k < words; k++)
		if (w[k])
			return 0;
	return 1;
}

/* Claim every room of the block for me; 0 if someone holds one already. */
static int claim(struct worker *me, const struct slot *s)
{
	for (long r = s->idx; r < s->idx + (1L << s->order); r++) {
		uint32_t expect = 0;
		if (!atomic_compare_exchange_strong(&holder[r], &expect, (uint32_t)me->id)) {
			FAIL_STOP(
				"page handed out twice: room %ld (block %ld order %u) held by %u, "
				"now given to %d",
				r, s->idx, s->order, expect, me->id);
			return 0;
		}
	}
	return 1;
}

static void unclaim(struct worker *me, const struct slot *s)
{
	for (long r = s->idx; r < s->idx + (1L << s->order); r++) {
		uint32_t expect = (uint32_t)me->id;
		if (!atomic_compare_exchange_strong(&holder[r], &expect, 0))
			FAIL_STOP("room %ld: holder %u, expected %d", r, expect, me->id);
	}
}

static void new_cookie(struct worker *me, struct slot *s)
{
	s->cookie = ((uint64_t)me->id << 56) ^ ((uint64_t)s->idx << 24) ^
		    (harness_rand(&me->rng) & 0xffffff);
}

static void take(struct worker *me, struct slot *s, int from_mailbox)
{
	if (!claim(me, s))
		return;
	if (from_mailbox && !check_cookie(s))
		FAIL_STOP("cookie of block %ld order %u changed in transit", s->idx, s->order);
	if (s->excl) {
		lab_owner_t o = lab_index_owner(maze, (size_t)s->idx);
		if (o != me->tid)
			FAIL_STOP("exclusive block %ld: owner %u, expected %u", s->idx, o, me->tid);
	}
	new_cookie(me, s);
	write_cookie(s);
	me->held[me->nheld++] = *s;
}

static void release(struct worker *me, int k)
{
	struct slot s = me->held[k];
	me->held[k] = me->held[--me->nheld];
	if (!check_cookie(&s))
		FAIL_STOP("cookie of block %ld order %u overwritten while held", s.idx, s.order);
	int wrong = s.order > 0 && (harness_rand(&me->rng) & 15) == 0;
	if (wrong) {
		int rc = index_only ? lab_free_index(maze, (size_t)s.idx, s.order - 1) :
				      lab_free_pages(maze, addr(s.idx), s.order - 1);
		if (rc != -EINVAL)
			FAIL_STOP("free with the wrong order = %d", rc);
	}
	unclaim(me, &s);
	int rc = index_only ? lab_free_index(maze, (size_t)s.idx, s.order) :
			      lab_free_pages(maze, addr(s.idx), s.order);
	if (rc != 0)
		FAIL_STOP("free of block %ld order %u excl %u = %d", s.idx, s.order, s.excl, rc);
	me->free_rooms += 1ull << s.order;
	me->frees++;
}

static void alloc_one(struct worker *me)
{
	uint64_t r = harness_rand(&me->rng);
	struct slot s = { 0 };
	static const lab_gfp_t modes[] = { LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, 0, LAB_GFP_ATOMIC };
	lab_gfp_t gfp = modes[r & 3];
	s.order = (unsigned)((r >> 2) % (MAX_ORDER_USED + 1));
	s.excl = (r >> 8) & 1;
	int zero = ((r >> 9) & 7) == 0;
	if (s.excl)
		gfp |= LAB_GFP_EXCLUSIVE;
	if (zero)
		gfp |= LAB_GFP_ZERO;
	if (index_only || (r >> 12) & 1) {
		s.idx = lab_alloc_index(maze, gfp, s.order);
		if (s.idx == -ENOMEM) {
			me->nulls++;
			return;
		}
		if (s.idx < 0) {
			FAIL_STOP("lab_alloc_index = %ld", s.idx);
			return;
		}
	} else {
		char *p = lab_alloc_pages(maze, gfp, s.order);
		if (!p) {
			me->nulls++;
			return;
		}
		s.idx = lab_page_index(maze, p);
		if (((uintptr_t)p & ((4096u << s.order) - 1)) != 0)
			FAIL_STOP("block %p of order %u misaligned", (void *)p, s.order);
	}
	if (s.idx < 0 || s.idx + (1L << s.order) > PAGES || (s.idx & ((1L << s.order) - 1))) {
		FAIL_STOP("bad block index %ld order %u", s.idx, s.order);
		return;
	}
	me->allocs++;
	me->alloc_rooms += 1ull << s.order;
	lab_owner_t o = lab_index_owner(maze, (size_t)s.idx);
	if (o != me->tid)
		FAIL_STOP("new block %ld: owner %u, expected %u", s.idx, o, me->tid);
	/* claim before looking at memory: a double hand-out is reported as such */
	struct slot z = s;
	if (!claim(me, &z))
		return;
	if (zero && !all_zero(&s))
		FAIL_STOP("LAB_GFP_ZERO block %ld order %u not zero", s.idx, s.order);
	new_cookie(me, &s);
	write_cookie(&s);
	me->held[me->nheld++] = s;
}

/* Hand held[k] to another worker. The receiver's mailbox lock is held from
 * before the give until the block is queued, so a full box means we keep it
 * and the receiver never sees a block that is not yet given. */
static void send_one(struct worker *me, int k)
{
	int t = (int)(harness_rand(&me->rng) % (uint64_t)nthreads);
	struct worker *to = NULL;
	struct mailbox *b = NULL;
	struct slot s = me->held[k];
	if (!check_cookie(&s))
		FAIL_STOP("cookie of block %ld overwritten while held", s.idx);
	/* the first other worker, from t on, that still runs and has room */
	for (int tries = 0; tries < nthreads; tries++, t = (t + 1) % nthreads) {
		if (t == me->id - 1 || atomic_load(&workers[t].finished))
			continue;
		b = &workers[t].box;
		pthread_mutex_lock(&b->mu);
		if (b->n < BOX) {
			to = &workers[t];
			break;
		}
		pthread_mutex_unlock(&b->mu);
	}
	if (!to)
		return; /* keep it */
	int give = s.excl || (harness_rand(&me->rng) & 1);
	if (give) {
		int rc = lab_index_give(maze, (size_t)s.idx, to->tid);
		if (rc != 0) {
			pthread_mutex_unlock(&b->mu);
			FAIL_STOP("give of block %ld excl %u = %d", s.idx, s.excl, rc);
			return;
		}
		lab_owner_t o = lab_index_owner(maze, (size_t)s.idx);
		if (o != to->tid)
			FAIL_STOP("given block %ld: owner %u, expected %u", s.idx, o, to->tid);
		if (s.excl && (harness_rand(&me->rng) & 7) == 0) {
			/* not mine any more: freeing it is refused, nothing changes */
			rc = lab_free_index(maze, (size_t)s.idx, s.order);
			if (rc != -EPERM)
				FAIL_STOP("free of a given-away exclusive block = %d", rc);
		}
	}
	unclaim(me, &s);
	me->held[k] = me->held[--me->nheld];
	b->q[(b->head + b->n) % BOX] = s;
	b->n++;
	atomic_store_explicit(&b->hint, b->n, memory_order_relaxed);
	pthread_mutex_unlock(&b->mu);
	me->sent++;
}

static void receive(struct worker *me)
{
	if (atomic_load_explicit(&me->box.hint, memory_order_relaxed) == 0)
		return;
	struct slot got[BOX];
	int n = 0;
	pthread_mutex_lock(&me->box.mu);
	while (me->box.n > 0) {
		got[n++] = me->box.q[me->box.head];
		me->box.head = (me->box.head + 1) % BOX;
		me->box.n--;
	}
	atomic_store_explicit(&me->box.hint, 0, memory_order_relaxed);
	pthread_mutex_unlock(&me->box.mu);
	for (int i = 0; i < n; i++) {
		me->received++;
		if (me->nheld >= hold_limit)
			release(me, (int)(harness_rand(&me->rng) % (uint64_t)me->nheld));
		take(me, &got[i], 1);
	}
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	me->tid = lab_self();
	pthread_barrier_wait(&ready);
	for (unsigned long i = 0; i < me->iters && !atomic_load(&fatal); i++) {
		uint64_t r = harness_rand(&me->rng) % 100;
		if (r < 45 && me->nheld < hold_limit)
			alloc_one(me);
		else if (r < 80 && me->nheld > 0)
			release(me, (int)(harness_rand(&me->rng) % (uint64_t)me->nheld));
		else if (me->nheld > 0 && nthreads > 1)
			send_one(me, (int)(harness_rand(&me->rng) % (uint64_t)me->nheld));
		receive(me);
	}
	atomic_store(&me->finished, 1);
	pthread_barrier_wait(&done_sending);
	receive(me);
	while (me->nheld > 0)
		release(me, me->nheld - 1);
	return NULL;
}

static int arg_threads = 4;
static unsigned long arg_iters;
static uint64_t arg_seed = 1;

static void run(int idx_only, unsigned long iters)
{
	struct lab_config cfg = { 0 };
	cfg.pages = PAGES;
	cfg.reserve = RESERVE;
	cfg.flags = idx_only ? LAB_NO_MEMORY : 0;
	index_only = idx_only;
	REQUIRE(lab_create(&maze, &cfg) == 0);
	nthreads = arg_threads;
	hold_limit = PAGES * 5 / (nthreads * 16);
	hold_limit = hold_limit > HOLD ? HOLD : hold_limit < 8 ? 8 : hold_limit;
	memset(workers, 0, sizeof workers);
	for (size_t i = 0; i < PAGES; i++)
		atomic_store(&holder[i], 0);
	atomic_store(&fatal, 0);
	pthread_barrier_init(&ready, NULL, (unsigned)nthreads);
	pthread_barrier_init(&done_sending, NULL, (unsigned)nthreads);
	uint64_t seed = arg_seed * 0x100000001b3ull + (uint64_t)idx_only;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nthreads; i++) {
		workers[i].id = i + 1;
		workers[i].iters = iters;
		workers[i].rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
		pthread_mutex_init(&workers[i].box.mu, NULL);
		REQUIRE(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) == 0);
	}
	unsigned long long ar = 0, fr = 0, a = 0, f = 0, nulls = 0, sent = 0, recv = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(workers[i].thread, NULL);
		pthread_mutex_destroy(&workers[i].box.mu);
		ar += workers[i].alloc_rooms;
		fr += workers[i].free_rooms;
		a += workers[i].allocs;
		f += workers[i].frees;
		nulls += workers[i].nulls;
		sent += workers[i].sent;
		recv += workers[i].received;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&done_sending);
	printf("%s: %d threads x %lu iters: %llu allocs (%llu rooms), %llu frees, %llu NULL, "
	       "%llu handed over, %.2f s\n",
	       idx_only ? "index-only" : "mapped", nthreads, iters, a, ar, f, nulls, sent,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	CHECK_EQ(a, f);
	CHECK_EQ(ar, fr);
	CHECK_EQ(sent, recv);
	CHECK(a > 0);
	if (nthreads > 1)
		CHECK(sent > 0);
	for (size_t i = 0; i < PAGES; i++)
		if (atomic_load(&holder[i]) != 0) {
			CHECK_MSG(0, "room %zu still marked held by %u", i,
				  atomic_load(&holder[i]));
			break;
		}
	struct lab_stats st;
	lab_stats(maze, &st);
	CHECK_EQ(st.free, PAGES);
	CHECK_EQ(st.pages, PAGES);
	CHECK(st.cached <= st.free);
	CHECK_EQ(st.huge_free, PAGES / 512);
	char why[256] = "";
	int rc = lab_validate(maze, why, sizeof why);
	CHECK_MSG(rc == 0, "lab_validate = %d: %s", rc, why);
	/* and the whole maze can be had again, by one thread */
	size_t n = 0;
	while (lab_alloc_index(maze, LAB_GFP_ATOMIC, 0) >= 0)
		n++;
	CHECK_EQ(n, PAGES);
	lab_destroy(maze);
	maze = NULL;
}

TEST(stress_mapped)
{
	run(0, arg_iters);
}

TEST(stress_index_only)
{
	run(1, arg_iters / 2 ? arg_iters / 2 : 1);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		arg_threads = atoi(argv[1]);
	if (arg_threads < 1 || arg_threads > MAX_THREADS) {
		fprintf(stderr, "usage: %s [THREADS(1..%d) [ITERS [SEED]]]\n", argv[0],
			MAX_THREADS);
		return 2;
	}
	arg_iters = argc > 2 ? strtoul(argv[2], NULL, 0) : 200000;
	arg_iters = harness_scale(arg_iters);
	arg_seed = harness_seed(argc > 3 ? argv[3] : NULL, 1);
	printf("threads=%d iters=%lu\n", arg_threads, arg_iters);
	return harness_run(argc > 4 ? argv[4] : NULL);
}

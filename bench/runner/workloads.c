/* SPDX-License-Identifier: MIT */
/* Runner workloads bulk0/bulk9, pairs, churn, nearfull and fragment. Every
 * timed loop calls the peer through pool->alloc and pool->free, so each peer
 * pays the same indirect call; checks run outside the timed regions.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*alloc_fn)(struct peer_pool *pool, unsigned order);
typedef int (*free_fn)(struct peer_pool *pool, void *page, unsigned order);

#define HUGE_ORDER 9u
#define HUGE_ROOMS ((size_t)1 << HUGE_ORDER)

/* What each worker thread found. */
struct tstat {
	uint64_t done;	/* operations done in the timed loop */
	uint64_t nulls; /* allocations that returned NULL */
	uintptr_t bits; /* OR of every address: alignment check */
	int err;	/* OR of the free results */
	char why[160];	/* a failure outside the timed loop */
};

/* The first failure the threads recorded, as runner_fail; 0 if none. */
static int thread_failures(const struct tstat *s, int n, size_t align)
{
	for (int i = 0; i < n; i++) {
		if (s[i].why[0])
			return runner_fail("thread %d: %s", i, s[i].why);
		if (s[i].nulls)
			return runner_fail("thread %d: %llu allocations returned NULL where the "
					   "pool cannot be exhausted",
					   i, (unsigned long long)s[i].nulls);
		if (s[i].err)
			return runner_fail("thread %d: a free failed (OR of results %d)", i,
					   s[i].err);
		if (s[i].bits & (align - 1))
			return runner_fail("thread %d: a block not aligned to %zu B", i, align);
	}
	return 0;
}

/* Millions of operations per second over a union of windows in ns. */
static double mops_of(uint64_t ops, uint64_t ns)
{
	return ns ? (double)ops / (double)ns * 1e3 : 0;
}

/* ---- bulk0, bulk9 ------------------------------------------------------------------ */

struct bulk {
	struct peer_pool *pool;
	unsigned order;
	void **p;
	size_t n;     /* blocks of all threads in one pass */
	size_t batch; /* blocks per thread with --batch; 0: the pool split */
	uint64_t passes;
	int threads;
	struct runner_barrier bar;
	int checked; /* thread 0's verdict between the phases */
	struct tstat *st;
	struct runner_window *wa, *wf; /* this pass's alloc and free windows */
	struct runner_span sa, sf;     /* every pass's */
};

/* All blocks of a pass held: distinct, aligned, and a pool they fill has
 * none left. */
static int bulk_check(struct bulk *b)
{
	size_t bytes = b->pool->page_size << b->order;
	unsigned caps = ropt.peer->caps;
	void *extra;

	if (runner_check_blocks(b->p, b->n, bytes, "bulk"))
		return -1;
	if (!(caps & PEER_BOUNDED) || (caps & PEER_NOFAIL) || b->n != b->pool->pages >> b->order)
		return 0;
	extra = b->pool->alloc(b->pool, b->order);
	if (extra) {
		b->pool->free(b->pool, extra, b->order);
		return runner_fail("allocation %zu succeeded in a full pool of %zu", b->n + 1,
				   b->n);
	}
	return 0;
}

static void bulk_worker(void *arg, int i)
{
	struct bulk *b = arg;
	struct tstat *s = &b->st[i];
	struct peer_pool *pool = b->pool;
	alloc_fn alloc = pool->alloc;
	free_fn release = pool->free;
	unsigned order = b->order;
	size_t lo = b->batch ? b->batch * (size_t)i : b->n * (size_t)i / (size_t)b->threads;
	size_t hi = b->batch ? lo + b->batch : b->n * (size_t)(i + 1) / (size_t)b->threads, j;
	void **p = b->p;
	int e = 0;

	runner_warmup(pool, order, s->why, sizeof(s->why));
	for (uint64_t pass = 0; pass < b->passes; pass++) {
		runner_barrier_wait(&b->bar);
		runner_stagger(i);
		runner_window_begin(&b->wa[i]);
		for (j = lo; j < hi; j++)
			p[j] = alloc(pool, order);
		runner_window_end(&b->wa[i]);
		runner_barrier_wait(&b->bar);
		if (i == 0) {
			runner_span_add(&b->sa, b->wa, b->threads);
			b->checked = bulk_check(b);
		}
		runner_barrier_wait(&b->bar);
		if (b->checked)
			return;
		runner_stagger(i);
		runner_window_begin(&b->wf[i]);
		for (j = lo; j < hi; j++)
			e |= release(pool, p[j], order);
		runner_window_end(&b->wf[i]);
		runner_barrier_wait(&b->bar);
		if (i == 0)
			runner_span_add(&b->sf, b->wf, b->threads);
		s->done += hi - lo;
	}
	s->err = e;
}

int wl_bulk(unsigned order)
{
	struct bulk b;
	struct runner_span all;
	uint64_t done = 0, total;
	double ta, tf;
	int rc = -1, t;

	memset(&b, 0, sizeof(b));
	b.order = order;
	b.threads = ropt.threads;
	b.batch = ropt.batch;
	b.n = b.batch ? b.batch * (size_t)b.threads : ropt.pages >> order;
	b.passes = ropt.repeat;
	b.pool = runner_pool(ropt.pages, 0);
	b.p = runner_ptrs(b.n);
	b.st = calloc((size_t)b.threads, sizeof(*b.st));
	b.wa = calloc((size_t)b.threads, sizeof(*b.wa));
	b.wf = calloc((size_t)b.threads, sizeof(*b.wf));
	if (!b.pool || !b.p || !b.st || !b.wa || !b.wf) {
		runner_fail("set-up failed");
		goto out;
	}
	runner_barrier_init(&b.bar, b.threads);
	rc = runner_threads(b.threads, bulk_worker, &b);
	if (rc || b.checked || (rc = thread_failures(b.st, b.threads, 1)))
		goto out;
	for (t = 0; t < b.threads; t++)
		done += b.st[t].done;
	total = (uint64_t)b.n * b.passes;
	if (done != total) {
		rc = runner_fail("%llu operations counted, %llu asked", (unsigned long long)done,
				 (unsigned long long)total);
		goto out;
	}
	runner_sink += (uintptr_t)b.p[b.n - 1];
	all = (struct runner_span){ b.sa.inter + b.sf.inter, b.sa.uni + b.sf.uni,
				    b.sa.waited + b.sf.waited, b.sa.wall + b.sf.wall };
	runner_set_span(&all);
	/* ns per operation per thread: the phases' wall time * threads / blocks. */
	ta = (double)b.sa.uni * b.threads / (double)total;
	tf = (double)b.sf.uni * b.threads / (double)total;
	runner_report("alloc", ta, "ns", mops_of(total, b.sa.uni), total, b.threads,
		      "%zu blocks of %zu B (order %u) allocated one by one, %zu per thread, "
		      "%d thread(s), %llu pass(es); ns per block per thread",
		      b.n, ropt.page_size << order, order, b.n / (size_t)b.threads, b.threads,
		      (unsigned long long)b.passes);
	runner_report("free", tf, "ns", mops_of(total, b.sf.uni), total, b.threads,
		      "the same blocks freed, each pass");
	rc = 0;
out:
	if (b.pool)
		ropt.peer->destroy(b.pool);
	free(b.p);
	free(b.st);
	free(b.wa);
	free(b.wf);
	return rc;
}

/* ---- pairs ---------------------------------------------------------------------------- */

struct loop_ctx {
	struct peer_pool *pool;
	struct runner_barrier bar;
	struct tstat *st;
	struct runner_window *win;
	void ***held; /* churn: each thread's held rooms */
	size_t *nheld;
};

static void pairs_worker(void *arg, int i)
{
	struct loop_ctx *c = arg;
	struct tstat *s = &c->st[i];
	struct peer_pool *pool = c->pool;
	alloc_fn alloc = pool->alloc;
	free_fn release = pool->free;
	uint64_t limit = runner_ops_limit(), deadline, done = 0, nulls = 0, acc = 0;
	uintptr_t bits = 0;
	int e = 0;

	runner_warmup(pool, 0, s->why, sizeof(s->why));
	runner_barrier_wait(&c->bar);
	runner_stagger(i);
	runner_window_begin(&c->win[i]);
	deadline = runner_deadline(c->win[i].t0);
	while (done < limit) {
		uint64_t n = limit - done < RUNNER_CHUNK ? limit - done : RUNNER_CHUNK;

		for (uint64_t k = 0; k < n; k++) {
			void *p = alloc(pool, 0);

			bits |= (uintptr_t)p;
			nulls += !p;
			acc += (uintptr_t)p;
			e |= release(pool, p, 0);
		}
		done += n;
		if (deadline && bench_now_ns() >= deadline)
			break;
	}
	runner_window_end(&c->win[i]);
	s->done = done;
	s->nulls = nulls;
	s->bits = bits;
	s->err = e;
	runner_sink += acc;
}

/* Per-thread counts must equal the limit unless a deadline stopped them. */
static int check_counts(const struct tstat *s, int n, uint64_t *total)
{
	bool exact = runner_deadline(1) == 0;

	*total = 0;
	for (int i = 0; i < n; i++) {
		if (exact && s[i].done != runner_ops_limit())
			return runner_fail("thread %d: %llu operations counted, %llu asked", i,
					   (unsigned long long)s[i].done,
					   (unsigned long long)runner_ops_limit());
		*total += s[i].done;
	}
	return 0;
}

/* Mean over the threads of each thread's ns per operation. */
static double mean_ns(const struct tstat *s, const struct runner_window *w, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += s[i].done ? (double)(w[i].t1 - w[i].t0) / (double)s[i].done : 0;
	return sum / n;
}

/* The loop workloads' contexts: pool, barrier, stats, windows. */
static int loop_setup(struct loop_ctx *c, int n)
{
	memset(c, 0, sizeof(*c));
	c->pool = runner_pool(ropt.pages, 0);
	c->st = calloc((size_t)n, sizeof(*c->st));
	c->win = calloc((size_t)n, sizeof(*c->win));
	if (!c->pool || !c->st || !c->win)
		return runner_fail("set-up failed");
	runner_barrier_init(&c->bar, n);
	return 0;
}

static void loop_teardown(struct loop_ctx *c)
{
	if (c->pool)
		ropt.peer->destroy(c->pool);
	free(c->st);
	free(c->win);
}

int wl_pairs(void)
{
	struct loop_ctx c;
	struct runner_span span = { 0, 0, 0, 0 };
	int n = ropt.threads, rc;
	uint64_t total;
	double mops;

	if ((rc = loop_setup(&c, n)))
		goto out;
	rc = runner_threads(n, pairs_worker, &c);
	if (rc || (rc = thread_failures(c.st, n, c.pool->page_size)) ||
	    (rc = check_counts(c.st, n, &total)))
		goto out;
	runner_span_add(&span, c.win, n);
	runner_set_span(&span);
	mops = mops_of(total, span.uni);
	runner_report("pair", mean_ns(c.st, c.win, n), "ns", mops, total, n,
		      "alloc+free of one room, ns per pair per thread, %d thread(s), bounded %s", n,
		      runner_bounded_by());
	runner_report("throughput", mops, "Mops", mops, total, n,
		      "pairs per second of all %d thread(s), in millions", n);
out:
	loop_teardown(&c);
	return rc;
}

/* ---- churn -------------------------------------------------------------------------- */

/* Each thread: allocate its share of the pool, keep a random fill% of it
 * (untimed); then steps of free a random held room + allocate one. */
static void churn_worker(void *arg, int i)
{
	struct loop_ctx *c = arg;
	struct tstat *s = &c->st[i];
	struct peer_pool *pool = c->pool;
	alloc_fn alloc = pool->alloc;
	free_fn release = pool->free;
	size_t T = (size_t)ropt.threads;
	size_t n = ropt.pages * (size_t)(i + 1) / T - ropt.pages * (size_t)i / T, keep, j;
	uint64_t rng = bench_rng_seed(ropt.seed, 10 + (uint64_t)i);
	uint64_t limit = runner_ops_limit(), deadline, done = 0, nulls = 0;
	uintptr_t bits = 0;
	void **held = runner_ptrs(n);
	int e = 0;

	keep = n * (size_t)ropt.fill / 100;
	if (!held)
		snprintf(s->why, sizeof(s->why), "out of memory");
	for (j = 0; held && j < n; j++)
		if (!(held[j] = alloc(pool, 0))) {
			snprintf(s->why, sizeof(s->why), "pre-fill: allocation %zu of %zu was NULL",
				 j, n);
			break;
		}
	if (!s->why[0]) {
		bench_shuffle(held, n, &rng);
		for (j = keep; j < n; j++)
			e |= release(pool, held[j], 0);
		if (e)
			snprintf(s->why, sizeof(s->why), "pre-fill: a free failed (%d)", e);
	}
	c->held[i] = held;
	c->nheld[i] = keep;
	runner_barrier_wait(&c->bar);
	runner_stagger(i);
	runner_window_begin(&c->win[i]);
	deadline = runner_deadline(c->win[i].t0);
	while (!s->why[0] && keep && done < limit) {
		uint64_t m = limit - done < RUNNER_CHUNK ? limit - done : RUNNER_CHUNK;

		for (uint64_t k = 0; k < m; k++) {
			size_t r = bench_rng_below(&rng, keep);
			void *p;

			e |= release(pool, held[r], 0);
			p = alloc(pool, 0);
			bits |= (uintptr_t)p;
			nulls += !p;
			held[r] = p;
		}
		done += m;
		if (deadline && bench_now_ns() >= deadline)
			break;
	}
	runner_window_end(&c->win[i]);
	s->done = done;
	s->nulls = nulls;
	s->bits = bits;
	s->err = e;
}

int wl_churn(void)
{
	struct loop_ctx c;
	struct runner_span span = { 0, 0, 0, 0 };
	int n = ropt.threads, rc;
	uint64_t total;
	size_t all = 0, k;
	void **cat = NULL;

	if ((rc = loop_setup(&c, n)))
		goto out;
	c.held = calloc((size_t)n, sizeof(*c.held));
	c.nheld = calloc((size_t)n, sizeof(*c.nheld));
	if (!c.held || !c.nheld) {
		rc = runner_fail("set-up failed");
		goto out;
	}
	rc = runner_threads(n, churn_worker, &c);
	if (rc || (rc = thread_failures(c.st, n, c.pool->page_size)))
		goto out;
	for (int i = 0; i < n; i++)
		all += c.nheld[i];
	if (!all) {
		rc = runner_fail("--fill %d of --pages %zu holds no room", ropt.fill, ropt.pages);
		goto out;
	}
	/* Every room held at the end is distinct. */
	cat = malloc(all * sizeof(*cat));
	if (!cat) {
		rc = runner_fail("out of memory for the check");
		goto out;
	}
	for (int i = 0, o = 0; i < n; i++)
		for (k = 0; k < c.nheld[i]; k++)
			cat[o++] = c.held[i][k];
	if ((rc = runner_check_blocks(cat, all, c.pool->page_size, "churn")) ||
	    (rc = check_counts(c.st, n, &total)))
		goto out;
	runner_sink += (uintptr_t)cat[all - 1];
	runner_span_add(&span, c.win, n);
	runner_set_span(&span);
	runner_report("step", mean_ns(c.st, c.win, n), "ns", mops_of(total, span.uni), total, n,
		      "free a random held room + allocate one; %zu of %zu rooms held (%d%%), "
		      "%d thread(s), bounded %s; ns per step per thread",
		      all, ropt.pages, ropt.fill, n, runner_bounded_by());
out:
	for (int i = 0; c.held && i < n; i++)
		free(c.held[i]);
	free(c.held);
	free(c.nheld);
	free(cat);
	loop_teardown(&c);
	return rc;
}

/* ---- nearfull ------------------------------------------------------------------------- */

#define NEAR_REPS 50

int wl_nearfull(void)
{
	size_t n = ropt.pages, got, reps;
	struct peer_pool *pool = runner_pool(n, PEER_INDEX_ONLY);
	void **held = runner_ptrs(n);
	double sample[NEAR_REPS];
	uint64_t rng = bench_rng_seed(ropt.seed, 20), t0, t1, deadline, fill_ns;
	double med;
	uintptr_t bits = 0;
	int rc = -1;

	if (!pool || !held) {
		runner_fail("set-up failed");
		goto out;
	}
	t0 = bench_now_ns();
	for (got = 0; got < n && (held[got] = pool->alloc(pool, 0)); got++)
		bits |= (uintptr_t)held[got];
	fill_ns = bench_now_ns() - t0;
	if (got != n) {
		runner_fail("filling the pool: allocation %zu of %zu returned NULL", got + 1, n);
		goto out;
	}
	if (bits & (pool->page_size - 1)) {
		runner_fail("a room not aligned to %zu B", pool->page_size);
		goto out;
	}
	if ((held[0] = pool->alloc(pool, 0)) != NULL) {
		runner_fail("allocation %zu succeeded in a full pool of %zu", n + 1, n);
		goto out;
	}
	fprintf(stderr, "nearfull: %s filled %zu rooms in %.3f s (untimed)\n", ropt.peer->name, n,
		(double)fill_ns * 1e-9);
	reps = runner_ops_limit() < NEAR_REPS ? (size_t)runner_ops_limit() : NEAR_REPS;
	deadline = runner_deadline(bench_now_ns());
	for (got = 0; got < reps; got++) {
		size_t j = bench_rng_below(&rng, n);
		void *was = held[j], *p;
		int e = pool->free(pool, was, 0);

		if (pool->drain)
			pool->drain(pool); /* so that the allocation searches the pool */
		t0 = bench_now_ns();
		p = pool->alloc(pool, 0);
		t1 = bench_now_ns();
		if (e || p != was) {
			runner_fail("freed room %p (result %d), then allocated %p, not it", was, e,
				    p);
			goto out;
		}
		held[j] = p;
		sample[got] = (double)(t1 - t0) * 1e-3;
		if (deadline && got >= 2 && t1 >= deadline) {
			got++;
			break;
		}
	}
	runner_sink += (uintptr_t)held[n / 2];
	med = runner_median(sample, got);
	runner_report("alloc", med, "us", med > 0 ? 1 / med : 0, got, 1,
		      "median of %zu allocations of the one free room of %zu (a random one "
		      "each time)",
		      got, n);
	rc = 0;
out:
	if (pool)
		ropt.peer->destroy(pool);
	free(held);
	return rc;
}

/* ---- fragment ------------------------------------------------------------------------- */

#define FRAG_ROUNDS 100

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

/* Held rooms must not lie inside any order-9 block. */
static int frag_check(void **held, size_t nheld, void **blocks, size_t nblocks, size_t room)
{
	size_t huge = room << HUGE_ORDER;

	if (runner_check_blocks(held, nheld, room, "held rooms") ||
	    runner_check_blocks(blocks, nblocks, huge, "order-9 blocks"))
		return -1;
	qsort(blocks, nblocks, sizeof(*blocks), cmp_addr);
	for (size_t i = 0; i < nheld; i++) {
		uintptr_t a = (uintptr_t)held[i];
		size_t lo = 0, hi = nblocks;

		while (lo < hi) { /* the first block above a */
			size_t mid = (lo + hi) / 2;

			if ((uintptr_t)blocks[mid] <= a)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo && a - (uintptr_t)blocks[lo - 1] < huge)
			return runner_fail("held room %p lies inside order-9 block %p", held[i],
					   blocks[lo - 1]);
	}
	return 0;
}

int wl_fragment(void)
{
	size_t n = ropt.pages, nheld = n / 2, k = nheld / 10, i, q, nblocks = 0;
	size_t bound = (n - nheld) / HUGE_ROOMS;
	struct peer_pool *pool = runner_pool(n, 0);
	void **held = calloc(nheld, sizeof(*held));
	void **blocks = calloc(n / HUGE_ROOMS + 1, sizeof(*blocks));
	size_t *pos = calloc(nheld, sizeof(*pos));
	uint64_t rng = bench_rng_seed(ropt.seed, 30), ops = 0;
	int rc = -1, e = 0, r;
	long hf;

	if (!pool || !held || !blocks || !pos) {
		runner_fail("set-up failed");
		goto out;
	}
	for (i = 0; i < nheld; i++, ops++) {
		pos[i] = i;
		if (!(held[i] = pool->alloc(pool, 0))) {
			runner_fail("fill: allocation %zu of %zu returned NULL", i + 1, nheld);
			goto out;
		}
	}
	for (r = 0; r < FRAG_ROUNDS; r++) {
		for (q = 0; q < k; q++) { /* k distinct random held rooms */
			size_t x = q + bench_rng_below(&rng, nheld - q), t = pos[q];

			pos[q] = pos[x];
			pos[x] = t;
			e |= pool->free(pool, held[pos[q]], 0);
			ops++;
		}
		for (q = 0; q < k; q++, ops++)
			if (!(held[pos[q]] = pool->alloc(pool, 0))) {
				runner_fail("round %d: allocation returned NULL at 50%% fill", r);
				goto out;
			}
	}
	if (e) {
		runner_fail("a free failed (OR of results %d)", e);
		goto out;
	}
	if (ops != nheld + 2 * (size_t)FRAG_ROUNDS * k) {
		runner_fail("%llu operations counted, %zu asked", (unsigned long long)ops,
			    nheld + 2 * (size_t)FRAG_ROUNDS * k);
		goto out;
	}
	if (pool->drain)
		pool->drain(pool);
	while (nblocks <= n / HUGE_ROOMS && (blocks[nblocks] = pool->alloc(pool, HUGE_ORDER)))
		nblocks++;
	hf = pool->huge_free ? pool->huge_free(pool) : -1;
	if (hf > 0) {
		runner_fail("false out-of-memory: an order-9 allocation failed after %zu while the "
			    "pool reports %ld whole free rows",
			    nblocks, hf);
		goto out;
	}
	if (frag_check(held, nheld, blocks, nblocks, pool->page_size))
		goto out;
	runner_sink += (uintptr_t)held[0];
	runner_report("kept", 100.0 * (double)nblocks / (double)bound, "%", 0, ops, 1,
		      "%zu order-9 blocks allocatable of a bound of %zu (%zu free rooms / 512) "
		      "after %d rounds of freeing and re-allocating a random 10%% at 50%% fill",
		      nblocks, bound, n - nheld, FRAG_ROUNDS);
	rc = 0;
out:
	if (pool)
		ropt.peer->destroy(pool);
	free(held);
	free(blocks);
	free(pos);
	return rc;
}

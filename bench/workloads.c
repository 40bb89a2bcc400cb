/* SPDX-License-Identifier: MIT */
/* lab-bench workloads: each runs the same work on labyrinth and on the
 * baseline scan, checks the results outside the timed loops, and reports
 * ns (or us) per operation for one run.
 *
 * The timed loops are written once, as always-inline functions taking a
 * constant `lab` flag, and instantiated twice (labyrinth, baseline) so that
 * neither side pays for an indirect call.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "scan.h"

#include <labyrinth.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))

#define ROOM 4096u
#define HUGE_ORDER 9u
#define HUGE_ROOMS ((size_t)1 << HUGE_ORDER)
#define GFP (bench_opt.excl ? LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE : LAB_GFP_ATOMIC)

#define MODE_MEMORY "rooms in memory the maze maps itself (4 KiB, never touched)"
#define MODE_INDEX "index-only (LAB_NO_MEMORY), 4 KiB rooms"

/* ---- set-up helpers (untimed) ------------------------------------------ */

static struct labyrinth *maze_new(const char *wl, size_t pages, unsigned flags)
{
	struct lab_config cfg;
	struct labyrinth *m = NULL;
	int err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = ROOM;
	cfg.pages = pages;
	cfg.flags = flags;
	err = lab_create(&m, &cfg);
	if (err) {
		bench_fail(wl, "lab_create(%zu rooms) failed: %d (%s)", pages, err,
			   lab_strerror(err));
		return NULL;
	}
	return m;
}

static struct scan *scan_new(const char *wl, size_t pages, int with_memory)
{
	struct scan *s = scan_create(pages, ROOM, with_memory);

	if (!s)
		bench_fail(wl, "scan_create(%zu rooms) failed", pages);
	return s;
}

/* Zeroed and faulted in, so that no timed loop takes a page fault on it. */
static void *touched(const char *wl, size_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);

	if (!p) {
		bench_fail(wl, "out of memory for %zu bytes", bytes);
		return NULL;
	}
	memset(p, 0, bytes);
	return p;
}

/* After a warm-up run: labyrinth's own invariant checker, untimed. */
static int maze_check(const char *wl, const struct labyrinth *m)
{
	char why[256] = "";
	int err = lab_validate(m, why, sizeof(why));

	if (err)
		return bench_fail(wl, "lab_validate: %d: %s", err, why);
	return 0;
}

/* Allocated rooms: none NULL, all distinct blocks of 2^order rooms, block
 * aligned by index and (with memory) by address. seen has one byte per block. */
static int check_blocks(const char *wl, const char *impl, void *h, bool lab, void **p, size_t n,
			unsigned order, unsigned char *seen, size_t nblocks)
{
	size_t i;

	memset(seen, 0, nblocks);
	for (i = 0; i < n; i++) {
		long idx;

		if (!p[i])
			return bench_fail(wl, "%s: allocation %zu of %zu (order %u) returned NULL",
					  impl, i, n, order);
		idx = lab ? lab_page_index(h, p[i]) : scan_page_index(h, p[i]);
		if (idx < 0)
			return bench_fail(wl, "%s: allocation %zu returned %p, outside the maze",
					  impl, i, p[i]);
		if ((size_t)idx & ((1u << order) - 1))
			return bench_fail(wl, "%s: order-%u block at room %ld is not aligned", impl,
					  order, idx);
		if ((uintptr_t)p[i] & (((uintptr_t)ROOM << order) - 1))
			return bench_fail(wl, "%s: order-%u block %p is not address-aligned", impl,
					  order, p[i]);
		if ((size_t)idx >> order >= nblocks || seen[(size_t)idx >> order]++)
			return bench_fail(wl, "%s: room %ld handed out twice", impl, idx);
	}
	return 0;
}

/* ---- timed loops --------------------------------------------------------- */

static ALWAYS_INLINE void *room_alloc_gfp(void *h, bool lab, unsigned order, lab_gfp_t gfp)
{
	if (lab)
		return order ? lab_alloc_pages(h, gfp, order) : lab_alloc_page(h, gfp);
	return scan_alloc_page(h);
}

static ALWAYS_INLINE void *room_alloc(void *h, bool lab, unsigned order)
{
	return room_alloc_gfp(h, lab, order, GFP);
}

static ALWAYS_INLINE int room_free(void *h, bool lab, void *p, unsigned order)
{
	if (lab)
		return order ? lab_free_pages(h, p, order) : lab_free_page(h, p);
	return scan_free_page(h, p);
}

/* Allocate n blocks one by one into p[]; returns the ns taken. */
static ALWAYS_INLINE uint64_t loop_fill(void *h, bool lab, unsigned order, void **p, size_t n)
{
	uint64_t t0 = bench_now_ns();
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = room_alloc(h, lab, order);
	return bench_now_ns() - t0;
}

/* Free p[0..n-1]; *err collects the OR of the results (0 when all are 0). */
static ALWAYS_INLINE uint64_t loop_empty(void *h, bool lab, unsigned order, void **p, size_t n,
					 int *err)
{
	uint64_t t0 = bench_now_ns();
	int e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e |= room_free(h, lab, p[i], order);
	*err |= e;
	return bench_now_ns() - t0;
}

/* ops hot pairs: alloc one room, free it. A NULL shows up as a free error. */
static ALWAYS_INLINE uint64_t loop_pairs(void *h, bool lab, lab_gfp_t gfp, uint64_t ops, int *err,
					 uint64_t *acc)
{
	uint64_t t0 = bench_now_ns();
	uint64_t i, a = 0;
	int e = 0;

	for (i = 0; i < ops; i++) {
		void *p = room_alloc_gfp(h, lab, 0, gfp);

		a += (uintptr_t)p;
		e |= room_free(h, lab, p, 0);
	}
	*err |= e;
	*acc += a;
	return bench_now_ns() - t0;
}

/* steps of: free a random held room, allocate one in its place. */
static ALWAYS_INLINE uint64_t loop_churn(void *h, bool lab, void **held, size_t nheld,
					 uint64_t steps, uint64_t *rng, int *err, uint64_t *nulls)
{
	uint64_t t0 = bench_now_ns();
	uint64_t i, s = *rng, z = 0;
	int e = 0;

	for (i = 0; i < steps; i++) {
		size_t j = bench_rng_below(&s, nheld);
		void *p;

		e |= room_free(h, lab, held[j], 0);
		p = room_alloc(h, lab, 0);
		z += !p;
		held[j] = p;
	}
	*rng = s;
	*err |= e;
	*nulls += z;
	return bench_now_ns() - t0;
}

/* The design note's pair: allocpage_gfp_atomic_exclusive and
 * dealloc_labyrinth_page_exclusive (which panics on misuse). */
static NOINLINE uint64_t pairs_lab_note(void *h, uint64_t ops, uint64_t *acc)
{
	uint64_t t0 = bench_now_ns();
	uint64_t i, a = 0;

	for (i = 0; i < ops; i++) {
		void *p = allocpage_gfp_atomic_exclusive(h);

		a += (uintptr_t)p;
		dealloc_labyrinth_page_exclusive(h, p);
	}
	*acc += a;
	return bench_now_ns() - t0;
}

static NOINLINE uint64_t fill_lab(void *h, unsigned o, void **p, size_t n)
{
	return loop_fill(h, true, o, p, n);
}

static NOINLINE uint64_t fill_base(void *h, void **p, size_t n)
{
	return loop_fill(h, false, 0, p, n);
}

static NOINLINE uint64_t empty_lab(void *h, unsigned o, void **p, size_t n, int *err)
{
	return loop_empty(h, true, o, p, n, err);
}

static NOINLINE uint64_t empty_base(void *h, void **p, size_t n, int *err)
{
	return loop_empty(h, false, 0, p, n, err);
}

static NOINLINE uint64_t pairs_lab(void *h, uint64_t ops, int *err, uint64_t *acc)
{
	return loop_pairs(h, true, GFP, ops, err, acc);
}

static NOINLINE uint64_t pairs_lab_excl(void *h, uint64_t ops, int *err, uint64_t *acc)
{
	return loop_pairs(h, true, GFP | LAB_GFP_EXCLUSIVE, ops, err, acc);
}

static NOINLINE uint64_t pairs_base(void *h, uint64_t ops, int *err, uint64_t *acc)
{
	return loop_pairs(h, false, 0, ops, err, acc);
}

static NOINLINE uint64_t churn_lab(void *h, void **held, size_t n, uint64_t steps, uint64_t *rng,
				   int *err, uint64_t *nulls)
{
	return loop_churn(h, true, held, n, steps, rng, err, nulls);
}

static NOINLINE uint64_t churn_base(void *h, void **held, size_t n, uint64_t steps, uint64_t *rng,
				    int *err, uint64_t *nulls)
{
	return loop_churn(h, false, held, n, steps, rng, err, nulls);
}

/* ---- bulk0 and bulk9 --------------------------------------------------- */

struct bulk_state {
	const char *wl;
	unsigned order;
	struct labyrinth *m;
	struct scan *s; /* NULL for bulk9: the scan has no orders */
	void **p;
	unsigned char *seen;
	size_t blocks;
	int cycles;
};

static int bulk_setup_common(void **state, const char *wl, unsigned order, size_t pages, int cycles)
{
	struct bulk_state *st = calloc(1, sizeof(*st));

	if (!st)
		return bench_fail(wl, "out of memory");
	*state = st;
	st->wl = wl;
	st->order = order;
	st->cycles = cycles;
	st->blocks = pages >> order;
	st->m = maze_new(wl, pages, 0);
	if (!st->m)
		return -1;
	if (!order && !(st->s = scan_new(wl, pages, 1)))
		return -1;
	st->p = touched(wl, st->blocks * sizeof(void *));
	st->seen = touched(wl, st->blocks);
	return st->p && st->seen ? 0 : -1;
}

static int bulk0_setup(void **state)
{
	return bulk_setup_common(state, "bulk0", 0, bench_size.bulk_pages, bench_size.bulk_cycles);
}

static int bulk9_setup(void **state)
{
	return bulk_setup_common(state, "bulk9", HUGE_ORDER, bench_size.bulk9_pages,
				 bench_size.bulk9_cycles);
}

static void bulk_teardown(void *state)
{
	struct bulk_state *st = state;

	if (!st)
		return;
	if (st->m)
		lab_destroy(st->m);
	scan_destroy(st->s);
	free(st->p);
	free(st->seen);
	free(st);
}

/* One implementation, all cycles: fill, check (untimed), empty. */
static int bulk_side(struct bulk_state *st, bool lab, uint64_t *t_alloc, uint64_t *t_free,
		     uint64_t *ops)
{
	const char *impl = lab ? "labyrinth" : "baseline";
	void *h = lab ? (void *)st->m : (void *)st->s;
	int c, err = 0;

	*t_alloc = *t_free = *ops = 0;
	for (c = 0; c < st->cycles; c++) {
		void *extra;

		*t_alloc += lab ? fill_lab(h, st->order, st->p, st->blocks) :
				  fill_base(h, st->p, st->blocks);
		if (check_blocks(st->wl, impl, h, lab, st->p, st->blocks, st->order, st->seen,
				 st->blocks))
			return -1;
		*ops += st->blocks;
		/* The maze is full now: one more must fail. */
		extra = room_alloc(h, lab, st->order);
		if (extra) {
			room_free(h, lab, extra, st->order);
			return bench_fail(st->wl, "%s: allocation %zu succeeded in a full maze",
					  impl, st->blocks + 1);
		}
		*t_free += lab ? empty_lab(h, st->order, st->p, st->blocks, &err) :
				 empty_base(h, st->p, st->blocks, &err);
		if (err)
			return bench_fail(st->wl, "%s: a free returned an error (OR of results %d)",
					  impl, err);
		bench_sink += (uintptr_t)st->p[st->blocks - 1];
	}
	return 0;
}

static int bulk_run(void *state, int run, struct bench_sample *out)
{
	struct bulk_state *st = state;
	uint64_t la, lf, lops, ba = 0, bf = 0, bops = 0;

	if (bulk_side(st, true, &la, &lf, &lops))
		return -1;
	if (run < 0) {
		struct lab_stats sb;

		if (maze_check(st->wl, st->m))
			return -1;
		lab_stats(st->m, &sb);
		if (sb.free != sb.pages)
			return bench_fail(st->wl,
					  "labyrinth: %zu of %zu rooms free after freeing all",
					  sb.free, sb.pages);
	}
	out[0].lab = (double)la / (double)lops;
	out[1].lab = (double)lf / (double)lops;
	out[0].base = out[1].base = NAN;
	if (!st->s)
		return 0;
	if (bulk_side(st, false, &ba, &bf, &bops))
		return -1;
	if (bops != lops)
		return bench_fail(st->wl, "operation counts differ: %llu vs %llu",
				  (unsigned long long)lops, (unsigned long long)bops);
	out[0].base = (double)ba / (double)bops;
	out[1].base = (double)bf / (double)bops;
	return 0;
}

/* ---- pair ---------------------------------------------------------------- */

struct pair_state {
	struct labyrinth *m;
	struct scan *s;
};

static int pair_setup_named(void **state, const char *wl)
{
	struct pair_state *st = calloc(1, sizeof(*st));

	if (!st)
		return bench_fail(wl, "out of memory");
	*state = st;
	st->m = maze_new(wl, bench_size.pair_pages, 0);
	st->s = scan_new(wl, bench_size.pair_pages, 1);
	return st->m && st->s ? 0 : -1;
}

static int pair_setup(void **state)
{
	return pair_setup_named(state, "pair");
}

static void pair_teardown(void *state)
{
	struct pair_state *st = state;

	if (!st)
		return;
	if (st->m)
		lab_destroy(st->m);
	scan_destroy(st->s);
	free(st);
}

static int pair_run(void *state, int run, struct bench_sample *out)
{
	struct pair_state *st = state;
	uint64_t ops = bench_size.pair_ops, acc = 0, tl, tx, tn, tb;
	int el = 0, eb = 0;

	tl = pairs_lab(st->m, ops, &el, &acc);
	tx = pairs_lab_excl(st->m, ops, &el, &acc);
	tn = pairs_lab_note(st->m, ops, &acc);
	tb = pairs_base(st->s, ops, &eb, &acc);
	bench_sink += acc;
	if (el || eb)
		return bench_fail("pair", "%s: a free returned an error (OR %d): an alloc failed?",
				  el ? "labyrinth" : "baseline", el ? el : eb);
	if (run < 0 && maze_check("pair", st->m))
		return -1;
	out[0].lab = (double)tl / (double)ops;
	out[0].base = (double)tb / (double)ops;
	/* Same baseline figure: the scan has no exclusive variant. */
	out[1].lab = (double)tx / (double)ops;
	out[1].base = out[0].base;
	out[2].lab = (double)tn / (double)ops;
	out[2].base = out[0].base;
	return 0;
}

/* ---- churn50 ------------------------------------------------------------- */

struct churn_state {
	struct labyrinth *m;
	struct scan *s;
	void **lheld, **bheld;
	size_t nheld;
};

/* Fill the whole maze, then free a random half (same choice for both). */
static int churn_prepare(void *h, bool lab, void **all, size_t n, unsigned char *seen)
{
	const char *impl = lab ? "labyrinth" : "baseline";
	uint64_t rng = bench_rng_seed(bench_opt.seed, 7);
	size_t i;
	int err = 0;

	if (lab)
		fill_lab(h, 0, all, n);
	else
		fill_base(h, all, n);
	if (check_blocks("churn50", impl, h, lab, all, n, 0, seen, n))
		return -1;
	for (i = n - 1; i > 0; i--) {
		size_t j = bench_rng_below(&rng, i + 1);
		void *t = all[i];

		all[i] = all[j];
		all[j] = t;
	}
	for (i = n / 2; i < n; i++)
		err |= room_free(h, lab, all[i], 0);
	if (err)
		return bench_fail("churn50", "%s: freeing half the maze failed (%d)", impl, err);
	return 0;
}

static int churn_setup(void **state)
{
	struct churn_state *st = calloc(1, sizeof(*st));
	size_t n = bench_size.churn_pages;
	unsigned char *seen;
	int rc;

	if (!st)
		return bench_fail("churn50", "out of memory");
	*state = st;
	st->nheld = n / 2;
	st->m = maze_new("churn50", n, 0);
	st->s = scan_new("churn50", n, 1);
	st->lheld = touched("churn50", n * sizeof(void *));
	st->bheld = touched("churn50", n * sizeof(void *));
	seen = touched("churn50", n);
	if (!st->m || !st->s || !st->lheld || !st->bheld || !seen) {
		free(seen);
		return -1;
	}
	rc = churn_prepare(st->m, true, st->lheld, n, seen);
	if (!rc)
		rc = churn_prepare(st->s, false, st->bheld, n, seen);
	free(seen);
	return rc;
}

static void churn_teardown(void *state)
{
	struct churn_state *st = state;

	if (!st)
		return;
	if (st->m)
		lab_destroy(st->m);
	scan_destroy(st->s);
	free(st->lheld);
	free(st->bheld);
	free(st);
}

static int churn_run(void *state, int run, struct bench_sample *out)
{
	struct churn_state *st = state;
	uint64_t steps = bench_size.churn_steps, nl = 0, nb = 0, tl, tb;
	uint64_t rl = bench_rng_seed(bench_opt.seed, 100 + (uint64_t)(run + 1));
	uint64_t rb = rl;
	int el = 0, eb = 0;

	tl = churn_lab(st->m, st->lheld, st->nheld, steps, &rl, &el, &nl);
	tb = churn_base(st->s, st->bheld, st->nheld, steps, &rb, &eb, &nb);
	bench_sink += (uintptr_t)st->lheld[0] + (uintptr_t)st->bheld[0];
	if (el || nl)
		return bench_fail("churn50",
				  "labyrinth: %llu allocations returned NULL, free error OR %d",
				  (unsigned long long)nl, el);
	if (eb || nb)
		return bench_fail("churn50",
				  "baseline: %llu allocations returned NULL, free error OR %d",
				  (unsigned long long)nb, eb);
	if (run < 0) {
		struct lab_stats sb;

		if (maze_check("churn50", st->m))
			return -1;
		lab_stats(st->m, &sb);
		if (sb.free != sb.pages - st->nheld)
			return bench_fail("churn50", "labyrinth: %zu rooms free, expected %zu",
					  sb.free, sb.pages - st->nheld);
	}
	out[0].lab = (double)tl / (double)steps;
	out[0].base = (double)tb / (double)steps;
	return 0;
}

/* ---- twothreads ---------------------------------------------------------- */

struct two_arg {
	void *h;
	bool lab;
	int cpu;
	uint64_t ops;
	pthread_barrier_t *bar;
	uint64_t t0, t1, cpu_ns, acc;
	int err;
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *two_thread(void *p)
{
	struct two_arg *a = p;
	uint64_t acc = 0;

	bench_pin(a->cpu);
	pthread_barrier_wait(a->bar);
	a->cpu_ns = thread_cpu_ns();
	a->t0 = bench_now_ns();
	if (a->lab)
		pairs_lab(a->h, a->ops, &a->err, &acc);
	else
		pairs_base(a->h, a->ops, &a->err, &acc);
	a->t1 = bench_now_ns();
	a->cpu_ns = thread_cpu_ns() - a->cpu_ns;
	a->acc = acc;
	return NULL;
}

/* Wall time from the first thread's start to the last one's end. *share
 * gets the CPU time the threads had over nthreads * wall: near 1 when each
 * thread had a CPU to itself all along, lower when other work ran. */
static uint64_t two_side(void *h, bool lab, int nthreads, uint64_t ops, int *err, double *share)
{
	uint64_t cpu = 0;
	struct two_arg a[2];
	pthread_t th[2];
	pthread_barrier_t bar;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int i, started = 0;

	pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
	for (i = 0; i < nthreads; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].h = h;
		a[i].lab = lab;
		a[i].cpu = i;
		a[i].ops = ops;
		a[i].bar = &bar;
		if (pthread_create(&th[i], NULL, two_thread, &a[i]))
			break;
		started++;
	}
	if (started < nthreads) {
		/* Cannot happen on a sane system; the barrier would hang. */
		fprintf(stderr, "lab-bench: twothreads: pthread_create failed\n");
		exit(1);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		t0 = a[i].t0 < t0 ? a[i].t0 : t0;
		t1 = a[i].t1 > t1 ? a[i].t1 : t1;
		*err |= a[i].err;
		cpu += a[i].cpu_ns;
		bench_sink += a[i].acc;
	}
	pthread_barrier_destroy(&bar);
	*share = t1 > t0 ? (double)cpu / ((double)nthreads * (double)(t1 - t0)) : 0;
	return t1 - t0;
}

static int two_setup(void **state)
{
	return pair_setup_named(state, "twothreads");
}

static int two_run(void *state, int run, struct bench_sample *out)
{
	struct pair_state *st = state;
	uint64_t ops = bench_size.two_ops;
	uint64_t l1, l2, b1, b2;
	double sl1, sl2, sb1, sb2;
	int el = 0, eb = 0;

	l1 = two_side(st->m, true, 1, ops, &el, &sl1);
	l2 = two_side(st->m, true, 2, ops, &el, &sl2);
	b1 = two_side(st->s, false, 1, ops, &eb, &sb1);
	b2 = two_side(st->s, false, 2, ops, &eb, &sb2);
	if (el || eb)
		return bench_fail("twothreads", "%s: a free returned an error (OR %d)",
				  el ? "labyrinth" : "baseline", el ? el : eb);
	if (run < 0) {
		struct lab_stats sb;

		if (maze_check("twothreads", st->m))
			return -1;
		lab_stats(st->m, &sb);
		if (sb.free != sb.pages)
			return bench_fail(
				"twothreads",
				"labyrinth: %zu of %zu rooms free after the threads exited",
				sb.free, sb.pages);
	}
	out[0].lab = (double)l1 / (double)ops;
	out[0].base = (double)b1 / (double)ops;
	out[1].lab = (double)l2 / (double)ops;
	out[1].base = (double)b2 / (double)ops;
	/* Throughput of two threads over that of one. */
	out[2].lab = 2.0 * (double)l1 / (double)l2;
	out[2].base = 2.0 * (double)b1 / (double)b2;
	/* How much of the two CPUs the two threads really had. */
	out[3].lab = sl2 < sl1 ? sl2 : sl1;
	out[3].base = sb2 < sb1 ? sb2 : sb1;
	if (out[3].lab < 0.9 || out[3].base < 0.9)
		fprintf(stderr,
			"  twothreads: run %d: the threads had %.0f%% (labyrinth) and %.0f%% "
			"(baseline) of their CPUs; below 90%%, other work ran and the scaling is not meaningful\n",
			run, 100 * out[3].lab, 100 * out[3].base);
	return 0;
}

/* ---- nearfull ------------------------------------------------------------ */

struct near_state {
	struct labyrinth *m;
	struct scan *s;
	size_t n;
	double *sample;
};

static int near_setup(void **state)
{
	struct near_state *st = calloc(1, sizeof(*st));
	size_t n = bench_size.near_pages, got;
	uint64_t t0, tl, tb;
	int reps;

	if (!st)
		return bench_fail("nearfull", "out of memory");
	*state = st;
	st->n = n;
	reps = bench_size.near_reps_lab > bench_size.near_reps_base ? bench_size.near_reps_lab :
								      bench_size.near_reps_base;
	st->sample = touched("nearfull", (size_t)reps * sizeof(double));
	st->m = maze_new("nearfull", n, LAB_NO_MEMORY);
	st->s = scan_new("nearfull", n, 0);
	if (!st->m || !st->s || !st->sample)
		return -1;

	t0 = bench_now_ns();
	for (got = 0; lab_alloc_index(st->m, GFP, 0) >= 0; got++)
		;
	tl = bench_now_ns() - t0;
	if (got != n)
		return bench_fail("nearfull", "labyrinth: filled %zu of %zu rooms", got, n);
	t0 = bench_now_ns();
	for (got = 0; scan_alloc_index(st->s) >= 0; got++)
		;
	tb = bench_now_ns() - t0;
	if (got != n)
		return bench_fail("nearfull", "baseline: filled %zu of %zu rooms", got, n);
	fprintf(stderr,
		"  nearfull: filled %zu rooms (untimed set-up): labyrinth %.2f s (%.1f ns/op), baseline %.2f s (%.1f ns/op)\n",
		n, (double)tl * 1e-9, (double)tl / (double)n, (double)tb * 1e-9,
		(double)tb / (double)n);
	return maze_check("nearfull", st->m);
}

static void near_teardown(void *state)
{
	struct near_state *st = state;

	if (!st)
		return;
	if (st->m)
		lab_destroy(st->m);
	scan_destroy(st->s);
	free(st->sample);
	free(st);
}

/* reps times: free a random room (and drain the thread cache, so that the
 * allocation must search), then time the allocation of that last free room.
 * Each timed allocation costs microseconds, so it is timed on its own.
 * Returns the median in us, or NAN after a failure. */
static double near_side(struct near_state *st, bool lab, int run, int reps)
{
	const char *impl = lab ? "labyrinth" : "baseline";
	uint64_t rng = bench_rng_seed(bench_opt.seed, 200 + (uint64_t)(run + 1));
	int r;

	for (r = 0; r < reps; r++) {
		size_t idx = bench_rng_below(&rng, st->n);
		uint64_t t0, t1;
		long got;
		int err;

		if (lab) {
			err = lab_free_index(st->m, idx, 0);
			lab_drain(st->m);
			t0 = bench_now_ns();
			got = lab_alloc_index(st->m, GFP, 0);
			t1 = bench_now_ns();
		} else {
			err = scan_free_index(st->s, idx);
			t0 = bench_now_ns();
			got = scan_alloc_index(st->s);
			t1 = bench_now_ns();
		}
		if (err || got != (long)idx) {
			bench_fail("nearfull", "%s: freed room %zu (result %d), then allocated %ld",
				   impl, idx, err, got);
			return NAN;
		}
		st->sample[r] = (double)(t1 - t0) * 1e-3;
	}
	return bench_median(st->sample, reps);
}

static int near_run(void *state, int run, struct bench_sample *out)
{
	struct near_state *st = state;

	out[0].lab = near_side(st, true, run, bench_size.near_reps_lab);
	if (isnan(out[0].lab))
		return -1;
	out[0].base = near_side(st, false, run, bench_size.near_reps_base);
	if (isnan(out[0].base))
		return -1;
	if (run < 0 && maze_check("nearfull", st->m))
		return -1;
	return 0;
}

/* ---- the table ----------------------------------------------------------- */

const struct bench_workload bench_workloads[] = {
	{ "bulk0",
	  MODE_MEMORY,
	  "allocate every room of the maze one by one (order 0), then free them all",
	  2,
	  { "bulk0_alloc", "bulk0_free" },
	  { "ns/op", "ns/op" },
	  { false, false },
	  bulk0_setup,
	  bulk_run,
	  bulk_teardown },
	{ "bulk9",
	  MODE_MEMORY,
	  "allocate every order-9 block (2 MiB) of the maze, then free them all",
	  2,
	  { "bulk9_alloc", "bulk9_free" },
	  { "ns/op", "ns/op" },
	  { false, false },
	  bulk9_setup,
	  bulk_run,
	  bulk_teardown },
	{ "pair",
	  MODE_MEMORY,
	  "hot pair: allocate one order-0 room and free it, repeated (ns per pair); "
	  "pair_excl: lab_alloc_page(ATOMIC|EXCLUSIVE)/lab_free_page; "
	  "pair_note: allocpage_gfp_atomic_exclusive/dealloc_labyrinth_page_exclusive; "
	  "both against the same baseline figure",
	  3,
	  { "pair", "pair_excl", "pair_note" },
	  { "ns/pair", "ns/pair", "ns/pair" },
	  { false, false, false },
	  pair_setup,
	  pair_run,
	  pair_teardown },
	{ "churn50",
	  MODE_MEMORY,
	  "maze half full of random rooms; step = free a random held room, allocate one",
	  1,
	  { "churn50" },
	  { "ns/step" },
	  { false },
	  churn_setup,
	  churn_run,
	  churn_teardown },
	{ "twothreads",
	  MODE_MEMORY,
	  "hot pairs in 1 thread, then in 2 threads at once on one maze (ns per pair per thread); "
	  "scaling = throughput of 2 threads / 1; cpu = share of its CPU each thread really had "
	  "(below 0.9: other work ran and the scaling is not meaningful)",
	  4,
	  { "twothreads_1t", "twothreads_2t", "twothreads_scaling", "twothreads_cpu" },
	  { "ns/pair", "ns/pair", "x", "share" },
	  { false, false, true, true },
	  two_setup,
	  two_run,
	  pair_teardown },
	{ "nearfull",
	  MODE_INDEX,
	  "every room allocated but one random room: allocate it (median per allocation)",
	  1,
	  { "nearfull" },
	  { "us/op" },
	  { false },
	  near_setup,
	  near_run,
	  near_teardown },
};

const int bench_nworkloads = (int)(sizeof(bench_workloads) / sizeof(bench_workloads[0]));

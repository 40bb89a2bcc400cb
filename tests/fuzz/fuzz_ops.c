/* SPDX-License-Identifier: MIT */
/* fuzz_ops: bytes become a sequence of API calls on a small maze, and every
 * result is checked against a simple sequential model of the maze. Built
 * two ways: with clang -fsanitize=fuzzer (make fuzz), and
 * with the normal compiler plus tests/fuzz/replay.c, which replays the
 * saved corpus in ctest (fuzz_ops_replay).
 *
 * Input: the first bytes choose the maze (rooms 1..2048 of 4 KiB; a reserve
 * or none; memory mapped by the maze, index-only, or the caller's), the rest
 * is a list of operations. Two threads call the API, one at a time: the
 * fuzzer's thread ("main") and a helper thread that runs the calls it is
 * handed ("helper"), so exclusive pages can be owned by, given to and freed
 * by another thread, and rooms parked in the helper's cache must be stolen
 * or flushed. Pages given to a tid that is neither thread ("fake") stay
 * allocated: nobody may free them.
 *
 * The model: every room is free, the head of an allocated block (order,
 * owner tid, exclusive) or a tail room of one. An allocation of order n can
 * succeed exactly when an aligned free run of 2^n rooms exists and, for
 * callers without LAB_GFP_ATOMIC, at least reserve + 2^n rooms are free.
 * KERNEL without ATOMIC/NOWAIT is never used when the model says the call
 * would wait, nor NOFAIL when it says the call would fail (they would wait
 * forever or panic). Any difference prints what differed and aborts. */
#define _GNU_SOURCE
#include "fuzz.h"
#include <errno.h>
#include <labyrinth.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAXP 2048u	      /* rooms at most */
#define FZ_PS 4096u	      /* bytes per room */
#define FZ_MAXOPS 2000u	      /* operations per input at most */
#define FZ_VALIDATE_EVERY 16u /* lab_validate every so many operations */
#define FZ_TID_MASK 0x3fffffu /* owner ids are 22-bit thread ids */

/* ---------------------------------------------------------------- failures */

static unsigned long fz_opno; /* operation number in the current input */
static const char *fz_opname = "setup";

static void fuzz_context(FILE *out)
{
	fprintf(out, "op %lu (%s)", fz_opno, fz_opname);
}

/* ---------------------------------------------------------------- input */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static unsigned in8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned in16(struct fz_in *in)
{
	unsigned lo = in8(in);
	return lo | in8(in) << 8;
}

static uint32_t in32(struct fz_in *in)
{
	uint32_t lo = in16(in);
	return lo | (uint32_t)in16(in) << 16;
}

/* ---------------------------------------------------------------- the model */

enum {
	R_FREE,
	R_HEAD,
	R_TAIL
};

struct fz_room {
	uint8_t state;	/* R_* */
	uint8_t order;	/* R_HEAD: the block's order */
	uint8_t excl;	/* R_HEAD: exclusive */
	uint32_t owner; /* R_HEAD: owner tid */
	uint32_t head;	/* R_HEAD/R_TAIL: the block's first room */
	uint32_t pos;	/* R_HEAD: position in heads[] */
};

static struct {
	size_t pages, reserve, nfree, max_order;
	int mode; /* 0: the maze maps its memory, 1: index-only, 2: caller's memory */
	struct fz_room r[FZ_MAXP];
	uint32_t heads[FZ_MAXP]; /* allocated blocks, unordered */
	size_t nheads;
} M;

static struct labyrinth *maze;
static uintptr_t base; /* 0 for an index-only maze */
static uintptr_t span;
static lab_owner_t self_tid, helper_tid, fake_tid;

/* The caller's memory for mode 2. */
static _Alignas(4096) unsigned char fz_callmem[FZ_MAXP * FZ_PS];

static void model_reset(size_t pages, size_t reserve, int mode)
{
	M.pages = pages;
	M.reserve = reserve;
	M.nfree = pages;
	M.mode = mode;
	M.max_order = 0;
	while (M.max_order < LAB_MAX_ORDER && ((size_t)2 << M.max_order) <= pages)
		M.max_order++;
	memset(M.r, 0, sizeof M.r);
	M.nheads = 0;
}

/* First room of an aligned free run of 2^order rooms, or -1. */
static long model_find_run(unsigned order)
{
	size_t len = (size_t)1 << order;
	for (size_t h = 0; h + len <= M.pages; h += len) {
		size_t i;
		for (i = h; i < h + len; i++)
			if (M.r[i].state != R_FREE)
				break;
		if (i == h + len)
			return (long)h;
	}
	return -1;
}

static bool model_run_free(size_t idx, unsigned order)
{
	size_t len = (size_t)1 << order;
	if (idx + len > M.pages)
		return false;
	for (size_t i = idx; i < idx + len; i++)
		if (M.r[i].state != R_FREE)
			return false;
	return true;
}

static void model_take(size_t idx, unsigned order, lab_owner_t owner, bool excl)
{
	size_t len = (size_t)1 << order;
	for (size_t i = idx; i < idx + len; i++) {
		M.r[i].state = i == idx ? R_HEAD : R_TAIL;
		M.r[i].head = (uint32_t)idx;
	}
	M.r[idx].order = (uint8_t)order;
	M.r[idx].excl = excl;
	M.r[idx].owner = owner;
	M.r[idx].pos = (uint32_t)M.nheads;
	M.heads[M.nheads++] = (uint32_t)idx;
	M.nfree -= len;
}

static void model_release(size_t idx)
{
	size_t len = (size_t)1 << M.r[idx].order;
	uint32_t pos = M.r[idx].pos;
	uint32_t last = M.heads[--M.nheads];
	M.heads[pos] = last;
	M.r[last].pos = pos;
	for (size_t i = idx; i < idx + len; i++)
		memset(&M.r[i], 0, sizeof M.r[i]);
	M.nfree += len;
}

/* Whole free rows of 512 rooms. */
static size_t model_full_rows(void)
{
	size_t n = 0;
	for (size_t r = 0; (r + 1) * 512 <= M.pages; r++) {
		size_t i;
		for (i = r * 512; i < (r + 1) * 512; i++)
			if (M.r[i].state != R_FREE)
				break;
		n += i == (r + 1) * 512;
	}
	return n;
}

/* ---------------------------------------------------------------- expectations */

/* Allocation: 0 if the model says it succeeds, else the errno; *alt an
 * equally acceptable other answer (0 if none). */
static long expect_alloc(lab_gfp_t gfp, unsigned order, long *alt)
{
	*alt = 0;
	if ((gfp & ~LAB_GFP_ALL) || order > LAB_MAX_ORDER)
		return -EINVAL;
	if (order > M.max_order) {
		*alt = -EINVAL; /* an order this maze can never hold: either reading */
		return -ENOMEM;
	}
	if (!(gfp & LAB_GFP_ATOMIC) && M.nfree < M.reserve + ((size_t)1 << order))
		return -ENOMEM;
	return model_find_run(order) >= 0 ? 0 : -ENOMEM;
}

/* Free by index, in the documented order of checks. */
static int expect_free_index(size_t idx, unsigned order, lab_owner_t caller, int *alt)
{
	*alt = 0;
	if (idx >= M.pages)
		return -EFAULT;
	const struct fz_room *r = &M.r[idx];
	if (order > LAB_MAX_ORDER) {
		/* no block has this order: a bad argument, or not allocated */
		if (r->state == R_FREE)
			*alt = -ENOENT;
		return -EINVAL;
	}
	if (r->state == R_FREE)
		return -ENOENT;
	if (r->state == R_TAIL)
		return -EINVAL;
	if (r->order != order)
		return -EINVAL;
	if (r->excl && r->owner != caller)
		return -EPERM;
	return 0;
}

/* Address checks shared by free and give: -EFAULT / -EINVAL, or 0 with *idx. */
static int expect_addr(uintptr_t p, size_t *idx)
{
	if (!base)
		return -EINVAL; /* index-only maze: the page calls are refused */
	if (p < base || p - base >= span)
		return -EFAULT;
	if ((p - base) % FZ_PS)
		return -EINVAL;
	*idx = (p - base) / FZ_PS;
	return 0;
}

static int expect_give_index(size_t idx, lab_owner_t to, lab_owner_t caller)
{
	if (idx >= M.pages)
		return -EFAULT;
	if (to == 0 || to > FZ_TID_MASK)
		return -EINVAL;
	const struct fz_room *r = &M.r[idx];
	if (r->state == R_FREE)
		return -ENOENT;
	if (r->state == R_TAIL)
		return -EINVAL;
	if (r->excl && r->owner != caller)
		return -EPERM;
	return 0;
}

/* ---------------------------------------------------------------- the helper thread */

enum {
	C_ALLOC_INDEX,
	C_ALLOC_PAGES,
	C_ALLOC_PAGE,
	C_FREE_INDEX,
	C_FREE_PAGES,
	C_FREE_PAGE,
	C_GIVE_INDEX,
	C_GIVE_PAGE,
	C_DRAIN,
};

struct fz_call {
	int op;
	lab_gfp_t gfp;
	unsigned order;
	size_t idx;
	void *ptr;
	lab_owner_t to;
	long rc;  /* index or errno */
	void *rp; /* pointer result */
};

static void exec_call(struct fz_call *c)
{
	switch (c->op) {
	case C_ALLOC_INDEX:
		c->rc = lab_alloc_index(maze, c->gfp, c->order);
		break;
	case C_ALLOC_PAGES:
		c->rp = lab_alloc_pages(maze, c->gfp, c->order);
		break;
	case C_ALLOC_PAGE:
		c->rp = lab_alloc_page(maze, c->gfp);
		break;
	case C_FREE_INDEX:
		c->rc = lab_free_index(maze, c->idx, c->order);
		break;
	case C_FREE_PAGES:
		c->rc = lab_free_pages(maze, c->ptr, c->order);
		break;
	case C_FREE_PAGE:
		c->rc = lab_free_page(maze, c->ptr);
		break;
	case C_GIVE_INDEX:
		c->rc = lab_index_give(maze, c->idx, c->to);
		break;
	case C_GIVE_PAGE:
		c->rc = lab_page_give(maze, c->ptr, c->to);
		break;
	case C_DRAIN:
		lab_drain(maze);
		c->rc = 0;
		break;
	}
}

static struct {
	sem_t req, done;
	struct fz_call *call;
} H;

static void sem_wait_intr(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			FUZZ_FAIL("sem_wait: %s", strerror(errno));
}

static void *helper_main(void *arg)
{
	(void)arg;
	helper_tid = lab_self();
	sem_post(&H.done);
	for (;;) {
		sem_wait_intr(&H.req);
		exec_call(H.call);
		sem_post(&H.done);
	}
	return NULL;
}

/* who: 0 = this thread, 1 = the helper. The semaphores order the helper's
 * calls with ours, so the maze sees one call at a time. */
static lab_owner_t run_call(int who, struct fz_call *c)
{
	if (!who) {
		exec_call(c);
		return self_tid;
	}
	H.call = c;
	sem_post(&H.req);
	sem_wait_intr(&H.done);
	return helper_tid;
}

/* ---------------------------------------------------------------- one-time set-up */

static struct labyrinth *foreign; /* another maze */
static void *foreign_page;	  /* a page of it, held for good */
static unsigned char *heap_bytes; /* a heap object */
static unsigned char static_bytes[64];

static void setup_once(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	self_tid = lab_self();
	EXPECT(self_tid != 0 && self_tid <= FZ_TID_MASK, "lab_self() = %u", self_tid);
	if (sem_init(&H.req, 0, 0) || sem_init(&H.done, 0, 0))
		FUZZ_FAIL("sem_init failed");
	pthread_t t;
	if (pthread_create(&t, NULL, helper_main, NULL))
		FUZZ_FAIL("pthread_create failed");
	pthread_detach(t);
	sem_wait_intr(&H.done);
	EXPECT(helper_tid != 0 && helper_tid != self_tid, "helper tid %u, self %u", helper_tid,
	       self_tid);
	/* a tid that is neither thread */
	fake_tid = (self_tid ^ 0x200000u) & FZ_TID_MASK;
	while (fake_tid == 0 || fake_tid == self_tid || fake_tid == helper_tid)
		fake_tid = (fake_tid + 7) & FZ_TID_MASK;
	struct lab_config cfg = { 0 };
	cfg.pages = 16;
	EXPECT(lab_create(&foreign, &cfg) == 0, "cannot create the foreign maze");
	foreign_page = lab_alloc_page(foreign, LAB_GFP_ATOMIC);
	EXPECT(foreign_page != NULL, "foreign page");
	heap_bytes = malloc(64);
	EXPECT(heap_bytes != NULL, "malloc");
}

/* ---------------------------------------------------------------- page contents */

static unsigned char cookie(size_t idx)
{
	return (unsigned char)((idx * 131u + 17u) | 1u);
}

static unsigned char *room_mem(size_t idx)
{
	return (unsigned char *)(base + idx * FZ_PS);
}

/* Rooms of a block whose bytes are checked: the first, the middle, the last. */
static size_t probe_room(size_t idx, unsigned order, int k)
{
	size_t len = (size_t)1 << order;
	return idx + (k == 0 ? 0 : k == 1 ? len / 2 : len - 1);
}

static void fill_block(size_t idx, unsigned order, bool zero)
{
	if (!base)
		return;
	if (zero) {
		for (int k = 0; k < 3; k++) {
			unsigned char *p = room_mem(probe_room(idx, order, k));
			EXPECT(p[0] == 0 && p[FZ_PS - 1] == 0,
			       "LAB_GFP_ZERO block %zu order %u: room %zu not zeroed", idx, order,
			       probe_room(idx, order, k));
		}
		if (order == 0)
			for (size_t b = 0; b < FZ_PS; b++)
				EXPECT(room_mem(idx)[b] == 0, "LAB_GFP_ZERO room %zu byte %zu", idx,
				       b);
	}
	for (int k = 0; k < 3; k++) {
		size_t r = probe_room(idx, order, k);
		room_mem(r)[0] = room_mem(r)[FZ_PS - 1] = cookie(r);
	}
}

static void check_block(size_t idx, unsigned order)
{
	if (!base)
		return;
	for (int k = 0; k < 3; k++) {
		size_t r = probe_room(idx, order, k);
		unsigned char *p = room_mem(r);
		EXPECT(p[0] == cookie(r) && p[FZ_PS - 1] == cookie(r),
		       "block %zu order %u: room %zu lost its contents (%#x %#x, want %#x)", idx,
		       order, r, p[0], p[FZ_PS - 1], cookie(r));
	}
}

/* ---------------------------------------------------------------- checks */

static void check_stats(void)
{
	struct lab_stats st;
	lab_stats(maze, &st);
	EXPECT(st.free == M.nfree, "lab_stats free %zu, model %zu", st.free, M.nfree);
	EXPECT(st.pages == M.pages && st.reserve == M.reserve && st.page_size == FZ_PS,
	       "lab_stats config: pages %zu reserve %zu page_size %zu", st.pages, st.reserve,
	       st.page_size);
	EXPECT(st.max_order == M.max_order, "max_order %zu, model %zu", st.max_order, M.max_order);
	EXPECT(st.rows == (M.pages + 511) / 512, "rows %zu", st.rows);
	EXPECT(st.cached <= st.free, "cached %zu > free %zu", st.cached, st.free);
	EXPECT(st.waiters == 0, "waiters %zu", st.waiters);
}

static void check_valid(void)
{
	char why[256] = "";
	int rc = lab_validate(maze, why, sizeof why);
	EXPECT(rc == 0, "lab_validate = %d: %s", rc, why);
	struct lab_stats st;
	lab_stats(maze, &st);
	size_t full = model_full_rows();
	EXPECT(st.huge_free <= full, "huge_free %zu, model %zu whole free rows", st.huge_free,
	       full);
	if (st.cached == 0)
		EXPECT(st.huge_free == full, "no cached rooms: huge_free %zu, model %zu",
		       st.huge_free, full);
}

/* The owner queries and lab_room_info for one index (may be out of range). */
static void check_room(size_t idx)
{
	struct lab_room ri;
	memset(&ri, 0xa5, sizeof ri);
	int rc = lab_room_info(maze, idx, &ri);
	lab_owner_t own = lab_index_owner(maze, idx);
	if (idx >= M.pages) {
		EXPECT(rc == -EFAULT, "lab_room_info(%zu) = %d, want -EFAULT", idx, rc);
		EXPECT(own == 0, "lab_index_owner(%zu) = %u outside", idx, own);
		return;
	}
	EXPECT(rc == 0, "lab_room_info(%zu) = %d", idx, rc);
	const struct fz_room *r = &M.r[idx];
	if (r->state == R_FREE) {
		EXPECT(ri.state == LAB_ROOM_FREE || ri.state == LAB_ROOM_CACHED,
		       "room %zu is free, lab_room_info state %u", idx, ri.state);
		EXPECT(ri.owner == 0 && ri.order == 0 && ri.exclusive == 0 && ri.block == idx,
		       "free room %zu: owner %u order %u exclusive %u block %zu", idx, ri.owner,
		       ri.order, ri.exclusive, ri.block);
		EXPECT(own == 0, "free room %zu has owner %u", idx, own);
	} else {
		const struct fz_room *h = &M.r[r->head];
		EXPECT(ri.state == LAB_ROOM_ALLOCATED, "room %zu is allocated, state %u", idx,
		       ri.state);
		EXPECT(ri.owner == h->owner && ri.order == h->order && ri.exclusive == h->excl &&
			       ri.block == r->head,
		       "room %zu: owner %u order %u exclusive %u block %zu; model %u %u %u %u", idx,
		       ri.owner, ri.order, ri.exclusive, ri.block, h->owner, h->order, h->excl,
		       r->head);
		EXPECT(own == h->owner, "lab_index_owner(%zu) = %u, model %u", idx, own, h->owner);
	}
	if (base) {
		void *p = lab_index_page(maze, idx);
		EXPECT((uintptr_t)p == base + idx * FZ_PS, "lab_index_page(%zu) = %p", idx, p);
		EXPECT(lab_page_index(maze, p) == (long)idx, "lab_page_index(%p)", p);
		EXPECT(lab_page_owner(maze, p) == own, "lab_page_owner(room %zu) = %u, want %u",
		       idx, lab_page_owner(maze, p), own);
	} else {
		EXPECT(lab_index_page(maze, idx) == NULL, "index-only maze gave an address");
	}
}

static void check_all_rooms(void)
{
	for (size_t i = 0; i < M.pages; i++)
		check_room(i);
}

/* ---------------------------------------------------------------- choices */

static unsigned pick_order(struct fz_in *in)
{
	unsigned b = in8(in);
	if (b < 240)
		return b % 13u; /* 0..12 */
	static const unsigned odd[] = { 13, 16, 31, 32, 33, 63, 64, 255, 0x10000u, ~0u };
	return odd[(b - 240) % (sizeof odd / sizeof odd[0])];
}

static lab_gfp_t pick_gfp(struct fz_in *in)
{
	unsigned b = in8(in);
	lab_gfp_t g = b & LAB_GFP_ALL;
	if (b & 0x40) { /* occasionally an unknown bit */
		unsigned k = in8(in);
		if (k & 1)
			g |= 1u << (6 + (k >> 1) % 26);
	}
	return g;
}

static lab_owner_t pick_to(struct fz_in *in)
{
	unsigned b = in8(in);
	switch (b % 8) {
	case 0:
	case 1:
		return self_tid;
	case 2:
	case 3:
		return helper_tid;
	case 4:
		return fake_tid;
	case 5:
		return 0;
	case 6:
		return FZ_TID_MASK + 1 + (in8(in) << 22);
	default: {
		lab_owner_t t = in32(in);
		return (b & 8) ? t & FZ_TID_MASK : t;
	}
	}
}

/* A room index: mostly the head of a held block, sometimes a room near one,
 * anywhere, or past the end. */
static size_t pick_index(struct fz_in *in)
{
	unsigned b = in8(in);
	if (M.nheads && b < 128)
		return M.heads[in16(in) % M.nheads];
	if (M.nheads && b < 176) {
		size_t h = M.heads[in16(in) % M.nheads];
		int d = (int)(in8(in) % 9) - 4;
		return (size_t)((long)h + d);
	}
	if (b < 248)
		return in16(in) % (M.pages + 4);
	static const size_t far[] = { FZ_MAXP,	(size_t)1 << 31, (size_t)1 << 32,
				      SIZE_MAX, SIZE_MAX - 1,	 (size_t)LONG_MAX + 1 };
	return far[(b - 248) % (sizeof far / sizeof far[0])];
}

/* A pointer: a room start, an interior byte, or a foreign address. */
static void *pick_ptr(struct fz_in *in)
{
	unsigned b = in8(in);
	if (b < 160) {
		size_t idx = pick_index(in);
		if (idx > FZ_MAXP + 8)
			idx = FZ_MAXP + 8;
		uintptr_t off = 0;
		if (b >= 128) /* not the first byte of a room */
			off = 1 + in16(in) % (FZ_PS - 1);
		return (void *)(base + idx * FZ_PS + off);
	}
	static int stack_var;
	switch (b % 9) {
	case 0:
		return NULL;
	case 1:
		return &stack_var;
	case 2:
		return heap_bytes;
	case 3:
		return foreign_page;
	case 4:
		return (void *)(base - FZ_PS);
	case 5:
		return (void *)(base - 1);
	case 6:
		return (void *)(base + span);
	case 7:
		return static_bytes;
	default:
		return (void *)(uintptr_t)in32(in);
	}
}

/* ---------------------------------------------------------------- operations */

/* An allocation by `who` through one of the three calls. */
static void op_alloc(struct fz_in *in, int who)
{
	struct fz_call c = { 0 };
	unsigned k = in8(in);
	c.op = k % 3 == 0 ? C_ALLOC_INDEX : k % 3 == 1 ? C_ALLOC_PAGES : C_ALLOC_PAGE;
	c.gfp = pick_gfp(in);
	c.order = c.op == C_ALLOC_PAGE ? 0 : pick_order(in);
	long alt;
	long want = expect_alloc(c.gfp, c.order, &alt);
	bool pages_api = c.op != C_ALLOC_INDEX;
	if (pages_api && !base) {
		want = -1; /* index-only: NULL at once, whatever the flags */
	} else if (want == -ENOMEM && c.order <= LAB_MAX_ORDER && !(c.gfp & ~LAB_GFP_ALL)) {
		/* it would fail: never NOFAIL (panic), never a KERNEL wait */
		c.gfp &= ~LAB_GFP_NOFAIL;
		if ((c.gfp & LAB_GFP_KERNEL) && !(c.gfp & (LAB_GFP_ATOMIC | LAB_GFP_NOWAIT)) &&
		    c.order <= M.max_order)
			c.gfp = (k & 0x80) ? c.gfp | LAB_GFP_NOWAIT : c.gfp & ~LAB_GFP_KERNEL;
	}
	fz_opname = who ? "helper alloc" : "alloc";
	lab_owner_t caller = run_call(who, &c);
	long idx;
	if (pages_api) {
		if (!c.rp) {
			EXPECT(want != 0, "alloc gfp %#x order %u returned NULL, model: success",
			       c.gfp, c.order);
			return;
		}
		EXPECT(base, "index-only maze returned an address %p", c.rp);
		uintptr_t p = (uintptr_t)c.rp;
		EXPECT(p >= base && p - base < span && (p - base) % FZ_PS == 0,
		       "alloc returned %p outside the maze or not at a room start", c.rp);
		idx = (long)((p - base) / FZ_PS);
		EXPECT(lab_page_index(maze, c.rp) == idx, "lab_page_index");
		if (M.mode == 0) {
			uintptr_t al = (uintptr_t)FZ_PS << c.order;
			EXPECT((p & (al - 1)) == 0, "order %u block at %p not aligned to %#lx",
			       c.order, c.rp, (unsigned long)al);
		}
	} else {
		idx = c.rc;
		if (idx < 0) {
			EXPECT(want != 0,
			       "lab_alloc_index(gfp %#x, order %u) = %ld, model: success", c.gfp,
			       c.order, idx);
			EXPECT(idx == want || (alt && idx == alt),
			       "lab_alloc_index(gfp %#x, order %u) = %ld, model %ld", c.gfp,
			       c.order, idx, want);
			return;
		}
	}
	EXPECT(want == 0, "alloc gfp %#x order %u got room %ld, model: %ld (free %zu reserve %zu)",
	       c.gfp, c.order, idx, want, M.nfree, M.reserve);
	EXPECT(((size_t)idx & (((size_t)1 << c.order) - 1)) == 0, "order %u at room %ld: unaligned",
	       c.order, idx);
	EXPECT(model_run_free((size_t)idx, c.order),
	       "order %u block at room %ld overlaps rooms the model holds", c.order, idx);
	model_take((size_t)idx, c.order, caller, c.gfp & LAB_GFP_EXCLUSIVE);
	EXPECT(lab_index_owner(maze, (size_t)idx) == caller, "owner of new block %ld: %u, want %u",
	       idx, lab_index_owner(maze, (size_t)idx), caller);
	fill_block((size_t)idx, c.order, c.gfp & LAB_GFP_ZERO);
}

/* A free by `who`; bytes decide whether it is a valid one. */
static void op_free(struct fz_in *in, int who)
{
	struct fz_call c = { 0 };
	unsigned k = in8(in);
	size_t idx = 0;
	int want, alt = 0;
	lab_owner_t caller = who ? helper_tid : self_tid;
	if (k < 96 && M.nheads) {
		/* a held block with its own order: valid unless exclusive to another */
		idx = M.heads[in16(in) % M.nheads];
		c.order = M.r[idx].order;
	} else if (k < 128 && M.nheads) {
		/* a held block with a wrong order */
		idx = M.heads[in16(in) % M.nheads];
		c.order = (M.r[idx].order + 1 + in8(in) % 12) % 13;
	} else {
		idx = pick_index(in);
		c.order = (k & 1) ? pick_order(in) : 0;
	}
	if (k & 2 || (!base && !(k & 16))) {
		c.op = C_FREE_INDEX;
		c.idx = idx;
		want = expect_free_index(idx, c.order, caller, &alt);
	} else {
		/* by address: the block, or another pointer */
		uintptr_t p;
		if (k & 4)
			p = (uintptr_t)pick_ptr(in);
		else
			p = base + (idx > FZ_MAXP + 8 ? FZ_MAXP + 8 : idx) * FZ_PS;
		c.ptr = (void *)p;
		c.op = c.order == 0 && (k & 8) ? C_FREE_PAGE : C_FREE_PAGES;
		want = expect_addr(p, &idx);
		if (!want)
			want = expect_free_index(idx, c.order, caller, &alt);
	}
	if (!base && c.op != C_FREE_INDEX)
		want = -EINVAL;
	if (want == 0)
		check_block(idx, c.order);
	fz_opname = who ? "helper free" : "free";
	run_call(who, &c);
	EXPECT(c.rc == want || (alt && c.rc == alt),
	       "free (%s) of room %zu order %u by %s = %ld, model %d (room state %u)",
	       c.op == C_FREE_INDEX ? "index" : "address", idx, c.order, who ? "helper" : "main",
	       c.rc, want, idx < M.pages ? M.r[idx].state : 9u);
	if (c.rc == 0)
		model_release(idx);
}

static void op_give(struct fz_in *in, int who)
{
	struct fz_call c = { 0 };
	unsigned k = in8(in);
	lab_owner_t caller = who ? helper_tid : self_tid;
	size_t idx = pick_index(in);
	c.to = pick_to(in);
	int want;
	if (k & 1 || (!base && !(k & 4))) {
		c.op = C_GIVE_INDEX;
		c.idx = idx;
		want = expect_give_index(idx, c.to, caller);
	} else {
		uintptr_t p = (k & 2) ? (uintptr_t)pick_ptr(in) :
					base + (idx > FZ_MAXP + 8 ? FZ_MAXP + 8 : idx) * FZ_PS;
		c.op = C_GIVE_PAGE;
		c.ptr = (void *)p;
		want = expect_addr(p, &idx);
		if (!want)
			want = expect_give_index(idx, c.to, caller);
	}
	if (!base && c.op == C_GIVE_PAGE)
		want = -EINVAL;
	fz_opname = who ? "helper give" : "give";
	run_call(who, &c);
	EXPECT(c.rc == want, "give (%s) of room %zu to %u by %s = %ld, model %d",
	       c.op == C_GIVE_INDEX ? "index" : "address", idx, c.to, who ? "helper" : "main", c.rc,
	       want);
	if (c.rc == 0) {
		M.r[idx].owner = c.to;
		EXPECT(lab_index_owner(maze, idx) == c.to, "owner after give: %u, want %u",
		       lab_index_owner(maze, idx), c.to);
	}
}

static void op_query(struct fz_in *in)
{
	fz_opname = "query";
	unsigned k = in8(in);
	if (k < 128) {
		check_room(pick_index(in));
		return;
	}
	/* lab_page_owner and lab_page_index of any pointer */
	uintptr_t p = (uintptr_t)pick_ptr(in);
	lab_owner_t own = lab_page_owner(maze, (void *)p);
	long pi = lab_page_index(maze, (void *)p);
	if (!base || p < base || p - base >= span) {
		EXPECT(own == 0, "lab_page_owner(%p) outside = %u", (void *)p, own);
		EXPECT(pi == -1, "lab_page_index(%p) outside = %ld", (void *)p, pi);
		return;
	}
	size_t idx = (p - base) / FZ_PS;
	EXPECT(pi == (long)idx, "lab_page_index(%p) = %ld, want %zu", (void *)p, pi, idx);
	const struct fz_room *r = &M.r[idx];
	lab_owner_t model = r->state == R_FREE ? 0 : M.r[r->head].owner;
	/* an interior byte: the header does not say; the owner or 0 are accepted */
	EXPECT(own == model || ((p - base) % FZ_PS && own == 0),
	       "lab_page_owner(%p, room %zu) = %u, model %u", (void *)p, idx, own, model);
}

/* Calls on a NULL maze: refused, nothing happens. */
static void op_null(struct fz_in *in)
{
	fz_opname = "null maze";
	lab_gfp_t g = pick_gfp(in);
	unsigned o = pick_order(in);
	EXPECT(lab_alloc_page(NULL, g) == NULL, "lab_alloc_page(NULL)");
	EXPECT(lab_alloc_pages(NULL, g, o) == NULL, "lab_alloc_pages(NULL)");
	EXPECT(lab_alloc_index(NULL, g, o) == -EINVAL, "lab_alloc_index(NULL)");
	void *p = pick_ptr(in);
	EXPECT(lab_free_page(NULL, p) == -EINVAL, "lab_free_page(NULL)");
	EXPECT(lab_free_pages(NULL, p, o) == -EINVAL, "lab_free_pages(NULL)");
	EXPECT(lab_free_index(NULL, 0, o) == -EINVAL, "lab_free_index(NULL)");
	EXPECT(lab_page_give(NULL, p, self_tid) == -EINVAL, "lab_page_give(NULL)");
	EXPECT(lab_index_give(NULL, 0, self_tid) == -EINVAL, "lab_index_give(NULL)");
	EXPECT(lab_page_owner(NULL, p) == 0, "lab_page_owner(NULL)");
	EXPECT(lab_index_owner(NULL, 0) == 0, "lab_index_owner(NULL)");
	EXPECT(lab_page_index(NULL, p) == -1, "lab_page_index(NULL)");
	EXPECT(lab_index_page(NULL, 0) == NULL, "lab_index_page(NULL)");
	struct lab_room ri;
	EXPECT(lab_room_info(NULL, 0, &ri) == -EINVAL, "lab_room_info(NULL)");
	EXPECT(lab_room_info(maze, 0, NULL) == -EINVAL, "lab_room_info(maze, NULL)");
	EXPECT(lab_validate(NULL, NULL, 0) == -EINVAL, "lab_validate(NULL)");
	struct lab_stats st;
	memset(&st, 0xa5, sizeof st);
	lab_stats(NULL, &st);
	EXPECT(st.pages == 0 && st.free == 0, "lab_stats(NULL)");
	lab_stats(maze, NULL);
	lab_drain(NULL);
}

/* ---------------------------------------------------------------- the maze */

static int make_maze(struct fz_in *in)
{
	unsigned a = in8(in), b = in8(in), c = in8(in), d = in8(in);
	size_t pages;
	static const size_t sizes[] = { 1,   2,	   3,	 7,    64,   100,  511,	 512,
					513, 1023, 1024, 1025, 1536, 2047, 2048, 600 };
	switch (a & 3) {
	case 0:
		pages = 1 + b % 16;
		break;
	case 1:
		pages = 1 + ((b | (c << 8)) % FZ_MAXP);
		break;
	case 2:
		pages = sizes[b % (sizeof sizes / sizeof sizes[0])];
		break;
	default:
		pages = 1 + b * 8 % FZ_MAXP;
		break;
	}
	size_t reserve = 0;
	if (a & 4) {
		unsigned r = in16(in);
		reserve = (a & 8) ? r % 8 : r % (pages + 1);
		if (reserve > pages)
			reserve = pages;
	}
	int mode = (a >> 4) % 4 == 3 ? 0 : (a >> 4) % 4; /* 0 twice as often */
	struct lab_config cfg = { 0 };
	cfg.page_size = (a & 0x40) ? 0 : FZ_PS; /* 0 means 4096 */
	cfg.pages = pages;
	cfg.reserve = reserve;
	if (mode == 1)
		cfg.flags = LAB_NO_MEMORY;
	if (mode == 2)
		cfg.memory = fz_callmem;
	if ((a & 0x80) && mode != 1)
		cfg.flags |= LAB_HUGETLB; /* tried, falls back quietly */
	if (d & 1)
		cfg.flags |= LAB_GENERATIONS; /* only struct page handles see it */
	fz_opname = "lab_create";
	int rc = lab_create(&maze, &cfg);
	EXPECT(rc == 0 && maze, "lab_create(pages %zu reserve %zu mode %d flags %#x) = %d", pages,
	       reserve, mode, cfg.flags, rc);
	model_reset(pages, reserve, mode);
	base = (uintptr_t)lab_index_page(maze, 0);
	span = pages * FZ_PS;
	if (mode == 1)
		EXPECT(base == 0, "index-only maze has memory");
	else
		EXPECT(base != 0, "maze without memory");
	if (mode == 2)
		EXPECT(base == (uintptr_t)fz_callmem, "caller memory not used");
	if (mode == 0)
		EXPECT((base & (((uintptr_t)FZ_PS << M.max_order) - 1)) == 0,
		       "base %#lx not aligned to the largest order %zu", (unsigned long)base,
		       M.max_order);
	return 0;
}

/* Free every block its owner may free; exclusive blocks of the fake tid
 * stay allocated. Then the counts, the invariants and every room. */
static void finish(void)
{
	fz_opname = "finish";
	size_t stuck = 0;
	for (size_t i = 0; i < M.nheads;) {
		size_t idx = M.heads[i];
		struct fz_room *r = &M.r[idx];
		int who;
		if (!r->excl || r->owner == self_tid)
			who = 0;
		else if (r->owner == helper_tid)
			who = 1;
		else {
			stuck += (size_t)1 << r->order;
			i++;
			continue;
		}
		check_block(idx, r->order);
		struct fz_call c = { 0 };
		c.op = C_FREE_INDEX;
		c.idx = idx;
		c.order = r->order;
		run_call(who, &c);
		EXPECT(c.rc == 0, "final free of room %zu order %u by %s = %ld", idx, r->order,
		       who ? "helper" : "main", c.rc);
		model_release(idx);
	}
	struct fz_call d = { .op = C_DRAIN };
	run_call(1, &d);
	lab_drain(maze);
	check_stats();
	struct lab_stats st;
	lab_stats(maze, &st);
	EXPECT(st.free == M.pages - stuck,
	       "after freeing everything: free %zu, pages %zu, stuck %zu", st.free, M.pages, stuck);
	EXPECT(st.cached == 0, "both caches drained, %zu rooms still cached", st.cached);
	check_valid();
	check_all_rooms();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	setup_once();
	fz_opno = 0;
	make_maze(&in);
	check_stats();
	check_valid();
	while (in.n && fz_opno < FZ_MAXOPS) {
		fz_opno++;
		unsigned op = in8(&in);
		switch (op % 16) {
		case 0:
		case 1:
		case 2:
		case 3:
			op_alloc(&in, 0);
			break;
		case 4:
		case 5:
		case 6:
			op_free(&in, 0);
			break;
		case 7:
			op_give(&in, 0);
			break;
		case 8:
			op_alloc(&in, 1);
			break;
		case 9:
			op_free(&in, 1);
			break;
		case 10:
			op_give(&in, 1);
			break;
		case 11:
		case 12:
			op_query(&in);
			break;
		case 13: {
			fz_opname = "drain";
			struct fz_call d = { .op = C_DRAIN };
			run_call(op & 0x10 ? 1 : 0, &d);
			break;
		}
		case 14:
			fz_opname = "validate";
			check_valid();
			break;
		default:
			op_null(&in);
			break;
		}
		check_stats();
		if (fz_opno % FZ_VALIDATE_EVERY == 0)
			check_valid();
	}
	finish();
	lab_destroy(maze);
	maze = NULL;
	return 0;
}

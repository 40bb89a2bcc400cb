/* SPDX-License-Identifier: MIT */
/* The core's entry points: layout, alloc, free, owner, give. */
#include "cache.h"
#include "rows.h"

static uint64_t align64(uint64_t x)
{
	return (x + 63) & ~(uint64_t)63;
}

struct layout {
	uint64_t nrows, ngroups, nsum0, nsum1, groups, summary, rows, bits, owners, slots, total;
};

static bool layout_of(uint64_t pages, struct layout *l)
{
	if (pages == 0 || pages > LAB_MAX_ROOMS)
		return false;
	l->nrows = (pages + LAB_ROW_ROOMS - 1) >> LAB_ROW_SHIFT;
	l->ngroups = (l->nrows + LAB_GROUP_ROWS - 1) >> LAB_GROUP_SHIFT;
	l->nsum1 = (l->ngroups + 63) / 64;
	l->nsum0 = (l->nsum1 + 63) / 64;
	l->groups = align64(sizeof(struct lab_meta));
	l->summary = align64(l->groups + l->ngroups * sizeof(struct lab_group));
	/* a group's 32 row entries fill two whole lines of their own */
	l->rows = (l->summary + 2 * 8 * (l->nsum0 + l->nsum1) + 127) & ~(uint64_t)127;
	l->bits = align64(l->rows + l->nrows * 4);
	l->owners = align64(l->bits + l->nrows * (LAB_ROW_ROOMS / 8));
	l->slots = align64(l->owners + pages * 4);
	l->total = align64(l->slots + (uint64_t)LAB_SLOTS * sizeof(struct lab_slot));
	return true;
}

size_t lab_core_meta_size(uint64_t pages)
{
	struct layout l;
	if (!layout_of(pages, &l) || l.total > (uint64_t)SIZE_MAX)
		return 0;
	return (size_t)l.total;
}

void lab_core_layout(struct lab_meta *m, uint64_t pages, unsigned page_shift, uint64_t reserve)
{
	struct layout l;
	if (!layout_of(pages, &l))
		return; /* the caller sized the region with lab_core_meta_size */
	m->version = LAB_META_VERSION;
	m->page_shift = page_shift;
	m->pages = pages;
	m->reserve = reserve;
	m->nrows = (uint32_t)l.nrows;
	m->ngroups = (uint32_t)l.ngroups;
	m->nslots = LAB_SLOTS;
	unsigned mo = 0;
	while (mo < LAB_MAX_ORDER_CORE && (2ull << mo) <= pages)
		mo++;
	m->max_order = mo;
	m->nsum0 = (uint32_t)l.nsum0;
	m->nsum1 = (uint32_t)l.nsum1;
	m->off_summary = l.summary;
	m->off_groups = l.groups;
	m->off_rows = l.rows;
	m->off_bits = l.bits;
	m->off_owners = l.owners;
	m->off_slots = l.slots;
	m->total_bytes = l.total;
}

void lab_core_format(void *region, uint64_t pages, unsigned page_shift, uint64_t reserve)
{
	if (!lab_core_meta_size(pages))
		return; /* the caller sized the region with lab_core_meta_size */
	struct lab_meta *m = region;
	lab_core_layout(m, pages, page_shift, reserve);
	struct lab_view v;
	lab_core_view(&v, region);
	for (uint32_t r = 0; r < v.nrows; r++) {
		uint32_t cap = (uint32_t)lab_row_capacity(&v, r);
		lab_store_relaxed(&v.rows[r], cap);
		lab_add_relaxed(&v.groups[r >> LAB_GROUP_SHIFT].free, cap);
		/* rooms past the end are set for good, so they are never claimed */
		for (uint32_t b = cap; b < LAB_ROW_ROOMS; b++) {
			lab_a64 *w = &v.bits[((uint64_t)r * LAB_ROW_ROOMS + b) >> 6];
			lab_store_relaxed(w, lab_load_relaxed(w) | (1ull << (b & 63)));
		}
	}
	lab_store_relaxed(&m->nfree, pages);
	lab_summary_rebuild(&v);
	/* the magic last: a reader that sees it sees a formatted maze */
	lab_fence_release();
	m->magic = LAB_META_MAGIC;
}

void lab_core_view(struct lab_view *v, void *region)
{
	struct lab_meta *m = region;
	char *base = region;
	v->m = m;
	v->groups = (struct lab_group *)(void *)(base + m->off_groups);
	v->sum_partial = (lab_a64 *)(void *)(base + m->off_summary);
	v->sum_free = v->sum_partial + m->nsum0 + m->nsum1;
	v->nsum0 = m->nsum0;
	v->nsum1 = m->nsum1;
	v->rows = (lab_a32 *)(void *)(base + m->off_rows);
	v->bits = (lab_a64 *)(void *)(base + m->off_bits);
	v->owners = (lab_a32 *)(void *)(base + m->off_owners);
	v->slots = (struct lab_slot *)(void *)(base + m->off_slots);
	v->pages = m->pages;
	v->reserve = m->reserve;
	v->track_nfree = m->reserve > 0;
	v->nrows = m->nrows;
	v->ngroups = m->ngroups;
	v->nslots = m->nslots;
	v->max_order = m->max_order;
	v->heavy_barrier = 0; /* the hosted layer sets it */
}

uint64_t lab_core_nfree(const struct lab_view *v)
{
	uint64_t sum = lab_load_relaxed(&v->m->nfree);
	for (uint32_t s = 0; s < v->nslots; s++)
		sum += lab_load_relaxed(&v->slots[s].nfree_delta);
	return sum;
}

/* NOWAIT and KERNEL see the maze as full once only `reserve` rooms are
 * left. Exact when quiescent; under concurrency within the rooms that are
 * in flight. */
static bool reserve_allows(const struct lab_view *v, uint64_t n)
{
	uint64_t want = v->reserve + n;
	/* relaxed adds and subtracts may land out of order: below zero
	 * (wrapped) means "about nothing left". Each slot's delta is within
	 * LAB_NFREE_FOLD of 0: far from the reserve, nfree alone decides. */
	uint64_t slack = (uint64_t)v->nslots * LAB_NFREE_FOLD;
	int64_t raw = (int64_t)lab_load_relaxed(&v->m->nfree);
	if (LAB_LIKELY(raw > 0 && (uint64_t)raw >= want + slack))
		return true;
	raw = (int64_t)lab_core_nfree(v);
	uint64_t nfree = raw > 0 ? (uint64_t)raw : 0;
	return nfree + lab_core_cached(v) >= want;
}

long lab_core_alloc(const struct lab_view *v, int slot, unsigned order, bool may_reserve,
		    uint32_t ow)
{
	if (!may_reserve && v->reserve && !reserve_allows(v, 1ull << order))
		return -LAB_ENOMEM;
	if (slot >= 0 && order == 0) {
		long idx = lab_fast_alloc0(v, slot, ow);
		if (idx >= 0)
			return idx;
	}
	return lab_core_alloc_uncached(v, slot, order, ow);
}

long lab_core_alloc_uncached(const struct lab_view *v, int slot, unsigned order, uint32_t ow)
{
	uint32_t hint;
	if (slot >= 0)
		hint = lab_load_relaxed(order ? &v->slots[slot].hint_big : &v->slots[slot].hint);
	else
		hint = (uint32_t)(((ow & LAB_OW_TID) * 2654435761u) % v->nrows);
	/* after a refill that found nothing the bitfield is searched once more:
	 * rooms a drain or a free put back meanwhile are reached without a
	 * sweep, and a steal that finds every cache busy gets one more chance */
	long idx = lab_rows_alloc(v, slot, order, hint, ow);
	if (idx >= 0) {
		if (slot >= 0 && order)
			lab_store_relaxed(&v->slots[slot].hint_big,
					  (uint32_t)(idx >> LAB_ROW_SHIFT));
		return idx;
	}
	/* exhaustion at the bitfield level: frees now bypass the caches, and
	 * the rooms parked in caches are reached by one sweep */
	if (order == 0) {
		if (!lab_load_relaxed(&v->m->scarce))
			lab_store_relaxed(&v->m->scarce, 1);
		return lab_cache_steal(v, ow);
	}
	if (lab_cache_flush_all(v))
		idx = lab_rows_alloc(v, slot, order, hint, ow);
	return idx >= 0 ? idx : -LAB_ENOMEM;
}

/* Is idx inside (not at the start of) an allocated block? */
static bool inside_block(const struct lab_view *v, uint64_t idx)
{
	for (unsigned o = 1; o <= LAB_MAX_ORDER_CORE; o++) {
		uint64_t h = idx & ~((1ull << o) - 1);
		if (h == idx)
			continue;
		uint32_t ow = lab_load_acquire(&v->owners[h]);
		if (lab_ow_allocated(ow) && lab_ow_order(ow) >= o)
			return true;
	}
	return false;
}

/* The free errors in their documented order; order < 0 skips its check. */
static int free_error(const struct lab_view *v, uint64_t idx, uint32_t ow, uint32_t caller,
		      int order)
{
	if (!lab_ow_allocated(ow))
		return inside_block(v, idx) ? -LAB_EINVAL : -LAB_ENOENT;
	if (order >= 0 && lab_ow_order(ow) != (unsigned)order)
		return -LAB_EINVAL;
	if ((ow & LAB_OW_EXCL) && (ow & LAB_OW_KEY) != (caller & LAB_OW_KEY))
		return -LAB_EPERM;
	return 0;
}

/* A signal handler on a thread whose cache is busy must not free or give
 * the room that the interrupted code is freeing: that free wins. */
static bool freeing_below(const struct lab_view *v, int slot, uint64_t idx)
{
	if (slot < 0)
		return false;
	const struct lab_slot *s = &v->slots[slot];
	return lab_load_relaxed(&s->busy) && lab_load_relaxed(&s->freeing) == idx + 1;
}

/* Free through the bitfield: the owner-word CAS decides between racing
 * frees and gives; its release publishes the page's data. */
static int free_direct(const struct lab_view *v, uint64_t idx, unsigned order, uint32_t caller)
{
	uint32_t ow = lab_load_acquire(&v->owners[idx]);
	for (;;) {
		int err = free_error(v, idx, ow, caller, (int)order);
		if (err)
			return err;
		if (lab_cas_strong_acq_rel(&v->owners[idx], &ow, 0))
			break;
	}
	LAB_YIELD(); /* owner word free, bits still set */
	lab_rows_free(v, idx, order);
	/* while rooms are scarce frees come here; a group with two batches
	 * free again (or half a tiny maze) means refills can be served: the
	 * caches may take frees */
	if (LAB_UNLIKELY(lab_load_relaxed(&v->m->scarce))) {
		uint64_t enough =
			v->pages / 2 < 2 * LAB_CACHE_BATCH ? v->pages / 2 + 1 : 2 * LAB_CACHE_BATCH;
		if (lab_load_relaxed(&v->groups[idx >> (LAB_ROW_SHIFT + LAB_GROUP_SHIFT)].free) >=
		    enough)
			lab_store_relaxed(&v->m->scarce, 0);
	}
	return 0;
}

/* The free for when the thread cache cannot take the room: the bitfield. */
int lab_core_free_uncached(const struct lab_view *v, int slot, uint64_t idx, unsigned order,
			   uint32_t caller)
{
	if (freeing_below(v, slot, idx))
		return -LAB_ENOENT;
	return free_direct(v, idx, order, caller);
}

int lab_core_free(const struct lab_view *v, int slot, uint64_t idx, unsigned order, uint32_t caller)
{
	if (idx >= v->pages)
		return -LAB_EFAULT;
	if (order == 0 && slot >= 0 && !lab_fast_free0(v, slot, idx, caller))
		return 0;
	/* the cache cannot take it now, or the word is not ours to free:
	 * the direct path frees it or names the error */
	return lab_core_free_uncached(v, slot, idx, order, caller);
}

uint32_t lab_core_block(const struct lab_view *v, uint64_t idx, uint64_t *head)
{
	*head = idx;
	if (idx >= v->pages)
		return 0;
	for (unsigned o = 0; o <= LAB_MAX_ORDER_CORE; o++) {
		uint64_t h = idx & ~((1ull << o) - 1);
		if (o && h == idx)
			continue;
		uint32_t ow = lab_load_acquire(&v->owners[h]);
		if (lab_ow_allocated(ow) && lab_ow_order(ow) >= o) {
			*head = h;
			return ow;
		}
		if (o == 0 && ow != 0)
			return ow; /* cached: free */
	}
	return 0;
}

int lab_core_give(const struct lab_view *v, int slot, uint64_t idx, uint32_t caller, uint32_t to)
{
	if (idx >= v->pages)
		return -LAB_EFAULT;
	if ((to & LAB_OW_TID) == 0 || (to & ~LAB_OW_KEY))
		return -LAB_EINVAL;
	if (freeing_below(v, slot, idx))
		return -LAB_ENOENT;
	uint32_t ow = lab_load_acquire(&v->owners[idx]);
	for (;;) {
		int err = free_error(v, idx, ow, caller, -1);
		if (err)
			return err;
		uint32_t nw = (ow & ~LAB_OW_KEY) | to;
		/* release: the receiver's free (acquire) sees the giver's writes */
		if (lab_cas_strong_acq_rel(&v->owners[idx], &ow, nw))
			return 0;
	}
}

int lab_core_adopt(const struct lab_view *v, uint64_t idx, uint32_t ow, uint32_t key)
{
	uint32_t e = ow;
	if (lab_cas_strong_acq_rel(&v->owners[idx], &e, (ow & ~LAB_OW_KEY) | (key & LAB_OW_KEY)))
		return 0;
	return lab_ow_allocated(e) ? -LAB_EPERM : -LAB_ENOENT;
}

int lab_core_free_exact(const struct lab_view *v, uint64_t idx, uint32_t ow)
{
	uint32_t e = ow;
	if (!lab_ow_allocated(ow) || !lab_cas_strong_acq_rel(&v->owners[idx], &e, 0))
		return -LAB_ENOENT;
	lab_rows_free(v, idx, lab_ow_order(ow));
	return 0;
}

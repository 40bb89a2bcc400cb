/* SPDX-License-Identifier: MIT */
/* The freestanding core: rooms by index, no libc, no OS.
 * The hosted layer (src/) adds memory, thread ids, waiting and panics. */
#ifndef LAB_CORE_H
#define LAB_CORE_H

#include "meta.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux errno values; the hosted layer checks they match <errno.h>. */
#define LAB_EPERM 1
#define LAB_ENOENT 2
#define LAB_ENOMEM 12
#define LAB_EFAULT 14
#define LAB_EINVAL 22
#define LAB_EOVERFLOW 75
#define LAB_EUCLEAN 117

/* Layout: bytes of metadata for `pages` rooms (0 if too many). */
LAB_HIDDEN size_t lab_core_meta_size(uint64_t pages);
/* Format a zero-filled region of lab_core_meta_size(pages) bytes. */
LAB_HIDDEN void lab_core_format(void *region, uint64_t pages, unsigned page_shift,
				uint64_t reserve);
LAB_HIDDEN void lab_core_view(struct lab_view *v, void *region);

/* Allocate 2^order rooms for owner word `ow`. slot: the caller's cache, or
 * -1. may_reserve: the caller may dip into the reserve (ATOMIC).
 * Index, or -LAB_ENOMEM. Lock-free; never waits. */
LAB_HIDDEN long lab_core_alloc(const struct lab_view *v, int slot, unsigned order, bool may_reserve,
			       uint32_t ow);
/* The rest of lab_core_alloc after the caller's own cache, for a caller
 * that tried lab_fast_alloc0 itself: the bitfield, then the other caches.
 * The reserve check is the caller's. */
LAB_HIDDEN long lab_core_alloc_uncached(const struct lab_view *v, int slot, unsigned order,
					uint32_t ow);
/* The rest of lab_core_free after lab_fast_free0 returned 1: the bitfield,
 * with every error in its documented order. */
LAB_HIDDEN int lab_core_free_uncached(const struct lab_view *v, int slot, uint64_t idx,
				      unsigned order, uint32_t caller);
/* Free the block at idx. caller: the freeing thread's owner key. 0 or -errno in
 * the documented order; nothing changes on error. */
LAB_HIDDEN int lab_core_free(const struct lab_view *v, int slot, uint64_t idx, unsigned order,
			     uint32_t caller);
/* The owner word of the block holding idx (0 if free); *head gets the
 * block's first room (idx itself when free). */
LAB_HIDDEN uint32_t lab_core_block(const struct lab_view *v, uint64_t idx, uint64_t *head);
static inline uint32_t lab_core_owner(const struct lab_view *v, uint64_t idx)
{
	uint64_t h;
	return lab_core_block(v, idx, &h);
}
/* Give the block at idx from owner key caller to owner key to. */
LAB_HIDDEN int lab_core_give(const struct lab_view *v, int slot, uint64_t idx, uint32_t caller,
			     uint32_t to);

/* Free the block at idx only if its owner word is still exactly ow (a
 * reaper's free: a block freed and allocated again since it looked is
 * somebody else's). 0 or -LAB_ENOENT. */
LAB_HIDDEN int lab_core_free_exact(const struct lab_view *v, uint64_t idx, uint32_t ow);
/* Make key the owner of the block at idx whose owner word is still ow (its
 * owner is gone): 0, or -LAB_EPERM / -LAB_ENOENT if the word changed. */
LAB_HIDDEN int lab_core_adopt(const struct lab_view *v, uint64_t idx, uint32_t ow, uint32_t key);

/* Thread caches. */
LAB_HIDDEN int lab_core_slot_claim(const struct lab_view *v, uint32_t key, uint32_t seed);
/* Drain the slot and give it up; false (slot kept) if a stealer held it at
 * that moment: call again. */
LAB_HIDDEN bool lab_core_slot_release(const struct lab_view *v, int slot, uint32_t key);
LAB_HIDDEN void lab_core_drain(const struct lab_view *v, int slot);
/* A dead owner's slot (key still key): lock it without a barrier (nobody
 * uses it) so that its rooms can be taken back one by one; false if a
 * stealer holds it. Then reset: empty, unlocked, unowned. The rooms with
 * owner word CACHED|slot are the caller's to return (lab_rows_free). */
LAB_HIDDEN bool lab_core_slot_seize(const struct lab_view *v, int slot, uint32_t key);
LAB_HIDDEN void lab_core_slot_reset(const struct lab_view *v, int slot, uint32_t key);
LAB_HIDDEN uint64_t lab_core_cached(const struct lab_view *v);
/* Mark every unreserved group in the summaries for the rows it holds: a
 * thread killed between a row change and its mark left the mark out.
 * Safe while the maze is in use (marks are hints); O(rows). */
LAB_HIDDEN void lab_core_republish(const struct lab_view *v);

struct lab_core_stats {
	uint64_t free, cached, huge_free, meta_bytes;
	uint64_t meta_fixed; /* of meta_bytes, what does not grow with rooms */
};
LAB_HIDDEN void lab_core_stats(const struct lab_view *v, struct lab_core_stats *out);
LAB_HIDDEN int lab_core_validate(const struct lab_view *v, char *why, size_t whylen);
/* Write "what at WHERE[more VAL]" to why (if any; no libc) and return
 * -LAB_EUCLEAN: the reason of validate's and recovery's refusals. */
LAB_HIDDEN int lab_core_fail(char *why, size_t whylen, const char *what, uint64_t where,
			     const char *more, uint64_t val);

/* Recovery (recover.c), on a maze no thread uses. dead(ctx, key): whether
 * owner key's thread is gone; keep: leave the dead's blocks allocated. */
struct lab_recover_ops {
	bool (*dead)(void *ctx, uint32_t key);
	void *ctx;
	bool keep;
};
struct lab_core_recovery {
	uint64_t reclaimed, kept, kept_blocks, inflight, cached, caches, rows_fixed;
};
/* The read-only first pass alone: 0, or -LAB_EUCLEAN with a reason. */
LAB_HIDDEN int lab_core_recover_check(const struct lab_view *v, char *why, size_t whylen);
/* 0, or -LAB_EUCLEAN with a reason and nothing written. */
LAB_HIDDEN int lab_core_recover(const struct lab_view *v, const struct lab_recover_ops *ops,
				struct lab_core_recovery *out, char *why, size_t whylen);
/* Fill a header with the layout format gives (no arrays touched). */
LAB_HIDDEN void lab_core_layout(struct lab_meta *m, uint64_t pages, unsigned page_shift,
				uint64_t reserve);
/* Whether the metadata header at region (len bytes) is exactly what format
 * writes for these parameters: 0 or -LAB_EUCLEAN. Reads the header only. */
LAB_HIDDEN int lab_core_meta_check(const void *region, uint64_t len, uint64_t pages,
				   unsigned page_shift, uint64_t reserve);

/* Internal to the core (rows.c, search.c, cache.c). */
LAB_HIDDEN long lab_rows_alloc(const struct lab_view *v, int slot, unsigned order, uint32_t hint,
			       uint32_t ow);
LAB_HIDDEN void lab_rows_free(const struct lab_view *v, uint64_t idx, unsigned order);
LAB_HIDDEN void lab_rows_free_batch(const struct lab_view *v, int slot, uint32_t *idx, unsigned n);
/* nfree with every slot's delta: exact once no operation is in flight. */
LAB_HIDDEN uint64_t lab_core_nfree(const struct lab_view *v);
/* A cache refill for slot: up to want order-0 rooms from one row. */
LAB_HIDDEN unsigned lab_rows_take(const struct lab_view *v, uint32_t slot, unsigned want,
				  uint32_t *out);
LAB_HIDDEN long lab_cache_steal(const struct lab_view *v, uint32_t ow);
LAB_HIDDEN uint64_t lab_cache_flush_all(const struct lab_view *v);
LAB_HIDDEN bool lab_cache_refill(const struct lab_view *v, struct lab_slot *s, uint32_t slot);
LAB_HIDDEN void lab_cache_drain_n(const struct lab_view *v, struct lab_slot *s, uint32_t slot,
				  unsigned n);

static inline uint64_t lab_row_capacity(const struct lab_view *v, uint32_t row)
{
	uint64_t first = (uint64_t)row << LAB_ROW_SHIFT;
	uint64_t left = v->pages - first;
	return left < LAB_ROW_ROOMS ? left : LAB_ROW_ROOMS;
}

#endif

/* SPDX-License-Identifier: MIT */
/* The owner's side of a thread cache: enter, pop, push, leave. No atomic
 * read-modify-write: see struct lab_slot for the protocol. */
#ifndef LAB_CORE_CACHE_H
#define LAB_CORE_CACHE_H

#include "core.h"

/* Enter the owner's critical section; false if the cache must be bypassed
 * (a signal handler re-entered this thread's cache, or a stealer holds it). */
LAB_INLINE bool lab_cache_enter(const struct lab_view *v, struct lab_slot *s)
{
	if (LAB_UNLIKELY(lab_load_relaxed(&s->busy)))
		return false;
	lab_store_relaxed(&s->busy, 1);
	LAB_YIELD(); /* busy announced, lock not yet read */
	if (LAB_LIKELY(v->heavy_barrier))
		lab_signal_fence(); /* the stealer's membarrier completes it */
	else
		lab_fence_seq_cst();
	if (LAB_UNLIKELY(lab_load_acquire(&s->lock))) {
		lab_store_release(&s->busy, 0);
		return false;
	}
	return true;
}

/* Leave it: release publishes ent[] and top to the next stealer. */
LAB_INLINE void lab_cache_leave(struct lab_slot *s)
{
	lab_signal_fence();
	lab_store_release(&s->busy, 0);
}

/* Pop a cached room and hand it to ow; -1 when the cache is empty. */
LAB_INLINE long lab_cache_pop(const struct lab_view *v, struct lab_slot *s, uint32_t ow)
{
	uint32_t top = lab_load_relaxed(&s->top);
	if (LAB_UNLIKELY(!top))
		return -1;
	uint32_t e = lab_load_relaxed(&s->ent[top - 1]);
	lab_store_relaxed(&s->top, top - 1);
	/* release: whoever later frees or steals it sees our writes */
	lab_store_release(&v->owners[e], ow);
	return (long)e;
}

/* The common cases, inlined into the public calls: an order-0 room from
 * or to the caller's own cache, with the refill or drain of a miss inside
 * the same critical section. Alloc returns -1 when the cache cannot be
 * used or its refill found nothing; free
 * returns 0, or 1 when lab_core_free_uncached must decide (re-entry, a
 * stealer, scarce rooms, an error). */
LAB_INLINE long lab_fast_alloc0(const struct lab_view *v, int slot, uint32_t ow)
{
	struct lab_slot *s = &v->slots[slot];
	if (LAB_UNLIKELY(!lab_cache_enter(v, s)))
		return -1;
	long idx = lab_cache_pop(v, s, ow);
	if (LAB_UNLIKELY(idx < 0))
		idx = lab_cache_refill(v, s, (uint32_t)slot) ? lab_cache_pop(v, s, ow) : -1;
	lab_cache_leave(s);
	return idx;
}

LAB_INLINE int lab_fast_free0(const struct lab_view *v, int slot, uint64_t idx, uint32_t caller)
{
	struct lab_slot *s = &v->slots[slot];
	if (LAB_UNLIKELY(lab_load_relaxed(&v->m->scarce))) /* to the bitfield: see lab_meta */
		return 1;
	if (LAB_UNLIKELY(!lab_cache_enter(v, s)))
		return 1;
	uint32_t top = lab_load_relaxed(&s->top);
	if (LAB_UNLIKELY(top == LAB_CACHE_CAP)) {
		lab_cache_drain_n(v, s, (uint32_t)slot, LAB_CACHE_BATCH);
		top = lab_load_relaxed(&s->top);
	}
	lab_store_relaxed(&s->freeing, (uint32_t)idx + 1);
	lab_signal_fence();
	uint32_t to = LAB_OW_CACHED | (uint32_t)slot;
	uint32_t ow = lab_load_acquire(&v->owners[idx]);
	LAB_YIELD(); /* owner word read, not yet written */
	int r = 1;   /* any other word: the general path finds the error */
	for (;;) {
		if (LAB_LIKELY(ow == (caller | LAB_OW_EXCL))) {
			/* our own exclusive room: no other thread writes its word
			 * (they get -EPERM), and `freeing` stops a handler here */
			lab_store_release(&v->owners[idx], to);
			r = 0;
			break;
		}
		if (ow && !(ow & (LAB_OW_CACHED | LAB_OW_ORDER | LAB_OW_EXCL))) {
			/* a shared room: any thread may free it, the CAS decides;
			 * on failure ow holds the new word: look again */
			if (lab_cas_strong_acq_rel(&v->owners[idx], &ow, to)) {
				r = 0;
				break;
			}
			continue;
		}
		break;
	}
	if (LAB_LIKELY(!r)) {
		lab_store_relaxed(&s->ent[top], (uint32_t)idx);
		lab_store_relaxed(&s->top, top + 1);
	}
	lab_store_relaxed(&s->freeing, 0);
	lab_cache_leave(s);
	return r;
}

#endif

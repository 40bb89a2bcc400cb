/* SPDX-License-Identifier: MIT */
/* Thread caches (slots): claim, refill, drain, steal.
 *
 * Ownership: a room in slot s's ent[0..top) has owner word CACHED|s and its
 * bit set; it is free from the user's point of view. Only the slot's owner
 * (inside lab_cache_enter/leave) or a stealer holding s->lock moves rooms in
 * or out; struct lab_slot explains why the two never overlap.
 */
#include "cache.h"
#include "rows.h"

int lab_core_slot_claim(const struct lab_view *v, uint32_t key, uint32_t seed)
{
	for (uint32_t i = 0; i < v->nslots; i++) {
		uint32_t s = (seed + i) % v->nslots;
		uint32_t k = 0;
		if (lab_load_relaxed(&v->slots[s].key) != 0)
			continue;
		if (lab_cas_strong_acquire(&v->slots[s].key, &k, key)) {
			lab_store_relaxed(&v->slots[s].hint, lab_slot_home(v, s)
								     << LAB_GROUP_SHIFT);
			return (int)s;
		}
	}
	return -1;
}

/* Enter the owner's critical section, waiting for a stealer that holds the
 * lock instead of going around the cache: a stealer never waits for the
 * owner (it sees busy after its barrier and lets go), so this ends, and a
 * stealer that finished before busy was set has let go too. Bounded, for a
 * stealer that died holding the lock. For a thread giving its slot back,
 * where sweeps by other threads at exhaustion would otherwise make every
 * try step aside. */
static bool cache_enter_waiting(const struct lab_view *v, struct lab_slot *s)
{
	if (lab_load_relaxed(&s->busy))
		return false; /* a handler inside the owner's own section */
	lab_store_relaxed(&s->busy, 1);
	if (v->heavy_barrier)
		lab_signal_fence(); /* the stealer's barrier completes it */
	else
		lab_fence_seq_cst();
	for (uint32_t spin = 0; lab_load_acquire(&s->lock); spin++) {
		if (spin == (1u << 24)) {
			lab_store_release(&s->busy, 0);
			return false;
		}
	}
	return true;
}

bool lab_core_slot_release(const struct lab_view *v, int slot, uint32_t key)
{
	struct lab_slot *s = &v->slots[slot];
	if (cache_enter_waiting(v, s)) {
		lab_cache_drain_n(v, s, (uint32_t)slot, LAB_CACHE_CAP);
		lab_cache_leave(s);
	}
	/* the group goes back even if the slot must be kept a while */
	lab_group_release(v, (uint32_t)slot);
	/* a stealer holding the lock made the drain step aside: keep the slot */
	if (lab_load_acquire(&s->top))
		return false;
	uint32_t k = key;
	lab_cas_strong_release(&s->key, &k, 0);
	return true;
}

bool lab_cache_refill(const struct lab_view *v, struct lab_slot *s, uint32_t slot)
{
	uint32_t want = LAB_CACHE_BATCH;
	/* near exhaustion take less, so that caches do not hoard the rooms the
	 * reserve accounting or other threads need (stealing covers the rest) */
	if (v->track_nfree) {
		uint64_t nfree = lab_load_relaxed(&v->m->nfree); /* within the deltas */
		if (nfree < (uint64_t)LAB_CACHE_BATCH * v->nslots * 2)
			want = (uint32_t)(nfree / (2 * v->nslots)) + 1;
	}
	uint32_t got[LAB_CACHE_BATCH];
	unsigned k = lab_rows_take(v, slot, want, got);
	if (!k)
		return false;
	if (k == LAB_CACHE_BATCH && LAB_UNLIKELY(lab_load_relaxed(&v->m->scarce)))
		lab_store_relaxed(&v->m->scarce, 0); /* rooms are plentiful again */
	uint32_t cached = LAB_OW_CACHED | slot;
	uint32_t top = lab_load_relaxed(&s->top);
	/* pop hands out ent[top-1] first: store so that the lowest index goes
	 * first, which keeps blocks of neighbours together */
	for (unsigned i = 0; i < k; i++) {
		lab_store_relaxed(&v->owners[got[i]], cached);
		lab_store_relaxed(&s->ent[top + k - 1 - i], got[i]);
	}
	lab_store_relaxed(&s->top, top + k);
	return true;
}

/* Move up to n of the oldest entries back to the bitfield. Called by the
 * owner inside its critical section, or by a stealer holding the lock. */
void lab_cache_drain_n(const struct lab_view *v, struct lab_slot *s, uint32_t slot, unsigned n)
{
	uint32_t top = lab_load_relaxed(&s->top);
	if (n > top)
		n = top;
	uint32_t freed[LAB_CACHE_CAP];
	for (unsigned i = 0; i < n; i++) {
		uint32_t e = lab_load_relaxed(&s->ent[i]);
		lab_store_relaxed(&v->owners[e], 0);
		freed[i] = e;
	}
	for (unsigned i = n; i < top; i++)
		lab_store_relaxed(&s->ent[i - n], lab_load_relaxed(&s->ent[i]));
	lab_store_relaxed(&s->top, top - n);
	/* the bits' release publishes the owner words' reset */
	lab_rows_free_batch(v, (int)slot, freed, n);
}

void lab_core_drain(const struct lab_view *v, int slot)
{
	struct lab_slot *s = &v->slots[slot];
	if (!lab_cache_enter(v, s))
		return;
	lab_cache_drain_n(v, s, (uint32_t)slot, LAB_CACHE_CAP);
	lab_cache_leave(s);
}

/* A sweep over other threads' caches: lock every slot that holds rooms,
 * then one heavy barrier for all of them, then keep those whose owner is
 * not inside (busy read after the barrier). locked[] gets the slots kept;
 * the number kept. */
static unsigned sweep_lock(const struct lab_view *v, uint32_t *locked)
{
	unsigned n = 0;
	for (uint32_t sl = 0; sl < v->nslots; sl++) {
		struct lab_slot *s = &v->slots[sl];
		uint32_t z = 0;
		if (!lab_load_relaxed(&s->top) || lab_load_relaxed(&s->lock) ||
		    !lab_cas_strong_acquire(&s->lock, &z, 1))
			continue;
		locked[n++] = sl;
	}
	if (!n)
		return 0;
	LAB_YIELD(); /* locked, owners not yet fenced */
	if (v->heavy_barrier) {
		/* a failed barrier leaves the owners' side unordered: give up */
		if (v->heavy_barrier() != 0) {
			for (unsigned i = 0; i < n; i++)
				lab_store_release(&v->slots[locked[i]].lock, 0);
			return 0;
		}
	} else {
		lab_fence_seq_cst();
	}
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++) {
		struct lab_slot *s = &v->slots[locked[i]];
		if (lab_load_acquire(&s->busy))
			lab_store_release(&s->lock, 0);
		else
			locked[kept++] = locked[i];
	}
	return kept;
}

/* Take one cached room from any slot for owner word ow; -ENOMEM if none.
 * The acquire on busy in sweep_lock() orders us after the owner's last use. */
long lab_cache_steal(const struct lab_view *v, uint32_t ow)
{
	uint32_t locked[LAB_SLOTS];
	unsigned n = sweep_lock(v, locked);
	long got = -LAB_ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct lab_slot *s = &v->slots[locked[i]];
		uint32_t top = lab_load_relaxed(&s->top);
		if (got < 0 && top) {
			uint32_t e = lab_load_relaxed(&s->ent[top - 1]);
			lab_store_relaxed(&s->top, top - 1);
			lab_store_release(&v->owners[e], ow);
			got = (long)e;
		}
		lab_store_release(&s->lock, 0);
	}
	return got;
}

/* Return every cached room of every slot to the bitfield, so that a block
 * of a higher order can form. Rooms flushed. */
uint64_t lab_cache_flush_all(const struct lab_view *v)
{
	uint32_t locked[LAB_SLOTS];
	unsigned n = sweep_lock(v, locked);
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		struct lab_slot *s = &v->slots[locked[i]];
		uint32_t top = lab_load_relaxed(&s->top);
		lab_cache_drain_n(v, s, locked[i], top);
		total += top;
		lab_store_release(&s->lock, 0);
	}
	return total;
}

uint64_t lab_core_cached(const struct lab_view *v)
{
	uint64_t sum = 0;
	for (uint32_t sl = 0; sl < v->nslots; sl++)
		sum += lab_load_relaxed(&v->slots[sl].top);
	return sum;
}

bool lab_core_slot_seize(const struct lab_view *v, int slot, uint32_t key)
{
	struct lab_slot *s = &v->slots[slot];
	uint32_t z = 0;
	if (!lab_cas_strong_acquire(&s->lock, &z, 1))
		return false;
	if (lab_load_relaxed(&s->key) != key) {
		lab_store_release(&s->lock, 0);
		return false;
	}
	return true;
}

void lab_core_slot_reset(const struct lab_view *v, int slot, uint32_t key)
{
	struct lab_slot *s = &v->slots[slot];
	lab_store_relaxed(&s->top, 0);
	lab_store_relaxed(&s->busy, 0);
	lab_store_relaxed(&s->freeing, 0);
	lab_group_release(v, (uint32_t)slot);
	uint32_t k = key;
	lab_cas_strong_release(&s->key, &k, 0);
	lab_store_release(&s->lock, 0);
}

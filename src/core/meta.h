/* SPDX-License-Identifier: MIT */
/* The maze's metadata: one position-independent region (offsets, never
 * pointers) so that it can later live in shared memory or in a file.
 *
 * Levels, from the truth upwards:
 *   owner words  one 32-bit word per room: who holds it (the user's view)
 *   bitfield     one bit per room, 512 bits (one cache line) per row
 *   rows         one 32-bit entry per row: free count (10 bits) + HUGE flag
 *   groups       32 rows each, one cache line: free count and the slot
 *                that reserved the group (its owner refills there alone)
 *   summaries    two bitmaps of groups, with a top level over their words:
 *                unreserved groups that may hold a partly used row, and
 *                those that may hold a whole free row (search hints)
 *   nfree        free rooms at the bitfield level, the whole maze
 *   slots        per-thread caches of free order-0 rooms
 * Each array's concurrency contract is beside its field in struct lab_view;
 * docs/DESIGN.md has the protocol and the memory orders.
 */
#ifndef LAB_CORE_META_H
#define LAB_CORE_META_H

#include "atomic.h"
#include <stddef.h>
#include <stdint.h>

#define LAB_META_MAGIC 0x4c6162795269746bULL /* "LabyRitk" */
#define LAB_META_VERSION 2u

#define LAB_ROW_SHIFT 9u
#define LAB_ROW_ROOMS (1u << LAB_ROW_SHIFT) /* 512 rooms: an order-9 block */
#define LAB_ROW_WORDS (LAB_ROW_ROOMS / 64u)
#define LAB_GROUP_SHIFT 5u /* 32 rows per group */
#define LAB_GROUP_ROWS (1u << LAB_GROUP_SHIFT)
#define LAB_SLOTS 64u	    /* thread caches per maze */
#define LAB_CACHE_CAP 64u   /* entries per cache */
#define LAB_CACHE_BATCH 32u /* rooms moved per refill or drain */
#define LAB_NFREE_FOLD 256u /* a slot's nfree delta moves to nfree past this */
#define LAB_MAX_ROOMS (1ull << 31)
#define LAB_MAX_ORDER_CORE 10u /* the largest block: 2^10 rooms, two rows */

/* Row entry: free count in the low bits; HUGE when the row is handed out
 * whole (order 9, or half of order 10); its bits then stay clear. */
#define LAB_ROW_COUNT 0x3ffu
#define LAB_ROW_HUGE (1u << 16)

/* Owner word. 0: free (the room is in the bitfield, or is a tail of a
 * block, or is in transit between the bitfield and its owner).
 * CACHED|slot: free, parked in that slot's cache; its bit is set.
 * Otherwise allocated: key | EXCL | order << 23, and only the block's first
 * room carries it. The owner key is tid | incarnation << 27: the
 * incarnation (4 bits) changes each time a thread with that tid exits, so a
 * later thread that reuses the tid is not taken for the owner. */
#define LAB_OW_TID 0x3fffffu /* Linux tids are < 2^22 (PID_MAX_LIMIT) */
#define LAB_OW_EXCL (1u << 22)
#define LAB_OW_ORDER_SHIFT 23u
#define LAB_OW_ORDER (0xfu << LAB_OW_ORDER_SHIFT)
#define LAB_OW_INC_SHIFT 27u
#define LAB_OW_INC (0xfu << LAB_OW_INC_SHIFT)
#define LAB_OW_KEY (LAB_OW_TID | LAB_OW_INC)
#define LAB_OW_CACHED (1u << 31)

/* key: the owner key (tid | incarnation); see above. */
static inline uint32_t lab_ow_make(uint32_t key, unsigned order, bool excl)
{
	return (key & LAB_OW_KEY) | (excl ? LAB_OW_EXCL : 0u) |
	       ((uint32_t)order << LAB_OW_ORDER_SHIFT);
}
static inline bool lab_ow_allocated(uint32_t ow)
{
	return ow != 0 && !(ow & LAB_OW_CACHED);
}
static inline unsigned lab_ow_order(uint32_t ow)
{
	return (ow & LAB_OW_ORDER) >> LAB_OW_ORDER_SHIFT;
}

/* A per-thread cache of free order-0 rooms. Every room in ent[0..top) has
 * owner word CACHED|slot and its bit set.
 *
 * Who may touch ent[] and top: the owner thread inside its critical section
 * (busy set, lock clear), or a stealer holding lock while busy is clear.
 * The owner enters with plain stores and a compiler barrier; a stealer
 * sets lock, then runs the platform's heavy barrier (membarrier on Linux),
 * which turns the owner's compiler barrier into a full fence, then reads
 * busy. So the owner's fast path has no atomic read-modify-write, and the
 * two sides never work on the cache at once. Without a heavy barrier the
 * owner uses a real fence instead (v->heavy_barrier NULL). */
struct lab_slot {
	/* key: 0 = unowned. CAS-claimed by the thread that uses the slot,
	 * released by it (or by its exit hook). */
	_Alignas(64) lab_a32 key;
	/* busy: owner-only store (relaxed set, release clear); read by stealers
	 * after the heavy barrier, and by a signal handler on the owner thread,
	 * which then goes around the cache. */
	lab_a32 busy;
	/* top: rooms in ent[]; see above for who writes it. */
	lab_a32 top;
	/* hint: the row the owner refills from next. Owner-written, relaxed. */
	lab_a32 hint;
	/* hint_big: where the owner's next block of order >= 1 search starts.
	 * Owner-written, relaxed. */
	lab_a32 hint_big;
	/* freeing: index+1 of the room the owner is freeing, so that a signal
	 * handler on the same thread does not free or give it too. Owner-only. */
	lab_a32 freeing;
	/* group: index+1 of the group this slot reserved, 0 none. Written by
	 * the owner inside its critical section (refill, release), or by the
	 * reaper of a dead owner; read by searchers as a hint. Written before
	 * the group's tag is set and after it is cleared, so a group's tag
	 * names a slot only while that slot's group names the group. */
	lab_a32 group;
	/* nfree_delta: this slot's refills and drains not yet folded into the
	 * maze's nfree (two's complement), mazes with a reserve only. Relaxed
	 * fetch_add by the owner, or by a stealer draining under lock; folded
	 * (moved to nfree) once it passes LAB_NFREE_FOLD either way. */
	lab_a64 nfree_delta;
	/* lock: stealers CAS 0 -> 1 (acquire) and store 0 (release); the owner
	 * reads it (acquire) after setting busy and bypasses the cache if set. */
	_Alignas(64) lab_a32 lock;
	/* ent: room indices, written under the rules above. */
	_Alignas(64) lab_a32 ent[LAB_CACHE_CAP];
};

/* The header at offset 0 of the metadata region. Read-only after format
 * except for the counters, each on its own cache line. */
struct lab_meta {
	uint64_t magic;
	uint32_t version;
	uint32_t page_shift;
	uint64_t pages;
	uint64_t reserve;
	uint32_t nrows, ngroups, nslots, max_order;
	uint64_t off_groups, off_rows, off_bits, off_owners, off_slots;
	uint64_t total_bytes;
	/* nfree: rooms free at the bitfield level, kept only in mazes with a
	 * reserve, where NOWAIT needs it: with every slot's nfree_delta added,
	 * the sum of the row counts once no operation is in flight. Relaxed
	 * fetch_add/sub after the row entry changed, by blocks and direct
	 * frees, and by a slot folding its delta (once per LAB_NFREE_FOLD
	 * rooms), so refills and drains write no maze-wide line. */
	_Alignas(64) lab_a64 nfree;
	/* waiters: threads in a KERNEL wait; wake_seq: their futex word, bumped
	 * by a free that sees waiters. Both seq_cst (Dekker with the free). */
	_Alignas(64) lab_a32 waiters;
	lab_a32 wake_seq;
	/* scarce: 1 once an order-0 allocation found the bitfield empty;
	 * frees then bypass the thread caches, so that the next free room is
	 * found by search instead of by stealing. Cleared by a refill that got
	 * a whole batch. A hint: relaxed, read by every free, rarely written. */
	_Alignas(64) lab_a32 scarce;
	uint32_t nsum0, nsum1; /* summary words: top level, group level */
	uint64_t off_summary;  /* partial map, then free map; each top then groups */
	_Alignas(64) uint8_t pad_[64];
};

/* One group of 32 rows, alone on its cache line: threads that work in
 * different groups write no line in common. */
struct lab_group {
	/* free: free rooms at the bitfield level in the group's rows (their
	 * counts summed once no operation is in flight). Relaxed add/sub after
	 * the row entry changed. */
	lab_a32 free;
	/* tag: slot+1 of the slot that reserved the group, 0 none. Set by that
	 * slot with a CAS from 0 and cleared by it (or by the reaper of a dead
	 * owner) with a CAS back, both seq_cst: Dekker with a free that reads
	 * it (seq_cst) after changing a row to decide who publishes the row in
	 * the summaries. Other slots refill here only on their last pass. */
	lab_a32 tag;
	uint32_t pad_[14];
};

/* A process-local view: the region's arrays as pointers, each with its
 * concurrency contract (see rows.c and cache.c for the protocols). */
struct lab_view {
	struct lab_meta *m;
	/* groups: see struct lab_group. */
	struct lab_group *groups;
	/* rows: free count and HUGE. Allocators take from the count with a
	 * CAS before they claim bits; frees add after they cleared bits, so a
	 * row never has fewer clear bits than its count promises. RMWs are
	 * seq_cst where a row's class changes (full, partly used, free): the
	 * Dekker pair with the group tag. */
	lab_a32 *rows;
	/* bits: one per room, set while the room is allocated or cached (or
	 * claimed in flight). Set by CAS after a reservation, cleared by
	 * fetch_and (release: publishes the owner word's reset). */
	lab_a64 *bits;
	/* owners: the truth of who holds each room; see the LAB_OW_* words.
	 * Allocated by a release store after the claim, freed by CAS (frees
	 * and gives race on it), parked and unparked by the cache owner. */
	lab_a32 *owners;
	/* summaries: bit g of a map set (seq_cst) by whoever turns a row of an
	 * unreserved group g partly used or free, or by a reserver leaving g;
	 * cleared (seq_cst) by a searcher that then looks at g's rows again
	 * and sets it back if it finds one. So a bit is never lost for a group
	 * that has such a row; a set bit may be stale. Top-level bits the
	 * same over the group-level words. */
	lab_a64 *sum_partial, *sum_free;
	struct lab_slot *slots;
	uint64_t pages;
	uint64_t reserve;
	uint32_t nrows, ngroups, nslots, max_order;
	uint32_t nsum0, nsum1; /* words of each summary: top level, group level */
	bool track_nfree;      /* reserve > 0 */
	/* the stealers' heavy barrier; NULL: owners use a full fence */
	int (*heavy_barrier)(void); /* 0 on success */
};

#endif

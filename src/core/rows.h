/* SPDX-License-Identifier: MIT */
/* Internal to the core: rows, groups and their summaries (rows.c,
 * summary.c), and the search over them (search.c). */
#ifndef LAB_CORE_ROWS_H
#define LAB_CORE_ROWS_H

#include "core.h"

/* What a row can give, for the summaries: nothing (full, or HUGE), part
 * of itself (partly used), or everything (free). */
enum lab_row_class {
	LAB_CLASS_FULL,
	LAB_CLASS_PARTIAL,
	LAB_CLASS_FREE
};

static inline unsigned lab_row_class(const struct lab_view *v, uint32_t row, uint32_t e)
{
	uint32_t c = e & LAB_ROW_COUNT;
	if ((e & LAB_ROW_HUGE) || c == 0)
		return LAB_CLASS_FULL;
	return c == lab_row_capacity(v, row) ? LAB_CLASS_FREE : LAB_CLASS_PARTIAL;
}

static inline uint32_t lab_group_rows_end(const struct lab_view *v, uint32_t g)
{
	uint32_t end = (g + 1) << LAB_GROUP_SHIFT;
	return end < v->nrows ? end : v->nrows;
}

/* Slot s's home group: its index with the bits reversed, as a fraction of
 * the maze, so that any run of consecutive slots lies spread apart (two
 * threads half a maze apart, four a quarter) and neighbours share no group.
 * A slot starts there, and looks for free rows from there, so that it
 * reuses the rows it freed instead of walking through the maze. */
static inline uint32_t lab_slot_home(const struct lab_view *v, uint32_t s)
{
	unsigned bits = 0;
	while ((1u << bits) < v->nslots)
		bits++;
	uint32_t rev = 0;
	for (unsigned b = 0; b < bits; b++)
		rev |= ((s >> b) & 1u) << (bits - 1 - b);
	return bits ? (uint32_t)(((uint64_t)rev * v->ngroups) >> bits) : 0;
}

/* A request to a row: a block of 2^order rooms, or (batch) up to want
 * order-0 rooms for a cache, written to out. */
struct lab_req {
	unsigned order;
	uint32_t need; /* rooms one row must have free: 2^order, at most a row */
	uint32_t want; /* batch: rooms wanted; 0 for a block */
	uint32_t *out; /* batch: the rooms taken */
	uint32_t got;  /* batch: how many */
	long idx;      /* block: its first room */
	int slot;      /* batch: the slot it is for (its nfree delta) */
};

/* rows.c: take from one row (true if the request is served there), and
 * tell the summaries that a row changed class. */
LAB_HIDDEN bool lab_row_try(const struct lab_view *v, uint32_t row, struct lab_req *q);
LAB_HIDDEN void lab_row_changed(const struct lab_view *v, uint32_t row, uint32_t old, uint32_t now);

/* summary.c. mark: bit g (and its top bit) set. next: the first marked
 * group at or after from, wrapping; top bits of empty words are cleared on
 * the way. unmark: clear bit g; the caller then looks at g's rows again. */
LAB_HIDDEN void lab_sum_mark(const struct lab_view *v, lab_a64 *map, uint32_t g);
LAB_HIDDEN void lab_sum_unmark(const struct lab_view *v, lab_a64 *map, uint32_t g);
LAB_HIDDEN bool lab_sum_next(const struct lab_view *v, lab_a64 *map, uint32_t from, uint32_t *g);
/* Mark g in the summaries for the rows it has now (after its reserver
 * left it, or after a searcher's unmark); the classes found, as bits. */
LAB_HIDDEN unsigned lab_group_publish(const struct lab_view *v, uint32_t g);
/* Reserve group g for slot (CAS its tag from 0); release it again. Only
 * the slot's owner, inside its critical section, or the reaper of a dead
 * owner. */
LAB_HIDDEN bool lab_group_reserve(const struct lab_view *v, uint32_t slot, uint32_t g);
LAB_HIDDEN void lab_group_release(const struct lab_view *v, uint32_t slot);
/* Format and recovery: the summaries from the rows, every tag cleared. */
LAB_HIDDEN void lab_summary_rebuild(const struct lab_view *v);
/* Validate: whether the summaries cover every unreserved group's rows and
 * every tag names a slot that names its group; 0 or -LAB_EUCLEAN. */
LAB_HIDDEN int lab_summary_check(const struct lab_view *v, char *why, size_t whylen);

#endif

/* SPDX-License-Identifier: MIT */
/* The group summaries and group reservations.
 *
 * A summary is a bitmap of groups with a top level: top bit i stands for
 * group-level word i. Two of them: groups that may hold a partly used row,
 * and groups that may hold a whole free row. Only unreserved groups count:
 * a slot that reserved a group searches its rows itself and publishes them
 * when it leaves.
 *
 * No bit is lost (struct lab_view has the contract): a marker changes a
 * row, then reads the tag, then sets the bit (or sees it set); a searcher
 * clears the bit, then reads the rows. With every step seq_cst, either the
 * searcher sees the row or the marker's bit lands after the clear. The same
 * pair holds between group-level words and top bits, and between a
 * reserver leaving (tag cleared, then rows read) and a marker.
 */
#include "rows.h"

static inline lab_a64 *group_word(const struct lab_view *v, lab_a64 *map, uint32_t i)
{
	return &map[v->nsum0 + i];
}

void lab_sum_mark(const struct lab_view *v, lab_a64 *map, uint32_t g)
{
	lab_a64 *w = group_word(v, map, g >> 6);
	uint64_t bit = 1ull << (g & 63);
	if (!(lab_load_seq_cst(w) & bit))
		lab_or_seq_cst(w, bit);
	uint32_t i = g >> 6;
	lab_a64 *t = &map[i >> 6];
	uint64_t tbit = 1ull << (i & 63);
	if (!(lab_load_seq_cst(t) & tbit))
		lab_or_seq_cst(t, tbit);
}

void lab_sum_unmark(const struct lab_view *v, lab_a64 *map, uint32_t g)
{
	lab_and_seq_cst(group_word(v, map, g >> 6), ~(1ull << (g & 63)));
}

/* The first group-level word in [lo, hi) with its top bit set and a bit of
 * its own. A top bit over an empty word is cleared, then the word read
 * again: a marker that raced us has set it back, or will. */
static bool word_next(const struct lab_view *v, lab_a64 *map, uint32_t lo, uint32_t hi,
		      uint32_t *out)
{
	while (lo < hi) {
		uint32_t t = lo >> 6;
		uint64_t top = lab_load_seq_cst(&map[t]) & (~0ull << (lo & 63));
		uint32_t end = (t + 1) << 6;
		if (end > hi) {
			top &= (1ull << (hi & 63)) - 1;
			end = hi;
		}
		if (!top) {
			lo = end;
			continue;
		}
		uint32_t i = (t << 6) + (uint32_t)__builtin_ctzll(top);
		if (lab_load_seq_cst(group_word(v, map, i))) {
			*out = i;
			return true;
		}
		lab_and_seq_cst(&map[t], ~(1ull << (i & 63)));
		if (lab_load_seq_cst(group_word(v, map, i))) {
			lab_or_seq_cst(&map[t], 1ull << (i & 63));
			*out = i;
			return true;
		}
		lo = i + 1;
	}
	return false;
}

bool lab_sum_next(const struct lab_view *v, lab_a64 *map, uint32_t from, uint32_t *g)
{
	if (from >= v->ngroups)
		from = 0;
	uint32_t i = from >> 6;
	uint64_t w = lab_load_seq_cst(group_word(v, map, i)) & (~0ull << (from & 63));
	uint32_t j;
	if (!w) {
		if (!word_next(v, map, i + 1, v->nsum1, &j) && !word_next(v, map, 0, i + 1, &j))
			return false;
		w = lab_load_seq_cst(group_word(v, map, j));
		if (!w)
			return false;
		i = j;
	}
	*g = (i << 6) + (uint32_t)__builtin_ctzll(w);
	return *g < v->ngroups;
}

unsigned lab_group_publish(const struct lab_view *v, uint32_t g)
{
	unsigned seen = 0;
	for (uint32_t r = g << LAB_GROUP_SHIFT; r < lab_group_rows_end(v, g); r++)
		seen |= 1u << lab_row_class(v, r, lab_load_seq_cst(&v->rows[r]));
	if (seen & (1u << LAB_CLASS_PARTIAL))
		lab_sum_mark(v, v->sum_partial, g);
	if (seen & (1u << LAB_CLASS_FREE))
		lab_sum_mark(v, v->sum_free, g);
	return seen;
}

bool lab_group_reserve(const struct lab_view *v, uint32_t slot, uint32_t g)
{
	struct lab_slot *s = &v->slots[slot];
	lab_store_relaxed(&s->group, g + 1); /* before the tag: see its contract */
	uint32_t z = 0;
	if (!lab_cas_strong_seq_cst(&v->groups[g].tag, &z, slot + 1)) {
		lab_store_relaxed(&s->group, 0);
		return false;
	}
	/* ours now: others need not look here (stale bits would be harmless) */
	lab_sum_unmark(v, v->sum_partial, g);
	lab_sum_unmark(v, v->sum_free, g);
	return true;
}

void lab_group_release(const struct lab_view *v, uint32_t slot)
{
	struct lab_slot *s = &v->slots[slot];
	uint32_t g1 = lab_load_relaxed(&s->group);
	if (!g1 || g1 > v->ngroups)
		return;
	uint32_t mine = slot + 1;
	if (lab_cas_strong_seq_cst(&v->groups[g1 - 1].tag, &mine, 0))
		lab_group_publish(v, g1 - 1);
	lab_store_relaxed(&s->group, 0);
}

void lab_summary_rebuild(const struct lab_view *v)
{
	uint32_t words = 2 * (v->nsum0 + v->nsum1);
	for (uint32_t i = 0; i < words; i++)
		lab_store_relaxed(&v->sum_partial[i], 0);
	for (uint32_t g = 0; g < v->ngroups; g++) {
		lab_store_relaxed(&v->groups[g].tag, 0);
		lab_group_publish(v, g);
	}
	for (uint32_t s = 0; s < v->nslots; s++)
		lab_store_relaxed(&v->slots[s].group, 0);
}

void lab_core_republish(const struct lab_view *v)
{
	for (uint32_t g = 0; g < v->ngroups; g++)
		if (!lab_load_seq_cst(&v->groups[g].tag))
			lab_group_publish(v, g);
}

static bool marked(const struct lab_view *v, lab_a64 *map, uint32_t g)
{
	uint32_t i = g >> 6;
	return (lab_load_relaxed(group_word(v, map, i)) >> (g & 63) & 1) &&
	       (lab_load_relaxed(&map[i >> 6]) >> (i & 63) & 1);
}

int lab_summary_check(const struct lab_view *v, char *why, size_t n)
{
	for (uint32_t g = 0; g < v->ngroups; g++) {
		uint32_t tag = lab_load_relaxed(&v->groups[g].tag);
		if (tag) {
			if (tag > v->nslots || lab_load_relaxed(&v->slots[tag - 1].group) != g + 1)
				return lab_core_fail(why, n,
						     "group tag names a slot that does not "
						     "name the group",
						     g, ", tag ", tag);
			continue;
		}
		unsigned seen = 0;
		for (uint32_t r = g << LAB_GROUP_SHIFT; r < lab_group_rows_end(v, g); r++)
			seen |= 1u << lab_row_class(v, r, lab_load_relaxed(&v->rows[r]));
		if ((seen & (1u << LAB_CLASS_PARTIAL)) && !marked(v, v->sum_partial, g))
			return lab_core_fail(why, n,
					     "group with a partly used row not in the summary", g,
					     "", 0);
		if ((seen & (1u << LAB_CLASS_FREE)) && !marked(v, v->sum_free, g))
			return lab_core_fail(why, n, "group with a free row not in the summary", g,
					     "", 0);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Where a request is served: the search over rows and groups.
 *
 * A slot refills its cache from one group that it reserved (the group's
 * tag), so two threads never refill from the same rows while either has a
 * group of its own. Small requests pack: partly used rows anywhere come
 * before whole free rows anywhere, which keeps huge frames whole. The order,
 * each step bounded:
 *   1. the slot's current row, unless another slot reserved its group;
 *   2. partly used rows of its own group (32 row entries);
 *   3. unreserved groups with a partly used row (the partial summary);
 *   4. free rows of its own group;
 *   5. unreserved groups with a free row (the free summary), from the
 *      slot's home group on (lab_slot_home);
 *   6. the groups other slots reserved (their rows, without their tag).
 * A refill that finds its rooms in another group in steps 3 or 5 reserves
 * that group and leaves its own. Blocks (order >= 1) take the same steps but
 * reserve nothing; huge blocks (order >= 9) look at free rows only.
 */
#include "rows.h"

/* Try the rows of group g, starting at row from if it lies in g, whose
 * class is cls (or any class with cls LAB_CLASS_FULL) and whose count
 * fits. Which classes it saw, as bits, in *seen. */
static bool group_try(const struct lab_view *v, uint32_t g, uint32_t from, unsigned cls,
		      struct lab_req *q, unsigned *seen)
{
	uint32_t r0 = g << LAB_GROUP_SHIFT, r1 = lab_group_rows_end(v, g);
	uint32_t rs = from >= r0 && from < r1 ? from : r0;
	unsigned s = 0;
	for (uint32_t k = 0; k < r1 - r0; k++) {
		uint32_t r = rs + k < r1 ? rs + k : rs + k - (r1 - r0);
		uint32_t e = lab_load_relaxed(&v->rows[r]);
		unsigned c = lab_row_class(v, r, e);
		s |= 1u << c;
		if (c == LAB_CLASS_FULL || (cls != LAB_CLASS_FULL && c != cls) ||
		    (e & LAB_ROW_COUNT) < q->need)
			continue;
		if (q->order > LAB_ROW_SHIFT && ((r & 1) || r + 1 >= r1))
			continue;
		if (lab_row_try(v, r, q)) {
			q->idx = q->want ? (long)r : q->idx;
			if (seen)
				*seen = s;
			return true;
		}
	}
	if (seen)
		*seen = s;
	return false;
}

/* Steps 3 and 5: groups marked in map, from group start on, skipping
 * reserved ones; in the hint's group from the hint row on. A group that shows no row of the class loses its mark
 * (then is looked at once more, for a row that came meanwhile). *gfound:
 * the group that served the request. */
static bool map_try(const struct lab_view *v, lab_a64 *map, unsigned cls, uint32_t start,
		    uint32_t hint, struct lab_req *q, uint32_t *gfound)
{
	uint32_t from = start, dist = 0; /* dist: how far past start we looked */
	uint32_t g;
	while (dist < v->ngroups && lab_sum_next(v, map, from, &g)) {
		uint32_t d = g >= start ? g - start : g + v->ngroups - start;
		if (d < dist)
			return false; /* wrapped past the start */
		if (!lab_load_relaxed(&v->groups[g].tag)) {
			unsigned seen;
			if (group_try(v, g, hint, cls, q, &seen)) {
				*gfound = g;
				return true;
			}
			if (!(seen & (1u << cls))) {
				lab_sum_unmark(v, map, g);
				lab_group_publish(v, g);
			}
		}
		dist = d + 1;
		from = g + 1 < v->ngroups ? g + 1 : 0;
	}
	return false;
}

/* Step 6: rows in groups that other slots reserved. */
static bool reserved_try(const struct lab_view *v, int slot, struct lab_req *q, uint32_t *gfound)
{
	unsigned cls = q->order >= LAB_ROW_SHIFT ? LAB_CLASS_FREE : LAB_CLASS_FULL;
	if (v->ngroups <= v->nslots) {
		for (uint32_t g = 0; g < v->ngroups; g++) {
			uint32_t tag = lab_load_relaxed(&v->groups[g].tag);
			if (tag && tag != (uint32_t)slot + 1 && group_try(v, g, 0, cls, q, NULL)) {
				*gfound = g;
				return true;
			}
		}
		return false;
	}
	for (uint32_t t = 0; t < v->nslots; t++) {
		uint32_t g1 = lab_load_relaxed(&v->slots[t].group);
		if (!g1 || g1 > v->ngroups || (int)t == slot ||
		    lab_load_relaxed(&v->groups[g1 - 1].tag) != t + 1)
			continue;
		if (group_try(v, g1 - 1, 0, cls, q, NULL)) {
			*gfound = g1 - 1;
			return true;
		}
	}
	return false;
}

/* Steps 1 to 6 for q; the group that served it in *gfound, and whether that
 * was through a summary (a group the caller may reserve). */
static bool find(const struct lab_view *v, int slot, uint32_t hint, struct lab_req *q,
		 uint32_t *gfound, bool *from_map)
{
	uint32_t mine = slot >= 0 ? lab_load_relaxed(&v->slots[slot].group) : 0;
	if (mine > v->ngroups)
		mine = 0;
	if (hint >= v->nrows)
		hint = 0;
	uint32_t start = mine ? mine - 1 : hint >> LAB_GROUP_SHIFT;
	bool huge = q->order >= LAB_ROW_SHIFT;
	*from_map = false;
	uint32_t htag = lab_load_relaxed(&v->groups[hint >> LAB_GROUP_SHIFT].tag);
	if (q->want && (!htag || (int)htag == slot + 1) && lab_row_try(v, hint, q)) {
		q->idx = (long)hint;
		*gfound = hint >> LAB_GROUP_SHIFT;
		return true;
	}
	if (!huge) {
		if (mine && group_try(v, mine - 1, hint, LAB_CLASS_PARTIAL, q, NULL)) {
			*gfound = mine - 1;
			return true;
		}
		if (!mine && group_try(v, start, hint, LAB_CLASS_PARTIAL, q, NULL)) {
			*gfound = start;
			return true;
		}
		if (map_try(v, v->sum_partial, LAB_CLASS_PARTIAL, start, hint, q, gfound)) {
			*from_map = true;
			return true;
		}
	}
	if (mine && group_try(v, mine - 1, hint, LAB_CLASS_FREE, q, NULL)) {
		*gfound = mine - 1;
		return true;
	}
	uint32_t home = slot >= 0 ? lab_slot_home(v, (uint32_t)slot) : start;
	if (map_try(v, v->sum_free, LAB_CLASS_FREE, home, hint, q, gfound)) {
		*from_map = true;
		return true;
	}
	return reserved_try(v, slot, q, gfound);
}

unsigned lab_rows_take(const struct lab_view *v, uint32_t slot, unsigned want, uint32_t *out)
{
	struct lab_slot *s = &v->slots[slot];
	struct lab_req q = { .order = 0, .need = 1, .want = want, .out = out, .slot = (int)slot };
	uint32_t g, hint = lab_load_relaxed(&s->hint);
	bool from_map;
	if (!find(v, (int)slot, hint, &q, &g, &from_map))
		return 0;
	lab_store_relaxed(&s->hint, (uint32_t)q.idx);
	/* a group found through a summary becomes ours, if nobody took it */
	if (from_map || !lab_load_relaxed(&s->group)) {
		if (lab_load_relaxed(&v->groups[g].tag) == 0) {
			lab_group_release(v, slot);
			lab_group_reserve(v, slot, g);
		}
	}
	return q.got;
}

long lab_rows_alloc(const struct lab_view *v, int slot, unsigned order, uint32_t hint, uint32_t ow)
{
	uint32_t need = 1u << (order < LAB_ROW_SHIFT ? order : LAB_ROW_SHIFT);
	struct lab_req q = { .order = order, .need = need, .idx = -1, .slot = -1 };
	uint32_t g;
	bool from_map;
	long idx = find(v, slot, hint, &q, &g, &from_map) ? q.idx : -1;
	LAB_YIELD();  /* claimed, owner not yet written */
	if (idx >= 0) /* publish the owner; pairs with the acquire in free */
		lab_store_release(&v->owners[idx], ow);
	return idx;
}

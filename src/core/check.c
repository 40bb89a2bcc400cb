/* SPDX-License-Identifier: MIT */
/* Figures and the invariant checker. Neither changes the maze. */
#include "rows.h"

void lab_core_stats(const struct lab_view *v, struct lab_core_stats *out)
{
	uint64_t free = 0, huge = 0;
	for (uint32_t r = 0; r < v->nrows; r++) {
		uint32_t e = lab_load_relaxed(&v->rows[r]);
		if (e & LAB_ROW_HUGE)
			continue;
		free += e & LAB_ROW_COUNT;
		huge += (e & LAB_ROW_COUNT) == LAB_ROW_ROOMS;
	}
	out->cached = lab_core_cached(v);
	out->free = free + out->cached;
	out->huge_free = huge;
	out->meta_bytes = v->m->total_bytes;
	out->meta_fixed = v->m->off_groups + (uint64_t)v->nslots * sizeof(struct lab_slot);
}

/* A tiny formatter: no libc in the core. */
struct msg {
	char *buf;
	size_t len, cap;
};

static void put_s(struct msg *m, const char *s)
{
	while (*s && m->len + 1 < m->cap)
		m->buf[m->len++] = *s++;
	if (m->cap)
		m->buf[m->len] = 0;
}

static void put_u(struct msg *m, uint64_t x)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	char s[24];
	for (int i = 0; i < n; i++)
		s[i] = t[n - 1 - i];
	s[n] = 0;
	put_s(m, s);
}

int lab_core_fail(char *why, size_t whylen, const char *what, uint64_t where, const char *more,
		  uint64_t val)
{
	struct msg m = { why, 0, why ? whylen : 0 };
	if (why && whylen) {
		why[0] = 0;
		put_s(&m, what);
		put_s(&m, " at ");
		put_u(&m, where);
		if (more) {
			put_s(&m, more);
			put_u(&m, val);
		}
	}
	return -LAB_EUCLEAN;
}

static bool bit_set(const struct lab_view *v, uint64_t i)
{
	return (lab_load_relaxed(&v->bits[i >> 6]) >> (i & 63)) & 1;
}

/* Walk the owner words block by block; count allocated and cached rooms. */
static int check_owners(const struct lab_view *v, char *why, size_t n, uint64_t *allocated,
			uint64_t *cached_per_slot)
{
	uint64_t i = 0;
	while (i < v->pages) {
		uint32_t ow = lab_load_relaxed(&v->owners[i]);
		uint32_t row = (uint32_t)(i >> LAB_ROW_SHIFT);
		if (ow & LAB_OW_CACHED) {
			uint32_t s = ow & ~LAB_OW_CACHED;
			if (s >= v->nslots)
				return lab_core_fail(why, n, "cached room names no slot", i,
						     ", slot ", s);
			if (!bit_set(v, i))
				return lab_core_fail(why, n, "cached room with a clear bit", i,
						     ", slot ", s);
			cached_per_slot[s]++;
			i++;
			continue;
		}
		if (ow == 0) {
			uint32_t e = lab_load_relaxed(&v->rows[row]);
			if (e & LAB_ROW_HUGE)
				return lab_core_fail(why, n, "huge row without an owner", i,
						     ", row ", row);
			if (bit_set(v, i))
				return lab_core_fail(why, n, "room lost: bit set, no owner", i,
						     ", row entry ", e);
			i++;
			continue;
		}
		unsigned o = lab_ow_order(ow);
		uint64_t len = 1ull << o;
		if (o > 10 || (i & (len - 1)) || i + len > v->pages)
			return lab_core_fail(why, n, "bad block", i, ", order ", o);
		for (uint64_t j = i + 1; j < i + len; j++)
			if (lab_load_relaxed(&v->owners[j]) != 0)
				return lab_core_fail(why, n, "owner word inside a block", j,
						     ", head ", i);
		if (o >= LAB_ROW_SHIFT) {
			for (uint32_t r = row; r < row + (len >> LAB_ROW_SHIFT); r++)
				if (lab_load_relaxed(&v->rows[r]) != LAB_ROW_HUGE)
					return lab_core_fail(why, n, "huge block on a row not HUGE",
							     i, ", row ", r);
		} else {
			for (uint64_t j = i; j < i + len; j++)
				if (!bit_set(v, j))
					return lab_core_fail(why, n,
							     "allocated room with a clear bit", j,
							     ", order ", o);
		}
		*allocated += len;
		i += len;
	}
	return 0;
}

int lab_core_validate(const struct lab_view *v, char *why, size_t n)
{
	if (why && n)
		why[0] = 0;
	if (v->m->magic != LAB_META_MAGIC || v->m->version != LAB_META_VERSION)
		return lab_core_fail(why, n, "bad magic or version", 0, "", 0);
	uint64_t total = 0, gsum = 0;
	uint32_t g = 0;
	for (uint32_t r = 0; r < v->nrows; r++) {
		uint32_t e = lab_load_relaxed(&v->rows[r]);
		uint32_t cap = (uint32_t)lab_row_capacity(v, r);
		uint32_t clear = 0;
		for (uint32_t b = 0; b < LAB_ROW_ROOMS; b++) {
			bool set = bit_set(v, (uint64_t)r * LAB_ROW_ROOMS + b);
			if (b >= cap && !set)
				return lab_core_fail(why, n, "padding bit clear in row", r,
						     ", bit ", b);
			clear += !set;
		}
		if (e & LAB_ROW_HUGE) {
			if (e != LAB_ROW_HUGE || clear != LAB_ROW_ROOMS)
				return lab_core_fail(why, n, "huge row not clean", r, ", entry ",
						     e);
		} else if ((e & LAB_ROW_COUNT) != clear || clear > cap) {
			return lab_core_fail(why, n, "row count differs from its bits", r,
					     ", count ", e & LAB_ROW_COUNT);
		} else {
			gsum += clear;
			total += clear;
		}
		if (r + 1 == v->nrows || ((r + 1) >> LAB_GROUP_SHIFT) != g) {
			if (lab_load_relaxed(&v->groups[g].free) != gsum)
				return lab_core_fail(why, n, "group count differs from its rows", g,
						     ", expected ", gsum);
			g++;
			gsum = 0;
		}
	}
	if (v->track_nfree && lab_core_nfree(v) != total)
		return lab_core_fail(why, n, "nfree differs from the rows", 0, ", expected ",
				     total);
	int serr = lab_summary_check(v, why, n);
	if (serr)
		return serr;
	uint64_t allocated = 0, per_slot[LAB_SLOTS];
	for (uint32_t s = 0; s < LAB_SLOTS; s++)
		per_slot[s] = 0;
	int err = check_owners(v, why, n, &allocated, per_slot);
	if (err)
		return err;
	uint64_t cached = 0;
	for (uint32_t s = 0; s < v->nslots; s++) {
		uint32_t d = lab_load_relaxed(&v->slots[s].top);
		if (d > LAB_CACHE_CAP)
			return lab_core_fail(why, n, "cache holds more than it can", s, ", top ",
					     d);
		for (uint32_t i = 0; i < d; i++) {
			uint32_t e = lab_load_relaxed(&v->slots[s].ent[i]);
			if (e >= v->pages || lab_load_relaxed(&v->owners[e]) != (LAB_OW_CACHED | s))
				return lab_core_fail(why, n, "cache entry not parked in its slot",
						     s, ", entry ", i);
			for (uint32_t j = 0; j < i; j++)
				if (lab_load_relaxed(&v->slots[s].ent[j]) == e)
					return lab_core_fail(why, n, "cache entry listed twice", s,
							     ", entry ", i);
		}
		if (d != per_slot[s])
			return lab_core_fail(why, n, "slot count differs from its rooms", s,
					     ", counted ", per_slot[s]);
		cached += d;
	}
	if (total + cached + allocated != v->pages)
		return lab_core_fail(why, n, "rooms do not add up", 0,
				     ", free+cached+allocated = ", total + cached + allocated);
	return 0;
}

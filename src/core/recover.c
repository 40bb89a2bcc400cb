/* SPDX-License-Identifier: MIT */
/* Recovery of a quiet maze: rebuild every summary from the truth (owner
 * words and room bits), undo what an interrupted operation left claimed,
 * empty the thread caches, and reclaim or keep the rooms of dead owners.
 * Also the check of a metadata header read from an untrusted file.
 *
 * The in-flight states tolerated here are those tests/crash/README.md lists;
 * anything else is damage, reported before a single word is written. */
#include "rows.h"

static bool bit_get(const struct lab_view *v, uint64_t i)
{
	return (lab_load_relaxed(&v->bits[i >> 6]) >> (i & 63)) & 1;
}

static void bit_clear(const struct lab_view *v, uint64_t i)
{
	lab_a64 *w = &v->bits[i >> 6];
	lab_store_relaxed(w, lab_load_relaxed(w) & ~(1ull << (i & 63)));
}

static unsigned popcount64(uint64_t x) /* no libgcc call: freestanding */
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* The bits of rooms [i, i + len) of one block (aligned to len, len <= 512):
 * the mask within their word, or whole words when len >= 64. */
static uint64_t run_mask(uint64_t i, uint64_t len)
{
	return len >= 64 ? ~0ull : ((1ull << len) - 1) << (i & 63);
}

/* Whether every bit of the block is `set`; false at the first that is not. */
static bool bits_are(const struct lab_view *v, uint64_t i, uint64_t len, bool set)
{
	uint64_t mask = run_mask(i, len);
	for (uint64_t w = i >> 6; w <= (i + len - 1) >> 6; w++) {
		uint64_t x = lab_load_relaxed(&v->bits[w]) & mask;
		if (x != (set ? mask : 0))
			return false;
	}
	return true;
}

static void bits_clear(const struct lab_view *v, uint64_t i, uint64_t len)
{
	uint64_t mask = run_mask(i, len);
	for (uint64_t w = i >> 6; w <= (i + len - 1) >> 6; w++)
		lab_store_relaxed(&v->bits[w], lab_load_relaxed(&v->bits[w]) & ~mask);
}

/* Damage that is no crash state: the reason, and nothing written. */
static int damage(char *why, size_t n, const char *what, uint64_t room)
{
	return lab_core_fail(why, n, what, room, NULL, 0);
}

/* One walk over the owner words. write == false: check only; true: act. */
static int walk(const struct lab_view *v, const struct lab_recover_ops *ops, bool write,
		struct lab_core_recovery *out, char *why, size_t n)
{
	uint64_t i = 0;
	while (i < v->pages) {
		uint32_t row = (uint32_t)(i >> LAB_ROW_SHIFT);
		uint32_t re = lab_load_relaxed(&v->rows[row]);
		bool huge_row = re & LAB_ROW_HUGE;
		/* the common case first: 64 free rooms, bits clear, no owners */
		if (!(i & 63) && !huge_row && i + 64 <= v->pages &&
		    lab_load_relaxed(&v->bits[i >> 6]) == 0) {
			uint32_t any = 0;
			for (unsigned k = 0; k < 64; k++)
				any |= lab_load_relaxed(&v->owners[i + k]);
			if (!any) {
				i += 64;
				continue;
			}
		}
		uint32_t ow = lab_load_relaxed(&v->owners[i]);
		if (ow & LAB_OW_CACHED) {
			if ((ow & ~LAB_OW_CACHED) >= v->nslots || huge_row || !bit_get(v, i))
				return damage(why, n, "cached room that no cache can hold", i);
			if (write) {
				lab_store_relaxed(&v->owners[i], 0);
				bit_clear(v, i);
				out->cached++;
			}
			i++;
			continue;
		}
		if (ow == 0) {
			if (huge_row) {
				/* an order 9/10 alloc or free cut short: the row is
				 * nobody's; its other owner words must be clear */
				if ((i & (LAB_ROW_ROOMS - 1)) ||
				    lab_row_capacity(v, row) != LAB_ROW_ROOMS)
					return damage(why, n, "HUGE row not on a whole row", i);
				for (uint64_t j = i; j < i + LAB_ROW_ROOMS; j++)
					if (bit_get(v, j) ||
					    (j > i && lab_load_relaxed(&v->owners[j])))
						return damage(why, n, "HUGE row with claimed rooms",
							      j);
				if (write) {
					lab_store_relaxed(&v->rows[row], LAB_ROW_ROOMS);
					out->inflight += LAB_ROW_ROOMS;
				}
				i += LAB_ROW_ROOMS;
				continue;
			}
			if (bit_get(v, i) && write) { /* claimed, not yet (or no longer) owned */
				bit_clear(v, i);
				out->inflight++;
			}
			i++;
			continue;
		}
		unsigned o = lab_ow_order(ow);
		uint64_t len = 1ull << o;
		if (o > v->max_order || (i & (len - 1)) || i + len > v->pages)
			return damage(why, n, "bad block head", i);
		for (uint64_t j = i + 1; j < i + len; j++)
			if (lab_load_relaxed(&v->owners[j]) != 0)
				return damage(why, n, "owner word inside a block", j);
		uint32_t rows = o >= LAB_ROW_SHIFT ? (uint32_t)(len >> LAB_ROW_SHIFT) : 0;
		for (uint32_t r = row; r < row + rows; r++)
			if (lab_load_relaxed(&v->rows[r]) != LAB_ROW_HUGE)
				return damage(why, n, "huge block on a row not HUGE", i);
		if (!bits_are(v, i, len < LAB_ROW_ROOMS ? len : LAB_ROW_ROOMS, !rows) ||
		    (len > LAB_ROW_ROOMS && !bits_are(v, i + LAB_ROW_ROOMS, LAB_ROW_ROOMS, false)))
			return damage(why, n, "block whose bits disagree", i);
		if (!rows && huge_row)
			return damage(why, n, "small block on a HUGE row", i);
		if (write) {
			if (!ops->dead(ops->ctx, ow & LAB_OW_KEY)) {
				/* a live owner keeps it */
			} else if (ops->keep) {
				out->kept += len;
				out->kept_blocks++;
			} else {
				lab_store_relaxed(&v->owners[i], 0);
				for (uint32_t r = row; r < row + rows; r++)
					lab_store_relaxed(&v->rows[r], LAB_ROW_ROOMS);
				if (!rows)
					bits_clear(v, i, len);
				out->reclaimed += len;
			}
		}
		i += len;
	}
	return 0;
}

int lab_core_recover_check(const struct lab_view *v, char *why, size_t n)
{
	struct lab_core_recovery r = { 0 };
	struct lab_recover_ops none = { 0 };
	if (why && n)
		why[0] = 0;
	/* padding bits past the last room must be set, or rooms that do not
	 * exist could be handed out */
	for (uint64_t i = v->pages; i < (uint64_t)v->nrows << LAB_ROW_SHIFT; i++)
		if (!bit_get(v, i))
			return damage(why, n, "padding bit clear", i);
	return walk(v, &none, false, &r, why, n);
}

int lab_core_recover(const struct lab_view *v, const struct lab_recover_ops *ops,
		     struct lab_core_recovery *out, char *why, size_t n)
{
	struct lab_core_recovery r = { 0 };
	int err = lab_core_recover_check(v, why, n);
	if (err)
		return err;
	walk(v, ops, true, &r, why, n);
	/* the summaries, from the bits */
	uint64_t total = 0, gsum = 0;
	for (uint32_t r0 = 0; r0 < v->nrows; r0++) {
		uint32_t old = lab_load_relaxed(&v->rows[r0]), e = LAB_ROW_HUGE;
		if (old != LAB_ROW_HUGE) {
			/* padding bits are set (checked): count the whole row */
			uint32_t clear = LAB_ROW_ROOMS;
			for (uint32_t w = 0; w < LAB_ROW_WORDS; w++)
				clear -= popcount64(lab_load_relaxed(
					&v->bits[(uint64_t)r0 * LAB_ROW_WORDS + w]));
			e = clear;
			gsum += clear;
		}
		if (e != old) {
			lab_store_relaxed(&v->rows[r0], e);
			r.rows_fixed++;
		}
		if (r0 + 1 == v->nrows || ((r0 + 1) & (LAB_GROUP_ROWS - 1)) == 0) {
			lab_a32 *g = &v->groups[r0 >> LAB_GROUP_SHIFT].free;
			if (lab_load_relaxed(g) != gsum) {
				lab_store_relaxed(g, (uint32_t)gsum);
				r.rows_fixed++;
			}
			total += gsum;
			gsum = 0;
		}
	}
	lab_store_relaxed(&v->m->nfree, total);
	for (uint32_t s = 0; s < v->nslots; s++)
		lab_store_relaxed(&v->slots[s].nfree_delta, 0);
	for (uint32_t s = 0; s < v->nslots; s++) {
		struct lab_slot *sl = &v->slots[s];
		if (lab_load_relaxed(&sl->key) || lab_load_relaxed(&sl->top))
			r.caches++;
		lab_store_relaxed(&sl->key, 0);
		lab_store_relaxed(&sl->busy, 0);
		lab_store_relaxed(&sl->top, 0);
		lab_store_relaxed(&sl->hint, 0);
		lab_store_relaxed(&sl->hint_big, 0);
		lab_store_relaxed(&sl->freeing, 0);
		lab_store_relaxed(&sl->lock, 0);
	}
	lab_store_relaxed(&v->m->waiters, 0);
	lab_store_relaxed(&v->m->scarce, 0);
	lab_summary_rebuild(v);
	lab_fence_release();
	if (out)
		*out = r;
	return 0;
}

int lab_core_meta_check(const void *region, uint64_t len, uint64_t pages, unsigned page_shift,
			uint64_t reserve)
{
	const struct lab_meta *m = region;
	uint64_t need = lab_core_meta_size(pages);
	if (!need || len < need || len < sizeof(*m))
		return -LAB_EUCLEAN;
	/* what format would have written, field by field */
	struct lab_meta want;
	uint8_t *w = (uint8_t *)&want;
	for (size_t k = 0; k < sizeof(want); k++)
		w[k] = 0;
	lab_core_layout(&want, pages, page_shift, reserve);
	if (m->magic != LAB_META_MAGIC || m->version != want.version ||
	    m->page_shift != want.page_shift || m->pages != want.pages ||
	    m->reserve != want.reserve || m->nrows != want.nrows || m->ngroups != want.ngroups ||
	    m->nslots != want.nslots || m->max_order != want.max_order || m->nsum0 != want.nsum0 ||
	    m->nsum1 != want.nsum1 || m->off_summary != want.off_summary ||
	    m->off_groups != want.off_groups || m->off_rows != want.off_rows ||
	    m->off_bits != want.off_bits || m->off_owners != want.off_owners ||
	    m->off_slots != want.off_slots || m->total_bytes != want.total_bytes)
		return -LAB_EUCLEAN;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* Rows and the bitfield: claiming and releasing rooms in one row.
 *
 * Protocol (see docs/DESIGN.md): an allocator first reserves rooms from the
 * row entry's free count with a CAS, then sets that many bits with CAS on
 * the row's words. A free clears bits first, then adds to the count. So the
 * number of clear bits in a row is never below its count plus the
 * reservations not yet claimed, and a reservation always finds its bits.
 *
 * Every change of a row entry that turns the row partly used or free is
 * told to lab_row_changed, which keeps the group summaries (summary.c).
 */
#include "rows.h"

#if defined(__BMI2__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

static const uint64_t lab_align_mask[7] = {
	~0ull,		       /* order 0: every bit */
	0x5555555555555555ull, /* order 1 */
	0x1111111111111111ull, /* order 2 */
	0x0101010101010101ull, /* order 3 */
	0x0001000100010001ull, /* order 4 */
	0x0000000100000001ull, /* order 5 */
	0x0000000000000001ull, /* order 6 */
};

/* Lowest bit position p, a multiple of 2^k, with bits p..p+2^k-1 all clear
 * in w; -1 if none. */
static inline int word_find_run(uint64_t w, unsigned k)
{
	uint64_t f = ~w;
	for (unsigned s = 1; s < (1u << k); s <<= 1)
		f &= f >> s;
	f &= lab_align_mask[k];
	return f ? __builtin_ctzll(f) : -1;
}

static inline uint64_t run_mask(unsigned k)
{
	return k >= 6 ? ~0ull : ((1ull << (1u << k)) - 1);
}

/* The lowest n (1..64) set bits of f, or all of f if it has fewer. One run
 * of set bits (a row taken in order) costs a multiply; scattered bits use
 * pdep where the build targets BMI2, else a loop. */
static inline uint64_t lowest_bits(uint64_t f, unsigned n)
{
	uint64_t low = f & (0 - f);
	if (((f + low) & f) == 0) /* one run: mask(n) shifted to its start */
		return (low * ((2ull << (n - 1)) - 1)) & f;
#if defined(__BMI2__) && defined(__x86_64__)
	return _pdep_u64(n >= 64 ? ~0ull : (1ull << n) - 1, f);
#else
	uint64_t take = 0;
	for (; f && n; n--) {
		uint64_t b = f & (0 - f);
		take |= b;
		f ^= b;
	}
	return take;
#endif
}

/* nfree += d: through slot's delta when there is a slot, folded into the
 * maze-wide word once it grows past LAB_NFREE_FOLD either way. */
static void nfree_add(const struct lab_view *v, int slot, uint64_t d)
{
	if (!v->track_nfree)
		return;
	if (slot < 0) {
		lab_add_relaxed(&v->m->nfree, d);
		return;
	}
	lab_a64 *delta = &v->slots[slot].nfree_delta;
	uint64_t now = lab_add_relaxed(delta, d) + d;
	if (now + LAB_NFREE_FOLD > 2 * LAB_NFREE_FOLD) { /* |now| > FOLD */
		lab_sub_relaxed(delta, now);
		lab_add_relaxed(&v->m->nfree, now);
	}
}

static void counts_sub(const struct lab_view *v, uint32_t row, uint32_t n, int slot)
{
	lab_sub_relaxed(&v->groups[row >> LAB_GROUP_SHIFT].free, n);
	nfree_add(v, slot, 0 - (uint64_t)n);
}

static void counts_add(const struct lab_view *v, uint32_t row, uint32_t n, int slot)
{
	lab_add_relaxed(&v->groups[row >> LAB_GROUP_SHIFT].free, n);
	nfree_add(v, slot, n);
}

/* A row entry moved from old to now. If the row became partly used or free
 * and its group is reserved by nobody, mark the group in that summary; a
 * reserved group is published by its reserver when it leaves. The tag is
 * read after the row changed (seq_cst both): Dekker with the release. */
void lab_row_changed(const struct lab_view *v, uint32_t row, uint32_t old, uint32_t now)
{
	unsigned a = lab_row_class(v, row, old), b = lab_row_class(v, row, now);
	if (a == b || b == LAB_CLASS_FULL)
		return;
	uint32_t g = row >> LAB_GROUP_SHIFT;
	if (lab_load_seq_cst(&v->groups[g].tag))
		return;
	lab_sum_mark(v, b == LAB_CLASS_PARTIAL ? v->sum_partial : v->sum_free, g);
}

/* Add n to a row's count (a free, or a reservation rolled back). */
static void row_give_back(const struct lab_view *v, uint32_t row, uint32_t n)
{
	uint32_t old = lab_add_seq_cst(&v->rows[row], n);
	lab_row_changed(v, row, old, old + n);
}

/* Take up to want rooms from the row count; the number taken. */
static uint32_t row_reserve_upto(const struct lab_view *v, uint32_t row, uint32_t want)
{
	lab_a32 *re = &v->rows[row];
	uint32_t e = lab_load_relaxed(re);
	for (;;) {
		uint32_t c = e & LAB_ROW_COUNT;
		if ((e & LAB_ROW_HUGE) || c == 0)
			return 0;
		uint32_t k = c < want ? c : want;
		if (lab_cas_seq_cst(re, &e, e - k)) {
			lab_row_changed(v, row, e, e - k);
			return k;
		}
	}
}

static bool row_reserve(const struct lab_view *v, uint32_t row, uint32_t n)
{
	lab_a32 *re = &v->rows[row];
	uint32_t e = lab_load_relaxed(re);
	do {
		if ((e & LAB_ROW_HUGE) || (e & LAB_ROW_COUNT) < n)
			return false;
	} while (!lab_cas_seq_cst(re, &e, e - n));
	lab_row_changed(v, row, e, e - n);
	return true;
}

/* Set k clear bits of a row that the caller reserved; writes the indices. */
static void row_claim_bits(const struct lab_view *v, uint32_t row, uint32_t k, uint32_t *out)
{
	lab_a64 *b = &v->bits[(uint64_t)row * LAB_ROW_WORDS];
	uint32_t got = 0;
	uint32_t base = row << LAB_ROW_SHIFT;
	while (got < k) {
		for (unsigned j = 0; j < LAB_ROW_WORDS && got < k; j++) {
			uint64_t w = lab_load_relaxed(&b[j]);
			while (~w && got < k) {
				uint64_t take = lowest_bits(~w, k - got);
				if (lab_cas_acq_rel(&b[j], &w, w | take)) {
					while (take) {
						out[got++] = base + j * 64u +
							     (uint32_t)__builtin_ctzll(take);
						take &= take - 1;
					}
					break;
				}
			}
		}
	}
}

/* Claim an aligned run of 2^order rooms (order <= 8) in a row whose count
 * the caller reserved; -1 when the free rooms are too fragmented. */
static long row_claim_run(const struct lab_view *v, uint32_t row, unsigned order)
{
	lab_a64 *b = &v->bits[(uint64_t)row * LAB_ROW_WORDS];
	uint64_t base = (uint64_t)row << LAB_ROW_SHIFT;
	if (order <= 6) {
		uint64_t mask = run_mask(order);
		for (unsigned j = 0; j < LAB_ROW_WORDS; j++) {
			uint64_t w = lab_load_relaxed(&b[j]);
			int p;
			while ((p = word_find_run(w, order)) >= 0) {
				if (lab_cas_acq_rel(&b[j], &w, w | (mask << p)))
					return (long)(base + j * 64u + (unsigned)p);
			}
		}
		return -1;
	}
	unsigned nw = 1u << (order - 6);
	for (unsigned j = 0; j < LAB_ROW_WORDS; j += nw) {
		unsigned t;
		for (t = 0; t < nw; t++) {
			uint64_t z = 0;
			if (!lab_cas_strong_acq_rel(&b[j + t], &z, ~0ull))
				break;
		}
		if (t == nw)
			return (long)(base + j * 64u);
		while (t--) /* roll back the words we set */
			lab_store_release(&b[j + t], 0);
	}
	return -1;
}

/* A whole free row becomes HUGE. */
static bool row_take_huge(const struct lab_view *v, uint32_t row)
{
	uint32_t e = LAB_ROW_ROOMS;
	return lab_cas_strong_seq_cst(&v->rows[row], &e, LAB_ROW_HUGE);
}

/* A HUGE row is free again. */
static void row_put_huge(const struct lab_view *v, uint32_t row)
{
	lab_xchg_seq_cst(&v->rows[row], LAB_ROW_ROOMS);
	lab_row_changed(v, row, LAB_ROW_HUGE, LAB_ROW_ROOMS);
}

/* Take a whole row (order 9) or an aligned pair of rows (order 10). */
static bool row_try_huge(const struct lab_view *v, uint32_t row, unsigned order)
{
	if (order == LAB_ROW_SHIFT)
		return row_take_huge(v, row);
	if ((row & 1) || row + 1 >= v->nrows || !row_take_huge(v, row))
		return false;
	if (!row_take_huge(v, row + 1)) {
		row_put_huge(v, row);
		return false;
	}
	return true;
}

bool lab_row_try(const struct lab_view *v, uint32_t row, struct lab_req *q)
{
	if (q->want) { /* a batch of order-0 rooms */
		uint32_t k = row_reserve_upto(v, row, q->want);
		if (!k)
			return false;
		LAB_YIELD(); /* reserved, not yet claimed */
		row_claim_bits(v, row, k, q->out);
		counts_sub(v, row, k, q->slot);
		q->got = k;
		return true;
	}
	if (q->order >= LAB_ROW_SHIFT) {
		if (!row_try_huge(v, row, q->order))
			return false;
		counts_sub(v, row, 1u << q->order, -1);
		q->idx = (long)((uint64_t)row << LAB_ROW_SHIFT);
		return true;
	}
	uint32_t n = 1u << q->order;
	if (!row_reserve(v, row, n))
		return false;
	LAB_YIELD(); /* reserved, not yet claimed */
	long idx = row_claim_run(v, row, q->order);
	if (idx < 0) {
		row_give_back(v, row, n);
		return false;
	}
	counts_sub(v, row, n, -1);
	q->idx = idx;
	return true;
}

void lab_rows_free(const struct lab_view *v, uint64_t idx, unsigned order)
{
	uint32_t row = (uint32_t)(idx >> LAB_ROW_SHIFT);
	if (order >= LAB_ROW_SHIFT) {
		row_put_huge(v, row);
		if (order > LAB_ROW_SHIFT)
			row_put_huge(v, row + 1);
		counts_add(v, row, 1u << order, -1);
		return;
	}
	lab_a64 *w = &v->bits[idx >> 6];
	if (order <= 6) {
		lab_and_release(w, ~(run_mask(order) << (idx & 63)));
		LAB_YIELD(); /* bits clear, count not yet raised */
	} else {
		for (unsigned t = 0; t < (1u << (order - 6)); t++)
			lab_store_release(&w[t], 0);
	}
	row_give_back(v, row, 1u << order);
	counts_add(v, row, 1u << order, -1);
}

/* Free order-0 rooms in bulk, sorted so that each word and row is touched
 * once. idx[] is sorted in place. */
void lab_rows_free_batch(const struct lab_view *v, int slot, uint32_t *idx, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t x = idx[i];
		unsigned j = i;
		for (; j > 0 && idx[j - 1] > x; j--)
			idx[j] = idx[j - 1];
		idx[j] = x;
	}
	for (unsigned i = 0; i < n;) {
		uint32_t row = idx[i] >> LAB_ROW_SHIFT;
		uint32_t cnt = 0;
		while (i < n && (idx[i] >> LAB_ROW_SHIFT) == row) {
			uint32_t word = idx[i] >> 6;
			uint64_t mask = 0;
			while (i < n && (idx[i] >> 6) == word) {
				mask |= 1ull << (idx[i] & 63);
				i++;
				cnt++;
			}
			lab_and_release(&v->bits[word], ~mask);
		}
		row_give_back(v, row, cnt);
		counts_add(v, row, cnt, slot);
	}
}

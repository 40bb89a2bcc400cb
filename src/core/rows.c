/* SPDX-License-Identifier: MIT */
/* Rows and the bitfield: searching, claiming and releasing blocks.
 *
 * Protocol (see docs/DESIGN.md): an allocator first reserves rooms from the
 * row entry's free count with a CAS, then sets that many bits with CAS on
 * the row's words. A free clears bits first, then adds to the count. So the
 * number of clear bits in a row is never below its count plus the
 * reservations not yet claimed, and a reservation always finds its bits.
 */
#include "core.h"

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

/* Take up to want rooms from the row count; the number taken. */
static uint32_t row_reserve_upto(lab_a32 *re, uint32_t want)
{
	uint32_t e = lab_load_relaxed(re);
	for (;;) {
		uint32_t c = e & LAB_ROW_COUNT;
		if ((e & LAB_ROW_HUGE) || c == 0)
			return 0;
		uint32_t k = c < want ? c : want;
		if (lab_cas_acq_rel(re, &e, e - k))
			return k;
	}
}

static bool row_reserve(lab_a32 *re, uint32_t n)
{
	uint32_t e = lab_load_relaxed(re);
	do {
		if ((e & LAB_ROW_HUGE) || (e & LAB_ROW_COUNT) < n)
			return false;
	} while (!lab_cas_acq_rel(re, &e, e - n));
	return true;
}

/* A whole free row becomes HUGE. */
static bool row_take_huge(const struct lab_view *v, uint32_t row)
{
	uint32_t e = LAB_ROW_ROOMS;
	return atomic_compare_exchange_strong_explicit(&v->rows[row], &e, LAB_ROW_HUGE,
						       memory_order_acq_rel, memory_order_relaxed);
}

static void counts_sub(const struct lab_view *v, uint32_t row, uint32_t n)
{
	lab_sub_relaxed(&v->groups[row >> LAB_GROUP_SHIFT], n);
	if (v->track_nfree)
		lab_sub_relaxed(&v->m->nfree, n);
}

static void counts_add(const struct lab_view *v, uint32_t row, uint32_t n)
{
	lab_add_relaxed(&v->groups[row >> LAB_GROUP_SHIFT], n);
	if (v->track_nfree)
		lab_add_relaxed(&v->m->nfree, n);
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
				uint64_t f = ~w, take = 0;
				for (uint32_t need = k - got; f && need; need--) {
					uint64_t low = f & (0 - f);
					take |= low;
					f ^= low;
				}
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
			if (!atomic_compare_exchange_strong_explicit(&b[j + t], &z, ~0ull,
								     memory_order_acq_rel,
								     memory_order_relaxed))
				break;
		}
		if (t == nw)
			return (long)(base + j * 64u);
		while (t--) /* roll back the words we set */
			lab_store_release(&b[j + t], 0);
	}
	return -1;
}

/* Take a whole row (order 9) or an aligned pair of rows (order 10). */
static bool row_try_huge(const struct lab_view *v, uint32_t row, unsigned order)
{
	if (order == LAB_ROW_SHIFT)
		return row_take_huge(v, row);
	if ((row & 1) || row + 1 >= v->nrows || !row_take_huge(v, row))
		return false;
	if (!row_take_huge(v, row + 1)) {
		lab_store_release(&v->rows[row], LAB_ROW_ROOMS);
		return false;
	}
	return true;
}

/* Scan groups from the hint's group, rows within a group. Small requests
 * prefer partly used rows so that whole rows stay free for huge blocks. */
typedef long (*row_fn)(const struct lab_view *v, uint32_t row, unsigned order, uint32_t *out,
		       uint32_t want);

static long search(const struct lab_view *v, uint32_t hint, unsigned order, row_fn fn,
		   uint32_t *out, uint32_t want)
{
	uint32_t need = order > LAB_ROW_SHIFT ? 2 * LAB_ROW_ROOMS : 1u << order;
	uint32_t row_need = need > LAB_ROW_ROOMS ? LAB_ROW_ROOMS : need;
	bool huge = order >= LAB_ROW_SHIFT;
	uint32_t g0 = (hint < v->nrows ? hint : 0) >> LAB_GROUP_SHIFT;
	/* pass 0: partly used rows anywhere (small requests only), so that
	 * small blocks pack together; pass 1: any row, whole free ones too */
	for (int pass = huge ? 1 : 0; pass < 2; pass++) {
		for (uint32_t gi = 0; gi < v->ngroups; gi++) {
			uint32_t g = g0 + gi;
			if (g >= v->ngroups)
				g -= v->ngroups;
			uint32_t gc = lab_load_relaxed(&v->groups[g]);
			if (gc < need)
				continue;
			uint32_t r0 = g << LAB_GROUP_SHIFT;
			uint32_t r1 = r0 + LAB_GROUP_ROWS;
			if (r1 > v->nrows)
				r1 = v->nrows;
			uint64_t gcap = v->pages - ((uint64_t)r0 << LAB_ROW_SHIFT);
			if (gcap > (uint64_t)(r1 - r0) << LAB_ROW_SHIFT)
				gcap = (uint64_t)(r1 - r0) << LAB_ROW_SHIFT;
			if (pass == 0 && gc == gcap)
				continue; /* an untouched group has no partly used row */
			uint32_t rs = (gi == 0 && hint >= r0 && hint < r1) ? hint : r0;
			for (uint32_t k = 0; k < r1 - r0; k++) {
				uint32_t r = rs + k;
				if (r >= r1)
					r -= (r1 - r0);
				uint32_t e = lab_load_relaxed(&v->rows[r]);
				uint32_t c = e & LAB_ROW_COUNT;
				if ((e & LAB_ROW_HUGE) || c < row_need)
					continue;
				if (pass == 0 && c == lab_row_capacity(v, r))
					continue;
				long res = fn(v, r, order, out, want);
				if (res >= 0)
					return res;
			}
		}
	}
	return -1;
}

static long try_block(const struct lab_view *v, uint32_t row, unsigned order, uint32_t *out,
		      uint32_t want)
{
	(void)out;
	(void)want;
	if (order >= LAB_ROW_SHIFT) {
		if (!row_try_huge(v, row, order))
			return -1;
		counts_sub(v, row, 1u << order);
		return (long)((uint64_t)row << LAB_ROW_SHIFT);
	}
	uint32_t n = 1u << order;
	if (!row_reserve(&v->rows[row], n))
		return -1;
	LAB_YIELD(); /* reserved, not yet claimed */
	long idx = row_claim_run(v, row, order);
	if (idx < 0) {
		lab_add_release(&v->rows[row], n);
		return -1;
	}
	counts_sub(v, row, n);
	return idx;
}

long lab_rows_alloc(const struct lab_view *v, unsigned order, uint32_t hint, uint32_t ow)
{
	long idx = search(v, hint, order, try_block, 0, 0);
	LAB_YIELD();  /* claimed, owner not yet written */
	if (idx >= 0) /* publish the owner; pairs with the acquire in free */
		lab_store_release(&v->owners[idx], ow);
	return idx;
}

static long try_batch(const struct lab_view *v, uint32_t row, unsigned order, uint32_t *out,
		      uint32_t want)
{
	(void)order;
	uint32_t k = row_reserve_upto(&v->rows[row], want);
	if (!k)
		return -1;
	LAB_YIELD(); /* reserved, not yet claimed */
	row_claim_bits(v, row, k, out);
	counts_sub(v, row, k);
	return (long)(((uint64_t)row << 32) | k);
}

unsigned lab_rows_take(const struct lab_view *v, uint32_t *hint, unsigned want, uint32_t *out)
{
	long r = search(v, *hint, 0, try_batch, out, want);
	if (r < 0)
		return 0;
	*hint = (uint32_t)((uint64_t)r >> 32);
	return (unsigned)(r & 0xffffffff);
}

void lab_rows_free(const struct lab_view *v, uint64_t idx, unsigned order)
{
	uint32_t row = (uint32_t)(idx >> LAB_ROW_SHIFT);
	if (order >= LAB_ROW_SHIFT) {
		lab_store_release(&v->rows[row], LAB_ROW_ROOMS);
		if (order > LAB_ROW_SHIFT)
			lab_store_release(&v->rows[row + 1], LAB_ROW_ROOMS);
		counts_add(v, row, 1u << order);
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
	lab_add_release(&v->rows[row], 1u << order);
	counts_add(v, row, 1u << order);
}

/* Free order-0 rooms in bulk, sorted so that each word and row is touched
 * once. idx[] is sorted in place. */
void lab_rows_free_batch(const struct lab_view *v, uint32_t *idx, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t x = idx[i];
		unsigned j = i;
		for (; j > 0 && idx[j - 1] > x; j--)
			idx[j] = idx[j - 1];
		idx[j] = x;
	}
	uint64_t total = 0;
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
		lab_add_release(&v->rows[row], cnt);
		lab_add_relaxed(&v->groups[row >> LAB_GROUP_SHIFT], cnt);
		total += cnt;
	}
	if (total && v->track_nfree)
		lab_add_relaxed(&v->m->nfree, total);
}

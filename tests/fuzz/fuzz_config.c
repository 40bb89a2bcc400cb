/* SPDX-License-Identifier: MIT */
/* fuzz_config: creation parameters. Bytes become a
 * struct lab_config: page_size (0, powers of two, not powers of two, huge),
 * pages (0, 1, ..., overflowing), reserve, flags (unknown bits too), the
 * reserved fields, memory (NULL, an aligned or misaligned pointer into a
 * buffer of ours, a pointer near the top of the address space). The result
 * must follow the documented rules:
 *   -EINVAL   page size not a power of two, below 4096 or above
 *             LAB_MAX_PAGE_SIZE, zero pages,
 *             reserve > pages, unknown flags, nonzero reserved fields,
 *             NO_MEMORY with memory, misaligned memory, memory + size past
 *             the end of the address space, more rooms than the maze can
 *             index (an implementation limit the header does not state);
 *   -EOVERFLOW pages * page_size overflows;
 *   0         otherwise; where both an -EINVAL and the overflow apply, the
 *             header gives no precedence, so either is accepted.
 * A maze that was made must report its configuration in lab_stats, pass
 * lab_validate and hand out and take back a room (and its largest block).
 * To keep memory small, configurations expected to succeed are kept at or
 * below 2^22 rooms (larger counts are folded below 2^17), and ones whose
 * rooms would span more than 64 GiB (256 MiB under ASan) are made
 * index-only. */
#define _GNU_SOURCE
#include "fuzz.h"
#include <errno.h>
#include <labyrinth.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FC_MAX_ROOMS ((size_t)1 << 22)	 /* rooms of a maze we make */
#define FC_SMALL_ROOMS ((size_t)1 << 17) /* larger counts are folded below this */
/* Address space of a maze we make with its own memory. Under ASan,
 * lab_destroy rewrites the shadow of the whole span (1/8 of it), so the
 * bound is lower there. */
#if defined(__SANITIZE_ADDRESS__)
#define FC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FC_ASAN 1
#endif
#endif
#ifdef FC_ASAN
#define FC_MAX_SPAN ((size_t)256 << 20)
#define FC_ASAN_POISON_MAX ((size_t)64 << 20) /* LAB_POISON_MAX in src/internal.h */
#else
#define FC_MAX_SPAN ((size_t)64 << 30)
#endif
#define FC_LIMIT_ROOMS ((size_t)1 << 31) /* the library's limit (maze.c) */
#define FC_BUF_ALIGN ((size_t)8 << 20)	 /* our buffer: 8 MiB, aligned to 8 MiB */

struct fc_in {
	const uint8_t *p;
	size_t n;
};

static unsigned in8(struct fc_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint64_t in64(struct fc_in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)in8(in) << (8 * i);
	return v;
}

static char fc_desc[512];

static void fuzz_context(FILE *out)
{
	fputs(fc_desc, out);
}

/* An 8 MiB region aligned to 8 MiB, for caller-memory mazes. */
static unsigned char *fc_buf;

static void setup_once(void)
{
	if (fc_buf)
		return;
	void *p = mmap(NULL, 2 * FC_BUF_ALIGN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		abort();
	}
	uintptr_t a = ((uintptr_t)p + FC_BUF_ALIGN - 1) & ~(uintptr_t)(FC_BUF_ALIGN - 1);
	fc_buf = (unsigned char *)a;
}

static size_t pick_page_size(struct fc_in *in)
{
	unsigned b = in8(in);
	switch (b % 8) {
	case 0:
		return 0;
	case 1:
	case 2:
		return (size_t)4096 << (in8(in) % 8); /* 4 KiB .. 512 KiB */
	case 3:
		return (size_t)1 << (in8(in) % 64); /* any power of two */
	case 4: {
		static const size_t s[] = { 4096,
					    (size_t)2 << 20,
					    (size_t)1 << 30,
					    1,
					    2048,
					    4097,
					    4095,
					    12288,
					    8191,
					    (size_t)1 << 63,
					    SIZE_MAX,
					    SIZE_MAX - 4095,
					    3 << 20,
					    (size_t)LAB_MAX_PAGE_SIZE,
					    (size_t)LAB_MAX_PAGE_SIZE << 1 };
		return s[in8(in) % (sizeof s / sizeof s[0])];
	}
	case 5:
		return (size_t)in64(in, 8);
	case 6:
		return ((size_t)4096 << (in8(in) % 20)) + (in8(in) % 3) - 1; /* off by one */
	default:
		return (size_t)in64(in, 3);
	}
}

static size_t pick_pages(struct fc_in *in)
{
	unsigned b = in8(in);
	switch (b % 8) {
	case 0:
		return in8(in) % 4; /* 0..3 */
	case 1:
	case 2:
		return (size_t)in64(in, 2);
	case 3:
		return (size_t)in64(in, 3);
	case 4: {
		static const size_t s[] = { 0,
					    1,
					    511,
					    512,
					    513,
					    1024,
					    FC_MAX_ROOMS,
					    FC_LIMIT_ROOMS,
					    FC_LIMIT_ROOMS + 1,
					    SIZE_MAX,
					    SIZE_MAX / 4096,
					    SIZE_MAX / 4096 + 1,
					    ((size_t)1 << 52) + 1 };
		return s[in8(in) % (sizeof s / sizeof s[0])];
	}
	case 5:
		return (size_t)in64(in, 8);
	case 6:
		return (size_t)1 << (in8(in) % 64);
	default:
		return ((size_t)1 << (in8(in) % 64)) + 1;
	}
}

/* The expected result: bit 0 an -EINVAL rule applies, bit 1 the overflow. */
enum {
	WANT_EINVAL = 1,
	WANT_EOVERFLOW = 2
};

static unsigned expect(const struct lab_config *cfg)
{
	unsigned w = 0;
	size_t ps = cfg->page_size ? cfg->page_size : 4096;
	if (ps < 4096 || (ps & (ps - 1)) || (uint64_t)ps > LAB_MAX_PAGE_SIZE)
		w |= WANT_EINVAL;
	if (cfg->pages == 0 || cfg->reserve > cfg->pages)
		w |= WANT_EINVAL;
	if (cfg->flags & ~(unsigned)(LAB_NO_MEMORY | LAB_HUGETLB | LAB_GENERATIONS))
		w |= WANT_EINVAL;
	for (size_t i = 0; i < sizeof cfg->reserved_ / sizeof cfg->reserved_[0]; i++)
		if (cfg->reserved_[i])
			w |= WANT_EINVAL;
	size_t span;
	bool ovf = __builtin_mul_overflow(cfg->pages, ps, &span);
	if (ovf)
		w |= WANT_EOVERFLOW;
	if (cfg->pages > FC_LIMIT_ROOMS)
		w |= WANT_EINVAL;
	if ((cfg->flags & LAB_NO_MEMORY) && cfg->memory)
		w |= WANT_EINVAL;
	if (cfg->memory && ((uintptr_t)cfg->memory & (ps - 1)))
		w |= WANT_EINVAL;
	if (cfg->memory && !ovf && (uintptr_t)cfg->memory > UINTPTR_MAX - span)
		w |= WANT_EINVAL;
	return w;
}

static void describe(const struct lab_config *cfg)
{
	snprintf(fc_desc, sizeof fc_desc,
		 "lab_create(page_size %#zx, pages %#zx, reserve %#zx, memory %p, flags %#x, "
		 "reserved_[0] %#x)",
		 cfg->page_size, cfg->pages, cfg->reserve, cfg->memory, cfg->flags,
		 cfg->reserved_[0]);
}

static unsigned max_order_of(size_t pages)
{
	unsigned mo = 0;
	while (mo < LAB_MAX_ORDER && ((size_t)2 << mo) <= pages)
		mo++;
	return mo;
}

/* A maze that was made: its figures, its invariants, a room and a block. */
static void check_maze(struct labyrinth *m, const struct lab_config *cfg)
{
	size_t ps = cfg->page_size ? cfg->page_size : 4096;
	struct lab_stats st;
	lab_stats(m, &st);
	EXPECT(st.pages == cfg->pages && st.free == cfg->pages && st.reserve == cfg->reserve &&
		       st.page_size == ps,
	       "lab_stats: pages %zu free %zu reserve %zu page_size %zu", st.pages, st.free,
	       st.reserve, st.page_size);
	EXPECT(st.cached == 0 && st.waiters == 0, "cached %zu waiters %zu", st.cached, st.waiters);
	EXPECT(st.rows == (cfg->pages + 511) / 512, "rows %zu", st.rows);
	EXPECT(st.huge_free == cfg->pages / 512, "huge_free %zu", st.huge_free);
	unsigned mo = max_order_of(cfg->pages);
	EXPECT(st.max_order == mo, "max_order %zu, want %u", st.max_order, mo);
	EXPECT(st.meta_bytes > 0 && st.meta_bits_per_room >= 32, "meta_bytes %zu, bits %zu",
	       st.meta_bytes, st.meta_bits_per_room);
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	EXPECT(rc == 0, "lab_validate = %d: %s", rc, why);

	bool index_only = cfg->flags & LAB_NO_MEMORY;
	char *base = lab_index_page(m, 0);
	if (index_only)
		EXPECT(base == NULL, "index-only maze has an address");
	else
		EXPECT(base != NULL, "no room memory");
	if (cfg->memory)
		EXPECT(base == cfg->memory, "caller memory %p, room 0 at %p", cfg->memory,
		       (void *)base);
	else if (base)
		EXPECT(((uintptr_t)base & ((ps << mo) - 1)) == 0,
		       "room memory %p not aligned to its largest block", (void *)base);
	EXPECT(lab_index_page(m, cfg->pages) == NULL, "an address past the last room");

	/* the reserve: NOWAIT sees the maze as full when only reserve rooms are left */
	long r = lab_alloc_index(m, LAB_GFP_NOWAIT, 0);
	if (cfg->reserve == cfg->pages) {
		EXPECT(r == -ENOMEM, "NOWAIT with every room reserved = %ld", r);
	} else {
		EXPECT(r >= 0 && (size_t)r < cfg->pages, "NOWAIT alloc = %ld", r);
		EXPECT(lab_free_index(m, (size_t)r, 0) == 0, "free of room %ld", r);
	}

	/* one room and the largest block, by address when there is memory */
	for (unsigned order = 0; order <= mo; order += mo ? mo : 1) {
		size_t idx;
		if (base) {
			char *p = lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, order);
			EXPECT(p != NULL, "order %u alloc failed", order);
			long i = lab_page_index(m, p);
			EXPECT(i >= 0 && ((size_t)i & (((size_t)1 << order) - 1)) == 0,
			       "order %u at room %ld", order, i);
			idx = (size_t)i;
			if (!cfg->memory)
				EXPECT(((uintptr_t)p & ((ps << order) - 1)) == 0,
				       "order %u block %p unaligned", order, (void *)p);
			/* touch it, unless it may be a huge page of the system's pool.
			 * Under ASan, not a block above 64 MiB in a maze above 64 MiB:
			 * the library leaves such blocks as they were, and a room freed
			 * (poisoned) earlier stays poisoned inside them (a false
			 * use-after-poison; reported, corpus file asan-big-block). */
			bool touch = !(cfg->flags & LAB_HUGETLB);
#ifdef FC_ASAN
			if ((ps << order) > FC_ASAN_POISON_MAX &&
			    cfg->pages * ps > FC_ASAN_POISON_MAX)
				touch = false;
#endif
			if (touch) {
				p[0] = 1;
				p[(ps << order) - 1] = 2;
			}
			EXPECT(lab_page_owner(m, p) == lab_self(), "owner");
			EXPECT(lab_free_pages(m, p, order) == 0, "free of order %u", order);
			EXPECT(lab_free_pages(m, p, order) == -ENOENT, "double free");
		} else {
			EXPECT(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL,
			       "index-only maze gave an address");
			long i = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, order);
			EXPECT(i >= 0 && ((size_t)i & (((size_t)1 << order) - 1)) == 0,
			       "order %u at room %ld", order, i);
			idx = (size_t)i;
			EXPECT(lab_index_owner(m, idx) == lab_self(), "owner");
			EXPECT(lab_free_index(m, idx, order) == 0, "free of order %u", order);
			EXPECT(lab_free_index(m, idx, order) == -ENOENT, "double free");
		}
		if (mo == 0)
			break;
	}
	/* above the largest order: -EINVAL past LAB_MAX_ORDER; below it the
	 * header allows either reading (the library says -ENOMEM) */
	long big = lab_alloc_index(m, LAB_GFP_ATOMIC, mo + 1);
	EXPECT(big == -EINVAL || (mo + 1 <= LAB_MAX_ORDER && big == -ENOMEM),
	       "order %u, above the largest: %ld", mo + 1, big);
	lab_drain(m);
	lab_stats(m, &st);
	EXPECT(st.free == cfg->pages && st.cached == 0, "after the round trip: free %zu cached %zu",
	       st.free, st.cached);
	rc = lab_validate(m, why, sizeof why);
	EXPECT(rc == 0, "lab_validate after use = %d: %s", rc, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_in in = { data, size };
	setup_once();
	struct lab_config cfg = { 0 };
	unsigned sel = in8(&in);
	cfg.page_size = pick_page_size(&in);
	cfg.pages = pick_pages(&in);
	switch (in8(&in) % 6) {
	case 0:
	case 1:
		cfg.reserve = 0;
		break;
	case 2:
		cfg.reserve = cfg.pages;
		break;
	case 3:
		cfg.reserve = cfg.pages + 1 + in8(&in) % 4;
		break;
	case 4:
		cfg.reserve = cfg.pages ? (size_t)in64(&in, 3) % cfg.pages : 0;
		break;
	default:
		cfg.reserve = (size_t)in64(&in, 8);
		break;
	}
	unsigned fb = in8(&in);
	cfg.flags = fb & (LAB_NO_MEMORY | LAB_HUGETLB | LAB_GENERATIONS);
	if (fb & 0x80) /* an unknown bit */
		cfg.flags |= 1u << (3 + in8(&in) % 29);
	if ((fb & 0x70) == 0x70)
		cfg.reserved_[in8(&in) % 7] = 1u + in8(&in);
	size_t ps = cfg.page_size ? cfg.page_size : 4096;
	switch ((sel >> 1) % 8) {
	case 0: /* aligned to the room size where it can be, or 4 KiB */
		cfg.memory = fc_buf;
		break;
	case 1: /* misaligned */
		cfg.memory = fc_buf + 1 + in8(&in) * 64u % 4095u;
		break;
	case 2: /* aligned to 4 KiB but maybe not to the room size */
		cfg.memory = fc_buf + 4096 * (1 + in8(&in) % 4);
		break;
	case 3: /* near the top of the address space: memory + size wraps */
		cfg.memory = (void *)(UINTPTR_MAX - (uintptr_t)(in64(&in, 2) << 12) - 4095);
		break;
	default:
		cfg.memory = NULL;
		break;
	}
	if (sel & 1) { /* a NULL out or config pointer */
		struct labyrinth *m = (struct labyrinth *)1;
		snprintf(fc_desc, sizeof fc_desc, "lab_create with a NULL argument");
		EXPECT(lab_create(NULL, &cfg) == -EINVAL, "NULL out");
		EXPECT(lab_create(&m, NULL) == -EINVAL && m == NULL, "NULL config");
	}

	unsigned w = expect(&cfg);
	if (!w) {
		/* it will be made: keep it small */
		if (cfg.pages > FC_MAX_ROOMS)
			cfg.pages = cfg.pages % FC_SMALL_ROOMS + 1;
		if (cfg.reserve > cfg.pages)
			cfg.reserve = cfg.pages;
		if (cfg.memory) {
			/* our buffer holds 8 MiB from fc_buf */
			uintptr_t mem = (uintptr_t)cfg.memory, buf = (uintptr_t)fc_buf;
			size_t off = (size_t)(mem - buf);
			if (mem < buf || off >= FC_BUF_ALIGN || ps > FC_BUF_ALIGN - off) {
				cfg.memory = NULL;
			} else {
				size_t fit = (FC_BUF_ALIGN - off) / ps;
				if (cfg.pages > fit)
					cfg.pages = fit;
				if (cfg.reserve > cfg.pages)
					cfg.reserve = cfg.pages;
			}
		}
		if (!cfg.memory && cfg.pages > FC_MAX_SPAN / ps)
			cfg.flags |= LAB_NO_MEMORY;
		w = expect(&cfg);
		describe(&cfg);
		EXPECT(w == 0, "the clamped configuration became invalid (%u)", w);
	}
	describe(&cfg);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", fc_desc);
	struct labyrinth *m = (struct labyrinth *)1;
	int rc = lab_create(&m, &cfg);
	if (w) {
		bool ok = ((w & WANT_EINVAL) && rc == -EINVAL) ||
			  ((w & WANT_EOVERFLOW) && rc == -EOVERFLOW);
		EXPECT(ok, "= %d, want %s", rc,
		       w == 3 ? "-EINVAL or -EOVERFLOW" :
		       w == 1 ? "-EINVAL" :
				"-EOVERFLOW");
		EXPECT(m == NULL, "failed, but *maze = %p", (void *)m);
		return 0;
	}
	EXPECT(rc == 0, "= %d, want 0", rc);
	EXPECT(m != NULL && m != (struct labyrinth *)1, "made, but *maze = %p", (void *)m);
	check_maze(m, &cfg);
	lab_destroy(m);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* The process-wide default maze and the functions behind
 * <labyrinth/linux.h>.
 *
 * A struct page * is a handle, not an address: ((index + 1) << 8) | gen,
 * where gen is the room's generation when the handle was made (mazes with
 * LAB_GENERATIONS, as the default maze is). Freeing a handle whose
 * generation is no longer the room's (the room was freed and allocated
 * again since) panics as a stale handle, unless it was reallocated a
 * multiple of 256 times in between. */
#define _GNU_SOURCE
#include "internal.h"
#include <labyrinth/linux.h>

#include <errno.h>
#include <stdlib.h>

#define LAB_DEFAULT_PAGES 65536u

/* default_maze: written once by the thread that wins default_state 0 -> 1
 * (release), read with acquire. default_state: 0 none, 1 being made,
 * 2 ready (or failed: default_maze stays NULL). */
static _Atomic(struct labyrinth *) default_maze;
static _Atomic(int) default_state;

static size_t default_pages(void)
{
	const char *s = getenv("LABYRINTH_PAGES");
	if (s && *s) {
		char *end;
		unsigned long long n = strtoull(s, &end, 0);
		if (*end == 0 && n > 0 && n <= LAB_MAX_ROOMS)
			return (size_t)n;
	}
	return LAB_DEFAULT_PAGES;
}

struct labyrinth *lab_default(void)
{
	struct labyrinth *m = atomic_load_explicit(&default_maze, memory_order_acquire);
	if (LAB_LIKELY(m))
		return m;
	int st = 0;
	if (atomic_compare_exchange_strong_explicit(&default_state, &st, 1, memory_order_acq_rel,
						    memory_order_acquire)) {
		struct lab_config cfg = { .page_size = 4096,
					  .pages = default_pages(),
					  .flags = LAB_GENERATIONS };
		struct labyrinth *made = NULL;
		if (lab_create(&made, &cfg) != 0)
			made = NULL;
		struct labyrinth *none = NULL;
		/* lab_set_default may have raced us; keep its choice */
		if (!atomic_compare_exchange_strong_explicit(&default_maze, &none, made,
							     memory_order_acq_rel,
							     memory_order_acquire) &&
		    made)
			lab_destroy(made);
		atomic_store_explicit(&default_state, 2, memory_order_release);
	} else {
		while (atomic_load_explicit(&default_state, memory_order_acquire) != 2 &&
		       !atomic_load_explicit(&default_maze, memory_order_acquire))
			lab_os_yield();
	}
	return atomic_load_explicit(&default_maze, memory_order_acquire);
}

int lab_set_default(struct labyrinth *m)
{
	if (!lab_live(m) || !m->base || m->page_size != 4096)
		return -EINVAL;
	atomic_store_explicit(&default_maze, m, memory_order_release);
	return 0;
}

static struct page *handle_of(const struct labyrinth *m, size_t idx)
{
	return (struct page *)(uintptr_t)(((uintptr_t)(idx + 1) << 8) | lab_generation(m, idx));
}

/* The room index of a handle, or -1 if it cannot be one of this maze's. */
static long index_of(const struct labyrinth *m, const struct page *page)
{
	uintptr_t h = (uintptr_t)page;
	if (!m || (h >> 8) == 0 || (h >> 8) > m->v.pages)
		return -1;
	return (long)((h >> 8) - 1);
}

static _Noreturn void misuse(const char *what, const struct page *page, unsigned order)
{
	struct lab_buf b = { .n = 0 };
	lab_buf_s(&b, "Labyrinth __free_pages failed: ");
	lab_buf_s(&b, what);
	lab_buf_s(&b, " (page handle 0x");
	lab_buf_x(&b, (uintptr_t)page);
	lab_buf_s(&b, ", order ");
	lab_buf_u(&b, order);
	lab_buf_s(&b, ")");
	lab_panic(b.b);
}

struct page *lab_linux_alloc_pages(gfp_t gfp, unsigned order)
{
	struct labyrinth *m = lab_default();
	if (!m || !m->base)
		return NULL;
	long idx = lab_alloc_index(m, gfp, order);
	return idx < 0 ? NULL : handle_of(m, (size_t)idx);
}

void lab_linux_free_pages(struct page *page, unsigned order)
{
	struct labyrinth *m = lab_default();
	long idx = index_of(m, page);
	if (idx < 0)
		misuse("not a page handle of the default maze", page, order);
	if (((uintptr_t)page & 0xff) != lab_generation(m, (size_t)idx))
		misuse("stale handle (the page was freed and allocated again since)", page, order);
	int err = lab_free_index(m, (size_t)idx, order);
	if (LAB_UNLIKELY(err))
		misuse(lab_free_misuse(err), page, order);
}

void *lab_linux_page_address(const struct page *page)
{
	struct labyrinth *m = lab_default();
	long idx = index_of(m, page);
	return idx < 0 ? NULL : lab_index_page(m, (size_t)idx);
}

struct page *lab_linux_virt_to_page(const void *addr)
{
	struct labyrinth *m = lab_default();
	long idx = m ? lab_page_index(m, addr) : -1;
	return idx < 0 ? NULL : handle_of(m, (size_t)idx);
}

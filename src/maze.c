/* SPDX-License-Identifier: MIT */
/* Making and unmaking mazes: configuration checks, memory, the handle pool.
 *
 * Handles come from a static pool used round-robin, so a destroyed handle
 * keeps its poisoned magic until 1024 more mazes were made: a use after
 * destroy is then refused instead of touching unmapped memory. Past 1024
 * live mazes, handles are malloc'd and their threads run without caches. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LAB_EPERM == EPERM && LAB_ENOENT == ENOENT && LAB_ENOMEM == ENOMEM &&
		       LAB_EFAULT == EFAULT && LAB_EINVAL == EINVAL && LAB_EOVERFLOW == EOVERFLOW &&
		       LAB_EUCLEAN == EUCLEAN,
	       "the core's errno values are Linux's");

static struct labyrinth lab_pool[LAB_LIVE_MAX];
/* pool_uid[i]: the uid of the live maze in lab_pool[i], 0 if none. Written
 * by create (after the handle is complete, release) and destroy; read by
 * exiting threads to know whether their slot's maze still exists. */
static _Atomic(uint64_t) pool_uid[LAB_LIVE_MAX];
static _Atomic(uint64_t) next_uid = 1;
static _Atomic(uint32_t) pool_cursor;

bool lab_handle_alive(int reg, uint64_t uid)
{
	return reg >= 0 && atomic_load_explicit(&pool_uid[reg], memory_order_acquire) == uid;
}

struct labyrinth *lab_handle_get(void)
{
	for (uint32_t n = 0; n < LAB_LIVE_MAX; n++) {
		uint32_t i = atomic_fetch_add_explicit(&pool_cursor, 1, memory_order_relaxed) %
			     LAB_LIVE_MAX;
		uint64_t z = 0;
		/* UINT64_MAX marks "being set up" */
		if (atomic_compare_exchange_strong_explicit(&pool_uid[i], &z, UINT64_MAX,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			struct labyrinth *m = &lab_pool[i];
			memset(m, 0, sizeof(*m));
			m->reg = (int)i;
			m->fd = -1;
			return m;
		}
	}
	struct labyrinth *m = calloc(1, sizeof(*m));
	if (m) {
		m->reg = -1;
		m->fd = -1;
	}
	return m;
}

void lab_handle_put(struct labyrinth *m)
{
	atomic_store_explicit(&m->magic, LAB_MAZE_DEAD, memory_order_relaxed);
	if (m->reg >= 0)
		atomic_store_explicit(&pool_uid[m->reg], 0, memory_order_release);
	else
		free(m);
}

static int check_config(const struct lab_config *cfg, size_t *ps, unsigned *shift)
{
	if (!cfg)
		return -EINVAL;
	size_t p = cfg->page_size ? cfg->page_size : 4096;
	if (p < 4096 || (p & (p - 1)) || (uint64_t)p > LAB_MAX_PAGE_SIZE)
		return -EINVAL;
	if (cfg->pages == 0 || cfg->reserve > cfg->pages)
		return -EINVAL;
	if (cfg->flags & ~(unsigned)(LAB_NO_MEMORY | LAB_HUGETLB | LAB_GENERATIONS))
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(cfg->reserved_) / sizeof(cfg->reserved_[0]); i++)
		if (cfg->reserved_[i])
			return -EINVAL;
	unsigned s = (unsigned)__builtin_ctzll(p);
	if (cfg->pages > (SIZE_MAX >> s))
		return -EOVERFLOW;
	if (cfg->pages > LAB_MAX_ROOMS)
		return -EINVAL;
	if ((cfg->flags & LAB_NO_MEMORY) && cfg->memory)
		return -EINVAL;
	if (cfg->memory && ((uintptr_t)cfg->memory & (p - 1)))
		return -EINVAL;
	if (cfg->memory && (uintptr_t)cfg->memory > UINTPTR_MAX - (cfg->pages << s))
		return -EINVAL;
	*ps = p;
	*shift = s;
	return 0;
}

int lab_create(struct labyrinth **out, const struct lab_config *cfg)
{
	size_t ps;
	unsigned shift;
	if (!out)
		return -EINVAL;
	*out = NULL;
	int err = check_config(cfg, &ps, &shift);
	if (err)
		return err;
	lab_thread_setup_once();
	size_t meta_len = lab_core_meta_size(cfg->pages);
	if (!meta_len)
		return -EINVAL;
	meta_len = (meta_len + 4095) & ~(size_t)4095;
	struct labyrinth *m = lab_handle_get();
	if (!m)
		return -ENOMEM;
	/* small metadata is faulted in now, so first use costs no faults */
	m->meta = meta_len <= (256u << 20) ? lab_os_map_populated(meta_len) :
					     lab_os_map(meta_len, 4096, 0);
	if (!m->meta) {
		lab_handle_put(m);
		return -ENOMEM;
	}
	m->meta_len = meta_len;
	lab_core_format(m->meta, cfg->pages, shift, cfg->reserve);
	lab_core_view(&m->v, m->meta);
	m->v.heavy_barrier = lab_os_heavy_barrier();
	m->page_size = ps;
	m->page_shift = shift;
	m->span = cfg->pages << shift;
	m->flags = cfg->flags;
	if (cfg->memory) {
		m->base = cfg->memory;
	} else if (!(cfg->flags & LAB_NO_MEMORY)) {
		/* blocks are aligned to their size, capped at the largest order */
		size_t len = cfg->pages << shift;
		size_t align = ps << m->v.max_order;
		size_t huge = (cfg->flags & LAB_HUGETLB) && ps >= (2u << 20) ? ps : 0;
		if ((cfg->flags & LAB_HUGETLB) && ps == 4096)
			huge = 2u << 20; /* 4 KiB rooms on 2 MiB huge pages */
		if (huge && (len & (huge - 1)))
			huge = 0;
		m->map = lab_os_map(len, align, huge);
		if (!m->map) {
			lab_os_unmap(m->meta, meta_len);
			lab_handle_put(m);
			return -ENOMEM;
		}
		m->map_len = len;
		m->base = m->map;
#ifdef LAB_ASAN
		/* every room starts free: poisoned (small mazes only) */
		if (len <= LAB_POISON_MAX)
			ASAN_POISON_MEMORY_REGION(m->map, len);
#endif
	}
	if (cfg->flags & LAB_GENERATIONS) {
		m->gens = lab_os_map((cfg->pages + 4095) & ~(size_t)4095, 4096, 0);
		if (!m->gens) {
			lab_os_unmap(m->map, m->map_len);
			lab_os_unmap(m->meta, meta_len);
			lab_handle_put(m);
			return -ENOMEM;
		}
	}
	lab_handle_publish(m);
	*out = m;
	return 0;
}

void lab_handle_publish(struct labyrinth *m)
{
	m->uid = atomic_fetch_add_explicit(&next_uid, 1, memory_order_relaxed);
	atomic_store_explicit(&m->magic, LAB_MAZE_MAGIC, memory_order_relaxed);
	if (m->reg >= 0)
		atomic_store_explicit(&pool_uid[m->reg], m->uid, memory_order_release);
}

void lab_handle_renew(struct labyrinth *m)
{
	lab_thread_forget(m);
	m->uid = atomic_fetch_add_explicit(&next_uid, 1, memory_order_relaxed);
	if (m->reg >= 0)
		atomic_store_explicit(&pool_uid[m->reg], m->uid, memory_order_release);
}

void lab_handle_readonly(struct labyrinth *m)
{
	atomic_store_explicit(&m->magic, LAB_MAZE_RO, memory_order_relaxed);
}

void lab_handle_unpublish(struct labyrinth *m)
{
	lab_thread_forget(m);
	atomic_store_explicit(&m->magic, LAB_MAZE_DEAD, memory_order_relaxed);
	if (m->reg >= 0)
		atomic_store_explicit(&pool_uid[m->reg], 0, memory_order_release);
}

void lab_destroy(struct labyrinth *m)
{
	if (lab_readable(m) && m->kind) {
		lab_detach(m);
		return;
	}
	if (!lab_live(m))
		return;
	lab_thread_forget(m);
	atomic_store_explicit(&m->magic, LAB_MAZE_DEAD, memory_order_relaxed);
	if (m->reg >= 0)
		atomic_store_explicit(&pool_uid[m->reg], 0, memory_order_release);
#ifdef LAB_ASAN
	if (m->map && m->map_len <= LAB_POISON_MAX)
		ASAN_UNPOISON_MEMORY_REGION(m->map, m->map_len);
#endif
	lab_os_unmap(m->map, m->map_len);
	lab_os_unmap(m->meta, m->meta_len);
	if (m->gens)
		lab_os_unmap((void *)m->gens, (m->v.pages + 4095) & ~(size_t)4095);
	m->base = NULL;
	if (m->reg < 0)
		free(m);
}

long lab_page_index(const struct labyrinth *m, const void *page)
{
	if (!lab_readable(m) || !m->base || !page)
		return -1;
	uintptr_t p = (uintptr_t)page, b = (uintptr_t)m->base;
	if (p < b || ((p - b) >> m->page_shift) >= m->v.pages)
		return -1;
	return (long)((p - b) >> m->page_shift);
}

void *lab_index_page(const struct labyrinth *m, size_t index)
{
	if (!lab_readable(m) || !m->base || index >= m->v.pages)
		return NULL;
	return m->base + (index << m->page_shift);
}

void lab_stats(const struct labyrinth *m, struct lab_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!lab_readable(m))
		return;
	struct lab_core_stats cs;
	lab_core_stats(&m->v, &cs);
	out->pages = m->v.pages;
	out->free = cs.free;
	out->reserve = m->v.reserve;
	out->page_size = m->page_size;
	out->cached = cs.cached;
	out->huge_free = cs.huge_free;
	out->rows = m->v.nrows;
	out->max_order = m->v.max_order;
	out->waiters = atomic_load_explicit(&m->v.m->waiters, memory_order_relaxed);
	uint64_t gens = m->gens ? m->v.pages : 0;
	out->meta_bytes = cs.meta_bytes + gens;
	/* per room, without the fixed header and thread caches */
	uint64_t scaled = cs.meta_bytes - cs.meta_fixed + gens;
	out->meta_bits_per_room = (size_t)((scaled * 8 + m->v.pages - 1) / m->v.pages);
}

int lab_validate(const struct labyrinth *m, char *why, size_t whylen)
{
	if (!lab_readable(m)) {
		if (why && whylen) {
			strncpy(why, "not a live maze", whylen - 1);
			why[whylen - 1] = 0;
		}
		return -EINVAL;
	}
	return lab_core_validate(&m->v, why, whylen);
}

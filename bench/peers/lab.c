/* SPDX-License-Identifier: MIT */
/* Peers labyrinth (LAB_GFP_ATOMIC|LAB_GFP_EXCLUSIVE, handed over with
 * lab_page_give) and labyrinth-shared (LAB_GFP_ATOMIC). The maze maps its
 * rooms itself (address space only), or is index-only (LAB_NO_MEMORY) for
 * PEER_INDEX_ONLY pools.
 *
 * labyrinth-shm and labyrinth-shm-shared are the same two on a shared maze
 * (lab_create_fd: a memfd holding header, metadata, thread registry and
 * rooms), same config: what sharing costs a process that uses it alone.
 *
 * labyrinth-note is the design note's pair, allocpage_gfp_atomic_exclusive
 * and dealloc_labyrinth_page_exclusive: order 0, exclusive, and a panic
 * instead of NULL, so no workload asks it for a room the pool lacks.
 */
#define _GNU_SOURCE
#include "peer.h"

#include <labyrinth.h>
#include <labyrinth/shared.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GFP_EXCL (LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE)
#define GFP_SHARED LAB_GFP_ATOMIC

struct lab_pool {
	struct peer_pool pool;
	struct labyrinth *m;
	unsigned shift;
};

static inline struct labyrinth *maze(struct peer_pool *p)
{
	return ((struct lab_pool *)p)->m;
}

static void *alloc_excl(struct peer_pool *p, unsigned order)
{
	return order ? lab_alloc_pages(maze(p), GFP_EXCL, order) :
		       lab_alloc_page(maze(p), GFP_EXCL);
}

static void *alloc_shared(struct peer_pool *p, unsigned order)
{
	return order ? lab_alloc_pages(maze(p), GFP_SHARED, order) :
		       lab_alloc_page(maze(p), GFP_SHARED);
}

static int free_page(struct peer_pool *p, void *page, unsigned order)
{
	return order ? lab_free_pages(maze(p), page, order) : lab_free_page(maze(p), page);
}

static void *alloc_note(struct peer_pool *p, unsigned order)
{
	return order ? NULL : allocpage_gfp_atomic_exclusive(maze(p));
}

static int free_note(struct peer_pool *p, void *page, unsigned order)
{
	if (order)
		return -EINVAL;
	dealloc_labyrinth_page_exclusive(maze(p), page);
	return 0;
}

static int give_page(struct peer_pool *p, void *page, uint32_t to)
{
	return lab_page_give(maze(p), page, to);
}

/* Index-only mazes: fake addresses PEER_FAKE_BASE + index << shift. */
static inline void *fake(struct peer_pool *p, long index)
{
	if (index < 0)
		return NULL;
	return (void *)(PEER_FAKE_BASE + ((uintptr_t)index << ((struct lab_pool *)p)->shift));
}

/* The room index of a fake address, or -1 when it cannot be one. */
static inline long unfake(struct peer_pool *p, void *page)
{
	uintptr_t a = (uintptr_t)page, shift = ((struct lab_pool *)p)->shift;

	if (a < PEER_FAKE_BASE || ((a - PEER_FAKE_BASE) & (((uintptr_t)1 << shift) - 1)))
		return -1;
	return (long)((a - PEER_FAKE_BASE) >> shift);
}

static void *ialloc_excl(struct peer_pool *p, unsigned order)
{
	return fake(p, lab_alloc_index(maze(p), GFP_EXCL, order));
}

static void *ialloc_shared(struct peer_pool *p, unsigned order)
{
	return fake(p, lab_alloc_index(maze(p), GFP_SHARED, order));
}

static int ifree_page(struct peer_pool *p, void *page, unsigned order)
{
	long i = unfake(p, page);

	return i < 0 ? -EFAULT : lab_free_index(maze(p), (size_t)i, order);
}

static int igive_page(struct peer_pool *p, void *page, uint32_t to)
{
	long i = unfake(p, page);

	return i < 0 ? -EFAULT : lab_index_give(maze(p), (size_t)i, to);
}

static void drain(struct peer_pool *p)
{
	lab_drain(maze(p));
}

static long huge_free(struct peer_pool *p)
{
	struct lab_stats st;

	lab_stats(maze(p), &st);
	return (long)st.huge_free;
}

static struct peer_pool *create(const struct peer *peer, bool excl, bool shm, size_t pages,
				size_t page_size, unsigned flags, char *why, size_t whylen)
{
	struct lab_pool *l = calloc(1, sizeof(*l));
	struct lab_config cfg;
	bool index_only = flags & PEER_INDEX_ONLY;
	int err;

	if (!l) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = page_size;
	cfg.pages = pages;
	cfg.flags = index_only ? LAB_NO_MEMORY : 0;
	if (shm) {
		int fd = -1;

		/* The mapping keeps the memfd alive; no other process attaches. */
		err = lab_create_fd(&cfg, &fd, &l->m);
		if (!err)
			close(fd);
	} else {
		err = lab_create(&l->m, &cfg);
	}
	if (err) {
		snprintf(why, whylen, "%s: %s (%d)", shm ? "lab_create_fd" : "lab_create",
			 lab_strerror(err), err);
		free(l);
		return NULL;
	}
	l->shift = peer_shift(page_size);
	if (index_only) {
		l->pool.alloc = excl ? ialloc_excl : ialloc_shared;
		l->pool.free = ifree_page;
		l->pool.give = excl ? igive_page : NULL;
	} else if (peer == &peer_labyrinth_note) {
		l->pool.alloc = alloc_note;
		l->pool.free = free_note;
		l->pool.give = give_page;
	} else {
		l->pool.alloc = excl ? alloc_excl : alloc_shared;
		l->pool.free = free_page;
		l->pool.give = excl ? give_page : NULL;
	}
	l->pool.drain = drain;
	l->pool.huge_free = huge_free;
	l->pool.peer = peer;
	l->pool.pages = pages;
	l->pool.page_size = page_size;
	return &l->pool;
}

static struct peer_pool *create_excl(size_t pages, size_t page_size, unsigned flags, char *why,
				     size_t whylen)
{
	return create(&peer_labyrinth, true, false, pages, page_size, flags, why, whylen);
}

static struct peer_pool *create_shared(size_t pages, size_t page_size, unsigned flags, char *why,
				       size_t whylen)
{
	return create(&peer_labyrinth_shared, false, false, pages, page_size, flags, why, whylen);
}

static struct peer_pool *create_shm_excl(size_t pages, size_t page_size, unsigned flags, char *why,
					 size_t whylen)
{
	return create(&peer_labyrinth_shm, true, true, pages, page_size, flags, why, whylen);
}

static struct peer_pool *create_shm_shared(size_t pages, size_t page_size, unsigned flags,
					   char *why, size_t whylen)
{
	return create(&peer_labyrinth_shm_shared, false, true, pages, page_size, flags, why,
		      whylen);
}

static struct peer_pool *create_note(size_t pages, size_t page_size, unsigned flags, char *why,
				     size_t whylen)
{
	return create(&peer_labyrinth_note, true, false, pages, page_size, flags, why, whylen);
}

static void destroy(struct peer_pool *p)
{
	if (!p)
		return;
	lab_destroy(maze(p)); /* lab_detach for a shared maze */
	free(p);
}

static uint32_t self(void)
{
	return lab_self();
}

const struct peer peer_labyrinth = {
	.name = "labyrinth",
	.caps = PEER_ORDERS | PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS | PEER_GIVE,
	.about = "lab_alloc_page(s)(LAB_GFP_ATOMIC|LAB_GFP_EXCLUSIVE), lab_free_page(s), "
		 "lab_page_give",
	.create = create_excl,
	.destroy = destroy,
	.self = self,
};

const struct peer peer_labyrinth_shared = {
	.name = "labyrinth-shared",
	.caps = PEER_ORDERS | PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS,
	.about = "lab_alloc_page(s)(LAB_GFP_ATOMIC), lab_free_page(s): any thread frees",
	.create = create_shared,
	.destroy = destroy,
	.self = NULL,
};

const struct peer peer_labyrinth_shm = {
	.name = "labyrinth-shm",
	.caps = PEER_ORDERS | PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS | PEER_GIVE | PEER_OPTIN,
	.about = "labyrinth on a shared maze (lab_create_fd, a memfd): ATOMIC|EXCLUSIVE, "
		 "lab_page_give",
	.create = create_shm_excl,
	.destroy = destroy,
	.self = self,
};

const struct peer peer_labyrinth_shm_shared = {
	.name = "labyrinth-shm-shared",
	.caps = PEER_ORDERS | PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS | PEER_OPTIN,
	.about = "labyrinth-shared on a shared maze (lab_create_fd, a memfd): ATOMIC",
	.create = create_shm_shared,
	.destroy = destroy,
	.self = NULL,
};

const struct peer peer_labyrinth_note = {
	.name = "labyrinth-note",
	.caps = PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS | PEER_GIVE | PEER_OPTIN | PEER_NOFAIL,
	.about = "allocpage_gfp_atomic_exclusive, dealloc_labyrinth_page_exclusive (the design "
		 "note's pair; panics when full), lab_page_give",
	.create = create_note,
	.destroy = destroy,
	.self = self,
};

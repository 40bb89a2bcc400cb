/* SPDX-License-Identifier: MIT */
/* Peer scan: the design note's linear CAS scan with a shared cursor
 * (bench/scan.c). Order 0 only; async-signal-safe
 * (a CAS claim and a store free, no lock).
 */
#define _GNU_SOURCE
#include "peer.h"
#include "scan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct scan_pool {
	struct peer_pool pool;
	struct scan *s;
	unsigned shift;
};

static inline struct scan *sc(struct peer_pool *p)
{
	return ((struct scan_pool *)p)->s;
}

static void *alloc_room(struct peer_pool *p, unsigned order)
{
	return order ? NULL : scan_alloc_page(sc(p));
}

static int free_room(struct peer_pool *p, void *page, unsigned order)
{
	return order ? -EINVAL : scan_free_page(sc(p), page);
}

/* Index-only: fake addresses PEER_FAKE_BASE + index << shift. */
static void *ialloc_room(struct peer_pool *p, unsigned order)
{
	long i = order ? -1 : scan_alloc_index(sc(p));

	return i < 0 ? NULL :
		       (void *)(PEER_FAKE_BASE + ((uintptr_t)i << ((struct scan_pool *)p)->shift));
}

static int ifree_room(struct peer_pool *p, void *page, unsigned order)
{
	uintptr_t a = (uintptr_t)page, shift = ((struct scan_pool *)p)->shift;

	if (order)
		return -EINVAL;
	if (a < PEER_FAKE_BASE || ((a - PEER_FAKE_BASE) & (((uintptr_t)1 << shift) - 1)))
		return -EFAULT;
	return scan_free_index(sc(p), (a - PEER_FAKE_BASE) >> shift);
}

static struct peer_pool *create(size_t pages, size_t page_size, unsigned flags, char *why,
				size_t whylen)
{
	struct scan_pool *s = calloc(1, sizeof(*s));
	bool index_only = flags & PEER_INDEX_ONLY;

	if (!s) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	s->s = scan_create(pages, page_size, !index_only);
	if (!s->s) {
		snprintf(why, whylen, "scan_create(%zu rooms) failed", pages);
		free(s);
		return NULL;
	}
	s->shift = peer_shift(page_size);
	s->pool.alloc = index_only ? ialloc_room : alloc_room;
	s->pool.free = index_only ? ifree_room : free_room;
	s->pool.peer = &peer_scan;
	s->pool.pages = pages;
	s->pool.page_size = page_size;
	return &s->pool;
}

static void destroy(struct peer_pool *p)
{
	if (!p)
		return;
	scan_destroy(sc(p));
	free(p);
}

const struct peer peer_scan = {
	.name = "scan",
	.caps = PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS,
	.about = "the design note's linear CAS scan with a shared cursor (bench/scan.c)",
	.create = create,
	.destroy = destroy,
};

/* Peer mimalloc: mi_malloc_aligned(size, size) and mi_free, size =
 * page_size << order (naturally aligned blocks). Unbounded.
 */
#define _GNU_SOURCE
#include "peer.h"

#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>

static void *alloc_block(struct peer_pool *p, unsigned order)
{
	size_t size = p->page_size << order;

	return mi_malloc_aligned(size, size);
}

static int free_block(struct peer_pool *p, void *page, unsigned order)
{
	(void)p;
	(void)order;
	mi_free(page);
	return 0;
}

static struct peer_pool *create(size_t pages, size_t page_size, unsigned flags, char *why,
				size_t whylen)
{
	struct peer_pool *p = calloc(1, sizeof(*p));

	(void)flags;
	if (!p) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	p->alloc = alloc_block;
	p->free = free_block;
	p->peer = &peer_mimalloc;
	p->pages = pages;
	p->page_size = page_size;
	return p;
}

static void destroy(struct peer_pool *p)
{
	free(p);
}

const struct peer peer_mimalloc = {
	.name = "mimalloc",
	.caps = PEER_ORDERS | PEER_THREADS,
	.about = "mi_malloc_aligned(page_size << order, page_size << order) / mi_free",
	.create = create,
	.destroy = destroy,
};

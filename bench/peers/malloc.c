/* Peer glibc, jemalloc or tcmalloc (by build: the runner binary links the
 * allocator that replaces malloc): posix_memalign(size, size) and free, where
 * size = page_size << order, so that blocks are naturally aligned (for order
 * 0 it is posix_memalign(page_size, page_size)). Unbounded: the pool size is
 * only used by the workloads.
 */
#define _GNU_SOURCE
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(RUNNER_JEMALLOC)
#define MALLOC_NAME "jemalloc"
#elif defined(RUNNER_TCMALLOC)
#define MALLOC_NAME "tcmalloc"
#else
#define MALLOC_NAME "glibc"
#endif

static void *alloc_block(struct peer_pool *p, unsigned order)
{
	size_t size = p->page_size << order;
	void *page;

	return posix_memalign(&page, size, size) ? NULL : page;
}

static int free_block(struct peer_pool *p, void *page, unsigned order)
{
	(void)p;
	(void)order;
	free(page);
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
	p->peer = &peer_malloc;
	p->pages = pages;
	p->page_size = page_size;
	return p;
}

static void destroy(struct peer_pool *p)
{
	free(p);
}

const struct peer peer_malloc = {
	.name = MALLOC_NAME,
	.caps = PEER_ORDERS | PEER_THREADS,
	.about = MALLOC_NAME " posix_memalign(page_size << order, page_size << order) / free",
	.create = create,
	.destroy = destroy,
};

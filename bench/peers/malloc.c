/* SPDX-License-Identifier: MIT */
/* Peer glibc, jemalloc, tcmalloc or mimalloc (by build: the runner binary
 * links the allocator that replaces malloc): posix_memalign(size, size) and
 * free (mi_malloc_aligned and mi_free for mimalloc), where size = page_size
 * << order, so that blocks are naturally aligned. Unbounded: the pool size
 * is only used by the workloads.
 */
#define _GNU_SOURCE
#include "peer.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(RUNNER_MIMALLOC)
#include <mimalloc.h>
#define MALLOC_NAME "mimalloc"
#define MALLOC_ABOUT "mi_malloc_aligned(page_size << order, page_size << order) / mi_free"
#define PEER_SELF peer_mimalloc
#else
#if defined(RUNNER_JEMALLOC)
#define MALLOC_NAME "jemalloc"
#elif defined(RUNNER_TCMALLOC)
#define MALLOC_NAME "tcmalloc"
#else
#define MALLOC_NAME "glibc"
#endif
#define MALLOC_ABOUT MALLOC_NAME " posix_memalign(page_size << order, page_size << order) / free"
#define PEER_SELF peer_malloc
#endif

static void *alloc_block(struct peer_pool *p, unsigned order)
{
	size_t size = p->page_size << order;
#if defined(RUNNER_MIMALLOC)
	return mi_malloc_aligned(size, size);
#else
	void *page;

	return posix_memalign(&page, size, size) ? NULL : page;
#endif
}

static int free_block(struct peer_pool *p, void *page, unsigned order)
{
	(void)p;
	(void)order;
#if defined(RUNNER_MIMALLOC)
	mi_free(page);
#else
	free(page);
#endif
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
	p->peer = &PEER_SELF;
	p->pages = pages;
	p->page_size = page_size;
	return p;
}

static void destroy(struct peer_pool *p)
{
	free(p);
}

const struct peer PEER_SELF = {
	.name = MALLOC_NAME,
	.caps = PEER_ORDERS | PEER_THREADS,
	.about = MALLOC_ABOUT,
	.create = create,
	.destroy = destroy,
};

/* SPDX-License-Identifier: MIT */
/* Peer mmap: one anonymous private mapping of page_size << order bytes per
 * block, munmap to free. Blocks larger than the system page are aligned by
 * mapping twice the size and unmapping the excess (two extra syscalls).
 * Unbounded. Not marked signal-safe: mmap and munmap are not on POSIX's list
 * of async-signal-safe functions.
 */
#define _GNU_SOURCE
#include "peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct mmap_pool {
	struct peer_pool pool;
	size_t sys_page;
};

static void *alloc_block(struct peer_pool *p, unsigned order)
{
	size_t size = p->page_size << order;
	uintptr_t a, aligned;
	char *m;

	if (size <= ((struct mmap_pool *)p)->sys_page) {
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return m == MAP_FAILED ? NULL : m;
	}
	m = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = (uintptr_t)m;
	aligned = (a + size - 1) & ~(uintptr_t)(size - 1);
	if (aligned > a)
		munmap(m, aligned - a);
	if (aligned + size < a + 2 * size)
		munmap((char *)aligned + size, a + 2 * size - (aligned + size));
	return (void *)aligned;
}

static int free_block(struct peer_pool *p, void *page, unsigned order)
{
	return munmap(page, p->page_size << order) ? -errno : 0;
}

static struct peer_pool *create(size_t pages, size_t page_size, unsigned flags, char *why,
				size_t whylen)
{
	struct mmap_pool *m = calloc(1, sizeof(*m));
	long sys = sysconf(_SC_PAGESIZE);

	(void)flags;
	if (!m) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	m->sys_page = sys > 0 ? (size_t)sys : 4096;
	m->pool.alloc = alloc_block;
	m->pool.free = free_block;
	m->pool.peer = &peer_mmap;
	m->pool.pages = pages;
	m->pool.page_size = page_size;
	return &m->pool;
}

static void destroy(struct peer_pool *p)
{
	free(p);
}

const struct peer peer_mmap = {
	.name = "mmap",
	.caps = PEER_ORDERS | PEER_THREADS,
	.about = "mmap / munmap of page_size << order bytes (aligned by over-mapping)",
	.create = create,
	.destroy = destroy,
};

/* SPDX-License-Identifier: MIT */
/* Peer mutex-list: a free list of preallocated rooms behind one
 * pthread mutex (a next index per room, beside the rooms). Order 0 only; not
 * signal-safe (a handler that interrupts the holder deadlocks).
 */
#define _GNU_SOURCE
#include "rooms.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

struct mutex_pool {
	struct peer_pool pool;
	uint32_t *next; /* next[i]: the room after room i in the list */
	char *base;
	unsigned shift;
	pthread_mutex_t lock;
	uint32_t head; /* under lock */
};

static void *alloc_room(struct peer_pool *p, unsigned order)
{
	struct mutex_pool *m = (struct mutex_pool *)p;
	uint32_t i;

	if (order)
		return NULL;
	pthread_mutex_lock(&m->lock);
	i = m->head;
	if (i != NONE)
		m->head = m->next[i];
	pthread_mutex_unlock(&m->lock);
	return i == NONE ? NULL : m->base + ((size_t)i << m->shift);
}

static int free_room(struct peer_pool *p, void *page, unsigned order)
{
	struct mutex_pool *m = (struct mutex_pool *)p;
	long i = rooms_index(m->base, p->pages, m->shift, page);

	if (order || i < 0)
		return order ? -EINVAL : -EFAULT;
	pthread_mutex_lock(&m->lock);
	m->next[i] = m->head;
	m->head = (uint32_t)i;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void destroy(struct peer_pool *p)
{
	struct mutex_pool *m = (struct mutex_pool *)p;

	if (!m)
		return;
	rooms_unmap(m->base, p->pages, p->page_size);
	pthread_mutex_destroy(&m->lock);
	free(m->next);
	free(m);
}

static struct peer_pool *create(size_t pages, size_t page_size, unsigned flags, char *why,
				size_t whylen)
{
	struct mutex_pool *m = calloc(1, sizeof(*m));
	size_t i;

	if (!m) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->pool.peer = &peer_mutexlist;
	m->pool.pages = pages;
	m->pool.page_size = page_size;
	m->shift = peer_shift(page_size);
	if (pages >= NONE) {
		snprintf(why, whylen, "at most %u rooms", NONE - 1);
		destroy(&m->pool);
		return NULL;
	}
	m->next = malloc(pages * sizeof(*m->next));
	m->base = m->next ? rooms_map(pages, page_size, flags, why, whylen) : NULL;
	if (!m->base) {
		if (!m->next)
			snprintf(why, whylen, "out of memory for %zu entries", pages);
		destroy(&m->pool);
		return NULL;
	}
	for (i = 0; i < pages; i++)
		m->next[i] = i + 1 < pages ? (uint32_t)(i + 1) : NONE;
	m->head = 0;
	m->pool.alloc = alloc_room;
	m->pool.free = free_room;
	return &m->pool;
}

const struct peer peer_mutexlist = {
	.name = "mutex-list",
	.caps = PEER_BOUNDED | PEER_THREADS,
	.about = "a pthread-mutex free list of preallocated rooms",
	.create = create,
	.destroy = destroy,
};

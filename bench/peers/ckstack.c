/* SPDX-License-Identifier: MIT */
/* Peer ck-stack: a lock-free free list of preallocated rooms on Concurrency
 * Kit's ck_stack, with the ABA-safe ck_stack_push_mpmc / ck_stack_pop_mpmc
 * (a generation counter and a double-width CAS). One list entry per room in
 * an array beside the rooms, so the rooms themselves are never touched.
 * Order 0 only; async-signal-safe, since a handler that interrupts a push
 * or pop only makes the interrupted CAS fail and retry.
 */
#define _GNU_SOURCE
#include "rooms.h"

#include <ck_stack.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct ck_pool {
	struct peer_pool pool;
	ck_stack_entry_t *ent; /* ent[i] is room i's list entry */
	char *base;
	unsigned shift;
	alignas(64) ck_stack_t stack; /* 16-byte aligned for the double-width CAS */
};

static void *alloc_room(struct peer_pool *p, unsigned order)
{
	struct ck_pool *c = (struct ck_pool *)p;
	ck_stack_entry_t *e;

	if (order)
		return NULL;
	e = ck_stack_pop_mpmc(&c->stack);
	return e ? c->base + ((size_t)(e - c->ent) << c->shift) : NULL;
}

static int free_room(struct peer_pool *p, void *page, unsigned order)
{
	struct ck_pool *c = (struct ck_pool *)p;
	long i = rooms_index(c->base, p->pages, c->shift, page);

	if (order || i < 0)
		return order ? -EINVAL : -EFAULT;
	ck_stack_push_mpmc(&c->stack, &c->ent[i]);
	return 0;
}

static void destroy(struct peer_pool *p)
{
	struct ck_pool *c = (struct ck_pool *)p;

	if (!c)
		return;
	rooms_unmap(c->base, p->pages, p->page_size);
	free(c->ent);
	free(c);
}

static struct peer_pool *create(size_t pages, size_t page_size, unsigned flags, char *why,
				size_t whylen)
{
	struct ck_pool *c = aligned_alloc(64, (sizeof(struct ck_pool) + 63) & ~(size_t)63);
	size_t i;

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->pool.peer = &peer_ckstack;
	c->pool.pages = pages;
	c->pool.page_size = page_size;
	c->shift = peer_shift(page_size);
	c->ent = calloc(pages, sizeof(*c->ent));
	c->base = c->ent ? rooms_map(pages, page_size, flags, why, whylen) : NULL;
	if (!c->base) {
		if (!c->ent)
			snprintf(why, whylen, "out of memory for %zu entries", pages);
		destroy(&c->pool);
		return NULL;
	}
	/* Pushed from the last room down, so that pops start at room 0. */
	for (i = pages; i-- > 0;)
		ck_stack_push_upmc(&c->stack, &c->ent[i]);
	c->pool.alloc = alloc_room;
	c->pool.free = free_room;
	return &c->pool;
}

const struct peer peer_ckstack = {
	.name = "ck-stack",
	.caps = PEER_SIGNAL | PEER_BOUNDED | PEER_THREADS,
	.about = "Concurrency Kit ck_stack_pop_mpmc / ck_stack_push_mpmc over preallocated rooms",
	.create = create,
	.destroy = destroy,
};

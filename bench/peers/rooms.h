/* SPDX-License-Identifier: MIT */
/* The rooms of the free-list peers (ck-stack, mutex-list): an address range
 * of pages * page_size bytes, mapped without reserving memory and never
 * touched, or fake addresses for PEER_INDEX_ONLY pools.
 */
#ifndef LAB_BENCH_ROOMS_H
#define LAB_BENCH_ROOMS_H

#include "peer.h"

#include <stdio.h>
#include <sys/mman.h>

/* The base address, or NULL (why says so). */
static inline char *rooms_map(size_t pages, size_t page_size, unsigned flags, char *why,
			      size_t whylen)
{
	unsigned shift = peer_shift(page_size);
	void *m;

	if (pages > (PEER_FAKE_BASE >> shift)) {
		snprintf(why, whylen, "too many rooms");
		return NULL;
	}
	if (flags & PEER_INDEX_ONLY)
		return (char *)PEER_FAKE_BASE;
	m = mmap(NULL, pages << shift, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		snprintf(why, whylen, "mmap of %zu rooms failed", pages);
		return NULL;
	}
	return m;
}

static inline void rooms_unmap(char *base, size_t pages, size_t page_size)
{
	if (base && base != (char *)PEER_FAKE_BASE)
		munmap(base, pages * page_size);
}

/* The room index of page, or -1 when it is not the start of a room. */
static inline long rooms_index(const char *base, size_t pages, unsigned shift, const void *page)
{
	uintptr_t off = (uintptr_t)page - (uintptr_t)base;

	if ((uintptr_t)page < (uintptr_t)base || (off >> shift) >= pages ||
	    (off & (((uintptr_t)1 << shift) - 1)))
		return -1;
	return (long)(off >> shift);
}

#endif /* LAB_BENCH_ROOMS_H */

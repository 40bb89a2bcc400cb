/* SPDX-License-Identifier: MIT */
/* The baseline allocator: see scan.h. */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct scan {
	/* room[i]: 0 free, 1 allocated. Written by CAS 0 -> 1 (alloc, acquire:
	 * the new owner sees what the last owner wrote before its free) and by
	 * a release store of 0 (free). Read relaxed by the scan. */
	_Atomic unsigned char *room;
	size_t pages;
	size_t page_shift;
	char *base; /* NULL for an index-only maze */
	size_t map_len;
	/* Where the last search stopped; a hint only, so relaxed. On its own
	 * cache line, which every alloc of every thread writes. */
	alignas(64) _Atomic size_t cursor;
};

struct scan *scan_create(size_t pages, size_t page_size, int with_memory)
{
	struct scan *s;
	size_t shift = 0;

	if (!pages || page_size < 4096 || (page_size & (page_size - 1)))
		return NULL;
	while (((size_t)1 << shift) < page_size)
		shift++;
	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->pages = pages;
	s->page_shift = shift;
	s->room = mmap(NULL, pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->room == MAP_FAILED) {
		free(s);
		return NULL;
	}
	if (with_memory) {
		s->map_len = pages << shift;
		s->base = mmap(NULL, s->map_len, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (s->base == MAP_FAILED) {
			munmap((void *)s->room, pages);
			free(s);
			return NULL;
		}
	}
	/* Fault the bytes in now, outside every timed region. */
	memset((void *)s->room, 0, pages);
	atomic_init(&s->cursor, 0);
	return s;
}

void scan_destroy(struct scan *s)
{
	if (!s)
		return;
	if (s->base)
		munmap(s->base, s->map_len);
	munmap((void *)s->room, s->pages);
	free(s);
}

/* Claim room i if it is free; on success move the cursor past it. */
static inline int scan_claim(struct scan *s, _Atomic unsigned char *room, size_t n, size_t i)
{
	unsigned char zero = 0;

	if (!atomic_compare_exchange_strong_explicit(&room[i], &zero, 1, memory_order_acquire,
						     memory_order_relaxed))
		return 0;
	atomic_store_explicit(&s->cursor, i + 1 == n ? 0 : i + 1, memory_order_relaxed);
	return 1;
}

/* The first index in [from, to) whose byte reads 0, or to. */
static inline size_t scan_find(_Atomic unsigned char *room, size_t from, size_t to)
{
	while (from < to && atomic_load_explicit(&room[from], memory_order_relaxed))
		from++;
	return from;
}

long scan_alloc_index(struct scan *s)
{
	_Atomic unsigned char *room = s->room;
	size_t n = s->pages;
	size_t start = atomic_load_explicit(&s->cursor, memory_order_relaxed);
	size_t i;

	if (start >= n)
		start = 0;
	/* From the cursor to the end, then from 0 to the cursor. A CAS that
	 * loses a race moves on to the next room. */
	for (i = scan_find(room, start, n); i < n; i = scan_find(room, i + 1, n))
		if (scan_claim(s, room, n, i))
			return (long)i;
	for (i = scan_find(room, 0, start); i < start; i = scan_find(room, i + 1, start))
		if (scan_claim(s, room, n, i))
			return (long)i;
	return -ENOMEM;
}

int scan_free_index(struct scan *s, size_t index)
{
	if (index >= s->pages)
		return -EFAULT;
	atomic_store_explicit(&s->room[index], 0, memory_order_release);
	return 0;
}

void *scan_alloc_page(struct scan *s)
{
	long i;

	if (!s->base)
		return NULL;
	i = scan_alloc_index(s);
	if (i < 0)
		return NULL;
	return s->base + ((size_t)i << s->page_shift);
}

int scan_free_page(struct scan *s, void *page)
{
	uintptr_t off = (uintptr_t)page - (uintptr_t)s->base;

	if (!s->base || (uintptr_t)page < (uintptr_t)s->base || off >= s->map_len)
		return -EFAULT;
	if (off & (((uintptr_t)1 << s->page_shift) - 1))
		return -EINVAL;
	return scan_free_index(s, off >> s->page_shift);
}

long scan_page_index(const struct scan *s, const void *page)
{
	uintptr_t off = (uintptr_t)page - (uintptr_t)s->base;

	if (!s->base || (uintptr_t)page < (uintptr_t)s->base || off >= s->map_len)
		return -1;
	return (long)(off >> s->page_shift);
}

/* SPDX-License-Identifier: MIT */
/* The baseline: the design note's linear CAS scan at its best.
 *
 * One byte per room (0 free, 1 allocated) and a shared cursor where the last
 * search stopped ("atomic hints"), so a bulk fill does not rescan from room 0.
 * Alloc loads the cursor, scans forward from it (wrapping) for a 0 byte,
 * claims it with a CAS 0 -> 1 and stores the cursor past it. Free is a
 * release store of 0. No owners, no orders, no double-free detection: it is
 * correct (thread-safe) for correct callers, and nothing more.
 */
#ifndef LAB_BENCH_SCAN_H
#define LAB_BENCH_SCAN_H

#include <stddef.h>

struct scan;

/* pages rooms of page_size bytes; with_memory reserves (PROT_NONE, never
 * touched) an address range so that rooms have addresses. NULL on failure. */
struct scan *scan_create(size_t pages, size_t page_size, int with_memory);
void scan_destroy(struct scan *s);

/* Room index, or -ENOMEM when a whole pass found no free room. */
long scan_alloc_index(struct scan *s);
/* 0, or -EFAULT when index is outside the maze. */
int scan_free_index(struct scan *s, size_t index);

/* The same by address (mazes made with_memory). NULL when full. */
void *scan_alloc_page(struct scan *s);
/* 0, or -EFAULT outside the maze, -EINVAL not the start of a room. */
int scan_free_page(struct scan *s, void *page);
/* The room index of an address, -1 when outside the maze. */
long scan_page_index(const struct scan *s, const void *page);

#endif /* LAB_BENCH_SCAN_H */

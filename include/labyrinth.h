/* SPDX-License-Identifier: MIT */
/* labyrinth: a lock-free page-frame allocator with exclusive ownership.
 *
 * A maze hands out fixed-size rooms (pages) of one size, 4 KiB, 2 MiB, 1 GiB
 * or any power of two >= 4096. Allocation and free never lock, never call
 * malloc and make no syscall on their non-waiting paths, so they may be
 * called from signal handlers. Every allocated room records its owner thread.
 *
 * Error convention: functions that return int give 0 or a negative errno.
 * Pointer-returning allocators give NULL when no room can be had.
 */
#ifndef LABYRINTH_H
#define LABYRINTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAB_VERSION_MAJOR 0
#define LAB_VERSION_MINOR 1
#define LAB_VERSION_PATCH 0
#define LAB_VERSION ((LAB_VERSION_MAJOR * 10000) + (LAB_VERSION_MINOR * 100) + LAB_VERSION_PATCH)

#if defined(__GNUC__)
#define LAB_API __attribute__((visibility("default")))
#else
#define LAB_API
#endif

struct labyrinth; /* opaque maze */

typedef uint32_t lab_gfp_t;
typedef uint32_t lab_owner_t; /* the owner's Linux thread id (gettid); 0 = no owner */

/* Allocation flags; combine with |. A gfp with none of ATOMIC, NOWAIT and
 * KERNEL behaves as NOWAIT. Unknown bits fail the call. */
#define LAB_GFP_ATOMIC 0x01u /* never waits; may take rooms from the reserve */
#define LAB_GFP_NOWAIT 0x02u /* never waits; may not touch the reserve */
#define LAB_GFP_KERNEL 0x04u /* may wait until enough rooms are free; never from a signal handler */
#define LAB_GFP_ZERO 0x08u   /* the block is zero-filled (ignored by index-only mazes) */
#define LAB_GFP_EXCLUSIVE 0x10u /* only the owner thread may free it (or give it away) */
#define LAB_GFP_NOFAIL 0x20u	/* never returns NULL: waits with KERNEL, panics otherwise */
#define LAB_GFP_ALL 0x3fu	/* every defined bit */

#define LAB_MAX_ORDER 10u	       /* largest order: 2^10 rooms per block */
#define LAB_MAX_PAGE_SIZE (1ull << 40) /* largest room: 1 TiB */

/* lab_config.flags */
#define LAB_NO_MEMORY 0x1u /* rooms are indices only (physical frame numbers) */
#define LAB_HUGETLB 0x2u   /* try MAP_HUGETLB for the room memory; falls back quietly */
#define LAB_GENERATIONS                                                                            \
	0x4u /* keep an 8-bit generation per room (8 more bits of
				metadata per room), so that the Linux-style struct
				page handles of a stale allocation are refused */

struct lab_config {	       /* zero-initialise it; zero fields take defaults */
	size_t page_size;      /* bytes per room: a power of two, 4096 .. 2^40; 0 = 4096 */
	size_t pages;	       /* number of rooms, 1 .. 2^31 */
	size_t reserve;	       /* rooms that only LAB_GFP_ATOMIC may take; 0 = none */
	void *memory;	       /* caller's region of pages*page_size bytes, page_size aligned;
			     NULL = the maze maps its own (lazily, address space only) */
	unsigned flags;	       /* LAB_NO_MEMORY, LAB_HUGETLB, LAB_GENERATIONS */
	unsigned reserved_[7]; /* room for more fields later; keep zero */
};

struct lab_stats {
	size_t pages;		   /* rooms in the maze */
	size_t free;		   /* free rooms, those parked in thread caches included */
	size_t reserve;		   /* rooms only LAB_GFP_ATOMIC may take */
	size_t page_size;	   /* bytes per room */
	size_t cached;		   /* of the free rooms, those parked in thread caches */
	size_t huge_free;	   /* whole free rows of 512 rooms (order-9 blocks available) */
	size_t rows;		   /* rows of up to 512 rooms */
	size_t max_order;	   /* largest order this maze can hold */
	size_t waiters;		   /* threads sleeping in LAB_GFP_KERNEL */
	size_t meta_bytes;	   /* bytes of metadata, fixed parts included */
	size_t meta_bits_per_room; /* metadata bits per room without the fixed
				      parts (header, thread caches), rounded up */
};

/* Create a maze. 0, or -EINVAL (bad config), -ENOMEM (no memory for it),
 * -EOVERFLOW (pages * page_size overflows). Not async-signal-safe. */
LAB_API int lab_create(struct labyrinth **maze, const struct lab_config *cfg);
/* Destroy a maze; its rooms and metadata are unmapped and the handle is
 * poisoned. Every page of it becomes invalid. Not async-signal-safe. */
LAB_API void lab_destroy(struct labyrinth *maze);

/* Allocate one room or a block of 2^order rooms whose first index is a
 * multiple of 2^order. NULL when none can be had, for bad flags or order,
 * and always on an index-only maze. */
LAB_API void *lab_alloc_page(struct labyrinth *maze, lab_gfp_t gfp);
LAB_API void *lab_alloc_pages(struct labyrinth *maze, lab_gfp_t gfp, unsigned order);
/* Free a page or block. 0, or, checked in this order and changing nothing:
 * -EFAULT outside this maze; -EINVAL not the first byte of a room;
 * -ENOENT not allocated (double free); -EINVAL not the order it was
 * allocated with; -EPERM exclusive and the caller is not its owner. */
LAB_API int lab_free_page(struct labyrinth *maze, void *page);
LAB_API int lab_free_pages(struct labyrinth *maze, void *page, unsigned order);

/* The same by room index; works on every maze. Index, or -ENOMEM / -EINVAL. */
LAB_API long lab_alloc_index(struct labyrinth *maze, lab_gfp_t gfp, unsigned order);
LAB_API int lab_free_index(struct labyrinth *maze, size_t index, unsigned order);

/* Translate between a room's address and its index: -1 / NULL when outside. */
LAB_API long lab_page_index(const struct labyrinth *maze, const void *page);
LAB_API void *lab_index_page(const struct labyrinth *maze, size_t index);

/* The owner thread of the block holding this room (page may point at any
 * byte of it); 0 if the room is free or outside the maze. */
LAB_API lab_owner_t lab_page_owner(const struct labyrinth *maze, const void *page);
LAB_API lab_owner_t lab_index_owner(const struct labyrinth *maze, size_t index);
/* Hand an allocated page to thread `to`: the owner of an exclusive page, any
 * thread for a shared one. 0, -EINVAL (to == 0 or not a block start),
 * -EFAULT, -ENOENT, -EPERM as for free. */
LAB_API int lab_page_give(struct labyrinth *maze, void *page, lab_owner_t to);
LAB_API int lab_index_give(struct labyrinth *maze, size_t index, lab_owner_t to);

/* One room as lab_room_info sees it (a snapshot, for maps and tools). */
#define LAB_ROOM_FREE 0	     /* free in the maze */
#define LAB_ROOM_CACHED 1    /* free, parked in a thread cache */
#define LAB_ROOM_ALLOCATED 2 /* part of an allocated block */
struct lab_room {
	lab_owner_t owner;  /* owner thread of the block; 0 unless allocated */
	uint32_t state;	    /* LAB_ROOM_* */
	uint32_t order;	    /* the block's order (0 unless allocated) */
	uint32_t exclusive; /* 1 if the block is exclusive */
	size_t block;	    /* index of the block's first room (= index unless allocated) */
};
/* 0, or -EINVAL (bad maze) / -EFAULT (index outside the maze). */
LAB_API int lab_room_info(const struct labyrinth *maze, size_t index, struct lab_room *out);

/* Figures; exact when no operation is in flight. */
LAB_API void lab_stats(const struct labyrinth *maze, struct lab_stats *out);
/* Check every invariant of the metadata; call it only while no operation is
 * in flight. 0, or -EUCLEAN with a reason written to why (may be NULL). */
LAB_API int lab_validate(const struct labyrinth *maze, char *why, size_t whylen);
/* Return the calling thread's cached rooms of this maze to the maze. */
LAB_API void lab_drain(struct labyrinth *maze);

/* The calling thread's owner id (its gettid, cached once per thread). */
LAB_API lab_owner_t lab_self(void);

/* Panics: the default handler write(2)s the message and a newline to
 * stderr, then abort()s. A handler that returns is followed by abort(). */
typedef void (*lab_panic_fn)(const char *message);
/* Install fn (NULL = default); returns the previous one, NULL for default. */
LAB_API lab_panic_fn lab_set_panic_handler(lab_panic_fn fn);

/* The design note's pair. allocpage_gfp_atomic_exclusive is
 * LAB_GFP_ATOMIC|LAB_GFP_EXCLUSIVE for one room and never returns NULL: on
 * exhaustion it panics with "Labyrinth allocpage exclusive failed: out of
 * memory". This is "atomic, then panic", not Linux's __GFP_NOFAIL (which may
 * block). dealloc_labyrinth_page_exclusive panics on any misuse. */
LAB_API void *allocpage_gfp_atomic_exclusive(struct labyrinth *maze);
LAB_API void dealloc_labyrinth_page_exclusive(struct labyrinth *maze, void *page);

/* The process-wide default maze used by <labyrinth/linux.h>: made on first
 * use (65536 rooms of 4 KiB, or LABYRINTH_PAGES), safely under threads but
 * not from a signal handler: call lab_default() at start-up if a handler may
 * be its first user. NULL if it cannot be made. */
LAB_API struct labyrinth *lab_default(void);
/* Make maze the default: 0, or -EINVAL if it is index-only or its rooms are
 * not 4096 bytes. */
LAB_API int lab_set_default(struct labyrinth *maze);

/* A short text for a negative errno returned by this library. */
LAB_API const char *lab_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* LABYRINTH_H */

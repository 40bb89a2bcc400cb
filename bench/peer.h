/* SPDX-License-Identifier: MIT */
/* The peers of the runners: one allocator of page-sized rooms behind a small
 * table of function pointers, so that every peer runs the very same timed
 * loops (each pays the same indirect call).
 *
 * A peer's create() returns a pool whose first member is struct peer_pool;
 * the workloads call pool->alloc and pool->free. Pointers are rooms of
 * page_size bytes, or blocks of page_size << order bytes aligned to their
 * size. A pool made with PEER_INDEX_ONLY hands out fake addresses
 * (PEER_FAKE_BASE + index * page_size) that must never be dereferenced: the
 * nearfull workload uses them for pools of 2^24 rooms without memory.
 */
#ifndef LAB_BENCH_PEER_H
#define LAB_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

/* Capabilities, printed by --list as caps=... */
#define PEER_ORDERS 0x01u  /* naturally aligned blocks of 2^order rooms */
#define PEER_SIGNAL 0x02u  /* alloc and free are async-signal-safe */
#define PEER_BOUNDED 0x04u /* a fixed pool of exactly `pages` rooms */
#define PEER_THREADS 0x08u /* thread-safe */
#define PEER_GIVE 0x10u	   /* hands a room to another thread explicitly (give) */
#define PEER_OPTIN 0x20u  /* a variant of another peer: `labyrinth bench` runs it only when named */
#define PEER_NOFAIL 0x40u /* panics instead of returning NULL: never asked to run out */

/* create() flags */
#define PEER_INDEX_ONLY 0x1u /* rooms need no memory: fake addresses are fine */

#define PEER_FAKE_BASE ((uintptr_t)1 << 46)

struct peer;

struct peer_pool {
	/* A room (order 0) or block, or NULL when none can be had. */
	void *(*alloc)(struct peer_pool *pool, unsigned order);
	/* 0, or a negative errno when the peer detects a bad free. */
	int (*free)(struct peer_pool *pool, void *page, unsigned order);
	/* Make thread `to` (a peer->self() value) the owner: 0 or -errno.
	 * NULL unless the peer has PEER_GIVE. */
	int (*give)(struct peer_pool *pool, void *page, uint32_t to);
	/* Return the calling thread's cached rooms to the pool; NULL: nothing
	 * cached. Called outside timed regions only. */
	void (*drain)(struct peer_pool *pool);
	/* Order-9 blocks the pool says it can still hand out, or -1 when it
	 * cannot tell. Called outside timed regions only. */
	long (*huge_free)(struct peer_pool *pool);
	const struct peer *peer;
	size_t pages;
	size_t page_size;
};

struct peer {
	const char *name;
	unsigned caps;	   /* PEER_* */
	const char *about; /* one line, for --list on stderr */
	/* A pool of `pages` rooms of page_size bytes (a power of two >= 4096;
	 * unbounded peers only use page_size). NULL with a reason in why. */
	struct peer_pool *(*create)(size_t pages, size_t page_size, unsigned flags, char *why,
				    size_t whylen);
	void (*destroy)(struct peer_pool *pool);
	/* The calling thread's id as give() wants it; NULL without PEER_GIVE. */
	uint32_t (*self)(void);
};

/* The peers of this runner binary (bench/peers/registry.c). */
extern const struct peer *const runner_peers[];
extern const int runner_npeers;

/* Each peer, defined in bench/peers/<name>.c. */
extern const struct peer peer_labyrinth;
extern const struct peer peer_labyrinth_shared;
extern const struct peer peer_labyrinth_shm; /* the two above on a shared maze */
extern const struct peer peer_labyrinth_shm_shared;
extern const struct peer peer_labyrinth_note; /* the design note's fail-hard pair */
extern const struct peer peer_malloc;	      /* glibc, jemalloc or tcmalloc by build */
extern const struct peer peer_mimalloc;	      /* peers/malloc.c built for mimalloc */
extern const struct peer peer_ckstack;
extern const struct peer peer_mutexlist;
extern const struct peer peer_mmap;
extern const struct peer peer_scan;

/* log2 of a power of two. */
static inline unsigned peer_shift(size_t page_size)
{
	unsigned s = 0;

	while (((size_t)1 << s) < page_size)
		s++;
	return s;
}

#endif /* LAB_BENCH_PEER_H */

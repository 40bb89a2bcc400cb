/* SPDX-License-Identifier: MIT */
/* The peers of each runner binary, chosen by the build:
 *   labyrinth-runner           (no define) labyrinth, labyrinth-shared,
 *                              labyrinth-shm, labyrinth-shm-shared,
 *                              labyrinth-note, glibc, ck-stack
 *                              (RUNNER_HAVE_CK), mutex-list, mmap, scan
 *   labyrinth-runner-jemalloc  (RUNNER_JEMALLOC) jemalloc
 *   labyrinth-runner-tcmalloc  (RUNNER_TCMALLOC) tcmalloc
 *   labyrinth-runner-mimalloc  (RUNNER_MIMALLOC) mimalloc
 * The allocators that replace malloc each get a process of their own.
 */
#include "peer.h"

const struct peer *const runner_peers[] = {
#if defined(RUNNER_JEMALLOC) || defined(RUNNER_TCMALLOC)
	&peer_malloc,
#elif defined(RUNNER_MIMALLOC)
	&peer_mimalloc,
#else
	&peer_labyrinth,	    /* peers/lab.c */
	&peer_labyrinth_shared,	    /* peers/lab.c */
	&peer_labyrinth_shm,	    /* peers/lab.c: a shared maze (memfd) */
	&peer_labyrinth_shm_shared, /* peers/lab.c */
	&peer_labyrinth_note,	    /* peers/lab.c: the design note's calls */
	&peer_malloc,		    /* peers/malloc.c: glibc */
#ifdef RUNNER_HAVE_CK
	&peer_ckstack,		    /* peers/ckstack.c */
#endif
	&peer_mutexlist,	    /* peers/mutexlist.c */
	&peer_mmap,		    /* peers/mmap.c */
	&peer_scan,		    /* peers/scan.c */
#endif
};

const int runner_npeers = (int)(sizeof(runner_peers) / sizeof(runner_peers[0]));

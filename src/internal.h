/* SPDX-License-Identifier: MIT */
/* The hosted layer's private declarations: the maze handle, per-thread
 * state, panics. Nothing here is exported. */
#ifndef LAB_INTERNAL_H
#define LAB_INTERNAL_H

#include "core/core.h"
#include "platform/platform.h"
#include <labyrinth.h>
#include <labyrinth/shared.h>
#include <stdbool.h>
#include <stddef.h>

#define LAB_MAZE_MAGIC 0x6d617a652d6c6162ULL /* live handle */
#define LAB_MAZE_DEAD 0xdeadbeefdead0abcULL  /* destroyed handle */
#define LAB_MAZE_RO 0x6d617a652d726f21ULL    /* live, read-only (inspection) */
#define LAB_LIVE_MAX 1024u		     /* handles in the static pool */
#define LAB_TLS_MAZES 4u		     /* mazes a thread caches at once */

/* A maze handle: process-local; the metadata it views is position-
 * independent. Immutable between lab_create and lab_destroy. */
struct labyrinth {
	_Atomic(uint64_t) magic; /* LAB_MAZE_MAGIC; LAB_MAZE_DEAD after destroy */
	uint64_t uid;		 /* unique per process, never reused */
	struct lab_view v;
	char *base; /* room memory; NULL when index-only */
	size_t page_size;
	size_t span; /* pages * page_size */
	unsigned page_shift;
	unsigned flags;
	void *meta;
	size_t meta_len;
	void *map; /* room memory we mapped (NULL: caller's or none) */
	/* gens[i]: generation of room i (LAB_GENERATIONS), NULL otherwise.
	 * Bumped (relaxed) by the thread that allocates a block at i, which
	 * then owns it; read by frees of Linux-style handles. */
	_Atomic(uint8_t) *gens;
	size_t map_len;
	int reg; /* index in the handle pool, -1 if malloc'd */
	/* Shared and file-backed mazes (src/shared); zero for private ones. */
	unsigned kind;		   /* LAB_KIND_* */
	bool fshared;		   /* futex words are in shared memory */
	bool readonly;		   /* a file opened LAB_READONLY */
	bool was_clean;		   /* a file closed cleanly before this open */
	uint32_t opener;	   /* the process that made or opened this handle */
	uint64_t obj_dev, obj_ino; /* the object's identity (one handle each) */
	/* give_memo[hash(tid)]: key << 32 | tid of a recent give's receiver,
	 * relaxed; a hint checked against the registry before use */
	_Atomic(uint64_t) give_memo[64];
	int fd;			      /* the object (shm, memfd, file); -1 if none */
	void *obj;		      /* header, metadata and registry, mapped */
	size_t obj_len;		      /* bytes of that mapping */
	struct lab_registry *threads; /* NULL for private mazes */
	struct lab_recovery rec;      /* the last recovery (lab_recovery_info) */
};

static inline bool lab_live(const struct labyrinth *m)
{
	return m && atomic_load_explicit(&m->magic, memory_order_relaxed) == LAB_MAZE_MAGIC;
}
/* Live, or a read-only file maze: the calls that only look accept it. */
static inline bool lab_readable(const struct labyrinth *m)
{
	if (!m)
		return false;
	uint64_t g = atomic_load_explicit(&m->magic, memory_order_relaxed);
	return g == LAB_MAZE_MAGIC || g == LAB_MAZE_RO;
}

/* Per-thread state (initial-exec TLS: no allocation on first access). */
struct lab_tls_ent {
	struct labyrinth *maze;
	uint64_t uid;
	int slot; /* -1: this thread runs uncached on that maze */
	int reg;
	/* the slot's key: our tid (private maze) or registry key (shared) */
	uint32_t key;
	/* our owner key on that maze: lab_tls.key (private) or key (shared) */
	uint32_t okey;
};
struct lab_tls {
	uint32_t tid;	     /* 0 until fetched; reset in a fork child */
	uint32_t key;	     /* owner key: tid | incarnation << 27 */
	uint32_t busy;	     /* set while the table below is being changed */
	uint32_t registered; /* the exit hook is registered (pthread key) */
	/* ent[0] is read by lab_slot_of without a guard, also by a signal
	 * handler: writers clear ent[0].maze first and store it last */
	struct lab_tls_ent ent[LAB_TLS_MAZES];
};
extern __thread struct lab_tls lab_tls __attribute__((tls_model("initial-exec"))) LAB_HIDDEN;

LAB_HIDDEN uint32_t lab_thread_init(void);
LAB_HIDDEN void lab_thread_exit_hook(void);
LAB_HIDDEN uint32_t lab_owner_key_of(uint32_t tid);
LAB_HIDDEN int lab_slot_slow(struct labyrinth *maze);
LAB_HIDDEN void lab_thread_setup_once(void);
LAB_HIDDEN bool lab_handle_alive(int reg, uint64_t uid);
/* Give a live handle a new uid: every thread's cached slot of it is
 * forgotten (after a recovery reset the slots). */
LAB_HIDDEN void lab_handle_renew(struct labyrinth *m);
/* The handle pool (maze.c), for the shared mazes' constructors. */
LAB_HIDDEN struct labyrinth *lab_handle_get(void);
LAB_HIDDEN void lab_handle_put(struct labyrinth *m);
LAB_HIDDEN void lab_handle_publish(struct labyrinth *m);
LAB_HIDDEN void lab_handle_unpublish(struct labyrinth *m);
LAB_HIDDEN void lab_handle_readonly(struct labyrinth *m);
/* The calling thread gives back its cache of maze and forgets it. */
LAB_HIDDEN void lab_thread_release(struct labyrinth *maze);
LAB_HIDDEN void lab_thread_forget(struct labyrinth *maze);
extern _Atomic(int) lab_global_barrier_used LAB_HIDDEN;

static inline uint32_t lab_tid(void)
{
	uint32_t t = lab_tls.tid;
	return LAB_LIKELY(t) ? t : lab_thread_init();
}

/* The calling thread's owner key (what owner words record). */
static inline uint32_t lab_key(void)
{
	if (LAB_UNLIKELY(!lab_tls.tid))
		lab_thread_init();
	return lab_tls.key;
}

/* The calling thread's cache slot on this maze, or -1. */
static inline int lab_slot_of(struct labyrinth *maze)
{
	struct lab_tls_ent *e = &lab_tls.ent[0];
	if (LAB_LIKELY(e->maze == maze && e->uid == maze->uid))
		return e->slot;
	return lab_slot_slow(maze);
}

struct lab_registry;
LAB_HIDDEN int lab_whoami_slow(struct labyrinth *maze, uint32_t *key);
/* The calling thread's owner key on this maze (*key; 0 when a shared
 * maze's registry has no room for it) and its cache slot, or -1. */
static inline int lab_whoami(struct labyrinth *maze, uint32_t *key)
{
	struct lab_tls_ent *e = &lab_tls.ent[0];
	if (LAB_LIKELY(e->maze == maze && e->uid == maze->uid)) {
		*key = e->okey;
		return e->slot;
	}
	return lab_whoami_slow(maze, key);
}

/* AddressSanitizer: free rooms of mazes that map their own memory are
 * poisoned, so that a use after free is reported. Mazes above 64 MiB are
 * left alone (their shadow is too large to rewrite). */
#if defined(__SANITIZE_ADDRESS__)
#define LAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LAB_ASAN 1
#endif
#endif
#ifdef LAB_ASAN
#include <sanitizer/asan_interface.h>
#define LAB_POISON_MAX (64u << 20)
static inline void lab_poison(const struct labyrinth *m, size_t idx, unsigned order, bool on)
{
	size_t len = m->page_size << order;
	if (!m->map || m->map_len > LAB_POISON_MAX || m->kind)
		return;
	char *p = m->base + (idx << m->page_shift);
	if (on)
		ASAN_POISON_MEMORY_REGION(p, len);
	else
		ASAN_UNPOISON_MEMORY_REGION(p, len);
}
#else
static inline void lab_poison(const struct labyrinth *m, size_t idx, unsigned order, bool on)
{
	(void)m;
	(void)idx;
	(void)order;
	(void)on;
}
#endif

/* Panics: format into a stack buffer (signal-safe), call the handler. */
LAB_HIDDEN _Noreturn void lab_panic(const char *msg);
struct lab_buf {
	char b[256];
	size_t n;
};
LAB_HIDDEN void lab_buf_s(struct lab_buf *b, const char *s);
LAB_HIDDEN void lab_buf_u(struct lab_buf *b, uint64_t x);
LAB_HIDDEN void lab_buf_x(struct lab_buf *b, uint64_t x);

/* The generation of room idx (0 without LAB_GENERATIONS). */
static inline uint8_t lab_generation(const struct labyrinth *m, size_t idx)
{
	return m->gens ? atomic_load_explicit(&m->gens[idx], memory_order_relaxed) : 0;
}

/* api.c helpers shared with linux_compat.c */
LAB_HIDDEN const char *lab_free_misuse(int err);

#endif

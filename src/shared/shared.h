/* SPDX-License-Identifier: MIT */
/* Shared and file-backed mazes, hosted side: the thread registry, the
 * object's header, reaping. Nothing here is exported. */
#ifndef LAB_SHARED_SHARED_H
#define LAB_SHARED_SHARED_H

#include "../internal.h"
#include "format.h"
#include <labyrinth/shared.h>

/* A registry entry: one thread that may own rooms of the maze.
 *
 * word = gen << 2 | state. FREE -> BUSY: CAS by a registrar holding the
 * registry lock; it then fills the fields (relaxed) and stores LIVE
 * (release). LIVE -> DEAD: CAS by the thread itself when it exits or its
 * process detaches, or by a reaper that found the thread gone. DEAD ->
 * FREE with gen + 1: CAS by a reaper after its scan returned the entry's
 * rooms. Readers load word (acquire), read the fields, and trust them only
 * if word is unchanged after. */
#define LAB_REG_FREE 0u
#define LAB_REG_LIVE 1u
#define LAB_REG_DEAD 2u
#define LAB_REG_BUSY 3u
#define LAB_REG_GEN_MASK 0x1fffu /* 13 bits of generation */
struct lab_reg_ent {
	lab_a32 word;
	lab_a32 tid, pid, ns; /* ns: the pid namespace of tid and pid */
	lab_a64 tid_start, pid_start;
};
_Static_assert(sizeof(struct lab_reg_ent) == 32, "registry entries are 32 bytes");

/* The registry: a lock word, then the entries. lock: 0, or the thread
 * registering: its tid | the low 32 bits of its start time << 32 (CAS
 * 0 -> that, acquire; store 0, release). A waiter that finds no live thread
 * with that tid and start time (its holder was killed) takes the lock over;
 * a writable file open and lab_recover, which have the maze to themselves,
 * clear it. */
struct lab_registry {
	_Alignas(64) lab_a64 lock;
	uint32_t pad_[14];
	struct lab_reg_ent ent[LAB_SHARED_THREADS];
};

/* Owner keys of shared mazes: a 26-bit value (index + 1) | gen << 13 laid
 * into the owner word's tid and incarnation fields. Never 0. */
static inline uint32_t lab_reg_key(uint32_t idx, uint32_t gen)
{
	uint32_t k = (idx + 1) | ((gen & LAB_REG_GEN_MASK) << 13);
	return (k & LAB_OW_TID) | ((k >> 22) << LAB_OW_INC_SHIFT);
}
static inline uint32_t lab_reg_key_idx(uint32_t key) /* LAB_SHARED_THREADS if none */
{
	uint32_t i = (key & 0x1fffu);
	return i == 0 || i > LAB_SHARED_THREADS ? LAB_SHARED_THREADS : i - 1;
}
static inline uint32_t lab_reg_key_gen(uint32_t key)
{
	uint32_t k = (key & LAB_OW_TID) | (((key & LAB_OW_INC) >> LAB_OW_INC_SHIFT) << 22);
	return k >> 13;
}

/* registry.c */
LAB_HIDDEN uint32_t lab_reg_self(struct labyrinth *m, bool may_claim);
LAB_HIDDEN int lab_reg_key_of_tid(struct labyrinth *m, uint32_t tid, uint32_t *key);
LAB_HIDDEN uint32_t lab_reg_tid_of(const struct labyrinth *m, uint32_t key);
LAB_HIDDEN void lab_reg_leave(struct labyrinth *m, uint32_t key);
LAB_HIDDEN void lab_reg_leave_process(struct labyrinth *m);
/* Whether entry e is of process me (pid, namespace and start time). */
LAB_HIDDEN bool lab_reg_mine(const struct lab_reg_ent *e, const struct lab_os_task *me);

/* reap.c: whether owner key is dead, given a snapshot of the registry */
struct lab_reap_ctx {
	struct labyrinth *m;
	uint32_t dead[LAB_SHARED_THREADS / 32]; /* entries found dead this pass */
	uint16_t gen[LAB_SHARED_THREADS];	/* their generation then */
	uint32_t memo_key[64];			/* private mazes: keys looked up */
	bool memo_dead[64];
};
LAB_HIDDEN void lab_reap_snapshot(struct lab_reap_ctx *c, struct labyrinth *m);
LAB_HIDDEN void lab_reap_mark(struct lab_reap_ctx *c);
#define LAB_REAP_ALL 0
#define LAB_REAP_RECYCLE 1
#define LAB_REAP_CACHES 2
LAB_HIDDEN long lab_reap_some(struct labyrinth *m, int mode);
LAB_HIDDEN bool lab_reap_key_dead(void *ctx, uint32_t key);

#endif

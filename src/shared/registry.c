/* SPDX-License-Identifier: MIT */
/* The thread registry of a shared maze: who a thread is in the maze's
 * owner words, across processes, and whether it still lives. */
#define _GNU_SOURCE
#include "shared.h"

#include <errno.h>

static bool ent_matches(struct lab_reg_ent *e, const struct lab_os_task *t)
{
	return lab_load_relaxed(&e->tid) == t->tid && lab_load_relaxed(&e->pid) == t->pid &&
	       lab_load_relaxed(&e->ns) == t->ns && lab_load_relaxed(&e->tid_start) == t->tid_start;
}

/* Take the registry lock for thread self: false if self already holds it
 * (a signal handler interrupted a registration) or the wait is hopeless. */
static bool reg_lock(struct lab_registry *r, const struct lab_os_task *self)
{
	uint64_t me = self->tid | (self->tid_start << 32);
	for (unsigned spin = 0;; spin++) {
		uint64_t h = 0;
		if (atomic_compare_exchange_weak_explicit(&r->lock, &h, me, memory_order_acquire,
							  memory_order_relaxed))
			return true;
		if (h == me)
			return false;
		if (h && (spin & 255) == 255) {
			/* a holder killed while registering leaves the lock set */
			struct lab_os_task t;
			int ex = lab_os_task_exists(0, (uint32_t)h);
			if (ex == 0 || (ex == 1 && lab_os_task_of((uint32_t)h, &t) == 0 &&
					(uint32_t)t.tid_start != (uint32_t)(h >> 32)))
				atomic_compare_exchange_strong_explicit(&r->lock, &h, 0,
									memory_order_relaxed,
									memory_order_relaxed);
		}
		if (spin > 1000000u)
			return false;
		lab_os_yield();
	}
}

static void reg_unlock(struct lab_registry *r)
{
	lab_store_release(&r->lock, 0);
}

/* The LIVE entry for thread t, stale ones for its tid marked DEAD; or
 * claim a FREE one. Under the lock. Key, or 0 when full. */
static uint32_t find_or_claim(struct lab_registry *r, const struct lab_os_task *t, bool claim)
{
	uint32_t free_at = LAB_SHARED_THREADS;
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++) {
		struct lab_reg_ent *e = &r->ent[i];
		uint32_t w = lab_load_acquire(&e->word);
		if ((w & 3) == LAB_REG_FREE) {
			if (free_at == LAB_SHARED_THREADS)
				free_at = i;
			continue;
		}
		if ((w & 3) != LAB_REG_LIVE || lab_load_relaxed(&e->tid) != t->tid ||
		    lab_load_relaxed(&e->ns) != t->ns)
			continue;
		if (ent_matches(e, t))
			return lab_reg_key(i, w >> 2);
		/* the same tid, another thread: the one registered is gone */
		atomic_compare_exchange_strong_explicit(&e->word, &w, (w & ~3u) | LAB_REG_DEAD,
							memory_order_acq_rel, memory_order_relaxed);
	}
	if (!claim)
		return 0;
	for (uint32_t i = free_at; i < LAB_SHARED_THREADS; i++) {
		struct lab_reg_ent *e = &r->ent[i];
		uint32_t w = lab_load_relaxed(&e->word);
		if ((w & 3) != LAB_REG_FREE)
			continue;
		uint32_t gen = (w >> 2) & LAB_REG_GEN_MASK;
		if (!atomic_compare_exchange_strong_explicit(
			    &e->word, &w, (gen << 2) | LAB_REG_BUSY, memory_order_acquire,
			    memory_order_relaxed))
			continue;
		lab_store_relaxed(&e->tid, t->tid);
		lab_store_relaxed(&e->pid, t->pid);
		lab_store_relaxed(&e->ns, t->ns);
		lab_store_relaxed(&e->tid_start, t->tid_start);
		lab_store_relaxed(&e->pid_start, t->pid_start);
		lab_store_release(&e->word, (gen << 2) | LAB_REG_LIVE);
		return lab_reg_key(i, gen);
	}
	return 0;
}

/* self: the calling thread; t: the thread to register (self or another). */
static uint32_t key_for(struct labyrinth *m, const struct lab_os_task *self,
			const struct lab_os_task *t, bool claim)
{
	struct lab_registry *r = m->threads;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!reg_lock(r, self))
			return 0;
		uint32_t key = find_or_claim(r, t, claim);
		reg_unlock(r);
		if (key || !claim || attempt)
			return key;
		lab_reap_some(m, LAB_REAP_RECYCLE); /* full: entries of the dead that own nothing */
	}
	return 0;
}

/* This process's thread: start times read once per thread and maze use. */
uint32_t lab_reg_self(struct labyrinth *m, bool may_claim)
{
	struct lab_os_task t;
	if (lab_os_task_of(lab_tid(), &t) != 0)
		return 0;
	return key_for(m, &t, &t, may_claim);
}

/* Whether key is the current key of a LIVE entry for tid. */
static bool key_is_live_tid(const struct labyrinth *m, uint32_t key, uint32_t tid)
{
	uint32_t i = lab_reg_key_idx(key);
	if (i >= LAB_SHARED_THREADS)
		return false;
	struct lab_reg_ent *e = &m->threads->ent[i];
	uint32_t w = lab_load_acquire(&e->word);
	return (w & 3) == LAB_REG_LIVE && (w >> 2) == (lab_reg_key_gen(key) & LAB_REG_GEN_MASK) &&
	       lab_load_relaxed(&e->tid) == tid && lab_load_relaxed(&e->word) == w;
}

int lab_reg_key_of_tid(struct labyrinth *m, uint32_t tid, uint32_t *key)
{
	/* recent receivers: a give to a registered thread reads no /proc. The
	 * entry is checked LIVE with this tid and generation; an exited
	 * thread's entry is DEAD (its exit hook), so a reused tid misses. */
	_Atomic(uint64_t) *memo = &m->give_memo[(tid * 2654435761u) >> 26];
	uint64_t c = atomic_load_explicit(memo, memory_order_relaxed);
	if ((uint32_t)c == tid && key_is_live_tid(m, (uint32_t)(c >> 32), tid)) {
		*key = (uint32_t)(c >> 32);
		return 0;
	}
	struct lab_os_task t, self;
	if (lab_os_task_of(tid, &t) != 0)
		return -ESRCH;
	if (lab_os_task_of(lab_tid(), &self) != 0)
		return -EAGAIN;
	*key = key_for(m, &self, &t, true);
	if (*key)
		atomic_store_explicit(memo, (uint64_t)*key << 32 | tid, memory_order_relaxed);
	return *key ? 0 : -EAGAIN;
}

uint32_t lab_reg_tid_of(const struct labyrinth *m, uint32_t key)
{
	uint32_t i = lab_reg_key_idx(key);
	if (i >= LAB_SHARED_THREADS)
		return 0;
	struct lab_reg_ent *e = &m->threads->ent[i];
	uint32_t w = lab_load_acquire(&e->word);
	uint32_t tid = lab_load_relaxed(&e->tid);
	atomic_thread_fence(memory_order_acquire);
	if ((w >> 2) != (lab_reg_key_gen(key) & LAB_REG_GEN_MASK) ||
	    lab_load_relaxed(&e->word) != w)
		return 0; /* the entry moved on: an owner long gone */
	return tid;
}

/* The entry of key is done (its thread exits or detaches). */
void lab_reg_leave(struct labyrinth *m, uint32_t key)
{
	uint32_t i = lab_reg_key_idx(key);
	if (i >= LAB_SHARED_THREADS)
		return;
	uint32_t w = ((lab_reg_key_gen(key) & LAB_REG_GEN_MASK) << 2) | LAB_REG_LIVE;
	atomic_compare_exchange_strong_explicit(&m->threads->ent[i].word, &w,
						(w & ~3u) | LAB_REG_DEAD, memory_order_release,
						memory_order_relaxed);
}

bool lab_reg_mine(const struct lab_reg_ent *e, const struct lab_os_task *me)
{
	return lab_load_relaxed(&e->pid) == me->pid && lab_load_relaxed(&e->ns) == me->ns &&
	       lab_load_relaxed(&e->pid_start) == me->pid_start;
}

/* Every entry of this process is done (lab_detach). If this process cannot
 * tell who it is, its entries stay: a later reap finds them dead once it
 * exits. */
void lab_reg_leave_process(struct labyrinth *m)
{
	struct lab_os_task me;
	if (lab_os_task_of(lab_tid(), &me) != 0)
		return;
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++) {
		struct lab_reg_ent *e = &m->threads->ent[i];
		uint32_t w = lab_load_acquire(&e->word);
		if ((w & 3) == LAB_REG_LIVE && lab_reg_mine(e, &me))
			atomic_compare_exchange_strong_explicit(
				&e->word, &w, (w & ~3u) | LAB_REG_DEAD, memory_order_release,
				memory_order_relaxed);
	}
}

/* SPDX-License-Identifier: MIT */
/* Per-thread state: the cached thread id and the cache slot a thread holds
 * in each maze it uses. A thread's slots go back to their mazes when it
 * exits (a pthread key destructor); a fork child re-reads its id. */
#define _GNU_SOURCE
#include "internal.h"
#include "shared/shared.h"

#include <pthread.h>

__thread struct lab_tls lab_tls __attribute__((tls_model("initial-exec")));

/* lab_incarnation[tid]: bumped (relaxed) by a thread with that tid when it
 * exits; read by a thread starting with that tid, and by givers, to form
 * the owner key. 4 MiB of zero pages, touched only where tids are. */
static _Atomic(uint8_t) lab_incarnation[LAB_OW_TID + 1];

static pthread_key_t lab_tls_key;
/* set once a shared maze relies on the global membarrier in this process */
_Atomic(int) lab_global_barrier_used;
static pthread_once_t lab_once = PTHREAD_ONCE_INIT;
static _Atomic(int) lab_key_ready;

/* Give a slot back; a stealer holds a slot's lock only for a moment, so
 * retry a while, then leave the rooms to stealers (they stay counted). */
static void release_slot(struct lab_tls_ent *e)
{
	for (int i = 0; i < 1000; i++) {
		if (lab_core_slot_release(&e->maze->v, e->slot, e->key))
			return;
		lab_os_yield();
	}
}

static void release_all(struct lab_tls *t)
{
	for (unsigned i = 0; i < LAB_TLS_MAZES; i++) {
		struct lab_tls_ent e = t->ent[i];
		/* forget it first, so that a handler cannot use a released slot */
		t->ent[i].maze = NULL;
		lab_signal_fence();
		t->ent[i].uid = 0;
		if (!e.maze || !lab_handle_alive(e.reg, e.uid))
			continue;
		if (e.slot >= 0)
			release_slot(&e);
		if (e.maze->threads) /* a shared maze: our entry is done */
			lab_reg_leave(e.maze, e.key);
	}
}

/* The thread is leaving: give its caches back, and retire its owner key so
 * that a later thread with the same tid cannot free its exclusive pages. */
void lab_thread_exit_hook(void)
{
	lab_tls.busy = 1;
	release_all(&lab_tls);
	lab_tls.busy = 0;
	if (lab_tls.tid) {
		atomic_fetch_add_explicit(&lab_incarnation[lab_tls.tid & LAB_OW_TID], 1,
					  memory_order_relaxed);
		lab_tls.tid = 0;
	}
}

static void on_thread_exit(void *arg)
{
	(void)arg;
	lab_thread_exit_hook();
}

uint32_t lab_owner_key_of(uint32_t tid)
{
	uint32_t inc =
		atomic_load_explicit(&lab_incarnation[tid & LAB_OW_TID], memory_order_relaxed);
	return (tid & LAB_OW_TID) | ((inc & 0xfu) << LAB_OW_INC_SHIFT);
}

static void on_fork_child(void)
{
	/* the child's only thread keeps its slots of private mazes (their
	 * memory was copied with them) but has a new id; the slots of shared
	 * mazes stay the parent's, so the child forgets them */
	for (unsigned i = 0; i < LAB_TLS_MAZES; i++) {
		struct labyrinth *m = lab_tls.ent[i].maze;
		if (m && lab_handle_alive(lab_tls.ent[i].reg, lab_tls.ent[i].uid) && m->threads) {
			lab_tls.ent[i].maze = NULL;
			lab_tls.ent[i].uid = 0;
		}
	}
	lab_tls.tid = 0;
	lab_thread_init();
	for (unsigned i = 0; i < LAB_TLS_MAZES; i++)
		lab_tls.ent[i].okey = lab_tls.key; /* private mazes only remain */
	if (atomic_load_explicit(&lab_global_barrier_used, memory_order_relaxed))
		lab_os_global_barrier_register(); /* per process: the child registers too */
}

static void setup(void)
{
	if (pthread_key_create(&lab_tls_key, on_thread_exit) == 0)
		atomic_store_explicit(&lab_key_ready, 1, memory_order_release);
	pthread_atfork(NULL, NULL, on_fork_child);
}

void lab_thread_setup_once(void)
{
	pthread_once(&lab_once, setup);
}

uint32_t lab_thread_init(void)
{
	uint32_t tid = lab_os_gettid() & LAB_OW_TID;
	lab_tls.key = lab_owner_key_of(tid);
	lab_tls.tid = tid;
	return tid; /* the exit hook is registered with the first slot */
}

int lab_slot_slow(struct labyrinth *maze)
{
	struct lab_tls *t = &lab_tls;
	if (t->busy)
		return -1; /* re-entered from a signal handler */
	uint32_t tid = lab_tid();
	t->busy = 1;
	lab_signal_fence();
	/* register the exit hook once the key exists (no allocation: glibc
	 * keeps keys below 32 in the thread descriptor) */
	if (!t->registered && atomic_load_explicit(&lab_key_ready, memory_order_acquire)) {
		pthread_setspecific(lab_tls_key, t);
		t->registered = 1;
	}
	if (maze->reg < 0) { /* a handle outside the pool: no caching */
		lab_signal_fence();
		t->busy = 0;
		return -1;
	}
	unsigned i; /* from 0: a handler may have moved maze to the front */
	for (i = 0; i < LAB_TLS_MAZES; i++)
		if (t->ent[i].maze == maze && t->ent[i].uid == maze->uid)
			break;
	struct lab_tls_ent e;
	if (i < LAB_TLS_MAZES) {
		e = t->ent[i];
	} else {
		i = LAB_TLS_MAZES - 1;
		struct lab_tls_ent old = t->ent[i];
		/* never evict a slot this thread is inside of (a handler that
		 * interrupted its cache operation): run uncached instead */
		if (old.maze && old.slot >= 0 && lab_handle_alive(old.reg, old.uid) &&
		    lab_load_relaxed(&old.maze->v.slots[old.slot].busy)) {
			lab_signal_fence();
			t->busy = 0;
			return -1;
		}
		t->ent[i].maze = NULL;
		lab_signal_fence();
		if (old.maze && old.slot >= 0 && lab_handle_alive(old.reg, old.uid))
			release_slot(&old);
		e.maze = maze;
		e.uid = maze->uid;
		e.reg = maze->reg;
		e.key = maze->threads ? lab_reg_self(maze, true) : tid;
		if (!e.key) { /* a shared maze's registry is full */
			lab_signal_fence();
			t->busy = 0;
			return -1;
		}
		e.okey = maze->threads ? e.key : t->key;
		e.slot = lab_core_slot_claim(&maze->v, e.key, tid);
	}
	/* a handler's lab_slot_of must see a whole entry or none: invalidate
	 * the front entry, move, then publish the maze pointer last */
	t->ent[0].maze = NULL;
	lab_signal_fence();
	for (; i > 0; i--)
		t->ent[i] = t->ent[i - 1];
	t->ent[0].uid = e.uid;
	t->ent[0].slot = e.slot;
	t->ent[0].reg = e.reg;
	t->ent[0].key = e.key;
	t->ent[0].okey = e.okey;
	lab_signal_fence();
	t->ent[0].maze = e.maze;
	lab_signal_fence();
	t->busy = 0;
	return e.slot;
}

int lab_whoami_slow(struct labyrinth *maze, uint32_t *key)
{
	int slot = lab_slot_slow(maze);
	struct lab_tls_ent *e = &lab_tls.ent[0];
	if (!maze->threads) {
		*key = lab_key();
		return slot;
	}
	if (e->maze == maze && e->uid == maze->uid) {
		*key = e->key;
		return slot;
	}
	/* no entry: a handler re-entered, or a handle outside the pool */
	*key = lab_reg_self(maze, true);
	return -1;
}

void lab_thread_release(struct labyrinth *maze)
{
	struct lab_tls *t = &lab_tls;
	t->busy = 1;
	lab_signal_fence();
	for (unsigned i = 0; i < LAB_TLS_MAZES; i++) {
		struct lab_tls_ent e = t->ent[i];
		if (e.maze != maze || e.uid != maze->uid)
			continue;
		t->ent[i].maze = NULL;
		lab_signal_fence();
		t->ent[i].uid = 0;
		if (e.slot >= 0)
			release_slot(&e);
	}
	lab_signal_fence();
	t->busy = 0;
}

/* The calling thread stops using maze (its destruction is under way). */
void lab_thread_forget(struct labyrinth *maze)
{
	struct lab_tls *t = &lab_tls;
	for (unsigned i = 0; i < LAB_TLS_MAZES; i++)
		if (t->ent[i].maze == maze) {
			t->ent[i].maze = NULL;
			t->ent[i].uid = 0;
		}
}

lab_owner_t lab_self(void)
{
	return lab_tid();
}

void lab_drain(struct labyrinth *maze)
{
	if (!lab_live(maze))
		return;
	int slot = lab_slot_of(maze);
	if (slot >= 0 && !lab_tls.busy)
		lab_core_drain(&maze->v, slot);
}

#ifdef LAB_DEBUG_YIELD
#include <sched.h>
#include <time.h>
/* Give the CPU away at about one window in 16, sleep at one in 256. */
void lab_debug_yield(void)
{
	static __thread uint32_t x = 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	if ((x & 255) == 0) {
		struct timespec ts = { 0, 1000 };
		nanosleep(&ts, NULL);
	} else if ((x & 15) == 0) {
		sched_yield();
	}
}
#endif

/* SPDX-License-Identifier: MIT */
/* The public allocation and free calls: GFP policy, zeroing, waiting, and
 * translation between addresses and room indices. */
#define _GNU_SOURCE
#include "core/cache.h"
#include "internal.h"
#include "shared/shared.h"

#include <errno.h>
#include <string.h>

#define LAB_WAIT_NS 2000000u	 /* a KERNEL waiter re-checks at least this often */
#define LAB_GFP_FAST LAB_GFP_ALL /* ZERO after, NOFAIL only on failure */

static long wait_alloc(struct labyrinth *m, int slot, unsigned order, uint32_t ow)
{
	struct lab_meta *meta = m->v.m;
	for (;;) {
		/* Dekker with lab_wake(): announce, then re-check. A free that
		 * misses the announcement is covered by the timeout. */
		uint32_t seq = lab_load_seq_cst(&meta->wake_seq);
		lab_add_seq_cst(&meta->waiters, 1);
		long idx = lab_core_alloc(&m->v, slot, order, false, ow);
		if (idx < 0)
			lab_os_futex_wait(&meta->wake_seq, seq, LAB_WAIT_NS, m->fshared);
		lab_sub_seq_cst(&meta->waiters, 1);
		if (idx >= 0)
			return idx;
		idx = lab_core_alloc(&m->v, slot, order, false, ow);
		if (idx >= 0)
			return idx;
	}
}

static inline void lab_wake(struct labyrinth *m)
{
	struct lab_meta *meta = m->v.m;
	if (LAB_UNLIKELY(lab_load_seq_cst(&meta->waiters))) {
		lab_add_seq_cst(&meta->wake_seq, 1);
		lab_os_futex_wake(&meta->wake_seq, m->fshared);
	}
}

static _Noreturn void panic_oom(unsigned order, lab_gfp_t gfp)
{
	struct lab_buf b = { .n = 0 };
	if (gfp == (LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE | LAB_GFP_NOFAIL) && order == 0)
		lab_buf_s(&b, "Labyrinth allocpage exclusive failed: out of memory (order ");
	else
		lab_buf_s(&b, "Labyrinth alloc failed: out of memory (order ");
	lab_buf_u(&b, order);
	lab_buf_s(&b, ", gfp 0x");
	lab_buf_x(&b, gfp);
	lab_buf_s(&b, ")");
	lab_panic(b.b);
}

/* The general path: any order, reserve, waiting, NOFAIL. key and slot:
 * the caller's, from lab_whoami; fast: what the fast path returned, 0 if it
 * was not tried (then the cache is tried here). */
__attribute__((noinline)) static long alloc_slow(struct labyrinth *m, lab_gfp_t gfp, unsigned order,
						 uint32_t key, int slot, long fast)
{
	if (LAB_UNLIKELY((gfp & ~LAB_GFP_ALL) || order > LAB_MAX_ORDER))
		return -EINVAL;
	if (LAB_UNLIKELY(!key))
		return -EAGAIN; /* a shared maze's thread registry is full */
	uint32_t ow = lab_ow_make(key, order, gfp & LAB_GFP_EXCLUSIVE);
	long idx = -ENOMEM;
	if (LAB_LIKELY(order <= m->v.max_order)) {
		idx = fast < 0 ? lab_core_alloc_uncached(&m->v, slot, order, ow) :
				 lab_core_alloc(&m->v, slot, order, gfp & LAB_GFP_ATOMIC, ow);
		/* KERNEL may wait unless ATOMIC or NOWAIT forbids it */
		if (LAB_UNLIKELY(idx < 0) && (gfp & LAB_GFP_KERNEL) &&
		    !(gfp & (LAB_GFP_ATOMIC | LAB_GFP_NOWAIT)))
			idx = wait_alloc(m, slot, order, ow);
	}
	if (LAB_UNLIKELY(idx < 0) && (gfp & LAB_GFP_NOFAIL))
		panic_oom(order, gfp);
	return idx;
}

/* Index, or -EINVAL / -ENOMEM, on a live maze (the callers check). The fast
 * path takes an order-0 room from this thread's cache when no reserve
 * stands in the way. */
LAB_INLINE long alloc_index(struct labyrinth *m, lab_gfp_t gfp, unsigned order)
{
	long idx = 0; /* 0: the fast path was not tried */
	uint32_t key;
	int slot = lab_whoami(m, &key);
	if (LAB_LIKELY(order == 0 && slot >= 0 && !(gfp & ~LAB_GFP_FAST) &&
		       ((gfp & LAB_GFP_ATOMIC) || !m->v.reserve))) {
		idx = lab_fast_alloc0(&m->v, slot, lab_ow_make(key, 0, gfp & LAB_GFP_EXCLUSIVE));
		if (LAB_LIKELY(idx >= 0))
			goto got;
	}
	idx = alloc_slow(m, gfp, order, key, slot, idx);
got:
	if (idx >= 0) {
		lab_poison(m, (size_t)idx, order, false);
		if (m->gens) /* we own the block now: nobody else writes it */
			atomic_store_explicit(&m->gens[idx],
					      (uint8_t)(lab_generation(m, (size_t)idx) + 1),
					      memory_order_relaxed);
	}
	if (LAB_UNLIKELY(gfp & LAB_GFP_ZERO) && idx >= 0 && m->base)
		memset(m->base + ((size_t)idx << m->page_shift), 0, m->page_size << order);
	return idx;
}

long lab_alloc_index(struct labyrinth *m, lab_gfp_t gfp, unsigned order)
{
	if (LAB_UNLIKELY(!lab_live(m)))
		return -EINVAL;
	return alloc_index(m, gfp, order);
}

void *lab_alloc_pages(struct labyrinth *m, lab_gfp_t gfp, unsigned order)
{
	if (LAB_UNLIKELY(!lab_live(m) || !m->base))
		return NULL;
	long idx = alloc_index(m, gfp, order);
	return LAB_LIKELY(idx >= 0) ? m->base + ((size_t)idx << m->page_shift) : NULL;
}

void *lab_alloc_page(struct labyrinth *m, lab_gfp_t gfp)
{
	return lab_alloc_pages(m, gfp, 0);
}

/* Address to index with the free errors: -EFAULT outside, -EINVAL not the
 * first byte of a room. */
LAB_INLINE long page_to_index(const struct labyrinth *m, const void *page)
{
	uintptr_t p = (uintptr_t)page, b = (uintptr_t)m->base;
	if (p < b || ((p - b) >> m->page_shift) >= m->v.pages)
		return -EFAULT;
	if ((p - b) & (m->page_size - 1))
		return -EINVAL;
	return (long)((p - b) >> m->page_shift);
}

LAB_INLINE int free_index(struct labyrinth *m, size_t idx, unsigned order)
{
	if (LAB_UNLIKELY(idx >= m->v.pages))
		return -EFAULT;
	if (LAB_UNLIKELY(order > LAB_MAX_ORDER))
		return -EINVAL;
	uint32_t key;
	int slot = lab_whoami(m, &key);
	int err;
#ifdef LAB_ASAN
	/* poison before the room can be handed out again; undo on error */
	uint64_t head;
	uint32_t ow = lab_core_block(&m->v, idx, &head);
	bool poisoned = lab_ow_allocated(ow) && head == idx && lab_ow_order(ow) == order;
	if (poisoned)
		lab_poison(m, idx, order, true);
#endif
	if (LAB_LIKELY(order == 0 && slot >= 0) && !lab_fast_free0(&m->v, slot, idx, key))
		err = 0;
	else if (order == 0 && slot >= 0) /* the cache said no: not again */
		err = lab_core_free_uncached(&m->v, slot, idx, order, key);
	else
		err = lab_core_free(&m->v, slot, idx, order, key);
#ifdef LAB_ASAN
	if (err && poisoned)
		lab_poison(m, idx, order, false);
#endif
	if (LAB_LIKELY(!err))
		lab_wake(m);
	return err;
}

int lab_free_index(struct labyrinth *m, size_t index, unsigned order)
{
	if (LAB_UNLIKELY(!lab_live(m)))
		return -EINVAL;
	return free_index(m, index, order);
}

int lab_free_pages(struct labyrinth *m, void *page, unsigned order)
{
	if (LAB_UNLIKELY(!lab_live(m) || !m->base))
		return -EINVAL;
	long idx = page_to_index(m, page);
	if (LAB_UNLIKELY(idx < 0))
		return (int)idx;
	return free_index(m, (size_t)idx, order);
}

int lab_free_page(struct labyrinth *m, void *page)
{
	return lab_free_pages(m, page, 0);
}

/* The thread id behind an owner word's key. */
static lab_owner_t owner_tid(const struct labyrinth *m, uint32_t ow)
{
	if (!lab_ow_allocated(ow))
		return 0;
	return m->threads ? lab_reg_tid_of(m, ow & LAB_OW_KEY) : ow & LAB_OW_TID;
}

lab_owner_t lab_index_owner(const struct labyrinth *m, size_t index)
{
	if (!lab_readable(m) || index >= m->v.pages)
		return 0;
	return owner_tid(m, lab_core_owner(&m->v, index));
}

int lab_room_info(const struct labyrinth *m, size_t index, struct lab_room *out)
{
	if (!lab_readable(m) || !out)
		return -EINVAL;
	if (index >= m->v.pages)
		return -EFAULT;
	uint64_t head;
	uint32_t ow = lab_core_block(&m->v, index, &head);
	out->block = (size_t)head;
	out->owner = 0;
	out->order = 0;
	out->exclusive = 0;
	if (lab_ow_allocated(ow)) {
		out->state = LAB_ROOM_ALLOCATED;
		out->owner = owner_tid(m, ow);
		out->order = lab_ow_order(ow);
		out->exclusive = !!(ow & LAB_OW_EXCL);
	} else {
		out->state = ow ? LAB_ROOM_CACHED : LAB_ROOM_FREE;
	}
	return 0;
}

lab_owner_t lab_page_owner(const struct labyrinth *m, const void *page)
{
	if (!lab_readable(m) || !m->base)
		return 0;
	long idx = lab_page_index(m, page); /* any byte of the room */
	return idx < 0 ? 0 : lab_index_owner(m, (size_t)idx);
}

/* to is a tid; the owner word records its current owner key. */
static int give_index(struct labyrinth *m, size_t idx, lab_owner_t to)
{
	if (to == 0 || to > LAB_OW_TID)
		return idx < m->v.pages ? -EINVAL : -EFAULT;
	uint32_t key, to_key = lab_owner_key_of(to);
	int slot = lab_whoami(m, &key);
	if (m->threads) {
		if (idx >= m->v.pages)
			return -EFAULT;
		int err = key ? lab_reg_key_of_tid(m, to, &to_key) : -EAGAIN;
		if (err)
			return err;
	}
	return lab_core_give(&m->v, slot, idx, key, to_key);
}

int lab_index_give(struct labyrinth *m, size_t index, lab_owner_t to)
{
	if (!lab_live(m))
		return -EINVAL;
	return give_index(m, index, to);
}

int lab_page_give(struct labyrinth *m, void *page, lab_owner_t to)
{
	if (!lab_live(m) || !m->base)
		return -EINVAL;
	long idx = page_to_index(m, page);
	if (idx < 0)
		return (int)idx;
	return give_index(m, (size_t)idx, to);
}

void *allocpage_gfp_atomic_exclusive(struct labyrinth *m)
{
	if (!lab_live(m) || !m->base)
		lab_panic("Labyrinth allocpage exclusive failed: not a live maze with memory");
	long idx = alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE | LAB_GFP_NOFAIL, 0);
	return m->base + ((size_t)idx << m->page_shift); /* NOFAIL: idx >= 0 */
}

const char *lab_free_misuse(int err)
{
	switch (err) {
	case -EFAULT:
		return "page not in this maze";
	case -EINVAL:
		return "not the start of a block, or wrong order";
	case -ENOENT:
		return "double free (page not allocated)";
	case -EPERM:
		return "caller is not the owner of this exclusive page";
	default:
		return "bad maze";
	}
}

void dealloc_labyrinth_page_exclusive(struct labyrinth *m, void *page)
{
	int err = -EINVAL;
	if (LAB_LIKELY(lab_live(m) && m->base)) {
		long idx = page_to_index(m, page);
		err = idx < 0 ? (int)idx : free_index(m, (size_t)idx, 0);
	}
	if (LAB_UNLIKELY(err)) {
		struct lab_buf b = { .n = 0 };
		lab_buf_s(&b, "Labyrinth dealloc exclusive failed: ");
		lab_buf_s(&b, lab_free_misuse(err));
		lab_buf_s(&b, " (page 0x");
		lab_buf_x(&b, (uintptr_t)page);
		lab_buf_s(&b, ")");
		lab_panic(b.b);
	}
}

/* Each text holds for every call that returns the code; where the code
 * means different things to different calls, the calls are named. */
const char *lab_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument: a bad maze handle, flag, order, size or index";
	case -ENOMEM:
		return "out of memory";
	case -EOVERFLOW:
		return "size overflows";
	case -EFAULT:
		return "address or index outside the maze";
	case -ENOENT:
		return "no such file or shared-memory object (open, attach), or the room is "
		       "not allocated (free, give, adopt)";
	case -EBUSY:
		return "busy: the object is open in another process or already in this one "
		       "(open, attach), or a live process uses the maze (recover)";
	case -EPROTO:
		return "another format version or byte order";
	case -EEXIST:
		return "already exists";
	case -EACCES:
		return "permission denied";
	case -EAGAIN:
		return "the thread registry of the shared maze is full";
	case -ESRCH:
		return "no such thread";
	case -ENOSYS:
		return "the system lacks a needed call (membarrier)";
	case -EIO:
		return "input/output error";
	case -EPERM:
		return "not the owner";
	case -EUCLEAN:
		return "not a maze, a damaged one, or not closed cleanly (lab_file_inspect "
		       "says which; LAB_RECOVER mends a crash)";
	case -EISDIR:
		return "a directory, not a maze object";
	case -ENODEV:
		return "not a regular file: a FIFO, socket or device cannot hold a maze";
	case -ELOOP:
		return "too many symbolic links, or a symbolic link where none is followed";
	case -ENAMETOOLONG:
		return "name too long";
	case -ENOTDIR:
		return "a component of the path is not a directory";
	case -EROFS:
		return "read-only file system";
	case -EMFILE:
		return "too many open files or mazes in this process";
	case -ENFILE:
		return "too many open files in the system";
	case -ENOSPC:
		return "no space left for the object";
	default:
		return "unknown error";
	}
}

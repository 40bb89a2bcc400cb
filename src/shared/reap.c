/* SPDX-License-Identifier: MIT */
/* Giving back what the dead held: lab_reap on a live maze, lab_recover on
 * a quiet one, and the orphans a recovery kept. */
#define _GNU_SOURCE
#include "shared.h"

#include <errno.h>
#include <string.h>

/* Whether the LIVE entry e's thread is gone (the kernel says so). */
static bool ent_gone(struct lab_reg_ent *e)
{
	struct lab_os_task t = { .pid = lab_load_relaxed(&e->pid),
				 .tid = lab_load_relaxed(&e->tid),
				 .pid_start = lab_load_relaxed(&e->pid_start),
				 .tid_start = lab_load_relaxed(&e->tid_start),
				 .ns = lab_load_relaxed(&e->ns) };
	return lab_os_task_alive(&t) == 0;
}

/* Which registry entries are dead now: DEAD ones, and LIVE ones whose
 * thread is gone. Writes nothing. */
void lab_reap_snapshot(struct lab_reap_ctx *c, struct labyrinth *m)
{
	memset(c, 0, sizeof(*c));
	c->m = m;
	if (!m->threads)
		return;
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++) {
		struct lab_reg_ent *e = &m->threads->ent[i];
		uint32_t w = lab_load_acquire(&e->word);
		c->gen[i] = (uint16_t)((w >> 2) & LAB_REG_GEN_MASK);
		if ((w & 3) == LAB_REG_DEAD || ((w & 3) == LAB_REG_LIVE && ent_gone(e)))
			c->dead[i >> 5] |= 1u << (i & 31);
	}
}

/* Record the snapshot's verdicts: LIVE -> DEAD for the gone. An entry that
 * changed meanwhile (not DEAD either) is no longer counted dead. */
void lab_reap_mark(struct lab_reap_ctx *c)
{
	for (uint32_t i = 0; i < LAB_SHARED_THREADS && c->m->threads; i++) {
		if (!((c->dead[i >> 5] >> (i & 31)) & 1))
			continue;
		uint32_t dead = ((uint32_t)c->gen[i] << 2) | LAB_REG_DEAD;
		uint32_t w = ((uint32_t)c->gen[i] << 2) | LAB_REG_LIVE;
		if (!atomic_compare_exchange_strong_explicit(&c->m->threads->ent[i].word, &w, dead,
							     memory_order_acq_rel,
							     memory_order_acquire) &&
		    w != dead)
			c->dead[i >> 5] &= ~(1u << (i & 31));
	}
}

/* key's thread is gone: its entry is dead in the snapshot, or has moved on
 * to a later generation (DEAD -> FREE happens only after the dead's rooms
 * went back, and a key with a generation the entry has not reached yet
 * cannot be in an owner word we read with acquire). */
static bool shared_key_dead(struct lab_reap_ctx *c, uint32_t key)
{
	uint32_t i = lab_reg_key_idx(key);
	if (i >= LAB_SHARED_THREADS)
		return true; /* no such entry: garbage, nobody's */
	uint32_t g = lab_reg_key_gen(key) & LAB_REG_GEN_MASK;
	uint32_t w = lab_load_acquire(&c->m->threads->ent[i].word);
	if ((w >> 2) != g)
		return true;
	if ((w & 3) == LAB_REG_DEAD)
		return true;
	if ((w & 3) == LAB_REG_FREE)
		return true; /* never registered with this generation */
	return (w & 3) == LAB_REG_LIVE && c->gen[i] == g && (c->dead[i >> 5] >> (i & 31)) & 1;
}

/* Private mazes: the key's thread exited (its incarnation moved on), or no
 * thread of this process has its tid any more. */
static bool private_key_dead(struct lab_reap_ctx *c, uint32_t key)
{
	uint32_t tid = key & LAB_OW_TID;
	if (lab_owner_key_of(tid) != (key & LAB_OW_KEY))
		return true;
	/* one /proc look-up per thread, not per block */
	uint32_t h = (tid * 2654435761u) >> 26;
	if (c->memo_key[h] == key)
		return c->memo_dead[h];
	/* dead only on the kernel's word (ESRCH); the incarnation covers reuse */
	bool d = lab_os_task_exists(lab_os_getpid(), tid) == 0;
	c->memo_key[h] = key;
	c->memo_dead[h] = d;
	return d;
}

bool lab_reap_key_dead(void *ctx, uint32_t key)
{
	struct lab_reap_ctx *c = ctx;
	return c->m->threads ? shared_key_dead(c, key) : private_key_dead(c, key);
}

/* What a reap takes back. Every mode returns dead threads' caches (free
 * rooms). LAB_REAP_ALL (lab_reap) also frees the dead's blocks and
 * recycles their registry entries; LAB_REAP_RECYCLE (a full registry)
 * recycles only the entries of dead threads that own no block, so that a
 * page an exited thread handed over is never freed behind the user's back;
 * LAB_REAP_CACHES (detach) recycles nothing. */
long lab_reap_some(struct labyrinth *m, int mode)
{
	bool rooms = mode == LAB_REAP_ALL;
	struct lab_reap_ctx *c = lab_os_map(sizeof(*c), 4096, 0);
	if (!c)
		return -ENOMEM;
	lab_reap_snapshot(c, m);
	lab_reap_mark(c);
	const struct lab_view *v = &m->v;
	/* dead threads' caches: seized, so that their rooms can be taken */
	uint64_t seized = 0;
	for (uint32_t s = 0; s < v->nslots && m->threads; s++) {
		uint32_t k = lab_load_acquire(&v->slots[s].key);
		if (k && lab_reap_key_dead(c, k) && lab_core_slot_seize(v, (int)s, k))
			seized |= 1ull << s;
	}
	long back = 0;
	uint64_t i = 0;
	while (i < v->pages) {
		uint32_t ow = lab_load_acquire(&v->owners[i]);
		if (ow & LAB_OW_CACHED) {
			uint32_t s = ow & ~LAB_OW_CACHED;
			if (s < 64 && ((seized >> s) & 1) &&
			    lab_cas_strong_acq_rel(&v->owners[i], &ow, 0)) {
				lab_rows_free(v, i, 0);
			}
			i++;
			continue;
		}
		if (!lab_ow_allocated(ow)) {
			i++;
			continue;
		}
		unsigned o = lab_ow_order(ow);
		if (rooms && lab_reap_key_dead(c, ow & LAB_OW_KEY) &&
		    lab_core_free_exact(v, i, ow) == 0) {
			back += 1l << o;
			lab_poison(m, i, o, true);
		} else if (mode == LAB_REAP_RECYCLE && m->threads) {
			uint32_t e = lab_reg_key_idx(ow & LAB_OW_KEY);
			if (e < LAB_SHARED_THREADS) /* an owner: its entry stays */
				c->dead[e >> 5] &= ~(1u << (e & 31));
		}
		i += 1ull << o;
	}
	for (uint32_t s = 0; s < v->nslots; s++)
		if ((seized >> s) & 1)
			lab_core_slot_reset(v, (int)s, lab_load_relaxed(&v->slots[s].key));
	/* a thread killed between changing a row and marking its group left
	 * the mark out: mark every unreserved group for what it holds (always
	 * on lab_reap: a killed thread may have held no slot and no block) */
	if (seized || back || rooms)
		lab_core_republish(v);
	/* entries whose rooms are back come free, with a new generation */
	for (uint32_t e = 0; e < LAB_SHARED_THREADS && m->threads && mode != LAB_REAP_CACHES; e++) {
		if (!((c->dead[e >> 5] >> (e & 31)) & 1))
			continue;
		lab_a32 *wp = &m->threads->ent[e].word;
		uint32_t w = ((uint32_t)c->gen[e] << 2) | LAB_REG_DEAD;
		uint32_t nw = ((((uint32_t)c->gen[e] + 1) & LAB_REG_GEN_MASK) << 2) | LAB_REG_FREE;
		atomic_compare_exchange_strong_explicit(wp, &w, nw, memory_order_acq_rel,
							memory_order_relaxed);
	}
	lab_os_unmap(c, sizeof(*c));
	if (back && lab_load_seq_cst(&m->v.m->waiters)) {
		lab_add_seq_cst(&m->v.m->wake_seq, 1);
		lab_os_futex_wake(&m->v.m->wake_seq, m->fshared);
	}
	return back;
}

long lab_reap(struct labyrinth *m)
{
	if (!lab_live(m))
		return -EINVAL;
	return lab_reap_some(m, LAB_REAP_ALL);
}

int lab_recover(struct labyrinth *m, unsigned flags, struct lab_recovery *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!lab_live(m) || m->readonly || (flags & ~(LAB_RECOVER | LAB_RECOVER_KEEP)))
		return -EINVAL;
	uint64_t t0 = lab_os_now_ns();
	struct lab_reap_ctx *c = lab_os_map(sizeof(*c), 4096, 0);
	if (!c)
		return -ENOMEM;
	/* nothing is written before the checks passed: look first, mark later */
	lab_reap_snapshot(c, m);
	struct lab_os_task me = { 0 };
	bool known = lab_os_task_of(lab_tid(), &me) == 0; /* else nothing is "ours" */
	for (uint32_t i = 0; i < LAB_SHARED_THREADS && m->threads; i++) {
		struct lab_reg_ent *e = &m->threads->ent[i];
		if ((lab_load_acquire(&e->word) & 3) == LAB_REG_LIVE &&
		    !((c->dead[i >> 5] >> (i & 31)) & 1) && !(known && lab_reg_mine(e, &me))) {
			lab_os_unmap(c, sizeof(*c));
			return -EBUSY; /* a live process uses it */
		}
	}
	char why[128];
	int err = lab_core_recover_check(&m->v, why, sizeof(why));
	if (err) {
		lab_os_unmap(c, sizeof(*c));
		return err;
	}
	if (m->threads) {
		lab_store_release(&m->threads->lock, 0); /* quiet: no registrar */
		lab_reap_mark(c);
	}
	struct lab_recover_ops ops = {
		.dead = lab_reap_key_dead,
		.ctx = c,
		.keep = (flags & LAB_RECOVER_KEEP) != 0,
	};
	struct lab_core_recovery r;
	err = lab_core_recover(&m->v, &ops, &r, why, sizeof(why));
	for (uint32_t e = 0; !err && e < LAB_SHARED_THREADS && m->threads; e++) {
		/* a registration cut short owns nothing yet */
		lab_a32 *wp = &m->threads->ent[e].word;
		uint32_t w = lab_load_relaxed(wp);
		if ((w & 3) == LAB_REG_BUSY)
			lab_store_release(wp, ((((w >> 2) + 1) & LAB_REG_GEN_MASK) << 2) |
						      LAB_REG_FREE);
	}
	if (!err && !ops.keep)
		for (uint32_t e = 0; e < LAB_SHARED_THREADS && m->threads; e++) {
			if (!((c->dead[e >> 5] >> (e & 31)) & 1))
				continue;
			uint32_t g = c->gen[e];
			lab_store_release(&m->threads->ent[e].word,
					  (((g + 1) & LAB_REG_GEN_MASK) << 2) | LAB_REG_FREE);
		}
	lab_os_unmap(c, sizeof(*c));
	if (err)
		return err;
	/* every cache slot was reset: this process's threads must claim anew */
	lab_handle_renew(m);
	struct lab_recovery *rec = &m->rec;
	rec->reclaimed = (size_t)r.reclaimed;
	rec->kept = (size_t)r.kept;
	rec->kept_blocks = (size_t)r.kept_blocks;
	rec->inflight = (size_t)r.inflight;
	rec->caches = (size_t)r.caches;
	rec->rows_fixed = (size_t)r.rows_fixed;
	rec->nanoseconds = lab_os_now_ns() - t0;
	if (out)
		*out = *rec;
	return 0;
}

void lab_recovery_info(const struct labyrinth *m, struct lab_recovery *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (lab_readable(m))
		*out = m->rec;
}

long lab_orphans(const struct labyrinth *cm, size_t *idx, size_t cap)
{
	if (!lab_readable(cm) || (!idx && cap))
		return -EINVAL;
	struct labyrinth *m = (struct labyrinth *)cm; /* the snapshot only reads */
	struct lab_reap_ctx *c = lab_os_map(sizeof(*c), 4096, 0);
	if (!c)
		return -ENOMEM;
	lab_reap_snapshot(c, m);
	long n = 0;
	for (uint64_t i = 0; i < m->v.pages;) {
		uint32_t ow = lab_load_acquire(&m->v.owners[i]);
		if (!lab_ow_allocated(ow)) {
			i++;
			continue;
		}
		if (lab_reap_key_dead(c, ow & LAB_OW_KEY)) {
			if ((size_t)n < cap)
				idx[n] = (size_t)i;
			n++;
		}
		i += 1ull << lab_ow_order(ow);
	}
	lab_os_unmap(c, sizeof(*c));
	return n;
}

/* One key judged on its own (no snapshot of the whole registry). */
static bool key_gone_now(struct labyrinth *m, uint32_t key)
{
	struct lab_reap_ctx one = { .m = m };
	if (!m->threads)
		return private_key_dead(&one, key);
	uint32_t i = lab_reg_key_idx(key);
	if (i < LAB_SHARED_THREADS) {
		struct lab_reg_ent *e = &m->threads->ent[i];
		uint32_t w = lab_load_acquire(&e->word);
		one.gen[i] = (uint16_t)((w >> 2) & LAB_REG_GEN_MASK);
		if ((w & 3) == LAB_REG_LIVE && ent_gone(e))
			one.dead[i >> 5] |= 1u << (i & 31);
	}
	return shared_key_dead(&one, key);
}

int lab_index_adopt(struct labyrinth *m, size_t index)
{
	if (!lab_live(m) || m->readonly)
		return -EINVAL;
	if (index >= m->v.pages)
		return -EFAULT;
	uint64_t head;
	uint32_t ow = lab_core_block(&m->v, index, &head);
	if (!lab_ow_allocated(ow))
		return -ENOENT;
	if (head != index)
		return -EINVAL;
	uint32_t key;
	lab_whoami(m, &key);
	if (!key)
		return -EAGAIN;
	if (!key_gone_now(m, ow & LAB_OW_KEY))
		return -EPERM;
	return lab_core_adopt(&m->v, index, ow, key);
}

int lab_kind(const struct labyrinth *m)
{
	return lab_readable(m) ? (int)m->kind : -EINVAL;
}

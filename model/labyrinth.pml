/* SPDX-License-Identifier: MIT */
/*
 * labyrinth.pml: a Promela model of labyrinth's alloc/free/give protocol
 * (src/core: rows.c, cache.h, cache.c, core.c): owner words, bitfield, row
 * count, thread caches, the stealers' sweep and the scarce hint. Checked by
 * model/check.sh with spin 6.5; model/README.md maps every step below to
 * its C function. Update this model together with the code it describes.
 * (summary.pml models the group summaries and reservations.)
 *
 * Scaled down: one row of NR rooms (one bitfield word, one row entry, the
 * group count omitted: it is a relaxed filter that no decision trusts), one
 * cache slot per thread with CAP entries, refills of REFILL rooms and drains
 * of DRAIN rooms (the code: 64, 32, 32). Order-0 rooms only: blocks of
 * higher orders use the same reserve-then-claim and CAS-then-clear-then-count
 * steps as the order-0 bitfield path modelled here.
 *
 * Atomicity: one Promela step per access to a shared word, as the C code
 * does it. A CAS is one atomic step (a failed CAS changes nothing, so a
 * CAS loop is modelled by its successful iteration, or by a re-read and a
 * retry where the loop re-checks what it read). Purely local computation is
 * folded into the step that uses it.
 *
 * Memory model: Promela is sequentially consistent. For the owner words,
 * the bitfield and the row entry the code uses acquire/release and RMW
 * operations on single words, whose outcomes (which CAS wins, what a
 * reservation sees) are the interleavings modelled here. The one place that
 * relies on more than acquire/release is the cache's busy/lock handshake
 * (a Dekker pattern): the owner stores busy=1 and then loads lock with only
 * a compiler barrier in between; the stealer CASes lock, runs membarrier
 * (MEMBARRIER_CMD_PRIVATE_EXPEDITED), then loads busy. membarrier makes
 * every running thread of the process execute a full fence at some point
 * between its start and its return, so either that fence falls after the
 * owner's busy store (and the stealer's later load of busy sees 1), or it
 * falls before it (and then the owner's later load of lock, which follows
 * the stealer's CAS in the fence order, sees 1). That is exactly what a
 * sequentially consistent store/load pair on each side gives, so the model
 * treats the owner's enter sequence and the stealer's CAS-barrier-load as
 * SC steps and the barrier itself as a no-op (Promela's default). Without a
 * heavy barrier the code uses seq_cst fences on both sides: same argument.
 * The sweep (sweep_lock) CASes the lock of every slot it takes, then runs
 * one barrier, then loads each busy: for each slot that is the same
 * CAS-barrier-load order, so the argument holds slot by slot.
 *
 * The scarce hint (lab_meta.scarce) is read and written relaxed. The model
 * reads it SC; -DSCARCE_ANY lets every read of it return either value (what
 * a relaxed load that sees an older store may do), and check.sh runs that
 * too: the flag only picks a path, and every path must be correct.
 *
 * Ghost state (not in the code) states the properties:
 *   held[r]     1 while a user holds room r: set where alloc hands it out
 *               (the owner word store), cleared where a free takes it back
 *               (the owner word CAS or store). "No room held twice":
 *               handing out a held room, or freeing a room nobody holds,
 *               fails an assertion.
 *   incache[r]  1 while r is parked in some cache's ent[0..top).
 *   a reservation always finds its clear bits (rows.c's invariant).
 *   inop, ovl   threads inside an operation (alloc, free, give, drain),
 *               and those that another operation overlapped.
 * "No room lost": when every thread is done and has drained its cache,
 * every room is free: bit clear, owner word FREE, row count NR, caches
 * empty, no lock or busy flag left set.
 * "ENOMEM only when dry" (2 threads; its ghost adds 70% to the 3-thread
 * state space, -DENOMEM_CHECK3 turns it on there): an order-0 allocation that
 * fails while no other operation overlapped it finds every room held by a
 * user. (While operations are in flight the sweep may skip a busy or
 * locked cache: a failure then is allowed.) Together with the two above,
 * that is "scarce is a hint only": setting and clearing it, in any
 * interleaving with frees and allocations, loses no room, hands none out
 * twice and makes no allocation fail that a quiescent maze could serve.
 *
 * Not modelled: signal handlers (busy on entry, freeing), a failed heavy
 * barrier (the sweep unlocks all and gives up: an ENOMEM with rooms
 * cached; the ENOMEM check assumes the barrier works), orders
 * above 0 and lab_cache_flush_all's callers (same sweep), the group free
 * count (the scarce clear in free_direct reads the row count instead: both
 * are relaxed, added right after the row changed), reserve accounting
 * (nfree: with a reserve, refills take less; a refill of REFILL rooms is
 * the one that clears scarce), KERNEL waits, slot claim and release.
 *
 * Mutants (each must make pan report a violation; model/check.sh runs them):
 *   -DMUT_FREE_STORE  a shared room is freed into the cache with a plain
 *                     store instead of the CAS (two racing frees both win)
 *   -DMUT_NO_BUSY     the sweep skips the busy check after its barrier
 *   -DMUT_COUNT_FIRST a free adds to the row count before clearing its bits
 *   -DMUT_NO_LOCK     the owner does not look at lock after setting busy
 *   -DMUT_SWEEP_BUSY_FIRST  the sweep reads busy before it locks (one
 *                     pass, no read after the barrier)
 *   -DMUT_STEAL_BREAK lab_cache_steal stops at the first room it takes, so
 *                     the slots the sweep locked after it stay locked
 *                     (3 threads: a sweep must lock two caches)
 *   -DMUT_SCARCE_TRUSTED  an allocation that finds scarce already set
 *                     takes it for "the caches are empty" and fails
 *                     without a sweep
 *
 * Finding: -DSTRICT_DRAIN (model/README.md).
 */

#ifndef NT
#define NT 2 /* threads: 2 or 3 */
#endif
#define NR 3     /* rooms, one row */
#define CAP 2    /* cache entries per slot */
#define REFILL 2 /* rooms per refill (LAB_CACHE_BATCH) */
#define DRAIN 1  /* rooms per drain of a full cache (LAB_CACHE_BATCH) */
#define SCARCE_FREE 2 /* free rooms in the group that end scarcity (the
                       * code: 2 batches, 64; here 2, as NR is 3) */

/* the ENOMEM check: 2 threads (its ghost adds 70% to the 3-thread run) */
#if NT == 2 || defined(ENOMEM_CHECK3)
#define CHECK_ENOMEM 1
#endif

/* a read of the scarce hint: the flag, or (-DSCARCE_ANY) either value, as
 * a relaxed load that sees an older store may */
#ifdef SCARCE_ANY
#define SCARCE1 true
#define SCARCE0 true
#else
#define SCARCE1 scarce
#define SCARCE0 !scarce
#endif

#define ALL ((1 << NR) - 1)
#define NONE 255

/* owner word: 0 FREE; CACHED|slot; tid | EXCL (tid 1..3) */
#define FREE 0
#define CACHED 128
#define EXCL 16
#define TIDM 15
#define allocated(w) ((w) != FREE && ((w) & CACHED) == 0)

/* errors, as lab_core_free/give return them (negated there) */
#define EPERM 1
#define ENOENT 2
#define ENOMEM 12

bool scarce;     /* lab_meta.scarce: frees bypass the caches while set */
byte bits;       /* the row's bitfield word: bit r set = room r claimed */
byte count = NR; /* the row entry's free count */
byte owner[NR];  /* owner words */

/* one slot (thread cache) per thread; slot s belongs to thread s */
bool busy[NT];
bool lock[NT];
byte top[NT];
byte ent[NT * CAP]; /* slot s: ent[s * CAP .. s * CAP + CAP - 1] */

/* ghosts */
byte inop;   /* bit i: thread i is inside an operation (alloc, free, give, drain) */
byte ovl;    /* bit i: another operation overlapped thread i's */
byte held[NR];
bool incache[NR];
byte done;
byte handoff = NONE; /* the room thread 0 gave to thread 1 */
byte res_free_a = NONE, res_free_b = NONE; /* the racing frees of it */

/* ---- the bitfield and the row entry (rows.c) ------------------------- */

/* lowest clear bit of w, NR if none (local computation) */
inline lowest_clear(w, i)
{
	i = 0;
	do
	:: i < NR && (((w) >> i) & 1) -> i++
	:: else -> break
	od
}

/* lab_rows_alloc, order 0: search + try_block (row_reserve 1, then
 * row_claim_run: CAS one clear bit), then the owner word's release store. */
inline rows_alloc0(ow, res)
{
	res = NONE;
	atomic { /* row_reserve: CAS count -> count - 1 */
		if
		:: count >= 1 -> count--; ok = 1
		:: else -> ok = 0
		fi
	}
	if
	:: ok ->
		d_step { /* row_claim_run: CAS a clear bit */
			lowest_clear(bits, i);
			assert(i < NR); /* a reservation finds its bit */
			bits = bits | (1 << i);
			res = i;
			i = 0
		}
		d_step { /* lab_rows_alloc: owner store (release) */
			assert(owner[res] == FREE && !incache[res]);
			assert(held[res] == 0); /* no room held twice */
			owner[res] = ow;
			held[res] = 1
		}
	:: else -> skip
	fi
}

/* lab_rows_free, order 0 (after the owner word's CAS to 0): clear the bit
 * (fetch_and release), then add to the row count (fetch_add release). */
inline rows_free0(r)
{
#ifdef MUT_COUNT_FIRST
	count++;
#endif
	d_step {
		assert((bits >> r) & 1);
		bits = bits & ~(1 << r)
	}
#ifndef MUT_COUNT_FIRST
	count++;
#endif
}

/* ---- the owner's side of a cache (cache.h, cache.c) ------------------- */

/* lab_cache_enter. Without signal handlers busy is 0 on entry. */
inline cache_enter(s, ok)
{
	busy[s] = 1;
	/* compiler barrier; the stealer's membarrier completes it (see top) */
#ifdef MUT_NO_LOCK
	ok = 1;
#else
	if
	:: lock[s] -> busy[s] = 0; ok = 0
	:: else -> ok = 1
	fi
#endif
}

/* lab_cache_leave: release store */
inline cache_leave(s)
{
	busy[s] = 0
}

/* lab_cache_pop */
inline cache_pop(s, ow, res)
{
	res = NONE;
	t = top[s];
	if
	:: t > 0 ->
		e = ent[s * CAP + t - 1];
		top[s] = t - 1;
		d_step { /* owner store (release) */
			assert(owner[e] == (CACHED | s) && incache[e]);
			assert(held[e] == 0); /* no room held twice */
			incache[e] = 0;
			owner[e] = ow;
			held[e] = 1
		}
		res = e;
		e = 0
	:: else -> skip
	fi;
	t = 0
}

/* lab_cache_refill: row_reserve_upto, row_claim_bits, then owner words
 * CACHED|s and ent[], then top. got: rooms taken. */
inline cache_refill(s, got)
{
	atomic { /* row_reserve_upto: CAS count -> count - k */
		got = (count < REFILL -> count : REFILL);
		count = count - got
	}
	if
	:: got > 0 ->
		d_step { /* row_claim_bits: CAS got clear bits in the word */
			m = 0;
			k = 0;
			do
			:: k < got ->
				lowest_clear(bits | m, i);
				assert(i < NR); /* a reservation finds its bits */
				m = m | (1 << i);
				k++
			:: else -> break
			od;
			bits = bits | m;
			i = 0;
			k = 0
		}
		/* a whole batch: rooms are plentiful again (relaxed load, store) */
		if
		:: got == REFILL && SCARCE1 -> scarce = 0
		:: got != REFILL || SCARCE0 -> skip
		fi;
		t = top[s];
		k = 0;
		i = 0;
		do /* lowest index in ent[top + got - 1], popped first */
		:: i < NR && k < got ->
			if
			:: (m >> i) & 1 ->
				d_step {
					assert(owner[i] == FREE && held[i] == 0 && !incache[i]);
					owner[i] = CACHED | s
				}
				ent[s * CAP + t + got - 1 - k] = i;
				k++
			:: else -> skip
			fi;
			i++
		:: else -> break
		od;
		skip; /* (a loop's exit must not jump into a d_step) */
		d_step { /* top store: the rooms are now in the cache */
			top[s] = t + got;
			k = 0;
			do
			:: k < got ->
				incache[ent[s * CAP + t + k]] = 1;
				k++
			:: else -> break
			od;
			k = 0
		}
		i = 0;
		m = 0;
		t = 0
	:: else -> skip
	fi
}

/* lab_cache_drain_n: owner words to 0, shift ent[], top, then
 * lab_rows_free_batch (bits cleared, then the count). By the owner inside
 * its critical section, or by a stealer holding the lock. */
inline cache_drain_n(s, n)
{
	t = top[s];
	k = (n < t -> n : t);
	m = 0;
	i = 0;
	do
	:: i < k ->
		e = ent[s * CAP + i];
		d_step {
			assert(owner[e] == (CACHED | s) && incache[e]);
			incache[e] = 0;
			owner[e] = FREE
		}
		m = m | (1 << e);
		i++
	:: else -> break
	od;
	i = k;
	do
	:: i < t ->
		ent[s * CAP + i - k] = ent[s * CAP + i];
		i++
	:: else -> break
	od;
	top[s] = t - k;
	if
	:: k > 0 ->
#ifdef MUT_COUNT_FIRST
		count = count + k;
#endif
		d_step {
			assert((bits & m) == m);
			bits = bits & ~m
		}
#ifndef MUT_COUNT_FIRST
		count = count + k
#endif
	:: else -> skip
	fi;
	i = 0;
	k = 0;
	m = 0;
	e = 0;
	t = 0
}

/* ---- stealing (cache.c) ------------------------------------------------ */

/* sweep_lock: lock every slot that holds rooms (relaxed pre-checks, CAS
 * lock 0 -> 1), then one heavy barrier for all of them, then read each
 * locked slot's busy and unlock the busy ones. locked: the slots kept, as
 * bits. (A failed barrier unlocks them all and gives up: not modelled.) */
inline sweep_lock(locked)
{
	locked = 0;
	sl = 0;
	do
	:: sl < NT ->
		if
#ifdef MUT_SWEEP_BUSY_FIRST
		:: top[sl] == 0 || lock[sl] || busy[sl] -> skip /* busy read first */
#else
		:: top[sl] == 0 || lock[sl] -> skip /* relaxed pre-checks */
#endif
		:: else ->
			atomic { /* CAS lock 0 -> 1 (acquire) */
				if
				:: !lock[sl] -> lock[sl] = 1; locked = locked | (1 << sl)
				:: else -> skip
				fi
			}
		fi;
		sl++
	:: else -> break
	od;
	/* heavy_barrier(): a no-op under SC, see the top comment */
#if !defined(MUT_NO_BUSY) && !defined(MUT_SWEEP_BUSY_FIRST)
	sl = 0;
	do
	:: sl < NT ->
		if
		:: (locked >> sl) & 1 ->
			if
			:: busy[sl] -> /* acquire */
				lock[sl] = 0;
				locked = locked & ~(1 << sl)
			:: else -> skip
			fi
		:: else -> skip
		fi;
		sl++
	:: else -> break
	od;
#endif
	sl = 0
}

/* lab_cache_steal: one sweep; take one room from the first kept slot that
 * has one for ow; unlock every kept slot */
inline cache_steal(ow, res)
{
	res = NONE;
	sweep_lock(lk);
	sl = 0;
	do
	:: sl < NT ->
		if
		:: (lk >> sl) & 1 ->
			t = top[sl];
			if
			:: res == NONE && t > 0 ->
				e = ent[sl * CAP + t - 1];
				top[sl] = t - 1;
				d_step {
					assert(owner[e] == (CACHED | sl) && incache[e]);
					assert(held[e] == 0); /* no room held twice */
					incache[e] = 0;
					owner[e] = ow;
					held[e] = 1
				}
				res = e
			:: else -> skip
			fi;
			lock[sl] = 0; /* release */
#ifdef MUT_STEAL_BREAK
			if /* broken: stop at the first room, later slots stay locked */
			:: res != NONE -> break
			:: else -> skip
			fi;
#endif
			skip
		:: else -> skip
		fi;
		sl++
	:: else -> break
	od;
	lk = 0;
	sl = 0;
	e = 0;
	t = 0
}

/* ---- the entry points (core.c) ----------------------------------------- */

/* ghosts: an operation of thread me begins / ends; every operation in
 * flight when another begins is overlapped (ovl) */
inline op_begin(me)
{
#ifdef CHECK_ENOMEM
	d_step {
		if
		:: inop != 0 -> ovl = ovl | inop | (1 << me)
		:: else -> skip
		fi;
		inop = inop | (1 << me)
	}
#else
	skip
#endif
}

inline op_end(me)
{
#ifdef CHECK_ENOMEM
	d_step {
		inop = inop & ~(1 << me);
		ovl = ovl & ~(1 << me)
	}
#else
	skip
#endif
}

/* lab_core_alloc, order 0, with the caller's slot. An ENOMEM that no other
 * operation overlapped means that every room is held by a user. */
inline core_alloc0(s, ow, res)
{
	op_begin(s);
	res = NONE;
	cache_enter(s, ok);
	if
	:: ok ->
		cache_pop(s, ow, res);
		if
		:: res == NONE ->
			cache_refill(s, got);
			if
			:: got > 0 -> cache_pop(s, ow, res)
			:: else -> skip
			fi
		:: else -> skip
		fi;
		cache_leave(s)
	:: else -> skip
	fi;
	if
	:: res == NONE ->
		rows_alloc0(ow, res);
		if
		:: res == NONE -> /* exhaustion at the bitfield level */
#ifdef MUT_SCARCE_TRUSTED
			/* broken: scarce already set is taken to mean "the caches
			 * are empty": no sweep */
			if
			:: !scarce -> scarce = 1; cache_steal(ow, res)
			:: else -> skip
			fi
#else
			if /* relaxed load, store */
			:: SCARCE0 -> scarce = 1
			:: SCARCE1 -> skip
			fi;
			cache_steal(ow, res)
#endif
		:: else -> skip
		fi
	:: else -> skip
	fi;
#ifdef CHECK_ENOMEM
	d_step { /* ENOMEM: nothing was free, unless an operation overlapped */
		if
		:: res == NONE && !((ovl >> s) & 1) ->
			i = 0;
			do
			:: i < NR -> assert(held[i] == 1); i++
			:: else -> break
			od;
			i = 0
		:: else -> skip
		fi
	}
#endif
	op_end(s);
	got = 0;
	ok = 0
}

/* check_owner for order 0 (free_error): the error, 0 if the caller may
 * free or give */
inline check_owner(w, me, err)
{
	if
	:: !allocated(w) -> err = ENOENT
	:: allocated(w) && (w & EXCL) && (w & TIDM) != me -> err = EPERM
	:: else -> err = 0
	fi
}

/* free_direct, order 0: the owner word's CAS to 0 decides, then
 * lab_rows_free; then, while scarce, a group (here: the row) left with
 * SCARCE_FREE rooms free ends the scarcity */
inline free_direct(r, me, err)
{
	w = owner[r]; /* acquire */
	do
	:: check_owner(w, me, err);
		if
		:: err != 0 -> break
		:: else ->
			atomic { /* CAS owner[r]: w -> FREE */
				if
				:: owner[r] == w ->
					assert(held[r] == 1); /* no free of a free room */
					owner[r] = FREE;
					held[r] = 0;
					ok = 1
				:: else -> w = owner[r]; ok = 0
				fi
			}
			if
			:: ok -> break
			:: else -> skip
			fi
		fi
	od;
	if
	:: err == 0 ->
		rows_free0(r);
		if /* relaxed loads of scarce and of the group's free count */
		:: SCARCE1 ->
			if
			:: count >= SCARCE_FREE -> scarce = 0
			:: else -> skip
			fi
		:: SCARCE0 -> skip
		fi
	:: else -> skip
	fi;
	w = 0;
	ok = 0
}

/* lab_core_free, order 0, with the caller's slot: lab_fast_free0 (scarce:
 * bypass; enter; a full cache drains DRAIN rooms first; the owner word:
 * own exclusive room by a release store, a shared one by CAS, anything
 * else to the direct path, which names the error; park; leave); what the
 * cache did not take goes to free_direct. */
inline core_free0(s, r, me, err)
{
	op_begin(s);
	err = 0;
	fr = 1;
	if
	:: SCARCE1 -> skip /* relaxed: to the bitfield */
	:: SCARCE0 ->
		cache_enter(s, ok);
		if
		:: ok ->
			ft = top[s];
			if
			:: ft == CAP -> cache_drain_n(s, DRAIN); ft = top[s]
			:: else -> skip
			fi;
			/* freeing = r + 1: only a signal handler reads it */
			w = owner[r]; /* acquire */
			do
			:: w == (me | EXCL) -> /* own exclusive room: release store */
				d_step {
					assert(held[r] == 1 && owner[r] == w);
					owner[r] = CACHED | s;
					held[r] = 0
				}
				fr = 0;
				break
			:: w != FREE && (w & (CACHED | EXCL)) == 0 -> /* shared */
#ifdef MUT_FREE_STORE
				d_step { /* broken: a plain store */
					assert(held[r] == 1); /* no free of a free room */
					owner[r] = CACHED | s;
					held[r] = 0
				}
				fr = 0;
				break
#else
				atomic { /* CAS owner[r]: w -> CACHED|s */
					if
					:: owner[r] == w ->
						assert(held[r] == 1); /* no free of a free room */
						owner[r] = CACHED | s;
						held[r] = 0;
						fr = 0
					:: else -> w = owner[r]
					fi
				}
				if
				:: fr == 0 -> break
				:: else -> skip
				fi
#endif
			:: else -> break /* the direct path finds the error */
			od;
			if
			:: fr == 0 ->
				ent[s * CAP + ft] = r;
				d_step {
					assert(!incache[r]);
					top[s] = ft + 1;
					incache[r] = 1
				}
			:: else -> skip
			fi;
			cache_leave(s)
		:: else -> skip
		fi
	fi;
	if
	:: fr -> free_direct(r, me, err)
	:: else -> skip
	fi;
	op_end(s);
	fr = 0;
	ft = 0;
	w = 0;
	ok = 0
}

/* lab_core_give: CAS the owner word's tid from caller to `to` */
inline core_give(r, me, to, err)
{
	op_begin(me - 1); /* thread me - 1 has tid me */
	w = owner[r]; /* acquire */
	do
	:: check_owner(w, me, err);
		if
		:: err != 0 -> break
		:: else ->
			atomic {
				if
				:: owner[r] == w ->
					assert(held[r] == 1);
					owner[r] = (w & ~TIDM) | to;
					ok = 1
				:: else -> w = owner[r]; ok = 0
				fi
			}
			if
			:: ok -> break
			:: else -> skip
			fi
		fi
	od;
	op_end(me - 1);
	w = 0;
	ok = 0
}

/* lab_core_drain */
inline core_drain(s)
{
	op_begin(s);
	cache_enter(s, ok);
	if
	:: ok -> cache_drain_n(s, CAP); cache_leave(s)
	:: else -> skip
	fi;
	op_end(s);
	ok = 0
}

/* ---- the threads ------------------------------------------------------- */

#define LOCALS                                                                 \
	byte ok, got, t, e, i, k, m, w, sl, err, lk, fr, ft;                   \
	byte a = NONE, b = NONE, c = NONE

/* thread 0 (tid 1, slot 0): an exclusive and a shared room; gives the
 * shared one to thread 1, frees the exclusive one twice (the second must
 * fail), then races thread 1 to free the shared one; drains. */
proctype T0()
{
	LOCALS;
	core_alloc0(0, 1 | EXCL, a);
	core_alloc0(0, 1, b);
	if
	:: b != NONE ->
		core_give(b, 1, 2, err);
		assert(err == 0);
		handoff = b
	:: else -> handoff = NR /* nothing to hand over */
	fi;
	if
	:: a != NONE ->
		core_free0(0, a, 1, err);
		assert(err == 0);
		core_free0(0, a, 1, err); /* double free */
		assert(err == ENOENT || err == EPERM)
	:: else -> skip
	fi;
	if
	:: b != NONE ->
		core_free0(0, b, 1, err); /* a shared room, now thread 1's */
		res_free_a = err
	:: else -> skip
	fi;
	core_drain(0);
	done++
}

/* thread 1 (tid 2, slot 1): frees the room it was given, racing thread 0
 * (before it allocates anything itself, so that the race cannot meet a
 * stale-pointer ABA, which the code does not claim to detect); then
 * exclusive rooms until the maze runs dry (stealing from thread 0's cache
 * at exhaustion, setting scarce), freed again; drains. With 2 threads a
 * third room, allocated while it holds two: the maze is dry then, or the
 * room is in thread 0's cache (the ENOMEM check's case). */
proctype T1()
{
	LOCALS;
	handoff != NONE;
	if
	:: handoff < NR ->
		core_free0(1, handoff, 2, err);
		res_free_b = err
	:: else -> skip
	fi;
	core_alloc0(1, 2 | EXCL, a);
	core_alloc0(1, 2 | EXCL, b);
#if NT == 2
	core_alloc0(1, 2 | EXCL, c);
	if
	:: c != NONE -> core_free0(1, c, 2, err); assert(err == 0)
	:: else -> skip
	fi;
#endif
	if
	:: a != NONE -> core_free0(1, a, 2, err); assert(err == 0)
	:: else -> skip
	fi;
	if
	:: b != NONE -> core_free0(1, b, 2, err); assert(err == 0)
	:: else -> skip
	fi;
	core_drain(1);
	done++
}

#if NT > 2
/* thread 2 (tid 3, slot 2): one exclusive room, freed through the cache
 * and left there (the final flush returns it; not draining keeps the
 * 3-thread state space near 1 GB, and the drain's race with a stealer is
 * the same as threads 0's and 1's). Exclusive, so that thread 0's double
 * free of its own room cannot free it (a shared room would be a
 * stale-pointer ABA, which is not detected). */
proctype T2()
{
	LOCALS;
	core_alloc0(2, 3 | EXCL, a);
	if
	:: a != NONE -> core_free0(2, a, 3, err); assert(err == 0)
	:: else -> skip
	fi;
	done++
}
#endif

init
{
	byte r, ok, t, e, i, k, m;
	atomic {
		run T0();
		run T1();
#if NT > 2
		run T2();
#endif
	}
	done == NT;
	/* exactly one of the two racing frees of the given room won */
	assert(handoff == NR || (res_free_a == 0) != (res_free_b == 0));
	/* nothing is held; every room is free in the bitfield or parked in a
	 * cache. A thread's drain is best effort: lab_core_drain does nothing
	 * when a stealer holds the slot's lock at that moment (lab_cache_enter
	 * fails), so a cache may keep rooms after its thread finished. They
	 * stay reachable by stealing and flushing, which is what we do next. */
	r = 0;
	do
	:: r < NR ->
		assert(held[r] == 0);
		assert(owner[r] == FREE && !incache[r] && ((bits >> r) & 1) == 0 ||
		       (owner[r] & CACHED) && incache[r] && ((bits >> r) & 1));
		r++
	:: else -> break
	od;
#ifdef STRICT_DRAIN
	r = 0;
	do
	:: r < NT -> assert(top[r] == 0); r++
	:: else -> break
	od;
#endif
	/* lab_cache_flush_all at quiescence: sweep_lock + drain every slot */
	r = 0;
	do
	:: r < NT ->
		assert(!lock[r] && !busy[r]);
		cache_drain_n(r, CAP);
		r++
	:: else -> break
	od;
	/* no room lost */
	assert(bits == 0 && count == NR);
	r = 0;
	do
	:: r < NR ->
		assert(owner[r] == FREE && held[r] == 0 && !incache[r]);
		r++
	:: else -> break
	od;
	r = 0;
	do
	:: r < NT -> assert(top[r] == 0); r++
	:: else -> break
	od
}

/* SPDX-License-Identifier: MIT */
/*
 * labyrinth.pml: a Promela model of labyrinth's alloc/free/give protocol
 * (src/core: rows.c, cache.h, cache.c, core.c). Checked by model/check.sh
 * with spin 6.5; model/README.md maps every step below to its C function.
 * Update this model together with the code it describes.
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
 *
 * Ghost state (not in the code) states the properties:
 *   held[r]     1 while a user holds room r: set where alloc hands it out
 *               (the owner word store), cleared where a free takes it back
 *               (the owner word CAS or store). "No room held twice":
 *               handing out a held room, or freeing a room nobody holds,
 *               fails an assertion.
 *   incache[r]  1 while r is parked in some cache's ent[0..top).
 *   a reservation always finds its clear bits (rows.c's invariant).
 * "No room lost": when every thread is done and has drained its cache,
 * every room is free: bit clear, owner word FREE, row count NR, caches
 * empty, no lock or busy flag left set.
 *
 * Mutants (each must make pan report a violation; model/check.sh runs them):
 *   -DMUT_FREE_STORE  a shared room is freed into the cache with a plain
 *                     store instead of the CAS (two racing frees both win)
 *   -DMUT_NO_BUSY     the stealer skips the busy check after its barrier
 *   -DMUT_COUNT_FIRST a free adds to the row count before clearing its bits
 *   -DMUT_NO_LOCK     the owner does not look at lock after setting busy
 */

#ifndef NT
#define NT 2 /* threads: 2 or 3 */
#endif
#define NR 3     /* rooms, one row */
#define CAP 2    /* cache entries per slot */
#define REFILL 2 /* rooms per refill (LAB_CACHE_BATCH) */
#define DRAIN 1  /* rooms per drain of a full cache (LAB_CACHE_BATCH) */

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

byte bits;       /* the row's bitfield word: bit r set = room r claimed */
byte count = NR; /* the row entry's free count */
byte owner[NR];  /* owner words */

/* one slot (thread cache) per thread; slot s belongs to thread s */
bool busy[NT];
bool lock[NT];
byte top[NT];
byte ent[NT * CAP]; /* slot s: ent[s * CAP .. s * CAP + CAP - 1] */

/* ghosts */
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

/* lab_cache_push: drain the oldest DRAIN entries when full, then park */
inline cache_push(s, r)
{
	if
	:: top[s] == CAP -> cache_drain_n(s, DRAIN)
	:: else -> skip
	fi;
	t = top[s];
	ent[s * CAP + t] = r;
	d_step {
		assert(!incache[r]);
		top[s] = t + 1;
		incache[r] = 1
	}
	t = 0
}

/* ---- stealing (cache.c) ------------------------------------------------ */

/* steal_lock */
inline steal_lock(sl, ok)
{
	ok = 0;
	if
	:: top[sl] == 0 || lock[sl] -> skip /* relaxed pre-checks */
	:: else ->
		atomic { /* CAS lock 0 -> 1 (acquire) */
			if
			:: !lock[sl] -> lock[sl] = 1; ok = 1
			:: else -> skip
			fi
		}
		/* heavy_barrier(): a no-op under SC, see the top comment */
#ifndef MUT_NO_BUSY
		if
		:: ok && busy[sl] -> lock[sl] = 0; ok = 0
		:: else -> skip
		fi
#endif
	fi
}

/* lab_cache_steal: take one room from any slot for ow */
inline cache_steal(ow, res)
{
	res = NONE;
	sl = 0;
	do
	:: sl < NT ->
		steal_lock(sl, ok);
		if
		:: ok ->
			t = top[sl];
			if
			:: t > 0 ->
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
			lock[sl] = 0 /* release */
		:: else -> skip
		fi;
		if
		:: res != NONE -> break
		:: else -> sl++
		fi
	:: else -> break
	od;
	sl = 0;
	e = 0;
	t = 0
}

/* ---- the entry points (core.c) ----------------------------------------- */

/* lab_core_alloc, order 0, with the caller's slot */
inline core_alloc0(s, ow, res)
{
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
		:: res == NONE -> cache_steal(ow, res) /* exhaustion */
		:: else -> skip
		fi
	:: else -> skip
	fi;
	got = 0;
	ok = 0
}

/* check_owner for order 0: the error, 0 if the caller may free or give */
inline check_owner(w, me, err)
{
	if
	:: !allocated(w) -> err = ENOENT
	:: allocated(w) && (w & EXCL) && (w & TIDM) != me -> err = EPERM
	:: else -> err = 0
	fi
}

/* free_direct, order 0: the owner word's CAS to 0 decides, then
 * lab_rows_free */
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
	:: err == 0 -> rows_free0(r)
	:: else -> skip
	fi;
	w = 0;
	ok = 0
}

/* lab_core_free, order 0, with the caller's slot */
inline core_free0(s, r, me, err)
{
	cache_enter(s, ok);
	if
	:: !ok -> free_direct(r, me, err)
	:: else ->
		/* freeing = r + 1: only a signal handler reads it (not modelled) */
		w = owner[r]; /* acquire */
		do
		:: check_owner(w, me, err);
			if
			:: err != 0 -> break
			:: else -> skip
			fi;
			if
			:: w & EXCL -> /* own exclusive room: release store */
				d_step {
					assert(held[r] == 1 && owner[r] == w);
					owner[r] = CACHED | s;
					held[r] = 0
				}
				break
			:: else ->
#ifdef MUT_FREE_STORE
				d_step { /* broken: a plain store */
					assert(held[r] == 1); /* no free of a free room */
					owner[r] = CACHED | s;
					held[r] = 0
				}
				break
#else
				atomic { /* CAS owner[r]: w -> CACHED|s */
					if
					:: owner[r] == w ->
						assert(held[r] == 1); /* no free of a free room */
						owner[r] = CACHED | s;
						held[r] = 0;
						ok = 2
					:: else -> w = owner[r]
					fi
				}
				if
				:: ok == 2 -> break
				:: else -> skip
				fi
#endif
			fi
		od;
		if
		:: err == 0 -> cache_push(s, r)
		:: else -> skip
		fi;
		cache_leave(s)
	fi;
	w = 0;
	ok = 0
}

/* lab_core_give: CAS the owner word's tid from caller to `to` */
inline core_give(r, me, to, err)
{
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
	w = 0;
	ok = 0
}

/* lab_core_drain */
inline core_drain(s)
{
	cache_enter(s, ok);
	if
	:: ok -> cache_drain_n(s, CAP); cache_leave(s)
	:: else -> skip
	fi;
	ok = 0
}

/* ---- the threads ------------------------------------------------------- */

#define LOCALS                                                                 \
	byte ok, got, t, e, i, k, m, w, sl, err;                               \
	byte a = NONE, b = NONE

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
 * at exhaustion), freed again; drains. */
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
/* thread 2 (tid 3, slot 2): one exclusive room, freed through the cache.
 * Exclusive, so that thread 0's double free of its own room cannot free
 * it (a shared room would be a stale-pointer ABA, which is not detected). */
proctype T2()
{
	LOCALS;
	core_alloc0(2, 3 | EXCL, a);
	if
	:: a != NONE -> core_free0(2, a, 3, err); assert(err == 0)
	:: else -> skip
	fi;
	core_drain(2);
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
	/* lab_cache_flush_all at quiescence: steal_lock + drain every slot */
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

/* SPDX-License-Identifier: MIT */
/*
 * summary.pml: a Promela model of labyrinth's group summaries and group
 * reservations (src/core: rows.c, summary.c, search.c, the reaper's
 * lab_core_slot_reset in cache.c). Checked by model/check.sh with spin 6.5;
 * model/README.md maps every step below to its C function (the table
 * "summary.pml"). Update this model together with the code it describes.
 *
 * Scaled down: NG = 2 groups of RPG rows (1, or 2 with -DRPG=2), every row
 * CAPR = 2 rooms, so a row is FULL (count 0), PARTIAL (1) or FREE (2).
 * GPW groups per group-level summary word (1 by default, so that clearing a
 * group's bit empties its word and word_next's top-bit clearing is reached
 * at every step; -DGPW=2 puts both groups in one word); the top level is one
 * word with a bit per group-level word (the code: 64 groups per word, 64
 * words per top word: the same two levels). NS = 2 slots.
 *
 * Threads (the initial state: row 0 full, one room of it held by P0 and one
 * by P1, its partial bit left over, as when a thread without a slot took
 * the last room: stale bits are allowed; the last row has one room held,
 * by P2 or by a user who keeps it; every other row free):
 *   P0  slot 0 (home group 0): two refills (lab_rows_take: find, then
 *       reserve the group found), the second while it holds the first room
 *       (the maze may be dry then); frees its three rooms; exits
 *       (lab_core_slot_release: lab_group_release).
 *   P1  slot 1 (home group 1): frees its room of row 0, then allocates
 *       through lab_core_alloc's bitfield path (lab_rows_alloc: find, no
 *       reservation; -DP1_TAKES: a refill that reserves, so that two slots
 *       race for a group), frees it; exits.
 *   P2  (-DNT=3) no slot: frees its room of the last row (a third marker,
 *       racing the two searchers).
 *   Reaper (-DREAP): see below.
 *
 * What is modelled: the row entries' counts (the summaries' input), the
 * group tags, the slots' `group` fields, both summaries with both levels,
 * and the search as find() does it, steps 2 to 6 (search.c's top comment):
 * own group partly used, the partial summary (map_try, lab_sum_next,
 * word_next), own group free, the free summary from the slot's home, and
 * the groups other slots reserved (reserved_try; by default the loop over
 * the slots' group fields, which relies on the tag invariant below;
 * -DRESERVED_BY_TAG: the loop over the tags that the code takes when
 * ngroups <= nslots). Takes are of one room (row_reserve of 1, or
 * row_reserve_upto of 1), frees give one room back (row_give_back).
 *
 * Atomicity: one Promela step per access to a shared word, as the C code
 * does it; a CAS or fetch_or/fetch_and is one atomic step; a CAS loop is
 * modelled by its successful iteration (where it retries on a changed
 * value, the model's one step takes the current value). Purely local
 * computation is folded into the step that uses it (d_step).
 *
 * Memory model: every access the protocol relies on is seq_cst in the code:
 * the row RMWs that change a row's class (row_reserve, row_reserve_upto,
 * row_give_back: lab_cas_seq_cst / lab_add_seq_cst), the tag load in
 * lab_row_changed, the tag CASes, every summary load, fetch_or and
 * fetch_and (lab_sum_mark, lab_sum_unmark, word_next, lab_sum_next) and
 * lab_group_publish's row loads. Those form Dekker pairs (a marker changes a
 * row then reads the tag / the bit; a searcher or a releaser clears a bit /
 * the tag then reads the rows), which seq_cst makes sequentially
 * consistent; Promela is sequentially consistent, so it models them
 * exactly. The relaxed loads (group_try's row loads, map_try's and
 * lab_rows_take's tag loads, reserved_try's tag and slot-field loads) only
 * pick what to try: a take is decided by its RMW, a reservation by its
 * CAS, and map_try's unmark is followed by lab_group_publish's seq_cst
 * loads. The model reads them SC; -DRELAXED_ANY lets group_try's row loads
 * return any class and map_try's and lab_rows_take's tag loads either
 * answer (a superset of what a stale relaxed load can return), and
 * check.sh runs that too: the quiescence invariant holds (the no-false-
 * miss check is off there: a stale read may miss). slot.group is written
 * relaxed, only by its slot's owner (or by the reaper once the owner is
 * dead), before the tag CAS and after the clearing CAS; the model lets the
 * reaper read the dead owner's last store (it acts long after the death,
 * which it learns through the kernel).
 *
 * Not modelled, and why that is sound:
 * - find's step 1 (a refill's current row, unless another slot reserved
 *   its group: a relaxed tag load) and group_try's rotation to start at
 *   the hint row: they only change which row is tried first; the take
 *   there is the same row RMW + lab_row_changed as any other take, and a
 *   hit only makes a search succeed sooner (no miss can hide behind it).
 * - takes of more than one room, blocks of order >= 1 and HUGE rows: a
 *   take never needs a mark (class FULL or PARTIAL-from-FREE is the same
 *   row_changed), HUGE is FULL for the summaries, and row_put_huge is a
 *   seq_cst xchg followed by lab_row_changed, the same as a free.
 * - the bitfield and the owner words (labyrinth.pml models them), group
 *   free counts and nfree (relaxed filters no summary decision reads).
 * - rows of other capacities (the last row of a maze): the class is
 *   computed from the count the RMW returned, the same for any capacity.
 *
 * Ghost state (not in the code) states the properties:
 *   busyp / ovl  processes inside an operation (take, free, slot release,
 *                reap); ovl bit p: some other operation overlapped p's.
 *   Quiescence invariant (at the end of every operation that leaves none
 *     in flight, i.e. at every quiescent state): each unreserved group
 *     (tag 0) that has a PARTIAL row has its bit in the partial summary
 *     AND the top bit over its word; the same for FREE rows and the free
 *     summary. (lab_summary_check.)
 *   No false miss: a find that no other operation overlapped asserts,
 *     after each step that failed: map_try(partial) failed => no unreserved
 *     group has a PARTIAL row; map_try(free) failed => none has a FREE row;
 *     reserved_try failed => every row in the maze is FULL. So a solo
 *     search finds a room whenever one exists.
 *   Tag invariant (asserted in every step that writes a tag or a slot's
 *     group, so in every reachable state): tag(g) == t+1 implies
 *     slots[t].group == g+1. A slot therefore reserves at most one group,
 *     and the CAS makes a group reserved by at most one slot.
 *   -DREAP: P0 may stop for good before any of its steps (a killed
 *     process: the reaper sets `crashed` at any moment, P0's next step
 *     escapes); the reaper then runs lab_reap_some's part for it, racing
 *     P1: lab_core_slot_reset's lab_group_release for slot 0, then
 *     lab_core_republish. Every property above holds across the reap (the
 *     dead operation counts as in flight until the reap is done); at the
 *     end (every slot released or reset) every tag is clear and every
 *     slot's group is 0.
 *   -DLATE_TAGCHECK: the tag invariant only at the end (to show what
 *     MUT_TAG_FIRST does across a reap).
 *
 * Mutants (each must make pan report a violation; model/check.sh runs them):
 *   -DMUT_TAG_BEFORE_RMW  lab_row_changed's tag read moved before the row
 *                         RMW (a releaser's publish misses the row and the
 *                         marker skips the mark)
 *   -DMUT_PUBLISH_FIRST   map_try re-reads the group's rows before it
 *                         clears the group's bit
 *   -DMUT_NO_REPUBLISH    map_try clears the bit and does not look again
 *   -DMUT_WORD_NO_REREAD  word_next clears a top bit over an empty word
 *                         without reading the word again
 *   -DMUT_RELEASE_PUBLISH_FIRST  lab_group_release publishes, then clears
 *                         the tag
 *   -DMUT_TAG_FIRST       lab_group_reserve CASes the tag before it writes
 *                         slot.group (the invariant fails at the CAS; with
 *                         -DREAP -DLATE_TAGCHECK: a reaper of an owner
 *                         stopped in between finds no group to release,
 *                         and the group stays reserved by a dead slot)
 *   -DMUT_NO_WRAP         lab_sum_next does not wrap around to the words
 *                         before `from` (the no-false-miss check fails)
 *   -DMUT_REAP_NO_REPUBLISH  (with -DREAP) the reaper does not republish:
 *                         a thread killed between its row RMW and
 *                         lab_sum_mark, between lab_sum_unmark and
 *                         lab_group_publish, between word_next's top-bit
 *                         clear and its re-read, or between
 *                         lab_group_release's tag CAS and its publish
 *                         leaves a bit out that no later step restores
 *
 */

#ifndef NT
#define NT 2 /* threads: 2 or 3 */
#endif
#ifndef RPG
#define RPG 1 /* rows per group: 1 or 2 */
#endif
#ifndef GPW
#define GPW 1 /* groups per group-level summary word: 1 or 2 */
#endif
#define NG 2           /* groups */
#define NROWS (NG * RPG)
#define CAPR 2         /* rooms per row */
#define NW (NG / GPW)  /* group-level words per summary */
#define NS 2           /* slots */
#define NOSLOT NS      /* slot -1 in the code */
#define NONE 255

#define FULL 0
#define PARTIAL 1
#define FREEC 2
#define CLS(e) ((e) == 0 -> FULL : ((e) == CAPR -> FREEC : PARTIAL))
/* the summary of a class: 0 partial, 1 free */
#define MAP(c) ((c) - 1)

/* a relaxed load of a tag: its value, or (-DRELAXED_ANY) either answer */
#ifdef RELAXED_ANY
#define TAG0(g) true
#define TAGN(g) true
#else
#define TAG0(g) (tag[g] == 0)
#define TAGN(g) (tag[g] != 0)
#endif

#define SUMCHECK 1

byte row[NROWS];     /* row entries: free count */
byte tag[NG];        /* group tags: slot+1, 0 none */
byte sgroup[NS];     /* slots' group fields: group+1, 0 none */
byte gw[2 * NW];     /* group-level words: summary m, word w at m * NW + w */
byte tp[2];          /* top-level word of summary m: bit w over word w */

/* ghosts */
byte busyp;          /* bit p: process p is inside an operation */
byte ovl;            /* bit p: another operation overlapped p's */
byte done;
#ifdef REAP
bool crashed, dead0, p0end;
#endif

#define BIT(m, g) ((gw[(m) * NW + (g) / GPW] >> ((g) % GPW)) & 1)
#define TOPBIT(m, g) ((tp[m] >> ((g) / GPW)) & 1)
#define TAGOK(g) (tag[g] == 0 || tag[g] <= NS && sgroup[tag[g] - 1] == (g) + 1)
#ifdef LATE_TAGCHECK
#define TAGINV skip
#else
#define TAGINV assert(TAGOK(0) && TAGOK(1))
#endif

/* ---- ghosts: operations and the properties ---------------------------- */

inline op_begin(me)
{
	d_step {
		if
		:: busyp != 0 -> ovl = ovl | busyp | (1 << me)
		:: else -> skip
		fi;
		busyp = busyp | (1 << me)
	}
}

/* the quiescence invariant (lab_summary_check), for every group */
inline check_summary()
{
	qg = 0;
	do
	:: qg < NG ->
		if
		:: tag[qg] == 0 ->
			qs = 0;
			qk = 0;
			do
			:: qk < RPG -> qs = qs | (1 << CLS(row[qg * RPG + qk])); qk++
			:: else -> break
			od;
			assert(!(qs & (1 << PARTIAL)) || BIT(0, qg) && TOPBIT(0, qg));
			assert(!(qs & (1 << FREEC)) || BIT(1, qg) && TOPBIT(1, qg))
		:: else -> skip
		fi;
		qg++
	:: else -> break
	od;
	qg = 0;
	qs = 0;
	qk = 0
}

inline op_end(me)
{
	d_step {
		busyp = busyp & ~(1 << me);
		ovl = ovl & ~(1 << me);
#ifdef SUMCHECK
		if
		:: busyp == 0 -> check_summary()
		:: else -> skip
		fi
#endif
	}
}

/* no unreserved group has a row of class c (c FULL: no row that is not
 * FULL anywhere, reserved or not), if nothing overlapped process me */
inline solo_none(me, c)
{
#if defined(SUMCHECK) && !defined(RELAXED_ANY)
	d_step {
		if
		:: (ovl >> me) & 1 -> skip
		:: else ->
			qk = 0;
			do
			:: qk < NROWS ->
				assert(c == FULL && row[qk] == 0 ||
				       c != FULL && (tag[qk / RPG] != 0 || CLS(row[qk]) != c));
				qk++
			:: else -> break
			od;
			qk = 0
		fi
	}
#else
	skip
#endif
}

/* ---- the summaries (summary.c) ----------------------------------------- */

/* lowest set bit of x (local) */
inline lowest(x, i)
{
	i = 0;
	do
	:: i < 8 && !(((x) >> i) & 1) -> i++
	:: else -> break
	od
}

/* lab_sum_mark: load the group bit, fetch_or it if clear; the same for the
 * top bit */
inline sum_mark(m, g)
{
	if
	:: !BIT(m, g) -> gw[(m) * NW + (g) / GPW] = gw[(m) * NW + (g) / GPW] | (1 << ((g) % GPW))
	:: else -> skip
	fi;
	if
	:: !TOPBIT(m, g) -> tp[m] = tp[m] | (1 << ((g) / GPW))
	:: else -> skip
	fi
}

/* lab_sum_unmark: fetch_and */
inline sum_unmark(m, g)
{
	gw[(m) * NW + (g) / GPW] = gw[(m) * NW + (g) / GPW] & ~(1 << ((g) % GPW))
}

/* word_next: the first group-level word in [lo, hi) with its top bit set
 * and a bit of its own; a top bit over an empty word is cleared, then the
 * word read again and the top bit set back if it is not empty. */
inline word_next(m, lo, hi, out, f)
{
	wl = lo;
	f = 0;
	do
	:: wl >= hi -> break
	:: else ->
		d_step { /* load the top word (bits lo..hi-1) */
			wt = tp[m] & ((1 << (hi)) - 1) & ~((1 << wl) - 1);
			if
			:: wt == 0 -> wi = 0
			:: else -> lowest(wt, wi)
			fi
		}
		if
		:: wt == 0 -> break
		:: else -> skip
		fi;
		if
		:: gw[(m) * NW + wi] != 0 -> out = wi; f = 1; break
		:: else ->
			tp[m] = tp[m] & ~(1 << wi); /* fetch_and */
#ifdef MUT_WORD_NO_REREAD
			wl = wi + 1
#else
			if
			:: gw[(m) * NW + wi] != 0 ->
				tp[m] = tp[m] | (1 << wi); /* fetch_or */
				out = wi;
				f = 1;
				break
			:: else -> wl = wi + 1
			fi
#endif
		fi
	od;
	wl = 0;
	wt = 0;
	wi = 0
}

/* lab_sum_next: the first marked group at or after from, wrapping */
inline sum_next(m, from, g, f)
{
	d_step {
		sf = (from >= NG -> 0 : from);
		si = sf / GPW
	}
	d_step { /* load the group-level word, bits from `from` on */
		sw = gw[(m) * NW + si] & (255 << (sf % GPW)) & 255;
		f = 0
	}
	if
	:: sw == 0 ->
		wlo = si + 1;
		whi = NW;
		word_next(m, wlo, whi, sj, f);
#ifndef MUT_NO_WRAP
		if
		:: !f -> wlo = 0; whi = si + 1; word_next(m, wlo, whi, sj, f)
		:: else -> skip
		fi;
#endif
		wlo = 0;
		whi = 0;
		if
		:: f ->
			sw = gw[(m) * NW + sj]; /* load */
			if
			:: sw == 0 -> f = 0
			:: else -> si = sj
			fi
		:: else -> skip
		fi
	:: else -> f = 1
	fi;
	d_step {
		if
		:: f -> lowest(sw, g); g = si * GPW + g; f = (g < NG)
		:: else -> skip
		fi;
		sf = 0;
		si = 0;
		sj = 0;
		sw = 0
	}
}

/* ---- rows (rows.c) ----------------------------------------------------- */

/* lab_row_changed after the RMW took the row from ro to rn: if it became
 * PARTIAL or FREE, read the tag (seq_cst); if 0, mark the group. */
inline row_changed(r)
{
	if
	:: ca != cb && cb != FULL ->
#ifdef MUT_TAG_BEFORE_RMW
		if
		:: tg == 0 -> sum_mark(MAP(cb), (r) / RPG)
		:: else -> skip
		fi
#else
		if
		:: tag[(r) / RPG] == 0 -> sum_mark(MAP(cb), (r) / RPG)
		:: else -> skip
		fi
#endif
	:: else -> skip
	fi;
	ca = 0;
	cb = 0;
	tg = 0
}

/* row_reserve (1 room) / row_reserve_upto (want 1): CAS count -> count-1,
 * then lab_row_changed. got: 1 if taken. */
inline row_take(r, got)
{
#ifdef MUT_TAG_BEFORE_RMW
	tg = tag[(r) / RPG];
#endif
	d_step {
		if
		:: row[r] >= 1 ->
			ca = CLS(row[r]);
			row[r]--;
			cb = CLS(row[r]);
			got = 1
		:: else -> got = 0
		fi
	}
	if
	:: got -> row_changed(r)
	:: else -> ca = 0; cb = 0; tg = 0
	fi
}

/* row_give_back (lab_rows_free, order 0): fetch_add 1, then
 * lab_row_changed */
inline row_free(r)
{
#ifdef MUT_TAG_BEFORE_RMW
	tg = tag[(r) / RPG];
#endif
	d_step {
		assert(row[r] < CAPR);
		ca = CLS(row[r]);
		row[r]++;
		cb = CLS(row[r])
	}
	row_changed(r)
}

/* lab_group_publish: read every row of g (seq_cst), mark what was seen */
inline group_publish(g)
{
	ps = 0;
	pk = 0;
	do
	:: pk < RPG -> ps = ps | (1 << CLS(row[(g) * RPG + pk])); pk++
	:: else -> break
	od;
	if
	:: ps & (1 << PARTIAL) -> sum_mark(0, g)
	:: else -> skip
	fi;
	if
	:: ps & (1 << FREEC) -> sum_mark(1, g)
	:: else -> skip
	fi;
	ps = 0;
	pk = 0
}

/* lab_group_reserve: slot.group = g+1, then CAS the tag 0 -> s+1; on
 * failure slot.group = 0; on success clear both bits of g */
inline group_reserve(s, g, ok)
{
#ifdef MUT_TAG_FIRST
	d_step {
		if
		:: tag[g] == 0 -> tag[g] = s + 1; ok = 1
		:: else -> ok = 0
		fi;
		TAGINV
	}
	if
	:: ok -> d_step { sgroup[s] = (g) + 1; TAGINV }
	:: else -> skip
	fi;
#else
	d_step { sgroup[s] = (g) + 1; TAGINV }
	d_step {
		if
		:: tag[g] == 0 -> tag[g] = s + 1; ok = 1
		:: else -> ok = 0
		fi;
		TAGINV
	}
	if
	:: !ok -> d_step { sgroup[s] = 0; TAGINV }
	:: else -> skip
	fi;
#endif
	if
	:: ok -> sum_unmark(0, g); sum_unmark(1, g)
	:: else -> skip
	fi
}

/* lab_group_release: load slot.group; CAS the tag s+1 -> 0 and publish if
 * that worked; slot.group = 0 */
inline group_release(s)
{
	rg = sgroup[s];
	if
	:: rg != 0 ->
#ifdef MUT_RELEASE_PUBLISH_FIRST
		group_publish(rg - 1);
		d_step {
			if
			:: tag[rg - 1] == s + 1 -> tag[rg - 1] = 0
			:: else -> skip
			fi;
			TAGINV
		}
#else
		d_step {
			if
			:: tag[rg - 1] == s + 1 -> tag[rg - 1] = 0; rok = 1
			:: else -> rok = 0
			fi;
			TAGINV
		}
		if
		:: rok -> group_publish(rg - 1)
		:: else -> skip
		fi;
#endif
		d_step { sgroup[s] = 0; TAGINV }
	:: else -> skip
	fi;
	rg = 0;
	rok = 0
}

/* ---- the search (search.c) -------------------------------------------- */

/* group_try: the rows of g whose class is cls (any class but FULL with cls
 * FULL); take one room. got: 1 if taken, in row tr; seen: classes seen. */
inline group_try(g, cls, got, seen)
{
	got = 0;
	seen = 0;
	gk = 0;
	do
	:: gk >= RPG -> break
	:: else ->
#ifdef RELAXED_ANY
		atomic { /* relaxed load of the row entry: any class */
			if
			:: gc = CLS(row[(g) * RPG + gk])
			:: gc = FULL
			:: gc = PARTIAL
			:: gc = FREEC
			fi;
			seen = seen | (1 << gc)
		}
#else
		d_step { /* relaxed load of the row entry */
			gc = CLS(row[(g) * RPG + gk]);
			seen = seen | (1 << gc)
		}
#endif
		if
		:: gc == FULL || (cls != FULL && gc != cls) -> gk++
		:: else ->
			row_take((g) * RPG + gk, got);
			if
			:: got -> tr = (g) * RPG + gk; break
			:: else -> gk++
			fi
		fi
	od;
	gk = 0;
	gc = 0
}

/* map_try: the groups marked in summary m from start on, skipping
 * reserved ones; a group without a row of class cls loses its bit, then
 * is published again. */
inline map_try(m, cls, start, gf, ok)
{
	mfrom = start;
	mdist = 0;
	ok = 0;
	do
	:: mdist >= NG -> break
	:: else ->
		sum_next(m, mfrom, mg, nok);
		if
		:: !nok -> break
		:: else -> skip
		fi;
		md = (mg >= start -> mg - start : mg + NG - start);
		if
		:: md < mdist -> break /* wrapped past the start */
		:: else -> skip
		fi;
		if
		:: TAG0(mg) -> /* relaxed */
			group_try(mg, cls, ok, seen);
			if
			:: ok -> gf = mg; break
			:: else -> skip
			fi;
			if
			:: !(seen & (1 << cls)) ->
#if defined(MUT_PUBLISH_FIRST)
				group_publish(mg);
				sum_unmark(m, mg)
#elif defined(MUT_NO_REPUBLISH)
				sum_unmark(m, mg)
#else
				sum_unmark(m, mg);
				group_publish(mg)
#endif
			:: else -> skip
			fi
		:: TAGN(mg) -> skip
		fi;
		mdist = md + 1;
		mfrom = (mg + 1 < NG -> mg + 1 : 0)
	od;
	mfrom = 0;
	mdist = 0;
	mg = 0;
	md = 0;
	nok = 0;
	seen = 0
}

/* reserved_try: rows in groups that other slots reserved */
inline reserved_try(s, gf, ok)
{
	ok = 0;
	rt = 0;
#ifdef RESERVED_BY_TAG
	do /* ngroups <= nslots: every tag */
	:: rt >= NG -> break
	:: else ->
		if
		:: tag[rt] != 0 && tag[rt] != s + 1 -> /* relaxed */
			group_try(rt, FULL, ok, seen);
			if
			:: ok -> gf = rt; break
			:: else -> skip
			fi
		:: else -> skip
		fi;
		rt++
	od;
#else
	do /* every slot's group field whose tag names the slot */
	:: rt >= NS -> break
	:: else ->
		rg1 = sgroup[rt]; /* relaxed */
		if
		:: rg1 != 0 && rt != s && tag[rg1 - 1] == rt + 1 -> /* relaxed */
			group_try(rg1 - 1, FULL, ok, seen);
			if
			:: ok -> gf = rg1 - 1; break
			:: else -> skip
			fi
		:: else -> skip
		fi;
		rt++
	od;
#endif
	rt = 0;
	rg1 = 0;
	seen = 0
}

/* find (order 0, need 1), steps 2 to 6. s: the slot (NOSLOT: none); hg:
 * the slot's hint group; home: its home group. ok: taken (row tr, group
 * gf); fm: found through a summary. */
inline find(me, s, hg, home, gf, ok, fm)
{
	fm = 0;
	if
	:: s < NS -> mine = sgroup[s] /* relaxed */
	:: else -> mine = 0
	fi;
	fst = (mine != 0 -> mine - 1 : hg);
	if
	:: mine != 0 -> group_try(mine - 1, PARTIAL, ok, seen); gf = mine - 1
	:: else -> group_try(fst, PARTIAL, ok, seen); gf = fst
	fi;
	if
	:: !ok ->
		mst = fst;
		map_try(0, PARTIAL, mst, gf, ok);
		if
		:: ok -> fm = 1
		:: else -> solo_none(me, PARTIAL)
		fi
	:: else -> skip
	fi;
	if
	:: !ok && mine != 0 -> group_try(mine - 1, FREEC, ok, seen); gf = mine - 1
	:: else -> skip
	fi;
	if
	:: !ok ->
		if
		:: s < NS -> mst = home
		:: else -> mst = fst
		fi;
		map_try(1, FREEC, mst, gf, ok);
		if
		:: ok -> fm = 1
		:: else -> solo_none(me, FREEC)
		fi
	:: else -> skip
	fi;
	if
	:: !ok ->
		reserved_try(s, gf, ok);
		if
		:: !ok -> solo_none(me, FULL)
		:: else -> skip
		fi
	:: else -> skip
	fi;
	mine = 0;
	fst = 0;
	mst = 0;
	seen = 0
}

/* ---- the entry points -------------------------------------------------- */

/* lab_rows_take (a refill of 1 room): find; a group found through a
 * summary, or any group when the slot has none, becomes the slot's if its
 * tag is 0: release the old one, reserve it. res: the row, NONE if none. */
inline rows_take(me, s, res)
{
	op_begin(me);
	find(me, s, hintg, s, gf, ok, fm);
	if
	:: ok ->
		res = tr;
		hintg = gf; /* slot.hint: the row just used */
		if
		:: fm || sgroup[s] == 0 -> /* relaxed */
			if
			:: TAG0(gf) -> /* relaxed */
				group_release(s);
				group_reserve(s, gf, ok)
			:: TAGN(gf) -> skip
			fi
		:: else -> skip
		fi
	:: else -> res = NONE
	fi;
	op_end(me);
	ok = 0;
	fm = 0;
	gf = 0;
	tr = 0
}

/* lab_rows_alloc, order 0 (lab_core_alloc's bitfield path, or a thread
 * without a slot): find, no reservation */
inline rows_alloc(me, s, res)
{
	op_begin(me);
	find(me, s, hintg, s, gf, ok, fm);
	if
	:: ok -> res = tr
	:: else -> res = NONE
	fi;
	op_end(me);
	ok = 0;
	fm = 0;
	gf = 0;
	tr = 0
}

/* lab_rows_free, order 0 (the bits are not modelled) */
inline rows_free(me, r)
{
	op_begin(me);
	row_free(r);
	op_end(me)
}

/* lab_core_slot_release at exit (or lab_core_slot_reset): release the
 * slot's group */
inline slot_release(me, s)
{
	op_begin(me);
	group_release(s);
	op_end(me)
}

/* ---- the threads ------------------------------------------------------- */

#define LOCALS                                                                 \
	byte ca, cb, tg, wl, wt, wi, sf, si, sj, sw, ps, pk, rg, rok, gk, gc,  \
	    tr, mfrom, mdist, mg, md, nok, seen, rt, rg1, mine, fst, gf, qg,  \
	    qs, qk, wlo, whi, mst;                                            \
	bool ok, fm;                                                          \
	byte a = NONE, b = NONE

/* P0: slot 0 (home group 0): two refills, each freed again; then exit */
proctype P0()
{
	LOCALS;
	byte hintg = 0;
#ifdef REAP
	{
#endif
	rows_take(0, 0, a);
	rows_take(0, 0, b); /* while holding a: the maze may be dry */
	rows_free(0, 0); /* the room of row 0 it held */
	if
	:: a != NONE -> rows_free(0, a)
	:: else -> skip
	fi;
	if
	:: b != NONE -> rows_free(0, b)
	:: else -> skip
	fi;
	slot_release(0, 0);
#ifdef REAP
	p0end = 1
	} unless { crashed -> dead0 = 1 };
#endif
	done++
}

/* P1: slot 1 (home group 1): frees the room of row 0 it holds, then
 * allocates through the bitfield path (no reservation) and frees that */
proctype P1()
{
	LOCALS;
	byte hintg = 1;
	rows_free(1, 0);
#ifdef P1_TAKES
	rows_take(1, 1, a); /* a refill: reserves too */
#else
	rows_alloc(1, 1, a);
#endif
	if
	:: a != NONE -> rows_free(1, a)
	:: else -> skip
	fi;
	slot_release(1, 1);
	done++
}

#if NT > 2
/* P2: no slot, starts in group 0: one room, freed again */
proctype P2()
{
	LOCALS;
	byte hintg = 0;
	rows_free(2, NROWS - 1); /* the room of the last row it holds */
	done++
}
#endif

#ifdef REAP
/* the reaper: P0 stops for good at any point (crashed), then
 * lab_reap_some seizes its slot, lab_core_slot_reset releases its group,
 * and (a slot was seized) lab_core_republish marks every unreserved group
 * for what it holds */
proctype Reaper()
{
	LOCALS;
	crashed = 1;
	if
	:: dead0 ->
		op_begin(3);
		group_release(0);
#ifndef MUT_REAP_NO_REPUBLISH
		/* lab_core_republish: every group whose tag (seq_cst) is 0 */
		if
		:: tag[0] == 0 -> group_publish(0)
		:: else -> skip
		fi;
		if
		:: tag[1] == 0 -> group_publish(1)
		:: else -> skip
		fi;
#endif
		d_step { busyp = busyp & ~1; ovl = ovl & ~1 } /* P0's operation is over */
		op_end(3)
	:: p0end -> skip
	fi;
	done++
}
#endif

init
{
	byte qg, qs, qk;
	atomic {
		/* row 0 (group 0) full: one room held by P0, one by P1, its
		 * partial bit left over (a thread without a slot took the last
		 * room: stale bits are allowed); every other row free. The other
		 * bits as lab_summary_rebuild leaves them. */
		row[0] = 0;
		gw[0] = 1;
		tp[0] = 1;
		qk = 1;
		do
		:: qk < NROWS -> row[qk] = CAPR; qk++
		:: else -> break
		od;
		/* the last row: one room held by P2, or (2 threads) by a user who
		 * keeps it, so that the maze runs dry and the later search steps
		 * are reached */
		row[NROWS - 1] = CAPR - 1;
		qk = 0;
		do
		:: qk < NG ->
			qs = 0;
			qg = 0;
			do
			:: qg < RPG -> qs = qs | (1 << CLS(row[qk * RPG + qg])); qg++
			:: else -> break
			od;
			if
			:: qs & (1 << PARTIAL) ->
				gw[qk / GPW] = gw[qk / GPW] | (1 << (qk % GPW));
				tp[0] = tp[0] | (1 << (qk / GPW))
			:: else -> skip
			fi;
			if
			:: qs & (1 << FREEC) ->
				gw[NW + qk / GPW] = gw[NW + qk / GPW] | (1 << (qk % GPW));
				tp[1] = tp[1] | (1 << (qk / GPW))
			:: else -> skip
			fi;
			qk++
		:: else -> break
		od;
		qg = 0;
		qs = 0;
		qk = 0;
		run P0();
		run P1();
#if NT > 2
		run P2();
#endif
#ifdef REAP
		run Reaper();
#endif
	}
#ifdef REAP
	done == NT + 1;
#else
	done == NT;
#endif
	/* every slot released its group (or was reset by the reaper) */
	assert(tag[0] == 0 && tag[1] == 0 && sgroup[0] == 0 && sgroup[1] == 0);
#ifdef SUMCHECK
	d_step { check_summary() }
#endif
}

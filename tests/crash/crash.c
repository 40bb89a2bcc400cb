/* SPDX-License-Identifier: MIT */
/* Crash at any instruction, single-process form.
 *
 * The parent formats a maze's metadata in a MAP_SHARED anonymous region with
 * the core (src/core) and forks children that run a fixed sequence of core
 * operations on it. For every operation k of the sweep and every N from 0
 * to the operation's length in instructions, a fresh child runs operations
 * 0..k-1 freely, stops just before operation k, and the parent
 * single-steps it N instructions (PTRACE_SINGLESTEP) and SIGKILLs it. Then
 * the parent checks the shared metadata: lab_core_validate() passes, or
 * every discrepancy its own checker finds is one of the documented
 * in-flight states of the one interrupted operation, bounded by that
 * operation's rooms, rows and slot (tests/crash/README.md lists them).
 *
 * The rooms, rows and slot of operation k are those whose words differ
 * between the metadata before and after it, taken from a reference run of
 * the same sequence in this process.
 *
 * Usage: crash [OP...]   sweep only the named operations (default: all)
 *        crash shm|file ...  the sweep through the public API on a shared or
 *                            file-backed maze, with recovery (crash_api.c)
 * Prints each operation's length, the kills, and every in-flight state seen
 * with its count; exits 1 on any state that is not tolerated. */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CRASH_UNSUPPORTED "built with TSan or MSan (their runtimes break single-stepping)"
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CRASH_UNSUPPORTED)
#define CRASH_UNSUPPORTED "built with TSan (its runtime breaks single-stepping)"
#endif

#define PAGES 1536u /* three rows: room for an order-9 block and small ones */
#define KEY 1000u   /* the child's owner key */
#define KEY2 2000u  /* the key a block is given to */
#define MAXOPS 16
#define MAXKINDS 48
#define MAXLEN 100000  /* instructions per op, at most (sanitizers add many) */
#define FULL_SWEEP 400 /* ops up to this long: a real kill at every instruction */
#define SAMPLES 40     /* longer ops: this many real kills, evenly spaced */

/* ---- the operations ------------------------------------------------------ */

enum op_kind {
	ALLOC,
	FREE,
	GIVE,
	DRAIN
};

struct op {
	const char *name;
	enum op_kind kind;
	unsigned order;
	bool excl;
	int use_slot; /* 1: the child's cache slot, 0: none (-1) */
	int ref;      /* FREE/GIVE: the op whose result is the room */
	uint32_t caller;
	int expect; /* FREE/GIVE: the expected return */
};

static const struct op ops[] = {
	{ "alloc0-refill", ALLOC, 0, false, 1, -1, KEY, 0 },
	{ "alloc0-pop-excl", ALLOC, 0, true, 1, -1, KEY, 0 },
	{ "alloc3", ALLOC, 3, false, 1, -1, KEY, 0 },
	{ "alloc9-excl", ALLOC, 9, true, 1, -1, KEY, 0 },
	{ "alloc0-direct", ALLOC, 0, true, 0, -1, KEY, 0 },
	{ "free0-excl-cache", FREE, 0, false, 1, 1, KEY, 0 },
	{ "free0-shared-cache", FREE, 0, false, 1, 0, KEY, 0 },
	{ "give3", GIVE, 3, false, 1, 2, KEY, 0 },
	{ "free3-by-receiver", FREE, 3, false, 1, 2, KEY2, 0 },
	{ "double-free0", FREE, 0, false, 1, 1, KEY, -LAB_ENOENT },
	{ "free9", FREE, 9, false, 1, 3, KEY, 0 },
	{ "free0-direct", FREE, 0, false, 0, 4, KEY, 0 },
	{ "drain", DRAIN, 0, false, 1, -1, KEY, 0 },
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

/* Run operation k; res[] holds the results of the earlier ones. */
static long run_op(const struct lab_view *v, int slot, int k, long *res)
{
	const struct op *o = &ops[k];
	int s = o->use_slot ? slot : -1;
	switch (o->kind) {
	case ALLOC:
		return lab_core_alloc(v, s, o->order, true, lab_ow_make(KEY, o->order, o->excl));
	case FREE:
		return lab_core_free(v, s, (uint64_t)res[o->ref], o->order, o->caller);
	case GIVE:
		return lab_core_give(v, s, (uint64_t)res[o->ref], o->caller, KEY2);
	case DRAIN:
		lab_core_drain(v, s);
		return 0;
	}
	return -1;
}

/* ---- the region --------------------------------------------------------- */

static size_t region_len;

/* The word that tells the parent where the child is: the ops it finished. */
struct ctl {
	volatile int done;
	int slot;
};

static void format_region(void *region)
{
	memset(region, 0, region_len);
	lab_core_format(region, PAGES, 12, 0);
}

static void view_of(struct lab_view *v, void *region)
{
	lab_core_view(v, region);
	v->heavy_barrier = NULL; /* the owner uses a real fence: no membarrier */
}

/* ---- the checker ---------------------------------------------------------- */

struct kind {
	char name[96];
	bool tolerated;
	unsigned long kills; /* crash points that leave this state */
	unsigned long worst; /* its largest extent (rooms) */
};

struct tally {
	struct kind k[MAXKINDS];
	int n;
	unsigned long points, kills, clean, steps;
};

static struct tally tally[MAXOPS];
static int failures;

/* What operation k may leave behind: its rooms, rows, slot. */
struct scope {
	bool room[PAGES];
	bool row[(PAGES + LAB_ROW_ROOMS - 1) / LAB_ROW_ROOMS];
	unsigned row_rooms[(PAGES + LAB_ROW_ROOMS - 1) / LAB_ROW_ROOMS];
	unsigned group_rooms[64]; /* rooms of the op in each group */
	unsigned nrooms;
	bool slot_touched;
	int slot;
};

static bool bit_of(const struct lab_view *v, uint64_t i)
{
	return (atomic_load_explicit(&v->bits[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}

static uint32_t rd(lab_a32 *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static void scope_of(struct scope *sc, const struct lab_view *b, const struct lab_view *a, int slot)
{
	memset(sc, 0, sizeof *sc);
	sc->slot = slot;
	for (uint32_t i = 0; i < PAGES; i++) {
		if (rd(&b->owners[i]) != rd(&a->owners[i]) || bit_of(b, i) != bit_of(a, i)) {
			sc->room[i] = true;
			sc->nrooms++;
			sc->row[i >> LAB_ROW_SHIFT] = true;
			sc->row_rooms[i >> LAB_ROW_SHIFT]++;
		}
	}
	for (uint32_t r = 0; r < b->nrows; r++) {
		if (rd(&b->rows[r]) != rd(&a->rows[r])) {
			sc->row[r] = true;
			/* a huge block: the whole row is in flight */
			if ((rd(&b->rows[r]) | rd(&a->rows[r])) & LAB_ROW_HUGE)
				sc->row_rooms[r] = LAB_ROW_ROOMS;
		}
	}
	for (uint32_t r = 0; r < b->nrows; r++)
		sc->group_rooms[r >> LAB_GROUP_SHIFT] += sc->row_rooms[r];
	struct lab_slot *sb = &b->slots[slot], *sa = &a->slots[slot];
	sc->slot_touched = rd(&sb->top) != rd(&sa->top);
	for (unsigned i = 0; i < LAB_CACHE_CAP; i++)
		sc->slot_touched |= rd(&sb->ent[i]) != rd(&sa->ent[i]);
}

/* One discrepancy found in one kill. */
struct found {
	char name[96];
	bool tolerated;
	unsigned long extent;
};

struct findings {
	struct found f[MAXKINDS];
	int n;
};

static void note(struct findings *fs, bool tolerated, unsigned long extent, const char *fmt, ...)
{
	char name[96];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	for (int i = 0; i < fs->n; i++) {
		if (!strcmp(fs->f[i].name, name) && fs->f[i].tolerated == tolerated) {
			fs->f[i].extent += extent;
			return;
		}
	}
	if (fs->n == MAXKINDS)
		return;
	snprintf(fs->f[fs->n].name, sizeof fs->f[fs->n].name, "%s", name);
	fs->f[fs->n].tolerated = tolerated;
	fs->f[fs->n].extent = extent;
	fs->n++;
}

/* Every discrepancy of the metadata, each classified as an in-flight state
 * of the operation whose scope is sc, or not. */
static void examine(const struct lab_view *v, const struct scope *sc, struct findings *fs)
{
	static uint8_t cover[PAGES]; /* 1: inside an allocated block (head included) */
	memset(cover, 0, sizeof cover);
	fs->n = 0;
	/* blocks */
	for (uint32_t i = 0; i < PAGES; i++) {
		uint32_t ow = rd(&v->owners[i]);
		if (!lab_ow_allocated(ow))
			continue;
		unsigned o = lab_ow_order(ow);
		uint64_t len = 1ull << o;
		if (o > 10 || (i & (len - 1)) || i + len > PAGES) {
			note(fs, false, 1, "bad block head");
			continue;
		}
		for (uint64_t j = i; j < i + len; j++) {
			if (cover[j])
				note(fs, false, 1, "rooms in two blocks");
			cover[j] = 1;
			if (j > i && rd(&v->owners[j]) != 0)
				note(fs, false, 1, "owner word inside a block");
		}
	}
	/* rooms */
	unsigned cached_in[LAB_SLOTS];
	memset(cached_in, 0, sizeof cached_in);
	for (uint32_t i = 0; i < PAGES; i++) {
		uint32_t ow = rd(&v->owners[i]);
		uint32_t row = i >> LAB_ROW_SHIFT;
		bool huge = rd(&v->rows[row]) & LAB_ROW_HUGE;
		bool bit = bit_of(v, i);
		if (ow & LAB_OW_CACHED) {
			uint32_t s = ow & ~LAB_OW_CACHED;
			if (s >= LAB_SLOTS)
				note(fs, false, 1, "cached owner word names no slot");
			else
				cached_in[s]++;
			if (!bit)
				note(fs, false, 1, "cached room with a clear bit");
			continue;
		}
		if (lab_ow_allocated(ow)) {
			if (lab_ow_order(ow) < LAB_ROW_SHIFT && !bit)
				note(fs, sc->room[i], 1, "allocated room with a clear bit");
			continue;
		}
		if (cover[i]) {
			/* a tail room of a block */
			if (!huge && !bit)
				note(fs, false, 1, "block tail with a clear bit");
			continue;
		}
		/* free: bit clear, row not huge */
		if (bit)
			note(fs, sc->room[i], 1, "room claimed, owner word FREE (in transit)");
		if (huge && (i & (LAB_ROW_ROOMS - 1)) == 0)
			note(fs, sc->row[row], LAB_ROW_ROOMS, "row HUGE, no owner word");
	}
	/* rows and groups */
	uint64_t gsum[64];
	memset(gsum, 0, sizeof gsum);
	for (uint32_t r = 0; r < v->nrows; r++) {
		uint32_t e = rd(&v->rows[r]);
		uint32_t cap = (uint32_t)lab_row_capacity(v, r), clear = 0;
		for (uint32_t b = 0; b < LAB_ROW_ROOMS; b++) {
			bool set = bit_of(v, (uint64_t)r * LAB_ROW_ROOMS + b);
			if (b >= cap && !set)
				note(fs, false, 1, "padding bit clear");
			clear += !set && b < cap;
		}
		if (e & LAB_ROW_HUGE) {
			if (e != LAB_ROW_HUGE || clear != LAB_ROW_ROOMS)
				note(fs, false, 1, "HUGE row not clean");
			continue;
		}
		uint32_t c = e & LAB_ROW_COUNT;
		gsum[r >> LAB_GROUP_SHIFT] += c;
		if (c > clear)
			note(fs, false, c - clear, "row count above its clear bits");
		else if (c < clear)
			note(fs, sc->row[r] && clear - c <= sc->row_rooms[r], clear - c,
			     "row count below its clear bits");
	}
	for (uint32_t g = 0; g < v->ngroups; g++) {
		uint64_t gc = rd(&v->groups[g].free);
		if (gc > gsum[g])
			note(fs, gc - gsum[g] <= sc->group_rooms[g], gc - gsum[g],
			     "group count above its rows");
		else if (gc < gsum[g])
			note(fs, gsum[g] - gc <= sc->group_rooms[g], gsum[g] - gc,
			     "group count below its rows");
	}
	/* slots */
	for (uint32_t s = 0; s < LAB_SLOTS; s++) {
		struct lab_slot *sl = &v->slots[s];
		bool mine = (int)s == sc->slot;
		uint32_t top = rd(&sl->top);
		if (rd(&sl->lock))
			note(fs, false, 1, "slot lock set");
		if (rd(&sl->busy))
			note(fs, mine, 1, "slot busy set (killed inside the cache)");
		if (rd(&sl->freeing))
			note(fs, mine, 1, "slot freeing set");
		if (top > LAB_CACHE_CAP) {
			note(fs, false, 1, "slot top above capacity");
			continue;
		}
		unsigned parked = 0;
		for (uint32_t i = 0; i < top; i++) {
			uint32_t e = rd(&sl->ent[i]);
			if (e >= PAGES) {
				note(fs, false, 1, "cache entry out of range");
				continue;
			}
			uint32_t ow = rd(&v->owners[e]);
			if (ow == (LAB_OW_CACHED | s)) {
				parked++;
				continue;
			}
			bool ok = mine && sc->slot_touched && sc->room[e];
			if (ow == 0)
				note(fs, ok, 1, "cache entry below top with owner word FREE");
			else if (ow & LAB_OW_CACHED)
				note(fs, false, 1, "cache entry parked in another slot");
			else
				note(fs, ok, 1, "cache entry below top already allocated");
		}
		if (cached_in[s] > parked)
			note(fs, mine && sc->slot_touched && cached_in[s] - parked <= sc->nrooms,
			     cached_in[s] - parked, "owner word CACHED, not below top");
	}
}

static void record(int k, const struct findings *fs)
{
	struct tally *t = &tally[k];
	for (int i = 0; i < fs->n; i++) {
		const struct found *f = &fs->f[i];
		int j;
		for (j = 0; j < t->n; j++)
			if (!strcmp(t->k[j].name, f->name) && t->k[j].tolerated == f->tolerated)
				break;
		if (j == t->n) {
			if (t->n == MAXKINDS)
				continue;
			snprintf(t->k[j].name, sizeof t->k[j].name, "%s", f->name);
			t->k[j].tolerated = f->tolerated;
			t->n++;
		}
		t->k[j].kills++;
		if (f->extent > t->k[j].worst)
			t->k[j].worst = f->extent;
	}
}

/* ---- the child and the tracer ---------------------------------------------- */

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* The child: ops 0..k-1, then a SIGTRAP stop, then op k; `done` tells the
 * parent when op k has finished. */
static void child(void *region, struct ctl *ctl, int k)
{
	struct lab_view v;
	long res[MAXOPS];
	view_of(&v, region);
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(3);
	raise(SIGSTOP);
	int slot = lab_core_slot_claim(&v, KEY, 0);
	ctl->slot = slot;
	for (int i = 0; i < k; i++)
		res[i] = run_op(&v, slot, i, res);
	raise(SIGTRAP);
	res[k] = run_op(&v, slot, k, res);
	ctl->done = k + 1;
	for (;;)
		pause();
}

static int wait_stop(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) < 0)
		die("waitpid");
	if (!WIFSTOPPED(st)) {
		fprintf(stderr, "crash: child %d did not stop (status %#x)\n", (int)pid, st);
		exit(2);
	}
	return WSTOPSIG(st);
}

static void kill_child(pid_t pid)
{
	int st;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

static uint64_t hash_region(const void *region)
{
	const unsigned char *p = region;
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < region_len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Check the metadata as a kill after n instructions of op k leaves it:
 * consistent, or tolerated in-flight states of op k only. */
static void check_point(const struct lab_view *v, const struct scope *sc, int k, long n)
{
	struct tally *t = &tally[k];
	struct findings fs;
	char why[160];
	examine(v, sc, &fs);
	int val = lab_core_validate(v, why, sizeof why);
	if (val == 0 && fs.n == 0) {
		t->clean++;
		return;
	}
	record(k, &fs);
	bool bad = val != 0 && fs.n == 0; /* the checker missed what validate saw */
	for (int i = 0; i < fs.n; i++)
		bad |= !fs.f[i].tolerated;
	if (!bad)
		return;
	failures++;
	fprintf(stderr, "crash: %s after %ld instructions:", ops[k].name, n);
	if (val)
		fprintf(stderr, " validate: %s;", why);
	for (int i = 0; i < fs.n; i++)
		fprintf(stderr, " %s%s (%lu);",
			fs.f[i].tolerated ? "" : "NOT TOLERATED: ", fs.f[i].name, fs.f[i].extent);
	fprintf(stderr, "\n");
}

/* Fork a child, let it reach the start of op k and step it.
 * n >= 0: n instructions, then SIGKILL. n < 0 (the walk): until op k is
 * done, checking the metadata and hashing it into hashes[] at every stop,
 * which is exactly the state a SIGKILL at that stop would leave. Returns
 * the instructions stepped. */
static long stepped_run(void *region, struct ctl *ctl, int k, long n, const struct lab_view *v,
			const struct scope *sc, uint64_t *hashes, long maxlen)
{
	format_region(region);
	ctl->done = 0;
	ctl->slot = -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		child(region, ctl, k);
	if (wait_stop(pid) != SIGSTOP) {
		fprintf(stderr, "crash: child did not stop with SIGSTOP\n");
		exit(2);
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL) < 0)
		die("PTRACE_SETOPTIONS");
	if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
		die("PTRACE_CONT");
	if (wait_stop(pid) != SIGTRAP) {
		fprintf(stderr, "crash: child did not reach op %d\n", k);
		exit(2);
	}
	long steps = 0;
	for (;;) {
		if (n < 0) {
			if (steps >= maxlen) {
				fprintf(stderr, "crash: %s: longer than %ld instructions\n",
					ops[k].name, maxlen);
				exit(2);
			}
			hashes[steps] = hash_region(region);
			check_point(v, sc, k, steps);
			if (ctl->done == k + 1)
				break;
		} else if (steps == n) {
			break;
		}
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0)
			die("PTRACE_SINGLESTEP");
		int sig = wait_stop(pid);
		if (sig != SIGTRAP) {
			fprintf(stderr, "crash: unexpected signal %d while stepping op %d\n", sig,
				k);
			exit(2);
		}
		steps++;
	}
	kill_child(pid);
	return steps;
}

/* ---- main ------------------------------------------------------------------ */

int crash_api_main(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "shm") || !strcmp(argv[1], "file")))
		return crash_api_main(argc, argv);
	bool want[MAXOPS];
	for (int k = 0; k < NOPS; k++)
		want[k] = argc < 2;
	for (int a = 1; a < argc; a++) {
		int k;
		for (k = 0; k < NOPS; k++)
			if (!strcmp(argv[a], ops[k].name))
				break;
		if (k == NOPS) {
			fprintf(stderr, "crash: no operation %s; they are:", argv[a]);
			for (k = 0; k < NOPS; k++)
				fprintf(stderr, " %s", ops[k].name);
			fprintf(stderr, "\n");
			return 2;
		}
		want[k] = true;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
#ifdef CRASH_UNSUPPORTED
	printf("crash: skipped: %s\n", CRASH_UNSUPPORTED);
	return 77;
#endif
	const char *pre = getenv("LD_PRELOAD");
	if (pre && strstr(pre, "vgpreload")) {
		printf("crash: skipped under valgrind (it cannot be single-stepped)\n");
		return 77;
	}
	region_len = lab_core_meta_size(PAGES);
	void *region =
		mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ctl *ctl =
		mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || ctl == MAP_FAILED)
		die("mmap");

	/* the reference run: the metadata before each op, and each op's result */
	static char *snap[MAXOPS + 1];
	long res[MAXOPS];
	format_region(region);
	struct lab_view v;
	view_of(&v, region);
	int slot = lab_core_slot_claim(&v, KEY, 0);
	if (slot < 0) {
		fprintf(stderr, "crash: no slot\n");
		return 2;
	}
	char why[160];
	for (int k = 0; k <= NOPS; k++) {
		snap[k] = aligned_alloc(64, (region_len + 63) & ~(size_t)63);
		if (!snap[k])
			die("aligned_alloc");
		memcpy(snap[k], region, region_len);
		if (k == NOPS)
			break;
		res[k] = run_op(&v, slot, k, res);
		bool ok = ops[k].kind == ALLOC ? res[k] >= 0 : res[k] == ops[k].expect;
		if (!ok || lab_core_validate(&v, why, sizeof why)) {
			fprintf(stderr, "crash: reference run: %s returned %ld (%s)\n", ops[k].name,
				res[k], why);
			return 1;
		}
	}
	printf("crash: %u rooms, %zu bytes of metadata in a MAP_SHARED region, slot %d\n", PAGES,
	       region_len, slot);

	/* the checker must be able to fail: damage a quiescent maze outside
	 * the scope of op 0 and expect an untolerated finding */
	{
		static struct scope sc0;
		struct lab_view vb, va;
		view_of(&vb, snap[0]);
		view_of(&va, snap[1]);
		scope_of(&sc0, &vb, &va, slot);
		memcpy(region, snap[NOPS], region_len);
		atomic_fetch_or(&v.bits[(PAGES - 1) >> 6], 1ull << ((PAGES - 1) & 63));
		struct findings fs;
		examine(&v, &sc0, &fs);
		bool caught = false;
		for (int i = 0; i < fs.n; i++)
			caught |= !fs.f[i].tolerated;
		if (!caught) {
			fprintf(stderr, "crash: self-test: a stray set bit was not caught\n");
			return 1;
		}
	}

	static uint64_t hashes[MAXLEN];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long total_steps = 0, total_kills = 0, total_points = 0;
	for (int k = 0; k < NOPS; k++) {
		if (!want[k])
			continue;
		struct lab_view vb, va;
		view_of(&vb, snap[k]);
		view_of(&va, snap[k + 1]);
		static struct scope sc;
		scope_of(&sc, &vb, &va, slot);
		/* the walk: every crash point of op k, checked in place */
		struct tally *t = &tally[k];
		long len = stepped_run(region, ctl, k, -1, &v, &sc, hashes, MAXLEN);
		t->points = (unsigned long)len + 1;
		t->steps += (unsigned long)len;
		if (ctl->slot != slot || memcmp(region, snap[k + 1], region_len)) {
			fprintf(stderr, "crash: %s: the child's run differs from the reference\n",
				ops[k].name);
			return 1;
		}
		/* real kills: at every instruction of a short op, at evenly spaced
		 * ones of a long op (the walk checked every one); each must leave
		 * exactly the metadata the walk saw at that point */
		long every = len <= FULL_SWEEP ? 1 : (len + SAMPLES - 1) / SAMPLES;
		for (long n = 0;; n += every) {
			if (n > len)
				n = len;
			stepped_run(region, ctl, k, n, &v, &sc, NULL, 0);
			t->kills++;
			t->steps += (unsigned long)n;
			if (hash_region(region) != hashes[n]) {
				failures++;
				fprintf(stderr,
					"crash: %s: a kill after %ld instructions left other metadata than the walk saw there\n",
					ops[k].name, n);
			}
			if (n == len)
				break;
		}
		total_steps += t->steps;
		total_kills += t->kills;
		total_points += t->points;
		printf("crash: %-20s %5ld instructions, %5lu kills, %5lu of %5lu crash points consistent\n",
		       ops[k].name, len, t->kills, t->clean, t->points);
		for (int j = 0; j < t->n; j++)
			printf("crash:     %s%-46s at %5lu points, up to %lu\n",
			       t->k[j].tolerated ? "" : "NOT TOLERATED: ", t->k[j].name,
			       t->k[j].kills, t->k[j].worst);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("crash: %lu crash points checked, %lu real kills, %lu instructions single-stepped, "
	       "%.1f s\n",
	       total_points, total_kills, total_steps,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (failures) {
		printf("crash: FAILED: %d crash points or kills not tolerated\n", failures);
		return 1;
	}
	printf("crash: every crash point left a consistent maze or a tolerated in-flight state\n");
	return 0;
}

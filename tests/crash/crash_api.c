/* SPDX-License-Identifier: MIT */
/* Crash at any instruction through the public API, on a shared (memfd) or a
 * file-backed maze, with recovery checked at every crash point.
 *
 * The parent makes the maze object once and keeps a copy of its fresh
 * bytes. For every operation k and every crash point, a fresh child attaches
 * (lab_attach_fd, or lab_file_open), runs operations 0..k-1 through the
 * public calls, stops before operation k and is single-stepped:
 *
 * - the walk steps operation k to its end; at a stop, the object holds
 *   exactly what a SIGKILL there would leave. The parent copies the object's
 *   header, metadata and registry into a second object (a memfd, or a file),
 *   marks the stopped child's registry entries as another incarnation (what
 *   its death would make them), and recovers the copy: lab_attach_fd +
 *   lab_recover, or lab_file_open(copy) == -EUCLEAN then
 *   lab_file_open(copy, LAB_RECOVER or LAB_RECOVER_KEEP);
 * - real kills step a fresh child N instructions, SIGKILL it, and recover the
 *   object itself the same way.
 *
 * After each recovery: lab_validate passes; lab_room_info agrees with
 * lab_stats; free rooms + rooms of live owners (the parent, which the child
 * gave a block to) + kept rooms == pages; without KEEP nothing of the child
 * is left; with KEEP the orphans are exactly the child's blocks before or
 * after the operation (lab_orphans agrees); recovery.inflight is 0 at the
 * operation's first and last instruction and at most max(32, 2^order)
 * inside it; and every room can then be allocated once and freed.
 *
 * Usage: test_crash shm|file [--full] [--lengths] [OP...] (crash.c's main
 * hands these over)
 *   By default (make test) the short operations and one long one per maze
 *   kind (shm: the first alloc, which registers the thread; file: the give,
 *   which registers the parent): every crash point of the first 1000
 *   instructions and every 500th after, 12 kills per short operation,
 *   evenly spaced, and 2 per long one at random points (LAB_TEST_SEED). --full (make crash-soak): every operation
 *   (also reap and detach), every crash point, up to 400 kills per short
 *   operation and 40 per long one. --lengths: only print each operation's
 *   length. Exit 0, 1 on a violation, 77 where single-stepping does not
 *   work (TSan, MSan, valgrind). */
#define _GNU_SOURCE
#include "shared/format.h"
#include "shared/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <labyrinth.h>
#include <labyrinth/shared.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

#define PAGES 1536u
#define MAXLEN 2000000L /* instructions per operation, at most */
#define WALK_EVERY 1000 /* default: every point up to here, then every WALK_STRIDE */
#define WALK_STRIDE 500
#define SHORT 6000   /* instructions: a short op */
#define KILLS 12     /* default kills of a short op, evenly spaced */
#define KILLS_LONG 2 /* and of a long one, at random points */
#define FULL_KILLS 400
#define FULL_KILLS_LONG 40
#define BATCH 32u /* a cache batch: the most an op leaves in flight but a block */

/* ---- the operations ------------------------------------------------------- */

enum op_kind {
	ALLOC,
	FREE,
	GIVE,
	DRAIN,
	REAP,
	DETACH
};

struct op {
	const char *name;
	enum op_kind kind;
	unsigned order;
	lab_gfp_t gfp;
	int ref;     /* FREE/GIVE: the op whose block it is */
	int expect;  /* FREE/GIVE: the expected return */
	unsigned in; /* swept by default in: 1 shm, 2 file (long ops: one each) */
};

static const struct op ops[] = {
	/* the first call of the thread: registers it (registry lock, /proc),
	 * claims a cache slot, refills */
	{ "alloc0-first", ALLOC, 0, LAB_GFP_NOWAIT, -1, 0, 1 },
	{ "alloc0-pop-excl", ALLOC, 0, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE, -1, 0, 3 },
	{ "alloc3", ALLOC, 3, LAB_GFP_NOWAIT, -1, 0, 3 },
	{ "alloc9-excl", ALLOC, 9, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE, -1, 0, 3 },
	{ "alloc1-kernel", ALLOC, 1, LAB_GFP_KERNEL, -1, 0, 3 },
	{ "free0-excl", FREE, 0, 0, 1, 0, 3 },
	{ "free0", FREE, 0, 0, 0, 0, 3 },
	/* registers the parent's thread in the maze (it has never used it) */
	{ "give3-to-parent", GIVE, 3, 0, 2, 0, 2 },
	{ "double-free0", FREE, 0, 0, 0, -ENOENT, 3 },
	{ "free9", FREE, 9, 0, 3, 0, 3 },
	{ "free1", FREE, 1, 0, 4, 0, 3 },
	{ "alloc2-atomic", ALLOC, 2, LAB_GFP_ATOMIC, -1, 0, 3 },
	{ "drain", DRAIN, 0, 0, -1, 0, 3 },
	{ "reap", REAP, 0, 0, -1, 0, 0 },
	{ "detach", DETACH, 0, 0, -1, 0, 0 },
};
#define NOPS ((int)(sizeof ops / sizeof ops[0]))

struct ctl {
	volatile int done; /* ops the child finished */
	volatile int err;
	volatile long res[NOPS];
	volatile uint32_t parent_tid;
};

static long run_op(struct labyrinth *m, struct ctl *c, int k)
{
	const struct op *o = &ops[k];
	long b = o->ref >= 0 ? c->res[o->ref] : 0;
	switch (o->kind) {
	case ALLOC:
		return lab_alloc_index(m, o->gfp, o->order);
	case FREE:
		return lab_free_index(m, (size_t)b, o->order);
	case GIVE:
		return lab_index_give(m, (size_t)b, c->parent_tid);
	case DRAIN:
		lab_drain(m);
		return 0;
	case REAP:
		return lab_reap(m);
	case DETACH:
		return lab_detach(m);
	}
	return -1;
}

/* ---- the object ------------------------------------------------------------- */

static bool use_file;
static int obj_fd = -1;		  /* the maze object (memfd or file) */
static char obj_path[300];	  /* file: its path */
static char copy_path[300];	  /* file: the copy's path */
static int copy_fd = -1;	  /* memfd: the copy */
static size_t head_len;		  /* header + metadata + registry: rooms_off */
static size_t total_len;	  /* the object's size */
static size_t reg_off;		  /* the registry */
static unsigned char *fresh;	  /* the object's first head_len bytes, just made */
static unsigned char *scratch;	  /* a copy being patched */
static const unsigned char *live; /* the object, mapped read-only */
static char tmpdir[256];

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t mix(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash_api: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void pwrite_all(int fd, const void *p, size_t n, off_t at)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, at);
		if (w <= 0)
			die("pwrite: %s", strerror(errno));
		p = (const char *)p + w;
		n -= (size_t)w;
		at += w;
	}
}

static void make_object(void)
{
	struct lab_config cfg = { .pages = PAGES };
	struct labyrinth *m = NULL;
	int rc;
	if (use_file) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
		snprintf(tmpdir, sizeof tmpdir, "%s/lab-crash-XXXXXX", base);
		if (!mkdtemp(tmpdir))
			die("mkdtemp: %s", strerror(errno));
		snprintf(obj_path, sizeof obj_path, "%s/maze", tmpdir);
		snprintf(copy_path, sizeof copy_path, "%s/copy", tmpdir);
		rc = lab_file_create(obj_path, &cfg, &m);
		if (rc)
			die("lab_file_create: %d", rc);
		lab_detach(m);
		obj_fd = open(obj_path, O_RDWR | O_CLOEXEC);
	} else {
		rc = lab_create_fd(&cfg, &obj_fd, &m);
		if (rc)
			die("lab_create_fd: %d", rc);
		lab_detach(m);
		copy_fd = memfd_create("lab-crash-copy", MFD_CLOEXEC);
	}
	if (obj_fd < 0 || (!use_file && copy_fd < 0))
		die("open: %s", strerror(errno));
	struct lab_obj_hdr h;
	if (pread(obj_fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		die("pread");
	head_len = (size_t)h.rooms_off;
	total_len = (size_t)h.total_len;
	reg_off = (size_t)h.reg_off;
	fresh = malloc(head_len);
	scratch = malloc(head_len);
	if (!fresh || !scratch || pread(obj_fd, fresh, head_len, 0) != (ssize_t)head_len)
		die("reading the object");
	live = mmap(NULL, head_len, PROT_READ, MAP_SHARED, obj_fd, 0);
	if (live == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (!use_file && ftruncate(copy_fd, (off_t)total_len))
		die("ftruncate: %s", strerror(errno));
}

static void reset_object(void)
{
	pwrite_all(obj_fd, fresh, head_len, 0);
}

/* ---- the checks ------------------------------------------------------------- */

struct tally {
	unsigned long len, walked, kills, keep, kept_extra, kept_less, live_given;
	unsigned long inflight_points;
	size_t inflight_max;
	uint64_t ns;
};
static struct tally tally[NOPS];
static int failures;
static uint32_t parent_tid;

static void bad(int k, long n, bool kill, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "crash_api: %s %s: %s after %ld instructions: ", use_file ? "file" : "shm",
		ops[k].name, kill ? "kill" : "walk", n);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

/* The blocks the child holds before op k (res[] of the ops before). */
static int held_before(const struct ctl *c, int k, long *idx, unsigned *ord)
{
	int n = 0;
	for (int i = 0; i < k; i++) {
		const struct op *o = &ops[i];
		if (o->kind == ALLOC && c->res[i] >= 0) {
			idx[n] = c->res[i];
			ord[n++] = o->order;
		} else if ((o->kind == FREE || o->kind == GIVE) && o->expect == 0) {
			for (int j = 0; j < n; j++)
				if (idx[j] == c->res[o->ref]) {
					idx[j] = idx[--n];
					ord[j] = ord[n];
					break;
				}
		}
	}
	return n;
}

static long give_block(const struct ctl *c)
{
	for (int i = 0; i < NOPS; i++)
		if (ops[i].kind == GIVE)
			return c->res[ops[i].ref];
	return -1;
}

static int give_op(void)
{
	for (int i = 0; i < NOPS; i++)
		if (ops[i].kind == GIVE)
			return i;
	return NOPS;
}

/* Open the recovered maze: the copy (walk) or the object (kill). */
static struct labyrinth *recover_open(int k, long n, bool kill, unsigned flags, int at,
				      struct lab_recovery *r)
{
	struct labyrinth *m = NULL;
	int rc;
	if (use_file) {
		const char *path = kill ? obj_path : copy_path;
		rc = lab_file_open(path, 0, &m);
		/* not closed cleanly, unless the child's detach got to its end */
		if (rc != -EUCLEAN && !(ops[k].kind == DETACH && rc == 0 && at >= 0))
			bad(k, n, kill, "lab_file_open without LAB_RECOVER = %d", rc);
		if (rc == 0) {
			/* closed cleanly: recover through this handle. Detaching
			 * it would end this process's registry entries in the
			 * file, the owner of the block given to the parent. */
			rc = lab_recover(m, flags, r);
			if (rc) {
				bad(k, n, kill, "lab_recover on a clean file = %d", rc);
				lab_detach(m);
				return NULL;
			}
			return m;
		}
		rc = lab_file_open(path, flags, &m);
		if (rc) {
			bad(k, n, kill, "lab_file_open(%s) = %d",
			    flags & LAB_RECOVER_KEEP ? "KEEP" : "RECOVER", rc);
			return NULL;
		}
		lab_recovery_info(m, r);
	} else {
		rc = lab_attach_fd(kill ? obj_fd : copy_fd, &m);
		if (rc) {
			bad(k, n, kill, "lab_attach_fd = %d", rc);
			return NULL;
		}
		rc = lab_recover(m, flags, r);
		if (rc) {
			bad(k, n, kill, "lab_recover = %d", rc);
			lab_detach(m);
			return NULL;
		}
	}
	return m;
}

/* at: -1 first instruction, 1 last, 0 inside. */
static void check(int k, long n, bool kill, int at, const struct ctl *c, uint32_t child_tid)
{
	struct tally *t = &tally[k];
	unsigned flags = (n + kill) % 2 ? LAB_RECOVER_KEEP : LAB_RECOVER;
	bool keep = flags == LAB_RECOVER_KEEP;
	struct lab_recovery r;
	struct labyrinth *m = recover_open(k, n, kill, flags, at, &r);
	if (!m)
		return;
	t->keep += keep;
	char why[256] = "";
	if (lab_validate(m, why, sizeof why))
		bad(k, n, kill, "lab_validate after recovery: %s", why);
	/* what recovery left allocated */
	long bidx[16];
	unsigned bord[16];
	int nb = held_before(c, k, bidx, bord);
	bool kept_seen[16] = { 0 };
	long gblock = give_block(c);
	int extra = 0, live_blocks = 0;
	size_t kept_rooms = 0, live_rooms = 0, free_rooms = 0;
	for (size_t i = 0; i < PAGES;) {
		struct lab_room ri;
		if (lab_room_info(m, i, &ri)) {
			bad(k, n, kill, "lab_room_info(%zu) failed", i);
			break;
		}
		if (ri.state != LAB_ROOM_ALLOCATED) {
			if (ri.owner)
				bad(k, n, kill, "free room %zu has owner %u", i, ri.owner);
			free_rooms++;
			i++;
			continue;
		}
		size_t len = (size_t)1 << ri.order;
		if (ri.block != i) {
			bad(k, n, kill, "room %zu: block %zu", i, ri.block);
			break;
		}
		if (ri.owner == parent_tid) {
			/* the given block, once the give happened */
			bool may = (long)i == gblock && ri.order == ops[give_op()].order &&
				   (k > give_op() || (k == give_op() && at >= 0));
			if (!may)
				bad(k, n, kill, "block %zu order %u owned by the parent", i,
				    ri.order);
			live_rooms += len;
			live_blocks++;
		} else {
			if (!keep)
				bad(k, n, kill, "block %zu order %u (owner %u) left allocated", i,
				    ri.order, ri.owner);
			if (ri.owner != child_tid)
				bad(k, n, kill, "kept block %zu owned by %u, not the child %u", i,
				    ri.owner, child_tid);
			int j;
			for (j = 0; j < nb; j++)
				if (bidx[j] == (long)i && bord[j] == ri.order)
					break;
			if (j < nb) {
				kept_seen[j] = true;
			} else if (ops[k].kind == ALLOC && ri.order == ops[k].order && !extra &&
				   at >= 0) {
				extra++; /* the block op k allocates */
				t->kept_extra++;
			} else {
				bad(k, n, kill, "kept block %zu order %u was not the child's", i,
				    ri.order);
			}
			kept_rooms += len;
		}
		i += len;
	}
	if (k > give_op() && live_blocks != 1)
		bad(k, n, kill, "the parent's given block is gone (%d blocks)", live_blocks);
	t->live_given += live_blocks;
	if (keep) {
		int missing = 0;
		for (int j = 0; j < nb; j++) {
			if (kept_seen[j])
				continue;
			/* only op k's own block may go, and not before it starts */
			bool mine = (ops[k].kind == FREE || ops[k].kind == GIVE) &&
				    ops[k].expect == 0 && c->res[ops[k].ref] == bidx[j] && at >= 0;
			if (!mine)
				bad(k, n, kill, "the child's block %ld was not kept", bidx[j]);
			missing++;
		}
		t->kept_less += missing > 0;
		if (kept_rooms != r.kept)
			bad(k, n, kill, "%zu rooms kept by lab_room_info, recovery says %zu",
			    kept_rooms, r.kept);
		long no = lab_orphans(m, NULL, 0);
		if (no < 0 || (size_t)no != r.kept_blocks)
			bad(k, n, kill, "lab_orphans = %ld, recovery kept %zu blocks", no,
			    r.kept_blocks);
	} else if (r.kept) {
		bad(k, n, kill, "recovery kept %zu rooms without KEEP", r.kept);
	}
	struct lab_stats st;
	lab_stats(m, &st);
	if (st.free != free_rooms || st.free + live_rooms + kept_rooms != PAGES)
		bad(k, n, kill, "%zu free (%zu by room), %zu live, %zu kept: not %u", st.free,
		    free_rooms, live_rooms, kept_rooms, PAGES);
	size_t bound = (size_t)1 << ops[k].order;
	if (bound < BATCH)
		bound = BATCH;
	if (at == -1 && r.inflight)
		bad(k, n, kill, "%zu rooms in flight before the operation", r.inflight);
	else if (at == 1 && r.inflight)
		bad(k, n, kill, "%zu rooms in flight after the operation", r.inflight);
	else if (r.inflight > bound)
		bad(k, n, kill, "%zu rooms in flight, bound %zu", r.inflight, bound);
	t->inflight_points += r.inflight > 0;
	if (r.inflight > t->inflight_max)
		t->inflight_max = r.inflight;
	/* the maze works: every free room once, then back */
	static long got[PAGES];
	static unsigned char seen[PAGES];
	memset(seen, 0, sizeof seen);
	size_t ng = 0;
	long g;
	while (ng < PAGES && (g = lab_alloc_index(m, LAB_GFP_ATOMIC, 0)) >= 0) {
		if (g >= (long)PAGES || seen[g]) {
			bad(k, n, kill, "room %ld handed out twice after recovery", g);
			break;
		}
		seen[g] = 1;
		got[ng++] = g;
	}
	if (ng != free_rooms)
		bad(k, n, kill, "%zu rooms allocated after recovery, %zu free", ng, free_rooms);
	for (size_t i = 0; i < ng; i++)
		if (lab_free_index(m, (size_t)got[i], 0))
			bad(k, n, kill, "free of room %ld after recovery failed", got[i]);
	if (lab_validate(m, why, sizeof why))
		bad(k, n, kill, "lab_validate after alloc-all/free-all: %s", why);
	lab_detach(m);
}

/* The walk's copy: the object as it is now, with the stopped child made
 * dead in its registry (entries and lock). reused == false: its process and
 * thread id replaced by one that no task can have (tids are below 2^22), as
 * if the child had died and its id were unused; true: its thread's start
 * time changed, as if it had died and the stopped child were another task
 * that got its id. Returns the tid recovery will report for its blocks. */
#define DEAD_TID ((1u << 22) + 17u)
static uint32_t make_copy(pid_t child, bool reused)
{
	memcpy(scratch, live, head_len);
	struct lab_registry *reg = (struct lab_registry *)(scratch + reg_off);
	for (uint32_t i = 0; i < LAB_SHARED_THREADS; i++) {
		struct lab_reg_ent *e = &reg->ent[i];
		if ((atomic_load_explicit(&e->word, memory_order_relaxed) & 3) != LAB_REG_FREE &&
		    atomic_load_explicit(&e->pid, memory_order_relaxed) == (uint32_t)child) {
			if (reused) {
				atomic_fetch_xor_explicit(&e->tid_start, 1, memory_order_relaxed);
				atomic_fetch_xor_explicit(&e->pid_start, 1, memory_order_relaxed);
			} else {
				atomic_store_explicit(&e->pid, DEAD_TID, memory_order_relaxed);
				atomic_store_explicit(&e->tid, DEAD_TID, memory_order_relaxed);
			}
		}
	}
	/* the lock: the registering thread's tid | its start time << 32 */
	uint64_t lk = atomic_load_explicit(&reg->lock, memory_order_relaxed);
	if (lk && (uint32_t)lk == (uint32_t)child)
		atomic_store_explicit(&reg->lock,
				      reused ? lk ^ (1ull << 32) : (lk & ~0xffffffffull) | DEAD_TID,
				      memory_order_relaxed);
	if (use_file) {
		int fd = open(copy_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)total_len))
			die("copy: %s", strerror(errno));
		pwrite_all(fd, scratch, head_len, 0);
		close(fd);
	} else {
		pwrite_all(copy_fd, scratch, head_len, 0);
	}
	return reused ? (uint32_t)child : DEAD_TID;
}

/* ---- the child and the tracer ------------------------------------------------ */

static void child(struct ctl *c, int k)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(3);
	raise(SIGSTOP);
	struct labyrinth *m = NULL;
	int rc = use_file ? lab_file_open(obj_path, 0, &m) : lab_attach_fd(obj_fd, &m);
	if (rc) {
		c->err = rc;
		_exit(4);
	}
	for (int i = 0; i < k; i++)
		c->res[i] = run_op(m, c, i);
	raise(SIGTRAP);
	c->res[k] = run_op(m, c, k);
	c->done = k + 1;
	for (;;)
		pause();
}

static int wait_stop(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	if (!WIFSTOPPED(st))
		die("child %d did not stop (status %#x)", (int)pid, st);
	return WSTOPSIG(st);
}

static bool full, lengths;

/* Step op k: n >= 0: n instructions then SIGKILL and a check of the
 * object; n == -1: the walk to the end, checking a copy at every point (by
 * default: every point of the first WALK_EVERY, then every WALK_STRIDE-th,
 * and the last); n == -2: only count the instructions. Returns the
 * instructions stepped. */
static long stepped_run(struct ctl *c, int k, long n)
{
	reset_object();
	memset((void *)c, 0, sizeof *c);
	c->parent_tid = parent_tid;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(c, k);
	if (wait_stop(pid) != SIGSTOP)
		die("the child did not stop with SIGSTOP");
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
		die("ptrace: %s", strerror(errno));
	int sig;
	{
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		if (!WIFSTOPPED(st))
			die("the child did not reach %s (status %#x, error %d)", ops[k].name, st,
			    c->err);
		sig = WSTOPSIG(st);
	}
	if (sig != SIGTRAP)
		die("the child stopped with signal %d before %s", sig, ops[k].name);
	long steps = 0;
	for (;;) {
		bool end = c->done == k + 1;
		if (n < 0) {
			if (steps >= MAXLEN)
				die("%s: longer than %ld instructions", ops[k].name, MAXLEN);
			if (n == -1 &&
			    (full || end || steps < WALK_EVERY || steps % WALK_STRIDE == 0)) {
				uint64_t t0 = now_ns();
				uint32_t dead = make_copy(pid, (steps / 2) % 2);
				check(k, steps, false, steps == 0 ? -1 : end ? 1 : 0, c, dead);
				tally[k].ns += now_ns() - t0;
				tally[k].walked++;
			}
			if (end)
				break;
		} else if (steps == n || end) {
			break;
		}
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0)
			die("PTRACE_SINGLESTEP: %s", strerror(errno));
		sig = wait_stop(pid);
		if (sig != SIGTRAP)
			die("unexpected signal %d while stepping %s", sig, ops[k].name);
		steps++;
	}
	bool end = c->done == k + 1;
	int st;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n >= 0) {
		check(k, steps, true, steps == 0 ? -1 : end ? 1 : 0, c, (uint32_t)pid);
		tally[k].kills++;
	} else if (ops[k].kind == ALLOC ? c->res[k] < 0 : c->res[k] != ops[k].expect) {
		bad(k, steps, false, "returned %ld", c->res[k]);
	}
	return steps;
}

/* test_crash shm|file ...: crash.c's main hands over here. */
int crash_api_main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "shm") && strcmp(argv[1], "file"))) {
		fprintf(stderr, "usage: test_crash shm|file [--full] [--lengths] [OP...]\n");
		return 2;
	}
	use_file = !strcmp(argv[1], "file");
	bool want[NOPS];
	int named = 0;
	for (int k = 0; k < NOPS; k++)
		want[k] = false;
	for (int a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--full")) {
			full = true;
			continue;
		}
		if (!strcmp(argv[a], "--lengths")) {
			lengths = true;
			continue;
		}
		int k;
		for (k = 0; k < NOPS && strcmp(argv[a], ops[k].name); k++)
			;
		if (k == NOPS) {
			fprintf(stderr, "crash_api: no operation %s; they are:", argv[a]);
			for (k = 0; k < NOPS; k++)
				fprintf(stderr, " %s", ops[k].name);
			fprintf(stderr, "\n");
			return 2;
		}
		want[k] = true;
		named++;
	}
	if (!named)
		for (int k = 0; k < NOPS; k++)
			want[k] = full || lengths || (ops[k].in & (use_file ? 2u : 1u));
#ifdef CRASH_UNSUPPORTED
	printf("crash_api: skipped: %s\n", CRASH_UNSUPPORTED);
	return 77;
#endif
	const char *pre = getenv("LD_PRELOAD");
	if (pre && strstr(pre, "vgpreload")) {
		printf("crash_api: skipped under valgrind (it cannot be single-stepped)\n");
		return 77;
	}
	parent_tid = (uint32_t)syscall(SYS_gettid);
	const char *es = getenv("LAB_TEST_SEED");
	uint64_t seed = es && *es ? strtoull(es, NULL, 0) : now_ns() ^ ((uint64_t)getpid() << 32);
	make_object();
	struct ctl *c =
		mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		die("mmap");
	printf("crash_api: %s maze of %u rooms, %zu bytes of header, metadata and registry%s; "
	       "seed %#llx (LAB_TEST_SEED: the random kills of long operations)\n",
	       use_file ? "file" : "memfd", PAGES, head_len, full ? ", full sweep" : "",
	       (unsigned long long)seed);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long steps = 0, points = 0, kills = 0;
	for (int k = 0; k < NOPS; k++) {
		if (!want[k])
			continue;
		struct tally *t = &tally[k];
		if (lengths) {
			printf("crash_api: %-16s %6ld instructions\n", ops[k].name,
			       stepped_run(c, k, -2));
			continue;
		}
		long len = stepped_run(c, k, -1);
		t->len = (unsigned long)len;
		steps += (unsigned long)len;
		if (len > SHORT && !full) {
			for (int i = 0; i < KILLS_LONG; i++) {
				long n = 1 + (long)(mix(&seed) % (uint64_t)(len - 1));
				stepped_run(c, k, n);
				steps += (unsigned long)n;
			}
			goto done;
		}
		long nk = len <= SHORT ? (full ? FULL_KILLS : KILLS) : FULL_KILLS_LONG;
		long every = len + 1 <= nk ? 1 : (len + nk - 1) / nk;
		for (long n = 0;; n += every) {
			if (n > len)
				n = len;
			stepped_run(c, k, n);
			steps += (unsigned long)n;
			if (n == len)
				break;
		}
done:
		points += t->walked;
		kills += t->kills;
		printf("crash_api: %-16s %6lu instructions, %5lu points and %3lu kills recovered "
		       "(%lu KEEP), in flight at %lu (up to %zu rooms), %lu with op's block kept, "
		       "%lu with the freed block gone; %.0f us a check\n",
		       ops[k].name, t->len, t->walked, t->kills, t->keep, t->inflight_points,
		       t->inflight_max, t->kept_extra, t->kept_less,
		       t->walked ? (double)t->ns / 1e3 / (double)t->walked : 0.0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("crash_api: %lu crash points and %lu kills recovered and checked, %lu instructions "
	       "single-stepped, %.1f s\n",
	       points, kills, steps,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (use_file) {
		unlink(copy_path);
		unlink(obj_path);
		rmdir(tmpdir);
	}
	if (failures) {
		printf("crash_api: FAILED: %d checks\n", failures);
		return 1;
	}
	printf("crash_api: every crash point recovered to a valid maze, rooms conserved\n");
	return 0;
}

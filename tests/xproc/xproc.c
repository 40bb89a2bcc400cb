/* SPDX-License-Identifier: MIT */
/* Crash tests across processes: SIGKILL at random moments, and
 * several processes on one shared maze. Every run prints its seed; give it
 * back (argument or LAB_TEST_SEED) to replay the same choices (the kill
 * moments are the same delays, not the same instructions).
 *
 *   xproc kill [ROUNDS [SEED]]   a child churns with 4 threads on a shared
 *       maze (memfd, handle kept or re-attached; or a file maze) and is
 *       SIGKILLed after a random delay; the parent recovers (sometimes
 *       reaping first, sometimes keeping the orphans) and checks: validate,
 *       rooms conserved, what was kept is exactly what the child held up to
 *       its in-flight operations, in-flight within bounds, the maze works.
 *   xproc procs [ROUNDS [SEED]]  2..4 processes of 2 threads churn on one
 *       maze (shm or memfd) with a shared claim map and cookies; one is
 *       SIGKILLed, the survivors go on, one of them reaps: lab_reap's count
 *       must be what the dead held, up to its threads' operations in flight.
 *   xproc give [SEED]            lab_index_give between threads of two
 *       processes, both ways, exclusive and shared; then a receiver is killed
 *       holding one given block and the giver's lab_reap returns exactly it.
 *   xproc kernel                 a KERNEL allocation in one process waits on
 *       a full maze and a free in another process wakes it.
 *
 * With no argument: all four, with the default rounds (120 kill, 6 procs)
 * divided by LAB_TEST_SCALE. Exit 0 when every check held, 1 on a violation (printed), 2 on a set-up
 * failure. tests/xproc/README.md describes the checks and figures. */
#define _GNU_SOURCE
#include <labyrinth.h>
#include <labyrinth/shared.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers --------------------------------------------------------------- */

static int failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "xproc: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	failures++;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "xproc: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static uint64_t mix(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_us(uint64_t us)
{
	struct timespec t = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static uint32_t my_tid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

static void *shared_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu: %s", len, strerror(errno));
	return p;
}

/* Wait until *flag >= want, for up to ms milliseconds. */
static bool wait_for(_Atomic int *flag, int want, unsigned ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	while (atomic_load(flag) < want) {
		if (now_ns() > end)
			return false;
		sleep_us(100);
	}
	return true;
}

/* waitpid with a deadline: the status, or -1 (then the child is killed). */
static int reap_child(pid_t pid, unsigned ms)
{
	int st;
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			die("waitpid: %s", strerror(errno));
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		sleep_us(200);
	}
}

/* An error found in a child process: the first one is kept for the parent. */
struct child_err {
	_Atomic int set;
	char msg[400];
};

__attribute__((noreturn, format(printf, 2, 3))) static void child_fail(struct child_err *e,
								       const char *fmt, ...)
{
	int z = 0;
	if (atomic_compare_exchange_strong(&e->set, &z, 1)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	_exit(1);
}

/* A cookie at the start of every room of an allocated block. */
#define COOKIE_MAGIC 0x6b6f6f63u
struct cookie {
	uint32_t magic, pid;
	uint64_t room; /* its own index */
	uint64_t seq;  /* the block's sequence number, unique per run */
};

static void cookie_put(struct labyrinth *m, long idx, unsigned order, uint32_t pid, uint64_t seq)
{
	for (long j = idx; j < idx + (1l << order); j++) {
		struct cookie *c = lab_index_page(m, (size_t)j);
		*c = (struct cookie){ COOKIE_MAGIC, pid, (uint64_t)j, seq };
	}
}

/* The room whose cookie differs, or -1. */
static long cookie_bad(struct labyrinth *m, long idx, unsigned order, uint32_t pid, uint64_t seq)
{
	for (long j = idx; j < idx + (1l << order); j++) {
		const struct cookie *c = lab_index_page(m, (size_t)j);
		if (c->magic != COOKIE_MAGIC || c->pid != pid || c->room != (uint64_t)j ||
		    c->seq != seq)
			return j;
	}
	return -1;
}

static bool zeroed(struct labyrinth *m, long idx, unsigned order)
{
	const unsigned char *p = lab_index_page(m, (size_t)idx);
	size_t n = (size_t)4096 << order;
	for (size_t i = 0; i < n; i += 8)
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static bool valid(struct labyrinth *m, const char *when)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	if (rc)
		fail("%s: lab_validate = %d: %s", when, rc, why);
	return rc == 0;
}

/* Every room by lab_room_info: no room both free and owned, the free ones
 * agree with lab_stats. Fills alloc_rooms (rooms in allocated blocks). */
static void rooms_agree(struct labyrinth *m, const char *when, size_t *alloc_rooms)
{
	struct lab_stats st;
	lab_stats(m, &st);
	size_t nfree = 0, nalloc = 0;
	for (size_t i = 0; i < st.pages;) {
		struct lab_room r;
		int rc = lab_room_info(m, i, &r);
		if (rc) {
			fail("%s: lab_room_info(%zu) = %d", when, i, rc);
			return;
		}
		if (r.state == LAB_ROOM_ALLOCATED) {
			size_t len = (size_t)1 << r.order;
			if (r.owner == 0 || r.block != i || (i & (len - 1))) {
				fail("%s: room %zu allocated, owner %u, block %zu, order %u", when,
				     i, r.owner, r.block, r.order);
				return;
			}
			for (size_t j = i + 1; j < i + len && j < st.pages; j++) {
				struct lab_room t;
				if (lab_room_info(m, j, &t) || t.state != LAB_ROOM_ALLOCATED ||
				    t.block != i || t.owner != r.owner)
					fail("%s: room %zu in block %zu: state %u block %zu", when,
					     j, i, t.state, t.block);
			}
			nalloc += len;
			i += len;
			continue;
		}
		if (r.owner != 0 || (r.state != LAB_ROOM_FREE && r.state != LAB_ROOM_CACHED))
			fail("%s: room %zu state %u has owner %u", when, i, r.state, r.owner);
		nfree++;
		i++;
	}
	if (nfree != st.free || nfree + nalloc != st.pages)
		fail("%s: %zu free and %zu allocated rooms by lab_room_info, stats: %zu free of %zu",
		     when, nfree, nalloc, st.free, st.pages);
	if (alloc_rooms)
		*alloc_rooms = nalloc;
}

/* The maze still works: every room can be allocated once, then freed. */
static void works(struct labyrinth *m, const char *when)
{
	struct lab_stats st;
	lab_stats(m, &st);
	unsigned char *seen = calloc(st.pages, 1);
	long *got = malloc(st.pages * sizeof *got);
	if (!seen || !got)
		die("out of memory");
	size_t n = 0;
	for (;;) {
		long i = lab_alloc_index(m, LAB_GFP_ATOMIC | (n & 1 ? LAB_GFP_EXCLUSIVE : 0), 0);
		if (i < 0)
			break;
		if ((size_t)i >= st.pages || seen[i] || n == st.pages) {
			fail("%s: room %ld handed out twice or out of range", when, i);
			break;
		}
		seen[i] = 1;
		got[n++] = i;
	}
	if (n != st.free)
		fail("%s: allocated %zu rooms one by one, %zu were free", when, n, st.free);
	for (size_t k = 0; k < n; k++) {
		int rc = lab_free_index(m, (size_t)got[k], 0);
		if (rc)
			fail("%s: free of room %ld = %d", when, got[k], rc);
	}
	struct lab_stats after;
	lab_stats(m, &after);
	if (after.free != st.free)
		fail("%s: %zu free after alloc-all/free-all, %zu before", when, after.free,
		     st.free);
	valid(m, when);
	free(seen);
	free(got);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/lab-xproc-XXXXXX", base);
	if (!mkdtemp(tmpdir))
		die("mkdtemp %s: %s", tmpdir, strerror(errno));
}

/* ---- kill: a child killed at a random moment --------------------------------- */

#define K_PAGES 1024u
#define K_RESERVE 32u
#define K_THREADS 4
#define K_CAP 48   /* blocks a thread allocates up to */
#define K_HOLD 128 /* blocks a thread can hold (gives included) */
#define K_MAXO 3u
#define K_BATCH 32u /* a cache batch: the largest in-flight claim but a block */

enum {
	PEND_NONE,
	PEND_ALLOC,
	PEND_FREE
};

struct k_thr {
	_Atomic uint32_t tid;
	_Atomic int pend; /* the operation in flight */
	_Atomic uint32_t pend_order;
	_Atomic long pend_idx; /* PEND_FREE: its block */
	_Atomic uint64_t ops;
	/* the last operations, for a failure's report: kind << 56 | order << 48
	 * | gfp << 32 | (uint32_t)result */
	_Atomic uint64_t hist[32];
	/* gives to this thread, one mailbox per giver: block + 1, 0 = empty */
	_Atomic long box[K_THREADS];
	_Atomic uint32_t box_order[K_THREADS];
	_Atomic uint64_t box_seq[K_THREADS];
};

struct k_ctl {
	struct child_err err;
	_Atomic int ready; /* threads that have done an operation */
	struct k_thr thr[K_THREADS];
	/* block head -> order + 1 while the child holds it: stored after the
	 * alloc returns, cleared before the free */
	_Atomic uint8_t held[K_PAGES];
};

struct k_child {
	struct labyrinth *m;
	struct k_ctl *c;
	int t;
	uint64_t seed;
};

struct blk {
	long idx;
	unsigned order;
	uint64_t seq;
};

static void *k_thread(void *arg)
{
	struct k_child *a = arg;
	struct k_ctl *c = a->c;
	struct k_thr *me = &c->thr[a->t];
	struct labyrinth *m = a->m;
	uint32_t pid = (uint32_t)getpid();
	uint64_t rs = a->seed, seq = (uint64_t)a->t << 48;
	struct blk mine[K_HOLD];
	int n = 0;
	atomic_store(&me->tid, my_tid());
	for (uint64_t op = 0;; op++) {
		if (op == 1)
			atomic_fetch_add(&c->ready, 1);
		atomic_store_explicit(&me->ops, op, memory_order_relaxed);
		/* blocks given to us */
		for (int g = 0; g < K_THREADS && n < K_HOLD; g++) {
			long b = atomic_load(&me->box[g]);
			if (!b)
				continue;
			mine[n] = (struct blk){ b - 1, atomic_load(&me->box_order[g]),
						atomic_load(&me->box_seq[g]) };
			atomic_store(&me->box[g], 0);
			if (lab_index_owner(m, (size_t)mine[n].idx) != my_tid())
				child_fail(&c->err, "thread %d: given block %ld is not ours", a->t,
					   mine[n].idx);
			n++;
		}
		uint64_t r = mix(&rs);
		if (n == 0 || (n < K_CAP && r % 100 < 55)) {
			unsigned o = (r >> 8) % 2 ? 0 : 1 + (unsigned)((r >> 9) % K_MAXO);
			lab_gfp_t g;
			switch ((r >> 12) % 10) {
			case 0:
			case 1:
			case 2:
			case 3:
				g = LAB_GFP_NOWAIT;
				break;
			case 4:
			case 5:
				g = LAB_GFP_ATOMIC; /* may take the reserve */
				break;
			case 6:
				g = n < 4 ? LAB_GFP_KERNEL : LAB_GFP_NOWAIT;
				break;
			case 7:
				g = LAB_GFP_ATOMIC | LAB_GFP_ZERO;
				break;
			case 8:
				g = LAB_GFP_NOWAIT | LAB_GFP_ZERO;
				break;
			default:
				g = 0;
			}
			if ((r >> 16) & 1)
				g |= LAB_GFP_EXCLUSIVE;
			atomic_store(&me->pend_order, o);
			atomic_store(&me->pend_idx, -1);
			atomic_store(&me->pend, PEND_ALLOC);
			long idx = lab_alloc_index(m, g, o);
			atomic_store_explicit(&me->hist[op % 32],
					      (1ull << 56) | ((uint64_t)o << 48) |
						      ((uint64_t)g << 32) | (uint32_t)idx,
					      memory_order_relaxed);
			if (idx >= 0) {
				/* in flight until the cookies are written */
				atomic_store(&me->pend_idx, idx);
				atomic_store(&c->held[idx], (uint8_t)(o + 1));
				if ((g & LAB_GFP_ZERO) && !zeroed(m, idx, o))
					child_fail(&c->err, "block %ld order %u not zeroed", idx,
						   o);
				mine[n] = (struct blk){ idx, o, ++seq };
				cookie_put(m, idx, o, pid, seq);
				atomic_store(&me->pend, PEND_NONE);
				n++;
			} else {
				atomic_store(&me->pend, PEND_NONE);
				if (idx != -ENOMEM)
					child_fail(&c->err, "alloc order %u gfp %#x = %ld", o, g,
						   idx);
			}
			continue;
		}
		int k = (int)((r >> 8) % (uint64_t)n);
		struct blk b = mine[k];
		long bad = cookie_bad(m, b.idx, b.order, pid, b.seq);
		if (bad >= 0)
			child_fail(&c->err, "thread %d: cookie of room %ld (block %ld) overwritten",
				   a->t, bad, b.idx);
		int to = (int)((r >> 20) % K_THREADS);
		if ((r >> 24) % 100 < 15 && to != a->t && atomic_load(&c->thr[to].tid) &&
		    !atomic_load(&c->thr[to].box[a->t])) {
			int rc = lab_index_give(m, (size_t)b.idx, atomic_load(&c->thr[to].tid));
			atomic_store_explicit(&me->hist[op % 32],
					      (3ull << 56) | ((uint64_t)b.order << 48) |
						      ((uint64_t)to << 32) | (uint32_t)b.idx,
					      memory_order_relaxed);
			if (rc)
				child_fail(&c->err, "give of block %ld = %d", b.idx, rc);
			atomic_store(&c->thr[to].box_order[a->t], b.order);
			atomic_store(&c->thr[to].box_seq[a->t], b.seq);
			atomic_store(&c->thr[to].box[a->t], b.idx + 1);
		} else {
			atomic_store(&me->pend_order, b.order);
			atomic_store(&me->pend_idx, b.idx);
			atomic_store(&me->pend, PEND_FREE);
			atomic_store(&c->held[b.idx], 0);
			int rc = lab_free_index(m, (size_t)b.idx, b.order);
			atomic_store_explicit(&me->hist[op % 32],
					      (2ull << 56) | ((uint64_t)b.order << 48) |
						      ((uint64_t)(rc & 0xff) << 32) |
						      (uint32_t)b.idx,
					      memory_order_relaxed);
			atomic_store(&me->pend, PEND_NONE);
			if (rc)
				child_fail(&c->err, "free of block %ld order %u = %d", b.idx,
					   b.order, rc);
		}
		mine[k] = mine[--n];
	}
	return NULL;
}

enum k_kind {
	K_MEMFD_KEPT,
	K_FILE,
	K_MEMFD_REATTACH,
	K_FILE2,
	K_KINDS
};
static const char *const k_kind_name[] = { "memfd", "file", "memfd-reattach", "file" };

static void k_child_main(struct k_ctl *c, enum k_kind kind, int fd, const char *path, uint64_t seed)
{
	struct labyrinth *m = NULL;
	int rc = kind == K_FILE || kind == K_FILE2 ? lab_file_open(path, 0, &m) :
						     lab_attach_fd(fd, &m);
	if (rc)
		child_fail(&c->err, "attach: %d (%s)", rc, lab_strerror(rc));
	static struct k_child a[K_THREADS];
	pthread_t th[K_THREADS];
	for (int t = 0; t < K_THREADS; t++) {
		a[t] = (struct k_child){ m, c, t, seed ^ (0x1000193ull * (uint64_t)(t + 1)) };
		if (pthread_create(&th[t], NULL, k_thread, &a[t]))
			child_fail(&c->err, "pthread_create");
	}
	for (;;)
		pause();
}

struct k_figs {
	unsigned long rounds, early, keep, reaped_first, ops, inflight_rounds;
	size_t inflight_max, reclaimed, kept;
};

/* Whether the block at i of this order is one a thread was freeing. Its
 * order must match: the threads of a killed process do not all stop at once,
 * so another thread may have allocated a new block at i after the freeing
 * thread died between its free and the end of its record. */
static bool k_freeing(const struct k_ctl *c, uint32_t i, unsigned order)
{
	for (int t = 0; t < K_THREADS; t++)
		if (atomic_load(&c->thr[t].pend) == PEND_FREE &&
		    atomic_load(&c->thr[t].pend_idx) == (long)i &&
		    atomic_load(&c->thr[t].pend_order) == order)
			return true;
	return false;
}

/* What the dead child held: lo rooms surely, up to hi with its in-flight
 * operations. */
static void k_bounds(const struct k_ctl *c, size_t *lo, size_t *hi)
{
	size_t l = 0, extra = 0;
	for (uint32_t i = 0; i < K_PAGES; i++) {
		unsigned h = atomic_load(&c->held[i]);
		if (!h)
			continue;
		if (!k_freeing(c, i, h - 1))
			l += (size_t)1 << (h - 1);
	}
	for (int t = 0; t < K_THREADS; t++)
		if (atomic_load(&c->thr[t].pend) != PEND_NONE)
			extra += (size_t)1 << atomic_load(&c->thr[t].pend_order);
	*lo = l;
	*hi = l + extra;
}

/* LAB_RECOVER_KEEP: the orphans are exactly the child's blocks, up to its
 * operations in flight; then adopt and free each. */
static void k_check_kept(struct labyrinth *m, const struct k_ctl *c, const struct lab_recovery *r,
			 pid_t child, const char *when)
{
	size_t idx[K_PAGES];
	long no = lab_orphans(m, idx, K_PAGES);
	if (no < 0 || (size_t)no != r->kept_blocks) {
		fail("%s: lab_orphans = %ld, recovery kept %zu blocks", when, no, r->kept_blocks);
		return;
	}
	bool is_kept[K_PAGES] = { 0 };
	bool pend_used[K_THREADS] = { 0 };
	size_t rooms = 0;
	for (long k = 0; k < no; k++) {
		struct lab_room info;
		if (idx[k] >= K_PAGES || lab_room_info(m, idx[k], &info) ||
		    info.state != LAB_ROOM_ALLOCATED || info.block != idx[k]) {
			fail("%s: orphan %zu is not an allocated block", when, idx[k]);
			continue;
		}
		is_kept[idx[k]] = true;
		rooms += (size_t)1 << info.order;
		unsigned h = atomic_load(&c->held[idx[k]]);
		if (h == info.order + 1) {
			/* the child's own block: its cookies are there */
			const struct cookie *ck = lab_index_page(m, idx[k]);
			if (ck->magic != COOKIE_MAGIC || ck->pid != (uint32_t)child ||
			    ck->room != idx[k]) {
				/* written after the held mark: only the block of
				 * an alloc in flight may lack it */
				bool inflight = false;
				for (int t = 0; t < K_THREADS; t++)
					inflight |=
						atomic_load(&c->thr[t].pend) == PEND_ALLOC &&
						atomic_load(&c->thr[t].pend_idx) == (long)idx[k];
				if (!inflight)
					fail("%s: kept block %zu has no cookie of the child", when,
					     idx[k]);
			}
			continue;
		}
		/* not marked held: the block of an operation in flight, the one
		 * it names (a free's, an allocation's once returned), else an
		 * allocation in flight of its order that has not returned */
		int t;
		for (t = 0; t < K_THREADS; t++) {
			int p = atomic_load(&c->thr[t].pend);
			if (!pend_used[t] && p != PEND_NONE &&
			    atomic_load(&c->thr[t].pend_order) == info.order &&
			    atomic_load(&c->thr[t].pend_idx) == (long)idx[k])
				break;
		}
		for (int u = 0; t == K_THREADS && u < K_THREADS; u++)
			if (!pend_used[u] && atomic_load(&c->thr[u].pend) == PEND_ALLOC &&
			    atomic_load(&c->thr[u].pend_order) == info.order &&
			    atomic_load(&c->thr[u].pend_idx) == -1)
				t = u;
		if (t == K_THREADS) {
			const struct cookie *ck = lab_index_page(m, idx[k]);
			int who = -1;
			for (int u = 0; u < K_THREADS; u++)
				if (atomic_load(&c->thr[u].tid) == info.owner)
					who = u;
			fail("%s: kept block %zu order %u was not the child's (held mark %u; owner "
			     "%u = thread %d, %s; its cookie: pid %u, room %llu, thread %llu, "
			     "allocation %llu)",
			     when, idx[k], info.order, h, info.owner, who,
			     info.exclusive ? "exclusive" : "shared", ck->pid,
			     (unsigned long long)ck->room, (unsigned long long)(ck->seq >> 48),
			     (unsigned long long)(ck->seq & 0xffffffffffffull));
			for (int u = 0; u < K_THREADS; u++) {
				uint64_t ops = atomic_load(&c->thr[u].ops);
				fprintf(stderr,
					"xproc:   thread %d: in flight %d order %u block %ld; last ops:",
					u, atomic_load(&c->thr[u].pend),
					atomic_load(&c->thr[u].pend_order),
					atomic_load(&c->thr[u].pend_idx));
				for (uint64_t q = ops > 8 ? ops - 8 : 0; q <= ops; q++) {
					uint64_t hh = atomic_load(&c->thr[u].hist[q % 32]);
					fprintf(stderr, " %s/o%u/%#x/%d",
						(const char *[]){ "-", "alloc", "free",
								  "give" }[hh >> 56],
						(unsigned)(hh >> 48) & 0xff,
						(unsigned)(hh >> 32) & 0xffff, (int)(uint32_t)hh);
				}
				fprintf(stderr, "\n");
			}
		} else {
			pend_used[t] = true;
		}
	}
	if (rooms != r->kept)
		fail("%s: orphans cover %zu rooms, recovery kept %zu", when, rooms, r->kept);
	for (uint32_t i = 0; i < K_PAGES; i++) {
		unsigned h = atomic_load(&c->held[i]);
		if (!h || is_kept[i])
			continue;
		if (!k_freeing(c, i, h - 1))
			fail("%s: the child held block %u (order %u) but it was not kept", when, i,
			     h - 1);
	}
	/* adopt and free every orphan: everything comes back */
	for (long k = 0; k < no; k++) {
		struct lab_room info;
		if (lab_room_info(m, idx[k], &info))
			continue;
		int rc = lab_index_adopt(m, idx[k]);
		if (rc) {
			fail("%s: lab_index_adopt(%zu) = %d", when, idx[k], rc);
			continue;
		}
		if (lab_index_owner(m, idx[k]) != lab_self())
			fail("%s: adopted block %zu is not ours", when, idx[k]);
		rc = lab_free_index(m, idx[k], info.order);
		if (rc)
			fail("%s: free of adopted block %zu = %d", when, idx[k], rc);
	}
	long left = lab_orphans(m, NULL, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	if (left != 0 || st.free != st.pages)
		fail("%s: after adopting and freeing the orphans: %ld orphans, %zu of %zu free",
		     when, left, st.free, st.pages);
}

static void k_round(unsigned long round, uint64_t seed, struct k_ctl *c, struct k_figs *f)
{
	uint64_t rs = seed;
	enum k_kind kind = (enum k_kind)(round % K_KINDS);
	bool file = kind == K_FILE || kind == K_FILE2;
	bool keep = mix(&rs) % 3 == 0;
	bool reap_first = kind == K_MEMFD_KEPT && !keep && mix(&rs) % 2;
	bool early = mix(&rs) % 10 == 0;
	uint64_t delay = early ? mix(&rs) % 1500 :
				 (mix(&rs) % 8 == 0 ? 3000 + mix(&rs) % 20000 : mix(&rs) % 3000);
	char when[160];
	snprintf(when, sizeof when, "kill round %lu (%s%s%s, seed %#" PRIx64 ")", round,
		 k_kind_name[kind], keep ? ", keep" : "", reap_first ? ", reap first" : "", seed);

	struct lab_config cfg = { .pages = K_PAGES, .reserve = K_RESERVE };
	struct labyrinth *m = NULL;
	int fd = -1, rc;
	char path[320] = "";
	if (file) {
		snprintf(path, sizeof path, "%s/maze-%lu", tmpdir, round);
		rc = lab_file_create(path, &cfg, &m);
		if (rc)
			die("%s: lab_file_create: %d", when, rc);
		lab_detach(m);
		m = NULL;
	} else {
		rc = lab_create_fd(&cfg, &fd, &m);
		if (rc)
			die("%s: lab_create_fd: %d", when, rc);
		if (kind == K_MEMFD_REATTACH) {
			lab_detach(m);
			m = NULL;
		}
	}
	memset(c, 0, sizeof *c);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		k_child_main(c, kind, fd, path, seed);
	if (!early && !wait_for(&c->ready, K_THREADS, 10000)) {
		fail("%s: the child's threads did not start (%s)", when,
		     atomic_load(&c->err.set) ? c->err.msg : "no error reported");
	}
	sleep_us(delay);
	bool ready = atomic_load(&c->ready) == K_THREADS;
	kill(pid, SIGKILL);
	int st = reap_child(pid, 10000);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
		fail("%s: the child ended by itself (status %#x): %s", when, st,
		     atomic_load(&c->err.set) ? c->err.msg : "no error reported");
		if (m)
			lab_detach(m);
		if (fd >= 0)
			close(fd);
		if (*path)
			unlink(path);
		return;
	}
	size_t lo, hi;
	k_bounds(c, &lo, &hi);
	unsigned inflight_ops = 0;
	for (int t = 0; t < K_THREADS; t++) {
		f->ops += atomic_load(&c->thr[t].ops);
		inflight_ops += atomic_load(&c->thr[t].pend) != PEND_NONE;
	}
	/* recovery */
	unsigned flags = keep ? LAB_RECOVER_KEEP : LAB_RECOVER;
	struct lab_recovery r = { 0 };
	long reaped = -1;
	if (file) {
		if (ready) {
			rc = lab_file_open(path, 0, &m);
			if (rc != -EUCLEAN) {
				fail("%s: opening the file the dead child had open = %d, want -EUCLEAN",
				     when, rc);
				if (!rc)
					lab_detach(m);
			}
			if (round % 8 == 1) { /* inspection of the crashed file */
				rc = lab_file_open(path, LAB_READONLY, &m);
				if (rc)
					fail("%s: LAB_READONLY open = %d", when, rc);
				else
					lab_detach(m);
			}
		}
		rc = lab_file_open(path, flags, &m);
		if (rc) {
			fail("%s: lab_file_open(LAB_RECOVER%s) = %d", when, keep ? "_KEEP" : "",
			     rc);
			unlink(path);
			return;
		}
		lab_recovery_info(m, &r);
	} else {
		if (!m) {
			rc = lab_attach_fd(fd, &m);
			if (rc) {
				fail("%s: re-attach = %d", when, rc);
				close(fd);
				return;
			}
		}
		if (reap_first) {
			reaped = lab_reap(m);
			if (reaped < 0 || (size_t)reaped < lo || (size_t)reaped > hi)
				fail("%s: lab_reap = %ld, the child held %zu..%zu rooms", when,
				     reaped, lo, hi);
		}
		rc = lab_recover(m, flags, &r);
		if (rc) {
			fail("%s: lab_recover = %d", when, rc);
			lab_detach(m);
			close(fd);
			return;
		}
	}
	/* the checks */
	valid(m, when);
	size_t alloc_rooms = 0;
	rooms_agree(m, when, &alloc_rooms);
	size_t got = reap_first ? (size_t)reaped : keep ? r.kept : r.reclaimed;
	if (reap_first && (r.reclaimed || r.kept))
		fail("%s: recovery after lab_reap reclaimed %zu and kept %zu rooms", when,
		     r.reclaimed, r.kept);
	if (got < lo || got > hi) {
		fail("%s: %zu rooms %s, the child held %zu..%zu", when, got,
		     reap_first ? "reaped" :
		     keep	? "kept" :
				  "reclaimed",
		     lo, hi);
		for (int t = 0; t < K_THREADS; t++)
			fprintf(stderr,
				"xproc:   thread %d (tid %u): operation in flight %d, order %u, block %ld\n",
				t, atomic_load(&c->thr[t].tid), atomic_load(&c->thr[t].pend),
				atomic_load(&c->thr[t].pend_order),
				atomic_load(&c->thr[t].pend_idx));
	}
	size_t bound = (size_t)inflight_ops * K_BATCH; /* K_BATCH >= 2^K_MAXO */
	if (r.inflight > bound)
		fail("%s: %zu rooms in flight, bound %zu (%u operations in flight)", when,
		     r.inflight, bound, inflight_ops);
	if (alloc_rooms != (keep ? r.kept : 0))
		fail("%s: %zu rooms allocated after recovery, %zu kept", when, alloc_rooms,
		     keep ? r.kept : 0);
	if (keep)
		k_check_kept(m, c, &r, pid, when);
	struct lab_stats s;
	lab_stats(m, &s);
	if (s.free != s.pages)
		fail("%s: %zu of %zu rooms free after recovery", when, s.free, s.pages);
	works(m, when);
	f->rounds++;
	f->early += early;
	f->keep += keep;
	f->reaped_first += reap_first;
	f->inflight_rounds += r.inflight > 0;
	if (r.inflight > f->inflight_max)
		f->inflight_max = r.inflight;
	f->reclaimed += reap_first ? (size_t)reaped : r.reclaimed;
	f->kept += r.kept;
	lab_detach(m);
	if (fd >= 0)
		close(fd);
	if (file) {
		/* closed cleanly now: a plain open works */
		rc = lab_file_open(path, 0, &m);
		if (rc)
			fail("%s: open after a clean close = %d", when, rc);
		else
			lab_detach(m);
		unlink(path);
	}
}

static int cmd_kill(unsigned long rounds, uint64_t seed)
{
	printf("xproc kill: %lu rounds, seed %#" PRIx64 " (replay: xproc kill %lu %#" PRIx64 ")\n",
	       rounds, seed, rounds, seed);
	make_tmpdir();
	struct k_ctl *c = shared_map(sizeof *c);
	struct k_figs f = { 0 };
	uint64_t t0 = now_ns(), rs = seed;
	for (unsigned long i = 0; i < rounds; i++) {
		uint64_t s = mix(&rs);
		int before = failures;
		k_round(i, s, c, &f);
		if (failures > before && failures > 20)
			break;
	}
	rmdir(tmpdir);
	printf("xproc kill: %lu rounds (%lu killed before the threads ran, %lu keep, %lu reap "
	       "first), %lu operations by the children, %zu rooms reclaimed, %zu kept; in-flight "
	       "rooms in %lu rounds, at most %zu; %.1f s\n",
	       f.rounds, f.early, f.keep, f.reaped_first, f.ops, f.reclaimed, f.kept,
	       f.inflight_rounds, f.inflight_max, (double)(now_ns() - t0) / 1e9);
	return failures ? 1 : 0;
}

/* ---- procs: processes on one maze, one killed ---------------------------------- */

#define P_PAGES 2048u
#define P_MAXPROC 4
#define P_THREADS 2
#define P_CAP 64

struct p_thr {
	_Atomic int pend;
	_Atomic uint32_t pend_order;
	_Atomic long pend_idx; /* the block once known, else -1 */
	_Atomic uint64_t ops;
};

struct p_ctl {
	struct child_err err;
	/* every room of a held block: the holder's code (proc * P_THREADS +
	 * thread + 1); claimed after the alloc returns, released before the
	 * free. Two holders at once is a room handed out twice. */
	_Atomic uint32_t claim[P_PAGES];
	struct p_thr thr[P_MAXPROC][P_THREADS];
	_Atomic int ready;
	_Atomic int dead;	  /* proc + 1 of the killed one */
	_Atomic int reaper;	  /* proc + 1 of the one that reaps */
	_Atomic int reap_started; /* the dead's stale claims may be taken over */
	_Atomic int reap_done;
	_Atomic long reaped, reap_lo, reap_hi;
	_Atomic int stop;
	_Atomic uint64_t takeovers; /* stale claims of the dead taken over */
};

struct p_arg {
	struct labyrinth *m;
	struct p_ctl *c;
	int proc, t;
	uint64_t seed;
};

static int p_code_proc(uint32_t code)
{
	return (int)((code - 1) / P_THREADS);
}

/* The reaper: what the dead held, then lab_reap. */
static void p_reap(struct labyrinth *m, struct p_ctl *c)
{
	int d = atomic_load(&c->dead) - 1;
	long lo = 0, hi = 0;
	/* rooms of a block in flight: the pending thread's code (its claims
	 * there do not count surely); another thread of the dead may have
	 * claimed them again after that one died (they do not stop at once) */
	uint32_t in_pend[P_PAGES] = { 0 };
	for (int t = 0; t < P_THREADS; t++) {
		struct p_thr *pt = &c->thr[d][t];
		if (atomic_load(&pt->pend) == PEND_NONE)
			continue;
		unsigned o = atomic_load(&pt->pend_order);
		long i = atomic_load(&pt->pend_idx);
		hi += 1l << o;
		for (long j = i; i >= 0 && j < i + (1l << o); j++)
			in_pend[j] = (uint32_t)(d * P_THREADS + t + 1);
	}
	for (uint32_t i = 0; i < P_PAGES; i++) {
		uint32_t code = atomic_load(&c->claim[i]);
		if (code && p_code_proc(code) == d && code != in_pend[i])
			lo++;
	}
	hi += lo;
	atomic_store(&c->reap_lo, lo);
	atomic_store(&c->reap_hi, hi);
	atomic_store(&c->reap_started, 1);
	atomic_store(&c->reaped, lab_reap(m));
	atomic_store(&c->reap_done, 1);
}

static void *p_thread(void *arg)
{
	struct p_arg *a = arg;
	struct p_ctl *c = a->c;
	struct p_thr *me = &c->thr[a->proc][a->t];
	struct labyrinth *m = a->m;
	uint32_t pid = (uint32_t)getpid(), code = (uint32_t)(a->proc * P_THREADS + a->t + 1);
	uint64_t rs = a->seed, seq = 0;
	struct blk mine[P_CAP];
	int n = 0;
	for (uint64_t op = 0;; op++) {
		if (op == 1)
			atomic_fetch_add(&c->ready, 1);
		atomic_store_explicit(&me->ops, op, memory_order_relaxed);
		bool stop = atomic_load(&c->stop);
		if (stop && n == 0)
			break;
		if (a->t == 0 && atomic_load(&c->reaper) == a->proc + 1 &&
		    !atomic_load(&c->reap_started))
			p_reap(m, c);
		uint64_t r = mix(&rs);
		if (!stop && (n == 0 || (n < P_CAP && r % 100 < 52))) {
			unsigned o = (r >> 8) % 2 ? 0 : 1 + (unsigned)((r >> 9) % 3);
			lab_gfp_t g = (r >> 12) % 3 == 0 ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;
			if ((r >> 16) & 1)
				g |= LAB_GFP_EXCLUSIVE;
			atomic_store(&me->pend_order, o);
			atomic_store(&me->pend_idx, -1);
			atomic_store(&me->pend, PEND_ALLOC);
			long idx = lab_alloc_index(m, g, o);
			if (idx < 0) {
				atomic_store(&me->pend, PEND_NONE);
				if (idx != -ENOMEM)
					child_fail(&c->err, "alloc = %ld", idx);
				continue;
			}
			atomic_store(&me->pend_idx, idx);
			for (long j = idx; j < idx + (1l << o); j++) {
				uint32_t z = 0;
				while (!atomic_compare_exchange_strong(&c->claim[j], &z, code)) {
					/* a room of the dead, reaped: its claim is stale */
					if (atomic_load(&c->reap_started) &&
					    p_code_proc(z) == atomic_load(&c->dead) - 1) {
						atomic_fetch_add(&c->takeovers, 1);
						continue;
					}
					child_fail(
						&c->err,
						"room %ld (block %ld order %u) handed to proc %d "
						"thread %d while proc %d thread %d holds it",
						j, idx, o, a->proc, a->t, p_code_proc(z),
						(int)((z - 1) % P_THREADS));
				}
			}
			atomic_store(&me->pend, PEND_NONE);
			mine[n] = (struct blk){ idx, o, ++seq };
			cookie_put(m, idx, o, pid, seq);
			n++;
			continue;
		}
		int k = (int)((r >> 8) % (uint64_t)n);
		struct blk b = mine[k];
		long bad = cookie_bad(m, b.idx, b.order, pid, b.seq);
		if (bad >= 0)
			child_fail(&c->err,
				   "proc %d thread %d: cookie of room %ld (block %ld) "
				   "overwritten",
				   a->proc, a->t, bad, b.idx);
		atomic_store(&me->pend_order, b.order);
		atomic_store(&me->pend_idx, b.idx);
		atomic_store(&me->pend, PEND_FREE);
		for (long j = b.idx; j < b.idx + (1l << b.order); j++) {
			uint32_t want = code;
			if (!atomic_compare_exchange_strong(&c->claim[j], &want, 0))
				child_fail(&c->err, "room %ld of proc %d thread %d claimed by %u",
					   j, a->proc, a->t, want);
		}
		int rc = lab_free_index(m, (size_t)b.idx, b.order);
		atomic_store(&me->pend, PEND_NONE);
		if (rc)
			child_fail(&c->err, "free of block %ld = %d", b.idx, rc);
		mine[k] = mine[--n];
	}
	return NULL;
}

static void p_child_main(struct p_ctl *c, int proc, const char *name, int fd, uint64_t seed)
{
	struct labyrinth *m = NULL;
	int rc = name ? lab_shm_attach(name, &m) : lab_attach_fd(fd, &m);
	if (rc)
		child_fail(&c->err, "proc %d: attach = %d", proc, rc);
	static struct p_arg a[P_THREADS];
	pthread_t th[P_THREADS];
	for (int t = 0; t < P_THREADS; t++) {
		a[t] = (struct p_arg){ m, c, proc, t, seed ^ (0x9e37ull * (uint64_t)(t + 1)) };
		if (pthread_create(&th[t], NULL, p_thread, &a[t]))
			child_fail(&c->err, "pthread_create");
	}
	for (int t = 0; t < P_THREADS; t++)
		pthread_join(th[t], NULL);
	rc = lab_detach(m);
	if (rc)
		child_fail(&c->err, "proc %d: detach = %d", proc, rc);
	_exit(0);
}

struct p_figs {
	unsigned long rounds, ops, takeovers;
	long reaped;
	size_t inflight_max;
};

static void p_round(unsigned long round, uint64_t seed, struct p_ctl *c, struct p_figs *f)
{
	uint64_t rs = seed;
	bool shm = round % 2 == 0;
	int nproc = 2 + (int)(mix(&rs) % (P_MAXPROC - 1));
	int victim = (int)(mix(&rs) % (uint64_t)nproc);
	int reaper = (victim + 1 + (int)(mix(&rs) % (uint64_t)(nproc - 1))) % nproc;
	uint64_t kill_at = 10000 + mix(&rs) % 120000, run_after = 20000 + mix(&rs) % 40000;
	char when[160], name[64];
	snprintf(when, sizeof when,
		 "procs round %lu (%s, %d processes, proc %d killed, proc %d reaps, seed %#" PRIx64
		 ")",
		 round, shm ? "shm" : "memfd", nproc, victim, reaper, seed);
	snprintf(name, sizeof name, "/lab-xproc-%d-%lu", (int)getpid(), round);
	struct lab_config cfg = { .pages = P_PAGES };
	struct labyrinth *m = NULL;
	int fd = -1;
	int rc = shm ? lab_shm_create(name, &cfg, &m) : lab_create_fd(&cfg, &fd, &m);
	if (rc)
		die("%s: create = %d", when, rc);
	lab_detach(m);
	memset(c, 0, sizeof *c);
	pid_t pids[P_MAXPROC];
	for (int p = 0; p < nproc; p++) {
		fflush(NULL);
		pids[p] = fork();
		if (pids[p] < 0)
			die("fork: %s", strerror(errno));
		if (pids[p] == 0)
			p_child_main(c, p, shm ? name : NULL, fd,
				     seed + 0x51ull * (uint64_t)(p + 1));
	}
	bool ok = wait_for(&c->ready, nproc * P_THREADS, 10000);
	if (ok) {
		sleep_us(kill_at);
		kill(pids[victim], SIGKILL);
		int st = reap_child(pids[victim], 10000);
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			ok = false;
		atomic_store(&c->dead, victim + 1);
		atomic_store(&c->reaper, reaper + 1); /* now that the dead is gone */
		ok = ok && wait_for(&c->reap_done, 1, 10000);
		sleep_us(run_after);
	}
	atomic_store(&c->stop, 1);
	for (int p = 0; p < nproc; p++) {
		if (p == victim && ok)
			continue;
		int st = reap_child(pids[p], 20000);
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			ok = false;
	}
	if (!ok || atomic_load(&c->err.set)) {
		fail("%s: %s", when, atomic_load(&c->err.set) ? c->err.msg : "a process failed");
		if (shm)
			lab_shm_unlink(name);
		else
			close(fd);
		return;
	}
	long reaped = atomic_load(&c->reaped), lo = atomic_load(&c->reap_lo),
	     hi = atomic_load(&c->reap_hi);
	if (reaped < lo || reaped > hi)
		fail("%s: lab_reap = %ld, the dead held %ld..%ld rooms", when, reaped, lo, hi);
	/* everyone gone: recover and count */
	rc = shm ? lab_shm_attach(name, &m) : lab_attach_fd(fd, &m);
	if (rc) {
		fail("%s: attach after = %d", when, rc);
	} else {
		struct lab_recovery r;
		rc = lab_recover(m, LAB_RECOVER, &r);
		if (rc)
			fail("%s: lab_recover = %d", when, rc);
		valid(m, when);
		rooms_agree(m, when, NULL);
		if (r.reclaimed || r.kept)
			fail("%s: recovery after the reap reclaimed %zu rooms", when, r.reclaimed);
		if (r.inflight > P_THREADS * K_BATCH)
			fail("%s: %zu rooms in flight", when, r.inflight);
		struct lab_stats st;
		lab_stats(m, &st);
		if (st.free != st.pages)
			fail("%s: %zu of %zu rooms free at the end", when, st.free, st.pages);
		works(m, when);
		if (r.inflight > f->inflight_max)
			f->inflight_max = r.inflight;
		lab_detach(m);
	}
	for (int p = 0; p < nproc; p++)
		for (int t = 0; t < P_THREADS; t++)
			f->ops += atomic_load(&c->thr[p][t].ops);
	f->takeovers += atomic_load(&c->takeovers);
	f->reaped += reaped;
	f->rounds++;
	if (shm && lab_shm_unlink(name))
		fail("%s: lab_shm_unlink failed", when);
	if (fd >= 0)
		close(fd);
}

static int cmd_procs(unsigned long rounds, uint64_t seed)
{
	printf("xproc procs: %lu rounds, seed %#" PRIx64 " (replay: xproc procs %lu %#" PRIx64
	       ")\n",
	       rounds, seed, rounds, seed);
	struct p_ctl *c = shared_map(sizeof *c);
	struct p_figs f = { 0 };
	uint64_t t0 = now_ns(), rs = seed;
	for (unsigned long i = 0; i < rounds && failures < 20; i++)
		p_round(i, mix(&rs), c, &f);
	printf("xproc procs: %lu rounds, %lu operations, %ld rooms reaped from the killed, %lu "
	       "of them handed out again before the check ended, in flight at most %zu; %.1f s\n",
	       f.rounds, f.ops, f.reaped, f.takeovers, f.inflight_max,
	       (double)(now_ns() - t0) / 1e9);
	return failures ? 1 : 0;
}

/* ---- give: between threads of two processes ------------------------------------ */

#define G_PAGES 256u

struct g_ctl {
	struct child_err err;
	_Atomic uint32_t tid_a, tid_b; /* the worker threads */
	_Atomic uint32_t pid_a;
	_Atomic long box; /* block given A -> B (+1) */
	_Atomic uint32_t box_order, box_excl;
	_Atomic uint64_t box_seq, ack; /* ack: the sequence B is done with */
	_Atomic int back;	       /* B gave it back to A */
	_Atomic int holding;	       /* B holds the last block, A may reap */
	_Atomic int b_dead;	       /* the parent killed B */
	_Atomic long reaped;
	_Atomic int done;
	unsigned iters;
	uint64_t seed;
};

struct g_arg {
	struct labyrinth *m;
	struct g_ctl *c;
};

static bool spin_until(_Atomic uint64_t *w, uint64_t v)
{
	uint64_t end = now_ns() + 10000000000ull;
	while (atomic_load(w) != v)
		if (now_ns() > end)
			return false;
	return true;
}

static void *g_worker_a(void *arg)
{
	struct g_arg *a = arg;
	struct g_ctl *c = a->c;
	struct labyrinth *m = a->m;
	uint32_t me = my_tid(), pid = (uint32_t)getpid();
	atomic_store(&c->pid_a, pid);
	atomic_store(&c->tid_a, me);
	uint64_t rs = c->seed;
	uint64_t end = now_ns() + 10000000000ull;
	while (!atomic_load(&c->tid_b))
		if (now_ns() > end)
			child_fail(&c->err, "B never started");
	uint32_t tb = atomic_load(&c->tid_b);
	for (uint64_t i = 1; i <= c->iters + 1; i++) {
		bool last = i == c->iters + 1;
		uint64_t r = mix(&rs);
		unsigned o = last ? 2 : (unsigned)(r % 4);
		bool excl = last || (r >> 8) & 1;
		long idx = lab_alloc_index(m, LAB_GFP_NOWAIT | (excl ? LAB_GFP_EXCLUSIVE : 0), o);
		if (idx < 0)
			child_fail(&c->err, "A: alloc = %ld", idx);
		cookie_put(m, idx, o, pid, i);
		int rc = lab_index_give(m, (size_t)idx, tb);
		if (rc)
			child_fail(&c->err, "A: give of %ld to B = %d", idx, rc);
		if (lab_index_owner(m, (size_t)idx) != tb)
			child_fail(&c->err, "A: owner after give is %u, not B's %u",
				   lab_index_owner(m, (size_t)idx), tb);
		if (excl) {
			rc = lab_free_index(m, (size_t)idx, o);
			if (rc != -EPERM)
				child_fail(&c->err,
					   "A: free of a block given away = %d, not -EPERM", rc);
			rc = lab_index_give(m, (size_t)idx, me);
			if (rc != -EPERM)
				child_fail(&c->err,
					   "A: give of a block given away = %d, not -EPERM", rc);
		}
		atomic_store(&c->box_order, o);
		atomic_store(&c->box_excl, excl);
		atomic_store(&c->box, idx + 1);
		atomic_store(&c->box_seq, i);
		if (!spin_until(&c->ack, i))
			child_fail(&c->err, "A: B did not take block %" PRIu64, i);
		if (atomic_load(&c->back)) {
			/* B gave it back: ours again, B cannot free it */
			if (lab_index_owner(m, (size_t)idx) != me)
				child_fail(&c->err, "A: block %ld given back is not ours", idx);
			rc = lab_free_index(m, (size_t)idx, o);
			if (rc)
				child_fail(&c->err, "A: free of the block given back = %d", rc);
			atomic_store(&c->back, 0);
		}
	}
	/* B holds the last block and is killed: our reap gets exactly it */
	while (!atomic_load(&c->b_dead))
		if (now_ns() > end + 10000000000ull)
			child_fail(&c->err, "A: B was not killed");
	atomic_store(&c->reaped, lab_reap(m));
	return NULL;
}

static void *g_worker_b(void *arg)
{
	struct g_arg *a = arg;
	struct g_ctl *c = a->c;
	struct labyrinth *m = a->m;
	uint32_t me = my_tid();
	/* no call on the maze before the first block arrives: the give
	 * registers this thread */
	atomic_store(&c->tid_b, me);
	for (uint64_t i = 1; i <= c->iters + 1; i++) {
		if (!spin_until(&c->box_seq, i))
			child_fail(&c->err, "B: block %" PRIu64 " never came", i);
		long idx = atomic_load(&c->box) - 1;
		unsigned o = atomic_load(&c->box_order);
		bool excl = atomic_load(&c->box_excl);
		if (lab_index_owner(m, (size_t)idx) != me)
			child_fail(&c->err, "B: block %ld owned by %u, not %u", idx,
				   lab_index_owner(m, (size_t)idx), me);
		if (cookie_bad(m, idx, o, atomic_load(&c->pid_a), i) >= 0)
			child_fail(&c->err, "B: cookie of block %ld is not A's", idx);
		if (i == c->iters + 1) {
			atomic_store(&c->holding, 1);
			atomic_store(&c->ack, i);
			for (;;)
				pause();
		}
		int rc;
		if (i % 5 == 0) {
			rc = lab_index_give(m, (size_t)idx, atomic_load(&c->tid_a));
			if (rc)
				child_fail(&c->err, "B: give back = %d", rc);
			if (excl && (rc = lab_free_index(m, (size_t)idx, o)) != -EPERM)
				child_fail(&c->err, "B: free after giving back = %d", rc);
			atomic_store(&c->back, 1);
		} else if ((rc = lab_free_index(m, (size_t)idx, o)) != 0) {
			child_fail(&c->err, "B: free of block %ld = %d", idx, rc);
		}
		atomic_store(&c->ack, i);
	}
	return NULL;
}

static void g_child(struct g_ctl *c, int fd, bool is_a)
{
	struct labyrinth *m = NULL;
	int rc = lab_attach_fd(fd, &m);
	if (rc)
		child_fail(&c->err, "attach = %d", rc);
	static struct g_arg a;
	a = (struct g_arg){ m, c };
	pthread_t th;
	if (pthread_create(&th, NULL, is_a ? g_worker_a : g_worker_b, &a))
		child_fail(&c->err, "pthread_create");
	pthread_join(th, NULL);
	lab_detach(m);
	_exit(0);
}

static int cmd_give(uint64_t seed)
{
	printf("xproc give: seed %#" PRIx64 "\n", seed);
	uint64_t t0 = now_ns();
	struct g_ctl *c = shared_map(sizeof *c);
	memset(c, 0, sizeof *c);
	c->iters = 300;
	c->seed = seed;
	struct lab_config cfg = { .pages = G_PAGES };
	struct labyrinth *m = NULL;
	int fd;
	int rc = lab_create_fd(&cfg, &fd, &m);
	if (rc)
		die("lab_create_fd = %d", rc);
	lab_detach(m);
	fflush(NULL);
	pid_t a = fork();
	if (a == 0)
		g_child(c, fd, true);
	pid_t b = fork();
	if (b == 0)
		g_child(c, fd, false);
	if (a < 0 || b < 0)
		die("fork");
	if (!wait_for(&c->holding, 1, 20000))
		fail("give: B never held the last block: %s",
		     atomic_load(&c->err.set) ? c->err.msg : "no error reported");
	kill(b, SIGKILL);
	reap_child(b, 10000);
	atomic_store(&c->b_dead, 1);
	int st = reap_child(a, 20000);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail("give: A failed: %s", atomic_load(&c->err.set) ? c->err.msg : "?");
	else if (atomic_load(&c->reaped) != 4)
		fail("give: A's lab_reap after B died holding one order-2 block = %ld, want 4",
		     atomic_load(&c->reaped));
	rc = lab_attach_fd(fd, &m);
	if (rc) {
		fail("give: attach = %d", rc);
	} else {
		struct lab_recovery r;
		rc = lab_recover(m, LAB_RECOVER, &r);
		if (rc || r.reclaimed || r.inflight)
			fail("give: recover = %d, reclaimed %zu, in flight %zu (B was idle)", rc,
			     r.reclaimed, r.inflight);
		valid(m, "give");
		rooms_agree(m, "give", NULL);
		struct lab_stats s;
		lab_stats(m, &s);
		if (s.free != s.pages)
			fail("give: %zu of %zu free at the end", s.free, s.pages);
		lab_detach(m);
	}
	close(fd);
	printf("xproc give: %u blocks given A -> B (every 5th given back), then B killed "
	       "holding one, reaped %ld rooms; %.1f s\n",
	       c->iters + 1, atomic_load(&c->reaped), (double)(now_ns() - t0) / 1e9);
	return failures ? 1 : 0;
}

/* ---- kernel: a KERNEL wait woken from another process -------------------------- */

#define W_PAGES 512u

struct w_ctl {
	struct child_err err;
	_Atomic int full;    /* A holds every room */
	_Atomic int waiting; /* B is about to call */
	_Atomic int freed;   /* A freed the block */
	_Atomic int got;     /* B's call returned */
	_Atomic long idx;    /* what B got */
	_Atomic long first;  /* the first room A freed */
	_Atomic uint64_t t_free, t_got;
	_Atomic int b_done_early; /* B returned before the free */
	unsigned order;
};

static int cmd_kernel(void)
{
	printf("xproc kernel: a KERNEL alloc in B waits on a full maze, a free in A wakes it\n");
	int rounds = 0;
	uint64_t worst = 0;
	struct w_ctl *c = shared_map(sizeof *c);
	for (unsigned order = 0; order <= 3; order++) {
		memset(c, 0, sizeof *c);
		c->order = order;
		struct lab_config cfg = { .pages = W_PAGES };
		struct labyrinth *m = NULL;
		int fd;
		int rc = lab_create_fd(&cfg, &fd, &m);
		if (rc)
			die("lab_create_fd = %d", rc);
		lab_detach(m);
		fflush(NULL);
		pid_t a = fork();
		if (a == 0) {
			rc = lab_attach_fd(fd, &m);
			if (rc)
				child_fail(&c->err, "A: attach = %d", rc);
			static long held[W_PAGES];
			unsigned n = 0;
			long i;
			while ((i = lab_alloc_index(m, LAB_GFP_NOWAIT, 0)) >= 0)
				held[i] = 1, n++;
			struct lab_stats s;
			lab_stats(m, &s);
			if (n != W_PAGES || s.free != 0)
				child_fail(&c->err, "A: filled %u rooms, %zu free", n, s.free);
			atomic_store(&c->full, 1);
			uint64_t end = now_ns() + 10000000000ull;
			do {
				lab_stats(m, &s);
				if (now_ns() > end)
					child_fail(&c->err, "A: B never waited");
			} while (s.waiters == 0);
			sleep_us(20000);
			if (atomic_load(&c->got))
				atomic_store(&c->b_done_early, 1);
			/* free an aligned run of 2^order rooms, one by one */
			long first = (long)(W_PAGES / 2) & ~((1l << c->order) - 1);
			atomic_store(&c->first, first);
			atomic_store(&c->t_free, now_ns());
			for (long j = first; j < first + (1l << c->order); j++) {
				if ((rc = lab_free_index(m, (size_t)j, 0)))
					child_fail(&c->err, "A: free = %d", rc);
				held[j] = 0;
			}
			atomic_store(&c->freed, 1);
			end = now_ns() + 10000000000ull;
			while (!atomic_load(&c->got))
				if (now_ns() > end)
					child_fail(&c->err, "A: B's KERNEL alloc never returned");
			for (unsigned j = 0; j < W_PAGES; j++)
				if (held[j] && (rc = lab_free_index(m, j, 0)))
					child_fail(&c->err, "A: free = %d", rc);
			lab_detach(m);
			_exit(0);
		}
		pid_t b = fork();
		if (b == 0) {
			rc = lab_attach_fd(fd, &m);
			if (rc)
				child_fail(&c->err, "B: attach = %d", rc);
			if (!wait_for(&c->full, 1, 10000))
				child_fail(&c->err, "B: A never filled the maze");
			atomic_store(&c->waiting, 1);
			long i = lab_alloc_index(m, LAB_GFP_KERNEL, c->order);
			atomic_store(&c->t_got, now_ns());
			atomic_store(&c->idx, i);
			atomic_store(&c->got, 1);
			if (i >= 0 && (rc = lab_free_index(m, (size_t)i, c->order)))
				child_fail(&c->err, "B: free = %d", rc);
			lab_detach(m);
			_exit(0);
		}
		int sa = reap_child(a, 30000), sb = reap_child(b, 30000);
		char when[64];
		snprintf(when, sizeof when, "kernel order %u", order);
		if (!(WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) &&
		      WEXITSTATUS(sb) == 0)) {
			fail("%s: %s", when,
			     atomic_load(&c->err.set) ? c->err.msg : "a child failed");
		} else {
			long i = atomic_load(&c->idx), first = atomic_load(&c->first);
			uint64_t lat = atomic_load(&c->t_got) - atomic_load(&c->t_free);
			if (atomic_load(&c->b_done_early))
				fail("%s: B's KERNEL alloc returned on a full maze", when);
			if (i != first)
				fail("%s: B got %ld, A freed block %ld", when, i, first);
			if (atomic_load(&c->t_got) < atomic_load(&c->t_free) || lat > 3000000000ull)
				fail("%s: woken %.3f s after the free", when, (double)lat / 1e9);
			if (lat > worst)
				worst = lat;
			rounds++;
		}
		rc = lab_attach_fd(fd, &m);
		if (rc) {
			fail("%s: attach = %d", when, rc);
		} else {
			valid(m, when);
			struct lab_stats s;
			lab_stats(m, &s);
			if (s.free != s.pages)
				fail("%s: %zu of %zu free at the end", when, s.free, s.pages);
			lab_detach(m);
		}
		close(fd);
	}
	printf("xproc kernel: %d waits (orders 0..3) woken across processes, the slowest %.2f ms "
	       "after the free\n",
	       rounds, (double)worst / 1e6);
	return failures ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------ */

static uint64_t seed_of(int argc, char **argv, int at)
{
	const char *s = argc > at ? argv[at] : getenv("LAB_TEST_SEED");
	if (s && *s)
		return strtoull(s, NULL, 0);
	return now_ns() ^ ((uint64_t)getpid() << 32);
}

/* Default rounds, divided by LAB_TEST_SCALE (sanitizers, valgrind). */
static unsigned long scaled(unsigned long n)
{
	const char *s = getenv("LAB_TEST_SCALE");
	unsigned long d = s && *s ? strtoul(s, NULL, 0) : 1;
	n /= d ? d : 1;
	return n ? n : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *cmd = argc > 1 ? argv[1] : "";
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	if (!strcmp(cmd, "kill"))
		return cmd_kill(n ? n : scaled(120), seed_of(argc, argv, 3));
	if (!strcmp(cmd, "kill-round") && argc > 3) { /* replay one round, N times */
		unsigned long times = argc > 4 ? strtoul(argv[4], NULL, 0) : 1;
		make_tmpdir();
		struct k_ctl *c = shared_map(sizeof *c);
		struct k_figs f = { 0 };
		for (unsigned long i = 0; i < times && failures < 20; i++)
			k_round(n, strtoull(argv[3], NULL, 0), c, &f);
		rmdir(tmpdir);
		printf("xproc kill-round %lu: %lu times, %lu rounds passed\n", n, times, f.rounds);
		return failures ? 1 : 0;
	}
	if (!strcmp(cmd, "procs"))
		return cmd_procs(n ? n : scaled(6), seed_of(argc, argv, 3));
	if (!strcmp(cmd, "give"))
		return cmd_give(seed_of(argc, argv, 2));
	if (!strcmp(cmd, "kernel"))
		return cmd_kernel();
	if (argc == 1) { /* all of them, as ctest runs them */
		uint64_t seed = seed_of(argc, argv, 1);
		cmd_kill(scaled(120), seed);
		cmd_procs(scaled(6), seed);
		cmd_give(seed);
		cmd_kernel();
		return failures ? 1 : 0;
	}
	fprintf(stderr,
		"usage: xproc [kill [ROUNDS [SEED]] | kill-round ROUND SEED [TIMES] | procs [ROUNDS [SEED]] | give [SEED] "
		"| kernel]\n");
	return 2;
}

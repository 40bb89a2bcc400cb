/* SPDX-License-Identifier: MIT */
/* lab-recovery: how long getting a maze back after a crash takes, by size.
 *
 * Each run makes a maze of S GiB of 4 KiB rooms, has a forked child fill it
 * to --fill percent with a mix of orders (ATOMIC and ATOMIC|EXCLUSIVE, from
 * --child-threads threads), let it churn on (free a random block, allocate
 * one of the same order) and SIGKILLs it, so that the maze holds the rooms
 * of a dead process, its threads' warm caches and perhaps one operation in
 * flight. Then it times the recovery:
 *
 *   file        a file maze, index-only (LAB_NO_MEMORY): lab_file_open(path,
 *               LAB_RECOVER), the page cache warm (the child's writes)
 *   file-cold   the same after fdatasync and POSIX_FADV_DONTNEED, so the
 *               metadata is read from the disk
 *   file-rooms  a file maze with its rooms in the file (sparse; the rooms are
 *               never touched), at --rooms-gib only
 *   shm         a POSIX shared-memory maze (lab_shm_create), index-only: the
 *               parent stays attached and calls lab_recover
 *   reap        the shm maze with a second child attached and churning while
 *               the parent calls lab_reap (a live maze with one dead process);
 *               then the second child leaves and lab_recover takes the rest
 *
 * Reported: wall ms of the call (median of --runs), ms per GiB of rooms and
 * per million rooms, the library's own lab_recovery.nanoseconds, and for the
 * file cases the time of a plain open of the same file once it is clean.
 * Checked: an unrecovered open fails with -EUCLEAN; after recovery
 * lab_validate passes and every room is free (all owners are dead).
 */
#define _GNU_SOURCE
#include "../util.h"

#include <labyrinth.h>
#include <labyrinth/shared.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define MAX_SIZES 16
#define MAX_RUNS 50
#define ROOM_SHIFT 12
#define READY_TIMEOUT_S 600

enum kase {
	C_FILE,
	C_FILE_COLD,
	C_FILE_ROOMS,
	C_SHM,
	C_REAP,
	NCASES
};
static const char *const case_name[NCASES] = { "file", "file-cold", "file-rooms", "shm", "reap" };

static struct {
	const char *dir;
	double sizes[MAX_SIZES]; /* GiB of rooms */
	int nsizes;
	double rooms_gib;
	unsigned cases; /* bit per enum kase */
	int runs;
	int fill;
	int threads;
	int churn_ms;
	uint64_t seed;
	bool keep;
} opt = {
	.dir = "/tmp",
	.sizes = { 1, 4, 16, 64 },
	.nsizes = 4,
	.rooms_gib = 1,
	.cases = (1u << C_FILE) | (1u << C_FILE_ROOMS) | (1u << C_SHM) | (1u << C_REAP),
	.runs = 3,
	.fill = 50,
	.threads = 2,
	.churn_ms = 20,
	.seed = 1,
};

/* Shared with the children (MAP_SHARED). */
struct rctl {
	_Atomic int ready; /* filler threads done filling */
	_Atomic int failed;
	_Atomic int stop; /* the live child of `reap`: leave now */
	_Atomic int live; /* the live child is attached and churning */
	_Atomic size_t held[MAX_THREADS];
	_Atomic uint64_t steps; /* churn steps after the fill */
	char why[256];
};
static struct rctl *ctl;

static void child_fail(const char *fmt, long a, long b)
{
	int expect = 0;

	if (atomic_compare_exchange_strong(&ctl->failed, &expect, 1))
		snprintf(ctl->why, sizeof(ctl->why), fmt, a, b);
	_exit(3);
}

/* ---- the filler child ---------------------------------------------------------------- */

struct blk {
	long idx;
	unsigned order;
	lab_gfp_t gfp;
};

struct filler {
	struct labyrinth *m;
	int i;
	size_t share; /* rooms this thread fills to */
};

/* An order from the mix: by rooms about half order 0, a tenth orders 1-3,
 * 15% orders 4-6 and a quarter order-9 blocks. */
static unsigned pick_order(uint64_t *rng)
{
	uint64_t u = bench_rng_next(rng) >> 11; /* 53 bits */
	double x = (double)u / 9007199254740992.0;

	if (x < 0.953)
		return 0;
	if (x < 0.994)
		return 1 + (unsigned)bench_rng_below(rng, 3);
	if (x < 0.99907)
		return 4 + (unsigned)bench_rng_below(rng, 3);
	return 9;
}

static long take(struct labyrinth *m, lab_gfp_t gfp, unsigned *order)
{
	long idx = lab_alloc_index(m, gfp, *order);

	if (idx < 0 && *order) {
		*order = 0; /* no whole block of that order left: a room */
		idx = lab_alloc_index(m, gfp, 0);
	}
	return idx;
}

static void *filler_main(void *p)
{
	struct filler *f = p;
	struct labyrinth *m = f->m;
	uint64_t rng = bench_rng_seed(opt.seed, 500 + (uint64_t)f->i);
	struct blk *b = malloc((f->share ? f->share : 1) * sizeof(*b));
	size_t nb = 0, held = 0, k;

	if (!b)
		child_fail("thread %ld: out of memory (%ld)", f->i, 0);
	/* Fill, free a random fifth of the blocks, fill again: holes. */
	for (int pass = 0; pass < 2; pass++) {
		while (held < f->share) {
			unsigned order = pick_order(&rng);
			lab_gfp_t gfp = (bench_rng_next(&rng) & 1) ?
						LAB_GFP_ATOMIC :
						LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE;
			long idx;

			if (held + ((size_t)1 << order) > f->share)
				order = 0;
			idx = take(m, gfp, &order);
			if (idx < 0)
				child_fail("fill: allocation failed (%ld) with %ld rooms held", idx,
					   (long)held);
			b[nb++] = (struct blk){ idx, order, gfp };
			held += (size_t)1 << order;
		}
		for (k = 0; pass == 0 && k < nb / 5; k++) {
			size_t r = bench_rng_below(&rng, nb);

			if (lab_free_index(m, (size_t)b[r].idx, b[r].order))
				child_fail("fill: a free of room %ld failed (order %ld)", b[r].idx,
					   b[r].order);
			held -= (size_t)1 << b[r].order;
			b[r] = b[--nb];
		}
	}
	atomic_store(&ctl->held[f->i], held);
	atomic_fetch_add(&ctl->ready, 1);
	/* Churn until killed. */
	for (uint64_t s = 0;; s++) {
		size_t r = bench_rng_below(&rng, nb);
		unsigned order = b[r].order;
		long idx;

		if (lab_free_index(m, (size_t)b[r].idx, order))
			child_fail("churn: a free of room %ld failed (order %ld)", b[r].idx, order);
		idx = take(m, b[r].gfp, &order);
		if (idx < 0)
			child_fail("churn: allocation failed (%ld, order %ld)", idx, order);
		if (order != b[r].order) /* held shrank: keep the count exact */
			atomic_fetch_sub_explicit(&ctl->held[f->i],
						  ((size_t)1 << b[r].order) - ((size_t)1 << order),
						  memory_order_relaxed);
		b[r].idx = idx;
		b[r].order = order;
		if ((s & 1023) == 1023)
			atomic_fetch_add_explicit(&ctl->steps, 1024, memory_order_relaxed);
	}
	return NULL;
}

static void filler_child(struct labyrinth *m, size_t pages)
{
	pthread_t th[MAX_THREADS];
	struct filler f[MAX_THREADS];
	size_t target = pages * (size_t)opt.fill / 100;

	for (int i = 0; i < opt.threads; i++) {
		f[i] = (struct filler){ m, i,
					target * (size_t)(i + 1) / (size_t)opt.threads -
						target * (size_t)i / (size_t)opt.threads };
		if (pthread_create(&th[i], NULL, filler_main, &f[i]))
			child_fail("pthread_create failed (%ld, %ld)", i, 0);
	}
	for (int i = 0; i < opt.threads; i++)
		pthread_join(th[i], NULL); /* never: killed first */
	_exit(0);
}

/* The live child of `reap`: holds some rooms and churns until told. */
static void live_child(struct labyrinth *m)
{
	enum {
		HOLD = 1024
	};
	long held[HOLD];
	uint64_t rng = bench_rng_seed(opt.seed, 900);

	for (int k = 0; k < HOLD; k++)
		if ((held[k] = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 0)) < 0)
			child_fail("live: allocation failed (%ld, %ld)", held[k], k);
	atomic_store(&ctl->live, 1);
	while (!atomic_load_explicit(&ctl->stop, memory_order_relaxed)) {
		size_t r = bench_rng_below(&rng, HOLD);

		if (lab_free_index(m, (size_t)held[r], 0))
			child_fail("live: a free of room %ld failed (%ld)", held[r], 0);
		if ((held[r] = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 0)) < 0)
			child_fail("live: allocation failed (%ld, %ld)", held[r], r);
	}
	for (int k = 0; k < HOLD; k++)
		if (lab_free_index(m, (size_t)held[k], 0))
			child_fail("live: a free of room %ld failed (%ld)", held[k], 0);
	_exit(lab_detach(m) ? 4 : 0);
}

/* ---- the parent ------------------------------------------------------------------ */

static int reap_child(pid_t pid, bool killed)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (killed)
		return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait until `want` filler threads are ready (or a child failed / died). */
static int wait_ready(pid_t pid, int want, _Atomic int *flag)
{
	uint64_t until = bench_now_ns() + (uint64_t)READY_TIMEOUT_S * 1000000000u;
	int status;

	while (atomic_load(flag) < want) {
		if (atomic_load(&ctl->failed) || waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "lab-recovery: the child failed: %s\n",
				ctl->why[0] ? ctl->why : "it died");
			return -1;
		}
		if (bench_now_ns() > until) {
			fprintf(stderr, "lab-recovery: the child did not fill in %d s\n",
				READY_TIMEOUT_S);
			return -1;
		}
		sleep_ms(1);
	}
	return 0;
}

/* Fork the filler: it attaches (attach) and fills; wait, let it churn,
 * kill it. 0 or -1. held: rooms it held. */
static int fill_and_kill(int (*attach)(const char *what, struct labyrinth **m), const char *what,
			 size_t pages, size_t *held)
{
	pid_t pid;

	memset(ctl, 0, sizeof(*ctl));
	pid = fork();
	if (pid < 0) {
		perror("lab-recovery: fork");
		return -1;
	}
	if (pid == 0) {
		struct labyrinth *m;
		int err = attach(what, &m);

		if (err)
			child_fail("attaching failed (%ld: %ld)", err, 0);
		filler_child(m, pages);
	}
	if (wait_ready(pid, opt.threads, &ctl->ready)) {
		kill(pid, SIGKILL);
		reap_child(pid, true);
		return -1;
	}
	sleep_ms(opt.churn_ms);
	kill(pid, SIGKILL);
	if (reap_child(pid, true)) {
		fprintf(stderr, "lab-recovery: the child did not die of SIGKILL\n");
		return -1;
	}
	*held = 0;
	for (int i = 0; i < opt.threads; i++)
		*held += atomic_load(&ctl->held[i]);
	return 0;
}

static int attach_file(const char *path, struct labyrinth **m)
{
	return lab_file_open(path, 0, m);
}

static int attach_shm(const char *name, struct labyrinth **m)
{
	return lab_shm_attach(name, m);
}

/* After recovery: every room free, and the invariants hold. */
static int check_all_free(struct labyrinth *m, size_t pages, const char *what)
{
	struct lab_stats st;
	char why[256];

	if (lab_validate(m, why, sizeof(why))) {
		fprintf(stderr, "lab-recovery: %s: lab_validate after recovery: %s\n", what, why);
		return -1;
	}
	lab_stats(m, &st);
	if (st.free != pages) {
		fprintf(stderr, "lab-recovery: %s: %zu of %zu rooms free after recovery\n", what,
			st.free, pages);
		return -1;
	}
	return 0;
}

struct sample;
static int check_counts(enum kase c, const struct sample *s);

struct sample {
	double ms;	 /* the timed call, wall time */
	double lib_ms;	 /* lab_recovery.nanoseconds */
	double open_ms;	 /* a plain open of the clean file; -1 if none */
	double then_ms;	 /* reap: the lab_recover after it */
	double again_ms; /* file, shm: a second lab_recover at once (mapping warm, nothing to do) */
	size_t held;	 /* rooms the child held at the kill (after its fill) */
	struct lab_recovery r;
	long reaped;
};

/* What the calls report agrees with what the child held: at most one
 * operation per thread was in flight when it died (a block of up to 2^9
 * rooms, or a cache batch), and after lab_reap nothing is left to reclaim. */
static int check_counts(enum kase c, const struct sample *s)
{
	size_t got = c == C_REAP ? (size_t)s->reaped : s->r.reclaimed;
	size_t slack = (size_t)opt.threads * 512;

	if (got + s->r.inflight + slack < s->held || got > s->held + slack) {
		fprintf(stderr,
			"lab-recovery: %s: %zu rooms %s (+%zu in flight) of the %zu the child "
			"held\n",
			case_name[c], got, c == C_REAP ? "reaped" : "reclaimed", s->r.inflight,
			s->held);
		return -1;
	}
	if (c == C_REAP && s->r.reclaimed) {
		fprintf(stderr, "lab-recovery: reap: lab_recover still reclaimed %zu rooms\n",
			s->r.reclaimed);
		return -1;
	}
	return 0;
}

/* A second recovery right after the first: the walk alone, its mapping
 * faulted in and nothing to reclaim. */
static int recover_again(struct labyrinth *m, struct sample *s)
{
	struct lab_recovery r;
	uint64_t t0 = bench_now_ns();
	int err = lab_recover(m, 0, &r);

	s->again_ms = (double)(bench_now_ns() - t0) * 1e-6;
	if (err || r.reclaimed || r.inflight) {
		fprintf(stderr,
			"lab-recovery: a second lab_recover gave %d and reclaimed %zu (+%zu in "
			"flight)\n",
			err, r.reclaimed, r.inflight);
		return -1;
	}
	return 0;
}

static void drop_cache(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fdatasync(fd) || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		fprintf(stderr, "lab-recovery: dropping the page cache of %s: %s\n", path,
			strerror(errno));
	close(fd);
}

static int run_file(enum kase c, size_t pages, struct sample *s)
{
	char path[4096];
	struct lab_config cfg;
	struct labyrinth *m;
	uint64_t t0, t1;
	int err, rc = -1;

	snprintf(path, sizeof(path), "%s/lab-recovery-%d-%s.maze", opt.dir, (int)getpid(),
		 case_name[c]);
	memset(&cfg, 0, sizeof(cfg));
	cfg.pages = pages;
	cfg.page_size = (size_t)1 << ROOM_SHIFT;
	cfg.flags = c == C_FILE_ROOMS ? 0 : LAB_NO_MEMORY;
	unlink(path);
	err = lab_file_create(path, &cfg, &m);
	if (err) {
		fprintf(stderr, "lab-recovery: lab_file_create(%s): %s\n", path, lab_strerror(err));
		return -1;
	}
	if ((err = lab_detach(m))) {
		fprintf(stderr, "lab-recovery: lab_detach: %s\n", lab_strerror(err));
		goto out;
	}
	if (fill_and_kill(attach_file, path, pages, &s->held))
		goto out;
	err = lab_file_open(path, 0, &m);
	if (err != -EUCLEAN) {
		fprintf(stderr,
			"lab-recovery: opening %s after the crash without LAB_RECOVER gave %d (%s), "
			"not -EUCLEAN\n",
			path, err, lab_strerror(err));
		if (!err)
			lab_detach(m);
		goto out;
	}
	if (c == C_FILE_COLD)
		drop_cache(path);
	t0 = bench_now_ns();
	err = lab_file_open(path, LAB_RECOVER, &m);
	t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "lab-recovery: lab_file_open(%s, LAB_RECOVER): %s\n", path,
			lab_strerror(err));
		goto out;
	}
	s->ms = (double)(t1 - t0) * 1e-6;
	lab_recovery_info(m, &s->r);
	s->lib_ms = (double)s->r.nanoseconds * 1e-6;
	if (check_all_free(m, pages, case_name[c]) || check_counts(c, s) || recover_again(m, s)) {
		lab_detach(m);
		goto out;
	}
	if ((err = lab_detach(m))) {
		fprintf(stderr, "lab-recovery: lab_detach: %s\n", lab_strerror(err));
		goto out;
	}
	if (c == C_FILE_COLD)
		drop_cache(path);
	t0 = bench_now_ns();
	err = lab_file_open(path, 0, &m);
	t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "lab-recovery: reopening %s after a clean close: %s\n", path,
			lab_strerror(err));
		goto out;
	}
	s->open_ms = (double)(t1 - t0) * 1e-6;
	lab_detach(m);
	rc = 0;
out:
	if (!opt.keep)
		unlink(path);
	return rc;
}

static int run_shm(enum kase c, size_t pages, struct sample *s)
{
	char name[64];
	struct lab_config cfg;
	struct labyrinth *m;
	uint64_t t0, t1;
	pid_t live = -1;
	int err, rc = -1;

	snprintf(name, sizeof(name), "/lab-recovery-%d", (int)getpid());
	memset(&cfg, 0, sizeof(cfg));
	cfg.pages = pages;
	cfg.page_size = (size_t)1 << ROOM_SHIFT;
	cfg.flags = LAB_NO_MEMORY;
	lab_shm_unlink(name);
	err = lab_shm_create(name, &cfg, &m);
	if (err) {
		fprintf(stderr, "lab-recovery: lab_shm_create(%s): %s\n", name, lab_strerror(err));
		return -1;
	}
	if (c == C_REAP) {
		memset(ctl, 0, sizeof(*ctl));
		live = fork();
		if (live < 0) {
			perror("lab-recovery: fork");
			goto out;
		}
		if (live == 0) {
			struct labyrinth *lm;

			if ((err = lab_shm_attach(name, &lm)))
				child_fail("live: lab_shm_attach: %ld (%ld)", err, 0);
			live_child(lm);
		}
		if (wait_ready(live, 1, &ctl->live))
			goto out;
	}
	/* fill_and_kill zeroes ctl: the live child only reads stop, still 0. */
	if (fill_and_kill(attach_shm, name, pages, &s->held))
		goto out;
	if (c == C_REAP) {
		t0 = bench_now_ns();
		s->reaped = lab_reap(m);
		t1 = bench_now_ns();
		s->ms = (double)(t1 - t0) * 1e-6;
		if (s->reaped < 0) {
			fprintf(stderr, "lab-recovery: lab_reap: %s\n",
				lab_strerror((int)s->reaped));
			goto out;
		}
		atomic_store(&ctl->stop, 1);
		if (reap_child(live, false)) {
			fprintf(stderr, "lab-recovery: the live child failed: %s\n",
				ctl->why[0] ? ctl->why : "it died");
			live = -1;
			goto out;
		}
		live = -1;
	}
	t0 = bench_now_ns();
	err = lab_recover(m, 0, &s->r);
	t1 = bench_now_ns();
	if (err) {
		fprintf(stderr, "lab-recovery: lab_recover: %s\n", lab_strerror(err));
		goto out;
	}
	if (c == C_REAP)
		s->then_ms = (double)(t1 - t0) * 1e-6;
	else
		s->ms = (double)(t1 - t0) * 1e-6;
	s->lib_ms = (double)s->r.nanoseconds * 1e-6;
	if (check_all_free(m, pages, case_name[c]) || check_counts(c, s) ||
	    (c != C_REAP && recover_again(m, s)))
		goto out;
	rc = 0;
out:
	if (live > 0) {
		atomic_store(&ctl->stop, 1);
		reap_child(live, false);
	}
	lab_detach(m);
	lab_shm_unlink(name);
	return rc;
}

/* ---- options, table ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lab-recovery [--sizes GIB,...] [--rooms-gib GIB] [--cases LIST] [--runs N]\n"
		"                    [--dir DIR] [--fill PCT] [--child-threads N] [--churn-ms MS]\n"
		"                    [--seed S] [--keep]\n"
		"  Recovery time of mazes of 4 KiB rooms whose filling process was SIGKILLed.\n"
		"  --sizes L        GiB of rooms, comma-separated (default 1,4,16,64)\n"
		"  --rooms-gib G    size of the file-rooms case (default 1)\n"
		"  --cases L        of file,file-cold,file-rooms,shm,reap (default\n"
		"                   file,file-rooms,shm,reap)\n"
		"  --runs N         runs per case and size, median reported (default 3)\n"
		"  --dir DIR        where the files go (default /tmp)\n"
		"  --fill PCT       how full the child makes the maze (default 50)\n"
		"  --child-threads  filler threads in the child (default 2)\n"
		"  --churn-ms MS    how long the child churns after filling (default 20)\n"
		"  --keep           keep the files\n");
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "lab-recovery: %s, not '%s' (see --help)\n", what, val);
	return 2;
}

static int parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		char *end, buf[256], *tok, *save = NULL;
		double d;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--keep")) {
			opt.keep = true;
			continue;
		}
		if (i + 1 >= argc)
			return bad("an option with a value expected", a);
		v = argv[++i];
		d = strtod(v, &end);
		if (!strcmp(a, "--dir")) {
			opt.dir = v;
		} else if (!strcmp(a, "--sizes")) {
			snprintf(buf, sizeof(buf), "%s", v);
			opt.nsizes = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				d = strtod(tok, &end);
				if (*end || !(d > 0 && d <= 8192) || opt.nsizes == MAX_SIZES)
					return bad("--sizes wants up to 16 sizes in GiB, 0..8192",
						   v);
				opt.sizes[opt.nsizes++] = d;
			}
			if (!opt.nsizes)
				return bad("--sizes wants sizes in GiB", v);
		} else if (!strcmp(a, "--cases")) {
			snprintf(buf, sizeof(buf), "%s", v);
			opt.cases = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				int k;

				for (k = 0; k < NCASES && strcmp(tok, case_name[k]); k++)
					;
				if (k == NCASES)
					return bad(
						"--cases wants file,file-cold,file-rooms,shm,reap",
						v);
				opt.cases |= 1u << k;
			}
		} else if (*end || !(d >= 0)) {
			return bad("a number expected", v);
		} else if (!strcmp(a, "--rooms-gib")) {
			opt.rooms_gib = d;
		} else if (!strcmp(a, "--runs")) {
			if (d < 1 || d > MAX_RUNS)
				return bad("--runs wants 1..50", v);
			opt.runs = (int)d;
		} else if (!strcmp(a, "--fill")) {
			if (d < 1 || d > 99)
				return bad("--fill wants 1..99", v);
			opt.fill = (int)d;
		} else if (!strcmp(a, "--child-threads")) {
			if (d < 1 || d > MAX_THREADS)
				return bad("--child-threads wants 1..16", v);
			opt.threads = (int)d;
		} else if (!strcmp(a, "--churn-ms")) {
			opt.churn_ms = (int)d;
		} else if (!strcmp(a, "--seed")) {
			opt.seed = (uint64_t)d;
		} else {
			return bad("unknown option", a);
		}
	}
	return 0;
}

static int one_case(enum kase c, double gib)
{
	static struct sample s[MAX_RUNS];
	double ms[MAX_RUNS], lib[MAX_RUNS], op[MAX_RUNS], then[MAX_RUNS], again[MAX_RUNS], m;
	size_t pages = (size_t)(gib * (double)((size_t)1 << (30 - ROOM_SHIFT)));
	double mrooms = (double)pages / 1e6;
	const struct sample *last = &s[opt.runs - 1];

	if (pages < 1) {
		fprintf(stderr, "lab-recovery: %g GiB holds no room\n", gib);
		return -1;
	}
	for (int r = 0; r < opt.runs; r++) {
		int rc;

		memset(&s[r], 0, sizeof(s[r]));
		s[r].open_ms = -1;
		rc = (c == C_SHM || c == C_REAP) ? run_shm(c, pages, &s[r]) :
						   run_file(c, pages, &s[r]);
		if (rc) {
			printf("result case=%s gib=%g rooms=%zu run=%d status=error\n",
			       case_name[c], gib, pages, r + 1);
			return -1;
		}
		ms[r] = s[r].ms;
		lib[r] = s[r].lib_ms;
		op[r] = s[r].open_ms;
		then[r] = s[r].then_ms;
		again[r] = s[r].again_ms;
		printf("result case=%s gib=%g rooms=%zu run=%d ms=%.4g lib_ms=%.4g again_ms=%.4g "
		       "open_ms=%.4g held=%zu reaped=%ld reclaimed=%zu inflight=%zu caches=%zu "
		       "rows_fixed=%zu status=ok\n",
		       case_name[c], gib, pages, r + 1, s[r].ms, s[r].lib_ms,
		       c == C_REAP ? s[r].then_ms : s[r].again_ms, s[r].open_ms, s[r].held,
		       s[r].reaped, s[r].r.reclaimed, s[r].r.inflight, s[r].r.caches,
		       s[r].r.rows_fixed);
	}
	m = median(ms, opt.runs);
	printf("TABLE %-10s %6g %9zu %9.3f %8.3f %9.3f %8.3f %8.3f", case_name[c], gib, pages, m,
	       m / gib, m / mrooms, median(lib, opt.runs),
	       median(c == C_REAP ? then : again, opt.runs));
	if (op[0] >= 0)
		printf(" %9.3f", median(op, opt.runs));
	else
		printf(" %9s", "-");
	printf(" %9zu %9zu %6zu %6zu\n", c == C_REAP ? (size_t)last->reaped : last->r.reclaimed,
	       last->r.inflight, last->r.caches, last->r.rows_fixed);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = parse(argc, argv), failed = 0;

	if (rc)
		return rc == 1 ? 0 : rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		perror("lab-recovery: mmap");
		return 1;
	}
	printf("lab-recovery: 4 KiB rooms, a child with %d threads fills to %d%% (mixed orders, "
	       "ATOMIC and ATOMIC|EXCLUSIVE), churns %d ms, is SIGKILLed; median of %d runs; "
	       "files in %s\n",
	       opt.threads, opt.fill, opt.churn_ms, opt.runs, opt.dir);
	printf("TABLE %-10s %6s %9s %9s %8s %9s %8s %8s %9s %9s %9s %6s %6s\n", "case", "GiB",
	       "rooms", "ms", "ms/GiB", "ms/Mroom", "lib ms", "again", "open ms", "reclaimed",
	       "inflight", "caches", "rows");
	for (int c = 0; c < NCASES; c++) {
		if (!(opt.cases & (1u << c)))
			continue;
		if (c == C_FILE_ROOMS) {
			if (opt.rooms_gib > 0)
				failed |= one_case((enum kase)c, opt.rooms_gib) != 0;
			continue;
		}
		for (int k = 0; k < opt.nsizes; k++)
			failed |= one_case((enum kase)c, opt.sizes[k]) != 0;
	}
	printf("ms: the timed call, wall time (file: lab_file_open(LAB_RECOVER); shm: "
	       "lab_recover; reap: lab_reap with another process live).\n"
	       "lib ms: lab_recovery.nanoseconds of that recovery (reap: of the one after). again: a "
	       "second lab_recover at once, nothing left to do\n"
	       "(reap: the lab_recover after the live child left). open ms: lab_file_open of "
	       "the same file after a clean close.\n");
	munmap(ctl, sizeof(*ctl));
	return failed;
}

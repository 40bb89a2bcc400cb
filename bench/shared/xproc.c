/* SPDX-License-Identifier: MIT */
/* lab-xproc: two processes against two threads. The same workload (pairs
 * or churn) runs with N workers in three set-ups, interleaved run by run:
 *
 *   threads      N threads of one process on a private maze (lab_create)
 *   threads-shm  N threads of one process on a shared maze (lab_create_fd)
 *   procs        N forked processes, each attached (lab_attach_fd) to one
 *                shared maze made by the parent
 *
 * Each worker's timed loop starts at a process-shared barrier; throughput
 * is the operations of all workers over the span from the first start to
 * the last end (CLOCK_MONOTONIC, one clock for every process). Prints one
 * result line per run and set-up, then the medians and the ratio of each
 * set-up to `threads`.
 *
 * Checks, outside the timed loops: no NULL, every free returns 0, the rooms
 * the workers hold at the end are distinct across workers and processes
 * (compared by index), and after every worker has freed its rooms and left
 * the maze reports every room free and lab_validate passes.
 */
#define _GNU_SOURCE
#include "../util.h"

#include <labyrinth.h>
#include <labyrinth/shared.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_RUNS 101
#define CHUNK 1024u

enum mode {
	M_THREADS,
	M_THREADS_SHM,
	M_PROCS,
	NMODES
};
static const char *const mode_name[NMODES] = { "threads", "threads-shm", "procs" };

struct wstat {
	uint64_t t0, t1, done, nulls;
	int err;
	char why[160];
};

/* In a MAP_SHARED mapping: the workers of every process see it. */
struct ctl {
	pthread_barrier_t bar;
	struct wstat st[MAX_WORKERS];
	size_t nheld[MAX_WORKERS];
	size_t off[MAX_WORKERS]; /* each worker's slice of held[] */
	long held[];		 /* room indices held at the end (churn) */
};

static struct {
	bool churn;
	int fill;
	int workers;
	size_t pages;
	uint64_t ops;
	int runs;
	uint64_t seed;
	lab_gfp_t gfp;
	bool pin;
	unsigned modes; /* bit per enum mode */
} opt = {
	.workers = 2,
	.pages = (size_t)1 << 16,
	.ops = 2000000,
	.runs = 5,
	.seed = 1,
	.gfp = LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE,
	.modes = 7,
};

static struct ctl *ctl;
static size_t ctl_len;
static volatile uint64_t sink;

static void pin(int cpu)
{
	if (opt.pin)
		bench_pin_to(cpu, "lab-xproc");
}

static void pairs_worker(struct labyrinth *m, int i)
{
	struct wstat *s = &ctl->st[i];
	lab_gfp_t gfp = opt.gfp;
	uint64_t nulls = 0, acc = 0;
	int e = 0;

	pthread_barrier_wait(&ctl->bar);
	s->t0 = bench_now_ns();
	for (uint64_t k = 0; k < opt.ops; k++) {
		void *p = lab_alloc_page(m, gfp);

		nulls += !p;
		acc += (uintptr_t)p;
		e |= lab_free_page(m, p);
	}
	s->t1 = bench_now_ns();
	s->done = opt.ops;
	s->nulls = nulls;
	s->err = e;
	sink += acc;
	pthread_barrier_wait(&ctl->bar);
}

/* Allocate the worker's share, keep a random fill%, then steps of free a
 * random held room + allocate one. */
static void churn_worker(struct labyrinth *m, int i)
{
	struct wstat *s = &ctl->st[i];
	size_t T = (size_t)opt.workers;
	size_t n = opt.pages * (size_t)(i + 1) / T - opt.pages * (size_t)i / T;
	size_t keep = n * (size_t)opt.fill / 100, j;
	uint64_t rng = bench_rng_seed(opt.seed, 100 + (uint64_t)i), nulls = 0;
	lab_gfp_t gfp = opt.gfp;
	void **held = malloc((n ? n : 1) * sizeof(*held));
	int e = 0;

	if (!held)
		snprintf(s->why, sizeof(s->why), "out of memory");
	for (j = 0; held && j < n; j++)
		if (!(held[j] = lab_alloc_page(m, gfp))) {
			snprintf(s->why, sizeof(s->why), "pre-fill: allocation %zu of %zu was NULL",
				 j, n);
			break;
		}
	if (!s->why[0]) {
		bench_shuffle(held, n, &rng);
		for (j = keep; j < n; j++)
			e |= lab_free_page(m, held[j]);
		if (e)
			snprintf(s->why, sizeof(s->why), "pre-fill: a free failed (%d)", e);
	}
	pthread_barrier_wait(&ctl->bar);
	s->t0 = bench_now_ns();
	for (uint64_t k = 0; !s->why[0] && keep && k < opt.ops; k++) {
		size_t r = bench_rng_below(&rng, keep);

		e |= lab_free_page(m, held[r]);
		held[r] = lab_alloc_page(m, gfp);
		nulls += !held[r];
	}
	s->t1 = bench_now_ns();
	s->done = s->why[0] ? 0 : opt.ops;
	s->nulls = nulls;
	s->err = e;
	/* Record what is held (as indices: each process maps the maze at its
	 * own address), wait until every worker has, then free it all. */
	for (j = 0; held && !s->why[0] && j < keep; j++)
		ctl->held[ctl->off[i] + j] = held[j] ? lab_page_index(m, held[j]) : -1;
	ctl->nheld[i] = s->why[0] ? 0 : keep;
	pthread_barrier_wait(&ctl->bar);
	for (j = 0; held && !s->why[0] && j < keep; j++)
		if (held[j] && lab_free_page(m, held[j]))
			s->err |= 1;
	free(held);
}

static void work(struct labyrinth *m, int i)
{
	pin(i);
	if (opt.churn)
		churn_worker(m, i);
	else
		pairs_worker(m, i);
}

struct targ {
	struct labyrinth *m;
	int i;
};

static void *thread_main(void *p)
{
	struct targ *t = p;

	work(t->m, t->i);
	return NULL;
}

static int run_threads(struct labyrinth *m)
{
	pthread_t th[MAX_WORKERS];
	struct targ ta[MAX_WORKERS];
	int i, err;

	for (i = 1; i < opt.workers; i++) {
		ta[i] = (struct targ){ m, i };
		err = pthread_create(&th[i], NULL, thread_main, &ta[i]);
		if (err) {
			fprintf(stderr, "lab-xproc: pthread_create: %s\n", strerror(err));
			exit(1); /* the others wait at the barrier for ever */
		}
	}
	ta[0] = (struct targ){ m, 0 };
	thread_main(&ta[0]);
	for (i = 1; i < opt.workers; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static int run_procs(int fd)
{
	pid_t pid[MAX_WORKERS];
	int i, bad = 0, status;

	for (i = 0; i < opt.workers; i++) {
		pid[i] = fork();
		if (pid[i] < 0) {
			perror("lab-xproc: fork");
			exit(1); /* the others wait at the barrier for ever */
		}
		if (pid[i] == 0) {
			struct labyrinth *m;
			int err = lab_attach_fd(fd, &m);

			if (err) {
				fprintf(stderr, "lab-xproc: worker %d: lab_attach_fd: %s\n", i,
					lab_strerror(err));
				_exit(3);
			}
			work(m, i);
			err = lab_detach(m);
			_exit(err ? 4 : 0);
		}
	}
	for (i = 0; i < opt.workers; i++) {
		while (waitpid(pid[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "lab-xproc: worker process %d %s %d\n", i,
				WIFEXITED(status) ? "exited" : "died of signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* The checks after a run; 0 or -1 after a message. */
static int check(struct labyrinth *m, const char *mode)
{
	struct lab_stats st;
	char why[256];
	size_t all = 0;

	for (int i = 0; i < opt.workers; i++) {
		struct wstat *s = &ctl->st[i];

		if (s->why[0] || s->nulls || s->err || s->done != opt.ops) {
			fprintf(stderr,
				"lab-xproc: %s worker %d: %s (NULLs %llu, free results %d, "
				"%llu of %llu operations)\n",
				mode, i, s->why[0] ? s->why : "failed",
				(unsigned long long)s->nulls, s->err, (unsigned long long)s->done,
				(unsigned long long)opt.ops);
			return -1;
		}
	}
	if (opt.churn) {
		long *cat;
		size_t o = 0;

		for (int i = 0; i < opt.workers; i++)
			all += ctl->nheld[i];
		cat = malloc((all ? all : 1) * sizeof(*cat));
		if (!cat)
			return -1;
		for (int i = 0; i < opt.workers; i++)
			for (size_t j = 0; j < ctl->nheld[i]; j++)
				cat[o++] = ctl->held[ctl->off[i] + j];
		qsort(cat, all, sizeof(*cat), cmp_long);
		for (size_t j = 0; j < all; j++)
			if (cat[j] < 0 || (j && cat[j] == cat[j - 1])) {
				fprintf(stderr, "lab-xproc: %s: room %ld held twice (or invalid)\n",
					mode, cat[j]);
				free(cat);
				return -1;
			}
		free(cat);
	}
	lab_drain(m);
	lab_stats(m, &st);
	if (st.free != opt.pages) {
		fprintf(stderr, "lab-xproc: %s: %zu of %zu rooms free after the workers left\n",
			mode, st.free, opt.pages);
		return -1;
	}
	if (lab_validate(m, why, sizeof(why))) {
		fprintf(stderr, "lab-xproc: %s: lab_validate: %s\n", mode, why);
		return -1;
	}
	return 0;
}

/* One run of one set-up: Mops/s of all workers, or a negative value. */
static double run_mode(enum mode md)
{
	struct lab_config cfg;
	struct labyrinth *m = NULL;
	pthread_barrierattr_t ba;
	uint64_t lo = UINT64_MAX, hi = 0, total = 0;
	int fd = -1, err, rc;

	memset(ctl, 0, ctl_len);
	for (int i = 0; i < opt.workers; i++)
		ctl->off[i] = opt.pages * (size_t)i / (size_t)opt.workers;
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&ctl->bar, &ba, (unsigned)opt.workers);
	pthread_barrierattr_destroy(&ba);
	memset(&cfg, 0, sizeof(cfg));
	cfg.pages = opt.pages;
	cfg.page_size = 4096;
	err = md == M_THREADS ? lab_create(&m, &cfg) : lab_create_fd(&cfg, &fd, &m);
	if (err) {
		fprintf(stderr, "lab-xproc: %s: %s\n",
			md == M_THREADS ? "lab_create" : "lab_create_fd", lab_strerror(err));
		return -1;
	}
	rc = md == M_PROCS ? run_procs(fd) : run_threads(m);
	if (fd >= 0)
		close(fd);
	pthread_barrier_destroy(&ctl->bar);
	if (!rc)
		rc = check(m, mode_name[md]);
	lab_destroy(m); /* lab_detach for the shared ones */
	if (rc)
		return -1;
	for (int i = 0; i < opt.workers; i++) {
		lo = ctl->st[i].t0 < lo ? ctl->st[i].t0 : lo;
		hi = ctl->st[i].t1 > hi ? ctl->st[i].t1 : hi;
		total += ctl->st[i].done;
	}
	return (double)total / (double)(hi > lo ? hi - lo : 1) * 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lab-xproc [--workload pairs|churnNN] [--workers N] [--pages N] [--ops N]\n"
		"                 [--runs N] [--seed S] [--gfp excl|shared] [--modes LIST] [--pin]\n"
		"  N workers as threads of one process on a private maze (threads), as threads\n"
		"  on a shared maze (threads-shm), and as N processes attached to one shared\n"
		"  maze (procs); one warm-up round, then --runs rounds, set-ups interleaved.\n"
		"  --workload W   pairs (alloc+free of one room) or churnNN (free a random held\n"
		"                 room + allocate one at NN%% fill); default pairs\n"
		"  --workers N    threads or processes, 1..%d (default 2)\n"
		"  --pages N      rooms in the maze (default 65536)\n"
		"  --ops N        operations per worker (default 2000000)\n"
		"  --runs N       measured rounds, 1..%d (default 5)\n"
		"  --gfp G        excl: LAB_GFP_ATOMIC|LAB_GFP_EXCLUSIVE (default); shared:\n"
		"                 LAB_GFP_ATOMIC\n"
		"  --modes LIST   a comma-separated subset of threads,threads-shm,procs\n"
		"  --pin          pin worker i to the i-th CPU the process may use\n",
		MAX_WORKERS, MAX_RUNS - 1);
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "lab-xproc: %s, not '%s' (see --help)\n", what, val);
	return 2;
}

static int parse(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		char *end;
		double d;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--pin")) {
			opt.pin = true;
			continue;
		}
		if (i + 1 >= argc)
			return bad("an option with a value expected", a);
		v = argv[++i];
		d = strtod(v, &end);
		if (!strcmp(a, "--workload")) {
			if (!strcmp(v, "pairs")) {
				opt.churn = false;
			} else if (!strncmp(v, "churn", 5) && v[5]) {
				long f = strtol(v + 5, &end, 10);

				if (*end || f < 1 || f > 99)
					return bad("--workload wants pairs or churn1..churn99", v);
				opt.churn = true;
				opt.fill = (int)f;
			} else {
				return bad("--workload wants pairs or churn1..churn99", v);
			}
		} else if (!strcmp(a, "--gfp")) {
			if (!strcmp(v, "excl"))
				opt.gfp = LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE;
			else if (!strcmp(v, "shared"))
				opt.gfp = LAB_GFP_ATOMIC;
			else
				return bad("--gfp wants excl or shared", v);
		} else if (!strcmp(a, "--modes")) {
			char buf[128], *tok, *save = NULL;

			snprintf(buf, sizeof(buf), "%s", v);
			opt.modes = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				int k;

				for (k = 0; k < NMODES && strcmp(tok, mode_name[k]); k++)
					;
				if (k == NMODES)
					return bad("--modes wants threads,threads-shm,procs", v);
				opt.modes |= 1u << k;
			}
			if (!opt.modes)
				return bad("--modes wants threads,threads-shm,procs", v);
		} else if (*end || !(d >= 1) || d != floor(d)) {
			return bad("a whole number >= 1 expected", v);
		} else if (!strcmp(a, "--workers")) {
			if (d > MAX_WORKERS)
				return bad("--workers wants 1..64", v);
			opt.workers = (int)d;
		} else if (!strcmp(a, "--pages")) {
			if (d < 2 || d > 4294967296.0)
				return bad("--pages wants 2..2^32", v);
			opt.pages = (size_t)d;
		} else if (!strcmp(a, "--ops")) {
			if (d > 1e15)
				return bad("--ops wants 1..1e15", v);
			opt.ops = (uint64_t)d;
		} else if (!strcmp(a, "--runs")) {
			if (d > MAX_RUNS - 1)
				return bad("--runs wants 1..100", v);
			opt.runs = (int)d;
		} else if (!strcmp(a, "--seed")) {
			opt.seed = (uint64_t)d;
		} else {
			return bad("unknown option", a);
		}
	}
	if (opt.churn && opt.pages * (size_t)opt.fill / 100 / (size_t)opt.workers == 0)
		return bad("churn needs rooms to hold: raise --pages", "");
	return 0;
}

int main(int argc, char **argv)
{
	static double v[NMODES][MAX_RUNS];
	double med[NMODES];
	char wl[16];
	int rc = parse(argc, argv), failed = 0;

	if (rc)
		return rc == 1 ? 0 : rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ctl_len = sizeof(*ctl) + opt.pages * sizeof(long);
	ctl = mmap(NULL, ctl_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		perror("lab-xproc: mmap");
		return 1;
	}
	if (opt.churn)
		snprintf(wl, sizeof(wl), "churn%d", opt.fill);
	else
		snprintf(wl, sizeof(wl), "pairs");
	printf("lab-xproc: %s, %d workers, %zu rooms, %llu operations per worker, %s, "
	       "1 warm-up round + %d runs\n",
	       wl, opt.workers, opt.pages, (unsigned long long)opt.ops,
	       opt.gfp & LAB_GFP_EXCLUSIVE ? "ATOMIC|EXCLUSIVE" : "ATOMIC", opt.runs);
	for (int r = 0; r <= opt.runs && !failed; r++)
		for (int md = 0; md < NMODES && !failed; md++) {
			double x;

			if (!(opt.modes & (1u << md)))
				continue;
			x = run_mode((enum mode)md);
			if (x < 0) {
				failed = 1;
				printf("result workload=%s mode=%s workers=%d value=0 unit=Mops "
				       "status=error\n",
				       wl, mode_name[md], opt.workers);
				break;
			}
			if (r == 0)
				continue; /* warm-up */
			v[md][r - 1] = x;
			printf("result workload=%s mode=%s workers=%d run=%d value=%.4g unit=Mops "
			       "status=ok\n",
			       wl, mode_name[md], opt.workers, r, x);
		}
	if (failed)
		return 1;
	printf("\n%-10s %-12s %8s %10s %10s %10s  %s\n", "workload", "mode", "workers", "Mops/s",
	       "min", "max", "ratio to threads");
	for (int md = 0; md < NMODES; md++) {
		double lo, hi;

		if (!(opt.modes & (1u << md)))
			continue;
		med[md] = median(v[md], opt.runs);
		lo = v[md][0];
		hi = v[md][opt.runs - 1];
		printf("%-10s %-12s %8d %10.4g %10.4g %10.4g", wl, mode_name[md], opt.workers,
		       med[md], lo, hi);
		if ((opt.modes & 1u) && med[M_THREADS] > 0)
			printf("  %.3f", med[md] / med[M_THREADS]);
		printf("\n");
	}
	(void)sink;
	munmap(ctl, ctl_len);
	return 0;
}

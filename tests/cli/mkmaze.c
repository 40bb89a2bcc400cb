/* SPDX-License-Identifier: MIT */
/* lab_cli_mkmaze: makes shared and file-backed mazes for the CLI tests.
 *
 *   lab_cli_mkmaze file PATH PAGES clean|exit|kill|hold [memory]
 *       create the file maze PATH (index-only unless "memory"), allocate
 *       rooms from two threads, then leave it: lab_detach (clean), _exit
 *       without detaching (exit) or SIGKILL ourselves (kill); hold prints
 *       "ready" and keeps it open (locked) until SIGTERM, then detaches.
 *   lab_cli_mkmaze shm NAME PAGES
 *       create the shared maze NAME, allocate the same rooms, print the
 *       figures and "ready", then wait for SIGTERM or SIGINT; then detach
 *       and unlink NAME.
 *
 * The rooms: each of two threads allocates blocks of order 0 to 3 (one in
 * three exclusive) until it holds about a quarter of the maze, then waits,
 * alive with its cache of free rooms, until the maze is left (or the
 * process dies). The figures are printed, one "name value" per line, for
 * the test to compare:
 *   allocated ROOMS / exclusive ROOMS / blocks BLOCKS / owners 2 / pages N.
 * Exit 0, 1 for a failed call (with a message), 2 for bad usage.
 */
#define _GNU_SOURCE
#include <labyrinth.h>
#include <labyrinth/shared.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t filled, leave;

struct fill {
	struct labyrinth *maze;
	size_t want; /* rooms to hold */
	size_t rooms, exclusive, blocks;
	int err;
};

static void *fill(void *arg)
{
	struct fill *f = arg;
	unsigned k = 0;

	while (f->rooms < f->want) {
		unsigned order = k % 4;
		lab_gfp_t gfp = LAB_GFP_NOWAIT | (k % 3 == 0 ? LAB_GFP_EXCLUSIVE : 0);
		long i = lab_alloc_index(f->maze, gfp, order);

		k++;
		if (i < 0) {
			f->err = (int)i;
			break;
		}
		f->rooms += (size_t)1 << order;
		f->blocks++;
		if (gfp & LAB_GFP_EXCLUSIVE)
			f->exclusive += (size_t)1 << order;
	}
	pthread_barrier_wait(&filled);
	pthread_barrier_wait(&leave);
	return NULL;
}

static struct fill f[2];
static pthread_t th[2];

/* Two threads fill a quarter of the maze each and wait; prints the figures. */
static int populate(struct labyrinth *maze, size_t pages)
{
	pthread_barrier_init(&filled, NULL, 3);
	pthread_barrier_init(&leave, NULL, 3);
	for (int i = 0; i < 2; i++) {
		f[i] = (struct fill){ maze, pages / 4, 0, 0, 0, 0 };
		if (pthread_create(&th[i], NULL, fill, &f[i])) {
			fprintf(stderr, "lab_cli_mkmaze: pthread_create failed\n");
			return 1;
		}
	}
	pthread_barrier_wait(&filled);
	for (int i = 0; i < 2; i++)
		if (f[i].err) {
			fprintf(stderr, "lab_cli_mkmaze: lab_alloc_index: %s\n",
				lab_strerror(f[i].err));
			return 1;
		}
	printf("allocated %zu\nexclusive %zu\nblocks %zu\nowners 2\npages %zu\n",
	       f[0].rooms + f[1].rooms, f[0].exclusive + f[1].exclusive, f[0].blocks + f[1].blocks,
	       pages);
	fflush(stdout);
	return 0;
}

/* Let the threads go and wait for them. */
static void release(void)
{
	pthread_barrier_wait(&leave);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

static volatile sig_atomic_t stop;
static sigset_t unblocked;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Block SIGTERM and SIGINT (the threads made later inherit it), so that
 * wait_signal() loses none between its check and its wait. */
static void catch_signals(void)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &unblocked);
}

static void wait_signal(void)
{
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		sigsuspend(&unblocked);
}

static int usage(void)
{
	fprintf(stderr, "usage: lab_cli_mkmaze file PATH PAGES clean|exit|kill|hold [memory]\n"
			"       lab_cli_mkmaze shm NAME PAGES\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct lab_config cfg;
	struct labyrinth *maze;
	int e;

	if (argc < 4)
		return usage();
	memset(&cfg, 0, sizeof(cfg));
	cfg.pages = strtoul(argv[3], NULL, 0);
	cfg.flags = LAB_NO_MEMORY;
	catch_signals();
	if (!strcmp(argv[1], "file") && (argc == 5 || argc == 6)) {
		const char *how = argv[4];

		if (argc == 6 && strcmp(argv[5], "memory"))
			return usage();
		if (argc == 6)
			cfg.flags = 0;
		if (strcmp(how, "clean") && strcmp(how, "exit") && strcmp(how, "kill") &&
		    strcmp(how, "hold"))
			return usage();
		e = lab_file_create(argv[2], &cfg, &maze);
		if (e) {
			fprintf(stderr, "lab_cli_mkmaze: lab_file_create %s: %s\n", argv[2],
				lab_strerror(e));
			return 1;
		}
		if (populate(maze, cfg.pages))
			_exit(1);
		if (!strcmp(how, "exit"))
			_exit(0);
		if (!strcmp(how, "kill"))
			kill(getpid(), SIGKILL);
		if (!strcmp(how, "hold"))
			wait_signal();
		release();
		e = lab_detach(maze);
		if (e) {
			fprintf(stderr, "lab_cli_mkmaze: lab_detach: %s\n", lab_strerror(e));
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[1], "shm") && argc == 4) {
		e = lab_shm_create(argv[2], &cfg, &maze);
		if (e) {
			fprintf(stderr, "lab_cli_mkmaze: lab_shm_create %s: %s\n", argv[2],
				lab_strerror(e));
			return 1;
		}
		if (populate(maze, cfg.pages)) {
			lab_shm_unlink(argv[2]);
			_exit(1);
		}
		wait_signal();
		release();
		e = lab_detach(maze);
		lab_shm_unlink(argv[2]);
		if (e) {
			fprintf(stderr, "lab_cli_mkmaze: lab_detach: %s\n", lab_strerror(e));
			return 1;
		}
		return 0;
	}
	return usage();
}

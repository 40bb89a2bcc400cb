/* SPDX-License-Identifier: MIT */
/* lab-probe-scale: two-thread scaling with a reserve, which labyrinth bench
 * has no option for. T pinned threads (1, then 2) each allocate N rooms
 * then free them, ROUNDS rounds started from a barrier, in a fresh maze of
 * PAGES rooms (RESERVE of them for ATOMIC); each thread's best round.
 * Prints ns per operation per thread and throughput 2 threads / 1.
 * usage: lab-probe-scale [PAGES [N [ROUNDS [EXCLUSIVE [RESERVE]]]]]
 *        (default 4194304 1048576 5 0 0) */
#define _GNU_SOURCE
#include <labyrinth.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static struct labyrinth *maze;
static size_t per_thread;
static int rounds;
static lab_gfp_t gfp;
static pthread_barrier_t bar;
static double best_ns[2];

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *worker(void *arg)
{
	int i = (int)(long)arg;
	cpu_set_t c;
	CPU_ZERO(&c);
	CPU_SET(i, &c);
	pthread_setaffinity_np(pthread_self(), sizeof(c), &c);
	void **p = malloc(per_thread * sizeof(*p));
	if (!p)
		exit(1);
	lab_free_page(maze, lab_alloc_page(maze, gfp)); /* warm-up */
	double best = 1e18;
	for (int r = 0; r < rounds; r++) {
		pthread_barrier_wait(&bar);
		uint64_t t0 = now_ns();
		for (size_t j = 0; j < per_thread; j++)
			p[j] = lab_alloc_page(maze, gfp);
		for (size_t j = 0; j < per_thread; j++)
			lab_free_page(maze, p[j]);
		double ns = (double)(now_ns() - t0) / (2.0 * (double)per_thread);
		best = ns < best ? ns : best;
	}
	best_ns[i] = best;
	free(p);
	return NULL;
}

int main(int argc, char **argv)
{
	size_t pages = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)1 << 22;
	per_thread = argc > 2 ? strtoull(argv[2], NULL, 0) : (size_t)1 << 20;
	rounds = argc > 3 ? atoi(argv[3]) : 5;
	gfp = LAB_GFP_ATOMIC | (argc > 4 && atoi(argv[4]) ? LAB_GFP_EXCLUSIVE : 0);
	size_t reserve = argc > 5 ? strtoull(argv[5], NULL, 0) : 0;
	if (rounds < 1 || 2 * per_thread > pages - reserve)
		return 2;
	struct lab_config cfg = { .pages = pages, .reserve = reserve };
	double one = 0, two = 0;
	for (int threads = 1; threads <= 2; threads++) {
		if (lab_create(&maze, &cfg))
			return 1;
		pthread_barrier_init(&bar, NULL, (unsigned)threads);
		pthread_t th[2];
		for (long i = 0; i < threads; i++)
			pthread_create(&th[i], NULL, worker, (void *)i);
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
		double ns = threads == 1 ? best_ns[0] : (best_ns[0] + best_ns[1]) / 2;
		printf("threads=%d ns/op/thread=%.2f\n", threads, ns);
		*(threads == 1 ? &one : &two) = ns;
		pthread_barrier_destroy(&bar);
		lab_destroy(maze);
	}
	printf("scale2=%.2f\n", 2 * one / two);
	return 0;
}

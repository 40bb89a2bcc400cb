/* SPDX-License-Identifier: MIT */
/* lab-probe-near: the nearly full maze with the hole freed by another
 * thread. The main thread holds every room of a maze of 2^SHIFT rooms; a
 * second thread frees one random room at a time, and the main thread takes
 * that hole back. Prints the median and 90th percentile of the allocation
 * that finds it; run it under `strace -f -c -e trace=membarrier` to count
 * the barriers. Both threads pinned (CPUs 0 and 1).
 * usage: lab-probe-near [SHIFT [HOLES]]   (default 24 2000) */
#define _GNU_SOURCE
#include <labyrinth.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static struct labyrinth *maze;
static long *held;
static size_t pages;
static atomic_long hole = -1; /* index into held[] of the freed room, -1 none */
static atomic_int stop;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *freer(void *arg)
{
	uint64_t seed = 12345;
	(void)arg;
	pin(1);
	while (!atomic_load(&stop)) {
		if (atomic_load(&hole) != -1)
			continue;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t i = (size_t)(seed >> 33) % pages;
		lab_free_index(maze, (size_t)held[i], 0);
		atomic_store(&hole, (long)i);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int shift = argc > 1 ? atoi(argv[1]) : 24, holes = argc > 2 ? atoi(argv[2]) : 2000;
	if (shift < 10 || shift > 30 || holes < 1)
		return 2;
	pages = (size_t)1 << shift;
	struct lab_config cfg = { .pages = pages, .flags = LAB_NO_MEMORY };
	if (lab_create(&maze, &cfg))
		return 1;
	pin(0);
	held = malloc(pages * sizeof(*held));
	double *lat = malloc((size_t)holes * sizeof(*lat));
	if (!held || !lat)
		return 1;
	for (size_t i = 0; i < pages; i++)
		held[i] = lab_alloc_index(maze, LAB_GFP_ATOMIC, 0);
	if (lab_alloc_index(maze, LAB_GFP_ATOMIC, 0) >= 0) {
		fprintf(stderr, "lab-probe-near: the maze is not full\n");
		return 1;
	}
	pthread_t t;
	pthread_create(&t, NULL, freer, NULL);
	for (int k = 0; k < holes; k++) {
		long i;
		while ((i = atomic_load(&hole)) == -1)
			;
		uint64_t t0 = now_ns();
		long x;
		while ((x = lab_alloc_index(maze, LAB_GFP_ATOMIC, 0)) < 0)
			; /* the freer's room may still be in flight */
		lat[k] = (double)(now_ns() - t0) / 1000.0;
		held[i] = x;
		atomic_store(&hole, -1);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	qsort(lat, (size_t)holes, sizeof(*lat), cmp_double);
	printf("2^%d rooms, %d holes freed by another thread: median %.2f us, p90 %.2f us\n", shift,
	       holes, lat[holes / 2], lat[holes * 9 / 10]);
	lab_destroy(maze);
	return 0;
}

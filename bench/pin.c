/* SPDX-License-Identifier: MIT */
/* Pinning benchmark threads, shared by the runners, lab-xproc and
 * lab-recovery: thread i goes to the i-th CPU the process may use, round
 * robin. The set is read once, before any thread of the process is pinned. */
#define _GNU_SOURCE
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t cpus_once = PTHREAD_ONCE_INIT;
static int cpus[CPU_SETSIZE];
static int ncpus;

static void cpus_read(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpus[ncpus++] = c;
	if (!ncpus)
		cpus[ncpus++] = 0;
}

int bench_cpus(const int **cpu)
{
	pthread_once(&cpus_once, cpus_read);
	if (cpu)
		*cpu = cpus;
	return ncpus;
}

int bench_pin_to(int i, const char *who)
{
	const int *cpu;
	int n = bench_cpus(&cpu), err;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu[(unsigned)i % (unsigned)n], &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "%s: pthread_setaffinity_np(cpu %d): %s\n", who,
			cpu[(unsigned)i % (unsigned)n], strerror(err));
	return err ? -1 : cpu[(unsigned)i % (unsigned)n];
}

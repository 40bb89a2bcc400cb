/* SPDX-License-Identifier: MIT */
/* Pinning a benchmark thread, shared by lab-bench and the runners. */
#define _GNU_SOURCE
#include "util.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void bench_pin_to(int cpu, const char *who)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	int err;

	if (ncpu < 1)
		ncpu = 1;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)ncpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		fprintf(stderr, "%s: pthread_setaffinity_np(cpu %d): %s\n", who, cpu,
			strerror(err));
}

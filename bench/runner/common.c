/* SPDX-License-Identifier: MIT */
/* Helpers of the runner workloads: threads, pools, checks, medians. */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void runner_pin(int cpu)
{
	if (ropt.pin)
		bench_pin_to(cpu, "runner");
}

struct thread_arg {
	void (*fn)(void *arg, int i);
	void *arg;
	int i;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;

	runner_pin(t->i);
	t->fn(t->arg, t->i);
	return NULL;
}

int runner_threads(int n, void (*fn)(void *arg, int i), void *arg)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	struct thread_arg *ta = calloc((size_t)n, sizeof(*ta));
	int i, err = 0;

	if (!th || !ta) {
		free(th);
		free(ta);
		return runner_fail("out of memory for %d threads", n);
	}
	for (i = 1; i < n && !err; i++) {
		ta[i] = (struct thread_arg){ fn, arg, i };
		err = pthread_create(&th[i], NULL, thread_main, &ta[i]);
	}
	if (err) {
		/* The others would wait at a barrier for ever. */
		fprintf(stderr, "runner: pthread_create: %s\n", strerror(err));
		exit(1);
	}
	ta[0] = (struct thread_arg){ fn, arg, 0 };
	thread_main(&ta[0]);
	for (i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
	free(ta);
	return 0;
}

struct peer_pool *runner_pool(size_t pages, unsigned flags)
{
	char why[256] = "";
	struct peer_pool *p = ropt.peer->create(pages, ropt.page_size, flags, why, sizeof(why));

	if (!p)
		runner_fail("creating a pool of %zu rooms of %zu B failed: %s", pages,
			    ropt.page_size, why);
	return p;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return (x > y) - (x < y);
}

int runner_check_blocks(void *const *p, size_t n, size_t bytes, const char *what)
{
	uintptr_t *s;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!p[i])
			return runner_fail("%s: allocation %zu of %zu returned NULL", what, i, n);
		if ((uintptr_t)p[i] & (bytes - 1))
			return runner_fail("%s: block %p is not aligned to %zu B", what, p[i],
					   bytes);
	}
	s = malloc((n ? n : 1) * sizeof(*s));
	if (!s)
		return runner_fail("out of memory for the check");
	for (i = 0; i < n; i++)
		s[i] = (uintptr_t)p[i];
	qsort(s, n, sizeof(*s), cmp_ptr);
	for (i = 1; i < n; i++)
		if (s[i] - s[i - 1] < bytes) {
			free(s);
			return runner_fail("%s: blocks %#lx and %#lx overlap (handed out twice)",
					   what, (unsigned long)s[i - 1], (unsigned long)s[i]);
		}
	free(s);
	return 0;
}

void **runner_ptrs(size_t n)
{
	void **p = malloc((n ? n : 1) * sizeof(*p));

	if (p)
		memset(p, 0xa5, (n ? n : 1) * sizeof(*p));
	return p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double runner_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

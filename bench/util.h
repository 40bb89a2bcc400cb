/* SPDX-License-Identifier: MIT */
/* Helpers shared by the runners, lab-xproc and lab-recovery: pinning, a
 * monotonic clock in ns and a fixed-seed random generator (xorshift64*).
 */
#ifndef LAB_BENCH_UTIL_H
#define LAB_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The CPUs the process may use (its affinity mask when first asked, before
 * any pinning): their count, and in *cpu (if not NULL) their numbers. */
int bench_cpus(const int **cpu);
/* Pin the calling thread to the i-th of those CPUs, round robin; who names
 * the program in the warning printed on failure. The CPU, or -1. pin.c. */
int bench_pin_to(int i, const char *who);

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fixed-seed, never zero. */
static inline uint64_t bench_rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t bench_rng_seed(uint64_t seed, uint64_t stream)
{
	uint64_t s = (seed ^ (stream * 0x9E3779B97F4A7C15ull)) | 1u;
	int i;

	for (i = 0; i < 8; i++)
		(void)bench_rng_next(&s);
	return s;
}

/* A uniform value in [0, n), n < 2^32, by multiply-shift (no division). */
static inline size_t bench_rng_below(uint64_t *s, size_t n)
{
	return (size_t)(((bench_rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* Shuffle a[0..n) in place (Fisher-Yates). */
static inline void bench_shuffle(void **a, size_t n, uint64_t *rng)
{
	for (size_t j = n; j > 1; j--) {
		size_t r = bench_rng_below(rng, j);
		void *t = a[j - 1];

		a[j - 1] = a[r];
		a[r] = t;
	}
}

#endif /* LAB_BENCH_UTIL_H */

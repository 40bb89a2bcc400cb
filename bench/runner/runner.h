/* SPDX-License-Identifier: MIT */
/* The runners: one measurement of one peer on one workload per invocation.
 * main.c parses the options and prints the result lines; the workloads are
 * in workloads.c, handoff.c and signal.c.
 */
#ifndef LAB_BENCH_RUNNER_H
#define LAB_BENCH_RUNNER_H

#include "peer.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUNNER_DEFAULT_PAGES ((size_t)1 << 16)
#define RUNNER_DEFAULT_NEAR_PAGES ((size_t)1 << 24)
#define RUNNER_DEFAULT_OPS 2000000u
#define RUNNER_DEFAULT_BUDGET_S 1.0 /* time cap when neither --ops nor --duration is given */
#define RUNNER_CHUNK 1024u	    /* operations between two looks at the clock */

struct runner_opts {
	const struct peer *peer;
	const char *workload; /* as reported: churn50, not churn */
	int threads;
	size_t pages;
	size_t page_size;
	uint64_t ops;	 /* per thread (pairs, churn), per producer (handoff) */
	bool ops_set;	 /* --ops given */
	double duration; /* seconds; 0: not given */
	uint64_t seed;
	int fill; /* percent, churn and signal */
	bool pin;
};

extern struct runner_opts ropt;
/* Written after every timed loop so that no result can be optimised away. */
extern volatile uint64_t runner_sink;

/* Operations per thread to aim for, and the deadline (0: none) that bounds
 * the loops: --duration if given, else RUNNER_DEFAULT_BUDGET_S unless --ops
 * was given. With no deadline the count done must equal the count asked. */
uint64_t runner_ops_limit(void);
uint64_t runner_deadline(uint64_t start_ns);

/* A result line for the current workload (status ok). */
void runner_report(const char *metric, double value, const char *unit, uint64_t ops, int threads,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Record why the workload failed a check (printed as status=error); -1. */
int runner_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run fn(arg, i) for i in [0, n): i = 0 on the calling thread, the others
 * on new threads; each is pinned to CPU i first with --pin. 0 or -1. */
int runner_threads(int n, void (*fn)(void *arg, int i), void *arg);
void runner_pin(int cpu);

/* A pool of this peer (untimed); NULL after runner_fail. */
struct peer_pool *runner_pool(size_t pages, unsigned flags);

/* Checks of a set of blocks of `bytes` bytes: none NULL, each aligned to
 * bytes, no two overlapping (sorted copy). 0, or -1 after runner_fail. */
int runner_check_blocks(void *const *p, size_t n, size_t bytes, const char *what);

/* n pointers, faulted in before any timed loop (filled with a non-zero
 * pattern: a compiler turns malloc + memset 0 into a lazy calloc). */
void **runner_ptrs(size_t n);

double runner_median(double *v, size_t n);

/* The workloads: 0 after reporting, -1 after runner_fail. */
int wl_bulk(unsigned order);
int wl_pairs(void);
int wl_churn(void);
int wl_handoff(void);
int wl_nearfull(void);
int wl_signal(void);
int wl_fragment(void);

#endif /* LAB_BENCH_RUNNER_H */

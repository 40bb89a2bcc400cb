/* SPDX-License-Identifier: MIT */
/* The runners: one measurement of one peer on one workload per invocation.
 * main.c parses the options and prints the result lines; common.c has the
 * threads, timed windows and checks; the workloads are in workloads.c,
 * handoff.c and signal.c.
 */
#ifndef LAB_BENCH_RUNNER_H
#define LAB_BENCH_RUNNER_H

#include "peer.h"
#include "util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUNNER_DEFAULT_PAGES ((size_t)1 << 16)
#define RUNNER_DEFAULT_NEAR_PAGES ((size_t)1 << 24)
#define RUNNER_DEFAULT_OPS 2000000u
#define RUNNER_DEFAULT_BUDGET_S 1.0 /* time cap when neither --ops nor --duration is given */
#define RUNNER_CHUNK 1024u	    /* operations between two looks at the clock */
#define RUNNER_MIN_OVERLAP 90.0	    /* % of the union the threads' windows share, or invalid */
#define RUNNER_MIN_WINDOW_MS 10.0   /* default --min-window */

struct runner_opts {
	const struct peer *peer;
	const char *workload; /* as reported: churn50, not churn */
	int threads;
	size_t pages;
	size_t page_size;
	size_t batch;	 /* bulk: blocks per thread per pass; 0: the pool split */
	uint64_t ops;	 /* per thread (pairs, churn), per producer (handoff) */
	bool ops_set;	 /* --ops given */
	uint64_t repeat; /* the timed work done this many times over */
	double duration; /* seconds; 0: not given */
	double min_window_ms;
	double stagger_ms; /* thread 1 starts its timed loop this late (a test) */
	uint64_t seed;
	int fill; /* percent, churn and signal */
	bool pin;
	bool warmup; /* one untimed call per thread before the barrier */
};

extern struct runner_opts ropt;
/* Written after every timed loop so that no result can be optimised away. */
extern volatile uint64_t runner_sink;

/* Operations per thread to aim for (--ops times --repeat), and the deadline
 * (0: none) that bounds the loops: --duration if given, else
 * RUNNER_DEFAULT_BUDGET_S unless --ops was given. With no deadline the count
 * done must equal the count asked. */
uint64_t runner_ops_limit(void);
uint64_t runner_deadline(uint64_t start_ns);
/* "by --ops", "by --duration", ...: for the notes. */
const char *runner_bounded_by(void);

#define RUNNER_MIN_CPU 90.0 /* % of its window a thread must not wait for a CPU, or invalid */

/* A thread's timed window, [t0, t1) in bench_now_ns() time, and how long the
 * thread waited in it for a CPU while it could run, [q0, q1) of the
 * runqueue wait in /proc/thread-self/schedstat (another process had the
 * CPU; sleeping in a lock does not count). Without schedstat: the window
 * less the thread's CLOCK_THREAD_CPUTIME_ID time. */
struct runner_window {
	uint64_t t0, t1, q0, q1;
};
void runner_window_begin(struct runner_window *w);
void runner_window_end(struct runner_window *w);

/* The timed phases of one run: over every phase, the sum of the
 * intersection and of the union of the threads' windows (overlap =
 * inter / uni; the run's window is uni), and of the threads' windows and
 * runqueue waits (cpu = 1 - waited / wall: below 1, another process took
 * the CPU). */
struct runner_span {
	uint64_t inter, uni, waited, wall;
};
void runner_span_add(struct runner_span *s, const struct runner_window *w, int n);
/* The run's timed phases, for every result line that follows; a workload
 * that never calls it (nearfull, fragment) has no window to judge. */
void runner_set_span(const struct runner_span *s);

/* A result line for the current workload: status ok, or invalid when the
 * span says the threads did not run together or too briefly. mops: millions
 * of operations per second of all threads (0 when not a rate). */
void runner_report(const char *metric, double value, const char *unit, double mops, uint64_t ops,
		   int threads, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Record why the workload failed a check (printed as status=error); -1. */
int runner_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A spinning barrier, so that the threads leave it within a cache-line
 * transfer of each other (a futex wake-up takes tens of microseconds, longer
 * than a small timed phase); it yields while it waits long, for runs with
 * more threads than CPUs. Leaving it, a thread sees every write made before
 * any thread arrived. */
struct runner_barrier {
	_Atomic unsigned arrived; /* fetch_add by each arrival (acq_rel); reset by the last */
	_Atomic unsigned gen;	  /* the last arrival's release store; waiters load acquire */
	unsigned n;
};
void runner_barrier_init(struct runner_barrier *b, int n);
void runner_barrier_wait(struct runner_barrier *b);

/* Run fn(arg, i) for i in [0, n): i = 0 on the calling thread, the others
 * on new threads; each is pinned first (unless --no-pin). 0 or -1. */
int runner_threads(int n, void (*fn)(void *arg, int i), void *arg);
/* After the start barrier: thread 1 waits --stagger ms (a test of the
 * overlap check); returns at once for the others. */
void runner_stagger(int i);
/* The untimed warm-up call of a thread: allocate a block and free it
 * (unless --no-warmup); a failure goes to why. */
void runner_warmup(struct peer_pool *pool, unsigned order, char *why, size_t len);

/* A pool of this peer (untimed); NULL after runner_fail. */
struct peer_pool *runner_pool(size_t pages, unsigned flags);

/* Checks of a set of blocks of `bytes` bytes: none NULL, each aligned to
 * bytes, no two overlapping. Linear in n for the blocks of one pool (a
 * bitmap over their address range), a sorted copy when they are spread.
 * 0, or -1 after runner_fail. */
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

/* SPDX-License-Identifier: MIT */
/* lab-bench: shared declarations of the benchmark driver and its workloads.
 *
 * Every workload runs the same work on labyrinth and on the baseline (the
 * design note's hinted linear scan, scan.h), counts the operations of both
 * and checks that the counts agree. Timing is clock_gettime(CLOCK_MONOTONIC)
 * around loops of many operations; the figure of a row is the median of
 * --runs runs after one warm-up run.
 */
#ifndef LAB_BENCH_H
#define LAB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

struct bench_opts {
	int runs;	  /* measured runs per workload (after one warm-up) */
	bool quick;	  /* tiny sizes: a smoke test */
	bool pin;	  /* pin the benchmark threads to CPUs */
	bool excl;	  /* labyrinth allocates with ATOMIC|EXCLUSIVE */
	uint64_t seed;	  /* seed of every random choice */
	const char *only; /* comma-separated workload names, or NULL */
	const char *csv;  /* CSV output file, or NULL */
};

/* Sizes, chosen from opts.quick. */
struct bench_sizes {
	size_t bulk_pages;  /* bulk0 maze: rooms allocated then freed per cycle */
	int bulk_cycles;    /* fill/free cycles per run */
	size_t bulk9_pages; /* bulk9 maze: rooms (blocks = rooms / 512) */
	int bulk9_cycles;
	size_t pair_pages; /* maze used by pair and twothreads */
	uint64_t pair_ops; /* alloc+free pairs per run */
	size_t churn_pages;
	uint64_t churn_steps; /* free+alloc steps per run */
	uint64_t two_ops;     /* pairs per thread per run */
	size_t near_pages;    /* nearfull maze */
	int near_reps_lab;    /* timed allocations per run */
	int near_reps_base;
};

extern struct bench_opts bench_opt;
extern struct bench_sizes bench_size;

/* Written once per run so that no result can be optimised away. */
extern volatile uint64_t bench_sink;

/* One value per row per run; NAN where the baseline cannot do it. */
struct bench_sample {
	double lab;
	double base;
};

#define BENCH_MAX_ROWS 4

struct bench_workload {
	const char *name;
	const char *mode; /* how rooms are backed */
	const char *what; /* one line: the work */
	int nrows;
	const char *row[BENCH_MAX_ROWS];    /* row names */
	const char *unit[BENCH_MAX_ROWS];   /* "ns/op", "us/op", "x" */
	bool higher_better[BENCH_MAX_ROWS]; /* ratio = lab/base instead of base/lab */
	/* 0, or -1 after printing why to stderr. */
	int (*setup)(void **state);
	/* One run (run < 0: the warm-up): fills out[0..nrows-1]. 0 or -1. */
	int (*run)(void *state, int run, struct bench_sample *out);
	void (*teardown)(void *state);
};

extern const struct bench_workload bench_workloads[];
extern const int bench_nworkloads;

/* Helpers: bench_now_ns and the seeded RNG live in util.h. */
double bench_median(const double *v, int n);
/* Pin the calling thread to cpu (mod the online CPUs) when --pin is given. */
void bench_pin(int cpu);
/* Print a failure of a workload to stderr; returns -1. */
int bench_fail(const char *workload, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* LAB_BENCH_H */

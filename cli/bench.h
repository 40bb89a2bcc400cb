/* SPDX-License-Identifier: MIT */
/* `labyrinth bench`, one job per file:
 *
 * bench.c         options, the list of jobs, the order they run in
 * bench_run.c     the runner executables: finding them, their peers, one
 *                 measurement (warm-up, calibration, runs, invalid runs)
 * bench_report.c  the rows: medians, ratios, scaling; table, CSV, JSON
 * plot.c          the PNG through gnuplot
 *
 * A runner prints lines of the form
 *   result peer=P workload=W metric=M value=V unit=U mops=X ops=N threads=T
 *          pages=P window=MS overlap=PCT cpu=PCT status=S note=TEXT
 * (bench/README.md).
 */
#ifndef LAB_CLI_BENCH_H
#define LAB_CLI_BENCH_H

#include "cli.h"

#include <limits.h>

#define BENCH_MAX_PEERS 32
#define BENCH_MAX_METRICS 4
#define BENCH_MAX_RUNS 1000
#define BENCH_MIN_WINDOW_MS 10.0 /* a run timed for less is invalid */

/* ---- bench_run.c ---- */

struct bench_peer {
	char name[32];
	char caps[96]; /* comma-separated, as the runner's --list prints them */
	char runner[PATH_MAX];
};

/* What every measurement of a `labyrinth bench` invocation shares. */
struct bench_settings {
	uint64_t ops;	 /* per thread per run, before calibration */
	double duration; /* > 0: runs bounded by time instead */
	const char *seed, *page_size;
	int runs; /* valid runs wanted per measurement */
	bool pin;
};

/* One row group of the table: a workload at one thread count and size. */
struct bench_job {
	char label[32];	   /* as shown: bulk0, churn50, scale/pairs, size/bulk0 */
	char workload[16]; /* as the runner takes it */
	int threads;
	uint64_t pages; /* 0: the runner's default */
	uint64_t batch; /* bulk: blocks per thread; 0: the runner's default */
};

struct bench_metric {
	char name[32], unit[16];
	double v[BENCH_MAX_RUNS], mops[BENCH_MAX_RUNS], overlap[BENCH_MAX_RUNS];
	unsigned long long ops[BENCH_MAX_RUNS];
	int n;	     /* valid runs */
	int threads; /* as the runner reported them */
	unsigned long long pages;
	char note[256]; /* the runner's note of an ok result */
	/* the runs the overlap or window check refused */
	double bad_v[BENCH_MAX_RUNS], bad_mops[BENCH_MAX_RUNS], bad_overlap[BENCH_MAX_RUNS];
	int nbad;
	char bad_note[256]; /* why the last of them was refused */
};

/* Every run of one job on one peer. */
struct bench_measure {
	struct bench_metric m[BENCH_MAX_METRICS];
	int nm;
	char status[8]; /* ok, na, error, dup (a row of it exists); invalid runs: per metric */
	char note[256];
	uint64_t repeat; /* --repeat found by the calibration */
};

/* Find the runner directory and the peers its runners offer; CLI_OK or
 * CLI_FAIL after a message. */
int bench_find_peers(void);
const char *bench_runner_dir(void);
int bench_npeers(void);
const struct bench_peer *bench_peer_at(int i);
const struct bench_peer *bench_find_peer(const char *name);
bool bench_has_cap(const struct bench_peer *p, const char *cap);

/* The runs of job on peer: a warm-up run (again with a larger --repeat
 * until a run is timed for BENCH_MIN_WINDOW_MS), then runs until s->runs
 * are valid or 2 * s->runs were made. */
void bench_measure(const struct bench_job *job, const struct bench_peer *peer,
		   const struct bench_settings *s, struct bench_measure *ms);

/* The progress bar on stderr (a terminal only): total steps, one done. */
void bench_progress_begin(int total);
void bench_progress_step(const char *what);
void bench_progress_end(void);

/* ---- bench_report.c ---- */

/* One line of the table. */
struct bench_row {
	char workload[32]; /* the job's label */
	int threads;
	unsigned long long pages;
	char peer[32];
	char metric[32];
	char unit[16];
	double median, min, max;
	double mops;	/* Mops/s of all threads; < 0 when not a rate */
	double ratio;	/* to the base peer; < 0 when none; INFINITY allowed */
	double scaling; /* mops / the same peer's at the fewest threads; < 0: none */
	double overlap; /* the lowest of the runs counted, in %; < 0: none */
	unsigned long long ops;
	int runs;	  /* runs counted in the median */
	int invalid_runs; /* runs refused by the overlap or window check */
	char status[8];	  /* ok, invalid, na, error */
	char note[256];
};

/* The rows of one measurement of job on peer. */
void bench_add_rows(const struct bench_job *job, const char *peer, const struct bench_measure *ms,
		    const struct bench_settings *s);
/* Whether a row of workload label, threads, pages and peer exists already. */
bool bench_row_exists(const char *label, int threads, unsigned long long pages, const char *peer);
/* Forget the rows added since mark (a measurement that duplicated a row). */
size_t bench_rows_mark(void);
void bench_rows_reset(size_t mark);
/* Ratios to base and scaling, once every row is in. */
void bench_finish_rows(const char *base);
void bench_print_table(void);
int bench_write_csv(const char *path);
int bench_write_json(const char *path);
/* CLI_OK when no row is an error, else CLI_FAIL. */
int bench_rows_status(void);
const struct bench_row *bench_rows(size_t *n);
void bench_rows_free(void);

/* ---- plot.c ---- */
/* Write a PNG of the rows with gnuplot; CLI_OK or CLI_FAIL after a message. */
int plot_bench(const char *png, const struct bench_row *rows, size_t n);

#endif /* LAB_CLI_BENCH_H */

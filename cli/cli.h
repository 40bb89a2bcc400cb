/* SPDX-License-Identifier: MIT */
/* The labyrinth command: shared declarations of its subcommands.
 *
 * main.c     dispatch, --help, --version
 * util.c     option values, lists, errors, the executable's directory
 * bench.c    `labyrinth bench`: options and jobs (bench.h lists its other files:
 *            bench_run.c, bench_report.c, plot.c)
 * scenario.c the in-process scenario of `map` and `stats`
 * map.c      `labyrinth map`: the maze as PNG (libpng) or ANSI text
 * font.c     a 5x7 bitmap font for the map's legend and caption
 * stats.c    `labyrinth stats`
 * file.c     `labyrinth check` and `recover`; map and stats on a FILE or --shm NAME
 */
#ifndef LAB_CLI_H
#define LAB_CLI_H

#include <labyrinth.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "number.h"
#include <stdio.h>

/* Exit statuses: 0 success, 1 a run or check failed, 2 bad usage. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int cmd_bench(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_recover(int argc, char **argv);

/* ---- util.c ---- */
extern const char *cli_cmd; /* "labyrinth bench" etc., for messages */

/* Print "CMD: message (see 'CMD --help')" on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "CMD: message" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The message for getopt's '?' or ':' result (unknown option, missing value). */
int cli_bad_option(char **argv, int opt_index_hint);

/* A whole number in [min, max] (decimal, 0x.., or 2e6, 1k/1M/1G suffixes); 0 or -1. */
/* A positive real number in (0, max]; 0 or -1. */
int cli_parse_double(const char *s, double max, double *out);

/* A comma-separated list: up to max items copied into item[] (strdup'd);
 * the count, or -1 for an empty item or too many. */
int cli_split(const char *s, char **item, int max);

/* The directory of the running executable (no trailing slash); "" if unknown. */
const char *cli_exe_dir(void);

/* Grow-on-demand string buffer. */
struct strbuf {
	char *s;
	size_t len, cap;
};
void sb_add(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *b);

/* ---- scenario.c: the in-process maze of `map` and `stats` ---- */
struct scenario_opts {
	const char *workload; /* fragment, fill, churn */
	size_t pages;
	size_t page_size;
	int threads;
	uint64_t seed;
};

struct scenario {
	struct labyrinth *maze;
	struct scenario_opts opt;
	struct lab_stats st;
	int valid;			     /* lab_validate's result */
	char why[256];			     /* its reason when not 0 */
	size_t allocated, exclusive, cached; /* rooms, from lab_room_info */
	int nowners;
	lab_owner_t owners[64]; /* the worker threads' ids, in worker order */
	/* a maze opened by maze_source_open rather than made by scenario_run */
	bool attached;
	bool owners_more; /* more owners than owners[] holds */
	long orphans;	  /* lab_orphans */
	char source[160]; /* "file PATH", "shared maze NAME": the map's caption */
	/* private */
	void *priv_;
};

/* Options -w -p -t -s -P shared by map and stats: getopt long options and help text. */
#define SCENARIO_HELP                                                                              \
	"  -w, --workload W   fragment (default), fill or churn:\n"                                \
	"                       fragment: fill 50%% with single rooms (1 in 4 exclusive), then\n"  \
	"                         100 rounds each freeing and re-allocating a random 10%%\n"       \
	"                       fill: fill 75%% with blocks of order 0 to 4, free nothing\n"       \
	"                       churn: as fragment, with blocks of order 0 to 3\n"                 \
	"  -p, --pages N      rooms in the maze (default 65536)\n"                                 \
	"  -P, --page-size B  bytes per room, a power of two >= 4096 (default 4096)\n"             \
	"  -t, --threads N    worker threads, each an owner (default 4, at most 64)\n"             \
	"  -s, --seed S       seed of the random choices (default 1)\n"

void scenario_defaults(struct scenario_opts *o);
/* Handle one scenario option (getopt's c and optarg): 1 handled, 0 not a
 * scenario option, CLI_USAGE after a message. */
int scenario_option(struct scenario_opts *o, int c, const char *arg);

/* Create the maze, run the workload on opt.threads threads and stop them
 * all at a barrier with their caches still full; fill in the figures.
 * 0, or CLI_FAIL after a message. scenario_end() lets the threads exit and
 * destroys the maze. */
int scenario_run(struct scenario *sc, const struct scenario_opts *o);
void scenario_end(struct scenario *sc);

/* ---- file.c: mazes in files and shared memory ---- */

/* lab_file_open; on failure a negative errno and, in msg, "cannot open
 * PATH: -EUCLEAN (...): why" with the reason read from the file's header. */
int maze_file_open(const char *path, unsigned flags, struct labyrinth **maze, char *msg,
		   size_t len);
/* After getopt: the optional FILE operand of map and stats; a usage error
 * (CLI_USAGE after a message) for more operands, FILE with --shm, or
 * scenario options with either. */
int maze_source_args(int argc, char **argv, const char *shm, bool scenario_opts, const char **file);
/* Open FILE read-only or attach the shared maze shm, and fill sc's figures
 * (stats, validate, allocated, owners, orphans) as scenario_run would.
 * CLI_OK, or CLI_FAIL after a message. maze_source_close() detaches. */
int maze_source_open(struct scenario *sc, const char *file, const char *shm);
void maze_source_close(struct scenario *sc);

/* ---- font.c ---- */
#define FONT_W 5
#define FONT_H 7
/* The 7 rows of a glyph (bit 4 = leftmost column); unknown characters are blank.
 * Lower case is drawn as upper case. */
const uint8_t *font_glyph(char c);

#endif /* LAB_CLI_H */

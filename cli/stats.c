/* SPDX-License-Identifier: MIT */
/* labyrinth stats: run the scenario (or open a file maze, or attach a shared
 * one), print lab_stats and lab_validate's verdict. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: labyrinth stats [OPTIONS]\n"
		   "       labyrinth stats MAZEFILE | --shm NAME\n"
		   "Runs a scenario on an index-only maze with worker threads that stay alive\n"
		   "(their caches full), or opens the file maze MAZEFILE read-only, or attaches\n"
		   "the shared maze NAME; then prints the maze's figures (lab_stats), the\n"
		   "metadata bits per room and lab_validate's verdict. Exit 1 if it fails.\n"
		   "lab_validate wants a quiet maze: on a shared maze in use, a failure may be\n"
		   "an operation in flight.\n"
		   "\n" SCENARIO_HELP
		   "  -S, --shm NAME     the shared maze NAME (lab_shm_attach, then lab_detach)\n"
		   "  -h, --help         this help\n");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "pages", required_argument, NULL, 'p' },
		{ "page-size", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "shm", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scenario_opts o;
	struct scenario sc;
	const char *shm = NULL, *file;
	bool scen = false;
	int c, rc;

	scenario_defaults(&o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":w:p:P:t:s:S:h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return CLI_OK;
		}
		if (c == 'S') {
			shm = optarg;
			continue;
		}
		rc = scenario_option(&o, c, optarg);
		if (rc == 0)
			return cli_bad_option(argv, c);
		if (rc != 1)
			return rc;
		scen = true;
	}
	rc = maze_source_args(argc, argv, shm, scen, &file);
	if (rc)
		return rc;

	rc = file || shm ? maze_source_open(&sc, file, shm) : scenario_run(&sc, &o);
	if (rc) {
		scenario_end(&sc);
		return rc;
	}
	const struct lab_stats *s = &sc.st;

	if (sc.attached)
		printf("maze          %s\n", sc.source);
	else
		printf("scenario      %s, %d thread(s), seed %llu\n", o.workload, o.threads,
		       (unsigned long long)o.seed);
	printf("pages         %zu\n", s->pages);
	printf("page_size     %zu\n", s->page_size);
	printf("free          %zu (%.1f%%)\n", s->free,
	       s->pages ? 100.0 * (double)s->free / (double)s->pages : 0.0);
	printf("cached        %zu (free rooms parked in thread caches)\n", s->cached);
	printf("allocated     %zu (%zu exclusive), %d%s owner thread(s)\n", sc.allocated,
	       sc.exclusive, sc.nowners, sc.owners_more ? "+" : "");
	if (sc.attached && sc.orphans >= 0)
		printf("orphans       %ld block(s) whose owner is gone\n", sc.orphans);
	else if (sc.attached)
		printf("orphans       unknown: lab_orphans: %s\n", lab_strerror((int)sc.orphans));
	printf("reserve       %zu\n", s->reserve);
	printf("huge_free     %zu (whole free rows of 512: order-9 blocks; bound %zu)\n",
	       s->huge_free, s->free / 512);
	printf("rows          %zu\n", s->rows);
	printf("max_order     %zu\n", s->max_order);
	printf("waiters       %zu\n", s->waiters);
	printf("meta_bytes    %zu\n", s->meta_bytes);
	printf("meta_bits     %zu per room (without the fixed parts)\n", s->meta_bits_per_room);
	if (sc.valid)
		printf("validate      FAILED: %s (%s)\n", sc.why[0] ? sc.why : "no reason given",
		       lab_strerror(sc.valid));
	else
		printf("validate      ok\n");
	rc = sc.valid ? CLI_FAIL : CLI_OK;
	if (sc.allocated + s->free != s->pages) {
		printf("rooms         allocated + free = %zu, not %zu\n", sc.allocated + s->free,
		       s->pages);
		rc = CLI_FAIL;
	}
	if (sc.valid)
		cli_error("lab_validate: %s%s", sc.why[0] ? sc.why : "failed",
			  shm ? " (on a maze in use this may be an operation in flight)" : "");
	else if (rc)
		cli_error("allocated + free rooms are not the maze's pages");
	if (sc.attached)
		maze_source_close(&sc);
	else
		scenario_end(&sc);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* labyrinth: the command. `labyrinth SUBCOMMAND [OPTIONS]`; see docs/labyrinth.1. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labyrinth SUBCOMMAND [OPTIONS]\n"
		"       labyrinth --help | --version\n"
		"\n"
		"subcommands:\n"
		"  bench   run workloads against labyrinth and its peers; table, CSV, JSON, PNG\n"
		"  map     run a scenario on a maze and draw it (PNG, or ANSI in the terminal)\n"
		"  stats   run a scenario and print the maze's figures and lab_validate's verdict\n"
		"  check   check a file maze, read-only: sound, closed cleanly, its figures\n"
		"  recover recover a file maze after a crash (LAB_RECOVER), list kept orphans\n"
		"\n"
		"map and stats also show a file maze (FILE) or a live shared maze (--shm NAME).\n"
		"\n"
		"'labyrinth SUBCOMMAND --help' describes each one; 'man labyrinth' all of them.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = { { "bench", cmd_bench },
		     { "map", cmd_map },
		     { "stats", cmd_stats },
		     { "check", cmd_check },
		     { "recover", cmd_recover } };
	static char cmdname[64];

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("labyrinth %d.%d.%d\n", LAB_VERSION_MAJOR, LAB_VERSION_MINOR,
		       LAB_VERSION_PATCH);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			snprintf(cmdname, sizeof(cmdname), "labyrinth %s", cmds[i].name);
			cli_cmd = cmdname;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	if (argv[1][0] == '-')
		return cli_usage_error("unknown option '%s'", argv[1]);
	return cli_usage_error("unknown subcommand '%s'", argv[1]);
}

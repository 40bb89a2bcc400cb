/* SPDX-License-Identifier: MIT */
/* Mazes in files and in shared memory: `labyrinth check` and `labyrinth
 * recover`, and the opening and inspection behind `map` and `stats` on
 * FILE or --shm NAME. Only the public API: lab_file_inspect says why a file
 * is refused, lab_file_clean whether it was closed cleanly.
 */
#include "cli.h"

#include <labyrinth/shared.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- error texts ---- */

static const char *errno_name(int err)
{
	switch (-err) {
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case EBUSY:
		return "EBUSY";
	case EUCLEAN:
		return "EUCLEAN";
	case EPROTO:
		return "EPROTO";
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case ENOSYS:
		return "ENOSYS";
	case EEXIST:
		return "EEXIST";
	case EISDIR:
		return "EISDIR";
	case ENODEV:
		return "ENODEV";
	case ELOOP:
		return "ELOOP";
	default:
		return "E?";
	}
}

/* "-EUCLEAN (not a maze, ...)"; strerror's text where lab_strerror has none. */
static const char *err_text(int err, char *buf, size_t len)
{
	const char *t = lab_strerror(err);

	if (!strcmp(t, "unknown error"))
		t = strerror(-err);
	snprintf(buf, len, "-%s (%s)", errno_name(err), t);
	return buf;
}

/* ---- opening ---- */

int maze_file_open(const char *path, unsigned flags, struct labyrinth **maze, char *msg, size_t len)
{
	char eb[96], why[200];
	int e = lab_file_open(path, flags, maze);

	if (!e)
		return 0;
	why[0] = 0;
	if (e == -EUCLEAN && (flags & (LAB_RECOVER | LAB_RECOVER_KEEP))) {
		struct labyrinth *ro;

		/* the open's checks passed read-only: lab_recover refused it */
		if (lab_file_open(path, LAB_READONLY, &ro) == 0) {
			lab_detach(ro);
			snprintf(why, sizeof(why),
				 "the header is sound, the metadata damaged in a way no crash "
				 "leaves: lab_recover refuses it and writes nothing");
		}
	}
	if (!why[0] && lab_file_inspect(path, why, sizeof(why)) != e)
		why[0] = 0; /* changed in between: no reason to give */
	if (why[0])
		snprintf(msg, len, "cannot open %s: -%s: %s", path, errno_name(e), why);
	else
		snprintf(msg, len, "cannot open %s: %s", path, err_text(e, eb, sizeof(eb)));
	return e;
}

/* Fill sc's figures from a maze nobody changes meanwhile. */
static void inspect(struct scenario *sc, struct labyrinth *maze)
{
	size_t pages;

	sc->maze = maze;
	lab_stats(maze, &sc->st);
	sc->valid = lab_validate(maze, sc->why, sizeof(sc->why));
	pages = sc->st.pages;
	for (size_t i = 0; i < pages;) {
		struct lab_room r;
		size_t n;

		if (lab_room_info(maze, i, &r)) {
			i++;
			continue;
		}
		if (r.state != LAB_ROOM_ALLOCATED) {
			sc->cached += r.state == LAB_ROOM_CACHED;
			i++;
			continue;
		}
		/* a whole block at once, from wherever i is in it */
		n = r.block + ((size_t)1 << r.order) - i;
		sc->allocated += n;
		if (r.exclusive)
			sc->exclusive += n;
		i += n;
		int k = 0;
		while (k < sc->nowners && sc->owners[k] != r.owner)
			k++;
		if (k == sc->nowners) {
			if (sc->nowners < (int)(sizeof(sc->owners) / sizeof(sc->owners[0])))
				sc->owners[sc->nowners++] = r.owner;
			else
				sc->owners_more = true;
		}
	}
	sc->orphans = lab_orphans(maze, NULL, 0);
}

int maze_source_open(struct scenario *sc, const char *file, const char *shm)
{
	struct labyrinth *maze = NULL;
	char msg[512];
	int e;

	memset(sc, 0, sizeof(*sc));
	if (file) {
		e = maze_file_open(file, LAB_READONLY, &maze, msg, sizeof(msg));
		if (e)
			return cli_error("%s", msg);
		snprintf(sc->source, sizeof(sc->source), "file %s%s", file,
			 lab_file_clean(maze) == 0 ? " (not closed cleanly)" : "");
	} else {
		char eb[96];

		e = lab_shm_attach(shm, &maze);
		if (e)
			return cli_error("cannot attach the shared maze %s: %s%s", shm,
					 err_text(e, eb, sizeof(eb)),
					 e == -EUCLEAN ? ": not a maze, or a damaged header" : "");
		snprintf(sc->source, sizeof(sc->source), "shared maze %s", shm);
	}
	sc->attached = true;
	inspect(sc, maze);
	return CLI_OK;
}

void maze_source_close(struct scenario *sc)
{
	if (sc->attached && sc->maze)
		lab_detach(sc->maze);
	sc->maze = NULL;
	sc->attached = false;
}

/* Both a FILE and --shm, or scenario options with either: a usage error. */
int maze_source_args(int argc, char **argv, const char *shm, bool scenario_opts, const char **file)
{
	*file = NULL;
	if (optind < argc)
		*file = argv[optind++];
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (*file && shm)
		return cli_usage_error("give a FILE or --shm NAME, not both");
	if ((*file || shm) && scenario_opts)
		return cli_usage_error("scenario options (-w -p -P -t -s) do not apply to %s",
				       *file ? "a FILE" : "--shm");
	if (shm && !*shm)
		return cli_usage_error("--shm wants a name");
	return CLI_OK;
}

/* ---- check ---- */

static const char *kind_name(int kind)
{
	return kind == LAB_KIND_FILE ? "file" : kind == LAB_KIND_SHARED ? "shared" : "private";
}

static void check_usage(FILE *f)
{
	fprintf(f, "usage: labyrinth check [--json] FILE\n"
		   "Opens the file maze FILE read-only (a shared lock; it writes nothing) and\n"
		   "checks it: the header, every invariant of the metadata (lab_validate) and\n"
		   "whether it was closed cleanly. Prints its figures and the blocks whose owner\n"
		   "is gone (lab_orphans; after a clean close that is every allocated block:\n"
		   "rooms stay allocated across close and open).\n"
		   "Exit 0 if it is sound and was closed cleanly, 1 if it needs recovery\n"
		   "('labyrinth recover'), is damaged or cannot be opened, 2 for bad usage.\n"
		   "\n"
		   "  -j, --json   print one JSON object instead of the text\n"
		   "  -h, --help   this help\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int cmd_check(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct labyrinth *maze;
	struct scenario sc;
	const char *path, *status;
	char msg[512], problem[512];
	bool json = false, clean, index_only;
	int c, e, kind;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":jh", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			check_usage(stdout);
			return CLI_OK;
		case 'j':
			json = true;
			break;
		default:
			return cli_bad_option(argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("which file?");
	path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	e = maze_file_open(path, LAB_READONLY, &maze, msg, sizeof(msg));
	if (e) {
		if (json) {
			char eb[96];

			printf("{\"file\": ");
			json_str(path);
			printf(", \"status\": \"error\", \"error\": ");
			json_str(err_text(e, eb, sizeof(eb)));
			printf(", \"message\": ");
			json_str(msg);
			printf("}\n");
		}
		return cli_error("%s", msg);
	}
	memset(&sc, 0, sizeof(sc));
	inspect(&sc, maze);
	clean = lab_file_clean(maze) == 1;
	index_only = lab_index_page(maze, 0) == NULL;
	kind = lab_kind(maze);
	if (kind < 0)
		kind = LAB_KIND_FILE; /* it was opened as one */
	lab_detach(maze);

	const struct lab_stats *s = &sc.st;
	problem[0] = 0;
	if (sc.valid) {
		status = "damaged";
		snprintf(problem, sizeof(problem), "%s is damaged: lab_validate: %s (%s)%s", path,
			 sc.why[0] ? sc.why : "no reason given", lab_strerror(sc.valid),
			 clean ? "" :
				 "; it was not closed cleanly: 'labyrinth recover' may mend it");
	} else if (!clean) {
		status = "needs-recovery";
		snprintf(problem, sizeof(problem),
			 "%s was not closed cleanly (its process died): it needs recovery, "
			 "'labyrinth recover %s' (opening it without LAB_READONLY fails with "
			 "-EUCLEAN)",
			 path, path);
	} else {
		status = "ok";
	}

	if (json) {
		printf("{\"file\": ");
		json_str(path);
		printf(", \"status\": \"%s\", \"kind\": \"%s\", \"closed_cleanly\": %s, "
		       "\"index_only\": %s, \"pages\": %zu, \"page_size\": %zu, \"free\": %zu, "
		       "\"cached\": %zu, \"allocated\": %zu, \"exclusive\": %zu, \"owners\": %d, "
		       "\"huge_free\": %zu, \"rows\": %zu, \"reserve\": %zu, \"max_order\": %zu, "
		       "\"meta_bytes\": %zu, \"orphans\": ",
		       status, kind_name(kind), clean ? "true" : "false",
		       index_only ? "true" : "false", s->pages, s->page_size, s->free, s->cached,
		       sc.allocated, sc.exclusive, sc.nowners, s->huge_free, s->rows, s->reserve,
		       s->max_order, s->meta_bytes);
		if (sc.orphans >= 0)
			printf("%ld", sc.orphans);
		else
			printf("null");
		printf(", \"validate\": ");
		if (sc.valid)
			json_str(sc.why[0] ? sc.why : "failed");
		else
			printf("\"ok\"");
		printf(", \"problem\": ");
		json_str(problem);
		printf("}\n");
	} else {
		printf("file          %s\n", path);
		printf("kind          %s, %s\n", kind_name(kind),
		       index_only ? "index-only (no room memory)" : "with room memory");
		printf("closed        %s\n",
		       clean ? "cleanly" : "NOT cleanly (a process died with it open)");
		printf("pages         %zu\n", s->pages);
		printf("page_size     %zu\n", s->page_size);
		printf("free          %zu (%.1f%%)\n", s->free,
		       s->pages ? 100.0 * (double)s->free / (double)s->pages : 0.0);
		printf("cached        %zu (free rooms parked in thread caches)\n", s->cached);
		printf("allocated     %zu (%zu exclusive), %d%s owner thread(s)\n", sc.allocated,
		       sc.exclusive, sc.nowners, sc.owners_more ? "+" : "");
		if (sc.orphans >= 0)
			printf("orphans       %ld block(s) whose owner is gone\n", sc.orphans);
		else
			printf("orphans       unknown: lab_orphans: %s\n",
			       lab_strerror((int)sc.orphans));
		printf("reserve       %zu\n", s->reserve);
		printf("huge_free     %zu (whole free rows of 512)\n", s->huge_free);
		printf("rows          %zu\n", s->rows);
		printf("max_order     %zu\n", s->max_order);
		printf("meta_bytes    %zu\n", s->meta_bytes);
		if (sc.valid)
			printf("validate      FAILED: %s (%s)\n",
			       sc.why[0] ? sc.why : "no reason given", lab_strerror(sc.valid));
		else
			printf("validate      ok\n");
		printf("status        %s\n", status);
	}
	if (problem[0])
		return cli_error("%s", problem);
	return CLI_OK;
}

/* ---- recover ---- */

static void recover_usage(FILE *f)
{
	fprintf(f, "usage: labyrinth recover [--keep] FILE\n"
		   "Opens the file maze FILE with LAB_RECOVER: checks the room bitmaps and owner\n"
		   "words, rebuilds every summary and returns to the maze the rooms whose owner\n"
		   "is gone, the thread caches and what an interrupted operation left claimed;\n"
		   "prints what it did (lab_recovery_info), then closes it cleanly. Rooms stay\n"
		   "allocated across a clean close, and their owners are then gone: recovering\n"
		   "such a file frees every allocated room. Use --keep to keep them.\n"
		   "Exit 0 on success, 1 if it fails (damage that is no crash state, the file\n"
		   "in use by another process), 2 for bad usage.\n"
		   "\n"
		   "  -k, --keep   LAB_RECOVER_KEEP: keep the rooms of gone owners and list\n"
		   "               their blocks (index, order, owner thread id, exclusive)\n"
		   "  -h, --help   this help\n");
}

int cmd_recover(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct labyrinth *maze;
	struct lab_recovery r;
	struct lab_stats s;
	const char *path;
	struct orphan {
		size_t index;
		struct lab_room room; /* order UINT32_MAX: lab_room_info failed */
	} *o = NULL;
	char msg[512], why[256];
	bool keep = false;
	long n = 0;
	int c, e, valid, rc = CLI_OK;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":kh", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			recover_usage(stdout);
			return CLI_OK;
		case 'k':
			keep = true;
			break;
		default:
			return cli_bad_option(argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("which file?");
	path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);

	e = maze_file_open(path, keep ? LAB_RECOVER_KEEP : LAB_RECOVER, &maze, msg, sizeof(msg));
	if (e)
		return cli_error("%s", msg);
	int was_clean = lab_file_clean(maze);
	/* Everything is gathered and the file closed before anything is
	 * printed: a reader that goes away (| head) must not leave it open. */
	lab_recovery_info(maze, &r);
	lab_stats(maze, &s);
	if (keep) {
		n = lab_orphans(maze, NULL, 0);
		if (n > 0 && !(o = calloc((size_t)n, sizeof(*o))))
			n = -ENOMEM;
		if (n > 0) {
			size_t *idx = calloc((size_t)n, sizeof(*idx));

			n = idx ? lab_orphans(maze, idx, (size_t)n) : -ENOMEM;
			for (long i = 0; i < n; i++) {
				o[i].index = idx[i];
				if (lab_room_info(maze, idx[i], &o[i].room))
					o[i].room.order = UINT32_MAX;
			}
			free(idx);
		}
	}
	valid = lab_validate(maze, why, sizeof(why));
	e = lab_detach(maze);

	printf("file          %s (%s)\n", path,
	       was_clean < 0 ? "its state was unknown" :
	       was_clean     ? "it had been closed cleanly" :
			       "it had not been closed cleanly");
	printf("reclaimed     %zu room(s) of gone owners returned\n", r.reclaimed);
	printf("kept          %zu room(s) of gone owners kept, in %zu block(s)\n", r.kept,
	       r.kept_blocks);
	printf("inflight      %zu room(s) an interrupted operation left claimed, returned\n",
	       r.inflight);
	printf("caches        %zu thread cache(s) emptied\n", r.caches);
	printf("rows_fixed    %zu summary(ies) rebuilt differently\n", r.rows_fixed);
	printf("time          %.3f ms\n", (double)r.nanoseconds / 1e6);
	printf("free          %zu of %zu\n", s.free, s.pages);
	if (keep && n < 0) {
		rc = cli_error("lab_orphans: %s", lab_strerror((int)n));
	} else if (keep) {
		printf("orphans       %ld block(s) whose owner is gone\n", n);
		if (n > 0)
			printf("  %-10s %-5s %-10s %s\n", "index", "order", "owner", "exclusive");
		for (long i = 0; i < n; i++)
			if (o[i].room.order == UINT32_MAX)
				printf("  %-10zu ?\n", o[i].index);
			else
				printf("  %-10zu %-5u %-10u %s\n", o[i].index, o[i].room.order,
				       o[i].room.owner, o[i].room.exclusive ? "yes" : "no");
	}
	free(o);
	if (valid) {
		printf("validate      FAILED: %s\n", why);
		rc = cli_error("%s: lab_validate after the recovery: %s (%s)", path, why,
			       lab_strerror(valid));
	} else {
		printf("validate      ok\n");
	}
	if (e)
		rc = cli_error("lab_detach %s: %s", path, lab_strerror(e));
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* Small helpers of the labyrinth command: option values, lists, messages. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_cmd = "labyrinth";

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", cli_cmd);
	return CLI_USAGE;
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_bad_option(char **argv, int c)
{
	/* getopt_long leaves optind past the offending word (or its missing value). */
	const char *word = argv[optind - 1];

	if (c == ':')
		return cli_usage_error("option '%s' needs a value", word);
	if (optopt && optopt != '?')
		return cli_usage_error("unknown option '-%c'", optopt);
	return cli_usage_error("unknown option '%s'", word);
}

int cli_parse_double(const char *s, double max, double *out)
{
	char *end;
	double d;

	if (!s || !*s)
		return -1;
	errno = 0;
	d = strtod(s, &end);
	if (*end || errno || !(d > 0 && d <= max))
		return -1;
	*out = d;
	return 0;
}

int cli_split(const char *s, char **item, int max)
{
	int n = 0;
	const char *p = s;

	if (!s || !*s)
		return -1;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (!len || n == max) {
			while (n > 0)
				free(item[--n]);
			return -1;
		}
		item[n] = strndup(p, len);
		if (!item[n]) {
			while (n > 0)
				free(item[--n]);
			return -1;
		}
		n++;
		if (!p[len])
			return n;
		p += len + 1;
	}
}

const char *cli_exe_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		dir[0] = 0;
		return dir;
	}
	dir[n] = 0;
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	else if (slash)
		slash[1] = 0;
	return dir;
}

void sb_add(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			perror("labyrinth");
			exit(CLI_FAIL);
		}
		b->s = s;
		b->cap = cap;
	}
}

void sb_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

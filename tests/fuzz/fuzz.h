/* SPDX-License-Identifier: MIT */
/* What the libFuzzer targets share: a failure that names the file, the
 * line and what the target was doing (fuzz_context, which each target
 * defines), then aborts so that libFuzzer keeps the input. */
#ifndef LAB_FUZZ_H
#define LAB_FUZZ_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Each target: print what it was doing (an operation, a config). */
static void fuzz_context(FILE *out);

__attribute__((format(printf, 3, 4), noreturn)) static void fuzz_fail(const char *file, int line,
								      const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: ", file, line);
	fuzz_context(stderr);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

#define FUZZ_FAIL(...) fuzz_fail(__FILE_NAME__, __LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FUZZ_FAIL(__VA_ARGS__);                                                    \
	} while (0)

#endif

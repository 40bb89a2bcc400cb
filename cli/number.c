/* SPDX-License-Identifier: MIT */
/* The one parser of counts and sizes, shared by the labyrinth command and
 * the benchmark runners: decimal, 0x hex, 2e6, or a k, M or G suffix
 * (powers of 1024). */
#include "number.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;
	size_t len;
	char buf[64];

	if (!s || !*s || *s == '-' || *s == '+' || strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	len = strlen(buf);
	switch (buf[len - 1]) {
	case 'k':
	case 'K':
		mul = (uint64_t)1 << 10;
		break;
	case 'M':
		mul = (uint64_t)1 << 20;
		break;
	case 'G':
		mul = (uint64_t)1 << 30;
		break;
	}
	if (mul > 1)
		buf[--len] = 0;
	if (!len)
		return -1;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (*end || errno) {
		double d;

		errno = 0;
		d = strtod(buf, &end);
		if (*end || errno || !(d >= 0 && d < 1.8e19) || d != floor(d))
			return -1;
		v = (unsigned long long)d;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	v *= mul;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

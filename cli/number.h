/* SPDX-License-Identifier: MIT */
/* The one parser of counts and sizes (number.c). */
#ifndef LAB_CLI_NUMBER_H
#define LAB_CLI_NUMBER_H

#include <stdint.h>

/* s as a whole number in [min, max]: decimal, 0x hex, like 2e6, or with a
 * k, M or G suffix (powers of 1024). 0, or -1 if it is none. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif

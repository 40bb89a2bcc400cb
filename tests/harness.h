/* SPDX-License-Identifier: MIT */
/* A tiny test harness: TEST(name) registers a test, CHECK / CHECK_EQ report
 * file:line and the values and go on, REQUIRE stops the test (main thread
 * only). main() runs every test whose name contains argv[1] and ends with
 * exactly one line "N passed, N failed"; exit status 1 on any failure.
 * A test file that parses its own arguments defines HARNESS_CUSTOM_MAIN and
 * calls harness_run(filter). CHECK and CHECK_EQ are thread-safe. */
#ifndef LAB_TEST_HARNESS_H
#define LAB_TEST_HARNESS_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*harness_fn)(void);
static struct {
	const char *name;
	harness_fn fn;
} harness_tests[128];
static int harness_ntests;
static atomic_int harness_fails; /* failures in the running test */
static jmp_buf harness_jmp;

static void harness_register(const char *name, harness_fn fn)
{
	if (harness_ntests == (int)(sizeof harness_tests / sizeof harness_tests[0])) {
		fprintf(stderr, "harness: too many tests\n");
		exit(2);
	}
	harness_tests[harness_ntests].name = name;
	harness_tests[harness_ntests++].fn = fn;
}

#define TEST(name)                                                                                 \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void harness_reg_##name(void)                          \
	{                                                                                          \
		harness_register(#name, test_##name);                                              \
	}                                                                                          \
	static void test_##name(void)

__attribute__((format(printf, 3, 4))) static void harness_fail(const char *file, int line,
							       const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, buf);
	atomic_fetch_add(&harness_fails, 1);
}

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			harness_fail(__FILE__, __LINE__, "%s", #c);                                \
	} while (0)
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long ha_ = (long long)(a), hb_ = (long long)(b);                              \
		if (ha_ != hb_)                                                                    \
			harness_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, ha_,    \
				     hb_);                                                         \
	} while (0)
#define CHECK_MSG(c, ...)                                                                          \
	do {                                                                                       \
		if (!(c))                                                                          \
			harness_fail(__FILE__, __LINE__, __VA_ARGS__);                             \
	} while (0)
/* Stop the current test: main thread, test body or its helpers only. */
#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			harness_fail(__FILE__, __LINE__, "required: %s", #c);                      \
			longjmp(harness_jmp, 1);                                                   \
		}                                                                                  \
	} while (0)

/* Iteration count divided by LAB_TEST_SCALE (sanitizer runs set 4); >= 1. */
__attribute__((unused)) static unsigned long harness_scale(unsigned long n)
{
	const char *s = getenv("LAB_TEST_SCALE");
	unsigned long d = s ? strtoul(s, NULL, 10) : 1;
	n = d > 1 ? n / d : n;
	return n ? n : 1;
}

/* Seed from text (NULL or "" = fallback); always printed. */
__attribute__((unused)) static uint64_t harness_seed(const char *text, uint64_t fallback)
{
	uint64_t seed = text && *text ? strtoull(text, NULL, 0) : fallback;
	printf("seed=%" PRIu64 "\n", seed);
	fflush(stdout);
	return seed;
}

/* splitmix64: a per-thread generator in one word. */
__attribute__((unused)) static inline uint64_t harness_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* One test; 1 if it failed. No locals live across the setjmp. */
static int harness_run_one(harness_fn fn)
{
	atomic_store(&harness_fails, 0);
	if (!setjmp(harness_jmp))
		fn();
	return atomic_load(&harness_fails) != 0;
}

/* Does name contain one of the comma-separated words of list? */
static int harness_match(const char *list, const char *name)
{
	while (*list) {
		size_t n = strcspn(list, ",");
		for (const char *p = name; *p; p++)
			if (n && strncmp(p, list, n) == 0)
				return 1;
		list += n + (list[n] == ',');
	}
	return 0;
}

static int harness_run(const char *filter)
{
	int passed = 0, failed = 0;
	for (int i = 0; i < harness_ntests; i++) {
		/* "A,B" runs the tests whose name contains A or B; "-A,B" the others */
		if (filter && harness_match(filter + (filter[0] == '-'), harness_tests[i].name) ==
				      (filter[0] == '-'))
			continue;
		int bad = harness_run_one(harness_tests[i].fn);
		printf("%s %s\n", bad ? "FAIL" : "ok", harness_tests[i].name);
		fflush(stdout);
		bad ? failed++ : passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed || !passed ? 1 : 0;
}

#ifndef HARNESS_CUSTOM_MAIN
int main(int argc, char **argv)
{
	return harness_run(argc > 1 ? argv[1] : NULL);
}
#endif

#endif /* LAB_TEST_HARNESS_H */

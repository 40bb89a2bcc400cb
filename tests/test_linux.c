/* SPDX-License-Identifier: MIT */
/* <labyrinth/linux.h>: the snippet compiles and works as written, the
 * other Linux-style names work on the default maze, LABYRINTH_PAGES is
 * honoured and the default maze is made once when threads race to make it.
 * Tests that need a process without a default maze re-execute this binary:
 * a constructor runs the child's part when LAB_LINUX_CHILD is set. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth/linux.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void use_memory(void *v)
{
	memset(v, 0x6b, PAGE_SIZE);
	((volatile char *)v)[PAGE_SIZE - 1] = 1;
}

/* The snippet, as written. */
static int snippet(void)
{
	struct page *p = alloc_page(GFP_ATOMIC);
	if (!p)
		return -ENOMEM;
	void *v = page_address(p);
	use_memory(v);
	__free_page(p);
	return 0;
}

static size_t default_free(void)
{
	struct lab_stats st;
	struct labyrinth *m = lab_default();
	REQUIRE(m);
	lab_stats(m, &st);
	return st.free;
}

/* ---------------------------------------------------------------- children */

struct racer {
	pthread_barrier_t *bar;
	struct labyrinth *got;
	struct page *page;
	int alloc_first; /* first use through alloc_page rather than lab_default */
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(r->bar);
	if (r->alloc_first)
		r->page = alloc_page(GFP_KERNEL);
	r->got = lab_default();
	if (!r->page)
		r->page = alloc_page(GFP_NOWAIT);
	return NULL;
}

/* Resident memory of this process in bytes (Linux). */
static size_t rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (size_t)res * 4096;
}

/* Exit status: 0 ok, otherwise a code naming the broken check. */
static int child_main(const char *mode)
{
	if (!strcmp(mode, "pages")) {
		/* LABYRINTH_PAGES=1000 set by the parent; first use is alloc_page */
		struct page *p = alloc_page(GFP_KERNEL);
		if (!p)
			return 10;
		struct lab_stats st;
		lab_stats(lab_default(), &st);
		if (st.pages != 1000)
			return 11;
		if (st.page_size != 4096)
			return 12;
		if (st.free != 999)
			return 13;
		__free_page(p);
		return 0;
	}
	if (!strcmp(mode, "default")) {
		size_t before = rss();
		struct labyrinth *m = lab_default();
		if (!m)
			return 20;
		if (rss() - before > ((size_t)32 << 20))
			return 26; /* 256 MiB of rooms must be backed lazily */
		struct lab_stats st;
		lab_stats(m, &st);
		if (st.pages != 65536)
			return 21;
		if (st.page_size != 4096)
			return 22;
		if (st.free != 65536)
			return 23;
		if (lab_default() != m)
			return 24;
		return snippet() == 0 ? 0 : 25;
	}
	if (!strcmp(mode, "race")) {
		enum {
			N = 8
		};
		pthread_barrier_t bar;
		pthread_barrier_init(&bar, NULL, N);
		static struct racer r[N];
		pthread_t t[N];
		for (int i = 0; i < N; i++) {
			r[i].bar = &bar;
			r[i].alloc_first = i & 1;
			if (pthread_create(&t[i], NULL, race_thread, &r[i]) != 0)
				return 30;
		}
		for (int i = 0; i < N; i++)
			pthread_join(t[i], NULL);
		struct labyrinth *m = lab_default();
		if (!m)
			return 31;
		for (int i = 0; i < N; i++) {
			if (r[i].got != m)
				return 32; /* two mazes */
			if (!r[i].page)
				return 33;
			if (lab_page_index(m, page_address(r[i].page)) < 0)
				return 34; /* a page from another maze */
		}
		struct lab_stats st;
		lab_stats(m, &st);
		if (st.pages != 65536 || st.free != 65536 - N)
			return 35;
		for (int i = 0; i < N; i++)
			__free_page(r[i].page);
		lab_stats(m, &st);
		if (st.free != 65536)
			return 36;
		return 0;
	}
	return 99;
}

__attribute__((constructor(200))) static void maybe_child(void)
{
	const char *mode = getenv("LAB_LINUX_CHILD");
	if (mode && *mode)
		_exit(child_main(mode));
}

/* Re-execute this binary in mode; returns its wait status. */
static int spawn(const char *mode, const char *pages)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("LAB_LINUX_CHILD", mode, 1);
		if (pages)
			setenv("LABYRINTH_PAGES", pages, 1);
		else
			unsetenv("LABYRINTH_PAGES");
		alarm(30);
		char *argv[] = { (char *)"test_linux", NULL };
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	return status;
}

#define CHECK_CHILD_OK(status, what)                                                               \
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exit %d signal %d",    \
		  what, WIFEXITED(status) ? WEXITSTATUS(status) : -1,                              \
		  WIFSIGNALED(status) ? WTERMSIG(status) : -1)

TEST(labyrinth_pages_env)
{
	int st = spawn("pages", "1000");
	CHECK_CHILD_OK(st, "LABYRINTH_PAGES=1000");
}

TEST(default_maze_size)
{
	int st = spawn("default", NULL);
	CHECK_CHILD_OK(st, "default maze");
}

TEST(default_maze_race)
{
	for (int i = 0; i < 10; i++) {
		int st = spawn("race", NULL);
		CHECK_CHILD_OK(st, "8 threads racing to make the default maze");
	}
}

/* ---------------------------------------------------------------- in process */

TEST(snippet)
{
	CHECK_EQ(PAGE_SIZE, 4096);
	size_t before = default_free();
	CHECK_EQ(snippet(), 0);
	CHECK_EQ(default_free(), before);
	for (int i = 0; i < 1000; i++)
		if (snippet() != 0) {
			CHECK_MSG(0, "snippet failed at %d", i);
			break;
		}
	CHECK_EQ(default_free(), before);
}

TEST(alloc_pages_order2)
{
	size_t before = default_free();
	struct page *p = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
	REQUIRE(p);
	char *v = page_address(p);
	REQUIRE(v);
	CHECK(((uintptr_t)v & (4 * PAGE_SIZE - 1)) == 0);
	for (size_t i = 0; i < 4 * PAGE_SIZE; i++)
		if (v[i]) {
			CHECK_MSG(0, "__GFP_ZERO byte %zu", i);
			break;
		}
	memset(v, 0x11, 4 * PAGE_SIZE);
	CHECK(virt_to_page(v) == p);
	CHECK_EQ(default_free(), before - 4);
	CHECK_EQ(lab_page_owner(lab_default(), v), lab_self());
	__free_pages(p, 2);
	CHECK_EQ(default_free(), before);
	CHECK_EQ(lab_page_owner(lab_default(), v), 0);

	struct page *e = alloc_page(GFP_ATOMIC | __GFP_EXCLUSIVE | __GFP_NOFAIL);
	REQUIRE(e);
	CHECK_EQ(lab_page_owner(lab_default(), page_address(e)), lab_self());
	__free_page(e);
	CHECK_EQ(default_free(), before);
}

TEST(virt_to_page_roundtrip)
{
	struct page *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = alloc_page(GFP_NOWAIT);
		REQUIRE(p[i]);
		void *v = page_address(p[i]);
		CHECK(v != NULL);
		CHECK(((uintptr_t)v & (PAGE_SIZE - 1)) == 0);
		CHECK(virt_to_page(v) == p[i]);
		CHECK(lab_page_index(lab_default(), v) >= 0);
		for (int j = 0; j < i; j++)
			CHECK(p[j] != p[i] && page_address(p[j]) != v);
	}
	for (int i = 0; i < 64; i++)
		__free_page(p[i]);
}

TEST(get_free_page)
{
	size_t before = default_free();
	unsigned long a[64];
	for (int i = 0; i < 64; i++) {
		a[i] = __get_free_page(GFP_KERNEL);
		REQUIRE(a[i] != 0);
		CHECK((a[i] & (PAGE_SIZE - 1)) == 0);
		memset((void *)a[i], 0xff, PAGE_SIZE);
	}
	CHECK_EQ(default_free(), before - 64);
	for (int i = 0; i < 64; i++)
		free_page(a[i]);
	CHECK_EQ(default_free(), before);
	free_page(0); /* a no-op */
	CHECK_EQ(default_free(), before);
	for (int i = 0; i < 64; i++) {
		a[i] = get_zeroed_page(GFP_ATOMIC);
		REQUIRE(a[i] != 0);
		const unsigned char *c = (const unsigned char *)a[i];
		for (size_t k = 0; k < PAGE_SIZE; k++)
			if (c[k]) {
				CHECK_MSG(0, "get_zeroed_page %d byte %zu = %#x", i, k, c[k]);
				break;
			}
	}
	for (int i = 0; i < 64; i++)
		free_page(a[i]);
	CHECK_EQ(default_free(), before);
}

static void run_forked(void (*fn)(void), int *status)
{
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		alarm(20);
		fn();
		_exit(0);
	}
	REQUIRE(waitpid(pid, status, 0) == pid);
}

static void double_free_child(void)
{
	struct page *p = alloc_page(GFP_ATOMIC);
	__free_page(p);
	__free_page(p);
}

TEST(free_misuse_panics)
{
	int st;
	run_forked(double_free_child, &st);
	CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "double __free_page: status %#x", st);
}

static void set_default_child(void)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.pages = 128;
	if (lab_create(&m, &cfg) != 0)
		_exit(40);
	if (lab_set_default(m) != 0)
		_exit(41);
	if (lab_default() != m)
		_exit(42);
	struct page *p = alloc_pages(GFP_KERNEL, 3);
	if (!p || lab_page_index(m, page_address(p)) < 0)
		_exit(43);
	struct lab_stats st;
	lab_stats(m, &st);
	if (st.free != 120)
		_exit(44);
	__free_pages(p, 3);
	lab_stats(m, &st);
	if (st.free != 128)
		_exit(45);
	_exit(0);
}

TEST(set_default_routes_linux_calls)
{
	int st;
	run_forked(set_default_child, &st);
	CHECK_CHILD_OK(st, "lab_set_default");
}

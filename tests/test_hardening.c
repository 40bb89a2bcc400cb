/* SPDX-License-Identifier: MIT */
/* The bad-input catalogue of docs/DESIGN.md that test_api.c does not
 * already cover, and thread-id reuse. Each case checks the exact answer and
 * that the maze did not change (free count and lab_validate). */
#define _GNU_SOURCE
#include "harness.h"
#include "internal.h"

#include <errno.h>
#include <labyrinth.h>
#include <labyrinth/linux.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct labyrinth *mk(size_t pages, unsigned flags)
{
	struct lab_config cfg = { .pages = pages, .flags = flags };
	struct labyrinth *m = NULL;
	REQUIRE(lab_create(&m, &cfg) == 0);
	return m;
}

static void unchanged(struct labyrinth *m, size_t free_before)
{
	struct lab_stats st;
	char why[256];
	lab_stats(m, &st);
	CHECK_EQ(st.free, free_before);
	CHECK_MSG(lab_validate(m, why, sizeof why) == 0, "validate: %s", why);
}

TEST(null_maze_every_entry_point)
{
	struct lab_stats st = { .pages = 7 };
	struct lab_room r;
	char why[64];
	int x;
	CHECK_EQ(lab_create(NULL, NULL), -EINVAL);
	struct labyrinth *m = (struct labyrinth *)&x;
	CHECK_EQ(lab_create(&m, NULL), -EINVAL);
	CHECK(m == NULL);
	lab_destroy(NULL);
	CHECK(lab_alloc_page(NULL, LAB_GFP_ATOMIC) == NULL);
	CHECK(lab_alloc_pages(NULL, LAB_GFP_ATOMIC, 2) == NULL);
	CHECK_EQ(lab_alloc_index(NULL, LAB_GFP_ATOMIC, 0), -EINVAL);
	CHECK_EQ(lab_free_page(NULL, &x), -EINVAL);
	CHECK_EQ(lab_free_pages(NULL, &x, 1), -EINVAL);
	CHECK_EQ(lab_free_index(NULL, 0, 0), -EINVAL);
	CHECK_EQ(lab_page_index(NULL, &x), -1);
	CHECK(lab_index_page(NULL, 0) == NULL);
	CHECK_EQ(lab_page_owner(NULL, &x), 0);
	CHECK_EQ(lab_index_owner(NULL, 0), 0);
	CHECK_EQ(lab_page_give(NULL, &x, 1), -EINVAL);
	CHECK_EQ(lab_index_give(NULL, 0, 1), -EINVAL);
	CHECK_EQ(lab_room_info(NULL, 0, &r), -EINVAL);
	lab_stats(NULL, &st);
	CHECK_EQ(st.pages, 0);
	CHECK_EQ(lab_validate(NULL, why, sizeof why), -EINVAL);
	lab_drain(NULL);
	CHECK_EQ(lab_set_default(NULL), -EINVAL);
}

TEST(null_and_foreign_pointers)
{
	struct labyrinth *m = mk(1024, 0), *other = mk(16, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	void *q = lab_alloc_page(other, LAB_GFP_ATOMIC);
	REQUIRE(p && q);
	struct lab_stats st;
	lab_stats(m, &st);
	int on_stack;
	void *heap = malloc(64);
	CHECK_EQ(lab_free_page(m, NULL), -EFAULT);
	CHECK_EQ(lab_free_page(m, &on_stack), -EFAULT);
	CHECK_EQ(lab_free_page(m, heap), -EFAULT);
	CHECK_EQ(lab_free_page(m, q), -EFAULT);
	CHECK_EQ(lab_free_page(m, m->meta), -EFAULT); /* the maze's own metadata */
	CHECK_EQ(lab_free_page(m, (char *)m->meta + 4096), -EFAULT);
	CHECK_EQ(lab_free_page(m, (char *)p + 1), -EINVAL);
	CHECK_EQ(lab_free_page(m, (char *)p + 4095), -EINVAL);
	unchanged(m, st.free);
	free(heap);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_page(other, q), 0);
	lab_destroy(other);
	lab_destroy(m);
}

static void *free_it(void *arg)
{
	void **a = arg;
	intptr_t rc = lab_free_page(a[0], a[1]);
	return (void *)rc;
}

TEST(double_free_after_the_page_moved)
{
	struct labyrinth *m = mk(1024, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(p);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_page(m, p), -ENOENT); /* straight after */
	/* the room comes back to this thread, is given away and freed there */
	void *again = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(again == p);
	pthread_t t;
	void *arg[2] = { m, p };
	void *rc;
	REQUIRE(pthread_create(&t, NULL, free_it, arg) == 0);
	pthread_join(t, &rc);
	CHECK_EQ((intptr_t)rc, -EPERM); /* not given yet: the other thread may not */
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(lab_page_give(m, p, lab_self()), 0);
	unchanged(m, st.free);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_page(m, p), -ENOENT);
	lab_destroy(m);
}

TEST(use_after_destroy_is_refused)
{
	struct labyrinth *m = mk(64, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(p);
	lab_destroy(m);
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 0), -EINVAL);
	CHECK_EQ(lab_free_page(m, p), -EINVAL);
	CHECK_EQ(lab_free_index(m, 0, 0), -EINVAL);
	CHECK_EQ(lab_page_owner(m, p), 0);
	CHECK_EQ(lab_validate(m, NULL, 0), -EINVAL);
	lab_destroy(m); /* a second destroy is harmless */
}

TEST(exhaustion_under_every_flag)
{
	struct labyrinth *m = mk(8, 0);
	long got = 0;
	while (lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0)
		got++;
	CHECK_EQ(got, 8);
	const lab_gfp_t flags[] = { 0,
				    LAB_GFP_ATOMIC,
				    LAB_GFP_NOWAIT,
				    LAB_GFP_EXCLUSIVE,
				    LAB_GFP_ZERO,
				    LAB_GFP_ATOMIC | LAB_GFP_ZERO | LAB_GFP_EXCLUSIVE,
				    LAB_GFP_KERNEL | LAB_GFP_NOWAIT,
				    LAB_GFP_KERNEL | LAB_GFP_ATOMIC };
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		CHECK_MSG(lab_alloc_page(m, flags[i]) == NULL, "gfp %#x", flags[i]);
		CHECK_EQ(lab_alloc_index(m, flags[i], 1), -ENOMEM);
	}
	unchanged(m, 0);
	lab_destroy(m);
}

TEST(thread_id_reuse_does_not_inherit_pages)
{
	struct labyrinth *m = mk(1024, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	void *s = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(p && s);
	lab_owner_t me = lab_self();
	/* This thread "exits" and a new thread with the same tid starts: the
	 * exit hook retires the owner key; the next call takes a new one. */
	lab_thread_exit_hook();
	CHECK_EQ(lab_self(), me);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(lab_page_owner(m, p), me); /* the owner's tid is still reported */
	CHECK_EQ(lab_free_page(m, p), -EPERM);
	CHECK_EQ(lab_page_give(m, p, me), -EPERM);
	unchanged(m, st.free);
	CHECK_EQ(lab_free_page(m, s), 0); /* a shared page: anyone may free it */
	/* a live thread hands the page over explicitly: only the new key may */
	void *q = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(q);
	CHECK_EQ(lab_page_give(m, q, me), 0);
	CHECK_EQ(lab_free_page(m, q), 0);
	lab_destroy(m);
}

#ifdef LAB_ASAN
/* Only in AddressSanitizer builds: a write to a freed room is reported. */
TEST(asan_reports_use_after_free)
{
	int fd[2];
	REQUIRE(pipe(fd) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		struct labyrinth *m = mk(64, 0);
		volatile char *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
		p[0] = 1;
		lab_free_page(m, (void *)p);
		p[100] = 2; /* must not survive */
		_exit(0);
	}
	close(fd[1]);
	char buf[8192];
	size_t len = 0;
	ssize_t n;
	while (len < sizeof buf - 1 && (n = read(fd[0], buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	CHECK_MSG(strstr(buf, "use-after-poison") != NULL, "stderr: %.200s", buf);
}
#endif

/* Run fn in a child with stderr captured; its exit status and stderr. */
static int in_child(void (*fn)(void), char *buf, size_t cap)
{
	int fd[2];
	REQUIRE(pipe(fd) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		fn();
		_exit(0);
	}
	close(fd[1]);
	size_t len = 0;
	ssize_t n;
	while (len < cap - 1 && (n = read(fd[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	return st;
}

static void free_stale_handle(void)
{
	struct page *old = alloc_page(GFP_ATOMIC);
	__free_page(old);
	struct page *now = alloc_page(GFP_ATOMIC); /* the same room, again */
	if (page_address(now) != page_address(old) || now == old)
		_exit(3); /* the scenario did not happen: fail loudly */
	__free_page(old); /* stale: must panic */
	_exit(0);
}

TEST(stale_linux_handle_is_refused)
{
	struct page *a = alloc_page(GFP_ATOMIC);
	REQUIRE(a);
	CHECK(virt_to_page(page_address(a)) == a);
	CHECK(virt_to_page((char *)page_address(a) + 100) == a);
	__free_page(a);
	struct page *b = alloc_page(GFP_ATOMIC);
	REQUIRE(b);
	CHECK(page_address(b) == page_address(a)); /* the thread cache is LIFO */
	CHECK(b != a);				   /* a new generation */
	__free_page(b);
	char err[4096];
	int st = in_child(free_stale_handle, err, sizeof err);
	CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "child status %#x", st);
	CHECK_MSG(strstr(err, "stale handle") != NULL, "stderr: %.200s", err);
}

/* A thread that learns its id before any maze exists must still give its
 * cache back when it exits. Runs in a fresh process (the key that hooks
 * thread exit is made by the first lab_create of a process). */
static pthread_barrier_t early_bar;
static struct labyrinth *early_maze;

static void *early_thread(void *arg)
{
	(void)arg;
	(void)lab_self();		  /* the id is cached before any maze */
	pthread_barrier_wait(&early_bar); /* main makes the maze */
	pthread_barrier_wait(&early_bar);
	void *p = lab_alloc_page(early_maze, LAB_GFP_ATOMIC);
	if (!p || lab_free_page(early_maze, p) != 0) /* parks it in the cache */
		_exit(4);
	return NULL;
}

static int early_child(void)
{
	pthread_t t;
	pthread_barrier_init(&early_bar, NULL, 2);
	pthread_create(&t, NULL, early_thread, NULL);
	pthread_barrier_wait(&early_bar);
	struct lab_config cfg = { .pages = 1024 };
	if (lab_create(&early_maze, &cfg) != 0)
		return 5;
	pthread_barrier_wait(&early_bar);
	pthread_join(t, NULL);
	struct lab_stats st;
	lab_stats(early_maze, &st);
	if (st.cached != 0) {
		fprintf(stderr, "%zu rooms still cached by an exited thread\n", st.cached);
		return 6;
	}
	return st.free == 1024 ? 0 : 7;
}

TEST(exit_hook_for_a_thread_that_met_us_early)
{
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("LAB_EARLY_CHILD", "1", 1);
		execl("/proc/self/exe", "test_hardening", "exit_hook_for_a_thread", (char *)NULL);
		_exit(3);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
}

__attribute__((constructor)) static void early_child_entry(void)
{
	if (getenv("LAB_EARLY_CHILD"))
		_exit(early_child());
}

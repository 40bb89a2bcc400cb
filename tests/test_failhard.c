/* SPDX-License-Identifier: MIT */
/* Fail-hard: allocpage_gfp_atomic_exclusive never returns NULL, the default
 * panic writes the message to stderr and aborts, custom handlers get the
 * message, a handler that returns is followed by abort(), and
 * dealloc_labyrinth_page_exclusive and NOFAIL without KERNEL panic. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define OOM_MSG "Labyrinth allocpage exclusive failed: out of memory"

static struct labyrinth *mk(size_t pages, size_t reserve)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.pages = pages;
	cfg.reserve = reserve;
	int rc = lab_create(&m, &cfg);
	CHECK_EQ(rc, 0);
	REQUIRE(rc == 0 && m);
	return m;
}

static size_t nfree(const struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	return st.free;
}

static void exhaust(struct labyrinth *m)
{
	while (lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0)
		;
}

/* Run fn in a child whose stderr is captured; returns the wait status. */
static int in_child(void (*fn)(void), char *err, size_t errlen)
{
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		alarm(20); /* a hang dies by SIGALRM, not SIGABRT */
		fn();
		_exit(0); /* fn returned: no panic */
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(fds[0], err + n, errlen - 1 - n)) > 0 && n < errlen - 1)
		n += (size_t)r;
	err[n] = '\0';
	close(fds[0]);
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	return status;
}

#define CHECK_ABORTED(status, err)                                                                 \
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,                              \
		  "child status %#x (exited %d code %d, signal %d), stderr: %s", status,           \
		  WIFEXITED(status), WIFEXITED(status) ? WEXITSTATUS(status) : -1,                 \
		  WIFSIGNALED(status) ? WTERMSIG(status) : -1, err)

static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

/* ---- the default handler ---- */

static void child_oom(void)
{
	struct labyrinth *m = mk(4, 0);
	exhaust(m);
	void *p = allocpage_gfp_atomic_exclusive(m);
	fprintf(stderr, "returned %p\n", p);
}

TEST(failhard_default_aborts)
{
	char err[4096];
	int st = in_child(child_oom, err, sizeof err);
	CHECK_ABORTED(st, err);
	CHECK_MSG(strstr(err, OOM_MSG) != NULL, "stderr: %s", err);
	char *at = strstr(err, OOM_MSG);
	CHECK_MSG(at && strchr(at, '\n') != NULL, "no newline after the message: %s", err);
	CHECK(strstr(err, "returned") == NULL);
}

static void child_oom_reserve(void)
{
	/* the fail-hard call is ATOMIC: it takes both reserve rooms, then panics */
	struct labyrinth *m = mk(4, 2);
	while (lab_alloc_index(m, LAB_GFP_NOWAIT, 0) >= 0)
		;
	if (nfree(m) != 2)
		_exit(3);
	if (!allocpage_gfp_atomic_exclusive(m) || !allocpage_gfp_atomic_exclusive(m))
		_exit(4);
	say("reserve-taken\n");
	allocpage_gfp_atomic_exclusive(m);
}

TEST(failhard_takes_reserve_then_aborts)
{
	char err[4096];
	int st = in_child(child_oom_reserve, err, sizeof err);
	CHECK_ABORTED(st, err);
	CHECK_MSG(strstr(err, "reserve-taken") != NULL, "stderr: %s", err);
	CHECK_MSG(strstr(err, OOM_MSG) != NULL, "stderr: %s", err);
}

struct thread_free {
	struct labyrinth *m;
	void *p;
	int rc;
};

static void *free_thread(void *arg)
{
	struct thread_free *t = arg;
	t->rc = lab_free_page(t->m, t->p);
	return NULL;
}

TEST(failhard_normal_path)
{
	struct labyrinth *m = mk(16, 0);
	void *p = allocpage_gfp_atomic_exclusive(m);
	REQUIRE(p);
	CHECK_EQ(nfree(m), 15);
	CHECK_EQ(lab_page_owner(m, p), lab_self());
	memset(p, 0xab, 4096);
	struct thread_free t = { .m = m, .p = p };
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, free_thread, &t) == 0);
	pthread_join(th, NULL);
	CHECK_EQ(t.rc, -EPERM); /* it is exclusive */
	dealloc_labyrinth_page_exclusive(m, p);
	CHECK_EQ(nfree(m), 16);
	CHECK_EQ(lab_page_owner(m, p), 0);
	/* all 16 rooms, none NULL */
	void *all[16];
	for (int i = 0; i < 16; i++) {
		all[i] = allocpage_gfp_atomic_exclusive(m);
		CHECK(all[i] != NULL);
	}
	CHECK_EQ(nfree(m), 0);
	for (int i = 0; i < 16; i++)
		dealloc_labyrinth_page_exclusive(m, all[i]);
	CHECK_EQ(nfree(m), 16);
	char why[128];
	CHECK_EQ(lab_validate(m, why, sizeof why), 0);
	lab_destroy(m);
}

/* ---- custom handlers ---- */

static char got_msg[1024];
static atomic_int got_calls;
static _Thread_local sigjmp_buf *panic_jmp;

static void jumping_handler(const char *message)
{
	snprintf(got_msg, sizeof got_msg, "%s", message ? message : "(null)");
	atomic_fetch_add(&got_calls, 1);
	if (panic_jmp)
		siglongjmp(*panic_jmp, 1);
}

/* Call fn(m, p) expecting a panic caught by jumping_handler; 1 if it panicked. */
static int expect_panic(void (*fn)(struct labyrinth *, void *), struct labyrinth *m, void *p)
{
	sigjmp_buf jb;
	int panicked = 0;
	got_msg[0] = '\0';
	atomic_store(&got_calls, 0);
	panic_jmp = &jb;
	if (sigsetjmp(jb, 1) == 0)
		fn(m, p);
	else
		panicked = 1;
	panic_jmp = NULL;
	return panicked && atomic_load(&got_calls) == 1;
}

static void call_failhard(struct labyrinth *m, void *p)
{
	(void)p;
	allocpage_gfp_atomic_exclusive(m);
}

TEST(custom_handler_longjmp)
{
	struct labyrinth *m = mk(8, 0);
	exhaust(m);
	CHECK(lab_set_panic_handler(jumping_handler) == NULL);
	CHECK_MSG(expect_panic(call_failhard, m, NULL), "no panic, calls %d",
		  atomic_load(&got_calls));
	CHECK_MSG(strstr(got_msg, OOM_MSG) != NULL, "message: %s", got_msg);
	CHECK_EQ(nfree(m), 0);
	/* a second time works as well */
	CHECK(expect_panic(call_failhard, m, NULL));
	CHECK(strstr(got_msg, OOM_MSG) != NULL);
	CHECK(lab_set_panic_handler(NULL) == jumping_handler);
	for (size_t i = 0; i < 8; i++)
		CHECK_EQ(lab_free_index(m, i, 0), 0);
	lab_destroy(m);
}

static void returning_handler(const char *message)
{
	say("custom-handler:");
	say(message);
	say("\n");
}

static void child_returning(void)
{
	lab_set_panic_handler(returning_handler);
	struct labyrinth *m = mk(2, 0);
	exhaust(m);
	void *p = allocpage_gfp_atomic_exclusive(m);
	fprintf(stderr, "returned %p\n", p);
}

TEST(custom_handler_returns_then_abort)
{
	char err[4096];
	int st = in_child(child_returning, err, sizeof err);
	CHECK_ABORTED(st, err);
	CHECK_MSG(strstr(err, "custom-handler:" OOM_MSG) != NULL, "stderr: %s", err);
	CHECK(strstr(err, "returned") == NULL);
}

/* ---- dealloc_labyrinth_page_exclusive misuse ---- */

static void call_dealloc(struct labyrinth *m, void *p)
{
	dealloc_labyrinth_page_exclusive(m, p);
}

struct remote_dealloc {
	struct labyrinth *m;
	void *p;
	int panicked;
	char msg[1024];
};

static void *remote_dealloc_thread(void *arg)
{
	struct remote_dealloc *r = arg;
	r->panicked = expect_panic(call_dealloc, r->m, r->p);
	snprintf(r->msg, sizeof r->msg, "%s", got_msg);
	return NULL;
}

#define CHECK_LAB_MSG(what)                                                                        \
	CHECK_MSG(got_msg[0] && strstr(got_msg, "Labyrinth") != NULL, "%s: message '%s'", what,    \
		  got_msg)

TEST(dealloc_misuse_panics)
{
	struct labyrinth *m = mk(16, 0);
	struct labyrinth *other = mk(16, 0);
	lab_set_panic_handler(jumping_handler);
	char stackbuf[64];

	/* double free */
	void *p = allocpage_gfp_atomic_exclusive(m);
	REQUIRE(p);
	dealloc_labyrinth_page_exclusive(m, p);
	CHECK_MSG(expect_panic(call_dealloc, m, p), "double free did not panic");
	CHECK_LAB_MSG("double free");
	printf("double free: %s\n", got_msg);
	CHECK_EQ(nfree(m), 16);

	/* foreign pointers */
	CHECK_MSG(expect_panic(call_dealloc, m, stackbuf), "stack pointer did not panic");
	CHECK_LAB_MSG("foreign pointer");
	printf("foreign: %s\n", got_msg);
	void *op = allocpage_gfp_atomic_exclusive(other);
	REQUIRE(op);
	CHECK_MSG(expect_panic(call_dealloc, m, op), "other maze's page did not panic");
	CHECK_LAB_MSG("other maze");
	CHECK_EQ(lab_page_owner(other, op), lab_self());
	dealloc_labyrinth_page_exclusive(other, op);
	CHECK_EQ(nfree(other), 16);

	/* interior pointer */
	p = allocpage_gfp_atomic_exclusive(m);
	REQUIRE(p);
	CHECK_MSG(expect_panic(call_dealloc, m, (char *)p + 8), "interior pointer did not panic");
	CHECK_LAB_MSG("interior pointer");
	CHECK_EQ(nfree(m), 15);

	/* not the owner, from another thread: panics there, the page stays */
	struct remote_dealloc r = { .m = m, .p = p };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, remote_dealloc_thread, &r) == 0);
	pthread_join(t, NULL);
	CHECK_MSG(r.panicked, "non-owner dealloc did not panic");
	CHECK_MSG(r.msg[0] && strstr(r.msg, "Labyrinth"), "non-owner: message '%s'", r.msg);
	printf("non-owner: %s\n", r.msg);
	CHECK_EQ(nfree(m), 15);
	CHECK_EQ(lab_page_owner(m, p), lab_self());
	dealloc_labyrinth_page_exclusive(m, p);
	CHECK_EQ(nfree(m), 16);

	/* a block of order 2 is not a page */
	void *b = lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 2);
	REQUIRE(b);
	CHECK_MSG(expect_panic(call_dealloc, m, b), "order-2 block did not panic");
	CHECK_LAB_MSG("wrong order");
	CHECK_EQ(nfree(m), 12);
	CHECK_EQ(lab_free_pages(m, b, 2), 0);

	char why[128];
	CHECK_EQ(lab_validate(m, why, sizeof why), 0);
	CHECK_EQ(lab_validate(other, why, sizeof why), 0);
	CHECK_EQ(nfree(m), 16);
	lab_set_panic_handler(NULL);
	lab_destroy(m);
	lab_destroy(other);
}

static void child_double_free(void)
{
	struct labyrinth *m = mk(4, 0);
	void *p = allocpage_gfp_atomic_exclusive(m);
	dealloc_labyrinth_page_exclusive(m, p);
	dealloc_labyrinth_page_exclusive(m, p);
	say("survived\n");
}

TEST(dealloc_double_free_default_aborts)
{
	char err[4096];
	int st = in_child(child_double_free, err, sizeof err);
	CHECK_ABORTED(st, err);
	CHECK_MSG(strstr(err, "Labyrinth") != NULL, "stderr: %s", err);
	CHECK(strstr(err, "survived") == NULL);
}

/* ---- NOFAIL without KERNEL ---- */

static unsigned nofail_order;
static lab_gfp_t nofail_gfp;

static void call_nofail(struct labyrinth *m, void *p)
{
	(void)p;
	lab_alloc_pages(m, nofail_gfp, nofail_order);
}

static void call_nofail_index(struct labyrinth *m, void *p)
{
	(void)p;
	lab_alloc_index(m, nofail_gfp, nofail_order);
}

TEST(nofail_without_kernel_panics)
{
	struct labyrinth *m = mk(64, 0);
	lab_set_panic_handler(jumping_handler);
	exhaust(m);
	struct {
		lab_gfp_t gfp;
		unsigned order;
	} cases[] = {
		{ LAB_GFP_ATOMIC | LAB_GFP_NOFAIL, 5 },
		{ LAB_GFP_ATOMIC | LAB_GFP_NOFAIL | LAB_GFP_EXCLUSIVE, 3 },
		{ LAB_GFP_NOWAIT | LAB_GFP_NOFAIL, 0 },
		{ LAB_GFP_NOFAIL, 2 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char num[8];
		nofail_gfp = cases[i].gfp;
		nofail_order = cases[i].order;
		snprintf(num, sizeof num, "%u", nofail_order);
		CHECK_MSG(expect_panic(call_nofail, m, NULL), "gfp %#x order %u: no panic",
			  nofail_gfp, nofail_order);
		CHECK_MSG(strstr(got_msg, "out of memory") && strstr(got_msg, num),
			  "gfp %#x order %u: message '%s'", nofail_gfp, nofail_order, got_msg);
		CHECK_MSG(expect_panic(call_nofail_index, m, NULL), "index gfp %#x: no panic",
			  nofail_gfp);
		CHECK_MSG(strstr(got_msg, "out of memory") && strstr(got_msg, num), "message '%s'",
			  got_msg);
	}
	printf("nofail: %s\n", got_msg);
	CHECK_EQ(nfree(m), 0);
	/* with rooms free, NOFAIL without KERNEL simply succeeds */
	CHECK_EQ(lab_free_index(m, 0, 0), 0);
	long i = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_NOFAIL, 0);
	CHECK_EQ(i, 0);
	/* KERNEL|NOFAIL for an order the maze can never hold: panics, does not hang */
	for (size_t k = 0; k < 64; k++)
		lab_free_index(m, k, 0);
	CHECK_EQ(nfree(m), 64);
	nofail_gfp = LAB_GFP_KERNEL | LAB_GFP_NOFAIL;
	nofail_order = 7;
	alarm(20);
	CHECK_MSG(expect_panic(call_nofail, m, NULL),
		  "KERNEL|NOFAIL order 7 of 64 rooms: no panic");
	alarm(0);
	CHECK_EQ(nfree(m), 64);
	lab_set_panic_handler(NULL);
	lab_destroy(m);
}

static void child_nofail(void)
{
	struct labyrinth *m = mk(64, 0);
	exhaust(m);
	lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_NOFAIL, 4);
	say("survived\n");
}

TEST(nofail_default_aborts)
{
	char err[4096];
	int st = in_child(child_nofail, err, sizeof err);
	CHECK_ABORTED(st, err);
	CHECK_MSG(strstr(err, "out of memory") && strstr(err, "4"), "stderr: %s", err);
	CHECK(strstr(err, "survived") == NULL);
}

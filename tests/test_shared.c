/* SPDX-License-Identifier: MIT */
/* Shared mazes across fork(): POSIX shared memory and memfds.
 * Children always attach afresh (lab_shm_attach / lab_attach_fd); they never
 * use a handle inherited from the parent. Every wait on a child is bounded
 * (10 s), so a lost wake-up or a hang fails the test instead of stalling it.
 * The mixed test prints its seed (LAB_TEST_SEED overrides it) and checks,
 * through a claim map shared by every process, that no room is handed out
 * twice and that nothing is lost. */
#define _GNU_SOURCE
#include "harness.h"
#include "shared/format.h"

#include <errno.h>
#include <fcntl.h>
#include <labyrinth.h>
#include <labyrinth/shared.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* a shm name unique to this process and call */
static const char *shm_name(void)
{
	static char buf[4][64];
	static unsigned n;
	char *b = buf[n % 4];
	snprintf(b, sizeof buf[0], "/labtest-%d-%u", (int)getpid(), n);
	n++;
	return b;
}

static struct labyrinth *mk_fd(size_t pages, size_t reserve, unsigned flags, int *fd)
{
	struct lab_config cfg = { .pages = pages, .reserve = reserve, .flags = flags };
	struct labyrinth *m = NULL;
	int rc = lab_create_fd(&cfg, fd, &m);
	CHECK_MSG(rc == 0, "lab_create_fd = %d (%s)", rc, lab_strerror(rc));
	REQUIRE(rc == 0 && m && *fd >= 0);
	CHECK_EQ(lab_kind(m), LAB_KIND_SHARED);
	return m;
}

static void valid_at(int line, struct labyrinth *m)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	CHECK_MSG(rc == 0, "line %d: lab_validate = %d: %s", line, rc, why);
}
#define VALID(m) valid_at(__LINE__, m)

static struct lab_stats stats(const struct labyrinth *m)
{
	struct lab_stats st;
	lab_stats(m, &st);
	return st;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A child with two pipes. The child's function returns its exit code. */
struct kid {
	pid_t pid;
	int to, from; /* our ends */
};
struct kid_io {
	int in, out; /* the child's ends */
	const void *arg;
};

static struct kid kid_start(int (*fn)(struct kid_io *io), const void *arg)
{
	int a[2], b[2];
	REQUIRE(pipe(a) == 0 && pipe(b) == 0);
	struct kid k;
	fflush(NULL);
	k.pid = fork();
	REQUIRE(k.pid >= 0);
	if (k.pid == 0) {
		close(a[1]);
		close(b[0]);
		struct kid_io io = { a[0], b[1], arg };
		_exit(fn(&io));
	}
	close(a[0]);
	close(b[1]);
	k.to = a[1];
	k.from = b[0];
	return k;
}

/* n bytes from the child within 10 s */
static bool kid_get(struct kid *k, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = k->from, .events = POLLIN };
		if (poll(&p, 1, 10000) != 1)
			return false;
		ssize_t r = read(k->from, (char *)buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void kid_put(struct kid *k, const void *buf, size_t n)
{
	CHECK(write(k->to, buf, n) == (ssize_t)n);
}

/* the child's exit code (100 + signal if killed); kills it after 10 s */
static int kid_end(struct kid *k)
{
	close(k->to);
	close(k->from);
	int st = 0;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(k->pid, &st, WNOHANG);
		if (r == k->pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
		sleep_ms(10);
	}
	fprintf(stderr, "child %d did not end: killed\n", (int)k->pid);
	kill(k->pid, SIGKILL);
	waitpid(k->pid, &st, 0);
	return 99;
}

/* in a child: report and fail */
#define KCHECK(c)                                                                                  \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "child %d: %s:%d: %s\n", (int)getpid(), __FILE__,          \
				__LINE__, #c);                                                     \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static bool kput(struct kid_io *io, const void *buf, size_t n)
{
	return write(io->out, buf, n) == (ssize_t)n;
}

static bool kget(struct kid_io *io, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(io->in, (char *)buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* what a child attaches to: a name or an fd */
struct target {
	const char *name; /* NULL: fd */
	int fd;
};

static struct labyrinth *attach(const struct target *t)
{
	struct labyrinth *m = NULL;
	int rc = t->name ? lab_shm_attach(t->name, &m) : lab_attach_fd(t->fd, &m);
	if (rc != 0) {
		fprintf(stderr, "child %d: attach = %d (%s)\n", (int)getpid(), rc,
			lab_strerror(rc));
		return NULL;
	}
	return m;
}

static uint64_t stamp_of(size_t idx)
{
	return 0x6c61627900000000ull ^ (idx * 0x9e3779b97f4a7c15ull);
}

/* ------------------------------------------------------------ create, attach */

static int kid_write_page(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	KCHECK(lab_kind(m) == LAB_KIND_SHARED);
	/* read the parent's page */
	size_t idx;
	KCHECK(kget(io, &idx, sizeof idx));
	uint64_t *p = lab_index_page(m, idx);
	KCHECK(p && p[0] == stamp_of(idx) && p[511] == ~stamp_of(idx));
	KCHECK(lab_index_owner(m, idx) == (lab_owner_t)getppid());
	/* and leave one for the parent */
	uint64_t *q = lab_alloc_page(m, LAB_GFP_ATOMIC);
	KCHECK(q);
	long qi = lab_page_index(m, q);
	KCHECK(qi >= 0);
	q[0] = stamp_of((size_t)qi);
	q[511] = ~stamp_of((size_t)qi);
	lab_owner_t me = lab_self();
	KCHECK(me == (lab_owner_t)getpid());
	KCHECK(kput(io, &qi, sizeof qi));
	return lab_detach(m) == 0 ? 0 : 2;
}

/* parent writes a page, child reads it and writes one, parent reads it */
static void page_round_trip(struct labyrinth *m, const struct target *t)
{
	uint64_t *p = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
	REQUIRE(p);
	size_t idx = (size_t)lab_page_index(m, p);
	p[0] = stamp_of(idx);
	p[511] = ~stamp_of(idx);
	struct kid k = kid_start(kid_write_page, t);
	kid_put(&k, &idx, sizeof idx);
	long qi = -1;
	CHECK(kid_get(&k, &qi, sizeof qi));
	pid_t kid = k.pid;
	CHECK_EQ(kid_end(&k), 0);
	REQUIRE(qi >= 0);
	uint64_t *q = lab_index_page(m, (size_t)qi);
	REQUIRE(q);
	CHECK(q[0] == stamp_of((size_t)qi) && q[511] == ~stamp_of((size_t)qi));
	CHECK_EQ(lab_index_owner(m, (size_t)qi), kid);
	CHECK_EQ(lab_free_page(m, q), 0); /* shared: any thread may free it */
	CHECK_EQ(lab_free_page(m, p), 0);
	lab_drain(m);
	CHECK_EQ(stats(m).free, stats(m).pages);
	VALID(m);
}

TEST(shm_create_attach_unlink)
{
	const char *name = shm_name();
	struct lab_config cfg = { .pages = 1024 };
	struct labyrinth *m = NULL, *m2 = NULL;
	int rc = lab_shm_create(name, &cfg, &m);
	CHECK_MSG(rc == 0, "lab_shm_create = %d (%s)", rc, lab_strerror(rc));
	REQUIRE(rc == 0 && m);
	CHECK_EQ(lab_kind(m), LAB_KIND_SHARED);
	CHECK_EQ(lab_shm_create(name, &cfg, &m2), -EEXIST);
	CHECK(m2 == NULL);
	struct target t = { name, -1 };
	page_round_trip(m, &t);
	CHECK_EQ(lab_shm_unlink(name), 0);
	CHECK_EQ(lab_shm_unlink(name), -ENOENT);
	CHECK_EQ(lab_shm_attach(name, &m2), -ENOENT);
	CHECK(m2 == NULL);
	/* the maze lives on in our mapping */
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	CHECK(p != NULL);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_detach(m), 0);
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL); /* a detached handle is dead */
}

TEST(memfd_create_attach_fd)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(1024, 0, 0, &fd);
	struct target t = { NULL, fd };
	page_round_trip(m, &t);
	/* a second handle in this process, on the same object, is refused:
	 * detaching one would end the identity of the other's threads */
	struct labyrinth *m2 = NULL;
	CHECK_EQ(lab_attach_fd(fd, &m2), -EBUSY);
	CHECK(m2 == NULL);
	close(fd); /* attached mazes do not need the fd */
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	CHECK(p != NULL);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_detach(m), 0);
}

/* ------------------------------------------------------------ every flag and order */

static int kid_every_gfp(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	struct lab_stats st = stats(m);
	KCHECK(st.pages == 4096 && st.max_order == LAB_MAX_ORDER);
	/* dirty every room, so that ZERO has something to clear */
	for (int i = 0; i < 4; i++) {
		char *p = lab_alloc_pages(m, LAB_GFP_ATOMIC, 10);
		KCHECK(p);
		memset(p, 0xa5, (size_t)4096 << 10);
	}
	for (size_t i = 0; i < 4096; i += 1024)
		KCHECK(lab_free_index(m, i, 10) == 0);
	lab_owner_t me = lab_self();
	for (lab_gfp_t gfp = 0; gfp <= LAB_GFP_ALL; gfp++) {
		for (unsigned order = 0; order <= LAB_MAX_ORDER; order++) {
			size_t len = (size_t)4096 << order;
			char *p = lab_alloc_pages(m, gfp, order);
			if (!p)
				fprintf(stderr, "gfp %#x order %u: NULL\n", gfp, order);
			KCHECK(p);
			long idx = lab_page_index(m, p);
			KCHECK(idx >= 0 && ((size_t)idx & (((size_t)1 << order) - 1)) == 0);
			KCHECK(((uintptr_t)p & (len - 1)) == 0);
			struct lab_room r;
			KCHECK(lab_room_info(m, (size_t)idx + ((size_t)1 << order) - 1, &r) == 0);
			KCHECK(r.state == LAB_ROOM_ALLOCATED && r.order == order &&
			       r.block == (size_t)idx && r.owner == me);
			KCHECK(r.exclusive == !!(gfp & LAB_GFP_EXCLUSIVE));
			if (gfp & LAB_GFP_ZERO)
				for (size_t b = 0; b < len; b += 512)
					KCHECK(p[b] == 0 && p[b + 511] == 0);
			memset(p, 0x5a, len);
			KCHECK(lab_free_pages(m, p, order) == 0);
			KCHECK(lab_free_pages(m, p, order) == -ENOENT);
		}
		/* by index too */
		long x = lab_alloc_index(m, gfp, (unsigned)gfp % 11);
		KCHECK(x >= 0);
		KCHECK(lab_free_index(m, (size_t)x, (unsigned)gfp % 11) == 0);
	}
	/* unknown bits and orders past the largest fail */
	KCHECK(lab_alloc_page(m, LAB_GFP_ALL + 1) == NULL);
	KCHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1) < 0);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(every_gfp_and_order_in_another_process)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(4096, 0, 0, &fd);
	struct target t = { NULL, fd };
	struct kid k = kid_start(kid_every_gfp, &t);
	CHECK_EQ(kid_end(&k), 0);
	/* the child detached: its cache came back */
	struct lab_stats st = stats(m);
	CHECK_EQ(st.free, 4096);
	CHECK_EQ(st.cached, 0);
	VALID(m);
	close(fd);
	lab_detach(m);
}

/* ------------------------------------------------------------ ownership */

struct give_thread {
	struct labyrinth *m;
	struct kid_io *io;
	int rc;
};

/* a second thread of the child: it is given the parent's exclusive page,
 * checks it and gives it back to the parent's (main) thread */
static void *give_target(void *arg)
{
	struct give_thread *g = arg;
	g->rc = 1;
	lab_owner_t me = lab_self();
	if (me != (lab_owner_t)syscall(SYS_gettid) || !kput(g->io, &me, sizeof me))
		return NULL;
	size_t idx;
	if (!kget(g->io, &idx, sizeof idx))
		return NULL;
	if (lab_index_owner(g->m, idx) != me)
		return NULL;
	uint64_t *p = lab_index_page(g->m, idx);
	if (!p || p[0] != stamp_of(idx))
		return NULL;
	if (lab_page_give(g->m, p, (lab_owner_t)getppid()) != 0)
		return NULL;
	g->rc = 2;
	return NULL;
}

static int kid_exclusive(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	size_t ex;
	KCHECK(kget(io, &ex, sizeof ex));
	void *p = lab_index_page(m, ex);
	KCHECK(p);
	/* not ours: refused, nothing changes */
	KCHECK(lab_free_page(m, p) == -EPERM);
	KCHECK(lab_page_give(m, p, lab_self()) == -EPERM);
	KCHECK(lab_index_adopt(m, ex) == -EPERM); /* its owner is alive */
	KCHECK(lab_index_owner(m, ex) == (lab_owner_t)getppid());
	/* one of ours, exclusive: the parent may not free it */
	long mine = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 1);
	KCHECK(mine >= 0);
	KCHECK(kput(io, &mine, sizeof mine));
	char c;
	KCHECK(kget(io, &c, 1) && c == 'n'); /* the parent tried */
	KCHECK(lab_free_index(m, (size_t)mine, 1) == 0);

	/* a second thread receives the parent's page */
	struct give_thread g = { m, io, 0 };
	pthread_t t;
	KCHECK(pthread_create(&t, NULL, give_target, &g) == 0);
	pthread_join(t, NULL);
	/* give_target handed it back to the parent */
	KCHECK(g.rc == 2);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(exclusive_ownership_and_give_across_processes)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(256, 0, 0, &fd);
	uint64_t *p = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(p);
	size_t ex = (size_t)lab_page_index(m, p);
	p[0] = stamp_of(ex);
	struct target t = { NULL, fd };
	struct kid k = kid_start(kid_exclusive, &t);
	kid_put(&k, &ex, sizeof ex);
	long mine = -1;
	CHECK(kid_get(&k, &mine, sizeof mine));
	if (mine >= 0) {
		CHECK_EQ(lab_index_owner(m, (size_t)mine), k.pid);
		CHECK_EQ(lab_free_index(m, (size_t)mine, 1), -EPERM);
		CHECK_EQ(lab_index_give(m, (size_t)mine, lab_self()), -EPERM);
	}
	kid_put(&k, "n", 1);
	/* the child's second thread: give it our page */
	lab_owner_t tid = 0;
	CHECK(kid_get(&k, &tid, sizeof tid));
	CHECK(tid != 0 && tid != (lab_owner_t)k.pid);
	CHECK_EQ(lab_page_give(m, p, tid), 0);
	CHECK_EQ(lab_page_owner(m, p), tid);
	CHECK_EQ(lab_free_page(m, p), -EPERM); /* not ours any more */
	kid_put(&k, &ex, sizeof ex);
	CHECK_EQ(kid_end(&k), 0);
	/* it came back to us, and the child's own block is free */
	CHECK_EQ(lab_page_owner(m, p), lab_self());
	CHECK_EQ(lab_free_page(m, p), 0);
	lab_drain(m);
	CHECK_EQ(stats(m).free, 256);
	VALID(m);
	close(fd);
	lab_detach(m);
}

static int kid_free_given(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	lab_owner_t me = lab_self();
	KCHECK(kput(io, &me, sizeof me));
	size_t idx;
	KCHECK(kget(io, &idx, sizeof idx));
	KCHECK(lab_index_owner(m, idx) == me);
	KCHECK(lab_free_index(m, idx, 3) == 0);
	KCHECK(lab_free_index(m, idx, 3) == -ENOENT);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(give_to_another_process_which_frees)
{
	const char *name = shm_name();
	struct lab_config cfg = { .pages = 512 };
	struct labyrinth *m = NULL;
	REQUIRE(lab_shm_create(name, &cfg, &m) == 0);
	long x = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(x >= 0);
	struct target t = { name, -1 };
	struct kid k = kid_start(kid_free_given, &t);
	lab_owner_t tid = 0;
	CHECK(kid_get(&k, &tid, sizeof tid));
	CHECK_EQ(tid, k.pid);
	CHECK_EQ(lab_index_give(m, (size_t)x, tid), 0);
	kid_put(&k, &x, sizeof x);
	CHECK_EQ(kid_end(&k), 0);
	struct lab_room r;
	CHECK_EQ(lab_room_info(m, (size_t)x, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_FREE);
	CHECK_EQ(stats(m).free, 512);
	VALID(m);
	lab_shm_unlink(name);
	lab_detach(m);
}

/* ------------------------------------------------------------ reserve, waits */

static int kid_reserve(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	/* the parent left exactly the reserve (8 rooms) */
	KCHECK(stats(m).free == 8);
	KCHECK(lab_alloc_page(m, LAB_GFP_NOWAIT) == NULL);
	KCHECK(lab_alloc_page(m, 0) == NULL);
	KCHECK(lab_alloc_index(m, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE, 0) == -ENOMEM);
	long got[8];
	for (int i = 0; i < 8; i++) {
		got[i] = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
		KCHECK(got[i] >= 0);
	}
	KCHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) == -ENOMEM);
	for (int i = 0; i < 8; i++)
		KCHECK(lab_free_index(m, (size_t)got[i], 0) == 0);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(reserve_across_processes)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(64, 8, 0, &fd);
	long got[56];
	for (int i = 0; i < 56; i++) {
		got[i] = lab_alloc_index(m, LAB_GFP_NOWAIT, 0);
		CHECK(got[i] >= 0);
	}
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_NOWAIT, 0), -ENOMEM);
	lab_drain(m);
	struct target t = { NULL, fd };
	struct kid k = kid_start(kid_reserve, &t);
	CHECK_EQ(kid_end(&k), 0);
	CHECK_EQ(stats(m).free, 8);
	for (int i = 0; i < 56; i++)
		if (got[i] >= 0)
			CHECK_EQ(lab_free_index(m, (size_t)got[i], 0), 0);
	lab_drain(m);
	CHECK_EQ(stats(m).free, 64);
	VALID(m);
	close(fd);
	lab_detach(m);
}

static int kid_wait(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	KCHECK(kput(io, "a", 1));
	long x = lab_alloc_index(m, LAB_GFP_KERNEL, 0);
	KCHECK(kput(io, &x, sizeof x));
	KCHECK(x >= 0);
	KCHECK(lab_free_index(m, (size_t)x, 0) == 0);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(kernel_wait_woken_by_a_free_in_another_process)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(16, 0, 0, &fd);
	long got[16];
	for (int i = 0; i < 16; i++) {
		got[i] = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
		REQUIRE(got[i] >= 0);
	}
	lab_drain(m);
	struct target t = { NULL, fd };
	struct kid k = kid_start(kid_wait, &t);
	char c = 0;
	CHECK(kid_get(&k, &c, 1) && c == 'a');
	/* until the child sleeps */
	int i;
	for (i = 0; i < 500 && stats(m).waiters == 0; i++)
		sleep_ms(10);
	CHECK_EQ(stats(m).waiters, 1);
	sleep_ms(20);
	long x = -1;
	struct pollfd pf = { .fd = k.from, .events = POLLIN };
	CHECK_MSG(poll(&pf, 1, 0) == 0, "the KERNEL allocation did not wait");
	CHECK_EQ(lab_free_index(m, (size_t)got[7], 0), 0);
	CHECK_MSG(kid_get(&k, &x, sizeof x), "not woken within 10 s");
	CHECK_EQ(x, got[7]); /* the only free room */
	CHECK_EQ(kid_end(&k), 0);
	CHECK_EQ(stats(m).waiters, 0);
	for (i = 0; i < 16; i++)
		if (i != 7)
			CHECK_EQ(lab_free_index(m, (size_t)got[i], 0), 0);
	lab_drain(m);
	CHECK_EQ(stats(m).free, 16);
	VALID(m);
	close(fd);
	lab_detach(m);
}

/* ------------------------------------------------------------ reap */

static const unsigned held_orders[] = { 0, 0, 0, 1, 3 };
#define HELD_ROOMS 13

/* allocate HELD_ROOMS rooms, report their blocks, drain (so that exactly
 * those rooms are owned), then die as told: 'x' without detach, 'd' with */
static int kid_hold_rooms(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	long idx[5];
	for (int i = 0; i < 5; i++) {
		idx[i] = lab_alloc_index(m, LAB_GFP_ATOMIC | (i & 1 ? LAB_GFP_EXCLUSIVE : 0),
					 held_orders[i]);
		KCHECK(idx[i] >= 0);
	}
	lab_drain(m);
	KCHECK(kput(io, idx, sizeof idx));
	char how = 0;
	KCHECK(kget(io, &how, 1));
	if (how == 'd')
		return lab_detach(m) == 0 ? 0 : 2;
	return 0; /* _exit without detach */
}

static void child_holds(const struct target *t, char how, long idx[5])
{
	struct kid k = kid_start(kid_hold_rooms, t);
	CHECK(kid_get(&k, idx, 5 * sizeof idx[0]));
	kid_put(&k, &how, 1);
	CHECK_EQ(kid_end(&k), 0);
}

TEST(reap_after_a_process_exits)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(1024, 0, 0, &fd);
	struct target t = { NULL, fd };
	CHECK_EQ(lab_reap(m), 0); /* nobody dead yet */
	for (int round = 0; round < 2; round++) {
		/* round 0: the child just exits; round 1: it detaches first */
		long idx[5];
		child_holds(&t, round ? 'd' : 'x', idx);
		CHECK_EQ(stats(m).free, 1024 - HELD_ROOMS);
		CHECK_EQ(lab_orphans(m, NULL, 0), 5);
		VALID(m);
		CHECK_EQ(lab_reap(m), HELD_ROOMS);
		CHECK_EQ(lab_reap(m), 0);
		CHECK_EQ(lab_orphans(m, NULL, 0), 0);
		for (int i = 0; i < 5; i++) {
			struct lab_room r;
			CHECK_EQ(lab_room_info(m, (size_t)idx[i], &r), 0);
			CHECK_EQ(r.state, LAB_ROOM_FREE);
		}
		CHECK_EQ(stats(m).free, 1024);
		VALID(m);
	}
	CHECK_EQ(lab_reap(NULL), -EINVAL);
	close(fd);
	lab_detach(m);
}

static int kid_die_with_cache(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	KCHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	KCHECK(lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0);
	return 0; /* its thread cache stays claimed */
}

TEST(reap_takes_back_a_dead_process_cache)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(1024, 0, 0, &fd);
	struct target t = { NULL, fd };
	struct kid k = kid_start(kid_die_with_cache, &t);
	CHECK_EQ(kid_end(&k), 0);
	long n = lab_reap(m);
	/* its two rooms, and its cache if the count includes caches */
	CHECK_MSG(n >= 2 && n <= 2 + 64, "lab_reap = %ld", n);
	struct lab_stats st = stats(m);
	CHECK_EQ(st.free, 1024);
	CHECK_EQ(st.cached, 0);
	VALID(m);
	CHECK_EQ(lab_reap(m), 0);
	close(fd);
	lab_detach(m);
}

static void *thread_holds(void *arg)
{
	struct labyrinth *m = arg;
	for (int i = 0; i < 5; i++)
		if (lab_alloc_index(m, LAB_GFP_ATOMIC | (i & 1 ? LAB_GFP_EXCLUSIVE : 0),
				    held_orders[i]) < 0)
			return (void *)1;
	lab_drain(m);
	return NULL;
}

static void thread_exit_then_reap(struct labyrinth *m, size_t pages)
{
	pthread_t t;
	void *rc = (void *)1;
	REQUIRE(pthread_create(&t, NULL, thread_holds, m) == 0);
	pthread_join(t, &rc);
	CHECK(rc == NULL);
	CHECK_EQ(stats(m).free, pages - HELD_ROOMS);
	CHECK_EQ(lab_orphans(m, NULL, 0), 5);
	CHECK_EQ(lab_reap(m), HELD_ROOMS);
	CHECK_EQ(lab_reap(m), 0);
	CHECK_EQ(stats(m).free, pages);
	VALID(m);
}

TEST(reap_after_a_thread_exits)
{
	int fd = -1;
	struct labyrinth *m = mk_fd(1024, 0, 0, &fd);
	thread_exit_then_reap(m, 1024);
	close(fd);
	lab_detach(m);
	/* private mazes too */
	struct lab_config cfg = { .pages = 1024 };
	struct labyrinth *p = NULL;
	REQUIRE(lab_create(&p, &cfg) == 0);
	CHECK_EQ(lab_kind(p), LAB_KIND_PRIVATE);
	CHECK_EQ(lab_reap(p), 0);
	thread_exit_then_reap(p, 1024);
	CHECK_EQ(lab_detach(p), 0); /* lab_destroy on a private maze */
}

static int kid_report_free(struct kid_io *io)
{
	struct labyrinth *m = attach(io->arg);
	KCHECK(m);
	size_t f = stats(m).free;
	KCHECK(kput(io, &f, sizeof f));
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(reap_on_attach)
{
	for (int with = 0; with < 2; with++) {
		int fd = -1;
		struct labyrinth *m = mk_fd(1024, 0, with ? LAB_REAP_ON_ATTACH : 0, &fd);
		struct target t = { NULL, fd };
		long idx[5];
		child_holds(&t, 'x', idx);
		CHECK_EQ(stats(m).free, 1024 - HELD_ROOMS);
		struct kid k = kid_start(kid_report_free, &t);
		size_t f = 0;
		CHECK(kid_get(&k, &f, sizeof f));
		CHECK_EQ(kid_end(&k), 0);
		CHECK_EQ(f, with ? 1024 : 1024 - HELD_ROOMS);
		CHECK_EQ(stats(m).free, with ? 1024 : 1024 - HELD_ROOMS);
		VALID(m);
		close(fd);
		lab_detach(m);
	}
}

/* ------------------------------------------------------------ detach, re-attach */

TEST(detach_then_reattach)
{
	const char *name = shm_name();
	struct lab_config cfg = { .pages = 128 };
	struct labyrinth *m = NULL;
	REQUIRE(lab_shm_create(name, &cfg, &m) == 0);
	uint64_t *p = lab_alloc_pages(m, LAB_GFP_ATOMIC, 2);
	REQUIRE(p);
	size_t idx = (size_t)lab_page_index(m, p);
	p[0] = stamp_of(idx);
	CHECK_EQ(lab_detach(m), 0);
	m = NULL;
	REQUIRE(lab_shm_attach(name, &m) == 0);
	CHECK_EQ(lab_kind(m), LAB_KIND_SHARED);
	p = lab_index_page(m, idx);
	REQUIRE(p);
	CHECK(p[0] == stamp_of(idx));
	struct lab_room r;
	CHECK_EQ(lab_room_info(m, idx, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
	CHECK_EQ(r.order, 2);
	CHECK_EQ(r.owner, lab_self());
	CHECK_EQ(lab_orphans(m, NULL, 0), 1); /* the detach left its owner gone */
	CHECK_EQ(lab_free_pages(m, p, 2), 0);
	CHECK_EQ(stats(m).free, 128);
	VALID(m);
	CHECK_EQ(lab_detach(m), 0);
	CHECK_EQ(lab_shm_unlink(name), 0);

	int fd = -1;
	m = mk_fd(128, 0, 0, &fd);
	long x = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 0);
	REQUIRE(x >= 0);
	CHECK_EQ(lab_detach(m), 0);
	m = NULL;
	REQUIRE(lab_attach_fd(fd, &m) == 0);
	CHECK_EQ(lab_index_owner(m, (size_t)x), lab_self());
	CHECK_EQ(lab_free_index(m, (size_t)x, 0), -EPERM); /* an old entry of ours: gone */
	CHECK_EQ(lab_index_adopt(m, (size_t)x), 0);
	CHECK_EQ(lab_free_index(m, (size_t)x, 0), 0);
	lab_drain(m);
	CHECK_EQ(stats(m).free, 128);
	close(fd);
	lab_detach(m);
}

/* ------------------------------------------------------------ errors */

static int memfd_with(const void *buf, size_t n)
{
	int fd = memfd_create("labtest", 0);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, buf, n) == (ssize_t)n);
	return fd;
}

/* want, or also want2 (when not 0) */
static void attach_fd_fails(int fd, int want, int want2, const char *what)
{
	struct labyrinth *m = NULL;
	int rc = lab_attach_fd(fd, &m);
	CHECK_MSG(rc == want || (want2 && rc == want2), "%s: lab_attach_fd = %d (%s), want %d",
		  what, rc, lab_strerror(rc), want);
	CHECK(m == NULL);
	if (m)
		lab_detach(m);
}

TEST(error_cases)
{
	struct labyrinth *m = NULL;
	struct lab_config cfg = { .pages = 64 };
	const char *name = shm_name();
	CHECK_EQ(lab_shm_attach(name, &m), -ENOENT);
	CHECK_EQ(lab_shm_unlink(name), -ENOENT);
	CHECK(m == NULL);

	/* bad configurations: -EINVAL, and no object left behind */
	struct lab_config bad[] = {
		{ .pages = 0 },
		{ .pages = 64, .page_size = 1000 },
		{ .pages = 64, .page_size = 2048 },
		{ .pages = 64, .reserve = 65 },
		{ .pages = 64, .flags = 0x80000000u },
		{ .pages = 64, .reserved_ = { 1 } },
		{ .pages = ((size_t)1 << 31) + 1, .flags = LAB_NO_MEMORY },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_MSG(lab_shm_create(name, &bad[i], &m) == -EINVAL, "config %zu", i);
		CHECK(m == NULL);
		CHECK_EQ(lab_shm_attach(name, &m), -ENOENT);
		int fd = -1;
		CHECK_MSG(lab_create_fd(&bad[i], &fd, &m) == -EINVAL, "config %zu (fd)", i);
		CHECK(m == NULL);
	}
	int fd = -1;
	CHECK_EQ(lab_shm_create(name, NULL, &m), -EINVAL);
	CHECK_EQ(lab_shm_create(NULL, &cfg, &m), -EINVAL);
	CHECK_EQ(lab_shm_create(name, &cfg, NULL), -EINVAL);
	CHECK_EQ(lab_shm_attach(name, NULL), -EINVAL);
	CHECK_EQ(lab_shm_attach(NULL, &m), -EINVAL);
	CHECK_EQ(lab_create_fd(NULL, &fd, &m), -EINVAL);
	CHECK_EQ(lab_create_fd(&cfg, NULL, &m), -EINVAL);
	CHECK_EQ(lab_create_fd(&cfg, &fd, NULL), -EINVAL);
	CHECK_EQ(lab_attach_fd(0, NULL), -EINVAL);
	CHECK_EQ(lab_detach(NULL), -EINVAL);
	CHECK_EQ(lab_shm_attach(name, &m), -ENOENT);

	/* create on an existing name, that of a maze or of anything else */
	REQUIRE(lab_shm_create(name, &cfg, &m) == 0);
	struct labyrinth *m2 = NULL;
	CHECK_EQ(lab_shm_create(name, &cfg, &m2), -EEXIST);
	CHECK(m2 == NULL);
	CHECK_EQ(lab_detach(m), 0);
	CHECK_EQ(lab_shm_unlink(name), 0);
	int raw = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(raw >= 0);
	REQUIRE(ftruncate(raw, 65536) == 0);
	CHECK_EQ(lab_shm_create(name, &cfg, &m2), -EEXIST);
	CHECK_EQ(lab_shm_attach(name, &m2), -EUCLEAN); /* zeros: not a maze */
	CHECK(m2 == NULL);
	close(raw);
	shm_unlink(name);

	/* attach_fd on what is no maze */
	/* not a regular file: the header does not say which error */
	attach_fd_fails(-1, -EBADF, -EINVAL, "fd -1");
	int nul = open("/dev/null", O_RDWR);
	REQUIRE(nul >= 0);
	attach_fd_fails(nul, -ENODEV, 0, "/dev/null");
	close(nul);
	int empty = memfd_with("", 0);
	attach_fd_fails(empty, -EUCLEAN, 0, "an empty memfd");
	close(empty);
	static uint8_t junk[3 * 4096];
	uint64_t s = 42;
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)harness_rand(&s);
	int j = memfd_with(junk, sizeof junk);
	attach_fd_fails(j, -EUCLEAN, 0, "random bytes");
	close(j);
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	struct labyrinth *pm = NULL;
	int prc = lab_attach_fd(pfd[0], &pm);
	CHECK_MSG(prc < 0 && pm == NULL, "attach_fd of a pipe = %d", prc);
	close(pfd[0]);
	close(pfd[1]);

	/* a real maze with its header changed: version, byte order, checksum,
	 * and one cut short */
	int mfd = -1;
	struct labyrinth *real = mk_fd(64, 0, 0, &mfd);
	CHECK_EQ(lab_detach(real), 0);
	struct stat st;
	REQUIRE(fstat(mfd, &st) == 0);
	struct lab_obj_hdr h0, h;
	REQUIRE(pread(mfd, &h0, sizeof h0, 0) == (ssize_t)sizeof h0);
	CHECK_EQ(h0.kind, LAB_OBJ_SHARED);
	CHECK_EQ(h0.total_len, (uint64_t)st.st_size);
	struct {
		const char *what;
		int want;
		int field; /* 0 version, 1 endian, 2 pages (no fix), 3 truncate */
	} cases[] = {
		{ "another version", -EPROTO, 0 },
		{ "byte-swapped endian marker", -EPROTO, 1 },
		{ "bad checksum", -EUCLEAN, 2 },
		{ "cut short", -EUCLEAN, 3 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int c = memfd_create("labtest", 0);
		REQUIRE(c >= 0);
		REQUIRE(ftruncate(c, st.st_size) == 0);
		h = h0;
		if (cases[i].field == 0)
			h.version = LAB_OBJ_VERSION + 1;
		if (cases[i].field == 1)
			h.endian = __builtin_bswap32(LAB_OBJ_ENDIAN);
		if (cases[i].field < 2)
			h.checksum = lab_obj_hdr_sum(&h);
		if (cases[i].field == 2)
			h.pages ^= 1;
		REQUIRE(pwrite(c, &h, sizeof h, 0) == (ssize_t)sizeof h);
		if (cases[i].field == 3)
			REQUIRE(ftruncate(c, st.st_size - 4096) == 0);
		attach_fd_fails(c, cases[i].want, 0, cases[i].what);
		close(c);
	}
	/* and the original still attaches */
	struct labyrinth *again = NULL;
	CHECK_EQ(lab_attach_fd(mfd, &again), 0);
	if (again)
		lab_detach(again);
	close(mfd);
}

/* ------------------------------------------------------------ mixed */

/* Two processes of two threads each allocate and free at random (orders
 * 0..4, shared and exclusive, ATOMIC and NOWAIT) in one memfd maze. A claim
 * byte per room in a shared anonymous mapping: set by the thread that got
 * the room, cleared before it frees it; finding it set means a room was
 * handed out twice. Each block carries a stamp checked before its free. */
#define MIX_PAGES 2048u
#define MIX_HELD 48u

struct mix {
	struct labyrinth *m;
	_Atomic uint8_t *claim;
	uint64_t seed;
	unsigned long iters;
	int bad;
};

static void *mix_thread(void *arg)
{
	struct mix *x = arg;
	uint64_t s = x->seed;
	long idx[MIX_HELD];
	unsigned ord[MIX_HELD];
	unsigned n = 0;
	uint64_t me = lab_self();
	for (unsigned long it = 0; it < x->iters && !x->bad; it++) {
		uint64_t r = harness_rand(&s);
		if (n < MIX_HELD && (n == 0 || r % 3 != 0)) {
			unsigned order = (unsigned)(r >> 8) % 5;
			lab_gfp_t gfp = (r & 0x100 ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT) |
					(r & 0x200 ? LAB_GFP_EXCLUSIVE : 0);
			long i = lab_alloc_index(x->m, gfp, order);
			if (i < 0)
				continue;
			for (size_t k = 0; k < ((size_t)1 << order); k++) {
				uint8_t z = 0;
				if (!atomic_compare_exchange_strong(&x->claim[i + (long)k], &z,
								    1)) {
					fprintf(stderr, "room %ld handed out twice\n", i + (long)k);
					x->bad = 1;
				}
			}
			uint64_t *p = lab_index_page(x->m, (size_t)i);
			p[0] = me << 32 | (uint64_t)i;
			idx[n] = i;
			ord[n++] = order;
		} else if (n) {
			unsigned j = (unsigned)(r >> 16) % n;
			uint64_t *p = lab_index_page(x->m, (size_t)idx[j]);
			if (p[0] != (me << 32 | (uint64_t)idx[j])) {
				fprintf(stderr, "room %ld: stamp %#llx\n", idx[j],
					(unsigned long long)p[0]);
				x->bad = 1;
			}
			for (size_t k = 0; k < ((size_t)1 << ord[j]); k++)
				atomic_store(&x->claim[idx[j] + (long)k], 0);
			int rc = lab_free_index(x->m, (size_t)idx[j], ord[j]);
			if (rc != 0) {
				fprintf(stderr, "free of %ld order %u = %d\n", idx[j], ord[j], rc);
				x->bad = 1;
			}
			idx[j] = idx[--n];
			ord[j] = ord[n];
		}
	}
	while (n) {
		n--;
		for (size_t k = 0; k < ((size_t)1 << ord[n]); k++)
			atomic_store(&x->claim[idx[n] + (long)k], 0);
		if (lab_free_index(x->m, (size_t)idx[n], ord[n]) != 0)
			x->bad = 1;
	}
	lab_drain(x->m);
	return NULL;
}

struct mix_arg {
	struct target t;
	_Atomic uint8_t *claim;
	uint64_t seed;
	unsigned long iters;
};

static int kid_mix(struct kid_io *io)
{
	const struct mix_arg *a = io->arg;
	struct labyrinth *m = attach(&a->t);
	KCHECK(m);
	struct mix x[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		x[i] = (struct mix){ m, a->claim, a->seed + (uint64_t)getpid() * 2 + (uint64_t)i,
				     a->iters, 0 };
		KCHECK(pthread_create(&t[i], NULL, mix_thread, &x[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	KCHECK(!x[0].bad && !x[1].bad);
	return lab_detach(m) == 0 ? 0 : 2;
}

TEST(mixed_processes_and_threads)
{
	uint64_t seed = harness_seed(getenv("LAB_TEST_SEED"), 0x5a4ed);
	int fd = -1;
	struct labyrinth *m = mk_fd(MIX_PAGES, 32, 0, &fd);
	_Atomic uint8_t *claim =
		mmap(NULL, MIX_PAGES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(claim != MAP_FAILED);
	struct mix_arg a = { { NULL, fd }, claim, seed, harness_scale(50000) };
	struct kid k[2];
	for (int i = 0; i < 2; i++)
		k[i] = kid_start(kid_mix, &a);
	/* and this process joins in */
	struct mix me = { m, claim, seed ^ 0xabcdef, harness_scale(50000), 0 };
	mix_thread(&me);
	CHECK(!me.bad);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(kid_end(&k[i]), 0);
	for (size_t i = 0; i < MIX_PAGES; i++)
		CHECK_MSG(claim[i] == 0, "room %zu still claimed", i);
	struct lab_stats st = stats(m);
	CHECK_EQ(st.free, MIX_PAGES);
	CHECK_EQ(st.cached, 0);
	CHECK_EQ(lab_reap(m), 0);
	VALID(m);
	munmap((void *)claim, MIX_PAGES);
	close(fd);
	lab_detach(m);
}

/* ------------------------------------------------------------ review regressions */

/* A reap while the process is out of file descriptors must not take a live
 * thread for dead (it cannot read /proc then). Private and shared mazes;
 * in a child, as the fd limit is per process. */
static struct labyrinth *fd_maze;
static pthread_barrier_t fd_bar;
static long fd_held;
static int fd_freed;
static void *fd_user(void *a)
{
	(void)a;
	fd_held = lab_alloc_index(fd_maze, LAB_GFP_EXCLUSIVE, 0);
	pthread_barrier_wait(&fd_bar);
	pthread_barrier_wait(&fd_bar);
	fd_freed = lab_free_index(fd_maze, (size_t)fd_held, 0);
	return NULL;
}

static int reap_without_fds(bool shared)
{
	struct lab_config cfg = { .pages = 4096, .flags = LAB_NO_MEMORY };
	int fd;
	if ((shared ? lab_create_fd(&cfg, &fd, &fd_maze) : lab_create(&fd_maze, &cfg)) != 0)
		return 10;
	pthread_barrier_init(&fd_bar, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, fd_user, NULL);
	pthread_barrier_wait(&fd_bar);
	struct rlimit rl = { 64, 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	while (open("/dev/null", O_RDONLY) >= 0)
		;
	long r = lab_reap(fd_maze);
	pthread_barrier_wait(&fd_bar);
	pthread_join(t, NULL);
	return fd_held < 0 ? 11 : r != 0 ? 12 : fd_freed != 0 ? 13 : 0;
}

TEST(reap_out_of_fds_spares_the_living)
{
	for (int shared = 0; shared < 2; shared++) {
		pid_t c = fork();
		if (c == 0)
			_exit(reap_without_fds(shared));
		int st = 0;
		waitpid(c, &st, 0);
		CHECK(WIFEXITED(st));
		CHECK_EQ(WEXITSTATUS(st), 0); /* 12: the live thread's room was reaped */
	}
}

/* A full registry recycles the entries of exited threads, but never frees
 * the page an exited producer handed over. */
static struct labyrinth *reg_maze;
static long reg_page;
static void *reg_producer(void *a)
{
	(void)a;
	reg_page = lab_alloc_index(reg_maze, LAB_GFP_NOWAIT, 0);
	return NULL;
}
static void *reg_churn(void *a)
{
	long i = lab_alloc_index(reg_maze, LAB_GFP_NOWAIT, 0);
	*(int *)a = i < 0 ? (int)i : lab_free_index(reg_maze, (size_t)i, 0);
	return NULL;
}

TEST(full_registry_keeps_handed_pages)
{
	struct lab_config cfg = { .pages = 1 << 16, .flags = LAB_NO_MEMORY };
	int fd;
	REQUIRE(lab_create_fd(&cfg, &fd, &reg_maze) == 0);
	pthread_t t;
	pthread_create(&t, NULL, reg_producer, NULL);
	pthread_join(t, NULL);
	REQUIRE(reg_page >= 0);
	/* more exited threads than the registry holds: entries must recycle */
	int bad = 0;
	for (unsigned k = 0; k < LAB_SHARED_THREADS + 100; k++) {
		int r = -1;
		pthread_create(&t, NULL, reg_churn, &r);
		pthread_join(t, NULL);
		bad += r != 0;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(lab_free_index(reg_maze, (size_t)reg_page, 0), 0);
	CHECK_EQ(lab_reap(reg_maze), 0);
	VALID(reg_maze);
	CHECK_EQ(stats(reg_maze).free, (size_t)1 << 16);
	close(fd);
	CHECK_EQ(lab_detach(reg_maze), 0);
}

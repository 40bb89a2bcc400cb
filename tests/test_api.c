/* SPDX-License-Identifier: MIT */
/* Every flag and every error code of the public API (include/labyrinth.h).
 * After each error the free count and lab_validate() show nothing changed. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <labyrinth.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

static lab_owner_t tid(void)
{
	return (lab_owner_t)syscall(SYS_gettid);
}

static struct labyrinth *mk(size_t page_size, size_t pages, size_t reserve, unsigned flags)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.page_size = page_size;
	cfg.pages = pages;
	cfg.reserve = reserve;
	cfg.flags = flags;
	int rc = lab_create(&m, &cfg);
	CHECK_MSG(rc == 0 && m, "lab_create(page_size=%zu pages=%zu reserve=%zu flags=%#x) = %d",
		  page_size, pages, reserve, flags, rc);
	REQUIRE(rc == 0 && m);
	return m;
}

static size_t nfree(const struct labyrinth *m)
{
	struct lab_stats st;
	memset(&st, 0xa5, sizeof st);
	lab_stats(m, &st);
	return st.free;
}

static void valid(const struct labyrinth *m, int line)
{
	char why[256] = "";
	int rc = lab_validate(m, why, sizeof why);
	if (rc != 0)
		harness_fail(__FILE__, line, "lab_validate = %d: %s", rc, why);
}
#define VALID(m) valid((m), __LINE__)

/* After an error: the free count is what it was and the invariants hold. */
#define UNCHANGED(m, before)                                                                       \
	do {                                                                                       \
		CHECK_EQ(nfree(m), (before));                                                      \
		VALID(m);                                                                          \
	} while (0)

/* ---------------------------------------------------------------- config */

static int try_create(size_t page_size, size_t pages, size_t reserve, void *memory, unsigned flags)
{
	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.page_size = page_size;
	cfg.pages = pages;
	cfg.reserve = reserve;
	cfg.memory = memory;
	cfg.flags = flags;
	int rc = lab_create(&m, &cfg);
	if (rc == 0) {
		CHECK(m != NULL);
		if (m)
			lab_destroy(m);
	}
	return rc;
}

TEST(config_page_size)
{
	struct labyrinth *m = mk(0, 16, 0, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.page_size, 4096);
	CHECK_EQ(st.pages, 16);
	CHECK_EQ(st.free, 16);
	CHECK_EQ(st.reserve, 0);
	lab_destroy(m);

	CHECK_EQ(try_create(4096, 16, 0, NULL, 0), 0);
	CHECK_EQ(try_create(8192, 16, 0, NULL, 0), 0);
	CHECK_EQ(try_create(1000, 16, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(4097, 16, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(2048, 16, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(1, 16, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(3 * 4096, 16, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(2048, 16, 0, NULL, LAB_NO_MEMORY), -EINVAL);
}

TEST(config_pages_reserve_flags)
{
	CHECK_EQ(try_create(4096, 0, 0, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(4096, 0, 0, NULL, LAB_NO_MEMORY), -EINVAL);
	CHECK_EQ(try_create(4096, 10, 11, NULL, 0), -EINVAL);
	CHECK_EQ(try_create(4096, 10, 10, NULL, 0), 0);
	CHECK_EQ(try_create(4096, 10, 0, NULL, 0x80000000u), -EINVAL);
	CHECK_EQ(try_create(4096, 10, 0, NULL, 0x100u), -EINVAL);
	CHECK_EQ(try_create(4096, 1, 0, NULL, 0), 0);
	CHECK_EQ(try_create(4096, 10, 0, NULL, LAB_HUGETLB), 0);
}

TEST(config_overflow)
{
	CHECK_EQ(try_create(4096, SIZE_MAX / 4096 + 1, 0, NULL, 0), -EOVERFLOW);
	CHECK_EQ(try_create(GiB, SIZE_MAX / GiB + 1, 0, NULL, 0), -EOVERFLOW);
	CHECK_EQ(try_create((size_t)1 << 40, (size_t)1 << 30, 0, NULL, 0), -EOVERFLOW);
}

TEST(config_caller_memory)
{
	size_t ps = 4096, n = 32;
	char *mem = mmap(NULL, (n + 1) * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	REQUIRE(mem != MAP_FAILED);
	CHECK_EQ(try_create(ps, n, 0, mem + 1, 0), -EINVAL);
	CHECK_EQ(try_create(ps, n, 0, mem + 64, 0), -EINVAL);
	CHECK_EQ(try_create(ps, n, 0, mem + 2048, 0), -EINVAL);
	/* aligned to 4 KiB but not to 8 KiB rooms */
	char *mem8 = ((uintptr_t)mem & 8191) ? mem : mem + 4096;
	CHECK_EQ(try_create(8192, n / 2, 0, mem8, 0), -EINVAL);

	struct lab_config cfg = { 0 };
	struct labyrinth *m = NULL;
	cfg.page_size = ps;
	cfg.pages = n;
	cfg.memory = mem;
	REQUIRE(lab_create(&m, &cfg) == 0);
	CHECK(lab_index_page(m, 0) == mem);
	CHECK(lab_index_page(m, n - 1) == mem + (n - 1) * ps);
	size_t got = 0;
	void *p;
	void *held[64];
	while ((p = lab_alloc_page(m, LAB_GFP_ATOMIC)) != NULL) {
		REQUIRE(got < 64);
		CHECK((char *)p >= mem && (char *)p < mem + n * ps);
		CHECK(((uintptr_t)p & (ps - 1)) == 0);
		memset(p, 0x5a, ps);
		held[got++] = p;
	}
	CHECK_EQ(got, n);
	for (size_t i = 0; i < got; i++)
		CHECK_EQ(lab_free_page(m, held[i]), 0);
	CHECK_EQ(nfree(m), n);
	VALID(m);
	lab_destroy(m);
	munmap(mem, (n + 1) * ps);
}

/* ---------------------------------------------------------------- free errors */

struct thread_call {
	struct labyrinth *m;
	void *page;
	size_t index;
	unsigned order;
	lab_owner_t to;
	int rc;
	lab_owner_t self;
	int op; /* 0 free_pages, 1 free_index, 2 page_give, 3 index_give */
};

static void *call_thread(void *arg)
{
	struct thread_call *c = arg;
	c->self = lab_self();
	switch (c->op) {
	case 0:
		c->rc = lab_free_pages(c->m, c->page, c->order);
		break;
	case 1:
		c->rc = lab_free_index(c->m, c->index, c->order);
		break;
	case 2:
		c->rc = lab_page_give(c->m, c->page, c->to);
		break;
	case 3:
		c->rc = lab_index_give(c->m, c->index, c->to);
		break;
	}
	return NULL;
}

static int in_thread(struct thread_call *c)
{
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, call_thread, c) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
	return c->rc;
}

static int free_in_thread(struct labyrinth *m, void *page, unsigned order)
{
	struct thread_call c = { .m = m, .page = page, .order = order, .op = 0 };
	return in_thread(&c);
}

TEST(free_efault)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	struct labyrinth *other = mk(4096, 64, 0, 0);
	char stackbuf[64];
	void *heap = malloc(100);
	void *op = lab_alloc_page(other, LAB_GFP_ATOMIC);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(op && p && heap);
	size_t before = nfree(m), obefore = nfree(other);

	CHECK_EQ(lab_free_page(m, stackbuf), -EFAULT);
	CHECK_EQ(lab_free_page(m, heap), -EFAULT);
	CHECK_EQ(lab_free_page(m, op), -EFAULT);
	CHECK_EQ(lab_free_pages(m, op, 0), -EFAULT);
	CHECK_EQ(lab_free_page(m, NULL), -EFAULT);
	char *base = lab_index_page(m, 0);
	REQUIRE(base);
	CHECK_EQ(lab_free_page(m, base + 64 * 4096), -EFAULT); /* one past the end */
	CHECK_EQ(lab_free_page(m, base - 4096), -EFAULT);      /* one before */
	CHECK_EQ(lab_free_index(m, 64, 0), -EFAULT);
	CHECK_EQ(lab_free_index(m, 1000000, 0), -EFAULT);
	CHECK_EQ(lab_free_index(m, SIZE_MAX, 0), -EFAULT);
	/* checked first: outside beats a bad order */
	CHECK_EQ(lab_free_pages(m, stackbuf, 3), -EFAULT);
	CHECK_EQ(lab_page_give(m, stackbuf, lab_self()), -EFAULT);
	CHECK_EQ(lab_index_give(m, 64, lab_self()), -EFAULT);
	UNCHANGED(m, before);
	UNCHANGED(other, obefore);
	CHECK_EQ(lab_page_index(m, stackbuf), -1);
	CHECK_EQ(lab_page_index(m, op), -1);
	CHECK(lab_index_page(m, 64) == NULL);
	CHECK_EQ(lab_page_owner(m, stackbuf), 0);

	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_page(other, op), 0);
	CHECK_EQ(nfree(m), 64);
	free(heap);
	lab_destroy(m);
	lab_destroy(other);
}

TEST(free_einval_interior)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	char *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	char *q = lab_alloc_pages(m, LAB_GFP_ATOMIC, 2);
	REQUIRE(p && q);
	size_t before = nfree(m);
	CHECK_EQ(before, 64 - 5);
	CHECK_EQ(lab_free_page(m, p + 1), -EINVAL);
	CHECK_EQ(lab_free_page(m, p + 4095), -EINVAL);
	CHECK_EQ(lab_free_page(m, p + 2048), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q + 8, 2), -EINVAL);
	/* interior byte of a free room: -EINVAL comes before -ENOENT */
	char *base = lab_index_page(m, 0);
	long pi = lab_page_index(m, p), qi = lab_page_index(m, q);
	size_t freeidx = 0;
	while ((long)freeidx == pi || ((long)freeidx >= qi && (long)freeidx < qi + 4))
		freeidx++;
	CHECK_EQ(lab_free_page(m, base + freeidx * 4096 + 100), -EINVAL);
	/* interior room of an allocated order-2 block */
	CHECK_EQ(lab_free_page(m, q + 4096), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q + 4096, 2), -EINVAL);
	CHECK_EQ(lab_free_index(m, (size_t)qi + 1, 0), -EINVAL);
	/* interior byte with the wrong order and by a non-owner: still -EINVAL */
	CHECK_EQ(free_in_thread(m, p + 1, 0), -EINVAL);
	UNCHANGED(m, before);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_pages(m, q, 2), 0);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(free_enoent_double)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	void *e = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	char *q = lab_alloc_pages(m, LAB_GFP_ATOMIC, 3);
	REQUIRE(p && e && q);
	CHECK_EQ(lab_free_page(m, p), 0);
	size_t before = nfree(m);
	CHECK_EQ(lab_free_page(m, p), -ENOENT);
	CHECK_EQ(lab_free_pages(m, p, 2), -ENOENT); /* not allocated beats wrong order */
	CHECK_EQ(free_in_thread(m, p, 0), -ENOENT);
	CHECK_EQ(lab_page_give(m, p, lab_self()), -ENOENT);
	CHECK_EQ(lab_page_owner(m, p), 0);
	UNCHANGED(m, before);
	/* exclusive double free by the former owner and by another thread */
	CHECK_EQ(lab_free_page(m, e), 0);
	before = nfree(m);
	CHECK_EQ(lab_free_page(m, e), -ENOENT);
	CHECK_EQ(free_in_thread(m, e, 0), -ENOENT);
	UNCHANGED(m, before);
	/* block double free */
	CHECK_EQ(lab_free_pages(m, q, 3), 0);
	before = nfree(m);
	CHECK_EQ(lab_free_pages(m, q, 3), -ENOENT);
	CHECK_EQ(lab_free_page(m, q), -ENOENT);
	UNCHANGED(m, before);
	/* by index */
	long i = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
	REQUIRE(i >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)i, 0), 0);
	before = nfree(m);
	CHECK_EQ(lab_free_index(m, (size_t)i, 0), -ENOENT);
	UNCHANGED(m, before);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(free_einval_order)
{
	struct labyrinth *m = mk(4096, 256, 0, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	void *q = lab_alloc_pages(m, LAB_GFP_ATOMIC, 2);
	void *x = lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(p && q && x);
	size_t before = nfree(m);
	CHECK_EQ(lab_free_pages(m, p, 1), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q, 0), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q, 1), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q, 3), -EINVAL);
	CHECK_EQ(lab_free_page(m, q), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q, 11), -EINVAL);
	CHECK_EQ(lab_free_pages(m, q, 64), -EINVAL);
	/* wrong order is checked before ownership */
	CHECK_EQ(free_in_thread(m, x, 2), -EINVAL);
	CHECK_EQ(free_in_thread(m, x, 0), -EINVAL);
	long xi = lab_page_index(m, x);
	REQUIRE(xi >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)xi, 2), -EINVAL);
	UNCHANGED(m, before);
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_free_pages(m, q, 2), 0);
	CHECK_EQ(lab_free_pages(m, x, 3), 0);
	UNCHANGED(m, 256);
	lab_destroy(m);
}

TEST(free_eperm_exclusive)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	void *e = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	void *eb = lab_alloc_pages(m, LAB_GFP_NOWAIT | LAB_GFP_EXCLUSIVE, 2);
	long ei = lab_alloc_index(m, LAB_GFP_EXCLUSIVE, 0);
	REQUIRE(e && eb && ei >= 0);
	CHECK_EQ(lab_page_owner(m, e), lab_self());
	CHECK_EQ(lab_page_owner(m, eb), lab_self());
	CHECK_EQ(lab_index_owner(m, (size_t)ei), lab_self());
	size_t before = nfree(m);
	CHECK_EQ(free_in_thread(m, e, 0), -EPERM);
	CHECK_EQ(free_in_thread(m, eb, 2), -EPERM);
	struct thread_call c = { .m = m, .index = (size_t)ei, .order = 0, .op = 1 };
	CHECK_EQ(in_thread(&c), -EPERM);
	UNCHANGED(m, before);
	CHECK_EQ(lab_page_owner(m, e), lab_self());
	CHECK_EQ(lab_free_page(m, e), 0);
	CHECK_EQ(lab_free_pages(m, eb, 2), 0);
	CHECK_EQ(lab_free_index(m, (size_t)ei, 0), 0);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(free_shared_by_other_thread)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	void *q = lab_alloc_pages(m, LAB_GFP_NOWAIT, 2);
	long i = lab_alloc_index(m, 0, 1);
	REQUIRE(p && q && i >= 0);
	CHECK_EQ(lab_page_owner(m, p), lab_self());
	CHECK_EQ(lab_page_owner(m, q), lab_self());
	CHECK_EQ(free_in_thread(m, p, 0), 0);
	CHECK_EQ(free_in_thread(m, q, 2), 0);
	struct thread_call c = { .m = m, .index = (size_t)i, .order = 1, .op = 1 };
	CHECK_EQ(in_thread(&c), 0);
	UNCHANGED(m, 64);
	CHECK_EQ(lab_page_owner(m, p), 0);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- ownership and give */

struct receiver {
	struct labyrinth *m;
	_Atomic lab_owner_t self;
	_Atomic(void *) page;
	atomic_int go;
	int free_rc, owner_ok, give_rc;
};

static void *receiver_thread(void *arg)
{
	struct receiver *r = arg;
	atomic_store(&r->self, lab_self());
	while (!atomic_load(&r->go))
		sched_yield();
	void *p = atomic_load(&r->page);
	r->owner_ok = lab_page_owner(r->m, p) == lab_self();
	r->free_rc = lab_free_page(r->m, p);
	return NULL;
}

TEST(give)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	struct receiver r = { .m = m };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, receiver_thread, &r) == 0);
	lab_owner_t to;
	while ((to = atomic_load(&r.self)) == 0)
		sched_yield();
	CHECK(to != lab_self());
	void *e = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(e);
	size_t before = nfree(m);
	CHECK_EQ(lab_page_give(m, e, 0), -EINVAL);
	CHECK_EQ(lab_page_owner(m, e), lab_self());
	UNCHANGED(m, before);
	CHECK_EQ(lab_page_give(m, e, to), 0);
	CHECK_EQ(lab_page_owner(m, e), to);
	/* the former owner may no longer free it or give it */
	CHECK_EQ(lab_free_page(m, e), -EPERM);
	CHECK_EQ(lab_page_give(m, e, lab_self()), -EPERM);
	UNCHANGED(m, before);
	atomic_store(&r.page, e);
	atomic_store(&r.go, 1);
	pthread_join(t, NULL);
	CHECK(r.owner_ok);
	CHECK_EQ(r.free_rc, 0);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(give_errors)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	void *e = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	char *b = lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 2);
	void *s = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(e && b && s);
	size_t before = nfree(m);
	/* a non-owner may not give an exclusive page */
	struct thread_call c = { .m = m, .page = e, .to = 12345, .op = 2 };
	CHECK_EQ(in_thread(&c), -EPERM);
	CHECK_EQ(lab_page_owner(m, e), lab_self());
	/* not a block start */
	CHECK_EQ(lab_page_give(m, b + 4096, 12345), -EINVAL);
	CHECK_EQ(lab_page_give(m, b + 1, 12345), -EINVAL);
	CHECK_EQ(lab_page_give(m, s, 0), -EINVAL);
	UNCHANGED(m, before);
	/* anyone may give a shared page */
	struct thread_call d = { .m = m, .page = s, .to = 4242, .op = 2 };
	CHECK_EQ(in_thread(&d), 0);
	CHECK_EQ(lab_page_owner(m, s), 4242);
	/* ... and anyone may still free it */
	CHECK_EQ(lab_free_page(m, s), 0);
	/* give by index, then the new owner id is recorded for the whole block */
	long bi = lab_page_index(m, b);
	CHECK_EQ(lab_index_give(m, (size_t)bi, 777), 0);
	CHECK_EQ(lab_index_owner(m, (size_t)bi), 777);
	CHECK_EQ(lab_page_owner(m, b + 3 * 4096), 777);
	CHECK_EQ(lab_free_pages(m, b, 2), -EPERM);
	CHECK_EQ(lab_index_give(m, (size_t)bi, 778), -EPERM);
	CHECK_EQ(lab_free_page(m, e), 0);
	CHECK_EQ(nfree(m), 64 - 4);
	VALID(m);
	lab_destroy(m);
}

TEST(owner)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	CHECK_EQ(lab_self(), tid());
	CHECK(lab_self() != 0);
	char *base = lab_index_page(m, 0);
	REQUIRE(base);
	for (size_t i = 0; i < 64; i++)
		CHECK_EQ(lab_page_owner(m, base + i * 4096), 0);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	char *q = lab_alloc_pages(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(p && q);
	CHECK_EQ(lab_page_owner(m, p), tid());
	for (int i = 0; i < 8; i++)
		CHECK_EQ(lab_page_owner(m, q + i * 4096), tid());
	CHECK_EQ(lab_free_page(m, p), 0);
	CHECK_EQ(lab_page_owner(m, p), 0);
	CHECK_EQ(lab_free_pages(m, q, 3), 0);
	CHECK_EQ(lab_page_owner(m, q), 0);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- gfp flags */

TEST(gfp_unknown_bits)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	lab_gfp_t bad[] = {
		0x40u, 0x80u, 0x100u, 0x80000000u, LAB_GFP_ATOMIC | 0x40u, ~LAB_GFP_ALL
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(lab_alloc_page(m, bad[i]) == NULL);
		CHECK(lab_alloc_pages(m, bad[i], 2) == NULL);
		CHECK_EQ(lab_alloc_index(m, bad[i], 0), -EINVAL);
	}
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(gfp_every_combination)
{
	/* every combination of defined bits, except those that may wait or panic */
	struct labyrinth *m = mk(4096, 64, 0, 0);
	for (lab_gfp_t g = 0; g <= LAB_GFP_ALL; g++) {
		if (g & (LAB_GFP_KERNEL | LAB_GFP_NOFAIL))
			continue;
		void *p = lab_alloc_pages(m, g, 1);
		CHECK_MSG(p != NULL, "gfp %#x", g);
		if (!p)
			continue;
		CHECK_EQ(lab_page_owner(m, p), lab_self());
		if (g & LAB_GFP_ZERO)
			for (size_t k = 0; k < 8192; k++)
				if (((unsigned char *)p)[k]) {
					CHECK_MSG(0, "gfp %#x byte %zu not zero", g, k);
					break;
				}
		memset(p, 0xee, 8192);
		CHECK_EQ(lab_free_pages(m, p, 1), 0);
	}
	/* KERNEL with rooms free does not wait */
	void *k = lab_alloc_pages(m, LAB_GFP_KERNEL | LAB_GFP_EXCLUSIVE, 2);
	CHECK(k != NULL);
	CHECK_EQ(lab_free_pages(m, k, 2), 0);
	k = lab_alloc_page(m, LAB_GFP_KERNEL | LAB_GFP_NOFAIL);
	CHECK(k != NULL);
	CHECK_EQ(lab_free_page(m, k), 0);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

/* With reserve R: NOWAIT and no-mode callers see pages-R rooms, ATOMIC the rest. */
static void reserve_case(lab_gfp_t first, size_t pages, size_t R)
{
	struct labyrinth *m = mk(4096, pages, R, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.reserve, R);
	size_t n = 0;
	while (lab_alloc_index(m, first, 0) >= 0)
		n++;
	CHECK_MSG(n == pages - R, "gfp %#x pages %zu reserve %zu: got %zu", first, pages, R, n);
	CHECK_EQ(nfree(m), R);
	/* the others that may not touch the reserve fail too, and change nothing */
	CHECK(lab_alloc_page(m, LAB_GFP_NOWAIT) == NULL);
	CHECK(lab_alloc_page(m, 0) == NULL);
	CHECK(lab_alloc_page(m, LAB_GFP_EXCLUSIVE | LAB_GFP_ZERO) == NULL);
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_NOWAIT, 0), -ENOMEM);
	UNCHANGED(m, R);
	size_t a = 0;
	while (lab_alloc_index(m, LAB_GFP_ATOMIC, 0) >= 0)
		a++;
	CHECK_MSG(a == R, "ATOMIC after %#x: got %zu of reserve %zu", first, a, R);
	CHECK_EQ(nfree(m), 0);
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 0), -ENOMEM);
	VALID(m);
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(lab_free_index(m, i, 0), 0);
	UNCHANGED(m, pages);
	lab_destroy(m);
}

TEST(reserve)
{
	reserve_case(LAB_GFP_NOWAIT, 100, 10);
	reserve_case(0, 100, 10);
	reserve_case(LAB_GFP_EXCLUSIVE, 100, 10);
	reserve_case(LAB_GFP_NOWAIT, 3000, 700);
	reserve_case(LAB_GFP_NOWAIT, 64, 64);
	reserve_case(LAB_GFP_NOWAIT, 64, 1);
	reserve_case(LAB_GFP_NOWAIT, 64, 0);
}

TEST(reserve_blocks)
{
	/* 64 rooms, reserve 8: NOWAIT order-3 blocks stop at 56 rooms */
	struct labyrinth *m = mk(4096, 64, 8, 0);
	size_t n = 0;
	while (lab_alloc_index(m, LAB_GFP_NOWAIT, 3) >= 0)
		n++;
	CHECK_EQ(n, 7);
	CHECK(lab_alloc_page(m, LAB_GFP_NOWAIT) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 3) != NULL);
	CHECK_EQ(nfree(m), 0);
	VALID(m);
	lab_destroy(m);
}

static sigjmp_buf alarm_jmp;
static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(alarm_jmp, 1);
}

TEST(kernel_impossible_order)
{
	struct sigaction sa = { 0 }, old;
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, &old);
	struct labyrinth *m = mk(4096, 100, 0, 0); /* holds order 6 at most */
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.max_order, 6);
	if (!sigsetjmp(alarm_jmp, 1)) {
		alarm(5);
		CHECK(lab_alloc_pages(m, LAB_GFP_KERNEL, 7) == NULL);
		CHECK(lab_alloc_pages(m, LAB_GFP_KERNEL, 10) == NULL);
		CHECK(lab_alloc_pages(m, LAB_GFP_KERNEL | LAB_GFP_EXCLUSIVE, 8) == NULL);
		long r = lab_alloc_index(m, LAB_GFP_KERNEL, 7);
		CHECK_MSG(r == -ENOMEM || r == -EINVAL, "lab_alloc_index(KERNEL, 7) = %ld", r);
		CHECK(lab_alloc_pages(m, LAB_GFP_NOWAIT, 7) == NULL);
		CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 7) == NULL);
		alarm(0);
	} else {
		CHECK_MSG(0, "LAB_GFP_KERNEL waited for an order the maze can never hold");
	}
	sigaction(SIGALRM, &old, NULL);
	UNCHANGED(m, 100);
	void *p = lab_alloc_pages(m, LAB_GFP_KERNEL, 6);
	CHECK(p != NULL);
	CHECK_EQ(lab_free_pages(m, p, 6), 0);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- ZERO */

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

TEST(zero)
{
	struct labyrinth *m = mk(4096, 8, 0, 0);
	void *p[8];
	for (int i = 0; i < 8; i++) {
		p[i] = lab_alloc_page(m, LAB_GFP_ATOMIC);
		REQUIRE(p[i]);
		memset(p[i], 0xff, 4096);
	}
	for (int i = 0; i < 8; i++)
		CHECK_EQ(lab_free_page(m, p[i]), 0);
	for (int i = 0; i < 8; i++) {
		p[i] = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
		REQUIRE(p[i]);
		CHECK_MSG(all_zero(p[i], 4096), "page %d not zeroed", i);
		memset(p[i], 0x3c, 4096);
	}
	for (int i = 0; i < 8; i++)
		CHECK_EQ(lab_free_page(m, p[i]), 0);
	/* order 3 = the whole dirty maze */
	void *b = lab_alloc_pages(m, LAB_GFP_NOWAIT | LAB_GFP_ZERO, 3);
	REQUIRE(b);
	CHECK(all_zero(b, 8 * 4096));
	memset(b, 0x77, 8 * 4096);
	CHECK_EQ(lab_free_pages(m, b, 3), 0);
	b = lab_alloc_pages(m, LAB_GFP_KERNEL | LAB_GFP_ZERO | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(b);
	CHECK(all_zero(b, 8 * 4096));
	CHECK_EQ(lab_free_pages(m, b, 3), 0);
	UNCHANGED(m, 8);
	lab_destroy(m);

	/* 2 MiB rooms */
	m = mk(2 * MiB, 2, 0, 0);
	char *h = lab_alloc_page(m, LAB_GFP_ATOMIC);
	char *h2 = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(h && h2);
	memset(h, 1, 2 * MiB);
	memset(h2, 1, 2 * MiB);
	CHECK_EQ(lab_free_page(m, h), 0);
	CHECK_EQ(lab_free_page(m, h2), 0);
	h = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
	REQUIRE(h);
	CHECK(all_zero(h, 2 * MiB));
	CHECK_EQ(lab_free_page(m, h), 0);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- orders */

TEST(orders)
{
	size_t ps = 4096, n = 4096;
	struct labyrinth *m = mk(ps, n, 0, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.max_order, 10);
	char *base = lab_index_page(m, 0);
	REQUIRE(base);
	CHECK(((uintptr_t)base & (ps * 1024 - 1)) == 0);
	for (unsigned o = 0; o <= LAB_MAX_ORDER; o++) {
		size_t sz = ps << o;
		char *p = lab_alloc_pages(m, LAB_GFP_ATOMIC, o);
		REQUIRE(p);
		long i = lab_page_index(m, p);
		CHECK_MSG(i >= 0 && (i & ((1L << o) - 1)) == 0, "order %u index %ld", o, i);
		CHECK_MSG(((uintptr_t)p & (sz - 1)) == 0, "order %u address %p", o, (void *)p);
		CHECK(p == base + (size_t)i * ps);
		CHECK(lab_index_page(m, (size_t)i) == p);
		p[0] = 1;
		p[sz - 1] = 2;
		CHECK_EQ(nfree(m), n - ((size_t)1 << o));
		size_t before = nfree(m);
		if (o > 0)
			CHECK_EQ(lab_free_pages(m, p, o - 1), -EINVAL);
		if (o < LAB_MAX_ORDER)
			CHECK_EQ(lab_free_pages(m, p, o + 1), -EINVAL);
		UNCHANGED(m, before);
		CHECK_EQ(lab_free_pages(m, p, o), 0);
		long j = lab_alloc_index(m, LAB_GFP_NOWAIT, o);
		CHECK_MSG(j >= 0 && (j & ((1L << o) - 1)) == 0, "order %u index %ld", o, j);
		CHECK_EQ(lab_free_index(m, (size_t)j, o), 0);
	}
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 11) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 12) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 64) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, ~0u) == NULL);
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 11), -EINVAL);
	CHECK_EQ(lab_alloc_index(m, LAB_GFP_ATOMIC, 32), -EINVAL);
	long j = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
	REQUIRE(j >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)j, 11), -EINVAL);
	CHECK_EQ(lab_free_index(m, (size_t)j, 0), 0);
	/* a free room with an order no block can have: either reading of the
	 * documented order (-ENOENT first, or a bad argument) is accepted;
	 * free_enoent_double checks -ENOENT before a wrong but valid order */
	int rc11 = lab_free_index(m, (size_t)j, 11);
	CHECK_MSG(rc11 == -ENOENT || rc11 == -EINVAL, "free of a free room, order 11 = %d", rc11);
	UNCHANGED(m, n);
	lab_destroy(m);
}

TEST(orders_interleaved)
{
	/* several blocks of every order at once: aligned and disjoint */
	size_t n = 16384;
	struct labyrinth *m = mk(4096, n, 0, LAB_NO_MEMORY);
	unsigned char *used = calloc(n, 1);
	long idx[64];
	unsigned ord[64];
	int k = 0;
	for (int round = 0; round < 3; round++)
		for (unsigned o = 0; o <= 10; o++) {
			long i = lab_alloc_index(m, LAB_GFP_ATOMIC, o);
			REQUIRE(i >= 0);
			CHECK_MSG((i & ((1L << o) - 1)) == 0, "order %u index %ld", o, i);
			for (long r = i; r < i + (1L << o); r++) {
				REQUIRE(r < (long)n);
				CHECK_MSG(!used[r], "room %ld in two blocks", r);
				used[r] = 1;
			}
			idx[k] = i;
			ord[k++] = o;
		}
	for (int j = 0; j < k; j++)
		CHECK_EQ(lab_free_index(m, (size_t)idx[j], ord[j]), 0);
	UNCHANGED(m, n);
	free(used);
	lab_destroy(m);
}

TEST(alignment_cap_1g)
{
	/* two 1 GiB rooms: an order-1 block needs 2 GiB alignment, not more */
	struct labyrinth *m = mk(GiB, 2, 0, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.max_order, 1);
	CHECK_EQ(st.page_size, GiB);
	char *p = lab_alloc_pages(m, LAB_GFP_ATOMIC, 1);
	REQUIRE(p);
	CHECK(((uintptr_t)p & (2 * GiB - 1)) == 0);
	p[0] = 1;
	p[2 * GiB - 1] = 2;
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 0) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 2) == NULL);
	CHECK_EQ(lab_free_pages(m, p, 1), 0);
	char *a = lab_alloc_page(m, LAB_GFP_ATOMIC), *b = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(a && b);
	CHECK(((uintptr_t)a & (GiB - 1)) == 0);
	CHECK(((uintptr_t)b & (GiB - 1)) == 0);
	CHECK(a != b);
	CHECK_EQ(lab_free_page(m, a), 0);
	CHECK_EQ(lab_free_page(m, b), 0);
	UNCHANGED(m, 2);
	lab_destroy(m);

	/* three 2 MiB rooms: max order 1, aligned to 4 MiB */
	m = mk(2 * MiB, 3, 0, 0);
	lab_stats(m, &st);
	CHECK_EQ(st.max_order, 1);
	p = lab_alloc_pages(m, LAB_GFP_ATOMIC, 1);
	REQUIRE(p);
	CHECK(((uintptr_t)p & (4 * MiB - 1)) == 0);
	CHECK_EQ(lab_free_pages(m, p, 1), 0);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- index-only */

TEST(index_only)
{
	struct labyrinth *m = mk(4096, 1000, 0, LAB_NO_MEMORY);
	char stackbuf[16];
	CHECK(lab_alloc_page(m, LAB_GFP_ATOMIC) == NULL);
	CHECK(lab_alloc_pages(m, LAB_GFP_ATOMIC, 2) == NULL);
	CHECK(lab_alloc_page(m, LAB_GFP_NOWAIT) == NULL);
	CHECK_EQ(lab_free_page(m, stackbuf), -EINVAL);
	CHECK_EQ(lab_free_pages(m, stackbuf, 1), -EINVAL);
	CHECK_EQ(lab_free_page(m, NULL), -EINVAL);
	UNCHANGED(m, 1000);
	long i = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_ZERO | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(i >= 0);
	CHECK_EQ(i % 8, 0);
	CHECK_EQ(lab_index_owner(m, (size_t)i), lab_self());
	CHECK_EQ(lab_index_owner(m, (size_t)i + 7), lab_self());
	CHECK_EQ(nfree(m), 992);
	struct thread_call c = { .m = m, .index = (size_t)i, .order = 3, .op = 1 };
	CHECK_EQ(in_thread(&c), -EPERM);
	CHECK_EQ(lab_free_index(m, (size_t)i, 2), -EINVAL);
	CHECK_EQ(lab_free_index(m, (size_t)i + 1, 0), -EINVAL);
	CHECK_EQ(lab_free_index(m, 1000, 0), -EFAULT);
	UNCHANGED(m, 992);
	CHECK_EQ(lab_free_index(m, (size_t)i, 3), 0);
	CHECK_EQ(lab_free_index(m, (size_t)i, 3), -ENOENT);
	CHECK_EQ(lab_index_owner(m, (size_t)i), 0);
	UNCHANGED(m, 1000);
	CHECK(lab_set_default(m) == -EINVAL);
	lab_destroy(m);
}

/* ---------------------------------------------------------------- panic handler, default */

static void h1(const char *msg)
{
	(void)msg;
}
static void h2(const char *msg)
{
	(void)msg;
}

TEST(panic_handler_set)
{
	CHECK(lab_set_panic_handler(h1) == NULL);
	CHECK(lab_set_panic_handler(h2) == h1);
	CHECK(lab_set_panic_handler(h2) == h2);
	CHECK(lab_set_panic_handler(NULL) == h2);
	CHECK(lab_set_panic_handler(NULL) == NULL);
}

TEST(set_default)
{
	struct labyrinth *idx = mk(4096, 64, 0, LAB_NO_MEMORY);
	struct labyrinth *big = mk(2 * MiB, 4, 0, 0);
	struct labyrinth *eight = mk(8192, 4, 0, 0);
	CHECK_EQ(lab_set_default(idx), -EINVAL);
	CHECK_EQ(lab_set_default(big), -EINVAL);
	CHECK_EQ(lab_set_default(eight), -EINVAL);
	/* the good one is never destroyed: it stays this process's default */
	static struct labyrinth *good;
	good = mk(4096, 64, 0, 0);
	CHECK_EQ(lab_set_default(good), 0);
	CHECK(lab_default() == good);
	lab_destroy(idx);
	lab_destroy(big);
	lab_destroy(eight);
}

TEST(index_page_roundtrip)
{
	size_t sizes[] = { 4096, 8192, 2 * MiB };
	size_t counts[] = { 1000, 77, 9 };
	for (int s = 0; s < 3; s++) {
		struct labyrinth *m = mk(sizes[s], counts[s], 0, 0);
		char *base = lab_index_page(m, 0);
		REQUIRE(base);
		CHECK(((uintptr_t)base & (sizes[s] - 1)) == 0);
		for (size_t i = 0; i < counts[s]; i++) {
			char *p = lab_index_page(m, i);
			if (p != base + i * sizes[s]) {
				CHECK_MSG(0, "index %zu -> %p", i, (void *)p);
				break;
			}
			CHECK_EQ(lab_page_index(m, p), (long)i);
			CHECK_EQ(lab_page_index(m, p + sizes[s] - 1), (long)i);
			CHECK_EQ(lab_page_index(m, p + 1), (long)i);
		}
		CHECK(lab_index_page(m, counts[s]) == NULL);
		CHECK(lab_index_page(m, SIZE_MAX) == NULL);
		CHECK_EQ(lab_page_index(m, base + counts[s] * sizes[s]), -1);
		CHECK_EQ(lab_page_index(m, base - 1), -1);
		lab_destroy(m);
	}
}

TEST(stats_fields)
{
	struct labyrinth *m = mk(4096, 3000, 5, 0);
	struct lab_stats st;
	lab_stats(m, &st);
	CHECK_EQ(st.pages, 3000);
	CHECK_EQ(st.free, 3000);
	CHECK_EQ(st.reserve, 5);
	CHECK_EQ(st.page_size, 4096);
	CHECK_EQ(st.rows, 6);
	CHECK_EQ(st.huge_free, 5);
	CHECK_EQ(st.max_order, 10);
	CHECK_EQ(st.waiters, 0);
	CHECK(st.cached <= st.free);
	CHECK(st.meta_bytes > 0);
	/* bits per room: at most meta_bytes * 8 / pages rounded up (fixed parts
	 * may be left out), at least the 32-bit owner word */
	CHECK(st.meta_bits_per_room <= (st.meta_bytes * 8 + st.pages - 1) / st.pages);
	CHECK(st.meta_bits_per_room >= 32);
	void *p = lab_alloc_page(m, LAB_GFP_ATOMIC);
	REQUIRE(p);
	lab_stats(m, &st);
	CHECK_EQ(st.free, 2999);
	CHECK(st.huge_free <= 5);
	CHECK(st.cached <= st.free);
	lab_drain(m);
	lab_stats(m, &st);
	CHECK_EQ(st.cached, 0);
	CHECK_EQ(st.free, 2999);
	CHECK_EQ(lab_free_page(m, p), 0);
	lab_drain(m);
	lab_stats(m, &st);
	CHECK_EQ(st.free, 3000);
	CHECK_EQ(st.cached, 0);
	CHECK_EQ(st.huge_free, 5);
	VALID(m);
	lab_destroy(m);
}

TEST(metadata_target)
{
	/* the target: <= 34 bits of metadata per room, owner word included */
	struct labyrinth *m = mk(4096, (size_t)1 << 20, 0, LAB_NO_MEMORY);
	struct lab_stats st;
	lab_stats(m, &st);
	printf("2^20 rooms: %zu bytes of metadata, %zu bits per room\n", st.meta_bytes,
	       st.meta_bits_per_room);
	CHECK_MSG(st.meta_bits_per_room <= 34, "%zu bits per room", st.meta_bits_per_room);
	CHECK(st.meta_bits_per_room >= 32); /* a 32-bit owner word per room */
	lab_destroy(m);
}

TEST(strerror)
{
	int errs[] = { -EINVAL, -ENOMEM, -EOVERFLOW, -EFAULT, -ENOENT, -EPERM, -EUCLEAN };
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		const char *s = lab_strerror(errs[i]);
		CHECK(s != NULL && s[0] != '\0');
	}
	CHECK(strcmp(lab_strerror(-EINVAL), lab_strerror(-ENOENT)) != 0);
	CHECK(strcmp(lab_strerror(-EFAULT), lab_strerror(-EPERM)) != 0);
}

/* ---------------------------------------------------------------- thread ids */

struct idcheck {
	struct labyrinth *m;
	int ok_self, ok_owner;
	lab_owner_t self;
};

static void *idcheck_thread(void *arg)
{
	struct idcheck *c = arg;
	c->self = lab_self();
	c->ok_self = c->self == tid() && lab_self() == c->self;
	void *p = lab_alloc_page(c->m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	c->ok_owner = p && lab_page_owner(c->m, p) == tid() && lab_free_page(c->m, p) == 0;
	return NULL;
}

TEST(thread_ids_new_threads)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	struct idcheck c[4];
	pthread_t t[4];
	memset(c, 0, sizeof c);
	for (int i = 0; i < 4; i++) {
		c[i].m = m;
		REQUIRE(pthread_create(&t[i], NULL, idcheck_thread, &c[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(c[i].ok_self);
		CHECK(c[i].ok_owner);
		CHECK(c[i].self != lab_self());
		for (int j = 0; j < i; j++)
			CHECK(c[i].self != c[j].self);
	}
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(thread_ids_after_fork)
{
	struct labyrinth *m = mk(4096, 64, 0, 0);
	lab_owner_t parent = lab_self(); /* cache it before fork */
	void *held = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
	REQUIRE(held);
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		if (lab_self() != tid() || lab_self() == parent)
			bad |= 1;
		void *p = lab_alloc_page(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE);
		if (!p || lab_page_owner(m, p) != tid())
			bad |= 2;
		if (p && lab_free_page(m, p) != 0)
			bad |= 4;
		/* the parent's exclusive page belongs to the parent's id */
		if (lab_free_page(m, held) != -EPERM)
			bad |= 8;
		/* a thread of the child gets its own id too */
		struct idcheck c = { .m = m };
		pthread_t t;
		if (pthread_create(&t, NULL, idcheck_thread, &c) != 0 || pthread_join(t, NULL) != 0)
			bad |= 16;
		else if (!c.ok_self || !c.ok_owner)
			bad |= 32;
		_exit(bad);
	}
	int status;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	CHECK_EQ(lab_self(), parent);
	CHECK_EQ(lab_free_page(m, held), 0);
	UNCHANGED(m, 64);
	lab_destroy(m);
}

TEST(room_info)
{
	struct labyrinth *m = mk(4096, 2048, 0, LAB_NO_MEMORY);
	struct lab_room r;
	CHECK_EQ(lab_room_info(m, 5, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_FREE);
	CHECK_EQ(r.block, 5);
	CHECK_EQ(lab_room_info(m, 2048, &r), -EFAULT);
	CHECK_EQ(lab_room_info(NULL, 0, &r), -EINVAL);
	long b = lab_alloc_index(m, LAB_GFP_ATOMIC | LAB_GFP_EXCLUSIVE, 3);
	REQUIRE(b >= 0);
	for (long i = b; i < b + 8; i++) {
		CHECK_EQ(lab_room_info(m, (size_t)i, &r), 0);
		CHECK_EQ(r.state, LAB_ROOM_ALLOCATED);
		CHECK_EQ(r.owner, lab_self());
		CHECK_EQ(r.order, 3);
		CHECK_EQ(r.exclusive, 1);
		CHECK_EQ(r.block, (size_t)b);
	}
	long z = lab_alloc_index(m, LAB_GFP_ATOMIC, 0);
	REQUIRE(z >= 0);
	CHECK_EQ(lab_free_index(m, (size_t)z, 0), 0); /* parked in this thread's cache */
	CHECK_EQ(lab_room_info(m, (size_t)z, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_CACHED);
	CHECK_EQ(r.owner, 0);
	lab_drain(m);
	CHECK_EQ(lab_room_info(m, (size_t)z, &r), 0);
	CHECK_EQ(r.state, LAB_ROOM_FREE);
	CHECK_EQ(lab_free_index(m, (size_t)b, 3), 0);
	lab_destroy(m);
}

/* SPDX-License-Identifier: MIT */
/* The backing interface on Linux: mmap, futex, gettid, write, abort. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

/* Map len = size + slack bytes with flags, keep the size bytes that start at
 * the first multiple of align, and unmap the rest. */
static void *map_aligned(size_t size, size_t slack, size_t align, int flags)
{
	size_t len = size + slack;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + size < p + len)
		munmap(a + size, (size_t)(p + len - (a + size)));
	return a;
}

void *lab_os_map(size_t size, size_t align, size_t hugetlb)
{
	if (align < 4096)
		align = 4096;
	if (size > SIZE_MAX - align)
		return NULL;
	if (hugetlb) {
		/* no MAP_NORESERVE: a hugetlb fault without a reservation is SIGBUS */
		int shift = __builtin_ctzll(hugetlb);
		void *h = map_aligned(size, align > hugetlb ? align - hugetlb : 0, align,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
					      (shift << MAP_HUGE_SHIFT));
		if (h)
			return h;
	}
	void *a =
		map_aligned(size, align - 4096, align, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	if (a && align >= (2u << 20))
		madvise(a, size, MADV_HUGEPAGE); /* a hint; failure is harmless */
	return a;
}

void *lab_os_map_populated(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void lab_os_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

uint32_t lab_os_gettid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

void lab_os_futex_wait(lab_a32 *word, uint32_t expected, uint64_t timeout_ns, bool shared)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000u),
			       (long)(timeout_ns % 1000000000u) };
	int saved = errno;
	syscall(SYS_futex, (uint32_t *)word, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, expected,
		&ts, NULL, 0);
	errno = saved;
}

void lab_os_futex_wake(lab_a32 *word, bool shared)
{
	int saved = errno;
	syscall(SYS_futex, (uint32_t *)word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, 0x7fffffff,
		NULL, NULL, 0);
	errno = saved;
}

void lab_os_write_err(const char *s, size_t n)
{
	int saved = errno;
	while (n) {
		ssize_t w = write(2, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
	errno = saved;
}

void lab_os_abort(void)
{
	abort();
}

void lab_os_yield(void)
{
	sched_yield();
}

static int membarrier_expedited(void)
{
	int saved = errno;
	long r = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	errno = saved;
	return r == 0 ? 0 : -1;
}

/* 0 untried, 1 registered, 2 unavailable. Registration is idempotent, so a
 * race between two first callers is harmless. */
static _Atomic(int) membarrier_state;

int (*lab_os_heavy_barrier(void))(void)
{
	int st = atomic_load_explicit(&membarrier_state, memory_order_acquire);
	if (st == 0) {
		long r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
		st = 2;
		if (r >= 0 && (r & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
		    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
			st = 1;
		if (getenv("LABYRINTH_NO_MEMBARRIER"))
			st = 2;
		atomic_store_explicit(&membarrier_state, st, memory_order_release);
	}
	return st == 1 ? membarrier_expedited : NULL;
}

int lab_os_global_barrier_register(void)
{
	int saved = errno;
	long r = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	int ok = r >= 0 && (r & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
		 !getenv("LABYRINTH_NO_MEMBARRIER") &&
		 syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
	errno = saved;
	return ok ? 0 : -1;
}

int lab_os_global_barrier(void)
{
	int saved = errno;
	long r = syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
	errno = saved;
	return r == 0 ? 0 : -1;
}

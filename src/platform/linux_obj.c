/* SPDX-License-Identifier: MIT */
/* The backing interface on Linux, second part: shared objects (shm, memfd,
 * files) and telling live threads from dead ones through /proc. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Read a small /proc file into buf (NUL-terminated): bytes, or -errno. */
static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	return (int)n;
}

/* Append the decimal x to p (no libc formatting: signal-safe). */
static char *put_u(char *p, uint64_t x)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	while (n)
		*p++ = t[--n];
	return p;
}

static char *put_s(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* From a stat line: the state letter and field 22 (starttime). The comm
 * field may hold spaces and parentheses: fields count from the last ')'. */
static int parse_stat(const char *buf, char *state, uint64_t *start)
{
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	uint64_t x = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		x = x * 10 + (uint64_t)(*p++ - '0');
	*start = x;
	return 0;
}

/* The inode of our pid namespace, 0 if unknown. */
static uint32_t pidns(void)
{
	static _Atomic(uint32_t) cached;
	uint32_t v = atomic_load_explicit(&cached, memory_order_relaxed);
	if (v)
		return v;
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) != 0)
		return 0;
	v = (uint32_t)st.st_ino;
	atomic_store_explicit(&cached, v, memory_order_relaxed);
	return v;
}

int lab_os_task_exists(uint32_t pid, uint32_t tid)
{
	int saved = errno;
	long r = pid ? syscall(SYS_tgkill, (pid_t)pid, (pid_t)tid, 0) :
		       syscall(SYS_tkill, (pid_t)tid, 0);
	int e = errno;
	errno = saved;
	if (r == 0 || e == EPERM)
		return 1;
	return e == ESRCH ? 0 : -1;
}

/* /proc is ours: /proc/self names this process by our own pid. */
static bool proc_ours(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = 0;
	uint64_t x = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(buf[i] - '0');
	}
	return x == (uint64_t)getpid();
}

int lab_os_task_alive(const struct lab_os_task *t)
{
	uint32_t ns = pidns();
	if (!ns || t->ns != ns)
		return -1; /* another namespace's ids mean nothing here */
	/* the kernel's answer first: no such thread is final, and needs no fd */
	int ex = lab_os_task_exists(t->pid, t->tid);
	if (ex <= 0)
		return ex;
	/* a thread with these ids exists: is it the one that registered? */
	char path[96], buf[1024], *p = path;
	p = put_s(p, "/proc/");
	p = put_u(p, t->pid);
	p = put_s(p, "/task/");
	p = put_u(p, t->tid);
	p = put_s(p, "/stat");
	*p = 0;
	char st;
	uint64_t start;
	if (!proc_ours() || read_small(path, buf, sizeof(buf)) <= 0 || parse_stat(buf, &st, &start))
		return -1;
	if (st == 'Z' || st == 'X' || st == 'x')
		return 0;
	return start == t->tid_start;
}

int lab_os_task_of(uint32_t tid, struct lab_os_task *out)
{
	char path[96], buf[1024], *p;
	p = put_s(path, "/proc/");
	p = put_u(p, tid);
	p = put_s(p, "/status");
	*p = 0;
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	const char *tg = strstr(buf, "\nTgid:");
	if (!tg)
		return -1;
	tg += 6;
	while (*tg == ' ' || *tg == '\t')
		tg++;
	uint64_t pid = 0;
	while (*tg >= '0' && *tg <= '9')
		pid = pid * 10 + (uint64_t)(*tg++ - '0');
	char st;
	p = put_s(path, "/proc/");
	p = put_u(p, pid);
	p = put_s(p, "/task/");
	p = put_u(p, tid);
	p = put_s(p, "/stat");
	*p = 0;
	if (read_small(path, buf, sizeof(buf)) <= 0 || parse_stat(buf, &st, &out->tid_start))
		return -1;
	if (st == 'Z' || st == 'X' || st == 'x')
		return -1;
	p = put_s(path, "/proc/");
	p = put_u(p, pid);
	p = put_s(p, "/stat");
	*p = 0;
	if (read_small(path, buf, sizeof(buf)) <= 0 || parse_stat(buf, &st, &out->pid_start))
		return -1;
	out->pid = (uint32_t)pid;
	out->tid = tid;
	out->ns = pidns();
	return 0;
}

uint32_t lab_os_getpid(void)
{
	return (uint32_t)getpid();
}

uint64_t lab_os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* 0 for a regular file (memfds and shm objects are), -EISDIR for a
 * directory, -ENODEV for anything else: a FIFO, socket or device. */
static int regular_only(mode_t mode)
{
	return S_ISREG(mode) ? 0 : S_ISDIR(mode) ? -EISDIR : -ENODEV;
}

/* The fd's type, checked after the open: the object may have been replaced
 * between the stat and the open. Closes fd on error. */
static int opened_regular(int fd)
{
	struct stat st;
	int err = fstat(fd, &st) ? -errno : regular_only(st.st_mode);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* No open may block: a FIFO waits for its other end and a device open may
 * do anything. So the type is checked before opening, and the open is
 * O_NONBLOCK | O_NOCTTY in case the object changed in between. */
int lab_os_shm_open(const char *name, bool create)
{
	int flags = O_RDWR | O_NONBLOCK | O_NOCTTY | (create ? O_CREAT | O_EXCL : 0);
	int fd = shm_open(name, flags, 0600);
	return fd < 0 ? -errno : opened_regular(fd);
}

int lab_os_shm_unlink(const char *name)
{
	return shm_unlink(name) ? -errno : 0;
}

int lab_os_memfd(void)
{
	int fd = memfd_create("labyrinth", MFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int lab_os_file_open(const char *path, bool create, bool ro)
{
	struct stat st;
	if (!create) {
		if (stat(path, &st))
			return -errno;
		int err = regular_only(st.st_mode);
		if (err)
			return err;
	}
	int flags = O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (ro ? O_RDONLY : O_RDWR) |
		    (create ? O_CREAT | O_EXCL : 0);
	int fd = open(path, flags, 0644);
	return fd < 0 ? -errno : opened_regular(fd);
}

int lab_os_file_unlink(const char *path)
{
	return unlink(path) ? -errno : 0;
}

int lab_os_obj_lock(int fd, bool exclusive)
{
	while (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB)) {
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	}
	return 0;
}

long long lab_os_obj_size(int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	int err = regular_only(st.st_mode);
	return err ? err : (long long)st.st_size;
}

int lab_os_obj_resize(int fd, uint64_t len)
{
	return ftruncate(fd, (off_t)len) ? -errno : 0;
}

int lab_os_obj_read(int fd, void *buf, size_t len, uint64_t off)
{
	size_t n = 0;
	while (n < len) {
		ssize_t r = pread(fd, (char *)buf + n, len - n, (off_t)(off + n));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		n += (size_t)r;
	}
	return 0;
}

void *lab_os_obj_map(int fd, uint64_t off, size_t len, size_t align, bool ro)
{
	int prot = PROT_READ | (ro ? 0 : PROT_WRITE);
	if (align <= 4096) {
		void *p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
		return p == MAP_FAILED ? NULL : p;
	}
	/* reserve aligned address space, then map the object over it */
	if (len > SIZE_MAX - align)
		return NULL;
	char *r = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	char *a = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
	void *p = mmap(a, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	if (p == MAP_FAILED) {
		munmap(r, len + align);
		return NULL;
	}
	if (a > r)
		munmap(r, (size_t)(a - r));
	if (a + len < r + len + align)
		munmap(a + len, (size_t)(r + len + align - (a + len)));
	return a;
}

void lab_os_obj_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

int lab_os_dup(int fd)
{
	int f = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return f < 0 ? -errno : f;
}

int lab_os_obj_id(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (fstat(fd, &st))
		return -errno;
	*dev = (uint64_t)st.st_dev;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

int lab_os_obj_reserve(int fd, uint64_t len)
{
	int r = posix_fallocate(fd, 0, (off_t)len);
	return r == 0 || r == EOPNOTSUPP || r == EINVAL ? 0 : -r;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

void lab_os_populate(void *p, size_t len, bool write)
{
	int saved = errno;
	madvise(p, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	errno = saved;
}

/* SPDX-License-Identifier: MIT */
/* The backing interface: everything labyrinth asks of the operating system.
 * The core (src/core) never calls the OS; the hosted layer calls only these.
 * A kernel or unikernel port replaces platform/linux.c.
 *
 * Each function states what it needs and what it promises. Those marked
 * "signal-safe" may be called from a signal handler and take no locks. */
#ifndef LAB_PLATFORM_H
#define LAB_PLATFORM_H

#include "core/atomic.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Map size bytes of zero-filled read-write memory at an address aligned to
 * align (a power of two, >= 4096); size is a multiple of 4096. Backed
 * lazily: untouched memory costs only address space. hugetlb != 0 asks for
 * MAP_HUGETLB pages of that size first and falls back quietly. NULL on
 * failure. Not signal-safe. */
LAB_HIDDEN void *lab_os_map(size_t size, size_t align, size_t hugetlb);
/* The same, populated now (for metadata that will be used at once). */
LAB_HIDDEN void *lab_os_map_populated(size_t size);
/* Unmap what lab_os_map returned (same size). */
LAB_HIDDEN void lab_os_unmap(void *p, size_t size);
/* The calling thread's id (Linux gettid), never 0. Signal-safe. */
LAB_HIDDEN uint32_t lab_os_gettid(void);
/* Sleep while *word == expected, at most timeout_ns; spurious wake-ups
 * allowed. shared: word is in memory other processes map (no PRIVATE
 * futex). Not for signal handlers. */
LAB_HIDDEN void lab_os_futex_wait(lab_a32 *word, uint32_t expected, uint64_t timeout_ns,
				  bool shared);
/* Wake every thread sleeping on word. Signal-safe. */
LAB_HIDDEN void lab_os_futex_wake(lab_a32 *word, bool shared);
/* Write bytes to standard error, retrying short writes. Signal-safe. */
LAB_HIDDEN void lab_os_write_err(const char *s, size_t n);
/* Abort the process. Signal-safe. */
LAB_HIDDEN _Noreturn void lab_os_abort(void);
/* A barrier that makes every other thread of the process execute a full
 * memory fence (membarrier private expedited). Returns the function to call,
 * or NULL when the system has none (the core then fences on both sides).
 * The returned function is signal-safe and returns 0, or -1 when the
 * barrier did not happen (e.g. a seccomp filter installed later): the
 * caller must then not rely on it. */
LAB_HIDDEN int (*lab_os_heavy_barrier(void))(void);
/* Give the processor away briefly. */
LAB_HIDDEN void lab_os_yield(void);

/* The same barrier across processes: every thread of every process that
 * called lab_os_global_barrier_register executes a full fence
 * (membarrier global expedited). register: 0, or -1 when the system has
 * none. The barrier function is signal-safe and returns 0 or -1 as above. */
LAB_HIDDEN int lab_os_global_barrier_register(void);
LAB_HIDDEN int lab_os_global_barrier(void);

/* Threads, for telling the living from the dead across processes.
 * lab_os_task_of: the process (tgid) of thread tid and both start times
 * (clock ticks since boot, from /proc). 0, or -1 if no such live thread.
 * lab_os_task_alive: 1 if thread tid of process pid exists, is not a
 * zombie and started at start; 0 if not; -1 if it cannot be told (no
 * /proc, or the ids are of another pid namespace): the caller must then
 * assume it is alive. Signal-safe (open, read,
 * close). */
struct lab_os_task {
	uint32_t pid, tid;
	uint64_t pid_start, tid_start;
	uint32_t ns; /* the pid namespace the ids belong to (inode, low bits) */
};
LAB_HIDDEN int lab_os_task_of(uint32_t tid, struct lab_os_task *out);
/* Whether a thread tid of process pid (0: of any process) exists (tgkill
 * or tkill with signal 0): 1 yes
 * (a zombie too), 0 no (ESRCH: final), -1 cannot be told. Signal-safe. */
LAB_HIDDEN int lab_os_task_exists(uint32_t pid, uint32_t tid);
LAB_HIDDEN int lab_os_task_alive(const struct lab_os_task *t);
LAB_HIDDEN uint32_t lab_os_getpid(void);
LAB_HIDDEN uint64_t lab_os_now_ns(void);

/* Shared objects: POSIX shared memory, memfds and files holding a maze.
 * Each returns an fd or a negative errno. No open blocks, whatever the
 * object: a directory is -EISDIR, a FIFO, socket or device -ENODEV, checked
 * before the open where a path is given (nothing but a regular file is ever
 * opened) and again on the fd. lab_os_obj_lock takes flock (exclusive or
 * shared, never waiting): 0, or -EBUSY. lab_os_obj_size: the object's size
 * (fstat), -EISDIR or -ENODEV as above, or a negative errno. lab_os_obj_map maps len
 * bytes from offset off (page aligned) at an address aligned to align
 * (shared, read-write unless ro), NULL on failure. */
LAB_HIDDEN int lab_os_shm_open(const char *name, bool create);
LAB_HIDDEN int lab_os_shm_unlink(const char *name);
LAB_HIDDEN int lab_os_memfd(void);
LAB_HIDDEN int lab_os_file_open(const char *path, bool create, bool ro);
LAB_HIDDEN int lab_os_file_unlink(const char *path);
LAB_HIDDEN int lab_os_obj_lock(int fd, bool exclusive);
LAB_HIDDEN long long lab_os_obj_size(int fd);
LAB_HIDDEN int lab_os_obj_resize(int fd, uint64_t len);
LAB_HIDDEN int lab_os_obj_read(int fd, void *buf, size_t len, uint64_t off);
LAB_HIDDEN void *lab_os_obj_map(int fd, uint64_t off, size_t len, size_t align, bool ro);
LAB_HIDDEN void lab_os_obj_close(int fd);
/* Fault in len bytes at p now (write: for writing), so that first use
 * takes no faults; a hint, failure is harmless. */
LAB_HIDDEN void lab_os_populate(void *p, size_t len, bool write);
/* The object's device and inode: 0 or -errno. */
LAB_HIDDEN int lab_os_obj_id(int fd, uint64_t *dev, uint64_t *ino);
/* Allocate the first len bytes' blocks (posix_fallocate): 0, or -ENOSPC
 * and the like; a file system that cannot is not an error. */
LAB_HIDDEN int lab_os_obj_reserve(int fd, uint64_t len);
/* A new descriptor for the same object (close-on-exec), or -errno. */
LAB_HIDDEN int lab_os_dup(int fd);

#endif

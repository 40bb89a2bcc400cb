/* The backing interface: everything labyrinth asks of the operating system.
 * The core (src/core) never calls the OS; the hosted layer calls only these.
 * A kernel or unikernel port replaces platform/linux.c.
 *
 * Each function states what it needs and what it promises. Those marked
 * "signal-safe" may be called from a signal handler and take no locks. */
#ifndef LAB_PLATFORM_H
#define LAB_PLATFORM_H

#include "core/atomic.h"
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
 * allowed. Not for signal handlers. */
LAB_HIDDEN void lab_os_futex_wait(lab_a32 *word, uint32_t expected, uint64_t timeout_ns);
/* Wake every thread sleeping on word. Signal-safe. */
LAB_HIDDEN void lab_os_futex_wake(lab_a32 *word);
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

#endif

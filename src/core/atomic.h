/* SPDX-License-Identifier: MIT */
/* Atomics that name their memory order (C11 <stdatomic.h> underneath).
 * No bare atomic_load/atomic_store: those are seq_cst by accident. */
#ifndef LAB_CORE_ATOMIC_H
#define LAB_CORE_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef _Atomic(uint32_t) lab_a32;
typedef _Atomic(uint64_t) lab_a64;

#define lab_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define lab_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define lab_load_seq_cst(p) atomic_load_explicit((p), memory_order_seq_cst)
#define lab_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define lab_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define lab_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define lab_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define lab_add_release(p, v) atomic_fetch_add_explicit((p), (v), memory_order_release)
#define lab_add_seq_cst(p, v) atomic_fetch_add_explicit((p), (v), memory_order_seq_cst)
#define lab_sub_seq_cst(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_seq_cst)
#define lab_and_release(p, v) atomic_fetch_and_explicit((p), (v), memory_order_release)
#define lab_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define lab_and_seq_cst(p, v) atomic_fetch_and_explicit((p), (v), memory_order_seq_cst)
#define lab_or_seq_cst(p, v) atomic_fetch_or_explicit((p), (v), memory_order_seq_cst)
#define lab_xchg_seq_cst(p, v) atomic_exchange_explicit((p), (v), memory_order_seq_cst)
#define lab_fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)
#define lab_fence_release() atomic_thread_fence(memory_order_release)
/* Weak CAS in retry loops; *expected is updated on failure. */
#define lab_cas_acq_rel(p, expected, desired)                                                      \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_acq_rel,    \
					      memory_order_acquire)
#define lab_cas_relaxed(p, expected, desired)                                                      \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_relaxed,    \
					      memory_order_relaxed)
/* Strong CAS where a spurious failure would be misread as a lost race. */
#define lab_cas_strong_acq_rel(p, expected, desired)                                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_acq_rel,  \
						memory_order_acquire)
#define lab_cas_strong_seq_cst(p, expected, desired)                                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_seq_cst,  \
						memory_order_seq_cst)
#define lab_cas_seq_cst(p, expected, desired)                                                      \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), memory_order_seq_cst,    \
					      memory_order_seq_cst)
#define lab_cas_strong_acquire(p, expected, desired)                                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_acquire,  \
						memory_order_relaxed)
#define lab_cas_strong_release(p, expected, desired)                                               \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), memory_order_release,  \
						memory_order_relaxed)
/* Orders plain accesses against a signal handler on the same thread only. */
#define lab_signal_fence() atomic_signal_fence(memory_order_seq_cst)

/* Race widening (make soak builds with -DLAB_DEBUG_YIELD): at the marked
 * windows between two steps of a protocol, sometimes give the CPU away.
 * The hook lives in the hosted layer, so such a build is not freestanding. */
#ifdef LAB_DEBUG_YIELD
void lab_debug_yield(void);
#define LAB_YIELD() lab_debug_yield()
#else
#define LAB_YIELD() ((void)0)
#endif

#define LAB_LIKELY(x) __builtin_expect(!!(x), 1)
#define LAB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LAB_HIDDEN __attribute__((visibility("hidden")))
#define LAB_INLINE static inline __attribute__((always_inline))

#endif

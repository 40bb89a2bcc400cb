/* SPDX-License-Identifier: MIT */
/* Runner workload handoff: producer threads allocate rooms and pass them to
 * consumer threads, which free them. Each producer has its own bounded
 * single-producer single-consumer ring to one consumer (producer i feeds
 * consumer i % consumers). With PEER_GIVE (labyrinth: exclusive rooms) the
 * producer gives each room to its consumer (lab_page_give to the consumer's
 * lab_self()) before enqueueing it, since only the owner may free it.
 */
#define _GNU_SOURCE
#include "runner.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_MAX 256u

struct ring {
	/* tail: written by the producer only (release: publishes slot[]),
	 * read by the consumer (acquire). head: the converse. */
	alignas(64) _Atomic size_t tail;
	alignas(64) _Atomic size_t head;
	alignas(64) _Atomic bool done; /* producer: no more rooms (release) */
	void **slot;
};

struct worker {
	uint64_t count; /* rooms produced or consumed */
	uint64_t nulls;
	uintptr_t bits;
	int err;
	_Atomic uint32_t self; /* a consumer's id for give() */
	char why[160];
};

struct handoff {
	struct peer_pool *pool;
	int producers, consumers;
	size_t cap; /* ring slots, a power of two */
	struct ring *ring;
	struct worker *w;	   /* producers first, then consumers */
	struct runner_window *win; /* the same order */
	struct runner_barrier bar;
};

/* Spinning politely when more threads than CPUs share the work. */
static inline void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

static void producer(struct handoff *h, int i)
{
	struct worker *w = &h->w[i];
	struct ring *r = &h->ring[i];
	struct peer_pool *pool = h->pool;
	void *(*alloc)(struct peer_pool *, unsigned) = pool->alloc;
	int (*give)(struct peer_pool *, void *, uint32_t) = pool->give;
	uint32_t to = 0;
	uint64_t limit = runner_ops_limit(), deadline, done = 0;
	size_t mask = h->cap - 1, tail = 0, head = 0;
	unsigned spins = 0;
	int e = 0;

	runner_warmup(pool, 0, w->why, sizeof(w->why));
	runner_barrier_wait(&h->bar);
	if (give)
		to = atomic_load_explicit(&h->w[h->producers + i % h->consumers].self,
					  memory_order_relaxed);
	runner_stagger(i);
	runner_window_begin(&h->win[i]);
	deadline = runner_deadline(h->win[i].t0);
	while (done < limit) {
		uint64_t n = limit - done < RUNNER_CHUNK ? limit - done : RUNNER_CHUNK;

		for (uint64_t k = 0; k < n; k++) {
			void *p = alloc(pool, 0);

			w->bits |= (uintptr_t)p;
			if (!p) {
				w->nulls++;
				continue;
			}
			if (give)
				e |= give(pool, p, to);
			while (tail - head == h->cap) {
				head = atomic_load_explicit(&r->head, memory_order_acquire);
				if (tail - head == h->cap)
					backoff(&spins);
			}
			r->slot[tail & mask] = p;
			atomic_store_explicit(&r->tail, ++tail, memory_order_release);
		}
		done += n;
		if (deadline && bench_now_ns() >= deadline)
			break;
	}
	atomic_store_explicit(&r->done, true, memory_order_release);
	runner_window_end(&h->win[i]);
	w->count = tail;
	w->err = e;
}

static void consumer(struct handoff *h, int c)
{
	struct worker *w = &h->w[h->producers + c];
	struct peer_pool *pool = h->pool;
	int (*release)(struct peer_pool *, void *, unsigned) = pool->free;
	size_t mask = h->cap - 1;
	uint64_t count = 0;
	unsigned spins = 0;
	int e = 0, live;

	runner_warmup(pool, 0, w->why, sizeof(w->why));
	if (ropt.peer->self)
		atomic_store_explicit(&w->self, ropt.peer->self(), memory_order_relaxed);
	runner_barrier_wait(&h->bar); /* publishes self to the producers */
	runner_stagger(h->producers + c);
	runner_window_begin(&h->win[h->producers + c]);
	do {
		bool got = false;

		live = 0;
		for (int i = c; i < h->producers; i += h->consumers) {
			struct ring *r = &h->ring[i];
			/* done before tail: a ring emptied after done was seen is final. */
			bool done = atomic_load_explicit(&r->done, memory_order_acquire);
			size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
			size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

			if (head != tail) {
				got = true;
				for (; head != tail; head++, count++)
					e |= release(pool, r->slot[head & mask], 0);
				atomic_store_explicit(&r->head, head, memory_order_release);
			}
			live += !done;
		}
		if (!got)
			backoff(&spins);
	} while (live);
	runner_window_end(&h->win[h->producers + c]);
	w->count = count;
	w->err = e;
}

static void handoff_worker(void *arg, int i)
{
	struct handoff *h = arg;

	if (i < h->producers)
		producer(h, i);
	else
		consumer(h, i - h->producers);
}

int wl_handoff(void)
{
	struct handoff h;
	struct runner_span span = { 0, 0, 0, 0 };
	int n, i, rc = -1;
	uint64_t made = 0, freed = 0;
	size_t cap;

	memset(&h, 0, sizeof(h));
	h.producers = ropt.threads > 1 ? (ropt.threads + 1) / 2 : 1;
	h.consumers = ropt.threads > 1 ? ropt.threads - h.producers : 1;
	n = h.producers + h.consumers;
	/* Rooms in flight stay below a quarter of the pool. */
	for (cap = RING_MAX; cap > 1 && cap * (size_t)h.producers * 4 > ropt.pages; cap /= 2)
		;
	h.cap = cap;
	h.pool = runner_pool(ropt.pages, 0);
	h.ring = aligned_alloc(64, (size_t)h.producers * sizeof(*h.ring));
	h.w = calloc((size_t)n, sizeof(*h.w));
	h.win = calloc((size_t)n, sizeof(*h.win));
	if (!h.pool || !h.ring || !h.w || !h.win) {
		runner_fail("set-up failed");
		goto out;
	}
	memset(h.ring, 0, (size_t)h.producers * sizeof(*h.ring));
	for (i = 0; i < h.producers; i++)
		if (!(h.ring[i].slot = runner_ptrs(cap))) {
			runner_fail("out of memory");
			goto out;
		}
	runner_barrier_init(&h.bar, n);
	rc = runner_threads(n, handoff_worker, &h);
	if (rc)
		goto out;
	rc = -1;
	for (i = 0; i < n; i++) {
		struct worker *w = &h.w[i];

		if (w->why[0]) {
			runner_fail("thread %d: %s", i, w->why);
			goto out;
		}
		if (w->nulls) {
			runner_fail("producer %d: %llu allocations returned NULL with at most %zu "
				    "rooms in flight",
				    i, (unsigned long long)w->nulls, cap * (size_t)h.producers + 1);
			goto out;
		}
		if (w->err) {
			runner_fail("%s %d: a %s failed (OR of results %d)",
				    i < h.producers ? "producer" : "consumer", i,
				    i < h.producers ? "give" : "free", w->err);
			goto out;
		}
		if (w->bits & (h.pool->page_size - 1)) {
			runner_fail("a room not aligned to %zu B", h.pool->page_size);
			goto out;
		}
		if (i < h.producers) {
			made += w->count;
			if (runner_deadline(1) == 0 && w->count != runner_ops_limit()) {
				runner_fail("producer %d: %llu rooms handed over, %llu asked", i,
					    (unsigned long long)w->count,
					    (unsigned long long)runner_ops_limit());
				goto out;
			}
		} else {
			freed += w->count;
		}
	}
	if (made != freed || !made) {
		runner_fail("%llu rooms produced, %llu consumed", (unsigned long long)made,
			    (unsigned long long)freed);
		goto out;
	}
	runner_sink += made;
	runner_span_add(&span, h.win, n);
	runner_set_span(&span);
	runner_report("op", (double)span.uni / (double)made, "ns",
		      (double)made / (double)span.uni * 1e3, made, n,
		      "wall time per room handed over: %d producer(s) allocate%s, %d consumer(s) "
		      "free, SPSC rings of %zu",
		      h.producers, ropt.peer->self ? " and give" : "", h.consumers, cap);
	runner_report("throughput", (double)made / (double)span.uni * 1e3, "Mops",
		      (double)made / (double)span.uni * 1e3, made, n,
		      "rooms handed over per second, in millions");
	rc = 0;
out:
	if (h.pool)
		ropt.peer->destroy(h.pool);
	for (i = 0; h.ring && i < h.producers; i++)
		free(h.ring[i].slot);
	free(h.ring);
	free(h.w);
	free(h.win);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* The scenario behind `labyrinth map` and `labyrinth stats`: a maze of
 * index-only rooms (no memory behind them), worked on by several threads so
 * that several owners appear, some blocks exclusive and some rooms left in
 * thread caches. The threads stop at a barrier, still alive with their
 * caches full, while the caller looks at the maze; scenario_end() lets them go.
 */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 100

struct held {
	size_t index;
	unsigned order;
};

struct worker {
	struct scenario *sc;
	pthread_t th;
	int id;
	uint64_t rng;
	struct held *held;
	size_t nheld, cap;
	size_t rooms; /* rooms held */
	int failed;   /* an unexpected error: a negative errno */
};

struct priv {
	pthread_barrier_t done, go;
	struct worker *w;
	int started;
};

static uint64_t next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
	return n ? (size_t)(next(s) % n) : 0;
}

void scenario_defaults(struct scenario_opts *o)
{
	o->workload = "fragment";
	o->pages = 65536;
	o->page_size = 4096;
	o->threads = 4;
	o->seed = 1;
}

int scenario_option(struct scenario_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case 'w':
		if (strcmp(arg, "fragment") && strcmp(arg, "fill") && strcmp(arg, "churn"))
			return cli_usage_error("--workload wants fragment, fill or churn, not '%s'",
					       arg);
		o->workload = arg;
		return 1;
	case 'p':
		if (cli_parse_u64(arg, 1, (uint64_t)1 << 30, &v))
			return cli_usage_error("--pages wants 1..2^30, not '%s'", arg);
		o->pages = (size_t)v;
		return 1;
	case 'P':
		if (cli_parse_u64(arg, 4096, (uint64_t)1 << 30, &v) || (v & (v - 1)))
			return cli_usage_error("--page-size wants a power of two in 4096..2^30, "
					       "not '%s'",
					       arg);
		o->page_size = (size_t)v;
		return 1;
	case 't':
		if (cli_parse_u64(arg, 1, 64, &v))
			return cli_usage_error("--threads wants 1..64, not '%s'", arg);
		o->threads = (int)v;
		return 1;
	case 's':
		if (cli_parse_u64(arg, 0, UINT64_MAX, &v))
			return cli_usage_error("--seed wants a whole number, not '%s'", arg);
		o->seed = v;
		return 1;
	}
	return 0;
}

static int take(struct worker *w, unsigned order, bool excl)
{
	lab_gfp_t gfp = LAB_GFP_NOWAIT | (excl ? LAB_GFP_EXCLUSIVE : 0);
	long idx = lab_alloc_index(w->sc->maze, gfp, order);

	if (idx < 0)
		return -1; /* full, or no aligned block left: fine for a picture */
	if (w->nheld == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		struct held *h = realloc(w->held, cap * sizeof(*h));

		if (!h) {
			lab_free_index(w->sc->maze, (size_t)idx, order);
			w->failed = -ENOMEM;
			return -1;
		}
		w->held = h;
		w->cap = cap;
	}
	w->held[w->nheld].index = (size_t)idx;
	w->held[w->nheld].order = order;
	w->nheld++;
	w->rooms += (size_t)1 << order;
	return 0;
}

static void drop(struct worker *w, size_t j)
{
	struct held h = w->held[j];
	int e = lab_free_index(w->sc->maze, h.index, h.order);

	if (e && !w->failed)
		w->failed = e;
	w->rooms -= (size_t)1 << h.order;
	w->held[j] = w->held[--w->nheld];
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct scenario *sc = w->sc;
	struct priv *pv = sc->priv_;
	const char *wl = sc->opt.workload;
	size_t T = (size_t)sc->opt.threads, N = sc->opt.pages;
	size_t share;
	unsigned maxo = 0;

	sc->owners[w->id] = lab_self();
	if (!strcmp(wl, "fill")) {
		/* 75% in blocks of order 0..4, nothing freed */
		share = (N * 3 / 4) * (size_t)(w->id + 1) / T - (N * 3 / 4) * (size_t)w->id / T;
		for (size_t fails = 0; w->rooms < share && fails < 64;) {
			unsigned o = (unsigned)below(&w->rng, 5);

			while (o && ((size_t)1 << o) > share - w->rooms)
				o--;
			if (take(w, o, below(&w->rng, 4) == 0))
				fails++;
		}
		goto wait;
	}
	/* fragment and churn: fill 50%, then ROUNDS rounds of freeing and
	 * re-allocating a random 10% of what this thread holds */
	maxo = !strcmp(wl, "churn") ? 3 : 0;
	share = (N / 2) * (size_t)(w->id + 1) / T - (N / 2) * (size_t)w->id / T;
	for (size_t fails = 0; w->rooms < share && fails < 64;) {
		unsigned o = maxo ? (unsigned)below(&w->rng, maxo + 1) : 0;

		while (o && ((size_t)1 << o) > share - w->rooms)
			o--;
		if (take(w, o, below(&w->rng, 4) == 0))
			fails++;
	}
	for (int r = 0; r < ROUNDS && !w->failed; r++) {
		size_t k = w->nheld / 10;

		for (size_t q = 0; q < k && w->nheld; q++)
			drop(w, below(&w->rng, w->nheld));
		for (size_t q = 0; q < k; q++) {
			unsigned o = maxo ? (unsigned)below(&w->rng, maxo + 1) : 0;

			take(w, o, below(&w->rng, 4) == 0);
		}
	}
wait:
	pthread_barrier_wait(&pv->done); /* the caller looks at the maze */
	pthread_barrier_wait(&pv->go);	 /* then we exit; the exit drains our caches */
	return NULL;
}

int scenario_run(struct scenario *sc, const struct scenario_opts *o)
{
	struct lab_config cfg;
	struct priv *pv;
	int e;

	memset(sc, 0, sizeof(*sc));
	sc->opt = *o;
	memset(&cfg, 0, sizeof(cfg));
	cfg.pages = o->pages;
	cfg.page_size = o->page_size;
	cfg.flags = LAB_NO_MEMORY;
	e = lab_create(&sc->maze, &cfg);
	if (e)
		return cli_error("lab_create(%zu rooms of %zu B): %s", o->pages, o->page_size,
				 lab_strerror(e));
	pv = calloc(1, sizeof(*pv));
	if (pv)
		pv->w = calloc((size_t)o->threads, sizeof(*pv->w));
	if (!pv || !pv->w) {
		free(pv);
		lab_destroy(sc->maze);
		sc->maze = NULL;
		return cli_error("out of memory");
	}
	sc->priv_ = pv;
	pthread_barrier_init(&pv->done, NULL, (unsigned)o->threads + 1);
	pthread_barrier_init(&pv->go, NULL, (unsigned)o->threads + 1);
	sc->nowners = o->threads;
	for (int i = 0; i < o->threads; i++) {
		struct worker *w = &pv->w[i];

		w->sc = sc;
		w->id = i;
		w->rng = o->seed * 0x2545f4914f6cdd1dull + (uint64_t)i * 0x9e3779b97f4a7c15ull + 1;
		e = pthread_create(&w->th, NULL, work, w);
		if (e) {
			/* cannot run with fewer parties: fail hard but cleanly */
			fprintf(stderr, "%s: pthread_create: %s\n", cli_cmd, strerror(e));
			exit(CLI_FAIL);
		}
		pv->started++;
	}
	pthread_barrier_wait(&pv->done);

	for (int i = 0; i < o->threads; i++)
		if (pv->w[i].failed)
			return cli_error("worker %d: an unexpected error: %s", i,
					 lab_strerror(pv->w[i].failed));
	lab_stats(sc->maze, &sc->st);
	sc->valid = lab_validate(sc->maze, sc->why, sizeof(sc->why));
	for (size_t i = 0; i < o->pages; i++) {
		struct lab_room r;

		if (lab_room_info(sc->maze, i, &r))
			continue;
		if (r.state == LAB_ROOM_ALLOCATED) {
			sc->allocated++;
			sc->exclusive += r.exclusive ? 1 : 0;
		} else if (r.state == LAB_ROOM_CACHED) {
			sc->cached++;
		}
	}
	return CLI_OK;
}

void scenario_end(struct scenario *sc)
{
	struct priv *pv = sc->priv_;

	if (!pv)
		return;
	pthread_barrier_wait(&pv->go);
	for (int i = 0; i < pv->started; i++) {
		pthread_join(pv->w[i].th, NULL);
		free(pv->w[i].held);
	}
	pthread_barrier_destroy(&pv->done);
	pthread_barrier_destroy(&pv->go);
	free(pv->w);
	free(pv);
	sc->priv_ = NULL;
	lab_destroy(sc->maze);
	sc->maze = NULL;
}

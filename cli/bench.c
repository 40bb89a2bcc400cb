/* SPDX-License-Identifier: MIT */
/* labyrinth bench: the options, the jobs they make and the order they run
 * in. A job is one workload at one thread count and pool size; every job
 * runs on every peer chosen (bench_run.c), and each measurement adds its
 * rows (bench_report.c). Besides the runner's workloads there are two
 * groups: scale (bulk0, pairs, churn50 and handoff at 1 ... nproc threads)
 * and size (bulk0 in pools of 2^16 ... 2^28 rooms).
 */
#include "bench.h"

#include <getopt.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static const char *const all_workloads[] = { "bulk0",	"bulk9",    "pairs",  "churn",
					     "handoff", "nearfull", "signal", "fragment" };
#define NWORKLOADS (int)(sizeof(all_workloads) / sizeof(all_workloads[0]))

/* scale: what runs at every thread count */
static const char *const scale_workloads[] = { "bulk0", "pairs", "churn50", "handoff" };
#define NSCALE (int)(sizeof(scale_workloads) / sizeof(scale_workloads[0]))

#define MAX_LIST 32
#define MAX_JOBS 512

/* pool sizes: scale's, and the size sweep's (full and --quick) */
#define SCALE_PAGES ((uint64_t)1 << 22)
#define SCALE_PAGES_QUICK ((uint64_t)1 << 16)
static const uint64_t sizes_full[] = { 1u << 16, 1u << 18, 1u << 20, 1u << 22,
				       1u << 24, 1u << 26, 1u << 28 };
static const uint64_t sizes_quick[] = { 1u << 16, 1u << 18, 1u << 20, 1u << 22 };

struct opts {
	char *workloads[MAX_LIST];
	int nworkloads;
	char *peers[BENCH_MAX_PEERS];
	int npeers;
	int threads[MAX_LIST];
	int nthreads;
	int pthreads[MAX_LIST]; /* more thread counts of pairs (--pairs-threads) */
	int npthreads;
	int fills[MAX_LIST];
	int nfills;
	uint64_t sizes[MAX_LIST];
	int nsizes;
	uint64_t pages, batch;
	const char *page_size, *seed;
	uint64_t ops;
	double duration;
	int runs;
	bool pin, quick, list, ops_set, runs_set;
	const char *csv, *json, *png;
	const char *base; /* --base: the peer of the ratios */
};

/* ---- options ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labyrinth bench [OPTIONS]\n"
		"Runs workloads against labyrinth and its peers, each peer in its own runner\n"
		"process: a warm-up run, then --runs runs; prints the median of each metric,\n"
		"Mops/s of all threads, the ratio to labyrinth (peer time / labyrinth time, so\n"
		"> 1 means labyrinth is faster; for throughput and kept: labyrinth / peer), the\n"
		"scaling over the same peer at the fewest threads, and the overlap of the\n"
		"threads' timed windows. Every run is timed for %g ms at least (the warm-up finds\n"
		"how many times over to do the work); a run whose threads overlap less than 90%%,\n"
		"or that waited for a CPU over 10%% of the time, is invalid and is made again (2 x\n"
		"--runs runs at most). Every counted run of a row must do the same number of\n"
		"operations (unless --duration).\n"
		"\n"
		"  -w, --workload LIST  comma-separated, default all: bulk0 bulk9 pairs churn\n"
		"                       handoff nearfull signal fragment ('bulk' = bulk0,bulk9;\n"
		"                       churnNN = churn at NN%% fill), and the groups\n"
		"                       scale: bulk0 pairs churn50 handoff at each of --threads\n"
		"                         (default 1 ... the CPUs this process may use: each\n"
		"                         count up to 16, then powers of two), in --pages rooms\n"
		"                         (default 4M; --quick 64k)\n"
		"                       size: bulk0 (one thread fills the pool) at each of --sizes\n"
		"  -p, --peers LIST     default: every peer the runners offer (see --list) but\n"
		"                       the opt-in ones (caps optin: labyrinth on a shared maze,\n"
		"                       the design note's calls)\n"
		"      --base PEER      the peer of the ratio column (default labyrinth)\n"
		"  -t, --threads LIST   thread counts, default 1 (e.g. 1,2,4); scale: see above\n"
		"      --pairs-threads LIST  more thread counts for pairs only\n"
		"      --pages N        rooms per pool (runner default 65536; nearfull 2^24)\n"
		"      --page-size B    bytes per room, a power of two >= 4096\n"
		"      --batch N        bulk: blocks each thread allocates, then frees (default:\n"
		"                       the threads together fill the pool; scale: half of it\n"
		"                       at the most threads)\n"
		"      --sizes LIST     size: pool sizes (default 64k,256k,1M,4M,16M,64M,256M;\n"
		"                       --quick 64k,256k,1M,4M); bounded peers only\n"
		"      --ops N          operations per thread per run before calibration\n"
		"                       (default 1000000)\n"
		"      --duration S     bound each run by time instead of --ops\n"
		"      --seed S         seed of every random choice (default 1)\n"
		"      --fill LIST      churn fill levels in percent (default 10,50,90,99)\n"
		"  -r, --runs N         valid runs after the warm-up (default 5)\n"
		"      --no-pin         do not pin; by default thread i runs on the i-th CPU\n"
		"                       the process may use, round robin (--pin)\n"
		"  -q, --quick          smaller: --runs 3, --ops 20000, nearfull 2^20 rooms,\n"
		"                       scale 64k rooms, sizes up to 4M (explicit options win)\n"
		"      --csv FILE       write every row as CSV\n"
		"      --json FILE      write every row as a JSON array of objects\n"
		"      --png FILE       plot with gnuplot: median ns/op per workload and peer;\n"
		"                       threads vs Mops/s where several thread counts ran (scale);\n"
		"                       rooms vs ns/op where several sizes ran (size)\n"
		"  -l, --list           list the peers found and their capabilities, then exit\n"
		"  -h, --help           this help\n"
		"\n"
		"Runners: labyrinth-runner[-jemalloc|-tcmalloc|-mimalloc] next to this executable,\n"
		"else in $LABYRINTH_RUNNER_DIR, else in the installed libexec/labyrinth/.\n"
		"A progress bar is drawn on stderr when it is a terminal.\n",
		BENCH_MIN_WINDOW_MS);
}

static bool known_workload(const char *w)
{
	uint64_t v;

	for (int i = 0; i < NWORKLOADS; i++)
		if (!strcmp(w, all_workloads[i]))
			return true;
	if (!strcmp(w, "bulk") || !strcmp(w, "all") || !strcmp(w, "scale") || !strcmp(w, "size"))
		return true;
	return !strncmp(w, "churn", 5) && !cli_parse_u64(w + 5, 1, 99, &v);
}

/* A comma-separated list of numbers in [lo, hi]: their count, or CLI_USAGE
 * as a negative number after a message. */
static int parse_list(const char *arg, const char *what, uint64_t *out, int max, uint64_t lo,
		      uint64_t hi)
{
	char *item[MAX_LIST];
	int n = cli_split(arg, item, MAX_LIST), i;

	if (n < 0 || n > max)
		return -cli_usage_error("%s wants a comma-separated list of numbers, not '%s'",
					what, arg);
	for (i = 0; i < n; i++)
		if (cli_parse_u64(item[i], lo, hi, &out[i])) {
			cli_usage_error("%s: '%s' is not a number in %llu..%llu", what, item[i],
					(unsigned long long)lo, (unsigned long long)hi);
			break;
		}
	for (int j = 0; j < n; j++)
		free(item[j]);
	return i == n ? n : -CLI_USAGE;
}

static int parse_ints(const char *arg, const char *what, int *out, int lo, int hi)
{
	uint64_t v[MAX_LIST];
	int n = parse_list(arg, what, v, MAX_LIST, (uint64_t)lo, (uint64_t)hi);

	for (int i = 0; i < n; i++)
		out[i] = (int)v[i];
	return n;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_PAGES = 256,
		O_PAGE_SIZE,
		O_OPS,
		O_DURATION,
		O_SEED,
		O_FILL,
		O_PIN,
		O_NO_PIN,
		O_CSV,
		O_JSON,
		O_PNG,
		O_PTHREADS,
		O_BASE,
		O_BATCH,
		O_SIZES
	};
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "peers", required_argument, NULL, 'p' },
		{ "peer", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "pairs-threads", required_argument, NULL, O_PTHREADS },
		{ "pages", required_argument, NULL, O_PAGES },
		{ "page-size", required_argument, NULL, O_PAGE_SIZE },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "ops", required_argument, NULL, O_OPS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "seed", required_argument, NULL, O_SEED },
		{ "fill", required_argument, NULL, O_FILL },
		{ "runs", required_argument, NULL, 'r' },
		{ "pin", no_argument, NULL, O_PIN },
		{ "no-pin", no_argument, NULL, O_NO_PIN },
		{ "quick", no_argument, NULL, 'q' },
		{ "csv", required_argument, NULL, O_CSV },
		{ "json", required_argument, NULL, O_JSON },
		{ "png", required_argument, NULL, O_PNG },
		{ "base", required_argument, NULL, O_BASE },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	double d;
	int c, n;

	o->pin = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":w:p:t:r:qlh", lo, NULL)) != -1) {
		switch (c) {
		case 'w':
		case 'p': {
			char **list = c == 'w' ? o->workloads : o->peers;
			int *count = c == 'w' ? &o->nworkloads : &o->npeers;

			while (*count > 0)
				free(list[--*count]);
			n = cli_split(optarg, list, c == 'w' ? MAX_LIST : BENCH_MAX_PEERS);
			if (n < 0)
				return cli_usage_error("%s wants a comma-separated list, not '%s'",
						       c == 'w' ? "--workload" : "--peers", optarg);
			*count = n;
			break;
		}
		case 't':
			if ((n = parse_ints(optarg, "--threads", o->threads, 1, 1024)) < 0)
				return -n;
			o->nthreads = n;
			break;
		case O_PTHREADS:
			if ((n = parse_ints(optarg, "--pairs-threads", o->pthreads, 1, 1024)) < 0)
				return -n;
			o->npthreads = n;
			break;
		case O_FILL:
			if ((n = parse_ints(optarg, "--fill", o->fills, 1, 99)) < 0)
				return -n;
			o->nfills = n;
			break;
		case O_SIZES:
			if ((n = parse_list(optarg, "--sizes", o->sizes, MAX_LIST, 1024,
					    (uint64_t)1 << 32)) < 0)
				return -n;
			o->nsizes = n;
			break;
		case O_PAGES:
		case O_BATCH:
			if (cli_parse_u64(optarg, 1, (uint64_t)1 << 32, &v))
				return cli_usage_error("--%s wants 1..2^32, not '%s'",
						       c == O_PAGES ? "pages" : "batch", optarg);
			*(c == O_PAGES ? &o->pages : &o->batch) = v;
			break;
		case O_PAGE_SIZE:
			if (cli_parse_u64(optarg, 4096, (uint64_t)1 << 30, &v) || (v & (v - 1)))
				return cli_usage_error("--page-size wants a power of two in "
						       "4096..2^30, not '%s'",
						       optarg);
			o->page_size = optarg;
			break;
		case O_OPS:
			if (cli_parse_u64(optarg, 1, (uint64_t)1 << 48, &v))
				return cli_usage_error("--ops wants 1..2^48, not '%s'", optarg);
			o->ops = v;
			o->ops_set = true;
			break;
		case O_DURATION:
			if (cli_parse_double(optarg, 3600, &d))
				return cli_usage_error("--duration wants seconds in (0, 3600], "
						       "not '%s'",
						       optarg);
			o->duration = d;
			break;
		case O_SEED:
			if (cli_parse_u64(optarg, 0, UINT64_MAX, &v))
				return cli_usage_error("--seed wants a whole number, not '%s'",
						       optarg);
			o->seed = optarg;
			break;
		case 'r':
			if (cli_parse_u64(optarg, 1, BENCH_MAX_RUNS / 2, &v))
				return cli_usage_error("--runs wants 1..%d, not '%s'",
						       BENCH_MAX_RUNS / 2, optarg);
			o->runs = (int)v;
			o->runs_set = true;
			break;
		case O_PIN:
		case O_NO_PIN:
			o->pin = c == O_PIN;
			break;
		case 'q':
			o->quick = true;
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_JSON:
			o->json = optarg;
			break;
		case O_PNG:
			o->png = optarg;
			break;
		case O_BASE:
			o->base = optarg;
			break;
		case 'l':
			o->list = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return cli_bad_option(argv, c);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->ops_set && o->duration > 0)
		return cli_usage_error("--ops and --duration exclude each other");
	for (int i = 0; i < o->nworkloads; i++)
		if (!known_workload(o->workloads[i]))
			return cli_usage_error("unknown workload '%s'", o->workloads[i]);
	if (!o->runs_set)
		o->runs = o->quick ? 3 : 5;
	if (!o->ops_set)
		o->ops = o->quick ? 20000 : 1000000;
	if (!o->nfills) {
		static const int f[] = { 10, 50, 90, 99 };

		memcpy(o->fills, f, sizeof(f));
		o->nfills = 4;
	}
	if (!o->nsizes) {
		const uint64_t *s = o->quick ? sizes_quick : sizes_full;

		o->nsizes = o->quick ? (int)(sizeof(sizes_quick) / sizeof(*s)) :
				       (int)(sizeof(sizes_full) / sizeof(*s));
		memcpy(o->sizes, s, (size_t)o->nsizes * sizeof(*s));
	}
	return 0;
}

/* ---- the jobs ------------------------------------------------------------------------ */

static struct bench_job jobs[MAX_JOBS];
static int njobs;

static void add_job(const char *label, const char *workload, int threads, uint64_t pages,
		    uint64_t batch)
{
	struct bench_job *j = &jobs[njobs];

	for (int i = 0; i < njobs; i++)
		if (!strcmp(jobs[i].label, label) && jobs[i].threads == threads &&
		    jobs[i].pages == pages && jobs[i].batch == batch)
			return; /* asked twice */
	if (njobs == MAX_JOBS)
		return;
	snprintf(j->label, sizeof(j->label), "%s", label);
	snprintf(j->workload, sizeof(j->workload), "%s", workload);
	j->threads = threads;
	j->pages = pages;
	j->batch = batch;
	njobs++;
}

static bool wanted(const struct opts *o, const char *name)
{
	if (!o->nworkloads)
		return !strcmp(name, "all");
	for (int i = 0; i < o->nworkloads; i++)
		if (!strcmp(o->workloads[i], name))
			return true;
	return false;
}

/* The CPUs this process may use, as "0-3" or "0,2" in buf; their count. */
static int allowed_cpus(char *buf, size_t len)
{
	cpu_set_t set;
	int n = 0, c, first = -1;
	size_t at = 0;

	buf[0] = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	for (c = 0; c <= CPU_SETSIZE; c++) {
		bool in = c < CPU_SETSIZE && CPU_ISSET(c, &set);

		n += in;
		if (in && first < 0)
			first = c;
		if (!in && first >= 0 && at < len) {
			at += (size_t)snprintf(buf + at, len - at, "%s%d", at ? "," : "", first);
			if (c - 1 > first && at < len)
				at += (size_t)snprintf(buf + at, len - at, "-%d", c - 1);
			first = -1;
		}
	}
	return n ? n : 1;
}

/* The runner's workloads, in their order; churn expanded to churnFILL. */
static void add_plain_jobs(const struct opts *o)
{
	int t1[] = { 1 };
	const int *tl = o->nthreads ? o->threads : t1;
	int ntl = o->nthreads ? o->nthreads : 1;
	uint64_t near = o->pages ? o->pages : o->quick ? (uint64_t)1 << 20 : 0;
	char name[32];

	for (int k = 0; k < NWORKLOADS; k++) {
		const char *a = all_workloads[k];
		bool want = wanted(o, "all") || wanted(o, a) ||
			    (!strncmp(a, "bulk", 4) && wanted(o, "bulk"));

		for (int t = 0; t < ntl; t++) {
			if (!strcmp(a, "churn")) {
				for (int f = 0; want && f < o->nfills; f++) {
					snprintf(name, sizeof(name), "churn%d", o->fills[f]);
					add_job(name, name, tl[t], o->pages, 0);
				}
				for (int i = 0; i < o->nworkloads; i++)
					if (!strncmp(o->workloads[i], "churn", 5) &&
					    o->workloads[i][5])
						add_job(o->workloads[i], o->workloads[i], tl[t],
							o->pages, 0);
				continue;
			}
			if (want)
				add_job(a, a, tl[t], !strcmp(a, "nearfull") ? near : o->pages,
					!strncmp(a, "bulk", 4) ? o->batch : 0);
		}
		for (int t = 0; want && !strcmp(a, "pairs") && t < o->npthreads; t++)
			add_job(a, a, o->pthreads[t], o->pages, 0);
	}
}

static void add_scale_jobs(const struct opts *o, int ncpus)
{
	uint64_t pages = o->pages ? o->pages : o->quick ? SCALE_PAGES_QUICK : SCALE_PAGES;
	int n = 0, threads[MAX_LIST], most = 1;
	uint64_t batch;
	char label[32];

	/* default: every count up to 16 CPUs, then powers of two and the CPUs */
	for (int t = 0; t < o->nthreads; t++)
		threads[n++] = o->threads[t];
	for (int t = 1; !o->nthreads && t < ncpus; t = ncpus <= 16 ? t + 1 : 2 * t)
		threads[n++] = t;
	if (!o->nthreads)
		threads[n++] = ncpus;
	for (int t = 0; t < n; t++)
		most = threads[t] > most ? threads[t] : most;
	/* bulk: the pool half full at the most threads */
	batch = o->batch ? o->batch : pages / (2 * (uint64_t)most);
	batch = batch ? batch : 1;
	for (int k = 0; k < NSCALE; k++) {
		snprintf(label, sizeof(label), "scale/%s", scale_workloads[k]);
		for (int t = 0; t < n; t++)
			add_job(label, scale_workloads[k], threads[t], pages,
				!strcmp(scale_workloads[k], "bulk0") ? batch : 0);
	}
}

static void add_size_jobs(const struct opts *o)
{
	for (int i = 0; i < o->nsizes; i++)
		add_job("size/bulk0", "bulk0", 1, o->sizes[i], 0);
}

/* ---- the run ------------------------------------------------------------------------- */

/* The peers to run, labyrinth first; CLI_OK or CLI_USAGE after a message. */
static int choose_peers(const struct opts *o, const struct bench_peer **order, int *n)
{
	*n = 0;
	if (!o->npeers) {
		const struct bench_peer *lab = bench_find_peer("labyrinth");

		if (lab)
			order[(*n)++] = lab;
		/* peers with caps "optin" (variants of another peer) run only when named */
		for (int i = 0; i < bench_npeers(); i++)
			if (bench_peer_at(i) != lab && !bench_has_cap(bench_peer_at(i), "optin"))
				order[(*n)++] = bench_peer_at(i);
		return CLI_OK;
	}
	for (int i = 0; i < o->npeers; i++) {
		const struct bench_peer *p = bench_find_peer(o->peers[i]);
		bool dup = false;

		if (!p) {
			fprintf(stderr, "%s: no peer '%s'; the runners in %s offer:", cli_cmd,
				o->peers[i], bench_runner_dir());
			for (int k = 0; k < bench_npeers(); k++)
				fprintf(stderr, " %s", bench_peer_at(k)->name);
			fprintf(stderr, "\n");
			return CLI_USAGE;
		}
		for (int k = 0; k < *n; k++)
			dup |= order[k] == p;
		if (!dup)
			order[(*n)++] = p;
	}
	return CLI_OK;
}

static void print_header(const struct opts *o, const char *base, const char *cpus, int ncpus)
{
	printf("labyrinth bench: runners in %s; %d valid run%s after a warm-up, median per "
	       "metric;\n",
	       bench_runner_dir(), o->runs, o->runs == 1 ? "" : "s");
	if (o->duration > 0)
		printf("  each run bounded by %g s;\n", o->duration);
	else
		printf("  %llu operations per thread per run, or as many times over as makes a run "
		       "last %g ms;\n",
		       (unsigned long long)o->ops, BENCH_MIN_WINDOW_MS);
	if (o->pin)
		printf("  threads pinned, thread i to the i-th of CPUs %s (%d this process may "
		       "use);\n",
		       cpus, ncpus);
	else
		printf("  threads not pinned (--no-pin), %d CPUs (%s);\n", ncpus, cpus);
	printf("  overlap: the threads' timed windows, intersection / union; below 90%%, or "
	       "kept waiting for a CPU over 10%%, a run is invalid;\n"
	       "  ratio: peer time / %s time (> 1: %s faster); for throughput and kept: "
	       "%s / peer;\n"
	       "  scale: Mops/s over the same peer's at the fewest threads\n\n",
	       base, base, base);
	fflush(stdout);
}

static int bench(struct opts *o)
{
	static struct bench_measure ms;
	const struct bench_peer *order[BENCH_MAX_PEERS];
	struct bench_settings s;
	char cpus[256];
	int norder, rc, ncpus = allowed_cpus(cpus, sizeof(cpus));
	const char *base;

	rc = bench_find_peers();
	if (rc)
		return rc;
	if (o->list) {
		printf("runners in %s\n", bench_runner_dir());
		for (int i = 0; i < bench_npeers(); i++) {
			const struct bench_peer *p = bench_peer_at(i);

			printf("peer %-20s caps=%-36s %s\n", p->name, p->caps,
			       strrchr(p->runner, '/') + 1);
		}
		return CLI_OK;
	}
	if ((rc = choose_peers(o, order, &norder)))
		return rc;
	if (o->base && !bench_find_peer(o->base)) {
		fprintf(stderr, "%s: --base: no peer '%s' (see --list)\n", cli_cmd, o->base);
		return CLI_USAGE;
	}
	base = o->base ? o->base : "labyrinth";
	njobs = 0;
	add_plain_jobs(o);
	if (wanted(o, "scale"))
		add_scale_jobs(o, ncpus);
	if (wanted(o, "size"))
		add_size_jobs(o);

	s = (struct bench_settings){ .ops = o->ops,
				     .duration = o->duration,
				     .seed = o->seed ? o->seed : "1",
				     .page_size = o->page_size,
				     .runs = o->runs,
				     .pin = o->pin };
	print_header(o, base, cpus, ncpus);
	bench_progress_begin(njobs * norder);
	for (int j = 0; j < njobs; j++)
		for (int p = 0; p < norder; p++) {
			char what[96];
			size_t mark = bench_rows_mark();

			snprintf(what, sizeof(what), "%.31s t=%d %.31s", jobs[j].label,
				 jobs[j].threads, order[p]->name);
			bench_progress_step(what);
			/* the size sweep: pools that say when they are full */
			if (!strncmp(jobs[j].label, "size/", 5) &&
			    !bench_has_cap(order[p], "bounded"))
				continue;
			bench_measure(&jobs[j], order[p], &s, &ms);
			if (!strcmp(ms.status, "dup"))
				bench_rows_reset(mark);
			else
				bench_add_rows(&jobs[j], order[p]->name, &ms, &s);
		}
	bench_progress_end();
	bench_finish_rows(base);
	bench_print_table();
	fflush(stdout);

	rc = bench_rows_status();
	if (o->csv && bench_write_csv(o->csv))
		rc = CLI_FAIL;
	if (o->json && bench_write_json(o->json))
		rc = CLI_FAIL;
	if (o->png) {
		size_t n;
		const struct bench_row *r = bench_rows(&n);

		if (plot_bench(o->png, r, n))
			rc = CLI_FAIL;
	}
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	static struct opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_opts(argc, argv, &o);
	if (rc == 0)
		rc = bench(&o);
	else if (rc < 0)
		rc = CLI_OK; /* --help */
	for (int i = 0; i < o.nworkloads; i++)
		free(o.workloads[i]);
	for (int i = 0; i < o.npeers; i++)
		free(o.peers[i]);
	bench_rows_free();
	return rc;
}

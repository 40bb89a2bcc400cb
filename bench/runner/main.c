/* SPDX-License-Identifier: MIT */
/* labyrinth-runner: one measurement of one peer on one workload.
 *
 *   RUNNER --list
 *   RUNNER --peer NAME --workload W [--threads N] [--pages N] [--page-size BYTES]
 *          [--batch N] [--ops N] [--repeat K] [--duration SECONDS] [--seed S]
 *          [--fill PCT] [--no-pin] [--no-warmup] [--min-window MS] [--stagger MS]
 *
 * Prints result lines on stdout, each exactly
 *   result peer=NAME workload=W metric=M value=V unit=U mops=X ops=N threads=T
 *          pages=P window=MS overlap=PCT cpu=PCT status=S note=TEXT
 * (one line) with status ok, invalid (the threads' timed windows overlap
 * less than 90 %, the threads waited for a CPU more than 10 % of them, or the
 * run was shorter than --min-window), na (the peer cannot do it) or error
 * (a check failed). One run: `labyrinth bench`
 * repeats, warms up and takes medians.
 * Exit status: 0 ok, invalid or na, 1 error, 2 bad usage.
 */
#define _GNU_SOURCE
#include "runner.h"
#include "number.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct runner_opts ropt = {
	.threads = 1,
	.page_size = 4096,
	.ops = RUNNER_DEFAULT_OPS,
	.repeat = 1,
	.min_window_ms = RUNNER_MIN_WINDOW_MS,
	.seed = 1,
	.fill = 50,
	.pin = true,
	.warmup = true,
};
volatile uint64_t runner_sink;

static char fail_note[512];
/* The timed phases of the run, once the workload has set them. */
static struct runner_span run_span;
static bool run_span_set;

struct workload {
	const char *name;
	unsigned needs; /* PEER_* caps */
	size_t min_pages;
	int nmetrics;
	const char *metric[2];
	const char *unit[2];
};

static const struct workload workloads[] = {
	{ "bulk0", 0, 1, 2, { "alloc", "free" }, { "ns", "ns" } },
	{ "bulk9", PEER_ORDERS, 512, 2, { "alloc", "free" }, { "ns", "ns" } },
	{ "pairs", 0, 1, 2, { "pair", "throughput" }, { "ns", "Mops" } },
	{ "churn", 0, 2, 1, { "step" }, { "ns" } },
	{ "handoff", PEER_THREADS, 64, 2, { "op", "throughput" }, { "ns", "Mops" } },
	{ "nearfull", PEER_BOUNDED, 2, 1, { "alloc" }, { "us" } },
	{ "signal", PEER_SIGNAL, 64, 1, { "op" }, { "ns" } },
	{ "fragment", PEER_BOUNDED | PEER_ORDERS, 1024, 1, { "kept" }, { "%" } },
};
#define NWORKLOADS (int)(sizeof(workloads) / sizeof(workloads[0]))

static const struct {
	unsigned cap;
	const char *name, *missing;
} caps[] = {
	{ PEER_ORDERS, "orders", "no orders" },
	{ PEER_SIGNAL, "signal", "not signal-safe" },
	{ PEER_BOUNDED, "bounded", "unbounded pool" },
	{ PEER_THREADS, "threads", "not thread-safe" },
	{ PEER_GIVE, "give", "no give" },
	{ PEER_OPTIN, "optin", "" },   /* no workload needs it */
	{ PEER_NOFAIL, "nofail", "" }, /* a peer that panics where others return NULL */
};
#define NCAPS (int)(sizeof(caps) / sizeof(caps[0]))

/* What a run's timed phases say of it. */
struct judged {
	double window_ms, overlap, cpu;
};

static void print_line(const char *metric, double value, const char *unit, double mops,
		       uint64_t ops, int threads, const struct judged *j, const char *status,
		       const char *note)
{
	/* a window too short for the clock gives 0/0: such a run measured
	 * nothing, and the line keeps its numeric form */
	double w = j->window_ms, o = j->overlap, c = j->cpu;
	if (!isfinite(w) || !isfinite(o) || !isfinite(c) || !isfinite(value) || !isfinite(mops)) {
		if (!strcmp(status, "ok"))
			status = "invalid";
		w = isfinite(w) ? w : 0;
		o = isfinite(o) ? o : 0;
		c = isfinite(c) ? c : 0;
		value = isfinite(value) ? value : 0;
		mops = isfinite(mops) ? mops : 0;
	}
	printf("result peer=%s workload=%s metric=%s value=%.6g unit=%s mops=%.6g ops=%llu "
	       "threads=%d pages=%zu window=%.4g overlap=%.4g cpu=%.4g status=%s note=%s\n",
	       ropt.peer->name, ropt.workload, metric, value, unit, mops, (unsigned long long)ops,
	       threads, ropt.pages, w, o, c, status, note);
}

void runner_set_span(const struct runner_span *s)
{
	run_span = *s;
	run_span_set = true;
}

void runner_report(const char *metric, double value, const char *unit, double mops, uint64_t ops,
		   int threads, const char *fmt, ...)
{
	struct judged j = { run_span_set ? (double)run_span.uni * 1e-6 : 0, 100, 100 };
	char note[512], why[160] = "";
	va_list ap;

	if (run_span_set && run_span.uni)
		j.overlap = 100.0 * (double)run_span.inter / (double)run_span.uni;
	if (run_span_set && run_span.wall)
		j.cpu = 100.0 - 100.0 * (double)run_span.waited / (double)run_span.wall;
	if (j.overlap < RUNNER_MIN_OVERLAP)
		snprintf(why, sizeof(why),
			 "overlap %.1f%% < %.0f%%: the threads did not run at the same time; ",
			 j.overlap, RUNNER_MIN_OVERLAP);
	else if (j.cpu < RUNNER_MIN_CPU)
		snprintf(why, sizeof(why),
			 "waited for a CPU %.1f%% of the time > %.0f%%: another process took it; ",
			 100 - j.cpu, 100 - RUNNER_MIN_CPU);
	else if (run_span_set && j.window_ms < ropt.min_window_ms)
		snprintf(why, sizeof(why), "timed for %.3g ms < %g ms: too short to trust; ",
			 j.window_ms, ropt.min_window_ms);
	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (why[0]) {
		char both[700];

		snprintf(both, sizeof(both), "%s%s", why, note);
		print_line(metric, value, unit, mops, ops, threads, &j, "invalid", both);
		return;
	}
	print_line(metric, value, unit, mops, ops, threads, &j, "ok", note);
}

int runner_fail(const char *fmt, ...)
{
	va_list ap;

	if (fail_note[0])
		return -1; /* the first failure is the one to report */
	va_start(ap, fmt);
	vsnprintf(fail_note, sizeof(fail_note), fmt, ap);
	va_end(ap);
	fail_note[strcspn(fail_note, "\n")] = 0;
	return -1;
}

uint64_t runner_ops_limit(void)
{
	if (ropt.duration > 0 && !ropt.ops_set)
		return UINT64_MAX;
	return ropt.ops > UINT64_MAX / ropt.repeat ? UINT64_MAX : ropt.ops * ropt.repeat;
}

const char *runner_bounded_by(void)
{
	if (ropt.duration > 0)
		return "by --duration";
	return ropt.ops_set ? "by --ops" : "by --ops, capped at 1 s";
}

uint64_t runner_deadline(uint64_t start_ns)
{
	if (ropt.duration > 0)
		return start_ns + (uint64_t)(ropt.duration * 1e9);
	if (!ropt.ops_set)
		return start_ns + (uint64_t)(RUNNER_DEFAULT_BUDGET_S * 1e9);
	return 0;
}

static void usage(FILE *f)
{
	int i;

	fprintf(f,
		"usage: %s --list\n"
		"       %s --peer NAME --workload W [--threads N] [--pages N] [--page-size BYTES]\n"
		"              [--batch N] [--ops N] [--repeat K] [--duration SECONDS] [--seed S]\n"
		"              [--fill PCT] [--no-pin] [--no-warmup] [--min-window MS] [--stagger MS]\n"
		"  One measurement, printed as 'result peer=... status=ok|invalid|na|error note=...'.\n"
		"  --threads N      worker threads (handoff: split into producers and consumers)\n"
		"  --pages N        rooms in the pool (default 65536; nearfull 2^24)\n"
		"  --page-size B    bytes per room, a power of two >= 4096 (default 4096)\n"
		"  --batch N        bulk: blocks each thread allocates before freeing them\n"
		"                   (default: the pool split between the threads)\n"
		"  --ops N          operations per thread (default 2000000, time-capped at 1 s)\n"
		"  --repeat K       do the timed work K times over (bulk: K passes)\n"
		"  --duration S     bound the loops by time instead (the clock is read every\n"
		"                   1024 operations)\n"
		"  --seed S         seed of every random choice (default 1)\n"
		"  --fill PCT       churn and signal: pool fill in percent, 1-99 (default 50)\n"
		"  --no-pin         do not pin; by default thread i runs on the i-th CPU the\n"
		"                   process may use, round robin\n"
		"  --pin            the default\n"
		"  --no-warmup      no untimed warm-up call per thread before the start barrier\n"
		"  --min-window MS  a run timed for less is invalid (default 10; 0: no minimum)\n"
		"  --stagger MS     thread 1 starts this late (checks the overlap measurement)\n"
		"workloads:",
		program_invocation_short_name, program_invocation_short_name);
	for (i = 0; i < NWORKLOADS; i++)
		fprintf(f, " %s", workloads[i].name);
	fprintf(f, "\npeers:\n");
	for (i = 0; i < runner_npeers; i++)
		fprintf(f, "  %-17s %s\n", runner_peers[i]->name, runner_peers[i]->about);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", program_invocation_short_name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

static const struct peer *find_peer(const char *name)
{
	for (int i = 0; i < runner_npeers; i++)
		if (!strcmp(runner_peers[i]->name, name))
			return runner_peers[i];
	return NULL;
}

static void list_peers(void)
{
	for (int i = 0; i < runner_npeers; i++) {
		const char *sep = "";

		printf("peer %s caps=", runner_peers[i]->name);
		for (int c = 0; c < NCAPS; c++)
			if (runner_peers[i]->caps & caps[c].cap) {
				printf("%s%s", sep, caps[c].name);
				sep = ",";
			}
		printf("\n");
	}
}

/* Parses argv into ropt; 0, 1 after --list or --help, or 2 (bad usage). */
static int parse(int argc, char **argv, const struct workload **wl)
{
	static char reported[32];
	const char *peer = NULL, *work = NULL;
	bool pages_set = false;
	uint64_t v;
	int i;

	for (i = 1; i < argc; i++) {
		char *a = argv[i], *val = NULL, *eq;
		char name[32];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--list")) {
			list_peers();
			return 1;
		}
		if (!strcmp(a, "--pin") || !strcmp(a, "--no-pin")) {
			ropt.pin = !strcmp(a, "--pin");
			continue;
		}
		if (!strcmp(a, "--no-warmup")) {
			ropt.warmup = false;
			continue;
		}
		if (strncmp(a, "--", 2) || strlen(a) >= sizeof(name))
			return bad("unknown argument '%s'", a);
		snprintf(name, sizeof(name), "%s", a);
		eq = strchr(name, '=');
		if (eq) {
			*eq = 0;
			val = a + (eq - name) + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return bad("option '%s' needs a value", a);
		}
		if (!strcmp(name, "--peer")) {
			peer = val;
		} else if (!strcmp(name, "--workload")) {
			work = val;
		} else if (!strcmp(name, "--threads")) {
			if (cli_parse_u64(val, 1, 1024, &v))
				return bad("--threads wants 1..1024, not '%s'", val);
			ropt.threads = (int)v;
		} else if (!strcmp(name, "--pages")) {
			if (cli_parse_u64(val, 1, (uint64_t)1 << 32, &v))
				return bad("--pages wants 1..2^32, not '%s'", val);
			ropt.pages = (size_t)v;
			pages_set = true;
		} else if (!strcmp(name, "--page-size")) {
			if (cli_parse_u64(val, 4096, (uint64_t)1 << 30, &v) || (v & (v - 1)))
				return bad(
					"--page-size wants a power of two in 4096..2^30, not '%s'",
					val);
			ropt.page_size = (size_t)v;
		} else if (!strcmp(name, "--batch")) {
			if (cli_parse_u64(val, 1, (uint64_t)1 << 32, &v))
				return bad("--batch wants 1..2^32, not '%s'", val);
			ropt.batch = (size_t)v;
		} else if (!strcmp(name, "--repeat")) {
			if (cli_parse_u64(val, 1, 1000000, &v))
				return bad("--repeat wants 1..1000000, not '%s'", val);
			ropt.repeat = v;
		} else if (!strcmp(name, "--min-window") || !strcmp(name, "--stagger")) {
			char *end;
			double d = strtod(val, &end);

			if (*end || !(d >= 0 && d <= 60000))
				return bad(
					"--min-window and --stagger want ms in [0, 60000], not '%s'",
					val);
			*(!strcmp(name, "--stagger") ? &ropt.stagger_ms : &ropt.min_window_ms) = d;
		} else if (!strcmp(name, "--ops")) {
			if (cli_parse_u64(val, 1, (uint64_t)1 << 48, &v))
				return bad("--ops wants 1..2^48, not '%s'", val);
			ropt.ops = v;
			ropt.ops_set = true;
		} else if (!strcmp(name, "--duration")) {
			char *end;

			ropt.duration = strtod(val, &end);
			if (*end || !(ropt.duration > 0 && ropt.duration <= 3600))
				return bad("--duration wants seconds in (0, 3600], not '%s'", val);
		} else if (!strcmp(name, "--seed")) {
			if (cli_parse_u64(val, 0, UINT64_MAX, &v))
				return bad("--seed wants a whole number, not '%s'", val);
			ropt.seed = v;
		} else if (!strcmp(name, "--fill")) {
			if (cli_parse_u64(val, 1, 99, &v))
				return bad("--fill wants a percentage 1..99, not '%s'", val);
			ropt.fill = (int)v;
		} else {
			return bad("unknown option '%s'", a);
		}
	}
	if (!peer || !work)
		return bad("%s", "--peer and --workload are required");
	ropt.peer = find_peer(peer);
	if (!ropt.peer)
		return bad("no peer '%s' in this runner; --list shows them", peer);
	/* churnNN is churn with --fill NN. */
	if (!strncmp(work, "churn", 5) && work[5]) {
		if (cli_parse_u64(work + 5, 1, 99, &v))
			return bad("no workload '%s'", work);
		ropt.fill = (int)v;
		work = "churn";
	}
	for (i = 0; i < NWORKLOADS && strcmp(workloads[i].name, work); i++)
		;
	if (i == NWORKLOADS)
		return bad("no workload '%s'", work);
	*wl = &workloads[i];
	if (!pages_set)
		ropt.pages = !strcmp(work, "nearfull") ? RUNNER_DEFAULT_NEAR_PAGES :
							 RUNNER_DEFAULT_PAGES;
	if (ropt.pages < (*wl)->min_pages) {
		fprintf(stderr, "%s: %s needs --pages >= %zu (see --help)\n",
			program_invocation_short_name, work, (*wl)->min_pages);
		return 2;
	}
	if (ropt.batch && !strncmp(work, "bulk", 4) &&
	    ropt.batch * (size_t)ropt.threads > ropt.pages >> (work[4] == '9' ? 9 : 0)) {
		fprintf(stderr,
			"%s: --batch %zu x --threads %d exceeds the %zu blocks of the pool\n",
			program_invocation_short_name, ropt.batch, ropt.threads,
			ropt.pages >> (work[4] == '9' ? 9 : 0));
		return 2;
	}
	if (!strcmp(work, "churn")) {
		snprintf(reported, sizeof(reported), "churn%d", ropt.fill);
		ropt.workload = reported;
	} else {
		ropt.workload = (*wl)->name;
	}
	return 0;
}

static int run(const struct workload *wl)
{
	const char *n = wl->name;

	if (!strcmp(n, "bulk0"))
		return wl_bulk(0);
	if (!strcmp(n, "bulk9"))
		return wl_bulk(9);
	if (!strcmp(n, "pairs"))
		return wl_pairs();
	if (!strcmp(n, "churn"))
		return wl_churn();
	if (!strcmp(n, "handoff"))
		return wl_handoff();
	if (!strcmp(n, "nearfull"))
		return wl_nearfull();
	if (!strcmp(n, "signal"))
		return wl_signal();
	return wl_fragment();
}

int main(int argc, char **argv)
{
	static const struct judged none = { 0, 0, 0 };
	const struct workload *wl = NULL;
	unsigned needs;
	int rc, i;

	rc = parse(argc, argv, &wl);
	if (rc)
		return rc == 1 ? 0 : rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_cpus(NULL); /* the affinity mask, before any thread is pinned */
	needs = wl->needs | (ropt.threads > 1 ? PEER_THREADS : 0);
	for (i = 0; i < NCAPS; i++) {
		const char *missing = NULL;

		if ((needs & caps[i].cap) && !(ropt.peer->caps & caps[i].cap))
			missing = caps[i].missing;
		/* a peer that panics when empty cannot be asked to run out */
		if ((needs & caps[i].cap & PEER_BOUNDED) && (ropt.peer->caps & PEER_NOFAIL))
			missing = "panics when full";
		if (!missing)
			continue;
		for (int m = 0; m < wl->nmetrics; m++)
			print_line(wl->metric[m], 0, wl->unit[m], 0, 0, ropt.threads, &none, "na",
				   missing);
		return 0;
	}
	if (run(wl) == 0)
		return 0;
	if (!fail_note[0])
		snprintf(fail_note, sizeof(fail_note), "failed");
	for (i = 0; i < wl->nmetrics; i++)
		print_line(wl->metric[i], 0, wl->unit[i], 0, 0, ropt.threads, &none, "error",
			   fail_note);
	fprintf(stderr, "%s: %s on %s: %s\n", program_invocation_short_name, ropt.peer->name,
		ropt.workload, fail_note);
	return 1;
}

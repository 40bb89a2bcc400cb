/* SPDX-License-Identifier: MIT */
/* lab-bench: labyrinth against the design note's hinted linear scan.
 *
 *   lab-bench [--runs N] [--only NAME[,NAME...]] [--quick] [--pin]
 *             [--seed S] [--csv FILE]
 *
 * Prints the machine, then one row per measurement: the median over N runs
 * (after one warm-up run) for labyrinth and the baseline, and their ratio.
 * Exit status: 0, 1 when a workload failed a check, 2 for bad usage.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <labyrinth.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

struct bench_opts bench_opt = { .runs = 5, .seed = 0x1abULL };
struct bench_sizes bench_size;
volatile uint64_t bench_sink;

static const struct bench_sizes sizes_full = {
	.bulk_pages = (size_t)1 << 18,
	.bulk_cycles = 64,
	.bulk9_pages = (size_t)1 << 18,
	.bulk9_cycles = 4000,
	.pair_pages = (size_t)1 << 18,
	.pair_ops = (uint64_t)1 << 25,
	.churn_pages = (size_t)1 << 18,
	.churn_steps = (uint64_t)1 << 24,
	.two_ops = (uint64_t)1 << 25,
	.near_pages = (size_t)1 << 24,
	.near_reps_lab = 200,
	.near_reps_base = 20,
};

static const struct bench_sizes sizes_quick = {
	.bulk_pages = (size_t)1 << 12,
	.bulk_cycles = 2,
	.bulk9_pages = (size_t)1 << 12,
	.bulk9_cycles = 4,
	.pair_pages = (size_t)1 << 12,
	.pair_ops = (uint64_t)1 << 14,
	.churn_pages = (size_t)1 << 12,
	.churn_steps = (uint64_t)1 << 14,
	.two_ops = (uint64_t)1 << 14,
	.near_pages = (size_t)1 << 16,
	.near_reps_lab = 20,
	.near_reps_base = 5,
};

struct row_result {
	const char *name, *unit, *mode;
	bool higher_better;
	double *lab, *base; /* one per measured run */
	int n;
	bool failed;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(const double *v, int n)
{
	double *t, m;
	int i;

	if (n <= 0)
		return NAN;
	t = malloc((size_t)n * sizeof(*t));
	if (!t)
		return NAN;
	for (i = 0; i < n; i++)
		t[i] = v[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2.0;
	free(t);
	return m;
}

static double vmin(const double *v, int n)
{
	double m = NAN;
	int i;

	for (i = 0; i < n; i++)
		if (isnan(m) || v[i] < m)
			m = v[i];
	return m;
}

static double vmax(const double *v, int n)
{
	double m = NAN;
	int i;

	for (i = 0; i < n; i++)
		if (isnan(m) || v[i] > m)
			m = v[i];
	return m;
}

void bench_pin(int cpu)
{
	if (bench_opt.pin)
		bench_pin_to(cpu, "lab-bench");
}

int bench_fail(const char *workload, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lab-bench: %s: FAILED: ", workload);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lab-bench [--runs N] [--only NAME[,NAME...]] [--quick] [--pin]\n"
		   "                 [--seed S] [--csv FILE]\n"
		   "  --runs N    measured runs per workload, median reported (default 5);\n"
		   "              one warm-up run comes first and is not counted\n"
		   "  --only L    run only these workloads (comma-separated):");
	for (int i = 0; i < bench_nworkloads; i++)
		fprintf(f, " %s", bench_workloads[i].name);
	fprintf(f, "\n"
		   "  --quick     tiny sizes (a smoke test, seconds)\n"
		   "  --pin       pin each benchmark thread to a CPU (thread i to CPU i)\n"
		   "  --excl      labyrinth allocates ATOMIC|EXCLUSIVE pages everywhere\n"
		   "  --seed S    seed of every random choice (default 0x1ab)\n"
		   "  --csv FILE  also write the results as CSV to FILE\n");
}

static bool selected(const char *name)
{
	const char *p = bench_opt.only;
	size_t len = strlen(name);

	if (!p)
		return true;
	while (*p) {
		size_t l = strcspn(p, ",");

		if (l == len && !strncmp(p, name, len))
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			bench_opt.quick = true;
		} else if (!strcmp(a, "--pin")) {
			bench_opt.pin = true;
		} else if (!strcmp(a, "--excl")) {
			bench_opt.excl = true;
		} else if (i + 1 < argc && !strcmp(a, "--runs")) {
			long v = strtol(argv[++i], &end, 10);

			if (*end || v < 1 || v > 1000) {
				fprintf(stderr, "lab-bench: --runs wants 1..1000\n");
				return -1;
			}
			bench_opt.runs = (int)v;
		} else if (i + 1 < argc && !strcmp(a, "--seed")) {
			errno = 0;
			bench_opt.seed = strtoull(argv[++i], &end, 0);
			if (*end || errno) {
				fprintf(stderr, "lab-bench: bad --seed\n");
				return -1;
			}
		} else if (i + 1 < argc && !strcmp(a, "--only")) {
			bench_opt.only = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--csv")) {
			bench_opt.csv = argv[++i];
		} else {
			fprintf(stderr, "lab-bench: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return -1;
		}
	}
	if (bench_opt.only) {
		/* Every name given must exist. */
		const char *p = bench_opt.only;

		while (*p) {
			size_t l = strcspn(p, ",");
			bool found = false;

			for (int w = 0; w < bench_nworkloads; w++)
				if (strlen(bench_workloads[w].name) == l &&
				    !strncmp(bench_workloads[w].name, p, l))
					found = true;
			if (!found && l) {
				fprintf(stderr, "lab-bench: no workload '%.*s'\n", (int)l, p);
				usage(stderr);
				return -1;
			}
			p += l;
			if (*p == ',')
				p++;
		}
	}
	bench_size = bench_opt.quick ? sizes_quick : sizes_full;
	return 0;
}

static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10)) {
			char *v = strchr(line, ':');

			if (v) {
				v++;
				while (*v == ' ' || *v == '\t')
					v++;
				v[strcspn(v, "\n")] = 0;
				snprintf(buf, len, "%s", v);
			}
			break;
		}
	}
	fclose(f);
}

static void print_header(FILE *f, const char *prefix, int argc, char **argv)
{
	char model[256], date[64];
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	double load[3];

	cpu_model(model, sizeof(model));
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	fprintf(f, "%slab-bench: labyrinth %d.%d.%d against the design note's hinted linear scan\n",
		prefix, LAB_VERSION_MAJOR, LAB_VERSION_MINOR, LAB_VERSION_PATCH);
	fprintf(f, "%sdate:     %s\n", prefix, date);
	fprintf(f, "%smachine:  %ld CPUs online (nproc), %s, Linux %s\n", prefix,
		sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
	if (getloadavg(load, 3) == 3)
		fprintf(f,
			"%sload:     %.2f %.2f %.2f (1/5/15 min average, at %s: other work on the machine skews every figure)\n",
			prefix, load[0], load[1], load[2], prefix[0] ? "the end" : "the start");
#if defined(__clang__)
	fprintf(f, "%scompiler: clang %s", prefix, __clang_version__);
#elif defined(__GNUC__)
	fprintf(f, "%scompiler: gcc %s", prefix, __VERSION__);
#else
	fprintf(f, "%scompiler: unknown", prefix);
#endif
#ifdef __OPTIMIZE__
	fprintf(f, ", optimised");
#else
	fprintf(f, ", NOT optimised");
#endif
#ifdef NDEBUG
	fprintf(f, ", NDEBUG (of lab-bench itself)\n");
#else
	fprintf(f, ", asserts on (of lab-bench itself)\n");
#endif
	fprintf(f, "%scommand: ", prefix);
	for (int i = 0; i < argc; i++)
		fprintf(f, " %s", argv[i]);
	fprintf(f,
		"\n%sruns:     median of %d run%s after 1 warm-up run; seed 0x%llx; %s; %s sizes\n",
		prefix, bench_opt.runs, bench_opt.runs == 1 ? "" : "s",
		(unsigned long long)bench_opt.seed,
		bench_opt.pin ?
			(bench_opt.excl ? "threads pinned, exclusive pages" : "threads pinned") :
			(bench_opt.excl ? "threads not pinned, exclusive pages" :
					  "threads not pinned"),
		bench_opt.quick ? "--quick" : "full");
	fprintf(f,
		"%sflags:    %s on every labyrinth call; baseline = one byte per room, shared cursor, CAS claim, no owners/orders\n",
		prefix, bench_opt.excl ? "LAB_GFP_ATOMIC|LAB_GFP_EXCLUSIVE" : "LAB_GFP_ATOMIC");
}

static void fmt_val(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else if (v >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static double row_ratio(const struct row_result *r, double l, double b)
{
	if (isnan(l) || isnan(b) || l <= 0 || b <= 0 || !strcmp(r->unit, "share"))
		return NAN;
	return r->higher_better ? l / b : b / l;
}

int main(int argc, char **argv)
{
	struct row_result rows[64];
	int nrows = 0, failures = 0;
	uint64_t t_start = bench_now_ns();

	if (parse_args(argc, argv))
		return 2;
	bench_pin(0);
	print_header(stdout, "", argc, argv);
	fflush(stdout);

	for (int w = 0; w < bench_nworkloads; w++) {
		const struct bench_workload *wl = &bench_workloads[w];
		struct bench_sample out[BENCH_MAX_ROWS];
		struct row_result *r = &rows[nrows];
		void *state = NULL;
		uint64_t t0 = bench_now_ns();
		bool failed = false;

		if (!selected(wl->name))
			continue;
		fprintf(stderr, "running %s ...\n", wl->name);
		for (int i = 0; i < wl->nrows; i++) {
			r[i].name = wl->row[i];
			r[i].unit = wl->unit[i];
			r[i].mode = wl->mode;
			r[i].higher_better = wl->higher_better[i];
			r[i].lab = calloc((size_t)bench_opt.runs, sizeof(double));
			r[i].base = calloc((size_t)bench_opt.runs, sizeof(double));
			r[i].n = 0;
			r[i].failed = false;
			if (!r[i].lab || !r[i].base) {
				fprintf(stderr, "lab-bench: out of memory\n");
				return 1;
			}
		}
		nrows += wl->nrows;
		if (wl->setup(&state)) {
			failed = true;
		} else {
			for (int run = -1; run < bench_opt.runs; run++) {
				if (wl->run(state, run, out)) {
					failed = true;
					break;
				}
				if (run < 0)
					continue;
				for (int i = 0; i < wl->nrows; i++) {
					r[i].lab[r[i].n] = out[i].lab;
					r[i].base[r[i].n] = out[i].base;
					r[i].n++;
				}
			}
		}
		wl->teardown(state);
		if (failed) {
			failures++;
			for (int i = 0; i < wl->nrows; i++)
				r[i].failed = true;
		}
		fprintf(stderr, "  %s: %.1f s%s\n", wl->name, (double)(bench_now_ns() - t0) * 1e-9,
			failed ? " (FAILED)" : "");
	}

	printf("\n%-20s %-8s %12s %12s %10s\n", "workload", "unit", "labyrinth", "baseline",
	       "ratio");
	for (int i = 0; i < nrows; i++) {
		const struct row_result *r = &rows[i];
		char l[32], b[32], q[32];
		double ml, mb;

		if (r->failed) {
			printf("%-20s %-8s %12s %12s %10s\n", r->name, r->unit, "FAILED", "FAILED",
			       "-");
			continue;
		}
		ml = bench_median(r->lab, r->n);
		mb = bench_median(r->base, r->n);
		fmt_val(l, sizeof(l), ml);
		fmt_val(b, sizeof(b), mb);
		fmt_val(q, sizeof(q), row_ratio(r, ml, mb));
		printf("%-20s %-8s %12s %12s %10s\n", r->name, r->unit, l, b, q);
	}
	printf("\nratio: baseline/labyrinth for times, labyrinth/baseline for scaling (x);\n"
	       "       above 1 means labyrinth is better.\n");
	for (int i = 0; i < nrows; i++) {
		if (strcmp(rows[i].unit, "x") || rows[i].failed)
			continue;
		printf("scaling (throughput of 2 threads / 1 thread): labyrinth %.2f, baseline %.2f\n",
		       bench_median(rows[i].lab, rows[i].n), bench_median(rows[i].base, rows[i].n));
	}
	printf("modes:\n");
	for (int w = 0; w < bench_nworkloads; w++)
		if (selected(bench_workloads[w].name))
			printf("  %-11s %s; %s\n", bench_workloads[w].name, bench_workloads[w].what,
			       bench_workloads[w].mode);
	printf("total time: %.1f s", (double)(bench_now_ns() - t_start) * 1e-9);
	{
		double load[3];

		if (getloadavg(load, 3) == 3)
			printf("; load at the end %.2f %.2f %.2f", load[0], load[1], load[2]);
	}
	printf("\n");

	if (bench_opt.csv) {
		FILE *f = fopen(bench_opt.csv, "w");

		if (!f) {
			fprintf(stderr, "lab-bench: %s: %s\n", bench_opt.csv, strerror(errno));
			return 1;
		}
		print_header(f, "# ", argc, argv);
		fprintf(f,
			"workload,unit,labyrinth_median,baseline_median,ratio,"
			"labyrinth_min,labyrinth_max,baseline_min,baseline_max,runs,status,mode\n");
		for (int i = 0; i < nrows; i++) {
			const struct row_result *r = &rows[i];
			double ml = bench_median(r->lab, r->n), mb = bench_median(r->base, r->n);

			double v[7] = { ml,
					mb,
					row_ratio(r, ml, mb),
					vmin(r->lab, r->n),
					vmax(r->lab, r->n),
					vmin(r->base, r->n),
					vmax(r->base, r->n) };

			fprintf(f, "%s,%s", r->name, r->unit);
			for (int k = 0; k < 7; k++) {
				if (r->failed || isnan(v[k]))
					fprintf(f, ",");
				else
					fprintf(f, ",%.4g", v[k]);
			}
			fprintf(f, ",%d,%s,\"%s\"\n", r->n, r->failed ? "failed" : "ok", r->mode);
		}
		if (fclose(f)) {
			fprintf(stderr, "lab-bench: %s: %s\n", bench_opt.csv, strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < nrows; i++) {
		free(rows[i].lab);
		free(rows[i].base);
	}
	(void)bench_sink;
	return failures ? 1 : 0;
}

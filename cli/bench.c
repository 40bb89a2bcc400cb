/* SPDX-License-Identifier: MIT */
/* labyrinth bench: runs the runner executables (bench/runner) as child
 * processes, one measurement each: a warm-up, then --runs runs per
 * workload x threads x peer; the median of each metric, the ratio to
 * labyrinth, a table, CSV, JSON and a gnuplot PNG.
 *
 * The runners live next to this executable, else in $LABYRINTH_RUNNER_DIR,
 * else in libexec/labyrinth/ of the installation. Each prints
 *   result peer=P workload=W metric=M value=V unit=U ops=N threads=T status=S note=TEXT
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef LAB_CLI_LIBEXECDIR
#define LAB_CLI_LIBEXECDIR "/usr/local/libexec/labyrinth"
#endif

static const char *const runner_names[] = { "labyrinth-runner", "labyrinth-runner-jemalloc",
					    "labyrinth-runner-tcmalloc",
					    "labyrinth-runner-mimalloc" };
#define NRUNNERS (int)(sizeof(runner_names) / sizeof(runner_names[0]))

static const char *const all_workloads[] = { "bulk0",	"bulk9",    "pairs",  "churn",
					     "handoff", "nearfull", "signal", "fragment" };
#define NWORKLOADS (int)(sizeof(all_workloads) / sizeof(all_workloads[0]))

#define MAX_PEERS 32
#define MAX_LIST 32
#define MAX_METRICS 4
#define MAX_RUNS 1000

struct peer {
	char name[32];
	char caps[96];
	char runner[PATH_MAX];
};

struct opts {
	char *workloads[MAX_LIST];
	int nworkloads;
	char *peers[MAX_PEERS];
	int npeers;
	int threads[MAX_LIST];
	int nthreads;
	int pthreads[MAX_LIST]; /* thread counts of pairs: --threads and --pairs-threads */
	int npthreads;
	int fills[MAX_LIST];
	int nfills;
	const char *pages, *page_size, *seed;
	uint64_t ops;
	double duration;
	int runs;
	bool pin, quick, list, ops_set, runs_set, pages_set;
	const char *csv, *json, *png;
	const char *base; /* --base: the peer of the ratios */
};

static struct peer peers[MAX_PEERS];
static int npeers;
/* The peer ratios are taken against (--base). */
static const char *base_peer = "labyrinth";
static char runner_dir[PATH_MAX];

/* ---- finding the runners ------------------------------------------------------------- */

static bool is_exe(const char *dir, const char *name, char *path, size_t len)
{
	struct stat st;

	if ((size_t)snprintf(path, len, "%s/%s", dir, name) >= len)
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool dir_has_runner(const char *dir)
{
	char path[PATH_MAX];

	for (int i = 0; i < NRUNNERS; i++)
		if (is_exe(dir, runner_names[i], path, sizeof(path)))
			return true;
	return false;
}

static int find_runner_dir(void)
{
	const char *exe = cli_exe_dir(), *env = getenv("LABYRINTH_RUNNER_DIR");
	char up[PATH_MAX];
	const char *cand[4];
	int n = 0;

	if (exe[0])
		cand[n++] = exe;
	if (env && env[0])
		cand[n++] = env;
	if (exe[0] && (size_t)snprintf(up, sizeof(up), "%s/../libexec/labyrinth", exe) < sizeof(up))
		cand[n++] = up;
	cand[n++] = LAB_CLI_LIBEXECDIR;
	for (int i = 0; i < n; i++)
		if (dir_has_runner(cand[i])) {
			snprintf(runner_dir, sizeof(runner_dir), "%s", cand[i]);
			return 0;
		}
	return cli_error("no benchmark runners (labyrinth-runner*) next to %s, in "
			 "$LABYRINTH_RUNNER_DIR or in %s; build them (bench/) or set "
			 "LABYRINTH_RUNNER_DIR",
			 exe[0] ? exe : "this executable", LAB_CLI_LIBEXECDIR);
}

/* ---- child processes ------------------------------------------------------------------ */

/* Run argv with stdout into out and stderr into err; the exit status, or -1
 * (after a message) when it could not be run or died of a signal. */
static int run_child(char **argv, struct strbuf *out, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], efd, status, rc;
	char tmpl[] = "/tmp/labyrinth-bench-XXXXXX";
	char buf[4096];
	ssize_t n;
	pid_t pid;

	efd = mkstemp(tmpl);
	if (efd < 0) {
		cli_error("mkstemp: %s", strerror(errno));
		return -1;
	}
	unlink(tmpl);
	if (pipe2(pfd, O_CLOEXEC)) {
		cli_error("pipe: %s", strerror(errno));
		close(efd);
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc) {
		cli_error("cannot run %s: %s", argv[0], strerror(rc));
		close(pfd[0]);
		close(efd);
		return -1;
	}
	while ((n = read(pfd[0], buf, sizeof(buf) - 1)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf[n] = 0;
		sb_add(out, "%s", buf);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (lseek(efd, 0, SEEK_SET) == 0)
		while ((n = read(efd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = 0;
			sb_add(err, "%s", buf);
		}
	close(efd);
	if (WIFSIGNALED(status)) {
		sb_add(err, "killed by signal %d (%s)\n", WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int list_peers(void)
{
	for (int r = 0; r < NRUNNERS; r++) {
		char path[PATH_MAX], *argv[3];
		struct strbuf out = { 0 }, err = { 0 };
		char *line, *save = NULL;

		if (!is_exe(runner_dir, runner_names[r], path, sizeof(path)))
			continue;
		argv[0] = path;
		argv[1] = "--list";
		argv[2] = NULL;
		if (run_child(argv, &out, &err) != 0) {
			cli_error("%s --list failed: %s", path, err.s ? err.s : "");
			sb_free(&out);
			sb_free(&err);
			return CLI_FAIL;
		}
		for (line = out.s ? strtok_r(out.s, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save)) {
			char name[32], caps[96] = "";
			int i;

			if (sscanf(line, "peer %31s caps=%95s", name, caps) < 1)
				continue;
			for (i = 0; i < npeers && strcmp(peers[i].name, name); i++)
				;
			if (i < npeers || npeers == MAX_PEERS)
				continue; /* the first runner that has it wins */
			snprintf(peers[npeers].name, sizeof(peers[0].name), "%s", name);
			snprintf(peers[npeers].caps, sizeof(peers[0].caps), "%s", caps);
			snprintf(peers[npeers].runner, sizeof(peers[0].runner), "%s", path);
			npeers++;
		}
		sb_free(&out);
		sb_free(&err);
	}
	if (!npeers)
		return cli_error("the runners in %s list no peers", runner_dir);
	return CLI_OK;
}

/* Whether the peer's comma-separated caps include cap. */
static bool has_cap(const struct peer *p, const char *cap)
{
	size_t n = strlen(cap);

	for (const char *c = p->caps; c && *c; c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL)
		if (!strncmp(c, cap, n) && (c[n] == ',' || c[n] == 0))
			return true;
	return false;
}

static const struct peer *find_peer(const char *name)
{
	for (int i = 0; i < npeers; i++)
		if (!strcmp(peers[i].name, name))
			return &peers[i];
	return NULL;
}

/* ---- one measurement -------------------------------------------------------------- */

struct metric {
	char name[32], unit[16];
	double v[MAX_RUNS];
	unsigned long long ops[MAX_RUNS];
	int n;
	int threads;
	char note[256]; /* the runner's note of an ok result */
};

struct measure {
	struct metric m[MAX_METRICS];
	int nm;
	char status[8]; /* ok, na, error */
	char note[256];
	char reported_workload[32];
};

/* Parse "result k=v ... note=TEXT" into fields; 0 or -1. */
static int parse_result(char *line, char *kv[][2], int max, const char **note)
{
	int n = 0;
	char *p = line + strlen("result ");

	*note = "";
	while (*p && n < max) {
		char *eq, *sp;

		while (*p == ' ')
			p++;
		if (!strncmp(p, "note=", 5)) {
			*note = p + 5;
			break;
		}
		eq = strchr(p, '=');
		if (!eq)
			return -1;
		*eq = 0;
		sp = strchr(eq + 1, ' ');
		if (sp)
			*sp = 0;
		kv[n][0] = p;
		kv[n][1] = eq + 1;
		n++;
		if (!sp)
			break;
		p = sp + 1;
	}
	return n;
}

static const char *kv_get(char *kv[][2], int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(kv[i][0], key))
			return kv[i][1];
	return NULL;
}

static void set_note(struct measure *ms, const char *status, const char *note)
{
	snprintf(ms->status, sizeof(ms->status), "%s", status);
	snprintf(ms->note, sizeof(ms->note), "%s", note);
}

/* One run of the runner; adds its values to ms (unless warm-up). Sets
 * ms->status to na or error when the runner says so. */
static void run_once(char **argv, struct measure *ms, bool warmup)
{
	struct strbuf out = { 0 }, err = { 0 };
	char *line, *save = NULL;
	int rc, seen = 0;

	rc = run_child(argv, &out, &err);
	for (line = out.s ? strtok_r(out.s, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *kv[16][2];
		const char *note, *metric, *value, *unit, *ops, *thr, *status, *wl;
		int nkv, i;

		if (strncmp(line, "result ", 7))
			continue;
		nkv = parse_result(line, kv, 16, &note);
		metric = kv_get(kv, nkv, "metric");
		value = kv_get(kv, nkv, "value");
		unit = kv_get(kv, nkv, "unit");
		ops = kv_get(kv, nkv, "ops");
		thr = kv_get(kv, nkv, "threads");
		status = kv_get(kv, nkv, "status");
		wl = kv_get(kv, nkv, "workload");
		if (nkv < 0 || !metric || !value || !unit || !status) {
			set_note(ms, "error", "malformed result line from the runner");
			continue;
		}
		seen++;
		if (wl)
			snprintf(ms->reported_workload, sizeof(ms->reported_workload), "%s", wl);
		if (!strcmp(status, "na")) {
			if (strcmp(ms->status, "error"))
				set_note(ms, "na", note);
		} else if (strcmp(status, "ok")) {
			set_note(ms, "error", note[0] ? note : status);
		}
		for (i = 0; i < ms->nm && strcmp(ms->m[i].name, metric); i++)
			;
		if (i == ms->nm) {
			if (ms->nm == MAX_METRICS)
				continue;
			ms->nm++;
			snprintf(ms->m[i].name, sizeof(ms->m[i].name), "%s", metric);
			snprintf(ms->m[i].unit, sizeof(ms->m[i].unit), "%s", unit);
			ms->m[i].threads = thr ? atoi(thr) : 0;
		}
		if (!strcmp(status, "ok"))
			snprintf(ms->m[i].note, sizeof(ms->m[i].note), "%s", note);
		if (!warmup && !strcmp(status, "ok") && ms->m[i].n < MAX_RUNS) {
			ms->m[i].v[ms->m[i].n] = strtod(value, NULL);
			ms->m[i].ops[ms->m[i].n] = ops ? strtoull(ops, NULL, 10) : 0;
			ms->m[i].n++;
		}
	}
	if ((rc != 0 || !seen) && strcmp(ms->status, "error")) {
		char msg[256];
		const char *e = err.s ? err.s : "";
		size_t len = strcspn(e, "\n");

		if (rc < 0 && err.s) {
			/* the last line says how it died */
			const char *last = e + err.len;
			while (last > e && last[-1] == '\n')
				last--;
			while (last > e && last[-1] != '\n')
				last--;
			e = last;
			len = strcspn(e, "\n");
		}
		const char *base = strrchr(argv[0], '/');

		if (rc < 0)
			snprintf(msg, sizeof(msg), "%s failed%s%.*s", base ? base + 1 : argv[0],
				 len ? ": " : "", (int)(len > 200 ? 200 : len), e);
		else
			snprintf(msg, sizeof(msg), "%s exited %d%s%.*s", base ? base + 1 : argv[0],
				 rc, len ? ": " : "", (int)(len > 200 ? 200 : len), e);
		set_note(ms, "error", msg);
	}
	sb_free(&out);
	sb_free(&err);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n, double *min, double *max)
{
	double s[MAX_RUNS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	*min = s[0];
	*max = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---- the table ----------------------------------------------------------------- */

static struct bench_row *rows;
static size_t nrows, caprows;

static struct bench_row *add_row(void)
{
	if (nrows == caprows) {
		size_t cap = caprows ? caprows * 2 : 64;
		struct bench_row *r = realloc(rows, cap * sizeof(*r));

		if (!r) {
			perror("labyrinth bench");
			exit(CLI_FAIL);
		}
		rows = r;
		caprows = cap;
	}
	memset(&rows[nrows], 0, sizeof(rows[0]));
	return &rows[nrows++];
}

static bool is_time(const char *unit)
{
	return !strcmp(unit, "ns") || !strcmp(unit, "us") || !strcmp(unit, "ms");
}

static double derive_mops(const char *unit, double v)
{
	if (!(v > 0))
		return -1;
	if (!strcmp(unit, "ns"))
		return 1e3 / v;
	if (!strcmp(unit, "us"))
		return 1 / v;
	if (!strcmp(unit, "ms"))
		return 1e-3 / v;
	if (!strcmp(unit, "Mops"))
		return v;
	return -1;
}

static void compute_ratios(void)
{
	for (size_t i = 0; i < nrows; i++) {
		struct bench_row *r = &rows[i];
		const struct bench_row *lab = NULL;

		r->ratio = -1;
		if (strcmp(r->status, "ok"))
			continue;
		for (size_t j = 0; j < nrows && !lab; j++)
			if (!strcmp(rows[j].peer, base_peer) && !strcmp(rows[j].status, "ok") &&
			    rows[j].threads == r->threads &&
			    !strcmp(rows[j].workload, r->workload) &&
			    !strcmp(rows[j].metric, r->metric))
				lab = &rows[j];
		if (!lab)
			continue;
		if (is_time(r->unit))
			r->ratio = lab->median > 0 ? r->median / lab->median : INFINITY;
		else
			r->ratio = r->median > 0 ? lab->median / r->median : INFINITY;
	}
}

static void fmt_num(char *buf, size_t len, double v)
{
	if (v < 0 || isnan(v))
		snprintf(buf, len, "-");
	else if (isinf(v))
		snprintf(buf, len, "inf");
	else if (v >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.3f", v);
}

static void print_table(void)
{
	const char *last = "";

	printf("%-10s %3s %-20s %-10s %10s %-4s %9s %7s  %s\n", "workload", "thr", "peer", "metric",
	       "median", "unit", "Mops/s", "ratio", "status");
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		char med[32], mops[32], ratio[32];

		if (strcmp(last, r->workload) && i)
			printf("\n");
		last = r->workload;
		if (!strcmp(r->status, "ok")) {
			fmt_num(med, sizeof(med), r->median);
			fmt_num(mops, sizeof(mops), r->mops);
			if (r->ratio >= 0 && !isinf(r->ratio))
				snprintf(ratio, sizeof(ratio), "%.2f", r->ratio);
			else
				fmt_num(ratio, sizeof(ratio), r->ratio);
		} else {
			snprintf(med, sizeof(med), "-");
			snprintf(mops, sizeof(mops), "-");
			snprintf(ratio, sizeof(ratio), "-");
		}
		printf("%-10s %3d %-20s %-10s %10s %-4s %9s %7s  %s%s%s\n", r->workload, r->threads,
		       r->peer, r->metric, med, r->unit, mops, ratio, r->status,
		       strcmp(r->status, "ok") ? ": " : "", strcmp(r->status, "ok") ? r->note : "");
	}
}

/* ---- CSV and JSON ------------------------------------------------------------------ */

static void csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n\r")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
	if (v >= 0 && isfinite(v))
		fprintf(f, "%.6g", v);
	else if (isinf(v))
		fputs("inf", f);
}

static int write_csv(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return cli_error("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "workload,threads,peer,metric,median,unit,mops_per_s,ratio,status,runs,ops,"
		   "min,max,note\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		bool ok = !strcmp(r->status, "ok");

		csv_str(f, r->workload);
		fprintf(f, ",%d,", r->threads);
		csv_str(f, r->peer);
		fputc(',', f);
		csv_str(f, r->metric);
		fputc(',', f);
		if (ok)
			csv_num(f, r->median);
		fputc(',', f);
		csv_str(f, r->unit);
		fputc(',', f);
		csv_num(f, r->mops);
		fputc(',', f);
		csv_num(f, r->ratio);
		fprintf(f, ",%s,%d,%llu,", r->status, r->runs, r->ops);
		if (ok)
			csv_num(f, r->min);
		fputc(',', f);
		if (ok)
			csv_num(f, r->max);
		fputc(',', f);
		csv_str(f, r->note);
		fputc('\n', f);
	}
	if (fclose(f))
		return cli_error("cannot write %s: %s", path, strerror(errno));
	return CLI_OK;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v, bool have)
{
	if (have && isfinite(v) && v >= 0)
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

static int write_json(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return cli_error("cannot write %s: %s", path, strerror(errno));
	fputs("[\n", f);
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		bool ok = !strcmp(r->status, "ok");

		fputs("  {\"workload\": ", f);
		json_str(f, r->workload);
		fprintf(f, ", \"threads\": %d, \"peer\": ", r->threads);
		json_str(f, r->peer);
		fputs(", \"metric\": ", f);
		json_str(f, r->metric);
		fputs(", \"median\": ", f);
		json_num(f, r->median, ok);
		fputs(", \"unit\": ", f);
		json_str(f, r->unit);
		fputs(", \"mops_per_s\": ", f);
		json_num(f, r->mops, ok);
		fputs(", \"ratio\": ", f);
		json_num(f, r->ratio, ok);
		fputs(", \"status\": ", f);
		json_str(f, r->status);
		fprintf(f, ", \"runs\": %d, \"ops\": %llu, \"min\": ", r->runs, r->ops);
		json_num(f, r->min, ok);
		fputs(", \"max\": ", f);
		json_num(f, r->max, ok);
		fputs(", \"note\": ", f);
		json_str(f, r->note);
		fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
	}
	fputs("]\n", f);
	if (fclose(f))
		return cli_error("cannot write %s: %s", path, strerror(errno));
	return CLI_OK;
}

/* ---- progress -------------------------------------------------------------------- */

static bool progress_on;
static int progress_done, progress_total;

static void progress(const char *what)
{
	int width = 30, fill;

	if (!progress_on)
		return;
	fill = progress_total ? progress_done * width / progress_total : width;
	if (fill > width)
		fill = width;
	fprintf(stderr, "\r[%.*s%*s] %d/%d %s\033[K", fill, "##############################",
		width - fill, "", progress_done, progress_total, what);
	fflush(stderr);
}

static void progress_end(void)
{
	if (progress_on)
		fprintf(stderr, "\r\033[K");
}

/* ---- options ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labyrinth bench [OPTIONS]\n"
		"Runs workloads against labyrinth and its peers, each peer in its own runner\n"
		"process: one warm-up run, then --runs runs; prints the median of each metric,\n"
		"Mops/s (1000/ns for a time per operation) and the ratio to labyrinth\n"
		"(peer time / labyrinth time, so > 1 means labyrinth is faster; for throughput\n"
		"and kept: labyrinth / peer). Every run of a row must report the same number of\n"
		"operations (unless --duration).\n"
		"\n"
		"  -w, --workload LIST  comma-separated, default all: bulk0 bulk9 pairs churn\n"
		"                       handoff nearfull signal fragment ('bulk' = bulk0,bulk9;\n"
		"                       churnNN = churn at NN%% fill)\n"
		"  -p, --peers LIST     default: every peer the runners offer (see --list) but\n"
		"                       the opt-in ones (caps optin: labyrinth on a shared maze)\n"
		"      --base PEER      the peer of the ratio column (default labyrinth)\n"
		"  -t, --threads LIST   thread counts, default 1 (e.g. 1,2,4)\n"
		"      --pairs-threads LIST  more thread counts for pairs only (the scaling plot)\n"
		"      --pages N        rooms per pool (runner default 65536; nearfull 2^24)\n"
		"      --page-size B    bytes per room, a power of two >= 4096\n"
		"      --ops N          operations per thread per run (default 1000000)\n"
		"      --duration S     bound each run by time instead of --ops\n"
		"      --seed S         seed of every random choice (default 1)\n"
		"      --fill LIST      churn fill levels in percent (default 10,50,90,99)\n"
		"  -r, --runs N         measured runs after the warm-up (default 5)\n"
		"      --pin            pin worker thread i to CPU i\n"
		"  -q, --quick          small sizes: --runs 3, --ops 20000, --pages 8192 (nearfull\n"
		"                       2^20)\n"
		"                       (explicit options win)\n"
		"      --csv FILE       write every row as CSV\n"
		"      --json FILE      write every row as a JSON array of objects\n"
		"      --png FILE       plot with gnuplot: median ns/op per workload and peer, and\n"
		"                       threads vs Mops/s for pairs when several thread counts ran\n"
		"  -l, --list           list the peers found and their capabilities, then exit\n"
		"  -h, --help           this help\n"
		"\n"
		"Runners: labyrinth-runner[-jemalloc|-tcmalloc|-mimalloc] next to this executable,\n"
		"else in $LABYRINTH_RUNNER_DIR, else in %s.\n"
		"A progress bar is drawn on stderr when it is a terminal.\n",
		LAB_CLI_LIBEXECDIR);
}

static bool known_workload(const char *w)
{
	uint64_t v;

	for (int i = 0; i < NWORKLOADS; i++)
		if (!strcmp(w, all_workloads[i]))
			return true;
	return !strncmp(w, "churn", 5) && !cli_parse_u64(w + 5, 1, 99, &v);
}

static int parse_int_list(const char *arg, const char *what, int *out, int max, uint64_t lo,
			  uint64_t hi)
{
	char *item[MAX_LIST];
	int n = cli_split(arg, item, MAX_LIST), i;

	if (n < 0 || n > max)
		return cli_usage_error("%s wants a comma-separated list of numbers, not '%s'", what,
				       arg);
	for (i = 0; i < n; i++) {
		uint64_t v;

		if (cli_parse_u64(item[i], lo, hi, &v)) {
			cli_usage_error("%s: '%s' is not a number in %llu..%llu", what, item[i],
					(unsigned long long)lo, (unsigned long long)hi);
			break;
		}
		out[i] = (int)v;
	}
	for (int j = 0; j < n; j++)
		free(item[j]);
	return i == n ? -n : CLI_USAGE;
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
		O_CSV,
		O_JSON,
		O_PNG,
		O_PTHREADS,
		O_BASE
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
		{ "ops", required_argument, NULL, O_OPS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "seed", required_argument, NULL, O_SEED },
		{ "fill", required_argument, NULL, O_FILL },
		{ "runs", required_argument, NULL, 'r' },
		{ "pin", no_argument, NULL, O_PIN },
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

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":w:p:t:r:qlh", lo, NULL)) != -1) {
		switch (c) {
		case 'w':
			while (o->nworkloads > 0)
				free(o->workloads[--o->nworkloads]);
			n = cli_split(optarg, o->workloads, MAX_LIST);
			if (n < 0)
				return cli_usage_error("--workload wants a comma-separated list, "
						       "not '%s'",
						       optarg);
			o->nworkloads = n;
			break;
		case 'p':
			while (o->npeers > 0)
				free(o->peers[--o->npeers]);
			n = cli_split(optarg, o->peers, MAX_PEERS);
			if (n < 0)
				return cli_usage_error("--peers wants a comma-separated list, "
						       "not '%s'",
						       optarg);
			o->npeers = n;
			break;
		case 't':
			n = parse_int_list(optarg, "--threads", o->threads, MAX_LIST, 1, 1024);
			if (n > 0)
				return n;
			o->nthreads = -n;
			break;
		case O_PTHREADS:
			n = parse_int_list(optarg, "--pairs-threads", o->pthreads, MAX_LIST, 1,
					   1024);
			if (n > 0)
				return n;
			o->npthreads = -n;
			break;
		case O_FILL:
			n = parse_int_list(optarg, "--fill", o->fills, MAX_LIST, 1, 99);
			if (n > 0)
				return n;
			o->nfills = -n;
			break;
		case O_PAGES:
			if (cli_parse_u64(optarg, 1, (uint64_t)1 << 32, &v))
				return cli_usage_error("--pages wants 1..2^32, not '%s'", optarg);
			o->pages = optarg;
			o->pages_set = true;
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
			if (cli_parse_u64(optarg, 1, MAX_RUNS, &v))
				return cli_usage_error("--runs wants 1..%d, not '%s'", MAX_RUNS,
						       optarg);
			o->runs = (int)v;
			o->runs_set = true;
			break;
		case O_PIN:
			o->pin = true;
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
		if (!known_workload(o->workloads[i]) && strcmp(o->workloads[i], "bulk") &&
		    strcmp(o->workloads[i], "all"))
			return cli_usage_error("unknown workload '%s'", o->workloads[i]);
	if (!o->runs_set)
		o->runs = o->quick ? 3 : 5;
	if (!o->ops_set)
		o->ops = o->quick ? 20000 : 1000000;
	if (!o->pages && o->quick)
		o->pages = "8192";
	if (!o->nthreads) {
		o->threads[0] = 1;
		o->nthreads = 1;
	}
	/* pairs: the union of --threads and --pairs-threads, in ascending order */
	for (int i = 0; i < o->nthreads; i++) {
		bool dup = false;

		for (int k = 0; k < o->npthreads; k++)
			dup |= o->pthreads[k] == o->threads[i];
		if (!dup && o->npthreads < MAX_LIST)
			o->pthreads[o->npthreads++] = o->threads[i];
	}
	for (int i = 1; i < o->npthreads; i++)
		for (int k = i; k > 0 && o->pthreads[k - 1] > o->pthreads[k]; k--) {
			int t = o->pthreads[k];

			o->pthreads[k] = o->pthreads[k - 1];
			o->pthreads[k - 1] = t;
		}
	if (!o->nfills) {
		static const int f[] = { 10, 50, 90, 99 };

		memcpy(o->fills, f, sizeof(f));
		o->nfills = 4;
	}
	return 0;
}

/* The workload names to run, churn expanded to churnFILL. */
static int expand_workloads(const struct opts *o, char names[][32], int max)
{
	int n = 0;

	for (int i = 0; i < (o->nworkloads ? o->nworkloads : 1); i++) {
		const char *w = o->nworkloads ? o->workloads[i] : "all";

		for (int k = 0; k < NWORKLOADS; k++) {
			const char *a = all_workloads[k];
			bool take = !strcmp(w, "all") || !strcmp(w, a) ||
				    (!strcmp(w, "bulk") && !strncmp(a, "bulk", 4));

			if (!take)
				continue;
			if (!strcmp(a, "churn")) {
				for (int f = 0; f < o->nfills && n < max; f++)
					snprintf(names[n++], 32, "churn%d", o->fills[f]);
			} else if (n < max) {
				snprintf(names[n++], 32, "%s", a);
			}
		}
		if (!strncmp(w, "churn", 5) && w[5] && n < max)
			snprintf(names[n++], 32, "%s", w);
	}
	/* drop repeats, keep the first */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (!strcmp(names[i], names[j])) {
				memmove(names[j], names[j + 1], (size_t)(n - j - 1) * 32);
				n--;
				j--;
			}
	return n;
}

static bool row_exists(const char *w, int threads, const char *peer)
{
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].threads == threads && !strcmp(rows[i].workload, w) &&
		    !strcmp(rows[i].peer, peer))
			return true;
	return false;
}

/* Rows of one measurement. */
static void add_rows(const char *w, int threads, const char *peer, const struct measure *ms,
		     const struct opts *o)
{
	if (!ms->nm) {
		struct bench_row *r = add_row();

		snprintf(r->workload, sizeof(r->workload), "%.31s", w);
		r->threads = threads;
		snprintf(r->peer, sizeof(r->peer), "%s", peer);
		snprintf(r->status, sizeof(r->status), "%s", ms->status[0] ? ms->status : "error");
		snprintf(r->note, sizeof(r->note), "%s", ms->note);
		r->mops = r->ratio = -1;
		return;
	}
	for (int i = 0; i < ms->nm; i++) {
		const struct metric *m = &ms->m[i];
		struct bench_row *r = add_row();

		snprintf(r->workload, sizeof(r->workload), "%.31s", w);
		r->threads = m->threads > 0 ? m->threads : threads;
		snprintf(r->peer, sizeof(r->peer), "%s", peer);
		snprintf(r->metric, sizeof(r->metric), "%s", m->name);
		snprintf(r->unit, sizeof(r->unit), "%s", m->unit);
		snprintf(r->status, sizeof(r->status), "%s", ms->status);
		snprintf(r->note, sizeof(r->note), "%s",
			 strcmp(ms->status, "ok") ? ms->note : m->note);
		r->runs = m->n;
		r->mops = r->ratio = -1;
		if (strcmp(ms->status, "ok"))
			continue;
		if (m->n == 0) {
			snprintf(r->status, sizeof(r->status), "error");
			snprintf(r->note, sizeof(r->note), "no value reported");
			continue;
		}
		r->median = median(m->v, m->n, &r->min, &r->max);
		r->mops = derive_mops(m->unit, r->median);
		r->ops = m->ops[0];
		for (int k = 1; k < m->n; k++)
			if (m->ops[k] != m->ops[0] && !(o->duration > 0)) {
				unsigned long long lo = m->ops[0], hi = m->ops[0];

				for (int j = 1; j < m->n; j++) {
					lo = m->ops[j] < lo ? m->ops[j] : lo;
					hi = m->ops[j] > hi ? m->ops[j] : hi;
				}
				snprintf(r->status, sizeof(r->status), "error");
				snprintf(r->note, sizeof(r->note),
					 "runs did different work: %llu..%llu operations", lo, hi);
				r->mops = -1;
				break;
			}
	}
}

static int bench(struct opts *op)
{
	struct opts o = *op;
	static char names[64][32];
	static struct measure ms;
	const struct peer *order[MAX_PEERS];
	char seedbuf[32], opsbuf[32], durbuf[32], thrbuf[16];
	int norder = 0, nnames, rc;

	rc = find_runner_dir();
	if (rc)
		return rc;
	rc = list_peers();
	if (rc)
		return rc;
	if (o.list) {
		printf("runners in %s\n", runner_dir);
		for (int i = 0; i < npeers; i++)
			printf("peer %-20s caps=%-36s %s\n", peers[i].name, peers[i].caps,
			       strrchr(peers[i].runner, '/') + 1);
		return CLI_OK;
	}
	if (o.npeers) {
		for (int i = 0; i < o.npeers; i++) {
			const struct peer *p = find_peer(o.peers[i]);

			if (!p) {
				fprintf(stderr,
					"%s: no peer '%s'; the runners in %s offer:", cli_cmd,
					o.peers[i], runner_dir);
				for (int k = 0; k < npeers; k++)
					fprintf(stderr, " %s", peers[k].name);
				fprintf(stderr, "\n");
				return CLI_USAGE;
			}
			bool dup = false;
			for (int k = 0; k < norder; k++)
				dup |= order[k] == p;
			if (!dup)
				order[norder++] = p;
		}
	} else {
		const struct peer *lab = find_peer("labyrinth");

		if (lab)
			order[norder++] = lab;
		/* peers with caps "optin" (variants of another peer) run only when named */
		for (int i = 0; i < npeers; i++)
			if (&peers[i] != lab && !has_cap(&peers[i], "optin"))
				order[norder++] = &peers[i];
	}
	if (o.base && !find_peer(o.base)) {
		fprintf(stderr, "%s: --base: no peer '%s' (see --list)\n", cli_cmd, o.base);
		return CLI_USAGE;
	}
	base_peer = o.base ? o.base : "labyrinth";
	nnames = expand_workloads(&o, names, 64);

	progress_on = isatty(2);
	progress_total = 0;
	for (int wi = 0; wi < nnames; wi++)
		progress_total += (strcmp(names[wi], "pairs") ? o.nthreads : o.npthreads) * norder *
				  (1 + o.runs);
	snprintf(seedbuf, sizeof(seedbuf), "%s", o.seed ? o.seed : "1");
	snprintf(opsbuf, sizeof(opsbuf), "%llu", (unsigned long long)o.ops);
	snprintf(durbuf, sizeof(durbuf), "%g", o.duration);
	printf("labyrinth bench: runners in %s; %d run%s after 1 warm-up, median per metric, "
	       "%s %s per run\n",
	       runner_dir, o.runs, o.runs == 1 ? "" : "s", o.duration > 0 ? durbuf : opsbuf,
	       o.duration > 0 ? "s" : "operations per thread");
	printf("ratio: peer time / %s time (> 1: %s faster); for throughput and "
	       "kept: %s / peer\n\n",
	       base_peer, base_peer, base_peer);
	fflush(stdout);

	for (int wi = 0; wi < nnames; wi++) {
		const char *w = names[wi];

		const int *tl = strcmp(w, "pairs") ? o.threads : o.pthreads;
		int ntl = strcmp(w, "pairs") ? o.nthreads : o.npthreads;

		for (int ti = 0; ti < ntl; ti++) {
			size_t mark = nrows;
			bool skip = false;

			snprintf(thrbuf, sizeof(thrbuf), "%d", tl[ti]);
			for (int pi = 0; pi < norder && !skip; pi++) {
				const struct peer *p = order[pi];
				char *av[32], what[96];
				int ac = 0;

				av[ac++] = (char *)p->runner;
				av[ac++] = "--peer";
				av[ac++] = (char *)p->name;
				av[ac++] = "--workload";
				av[ac++] = (char *)w;
				av[ac++] = "--threads";
				av[ac++] = thrbuf;
				av[ac++] = "--seed";
				av[ac++] = seedbuf;
				if (o.duration > 0) {
					av[ac++] = "--duration";
					av[ac++] = durbuf;
				} else {
					av[ac++] = "--ops";
					av[ac++] = opsbuf;
				}
				if (o.quick && !o.pages_set && !strcmp(w, "nearfull")) {
					av[ac++] = "--pages";
					av[ac++] = "1048576";
				} else if (o.pages) {
					av[ac++] = "--pages";
					av[ac++] = (char *)o.pages;
				}
				if (o.page_size) {
					av[ac++] = "--page-size";
					av[ac++] = (char *)o.page_size;
				}
				if (o.pin)
					av[ac++] = "--pin";
				av[ac] = NULL;

				memset(&ms, 0, sizeof(ms));
				snprintf(ms.status, sizeof(ms.status), "ok");
				snprintf(what, sizeof(what), "%.31s t=%d %.31s", w, tl[ti],
					 p->name);
				progress(what);
				run_once(av, &ms, true);
				progress_done++;
				/* A workload that does not use threads reports another count:
				 * measured already with the first thread count. */
				if (!strcmp(ms.status, "ok") && ms.nm && ms.m[0].threads > 0 &&
				    ms.m[0].threads != tl[ti] &&
				    row_exists(w, ms.m[0].threads, p->name)) {
					nrows = mark;
					skip = true;
					progress_done += o.runs + (norder - pi - 1) * (1 + o.runs);
					break;
				}
				for (int r = 0; r < o.runs && !strcmp(ms.status, "ok"); r++) {
					progress(what);
					run_once(av, &ms, false);
					progress_done++;
				}
				if (strcmp(ms.status, "ok"))
					progress_done += o.runs;
				add_rows(w, tl[ti], p->name, &ms, &o);
			}
		}
	}
	progress_end();
	compute_ratios();
	print_table();
	fflush(stdout);

	rc = CLI_OK;
	if (o.csv && write_csv(o.csv))
		rc = CLI_FAIL;
	if (o.json && write_json(o.json))
		rc = CLI_FAIL;
	if (o.png && plot_bench(o.png, rows, nrows, o.pthreads, o.npthreads))
		rc = CLI_FAIL;
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].status, "error"))
			rc = rc ? rc : CLI_FAIL;
	return rc;
}

int cmd_bench(int argc, char **argv)
{
	static struct opts o;
	int rc = parse_opts(argc, argv, &o);

	if (rc == 0)
		rc = bench(&o);
	else if (rc < 0)
		rc = CLI_OK; /* --help */
	for (int i = 0; i < o.nworkloads; i++)
		free(o.workloads[i]);
	for (int i = 0; i < o.npeers; i++)
		free(o.peers[i]);
	free(rows);
	rows = NULL;
	nrows = caprows = 0;
	return rc;
}

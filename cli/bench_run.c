/* SPDX-License-Identifier: MIT */
/* labyrinth bench: the runner executables. Finding them (next to this
 * executable, else in $LABYRINTH_RUNNER_DIR, else in libexec/labyrinth/ of
 * the installation), the peers they offer, and one measurement: a warm-up
 * run, calibrated so that a run is timed long enough, then the runs, each
 * refused when the runner says it is invalid (the threads' windows did not
 * overlap, or it was too short) and made again.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
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

static struct bench_peer peers[BENCH_MAX_PEERS];
static int npeers;
static char runner_dir[PATH_MAX];

/* ---- finding the runners and their peers ---------------------------------------------- */

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

/* ---- child processes ---------------------------------------------------------------- */

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

int bench_find_peers(void)

{
	int rc = find_runner_dir();

	if (rc)
		return rc;
	npeers = 0;
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
			if (i < npeers || npeers == BENCH_MAX_PEERS)
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

const char *bench_runner_dir(void)
{
	return runner_dir;
}

int bench_npeers(void)
{
	return npeers;
}

const struct bench_peer *bench_peer_at(int i)
{
	return &peers[i];
}

const struct bench_peer *bench_find_peer(const char *name)
{
	for (int i = 0; i < npeers; i++)
		if (!strcmp(peers[i].name, name))
			return &peers[i];
	return NULL;
}

bool bench_has_cap(const struct bench_peer *p, const char *cap)
{
	size_t n = strlen(cap);

	for (const char *c = p->caps; c && *c; c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL)
		if (!strncmp(c, cap, n) && (c[n] == ',' || c[n] == 0))
			return true;
	return false;
}

/* ---- one run ---------------------------------------------------------------------------- */

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

static void set_note(struct bench_measure *ms, const char *status, const char *note)
{
	snprintf(ms->status, sizeof(ms->status), "%s", status);
	snprintf(ms->note, sizeof(ms->note), "%s", note);
}

/* The metric of that name in ms, added if new; NULL when ms is full. */
static struct bench_metric *metric_of(struct bench_measure *ms, const char *name, const char *unit)
{
	int i;

	for (i = 0; i < ms->nm && strcmp(ms->m[i].name, name); i++)
		;
	if (i < ms->nm)
		return &ms->m[i];
	if (ms->nm == BENCH_MAX_METRICS)
		return NULL;
	ms->nm++;
	snprintf(ms->m[i].name, sizeof(ms->m[i].name), "%s", name);
	snprintf(ms->m[i].unit, sizeof(ms->m[i].unit), "%s", unit);
	return &ms->m[i];
}

/* "labyrinth-runner exited 1: the first line of its stderr" */
static void child_failed(struct bench_measure *ms, char *const *argv, int rc,
			 const struct strbuf *err)
{
	const char *e = err->s ? err->s : "", *base = strrchr(argv[0], '/');
	size_t len = strcspn(e, "\n");
	char msg[256];

	if (rc < 0 && err->s) {
		/* the last line says how it died */
		const char *last = e + err->len;

		while (last > e && last[-1] == '\n')
			last--;
		while (last > e && last[-1] != '\n')
			last--;
		e = last;
		len = strcspn(e, "\n");
	}
	base = base ? base + 1 : argv[0];
	if (rc < 0)
		snprintf(msg, sizeof(msg), "%s failed%s%.*s", base, len ? ": " : "",
			 (int)(len > 200 ? 200 : len), e);
	else
		snprintf(msg, sizeof(msg), "%s exited %d%s%.*s", base, rc, len ? ": " : "",
			 (int)(len > 200 ? 200 : len), e);
	set_note(ms, "error", msg);
}

/* What one run said about itself. */
struct run_verdict {
	bool valid;	  /* every line had status ok */
	double window_ms; /* the longest timed window of its lines */
	double cpu;	  /* the share of it the threads were not kept from a CPU, 0..1 */
	int threads;	  /* as reported by its first line */
	unsigned long long pages;
};

/* One run of the runner; adds its values to ms unless it is a warm-up. An
 * invalid run's values go to the metric's refused runs. Sets ms->status to
 * na or error when the runner says so. */
static void run_once(char **argv, struct bench_measure *ms, bool warmup, struct run_verdict *rv)
{
	struct strbuf out = { 0 }, err = { 0 };
	char *line, *save = NULL;
	int rc, seen = 0;

	*rv = (struct run_verdict){ true, 0, 1, 0, 0 };
	rc = run_child(argv, &out, &err);
	for (line = out.s ? strtok_r(out.s, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *kv[24][2];
		const char *note, *metric, *value, *unit, *status, *x;
		struct bench_metric *m;
		int nkv;

		if (strncmp(line, "result ", 7))
			continue;
		nkv = parse_result(line, kv, 24, &note);
		metric = kv_get(kv, nkv, "metric");
		value = kv_get(kv, nkv, "value");
		unit = kv_get(kv, nkv, "unit");
		status = kv_get(kv, nkv, "status");
		if (nkv < 0 || !metric || !value || !unit || !status) {
			set_note(ms, "error", "malformed result line from the runner");
			continue;
		}
		if (!seen++) {
			x = kv_get(kv, nkv, "threads");
			rv->threads = x ? atoi(x) : 0;
			x = kv_get(kv, nkv, "pages");
			rv->pages = x ? strtoull(x, NULL, 10) : 0;
		}
		if (!strcmp(status, "na")) {
			if (strcmp(ms->status, "error"))
				set_note(ms, "na", note);
		} else if (!strcmp(status, "invalid")) {
			rv->valid = false;
		} else if (strcmp(status, "ok")) {
			set_note(ms, "error", note[0] ? note : status);
		}
		if ((x = kv_get(kv, nkv, "window")) && strtod(x, NULL) > rv->window_ms)
			rv->window_ms = strtod(x, NULL);
		if ((x = kv_get(kv, nkv, "cpu")) && strtod(x, NULL) > 0)
			rv->cpu = strtod(x, NULL) / 100;
		m = metric_of(ms, metric, unit);
		if (!m)
			continue;
		if ((x = kv_get(kv, nkv, "threads")))
			m->threads = atoi(x);
		if ((x = kv_get(kv, nkv, "pages")))
			m->pages = strtoull(x, NULL, 10);
		if (!strcmp(status, "ok"))
			snprintf(m->note, sizeof(m->note), "%s", note);
		else if (!strcmp(status, "invalid"))
			snprintf(m->bad_note, sizeof(m->bad_note), "%s", note);
		if (warmup || m->n + m->nbad >= BENCH_MAX_RUNS)
			continue;
		x = kv_get(kv, nkv, "mops");
		if (!strcmp(status, "ok")) {
			m->v[m->n] = strtod(value, NULL);
			m->mops[m->n] = x ? strtod(x, NULL) : 0;
			x = kv_get(kv, nkv, "overlap");
			m->overlap[m->n] = x ? strtod(x, NULL) : 100;
			x = kv_get(kv, nkv, "ops");
			m->ops[m->n] = x ? strtoull(x, NULL, 10) : 0;
			m->n++;
		} else if (!strcmp(status, "invalid")) {
			m->bad_v[m->nbad] = strtod(value, NULL);
			m->bad_mops[m->nbad] = x ? strtod(x, NULL) : 0;
			x = kv_get(kv, nkv, "overlap");
			m->bad_overlap[m->nbad] = x ? strtod(x, NULL) : 0;
			m->nbad++;
		}
	}
	if ((rc != 0 || !seen) && strcmp(ms->status, "error"))
		child_failed(ms, argv, rc, &err);
	sb_free(&out);
	sb_free(&err);
}

/* ---- one measurement ------------------------------------------------------------------ */

void bench_measure(const struct bench_job *job, const struct bench_peer *peer,
		   const struct bench_settings *s, struct bench_measure *ms)
{
	char thr[16], ops[32], dur[32], pages[32], batch[32], repeat[32], minwin[16];
	char *av[40];
	struct run_verdict rv;
	int ac = 0, valid = 0, at;

	memset(ms, 0, sizeof(*ms));
	snprintf(ms->status, sizeof(ms->status), "ok");
	ms->repeat = 1;
	snprintf(thr, sizeof(thr), "%d", job->threads);
	snprintf(ops, sizeof(ops), "%llu", (unsigned long long)s->ops);
	snprintf(dur, sizeof(dur), "%g", s->duration);
	snprintf(pages, sizeof(pages), "%llu", (unsigned long long)job->pages);
	snprintf(batch, sizeof(batch), "%llu", (unsigned long long)job->batch);
	snprintf(minwin, sizeof(minwin), "%g", BENCH_MIN_WINDOW_MS);
	av[ac++] = (char *)peer->runner;
	av[ac++] = "--peer";
	av[ac++] = (char *)peer->name;
	av[ac++] = "--workload";
	av[ac++] = (char *)job->workload;
	av[ac++] = "--threads";
	av[ac++] = thr;
	av[ac++] = "--seed";
	av[ac++] = (char *)s->seed;
	av[ac++] = s->duration > 0 ? "--duration" : "--ops";
	av[ac++] = s->duration > 0 ? dur : ops;
	if (job->pages) {
		av[ac++] = "--pages";
		av[ac++] = pages;
	}
	if (job->batch) {
		av[ac++] = "--batch";
		av[ac++] = batch;
	}
	if (s->page_size) {
		av[ac++] = "--page-size";
		av[ac++] = (char *)s->page_size;
	}
	if (!s->pin)
		av[ac++] = "--no-pin";
	av[ac++] = "--min-window";
	av[ac++] = minwin;
	av[ac++] = "--repeat";
	av[ac++] = repeat;
	av[ac] = NULL;

	/* The warm-up; again with more repeats while it is timed too briefly,
	 * judged by the time its threads were not kept waiting (a warm-up that
	 * another process slowed down looks long enough). */
	for (int i = 0; i < 8; i++) {
		double f, busy;

		snprintf(repeat, sizeof(repeat), "%llu", (unsigned long long)ms->repeat);
		run_once(av, ms, true, &rv);
		if (strcmp(ms->status, "ok"))
			return;
		if (rv.threads > 0 &&
		    bench_row_exists(job->label, rv.threads, rv.pages, peer->name)) {
			/* a workload that does not use this many threads: measured already */
			snprintf(ms->status, sizeof(ms->status), "dup");
			return;
		}
		busy = rv.window_ms * (rv.cpu < 1 ? rv.cpu : 1);
		if (s->duration > 0 || busy <= 0 || busy >= 1.2 * BENCH_MIN_WINDOW_MS)
			break;
		f = ceil(1.5 * BENCH_MIN_WINDOW_MS / busy);
		f = f < 2 ? 2 : f > 1000 ? 1000 : f;
		if (ms->repeat * (uint64_t)f > 1000000)
			break;
		ms->repeat *= (uint64_t)f;
	}
	snprintf(repeat, sizeof(repeat), "%llu", (unsigned long long)ms->repeat);
	for (at = 0; valid < s->runs && at < 2 * s->runs; at++) {
		run_once(av, ms, false, &rv);
		if (strcmp(ms->status, "ok"))
			return;
		valid += rv.valid;
	}
}

/* ---- progress ----------------------------------------------------------------------- */

static bool progress_on;
static int progress_done, progress_total;

void bench_progress_step(const char *what)
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
	progress_done++;
}

void bench_progress_end(void)
{
	if (progress_on)
		fprintf(stderr, "\r\033[K");
}

void bench_progress_begin(int total)
{
	progress_on = isatty(2);
	progress_total = total;
	progress_done = 0;
}

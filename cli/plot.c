/* SPDX-License-Identifier: MIT */
/* The bench plot: gnuplot (gnuplot-nox) draws a PNG from one data file per
 * panel. On top, the median ns per operation per workload (grouped bars, one
 * per peer, log scale) at the first thread count and size of each; below,
 * one small panel per metric that ran at several thread counts (threads vs
 * Mops/s of all threads: scale) or at several pool sizes (rooms vs ns/op:
 * size), one line per peer. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PLOT_MAX 64	   /* peers, bar clusters, points of a line */
#define PLOT_PANELS 12	   /* small panels drawn */
#define PLOT_CANDIDATES 64 /* metrics looked at for them */
#define PLOT_COLS 3	   /* small panels per line */
#define PLOT_BAR_PX 520	   /* heights */
#define PLOT_PANEL_PX 360

static int index_of(char list[][32], int *n, const char *s)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(list[i], s))
			return i;
	if (*n == PLOT_MAX)
		return -1;
	snprintf(list[*n], 32, "%s", s);
	return (*n)++;
}

static double to_ns(const struct bench_row *r)
{
	if (!strcmp(r->unit, "ns"))
		return r->median;
	if (!strcmp(r->unit, "us"))
		return r->median * 1e3;
	if (!strcmp(r->unit, "ms"))
		return r->median * 1e6;
	return -1;
}

static void gp_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static bool grouped(const char *workload)
{
	return !strncmp(workload, "scale/", 6) || !strncmp(workload, "size/", 5);
}

/* A small panel: one metric of one workload against threads or rooms. */
struct panel {
	char workload[32], metric[32];
	bool by_rooms;		  /* x = rooms (ns/op), else x = threads (Mops/s) */
	unsigned long long fixed; /* the rooms (by threads) or threads (by rooms) held fixed */
	double x[PLOT_MAX];
	int nx;
	double y[PLOT_MAX][PLOT_MAX]; /* [point][peer], < 0: none */
};

static struct panel panels[PLOT_CANDIDATES];
static int npanels;

static struct panel *panel_of(const struct bench_row *r, bool by_rooms)
{
	unsigned long long fixed = by_rooms ? (unsigned long long)r->threads : r->pages;
	struct panel *p;

	for (int i = 0; i < npanels; i++) {
		p = &panels[i];
		if (p->by_rooms == by_rooms && !strcmp(p->workload, r->workload) &&
		    !strcmp(p->metric, r->metric))
			return p->fixed == fixed ? p : NULL;
	}
	if (npanels == PLOT_CANDIDATES)
		return NULL;
	p = &panels[npanels++];
	memset(p, 0, sizeof(*p));
	snprintf(p->workload, sizeof(p->workload), "%s", r->workload);
	snprintf(p->metric, sizeof(p->metric), "%s", r->metric);
	p->by_rooms = by_rooms;
	p->fixed = fixed;
	for (int i = 0; i < PLOT_MAX; i++)
		for (int k = 0; k < PLOT_MAX; k++)
			p->y[i][k] = -1;
	return p;
}

static void panel_put(struct panel *p, double x, int peer, double y)
{
	int i;

	for (i = 0; i < p->nx && p->x[i] != x; i++)
		;
	if (i == p->nx) {
		if (p->nx == PLOT_MAX)
			return;
		/* keep x ascending */
		for (i = p->nx; i > 0 && p->x[i - 1] > x; i--) {
			p->x[i] = p->x[i - 1];
			memcpy(p->y[i], p->y[i - 1], sizeof(p->y[i]));
		}
		p->x[i] = x;
		for (int k = 0; k < PLOT_MAX; k++)
			p->y[i][k] = -1;
		p->nx++;
	}
	if (p->y[i][peer] < 0)
		p->y[i][peer] = y;
}

/* The threads panels take Mops/s of all threads, so "throughput" (the same
 * figure) is left out; the rooms panels take ns per operation. */
static void fill_panels(const struct bench_row *rows, size_t n, char peers[][32], int *npeers)
{
	npanels = 0;
	for (size_t i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		int peer = index_of(peers, npeers, r->peer);
		struct panel *p;

		if (strcmp(r->status, "ok") || peer < 0 || !strcmp(r->metric, "throughput"))
			continue;
		if (!strncmp(r->workload, "size/", 5) && to_ns(r) > 0) {
			if ((p = panel_of(r, true)))
				panel_put(p, (double)r->pages, peer, to_ns(r));
		} else if (r->mops > 0 && (p = panel_of(r, false))) {
			panel_put(p, r->threads, peer, r->mops);
		}
	}
	/* a metric measured at one point only draws no line */
	for (int i = 0; i < npanels; i++)
		if (panels[i].nx < 2) {
			memmove(&panels[i], &panels[i + 1],
				(size_t)(npanels - i - 1) * sizeof(*panels));
			npanels--;
			i--;
		}
	npanels = npanels < PLOT_PANELS ? npanels : PLOT_PANELS;
}

/* The panel's data, a column per peer that has a point in it (gnuplot
 * warns about empty columns), and in lts the peers' linetypes (their
 * colours in the bars) as gnuplot words; the number of columns, or -1. */
static int write_panel(const char *path, const struct panel *p, int npeers, char peers[][32],
		       char *lts, size_t len)
{
	bool has[PLOT_MAX] = { false };
	int ncols = 0;
	size_t at = 0;
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	for (int k = 0; k < npeers; k++)
		for (int i = 0; i < p->nx; i++)
			has[k] |= p->y[i][k] > 0;
	fprintf(f, "x");
	lts[0] = 0;
	for (int k = 0; k < npeers; k++)
		if (has[k]) {
			fprintf(f, " \"%s\"", peers[k]);
			if (at < len)
				at += (size_t)snprintf(lts + at, len - at, "%s%d", at ? " " : "",
						       k % 12 + 1);
			ncols++;
		}
	fprintf(f, "\n");
	for (int i = 0; i < p->nx; i++) {
		fprintf(f, "%.6g", p->x[i]);
		for (int k = 0; k < npeers; k++)
			if (has[k])
				p->y[i][k] > 0 ? fprintf(f, " %.6g", p->y[i][k]) : fprintf(f, " ?");
		fprintf(f, "\n");
	}
	return fclose(f) ? -1 : ncols;
}

/* The bars: one cluster per workload of the runner (not scale, not size),
 * named by metric where it has several, at its first thread count and size;
 * a column per peer with a bar, their linetypes in lts (as write_panel). */
static int write_bars(const char *path, const struct bench_row *rows, size_t n, char peers[][32],
		      int *npeers, double *lo, double *hi, char *lts, size_t len, int *ncols)
{
	bool has[PLOT_MAX] = { false };
	size_t at = 0;

	static char clusters[PLOT_MAX][32];
	static double bar[PLOT_MAX][PLOT_MAX];
	static int first_threads[PLOT_MAX];
	static unsigned long long first_pages[PLOT_MAX];
	int nclusters = 0;
	FILE *f;

	for (int i = 0; i < PLOT_MAX; i++)
		for (int j = 0; j < PLOT_MAX; j++)
			bar[i][j] = -1;
	*lo = INFINITY;
	*hi = 0;
	for (size_t i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		double ns = to_ns(r);
		char name[32];
		int c, p, had = nclusters;

		if (strcmp(r->status, "ok") || grouped(r->workload) || !(ns > 0))
			continue;
		if (!strncmp(r->workload, "bulk", 4))
			snprintf(name, sizeof(name), "%.15s-%.15s", r->workload, r->metric);
		else
			snprintf(name, sizeof(name), "%s", r->workload);
		p = index_of(peers, npeers, r->peer);
		c = index_of(clusters, &nclusters, name);
		if (p < 0 || c < 0)
			continue;
		if (nclusters > had) {
			first_threads[c] = r->threads;
			first_pages[c] = r->pages;
		}
		if (bar[c][p] < 0 && r->threads == first_threads[c] && r->pages == first_pages[c]) {
			bar[c][p] = ns;
			*lo = ns < *lo ? ns : *lo;
			*hi = ns > *hi ? ns : *hi;
		}
	}
	if (!nclusters)
		return 0;
	f = fopen(path, "w");
	if (!f)
		return -1;
	for (int c = 0; c < nclusters; c++)
		for (int p = 0; p < *npeers; p++)
			has[p] |= bar[c][p] > 0;
	fprintf(f, "workload");
	lts[0] = 0;
	*ncols = 0;
	for (int p = 0; p < *npeers; p++)
		if (has[p]) {
			fprintf(f, " \"%s\"", peers[p]);
			if (at < len)
				at += (size_t)snprintf(lts + at, len - at, "%s%d", at ? " " : "",
						       p % 12 + 1);
			++*ncols;
		}
	fprintf(f, "\n");
	for (int c = 0; c < nclusters; c++) {
		fprintf(f, "\"%s\"", clusters[c]);
		for (int p = 0; p < *npeers; p++)
			if (has[p])
				bar[c][p] > 0 ? fprintf(f, " %.6g", bar[c][p]) : fprintf(f, " ?");
		fprintf(f, "\n");
	}
	return fclose(f) ? -1 : nclusters;
}

/* Whether the panel's values span more than two decades (a log y axis). */
static bool wide(const struct panel *p)
{
	double lo = INFINITY, hi = 0;

	for (int i = 0; i < p->nx; i++)
		for (int k = 0; k < PLOT_MAX; k++)
			if (p->y[i][k] > 0) {
				lo = p->y[i][k] < lo ? p->y[i][k] : lo;
				hi = p->y[i][k] > hi ? p->y[i][k] : hi;
			}
	return hi > 100 * lo;
}

static void script_panel(FILE *f, const struct panel *p, const char *data, int ncols,
			 const char *lts)
{
	char rooms[32];

	if (p->by_rooms) {
		fprintf(f,
			"set title '%s %s (%llu thread)'\n"
			"set logscale x 2\nset logscale y\nset format x '2^{%%L}'\n"
			"set xlabel 'rooms in the pool'\nset ylabel 'ns/op (lower is better)'\n"
			"set autoscale xfix\nset offsets graph 0.05, graph 0.05, 0, 0\n"
			"set autoscale y\n",
			p->workload, p->metric, p->fixed);
	} else {
		if (p->fixed >= (1ull << 20) && p->fixed % (1ull << 20) == 0)
			snprintf(rooms, sizeof(rooms), "%lluM", p->fixed >> 20);
		else if (p->fixed >= 1024 && p->fixed % 1024 == 0)
			snprintf(rooms, sizeof(rooms), "%lluk", p->fixed >> 10);
		else
			snprintf(rooms, sizeof(rooms), "%llu", p->fixed);
		fprintf(f,
			"set title '%s %s (%s rooms)'\n"
			"unset logscale x\nunset logscale y\nset format x '%%g'\n"
			"set xlabel 'threads'\nset ylabel 'Mops/s, all threads (higher is better)'\n"
			"set xtics 1\n"
			"set offsets graph 0.05, graph 0.05, graph 0.05, 0\n"
			"set autoscale x\n%s\n",
			p->workload, p->metric, rooms,
			wide(p) ? "set logscale y\nset autoscale y" : "set yrange [0:*]");
	}
	fprintf(f, "lts = '%s'\nplot for [i=2:%d] ", lts, ncols + 1);
	gp_quote(f, data);
	fprintf(f, " using 1:i with linespoints lt (word(lts, i - 1) + 0) lw 2 "
		   "title columnheader(i)\n"
		   "unset xtics\nset xtics autofreq\nunset yrange\n");
}

/* gnuplot's messages go to log, shown when it fails. */
static int run_gnuplot(const char *script, const char *log)
{
	char *argv[] = { "gnuplot", (char *)script, NULL };
	posix_spawn_file_actions_t fa;
	int status = 0;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	errno = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno)
		return cli_error("--png needs gnuplot (apt install gnuplot-nox): %s",
				 strerror(errno));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		FILE *f = fopen(log, "r");
		char line[512];

		while (f && fgets(line, sizeof(line), f))
			fputs(line, stderr);
		if (f)
			fclose(f);
		return cli_error("gnuplot failed on %s", script);
	}
	return CLI_OK;
}

int plot_bench(const char *png, const struct bench_row *rows, size_t n)
{
	static char peers[PLOT_MAX][32];
	static const char *const colours[] = { "#d62728", "#ff9896", "#1f77b4", "#2ca02c",
					       "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
					       "#bcbd22", "#17becf", "#ff7f0e", "#393b79" };
	char dir[] = "/tmp/labyrinth-plot-XXXXXX", bars[64], script[64], log[64];
	char data[PLOT_PANELS][64], lts[PLOT_PANELS][4 * PLOT_MAX], bar_lts[4 * PLOT_MAX];
	int npeers = 0, nclusters, bar_peers = 0, lines, rc = CLI_FAIL, height, ncols[PLOT_PANELS];
	double lo, hi, top;
	FILE *f;

	if (!mkdtemp(dir))
		return cli_error("mkdtemp: %s", strerror(errno));
	snprintf(bars, sizeof(bars), "%s/bars.dat", dir);
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	snprintf(log, sizeof(log), "%s/gnuplot.log", dir);
	/* a colour per peer in the order they ran (labyrinth first), whatever
	 * their rows' status */
	for (size_t i = 0; i < n; i++)
		index_of(peers, &npeers, rows[i].peer);
	nclusters = write_bars(bars, rows, n, peers, &npeers, &lo, &hi, bar_lts, sizeof(bar_lts),
			       &bar_peers);
	fill_panels(rows, n, peers, &npeers);
	if (nclusters < 0)
		goto out;
	if (!nclusters && !npanels) {
		cli_error("--png: no timed results to plot");
		goto out;
	}
	for (int i = 0; i < npanels; i++) {
		snprintf(data[i], sizeof(data[i]), "%s/panel%d.dat", dir, i);
		ncols[i] = write_panel(data[i], &panels[i], npeers, peers, lts[i], sizeof(lts[i]));
		if (ncols[i] < 0)
			goto out;
	}
	lines = (npanels + PLOT_COLS - 1) / PLOT_COLS;
	height = (nclusters ? PLOT_BAR_PX : 0) + lines * PLOT_PANEL_PX + 40;
	top = nclusters ? (double)PLOT_BAR_PX / height : 0;

	f = fopen(script, "w");
	if (!f)
		goto out;
	fprintf(f,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size 1500,%d font 'sans,10'\n"
		"} else {\n"
		"  set terminal png size 1500,%d\n"
		"}\n",
		height, height);
	fprintf(f, "set output ");
	gp_quote(f, png);
	fprintf(f, "\nset datafile missing '?'\nset grid ytics\n");
	/* twelve distinct colours, labyrinth (first) in the boldest */
	for (int i = 0; i < 12; i++)
		fprintf(f, "set linetype %d lc rgb '%s' lw 2 pt %d\n", i + 1, colours[i],
			i % 12 + 1);
	fprintf(f, "set multiplot title 'labyrinth bench'\n");
	if (nclusters) {
		fprintf(f,
			"set origin 0,%g\nset size 1,%g\nset key outside right top\n"
			"set title 'median ns per operation, at the first thread count of each "
			"workload (log scale, lower is better)'\n"
			"set style data histograms\n"
			"set style histogram clustered gap 1\n"
			"set style fill solid 0.85 border -1\n"
			"set boxwidth 0.9\n"
			"set logscale y\n"
			"set yrange [%g:%g]\n"
			"set ylabel 'ns/op'\n"
			"set xtics rotate by -30 nomirror\n"
			"bar_lts = '%s'\n"
			"plot for [i=2:%d] ",
			1 - top - 20.0 / height, top, lo / 3, hi * 3, bar_lts, bar_peers + 1);
		gp_quote(f, bars);
		fprintf(f, " using i:xtic(1) lt (word(bar_lts, i - 1) + 0) title columnheader(i)\n"
			   "unset style\nset style data linespoints\nset xtics norotate\n"
			   "unset yrange\n");
	}
	for (int i = 0; i < npanels; i++) {
		double w = 1.0 / PLOT_COLS, h = (1 - top - 20.0 / height) / lines;

		fprintf(f,
			"set origin %g,%g\nset size %g,%g\n"
			"set key inside top left Left reverse opaque box font ',8' samplen 2\n",
			w * (i % PLOT_COLS), (lines - 1 - i / PLOT_COLS) * h, w, h);
		script_panel(f, &panels[i], data[i], ncols[i], lts[i]);
	}
	fprintf(f, "unset multiplot\n");
	fclose(f);
	rc = run_gnuplot(script, log);
out:
	if (rc)
		cli_error("no plot written to %s", png);
	unlink(bars);
	unlink(log);
	for (int i = 0; i < npanels; i++)
		unlink(data[i]);
	if (!rc) {
		unlink(script);
		rmdir(dir);
	}
	return rc;
}

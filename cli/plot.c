/* SPDX-License-Identifier: MIT */
/* The bench plot: gnuplot (gnuplot-nox) draws a PNG from two data files.
 * Panel 1: median ns per operation per workload (grouped bars, one per
 * peer, log scale), at the first thread count of each. Panel 2, when several thread
 * counts ran: threads vs Mops/s for the pairs workload. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PLOT_MAX 64

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

int plot_bench(const char *png, const struct bench_row *rows, size_t n, const int *threads,
	       int nthreads)
{
	static char peers[PLOT_MAX][32], clusters[PLOT_MAX][32];
	static double bar[PLOT_MAX][PLOT_MAX], line[PLOT_MAX][PLOT_MAX];
	char dir[] = "/tmp/labyrinth-plot-XXXXXX", bars[64], pairs[64], script[64];
	int npeers = 0, nclusters = 0, status = 0, rc = CLI_FAIL;
	double lo = INFINITY, hi = 0;
	bool have_line = false;
	FILE *f;
	pid_t pid;

	for (int i = 0; i < PLOT_MAX; i++)
		for (int j = 0; j < PLOT_MAX; j++)
			bar[i][j] = line[i][j] = -1;
	for (size_t i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		char name[32];
		double ns = to_ns(r);
		int c, p;

		if (strcmp(r->status, "ok"))
			continue;
		p = index_of(peers, &npeers, r->peer);
		if (p < 0)
			continue;
		if (ns > 0) {
			/* one cluster per workload, named by metric where it has several */
			if (!strncmp(r->workload, "bulk", 4))
				snprintf(name, sizeof(name), "%s-%s", r->workload, r->metric);
			else
				snprintf(name, sizeof(name), "%s", r->workload);
			c = index_of(clusters, &nclusters, name);
			if (c >= 0 && bar[c][p] < 0) { /* its first thread count */
				bar[c][p] = ns;
				lo = ns < lo ? ns : lo;
				hi = ns > hi ? ns : hi;
			}
		}
		if (!strcmp(r->workload, "pairs") && !strcmp(r->metric, "throughput"))
			for (int t = 0; t < nthreads && t < PLOT_MAX; t++)
				if (threads[t] == r->threads) {
					line[t][p] = r->median;
					have_line = true;
				}
	}
	if (!nclusters && !have_line)
		return cli_error("--png: no timed results to plot");
	if (!mkdtemp(dir))
		return cli_error("mkdtemp: %s", strerror(errno));
	snprintf(bars, sizeof(bars), "%s/bars.dat", dir);
	snprintf(pairs, sizeof(pairs), "%s/pairs.dat", dir);
	snprintf(script, sizeof(script), "%s/plot.gp", dir);

	f = fopen(bars, "w");
	if (!f)
		goto out;
	fprintf(f, "workload");
	for (int p = 0; p < npeers; p++)
		fprintf(f, " \"%s\"", peers[p]);
	fprintf(f, "\n");
	for (int c = 0; c < nclusters; c++) {
		fprintf(f, "\"%s\"", clusters[c]);
		for (int p = 0; p < npeers; p++)
			bar[c][p] > 0 ? fprintf(f, " %.6g", bar[c][p]) : fprintf(f, " ?");
		fprintf(f, "\n");
	}
	fclose(f);

	bool two = have_line && nthreads > 1;
	f = fopen(pairs, "w");
	if (!f)
		goto out;
	fprintf(f, "threads");
	for (int p = 0; p < npeers; p++)
		fprintf(f, " \"%s\"", peers[p]);
	fprintf(f, "\n");
	for (int t = 0; t < nthreads && t < PLOT_MAX; t++) {
		fprintf(f, "%d", threads[t]);
		for (int p = 0; p < npeers; p++)
			line[t][p] > 0 ? fprintf(f, " %.6g", line[t][p]) : fprintf(f, " ?");
		fprintf(f, "\n");
	}
	fclose(f);

	f = fopen(script, "w");
	if (!f)
		goto out;
	fprintf(f,
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size 1200,%d font 'sans,10'\n"
		"} else {\n"
		"  set terminal png size 1200,%d\n"
		"}\n",
		two ? 900 : 520, two ? 900 : 520);
	fprintf(f, "set output ");
	gp_quote(f, png);
	fprintf(f, "\nset datafile missing '?'\nset key outside right top\nset grid ytics\n");
	/* twelve distinct colours, labyrinth (first) in the boldest */
	static const char *const colours[] = { "#d62728", "#ff9896", "#1f77b4", "#2ca02c",
					       "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
					       "#bcbd22", "#17becf", "#ff7f0e", "#393b79" };
	for (int i = 0; i < 12; i++)
		fprintf(f, "set linetype %d lc rgb '%s' lw 2 pt %d\n", i + 1, colours[i],
			i % 12 + 1);
	if (two)
		fprintf(f, "set multiplot layout 2,1 title 'labyrinth bench'\n");
	if (nclusters) {
		fprintf(f,
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
			"plot for [i=2:%d] ",
			lo / 3, hi * 3, npeers + 1);
		gp_quote(f, bars);
		fprintf(f, " using i:xtic(1) title columnheader(i)\n");
	}
	if (two) {
		fprintf(f,
			"unset logscale y\nunset style\nset style data linespoints\n"
			"set title 'pairs: throughput of all threads (higher is better)'\n"
			"set xlabel 'threads'\nset ylabel 'Mops/s'\nset xtics 1 norotate\n"
			"set autoscale y\nset yrange [0:*]\n"
			"plot for [i=2:%d] ",
			npeers + 1);
		gp_quote(f, pairs);
		fprintf(f, " using 1:i with linespoints lw 2 title columnheader(i)\n"
			   "unset multiplot\n");
	}
	fclose(f);

	char *argv[] = { "gnuplot", script, NULL };
	posix_spawn_file_actions_t fa;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	errno = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno) {
		cli_error("--png needs gnuplot (apt install gnuplot-nox): %s", strerror(errno));
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		cli_error("gnuplot failed on %s", script);
		goto out;
	}
	rc = CLI_OK;
out:
	if (rc)
		cli_error("no plot written to %s", png);
	unlink(bars);
	unlink(pairs);
	if (!rc)
		unlink(script);
	if (!rc)
		rmdir(dir);
	return rc;
}

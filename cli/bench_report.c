/* SPDX-License-Identifier: MIT */
/* labyrinth bench: the rows. Each measurement adds one row per metric: the
 * median of its valid runs, Mops/s, the ratio to the base peer, the scaling
 * over the same peer's fewest threads and the lowest overlap; then the
 * table on stdout, CSV and JSON.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct bench_row *rows;
static size_t nrows, caprows;
/* Per row: the overlap of every run, the counted ones first (the JSON). */
static struct overlaps {
	double *v;
	int n;
} * row_overlaps;

static struct bench_row *add_row(void)
{
	if (nrows == caprows) {
		size_t cap = caprows ? caprows * 2 : 64;
		struct bench_row *r = realloc(rows, cap * sizeof(*r));
		struct overlaps *o = realloc(row_overlaps, cap * sizeof(*o));

		if (!r || !o) {
			perror("labyrinth bench");
			exit(CLI_FAIL);
		}
		rows = r;
		row_overlaps = o;
		caprows = cap;
	}
	memset(&rows[nrows], 0, sizeof(rows[0]));
	rows[nrows].mops = rows[nrows].ratio = rows[nrows].scaling = rows[nrows].overlap = -1;
	row_overlaps[nrows] = (struct overlaps){ NULL, 0 };
	return &rows[nrows++];
}

const struct bench_row *bench_rows(size_t *n)
{
	*n = nrows;
	return rows;
}

size_t bench_rows_mark(void)
{
	return nrows;
}

void bench_rows_reset(size_t mark)
{
	while (nrows > mark)
		free(row_overlaps[--nrows].v);
}

void bench_rows_free(void)
{
	bench_rows_reset(0);
	free(rows);
	free(row_overlaps);
	rows = NULL;
	row_overlaps = NULL;
	caprows = 0;
}

bool bench_row_exists(const char *label, int threads, unsigned long long pages, const char *peer)
{
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].threads == threads && rows[i].pages == pages &&
		    !strcmp(rows[i].workload, label) && !strcmp(rows[i].peer, peer))
			return true;
	return false;
}

/* ---- one measurement's rows ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) and of w[0..n) (n > 0), and v's extremes. */
static double median(const double *v, const double *w, int n, double *min, double *max,
		     double *wmed)
{
	static double s[2 * BENCH_MAX_RUNS];

	memcpy(s, w, (size_t)n * sizeof(*w));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	*wmed = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	*min = s[0];
	*max = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double lowest(const double *v, int n)
{
	double m = INFINITY;

	for (int i = 0; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return n ? m : -1;
}

/* A metric's values over its valid runs, or over every run when too few
 * were valid; the row's status says which. */
static void fill_values(struct bench_row *r, const struct bench_metric *m,
			const struct bench_settings *s)
{
	static double v[2 * BENCH_MAX_RUNS], mops[2 * BENCH_MAX_RUNS];
	struct overlaps *o = &row_overlaps[r - rows];
	int n = m->n;

	o->v = malloc((size_t)(m->n + m->nbad + 1) * sizeof(*o->v));
	if (o->v) {
		memcpy(o->v, m->overlap, (size_t)m->n * sizeof(*o->v));
		memcpy(o->v + m->n, m->bad_overlap, (size_t)m->nbad * sizeof(*o->v));
		o->n = m->n + m->nbad;
	}
	r->invalid_runs = m->nbad;
	memcpy(v, m->v, (size_t)m->n * sizeof(*v));
	memcpy(mops, m->mops, (size_t)m->n * sizeof(*mops));
	if (2 * m->n < s->runs + 1) {
		/* fewer valid runs than half asked: every run, marked invalid */
		memcpy(v + n, m->bad_v, (size_t)m->nbad * sizeof(*v));
		memcpy(mops + n, m->bad_mops, (size_t)m->nbad * sizeof(*mops));
		n += m->nbad;
		snprintf(r->status, sizeof(r->status), "invalid");
		snprintf(r->note, sizeof(r->note), "%d of %d runs invalid: %.200s", m->nbad,
			 m->n + m->nbad, m->bad_note);
		r->overlap = lowest(o->v, o->n);
	} else {
		r->overlap = lowest(m->overlap, m->n);
		if (m->nbad)
			snprintf(r->note, sizeof(r->note), "%d invalid run(s) made again; %.200s",
				 m->nbad, m->note);
	}
	r->runs = n;
	if (!n) {
		snprintf(r->status, sizeof(r->status), "error");
		snprintf(r->note, sizeof(r->note), "no value reported");
		return;
	}
	r->median = median(v, mops, n, &r->min, &r->max, &r->mops);
	if (!(r->mops > 0))
		r->mops = -1;
}

/* Every counted run must have done the same work (unless bounded by time). */
static void check_ops(struct bench_row *r, const struct bench_metric *m, bool timed)
{
	unsigned long long lo = m->n ? m->ops[0] : 0, hi = lo;

	r->ops = lo;
	for (int k = 1; k < m->n; k++) {
		lo = m->ops[k] < lo ? m->ops[k] : lo;
		hi = m->ops[k] > hi ? m->ops[k] : hi;
	}
	if (lo == hi || timed)
		return;
	snprintf(r->status, sizeof(r->status), "error");
	snprintf(r->note, sizeof(r->note), "runs did different work: %llu..%llu operations", lo,
		 hi);
	r->mops = -1;
}

void bench_add_rows(const struct bench_job *job, const char *peer, const struct bench_measure *ms,
		    const struct bench_settings *s)
{
	bool ok = !strcmp(ms->status, "ok");

	if (!ms->nm) {
		struct bench_row *r = add_row();

		snprintf(r->workload, sizeof(r->workload), "%s", job->label);
		r->threads = job->threads;
		r->pages = job->pages;
		snprintf(r->peer, sizeof(r->peer), "%s", peer);
		snprintf(r->status, sizeof(r->status), "%s", ms->status[0] ? ms->status : "error");
		snprintf(r->note, sizeof(r->note), "%s", ms->note);
		return;
	}
	for (int i = 0; i < ms->nm; i++) {
		const struct bench_metric *m = &ms->m[i];
		struct bench_row *r = add_row();

		snprintf(r->workload, sizeof(r->workload), "%s", job->label);
		r->threads = m->threads > 0 ? m->threads : job->threads;
		r->pages = m->pages ? m->pages : job->pages;
		snprintf(r->peer, sizeof(r->peer), "%s", peer);
		snprintf(r->metric, sizeof(r->metric), "%s", m->name);
		snprintf(r->unit, sizeof(r->unit), "%s", m->unit);
		snprintf(r->status, sizeof(r->status), "%s", ms->status);
		snprintf(r->note, sizeof(r->note), "%s", ok ? m->note : ms->note);
		if (!ok)
			continue;
		fill_values(r, m, s);
		if (!strcmp(r->status, "ok"))
			check_ops(r, m, s->duration > 0);
	}
}

/* ---- ratios and scaling ------------------------------------------------------------ */

static bool is_time(const char *unit)
{
	return !strcmp(unit, "ns") || !strcmp(unit, "us") || !strcmp(unit, "ms");
}

static bool same_cell(const struct bench_row *a, const struct bench_row *b)
{
	return a->pages == b->pages && !strcmp(a->workload, b->workload) &&
	       !strcmp(a->metric, b->metric);
}

void bench_finish_rows(const char *base)
{
	for (size_t i = 0; i < nrows; i++) {
		struct bench_row *r = &rows[i];
		const struct bench_row *b = NULL, *few = r;
		bool several = false;

		if (strcmp(r->status, "ok"))
			continue;
		for (size_t j = 0; j < nrows; j++) {
			const struct bench_row *o = &rows[j];

			if (strcmp(o->status, "ok") || !same_cell(o, r))
				continue;
			if (!b && o->threads == r->threads && !strcmp(o->peer, base))
				b = o;
			if (strcmp(o->peer, r->peer))
				continue;
			several |= o->threads != r->threads;
			few = o->threads < few->threads ? o : few;
		}
		if (b && is_time(r->unit))
			r->ratio = b->median > 0 ? r->median / b->median : INFINITY;
		else if (b)
			r->ratio = r->median > 0 ? b->median / r->median : INFINITY;
		if (several && few->mops > 0 && r->mops > 0)
			r->scaling = r->mops / few->mops;
	}
}

int bench_rows_status(void)
{
	for (size_t i = 0; i < nrows; i++)
		if (!strcmp(rows[i].status, "error"))
			return CLI_FAIL;
	return CLI_OK;
}

/* ---- the table ---------------------------------------------------------------------- */

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
	else if (v >= 0.01 || v == 0)
		snprintf(buf, len, "%.3f", v);
	else
		snprintf(buf, len, "%.2g", v);
}

/* 65536 as 64k, 4194304 as 4M. */
static void fmt_rooms(char *buf, size_t len, unsigned long long n)
{
	if (!n)
		snprintf(buf, len, "-");
	else if (n % (1ull << 30) == 0)
		snprintf(buf, len, "%lluG", n >> 30);
	else if (n % (1ull << 20) == 0)
		snprintf(buf, len, "%lluM", n >> 20);
	else if (n % (1ull << 10) == 0)
		snprintf(buf, len, "%lluk", n >> 10);
	else
		snprintf(buf, len, "%llu", n);
}

void bench_print_table(void)
{
	const char *last = "";
	int invalid = 0;

	printf("%-13s %3s %5s %-20s %-10s %10s %-4s %9s %7s %6s %7s  %s\n", "workload", "thr",
	       "rooms", "peer", "metric", "median", "unit", "Mops/s", "ratio", "scale", "overlap",
	       "status");
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		bool ok = !strcmp(r->status, "ok"), shown = ok || !strcmp(r->status, "invalid");
		char med[32] = "-", mops[32] = "-", ratio[32] = "-", scale[32] = "-", ov[32] = "-";
		char rooms[24];

		if (strcmp(last, r->workload) && i)
			printf("\n");
		last = r->workload;
		invalid += !strcmp(r->status, "invalid");
		fmt_rooms(rooms, sizeof(rooms), r->pages);
		if (shown) {
			fmt_num(med, sizeof(med), r->median);
			fmt_num(mops, sizeof(mops), r->mops);
			if (r->overlap >= 0)
				snprintf(ov, sizeof(ov), "%.0f%%", r->overlap);
		}
		if (ok && r->ratio >= 0 && r->ratio < 100)
			snprintf(ratio, sizeof(ratio), "%.2f", r->ratio);
		else if (ok)
			fmt_num(ratio, sizeof(ratio), r->ratio);
		if (ok && r->scaling >= 0)
			snprintf(scale, sizeof(scale), "%.2f", r->scaling);
		printf("%-13s %3d %5s %-20s %-10s %10s %-4s %9s %7s %6s %7s  %s%s%s\n", r->workload,
		       r->threads, rooms, r->peer, r->metric, med, r->unit, mops, ratio, scale, ov,
		       r->status, ok ? "" : ": ", ok ? "" : r->note);
	}
	if (invalid)
		printf("\n%d row(s) invalid: too few runs in which the threads ran at the same time "
		       "(overlap >= 90%%), none kept waiting for a CPU (<= 10%%), for %g ms or more; "
		       "is the "
		       "machine busy?\n",
		       invalid, BENCH_MIN_WINDOW_MS);
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

int bench_write_csv(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return cli_error("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "workload,threads,peer,metric,median,unit,mops_per_s,ratio,status,runs,ops,"
		   "min,max,pages,overlap,scaling,invalid_runs,note\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		bool ok = !strcmp(r->status, "ok") || !strcmp(r->status, "invalid");

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
		fprintf(f, ",%llu,", r->pages);
		csv_num(f, r->overlap);
		fputc(',', f);
		csv_num(f, r->scaling);
		fprintf(f, ",%d,", r->invalid_runs);
		csv_str(f, r->note);
		fputc('\n', f);
	}
	if (fclose(f))
		return cli_error("cannot write %s: %s", path, strerror(errno));
	return CLI_OK;
}

int bench_write_json(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return cli_error("cannot write %s: %s", path, strerror(errno));
	fputs("[\n", f);
	for (size_t i = 0; i < nrows; i++) {
		const struct bench_row *r = &rows[i];
		const struct overlaps *o = &row_overlaps[i];
		bool ok = !strcmp(r->status, "ok") || !strcmp(r->status, "invalid");

		fputs("  {\"workload\": ", f);
		json_str(f, r->workload);
		fprintf(f, ", \"threads\": %d, \"pages\": %llu, \"peer\": ", r->threads, r->pages);
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
		fputs(", \"scaling\": ", f);
		json_num(f, r->scaling, ok);
		fputs(", \"overlap\": ", f);
		json_num(f, r->overlap, ok);
		fputs(", \"overlaps\": [", f);
		for (int k = 0; k < o->n; k++)
			fprintf(f, "%s%.4g", k ? ", " : "", o->v[k]);
		fputs("], \"status\": ", f);
		json_str(f, r->status);
		fprintf(f,
			", \"runs\": %d, \"invalid_runs\": %d, \"ops\": %llu, \"min\": ", r->runs,
			r->invalid_runs, r->ops);
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

/* SPDX-License-Identifier: MIT */
/* labyrinth map: run the scenario (or open a file maze, or attach a shared
 * one), then draw the maze from lab_room_info(): a PNG (libpng) and/or a
 * small ANSI picture in the terminal.
 *
 * PNG layout: a margin of 8 pixels; the maze, one pixel per room and one
 * image line per row of 512 rooms (each drawn 1 to 8 lines tall so that
 * small mazes stay visible); or, past 2048 rows, one pixel per row, --width
 * rows per image line. Below it the legend (colour swatches) and the
 * caption, in a 5x7 bitmap font.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROW_ROOMS 512
#define MAX_ROOM_ROWS 2048 /* beyond this many rows: one pixel per row */
#define MARGIN 8
#define LINE_H (FONT_H + 4)

struct rgb {
	uint8_t r, g, b;
};

static const struct rgb c_free = { 238, 238, 238 }, c_cached = { 255, 214, 64 },
			c_outside = { 64, 64, 64 }, c_back = { 255, 255, 255 },
			c_text = { 20, 20, 20 }, c_frame = { 150, 150, 150 };

static struct rgb hsv(double h, double s, double v)
{
	double c = v * s, hp = h / 60.0, x = c * (1 - fabs(fmod(hp, 2.0) - 1)), m = v - c;
	double r = 0, g = 0, b = 0;

	switch ((int)hp % 6) {
	case 0:
		r = c, g = x;
		break;
	case 1:
		r = x, g = c;
		break;
	case 2:
		g = c, b = x;
		break;
	case 3:
		g = x, b = c;
		break;
	case 4:
		r = x, b = c;
		break;
	default:
		r = c, b = x;
		break;
	}
	return (struct rgb){ (uint8_t)((r + m) * 255), (uint8_t)((g + m) * 255),
			     (uint8_t)((b + m) * 255) };
}

/* The scenario's worker threads (or the owners found in a file or shared
 * maze, in index order), so that they get well-spread hues. */
static const lab_owner_t *known_owners;
static int nknown;

/* A colour per owner thread: a golden-angle hue by its place among the
 * scenario's workers, or one hashed from its id; dark for exclusive. */
static struct rgb owner_rgb(lab_owner_t owner, bool exclusive)
{
	double hue = -1;

	for (int i = 0; i < nknown; i++)
		if (known_owners[i] == owner)
			hue = fmod(200.0 + 137.508 * i, 360.0);
	if (hue < 0) {
		uint32_t h = owner * 2654435761u;

		h ^= h >> 15;
		h *= 0x2c1b3c6du;
		h ^= h >> 12;
		hue = (double)(h % 360);
	}
	/* keep away from the cached yellow (40-65 degrees) */
	if (hue >= 35 && hue < 70)
		hue = hue < 52 ? 30 : 75;
	return hsv(hue, 0.70, exclusive ? 0.50 : 0.92);
}

static struct rgb room_rgb(const struct labyrinth *maze, size_t i)
{
	struct lab_room r;

	if (lab_room_info(maze, i, &r))
		return c_outside;
	if (r.state == LAB_ROOM_CACHED)
		return c_cached;
	if (r.state == LAB_ROOM_ALLOCATED)
		return owner_rgb(r.owner, r.exclusive != 0);
	return c_free;
}

/* The average colour of rooms [a, b). */
static struct rgb span_rgb(const struct labyrinth *maze, size_t a, size_t b, size_t pages)
{
	uint64_t r = 0, g = 0, bl = 0, n = 0;

	if (a >= pages)
		return c_outside;
	if (b > pages)
		b = pages;
	for (size_t i = a; i < b; i++, n++) {
		struct rgb c = room_rgb(maze, i);

		r += c.r;
		g += c.g;
		bl += c.b;
	}
	return (struct rgb){ (uint8_t)(r / n), (uint8_t)(g / n), (uint8_t)(bl / n) };
}

/* ---- an RGB canvas; with px == NULL it only measures ---- */

struct canvas {
	uint8_t *px;
	int w, h;
};

static void put(struct canvas *cv, int x, int y, struct rgb c)
{
	if (!cv->px || x < 0 || y < 0 || x >= cv->w || y >= cv->h)
		return;
	uint8_t *p = cv->px + ((size_t)y * (size_t)cv->w + (size_t)x) * 3;
	p[0] = c.r;
	p[1] = c.g;
	p[2] = c.b;
}

static void box(struct canvas *cv, int x, int y, int w, int h, struct rgb c)
{
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++)
			put(cv, x + i, y + j, c);
}

static int text_w(const char *s)
{
	return (int)strlen(s) * (FONT_W + 1);
}

static void text(struct canvas *cv, int x, int y, const char *s)
{
	for (; *s; s++, x += FONT_W + 1) {
		const uint8_t *g = font_glyph(*s);

		for (int j = 0; j < FONT_H; j++)
			for (int i = 0; i < FONT_W; i++)
				if (g[j] & (0x10 >> i))
					put(cv, x + i, y + j, c_text);
	}
}

/* Text broken at spaces to fit width w; returns the y below it. */
static int text_wrapped(struct canvas *cv, int x, int y, int w, const char *s)
{
	char line[256];
	int cols = w / (FONT_W + 1);

	if (cols < 8)
		cols = 8;
	while (*s) {
		int n = (int)strlen(s), cut = n;

		if (n > cols) {
			cut = cols;
			while (cut > 0 && s[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = cols;
		}
		if (cut >= (int)sizeof(line))
			cut = (int)sizeof(line) - 1;
		memcpy(line, s, (size_t)cut);
		line[cut] = 0;
		text(cv, x, y, line);
		y += LINE_H;
		s += cut;
		while (*s == ' ')
			s++;
	}
	return y;
}

struct legend_item {
	struct rgb a, b; /* a swatch of two halves (a == b for one colour) */
	char label[48];
};

/* Lay out the legend items in lines within width w; returns the y below. */
static int legend(struct canvas *cv, int x0, int y, int w, const struct legend_item *it, int n)
{
	int x = x0;

	for (int i = 0; i < n; i++) {
		int iw = FONT_H + 4 + text_w(it[i].label) + 12;

		if (x > x0 && x + iw - 12 > x0 + w) {
			x = x0;
			y += LINE_H;
		}
		box(cv, x - 1, y - 1, FONT_H + 2, FONT_H + 2, c_frame);
		box(cv, x, y, FONT_H / 2 + 1, FONT_H, it[i].a);
		box(cv, x + FONT_H / 2 + 1, y, FONT_H - FONT_H / 2 - 1, FONT_H, it[i].b);
		text(cv, x + FONT_H + 4, y, it[i].label);
		x += iw;
	}
	return y + LINE_H;
}

struct layout {
	bool per_room;
	size_t rows;   /* rows of the maze */
	int lines;     /* image lines of the maze (before scaling) */
	int per_line;  /* pixels per image line */
	int vscale;    /* image lines per maze line */
	int w, maze_h; /* maze area */
};

static void plan(struct layout *L, size_t pages, int width)
{
	L->rows = (pages + ROW_ROOMS - 1) / ROW_ROOMS;
	L->per_room = L->rows <= MAX_ROOM_ROWS;
	if (L->per_room) {
		L->per_line = ROW_ROOMS;
		L->lines = (int)L->rows;
	} else {
		L->per_line = width;
		L->lines = (int)((L->rows + (size_t)width - 1) / (size_t)width);
	}
	L->vscale = 256 / L->lines;
	L->vscale = L->vscale < 1 ? 1 : L->vscale > 8 ? 8 : L->vscale;
	L->w = L->per_line;
	L->maze_h = L->lines * L->vscale;
}

static void caption_text(const struct scenario *sc, char *a, size_t alen, char *b, size_t blen,
			 const struct layout *L)
{
	const struct lab_stats *s = &sc->st;

	snprintf(a, alen,
		 "FREE %zu OF %zu PAGES (CACHED %zu), HUGE FRAMES %zu, PAGE SIZE %zu B, "
		 "ALLOCATED %zu (EXCLUSIVE %zu)",
		 s->free, s->pages, s->cached, s->huge_free, s->page_size, sc->allocated,
		 sc->exclusive);
	if (sc->source[0] && L->per_room)
		snprintf(b, blen, "%s. ONE PIXEL PER ROOM, ONE LINE PER ROW OF 512", sc->source);
	else if (sc->source[0])
		snprintf(b, blen,
			 "%s. ONE PIXEL PER ROW OF 512 ROOMS (AVERAGE COLOUR), %d ROWS PER LINE",
			 sc->source, L->per_line);
	else if (L->per_room)
		snprintf(b, blen,
			 "%s, %d THREADS, SEED %llu. ONE PIXEL PER ROOM, ONE LINE PER ROW OF 512",
			 sc->opt.workload, sc->opt.threads, (unsigned long long)sc->opt.seed);
	else
		snprintf(b, blen,
			 "%s, %d THREADS, SEED %llu. ONE PIXEL PER ROW OF 512 ROOMS (AVERAGE "
			 "COLOUR), %d ROWS PER LINE",
			 sc->opt.workload, sc->opt.threads, (unsigned long long)sc->opt.seed,
			 L->per_line);
}

static int legend_items(const struct scenario *sc, struct legend_item *it, int max)
{
	int n = 0;
	lab_owner_t o0 = sc->nowners ? sc->owners[0] : 1;

	it[n++] = (struct legend_item){ c_free, c_free, "FREE" };
	it[n++] = (struct legend_item){ c_cached, c_cached, "CACHED (FREE, IN A THREAD CACHE)" };
	it[n++] = (struct legend_item){ owner_rgb(o0, false), owner_rgb(o0, false),
					"ALLOCATED (OWNER COLOUR)" };
	it[n++] = (struct legend_item){ owner_rgb(o0, true), owner_rgb(o0, true),
					"EXCLUSIVE (DARK)" };
	for (int i = 0; i < sc->nowners && n < max - 1; i++) {
		it[n] = (struct legend_item){ owner_rgb(sc->owners[i], false),
					      owner_rgb(sc->owners[i], true), "" };
		snprintf(it[n].label, sizeof(it[n].label), "THREAD %u", sc->owners[i]);
		n++;
		if (i == 15 && sc->nowners > 16) {
			it[n] = (struct legend_item){ c_back, c_back, "" };
			snprintf(it[n].label, sizeof(it[n].label), "+%d MORE", sc->nowners - 16);
			n++;
			break;
		}
	}
	return n;
}

/* Draw everything; with cv->px NULL only measures. Returns the height. */
static int draw(struct canvas *cv, const struct scenario *sc, const struct layout *L)
{
	const struct labyrinth *maze = sc->maze;
	size_t pages = sc->st.pages;
	struct legend_item it[24];
	char a[256], b[256];
	int y, n, w = L->w;

	if (cv->px) {
		box(cv, 0, 0, cv->w, cv->h, c_back);
		box(cv, MARGIN - 1, MARGIN - 1, w + 2, L->maze_h + 2, c_frame);
		for (int line = 0; line < L->lines; line++)
			for (int x = 0; x < L->per_line; x++) {
				struct rgb c;

				if (L->per_room) {
					size_t i = (size_t)line * ROW_ROOMS + (size_t)x;

					c = i < pages ? room_rgb(maze, i) : c_outside;
				} else {
					size_t row = (size_t)line * (size_t)L->per_line + (size_t)x;

					c = span_rgb(maze, row * ROW_ROOMS, (row + 1) * ROW_ROOMS,
						     pages);
				}
				box(cv, MARGIN + x, MARGIN + line * L->vscale, 1, L->vscale, c);
			}
	}
	y = MARGIN + L->maze_h + 8;
	n = legend_items(sc, it, 24);
	y = legend(cv, MARGIN, y, w, it, n);
	y += 4;
	caption_text(sc, a, sizeof(a), b, sizeof(b), L);
	y = text_wrapped(cv, MARGIN, y, w, a);
	y = text_wrapped(cv, MARGIN, y, w, b);
	return y + MARGIN - 4;
}

static int write_png(const char *path, const struct canvas *cv)
{
	FILE *f = fopen(path, "wb");
	png_structp png;
	png_infop info;

	if (!f)
		return cli_error("cannot write %s: %s", path, strerror(errno));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		png_destroy_write_struct(&png, NULL);
		fclose(f);
		return cli_error("libpng: out of memory");
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		fclose(f);
		return cli_error("libpng failed writing %s", path);
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)cv->w, (png_uint_32)cv->h, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < cv->h; y++)
		png_write_row(png, cv->px + (size_t)y * (size_t)cv->w * 3);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	if (fclose(f))
		return cli_error("cannot write %s: %s", path, strerror(errno));
	return CLI_OK;
}

static void ansi_bg(struct rgb c)
{
	printf("\033[48;2;%u;%u;%um", c.r, c.g, c.b);
}

static void draw_ansi(const struct scenario *sc, int width)
{
	size_t pages = sc->st.pages, g, lines;
	struct legend_item it[24];
	char a[256], b[256];
	struct layout L;
	int n;

	g = (pages + (size_t)width * 32 - 1) / ((size_t)width * 32); /* at most 32 lines */
	if (!g)
		g = 1;
	lines = (pages + (size_t)width * g - 1) / ((size_t)width * g);
	printf("maze of %zu rooms, one character per %zu room%s:\n", pages, g, g == 1 ? "" : "s");
	for (size_t line = 0; line < lines; line++) {
		for (int x = 0; x < width; x++) {
			size_t a0 = (line * (size_t)width + (size_t)x) * g;

			ansi_bg(span_rgb(sc->maze, a0, a0 + g, pages));
			putchar(' ');
		}
		printf("\033[0m\n");
	}
	n = legend_items(sc, it, 24);
	for (int i = 0; i < n; i++) {
		ansi_bg(it[i].a);
		putchar(' ');
		ansi_bg(it[i].b);
		putchar(' ');
		printf("\033[0m %s%s", it[i].label, i + 1 < n ? "  " : "\n");
	}
	plan(&L, pages, width);
	caption_text(sc, a, sizeof(a), b, sizeof(b), &L);
	if (sc->source[0])
		printf("%s\n%s\n", a, sc->source);
	else
		printf("%s\n%s, %d threads, seed %llu\n", a, sc->opt.workload, sc->opt.threads,
		       (unsigned long long)sc->opt.seed);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: labyrinth map [OPTIONS]\n"
		"       labyrinth map [-o FILE] [-a] [-W W] MAZEFILE | --shm NAME\n"
		"Runs a scenario on an index-only maze with worker threads that stay alive\n"
		"(their caches full), or opens the file maze MAZEFILE read-only, or attaches\n"
		"the shared maze NAME, and draws the maze from lab_room_info(): one pixel per\n"
		"room and one image line per row of 512 rooms (past 2048 rows: one pixel per\n"
		"row, in the row's average colour). Free, cached, allocated (a colour per owner\n"
		"thread) and exclusive (its dark shade) rooms; a legend; a caption with the\n"
		"free count, huge frames (whole free rows), pages and page size.\n"
		"\n" SCENARIO_HELP
		"  -S, --shm NAME     draw the shared maze NAME (lab_shm_attach, then lab_detach)\n"
		"  -o, --out FILE     write the PNG here (default maze.png unless --ansi)\n"
		"  -a, --ansi         print a small coloured picture in the terminal\n"
		"  -W, --width W      columns of the ANSI picture (default 64); rows per line of\n"
		"                     the PNG when there are too many rooms (default 512)\n"
		"  -h, --help         this help\n");
}

int cmd_map(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "pages", required_argument, NULL, 'p' },
		{ "page-size", required_argument, NULL, 'P' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "ansi", no_argument, NULL, 'a' },
		{ "width", required_argument, NULL, 'W' },
		{ "shm", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scenario_opts o;
	struct scenario sc;
	const char *out = NULL, *shm = NULL, *file;
	bool ansi = false, scen = false;
	int c, rc, width = 0;
	uint64_t v;

	scenario_defaults(&o);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":w:p:P:t:s:o:aW:S:h", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'o':
			if (!*optarg)
				return cli_usage_error("--out wants a file name");
			out = optarg;
			continue;
		case 'a':
			ansi = true;
			continue;
		case 'S':
			shm = optarg;
			continue;
		case 'W':
			if (cli_parse_u64(optarg, 8, 4096, &v))
				return cli_usage_error("--width wants 8..4096, not '%s'", optarg);
			width = (int)v;
			continue;
		}
		rc = scenario_option(&o, c, optarg);
		if (rc == 0)
			return cli_bad_option(argv, c);
		if (rc != 1)
			return rc;
		scen = true;
	}
	rc = maze_source_args(argc, argv, shm, scen, &file);
	if (rc)
		return rc;
	if (!out && !ansi)
		out = "maze.png";

	rc = file || shm ? maze_source_open(&sc, file, shm) : scenario_run(&sc, &o);
	if (rc) {
		scenario_end(&sc);
		return rc;
	}
	known_owners = sc.owners;
	nknown = sc.nowners;
	if (ansi)
		draw_ansi(&sc, width ? width : 64);
	if (out) {
		struct layout L;
		struct canvas cv = { NULL, 0, 0 };

		plan(&L, sc.st.pages, width ? width : 512);
		cv.w = L.w + 2 * MARGIN;
		cv.h = draw(&cv, &sc, &L);
		cv.px = malloc((size_t)cv.w * (size_t)cv.h * 3);
		if (!cv.px) {
			rc = cli_error("out of memory for a %d x %d image", cv.w, cv.h);
		} else {
			draw(&cv, &sc, &L);
			rc = write_png(out, &cv);
			if (!rc)
				printf("labyrinth map: wrote %s: %d x %d pixels, %s, %d line%s of %d "
				       "%s; free %zu of %zu, huge frames %zu%s\n",
				       out, cv.w, cv.h, sc.source[0] ? sc.source : sc.opt.workload,
				       L.lines, L.lines == 1 ? "" : "s", L.per_line,
				       L.per_room ? "rooms" : "rows", sc.st.free, sc.st.pages,
				       sc.st.huge_free, sc.valid ? " (lab_validate FAILED)" : "");
			free(cv.px);
		}
	}
	if (!rc && sc.valid)
		rc = cli_error("lab_validate: %s", sc.why);
	if (sc.attached)
		maze_source_close(&sc);
	else
		scenario_end(&sc);
	return rc;
}

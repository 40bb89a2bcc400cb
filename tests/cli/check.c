/* SPDX-License-Identifier: MIT */
/* lab_cli_check: file checks for the CLI tests.
 *   lab_cli_check png FILE [WIDTH HEIGHT]   decodes the whole PNG with libpng; its size
 *   lab_cli_check csv FILE COLUMNS          RFC 4180 CSV: every record has COLUMNS fields
 * Exit 0 when the file passes, 1 when not (with a message), 2 for bad usage.
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_png(const char *path, long want_w, long want_h)
{
	FILE *f = fopen(path, "rb");
	png_structp png;
	png_infop info;
	png_bytep *rows = NULL;
	png_uint_32 w, h;
	unsigned char sig[8];

	if (!f || fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
		fprintf(stderr, "%s: not a PNG file\n", path);
		return 1;
	}
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info)
		return 1;
	if (setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "%s: libpng could not decode it\n", path);
		return 1;
	}
	png_init_io(png, f);
	png_set_sig_bytes(png, 8);
	png_read_info(png, info);
	w = png_get_image_width(png, info);
	h = png_get_image_height(png, info);
	rows = calloc(h, sizeof(*rows));
	for (png_uint_32 y = 0; rows && y < h; y++)
		rows[y] = malloc(png_get_rowbytes(png, info));
	png_read_image(png, rows);
	png_read_end(png, NULL);
	for (png_uint_32 y = 0; rows && y < h; y++)
		free(rows[y]);
	free(rows);
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	printf("%s: %lu x %lu pixels, decoded\n", path, (unsigned long)w, (unsigned long)h);
	if (w == 0 || h == 0 || (want_w >= 0 && ((long)w != want_w || (long)h != want_h))) {
		fprintf(stderr, "%s: %lu x %lu, expected %ld x %ld\n", path, (unsigned long)w,
			(unsigned long)h, want_w, want_h);
		return 1;
	}
	return 0;
}

static int check_csv(const char *path, long cols)
{
	FILE *f = fopen(path, "r");
	long fields = 1, records = 0, line = 1;
	int c, quoted = 0, at_start = 1;

	if (!f) {
		perror(path);
		return 1;
	}
	while ((c = fgetc(f)) != EOF) {
		if (quoted) {
			if (c == '"') {
				int d = fgetc(f);

				if (d != '"') {
					quoted = 0;
					if (d == EOF)
						break;
					ungetc(d, f);
				}
			} else if (c == '\n') {
				line++;
			}
			continue;
		}
		if (c == '"' && at_start) {
			quoted = 1;
		} else if (c == '"') {
			fprintf(stderr, "%s:%ld: a quote inside an unquoted field\n", path, line);
			return 1;
		} else if (c == ',') {
			fields++;
			at_start = 1;
			continue;
		} else if (c == '\n') {
			if (fields != cols) {
				fprintf(stderr, "%s:%ld: %ld fields, expected %ld\n", path, line,
					fields, cols);
				return 1;
			}
			records++;
			line++;
			fields = 1;
		}
		at_start = c == '\n';
	}
	fclose(f);
	if (quoted || !at_start) {
		fprintf(stderr, "%s: ends inside a record\n", path);
		return 1;
	}
	if (records < 2) {
		fprintf(stderr, "%s: %ld records, want a header and rows\n", path, records);
		return 1;
	}
	printf("%s: %ld records of %ld fields\n", path, records, cols);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "png"))
		return check_png(argv[2], -1, -1);
	if (argc == 5 && !strcmp(argv[1], "png"))
		return check_png(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "csv"))
		return check_csv(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: lab_cli_check png FILE [W H] | csv FILE COLUMNS\n");
	return 2;
}

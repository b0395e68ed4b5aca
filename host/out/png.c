/* FlowPic PNG previews (libpng): log-scaled counts on a white background,
 * size up the y axis (origin at the bottom, as the FlowPic papers draw
 * it), time along x, ticks labelled with a 3x5 digit font. One channel is
 * drawn dark grey, two channels as red (up) and blue (down). */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cuflow/flowpic.h"

/* 3x5 glyphs for 0-9, 's', 'B', '.': 5 rows of 3 bits each. */
static const uint8_t glyph[13][5] = {
	{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
	{7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 3, 6, 3, 6}, {6, 5, 6, 5, 6},
	{0, 0, 0, 0, 2}};

typedef struct canvas {
	uint8_t *px; /* RGB */
	int w, h;
} canvas;

static void put(canvas *c, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
	if (x < 0 || y < 0 || x >= c->w || y >= c->h)
		return;
	uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
	p[0] = r;
	p[1] = g;
	p[2] = b;
}

/* Text of digits, 's', 'B' and '.', 2x scaled, top-left at (x, y). */
static void text(canvas *c, int x, int y, const char *s)
{
	for (; *s; s++, x += 8) {
		int gi = *s >= '0' && *s <= '9' ? *s - '0' : *s == 's' ? 10 : *s == 'B' ? 11 : *s == '.' ? 12 : -1;
		if (gi < 0)
			continue;
		for (int r = 0; r < 5; r++)
			for (int b = 0; b < 3; b++)
				if (glyph[gi][r] >> (2 - b) & 1)
					for (int dy = 0; dy < 2; dy++)
						for (int dx = 0; dx < 2; dx++)
							put(c, x + 2 * b + dx, y + 2 * r + dy, 40, 40, 40);
	}
}

static double pixel_value(const cf_flowpic_image *im, size_t value_bytes, size_t k)
{
	switch (value_bytes) {
	case 2: return ((const uint16_t *)im->pixels)[k];
	case 1: return ((const uint8_t *)im->pixels)[k];
	default: return ((const float *)im->pixels)[k];
	}
}

/* Sum of channel ch over the pool x pool block of display cell (row, col). */
static double cell_value(const cf_flowpic_image *im, size_t vb, int ch, int pool, int row, int col)
{
	int n = (int)im->res;
	double s = 0;
	for (int r = row * pool; r < (row + 1) * pool && r < n; r++)
		for (int c = col * pool; c < (col + 1) * pool && c < n; c++)
			s += pixel_value(im, vb, ((size_t)ch * n + r) * n + c);
	return s;
}

int cf_flowpic_png_write(const char *path, const cf_flowpic_image *im, const cf_flowpic_opts *o, char *errbuf)
{
	/* large images are summed over blocks to about 500 cells a side, so
	 * that single packets stay visible; small ones are scaled up */
	int pool = im->res > 500 ? (int)((im->res + 499) / 500) : 1;
	int n = ((int)im->res + pool - 1) / pool, sc = n >= 400 ? 1 : (400 + n - 1) / n;
	int left = 48, bottom = 28, top = 12, right = 16, side = n * sc;
	canvas c = {NULL, left + side + right, top + side + bottom};
	c.px = malloc((size_t)c.w * c.h * 3);
	if (!c.px) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: out of memory", path);
		return CF_ERR_NOMEM;
	}
	memset(c.px, 255, (size_t)c.w * c.h * 3);
	size_t vb = cf_flowpic_pixel_bytes(o);
	double mx = 0;
	for (uint32_t ch = 0; ch < im->channels; ch++)
		for (int row = 0; row < n; row++)
			for (int col = 0; col < n; col++) {
				double v = cell_value(im, vb, (int)ch, pool, row, col);
				if (v > mx)
					mx = v;
			}
	double lmx = mx > 0 ? log1p(mx) : 1.0;
	for (int row = 0; row < n; row++)
		for (int col = 0; col < n; col++) {
			double u = log1p(cell_value(im, vb, 0, pool, row, col)) / lmx, d = 0;
			if (im->channels == 2)
				d = log1p(cell_value(im, vb, 1, pool, row, col)) / lmx;
			if (u <= 0 && d <= 0)
				continue;
			uint8_t r, g, b;
			if (im->channels == 2) {
				r = (uint8_t)(255 * (1 - d));
				g = (uint8_t)(255 * (1 - (u > d ? u : d)));
				b = (uint8_t)(255 * (1 - u));
			} else {
				r = g = b = (uint8_t)(220 * (1 - u));
			}
			int y0 = top + (n - 1 - row) * sc, x0 = left + col * sc; /* size grows upwards */
			for (int dy = 0; dy < sc; dy++)
				for (int dx = 0; dx < sc; dx++)
					put(&c, x0 + dx, y0 + dy, r, g, b);
		}
	/* axes, 5 ticks each: size 0..1500 B, time 0..D s (or the stretched window) */
	for (int i = -1; i <= side; i++) {
		put(&c, left - 1, top + i, 0, 0, 0);
		put(&c, left + i, top + side, 0, 0, 0);
	}
	char lab[32];
	for (int k = 0; k <= 4; k++) {
		int y = top + side - k * side / 4, x = left + k * side / 4;
		for (int t = 1; t <= 4; t++) {
			put(&c, left - 1 - t, y, 0, 0, 0);
			put(&c, x, top + side + t, 0, 0, 0);
		}
		snprintf(lab, sizeof lab, "%d", 1500 * k / 4);
		text(&c, left - 8 - 8 * (int)strlen(lab), y - 5, lab);
		double secs = o->window_s * k / 4;
		snprintf(lab, sizeof lab, secs == floor(secs) ? "%.0f" : "%.1f", secs);
		text(&c, x - 4 * (int)strlen(lab), top + side + 8, lab);
	}
	text(&c, 4, 0, "B");
	text(&c, c.w - 10, top + side + 8, "s");

	FILE *f = fopen(path, "wb");
	int st = CF_OK;
	png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!f || !png || !info) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: cannot write: %s", path, f ? "libpng failed" : strerror(errno));
		st = f ? CF_ERR_NOMEM : CF_ERR_IO;
	} else if (setjmp(png_jmpbuf(png))) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: libpng failed while writing", path);
		st = CF_ERR_IO;
	} else {
		png_init_io(png, f);
		png_set_IHDR(png, info, (png_uint_32)c.w, (png_uint_32)c.h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
		png_write_info(png, info);
		for (int y = 0; y < c.h; y++)
			png_write_row(png, c.px + (size_t)y * c.w * 3);
		png_write_end(png, NULL);
	}
	if (png)
		png_destroy_write_struct(&png, info ? &info : NULL);
	if (f && fclose(f) != 0 && st == CF_OK) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: write failed", path);
		st = CF_ERR_IO;
	}
	free(c.px);
	return st;
}

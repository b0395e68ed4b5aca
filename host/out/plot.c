/*
 * Small PNG charts for the model commands: learning curves and a
 * confusion matrix, drawn into one RGB buffer and written with libpng.
 * The flowpic previews' writer (host/out/png.c) is bound to FlowPic
 * images, so the RGB writer lives here. Text uses the 5x7 font below
 * (our own table, printable ASCII 32..126, free to reuse), so charts look
 * the same everywhere and need no font library.
 */
#include "cuflow/errbuf.h"
#include "cuflow/plot.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <time.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 5x7 glyphs, one byte a row (top first), bit 4 = leftmost column; an
 * eighth row holds the descenders of g, j, p, q and y. */
static const uint8_t font5x7[95][8] = {
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /*   */
	{0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00}, /* ! */
	{0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
	{0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00}, /* # */
	{0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00}, /* $ */
	{0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00}, /* % */
	{0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00}, /* & */
	{0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' */
	{0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00}, /* ( */
	{0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00}, /* ) */
	{0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00}, /* star */
	{0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00}, /* + */
	{0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* , */
	{0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}, /* - */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00}, /* . */
	{0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00}, /* slash */
	{0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00}, /* 0 */
	{0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* 1 */
	{0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* 2 */
	{0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00}, /* 3 */
	{0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00}, /* 4 */
	{0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00}, /* 5 */
	{0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00}, /* 6 */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00}, /* 7 */
	{0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00}, /* 8 */
	{0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00}, /* 9 */
	{0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* : */
	{0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* ; */
	{0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00}, /* < */
	{0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* = */
	{0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00}, /* > */
	{0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00}, /* ? */
	{0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00}, /* @ */
	{0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* A */
	{0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00}, /* B */
	{0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* C */
	{0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00}, /* D */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00}, /* E */
	{0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* F */
	{0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00}, /* G */
	{0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00}, /* H */
	{0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* I */
	{0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00}, /* J */
	{0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00}, /* K */
	{0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00}, /* L */
	{0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00}, /* M */
	{0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00}, /* N */
	{0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* O */
	{0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00}, /* P */
	{0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00}, /* Q */
	{0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00}, /* R */
	{0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00}, /* S */
	{0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* T */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* U */
	{0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* V */
	{0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00}, /* W */
	{0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00}, /* X */
	{0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x00}, /* Y */
	{0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00}, /* Z */
	{0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00}, /* [ */
	{0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00}, /* backslash */
	{0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00}, /* ] */
	{0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00}, /* _ */
	{0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
	{0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00}, /* a */
	{0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00}, /* b */
	{0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00}, /* c */
	{0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00}, /* d */
	{0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00}, /* e */
	{0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00}, /* f */
	{0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
	{0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* h */
	{0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* i */
	{0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
	{0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00}, /* k */
	{0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00}, /* l */
	{0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11, 0x00}, /* m */
	{0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, /* n */
	{0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00}, /* o */
	{0x00, 0x00, 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
	{0x00, 0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
	{0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00}, /* r */
	{0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e, 0x00}, /* s */
	{0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00}, /* t */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00}, /* u */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00}, /* v */
	{0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00}, /* w */
	{0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00}, /* x */
	{0x00, 0x00, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
	{0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00}, /* z */
	{0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00}, /* { */
	{0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, /* | */
	{0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00}, /* } */
	{0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00}, /* ~ */
};

typedef struct rgb {
	uint8_t r, g, b;
} rgb;

static const rgb WHITE = {255, 255, 255}, INK = {30, 30, 30}, AXIS = {60, 60, 60}, GRID = {228, 228, 228},
                 FAINT = {165, 165, 165};

/* Tableau-10: distinct for most colour-blind readers and on white. */
static const rgb palette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                                {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

/* One image buffer; drawing is clipped to [x0, x1) x [y0, y1). */
typedef struct canvas {
	uint8_t *px;
	int w, h;
	int x0, y0, x1, y1;
} canvas;

#define FONT_W 6 /* advance per character at scale 1 (5 + 1 space) */
#define FONT_H 7 /* above the baseline; descenders go one row lower */

static void put(canvas *c, int x, int y, rgb col)
{
	if (x < c->x0 || y < c->y0 || x >= c->x1 || y >= c->y1)
		return;
	uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
	p[0] = col.r;
	p[1] = col.g;
	p[2] = col.b;
}

static void fill(canvas *c, int x, int y, int w, int h, rgb col)
{
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			put(c, i, j, col);
}

static void unclip(canvas *c)
{
	c->x0 = c->y0 = 0;
	c->x1 = c->w;
	c->y1 = c->h;
}

static int text_w(const char *s, int scale)
{
	size_t n = strlen(s);
	return n ? (int)n * FONT_W * scale - scale : 0;
}

/* Horizontal text has its top-left at (x, y). Vertical text reads bottom
 * to top (turned 90 degrees left) and starts at (x, y) = the bottom-left
 * of its box, which spans x .. x + 7*scale and y - text_w .. y. */
static void text(canvas *c, int x, int y, const char *s, int scale, rgb col, int vertical)
{
	for (int i = 0; s[i]; i++) {
		unsigned ch = (unsigned char)s[i];
		const uint8_t *g = font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
		for (int gy = 0; gy < 8; gy++)
			for (int gx = 0; gx < 5; gx++) {
				if (!(g[gy] >> (4 - gx) & 1))
					continue;
				int u = (i * FONT_W + gx) * scale, v = gy * scale;
				if (vertical)
					fill(c, x + v, y - u - scale, scale, scale, col);
				else
					fill(c, x + u, y + v, scale, scale, col);
			}
	}
}

/* s cut to at most maxchars characters for the 5x7 font: a UTF-8
 * sequence becomes one '?', other unprintable bytes '?', and a cut name
 * ends in '~' so that it is not mistaken for the whole name. */
static void fit(char *dst, size_t cap, const char *s, int maxchars)
{
	size_t n = 0;
	int cut = 0;
	if (maxchars > (int)cap - 1)
		maxchars = (int)cap - 1;
	for (; s && *s; s++) {
		unsigned ch = (unsigned char)*s;
		if ((ch & 0xC0) == 0x80)
			continue; /* UTF-8 continuation byte */
		if ((int)n == maxchars) {
			cut = 1;
			break;
		}
		dst[n++] = ch >= 32 && ch <= 126 ? (char)ch : '?';
	}
	if (cut && n > 0)
		dst[n - 1] = '~';
	dst[n] = '\0';
}

/* A title centred in the band at the top: 2x when it fits, else 1x, cut. */
static void draw_title(canvas *c, const char *title, int band)
{
	char buf[256];
	if (!title || !*title)
		return;
	fit(buf, sizeof buf, title, (int)sizeof buf - 1);
	int scale = text_w(buf, 2) <= c->w - 20 ? 2 : 1;
	if (scale == 1)
		fit(buf, sizeof buf, title, (c->w - 20) / FONT_W);
	text(c, (c->w - text_w(buf, scale)) / 2, (band - FONT_H * scale) / 2, buf, scale, INK, 0);
}

/* A thick (2 px) line, Bresenham. */
static void line(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
	int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1, e = dx + dy;
	for (;;) {
		fill(c, x0, y0, 2, 2, col);
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * e;
		if (e2 >= dy) {
			e += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			e += dx;
			y0 += sy;
		}
	}
}

void cf_plot_series_color(int i, uint8_t out[3])
{
	rgb p = palette[(i % 10 + 10) % 10];
	out[0] = p.r;
	out[1] = p.g;
	out[2] = p.b;
}

/* White to dark blue (matplotlib's "Blues" ends), linear in between. */
void cf_plot_shade(double v, uint8_t out[3])
{
	static const double lo[3] = {247, 251, 255}, hi[3] = {8, 48, 107};
	if (!(v > 0))
		v = 0; /* NaN too */
	if (v > 1)
		v = 1;
	for (int k = 0; k < 3; k++)
		out[k] = (uint8_t)lround(lo[k] + (hi[k] - lo[k]) * v);
}

static rgb shade(double v)
{
	uint8_t p[3];
	cf_plot_shade(v, p);
	return (rgb){p[0], p[1], p[2]};
}

/* libpng reports errors through this, not on stderr: the message ends up
 * in the caller's errbuf. */
typedef struct png_err {
	char msg[128];
} png_err;

static void png_fail(png_structp png, png_const_charp msg)
{
	png_err *e = png_get_error_ptr(png);
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int cf_plot_write_rgb_png(const char *path, const uint8_t *px, int w, int h, char *errbuf)
{
	if (!path || !*path || !px || w < 1 || h < 1) {
		return cf_errf(errbuf, CF_ERR_ARG, "%.300s: nothing to write (no path or an empty image)", path ? path : "(null)");
	}
	size_t n = strlen(path);
	char *tmp = malloc(n + 5);
	if (!tmp)
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.300s: out of memory", path);
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp", 5);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		int st = cf_errf(errbuf, CF_ERR_IO, "%.300s: cannot write: %s", path, strerror(errno));
		free(tmp);
		return st;
	}
	png_err pe = {{0}};
	volatile int st = CF_OK;
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &pe, png_fail, png_warn);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		st = cf_errf(errbuf, CF_ERR_NOMEM, "%.300s: out of memory (libpng)", path);
	} else if (setjmp(png_jmpbuf(png))) {
		/* a failed fwrite arrives here too, as libpng's "Write Error" */
		st = cf_errf(errbuf, CF_ERR_IO, "%.300s: cannot write: %s", path, pe.msg[0] ? pe.msg : "libpng failed");
	} else {
		png_init_io(png, f);
		png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
		png_write_info(png, info);
		for (int y = 0; y < h; y++)
			png_write_row(png, (png_const_bytep)(px + (size_t)y * w * 3));
		png_write_end(png, NULL);
	}
	if (png)
		png_destroy_write_struct(&png, info ? &info : NULL);
	if (fclose(f) != 0 && st == CF_OK)
		st = cf_errf(errbuf, CF_ERR_IO, "%.300s: cannot write: %s", path, strerror(errno));
	if (st == CF_OK && rename(tmp, path) != 0)
		st = cf_errf(errbuf, CF_ERR_IO, "%.300s: cannot rename the .tmp file into place: %s", path,
		             strerror(errno));
	if (st != CF_OK)
		remove(tmp);
	free(tmp);
	return st;
}

/* The image buffer, white. */
static int canvas_open(canvas *c, int w, int h, const char *path, char *errbuf)
{
	c->w = w;
	c->h = h;
	unclip(c);
	c->px = malloc((size_t)w * h * 3);
	if (!c->px) {
		return cf_errf(errbuf, CF_ERR_NOMEM, "%.300s: out of memory for a %dx%d image", path, w, h);
	}
	memset(c->px, 255, (size_t)w * h * 3);
	return CF_OK;
}

static int canvas_write(canvas *c, const char *path, char *errbuf)
{
	int st = cf_plot_write_rgb_png(path, c->px, c->w, c->h, errbuf);
	free(c->px);
	c->px = NULL;
	return st;
}

/* ---- line chart -------------------------------------------------------- */

/* 1, 2 or 5 times a power of ten, the smallest not below raw. */
static double nice_step(double raw)
{
	if (!(raw > 0))
		return 1;
	double e = pow(10, floor(log10(raw))), f = raw / e;
	return (f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10) * e;
}

/* Values a chart can place: beyond +-1e300 the axis arithmetic overflows. */
static int plottable(double v)
{
	return isfinite(v) && fabs(v) <= 1e300;
}

#define LINES_W 800
#define LINES_H 500
#define TITLE_BAND 36
#define MAX_TICKS 16

typedef struct lines_axes {
	int px0, py0, px1, py1; /* plot box, inclusive frame */
	double ylo, yhi;
	int n;
} lines_axes;

enum { PAD = 8 }; /* inner margin so points on the range ends stay clear of the frame */

static int xpix(const lines_axes *a, double k)
{
	if (a->n == 1)
		return (a->px0 + a->px1) / 2;
	return a->px0 + PAD + (int)lround(k * (a->px1 - a->px0 - 2 * PAD) / (a->n - 1));
}

static int ypix(const lines_axes *a, double v)
{
	return a->py1 - PAD - (int)lround((v - a->ylo) / (a->yhi - a->ylo) * (a->py1 - a->py0 - 2 * PAD));
}

/* Tick label of point e (1-based): the epoch number, or with x_ns the
 * point's UTC time of day (with the date when the points span days). */
static void x_label(char *lab, size_t cap, int e, const int64_t *x_ns, int n_points)
{
	if (!x_ns) {
		snprintf(lab, cap, "%d", e);
		return;
	}
	int64_t ns = x_ns[e - 1], sec = ns / 1000000000 - (ns % 1000000000 < 0);
	int64_t frac = ns - sec * 1000000000;
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	int days = (x_ns[n_points - 1] - x_ns[0]) >= 86400000000000ll;
	int sub = n_points > 1 && (x_ns[n_points - 1] - x_ns[0]) / n_points < 1000000000ll;
	if (days)
		snprintf(lab, cap, "%02d-%02d %02d:%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	else if (sub)
		snprintf(lab, cap, "%02d:%02d:%02d.%01d", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(frac / 100000000));
	else
		snprintf(lab, cap, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int lines_png(const char *path, const char *title, const char *xlabel, int n_series, const char *const *names,
                     const double *const *values, int n_points, const int64_t *x_ns, char *errbuf);

int cf_plot_lines_png(const char *path, const char *title, const char *xlabel, int n_series,
                      const char *const *names, const double *const *values, int n_points, char *errbuf)
{
	return lines_png(path, title, xlabel, n_series, names, values, n_points, NULL, errbuf);
}

int cf_plot_series_png(const char *path, const char *title, const char *xlabel, int n_series,
                       const char *const *names, const double *const *values, int n_points, const int64_t *x_ns,
                       char *errbuf)
{
	return lines_png(path, title, xlabel, n_series, names, values, n_points, x_ns, errbuf);
}

static int lines_png(const char *path, const char *title, const char *xlabel, int n_series, const char *const *names,
                     const double *const *values, int n_points, const int64_t *x_ns, char *errbuf)
{
	if (!path || !*path) {
		return cf_errf(errbuf, CF_ERR_ARG, "line chart: no output path");
	}
	if (n_series < 1 || n_points < 1 || !values) {
		return cf_errf(errbuf, CF_ERR_ARG,
		               "%.300s: a line chart needs at least one series and one point (got %d x %d)", path,
		               n_series, n_points);
	}
	for (int s = 0; s < n_series; s++)
		if (!values[s]) {
			return cf_errf(errbuf, CF_ERR_ARG, "%.300s: series %d has no values", path, s + 1);
		}

	/* y range: the plottable values, widened to whole ticks */
	double lo = INFINITY, hi = -INFINITY;
	for (int s = 0; s < n_series; s++)
		for (int k = 0; k < n_points; k++) {
			double v = values[s][k];
			if (plottable(v)) {
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
		}
	if (lo > hi) { /* nothing to plot: still draw empty axes */
		lo = 0;
		hi = 1;
	} else if (hi - lo <= fabs(hi) * 1e-12) { /* flat: a band around it */
		double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
		lo -= d;
		hi += d;
	}
	double step = nice_step((hi - lo) / 5);
	lines_axes a = {0};
	a.n = n_points;
	a.ylo = floor(lo / step + 1e-9) * step;
	a.yhi = ceil(hi / step - 1e-9) * step;
	int nt = (int)lround((a.yhi - a.ylo) / step) + 1;
	if (nt > MAX_TICKS)
		nt = MAX_TICKS;

	/* tick labels with as many digits as the step needs */
	char ylab[MAX_TICKS][40];
	double big = fmax(fabs(a.ylo), fabs(a.yhi));
	int left = 0;
	for (int i = 0; i < nt; i++) {
		double t = a.ylo + i * step;
		if (fabs(t) < step * 1e-6)
			t = 0; /* no "-0.00" */
		if (big >= 1e6 || step < 1e-4) {
			int sig = (int)ceil(log10(big / step)) + 1;
			sig = sig < 2 ? 2 : sig > 12 ? 12 : sig;
			snprintf(ylab[i], sizeof ylab[i], "%.*g", sig, t);
		} else {
			int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
			snprintf(ylab[i], sizeof ylab[i], "%.*f", dec, t);
		}
		int tw = text_w(ylab[i], 1);
		left = tw > left ? tw : left;
	}

	/* legend column on the right, names up to 28 characters */
	char nm[32];
	int namew = 0;
	for (int s = 0; s < n_series; s++) {
		if (names && names[s])
			fit(nm, sizeof nm, names[s], 28);
		else
			snprintf(nm, sizeof nm, "series %d", s + 1);
		int tw = text_w(nm, 1);
		namew = tw > namew ? tw : namew;
	}
	int legend_w = 10 + 20 + 6 + namew + 10;

	a.px0 = 12 + left + 8;
	a.px1 = LINES_W - legend_w - 16;
	a.py0 = TITLE_BAND + 8;
	a.py1 = LINES_H - 46;

	canvas c;
	int st = canvas_open(&c, LINES_W, LINES_H, path, errbuf);
	if (st != CF_OK)
		return st;
	draw_title(&c, title, TITLE_BAND);

	/* y grid, ticks and labels */
	for (int i = 0; i < nt; i++) {
		int y = ypix(&a, a.ylo + i * step);
		fill(&c, a.px0 + 1, y, a.px1 - a.px0 - 1, 1, GRID);
		fill(&c, a.px0 - 4, y, 4, 1, AXIS);
		text(&c, a.px0 - 7 - text_w(ylab[i], 1), y - 3, ylab[i], 1, INK, 0);
	}
	/* x ticks at multiples of a 1/2/5 step, plus epoch 1 when there is room */
	int xstep = (int)nice_step((n_points - 1) / (x_ns ? 6.0 : 8.0));
	xstep = xstep < 1 ? 1 : xstep;
	char lab[32];
	for (int e = xstep > 1 ? 1 : xstep; e <= n_points; e = e < xstep ? xstep : e + xstep) {
		int x = xpix(&a, e - 1);
		if (e == 1 && xstep > 1 && xstep <= n_points && xpix(&a, xstep - 1) - x < (x_ns ? 70 : 28))
			continue;
		fill(&c, x, a.py0 + 1, 1, a.py1 - a.py0 - 1, GRID);
		fill(&c, x, a.py1 + 1, 1, 4, AXIS);
		x_label(lab, sizeof lab, e, x_ns, n_points);
		text(&c, x - text_w(lab, 1) / 2, a.py1 + 8, lab, 1, INK, 0);
	}
	/* frame */
	fill(&c, a.px0, a.py0, a.px1 - a.px0 + 1, 1, AXIS);
	fill(&c, a.px0, a.py1, a.px1 - a.px0 + 1, 1, AXIS);
	fill(&c, a.px0, a.py0, 1, a.py1 - a.py0 + 1, AXIS);
	fill(&c, a.px1, a.py0, 1, a.py1 - a.py0 + 1, AXIS);
	if (xlabel && *xlabel) {
		char xl[128];
		fit(xl, sizeof xl, xlabel, (a.px1 - a.px0) / FONT_W);
		text(&c, (a.px0 + a.px1 - text_w(xl, 1)) / 2, a.py1 + 24, xl, 1, INK, 0);
	}

	/* series, clipped to the inside of the frame; markers where points
	 * are few enough to tell apart, and always on a point with no
	 * neighbour (it would not show otherwise) */
	c.x0 = a.px0 + 1;
	c.y0 = a.py0 + 1;
	c.x1 = a.px1;
	c.y1 = a.py1;
	int markers = (a.px1 - a.px0) / n_points >= 12;
	for (int s = n_series - 1; s >= 0; s--) { /* first series on top */
		rgb col = palette[s % 10];
		const double *v = values[s];
		for (int k = 0; k < n_points; k++) {
			if (!plottable(v[k]))
				continue;
			int x = xpix(&a, k), y = ypix(&a, v[k]);
			int prev = k > 0 && plottable(v[k - 1]), next = k + 1 < n_points && plottable(v[k + 1]);
			if (next)
				line(&c, x, y, xpix(&a, k + 1), ypix(&a, v[k + 1]), col);
			if (markers || (!prev && !next))
				fill(&c, x - 2, y - 2, 6, 6, col);
		}
	}
	unclip(&c);

	/* legend: a swatch and the name per series, "+N more" when they do
	 * not all fit the plot's height */
	int lx = a.px1 + 16, ly = a.py0 + 4, rows = (a.py1 - a.py0 - 8) / 14;
	for (int s = 0; s < n_series; s++) {
		if (s == rows - 1 && n_series > rows) {
			snprintf(nm, sizeof nm, "+%d more", n_series - s);
			text(&c, lx + 26, ly + s * 14, nm, 1, INK, 0);
			break;
		}
		if (names && names[s])
			fit(nm, sizeof nm, names[s], 28);
		else
			snprintf(nm, sizeof nm, "series %d", s + 1);
		int y = ly + s * 14;
		fill(&c, lx, y + 2, 20, 3, palette[s % 10]);
		fill(&c, lx + 8, y, 5, 7, palette[s % 10]);
		text(&c, lx + 26, y, nm, 1, INK, 0);
	}
	return canvas_write(&c, path, errbuf);
}

/* ---- confusion matrix -------------------------------------------------- */

/* n in at most maxw pixels at scale 1: in full, else 1.2k / 12k / 3M, else "". */
static void count_text(char *buf, size_t cap, uint64_t n, int maxw)
{
	snprintf(buf, cap, "%" PRIu64, n);
	if (text_w(buf, 1) <= maxw)
		return;
	static const char unit[] = "kMGTPE";
	double v = (double)n;
	int u = -1;
	while (v >= 999.5 && u < 5) {
		v /= 1000;
		u++;
	}
	if (u < 0) { /* under 1000 and still too wide */
		buf[0] = '\0';
		return;
	}
	if (v < 9.95)
		snprintf(buf, cap, "%.1f%c", v, unit[u]);
	else
		snprintf(buf, cap, "%.0f%c", v, unit[u]);
	if (text_w(buf, 1) > maxw)
		snprintf(buf, cap, "%.0f%c", v, unit[u]);
	if (text_w(buf, 1) > maxw)
		buf[0] = '\0';
}

#define NAME_CHARS 16

int cf_plot_confusion_png(const char *path, const char *title, int C, const char *const *class_names,
                          const uint64_t *counts, char *errbuf)
{
	if (!path || !*path) {
		return cf_errf(errbuf, CF_ERR_ARG, "confusion matrix: no output path");
	}
	if (C < 1 || !counts) {
		return cf_errf(errbuf, CF_ERR_ARG, "%.300s: a confusion matrix needs at least one class (got %d)", path, C);
	}
	/* D classes drawn; past the cap the last one gathers the rest */
	int D = C > CF_PLOT_MAX_CLASSES ? CF_PLOT_MAX_CLASSES : C;
	static const int MAXD = CF_PLOT_MAX_CLASSES;
	uint64_t m[CF_PLOT_MAX_CLASSES * CF_PLOT_MAX_CLASSES] = {0}, row[CF_PLOT_MAX_CLASSES] = {0};
	for (int i = 0; i < C; i++)
		for (int j = 0; j < C; j++) {
			int di = i < D ? i : D - 1, dj = j < D ? j : D - 1;
			m[di * MAXD + dj] += counts[(size_t)i * C + j];
			row[di] += counts[(size_t)i * C + j];
		}

	char names[CF_PLOT_MAX_CLASSES][NAME_CHARS + 8]; /* + room for "other (N)" */
	int namew = 0;
	for (int i = 0; i < D; i++) {
		if (C > D && i == D - 1)
			snprintf(names[i], sizeof names[i], "other (%d)", C - D + 1);
		else if (class_names && class_names[i])
			fit(names[i], NAME_CHARS + 1, class_names[i], NAME_CHARS);
		else
			snprintf(names[i], sizeof names[i], "%d", i);
		int tw = text_w(names[i], 1);
		namew = tw > namew ? tw : namew;
	}

	/* cells shrink as classes grow, but slower than 1/C (within [14, 72]
	 * px), so the image grows with C: ~450 px for 10 classes, ~960 for 60 */
	int cell = (int)(130 / sqrt(D));
	cell = cell < 14 ? 14 : cell > 72 ? 72 : cell;
	int side = cell * D, horiz = namew <= cell - 4; /* column names flat when they all fit */
	int collab_h = horiz ? FONT_H : namew;
	int x0 = 10 + FONT_H + 8 + namew + 8, y0 = TITLE_BAND + 8;
	int right = 16 + 14 + 6 + text_w("1.0", 1) + 12;
	int W = x0 + side + right, H = y0 + side + 8 + collab_h + 10 + FONT_H + 10;
	/* room for a 2x title up to 1000 px (a longer one is cut at 1x) */
	int tw = title && *title ? text_w(title, 2) + 20 : 0;
	tw = tw > 1000 ? 1000 : tw;
	W = W < tw ? tw : W < 260 ? 260 : W;

	canvas c;
	int st = canvas_open(&c, W, H, path, errbuf);
	if (st != CF_OK)
		return st;
	draw_title(&c, title, TITLE_BAND);

	/* counts: one text size for the whole matrix, 2x only when every
	 * count fits at 2x; zeros in grey, left out of small cells where
	 * hundreds of them would only hide the counts that matter */
	char lab[32];
	int sc = cell >= 2 * FONT_H + 12 ? 2 : 1;
	for (int k = 0; k < D * D && sc == 2; k++) {
		snprintf(lab, sizeof lab, "%" PRIu64, m[(k / D) * MAXD + k % D]);
		if (text_w(lab, 2) > cell - 8)
			sc = 1;
	}
	/* cells, a 1 px white gap between them */
	for (int i = 0; i < D; i++)
		for (int j = 0; j < D; j++) {
			uint64_t n = m[i * MAXD + j];
			double v = row[i] ? (double)n / (double)row[i] : 0;
			int cx = x0 + j * cell, cy = y0 + i * cell;
			fill(&c, cx + 1, cy + 1, cell - 1, cell - 1, shade(v));
			if (sc == 2)
				snprintf(lab, sizeof lab, "%" PRIu64, n);
			else
				count_text(lab, sizeof lab, n, cell - 4);
			if (!lab[0] || (n == 0 && cell < 24))
				continue;
			rgb ink = v > 0.5 ? WHITE : n == 0 ? FAINT : INK;
			text(&c, cx + 1 + (cell - 1 - text_w(lab, sc)) / 2, cy + 1 + (cell - 1 - FONT_H * sc) / 2, lab, sc, ink, 0);
		}
	fill(&c, x0, y0 + side, side + 1, 1, AXIS);
	fill(&c, x0, y0, side + 1, 1, AXIS);
	fill(&c, x0, y0, 1, side + 1, AXIS);
	fill(&c, x0 + side, y0, 1, side + 1, AXIS);

	/* class names: rows right-aligned left of the matrix, columns below
	 * (turned to read upwards when they do not fit flat) */
	for (int i = 0; i < D; i++) {
		int mid = i * cell + cell / 2, w = text_w(names[i], 1);
		text(&c, x0 - 6 - w, y0 + mid - 3, names[i], 1, INK, 0);
		if (horiz)
			text(&c, x0 + mid - w / 2, y0 + side + 8, names[i], 1, INK, 0);
		else
			text(&c, x0 + mid - 3, y0 + side + 8 + w, names[i], 1, INK, 1);
	}
	text(&c, x0 + (side - text_w("predicted", 1)) / 2, y0 + side + 8 + collab_h + 10, "predicted", 1, INK, 0);
	text(&c, 10, y0 + (side + text_w("true", 1)) / 2, "true", 1, INK, 1);

	/* colour bar: row share 0 (bottom) to 1 (top) */
	int bx = x0 + side + 16;
	for (int y = 0; y < side; y++)
		fill(&c, bx, y0 + y, 14, 1, shade(1.0 - (double)y / (side > 1 ? side - 1 : 1)));
	fill(&c, bx - 1, y0 - 1, 16, 1, AXIS);
	fill(&c, bx - 1, y0 + side, 16, 1, AXIS);
	fill(&c, bx - 1, y0 - 1, 1, side + 2, AXIS);
	fill(&c, bx + 14, y0 - 1, 1, side + 2, AXIS);
	text(&c, bx + 20, y0, "1.0", 1, INK, 0);
	text(&c, bx + 20, y0 + side - FONT_H, "0", 1, INK, 0);
	return canvas_write(&c, path, errbuf);
}

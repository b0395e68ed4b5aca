/*
 * "flowpic" producer (cuflow/producers.h): FlowPic images of every input
 * file as two tables with the same rows, "index" (cf_flowpic_index) and
 * "images" (one vector column, channels x res x res pixels).
 *
 * One cf_flowpic per instance, fed file by file (cf_flowpic_begin_file,
 * cf_flowpic_add, cf_flowpic_end_file: what cf_flowpic_scan_file does).
 * Its images are borrowed for the callback only, so they are copied into
 * a block of `cap` images allocated at open, and both tables' batches go
 * out together when the block is full and at the end of each file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/flowpic_index.h"
#include "cuflow/producers.h"
#include "produce/produce_internal.h"

enum { T_INDEX, T_IMAGES, N_TABLES };

/* The image block never takes more than this (1500 x 1500 uint16 images:
 * 14 per batch), whatever batch_rows says. */
#define IMAGE_BLOCK_BYTES ((size_t)64 << 20)

typedef struct flowpic_state {
	cf_producer_env env;
	cf_flowpic_opts pic;
	cf_flowpic *fp;
	int reopen;                  /* an end_file failed mid-batch: a fresh cf_flowpic next file */
	cf_labeler *lab;             /* NULL: no labels */
	cf_producer_labels lab_cfg;  /* from_dir only (what cf_produce_labeler_file reads) */
	cf_flowpic_index *idx;
	cf_table_schema *img_schema;
	cf_table_batch img_batch;
	uint8_t *img;                /* cap images */
	size_t img_bytes;
	uint32_t cap, n;             /* images per batch, images held */
	int emit_status;             /* the callback's failure, for end_file */
	int pkt_status;
	cf_flowpic_counters base;    /* the library's counters at begin_file */
	uint64_t dropped;            /* images the labeler left out, this file */
	char err[CF_ERRBUF_SIZE];
} flowpic_state;

static int fail(flowpic_state *s, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(flowpic_state *s, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return st;
}

void cf_flowpic_producer_config_default(cf_flowpic_producer_config *c)
{
	memset(c, 0, sizeof *c);
	cf_flowpic_preset(&c->pic, "official");
	cf_producer_labels_default(&c->labels);
	c->batch_rows = 64;
}

static void flowpic_close(void *state)
{
	flowpic_state *s = state;
	if (!s)
		return;
	cf_flowpic_close(s->fp);
	cf_labeler_close(s->lab);
	cf_flowpic_index_free(s->idx);
	cf_table_batch_free(&s->img_batch);
	cf_table_schema_free(s->img_schema);
	free(s->img);
	free(s);
}

/* Both tables' held rows go out, index first. */
static int flush(flowpic_state *s)
{
	if (!s->n)
		return CF_OK;
	s->img_batch.n_rows = s->n;
	cf_table_batch_set(&s->img_batch, 0, s->img, NULL, NULL);
	int st = s->env.emit(s->env.user, T_INDEX, cf_flowpic_index_batch(s->idx));
	if (st >= 0)
		st = s->env.emit(s->env.user, T_IMAGES, &s->img_batch);
	cf_flowpic_index_reset(s->idx);
	s->n = 0;
	if (st < 0)
		return fail(s, st, "flowpic producer: the output stopped (%s)", cf_status_str(st));
	return CF_OK;
}

/* cf_flowpic's callback: labels as `cuflow flowpic` gives them, then the
 * image's row in both tables. */
static int on_image(void *user, const cf_flowpic_image *im)
{
	flowpic_state *s = user;
	int64_t label = -1;
	const char *name = NULL;
	if (s->lab) {
		cf_label_query q = {im->ip_version, im->proto, im->src_ip, im->dst_ip, im->src_port, im->dst_port,
		                    im->first_ns, im->last_ns};
		int id = cf_labeler_match(s->lab, &q);
		if (id == CF_LABEL_DROP) {
			s->dropped++;
			return CF_OK;
		}
		label = id;
		name = cf_labeler_name(s->lab, (uint32_t)id);
	}
	if (cf_flowpic_index_add(s->idx, im, label, name) < 0)
		return s->emit_status = fail(s, CF_ERR_NOMEM, "flowpic producer: out of memory for the index labels");
	memcpy(s->img + (size_t)s->n * s->img_bytes, im->pixels, s->img_bytes);
	s->n++;
	if (s->n == s->cap) {
		int st = flush(s);
		if (st < 0)
			return s->emit_status = st;
	}
	return CF_OK;
}

static int make_image_schema(flowpic_state *s, const cf_flowpic_opts *o, char *errbuf)
{
	static const int dtype[] = {CF_DTYPE_UINT16, CF_DTYPE_UINT8, CF_DTYPE_FLOAT32};
	static const char *const doc[] = {
		"FlowPic image: packet counts (mod 65536), channel x size row x time column",
		"FlowPic image: packet counts capped at 255, channel x size row x time column",
		"FlowPic image: min(count, 255) / 255, channel x size row x time column",
	};
	uint32_t dims[3] = {cf_flowpic_channels(o), o->res, o->res};
	uint64_t width = (uint64_t)dims[0] * dims[1] * dims[2];
	if (width > CF_COLUMN_WIDTH_MAX) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic producer: %u x %u x %u pixels is over a column's %u", dims[0],
		         dims[1], dims[2], CF_COLUMN_WIDTH_MAX);
		return CF_ERR_ARG;
	}
	int st = cf_table_schema_create(&s->img_schema, errbuf);
	if (st == CF_OK)
		st = cf_table_schema_add(s->img_schema, "image", dtype[o->value], (uint32_t)width,
		                         o->value == CF_FLOWPIC_NORM ? "" : "packets", doc[o->value], 0, errbuf);
	if (st == CF_OK)
		st = cf_table_schema_set_shape(s->img_schema, 0, 3, dims, errbuf);
	if (st == CF_OK)
		st = cf_table_batch_init(&s->img_batch, s->img_schema, 0);
	return st;
}

static int flowpic_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	const cf_flowpic_producer_config *c = config;
	*state = NULL;
	if (!c || !env || !env->emit) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic producer: a config and an emit function are required");
		return CF_ERR_ARG;
	}
	if (c->batch_rows == 0 || c->batch_rows > (1u << 24)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic producer: batch_rows must be 1..2^24");
		return CF_ERR_ARG;
	}
	flowpic_state *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic producer: out of memory");
		return CF_ERR_NOMEM;
	}
	s->env = *env;
	s->pic = c->pic;
	cf_producer_labels_default(&s->lab_cfg);
	s->lab_cfg.from_dir = c->labels.from_dir;
	int st = cf_flowpic_open(&c->pic, env->backend, on_image, s, &s->fp, errbuf);
	if (st == CF_OK)
		st = make_image_schema(s, &c->pic, errbuf);
	if (st == CF_OK)
		st = cf_produce_labeler_open(&c->labels, &s->lab, errbuf);
	if (st == CF_OK) {
		s->img_bytes = (size_t)cf_flowpic_channels(&c->pic) * c->pic.res * c->pic.res * cf_flowpic_pixel_bytes(&c->pic);
		size_t fit = IMAGE_BLOCK_BYTES / s->img_bytes;
		s->cap = fit < 1 ? 1 : fit < c->batch_rows ? (uint32_t)fit : c->batch_rows;
		st = cf_flowpic_index_create(s->cap, (s->lab ? CF_FLOWPIC_INDEX_LABELS : 0) |
		                                     (c->pic.augment != CF_FLOWPIC_AUGMENT_NONE && c->pic.augment_copies
		                                          ? CF_FLOWPIC_INDEX_AUGMENT : 0), &s->idx, errbuf);
	}
	if (st == CF_OK && !(s->img = malloc((size_t)s->cap * s->img_bytes))) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic producer: out of memory for %u images", s->cap);
		st = CF_ERR_NOMEM;
	}
	if (st != CF_OK) {
		flowpic_close(s);
		return st;
	}
	*state = s;
	return CF_OK;
}

static uint32_t flowpic_tables(void *state)
{
	(void)state;
	return N_TABLES;
}

static const char *flowpic_table_name(void *state, uint32_t t)
{
	(void)state;
	return t == T_INDEX ? "index" : t == T_IMAGES ? "images" : NULL;
}

static const cf_table_schema *flowpic_schema(void *state, uint32_t t)
{
	flowpic_state *s = state;
	return t == T_INDEX ? cf_flowpic_index_schema(s->idx) : t == T_IMAGES ? s->img_schema : NULL;
}

/* As cf_flowpic_scan_file: the outer headers. */
static void flowpic_decode_opts(void *state, cf_decode_opts *d)
{
	(void)state;
	d->decap = CF_DECAP_NONE;
}

static int flowpic_begin_file(void *state, const cf_producer_file *file)
{
	flowpic_state *s = state;
	s->err[0] = 0;
	if (s->reopen) {
		/* the failed file's image batch may still be half emitted */
		cf_flowpic_close(s->fp);
		s->fp = NULL;
		int st = cf_flowpic_open(&s->pic, s->env.backend, on_image, s, &s->fp, s->err);
		if (st < 0)
			return st;
		s->reopen = 0;
	}
	s->emit_status = s->pkt_status = CF_OK;
	s->dropped = 0;
	s->n = 0; /* rows a failed file left behind */
	cf_flowpic_index_reset(s->idx);
	cf_produce_labeler_file(s->lab, &s->lab_cfg, file->path);
	cf_flowpic_counters_get(s->fp, &s->base);
	cf_flowpic_begin_file(s->fp);
	return CF_OK;
}

static int flowpic_packets(void *state, const cf_pkt *p, size_t n)
{
	flowpic_state *s = state;
	if (!s->fp)
		return fail(s, CF_ERR_ARG, "flowpic producer: no instance (its reopen failed)");
	int st = cf_flowpic_add(s->fp, p, n);
	if (st < 0) {
		fail(s, st, "%s", cf_flowpic_error(s->fp));
		s->pkt_status = st;
	}
	return st;
}

static int flowpic_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	flowpic_state *s = state;
	if (ids_used)
		*ids_used = 0;
	if (s->pkt_status < 0)
		return s->pkt_status;
	if (!s->fp)
		return fail(s, CF_ERR_ARG, "flowpic producer: no instance (its reopen failed)");
	int st = cf_flowpic_end_file(s->fp, scan);
	if (st < 0) {
		s->reopen = 1;
		if (s->emit_status < 0) /* our own message */
			return s->emit_status;
		return fail(s, st, "%s", cf_flowpic_error(s->fp));
	}
	return flush(s);
}

static uint32_t flowpic_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	flowpic_state *s = state;
	cf_flowpic_counters c = s->base, b = s->base;
	if (s->fp)
		cf_flowpic_counters_get(s->fp, &c);
#define C(f) {#f, c.f - b.f}
	const cf_producer_counter all[] = {
		C(packets), C(skipped_decode), C(not_used), C(after_window), C(sessions), C(windows),
		C(windows_small), C(windows_short), C(images), C(entries), C(entries_outside), C(batches),
		{"images_unlabelled_dropped", s->dropped},
	};
#undef C
	uint32_t n = (uint32_t)(sizeof all / sizeof all[0]);
	for (uint32_t i = 0; i < n && i < cap; i++)
		out[i] = all[i];
	return n;
}

static const char *flowpic_error(void *state)
{
	return state ? ((flowpic_state *)state)->err : "";
}

static const cf_producer_ops ops = {
	.name = "flowpic",
	.flags = 0,
	.open = flowpic_open,
	.tables = flowpic_tables,
	.table_name = flowpic_table_name,
	.schema = flowpic_schema,
	.decode_opts = flowpic_decode_opts,
	.begin_file = flowpic_begin_file,
	.packets = flowpic_packets,
	.end_file = flowpic_end_file,
	.counters = flowpic_counters,
	.error = flowpic_error,
	.close = flowpic_close,
};

const cf_producer_ops *cf_producer_flowpic(void)
{
	return &ops;
}

/*
 * The "summary" producer: one row per input with what the scan counted
 * (`cuflow info`'s per-file numbers): an inventory of a capture archive as
 * a table. It needs no packets of its own: the scan adds the summary up on
 * the host as it batches, and end_file turns it into a row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/producers.h"


struct summary_prod {
	cf_producer_env env;
	cf_table_schema *schema;
	cf_table_batch batch;
	/* one row's arrays */
	int32_t off_in[2], off_status[2], off_err[2], off_fmt[2], off_comp[2];
	char text[4096 + CF_ERRBUF_SIZE + 64];
	uint64_t packets, captured, wire;
	int64_t first, last, duration;
	uint64_t layer[CF_SUMMARY_LAYERS], skip[CF_SKIP_COUNT];
	const char *path;
	char err[CF_ERRBUF_SIZE];
};

void cf_summary_producer_config_default(cf_summary_producer_config *c)
{
	memset(c, 0, sizeof *c);
}

static void sp_close(void *state)
{
	struct summary_prod *p = state;
	if (!p)
		return;
	cf_table_batch_free(&p->batch);
	cf_table_schema_free(p->schema);
	free(p);
}

static int sp_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	(void)config;
	*state = NULL;
	struct summary_prod *p = calloc(1, sizeof *p);
	if (!p || cf_table_schema_create(&p->schema, errbuf) != CF_OK) {
		free(p);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	p->env = *env;
	cf_table_schema *s = p->schema;
	int st = 0;
	st |= cf_table_schema_add(s, "input", CF_DTYPE_STRING, 1, "", "the input as the run names it", 0, errbuf);
	st |= cf_table_schema_add(s, "status", CF_DTYPE_STRING, 1, "", "ok, or the error kind that stopped the file", 0,
	                          errbuf);
	st |= cf_table_schema_add(s, "error", CF_DTYPE_STRING, 1, "", "the message naming the byte offset, \"\" when ok", 0,
	                          errbuf);
	st |= cf_table_schema_add(s, "format", CF_DTYPE_STRING, 1, "", "pcap, pcapng, snoop, ... (\"\" when unreadable)", 0,
	                          errbuf);
	st |= cf_table_schema_add(s, "compression", CF_DTYPE_STRING, 1, "", "none, gzip, zstd, lz4, xz", 0, errbuf);
	st |= cf_table_schema_add(s, "packets", CF_DTYPE_UINT64, 1, "packets", "frames read", 0, errbuf);
	st |= cf_table_schema_add(s, "captured_bytes", CF_DTYPE_UINT64, 1, "bytes", "sum of captured lengths", 0, errbuf);
	st |= cf_table_schema_add(s, "wire_bytes", CF_DTYPE_UINT64, 1, "bytes", "sum of original lengths", 0, errbuf);
	st |= cf_table_schema_add(s, "first_ns", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "earliest frame (0 without frames)", 0,
	                          errbuf);
	st |= cf_table_schema_add(s, "last_ns", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "latest frame (0 without frames)", 0, errbuf);
	st |= cf_table_schema_add(s, "duration_ns", CF_DTYPE_INT64, 1, "ns", "last_ns - first_ns", 0, errbuf);
	char name[64], doc[128];
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++) {
		snprintf(name, sizeof name, "frames_%s", cf_layer_name(i));
		snprintf(doc, sizeof doc, "frames with a %s header anywhere in the chain", cf_layer_name(i));
		st |= cf_table_schema_add(s, name, CF_DTYPE_UINT64, 1, "packets", doc, 0, errbuf);
	}
	for (int i = 0; i < CF_SKIP_COUNT; i++) {
		snprintf(name, sizeof name, "skipped_%s", i ? cf_skip_name(i) : "none");
		snprintf(doc, sizeof doc, i ? "frames not decoded: %s" : "frames decoded to an IP 5-tuple%s", i ? cf_skip_name(i) : "");
		st |= cf_table_schema_add(s, name, CF_DTYPE_UINT64, 1, "packets", i ? doc : "frames decoded to an IP 5-tuple",
		                          0, errbuf);
	}
	if (st || cf_table_batch_init(&p->batch, s, 1) != CF_OK) {
		sp_close(p);
		return st ? CF_ERR_ARG : CF_ERR_NOMEM;
	}
	*state = p;
	return CF_OK;
}

static uint32_t sp_tables(void *state)
{
	(void)state;
	return 1;
}

static const char *sp_table_name(void *state, uint32_t t)
{
	(void)state;
	return t ? NULL : "summary";
}

static const cf_table_schema *sp_schema(void *state, uint32_t t)
{
	struct summary_prod *p = state;
	return t ? NULL : p->schema;
}

static int sp_begin_file(void *state, const cf_producer_file *f)
{
	struct summary_prod *p = state;
	p->path = f->path;
	return CF_OK;
}

static int sp_packets(void *state, const cf_pkt *pk, size_t n)
{
	(void)state, (void)pk, (void)n;
	return CF_OK; /* the scan counts them */
}

/* A string column of one row: offsets into p->text. */
static size_t put_text(struct summary_prod *p, size_t at, int32_t *off, const char *v)
{
	size_t n = strlen(v);
	if (at + n > sizeof p->text)
		n = sizeof p->text - at;
	memcpy(p->text + at, v, n);
	off[0] = (int32_t)at;
	off[1] = (int32_t)(at + n);
	return at + n;
}

static int sp_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	struct summary_prod *p = state;
	*ids_used = 0;
	const cf_summary *s = &scan->summary;
	size_t at = 0;
	at = put_text(p, at, p->off_in, p->path);
	at = put_text(p, at, p->off_status, scan->status < 0 ? cf_status_str(scan->status) : "ok");
	at = put_text(p, at, p->off_err, scan->status < 0 ? scan->error : "");
	at = put_text(p, at, p->off_fmt, scan->opened ? cf_format_name(scan->info.format) : "");
	put_text(p, at, p->off_comp, scan->opened ? cf_compression_name(scan->info.compression) : "");
	p->packets = s->packets, p->captured = s->captured_bytes, p->wire = s->wire_bytes;
	p->first = s->packets ? s->first_ns : 0;
	p->last = s->packets ? s->last_ns : 0;
	p->duration = p->last - p->first;
	memcpy(p->layer, s->layer, sizeof p->layer);
	memcpy(p->skip, s->skip, sizeof p->skip);
	const uint8_t *t = (const uint8_t *)p->text;
	uint32_t c = 0;
	cf_table_batch_set(&p->batch, c++, p->off_in, t, NULL);
	cf_table_batch_set(&p->batch, c++, p->off_status, t, NULL);
	cf_table_batch_set(&p->batch, c++, p->off_err, t, NULL);
	cf_table_batch_set(&p->batch, c++, p->off_fmt, t, NULL);
	cf_table_batch_set(&p->batch, c++, p->off_comp, t, NULL);
	cf_table_batch_set(&p->batch, c++, &p->packets, NULL, NULL);
	cf_table_batch_set(&p->batch, c++, &p->captured, NULL, NULL);
	cf_table_batch_set(&p->batch, c++, &p->wire, NULL, NULL);
	cf_table_batch_set(&p->batch, c++, &p->first, NULL, NULL);
	cf_table_batch_set(&p->batch, c++, &p->last, NULL, NULL);
	cf_table_batch_set(&p->batch, c++, &p->duration, NULL, NULL);
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		cf_table_batch_set(&p->batch, c++, &p->layer[i], NULL, NULL);
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		cf_table_batch_set(&p->batch, c++, &p->skip[i], NULL, NULL);
	int st = p->env.emit(p->env.user, 0, &p->batch);
	if (st < 0)
		snprintf(p->err, sizeof p->err, "the row could not be handed on");
	return st < 0 ? st : CF_OK;
}

static uint32_t sp_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	(void)state, (void)out, (void)cap;
	return 0; /* the row is the count */
}

static const char *sp_error(void *state)
{
	return ((struct summary_prod *)state)->err;
}

static const cf_producer_ops summary_ops = {
	.name = "summary",
	.open = sp_open,
	.tables = sp_tables,
	.table_name = sp_table_name,
	.schema = sp_schema,
	.begin_file = sp_begin_file,
	.packets = sp_packets,
	.end_file = sp_end_file,
	.counters = sp_counters,
	.error = sp_error,
	.close = sp_close,
};

const cf_producer_ops *cf_producer_summary(void)
{
	return &summary_ops;
}

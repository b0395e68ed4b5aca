/*
 * "netml" producer (cuflow/producers.h): netml's feature matrices of every
 * input file, one table per selected type.
 *
 * netml's quantiles are per capture, so each file gets a fresh cf_netml;
 * its packets are held until end_file, which finishes it, labels it and
 * computes each type's rows in blocks of batch_rows (cf_netml_table).
 * A label CSV is loaded once, at open, into a labeler (netml's tuple
 * matching, cf_netml_label_csv's) that labels every file.
 * The row width is fixed for the whole run by the config's dim (netml's
 * per-file dimension would give each file its own width), so the schemas
 * are known at open: they are taken from a cf_netml_table of a one-row
 * stand-in capture, which is the same code that writes the real rows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/netml_table.h"
#include "cuflow/producers.h"

typedef struct netml_state {
	cf_producer_env env;
	cf_netml_opts opts;          /* fixed_dim = the config's dim */
	int fft, header, labels;
	cf_labeler *labeler;         /* the config's labels_csv, NULL: none */
	int have_label;
	int64_t label;
	uint32_t batch_rows;
	uint32_t ntables;
	int types[CF_NETML_TYPE_COUNT];
	cf_table_schema *schema[CF_NETML_TYPE_COUNT];
	cf_netml *h;                 /* the current file's, between begin_file and end_file */
	int pkt_status;              /* a negative packets() status, kept for end_file */
	cf_netml_counters c;         /* the last file's, once its cf_netml is closed */
	uint64_t files_no_data;
	char err[CF_ERRBUF_SIZE];
} netml_state;

static int fail(netml_state *s, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(netml_state *s, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return st;
}

void cf_netml_producer_config_default(cf_netml_producer_config *c)
{
	memset(c, 0, sizeof *c);
	cf_netml_opts_default(&c->netml);
	c->batch_rows = 4096;
}

static void netml_close(void *state)
{
	netml_state *s = state;
	if (!s)
		return;
	cf_netml_close(s->h);
	for (uint32_t t = 0; t < s->ntables; t++)
		cf_table_schema_free(s->schema[t]);
	cf_labeler_close(s->labeler);
	free(s);
}

/* The schemas: one cf_netml_table per type over a stand-in capture of one
 * UDP flow of two packets (one subflow), with the run's fixed dim. The
 * schema depends on type, fft, header, labels and dim only. */
static int make_schemas(netml_state *s, char *errbuf)
{
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.fixed_dim = s->opts.fixed_dim;
	cf_netml *h = NULL;
	int st = cf_netml_open(&o, &h, errbuf);
	for (int i = 0; st == CF_OK && i < 2; i++) {
		cf_pkt p;
		memset(&p, 0, sizeof p);
		p.ts_ns = (int64_t)i * 1000000000;
		p.caplen = p.wirelen = 60;
		p.linktype = 1;
		p.ip_version = 4;
		p.proto = 17;
		p.ttl = 64;
		p.sport = 1024;
		p.dport = 53;
		p.src_ip[0] = 10;
		p.dst_ip[0] = 10;
		p.dst_ip[3] = 1;
		st = cf_netml_add(h, &p);
	}
	if (st == CF_OK && (st = cf_netml_finish(h)) != CF_OK)
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml producer: schema: %s", cf_netml_error(h));
	for (uint32_t t = 0; st == CF_OK && t < s->ntables; t++) {
		cf_netml_table *tb = NULL;
		st = cf_netml_table_create(h, s->types[t], s->fft, s->header, s->labels, 1, &tb, errbuf);
		if (st == CF_OK)
			st = cf_table_schema_clone(cf_netml_table_schema(tb), &s->schema[t], errbuf);
		cf_netml_table_free(tb);
	}
	cf_netml_close(h);
	return st;
}

static int netml_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	const cf_netml_producer_config *c = config;
	*state = NULL;
	const char *bad = NULL;
	if (!c || !env || !env->emit)
		bad = "a config and an emit function are required";
	else if (c->dim == 0)
		bad = "set dim (the feature dimension used for every file): netml's own dimension is a "
		      "quantile of each file's subflow sizes, which would give each file its own row width";
	else if (c->dim == 1)
		bad = "dim must be at least 2 (IAT rows have dim - 1 columns)";
	else if (c->types >> CF_NETML_TYPE_COUNT)
		bad = "types has bits past the last type";
	else if (c->batch_rows == 0 || c->batch_rows > (1u << 24))
		bad = "batch_rows must be 1..2^24";
	else if (c->labels_csv && c->have_label)
		bad = "labels_csv and have_label exclude each other";
	if (bad) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml producer: %s", bad);
		return CF_ERR_ARG;
	}
	netml_state *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml producer: out of memory");
		return CF_ERR_NOMEM;
	}
	s->env = *env;
	s->opts = c->netml;
	s->opts.fixed_dim = c->dim;
	s->fft = c->fft != 0;
	s->header = c->header != 0;
	s->have_label = c->have_label != 0;
	s->label = c->label;
	s->labels = c->labels_csv || s->have_label;
	s->batch_rows = c->batch_rows;
	uint32_t mask = c->types ? c->types : (1u << CF_NETML_TYPE_COUNT) - 1;
	for (int t = 0; t < CF_NETML_TYPE_COUNT; t++)
		if (mask & (1u << t))
			s->types[s->ntables++] = t;
	/* the options themselves are checked by netml */
	cf_netml *probe = NULL;
	int st = cf_netml_open(&s->opts, &probe, errbuf);
	cf_netml_close(probe);
	if (st == CF_OK && c->labels_csv) {
		/* once for every file (a CIC CSV can be hundreds of MB); its
		 * errors come here rather than at the first file */
		cf_label_opts lo;
		cf_label_opts_default(&lo);
		lo.match = CF_LABEL_MATCH_TUPLE_DIRECTIONAL;
		char e[CF_ERRBUF_SIZE] = "";
		if ((st = cf_labeler_open_csv(c->labels_csv, &lo, &s->labeler, e)) < 0)
			snprintf(errbuf, CF_ERRBUF_SIZE, "netml producer: %s", e);
	}
	if (st == CF_OK)
		st = make_schemas(s, errbuf);
	if (st != CF_OK) {
		netml_close(s);
		return st;
	}
	*state = s;
	return CF_OK;
}

static uint32_t netml_tables(void *state)
{
	return ((netml_state *)state)->ntables;
}

static const char *netml_table_name(void *state, uint32_t t)
{
	netml_state *s = state;
	return t < s->ntables ? cf_netml_type_name(s->types[t]) : NULL;
}

static const cf_table_schema *netml_schema(void *state, uint32_t t)
{
	netml_state *s = state;
	return t < s->ntables ? s->schema[t] : NULL;
}

/* As cf_netml_scan_file: netml reads the outer headers. */
static void netml_decode_opts(void *state, cf_decode_opts *d)
{
	(void)state;
	d->decap = CF_DECAP_NONE;
}

static int netml_begin_file(void *state, const cf_producer_file *file)
{
	netml_state *s = state;
	(void)file;
	cf_netml_close(s->h);
	s->h = NULL;
	s->err[0] = 0;
	s->pkt_status = CF_OK;
	s->files_no_data = 0;
	memset(&s->c, 0, sizeof s->c);
	return cf_netml_open(&s->opts, &s->h, s->err);
}

static int netml_packets(void *state, const cf_pkt *p, size_t n)
{
	netml_state *s = state;
	if (!s->h)
		return fail(s, CF_ERR_ARG, "netml producer: packets before begin_file");
	for (size_t i = 0; i < n; i++) {
		int st = cf_netml_add(s->h, &p[i]);
		if (st < 0) {
			fail(s, st, "%s", cf_netml_error(s->h));
			return s->pkt_status = st;
		}
	}
	return CF_OK;
}

/* One type's rows, block by block, to table t. */
static int emit_type(netml_state *s, uint32_t t)
{
	cf_netml *h = s->h;
	uint64_t rows = cf_netml_rows(h);
	cf_netml_table *tb = NULL;
	char e[CF_ERRBUF_SIZE];
	int st = cf_netml_table_create(h, s->types[t], s->fft, s->header, s->labels, s->batch_rows, &tb, e);
	if (st != CF_OK)
		return fail(s, st, "%s", e);
	for (uint64_t r = 0; r < rows && st == CF_OK; r += s->batch_rows) {
		uint32_t n = (uint32_t)(rows - r < s->batch_rows ? rows - r : s->batch_rows);
		const cf_table_batch *b;
		if ((st = cf_netml_table_fill(tb, s->env.backend, r, n, &b)) != CF_OK)
			fail(s, st, "%s", cf_netml_error(h));
		else if ((st = s->env.emit(s->env.user, t, b)) < 0)
			fail(s, st, "netml producer: the output of table %s stopped (%s)", cf_netml_type_name(s->types[t]),
			     cf_status_str(st));
	}
	cf_netml_table_free(tb);
	return st;
}

/* The file's rows. Where netml has none, or would crash (its
 * CF_ERR_NO_DATA: no flow survives, a zero interval or SAMP width with
 * gaps, no subflow in the label file), *no_data is set and nothing goes
 * out: all of that is known before the first row is emitted. */
static int file_rows(netml_state *s, int *no_data)
{
	cf_netml *h = s->h;
	char e[CF_ERRBUF_SIZE] = "";
	int st = cf_netml_finish(h);
	if (st == CF_OK && s->labeler) {
		if ((st = cf_netml_label_with(h, s->labeler, e)) < 0 && st != CF_ERR_NO_DATA)
			return fail(s, st, "netml producer: %s", e);
	} else if (st == CF_OK && s->have_label) {
		cf_netml_label_constant(h, s->label);
	}
	for (uint32_t t = 0; st == CF_OK && t < s->ntables; t++)
		st = cf_netml_features(h, NULL, s->types[t], s->fft, s->header, 0, 0, NULL); /* checks only */
	if (st == CF_ERR_NO_DATA) {
		*no_data = 1;
		return CF_OK;
	}
	if (st < 0)
		return fail(s, st, "%s", cf_netml_error(h));
	for (uint32_t t = 0; t < s->ntables; t++)
		if ((st = emit_type(s, t)) < 0)
			return st;
	return CF_OK;
}

static int netml_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	netml_state *s = state;
	if (ids_used)
		*ids_used = 0;
	if (!s->h)
		return fail(s, CF_ERR_ARG, "netml producer: end_file without begin_file");
	int st = s->pkt_status, no_data = 0;
	if (st == CF_OK && !(scan && !scan->opened)) /* a file that did not open: the scan's error */
		st = file_rows(s, &no_data);
	s->files_no_data = (uint64_t)no_data;
	cf_netml_counters_get(s->h, &s->c);
	cf_netml_close(s->h); /* its packets are no longer needed */
	s->h = NULL;
	return st;
}

static uint32_t netml_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	netml_state *s = state;
	cf_netml_counters c = s->c;
	if (s->h)
		cf_netml_counters_get(s->h, &c);
#define C(f) {#f, c.f}
	const cf_producer_counter all[] = {
		C(packets), C(skipped_decode), C(not_tcp_udp), C(kept), C(ipv6_pseudo), C(flows),
		C(pkts_small_flow), C(pkts_timeout_tail), C(pkts_small_chunk), C(chunks), C(pkts_interval_tail),
		C(pkts_small_subflow), C(pkts_unlabelled), C(subflows_unlabelled), C(subflows), C(pkts_in_rows),
		{"files_no_data", s->files_no_data},
	};
#undef C
	uint32_t n = (uint32_t)(sizeof all / sizeof all[0]);
	for (uint32_t i = 0; i < n && i < cap; i++)
		out[i] = all[i];
	return n;
}

static const char *netml_error(void *state)
{
	return state ? ((netml_state *)state)->err : "";
}

static const cf_producer_ops ops = {
	.name = "netml",
	.flags = 0,
	.open = netml_open,
	.tables = netml_tables,
	.table_name = netml_table_name,
	.schema = netml_schema,
	.decode_opts = netml_decode_opts,
	.begin_file = netml_begin_file,
	.packets = netml_packets,
	.end_file = netml_end_file,
	.counters = netml_counters,
	.error = netml_error,
	.close = netml_close,
};

const cf_producer_ops *cf_producer_netml(void)
{
	return &ops;
}

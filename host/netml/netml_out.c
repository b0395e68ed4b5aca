/*
 * netml's output directory (cuflow/netml_out.h): the feature matrices as
 * .npy, CSV or Parquet, labels, subflows.csv and meta.json, the files
 * `cuflow netml` writes without --jobs. Messages go to errbuf; the first
 * failure of a file wins (a later close error does not replace it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/text_fmt.h"
#include "cuflow/backend.h"
#include "cuflow/netml_out.h"
#include "cuflow/netml_table.h"
#include "cuflow/npy.h"
#include "cuflow/sink.h"
#include "cuflow/errbuf.h"

#define PATH_CAP 4096

void cf_netml_write_opts_default(cf_netml_write_opts *o)
{
	memset(o, 0, sizeof *o);
	o->format = CF_NETML_OUT_NPY;
	cf_netml_opts_default(&o->netml);
}

/* A comma-separated list: each item to fn; the first failure stops it. */
static int each_item(const char *list, int (*fn)(cf_netml_write_opts *, const char *, char *),
                     cf_netml_write_opts *o, char *errbuf)
{
	char *dup = strdup(list), *save = NULL;
	if (!dup)
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	int st = CF_OK;
	for (char *w = strtok_r(dup, ",", &save); w && st == CF_OK; w = strtok_r(NULL, ",", &save))
		st = fn(o, w, errbuf);
	free(dup);
	return st;
}

static int add_type(cf_netml_write_opts *o, const char *name, char *errbuf)
{
	int t = cf_netml_type_parse(name);
	if (t < 0)
		return cf_errf(errbuf, CF_ERR_ARG, "unknown type '%s' (IAT, SIZE, IAT_SIZE, STATS, SAMP_NUM, SAMP_SIZE)",
		            name);
	for (int i = 0; i < o->ntypes; i++)
		if (o->types[i] == t)
			return CF_OK;
	if (o->ntypes < 0 || o->ntypes >= CF_NETML_TYPE_COUNT)
		return cf_errf(errbuf, CF_ERR_ARG, "netml: types holds %d entries", o->ntypes);
	o->types[o->ntypes++] = t;
	return CF_OK;
}

static int add_fixed(cf_netml_write_opts *o, const char *w, char *errbuf)
{
	int all = !strcmp(w, "all"), tr = !strcmp(w, "trailing"), v6 = !strcmp(w, "ipv6");
	if (!tr && !v6 && !all)
		return cf_errf(errbuf, CF_ERR_ARG, "unknown --fixed item '%s' (trailing, ipv6, all)", w);
	o->netml.keep_trailing |= tr || all;
	o->netml.ipv6_flows |= v6 || all;
	return CF_OK;
}

/* An unsigned integer in lo..hi, no sign. */
static int parse_count(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
	char *e;
	errno = 0;
	unsigned long v = strtoul(s, &e, 10);
	if (errno || e == s || *e || s[0] == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cf_netml_write_opts_set(cf_netml_write_opts *o, const char *name, const char *value, char *errbuf)
{
	if (!o || !name)
		return cf_errf(errbuf, CF_ERR_ARG, "netml: NULL option");
	cf_netml_opts *no = &o->netml;
	char *e;
	if (!strcmp(name, "fft") || !strcmp(name, "header")) {
		int on = !value || !strcmp(value, "1");
		if (!on && strcmp(value, "0"))
			return cf_errf(errbuf, CF_ERR_ARG, "--%s is 0 or 1, not '%s'", name, value);
		*(name[0] == 'f' ? &o->fft : &o->header) = on;
		return CF_OK;
	}
	if (!value)
		return cf_errf(errbuf, CF_ERR_ARG, "--%s needs a value", name);
	double *d = !strcmp(name, "q-interval") ? &no->q_interval : !strcmp(name, "interval") ? &no->interval
	          : !strcmp(name, "tcp-timeout") ? &no->tcp_timeout : !strcmp(name, "udp-timeout") ? &no->udp_timeout
	          : !strcmp(name, "samp-width") ? &no->samp_width : NULL;
	if (d) {
		errno = 0;
		double v = strtod(value, &e);
		if (e == value || *e || errno || !(v >= 0))
			return cf_errf(errbuf, CF_ERR_ARG, "--%s needs a number >= 0, not '%s'", name, value);
		*d = v;
	} else if (!strcmp(name, "type")) {
		return each_item(value, add_type, o, errbuf);
	} else if (!strcmp(name, "fixed")) {
		return each_item(value, add_fixed, o, errbuf);
	} else if (!strcmp(name, "format")) {
		int f = !strcmp(value, "npy") ? CF_NETML_OUT_NPY : !strcmp(value, "csv") ? CF_NETML_OUT_CSV
		      : !strcmp(value, "parquet") ? CF_NETML_OUT_PARQUET : -1;
		if (f < 0)
			return cf_errf(errbuf, CF_ERR_ARG, "--format is npy, csv or parquet");
		o->format = f;
	} else if (!strcmp(name, "labels")) {
		o->label_file = value;
	} else if (!strcmp(name, "label")) {
		long long v = strtoll(value, &e, 10);
		if (*e || e == value)
			return cf_errf(errbuf, CF_ERR_ARG, "--label needs an integer (netml: 0 normal, 1 abnormal)");
		o->label = v;
		o->have_label = 1;
	} else if (!strcmp(name, "flow-pkts-thres")) {
		if (parse_count(value, 1, 1000000000, &no->flow_pkts_thres))
			return cf_errf(errbuf, CF_ERR_ARG, "--flow-pkts-thres needs an integer >= 1");
	} else if (!strcmp(name, "spill-mb")) {
		errno = 0;
		double mb = strtod(value, &e);
		if (e == value || *e || errno || !(mb >= 0) || mb > (double)(1u << 24))
			return cf_errf(errbuf, CF_ERR_ARG, "--spill-mb needs a number of MB >= 0 (0: never spill)");
		no->spill_bytes = (uint64_t)(mb * 1048576.0);
	} else if (!strcmp(name, "spill-dir")) {
		no->spill_dir = value;
	} else if (!strcmp(name, "dim")) {
		if (parse_count(value, 2, 1u << 23, &no->fixed_dim))
			return cf_errf(errbuf, CF_ERR_ARG, "--dim takes 2 .. 8388608");
	} else {
		return cf_errf(errbuf, CF_ERR_ARG, "netml: unknown option '%s'", name);
	}
	return CF_OK;
}

static void ip_text(const cf_netml_subflow *s, const uint8_t *ip, char *out, size_t cap)
{
	if (s->ip_version == 0)
		out[0] = 0; /* netml's pseudo-flow: '' */
	else if (!inet_ntop(s->ip_version == 6 ? AF_INET6 : AF_INET, ip, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

/* t as text that reads back to the same double: "sec.micro" when t is a
 * whole number of microseconds after netml's rounding (every µs capture),
 * else %.17g. Integer formatting: printf's %g is slow over many rows. */
static void time_text(double t, char *out, size_t cap)
{
	if (t >= 0 && t < 9e9) {
		long long us = llround(t * 1e6);
		if ((double)us / 1e6 == t) {
			snprintf(out, cap, "%lld.%06lld", us / 1000000, us % 1000000);
			return;
		}
	}
	snprintf(out, cap, "%.17g", t);
}

static int write_subflows(const char *dir, const cf_netml *h, char *errbuf)
{
	char path[PATH_CAP];
	snprintf(path, sizeof path, "%s/subflows.csv", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return cf_errf(errbuf, CF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	fprintf(f, "src_ip,dst_ip,src_port,dst_port,protocol,packets,first_time,last_time\n");
	for (uint64_t i = 0; i < cf_netml_rows(h); i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		char a[64], b[64], t0[40], t1[40];
		ip_text(&s, s.src_ip, a, sizeof a);
		ip_text(&s, s.dst_ip, b, sizeof b);
		time_text(s.first_t, t0, sizeof t0);
		time_text(s.last_t, t1, sizeof t1);
		if (s.ip_version == 0)
			fprintf(f, ",,-1,-1,-1,%u,%s,%s\n", s.packets, t0, t1);
		else
			fprintf(f, "%s,%s,%u,%u,%u,%u,%s,%s\n", a, b, s.src_port, s.dst_port, s.proto, s.packets, t0, t1);
	}
	if (ferror(f) | fclose(f))
		return cf_errf(errbuf, CF_ERR_IO, "writing %s failed", path);
	return CF_OK;
}

static int write_labels(const char *dir, const cf_netml *h, int csv, char *errbuf)
{
	char path[PATH_CAP], err[CF_ERRBUF_SIZE];
	uint64_t n = cf_netml_rows(h);
	if (csv) {
		snprintf(path, sizeof path, "%s/labels.csv", dir);
		FILE *f = fopen(path, "w");
		if (!f)
			return cf_errf(errbuf, CF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		for (uint64_t i = 0; i < n; i++) {
			cf_netml_subflow s;
			cf_netml_subflow_at(h, i, &s);
			fprintf(f, "%" PRId64 "\n", s.label);
		}
		if (ferror(f) | fclose(f))
			return cf_errf(errbuf, CF_ERR_IO, "writing %s failed", path);
		return CF_OK;
	}
	snprintf(path, sizeof path, "%s/labels.npy", dir);
	cf_npy_writer *w;
	int st = cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, 0, &w, err);
	if (st < 0)
		return cf_errf(errbuf, st, "%s", err);
	for (uint64_t i = 0; i < n && st == CF_OK; i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		st = cf_npy_writer_append(w, &s.label, 1);
	}
	int cst = cf_npy_writer_close(w, err); /* an append's error sticks: close reports it */
	if (cst < 0 || st < 0)
		return cf_errf(errbuf, st < 0 ? st : cst, "%s", err);
	return CF_OK;
}

/* The block buffer: at most 64 MiB (or one row), shared by every type. */
#define BLOCK_BYTES ((uint64_t)64 << 20)
static uint64_t block_rows(uint64_t n, uint32_t cols)
{
	uint64_t block = BLOCK_BYTES / ((uint64_t)cols * 8);
	if (block < 1)
		block = 1;
	return block > n ? n : block;
}

/* One type's matrix (.npy or .csv), computed and written in blocks of
 * rows into buf (room for block_rows() rows of the type). */
static int write_type(cf_netml *h, struct cf_backend *b, const char *dir, const cf_netml_write_opts *o, int type,
                      double *buf, char *errbuf)
{
	char path[PATH_CAP], err[CF_ERRBUF_SIZE];
	int csv = o->format == CF_NETML_OUT_CSV;
	uint64_t n = cf_netml_rows(h);
	uint32_t cols = cf_netml_row_cols(h, type, o->header);
	uint64_t block = block_rows(n, cols);
	snprintf(path, sizeof path, "%s/%s.%s", dir, cf_netml_type_name(type), csv ? "csv" : "npy");
	FILE *f = NULL;
	cf_npy_writer *w = NULL;
	uint64_t shape[1] = {cols};
	int rc = CF_OK;
	if (csv) {
		if (!(f = fopen(path, "w")))
			return cf_errf(errbuf, CF_ERR_IO, "%s", strerror(errno));
	} else if ((rc = cf_npy_writer_open(path, CF_NPY_F8, 1, shape, 0, &w, err)) < 0) {
		return cf_errf(errbuf, rc, "%s", err);
	}
	for (uint64_t r = 0; r < n && rc == CF_OK; r += block) {
		uint64_t k = n - r < block ? n - r : block;
		int st = cf_netml_features(h, b, type, o->fft, o->header, r, k, buf);
		if (st < 0) {
			rc = cf_errf(errbuf, st, "%s", cf_netml_error(h));
		} else if (csv) {
			for (uint64_t i = 0; i < k; i++)
				for (uint32_t j = 0; j < cols; j++)
					fprintf(f, "%.17g%c", buf[i * cols + j], j + 1 < cols ? ',' : '\n');
		} else if ((st = cf_npy_writer_append(w, buf, k)) < 0) {
			rc = cf_errf(errbuf, st, "%s", cf_npy_writer_error(w));
		}
	}
	if (f && (ferror(f) | fclose(f)) && rc == CF_OK)
		rc = cf_errf(errbuf, CF_ERR_IO, "writing %s failed", path);
	if (w) {
		int st = cf_npy_writer_close(w, err);
		if (st < 0 && rc == CF_OK)
			rc = cf_errf(errbuf, st, "%s", err);
	}
	return rc;
}

/* One type's table (cf_netml_table) computed in blocks of rows and written
 * by the Parquet sink to DIR/<TYPE>.parquet (as .tmp-PID, renamed when
 * complete). */
static int write_type_parquet(cf_netml *h, struct cf_backend *b, const char *dir, const cf_netml_write_opts *o,
                              int type, char *errbuf)
{
	char path[PATH_CAP], err[CF_ERRBUF_SIZE];
	uint64_t n = cf_netml_rows(h);
	uint64_t block = block_rows(n, cf_netml_row_cols(h, type, o->header));
	if (block > 65536)
		block = 65536;
	snprintf(path, sizeof path, "%s/%s.parquet", dir, cf_netml_type_name(type));
	cf_netml_table *t = NULL;
	cf_sink *k = NULL;
	int st = cf_netml_table_create(h, type, o->fft, o->header, o->label_file || o->have_label, (uint32_t)block, &t,
	                               err);
	if (st == CF_OK)
		st = cf_sink_open("parquet", cf_netml_table_schema(t), path, NULL, &k, err);
	if (st != CF_OK) {
		cf_netml_table_free(t);
		return cf_errf(errbuf, st, "%s", err);
	}
	for (uint64_t r = 0; r < n; r += block) {
		uint32_t m = (uint32_t)(n - r < block ? n - r : block);
		const cf_table_batch *bt;
		if ((st = cf_netml_table_fill(t, b, r, m, &bt)) < 0)
			st = cf_errf(errbuf, st, "%s", cf_netml_error(h));
		else if ((st = cf_sink_write(k, bt)) != CF_OK)
			st = cf_errf(errbuf, st, "%s", cf_sink_error(k));
		if (st < 0) {
			cf_sink_abort(k);
			cf_netml_table_free(t);
			return st;
		}
	}
	cf_netml_table_free(t);
	if ((st = cf_sink_close(k, NULL, err)) != CF_OK)
		return cf_errf(errbuf, st, "%s", err);
	return CF_OK;
}

static void json_counters(FILE *f, const cf_netml_counters *k, const cf_summary *s)
{
	fprintf(f,
	        "  \"packets\": {\n"
	        "    \"read\": %" PRIu64 ",\n"
	        "    \"in_rows\": %" PRIu64 ",\n"
	        "    \"not_used\": {\n"
	        "      \"no_ip_5tuple\": %" PRIu64 ",\n"
	        "      \"not_tcp_udp\": %" PRIu64 ",\n"
	        "      \"flow_below_threshold\": %" PRIu64 ",\n"
	        "      \"trailing_chunk_after_timeout_split\": %" PRIu64 ",\n"
	        "      \"chunk_below_threshold\": %" PRIu64 ",\n"
	        "      \"trailing_subflow_after_interval_split\": %" PRIu64 ",\n"
	        "      \"subflow_below_threshold\": %" PRIu64 ",\n"
	        "      \"unlabelled\": %" PRIu64 "\n"
	        "    },\n"
	        "    \"ipv6_pseudo_flow\": %" PRIu64 ",\n"
	        "    \"decoder_skips\": {",
	        k->packets, k->pkts_in_rows, k->skipped_decode, k->not_tcp_udp, k->pkts_small_flow,
	        k->pkts_timeout_tail, k->pkts_small_chunk, k->pkts_interval_tail, k->pkts_small_subflow,
	        k->pkts_unlabelled, k->ipv6_pseudo);
	int first = 1;
	for (int r = 1; s && r < CF_SKIP_COUNT; r++)
		if (s->skip[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", cf_skip_name(r), s->skip[r]);
			first = 0;
		}
	fprintf(f, "}\n  },\n");
}

static int write_meta(const cf_netml *h, struct cf_backend *b, const char *dir, const cf_netml_write_opts *o,
                      char *errbuf)
{
	char path[PATH_CAP];
	snprintf(path, sizeof path, "%s/meta.json", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return cf_errf(errbuf, CF_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	const cf_netml_opts *no = &o->netml;
	cf_netml_counters k;
	cf_netml_counters_get(h, &k);
	fprintf(f, "{\n  \"tool\": \"cuflow netml %s\",\n  \"compatible_with\": \"netml 0.7.1 (PParser)\",\n", cf_version());
	fprintf(f, "  \"capture\": ");
	cf_fput_json_str(f, o->capture);
	fprintf(f, ",\n  \"backend\": \"%s\",\n", b ? cf_backend_name(b) : "cpu");
	fprintf(f, "  \"interval\": %.17g,\n  \"dim\": %u,\n  \"samp_width\": %.17g,\n", cf_netml_interval(h),
	        cf_netml_dim(h), cf_netml_samp_width(h));
	fprintf(f, "  \"subflows\": %" PRIu64 ",\n  \"flows\": %" PRIu64 ",\n  \"flow_ids\": %" PRIu64 ",\n",
	        cf_netml_rows(h), k.chunks, k.flows);
	fprintf(f, "  \"subflows_unlabelled\": %" PRIu64 ",\n", k.subflows_unlabelled);
	fprintf(f,
	        "  \"options\": {\"q_interval\": %.17g, \"interval\": %.17g, \"flow_pkts_thres\": %u, "
	        "\"tcp_timeout\": %.17g, \"udp_timeout\": %.17g, \"fft\": %s, \"header\": %s, "
	        "\"fixed_trailing\": %s, \"fixed_ipv6\": %s, \"samp_width\": %.17g, \"labels\": ",
	        no->q_interval, no->interval, no->flow_pkts_thres, no->tcp_timeout, no->udp_timeout,
	        o->fft ? "true" : "false", o->header ? "true" : "false", no->keep_trailing ? "true" : "false",
	        no->ipv6_flows ? "true" : "false", no->samp_width);
	if (o->label_file)
		cf_fput_json_str(f, o->label_file);
	else if (o->have_label)
		fprintf(f, "%" PRId64, o->label);
	else
		fprintf(f, "null");
	fprintf(f, "},\n  \"size\": \"captured length (caplen, at most 65535)\",\n");
	json_counters(f, &k, o->summary);
	fprintf(f, "  \"outputs\": {");
	const char *ext = o->format == CF_NETML_OUT_PARQUET ? "parquet" : o->format == CF_NETML_OUT_CSV ? "csv" : "npy";
	for (int i = 0; i < o->ntypes; i++) {
		int t = o->types[i];
		fprintf(f, "%s\n    \"%s\": {\"file\": \"%s.%s\", \"dtype\": \"float64\", \"shape\": [%" PRIu64 ", %u], "
		        "\"self_dim\": %u, \"header_cols\": %u}",
		        i ? "," : "", cf_netml_type_name(t), cf_netml_type_name(t), ext, cf_netml_rows(h),
		        cf_netml_row_cols(h, t, o->header), cf_netml_feat_cols(h, t),
		        o->header ? CF_NETML_HDR_FLAGS + cf_netml_feat_cols(h, t) : 0);
	}
	fprintf(f, "\n  }\n}\n");
	if (ferror(f) | fclose(f))
		return cf_errf(errbuf, CF_ERR_IO, "writing %s failed", path);
	return CF_OK;
}

static int check_opts(const cf_netml *h, const char *dir, const cf_netml_write_opts *o, char *errbuf)
{
	if (!h || !dir || !o)
		return cf_errf(errbuf, CF_ERR_ARG, "netml: NULL handle, directory or options");
	if (o->ntypes < 1 || o->ntypes > CF_NETML_TYPE_COUNT)
		return cf_errf(errbuf, CF_ERR_ARG, "netml: %d types (1..%d)", o->ntypes, CF_NETML_TYPE_COUNT);
	unsigned seen = 0;
	for (int i = 0; i < o->ntypes; i++) {
		int t = o->types[i];
		if (t < 0 || t >= CF_NETML_TYPE_COUNT || (seen >> t & 1u))
			return cf_errf(errbuf, CF_ERR_ARG, "netml: type %d unknown or given twice", t);
		seen |= 1u << t;
	}
	if (o->format < CF_NETML_OUT_NPY || o->format > CF_NETML_OUT_PARQUET)
		return cf_errf(errbuf, CF_ERR_ARG, "netml: unknown output format %d", o->format);
	if (!cf_netml_rows(h))
		return cf_errf(errbuf, CF_ERR_ARG, "netml: no rows (cf_netml_finish first)");
	return CF_OK;
}

int cf_netml_write_dir(cf_netml *h, struct cf_backend *b, const char *dir, const cf_netml_write_opts *o,
                       char *errbuf)
{
	int st = check_opts(h, dir, o, errbuf);
	if (st < 0)
		return st;
	if (mkdir(dir, 0777) && errno != EEXIST)
		return cf_errf(errbuf, CF_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
	int parquet = o->format == CF_NETML_OUT_PARQUET;
	double *buf = NULL;
	if (!parquet) { /* parquet: each table has its own */
		uint64_t values = 1;
		for (int i = 0; i < o->ntypes; i++) {
			uint32_t cols = cf_netml_row_cols(h, o->types[i], o->header);
			uint64_t v = block_rows(cf_netml_rows(h), cols) * cols;
			if (v > values)
				values = v;
		}
		if (!(buf = malloc(values * sizeof *buf)))
			return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < o->ntypes && st == CF_OK; i++)
		st = parquet ? write_type_parquet(h, b, dir, o, o->types[i], errbuf)
		             : write_type(h, b, dir, o, o->types[i], buf, errbuf);
	free(buf);
	if (st == CF_OK && !parquet)
		st = write_subflows(dir, h, errbuf);
	if (st == CF_OK && !parquet && (o->label_file || o->have_label))
		st = write_labels(dir, h, o->format == CF_NETML_OUT_CSV, errbuf);
	if (st == CF_OK)
		st = write_meta(h, b, dir, o, errbuf);
	return st;
}

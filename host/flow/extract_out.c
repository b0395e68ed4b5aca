/*
 * cf_extract_writer: the files of `cuflow extract -o DIR` (see
 * cuflow/extract_out.h): npy arrays through the streaming writer plus
 * flows.csv, or one table through cf_feature_rows and the Parquet sink;
 * schema.json at close.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/errbuf.h"
#include "cuflow/extract_out.h"
#include "cuflow/flow_text.h"
#include "cuflow/feature_rows.h"
#include "cuflow/npy.h"
#include "cuflow/sink.h"
#include "common/text_fmt.h"

#define N_FEATURES CF_FLOW_FEATURES

struct cf_extract_writer {
	char *dir;
	cf_extract_writer_opts o;
	char *label_source;
	cf_npy_writer *feat, *seq, *len, *lab;
	FILE *csv;
	cf_feature_rows *table_rows; /* Parquet: rows gathered here ... */
	cf_sink *table;              /* ... and written by the sink */
	uint64_t rows, dropped;
	int failed;
	char err[CF_ERRBUF_SIZE];
	void *rowbuf; /* one row of features or sequence in the output dtype */
};

static int open_npy(cf_extract_writer *w, char *errbuf)
{
	char path[4096];
	int dt = w->o.float64 ? CF_NPY_F8 : CF_NPY_F4;
	uint64_t fshape[1] = {N_FEATURES}, sshape[2] = {w->o.seq_len, 3};
	snprintf(path, sizeof path, "%s/features.npy", w->dir);
	int st = cf_npy_writer_open(path, dt, 1, fshape, w->o.shard_rows, &w->feat, errbuf);
	if (st == CF_OK && w->o.seq_len) {
		snprintf(path, sizeof path, "%s/sequences.npy", w->dir);
		st = cf_npy_writer_open(path, dt, 2, sshape, w->o.shard_rows, &w->seq, errbuf);
		snprintf(path, sizeof path, "%s/lengths.npy", w->dir);
		if (st == CF_OK)
			st = cf_npy_writer_open(path, CF_NPY_I4, 0, NULL, w->o.shard_rows, &w->len, errbuf);
	}
	if (st == CF_OK && w->o.labeler) {
		snprintf(path, sizeof path, "%s/labels.npy", w->dir);
		st = cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, w->o.shard_rows, &w->lab, errbuf);
	}
	if (st != CF_OK)
		return st;
	snprintf(path, sizeof path, "%s/flows.csv", w->dir);
	if (!(w->csv = fopen(path, "w")))
		return cf_errf(errbuf, CF_ERR_IO, "cannot write %.400s: %s", path, strerror(errno));
	fputs("row,id,end_reason,src_ip,dst_ip,src_port,dst_port,protocol,ip_version,vlan_id,tunnel_id,"
	      "first_seen_ns,last_seen_ns,label\n",
	      w->csv);
	size_t row_values = N_FEATURES > 3 * (size_t)w->o.seq_len ? N_FEATURES : 3 * (size_t)w->o.seq_len;
	if (!(w->rowbuf = malloc(row_values * 8)))
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	return CF_OK;
}

static int open_parquet(cf_extract_writer *w, char *errbuf)
{
	char path[4096];
	cf_feature_rows_opts ro = {0};
	ro.seq_len = w->o.seq_len;
	ro.seq_pad = w->o.seq_pad;
	ro.float64 = w->o.float64;
	ro.labels = w->o.labeler != NULL;
	/* about 32 MiB of rows a batch */
	uint64_t row_bytes = (uint64_t)(N_FEATURES + 3 * (uint64_t)w->o.seq_len) * (w->o.float64 ? 8 : 4) + 256;
	uint64_t cap = ((uint64_t)32 << 20) / row_bytes;
	ro.capacity = (uint32_t)(cap < 64 ? 64 : cap > 65536 ? 65536 : cap);
	snprintf(path, sizeof path, "%s/features.parquet", w->dir);
	int st = cf_feature_rows_create(&ro, &w->table_rows, errbuf);
	if (st == CF_OK)
		st = cf_sink_open("parquet", cf_feature_rows_schema(w->table_rows), path, NULL, &w->table, errbuf);
	return st;
}

int cf_extract_writer_open(const char *dir, const cf_extract_writer_opts *wo, cf_extract_writer **out,
                           char *errbuf)
{
	static const cf_extract_writer_opts defaults;
	if (out)
		*out = NULL;
	if (!wo)
		wo = &defaults;
	if (!dir || !out || (wo->format != CF_EXTRACT_NPY && wo->format != CF_EXTRACT_PARQUET))
		return cf_errf(errbuf, CF_ERR_ARG, "extract writer: a directory, a format and an output are required");
	if (wo->format == CF_EXTRACT_PARQUET && wo->shard_rows)
		return cf_errf(errbuf, CF_ERR_ARG, "--shard-rows splits the npy arrays; Parquet is one file");
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return cf_errf(errbuf, CF_ERR_IO, "cannot create %.400s: %s", dir, strerror(errno));
	cf_extract_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->dir = strdup(dir)) || !(w->label_source = strdup(wo->label_source ? wo->label_source : ""))) {
		cf_extract_writer_abort(w);
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	w->o = *wo;
	w->o.label_source = w->label_source;
	int st = wo->format == CF_EXTRACT_PARQUET ? open_parquet(w, errbuf) : open_npy(w, errbuf);
	if (st != CF_OK) {
		cf_extract_writer_abort(w);
		return st;
	}
	*out = w;
	return CF_OK;
}

static int fail(cf_extract_writer *w, int st, const char *msg)
{
	if (!w->failed) {
		snprintf(w->err, sizeof w->err, "%s", msg);
		w->failed = 1;
	}
	return st;
}

/* Parquet: a batch of rows goes to the sink whenever it is full. */
static int table_flush(cf_extract_writer *w)
{
	if (!w->failed && cf_feature_rows_count(w->table_rows) &&
	    cf_sink_write(w->table, cf_feature_rows_batch(w->table_rows)) != CF_OK)
		fail(w, CF_ERR_IO, cf_sink_error(w->table));
	cf_feature_rows_reset(w->table_rows);
	return w->failed ? CF_ERR_IO : CF_OK;
}

static void put(const cf_extract_writer *w, int64_t i, double v)
{
	if (w->o.float64)
		((double *)w->rowbuf)[i] = v;
	else
		((float *)w->rowbuf)[i] = (float)v;
}

int cf_extract_writer_add(cf_extract_writer *w, const cf_flow_record *r, int64_t label, const char *name)
{
	if (!w || !r)
		return CF_ERR_ARG;
	if (w->failed)
		return CF_ERR_IO;
	if (!w->o.labeler)
		label = -1, name = NULL;
	if (w->table) {
		int st = cf_feature_rows_add(w->table_rows, r, w->rows, label, name);
		if (st < 0)
			return fail(w, st, "out of memory");
		w->rows++;
		return cf_feature_rows_full(w->table_rows) ? table_flush(w) : CF_OK;
	}
	double fv[N_FEATURES];
	cf_flow_features(r, fv);
	for (uint32_t i = 0; i < N_FEATURES; i++)
		put(w, i, fv[i]);
	int st = cf_npy_writer_append(w->feat, w->rowbuf, 1);
	if (st == CF_OK && w->o.seq_len) {
		for (uint32_t k = 0; k < w->o.seq_len; k++) {
			int have = k < r->seq_n;
			put(w, 3 * k, have ? (double)r->seq_size[k] : w->o.seq_pad);
			put(w, 3 * k + 1, have ? (double)r->seq_iat_ns[k] : w->o.seq_pad);
			put(w, 3 * k + 2, have ? (double)r->seq_dir[k] : w->o.seq_pad);
		}
		st = cf_npy_writer_append(w->seq, w->rowbuf, 1);
	}
	int32_t n = (int32_t)r->seq_n;
	if (st == CF_OK && w->o.seq_len)
		st = cf_npy_writer_append(w->len, &n, 1);
	if (st == CF_OK && w->lab)
		st = cf_npy_writer_append(w->lab, &label, 1);
	/* the identity row built in a buffer: one stdio call (printf was a
	 * tenth of the run on captures of many short flows) */
	char row[512], *p = row;
	p = cf_fmt_u64(p, w->rows);
	*p++ = ',';
	p = cf_flow_csv_ident(p, r);
	*p++ = ',';
	p = cf_fmt_i64(p, r->bidir.first_ns);
	*p++ = ',';
	p = cf_fmt_i64(p, r->bidir.last_ns);
	*p++ = ',';
	fwrite(row, 1, (size_t)(p - row), w->csv);
	if (label >= 0)
		cf_fput_csv_field(w->csv, name ? name : "");
	fputc('\n', w->csv);
	if (st < 0) {
		cf_npy_writer *ws[4] = {w->feat, w->seq, w->len, w->lab};
		for (int i = 0; i < 4; i++)
			if (ws[i] && cf_npy_writer_error(ws[i])[0])
				return fail(w, st, cf_npy_writer_error(ws[i]));
		return fail(w, st, "");
	}
	w->rows++;
	return CF_OK;
}

int cf_extract_writer_emit(void *user, const cf_flow_record *r)
{
	cf_extract_writer *w = user;
	if (!w || !r)
		return CF_ERR_ARG;
	if (w->failed)
		return CF_ERR_IO;
	int64_t label = -1;
	if (w->o.labeler) {
		cf_label_query q = {r->ip_version, r->proto, r->src_ip, r->dst_ip, r->src_port, r->dst_port,
		                    r->bidir.first_ns, r->bidir.last_ns};
		int id = cf_labeler_match(w->o.labeler, &q);
		if (id == CF_LABEL_DROP) {
			w->dropped++;
			return CF_OK;
		}
		if (id < 0) {
			w->failed = 1; /* no text: "no features.parquet written" at close */
			return id;
		}
		label = id;
	}
	return cf_extract_writer_add(w, r, label, label >= 0 ? cf_labeler_name(w->o.labeler, (uint32_t)label) : NULL);
}

uint64_t cf_extract_writer_rows(const cf_extract_writer *w)
{
	return w ? w->rows : 0;
}

uint64_t cf_extract_writer_dropped(const cf_extract_writer *w)
{
	return w ? w->dropped : 0;
}

int cf_extract_writer_failed(const cf_extract_writer *w)
{
	return w && (w->failed || (w->csv && ferror(w->csv)));
}

const char *cf_extract_writer_error(const cf_extract_writer *w)
{
	return w ? w->err : "";
}

/* ---------------------------------------------------------------- schema */

static void json_files(FILE *o, const char *name, cf_npy_writer *w, int last)
{
	fprintf(o, "    \"%s\": [", name);
	for (uint32_t i = 0; i < cf_npy_writer_files(w); i++) {
		const char *p = cf_npy_writer_file_path(w, i);
		const char *base = strrchr(p, '/');
		fprintf(o, "%s{\"path\": ", i ? ", " : "");
		cf_fput_json_str(o, base ? base + 1 : p);
		fprintf(o, ", \"rows\": %" PRIu64 "}", cf_npy_writer_file_rows(w, i));
	}
	fprintf(o, "]%s\n", last ? "" : ",");
}

static int write_schema(cf_extract_writer *x, const cf_extract_writer_meta *m)
{
	static const cf_flow_opts zero_fo;
	static const cf_flow_counters zero_c;
	static const cf_summary zero_s;
	const cf_flow_opts *fo = m->flow ? m->flow : &zero_fo;
	const cf_flow_counters *c = m->counters ? m->counters : &zero_c;
	const cf_summary *s = m->summary ? m->summary : &zero_s;
	char path[4096];
	snprintf(path, sizeof path, "%s/schema.json", x->dir);
	FILE *o = fopen(path, "w");
	if (!o)
		return -1;
	static const char *sizes[] = {"wire", "captured", "ip", "transport", "payload"};
	int parquet = x->o.format == CF_EXTRACT_PARQUET;
	fprintf(o, "{\n  \"cuflow_version\": \"%s\",\n  \"rows\": %" PRIu64 ",\n", cf_version(), x->rows);
	fprintf(o, "  \"features\": {\n    \"dtype\": \"%s\",\n    \"columns\": [\n", x->o.float64 ? "float64" : "float32");
	for (uint32_t i = 0; i < N_FEATURES; i++)
		fprintf(o, "      {\"name\": \"%s\", \"unit\": \"%s\"}%s\n", cf_flow_feature_name(i),
		        cf_flow_feature_unit(i), i == N_FEATURES - 1 ? "" : ",");
	fprintf(o, "    ],\n    \"stddev\": \"sample (n - 1); 0 below two values\",\n"
	           "    \"quantiles\": \"numpy.percentile linear (default) over packet sizes\",\n"
	           "    \"piat\": \"between consecutive packets of the same direction set; ns\",\n"
	           "    \"size\": \"%s\"\n  },\n",
	        (unsigned)fo->size_mode < 5 ? sizes[fo->size_mode] : "?");
	char pad[64]; /* JSON has no NaN or infinity: those go as strings */
	double sp = x->o.seq_pad;
	if (isfinite(sp))
		snprintf(pad, sizeof pad, "%.17g", sp);
	else
		snprintf(pad, sizeof pad, "\"%s\"", isnan(sp) ? "nan" : sp > 0 ? "inf" : "-inf");
	fprintf(o, "  \"sequences\": {\"length\": %u, \"channels\": [\"size_bytes\", \"iat_ns\", \"direction\"], "
	           "\"direction\": \"+1 src2dst, -1 dst2src\", \"iat\": \"since the flow's previous packet, 0 first\", "
	           "\"pad\": %s, \"lengths\": \"%s\"},\n",
	        x->o.seq_len, pad, parquet ? "seq_length (int32)" : "lengths.npy (int32)");
	fprintf(o, "  \"labels\": ");
	if (x->o.labeler) {
		fprintf(o, "{\"source\": ");
		cf_fput_json_str(o, x->label_source);
		fprintf(o, ", \"names\": [");
		for (uint32_t i = 0; i < cf_labeler_count(x->o.labeler); i++) {
			fprintf(o, "%s", i ? ", " : "");
			cf_fput_json_str(o, cf_labeler_name(x->o.labeler, i));
		}
		fprintf(o, "], \"dropped_flows\": %" PRIu64 ", \"report\": ", x->dropped);
		cf_labeler_report_json(x->o.labeler, o);
		fprintf(o, "},\n");
	} else {
		fprintf(o, "null,\n");
	}
	fprintf(o,
	        "  \"options\": {\"idle_timeout_ns\": %" PRId64 ", \"active_timeout_ns\": %" PRId64
	        ", \"tcp_end\": %s, \"tcp_linger_ns\": %" PRId64 ", \"unidirectional\": %s, \"max_flows\": %u, "
	        "\"piece_packets\": %u, \"order\": \"%s\", \"orientation\": \"%s\", \"compat\": \"%s\", "
	        "\"backend\": \"%s\"},\n",
	        fo->idle_timeout_ns, fo->active_timeout_ns, fo->tcp_end ? "true" : "false", fo->tcp_linger_ns,
	        fo->unidirectional ? "true" : "false", fo->max_flows, fo->piece_packets, fo->end_order ? "end" : "first",
	        fo->orientation == CF_ORIENT_FIRST_PACKET ? "first-packet" : "client",
	        fo->compat == CF_COMPAT_NFSTREAM ? "nfstream" : "none", m->backend && m->backend[0] ? m->backend : "none");
	fprintf(o, "  \"counters\": {\"packets_read\": %" PRIu64 ", \"packets_decoded\": %" PRIu64
	           ", \"packets_used\": %" PRIu64 ", \"skipped\": {",
	        s->packets, s->skip[CF_SKIP_NONE], c->packets_used);
	int first = 1;
	for (int k = 1; k < CF_SKIP_COUNT; k++)
		if (c->skipped[k]) {
			fprintf(o, "%s\"%s\": %" PRIu64, first ? "" : ", ", cf_skip_name(k), c->skipped[k]);
			first = 0;
		}
	fprintf(o, "}, \"flows\": %" PRIu64 ", \"ended\": {", c->flows);
	for (int r = 0; r < CF_FLOW_END_COUNT; r++)
		fprintf(o, "%s\"%s\": %" PRIu64, r ? ", " : "", cf_flow_end_name(r), c->ended[r]);
	fprintf(o, "}, \"evictions\": %" PRIu64 ", \"time_backwards\": %" PRIu64 ", \"bad_wirelen\": %" PRIu64
	           ", \"ts_bad_fraction\": %" PRIu64 ", \"ts_out_of_range\": %" PRIu64 ", \"split_flows\": %" PRIu64
	           ", \"batches\": %" PRIu64 "},\n",
	        c->evictions, c->time_backwards, c->bad_wirelen, m->ts_bad_fraction, m->ts_out_of_range, c->split_flows,
	        c->batches);
	fprintf(o, "  \"files\": {\n");
	if (parquet) {
		fprintf(o, "    \"table\": [{\"path\": \"features.parquet\", \"rows\": %" PRIu64 ", \"format\": \"parquet\"}]\n  }\n}\n",
		        x->rows);
	} else {
		json_files(o, "features", x->feat, !x->seq && !x->lab);
		if (x->seq) {
			json_files(o, "sequences", x->seq, 0);
			json_files(o, "lengths", x->len, !x->lab);
		}
		if (x->lab)
			json_files(o, "labels", x->lab, 1);
		fprintf(o, "  }\n}\n");
	}
	int bad = ferror(o);
	return fclose(o) != 0 || bad ? -1 : 0;
}

/* ---------------------------------------------------------------- close */

static void writer_free(cf_extract_writer *w)
{
	cf_npy_writer_close(w->feat, NULL);
	cf_npy_writer_close(w->seq, NULL);
	cf_npy_writer_close(w->len, NULL);
	cf_npy_writer_close(w->lab, NULL);
	if (w->csv)
		fclose(w->csv);
	cf_sink_abort(w->table);
	cf_feature_rows_free(w->table_rows);
	free(w->rowbuf);
	free(w->dir);
	free(w->label_source);
	free(w);
}

/* Parquet: the table renamed into place, then the schema. */
static const char *close_parquet(cf_extract_writer *w, const cf_extract_writer_meta *m, char *err)
{
	const char *what = NULL;
	table_flush(w);
	if (w->failed) {
		what = w->err[0] ? w->err : "no features.parquet written";
		cf_sink_abort(w->table);
	} else if (cf_sink_close(w->table, NULL, err) != CF_OK) {
		what = err;
	} else if (write_schema(w, m) < 0) {
		what = "cannot write schema.json";
	}
	w->table = NULL;
	return what;
}

/* npy: the schema lists the files, so it is written before they close. */
static const char *close_npy(cf_extract_writer *w, const cf_extract_writer_meta *m, char *err)
{
	const char *what = NULL;
	cf_npy_writer *ws[4] = {w->feat, w->seq, w->len, w->lab};
	for (int i = 0; i < 4 && !what; i++)
		if (ws[i] && cf_npy_writer_error(ws[i])[0])
			what = cf_npy_writer_error(ws[i]);
	if (!what && write_schema(w, m) < 0)
		what = "cannot write schema.json";
	if (what) { /* the writers' messages die with them */
		snprintf(w->err, sizeof w->err, "%s", what);
		what = w->err;
	}
	for (int i = 0; i < 4; i++)
		if (ws[i] && cf_npy_writer_close(ws[i], err) < 0 && !what)
			what = err;
	w->feat = w->seq = w->len = w->lab = NULL;
	if (fclose(w->csv) != 0 && !what)
		what = "writing flows.csv failed";
	w->csv = NULL;
	return what;
}

int cf_extract_writer_close(cf_extract_writer *w, const cf_extract_writer_meta *m, char *errbuf)
{
	static const cf_extract_writer_meta zero_m;
	char err[CF_ERRBUF_SIZE];
	if (!w)
		return CF_OK;
	const char *what = w->table ? close_parquet(w, m ? m : &zero_m, err) : close_npy(w, m ? m : &zero_m, err);
	if (what && errbuf)
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", what);
	writer_free(w);
	return what ? CF_ERR_IO : CF_OK;
}

void cf_extract_writer_abort(cf_extract_writer *w)
{
	if (w)
		writer_free(w);
}

/*
 * cuflow extract: training tensors from captures, streamed to DIR:
 *   features.npy   N x 66 per-flow statistics (float32, or --dtype float64)
 *   sequences.npy  N x L x 3 first L packets: (size, inter-arrival ns,
 *                  direction +1/-1), padded with --seq-pad (default 0)
 *   lengths.npy    N int32: valid sequence entries per row
 *   labels.npy     N int64 label ids (with a label option)
 *   flows.csv      identity columns, row-aligned with the arrays
 *   schema.json    columns, units, conventions, options, counters, files
 * With --shard-rows R every array is split into files of R rows
 * (features-00000.npy, ...), listed in schema.json's "files".
 * With --format parquet all of it is one table instead, DIR/features.parquet
 * (the library's cf_feature_rows through its Parquet sink), plus schema.json.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/cuflow.h"
#include "cuflow/label.h"
#include "cuflow/npy.h"
#include "cli.h"
#include "common/text_fmt.h"

/* the features, their names and units: the library's (cuflow/feature_rows.h) */
#define N_FEATURES CF_FLOW_FEATURES

typedef struct extract {
	const char *dir;
	int f64;
	uint32_t seq_len;
	double seq_pad;
	cf_npy_writer *feat, *seq, *len, *lab;
	FILE *csv;
	cf_feature_rows *table_rows; /* --format parquet: rows gathered here ... */
	cf_sink *table;              /* ... and written by the library's Parquet sink */
	int parquet;
	cf_labeler *labeler;
	cli_label *labels;
	uint64_t rows, dropped;
	int failed;
	char err[CF_ERRBUF_SIZE];
	void *rowbuf;   /* one row of features or sequence in the output dtype */
} extract;

static void put(extract *x, int64_t i, double v, void *buf)
{
	if (x->f64)
		((double *)buf)[i] = v;
	else
		((float *)buf)[i] = (float)v;
}

/* A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break. */
/* --format parquet: a batch of rows goes to the sink whenever it is full. */
static int table_flush(extract *x)
{
	if (!x->failed && cf_feature_rows_count(x->table_rows) &&
	    cf_sink_write(x->table, cf_feature_rows_batch(x->table_rows)) != CF_OK) {
		snprintf(x->err, sizeof x->err, "%s", cf_sink_error(x->table));
		x->failed = 1;
	}
	cf_feature_rows_reset(x->table_rows);
	return x->failed ? CF_ERR_IO : CF_OK;
}

static int table_row(extract *x, const cf_flow_record *r, int64_t label)
{
	int st = cf_feature_rows_add(x->table_rows, r, x->rows, label,
	                             label >= 0 ? cf_labeler_name(x->labeler, (uint32_t)label) : NULL);
	if (st < 0) {
		snprintf(x->err, sizeof x->err, "out of memory");
		x->failed = 1;
		return st;
	}
	x->rows++;
	return cf_feature_rows_full(x->table_rows) ? table_flush(x) : CF_OK;
}

static int emit_row(void *user, const cf_flow_record *r)
{
	extract *x = user;
	if (x->failed)
		return CF_ERR_IO;
	int64_t label = -1;
	if (x->labeler) {
		cf_label_query q = {r->ip_version, r->proto, r->src_ip, r->dst_ip, r->src_port, r->dst_port,
		                    r->bidir.first_ns, r->bidir.last_ns};
		int id = cf_labeler_match(x->labeler, &q);
		if (id == CF_LABEL_DROP) {
			x->dropped++;
			return CF_OK;
		}
		if (id < 0) {
			x->failed = 1;
			return id;
		}
		label = id;
	}
	if (x->table)
		return table_row(x, r, label);
	double fv[N_FEATURES];
	cf_flow_features(r, fv);
	for (uint32_t i = 0; i < N_FEATURES; i++)
		put(x, i, fv[i], x->rowbuf);
	int st = cf_npy_writer_append(x->feat, x->rowbuf, 1);
	if (st == CF_OK && x->seq_len) {
		for (uint32_t k = 0; k < x->seq_len; k++) {
			int have = k < r->seq_n;
			put(x, 3 * k, have ? (double)r->seq_size[k] : x->seq_pad, x->rowbuf);
			put(x, 3 * k + 1, have ? (double)r->seq_iat_ns[k] : x->seq_pad, x->rowbuf);
			put(x, 3 * k + 2, have ? (double)r->seq_dir[k] : x->seq_pad, x->rowbuf);
		}
		st = cf_npy_writer_append(x->seq, x->rowbuf, 1);
	}
	int32_t n = (int32_t)r->seq_n;
	if (st == CF_OK && x->seq_len)
		st = cf_npy_writer_append(x->len, &n, 1);
	if (st == CF_OK && x->lab)
		st = cf_npy_writer_append(x->lab, &label, 1);
	/* the identity row built in a buffer: one stdio call (printf was a
	 * tenth of the run on captures of many short flows) */
	char row[512], *p = row;
	p = cf_fmt_u64(p, x->rows);
	*p++ = ',';
	p = cli_flow_ident_put(p, r);
	*p++ = ',';
	p = cf_fmt_i64(p, r->bidir.first_ns);
	*p++ = ',';
	p = cf_fmt_i64(p, r->bidir.last_ns);
	*p++ = ',';
	fwrite(row, 1, (size_t)(p - row), x->csv);
	if (label >= 0)
		cli_csv_field(x->csv, cf_labeler_name(x->labeler, (uint32_t)label));
	fputc('\n', x->csv);
	if (st < 0) {
		x->failed = 1;
		return st;
	}
	x->rows++;
	return CF_OK;
}

static int extract_failed(void *user)
{
	extract *x = user;
	return x->failed || (x->csv && ferror(x->csv));
}

static void on_file(void *user, const char *path)
{
	extract *x = user;
	cli_label_file(x->labels, path);
}

/* ---------------------------------------------------------------- schema */

static void json_files(FILE *o, const char *name, cf_npy_writer *w, int last)
{
	fprintf(o, "    \"%s\": [", name);
	for (uint32_t i = 0; i < cf_npy_writer_files(w); i++) {
		const char *p = cf_npy_writer_file_path(w, i);
		const char *base = strrchr(p, '/');
		fprintf(o, "%s{\"path\": ", i ? ", " : "");
		cli_json_str(o, base ? base + 1 : p);
		fprintf(o, ", \"rows\": %" PRIu64 "}", cf_npy_writer_file_rows(w, i));
	}
	fprintf(o, "]%s\n", last ? "" : ",");
}

static int write_schema(extract *x, const cli_flow *cf, const cf_flow_counters *c, const cf_summary *s,
                        const char *label_desc)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/schema.json", x->dir);
	FILE *o = fopen(path, "w");
	if (!o)
		return -1;
	const cf_flow_opts *fo = &cf->fo;
	static const char *sizes[] = {"wire", "captured", "ip", "transport", "payload"};
	fprintf(o, "{\n  \"cuflow_version\": \"%s\",\n  \"rows\": %" PRIu64 ",\n", cf_version(), x->rows);
	fprintf(o, "  \"features\": {\n    \"dtype\": \"%s\",\n    \"columns\": [\n", x->f64 ? "float64" : "float32");
	for (uint32_t i = 0; i < N_FEATURES; i++)
		fprintf(o, "      {\"name\": \"%s\", \"unit\": \"%s\"}%s\n", cf_flow_feature_name(i),
		        cf_flow_feature_unit(i), i == N_FEATURES - 1 ? "" : ",");
	fprintf(o, "    ],\n    \"stddev\": \"sample (n - 1); 0 below two values\",\n"
	           "    \"quantiles\": \"numpy.percentile linear (default) over packet sizes\",\n"
	           "    \"piat\": \"between consecutive packets of the same direction set; ns\",\n"
	           "    \"size\": \"%s\"\n  },\n",
	        sizes[fo->size_mode]);
	char pad[64]; /* JSON has no NaN or infinity: those go as strings */
	if (isfinite(x->seq_pad))
		snprintf(pad, sizeof pad, "%.17g", x->seq_pad);
	else
		snprintf(pad, sizeof pad, "\"%s\"", isnan(x->seq_pad) ? "nan" : x->seq_pad > 0 ? "inf" : "-inf");
	fprintf(o, "  \"sequences\": {\"length\": %u, \"channels\": [\"size_bytes\", \"iat_ns\", \"direction\"], "
	           "\"direction\": \"+1 src2dst, -1 dst2src\", \"iat\": \"since the flow's previous packet, 0 first\", "
	           "\"pad\": %s, \"lengths\": \"%s\"},\n",
	        x->seq_len, pad, x->parquet ? "seq_length (int32)" : "lengths.npy (int32)");
	fprintf(o, "  \"labels\": ");
	if (x->labeler) {
		fprintf(o, "{\"source\": ");
		cli_json_str(o, label_desc);
		fprintf(o, ", \"names\": [");
		for (uint32_t i = 0; i < cf_labeler_count(x->labeler); i++) {
			fprintf(o, "%s", i ? ", " : "");
			cli_json_str(o, cf_labeler_name(x->labeler, i));
		}
		fprintf(o, "], \"dropped_flows\": %" PRIu64 ", \"report\": ", x->dropped);
		cf_labeler_report_json(x->labeler, o);
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
	        fo->compat == CF_COMPAT_NFSTREAM ? "nfstream" : "none", cf->backend_used[0] ? cf->backend_used : "none");
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
	        c->evictions, c->time_backwards, c->bad_wirelen, cf->ts_bad_fraction, cf->ts_out_of_range,
	        c->split_flows, c->batches);
	fprintf(o, "  \"files\": {\n");
	if (x->parquet) {
		fprintf(o, "    \"table\": [{\"path\": \"features.parquet\", \"rows\": %" PRIu64 ", \"format\": \"parquet\"}]\n  }\n}\n",
		        x->rows);
		int bad = ferror(o);
		return fclose(o) != 0 || bad ? -1 : 0;
	}
	json_files(o, "features", x->feat, !x->seq && !x->lab);
	if (x->seq) {
		json_files(o, "sequences", x->seq, 0);
		json_files(o, "lengths", x->len, !x->lab);
	}
	if (x->lab)
		json_files(o, "labels", x->lab, 1);
	fprintf(o, "  }\n}\n");
	int bad = ferror(o);
	return fclose(o) != 0 || bad ? -1 : 0;
}

/* ---------------------------------------------------------------- Parquet */

/* --format parquet: the rows through the library's cf_feature_rows into its
 * Parquet sink (DIR/features.parquet, written as .tmp-PID and renamed when
 * complete), then schema.json. */
static int extract_parquet(extract *x, cli_flow *cf, cli_label *lab, char **caps, int n_caps)
{
	char err[CF_ERRBUF_SIZE], path[4096];
	cf_feature_rows_opts ro = {0};
	x->parquet = 1;
	ro.seq_len = x->seq_len;
	ro.seq_pad = x->seq_pad;
	ro.float64 = x->f64;
	ro.labels = x->labeler != NULL;
	/* about 32 MiB of rows a batch */
	uint64_t row_bytes = (uint64_t)(N_FEATURES + 3 * (uint64_t)x->seq_len) * (x->f64 ? 8 : 4) + 256;
	uint64_t cap = ((uint64_t)32 << 20) / row_bytes;
	ro.capacity = (uint32_t)(cap < 64 ? 64 : cap > 65536 ? 65536 : cap);
	snprintf(path, sizeof path, "%s/features.parquet", x->dir);
	if (cf_feature_rows_create(&ro, &x->table_rows, err) != CF_OK ||
	    cf_sink_open("parquet", cf_feature_rows_schema(x->table_rows), path, NULL, &x->table, err) != CF_OK) {
		fprintf(stderr, "cuflow extract: %s\n", err);
		cf_feature_rows_free(x->table_rows);
		return CLI_EXIT_USAGE;
	}
	cli_flow_on_file = on_file;
	cf_flow_counters counters;
	cf_summary total;
	int rc = cli_flow_run(cf, "extract", caps, n_caps, emit_row, x, extract_failed, &counters, &total);
	table_flush(x);
	const char *what = NULL;
	if (x->failed) {
		what = x->err[0] ? x->err : "no features.parquet written";
		cf_sink_abort(x->table);
	} else if (cf_sink_close(x->table, NULL, err) != CF_OK) {
		what = err;
	} else if (write_schema(x, cf, &counters, &total, lab->desc) < 0) {
		what = "cannot write schema.json";
	}
	x->table = NULL;
	if (what) {
		fprintf(stderr, "cuflow extract: %s\n", what);
		rc = CLI_EXIT_USAGE;
	} else if (rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow extract: %" PRIu64 " rows in %s", x->rows, path);
		if (x->labeler)
			fprintf(stderr, " (%" PRIu64 " unlabelled flows dropped)", x->dropped);
		fputc('\n', stderr);
	}
	cf_feature_rows_free(x->table_rows);
	x->table_rows = NULL;
	return rc;
}

/* --jobs: the "features" producer through the library's run driver. */
static int extract_jobs(extract *x, cli_flow *cf, cli_label *lab, const cli_tables_opts *tab, const char *format,
                        uint64_t shard, char **caps, int n_caps)
{
	if (n_caps < 1 || !x->dir) {
		fprintf(stderr, "cuflow extract: %s\n", n_caps < 1 ? "no capture given" : "no output (-o) given");
		return CLI_EXIT_USAGE;
	}
	if (!!lab->constant + lab->from_dir + !!lab->csv > 1) {
		fprintf(stderr, "cuflow extract: --label, --label-from-dir and --labels exclude each other\n");
		return CLI_EXIT_USAGE;
	}
	cli_flow_apply_compat(cf);
	cf_features_producer_config pc;
	cf_features_producer_config_default(&pc);
	pc.flow = cf->fo;
	pc.rows.seq_len = cf->fo.seq_len;
	pc.rows.seq_pad = x->seq_pad;
	pc.rows.float64 = x->f64;
	/* about 32 MiB of rows a batch, as the Parquet path above */
	uint64_t row_bytes = (uint64_t)(N_FEATURES + 3 * (uint64_t)cf->fo.seq_len) * (x->f64 ? 8 : 4) + 256;
	uint64_t cap = ((uint64_t)32 << 20) / row_bytes;
	pc.rows.capacity = (uint32_t)(cap < 64 ? 64 : cap > 65536 ? 65536 : cap);
	pc.labels.csv = lab->csv;
	pc.labels.csv_opts = lab->lo;
	pc.labels.constant = lab->constant;
	pc.labels.from_dir = lab->from_dir;
	char oj[512];
	snprintf(oj, sizeof oj, "{\"command\": \"extract\", \"format\": \"%s\", \"dtype\": \"%s\", \"seq\": %u, \"seq_pad\": %.17g}",
	         format, x->f64 ? "float64" : "float32", cf->fo.seq_len, x->seq_pad);
	cli_tables t = {"extract", cf_producer_features(), &pc, &pc.labels, x->dir, format, shard, &cf->cs, *tab, cf->quiet, oj};
	return cli_run_tables(&t, caps, n_caps);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow extract [options] CAPTURE... -o DIR\n"
	        "\n"
	        "Per-flow statistics and early-packet sequences as numpy arrays in DIR:\n"
	        "features.npy (N x 66), sequences.npy (N x L x 3: size, inter-arrival ns,\n"
	        "direction +1/-1), lengths.npy, labels.npy (with a label option), flows.csv\n"
	        "(identity, row-aligned) and schema.json (columns, units, options, counters).\n"
	        "With --format parquet: all of it as one table, features.parquet (identity,\n"
	        "labels, features, sequence vectors; docs/parquet.md), and schema.json.\n"
	        "\n"
	        "options:\n"
	        "  -o, --output DIR      output directory (created); required\n"
	        "  --format npy|parquet  numpy arrays + flows.csv (default) or features.parquet\n"
	        "  --dtype float32|float64  array type of features and sequences (default float32)\n"
	        "  --seq-pad V           value of sequence entries past a flow's end (default 0)\n"
	        "  --shard-rows R        split every array into files of R rows\n"
	        "%s"
	        "%s"
	        "%s"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_jobs_usage, cli_label_usage, cli_flow_usage);
}

enum { O_DTYPE = 2000, O_PAD, O_SHARD, O_FORMAT };

int cmd_extract(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},        {"help", no_argument, 0, 'h'},
		{"dtype", required_argument, 0, O_DTYPE},     {"seq-pad", required_argument, 0, O_PAD},
		{"shard-rows", required_argument, 0, O_SHARD}, {"format", required_argument, 0, O_FORMAT},
		CLI_TABLES_LONGOPTS,
		CLI_LABEL_LONGOPTS,
		CLI_FLOW_LONGOPTS,                            {0, 0, 0, 0},
	};
	extract x;
	memset(&x, 0, sizeof x);
	cli_flow cf;
	cli_flow_init(&cf);
	cli_label lab;
	cli_label_init(&lab);
	x.labels = &lab;
	uint64_t shard = 0;
	int parquet = 0;
	cli_tables_opts tab = {0};
	const char *format = NULL;
	char *end;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		int handled = cli_flow_option(&cf, "extract", c, optarg);
		if (!handled)
			handled = cli_label_option(&lab, "extract", c, optarg);
		if (!handled)
			handled = cli_tables_option(&tab, "extract", c, optarg);
		if (handled < 0)
			return CLI_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'o': x.dir = optarg; break;
		case O_DTYPE:
			if (strcmp(optarg, "float32") && strcmp(optarg, "float64")) {
				fprintf(stderr, "cuflow extract: --dtype takes float32 or float64\n");
				return CLI_EXIT_USAGE;
			}
			x.f64 = !strcmp(optarg, "float64");
			break;
		case O_PAD:
			errno = 0;
			x.seq_pad = strtod(optarg, &end);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "cuflow extract: bad number '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case O_SHARD:
			errno = 0;
			shard = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || shard == 0 || optarg[0] == '-') {
				fprintf(stderr, "cuflow extract: --shard-rows takes a positive number\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case O_FORMAT:
			if (strcmp(optarg, "npy") && strcmp(optarg, "parquet") && strcmp(optarg, "csv") && strcmp(optarg, "jsonl")) {
				fprintf(stderr, "cuflow extract: --format takes npy or parquet (with --jobs also csv, jsonl)\n");
				return CLI_EXIT_USAGE;
			}
			parquet = !strcmp(optarg, "parquet");
			format = optarg;
			break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (tab.jobs)
		return extract_jobs(&x, &cf, &lab, &tab, format ? format : "parquet", shard, argv + optind, argc - optind);
	if (tab.resume || tab.part_rows || tab.row_group_rows) {
		fprintf(stderr, "cuflow extract: --resume, --part-rows and --row-group-rows need --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (format && !parquet && strcmp(format, "npy")) {
		fprintf(stderr, "cuflow extract: --format %s needs --jobs\n", format);
		return CLI_EXIT_USAGE;
	}
	if (parquet && shard) {
		fprintf(stderr, "cuflow extract: --shard-rows splits the npy arrays; Parquet is one file\n");
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc || !x.dir) {
		fprintf(stderr, "cuflow extract: %s\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	x.seq_len = cf.fo.seq_len;
	char err[CF_ERRBUF_SIZE], path[4096];
	int rc = CLI_EXIT_USAGE;
	if (mkdir(x.dir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "cuflow extract: cannot create %s: %s\n", x.dir, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	if (cli_label_open(&lab, "extract", argv[optind]) < 0)
		return CLI_EXIT_USAGE;
	x.labeler = lab.labeler;
	if (parquet) {
		rc = extract_parquet(&x, &cf, &lab, argv + optind, argc - optind);
		cli_label_close(&lab);
		return rc;
	}
	int dt = x.f64 ? CF_NPY_F8 : CF_NPY_F4;
	uint64_t fshape[1] = {N_FEATURES}, sshape[2] = {x.seq_len, 3};
	snprintf(path, sizeof path, "%s/features.npy", x.dir);
	if (cf_npy_writer_open(path, dt, 1, fshape, shard, &x.feat, err) < 0)
		goto fail;
	if (x.seq_len) {
		snprintf(path, sizeof path, "%s/sequences.npy", x.dir);
		if (cf_npy_writer_open(path, dt, 2, sshape, shard, &x.seq, err) < 0)
			goto fail;
		snprintf(path, sizeof path, "%s/lengths.npy", x.dir);
		if (cf_npy_writer_open(path, CF_NPY_I4, 0, NULL, shard, &x.len, err) < 0)
			goto fail;
	}
	if (x.labeler) {
		snprintf(path, sizeof path, "%s/labels.npy", x.dir);
		if (cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, shard, &x.lab, err) < 0)
			goto fail;
	}
	snprintf(path, sizeof path, "%s/flows.csv", x.dir);
	x.csv = fopen(path, "w");
	if (!x.csv) {
		snprintf(err, sizeof err, "cannot write %.400s: %s", path, strerror(errno));
		goto fail;
	}
	fputs("row," CLI_FLOW_IDENT_HEADER ","
	      "first_seen_ns,last_seen_ns,label\n",
	      x.csv);
	size_t row_values = N_FEATURES > 3 * (size_t)x.seq_len ? N_FEATURES : 3 * (size_t)x.seq_len;
	x.rowbuf = malloc(row_values * 8);
	if (!x.rowbuf) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	cli_flow_on_file = on_file;
	cf_flow_counters counters;
	cf_summary total;
	rc = cli_flow_run(&cf, "extract", argv + optind, argc - optind, emit_row, &x, extract_failed, &counters,
	                  &total);
	int bad = 0;
	const char *what = "";
	cf_npy_writer *ws[4] = {x.feat, x.seq, x.len, x.lab};
	for (int i = 0; i < 4 && !bad; i++)
		if (ws[i] && cf_npy_writer_error(ws[i])[0]) {
			bad = 1;
			what = cf_npy_writer_error(ws[i]);
		}
	/* the schema lists the files, so it is written before the writers close */
	if (!bad && write_schema(&x, &cf, &counters, &total, lab.desc) < 0) {
		bad = 1;
		what = "cannot write schema.json";
	}
	for (int i = 0; i < 4; i++)
		if (ws[i] && cf_npy_writer_close(ws[i], err) < 0 && !bad) {
			bad = 1;
			what = err;
		}
	x.feat = x.seq = x.len = x.lab = NULL;
	if ((fclose(x.csv) != 0) && !bad) {
		bad = 1;
		what = "writing flows.csv failed";
	}
	x.csv = NULL;
	if (bad) {
		fprintf(stderr, "cuflow extract: %s\n", what);
		rc = CLI_EXIT_USAGE;
	} else if (rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow extract: %" PRIu64 " rows in %s", x.rows, x.dir);
		if (x.labeler)
			fprintf(stderr, " (%" PRIu64 " unlabelled flows dropped)", x.dropped);
		fputc('\n', stderr);
	}
	goto done;
fail:
	fprintf(stderr, "cuflow extract: %s\n", err);
	rc = CLI_EXIT_USAGE;
done:
	cf_npy_writer_close(x.feat, NULL);
	cf_npy_writer_close(x.seq, NULL);
	cf_npy_writer_close(x.len, NULL);
	cf_npy_writer_close(x.lab, NULL);
	if (x.csv)
		fclose(x.csv);
	cli_label_close(&lab);
	free(x.rowbuf);
	return rc;
}

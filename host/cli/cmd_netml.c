/*
 * cuflow netml: netml 0.7.1's feature matrices, bit for bit (docs/netml.md).
 *   DIR/<TYPE>.npy   float64, subflows x columns, one per --type
 *   DIR/labels.npy   int64, with --labels or --label
 *   DIR/subflows.csv the row-aligned subflows: 5-tuple, packets, first/last time
 *   DIR/meta.json    interval, dim, SAMP width, shapes, options, counters
 * --format csv writes <TYPE>.csv and labels.csv instead of the .npy files
 * (values as %.17g: they read back to the same doubles).
 * --format parquet writes DIR/<TYPE>.parquet instead: one table per type
 * (the library's cf_netml_table: subflow, label, header and feature columns)
 * through its Parquet sink; no subflows.csv or labels file (the tables hold them).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/cuflow.h"
#include "cuflow/npy.h"
#include "cli.h"

#define CLI_EXIT_NO_DATA 3

enum { O_TYPE = 2000, O_FFT, O_HEADER, O_Q, O_INTERVAL, O_THRES, O_TCP_TO, O_UDP_TO, O_LABELS, O_LABEL, O_FORMAT,
       O_FIXED, O_SAMP_WIDTH, O_THREADS, O_DIM };

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow netml --type T[,T...] [options] CAPTURE -o DIR\n"
	        "\n"
	        "netml 0.7.1's PParser features, bit for bit: directional 5-tuple flows, idle\n"
	        "timeout, subflows split at the q_interval quantile of flow durations, then per\n"
	        "subflow one row of each type: IAT, SIZE, IAT_SIZE, STATS, SAMP_NUM, SAMP_SIZE\n"
	        "(netml's FFT-<T> names accepted). Several types share one pass.\n"
	        "\n"
	        "  -o, --output DIR        output directory (created)\n"
	        "  --type LIST             comma-separated types (required)\n"
	        "  --fft                   real part of the FFT of each vector, as netml\n"
	        "  --header                prepend TCP flag counts and TTLs, as netml\n"
	        "  --q-interval Q          quantile for the interval and the dimension (0.9)\n"
	        "  --interval SECONDS      fixed split interval instead of the quantile\n"
	        "  --flow-pkts-thres N     minimum packets per flow (2)\n"
	        "  --tcp-timeout SECONDS   idle timeout of TCP flows (600)\n"
	        "  --udp-timeout SECONDS   idle timeout of UDP flows (600)\n"
	        "  --labels CSV            CIC-IDS2017 label file: 0 benign, 1 attack; subflows\n"
	        "                          without a row are dropped (counted)\n"
	        "  --label N               every subflow gets label N\n"
	        "  --format npy|csv|parquet  output format (npy); parquet: DIR/<TYPE>.parquet,\n"
	        "                          one table per type with the subflow, label, header\n"
	        "                          and feature columns (docs/parquet.md)\n"
	        "  --fixed LIST            departures from netml: trailing (keep the last chunk\n"
	        "                          of a split flow), ipv6 (real IPv6 flows, not one\n"
	        "                          pseudo-flow), all\n"
	        "  --samp-width SECONDS    SAMP window width instead of the 0.3 quantile\n"
	        "  --threads 1|2           2: flows are grouped in a second thread while the next\n"
	        "                          packets are read and decoded (the same output)\n"
	        "  --backend auto|cpu|cuda, --filter EXPR, -q/--quiet   as in other commands\n"
	        "%s"
	        "  --dim N                 netml's dimension for every capture (required with\n"
	        "                          --jobs: one table has one row width; the other\n"
	        "                          quantiles stay per capture); without --jobs it\n"
	        "                          replaces the capture's quantile\n"
	        "With --jobs, CAPTURE may be many captures, directories, globs or @lists; each\n"
	        "capture is netml's own run, and one with no rows is counted (files_no_data).\n"
	        "\n"
	        "Sizes are captured lengths (scapy's len() re-encodes a few LDAP/Kerberos\n"
	        "packets differently; see docs/netml.md). Exit 3 when no subflow survives or\n"
	        "netml would crash (zero interval or SAMP width with gaps): the message says which.\n",
	        cli_jobs_usage);
}

typedef struct netml_cli {
	const char *dir;
	int types[CF_NETML_TYPE_COUNT], ntypes;
	int fft, header, csv, parquet;
	const char *labels_csv;
	int have_label;
	int64_t label;
	cf_netml_opts o;
} netml_cli;

static int parse_types(netml_cli *c, const char *list)
{
	char *dup = strdup(list), *save = NULL;
	if (!dup)
		return -1;
	for (char *w = strtok_r(dup, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int t = cf_netml_type_parse(w);
		if (t < 0) {
			fprintf(stderr, "cuflow netml: unknown type '%s' (IAT, SIZE, IAT_SIZE, STATS, SAMP_NUM, SAMP_SIZE)\n", w);
			free(dup);
			return -1;
		}
		int seen = 0;
		for (int i = 0; i < c->ntypes; i++)
			seen |= c->types[i] == t;
		if (!seen)
			c->types[c->ntypes++] = t;
	}
	free(dup);
	return 0;
}

static int parse_double(const char *opt, const char *s, double *out)
{
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (e == s || *e || errno || !(v >= 0)) {
		fprintf(stderr, "cuflow netml: %s needs a number >= 0, not '%s'\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int make_dir(const char *d)
{
	if (mkdir(d, 0777) && errno != EEXIST) {
		fprintf(stderr, "cuflow netml: cannot create %s: %s\n", d, strerror(errno));
		return -1;
	}
	return 0;
}

static void ip_text(const cf_netml_subflow *s, const uint8_t *ip, char *out, size_t cap)
{
	if (s->ip_version == 0)
		out[0] = 0; /* netml's pseudo-flow: '' */
	else
		cli_ip_str(ip, s->ip_version, out, cap);
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

static int write_subflows(const char *dir, cf_netml *h)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/subflows.csv", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cuflow netml: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
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
	int bad = ferror(f) | fclose(f);
	if (bad)
		fprintf(stderr, "cuflow netml: writing %s failed\n", path);
	return bad ? -1 : 0;
}

static int write_labels(const char *dir, cf_netml *h, int csv)
{
	char path[4096], err[CF_ERRBUF_SIZE];
	uint64_t n = cf_netml_rows(h);
	if (csv) {
		snprintf(path, sizeof path, "%s/labels.csv", dir);
		FILE *f = fopen(path, "w");
		if (!f) {
			fprintf(stderr, "cuflow netml: cannot write %s: %s\n", path, strerror(errno));
			return -1;
		}
		for (uint64_t i = 0; i < n; i++) {
			cf_netml_subflow s;
			cf_netml_subflow_at(h, i, &s);
			fprintf(f, "%" PRId64 "\n", s.label);
		}
		int bad = ferror(f) | fclose(f);
		return bad ? -1 : 0;
	}
	snprintf(path, sizeof path, "%s/labels.npy", dir);
	cf_npy_writer *w;
	if (cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, 0, &w, err) < 0) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		return -1;
	}
	int st = 0;
	for (uint64_t i = 0; i < n && !st; i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		st = cf_npy_writer_append(w, &s.label, 1) < 0;
	}
	if (cf_npy_writer_close(w, err) < 0 || st) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		return -1;
	}
	return 0;
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

/* One type's matrix, computed and written in blocks of rows into buf
 * (room for block_rows() rows of the type). */
static int write_type(const netml_cli *c, cf_netml *h, cf_backend *b, int type, double *buf)
{
	char path[4096], err[CF_ERRBUF_SIZE];
	uint64_t n = cf_netml_rows(h);
	uint32_t cols = cf_netml_row_cols(h, type, c->header);
	uint64_t block = block_rows(n, cols);
	const char *name = cf_netml_type_name(type);
	snprintf(path, sizeof path, "%s/%s.%s", c->dir, name, c->csv ? "csv" : "npy");
	FILE *f = NULL;
	cf_npy_writer *w = NULL;
	uint64_t shape[1] = {cols};
	int rc = -1;
	if (c->csv ? !(f = fopen(path, "w")) : cf_npy_writer_open(path, CF_NPY_F8, 1, shape, 0, &w, err) < 0) {
		fprintf(stderr, "cuflow netml: %s\n", c->csv ? strerror(errno) : err);
		goto out;
	}
	for (uint64_t r = 0; r < n; r += block) {
		uint64_t k = n - r < block ? n - r : block;
		int st = cf_netml_features(h, b, type, c->fft, c->header, r, k, buf);
		if (st < 0) {
			fprintf(stderr, "cuflow netml: %s\n", cf_netml_error(h));
			rc = st == CF_ERR_NO_DATA ? -2 : -1;
			goto out;
		}
		if (c->csv) {
			for (uint64_t i = 0; i < k; i++)
				for (uint32_t j = 0; j < cols; j++)
					fprintf(f, "%.17g%c", buf[i * cols + j], j + 1 < cols ? ',' : '\n');
		} else if (cf_npy_writer_append(w, buf, k) < 0) {
			fprintf(stderr, "cuflow netml: %s\n", cf_npy_writer_error(w));
			goto out;
		}
	}
	rc = 0;
out:
	if (f && (ferror(f) | fclose(f)) && rc == 0) {
		fprintf(stderr, "cuflow netml: writing %s failed\n", path);
		rc = -1;
	}
	if (w && cf_npy_writer_close(w, err) < 0 && rc == 0) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		rc = -1;
	}
	return rc;
}

/* --format parquet: one type's table (cf_netml_table) computed in blocks of
 * rows and written by the library's Parquet sink to DIR/<TYPE>.parquet
 * (as .tmp-PID, renamed when complete). */
static int write_type_parquet(const netml_cli *c, cf_netml *h, cf_backend *b, int type)
{
	char path[4096], err[CF_ERRBUF_SIZE];
	uint64_t n = cf_netml_rows(h);
	uint64_t block = block_rows(n, cf_netml_row_cols(h, type, c->header));
	if (block > 65536)
		block = 65536;
	snprintf(path, sizeof path, "%s/%s.parquet", c->dir, cf_netml_type_name(type));
	cf_netml_table *t = NULL;
	cf_sink *k = NULL;
	if (cf_netml_table_create(h, type, c->fft, c->header, c->labels_csv || c->have_label, (uint32_t)block, &t,
	                          err) != CF_OK ||
	    cf_sink_open("parquet", cf_netml_table_schema(t), path, NULL, &k, err) != CF_OK) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		cf_netml_table_free(t);
		return -1;
	}
	for (uint64_t r = 0; r < n; r += block) {
		uint32_t m = (uint32_t)(n - r < block ? n - r : block);
		const cf_table_batch *bt;
		int st = cf_netml_table_fill(t, b, r, m, &bt);
		if (st < 0) {
			fprintf(stderr, "cuflow netml: %s\n", cf_netml_error(h));
			cf_sink_abort(k);
			cf_netml_table_free(t);
			return st == CF_ERR_NO_DATA ? -2 : -1;
		}
		if (cf_sink_write(k, bt) != CF_OK) {
			fprintf(stderr, "cuflow netml: %s\n", cf_sink_error(k));
			cf_sink_abort(k);
			cf_netml_table_free(t);
			return -1;
		}
	}
	cf_netml_table_free(t);
	if (cf_sink_close(k, NULL, err) != CF_OK) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		return -1;
	}
	return 0;
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
	for (int r = 1; r < CF_SKIP_COUNT; r++)
		if (s->skip[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", cf_skip_name(r), s->skip[r]);
			first = 0;
		}
	fprintf(f, "}\n  },\n");
}

static int write_meta(const netml_cli *c, cf_netml *h, const char *capture, const char *backend,
                      const cf_summary *s)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/meta.json", c->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cuflow netml: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	cf_netml_counters k;
	cf_netml_counters_get(h, &k);
	fprintf(f, "{\n  \"tool\": \"cuflow netml %s\",\n  \"compatible_with\": \"netml 0.7.1 (PParser)\",\n", cf_version());
	fprintf(f, "  \"capture\": ");
	cli_json_str(f, capture);
	fprintf(f, ",\n  \"backend\": \"%s\",\n", backend);
	fprintf(f, "  \"interval\": %.17g,\n  \"dim\": %u,\n  \"samp_width\": %.17g,\n", cf_netml_interval(h),
	        cf_netml_dim(h), cf_netml_samp_width(h));
	fprintf(f, "  \"subflows\": %" PRIu64 ",\n  \"flows\": %" PRIu64 ",\n  \"flow_ids\": %" PRIu64 ",\n",
	        cf_netml_rows(h), k.chunks, k.flows);
	fprintf(f, "  \"subflows_unlabelled\": %" PRIu64 ",\n", k.subflows_unlabelled);
	fprintf(f,
	        "  \"options\": {\"q_interval\": %.17g, \"interval\": %.17g, \"flow_pkts_thres\": %u, "
	        "\"tcp_timeout\": %.17g, \"udp_timeout\": %.17g, \"fft\": %s, \"header\": %s, "
	        "\"fixed_trailing\": %s, \"fixed_ipv6\": %s, \"samp_width\": %.17g, \"labels\": ",
	        c->o.q_interval, c->o.interval, c->o.flow_pkts_thres, c->o.tcp_timeout, c->o.udp_timeout,
	        c->fft ? "true" : "false", c->header ? "true" : "false", c->o.keep_trailing ? "true" : "false",
	        c->o.ipv6_flows ? "true" : "false", c->o.samp_width);
	if (c->labels_csv)
		cli_json_str(f, c->labels_csv);
	else if (c->have_label)
		fprintf(f, "%" PRId64, c->label);
	else
		fprintf(f, "null");
	fprintf(f, "},\n  \"size\": \"captured length (caplen, at most 65535)\",\n");
	json_counters(f, &k, s);
	fprintf(f, "  \"outputs\": {");
	for (int i = 0; i < c->ntypes; i++) {
		int t = c->types[i];
		fprintf(f, "%s\n    \"%s\": {\"file\": \"%s.%s\", \"dtype\": \"float64\", \"shape\": [%" PRIu64 ", %u], "
		        "\"self_dim\": %u, \"header_cols\": %u}",
		        i ? "," : "", cf_netml_type_name(t), cf_netml_type_name(t), c->parquet ? "parquet" : c->csv ? "csv" : "npy",
		        cf_netml_rows(h),
		        cf_netml_row_cols(h, t, c->header), cf_netml_feat_cols(h, t),
		        c->header ? CF_NETML_HDR_FLAGS + cf_netml_feat_cols(h, t) : 0);
	}
	fprintf(f, "\n  }\n}\n");
	int bad = ferror(f) | fclose(f);
	if (bad)
		fprintf(stderr, "cuflow netml: writing %s failed\n", path);
	return bad ? -1 : 0;
}

/* --jobs: the "netml" producer through the library's run driver. */
static int netml_jobs(netml_cli *c, cli_scan *cs, const cli_tables_opts *tab, const char *format, int quiet,
                      char **caps, int n)
{
	if (!c->dir || !c->ntypes || n < 1) {
		fprintf(stderr, "cuflow netml: %s\n",
		        !c->ntypes ? "--type is required" : !c->dir ? "-o DIR is required" : "no capture given");
		return CLI_EXIT_USAGE;
	}
	if (c->labels_csv && c->have_label) {
		fprintf(stderr, "cuflow netml: --labels and --label exclude each other\n");
		return CLI_EXIT_USAGE;
	}
	if (!c->o.fixed_dim) {
		fprintf(stderr, "cuflow netml: --jobs needs --dim N (one table has one row width; netml's own dim\n"
		                "of a capture is in the meta.json of a run without --jobs)\n");
		return CLI_EXIT_USAGE;
	}
	cf_netml_producer_config pc;
	cf_netml_producer_config_default(&pc);
	pc.netml = c->o;
	pc.dim = c->o.fixed_dim;
	pc.types = 0;
	for (int i = 0; i < c->ntypes; i++)
		pc.types |= 1u << c->types[i];
	pc.fft = c->fft;
	pc.header = c->header;
	pc.labels_csv = c->labels_csv;
	pc.have_label = c->have_label;
	pc.label = c->label;
	char oj[256];
	snprintf(oj, sizeof oj, "{\"command\": \"netml\", \"format\": \"%s\", \"dim\": %u, \"types\": %u, \"fft\": %d, \"header\": %d}",
	         format, pc.dim, pc.types, pc.fft, pc.header);
	cli_tables t = {"netml", cf_producer_netml(), &pc, NULL, c->dir, format, 0, cs, *tab, quiet, oj};
	return cli_run_tables(&t, caps, n);
}

int cmd_netml(int argc, char **argv)
{
	netml_cli c;
	memset(&c, 0, sizeof c);
	cf_netml_opts_default(&c.o);
	cli_scan cs;
	cli_scan_init(&cs);
	int quiet = 0;
	cli_tables_opts tab = {0};
	const char *format = NULL;
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},
		{"type", required_argument, 0, O_TYPE},
		{"fft", no_argument, 0, O_FFT},
		{"header", no_argument, 0, O_HEADER},
		{"q-interval", required_argument, 0, O_Q},
		{"interval", required_argument, 0, O_INTERVAL},
		{"flow-pkts-thres", required_argument, 0, O_THRES},
		{"tcp-timeout", required_argument, 0, O_TCP_TO},
		{"udp-timeout", required_argument, 0, O_UDP_TO},
		{"labels", required_argument, 0, O_LABELS},
		{"label", required_argument, 0, O_LABEL},
		{"format", required_argument, 0, O_FORMAT},
		{"fixed", required_argument, 0, O_FIXED},
		CLI_TABLES_LONGOPTS,
		{"dim", required_argument, 0, O_DIM},
		{"samp-width", required_argument, 0, O_SAMP_WIDTH},
		{"threads", required_argument, 0, O_THREADS},
		{"filter", required_argument, 0, 'f'},
		{"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:f:b:qh", longopts, NULL)) != -1) {
		char *e;
		switch (opt) {
		case 'o': c.dir = optarg; break;
		case O_TYPE:
			if (parse_types(&c, optarg))
				return CLI_EXIT_USAGE;
			break;
		case O_FFT: c.fft = 1; break;
		case O_HEADER: c.header = 1; break;
		case O_Q:
			if (parse_double("--q-interval", optarg, &c.o.q_interval))
				return CLI_EXIT_USAGE;
			break;
		case O_INTERVAL:
			if (parse_double("--interval", optarg, &c.o.interval))
				return CLI_EXIT_USAGE;
			break;
		case O_THRES: {
			unsigned long v = strtoul(optarg, &e, 10);
			if (*e || e == optarg || v < 1 || v > 1000000000) {
				fprintf(stderr, "cuflow netml: --flow-pkts-thres needs an integer >= 1\n");
				return CLI_EXIT_USAGE;
			}
			c.o.flow_pkts_thres = (uint32_t)v;
			break;
		}
		case O_TCP_TO:
			if (parse_double("--tcp-timeout", optarg, &c.o.tcp_timeout))
				return CLI_EXIT_USAGE;
			break;
		case O_UDP_TO:
			if (parse_double("--udp-timeout", optarg, &c.o.udp_timeout))
				return CLI_EXIT_USAGE;
			break;
		case O_LABELS: c.labels_csv = optarg; break;
		case O_LABEL:
			c.label = strtoll(optarg, &e, 10);
			if (*e || e == optarg) {
				fprintf(stderr, "cuflow netml: --label needs an integer (netml: 0 normal, 1 abnormal)\n");
				return CLI_EXIT_USAGE;
			}
			c.have_label = 1;
			break;
		case O_THREADS:
			if (strcmp(optarg, "1") && strcmp(optarg, "2")) {
				fprintf(stderr, "cuflow netml: --threads is 1 or 2\n");
				return CLI_EXIT_USAGE;
			}
			cs.so.hook_thread = !strcmp(optarg, "2");
			break;
		case O_FORMAT:
			c.csv = !strcmp(optarg, "csv");
			c.parquet = !strcmp(optarg, "parquet");
			format = optarg;
			if (!c.csv && !c.parquet && strcmp(optarg, "npy") && strcmp(optarg, "jsonl")) {
				fprintf(stderr, "cuflow netml: --format is npy, csv or parquet (with --jobs also jsonl)\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case CLI_OPT_JOBS:
		case CLI_OPT_ROW_GROUP:
		case CLI_OPT_PART_ROWS:
		case CLI_OPT_RESUME:
			if (cli_tables_option(&tab, "netml", opt, optarg) < 0)
				return CLI_EXIT_USAGE;
			break;
		case O_DIM: {
			char *e;
			errno = 0;
			unsigned long v = strtoul(optarg, &e, 10);
			if (errno || e == optarg || *e || optarg[0] == '-' || v < 2 || v > (1u << 23)) {
				fprintf(stderr, "cuflow netml: --dim takes 2 .. 8388608\n");
				return CLI_EXIT_USAGE;
			}
			c.o.fixed_dim = (uint32_t)v;
			break;
		}
		case O_FIXED: {
			char *dup = strdup(optarg), *save = NULL;
			for (char *w = dup ? strtok_r(dup, ",", &save) : NULL; w; w = strtok_r(NULL, ",", &save)) {
				if (!strcmp(w, "trailing") || !strcmp(w, "all"))
					c.o.keep_trailing = 1;
				if (!strcmp(w, "ipv6") || !strcmp(w, "all"))
					c.o.ipv6_flows = 1;
				if (strcmp(w, "trailing") && strcmp(w, "ipv6") && strcmp(w, "all")) {
					fprintf(stderr, "cuflow netml: unknown --fixed item '%s' (trailing, ipv6, all)\n", w);
					free(dup);
					return CLI_EXIT_USAGE;
				}
			}
			free(dup);
			break;
		}
		case O_SAMP_WIDTH:
			if (parse_double("--samp-width", optarg, &c.o.samp_width))
				return CLI_EXIT_USAGE;
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: {
			int r = cli_scan_option(&cs, "netml", opt, optarg);
			if (r == 1)
				break;
			if (r == 0)
				usage(stderr);
			return CLI_EXIT_USAGE;
		}
		}
	}
	if (tab.jobs)
		return netml_jobs(&c, &cs, &tab, format ? format : "parquet", quiet, argv + optind, argc - optind);
	if (tab.resume || tab.part_rows || tab.row_group_rows) {
		fprintf(stderr, "cuflow netml: --resume, --part-rows and --row-group-rows need --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (format && !strcmp(format, "jsonl")) {
		fprintf(stderr, "cuflow netml: --format jsonl needs --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (!c.dir || !c.ntypes || optind + 1 != argc) {
		fprintf(stderr, "cuflow netml: %s\n\n",
		        !c.ntypes ? "--type is required" : !c.dir ? "-o DIR is required" : "exactly one CAPTURE");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (c.labels_csv && c.have_label) {
		fprintf(stderr, "cuflow netml: --labels and --label exclude each other\n");
		return CLI_EXIT_USAGE;
	}
	const char *capture = argv[optind];
	char err[CF_ERRBUF_SIZE];
	cf_netml *h = NULL;
	cf_scan_result *res = NULL;
	double *buf = NULL;
	int rc = CLI_EXIT_USAGE;
	if (cf_netml_open(&c.o, &h, err) < 0) {
		fprintf(stderr, "cuflow %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (cli_scan_open(&cs, "netml", !quiet) < 0 || make_dir(c.dir) || !(res = malloc(sizeof *res)))
		goto done;
	cli_progress *pr = cli_progress_start(capture, !quiet);
	cs.so.progress = cli_progress_update;
	cs.so.progress_user = pr;
	cf_netml_scan_file(h, capture, &cs.so, res);
	cli_progress_end(pr);
	int damaged = 0;
	if (res->status < 0) {
		fprintf(stderr, "cuflow netml: %s\n", res->error);
		if (!res->opened || res->summary.packets == 0) {
			rc = CLI_EXIT_DAMAGED; /* as info and extract: unreadable or not a capture */
			goto done;
		}
		damaged = 1; /* the packets before the damage are used */
	}
	if (cf_netml_error(h)[0]) {
		fprintf(stderr, "cuflow netml: %s\n", cf_netml_error(h));
		goto done;
	}
	if (cf_netml_finish(h) < 0) {
		fprintf(stderr, "cuflow %s\n", cf_netml_error(h));
		rc = CLI_EXIT_NO_DATA;
		goto done;
	}
	if (c.labels_csv) {
		int st = cf_netml_label_csv(h, c.labels_csv, err);
		if (st < 0) {
			fprintf(stderr, "cuflow netml: %s\n", err);
			rc = st == CF_ERR_NO_DATA ? CLI_EXIT_NO_DATA : CLI_EXIT_USAGE;
			goto done;
		}
	} else if (c.have_label) {
		cf_netml_label_constant(h, c.label);
	}
	uint64_t buf_values = 1;
	for (int i = 0; i < c.ntypes; i++) {
		uint32_t cols = cf_netml_row_cols(h, c.types[i], c.header);
		uint64_t v = block_rows(cf_netml_rows(h), cols) * cols;
		if (v > buf_values)
			buf_values = v;
	}
	if (!c.parquet && !(buf = malloc(buf_values * sizeof *buf))) { /* parquet: the table has its own */
		fprintf(stderr, "cuflow netml: out of memory\n");
		goto done;
	}
	for (int i = 0; i < c.ntypes; i++) {
		int r = c.parquet ? write_type_parquet(&c, h, cs.so.backend, c.types[i])
		                  : write_type(&c, h, cs.so.backend, c.types[i], buf);
		if (r < 0) {
			rc = r == -2 ? CLI_EXIT_NO_DATA : CLI_EXIT_USAGE;
			goto done;
		}
	}
	if ((!c.parquet && write_subflows(c.dir, h)) ||
	    (!c.parquet && (c.labels_csv || c.have_label) && write_labels(c.dir, h, c.csv)) ||
	    write_meta(&c, h, capture, cf_backend_name(cs.so.backend), &res->summary))
		goto done;
	if (!quiet) {
		cf_netml_counters k;
		cf_netml_counters_get(h, &k);
		fprintf(stderr,
		        "cuflow netml: %" PRIu64 " packets read, %" PRIu64 " in %" PRIu64 " subflows (%" PRIu64
		        " flows); interval %.6g s, dim %u; not used: %" PRIu64 " (details in meta.json)\n",
		        k.packets, k.pkts_in_rows, cf_netml_rows(h), k.chunks, cf_netml_interval(h), cf_netml_dim(h),
		        k.packets - k.pkts_in_rows);
	}
	rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	free(res);
	free(buf);
	cf_netml_close(h);
	cli_scan_close(&cs);
	return rc;
}

/*
 * cuflow flows: one row per flow, written as flows end (never all in
 * memory), with counters on stderr at the end: CSV, or Joy-compatible
 * JSON lines (flows_jsonl.c), by the output's name or --format; a name
 * ending in .gz is gzip-compressed. Damaged files are reported and the
 * run goes on with the next one; the exit status is then 2. Each capture
 * is its own stream of flows: the engine is flushed (end_of_input) at the
 * end of every file; ids keep counting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cuflow/cuflow.h"
#include "cli.h"
#include "common/text_fmt.h"

/* Where the rows go: a stdio file, or a gzip stream. */
typedef struct sink {
	FILE *f;
	gzFile gz;
	int failed;
	int zeros;      /* JSON lines: list empty packets */
	char *row;      /* one row's text */
	cf_flow_rows *rows; /* Parquet: records gathered into columns ... */
	cf_sink *table;     /* ... and written by the library's table sink */
} sink;

static int sink_write(sink *o, const char *buf, size_t n)
{
	if (o->failed)
		return CF_ERR_IO;
	if (o->gz ? gzwrite(o->gz, buf, (unsigned)n) != (int)n : fwrite(buf, 1, n, o->f) != n)
		o->failed = 1;
	return o->failed ? CF_ERR_IO : CF_OK;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

static const char *const dir_prefix[3] = {"bidirectional", "src2dst", "dst2src"};
static const char *const flag_names[CF_FF_COUNT] = {"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"};

static int csv_header(sink *o)
{
	char h[8192];
	int n = snprintf(h, sizeof h, "%s", CLI_FLOW_IDENT_HEADER);
	for (int d = 0; d < 3; d++) {
		const char *p = dir_prefix[d];
		n += snprintf(h + n, sizeof h - n, ",%s_first_seen_ns,%s_last_seen_ns,%s_duration_ns,%s_packets,%s_bytes", p,
		              p, p, p, p);
		n += snprintf(h + n, sizeof h - n, ",%s_min_ps,%s_mean_ps,%s_stddev_ps,%s_max_ps,%s_p25_ps,%s_p50_ps,%s_p75_ps",
		              p, p, p, p, p, p, p);
		n += snprintf(h + n, sizeof h - n, ",%s_min_piat_ns,%s_mean_piat_ns,%s_stddev_piat_ns,%s_max_piat_ns", p, p,
		              p, p);
		for (int f = 0; f < CF_FF_COUNT; f++)
			n += snprintf(h + n, sizeof h - n, ",%s_%s_packets", p, flag_names[f]);
	}
	n += snprintf(h + n, sizeof h - n, "\n");
	return sink_write(o, h, (size_t)n);
}

/* A row is built in a buffer (one stdio call per flow): printf was most
 * of the run on captures of many short flows. */
#define ROW_MAX 4096

static char *csv_stats(char *p, const cf_flow_stats *a)
{
	const int64_t i[3] = {a->first_ns, a->last_ns, a->duration_ns};
	for (int k = 0; k < 3; k++) {
		*p++ = ',';
		p = cf_fmt_i64(p, i[k]);
	}
	*p++ = ',';
	p = cf_fmt_u64(p, a->packets);
	*p++ = ',';
	p = cf_fmt_u64(p, a->bytes);
	*p++ = ',';
	p = cf_fmt_u64(p, a->ps_min);
	*p++ = ',';
	p = cf_fmt_g17(p, a->ps_mean);
	*p++ = ',';
	p = cf_fmt_g17(p, a->ps_stddev);
	*p++ = ',';
	p = cf_fmt_u64(p, a->ps_max);
	const double q[3] = {a->ps_p25, a->ps_p50, a->ps_p75};
	for (int k = 0; k < 3; k++) {
		*p++ = ',';
		p = cf_fmt_g17(p, q[k]);
	}
	*p++ = ',';
	p = cf_fmt_i64(p, a->piat_min);
	*p++ = ',';
	p = cf_fmt_g17(p, a->piat_mean);
	*p++ = ',';
	p = cf_fmt_g17(p, a->piat_stddev);
	*p++ = ',';
	p = cf_fmt_i64(p, a->piat_max);
	for (int f = 0; f < CF_FF_COUNT; f++) {
		*p++ = ',';
		p = cf_fmt_u64(p, a->flag[f]);
	}
	return p;
}

static int csv_row(void *user, const cf_flow_record *r)
{
	sink *o = user;
	char *row = o->row, *p = cli_flow_ident_put(row, r);
	p = csv_stats(p, &r->bidir);
	p = csv_stats(p, &r->src2dst);
	p = csv_stats(p, &r->dst2src);
	*p++ = '\n';
	return sink_write(o, row, (size_t)(p - row));
}

static int jsonl_row(void *user, const cf_flow_record *r)
{
	sink *o = user;
	char *end = cli_joy_record(o->row, r, o->zeros);
	return sink_write(o, o->row, (size_t)(end - o->row));
}

/* Parquet: a batch of rows goes to the sink whenever it is full. */
static int table_flush(sink *o)
{
	if (!o->failed && cf_flow_rows_count(o->rows) && cf_sink_write(o->table, cf_flow_rows_batch(o->rows)) != CF_OK)
		o->failed = 1;
	cf_flow_rows_reset(o->rows);
	return o->failed ? CF_ERR_IO : CF_OK;
}

static int table_row(void *user, const cf_flow_record *r)
{
	sink *o = user;
	if (cf_flow_rows_add(o->rows, r) != CF_OK)
		return CF_ERR_ARG;
	return cf_flow_rows_full(o->rows) ? table_flush(o) : (o->failed ? CF_ERR_IO : CF_OK);
}

static int sink_failed(void *o)
{
	return ((sink *)o)->failed;
}

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow flows [options] CAPTURE... -o OUT.csv|OUT.jsonl[.gz]\n"
	        "\n"
	        "Tracks bidirectional flows and writes one row per flow as it ends.\n"
	        "CSV (OUT.csv): identity, end reason, and for bidirectional/src2dst/dst2src:\n"
	        "packets, bytes, times in ns, packet size min/mean/stddev/max and p25/p50/p75\n"
	        "(numpy linear), inter-arrival min/mean/stddev/max, with SAMPLE standard\n"
	        "deviations, TCP flag counts.\n"
	        "JSON lines (OUT.jsonl): Cisco Joy's records (sa, da, pr, sp, dp, bytes_out,\n"
	        "num_pkts_out, bytes_in, num_pkts_in, time_start, time_end, packets[{b,dir,ipt}],\n"
	        "ip{out,in}{ttl,id}, expire_type) after a configuration line; sizes default\n"
	        "to payload and --seq to 100 there, as in Joy (docs/flows.md).\n"
	        "Parquet (OUT.parquet): the CSV's columns, typed (times as timestamp[ns]),\n"
	        "ZSTD-compressed, with each column's unit and meaning in the file (docs/parquet.md).\n"
	        "A name ending in .gz is gzip-compressed. Counters go to stderr.\n"
	        "\n"
	        "options:\n"
	        "  -o, --output FILE     output ('-' for stdout); required\n"
	        "  --format csv|jsonl|parquet  instead of the name's extension (stdout: csv)\n"
	        "  --zeros               JSON lines: list packets without payload in packets[]\n"
	        "                        too (Joy's zeros=1)\n"
	        "%s"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_flow_usage);
}

enum { OPT_FORMAT = 2000, OPT_ZEROS };

/* `flows -o OUT.parquet`: the records through the library's column table
 * (cf_flow_rows) into its Parquet sink, a batch of 64 Ki rows at a time.
 * The sink writes OUT.parquet.tmp-PID and renames it when complete. */
static int flows_parquet(cli_flow *cf, const char *out_path, char **caps, int n_caps)
{
	char err[CF_ERRBUF_SIZE];
	sink out = {0};
	if (!strcmp(out_path, "-")) {
		fprintf(stderr, "cuflow flows: Parquet needs a file (-o OUT.parquet), not stdout\n");
		return CLI_EXIT_USAGE;
	}
	if (cf_flow_rows_create(65536, 0, &out.rows, err) != CF_OK ||
	    cf_sink_open("parquet", cf_flow_rows_schema(out.rows), out_path, NULL, &out.table, err) != CF_OK) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		cf_flow_rows_free(out.rows);
		return CLI_EXIT_USAGE;
	}
	cf_flow_counters counters;
	cf_summary total;
	int rc = cli_flow_run(cf, "flows", caps, n_caps, table_row, &out, sink_failed, &counters, &total);
	table_flush(&out);
	if (out.failed) {
		fprintf(stderr, "cuflow flows: %s\n", cf_sink_error(out.table));
		cf_sink_abort(out.table);
		rc = CLI_EXIT_USAGE;
	} else if (cf_sink_close(out.table, NULL, err) != CF_OK) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		rc = CLI_EXIT_USAGE;
	}
	cf_flow_rows_free(out.rows);
	return rc;
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
		{"format", required_argument, 0, OPT_FORMAT}, {"zeros", no_argument, 0, OPT_ZEROS},
		CLI_FLOW_LONGOPTS, {0, 0, 0, 0},
	};
	const char *out_path = NULL, *format = NULL;
	sink out = {0};
	cli_flow cf;
	cli_flow_init(&cf);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		int handled = cli_flow_option(&cf, "flows", c, optarg);
		if (handled < 0)
			return CLI_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'o': out_path = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl") && strcmp(optarg, "parquet")) {
				fprintf(stderr, "cuflow flows: --format takes csv, jsonl or parquet\n");
				return CLI_EXIT_USAGE;
			}
			format = optarg;
			break;
		case OPT_ZEROS: out.zeros = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc || !out_path) {
		fprintf(stderr, "cuflow flows: %s\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	int to_stdout = !strcmp(out_path, "-"), gz = !to_stdout && ends_with(out_path, ".gz");
	int jsonl = format ? !strcmp(format, "jsonl")
	                   : ends_with(out_path, ".jsonl") || ends_with(out_path, ".jsonl.gz") ||
	                         ends_with(out_path, ".json") || ends_with(out_path, ".json.gz");
	int parquet = format ? !strcmp(format, "parquet") : ends_with(out_path, ".parquet");
	if (parquet)
		return flows_parquet(&cf, out_path, argv + optind, argc - optind);
	if (jsonl) {
		/* Joy's measures unless asked otherwise: payload bytes, up to 50
		 * listed packets per direction, the ids of 50 per direction */
		if (!cf.size_given)
			cf.fo.size_mode = CF_SIZE_PAYLOAD;
		if (!cf.seq_given)
			cf.fo.seq_len = 100;
		cf.fo.ip_ids = 50;
	}
	out.row = malloc(jsonl ? cli_joy_record_max(&cf.fo) : ROW_MAX);
	if (!out.row) {
		fprintf(stderr, "cuflow flows: out of memory\n");
		return CLI_EXIT_USAGE;
	}
	if (gz)
		out.gz = gzopen(out_path, "wb1"); /* level 1: gzip must keep up with the flows */
	else
		out.f = to_stdout ? stdout : fopen(out_path, "w");
	if (!out.f && !out.gz) {
		fprintf(stderr, "cuflow flows: cannot write %s: %s\n", out_path, strerror(errno));
		free(out.row);
		return CLI_EXIT_USAGE;
	}
	if (jsonl) {
		char *end = cli_joy_config(out.row, &cf.fo, out.zeros);
		sink_write(&out, out.row, (size_t)(end - out.row));
	} else {
		csv_header(&out);
	}
	cf_flow_counters counters;
	cf_summary total;
	int rc = cli_flow_run(&cf, "flows", argv + optind, argc - optind, jsonl ? jsonl_row : csv_row, &out,
	                      sink_failed, &counters, &total);
	int bad = out.failed;
	if (out.gz)
		bad |= gzclose(out.gz) != Z_OK;
	else
		bad |= fflush(out.f) != 0 || ferror(out.f) || (out.f != stdout && fclose(out.f) != 0);
	if (bad && rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	}
	free(out.row);
	return rc;
}

/*
 * cuflow flows: one row per flow, written as flows end (never all in
 * memory), with counters on stderr at the end: CSV, or Joy-compatible
 * JSON lines (flows_jsonl.c), by the output's name or --format; a name
 * ending in .gz is gzip-compressed. Damaged files are reported and the
 * run goes on with the next one; the exit status is then 2. Each capture
 * is its own stream of flows: the engine is flushed (end_of_input) at the
 * end of every file; ids keep counting. The run itself is the library's
 * driver (cf_run, include/cuflow/run.h): inputs may be directories, globs
 * and @lists, --jobs N workers give the same bytes, a manifest is written
 * beside the output, --resume continues a killed run (docs/run.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cli.h"
#include "common/text_fmt.h"

/* The header's text (a memory stream) and the formatting options the
 * workers share (read only). */
typedef struct sink {
	FILE *f;
	int failed;
	int zeros;      /* JSON lines: list empty packets */
	char *row;      /* the header's scratch */
} sink;

static int sink_write(sink *o, const char *buf, size_t n)
{
	if (o->failed)
		return CF_ERR_IO;
	if (fwrite(buf, 1, n, o->f) != n)
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

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow flows [options] INPUT... -o OUT.csv|OUT.jsonl[.gz]|OUT.parquet\n"
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
	        "  --jobs N              N workers, each on its own files (default 1); the\n"
	        "                        output is the same, byte for byte\n"
	        "  --resume              continue a run that was killed: only the inputs not\n"
	        "                        yet committed are read (CSV / JSON lines, not .gz)\n"
	        "  --row-group-rows N    Parquet: rows per row group (default 1048576; a row\n"
	        "                        group's values are held in memory until it is written)\n"
	        "INPUT: a capture, a directory (all files below it, sorted by name), a quoted\n"
	        "glob, or @LIST (one input per line). OUT.manifest.json records the inputs,\n"
	        "their counters and the output's rows, bytes and sha256 (docs/run.md).\n"
	        "%s"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_flow_usage);
}

enum { OPT_FORMAT = 2000, OPT_ZEROS, OPT_JOBS, OPT_RESUME, OPT_ROW_GROUP };

/* Rows for the run driver (cf_run): the same text as csv_row/jsonl_row,
 * with where the id's digits are, so the committer can write the run's
 * id there. */
static size_t csv_row_at(void *user, const cf_flow_record *r, char *out, size_t *id_at, size_t *id_len)
{
	(void)user;
	char *p = cli_flow_ident_put(out, r); /* starts with the id */
	char digits[24];
	*id_at = 0;
	*id_len = (size_t)(cf_fmt_u64(digits, r->id) - digits);
	p = csv_stats(p, &r->bidir);
	p = csv_stats(p, &r->src2dst);
	p = csv_stats(p, &r->dst2src);
	*p++ = '\n';
	return (size_t)(p - out);
}

static size_t jsonl_row_at(void *user, const cf_flow_record *r, char *out, size_t *id_at, size_t *id_len)
{
	const sink *o = user;
	char *end = cli_joy_record(out, r, o->zeros);
	static const char key[] = "\"flow_id\":";
	const size_t k = sizeof key - 1;
	char digits[24];
	*id_len = (size_t)(cf_fmt_u64(digits, r->id) - digits);
	*id_at = (size_t)(end - out); /* found below: the record's last flow_id key */
	for (char *q = end - k; q >= out; q--)
		if (!memcmp(q, key, k)) {
			*id_at = (size_t)(q + k - out);
			break;
		}
	return (size_t)(end - out);
}

/* What shapes the output, as JSON (the manifest records it; --resume
 * checks it): the format and every option that changes rows. */
static char *options_json(const cli_flow *cf, const char *format, int zeros)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	const cf_flow_opts *fo = &cf->fo;
	fprintf(m, "{\"command\": \"flows\", \"format\": \"%s\", \"zeros\": %s, \"idle_timeout_ns\": %" PRId64
	           ", \"active_timeout_ns\": %" PRId64 ", \"tcp_linger_ns\": %" PRId64 ", \"tcp_end\": %d"
	           ", \"unidirectional\": %d, \"size\": %d, \"orientation\": \"%s\", \"compat\": \"%s\", \"order\": \"%s\""
	           ", \"max_flows\": %u, \"seq\": %u, \"ip_ids\": %u, \"decap\": %u, \"max_depth\": %u, \"filter\": ",
	        format, zeros ? "true" : "false", fo->idle_timeout_ns, fo->active_timeout_ns, fo->tcp_linger_ns,
	        fo->tcp_end, fo->unidirectional, fo->size_mode,
	        fo->orientation == CF_ORIENT_CLIENT ? "client" : "first-packet",
	        fo->compat == CF_COMPAT_NFSTREAM ? "nfstream" : "none", fo->end_order ? "end" : "first", fo->max_flows,
	        fo->seq_len, fo->ip_ids, cf->cs.so.decode.decap, cf->cs.so.decode.max_depth);
	if (cf->cs.filter_expr)
		cli_json_str(m, cf->cs.filter_expr);
	else
		fputs("null", m);
	fputc('}', m);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Reports of the run, in input order: damage as before, duplicates. */
struct flows_report {
	const char *cmd;
	cli_progress *pr;
	uint64_t commits, kill_after; /* test hook: CUFLOW_TEST_KILL_AFTER_COMMITS */
};

static void on_file(void *user, const cf_run_file *f)
{
	struct flows_report *rep = user;
	if (f->skipped && f->duplicate_of >= 0)
		fprintf(stderr, "cuflow %s: %s: the same file as input %ld, skipped\n", rep->cmd, f->path, f->duplicate_of + 1);
	else if (f->skipped)
		fprintf(stderr, "cuflow %s: %s: %s, skipped\n", rep->cmd, f->path, f->error);
	else if (f->status < 0)
		fprintf(stderr, "cuflow %s: %s\n", rep->cmd, f->error);
	if (rep->kill_after && ++rep->commits >= rep->kill_after)
		raise(SIGKILL); /* tests: a run killed right after a commit */
}

static void on_progress(void *user, const cf_run_progress *p)
{
	cli_progress_run(((struct flows_report *)user)->pr, p);
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
		{"format", required_argument, 0, OPT_FORMAT}, {"zeros", no_argument, 0, OPT_ZEROS},
		{"jobs", required_argument, 0, OPT_JOBS}, {"resume", no_argument, 0, OPT_RESUME},
		{"row-group-rows", required_argument, 0, OPT_ROW_GROUP},
		CLI_FLOW_LONGOPTS, {0, 0, 0, 0},
	};
	const char *out_path = NULL, *format = NULL;
	sink out = {0};
	cli_flow cf;
	cli_flow_init(&cf);
	unsigned long jobs = 1;
	int resume = 0;
	cf_sink_opts sink_opts;
	cf_sink_opts_default(&sink_opts);
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
		case OPT_JOBS: {
			char *end;
			errno = 0;
			jobs = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || jobs < 1 || jobs > 256) {
				fprintf(stderr, "cuflow flows: --jobs takes 1 .. 256\n");
				return CLI_EXIT_USAGE;
			}
			break;
		}
		case OPT_RESUME: resume = 1; break;
		case OPT_ROW_GROUP:
			if (cli_parse_row_group(&sink_opts, "flows", optarg) < 0)
				return CLI_EXIT_USAGE;
			break;
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
	if (parquet && to_stdout) {
		fprintf(stderr, "cuflow flows: Parquet needs a file (-o OUT.parquet), not stdout\n");
		return CLI_EXIT_USAGE;
	}
	if (jsonl && !parquet) {
		/* Joy's measures unless asked otherwise: payload bytes, up to 50
		 * listed packets per direction, the ids of 50 per direction */
		if (!cf.size_given)
			cf.fo.size_mode = CF_SIZE_PAYLOAD;
		if (!cf.seq_given)
			cf.fo.seq_len = 100;
		cf.fo.ip_ids = 50;
	}
	cli_flow_apply_compat(&cf);
	char err[CF_ERRBUF_SIZE];
	cf_run_inputs *inputs = NULL;
	if (cf_run_inputs_expand((const char *const *)argv + optind, argc - optind, &inputs, err) < 0) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	cf_run_opts ro;
	cf_run_opts_default(&ro);
	ro.output = out_path;
	ro.format = parquet ? CF_RUN_PARQUET : gz ? CF_RUN_TEXT_GZIP : CF_RUN_TEXT;
	ro.format_name = parquet ? "parquet" : jsonl ? "jsonl" : "csv";
	ro.flow = cf.fo;
	ro.decode = cf.cs.so.decode;
	ro.filter = cf.cs.filter_expr;
	ro.backend_kind = cf.cs.backend_kind;
	ro.hook_thread = cf.cs.so.hook_thread;
	ro.jobs = (uint32_t)jobs;
	ro.resume = resume;
	ro.sink_opts = &sink_opts;
	char *header = NULL;
	size_t header_len = 0;
	if (!parquet) {
		out.row = malloc(jsonl ? cli_joy_record_max(&cf.fo) : ROW_MAX);
		/* the header text, through the same writers as before */
		out.f = open_memstream(&header, &header_len);
		if (!out.row || !out.f) {
			fprintf(stderr, "cuflow flows: out of memory\n");
			free(out.row);
			cf_run_inputs_free(inputs);
			return CLI_EXIT_USAGE;
		}
		if (jsonl) {
			char *end = cli_joy_config(out.row, &cf.fo, out.zeros);
			sink_write(&out, out.row, (size_t)(end - out.row));
		} else {
			csv_header(&out);
		}
		fclose(out.f);
		out.f = NULL;
		ro.header = header;
		ro.header_len = header_len;
		ro.row = jsonl ? jsonl_row_at : csv_row_at;
		ro.row_max = jsonl ? cli_joy_record_max(&cf.fo) : ROW_MAX;
		ro.row_user = &out;
	}
	char *oj = options_json(&cf, ro.format_name, out.zeros);
	ro.options_json = oj;
	struct flows_report rep = {"flows", NULL, 0, 0};
	const char *k = getenv("CUFLOW_TEST_KILL_AFTER_COMMITS");
	if (k)
		rep.kill_after = strtoull(k, NULL, 10);
	rep.pr = cli_progress_start("flows", !cf.quiet);
	ro.on_file = on_file;
	ro.on_progress = on_progress;
	ro.user = &rep;
	signal(SIGXFSZ, SIG_IGN); /* a file size limit: write() fails with EFBIG, reported */
	cf_run_result res;
	int st = cf_run(&ro, inputs, &res, err);
	cli_progress_end(rep.pr);
	if (!cf.quiet && res.backend_note[0])
		fprintf(stderr, "cuflow: %s\n", res.backend_note);
	int rc;
	if (st < 0) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		rc = CLI_EXIT_USAGE;
	} else {
		cli_flow_print_counters(stderr, "flows", &res.total, &res.counters);
		cf.ts_bad_fraction = res.ts_bad_fraction;
		cf.ts_out_of_range = res.ts_out_of_range;
		cli_flow_print_ts_counters(stderr, "flows", &cf);
		if (res.backend_fallbacks)
			fprintf(stderr, "cuflow: %s\n", res.backend_note);
		rc = res.files_damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
	}
	free(oj);
	free(header);
	free(out.row);
	cf_run_inputs_free(inputs);
	return rc;
}

/*
 * cuflow flows: one row per flow, written as flows end (never all in
 * memory), with counters on stderr at the end: CSV or Joy-compatible JSON
 * lines (formatted by the library: cuflow/flow_text.h), or Parquet, by
 * the output's name or --format; a name ending in .gz is gzip-compressed.
 * Damaged files are reported and the run goes on with the next one; the
 * exit status is then 2. Each capture is its own stream of flows: the
 * engine is flushed (end_of_input) at the end of every file; ids keep
 * counting. The run itself is the library's driver (cf_run,
 * include/cuflow/run.h): inputs may be directories, globs and @lists,
 * --jobs N workers give the same bytes, a manifest is written beside the
 * output, --resume continues a killed run (docs/run.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cli.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
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
	        CLI_CONTINUOUS_USAGE
	        "  --resume              continue a run that was killed: only the inputs not\n"
	        "                        yet committed are read (CSV / JSON lines, not .gz)\n"
	        "  --row-group-rows N    Parquet: rows per row group (default 1048576; a row\n"
	        "                        group's values are held in memory until it is written)\n"
	        "  --joy-compat          JSON lines exactly as Cisco Joy 4.5.0 writes them (joy\n"
	        "                        bidir=1): its timeouts, filter, client rule, counters and\n"
	        "                        keys (docs/flows.md); the flow options below do not apply\n"
	        "INPUT: a capture, a directory (all files below it, sorted by name), a quoted\n"
	        "glob, or @LIST (one input per line). OUT.manifest.json records the inputs,\n"
	        "their counters and the output's rows, bytes and sha256 (docs/run.md).\n"
	        "%s"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_flow_usage);
}

enum { OPT_FORMAT = 2000, OPT_ZEROS, OPT_JOBS, OPT_RESUME, OPT_ROW_GROUP, OPT_JOY_COMPAT, OPT_CONTINUOUS };

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
		{"format", required_argument, 0, OPT_FORMAT}, {"zeros", no_argument, 0, OPT_ZEROS},
		{"jobs", required_argument, 0, OPT_JOBS}, {"resume", no_argument, 0, OPT_RESUME},
		{"row-group-rows", required_argument, 0, OPT_ROW_GROUP},
		{"joy-compat", no_argument, 0, OPT_JOY_COMPAT}, {"continuous", no_argument, 0, OPT_CONTINUOUS},
		CLI_FLOW_LONGOPTS, {0, 0, 0, 0},
	};
	const char *out_path = NULL, *format = NULL;
	cf_flow_text text = {CF_FLOW_TEXT_CSV, 0};
	cli_flow cf;
	cli_flow_init(&cf);
	unsigned long jobs = 1;
	int resume = 0, joy_compat = 0, continuous = 0;
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
		case OPT_ZEROS: text.zeros = 1; break;
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
		case OPT_JOY_COMPAT: joy_compat = 1; break;
		case OPT_CONTINUOUS: continuous = 1; break;
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
	if (joy_compat) {
		if ((format && strcmp(format, "jsonl")) || (!format && !to_stdout && (parquet || !jsonl))) {
			fprintf(stderr, "cuflow flows: --joy-compat writes JSON lines (OUT.jsonl[.gz], or --format jsonl)\n");
			return CLI_EXIT_USAGE;
		}
		if (jobs > 1 || resume || text.zeros || continuous) {
			fprintf(stderr, "cuflow flows: --joy-compat runs one process over the inputs: no --jobs, --resume, "
			                "--continuous or --zeros\n");
			return CLI_EXIT_USAGE;
		}
		return cli_flows_joy(out_path, gz, argv + optind, argc - optind, cf.quiet);
	}
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
	if (continuous && cli_continuous_inputs("flows", inputs) < 0) {
		cf_run_inputs_free(inputs);
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
	ro.continuous = continuous;
	ro.sink_opts = &sink_opts;
	char header[CF_FLOW_HEADER_MAX];
	if (!parquet) {
		text.format = jsonl ? CF_FLOW_TEXT_JOY : CF_FLOW_TEXT_CSV;
		ro.header = header;
		ro.header_len = cf_flow_text_header(&text, &cf.fo, header);
		ro.row = cf_flow_text_row;
		ro.row_max = cf_flow_text_row_max(&text, &cf.fo);
		ro.row_user = &text;
	}
	/* what shapes the output, for the manifest (--resume checks it) */
	size_t oj_len = cf_flow_options_json(NULL, 0, ro.format_name, text.zeros, &cf.fo, &cf.cs.so.decode,
	                                     cf.cs.filter_expr);
	char *oj = malloc(oj_len + 1);
	if (oj)
		cf_flow_options_json(oj, oj_len + 1, ro.format_name, text.zeros, &cf.fo, &cf.cs.so.decode,
		                     cf.cs.filter_expr);
	ro.options_json = oj;
	cli_run_report rep;
	cli_run_report_start(&rep, "flows", cf.quiet, &ro);
	cf_run_result res;
	int st = cf_run(&ro, inputs, &res, err);
	cli_progress_end(rep.pr);
	int rank = cli_mpi_rank(); /* rank 0 reports a run over several ranks */
	if (!cf.quiet && !rank && res.backend_note[0])
		fprintf(stderr, "cuflow: %s\n", res.backend_note);
	int rc;
	if (st < 0) {
		fprintf(stderr, "cuflow flows%s: %s\n", rank ? " (a rank)" : "", err);
		rc = CLI_EXIT_USAGE;
	} else if (rank) {
		rc = CLI_EXIT_OK;
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
	cf_run_inputs_free(inputs);
	return rc;
}

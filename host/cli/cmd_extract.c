/*
 * cuflow extract: training tensors from captures. Without --jobs the
 * library's cf_extract_writer (cuflow/extract_out.h) writes DIR/
 * features.npy, sequences.npy, lengths.npy, labels.npy, flows.csv and
 * schema.json (or features.parquet + schema.json with --format parquet)
 * from the flow engine's records; with --jobs the "features" producer
 * runs through the run driver (cli_run_tables).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs_util.h"
#include "cuflow/cuflow.h"
#include "cli.h"

/* --jobs: the "features" producer through the library's run driver. */
static int extract_jobs(const char *dir, int f64, double seq_pad, cli_flow *cf, cli_label *lab,
                        const cli_tables_opts *tab, const char *format, uint64_t shard, char **caps, int n_caps)
{
	if (n_caps < 1 || !dir) {
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
	pc.rows.seq_pad = seq_pad;
	pc.rows.float64 = f64;
	/* about 32 MiB of rows a batch, as the writer's Parquet table */
	uint64_t row_bytes = (uint64_t)(CF_FLOW_FEATURES + 3 * (uint64_t)cf->fo.seq_len) * (f64 ? 8 : 4) + 256;
	uint64_t cap = ((uint64_t)32 << 20) / row_bytes;
	pc.rows.capacity = (uint32_t)(cap < 64 ? 64 : cap > 65536 ? 65536 : cap);
	pc.labels.csv = lab->csv;
	pc.labels.csv_opts = lab->lo;
	pc.labels.constant = lab->constant;
	pc.labels.from_dir = lab->from_dir;
	char oj[512];
	snprintf(oj, sizeof oj, "{\"command\": \"extract\", \"format\": \"%s\", \"dtype\": \"%s\", \"seq\": %u, \"seq_pad\": %.17g}",
	         format, f64 ? "float64" : "float32", cf->fo.seq_len, seq_pad);
	cli_tables t = {"extract", cf_producer_features(), &pc, &pc.labels, dir, format, shard, &cf->cs, *tab, cf->quiet, oj};
	return cli_run_tables(&t, caps, n_caps);
}

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
	        "CAPTURE: a file, a directory (all files below it, sorted by name), a quoted\n"
	        "glob, or @LIST (one per line).\n"
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

static cli_label *file_labels; /* cli_flow_on_file's user is the writer */

static void on_file(void *user, const char *path)
{
	(void)user;
	cli_label_file(file_labels, path);
}

static int out_failed(void *w)
{
	return cf_extract_writer_failed(w);
}

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
	cli_flow cf;
	cli_flow_init(&cf);
	cli_label lab;
	cli_label_init(&lab);
	cf_extract_writer_opts wo = {0};
	const char *dir = NULL, *format = NULL;
	cli_tables_opts tab = {0};
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
		case 'o': dir = optarg; break;
		case O_DTYPE:
			if (strcmp(optarg, "float32") && strcmp(optarg, "float64")) {
				fprintf(stderr, "cuflow extract: --dtype takes float32 or float64\n");
				return CLI_EXIT_USAGE;
			}
			wo.float64 = !strcmp(optarg, "float64");
			break;
		case O_PAD:
			errno = 0;
			wo.seq_pad = strtod(optarg, &end);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "cuflow extract: bad number '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case O_SHARD:
			errno = 0;
			wo.shard_rows = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || wo.shard_rows == 0 || optarg[0] == '-') {
				fprintf(stderr, "cuflow extract: --shard-rows takes a positive number\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case O_FORMAT:
			if (strcmp(optarg, "npy") && strcmp(optarg, "parquet") && strcmp(optarg, "csv") && strcmp(optarg, "jsonl")) {
				fprintf(stderr, "cuflow extract: --format takes npy or parquet (with --jobs also csv, jsonl)\n");
				return CLI_EXIT_USAGE;
			}
			wo.format = !strcmp(optarg, "parquet") ? CF_EXTRACT_PARQUET : CF_EXTRACT_NPY;
			format = optarg;
			break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	cli_tables_ranks(&tab);
	if (tab.jobs)
		return extract_jobs(dir, wo.float64, wo.seq_pad, &cf, &lab, &tab, format ? format : "parquet", wo.shard_rows,
		                    argv + optind, argc - optind);
	int parquet = wo.format == CF_EXTRACT_PARQUET;
	if (tab.resume || tab.part_rows || tab.row_group_rows) {
		fprintf(stderr, "cuflow extract: --resume, --part-rows and --row-group-rows need --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (format && !parquet && strcmp(format, "npy")) {
		fprintf(stderr, "cuflow extract: --format %s needs --jobs\n", format);
		return CLI_EXIT_USAGE;
	}
	if (parquet && wo.shard_rows) {
		fprintf(stderr, "cuflow extract: --shard-rows splits the npy arrays; Parquet is one file\n");
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc || !dir) {
		fprintf(stderr, "cuflow extract: %s\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	/* the directory before the labels, as ever (the writer creates it too) */
	if (cf_mkdir_p(dir) < 0) {
		fprintf(stderr, "cuflow extract: cannot create %s: %s\n", dir, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	/* the first input's directory (a directory argument: its first file's) */
	cf_run_inputs *first = cli_inputs_expand("extract", argv + optind, argc - optind);
	if (!first)
		return CLI_EXIT_USAGE;
	int lab_rc = cli_label_open(&lab, "extract", cf_run_inputs_path(first, 0));
	cf_run_inputs_free(first);
	if (lab_rc < 0)
		return CLI_EXIT_USAGE;
	char err[CF_ERRBUF_SIZE];
	cf_extract_writer *w;
	wo.seq_len = cf.fo.seq_len;
	wo.labeler = lab.labeler;
	wo.label_source = lab.desc;
	if (cf_extract_writer_open(dir, &wo, &w, err) < 0) {
		fprintf(stderr, "cuflow extract: %s\n", err);
		cli_label_close(&lab);
		return CLI_EXIT_USAGE;
	}
	file_labels = &lab;
	cli_flow_on_file = on_file;
	cf_flow_counters counters;
	cf_summary total;
	int rc = cli_flow_run(&cf, "extract", argv + optind, argc - optind, cf_extract_writer_emit, w, out_failed,
	                      &counters, &total);
	cf_extract_writer_meta meta = {&cf.fo, cf.backend_used, &counters, &total, cf.ts_bad_fraction, cf.ts_out_of_range};
	uint64_t rows = cf_extract_writer_rows(w), dropped = cf_extract_writer_dropped(w);
	if (cf_extract_writer_close(w, &meta, err) < 0) {
		fprintf(stderr, "cuflow extract: %s\n", err);
		rc = CLI_EXIT_USAGE;
	} else if (rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow extract: %" PRIu64 " rows in %s%s", rows, dir, parquet ? "/features.parquet" : "");
		if (lab.labeler)
			fprintf(stderr, " (%" PRIu64 " unlabelled flows dropped)", dropped);
		fputc('\n', stderr);
	}
	cli_label_close(&lab);
	return rc;
}

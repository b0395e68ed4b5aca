/*
 * cuflow netml: netml 0.7.1's feature matrices, bit for bit (docs/netml.md).
 * Option parsing, the scan, labels, then the library writes DIR
 * (cf_netml_write_dir, cuflow/netml_out.h: <TYPE>.npy|csv|parquet, labels,
 * subflows.csv, meta.json). With --jobs: the "netml" producer through the
 * run driver (cli_run_tables).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs_util.h"
#include "cuflow/cuflow.h"
#include "cli.h"

#define CLI_EXIT_NO_DATA 3

/* O_SET: options cf_netml_write_opts_set knows by their long name. */
enum { O_SET = 2000, O_FORMAT, O_THREADS };

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
	        "  --spill-mb N            bounded memory: past N MB of packets and flows (128;\n"
	        "                          fractions allowed) every packet goes to a hash\n"
	        "                          partition on disk, and the partitions are taken one at\n"
	        "                          a time (the same output; temporary files of about 100\n"
	        "                          bytes a packet); 0 keeps everything in memory\n"
	        "  --spill-dir DIR         where those files go ($TMPDIR, else /tmp; unlinked)\n"
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

/* A bad command line: the message, exit 1. */
static int bad(const char *msg)
{
	fprintf(stderr, "cuflow netml: %s\n", msg);
	return CLI_EXIT_USAGE;
}

/* --jobs: the "netml" producer through the library's run driver. */
static int netml_jobs(const cf_netml_write_opts *w, const char *dir, cli_scan *cs, const cli_tables_opts *tab,
                      const char *format, int quiet, char **caps, int n)
{
	if (!dir || !w->ntypes || n < 1)
		return bad(!w->ntypes ? "--type is required" : !dir ? "-o DIR is required" : "no capture given");
	if (w->label_file && w->have_label)
		return bad("--labels and --label exclude each other");
	if (!w->netml.fixed_dim)
		return bad("--jobs needs --dim N (one table has one row width; netml's own dim\n"
		           "of a capture is in the meta.json of a run without --jobs)");
	cf_netml_producer_config pc;
	cf_netml_producer_config_default(&pc);
	pc.netml = w->netml;
	pc.dim = w->netml.fixed_dim;
	pc.types = 0;
	for (int i = 0; i < w->ntypes; i++)
		pc.types |= 1u << w->types[i];
	pc.fft = w->fft;
	pc.header = w->header;
	pc.labels_csv = w->label_file;
	pc.have_label = w->have_label;
	pc.label = w->label;
	char oj[256];
	snprintf(oj, sizeof oj, "{\"command\": \"netml\", \"format\": \"%s\", \"dim\": %u, \"types\": %u, \"fft\": %d, \"header\": %d}",
	         format, pc.dim, pc.types, pc.fft, pc.header);
	cli_tables t = {"netml", cf_producer_netml(), &pc, NULL, dir, format, 0, cs, *tab, quiet, oj};
	return cli_run_tables(&t, caps, n);
}

/* One capture: scan, finish, labels, then the library writes dir.
 * Returns the exit status. */
static int netml_one(cf_netml_write_opts *w, const char *dir, cli_scan *cs, int quiet, const char *capture)
{
	char err[CF_ERRBUF_SIZE];
	cf_netml *h = NULL;
	cf_scan_result res;
	int rc = CLI_EXIT_USAGE, damaged = 0, st = CF_OK;
	if (cf_netml_open(&w->netml, &h, err) < 0) {
		fprintf(stderr, "cuflow %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (cli_scan_open(cs, "netml", !quiet) < 0)
		goto done;
	if (cf_mkdir_p(dir) < 0) { /* before the scan: a bad -o fails at once */
		fprintf(stderr, "cuflow netml: cannot create %s: %s\n", dir, strerror(errno));
		goto done;
	}
	cli_progress *pr = cli_progress_start(capture, !quiet);
	cs->so.progress = cli_progress_update;
	cs->so.progress_user = pr;
	cf_netml_scan_file(h, capture, &cs->so, &res);
	cli_progress_end(pr);
	if (res.status < 0) {
		fprintf(stderr, "cuflow netml: %s\n", res.error);
		if (!res.opened || res.summary.packets == 0) {
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
	if (w->label_file)
		st = cf_netml_label_csv(h, w->label_file, err);
	else if (w->have_label)
		cf_netml_label_constant(h, w->label);
	w->capture = capture;
	w->summary = &res.summary;
	if (st < 0 || (st = cf_netml_write_dir(h, cs->so.backend, dir, w, err)) < 0) {
		fprintf(stderr, "cuflow netml: %s\n", err);
		rc = st == CF_ERR_NO_DATA ? CLI_EXIT_NO_DATA : CLI_EXIT_USAGE;
		goto done;
	}
	if (!quiet) {
		cf_netml_counters k;
		cf_netml_counters_get(h, &k);
		fprintf(stderr,
		        "cuflow netml: %" PRIu64 " packets read, %" PRIu64 " in %" PRIu64 " subflows (%" PRIu64
		        " flows); interval %.6g s, dim %u; not used: %" PRIu64 " (details in meta.json)\n",
		        k.packets, k.pkts_in_rows, cf_netml_rows(h), k.chunks, cf_netml_interval(h), cf_netml_dim(h),
		        k.packets - k.pkts_in_rows);
		if (k.spill_runs)
			fprintf(stderr, "cuflow netml: packets went to disk in %" PRIu64 " hash partitions (--spill-mb)\n",
			        k.spill_runs);
	}
	rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	cf_netml_close(h);
	cli_scan_close(cs);
	return rc;
}

int cmd_netml(int argc, char **argv)
{
	cf_netml_write_opts w; /* the command's options but -o, --jobs and the scan's */
	cf_netml_write_opts_default(&w);
	cli_scan cs;
	cli_scan_init(&cs);
	int quiet = 0, opt, li = 0;
	cli_tables_opts tab = {0};
	const char *format = NULL, *dir = NULL;
	char err[CF_ERRBUF_SIZE];
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"type", required_argument, 0, O_SET},
		{"fft", no_argument, 0, O_SET}, {"header", no_argument, 0, O_SET},
		{"q-interval", required_argument, 0, O_SET}, {"interval", required_argument, 0, O_SET},
		{"flow-pkts-thres", required_argument, 0, O_SET}, {"tcp-timeout", required_argument, 0, O_SET},
		{"udp-timeout", required_argument, 0, O_SET}, {"labels", required_argument, 0, O_SET},
		{"label", required_argument, 0, O_SET}, {"format", required_argument, 0, O_FORMAT},
		{"fixed", required_argument, 0, O_SET}, CLI_TABLES_LONGOPTS,
		{"dim", required_argument, 0, O_SET}, {"samp-width", required_argument, 0, O_SET},
		{"spill-mb", required_argument, 0, O_SET}, {"spill-dir", required_argument, 0, O_SET},
		{"threads", required_argument, 0, O_THREADS}, {"filter", required_argument, 0, 'f'},
		{"backend", required_argument, 0, 'b'}, {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:f:b:qh", longopts, &li)) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case O_SET:
			if (cf_netml_write_opts_set(&w, longopts[li].name, optarg, err) < 0)
				return bad(err);
			break;
		case O_FORMAT: /* jsonl: a sink of the run driver only */
			format = optarg;
			if (strcmp(optarg, "jsonl") && cf_netml_write_opts_set(&w, "format", optarg, err) < 0)
				return bad("--format is npy, csv or parquet (with --jobs also jsonl)");
			break;
		case O_THREADS:
			if (strcmp(optarg, "1") && strcmp(optarg, "2"))
				return bad("--threads is 1 or 2");
			cs.so.hook_thread = !strcmp(optarg, "2");
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: {
			int r = cli_tables_option(&tab, "netml", opt, optarg);
			if (r == 0)
				r = cli_scan_option(&cs, "netml", opt, optarg);
			if (r == 1)
				break;
			if (r == 0)
				usage(stderr);
			return CLI_EXIT_USAGE;
		}
		}
	}
	cli_tables_ranks(&tab);
	if (tab.jobs)
		return netml_jobs(&w, dir, &cs, &tab, format ? format : "parquet", quiet, argv + optind, argc - optind);
	if (tab.resume || tab.part_rows || tab.row_group_rows)
		return bad("--resume, --part-rows and --row-group-rows need --jobs");
	if (format && !strcmp(format, "jsonl"))
		return bad("--format jsonl needs --jobs");
	if (!dir || !w.ntypes || optind + 1 != argc) {
		fprintf(stderr, "cuflow netml: %s\n\n",
		        !w.ntypes ? "--type is required" : !dir ? "-o DIR is required" : "exactly one CAPTURE");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (w.label_file && w.have_label)
		return bad("--labels and --label exclude each other");
	return netml_one(&w, dir, &cs, quiet, argv[optind]);
}

/*
 * cuflow flowpic: FlowPic images of every flow window (docs/flowpic.md).
 * Without --jobs the library's cf_flowpic_writer (cuflow/flowpic_out.h)
 * writes DIR/flowpic.npy, index.csv (or index.parquet), labels.npy,
 * meta.json and png/; with --jobs the "flowpic" producer runs through the
 * run driver (cli_run_tables).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs_util.h"
#include "cuflow/cuflow.h"
#include "cli.h"

enum { O_PRESET = 2000, O_RES, O_WINDOW, O_STEP, O_RIGHT_OPEN, O_TIME_AXIS, O_ANCHOR, O_OVERSIZE, O_SIZE_BINS,
       O_VALUE, O_DIR, O_MIN_PK, O_MIN_SPAN, O_SIZE, O_SESSIONS, O_IDLE, O_IPV6, O_TIME, O_MAX_WIN, O_PNG,
       O_SHARD, O_THREADS, O_FORMAT, O_AUGMENT, O_AUG_COPIES, O_AUG_SEED, O_SPILL_MB, O_SPILL_DIR };

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow flowpic [options] CAPTURE... -o DIR\n"
	        "\n"
	        "FlowPic images (2-D histograms of packet size against time) of every flow window:\n"
	        "DIR/flowpic.npy (N x C x H x W), index.csv, labels.npy, meta.json.\n"
	        "CAPTURE: a file, a directory (all files below it, sorted by name), a quoted\n"
	        "glob, or @LIST (one per line).\n"
	        "\n"
	        "  -o, --output DIR        output directory (created)\n"
	        "  --preset official|mini  official: talshapira/FlowPic (1500 x 1500, 60 s windows,\n"
	        "                          stretched time, uint16 counts); mini: tcbench's\n"
	        "                          mini-FlowPic (32 x 32, first 15 s, counts capped at 255)\n"
	        "  --resolution N          image side (any N, e.g. 32, 64, 128, 1500)\n"
	        "  --window S, --step S    window length and step in seconds (step < window:\n"
	        "                          overlapping windows; step 0: one window per session)\n"
	        "  --right-open            windows [start, start + window) instead of closed\n"
	        "  --time-axis stretch|edges|scale  stretch between the window's first and last\n"
	        "                          packet (official); numpy edges linspace(0, window, N+1);\n"
	        "                          ((t - anchor) / window) * N on integer edges (mini)\n"
	        "  --anchor window|first   time 0 at the window start or its first packet\n"
	        "  --oversize drop|clip    packets over 1500 B dropped (official) or clipped (mini)\n"
	        "  --size-bins scale|edges|tcbench  min(floor(L N / 1500), N - 1) (official),\n"
	        "                          numpy edges linspace(0, 1500, N + 1), or tcbench's\n"
	        "                          (L / 1500) * N (mini)\n"
	        "  --value count|capped|norm  uint16 counts (mod 65536, as the official code),\n"
	        "                          uint8 capped at 255, float32 capped/255\n"
	        "  --direction up|down|both|2ch  with --sessions bidir: one direction, both merged,\n"
	        "                          or 2 channels (up, down)\n"
	        "  --min-packets N         windows need more than N packets (10)\n"
	        "  --min-span S            and a first-to-last span over S seconds (official 50;\n"
	        "                          -1: no rule)\n"
	        "  --size ip|frame         IP total length (default) or captured frame length\n"
	        "  --sessions uni|bidir    unidirectional 5-tuples over the whole capture (default)\n"
	        "                          or bidirectional flows cut at --idle-timeout S (120)\n"
	        "  --ipv6                  use IPv6 packets too (the official parser keeps IPv4 only)\n"
	        "  --time dpkt|exact       relative time as the official parser (dpkt float,\n"
	        "                          rounded to 1 us) or exact ns\n"
	        "  --max-windows N         at most N windows per session\n"
	        "  --augment rtt|shift|loss  tcbench's augmentations (mini-FlowPic): after each session's\n"
	        "                          images, --augment-copies N (1) more from its packet times\n"
	        "                          changed: x U(0.5, 1.5), + U(-1, 1) s, or the packets within\n"
	        "                          0.1 s of a U(0, last) moment dropped; --augment-seed S (1);\n"
	        "                          the index gets augment (copy) and augment_param columns\n"
	        "  --spill-mb N            bounded memory: past N MB of packets, 5-tuples and\n"
	        "                          sessions (128; fractions allowed) the file's packets go to\n"
	        "                          hash partitions on disk, replayed one at a time at its\n"
	        "                          end (the same images); 0 holds everything in memory\n"
	        "  --spill-dir DIR         where those files go ($TMPDIR, else /tmp; unlinked)\n"
	        "  --png K                 PNG previews of the first K images in DIR/png\n"
	        "  --shard-rows R          split flowpic.npy into files of R images\n"
	        "  --format npy|parquet    parquet: the index as index.parquet (typed columns,\n"
	        "                          docs/parquet.md) instead of index.csv; images stay npy\n"
	        "  --threads 1|2           2: sessions and windows are tracked in a second thread\n"
	        "                          while the next packets are read and decoded (the same\n"
	        "                          output)\n"
	        "%s"
	        "%s"
	        "                        (flowpic: npy, the default with --jobs, holds the images;\n"
	        "                        parquet, csv and jsonl only while an image fits 65,536 values)\n"
	        "  --backend auto|cpu|cuda, --filter EXPR, -q/--quiet   as in other commands\n"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_label_usage, cli_jobs_usage);
}

/* A number >= lo (and <= hi: only "bad value" past it). */
static int num(const char *opt, const char *s, double lo, double hi, double *v)
{
	char *e;
	errno = 0;
	*v = strtod(s, &e);
	if (errno || e == s || *e || !(*v >= lo)) {
		fprintf(stderr, "cuflow flowpic: %s needs a number >= %g, not '%s'\n", opt, lo, s);
		return -1;
	}
	return *v > hi ? -1 : 0;
}

static int pick(const char *opt, const char *arg, const char *const *names, int *out)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(arg, names[i])) {
			*out = i;
			return 0;
		}
	fprintf(stderr, "cuflow flowpic: %s does not take '%s'\n", opt, arg);
	return -1;
}
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The writer is opened after the engine, which takes the emit function. */
static int emit(void *user, const cf_flowpic_image *im)
{
	return cf_flowpic_writer_emit(*(cf_flowpic_writer **)user, im);
}

int cmd_flowpic(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"preset", required_argument, 0, O_PRESET},
		{"resolution", required_argument, 0, O_RES}, {"window", required_argument, 0, O_WINDOW},
		{"step", required_argument, 0, O_STEP}, {"right-open", no_argument, 0, O_RIGHT_OPEN},
		{"time-axis", required_argument, 0, O_TIME_AXIS}, {"anchor", required_argument, 0, O_ANCHOR},
		{"oversize", required_argument, 0, O_OVERSIZE}, {"size-bins", required_argument, 0, O_SIZE_BINS},
		{"value", required_argument, 0, O_VALUE}, {"direction", required_argument, 0, O_DIR},
		{"min-packets", required_argument, 0, O_MIN_PK}, {"min-span", required_argument, 0, O_MIN_SPAN},
		{"size", required_argument, 0, O_SIZE}, {"sessions", required_argument, 0, O_SESSIONS},
		{"idle-timeout", required_argument, 0, O_IDLE}, {"ipv6", no_argument, 0, O_IPV6},
		{"time", required_argument, 0, O_TIME}, {"max-windows", required_argument, 0, O_MAX_WIN},
		{"augment", required_argument, 0, O_AUGMENT}, {"augment-copies", required_argument, 0, O_AUG_COPIES},
		{"augment-seed", required_argument, 0, O_AUG_SEED},
		{"spill-mb", required_argument, 0, O_SPILL_MB}, {"spill-dir", required_argument, 0, O_SPILL_DIR},
		{"png", required_argument, 0, O_PNG}, {"shard-rows", required_argument, 0, O_SHARD},
		{"threads", required_argument, 0, O_THREADS}, {"format", required_argument, 0, O_FORMAT},
		CLI_TABLES_LONGOPTS,
		CLI_LABEL_LONGOPTS,
		{"filter", required_argument, 0, 'f'}, {"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	/* the preset first: the other options change it */
	const char *preset = "official", *dir = NULL, *format = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--preset") && i + 1 < argc)
			preset = argv[i + 1];
		else if (!strncmp(argv[i], "--preset=", 9))
			preset = argv[i] + 9;
	}
	cf_flowpic_opts o;
	if (cf_flowpic_preset(&o, preset) < 0) {
		fprintf(stderr, "cuflow flowpic: --preset takes official or mini, not '%s'\n", preset);
		return CLI_EXIT_USAGE;
	}
	o.augment_seed = 1;
	cli_scan cs;
	cli_scan_init(&cs);
	cli_label lab;
	cli_label_init(&lab);
	cli_tables_opts tab = {0};
	int quiet = 0, parquet = 0;
	uint64_t shard = 0, png = 0;
	double v;
	char *e;
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:f:b:qh", longopts, NULL)) != -1) {
		int r = cli_label_option(&lab, "flowpic", opt, optarg), bad = 0;
		if (!r)
			r = cli_tables_option(&tab, "flowpic", opt, optarg);
		if (r < 0)
			return CLI_EXIT_USAGE;
		if (r)
			continue;
		switch (opt) {
		case 'o': dir = optarg; break;
		case O_PRESET: break;
		case O_RES: bad = num("--resolution", optarg, 1, 4096, &v) || v != (uint32_t)v, o.res = (uint32_t)v; break;
		case O_WINDOW: bad = num("--window", optarg, 1e-9, HUGE_VAL, &o.window_s); break;
		case O_STEP: bad = num("--step", optarg, 0, HUGE_VAL, &o.step_s); break;
		case O_RIGHT_OPEN: o.right_closed = 0; break;
		case O_TIME_AXIS: bad = pick("--time-axis", optarg, NAMES("stretch", "edges", "scale"), &o.time_axis); break;
		case O_ANCHOR: bad = pick("--anchor", optarg, NAMES("window", "first"), &o.anchor_first); break;
		case O_OVERSIZE: bad = pick("--oversize", optarg, NAMES("drop", "clip"), &o.size_clip); break;
		case O_SIZE_BINS: bad = pick("--size-bins", optarg, NAMES("scale", "edges", "tcbench"), &o.size_edges); break;
		case O_VALUE: bad = pick("--value", optarg, NAMES("count", "capped", "norm"), &o.value); break;
		case O_DIR: bad = pick("--direction", optarg, NAMES("up", "down", "both", "2ch"), &o.direction); break;
		case O_SIZE: bad = pick("--size", optarg, NAMES("ip", "frame"), &o.size_frame); break;
		case O_SESSIONS: bad = pick("--sessions", optarg, NAMES("uni", "bidir"), &o.sessions); break;
		case O_TIME: bad = pick("--time", optarg, NAMES("dpkt", "exact"), &o.time_model); break;
		case O_MIN_PK: bad = num("--min-packets", optarg, 0, 4e9, &v), o.min_packets = (uint32_t)v; break;
		case O_MIN_SPAN: o.min_span_s = strtod(optarg, &e), bad = e == optarg || *e; break;
		case O_IDLE: bad = num("--idle-timeout", optarg, 1e-9, HUGE_VAL, &o.idle_timeout_s); break;
		case O_IPV6: o.ipv4_only = 0; break;
		case O_MAX_WIN: bad = num("--max-windows", optarg, 0, 4e9, &v), o.max_windows = (uint32_t)v; break;
		case O_AUGMENT:
			if ((bad = cf_flowpic_augment_parse(optarg, &o.augment) != CF_OK))
				fprintf(stderr, "cuflow flowpic: --augment takes rtt, shift, loss or none, not '%s'\n", optarg);
			else if (!o.augment_copies) o.augment_copies = 1;
			break;
		case O_AUG_COPIES: bad = num("--augment-copies", optarg, 0, 1000, &v), o.augment_copies = (uint32_t)v; break;
		case O_AUG_SEED: bad = num("--augment-seed", optarg, 0, 9e15, &v), o.augment_seed = (uint64_t)v; break;
		case O_PNG: bad = num("--png", optarg, 0, HUGE_VAL, &v), png = (uint64_t)v; break;
		case O_SPILL_MB: bad = num("--spill-mb", optarg, 0, 1 << 24, &v), o.spill_bytes = (uint64_t)(v * 1048576.0); break;
		case O_SPILL_DIR: o.spill_dir = optarg; break;
		case O_SHARD: bad = num("--shard-rows", optarg, 1, HUGE_VAL, &v), shard = (uint64_t)v; break;
		case O_THREADS:
			bad = strcmp(optarg, "1") && strcmp(optarg, "2");
			cs.so.hook_thread = !strcmp(optarg, "2");
			break;
		case O_FORMAT:
			bad = strcmp(optarg, "npy") && strcmp(optarg, "parquet") && strcmp(optarg, "csv") && strcmp(optarg, "jsonl");
			parquet = !strcmp(optarg, "parquet");
			format = optarg;
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default:
			r = cli_scan_option(&cs, "flowpic", opt, optarg);
			if (r == 1)
				break;
			if (r == 0)
				usage(stderr);
			return CLI_EXIT_USAGE;
		}
		if (bad) {
			if (opt != O_TIME_AXIS && opt != O_VALUE && opt != O_DIR)
				fprintf(stderr, "cuflow flowpic: bad value '%s'\n", optarg);
			return CLI_EXIT_USAGE;
		}
	}
	cli_tables_ranks(&tab);
	if (optind >= argc || !dir) {
		fprintf(stderr, "cuflow flowpic: %s\n\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!tab.jobs && (tab.resume || tab.part_rows || tab.row_group_rows)) {
		fprintf(stderr, "cuflow flowpic: --resume, --part-rows and --row-group-rows need --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (tab.jobs) {
		/* the "flowpic" producer through the library's run driver: images
		 * need an array format (npy), which is the default here */
		if (!!lab.constant + lab.from_dir + !!lab.csv > 1) {
			fprintf(stderr, "cuflow flowpic: --label, --label-from-dir and --labels exclude each other\n");
			return CLI_EXIT_USAGE;
		}
		if (png) {
			fprintf(stderr, "cuflow flowpic: --png is not served with --jobs yet\n");
			return CLI_EXIT_USAGE;
		}
		cf_flowpic_producer_config pc;
		cf_flowpic_producer_config_default(&pc);
		pc.pic = o;
		pc.labels.csv = lab.csv;
		pc.labels.csv_opts = lab.lo;
		pc.labels.constant = lab.constant;
		pc.labels.from_dir = lab.from_dir;
		char oj[256];
		snprintf(oj, sizeof oj, "{\"command\": \"flowpic\", \"format\": \"%s\", \"res\": %u}",
		         format ? format : "npy", o.res);
		cli_tables t = {"flowpic", cf_producer_flowpic(), &pc, &pc.labels, dir, format ? format : "npy", shard, &cs,
		                tab, quiet, oj};
		return cli_run_tables(&t, argv + optind, argc - optind);
	}
	if (format && !parquet && strcmp(format, "npy")) {
		fprintf(stderr, "cuflow flowpic: --format %s needs --jobs\n", format);
		return CLI_EXIT_USAGE;
	}
	char err[CF_ERRBUF_SIZE];
	int rc = CLI_EXIT_USAGE, failed = 0, damaged = 0;
	cf_flowpic *h = NULL;
	cf_flowpic_writer *w = NULL;
	cf_scan_result *res = NULL;
	cf_run_inputs *in = cli_inputs_expand("flowpic", argv + optind, argc - optind);
	if (!in)
		return CLI_EXIT_USAGE;
	if (cli_label_open(&lab, "flowpic", cf_run_inputs_path(in, 0)) < 0) {
		cf_run_inputs_free(in);
		return CLI_EXIT_USAGE;
	}
	/* the directory before the engine, as ever (the writer creates it too) */
	if (cf_mkdir_p(dir) < 0) {
		fprintf(stderr, "cuflow flowpic: cannot create %s: %s\n", dir, strerror(errno));
		goto done;
	}
	cf_flowpic_writer_opts wo = {parquet ? CF_FLOWPIC_INDEX_PARQUET : CF_FLOWPIC_INDEX_CSV, shard, png, lab.labeler,
	                             lab.desc};
	if (cli_scan_open(&cs, "flowpic", !quiet) < 0)
		goto done;
	if (cf_flowpic_open(&o, cs.so.backend, emit, &w, &h, err) < 0) {
		fprintf(stderr, "cuflow %s\n", err);
		goto done;
	}
	if (cf_flowpic_writer_open(dir, &o, &wo, &w, err) < 0) {
		fprintf(stderr, "cuflow flowpic: %s\n", err);
		goto done;
	}
	if (!(res = malloc(sizeof *res)))
		goto done;
	cf_summary total;
	cf_summary_clear(&total);
	for (size_t i = 0; i < cf_run_inputs_count(in) && !failed; i++) {
		const char *file = cf_run_inputs_path(in, i);
		cli_label_file(&lab, file);
		cli_progress *pr = cli_progress_start(file, !quiet);
		cs.so.progress = cli_progress_update;
		cs.so.progress_user = pr;
		int st = cf_flowpic_scan_file(h, file, &cs.so, res);
		cli_progress_end(pr);
		cf_summary_merge(&total, &res->summary);
		if (cf_flowpic_writer_failed(w) || (st < 0 && cf_flowpic_error(h)[0])) {
			fprintf(stderr, "cuflow flowpic: %s\n",
			        cf_flowpic_writer_failed(w) ? cf_flowpic_writer_error(w) : cf_flowpic_error(h));
			failed = 1;
		} else if (res->status < 0) {
			fprintf(stderr, "cuflow flowpic: %s\n", res->error);
			damaged = 1;
		}
	}
	cf_flowpic_counters k;
	cf_flowpic_counters_get(h, &k);
	cf_flowpic_writer_meta meta = {preset, cf_backend_name(cs.so.backend), &total};
	uint64_t rows = cf_flowpic_writer_rows(w);
	cf_flowpic_writer *wc = w;
	w = NULL;
	if (failed) { /* no meta.json; the message again */
		snprintf(err, sizeof err, "%s", cf_flowpic_writer_error(wc));
		cf_flowpic_writer_abort(wc);
	}
	if (failed || cf_flowpic_writer_close(wc, &k, &meta, err) < 0) {
		fprintf(stderr, "cuflow flowpic: %s\n", err);
		goto done;
	}
	if (!quiet)
		fprintf(stderr,
		        "cuflow flowpic: %" PRIu64 " images from %" PRIu64 " sessions (%" PRIu64 " packets read; windows: %" PRIu64
		        " too few packets, %" PRIu64 " too short)\n",
		        rows, k.sessions, k.packets, k.windows_small, k.windows_short);
	if (!quiet && k.spill_runs)
		fprintf(stderr, "cuflow flowpic: packets went to disk in %" PRIu64 " hash partitions (--spill-mb)\n",
		        k.spill_runs);
	rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	free(res);
	cf_flowpic_writer_abort(w);
	cf_flowpic_close(h);
	cli_scan_close(&cs);
	cli_label_close(&lab);
	cf_run_inputs_free(in);
	return rc;
}

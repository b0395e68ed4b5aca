/*
 * cuflow flowpic: FlowPic images of every flow window (docs/flowpic.md).
 *   DIR/flowpic.npy  N x C x H x W (uint16 counts, uint8 capped, float32 normalised)
 *   DIR/index.csv    one row per image: the session's 5-tuple, window, start, packets, label
 *   DIR/labels.npy   int64 label ids (with a label option; names in meta.json)
 *   DIR/meta.json    options, shapes, counters, label names, files
 *   DIR/png/NNNNNN.png  previews of the first K images (--png K)
 * --format parquet writes the index as DIR/index.parquet instead of index.csv
 * (the library's cf_flowpic_index through its Parquet sink); images stay npy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/cuflow.h"
#include "cuflow/npy.h"
#include "cli.h"

enum { O_PRESET = 2000, O_RES, O_WINDOW, O_STEP, O_RIGHT_OPEN, O_TIME_AXIS, O_ANCHOR, O_OVERSIZE, O_SIZE_BINS,
       O_VALUE, O_DIR, O_MIN_PK, O_MIN_SPAN, O_SIZE, O_SESSIONS, O_IDLE, O_IPV6, O_TIME, O_MAX_WIN, O_PNG,
       O_SHARD, O_THREADS, O_FORMAT };

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow flowpic [options] CAPTURE... -o DIR\n"
	        "\n"
	        "FlowPic images (2-D histograms of packet size against time) of every flow window:\n"
	        "DIR/flowpic.npy (N x C x H x W), index.csv, labels.npy, meta.json.\n"
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

typedef struct fp_out {
	const char *dir;
	cf_flowpic_opts o;
	cf_npy_writer *img, *lab;
	FILE *index;
	cf_flowpic_index *idx;  /* --format parquet: index rows gathered here ... */
	cf_sink *idx_sink;      /* ... and written by the library's Parquet sink */
	cli_label *labels;
	uint64_t rows, dropped, png_left, png_done;
	int failed;
	char err[CF_ERRBUF_SIZE];
} fp_out;

/* --format parquet: the index rows held go to the sink. */
static int index_flush(fp_out *x)
{
	if (!x->failed && cf_flowpic_index_count(x->idx) &&
	    cf_sink_write(x->idx_sink, cf_flowpic_index_batch(x->idx)) != CF_OK) {
		snprintf(x->err, sizeof x->err, "%s", cf_sink_error(x->idx_sink));
		x->failed = 1;
	}
	cf_flowpic_index_reset(x->idx);
	return x->failed ? -1 : 0;
}

static int emit_image(void *user, const cf_flowpic_image *im)
{
	fp_out *x = user;
	int64_t label = -1;
	if (x->labels->labeler) {
		cf_label_query q = {im->ip_version, im->proto, im->src_ip, im->dst_ip, im->src_port, im->dst_port,
		                    im->first_ns, im->last_ns};
		int id = cf_labeler_match(x->labels->labeler, &q);
		if (id == CF_LABEL_DROP) {
			x->dropped++;
			return 0;
		}
		label = id;
	}
	int st = im->nonzero ? cf_npy_writer_append_sparse(x->img, im->pixels, 1, im->nonzero, im->n_nonzero)
	                     : cf_npy_writer_append(x->img, im->pixels, 1);
	if (st < 0 || (x->lab && cf_npy_writer_append(x->lab, &label, 1) < 0)) {
		snprintf(x->err, sizeof x->err, "%s", cf_npy_writer_error(x->lab && cf_npy_writer_error(x->lab)[0] ? x->lab : x->img));
		x->failed = 1;
		return CF_ERR_IO;
	}
	if (x->idx) {
		const char *name = label >= 0 ? cf_labeler_name(x->labels->labeler, (uint32_t)label) : NULL;
		if (cf_flowpic_index_add(x->idx, im, label, name) < 0) {
			snprintf(x->err, sizeof x->err, "out of memory");
			x->failed = 1;
			return CF_ERR_NOMEM;
		}
		if (cf_flowpic_index_full(x->idx) && index_flush(x) < 0)
			return CF_ERR_IO;
	} else {
		char a[64], b[64];
		cli_ip_str(im->src_ip, im->ip_version, a, sizeof a);
		cli_ip_str(im->dst_ip, im->ip_version, b, sizeof b);
		fprintf(x->index, "%s,%u,%s,%u,%u,%u,%" PRId64 ",%u,", a, im->src_port, b, im->dst_port, im->proto, im->window,
		        im->window_start_ns, im->packets);
		/* quoted where it must be: a label may hold a comma */
		cli_csv_field(x->index, label >= 0 ? cf_labeler_name(x->labels->labeler, (uint32_t)label) : "");
		fputc('\n', x->index);
	}
	if (x->png_left) {
		char path[4096];
		snprintf(path, sizeof path, "%s/png/%06" PRIu64 ".png", x->dir, x->rows);
		if (cf_flowpic_png_write(path, im, &x->o, x->err) < 0) {
			x->failed = 1;
			return CF_ERR_IO;
		}
		x->png_left--;
		x->png_done++;
	}
	x->rows++;
	return 0;
}

static int parse_num(const char *opt, const char *s, double lo, double *v)
{
	char *e;
	errno = 0;
	*v = strtod(s, &e);
	if (errno || e == s || *e || !(*v >= lo)) {
		fprintf(stderr, "cuflow flowpic: %s needs a number >= %g, not '%s'\n", opt, lo, s);
		return -1;
	}
	return 0;
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

static const char *const axis_names[] = {"stretch", "edges", "scale", NULL};
static const char *const value_names[] = {"count", "capped", "norm", NULL};
static const char *const dir_names[] = {"up", "down", "both", "2ch", NULL};

static void write_meta(fp_out *x, const cf_flowpic_counters *k, const cf_summary *s, const char *backend,
                       const char *preset)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/meta.json", x->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		snprintf(x->err, sizeof x->err, "cannot write %.300s: %s", path, strerror(errno));
		x->failed = 1;
		return;
	}
	const cf_flowpic_opts *o = &x->o;
	static const char *const dtype[] = {"uint16", "uint8", "float32"};
	fprintf(f, "{\n  \"tool\": \"cuflow flowpic %s\",\n  \"backend\": \"%s\",\n  \"preset\": \"%s\",\n", cf_version(),
	        backend, preset);
	fprintf(f, "  \"shape\": [%" PRIu64 ", %u, %u, %u],\n  \"dtype\": \"%s\",\n  \"layout\": \"H[size row][time column], "
	        "row 0 = smallest size, column 0 = earliest time\",\n",
	        x->rows, cf_flowpic_channels(o), o->res, o->res, dtype[o->value]);
	fprintf(f,
	        "  \"options\": {\"resolution\": %u, \"window_s\": %.17g, \"step_s\": %.17g, \"right_closed\": %s, "
	        "\"time_axis\": \"%s\", \"anchor\": \"%s\", \"oversize\": \"%s\", \"size_bins\": \"%s\", \"value\": \"%s\", "
	        "\"direction\": \"%s\", \"min_packets\": %u, \"min_span_s\": %.17g, \"size\": \"%s\", \"sessions\": \"%s\", "
	        "\"idle_timeout_s\": %.17g, \"ipv4_only\": %s, \"time\": \"%s\", \"max_windows\": %u},\n",
	        o->res, o->window_s, o->step_s, o->right_closed ? "true" : "false", axis_names[o->time_axis],
	        o->anchor_first ? "first" : "window", o->size_clip ? "clip" : "drop", o->size_edges == CF_FLOWPIC_SIZE_EDGES ? "edges" : o->size_edges ? "tcbench" : "scale",
	        value_names[o->value], dir_names[o->direction], o->min_packets, o->min_span_s,
	        o->size_frame ? "frame" : "ip", o->sessions ? "bidir" : "uni", o->idle_timeout_s,
	        o->ipv4_only ? "true" : "false", o->time_model ? "exact" : "dpkt", o->max_windows);
	fprintf(f,
	        "  \"counters\": {\"packets\": %" PRIu64 ", \"no_ip_5tuple\": %" PRIu64 ", \"not_used\": %" PRIu64
	        ", \"after_single_window\": %" PRIu64 ", \"sessions\": %" PRIu64 ", \"windows\": %" PRIu64 ", \"windows_too_few_packets\": %" PRIu64
	        ", \"windows_too_short\": %" PRIu64 ", \"images\": %" PRIu64 ", \"images_unlabelled_dropped\": %" PRIu64
	        ", \"entries\": %" PRIu64 ", \"entries_outside_image\": %" PRIu64 ", \"batches\": %" PRIu64 "},\n",
	        k->packets, k->skipped_decode, k->not_used, k->after_window, k->sessions, k->windows, k->windows_small, k->windows_short,
	        k->images, x->dropped, k->entries, k->entries_outside, k->batches);
	fprintf(f, "  \"decoder_skips\": {");
	int first = 1;
	for (int r = 1; r < CF_SKIP_COUNT; r++)
		if (s->skip[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", cf_skip_name(r), s->skip[r]);
			first = 0;
		}
	fprintf(f, "},\n  \"labels\": ");
	if (x->labels->labeler) {
		fprintf(f, "{\"source\": ");
		cli_json_str(f, x->labels->desc);
		fprintf(f, ", \"names\": [");
		for (uint32_t i = 0; i < cf_labeler_count(x->labels->labeler); i++) {
			fprintf(f, "%s", i ? ", " : "");
			cli_json_str(f, cf_labeler_name(x->labels->labeler, i));
		}
		fprintf(f, "]}");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ",\n  \"files\": [");
	for (uint32_t i = 0; i < cf_npy_writer_files(x->img); i++) {
		fprintf(f, "%s{\"path\": ", i ? ", " : "");
		cli_json_str(f, cf_npy_writer_file_path(x->img, i));
		fprintf(f, ", \"rows\": %" PRIu64 "}", cf_npy_writer_file_rows(x->img, i));
	}
	fprintf(f, "],\n  \"png\": %" PRIu64 "\n}\n", x->png_done);
	if (ferror(f) | fclose(f)) {
		snprintf(x->err, sizeof x->err, "writing %.300s failed", path);
		x->failed = 1;
	}
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
		{"png", required_argument, 0, O_PNG}, {"shard-rows", required_argument, 0, O_SHARD},
		{"threads", required_argument, 0, O_THREADS}, {"format", required_argument, 0, O_FORMAT},
		CLI_TABLES_LONGOPTS,
		CLI_LABEL_LONGOPTS,
		{"filter", required_argument, 0, 'f'}, {"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	/* the preset first: the other options change it */
	const char *preset = "official";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--preset") && i + 1 < argc)
			preset = argv[i + 1];
		else if (!strncmp(argv[i], "--preset=", 9))
			preset = argv[i] + 9;
	}
	fp_out x;
	memset(&x, 0, sizeof x);
	if (cf_flowpic_preset(&x.o, preset) < 0) {
		fprintf(stderr, "cuflow flowpic: --preset takes official or mini, not '%s'\n", preset);
		return CLI_EXIT_USAGE;
	}
	cli_scan cs;
	cli_scan_init(&cs);
	cli_label lab;
	cli_label_init(&lab);
	x.labels = &lab;
	int quiet = 0;
	uint64_t shard = 0;
	int parquet = 0;
	cli_tables_opts tab = {0};
	const char *format = NULL;
	double v;
	optind = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:f:b:qh", longopts, NULL)) != -1) {
		int r = cli_label_option(&lab, "flowpic", opt, optarg);
		if (!r)
			r = cli_tables_option(&tab, "flowpic", opt, optarg);
		if (r < 0)
			return CLI_EXIT_USAGE;
		if (r)
			continue;
		int bad = 0, iv;
		switch (opt) {
		case 'o': x.dir = optarg; break;
		case O_PRESET: break;
		case O_RES:
			bad = parse_num("--resolution", optarg, 1, &v) || v > 4096 || v != (uint32_t)v;
			x.o.res = (uint32_t)v;
			break;
		case O_WINDOW: bad = parse_num("--window", optarg, 1e-9, &x.o.window_s); break;
		case O_STEP: bad = parse_num("--step", optarg, 0, &x.o.step_s); break;
		case O_RIGHT_OPEN: x.o.right_closed = 0; break;
		case O_TIME_AXIS: bad = pick("--time-axis", optarg, axis_names, &x.o.time_axis); break;
		case O_ANCHOR: {
			static const char *const n[] = {"window", "first", NULL};
			bad = pick("--anchor", optarg, n, &x.o.anchor_first);
			break;
		}
		case O_OVERSIZE: {
			static const char *const n[] = {"drop", "clip", NULL};
			bad = pick("--oversize", optarg, n, &x.o.size_clip);
			break;
		}
		case O_SIZE_BINS: {
			static const char *const n[] = {"scale", "edges", "tcbench", NULL};
			bad = pick("--size-bins", optarg, n, &x.o.size_edges);
			break;
		}
		case O_VALUE: bad = pick("--value", optarg, value_names, &x.o.value); break;
		case O_DIR: bad = pick("--direction", optarg, dir_names, &x.o.direction); break;
		case O_MIN_PK:
			bad = parse_num("--min-packets", optarg, 0, &v) || v > 4e9;
			x.o.min_packets = (uint32_t)v;
			break;
		case O_MIN_SPAN: {
			char *e;
			x.o.min_span_s = strtod(optarg, &e);
			bad = e == optarg || *e;
			break;
		}
		case O_SIZE: {
			static const char *const n[] = {"ip", "frame", NULL};
			bad = pick("--size", optarg, n, &x.o.size_frame);
			break;
		}
		case O_SESSIONS: {
			static const char *const n[] = {"uni", "bidir", NULL};
			bad = pick("--sessions", optarg, n, &x.o.sessions);
			break;
		}
		case O_IDLE: bad = parse_num("--idle-timeout", optarg, 1e-9, &x.o.idle_timeout_s); break;
		case O_IPV6: x.o.ipv4_only = 0; break;
		case O_TIME: {
			static const char *const n[] = {"dpkt", "exact", NULL};
			bad = pick("--time", optarg, n, &x.o.time_model);
			break;
		}
		case O_MAX_WIN:
			bad = parse_num("--max-windows", optarg, 0, &v) || v > 4e9;
			x.o.max_windows = (uint32_t)v;
			break;
		case O_PNG:
			bad = parse_num("--png", optarg, 0, &v);
			x.png_left = (uint64_t)v;
			break;
		case O_SHARD:
			bad = parse_num("--shard-rows", optarg, 1, &v);
			shard = (uint64_t)v;
			break;
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
			iv = cli_scan_option(&cs, "flowpic", opt, optarg);
			if (iv == 1)
				break;
			if (iv == 0)
				usage(stderr);
			return CLI_EXIT_USAGE;
		}
		if (bad) {
			if (opt != O_TIME_AXIS && opt != O_VALUE && opt != O_DIR)
				fprintf(stderr, "cuflow flowpic: bad value '%s'\n", optarg);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc || !x.dir) {
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
		if (x.png_left) {
			fprintf(stderr, "cuflow flowpic: --png is not served with --jobs yet\n");
			return CLI_EXIT_USAGE;
		}
		cf_flowpic_producer_config pc;
		cf_flowpic_producer_config_default(&pc);
		pc.pic = x.o;
		pc.labels.csv = lab.csv;
		pc.labels.csv_opts = lab.lo;
		pc.labels.constant = lab.constant;
		pc.labels.from_dir = lab.from_dir;
		char oj[256];
		snprintf(oj, sizeof oj, "{\"command\": \"flowpic\", \"format\": \"%s\", \"res\": %u}",
		         format ? format : "npy", x.o.res);
		cli_tables t = {"flowpic", cf_producer_flowpic(), &pc, &pc.labels, x.dir, format ? format : "npy", shard, &cs,
		                tab, quiet, oj};
		return cli_run_tables(&t, argv + optind, argc - optind);
	}
	if (format && !parquet && strcmp(format, "npy")) {
		fprintf(stderr, "cuflow flowpic: --format %s needs --jobs\n", format);
		return CLI_EXIT_USAGE;
	}
	char err[CF_ERRBUF_SIZE], path[4096];
	int rc = CLI_EXIT_USAGE;
	cf_flowpic *h = NULL;
	cf_scan_result *res = NULL;
	if (cli_label_open(&lab, "flowpic", argv[optind]) < 0)
		return CLI_EXIT_USAGE;
	if (mkdir(x.dir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "cuflow flowpic: cannot create %s: %s\n", x.dir, strerror(errno));
		goto done;
	}
	if (x.png_left) {
		snprintf(path, sizeof path, "%s/png", x.dir);
		if (mkdir(path, 0777) < 0 && errno != EEXIST) {
			fprintf(stderr, "cuflow flowpic: cannot create %s: %s\n", path, strerror(errno));
			goto done;
		}
	}
	if (cli_scan_open(&cs, "flowpic", !quiet) < 0)
		goto done;
	if (cf_flowpic_open(&x.o, cs.so.backend, emit_image, &x, &h, err) < 0) {
		fprintf(stderr, "cuflow %s\n", err);
		goto done;
	}
	static const int npy_dtype[] = {CF_NPY_U2, CF_NPY_U1, CF_NPY_F4};
	uint64_t shape[3] = {cf_flowpic_channels(&x.o), x.o.res, x.o.res};
	snprintf(path, sizeof path, "%s/flowpic.npy", x.dir);
	if (cf_npy_writer_open(path, npy_dtype[x.o.value], 3, shape, shard, &x.img, err) < 0) {
		fprintf(stderr, "cuflow flowpic: %s\n", err);
		goto done;
	}
	if (lab.labeler) {
		snprintf(path, sizeof path, "%s/labels.npy", x.dir);
		if (cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, shard, &x.lab, err) < 0) {
			fprintf(stderr, "cuflow flowpic: %s\n", err);
			goto done;
		}
	}
	if (parquet) {
		snprintf(path, sizeof path, "%s/index.parquet", x.dir);
		if (cf_flowpic_index_create(65536, lab.labeler != NULL, &x.idx, err) != CF_OK ||
		    cf_sink_open("parquet", cf_flowpic_index_schema(x.idx), path, NULL, &x.idx_sink, err) != CF_OK) {
			fprintf(stderr, "cuflow flowpic: %s\n", err);
			goto done;
		}
	} else {
		snprintf(path, sizeof path, "%s/index.csv", x.dir);
		if (!(x.index = fopen(path, "w"))) {
			fprintf(stderr, "cuflow flowpic: cannot write %s: %s\n", path, strerror(errno));
			goto done;
		}
		fputs("src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label\n", x.index);
	}
	if (!(res = malloc(sizeof *res)))
		goto done;
	cf_summary total;
	cf_summary_clear(&total);
	int damaged = 0;
	for (int i = optind; i < argc && !x.failed; i++) {
		cli_label_file(&lab, argv[i]);
		cli_progress *pr = cli_progress_start(argv[i], !quiet);
		cs.so.progress = cli_progress_update;
		cs.so.progress_user = pr;
		int st = cf_flowpic_scan_file(h, argv[i], &cs.so, res);
		cli_progress_end(pr);
		cf_summary_merge(&total, &res->summary);
		if (x.failed || (st < 0 && cf_flowpic_error(h)[0])) {
			fprintf(stderr, "cuflow flowpic: %s\n", x.failed ? x.err : cf_flowpic_error(h));
			x.failed = 1;
		} else if (res->status < 0) {
			fprintf(stderr, "cuflow flowpic: %s\n", res->error);
			damaged = 1;
		}
	}
	cf_flowpic_counters k;
	cf_flowpic_counters_get(h, &k);
	if (!x.failed)
		write_meta(&x, &k, &total, cf_backend_name(cs.so.backend), preset);
	if (cf_npy_writer_close(x.img, err) < 0 && !x.failed) {
		snprintf(x.err, sizeof x.err, "%s", err);
		x.failed = 1;
	}
	x.img = NULL;
	if (x.lab && cf_npy_writer_close(x.lab, err) < 0 && !x.failed) {
		snprintf(x.err, sizeof x.err, "%s", err);
		x.failed = 1;
	}
	x.lab = NULL;
	if (x.index && (ferror(x.index) | fclose(x.index)) && !x.failed) {
		snprintf(x.err, sizeof x.err, "writing index.csv failed");
		x.failed = 1;
	}
	x.index = NULL;
	if (x.idx_sink) {
		index_flush(&x);
		if (x.failed)
			cf_sink_abort(x.idx_sink);
		else if (cf_sink_close(x.idx_sink, NULL, err) != CF_OK) {
			snprintf(x.err, sizeof x.err, "%s", err);
			x.failed = 1;
		}
		x.idx_sink = NULL;
	}
	if (x.failed) {
		fprintf(stderr, "cuflow flowpic: %s\n", x.err);
		goto done;
	}
	if (!quiet)
		fprintf(stderr,
		        "cuflow flowpic: %" PRIu64 " images from %" PRIu64 " sessions (%" PRIu64 " packets read; windows: %" PRIu64
		        " too few packets, %" PRIu64 " too short)%s\n",
		        x.rows, k.sessions, k.packets, k.windows_small, k.windows_short, lab.labeler ? "" : "");
	rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	free(res);
	cf_npy_writer_close(x.img, NULL);
	cf_npy_writer_close(x.lab, NULL);
	if (x.index)
		fclose(x.index);
	cf_sink_abort(x.idx_sink);
	cf_flowpic_index_free(x.idx);
	cf_flowpic_close(h);
	cli_scan_close(&cs);
	cli_label_close(&lab);
	return rc;
}

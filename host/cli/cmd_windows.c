/*
 * cuflow windows: seed 001's window aggregates (docs/windows.md). Without
 * --jobs every input (captures in order, or one --entries-csv) is one
 * stream, so windows span files, written to one file or npy directory
 * OUT; with --jobs the "windows" producer runs through the run driver,
 * windows per file (cli_run_tables).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuflow/cuflow.h"
#include "cli.h"

enum { O_WINDOW = 2000, O_STEP, O_BATCHING, O_ENTRIES, O_ENTRIES_CSV, O_DISTINCT, O_EMPTY, O_LATENESS, O_IDLE,
       O_FORMAT, O_PLOT, O_DUMP, O_THREADS };

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow windows [options] CAPTURE... -o OUT\n"
	        "       cuflow windows [options] --entries-csv FILE -o OUT\n"
	        "\n"
	        "Seed 001's per-window traffic aggregates (port scans, DoS): one row per window of\n"
	        "entry counts, distinct ports and addresses, entries per state and the\n"
	        "distributions (max, mean, quartiles, 90th percentile) of entries per connection,\n"
	        "destination/source address and destination port. docs/windows.md.\n"
	        "\n"
	        "  -o, --output OUT        OUT.csv, OUT.parquet, OUT.jsonl, else an npy directory\n"
	        "                          (with --jobs: a directory of parts + manifest.json)\n"
	        "  --format F              csv, parquet, jsonl or npy (default: from OUT's name)\n"
	        "  --window T              window length in seconds (default 10)\n"
	        "  --step S                sliding windows every S seconds (S < T)\n"
	        "  --batching B            tumbling (default: [kT, (k+1)T) from the epoch) or seed\n"
	        "                          (the notebook's rule, input order, tail dropped)\n"
	        "  --entries packets       one entry per TCP/UDP/ICMP packet (the default)\n"
	        "  --entries flows         one entry per finished flow (the flows command's defaults;\n"
	        "                          --lateness defaults to idle + active timeout, 1920 s)\n"
	        "  --entries-csv FILE      entries from a CSV (ts, src_ip, src_port, dst_ip,\n"
	        "                          dst_port, ip_protocol, state[, bytes_up, bytes_down])\n"
	        "  --distinct              add distinct_A_per_G_* (nunique per group) columns\n"
	        "  --empty                 also write empty windows between non-empty ones\n"
	        "  --lateness L            seconds a window waits for late entries (default 1)\n"
	        "  --idle-timeout I        packets: seconds after which a flow is forgotten (120)\n"
	        "  --label NAME            a `label` column with NAME on every row\n"
	        "  --label-from-dir        with --jobs: each input's directory name as its label\n"
	        "  --plot COLS             the columns COLS (comma-separated, up to 16) as time\n"
	        "                          series in a PNG: OUT itself when it ends in .png (no\n"
	        "                          table then), else OUT.png beside the table\n"
	        "  --dump-entries FILE     also write every entry as an entries CSV (to check them,\n"
	        "                          or to feed other tools the same entries)\n"
	        "%s"
	        "  --threads 2             packets: the windows in a second thread, overlapped with\n"
	        "                          reading and decoding (the same output)\n"
	        "  -b, --backend B         auto (default), cpu or cuda\n"
	        "  -f, --filter EXPR       tcpdump filter on the packets\n"
	        "  -q, --quiet             no summary on stderr\n",
	        cli_jobs_usage);
}

/* Seconds (decimal) to ns; -1 when bad. */
static int seconds_ns(const char *opt, const char *s, int64_t min_ns, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v * 1e9 >= (double)min_ns) || v * 1e9 > 9e18) {
		fprintf(stderr, "cuflow windows: bad %s '%s'\n", opt, s);
		return -1;
	}
	*out = llround(v * 1e9);
	return 0;
}

struct direct {
	cf_sink *sink;
	cf_windows *w;
	cf_flow_engine *flows;    /* --entries flows */
	FILE *dump;
	/* --plot: the chosen columns, kept as doubles */
	int n_plot;
	int32_t plot_col[16], time_col;
	const char *plot_name[16];
	double *plot_v[16];
	int64_t *plot_t;
	size_t plot_n, plot_cap;
};

static double cell_value(const cf_table_schema *s, const cf_table_batch *b, int32_t c, int64_t r)
{
	const cf_table_column *col = cf_table_schema_column(s, (uint32_t)c);
	const cf_table_array *a = &b->columns[c];
	if (a->validity && !(a->validity[r / 8] >> (r % 8) & 1))
		return NAN;
	if (col->dtype == CF_DTYPE_FLOAT64)
		return ((const double *)a->values)[r];
	return (double)((const int64_t *)a->values)[r];
}

/* Keeps the plotted columns of a batch of rows. */
static int keep_plot(struct direct *d, const cf_table_batch *b)
{
	const cf_table_schema *s = cf_windows_schema(d->w);
	if (d->plot_n + (size_t)b->n_rows > d->plot_cap) {
		size_t cap = d->plot_cap ? d->plot_cap * 2 : 1024;
		while (cap < d->plot_n + (size_t)b->n_rows)
			cap *= 2;
		for (int i = 0; i < d->n_plot; i++) {
			double *v = realloc(d->plot_v[i], cap * sizeof *v);
			if (!v)
				return CF_ERR_NOMEM;
			d->plot_v[i] = v;
		}
		int64_t *t = realloc(d->plot_t, cap * sizeof *t);
		if (!t)
			return CF_ERR_NOMEM;
		d->plot_t = t;
		d->plot_cap = cap;
	}
	for (int64_t r = 0; r < b->n_rows; r++) {
		for (int i = 0; i < d->n_plot; i++)
			d->plot_v[i][d->plot_n] = cell_value(s, b, d->plot_col[i], r);
		d->plot_t[d->plot_n] = (int64_t)cell_value(s, b, d->time_col, r);
		d->plot_n++;
	}
	return CF_OK;
}

static const char *proto_name(uint8_t p, char *buf)
{
	switch (p) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmpv6";
	default: snprintf(buf, 8, "%u", p); return buf;
	}
}

/* One entry as a line of the entries CSV (docs/windows.md §1). */
static int dump_entry(void *user, const cf_window_entry *e)
{
	struct direct *d = user;
	char s[64], t[64], pb[8];
	cli_ip_str(e->src_ip, e->ip_version, s, sizeof s);
	cli_ip_str(e->dst_ip, e->dst_ip_version ? e->dst_ip_version : e->ip_version, t, sizeof t);
	int64_t sec = e->ts_ns / 1000000000ll, ns = e->ts_ns % 1000000000ll;
	if (ns < 0)
		sec--, ns += 1000000000ll;
	const char *sign = sec < 0 ? "-" : "";
	if (sec < 0) { /* -1.25 s is sec -2, ns 750000000: print the exact value */
		int64_t v = -e->ts_ns;
		sec = v / 1000000000ll, ns = v % 1000000000ll;
	}
	return fprintf(d->dump, "%s%" PRId64 ".%09" PRId64 ",%s,%u,%s,%u,%s,%s,%" PRIu64 ",%" PRIu64 "\n", sign, sec, ns, s,
	               e->src_port, t, e->dst_port, proto_name(e->proto, pb), cf_window_state_name(e->state),
	               e->bytes_up, e->bytes_down) < 0
	               ? CF_ERR_IO
	               : CF_OK;
}

static int to_sink(void *user, const cf_table_batch *b)
{
	struct direct *d = user;
	int st = d->n_plot ? keep_plot(d, b) : CF_OK;
	if (st == CF_OK && d->sink)
		st = cf_sink_write(d->sink, b);
	return st;
}

static int on_flow(void *user, const cf_flow_record *r)
{
	return cf_windows_add_flow(((struct direct *)user)->w, r);
}

static int on_packets(void *user, const cf_pkt *p, size_t n)
{
	return cf_windows_add_packets(((struct direct *)user)->w, p, n);
}

static const char *format_of(const char *out)
{
	size_t n = strlen(out);
	if (n > 4 && !strcmp(out + n - 4, ".csv"))
		return "csv";
	if (n > 8 && !strcmp(out + n - 8, ".parquet"))
		return "parquet";
	if (n > 6 && !strcmp(out + n - 6, ".jsonl"))
		return "jsonl";
	return "npy";
}

int cmd_windows(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},  {"window", required_argument, 0, O_WINDOW},
		{"step", required_argument, 0, O_STEP}, {"batching", required_argument, 0, O_BATCHING},
		{"entries", required_argument, 0, O_ENTRIES}, {"entries-csv", required_argument, 0, O_ENTRIES_CSV},
		{"distinct", no_argument, 0, O_DISTINCT}, {"empty", no_argument, 0, O_EMPTY},
		{"lateness", required_argument, 0, O_LATENESS}, {"idle-timeout", required_argument, 0, O_IDLE},
		{"format", required_argument, 0, O_FORMAT}, {"dump-entries", required_argument, 0, O_DUMP},
		CLI_LABEL_LONGOPTS,
		{"plot", required_argument, 0, O_PLOT}, {"threads", required_argument, 0, O_THREADS},
		CLI_TABLES_LONGOPTS,
		{"filter", required_argument, 0, 'f'}, {"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
	};
	cf_windows_opts o;
	cf_windows_opts_default(&o);
	cli_scan cs;
	cli_scan_init(&cs);
	cli_tables_opts tab = {0};
	cli_label lab;
	cli_label_init(&lab);
	const char *out = NULL, *format = NULL, *entries_csv = NULL, *dump = NULL, *plot = NULL;
	int quiet = 0, opt, entries_flows = 0, lateness_given = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:f:b:qh", longopts, NULL)) != -1) {
		int r = cli_tables_option(&tab, "windows", opt, optarg);
		if (!r)
			r = cli_label_option(&lab, "windows", opt, optarg);
		if (r < 0)
			return CLI_EXIT_USAGE;
		if (r)
			continue;
		int bad = 0;
		switch (opt) {
		case 'o': out = optarg; break;
		case O_WINDOW: bad = seconds_ns("--window", optarg, 1, &o.window_ns); break;
		case O_STEP: bad = seconds_ns("--step", optarg, 1, &o.step_ns); break;
		case O_LATENESS: bad = seconds_ns("--lateness", optarg, 0, &o.lateness_ns), lateness_given = 1; break;
		case O_IDLE: bad = seconds_ns("--idle-timeout", optarg, 1, &o.idle_timeout_ns); break;
		case O_BATCHING:
			if (!strcmp(optarg, "tumbling"))
				o.batching = CF_WINDOWS_TUMBLING;
			else if (!strcmp(optarg, "seed"))
				o.batching = CF_WINDOWS_SEED;
			else
				bad = 1, fprintf(stderr, "cuflow windows: --batching takes tumbling or seed\n");
			break;
		case O_ENTRIES:
			if (!strcmp(optarg, "flows"))
				entries_flows = 1;
			else if (strcmp(optarg, "packets"))
				bad = 1, fprintf(stderr, "cuflow windows: --entries takes packets or flows\n");
			break;
		case O_ENTRIES_CSV: entries_csv = optarg; break;
		case O_DUMP: dump = optarg; break;
		case O_PLOT: plot = optarg; break;
		case O_THREADS:
			bad = strcmp(optarg, "1") && strcmp(optarg, "2");
			if (bad)
				fprintf(stderr, "cuflow windows: --threads takes 1 or 2\n");
			cs.so.hook_thread = !strcmp(optarg, "2");
			break;
		case O_DISTINCT: o.distinct = 1; break;
		case O_EMPTY: o.empty = 1; break;
		case O_FORMAT:
			bad = strcmp(optarg, "npy") && strcmp(optarg, "parquet") && strcmp(optarg, "csv") && strcmp(optarg, "jsonl");
			if (bad)
				fprintf(stderr, "cuflow windows: --format takes csv, parquet, jsonl or npy\n");
			format = optarg;
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default:
			r = cli_scan_option(&cs, "windows", opt, optarg);
			if (r == 1)
				break;
			if (r == 0)
				usage(stderr);
			return CLI_EXIT_USAGE;
		}
		if (bad)
			return CLI_EXIT_USAGE;
	}
	cli_tables_ranks(&tab);
	int n_in = argc - optind;
	if (!out || (!n_in && !entries_csv) || (n_in && entries_csv)) {
		fprintf(stderr, "cuflow windows: %s\n\n",
		        !out ? "no output (-o) given"
		             : entries_csv ? "--entries-csv takes no captures" : "no capture given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!tab.jobs && (tab.resume || tab.part_rows || tab.row_group_rows)) {
		fprintf(stderr, "cuflow windows: --resume, --part-rows and --row-group-rows need --jobs\n");
		return CLI_EXIT_USAGE;
	}
	if (lab.csv || (lab.constant && lab.from_dir) || (lab.from_dir && !tab.jobs)) {
		fprintf(stderr, "cuflow windows: %s\n",
		        lab.csv ? "--labels CSV is not served for windows (--label NAME and, with --jobs, "
		                  "--label-from-dir are)"
		        : lab.from_dir && !tab.jobs ? "--label-from-dir needs --jobs (without it windows span files)"
		                                    : "--label and --label-from-dir exclude each other");
		return CLI_EXIT_USAGE;
	}
	o.label_column = lab.constant != NULL;
	cf_flow_opts fo;
	cf_flow_opts_default(&fo);
	if (entries_flows) {
		if (entries_csv || tab.jobs) {
			fprintf(stderr, "cuflow windows: --entries flows takes captures, without --jobs\n");
			return CLI_EXIT_USAGE;
		}
		/* a flow's entry (its first packet's time) arrives when the flow ends */
		if (!lateness_given)
			o.lateness_ns = fo.idle_timeout_ns + fo.active_timeout_ns;
	}
	if (o.step_ns && o.step_ns >= o.window_ns) {
		fprintf(stderr, "cuflow windows: --step must be shorter than --window\n");
		return CLI_EXIT_USAGE;
	}
	if (o.batching == CF_WINDOWS_SEED && (o.step_ns || o.window_ns % 1000000000ll)) {
		fprintf(stderr, "cuflow windows: --batching seed takes a whole number of seconds and no --step\n");
		return CLI_EXIT_USAGE;
	}
	if (tab.jobs) {
		if (entries_csv || dump || plot || o.batching == CF_WINDOWS_SEED) {
			fprintf(stderr, "cuflow windows: --jobs takes captures with tumbling or sliding windows "
			                "(no --dump-entries or --plot)\n");
			return CLI_EXIT_USAGE;
		}
		cf_windows_producer_config pc;
		cf_windows_producer_config_default(&pc);
		pc.win = o;
		pc.win.label_column = 0; /* the producer adds it from its labels */
		pc.labels.constant = lab.constant;
		pc.labels.from_dir = lab.from_dir;
		char oj[256];
		snprintf(oj, sizeof oj,
		         "{\"command\": \"windows\", \"window_ns\": %" PRId64 ", \"step_ns\": %" PRId64 ", \"distinct\": %d}",
		         o.window_ns, o.step_ns, o.distinct);
		cli_tables t = {"windows", cf_producer_windows(), &pc, &pc.labels, out, format ? format : "parquet", 0, &cs,
		                tab, quiet, oj};
		return cli_run_tables(&t, argv + optind, n_in);
	}

	/* one stream: every input in order through one engine */
	char err[CF_ERRBUF_SIZE];
	int rc = CLI_EXIT_OK;
	struct direct d = {0};
	cf_run_inputs *inputs = NULL;
	if (n_in && cf_run_inputs_expand((const char *const *)(argv + optind), n_in, &inputs, err) < 0) {
		fprintf(stderr, "cuflow windows: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (cli_scan_open(&cs, "windows", !quiet) < 0) {
		cf_run_inputs_free(inputs);
		return CLI_EXIT_USAGE;
	}
	if (cf_windows_create(&o, cs.so.backend, &d.w, err) != CF_OK) {
		fprintf(stderr, "cuflow windows: %s\n", err);
		rc = CLI_EXIT_USAGE;
		goto done;
	}
	size_t olen = strlen(out);
	int png_only = olen > 4 && !strcmp(out + olen - 4, ".png");
	char plot_path[4096];
	snprintf(plot_path, sizeof plot_path, png_only ? "%s" : "%s.png", out);
	if (png_only && !plot) {
		fprintf(stderr, "cuflow windows: -o %s: a .png output needs --plot COLS\n", out);
		rc = CLI_EXIT_USAGE;
		goto done;
	}
	if (plot) {
		const cf_table_schema *sch = cf_windows_schema(d.w);
		d.time_col = cf_table_schema_find(sch, o.batching == CF_WINDOWS_SEED ? "flow_batch" : "window_start_ns");
		char *list = strdup(plot), *save = NULL;
		for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
			int32_t i = cf_table_schema_find(sch, c);
			if (i < 0 || d.n_plot == 16) {
				fprintf(stderr, "cuflow windows: --plot: %s\n",
				        i < 0 ? "no such column (see the table's header)" : "at most 16 columns");
				if (i < 0)
					fprintf(stderr, "cuflow windows: --plot: '%s' is not a column\n", c);
				free(list);
				rc = CLI_EXIT_USAGE;
				goto done;
			}
			d.plot_col[d.n_plot] = i;
			d.plot_name[d.n_plot++] = cf_table_schema_column(sch, (uint32_t)i)->name;
		}
		free(list);
		if (!d.n_plot) {
			fprintf(stderr, "cuflow windows: --plot takes column names\n");
			rc = CLI_EXIT_USAGE;
			goto done;
		}
	}
	cf_sink_opts so;
	cf_sink_opts_default(&so);
	if (!png_only &&
	    cf_sink_open(format ? format : format_of(out), cf_windows_schema(d.w), out, &so, &d.sink, err) != CF_OK) {
		fprintf(stderr, "cuflow windows: %s\n", err);
		rc = CLI_EXIT_USAGE;
		goto done;
	}
	cf_windows_set_emit(d.w, to_sink, &d);
	if (lab.constant && cf_windows_set_label(d.w, lab.constant) != CF_OK) {
		fprintf(stderr, "cuflow windows: --label: %s\n", cf_windows_error(d.w));
		rc = CLI_EXIT_USAGE;
		goto done;
	}
	if (dump) {
		if (!(d.dump = fopen(dump, "w"))) {
			fprintf(stderr, "cuflow windows: %s: %s\n", dump, strerror(errno));
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		fprintf(d.dump, "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state,bytes_up,bytes_down\n");
		cf_windows_set_entry_hook(d.w, dump_entry, &d);
	}
	int st = CF_OK, damaged = 0;
	uint64_t packets = 0;
	if (entries_csv) {
		st = cf_windows_add_csv(d.w, entries_csv);
	} else {
		if (entries_flows) {
			if (cf_flow_engine_open(&fo, cs.so.backend, on_flow, &d, &d.flows, err) != CF_OK) {
				fprintf(stderr, "cuflow windows: %s\n", err);
				rc = CLI_EXIT_USAGE;
				goto done;
			}
		} else {
			cs.so.on_packets = on_packets;
			cs.so.on_packet_user = &d;
		}
		cli_progress *pr = cli_progress_start("windows", !quiet);
		cs.so.progress = pr ? cli_progress_update : NULL;
		cs.so.progress_user = pr;
		size_t ni = cf_run_inputs_count(inputs);
		for (size_t i = 0; i < ni && st == CF_OK; i++) {
			cf_scan_result res;
			int s = d.flows ? cf_flow_scan_file(cf_run_inputs_path(inputs, i), &cs.so, d.flows, &res)
			                : cf_scan_file(cf_run_inputs_path(inputs, i), &cs.so, &res);
			packets += res.summary.packets;
			if (s < 0 && res.opened && res.error_offset >= 0 && cf_windows_error(d.w)[0] == 0) {
				fprintf(stderr, "cuflow windows: %s (the packets before it were used)\n", res.error);
				damaged = 1;
			} else if (s < 0) {
				if (cf_windows_error(d.w)[0]) {
					st = s;
				} else {
					fprintf(stderr, "cuflow windows: %s\n", res.error);
					damaged = 1;
				}
			}
		}
		cli_progress_end(pr);
		if (d.flows && st == CF_OK && (st = cf_flow_engine_finish(d.flows)) != CF_OK && !cf_windows_error(d.w)[0])
			fprintf(stderr, "cuflow windows: %s\n", cf_flow_engine_error(d.flows));
	}
	if (st == CF_OK)
		st = cf_windows_finish(d.w);
	if (st != CF_OK) {
		fprintf(stderr, "cuflow windows: %s\n", cf_windows_error(d.w)[0] ? cf_windows_error(d.w) : cf_sink_error(d.sink));
		if (d.sink)
			cf_sink_abort(d.sink);
		d.sink = NULL;
		rc = st == CF_ERR_CORRUPT || st == CF_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_DAMAGED;
		if (st == CF_ERR_CORRUPT)
			rc = CLI_EXIT_DAMAGED;
		goto done;
	}
	cf_sink_stats ss;
	if (d.sink && cf_sink_close(d.sink, &ss, err) != CF_OK) {
		d.sink = NULL;
		fprintf(stderr, "cuflow windows: %s\n", err);
		rc = CLI_EXIT_DAMAGED;
		goto done;
	}
	d.sink = NULL;
	if (d.n_plot) {
		char title[160];
		if (o.batching == CF_WINDOWS_SEED) {
			snprintf(title, sizeof title, "cuflow windows: seed batches of %" PRId64 " s", (int64_t)(o.window_ns / 1000000000ll));
		} else {
			time_t t0 = d.plot_n ? (time_t)(d.plot_t[0] / 1000000000ll) : 0;
			struct tm tm;
			gmtime_r(&t0, &tm);
			snprintf(title, sizeof title, "cuflow windows: %g s windows from %04d-%02d-%02d %02d:%02d:%02d UTC",
			         (double)o.window_ns / 1e9, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			         tm.tm_sec);
		}
		int pst = d.plot_n ? cf_windows_plot_png(plot_path, title,
		                                         o.batching == CF_WINDOWS_SEED ? "flow_batch" : "window start (UTC)",
		                                         d.n_plot, d.plot_name, (const double *const *)d.plot_v,
		                                         (int)d.plot_n, o.batching == CF_WINDOWS_SEED ? NULL : d.plot_t, err)
		                   : CF_ERR_NO_DATA;
		if (pst != CF_OK) {
			fprintf(stderr, "cuflow windows: %s\n", d.plot_n ? err : "no window to plot");
			rc = CLI_EXIT_DAMAGED;
		}
	}
	cf_windows_counters c;
	cf_windows_get_counters(d.w, &c);
	if (!quiet) {
		fprintf(stderr, "cuflow windows: %" PRIu64 " windows from %" PRIu64 " entries", c.rows, c.entries);
		if (!entries_csv)
			fprintf(stderr, " (%" PRIu64 " packets read, %" PRIu64 " not TCP/UDP/ICMP, %" PRIu64 " flows)", packets,
			        c.not_ip, c.flows);
		if (c.bad_time)
			fprintf(stderr, "; %" PRIu64 " packets or flows with times past 2115 not used", c.bad_time);
		fprintf(stderr, "; %" PRIu64 " late entries dropped", c.late_entries);
		if (o.batching == CF_WINDOWS_SEED)
			fprintf(stderr, ", %" PRIu64 " entries after the last batch close discarded (as the notebook does)",
			        c.tail_entries);
		fprintf(stderr, " -> %s\n", out);
	}
	if (damaged)
		rc = CLI_EXIT_DAMAGED;
done:
	if (d.dump && fclose(d.dump) && rc == CLI_EXIT_OK) {
		fprintf(stderr, "cuflow windows: %s: %s\n", dump, strerror(errno));
		rc = CLI_EXIT_DAMAGED;
	}
	if (d.sink)
		cf_sink_abort(d.sink);
	cf_flow_engine_close(d.flows);
	cf_windows_free(d.w);
	for (int i = 0; i < d.n_plot; i++)
		free(d.plot_v[i]);
	free(d.plot_t);
	cli_scan_close(&cs);
	cf_run_inputs_free(inputs);
	return rc;
}

/*
 * cuflow sessions: captures into seed 002's SQLite database (sessions,
 * devices, device_ips, dns, files and the view v_session_mnf_devicetype):
 * the "sessions" producer through the run driver's SQLite output.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cuflow/iot.h"

enum { OPT_TYPES = 2000, OPT_DEFAULT, OPT_APPEND, OPT_IDLE, OPT_ACTIVE, OPT_IEEE, OPT_DNS_TIMEOUT, OPT_QUIET, OPT_JOBS, OPT_CONTINUOUS };

static void usage(FILE *o)
{
	fprintf(o,
		"usage: cuflow sessions CAPTURE... -o DB.sqlite [options]\n"
		"\n"
		"One-direction sessions with the device that sent them, the devices (IEEE vendor,\n"
		"DHCP hostname, addresses) and every DNS query, in a SQLite database that seed\n"
		"002's query runs on unchanged (docs/sessions.md). One transaction per capture.\n"
		"\n"
		"  -o, --output DB         the database (replaced unless --append)\n"
		"  --append                keep DB and add to it; captures already in its `files`\n"
		"                          table (same path, size and mtime) are skipped\n"
		"  --device-types CSV      key,device_type lines: key a MAC, a MAC prefix (OUI,\n"
		"                          MA-M, MA-S) or a manufacturer name; the most specific wins\n"
		"  --default-type T        the type of devices the CSV does not name: a name\n"
		"                          (\"Other\") or null (the default: unlabelled)\n"
		"  --idle-timeout S        a session quiet for S seconds ends (default 120)\n"
		"  --active-timeout S      a session longer than S seconds is cut (default: never)\n"
		"  --dns-timeout S         a query without answer after S seconds is written as\n"
		"                          unanswered (default 10)\n"
		"  --ieee-data DIR         the IEEE registry CSVs (default $CUFLOW_IEEE_DATA or\n"
		"                          /usr/share/ieee-data, Debian's ieee-data)\n"
		"  --jobs N                N workers, each on its own captures (same database)\n"
		"  --continuous            the captures are one capture cut in files: one stream in\n"
		"                          the order of their first packets, so sessions crossing a\n"
		"                          border are whole (capture_file: the file they end in)\n"
		"  --filter EXPR           BPF filter; --decap, --backend as for flows\n"
		"  -q, --quiet             no progress line\n");
}

static int parse_seconds(const char *opt, const char *arg, double *out, int zero_ok)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0) || v > 1e9 || (!zero_ok && v == 0)) {
		fprintf(stderr, "cuflow sessions: --%s takes seconds, %s 1e9\n", opt, zero_ok ? "0 ..": "> 0 ..");
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_sessions(int argc, char **argv)
{
	static const struct option longs[] = {
		{"output", required_argument, 0, 'o'},
		{"device-types", required_argument, 0, OPT_TYPES},
		{"default-type", required_argument, 0, OPT_DEFAULT},
		{"append", no_argument, 0, OPT_APPEND},
		{"idle-timeout", required_argument, 0, OPT_IDLE},
		{"active-timeout", required_argument, 0, OPT_ACTIVE},
		{"dns-timeout", required_argument, 0, OPT_DNS_TIMEOUT},
		{"ieee-data", required_argument, 0, OPT_IEEE},
		{"jobs", required_argument, 0, OPT_JOBS},
		{"continuous", no_argument, 0, OPT_CONTINUOUS},
		{"filter", required_argument, 0, 'f'},
		{"decap", required_argument, 0, 'd'},
		{"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	cf_sessions_producer_config cfg;
	cf_sessions_producer_config_default(&cfg);
	cli_scan cs;
	cli_scan_init(&cs);
	const char *out = NULL;
	int append = 0, quiet = 0, continuous = 0, c;
	uint32_t jobs = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:f:d:b:qh", longs, NULL)) != -1) {
		int r = cli_scan_option(&cs, "sessions", c, optarg);
		if (r < 0)
			return CLI_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'o': out = optarg; break;
		case OPT_TYPES: cfg.device_types = optarg; break;
		case OPT_DEFAULT: cfg.default_type = strcmp(optarg, "null") ? optarg : NULL; break;
		case OPT_APPEND: append = 1; break;
		case OPT_IDLE:
			if (parse_seconds("idle-timeout", optarg, &cfg.idle_timeout_s, 0) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_ACTIVE:
			if (parse_seconds("active-timeout", optarg, &cfg.active_timeout_s, 1) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_DNS_TIMEOUT:
			if (parse_seconds("dns-timeout", optarg, &cfg.dns_timeout_s, 0) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_IEEE: cfg.ieee_dir = optarg; break;
		case OPT_JOBS:
			if (cli_parse_jobs("sessions", optarg, &jobs) < 0)
				return CLI_EXIT_USAGE;
			break;
		case OPT_CONTINUOUS: continuous = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "cuflow sessions: %s\n", !out ? "-o DB.sqlite is required" : "no capture given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(out, "-")) {
		fprintf(stderr, "cuflow sessions: the database must be a file, not standard output\n");
		return CLI_EXIT_USAGE;
	}
	char err[CF_ERRBUF_SIZE];
	cf_run_inputs *inputs = NULL;
	if (cf_run_inputs_expand((const char *const *)argv + optind, argc - optind, &inputs, err) < 0) {
		fprintf(stderr, "cuflow sessions: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (continuous && cli_continuous_inputs("sessions", inputs) < 0) {
		cf_run_inputs_free(inputs);
		return CLI_EXIT_USAGE;
	}
	cf_run_sqlite lay;
	cf_sessions_sqlite_layout(&lay, append);
	cf_run_opts ro;
	cf_run_opts_default(&ro);
	ro.output = out;
	ro.format = CF_RUN_SQLITE;
	ro.format_name = "sqlite";
	ro.producer = cf_producer_sessions();
	ro.producer_config = &cfg;
	ro.sqlite = &lay;
	ro.decode = cs.so.decode;
	ro.filter = cs.filter_expr;
	ro.backend_kind = cs.backend_kind;
	ro.jobs = jobs;
	ro.continuous = continuous;
	cli_run_report rep;
	cli_run_report_start(&rep, "sessions", quiet, &ro);
	cf_run_result res;
	int st = cf_run(&ro, inputs, &res, err);
	cli_progress_end(rep.pr);
	int rc;
	if (st < 0) {
		fprintf(stderr, "cuflow sessions%s: %s\n", cli_mpi_rank() ? " (a rank)" : "", err);
		rc = CLI_EXIT_USAGE;
	} else {
		if (!quiet && !cli_mpi_rank())
			fprintf(stderr,
			        "cuflow sessions: %" PRIu64 " rows from %zu files (%zu damaged, %zu skipped; %" PRIu64
			        " packets read) into %s; per-file counters in its files table\n",
			        res.rows, res.files, res.files_damaged, res.files_skipped, res.total.packets, out);
		rc = res.files_damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
	}
	cf_run_inputs_free(inputs);
	return rc;
}

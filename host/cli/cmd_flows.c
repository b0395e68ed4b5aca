/*
 * cuflow flows: one CSV row per flow, written as flows end (never all in
 * memory), with counters on stderr at the end. Damaged files are reported
 * and the run goes on with the next one; the exit status is then 2. Each
 * capture is its own stream of flows: the engine is flushed
 * (end_of_input) at the end of every file; ids keep counting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cli.h"

static const char *const dir_prefix[3] = {"bidirectional", "src2dst", "dst2src"};
static const char *const flag_names[CF_FF_COUNT] = {"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"};

static void csv_header(FILE *o)
{
	fputs("id,end_reason,src_ip,dst_ip,src_port,dst_port,protocol,ip_version,vlan_id,tunnel_id", o);
	for (int d = 0; d < 3; d++) {
		const char *p = dir_prefix[d];
		fprintf(o, ",%s_first_seen_ns,%s_last_seen_ns,%s_duration_ns,%s_packets,%s_bytes", p, p, p, p, p);
		fprintf(o, ",%s_min_ps,%s_mean_ps,%s_stddev_ps,%s_max_ps,%s_p25_ps,%s_p50_ps,%s_p75_ps", p, p, p, p, p, p,
		        p);
		fprintf(o, ",%s_min_piat_ns,%s_mean_piat_ns,%s_stddev_piat_ns,%s_max_piat_ns", p, p, p, p);
		for (int f = 0; f < CF_FF_COUNT; f++)
			fprintf(o, ",%s_%s_packets", p, flag_names[f]);
	}
	fputc('\n', o);
}

static void csv_stats(FILE *o, const cf_flow_stats *a)
{
	fprintf(o, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64, a->first_ns, a->last_ns, a->duration_ns,
	        a->packets, a->bytes);
	fprintf(o, ",%u,%.17g,%.17g,%u,%.17g,%.17g,%.17g", a->ps_min, a->ps_mean, a->ps_stddev, a->ps_max, a->ps_p25,
	        a->ps_p50, a->ps_p75);
	fprintf(o, ",%" PRId64 ",%.17g,%.17g,%" PRId64, a->piat_min, a->piat_mean, a->piat_stddev, a->piat_max);
	for (int f = 0; f < CF_FF_COUNT; f++)
		fprintf(o, ",%u", a->flag[f]);
}

static int csv_row(void *user, const cf_flow_record *r)
{
	FILE *o = user;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	cli_ip_str(r->src_ip, r->ip_version, s, sizeof s);
	cli_ip_str(r->dst_ip, r->ip_version, d, sizeof d);
	fprintf(o, "%" PRIu64 ",%s,%s,%s,%u,%u,%u,%u,%u,%u", r->id, cf_flow_end_name(r->end_reason), s, d,
	        r->src_port, r->dst_port, r->proto, r->ip_version, r->vlan_id, r->tunnel_id);
	csv_stats(o, &r->bidir);
	csv_stats(o, &r->src2dst);
	csv_stats(o, &r->dst2src);
	return fputc('\n', o) == EOF ? CF_ERR_IO : CF_OK;
}

static int file_failed(void *f)
{
	return ferror((FILE *)f) != 0;
}

static void usage(FILE *o)
{
	fprintf(o,
	        "usage: cuflow flows [options] CAPTURE... -o OUT.csv\n"
	        "\n"
	        "Tracks bidirectional flows and writes one CSV row per flow as it ends\n"
	        "(identity, end reason, and for bidirectional/src2dst/dst2src: packets, bytes,\n"
	        "times in ns, packet size min/mean/stddev/max and p25/p50/p75 (numpy linear),\n"
	        "inter-arrival min/mean/stddev/max, with SAMPLE standard deviations, TCP flag\n"
	        "counts). Counters go to stderr.\n"
	        "\n"
	        "options:\n"
	        "  -o, --output FILE     CSV output ('-' for stdout); required\n"
	        "%s"
	        "\n"
	        "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	        "still processed); 1 on a usage or output error.\n",
	        cli_flow_usage);
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, CLI_FLOW_LONGOPTS, {0, 0, 0, 0},
	};
	const char *out_path = NULL;
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
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc || !out_path) {
		fprintf(stderr, "cuflow flows: %s\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	FILE *out = strcmp(out_path, "-") ? fopen(out_path, "w") : stdout;
	if (!out) {
		fprintf(stderr, "cuflow flows: cannot write %s: %s\n", out_path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	csv_header(out);
	cf_flow_counters counters;
	cf_summary total;
	int rc = cli_flow_run(&cf, "flows", argv + optind, argc - optind, csv_row, out, file_failed, &counters, &total);
	if ((fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0)) && rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	}
	return rc;
}

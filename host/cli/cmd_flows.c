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
#include "common/text_fmt.h"

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
	FILE *o = user;
	char row[ROW_MAX], *p = row;
	p = cf_fmt_u64(p, r->id);
	*p++ = ',';
	const char *end = cf_flow_end_name(r->end_reason);
	size_t n = strlen(end);
	memcpy(p, end, n);
	p += n;
	*p++ = ',';
	p = cli_ip_put(p, r->src_ip, r->ip_version);
	*p++ = ',';
	p = cli_ip_put(p, r->dst_ip, r->ip_version);
	const uint32_t u[6] = {r->src_port, r->dst_port, r->proto, r->ip_version, r->vlan_id, r->tunnel_id};
	for (int k = 0; k < 6; k++) {
		*p++ = ',';
		p = cf_fmt_u64(p, u[k]);
	}
	p = csv_stats(p, &r->bidir);
	p = csv_stats(p, &r->src2dst);
	p = csv_stats(p, &r->dst2src);
	*p++ = '\n';
	return fwrite(row, 1, (size_t)(p - row), o) == (size_t)(p - row) ? CF_OK : CF_ERR_IO;
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

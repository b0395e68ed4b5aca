/*
 * cuflow flows: one CSV row per bidirectional flow, written as flows end
 * (never all in memory), with counters on stderr at the end. Damaged
 * files are reported and the run goes on with the next one; the exit
 * status is then 2. Each capture is its own stream of flows: the table is
 * flushed (end_of_input) at the end of every file; ids keep counting.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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
		fprintf(o, ",%s_min_ps,%s_mean_ps,%s_stddev_ps,%s_max_ps", p, p, p, p);
		fprintf(o, ",%s_min_piat_ns,%s_mean_piat_ns,%s_stddev_piat_ns,%s_max_piat_ns", p, p, p, p);
		for (int f = 0; f < CF_FF_COUNT; f++)
			fprintf(o, ",%s_%s_packets", p, flag_names[f]);
	}
	fputc('\n', o);
}

static void ip_str(const uint8_t *a, int version, char *out, size_t cap)
{
	if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

static void csv_acc(FILE *o, const cf_flow_acc *a)
{
	uint64_t piats = a->packets ? a->packets - 1 : 0;
	fprintf(o, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRIu64 ",%" PRIu64, a->first_ns, a->last_ns,
	        cf_flow_acc_duration(a), a->packets, a->bytes);
	fprintf(o, ",%u,%.17g,%.17g,%u", a->ps_min, a->packets ? a->ps_mean : 0.0, cf_flow_acc_stddev_ps(a),
	        a->ps_max);
	fprintf(o, ",%" PRId64 ",%.17g,%.17g,%" PRId64, a->piat_min, piats ? a->piat_mean : 0.0,
	        cf_flow_acc_stddev_piat(a), a->piat_max);
	for (int f = 0; f < CF_FF_COUNT; f++)
		fprintf(o, ",%u", a->flag[f]);
}

static int csv_row(void *user, const cf_flow_record *r)
{
	FILE *o = user;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	ip_str(r->src_ip, r->ip_version, s, sizeof s);
	ip_str(r->dst_ip, r->ip_version, d, sizeof d);
	fprintf(o, "%" PRIu64 ",%s,%s,%s,%u,%u,%u,%u,%u,%u", r->id, cf_flow_end_name(r->end_reason), s, d,
	        r->src_port, r->dst_port, r->proto, r->ip_version, r->vlan_id, r->tunnel_id);
	csv_acc(o, &r->bidir);
	csv_acc(o, &r->src2dst);
	csv_acc(o, &r->dst2src);
	return fputc('\n', o) == EOF ? CF_ERR_IO : CF_OK;
}

static void usage(FILE *o)
{
	fputs("usage: cuflow flows [options] CAPTURE... -o OUT.csv\n"
	      "\n"
	      "Tracks bidirectional flows and writes one CSV row per flow as it ends\n"
	      "(identity, end reason, and for bidirectional/src2dst/dst2src: packets, bytes,\n"
	      "times in ns, packet size and inter-arrival min/mean/stddev/max with SAMPLE\n"
	      "standard deviations, TCP flag counts). Counters go to stderr.\n"
	      "\n"
	      "options:\n"
	      "  -o, --output FILE     CSV output ('-' for stdout); required\n"
	      "  --idle-timeout S      end a flow idle for S seconds (default 120; 0 = never)\n"
	      "  --active-timeout S    end a flow S seconds after its first packet (default 1800; 0 = never)\n"
	      "  --tcp-end on|off      FIN from both sides or RST ends a TCP flow (default on)\n"
	      "  --unidirectional      each direction is its own flow (one FIN or a RST ends it)\n"
	      "  --tcp-linger S        packets within S seconds after that close still join the\n"
	      "                        flow (final ACK, retransmitted FIN; default 2)\n"
	      "  --max-flows N         live flows kept; past it the least recently active is\n"
	      "                        evicted (default 1048576)\n"
	      "  --order end|first     rows as flows end (default; nothing waits) or by first\n"
	      "                        packet (a flow that ends early waits for older ones,\n"
	      "                        bounded by a reserve of max-flows/8+16 past which the\n"
	      "                        oldest live flow is evicted)\n"
	      "  --size MODE           size counted: wire (default), captured, ip, transport, payload\n"
	      "  --filter EXPR         only packets matching a BPF filter (tcpdump syntax)\n"
	      "  --decap LIST          tunnels to decapsulate: all (default), none, or a comma list\n"
	      "                        of gre,ipip,vxlan,geneve,gtp,teredo,capwap,tzsp\n"
	      "  --backend NAME        auto (default), cpu or cuda (packet summary)\n"
	      "  --quiet               no progress line\n"
	      "\n"
	      "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	      "still processed); 1 on a usage or output error.\n",
	      o);
}

static int parse_seconds(const char *s, int64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 9.2e9)
		return -1;
	*ns = (int64_t)(v * 1e9 + 0.5);
	return 0;
}

static void print_counters(FILE *e, const cf_summary *s, const cf_flow_counters *c)
{
	fprintf(e, "cuflow flows: packets read %" PRIu64 ", decoded %" PRIu64 ", used %" PRIu64 ", skipped %" PRIu64,
	        s->packets, s->skip[CF_SKIP_NONE], c->packets_used, c->packets - c->packets_used);
	for (int k = 1; k < CF_SKIP_COUNT; k++)
		if (c->skipped[k])
			fprintf(e, " %s %" PRIu64, cf_skip_name(k), c->skipped[k]);
	fprintf(e, "\ncuflow flows: flows %" PRIu64, c->flows);
	for (int r = 0; r < CF_FLOW_END_COUNT; r++)
		fprintf(e, " %s %" PRIu64, cf_flow_end_name(r), c->ended[r]);
	fprintf(e, "; evictions %" PRIu64 ", max live %" PRIu64 ", time backwards %" PRIu64 "\n", c->evictions,
	        c->max_live, c->time_backwards);
}

int cmd_flows(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},       {"idle-timeout", required_argument, 0, 'I'},
		{"active-timeout", required_argument, 0, 'A'}, {"tcp-end", required_argument, 0, 'T'},
		{"tcp-linger", required_argument, 0, 'L'},   {"max-flows", required_argument, 0, 'M'},
		{"size", required_argument, 0, 'S'},         {"filter", required_argument, 0, 'f'},
		{"decap", required_argument, 0, 'd'},        {"backend", required_argument, 0, 'b'},
		{"order", required_argument, 0, 'O'},        {"unidirectional", no_argument, 0, 'U'},
		{"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *out_path = NULL;
	int quiet = 0;
	char err[CF_ERRBUF_SIZE];
	cf_flow_opts fo;
	cf_flow_opts_default(&fo);
	cli_scan cs;
	cli_scan_init(&cs);
	cf_scan_opts *so = &cs.so;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		int handled = cli_scan_option(&cs, "flows", c, optarg);
		if (handled < 0)
			return CLI_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'I':
		case 'A':
		case 'L': {
			int64_t *dst = c == 'I' ? &fo.idle_timeout_ns : c == 'A' ? &fo.active_timeout_ns : &fo.tcp_linger_ns;
			if (parse_seconds(optarg, dst) < 0) {
				fprintf(stderr, "cuflow flows: bad number of seconds '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		}
		case 'U':
			fo.unidirectional = 1;
			break;
		case 'T':
			if (!strcmp(optarg, "on"))
				fo.tcp_end = 1;
			else if (!strcmp(optarg, "off"))
				fo.tcp_end = 0;
			else {
				fprintf(stderr, "cuflow flows: --tcp-end takes on or off\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'M': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || v > (1u << 30)) {
				fprintf(stderr, "cuflow flows: --max-flows takes 1 .. 2^30\n");
				return CLI_EXIT_USAGE;
			}
			fo.max_flows = (uint32_t)v;
			break;
		}
		case 'S':
			if (cf_flow_size_parse(optarg, &fo.size_mode) < 0) {
				fprintf(stderr, "cuflow flows: unknown size '%s' (wire, captured, ip, transport, payload)\n",
				        optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'O':
			if (!strcmp(optarg, "first"))
				fo.end_order = 0;
			else if (!strcmp(optarg, "end"))
				fo.end_order = 1;
			else {
				fprintf(stderr, "cuflow flows: --order takes first or end\n");
				return CLI_EXIT_USAGE;
			}
			break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc || !out_path) {
		fprintf(stderr, "cuflow flows: %s\n", optind >= argc ? "no capture given" : "no output (-o) given");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	int rc = CLI_EXIT_USAGE;
	FILE *out = NULL;
	cf_flow_table *t = NULL;
	cf_scan_result *res = NULL;
	if (cli_scan_open(&cs, "flows", !quiet) < 0)
		goto done;
	out = strcmp(out_path, "-") ? fopen(out_path, "w") : stdout;
	if (!out) {
		fprintf(stderr, "cuflow flows: cannot write %s: %s\n", out_path, strerror(errno));
		goto done;
	}
	if (cf_flow_table_open(&fo, csv_row, out, &t, err) < 0) {
		fprintf(stderr, "cuflow flows: %s\n", err);
		goto done;
	}
	res = malloc(sizeof *res);
	if (!res) {
		fprintf(stderr, "cuflow flows: out of memory\n");
		goto done;
	}
	csv_header(out);

	cf_summary total;
	cf_summary_clear(&total);
	uint64_t damaged = 0;
	int write_failed = 0;
	for (int i = optind; i < argc && !write_failed; i++) {
		cli_progress *pr = cli_progress_start(argv[i], !quiet);
		so->progress = cli_progress_update;
		so->progress_user = pr;
		cf_flow_scan_file(argv[i], so, t, res);
		cli_progress_end(pr);
		cf_summary_merge(&total, &res->summary);
		if (cf_flow_table_finish(t) < 0 || ferror(out))
			write_failed = 1;
		else if (res->status < 0) {
			damaged++;
			fprintf(stderr, "cuflow flows: %s\n", res->error);
		}
	}
	if (fflush(out) != 0 || ferror(out))
		write_failed = 1;
	if (write_failed) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	} else {
		rc = damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
	}
	print_counters(stderr, &total, cf_flow_table_counters(t));
done:
	if (out && out != stdout && fclose(out) != 0 && rc != CLI_EXIT_USAGE) {
		fprintf(stderr, "cuflow flows: writing %s failed\n", out_path);
		rc = CLI_EXIT_USAGE;
	}
	free(res);
	cf_flow_table_close(t);
	cli_scan_close(&cs);
	return rc;
}

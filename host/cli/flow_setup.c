/* The options and the run loop the flow commands (flows, extract) share:
 * flow-table settings, the engine over every capture, damage reports,
 * counters at the end. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_flow_usage[] =
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
	"  --orientation MODE    the flow's source: client (default: the first packet's\n"
	"                        sender, or the receiver of a first SYN-ACK) or first-packet\n"
	"                        (the first packet's sender, always, as NFStream)\n"
	"  --compat nfstream     NFStream's flow table (docs/capture-differences.md):\n"
	"                        --orientation first-packet, --tcp-end off and --decap\n"
	"                        gtp,capwap,tzsp,ipip unless given, wire sizes kept to 16\n"
	"                        bits, ports 0 for a TCP/UDP first fragment shorter than\n"
	"                        its fixed header\n"
	"  --seq N               early-packet sequence length (default 30, max 1024)\n"
	"  --piece-packets N     packets stored per flow before it is processed in pieces\n"
	"                        (default 4096; results do not depend on it)\n"
	"  --filter EXPR         only packets matching a BPF filter (tcpdump syntax)\n"
	"  --decap LIST          tunnels to decapsulate: all (default), none, or a comma list\n"
	"                        of gre,ipip,vxlan,geneve,gtp,teredo,capwap,tzsp\n"
	"  --backend NAME        auto (default), cpu or cuda\n"
	"  --threads N           1 (default), 2 or 3: 2 runs the backend and the writer in a\n"
	"                        second thread, overlapped with reading and flow tracking (with\n"
	"                        the CPU backend both threads compute); 3 also tracks flows in\n"
	"                        a third thread, apart from reading and decoding (captures of\n"
	"                        16 MB or more). The same output, byte for byte\n"
	"  --quiet               no progress line\n";

void (*cli_flow_on_file)(void *user, const char *path);

void cli_flow_init(cli_flow *f)
{
	memset(f, 0, sizeof *f);
	cf_flow_opts_default(&f->fo);
	cli_scan_init(&f->cs);
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

static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *v < lo || *v > hi || s[0] == '-' ? -1 : 0;
}

int cli_flow_option(cli_flow *f, const char *cmd, int c, const char *arg)
{
	int h = cli_scan_option(&f->cs, cmd, c, arg);
	if (h) {
		if (c == 'd')
			f->decap_given = 1;
		return h;
	}
	cf_flow_opts *fo = &f->fo;
	unsigned long long v;
	switch (c) {
	case CLI_OPT_IDLE:
	case CLI_OPT_ACTIVE:
	case CLI_OPT_LINGER: {
		int64_t *dst = c == CLI_OPT_IDLE ? &fo->idle_timeout_ns
		               : c == CLI_OPT_ACTIVE ? &fo->active_timeout_ns : &fo->tcp_linger_ns;
		if (parse_seconds(arg, dst) < 0) {
			fprintf(stderr, "cuflow %s: bad number of seconds '%s'\n", cmd, arg);
			return -1;
		}
		return 1;
	}
	case CLI_OPT_UNI:
		fo->unidirectional = 1;
		return 1;
	case CLI_OPT_TCP_END:
		if (!strcmp(arg, "on") || !strcmp(arg, "off")) {
			fo->tcp_end = !strcmp(arg, "on");
			f->tcp_end_given = 1;
			return 1;
		}
		fprintf(stderr, "cuflow %s: --tcp-end takes on or off\n", cmd);
		return -1;
	case CLI_OPT_MAX_FLOWS:
		if (parse_uint(arg, 1, 1u << 30, &v) < 0) {
			fprintf(stderr, "cuflow %s: --max-flows takes 1 .. 2^30\n", cmd);
			return -1;
		}
		fo->max_flows = (uint32_t)v;
		return 1;
	case CLI_OPT_SEQ:
		if (parse_uint(arg, 0, 1024, &v) < 0) {
			fprintf(stderr, "cuflow %s: --seq takes 0 .. 1024\n", cmd);
			return -1;
		}
		fo->seq_len = (uint32_t)v;
		f->seq_given = 1;
		return 1;
	case CLI_OPT_PIECE:
		if (parse_uint(arg, 1, 1u << 22, &v) < 0) {
			fprintf(stderr, "cuflow %s: --piece-packets takes 1 .. 4194304\n", cmd);
			return -1;
		}
		fo->piece_packets = (uint32_t)v;
		if (fo->batch_packets < v)
			fo->batch_packets = (uint32_t)v;
		return 1;
	case CLI_OPT_SIZE:
		if (cf_flow_size_parse(arg, &fo->size_mode) < 0) {
			fprintf(stderr, "cuflow %s: unknown size '%s' (wire, captured, ip, transport, payload)\n", cmd, arg);
			return -1;
		}
		f->size_given = 1;
		return 1;
	case CLI_OPT_ORDER:
		if (!strcmp(arg, "first") || !strcmp(arg, "end")) {
			fo->end_order = !strcmp(arg, "end");
			return 1;
		}
		fprintf(stderr, "cuflow %s: --order takes first or end\n", cmd);
		return -1;
	case CLI_OPT_THREADS:
		if (parse_uint(arg, 1, 3, &v) < 0) {
			fprintf(stderr, "cuflow %s: --threads takes 1, 2 or 3\n", cmd);
			return -1;
		}
		fo->threads = (uint32_t)v;
		f->cs.so.hook_thread = v >= 3; /* the scan hands runs of records to flow tracking */
		return 1;
	case CLI_OPT_ORIENTATION:
		if (!strcmp(arg, "client") || !strcmp(arg, "first-packet")) {
			fo->orientation = !strcmp(arg, "client") ? CF_ORIENT_CLIENT : CF_ORIENT_FIRST_PACKET;
			f->orientation_given = 1;
			return 1;
		}
		fprintf(stderr, "cuflow %s: --orientation takes client or first-packet\n", cmd);
		return -1;
	case CLI_OPT_COMPAT:
		if (!strcmp(arg, "nfstream")) {
			fo->compat = CF_COMPAT_NFSTREAM;
			return 1;
		}
		if (!strcmp(arg, "none")) {
			fo->compat = CF_COMPAT_NONE;
			return 1;
		}
		fprintf(stderr, "cuflow %s: --compat takes nfstream or none\n", cmd);
		return -1;
	case 'q':
		f->quiet = 1;
		return 1;
	}
	return 0;
}

/* --compat nfstream: the settings NFStream runs with, where the command
 * line did not choose (idle 120 s, active 1800 s and wire sizes are
 * cuflow's defaults already). */
void cli_flow_apply_compat(cli_flow *f)
{
	if (f->fo.compat != CF_COMPAT_NFSTREAM)
		return;
	if (!f->orientation_given)
		f->fo.orientation = CF_ORIENT_FIRST_PACKET;
	if (!f->tcp_end_given)
		f->fo.tcp_end = 0;
	if (!f->decap_given) {
		char err[CF_ERRBUF_SIZE];
		cf_decode_parse_decap("gtp,capwap,tzsp,ipip", &f->cs.so.decode.decap, err);
	}
}

void cli_flow_print_counters(FILE *e, const char *cmd, const cf_summary *s, const cf_flow_counters *c)
{
	fprintf(e, "cuflow %s: packets read %" PRIu64 ", decoded %" PRIu64 ", used %" PRIu64 ", skipped %" PRIu64, cmd,
	        s->packets, s->skip[CF_SKIP_NONE], c->packets_used, c->packets - c->packets_used);
	for (int k = 1; k < CF_SKIP_COUNT; k++)
		if (c->skipped[k])
			fprintf(e, " %s %" PRIu64, cf_skip_name(k), c->skipped[k]);
	fprintf(e, "\ncuflow %s: flows %" PRIu64, cmd, c->flows);
	for (int r = 0; r < CF_FLOW_END_COUNT; r++)
		fprintf(e, " %s %" PRIu64, cf_flow_end_name(r), c->ended[r]);
	fprintf(e, "; evictions %" PRIu64 ", max live %" PRIu64 ", time backwards %" PRIu64, c->evictions,
	        c->max_live, c->time_backwards);
	if (c->bad_wirelen)
		fprintf(e, ", wire length over %u MiB %" PRIu64, CF_FLOW_MAX_WIRELEN >> 20, c->bad_wirelen);
	fprintf(e, "\n");
}

void cli_flow_print_ts_counters(FILE *e, const char *cmd, const cli_flow *f)
{
	if (f->ts_bad_fraction || f->ts_out_of_range)
		fprintf(e,
		        "cuflow %s: timestamps: %" PRIu64 " with the fraction of a second out of range (seconds kept), "
		        "%" PRIu64 " beyond the int64-ns range (previous packet's time used)\n",
		        cmd, f->ts_bad_fraction, f->ts_out_of_range);
}

cf_run_inputs *cli_inputs_expand(const char *cmd, char **args, int n)
{
	char err[CF_ERRBUF_SIZE];
	cf_run_inputs *in = NULL;
	if (cf_run_inputs_expand((const char *const *)args, n, &in, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		return NULL;
	}
	return in;
}

int cli_flow_run(cli_flow *f, const char *cmd, char **args, int nargs, cf_flow_emit_fn emit, void *user,
                 int (*out_failed)(void *), cf_flow_counters *counters, cf_summary *total)
{
	char err[CF_ERRBUF_SIZE];
	cf_flow_engine *e = NULL;
	cf_scan_result *res = NULL;
	int rc = CLI_EXIT_USAGE;
	cf_summary_clear(total);
	memset(counters, 0, sizeof *counters);
	cf_run_inputs *in = cli_inputs_expand(cmd, args, nargs);
	if (!in)
		return CLI_EXIT_USAGE;
	size_t nfiles = cf_run_inputs_count(in);
	f->ts_bad_fraction = f->ts_out_of_range = 0;
	cli_flow_apply_compat(f);
	if (cli_scan_open(&f->cs, cmd, !f->quiet) < 0)
		goto done;
	snprintf(f->backend_used, sizeof f->backend_used, "%s", cf_backend_name(f->cs.so.backend));
	if (cf_flow_engine_open(&f->fo, f->cs.so.backend, emit, user, &e, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		goto done;
	}
	res = malloc(sizeof *res);
	if (!res) {
		fprintf(stderr, "cuflow %s: out of memory\n", cmd);
		goto done;
	}
	uint64_t damaged = 0;
	int failed = 0;
	cf_scan_opts *so = &f->cs.so;
	for (size_t i = 0; i < nfiles && !failed; i++) {
		const char *file = cf_run_inputs_path(in, i);
		if (cli_flow_on_file)
			cli_flow_on_file(user, file);
		cli_progress *pr = cli_progress_start(file, !f->quiet);
		so->progress = cli_progress_update;
		so->progress_user = pr;
		cf_flow_scan_file(file, so, e, res);
		cli_progress_end(pr);
		cf_summary_merge(total, &res->summary);
		if (res->opened) {
			f->ts_bad_fraction += res->info.ts_bad_fraction;
			f->ts_out_of_range += res->info.ts_out_of_range;
		}
		if (cf_flow_engine_finish(e) < 0 || (out_failed && out_failed(user))) {
			failed = 1;
			fprintf(stderr, "cuflow %s: %s\n", cmd,
			        cf_flow_engine_error(e)[0] ? cf_flow_engine_error(e) : "writing the output failed");
		} else if (res->status < 0) {
			damaged++;
			fprintf(stderr, "cuflow %s: %s\n", cmd, res->error);
		}
	}
	*counters = *cf_flow_engine_counters(e);
	cli_flow_print_counters(stderr, cmd, total, counters);
	cli_flow_print_ts_counters(stderr, cmd, f);
	rc = failed ? CLI_EXIT_USAGE : damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
done:
	free(res);
	cf_flow_engine_close(e);
	cli_scan_close(&f->cs);
	cf_run_inputs_free(in);
	return rc;
}

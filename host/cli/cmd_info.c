/*
 * cuflow info: per capture and in total, the format, packets, bytes, time
 * span, per-protocol counts and the skip counters, as text or JSON.
 * Damaged files are reported with their byte offset and the scan goes on
 * with the next file; the exit status is then 2.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuflow/cuflow.h"
#include "cli.h"

/* the library's names (cuflow/reader.h) */
#define format_name cf_format_name
#define compression_name cf_compression_name

/* Layer bit index -> JSON key, in output order. */
static const struct { int bit; const char *key; } layer_keys[] = {
	{0, "ipv4"}, {1, "ipv6"}, {2, "tcp"}, {3, "udp"}, {4, "icmp"},
	{5, "icmpv6"}, {6, "sctp"}, {7, "other"}, {8, "vlan"}, {9, "mpls"},
	{10, "pppoe"}, {11, "tunnel"}, {12, "arp"},
};
#define N_LAYER_KEYS (sizeof layer_keys / sizeof layer_keys[0])

static void json_counters(FILE *o, const cf_summary *s)
{
	fprintf(o, "\"packets\":%" PRIu64 ",\"captured_bytes\":%" PRIu64 ",\"wire_bytes\":%" PRIu64,
	        s->packets, s->captured_bytes, s->wire_bytes);
	if (s->packets)
		fprintf(o, ",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64, s->first_ns, s->last_ns);
	else
		fprintf(o, ",\"first_ns\":null,\"last_ns\":null");
	for (size_t i = 0; i < N_LAYER_KEYS; i++)
		fprintf(o, ",\"%s\":%" PRIu64, layer_keys[i].key, s->layer[layer_keys[i].bit]);
	fprintf(o, ",\"decoded\":%" PRIu64 ",\"skipped\":{", s->skip[CF_SKIP_NONE]);
	for (int k = 1; k < CF_SKIP_COUNT; k++)
		fprintf(o, "%s\"%s\":%" PRIu64, k > 1 ? "," : "", cf_skip_name(k), s->skip[k]);
	fputc('}', o);
}

static void json_file(FILE *o, const char *path, const cf_scan_result *r)
{
	fputs("{\"path\":", o);
	cli_json_str(o, path);
	if (r->opened) {
		const cf_reader_info *in = &r->info;
		fprintf(o, ",\"format\":\"%s\",\"compression\":\"%s\",\"byte_order\":\"%s\"", format_name(in->format),
		        compression_name(in->compression), in->big_endian ? "big" : "little");
		fprintf(o, ",\"ts_resolution_ns\":%d,\"ts_mixed\":%s,\"snaplen\":%u,\"sections\":%u,\"interfaces\":%u",
		        in->ts_resolution_ns, in->ts_mixed ? "true" : "false", in->snaplen, in->sections,
		        in->interfaces);
		fputs(",\"link_types\":[", o);
		for (uint32_t i = 0; i < in->n_linktypes; i++)
			fprintf(o, "%s%u", i ? "," : "", in->linktypes[i]);
		fputs("],", o);
		/* timestamps that could not be taken as written: counted, never wrapped */
		fprintf(o, "\"ts_bad_fraction\":%" PRIu64 ",\"ts_out_of_range\":%" PRIu64 ",", in->ts_bad_fraction,
		        in->ts_out_of_range);
	} else {
		fputs(",\"format\":null,\"link_types\":[],", o);
	}
	json_counters(o, &r->summary);
	fputs(",\"error\":", o);
	if (r->status < 0) {
		fputs("{\"message\":", o);
		cli_json_str(o, r->error);
		fprintf(o, ",\"offset\":%" PRId64 ",\"status\":\"%s\"}", r->error_offset, cf_status_str(r->status));
	} else {
		fputs("null", o);
	}
	fputc('}', o);
}

static void time_str(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000);
	long frac = (long)(ns - (int64_t)sec * 1000000000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, cap, "%" PRId64 " ns", ns);
		return;
	}
	char d[32];
	strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, cap, "%s.%09ld UTC", d, frac);
}

static void text_counters(FILE *o, const cf_summary *s)
{
	fprintf(o, "  packets        %" PRIu64 "\n", s->packets);
	fprintf(o, "  captured bytes %" PRIu64 "\n", s->captured_bytes);
	fprintf(o, "  wire bytes     %" PRIu64 "\n", s->wire_bytes);
	if (s->packets) {
		char a[64], b[64];
		time_str(s->first_ns, a, sizeof a);
		time_str(s->last_ns, b, sizeof b);
		fprintf(o, "  first packet   %s\n  last packet    %s\n", a, b);
	}
	fputs("  protocols     ", o);
	for (size_t i = 0; i < N_LAYER_KEYS; i++)
		if (s->layer[layer_keys[i].bit])
			fprintf(o, " %s %" PRIu64, layer_keys[i].key, s->layer[layer_keys[i].bit]);
	fprintf(o, "\n  decoded        %" PRIu64 "\n", s->skip[CF_SKIP_NONE]);
	uint64_t skipped = s->packets - s->skip[CF_SKIP_NONE];
	fprintf(o, "  skipped        %" PRIu64, skipped);
	for (int k = 1; k < CF_SKIP_COUNT; k++)
		if (s->skip[k])
			fprintf(o, "%s%s %" PRIu64, k ? " " : "", cf_skip_name(k), s->skip[k]);
	fputc('\n', o);
}

static void text_file(FILE *o, const char *path, const cf_scan_result *r)
{
	fprintf(o, "%s\n", path);
	if (r->opened) {
		const cf_reader_info *in = &r->info;
		fprintf(o, "  format         %s, %s-endian", format_name(in->format), in->big_endian ? "big" : "little");
		if (in->compression)
			fprintf(o, ", %s-compressed", compression_name(in->compression));
		if (in->format == CF_FORMAT_PCAPNG)
			fprintf(o, ", %u section(s), %u interface(s)", in->sections, in->interfaces);
		fprintf(o, "\n  time precision %s%d ns\n", in->ts_mixed ? "mixed, first " : "", in->ts_resolution_ns);
		fputs("  link types    ", o);
		for (uint32_t i = 0; i < in->n_linktypes; i++)
			fprintf(o, " %u", in->linktypes[i]);
		fputc('\n', o);
		if (in->ts_bad_fraction || in->ts_out_of_range)
			fprintf(o, "  bad timestamps %" PRIu64 " fraction(s) out of range (seconds kept), %" PRIu64
			           " outside 1677-2262 (previous time used)\n",
			        in->ts_bad_fraction, in->ts_out_of_range);
	}
	text_counters(o, &r->summary);
	if (r->status < 0)
		fprintf(o, "  error          %s\n", r->error);
}

static void usage(FILE *o)
{
	fputs("usage: cuflow info [options] CAPTURE...\n"
	      "\n"
	      "Reads each capture (pcap, pcapng, snoop; gzip/zstd/lz4/xz; '-' for stdin) and\n"
	      "reports format, packets, bytes, time span, protocols and skip counters.\n"
	      "\n"
	      "options:\n"
	      "  --json             JSON on stdout: {\"files\":[...],\"total\":{...}}\n"
	      "  --filter EXPR      count only packets matching a BPF filter (tcpdump syntax)\n"
	      "  --decap LIST       tunnels to decapsulate: all (default), none, or a comma list\n"
	      "                     of gre,ipip,vxlan,geneve,gtp,teredo,capwap,tzsp\n"
	      "  --backend NAME     auto (default), cpu or cuda\n"
	      "  --quiet            no progress line\n"
	      "  -o DIR --jobs N    an inventory table instead: one row per input (the numbers\n"
	      "                     above, the format, the error of a damaged file) in\n"
	      "                     DIR/summary/part-NNNNN.<format> + DIR/manifest.json, by N\n"
	      "                     workers (--format parquet (default), csv, jsonl, npy;\n"
	      "                     inputs may be directories, globs or @lists; --resume)\n"
	      "\n"
	      "Exit status: 0 ok; 2 when a file was damaged or not a capture (the others are\n"
	      "still reported); 1 on a usage error.\n",
	      o);
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, 0, 'j'},     {"filter", required_argument, 0, 'f'},
		{"decap", required_argument, 0, 'd'}, {"backend", required_argument, 0, 'b'},
		{"quiet", no_argument, 0, 'q'},    {"help", no_argument, 0, 'h'},
		{"output", required_argument, 0, 'o'}, {"format", required_argument, 0, 'F'},
		CLI_TABLES_LONGOPTS,               {0, 0, 0, 0},
	};
	int json = 0, quiet = 0;
	const char *out = NULL, *format = "parquet";
	cli_tables_opts tab = {0};
	cli_scan cs;
	cli_scan_init(&cs);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "jf:d:b:qho:", opts, NULL)) != -1) {
		int handled = cli_scan_option(&cs, "info", c, optarg);
		if (!handled)
			handled = cli_tables_option(&tab, "info", c, optarg);
		if (handled < 0)
			return CLI_EXIT_USAGE;
		if (handled)
			continue;
		switch (c) {
		case 'j': json = 1; break;
		case 'q': quiet = 1; break;
		case 'o': out = optarg; break;
		case 'F':
			if (!cf_sink_find(optarg)) {
				fprintf(stderr, "cuflow info: --format takes parquet, csv, jsonl or npy\n");
				return CLI_EXIT_USAGE;
			}
			format = optarg;
			break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		default: usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "cuflow info: no capture given\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!!out != !!tab.jobs) {
		fprintf(stderr, "cuflow info: -o DIR and --jobs N go together (the inventory table)\n");
		return CLI_EXIT_USAGE;
	}
	if (out) {
		cf_summary_producer_config pc;
		cf_summary_producer_config_default(&pc);
		char oj[128];
		snprintf(oj, sizeof oj, "{\"command\": \"info\", \"format\": \"%s\"}", format);
		cli_tables t = {"info", cf_producer_summary(), &pc, NULL, out, format, 0, &cs, tab, quiet, oj};
		return cli_run_tables(&t, argv + optind, argc - optind);
	}
	if (cli_scan_open(&cs, "info", 1) < 0) {
		cli_scan_close(&cs);
		return CLI_EXIT_USAGE;
	}
	cf_scan_opts so = cs.so;
	so.summary_on_backend = 1; /* info is the summary: computed where --backend says */

	cf_scan_result *res = malloc(sizeof *res);
	cf_summary total;
	cf_summary_clear(&total);
	uint64_t damaged = 0, files = 0;
	if (json)
		fputs("{\"files\":[", stdout);
	for (int i = optind; i < argc; i++, files++) {
		cli_progress *pr = cli_progress_start(argv[i], !quiet);
		so.progress = cli_progress_update;
		so.progress_user = pr;
		cf_scan_file(argv[i], &so, res);
		cli_progress_end(pr);
		cf_summary_merge(&total, &res->summary);
		if (res->status < 0) {
			damaged++;
			fprintf(stderr, "cuflow info: %s\n", res->error);
		}
		if (json) {
			if (i > optind)
				fputc(',', stdout);
			json_file(stdout, argv[i], res);
		} else {
			text_file(stdout, argv[i], res);
		}
	}
	if (json) {
		fprintf(stdout, "],\"total\":{\"files\":%" PRIu64 ",\"damaged\":%" PRIu64 ",\"backend\":\"%s\",", files,
		        damaged, cf_backend_name(so.backend));
		json_counters(stdout, &total);
		fputs("}}\n", stdout);
	} else if (files > 1) {
		printf("total (%" PRIu64 " files, %" PRIu64 " damaged)\n", files, damaged);
		text_counters(stdout, &total);
	}
	free(res);
	cli_scan_close(&cs);
	return damaged ? CLI_EXIT_DAMAGED : CLI_EXIT_OK;
}

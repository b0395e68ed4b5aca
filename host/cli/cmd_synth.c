/* cuflow synth: write a synthetic capture (tests, demos, benchmarks). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cuflow synth -o FILE [options]\n"
		"       cuflow synth --replay CAPTURE --copies N -o FILE [--snaplen N] [--nanosecond]\n"
		"\n"
		"Writes a synthetic pcap (Ethernet): TCP with handshakes and teardowns (some RST),\n"
		"DNS- and RTP-like UDP, ICMP echo; IPv4 and IPv6, some 802.1Q tags. The same\n"
		"options give the same bytes.\n"
		"\n"
		"With --replay: a real capture (pcap, pcapng, snoop, compressed; a file, not '-',\n"
		"as it is read more than once) written N times into one pcap of its link type\n"
		"(frames of several link types are refused). Copy k (0..N-1) is shifted in time by\n"
		"k * (span + 1 s), span = latest - earliest timestamp, so the copies follow each\n"
		"other. Copy 0 is the input's frames byte for byte; in copy k >= 1 the first 16\n"
		"bits of the outermost IPv4/IPv6 source and destination are XORed with a mask\n"
		"M_k (Ethernet with VLAN/QinQ/MPLS/PPPoE, SLL, SLL2, raw IP, NULL/LOOP, PPP,\n"
		"Cisco HDLC), and the IPv4 header, TCP, UDP (0 stays 0), UDP-Lite, DCCP and\n"
		"ICMPv6 checksums are updated incrementally: right ones stay right. The masks\n"
		"are chosen against the input's address pairs so that no two copies share a\n"
		"pair, hence no flow 5-tuple: a flow becomes N flows. Frames with no IP\n"
		"header (ARP, ...) are copied unchanged and counted; addresses inside tunnels\n"
		"and ICMP errors are not remapped (use flows --decap none on tunnelled input).\n"
		"Timestamps are microseconds (sub-us digits dropped) unless --nanosecond; no\n"
		"frame is cut unless --snaplen. --flows, --gbytes, --duration, --frame-size and\n"
		"--seed do not apply. Exit status 2 when the capture cannot be read, is damaged\n"
		"(the message names the file and byte offset) or mixes link types.\n"
		"\n"
		"  -o, --output FILE    output file, '-' for standard output\n"
		"  --flows N            number of flows (default 1000)\n"
		"  --gbytes G           instead: write flows until the file holds G*1e9 bytes\n"
		"  --duration S         capture span in seconds (default 60)\n"
		"  --seed S             random seed (default 1)\n"
		"  --snaplen N          cut frames to N bytes (default 65535; --replay: no cut)\n"
		"  --frame-size N       every frame exactly N bytes on the wire (N >= 60)\n"
		"  --nanosecond         nanosecond timestamps (pcap magic a1b23c4d)\n"
		"  --replay CAPTURE     amplify this capture instead (needs --copies)\n"
		"  --copies N           with --replay: number of copies, 1..65536\n"
		"  -q, --quiet          no summary line\n"
		"  -h, --help           this help\n");
}

/* Whole-string unsigned integer in [lo, hi]; 0 on success. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;
	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9') /* strtoull would accept "-1" */
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int run_replay(const char *input, uint64_t copies, const char *path, uint32_t snaplen,
		      int nanosecond, int quiet)
{
	cf_synth_replay_opts ro;
	cf_synth_stats st;
	char err[CF_ERRBUF_SIZE] = "";

	/* an input that cannot be opened is a bad input (2), like a damaged
	 * one, not an output error */
	cf_reader *r = NULL;
	if (strcmp(input, "-") && cf_reader_open(input, &r, err) < 0) {
		fprintf(stderr, "synth: %s\n", err);
		return CLI_EXIT_DAMAGED;
	}
	cf_reader_close(r);
	cf_synth_replay_opts_default(&ro);
	ro.input = input;
	ro.path = path;
	ro.copies = copies;
	ro.snaplen = snaplen;
	ro.nanosecond = nanosecond;
	cli_progress *prog = cli_progress_start("synth", !quiet);
	ro.progress = cli_progress_update;
	ro.progress_ctx = prog;
	int rc = cf_synth_replay(&ro, &st, err);
	cli_progress_end(prog);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		/* damaged, not a capture, several link types: 2, as info/flows
		 * do; options, memory and the output: 1 */
		return rc == CF_ERR_IO || rc == CF_ERR_ARG || rc == CF_ERR_NOMEM ? CLI_EXIT_USAGE
										  : CLI_EXIT_DAMAGED;
	}
	if (!quiet) {
		fprintf(stderr, "synth: wrote %llu packets (%llu copies of %llu), %llu bytes to %s\n",
			(unsigned long long)st.packets, (unsigned long long)copies,
			(unsigned long long)st.input_packets, (unsigned long long)st.bytes_written,
			strcmp(path, "-") ? path : "standard output");
		if (st.unmapped)
			fprintf(stderr, "synth: %llu frames of copies 1..%llu had no IP header to remap and were "
				"copied unchanged\n", (unsigned long long)st.unmapped,
				(unsigned long long)copies - 1);
		if (!st.disjoint && copies > 1)
			fprintf(stderr, "synth: note: the masks could not be checked (too many address pairs, "
				"or pairs that differ just in their first 16 bits); copies may share a few "
				"flows\n");
	}
	return CLI_EXIT_OK;
}

int cmd_synth(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"flows", required_argument, NULL, 'f'},
		{"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"snaplen", required_argument, NULL, 'l'},
		{"gbytes", required_argument, NULL, 'g'},
		{"frame-size", required_argument, NULL, 'F'},
		{"nanosecond", no_argument, NULL, 'n'},
		{"replay", required_argument, NULL, 'R'},
		{"copies", required_argument, NULL, 'C'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	cf_synth_opts o;
	cf_synth_stats st;
	char err[CF_ERRBUF_SIZE] = "";
	int quiet = 0, c, flows_set = 0, snaplen_set = 0;
	const char *replay = NULL, *gen_opt = NULL; /* gen_opt: a generator-only option given */
	uint64_t v = 0, copies = 0;

	cf_synth_opts_default(&o);
	optind = 0; /* GNU: restart the scan (argv is ours, not main's) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'o':
			o.path = optarg;
			break;
		case 'f':
			gen_opt = "--flows";
			if (parse_u64(optarg, 1, 1ull << 40, &o.flows))
				bad = "--flows wants an integer >= 1";
			flows_set = 1;
			break;
		case 'd':
			gen_opt = "--duration";
			if (parse_double(optarg, 1e-6, 1e8, &o.duration_s))
				bad = "--duration wants seconds > 0";
			break;
		case 's':
			gen_opt = "--seed";
			if (parse_u64(optarg, 0, UINT64_MAX, &o.seed))
				bad = "--seed wants an unsigned integer";
			break;
		case 'l':
			if (parse_u64(optarg, 1, 262144, &v))
				bad = "--snaplen wants an integer in 1..262144";
			o.snaplen = (uint32_t)v;
			snaplen_set = 1;
			break;
		case 'g':
			gen_opt = "--gbytes";
			if (parse_double(optarg, 0, 1e6, &o.gbytes) || o.gbytes <= 0)
				bad = "--gbytes wants a number > 0";
			break;
		case 'F':
			gen_opt = "--frame-size";
			if (parse_u64(optarg, 60, 65535, &v))
				bad = "--frame-size wants an integer in 60..65535";
			o.frame_size = (uint32_t)v;
			break;
		case 'n':
			o.nanosecond = 1;
			break;
		case 'R':
			replay = optarg;
			if (!*optarg)
				bad = "--replay wants a capture file";
			break;
		case 'C':
			if (parse_u64(optarg, 1, 65536, &copies))
				bad = "--copies wants an integer in 1..65536";
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case ':':
			fprintf(stderr, "synth: %s needs a value\n", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		default:
			fprintf(stderr, "synth: unknown option '%s'\n\n", argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "synth: %s, not '%s'\n", bad, optarg);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "synth: unexpected argument '%s'\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (!o.path) {
		fprintf(stderr, "synth: -o FILE is required\n\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (replay || copies) {
		if (!replay) {
			fprintf(stderr, "synth: --copies goes with --replay CAPTURE\n");
			return CLI_EXIT_USAGE;
		}
		if (!copies) {
			fprintf(stderr, "synth: --replay needs --copies N\n");
			return CLI_EXIT_USAGE;
		}
		if (gen_opt) {
			fprintf(stderr, "synth: %s does not apply with --replay (the traffic comes from %s)\n",
				gen_opt, replay);
			return CLI_EXIT_USAGE;
		}
		return run_replay(replay, copies, o.path, snaplen_set ? o.snaplen : 0, o.nanosecond, quiet);
	}
	if (flows_set && o.gbytes > 0) {
		fprintf(stderr, "synth: give --flows or --gbytes, not both\n");
		return CLI_EXIT_USAGE;
	}

	cli_progress *prog = cli_progress_start("synth", !quiet);
	o.progress = cli_progress_update;
	o.progress_ctx = prog;
	int rc = cf_synth_write(&o, &st, err);
	cli_progress_end(prog);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (!quiet)
		fprintf(stderr, "synth: wrote %llu packets, %llu flows, %llu bytes to %s\n",
			(unsigned long long)st.packets, (unsigned long long)st.flows,
			(unsigned long long)st.bytes_written, strcmp(o.path, "-") ? o.path : "standard output");
	return CLI_EXIT_OK;
}

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
		"\n"
		"Writes a synthetic pcap (Ethernet): TCP with handshakes and teardowns (some RST),\n"
		"DNS- and RTP-like UDP, ICMP echo; IPv4 and IPv6, some 802.1Q tags. The same\n"
		"options give the same bytes.\n"
		"\n"
		"  -o, --output FILE    output file, '-' for standard output\n"
		"  --flows N            number of flows (default 1000)\n"
		"  --gbytes G           instead: write flows until the file holds G*1e9 bytes\n"
		"  --duration S         capture span in seconds (default 60)\n"
		"  --seed S             random seed (default 1)\n"
		"  --snaplen N          cut frames to N bytes (default 65535)\n"
		"  --frame-size N       every frame exactly N bytes on the wire (N >= 60)\n"
		"  --nanosecond         nanosecond timestamps (pcap magic a1b23c4d)\n"
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
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	cf_synth_opts o;
	cf_synth_stats st;
	char err[CF_ERRBUF_SIZE] = "";
	int quiet = 0, c, flows_set = 0;
	uint64_t v = 0;

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
			if (parse_u64(optarg, 1, 1ull << 40, &o.flows))
				bad = "--flows wants an integer >= 1";
			flows_set = 1;
			break;
		case 'd':
			if (parse_double(optarg, 1e-6, 1e8, &o.duration_s))
				bad = "--duration wants seconds > 0";
			break;
		case 's':
			if (parse_u64(optarg, 0, UINT64_MAX, &o.seed))
				bad = "--seed wants an unsigned integer";
			break;
		case 'l':
			if (parse_u64(optarg, 1, 262144, &v))
				bad = "--snaplen wants an integer in 1..262144";
			o.snaplen = (uint32_t)v;
			break;
		case 'g':
			if (parse_double(optarg, 0, 1e6, &o.gbytes) || o.gbytes <= 0)
				bad = "--gbytes wants a number > 0";
			break;
		case 'F':
			if (parse_u64(optarg, 60, 65535, &v))
				bad = "--frame-size wants an integer in 60..65535";
			o.frame_size = (uint32_t)v;
			break;
		case 'n':
			o.nanosecond = 1;
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

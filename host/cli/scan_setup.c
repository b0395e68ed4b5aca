/* The options and set-up every scanning command shares: --decap,
 * --backend, --filter, the backend note, the reusable packet batch. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_scan_init(cli_scan *s)
{
	memset(s, 0, sizeof *s);
	cf_decode_opts_default(&s->so.decode);
	s->backend_kind = CF_BACKEND_AUTO;
}

int cli_scan_option(cli_scan *s, const char *cmd, int opt, const char *arg)
{
	char err[CF_ERRBUF_SIZE];
	switch (opt) {
	case 'f':
		s->filter_expr = arg;
		return 1;
	case 'd':
		if (cf_decode_parse_decap(arg, &s->so.decode.decap, err) < 0) {
			fprintf(stderr, "cuflow %s: %s\n", cmd, err);
			return -1;
		}
		return 1;
	case 'b':
		if (cf_backend_parse(arg, &s->backend_kind) < 0) {
			fprintf(stderr, "cuflow %s: unknown backend '%s' (auto, cpu, cuda)\n", cmd, arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

int cli_scan_open(cli_scan *s, const char *cmd, int show_note)
{
	char err[CF_ERRBUF_SIZE];
	if (s->filter_expr && cf_filter_open(s->filter_expr, &s->so.filter, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		return -1;
	}
	if (cf_backend_open(s->backend_kind, &s->so.backend, err) < 0) {
		fprintf(stderr, "cuflow %s: %s\n", cmd, err);
		return -1;
	}
	if (show_note && cf_backend_note(s->so.backend)[0])
		fprintf(stderr, "cuflow: %s\n", cf_backend_note(s->so.backend));
	if (cf_pkt_batch_create(&s->batch, 65536, s->so.backend) < 0) {
		fprintf(stderr, "cuflow %s: out of memory\n", cmd);
		return -1;
	}
	s->so.batch = s->batch;
	return 0;
}

void cli_scan_close(cli_scan *s)
{
	if (s->so.backend) {
		/* what the user must know about the device's run */
		cf_backend_counters k;
		cf_backend_get_counters(s->so.backend, &k);
		if (k.fallbacks)
			fprintf(stderr, "cuflow: %s\n", cf_backend_note(s->so.backend));
		if (k.fft_direct)
			fprintf(stderr, "cuflow: FFT on the GPU by the direct DFT (%" PRIu64 " parts, %" PRIu64 " by cuFFT): %s\n",
			        k.fft_direct, k.fft_cufft, k.fft_why);
	}
	cf_pkt_batch_destroy(s->batch);
	s->batch = NULL;
	cf_backend_close(s->so.backend);
	cf_filter_close(s->so.filter);
	s->so.backend = NULL;
	s->so.filter = NULL;
}

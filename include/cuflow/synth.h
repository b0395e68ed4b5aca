/*
 * Synthetic capture writer for tests, demos and benchmarks.
 *
 * Flow sizes are heavy-tailed (Pareto), packet sizes mixed (many 40-80 B
 * control packets and full 1500 B segments), TCP flows have handshakes and
 * teardowns (some end with RST), UDP flows look like DNS or RTP, some ICMP
 * echo; IPv4 and IPv6; some 802.1Q tags. The output depends only on the
 * options (same seed, same bytes).
 */
#ifndef CUFLOW_SYNTH_H
#define CUFLOW_SYNTH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_synth_opts {
	const char *path;      /* output file ("-" for standard output) */
	uint64_t flows;        /* flows to generate (default 1000); ignored when gbytes > 0 */
	double duration_s;     /* capture span in seconds (default 60) */
	uint64_t seed;         /* default 1 */
	uint32_t snaplen;      /* frames are cut to this many bytes (default 65535) */
	double gbytes;         /* when > 0: write flows until the file holds this many GB (1e9) */
	uint32_t frame_size;   /* 0: mixed sizes; N >= 60: every frame exactly N bytes on the wire */
	int nanosecond;        /* 1: nanosecond pcap magic */
	/* Called after each chunk (a few MB) reaches the output, from the
	 * calling thread: bytes so far, the target in gbytes mode (else 0),
	 * packets so far. Same shape as the CLI's progress update. NULL: none. */
	void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
	void *progress_ctx;
} cf_synth_opts;

typedef struct cf_synth_stats {
	uint64_t flows;
	uint64_t packets;
	uint64_t bytes_written; /* file size */
} cf_synth_stats;

void cf_synth_opts_default(cf_synth_opts *o);

/* Writes the capture: classic little-endian pcap, LINKTYPE_ETHERNET.
 * Valid options: path set; flows >= 1 unless gbytes > 0; 0 < duration_s
 * <= 1e8; 1 <= snaplen <= 262144; frame_size 0 or 60..65535; 0 <= gbytes
 * <= 1e6. Memory stays bounded (about 10 MB) whatever the size.
 * CF_OK, or CF_ERR_IO / CF_ERR_ARG / CF_ERR_NOMEM with errbuf set (errbuf
 * may be NULL). stats may be NULL; on failure it holds what was written. */
int cf_synth_write(const cf_synth_opts *o, cf_synth_stats *stats, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif

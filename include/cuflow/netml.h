/*
 * netml-compatible features: netml 0.7.1's PParser pipeline (capture ->
 * directional 5-tuple flows -> idle-timeout chunks -> subflows -> IAT,
 * SIZE, IAT_SIZE, STATS, SAMP_NUM, SAMP_SIZE vectors, optional FFT and
 * header), reproduced bit for bit (spec: docs/netml.md).
 *
 * Use: cf_netml_open, feed packets (cf_netml_scan_file, or cf_netml_add
 * from your own decode loop), cf_netml_finish (flows, interval,
 * subflows), optionally cf_netml_label_csv or cf_netml_label_with, then
 * cf_netml_features for each type, in row blocks of any size. Every
 * packet not used is counted by reason (cf_netml_counters).
 *
 * Memory: netml's split interval and dimension are quantiles over the
 * whole capture, so the kept packets' metadata is held until the end:
 * 24 bytes per TCP/UDP packet (the output is computed in blocks).
 */
#ifndef CUFLOW_NETML_H
#define CUFLOW_NETML_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/label.h"
#include "cuflow/packet.h"
#include "cuflow/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* netml's feature types (netml.md section 6), in upstream's order. */
enum cf_netml_type {
	CF_NETML_IAT = 0,
	CF_NETML_SIZE,
	CF_NETML_IAT_SIZE,
	CF_NETML_STATS,
	CF_NETML_SAMP_NUM,
	CF_NETML_SAMP_SIZE,
	CF_NETML_TYPE_COUNT
};

/* Columns of a STATS row. */
#define CF_NETML_STATS_COLS 12u
/* Header part: 8 TCP flag counts, then the TTLs (netml.md section 6). */
#define CF_NETML_HDR_FLAGS 8u
/* SAMP vectors stop growing past this many windows (upstream's cap). */
#define CF_NETML_SAMP_MAX 500


typedef struct cf_netml cf_netml;

typedef struct cf_netml_opts {
	double q_interval;        /* quantile for the split interval and the dimension (0.9) */
	double interval;          /* > 0: split interval in seconds instead of the quantile (0) */
	uint32_t flow_pkts_thres; /* netml's flow_ptks_thres (2), >= 1 */
	double tcp_timeout;       /* idle timeouts in seconds (600, 600) */
	double udp_timeout;
	/* Fixed variants (off = netml's behaviour, quirks included). */
	int keep_trailing;        /* keep the last chunk of a flow that was split (both steps) */
	int ipv6_flows;           /* IPv6 packets form real 5-tuple flows instead of one pseudo-flow */
	double samp_width;        /* > 0: SAMP window width instead of the 0.3 quantile of durations */
	/* > 0 (2..2^23): this dimension (self.dim) for every capture instead of
	 * the q_interval quantile of its subflow sizes, so that the rows of
	 * several captures have one width; 0 (default): netml's quantile. */
	uint32_t fixed_dim;
	/* Bounded memory. > 0: once the packets and flows held would pass this
	 * many bytes (27 a packet, 54 a flow), every packet goes, with its
	 * flow's key, to one of 512 hash partitions in unlinked temporary files
	 * in spill_dir (NULL or "": $TMPDIR, else /tmp; copied at open); finish
	 * takes one partition at a time and keeps the rows and their packets
	 * on disk. Memory then stays near this budget whatever the capture's
	 * size, and the results are the same bits. 0: everything stays in
	 * memory. Default 128 MB. */
	uint64_t spill_bytes;
	const char *spill_dir;
} cf_netml_opts;

/* netml's defaults (q 0.9, threshold 2, 600 s, no fixes). */
void cf_netml_opts_default(cf_netml_opts *o);

/* "IAT", "SIZE", ...; NULL when out of range. */
const char *cf_netml_type_name(int type);
/* Type of a name (netml's "FFT-IAT" style aliases accepted, case-sensitive
 * as upstream); -1 when unknown. */
int cf_netml_type_parse(const char *name);

/* CF_OK, CF_ERR_ARG (bad option, message in errbuf) or CF_ERR_NOMEM. */
int cf_netml_open(const cf_netml_opts *o, cf_netml **out, char *errbuf);
void cf_netml_close(cf_netml *h);
/* Last error text ("" when none). */
const char *cf_netml_error(const cf_netml *h);

/* One decoded record, in capture order (decode with tunnels off: netml
 * mode reads the outer headers). Returns CF_OK or CF_ERR_NOMEM. */
int cf_netml_add(cf_netml *h, const cf_pkt *p);
/* Scans a capture into h: opts->decode is overridden to decapsulate
 * nothing; its on_packet hooks are used by this call. Returns res->status. */
int cf_netml_scan_file(cf_netml *h, const char *path, const cf_scan_opts *opts, cf_scan_result *res);

/* Builds flows, the split interval and subflows. CF_OK; CF_ERR_NO_DATA
 * when no flow survives or when the interval is 0 while a flow has a
 * gap (netml 0.7.1 crashes on both), with the reason in cf_netml_error. */
int cf_netml_finish(cf_netml *h);

/* Labels (after finish, before features; at most once), from the
 * library's labeler (cuflow/label.h): each subflow's flow, as its
 * directional 5-tuple (the IPv6 pseudo-flow as IP version 0) and the
 * subflow's first/last packet times, goes to cf_labeler_match; the name
 * it gets gives label 0 when it is BENIGN or NORMAL (any case), else 1;
 * subflows it drops are dropped and counted (pkts_unlabelled,
 * subflows_unlabelled). The labeler is only read from, so one opened
 * once serves every capture. CF_OK; CF_ERR_NO_DATA when no subflow is
 * left; CF_ERR_ARG (NULL, before finish, twice); CF_ERR_NOMEM. errbuf
 * (may be NULL) and cf_netml_error get the message. */
int cf_netml_label_with(cf_netml *h, cf_labeler *l, char *errbuf);
/* netml 0.7.1's label_flows: cf_netml_label_with a labeler opened on a
 * CIC-IDS2017 / CICFlowMeter CSV with match =
 * CF_LABEL_MATCH_TUPLE_DIRECTIONAL (columns " Source IP",
 * " Destination IP", " Source Port", " Destination Port", " Protocol",
 * " Label", spaces around names ignored; the same directional 5-tuple
 * only, no times, a later row wins), then closed. Errors of the file
 * are cf_labeler_open_csv's and name the file and line. To label many
 * captures with one file, open the labeler once and call
 * cf_netml_label_with. */
int cf_netml_label_csv(cf_netml *h, const char *path, char *errbuf);
/* Every subflow gets `label`. */
void cf_netml_label_constant(cf_netml *h, int64_t label);

typedef struct cf_netml_subflow {
	uint8_t ip_version;   /* 4, 6 (with ipv6_flows) or 0 for netml's IPv6 pseudo-flow */
	uint8_t proto;        /* 6 or 17; 0 for the pseudo-flow */
	uint16_t src_port, dst_port;
	uint8_t src_ip[16], dst_ip[16];
	uint32_t packets;
	double first_t, last_t; /* seconds since the epoch */
	int64_t label;        /* when labelled, else 0 */
} cf_netml_subflow;

/* After finish: subflows (rows), in netml's order. */
uint64_t cf_netml_rows(const cf_netml *h);
void cf_netml_subflow_at(const cf_netml *h, uint64_t i, cf_netml_subflow *out);
/* netml's interval, base dimension (floor of the q quantile of subflow
 * sizes, or fixed_dim) and SAMP window width (0.3 quantile of subflow durations, or
 * the option). */
double cf_netml_interval(const cf_netml *h);
uint32_t cf_netml_dim(const cf_netml *h);
double cf_netml_samp_width(const cf_netml *h);
/* Columns of the feature part (self.dim), of the header part (0 or
 * 8 + self.dim), and of the whole row. */
uint32_t cf_netml_feat_cols(const cf_netml *h, int type);
uint32_t cf_netml_row_cols(const cf_netml *h, int type, int header);

/* Rows [row0, row0 + n) of one type into out (n x row_cols, row-major,
 * float64) on backend b (NULL: the CPU reference). CF_OK; CF_ERR_NO_DATA
 * for SAMP types when the window width is 0 and a subflow has a gap
 * (netml crashes there; set samp_width); CF_ERR_ARG; CF_ERR_DEVICE. */
int cf_netml_features(cf_netml *h, struct cf_backend *b, int type, int fft, int header, uint64_t row0, uint64_t n,
                      double *out);

typedef struct cf_netml_counters {
	uint64_t packets;            /* records given to cf_netml_add */
	uint64_t skipped_decode;     /* no IP 5-tuple (decoder skip reasons, in the scan summary) */
	uint64_t not_tcp_udp;        /* IP but neither TCP nor UDP (ICMP, IGMP, ...) */
	uint64_t kept;               /* TCP/UDP packets held */
	uint64_t ipv6_pseudo;        /* of those, in the IPv6 pseudo-flow */
	uint64_t flows;              /* distinct flow ids */
	uint64_t pkts_small_flow;    /* in flows below max(2, thres) packets */
	uint64_t pkts_timeout_tail;  /* in the dropped trailing chunk after a timeout split */
	uint64_t pkts_small_chunk;   /* in chunks below thres */
	uint64_t chunks;             /* flows after the idle timeout step */
	uint64_t pkts_interval_tail; /* in the dropped trailing subflow after an interval split */
	uint64_t pkts_small_subflow; /* in subflows below max(2, thres) */
	uint64_t pkts_unlabelled;    /* in subflows the label file has no row for */
	uint64_t subflows_unlabelled;
	uint64_t subflows;           /* rows */
	uint64_t pkts_in_rows;
	uint64_t spill_runs;         /* hash partitions on disk (0: all in memory) */
} cf_netml_counters;
void cf_netml_counters_get(const cf_netml *h, cf_netml_counters *out);

#ifdef __cplusplus
}
#endif

#endif

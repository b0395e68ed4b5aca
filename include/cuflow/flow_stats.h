/*
 * Per-flow statistics: the features of a flow (cf_flow_stats) and their
 * conventions. (The math both backends run is library-internal,
 * cuflow/flow_part.h.)
 *
 * A flow's packets reach the backend as one or more pieces (a flow longer
 * than the per-flow cap, or flushed to bound memory, is cut into pieces).
 * Each piece reduces to a cf_flow_part of EXACT integer accumulators:
 * counts, byte sums, sums of squares (128-bit), min/max, first/last times,
 * flag counts. Integer sums are associative, so merging the parts of a
 * split flow gives exactly the part of the whole flow, and the final
 * features (cf_flow_stats_finish) are a function of that part alone: no
 * feature can change because a flow was split, or because of the thread
 * count or the backend.
 *
 * Conventions (schema.json and the CSV header state them too):
 *  - sizes in bytes (the size measure chosen by --size), times in ns;
 *  - packet times are those the flow table gives (monotonic, see flow.h);
 *  - standard deviations are SAMPLE standard deviations (divide by
 *    n - 1), as NFStream's; 0 when fewer than two values. They come from
 *    the exact integer sums: var = (n * S2 - S1^2) / (n * (n - 1)), the
 *    numerator computed exactly in 192-bit arithmetic, then rounded once
 *    to double, divided and square-rooted (IEEE, correctly rounded on
 *    CPU and GPU alike);
 *  - inter-arrival times (piat) are taken between consecutive packets of
 *    the same direction set (src2dst piats skip dst2src packets); a set of
 *    n packets has n - 1 piats; their sum is last - first exactly; with
 *    none, min/mean/stddev/max are 0;
 *  - packet-size quantiles p25/p50/p75 follow numpy.percentile's default
 *    ("linear"): h = (n - 1) q, x[floor h] + (h - floor h) (x[floor h + 1]
 *    - x[floor h]), computed as numpy's _lerp; 0 with no packets;
 *  - with no packets every field is 0.
 */
#ifndef CUFLOW_FLOW_STATS_H
#define CUFLOW_FLOW_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Indices of the flag counters, in NFStream's column order. */
enum cf_flow_flag_idx {
	CF_FF_SYN = 0, CF_FF_CWR, CF_FF_ECE, CF_FF_URG, CF_FF_ACK, CF_FF_PSH, CF_FF_RST, CF_FF_FIN,
	CF_FF_COUNT
};

/* Direction sets of a flow: index into cf_flow_part.d / cf_flow stats. */
enum cf_flow_dirset { CF_DIR_BIDIR = 0, CF_DIR_SRC2DST = 1, CF_DIR_DST2SRC = 2, CF_DIR_COUNT = 3 };

/* Final features of one direction set. */
typedef struct cf_flow_stats {
	uint64_t packets;
	uint64_t bytes;
	int64_t first_ns, last_ns;   /* 0 with no packets */
	int64_t duration_ns;         /* last - first */
	uint32_t ps_min, ps_max;
	double ps_mean, ps_stddev;
	double ps_p25, ps_p50, ps_p75;
	int64_t piat_min, piat_max;
	double piat_mean, piat_stddev;
	uint32_t flag[CF_FF_COUNT];
} cf_flow_stats;

#ifdef __cplusplus
}
#endif

#endif

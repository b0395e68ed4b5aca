/*
 * Per-flow statistics: running accumulators for one direction of a flow
 * (or the whole flow), updated packet by packet in time order.
 *
 * The update, the merge and the final formulas are CF_HD functions so the
 * CPU reference and a later CUDA kernel compute the same bits. Moments
 * use Welford's update; two accumulators of consecutive pieces of one
 * flow merge with Chan's formula (counts, sums, min/max exactly; means
 * and M2 to rounding), so a flow processed in pieces gives the same
 * features up to floating-point rounding.
 *
 * Conventions (the CSV schema states them too):
 *  - sizes in bytes, times in ns (packet times as made monotonic by the
 *    flow table, see flow.h);
 *  - standard deviations are SAMPLE standard deviations (divide by n - 1),
 *    as NFStream's; 0 when fewer than two values;
 *  - inter-arrival times (piat) are taken between consecutive packets of
 *    the same accumulator (so src2dst piats skip dst2src packets); a flow
 *    of n packets has n - 1 piats; with none, min/mean/stddev/max are 0;
 *  - with no packets every field is 0.
 */
#ifndef CUFLOW_FLOW_STATS_H
#define CUFLOW_FLOW_STATS_H

#include <stdint.h>
#include <math.h>
#include "cuflow/hd.h"
#include "cuflow/packet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Indices of cf_flow_acc.flag, in NFStream's column order. */
enum cf_flow_flag_idx {
	CF_FF_SYN = 0, CF_FF_CWR, CF_FF_ECE, CF_FF_URG, CF_FF_ACK, CF_FF_PSH, CF_FF_RST, CF_FF_FIN,
	CF_FF_COUNT
};

typedef struct cf_flow_acc {
	uint64_t packets;
	uint64_t bytes;
	int64_t first_ns, last_ns;
	double ps_mean, ps_m2;       /* Welford moments of packet sizes */
	double piat_mean, piat_m2;   /* Welford moments of inter-arrival times */
	int64_t piat_min, piat_max;
	uint32_t ps_min, ps_max;
	uint32_t flag[CF_FF_COUNT];  /* packets with the TCP flag set */
} cf_flow_acc;

static inline CF_HD void cf_flow_acc_clear(cf_flow_acc *a)
{
	a->packets = 0;
	a->bytes = 0;
	a->first_ns = 0;
	a->last_ns = 0;
	a->ps_mean = 0;
	a->ps_m2 = 0;
	a->piat_mean = 0;
	a->piat_m2 = 0;
	a->piat_min = 0;
	a->piat_max = 0;
	a->ps_min = 0;
	a->ps_max = 0;
	for (int i = 0; i < CF_FF_COUNT; i++)
		a->flag[i] = 0;
}

/* Adds one packet of `size` bytes at t_ns (t_ns >= the previous one). */
static inline CF_HD void cf_flow_acc_add(cf_flow_acc *a, int64_t t_ns, uint32_t size, uint16_t tcp_flags)
{
	if (a->packets == 0) {
		a->first_ns = t_ns;
		a->ps_min = size;
		a->ps_max = size;
	} else {
		int64_t piat = t_ns - a->last_ns;
		uint64_t k = a->packets; /* piats after this one */
		if (k == 1 || piat < a->piat_min)
			a->piat_min = piat;
		if (k == 1 || piat > a->piat_max)
			a->piat_max = piat;
		double d = (double)piat - a->piat_mean;
		a->piat_mean += d / (double)k;
		a->piat_m2 += d * ((double)piat - a->piat_mean);
		if (size < a->ps_min)
			a->ps_min = size;
		if (size > a->ps_max)
			a->ps_max = size;
	}
	a->last_ns = t_ns;
	a->packets += 1;
	a->bytes += size;
	double d = (double)size - a->ps_mean;
	a->ps_mean += d / (double)a->packets;
	a->ps_m2 += d * ((double)size - a->ps_mean);
	a->flag[CF_FF_SYN] += (tcp_flags & CF_TCP_SYN) != 0;
	a->flag[CF_FF_CWR] += (tcp_flags & CF_TCP_CWR) != 0;
	a->flag[CF_FF_ECE] += (tcp_flags & CF_TCP_ECE) != 0;
	a->flag[CF_FF_URG] += (tcp_flags & CF_TCP_URG) != 0;
	a->flag[CF_FF_ACK] += (tcp_flags & CF_TCP_ACK) != 0;
	a->flag[CF_FF_PSH] += (tcp_flags & CF_TCP_PSH) != 0;
	a->flag[CF_FF_RST] += (tcp_flags & CF_TCP_RST) != 0;
	a->flag[CF_FF_FIN] += (tcp_flags & CF_TCP_FIN) != 0;
}

/* Chan's pairwise update of (n, mean, M2) with (nb, mb, m2b). */
static inline CF_HD void cf_moments_merge(uint64_t na, double *mean, double *m2, uint64_t nb, double mb,
                                          double m2b)
{
	if (nb == 0)
		return;
	if (na == 0) {
		*mean = mb;
		*m2 = m2b;
		return;
	}
	double n = (double)(na + nb);
	double d = mb - *mean;
	*mean += d * ((double)nb / n);
	*m2 += m2b + d * d * ((double)na * (double)nb / n);
}

/* a = a followed by b: b holds the packets of the same flow (direction)
 * that come after a's (b->first_ns >= a->last_ns). The piat across the
 * boundary (b->first_ns - a->last_ns) is included. */
static inline CF_HD void cf_flow_acc_merge(cf_flow_acc *a, const cf_flow_acc *b)
{
	if (b->packets == 0)
		return;
	if (a->packets == 0) {
		*a = *b;
		return;
	}
	/* piats: a's (na-1), the boundary one, b's (nb-1) */
	uint64_t pa = a->packets - 1, pb = b->packets - 1;
	int64_t gap = b->first_ns - a->last_ns;
	double mean = a->piat_mean, m2 = a->piat_m2;
	cf_moments_merge(pa, &mean, &m2, 1, (double)gap, 0.0);
	cf_moments_merge(pa + 1, &mean, &m2, pb, b->piat_mean, b->piat_m2);
	int64_t mn = gap, mx = gap;
	if (pa && a->piat_min < mn)
		mn = a->piat_min;
	if (pa && a->piat_max > mx)
		mx = a->piat_max;
	if (pb && b->piat_min < mn)
		mn = b->piat_min;
	if (pb && b->piat_max > mx)
		mx = b->piat_max;
	a->piat_mean = mean;
	a->piat_m2 = m2;
	a->piat_min = mn;
	a->piat_max = mx;

	cf_moments_merge(a->packets, &a->ps_mean, &a->ps_m2, b->packets, b->ps_mean, b->ps_m2);
	if (b->ps_min < a->ps_min)
		a->ps_min = b->ps_min;
	if (b->ps_max > a->ps_max)
		a->ps_max = b->ps_max;
	a->packets += b->packets;
	a->bytes += b->bytes;
	a->last_ns = b->last_ns;
	for (int i = 0; i < CF_FF_COUNT; i++)
		a->flag[i] += b->flag[i];
}

/* Sample standard deviation from Welford's M2 over n values. */
static inline CF_HD double cf_sample_stddev(double m2, uint64_t n)
{
	return n < 2 ? 0.0 : sqrt(m2 / (double)(n - 1));
}

static inline CF_HD int64_t cf_flow_acc_duration(const cf_flow_acc *a)
{
	return a->packets ? a->last_ns - a->first_ns : 0;
}
static inline CF_HD double cf_flow_acc_stddev_ps(const cf_flow_acc *a)
{
	return cf_sample_stddev(a->ps_m2, a->packets);
}
static inline CF_HD double cf_flow_acc_stddev_piat(const cf_flow_acc *a)
{
	return a->packets ? cf_sample_stddev(a->piat_m2, a->packets - 1) : 0.0;
}

#ifdef __cplusplus
}
#endif

#endif

/*
 * Library-internal: the per-flow math both backends run, in CF_HD
 * functions that gcc (CPU reference, tests) and nvcc (kernels) compile
 * alike: a piece of a flow reduces to a cf_flow_part of exact integer
 * accumulators, merged across pieces and finished into cf_flow_stats
 * (cuflow/flow_stats.h says what the features are).
 */
#ifndef CUFLOW_FLOW_PART_H
#define CUFLOW_FLOW_PART_H

#include <stdint.h>
#include <math.h>
#include "cuflow/hd.h"
#include "cuflow/packet.h"
#include "cuflow/flow_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 128-bit unsigned integer: gcc, clang and nvcc (device code since CUDA
 * 11.5) all provide it. */
typedef unsigned __int128 cf_u128;

/* One packet of a flow as the flow table stores it (24 bytes). */
typedef struct cf_flow_pkt {
	int64_t ts_ns;        /* monotonic packet time */
	uint32_t size;        /* per the size mode */
	uint16_t ip_id;       /* low 16 bits of the IPv4 id (IPv6: fragment id) */
	uint8_t tcp_flags;    /* the 8 classic TCP flag bits */
	uint8_t ttl;          /* TTL / hop limit */
	uint8_t dir;          /* 0: src2dst, 1: dst2src */
	uint8_t pad[7];
} cf_flow_pkt;

/* Exact accumulators of one direction set over some consecutive packets. */
typedef struct cf_flow_part_dir {
	uint64_t packets;
	uint64_t bytes;          /* sum of sizes */
	cf_u128 bytes_sq;        /* sum of squared sizes */
	cf_u128 piat_sq;         /* sum of squared inter-arrival times */
	int64_t first_ns, last_ns;
	int64_t piat_min, piat_max;
	uint32_t ps_min, ps_max;
	uint32_t flag[CF_FF_COUNT];
	uint32_t reserved[2];    /* zero: no padding, so parts compare with memcmp */
} cf_flow_part_dir;

typedef struct cf_flow_part {
	cf_flow_part_dir d[CF_DIR_COUNT];
} cf_flow_part;
CF_STATIC_ASSERT(sizeof(cf_flow_part_dir) == 128, "cf_flow_part_dir has no padding");

static inline CF_HD void cf_flow_part_dir_clear(cf_flow_part_dir *a)
{
	a->packets = 0;
	a->bytes = 0;
	a->bytes_sq = 0;
	a->piat_sq = 0;
	a->first_ns = 0;
	a->last_ns = 0;
	a->piat_min = 0;
	a->piat_max = 0;
	a->ps_min = 0;
	a->ps_max = 0;
	for (int i = 0; i < CF_FF_COUNT; i++)
		a->flag[i] = 0;
	a->reserved[0] = a->reserved[1] = 0;
}

static inline CF_HD void cf_flow_part_clear(cf_flow_part *p)
{
	for (int d = 0; d < CF_DIR_COUNT; d++)
		cf_flow_part_dir_clear(&p->d[d]);
}

/* Adds one packet (t_ns >= the set's previous packet time). */
static inline CF_HD void cf_flow_part_dir_add(cf_flow_part_dir *a, int64_t t_ns, uint32_t size, uint8_t tcp_flags)
{
	if (a->packets == 0) {
		a->first_ns = t_ns;
		a->ps_min = size;
		a->ps_max = size;
	} else {
		int64_t piat = t_ns - a->last_ns;
		if (a->packets == 1 || piat < a->piat_min)
			a->piat_min = piat;
		if (a->packets == 1 || piat > a->piat_max)
			a->piat_max = piat;
		a->piat_sq += (cf_u128)(uint64_t)piat * (uint64_t)piat;
		if (size < a->ps_min)
			a->ps_min = size;
		if (size > a->ps_max)
			a->ps_max = size;
	}
	a->last_ns = t_ns;
	a->packets += 1;
	a->bytes += size;
	a->bytes_sq += (cf_u128)((uint64_t)size * size);
	a->flag[CF_FF_SYN] += (tcp_flags & CF_TCP_SYN) != 0;
	a->flag[CF_FF_CWR] += (tcp_flags & CF_TCP_CWR) != 0;
	a->flag[CF_FF_ECE] += (tcp_flags & CF_TCP_ECE) != 0;
	a->flag[CF_FF_URG] += (tcp_flags & CF_TCP_URG) != 0;
	a->flag[CF_FF_ACK] += (tcp_flags & CF_TCP_ACK) != 0;
	a->flag[CF_FF_PSH] += (tcp_flags & CF_TCP_PSH) != 0;
	a->flag[CF_FF_RST] += (tcp_flags & CF_TCP_RST) != 0;
	a->flag[CF_FF_FIN] += (tcp_flags & CF_TCP_FIN) != 0;
}

/* Adds a packet to the bidirectional set and to its direction's set. */
static inline CF_HD void cf_flow_part_add(cf_flow_part *p, int64_t t_ns, uint32_t size, uint8_t tcp_flags, int dir)
{
	cf_flow_part_dir_add(&p->d[CF_DIR_BIDIR], t_ns, size, tcp_flags);
	cf_flow_part_dir_add(&p->d[dir ? CF_DIR_DST2SRC : CF_DIR_SRC2DST], t_ns, size, tcp_flags);
}

/* a = a followed by b (b's packets come after a's in time). Exact: the
 * piat across the boundary (b.first - a.last) is added like any other. */
static inline CF_HD void cf_flow_part_dir_merge(cf_flow_part_dir *a, const cf_flow_part_dir *b)
{
	if (b->packets == 0)
		return;
	if (a->packets == 0) {
		*a = *b;
		return;
	}
	int64_t gap = b->first_ns - a->last_ns;
	int64_t mn = gap, mx = gap;
	if (a->packets > 1 && a->piat_min < mn)
		mn = a->piat_min;
	if (a->packets > 1 && a->piat_max > mx)
		mx = a->piat_max;
	if (b->packets > 1 && b->piat_min < mn)
		mn = b->piat_min;
	if (b->packets > 1 && b->piat_max > mx)
		mx = b->piat_max;
	a->piat_min = mn;
	a->piat_max = mx;
	a->piat_sq += b->piat_sq + (cf_u128)(uint64_t)gap * (uint64_t)gap;
	if (b->ps_min < a->ps_min)
		a->ps_min = b->ps_min;
	if (b->ps_max > a->ps_max)
		a->ps_max = b->ps_max;
	a->packets += b->packets;
	a->bytes += b->bytes;
	a->bytes_sq += b->bytes_sq;
	a->last_ns = b->last_ns;
	for (int i = 0; i < CF_FF_COUNT; i++)
		a->flag[i] += b->flag[i];
}

static inline CF_HD void cf_flow_part_merge(cf_flow_part *a, const cf_flow_part *b)
{
	for (int d = 0; d < CF_DIR_COUNT; d++)
		cf_flow_part_dir_merge(&a->d[d], &b->d[d]);
}

/* A 128-bit unsigned integer as a double: high and low words converted
 * and added (two roundings, the same on every compiler). */
static inline CF_HD double cf_u128_to_double(cf_u128 x)
{
	return (double)(uint64_t)(x >> 64) * 18446744073709551616.0 + (double)(uint64_t)x;
}

/* Sample variance of n values from their exact sum s1 (< 2^64) and sum
 * of squares s2: (n s2 - s1^2) / (n (n - 1)), the numerator exact. */
static inline CF_HD double cf_sample_var_exact(uint64_t n, uint64_t s1, cf_u128 s2)
{
	if (n < 2)
		return 0.0;
	/* n * s2 as 192 bits: hi (64) : lo (128) */
	cf_u128 lo_part = (cf_u128)(uint64_t)s2 * n;
	cf_u128 hi_part = (cf_u128)(uint64_t)(s2 >> 64) * n;
	cf_u128 lo = lo_part + (hi_part << 64);
	uint64_t hi = (uint64_t)(hi_part >> 64) + (lo < lo_part ? 1u : 0u);
	cf_u128 sq = (cf_u128)s1 * s1;
	/* n s2 >= s1^2 (Cauchy-Schwarz), so the 192-bit difference is >= 0 */
	if (lo < sq)
		hi -= 1;
	lo -= sq;
	double num = (double)hi * 340282366920938463463374607431768211456.0 + cf_u128_to_double(lo);
	return num / ((double)n * (double)(n - 1));
}

/* numpy's _lerp(a, b, t): a + (b - a) t, or b - (b - a)(1 - t) for t >= 0.5. */
static inline CF_HD double cf_lerp_numpy(double a, double b, double t)
{
	double diff = b - a;
	return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

/* Position of quantile quarters/4 (1, 2, 3 -> 0.25, 0.5, 0.75) among n
 * sorted values as in numpy's "linear" method: index lo and fraction. */
static inline CF_HD void cf_quarter_pos(uint64_t n, int quarters, uint64_t *lo, double *frac)
{
	uint64_t h4 = (n - 1) * (uint64_t)quarters; /* 4 h */
	*lo = h4 / 4;
	*frac = (double)(h4 % 4) / 4.0;
}

/* Final features of one set from its part; quantiles are filled by the
 * caller (they need the sorted sizes, see cf_flow_stats_quantiles). */
static inline CF_HD void cf_flow_stats_finish(cf_flow_stats *s, const cf_flow_part_dir *a)
{
	s->packets = a->packets;
	s->bytes = a->bytes;
	s->first_ns = a->first_ns;
	s->last_ns = a->last_ns;
	s->duration_ns = a->packets ? a->last_ns - a->first_ns : 0;
	s->ps_min = a->ps_min;
	s->ps_max = a->ps_max;
	s->ps_mean = a->packets ? (double)a->bytes / (double)a->packets : 0.0;
	s->ps_stddev = sqrt(cf_sample_var_exact(a->packets, a->bytes, a->bytes_sq));
	s->ps_p25 = s->ps_p50 = s->ps_p75 = 0.0;
	uint64_t np = a->packets ? a->packets - 1 : 0;
	s->piat_min = np ? a->piat_min : 0;
	s->piat_max = np ? a->piat_max : 0;
	s->piat_mean = np ? (double)(uint64_t)s->duration_ns / (double)np : 0.0;
	s->piat_stddev = sqrt(cf_sample_var_exact(np, (uint64_t)s->duration_ns, a->piat_sq));
	for (int i = 0; i < CF_FF_COUNT; i++)
		s->flag[i] = a->flag[i];
}

/* The k-th smallest (0-based) of the union of two ascending lists given
 * as 64-bit keys whose low 32 bits are the value (the layout the
 * backends sort pieces into). */
static inline CF_HD uint32_t cf_kth_of_two(const uint64_t *a, uint64_t na, const uint64_t *b, uint64_t nb,
                                           uint64_t k)
{
	/* binary search on how many of the k+1 smallest come from a */
	uint64_t lo = k + 1 > nb ? k + 1 - nb : 0, hi = k + 1 < na ? k + 1 : na;
	while (lo < hi) {
		uint64_t i = lo + (hi - lo) / 2; /* take i from a, k+1-i from b */
		uint64_t j = k + 1 - i;
		if ((uint32_t)a[i] < (uint32_t)b[j - 1])
			lo = i + 1;
		else
			hi = i;
	}
	uint64_t i = lo, j = k + 1 - i;
	uint32_t va = i ? (uint32_t)a[i - 1] : 0, vb = j ? (uint32_t)b[j - 1] : 0;
	if (i == 0)
		return vb;
	if (j == 0)
		return va;
	return va > vb ? va : vb;
}

/* p25/p50/p75 of the union of ascending lists a (na) and b (nb). */
static inline CF_HD void cf_flow_stats_quantiles(cf_flow_stats *s, const uint64_t *a, uint64_t na,
                                                 const uint64_t *b, uint64_t nb)
{
	uint64_t n = na + nb;
	double q[3] = {0.0, 0.0, 0.0};
	if (n) {
		for (int k = 0; k < 3; k++) {
			uint64_t lo;
			double frac;
			cf_quarter_pos(n, k + 1, &lo, &frac);
			double x0 = (double)cf_kth_of_two(a, na, b, nb, lo);
			double x1 = lo + 1 < n ? (double)cf_kth_of_two(a, na, b, nb, lo + 1) : x0;
			q[k] = cf_lerp_numpy(x0, x1, frac);
		}
	}
	s->ps_p25 = q[0];
	s->ps_p50 = q[1];
	s->ps_p75 = q[2];
}

#ifdef __cplusplus
}
#endif

#endif

/*
 * Per-window distribution statistics (seed 001, docs/windows.md), as CF_HD
 * functions that gcc (the CPU reference) and nvcc (the Thrust path) both
 * compile, so the two give the same bits. Everything a window's row holds
 * comes from integer group sizes; only the finishing below makes floats,
 * the way pandas 2 / numpy 2 make them:
 *   mean      Series.mean() of int64: the sum as float64 (exact below 2^53)
 *             divided by the count;
 *   quantile  Series.quantile(q): np.percentile(v, q * 100) on the sorted
 *             values, virtual index (n - 1) * q, numpy's _lerp (a + d*g, or
 *             b - d*(1 - g) when g >= 0.5); the median is the 0.5 quantile
 *             (numpy's mean of the two middle values gives the same bits
 *             for integers).
 */
#ifndef CUFLOW_KERNELS_WINDOW_STATS_H
#define CUFLOW_KERNELS_WINDOW_STATS_H

#include <math.h>
#include <stdint.h>

#include "cuflow/hd.h"
#include "cuflow/window_batch.h"

/* numpy's linear quantile of n >= 1 ascending sizes. q arrives as pandas
 * hands it on (q * 100, divided again by numpy). */
CF_HD static inline double cf_window_quantile(const uint32_t *s, uint64_t n, double q)
{
	double qq = (q * 100.0) / 100.0;
	double vi = (double)(n - 1) * qq;
	double lo = floor(vi);
	uint64_t i = (uint64_t)lo;
	if (vi >= (double)(n - 1))
		return (double)s[n - 1];
	double g = vi - lo;
	double a = (double)s[i], b = (double)s[i + 1];
	double d = (double)((int64_t)s[i + 1] - (int64_t)s[i]);
	if (g >= 0.5)
		return b - d * (1.0 - g);
	return a + d * g;
}

/* The six statistics of one distribution from its n ascending group sizes
 * (n = 0: an empty window, max -1 and NaN for the rest). */
CF_HD static inline void cf_window_dist_from_sorted(const uint32_t *s, uint64_t n, cf_window_dist *out)
{
	if (n == 0) {
		double nan = NAN;
		out->max = -1;
		out->mean = out->p25 = out->p50 = out->p75 = out->p90 = nan;
		return;
	}
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += s[i];
	out->max = s[n - 1];
	out->mean = (double)sum / (double)n;
	out->p25 = cf_window_quantile(s, n, 0.25);
	out->p50 = cf_window_quantile(s, n, 0.5);
	out->p75 = cf_window_quantile(s, n, 0.75);
	out->p90 = cf_window_quantile(s, n, 0.9);
}

#endif

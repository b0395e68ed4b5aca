/*
 * FlowPic binning (spec: flowpic_joy_lstm.md section 1, docs/flowpic.md):
 * the per-entry scatter both backends run (the CPU reference in a loop,
 * the CUDA backend in a Thrust for_each, one thread per entry) and the
 * per-pixel conversion. Bins follow numpy.histogram2d: a value goes to
 * the bin of the last edge <= it, the last edge itself to the last bin,
 * anything outside [first edge, last edge] (or NaN) nowhere. Read by gcc,
 * g++ and nvcc.
 */
#ifndef CUFLOW_KERNELS_FLOWPIC_HIST_H
#define CUFLOW_KERNELS_FLOWPIC_HIST_H

#include <math.h>
#include <stdint.h>
#include "cuflow/hd.h"
#include "cuflow/flowpic_batch.h"

/* numpy histogramdd's bin of x among ascending edges e[0..n]: -1 outside. */
static inline CF_HD int32_t cf_np_edge_bin(const double *e, uint32_t n, double x)
{
	if (!(x >= e[0]) || !(x <= e[n]))
		return -1;
	if (x == e[n])
		return (int32_t)n - 1;
	uint32_t lo = 0, hi = n - 1; /* largest i with e[i] <= x */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		if (e[mid] <= x)
			lo = mid;
		else
			hi = mid - 1;
	}
	return (int32_t)lo;
}

static inline CF_HD void cf_atomic_add_u32(uint32_t *p, uint32_t v)
{
#if defined(__CUDA_ARCH__)
	atomicAdd(p, v);
#else
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
#endif
}

/* Pixel index (within the batch's acc) of entry j of image i, or -1 when
 * the entry falls outside the image. */
static inline CF_HD int64_t cf_flowpic_pixel(const cf_flowpic_batch *b, uint32_t i, uint64_t j)
{
	uint32_t n = b->res;
	double t = b->t[j], x;
	switch (b->time_axis) {
	case CF_FLOWPIC_STRETCH: {
		double span = b->t_last[i] - b->t_first[i];
		x = span > 0.0 ? (t - b->t_first[i]) / span * (double)n : 0.0;
		break;
	}
	case CF_FLOWPIC_FIXED_EDGES:
		x = t - b->anchor[i];
		break;
	default:
		x = (t - b->anchor[i]) / b->duration * (double)n;
		break;
	}
	int32_t col = cf_np_edge_bin(b->edges_t, n, x);
	uint32_t size = b->size[j];
	if (size > 1500 && b->size_clip)
		size = 1500;
	int32_t row;
	if (b->size_edges == CF_FLOWPIC_SIZE_EDGES) {
		row = cf_np_edge_bin(b->edges_s, n, (double)size);
	} else if (b->size_edges == CF_FLOWPIC_SIZE_FLOAT) {
		/* tcbench: (sizes / 1500) * dim against the edges 0..dim, which
		 * are edges_t's integers for every axis but FIXED_EDGES */
		double xs = ((double)size / 1500.0) * (double)n;
		row = xs > (double)n ? -1 : xs == (double)n ? (int32_t)n - 1 : (int32_t)floor(xs);
	} else if (size > 1500) {
		row = -1;
	} else {
		uint64_t r = (uint64_t)size * n / 1500;
		row = (int32_t)(r < n ? r : n - 1);
	}
	if (col < 0 || row < 0)
		return -1;
	return (((int64_t)i * b->channels + b->chan[j]) * n + (uint32_t)row) * n + (uint32_t)col;
}

/* Scatter of entry j (of image i) into the counts. */
static inline CF_HD void cf_flowpic_scatter(const cf_flowpic_batch *b, uint32_t i, uint64_t j)
{
	int64_t px = cf_flowpic_pixel(b, i, j);
	if (px < 0)
		return;
	cf_atomic_add_u32(&b->acc[px], 1);
	cf_atomic_add_u32(&b->packets[i], 1);
}

/* Bytes of one output pixel of a value type. */
static inline CF_HD uint32_t cf_flowpic_value_bytes(int value)
{
	return value == CF_FLOWPIC_COUNT ? 2 : value == CF_FLOWPIC_CAPPED ? 1 : 4;
}

/* Pixel k's output value from its count. */
static inline CF_HD void cf_flowpic_convert(const cf_flowpic_batch *b, uint64_t k)
{
	uint32_t c = b->acc[k];
	switch (b->value) {
	case CF_FLOWPIC_COUNT:
		((uint16_t *)b->out)[k] = (uint16_t)c; /* wraps above 65535, as the official astype(np.uint16) */
		break;
	case CF_FLOWPIC_CAPPED:
		((uint8_t *)b->out)[k] = (uint8_t)(c < 255u ? c : 255u);
		break;
	default:
		((float *)b->out)[k] = (float)(c < 255u ? c : 255u) / 255.0f;
		break;
	}
}

#endif

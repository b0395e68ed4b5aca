/*
 * One batch of FlowPic images for a backend: each image is a window's
 * packet list (CSR over packet entries) that the backend bins into an
 * N x N histogram per channel (kernels/flowpic_hist.h says how). The host
 * (host/flowpic/flowpic.c) fills it; cf_backend_flowpic_images computes
 * every image, on the CPU (reference) or the GPU (same bits). Plain data,
 * read by gcc and nvcc.
 */
#ifndef CUFLOW_FLOWPIC_BATCH_H
#define CUFLOW_FLOWPIC_BATCH_H

#include <stdint.h>
#include "cuflow/flowpic.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_flowpic_batch {
	uint32_t n_images;
	uint32_t channels;        /* 1, or 2 (up, down) */
	uint32_t res;             /* N: each channel is N x N, H[size row][time column] */
	int time_axis;            /* enum cf_flowpic_time_axis */
	int size_clip;            /* 1: sizes over 1500 count as 1500; 0: dropped */
	int size_edges;           /* enum cf_flowpic_size_bins */
	int value;                /* enum cf_flowpic_value */
	double duration;          /* D, seconds (fixed axes) */
	/* n_images + 1 offsets into the entry columns */
	const uint64_t *offsets;
	const double *t;          /* relative time of the entry, seconds */
	const uint32_t *size;     /* bytes */
	const uint8_t *chan;      /* channel of the entry (0 or 1) */
	/* per image */
	const double *t_first;    /* stretch: the window's first and last packet times */
	const double *t_last;
	const double *anchor;     /* fixed axes: time of column 0 */
	const double *edges_t;    /* FIXED_EDGES: N + 1 time edges (numpy linspace), shared */
	const double *edges_s;    /* size_edges: N + 1 size edges, shared */
	uint32_t *acc;            /* n_images x channels x N x N counts (scratch, zeroed by the backend) */
	void *out;                /* n_images x channels x N x N values of `value`'s type */
	uint32_t *packets;        /* per image: entries that landed in a pixel */
	int64_t *pix;             /* optional scratch, one per entry: with it the CPU
	                             backend touches only the pixels packets land in
	                             (acc need not start zeroed) and leaves each entry's
	                             pixel here (-1: none); without, every pixel */
	int out_zero;             /* 1: out is all zero on entry, so the CPU backend's
	                             sparse path need not clear it */
} cf_flowpic_batch;

#ifdef __cplusplus
}
#endif

#endif

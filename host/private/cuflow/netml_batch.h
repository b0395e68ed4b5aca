/*
 * One batch of netml subflows for a backend: CSR offsets into per-packet
 * columns (time order within each subflow) and the output matrix. The
 * host (host/netml/netml.c) fills it; cf_backend_netml_features computes
 * every row, on the CPU (reference) or the GPU (same bits, FFT within
 * 1e-12 relative). Plain data, read by gcc and nvcc.
 */
#ifndef CUFLOW_NETML_BATCH_H
#define CUFLOW_NETML_BATCH_H

#include <stdint.h>
#include "cuflow/netml.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_netml_batch {
	uint32_t n_rows;
	/* n_rows + 1 offsets into the packet columns; row r is packets
	 * [offsets[r], offsets[r + 1]). Offsets need not start at 0 and the
	 * rows need not be adjacent: they index the columns below directly. */
	const uint64_t *offsets;
	const double *t;         /* seconds since the epoch, as netml's float(pkt.time) */
	const uint32_t *size;    /* captured length, at most 65535 */
	const uint8_t *ttl;      /* IPv4 TTL (IPv6 hop limit) */
	const uint8_t *hflags;   /* TCP flags netml's header counts (0 where it counts none) */
	int type;                /* enum cf_netml_type */
	uint32_t feat_cols;      /* netml's self.dim for the type */
	uint32_t hdr_cols;       /* 0, or 8 + feat_cols with the header */
	double samp_width;       /* SAMP window width (seconds), > 0 for SAMP types */
	int fft;                 /* 1: real part of the DFT of each part, as np.real(np.fft.fft(v, n)) */
	double *out;             /* n_rows x (hdr_cols + feat_cols), row-major */
} cf_netml_batch;

#ifdef __cplusplus
}
#endif

#endif

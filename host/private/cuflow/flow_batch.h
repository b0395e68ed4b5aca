/*
 * A batch of flow pieces for the backends: CSR offsets over packet
 * columns (structure of arrays), and the per-piece results the backend
 * writes back. One allocation per run (pinned host memory when the CUDA
 * backend asks for it), reused for every batch.
 *
 * Piece i holds packets [offsets[i], offsets[i+1]) of one flow in time
 * order. Every piece gets its exact partial accumulators (part[i]); a
 * piece that is a whole flow (whole[i] = 1) also gets its final features
 * (stats[3 i + CF_DIR_*]) and its first seq_len packets as a sequence
 * (seq_*[i * seq_len + k], k < seq_n[i]). Pieces of split flows are
 * merged and finished by the flow engine (flow_stats.h makes that exact).
 */
#ifndef CUFLOW_FLOW_BATCH_H
#define CUFLOW_FLOW_BATCH_H

#include <stdint.h>
#include "cuflow/flow_part.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_flow_batch {
	uint32_t n_pieces, max_pieces;
	uint64_t n_packets, max_packets;
	uint32_t seq_len;
	/* input */
	uint64_t *offsets;     /* [max_pieces + 1], offsets[0] = 0 */
	uint8_t *whole;        /* [max_pieces] */
	int64_t *ts_ns;        /* [max_packets] */
	uint32_t *size;
	uint8_t *dir;          /* 0: src2dst, 1: dst2src */
	uint8_t *tcp_flags;
	/* output */
	cf_flow_part *part;    /* [max_pieces] */
	cf_flow_stats *stats;  /* [3 * max_pieces] */
	uint32_t *seq_n;       /* [max_pieces] */
	uint32_t *seq_size;    /* [max_pieces * seq_len] */
	int64_t *seq_iat_ns;
	int8_t *seq_dir;       /* +1 src2dst, -1 dst2src */
	void *mem;
	int pinned;
} cf_flow_batch;

/* Sets the capacities and, when m is not NULL, points every array into
 * m; returns the bytes the arrays take. One layout for the host batch and
 * the CUDA backend's device mirror; widest columns first so each stays
 * aligned (m aligned to 16). */
static inline size_t cf_flow_batch_carve(cf_flow_batch *b, char *m, uint32_t max_pieces, uint64_t max_packets,
                                         uint32_t seq_len)
{
	uint64_t P = max_pieces, N = max_packets, L = seq_len;
	size_t bytes = 0;
#define CF_CARVE(field, type, count)                    \
	do {                                                \
		if (m)                                          \
			b->field = (type *)(void *)(m + bytes);     \
		bytes += (size_t)(count) * sizeof(type);        \
	} while (0)
	CF_CARVE(part, cf_flow_part, P);
	CF_CARVE(stats, cf_flow_stats, 3 * P);
	CF_CARVE(offsets, uint64_t, P + 1);
	CF_CARVE(ts_ns, int64_t, N);
	CF_CARVE(seq_iat_ns, int64_t, P * L);
	CF_CARVE(size, uint32_t, N);
	CF_CARVE(seq_n, uint32_t, P);
	CF_CARVE(seq_size, uint32_t, P * L);
	CF_CARVE(dir, uint8_t, N);
	CF_CARVE(tcp_flags, uint8_t, N);
	CF_CARVE(whole, uint8_t, P);
	CF_CARVE(seq_dir, int8_t, P * L);
#undef CF_CARVE
	b->max_pieces = max_pieces;
	b->max_packets = max_packets;
	b->seq_len = seq_len;
	return bytes;
}

/* Allocates a batch. With want_pinned and a CUDA device, pinned memory.
 * CF_OK, CF_ERR_ARG or CF_ERR_NOMEM. */
int cf_flow_batch_init(cf_flow_batch *b, uint32_t max_pieces, uint64_t max_packets, uint32_t seq_len,
                       int want_pinned);
void cf_flow_batch_free(cf_flow_batch *b);

/* Empties the batch (offsets[0] = 0). */
static inline void cf_flow_batch_reset(cf_flow_batch *b)
{
	b->n_pieces = 0;
	b->n_packets = 0;
	b->offsets[0] = 0;
}

/* Appends a piece of n packets; the caller checks room first. */
static inline void cf_flow_batch_push(cf_flow_batch *b, const cf_flow_pkt *p, uint32_t n, int whole)
{
	uint64_t o = b->n_packets;
	for (uint32_t k = 0; k < n; k++) {
		b->ts_ns[o + k] = p[k].ts_ns;
		b->size[o + k] = p[k].size;
		b->dir[o + k] = p[k].dir;
		b->tcp_flags[o + k] = p[k].tcp_flags;
	}
	b->n_packets = o + n;
	b->whole[b->n_pieces] = (uint8_t)whole;
	b->offsets[++b->n_pieces] = b->n_packets;
}

#ifdef __cplusplus
}
#endif

#endif

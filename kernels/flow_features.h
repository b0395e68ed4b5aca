/*
 * Per-piece flow features: the function both backends run for each piece
 * of a cf_flow_batch (the CPU reference in a loop, the CUDA backend in a
 * Thrust for_each, one thread per piece). Read by gcc and nvcc.
 *
 * `sorted` holds the piece's packets as 64-bit keys sorted ascending,
 * (dir << 32 | size) in the low 33 bits (higher bits, the piece index on
 * the GPU, are equal within a piece): src2dst sizes first, then dst2src,
 * each ascending, which is what the quantiles need.
 */
#ifndef CUFLOW_KERNELS_FLOW_FEATURES_H
#define CUFLOW_KERNELS_FLOW_FEATURES_H

#include "cuflow/flow_batch.h"

static inline CF_HD uint64_t cf_flow_sort_key(uint64_t piece, uint8_t dir, uint32_t size)
{
	return piece << 33 | (uint64_t)(dir & 1) << 32 | size;
}

/* b's pointers must be readable and writable where this runs. */
static inline CF_HD void cf_flow_piece_compute(const cf_flow_batch *b, uint32_t i, const uint64_t *sorted)
{
	uint64_t o0 = b->offsets[i], o1 = b->offsets[i + 1];
	cf_flow_part p;
	cf_flow_part_clear(&p);
	for (uint64_t j = o0; j < o1; j++)
		cf_flow_part_add(&p, b->ts_ns[j], b->size[j], b->tcp_flags[j], b->dir[j]);
	b->part[i] = p;
	if (!b->whole[i]) {
		b->seq_n[i] = 0;
		return;
	}
	cf_flow_stats *s = &b->stats[3 * (uint64_t)i];
	for (int d = 0; d < CF_DIR_COUNT; d++)
		cf_flow_stats_finish(&s[d], &p.d[d]);
	uint64_t ns = p.d[CF_DIR_SRC2DST].packets, nd = p.d[CF_DIR_DST2SRC].packets;
	cf_flow_stats_quantiles(&s[CF_DIR_BIDIR], sorted, ns, sorted + ns, nd);
	cf_flow_stats_quantiles(&s[CF_DIR_SRC2DST], sorted, ns, sorted, 0);
	cf_flow_stats_quantiles(&s[CF_DIR_DST2SRC], sorted + ns, nd, sorted, 0);
	uint64_t n = o1 - o0, k = n < b->seq_len ? n : b->seq_len;
	uint64_t q = (uint64_t)i * b->seq_len;
	for (uint64_t j = 0; j < k; j++) {
		b->seq_size[q + j] = b->size[o0 + j];
		b->seq_iat_ns[q + j] = j ? b->ts_ns[o0 + j] - b->ts_ns[o0 + j - 1] : 0;
		b->seq_dir[q + j] = b->dir[o0 + j] ? -1 : 1;
	}
	b->seq_n[i] = (uint32_t)k;
}

#endif

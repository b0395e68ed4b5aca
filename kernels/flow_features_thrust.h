/*
 * The flow-features batch step as Thrust algorithms, templated on the
 * execution policy: kernels/flow_features.cu runs it on a CUDA stream,
 * tests/test_flow_features_omp.cpp on OpenMP, so CI runs the algorithm
 * the GPU runs. Steps: the piece of every packet (upper_bound over the
 * CSR offsets), 64-bit sort keys (piece, direction, size), one sort (a
 * radix sort on the GPU) that orders every piece's sizes for the
 * quantiles, then cf_flow_piece_compute per piece.
 */
#ifndef CUFLOW_KERNELS_FLOW_FEATURES_THRUST_H
#define CUFLOW_KERNELS_FLOW_FEATURES_THRUST_H

#include <thrust/binary_search.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "flow_features.h"

namespace cf_thrust {

struct flow_sort_key {
	const uint32_t *piece;
	const uint8_t *dir;
	const uint32_t *size;
	CF_HD uint64_t operator()(uint64_t j) const { return cf_flow_sort_key(piece[j], dir[j], size[j]); }
};

struct flow_piece_compute {
	cf_flow_batch b;
	const uint64_t *keys;
	CF_HD void operator()(uint32_t i) const { cf_flow_piece_compute(&b, i, keys + b.offsets[i]); }
};

// b's columns, results and offsets, and the scratch arrays keys and
// piece (b.n_packets entries each), must be accessible to the policy.
template <class Policy>
void flow_features(Policy &&pol, const cf_flow_batch &b, uint64_t *keys, uint32_t *piece)
{
	uint64_t n = b.n_packets;
	if (b.n_pieces == 0)
		return;
	if (n) {
		thrust::upper_bound(pol, b.offsets + 1, b.offsets + 1 + b.n_pieces, thrust::counting_iterator<uint64_t>(0),
		                    thrust::counting_iterator<uint64_t>(n), piece);
		thrust::transform(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(n), keys,
		                  flow_sort_key{piece, b.dir, b.size});
		thrust::sort(pol, keys, keys + n);
	}
	thrust::for_each(pol, thrust::counting_iterator<uint32_t>(0), thrust::counting_iterator<uint32_t>(b.n_pieces),
	                 flow_piece_compute{b, keys});
}

} // namespace cf_thrust

#endif

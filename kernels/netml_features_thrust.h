/*
 * The netml rows of a batch as Thrust algorithms, templated on the
 * execution policy: kernels/netml_features.cu runs it on a CUDA stream,
 * tests/test_netml_omp.cpp on OpenMP, so CI runs the algorithm the GPU
 * runs. STATS rows need their sizes sorted: the row of every packet
 * (upper_bound over the offsets) and its size form 64-bit keys, one sort
 * (a radix sort on the GPU) orders every row's sizes; then one thread per
 * row runs cf_netml_row. The FFT variant is applied afterwards (cuFFT).
 */
#ifndef CUFLOW_KERNELS_NETML_FEATURES_THRUST_H
#define CUFLOW_KERNELS_NETML_FEATURES_THRUST_H

#include <thrust/binary_search.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "netml_features.h"

namespace cf_thrust {

struct netml_sort_key {
	const uint32_t *row;
	const uint32_t *size;
	uint64_t base;
	CF_HD uint64_t operator()(uint64_t j) const { return (uint64_t)row[j] << 32 | size[base + j]; }
};

struct netml_row_compute {
	cf_netml_batch b;
	const uint32_t *sorted; // the low halves of the sorted keys, by packet
	CF_HD void operator()(uint32_t r) const
	{
		cf_netml_row(&b, r, sorted ? sorted + (b.offsets[r] - b.offsets[0]) : nullptr);
	}
};

struct netml_key_low {
	CF_HD uint32_t operator()(uint64_t k) const { return (uint32_t)k; }
};

// b's columns, offsets and out, and the scratch arrays keys and row
// (n = offsets[n_rows] - offsets[0] entries each, base = offsets[0],
// passed by the caller, who may hold the offsets in device memory; only
// used for STATS) must be accessible to the policy. The low halves of
// the sorted keys are written over `row`.
template <class Policy>
void netml_rows(Policy &&pol, const cf_netml_batch &b, uint64_t base, uint64_t n, uint64_t *keys, uint32_t *row)
{
	if (b.n_rows == 0)
		return;
	const uint32_t *sorted = nullptr;
	if (b.type == CF_NETML_STATS && n) {
		// row of packet base + j: upper_bound over offsets[1..] of base + j
		thrust::upper_bound(pol, b.offsets + 1, b.offsets + 1 + b.n_rows, thrust::counting_iterator<uint64_t>(base),
		                    thrust::counting_iterator<uint64_t>(base + n), row);
		thrust::transform(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(n), keys,
		                  netml_sort_key{row, b.size, base});
		thrust::sort(pol, keys, keys + n);
		thrust::transform(pol, keys, keys + n, row, netml_key_low{});
		sorted = row;
	}
	thrust::for_each(pol, thrust::counting_iterator<uint32_t>(0), thrust::counting_iterator<uint32_t>(b.n_rows),
	                 netml_row_compute{b, sorted});
}

} // namespace cf_thrust

#endif

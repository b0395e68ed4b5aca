/*
 * The netml rows of a batch as Thrust algorithms, templated on the
 * execution policy: kernels/netml_features.cu runs it on a CUDA stream,
 * tests/test_netml_omp.cpp on OpenMP, so CI runs the algorithm the GPU
 * runs. STATS rows need their sizes sorted: the row of every packet
 * (upper_bound over the offsets) and its size form 64-bit keys, one sort
 * (a radix sort on the GPU) orders every row's sizes; then one thread per
 * row runs cf_netml_row. The FFT variant is applied afterwards to each
 * part: staged into aligned rows (cf_fft_stage), transformed (cuFFT on the
 * GPU, or fft_direct: a direct DFT that OpenMP runs too), and the real
 * parts scattered back.
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

// The layout of cufftDoubleComplex (kernels/netml_features.cu checks it).
struct cf_cplx {
	double x, y;
};

struct fft_stage_part {
	const double *out;
	double *staged;
	uint32_t stride, col0, n, dist;
	CF_HD void operator()(uint64_t e) const
	{
		uint64_t r = e / n;
		uint32_t k = (uint32_t)(e % n);
		staged[r * dist + k] = out[r * stride + col0 + k];
	}
};

// The fallback transform: bins 0..half-1 of each staged row, real parts.
struct fft_direct_half {
	const double *staged;
	cf_cplx *spec;
	uint32_t n, dist, half;
	CF_HD void operator()(uint64_t e) const
	{
		uint64_t r = e / half;
		spec[e].x = cf_dft_real_at(staged + r * dist, n, (uint32_t)(e % half));
		spec[e].y = 0.0;
	}
};

// out[r * stride + col0 + k] = Re spec[r][k] (Hermitian: X[n-k] = conj X[k]).
struct fft_real_back {
	double *out;
	const cf_cplx *spec;
	uint32_t stride, col0, n, half;
	CF_HD void operator()(uint64_t e) const
	{
		uint64_t r = e / n;
		uint32_t k = (uint32_t)(e % n);
		out[r * stride + col0 + k] = spec[r * half + (k < half ? k : n - k)].x;
	}
};

// Copies part (col0, n) of every row of out into the staging block
// (layout st = cf_fft_stage_of(rows, n); block 16-byte aligned).
template <class Policy>
void fft_stage(Policy &&pol, const double *out, uint64_t rows, uint32_t stride, uint32_t col0, uint32_t n,
               const cf_fft_stage &st, void *block)
{
	thrust::for_each(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(rows * n),
	                 fft_stage_part{out, (double *)block, stride, col0, n, st.dist});
}

// The spectra of the staged rows by a direct DFT (real parts only).
template <class Policy> void fft_direct(Policy &&pol, uint64_t rows, uint32_t n, const cf_fft_stage &st, void *block)
{
	thrust::for_each(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(rows * st.half),
	                 fft_direct_half{(const double *)block, (cf_cplx *)((char *)block + st.spec_off), n, st.dist,
	                                 st.half});
}

// Writes the real parts of the spectra back over part (col0, n).
template <class Policy>
void fft_scatter(Policy &&pol, double *out, uint64_t rows, uint32_t stride, uint32_t col0, uint32_t n,
                 const cf_fft_stage &st, const void *block)
{
	thrust::for_each(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(rows * n),
	                 fft_real_back{out, (const cf_cplx *)((const char *)block + st.spec_off), stride, col0, n, st.half});
}

} // namespace cf_thrust

#endif

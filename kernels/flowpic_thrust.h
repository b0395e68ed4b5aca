/*
 * FlowPic images of a batch as Thrust algorithms, templated on the
 * execution policy: kernels/flowpic.cu runs it on a CUDA stream,
 * tests/test_flowpic_omp.cpp on OpenMP. Steps: zero the counts, the image
 * of every entry (upper_bound over the CSR offsets), one thread per entry
 * scatters (atomic add) into its pixel, one thread per pixel converts the
 * count to the output value.
 */
#ifndef CUFLOW_KERNELS_FLOWPIC_THRUST_H
#define CUFLOW_KERNELS_FLOWPIC_THRUST_H

#include <thrust/binary_search.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "flowpic_hist.h"

namespace cf_thrust {

struct flowpic_scatter {
	cf_flowpic_batch b;
	const uint32_t *image;
	uint64_t base;
	CF_HD void operator()(uint64_t j) const { cf_flowpic_scatter(&b, image[j - base], j); }
};

struct flowpic_convert {
	cf_flowpic_batch b;
	CF_HD void operator()(uint64_t k) const { cf_flowpic_convert(&b, k); }
};

// The batch's arrays and `image` (n = offsets[n_images] - offsets[0]
// entries) must be accessible to the policy. base = offsets[0], passed by
// the caller, who may hold the offsets in device memory: entries
// base..base+n-1 are binned, as the CPU reference does for any start.
template <class Policy>
void flowpic_images(Policy &&pol, const cf_flowpic_batch &b, uint64_t base, uint64_t n, uint32_t *image)
{
	uint64_t px = (uint64_t)b.n_images * b.channels * b.res * b.res;
	if (!b.n_images)
		return;
	thrust::fill(pol, b.acc, b.acc + px, 0u);
	thrust::fill(pol, b.packets, b.packets + b.n_images, 0u);
	if (n) {
		thrust::upper_bound(pol, b.offsets + 1, b.offsets + 1 + b.n_images, thrust::counting_iterator<uint64_t>(base),
		                    thrust::counting_iterator<uint64_t>(base + n), image);
		thrust::for_each(pol, thrust::counting_iterator<uint64_t>(base), thrust::counting_iterator<uint64_t>(base + n),
		                 flowpic_scatter{b, image, base});
	}
	thrust::for_each(pol, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(px),
	                 flowpic_convert{b});
}

} // namespace cf_thrust

#endif

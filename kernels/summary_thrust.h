/*
 * The batch summary as one Thrust transform_reduce over the packet
 * columns, templated on the execution policy: kernels/summary.cu
 * instantiates it for CUDA, tests/test_summary_omp.cpp for OpenMP, so CI
 * runs the very algorithm the GPU runs. The per-packet update and the
 * merge are the CF_HD functions of cuflow/summary.h.
 */
#ifndef CUFLOW_KERNELS_SUMMARY_THRUST_H
#define CUFLOW_KERNELS_SUMMARY_THRUST_H

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include "cuflow/summary.h"

namespace cf_thrust {

struct summary_of_packet {
	const int64_t *ts;
	const uint32_t *caplen, *wirelen;
	const uint16_t *layers;
	const uint8_t *skip;
	CF_HD cf_summary operator()(size_t i) const
	{
		cf_summary s;
		cf_summary_clear(&s);
		cf_summary_add(&s, ts[i], caplen[i], wirelen[i], layers[i], skip[i]);
		return s;
	}
};

struct summary_merge {
	CF_HD cf_summary operator()(cf_summary a, const cf_summary &b) const
	{
		cf_summary_merge(&a, &b);
		return a;
	}
};

// Column pointers must be accessible to the policy (device memory for
// CUDA, host memory for OpenMP/CPP). Returns the summary of n packets.
template <class Policy>
cf_summary summarize(Policy &&pol, size_t n, const int64_t *ts, const uint32_t *caplen,
                     const uint32_t *wirelen, const uint16_t *layers, const uint8_t *skip)
{
	cf_summary init;
	cf_summary_clear(&init);
	summary_of_packet f{ts, caplen, wirelen, layers, skip};
	return thrust::transform_reduce(pol, thrust::counting_iterator<size_t>(0),
	                                thrust::counting_iterator<size_t>(n), f, init, summary_merge());
}

} // namespace cf_thrust

#endif

// The CUDA backend's flow-features algorithm (kernels/flow_features_thrust.h)
// built for OpenMP, against the CPU reference backend on random batches:
// the same parts, statistics and sequences, bit for bit.
#include <gtest/gtest.h>
#include <thrust/execution_policy.h>
#include <thrust/system/omp/execution_policy.h>
#include <vector>

#include "cuflow/internal.h"
#include "flow_batch_gen.h"
#include "flow_features_thrust.h"

TEST(FlowFeaturesThrustOmp, EqualsCpuReferenceOnRandomBatches)
{
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		cf_flow_batch a, g;
		uint32_t pieces = seed % 3 == 0 ? 7 : 3000;
		uint32_t L = seed % 4 == 0 ? 0 : 30;
		ASSERT_EQ(cf_flow_batch_init(&a, pieces, 400000, L, 0), CF_OK);
		ASSERT_EQ(cf_flow_batch_init(&g, pieces, 400000, L, 0), CF_OK);
		cft::random_flow_batch(&a, seed);
		cft::random_flow_batch(&g, seed);
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		std::vector<uint64_t> keys(g.n_packets + 1);
		std::vector<uint32_t> piece(g.n_packets + 1);
		cf_thrust::flow_features(thrust::omp::par, g, keys.data(), piece.data());
		cft::expect_same_flow_results(a, g, "omp");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	cf_backend_close(cpu);
}

// The CUDA backend's flow features against the CPU reference on random
// batches (bit for bit), reusing the device buffers across batches of
// different shapes. Skips when no device answers.
#include <gtest/gtest.h>

#include "cuflow/cuflow.h"
#include "flow_batch_gen.h"

TEST(FlowFeaturesCuda, EqualsCpuReferenceOnRandomBatches)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	for (uint64_t seed = 1; seed <= 8; seed++) {
		cf_flow_batch a, g;
		uint32_t pieces = seed % 3 == 0 ? 5 : 65536;
		uint32_t L = seed % 4 == 0 ? 0 : 30;
		ASSERT_EQ(cf_flow_batch_init(&a, pieces, 4u << 20, L, 1), CF_OK);
		ASSERT_EQ(cf_flow_batch_init(&g, pieces, 4u << 20, L, 1), CF_OK);
		cft::random_flow_batch(&a, seed);
		cft::random_flow_batch(&g, seed);
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		ASSERT_EQ(cf_backend_flow_features(gpu, &g), CF_OK) << cf_backend_error(gpu);
		cft::expect_same_flow_results(a, g, "cuda");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	cf_backend_close(cpu);
	cf_backend_close(gpu);
}

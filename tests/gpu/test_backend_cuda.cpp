// CUDA backend against the CPU reference on the same batches. Skips when
// no device answers.
#include <gtest/gtest.h>
#include <random>
#include "cuflow/cuflow.h"

TEST(BackendCuda, SummaryEqualsCpuOnRandomBatches)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	for (uint32_t seed = 1; seed <= 10; seed++) {
		std::mt19937_64 rng(seed);
		size_t n = 1 + rng() % 3000000; // crosses the device chunk size
		cf_pkt_batch b;
		ASSERT_EQ(cf_pkt_batch_init(&b, n, 1), CF_OK);
		for (size_t i = 0; i < n; i++) {
			cf_pkt p{};
			p.ts_ns = (int64_t)(rng() >> 2);
			p.caplen = rng() % 65536;
			p.wirelen = p.caplen + rng() % 100;
			p.layers = (uint16_t)(rng() & 0x1fff);
			p.skip = (uint8_t)(rng() % CF_SKIP_COUNT);
			cf_pkt_batch_push(&b, &p);
		}
		cf_summary a, g;
		cf_summary_clear(&a);
		cf_summary_clear(&g);
		ASSERT_EQ(cf_backend_summarize(cpu, &b, &a), CF_OK);
		ASSERT_EQ(cf_backend_summarize(gpu, &b, &g), CF_OK) << cf_backend_error(gpu);
		EXPECT_EQ(0, memcmp(&a, &g, sizeof a)) << "seed " << seed << " n " << n;
		cf_pkt_batch_free(&b);
	}
	cf_backend_close(cpu);
	cf_backend_close(gpu);
}

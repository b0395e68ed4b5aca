// The CUDA backend's Thrust summary algorithm, built for OpenMP, against
// the CPU reference on random batches.
#include <gtest/gtest.h>
#include <random>
#include <thrust/execution_policy.h>
#include <thrust/system/omp/execution_policy.h>

#include "cuflow/internal.h"
#include "summary_thrust.h"

TEST(SummaryThrustOmp, EqualsCpuReferenceOnRandomBatches)
{
	for (uint32_t seed = 1; seed <= 20; seed++) {
		std::mt19937_64 rng(seed);
		size_t n = rng() % 100000;
		cf_pkt_batch b;
		ASSERT_EQ(cf_pkt_batch_init(&b, n + 1, 0), CF_OK);
		for (size_t i = 0; i < n; i++) {
			cf_pkt p{};
			p.ts_ns = (int64_t)(rng() % 4000000000000ull) - 1000000000000ll;
			p.caplen = rng() % 65536;
			p.wirelen = p.caplen + rng() % 100;
			p.layers = (uint16_t)(rng() & 0x1fff);
			p.skip = (uint8_t)(rng() % CF_SKIP_COUNT);
			cf_pkt_batch_push(&b, &p);
		}
		cf_summary ref;
		cf_summary_clear(&ref);
		for (size_t i = 0; i < n; i++)
			cf_summary_add(&ref, b.ts_ns[i], b.caplen[i], b.wirelen[i], b.layers[i], b.skip[i]);
		cf_summary got = cf_thrust::summarize(thrust::omp::par, n, b.ts_ns, b.caplen, b.wirelen, b.layers, b.skip);
		EXPECT_EQ(0, memcmp(&ref, &got, sizeof ref)) << "seed " << seed << " n " << n;
		cf_pkt_batch_free(&b);
	}
}

// CUDA backend against the CPU reference on the same batches; AUTO
// selection with a device; out-of-memory and empty batches. Skips when no
// device answers.
#include <gtest/gtest.h>
#include <random>
#include <string>
#include "cuflow/internal.h"
#include "flowpic_batch_gen.h"

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

// Batch sizes at the device chunk's edges (2^20 packets) and an empty
// batch; the output starts from a sentinel accumulator.
TEST(BackendCuda, SummaryAtChunkMultiplesAndEmpty)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	const size_t M = (size_t)1 << 20;
	for (size_t n : {(size_t)0, (size_t)1, M - 1, M, M + 1, 2 * M, 3 * M}) {
		cf_pkt_batch b;
		ASSERT_EQ(cf_pkt_batch_init(&b, n ? n : 1, 1), CF_OK);
		std::mt19937_64 rng(n);
		for (size_t i = 0; i < n; i++) {
			cf_pkt p{};
			p.ts_ns = (int64_t)(rng() >> 3) - (int64_t)(1ull << 59);
			p.caplen = rng() % 65536;
			p.wirelen = p.caplen + rng() % 10;
			p.layers = (uint16_t)(rng() & 0x1fff);
			p.skip = (uint8_t)(rng() % CF_SKIP_COUNT);
			cf_pkt_batch_push(&b, &p);
		}
		cf_summary a, g;
		cf_summary_clear(&a);
		cf_summary_clear(&g);
		a.packets = g.packets = 12345; // a running total to add to
		ASSERT_EQ(cf_backend_summarize(cpu, &b, &a), CF_OK);
		ASSERT_EQ(cf_backend_summarize(gpu, &b, &g), CF_OK) << cf_backend_error(gpu);
		EXPECT_EQ(0, memcmp(&a, &g, sizeof a)) << "n " << n;
		EXPECT_EQ(g.packets, 12345 + n);
		cf_pkt_batch_free(&b);
	}
	cf_backend_close(cpu);
	cf_backend_close(gpu);
}

// With a device that runs this build's kernels, AUTO picks it and says which.
TEST(BackendCuda, AutoPicksTheDevice)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *b = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_AUTO, &b, err), CF_OK) << err;
	EXPECT_EQ(cf_backend_kind(b), CF_BACKEND_CUDA);
	EXPECT_STREQ(cf_backend_note(b), "");
	cf_backend_counters k;
	cf_backend_get_counters(b, &k);
	EXPECT_NE(std::string(k.device).find("compute"), std::string::npos) << k.device;
	std::cout << "device: " << k.device << "\n";
	cf_backend_close(b);
}

// Device out of memory (a FlowPic batch of 2 x 200000^2 pixels: 480 GB of
// counts) is a clear CF_ERR_DEVICE, and the backend works afterwards (the
// failed call's error does not leak into the next Thrust call).
TEST(BackendCuda, OutOfMemoryIsReportedAndTheBackendRecovers)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	{
		// only the offsets and edges are read before the allocation fails
		std::vector<uint64_t> off = {0, 0};
		std::vector<double> edges(200001, 0.0), tt(1, 0.0);
		cf_flowpic_batch b;
		memset(&b, 0, sizeof b);
		b.n_images = 1;
		b.channels = 2;
		b.res = 200000;
		b.value = CF_FLOWPIC_COUNT;
		b.offsets = off.data();
		b.t_first = b.t_last = b.anchor = tt.data();
		b.edges_t = b.edges_s = edges.data();
		EXPECT_EQ(cf_backend_flowpic_images(gpu, &b), CF_ERR_DEVICE);
		std::string e = cf_backend_error(gpu);
		EXPECT_NE(e.find("memory"), std::string::npos) << e;
		std::cout << "out-of-memory message: " << e << "\n";
	}
	cft::flowpic_batch_data a(7, 50, 300, 32, 2, CF_FLOWPIC_FIXED_EDGES, CF_FLOWPIC_COUNT, 0, 0, 15.0);
	cft::flowpic_batch_data g(7, 50, 300, 32, 2, CF_FLOWPIC_FIXED_EDGES, CF_FLOWPIC_COUNT, 0, 0, 15.0);
	ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
	ASSERT_EQ(cf_backend_flowpic_images(gpu, &g.b), CF_OK) << cf_backend_error(gpu);
	EXPECT_EQ(a.out, g.out);
	cf_backend_close(gpu);
}

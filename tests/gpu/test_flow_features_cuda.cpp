// The CUDA backend's flow features against the CPU reference on random
// batches (bit for bit), reusing the device buffers across batches of
// different shapes; and `cuflow extract` / `cuflow flows` with --backend
// cuda against --backend cpu on real captures (the same bytes, with one
// and two threads, and with long flows cut into pieces). Skips when no
// device answers.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>

#include "cuflow/internal.h"
#include "flow_batch_gen.h"
#include "test_util.h"

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
		// every output the device writes starts as garbage
		memset(g.part, 0x5a, (size_t)g.max_pieces * sizeof *g.part);
		memset(g.stats, 0x5a, (size_t)3 * g.max_pieces * sizeof *g.stats);
		memset(g.seq_n, 0x5a, (size_t)g.max_pieces * sizeof *g.seq_n);
		if (L) {
			memset(g.seq_size, 0x5a, (size_t)g.max_pieces * L * sizeof *g.seq_size);
			memset(g.seq_iat_ns, 0x5a, (size_t)g.max_pieces * L * sizeof *g.seq_iat_ns);
			memset(g.seq_dir, 0x5a, (size_t)g.max_pieces * L * sizeof *g.seq_dir);
		}
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		ASSERT_EQ(cf_backend_flow_features(gpu, &g), CF_OK) << cf_backend_error(gpu);
		cft::expect_same_flow_results(a, g, "cuda");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	cf_backend_close(cpu);
	cf_backend_close(gpu);
}

// An empty batch, and batches of empty pieces only (split flows' last
// pieces can be empty): no launch may read past the inputs.
TEST(FlowFeaturesCuda, EmptyBatchesAndEmptyPieces)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	for (uint32_t pieces : {0u, 1u, 7u, 5000u}) {
		cf_flow_batch a, g;
		ASSERT_EQ(cf_flow_batch_init(&a, 5000, 1000, 10, 1), CF_OK);
		ASSERT_EQ(cf_flow_batch_init(&g, 5000, 1000, 10, 1), CF_OK);
		for (uint32_t i = 0; i < pieces; i++) {
			cf_flow_batch_push(&a, nullptr, 0, 0);
			cf_flow_batch_push(&g, nullptr, 0, 0);
		}
		memset(g.part, 0x5a, (size_t)g.max_pieces * sizeof *g.part);
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		ASSERT_EQ(cf_backend_flow_features(gpu, &g), CF_OK) << cf_backend_error(gpu);
		cft::expect_same_flow_results(a, g, "empty pieces");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	cf_backend_close(cpu);
	cf_backend_close(gpu);
}

TEST(FlowFeaturesCuda, CliCudaEqualsCpuOnRealCaptures)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	std::vector<std::string> caps;
	for (const char *name : {"wechat.pcap", "instagram.pcap", "google_ssl.pcap", "tor.pcap", "gtp-u.pcap",
	                         "quic-33.pcapng", "6in4tunnel.pcap"}) {
		std::string c = cft::shared_dir() + "/captures/nfstream/pcaps/" + name;
		if (!cft::shared_dir().empty() && cft::exists(c))
			caps.push_back(c);
	}
	if (caps.empty())
		std::cout << "note: ../shared/captures is absent: only the synthetic capture is compared\n";
	std::string synth = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 3000 --seed 21 -o " + cft::shq(synth)), 0);
	caps.push_back(synth);
	for (const std::string &cap : caps)
		for (const char *extra : {"", " --threads 2 --piece-packets 7"}) {
			std::string c = cft::temp_path("-ex-cpu"), g = cft::temp_path("-ex-gpu");
			std::string base = cft::shq(cft::cuflow_bin()) + " extract -q" + extra + " " + cft::shq(cap);
			ASSERT_EQ(cft::run(base + " --backend cpu -o " + cft::shq(c)), 0) << cap;
			ASSERT_EQ(cft::run(base + " --backend cuda -o " + cft::shq(g)), 0) << cap;
			for (const char *f : {"features.npy", "sequences.npy", "lengths.npy", "flows.csv"})
				EXPECT_TRUE(cft::read_file(c + "/" + f) == cft::read_file(g + "/" + f)) << cap << extra << ": " << f;
			std::string fc = cft::temp_path("-fl-cpu.csv"), fg = cft::temp_path("-fl-gpu.csv");
			std::string fb = cft::shq(cft::cuflow_bin()) + " flows -q" + extra + " " + cft::shq(cap);
			ASSERT_EQ(cft::run(fb + " --backend cpu -o " + cft::shq(fc)), 0) << cap;
			ASSERT_EQ(cft::run(fb + " --backend cuda -o " + cft::shq(fg)), 0) << cap;
			EXPECT_TRUE(cft::read_file(fc) == cft::read_file(fg)) << cap << extra << ": flows CSV";
		}
}

// The CUDA backend's FlowPic images against the CPU reference on random
// batches (bit for bit: counts are integers, so the atomic scatter order
// does not matter), reusing the device block across batches of different
// shapes; and the CLI with --backend cuda against --backend cpu on a real
// capture. Skips when no device answers.
#include <gtest/gtest.h>

#include <vector>

#include "cuflow/internal.h"
#include "flowpic_batch_gen.h"
#include "test_util.h"

TEST(FlowpicCuda, EqualsCpuReferenceOnRandomBatches)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	uint64_t seed = 1;
	for (int axis = 0; axis < 3; axis++)
		for (int value = 0; value < 3; value++)
			for (uint32_t ch = 1; ch <= 2; ch++) {
				uint32_t res = seed % 2 ? 1500 : 32;
				uint32_t images = res == 1500 ? 6 : 2000;
				cft::flowpic_batch_data a(seed, images, 5000, res, ch, axis, value, (int)(seed & 1),
				                          (int)((seed >> 1) % 3), 60.0);
				cft::flowpic_batch_data g(seed, images, 5000, res, ch, axis, value, (int)(seed & 1),
				                          (int)((seed >> 1) % 3), 60.0);
				seed++;
				ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
				ASSERT_EQ(cf_backend_flowpic_images(gpu, &g.b), CF_OK) << cf_backend_error(gpu);
				ASSERT_EQ(a.out, g.out) << "axis " << axis << " value " << value << " channels " << ch;
				ASSERT_EQ(a.packets, g.packets);
				// the CPU's sparse path (what flowpic runs on the CPU) too
				cft::flowpic_batch_data sp(seed - 1, images, 5000, res, ch, axis, value, (int)((seed - 1) & 1),
				                           (int)(((seed - 1) >> 1) % 3), 60.0);
				std::vector<int64_t> pix(sp.t.size());
				sp.b.pix = pix.data();
				ASSERT_EQ(cf_backend_flowpic_images(nullptr, &sp.b), CF_OK);
				ASSERT_EQ(sp.out, g.out) << "sparse CPU: axis " << axis << " value " << value << " channels " << ch;
				ASSERT_EQ(sp.packets, g.packets);
			}
	cf_backend_close(gpu);
}

// Entries that do not start at 0, empty batches and images without
// entries.
TEST(FlowpicCuda, OffsetStartEmptyBatchesAndEmptyImages)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cf_backend *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	for (uint64_t seed = 40; seed < 46; seed++) {
		cft::flowpic_batch_data a(seed, 30, 200, 32, 2, (int)(seed % 3), (int)((seed / 3) % 3), 0, 0, 15.0);
		cft::flowpic_batch_data g(seed, 30, 200, 32, 2, (int)(seed % 3), (int)((seed / 3) % 3), 0, 0, 15.0);
		a.drop_first_images(5);
		g.drop_first_images(5);
		ASSERT_GT(a.b.offsets[0], 0u);
		ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
		ASSERT_EQ(cf_backend_flowpic_images(gpu, &g.b), CF_OK) << cf_backend_error(gpu);
		ASSERT_EQ(a.out, g.out) << "seed " << seed;
		ASSERT_EQ(a.packets, g.packets);
	}
	for (uint32_t images : {0u, 3u}) {
		cft::flowpic_batch_data a(1, images, 0, 16, 1, 0, 0, 0, 0, 15.0); // no entries at all
		cft::flowpic_batch_data g(1, images, 0, 16, 1, 0, 0, 0, 0, 15.0);
		ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
		ASSERT_EQ(cf_backend_flowpic_images(gpu, &g.b), CF_OK) << cf_backend_error(gpu);
		ASSERT_EQ(a.out, g.out) << images << " empty images";
		ASSERT_EQ(a.packets, g.packets);
	}
	cf_backend_close(gpu);
}

TEST(FlowpicCuda, CliCudaEqualsCpu)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	std::string cap = cft::shared_dir() + "/captures/nfstream/pcaps/wechat.pcap";
	if (cft::read_file(cap).empty())
		GTEST_SKIP() << "needs ../shared/captures/nfstream/pcaps/wechat.pcap (absent)";
	for (const char *preset : {"official", "mini"}) {
		std::string c = cft::temp_path(std::string("fp-cpu-") + preset), g = cft::temp_path(std::string("fp-gpu-") + preset);
		ASSERT_EQ(cft::run(cft::cuflow_bin() + " flowpic -q --preset " + preset + " --backend cpu " + cft::shq(cap) +
		                   " -o " + cft::shq(c)), 0);
		ASSERT_EQ(cft::run(cft::cuflow_bin() + " flowpic -q --preset " + preset + " --backend cuda " + cft::shq(cap) +
		                   " -o " + cft::shq(g)), 0);
		EXPECT_EQ(cft::read_file(c + "/flowpic.npy"), cft::read_file(g + "/flowpic.npy")) << preset;
		EXPECT_EQ(cft::read_file(c + "/index.csv"), cft::read_file(g + "/index.csv")) << preset;
	}
}

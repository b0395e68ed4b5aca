// The CUDA backend's FlowPic images against the CPU reference on random
// batches (bit for bit: counts are integers, so the atomic scatter order
// does not matter), reusing the device block across batches of different
// shapes; and the CLI with --backend cuda against --backend cpu on a real
// capture. Skips when no device answers.
#include <gtest/gtest.h>

#include "cuflow/cuflow.h"
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
			}
	cf_backend_close(gpu);
}

TEST(FlowpicCuda, CliCudaEqualsCpu)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	std::string cap = cft::shared_dir() + "/captures/nfstream/pcaps/wechat.pcap";
	if (cft::read_file(cap).empty())
		GTEST_SKIP() << "no ../shared captures";
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

// The CUDA backend's FlowPic algorithm (kernels/flowpic_thrust.h) built
// for OpenMP, against the CPU reference backend on random batches: the
// same pixels and per-image packet counts, for every time axis, value
// type, channel count and size rule; and the CPU backend's sparse path
// (with a pixel scratch) against its dense one.
#include <gtest/gtest.h>
#include <thrust/execution_policy.h>
#include <thrust/system/omp/execution_policy.h>
#include <algorithm>
#include <vector>

#include "cuflow/internal.h"
#include "flowpic_batch_gen.h"
#include "flowpic_thrust.h"

TEST(FlowpicThrustOmp, EqualsCpuReferenceOnRandomBatches)
{
	uint64_t seed = 1;
	for (int axis = 0; axis < 3; axis++)
		for (int value = 0; value < 3; value++)
			for (uint32_t ch = 1; ch <= 2; ch++)
				for (int sizes = 0; sizes < 6; sizes++) {
					uint32_t res = seed % 3 == 0 ? 1500 : seed % 3 == 1 ? 32 : 7;
					uint32_t images = res == 1500 ? 3 : 40;
					cft::flowpic_batch_data a(seed, images, 300, res, ch, axis, value, sizes & 1, sizes >> 1, 15.0);
					cft::flowpic_batch_data g(seed, images, 300, res, ch, axis, value, sizes & 1, sizes >> 1, 15.0);
					seed++;
					ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
					std::vector<uint32_t> image(g.t.size() + 1);
					cf_thrust::flowpic_images(thrust::omp::par, g.b, 0, g.t.size(), image.data());
					ASSERT_EQ(a.out, g.out) << "axis " << axis << " value " << value << " channels " << ch;
					ASSERT_EQ(a.packets, g.packets);
					// the CPU backend's sparse path (a pixel per entry): the same
					// images from scratch and output that start as garbage
					cft::flowpic_batch_data s(seed - 1, images, 300, res, ch, axis, value, sizes & 1, sizes >> 1,
					                          15.0);
					std::vector<int64_t> pix(s.t.size());
					std::fill(s.acc.begin(), s.acc.end(), 0xdeadbeefu);
					std::fill(s.out.begin(), s.out.end(), (uint8_t)0x5a);
					std::fill(s.packets.begin(), s.packets.end(), 77u);
					s.b.pix = pix.data();
					ASSERT_EQ(cf_backend_flowpic_images(nullptr, &s.b), CF_OK);
					ASSERT_EQ(s.out, a.out) << "sparse: axis " << axis << " value " << value << " channels " << ch;
					ASSERT_EQ(s.packets, a.packets);
					uint64_t in = 0;
					for (uint32_t p : a.packets)
						in += p;
					EXPECT_LE(in, a.t.size());
					if (res == 32) {
						EXPECT_GT(in, 0u); // the generator puts most entries inside
					}
				}
}

// A batch whose entries start past 0 (offsets[0] > 0: the first images'
// entries are left out), as the CPU reference allows: the Thrust algorithm
// bins the same entries.
TEST(FlowpicThrustOmp, OffsetsThatDoNotStartAtZero)
{
	for (uint64_t seed = 40; seed < 46; seed++) {
		cft::flowpic_batch_data a(seed, 30, 200, 32, 2, (int)(seed % 3), (int)((seed / 3) % 3), 0, 0, 15.0);
		cft::flowpic_batch_data g(seed, 30, 200, 32, 2, (int)(seed % 3), (int)((seed / 3) % 3), 0, 0, 15.0);
		a.drop_first_images(5);
		g.drop_first_images(5);
		uint64_t base = a.b.offsets[0], n = a.b.offsets[a.b.n_images] - base;
		ASSERT_GT(base, 0u);
		ASSERT_EQ(cf_backend_flowpic_images(nullptr, &a.b), CF_OK);
		std::vector<uint32_t> image(n + 1);
		cf_thrust::flowpic_images(thrust::omp::par, g.b, base, n, image.data());
		uint64_t px = (uint64_t)a.b.n_images * 2 * 32 * 32;
		size_t vb = cf_flowpic_value_bytes(a.b.value);
		ASSERT_TRUE(std::equal(a.out.begin(), a.out.begin() + px * vb, g.out.begin())) << "seed " << seed;
		ASSERT_TRUE(std::equal(a.packets.begin(), a.packets.begin() + a.b.n_images, g.packets.begin()));
		uint64_t landed = 0;
		for (uint32_t i = 0; i < a.b.n_images; i++)
			landed += a.packets[i];
		EXPECT_GT(landed, 0u);
	}
}

// The shared binning against numpy's rule, by hand: edges 0..4 (integers).
TEST(FlowpicThrustOmp, EdgeBinFollowsNumpyHistogramdd)
{
	double e[5] = {0, 1, 2, 3, 4};
	EXPECT_EQ(cf_np_edge_bin(e, 4, -0.0), 0);
	EXPECT_EQ(cf_np_edge_bin(e, 4, 0.999), 0);
	EXPECT_EQ(cf_np_edge_bin(e, 4, 1.0), 1);
	EXPECT_EQ(cf_np_edge_bin(e, 4, 3.5), 3);
	EXPECT_EQ(cf_np_edge_bin(e, 4, 4.0), 3); // the last edge belongs to the last bin
	EXPECT_EQ(cf_np_edge_bin(e, 4, 4.0000001), -1);
	EXPECT_EQ(cf_np_edge_bin(e, 4, -1e-300), -1);
	EXPECT_EQ(cf_np_edge_bin(e, 4, NAN), -1);
}

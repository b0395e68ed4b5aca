// The CUDA backend's netml algorithm (kernels/netml_features_thrust.h,
// cf_thrust::netml_rows) built for OpenMP (THRUST_DEVICE_SYSTEM=OMP), so CI
// runs the code the GPU runs, against the CPU reference backend
// (cf_backend_netml_features with a NULL backend) on random batches:
//   * every type, header on and off, several dimensions (rows cut and
//     padded), bit for bit;
//   * subflows of 2..20000 packets, including the lengths where numpy's
//     pairwise sum changes shape (< 8, 128 / 129, > 4096, 8192-element
//     chunks), times with ties and huge gaps (SAMP's 500-window cap),
//     offsets not starting at 0 and unused packets before and after the rows;
//   * FFT: the Thrust rows, each part staged, transformed by the GPU's
//     fallback DFT (cf_dft_real_at) and scattered back as the GPU does it,
//     against the CPU backend's FFTW, within 1e-12 * max(1, row max-abs).
#include <gtest/gtest.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuflow/internal.h"
#include "netml_features_thrust.h"
#include "netml_batch_gen.h"

namespace {

using cft::NetmlCols;
using cft::bits;
using cft::make_batch;
using cft::random_cols;

std::string what(const cf_netml_batch &b, uint64_t seed, uint32_t dim)
{
	char s[200];
	snprintf(s, sizeof s, "seed %llu type %s dim %u header %d width %g", (unsigned long long)seed,
	         cf_netml_type_name(b.type), dim, b.hdr_cols ? 1 : 0, b.samp_width);
	return s;
}

// Bit-identical matrices; the first few differences reported.
void expect_same(const std::vector<double> &ref, const std::vector<double> &got, const cf_netml_batch &b,
                 const NetmlCols &c, const std::string &w)
{
	ASSERT_EQ(ref.size(), got.size());
	uint32_t cols = b.hdr_cols + b.feat_cols;
	int bad = 0;
	for (size_t i = 0; i < ref.size() && bad < 5; i++)
		if (bits(ref[i]) != bits(got[i])) {
			bad++;
			size_t r = i / cols;
			ADD_FAILURE() << w << ": row " << r << " (" << c.off[r + 1] - c.off[r] << " packets) col " << i % cols
			              << ": reference " << ref[i] << " (" << std::hexfloat << ref[i] << "), thrust " << got[i]
			              << std::defaultfloat;
		}
	EXPECT_EQ(bad, 0) << w;
}

const double kWidths[] = {1e-6, 3.0994415283203125e-06, 1e-3, 0.37, 5.0};
const uint64_t kSentinel = 0x7ff8deadbeef0001ull; // a NaN no computation yields

std::vector<double> sentinel_filled(size_t n)
{
	std::vector<double> v(n);
	for (auto &x : v)
		memcpy(&x, &kSentinel, 8);
	return v;
}

TEST(NetmlThrustOmp, EqualsCpuReferenceBitForBit)
{
	static const uint32_t dims[] = {2, 3, 10, 52, 130, 600};
	int runs = 0;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		NetmlCols c = random_cols(seed, seed % 2 ? 260 : 90);
		thrust::device_vector<uint64_t> keys(c.n());
		thrust::device_vector<uint32_t> row(c.n());
		for (int type = 0; type < CF_NETML_TYPE_COUNT; type++)
			for (int header = 0; header <= 1; header++)
				for (int k = 0; k < 2; k++) {
					uint32_t dim = dims[(seed + 2 * type + header + 3 * k) % 6];
					double width = kWidths[(seed + type + k) % 5];
					cf_netml_batch b = make_batch(c, type, dim, header, width, 0);
					size_t cells = (size_t)b.n_rows * (b.hdr_cols + b.feat_cols);
					std::vector<double> ref = sentinel_filled(cells), got = sentinel_filled(cells);
					b.out = ref.data();
					ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
					b.out = got.data();
					cf_thrust::netml_rows(thrust::device, b, c.base(), c.n(), thrust::raw_pointer_cast(keys.data()),
					                      thrust::raw_pointer_cast(row.data()));
					for (double x : ref)
						ASSERT_NE(bits(x), kSentinel) << "the reference left a cell unwritten";
					expect_same(ref, got, b, c, what(b, seed, dim));
					runs++;
				}
	}
	EXPECT_EQ(runs, 96);
}

// Rows exercising SAMP's 500-window cap with more than 500 columns: a tiny
// width and gaps of thousands of windows.
TEST(NetmlThrustOmp, SampCapAndWideRows)
{
	NetmlCols c;
	std::mt19937_64 rng(5);
	c.off.push_back(3);
	for (int i = 0; i < 3; i++) {
		c.t.push_back(0);
		c.size.push_back(1);
		c.ttl.push_back(1);
		c.hfl.push_back(1);
	}
	for (int r = 0; r < 40; r++) {
		double t = 1.5e9 + r;
		uint32_t len = 2 + (uint32_t)(rng() % 900);
		for (uint32_t i = 0; i < len; i++) {
			if (i)
				t += rng() % 3 == 0 ? 0.0 : (double)(rng() % (r % 2 ? 3000 : 4)) * 1e-6;
			c.t.push_back(t);
			c.size.push_back(40 + (uint32_t)(rng() % 1500));
			c.ttl.push_back((uint8_t)rng());
			c.hfl.push_back((uint8_t)rng());
		}
		c.off.push_back(c.t.size());
	}
	thrust::device_vector<uint64_t> keys(c.n());
	thrust::device_vector<uint32_t> row(c.n());
	for (int type : {CF_NETML_SAMP_NUM, CF_NETML_SAMP_SIZE})
		for (uint32_t dim : {499u, 501u, 502u, 800u})
			for (double width : {1e-6, 2.5e-6})
				for (int header = 0; header <= 1; header++) {
					cf_netml_batch b = make_batch(c, type, dim, header, width, 0);
					size_t cells = (size_t)b.n_rows * (b.hdr_cols + b.feat_cols);
					std::vector<double> ref = sentinel_filled(cells), got = sentinel_filled(cells);
					b.out = ref.data();
					ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
					b.out = got.data();
					cf_thrust::netml_rows(thrust::device, b, c.base(), c.n(), thrust::raw_pointer_cast(keys.data()),
					                      thrust::raw_pointer_cast(row.data()));
					expect_same(ref, got, b, c, what(b, 5, dim));
				}
}

// A batch of one row and a batch of no rows.
TEST(NetmlThrustOmp, TinyBatches)
{
	NetmlCols c = random_cols(11, 1);
	thrust::device_vector<uint64_t> keys(c.n() + 1);
	thrust::device_vector<uint32_t> row(c.n() + 1);
	for (int type = 0; type < CF_NETML_TYPE_COUNT; type++) {
		cf_netml_batch b = make_batch(c, type, 4, 1, 0.001, 0);
		size_t cells = (size_t)b.n_rows * (b.hdr_cols + b.feat_cols);
		std::vector<double> ref = sentinel_filled(cells), got = sentinel_filled(cells);
		b.out = ref.data();
		ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
		b.out = got.data();
		cf_thrust::netml_rows(thrust::device, b, c.base(), c.n(), thrust::raw_pointer_cast(keys.data()),
		                      thrust::raw_pointer_cast(row.data()));
		expect_same(ref, got, b, c, what(b, 11, 4));
		b.n_rows = 0;
		double untouched = 42.0;
		b.out = &untouched;
		ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
		cf_thrust::netml_rows(thrust::device, b, c.base(), 0, thrust::raw_pointer_cast(keys.data()),
		                      thrust::raw_pointer_cast(row.data()));
		EXPECT_EQ(untouched, 42.0);
	}
}

// The GPU's FFT path without cuFFT: the padded Thrust rows, then each part
// (header: n = hdr_cols, features: n = feat_cols, at odd columns too)
// staged into aligned rows, transformed by the direct DFT and scattered
// back, by the same Thrust calls kernels/netml_features.cu makes, against
// the CPU backend's FFTW.
TEST(NetmlThrustOmp, FallbackDftOfThrustRowsMatchesFftw)
{
	static const uint32_t dims[] = {2, 3, 10, 52, 130};
	int runs = 0, odd_parts = 0;
	for (uint64_t seed = 21; seed <= 23; seed++) {
		NetmlCols c = random_cols(seed, 50);
		thrust::device_vector<uint64_t> keys(c.n());
		thrust::device_vector<uint32_t> row(c.n());
		for (int type = 0; type < CF_NETML_TYPE_COUNT; type++)
			for (int header = 0; header <= 1; header++) {
				uint32_t dim = dims[(seed + type + 2 * header) % 5];
				cf_netml_batch b = make_batch(c, type, dim, header, kWidths[(seed + type) % 5], 1);
				uint32_t cols = b.hdr_cols + b.feat_cols;
				size_t cells = (size_t)b.n_rows * cols;
				std::vector<double> ref(cells), got(cells);
				b.out = ref.data();
				ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK); // FFTW
				b.out = got.data();
				cf_thrust::netml_rows(thrust::device, b, c.base(), c.n(), thrust::raw_pointer_cast(keys.data()),
				                      thrust::raw_pointer_cast(row.data()));
				uint32_t part = std::max(b.hdr_cols, b.feat_cols);
				std::vector<cf_thrust::cf_cplx> block(cf_fft_stage_of(b.n_rows, part).bytes / 16 + 1);
				uint32_t col0s[2] = {0, b.hdr_cols}, ns[2] = {b.hdr_cols, b.feat_cols};
				for (int k = 0; k < 2; k++) {
					if (!ns[k])
						continue;
					odd_parts += col0s[k] % 2;
					cf_fft_stage st = cf_fft_stage_of(b.n_rows, ns[k]);
					cf_thrust::fft_stage(thrust::device, got.data(), b.n_rows, cols, col0s[k], ns[k], st, block.data());
					cf_thrust::fft_direct(thrust::device, b.n_rows, ns[k], st, block.data());
					cf_thrust::fft_scatter(thrust::device, got.data(), b.n_rows, cols, col0s[k], ns[k], st,
					                       block.data());
				}
				std::string w = what(b, seed, dim) + " fft";
				int bad = 0;
				for (uint32_t r = 0; r < b.n_rows && bad < 5; r++) {
					double mx = 1.0;
					for (uint32_t k = 0; k < cols; k++)
						mx = std::max(mx, std::fabs(ref[(size_t)r * cols + k]));
					for (uint32_t k = 0; k < cols && bad < 5; k++) {
						double a = ref[(size_t)r * cols + k], g = got[(size_t)r * cols + k];
						if (!(std::fabs(a - g) <= 1e-12 * mx)) {
							bad++;
							ADD_FAILURE() << w << ": row " << r << " col " << k << ": FFTW " << a << ", DFT " << g
							              << " (tolerance " << 1e-12 * mx << ")";
						}
					}
				}
				EXPECT_EQ(bad, 0) << w;
				runs++;
			}
	}
	EXPECT_EQ(runs, 36);
	EXPECT_GT(odd_parts, 0); // feature parts that start at an odd column were covered
}

} // namespace

// The FlowPic CNNs as whole-model steps (include/cuflow/nn_flowpic.h),
// checked four ways:
//
//  * FlowPicCnnShapes: every intermediate shape and parameter count against
//    the spec's tables (flowpic_joy_lstm.md §1.2: 1 x 1500 x 1500 -> conv 10
//    @ 10x10 stride 5 Keras "same" (2 before, 3 after) -> 10 x 300 x 300 ->
//    maxpool 2 -> 150 -> conv 20 @ 10x10 stride 5 "same" (2 / 3) -> 30 x 30
//    -> maxpool 2 -> 15 x 15 -> flatten 4500 -> 64 -> C: 1,010 + 20,020 +
//    288,064 + 325 = 309,419 with C = 5; §1.5: 32 -> 28 -> 14 -> 10 -> 5,
//    flatten 400, 156 + 2,416 + 48,120 + 10,164 + 425) and tcbench's
//    symmetric padding 3; invalid configurations.
//  * FlowPicBatch: the builders (pixels sorted by (c, y, x), duplicates
//    summed, full batch and out-of-range pixels refused, dense images
//    sparsified for the official model).
//  * FlowPicCnnGradient: cf_flowpic_cnn_step_f64's gradient of every
//    parameter tensor (every entry of the small ones, ~256 spread over a
//    larger one; ~64 under sanitizers) against central finite differences
//    of its own loss (test_nn_reference.cpp's criterion), training on
//    (dropout masks from the seeds) and off, on tiny faithful
//    configurations of both models;
//    the gradient is ADDED; the work array's contents do not matter;
//    chunks give the same probabilities bit for bit (masks per sample).
//  * FlowPicCnnNumpy: tests/oracles/flowpic_cnn_check_ctypes.py compares both
//    whole models (loss, probabilities, every parameter's gradient; f64
//    1e-10, f32 1e-5; training 0 and 1) with the independent numpy
//    reference tests/oracles/flowpic_cnn_numpy_ref.py through libcuflow.so.
//
// FlowPicCnnTiming times one forward + backward of the full official model
// on 16 sparse 1500 x 1500 images (~500 nonzero pixels each) and of the
// mini model on 128 images, and prints images/s (2 and 16 images, one run,
// under sanitizers: cft::sanitized()).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "cuflow/nn_flowpic.h"

namespace {

using Vec = std::vector<double>;

// ---------------------------------------------------------------- helpers

struct Rng {
	std::mt19937_64 g;
	explicit Rng(uint64_t seed) : g(seed) {}
	double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(g); }
	int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); } // inclusive
	uint64_t u64() { return g(); }
};

std::vector<cf_nn_param> params_of(const cf_flowpic_cnn_config &c)
{
	int n = cf_flowpic_cnn_params(&c, nullptr, 0);
	std::vector<cf_nn_param> p(n);
	EXPECT_EQ(cf_flowpic_cnn_params(&c, p.data(), n), n);
	return p;
}

// PyTorch-like initialization: uniform +-1/sqrt(fan_in).
Vec random_params(const cf_flowpic_cnn_config &c, Rng &r)
{
	auto table = params_of(c);
	Vec p(cf_flowpic_cnn_param_count(&c));
	for (size_t i = 0; i < table.size(); i++) {
		const cf_nn_param &w = table[i % 2 ? i - 1 : i]; // a bias uses its weight's fan-in
		double fan = 1;
		for (int k = 1; k < w.ndim; k++)
			fan *= (double)w.dims[k];
		for (size_t k = 0; k < table[i].count; k++)
			p[table[i].offset + k] = r.uniform(-1, 1) / std::sqrt(fan);
	}
	return p;
}

// n random images of ~npix pixels (counts 1..5 for the official model,
// uniform (0, 1] for mini), added as sparse pixel lists.
void fill_batch(cf_flowpic_batch *b, const cf_flowpic_cnn_config &c, int n, int npix, Rng &r, int classes)
{
	for (int s = 0; s < n; s++) {
		std::vector<int32_t> cc, yy, xx;
		std::vector<float> vv;
		for (int k = 0; k < npix; k++) {
			cc.push_back(r.integer(0, c.channels - 1));
			yy.push_back(r.integer(0, c.size - 1));
			xx.push_back(r.integer(0, c.size - 1));
			vv.push_back(c.kind == CF_FLOWPIC_CNN_OFFICIAL ? (float)r.integer(1, 5) : (float)r.uniform(0.004, 1));
		}
		int32_t label = s == 1 ? -1 : r.integer(0, classes - 1);
		ASSERT_EQ(cf_flowpic_batch_add_sparse(b, vv.size(), cc.data(), yy.data(), xx.data(), vv.data(), label, r.u64()),
		          0);
	}
}

// ---------------------------------------------------------------- shapes

TEST(FlowPicCnnShapes, OfficialTable)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_OFFICIAL);
	EXPECT_EQ(c.size, 1500);
	EXPECT_EQ(c.channels, 1);
	EXPECT_EQ(c.classes, 5);
	cf_flowpic_cnn_shape s;
	ASSERT_EQ(cf_flowpic_cnn_shapes(&c, &s), 0);
	// conv1: Keras "same", k10 s5 on 1500 -> ceil(1500/5) = 300, (300-1)*5+10-1500 = 5 padded: 2 before, 3 after
	EXPECT_EQ(s.pad1[0], 2); EXPECT_EQ(s.pad1[1], 3); EXPECT_EQ(s.pad1[2], 2); EXPECT_EQ(s.pad1[3], 3);
	EXPECT_EQ(s.c1_h, 300); EXPECT_EQ(s.c1_w, 300);
	EXPECT_EQ(s.p1_h, 150); EXPECT_EQ(s.p1_w, 150);
	// conv2 on 150: ceil(150/5) = 30, (30-1)*5+10-150 = 5: 2 / 3
	EXPECT_EQ(s.pad2[0], 2); EXPECT_EQ(s.pad2[1], 3); EXPECT_EQ(s.pad2[2], 2); EXPECT_EQ(s.pad2[3], 3);
	EXPECT_EQ(s.c2_h, 30); EXPECT_EQ(s.c2_w, 30);
	EXPECT_EQ(s.p2_h, 15); EXPECT_EQ(s.p2_w, 15);
	EXPECT_EQ(s.flat, 4500);

	auto p = params_of(c);
	ASSERT_EQ(p.size(), 8u);
	const char *names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
	                       "fc1.weight",   "fc1.bias",   "out.weight",   "out.bias"};
	const std::vector<std::vector<int64_t>> dims = {{10, 1, 10, 10}, {10}, {20, 10, 10, 10}, {20},
	                                                {64, 4500},      {64}, {5, 64},          {5}};
	size_t off = 0;
	for (size_t i = 0; i < p.size(); i++) {
		EXPECT_STREQ(p[i].name, names[i]);
		ASSERT_EQ(p[i].ndim, (int)dims[i].size()) << names[i];
		for (int k = 0; k < p[i].ndim; k++)
			EXPECT_EQ(p[i].dims[k], dims[i][k]) << names[i] << " dim " << k;
		EXPECT_EQ(p[i].offset, off) << names[i];
		off += p[i].count;
	}
	EXPECT_EQ(p[0].count + p[1].count, 1010u);
	EXPECT_EQ(p[2].count + p[3].count, 20020u);
	EXPECT_EQ(p[4].count + p[5].count, 288064u);
	EXPECT_EQ(p[6].count + p[7].count, 325u);
	EXPECT_EQ(cf_flowpic_cnn_param_count(&c), 309419u);
	EXPECT_EQ(off, 309419u);

	// tcbench: PyTorch padding=3 on both convolutions (a one-pixel shift)
	cf_flowpic_cnn_config t = c;
	t.pad_sym = 3;
	ASSERT_EQ(cf_flowpic_cnn_shapes(&t, &s), 0);
	EXPECT_EQ(s.pad1[0], 3); EXPECT_EQ(s.pad1[1], 3);
	EXPECT_EQ(s.c1_h, 300); EXPECT_EQ(s.p1_h, 150); EXPECT_EQ(s.c2_h, 30); EXPECT_EQ(s.p2_h, 15);
	EXPECT_EQ(s.flat, 4500);
	EXPECT_EQ(cf_flowpic_cnn_param_count(&t), 309419u);
	// two direction channels: 1,000 more conv1 weights
	t = c;
	t.channels = 2;
	EXPECT_EQ(cf_flowpic_cnn_param_count(&t), 310419u);
}

TEST(FlowPicCnnShapes, MiniTable)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_MINI);
	EXPECT_EQ(c.size, 32);
	EXPECT_EQ(c.same_padding, 0);
	EXPECT_EQ(c.pad_sym, -1);
	cf_flowpic_cnn_shape s;
	ASSERT_EQ(cf_flowpic_cnn_shapes(&c, &s), 0);
	for (int k = 0; k < 4; k++) {
		EXPECT_EQ(s.pad1[k], 0);
		EXPECT_EQ(s.pad2[k], 0);
	}
	EXPECT_EQ(s.c1_h, 28); EXPECT_EQ(s.c1_w, 28);
	EXPECT_EQ(s.p1_h, 14); EXPECT_EQ(s.p1_w, 14);
	EXPECT_EQ(s.c2_h, 10); EXPECT_EQ(s.c2_w, 10);
	EXPECT_EQ(s.p2_h, 5); EXPECT_EQ(s.p2_w, 5);
	EXPECT_EQ(s.flat, 400);
	auto p = params_of(c);
	ASSERT_EQ(p.size(), 10u);
	const char *names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
	                       "fc1.bias",     "fc2.weight", "fc2.bias",     "out.weight", "out.bias"};
	for (size_t i = 0; i < p.size(); i++)
		EXPECT_STREQ(p[i].name, names[i]);
	EXPECT_EQ(p[0].count + p[1].count, 156u);
	EXPECT_EQ(p[2].count + p[3].count, 2416u);
	EXPECT_EQ(p[4].count + p[5].count, 48120u);
	EXPECT_EQ(p[6].count + p[7].count, 10164u);
	EXPECT_EQ(p[8].count + p[9].count, 425u);
	EXPECT_EQ(cf_flowpic_cnn_param_count(&c), 61281u);
	EXPECT_EQ(p[4].dims[0], 120);
	EXPECT_EQ(p[4].dims[1], 400);
	c.channels = 2;
	EXPECT_EQ(cf_flowpic_cnn_param_count(&c), 61281u + 150u);
}

TEST(FlowPicCnnShapes, InvalidConfigurations)
{
	cf_flowpic_cnn_config base;
	cf_flowpic_cnn_config_default(&base, CF_FLOWPIC_CNN_OFFICIAL);
	std::vector<std::function<void(cf_flowpic_cnn_config &)>> bad = {
	    [](cf_flowpic_cnn_config &c) { c.kind = 2; },
	    [](cf_flowpic_cnn_config &c) { c.channels = 0; },
	    [](cf_flowpic_cnn_config &c) { c.size = 40; }, // 8 -> 4 -> 1 -> pool gives nothing
	    [](cf_flowpic_cnn_config &c) { c.hidden1 = 0; },
	    [](cf_flowpic_cnn_config &c) { c.hidden2 = -1; },
	    [](cf_flowpic_cnn_config &c) { c.drop_fc = 1.5; },
	    [](cf_flowpic_cnn_config &c) { c.drop_conv = NAN; },
	    [](cf_flowpic_cnn_config &c) { c.stride = 0; },
	};
	for (size_t i = 0; i < bad.size(); i++) {
		cf_flowpic_cnn_config c = base;
		bad[i](c);
		EXPECT_EQ(cf_flowpic_cnn_shapes(&c, nullptr), -1) << i;
		EXPECT_EQ(cf_flowpic_cnn_param_count(&c), 0u) << i;
		EXPECT_EQ(cf_flowpic_cnn_work_elems(&c, 3), 0u) << i;
		EXPECT_EQ(cf_flowpic_cnn_params(&c, nullptr, 0), 0) << i;
	}
}

// ---------------------------------------------------------------- batches

TEST(FlowPicBatch, SparseBuilder)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_OFFICIAL);
	c.channels = 2;
	cf_flowpic_batch b;
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, 3, 1), 0);
	EXPECT_EQ(b.dense, nullptr);
	// out of order, (1, 5, 7) listed twice, one value 0 (kept)
	int32_t cc[] = {1, 0, 1, 0, 1, 0};
	int32_t yy[] = {5, 1499, 5, 0, 0, 0};
	int32_t xx[] = {7, 3, 7, 1499, 2, 0};
	float vv[] = {2, 1, 3, 4, 0, 5};
	ASSERT_EQ(cf_flowpic_batch_add_sparse(&b, 6, cc, yy, xx, vv, 4, 99), 0);
	ASSERT_EQ(b.nnz, 5u);
	const int32_t wc[] = {0, 0, 0, 1, 1}, wy[] = {0, 0, 1499, 0, 5}, wx[] = {0, 1499, 3, 2, 7};
	const float wv[] = {5, 4, 1, 0, 5};
	for (int k = 0; k < 5; k++) {
		EXPECT_EQ(b.pc[k], wc[k]) << k;
		EXPECT_EQ(b.py[k], wy[k]) << k;
		EXPECT_EQ(b.px[k], wx[k]) << k;
		EXPECT_EQ(b.pv[k], wv[k]) << k;
	}
	EXPECT_EQ(b.offsets[0], 0);
	EXPECT_EQ(b.offsets[1], 5);
	EXPECT_EQ(b.label[0], 4);
	EXPECT_EQ(b.seed[0], 99u);
	// an empty image, then a dense one (its nonzero pixels)
	ASSERT_EQ(cf_flowpic_batch_add_sparse(&b, 0, nullptr, nullptr, nullptr, nullptr, -1, 1), 0);
	std::vector<float> img((size_t)2 * 1500 * 1500, 0.0f);
	img[(size_t)1 * 1500 * 1500 + 3 * 1500 + 4] = 7;
	img[10] = 2;
	ASSERT_EQ(cf_flowpic_batch_add_dense(&b, img.data(), 1, 2), 0);
	EXPECT_EQ(b.n, 3);
	EXPECT_EQ(b.offsets[2], 5);
	EXPECT_EQ(b.offsets[3], 7);
	EXPECT_EQ(b.px[5], 10);
	EXPECT_EQ(b.pc[6], 1);
	EXPECT_EQ(b.pv[6], 7.0f);
	// full; and a pixel outside the image is refused without appending
	EXPECT_EQ(cf_flowpic_batch_add_dense(&b, img.data(), 1, 2), -2);
	cf_flowpic_batch_clear(&b);
	EXPECT_EQ(b.n, 0);
	EXPECT_EQ(b.nnz, 0u);
	int32_t bad_y[] = {1500};
	EXPECT_EQ(cf_flowpic_batch_add_sparse(&b, 1, cc, bad_y, xx, vv, 0, 0), -2);
	int32_t bad_c[] = {2};
	EXPECT_EQ(cf_flowpic_batch_add_sparse(&b, 1, bad_c, yy, xx, vv, 0, 0), -2);
	EXPECT_EQ(b.n, 0);
	cf_flowpic_batch_free(&b);
}

TEST(FlowPicBatch, DenseBuilder)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_MINI);
	c.channels = 2;
	cf_flowpic_batch b;
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, 2, 0), 0);
	ASSERT_NE(b.dense, nullptr);
	EXPECT_EQ(b.offsets, nullptr);
	int32_t cc[] = {1, 0, 1}, yy[] = {31, 0, 31}, xx[] = {0, 5, 0};
	float vv[] = {0.25f, 1, 0.5f};
	ASSERT_EQ(cf_flowpic_batch_add_sparse(&b, 3, cc, yy, xx, vv, 2, 5), 0);
	const float *im = b.dense;
	EXPECT_EQ(im[5], 1.0f);
	EXPECT_EQ(im[1024 + 31 * 32], 0.75f);
	double sum = 0;
	for (int k = 0; k < 2 * 1024; k++)
		sum += im[k];
	EXPECT_EQ(sum, 1.75);
	std::vector<float> img(2 * 1024);
	for (size_t k = 0; k < img.size(); k++)
		img[k] = (float)k;
	ASSERT_EQ(cf_flowpic_batch_add_dense(&b, img.data(), 0, 6), 0);
	EXPECT_EQ(memcmp(b.dense + 2048, img.data(), img.size() * sizeof(float)), 0);
	EXPECT_EQ(cf_flowpic_batch_add_dense(&b, img.data(), 0, 6), -2);
	cf_flowpic_batch_free(&b);
}

// ---------------------------------------------------------------- gradients

const double kH = 1e-6, kTol = 1e-6, kFloor = 1e-9;

void gradient_check(const cf_flowpic_cnn_config &c, int n, int npix, uint64_t seed, int training)
{
	Rng r(seed);
	cf_flowpic_batch b;
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, n, 16), 0);
	fill_batch(&b, c, n, npix, r, c.classes);
	Vec p = random_params(c, r);
	const size_t P = p.size();
	const double scale = 0.5;
	Vec work(cf_flowpic_cnn_work_elems(&c, n));
	auto loss = [&]() { return cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, n, scale, training, nullptr, nullptr,
	                                                   work.data()); };
	// analytic: added onto random G0; the work array starts as NaN
	Vec g0(P), g(P);
	for (size_t k = 0; k < P; k++)
		g[k] = g0[k] = r.uniform(-1, 1);
	std::fill(work.begin(), work.end(), NAN);
	Vec probs((size_t)n * c.classes);
	double l = cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, n, scale, training, probs.data(), g.data(), work.data());
	ASSERT_TRUE(std::isfinite(l));
	EXPECT_EQ(l, loss());
	for (int s = 0; s < n; s++) {
		double sum = 0;
		for (int k = 0; k < c.classes; k++)
			sum += probs[(size_t)s * c.classes + k];
		EXPECT_NEAR(sum, 1.0, 1e-12);
	}
	for (size_t k = 0; k < P; k++)
		g[k] -= g0[k];
	auto table = params_of(c);
	double worst = 0;
	// at most ~256 entries of a tensor (evenly spread; ~64 under sanitizers),
	// every one of the small ones
	const size_t cap = cft::sanitized() ? 64 : 256;
	for (const auto &t : table) {
		const size_t step = t.count > cap ? (t.count + cap - 1) / cap : 1;
		Vec num(t.count, 0.0);
		double nmax = 0;
		for (size_t k = 0; k < t.count; k += step) {
			double &x = p[t.offset + k], v = x;
			x = v + kH;
			double fp = loss();
			x = v - kH;
			double fm = loss();
			x = v;
			num[k] = (fp - fm) / (2 * kH);
			nmax = std::max(nmax, std::fabs(num[k]));
		}
		int bad = 0;
		for (size_t k = 0; k < t.count; k += step) {
			double a = g[t.offset + k], err = std::fabs(a - num[k]), lim = kTol * (std::fabs(num[k]) + nmax) + kFloor;
			worst = std::max(worst, err / lim);
			if (!(err <= lim) && bad++ < 5)
				ADD_FAILURE() << t.name << "[" << k << "]: analytic " << a << ", finite differences " << num[k];
		}
		EXPECT_EQ(bad, 0) << t.name;
		EXPECT_GT(nmax, 0) << t.name << ": no gradient at all";
	}
	std::cout << "  kind " << c.kind << " training " << training << ": " << P
	          << " parameters, worst |analytic - fd| / allowed " << worst << "\n";

	// chunks: the same probabilities, bit for bit (per-sample masks), and
	// gradients that add up
	Vec gc(P, 0.0), pc((size_t)n * c.classes);
	double lc = 0;
	for (int lo = 0; lo < n; lo += 2) {
		int hi = std::min(n, lo + 2);
		Vec wk(cf_flowpic_cnn_work_elems(&c, hi - lo), NAN);
		lc += cf_flowpic_cnn_step_f64(&c, p.data(), &b, lo, hi, scale, training, pc.data() + (size_t)lo * c.classes,
		                              gc.data(), wk.data());
	}
	EXPECT_EQ(memcmp(pc.data(), probs.data(), pc.size() * sizeof(double)), 0);
	EXPECT_NEAR(lc, l, 1e-12 * std::max(1.0, std::fabs(l)));
	double gmax = 0, dmax = 0;
	for (size_t k = 0; k < P; k++) {
		gmax = std::max(gmax, std::fabs(g[k]));
		dmax = std::max(dmax, std::fabs(gc[k] - g[k]));
	}
	EXPECT_LE(dmax, 1e-12 * gmax);

	// a batch that does not match the configuration is refused
	cf_flowpic_cnn_config other = c;
	other.channels = c.channels + 1;
	EXPECT_TRUE(std::isnan(cf_flowpic_cnn_step_f64(&other, p.data(), &b, 0, n, scale, training, nullptr, nullptr,
	                                               work.data())));
	cf_flowpic_batch_free(&b);
}

// The official geometry (kernel 10, stride 5, "same" 2/3, maxpool 2) at
// 60 x 60: 12 -> 6 -> 2 -> 1.
cf_flowpic_cnn_config tiny_official(int channels)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_OFFICIAL);
	c.size = 60;
	c.channels = channels;
	c.conv1 = 3;
	c.conv2 = 4;
	c.hidden1 = 5;
	c.classes = 3;
	return c;
}

cf_flowpic_cnn_config tiny_mini(int channels)
{
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_MINI);
	c.channels = channels;
	c.conv1 = 3;
	c.conv2 = 4;
	c.hidden1 = 16;
	c.hidden2 = 12;
	c.classes = 4;
	return c;
}

TEST(FlowPicCnnGradient, OfficialSparse)
{
	gradient_check(tiny_official(1), 4, 40, 11, 0);
	gradient_check(tiny_official(1), 4, 40, 12, 1);
	gradient_check(tiny_official(2), 3, 60, 13, 1);
	cf_flowpic_cnn_config t = tiny_official(1);
	t.pad_sym = 3;
	t.size = 90; // 18 -> 9 -> 2 -> 1
	gradient_check(t, 3, 80, 14, 1);
}

TEST(FlowPicCnnGradient, Mini)
{
	gradient_check(tiny_mini(1), 4, 200, 21, 0);
	gradient_check(tiny_mini(1), 4, 200, 22, 1);
	gradient_check(tiny_mini(2), 4, 300, 23, 1);
}

TEST(FlowPicCnnGradient, DropoutMasksFollowTheSeeds)
{
	// training changes the result; the same seeds give the same bits; a
	// different seed for one sample changes only that sample's output
	cf_flowpic_cnn_config c = tiny_mini(1);
	Rng r(31);
	cf_flowpic_batch b;
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, 3, 0), 0);
	fill_batch(&b, c, 3, 300, r, c.classes);
	Vec p = random_params(c, r);
	Vec work(cf_flowpic_cnn_work_elems(&c, 3));
	Vec p0(3 * c.classes), p1(3 * c.classes), p2(3 * c.classes), p3(3 * c.classes);
	cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, 3, 1, 0, p0.data(), nullptr, work.data());
	cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, 3, 1, 1, p1.data(), nullptr, work.data());
	cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, 3, 1, 1, p2.data(), nullptr, work.data());
	EXPECT_NE(p0, p1);
	EXPECT_EQ(p1, p2);
	int changed = 0;
	for (uint64_t k = 1; k <= 8; k++) {
		b.seed[1] = r.u64();
		cf_flowpic_cnn_step_f64(&c, p.data(), &b, 0, 3, 1, 1, p3.data(), nullptr, work.data());
		for (int j = 0; j < c.classes; j++) {
			EXPECT_EQ(p3[j], p1[j]);
			EXPECT_EQ(p3[2 * c.classes + j], p1[2 * c.classes + j]);
		}
		changed += Vec(p3.begin() + c.classes, p3.begin() + 2 * c.classes) !=
		           Vec(p1.begin() + c.classes, p1.begin() + 2 * c.classes);
	}
	EXPECT_GT(changed, 0) << "sample 1's seed never changed its output";
	cf_flowpic_batch_free(&b);
}

// ---------------------------------------------------------------- timing

template <typename T, typename F>
double time_step(const cf_flowpic_cnn_config &c, const cf_flowpic_batch &b, const Vec &p64, int reps, F step,
                 bool backward)
{
	std::vector<T> p(p64.begin(), p64.end()), g(p64.size(), 0), work(cf_flowpic_cnn_work_elems(&c, b.n));
	std::vector<T> probs((size_t)b.n * c.classes);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		auto t0 = std::chrono::steady_clock::now();
		double l = step(&c, p.data(), &b, 0, b.n, 1.0 / b.n, 1, probs.data(), backward ? g.data() : nullptr,
		                work.data());
		double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
		EXPECT_TRUE(std::isfinite(l));
		best = std::min(best, t);
	}
	return best;
}

void time_model(const cf_flowpic_cnn_config &c, int n, int npix, const char *what)
{
	const int reps = cft::sanitized() ? 1 : 3;
	Rng r(41);
	cf_flowpic_batch b;
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, n, (size_t)n * npix), 0);
	fill_batch(&b, c, n, npix, r, c.classes);
	Vec p = random_params(c, r);
	double f64 = time_step<double>(c, b, p, reps, cf_flowpic_cnn_step_f64, true);
	double f32 = time_step<float>(c, b, p, reps, cf_flowpic_cnn_step_f32, true);
	double f32f = time_step<float>(c, b, p, reps, cf_flowpic_cnn_step_f32, false);
	std::cout << "  " << what << ", batch " << n;
	if (c.kind == CF_FLOWPIC_CNN_OFFICIAL)
		std::cout << " (" << b.nnz / n << " pixels per image)";
	std::cout << ", training, one thread:\n"
	          << "    forward + backward f64: " << f64 << " s, " << n / f64 << " images/s\n"
	          << "    forward + backward f32: " << f32 << " s, " << n / f32 << " images/s\n"
	          << "    forward only       f32: " << f32f << " s, " << n / f32f << " images/s\n";
	cf_flowpic_batch_free(&b);
}

TEST(FlowPicCnnTiming, OfficialAndMini)
{
	// under sanitizers the times mean nothing: the same calls on 2 and 16 images
	const bool small = cft::sanitized();
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_OFFICIAL);
	time_model(c, small ? 2 : 16, 500, "official 1 x 1500 x 1500");
	cf_flowpic_cnn_config_default(&c, CF_FLOWPIC_CNN_MINI);
	time_model(c, small ? 16 : 128, 150, "mini 1 x 32 x 32");
}

// ---------------------------------------------------------------- numpy oracle

TEST(FlowPicCnnNumpy, ModelsMatchNumpy)
{
	cft::CtypesRun r = cft::run_ctypes_oracle("flowpic_cnn_check_ctypes.py");
	if (r.skip) GTEST_SKIP() << r.why;
	if (r.fail) FAIL() << r.why;
	EXPECT_EQ(r.rc, 0) << r.out;
}

} // namespace

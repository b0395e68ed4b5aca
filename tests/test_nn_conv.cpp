// The image layers' CPU reference (include/cuflow/nn_conv.h: the FlowPic
// CNNs), checked three ways:
//
//  * NnConvGradient: each layer's float64 backward against central finite
//    differences of its own forward (h = 1e-6), with test_nn_reference.cpp's
//    criterion: |a - n| <= 1e-6 (|n| + max|n|) + 1e-9 per element. Conv2d
//    over asymmetric paddings (Keras "same" 2/3), symmetric ones (tcbench's
//    3), strides, padding wider than the kernel, a kernel larger than the
//    image; max pooling on distinct values (ties have no derivative), with
//    overlapping windows; average pooling; dropout and 2-D dropout; tanh.
//    Backward must ADD: weight gradients start from random values that are
//    subtracted; dx starts as NaN and must be overwritten.
//  * NnConvSparse: the sparse first convolution against the dense one BIT
//    FOR BIT (memcmp of y, dw and db, float64 and float32) on random sparse
//    images with pixels on every border, empty images and a whole batch of
//    them, non-integer values, chunks through offsets + lo; and the layout
//    helpers (sparse_from_dense, sparse_check). SparseVsDense1500 runs the
//    official first layer at full size (1 x 1500 x 1500, ~500 nonzero
//    pixels, 10 filters 10 x 10, stride 5, pad 2/3) and prints the time per
//    image of both paths.
//  * NnConvNumpy: tests/oracles/nn_conv_check_ctypes.py compares every layer,
//    forward and backward, _f64 and _f32, with the numpy reference
//    tests/oracles/nn_conv_numpy_ref.py through libcuflow.so (1e-10 relative
//    for float64, 1e-5 for float32, as nn_check_ctypes.py). Skips without
//    numpy or without the shared library.
//
//  * NnConvOrder: the dense forward against a loop written here in the
//    order include/cuflow/nn_conv.h promises (each output from its bias,
//    then its (c, ky, kx) terms ascending, padding terms skipped) BIT FOR
//    BIT, float32 and float64, on strided layers (the channel blocks) and
//    stride-1 ones (the column blocks): channel counts below, at and past
//    the 8-lane blocks and 32-channel groups, asymmetric padding.
//
// Also: the geometry helpers on the official network's shapes (1500 -> 300
// -> 150 -> 30 -> 15, 4500 flattened, 309,419 parameters with the dense
// layers), the dropout masks' thread-count independence (per-sample seeds)
// and their keep rate.
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
#include <thread>
#include <vector>

#include "test_util.h"
#include "cuflow/nn_conv.h"

namespace {

using Vec = std::vector<double>;
const double kH = 1e-6;
const double kTol = 1e-6;
const double kFloor = 1e-9;
double g_worst = 0;

struct ReportWorst {
	~ReportWorst() { std::cout << "  worst |analytic - fd| / allowed: " << g_worst << " (passes below 1)" << "\n"; }
	ReportWorst() { g_worst = 0; }
};

struct Rng {
	std::mt19937_64 g;
	explicit Rng(uint64_t seed) : g(seed) {}
	double normal(double sd = 1.0) { return std::normal_distribution<double>(0.0, sd)(g); }
	double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(g); }
	int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }  // inclusive
	Vec normals(size_t n, double sd = 1.0)
	{
		Vec v(n);
		for (auto &x : v)
			x = normal(sd);
		return v;
	}
};

// test_nn_reference.cpp's check: the analytic gradient `a` of f against
// central differences over every entry of the array `x` that f reads.
void fd_check(const std::string &what, const std::function<double()> &f, double *x, size_t n, const double *a)
{
	std::vector<double> num(n);
	double nmax = 0;
	for (size_t k = 0; k < n; k++) {
		double v = x[k];
		x[k] = v + kH;
		double fp = f();
		x[k] = v - kH;
		double fm = f();
		x[k] = v;
		num[k] = (fp - fm) / (2 * kH);
		nmax = std::max(nmax, std::fabs(num[k]));
	}
	int bad = 0;
	double worst = 0;
	for (size_t k = 0; k < n; k++) {
		double err = std::fabs(a[k] - num[k]);
		double lim = kTol * (std::fabs(num[k]) + nmax) + kFloor;
		worst = std::max(worst, err / lim);
		if (!(err <= lim) && bad++ < 5)
			ADD_FAILURE() << what << "[" << k << "]: analytic " << a[k] << ", finite differences " << num[k]
			              << " (max|fd| " << nmax << ")";
	}
	EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << n << " entries off";
	g_worst = std::max(g_worst, worst);
	if (getenv("CFT_NN_VERBOSE"))
		std::cout << "  " << what << ": max|fd| " << nmax << ", worst |a - n| / allowed " << worst << "\n";
}

double dot(const Vec &a, const Vec &b)
{
	double s = 0;
	for (size_t j = 0; j < a.size(); j++)
		s += a[j] * b[j];
	return s;
}

cf_nn_conv2d_dims conv_dims(int B, int C, int H, int W, int O, int KH, int KW, int sy, int sx, int pt, int pb, int pl,
                            int pr)
{
	cf_nn_conv2d_dims d;
	d.B = B;
	d.C = C;
	d.H = H;
	d.W = W;
	d.O = O;
	d.KH = KH;
	d.KW = KW;
	d.sy = sy;
	d.sx = sx;
	d.pad_t = pt;
	d.pad_b = pb;
	d.pad_l = pl;
	d.pad_r = pr;
	return d;
}

std::string conv_tag(const cf_nn_conv2d_dims &d)
{
	char s[200];
	snprintf(s, sizeof s, "conv x(%d,%d,%d,%d) w(%d,%d,%d,%d) s(%d,%d) pad(%d,%d,%d,%d)", d.B, d.C, d.H, d.W, d.O, d.C,
	         d.KH, d.KW, d.sy, d.sx, d.pad_t, d.pad_b, d.pad_l, d.pad_r);
	return s;
}

// ------------------------------------------------------------------ geometry

TEST(NnConvGeometry, FlowPicNetworkShapes)
{
	int before = -1, after = -1;
	cf_nn_conv2d_pad_same(1500, 10, 5, &before, &after);
	EXPECT_EQ(before, 2);
	EXPECT_EQ(after, 3);
	cf_nn_conv2d_dims c1 = conv_dims(1, 1, 1500, 1500, 10, 10, 10, 5, 5, 2, 3, 2, 3);
	int oh = 0, ow = 0;
	ASSERT_EQ(cf_nn_conv2d_out(&c1, &oh, &ow), 0);
	EXPECT_EQ(oh, 300);
	EXPECT_EQ(ow, 300);
	int p1 = cf_nn_pool_out(oh, 2, 2);
	EXPECT_EQ(p1, 150);
	cf_nn_conv2d_pad_same(150, 10, 5, &before, &after);
	EXPECT_EQ(before, 2);
	EXPECT_EQ(after, 3);
	cf_nn_conv2d_dims c2 = conv_dims(1, 10, p1, p1, 20, 10, 10, 5, 5, before, after, before, after);
	ASSERT_EQ(cf_nn_conv2d_out(&c2, &oh, &ow), 0);
	EXPECT_EQ(oh, 30);
	int p2 = cf_nn_pool_out(oh, 2, 2);
	EXPECT_EQ(p2, 15);
	EXPECT_EQ(20 * p2 * p2, 4500);  // Flatten
	EXPECT_EQ(cf_nn_conv2d_out_elems(&c2), (size_t)20 * 30 * 30);
	// 1,010 + 20,020 + 288,064 + 325 = 309,419 (spec §1.2)
	EXPECT_EQ((10 * 1 * 100 + 10) + (20 * 10 * 100 + 20) + (4500 * 64 + 64) + (64 * 5 + 5), 309419);
	// tcbench: PyTorch padding=3 on 1500 gives the same 300 (one pixel shifted)
	cf_nn_conv2d_dims t = conv_dims(1, 1, 1500, 1500, 10, 10, 10, 5, 5, 3, 3, 3, 3);
	ASSERT_EQ(cf_nn_conv2d_out(&t, &oh, &ow), 0);
	EXPECT_EQ(oh, 300);
	// mini-FlowPic LeNet-5: 32 -> 28 -> 14 -> 10 -> 5 (16 x 5 x 5 = 400)
	cf_nn_conv2d_dims l1 = conv_dims(1, 1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 0, 0);
	ASSERT_EQ(cf_nn_conv2d_out(&l1, &oh, &ow), 0);
	EXPECT_EQ(oh, 28);
	EXPECT_EQ(cf_nn_pool_out(28, 2, 2), 14);
	cf_nn_conv2d_dims l2 = conv_dims(1, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0);
	ASSERT_EQ(cf_nn_conv2d_out(&l2, &oh, &ow), 0);
	EXPECT_EQ(16 * cf_nn_pool_out(oh, 2, 2) * cf_nn_pool_out(ow, 2, 2), 400);
	// invalid geometries
	cf_nn_conv2d_dims bad = conv_dims(1, 1, 4, 4, 1, 5, 5, 1, 1, 0, 0, 0, 0);
	EXPECT_EQ(cf_nn_conv2d_out(&bad, nullptr, nullptr), -1);
	EXPECT_EQ(cf_nn_conv2d_out_elems(&bad), 0u);
	bad.pad_b = 1;  // 4 + 1 = 5 >= 5: one row
	EXPECT_EQ(cf_nn_conv2d_out(&bad, &oh, nullptr), -1);  // columns still too few
	bad.pad_l = 1;
	ASSERT_EQ(cf_nn_conv2d_out(&bad, &oh, &ow), 0);
	EXPECT_EQ(oh, 1);
	EXPECT_EQ(ow, 1);
	bad.sx = 0;
	EXPECT_EQ(cf_nn_conv2d_out(&bad, &oh, &ow), -1);
	EXPECT_EQ(cf_nn_pool_out(3, 4, 1), 0);
}

// ------------------------------------------------------------------ gradients

void check_conv_grad(const cf_nn_conv2d_dims &d, uint64_t seed)
{
	Rng r(seed);
	std::string tag = conv_tag(d);
	size_t ny = cf_nn_conv2d_out_elems(&d) * d.B;
	ASSERT_GT(ny, 0u) << tag;
	Vec x = r.normals((size_t)d.B * d.C * d.H * d.W), w = r.normals((size_t)d.O * d.C * d.KH * d.KW, 0.5),
	    b = r.normals(d.O), dy = r.normals(ny);
	auto loss = [&] {
		Vec y(ny);
		cf_nn_conv2d_forward_f64(&d, x.data(), w.data(), b.data(), y.data());
		return dot(y, dy);
	};
	Vec g0w = r.normals(w.size()), g0b = r.normals(b.size());
	Vec dx(x.size(), NAN), dw = g0w, db = g0b;
	cf_nn_conv2d_backward_f64(&d, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
	for (size_t j = 0; j < dw.size(); j++)
		dw[j] -= g0w[j];
	for (size_t j = 0; j < db.size(); j++)
		db[j] -= g0b[j];
	fd_check(tag + " dx", loss, x.data(), x.size(), dx.data());
	fd_check(tag + " dw", loss, w.data(), w.size(), dw.data());
	fd_check(tag + " db", loss, b.data(), b.size(), db.data());
}

TEST(NnConvGradient, Conv2d)
{
	ReportWorst report;
	uint64_t seed = 1101;
	// the official first layer at reduced size (Keras "same" 2/3), tcbench's
	// symmetric padding 3, the second layer's shape, LeNet-5
	check_conv_grad(conv_dims(1, 1, 30, 30, 3, 10, 10, 5, 5, 2, 3, 2, 3), seed++);
	check_conv_grad(conv_dims(1, 1, 25, 25, 2, 10, 10, 5, 5, 3, 3, 3, 3), seed++);
	check_conv_grad(conv_dims(2, 3, 12, 12, 2, 10, 10, 5, 5, 2, 3, 2, 3), seed++);
	check_conv_grad(conv_dims(2, 2, 9, 9, 3, 5, 5, 1, 1, 0, 0, 0, 0), seed++);
	// strides differ per axis, every padding different, wider than the kernel
	check_conv_grad(conv_dims(2, 2, 7, 6, 3, 3, 2, 2, 1, 1, 2, 0, 1), seed++);
	check_conv_grad(conv_dims(1, 1, 4, 9, 2, 2, 3, 1, 2, 3, 3, 4, 3), seed++);
	// a kernel larger than the image, a 1x1 kernel, batch 3
	check_conv_grad(conv_dims(1, 2, 2, 3, 2, 5, 5, 1, 2, 3, 0, 1, 2), seed++);
	check_conv_grad(conv_dims(3, 4, 5, 4, 3, 1, 1, 2, 3, 0, 0, 0, 0), seed++);
}

// Distinct values, at least `gap` apart: max pooling's argmax does not move
// under a finite-difference step.
Vec distinct(Rng &r, size_t n, double gap)
{
	Vec v(n);
	for (size_t j = 0; j < n; j++)
		v[j] = gap * (double)j - gap * (double)n / 2;
	std::shuffle(v.begin(), v.end(), r.g);
	return v;
}

TEST(NnConvGradient, Pooling)
{
	ReportWorst report;
	const int shapes[][8] = {{2, 3, 8, 8, 2, 2, 2, 2}, {1, 2, 7, 9, 3, 2, 2, 1}, {2, 1, 5, 5, 3, 3, 1, 1},
	                         {1, 2, 6, 7, 2, 3, 3, 2}};
	uint64_t seed = 1201;
	for (auto &s : shapes) {
		Rng r(seed++);
		int B = s[0], C = s[1], H = s[2], W = s[3], kh = s[4], kw = s[5], sy = s[6], sx = s[7];
		int OH = cf_nn_pool_out(H, kh, sy), OW = cf_nn_pool_out(W, kw, sx);
		char t[120];
		snprintf(t, sizeof t, " x(%d,%d,%d,%d) k%dx%d s%dx%d", B, C, H, W, kh, kw, sy, sx);
		size_t nx = (size_t)B * C * H * W, ny = (size_t)B * C * OH * OW;
		Vec x = distinct(r, nx, 1e-2), dy = r.normals(ny);
		auto maxloss = [&] {
			Vec y(ny);
			cf_nn_maxpool2d_forward_f64(B, C, H, W, kh, kw, sy, sx, x.data(), y.data());
			return dot(y, dy);
		};
		auto avgloss = [&] {
			Vec y(ny);
			cf_nn_avgpool2d_forward_f64(B, C, H, W, kh, kw, sy, sx, x.data(), y.data());
			return dot(y, dy);
		};
		Vec dx(nx, NAN);
		cf_nn_maxpool2d_backward_f64(B, C, H, W, kh, kw, sy, sx, x.data(), dy.data(), dx.data());
		fd_check(std::string("maxpool") + t + " dx", maxloss, x.data(), nx, dx.data());
		std::fill(dx.begin(), dx.end(), NAN);
		cf_nn_avgpool2d_backward_f64(B, C, H, W, kh, kw, sy, sx, dy.data(), dx.data());
		fd_check(std::string("avgpool") + t + " dx", avgloss, x.data(), nx, dx.data());
	}
}

TEST(NnConvPool, MaxPoolTiesFirstMaximumWins)
{
	// one 3x3 window over a 3x4 image, stride 1: windows at x = 0 and 1
	const double x[12] = {1, 7, 7, 0,  //
	                      7, 2, 7, 7,  //
	                      0, 7, 1, 7};
	double y[2], dx[12];
	cf_nn_maxpool2d_forward_f64(1, 1, 3, 4, 3, 3, 1, 1, x, y);
	EXPECT_EQ(y[0], 7);
	EXPECT_EQ(y[1], 7);
	const double dy[2] = {10, 100};
	cf_nn_maxpool2d_backward_f64(1, 1, 3, 4, 3, 3, 1, 1, x, dy, dx);
	// window 0's first 7 in row-major order is x[1]; window 1's is x[1] too
	for (int k = 0; k < 12; k++)
		EXPECT_EQ(dx[k], k == 1 ? 110.0 : 0.0) << k;
	// post-ReLU zeros: the first element of an all-zero window
	const float z[4] = {0, 0, 0, 0};
	float yz, dz[4];
	const float g = 3;
	cf_nn_maxpool2d_forward_f32(1, 1, 2, 2, 2, 2, 2, 2, z, &yz);
	cf_nn_maxpool2d_backward_f32(1, 1, 2, 2, 2, 2, 2, 2, z, &g, dz);
	EXPECT_EQ(dz[0], 3.0f);
	EXPECT_EQ(dz[1] + dz[2] + dz[3], 0.0f);
	// NaN propagates (PyTorch's CPU rule)
	const double n[4] = {1, NAN, 5, 2};
	double yn;
	cf_nn_maxpool2d_forward_f64(1, 1, 2, 2, 2, 2, 2, 2, n, &yn);
	EXPECT_TRUE(std::isnan(yn));
}

TEST(NnConvGradient, DropoutAndTanh)
{
	ReportWorst report;
	Rng r(1301);
	const int B = 3, C = 4, HW = 6;
	const size_t n = (size_t)B * C * HW;
	const double p = 0.25;
	std::vector<uint8_t> m1(n), m2((size_t)B * C);
	cf_nn_dropout_mask(99, B, (size_t)C * HW, p, m1.data());
	cf_nn_dropout_mask(99, B, C, p, m2.data());
	Vec x = r.normals(n), dy = r.normals(n);
	auto l1 = [&] {
		Vec y(n);
		cf_nn_dropout_forward_f64(n, x.data(), m1.data(), p, y.data());
		return dot(y, dy);
	};
	auto l2 = [&] {
		Vec y(n);
		cf_nn_dropout2d_forward_f64(B, C, HW, x.data(), m2.data(), p, y.data());
		return dot(y, dy);
	};
	Vec dx(n, NAN);
	cf_nn_dropout_backward_f64(n, dy.data(), m1.data(), p, dx.data());
	fd_check("dropout dx", l1, x.data(), n, dx.data());
	std::fill(dx.begin(), dx.end(), NAN);
	cf_nn_dropout2d_backward_f64(B, C, HW, dy.data(), m2.data(), p, dx.data());
	fd_check("dropout2d dx", l2, x.data(), n, dx.data());
	// values: 1 / (1 - p) = 4/3 where kept, +0 where dropped
	Vec y(n);
	cf_nn_dropout2d_forward_f64(B, C, HW, x.data(), m2.data(), p, y.data());
	for (size_t k = 0; k < n; k++) {
		if (m2[k / HW])
			EXPECT_EQ(y[k], x[k] * (1.0 / 0.75));
		else
			EXPECT_TRUE(y[k] == 0 && !std::signbit(y[k])) << k;
	}

	Vec t = r.normals(n, 1.5);
	auto lt = [&] {
		Vec yy(n);
		cf_nn_tanh_forward_f64(n, t.data(), yy.data());
		return dot(yy, dy);
	};
	Vec yt(n), dt(n, NAN);
	cf_nn_tanh_forward_f64(n, t.data(), yt.data());
	cf_nn_tanh_backward_f64(n, yt.data(), dy.data(), dt.data());
	fd_check("tanh dx", lt, t.data(), n, dt.data());
}

// ------------------------------------------------------------ dropout masks

TEST(NnConvMask, SameOnAnyThreadCount)
{
	const int B = 37;
	const size_t per = 4500;
	const uint64_t seed = 0xFFFFFFFFFFFFFFF0ull;  // wraps past 2^64
	std::vector<uint8_t> one((size_t)B * per);
	cf_nn_dropout_mask(seed, B, per, 0.5, one.data());
	for (int threads : {2, 3, 8}) {
		std::vector<uint8_t> many((size_t)B * per, 7);
		std::vector<std::thread> ts;
		for (int t = 0; t < threads; t++) {
			int lo = B * t / threads, hi = B * (t + 1) / threads;
			ts.emplace_back([&, lo, hi] {
				cf_nn_dropout_mask(seed + (uint64_t)lo, hi - lo, per, 0.5, many.data() + (size_t)lo * per);
			});
		}
		for (auto &th : ts)
			th.join();
		EXPECT_EQ(0, memcmp(one.data(), many.data(), one.size())) << threads << " threads";
	}
	// the keep rate is 1 - p; p <= 0 keeps all, p >= 1 drops all
	for (double p : {0.25, 0.5}) {
		std::vector<uint8_t> m(200000);
		cf_nn_dropout_mask(3, 1, m.size(), p, m.data());
		double kept = 0;
		for (uint8_t v : m)
			kept += v;
		EXPECT_NEAR(kept / m.size(), 1 - p, 0.005) << p;
	}
	std::vector<uint8_t> m(100, 9);
	cf_nn_dropout_mask(3, 2, 50, 0.0, m.data());
	EXPECT_EQ(std::count(m.begin(), m.end(), 1), 100);
	cf_nn_dropout_mask(3, 2, 50, 1.0, m.data());
	EXPECT_EQ(std::count(m.begin(), m.end(), 0), 100);
	// different samples, different masks
	cf_nn_dropout_mask(3, 2, 50, 0.5, m.data());
	EXPECT_NE(0, memcmp(m.data(), m.data() + 50, 50));
}

// ------------------------------------------------------------ sparse == dense

template <typename T> struct SparseOf;
template <> struct SparseOf<double> {
	using type = cf_nn_sparse_f64;
};
template <> struct SparseOf<float> {
	using type = cf_nn_sparse_f32;
};

// the _f64 / _f32 twins behind one name
void conv_fwd(const cf_nn_conv2d_dims *d, const double *x, const double *w, const double *b, double *y)
{
	cf_nn_conv2d_forward_f64(d, x, w, b, y);
}
void conv_fwd(const cf_nn_conv2d_dims *d, const float *x, const float *w, const float *b, float *y)
{
	cf_nn_conv2d_forward_f32(d, x, w, b, y);
}
void conv_bwd(const cf_nn_conv2d_dims *d, const double *x, const double *w, const double *dy, double *dx, double *dw,
              double *db)
{
	cf_nn_conv2d_backward_f64(d, x, w, dy, dx, dw, db);
}
void conv_bwd(const cf_nn_conv2d_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
              float *db)
{
	cf_nn_conv2d_backward_f32(d, x, w, dy, dx, dw, db);
}
void sparse_fwd(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f64 *s, const double *w, const double *b, double *y)
{
	cf_nn_conv2d_sparse_forward_f64(d, s, w, b, y);
}
void sparse_fwd(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f32 *s, const float *w, const float *b, float *y)
{
	cf_nn_conv2d_sparse_forward_f32(d, s, w, b, y);
}
void sparse_bwd(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f64 *s, const double *dy, double *dw, double *db)
{
	cf_nn_conv2d_sparse_backward_f64(d, s, dy, dw, db);
}
void sparse_bwd(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f32 *s, const float *dy, float *dw, float *db)
{
	cf_nn_conv2d_sparse_backward_f32(d, s, dy, dw, db);
}
size_t from_dense(int B, int C, int H, int W, const double *x, int64_t *o, int32_t *c, int32_t *y, int32_t *xc,
                  double *v, size_t cap)
{
	return cf_nn_sparse_from_dense_f64(B, C, H, W, x, o, c, y, xc, v, cap);
}
size_t from_dense(int B, int C, int H, int W, const float *x, int64_t *o, int32_t *c, int32_t *y, int32_t *xc,
                  float *v, size_t cap)
{
	return cf_nn_sparse_from_dense_f32(B, C, H, W, x, o, c, y, xc, v, cap);
}
int64_t sparse_check(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f64 *s) { return cf_nn_sparse_check_f64(d, s); }
int64_t sparse_check(const cf_nn_conv2d_dims *d, const cf_nn_sparse_f32 *s) { return cf_nn_sparse_check_f32(d, s); }

// A batch in the sparse layout, built from a dense one.
template <typename T> struct SparseBatch {
	std::vector<int64_t> offsets;
	std::vector<int32_t> c, y, x;
	std::vector<T> value;
	typename SparseOf<T>::type s{};

	SparseBatch(const cf_nn_conv2d_dims &d, const std::vector<T> &dense)
	{
		size_t n = from_dense(d.B, d.C, d.H, d.W, dense.data(), nullptr, nullptr, nullptr, nullptr, nullptr, 0);
		offsets.resize(d.B + 1);
		c.resize(n + 1);
		y.resize(n + 1);
		x.resize(n + 1);
		value.resize(n + 1);
		size_t got = from_dense(d.B, d.C, d.H, d.W, dense.data(), offsets.data(), c.data(), y.data(), x.data(),
		                        value.data(), n);
		EXPECT_EQ(got, n);
		s.offsets = offsets.data();
		s.c = c.data();
		s.y = y.data();
		s.x = x.data();
		s.value = value.data();
	}
	size_t nnz() const { return (size_t)offsets.back(); }
};

// A random sparse batch: about `density` of the pixels nonzero (normal
// values, so products and sums round), every border pixel of sample 0 set,
// sample 1 empty when B > 1.
template <typename T> std::vector<T> sparse_image(const cf_nn_conv2d_dims &d, double density, Rng &r)
{
	std::vector<T> x((size_t)d.B * d.C * d.H * d.W, 0);
	for (int b = 0; b < d.B; b++)
		for (int c = 0; c < d.C; c++)
			for (int i = 0; i < d.H; i++)
				for (int j = 0; j < d.W; j++) {
					bool border = b == 0 && (i == 0 || j == 0 || i == d.H - 1 || j == d.W - 1);
					if (b == 1)
						continue;
					if (border || r.uniform(0, 1) < density)
						x[(((size_t)b * d.C + c) * d.H + i) * d.W + j] = (T)r.normal(2.0);
				}
	return x;
}

template <typename T> void check_sparse_bits(const cf_nn_conv2d_dims &d, double density, uint64_t seed)
{
	Rng r(seed);
	const std::string tag = conv_tag(d) + (sizeof(T) == 8 ? " f64" : " f32");
	std::vector<T> x = sparse_image<T>(d, density, r);
	SparseBatch<T> sb(d, x);
	ASSERT_EQ(sparse_check(&d, &sb.s), -1) << tag;
	const size_t ny = cf_nn_conv2d_out_elems(&d) * d.B, nw = (size_t)d.O * d.C * d.KH * d.KW;
	std::vector<T> w(nw), b(d.O), dy(ny);
	for (auto &v : w)
		v = (T)r.normal(0.3);
	for (auto &v : b)
		v = (T)r.normal();
	for (auto &v : dy)
		v = (T)r.normal();
	std::vector<T> yd(ny, (T)NAN), ys(ny, (T)NAN);
	conv_fwd(&d, x.data(), w.data(), b.data(), yd.data());
	sparse_fwd(&d, &sb.s, w.data(), b.data(), ys.data());
	EXPECT_EQ(0, memcmp(yd.data(), ys.data(), ny * sizeof(T))) << tag << ": sparse y != dense y (" << sb.nnz()
	                                                           << " pixels)";
	// dw, db from zero, then again onto random values (both add)
	std::vector<T> dwd(nw, 0), dws(nw, 0), dbd(d.O, 0), dbs(d.O, 0);
	for (int round = 0; round < 2; round++) {
		conv_bwd(&d, x.data(), w.data(), dy.data(), nullptr, dwd.data(), dbd.data());
		sparse_bwd(&d, &sb.s, dy.data(), dws.data(), dbs.data());
		EXPECT_EQ(0, memcmp(dwd.data(), dws.data(), nw * sizeof(T))) << tag << ": dw, round " << round;
		EXPECT_EQ(0, memcmp(dbd.data(), dbs.data(), d.O * sizeof(T))) << tag << ": db, round " << round;
		for (size_t k = 0; k < nw; k++)
			dwd[k] = dws[k] = (T)r.normal(10);
		for (int k = 0; k < d.O; k++)
			dbd[k] = dbs[k] = (T)r.normal(10);
	}
	// a chunk [1, B) through offsets + 1
	if (d.B > 1) {
		cf_nn_conv2d_dims d1 = d;
		d1.B = d.B - 1;
		typename SparseOf<T>::type s1 = sb.s;
		s1.offsets = sb.offsets.data() + 1;
		const size_t per = ny / d.B;
		std::vector<T> y1(per * d1.B, (T)NAN);
		sparse_fwd(&d1, &s1, w.data(), b.data(), y1.data());
		EXPECT_EQ(0, memcmp(y1.data(), yd.data() + per, y1.size() * sizeof(T))) << tag << ": chunk [1,B)";
	}
}

template <typename T>
void order_case(const cf_nn_conv2d_dims &d, uint64_t seed,
                void (*fwd)(const cf_nn_conv2d_dims *, const T *, const T *, const T *, T *), const char *tag)
{
	int OH, OW;
	ASSERT_EQ(cf_nn_conv2d_out(&d, &OH, &OW), 0) << tag;
	Rng r(seed);
	std::vector<T> x((size_t)d.B * d.C * d.H * d.W), w((size_t)d.O * d.C * d.KH * d.KW), bias(d.O);
	for (auto &v : x)
		v = r.uniform(0, 1) < 0.3 ? T(0) : T(r.uniform(-3, 3));
	for (auto &v : w)
		v = T(r.uniform(-1, 1));
	for (auto &v : bias)
		v = T(r.uniform(-1, 1));
	std::vector<T> y((size_t)d.B * d.O * OH * OW), ref(y.size());
	fwd(&d, x.data(), w.data(), bias.data(), y.data());
	for (int b = 0; b < d.B; b++)
		for (int o = 0; o < d.O; o++)
			for (int oy = 0; oy < OH; oy++)
				for (int ox = 0; ox < OW; ox++) {
					T acc = bias[o];
					for (int c = 0; c < d.C; c++)
						for (int ky = 0; ky < d.KH; ky++)
							for (int kx = 0; kx < d.KW; kx++) {
								int iy = oy * d.sy - d.pad_t + ky, ix = ox * d.sx - d.pad_l + kx;
								if (iy < 0 || iy >= d.H || ix < 0 || ix >= d.W)
									continue;
								T p = w[(((size_t)o * d.C + c) * d.KH + ky) * d.KW + kx] *
								      x[(((size_t)b * d.C + c) * d.H + iy) * d.W + ix];
								acc = acc + p;
							}
					ref[(((size_t)b * d.O + o) * OH + oy) * OW + ox] = acc;
				}
	EXPECT_EQ(0, memcmp(y.data(), ref.data(), y.size() * sizeof(T))) << tag;
}

TEST(NnConvOrder, ForwardSumsInThePromisedOrder)
{
	const cf_nn_conv2d_dims cases[] = {
		{3, 10, 150, 150, 20, 10, 10, 5, 5, 2, 3, 2, 3}, // the official second convolution
		{2, 3, 37, 41, 7, 3, 5, 2, 3, 1, 2, 0, 4},
		{2, 2, 20, 23, 40, 4, 4, 1, 2, 1, 1, 1, 1},
		{1, 1, 30, 30, 8, 5, 5, 3, 3, 2, 2, 2, 2},
		{2, 4, 16, 16, 33, 3, 3, 2, 2, 1, 0, 1, 0},
		{2, 3, 12, 14, 5, 3, 3, 1, 1, 2, 1, 0, 2},  // stride 1: the column blocks
		{1, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0}, // mini's second convolution
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		std::string tag = "case " + std::to_string(i);
		order_case<float>(cases[i], 100 + i, cf_nn_conv2d_forward_f32, (tag + " f32").c_str());
		order_case<double>(cases[i], 200 + i, cf_nn_conv2d_forward_f64, (tag + " f64").c_str());
	}
}

TEST(NnConvSparse, BitForBitWithDense)
{
	uint64_t seed = 1401;
	std::vector<cf_nn_conv2d_dims> ds = {
	    conv_dims(1, 1, 105, 105, 10, 10, 10, 5, 5, 2, 3, 2, 3),  // the official first layer, reduced
	    conv_dims(3, 1, 105, 105, 10, 10, 10, 5, 5, 2, 3, 2, 3),  // sample 1 empty
	    conv_dims(2, 1, 105, 105, 10, 10, 10, 5, 5, 3, 3, 3, 3),  // tcbench padding=3
	    conv_dims(4, 1, 32, 32, 6, 5, 5, 1, 1, 0, 0, 0, 0),       // mini-FlowPic LeNet-5
	    conv_dims(2, 2, 32, 32, 6, 5, 5, 1, 1, 0, 0, 0, 0),       // two direction channels
	    conv_dims(2, 3, 9, 7, 4, 3, 2, 2, 3, 1, 0, 4, 2),         // odd geometry, padding > kernel
	    conv_dims(2, 2, 2, 3, 3, 5, 5, 1, 2, 3, 0, 1, 2),         // kernel larger than the image
	    conv_dims(3, 2, 11, 13, 2, 4, 3, 3, 2, 0, 0, 0, 0),       // bottom / right rows no output reads
	    // stride 1 with padding: the dense path's register blocks, masked at the edges
	    conv_dims(2, 2, 17, 17, 5, 5, 5, 1, 1, 3, 3, 3, 3),       // mini conv2 with tcbench's padding 3
	    conv_dims(2, 1, 9, 21, 3, 3, 4, 1, 1, 1, 2, 2, 1),        // asymmetric, 3 channels (blocks of 2 + 1)
	    conv_dims(1, 3, 5, 4, 9, 2, 3, 1, 1, 0, 1, 2, 0),         // rows narrower than a block
	};
	for (auto &d : ds)
		for (double density : {0.02, 0.3, 1.0}) {
			check_sparse_bits<double>(d, density, seed);
			check_sparse_bits<float>(d, density, seed++);
		}
}

TEST(NnConvSparse, EmptyBatch)
{
	// no pixel in any sample: y is the bias everywhere, dw unchanged
	cf_nn_conv2d_dims d = conv_dims(3, 1, 20, 20, 2, 10, 10, 5, 5, 2, 3, 2, 3);
	std::vector<int64_t> off(4, 5);  // offsets need not start at 0
	cf_nn_sparse_f64 s{off.data(), nullptr, nullptr, nullptr, nullptr};
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &s), -1);
	const double w[200] = {0}, b[2] = {0.5, -1.5};
	std::vector<double> y(cf_nn_conv2d_out_elems(&d) * 3, NAN), dy(y.size(), 1.0);
	cf_nn_conv2d_sparse_forward_f64(&d, &s, w, b, y.data());
	for (size_t k = 0; k < y.size(); k++)
		ASSERT_EQ(y[k], b[(k / 16) % 2]) << k;
	std::vector<double> dw(200, 0.25), db(2, 0);
	cf_nn_conv2d_sparse_backward_f64(&d, &s, dy.data(), dw.data(), db.data());
	for (double v : dw)
		ASSERT_EQ(v, 0.25);
	EXPECT_EQ(db[0], 48.0);  // 3 samples x 4 x 4 outputs
}

TEST(NnConvSparse, CheckAndLayout)
{
	cf_nn_conv2d_dims d = conv_dims(2, 2, 4, 5, 1, 2, 2, 1, 1, 0, 0, 0, 0);
	std::vector<double> x(2 * 2 * 4 * 5, 0.0);
	x[0 * 20 + 0] = 1;        // b0 c0 (0,0)
	x[0 * 20 + 19] = 2;       // b0 c0 (3,4)
	x[1 * 20 + 7] = 3;        // b0 c1 (1,2)
	x[3 * 20 + 12] = -0.5;    // b1 c1 (2,2)
	SparseBatch<double> sb(d, x);
	ASSERT_EQ(sb.nnz(), 4u);
	EXPECT_EQ(sb.offsets, (std::vector<int64_t>{0, 3, 4}));
	EXPECT_EQ(std::vector<int32_t>(sb.c.begin(), sb.c.begin() + 4), (std::vector<int32_t>{0, 0, 1, 1}));
	EXPECT_EQ(std::vector<int32_t>(sb.y.begin(), sb.y.begin() + 4), (std::vector<int32_t>{0, 3, 1, 2}));
	EXPECT_EQ(std::vector<int32_t>(sb.x.begin(), sb.x.begin() + 4), (std::vector<int32_t>{0, 4, 2, 2}));
	EXPECT_EQ(std::vector<double>(sb.value.begin(), sb.value.begin() + 4), (Vec{1, 2, 3, -0.5}));
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), -1);
	// too little room: the count, nothing past cap
	std::vector<int64_t> off(3, -9);
	int32_t c[2] = {-9, -9}, yy[2], xx[2];
	double v[2];
	EXPECT_EQ(cf_nn_sparse_from_dense_f64(2, 2, 4, 5, x.data(), off.data(), c, yy, xx, v, 1), 4u);
	EXPECT_EQ(c[1], -9);
	// broken batches
	sb.c[1] = 1;  // (1,3,4) then (1,1,2): out of order
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), 2);
	sb.c[1] = 0;
	sb.x[1] = 5;  // column out of range
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), 1);
	sb.x[1] = 4;
	sb.c[3] = 2;  // channel out of range
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), 3);
	sb.c[3] = 1;
	sb.x[1] = 0;
	sb.y[1] = 0;  // the same pixel twice
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), 1);
	sb.y[1] = 3;
	sb.x[1] = 4;
	sb.offsets[1] = 5;  // offsets descend
	EXPECT_EQ(cf_nn_sparse_check_f64(&d, &sb.s), -2);
}

// The official first layer at full size: 1 x 1500 x 1500, ~500 nonzero
// pixels (FlowPic counts), 10 filters 10 x 10, stride 5, Keras "same".
TEST(NnConvSparse, SparseVsDense1500)
{
	Rng r(1501);
	cf_nn_conv2d_dims d = conv_dims(1, 1, 1500, 1500, 10, 10, 10, 5, 5, 2, 3, 2, 3);
	const size_t nx = 1500 * 1500, ny = cf_nn_conv2d_out_elems(&d), nw = 1000;
	ASSERT_EQ(ny, (size_t)10 * 300 * 300);
	std::vector<double> x(nx, 0.0);
	for (int k = 0; k < 500; k++)  // a few collide: about 500 distinct pixels
		x[(size_t)r.integer(0, 1499) * 1500 + r.integer(0, 1499)] += (double)r.integer(1, 3);
	x[0] = x[1499] = x[nx - 1] = x[nx - 1500] = 1;  // the corners
	std::vector<float> xf(x.begin(), x.end());
	SparseBatch<double> sb(d, x);
	SparseBatch<float> sbf(d, xf);
	std::vector<double> w(nw), b(10), dy(ny);
	for (auto &v : w)
		v = r.normal(0.1);
	for (auto &v : b)
		v = r.normal(0.1);
	for (auto &v : dy)
		v = r.normal();
	std::vector<float> wf(w.begin(), w.end()), bf(b.begin(), b.end()), dyf(dy.begin(), dy.end());
	using clk = std::chrono::steady_clock;
	auto ms = [](clk::time_point a, clk::time_point e) { return std::chrono::duration<double, std::milli>(e - a).count(); };
	auto best = [&](int reps, const std::function<void()> &f) {
		double m = 1e300;
		for (int i = 0; i < reps; i++) {
			auto t0 = clk::now();
			f();
			m = std::min(m, ms(t0, clk::now()));
		}
		return m;
	};
	std::vector<double> yd(ny), ys(ny), dwd(nw, 0), dws(nw, 0), dbd(10, 0), dbs(10, 0);
	std::vector<float> ydf(ny), ysf(ny), dwdf(nw, 0), dwsf(nw, 0), dbdf(10, 0), dbsf(10, 0);
	// the times mean nothing under sanitizers: each call once
	const bool once = cft::sanitized();
	const int r_dense = once ? 1 : 2, r_sparse = once ? 1 : 20, r_dw_only = once ? 1 : 5;
	double t_dense = best(r_dense, [&] { cf_nn_conv2d_forward_f64(&d, x.data(), w.data(), b.data(), yd.data()); });
	double t_sparse =
	    best(r_sparse, [&] { cf_nn_conv2d_sparse_forward_f64(&d, &sb.s, w.data(), b.data(), ys.data()); });
	double t_densef = best(r_dense, [&] { cf_nn_conv2d_forward_f32(&d, xf.data(), wf.data(), bf.data(), ydf.data()); });
	double t_sparsef =
	    best(r_sparse, [&] { cf_nn_conv2d_sparse_forward_f32(&d, &sbf.s, wf.data(), bf.data(), ysf.data()); });
	double t_dw = best(1, [&] {
		cf_nn_conv2d_backward_f64(&d, x.data(), w.data(), dy.data(), nullptr, dwd.data(), dbd.data());
	});
	double t_dws = best(1, [&] { cf_nn_conv2d_sparse_backward_f64(&d, &sb.s, dy.data(), dws.data(), dbs.data()); });
	std::vector<double> dw_only(nw, 0);  // db NULL: only the pixels' terms
	double t_dws_only =
	    best(r_dw_only, [&] { cf_nn_conv2d_sparse_backward_f64(&d, &sb.s, dy.data(), dw_only.data(), nullptr); });
	double t_dwf = best(1, [&] {
		cf_nn_conv2d_backward_f32(&d, xf.data(), wf.data(), dyf.data(), nullptr, dwdf.data(), dbdf.data());
	});
	double t_dwsf = best(1, [&] { cf_nn_conv2d_sparse_backward_f32(&d, &sbf.s, dyf.data(), dwsf.data(), dbsf.data()); });
	EXPECT_EQ(0, memcmp(yd.data(), ys.data(), ny * sizeof(double))) << "f64 y";
	EXPECT_EQ(0, memcmp(dwd.data(), dws.data(), nw * sizeof(double))) << "f64 dw";
	EXPECT_EQ(0, memcmp(dbd.data(), dbs.data(), 10 * sizeof(double))) << "f64 db";
	EXPECT_EQ(0, memcmp(ydf.data(), ysf.data(), ny * sizeof(float))) << "f32 y";
	EXPECT_EQ(0, memcmp(dwdf.data(), dwsf.data(), nw * sizeof(float))) << "f32 dw";
	std::cout << "  1x1500x1500, " << sb.nnz() << " nonzero pixels, 10 filters 10x10 stride 5 pad 2/3 -> 10x300x300,"
	          << " ms per image (best of runs):\n"
	          << "    forward  f64: dense " << t_dense << ", sparse " << t_sparse << " (x" << t_dense / t_sparse << ")\n"
	          << "    forward  f32: dense " << t_densef << ", sparse " << t_sparsef << " (x" << t_densef / t_sparsef
	          << ")\n"
	          << "    dw + db  f64: dense " << t_dw << ", sparse " << t_dws << " (x" << t_dw / t_dws
	          << "; sparse dw alone, db NULL: " << t_dws_only << ")\n"
	          << "    dw + db  f32: dense " << t_dwf << ", sparse " << t_dwsf << " (x" << t_dwf / t_dwsf << ")\n";
}

// ------------------------------------------------------------- numpy oracle

TEST(NnConvNumpy, LayersMatchNumpy)
{
	cft::CtypesRun r = cft::run_ctypes_oracle("nn_conv_check_ctypes.py");
	if (r.skip) GTEST_SKIP() << r.why;
	if (r.fail) FAIL() << r.why;
	EXPECT_EQ(r.rc, 0) << r.out;
}

} // namespace

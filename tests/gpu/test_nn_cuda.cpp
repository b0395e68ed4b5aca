// The GPU LSTM (cuDNN) and dense layer (cuBLAS) of kernels/nn_cudnn.cu
// against the CPU reference (cuflow/nn.h, float32):
//   * LSTM: random weights (PyTorch's U(-1/sqrt(H), 1/sqrt(H))), inputs and
//     lengths (1 and T always among them, and NULL = all T), shapes from
//     1x1 to the model's packet/IP-id LSTMs, several shapes on one handle
//     (workspace reuse); h_last of a training and of an inference forward,
//     then dx (valid steps; the padded ones must be 0), dw_ih, dw_hh, db_ih,
//     db_hh: norm-wise relative error <= 1e-5. The float64 reference is
//     computed too and both errors against it are printed on a failure.
//   * backward ADDS into the weight gradients (a second pass doubles them);
//   * dense: y, dx, dw, db the same way;
//   * argument errors (length 0 or > T, backward without a training
//     forward, B > max_batch) fail cleanly;
//   * without a device (or without cuDNN, or without CUDA in the build):
//     cf_nn_gpu_available says why and create fails without crashing.
// The parity tests skip unless cf_nn_gpu_available.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuflow/nn.h"
#include "cuflow/nn_conv.h"
#include "cuflow/nn_gpu.h"
#include "cuflow/status.h"

namespace {

// The tolerance: float32, relative, norm-wise.
const double kTol = 1e-5;

#define SKIP_WITHOUT_NN_GPU()                                                                                 \
	do {                                                                                                      \
		char why_[CF_ERRBUF_SIZE] = "";                                                                       \
		if (!cf_nn_gpu_available(why_))                                                                       \
			GTEST_SKIP() << "no GPU layers: " << why_;                                                        \
	} while (0)

// ||a - b|| / ||b|| (||a - b|| when b is 0).
template <class A, class B> double rel_err(const A *a, const B *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		const double d = (double)a[i] - (double)b[i];
		num += d * d;
		den += (double)b[i] * (double)b[i];
	}
	return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

std::vector<float> uniform(std::mt19937_64 &rng, size_t n, float lo, float hi)
{
	std::uniform_real_distribution<float> u(lo, hi);
	std::vector<float> v(n);
	for (float &f : v)
		f = u(rng);
	return v;
}

template <class T> std::vector<T> cast(const std::vector<float> &v)
{
	return std::vector<T>(v.begin(), v.end());
}

// Lengths in 1..T with T and 1 among them (when B allows), shuffled.
std::vector<int32_t> random_lengths(std::mt19937_64 &rng, int B, int T)
{
	std::uniform_int_distribution<int> u(1, T);
	std::vector<int32_t> len(B);
	for (int32_t &l : len)
		l = u(rng);
	len[0] = T;
	if (B > 1)
		len[1] = 1;
	std::shuffle(len.begin(), len.end(), rng);
	return len;
}

// ------------------------------------------------------------------ LSTM

struct LstmData {
	int B, T, I, H;
	std::vector<float> x, w_ih, w_hh, b_ih, b_hh, dh;
	std::vector<int32_t> len; // empty: NULL
	const int32_t *lenp() const { return len.empty() ? nullptr : len.data(); }
	int L(int b) const { return len.empty() ? T : len[b]; }
};

LstmData make_lstm(std::mt19937_64 &rng, int B, int T, int I, int H, bool null_len)
{
	LstmData d{B, T, I, H, {}, {}, {}, {}, {}, {}, {}};
	const float k = 1.0f / std::sqrt((float)H);
	d.x = uniform(rng, (size_t)B * T * I, -1, 1);
	d.w_ih = uniform(rng, (size_t)4 * H * I, -k, k);
	d.w_hh = uniform(rng, (size_t)4 * H * H, -k, k);
	d.b_ih = uniform(rng, (size_t)4 * H, -k, k);
	d.b_hh = uniform(rng, (size_t)4 * H, -k, k);
	d.dh = uniform(rng, (size_t)B * H, -1, 1);
	if (!null_len)
		d.len = random_lengths(rng, B, T);
	return d;
}

// The CPU reference's outputs in precision T (grads start at 0).
template <class T> struct LstmRef {
	std::vector<T> h, cache, dx, dw_ih, dw_hh, db_ih, db_hh;
};

void cpu_lstm(const LstmData &d, LstmRef<float> &r)
{
	const int B = d.B, T = d.T, I = d.I, H = d.H;
	r.h.assign((size_t)B * H, 0);
	r.cache.assign(cf_nn_lstm_cache_elems(B, T, H), 0);
	r.dx.assign((size_t)B * T * I, 0);
	r.dw_ih.assign(d.w_ih.size(), 0);
	r.dw_hh.assign(d.w_hh.size(), 0);
	r.db_ih.assign(d.b_ih.size(), 0);
	r.db_hh.assign(d.b_hh.size(), 0);
	cf_nn_lstm_forward_f32(B, T, I, H, d.x.data(), d.lenp(), d.w_ih.data(), d.w_hh.data(), d.b_ih.data(),
	                       d.b_hh.data(), r.h.data(), r.cache.data());
	cf_nn_lstm_backward_f32(B, T, I, H, d.x.data(), d.lenp(), d.w_ih.data(), d.w_hh.data(), r.cache.data(),
	                        d.dh.data(), r.dx.data(), r.dw_ih.data(), r.dw_hh.data(), r.db_ih.data(), r.db_hh.data());
}

void cpu_lstm(const LstmData &d, LstmRef<double> &r)
{
	const int B = d.B, T = d.T, I = d.I, H = d.H;
	const std::vector<double> x = cast<double>(d.x), w_ih = cast<double>(d.w_ih), w_hh = cast<double>(d.w_hh),
	                          b_ih = cast<double>(d.b_ih), b_hh = cast<double>(d.b_hh), dh = cast<double>(d.dh);
	r.h.assign((size_t)B * H, 0);
	r.cache.assign(cf_nn_lstm_cache_elems(B, T, H), 0);
	r.dx.assign((size_t)B * T * I, 0);
	r.dw_ih.assign(w_ih.size(), 0);
	r.dw_hh.assign(w_hh.size(), 0);
	r.db_ih.assign(b_ih.size(), 0);
	r.db_hh.assign(b_hh.size(), 0);
	cf_nn_lstm_forward_f64(B, T, I, H, x.data(), d.lenp(), w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data(),
	                       r.h.data(), r.cache.data());
	cf_nn_lstm_backward_f64(B, T, I, H, x.data(), d.lenp(), w_ih.data(), w_hh.data(), r.cache.data(), dh.data(),
	                        r.dx.data(), r.dw_ih.data(), r.dw_hh.data(), r.db_ih.data(), r.db_hh.data());
}

// The valid steps of a B x T x I array, concatenated.
template <class T> std::vector<T> valid_steps(const LstmData &d, const std::vector<T> &a)
{
	std::vector<T> out;
	for (int b = 0; b < d.B; b++)
		out.insert(out.end(), a.begin() + (size_t)b * d.T * d.I, a.begin() + ((size_t)b * d.T + d.L(b)) * d.I);
	return out;
}

// GPU output vs the float32 reference within kTol; the float64 errors
// of both in the message.
void expect_close(const char *name, const std::vector<float> &gpu, const std::vector<float> &f32,
                  const std::vector<double> &f64, const std::string &what)
{
	ASSERT_EQ(gpu.size(), f32.size()) << name;
	ASSERT_EQ(gpu.size(), f64.size()) << name;
	const double e = rel_err(gpu.data(), f32.data(), gpu.size());
	EXPECT_LE(e, kTol) << name << " (" << what << "): GPU vs CPU f32 " << e << "; vs f64: GPU "
	                   << rel_err(gpu.data(), f64.data(), gpu.size()) << ", CPU f32 "
	                   << rel_err(f32.data(), f64.data(), f32.size());
}

std::string describe(const LstmData &d, uint64_t seed)
{
	char s[160];
	snprintf(s, sizeof s, "seed %llu B %d T %d I %d H %d lengths %s", (unsigned long long)seed, d.B, d.T, d.I, d.H,
	         d.len.empty() ? "NULL" : "random");
	return s;
}

// One forward (training and inference) + backward on g against the CPU.
void check_lstm(cf_nn_gpu_lstm *g, const LstmData &d, uint64_t seed)
{
	const std::string what = describe(d, seed);
	SCOPED_TRACE(what);
	char err[CF_ERRBUF_SIZE] = "";
	LstmRef<float> r32;
	LstmRef<double> r64;
	cpu_lstm(d, r32);
	cpu_lstm(d, r64);

	ASSERT_EQ(cf_nn_gpu_lstm_set_weights(g, d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data(), err), CF_OK)
	    << err;
	std::vector<float> h((size_t)d.B * d.H, NAN);
	ASSERT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 0, err), CF_OK) << err;
	expect_close("h_last (inference)", h, r32.h, r64.h, what);

	std::fill(h.begin(), h.end(), NAN);
	ASSERT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 1, err), CF_OK) << err;
	expect_close("h_last (training)", h, r32.h, r64.h, what);

	std::vector<float> dx(r32.dx.size(), NAN), dw_ih(r32.dw_ih.size(), 0), dw_hh(r32.dw_hh.size(), 0),
	    db_ih(r32.db_ih.size(), 0), db_hh(r32.db_hh.size(), 0);
	ASSERT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), dx.data(), dw_ih.data(), dw_hh.data(), db_ih.data(),
	                                  db_hh.data(), err),
	          CF_OK)
	    << err;
	expect_close("dx (valid steps)", valid_steps(d, dx), valid_steps(d, r32.dx), valid_steps(d, r64.dx), what);
	for (int b = 0; b < d.B; b++)
		for (size_t i = ((size_t)b * d.T + d.L(b)) * d.I; i < (size_t)(b + 1) * d.T * d.I; i++)
			ASSERT_EQ(dx[i], 0.0f) << "dx past sample " << b << "'s length " << d.L(b) << ", element " << i;
	expect_close("dw_ih", dw_ih, r32.dw_ih, r64.dw_ih, what);
	expect_close("dw_hh", dw_hh, r32.dw_hh, r64.dw_hh, what);
	expect_close("db_ih", db_ih, r32.db_ih, r64.db_ih, what);
	expect_close("db_hh", db_hh, r32.db_hh, r64.db_hh, what);

	// One backward per training forward.
	EXPECT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), nullptr, dw_ih.data(), dw_hh.data(), db_ih.data(),
	                                  db_hh.data(), err),
	          CF_ERR_ARG);
}

TEST(NnGpuLstm, MatchesCpuReference)
{
	SKIP_WITHOUT_NN_GPU();
	struct Shape {
		int B, T, I, H;
		bool null_len;
	};
	// One handle per (I, H), several shapes on it: the largest first, then
	// smaller ones reusing the buffers, then the largest again.
	struct Net {
		int I, H, max_batch, max_steps;
		std::vector<Shape> shapes;
	};
	const std::vector<Net> nets = {
	    {1, 1, 4, 3, {{1, 1, 1, 1, false}, {4, 3, 1, 1, false}, {4, 3, 1, 1, true}}},
	    {3, 16, 32, 100, {{32, 100, 3, 16, false}, {5, 7, 3, 16, false}, {1, 1, 3, 16, false}, {1, 100, 3, 16, true},
	                      {17, 20, 3, 16, true}, {32, 100, 3, 16, false}}}, // the packet LSTM
	    {1, 8, 24, 50, {{24, 50, 1, 8, false}, {3, 2, 1, 8, false}, {24, 50, 1, 8, true}}}, // the IP-id LSTM
	    {5, 4, 9, 13, {{9, 13, 5, 4, false}, {2, 13, 5, 4, false}, {9, 1, 5, 4, true}}},   // I > H
	};
	uint64_t seed = 20240611;
	for (const Net &n : nets) {
		char err[CF_ERRBUF_SIZE] = "";
		cf_nn_gpu_lstm *g = nullptr;
		ASSERT_EQ(cf_nn_gpu_lstm_create(n.I, n.H, n.max_batch, n.max_steps, &g, err), CF_OK) << err;
		for (const Shape &s : n.shapes) {
			std::mt19937_64 rng(++seed);
			check_lstm(g, make_lstm(rng, s.B, s.T, s.I, s.H, s.null_len), seed);
		}
		cf_nn_gpu_lstm_destroy(g);
	}
}

TEST(NnGpuLstm, BackwardAddsIntoGradients)
{
	SKIP_WITHOUT_NN_GPU();
	std::mt19937_64 rng(77);
	const LstmData d = make_lstm(rng, 6, 9, 3, 5, false);
	char err[CF_ERRBUF_SIZE] = "";
	cf_nn_gpu_lstm *g = nullptr;
	ASSERT_EQ(cf_nn_gpu_lstm_create(d.I, d.H, d.B, d.T, &g, err), CF_OK) << err;
	ASSERT_EQ(cf_nn_gpu_lstm_set_weights(g, d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data(), err), CF_OK)
	    << err;
	std::vector<float> h((size_t)d.B * d.H);
	std::vector<float> once[4], twice[4];
	for (int pass = 0; pass < 2; pass++) {
		std::vector<float> *acc = pass ? twice : once;
		acc[0].assign(d.w_ih.size(), 0);
		acc[1].assign(d.w_hh.size(), 0);
		acc[2].assign(d.b_ih.size(), 0);
		acc[3].assign(d.b_hh.size(), 0);
		for (int rep = 0; rep <= pass; rep++) {
			ASSERT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 1, err), CF_OK) << err;
			ASSERT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), nullptr, acc[0].data(), acc[1].data(), acc[2].data(),
			                                  acc[3].data(), err),
			          CF_OK)
			    << err;
		}
	}
	for (int k = 0; k < 4; k++) {
		std::vector<float> doubled(once[k]);
		for (float &f : doubled)
			f *= 2;
		EXPECT_LE(rel_err(twice[k].data(), doubled.data(), doubled.size()), 1e-6) << "gradient " << k;
	}
	cf_nn_gpu_lstm_destroy(g);
}

TEST(NnGpuLstm, RejectsBadArguments)
{
	SKIP_WITHOUT_NN_GPU();
	std::mt19937_64 rng(5);
	LstmData d = make_lstm(rng, 4, 6, 2, 3, false);
	char err[CF_ERRBUF_SIZE] = "";
	cf_nn_gpu_lstm *g = nullptr;
	ASSERT_EQ(cf_nn_gpu_lstm_create(d.I, d.H, d.B, d.T, &g, err), CF_OK) << err;
	std::vector<float> h((size_t)d.B * d.H), dw_ih(d.w_ih.size()), dw_hh(d.w_hh.size()), db_ih(d.b_ih.size()),
	    db_hh(d.b_hh.size());
	// no weights yet
	EXPECT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 1, err), CF_ERR_ARG);
	ASSERT_EQ(cf_nn_gpu_lstm_set_weights(g, d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data(), err), CF_OK)
	    << err;
	// backward before any training forward
	EXPECT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), nullptr, dw_ih.data(), dw_hh.data(), db_ih.data(),
	                                  db_hh.data(), err),
	          CF_ERR_ARG);
	// a length of 0, and one past T
	std::vector<int32_t> len = d.len;
	len[2] = 0;
	err[0] = 0;
	EXPECT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), len.data(), h.data(), 1, err), CF_ERR_ARG);
	EXPECT_STRNE(err, "");
	len[2] = d.T + 1;
	EXPECT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), len.data(), h.data(), 1, err), CF_ERR_ARG);
	// B or T beyond the handle's maxima
	EXPECT_EQ(cf_nn_gpu_lstm_forward(g, d.B + 1, d.T, d.x.data(), nullptr, h.data(), 1, err), CF_ERR_ARG);
	EXPECT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T + 1, d.x.data(), nullptr, h.data(), 1, err), CF_ERR_ARG);
	// inference forward: no backward
	ASSERT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 0, err), CF_OK) << err;
	EXPECT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), nullptr, dw_ih.data(), dw_hh.data(), db_ih.data(),
	                                  db_hh.data(), err),
	          CF_ERR_ARG);
	// and the handle still works after all that
	ASSERT_EQ(cf_nn_gpu_lstm_forward(g, d.B, d.T, d.x.data(), d.lenp(), h.data(), 1, err), CF_OK) << err;
	EXPECT_EQ(cf_nn_gpu_lstm_backward(g, d.dh.data(), nullptr, dw_ih.data(), dw_hh.data(), db_ih.data(),
	                                  db_hh.data(), err),
	          CF_OK)
	    << err;
	cf_nn_gpu_lstm_destroy(g);
}

// After a second backward that ADDS, dw and db are twice the reference's.
void expect_doubled(const std::vector<float> &dw, const std::vector<float> &dw_ref, const std::vector<float> &db,
                    const std::vector<float> &db_ref)
{
	std::vector<float> dw2(dw_ref), db2(db_ref);
	for (float &f : dw2)
		f *= 2;
	for (float &f : db2)
		f *= 2;
	EXPECT_LE(rel_err(dw.data(), dw2.data(), dw.size()), 2 * kTol);
	EXPECT_LE(rel_err(db.data(), db2.data(), db.size()), 2 * kTol);
}

// ------------------------------------------------------------------ dense

TEST(NnGpuDense, MatchesCpuReference)
{
	SKIP_WITHOUT_NN_GPU();
	struct Shape {
		int B, I, O;
	};
	// the model's dense stack (53 -> 10 -> 10 -> classes) and odd shapes
	const int max_batch = 64;
	const std::vector<Shape> shapes = {{1, 1, 1}, {64, 53, 10}, {7, 53, 10}, {33, 10, 10}, {64, 10, 5}, {3, 5, 70}};
	uint64_t seed = 991;
	for (const Shape &s : shapes) {
		char what[96];
		snprintf(what, sizeof what, "seed %llu B %d I %d O %d", (unsigned long long)(seed + 1), s.B, s.I, s.O);
		SCOPED_TRACE(what);
		std::mt19937_64 rng(++seed);
		const float k = 1.0f / std::sqrt((float)s.I);
		const std::vector<float> x = uniform(rng, (size_t)s.B * s.I, -1, 1), w = uniform(rng, (size_t)s.O * s.I, -k, k),
		                         b = uniform(rng, (size_t)s.O, -k, k), dy = uniform(rng, (size_t)s.B * s.O, -1, 1);
		std::vector<float> y32((size_t)s.B * s.O), dx32((size_t)s.B * s.I), dw32(w.size(), 0), db32(b.size(), 0);
		cf_nn_dense_forward_f32(s.B, s.I, s.O, x.data(), w.data(), b.data(), y32.data());
		cf_nn_dense_backward_f32(s.B, s.I, s.O, x.data(), w.data(), dy.data(), dx32.data(), dw32.data(), db32.data());
		const std::vector<double> xd = cast<double>(x), wd = cast<double>(w), bd = cast<double>(b),
		                          dyd = cast<double>(dy);
		std::vector<double> y64(y32.size()), dx64(dx32.size()), dw64(w.size(), 0), db64(b.size(), 0);
		cf_nn_dense_forward_f64(s.B, s.I, s.O, xd.data(), wd.data(), bd.data(), y64.data());
		cf_nn_dense_backward_f64(s.B, s.I, s.O, xd.data(), wd.data(), dyd.data(), dx64.data(), dw64.data(),
		                         db64.data());

		char err[CF_ERRBUF_SIZE] = "";
		cf_nn_gpu_dense *d = nullptr;
		ASSERT_EQ(cf_nn_gpu_dense_create(s.I, s.O, max_batch, &d, err), CF_OK) << err;
		std::vector<float> y(y32.size(), NAN), dx(dx32.size(), NAN), dw(w.size(), 0), db(b.size(), 0);
		ASSERT_EQ(cf_nn_gpu_dense_forward(d, s.B, x.data(), w.data(), b.data(), y.data(), err), CF_OK) << err;
		ASSERT_EQ(cf_nn_gpu_dense_backward(d, s.B, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), err),
		          CF_OK)
		    << err;
		expect_close("y", y, y32, y64, what);
		expect_close("dx", dx, dx32, dx64, what);
		expect_close("dw", dw, dw32, dw64, what);
		expect_close("db", db, db32, db64, what);

		// ADDS: a second backward (no dx) doubles dw and db
		ASSERT_EQ(cf_nn_gpu_dense_backward(d, s.B, x.data(), nullptr, dy.data(), nullptr, dw.data(), db.data(), err),
		          CF_OK)
		    << err;
		expect_doubled(dw, dw32, db, db32);
		// B beyond max_batch
		EXPECT_EQ(cf_nn_gpu_dense_forward(d, max_batch + 1, x.data(), w.data(), b.data(), y.data(), err), CF_ERR_ARG);
		cf_nn_gpu_dense_destroy(d);
	}
}

// ------------------------------------------------------------------ conv2d

cf_nn_conv2d_dims conv_dims(int B, int C, int H, int W, int O, int K, int s, int pt, int pb, int pl, int pr)
{
	cf_nn_conv2d_dims d;
	memset(&d, 0, sizeof d);
	d.B = B, d.C = C, d.H = H, d.W = W, d.O = O, d.KH = K, d.KW = K, d.sy = s, d.sx = s;
	d.pad_t = pt, d.pad_b = pb, d.pad_l = pl, d.pad_r = pr;
	return d;
}

// y, dx, dw, db of cuDNN's convolution against cf_nn_conv2d_*_f32 (and
// _f64 printed on a failure) on both FlowPic CNNs' layers: the mini
// LeNet-5's (valid and tcbench's padding 3), the official network's second
// convolution with Keras's asymmetric "same" (2 before, 3 after, stride 5),
// and an odd one; a batch smaller than the handle's; backward ADDS.
TEST(NnGpuConv2d, MatchesCpuReference)
{
	SKIP_WITHOUT_NN_GPU();
	const std::vector<cf_nn_conv2d_dims> shapes = {
	    conv_dims(64, 1, 32, 32, 6, 5, 1, 0, 0, 0, 0),      // mini conv1
	    conv_dims(64, 6, 17, 17, 16, 5, 1, 3, 3, 3, 3),     // mini conv2, padding 3
	    conv_dims(8, 10, 150, 150, 20, 10, 5, 2, 3, 2, 3),  // official conv2, Keras same
	    conv_dims(5, 3, 9, 13, 4, 3, 2, 1, 0, 2, 1),        // odd: asymmetric, stride 2
	};
	uint64_t seed = 4242;
	for (const cf_nn_conv2d_dims &dm : shapes) {
		for (int B : {dm.B, dm.B > 1 ? dm.B - 1 : 1}) {
			char what[128];
			snprintf(what, sizeof what, "seed %llu B %d/%d C %d %dx%d O %d K %d s %d", (unsigned long long)(seed + 1), B,
			         dm.B, dm.C, dm.H, dm.W, dm.O, dm.KH, dm.sy);
			SCOPED_TRACE(what);
			std::mt19937_64 rng(++seed);
			cf_nn_conv2d_dims d = dm;
			d.B = B;
			int OH = 0, OW = 0;
			ASSERT_EQ(cf_nn_conv2d_out(&d, &OH, &OW), 0);
			const size_t xn = (size_t)B * d.C * d.H * d.W, wn = (size_t)d.O * d.C * d.KH * d.KW,
			             yn = (size_t)B * d.O * OH * OW;
			const float k = 1.0f / std::sqrt((float)(d.C * d.KH * d.KW));
			const std::vector<float> x = uniform(rng, xn, -1, 1), w = uniform(rng, wn, -k, k),
			                         b = uniform(rng, (size_t)d.O, -k, k), dy = uniform(rng, yn, -1, 1);
			std::vector<float> y32(yn), dx32(xn), dw32(wn, 0), db32((size_t)d.O, 0);
			cf_nn_conv2d_forward_f32(&d, x.data(), w.data(), b.data(), y32.data());
			cf_nn_conv2d_backward_f32(&d, x.data(), w.data(), dy.data(), dx32.data(), dw32.data(), db32.data());
			const std::vector<double> xd = cast<double>(x), wd = cast<double>(w), bd = cast<double>(b),
			                          dyd = cast<double>(dy);
			std::vector<double> y64(yn), dx64(xn), dw64(wn, 0), db64((size_t)d.O, 0);
			cf_nn_conv2d_forward_f64(&d, xd.data(), wd.data(), bd.data(), y64.data());
			cf_nn_conv2d_backward_f64(&d, xd.data(), wd.data(), dyd.data(), dx64.data(), dw64.data(), db64.data());

			char err[CF_ERRBUF_SIZE] = "";
			cf_nn_gpu_conv2d *g = nullptr;
			ASSERT_EQ(cf_nn_gpu_conv2d_create(&dm, &g, err), CF_OK) << err;
			std::vector<float> y(yn, NAN), dx(xn, NAN), dw(wn, 0), db((size_t)d.O, 0);
			ASSERT_EQ(cf_nn_gpu_conv2d_forward(g, B, x.data(), w.data(), b.data(), y.data(), err), CF_OK) << err;
			ASSERT_EQ(cf_nn_gpu_conv2d_backward(g, B, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
			                                    err),
			          CF_OK)
			    << err;
			expect_close("y", y, y32, y64, what);
			expect_close("dx", dx, dx32, dx64, what);
			expect_close("dw", dw, dw32, dw64, what);
			expect_close("db", db, db32, db64, what);
			// ADDS: a second backward without dx doubles dw and db
			ASSERT_EQ(cf_nn_gpu_conv2d_backward(g, B, x.data(), nullptr, dy.data(), nullptr, dw.data(), db.data(), err),
			          CF_OK)
			    << err;
			expect_doubled(dw, dw32, db, db32);
			EXPECT_EQ(cf_nn_gpu_conv2d_forward(g, dm.B + 1, x.data(), w.data(), b.data(), y.data(), err), CF_ERR_ARG);
			cf_nn_gpu_conv2d_destroy(g);
		}
	}
}

// ------------------------------------------------------------------ without a device

TEST(NnGpu, UnavailableFailsCleanly)
{
	// Arguments are checked first, device or not.
	char err[CF_ERRBUF_SIZE] = "";
	cf_nn_gpu_lstm *g = reinterpret_cast<cf_nn_gpu_lstm *>(&err);
	EXPECT_LT(cf_nn_gpu_lstm_create(0, 4, 1, 1, &g, err), 0);
	EXPECT_EQ(g, nullptr);
	EXPECT_STRNE(err, "");
	cf_nn_gpu_dense *d = reinterpret_cast<cf_nn_gpu_dense *>(&err);
	EXPECT_LT(cf_nn_gpu_dense_create(3, 0, 1, &d, nullptr), 0); // NULL errbuf is allowed
	EXPECT_EQ(d, nullptr);
	cf_nn_gpu_lstm_destroy(nullptr);
	cf_nn_gpu_dense_destroy(nullptr);
	cf_nn_conv2d_dims bad;
	memset(&bad, 0, sizeof bad);  // B = 0: invalid
	cf_nn_gpu_conv2d *cv = reinterpret_cast<cf_nn_gpu_conv2d *>(&err);
	EXPECT_LT(cf_nn_gpu_conv2d_create(&bad, &cv, nullptr), 0);
	EXPECT_EQ(cv, nullptr);
	cf_nn_gpu_conv2d_destroy(nullptr);

	char why[CF_ERRBUF_SIZE] = "";
	const int avail = cf_nn_gpu_available(why);
	(void)cf_nn_gpu_available(nullptr);
	if (avail)
		GTEST_SKIP() << "the GPU layers are available here (the parity tests cover them)";
	EXPECT_EQ(avail, 0);
	EXPECT_STRNE(why, "") << "cf_nn_gpu_available gives no reason";
	printf("cf_nn_gpu_available: 0 (%s)\n", why);

	err[0] = 0;
	g = reinterpret_cast<cf_nn_gpu_lstm *>(&err);
	const int st = cf_nn_gpu_lstm_create(3, 16, 8, 10, &g, err);
	EXPECT_TRUE(st == CF_ERR_DEVICE || st == CF_ERR_UNSUPPORTED) << st << ": " << err;
	EXPECT_EQ(g, nullptr);
	EXPECT_STRNE(err, "");

	err[0] = 0;
	d = reinterpret_cast<cf_nn_gpu_dense *>(&err);
	const int st2 = cf_nn_gpu_dense_create(53, 10, 8, &d, err);
	EXPECT_LT(st2, 0);
	EXPECT_EQ(d, nullptr);
	EXPECT_STRNE(err, "");

	err[0] = 0;
	cv = reinterpret_cast<cf_nn_gpu_conv2d *>(&err);
	const cf_nn_conv2d_dims mini = conv_dims(8, 1, 32, 32, 6, 5, 1, 0, 0, 0, 0);
	EXPECT_LT(cf_nn_gpu_conv2d_create(&mini, &cv, err), 0);
	EXPECT_EQ(cv, nullptr);
	EXPECT_STRNE(err, "");
}

} // namespace

// The model engine's CPU reference (include/cuflow/nn.h), the specification of
// every other path, checked two independent ways:
//
//  * NnGradient: each layer's and the nested model's float64 backward against
//    central finite differences of its own forward (h = 1e-6) on random small
//    problems: LSTM with lengths 1, T and in between, len = NULL, T = 1,
//    batch 1, zero-padded and garbage-padded steps past a length (their dx
//    must be exactly 0, and the forward must not read them); dense, ReLU
//    (away from the kink), embedding with repeated indices, softmax +
//    cross-entropy with ignored (-1) labels; cf_nested_step_f64 on a small
//    config (every parameter), on the default config (every tensor, a
//    sample of its entries plus every embedding row in use) and on a
//    reference_compat batch (every length = the padded length). For a
//    tensor with analytic gradient a and finite differences n, every element
//    must satisfy |a - n| <= 1e-6 (|n| + max|n|) + 1e-9. Backward must ADD:
//    the weight gradients start from random values that are subtracted.
//  * NnNumpy: tests/oracles/nn_check_ctypes.py loads libcuflow.so (the
//    cuflow_shared target, beside the cuflow binary) and compares every
//    layer and the nested model, forward and backward, _f64 and _f32, with
//    the numpy reference tests/oracles/nn_numpy_ref.py written from the
//    math (1e-10 relative for float64, 1e-5 for float32; the script's
//    docstring states the exact criteria). Skips without numpy or without
//    the shared library.
//
// Where nn.h leaves a point open the tests follow PyTorch (nn.LSTM over a
// packed sequence, nn.Linear, nn.Embedding, CrossEntropyLoss with negative
// labels ignored).
#include <gtest/gtest.h>

#include <algorithm>
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
#include "cuflow/nn.h"

namespace {

using Vec = std::vector<double>;
const double kH = 1e-6;
const double kTol = 1e-6;
const double kFloor = 1e-9;
double g_worst = 0;  // the largest |a - n| / allowed seen

// Prints the worst relative error of a test's finite-difference checks.
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

// Compares the analytic gradient `a` of f with central differences over the
// entries `which` (all when empty) of the array `x` that f reads.
void fd_check(const std::string &what, const std::function<double()> &f, double *x, size_t n, const double *a,
              std::vector<size_t> which = {})
{
	if (which.empty())
		for (size_t k = 0; k < n; k++)
			which.push_back(k);
	std::vector<double> num(which.size());
	double nmax = 0;
	for (size_t j = 0; j < which.size(); j++) {
		size_t k = which[j];
		double v = x[k];
		x[k] = v + kH;
		double fp = f();
		x[k] = v - kH;
		double fm = f();
		x[k] = v;
		num[j] = (fp - fm) / (2 * kH);
		nmax = std::max(nmax, std::fabs(num[j]));
	}
	int bad = 0;
	double worst = 0;
	for (size_t j = 0; j < which.size(); j++) {
		double err = std::fabs(a[which[j]] - num[j]);
		double lim = kTol * (std::fabs(num[j]) + nmax) + kFloor;
		worst = std::max(worst, err / lim);
		if (!(err <= lim) && bad++ < 5)
			ADD_FAILURE() << what << "[" << which[j] << "]: analytic " << a[which[j]] << ", finite differences "
			              << num[j] << " (max|fd| " << nmax << ")";
	}
	EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << which.size() << " entries off";
	g_worst = std::max(g_worst, worst);
	if (getenv("CFT_NN_VERBOSE"))
		std::cout << "  " << what << ": max|fd| " << nmax << ", worst |a - n| / allowed " << worst << "\n";
}

// ------------------------------------------------------------------------ LSTM

struct LstmCase {
	int B, T, I, H;
	std::vector<int32_t> len;  // empty: NULL
	bool zero_pad;             // steps past a length hold 0 (else random values)
};

void check_lstm(const LstmCase &c, uint64_t seed)
{
	Rng r(seed);
	const int B = c.B, T = c.T, I = c.I, H = c.H;
	std::string tag = "lstm B" + std::to_string(B) + " T" + std::to_string(T) + " I" + std::to_string(I) + " H" +
	                  std::to_string(H) + (c.len.empty() ? " len NULL" : "") + (c.zero_pad ? " zero-padded" : "");
	const int32_t *len = c.len.empty() ? nullptr : c.len.data();
	Vec x = r.normals((size_t)B * T * I);
	if (len && c.zero_pad)
		for (int b = 0; b < B; b++)
			for (int t = len[b]; t < T; t++)
				for (int i = 0; i < I; i++)
					x[((size_t)b * T + t) * I + i] = 0;
	double k = 1.5 / std::sqrt((double)H);
	Vec w_ih((size_t)4 * H * I), w_hh((size_t)4 * H * H), b_ih(4 * H), b_hh(4 * H);
	for (Vec *v : {&w_ih, &w_hh, &b_ih, &b_hh})
		for (auto &e : *v)
			e = r.uniform(-k, k);
	Vec dh = r.normals((size_t)B * H);
	ASSERT_EQ(cf_nn_lstm_cache_elems(B, T, H), (size_t)B * T * 6 * H);
	Vec h((size_t)B * H), cache(cf_nn_lstm_cache_elems(B, T, H));
	auto loss = [&] {
		Vec hh((size_t)B * H);
		cf_nn_lstm_forward_f64(B, T, I, H, x.data(), len, w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data(),
		                       hh.data(), nullptr);
		double s = 0;
		for (size_t j = 0; j < hh.size(); j++)
			s += hh[j] * dh[j];
		return s;
	};
	cf_nn_lstm_forward_f64(B, T, I, H, x.data(), len, w_ih.data(), w_hh.data(), b_ih.data(), b_hh.data(), h.data(),
	                       cache.data());
	// the cached h at each sample's last step is h_last
	for (int b = 0; b < B; b++) {
		int L = len ? len[b] : T;
		for (int j = 0; j < H; j++)
			EXPECT_EQ(cache[((size_t)b * T + L - 1) * 6 * H + 5 * H + j], h[(size_t)b * H + j]) << tag;
	}
	Vec g0_ih = r.normals(w_ih.size()), g0_hh = r.normals(w_hh.size()), g0_bi = r.normals(4 * H),
	    g0_bh = r.normals(4 * H);
	Vec dx(x.size(), NAN), dw_ih = g0_ih, dw_hh = g0_hh, db_ih = g0_bi, db_hh = g0_bh;
	cf_nn_lstm_backward_f64(B, T, I, H, x.data(), len, w_ih.data(), w_hh.data(), cache.data(), dh.data(), dx.data(),
	                        dw_ih.data(), dw_hh.data(), db_ih.data(), db_hh.data());
	for (size_t j = 0; j < dw_ih.size(); j++)
		dw_ih[j] -= g0_ih[j];
	for (size_t j = 0; j < dw_hh.size(); j++)
		dw_hh[j] -= g0_hh[j];
	for (int j = 0; j < 4 * H; j++) {
		db_ih[j] -= g0_bi[j];
		db_hh[j] -= g0_bh[j];
	}
	if (len) {
		for (int b = 0; b < B; b++)
			for (int t = len[b]; t < T; t++)
				for (int i = 0; i < I; i++)
					EXPECT_EQ(dx[((size_t)b * T + t) * I + i], 0.0) << tag << ": dx past len, b " << b << " t " << t;
	}
	fd_check(tag + " dx", loss, x.data(), x.size(), dx.data());
	fd_check(tag + " dw_ih", loss, w_ih.data(), w_ih.size(), dw_ih.data());
	fd_check(tag + " dw_hh", loss, w_hh.data(), w_hh.size(), dw_hh.data());
	fd_check(tag + " db_ih", loss, b_ih.data(), b_ih.size(), db_ih.data());
	fd_check(tag + " db_hh", loss, b_hh.data(), b_hh.size(), db_hh.data());
}

TEST(NnGradient, Lstm)
{
	ReportWorst report;
	std::vector<LstmCase> cases = {
	    {3, 5, 2, 4, {1, 5, 3}, true},       {3, 5, 2, 4, {1, 5, 3}, false}, {1, 4, 3, 2, {}, false},
	    {1, 6, 2, 3, {6}, false},            {1, 6, 2, 3, {2}, true},        {2, 1, 1, 3, {1, 1}, false},
	    {2, 1, 3, 2, {}, false},             {4, 6, 1, 3, {6, 2, 1, 4}, true}, {4, 6, 1, 3, {6, 6, 6, 6}, false},
	    {5, 12, 3, 8, {12, 1, 7, 12, 3}, false},
	};
	uint64_t seed = 101;
	for (auto &c : cases)
		check_lstm(c, seed++);
}

// ---------------------------------------------------------------------- dense

TEST(NnGradient, Dense)
{
	ReportWorst report;
	const int shapes[][3] = {{4, 3, 5}, {1, 7, 2}, {3, 1, 1}};
	uint64_t seed = 201;
	for (auto &s : shapes) {
		Rng r(seed++);
		int B = s[0], I = s[1], O = s[2];
		std::string tag = "dense B" + std::to_string(B) + " I" + std::to_string(I) + " O" + std::to_string(O);
		Vec x = r.normals((size_t)B * I), w = r.normals((size_t)O * I), b = r.normals(O), dy = r.normals((size_t)B * O);
		auto loss = [&] {
			Vec y((size_t)B * O);
			cf_nn_dense_forward_f64(B, I, O, x.data(), w.data(), b.data(), y.data());
			double t = 0;
			for (size_t j = 0; j < y.size(); j++)
				t += y[j] * dy[j];
			return t;
		};
		Vec g0w = r.normals(w.size()), g0b = r.normals(O);
		Vec dx(x.size(), NAN), dw = g0w, db = g0b;
		cf_nn_dense_backward_f64(B, I, O, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
		for (size_t j = 0; j < dw.size(); j++)
			dw[j] -= g0w[j];
		for (int j = 0; j < O; j++)
			db[j] -= g0b[j];
		fd_check(tag + " dx", loss, x.data(), x.size(), dx.data());
		fd_check(tag + " dw", loss, w.data(), w.size(), dw.data());
		fd_check(tag + " db", loss, b.data(), b.size(), db.data());
	}
}

// ----------------------------------------------------------------------- relu

TEST(NnGradient, Relu)
{
	ReportWorst report;
	Rng r(301);
	const size_t n = 50;
	Vec x(n), dy = r.normals(n);
	for (auto &e : x) {
		e = r.normal();
		if (std::fabs(e) < 1e-3)  // keep finite differences off the kink
			e = 0.5;
	}
	auto loss = [&] {
		Vec y(n);
		cf_nn_relu_forward_f64(n, x.data(), y.data());
		double t = 0;
		for (size_t j = 0; j < n; j++)
			t += y[j] * dy[j];
		return t;
	};
	Vec y(n), dx(n, NAN);
	cf_nn_relu_forward_f64(n, x.data(), y.data());
	for (size_t j = 0; j < n; j++)
		EXPECT_EQ(y[j], x[j] > 0 ? x[j] : 0.0);
	cf_nn_relu_backward_f64(n, y.data(), dy.data(), dx.data());
	fd_check("relu dx", loss, x.data(), n, dx.data());
}

// ------------------------------------------------------------------ embedding

TEST(NnGradient, Embedding)
{
	ReportWorst report;
	Rng r(401);
	const int V = 6, D = 3;
	std::vector<int32_t> idx = {0, 5, 2, 2, 5, 5, 1};
	const int B = (int)idx.size();
	Vec w = r.normals((size_t)V * D), dy = r.normals((size_t)B * D);
	auto loss = [&] {
		Vec y((size_t)B * D);
		cf_nn_embedding_forward_f64(B, V, D, idx.data(), w.data(), y.data());
		double t = 0;
		for (size_t j = 0; j < y.size(); j++)
			t += y[j] * dy[j];
		return t;
	};
	Vec y((size_t)B * D);
	cf_nn_embedding_forward_f64(B, V, D, idx.data(), w.data(), y.data());
	for (int b = 0; b < B; b++)
		for (int d = 0; d < D; d++)
			EXPECT_EQ(y[(size_t)b * D + d], w[(size_t)idx[b] * D + d]);
	Vec g0 = r.normals(w.size()), dw = g0;
	cf_nn_embedding_backward_f64(B, V, D, idx.data(), dy.data(), dw.data());
	for (size_t j = 0; j < dw.size(); j++)
		dw[j] -= g0[j];
	fd_check("embedding dw", loss, w.data(), w.size(), dw.data());
	for (int d = 0; d < D; d++)  // row 3 and 4 are never used
		EXPECT_EQ(dw[3 * D + d], 0.0);
}

// --------------------------------------------------------- softmax + xentropy

TEST(NnGradient, SoftmaxCrossEntropy)
{
	ReportWorst report;
	Rng r(501);
	struct Case {
		int B, C;
		std::vector<int32_t> label;
		double scale;
	};
	std::vector<Case> cases = {{5, 4, {3, -1, 0, 1, 3}, 0.25}, {1, 3, {2}, 1.0}, {3, 2, {-1, -1, 1}, 1.0 / 3}};
	for (auto &c : cases) {
		std::string tag = "softmax_xent B" + std::to_string(c.B) + " C" + std::to_string(c.C);
		Vec z = r.normals((size_t)c.B * c.C, 2.0);
		auto loss = [&] {
			Vec p((size_t)c.B * c.C), d((size_t)c.B * c.C);
			return cf_nn_softmax_xent_f64(c.B, c.C, z.data(), c.label.data(), c.scale, p.data(), d.data());
		};
		Vec p((size_t)c.B * c.C), d((size_t)c.B * c.C, NAN);
		double l = cf_nn_softmax_xent_f64(c.B, c.C, z.data(), c.label.data(), c.scale, p.data(), d.data());
		double want = 0;
		for (int b = 0; b < c.B; b++) {
			double m = -INFINITY, s = 0, ps = 0;
			for (int k = 0; k < c.C; k++)
				m = std::max(m, z[(size_t)b * c.C + k]);
			for (int k = 0; k < c.C; k++)
				s += std::exp(z[(size_t)b * c.C + k] - m);
			for (int k = 0; k < c.C; k++) {
				double pk = std::exp(z[(size_t)b * c.C + k] - m) / s;
				EXPECT_NEAR(p[(size_t)b * c.C + k], pk, 1e-15) << tag;
				ps += p[(size_t)b * c.C + k];
			}
			EXPECT_NEAR(ps, 1.0, 1e-14);
			if (c.label[b] >= 0)
				want -= c.scale * (z[(size_t)b * c.C + c.label[b]] - m - std::log(s));
			else
				for (int k = 0; k < c.C; k++)  // ignored sample: no gradient
					EXPECT_EQ(d[(size_t)b * c.C + k], 0.0) << tag << " b " << b;
		}
		EXPECT_NEAR(l, want, 1e-12 * std::max(1.0, std::fabs(want))) << tag;
		fd_check(tag + " dlogits", loss, z.data(), z.size(), d.data());
	}
}

// ------------------------------------------------------------- nested model

// A batch over vectors, laid out as cf_nested_batch says.
struct Batch {
	cf_nested_batch b{};
	std::vector<float> pkt, id_out, id_in, root;
	std::vector<int32_t> pkt_len, ttl_out, ttl_in, id_out_len, id_in_len, label;

	Batch(const cf_nested_config &c, int n, int t_pkt, int t_ids, bool compat, Rng &r)
	{
		const int mp = c.max_packets, mi = c.max_ids;
		pkt.assign((size_t)n * mp * 3, 7.0f);  // past t_pkt / t_ids: not to be read
		id_out.assign((size_t)n * mi, 7.0f);
		id_in.assign((size_t)n * mi, 7.0f);
		root.resize((size_t)n * 5);
		auto lens = [&](int t) {
			std::vector<int32_t> v(n);
			for (int s = 0; s < n; s++)
				v[s] = compat ? t : r.integer(1, t);
			if (!compat && n >= 2) {
				v[0] = 1;
				v[1] = t;
			}
			return v;
		};
		pkt_len = lens(t_pkt);
		id_out_len = lens(t_ids);
		id_in_len = lens(t_ids);
		if (!compat && n >= 3) {
			id_out_len[2] = t_ids;
			id_in_len[2] = 1;
		}
		for (int s = 0; s < n; s++) {
			for (int t = 0; t < t_pkt; t++)
				for (int f = 0; f < 3; f++) {
					double v = f == 0 ? r.uniform(0, 1.5) : f == 1 ? (double)r.integer(0, 1) : r.uniform(0, 1);
					pkt[((size_t)s * mp + t) * 3 + f] = t < pkt_len[s] ? (float)v : 0.0f;
				}
			for (int t = 0; t < t_ids; t++) {
				id_out[(size_t)s * mi + t] = t < id_out_len[s] ? (float)r.uniform(0, 1) : 0.0f;
				id_in[(size_t)s * mi + t] = t < id_in_len[s] ? (float)r.uniform(0, 1) : 0.0f;
			}
			for (int f = 0; f < 5; f++)
				root[(size_t)s * 5 + f] = (float)r.normal();
			ttl_out.push_back(r.integer(0, c.ttl_vocab - 1));
			ttl_in.push_back(s == 1 ? ttl_out[1] : r.integer(0, c.ttl_vocab - 1));
			label.push_back(s == 0 ? 0 : (r.integer(0, 3) == 0 ? -1 : r.integer(0, c.classes - 1)));
		}
		b.n = b.cap = n;
		b.t_pkt = t_pkt;
		b.t_ids = t_ids;
		b.pkt = pkt.data();
		b.pkt_len = pkt_len.data();
		b.ttl_out = ttl_out.data();
		b.ttl_in = ttl_in.data();
		b.id_out = id_out.data();
		b.id_in = id_in.data();
		b.id_out_len = id_out_len.data();
		b.id_in_len = id_in_len.data();
		b.root = root.data();
		b.label = label.data();
	}
};

// Checks cf_nested_step_f64's gradient over [lo, hi) against finite
// differences; `sample` > 0 checks that many random entries per tensor (plus
// every embedding row a sample uses) instead of all of them.
void check_nested(const cf_nested_config &c, int n, int t_pkt, int t_ids, bool compat, int lo, int hi, int sample,
                  uint64_t seed, const std::string &tag)
{
	Rng r(seed);
	Batch bt(c, n, t_pkt, t_ids, compat, r);
	size_t P = cf_nested_param_count(&c);
	std::vector<cf_nested_param> ps(64);
	int np = cf_nested_params(&c, ps.data(), (int)ps.size());
	ASSERT_EQ(np, 9 + 2 * c.dense_layers + 2) << tag;
	Vec params(P);
	for (int k = 0; k < np; k++) {
		const cf_nested_param &p = ps[k];
		ASSERT_LE(p.offset + p.count, P) << p.name;
		double fan = std::strstr(p.name, "lstm") ? (double)p.dims[0] / 4 : p.ndim == 2 ? (double)p.dims[1] : 0;
		if (p.ndim == 1 && !std::strstr(p.name, "lstm"))
			fan = (double)ps[k - 1].dims[1];
		double a = std::strstr(p.name, "embedding") ? 1.0 : 1.5 / std::sqrt(fan);
		for (size_t j = 0; j < p.count; j++)
			params[p.offset + j] = std::strstr(p.name, "embedding") ? r.normal() : r.uniform(-a, a);
	}
	int labeled = 0;
	for (int s = lo; s < hi; s++)
		labeled += bt.label[s] >= 0;
	double scale = 1.0 / std::max(1, labeled);
	Vec work(cf_nested_work_elems(&c, hi - lo));
	auto loss = [&] {
		return cf_nested_step_f64(&c, params.data(), &bt.b, lo, hi, scale, nullptr, nullptr, work.data());
	};
	Vec g0 = r.normals(P), grad = g0, probs((size_t)(hi - lo) * c.classes);
	double l = cf_nested_step_f64(&c, params.data(), &bt.b, lo, hi, scale, probs.data(), grad.data(), work.data());
	EXPECT_DOUBLE_EQ(l, loss()) << tag << ": the loss with and without gradient";
	for (size_t j = 0; j < P; j++)
		grad[j] -= g0[j];
	for (int s = 0; s < hi - lo; s++) {
		double t = 0;
		for (int k = 0; k < c.classes; k++)
			t += probs[(size_t)s * c.classes + k];
		EXPECT_NEAR(t, 1.0, 1e-12) << tag;
	}
	for (int k = 0; k < np; k++) {
		const cf_nested_param &p = ps[k];
		std::vector<size_t> which;
		if (sample > 0 && (size_t)sample < p.count) {
			for (int j = 0; j < sample; j++)
				which.push_back(p.offset + (size_t)r.integer(0, (int)p.count - 1));
			if (std::strstr(p.name, "embedding"))
				for (int s = lo; s < hi; s++)
					for (int d = 0; d < c.ttl_dim; d++) {
						which.push_back(p.offset + (size_t)bt.ttl_out[s] * c.ttl_dim + d);
						which.push_back(p.offset + (size_t)bt.ttl_in[s] * c.ttl_dim + d);
					}
		} else {
			for (size_t j = 0; j < p.count; j++)
				which.push_back(p.offset + j);
		}
		fd_check(tag + " " + p.name, loss, params.data(), P, grad.data(), which);
	}
}

cf_nested_config small_config()
{
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.pkt_hidden = 5;
	c.id_hidden = 3;
	c.ttl_vocab = 7;
	c.ttl_dim = 2;
	c.dense_units = 4;
	c.dense_layers = 2;
	c.classes = 3;
	c.max_packets = 9;
	c.max_ids = 6;
	return c;
}

TEST(NnGradient, NestedSmall)
{
	ReportWorst report;
	cf_nested_config c = small_config();
	check_nested(c, 5, 8, 5, false, 1, 5, 0, 601, "nested small [1,5)");
	check_nested(c, 1, 9, 6, false, 0, 1, 0, 602, "nested small batch 1");
	check_nested(c, 3, 1, 1, false, 0, 3, 0, 603, "nested small T=1");
	c.reference_compat = 1;
	check_nested(c, 4, 7, 4, true, 0, 4, 0, 604, "nested small reference_compat");
}

TEST(NnGradient, NestedDefault)
{
	ReportWorst report;
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.classes = 3;
	ASSERT_EQ(cf_nested_root_inputs(&c), 53);
	// 1,344 and 352 parameters per LSTM (spec §3.4), 256 x 8 embedding,
	// 53-10-10-10-3 dense stack
	ASSERT_EQ(cf_nested_param_count(&c), (size_t)(1344 + 2048 + 352 + 540 + 110 + 110 + 33));
	// 40 random entries per tensor (10 under sanitizers), every embedding row in use
	const int sample = cft::sanitized() ? 10 : 40;
	check_nested(c, 4, 100, 50, false, 0, 4, sample, 701, "nested default");
	c.reference_compat = 1;
	check_nested(c, 3, 60, 20, true, 0, 3, sample, 702, "nested default reference_compat");
}

// ------------------------------------------------------------ numpy oracle

TEST(NnNumpy, LayersAndNestedModelMatchNumpy)
{
	cft::CtypesRun r = cft::run_ctypes_oracle("nn_check_ctypes.py");
	if (r.skip) GTEST_SKIP() << r.why;
	if (r.fail) FAIL() << r.why;
	EXPECT_EQ(r.rc, 0) << r.out;
}

} // namespace

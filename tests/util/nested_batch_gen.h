// Random nested-model batches and weights for the ops tests (CPU ops
// against the inline reference; the CUDA ops against the CPU): lengths 0
// (a direction without packets), 1 and the maximum always among them.
#ifndef CUFLOW_TESTS_NESTED_BATCH_GEN_H
#define CUFLOW_TESTS_NESTED_BATCH_GEN_H

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuflow/model.h"
#include "cuflow/nn.h"

namespace cft {

// Small sizes (every shape differs, so a transposed index shows) and the
// default ones, 5 classes; compat: the reference-compat input mode.
inline cf_nested_config nested_test_config(bool small, bool compat)
{
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.classes = 5;
	if (small) {
		c.pkt_hidden = 6;
		c.id_hidden = 3;
		c.ttl_vocab = 9;
		c.ttl_dim = 2;
		c.dense_units = 5;
		c.dense_layers = 2;
		c.classes = 4;
		c.max_packets = 11;
		c.max_ids = 7;
	}
	c.reference_compat = compat;
	return c;
}

struct nested_batch_data {
	cf_nested_batch b{};
	nested_batch_data(const cf_nested_config &c, int n, uint64_t seed)
	{
		cf_nested_batch_alloc(&b, &c, n);
		std::mt19937_64 rng(seed);
		std::uniform_real_distribution<float> u(0.f, 1.f);
		auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
		b.n = n;
		b.t_pkt = c.max_packets;
		b.t_ids = c.max_ids;
		for (int s = 0; s < n; s++) {
			// the first samples pin the edge lengths
			int lp = s == 0 ? 1 : s == 1 ? c.max_packets : pick(1, c.max_packets);
			int lo = s == 2 ? 0 : s == 0 ? 1 : pick(0, c.max_ids);
			int li = s == 1 ? 0 : s == 2 ? c.max_ids : pick(0, c.max_ids);
			if (c.reference_compat) lp = c.max_packets, lo = li = c.max_ids;
			b.pkt_len[s] = lp;
			b.id_out_len[s] = lo;
			b.id_in_len[s] = li;
			float *p = b.pkt + (size_t)s * c.max_packets * 3;
			for (int t = 0; t < lp; t++) {
				p[t * 3 + 0] = u(rng);
				p[t * 3 + 1] = u(rng) < 0.5f ? 0.f : 1.f;
				p[t * 3 + 2] = 2 * u(rng);
			}
			for (int t = 0; t < lo; t++) b.id_out[(size_t)s * c.max_ids + t] = u(rng);
			for (int t = 0; t < li; t++) b.id_in[(size_t)s * c.max_ids + t] = u(rng);
			b.ttl_out[s] = pick(0, c.ttl_vocab - 1);
			b.ttl_in[s] = pick(0, c.ttl_vocab - 1);
			for (int k = 0; k < CF_NESTED_ROOT_FEATURES; k++) b.root[(size_t)s * CF_NESTED_ROOT_FEATURES + k] = u(rng);
			b.label[s] = s == 3 ? -1 : pick(0, c.classes - 1); // one unlabelled sample
		}
	}
	~nested_batch_data() { cf_nested_batch_free(&b); }
	nested_batch_data(const nested_batch_data &) = delete;
	nested_batch_data &operator=(const nested_batch_data &) = delete;
};

// PyTorch-like random weights (a model created from the seed).
inline std::vector<float> nested_random_params(const cf_nested_config &c, uint64_t seed)
{
	cf_model *m = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	std::vector<float> p;
	if (cf_model_create(&c, seed, nullptr, &m, err) == CF_OK) {
		p.assign(cf_model_params(m), cf_model_params(m) + cf_nested_param_count(&c));
		cf_model_free(m);
	}
	return p;
}

// ||a - b|| / ||b|| over n elements (||a - b|| when b is 0).
inline double nested_rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (double)b[i];
		num += d * d;
		den += (double)b[i] * b[i];
	}
	return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

} // namespace cft

#endif

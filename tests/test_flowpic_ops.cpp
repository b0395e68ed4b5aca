// The FlowPic CNN step's ops table (host/nn/nn_internal.h), which the CUDA
// backend of the FlowPic models plugs into:
//   * the step with its dense convolutions and dense layers sent through the
//     CPU twin of the table gives the reference step's loss, probabilities
//     and gradients bit for bit (same layer code, same order), for the mini
//     model (valid and padding 3) and the official one (sparse conv1 on the
//     host, conv2 through the table), dropout off and on, an unlabelled
//     sample included;
//   * a failing op stops the step with NAN and its status.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuflow/nn_flowpic.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

namespace {

struct Built {
	cf_flowpic_cnn_config c;
	std::vector<float> params;
	cf_flowpic_batch b;
};

// A model and a batch of n random images (about 1 pixel in 8 set, counts
// 1..20); sample 1 unlabelled.
void build(Built &m, int kind, int size, int pad_sym, int n, unsigned seed)
{
	cf_flowpic_cnn_config_default(&m.c, kind);
	m.c.channels = 2;
	m.c.size = size;
	m.c.classes = 3;
	m.c.pad_sym = pad_sym;
	const size_t np = cf_flowpic_cnn_param_count(&m.c);
	ASSERT_GT(np, 0u);
	std::mt19937 g(seed);
	std::uniform_real_distribution<float> u(-0.1f, 0.1f);
	m.params.resize(np);
	for (float &p : m.params) p = u(g);
	memset(&m.b, 0, sizeof m.b);
	ASSERT_EQ(cf_flowpic_batch_alloc(&m.b, &m.c, n, 64), 0);
	std::vector<float> img((size_t)2 * size * size);
	for (int s = 0; s < n; s++) {
		for (float &v : img) v = g() % 8 == 0 ? (float)(1 + g() % 20) : 0.f;
		ASSERT_EQ(cf_flowpic_batch_add_dense(&m.b, img.data(), s == 1 ? -1 : s % 3, 100 + s), 0);
	}
}

struct Out {
	double loss;
	std::vector<float> probs, grad;
};

Out step(const Built &m, int training, flowpic_ops *ops)
{
	Out o;
	o.probs.assign((size_t)m.b.n * m.c.classes, 0.f);
	o.grad.assign(m.params.size(), 0.f);
	std::vector<float> work(cf_flowpic_cnn_work_elems(&m.c, m.b.n));
	o.loss = ops ? flowpic_step_ops_f32(&m.c, m.params.data(), &m.b, 0, m.b.n, 1.0 / m.b.n, training, o.probs.data(),
	                                    o.grad.data(), work.data(), ops)
	             : cf_flowpic_cnn_step_f32(&m.c, m.params.data(), &m.b, 0, m.b.n, 1.0 / m.b.n, training,
	                                       o.probs.data(), o.grad.data(), work.data());
	return o;
}

TEST(FlowpicOps, CpuTwinGivesTheReferenceBitForBit)
{
	struct Case {
		const char *tag;
		int kind, size, pad, n;
	} cases[] = {{"mini valid", CF_FLOWPIC_CNN_MINI, 32, -1, 9},
	             {"mini padding 3", CF_FLOWPIC_CNN_MINI, 32, 3, 5},
	             {"official (300 x 300)", CF_FLOWPIC_CNN_OFFICIAL, 300, -1, 3}};
	flowpic_ops *ops = nullptr;
	ASSERT_EQ(flowpic_ops_cpu_create(&ops), CF_OK);
	for (const Case &k : cases) {
		SCOPED_TRACE(k.tag);
		Built m;
		build(m, k.kind, k.size, k.pad, k.n, 7);
		for (int training : {0, 1}) {
			SCOPED_TRACE(training ? "training" : "inference");
			Out ref = step(m, training, nullptr), via = step(m, training, ops);
			ASSERT_TRUE(std::isfinite(ref.loss));
			EXPECT_EQ(memcmp(&ref.loss, &via.loss, sizeof ref.loss), 0) << ref.loss << " " << via.loss;
			EXPECT_EQ(memcmp(ref.probs.data(), via.probs.data(), ref.probs.size() * sizeof(float)), 0);
			EXPECT_EQ(memcmp(ref.grad.data(), via.grad.data(), ref.grad.size() * sizeof(float)), 0);
			EXPECT_EQ(ops->status, 0);
		}
		cf_flowpic_batch_free(&m.b);
	}
	flowpic_ops_free(ops);
}

int fail_conv(void *, int, const cf_nn_conv2d_dims *, const float *, const float *, const float *, float *)
{
	return CF_ERR_DEVICE;
}

TEST(FlowpicOps, AFailingOpStopsTheStep)
{
	flowpic_ops *ops = nullptr;
	ASSERT_EQ(flowpic_ops_cpu_create(&ops), CF_OK);
	ops->conv_forward = fail_conv;
	Built m;
	build(m, CF_FLOWPIC_CNN_MINI, 32, -1, 4, 3);
	Out o = step(m, 1, ops);
	EXPECT_TRUE(std::isnan(o.loss));
	EXPECT_EQ(ops->status, CF_ERR_DEVICE);
	cf_flowpic_batch_free(&m.b);
	flowpic_ops_free(ops);
}

}  // namespace

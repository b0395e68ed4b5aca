// The nested step's ops table (host/nn/nn_internal.h), which the CUDA
// backend of the models plugs into:
//   * the step with its LSTMs and dense layers sent through the CPU ops
//     gives the inline reference's loss, probabilities and gradients, bit
//     for bit (same layer code, same order), with lengths 0, 1 and the
//     maximum, an unlabelled sample and the reference-compat mode;
//   * a model running whole batches through ops gives the worker pool's
//     probabilities bit for bit and its gradients within float rounding
//     (one sum instead of chunk by chunk);
//   * a failing op stops the step, and its message reaches the caller of
//     cf_model_forward; a batch above the ops' size is refused;
//   * --backend cuda without a device fails with a reason (nested and
//     FlowPic models), in the API and on the command line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cuflow/backend.h"
#include "cuflow/model.h"
#include "cuflow/nn_gpu.h"
#include "nested_batch_gen.h"
#include "nn/nn_internal.h"
#include "test_util.h"

namespace {

cf_nested_config small_config(int compat) { return cft::nested_test_config(true, compat != 0); }
cf_nested_config default_config() { return cft::nested_test_config(false, false); }

struct StepOut {
	double loss;
	std::vector<float> probs, grad;
};

StepOut run_step(const cf_nested_config &c, const std::vector<float> &params, const cf_nested_batch &b,
                 nested_ops *ops)
{
	StepOut o;
	o.probs.assign((size_t)b.n * c.classes, 0.f);
	o.grad.assign(params.size(), 0.f);
	std::vector<float> work(cf_nested_work_elems(&c, b.n));
	o.loss = ops ? nested_step_ops_f32(&c, params.data(), &b, 0, b.n, 1.0 / b.n, o.probs.data(), o.grad.data(),
	                                   work.data(), ops)
	             : cf_nested_step_f32(&c, params.data(), &b, 0, b.n, 1.0 / b.n, o.probs.data(), o.grad.data(),
	                                  work.data());
	return o;
}

TEST(NestedOps, CpuOpsGiveTheReferenceBitForBit)
{
	struct Case {
		const char *tag;
		cf_nested_config c;
		int n;
	} cases[] = {{"small", small_config(0), 37}, {"small compat", small_config(1), 9},
	             {"default", default_config(), 70}, {"batch of 1", small_config(0), 1}};
	for (const Case &k : cases) {
		SCOPED_TRACE(k.tag);
		cft::nested_batch_data d(k.c, k.n, 1234);
		std::vector<float> params = cft::nested_random_params(k.c, 99);
		ASSERT_FALSE(params.empty());
		nested_ops *ops = nullptr;
		ASSERT_EQ(nested_ops_cpu_create(&k.c, k.n, &ops), CF_OK);
		StepOut ref = run_step(k.c, params, d.b, nullptr), via = run_step(k.c, params, d.b, ops);
		EXPECT_EQ(ops->status, 0);
		nested_ops_free(ops);
		ASSERT_TRUE(std::isfinite(ref.loss));
		EXPECT_EQ(std::memcmp(&ref.loss, &via.loss, sizeof ref.loss), 0) << ref.loss << " vs " << via.loss;
		EXPECT_EQ(std::memcmp(ref.probs.data(), via.probs.data(), ref.probs.size() * sizeof(float)), 0);
		EXPECT_EQ(std::memcmp(ref.grad.data(), via.grad.data(), ref.grad.size() * sizeof(float)), 0);
		// every parameter tensor receives a gradient (the branches are all
		// wired); a lone sample with one packet gives w_hh none
		if (k.n == 1) continue;
		std::vector<cf_nested_param> ps(64);
		int np = cf_nested_params(&k.c, ps.data(), 64);
		for (int i = 0; i < np; i++) {
			double s = 0;
			for (size_t j = 0; j < ps[i].count; j++) s += std::fabs(via.grad[ps[i].offset + j]);
			EXPECT_GT(s, 0) << ps[i].name;
		}
	}
}

// Puts an ops table on a model the way cf_model_set_backend does.
void attach_ops(cf_model *m, nested_ops *ops, int max_batch)
{
	m->ops = ops;
	m->ops_batch = max_batch;
	m->ops_work = (float *)std::malloc(cf_nested_work_elems(&m->cfg, max_batch) * sizeof(float));
}

TEST(NestedOps, WholeBatchThroughOpsMatchesThePool)
{
	cf_nested_config c = default_config();
	const int n = 53;
	cft::nested_batch_data d(c, n, 77);
	char err[CF_ERRBUF_SIZE] = "";
	cf_model *pool = nullptr, *whole = nullptr;
	ASSERT_EQ(cf_model_create(&c, 5, nullptr, &pool, err), CF_OK) << err;
	ASSERT_EQ(cf_model_create(&c, 5, nullptr, &whole, err), CF_OK) << err;
	nested_ops *ops = nullptr;
	ASSERT_EQ(nested_ops_cpu_create(&c, n, &ops), CF_OK);
	attach_ops(whole, ops, n);
	std::vector<float> p1((size_t)n * c.classes), p2(p1.size()), g1(pool->n_params), g2(g1.size());
	double l1 = 0, l2 = 0;
	ASSERT_EQ(nn_model_run_batch(pool, &d.b, n, 2, 1.0 / n, 1, p1.data(), g1.data(), &l1), CF_OK);
	ASSERT_EQ(nn_model_run_batch(whole, &d.b, n, 2, 1.0 / n, 1, p2.data(), g2.data(), &l2), CF_OK);
	EXPECT_EQ(std::memcmp(p1.data(), p2.data(), p1.size() * sizeof(float)), 0);
	EXPECT_NEAR(l1, l2, 1e-6 * std::fabs(l1));
	EXPECT_LT(cft::nested_rel_err(g2.data(), g1.data(), g1.size()), 1e-6);
	// the public forward goes the same way
	std::vector<float> p3(p1.size());
	ASSERT_EQ(cf_model_forward(whole, &d.b, 1, p3.data(), err), CF_OK) << err;
	EXPECT_EQ(std::memcmp(p1.data(), p3.data(), p1.size() * sizeof(float)), 0);
	cf_model_free(pool);
	cf_model_free(whole);
}

int failing_dense(void *, int, int, int, int, const float *, const float *, const float *, float *);
char *g_fail_errbuf;
int failing_dense(void *, int layer, int, int, int, const float *, const float *, const float *, float *)
{
	std::snprintf(g_fail_errbuf, CF_ERRBUF_SIZE, "injected failure in dense layer %d", layer);
	return CF_ERR_DEVICE;
}

TEST(NestedOps, AFailingOpStopsTheStepAndSaysWhy)
{
	cf_nested_config c = small_config(0);
	const int n = 8;
	cft::nested_batch_data d(c, n, 3);
	char err[CF_ERRBUF_SIZE] = "";
	cf_model *m = nullptr;
	ASSERT_EQ(cf_model_create(&c, 1, nullptr, &m, err), CF_OK) << err;
	nested_ops *ops = nullptr;
	ASSERT_EQ(nested_ops_cpu_create(&c, n, &ops), CF_OK);
	ops->dense_forward = failing_dense;
	g_fail_errbuf = ops->errbuf;
	std::vector<float> params(cf_model_params(m), cf_model_params(m) + cf_nested_param_count(&c));
	StepOut o = run_step(c, params, d.b, ops);
	EXPECT_TRUE(std::isnan(o.loss));
	EXPECT_EQ(ops->status, CF_ERR_DEVICE);
	attach_ops(m, ops, n);
	std::vector<float> probs((size_t)n * c.classes);
	EXPECT_EQ(cf_model_forward(m, &d.b, 1, probs.data(), err), CF_ERR_DEVICE);
	EXPECT_NE(std::string(err).find("injected failure in dense layer 0"), std::string::npos) << err;
	// a batch above what the ops were set up for
	m->ops_batch = n - 1;
	err[0] = 0;
	EXPECT_EQ(cf_model_forward(m, &d.b, 1, probs.data(), err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("above the 7"), std::string::npos) << err;
	cf_model_free(m);
}

TEST(NestedOps, CudaBackendRefusedWithAReason)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_nested_config c = small_config(0);
	cf_model *m = nullptr;
	ASSERT_EQ(cf_model_create(&c, 1, nullptr, &m, err), CF_OK) << err;
	EXPECT_EQ(cf_model_set_backend(m, CF_BACKEND_AUTO, 64, err), CF_OK);
	EXPECT_STREQ(cf_model_backend_name(m), "cpu");
	EXPECT_EQ(cf_model_set_backend(m, CF_BACKEND_CPU, 64, err), CF_OK);
	// FlowPic CNNs: without a device, the same refusal
	cf_flowpic_cnn_config fc;
	cf_flowpic_cnn_config_default(&fc, CF_FLOWPIC_CNN_MINI);
	fc.channels = 1;
	fc.classes = 2;
	cf_model *f = nullptr;
	ASSERT_EQ(cf_model_create_flowpic(&fc, 1, nullptr, &f, err), CF_OK) << err;
	char why[CF_ERRBUF_SIZE] = "";
	if (!cf_nn_gpu_available(why)) {
		err[0] = 0;
		EXPECT_EQ(cf_model_set_backend(f, CF_BACKEND_CUDA, 16, err), CF_ERR_DEVICE);
		EXPECT_NE(std::string(err).find("the CUDA backend is not available: "), std::string::npos) << err;
		EXPECT_STREQ(cf_model_backend_name(f), "cpu");
	}
	cf_model_free(f);
	if (cf_nn_gpu_available(why)) {
		EXPECT_EQ(cf_model_set_backend(m, CF_BACKEND_CUDA, 64, err), CF_OK) << err;
		EXPECT_STREQ(cf_model_backend_name(m), "cuda");
		cf_model_free(m);
		GTEST_SKIP() << "a GPU is present: the refusal cannot be shown here";
	}
	err[0] = 0;
	int rc = cf_model_set_backend(m, CF_BACKEND_CUDA, 64, err);
	EXPECT_TRUE(rc == CF_ERR_DEVICE) << rc;
	EXPECT_NE(std::string(err).find("the CUDA backend is not available: "), std::string::npos) << err;
	EXPECT_STREQ(cf_model_backend_name(m), "cpu");
	cf_model_free(m);

	// the command line: a reason and a failing exit; a bad name is a usage error
	std::string data = cft::temp_path("nested_ops.jsonl");
	{
		std::ofstream f(data);
		for (int i = 0; i < 4; i++)
			f << "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":6,\"sp\":" << 1000 + i
			  << ",\"dp\":80,\"bytes_out\":10,\"num_pkts_out\":1,\"bytes_in\":0,\"num_pkts_in\":0,"
			     "\"time_start\":1.0,\"time_end\":1.5,\"packets\":[{\"b\":10,\"dir\":\">\",\"ipt\":0}],\"label\":\""
			  << (i % 2 ? "a" : "b") << "\"}\n";
	}
	std::string out;
	rc = cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested --backend cuda --quiet " + cft::shq(data) +
	                  " -o " + cft::shq(cft::temp_path("nested_ops_model")) + " 2>&1",
	              &out);
	EXPECT_NE(rc, 0) << out;
	EXPECT_NE(out.find("the CUDA backend is not available"), std::string::npos) << out;
	rc = cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested --backend tpu " + cft::shq(data) + " -o x 2>&1",
	              &out);
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("--backend must be cpu, cuda or auto"), std::string::npos) << out;
}

} // namespace

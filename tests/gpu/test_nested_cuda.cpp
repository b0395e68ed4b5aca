// The nested model on the CUDA backend (LSTMs on cuDNN, dense layers on
// cuBLAS through host/nn/nested_gpu.c's ops) against the CPU reference, on
// the same weights and batches, float32:
//   * one step over a whole batch: loss, probabilities and every parameter
//     tensor's gradient within 1e-5 (norm-wise relative), default and small
//     sizes, reference-compat, lengths 0, 1 and the maximum, an unlabelled
//     sample; a second step on the same ops (handles and workspaces reused);
//   * a model set to CF_BACKEND_CUDA: cf_model_forward's probabilities
//     within 1e-5 of the CPU's, and a few training steps (cf_model_train on
//     Joy records) reach the CPU's weights within 1e-3 (Adam divides by the
//     gradient's root mean square, so rounding moves near-zero updates).
// Skips unless cf_nn_gpu_available.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cuflow/backend.h"
#include "cuflow/model.h"
#include "cuflow/nn_flowpic.h"
#include "cuflow/nn_gpu.h"
#include "nested_batch_gen.h"
#include "nn/nn_internal.h"
#include "test_util.h"

namespace {

const double kTol = 1e-5;

#define SKIP_WITHOUT_NN_GPU()                                                                                 \
	do {                                                                                                      \
		char why_[CF_ERRBUF_SIZE] = "";                                                                       \
		if (!cf_nn_gpu_available(why_)) GTEST_SKIP() << "no GPU layers: " << why_;                            \
	} while (0)

cf_nested_config config(int small, int compat) { return cft::nested_test_config(small != 0, compat != 0); }

void compare_step(const cf_nested_config &c, int n, uint64_t seed, const char *tag)
{
	SCOPED_TRACE(tag);
	cft::nested_batch_data d(c, n, seed);
	std::vector<float> params = cft::nested_random_params(c, seed + 1);
	ASSERT_FALSE(params.empty());
	char err[CF_ERRBUF_SIZE] = "";
	nested_ops *ops = nullptr;
	ASSERT_EQ(nested_ops_gpu_create(&c, n, &ops, err), CF_OK) << err;
	std::vector<float> work(cf_nested_work_elems(&c, n));
	for (int round = 0; round < 2; round++) {
		std::vector<float> p_cpu((size_t)n * c.classes), p_gpu(p_cpu.size()), g_cpu(params.size(), 0.f),
		    g_gpu(params.size(), 0.f);
		double l_cpu = cf_nested_step_f32(&c, params.data(), &d.b, 0, n, 1.0 / n, p_cpu.data(), g_cpu.data(),
		                                  work.data());
		double l_gpu = nested_step_ops_f32(&c, params.data(), &d.b, 0, n, 1.0 / n, p_gpu.data(), g_gpu.data(),
		                                   work.data(), ops);
		ASSERT_EQ(ops->status, 0) << ops->errbuf;
		EXPECT_NEAR(l_gpu, l_cpu, kTol * std::fabs(l_cpu)) << "round " << round;
		EXPECT_LT(cft::nested_rel_err(p_gpu.data(), p_cpu.data(), p_cpu.size()), kTol) << "probabilities";
		std::vector<cf_nested_param> ps(64);
		int np = cf_nested_params(&c, ps.data(), 64);
		for (int i = 0; i < np; i++)
			EXPECT_LT(cft::nested_rel_err(g_gpu.data() + ps[i].offset, g_cpu.data() + ps[i].offset, ps[i].count), kTol)
			    << ps[i].name << ", round " << round;
	}
	nested_ops_free(ops);
}

// The FlowPic CNN step through the GPU ops (cuDNN conv2d, cuBLAS dense)
// against the CPU reference step: loss, probabilities and every parameter's
// gradient within float32 rounding (cuDNN and cuBLAS sum in their own
// order), mini (valid, padding 3) and official (300 x 300: its conv2 with
// Keras's same and stride 5), inference and training.
void compare_flowpic_step(int kind, int size, int pad, int n, unsigned seed, const char *tag)
{
	SCOPED_TRACE(tag);
	cf_flowpic_cnn_config c;
	cf_flowpic_cnn_config_default(&c, kind);
	c.channels = 2;
	c.size = size;
	c.classes = 3;
	c.pad_sym = pad;
	const size_t np = cf_flowpic_cnn_param_count(&c);
	ASSERT_GT(np, 0u);
	std::mt19937 g(seed);
	std::uniform_real_distribution<float> u(-0.1f, 0.1f);
	std::vector<float> params(np);
	for (float &p : params) p = u(g);
	cf_flowpic_batch b;
	memset(&b, 0, sizeof b);
	ASSERT_EQ(cf_flowpic_batch_alloc(&b, &c, n, 64), 0);
	std::vector<float> img((size_t)2 * size * size);
	for (int s = 0; s < n; s++) {
		for (float &v : img) v = g() % 8 == 0 ? (float)(1 + g() % 20) : 0.f;
		ASSERT_EQ(cf_flowpic_batch_add_dense(&b, img.data(), s % 3, 100 + s), 0);
	}
	char err[CF_ERRBUF_SIZE] = "";
	flowpic_ops *ops = nullptr;
	ASSERT_EQ(flowpic_ops_gpu_create(&c, n, &ops, err), CF_OK) << err;
	std::vector<float> work(cf_flowpic_cnn_work_elems(&c, n));
	std::vector<cf_nn_param> ps(16);
	const int npar = cf_flowpic_cnn_params(&c, ps.data(), 16);
	for (int training : {0, 1}) {
		std::vector<float> p_cpu((size_t)n * c.classes), p_gpu(p_cpu.size()), g_cpu(np, 0.f), g_gpu(np, 0.f);
		double l_cpu = cf_flowpic_cnn_step_f32(&c, params.data(), &b, 0, n, 1.0 / n, training, p_cpu.data(),
		                                       g_cpu.data(), work.data());
		double l_gpu = flowpic_step_ops_f32(&c, params.data(), &b, 0, n, 1.0 / n, training, p_gpu.data(),
		                                    g_gpu.data(), work.data(), ops);
		ASSERT_EQ(ops->status, 0) << ops->errbuf;
		EXPECT_NEAR(l_gpu, l_cpu, kTol * std::fabs(l_cpu)) << "training " << training;
		EXPECT_LT(cft::nested_rel_err(p_gpu.data(), p_cpu.data(), p_cpu.size()), kTol) << "probabilities";
		for (int i = 0; i < npar; i++)
			EXPECT_LT(cft::nested_rel_err(g_gpu.data() + ps[i].offset, g_cpu.data() + ps[i].offset, ps[i].count),
			          10 * kTol)
			    << ps[i].name << ", training " << training;
	}
	flowpic_ops_free(ops);
	cf_flowpic_batch_free(&b);
}

TEST(FlowpicCnnCuda, StepMatchesTheCpu)
{
	SKIP_WITHOUT_NN_GPU();
	compare_flowpic_step(CF_FLOWPIC_CNN_MINI, 32, -1, 64, 11, "mini, valid");
	compare_flowpic_step(CF_FLOWPIC_CNN_MINI, 32, 3, 33, 12, "mini, padding 3");
	compare_flowpic_step(CF_FLOWPIC_CNN_OFFICIAL, 300, -1, 8, 13, "official, 300 x 300");
}

TEST(NestedCuda, StepMatchesTheCpu)
{
	SKIP_WITHOUT_NN_GPU();
	compare_step(config(0, 0), 128, 11, "default, 128 flows");
	compare_step(config(0, 0), 37, 12, "default, 37 flows");
	compare_step(config(1, 0), 9, 13, "small");
	compare_step(config(1, 1), 8, 14, "small, reference-compat");
}

TEST(NestedCuda, ModelForwardMatchesTheCpu)
{
	SKIP_WITHOUT_NN_GPU();
	cf_nested_config c = config(0, 0);
	const int n = 200;
	cft::nested_batch_data d(c, n, 21);
	char err[CF_ERRBUF_SIZE] = "";
	cf_model *cpu = nullptr, *gpu = nullptr;
	ASSERT_EQ(cf_model_create(&c, 3, nullptr, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_model_create(&c, 3, nullptr, &gpu, err), CF_OK) << err;
	ASSERT_EQ(cf_model_set_backend(gpu, CF_BACKEND_CUDA, n, err), CF_OK) << err;
	EXPECT_STREQ(cf_model_backend_name(gpu), "cuda");
	std::vector<float> p1((size_t)n * c.classes), p2(p1.size());
	ASSERT_EQ(cf_model_forward(cpu, &d.b, 2, p1.data(), err), CF_OK) << err;
	ASSERT_EQ(cf_model_forward(gpu, &d.b, 2, p2.data(), err), CF_OK) << err;
	EXPECT_LT(cft::nested_rel_err(p2.data(), p1.data(), p1.size()), kTol);
	cf_model_free(cpu);
	cf_model_free(gpu);
}

TEST(NestedCuda, TrainingStepsFollowTheCpu)
{
	SKIP_WITHOUT_NN_GPU();
	std::string data = cft::temp_path("nested_cuda.jsonl");
	{
		std::ofstream f(data);
		for (int i = 0; i < 96; i++) {
			int big = i % 2;
			f << "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":6,\"sp\":" << 1000 + i
			  << ",\"dp\":80,\"bytes_out\":" << (big ? 1400 : 60) << ",\"num_pkts_out\":2,\"bytes_in\":40,"
			  << "\"num_pkts_in\":1,\"time_start\":1.0,\"time_end\":1.5,\"packets\":[{\"b\":" << (big ? 700 : 30)
			  << ",\"dir\":\">\",\"ipt\":0},{\"b\":40,\"dir\":\"<\",\"ipt\":" << 3 + i % 7 << "},{\"b\":"
			  << (big ? 700 : 30) << ",\"dir\":\">\",\"ipt\":1}],\"label\":\"" << (big ? "big" : "small") << "\"}\n";
		}
	}
	float *w[2];
	cf_model *m[2];
	for (int k = 0; k < 2; k++) {
		cf_train_opts o;
		cf_train_opts_default(&o);
		o.epochs = 3;
		o.batch = 32;
		o.backend = k ? CF_BACKEND_CUDA : CF_BACKEND_CPU;
		std::string dir = cft::temp_path(k ? "nested_cuda_gpu" : "nested_cuda_cpu");
		char err[CF_ERRBUF_SIZE] = "";
		const char *in[] = {data.c_str()};
		ASSERT_EQ(cf_model_train(in, 1, dir.c_str(), &o, err), CF_OK) << err;
		ASSERT_EQ(cf_model_load(dir.c_str(), &m[k], err), CF_OK) << err;
		w[k] = cf_model_params(m[k]);
	}
	size_t P = cf_nested_param_count(cf_model_config(m[0]));
	EXPECT_LT(cft::nested_rel_err(w[1], w[0], P), 1e-3); // Adam magnifies float rounding a little
	cf_model_free(m[0]);
	cf_model_free(m[1]);
}

} // namespace

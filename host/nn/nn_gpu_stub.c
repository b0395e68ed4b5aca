/*
 * The GPU layers (cuflow/nn_gpu.h) in a build without CUDA: every call
 * fails with CF_ERR_UNSUPPORTED and says so. With CUFLOW_HAVE_CUDA the
 * real ones (kernels/nn_cudnn.cu) are compiled instead.
 */
#ifndef CUFLOW_HAVE_CUDA

#include <stdio.h>

#include "cuflow/nn_gpu.h"

static int unsupported(char *errbuf)
{
	if (errbuf)
		snprintf(errbuf, CF_ERRBUF_SIZE, "this cuflow was built without CUDA: no GPU LSTM/dense/conv2d layers (cuDNN, cuBLAS)");
	return CF_ERR_UNSUPPORTED;
}

int cf_nn_gpu_available(char *errbuf)
{
	unsupported(errbuf);
	return 0;
}

int cf_nn_gpu_lstm_create(int input, int hidden, int max_batch, int max_steps, cf_nn_gpu_lstm **out, char *errbuf)
{
	if (out)
		*out = NULL;
	return unsupported(errbuf);
}

int cf_nn_gpu_lstm_set_weights(cf_nn_gpu_lstm *g, const float *w_ih, const float *w_hh, const float *b_ih,
                               const float *b_hh, char *errbuf)
{
	return unsupported(errbuf);
}

int cf_nn_gpu_lstm_forward(cf_nn_gpu_lstm *g, int B, int T, const float *x, const int32_t *len, float *h_last,
                           int training, char *errbuf)
{
	return unsupported(errbuf);
}

int cf_nn_gpu_lstm_backward(cf_nn_gpu_lstm *g, const float *dh_last, float *dx, float *dw_ih, float *dw_hh,
                            float *db_ih, float *db_hh, char *errbuf)
{
	return unsupported(errbuf);
}

void cf_nn_gpu_lstm_destroy(cf_nn_gpu_lstm *g)
{
}

int cf_nn_gpu_dense_create(int input, int output, int max_batch, cf_nn_gpu_dense **out, char *errbuf)
{
	if (out)
		*out = NULL;
	return unsupported(errbuf);
}

int cf_nn_gpu_dense_forward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *b, float *y,
                            char *errbuf)
{
	return unsupported(errbuf);
}

int cf_nn_gpu_dense_backward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db, char *errbuf)
{
	return unsupported(errbuf);
}

void cf_nn_gpu_dense_destroy(cf_nn_gpu_dense *d)
{
}

int cf_nn_gpu_conv2d_create(const cf_nn_conv2d_dims *dims, cf_nn_gpu_conv2d **out, char *errbuf)
{
	if (out)
		*out = NULL;
	return unsupported(errbuf);
}

int cf_nn_gpu_conv2d_forward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *bias, float *y,
                             char *errbuf)
{
	return unsupported(errbuf);
}

int cf_nn_gpu_conv2d_backward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *dy, float *dx,
                              float *dw, float *db, char *errbuf)
{
	return unsupported(errbuf);
}

void cf_nn_gpu_conv2d_destroy(cf_nn_gpu_conv2d *g)
{
}

#else
/* ISO C forbids an empty translation unit. */
typedef int cf_nn_gpu_stub_unused;
#endif

/*
 * The GPU twin of the model engine's LSTM, dense and conv2d layers
 * (cuflow/nn.h and nn_conv.h, the CPU reference that specifies them): the
 * LSTM on cuDNN 9's RNN API, the dense layer on cuBLAS, the convolution on
 * cuDNN's convolution API, float32 only, over host arrays in and out.
 *
 * Same contract as cf_nn_lstm_*_f32 / cf_nn_dense_*_f32: PyTorch layouts
 * (gate order i, f, g, o; two biases), x batch-major B x T x I, true
 * lengths 1 <= len[b] <= T (NULL = all T; 0 is rejected), h_last = the
 * state after each sample's step len[b]-1, backward ADDS into the weight
 * gradients and overwrites dx (a NULL dx skips it; the steps past a
 * sample's length get 0).
 *
 * cuDNN and cuBLAS are loaded at run time (dlopen, as netml loads cuFFT):
 * a build with CUDA runs on machines without them and
 * cf_nn_gpu_available says why. CUFLOW_CUDNN_LIB / CUFLOW_CUBLAS_LIB name
 * the libraries where the loader does not find libcudnn.so.9 /
 * libcublas.so.{13,12,11}. Without CUDA in the build (host/nn/nn_gpu_stub.c)
 * or without the cuDNN headers at build time, every function fails with
 * CF_ERR_UNSUPPORTED.
 *
 * Each handle owns its stream, library handle and device memory, sized at
 * create for max_batch / max_steps and reused; a handle is used by one
 * thread at a time. Every function returns a cf_status (CF_OK, CF_ERR_ARG,
 * CF_ERR_NOMEM, CF_ERR_DEVICE, CF_ERR_UNSUPPORTED) and writes a message
 * naming the failing call into errbuf (CF_ERRBUF_SIZE bytes; may be NULL).
 */
#ifndef CUFLOW_NN_GPU_H
#define CUFLOW_NN_GPU_H

#include <stdint.h>

#include "cuflow/nn_conv.h"
#include "cuflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a CUDA device answers (cf_cuda_probe), and cuDNN (>= 9) and
 * cuBLAS load; else 0 with the reason in errbuf (may be NULL). */
int cf_nn_gpu_available(char *errbuf);

/* ---------------------------------------------------------------- LSTM
 * One layer, unidirectional, cuDNN's CUDNN_LSTM with DOUBLE_BIAS, FMA math
 * (no tensor cores / TF32), padded batch-major I/O. */
typedef struct cf_nn_gpu_lstm cf_nn_gpu_lstm;

/* input, hidden, max_batch, max_steps >= 1. *out = NULL on failure. */
int cf_nn_gpu_lstm_create(int input, int hidden, int max_batch, int max_steps, cf_nn_gpu_lstm **out,
                          char *errbuf);

/* PyTorch layout (w_ih 4H x I, w_hh 4H x H, b_ih 4H, b_hh 4H), copied into
 * cuDNN's weight space per gate through cudnnGetRNNWeightParams. */
int cf_nn_gpu_lstm_set_weights(cf_nn_gpu_lstm *g, const float *w_ih, const float *w_hh, const float *b_ih,
                               const float *b_hh, char *errbuf);

/* h_last (B x H) of x (B x T x I), 1 <= B <= max_batch, 1 <= T <= max_steps.
 * training != 0 keeps x, y and cuDNN's reserve space on the device for one
 * cf_nn_gpu_lstm_backward. */
int cf_nn_gpu_lstm_forward(cf_nn_gpu_lstm *g, int B, int T, const float *x, const int32_t *len, float *h_last,
                           int training, char *errbuf);

/* Backward of the last forward, which must have been a training one (and
 * is consumed: a second backward needs a new forward). dh_last B x H;
 * dx B x T x I (may be NULL) is overwritten; the weight gradients (PyTorch
 * layout) are ADDED to. */
int cf_nn_gpu_lstm_backward(cf_nn_gpu_lstm *g, const float *dh_last, float *dx, float *dw_ih, float *dw_hh,
                            float *db_ih, float *db_hh, char *errbuf);

void cf_nn_gpu_lstm_destroy(cf_nn_gpu_lstm *g);

/* ---------------------------------------------------------------- dense
 * y = x w^T + b (nn.Linear): x B x I, w O x I, b O, y B x O, on cuBLAS
 * sgemm (default math: no TF32). Weights are passed per call, as on the
 * CPU. */
typedef struct cf_nn_gpu_dense cf_nn_gpu_dense;

/* input, output, max_batch >= 1. *out = NULL on failure. */
int cf_nn_gpu_dense_create(int input, int output, int max_batch, cf_nn_gpu_dense **out, char *errbuf);

/* cf_nn_dense_forward_f32 with 1 <= B <= max_batch. */
int cf_nn_gpu_dense_forward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *b, float *y,
                            char *errbuf);

/* cf_nn_dense_backward_f32: dx (B x I, may be NULL) overwritten, dw and db
 * ADDED to. */
int cf_nn_gpu_dense_backward(cf_nn_gpu_dense *d, int B, const float *x, const float *w, const float *dy, float *dx,
                             float *dw, float *db, char *errbuf);

void cf_nn_gpu_dense_destroy(cf_nn_gpu_dense *d);

/* ---------------------------------------------------------------- conv2d
 * cf_nn_conv2d_forward_f32 / _backward_f32 (cuflow/nn_conv.h: NCHW, weights
 * O x C x KH x KW, any of the four paddings) on cuDNN's convolution API.
 * The padding (asymmetric for Keras "same") is applied on the device by
 * copying x into a zero-bordered buffer; the convolution then runs
 * unpadded, and dx is cut back out of the padded gradient. FMA math only
 * (no TF32). cuDNN sums in its own order, so results equal the CPU's to
 * float32 rounding, not bit for bit. At create (dims->B = the largest
 * batch), each direction takes the first algorithm of cuDNN's heuristic
 * list that succeeds and needs at most 256 MB of workspace, and for the
 * two gradients is deterministic; none: CF_ERR_DEVICE saying which. The
 * bias is added, and db summed per channel in (b, oy, ox) order, by small
 * kernels of this file. */
typedef struct cf_nn_gpu_conv2d cf_nn_gpu_conv2d;

int cf_nn_gpu_conv2d_create(const cf_nn_conv2d_dims *dims, cf_nn_gpu_conv2d **out, char *errbuf);
/* y = conv(x) + bias, 1 <= B <= dims->B. */
int cf_nn_gpu_conv2d_forward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *bias, float *y,
                             char *errbuf);
/* dx (may be NULL) overwritten; dw and db ADDED to. */
int cf_nn_gpu_conv2d_backward(cf_nn_gpu_conv2d *g, int B, const float *x, const float *w, const float *dy, float *dx,
                              float *dw, float *db, char *errbuf);
void cf_nn_gpu_conv2d_destroy(cf_nn_gpu_conv2d *g);

#ifdef __cplusplus
}
#endif

#endif

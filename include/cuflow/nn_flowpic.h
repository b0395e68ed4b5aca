/*
 * The two FlowPic CNNs as whole-model steps (forward + backward), built
 * from the image layers of include/cuflow/nn_conv.h and the dense layers of
 * include/cuflow/nn.h, with that contract: plain functions over
 * caller-owned arrays, _f64 and _f32 twins compiled from one source,
 * nothing allocated or kept by a step (the batch builders allocate).
 * Spec: ../shared/specs/flowpic_joy_lstm.md §1.2 and §1.5.
 *
 *   CF_FLOWPIC_CNN_OFFICIAL (talshapira/FlowPic, Keras, channels_first):
 *     x         C x 1500 x 1500 (sparse: the batch's CSR pixels)
 *     conv1     10 @ 10x10, stride 5, Keras "same" (2 before, 3 after) -> 10 x 300 x 300
 *     ReLU, maxpool 2x2 stride 2                                       -> 10 x 150 x 150
 *     conv2     20 @ 10x10, stride 5, "same" (2 / 3)                   -> 20 x 30 x 30
 *     ReLU, Dropout(drop_conv = 0.25) (element-wise), maxpool 2        -> 20 x 15 x 15
 *     flatten (c, y, x) 4500, fc1 64 ReLU, Dropout(drop_fc = 0.5), out C, softmax
 *     309,419 parameters with C = 5 (1,010 + 20,020 + 288,064 + 325).
 *     The first convolution runs from the sparse pixels
 *     (cf_nn_conv2d_sparse_forward / _backward: dw and db; the input needs
 *     no gradient); its results are the dense convolution's bits.
 *     pad_sym >= 0 replaces "same" by a symmetric padding on both
 *     convolutions (tcbench's PyTorch padding=3: a one-pixel shift).
 *
 *   CF_FLOWPIC_CNN_MINI (mini-FlowPic LeNet-5, tcbench's supervised model):
 *     x         C x 32 x 32 (dense)
 *     conv1     6 @ 5x5, stride 1, valid -> 6 x 28 x 28, ReLU, maxpool 2 -> 6 x 14 x 14
 *     conv2     16 @ 5x5 -> 16 x 10 x 10, ReLU, Dropout2d(drop_conv = 0.25)
 *               (one mask byte per (sample, channel)), maxpool 2 -> 16 x 5 x 5
 *     flatten 400, fc1 120 ReLU, fc2 84 ReLU, Dropout(drop_fc = 0.5), out C, softmax
 *     (with 1 channel and C = 5: 156 + 2,416 + 48,120 + 10,164 + 425 = 61,281).
 *
 * Both: the conv-stage dropout sits after conv2's ReLU and before the second
 * pooling; the fc dropout after the last hidden layer's ReLU (fc2 when
 * hidden2 > 0, else fc1). Flatten is the (c, y, x) order (PyTorch flatten,
 * Keras Flatten under channels_first). Same padding (same_padding = 1,
 * pad_sym < 0) is cf_nn_conv2d_pad_same per axis and per convolution;
 * same_padding = 0 and pad_sym < 0 is "valid" (no padding).
 *
 * Dropout masks (training = 1): sample s of the batch (absolute index, not
 * relative to lo) with seed = b->seed[s] (s itself when b->seed is NULL)
 * gets
 *   conv mask = cf_nn_dropout_mask(seed, 1, per, drop_conv), per = the
 *               conv2 output's elements (official) or its channels (mini);
 *   fc mask   = cf_nn_dropout_mask(seed ^ CF_FLOWPIC_FC_SEED_XOR, 1, units,
 *               drop_fc), units = the last hidden layer's width.
 * So a sample's masks do not depend on the chunk or the thread count.
 * training = 0 is inference: no dropout.
 */
#ifndef CUFLOW_NN_FLOWPIC_H
#define CUFLOW_NN_FLOWPIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { CF_FLOWPIC_CNN_OFFICIAL = 0, CF_FLOWPIC_CNN_MINI = 1 };

/* The fc dropout's seed is the sample's seed XOR this fixed odd constant
 * (a multiplier from Steele and Vigna 2021; any other would do). */
#define CF_FLOWPIC_FC_SEED_XOR 0xD1B54A32D192ED03ull

typedef struct cf_flowpic_cnn_config {
	int kind;            /* CF_FLOWPIC_CNN_OFFICIAL / _MINI */
	int channels;        /* 1, or 2 (direction channels: up, down) */
	int size;            /* input H = W: 1500 / 32 */
	int classes;         /* 5 */
	int conv1, conv2;    /* filters: 10, 20 / 6, 16 */
	int kernel, stride;  /* 10, 5 / 5, 1 (both convolutions) */
	int pool;            /* 2: max pooling window and stride */
	int hidden1, hidden2;/* 64, 0 / 120, 84 (0: no second hidden layer) */
	double drop_conv;    /* 0.25 */
	double drop_fc;      /* 0.5 */
	int same_padding;    /* official 1 (Keras "same", asymmetric); mini 0 (valid) */
	int pad_sym;         /* >= 0: this symmetric padding instead (tcbench: 3); -1 default */
} cf_flowpic_cnn_config;

/* The spec's model of that kind, classes = 5, channels = 1. */
void cf_flowpic_cnn_config_default(cf_flowpic_cnn_config *c, int kind);

/* Every intermediate shape (per sample). */
typedef struct cf_flowpic_cnn_shape {
	int pad1[4], pad2[4];    /* conv paddings: top, bottom, left, right */
	int c1_h, c1_w;          /* conv1 output (conv1 channels) */
	int p1_h, p1_w;          /* after the first pooling */
	int c2_h, c2_w;          /* conv2 output (conv2 channels) */
	int p2_h, p2_w;          /* after the second pooling */
	int flat;                /* conv2 * p2_h * p2_w */
} cf_flowpic_cnn_shape;

/* Fills s (may be NULL); 0, or -1 when the configuration is invalid (a
 * count < 1, an unknown kind, a dropout outside [0, 1), a stage with no
 * output). */
int cf_flowpic_cnn_shapes(const cf_flowpic_cnn_config *c, cf_flowpic_cnn_shape *s);

/* A parameter tensor of a flat array (up to 4 dims). */
typedef struct cf_nn_param {
	char name[48];
	int ndim;
	int64_t dims[4];
	size_t offset; /* elements from the start of the flat array */
	size_t count;
} cf_nn_param;

/* Parameters, in this order (PyTorch module names and shapes):
 *   conv1.weight (conv1, channels, kernel, kernel), conv1.bias (conv1),
 *   conv2.weight (conv2, conv1, kernel, kernel), conv2.bias,
 *   fc1.weight (hidden1, flat), fc1.bias,
 *   [fc2.weight (hidden2, hidden1), fc2.bias,]
 *   out.weight (classes, last hidden), out.bias
 * Fills up to cap entries; returns the number of parameters (0 for an
 * invalid configuration). */
int cf_flowpic_cnn_params(const cf_flowpic_cnn_config *c, cf_nn_param *out, int cap);
/* Total number of parameters (0 for an invalid configuration). */
size_t cf_flowpic_cnn_param_count(const cf_flowpic_cnn_config *c);

/* A batch of images. The official model reads the sparse arrays, the mini
 * model the dense one (both built by the add functions, or filled
 * directly):
 *   dense   (mini) cap x channels x size x size
 *   sparse  (official) sample s's pixels are entries offsets[s] <= k <
 *           offsets[s+1] of pc, py, px (channel, row, column) and pv,
 *           sorted by (c, y, x) ascending, no pixel twice (nn_conv.h's
 *           cf_nn_sparse rules); offsets has cap + 1 entries, offsets[0] = 0.
 *   label   -1 = none (ignored by the loss)
 *   seed    per-sample dropout seeds (training)
 * kind, channels and size are the configuration's the batch was allocated
 * for. */
typedef struct cf_flowpic_batch {
	int n, cap;
	float *dense;
	int64_t *offsets;
	int32_t *pc, *py, *px;
	float *pv;
	size_t nnz, nnz_cap;
	int32_t *label;
	uint64_t *seed;
	int kind, channels, size;
} cf_flowpic_batch;

/* 0, or -1 (out of memory, invalid configuration). nnz_cap: the pixels to
 * reserve (official; grows on demand). */
int cf_flowpic_batch_alloc(cf_flowpic_batch *b, const cf_flowpic_cnn_config *c, int cap, size_t nnz_cap);
void cf_flowpic_batch_free(cf_flowpic_batch *b);
/* n = nnz = 0 (the allocations stay). */
void cf_flowpic_batch_clear(cf_flowpic_batch *b);
/* Appends one image from its pixel list (c[k], y[k], x[k], v[k]),
 * k < npix, in any order; a pixel listed twice gets the sum of its values
 * (added in list order). Official batches keep the pixels sorted (entries
 * of value 0 are kept); mini batches get a dense image.
 * Returns 0; -1 out of memory; -2 the batch is full or a pixel lies
 * outside channels x size x size (nothing appended). */
int cf_flowpic_batch_add_sparse(cf_flowpic_batch *b, size_t npix, const int32_t *c, const int32_t *y,
                                const int32_t *x, const float *v, int32_t label, uint64_t seed);
/* Appends one dense image (channels x size x size, (c, y, x) row-major);
 * official batches keep its nonzero pixels. Returns as above. */
int cf_flowpic_batch_add_dense(cf_flowpic_batch *b, const float *img, int32_t label, uint64_t seed);

/* Workspace elements one step over `samples` samples needs (either
 * precision). */
size_t cf_flowpic_cnn_work_elems(const cf_flowpic_cnn_config *c, int samples);

/* Forward (and, with grad != NULL, backward) of the whole model over
 * samples [lo, hi) of b, as cf_nested_step: returns scale * the sum over
 * the samples with label >= 0 of -log p[label]; probs ((hi-lo) x classes,
 * may be NULL) gets the softmax; grad (the parameters' layout) is ADDED to
 * with d(returned loss)/d(params); work holds cf_flowpic_cnn_work_elems(c,
 * hi-lo) elements (its prior contents do not matter). training = 1 applies
 * both dropouts with the masks above; 0 runs without. Returns NaN (and
 * touches nothing) when the configuration is invalid or does not match the
 * batch (kind, channels, size). */
double cf_flowpic_cnn_step_f64(const cf_flowpic_cnn_config *c, const double *params, const cf_flowpic_batch *b,
                               int lo, int hi, double scale, int training, double *probs, double *grad,
                               double *work);
double cf_flowpic_cnn_step_f32(const cf_flowpic_cnn_config *c, const float *params, const cf_flowpic_batch *b,
                               int lo, int hi, double scale, int training, float *probs, float *grad,
                               float *work);

#ifdef __cplusplus
}
#endif

#endif

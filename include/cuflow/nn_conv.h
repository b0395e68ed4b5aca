/*
 * The model engine's image layers (the FlowPic CNNs: the official FlowPic
 * network and the mini-FlowPic LeNet-5 variants; spec
 * flowpic_joy_lstm.md §1.2 and §1.5): the CPU reference, with the contract
 * of include/cuflow/nn.h. Plain functions over caller-owned arrays, in
 * _f64 (double) and _f32 (float) twins compiled from one source;
 * accumulation in the precision itself; backward functions ADD into the
 * weight gradients and overwrite dx (a NULL dx skips it); nothing
 * allocates, nothing keeps state.
 *
 * Layouts are PyTorch's: activations NCHW, batch-major, row-major
 * (x[b][c][y][x]); conv weight O x C x KH x KW, bias O.
 *
 *   Conv2d (nn.Conv2d, Keras Conv2D channels_first):
 *     y[b][o][oy][ox] = bias[o] + sum over (c, ky, kx) of
 *                       w[o][c][ky][kx] * xp[b][c][oy*sy + ky][ox*sx + kx]
 *     where xp is x with pad_t zero rows above, pad_b below, pad_l zero
 *     columns left and pad_r right, and
 *       OH = (H + pad_t + pad_b - KH) / sy + 1,  OW = (W + pad_l + pad_r - KW) / sx + 1
 *     (floor; needs H + pad_t + pad_b >= KH and likewise for W). The sum of
 *     each output starts at the bias and adds its terms in ascending
 *     (c, ky, kx) order; terms that fall in the padding are not added (they
 *     are exact zeros). Four paddings express both conventions:
 *       Keras "same", kernel 10, stride 5 on 1500: OH = 300, pad 2 before and
 *         3 after (cf_nn_conv2d_pad_same), the official FlowPic network;
 *       PyTorch padding=p: pad_t = pad_b = pad_l = pad_r = p (tcbench: 3).
 *     Backward: dw[o][c][ky][kx] += each term dy[b][o][oy][ox] * xp[...] in
 *     ascending (b, oy, ox) order (padding terms skipped), db[o] += each
 *     dy[b][o][oy][ox] in the same order, dx = the gradient of x (not xp).
 *
 *   Sparse first convolution: the same forward and the same dw, read from a
 *   sparse batch (cf_nn_sparse_f64 / _f32 below) instead of a dense x. An
 *   image with n nonzero pixels costs about n * O * ceil(KH/sy) * ceil(KW/sx)
 *   multiply-adds plus one bias store per output, instead of
 *   O * OH * OW * C * KH * KW: a 1500 x 1500 FlowPic has a few hundred
 *   nonzero pixels. Each pixel's contributions are added to the outputs it
 *   touches, pixels taken in (c, y, x) order, so every output (and every
 *   weight gradient) receives its terms in the dense loop's order; the
 *   dense loop's terms at zero pixels are exact zeros. Hence the sparse
 *   functions give the SAME BITS as cf_nn_conv2d_forward / _backward's dw
 *   (both precisions; -ffp-contract=off), for finite weights and inputs,
 *   with one exception: where the dense sum starts at -0.0 (a bias of -0.0,
 *   or a dw entry holding -0.0) and meets a +0.0 term, the dense path turns
 *   it into +0.0 and the sparse path keeps -0.0. There is no sparse dx: the
 *   sparse layer is the network's input. The sparse db is the dense one (a
 *   sum over the dense dy, in order): on the official first layer it costs
 *   more than dw, so db may be NULL where another path sums it.
 *
 *   Max pooling 2D (nn.MaxPool2d, Keras MaxPooling2D, "valid", no padding):
 *     window kh x kw, stride (sy, sx); OH = (H - kh) / sy + 1 (floor), OW
 *     alike. y = the window's maximum, scanned in row-major (ky, kx) order;
 *     an element replaces the running maximum when it is greater, or when
 *     it is NaN (PyTorch's CPU rule: NaN propagates). Backward routes each
 *     dy to that element, the argmax: on ties the FIRST maximum in
 *     row-major order wins (PyTorch's rule); overlapping windows
 *     (stride < kernel) add their gradients. Backward recomputes the argmax
 *     from x, so it needs no index array.
 *   Average pooling 2D (nn.AvgPool2d, Keras AveragePooling2D, "valid"):
 *     y = (sum over the window in row-major order) / (kh * kw); backward
 *     dx gets dy / (kh * kw) from every window that holds it.
 *
 *   Dropout (nn.Dropout, Keras Dropout) and 2-D dropout (nn.Dropout2d,
 *   Keras SpatialDropout2D): inverted scaling, y = mask ? x * s : +0.0 with
 *   s = (T)(1 / (1 - p)) (computed in double, then rounded to T; s = 1
 *   when p <= 0; every element dropped when p >= 1), mask one byte (0 = dropped,
 *   nonzero = kept) per element (dropout) or per (sample, channel) pair
 *   (2-D dropout, applied to the channel's H x W plane). A NULL mask is
 *   inference: y = x. Backward: dx = mask ? dy * s : +0.0. The masks come from
 *   the caller; cf_nn_dropout_mask draws them from a seed (below).
 *
 *   Tanh: y = tanh(x) (libm tanh / tanhf); backward uses y:
 *   dx = dy * (1 - y * y).
 *
 *   Flatten (conv stack -> dense layer): a no-op. Each sample's C x H x W
 *   block, read as C*H*W features in (c, y, x) order, is already the input
 *   row of cf_nn_dense_*: PyTorch's flatten and Keras' Flatten under
 *   channels_first (the official FlowPic network).
 *
 * Element-wise layers (tanh, dropout) may run in place (y == x, dx == dy).
 * The others may not alias their outputs with their inputs.
 */
#ifndef CUFLOW_NN_CONV_H
#define CUFLOW_NN_CONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The geometry of one convolution (all counts >= 1, paddings >= 0). */
typedef struct cf_nn_conv2d_dims {
	int B;                          /* samples */
	int C, H, W;                    /* input channels, height, width */
	int O, KH, KW;                  /* filters (output channels), kernel height, width */
	int sy, sx;                     /* stride along rows (y), columns (x) */
	int pad_t, pad_b, pad_l, pad_r; /* zero padding: top, bottom, left, right */
} cf_nn_conv2d_dims;

/* The output height and width (either pointer may be NULL). Returns 0, or
 * -1 when the geometry is invalid (a count < 1, a padding < 0, the kernel
 * larger than the padded input). */
int cf_nn_conv2d_out(const cf_nn_conv2d_dims *d, int *oh, int *ow);
/* Output elements of one sample: O * OH * OW (0 for an invalid geometry). */
size_t cf_nn_conv2d_out_elems(const cf_nn_conv2d_dims *d);
/* Keras / TensorFlow "same" padding along one axis of length n, kernel k,
 * stride s: the output has ceil(n / s) positions and the
 * max((ceil(n/s) - 1) * s + k - n, 0) padded positions are split with the
 * smaller half before (1500, 10, 5 -> 2 before, 3 after). */
void cf_nn_conv2d_pad_same(int n, int k, int s, int *before, int *after);
/* Pooling output length along one axis ("valid"): (n - k) / s + 1, or 0
 * when n < k or an argument is < 1. */
int cf_nn_pool_out(int n, int k, int s);

/* A batch of sparse images (CSR over samples), for the sparse first
 * convolution. Sample b's nonzero pixels are entries
 * offsets[b] <= k < offsets[b+1] of the arrays c, y, x (channel, row,
 * column) and value; within a sample the entries are sorted by (c, y, x)
 * ascending, with no pixel twice, 0 <= c < C, 0 <= y < H, 0 <= x < W of the
 * convolution's dims. offsets has B + 1 entries and need not start at 0, so
 * a chunk [lo, hi) of a batch is the same arrays with offsets + lo and
 * B = hi - lo. A sample may have no pixels (offsets[b] == offsets[b+1]).
 * An entry may hold 0 (it adds exact zeros). cf_nn_sparse_check_* tells
 * whether a batch keeps these rules. */
#define CF_NN_DECLARE_SPARSE(T_, S_)                                                                  \
	typedef struct cf_nn_sparse_##S_ {                                                                \
		const int64_t *offsets;   /* B + 1 */                                                         \
		const int32_t *c, *y, *x; /* per entry: channel, row, column */                               \
		const T_ *value;          /* per entry: the pixel's value */                                  \
	} cf_nn_sparse_##S_;

CF_NN_DECLARE_SPARSE(double, f64)
CF_NN_DECLARE_SPARSE(float, f32)

#define CF_NN_DECLARE_CONV_LAYERS(T_, S_)                                                              \
	/* dense convolution: x B x C x H x W, y B x O x OH x OW */                                        \
	void cf_nn_conv2d_forward_##S_(const cf_nn_conv2d_dims *d, const T_ *x, const T_ *w,              \
	                               const T_ *bias, T_ *y);                                             \
	void cf_nn_conv2d_backward_##S_(const cf_nn_conv2d_dims *d, const T_ *x, const T_ *w,             \
	                                const T_ *dy, T_ *dx, T_ *dw, T_ *db);                             \
	/* sparse first convolution: the same y, and the same dw and db as the */                          \
	/* dense backward (db may be NULL) */                                                              \
	void cf_nn_conv2d_sparse_forward_##S_(const cf_nn_conv2d_dims *d, const cf_nn_sparse_##S_ *xs,    \
	                                      const T_ *w, const T_ *bias, T_ *y);                         \
	void cf_nn_conv2d_sparse_backward_##S_(const cf_nn_conv2d_dims *d, const cf_nn_sparse_##S_ *xs,   \
	                                       const T_ *dy, T_ *dw, T_ *db);                              \
	/* -1 when xs keeps the rules above for d's B, C, H, W; -2 when offsets */                         \
	/* descend somewhere; else the index of the first entry that breaks them */                       \
	int64_t cf_nn_sparse_check_##S_(const cf_nn_conv2d_dims *d, const cf_nn_sparse_##S_ *xs);         \
	/* The pixels x != 0 of a dense batch x (B x C x H x W) in the sparse */                          \
	/* layout: fills offsets (B + 1, from 0) and up to cap entries of c, y, */                       \
	/* x, value; returns the number of nonzero pixels (when it exceeds cap, */                        \
	/* the arrays hold the first cap and offsets is incomplete: call again */                        \
	/* with room; cap 0 and NULL arrays count) */                                                      \
	size_t cf_nn_sparse_from_dense_##S_(int B, int C, int H, int W, const T_ *x, int64_t *offsets,    \
	                                    int32_t *c, int32_t *y, int32_t *xc, T_ *value, size_t cap);   \
	/* pooling: x B x C x H x W, y B x C x OH x OW */                                                  \
	void cf_nn_maxpool2d_forward_##S_(int B, int C, int H, int W, int kh, int kw, int sy, int sx,     \
	                                  const T_ *x, T_ *y);                                             \
	void cf_nn_maxpool2d_backward_##S_(int B, int C, int H, int W, int kh, int kw, int sy, int sx,    \
	                                   const T_ *x, const T_ *dy, T_ *dx);                             \
	void cf_nn_avgpool2d_forward_##S_(int B, int C, int H, int W, int kh, int kw, int sy, int sx,     \
	                                  const T_ *x, T_ *y);                                             \
	void cf_nn_avgpool2d_backward_##S_(int B, int C, int H, int W, int kh, int kw, int sy, int sx,    \
	                                   const T_ *dy, T_ *dx);                                          \
	/* dropout over n elements, mask n bytes */                                                        \
	void cf_nn_dropout_forward_##S_(size_t n, const T_ *x, const uint8_t *mask, double p, T_ *y);     \
	void cf_nn_dropout_backward_##S_(size_t n, const T_ *dy, const uint8_t *mask, double p, T_ *dx);  \
	/* 2-D dropout: x B x C x HW, mask B x C bytes */                                                  \
	void cf_nn_dropout2d_forward_##S_(int B, int C, size_t HW, const T_ *x, const uint8_t *mask,      \
	                                  double p, T_ *y);                                                \
	void cf_nn_dropout2d_backward_##S_(int B, int C, size_t HW, const T_ *dy, const uint8_t *mask,    \
	                                   double p, T_ *dx);                                              \
	void cf_nn_tanh_forward_##S_(size_t n, const T_ *x, T_ *y);                                        \
	void cf_nn_tanh_backward_##S_(size_t n, const T_ *y, const T_ *dy, T_ *dx);

CF_NN_DECLARE_CONV_LAYERS(double, f64)
CF_NN_DECLARE_CONV_LAYERS(float, f32)

/* Dropout masks from a seed, the same on any thread count: sample b's
 * per_sample bytes depend only on (seed + b, p), so a chunk [lo, hi) of a
 * batch drawn with seed + lo (B = hi - lo) equals those samples' masks
 * drawn for the whole batch.
 * Generator: splitmix64 (Steele, Lea, Flood 2014; Vigna's constants):
 *   state_0 = seed + b (mod 2^64); for element k = 0, 1, ...:
 *   state += 0x9E3779B97F4A7C15;
 *   z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *   z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^= z >> 31;
 *   u = (z >> 11) * 2^-53 (uniform on [0, 1), 53 bits);
 *   mask = u >= p (1 kept, with probability 1 - p; 0 dropped).
 * p <= 0 keeps everything, p >= 1 drops everything. For dropout,
 * per_sample = the sample's element count; for 2-D dropout, C. */
void cf_nn_dropout_mask(uint64_t seed, int B, size_t per_sample, double p, uint8_t *mask);

#ifdef __cplusplus
}
#endif

#endif

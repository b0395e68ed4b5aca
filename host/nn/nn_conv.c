/* The image layers of include/cuflow/nn_conv.h in float64 and float32,
 * from one source (nn_conv_impl.h), plus the precision-free helpers: the
 * geometry and the seeded dropout masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/nn.h"
#include "cuflow/nn_conv.h"

/* The dense convolution's loops also in an AVX2 clone, picked at load time
 * where the CPU has it. Every output and weight gradient keeps its order
 * of terms (the loops vectorize across outputs, never within a sum) and
 * CMake sets -ffp-contract=off, so both clones give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NN_CLONES
#endif

int cf_nn_conv2d_out(const cf_nn_conv2d_dims *d, int *oh, int *ow)
{
	if (!d || d->B < 1 || d->C < 1 || d->H < 1 || d->W < 1 || d->O < 1 || d->KH < 1 || d->KW < 1 || d->sy < 1 ||
	    d->sx < 1 || d->pad_t < 0 || d->pad_b < 0 || d->pad_l < 0 || d->pad_r < 0)
		return -1;
	long hp = (long)d->H + d->pad_t + d->pad_b, wp = (long)d->W + d->pad_l + d->pad_r;
	if (hp < d->KH || wp < d->KW)
		return -1;
	if (oh)
		*oh = (int)((hp - d->KH) / d->sy + 1);
	if (ow)
		*ow = (int)((wp - d->KW) / d->sx + 1);
	return 0;
}

size_t cf_nn_conv2d_out_elems(const cf_nn_conv2d_dims *d)
{
	int oh, ow;
	if (cf_nn_conv2d_out(d, &oh, &ow) != 0)
		return 0;
	return (size_t)d->O * oh * ow;
}

void cf_nn_conv2d_pad_same(int n, int k, int s, int *before, int *after)
{
	int total = 0;
	if (n >= 1 && k >= 1 && s >= 1) {
		int out = (n + s - 1) / s;
		total = (out - 1) * s + k - n;
		if (total < 0)
			total = 0;
	}
	if (before)
		*before = total / 2;
	if (after)
		*after = total - total / 2;
}

int cf_nn_pool_out(int n, int k, int s)
{
	if (n < 1 || k < 1 || s < 1 || n < k)
		return 0;
	return (n - k) / s + 1;
}

/* Dense: the outputs o in [*lo, *hi) (within [0, n)) for which the input
 * position o*s + off lies in [0, len). */
static inline void nn_conv_inside(int off, int s, int len, int n, int *lo, int *hi)
{
	int l = off >= 0 ? 0 : (-off + s - 1) / s;
	int h = len - 1 - off < 0 ? 0 : (len - 1 - off) / s + 1;
	if (h > n)
		h = n;
	if (l > h)
		l = h;
	*lo = l;
	*hi = h;
}

/* Sparse: the outputs o in [*lo, *hi) (within [0, n)) whose kernel covers
 * padded position p >= 0, i.e. 0 <= p - o*s < k. */
static inline void nn_conv_covering(int p, int k, int s, int n, int *lo, int *hi)
{
	int first = p - k + 1;
	int l = first <= 0 ? 0 : (first + s - 1) / s;
	int h = p / s + 1;
	if (h > n)
		h = n;
	if (l > h)
		l = h;
	*lo = l;
	*hi = h;
}

static inline uint64_t nn_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void cf_nn_dropout_mask(uint64_t seed, int B, size_t per_sample, double p, uint8_t *mask)
{
	for (int b = 0; b < B; b++) {
		uint8_t *m = mask + (size_t)b * per_sample;
		if (!(p > 0)) { /* p <= 0 (or NaN): keep everything */
			memset(m, 1, per_sample);
			continue;
		}
		if (p >= 1) {
			memset(m, 0, per_sample);
			continue;
		}
		uint64_t st = seed + (uint64_t)b;
		for (size_t k = 0; k < per_sample; k++) {
			double u = (double)(nn_splitmix64(&st) >> 11) * 0x1.0p-53;
			m[k] = u >= p;
		}
	}
}

#define NN_T double
#define NN_IT int64_t /* an integer of NN_T's width: lane masks */
#define NN_S f64
#define NN_TANH tanh
#include "nn/nn_conv_impl.h"
#undef NN_T
#undef NN_IT
#undef NN_S
#undef NN_TANH

#define NN_T float
#define NN_IT int32_t
#define NN_S f32
#define NN_TANH tanhf
#include "nn/nn_conv_impl.h"
#undef NN_T
#undef NN_IT
#undef NN_S
#undef NN_TANH

/* The layers of include/cuflow/nn.h in float64 and float32, from one
 * source (nn_layers_impl.h). */
#include <math.h>
#include <string.h>

#include "cuflow/nn.h"
#include "nn/nn_internal.h"

/* The LSTM loops also in an AVX2 clone, picked at load time where the CPU
 * has it. The loops are elementwise (no sum is reordered, no FMA: CMake
 * sets -ffp-contract=off), so both clones give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NN_CLONES
#endif

size_t cf_nn_lstm_cache_elems(int B, int T, int H) { return (size_t)B * T * 6 * H; }

#define NN_T double
#define NN_S f64
#define NN_EXP exp
#define NN_TANH tanh
#include "nn/nn_layers_impl.h"
#undef NN_T
#undef NN_S
#undef NN_EXP
#undef NN_TANH

/* float32: exp and tanh as short branch-free formulas the compiler
 * vectorizes (libm's expf/tanhf are calls, one element at a time, and were
 * most of an LSTM step). exp: x = n ln2 + f with n = round(x / ln2) and
 * ln2 split in two (Cody-Waite), e^f by its Taylor series to f^7/5040
 * (|f| <= ln2/2: relative error below 2e-7), 2^n built in the exponent
 * bits; arguments are clamped to [-87, 88], where float's range ends.
 * tanh(x) = 1 - 2 / (e^2x + 1), absolute error about 1e-7 near 0. */
static inline float nn_expf(float x)
{
	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
	float f = (x - n * 0.693359375f) - n * -2.12194440e-4f;
	float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720))))));
	int32_t e = ((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &e, sizeof scale);
	return p * scale;
}

static inline float nn_tanhf(float x) { return 1.0f - 2.0f / (nn_expf(2.0f * x) + 1.0f); }

#define NN_T float
#define NN_S f32
#define NN_EXP nn_expf
#define NN_TANH nn_tanhf
#include "nn/nn_layers_impl.h"

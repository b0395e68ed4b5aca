/* The layers of include/cuflow/nn.h in float64 and float32, from one
 * source (nn_layers_impl.h). */
#include <math.h>
#include <string.h>

#include "cuflow/nn.h"
#include "nn/nn_internal.h"

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

#define NN_T float
#define NN_S f32
#define NN_EXP expf
#define NN_TANH tanhf
#include "nn/nn_layers_impl.h"

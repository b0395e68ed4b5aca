/*
 * The model engine's layers: the CPU reference that is the specification
 * of every other path (cuDNN, PyTorch; docs/models.md).
 *
 * Each layer is a pair of plain functions, forward and backward, over
 * caller-owned arrays, in two precisions: _f64 (double) and _f32 (float),
 * compiled from one source. Layouts are batch-major and row-major, and
 * weights are laid out as PyTorch's modules lay them out, so a safetensors
 * file moves between cuflow and `load_state_dict` without reshaping:
 *
 *   LSTM (nn.LSTM, one layer, gate order i, f, g, o; cuDNN's "double bias"):
 *     x       B x T x I           (sample b, step t, feature)
 *     len     B lengths, 1 <= len[b] <= T; NULL = every sample runs T steps
 *     w_ih    4H x I              weight_ih_l0 = [W_i; W_f; W_g; W_o]
 *     w_hh    4H x H              weight_hh_l0
 *     b_ih    4H, b_hh 4H         bias_ih_l0, bias_hh_l0
 *     h_last  B x H               the hidden state after step len[b]-1
 *     cache   B x T x 6H          per step: i, f, g, o (after activation), c, h;
 *                                  what backward needs (NULL: inference)
 *     i = s(W_i x + b_ii + R_i h + b_hi), f, o alike, g = tanh(...),
 *     c' = f c + i g, h' = o tanh(c'), starting from h = c = 0.
 *
 *   Dense (nn.Linear): y = x w^T + b; x B x I, w O x I, b O, y B x O.
 *   Embedding (nn.Embedding): y[b] = w[idx[b]]; w V x D; 0 <= idx[b] < V.
 *   ReLU: y = max(x, 0); backward uses y (dx = dy where y > 0).
 *   Softmax + sparse categorical cross-entropy: probs B x C, loss
 *     -sum_b log p[b][label[b]] * scale; dlogits = (probs - onehot) * scale
 *     (scale = 1/B gives the mean).
 *
 * Backward functions ADD into the weight gradients (so chunks of a batch
 * accumulate) and overwrite dx; a NULL dx skips it. No function
 * allocates; none keeps state.
 */
#ifndef CUFLOW_NN_H
#define CUFLOW_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Elements of an LSTM forward cache for B samples of T steps, hidden H. */
size_t cf_nn_lstm_cache_elems(int B, int T, int H);

#define CF_NN_DECLARE_LAYERS(T_, S_)                                                              \
	void cf_nn_lstm_forward_##S_(int B, int T, int I, int H, const T_ *x, const int32_t *len,     \
	                             const T_ *w_ih, const T_ *w_hh, const T_ *b_ih, const T_ *b_hh,  \
	                             T_ *h_last, T_ *cache);                                          \
	void cf_nn_lstm_backward_##S_(int B, int T, int I, int H, const T_ *x, const int32_t *len,    \
	                              const T_ *w_ih, const T_ *w_hh, const T_ *cache,                \
	                              const T_ *dh_last, T_ *dx, T_ *dw_ih, T_ *dw_hh, T_ *db_ih,     \
	                              T_ *db_hh);                                                     \
	void cf_nn_dense_forward_##S_(int B, int I, int O, const T_ *x, const T_ *w, const T_ *b,     \
	                              T_ *y);                                                         \
	void cf_nn_dense_backward_##S_(int B, int I, int O, const T_ *x, const T_ *w, const T_ *dy,   \
	                               T_ *dx, T_ *dw, T_ *db);                                       \
	void cf_nn_relu_forward_##S_(size_t n, const T_ *x, T_ *y);                                   \
	void cf_nn_relu_backward_##S_(size_t n, const T_ *y, const T_ *dy, T_ *dx);                   \
	void cf_nn_embedding_forward_##S_(int B, int V, int D, const int32_t *idx, const T_ *w,       \
	                                  T_ *y);                                                     \
	void cf_nn_embedding_backward_##S_(int B, int V, int D, const int32_t *idx, const T_ *dy,     \
	                                   T_ *dw);                                                   \
	double cf_nn_softmax_xent_##S_(int B, int C, const T_ *logits, const int32_t *label,          \
	                               double scale, T_ *probs, T_ *dlogits);

CF_NN_DECLARE_LAYERS(double, f64)
CF_NN_DECLARE_LAYERS(float, f32)

/* ------------------------------------------------------------ the nested model
 *
 * Seed 003's model (IntelligentElement's Joy example; the spec's §3.4):
 * a packet LSTM over (size, direction, inter-arrival), one TTL embedding
 * for both directions' TTLs, one IP-id LSTM for both directions' id lists,
 * their last states concatenated with five flow totals
 * [pkt | ttl_out | id_out | ttl_in | id_in | totals], then dense ReLU
 * layers and a softmax. */

typedef struct cf_nested_config {
	int pkt_hidden;      /* 16 */
	int ttl_vocab;       /* 256 */
	int ttl_dim;         /* 8 */
	int id_hidden;       /* 8 */
	int dense_units;     /* 10 */
	int dense_layers;    /* 3 */
	int classes;         /* from the labels */
	int max_packets;     /* 100: Joy's 50 per direction, both directions */
	int max_ids;         /* 50: Joy's MAX_NUM_IP_ID */
	int reference_compat;/* 0: scaled inputs, true lengths; 1: the seed's raw
	                        inputs and batch-max zero padding, no lengths */
} cf_nested_config;

#define CF_NESTED_PKT_FEATURES 3
#define CF_NESTED_ROOT_FEATURES 5

void cf_nested_config_default(cf_nested_config *c);
/* The width of the concatenation the dense stack reads (53 by default). */
int cf_nested_root_inputs(const cf_nested_config *c);

/* Parameters, in this order (names as a PyTorch module would give them):
 *   pkt_lstm.{weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0}
 *   ttl_embedding.weight
 *   id_lstm.{weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0}
 *   dense.K.{weight, bias} for K = 0 .. dense_layers-1
 *   out.{weight, bias}
 * all in one flat array. */
typedef struct cf_nested_param {
	char name[48];
	int ndim;
	int64_t dims[2];
	size_t offset;  /* elements from the start of the flat array */
	size_t count;
} cf_nested_param;

/* Fills up to cap entries; returns the number of parameters. */
int cf_nested_params(const cf_nested_config *c, cf_nested_param *out, int cap);
/* Total number of parameters. */
size_t cf_nested_param_count(const cf_nested_config *c);

/* A batch of flows as the model reads them (built by cf_nested_batch_*,
 * or filled directly). Sequences are zero-padded to t_pkt / t_ids steps;
 * with reference_compat every length equals the padded length. */
typedef struct cf_nested_batch {
	int n, cap;                /* samples held, samples allocated */
	int t_pkt, t_ids;          /* padded steps (<= max_packets / max_ids) */
	float *pkt;                /* cap x max_packets x 3 */
	int32_t *pkt_len;          /* cap */
	int32_t *ttl_out, *ttl_in; /* cap, each in [0, ttl_vocab) */
	float *id_out, *id_in;     /* cap x max_ids */
	int32_t *id_out_len, *id_in_len;
	float *root;               /* cap x 5 */
	int32_t *label;            /* cap; -1 = none */
} cf_nested_batch;

/* Batches (allocated once; cf_nested_batch_add appends one flow). */
int cf_nested_batch_alloc(cf_nested_batch *b, const cf_nested_config *c, int cap);
void cf_nested_batch_free(cf_nested_batch *b);
void cf_nested_batch_clear(cf_nested_batch *b);

/* Workspace elements one step over `samples` samples needs. */
size_t cf_nested_work_elems(const cf_nested_config *c, int samples);

/* Forward (and, with grad != NULL, backward) of the whole model over
 * samples [lo, hi) of b: the sequences are read at strides max_packets x 3
 * and max_ids, each LSTM runs over its sample's length (pkt_len, id_*_len).
 * Returns scale * sum over the samples with label >= 0 of -log p[label];
 * probs ((hi-lo) x classes, may be NULL) gets the softmax; grad (same
 * layout as params) is ADDED to with d(returned loss)/d(params). work holds
 * cf_nested_work_elems(c, hi-lo) elements. */
double cf_nested_step_f64(const cf_nested_config *c, const double *params, const cf_nested_batch *b,
                          int lo, int hi, double scale, double *probs, double *grad, double *work);
double cf_nested_step_f32(const cf_nested_config *c, const float *params, const cf_nested_batch *b,
                          int lo, int hi, double scale, float *probs, float *grad, float *work);

#ifdef __cplusplus
}
#endif

#endif

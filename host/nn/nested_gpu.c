/* The nested step's LSTMs and dense layers on cuDNN and cuBLAS: the ops
 * table of nn_internal.h over the GPU twins of cuflow/nn_gpu.h (which fail
 * with CF_ERR_UNSUPPORTED in a build without CUDA). Embedding,
 * concatenation, ReLU and softmax stay in the step, on the host: they are
 * O(batch x 60) against the LSTMs' O(batch x 100 steps x 16^2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/nn_gpu.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

typedef struct gpu_ops {
	nested_ops ops;
	int max_batch;
	cf_nn_gpu_lstm *lstm[3];
	int lstm_B[3], lstm_H[3];
	int32_t *len[3];   /* the lengths with 0 raised to 1 (cuDNN refuses 0) */
	uint8_t *empty[3]; /* the samples whose sequence was empty */
	float *dh;         /* dh_last with the empty samples' rows zeroed */
	cf_nn_gpu_dense *dense[CF_NESTED_MAX_DENSE + 1];
	int dense_I[CF_NESTED_MAX_DENSE + 1], dense_O[CF_NESTED_MAX_DENSE + 1], n_dense;
	char err[CF_ERRBUF_SIZE];
} gpu_ops;

static int gpu_lstm_forward(void *ctx, int branch, int B, int T, int I, int H, const float *x, const int32_t *len,
                            const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh, float *h_last,
                            int training)
{
	gpu_ops *g = ctx;
	(void)I;
	if (B > g->max_batch) {
		snprintf(g->err, sizeof g->err, "nested model on CUDA: batch of %d above the %d it was set up for", B,
		         g->max_batch);
		return CF_ERR_ARG;
	}
	/* A flow without packets in a direction has an empty id sequence: its
	 * h_last is the zero state on the CPU. cuDNN wants lengths >= 1, so it
	 * runs one (padding) step and the row is zeroed after, and its gradient
	 * in the backward. */
	const int32_t *l = NULL;
	int any_empty = 0;
	if (len) {
		for (int b = 0; b < B; b++) {
			g->empty[branch][b] = len[b] <= 0;
			any_empty |= len[b] <= 0;
			g->len[branch][b] = len[b] <= 0 ? 1 : len[b] > T ? T : len[b];
		}
		l = g->len[branch];
	} else {
		memset(g->empty[branch], 0, (size_t)B);
	}
	int rc = cf_nn_gpu_lstm_set_weights(g->lstm[branch], w_ih, w_hh, b_ih, b_hh, g->err);
	if (!rc) rc = cf_nn_gpu_lstm_forward(g->lstm[branch], B, T, x, l, h_last, training, g->err);
	if (rc) return rc;
	if (any_empty)
		for (int b = 0; b < B; b++)
			if (g->empty[branch][b]) memset(h_last + (size_t)b * H, 0, (size_t)H * sizeof(float));
	g->lstm_B[branch] = B;
	g->lstm_H[branch] = H;
	return CF_OK;
}

static int gpu_lstm_backward(void *ctx, int branch, const float *dh_last, float *dw_ih, float *dw_hh, float *db_ih,
                             float *db_hh)
{
	gpu_ops *g = ctx;
	int B = g->lstm_B[branch], H = g->lstm_H[branch];
	memcpy(g->dh, dh_last, (size_t)B * H * sizeof(float));
	for (int b = 0; b < B; b++)
		if (g->empty[branch][b]) memset(g->dh + (size_t)b * H, 0, (size_t)H * sizeof(float));
	return cf_nn_gpu_lstm_backward(g->lstm[branch], g->dh, NULL, dw_ih, dw_hh, db_ih, db_hh, g->err);
}

static int dense_check(gpu_ops *g, int layer, int B, int I, int O)
{
	if (layer < 0 || layer >= g->n_dense || g->dense_I[layer] != I || g->dense_O[layer] != O || B > g->max_batch) {
		snprintf(g->err, sizeof g->err, "nested model on CUDA: dense layer %d asked for %d x %d x %d, set up for "
		         "%d x %d x %d", layer, B, I, O, g->max_batch, layer >= 0 && layer < g->n_dense ? g->dense_I[layer] : 0,
		         layer >= 0 && layer < g->n_dense ? g->dense_O[layer] : 0);
		return CF_ERR_ARG;
	}
	return CF_OK;
}

static int gpu_dense_forward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w, const float *b,
                             float *y)
{
	gpu_ops *g = ctx;
	int rc = dense_check(g, layer, B, I, O);
	return rc ? rc : cf_nn_gpu_dense_forward(g->dense[layer], B, x, w, b, y, g->err);
}

static int gpu_dense_backward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
	gpu_ops *g = ctx;
	int rc = dense_check(g, layer, B, I, O);
	return rc ? rc : cf_nn_gpu_dense_backward(g->dense[layer], B, x, w, dy, dx, dw, db, g->err);
}

static void gpu_ops_destroy(void *ctx)
{
	gpu_ops *g = ctx;
	for (int k = 0; k < 3; k++) {
		cf_nn_gpu_lstm_destroy(g->lstm[k]);
		free(g->len[k]);
		free(g->empty[k]);
	}
	for (int k = 0; k < g->n_dense; k++) cf_nn_gpu_dense_destroy(g->dense[k]);
	free(g->dh);
	free(g);
}

int nested_ops_gpu_create(const cf_nested_config *c, int max_batch, nested_ops **out, char *errbuf)
{
	*out = NULL;
	if (max_batch < 1) max_batch = 1;
	gpu_ops *g = calloc(1, sizeof *g);
	if (!g) return CF_ERR_NOMEM;
	g->max_batch = max_batch;
	int Hmax = c->pkt_hidden > c->id_hidden ? c->pkt_hidden : c->id_hidden;
	int rc = CF_OK;
	for (int k = 0; k < 3 && !rc; k++) {
		g->len[k] = malloc((size_t)max_batch * sizeof(int32_t));
		g->empty[k] = malloc((size_t)max_batch);
		if (!g->len[k] || !g->empty[k]) rc = CF_ERR_NOMEM;
	}
	if (!rc && !(g->dh = malloc((size_t)max_batch * Hmax * sizeof(float)))) rc = CF_ERR_NOMEM;
	/* one cuDNN handle per branch: each keeps its forward for its backward */
	if (!rc) rc = cf_nn_gpu_lstm_create(CF_NESTED_PKT_FEATURES, c->pkt_hidden, max_batch, c->max_packets, &g->lstm[0],
	                                    errbuf);
	for (int k = 1; k < 3 && !rc; k++)
		rc = cf_nn_gpu_lstm_create(1, c->id_hidden, max_batch, c->max_ids, &g->lstm[k], errbuf);
	int in = cf_nested_root_inputs(c);
	for (int l = 0; l <= c->dense_layers && !rc; l++) {
		int o = l < c->dense_layers ? c->dense_units : c->classes;
		rc = cf_nn_gpu_dense_create(in, o, max_batch, &g->dense[l], errbuf);
		if (rc) break;
		g->dense_I[l] = in;
		g->dense_O[l] = o;
		g->n_dense = l + 1;
		in = o;
	}
	if (rc) {
		if (rc == CF_ERR_NOMEM && errbuf && !errbuf[0])
			snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory setting up the nested model on CUDA");
		gpu_ops_destroy(g);
		return rc;
	}
	g->ops = (nested_ops){g, g->err, gpu_lstm_forward, gpu_lstm_backward, gpu_dense_forward, gpu_dense_backward,
	                      gpu_ops_destroy, 0};
	*out = &g->ops;
	return CF_OK;
}

/* The FlowPic CNN step's dense convolutions and dense layers on cuDNN and
 * cuBLAS: the flowpic_ops table of nn_internal.h over the GPU twins of
 * cuflow/nn_gpu.h (which fail with CF_ERR_UNSUPPORTED in a build without
 * CUDA). The official model's first convolution stays sparse, on the host
 * (a few hundred pixels per 1500 x 1500 image), as do pooling, ReLU,
 * dropout and softmax. Each layer has its own handle, sized for max_batch:
 * a backward reuses nothing of the forward but the arrays the step passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/nn_gpu.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

typedef struct fp_gpu_ops {
	flowpic_ops ops;
	int max_batch;
	cf_nn_gpu_conv2d *conv[2];  /* conv1 (mini only), conv2 */
	cf_nn_conv2d_dims conv_d[2]; /* as created (B = max_batch) */
	cf_nn_gpu_dense *dense[3];  /* fc1, fc2 (when hidden2 > 0), out */
	int dense_I[3], dense_O[3];
	char err[CF_ERRBUF_SIZE];
} fp_gpu_ops;

static int same_geometry(const cf_nn_conv2d_dims *a, const cf_nn_conv2d_dims *b)
{
	return a->C == b->C && a->H == b->H && a->W == b->W && a->O == b->O && a->KH == b->KH && a->KW == b->KW &&
	       a->sy == b->sy && a->sx == b->sx && a->pad_t == b->pad_t && a->pad_b == b->pad_b &&
	       a->pad_l == b->pad_l && a->pad_r == b->pad_r;
}

static int conv_check(fp_gpu_ops *g, int layer, const cf_nn_conv2d_dims *d)
{
	if (layer < 0 || layer > 1 || !g->conv[layer] || d->B > g->max_batch || !same_geometry(d, &g->conv_d[layer])) {
		snprintf(g->err, sizeof g->err, "FlowPic CNN on CUDA: convolution %d asked for a batch of %d of another "
		         "geometry than it was set up for (%d)", layer + 1, d->B, g->max_batch);
		return CF_ERR_ARG;
	}
	return CF_OK;
}

static int gpu_conv_forward(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
                            const float *b, float *y)
{
	fp_gpu_ops *g = ctx;
	int rc = conv_check(g, layer, d);
	return rc ? rc : cf_nn_gpu_conv2d_forward(g->conv[layer], d->B, x, w, b, y, g->err);
}

static int gpu_conv_backward(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db)
{
	fp_gpu_ops *g = ctx;
	int rc = conv_check(g, layer, d);
	return rc ? rc : cf_nn_gpu_conv2d_backward(g->conv[layer], d->B, x, w, dy, dx, dw, db, g->err);
}

static int dense_check(fp_gpu_ops *g, int layer, int B, int I, int O)
{
	if (layer < 0 || layer > 2 || !g->dense[layer] || g->dense_I[layer] != I || g->dense_O[layer] != O ||
	    B > g->max_batch) {
		snprintf(g->err, sizeof g->err, "FlowPic CNN on CUDA: dense layer %d asked for %d x %d x %d, set up for "
		         "%d x %d x %d", layer, B, I, O, g->max_batch, layer >= 0 && layer <= 2 ? g->dense_I[layer] : 0,
		         layer >= 0 && layer <= 2 ? g->dense_O[layer] : 0);
		return CF_ERR_ARG;
	}
	return CF_OK;
}

static int gpu_dense_forward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w, const float *b,
                             float *y)
{
	fp_gpu_ops *g = ctx;
	int rc = dense_check(g, layer, B, I, O);
	return rc ? rc : cf_nn_gpu_dense_forward(g->dense[layer], B, x, w, b, y, g->err);
}

static int gpu_dense_backward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
	fp_gpu_ops *g = ctx;
	int rc = dense_check(g, layer, B, I, O);
	return rc ? rc : cf_nn_gpu_dense_backward(g->dense[layer], B, x, w, dy, dx, dw, db, g->err);
}

static void gpu_ops_destroy(void *ctx)
{
	fp_gpu_ops *g = ctx;
	for (int k = 0; k < 2; k++) cf_nn_gpu_conv2d_destroy(g->conv[k]);
	for (int k = 0; k < 3; k++) cf_nn_gpu_dense_destroy(g->dense[k]);
	free(g);
}

int flowpic_ops_gpu_create(const cf_flowpic_cnn_config *c, int max_batch, flowpic_ops **out, char *errbuf)
{
	*out = NULL;
	if (max_batch < 1) max_batch = 1;
	cf_flowpic_cnn_shape sh;
	if (cf_flowpic_cnn_shapes(c, &sh) != 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "FlowPic CNN on CUDA: invalid configuration");
		return CF_ERR_ARG;
	}
	fp_gpu_ops *g = calloc(1, sizeof *g);
	if (!g) return CF_ERR_NOMEM;
	g->max_batch = max_batch;
	int rc = CF_OK;
	/* the step's geometry (flowpic_cnn.c's conv_dims_of), batch max_batch */
	flowpic_conv_dims(c, &sh, 0, max_batch, &g->conv_d[0]);
	flowpic_conv_dims(c, &sh, 1, max_batch, &g->conv_d[1]);
	if (c->kind == CF_FLOWPIC_CNN_MINI) rc = cf_nn_gpu_conv2d_create(&g->conv_d[0], &g->conv[0], errbuf);
	if (!rc) rc = cf_nn_gpu_conv2d_create(&g->conv_d[1], &g->conv[1], errbuf);
	const int U1 = c->hidden1, U2 = c->hidden2, UL = U2 > 0 ? U2 : U1;
	const int in[3] = {sh.flat, U1, UL}, outs[3] = {U1, U2, c->classes};
	for (int k = 0; k < 3 && !rc; k++) {
		if (k == 1 && U2 <= 0) continue;
		rc = cf_nn_gpu_dense_create(in[k], outs[k], max_batch, &g->dense[k], errbuf);
		g->dense_I[k] = in[k];
		g->dense_O[k] = outs[k];
	}
	if (rc) {
		if (rc == CF_ERR_NOMEM && errbuf && !errbuf[0])
			snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory setting up the FlowPic CNN on CUDA");
		gpu_ops_destroy(g);
		return rc;
	}
	g->ops = (flowpic_ops){g, g->err, gpu_conv_forward, gpu_conv_backward, gpu_dense_forward, gpu_dense_backward,
	                       gpu_ops_destroy, 0};
	*out = &g->ops;
	return CF_OK;
}

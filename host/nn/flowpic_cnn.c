/* The FlowPic CNNs (include/cuflow/nn_flowpic.h): configurations, shapes,
 * parameter table, batches, workspace layout, and one step (forward +
 * backward) in float64 and float32 (flowpic_cnn_impl.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/nn.h"
#include "cuflow/nn_conv.h"
#include "cuflow/nn_flowpic.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

void cf_flowpic_cnn_config_default(cf_flowpic_cnn_config *c, int kind)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->channels = 1;
	c->classes = 5;
	c->pool = 2;
	c->drop_conv = 0.25;
	c->drop_fc = 0.5;
	c->pad_sym = -1;
	if (kind == CF_FLOWPIC_CNN_MINI) {
		c->size = 32;
		c->conv1 = 6;
		c->conv2 = 16;
		c->kernel = 5;
		c->stride = 1;
		c->hidden1 = 120;
		c->hidden2 = 84;
		c->same_padding = 0;
	} else {
		c->size = 1500;
		c->conv1 = 10;
		c->conv2 = 20;
		c->kernel = 10;
		c->stride = 5;
		c->hidden1 = 64;
		c->hidden2 = 0;
		c->same_padding = 1;
	}
}

static void conv_pads(const cf_flowpic_cnn_config *c, int n, int pad[4])
{
	if (c->pad_sym >= 0) {
		pad[0] = pad[1] = pad[2] = pad[3] = c->pad_sym;
	} else if (c->same_padding) {
		cf_nn_conv2d_pad_same(n, c->kernel, c->stride, &pad[0], &pad[1]);
		pad[2] = pad[0];
		pad[3] = pad[1];
	} else {
		pad[0] = pad[1] = pad[2] = pad[3] = 0;
	}
}

static void conv_dims_of(cf_nn_conv2d_dims *d, int B, int C, int H, int O, const cf_flowpic_cnn_config *c,
                         const int pad[4])
{
	d->B = B;
	d->C = C;
	d->H = d->W = H;
	d->O = O;
	d->KH = d->KW = c->kernel;
	d->sy = d->sx = c->stride;
	d->pad_t = pad[0];
	d->pad_b = pad[1];
	d->pad_l = pad[2];
	d->pad_r = pad[3];
}

void flowpic_conv_dims(const cf_flowpic_cnn_config *c, const cf_flowpic_cnn_shape *sh, int layer, int B,
                       cf_nn_conv2d_dims *d)
{
	if (layer == 0)
		conv_dims_of(d, B, c->channels, c->size, c->conv1, c, sh->pad1);
	else
		conv_dims_of(d, B, c->conv1, sh->p1_h, c->conv2, c, sh->pad2);
}

int cf_flowpic_cnn_shapes(const cf_flowpic_cnn_config *c, cf_flowpic_cnn_shape *out)
{
	cf_flowpic_cnn_shape s;
	memset(&s, 0, sizeof s);
	if (!c || (c->kind != CF_FLOWPIC_CNN_OFFICIAL && c->kind != CF_FLOWPIC_CNN_MINI) || c->channels < 1 ||
	    c->size < 1 || c->classes < 1 || c->conv1 < 1 || c->conv2 < 1 || c->kernel < 1 || c->stride < 1 ||
	    c->pool < 1 || c->hidden1 < 1 || c->hidden2 < 0 || !(c->drop_conv >= 0 && c->drop_conv <= 1) ||
	    !(c->drop_fc >= 0 && c->drop_fc <= 1))
		return -1;
	cf_nn_conv2d_dims d;
	conv_pads(c, c->size, s.pad1);
	conv_dims_of(&d, 1, c->channels, c->size, c->conv1, c, s.pad1);
	if (cf_nn_conv2d_out(&d, &s.c1_h, &s.c1_w) != 0)
		return -1;
	s.p1_h = cf_nn_pool_out(s.c1_h, c->pool, c->pool);
	s.p1_w = cf_nn_pool_out(s.c1_w, c->pool, c->pool);
	if (s.p1_h < 1 || s.p1_w < 1)
		return -1;
	conv_pads(c, s.p1_h, s.pad2);
	conv_dims_of(&d, 1, c->conv1, s.p1_h, c->conv2, c, s.pad2);
	if (cf_nn_conv2d_out(&d, &s.c2_h, &s.c2_w) != 0)
		return -1;
	s.p2_h = cf_nn_pool_out(s.c2_h, c->pool, c->pool);
	s.p2_w = cf_nn_pool_out(s.c2_w, c->pool, c->pool);
	if (s.p2_h < 1 || s.p2_w < 1)
		return -1;
	s.flat = c->conv2 * s.p2_h * s.p2_w;
	if (out)
		*out = s;
	return 0;
}

/* Element offsets of each parameter tensor. */
typedef struct fp_layout {
	cf_flowpic_cnn_shape sh;
	size_t c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b, ow, ob, total;
	int last; /* the last hidden layer's width */
} fp_layout;

static int fp_layout_of(const cf_flowpic_cnn_config *c, fp_layout *L)
{
	memset(L, 0, sizeof *L);
	if (cf_flowpic_cnn_shapes(c, &L->sh) != 0)
		return -1;
	size_t o = 0, K = (size_t)c->kernel * c->kernel;
	L->c1w = o; o += (size_t)c->conv1 * c->channels * K;
	L->c1b = o; o += (size_t)c->conv1;
	L->c2w = o; o += (size_t)c->conv2 * c->conv1 * K;
	L->c2b = o; o += (size_t)c->conv2;
	L->f1w = o; o += (size_t)c->hidden1 * L->sh.flat;
	L->f1b = o; o += (size_t)c->hidden1;
	L->last = c->hidden1;
	if (c->hidden2 > 0) {
		L->f2w = o; o += (size_t)c->hidden2 * c->hidden1;
		L->f2b = o; o += (size_t)c->hidden2;
		L->last = c->hidden2;
	}
	L->ow = o; o += (size_t)c->classes * L->last;
	L->ob = o; o += (size_t)c->classes;
	L->total = o;
	return 0;
}

size_t cf_flowpic_cnn_param_count(const cf_flowpic_cnn_config *c)
{
	fp_layout L;
	return fp_layout_of(c, &L) == 0 ? L.total : 0;
}

static int add_param(cf_nn_param *out, int cap, int i, const char *name, int ndim, const int64_t *dims,
                     size_t offset)
{
	if (i < cap) {
		cf_nn_param *p = &out[i];
		memset(p, 0, sizeof *p);
		snprintf(p->name, sizeof p->name, "%s", name);
		p->ndim = ndim;
		size_t n = 1;
		for (int k = 0; k < ndim; k++) {
			p->dims[k] = dims[k];
			n *= (size_t)dims[k];
		}
		p->offset = offset;
		p->count = n;
	}
	return i + 1;
}

int cf_flowpic_cnn_params(const cf_flowpic_cnn_config *c, cf_nn_param *out, int cap)
{
	fp_layout L;
	if (fp_layout_of(c, &L) != 0)
		return 0;
	int i = 0;
	const int64_t k = c->kernel;
	int64_t d[4];
	d[0] = c->conv1; d[1] = c->channels; d[2] = k; d[3] = k;
	i = add_param(out, cap, i, "conv1.weight", 4, d, L.c1w);
	i = add_param(out, cap, i, "conv1.bias", 1, d, L.c1b);
	d[0] = c->conv2; d[1] = c->conv1;
	i = add_param(out, cap, i, "conv2.weight", 4, d, L.c2w);
	i = add_param(out, cap, i, "conv2.bias", 1, d, L.c2b);
	d[0] = c->hidden1; d[1] = L.sh.flat;
	i = add_param(out, cap, i, "fc1.weight", 2, d, L.f1w);
	i = add_param(out, cap, i, "fc1.bias", 1, d, L.f1b);
	if (c->hidden2 > 0) {
		d[0] = c->hidden2; d[1] = c->hidden1;
		i = add_param(out, cap, i, "fc2.weight", 2, d, L.f2w);
		i = add_param(out, cap, i, "fc2.bias", 1, d, L.f2b);
	}
	d[0] = c->classes; d[1] = L.last;
	i = add_param(out, cap, i, "out.weight", 2, d, L.ow);
	i = add_param(out, cap, i, "out.bias", 1, d, L.ob);
	return i;
}

/* Element offsets of one step's workspace over n samples. */
typedef struct fp_work {
	size_t xin, a1, p1, a2, r2, p2, h1, h2, hd, logits, probs, dlogits, dA, dB, dr2, dp1, da1, masks, total;
	size_t per_conv; /* conv-dropout mask bytes per sample */
} fp_work;

static void fp_work_layout(const cf_flowpic_cnn_config *c, const fp_layout *L, int n, fp_work *w)
{
	const cf_flowpic_cnn_shape *s = &L->sh;
	size_t o = 0, N = (size_t)(n > 0 ? n : 0);
	size_t img = (size_t)c->channels * c->size * c->size;
	size_t A1 = (size_t)c->conv1 * s->c1_h * s->c1_w, P1 = (size_t)c->conv1 * s->p1_h * s->p1_w;
	size_t A2 = (size_t)c->conv2 * s->c2_h * s->c2_w, F = (size_t)s->flat;
	size_t U1 = (size_t)c->hidden1, U2 = (size_t)c->hidden2, UL = (size_t)L->last, K = (size_t)c->classes;
	size_t wide = F;
	if (U1 > wide) wide = U1;
	if (U2 > wide) wide = U2;
	memset(w, 0, sizeof *w);
	w->per_conv = c->kind == CF_FLOWPIC_CNN_MINI ? (size_t)c->conv2 : A2;
	/* official: one sample's pixel values at a time; mini: the dense chunk */
	w->xin = o; o += c->kind == CF_FLOWPIC_CNN_MINI ? N * img : img;
	w->a1 = o; o += N * A1;
	w->p1 = o; o += N * P1;
	w->a2 = o; o += N * A2;
	w->r2 = o; o += N * A2;
	w->p2 = o; o += N * F;
	w->h1 = o; o += N * U1;
	w->h2 = o; o += N * U2;
	w->hd = o; o += N * UL;
	w->logits = o; o += N * K;
	w->probs = o; o += N * K;
	w->dlogits = o; o += N * K;
	w->dA = o; o += N * wide;
	w->dB = o; o += N * wide;
	w->dr2 = o; o += N * A2;
	w->dp1 = o; o += N * P1;
	w->da1 = o; o += N * A1;
	/* the masks' bytes, in elements of 4 bytes or more */
	w->masks = o; o += (N * (w->per_conv + UL) + 3) / 4;
	w->total = o;
}

size_t cf_flowpic_cnn_work_elems(const cf_flowpic_cnn_config *c, int samples)
{
	fp_layout L;
	if (fp_layout_of(c, &L) != 0)
		return 0;
	fp_work w;
	fp_work_layout(c, &L, samples, &w);
	return w.total;
}

/* ------------------------------------------------------------------ batches */

int cf_flowpic_batch_alloc(cf_flowpic_batch *b, const cf_flowpic_cnn_config *c, int cap, size_t nnz_cap)
{
	memset(b, 0, sizeof *b);
	if (cf_flowpic_cnn_shapes(c, NULL) != 0)
		return -1;
	size_t n = (size_t)(cap > 0 ? cap : 1);
	b->cap = (int)n;
	b->kind = c->kind;
	b->channels = c->channels;
	b->size = c->size;
	b->label = calloc(n, sizeof(int32_t));
	b->seed = calloc(n, sizeof(uint64_t));
	int ok = b->label && b->seed;
	if (c->kind == CF_FLOWPIC_CNN_MINI) {
		b->dense = calloc(n * (size_t)c->channels * c->size * c->size, sizeof(float));
		ok = ok && b->dense;
	} else {
		size_t z = nnz_cap > 0 ? nnz_cap : 1;
		b->offsets = calloc(n + 1, sizeof(int64_t));
		b->pc = malloc(z * sizeof(int32_t));
		b->py = malloc(z * sizeof(int32_t));
		b->px = malloc(z * sizeof(int32_t));
		b->pv = malloc(z * sizeof(float));
		b->nnz_cap = z;
		ok = ok && b->offsets && b->pc && b->py && b->px && b->pv;
	}
	if (!ok) {
		cf_flowpic_batch_free(b);
		return -1;
	}
	return 0;
}

void cf_flowpic_batch_free(cf_flowpic_batch *b)
{
	free(b->dense); free(b->offsets); free(b->pc); free(b->py); free(b->px); free(b->pv);
	free(b->label); free(b->seed);
	memset(b, 0, sizeof *b);
}

void cf_flowpic_batch_clear(cf_flowpic_batch *b)
{
	b->n = 0;
	b->nnz = 0;
	if (b->offsets)
		b->offsets[0] = 0;
}

static int batch_reserve(cf_flowpic_batch *b, size_t need)
{
	if (need <= b->nnz_cap)
		return 0;
	size_t z = b->nnz_cap ? b->nnz_cap : 1;
	while (z < need)
		z *= 2;
	int32_t *pc = realloc(b->pc, z * sizeof(int32_t));
	if (pc) b->pc = pc;
	int32_t *py = realloc(b->py, z * sizeof(int32_t));
	if (py) b->py = py;
	int32_t *px = realloc(b->px, z * sizeof(int32_t));
	if (px) b->px = px;
	float *pv = realloc(b->pv, z * sizeof(float));
	if (pv) b->pv = pv;
	if (!pc || !py || !px || !pv)
		return -1;
	b->nnz_cap = z;
	return 0;
}

typedef struct fp_pix {
	int64_t key;
	size_t at; /* position in the caller's list: duplicates sum in list order */
} fp_pix;

static int pix_cmp(const void *a, const void *b)
{
	const fp_pix *p = a, *q = b;
	if (p->key != q->key)
		return p->key < q->key ? -1 : 1;
	return p->at < q->at ? -1 : p->at > q->at;
}

static void batch_append_meta(cf_flowpic_batch *b, int32_t label, uint64_t seed)
{
	b->label[b->n] = label;
	b->seed[b->n] = seed;
	b->n++;
	if (b->offsets)
		b->offsets[b->n] = (int64_t)b->nnz;
}

int cf_flowpic_batch_add_sparse(cf_flowpic_batch *b, size_t npix, const int32_t *c, const int32_t *y,
                                const int32_t *x, const float *v, int32_t label, uint64_t seed)
{
	if (b->n >= b->cap)
		return -2;
	const int C = b->channels, S = b->size;
	for (size_t k = 0; k < npix; k++)
		if (c[k] < 0 || c[k] >= C || y[k] < 0 || y[k] >= S || x[k] < 0 || x[k] >= S)
			return -2;
	if (b->kind == CF_FLOWPIC_CNN_MINI) {
		float *img = b->dense + (size_t)b->n * C * S * S;
		memset(img, 0, sizeof(float) * (size_t)C * S * S);
		for (size_t k = 0; k < npix; k++)
			img[((size_t)c[k] * S + y[k]) * S + x[k]] += v[k];
		batch_append_meta(b, label, seed);
		return 0;
	}
	if (b->n == 0)
		b->offsets[0] = (int64_t)b->nnz;
	fp_pix *p = malloc((npix ? npix : 1) * sizeof *p);
	if (!p || batch_reserve(b, b->nnz + npix) != 0) {
		free(p);
		return -1;
	}
	for (size_t k = 0; k < npix; k++) {
		p[k].key = ((int64_t)c[k] * S + y[k]) * S + x[k];
		p[k].at = k;
	}
	qsort(p, npix, sizeof *p, pix_cmp);
	size_t z = b->nnz;
	for (size_t k = 0; k < npix;) {
		size_t j = k;
		float sum = v[p[k].at];
		while (++j < npix && p[j].key == p[k].key)
			sum += v[p[j].at];
		b->pc[z] = c[p[k].at];
		b->py[z] = y[p[k].at];
		b->px[z] = x[p[k].at];
		b->pv[z] = sum;
		z++;
		k = j;
	}
	free(p);
	b->nnz = z;
	batch_append_meta(b, label, seed);
	return 0;
}

int cf_flowpic_batch_add_dense(cf_flowpic_batch *b, const float *img, int32_t label, uint64_t seed)
{
	if (b->n >= b->cap)
		return -2;
	const int C = b->channels, S = b->size;
	const size_t n = (size_t)C * S * S;
	if (b->kind == CF_FLOWPIC_CNN_MINI) {
		memcpy(b->dense + (size_t)b->n * n, img, sizeof(float) * n);
		batch_append_meta(b, label, seed);
		return 0;
	}
	if (b->n == 0)
		b->offsets[0] = (int64_t)b->nnz;
	size_t nz = 0;
	for (size_t k = 0; k < n; k++)
		nz += img[k] != 0;
	if (batch_reserve(b, b->nnz + nz) != 0)
		return -1;
	size_t z = b->nnz;
	for (int ch = 0; ch < C; ch++)
		for (int r = 0; r < S; r++)
			for (int col = 0; col < S; col++) {
				const float v = img[((size_t)ch * S + r) * S + col];
				if (v == 0)
					continue;
				b->pc[z] = ch;
				b->py[z] = r;
				b->px[z] = col;
				b->pv[z] = v;
				z++;
			}
	b->nnz = z;
	batch_append_meta(b, label, seed);
	return 0;
}

#define NN_T double
#define NN_S f64
#define NN_HAS_OPS 0
#define NN_OP(call) ((void)0)
#include "nn/flowpic_cnn_impl.h"
#undef NN_T
#undef NN_S
#undef NN_HAS_OPS
#undef NN_OP

#define NN_T float
#define NN_S f32
#define NN_HAS_OPS (ops != NULL)
#define NN_OP(call) NN_OPS_CALL(call)
#include "nn/flowpic_cnn_impl.h"
#undef NN_T
#undef NN_S
#undef NN_HAS_OPS
#undef NN_OP

double cf_flowpic_cnn_step_f64(const cf_flowpic_cnn_config *c, const double *params, const cf_flowpic_batch *b,
                               int lo, int hi, double scale, int training, double *probs, double *grad, double *work)
{
	return flowpic_step_ops_f64(c, params, b, lo, hi, scale, training, probs, grad, work, NULL);
}

double cf_flowpic_cnn_step_f32(const cf_flowpic_cnn_config *c, const float *params, const cf_flowpic_batch *b,
                               int lo, int hi, double scale, int training, float *probs, float *grad, float *work)
{
	return flowpic_step_ops_f32(c, params, b, lo, hi, scale, training, probs, grad, work, NULL);
}

/* ------------------------------------------------------------ CPU ops
 * The reference layers behind the ops table (stateless: the step passes
 * everything a backward needs). */
static int cpu_conv_forward(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
                            const float *b, float *y)
{
	(void)ctx; (void)layer;
	cf_nn_conv2d_forward_f32(d, x, w, b, y);
	return CF_OK;
}

static int cpu_conv_backward(void *ctx, int layer, const cf_nn_conv2d_dims *d, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db)
{
	(void)ctx; (void)layer;
	cf_nn_conv2d_backward_f32(d, x, w, dy, dx, dw, db);
	return CF_OK;
}

typedef struct fp_cpu_ops {
	flowpic_ops ops;
	char err[CF_ERRBUF_SIZE];
} fp_cpu_ops;

static void cpu_ops_destroy(void *ctx) { free(ctx); }

int flowpic_ops_cpu_create(flowpic_ops **out)
{
	*out = NULL;
	fp_cpu_ops *o = calloc(1, sizeof *o);
	if (!o) return CF_ERR_NOMEM;
	o->ops = (flowpic_ops){o, o->err, cpu_conv_forward, cpu_conv_backward, nn_ops_cpu_dense_forward,
	                       nn_ops_cpu_dense_backward, cpu_ops_destroy, 0};
	*out = &o->ops;
	return CF_OK;
}

void flowpic_ops_free(flowpic_ops *ops)
{
	if (ops) ops->destroy(ops->ctx);
}

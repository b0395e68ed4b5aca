/* The nested model's shapes, parameter table, batches and one step
 * (forward + backward) in float64 and float32 (nested_impl.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/nn.h"
#include "nn/nn_internal.h"

void cf_nested_config_default(cf_nested_config *c)
{
	memset(c, 0, sizeof *c);
	c->pkt_hidden = 16;
	c->ttl_vocab = 256;
	c->ttl_dim = 8;
	c->id_hidden = 8;
	c->dense_units = 10;
	c->dense_layers = 3;
	c->classes = 3;
	c->max_packets = 100;
	c->max_ids = 50;
}

int cf_nested_root_inputs(const cf_nested_config *c)
{
	return c->pkt_hidden + 2 * c->ttl_dim + 2 * c->id_hidden + CF_NESTED_ROOT_FEATURES;
}

void nested_shape_of(const cf_nested_config *c, nested_shape *s)
{
	size_t o = 0;
	int Hp = c->pkt_hidden, Hi = c->id_hidden;
	memset(s, 0, sizeof *s);
	s->root_inputs = cf_nested_root_inputs(c);
	s->pkt_wih = o; o += (size_t)4 * Hp * CF_NESTED_PKT_FEATURES;
	s->pkt_whh = o; o += (size_t)4 * Hp * Hp;
	s->pkt_bih = o; o += (size_t)4 * Hp;
	s->pkt_bhh = o; o += (size_t)4 * Hp;
	s->emb = o; o += (size_t)c->ttl_vocab * c->ttl_dim;
	s->id_wih = o; o += (size_t)4 * Hi;
	s->id_whh = o; o += (size_t)4 * Hi * Hi;
	s->id_bih = o; o += (size_t)4 * Hi;
	s->id_bhh = o; o += (size_t)4 * Hi;
	int in = s->root_inputs;
	for (int l = 0; l < c->dense_layers && l < CF_NESTED_MAX_DENSE; l++) {
		s->dense_w[l] = o; o += (size_t)c->dense_units * in;
		s->dense_b[l] = o; o += (size_t)c->dense_units;
		in = c->dense_units;
	}
	s->out_w = o; o += (size_t)c->classes * in;
	s->out_b = o; o += (size_t)c->classes;
	s->total = o;
}

size_t cf_nested_param_count(const cf_nested_config *c)
{
	nested_shape s;
	nested_shape_of(c, &s);
	return s.total;
}

static int add_param(cf_nested_param *out, int cap, int i, const char *name, int ndim, int64_t d0, int64_t d1,
                     size_t offset)
{
	if (i < cap) {
		cf_nested_param *p = &out[i];
		snprintf(p->name, sizeof p->name, "%s", name);
		p->ndim = ndim;
		p->dims[0] = d0;
		p->dims[1] = ndim > 1 ? d1 : 0;
		p->offset = offset;
		p->count = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
	}
	return i + 1;
}

int cf_nested_params(const cf_nested_config *c, cf_nested_param *out, int cap)
{
	nested_shape s;
	nested_shape_of(c, &s);
	int Hp = c->pkt_hidden, Hi = c->id_hidden, i = 0;
	i = add_param(out, cap, i, "pkt_lstm.weight_ih_l0", 2, 4 * Hp, CF_NESTED_PKT_FEATURES, s.pkt_wih);
	i = add_param(out, cap, i, "pkt_lstm.weight_hh_l0", 2, 4 * Hp, Hp, s.pkt_whh);
	i = add_param(out, cap, i, "pkt_lstm.bias_ih_l0", 1, 4 * Hp, 0, s.pkt_bih);
	i = add_param(out, cap, i, "pkt_lstm.bias_hh_l0", 1, 4 * Hp, 0, s.pkt_bhh);
	i = add_param(out, cap, i, "ttl_embedding.weight", 2, c->ttl_vocab, c->ttl_dim, s.emb);
	i = add_param(out, cap, i, "id_lstm.weight_ih_l0", 2, 4 * Hi, 1, s.id_wih);
	i = add_param(out, cap, i, "id_lstm.weight_hh_l0", 2, 4 * Hi, Hi, s.id_whh);
	i = add_param(out, cap, i, "id_lstm.bias_ih_l0", 1, 4 * Hi, 0, s.id_bih);
	i = add_param(out, cap, i, "id_lstm.bias_hh_l0", 1, 4 * Hi, 0, s.id_bhh);
	int in = s.root_inputs;
	char name[48];
	for (int l = 0; l < c->dense_layers && l < CF_NESTED_MAX_DENSE; l++) {
		snprintf(name, sizeof name, "dense.%d.weight", l);
		i = add_param(out, cap, i, name, 2, c->dense_units, in, s.dense_w[l]);
		snprintf(name, sizeof name, "dense.%d.bias", l);
		i = add_param(out, cap, i, name, 1, c->dense_units, 0, s.dense_b[l]);
		in = c->dense_units;
	}
	i = add_param(out, cap, i, "out.weight", 2, c->classes, in, s.out_w);
	i = add_param(out, cap, i, "out.bias", 1, c->classes, 0, s.out_b);
	return i;
}

void nested_work_layout(const cf_nested_config *c, int n, nested_work *w)
{
	size_t o = 0, N = (size_t)(n > 0 ? n : 0);
	size_t Tp = (size_t)c->max_packets, Ti = (size_t)c->max_ids, Hp = (size_t)c->pkt_hidden, Hi = (size_t)c->id_hidden;
	size_t D = (size_t)c->ttl_dim, R = (size_t)cf_nested_root_inputs(c), U = (size_t)c->dense_units;
	size_t C = (size_t)c->classes, wide = U > R ? U : R;
	w->pkt_x = o; o += N * Tp * 3;
	w->out_x = o; o += N * Ti;
	w->in_x = o; o += N * Ti;
	w->pkt_cache = o; o += N * Tp * 6 * Hp;
	w->out_cache = o; o += N * Ti * 6 * Hi;
	w->in_cache = o; o += N * Ti * 6 * Hi;
	w->pkt_h = o; o += N * Hp;
	w->out_h = o; o += N * Hi;
	w->in_h = o; o += N * Hi;
	w->emb_out = o; o += N * D;
	w->emb_in = o; o += N * D;
	w->concat = o; o += N * R;
	w->act = o; o += N * U * (size_t)(c->dense_layers > 0 ? c->dense_layers : 1);
	w->logits = o; o += N * C;
	w->probs = o; o += N * C;
	w->dlogits = o; o += N * C;
	w->dact_a = o; o += N * wide;
	w->dact_b = o; o += N * wide;
	w->dconcat = o; o += N * R;
	w->pkt_wt = o; o += 4 * Hp * (3 + Hp);
	w->id_wt = o; o += 4 * Hi * (1 + Hi);
	w->total = o;
}

size_t cf_nested_work_elems(const cf_nested_config *c, int samples)
{
	nested_work w;
	nested_work_layout(c, samples, &w);
	return w.total;
}

int cf_nested_batch_alloc(cf_nested_batch *b, const cf_nested_config *c, int cap)
{
	memset(b, 0, sizeof *b);
	size_t n = (size_t)(cap > 0 ? cap : 1);
	b->cap = (int)n;
	b->pkt = calloc(n * (size_t)c->max_packets * 3, sizeof(float));
	b->id_out = calloc(n * (size_t)c->max_ids, sizeof(float));
	b->id_in = calloc(n * (size_t)c->max_ids, sizeof(float));
	b->root = calloc(n * CF_NESTED_ROOT_FEATURES, sizeof(float));
	b->pkt_len = calloc(n, sizeof(int32_t));
	b->ttl_out = calloc(n, sizeof(int32_t));
	b->ttl_in = calloc(n, sizeof(int32_t));
	b->id_out_len = calloc(n, sizeof(int32_t));
	b->id_in_len = calloc(n, sizeof(int32_t));
	b->label = calloc(n, sizeof(int32_t));
	if (!b->pkt || !b->id_out || !b->id_in || !b->root || !b->pkt_len || !b->ttl_out || !b->ttl_in ||
	    !b->id_out_len || !b->id_in_len || !b->label) {
		cf_nested_batch_free(b);
		return -1;
	}
	return 0;
}

void cf_nested_batch_free(cf_nested_batch *b)
{
	free(b->pkt); free(b->id_out); free(b->id_in); free(b->root);
	free(b->pkt_len); free(b->ttl_out); free(b->ttl_in); free(b->id_out_len); free(b->id_in_len); free(b->label);
	memset(b, 0, sizeof *b);
}

void cf_nested_batch_clear(cf_nested_batch *b)
{
	b->n = 0;
	b->t_pkt = b->t_ids = 0;
}

#define NN_T double
#define NN_S f64
#define NN_HAS_OPS 0
#define NN_OP(call) ((void)0)
#include "nn/nested_impl.h"
#undef NN_T
#undef NN_S
#undef NN_HAS_OPS
#undef NN_OP

#define NN_T float
#define NN_S f32
#define NN_HAS_OPS (ops != NULL)
#define NN_OP(call) NN_OPS_CALL(call)
#include "nn/nested_impl.h"
#undef NN_HAS_OPS
#undef NN_OP

double cf_nested_step_f64(const cf_nested_config *c, const double *params, const cf_nested_batch *b, int lo, int hi,
                          double scale, double *probs, double *grad, double *work)
{
	return nested_step_ops_f64(c, params, b, lo, hi, scale, probs, grad, work, NULL);
}

double cf_nested_step_f32(const cf_nested_config *c, const float *params, const cf_nested_batch *b, int lo, int hi,
                          double scale, float *probs, float *grad, float *work)
{
	return nested_step_ops_f32(c, params, b, lo, hi, scale, probs, grad, work, NULL);
}

/* ------------------------------------------------------------ CPU ops
 * The reference layers behind the ops table. A forward keeps what its
 * backward needs (x, lengths, weights: the step's own arrays, alive until
 * the step ends; the LSTM cache: here). */
typedef struct cpu_branch {
	int B, T, I, H;
	const float *x, *w_ih, *w_hh;
	const int32_t *len;
	float *cache;
} cpu_branch;

typedef struct cpu_ops {
	nested_ops ops;
	cpu_branch br[3];
	char err[CF_ERRBUF_SIZE];
} cpu_ops;

static int cpu_lstm_forward(void *ctx, int branch, int B, int T, int I, int H, const float *x, const int32_t *len,
                            const float *w_ih, const float *w_hh, const float *b_ih, const float *b_hh, float *h_last,
                            int training)
{
	cpu_branch *br = &((cpu_ops *)ctx)->br[branch];
	br->B = B; br->T = T; br->I = I; br->H = H;
	br->x = x; br->len = len; br->w_ih = w_ih; br->w_hh = w_hh;
	cf_nn_lstm_forward_f32(B, T, I, H, x, len, w_ih, w_hh, b_ih, b_hh, h_last, training ? br->cache : NULL);
	return CF_OK;
}

static int cpu_lstm_backward(void *ctx, int branch, const float *dh_last, float *dw_ih, float *dw_hh, float *db_ih,
                             float *db_hh)
{
	cpu_branch *br = &((cpu_ops *)ctx)->br[branch];
	cf_nn_lstm_backward_f32(br->B, br->T, br->I, br->H, br->x, br->len, br->w_ih, br->w_hh, br->cache, dh_last, NULL,
	                        dw_ih, dw_hh, db_ih, db_hh);
	return CF_OK;
}

int nn_ops_cpu_dense_forward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w, const float *b,
                             float *y)
{
	(void)ctx; (void)layer;
	cf_nn_dense_forward_f32(B, I, O, x, w, b, y);
	return CF_OK;
}

int nn_ops_cpu_dense_backward(void *ctx, int layer, int B, int I, int O, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db)
{
	(void)ctx; (void)layer;
	cf_nn_dense_backward_f32(B, I, O, x, w, dy, dx, dw, db);
	return CF_OK;
}

static void cpu_ops_destroy(void *ctx)
{
	cpu_ops *c = ctx;
	for (int k = 0; k < 3; k++) free(c->br[k].cache);
	free(c);
}

int nested_ops_cpu_create(const cf_nested_config *c, int max_batch, nested_ops **out)
{
	*out = NULL;
	cpu_ops *o = calloc(1, sizeof *o);
	if (!o) return CF_ERR_NOMEM;
	size_t n = (size_t)(max_batch > 0 ? max_batch : 1);
	o->br[0].cache = malloc(n * (size_t)c->max_packets * 6 * (size_t)c->pkt_hidden * sizeof(float));
	o->br[1].cache = malloc(n * (size_t)c->max_ids * 6 * (size_t)c->id_hidden * sizeof(float));
	o->br[2].cache = malloc(n * (size_t)c->max_ids * 6 * (size_t)c->id_hidden * sizeof(float));
	if (!o->br[0].cache || !o->br[1].cache || !o->br[2].cache) {
		cpu_ops_destroy(o);
		return CF_ERR_NOMEM;
	}
	o->ops = (nested_ops){o, o->err, cpu_lstm_forward, cpu_lstm_backward, nn_ops_cpu_dense_forward,
	                      nn_ops_cpu_dense_backward, cpu_ops_destroy, 0};
	*out = &o->ops;
	return CF_OK;
}

void nested_ops_free(nested_ops *ops)
{
	if (ops) ops->destroy(ops->ctx);
}

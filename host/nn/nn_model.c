/* The model object: initialisation (PyTorch's defaults), safetensors and
 * config.json, the worker pool and the parallel step. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cuflow/backend.h"
#include "cuflow/model.h"
#include "cuflow/nn_gpu.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

/* ------------------------------------------------------------ random numbers */

uint64_t nn_rng_next(uint64_t *s)
{
	/* splitmix64: small, seedable from any value, good enough to draw weights */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double nn_rng_uniform(uint64_t *s) { return (double)(nn_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

static double rng_normal(uint64_t *s)
{
	double u = nn_rng_uniform(s), v = nn_rng_uniform(s);
	if (u < 1e-300) u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ------------------------------------------------------------ pool */

int nn_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

struct nn_pool {
	int n;                 /* threads started (workers = n + 1) */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	uint64_t gen;
	int busy, stop;
	void (*fn)(void *, int, int);
	void *arg;
	int jobs, next;
};

static void pool_work(nn_pool *p, int worker)
{
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int j = p->next < p->jobs ? p->next++ : -1;
		pthread_mutex_unlock(&p->mu);
		if (j < 0) return;
		p->fn(p->arg, j, worker);
	}
}

typedef struct pool_arg { nn_pool *p; int worker; } pool_arg;

static void *pool_main(void *a)
{
	pool_arg *pa = a;
	nn_pool *p = pa->p;
	int worker = pa->worker;
	free(pa);
	uint64_t seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
		if (p->stop) break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		pool_work(p, worker);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0) pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int nn_pool_create(int threads, nn_pool **out)
{
	nn_pool *p = calloc(1, sizeof *p);
	if (!p) return CF_ERR_NOMEM;
	p->n = threads > 1 ? threads - 1 : 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	if (p->n && !(p->th = calloc((size_t)p->n, sizeof *p->th))) { free(p); return CF_ERR_NOMEM; }
	for (int i = 0; i < p->n; i++) {
		pool_arg *a = malloc(sizeof *a);
		if (a) {
			a->p = p;          /* before the thread starts: it reads and frees a */
			a->worker = i + 1;
		}
		if (!a || pthread_create(&p->th[i], NULL, pool_main, a) != 0) {
			free(a);
			p->n = i;
			nn_pool_free(p);
			return CF_ERR_NOMEM;
		}
	}
	*out = p;
	return CF_OK;
}

int nn_pool_workers(const nn_pool *p) { return p->n + 1; }

void nn_pool_run(nn_pool *p, void (*fn)(void *, int, int), void *arg, int jobs)
{
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->jobs = jobs;
	p->next = 0;
	p->busy = p->n;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	pool_work(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void nn_pool_free(nn_pool *p)
{
	if (!p) return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->th);
	free(p);
}

/* ------------------------------------------------------------ the model */

static int config_check(const cf_nested_config *c, char *errbuf)
{
	if (c->pkt_hidden < 1 || c->pkt_hidden > CF_NN_MAX_HIDDEN || c->id_hidden < 1 ||
	    c->id_hidden > CF_NN_MAX_HIDDEN || c->ttl_vocab < 1 || c->ttl_dim < 1 || c->dense_units < 1 ||
	    c->dense_layers < 0 || c->dense_layers > CF_NESTED_MAX_DENSE || c->classes < 1 || c->max_packets < 1 ||
	    c->max_ids < 1) {
		snprintf(errbuf, CF_ERRBUF_SIZE,
		         "model configuration out of range (hidden sizes 1..%d, dense layers 0..%d, at least one class)",
		         CF_NN_MAX_HIDDEN, CF_NESTED_MAX_DENSE);
		return CF_ERR_ARG;
	}
	return CF_OK;
}

static void init_uniform(float *p, size_t n, double bound, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) p[i] = (float)((nn_rng_uniform(s) * 2.0 - 1.0) * bound);
}

int cf_model_create(const cf_nested_config *c, uint64_t seed, const char *const *class_names, cf_model **out,
                    char *errbuf)
{
	*out = NULL;
	int rc = config_check(c, errbuf);
	if (rc) return rc;
	cf_model *m = calloc(1, sizeof *m);
	if (!m) return CF_ERR_NOMEM;
	m->arch = NN_ARCH_NESTED;
	m->n_classes = c->classes;
	m->cfg = *c;
	m->n_params = cf_nested_param_count(c);
	m->params = calloc(m->n_params, sizeof(float));
	m->classes = calloc((size_t)c->classes, sizeof(char *));
	if (!m->params || !m->classes) goto nomem;
	for (int k = 0; k < c->classes; k++) {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "class%d", k);
		if (!(m->classes[k] = strdup(class_names && class_names[k] ? class_names[k] : tmp))) goto nomem;
	}
	/* PyTorch's defaults: LSTM U(-1/sqrt(H), 1/sqrt(H)) everywhere, Embedding
	 * N(0, 1), Linear weight and bias U(-1/sqrt(in), 1/sqrt(in)) */
	uint64_t s = seed ^ 0x6E6573746564ull;
	cf_nested_param ps[64];
	int np = cf_nested_params(c, ps, 64);
	for (int i = 0; i < np; i++) {
		float *p = m->params + ps[i].offset;
		const char *nm = ps[i].name;
		if (strncmp(nm, "pkt_lstm.", 9) == 0) init_uniform(p, ps[i].count, 1.0 / sqrt(c->pkt_hidden), &s);
		else if (strncmp(nm, "id_lstm.", 8) == 0) init_uniform(p, ps[i].count, 1.0 / sqrt(c->id_hidden), &s);
		else if (strncmp(nm, "ttl_embedding.", 14) == 0)
			for (size_t k = 0; k < ps[i].count; k++) p[k] = (float)rng_normal(&s);
		else {
			/* a Linear: the fan-in is the weight's second dimension; the bias
			 * follows its weight in the table */
			int64_t fan_in = ps[i].ndim == 2 ? ps[i].dims[1] : ps[i - 1].dims[1];
			init_uniform(p, ps[i].count, 1.0 / sqrt((double)fan_in), &s);
		}
	}
	*out = m;
	return CF_OK;
nomem:
	cf_model_free(m);
	snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory creating the model");
	return CF_ERR_NOMEM;
}

void cf_model_free(cf_model *m)
{
	if (!m) return;
	if (m->classes)
		for (int k = 0; k < m->n_classes; k++) free(m->classes[k]);
	free(m->classes);
	free(m->params);
	nn_pool_free(m->pool);
	nested_ops_free(m->ops);
	flowpic_ops_free(m->fops);
	free(m->ops_work);
	free(m->fp_preset);
	free(m->fp_options);
	free(m->work);
	free(m->chunk_grads);
	free(m->chunk_loss);
	free(m);
}

const cf_nested_config *cf_model_config(const cf_model *m) { return m->arch == NN_ARCH_NESTED ? &m->cfg : NULL; }
float *cf_model_params(cf_model *m) { return m->params; }
const char *cf_model_class_name(const cf_model *m, int k)
{
	return k >= 0 && k < m->n_classes ? m->classes[k] : NULL;
}

int nn_model_params(const cf_model *m, cf_nn_param *out, int cap)
{
	if (m->arch == NN_ARCH_FLOWPIC) return cf_flowpic_cnn_params(&m->fcfg, out, cap);
	cf_nested_param ps[64];
	int n = cf_nested_params(&m->cfg, ps, 64);
	for (int i = 0; i < n && i < cap; i++) {
		memset(&out[i], 0, sizeof out[i]);
		memcpy(out[i].name, ps[i].name, sizeof out[i].name);
		out[i].ndim = ps[i].ndim;
		out[i].dims[0] = ps[i].dims[0];
		out[i].dims[1] = ps[i].dims[1];
		out[i].offset = ps[i].offset;
		out[i].count = ps[i].count;
	}
	return n;
}

int nn_model_create_flowpic(const cf_flowpic_cnn_config *c, uint64_t seed, const char *const *class_names,
                            cf_model **out, char *errbuf)
{
	*out = NULL;
	if (cf_flowpic_cnn_shapes(c, NULL) != 0 || c->classes < 1) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "FlowPic CNN configuration out of range (a %dx%d input leaves no output at "
		         "some stage, or a size is below 1)", c->size, c->size);
		return CF_ERR_ARG;
	}
	cf_model *m = calloc(1, sizeof *m);
	if (!m) return CF_ERR_NOMEM;
	m->arch = NN_ARCH_FLOWPIC;
	m->n_classes = c->classes;
	m->fcfg = *c;
	m->n_params = cf_flowpic_cnn_param_count(c);
	m->params = calloc(m->n_params, sizeof(float));
	m->classes = calloc((size_t)c->classes, sizeof(char *));
	if (!m->params || !m->classes) goto nomem;
	for (int k = 0; k < c->classes; k++) {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "class%d", k);
		if (!(m->classes[k] = strdup(class_names && class_names[k] ? class_names[k] : tmp))) goto nomem;
	}
	/* PyTorch's defaults for Conv2d and Linear: weight and bias
	 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in channels x kernel area
	 * or in features (kaiming_uniform with a = sqrt(5)) */
	uint64_t s = seed ^ 0x666C6F77706963ull;
	cf_nn_param ps[16];
	int np = cf_flowpic_cnn_params(c, ps, 16);
	for (int i = 0; i < np; i++) {
		const cf_nn_param *w = ps[i].ndim >= 2 ? &ps[i] : &ps[i - 1];
		int64_t fan_in = 1;
		for (int d = 1; d < w->ndim; d++) fan_in *= w->dims[d];
		init_uniform(m->params + ps[i].offset, ps[i].count, 1.0 / sqrt((double)fan_in), &s);
	}
	*out = m;
	return CF_OK;
nomem:
	cf_model_free(m);
	snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory creating the model");
	return CF_ERR_NOMEM;
}

int cf_model_create_flowpic(const cf_flowpic_cnn_config *c, uint64_t seed, const char *const *class_names,
                            cf_model **out, char *errbuf)
{
	return nn_model_create_flowpic(c, seed, class_names, out, errbuf);
}

int cf_model_forward_flowpic(cf_model *m, const cf_flowpic_batch *b, int threads, float *probs, char *errbuf)
{
	if (m->arch != NN_ARCH_FLOWPIC || b->kind != m->fcfg.kind || b->channels != m->fcfg.channels ||
	    b->size != m->fcfg.size) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "cf_model_forward_flowpic: the batch does not fit this %s model",
		         cf_model_kind(m));
		return CF_ERR_ARG;
	}
	int rc = nn_model_run_batch(m, b, b->n, threads, 1.0, 0, probs, NULL, NULL);
	if (rc && errbuf) errbuf[0] = 0;
	nn_model_error(m, rc, errbuf);
	return rc;
}

const char *cf_model_kind(const cf_model *m)
{
	if (m->arch == NN_ARCH_NESTED) return "nested";
	return m->fcfg.kind == CF_FLOWPIC_CNN_MINI ? "flowpic-mini" : "flowpic";
}

const cf_flowpic_cnn_config *cf_model_flowpic_config(const cf_model *m)
{
	return m->arch == NN_ARCH_FLOWPIC ? &m->fcfg : NULL;
}

/* ------------------------------------------------------------ parallel step */

typedef struct step_job {
	cf_model *m;
	const void *b;
	int n;
	double scale;
	float *probs;
	int backward, training;
} step_job;

/* The model's chunk (nn_internal.h). */
static int chunk_of(const cf_model *m)
{
	return m->arch == NN_ARCH_FLOWPIC && m->fcfg.kind == CF_FLOWPIC_CNN_OFFICIAL ? NN_CHUNK_OFFICIAL : NN_CHUNK;
}

static void step_chunk(void *arg, int job, int worker)
{
	step_job *sj = arg;
	cf_model *m = sj->m;
	const int chunk = chunk_of(m);
	int lo = job * chunk, hi = lo + chunk;
	if (hi > sj->n) hi = sj->n;
	float *g = NULL;
	if (sj->backward) {
		g = m->chunk_grads + (size_t)job * m->n_params;
		memset(g, 0, m->n_params * sizeof(float));
	}
	float *pr = sj->probs ? sj->probs + (size_t)lo * m->n_classes : NULL;
	float *work = m->work + (size_t)worker * m->work_elems;
	if (m->arch == NN_ARCH_FLOWPIC)
		m->chunk_loss[job] = cf_flowpic_cnn_step_f32(&m->fcfg, m->params, sj->b, lo, hi, sj->scale, sj->training, pr,
		                                             g, work);
	else
		m->chunk_loss[job] = cf_nested_step_f32(&m->cfg, m->params, sj->b, lo, hi, sj->scale, pr, g, work);
}

static size_t work_elems(const cf_model *m)
{
	if (m->arch == NN_ARCH_FLOWPIC) return cf_flowpic_cnn_work_elems(&m->fcfg, chunk_of(m));
	return cf_nested_work_elems(&m->cfg, NN_CHUNK);
}

static int ensure_scratch(cf_model *m, int threads, int samples)
{
	if (threads <= 0) threads = nn_cpu_count();
	if (!m->pool || m->pool_threads != threads) {
		nn_pool_free(m->pool);
		m->pool = NULL;
		free(m->work);
		m->work = NULL;
		if (nn_pool_create(threads, &m->pool) != CF_OK) return CF_ERR_NOMEM;
		m->pool_threads = threads;
		m->work_elems = work_elems(m);
		m->work = malloc((size_t)nn_pool_workers(m->pool) * m->work_elems * sizeof(float));
		if (!m->work) return CF_ERR_NOMEM;
	}
	int chunks = (samples + chunk_of(m) - 1) / chunk_of(m);
	if (chunks > m->chunk_cap) {
		free(m->chunk_grads);
		free(m->chunk_loss);
		m->chunk_grads = malloc((size_t)chunks * m->n_params * sizeof(float));
		m->chunk_loss = malloc((size_t)chunks * sizeof(double));
		if (!m->chunk_grads || !m->chunk_loss) { m->chunk_cap = 0; return CF_ERR_NOMEM; }
		m->chunk_cap = chunks;
	}
	return CF_OK;
}

/* The whole batch in one step through the GPU ops (the gradient is summed
 * by the device libraries, not chunk by chunk: same values within float
 * rounding, not the same bits as the CPU). */
static int run_batch_ops(cf_model *m, const void *b, int n, double scale, int training, float *probs, float *grad,
                         double *loss)
{
	if (n > m->ops_batch) {
		snprintf(m->err, sizeof m->err, "a batch of %d samples is above the %d the CUDA backend was set up for", n,
		         m->ops_batch);
		return CF_ERR_ARG;
	}
	if (grad) memset(grad, 0, m->n_params * sizeof(float));
	double l;
	int *status;
	const char *why;
	if (m->fops) {
		m->fops->status = 0;
		l = flowpic_step_ops_f32(&m->fcfg, m->params, b, 0, n, scale, training, probs, grad, m->ops_work, m->fops);
		status = &m->fops->status;
		why = m->fops->errbuf;
	} else {
		m->ops->status = 0;
		l = nested_step_ops_f32(&m->cfg, m->params, b, 0, n, scale, probs, grad, m->ops_work, m->ops);
		status = &m->ops->status;
		why = m->ops->errbuf;
	}
	if (*status) {
		snprintf(m->err, sizeof m->err, "%s", why);
		return *status;
	}
	if (loss) *loss = l;
	return CF_OK;
}

int cf_model_set_backend(cf_model *m, int kind, int max_batch, char *errbuf)
{
	if (kind != CF_BACKEND_CUDA) {
		/* AUTO stays on the CPU for models until the GPU path has run on a
		 * device (docs/gpu.md) */
		nested_ops_free(m->ops);
		m->ops = NULL;
		flowpic_ops_free(m->fops);
		m->fops = NULL;
		free(m->ops_work);
		m->ops_work = NULL;
		return CF_OK;
	}
	if (max_batch < 1) max_batch = 1;
	char why[CF_ERRBUF_SIZE] = "";
	if (!cf_nn_gpu_available(why)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "the CUDA backend is not available: %s", why);
		return CF_ERR_DEVICE;
	}
	nested_ops *ops = NULL;
	flowpic_ops *fops = NULL;
	const int flowpic = m->arch == NN_ARCH_FLOWPIC;
	int rc = flowpic ? flowpic_ops_gpu_create(&m->fcfg, max_batch, &fops, errbuf)
	                 : nested_ops_gpu_create(&m->cfg, max_batch, &ops, errbuf);
	if (rc) return rc;
	size_t elems = flowpic ? cf_flowpic_cnn_work_elems(&m->fcfg, max_batch) : cf_nested_work_elems(&m->cfg, max_batch);
	float *work = malloc(elems * sizeof(float));
	if (!work) {
		nested_ops_free(ops);
		flowpic_ops_free(fops);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory setting up the CUDA backend");
		return CF_ERR_NOMEM;
	}
	nested_ops_free(m->ops);
	flowpic_ops_free(m->fops);
	free(m->ops_work);
	m->ops = ops;
	m->fops = fops;
	m->ops_work = work;
	m->ops_batch = max_batch;
	return CF_OK;
}

const char *cf_model_backend_name(const cf_model *m) { return m->ops || m->fops ? "cuda" : "cpu"; }

void nn_model_error(const cf_model *m, int rc, char *errbuf)
{
	if (!rc || !errbuf || errbuf[0]) return;
	if (m && m->err[0]) snprintf(errbuf, CF_ERRBUF_SIZE, "%s", m->err);
	else if (rc == CF_ERR_NOMEM) snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
}

int nn_model_run_batch(cf_model *m, const void *batch, int n, int threads, double scale, int training,
                       float *probs, float *grad, double *loss)
{
	m->err[0] = 0;
	if (m->ops || m->fops) return run_batch_ops(m, batch, n, scale, training, probs, grad, loss);
	if (ensure_scratch(m, threads, n) != CF_OK) return CF_ERR_NOMEM;
	int chunks = (n + chunk_of(m) - 1) / chunk_of(m);
	step_job sj = {m, batch, n, scale, probs, grad != NULL, training};
	nn_pool_run(m->pool, step_chunk, &sj, chunks);
	double l = 0;
	for (int j = 0; j < chunks; j++) l += m->chunk_loss[j];
	if (loss) *loss = l;
	if (grad) {
		memset(grad, 0, m->n_params * sizeof(float));
		for (int j = 0; j < chunks; j++) {
			const float *g = m->chunk_grads + (size_t)j * m->n_params;
			for (size_t k = 0; k < m->n_params; k++) grad[k] += g[k];
		}
	}
	return CF_OK;
}

int nn_model_run(cf_model *m, const cf_nested_batch *b, int threads, double scale, float *probs, float *grad,
                 double *loss)
{
	return nn_model_run_batch(m, b, b->n, threads, scale, grad != NULL, probs, grad, loss);
}

int cf_model_forward(cf_model *m, const cf_nested_batch *b, int threads, float *probs, char *errbuf)
{
	if (m->arch != NN_ARCH_NESTED) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "cf_model_forward takes a nested model's batch; this is a %s model "
		         "(cf_model_forward_flowpic)", cf_model_kind(m));
		return CF_ERR_ARG;
	}
	int rc = nn_model_run(m, b, threads, 1.0, probs, NULL, NULL);
	if (rc && errbuf) errbuf[0] = 0;
	nn_model_error(m, rc, errbuf);
	return rc;
}

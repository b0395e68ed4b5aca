/* train, evaluate, predict: the model commands' library side (the CLI only
 * parses options). Training is Adam with PyTorch's defaults on mini-batches
 * of seeded shuffles; the validation loss drives ReduceLROnPlateau and
 * early stopping, and the best epoch's weights are kept. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuflow/model.h"
#include "cuflow/npy.h"
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/plot.h"
#include "nn/nn_internal.h"


void cf_train_opts_default(cf_train_opts *o)
{
	memset(o, 0, sizeof *o);
	cf_nested_config_default(&o->model);
	cf_flowpic_cnn_config_default(&o->cnn, CF_FLOWPIC_CNN_OFFICIAL);
	o->label_mode = CF_MODEL_LABEL_FIELD;
	o->epochs = 10;
	o->batch = 128;
	o->lr = 1e-3;
	o->val_fraction = 0.2;
	o->seed = 1;
	o->lr_factor = 0.2;
	o->lr_patience = 5;
	o->min_lr = 1e-5;
}

void cf_eval_opts_default(cf_eval_opts *o)
{
	memset(o, 0, sizeof *o);
	o->label_mode = CF_MODEL_LABEL_FIELD;
	o->batch = 256;
}

void cf_predict_opts_default(cf_predict_opts *o)
{
	memset(o, 0, sizeof *o);
	o->batch = 256;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void say(void (*msg)(void *, const char *), void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(void (*msg)(void *, const char *), void *user, const char *fmt, ...)
{
	if (!msg) return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	msg(user, line);
}

static int argmax(const float *p, int C)
{
	int k = 0;
	for (int j = 1; j < C; j++)
		if (p[j] > p[k]) k = j;
	return k;
}

/* ------------------------------------------------------------ scoring */

typedef struct scored {
	double loss;        /* sum */
	uint64_t n, correct;
	uint64_t *confusion; /* C x C, row = true */
} scored;

/* Puts samples idx[at..] into the feed's batch (at most `batch`); returns how many. */
static int feed_fill(const cf_model *m, const nn_feed *f, const size_t *idx, size_t n, size_t at, int batch,
                     uint64_t seed_base)
{
	int k = 0;
	f->clear(f->batch);
	for (; k < batch && at + (size_t)k < n; k++)
		f->put(m, f->data, f->batch, k, idx[at + (size_t)k], seed_base + idx[at + (size_t)k]);
	f->finish(m, f->data, f->batch);
	return k;
}

static int score_indices(cf_model *m, const nn_feed *f, const size_t *idx, size_t n, int batch, int threads,
                         float *probs, scored *s)
{
	const int C = m->n_classes;
	for (size_t at = 0; at < n; at += (size_t)batch) {
		int k = feed_fill(m, f, idx, n, at, batch, 0);
		double loss = 0;
		int rc = nn_model_run_batch(m, f->batch, k, threads, 1.0, 0, probs, NULL, &loss);
		if (rc) return rc;
		s->loss += loss;
		const int32_t *lab = f->labels(f->batch);
		for (int j = 0; j < k; j++) {
			int y = lab[j], p = argmax(probs + (size_t)j * C, C);
			s->n++;
			s->correct += y == p;
			if (s->confusion) s->confusion[(size_t)y * C + p]++;
		}
	}
	return CF_OK;
}

/* metrics.json, confusion.csv, confusion.png for a confusion matrix. */
static int write_eval(const char *dir, const cf_model *m, const scored *s, uint64_t skipped, char *errbuf)
{
	int C = m->n_classes, rc = nn_mkdir_p(dir, errbuf);
	if (rc) return rc;
	char path[4096];
	snprintf(path, sizeof path, "%s/metrics.json", dir);
	FILE *f = fopen(path, "w");
	if (!f) { snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno)); return CF_ERR_IO; }
	uint64_t best_support = 0;
	for (int y = 0; y < C; y++) {
		uint64_t sup = 0;
		for (int p = 0; p < C; p++) sup += s->confusion[(size_t)y * C + p];
		if (sup > best_support) best_support = sup;
	}
	double acc = s->n ? (double)s->correct / (double)s->n : NAN;
	fprintf(f, "{\n  \"flows\": %llu,\n  \"skipped_unknown_label\": %llu,\n  \"accuracy\": %.6f,\n",
	        (unsigned long long)s->n, (unsigned long long)skipped, acc);
	fprintf(f, "  \"majority_class_accuracy\": %.6f,\n  \"loss\": %.6f,\n",
	        s->n ? (double)best_support / (double)s->n : NAN, s->n ? s->loss / (double)s->n : NAN);
	double macro = 0, weighted = 0;
	int present = 0;
	fprintf(f, "  \"classes\": [\n");
	for (int k = 0; k < C; k++) {
		uint64_t tp = s->confusion[(size_t)k * C + k], sup = 0, pred = 0;
		for (int j = 0; j < C; j++) {
			sup += s->confusion[(size_t)k * C + j];
			pred += s->confusion[(size_t)j * C + k];
		}
		double prec = pred ? (double)tp / (double)pred : 0, rec = sup ? (double)tp / (double)sup : 0;
		double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
		if (sup) { macro += f1; present++; weighted += f1 * (double)sup; }
		fprintf(f, "    {\"name\": \"");
		for (const char *q = m->classes[k]; *q; q++) {
			if (*q == '"' || *q == '\\') fputc('\\', f);
			fputc((unsigned char)*q < 0x20 ? ' ' : *q, f);
		}
		fprintf(f, "\", \"support\": %llu, \"predicted\": %llu, \"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f}%s\n",
		        (unsigned long long)sup, (unsigned long long)pred, prec, rec, f1, k + 1 < C ? "," : "");
	}
	fprintf(f, "  ],\n  \"macro_f1\": %.6f,\n  \"weighted_f1\": %.6f\n}\n", present ? macro / present : 0,
	        s->n ? weighted / (double)s->n : 0);
	if (fclose(f) != 0) { snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno)); return CF_ERR_IO; }
	snprintf(path, sizeof path, "%s/confusion.csv", dir);
	if (!(f = fopen(path, "w"))) { snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno)); return CF_ERR_IO; }
	fprintf(f, "true\\predicted");
	for (int k = 0; k < C; k++) fprintf(f, ",%s", m->classes[k]);
	fputc('\n', f);
	for (int y = 0; y < C; y++) {
		fprintf(f, "%s", m->classes[y]);
		for (int p = 0; p < C; p++) fprintf(f, ",%llu", (unsigned long long)s->confusion[(size_t)y * C + p]);
		fputc('\n', f);
	}
	if (fclose(f) != 0) { snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno)); return CF_ERR_IO; }
	snprintf(path, sizeof path, "%s/confusion.png", dir);
	return cf_plot_confusion_png(path, "confusion matrix (rows: true class)", C, (const char *const *)m->classes,
	                             s->confusion, errbuf);
}

/* ------------------------------------------------------------ export */

/* The featurized flows of one split as .npy files (true lengths; with
 * reference_compat the judge pads per batch as the seed did). */
static int export_split(const char *dir, const char *name, const cf_nested_config *c, const nn_dataset *d,
                        const size_t *idx, size_t n, char *errbuf)
{
	cf_nested_batch b;
	if (cf_nested_batch_alloc(&b, c, 1)) return CF_ERR_NOMEM;
	const char *fn[10] = {"pkt", "pkt_len", "ttl_out", "id_out", "id_out_len", "ttl_in", "id_in", "id_in_len", "root", "label"};
	uint64_t shp[10][2] = {{(uint64_t)c->max_packets, 3}, {0}, {0}, {(uint64_t)c->max_ids}, {0}, {0},
	                       {(uint64_t)c->max_ids}, {0}, {5}, {0}};
	int nd[10] = {2, 0, 0, 1, 0, 0, 1, 0, 1, 0};
	int dt[10] = {CF_NPY_F4, CF_NPY_I4, CF_NPY_I4, CF_NPY_F4, CF_NPY_I4, CF_NPY_I4, CF_NPY_F4, CF_NPY_I4, CF_NPY_F4, CF_NPY_I4};
	cf_npy_writer *w[10] = {0};
	int rc = CF_OK;
	char path[4096];
	for (int k = 0; k < 10 && rc == CF_OK; k++) {
		snprintf(path, sizeof path, "%s/%s_%s.npy", dir, name, fn[k]);
		rc = cf_npy_writer_open(path, dt[k], nd[k], shp[k], 0, &w[k], errbuf);
	}
	for (size_t i = 0; i < n && rc == CF_OK; i++) {
		cf_nested_batch_clear(&b);
		nn_batch_put_index(c, &b, 0, d, idx[i]);
		const void *rows[10] = {b.pkt, b.pkt_len, b.ttl_out, b.id_out, b.id_out_len, b.ttl_in, b.id_in, b.id_in_len, b.root, b.label};
		for (int k = 0; k < 10 && rc == CF_OK; k++) rc = cf_npy_writer_append(w[k], rows[k], 1);
	}
	for (int k = 0; k < 10; k++)
		if (w[k]) {
			int r2 = cf_npy_writer_close(w[k], errbuf);
			if (rc == CF_OK) rc = r2;
		}
	cf_nested_batch_free(&b);
	return rc;
}

/* ------------------------------------------------------------ train */

static int fill_curves(const char *out_dir, const double *hist, int epochs, char *errbuf)
{
	char path[4096];
	const char *names[2] = {"train loss", "validation loss"};
	const double *v[2] = {hist, hist + epochs};
	snprintf(path, sizeof path, "%s/learning_curves.png", out_dir);
	int rc = cf_plot_lines_png(path, "loss per epoch", "epoch", 2, names, v, epochs, errbuf);
	if (rc) return rc;
	const char *an[2] = {"train accuracy", "validation accuracy"};
	const double *av[2] = {hist + 2 * epochs, hist + 3 * epochs};
	snprintf(path, sizeof path, "%s/accuracy_curves.png", out_dir);
	return cf_plot_lines_png(path, "accuracy per epoch", "epoch", 2, an, av, epochs, errbuf);
}

/* The nested model's feed: Joy records (nn_dataset) into cf_nested_batch. */
static void nested_clear(void *b) { cf_nested_batch_clear(b); }
static void nested_put(const cf_model *m, const void *data, void *b, int k, size_t i, uint64_t seed)
{
	(void)seed;
	nn_batch_put_index(&m->cfg, b, k, data, i);
}
static void nested_finish(const cf_model *m, const void *data, void *b)
{
	(void)data;
	nn_batch_finish(&m->cfg, b);
}
static const int32_t *nested_labels(const void *b) { return ((const cf_nested_batch *)b)->label; }

void nn_nested_feed(nn_feed *f, const nn_dataset *d, cf_nested_batch *b)
{
	f->data = d;
	f->batch = b;
	f->clear = nested_clear;
	f->put = nested_put;
	f->finish = nested_finish;
	f->labels = nested_labels;
}

int nn_split(size_t n, const cf_train_opts *o, int own_val, uint64_t *rs, size_t **perm, nn_splits *sp, char *errbuf)
{
	*rs = o->seed * 0x2545F4914F6CDD1Dull + 7;
	if (!(*perm = malloc((n ? n : 1) * sizeof **perm))) return CF_ERR_NOMEM;
	size_t *p = *perm;
	for (size_t i = 0; i < n; i++) p[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(nn_rng_next(rs) % i), t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
	if (o->n_test_inputs > 0 && o->test_fraction > 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "a test set of its own and a test fraction exclude each other");
		return CF_ERR_ARG;
	}
	size_t n_test = o->n_test_inputs > 0 ? 0 : (size_t)(o->test_fraction * (double)n);
	size_t n_val = own_val ? 0 : (size_t)(o->val_fraction * (double)n);
	if (n_test + n_val >= n) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%llu samples leave nothing to train on after the validation and test splits",
		         (unsigned long long)n);
		return CF_ERR_NO_DATA;
	}
	sp->test = p;
	sp->n_test = n_test;
	sp->val = p + n_test;
	sp->n_val = n_val;
	sp->train = p + n_test + n_val;
	sp->n_train = n - n_test - n_val;
	return CF_OK;
}

int nn_own_split(size_t n, size_t **idx)
{
	if (!(*idx = malloc((n ? n : 1) * sizeof **idx))) return CF_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) (*idx)[i] = i;
	return CF_OK;
}

/* The FlowPic CNNs' feed: images (nn_images) into cf_flowpic_batch. */
static void images_clear(void *b) { cf_flowpic_batch_clear(b); }
static void images_put(const cf_model *m, const void *data, void *b, int k, size_t i, uint64_t seed)
{
	(void)m;
	(void)k; /* the batch appends: k is its count */
	const nn_images *d = data;
	size_t o = d->off[i], n = (size_t)(d->off[i + 1] - o);
	cf_flowpic_batch_add_sparse(b, n, d->pc + o, d->py + o, d->px + o, d->pv + o, d->label[i], seed);
}
static void images_finish(const cf_model *m, const void *data, void *b) { (void)m; (void)data; (void)b; }
static const int32_t *images_labels(const void *b) { return ((const cf_flowpic_batch *)b)->label; }

static void images_feed(nn_feed *f, const nn_images *d, cf_flowpic_batch *b)
{
	f->data = d;
	f->batch = b;
	f->clear = images_clear;
	f->put = images_put;
	f->finish = images_finish;
	f->labels = images_labels;
}

/* The largest pixel count of any image: a batch of `batch` such images
 * never makes the batch grow while filling. */
static size_t images_nnz_cap(const nn_images *d, int batch)
{
	size_t mx = 1;
	for (size_t i = 0; i < d->n; i++)
		if (d->off[i + 1] - d->off[i] > mx) mx = (size_t)(d->off[i + 1] - d->off[i]);
	return mx * (size_t)batch;
}

static int train_flowpic(const char *const *inputs, int n_inputs, const char *out_dir, const cf_train_opts *o,
                         char *errbuf)
{
	nn_images d = {0}, vd = {0}, xd = {0};
	cf_model *m = NULL;
	cf_flowpic_batch b = {0};
	size_t *perm = NULL, *vidx = NULL, *xidx = NULL;
	int rc = nn_images_load(&d, inputs, n_inputs, NULL, 0, o->max_flows, o->on_progress, o->user, errbuf);
	if (rc) goto out;
	if (d.n_classes < 2 || d.n == 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "training needs labelled images of at least two classes; the inputs give %llu "
		         "images of %d classes", (unsigned long long)d.n, d.n_classes);
		rc = CF_ERR_NO_DATA;
		goto out;
	}
	if (o->n_val_inputs > 0) {
		if ((rc = nn_images_load(&vd, o->val_inputs, o->n_val_inputs, d.classes, d.n_classes, 0, o->on_progress,
		                         o->user, errbuf)) ||
		    (rc = nn_own_split(vd.n, &vidx)))
			goto out;
	}
	if (o->n_test_inputs > 0 &&
	    ((rc = nn_images_load(&xd, o->test_inputs, o->n_test_inputs, d.classes, d.n_classes, 0, o->on_progress,
	                          o->user, errbuf)) ||
	     (rc = nn_own_split(xd.n, &xidx))))
		goto out;
	if (o->n_test_inputs > 0 && xd.n == 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "the test set holds no image of the training data's classes");
		rc = CF_ERR_NO_DATA;
		goto out;
	}
	cf_flowpic_cnn_config c = o->cnn;
	c.kind = o->kind == CF_MODEL_FLOWPIC_MINI ? CF_FLOWPIC_CNN_MINI : CF_FLOWPIC_CNN_OFFICIAL;
	c.channels = d.channels;
	c.size = d.size;
	c.classes = d.n_classes;
	int batch = o->batch > 0 ? o->batch : 128;
	if ((rc = nn_model_create_flowpic(&c, o->seed, (const char *const *)d.classes, &m, errbuf)) ||
	    (rc = cf_model_set_backend(m, o->backend, batch, errbuf)))
		goto out;
	if (d.preset && d.options && (!(m->fp_preset = strdup(d.preset)) || !(m->fp_options = strdup(d.options)))) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	size_t cap = images_nnz_cap(&d, batch), vcap = vd.n ? images_nnz_cap(&vd, batch) : 0;
	size_t xcap = xd.n ? images_nnz_cap(&xd, batch) : 0;
	if (vcap > cap) cap = vcap;
	if (xcap > cap) cap = xcap;
	if (cf_flowpic_batch_alloc(&b, &c, batch, cap)) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	uint64_t rs;
	nn_splits sp;
	if ((rc = nn_split(d.n, o, o->n_val_inputs > 0, &rs, &perm, &sp, errbuf))) goto out;
	if (o->n_val_inputs > 0) {
		sp.val = vidx;
		sp.n_val = vd.n;
	}
	if (o->n_test_inputs > 0) {
		sp.test = xidx;
		sp.n_test = xd.n;
	}
	say(o->on_message, o->user, "%llu images (%d x %d x %d, %llu pixels set), %d classes: %zu train, %zu validation%s, "
	    "%zu test%s; %zu parameters", (unsigned long long)d.n, d.channels, d.size, d.size, (unsigned long long)d.nnz,
	    c.classes, sp.n_train, sp.n_val, o->n_val_inputs > 0 ? " (own set)" : "", sp.n_test,
	    o->n_test_inputs > 0 ? " (own set)" : "", m->n_params);
	if ((rc = nn_mkdir_p(out_dir, errbuf))) goto out;
	if (o->export_dir) {
		/* the initial weights (the images are the flowpic directories themselves) */
		if ((rc = nn_mkdir_p(o->export_dir, errbuf)) || (rc = cf_model_save(m, o->export_dir, errbuf))) goto out;
	}
	nn_feed tf, vf, xf;
	images_feed(&tf, &d, &b);
	images_feed(&vf, o->n_val_inputs > 0 ? &vd : &d, &b);
	images_feed(&xf, o->n_test_inputs > 0 ? &xd : &d, &b);
	rc = nn_fit(m, &tf, &vf, &xf, &sp, d.n, &rs, o, out_dir, "images", errbuf);
out:
	if (rc == CF_ERR_NOMEM && !errbuf[0]) snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	nn_images_free(&d);
	nn_images_free(&vd);
	nn_images_free(&xd);
	free(vidx);
	free(xidx);
	cf_model_free(m);
	cf_flowpic_batch_free(&b);
	free(perm);
	return rc;
}

/* A validation or test set of its own (what: "validation", "test"),
 * labelled onto the training data's classes; its indices 0..n-1. An empty
 * test set is an error (an empty validation set only turns validation off). */
static int load_own_flows(nn_dataset *dst, const char *const *inputs, int n_inputs, const nn_dataset *d,
                          const cf_train_opts *o, const char *what, size_t **idx, char *errbuf)
{
	int rc = nn_dataset_load(dst, inputs, n_inputs, o->label_mode, d->classes, d->n_classes, 0, o->on_progress,
	                         o->user, errbuf);
	if (rc) return rc;
	if (dst->skipped_unknown)
		say(o->on_message, o->user, "%s set: %llu flows of classes the training data lacks, left out", what,
		    (unsigned long long)dst->skipped_unknown);
	if (dst->n == 0 && !strcmp(what, "test")) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "the test set holds no labelled flow of the training data's classes");
		return CF_ERR_NO_DATA;
	}
	return nn_own_split(dst->n, idx);
}

int cf_model_train(const char *const *inputs, int n_inputs, const char *out_dir, const cf_train_opts *o,
                   char *errbuf)
{
	if (o->kind == CF_MODEL_FLOWPIC || o->kind == CF_MODEL_FLOWPIC_MINI)
		return train_flowpic(inputs, n_inputs, out_dir, o, errbuf);
	nn_dataset d = {0}, vd = {0}, xd = {0};
	cf_model *m = NULL;
	cf_nested_batch b = {0};
	size_t *perm = NULL, *vidx = NULL, *xidx = NULL;
	int rc = nn_dataset_load(&d, inputs, n_inputs, o->label_mode, NULL, 0, o->max_flows, o->on_progress, o->user,
	                         errbuf);
	if (rc) goto out;
	if (d.n_classes < 2) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "training needs at least two classes; the inputs give %d (%llu flows, "
		         "%llu without a label)", d.n_classes, (unsigned long long)d.n, (unsigned long long)d.skipped_unlabelled);
		rc = CF_ERR_NO_DATA;
		goto out;
	}
	if ((o->n_val_inputs > 0 &&
	     (rc = load_own_flows(&vd, o->val_inputs, o->n_val_inputs, &d, o, "validation", &vidx, errbuf))) ||
	    (o->n_test_inputs > 0 &&
	     (rc = load_own_flows(&xd, o->test_inputs, o->n_test_inputs, &d, o, "test", &xidx, errbuf))))
		goto out;
	cf_nested_config c = o->model;
	c.classes = d.n_classes;
	int batch = o->batch > 0 ? o->batch : 128;
	if ((rc = cf_model_create(&c, o->seed, (const char *const *)d.classes, &m, errbuf)) ||
	    (rc = cf_model_set_backend(m, o->backend, batch, errbuf)))
		goto out;
	if (cf_nested_batch_alloc(&b, &c, batch)) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	/* the splits: one seeded permutation; test first, then validation */
	uint64_t rs;
	nn_splits sp;
	if ((rc = nn_split(d.n, o, o->n_val_inputs > 0, &rs, &perm, &sp, errbuf))) goto out;
	/* the validation flows: a split of the data, or a set of their own */
	if (o->n_val_inputs > 0) {
		sp.val = vidx;
		sp.n_val = vd.n;
	}
	if (o->n_test_inputs > 0) {
		sp.test = xidx;
		sp.n_test = xd.n;
	}
	say(o->on_message, o->user, "%llu flows, %d classes: %zu train, %zu validation%s, %zu test%s; %zu parameters",
	    (unsigned long long)d.n, c.classes, sp.n_train, sp.n_val, o->n_val_inputs > 0 ? " (own set)" : "", sp.n_test,
	    o->n_test_inputs > 0 ? " (own set)" : "", m->n_params);
	if ((rc = nn_mkdir_p(out_dir, errbuf))) goto out;
	if (o->export_dir) {
		if ((rc = nn_mkdir_p(o->export_dir, errbuf)) ||
		    (rc = export_split(o->export_dir, "train", &c, &d, sp.train, sp.n_train, errbuf)) ||
		    (rc = export_split(o->export_dir, "val", &c, o->n_val_inputs > 0 ? &vd : &d, sp.val, sp.n_val, errbuf)) ||
		    (rc = export_split(o->export_dir, "test", &c, o->n_test_inputs > 0 ? &xd : &d, sp.test, sp.n_test, errbuf)))
			goto out;
		/* the initial weights, so the judge starts where cuflow starts */
		if ((rc = cf_model_save(m, o->export_dir, errbuf))) goto out;
	}
	nn_feed tf, vf, xf;
	nn_nested_feed(&tf, &d, &b);
	nn_nested_feed(&vf, o->n_val_inputs > 0 ? &vd : &d, &b);
	nn_nested_feed(&xf, o->n_test_inputs > 0 ? &xd : &d, &b);
	rc = nn_fit(m, &tf, &vf, &xf, &sp, d.n, &rs, o, out_dir, "flows", errbuf);
out:
	if (rc == CF_ERR_NOMEM && !errbuf[0]) snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	nn_dataset_free(&d);
	nn_dataset_free(&vd);
	nn_dataset_free(&xd);
	free(vidx);
	free(xidx);
	cf_model_free(m);
	cf_nested_batch_free(&b);
	free(perm);
	return rc;
}

int nn_fit(cf_model *m, const nn_feed *tf, const nn_feed *vf, const nn_feed *xf, const nn_splits *sp, size_t n_data,
           uint64_t *rs, const cf_train_opts *o, const char *out_dir, const char *what, char *errbuf)
{
	float *probs = NULL, *grad = NULL, *adam_m = NULL, *adam_v = NULL, *best = NULL;
	double *hist = NULL;
	FILE *mf = NULL;
	cf_npy_writer *order_w = NULL;
	int32_t *order_pos = NULL, *order_row = NULL;
	char path[4096];
	int rc = CF_OK;
	const int C = m->n_classes;
	int batch = o->batch > 0 ? o->batch : 128, epochs = o->epochs > 0 ? o->epochs : 1;
	size_t *train = sp->train, n_train = sp->n_train;
	probs = malloc((size_t)batch * C * sizeof(float));
	grad = malloc(m->n_params * sizeof(float));
	adam_m = calloc(m->n_params, sizeof(float));
	adam_v = calloc(m->n_params, sizeof(float));
	best = malloc(m->n_params * sizeof(float));
	hist = malloc((size_t)epochs * 4 * sizeof(double));
	if (!probs || !grad || !adam_m || !adam_v || !best || !hist) {
		rc = CF_ERR_NOMEM;
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		goto out;
	}
	if (o->export_dir) {
		/* each epoch's batch order, as positions in the exported train split,
		 * so another framework can train on exactly cuflow's batches */
		if (!(order_pos = malloc((n_data ? n_data : 1) * sizeof *order_pos)) ||
		    !(order_row = malloc((n_train ? n_train : 1) * sizeof *order_row))) {
			rc = CF_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < n_train; i++) order_pos[train[i]] = (int32_t)i;
		uint64_t shape[1] = {n_train};
		snprintf(path, sizeof path, "%s/train_order.npy", o->export_dir);
		if ((rc = cf_npy_writer_open(path, CF_NPY_I4, 1, shape, 0, &order_w, errbuf))) goto out;
	}
	snprintf(path, sizeof path, "%s/metrics.csv", out_dir);
	if (!(mf = fopen(path, "w"))) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno));
		rc = CF_ERR_IO;
		goto out;
	}
	fprintf(mf, "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,train_%s_per_s\n", what);
	double lr = o->lr > 0 ? o->lr : 1e-3, best_val = INFINITY, plateau_best = INFINITY;
	int since_best = 0, since_plateau = 0, step = 0, epochs_run = 0;
	const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
	memcpy(best, m->params, m->n_params * sizeof(float));
	for (int ep = 1; ep <= epochs; ep++) {
		double t0 = now_s(), loss_sum = 0;
		uint64_t correct = 0;
		/* a new seeded shuffle of the training samples each epoch */
		for (size_t i = n_train; i > 1; i--) {
			size_t j = (size_t)(nn_rng_next(rs) % i), t = train[i - 1];
			train[i - 1] = train[j];
			train[j] = t;
		}
		if (order_w) {
			for (size_t i = 0; i < n_train; i++) order_row[i] = order_pos[train[i]];
			if ((rc = cf_npy_writer_append(order_w, order_row, 1))) {
				snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_npy_writer_error(order_w));
				goto out;
			}
		}
		/* dropout masks: one seed per sample and epoch, whatever the threads */
		uint64_t seed_base = (o->seed + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)ep * 0xD1B54A32D192ED03ull;
		for (size_t at = 0; at < n_train; at += (size_t)batch) {
			int k = feed_fill(m, tf, train, n_train, at, batch, seed_base);
			double loss = 0;
			if ((rc = nn_model_run_batch(m, tf->batch, k, o->threads, 1.0 / k, 1, probs, grad, &loss))) goto out;
			loss_sum += loss * k;
			const int32_t *lab = tf->labels(tf->batch);
			for (int j = 0; j < k; j++) correct += argmax(probs + (size_t)j * C, C) == lab[j];
			/* Adam, PyTorch's form (bias corrections in the step size) */
			step++;
			double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
			for (size_t q = 0; q < m->n_params; q++) {
				float g = grad[q];
				adam_m[q] = (float)(b1 * adam_m[q] + (1 - b1) * g);
				adam_v[q] = (float)(b2 * adam_v[q] + (1 - b2) * (double)g * g);
				double denom = sqrt(adam_v[q] / bc2) + eps;
				m->params[q] -= (float)(lr / bc1 * adam_m[q] / denom);
			}
		}
		double secs = now_s() - t0;
		cf_epoch_metrics em = {0};
		em.epoch = ep;
		em.loss = loss_sum / (double)n_train;
		em.accuracy = (double)correct / (double)n_train;
		em.lr = lr;
		em.val_loss = em.val_accuracy = NAN;
		if (sp->n_val) {
			scored s = {0};
			if ((rc = score_indices(m, vf, sp->val, sp->n_val, batch, o->threads, probs, &s))) goto out;
			em.val_loss = s.loss / (double)s.n;
			em.val_accuracy = (double)s.correct / (double)s.n;
		}
		em.seconds = now_s() - t0;
		em.train_flows_per_s = (double)n_train / secs;
		double monitor = sp->n_val ? em.val_loss : em.loss;
		if (monitor < best_val) {
			best_val = monitor;
			since_best = 0;
			em.best = 1;
			memcpy(best, m->params, m->n_params * sizeof(float));
		} else
			since_best++;
		/* ReduceLROnPlateau (mode min, relative threshold 1e-4, as PyTorch) */
		if (monitor < plateau_best * (1 - 1e-4)) {
			plateau_best = monitor;
			since_plateau = 0;
		} else if (++since_plateau > o->lr_patience) {
			double nl = lr * o->lr_factor;
			if (nl < o->min_lr) nl = o->min_lr;
			if (lr - nl > 1e-12) say(o->on_message, o->user, "learning rate %.3g -> %.3g", lr, nl);
			lr = nl;
			since_plateau = 0;
		}
		fprintf(mf, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f\n", ep, em.loss, em.accuracy, em.val_loss,
		        em.val_accuracy, em.lr, em.seconds, em.train_flows_per_s);
		fflush(mf);
		hist[ep - 1] = em.loss;
		hist[epochs + ep - 1] = em.val_loss;
		hist[2 * epochs + ep - 1] = em.accuracy;
		hist[3 * epochs + ep - 1] = em.val_accuracy;
		epochs_run = ep;
		if (o->on_epoch) o->on_epoch(o->user, &em);
		if (o->early_stop > 0 && since_best >= o->early_stop) {
			say(o->on_message, o->user, "early stop: no better validation loss for %d epochs", since_best);
			break;
		}
	}
	if (fclose(mf) != 0) {
		mf = NULL;
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: %s", path, strerror(errno));
		rc = CF_ERR_IO;
		goto out;
	}
	mf = NULL;
	if (order_w) {
		rc = cf_npy_writer_close(order_w, errbuf);
		order_w = NULL;
		if (rc) goto out;
	}
	memcpy(m->params, best, m->n_params * sizeof(float));
	if ((rc = cf_model_save(m, out_dir, errbuf))) goto out;
	/* curves over the epochs that ran (the arrays are laid out for `epochs`) */
	for (int k = 1; k < 4; k++) memmove(hist + (size_t)k * epochs_run, hist + (size_t)k * epochs, epochs_run * sizeof(double));
	if ((rc = fill_curves(out_dir, hist, epochs_run, errbuf))) goto out;
	if (sp->n_test) {
		scored s = {0};
		s.confusion = calloc((size_t)C * C, sizeof(uint64_t));
		if (!s.confusion) { rc = CF_ERR_NOMEM; goto out; }
		rc = score_indices(m, xf, sp->test, sp->n_test, batch, o->threads, probs, &s);
		snprintf(path, sizeof path, "%s/test", out_dir);
		if (rc == CF_OK) rc = write_eval(path, m, &s, 0, errbuf);
		if (rc == CF_OK)
			say(o->on_message, o->user, "test: %llu %s, accuracy %.4f", (unsigned long long)s.n, what,
			    (double)s.correct / (double)s.n);
		free(s.confusion);
	}
out:
	if (mf) fclose(mf);
	if (order_w) cf_npy_writer_close(order_w, NULL);
	free(order_pos);
	free(order_row);
	nn_model_error(m, rc, errbuf);
	free(probs); free(grad); free(adam_m); free(adam_v); free(best); free(hist);
	return rc;
}

/* ------------------------------------------------------------ evaluate */

static int evaluate_flowpic(cf_model *m, const char *const *inputs, int n_inputs, const char *out_dir,
                            const cf_eval_opts *o, int batch, char *errbuf)
{
	nn_images d = {0};
	cf_flowpic_batch b = {0};
	size_t *idx = NULL;
	float *probs = NULL;
	scored s = {0};
	int rc = nn_images_load(&d, inputs, n_inputs, m->classes, m->n_classes, o->max_flows, o->on_progress, o->user,
	                        errbuf);
	if (rc) goto out;
	if (d.n == 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "no labelled image of the model's classes in the inputs (%llu others)",
		         (unsigned long long)d.skipped_unlabelled);
		rc = CF_ERR_NO_DATA;
		goto out;
	}
	if (d.channels != m->fcfg.channels || d.size != m->fcfg.size) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "the images are %d x %d x %d; the model reads %d x %d x %d", d.channels, d.size,
		         d.size, m->fcfg.channels, m->fcfg.size, m->fcfg.size);
		rc = CF_ERR_ARG;
		goto out;
	}
	idx = malloc(d.n * sizeof *idx);
	probs = malloc((size_t)batch * m->n_classes * sizeof(float));
	s.confusion = calloc((size_t)m->n_classes * m->n_classes, sizeof(uint64_t));
	if (!idx || !probs || !s.confusion || cf_flowpic_batch_alloc(&b, &m->fcfg, batch, images_nnz_cap(&d, batch))) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < d.n; i++) idx[i] = i;
	nn_feed f;
	images_feed(&f, &d, &b);
	if ((rc = score_indices(m, &f, idx, d.n, batch, o->threads, probs, &s))) goto out;
	rc = write_eval(out_dir, m, &s, d.skipped_unlabelled, errbuf);
	if (rc == CF_OK)
		say(o->on_message, o->user, "%llu images, accuracy %.4f", (unsigned long long)s.n, (double)s.correct / (double)s.n);
out:
	nn_images_free(&d);
	cf_flowpic_batch_free(&b);
	free(idx);
	free(probs);
	free(s.confusion);
	return rc;
}

int cf_model_evaluate(const char *model_dir, const char *const *inputs, int n_inputs, const char *out_dir,
                      const cf_eval_opts *o, char *errbuf)
{
	cf_model *m = NULL;
	nn_dataset d = {0};
	cf_nested_batch b = {0};
	size_t *idx = NULL;
	float *probs = NULL;
	scored s = {0};
	int rc = cf_model_load(model_dir, &m, errbuf);
	if (rc) return rc;
	int batch = o->batch > 0 ? o->batch : 256;
	if ((rc = cf_model_set_backend(m, o->backend, batch, errbuf))) goto out;
	if (m->arch == NN_ARCH_FLOWPIC) {
		rc = evaluate_flowpic(m, inputs, n_inputs, out_dir, o, batch, errbuf);
		goto out;
	}
	rc = nn_dataset_load(&d, inputs, n_inputs, o->label_mode, m->classes, m->n_classes, o->max_flows, o->on_progress,
	                     o->user, errbuf);
	if (rc) goto out;
	if (d.n == 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "no labelled flow of the model's classes in the inputs (%llu unlabelled, %llu "
		         "of other classes)", (unsigned long long)d.skipped_unlabelled, (unsigned long long)d.skipped_unknown);
		rc = CF_ERR_NO_DATA;
		goto out;
	}
	idx = malloc(d.n * sizeof *idx);
	probs = malloc((size_t)batch * m->n_classes * sizeof(float));
	s.confusion = calloc((size_t)m->n_classes * m->n_classes, sizeof(uint64_t));
	if (!idx || !probs || !s.confusion || cf_nested_batch_alloc(&b, &m->cfg, batch)) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < d.n; i++) idx[i] = i;
	nn_feed f;
	nn_nested_feed(&f, &d, &b);
	if ((rc = score_indices(m, &f, idx, d.n, batch, o->threads, probs, &s))) goto out;
	rc = write_eval(out_dir, m, &s, d.skipped_unknown, errbuf);
	if (rc == CF_OK)
		say(o->on_message, o->user, "%llu flows, accuracy %.4f (%llu of unknown classes not scored)",
		    (unsigned long long)s.n, (double)s.correct / (double)s.n, (unsigned long long)d.skipped_unknown);
out:
	nn_model_error(m, rc, errbuf);
	cf_model_free(m);
	nn_dataset_free(&d);
	cf_nested_batch_free(&b);
	free(idx);
	free(probs);
	free(s.confusion);
	return rc;
}

/* A FlowPic CNN straight from captures: the images are made as the model's
 * training images were (meta.json's preset and options, kept in the
 * model's config.json), one batch at a time, and each row is the image's
 * FlowPic index row (what `cuflow flowpic` writes to index.csv for it)
 * with the file, the predicted class and one probability per class. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/backend.h"
#include "cuflow/flowpic.h"
#include "cuflow/flowpic_index.h"
#include "cuflow/flowpic_out.h"
#include "cuflow/scan.h"
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/table.h"
#include "nn/nn_internal.h"

typedef struct cap_run {
	cf_model *m;
	int batch, threads, k;
	int value;               /* enum cf_flowpic_value: the pixels' type */
	cf_flowpic_batch b;
	cf_flowpic_index *ix;
	cf_table_schema *sch;
	cf_table_batch tb;
	cf_sink *sink;
	const char *file;
	char *files;             /* the file's name once per row */
	int32_t *file_off, *pred_off;
	char *pred;
	size_t files_cap, pred_cap;
	float *probs, *pcol;
	int32_t *pc, *py, *px;   /* one image's pixel list */
	float *pv;
	size_t pix_cap;
	uint64_t total;
	int rc;
	char *errbuf;
} cap_run;

static int grow_bytes(char **p, size_t *cap, size_t need)
{
	if (need <= *cap) return 0;
	size_t c = *cap ? *cap : 4096;
	while (c < need) c *= 2;
	char *q = realloc(*p, c);
	if (!q) return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* Runs the model on the images gathered and writes their rows. */
static int flush(cap_run *r)
{
	const int k = r->k, C = r->m->n_classes;
	if (k == 0) return CF_OK;
	int rc = nn_model_run_batch(r->m, &r->b, k, r->threads, 1.0, 0, r->probs, NULL, NULL);
	if (rc) return rc;
	const cf_table_batch *ib = cf_flowpic_index_batch(r->ix);
	size_t fl = strlen(r->file), pl = 0;
	if (grow_bytes(&r->files, &r->files_cap, fl * (size_t)k + 1)) return CF_ERR_NOMEM;
	r->file_off[0] = r->pred_off[0] = 0;
	for (int j = 0; j < k; j++) {
		memcpy(r->files + (size_t)j * fl, r->file, fl);
		r->file_off[j + 1] = (int32_t)(fl * (size_t)(j + 1));
		int best = 0;
		for (int q = 1; q < C; q++)
			if (r->probs[(size_t)j * C + q] > r->probs[(size_t)j * C + best]) best = q;
		size_t nl = strlen(r->m->classes[best]);
		if (grow_bytes(&r->pred, &r->pred_cap, pl + nl + 1)) return CF_ERR_NOMEM;
		memcpy(r->pred + pl, r->m->classes[best], nl);
		pl += nl;
		r->pred_off[j + 1] = (int32_t)pl;
		for (int q = 0; q < C; q++) r->pcol[(size_t)q * r->batch + j] = r->probs[(size_t)j * C + q];
	}
	uint32_t ni = ib->n_columns;
	r->tb.n_rows = k;
	cf_table_batch_set(&r->tb, 0, r->file_off, (const uint8_t *)r->files, NULL);
	for (uint32_t c = 0; c < ni; c++) r->tb.columns[1 + c] = ib->columns[c];
	cf_table_batch_set(&r->tb, 1 + ni, r->pred_off, (const uint8_t *)r->pred, NULL);
	for (int q = 0; q < C; q++) cf_table_batch_set(&r->tb, 2 + ni + (uint32_t)q, r->pcol + (size_t)q * r->batch, NULL, NULL);
	if ((rc = cf_sink_write(r->sink, &r->tb))) {
		snprintf(r->errbuf, CF_ERRBUF_SIZE, "%s", cf_sink_error(r->sink)[0] ? cf_sink_error(r->sink) : "write failed");
		return rc;
	}
	r->total += (uint64_t)k;
	r->k = 0;
	cf_flowpic_batch_clear(&r->b);
	cf_flowpic_index_reset(r->ix);
	return CF_OK;
}

/* cf_flowpic_emit_fn: the image into the batch (its nonzero pixels) and
 * its index row; a full batch is run and written. */
static int on_image(void *user, const cf_flowpic_image *im)
{
	cap_run *r = user;
	const uint64_t plane = (uint64_t)im->res * im->res;
	if (im->n_nonzero > r->pix_cap) {
		size_t c = (size_t)im->n_nonzero;
		int32_t *a = realloc(r->pc, c * 4), *b2, *e;
		if (a) r->pc = a;
		b2 = a ? realloc(r->py, c * 4) : NULL;
		if (b2) r->py = b2;
		e = b2 ? realloc(r->px, c * 4) : NULL;
		if (e) r->px = e;
		float *v = e ? realloc(r->pv, c * 4) : NULL;
		if (!v) return r->rc = CF_ERR_NOMEM, CF_ERR_NOMEM;
		r->pv = v;
		r->pix_cap = c;
	}
	size_t n = 0;
	for (uint64_t j = 0; j < im->n_nonzero; j++) {
		uint64_t at = im->nonzero[j];
		double v;
		if (r->value == CF_FLOWPIC_COUNT) v = ((const uint16_t *)im->pixels)[at];
		else if (r->value == CF_FLOWPIC_CAPPED) v = ((const uint8_t *)im->pixels)[at];
		else v = ((const float *)im->pixels)[at];
		if (v == 0) continue;
		r->pc[n] = (int32_t)(at / plane);
		r->py[n] = (int32_t)(at % plane / im->res);
		r->px[n] = (int32_t)(at % im->res);
		r->pv[n] = (float)v;
		n++;
	}
	if (cf_flowpic_batch_add_sparse(&r->b, n, r->pc, r->py, r->px, r->pv, -1, 0) != 0 ||
	    cf_flowpic_index_add(r->ix, im, -1, NULL) != CF_OK)
		return r->rc = CF_ERR_NOMEM, CF_ERR_NOMEM;
	if (++r->k == r->batch && (r->rc = flush(r)) != CF_OK) return r->rc < 0 ? r->rc : -r->rc;
	return 0;
}

int nn_predict_captures(cf_model *m, const char *const *inputs, int n_inputs, const char *out, const char *format,
                        const cf_predict_opts *o, uint64_t *rows_out, char *errbuf)
{
	cf_flowpic_opts fo;
	char want[1024];
	if (!m->fp_preset || !m->fp_options || cf_flowpic_preset(&fo, m->fp_preset) != CF_OK ||
	    (cf_flowpic_opts_json(&fo, want, sizeof want), strcmp(want, m->fp_options) != 0)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "this model's training images were not made with a plain --preset of `cuflow "
		         "flowpic` (%s), so predict cannot remake them from captures: make the images with the training's "
		         "options and predict on their directory", m->fp_preset ? m->fp_preset : "no preset recorded");
		return CF_ERR_ARG;
	}
	if ((int)cf_flowpic_channels(&fo) != m->fcfg.channels || (int)fo.res != m->fcfg.size) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "the %s preset makes %u x %u x %u images; the model reads %d x %d x %d",
		         m->fp_preset, cf_flowpic_channels(&fo), fo.res, fo.res, m->fcfg.channels, m->fcfg.size, m->fcfg.size);
		return CF_ERR_ARG;
	}
	cap_run r;
	memset(&r, 0, sizeof r);
	r.m = m;
	r.value = fo.value;
	r.batch = o->batch > 0 ? o->batch : 256;
	r.threads = o->threads;
	r.errbuf = errbuf;
	const int C = m->n_classes;
	cf_backend *be = NULL;
	cf_flowpic *fp = NULL;
	int rc = cf_flowpic_index_create((uint32_t)r.batch, 0, &r.ix, errbuf);
	if (!rc) rc = cf_table_schema_create(&r.sch, errbuf);
	if (!rc) rc = cf_table_schema_add(r.sch, "file", CF_DTYPE_STRING, 1, "", "input capture", 0, errbuf);
	const cf_table_schema *is = rc ? NULL : cf_flowpic_index_schema(r.ix);
	for (uint32_t c = 0; !rc && c < cf_table_schema_columns(is); c++) {
		const cf_table_column *col = cf_table_schema_column(is, c);
		rc = cf_table_schema_add(r.sch, col->name, col->dtype, col->width, col->unit, col->doc, col->flags, errbuf);
	}
	if (!rc) rc = cf_table_schema_add(r.sch, "predicted", CF_DTYPE_STRING, 1, "", "class of highest probability", 0, errbuf);
	for (int k = 0; !rc && k < C; k++) {
		char name[CF_COLUMN_NAME_MAX + 1];
		snprintf(name, sizeof name, "p_%.100s", m->classes[k]);
		rc = cf_table_schema_add(r.sch, name, CF_DTYPE_FLOAT32, 1, "", "class probability", 0, errbuf);
	}
	if (rc) goto out;
	r.file_off = malloc(((size_t)r.batch + 1) * sizeof *r.file_off);
	r.pred_off = malloc(((size_t)r.batch + 1) * sizeof *r.pred_off);
	r.probs = malloc((size_t)r.batch * C * sizeof *r.probs);
	r.pcol = malloc((size_t)r.batch * C * sizeof *r.pcol);
	if (!r.file_off || !r.pred_off || !r.probs || !r.pcol || cf_table_batch_init(&r.tb, r.sch, 0) ||
	    cf_flowpic_batch_alloc(&r.b, &m->fcfg, r.batch, (size_t)r.batch * 64)) {
		rc = CF_ERR_NOMEM;
		goto out;
	}
	cf_sink_opts so;
	cf_sink_opts_default(&so);
	if ((rc = cf_sink_open(format, r.sch, out, &so, &r.sink, errbuf))) goto out;
	if ((rc = cf_backend_open(CF_BACKEND_CPU, &be, errbuf))) goto out;
	if ((rc = cf_flowpic_open(&fo, NULL, on_image, &r, &fp, errbuf))) goto out;
	cf_scan_opts sco;
	memset(&sco, 0, sizeof sco);
	cf_decode_opts_default(&sco.decode);
	sco.backend = be;
	for (int fi = 0; fi < n_inputs && rc == CF_OK; fi++) {
		cf_scan_result res;
		r.file = inputs[fi];
		int st = cf_flowpic_scan_file(fp, inputs[fi], &sco, &res);
		if (r.rc) rc = r.rc;
		else if (st < 0 && cf_flowpic_error(fp)[0]) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_flowpic_error(fp));
			rc = st;
		} else if (res.status < 0) {
			/* damage: the images before it are kept, as `cuflow flowpic` does */
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", res.error);
			rc = res.status;
		}
		if (rc == CF_OK || rc == CF_ERR_CORRUPT || rc == CF_ERR_TRUNCATED) {
			int f = flush(&r); /* a batch holds one file's rows */
			if (f) rc = f;
		}
		if (o->on_progress) o->on_progress(o->user, (uint64_t)fi + 1, (uint64_t)n_inputs, r.total);
		if (rc == CF_ERR_CORRUPT || rc == CF_ERR_TRUNCATED) break;
	}
	if (rc == CF_OK || rc == CF_ERR_CORRUPT || rc == CF_ERR_TRUNCATED) {
		char e2[CF_ERRBUF_SIZE] = "";
		int c2 = cf_sink_close(r.sink, NULL, e2);
		r.sink = NULL;
		if (c2 && rc == CF_OK) {
			rc = c2;
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", e2);
		}
	}
out:
	nn_model_error(m, rc, errbuf);
	if (r.sink) cf_sink_abort(r.sink);
	if (rows_out) *rows_out = r.total;
	cf_flowpic_close(fp);
	cf_backend_close(be);
	cf_flowpic_index_free(r.ix);
	cf_table_batch_free(&r.tb);
	cf_table_schema_free(r.sch);
	cf_flowpic_batch_free(&r.b);
	free(r.files); free(r.file_off); free(r.pred_off); free(r.pred); free(r.probs); free(r.pcol);
	free(r.pc); free(r.py); free(r.px); free(r.pv);
	return rc;
}

/* Flow records for the models: loading labelled records, and putting them
 * into batches in either input mode (docs/models.md, "Inputs"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/model.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

void nn_dataset_free(nn_dataset *d)
{
	free(d->pkt_off); free(d->out_off); free(d->in_off); free(d->pkts); free(d->ids);
	free(d->ttl_out); free(d->ttl_in); free(d->root); free(d->label);
	for (int k = 0; k < d->n_classes; k++) free(d->classes[k]);
	free(d->classes);
	memset(d, 0, sizeof *d);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap) return 0;
	size_t c = *cap ? *cap : 1024;
	while (c < need) c *= 2;
	void *q = realloc(*p, c * elem);
	if (!q) return -1;
	*p = q;
	*cap = c;
	return 0;
}

void nn_record_root(const cf_joy_flow *f, double root[5])
{
	root[0] = (double)f->bytes_in;
	root[1] = (double)f->bytes_out;
	root[2] = (double)f->num_pkts_in;
	root[3] = (double)f->num_pkts_out;
	root[4] = (double)(f->time_end_ns - f->time_start_ns) * 1e-9;
}

int nn_dataset_add(nn_dataset *d, const cf_joy_flow *f, int32_t label)
{
	if (d->n + 1 >= d->cap) {
		size_t c = d->cap ? d->cap * 2 : 4096;
		uint64_t *a = realloc(d->pkt_off, (c + 1) * sizeof *a);
		if (!a) return CF_ERR_NOMEM;
		d->pkt_off = a;
		if (!(a = realloc(d->out_off, (c + 1) * sizeof *a))) return CF_ERR_NOMEM;
		d->out_off = a;
		if (!(a = realloc(d->in_off, (c + 1) * sizeof *a))) return CF_ERR_NOMEM;
		d->in_off = a;
		int16_t *t = realloc(d->ttl_out, c * sizeof *t);
		if (!t) return CF_ERR_NOMEM;
		d->ttl_out = t;
		if (!(t = realloc(d->ttl_in, c * sizeof *t))) return CF_ERR_NOMEM;
		d->ttl_in = t;
		double *r = realloc(d->root, c * 5 * sizeof *r);
		if (!r) return CF_ERR_NOMEM;
		d->root = r;
		int32_t *l = realloc(d->label, c * sizeof *l);
		if (!l) return CF_ERR_NOMEM;
		d->label = l;
		if (d->cap == 0) d->pkt_off[0] = d->out_off[0] = d->in_off[0] = 0;
		d->cap = c;
	}
	size_t np = f->npackets;
	if (grow((void **)&d->pkts, &d->pkts_cap, d->n_pkts + np, sizeof(nn_pkt)) ||
	    grow((void **)&d->ids, &d->ids_cap, d->n_ids + f->n_ids_out + f->n_ids_in, sizeof(uint16_t)))
		return CF_ERR_NOMEM;
	for (size_t k = 0; k < np; k++) {
		nn_pkt *p = &d->pkts[d->n_pkts++];
		p->b = f->packets[k].b;
		p->ipt = f->packets[k].ipt;
		p->dir = f->packets[k].dir > 0;
	}
	size_t i = d->n;
	d->pkt_off[i + 1] = d->n_pkts;
	d->out_off[i] = d->n_ids;
	if (f->n_ids_out) memcpy(d->ids + d->n_ids, f->ids_out, f->n_ids_out * sizeof(uint16_t));
	d->n_ids += f->n_ids_out;
	d->out_off[i + 1] = d->n_ids;
	d->in_off[i] = d->n_ids;
	if (f->n_ids_in) memcpy(d->ids + d->n_ids, f->ids_in, f->n_ids_in * sizeof(uint16_t));
	d->n_ids += f->n_ids_in;
	d->in_off[i + 1] = d->n_ids;
	d->ttl_out[i] = (int16_t)f->ttl_out;
	d->ttl_in[i] = (int16_t)f->ttl_in;
	nn_record_root(f, d->root + i * 5);
	d->label[i] = label;
	d->n++;
	return CF_OK;
}

const char *nn_record_label(int mode, const char *path, const cf_joy_flow *f, char *buf, size_t cap)
{
	if (mode == CF_MODEL_LABEL_FIELD) return f->label && f->label[0] ? f->label : NULL;
	const char *slash = strrchr(path, '/');
	if (mode == CF_MODEL_LABEL_FILE) {
		const char *base = slash ? slash + 1 : path;
		size_t n = strcspn(base, ".");
		if (n == 0 || n >= cap) return NULL;
		memcpy(buf, base, n);
		buf[n] = 0;
		return buf;
	}
	/* the directory's name: the path component before the file's */
	if (!slash) return NULL;
	const char *end = slash;
	while (end > path && end[-1] == '/') end--;
	const char *start = end;
	while (start > path && start[-1] != '/') start--;
	size_t n = (size_t)(end - start);
	if (n == 0 || n >= cap || (n == 1 && start[0] == '.')) return NULL;
	memcpy(buf, start, n);
	buf[n] = 0;
	return buf;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Label texts seen so far, in first-seen order; mapped to sorted indices at the end. */
typedef struct label_set {
	char **names;
	int n, cap;
} label_set;

static int label_find_or_add(label_set *s, const char *name)
{
	for (int k = 0; k < s->n; k++)
		if (strcmp(s->names[k], name) == 0) return k;
	if (s->n == s->cap) {
		int c = s->cap ? s->cap * 2 : 16;
		char **q = realloc(s->names, (size_t)c * sizeof *q);
		if (!q) return -1;
		s->names = q;
		s->cap = c;
	}
	if (!(s->names[s->n] = strdup(name))) return -1;
	return s->n++;
}

int nn_dataset_load(nn_dataset *d, const char *const *inputs, int n_inputs, int mode, char *const *fixed_classes,
                    int n_fixed, uint64_t max_flows,
                    void (*progress)(void *, uint64_t, uint64_t, uint64_t), void *user, char *errbuf)
{
	label_set seen = {0};
	char buf[256];
	int rc = CF_OK;
	for (int fi = 0; fi < n_inputs && rc == CF_OK; fi++) {
		/* Joy files and captures through the Joy reader; extract datasets
		 * (a directory: one input, labelled as a file would be) row by row */
		cf_joy_reader *r = NULL;
		nn_extract *x = NULL;
		char path[4096];
		snprintf(path, sizeof path, "%s", inputs[fi]);
		if (nn_extract_is_dataset(path)) {
			size_t pl = strlen(path);
			while (pl > 1 && path[pl - 1] == '/') path[--pl] = 0;
			rc = nn_extract_open(path, &x, errbuf);
		} else {
			rc = cf_joy_reader_open_auto(path, &r, errbuf);
		}
		if (rc != CF_OK) break;
		cf_joy_flow f;
		uint64_t kept = 0;
		while ((rc = x ? nn_extract_next(x, &f) : cf_joy_reader_next(r, &f)) == CF_OK) {
			if (max_flows && d->n >= max_flows) break;
			const char *lab = nn_record_label(mode, path, &f, buf, sizeof buf);
			if (!lab) { d->skipped_unlabelled++; continue; }
			int32_t idx = -1;
			if (fixed_classes) {
				for (int k = 0; k < n_fixed; k++)
					if (strcmp(fixed_classes[k], lab) == 0) { idx = k; break; }
				if (idx < 0) { d->skipped_unknown++; continue; }
			} else if ((idx = label_find_or_add(&seen, lab)) < 0) {
				rc = CF_ERR_NOMEM;
				break;
			}
			if ((rc = nn_dataset_add(d, &f, idx)) != CF_OK) break;
			kept++;
		}
		if (rc == CF_EOF) rc = CF_OK;
		if (rc != CF_OK && rc != CF_ERR_NOMEM)
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", x ? nn_extract_error(x) : cf_joy_reader_error(r));
		else if (rc == CF_ERR_NOMEM) snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: out of memory", inputs[fi]);
		if (r) cf_joy_reader_close(r);
		nn_extract_close(x);
		(void)kept;
		if (progress && rc == CF_OK) progress(user, (uint64_t)fi + 1, (uint64_t)n_inputs, (uint64_t)d->n);
	}
	if (rc == CF_OK && !fixed_classes) {
		/* classes sorted by name, so a model's class order does not depend on input order */
		char **sorted = malloc((size_t)(seen.n ? seen.n : 1) * sizeof *sorted);
		int *map = malloc((size_t)(seen.n ? seen.n : 1) * sizeof *map);
		if (!sorted || !map) rc = CF_ERR_NOMEM;
		else {
			if (seen.n) memcpy(sorted, seen.names, (size_t)seen.n * sizeof *sorted);
			qsort(sorted, (size_t)seen.n, sizeof *sorted, cmp_str);
			for (int k = 0; k < seen.n; k++)
				for (int j = 0; j < seen.n; j++)
					if (seen.names[k] == sorted[j]) map[k] = j;
			for (size_t i = 0; i < d->n; i++) d->label[i] = map[d->label[i]];
			d->classes = sorted;
			d->n_classes = seen.n;
			sorted = NULL;
			seen.n = 0;
		}
		free(sorted);
		free(map);
	} else if (rc == CF_OK) {
		if (!(d->classes = calloc((size_t)n_fixed, sizeof *d->classes))) rc = CF_ERR_NOMEM;
		for (int k = 0; rc == CF_OK && k < n_fixed; k++)
			if (!(d->classes[k] = strdup(fixed_classes[k]))) rc = CF_ERR_NOMEM;
		d->n_classes = n_fixed;
	}
	for (int k = 0; k < seen.n; k++) free(seen.names[k]);
	free(seen.names);
	return rc;
}

/* ------------------------------------------------------------ batches */

void nn_batch_put(const cf_nested_config *c, cf_nested_batch *b, int k, const nn_pkt *pk, size_t npk,
                  const uint16_t *io, size_t nio, const uint16_t *ii, size_t nii, int ttl_out, int ttl_in,
                  const double root[5], int32_t label)
{
	const int Tp = c->max_packets, Ti = c->max_ids, raw = c->reference_compat;
	float *px = b->pkt + (size_t)k * Tp * 3;
	float *ox = b->id_out + (size_t)k * Ti, *ix = b->id_in + (size_t)k * Ti;
	size_t np = npk < (size_t)Tp ? npk : (size_t)Tp;
	size_t no = nio < (size_t)Ti ? nio : (size_t)Ti, ni = nii < (size_t)Ti ? nii : (size_t)Ti;
	memset(px, 0, sizeof(float) * (size_t)Tp * 3);
	memset(ox, 0, sizeof(float) * (size_t)Ti);
	memset(ix, 0, sizeof(float) * (size_t)Ti);
	for (size_t t = 0; t < np; t++) {
		if (raw) {
			px[t * 3] = (float)pk[t].b;
			px[t * 3 + 1] = (float)pk[t].dir;
			px[t * 3 + 2] = (float)pk[t].ipt;
		} else {
			px[t * 3] = (float)(pk[t].b / 1500.0);
			px[t * 3 + 1] = (float)pk[t].dir;
			px[t * 3 + 2] = (float)log1p((double)pk[t].ipt);
		}
	}
	for (size_t t = 0; t < no; t++) ox[t] = raw ? (float)io[t] : (float)(io[t] / 65535.0);
	for (size_t t = 0; t < ni; t++) ix[t] = raw ? (float)ii[t] : (float)(ii[t] / 65535.0);
	/* an empty list is one step of zeros (IntelligentElement's rule; cuDNN rejects length 0) */
	b->pkt_len[k] = np ? (int32_t)np : 1;
	b->id_out_len[k] = no ? (int32_t)no : 1;
	b->id_in_len[k] = ni ? (int32_t)ni : 1;
	int to = ttl_out < 0 ? 0 : ttl_out, tn = ttl_in < 0 ? 0 : ttl_in;
	b->ttl_out[k] = to < c->ttl_vocab ? to : c->ttl_vocab - 1;
	b->ttl_in[k] = tn < c->ttl_vocab ? tn : c->ttl_vocab - 1;
	float *r = b->root + (size_t)k * CF_NESTED_ROOT_FEATURES;
	for (int j = 0; j < 5; j++) {
		double v = root[j];
		if (!raw) v = j == 4 ? log1p(v * 1e3 > 0 ? v * 1e3 : 0) : log1p(v > 0 ? v : 0);
		r[j] = (float)v;
	}
	b->label[k] = label;
	if (k >= b->n) b->n = k + 1;
}

void nn_batch_put_index(const cf_nested_config *c, cf_nested_batch *b, int k, const nn_dataset *d, size_t i)
{
	nn_batch_put(c, b, k, d->pkts + d->pkt_off[i], (size_t)(d->pkt_off[i + 1] - d->pkt_off[i]),
	             d->ids + d->out_off[i], (size_t)(d->out_off[i + 1] - d->out_off[i]), d->ids + d->in_off[i],
	             (size_t)(d->in_off[i + 1] - d->in_off[i]), d->ttl_out[i], d->ttl_in[i], d->root + i * 5,
	             d->label[i]);
}

void nn_batch_finish(const cf_nested_config *c, cf_nested_batch *b)
{
	int tp = 1, to = 1, tn = 1;
	for (int k = 0; k < b->n; k++) {
		if (b->pkt_len[k] > tp) tp = b->pkt_len[k];
		if (b->id_out_len[k] > to) to = b->id_out_len[k];
		if (b->id_in_len[k] > tn) tn = b->id_in_len[k];
	}
	b->t_pkt = tp;
	b->t_ids = to > tn ? to : tn;
	if (!c->reference_compat) return;
	/* the seed's padding: each input (packets, out ids, in ids: separate
	 * IntelligentElement nodes) runs to its batch's longest, over zeros */
	for (int k = 0; k < b->n; k++) {
		b->pkt_len[k] = tp;
		b->id_out_len[k] = to;
		b->id_in_len[k] = tn;
	}
}

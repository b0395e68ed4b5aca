/* predict: records (or captures' flows) in, one row per flow out through a
 * sink, a batch at a time, so memory does not grow with the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/model.h"
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/table.h"
#include "nn/nn_internal.h"

/* The rows of one batch: identities kept beside the model's inputs. */
typedef struct pred_rows {
	int cap, n;
	char *strs;              /* file, sa, da, predicted: concatenated per column */
	size_t strs_cap, strs_len;
	int32_t *off[4];         /* n + 1 offsets per string column, into col_data[k] */
	char *col_data[4];
	size_t col_cap[4], col_len[4];
	uint64_t *record;
	int32_t *sp, *dp, *pr;
	int64_t *t0;
	float *probs;            /* cap x C, row-major; per-class columns are gathered from it */
	float *pcol;             /* C x cap */
} pred_rows;

static int add_str(pred_rows *r, int col, const char *s)
{
	size_t n = strlen(s);
	if (r->col_len[col] + n > r->col_cap[col]) {
		size_t c = r->col_cap[col] ? r->col_cap[col] : 4096;
		while (c < r->col_len[col] + n) c *= 2;
		char *q = realloc(r->col_data[col], c);
		if (!q) return -1;
		r->col_data[col] = q;
		r->col_cap[col] = c;
	}
	memcpy(r->col_data[col] + r->col_len[col], s, n);
	r->col_len[col] += n;
	r->off[col][r->n + 1] = (int32_t)r->col_len[col];
	return 0;
}

static void rows_reset(pred_rows *r)
{
	r->n = 0;
	for (int k = 0; k < 4; k++) { r->col_len[k] = 0; r->off[k][0] = 0; }
}

static void rows_free(pred_rows *r)
{
	for (int k = 0; k < 4; k++) { free(r->off[k]); free(r->col_data[k]); }
	free(r->record); free(r->sp); free(r->dp); free(r->pr); free(r->t0); free(r->probs); free(r->pcol);
}

static const char *ext_format(const char *out)
{
	const char *dot = strrchr(out, '.');
	if (!dot) return "npy";
	if (!strcmp(dot, ".parquet")) return "parquet";
	if (!strcmp(dot, ".csv")) return "csv";
	if (!strcmp(dot, ".jsonl") || !strcmp(dot, ".json")) return "jsonl";
	return "npy";
}

/* 1 when path is a `cuflow flowpic` directory or one of its files. */
static int is_flowpic_input(const char *path)
{
	char p[4200];
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(p, sizeof p, "%s/meta.json", path);
		return stat(p, &st) == 0;
	}
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path) : 1;
	snprintf(p, sizeof p, "%.*s/meta.json", dl, slash ? path : ".");
	return stat(p, &st) == 0;
}

/* A FlowPic CNN over `cuflow flowpic` directories: one row per image, in
 * the directory's order (row k is index.csv's row k). A directory's images
 * are read at once (sparse: a few kB each), then run a batch at a time.
 * Captures go to nn_predict_captures. */
static int predict_images(cf_model *m, const char *const *inputs, int n_inputs, const char *out,
                          const cf_predict_opts *o, uint64_t *rows_out, char *errbuf)
{
	int n_dirs_in = 0;
	for (int i = 0; i < n_inputs; i++) n_dirs_in += is_flowpic_input(inputs[i]);
	if (n_dirs_in == 0)
		return nn_predict_captures(m, inputs, n_inputs, out, o->format ? o->format : ext_format(out), o, rows_out,
		                           errbuf);
	if (n_dirs_in < n_inputs) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "give predict either `cuflow flowpic` directories or captures, not both "
		         "(their rows have different columns)");
		return CF_ERR_ARG;
	}
	const int C = m->n_classes, batch = o->batch > 0 ? o->batch : 256;
	cf_table_schema *sch = NULL;
	cf_sink *sink = NULL;
	cf_flowpic_batch b = {0};
	cf_table_batch tb = {0};
	char **dirnames = NULL;
	uint64_t total = 0;
	int32_t *img = NULL, *off_dir = NULL, *off_pred = NULL;
	float *probs = NULL, *pcol = NULL;
	char *pred_data = NULL;
	size_t pred_cap = 0;
	int rc = cf_table_schema_create(&sch, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "dir", CF_DTYPE_STRING, 1, "", "flowpic output directory", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "image", CF_DTYPE_INT32, 1, "", "row in the directory's flowpic.npy and index.csv", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "predicted", CF_DTYPE_STRING, 1, "", "class of highest probability", 0, errbuf);
	for (int k = 0; !rc && k < C; k++) {
		char name[CF_COLUMN_NAME_MAX + 1];
		snprintf(name, sizeof name, "p_%.100s", m->classes[k]);
		rc = cf_table_schema_add(sch, name, CF_DTYPE_FLOAT32, 1, "", "class probability", 0, errbuf);
	}
	if (rc) goto out;
	cf_sink_opts so;
	cf_sink_opts_default(&so);
	if ((rc = cf_sink_open(o->format ? o->format : ext_format(out), sch, out, &so, &sink, errbuf))) goto out;
	img = malloc((size_t)batch * sizeof *img);
	off_dir = malloc(((size_t)batch + 1) * sizeof *off_dir);
	off_pred = malloc(((size_t)batch + 1) * sizeof *off_pred);
	probs = malloc((size_t)batch * C * sizeof *probs);
	pcol = malloc((size_t)batch * C * sizeof *pcol);
	if (!img || !off_dir || !off_pred || !probs || !pcol || cf_table_batch_init(&tb, sch, 0)) { rc = CF_ERR_NOMEM; goto out; }
	int n_dirs = 0;
	char **dirs = nn_images_dirs(inputs, n_inputs, &n_dirs);
	if (!dirs) { rc = CF_ERR_NOMEM; goto out; }
	for (int fi = 0; fi < n_dirs && rc == CF_OK; fi++) {
		nn_images d = {0};
		/* every image, labelled or not: the rows follow the directory */
		rc = nn_images_load_all(&d, dirs[fi], errbuf);
		if (rc == CF_OK && d.n && (d.channels != m->fcfg.channels || d.size != m->fcfg.size)) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: images are %d x %d x %d; the model reads %d x %d x %d", dirs[fi],
			         d.channels, d.size, d.size, m->fcfg.channels, m->fcfg.size, m->fcfg.size);
			rc = CF_ERR_ARG;
		}
		if (rc == CF_OK && !b.cap) {
			size_t mx = 1;
			for (size_t i = 0; i < d.n; i++)
				if (d.off[i + 1] - d.off[i] > mx) mx = (size_t)(d.off[i + 1] - d.off[i]);
			if (cf_flowpic_batch_alloc(&b, &m->fcfg, batch, mx * (size_t)batch)) rc = CF_ERR_NOMEM;
		}
		size_t dl = strlen(dirs[fi]);
		for (size_t at = 0; rc == CF_OK && at < d.n; at += (size_t)batch) {
			int k = 0;
			cf_flowpic_batch_clear(&b);
			for (; k < batch && at + (size_t)k < d.n; k++) {
				size_t i = at + (size_t)k, po = d.off[i];
				if (cf_flowpic_batch_add_sparse(&b, (size_t)(d.off[i + 1] - po), d.pc + po, d.py + po, d.px + po,
				                                d.pv + po, -1, 0) == -1) {
					rc = CF_ERR_NOMEM;
					break;
				}
				img[k] = (int32_t)i;
			}
			if (rc || (rc = nn_model_run_batch(m, &b, k, o->threads, 1.0, 0, probs, NULL, NULL))) break;
			size_t need = (size_t)k * 128;
			if (need > pred_cap) {
				char *q = realloc(pred_data, need);
				if (!q) { rc = CF_ERR_NOMEM; break; }
				pred_data = q;
				pred_cap = need;
			}
			char *dd = realloc(dirnames ? dirnames[0] : NULL, dl * (size_t)k + 1);
			if (!dd) { rc = CF_ERR_NOMEM; break; }
			if (!dirnames && !(dirnames = calloc(1, sizeof *dirnames))) { free(dd); rc = CF_ERR_NOMEM; break; }
			dirnames[0] = dd;
			size_t pl = 0;
			off_dir[0] = off_pred[0] = 0;
			for (int j = 0; j < k; j++) {
				memcpy(dd + (size_t)j * dl, dirs[fi], dl);
				off_dir[j + 1] = (int32_t)(dl * (size_t)(j + 1));
				int best = 0;
				for (int q = 1; q < C; q++)
					if (probs[(size_t)j * C + q] > probs[(size_t)j * C + best]) best = q;
				size_t nl = strlen(m->classes[best]);
				if (pl + nl > pred_cap) {
					char *q = realloc(pred_data, (pl + nl) * 2);
					if (!q) { rc = CF_ERR_NOMEM; break; }
					pred_data = q;
					pred_cap = (pl + nl) * 2;
				}
				memcpy(pred_data + pl, m->classes[best], nl);
				pl += nl;
				off_pred[j + 1] = (int32_t)pl;
				for (int q = 0; q < C; q++) pcol[(size_t)q * batch + j] = probs[(size_t)j * C + q];
			}
			if (rc) break;
			tb.n_rows = k;
			cf_table_batch_set(&tb, 0, off_dir, (const uint8_t *)dd, NULL);
			cf_table_batch_set(&tb, 1, img, NULL, NULL);
			cf_table_batch_set(&tb, 2, off_pred, (const uint8_t *)pred_data, NULL);
			for (int q = 0; q < C; q++) cf_table_batch_set(&tb, 3 + (uint32_t)q, pcol + (size_t)q * batch, NULL, NULL);
			if ((rc = cf_sink_write(sink, &tb))) {
				snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_sink_error(sink)[0] ? cf_sink_error(sink) : "write failed");
				break;
			}
			total += (uint64_t)k;
			if (o->on_progress) o->on_progress(o->user, (uint64_t)fi, (uint64_t)n_dirs, total);
		}
		nn_images_free(&d);
	}
	for (int i = 0; i < n_dirs; i++) free(dirs[i]);
	free(dirs);
	if (rc == CF_OK) {
		rc = cf_sink_close(sink, NULL, errbuf);
		sink = NULL;
	}
out:
	nn_model_error(m, rc, errbuf);
	if (sink) cf_sink_abort(sink);
	if (rows_out) *rows_out = total;
	cf_table_batch_free(&tb);
	cf_table_schema_free(sch);
	cf_flowpic_batch_free(&b);
	if (dirnames) free(dirnames[0]);
	free(dirnames);
	free(img); free(off_dir); free(off_pred); free(probs); free(pcol); free(pred_data);
	return rc;
}

int cf_model_predict(const char *model_dir, const char *const *inputs, int n_inputs, const char *out,
                     const cf_predict_opts *o, uint64_t *flows_out, char *errbuf)
{
	cf_model *m = NULL;
	cf_table_schema *sch = NULL;
	cf_sink *sink = NULL;
	cf_nested_batch b = {0};
	cf_table_batch tb = {0};
	pred_rows r = {0};
	uint64_t total = 0;
	int rc = cf_model_load(model_dir, &m, errbuf);
	if (rc) return rc;
	if ((rc = cf_model_set_backend(m, o->backend, o->batch > 0 ? o->batch : 256, errbuf))) {
		cf_model_free(m);
		return rc;
	}
	if (m->arch == NN_ARCH_FLOWPIC) {
		rc = predict_images(m, inputs, n_inputs, out, o, flows_out, errbuf);
		cf_model_free(m);
		return rc;
	}
	const cf_nested_config *c = &m->cfg;
	const int C = c->classes, batch = o->batch > 0 ? o->batch : 256;
	if ((rc = cf_table_schema_create(&sch, errbuf))) goto out;
	rc = cf_table_schema_add(sch, "file", CF_DTYPE_STRING, 1, "", "input file", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "record", CF_DTYPE_UINT64, 1, "", "record's line in a Joy file, or the flow's ordinal in a capture", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "sa", CF_DTYPE_STRING, 1, "", "source address (Joy's sa)", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "sp", CF_DTYPE_INT32, 1, "", "source port, -1 when none", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "da", CF_DTYPE_STRING, 1, "", "destination address", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "dp", CF_DTYPE_INT32, 1, "", "destination port, -1 when none", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "pr", CF_DTYPE_INT32, 1, "", "IP protocol", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "time_start", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "first packet", 0, errbuf);
	if (!rc) rc = cf_table_schema_add(sch, "predicted", CF_DTYPE_STRING, 1, "", "class of highest probability", 0, errbuf);
	for (int k = 0; !rc && k < C; k++) {
		char name[CF_COLUMN_NAME_MAX + 1];
		snprintf(name, sizeof name, "p_%.100s", m->classes[k]);
		rc = cf_table_schema_add(sch, name, CF_DTYPE_FLOAT32, 1, "", "class probability", 0, errbuf);
	}
	if (rc) goto out;
	cf_sink_opts so;
	cf_sink_opts_default(&so);
	const char *fmt = o->format ? o->format : ext_format(out);
	if ((rc = cf_sink_open(fmt, sch, out, &so, &sink, errbuf))) goto out;
	if (cf_nested_batch_alloc(&b, c, batch) || cf_table_batch_init(&tb, sch, 0)) { rc = CF_ERR_NOMEM; goto out; }
	r.cap = batch;
	for (int k = 0; k < 4; k++)
		if (!(r.off[k] = calloc((size_t)batch + 1, sizeof(int32_t)))) { rc = CF_ERR_NOMEM; goto out; }
	r.record = calloc((size_t)batch, sizeof *r.record);
	r.sp = calloc((size_t)batch, sizeof(int32_t));
	r.dp = calloc((size_t)batch, sizeof(int32_t));
	r.pr = calloc((size_t)batch, sizeof(int32_t));
	r.t0 = calloc((size_t)batch, sizeof(int64_t));
	r.probs = calloc((size_t)batch * C, sizeof(float));
	r.pcol = calloc((size_t)batch * C, sizeof(float));
	if (!r.record || !r.sp || !r.dp || !r.pr || !r.t0 || !r.probs || !r.pcol) { rc = CF_ERR_NOMEM; goto out; }
	rows_reset(&r);
	cf_nested_batch_clear(&b);
	for (int fi = 0; fi <= n_inputs && rc == CF_OK; fi++) {
		cf_joy_reader *rd = NULL;
		int last = fi == n_inputs;
		if (!last && nn_extract_is_dataset(inputs[fi])) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: an extract dataset; predict reads captures and Joy files (its "
			         "rows are for train and evaluate)", inputs[fi]);
			rc = CF_ERR_ARG;
			break;
		}
		if (!last && (rc = cf_joy_reader_open_auto(inputs[fi], &rd, errbuf))) break;
		cf_joy_flow f;
		for (;;) {
			int more = 0;
			if (!last) {
				int r2 = cf_joy_reader_next(rd, &f);
				if (r2 == CF_OK) more = 1;
				else if (r2 != CF_EOF) {
					snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_joy_reader_error(rd));
					rc = r2;
					break;
				}
			}
			if (more) {
				double root[5];
				nn_record_root(&f, root);
				int k = r.n;
				/* the packets: Joy's entries into the model's rows */
				{
					nn_pkt tmp[512];
					size_t np = f.npackets < 512 ? f.npackets : 512;
					for (size_t q = 0; q < np; q++) {
						tmp[q].b = f.packets[q].b;
						tmp[q].ipt = f.packets[q].ipt;
						tmp[q].dir = f.packets[q].dir > 0;
					}
					nn_batch_put(c, &b, k, tmp, np, f.ids_out, f.n_ids_out, f.ids_in, f.n_ids_in, f.ttl_out,
					             f.ttl_in, root, -1);
				}
				if (add_str(&r, 0, inputs[fi]) || add_str(&r, 1, f.sa) || add_str(&r, 2, f.da)) {
					rc = CF_ERR_NOMEM;
					break;
				}
				r.record[k] = f.line;
				r.sp[k] = f.sp;
				r.dp[k] = f.dp;
				r.pr[k] = f.pr;
				r.t0[k] = f.time_start_ns;
				r.n++;
			}
			if (r.n == batch || (!more && r.n > 0)) {
				nn_batch_finish(c, &b);
				if ((rc = cf_model_forward(m, &b, o->threads, r.probs, errbuf))) break;
				r.col_len[3] = 0;
				const int rows = r.n;
				for (int k = 0; k < rows; k++) {
					int best = 0;
					for (int j = 1; j < C; j++)
						if (r.probs[(size_t)k * C + j] > r.probs[(size_t)k * C + best]) best = j;
					r.n = k; /* add_str writes offset k+1 */
					if (add_str(&r, 3, m->classes[best])) { rc = CF_ERR_NOMEM; break; }
					for (int j = 0; j < C; j++) r.pcol[(size_t)j * batch + k] = r.probs[(size_t)k * C + j];
				}
				if (rc) break;
				r.n = rows;
				tb.n_rows = r.n;
				cf_table_batch_set(&tb, 0, r.off[0], (const uint8_t *)r.col_data[0], NULL);
				cf_table_batch_set(&tb, 1, r.record, NULL, NULL);
				cf_table_batch_set(&tb, 2, r.off[1], (const uint8_t *)r.col_data[1], NULL);
				cf_table_batch_set(&tb, 3, r.sp, NULL, NULL);
				cf_table_batch_set(&tb, 4, r.off[2], (const uint8_t *)r.col_data[2], NULL);
				cf_table_batch_set(&tb, 5, r.dp, NULL, NULL);
				cf_table_batch_set(&tb, 6, r.pr, NULL, NULL);
				cf_table_batch_set(&tb, 7, r.t0, NULL, NULL);
				cf_table_batch_set(&tb, 8, r.off[3], (const uint8_t *)r.col_data[3], NULL);
				for (int j = 0; j < C; j++) cf_table_batch_set(&tb, 9 + (uint32_t)j, r.pcol + (size_t)j * batch, NULL, NULL);
				if ((rc = cf_sink_write(sink, &tb))) {
					snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_sink_error(sink)[0] ? cf_sink_error(sink) : "write failed");
					break;
				}
				total += (uint64_t)r.n;
				rows_reset(&r);
				cf_nested_batch_clear(&b);
				if (o->on_progress) o->on_progress(o->user, (uint64_t)fi, (uint64_t)n_inputs, total);
			}
			if (!more) break;
		}
		if (rd) cf_joy_reader_close(rd);
	}
	if (rc == CF_OK) {
		cf_sink_stats st;
		rc = cf_sink_close(sink, &st, errbuf);
		sink = NULL;
	}
out:
	nn_model_error(m, rc, errbuf);
	if (sink) cf_sink_abort(sink);
	if (flows_out) *flows_out = total;
	cf_table_batch_free(&tb);
	cf_table_schema_free(sch);
	cf_nested_batch_free(&b);
	rows_free(&r);
	cf_model_free(m);
	return rc;
}

/* `cuflow extract` datasets (the npy layout: features, sequences, lengths,
 * labels and schema.json, whole or in shards) read as flow records for the
 * nested model, one row at a time (docs/models.md, "Inputs"):
 *   packets     sequences[i, t] for t < lengths[i]: b = size_bytes (the IP
 *               packet's length, not Joy's payload bytes), dir = the sign of
 *               direction, ipt = iat_ns in whole milliseconds (Joy's unit);
 *   totals      src2dst/dst2src bytes and packets, the duration;
 *   label       labels.npy's class through schema.json's labels.names;
 *   TTLs, IP ids  absent (extract does not keep them): the TTL embedding
 *               reads row 0 and the id LSTMs one step of zeros.
 * A model learns the inputs it was trained on: records from captures or
 * Joy files and rows of an extract dataset describe packets differently. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cuflow/npy_read.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"

enum { X_BYTES_OUT, X_BYTES_IN, X_PKTS_OUT, X_PKTS_IN, X_DURATION, X_COLS };
static const char *const x_names[X_COLS] = {"src2dst_bytes", "dst2src_bytes", "src2dst_packets", "dst2src_packets",
                                            "bidirectional_duration_ns"};

struct nn_extract {
	char dir[4096];
	int col[X_COLS];      /* feature column of each total */
	char **names;         /* labels.names */
	int n_names;
	int sharded, shard;   /* shard: the next one to open */
	cf_npy_file feat, seq, len, lab;
	uint64_t rows, row;   /* of the open shard */
	unsigned char *frow, *srow;
	size_t frow_cap, srow_cap;
	cf_joy_packet *pk;
	size_t pk_cap;
	uint64_t record;      /* rows read so far, all shards */
	char err[CF_ERRBUF_SIZE];
};

int cf_model_input_is_dataset(const char *path) { return nn_extract_is_dataset(path); }

int nn_extract_is_dataset(const char *path)
{
	struct stat st;
	char p[4200];
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
	snprintf(p, sizeof p, "%s/schema.json", path);
	size_t n;
	char why[CF_ERRBUF_SIZE];
	char *js = nn_slurp(p, &n, why);
	int yes = js && nn_json_value(js, "sequences") && nn_json_value(js, "features");
	free(js);
	return yes;
}

static void close_shard(nn_extract *x)
{
	cf_npy_file *f[] = {&x->feat, &x->seq, &x->len, &x->lab};
	for (int k = 0; k < 4; k++)
		if (f[k]->f) fclose(f[k]->f);
	memset(&x->feat, 0, sizeof x->feat);
	memset(&x->seq, 0, sizeof x->seq);
	memset(&x->len, 0, sizeof x->len);
	memset(&x->lab, 0, sizeof x->lab);
}

static void shard_path(const nn_extract *x, const char *base, char *out, size_t cap)
{
	if (x->sharded) snprintf(out, cap, "%s/%s-%05d.npy", x->dir, base, x->shard);
	else snprintf(out, cap, "%s/%s.npy", x->dir, base);
}

/* Opens the next shard: CF_OK, CF_EOF after the last, or an error. */
static int open_shard(nn_extract *x)
{
	close_shard(x);
	char p[4300];
	struct stat st;
	if (!x->sharded && x->shard > 0) return CF_EOF;
	shard_path(x, "features", p, sizeof p);
	if (stat(p, &st) != 0) return CF_EOF;
	int rc = cf_npy_file_open(p, &x->feat, x->err);
	shard_path(x, "sequences", p, sizeof p);
	if (!rc) rc = cf_npy_file_open(p, &x->seq, x->err);
	shard_path(x, "lengths", p, sizeof p);
	if (!rc) rc = cf_npy_file_open(p, &x->len, x->err);
	shard_path(x, "labels", p, sizeof p);
	if (!rc && stat(p, &st) == 0) rc = cf_npy_file_open(p, &x->lab, x->err);
	if (rc) return rc;
	uint64_t n = x->feat.shape[0];
	/* extract writes 66 (or so) feature columns and sequences of at most a
	 * few thousand steps: far larger rows are damage, not data */
	if (x->feat.shape[1] > 65536 || x->seq.shape[1] > 65536) {
		snprintf(x->err, sizeof x->err, "%.300s: shard %d: rows of %llu features or %llu sequence steps are not an "
		         "extract dataset's", x->dir, x->shard, (unsigned long long)x->feat.shape[1],
		         (unsigned long long)x->seq.shape[1]);
		return CF_ERR_CORRUPT;
	}
	if (x->feat.ndim != 2 || x->feat.kind != 'f' || x->seq.ndim != 3 || x->seq.shape[2] != 3 || x->seq.kind != 'f' ||
	    x->len.ndim != 1 || x->seq.shape[0] != n || x->len.shape[0] != n || x->len.kind == 'f' ||
	    (x->lab.f && (x->lab.ndim != 1 || x->lab.shape[0] != n || x->lab.kind == 'f'))) {
		snprintf(x->err, sizeof x->err, "%.300s: shard %d: not an extract dataset's shapes (features N x F float, "
		         "sequences N x L x 3 float, lengths, labels N integers)", x->dir, x->shard);
		return CF_ERR_CORRUPT;
	}
	for (int k = 0; k < X_COLS; k++)
		if ((uint64_t)x->col[k] >= x->feat.shape[1]) {
			snprintf(x->err, sizeof x->err, "%.400s: features.npy has %llu columns; schema.json puts %s at %d", x->dir,
			         (unsigned long long)x->feat.shape[1], x_names[k], x->col[k]);
			return CF_ERR_CORRUPT;
		}
	size_t fb = (size_t)x->feat.shape[1] * (size_t)x->feat.size, sb = (size_t)x->seq.shape[1] * 3 * (size_t)x->seq.size;
	if (fb > x->frow_cap) {
		free(x->frow);
		if (!(x->frow = malloc(fb))) return CF_ERR_NOMEM;
		x->frow_cap = fb;
	}
	if (sb > x->srow_cap) {
		free(x->srow);
		if (!(x->srow = malloc(sb ? sb : 1))) return CF_ERR_NOMEM;
		x->srow_cap = sb;
	}
	if (x->seq.shape[1] > x->pk_cap) {
		free(x->pk);
		if (!(x->pk = malloc((size_t)x->seq.shape[1] * sizeof *x->pk))) return CF_ERR_NOMEM;
		x->pk_cap = (size_t)x->seq.shape[1];
	}
	x->rows = n;
	x->row = 0;
	x->shard++;
	return CF_OK;
}

void nn_extract_close(nn_extract *x)
{
	if (!x) return;
	close_shard(x);
	for (int k = 0; k < x->n_names; k++) free(x->names[k]);
	free(x->names);
	free(x->frow);
	free(x->srow);
	free(x->pk);
	free(x);
}

int nn_extract_open(const char *dir, nn_extract **out, char *errbuf)
{
	*out = NULL;
	nn_extract *x = calloc(1, sizeof *x);
	if (!x) return CF_ERR_NOMEM;
	snprintf(x->dir, sizeof x->dir, "%s", dir);
	size_t dl = strlen(x->dir);
	while (dl > 1 && x->dir[dl - 1] == '/') x->dir[--dl] = 0;
	char p[4200];
	snprintf(p, sizeof p, "%s/schema.json", x->dir);
	size_t n;
	char *js = nn_slurp(p, &n, errbuf);
	if (!js) { nn_extract_close(x); return CF_ERR_IO; }
	/* the feature columns, in order: {"name": ...} entries up to "sequences" */
	for (int k = 0; k < X_COLS; k++) x->col[k] = -1;
	const char *fe = nn_json_value(js, "features"), *se = nn_json_value(js, "sequences");
	const char *c = fe ? strstr(fe, "\"columns\"") : NULL;
	int idx = 0;
	char name[128];
	while (c && (c = strstr(c, "\"name\"")) != NULL && (!se || c < se)) {
		c += 6;
		while (*c == ' ' || *c == ':') c++;
		if (!(c = nn_json_string(c, name, sizeof name))) break;
		for (int k = 0; k < X_COLS; k++)
			if (!strcmp(name, x_names[k])) x->col[k] = idx;
		idx++;
	}
	const char *labels = nn_json_value(js, "labels");
	if (labels && *labels == '{') x->names = nn_json_strings(nn_json_value(labels, "names"), &x->n_names);
	free(js);
	for (int k = 0; k < X_COLS; k++)
		if (x->col[k] < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: schema.json names no feature column %s: not an extract dataset "
			         "the models read", p, x_names[k]);
			nn_extract_close(x);
			return CF_ERR_CORRUPT;
		}
	struct stat st;
	snprintf(p, sizeof p, "%s/features.npy", x->dir);
	if (stat(p, &st) != 0) {
		snprintf(p, sizeof p, "%s/features-00000.npy", x->dir);
		if (stat(p, &st) != 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%.400s: no features.npy (nor features-00000.npy): the models read "
			         "extract's npy layout (--format npy, the default)", x->dir);
			nn_extract_close(x);
			return CF_ERR_IO;
		}
		x->sharded = 1;
	}
	int rc = open_shard(x);
	if (rc == CF_EOF) rc = CF_OK, x->rows = 0;
	if (rc) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", rc == CF_ERR_NOMEM ? "out of memory" : x->err);
		nn_extract_close(x);
		return rc;
	}
	*out = x;
	return CF_OK;
}

const char *nn_extract_error(const nn_extract *x) { return x->err; }

int nn_extract_next(nn_extract *x, cf_joy_flow *f)
{
	while (x->row >= x->rows) {
		if (x->rows == 0 && !x->feat.f) return CF_EOF;
		int rc = open_shard(x);
		if (rc == CF_EOF) {
			x->rows = 0;
			return CF_EOF;
		}
		if (rc) return rc;
	}
	size_t fb = (size_t)x->feat.shape[1] * (size_t)x->feat.size;
	size_t L = (size_t)x->seq.shape[1], sb = L * 3 * (size_t)x->seq.size;
	unsigned char lenb[8], labb[8];
	if (fread(x->frow, 1, fb, x->feat.f) != fb || (sb && fread(x->srow, 1, sb, x->seq.f) != sb) ||
	    fread(lenb, 1, (size_t)x->len.size, x->len.f) != (size_t)x->len.size ||
	    (x->lab.f && fread(labb, 1, (size_t)x->lab.size, x->lab.f) != (size_t)x->lab.size)) {
		snprintf(x->err, sizeof x->err, "%.400s: shard %d ends before its row %llu (truncated arrays)", x->dir,
		         x->shard - 1, (unsigned long long)x->row);
		return CF_ERR_TRUNCATED;
	}
	memset(f, 0, sizeof *f);
	double len = cf_npy_file_value(&x->len, lenb);
	size_t np = len <= 0 ? 0 : len >= (double)L ? L : (size_t)len;
	for (size_t t = 0; t < np; t++) {
		const unsigned char *e = x->srow + t * 3 * (size_t)x->seq.size;
		double sz = cf_npy_file_value(&x->seq, e), iat = cf_npy_file_value(&x->seq, e + x->seq.size);
		double dir = cf_npy_file_value(&x->seq, e + 2 * (size_t)x->seq.size);
		x->pk[t].b = sz > 0 && sz < 4294967295.0 ? (uint32_t)sz : 0;
		x->pk[t].dir = dir < 0 ? -1 : 1;
		double ms = iat > 0 ? floor(iat / 1e6 + 0.5) : 0;
		x->pk[t].ipt = ms < 4294967295.0 ? (uint32_t)ms : UINT32_MAX;
	}
	double v[X_COLS];
	for (int k = 0; k < X_COLS; k++) {
		v[k] = cf_npy_file_value(&x->feat, x->frow + (size_t)x->col[k] * (size_t)x->feat.size);
		if (!(v[k] > 0)) v[k] = 0; /* NaN too */
	}
	f->sp = f->dp = -1;
	f->bytes_out = (uint64_t)v[X_BYTES_OUT];
	f->bytes_in = (uint64_t)v[X_BYTES_IN];
	f->num_pkts_out = (uint64_t)v[X_PKTS_OUT];
	f->num_pkts_in = (uint64_t)v[X_PKTS_IN];
	f->has_in = f->num_pkts_in > 0;
	f->time_end_ns = v[X_DURATION] < 9.2e18 ? (int64_t)v[X_DURATION] : INT64_MAX;
	f->npackets = np;
	f->packets = x->pk;
	f->ttl_out = f->ttl_in = -1;
	f->line = ++x->record;
	if (x->lab.f) {
		double id = cf_npy_file_value(&x->lab, labb);
		if (id >= 0 && id < x->n_names) f->label = x->names[(int)id];
	}
	x->row++;
	return CF_OK;
}

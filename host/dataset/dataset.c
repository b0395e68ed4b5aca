/*
 * cuflow dataset: a training set from the sessions database (seed 002's
 * "Outstanding" list). Every definition implemented here is written down
 * in docs/dataset.md, and tests/oracles/dataset_prep_ref.py implements the
 * same definitions again with pandas and scikit-learn.
 *
 * The steps, in order: run the query and keep every value; label the
 * rows; split them (stratified, seeded); fit scaling, category maps and
 * the DNS names on the training rows only; write X/y/idx per split,
 * maps.json and optionally dataset.parquet into DIR.tmp-<pid>; rename.
 */
#define _GNU_SOURCE /* qsort_r */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cuflow/dataset.h"
#include "cuflow/npy.h"
#include "cuflow/sink.h"
#include "cuflow/table.h"
#include "common/text_fmt.h"
#include "cuflow/errbuf.h"

const char cf_dataset_default_sql[] =
	"select s.srcport, s.dstport, s.lensum, s.pktcount,\n"
	"       abs(s.endtime - s.starttime) as durn, d.manufacturer, d.device_type, d.mac\n"
	"from sessions s inner join v_session_mnf_devicetype d on s.sessionid = d.sessionid\n"
	"where d.device_type is not null";

static const char *const split_names[3] = {"train", "val", "test"};

void cf_dataset_opts_default(cf_dataset_opts *o)
{
	memset(o, 0, sizeof *o);
	o->top_dns = 100;
	o->min_count = 1;
	o->splits[0] = 70, o->splits[1] = 15, o->splits[2] = 15;
}

int cf_dataset_check_splits(const double splits[3], char *errbuf)
{
	double sum = 0;
	for (int i = 0; i < 3; i++) {
		if (!isfinite(splits[i]) || splits[i] < 0)
			return cf_errf(errbuf, CF_ERR_ARG, "splits: %s percentage must be a number >= 0", split_names[i]);
		sum += splits[i];
	}
	if (fabs(sum - 100.0) > 1e-9)
		return cf_errf(errbuf, CF_ERR_ARG, "splits: the three percentages must sum to 100 (they sum to %g)", sum);
	return CF_OK;
}

/* ------------------------------------------------------------------ values */

enum { V_NULL = 0, V_INT, V_REAL, V_TEXT };

/* One cell of the query's result. Text lives in the dataset's pool. */
typedef struct val {
	int type;
	int64_t i;
	double d;
	size_t off, len;
} val;

typedef struct pool {
	char *p;
	size_t n, cap;
} pool;

/* Adds n bytes plus a NUL; the offset, or (size_t)-1 out of memory. */
static size_t pool_add(pool *p, const void *s, size_t n)
{
	if (p->n + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		while (cap < p->n + n + 1)
			cap *= 2;
		char *q = realloc(p->p, cap);
		if (!q)
			return (size_t)-1;
		p->p = q, p->cap = cap;
	}
	size_t off = p->n;
	if (n)
		memcpy(p->p + off, s, n);
	p->p[off + n] = 0;
	p->n += n + 1;
	return off;
}

enum { K_MINMAX = 0, K_CATEGORY, K_SKIP };

typedef struct column {
	char *name;
	val *v;          /* one per row */
	int kind;        /* K_* */
	int has_text;
	/* minmax: the fitted scale */
	double data_min, data_max, scale, min_;
	/* category: kept values sorted by key (for lookup) with their index,
	   and the same in index order (for maps.json) */
	uint64_t n_keep;
	val *keep_by_key;
	uint32_t *keep_index;
	val *keep_by_index;
	uint64_t *keep_count;
} column;

typedef struct ds {
	const cf_dataset_opts *o;
	const char *sql;
	char *errbuf;
	pool txt;
	uint32_t ncol;
	column *col;
	uint64_t nrows, cap;
	int label_col, mac_col;
	/* labels */
	uint32_t nclass;
	val *classes;    /* --label-column: the distinct values in order */
	int64_t *y;
	/* splits */
	uint8_t *split;  /* 0 train, 1 val, 2 test, per row */
	uint64_t *class_split; /* nclass x 3 counts */
	uint64_t split_n[3];
	/* DNS */
	int dns;         /* DNS columns are written */
	uint32_t ntop;   /* top names actually found (<= K) */
	char **top_name;
	uint64_t *top_count;
	uint8_t *row_dns;/* nrows x (ntop + 1) */
	uint64_t dns_train_devices;
	/* X */
	uint32_t nx;     /* columns of X */
} ds;

static const char *vtext(const ds *d, const val *v)
{
	return d->txt.p + v->off;
}

/* The order of category keys and classes: numbers (numerically, integers
 * and reals compared exactly) before text (bytewise). NULLs are never
 * compared. */
static int key_cmp(const ds *d, const val *a, const val *b)
{
	int ta = a->type == V_TEXT, tb = b->type == V_TEXT;
	if (ta != tb)
		return ta - tb;
	if (ta) {
		size_t n = a->len < b->len ? a->len : b->len;
		int c = memcmp(vtext(d, a), vtext(d, b), n);
		if (c)
			return c;
		return (a->len > b->len) - (a->len < b->len);
	}
	if (a->type == V_INT && b->type == V_INT)
		return (a->i > b->i) - (a->i < b->i);
	/* long double holds every int64 and every double exactly */
	long double x = a->type == V_INT ? (long double)a->i : (long double)a->d;
	long double y = b->type == V_INT ? (long double)b->i : (long double)b->d;
	return (x > y) - (x < y);
}

/* What the comparators read (qsort_r's context): the dataset and the
 * values that row indices point at. */
typedef struct sort_ctx {
	const ds *d;
	const val *v;
} sort_ctx;

static int cmp_row_by_val(const void *a, const void *b, void *ctx)
{
	const sort_ctx *x = ctx;
	uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
	int c = key_cmp(x->d, &x->v[i], &x->v[j]);
	return c ? c : (i > j) - (i < j);
}

static double num_of(const val *v)
{
	return v->type == V_INT ? (double)v->i : v->type == V_REAL ? v->d : NAN;
}

/* ------------------------------------------------------------------ query */

static int name_in_list(const char *name, const char *list)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);
		if (m == n && !strncasecmp(p, name, n))
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

static int run_query(ds *d, sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int rc = sqlite3_prepare_v2(db, d->sql, -1, &st, &tail);
	if (rc != SQLITE_OK || !st) {
		int code = d->o->sql ? CF_ERR_ARG : CF_ERR_CORRUPT;
		const char *what = d->o->sql ? "the query" : "the default query (is this a `cuflow sessions` database?)";
		sqlite3_finalize(st);
		return cf_errf(d->errbuf, code, "%s: %s", what, rc == SQLITE_OK ? "no statement" : sqlite3_errmsg(db));
	}
	if (tail && *tail) {
		/* what follows may be comments and semicolons only */
		sqlite3_stmt *more = NULL;
		int rc2 = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
		int another = more != NULL;
		sqlite3_finalize(more);
		if (rc2 != SQLITE_OK || another) {
			sqlite3_finalize(st);
			return cf_errf(d->errbuf, CF_ERR_ARG, "the query: only one statement is allowed");
		}
	}
	if (!sqlite3_stmt_readonly(st)) {
		sqlite3_finalize(st);
		return cf_errf(d->errbuf, CF_ERR_ARG, "the query: only a read-only statement (SELECT) is allowed");
	}
	int ncol = sqlite3_column_count(st);
	if (ncol <= 0) {
		sqlite3_finalize(st);
		return cf_errf(d->errbuf, CF_ERR_ARG, "the query returns no columns");
	}
	d->ncol = (uint32_t)ncol;
	d->col = calloc((size_t)ncol, sizeof *d->col);
	if (!d->col)
		goto nomem;
	for (int j = 0; j < ncol; j++) {
		const char *nm = sqlite3_column_name(st, j);
		d->col[j].name = strdup(nm ? nm : "");
		if (!d->col[j].name)
			goto nomem;
		for (int k = 0; k < j; k++)
			if (!strcasecmp(d->col[k].name, d->col[j].name)) {
				sqlite3_finalize(st);
				return cf_errf(d->errbuf, CF_ERR_ARG, "the query returns two columns named '%s' (rename one with AS)",
				            d->col[j].name);
			}
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (d->nrows == d->cap) {
			uint64_t cap = d->cap ? d->cap * 2 : 1024;
			for (int j = 0; j < ncol; j++) {
				val *v = realloc(d->col[j].v, cap * sizeof *v);
				if (!v)
					goto nomem;
				d->col[j].v = v;
			}
			d->cap = cap;
		}
		for (int j = 0; j < ncol; j++) {
			val *v = &d->col[j].v[d->nrows];
			memset(v, 0, sizeof *v);
			switch (sqlite3_column_type(st, j)) {
			case SQLITE_INTEGER:
				v->type = V_INT, v->i = sqlite3_column_int64(st, j);
				break;
			case SQLITE_FLOAT:
				v->type = V_REAL, v->d = sqlite3_column_double(st, j);
				break;
			case SQLITE_TEXT: {
				const unsigned char *s = sqlite3_column_text(st, j);
				size_t n = (size_t)sqlite3_column_bytes(st, j);
				if (!s)
					goto nomem;
				v->type = V_TEXT, v->len = n, v->off = pool_add(&d->txt, s, n);
				if (v->off == (size_t)-1)
					goto nomem;
				d->col[j].has_text = 1;
				break;
			}
			case SQLITE_BLOB:
				sqlite3_finalize(st);
				return cf_errf(d->errbuf, CF_ERR_ARG, "column '%s' holds a BLOB (row %" PRIu64 "); cast it in the query",
				            d->col[j].name, d->nrows);
			default:
				v->type = V_NULL;
			}
		}
		d->nrows++;
	}
	if (rc != SQLITE_DONE) {
		int code = rc == SQLITE_NOMEM ? CF_ERR_NOMEM : CF_ERR_CORRUPT;
		cf_errf(d->errbuf, code, "the query: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return code;
	}
	sqlite3_finalize(st);
	if (!d->nrows)
		return cf_errf(d->errbuf, CF_ERR_NO_DATA, "the query returns no rows%s",
		            d->o->sql ? "" : " (no session's device has a device_type: label the devices, or give --sql)");
	return CF_OK;
nomem:
	sqlite3_finalize(st);
	return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory reading the query's rows");
}

/* Which column is what: the label's source, the device's mac, and the
 * features (categories or min-max scaled numbers). */
static int classify_columns(ds *d)
{
	const char *label = d->o->label_column ? d->o->label_column : "device_type";
	const char *cats = d->o->categorical ? d->o->categorical : "srcport,dstport,manufacturer";
	d->label_col = d->mac_col = -1;
	for (uint32_t j = 0; j < d->ncol; j++) {
		column *c = &d->col[j];
		if (!strcasecmp(c->name, label))
			d->label_col = (int)j;
		if (!strcasecmp(c->name, "mac"))
			d->mac_col = (int)j;
		if (!strcasecmp(c->name, label) || !strcasecmp(c->name, "mac") || !strcasecmp(c->name, "device_type"))
			c->kind = K_SKIP;
		else if (c->has_text || name_in_list(c->name, cats))
			c->kind = K_CATEGORY;
		else
			c->kind = K_MINMAX;
	}
	if (d->label_col < 0)
		return cf_errf(d->errbuf, CF_ERR_ARG, "the query has no column '%s' for the label%s", label,
		            d->o->label_column ? "" : " (is_iot needs device_type; or give --label-column)");
	return CF_OK;
}

/* ------------------------------------------------------------------ labels */

static int make_labels(ds *d)
{
	const val *lv = d->col[d->label_col].v;
	d->y = malloc(d->nrows * sizeof *d->y);
	if (!d->y)
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	for (uint64_t r = 0; r < d->nrows; r++)
		if (lv[r].type == V_NULL)
			return cf_errf(d->errbuf, CF_ERR_CORRUPT,
			            "row %" PRIu64 " has no label (%s is NULL); filter such rows in the query", r,
			            d->col[d->label_col].name);
	if (!d->o->label_column) {
		/* the seed's is_iot: anything but the text 'Other' is IoT */
		d->nclass = 2;
		for (uint64_t r = 0; r < d->nrows; r++)
			d->y[r] = !(lv[r].type == V_TEXT && lv[r].len == 5 && !memcmp(vtext(d, &lv[r]), "Other", 5));
		return CF_OK;
	}
	uint64_t *order = malloc(d->nrows * sizeof *order);
	d->classes = malloc(d->nrows * sizeof *d->classes);
	if (!order || !d->classes) {
		free(order);
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	}
	for (uint64_t r = 0; r < d->nrows; r++)
		order[r] = r;
	sort_ctx sc = {d, lv};
	qsort_r(order, d->nrows, sizeof *order, cmp_row_by_val, &sc);
	for (uint64_t k = 0; k < d->nrows; k++) {
		const val *v = &lv[order[k]];
		if (!d->nclass || key_cmp(d, &d->classes[d->nclass - 1], v))
			d->classes[d->nclass++] = *v;
		d->y[order[k]] = d->nclass - 1;
	}
	free(order);
	return CF_OK;
}

/* ------------------------------------------------------------------ splits */

/* splitmix64: the generator of the split (docs/dataset.md gives it). */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t round_share(double pct, uint64_t n)
{
	return (uint64_t)floor(pct * (double)n / 100.0 + 0.5);
}

static int make_splits(ds *d)
{
	d->split = malloc(d->nrows);
	d->class_split = calloc((size_t)d->nclass * 3, sizeof *d->class_split);
	uint64_t *start = calloc((size_t)d->nclass + 1, sizeof *start);
	uint64_t *idx = malloc(d->nrows * sizeof *idx);
	if (!d->split || !d->class_split || !start || !idx) {
		free(start), free(idx);
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	}
	/* rows of each class in ascending order (a counting sort) */
	for (uint64_t r = 0; r < d->nrows; r++)
		start[d->y[r] + 1]++;
	for (uint32_t c = 0; c < d->nclass; c++)
		start[c + 1] += start[c];
	uint64_t *fill = malloc(((size_t)d->nclass + 1) * sizeof *fill);
	if (!fill) {
		free(start), free(idx);
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	}
	memcpy(fill, start, ((size_t)d->nclass + 1) * sizeof *fill);
	for (uint64_t r = 0; r < d->nrows; r++)
		idx[fill[d->y[r]]++] = r;
	free(fill);
	for (uint32_t c = 0; c < d->nclass; c++) {
		uint64_t *a = idx + start[c], n = start[c + 1] - start[c];
		uint64_t s = d->o->seed ^ ((uint64_t)(c + 1) * 0xD1B54A32D192ED03ull);
		for (uint64_t i = n; i > 1; i--) {
			uint64_t j = splitmix64(&s) % i;
			uint64_t t = a[i - 1];
			a[i - 1] = a[j], a[j] = t;
		}
		uint64_t ntr = round_share(d->o->splits[0], n);
		uint64_t nva = round_share(d->o->splits[1], n);
		if (ntr > n)
			ntr = n;
		if (nva > n - ntr)
			nva = n - ntr;
		for (uint64_t i = 0; i < n; i++)
			d->split[a[i]] = i < ntr ? 0 : i < ntr + nva ? 1 : 2;
		d->class_split[c * 3 + 0] = ntr;
		d->class_split[c * 3 + 1] = nva;
		d->class_split[c * 3 + 2] = n - ntr - nva;
	}
	for (uint64_t r = 0; r < d->nrows; r++)
		d->split_n[d->split[r]]++;
	free(start), free(idx);
	return CF_OK;
}

/* ------------------------------------------------------------------ fitting */

/* What sklearn's MinMaxScaler(clip=False) computes on the training rows:
 * nanmin/nanmax, a range under 10 eps taken as 1, scale = 1 / range,
 * min_ = 0 - data_min * scale. */
static void fit_minmax(ds *d, column *c)
{
	double lo = NAN, hi = NAN;
	for (uint64_t r = 0; r < d->nrows; r++) {
		if (d->split[r] != 0 || c->v[r].type == V_NULL)
			continue;
		double x = num_of(&c->v[r]);
		if (isnan(lo) || x < lo)
			lo = x;
		if (isnan(hi) || x > hi)
			hi = x;
	}
	double range = hi - lo;
	if (range < 10 * DBL_EPSILON)
		range = 1.0;
	c->data_min = lo, c->data_max = hi;
	c->scale = 1.0 / range;
	c->min_ = 0.0 - lo * c->scale;
}

static double apply_minmax(const column *c, const val *v)
{
	double x = num_of(v);
	x = x * c->scale; /* two roundings, as sklearn's X *= scale_; X += min_ */
	return x + c->min_;
}

typedef struct keep_ent {
	val v;
	uint64_t count;
} keep_ent;

static int cmp_keep(const void *a, const void *b, void *ctx)
{
	const keep_ent *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return key_cmp(((const sort_ctx *)ctx)->d, &x->v, &y->v);
}

static int fit_category(ds *d, column *c)
{
	uint64_t *rows = malloc(d->split_n[0] * sizeof *rows + 1);
	keep_ent *ent = malloc(d->split_n[0] * sizeof *ent + 1);
	if (!rows || !ent) {
		free(rows), free(ent);
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	}
	uint64_t n = 0, m = 0;
	for (uint64_t r = 0; r < d->nrows; r++)
		if (d->split[r] == 0 && c->v[r].type != V_NULL)
			rows[n++] = r;
	sort_ctx sc = {d, c->v};
	qsort_r(rows, n, sizeof *rows, cmp_row_by_val, &sc);
	for (uint64_t k = 0; k < n;) {
		uint64_t e = k + 1;
		while (e < n && !key_cmp(d, &c->v[rows[k]], &c->v[rows[e]]))
			e++;
		if (e - k >= d->o->min_count)
			ent[m].v = c->v[rows[k]], ent[m].count = e - k, m++;
		k = e;
	}
	free(rows);
	qsort_r(ent, m, sizeof *ent, cmp_keep, &sc);
	c->n_keep = m;
	c->keep_by_index = malloc(m * sizeof *c->keep_by_index + 1);
	c->keep_count = malloc(m * sizeof *c->keep_count + 1);
	c->keep_by_key = malloc(m * sizeof *c->keep_by_key + 1);
	c->keep_index = malloc(m * sizeof *c->keep_index + 1);
	uint64_t *ord = malloc(m * sizeof *ord + 1);
	if (!c->keep_by_index || !c->keep_count || !c->keep_by_key || !c->keep_index || !ord) {
		free(ent), free(ord);
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	}
	for (uint64_t k = 0; k < m; k++) {
		c->keep_by_index[k] = ent[k].v;
		c->keep_count[k] = ent[k].count;
		ord[k] = k;
	}
	free(ent);
	sc.v = c->keep_by_index;
	qsort_r(ord, m, sizeof *ord, cmp_row_by_val, &sc);
	for (uint64_t k = 0; k < m; k++) {
		c->keep_by_key[k] = c->keep_by_index[ord[k]];
		c->keep_index[k] = (uint32_t)(ord[k] + 1);
	}
	free(ord);
	return CF_OK;
}

/* Index of v in the category map: 1.. for kept values, 0 ("other") for
 * rare, unseen and NULL. */
static double apply_category(const ds *d, const column *c, const val *v)
{
	if (v->type == V_NULL)
		return 0;
	uint64_t lo = 0, hi = c->n_keep;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int k = key_cmp(d, &c->keep_by_key[mid], v);
		if (!k)
			return (double)c->keep_index[mid];
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ------------------------------------------------------------------ DNS */

typedef struct dns_pair {
	uint32_t mac;    /* index into the sorted distinct macs of the rows */
	size_t off, len; /* the qname in the pool */
	uint32_t qid;
} dns_pair;

static int cmp_pair_name(const void *a, const void *b, void *ctx)
{
	const dns_pair *x = a, *y = b;
	const ds *d = ((const sort_ctx *)ctx)->d;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(d->txt.p + x->off, d->txt.p + y->off, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

typedef struct name_rank {
	uint32_t qid;
	uint64_t count;
	const dns_pair *p;
} name_rank;

static int cmp_rank(const void *a, const void *b, void *ctx)
{
	const name_rank *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return cmp_pair_name(x->p, y->p, ctx);
}

static int64_t find_mac(const ds *d, const val *macs, uint64_t n, const char *s, size_t len)
{
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		size_t m = macs[mid].len < len ? macs[mid].len : len;
		int c = memcmp(vtext(d, &macs[mid]), s, m);
		if (!c)
			c = (macs[mid].len > len) - (macs[mid].len < len);
		if (!c)
			return (int64_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int make_dns(ds *d, sqlite3 *db)
{
	int st = CF_OK;
	uint64_t nmac = 0, npair = 0, cap = 0, nq = 0;
	val *macs = NULL;
	int64_t *row_mac = NULL;
	uint8_t *train_mac = NULL, *mac_bits = NULL;
	dns_pair *pairs = NULL;
	name_rank *rank = NULL;
	int64_t *top_pos = NULL;
	sqlite3_stmt *q = NULL;
	const val *mv = d->col[d->mac_col].v;
	uint64_t *ord = malloc(d->nrows * sizeof *ord);
	row_mac = malloc(d->nrows * sizeof *row_mac);
	macs = malloc(d->nrows * sizeof *macs);
	if (!ord || !row_mac || !macs)
		goto nomem;
	/* the distinct devices of the rows (text macs only), sorted */
	uint64_t n = 0;
	for (uint64_t r = 0; r < d->nrows; r++) {
		row_mac[r] = -1;
		if (mv[r].type == V_TEXT)
			ord[n++] = r;
	}
	sort_ctx sc = {d, mv};
	qsort_r(ord, n, sizeof *ord, cmp_row_by_val, &sc);
	for (uint64_t k = 0; k < n; k++) {
		if (!nmac || key_cmp(d, &macs[nmac - 1], &mv[ord[k]]))
			macs[nmac++] = mv[ord[k]];
		row_mac[ord[k]] = (int64_t)nmac - 1;
	}
	free(ord);
	ord = NULL;
	train_mac = calloc(nmac + 1, 1);
	if (!train_mac)
		goto nomem;
	for (uint64_t r = 0; r < d->nrows; r++)
		if (d->split[r] == 0 && row_mac[r] >= 0)
			train_mac[row_mac[r]] = 1;
	for (uint64_t k = 0; k < nmac; k++)
		d->dns_train_devices += train_mac[k];

	/* every (device, name) row of the dns table for those devices */
	int rc = sqlite3_prepare_v2(db, "SELECT mac, qname FROM dns", -1, &q, NULL);
	if (rc != SQLITE_OK) {
		st = cf_errf(d->errbuf, CF_ERR_CORRUPT, "reading the dns table: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_type(q, 0) != SQLITE_TEXT || sqlite3_column_type(q, 1) != SQLITE_TEXT)
			continue;
		const char *m = (const char *)sqlite3_column_text(q, 0);
		size_t ml = (size_t)sqlite3_column_bytes(q, 0);
		int64_t mi = m ? find_mac(d, macs, nmac, m, ml) : -1;
		if (mi < 0)
			continue;
		if (npair == cap) {
			cap = cap ? cap * 2 : 4096;
			dns_pair *p = realloc(pairs, cap * sizeof *p);
			if (!p)
				goto nomem;
			pairs = p;
		}
		const unsigned char *s = sqlite3_column_text(q, 1);
		size_t sl = (size_t)sqlite3_column_bytes(q, 1);
		if (!s)
			goto nomem;
		size_t off = pool_add(&d->txt, s, sl);
		if (off == (size_t)-1)
			goto nomem;
		pairs[npair].mac = (uint32_t)mi;
		pairs[npair].off = off, pairs[npair].len = sl;
		npair++;
	}
	if (rc != SQLITE_DONE) {
		st = cf_errf(d->errbuf, CF_ERR_CORRUPT, "reading the dns table: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;

	/* names -> ids, counted over the training devices' rows */
	sc.v = NULL;
	qsort_r(pairs, npair, sizeof *pairs, cmp_pair_name, &sc);
	rank = malloc((npair + 1) * sizeof *rank);
	if (!rank)
		goto nomem;
	for (uint64_t k = 0; k < npair; k++) {
		if (!nq || cmp_pair_name(rank[nq - 1].p, &pairs[k], &sc)) {
			rank[nq].qid = (uint32_t)nq, rank[nq].count = 0, rank[nq].p = &pairs[k];
			nq++;
		}
		pairs[k].qid = (uint32_t)nq - 1;
		rank[nq - 1].count += train_mac[pairs[k].mac];
	}
	qsort_r(rank, nq, sizeof *rank, cmp_rank, &sc);
	top_pos = malloc((nq + 1) * sizeof *top_pos);
	if (!top_pos)
		goto nomem;
	for (uint64_t k = 0; k < nq; k++)
		top_pos[k] = -1;
	d->top_name = calloc(d->o->top_dns + 1, sizeof *d->top_name);
	d->top_count = calloc(d->o->top_dns + 1, sizeof *d->top_count);
	if (!d->top_name || !d->top_count)
		goto nomem;
	for (uint64_t k = 0; k < nq && k < d->o->top_dns && rank[k].count > 0; k++) {
		top_pos[rank[k].qid] = (int64_t)k;
		d->top_name[k] = d->txt.p + rank[k].p->off;
		d->top_count[k] = rank[k].count;
		d->ntop++;
	}
	/* each device's one-hot row, then each query row copies its device's */
	uint32_t w = d->ntop + 1;
	mac_bits = calloc(nmac * w + 1, 1);
	d->row_dns = calloc(d->nrows * w, 1);
	if (!mac_bits || !d->row_dns)
		goto nomem;
	for (uint64_t k = 0; k < npair; k++) {
		int64_t p = top_pos[pairs[k].qid];
		mac_bits[(uint64_t)pairs[k].mac * w + (p >= 0 ? (uint64_t)p : d->ntop)] = 1;
	}
	for (uint64_t r = 0; r < d->nrows; r++)
		if (row_mac[r] >= 0)
			memcpy(d->row_dns + r * w, mac_bits + (uint64_t)row_mac[r] * w, w);
	d->dns = 1;
	goto out;
nomem:
	st = cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory reading the dns table");
out:
	/* top_name points into the pool, which outlives this */
	sqlite3_finalize(q);
	free(ord), free(row_mac), free(macs), free(train_mac), free(mac_bits), free(pairs), free(rank), free(top_pos);
	return st;
}

/* ------------------------------------------------------------------ output */

/* dir/file into out; cf_dataset_prepare keeps dir short enough. */
static void join(char *out, size_t cap, const char *dir, const char *file)
{
	int n = snprintf(out, cap, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= cap)
		out[0] = 0;
}

/* Row r of X into x (d->nx values). */
static void x_row(const ds *d, uint64_t r, double *x)
{
	uint32_t k = 0;
	for (uint32_t j = 0; j < d->ncol; j++) {
		const column *c = &d->col[j];
		if (c->kind == K_MINMAX)
			x[k++] = apply_minmax(c, &c->v[r]);
		else if (c->kind == K_CATEGORY)
			x[k++] = apply_category(d, c, &c->v[r]);
	}
	if (d->dns)
		for (uint32_t t = 0; t <= d->ntop; t++)
			x[k++] = d->row_dns[r * (d->ntop + 1) + t];
}

static int write_npys(const ds *d, const char *dir)
{
	char path[4096], err[CF_ERRBUF_SIZE];
	double *x = malloc(((size_t)d->nx + 1) * sizeof *x);
	if (!x)
		return cf_errf(d->errbuf, CF_ERR_NOMEM, "out of memory");
	for (int s = 0; s < 3; s++) {
		cf_npy_writer *wx = NULL, *wy = NULL, *wi = NULL;
		uint64_t shape = d->nx;
		char name[32];
		int st;
		snprintf(name, sizeof name, "X_%s.npy", split_names[s]);
		join(path, sizeof path, dir, name);
		st = cf_npy_writer_open(path, CF_NPY_F8, 1, &shape, 0, &wx, err);
		snprintf(name, sizeof name, "y_%s.npy", split_names[s]);
		join(path, sizeof path, dir, name);
		if (st == CF_OK)
			st = cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, 0, &wy, err);
		snprintf(name, sizeof name, "idx_%s.npy", split_names[s]);
		join(path, sizeof path, dir, name);
		if (st == CF_OK)
			st = cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, 0, &wi, err);
		for (uint64_t r = 0; st == CF_OK && r < d->nrows; r++) {
			if (d->split[r] != s)
				continue;
			int64_t ri = (int64_t)r;
			x_row(d, r, x);
			st = cf_npy_writer_append(wx, x, 1);
			if (st == CF_OK)
				st = cf_npy_writer_append(wy, &d->y[r], 1);
			if (st == CF_OK)
				st = cf_npy_writer_append(wi, &ri, 1);
		}
		int c1 = cf_npy_writer_close(wx, st == CF_OK ? err : NULL);
		int c2 = cf_npy_writer_close(wy, st == CF_OK && c1 == CF_OK ? err : NULL);
		int c3 = cf_npy_writer_close(wi, st == CF_OK && c1 == CF_OK && c2 == CF_OK ? err : NULL);
		if (st == CF_OK)
			st = c1 != CF_OK ? c1 : c2 != CF_OK ? c2 : c3;
		if (st != CF_OK) {
			free(x);
			return cf_errf(d->errbuf, st, "%s", err);
		}
	}
	free(x);
	return CF_OK;
}

static void put_double(FILE *f, double v)
{
	char b[CF_FMT_MAX + 1];
	if (!isfinite(v)) {
		fputs("null", f);
		return;
	}
	*cf_fmt_g17(b, v) = 0;
	fputs(b, f);
}

static void put_value(FILE *f, const ds *d, const val *v)
{
	switch (v->type) {
	case V_INT: fprintf(f, "%" PRId64, v->i); break;
	case V_REAL: put_double(f, v->d); break;
	case V_TEXT: cf_fput_json_str(f, vtext(d, v)); break;
	default: fputs("null", f);
	}
}

static void put_u64s(FILE *f, const uint64_t *a, uint64_t n, uint64_t stride)
{
	fputc('[', f);
	for (uint64_t k = 0; k < n; k++)
		fprintf(f, "%s%" PRIu64, k ? "," : "", a[k * stride]);
	fputc(']', f);
}

static int write_maps(const ds *d, const char *dir)
{
	char path[4096];
	join(path, sizeof path, dir, "maps.json");
	FILE *f = fopen(path, "w");
	if (!f)
		return cf_errf(d->errbuf, CF_ERR_IO, "%s: %s", path, strerror(errno));
	const cf_dataset_opts *o = d->o;
	fputs("{\n  \"format\": \"cuflow-dataset-1\",\n  \"query\": ", f);
	cf_fput_json_str(f, d->sql);
	fprintf(f, ",\n  \"seed\": %" PRIu64 ",\n  \"splits_percent\": [", o->seed);
	for (int s = 0; s < 3; s++) {
		fputs(s ? ", " : "", f);
		put_double(f, o->splits[s]);
	}
	fprintf(f, "],\n  \"min_count\": %" PRIu64 ",\n  \"top_dns\": %u,\n  \"rows\": %" PRIu64 ",\n", o->min_count,
	        o->top_dns, d->nrows);
	fputs("  \"label\": {\"column\": ", f);
	cf_fput_json_str(f, d->col[d->label_col].name);
	fprintf(f, ", \"kind\": \"%s\", \"classes\": [", o->label_column ? "classes" : "is_iot");
	for (uint32_t c = 0; c < d->nclass; c++) {
		fputs(c ? ", " : "", f);
		if (o->label_column)
			put_value(f, d, &d->classes[c]);
		else
			fputs(c ? "\"iot\"" : "\"Other\"", f);
	}
	fputs("]},\n  \"splits\": {", f);
	for (int s = 0; s < 3; s++) {
		fprintf(f, "%s\"%s\": {\"rows\": %" PRIu64 ", \"per_class\": ", s ? ", " : "", split_names[s], d->split_n[s]);
		put_u64s(f, d->class_split + s, d->nclass, 3);
		fputc('}', f);
	}
	fputs("},\n  \"columns\": [\n", f);
	uint32_t k = 0;
	for (uint32_t j = 0; j < d->ncol; j++) {
		const column *c = &d->col[j];
		if (c->kind == K_SKIP)
			continue;
		fprintf(f, "%s    {\"index\": %u, \"name\": ", k ? ",\n" : "", k);
		cf_fput_json_str(f, c->name);
		if (c->kind == K_MINMAX) {
			fputs(", \"kind\": \"minmax\", \"data_min\": ", f);
			put_double(f, c->data_min);
			fputs(", \"data_max\": ", f);
			put_double(f, c->data_max);
			fputs(", \"scale\": ", f);
			put_double(f, c->scale);
			fputs(", \"min\": ", f);
			put_double(f, c->min_);
			fputc('}', f);
		} else {
			/* values[i] has index i + 1; 0 is "other" */
			fputs(", \"kind\": \"category\", \"values\": [", f);
			for (uint64_t i = 0; i < c->n_keep; i++) {
				fputs(i ? ", " : "", f);
				put_value(f, d, &c->keep_by_index[i]);
			}
			fputs("], \"counts\": ", f);
			put_u64s(f, c->keep_count, c->n_keep, 1);
			fputc('}', f);
		}
		k++;
	}
	if (d->dns) {
		for (uint32_t t = 0; t < d->ntop; t++) {
			fprintf(f, "%s    {\"index\": %u, \"name\": \"dns_%03u\", \"kind\": \"dns\", \"qname\": ", k ? ",\n" : "",
			        k, t);
			k++;
			cf_fput_json_str(f, d->top_name[t]);
			fprintf(f, ", \"count\": %" PRIu64 "}", d->top_count[t]);
		}
		fprintf(f, "%s    {\"index\": %u, \"name\": \"dns_other\", \"kind\": \"dns_other\"}", k ? ",\n" : "", k);
	}
	fputs("\n  ],\n  \"dns\": ", f);
	if (d->dns) {
		fputs("{\"names\": [", f);
		for (uint32_t t = 0; t < d->ntop; t++) {
			fputs(t ? ", " : "", f);
			cf_fput_json_str(f, d->top_name[t]);
		}
		fprintf(f, "], \"training_devices\": %" PRIu64 "}", d->dns_train_devices);
	} else {
		fputs("null", f);
	}
	fputs("\n}\n", f);
	int bad = ferror(f);
	if (fclose(f) || bad)
		return cf_errf(d->errbuf, CF_ERR_IO, "%s: write failed", path);
	return CF_OK;
}

/* A Parquet column name from a query column's (the sink wants
 * [A-Za-z_][A-Za-z0-9_]*). */
static void column_ident(const char *name, char *out, size_t cap)
{
	size_t k = 0;
	if (!(*name == '_' || (*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z')))
		out[k++] = '_';
	for (const char *p = name; *p && k + 1 < cap && k < CF_COLUMN_NAME_MAX - 12; p++) {
		char ch = *p;
		int ok = ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		out[k++] = ok ? ch : '_';
	}
	out[k] = 0;
}

static int write_parquet(const ds *d, const char *dir)
{
	char path[4096], err[CF_ERRBUF_SIZE], nm[CF_COLUMN_NAME_MAX + 1];
	cf_table_schema *s = NULL;
	cf_sink *k = NULL;
	cf_table_batch b = {0};
	double *x = NULL;
	int64_t *rowno = NULL;
	int32_t *soff = NULL;
	char *stext = NULL;
	int st = cf_table_schema_create(&s, err);
	if (st == CF_OK)
		st = cf_table_schema_add(s, "row", CF_DTYPE_INT64, 1, "", "the query row's position", 0, err);
	if (st == CF_OK)
		st = cf_table_schema_add(s, "split", CF_DTYPE_STRING, 1, "", "train, val or test", 0, err);
	if (st == CF_OK)
		st = cf_table_schema_add(s, "label", CF_DTYPE_INT64, 1, "", "class id (maps.json label.classes)", 0, err);
	for (uint32_t j = 0; st == CF_OK && j < d->ncol; j++) {
		if (d->col[j].kind == K_SKIP)
			continue;
		column_ident(d->col[j].name, nm, sizeof nm);
		/* a name taken already (or reserved) gets the column's number */
		if (cf_table_schema_find(s, nm) >= 0 || !strncmp(nm, "dns_", 4)) {
			char num[16];
			snprintf(num, sizeof num, "_%u", j);
			strcat(nm, num); /* column_ident left room for it */
		}
		const char *doc = d->col[j].kind == K_MINMAX ? "min-max scaled" : "category index";
		st = cf_table_schema_add(s, nm, CF_DTYPE_FLOAT64, 1, "", doc, 0, err);
	}
	for (uint32_t t = 0; st == CF_OK && d->dns && t <= d->ntop; t++) {
		if (t < d->ntop)
			snprintf(nm, sizeof nm, "dns_%03u", t);
		else
			snprintf(nm, sizeof nm, "dns_other");
		st = cf_table_schema_add(s, nm, CF_DTYPE_FLOAT64, 1, "", "device queried the name (maps.json)", 0, err);
	}
	uint32_t ncols = cf_table_schema_columns(s);
	if (st == CF_OK) {
		x = malloc(d->nrows * ((size_t)d->nx + 1) * sizeof *x);
		rowno = malloc(d->nrows * sizeof *rowno);
		soff = malloc((d->nrows + 1) * sizeof *soff);
		stext = malloc(d->nrows * 5 + 1);
		if (!x || !rowno || !soff || !stext || d->nrows * 5 > INT32_MAX)
			st = cf_errf(err, CF_ERR_NOMEM, "out of memory for the Parquet table");
	}
	if (st == CF_OK)
		st = cf_table_batch_init(&b, s, (int64_t)d->nrows);
	if (st == CF_OK) {
		/* columns of X, column-major: column c's values at x + c * nrows */
		double *row = malloc(((size_t)d->nx + 1) * sizeof *row);
		if (!row)
			st = cf_errf(err, CF_ERR_NOMEM, "out of memory");
		int32_t o = 0;
		for (uint64_t r = 0; st == CF_OK && r < d->nrows; r++) {
			rowno[r] = (int64_t)r;
			x_row(d, r, row);
			for (uint32_t c = 0; c < d->nx; c++)
				x[c * d->nrows + r] = row[c];
			const char *sn = split_names[d->split[r]];
			soff[r] = o;
			memcpy(stext + o, sn, strlen(sn));
			o += (int32_t)strlen(sn);
		}
		soff[d->nrows] = o;
		free(row);
	}
	if (st == CF_OK) {
		cf_table_batch_set(&b, 0, rowno, NULL, NULL);
		cf_table_batch_set(&b, 1, soff, (const uint8_t *)stext, NULL);
		cf_table_batch_set(&b, 2, d->y, NULL, NULL);
		for (uint32_t c = 3; c < ncols; c++)
			cf_table_batch_set(&b, c, x + (size_t)(c - 3) * d->nrows, NULL, NULL);
		join(path, sizeof path, dir, "dataset.parquet");
		st = cf_sink_open("parquet", s, path, NULL, &k, err);
	}
	if (st == CF_OK) {
		st = cf_sink_write(k, &b);
		if (st != CF_OK) {
			snprintf(err, sizeof err, "%s", cf_sink_error(k));
			cf_sink_abort(k);
		} else {
			st = cf_sink_close(k, NULL, err);
		}
	}
	cf_table_batch_free(&b);
	cf_table_schema_free(s);
	free(x), free(rowno), free(soff), free(stext);
	if (st != CF_OK)
		return cf_errf(d->errbuf, st, "%s", err);
	return CF_OK;
}

/* The files a run writes: only these are removed when a run fails or
 * replaces an earlier output. */
static const char *const out_files[] = {"X_train.npy", "X_val.npy", "X_test.npy", "y_train.npy", "y_val.npy",
                                        "y_test.npy", "idx_train.npy", "idx_val.npy", "idx_test.npy",
                                        "maps.json", "dataset.parquet"};
#define N_OUT_FILES (sizeof out_files / sizeof *out_files)

static int is_out_file(const char *n)
{
	for (size_t i = 0; i < N_OUT_FILES; i++)
		if (!strcmp(n, out_files[i]))
			return 1;
	return 0;
}

/* Removes a directory holding only our files (and nothing else): 0, or
 * -1 when it holds something else (left as it is). */
static int remove_out_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return -1;
	struct dirent *e;
	int other = 0;
	while ((e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_out_file(e->d_name))
			other = 1;
	closedir(dh);
	if (other)
		return -1;
	char p[4096];
	for (size_t i = 0; i < N_OUT_FILES; i++) {
		join(p, sizeof p, dir, out_files[i]);
		unlink(p);
	}
	return rmdir(dir) ? -1 : 0;
}

static void ds_free(ds *d)
{
	for (uint32_t j = 0; d->col && j < d->ncol; j++) {
		column *c = &d->col[j];
		free(c->name), free(c->v), free(c->keep_by_key), free(c->keep_index), free(c->keep_by_index),
			free(c->keep_count);
	}
	free(d->col), free(d->txt.p), free(d->classes), free(d->y), free(d->split), free(d->class_split);
	free(d->top_name), free(d->top_count), free(d->row_dns);
}

static int build(ds *d, sqlite3 *db, const char *tmp)
{
	int st = run_query(d, db);
	if (st == CF_OK)
		st = classify_columns(d);
	if (st == CF_OK)
		st = make_labels(d);
	if (st == CF_OK)
		st = make_splits(d);
	for (uint32_t j = 0; st == CF_OK && j < d->ncol; j++) {
		column *c = &d->col[j];
		if (c->kind == K_MINMAX)
			fit_minmax(d, c), d->nx++;
		else if (c->kind == K_CATEGORY)
			st = fit_category(d, c), d->nx++;
	}
	if (st == CF_OK && d->mac_col >= 0 && d->o->top_dns > 0) {
		st = make_dns(d, db);
		if (st == CF_OK)
			d->nx += d->ntop + 1;
	}
	if (st == CF_OK && mkdir(tmp, 0777))
		st = cf_errf(d->errbuf, CF_ERR_IO, "%s: %s", tmp, strerror(errno));
	else if (st == CF_OK) {
		st = write_npys(d, tmp);
		if (st == CF_OK)
			st = write_maps(d, tmp);
		if (st == CF_OK && d->o->parquet)
			st = write_parquet(d, tmp);
		if (st != CF_OK)
			remove_out_dir(tmp);
	}
	return st;
}

int cf_dataset_prepare(const char *db_path, const char *out_dir, const cf_dataset_opts *o,
                       cf_dataset_summary *summary, char *errbuf)
{
	cf_dataset_opts def;
	if (!o) {
		cf_dataset_opts_default(&def);
		o = &def;
	}
	if (summary)
		memset(summary, 0, sizeof *summary);
	if (!db_path || !out_dir || !*out_dir)
		return cf_errf(errbuf, CF_ERR_ARG, "a database and an output directory are needed");
	if (strlen(out_dir) > 3900)
		return cf_errf(errbuf, CF_ERR_ARG, "the output directory's path is too long");
	int st = cf_dataset_check_splits(o->splits, errbuf);
	if (st != CF_OK)
		return st;
	struct stat sb;
	if (stat(db_path, &sb))
		return cf_errf(errbuf, CF_ERR_IO, "%s: %s", db_path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return cf_errf(errbuf, CF_ERR_IO, "%s: not a file", db_path);
	if (!stat(out_dir, &sb)) {
		/* an earlier output is replaced at the end; anything else is kept */
		DIR *dh = S_ISDIR(sb.st_mode) ? opendir(out_dir) : NULL;
		int ours = dh != NULL;
		struct dirent *e;
		while (dh && (e = readdir(dh)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_out_file(e->d_name))
				ours = 0;
		if (dh)
			closedir(dh);
		if (!ours)
			return cf_errf(errbuf, CF_ERR_ARG, "%s exists and is not an earlier dataset output (remove it or choose another)",
			            out_dir);
	}
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		cf_errf(errbuf, CF_ERR_IO, "%s: %s", db_path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return CF_ERR_IO;
	}
	ds d;
	memset(&d, 0, sizeof d);
	d.o = o;
	d.sql = o->sql ? o->sql : cf_dataset_default_sql;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out_dir, (long)getpid());
	d.errbuf = errbuf;
	st = build(&d, db, tmp);
	sqlite3_close(db);
	if (st == CF_OK) {
		if (!stat(out_dir, &sb) && remove_out_dir(out_dir)) {
			st = cf_errf(errbuf, CF_ERR_IO, "%s: cannot replace the earlier output", out_dir);
			remove_out_dir(tmp);
		} else if (rename(tmp, out_dir)) {
			st = cf_errf(errbuf, CF_ERR_IO, "%s: %s", out_dir, strerror(errno));
			remove_out_dir(tmp);
		}
	}
	if (st == CF_OK && summary) {
		summary->rows = d.nrows;
		memcpy(summary->split_rows, d.split_n, sizeof d.split_n);
		summary->columns = d.nx;
		summary->classes = d.nclass;
		summary->dns_columns = d.dns ? d.ntop + 1 : 0;
		summary->dns_skipped = d.mac_col < 0;
	}
	ds_free(&d);
	return st;
}

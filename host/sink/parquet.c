/*
 * Parquet sink, written from the Apache Parquet format specification
 * (parquet.thrift, Encodings.md, LogicalTypes.md); docs/parquet.md says
 * what is written and why.
 *
 * File: "PAR1", row groups, the Thrift-compact FileMetaData, its length
 * (4 bytes little-endian), "PAR1". A row group holds one column chunk per
 * leaf column: a scalar column is one leaf, a vector column of width N is
 * N leaves name_0 .. name_{N-1} (flat columns every reader reads). A chunk
 * is an optional dictionary page (strings) and data pages v1 of about
 * page_bytes each, compressed with none / Snappy / ZSTD.
 *
 * Memory: rows are copied into per-leaf buffers (values in their Parquet
 * physical form, strings as offsets + bytes) until row_group_rows rows or
 * row_group_bytes bytes are held, then the row group is encoded and
 * written, and the buffers are reused for the next one. Nothing is
 * allocated per row; buffers grow by doubling up to one row group. The
 * footer's RowGroup structs are encoded as each row group is written, so
 * no per-chunk metadata is kept.
 */
#include "cuflow/status.h"
#include "cuflow/sink.h"
#include "sink/byte_buf.h"
#include "sink/out_file.h"
#include "sink/parquet_encode.h"
#include "sink/sink_internal.h"
#include "sink/thrift_compact.h"

#include <math.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet sink copies host-order values as little-endian: big-endian hosts are not supported"
#endif

/* parquet.thrift enums */
enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_FLOAT = 4, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6 };
enum { PQ_CT_UTF8 = 0, PQ_CT_UINT_8 = 11, PQ_CT_UINT_16 = 12, PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14,
       PQ_CT_INT_8 = 15, PQ_CT_INT_16 = 16 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1 };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_RLE = 3, PQ_ENC_RLE_DICTIONARY = 8 };
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_ZSTD = 6 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_DICTIONARY = 2 };

/* How a leaf's values compare for statistics (the sort order of its
 * logical type) and how they are held in the buffers. */
enum pq_kind {
	K_BOOL,      /* 1 byte 0/1, unsigned order */
	K_I32,       /* int32, signed (int8/16 widened, int32) */
	K_U32,       /* int32 bits, unsigned order (uint8/16 widened, uint32) */
	K_I64,       /* int64, signed (int64, timestamp) */
	K_U64,       /* int64 bits, unsigned order */
	K_F32,
	K_F64,
	K_STRING     /* bytes, unsigned lexicographic order */
};

/* Strings longer than this get no min/max statistics (as other writers
 * cap them), so footers stay small. */
#define PQ_STATS_STRING_MAX 4096
/* Most rows copied per step: the row_group_bytes budget is checked after
 * each step, so a row group overshoots it by at most one step's bytes. */
#define PQ_APPEND_STEP 4096

struct pq_leaf {
	uint32_t col, elem;     /* schema column, element within its row */
	char name[CF_COLUMN_NAME_MAX + 16];
	int dtype, kind, phys;
	size_t esize;           /* bytes per buffered value (0 for strings) */
	int nullable;
	uint8_t *vals;          /* fixed-width values, rg_cap * esize */
	uint8_t *def;           /* nullable: 1 present, 0 null, rg_cap */
	uint64_t *soff;         /* strings: rg_cap + 1 offsets into sdata */
	cf_buf sdata;
};

/* Statistics of some values of one leaf. String min/max point into the
 * leaf's sdata (valid until the row group is written). */
struct pq_stats {
	int64_t nulls;
	int has;                /* lo/hi hold a non-NaN value */
	union {
		int64_t i;
		uint64_t u;
		double d;
	} lo, hi;
	const uint8_t *slo, *shi;
	size_t slo_n, shi_n;
};

struct pq_sink {
	const cf_table_schema *schema;
	cf_sink_opts opts;
	int codec, level;
	cf_out_file out;
	struct pq_leaf *leaves;
	uint32_t nleaves;
	uint64_t rg_rows, rg_cap, rg_bytes;   /* buffered rows, capacity, buffered bytes */
	int64_t rg_bytes_uncomp, rg_bytes_comp, rg_first_off; /* the row group being written */
	uint64_t rows;
	uint32_t n_rg;
	cf_buf rg_meta;         /* RowGroup structs written so far */
	cf_buf cc_meta;         /* ColumnChunk structs of the row group being written */
	cf_buf page, comp, hdr; /* one page: body, compressed body, header */
	uint32_t *idx;          /* dictionary indices, rg_cap */
	uint32_t *ht;           /* dictionary hash table: entry + 1, 0 empty */
	size_t ht_cap;
	uint64_t *dict_off;     /* dictionary entries: offset into sdata, length */
	uint32_t *dict_len;
	size_t dict_cap;
	ZSTD_CCtx *zstd;
	char *json;             /* the schema as JSON, for the footer */
	char *msg;              /* the caller's errbuf during a call */
};

static int pq_fail(struct pq_sink *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pq_fail(struct pq_sink *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, CF_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

static int out_fail(struct pq_sink *s)
{
	snprintf(s->msg, CF_ERRBUF_SIZE, "%s", s->out.msg);
	return s->out.err;
}

/* ------------------------------------------------------------ leaves */

static void leaf_type(struct pq_leaf *l)
{
	static const struct {
		int kind, phys;
		size_t esize;
	} map[CF_DTYPE_COUNT] = {
		[CF_DTYPE_BOOL] = {K_BOOL, PQ_BOOLEAN, 1},
		[CF_DTYPE_INT8] = {K_I32, PQ_INT32, 4},
		[CF_DTYPE_INT16] = {K_I32, PQ_INT32, 4},
		[CF_DTYPE_INT32] = {K_I32, PQ_INT32, 4},
		[CF_DTYPE_INT64] = {K_I64, PQ_INT64, 8},
		[CF_DTYPE_UINT8] = {K_U32, PQ_INT32, 4},
		[CF_DTYPE_UINT16] = {K_U32, PQ_INT32, 4},
		[CF_DTYPE_UINT32] = {K_U32, PQ_INT32, 4},
		[CF_DTYPE_UINT64] = {K_U64, PQ_INT64, 8},
		[CF_DTYPE_FLOAT32] = {K_F32, PQ_FLOAT, 4},
		[CF_DTYPE_FLOAT64] = {K_F64, PQ_DOUBLE, 8},
		[CF_DTYPE_STRING] = {K_STRING, PQ_BYTE_ARRAY, 0},
		[CF_DTYPE_LARGE_STRING] = {K_STRING, PQ_BYTE_ARRAY, 0},
		[CF_DTYPE_TIMESTAMP_NS] = {K_I64, PQ_INT64, 8},
	};
	l->kind = map[l->dtype].kind;
	l->phys = map[l->dtype].phys;
	l->esize = map[l->dtype].esize;
}

/* Grows every leaf's buffers to hold `rows` rows (at most one row group). */
static int reserve_rows(struct pq_sink *s, uint64_t rows)
{
	if (rows <= s->rg_cap)
		return CF_OK;
	uint64_t cap = s->rg_cap ? s->rg_cap : 4096;
	while (cap < rows)
		cap *= 2;
	if (cap > s->opts.row_group_rows)
		cap = s->opts.row_group_rows;
	for (uint32_t i = 0; i < s->nleaves; i++) {
		struct pq_leaf *l = &s->leaves[i];
		if (l->esize) {
			uint8_t *v = realloc(l->vals, cap * l->esize);
			if (!v)
				goto nomem;
			l->vals = v;
		} else {
			uint64_t *o = realloc(l->soff, (cap + 1) * sizeof *o);
			if (!o)
				goto nomem;
			l->soff = o;
		}
		if (l->nullable) {
			uint8_t *d = realloc(l->def, cap);
			if (!d)
				goto nomem;
			l->def = d;
		}
	}
	uint32_t *idx = realloc(s->idx, cap * sizeof *idx);
	if (!idx)
		goto nomem;
	s->idx = idx;
	s->rg_cap = cap;
	return CF_OK;
nomem:
	return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory buffering a row group of %s", s->out.path);
}

/* Copies rows [r0, r0 + n) of batch b into the leaves at row s->rg_rows. */
static void append_rows(struct pq_sink *s, const cf_table_batch *b, int64_t r0, int64_t n)
{
	uint64_t at = s->rg_rows;
	for (uint32_t i = 0; i < s->nleaves; i++) {
		struct pq_leaf *l = &s->leaves[i];
		const cf_table_array *a = &b->columns[l->col];
		const int64_t w = cf_table_schema_column(s->schema, l->col)->width;
		const int64_t e0 = r0 * w + l->elem; /* flat index of the first element */
		if (l->nullable)
			for (int64_t r = 0; r < n; r++)
				l->def[at + r] = (uint8_t)(!a->validity || cf_bitmap_get(a->validity, r0 + r));
		void *dst = l->esize ? l->vals + at * l->esize : NULL; /* strings have no vals */
		switch (l->dtype) {
#define GATHER(SRC_T, DST_T)                                              \
	do {                                                              \
		const SRC_T *src = a->values;                             \
		DST_T *d = dst;                                           \
		for (int64_t r = 0; r < n; r++)                           \
			d[r] = (DST_T)src[e0 + r * w];                    \
	} while (0)
		case CF_DTYPE_BOOL: {
			uint8_t *d = dst;
			for (int64_t r = 0; r < n; r++)
				d[r] = (uint8_t)cf_bitmap_get(a->values, e0 + r * w);
			break;
		}
		case CF_DTYPE_INT8: GATHER(int8_t, int32_t); break;
		case CF_DTYPE_INT16: GATHER(int16_t, int32_t); break;
		case CF_DTYPE_INT32: GATHER(int32_t, int32_t); break;
		case CF_DTYPE_UINT8: GATHER(uint8_t, uint32_t); break;
		case CF_DTYPE_UINT16: GATHER(uint16_t, uint32_t); break;
		case CF_DTYPE_UINT32: GATHER(uint32_t, uint32_t); break;
		case CF_DTYPE_INT64:
		case CF_DTYPE_TIMESTAMP_NS: GATHER(int64_t, int64_t); break;
		case CF_DTYPE_UINT64: GATHER(uint64_t, uint64_t); break;
		case CF_DTYPE_FLOAT32: GATHER(uint32_t, uint32_t); break; /* bits: NaN payloads kept */
		case CF_DTYPE_FLOAT64: GATHER(uint64_t, uint64_t); break;
#undef GATHER
		case CF_DTYPE_STRING:
		case CF_DTYPE_LARGE_STRING: {
			int big = l->dtype == CF_DTYPE_LARGE_STRING;
			const int32_t *o32 = a->values;
			const int64_t *o64 = a->values;
			if (at == 0)
				l->soff[0] = 0;
			for (int64_t r = 0; r < n; r++) {
				int64_t e = e0 + r * w;
				int64_t lo = big ? o64[e] : o32[e], hi = big ? o64[e + 1] : o32[e + 1];
				cf_buf_put(&l->sdata, a->data + lo, (size_t)(hi - lo));
				l->soff[at + r + 1] = l->sdata.len;
			}
			s->rg_bytes += (uint64_t)(l->soff[at + n] - l->soff[at]) + 4 * (uint64_t)n;
			break;
		}
		}
		s->rg_bytes += (uint64_t)n * (l->esize + (l->nullable ? 1 : 0));
	}
}

/* ------------------------------------------------------------ statistics */

static void stats_init(struct pq_stats *st)
{
	memset(st, 0, sizeof *st);
}

static int bytes_less(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c < 0 || (c == 0 && an < bn);
}

/* Adds value r of leaf l (present) to st. */
static inline void stats_add(const struct pq_leaf *l, struct pq_stats *st, uint64_t r)
{
	switch (l->kind) {
#define ADD(FIELD, EXPR)                                  \
	do {                                              \
		__typeof__(st->lo.FIELD) v = (EXPR);      \
		if (!st->has) {                           \
			st->lo.FIELD = st->hi.FIELD = v;  \
			st->has = 1;                      \
		} else if (v < st->lo.FIELD) {            \
			st->lo.FIELD = v;                 \
		} else if (v > st->hi.FIELD) {            \
			st->hi.FIELD = v;                 \
		}                                         \
	} while (0)
	case K_BOOL: ADD(u, l->vals[r]); break;
	case K_I32: ADD(i, ((const int32_t *)l->vals)[r]); break;
	case K_U32: ADD(u, ((const uint32_t *)l->vals)[r]); break;
	case K_I64: ADD(i, ((const int64_t *)l->vals)[r]); break;
	case K_U64: ADD(u, ((const uint64_t *)l->vals)[r]); break;
	case K_F32: {
		float f = ((const float *)l->vals)[r];
		if (!isnan(f))
			ADD(d, (double)f);
		break;
	}
	case K_F64: {
		double d = ((const double *)l->vals)[r];
		if (!isnan(d))
			ADD(d, d);
		break;
	}
#undef ADD
	case K_STRING: {
		const uint8_t *p = l->sdata.p + l->soff[r];
		size_t n = (size_t)(l->soff[r + 1] - l->soff[r]);
		if (!st->has) {
			st->slo = st->shi = p;
			st->slo_n = st->shi_n = n;
			st->has = 1;
		} else if (bytes_less(p, n, st->slo, st->slo_n)) {
			st->slo = p;
			st->slo_n = n;
		} else if (bytes_less(st->shi, st->shi_n, p, n)) {
			st->shi = p;
			st->shi_n = n;
		}
		break;
	}
	}
}

/* Merges page statistics into chunk statistics. */
static void stats_merge(const struct pq_leaf *l, struct pq_stats *into, const struct pq_stats *p)
{
	into->nulls += p->nulls;
	if (!p->has)
		return;
	if (!into->has) {
		int64_t nulls = into->nulls;
		*into = *p;
		into->nulls = nulls;
		return;
	}
	switch (l->kind) {
	case K_BOOL:
	case K_U32:
	case K_U64:
		if (p->lo.u < into->lo.u)
			into->lo.u = p->lo.u;
		if (p->hi.u > into->hi.u)
			into->hi.u = p->hi.u;
		break;
	case K_I32:
	case K_I64:
		if (p->lo.i < into->lo.i)
			into->lo.i = p->lo.i;
		if (p->hi.i > into->hi.i)
			into->hi.i = p->hi.i;
		break;
	case K_F32:
	case K_F64:
		if (p->lo.d < into->lo.d)
			into->lo.d = p->lo.d;
		if (p->hi.d > into->hi.d)
			into->hi.d = p->hi.d;
		break;
	case K_STRING:
		if (bytes_less(p->slo, p->slo_n, into->slo, into->slo_n)) {
			into->slo = p->slo;
			into->slo_n = p->slo_n;
		}
		if (bytes_less(into->shi, into->shi_n, p->shi, p->shi_n)) {
			into->shi = p->shi;
			into->shi_n = p->shi_n;
		}
		break;
	}
}

/* The PLAIN bytes of the min (hi = 0) or max (hi = 1) of st, as
 * Statistics.min_value/max_value hold them: *p into tmp or sdata. */
static size_t stats_value(const struct pq_leaf *l, const struct pq_stats *st, int hi, uint8_t tmp[8],
                          const uint8_t **p)
{
	*p = tmp;
	switch (l->kind) {
	case K_BOOL:
		tmp[0] = (uint8_t)(hi ? st->hi.u : st->lo.u);
		return 1;
	case K_I32:
	case K_U32: {
		uint32_t v = (uint32_t)(hi ? st->hi.u : st->lo.u); /* low 32 bits of either view */
		memcpy(tmp, &v, 4);
		return 4;
	}
	case K_I64:
	case K_U64:
		memcpy(tmp, hi ? &st->hi.u : &st->lo.u, 8);
		return 8;
	case K_F32:
	case K_F64: {
		/* the spec: a zero min is written as -0.0, a zero max as +0.0,
		 * since -0.0 == +0.0 and either may be the one seen first */
		double d = hi ? st->hi.d : st->lo.d;
		if (d == 0.0)
			d = hi ? 0.0 : -0.0;
		if (l->kind == K_F32) {
			float f = (float)d;
			memcpy(tmp, &f, 4);
			return 4;
		}
		memcpy(tmp, &d, 8);
		return 8;
	}
	case K_STRING:
		*p = hi ? st->shi : st->slo;
		return hi ? st->shi_n : st->slo_n;
	}
	return 0;
}

/* Writes a Statistics struct as field `id` of the open struct. */
static void put_stats(cf_tc *t, int16_t id, const struct pq_leaf *l, const struct pq_stats *st)
{
	cf_tc_field_struct(t, id);
	cf_tc_field_i64(t, 3, st->nulls);
	int minmax = st->has && (l->kind != K_STRING ||
	                         (st->slo_n <= PQ_STATS_STRING_MAX && st->shi_n <= PQ_STATS_STRING_MAX));
	if (minmax) {
		uint8_t tmp[8];
		const uint8_t *p;
		size_t n = stats_value(l, st, 1, tmp, &p);
		cf_tc_field_binary(t, 5, p, n);
		n = stats_value(l, st, 0, tmp, &p);
		cf_tc_field_binary(t, 6, p, n);
	}
	cf_tc_struct_end(t);
}

/* ------------------------------------------------------------ pages */

/* Compresses s->page into s->comp with the sink's codec; *body and *n
 * are what goes to the file (s->page itself when uncompressed). */
static int compress_page(struct pq_sink *s, const uint8_t **body, size_t *n)
{
	*body = s->page.p;
	*n = s->page.len;
	if (s->codec == PQ_CODEC_UNCOMPRESSED || s->page.oom)
		return s->page.oom ? pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding %s", s->out.path) : CF_OK;
	cf_buf_clear(&s->comp);
	if (s->codec == PQ_CODEC_ZSTD) {
		size_t cap = ZSTD_compressBound(s->page.len);
		if (cf_buf_reserve(&s->comp, cap))
			return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory compressing %s", s->out.path);
		size_t r = ZSTD_compressCCtx(s->zstd, s->comp.p, cap, s->page.p, s->page.len, s->level);
		if (ZSTD_isError(r))
			return pq_fail(s, CF_ERR_IO, "parquet: zstd failed on %s: %s", s->out.path, ZSTD_getErrorName(r));
		s->comp.len = r;
	} else {
		size_t cap = snappy_max_compressed_length(s->page.len);
		if (cf_buf_reserve(&s->comp, cap))
			return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory compressing %s", s->out.path);
		size_t r = cap;
		if (snappy_compress((const char *)s->page.p, s->page.len, (char *)s->comp.p, &r) != SNAPPY_OK)
			return pq_fail(s, CF_ERR_IO, "parquet: snappy failed on %s", s->out.path);
		s->comp.len = r;
	}
	*body = s->comp.p;
	*n = s->comp.len;
	return CF_OK;
}

/* Per column chunk totals. */
struct pq_chunk {
	int64_t start, data_off, dict_off;
	int64_t total_uncomp, total_comp;
	struct pq_stats st;
	int dict;
};

/* Compresses and writes s->page as a page of `type`; header fields from
 * the arguments (stats only for data pages). */
static int write_page(struct pq_sink *s, const struct pq_leaf *l, struct pq_chunk *ck, int type, int32_t num_values,
                      int encoding, const struct pq_stats *st)
{
	if (s->page.len > INT32_MAX)
		return pq_fail(s, CF_ERR_UNSUPPORTED, "parquet: a page of column %s in %s exceeds 2 GiB", l->name,
		               s->out.path);
	const uint8_t *body;
	size_t n;
	int rc = compress_page(s, &body, &n);
	if (rc)
		return rc;
	cf_buf_clear(&s->hdr);
	cf_tc t;
	cf_tc_init(&t, &s->hdr);
	cf_tc_struct_begin(&t);
	cf_tc_field_i32(&t, 1, type);
	cf_tc_field_i32(&t, 2, (int32_t)s->page.len);
	cf_tc_field_i32(&t, 3, (int32_t)n);
	if (type == PQ_PAGE_DATA) {
		cf_tc_field_struct(&t, 5); /* DataPageHeader */
		cf_tc_field_i32(&t, 1, num_values);
		cf_tc_field_i32(&t, 2, encoding);
		cf_tc_field_i32(&t, 3, PQ_ENC_RLE); /* definition levels */
		cf_tc_field_i32(&t, 4, PQ_ENC_RLE); /* repetition levels (none: flat schema) */
		put_stats(&t, 5, l, st);
		cf_tc_struct_end(&t);
	} else {
		cf_tc_field_struct(&t, 7); /* DictionaryPageHeader */
		cf_tc_field_i32(&t, 1, num_values);
		cf_tc_field_i32(&t, 2, PQ_ENC_PLAIN);
		cf_tc_struct_end(&t);
	}
	cf_tc_struct_end(&t);
	if (s->hdr.oom || t.bad)
		return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding %s", s->out.path);
	if (type == PQ_PAGE_DATA && ck->data_off < 0)
		ck->data_off = (int64_t)s->out.off;
	if (type == PQ_PAGE_DICTIONARY)
		ck->dict_off = (int64_t)s->out.off;
	if (cf_out_write(&s->out, s->hdr.p, s->hdr.len) || cf_out_write(&s->out, body, n))
		return out_fail(s);
	ck->total_uncomp += (int64_t)(s->hdr.len + s->page.len);
	ck->total_comp += (int64_t)(s->hdr.len + n);
	return CF_OK;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* Tries to dictionary-encode the string leaf's n buffered values: fills
 * s->idx (for present rows) and the dictionary. 1 when the dictionary
 * stays within opts.dictionary_bytes, 0 to fall back to PLAIN, < 0 on
 * allocation failure. */
static int build_dictionary(struct pq_sink *s, struct pq_leaf *l, uint64_t n, uint32_t *entries)
{
	uint64_t limit = s->opts.dictionary_bytes;
	if (!limit)
		return 0;
	/* every entry takes at least 4 bytes in the dictionary page */
	uint64_t max_entries = limit / 4 + 1;
	if (max_entries > n)
		max_entries = n;
	size_t want = 16;
	while (want < 2 * max_entries)
		want *= 2;
	if (want > s->ht_cap) {
		uint32_t *ht = realloc(s->ht, want * sizeof *ht);
		if (!ht)
			return CF_ERR_NOMEM;
		s->ht = ht;
		s->ht_cap = want;
	}
	if (max_entries > s->dict_cap) {
		uint64_t *o = realloc(s->dict_off, max_entries * sizeof *o);
		if (o)
			s->dict_off = o;
		uint32_t *len = o ? realloc(s->dict_len, max_entries * sizeof *len) : NULL;
		if (!len)
			return CF_ERR_NOMEM;
		s->dict_len = len;
		s->dict_cap = max_entries;
	}
	memset(s->ht, 0, want * sizeof *s->ht);
	size_t mask = want - 1;
	uint32_t count = 0;
	uint64_t bytes = 0;
	for (uint64_t r = 0; r < n; r++) {
		if (l->nullable && !l->def[r])
			continue;
		const uint8_t *p = l->sdata.p + l->soff[r];
		size_t len = (size_t)(l->soff[r + 1] - l->soff[r]);
		size_t h = (size_t)hash_bytes(p, len) & mask;
		for (;;) {
			uint32_t e = s->ht[h];
			if (!e) {
				bytes += 4 + len;
				if (count == max_entries || bytes > limit)
					return 0;
				s->dict_off[count] = l->soff[r];
				s->dict_len[count] = (uint32_t)len;
				s->ht[h] = ++count;
				s->idx[r] = count - 1;
				break;
			}
			if (s->dict_len[e - 1] == len && !memcmp(l->sdata.p + s->dict_off[e - 1], p, len)) {
				s->idx[r] = e - 1;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	*entries = count;
	return 1;
}

/* The definition levels of rows [r0, r1) (4-byte length + RLE hybrid),
 * for nullable leaves; the number of nulls among them. */
static int64_t put_def_levels(struct pq_sink *s, const struct pq_leaf *l, uint64_t r0, uint64_t r1)
{
	if (!l->nullable)
		return 0;
	size_t at = s->page.len;
	cf_buf_le32(&s->page, 0);
	cf_pq_rle_hybrid_u8(&s->page, l->def + r0, (size_t)(r1 - r0), 1);
	if (!s->page.oom) {
		uint32_t n = (uint32_t)(s->page.len - at - 4);
		memcpy(s->page.p + at, &n, 4);
	}
	int64_t nulls = 0;
	for (uint64_t r = r0; r < r1; r++)
		nulls += !l->def[r];
	return nulls;
}

/* Writes leaf l's n buffered rows as one column chunk, and its
 * ColumnChunk struct into s->cc_meta. */
static int write_chunk(struct pq_sink *s, struct pq_leaf *l, uint64_t n)
{
	struct pq_chunk ck = {.start = (int64_t)s->out.off, .data_off = -1, .dict_off = -1};
	stats_init(&ck.st);
	uint32_t entries = 0;
	int bw = 0, rc;
	if (l->kind == K_STRING) {
		rc = build_dictionary(s, l, n, &entries);
		if (rc < 0)
			return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding %s", s->out.path);
		ck.dict = rc == 1 && entries > 0;
	}
	if (ck.dict) {
		cf_buf_clear(&s->page);
		for (uint32_t e = 0; e < entries; e++) {
			cf_buf_le32(&s->page, s->dict_len[e]);
			cf_buf_put(&s->page, l->sdata.p + s->dict_off[e], s->dict_len[e]);
		}
		if ((rc = write_page(s, l, &ck, PQ_PAGE_DICTIONARY, (int32_t)entries, 0, NULL)))
			return rc;
		bw = cf_pq_bit_width(entries - 1);
		if (bw < 1) /* one entry: width 1 is valid and every reader takes it */
			bw = 1;
	}
	uint64_t r0 = 0;
	while (r0 < n) { /* a row group is never empty */
		/* page boundaries: about page_bytes of encoded values */
		uint64_t r1;
		if (l->kind == K_STRING && !ck.dict) {
			uint64_t bytes = 0;
			r1 = r0;
			while (r1 < n && bytes < s->opts.page_bytes) {
				bytes += 4 + (l->soff[r1 + 1] - l->soff[r1]);
				r1++;
			}
		} else {
			uint64_t per = ck.dict ? (uint64_t)s->opts.page_bytes * 8 / (uint64_t)bw
			                       : (l->kind == K_BOOL ? (uint64_t)s->opts.page_bytes * 8
			                                            : s->opts.page_bytes / l->esize);
			if (per < 1)
				per = 1;
			if (per > INT32_MAX / 2)
				per = INT32_MAX / 2;
			r1 = r0 + per < n ? r0 + per : n;
		}
		cf_buf_clear(&s->page);
		struct pq_stats st;
		stats_init(&st);
		st.nulls = put_def_levels(s, l, r0, r1);
		for (uint64_t r = r0; r < r1; r++)
			if (!l->nullable || l->def[r])
				stats_add(l, &st, r);
		int encoding = PQ_ENC_PLAIN;
		if (ck.dict) {
			encoding = PQ_ENC_RLE_DICTIONARY;
			cf_buf_byte(&s->page, (uint8_t)bw);
			if (!l->nullable) {
				cf_pq_rle_hybrid(&s->page, s->idx + r0, (size_t)(r1 - r0), bw);
			} else { /* present rows only: compact their indices first */
				size_t k = 0;
				for (uint64_t r = r0; r < r1; r++)
					if (l->def[r])
						s->idx[r0 + k++] = s->idx[r];
				cf_pq_rle_hybrid(&s->page, s->idx + r0, k, bw);
			}
		} else if (l->kind == K_STRING) {
			for (uint64_t r = r0; r < r1; r++)
				if (!l->nullable || l->def[r]) {
					uint32_t len = (uint32_t)(l->soff[r + 1] - l->soff[r]);
					cf_buf_le32(&s->page, len);
					cf_buf_put(&s->page, l->sdata.p + l->soff[r], len);
				}
		} else if (l->kind == K_BOOL) {
			if (!l->nullable) {
				cf_pq_plain_bools(&s->page, l->vals + r0, (size_t)(r1 - r0));
			} else {
				size_t k = 0;
				for (uint64_t r = r0; r < r1; r++)
					if (l->def[r])
						l->vals[r0 + k++] = l->vals[r]; /* in place: stats already taken */
				cf_pq_plain_bools(&s->page, l->vals + r0, k);
			}
		} else if (!l->nullable) {
			cf_buf_put(&s->page, l->vals + r0 * l->esize, (size_t)(r1 - r0) * l->esize);
		} else {
			for (uint64_t r = r0; r < r1; r++)
				if (l->def[r])
					cf_buf_put(&s->page, l->vals + r * l->esize, l->esize);
		}
		if ((rc = write_page(s, l, &ck, PQ_PAGE_DATA, (int32_t)(r1 - r0), encoding, &st)))
			return rc;
		stats_merge(l, &ck.st, &st);
		r0 = r1;
	}

	/* ColumnChunk */
	cf_tc t;
	cf_tc_init(&t, &s->cc_meta);
	cf_tc_struct_begin(&t);
	cf_tc_field_i64(&t, 2, 0); /* file_offset: deprecated, 0 as the spec asks */
	cf_tc_field_struct(&t, 3); /* ColumnMetaData */
	cf_tc_field_i32(&t, 1, l->phys);
	int encs[3], ne = 0;
	encs[ne++] = PQ_ENC_PLAIN; /* data pages, or the dictionary page */
	if (ck.dict)
		encs[ne++] = PQ_ENC_RLE_DICTIONARY;
	if (l->nullable)
		encs[ne++] = PQ_ENC_RLE;
	cf_tc_field_list(&t, 2, CF_TC_I32, (uint32_t)ne);
	for (int i = 0; i < ne; i++)
		cf_tc_elem_i32(&t, encs[i]);
	cf_tc_field_list(&t, 3, CF_TC_BINARY, 1);
	cf_tc_elem_string(&t, l->name);
	cf_tc_field_i32(&t, 4, s->codec);
	cf_tc_field_i64(&t, 5, (int64_t)n);
	cf_tc_field_i64(&t, 6, ck.total_uncomp);
	cf_tc_field_i64(&t, 7, ck.total_comp);
	cf_tc_field_i64(&t, 9, ck.data_off);
	if (ck.dict)
		cf_tc_field_i64(&t, 11, ck.dict_off);
	put_stats(&t, 12, l, &ck.st);
	cf_tc_struct_end(&t);
	cf_tc_struct_end(&t);
	if (s->cc_meta.oom || t.bad)
		return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding %s", s->out.path);
	s->rg_bytes_uncomp += ck.total_uncomp;
	s->rg_bytes_comp += ck.total_comp;
	if (s->rg_first_off < 0)
		s->rg_first_off = ck.start;
	return CF_OK;
}

/* Writes the buffered rows as one row group and appends its RowGroup
 * struct to s->rg_meta; the buffers are then empty (memory kept). */
static int flush_row_group(struct pq_sink *s)
{
	uint64_t n = s->rg_rows;
	if (!n)
		return CF_OK;
	for (uint32_t i = 0; i < s->nleaves; i++)
		if (s->leaves[i].sdata.oom)
			return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory buffering strings of %s", s->out.path);
	cf_buf_clear(&s->cc_meta);
	s->rg_bytes_uncomp = s->rg_bytes_comp = 0;
	s->rg_first_off = -1;
	for (uint32_t i = 0; i < s->nleaves; i++) {
		int rc = write_chunk(s, &s->leaves[i], n);
		if (rc)
			return rc;
	}
	cf_tc t;
	cf_tc_init(&t, &s->rg_meta);
	cf_tc_struct_begin(&t);
	cf_tc_field_list(&t, 1, CF_TC_STRUCT, s->nleaves);
	cf_buf_put(&s->rg_meta, s->cc_meta.p, s->cc_meta.len); /* the ColumnChunk structs */
	cf_tc_field_i64(&t, 2, s->rg_bytes_uncomp);
	cf_tc_field_i64(&t, 3, (int64_t)n);
	cf_tc_field_i64(&t, 5, s->rg_first_off);
	cf_tc_field_i64(&t, 6, s->rg_bytes_comp);
	if (s->n_rg <= INT16_MAX) /* ordinal is an i16; optional, so left out past that */
		cf_tc_field_i16(&t, 7, (int16_t)s->n_rg);
	cf_tc_struct_end(&t);
	if (s->rg_meta.oom || t.bad)
		return pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding %s", s->out.path);
	s->n_rg++;
	s->rows += n;
	s->rg_rows = 0;
	s->rg_bytes = 0;
	for (uint32_t i = 0; i < s->nleaves; i++)
		cf_buf_clear(&s->leaves[i].sdata);
	return CF_OK;
}

/* SchemaElement of leaf l: type, repetition, name, and the annotations
 * (legacy ConvertedType where one exists, and the LogicalType). */
static void put_schema_element(cf_tc *t, const struct pq_leaf *l)
{
	int ct = -1, bits = 0, is_signed = 1;
	switch (l->dtype) {
	case CF_DTYPE_INT8: ct = PQ_CT_INT_8, bits = 8; break;
	case CF_DTYPE_INT16: ct = PQ_CT_INT_16, bits = 16; break;
	case CF_DTYPE_UINT8: ct = PQ_CT_UINT_8, bits = 8, is_signed = 0; break;
	case CF_DTYPE_UINT16: ct = PQ_CT_UINT_16, bits = 16, is_signed = 0; break;
	case CF_DTYPE_UINT32: ct = PQ_CT_UINT_32, bits = 32, is_signed = 0; break;
	case CF_DTYPE_UINT64: ct = PQ_CT_UINT_64, bits = 64, is_signed = 0; break;
	case CF_DTYPE_STRING:
	case CF_DTYPE_LARGE_STRING: ct = PQ_CT_UTF8; break;
	default: break; /* timestamp[ns] has no ConvertedType (only MILLIS/MICROS do) */
	}
	cf_tc_struct_begin(t);
	cf_tc_field_i32(t, 1, l->phys);
	cf_tc_field_i32(t, 3, l->nullable ? PQ_OPTIONAL : PQ_REQUIRED);
	cf_tc_field_string(t, 4, l->name);
	if (ct >= 0)
		cf_tc_field_i32(t, 6, ct);
	if (bits || ct == PQ_CT_UTF8 || l->dtype == CF_DTYPE_TIMESTAMP_NS) {
		cf_tc_field_struct(t, 10); /* LogicalType (a union) */
		if (bits) {
			cf_tc_field_struct(t, 10); /* INTEGER: IntType */
			cf_tc_field_i8(t, 1, (int8_t)bits);
			cf_tc_field_bool(t, 2, is_signed);
			cf_tc_struct_end(t);
		} else if (ct == PQ_CT_UTF8) {
			cf_tc_field_struct(t, 1); /* STRING: StringType {} */
			cf_tc_struct_end(t);
		} else {
			cf_tc_field_struct(t, 8);  /* TIMESTAMP: TimestampType */
			cf_tc_field_bool(t, 1, 1); /* isAdjustedToUTC */
			cf_tc_field_struct(t, 2);  /* unit: TimeUnit (a union) */
			cf_tc_field_struct(t, 3);  /* NANOS: NanoSeconds {} */
			cf_tc_struct_end(t);
			cf_tc_struct_end(t);
			cf_tc_struct_end(t);
		}
		cf_tc_struct_end(t);
	}
	cf_tc_struct_end(t);
}

/* FileMetaData, its length and the closing magic. */
static int write_footer(struct pq_sink *s)
{
	cf_buf meta = {0};
	cf_tc t;
	cf_tc_init(&t, &meta);
	cf_tc_struct_begin(&t);
	cf_tc_field_i32(&t, 1, 2); /* version: 2 (RLE_DICTIONARY, logical types) */
	cf_tc_field_list(&t, 2, CF_TC_STRUCT, s->nleaves + 1);
	cf_tc_struct_begin(&t); /* the root: a group of every leaf */
	cf_tc_field_string(&t, 4, "schema");
	cf_tc_field_i32(&t, 5, (int32_t)s->nleaves);
	cf_tc_struct_end(&t);
	for (uint32_t i = 0; i < s->nleaves; i++)
		put_schema_element(&t, &s->leaves[i]);
	cf_tc_field_i64(&t, 3, (int64_t)s->rows);
	cf_tc_field_list(&t, 4, CF_TC_STRUCT, s->n_rg);
	cf_buf_put(&meta, s->rg_meta.p, s->rg_meta.len);
	cf_tc_field_list(&t, 5, CF_TC_STRUCT, 1); /* key_value_metadata */
	cf_tc_struct_begin(&t);
	cf_tc_field_string(&t, 1, "cuflow.schema");
	cf_tc_field_string(&t, 2, s->json);
	cf_tc_struct_end(&t);
	cf_tc_field_string(&t, 6, "cuflow version " CF_VERSION_STRING);
	/* column_orders: TYPE_ORDER for every leaf, which tells readers the
	 * min/max statistics follow each logical type's order */
	cf_tc_field_list(&t, 7, CF_TC_STRUCT, s->nleaves);
	for (uint32_t i = 0; i < s->nleaves; i++) {
		cf_tc_struct_begin(&t);
		cf_tc_field_struct(&t, 1);
		cf_tc_struct_end(&t);
		cf_tc_struct_end(&t);
	}
	cf_tc_struct_end(&t);
	int rc = CF_OK;
	if (meta.oom || t.bad || meta.len > UINT32_MAX)
		rc = pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding the footer of %s", s->out.path);
	else {
		cf_buf_le32(&meta, (uint32_t)meta.len);
		cf_buf_put(&meta, "PAR1", 4);
		if (meta.oom)
			rc = pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory encoding the footer of %s", s->out.path);
		else if (cf_out_write(&s->out, meta.p, meta.len))
			rc = out_fail(s);
	}
	cf_buf_free(&meta);
	return rc;
}

static void pq_free(struct pq_sink *s)
{
	for (uint32_t i = 0; s->leaves && i < s->nleaves; i++) {
		struct pq_leaf *l = &s->leaves[i];
		free(l->vals);
		free(l->def);
		free(l->soff);
		cf_buf_free(&l->sdata);
	}
	free(s->leaves);
	cf_buf_free(&s->rg_meta);
	cf_buf_free(&s->cc_meta);
	cf_buf_free(&s->page);
	cf_buf_free(&s->comp);
	cf_buf_free(&s->hdr);
	free(s->idx);
	free(s->ht);
	free(s->dict_off);
	free(s->dict_len);
	ZSTD_freeCCtx(s->zstd);
	free(s->json);
	free(s);
}

static int pq_open(const cf_table_schema *schema, const char *path, const cf_sink_opts *opts, void **state,
                   char *errbuf)
{
	struct pq_sink *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "parquet: out of memory");
		return CF_ERR_NOMEM;
	}
	s->msg = errbuf;
	s->schema = schema;
	s->opts = *opts;
	s->out.fd = -1;
	int rc = CF_OK;
	if (!opts->row_group_rows || opts->row_group_rows > INT32_MAX || !opts->row_group_bytes || !opts->page_bytes)
		rc = pq_fail(s, CF_ERR_ARG, "parquet: %s: row_group_rows must be 1..2^31-1, row_group_bytes and page_bytes > 0",
		             path);
	else if (opts->compression == CF_SINK_ZSTD)
		s->codec = PQ_CODEC_ZSTD;
	else if (opts->compression == CF_SINK_SNAPPY)
		s->codec = PQ_CODEC_SNAPPY;
	else if (opts->compression == CF_SINK_UNCOMPRESSED)
		s->codec = PQ_CODEC_UNCOMPRESSED;
	else
		rc = pq_fail(s, CF_ERR_ARG, "parquet: %s: unknown compression %d", path, opts->compression);
	if (rc == CF_OK && s->codec == PQ_CODEC_ZSTD) {
		s->level = opts->compression_level ? opts->compression_level : ZSTD_CLEVEL_DEFAULT;
		if (s->level < ZSTD_minCLevel() || s->level > ZSTD_maxCLevel())
			rc = pq_fail(s, CF_ERR_ARG, "parquet: %s: zstd level %d out of range", path, s->level);
		else if (!(s->zstd = ZSTD_createCCtx()))
			rc = pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory");
	}
	/* leaves: one per element of every column */
	uint32_t nc = cf_table_schema_columns(schema);
	uint64_t nl = 0;
	uint32_t wide = 0;
	for (uint32_t i = 0; i < nc; i++) {
		uint32_t w = cf_table_schema_column(schema, i)->width;
		nl += w;
		wide |= w > CF_COLUMN_FLAT_WIDTH_MAX;
	}
	if (rc == CF_OK && wide)
		rc = pq_fail(s, CF_ERR_ARG, "parquet: %s: a vector column is wider than %u elements (one Parquet column each): "
		             "use an array format (npy)", path, CF_COLUMN_FLAT_WIDTH_MAX);
	if (rc == CF_OK && nl > INT32_MAX / 2)
		rc = pq_fail(s, CF_ERR_ARG, "parquet: %s: too many columns", path);
	if (rc == CF_OK && !(s->leaves = calloc(nl ? nl : 1, sizeof *s->leaves)))
		rc = pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory");
	for (uint32_t i = 0; rc == CF_OK && i < nc; i++) {
		const cf_table_column *c = cf_table_schema_column(schema, i);
		for (uint32_t k = 0; k < c->width; k++) {
			struct pq_leaf *l = &s->leaves[s->nleaves++];
			l->col = i;
			l->elem = k;
			l->dtype = c->dtype;
			l->nullable = (c->flags & CF_COLUMN_NULLABLE) != 0;
			if (c->width == 1)
				snprintf(l->name, sizeof l->name, "%s", c->name);
			else
				snprintf(l->name, sizeof l->name, "%s_%u", c->name, k);
			leaf_type(l);
		}
	}
	if (rc == CF_OK) {
		size_t n;
		cf_table_schema_json(schema, NULL, 0, &n);
		if (!(s->json = malloc(n + 1)))
			rc = pq_fail(s, CF_ERR_NOMEM, "parquet: out of memory");
		else
			cf_table_schema_json(schema, s->json, n + 1, NULL);
	}
	if (rc == CF_OK && (rc = cf_out_open(&s->out, "parquet", path, 1u << 20)))
		out_fail(s);
	if (rc == CF_OK && cf_out_write(&s->out, "PAR1", 4))
		rc = out_fail(s);
	if (rc) {
		cf_out_discard(&s->out);
		pq_free(s);
		return rc;
	}
	*state = s;
	return CF_OK;
}

static int pq_write(void *state, const cf_table_batch *b, char *errbuf)
{
	struct pq_sink *s = state;
	s->msg = errbuf;
	int64_t done = 0;
	while (done < b->n_rows) {
		uint64_t room = s->opts.row_group_rows - s->rg_rows;
		int64_t take = b->n_rows - done;
		if ((uint64_t)take > room)
			take = (int64_t)room;
		if (take > PQ_APPEND_STEP)
			take = PQ_APPEND_STEP;
		int rc = reserve_rows(s, s->rg_rows + (uint64_t)take);
		if (rc)
			return rc;
		append_rows(s, b, done, take);
		s->rg_rows += (uint64_t)take;
		done += take;
		if (s->rg_rows == s->opts.row_group_rows || s->rg_bytes >= s->opts.row_group_bytes)
			if ((rc = flush_row_group(s)))
				return rc;
	}
	return CF_OK;
}

static int pq_close(void *state, cf_sink_stats *stats, char *errbuf)
{
	struct pq_sink *s = state;
	s->msg = errbuf;
	int rc = flush_row_group(s);
	if (rc == CF_OK)
		rc = write_footer(s);
	uint64_t bytes = s->out.off;
	if (rc == CF_OK && (rc = cf_out_commit(&s->out)))
		out_fail(s);
	if (rc)
		cf_out_discard(&s->out);
	else if (stats) {
		stats->rows = s->rows;
		stats->bytes = bytes;
	}
	pq_free(s);
	return rc;
}

static void pq_abort(void *state)
{
	struct pq_sink *s = state;
	if (!s)
		return;
	cf_out_discard(&s->out);
	pq_free(s);
}

const cf_sink_ops cf_sink_parquet = {"parquet", ".parquet", pq_open, pq_write, pq_close, pq_abort};

/*
 * JSON lines sink: one JSON object per row, one line each ("\n"), keys
 * the column names in schema order.
 *
 * Values: integers (every integer dtype, timestamp_ns as int64 ns) in
 * decimal; float32/float64 with the fewest significant digits ("%.Ng")
 * that read back to the same value (for float32: both as a float and as
 * a double narrowed to float), with ".0" added when the text would
 * otherwise look like an integer; NaN and +-inf as null; bool as
 * true/false; strings with '"', '\\' and the control characters below
 * 0x20 escaped (\" \\ \u00XX), other bytes as they are (UTF-8); a vector
 * column as one flat array of its width (a shaped column too, row-major);
 * a null row of a nullable column as null.
 */
#include "common/text_fmt.h"
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "sink/out_file.h"
#include "sink/sink_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jsonl_sink {
	const cf_table_schema *schema;
	cf_out_file out;
	uint64_t rows;
};

static int jsonl_open(const cf_table_schema *schema, const char *path, const cf_sink_opts *opts, void **state,
                      char *errbuf)
{
	(void)opts;
	struct jsonl_sink *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "jsonl: out of memory");
		return CF_ERR_NOMEM;
	}
	s->schema = schema;
	int rc = cf_out_open(&s->out, "jsonl", path, 1u << 20);
	if (rc) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
		free(s);
		return rc;
	}
	*state = s;
	return CF_OK;
}

/* Whether text t reads back to v: for float32 through strtof and through
 * a double narrowed to float, since readers do either. */
static int reads_back(const char *t, double v, int is32)
{
	if (is32)
		return strtof(t, NULL) == (float)v && (float)strtod(t, NULL) == (float)v;
	return strtod(t, NULL) == v;
}

/* The fewest digits that read back, by bisection over 1..9 or 1..17
 * (which always read back); ".0" keeps an integral value a float. */
static int format_float(char *t, size_t cap, double v, int is32)
{
	if (!isfinite(v))
		return snprintf(t, cap, "null");
	int lo = 1, hi = is32 ? 9 : 17;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(t, cap, "%.*g", mid, v);
		if (reads_back(t, v, is32))
			hi = mid;
		else
			lo = mid + 1;
	}
	int n = snprintf(t, cap, "%.*g", lo, v);
	/* %g turns 100 into 1e+02 (fewer digits than the exponent): print
	 * integers below 1e17 in full, as Python's repr does, when that
	 * reads back (it does: see docs/sinks.md) */
	const char *e = strchr(t, 'e');
	int x = e ? atoi(e + 1) : 0;
	if (e && x >= lo && x < 17) {
		char full[40];
		int m = snprintf(full, sizeof full, "%.*g", x + 1, v);
		if (m < (int)sizeof full && (size_t)m < cap && reads_back(full, v, is32)) {
			memcpy(t, full, (size_t)m + 1);
			n = m;
		}
	}
	if (!strpbrk(t, ".e"))
		n += snprintf(t + n, cap - (size_t)n, ".0");
	return n;
}

static void put_string(cf_out_file *f, const uint8_t *p, size_t n)
{
	cf_out_write(f, "\"", 1);
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		char esc[8];
		int k = 0;
		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			k = 2;
		} else if (p[i] < 0x20) {
			k = snprintf(esc, sizeof esc, "\\u%04x", p[i]);
		}
		if (!k)
			continue;
		cf_out_write(f, p + from, i - from);
		cf_out_write(f, esc, (size_t)k);
		from = i + 1;
	}
	cf_out_write(f, p + from, n - from);
	cf_out_write(f, "\"", 1);
}

/* Element e (flat index row * width + k) of array a of dtype, as JSON. */
static void put_value(cf_out_file *f, int dtype, const cf_table_array *a, int64_t e)
{
	char t[CF_FMT_MAX + 8], *end = t;
	const void *v = a->values;
	switch (dtype) {
	case CF_DTYPE_BOOL:
		if (cf_bitmap_get(v, e))
			cf_out_write(f, "true", 4);
		else
			cf_out_write(f, "false", 5);
		return;
	case CF_DTYPE_INT8: end = cf_fmt_i64(t, ((const int8_t *)v)[e]); break;
	case CF_DTYPE_INT16: end = cf_fmt_i64(t, ((const int16_t *)v)[e]); break;
	case CF_DTYPE_INT32: end = cf_fmt_i64(t, ((const int32_t *)v)[e]); break;
	case CF_DTYPE_INT64:
	case CF_DTYPE_TIMESTAMP_NS: end = cf_fmt_i64(t, ((const int64_t *)v)[e]); break;
	case CF_DTYPE_UINT8: end = cf_fmt_u64(t, ((const uint8_t *)v)[e]); break;
	case CF_DTYPE_UINT16: end = cf_fmt_u64(t, ((const uint16_t *)v)[e]); break;
	case CF_DTYPE_UINT32: end = cf_fmt_u64(t, ((const uint32_t *)v)[e]); break;
	case CF_DTYPE_UINT64: end = cf_fmt_u64(t, ((const uint64_t *)v)[e]); break;
	case CF_DTYPE_FLOAT32: end = t + format_float(t, sizeof t, ((const float *)v)[e], 1); break;
	case CF_DTYPE_FLOAT64: end = t + format_float(t, sizeof t, ((const double *)v)[e], 0); break;
	case CF_DTYPE_STRING: {
		const int32_t *o = v;
		put_string(f, a->data + o[e], (size_t)(o[e + 1] - o[e]));
		return;
	}
	case CF_DTYPE_LARGE_STRING: {
		const int64_t *o = v;
		put_string(f, a->data + o[e], (size_t)(o[e + 1] - o[e]));
		return;
	}
	}
	cf_out_write(f, t, (size_t)(end - t));
}

static void put_key(cf_out_file *f, const char *name, int first)
{
	/* names are [A-Za-z_][A-Za-z0-9_]*: nothing to escape */
	cf_out_write(f, first ? "\"" : ",\"", first ? 1 : 2);
	cf_out_write(f, name, strlen(name));
	cf_out_write(f, "\":", 2);
}

static int jsonl_write(void *state, const cf_table_batch *b, char *errbuf)
{
	struct jsonl_sink *s = state;
	uint32_t nc = cf_table_schema_columns(s->schema);
	for (int64_t r = 0; r < b->n_rows; r++) {
		cf_out_write(&s->out, "{", 1);
		for (uint32_t i = 0; i < nc; i++) {
			const cf_table_column *c = cf_table_schema_column(s->schema, i);
			const cf_table_array *a = &b->columns[i];
			put_key(&s->out, c->name, i == 0);
			if (a->validity && !cf_bitmap_get(a->validity, r)) {
				cf_out_write(&s->out, "null", 4);
				continue;
			}
			int vec = c->width > 1 || c->ndim;
			if (vec)
				cf_out_write(&s->out, "[", 1);
			for (uint32_t k = 0; k < c->width; k++) {
				if (k)
					cf_out_write(&s->out, ",", 1);
				put_value(&s->out, c->dtype, a, r * (int64_t)c->width + k);
			}
			if (vec)
				cf_out_write(&s->out, "]", 1);
		}
		if (cf_out_write(&s->out, "}\n", 2)) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
			return s->out.err;
		}
	}
	s->rows += (uint64_t)b->n_rows;
	return CF_OK;
}

static int jsonl_close(void *state, cf_sink_stats *stats, char *errbuf)
{
	struct jsonl_sink *s = state;
	uint64_t bytes = s->out.off;
	int rc = cf_out_commit(&s->out);
	if (rc)
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
	else if (stats) {
		stats->rows = s->rows;
		stats->bytes = bytes;
	}
	free(s);
	return rc;
}

static void jsonl_abort(void *state)
{
	struct jsonl_sink *s = state;
	if (!s)
		return;
	cf_out_discard(&s->out);
	free(s);
}

const cf_sink_ops cf_sink_jsonl = {"jsonl", ".jsonl", jsonl_open, jsonl_write, jsonl_close, jsonl_abort};

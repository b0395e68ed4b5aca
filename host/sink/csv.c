/*
 * CSV sink: RFC 4180 text, one header line of column names (a vector
 * column of width N becomes name_0 .. name_{N-1}), then one line per row.
 *
 * Values: integers and timestamps (int64 ns) in decimal; float64 with 17
 * and float32 with 9 significant digits, which read back to the same bits;
 * "nan", "inf", "-inf"; booleans "true"/"false"; strings quoted only when
 * they hold a comma, a quote or a line break (quotes doubled); a null row
 * leaves its fields empty. Lines end with "\n".
 */
#include "cuflow/status.h"
#include "cuflow/sink.h"
#include "sink/out_file.h"
#include "sink/sink_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv_sink {
	const cf_table_schema *schema;
	cf_out_file out;
	uint64_t rows;
};

static int csv_open(const cf_table_schema *schema, const char *path, const cf_sink_opts *opts, void **state,
                    char *errbuf)
{
	struct csv_sink *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "csv: out of memory");
		return CF_ERR_NOMEM;
	}
	s->schema = schema;
	for (uint32_t i = 0; i < cf_table_schema_columns(schema); i++)
		if (cf_table_schema_column(schema, i)->width > CF_COLUMN_FLAT_WIDTH_MAX) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "csv: %s: column %s is wider than %u elements: use an array format (npy)",
			         path, cf_table_schema_column(schema, i)->name, CF_COLUMN_FLAT_WIDTH_MAX);
			free(s);
			return CF_ERR_ARG;
		}
	int rc = cf_out_open(&s->out, "csv", path, 1u << 20);
	if (rc) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
		free(s);
		return rc;
	}
	char name[CF_COLUMN_NAME_MAX + 16];
	for (uint32_t i = 0, first = 1; i < cf_table_schema_columns(schema); i++) {
		const cf_table_column *c = cf_table_schema_column(schema, i);
		for (uint32_t k = 0; k < c->width; k++, first = 0) {
			int n = c->width == 1 ? snprintf(name, sizeof name, "%s%s", first ? "" : ",", c->name)
			                      : snprintf(name, sizeof name, "%s%s_%u", first ? "" : ",", c->name, k);
			cf_out_write(&s->out, name, (size_t)n);
		}
	}
	rc = cf_out_write(&s->out, "\n", 1);
	if (rc) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
		cf_out_discard(&s->out);
		free(s);
		return rc;
	}
	*state = s;
	return CF_OK;
}

static int format_double(char *p, size_t cap, double v, int digits)
{
	if (isnan(v))
		return snprintf(p, cap, "nan");
	if (isinf(v))
		return snprintf(p, cap, v < 0 ? "-inf" : "inf");
	return snprintf(p, cap, "%.*g", digits, v);
}

static void put_string(cf_out_file *f, const uint8_t *p, size_t n)
{
	int quote = 0;
	for (size_t i = 0; i < n && !quote; i++)
		quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
	if (!quote) {
		cf_out_write(f, p, n);
		return;
	}
	cf_out_write(f, "\"", 1);
	size_t from = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '"') {
			cf_out_write(f, p + from, i + 1 - from); /* up to and with the quote, then once more */
			cf_out_write(f, "\"", 1);
			from = i + 1;
		}
	cf_out_write(f, p + from, n - from);
	cf_out_write(f, "\"", 1);
}

/* Element e (flat index row * width + k) of array a of dtype, as text. */
static void put_value(cf_out_file *f, int dtype, const cf_table_array *a, int64_t e)
{
	char t[40];
	int n = 0;
	switch (dtype) {
	case CF_DTYPE_BOOL:
		n = snprintf(t, sizeof t, "%s", cf_bitmap_get(a->values, e) ? "true" : "false");
		break;
	case CF_DTYPE_INT8: n = snprintf(t, sizeof t, "%d", ((const int8_t *)a->values)[e]); break;
	case CF_DTYPE_INT16: n = snprintf(t, sizeof t, "%d", ((const int16_t *)a->values)[e]); break;
	case CF_DTYPE_INT32: n = snprintf(t, sizeof t, "%d", ((const int32_t *)a->values)[e]); break;
	case CF_DTYPE_INT64:
	case CF_DTYPE_TIMESTAMP_NS:
		n = snprintf(t, sizeof t, "%lld", (long long)((const int64_t *)a->values)[e]);
		break;
	case CF_DTYPE_UINT8: n = snprintf(t, sizeof t, "%u", ((const uint8_t *)a->values)[e]); break;
	case CF_DTYPE_UINT16: n = snprintf(t, sizeof t, "%u", ((const uint16_t *)a->values)[e]); break;
	case CF_DTYPE_UINT32: n = snprintf(t, sizeof t, "%u", ((const uint32_t *)a->values)[e]); break;
	case CF_DTYPE_UINT64:
		n = snprintf(t, sizeof t, "%llu", (unsigned long long)((const uint64_t *)a->values)[e]);
		break;
	case CF_DTYPE_FLOAT32: n = format_double(t, sizeof t, ((const float *)a->values)[e], 9); break;
	case CF_DTYPE_FLOAT64: n = format_double(t, sizeof t, ((const double *)a->values)[e], 17); break;
	case CF_DTYPE_STRING: {
		const int32_t *o = a->values;
		put_string(f, a->data + o[e], (size_t)(o[e + 1] - o[e]));
		return;
	}
	case CF_DTYPE_LARGE_STRING: {
		const int64_t *o = a->values;
		put_string(f, a->data + o[e], (size_t)(o[e + 1] - o[e]));
		return;
	}
	}
	cf_out_write(f, t, (size_t)n);
}

static int csv_write(void *state, const cf_table_batch *b, char *errbuf)
{
	struct csv_sink *s = state;
	uint32_t nc = cf_table_schema_columns(s->schema);
	for (int64_t r = 0; r < b->n_rows; r++) {
		for (uint32_t i = 0; i < nc; i++) {
			const cf_table_column *c = cf_table_schema_column(s->schema, i);
			const cf_table_array *a = &b->columns[i];
			int present = !a->validity || cf_bitmap_get(a->validity, r);
			for (uint32_t k = 0; k < c->width; k++) {
				if (i || k)
					cf_out_write(&s->out, ",", 1);
				if (present)
					put_value(&s->out, c->dtype, a, r * (int64_t)c->width + k);
			}
		}
		if (cf_out_write(&s->out, "\n", 1)) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->out.msg);
			return s->out.err;
		}
	}
	s->rows += (uint64_t)b->n_rows;
	return CF_OK;
}

static int csv_close(void *state, cf_sink_stats *stats, char *errbuf)
{
	struct csv_sink *s = state;
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

static void csv_abort(void *state)
{
	struct csv_sink *s = state;
	if (!s)
		return;
	cf_out_discard(&s->out);
	free(s);
}

const cf_sink_ops cf_sink_csv = {"csv", ".csv", csv_open, csv_write, csv_close, csv_abort};

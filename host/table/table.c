/*
 * Column-table schemas and batches (include/cuflow/table.h).
 *
 * A schema is a growable array of cf_table_column whose strings it owns.
 * Names are restricted to identifiers so every format (Parquet, CSV
 * headers, SQLite, numpy field names) takes them unquoted, and vector
 * columns expand to name_0 .. name_{N-1} without clashing with another.
 */
#include "cuflow/table.h"
#include "cuflow/status.h"
#include "sink/out_file.h"
#include "cuflow/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cf_table_schema {
	cf_table_column *cols;
	uint32_t n, cap;
};

static const struct {
	const char *name;
	size_t size;
} dtypes[CF_DTYPE_COUNT] = {
	[CF_DTYPE_BOOL] = {"bool", 0},
	[CF_DTYPE_INT8] = {"int8", 1},
	[CF_DTYPE_INT16] = {"int16", 2},
	[CF_DTYPE_INT32] = {"int32", 4},
	[CF_DTYPE_INT64] = {"int64", 8},
	[CF_DTYPE_UINT8] = {"uint8", 1},
	[CF_DTYPE_UINT16] = {"uint16", 2},
	[CF_DTYPE_UINT32] = {"uint32", 4},
	[CF_DTYPE_UINT64] = {"uint64", 8},
	[CF_DTYPE_FLOAT32] = {"float32", 4},
	[CF_DTYPE_FLOAT64] = {"float64", 8},
	[CF_DTYPE_STRING] = {"string", 4},
	[CF_DTYPE_LARGE_STRING] = {"large_string", 8},
	[CF_DTYPE_TIMESTAMP_NS] = {"timestamp_ns", 8},
};

const char *cf_dtype_name(int dtype)
{
	return dtype >= 0 && dtype < CF_DTYPE_COUNT ? dtypes[dtype].name : NULL;
}

size_t cf_dtype_size(int dtype)
{
	return dtype >= 0 && dtype < CF_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

int cf_table_schema_create(cf_table_schema **out, char *errbuf)
{
	if (!out)
		return cf_errf(errbuf, CF_ERR_ARG, "table: NULL schema pointer");
	*out = calloc(1, sizeof **out);
	return *out ? CF_OK : cf_errf(errbuf, CF_ERR_NOMEM, "table: out of memory");
}

static void free_column(cf_table_column *c)
{
	free((char *)c->name);
	free((char *)c->unit);
	free((char *)c->doc);
}

void cf_table_schema_free(cf_table_schema *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		free_column(&s->cols[i]);
	free(s->cols);
	free(s);
}

static int valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CF_COLUMN_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* Whether `name` is one of the names column c is written under: c->name
 * for a scalar, c->name + "_" + k (0 <= k < width, no leading zero) for a
 * vector. */
static int names_element(const char *name, const cf_table_column *c)
{
	size_t n = strlen(c->name);
	if (strncmp(name, c->name, n) != 0)
		return 0;
	if (c->width == 1)
		return name[n] == '\0';
	if (name[n] != '_' || name[n + 1] == '\0' || (name[n + 1] == '0' && name[n + 2] != '\0'))
		return 0;
	uint64_t k = 0;
	for (const char *p = name + n + 1; *p; p++) {
		if (*p < '0' || *p > '9' || k > CF_COLUMN_WIDTH_MAX)
			return 0;
		k = k * 10 + (uint64_t)(*p - '0');
	}
	return k < c->width;
}

/* Whether s holds a column that clashes with a new column `name` of
 * `width` elements: a plain name or a written (element) name of one equal
 * to a plain or written name of the other. */
static int clashes(const cf_table_schema *s, const char *name, uint32_t width)
{
	char el[CF_COLUMN_NAME_MAX + 16];
	cf_table_column self = {.name = name, .width = width};
	for (uint32_t i = 0; i < s->n; i++) {
		const cf_table_column *c = &s->cols[i];
		if (!strcmp(c->name, name) || names_element(name, c) || names_element(c->name, &self))
			return 1;
		if (width > 1 && c->width > 1)
			for (uint32_t k = 0; k < width; k++) {
				snprintf(el, sizeof el, "%s_%u", name, k);
				if (names_element(el, c))
					return 1;
			}
	}
	return 0;
}

/* Strict UTF-8 check (no overlongs, no surrogates), since Parquet
 * metadata and JSON readers reject anything else. */
static int valid_utf8(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	while (*p) {
		unsigned c = *p;
		int n;
		uint32_t cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (int k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

int cf_table_schema_add(cf_table_schema *s, const char *name, int dtype, uint32_t width, const char *unit,
                        const char *doc, uint32_t flags, char *errbuf)
{
	if (!s || !name)
		return cf_errf(errbuf, CF_ERR_ARG, "table: NULL schema or column name");
	if (!valid_name(name))
		return cf_errf(errbuf, CF_ERR_ARG,
		            "table: column name \"%.*s\" is not an identifier of 1..%d characters ([A-Za-z_][A-Za-z0-9_]*)",
		            CF_COLUMN_NAME_MAX, name, CF_COLUMN_NAME_MAX);
	if (!cf_dtype_name(dtype))
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: unknown dtype %d", name, dtype);
	if (width < 1 || width > CF_COLUMN_WIDTH_MAX)
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: width %u is not in 1..%u", name, width,
		            CF_COLUMN_WIDTH_MAX);
	if (flags & ~(CF_COLUMN_NULLABLE | CF_COLUMN_RUN_ID | CF_COLUMN_ROW_NUMBER))
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: unknown flags 0x%x", name, flags);
	unit = unit ? unit : "";
	doc = doc ? doc : "";
	if (strpbrk(doc, "\r\n") || strpbrk(unit, "\r\n"))
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: unit and doc must be one line", name);
	if (!valid_utf8(doc) || !valid_utf8(unit))
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: unit or doc is not valid UTF-8", name);
	if (clashes(s, name, width))
		return cf_errf(errbuf, CF_ERR_ARG,
		            "table: column %s (width %u) has the name of, or shares an element name with, another column",
		            name, width);
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		cf_table_column *c = realloc(s->cols, cap * sizeof *c);
		if (!c)
			return cf_errf(errbuf, CF_ERR_NOMEM, "table: out of memory");
		s->cols = c;
		s->cap = cap;
	}
	if ((flags & (CF_COLUMN_RUN_ID | CF_COLUMN_ROW_NUMBER)) &&
	    (width != 1 || (dtype != CF_DTYPE_UINT64 && dtype != CF_DTYPE_INT64)))
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: run ids and row numbers are scalar uint64/int64", name);
	cf_table_column c = {strdup(name), dtype, width, strdup(unit), strdup(doc), flags, 0, {0, 0, 0, 0}};
	if (!c.name || !c.unit || !c.doc) {
		free_column(&c);
		return cf_errf(errbuf, CF_ERR_NOMEM, "table: out of memory");
	}
	s->cols[s->n++] = c;
	return CF_OK;
}

int cf_table_schema_set_shape(cf_table_schema *s, uint32_t i, uint32_t ndim, const uint32_t *dims, char *errbuf)
{
	if (!s || i >= s->n || !dims || ndim < 1 || ndim > CF_COLUMN_NDIM_MAX)
		return cf_errf(errbuf, CF_ERR_ARG, "table: bad shape arguments");
	uint64_t w = 1;
	for (uint32_t k = 0; k < ndim; k++)
		w *= dims[k];
	if (w != s->cols[i].width)
		return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: shape has %llu elements, width is %u", s->cols[i].name,
		            (unsigned long long)w, s->cols[i].width);
	s->cols[i].ndim = ndim;
	memcpy(s->cols[i].dims, dims, ndim * sizeof *dims);
	return CF_OK;
}

int cf_table_schema_clone(const cf_table_schema *s, cf_table_schema **out, char *errbuf)
{
	if (!s || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "table: NULL schema");
	*out = NULL;
	cf_table_schema *c;
	int rc = cf_table_schema_create(&c, errbuf);
	for (uint32_t i = 0; rc == CF_OK && i < s->n; i++) {
		const cf_table_column *k = &s->cols[i];
		rc = cf_table_schema_add(c, k->name, k->dtype, k->width, k->unit, k->doc, k->flags, errbuf);
		if (rc == CF_OK && k->ndim)
			rc = cf_table_schema_set_shape(c, i, k->ndim, k->dims, errbuf);
	}
	if (rc) {
		cf_table_schema_free(c);
		return rc;
	}
	*out = c;
	return CF_OK;
}

uint32_t cf_table_schema_columns(const cf_table_schema *s)
{
	return s ? s->n : 0;
}

const cf_table_column *cf_table_schema_column(const cf_table_schema *s, uint32_t i)
{
	return s && i < s->n ? &s->cols[i] : NULL;
}

int32_t cf_table_schema_find(const cf_table_schema *s, const char *name)
{
	for (uint32_t i = 0; s && name && i < s->n; i++)
		if (!strcmp(s->cols[i].name, name))
			return (int32_t)i;
	return -1;
}

/* ------------------------------------------------------------ JSON */

/* A growing string that only counts once it runs past cap. */
struct jbuf {
	char *p;
	size_t cap, len;
};

static void jput(struct jbuf *b, const char *s, size_t n)
{
	if (b->len < b->cap) {
		size_t k = b->cap - b->len;
		memcpy(b->p + b->len, s, n < k ? n : k);
	}
	b->len += n;
}

static void jstr(struct jbuf *b, const char *s)
{
	jput(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jput(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			jput(b, esc, 6);
		} else {
			jput(b, s, 1);
		}
	}
	jput(b, "\"", 1);
}

static void jraw(struct jbuf *b, const char *s)
{
	jput(b, s, strlen(s));
}

int cf_table_schema_json(const cf_table_schema *s, char *buf, size_t cap, size_t *len)
{
	if (!s || (cap && !buf))
		return CF_ERR_ARG;
	struct jbuf b = {buf, cap ? cap - 1 : 0, 0}; /* keep room for the NUL */
	jraw(&b, "{\"columns\":[");
	for (uint32_t i = 0; i < s->n; i++) {
		const cf_table_column *c = &s->cols[i];
		char num[32];
		jraw(&b, i ? ",{\"name\":" : "{\"name\":");
		jstr(&b, c->name);
		jraw(&b, ",\"dtype\":");
		jstr(&b, cf_dtype_name(c->dtype));
		snprintf(num, sizeof num, ",\"width\":%u", c->width);
		jraw(&b, num);
		jraw(&b, ",\"unit\":");
		jstr(&b, c->unit);
		jraw(&b, ",\"doc\":");
		jstr(&b, c->doc);
		if (c->ndim) {
			jraw(&b, ",\"shape\":[");
			for (uint32_t k = 0; k < c->ndim; k++) {
				snprintf(num, sizeof num, k ? ",%u" : "%u", c->dims[k]);
				jraw(&b, num);
			}
			jraw(&b, "]");
		}
		jraw(&b, c->flags & CF_COLUMN_NULLABLE ? ",\"nullable\":true}" : ",\"nullable\":false}");
	}
	jraw(&b, "]}");
	if (len)
		*len = b.len;
	if (cap)
		buf[b.len < b.cap ? b.len : b.cap] = '\0';
	return b.len < cap ? CF_OK : CF_ERR_ARG;
}

int cf_table_schema_write_json(const cf_table_schema *s, const char *path, char *errbuf)
{
	if (!s || !path)
		return cf_errf(errbuf, CF_ERR_ARG, "table: NULL schema or path");
	size_t n;
	cf_table_schema_json(s, NULL, 0, &n);
	char *text = malloc(n + 2);
	if (!text)
		return cf_errf(errbuf, CF_ERR_NOMEM, "table: out of memory");
	cf_table_schema_json(s, text, n + 1, NULL);
	text[n] = '\n';
	cf_out_file f;
	int rc = cf_out_open(&f, "schema.json", path, n + 1);
	if (rc == CF_OK) {
		cf_out_write(&f, text, n + 1);
		rc = cf_out_commit(&f);
	}
	free(text);
	return rc ? cf_errf(errbuf, rc, "%s", f.msg) : CF_OK;
}

/* ------------------------------------------------------------ batches */

int cf_table_batch_init(cf_table_batch *b, const cf_table_schema *s, int64_t n_rows)
{
	if (!b || !s || n_rows < 0)
		return CF_ERR_ARG;
	memset(b, 0, sizeof *b);
	b->columns = calloc(s->n ? s->n : 1, sizeof *b->columns);
	if (!b->columns)
		return CF_ERR_NOMEM;
	b->n_columns = s->n;
	b->n_rows = n_rows;
	return CF_OK;
}

int cf_table_batch_set(cf_table_batch *b, uint32_t i, const void *values, const uint8_t *data,
                       const uint8_t *validity)
{
	if (!b || i >= b->n_columns)
		return CF_ERR_ARG;
	b->columns[i].values = values;
	b->columns[i].data = data;
	b->columns[i].validity = validity;
	return CF_OK;
}

void cf_table_batch_free(cf_table_batch *b)
{
	if (!b)
		return;
	free(b->columns);
	b->columns = NULL;
	b->n_columns = 0;
}

int cf_table_batch_check(const cf_table_schema *s, const cf_table_batch *b, char *errbuf)
{
	if (!s || !b)
		return cf_errf(errbuf, CF_ERR_ARG, "table: NULL schema or batch");
	if (b->n_rows < 0)
		return cf_errf(errbuf, CF_ERR_ARG, "table: batch of %lld rows", (long long)b->n_rows);
	if (b->n_columns != s->n)
		return cf_errf(errbuf, CF_ERR_ARG, "table: batch has %u columns, the schema %u", b->n_columns, s->n);
	if (b->n_rows == 0)
		return CF_OK;
	if (!b->columns)
		return cf_errf(errbuf, CF_ERR_ARG, "table: batch without columns");
	for (uint32_t i = 0; i < s->n; i++) {
		const cf_table_column *c = &s->cols[i];
		const cf_table_array *a = &b->columns[i];
		if (!a->values)
			return cf_errf(errbuf, CF_ERR_ARG, "table: column %s: no values", c->name);
		if (a->validity && !(c->flags & CF_COLUMN_NULLABLE))
			return cf_errf(errbuf, CF_ERR_ARG, "table: column %s has a validity bitmap but is not nullable",
			            c->name);
		if (c->dtype != CF_DTYPE_STRING && c->dtype != CF_DTYPE_LARGE_STRING)
			continue;
		if (!a->data)
			return cf_errf(errbuf, CF_ERR_ARG, "table: string column %s: no data", c->name);
		int64_t n = b->n_rows * (int64_t)c->width, prev;
		if (c->dtype == CF_DTYPE_STRING) {
			const int32_t *o = a->values;
			prev = o[0];
			for (int64_t k = 1; k <= n && prev >= 0; k++) {
				if (o[k] < prev)
					prev = -1;
				else
					prev = o[k];
			}
		} else {
			const int64_t *o = a->values;
			prev = o[0];
			for (int64_t k = 1; k <= n && prev >= 0; k++) {
				if (o[k] < prev)
					prev = -1;
				else
					prev = o[k];
			}
		}
		if (prev < 0)
			return cf_errf(errbuf, CF_ERR_ARG, "table: string column %s: offsets negative or decreasing", c->name);
	}
	return CF_OK;
}

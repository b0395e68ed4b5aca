/*
 * Rows of a column table built one value at a time (internal, host/iot):
 * scalar UINT8/UINT16/UINT32/UINT64/INT64/FLOAT64/STRING columns, any of
 * them nullable, kept as Arrow-layout arrays that a cf_table_batch points at.
 */
#ifndef CUFLOW_IOT_ROW_BUILDER_H
#define CUFLOW_IOT_ROW_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/table.h"

typedef struct rb_col {
	int dtype;
	size_t esize;
	uint8_t *values;     /* cap elements (strings: cap + 1 int32 offsets) */
	uint8_t *validity;   /* cap bits */
	char *data;          /* strings */
	size_t data_len, data_cap;
	int any_null;
} rb_col;

typedef struct row_builder {
	const cf_table_schema *schema;
	uint32_t ncol, col;  /* col: the next value's column in the current row */
	int64_t rows, cap;
	rb_col *c;
	cf_table_batch batch;
	int oom;
} row_builder;

static inline int rb_init(row_builder *b, const cf_table_schema *s, int64_t cap)
{
	memset(b, 0, sizeof *b);
	b->schema = s;
	b->ncol = cf_table_schema_columns(s);
	b->cap = cap;
	if (!(b->c = calloc(b->ncol, sizeof *b->c)) || cf_table_batch_init(&b->batch, s, 0) != 0)
		return -1;
	for (uint32_t k = 0; k < b->ncol; k++) {
		rb_col *c = &b->c[k];
		c->dtype = cf_table_schema_column(s, k)->dtype;
		c->esize = c->dtype == CF_DTYPE_STRING ? 4 : cf_dtype_size(c->dtype);
		c->values = calloc((size_t)cap + 1, c->esize);
		c->validity = calloc(((size_t)cap + 7) / 8, 1);
		if (!c->values || !c->validity)
			return -1;
	}
	return 0;
}

static inline void rb_free(row_builder *b)
{
	for (uint32_t k = 0; b->c && k < b->ncol; k++) {
		free(b->c[k].values);
		free(b->c[k].validity);
		free(b->c[k].data);
	}
	free(b->c);
	cf_table_batch_free(&b->batch);
	memset(b, 0, sizeof *b);
}

static inline void rb_clear(row_builder *b)
{
	for (uint32_t k = 0; k < b->ncol; k++) {
		b->c[k].data_len = 0;
		b->c[k].any_null = 0;
	}
	b->rows = 0;
	b->col = 0;
}

/* The next column's slot in the current row, marked present. */
static inline void *rb_slot(row_builder *b, rb_col **cp)
{
	rb_col *c = &b->c[b->col++];
	c->validity[b->rows >> 3] |= (uint8_t)(1u << (b->rows & 7));
	*cp = c;
	return c->values + (size_t)b->rows * c->esize;
}

static inline void rb_u64(row_builder *b, uint64_t v)
{
	rb_col *c;
	void *p = rb_slot(b, &c);
	switch (c->dtype) {
	case CF_DTYPE_UINT8: *(uint8_t *)p = (uint8_t)v; break;
	case CF_DTYPE_UINT16: *(uint16_t *)p = (uint16_t)v; break;
	case CF_DTYPE_UINT32: *(uint32_t *)p = (uint32_t)v; break;
	default: memcpy(p, &v, 8); break; /* UINT64, INT64 */
	}
}

static inline void rb_f64(row_builder *b, double v)
{
	rb_col *c;
	memcpy(rb_slot(b, &c), &v, 8);
}

static inline void rb_str(row_builder *b, const char *s, size_t n)
{
	rb_col *c;
	int32_t *off = rb_slot(b, &c);
	if (c->data_len + n > c->data_cap) {
		size_t cap = c->data_cap ? c->data_cap * 2 : 4096;
		while (cap < c->data_len + n)
			cap *= 2;
		char *d = realloc(c->data, cap);
		if (!d) {
			b->oom = 1;
			n = 0;
		} else {
			c->data = d, c->data_cap = cap;
		}
	}
	if (n)
		memcpy(c->data + c->data_len, s, n);
	off[0] = (int32_t)c->data_len;
	c->data_len += n;
	off[1] = (int32_t)c->data_len;
}

static inline void rb_cstr(row_builder *b, const char *s)
{
	rb_str(b, s, strlen(s));
}

/* A NULL in the next column (a nullable one). */
static inline void rb_null(row_builder *b)
{
	rb_col *c = &b->c[b->col++];
	c->validity[b->rows >> 3] &= (uint8_t)~(1u << (b->rows & 7));
	c->any_null = 1;
	if (c->dtype == CF_DTYPE_STRING) {
		int32_t *off = (int32_t *)c->values + b->rows;
		off[0] = off[1] = (int32_t)c->data_len;
	} else {
		memset(c->values + (size_t)b->rows * c->esize, 0, c->esize);
	}
}

/* Ends the row; 1 when the builder is full (emit, then rb_clear). */
static inline int rb_end_row(row_builder *b)
{
	b->col = 0;
	return ++b->rows == b->cap;
}

static inline const cf_table_batch *rb_batch(row_builder *b)
{
	b->batch.n_rows = b->rows;
	for (uint32_t k = 0; k < b->ncol; k++) {
		rb_col *c = &b->c[k];
		static const uint8_t none[1];
		const uint8_t *data = c->data ? (const uint8_t *)c->data : none; /* all NULL or "": still an array */
		cf_table_batch_set(&b->batch, k, c->values, c->dtype == CF_DTYPE_STRING ? data : NULL,
		                   c->any_null ? c->validity : NULL);
	}
	return &b->batch;
}

#endif

/* cf_table_batch_copy: a batch and its arrays in one allocation. */
#include <stdlib.h>
#include <string.h>

#include "cuflow/status.h"
#include "cuflow/table_copy.h"

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Bytes of column c's values, data and validity for n rows. */
static void column_sizes(const cf_table_column *c, const cf_table_array *a, int64_t n, size_t *values, size_t *data,
                         size_t *valid)
{
	int64_t e = n * (int64_t)c->width;
	*data = 0;
	if (c->dtype == CF_DTYPE_BOOL) {
		*values = cf_bitmap_bytes(e);
	} else if (c->dtype == CF_DTYPE_STRING) {
		*values = (size_t)(e + 1) * 4;
		if (n)
			*data = (size_t)(((const int32_t *)a->values)[e] - ((const int32_t *)a->values)[0]);
	} else if (c->dtype == CF_DTYPE_LARGE_STRING) {
		*values = (size_t)(e + 1) * 8;
		if (n)
			*data = (size_t)(((const int64_t *)a->values)[e] - ((const int64_t *)a->values)[0]);
	} else {
		*values = (size_t)e * cf_dtype_size(c->dtype);
	}
	*valid = a->validity ? cf_bitmap_bytes(n) : 0;
}

int cf_table_batch_copy(const cf_table_schema *s, const cf_table_batch *b, cf_table_copy **out)
{
	*out = NULL;
	if (cf_table_batch_check(s, b, NULL) != CF_OK)
		return CF_ERR_ARG;
	uint32_t nc = b->n_columns;
	int64_t n = b->n_rows;
	size_t total = align8(sizeof(cf_table_copy)) + align8(nc * sizeof(cf_table_array));
	for (uint32_t i = 0; i < nc; i++) {
		size_t v, d, va;
		column_sizes(cf_table_schema_column(s, i), &b->columns[i], n, &v, &d, &va);
		total += align8(v) + align8(d) + align8(va);
	}
	char *mem = malloc(total ? total : 1);
	if (!mem)
		return CF_ERR_NOMEM;
	cf_table_copy *c = (cf_table_copy *)mem;
	char *p = mem + align8(sizeof(cf_table_copy));
	c->mem = mem;
	c->bytes = total;
	c->table = 0;
	c->batch.n_rows = n;
	c->batch.n_columns = nc;
	c->batch.columns = (cf_table_array *)p;
	p += align8(nc * sizeof(cf_table_array));
	for (uint32_t i = 0; i < nc; i++) {
		const cf_table_column *col = cf_table_schema_column(s, i);
		const cf_table_array *a = &b->columns[i];
		cf_table_array *d = &c->batch.columns[i];
		size_t v, dl, va;
		column_sizes(col, a, n, &v, &dl, &va);
		memset(d, 0, sizeof *d);
		if (v && n)
			memcpy(p, a->values, v);
		else if (v)
			memset(p, 0, v);
		d->values = p;
		int64_t e = n * (int64_t)col->width;
		if (col->dtype == CF_DTYPE_STRING && n) {
			int32_t *o = (int32_t *)p, base = o[0];
			for (int64_t k = 0; k <= e; k++)
				o[k] -= base;
			p += align8(v);
			if (dl)
				memcpy(p, a->data + base, dl);
			d->data = (const uint8_t *)p;
			p += align8(dl);
		} else if (col->dtype == CF_DTYPE_LARGE_STRING && n) {
			int64_t *o = (int64_t *)p, base = o[0];
			for (int64_t k = 0; k <= e; k++)
				o[k] -= base;
			p += align8(v);
			if (dl)
				memcpy(p, a->data + base, dl);
			d->data = (const uint8_t *)p;
			p += align8(dl);
		} else {
			if (col->dtype == CF_DTYPE_STRING || col->dtype == CF_DTYPE_LARGE_STRING)
				d->data = (const uint8_t *)p; /* no rows: one offset of 0, no bytes */
			p += align8(v);
		}
		if (va) {
			memcpy(p, a->validity, va);
			d->validity = (const uint8_t *)p;
			p += align8(va);
		}
	}
	*out = c;
	return CF_OK;
}

void cf_table_copy_free(cf_table_copy *c)
{
	if (c)
		free(c->mem);
}

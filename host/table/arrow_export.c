/* Column tables through the Arrow C Data Interface (cuflow/arrow.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/arrow.h"
#include "cuflow/status.h"
#include "cuflow/errbuf.h"

static const char *format_of(int dtype)
{
	switch (dtype) {
	case CF_DTYPE_BOOL: return "b";
	case CF_DTYPE_INT8: return "c";
	case CF_DTYPE_INT16: return "s";
	case CF_DTYPE_INT32: return "i";
	case CF_DTYPE_INT64: return "l";
	case CF_DTYPE_UINT8: return "C";
	case CF_DTYPE_UINT16: return "S";
	case CF_DTYPE_UINT32: return "I";
	case CF_DTYPE_UINT64: return "L";
	case CF_DTYPE_FLOAT32: return "f";
	case CF_DTYPE_FLOAT64: return "g";
	case CF_DTYPE_STRING: return "u";
	case CF_DTYPE_LARGE_STRING: return "U";
	case CF_DTYPE_TIMESTAMP_NS: return "tsn:UTC";
	}
	return NULL;
}

/* ------------------------------------------------------------ schema */

/* One schema node's own memory: its strings and its children. */
struct snode {
	char *format, *name, *metadata;
	struct ArrowSchema *kids;     /* n_children of them */
	struct ArrowSchema **kid_ptrs;
};

static void schema_release(struct ArrowSchema *s)
{
	struct snode *p = s->private_data;
	for (int64_t i = 0; i < s->n_children; i++)
		if (s->children[i]->release)
			s->children[i]->release(s->children[i]);
	if (p) {
		free(p->format);
		free(p->name);
		free(p->metadata);
		free(p->kids);
		free(p->kid_ptrs);
		free(p);
	}
	s->release = NULL;
}

/* Arrow's metadata encoding: int32 pair count, then each key and value as
 * int32 length + bytes (native byte order). NULL when there is nothing. */
static char *metadata_of(const cf_table_column *c, int *oom)
{
	const char *k[2] = {"cuflow.unit", "cuflow.doc"}, *v[2] = {c->unit, c->doc};
	int32_t n = 0;
	size_t len = 4;
	for (int i = 0; i < 2; i++)
		if (v[i] && v[i][0]) {
			n++;
			len += 8 + strlen(k[i]) + strlen(v[i]);
		}
	if (!n)
		return NULL;
	char *m = malloc(len), *p = m;
	if (!m) {
		*oom = 1;
		return NULL;
	}
	memcpy(p, &n, 4), p += 4;
	for (int i = 0; i < 2; i++) {
		if (!v[i] || !v[i][0])
			continue;
		int32_t kl = (int32_t)strlen(k[i]), vl = (int32_t)strlen(v[i]);
		memcpy(p, &kl, 4), p += 4;
		memcpy(p, k[i], (size_t)kl), p += kl;
		memcpy(p, &vl, 4), p += 4;
		memcpy(p, v[i], (size_t)vl), p += vl;
	}
	return m;
}

/* Fills s as a node with n children (zeroed, to be filled by the caller). */
static int schema_node(struct ArrowSchema *s, const char *format, const char *name, int64_t flags, int64_t n)
{
	memset(s, 0, sizeof *s);
	struct snode *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	s->private_data = p;
	s->release = schema_release;
	p->format = strdup(format);
	p->name = strdup(name);
	p->kids = calloc(n ? (size_t)n : 1, sizeof *p->kids);
	p->kid_ptrs = calloc(n ? (size_t)n : 1, sizeof *p->kid_ptrs);
	if (!p->format || !p->name || !p->kids || !p->kid_ptrs)
		return -1;
	for (int64_t i = 0; i < n; i++)
		p->kid_ptrs[i] = &p->kids[i];
	s->format = p->format;
	s->name = p->name;
	s->flags = flags;
	s->n_children = n;
	s->children = n ? p->kid_ptrs : NULL;
	return 0;
}

int cf_arrow_export_schema(const cf_table_schema *s, struct ArrowSchema *out, char *errbuf)
{
	if (!s || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "arrow: NULL schema or output");
	uint32_t nc = cf_table_schema_columns(s);
	struct ArrowSchema root;
	if (schema_node(&root, "+s", "", 0, nc) < 0)
		goto oom;
	for (uint32_t k = 0; k < nc; k++) {
		const cf_table_column *c = cf_table_schema_column(s, k);
		const char *f = format_of(c->dtype);
		if (!f) {
			schema_release(&root);
			return cf_errf(errbuf, CF_ERR_ARG, "arrow: column %s has an unknown dtype", c->name);
		}
		struct ArrowSchema *col = root.children[k];
		int64_t flags = c->flags & CF_COLUMN_NULLABLE ? ARROW_FLAG_NULLABLE : 0;
		char list[32];
		snprintf(list, sizeof list, "+w:%u", c->width);
		if (schema_node(col, c->width > 1 ? list : f, c->name, flags, c->width > 1) < 0 ||
		    (c->width > 1 && schema_node(col->children[0], f, "item", 0, 0) < 0))
			goto oom_root;
		int oom = 0;
		struct snode *p = col->private_data;
		p->metadata = metadata_of(c, &oom);
		col->metadata = p->metadata;
		if (oom)
			goto oom_root;
	}
	*out = root;
	return CF_OK;
oom_root:
	schema_release(&root);
	return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
oom:
	if (root.release)
		schema_release(&root);
	return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------ arrays */

/* The buffers of every node of one export live in one block; each node
 * holds a reference, so a child moved out of the struct keeps it. */
struct block {
	int refs;
	void *mem;
};

struct anode {
	struct block *blk;
	const void *bufs[3];
	struct ArrowArray *kids;
	struct ArrowArray **kid_ptrs;
};

static void array_release(struct ArrowArray *a)
{
	struct anode *p = a->private_data;
	for (int64_t i = 0; i < a->n_children; i++)
		if (a->children[i]->release)
			a->children[i]->release(a->children[i]);
	if (p) {
		if (p->blk && --p->blk->refs == 0) {
			free(p->blk->mem);
			free(p->blk);
		}
		free(p->kids);
		free(p->kid_ptrs);
		free(p);
	}
	a->release = NULL;
}

static int array_node(struct ArrowArray *a, struct block *blk, int64_t length, int64_t n_buffers, int64_t n)
{
	memset(a, 0, sizeof *a);
	struct anode *p = calloc(1, sizeof *p);
	if (!p)
		return -1;
	a->private_data = p;
	a->release = array_release;
	p->kids = calloc(n ? (size_t)n : 1, sizeof *p->kids);
	p->kid_ptrs = calloc(n ? (size_t)n : 1, sizeof *p->kid_ptrs);
	if (!p->kids || !p->kid_ptrs)
		return -1;
	for (int64_t i = 0; i < n; i++)
		p->kid_ptrs[i] = &p->kids[i];
	p->blk = blk;
	blk->refs++;
	a->length = length;
	a->n_buffers = n_buffers;
	a->buffers = p->bufs;
	a->n_children = n;
	a->children = n ? p->kid_ptrs : NULL;
	return 0;
}

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* The bytes one column needs in the block: validity, values or offsets,
 * string data. */
static size_t column_bytes(const cf_table_column *c, const cf_table_array *a, int64_t n)
{
	size_t e = (size_t)n * c->width, sz = align64(a->validity ? ((size_t)n + 7) / 8 : 0);
	if (c->dtype == CF_DTYPE_BOOL)
		return sz + align64((e + 7) / 8);
	if (c->dtype == CF_DTYPE_STRING || c->dtype == CF_DTYPE_LARGE_STRING) {
		size_t w = cf_dtype_size(c->dtype);
		int64_t lo, hi;
		if (c->dtype == CF_DTYPE_STRING)
			lo = ((const int32_t *)a->values)[0], hi = ((const int32_t *)a->values)[e];
		else
			lo = ((const int64_t *)a->values)[0], hi = ((const int64_t *)a->values)[e];
		return sz + align64((e + 1) * w) + align64((size_t)(hi - lo));
	}
	return sz + align64(e * cf_dtype_size(c->dtype));
}

static int64_t nulls_of(const uint8_t *v, int64_t n)
{
	int64_t ones = 0;
	for (int64_t i = 0; i < n; i++)
		ones += v[i >> 3] >> (i & 7) & 1;
	return n - ones;
}

/* Copies column c into the block at *at; fills the element node el (the
 * column node itself, or a vector column's child). */
static void column_fill(const cf_table_column *c, const cf_table_array *a, int64_t n, char *mem, size_t *at,
                        struct ArrowArray *col, struct ArrowArray *el)
{
	size_t e = (size_t)n * c->width;
	struct anode *pc = col->private_data, *pe = el->private_data;
	if (a->validity) {
		size_t vb = ((size_t)n + 7) / 8;
		memcpy(mem + *at, a->validity, vb);
		pc->bufs[0] = mem + *at;
		col->null_count = nulls_of(a->validity, n);
		*at += align64(vb);
	}
	if (c->dtype == CF_DTYPE_STRING || c->dtype == CF_DTYPE_LARGE_STRING) {
		/* offsets rebased to 0, and the bytes they span */
		size_t w = cf_dtype_size(c->dtype);
		char *off = mem + *at;
		*at += align64((e + 1) * w);
		int64_t lo, hi;
		if (c->dtype == CF_DTYPE_STRING) {
			const int32_t *o = a->values;
			lo = o[0], hi = o[e];
			for (size_t i = 0; i <= e; i++)
				((int32_t *)off)[i] = (int32_t)(o[i] - lo);
		} else {
			const int64_t *o = a->values;
			lo = o[0], hi = o[e];
			for (size_t i = 0; i <= e; i++)
				((int64_t *)off)[i] = o[i] - lo;
		}
		if (hi > lo)
			memcpy(mem + *at, a->data + lo, (size_t)(hi - lo));
		pe->bufs[1] = off;
		pe->bufs[2] = hi > lo ? mem + *at : mem; /* no bytes: the zeroed head */
		*at += align64((size_t)(hi - lo));
		return;
	}
	size_t vb = c->dtype == CF_DTYPE_BOOL ? (e + 7) / 8 : e * cf_dtype_size(c->dtype);
	if (vb)
		memcpy(mem + *at, a->values, vb);
	pe->bufs[1] = mem + *at;
	*at += align64(vb);
}

int cf_arrow_export_batch(const cf_table_schema *s, const cf_table_batch *b, struct ArrowArray *out, char *errbuf)
{
	char msg[CF_ERRBUF_SIZE];
	if (!s || !b || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "arrow: NULL schema, batch or output");
	if (cf_table_batch_check(s, b, msg) != CF_OK)
		return cf_errf(errbuf, CF_ERR_ARG, "arrow: %s", msg);
	uint32_t nc = cf_table_schema_columns(s);
	int64_t n = b->n_rows;
	size_t total = 64;
	for (uint32_t k = 0; k < nc && n; k++)
		total += column_bytes(cf_table_schema_column(s, k), &b->columns[k], n);
	struct block *blk = calloc(1, sizeof *blk);
	if (!blk || !(blk->mem = aligned_alloc(64, align64(total)))) {
		free(blk);
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	memset(blk->mem, 0, 64); /* where empty buffers point */
	struct ArrowArray root;
	blk->refs = 1; /* held while building */
	int bad = array_node(&root, blk, n, 1, nc) < 0;
	size_t at = 64;
	for (uint32_t k = 0; k < nc && !bad; k++) {
		const cf_table_column *c = cf_table_schema_column(s, k);
		const cf_table_array *a = &b->columns[k];
		struct ArrowArray *col = root.children[k];
		int str = c->dtype == CF_DTYPE_STRING || c->dtype == CF_DTYPE_LARGE_STRING;
		if (c->width > 1) {
			bad = array_node(col, blk, n, 1, 1) < 0 ||
			      array_node(col->children[0], blk, n * (int64_t)c->width, str ? 3 : 2, 0) < 0;
		} else {
			bad = array_node(col, blk, n, str ? 3 : 2, 0) < 0;
		}
		if (bad)
			break;
		/* empty arrays still point at (zeroed) memory: some importers
		 * read offsets[0] of an empty string array */
		struct ArrowArray *el = c->width > 1 ? col->children[0] : col;
		struct anode *pe = el->private_data;
		pe->bufs[1] = pe->bufs[2] = blk->mem;
		if (n)
			column_fill(c, a, n, blk->mem, &at, col, el);
	}
	if (--blk->refs == 0) { /* no node took it */
		free(blk->mem);
		free(blk);
	}
	if (bad) {
		if (root.release)
			array_release(&root);
		return cf_errf(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	*out = root;
	return CF_OK;
}

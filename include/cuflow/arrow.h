/*
 * Column tables (cuflow/table.h) through the Arrow C Data Interface, so
 * that pyarrow, polars, DuckDB or any Arrow implementation imports
 * cuflow's rows without a copy on their side and without an Arrow library
 * on ours (docs/arrow.md).
 *
 * The ABI structs below are the Arrow specification's own
 * (https://arrow.apache.org/docs/format/CDataInterface.html), guarded by
 * the specification's macro, so this header can meet Arrow's.
 *
 * A schema exports as a struct ("+s") with one child per column; a batch
 * as a struct array of n_rows rows. Column types: BOOL "b", INT8..UINT64
 * "c" "s" "i" "l" / "C" "S" "I" "L", FLOAT32/64 "f" "g", STRING "u",
 * LARGE_STRING "U", TIMESTAMP_NS "tsn:UTC"; a vector column (width > 1) is
 * a FixedSizeList "+w:<width>" of its element type with a child named
 * "item". Nullable columns carry ARROW_FLAG_NULLABLE and their validity
 * bitmap; the column's unit and doc go into the field's metadata (keys
 * "cuflow.unit", "cuflow.doc", when not empty).
 */
#ifndef CUFLOW_ARROW_H
#define CUFLOW_ARROW_H

#include <stdint.h>

#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
	const char *format;
	const char *name;
	const char *metadata;
	int64_t flags;
	int64_t n_children;
	struct ArrowSchema **children;
	struct ArrowSchema *dictionary;
	void (*release)(struct ArrowSchema *);
	void *private_data;
};

struct ArrowArray {
	int64_t length;
	int64_t null_count;
	int64_t offset;
	int64_t n_buffers;
	int64_t n_children;
	const void **buffers;
	struct ArrowArray **children;
	struct ArrowArray *dictionary;
	void (*release)(struct ArrowArray *);
	void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* Fills *out with the schema as an Arrow struct type. The caller (or the
 * Arrow library it hands *out to) calls out->release once. CF_OK, or
 * CF_ERR_ARG / CF_ERR_NOMEM with the message in errbuf (may be NULL) and
 * *out untouched. */
int cf_arrow_export_schema(const cf_table_schema *s, struct ArrowSchema *out, char *errbuf);

/* Fills *out with the batch's rows as an Arrow struct array of the
 * schema's type. The rows are copied once, into 64-byte-aligned buffers
 * that *out owns (the batch may be reused as soon as this returns); the
 * importer reads those buffers in place. String offsets are rebased to
 * start at 0; null counts are exact. out->release frees everything; a
 * child moved out of the struct stays valid until it is released too.
 * CF_OK, or CF_ERR_ARG (the batch does not fit the schema) / CF_ERR_NOMEM,
 * message in errbuf (may be NULL), *out untouched. */
int cf_arrow_export_batch(const cf_table_schema *s, const cf_table_batch *b, struct ArrowArray *out, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif

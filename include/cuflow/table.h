/*
 * Column tables: what producers (flow features, sequences, labels, ...)
 * hand to the sinks that write files (include/cuflow/sink.h).
 *
 * A schema is an ordered list of named, typed columns. Every column has a
 * dtype, a fixed width (1 for a scalar, N for a fixed-size vector such as
 * the first 30 packet sizes of a flow), a unit ("ns", "bytes", "" when it
 * has none) and a one-line doc string. Schemas are built once and are
 * read-only afterwards, so any number of threads may read one.
 *
 * A batch is n_rows rows of every column, each column an array laid out
 * exactly as Apache Arrow lays it out, so that a later exporter can hand
 * the same memory to pyarrow, polars or DuckDB through the Arrow C Data
 * Interface without a copy:
 *
 *   dtype            Arrow type              values points at
 *   BOOL             boolean                 a bitmap, bit i = element i (LSB first)
 *   INT8..UINT64     int8..uint64            n elements of the C type
 *   FLOAT32/64       float32 / float64       n elements of float / double
 *   TIMESTAMP_NS     timestamp[ns, UTC]      n int64_t, ns since the Unix epoch
 *   STRING           utf8                    n + 1 int32_t offsets into `data`
 *   LARGE_STRING     large_utf8              n + 1 int64_t offsets into `data`
 *
 * where n = n_rows * width: a vector column is Arrow's FixedSizeList<width>
 * of that type, whose child array holds the elements row after row (row r,
 * element k at index r * width + k). String element i is the bytes
 * data[offsets[i] .. offsets[i + 1]), UTF-8, not NUL-terminated; offsets
 * need not start at 0. An optional validity bitmap (Arrow's, LSB first)
 * has one bit per row, 1 = present; NULL means every row is present. Only
 * columns declared nullable may have one. Element slots of a null row must
 * still be readable (Arrow's rule), their values are ignored.
 *
 * All times in this API are int64 nanoseconds. The library only builds on
 * little-endian hosts, which is what Arrow's and Parquet's layouts assume.
 */
#ifndef CUFLOW_TABLE_H
#define CUFLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Column element types. The numbers are stable (they appear nowhere on
 * disk; files carry the names of cf_dtype_name). */
enum cf_dtype {
	CF_DTYPE_BOOL = 0,
	CF_DTYPE_INT8,
	CF_DTYPE_INT16,
	CF_DTYPE_INT32,
	CF_DTYPE_INT64,
	CF_DTYPE_UINT8,
	CF_DTYPE_UINT16,
	CF_DTYPE_UINT32,
	CF_DTYPE_UINT64,
	CF_DTYPE_FLOAT32,
	CF_DTYPE_FLOAT64,
	CF_DTYPE_STRING,        /* UTF-8, int32 offsets */
	CF_DTYPE_LARGE_STRING,  /* UTF-8, int64 offsets */
	CF_DTYPE_TIMESTAMP_NS,  /* int64 ns since 1970-01-01T00:00:00Z */
	CF_DTYPE_COUNT
};

/* The dtype's name as schema.json writes it ("bool", "int8", ...,
 * "float64", "string", "large_string", "timestamp_ns"); NULL when unknown. */
const char *cf_dtype_name(int dtype);
/* Bytes per element of the values array: 1..8 for numbers and timestamps,
 * the offset size (4 or 8) for strings, 0 for BOOL (a bitmap) and for an
 * unknown dtype. */
size_t cf_dtype_size(int dtype);

/* Column flags. */
#define CF_COLUMN_NULLABLE 1u   /* batches may give this column a validity bitmap */
/* For drivers that join the rows of many inputs (cuflow/producer.h): */
#define CF_COLUMN_RUN_ID 2u     /* an id counted from 1 within its input: the run adds
                                   the ids the earlier inputs used (uint64/int64) */
#define CF_COLUMN_ROW_NUMBER 4u /* the row's number within its input, from 0: the run
                                   adds the earlier inputs' rows (uint64/int64) */

/* Longest column name, in bytes without the NUL. */
#define CF_COLUMN_NAME_MAX 120
/* Widest vector column (a 2 x 1500 x 1500 FlowPic image fits). */
#define CF_COLUMN_WIDTH_MAX (1u << 24)
/* Widest vector column a format that writes one column per element
 * (Parquet, CSV) takes; wider ones are for array formats (npy). */
#define CF_COLUMN_FLAT_WIDTH_MAX 65536u
/* Most dimensions of a vector column's shape. */
#define CF_COLUMN_NDIM_MAX 4u

/* One column of a schema, as cf_table_schema_column returns it. Every
 * string belongs to the schema. */
typedef struct cf_table_column {
	const char *name;  /* [A-Za-z_][A-Za-z0-9_]*, unique in the schema */
	int dtype;         /* enum cf_dtype */
	uint32_t width;    /* elements per row: 1 scalar, N fixed-size vector */
	const char *unit;  /* "" when none */
	const char *doc;   /* one line, "" when none */
	uint32_t flags;    /* CF_COLUMN_* */
	uint32_t ndim;     /* 0: a plain vector of `width`; else the row's element is
	                      an array of dims[0] x .. x dims[ndim-1] = width elements,
	                      row-major (an image: channels, height, width) */
	uint32_t dims[CF_COLUMN_NDIM_MAX];
} cf_table_column;

typedef struct cf_table_schema cf_table_schema;

/* Creates an empty schema. CF_OK with *out set, or CF_ERR_NOMEM (message
 * in errbuf, which may be NULL) with *out NULL. */
int cf_table_schema_create(cf_table_schema **out, char *errbuf);

/* Appends a column. name: see cf_table_column; vector columns are written
 * by some formats as name_0 .. name_{width-1}, so no column may be named
 * like an element of another (checked here). dtype: enum cf_dtype. width:
 * 1..CF_COLUMN_WIDTH_MAX. unit and doc: UTF-8, copied, NULL = "", doc
 * without line breaks. flags: CF_COLUMN_* or 0.
 * CF_OK, or CF_ERR_ARG (bad name, duplicate, bad dtype/width, line break
 * in doc) / CF_ERR_NOMEM, message in errbuf (may be NULL); the schema is
 * unchanged on error. */
int cf_table_schema_add(cf_table_schema *s, const char *name, int dtype, uint32_t width, const char *unit,
                        const char *doc, uint32_t flags, char *errbuf);

/* Gives column i (a vector) a shape: ndim 1..CF_COLUMN_NDIM_MAX dims
 * whose product is the column's width. Array formats (npy) write the
 * column as N x dims; schema.json lists "shape". CF_OK or CF_ERR_ARG. */
int cf_table_schema_set_shape(cf_table_schema *s, uint32_t i, uint32_t ndim, const uint32_t *dims, char *errbuf);
/* Frees the schema; NULL is accepted. */
void cf_table_schema_free(cf_table_schema *s);

/* A copy of s (for holders that outlive the caller's schema). CF_OK with
 * *out set, CF_ERR_ARG for NULL s, CF_ERR_NOMEM. */
int cf_table_schema_clone(const cf_table_schema *s, cf_table_schema **out, char *errbuf);

/* Number of columns (0 for NULL). */
uint32_t cf_table_schema_columns(const cf_table_schema *s);
/* Column i, or NULL when out of range. Valid while the schema lives. */
const cf_table_column *cf_table_schema_column(const cf_table_schema *s, uint32_t i);
/* Index of the column named `name`, or -1. */
int32_t cf_table_schema_find(const cf_table_schema *s, const char *name);

/* The schema as one JSON object:
 *   {"columns":[{"name":"...","dtype":"uint32","width":1,"unit":"bytes",
 *                "doc":"...","nullable":false}, ...]}
 * written into buf (cap bytes, NUL-terminated, may be NULL when cap is 0).
 * *len (may be NULL) receives the full length without the NUL, so a call
 * with cap 0 sizes the buffer. CF_OK, or CF_ERR_ARG for NULL s or when cap
 * is too small (buf then holds a truncated, NUL-terminated prefix). */
int cf_table_schema_json(const cf_table_schema *s, char *buf, size_t cap, size_t *len);

/* Writes the JSON above plus a newline to `path` (through PATH.tmp-<pid>,
 * renamed at the end, so a complete file or none appears). CF_OK, or
 * CF_ERR_IO / CF_ERR_NOMEM with a message naming the path in errbuf. */
int cf_table_schema_write_json(const cf_table_schema *s, const char *path, char *errbuf);

/* One column of a batch; all pointers borrowed, host memory, laid out as
 * the table at the top of this file says. */
typedef struct cf_table_array {
	const void *values;       /* see the layout table; NULL allowed when n_rows is 0 */
	const uint8_t *data;      /* string bytes (STRING, LARGE_STRING), else NULL */
	const uint8_t *validity;  /* one bit per row, LSB first, 1 = present; NULL = all present */
} cf_table_array;

/* n_rows rows of every column of one schema: columns[i] is column i. */
typedef struct cf_table_batch {
	int64_t n_rows;
	uint32_t n_columns;
	cf_table_array *columns;  /* n_columns entries */
} cf_table_batch;

/* Prepares a batch of n_rows rows for schema s: columns is allocated with
 * one zeroed entry per column (fill it with cf_table_batch_set). The batch
 * may be reused for other row counts by changing n_rows.
 * CF_OK, CF_ERR_ARG (NULL, n_rows < 0), CF_ERR_NOMEM. */
int cf_table_batch_init(cf_table_batch *b, const cf_table_schema *s, int64_t n_rows);
/* Points column i at its arrays (borrowed: they must live as long as the
 * batch is used). CF_OK or CF_ERR_ARG when i is out of range. */
int cf_table_batch_set(cf_table_batch *b, uint32_t i, const void *values, const uint8_t *data,
                       const uint8_t *validity);
/* Frees what cf_table_batch_init allocated (not the arrays); NULL and a
 * zeroed batch are accepted. */
void cf_table_batch_free(cf_table_batch *b);

/* Checks that batch b fits schema s: column count, non-NULL values (and
 * data for strings) when n_rows > 0, validity only on nullable columns,
 * string offsets non-decreasing and >= 0. CF_OK or CF_ERR_ARG with a
 * message naming the column in errbuf (may be NULL). Reads every offset
 * of the string columns, nothing else. */
int cf_table_batch_check(const cf_table_schema *s, const cf_table_batch *b, char *errbuf);

/* Element helpers for the Arrow bitmaps (values of BOOL, validity). */
static inline int cf_bitmap_get(const uint8_t *bits, int64_t i)
{
	return (bits[i >> 3] >> (i & 7)) & 1;
}
static inline void cf_bitmap_set(uint8_t *bits, int64_t i, int v)
{
	if (v)
		bits[i >> 3] = (uint8_t)(bits[i >> 3] | (1u << (i & 7)));
	else
		bits[i >> 3] = (uint8_t)(bits[i >> 3] & ~(1u << (i & 7)));
}
/* Bytes of a bitmap of n bits. */
static inline size_t cf_bitmap_bytes(int64_t n)
{
	return (size_t)((n + 7) / 8);
}

#ifdef __cplusplus
}
#endif

#endif

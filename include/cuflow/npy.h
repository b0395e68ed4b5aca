/*
 * Streaming NumPy .npy writer.
 *
 * `cuflow extract` writes feature matrices, label vectors and sequence
 * tensors whose row count is only known at the end; this writer appends
 * rows as they come, so nothing has to be held in memory. Files are NPY
 * format version 1.0, C order, little-endian, and load with numpy.load()
 * (memory-mappable too).
 *
 * Each file's header is written at open with room for any 20-digit row
 * count, and rewritten in place with the real count when the file is
 * finished, so the data never moves. Until then the header says 0 rows:
 * a file left by a crash still loads (as empty).
 *
 * Optionally the rows are split into shards of at most shard_rows rows:
 * "out.npy" becomes "out-00000.npy", "out-00001.npy", ... (a path without
 * ".npy" gets the suffix appended: "out" -> "out-00000.npy").
 */
#ifndef CUFLOW_NPY_H
#define CUFLOW_NPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, all little-endian on disk. */
enum cf_npy_dtype {
	CF_NPY_F4,  /* "<f4" float */
	CF_NPY_F8,  /* "<f8" double */
	CF_NPY_I1,  /* "|i1" int8_t */
	CF_NPY_U1,  /* "|u1" uint8_t */
	CF_NPY_I2,  /* "<i2" int16_t */
	CF_NPY_U2,  /* "<u2" uint16_t */
	CF_NPY_I4,  /* "<i4" int32_t */
	CF_NPY_U4,  /* "<u4" uint32_t */
	CF_NPY_I8,  /* "<i8" int64_t */
	CF_NPY_U8,  /* "<u8" uint64_t */
	CF_NPY_DTYPE_COUNT
};

/* Most dimensions a row may have (a file has one more: the row axis). */
#define CF_NPY_MAX_ROW_NDIM 3

/* Bytes per element of dtype; 0 for an unknown dtype. */
size_t cf_npy_dtype_size(int dtype);
/* NumPy type string of dtype ("<f4", "|u1", ...); NULL for an unknown dtype. */
const char *cf_npy_dtype_descr(int dtype);

typedef struct cf_npy_writer cf_npy_writer;

/* Opens a writer for rows of shape row_shape[0..row_ndim-1] (row_ndim
 * 0..3; 0 = scalar rows, giving a 1-D array of shape (N,); row_shape may
 * then be NULL). shard_rows == 0: everything goes to `path`; > 0: to
 * numbered shards of at most shard_rows rows each (see above). The first
 * file is created here, so zero rows in total still leave one valid, empty
 * file; a shard is only started when a row goes into it, so no empty
 * trailing shard appears. Existing files are replaced.
 * CF_OK with *out set, or CF_ERR_ARG / CF_ERR_NOMEM / CF_ERR_IO (message
 * naming the file in errbuf, which may be NULL) with *out NULL. */
int cf_npy_writer_open(const char *path, int dtype, int row_ndim, const uint64_t *row_shape,
                       uint64_t shard_rows, cf_npy_writer **out, char *errbuf);

/* Appends n rows from `rows`: a contiguous C-order buffer of n times the
 * row's element count, of the writer's dtype in host order (the library
 * only builds on little-endian hosts). Writes go through a 1 MiB buffer.
 * CF_OK; CF_ERR_ARG for a NULL writer or NULL rows with n > 0; CF_ERR_IO
 * when a write failed (disk full, ...) or CF_ERR_NOMEM when a new shard
 * could not be started: the error sticks, later appends and close return
 * it too, and cf_npy_writer_error() names the file. */
int cf_npy_writer_append(cf_npy_writer *w, const void *rows, uint64_t n);

/* cf_npy_writer_append for rows that are zero but for a known few
 * elements: nonzero lists n_nonzero ascending flat element indices (from
 * the first row's first element) of every element that may be non-zero.
 * In a regular file only the 4 KiB blocks holding them are written, the
 * rest is left as holes (zeros); elsewhere the rows are written in full.
 * The same file results as from cf_npy_writer_append. CF_ERR_ARG for an
 * index past the rows or out of order, else as cf_npy_writer_append. */
int cf_npy_writer_append_sparse(cf_npy_writer *w, const void *rows, uint64_t n, const uint64_t *nonzero,
                                uint64_t n_nonzero);

/* Rows appended so far, over all files (0 for NULL). */
uint64_t cf_npy_writer_rows(const cf_npy_writer *w);

/* Files created so far (for a manifest), the path of file i (NULL when i
 * is out of range; the string belongs to the writer, valid until close)
 * and the rows in file i so far (0 when out of range). */
uint32_t cf_npy_writer_files(const cf_npy_writer *w);
const char *cf_npy_writer_file_path(const cf_npy_writer *w, uint32_t i);
uint64_t cf_npy_writer_file_rows(const cf_npy_writer *w, uint32_t i);

/* The last error's text, "" when none. Never NULL. */
const char *cf_npy_writer_error(const cf_npy_writer *w);

/* Flushes, rewrites the open file's header with its final row count and
 * closes it. CF_OK, or CF_ERR_IO when this or any earlier write failed
 * (CF_ERR_NOMEM if starting a shard ran out of memory); the message, naming
 * the file, goes to errbuf, which may be NULL. Always frees the writer; NULL is
 * accepted (CF_OK). */
int cf_npy_writer_close(cf_npy_writer *w, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif

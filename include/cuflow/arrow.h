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

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
	int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
	int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
	const char *(*get_last_error)(struct ArrowArrayStream *);
	void (*release)(struct ArrowArrayStream *);
	void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

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

struct cf_run_opts;
struct cf_run_inputs;

/* Streams one table of a run of the dataset engine as an Arrow record
 * batch stream: the run (cf_run with CF_RUN_CALLBACK: opts' producer,
 * producer_config, jobs, decode, filter, backend_kind, on_progress with
 * user; its format, output and other callbacks are the stream's) starts at once in a thread of its own
 * and stays at most 4 batches ahead of the consumer. Batches come in the
 * run's output order (input order, then each input's own), with ids and
 * row numbers numbered over the run; the producer's other tables are
 * dropped. get_next reports a failed run (a damaged input is not one: its
 * rows come, as with files) with EIO and get_last_error's message.
 * Releasing the stream early stops the run. opts (with its config) and
 * inputs must stay valid until the stream is released. CF_OK, or
 * CF_ERR_ARG (no such table), CF_ERR_NOMEM, ..., message in errbuf. */
int cf_arrow_stream_run(const struct cf_run_opts *opts, const struct cf_run_inputs *inputs, const char *table,
                        struct ArrowArrayStream *out, char *errbuf);

/* The same for language bindings (ctypes, cffi): the producer by name
 * ("flows", "features", "netml", "flowpic", "summary", "windows",
 * "sessions") with
 * its default configuration, the inputs as cf_run_inputs_expand's
 * arguments (files, directories, globs, @lists), `jobs` workers (0: 1), the
 * CPU backend; table NULL: the producer's first. strict: an input that
 * could not be read to its end (missing, not a capture, damaged) ends the
 * stream with EIO and that input's message, after every batch (the other
 * inputs' rows and its rows before the damage come first); 0: such inputs
 * only give fewer rows, as with the commands' exit status 2. options:
 * NULL, or "key=value" pairs separated by ';' or line breaks, applied to
 * the default configuration (times in seconds, flags 0/1):
 *   flows, features  idle_timeout active_timeout unidirectional tcp_end
 *                    compat (nfstream: as the command line's --compat nfstream)
 *                    size (wire, captured, ip, transport, payload: --size)
 *   features         seq_len (0..1024: --seq), dtype (float32, float64)
 *   features, flowpic  label (a constant), label_from_dir (1: the input's
 *                    directory names, numbered in input order), labels_csv
 *                    (a ground-truth CSV, as --labels): label_id and label
 *                    columns (flowpic: label)
 *   flowpic          preset (official or mini)
 *   netml            dim (required: the row width of every input, as
 *                    --dim), fft, header (0/1), label (an integer for
 *                    every subflow), labels_csv (CIC-IDS2017); the table
 *                    is the type ("IAT" default, "SIZE", "STATS", ...),
 *                    the only one computed
 *   windows          window step distinct empty lateness idle_timeout
 *   sessions         idle_timeout active_timeout dns_timeout device_types
 *                    default_type (a name or null) ieee_data
 *   every producer   continuous (1: the inputs are one capture cut in files,
 *                    ordered by their first packets: cf_run_opts.continuous)
 *                    hook_thread (1: cf_run_opts.hook_thread, the packet
 *                    hooks in a second thread; the same rows)
 * an unknown key or a bad value is CF_ERR_ARG naming it. The stream owns
 * what it made; nothing needs to outlive the call but out. */
int cf_arrow_stream_open(const char *producer, const char *const *inputs, int n_inputs, const char *table,
                         uint32_t jobs, int strict, const char *options, struct ArrowArrayStream *out,
                         char *errbuf);

/* The same with a progress callback (NULL: none), called from the run's
 * thread about four times a second and once at the end, as cf_run_opts'
 * on_progress (files, input bytes, packets, seconds). */
struct cf_run_progress;
int cf_arrow_stream_open_progress(const char *producer, const char *const *inputs, int n_inputs, const char *table,
                                  uint32_t jobs, int strict, const char *options,
                                  void (*on_progress)(void *user, const struct cf_run_progress *p), void *user,
                                  struct ArrowArrayStream *out, char *errbuf);

/* A progress callback for language bindings: stores *p into user (a
 * struct cf_run_progress the caller polls), field by field with atomic
 * stores, so that no foreign runtime is entered from the run's thread
 * (a Python callback would need the interpreter's lock, which the
 * consumer may hold while it waits for the run). */
void cf_run_progress_store(void *user, const struct cf_run_progress *p);

#ifdef __cplusplus
}
#endif

#endif

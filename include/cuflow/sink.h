/*
 * Sinks: one output format each ("parquet", "csv", "npy": a directory of
 * one .npy or .txt file per column, "jsonl": JSON lines; later SQLite),
 * all behind one table of operations, so producers hand column tables
 * (include/cuflow/table.h) to any of them without knowing which
 * (docs/sinks.md).
 *
 * A sink writes to PATH.tmp-<pid> (a directory for "npy") and renames it
 * to PATH only when close succeeds: an output with the final name is
 * always complete. abort (and a failed close) removes the temporary
 * output. Errors name the path.
 *
 * Typical use:
 *
 *   cf_sink *k; cf_sink_opts o; cf_sink_opts_default(&o);
 *   if (cf_sink_open("parquet", schema, "flows.parquet", &o, &k, err) < 0) ...
 *   while (...) if (cf_sink_write(k, &batch) < 0) { cf_sink_abort(k); ... }
 *   cf_sink_stats st; if (cf_sink_close(k, &st, err) < 0) ...
 *
 * A sink is used by one thread at a time.
 */
#ifndef CUFLOW_SINK_H
#define CUFLOW_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compression of the formats that have one (Parquet). */
enum cf_sink_compression {
	CF_SINK_ZSTD = 0,          /* the default */
	CF_SINK_SNAPPY,
	CF_SINK_UNCOMPRESSED
};

/* Options; set every field with cf_sink_opts_default first. A sink
 * ignores what does not apply to its format. */
typedef struct cf_sink_opts {
	uint64_t row_group_rows;     /* Parquet: most rows per row group (default 1 Mi) */
	uint64_t row_group_bytes;    /* Parquet: a row group also ends once its buffered
	                                values reach this many bytes (default 256 MiB) */
	uint32_t page_bytes;         /* Parquet: target uncompressed data page size (default 1 MiB) */
	uint32_t dictionary_bytes;   /* Parquet: a string column chunk is dictionary-encoded
	                                while its distinct values take at most this many
	                                bytes (default 1 MiB); 0 turns dictionaries off */
	int compression;             /* enum cf_sink_compression */
	int compression_level;       /* ZSTD level; 0 = the codec's default (3) */
	uint64_t shard_rows;         /* array formats (npy): rows per file, 0 = one file */
} cf_sink_opts;

/* Fills o with the defaults above. */
void cf_sink_opts_default(cf_sink_opts *o);

/* What a successful close reports. */
typedef struct cf_sink_stats {
	uint64_t rows;   /* rows written */
	uint64_t bytes;  /* size of the finished file */
} cf_sink_stats;

/* The operations of one format. `state` is the format's own, created by
 * open and freed by close or abort (exactly one of them). The schema
 * given to open is borrowed until close/abort returns. Batches passed to
 * write have been checked against the schema (cf_table_batch_check) by
 * cf_sink_write, and are only read during the call. errbuf
 * (CF_ERRBUF_SIZE bytes, never NULL here) receives the message of a
 * failure. */
typedef struct cf_sink_ops {
	const char *name;       /* "parquet", "csv", "npy", "jsonl" */
	const char *extension;  /* ".parquet", ".csv", "" (npy: a directory), ".jsonl" */
	int (*open)(const cf_table_schema *schema, const char *path, const cf_sink_opts *opts, void **state,
	            char *errbuf);
	int (*write)(void *state, const cf_table_batch *batch, char *errbuf);
	/* Finishes the file and renames it to its final name; frees state
	 * whatever happens (on failure the temporary file is removed). */
	int (*close)(void *state, cf_sink_stats *stats, char *errbuf);
	/* Removes the partial output and frees state. */
	void (*abort)(void *state);
} cf_sink_ops;

/* The registered formats: the ops named `name` ("parquet", "csv", "npy",
 * "jsonl"), or NULL; and the i-th of cf_sink_count() (NULL when out of
 * range). */
const cf_sink_ops *cf_sink_find(const char *name);
uint32_t cf_sink_count(void);
const cf_sink_ops *cf_sink_at(uint32_t i);

typedef struct cf_sink cf_sink;

/* Opens the sink of format `name` on `path` (created as PATH.tmp-<pid>).
 * The schema is copied; opts may be NULL for the defaults.
 * CF_OK with *out set; CF_ERR_ARG (unknown format, bad option),
 * CF_ERR_IO (message naming the path), CF_ERR_NOMEM, with *out NULL and
 * the message in errbuf (may be NULL). */
int cf_sink_open(const char *name, const cf_table_schema *schema, const char *path, const cf_sink_opts *opts,
                 cf_sink **out, char *errbuf);

/* Appends the rows of batch (checked against the schema first). CF_OK;
 * CF_ERR_ARG for a batch that does not fit (nothing written); CF_ERR_IO /
 * CF_ERR_NOMEM when writing failed: the error sticks, every later write
 * and close return it, and cf_sink_error() names the path. */
int cf_sink_write(cf_sink *k, const cf_table_batch *batch);

/* The last error's text, "" when none; never NULL. */
const char *cf_sink_error(const cf_sink *k);

/* Finishes the file, renames it to its final name, fills stats (may be
 * NULL) and frees the sink. On failure (including an earlier sticky
 * error) nothing with the final name is created, the temporary file is
 * removed, and the message goes to errbuf (may be NULL). NULL is accepted
 * (CF_OK). */
int cf_sink_close(cf_sink *k, cf_sink_stats *stats, char *errbuf);

/* Removes the partial output and frees the sink; NULL is accepted. */
void cf_sink_abort(cf_sink *k);

#ifdef __cplusplus
}
#endif

#endif

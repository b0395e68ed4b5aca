/*
 * Producers: the feature families (flow records, training rows, netml
 * matrices, FlowPic images and their index, ...) behind one interface,
 * so the run driver (cuflow/run.h) and C users drive any of them the same
 * way and hand their rows, as column tables (cuflow/table.h), to any sink
 * (cuflow/sink.h).
 *
 * A producer instance belongs to one worker (one thread, one backend). Its
 * life:
 *
 *   open(config, env)                 once per worker
 *   for each input file, in the order the worker is given them:
 *     begin_file(file)
 *     packets(...)                    every decoded record of the file, in
 *                                     capture order (the scan's on_packets hook)
 *     end_file(scan result)           the file is over: emit its remaining rows
 *   close()
 *
 * (With cf_run_opts.continuous the files are one stream: begin_file for
 * the first, next_file at each later one, end_file after the last.)
 *
 * Rows go out through env->emit(user, table, batch) whenever the producer
 * has some (during packets or end_file); the batch is only read during the
 * call. A producer's rows for one file depend on that file alone, never on
 * the files it saw before, so N workers give the rows of one worker.
 *
 * Tables: a producer writes one or more tables (netml: one per feature
 * type), fixed at open: tables(), table_name(t) and schema(t). Two column
 * flags of the schema let the driver number rows across files:
 *   CF_COLUMN_RUN_ID      the producer writes ids counted from 1 within
 *                         the file; the driver adds the ids the earlier
 *                         files used (end_file's *ids_used), so ids are
 *                         those of one pass over every file in order;
 *   CF_COLUMN_ROW_NUMBER  the producer writes the row's number within the
 *                         file's rows of that table (from 0); the driver
 *                         adds the table's rows of the earlier files.
 *
 * Counters: every producer counts what it did and what it did not use, by
 * reason, per file (counters(), named, reset by begin_file); the driver
 * writes them to the manifest for each input.
 *
 * Adding a producer: one file with a cf_producer_ops and its config struct,
 * registered once in host/produce/producer.c (docs/extending.md).
 */
#ifndef CUFLOW_PRODUCER_H
#define CUFLOW_PRODUCER_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/packet.h"
#include "cuflow/decode.h"
#include "cuflow/scan.h"
#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cf_backend;

/* What the driver gives a producer instance. */
typedef struct cf_producer_env {
	struct cf_backend *backend;  /* the worker's backend (for the families that compute on it) */
	/* Hands rows of table `table` on; CF_OK, or a negative status that the
	 * producer must return from the op that called it. */
	int (*emit)(void *user, uint32_t table, const cf_table_batch *batch);
	void *user;
} cf_producer_env;

/* The file a producer is given. */
typedef struct cf_producer_file {
	const char *path;  /* as the inputs list names it ("-" = standard input) */
	size_t index;      /* its place in the run's inputs */
} cf_producer_file;

/* One named counter. */
typedef struct cf_producer_counter {
	const char *name;  /* [a-z0-9_]+, valid while the producer is open */
	uint64_t value;
} cf_producer_counter;

/* Producer flags. */
#define CF_PRODUCER_NEEDS_FRAMES 1u  /* wants the frame bytes: the driver calls frame()
                                        for every frame, right before the frame's record
                                        reaches packets() (the scan's on_frame hook) */

/* Longest table name, bytes without the NUL. */
#define CF_PRODUCER_TABLE_NAME_MAX 64

typedef struct cf_producer_ops {
	const char *name;  /* "flows", "features", "netml", "flowpic" */
	uint32_t flags;    /* CF_PRODUCER_* */
	/* config: the producer's own struct (see cuflow/producers.h), read
	 * during open only. env is copied. CF_OK with *state set, or an error
	 * with the message in errbuf (CF_ERRBUF_SIZE bytes). */
	int (*open)(const void *config, const cf_producer_env *env, void **state, char *errbuf);
	uint32_t (*tables)(void *state);
	/* [A-Za-z0-9_.-]+, used as the output's file name (DIR/NAME.parquet) */
	const char *(*table_name)(void *state, uint32_t table);
	const cf_table_schema *(*schema)(void *state, uint32_t table);
	/* May change the decode options the scan uses for this producer
	 * (netml reads outer headers only). NULL: the run's options. */
	void (*decode_opts)(void *state, cf_decode_opts *d);
	int (*begin_file)(void *state, const cf_producer_file *file);
	/* The scan's on_packets hook: n records, capture order. */
	int (*packets)(void *state, const cf_pkt *p, size_t n);
	/* After the file's last packet (also when the file was damaged: its
	 * packets before the damage count). *ids_used: ids of CF_COLUMN_RUN_ID
	 * columns this file used (0 when none). */
	int (*end_file)(void *state, const cf_scan_result *scan, uint64_t *ids_used);
	/* The counters of the last file (since begin_file): up to cap of them
	 * into out; returns how many the producer has (call with cap 0 to
	 * size). Names and order are the same for every file. */
	uint32_t (*counters)(void *state, cf_producer_counter *out, uint32_t cap);
	/* The last error's text ("" when none). */
	const char *(*error)(void *state);
	void (*close)(void *state);
	/* CF_PRODUCER_NEEDS_FRAMES: the scan's on_frame hook, the frame's
	 * caplen bytes with its decoded record (every frame, skipped ones
	 * too), before packets() sees that record. NULL otherwise. */
	int (*frame)(void *state, const cf_pkt *p, const uint8_t *frame);
	/* cf_run_opts.continuous: the stream begun by begin_file goes on in
	 * `file` (nothing is reset or emitted; rows emitted from now on are
	 * this file's). NULL: nothing to do. */
	void (*next_file)(void *state, const cf_producer_file *file);
} cf_producer_ops;

/* The built-in producers by name ("flows", "features", "netml",
 * "flowpic"), or NULL; and the i-th of cf_producer_count(). */
const cf_producer_ops *cf_producer_find(const char *name);
uint32_t cf_producer_count(void);
const cf_producer_ops *cf_producer_at(uint32_t i);

/* Runs one file through an open producer: begin_file, cf_scan_file with
 * the producer's packets hook (scan options from `opts`, decode options
 * adjusted by decode_opts), end_file. For C users who drive a producer
 * without cf_run. Returns the scan's status if the file was damaged, else
 * the producer's status; *ids_used as end_file's. */
int cf_producer_scan_file(const cf_producer_ops *ops, void *state, const cf_producer_file *file,
                          const cf_scan_opts *opts, cf_scan_result *res, uint64_t *ids_used);

#ifdef __cplusplus
}
#endif

#endif

/*
 * The run driver ("dataset engine"): many captures through the flow engine
 * into one output, by N workers, with a manifest and resume.
 *
 * Inputs (cf_run_inputs_expand): each argument is a file, a directory
 * (walked recursively; the entries of each directory in bytewise order of
 * their names), a glob pattern (glob(3), matches sorted bytewise) or
 * @LIST (a text file naming one input per line; blank lines ignored; each
 * line expanded like an argument, relative paths from the working
 * directory). "-" is standard input. Otherwise the command line's order is
 * kept. An input met a second time (same device and inode, or the same
 * text) is listed again with `duplicate_of` set and is skipped.
 *
 * Workers (cf_run_opts.jobs): each has its own backend, filter, packet
 * batch and flow engine, and takes the next unclaimed file. The output
 * does not depend on jobs: rows come in input-file order, then in each
 * file's own order, and a flow's id is the number of flows created by the
 * earlier files plus its id within its file (as one engine fed every file
 * in order counts them). Workers hand their rows to one committer (the
 * calling thread) through bounded in-memory queues: a worker waits once
 * it holds CF_RUN_QUEUE_BYTES of output the committer has not taken
 * (chunks counted at their allocated size), so the queues stay within
 * about 2 x jobs x CF_RUN_QUEUE_BYTES whatever the inputs. Text rows are queued
 * without their id (its place is kept) and the committer writes the
 * global id; table rows (Parquet) get the id offset added to their id
 * column.
 *
 * Output files (not stdout): written as OUT.partial (Parquet: the sink's
 * OUT.tmp-PID) and renamed when complete; the manifest
 * (OUT.manifest.json) is written last. Plain text outputs also keep a
 * journal, OUT.journal: one line per committed input (its counters and
 * the output's length after it), appended after the input's rows were
 * written. With resume, a run finds the journal, checks that it belongs to
 * the same options and inputs, truncates OUT.partial to the last committed
 * length and processes only the inputs not committed; the output and the
 * manifest are then those of an uninterrupted run (apart from the
 * manifest's "run" object: times, jobs, resumes). gzip and Parquet outputs
 * cannot be resumed (CF_ERR_UNSUPPORTED). The journal is not fsync'ed: it
 * survives the process being killed, not the machine losing power.
 *
 * Errors writing the output, the journal or the manifest stop the run
 * (CF_ERR_IO, the message names the path); no file with the final name
 * is left (the .partial and the journal stay, for --resume).
 *
 * The library prints nothing: damage, duplicates and progress come
 * through callbacks, all called from the thread that called cf_run.
 */
#ifndef CUFLOW_RUN_H
#define CUFLOW_RUN_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/decode.h"
#include "cuflow/summary.h"
#include "cuflow/flow.h"
#include "cuflow/producer.h"
#include "cuflow/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ inputs */

typedef struct cf_run_inputs cf_run_inputs;

/* Expands n arguments into the list of inputs. CF_OK; CF_ERR_IO (an @LIST
 * or a directory that cannot be read), CF_ERR_ARG (a glob that matches
 * nothing, an empty result) or CF_ERR_NOMEM, message in errbuf. */
int cf_run_inputs_expand(const char *const *args, int n, cf_run_inputs **out, char *errbuf);
size_t cf_run_inputs_count(const cf_run_inputs *in);
const char *cf_run_inputs_path(const cf_run_inputs *in, size_t i);
/* The index of the earlier input that input i repeats, or -1. */
long cf_run_inputs_duplicate_of(const cf_run_inputs *in, size_t i);
/* Orders the inputs by the time of their first packet (ties and inputs
 * without a packet: the order they had; these go last), for
 * cf_run_opts.continuous over rotated files whose names do not sort in
 * time order (tcpdump -C: cap, cap1, cap10, cap2). Duplicates are marked
 * anew in the new order. Reads one frame of each input. CF_OK; CF_ERR_ARG
 * for standard input (it cannot be read twice), CF_ERR_NOMEM. */
int cf_run_inputs_sort_by_time(cf_run_inputs *in, char *errbuf);
void cf_run_inputs_free(cf_run_inputs *in);

/* ------------------------------------------------------------ run */

/* Bytes of output a worker holds for a file that is not yet being
 * committed before it waits. */
#define CF_RUN_QUEUE_BYTES (32u << 20)
/* Rows of a table part before a checkpoint closes the parts (CF_RUN_TABLES). */
#define CF_RUN_PART_ROWS (1u << 20)

enum cf_run_format {
	CF_RUN_TEXT = 0,     /* rows of text (CSV, JSON lines) from cf_run_opts.row */
	CF_RUN_TEXT_GZIP,    /* the same, gzip-compressed (level 1), one stream */
	CF_RUN_PARQUET,      /* cf_flow_rows columns through the "parquet" sink */
	CF_RUN_TABLES,       /* any producer's tables, each through the sink named
	                        cf_run_opts.sink, into the directory `output` */
	CF_RUN_SQLITE,       /* any producer's tables into the SQLite database `output`
	                        (cf_run_opts.sqlite) */
	CF_RUN_CALLBACK      /* any producer's batches handed to cf_run_opts.on_batch, in
	                        the output's order (no files; `output` is only a name) */
};

/* CF_RUN_SQLITE: how a producer's tables look in SQL. Each table is
 * CREATE TABLE IF NOT EXISTS name (lead, the schema's columns, constraints)
 * with INTEGER (integers, booleans, times in ns), REAL or TEXT columns
 * (scalar columns only; nullable ones take NULL); rows go in with
 * INSERT ... on_conflict. The driver adds
 *   files(path, size, mtime, packets, status, error, rows, counters, committed)
 * one row per input committed (status "ok" or "damaged"; mtime in epoch
 * seconds, counters the producer's as a JSON object). Each input is one
 * transaction: its rows, its files row, file_sql, COMMIT; so a killed run
 * leaves the inputs committed before it, whole (WAL journal). With append,
 * an existing database is kept and inputs whose path, size and mtime are
 * in `files` are skipped ("already in the database"); CF_COLUMN_RUN_ID
 * columns go on after the largest id stored. Without append an existing
 * database at `output` is replaced. */
typedef struct cf_run_sqlite_table {
	const char *name;         /* the producer's table name */
	const char *lead;         /* DDL before the schema's columns ("id INTEGER PRIMARY KEY"), or NULL */
	const char *constraints;  /* DDL after them ("PRIMARY KEY (mac)"), or NULL */
	const char *on_conflict;  /* appended to the INSERT ("ON CONFLICT (mac) DO UPDATE ..."), or NULL */
} cf_run_sqlite_table;

typedef struct cf_run_sqlite {
	const cf_run_sqlite_table *tables; /* layouts by name; tables not named: plain */
	uint32_t n_tables;
	const char *schema_sql;   /* run once the tables exist (views, indexes), or NULL */
	const char *file_sql;     /* run in each input's transaction after its rows, or NULL */
	int append;
} cf_run_sqlite;

/* Formats one record as text at out (room: cf_run_opts.row_max bytes) and
 * returns its length; *id_at and *id_len say where the digits of rec->id
 * are in it (the committer writes the run's id there). Called from the
 * workers at the same time: it must only read its user data. */
typedef size_t (*cf_run_row_fn)(void *user, const cf_flow_record *rec, char *out, size_t *id_at,
                                size_t *id_len);

/* What the driver knows of one input, reported once it is committed (in
 * input order) and written to the manifest. */
typedef struct cf_run_file {
	size_t index;
	const char *path;
	int status;             /* CF_OK, or the error that stopped the file */
	const char *error;      /* its message ("" when ok) */
	int skipped;            /* 1: a duplicate, not read */
	long duplicate_of;      /* index of the input it repeats, or -1 */
	uint64_t size;          /* bytes (0 when it could not be stat'ed) */
	int64_t mtime_ns;
	cf_summary summary;     /* frames read, decoded, skipped */
	cf_flow_counters counters; /* this file's (max_live: the worker's high-water mark) */
	uint64_t ts_bad_fraction, ts_out_of_range;
	uint64_t first_id;      /* id of its first flow in the output */
	uint64_t rows;          /* rows it added to the output */
	uint64_t out_end;       /* output length after it (text outputs; 0 otherwise) */
	/* cf_run_opts.continuous: its first packet's time and its latest (0 when
	 * it had none), and how far its first packet is before the latest
	 * packet of the files before it (0: in time order; more: the files
	 * overlap or are out of order, the result is that of the packets in
	 * the order read) */
	int64_t first_ts_ns, last_ts_ns, overlap_ns;
	/* CF_RUN_TABLES: the producer's counters for this input */
	const cf_producer_counter *named;
	uint32_t n_named;
} cf_run_file;

typedef struct cf_run_progress {
	size_t files_done, files_total;
	uint64_t bytes_done, bytes_total; /* input bytes */
	uint64_t packets_done;
	double elapsed_s;
} cf_run_progress;

/* Several processes (MPI ranks, nodes) in one run: the library does not
 * link MPI; the caller gives it a way to send bytes between ranks (the
 * cuflow CLI: MPI_Send / MPI_Recv when started by mpirun or srun). Input i
 * is read by rank i % size (every rank expands the same inputs); ranks
 * other than 0 write nothing: they send their rows, as the committer
 * would take them, and each input's counters to rank 0, which writes the
 * output, the manifest and the journal exactly as one process with
 * jobs x size workers would (the same bytes for any size). Only the
 * calling thread of cf_run sends and receives (MPI_THREAD_FUNNELED).
 * Not with resume, continuous, SQLite append or CF_RUN_CALLBACK. A rank
 * whose run fails sends rank 0 its message; a failing rank 0 returns its
 * error and the caller must end the others (MPI_Abort). */
typedef struct cf_run_net {
	int rank, size;
	/* Sends n bytes to rank `to` (blocking). CF_OK or a negative status. */
	int (*send)(void *user, int to, const void *buf, size_t n);
	/* Receives the next message from rank `from` into a malloc'ed *buf
	 * (freed by the driver), *n bytes. CF_OK or a negative status. */
	int (*recv)(void *user, int from, void **buf, size_t *n);
	void *user;
} cf_run_net;

typedef struct cf_run_opts {
	const char *output;         /* a path, or "-" (standard output: text only, no
	                               manifest, no resume) */
	int format;                 /* enum cf_run_format */
	const char *format_name;    /* recorded in the manifest ("csv", "jsonl", "parquet") */
	const char *header;         /* text written before the rows (may be NULL) */
	size_t header_len;
	cf_run_row_fn row;          /* text formats */
	size_t row_max;
	void *row_user;
	cf_flow_opts flow;          /* the engine's options (one engine per worker) */
	cf_decode_opts decode;
	const char *filter;         /* BPF expression or NULL */
	int backend_kind;           /* enum cf_backend_kind */
	int hook_thread;            /* cf_scan_opts.hook_thread of every worker */
	uint32_t jobs;              /* workers, 1 .. 256 (0 means 1) */
	int resume;                 /* continue an interrupted run (see above) */
	const char *options_json;   /* a JSON object naming the options that shape the
	                               output; recorded in the manifest and checked on
	                               resume (NULL: {}) */
	/* Called in input order as each input is committed (may be NULL). */
	void (*on_file)(void *user, const cf_run_file *f);
	/* Called about four times a second while the run goes on (may be NULL). */
	void (*on_progress)(void *user, const cf_run_progress *p);
	void *user;
	/* CF_RUN_TABLES: every worker opens `producer` with `producer_config`
	 * (which must stay valid during cf_run); table T goes to
	 * OUTPUT/T<extension> through the sink named `sink` ("parquet", "csv",
	 * "npy", "jsonl"; sink_opts, NULL for the defaults), and the manifest
	 * to OUTPUT/manifest.json. OUTPUT is created when missing. Rows come in
	 * input order then in each file's own order; CF_COLUMN_RUN_ID and
	 * CF_COLUMN_ROW_NUMBER columns are numbered over the run.
	 * Each table is a directory of parts, OUTPUT/T/part-00000<extension>,
	 * ...: once a table's open part holds part_rows rows, at the end of the
	 * input being committed, every table's part is closed (a checkpoint:
	 * a journal line, OUTPUT/.cuflow-journal), so parts end at the same
	 * inputs for every jobs count. With resume, a killed run goes on after
	 * its last checkpoint (later parts and temporaries removed); the parts
	 * and manifest equal an uninterrupted run's. flow, row, header are not
	 * used. */
	const cf_producer_ops *producer;
	const void *producer_config;
	const char *sink;
	const cf_sink_opts *sink_opts;
	uint64_t part_rows;         /* CF_RUN_TABLES: rows that close a part (0: CF_RUN_PART_ROWS) */
	const cf_run_sqlite *sqlite; /* CF_RUN_SQLITE: the tables' SQL layout (producer as for
	                               CF_RUN_TABLES; sink, part_rows, resume not used) */
	/* CF_RUN_CALLBACK: each committed batch of table `table` (the producer's
	 * schema), ids and row numbers already numbered over the run, called
	 * from the thread that called cf_run, in input order then each input's
	 * own; the batch is only read during the call. A negative return stops
	 * the run with that status. */
	int (*on_batch)(void *user, uint32_t table, const cf_table_schema *schema, const cf_table_batch *batch);
	/* Testing only: after this many inputs are committed (this process),
	 * the run stops as if killed (returns CF_ERR_IO without cleaning up).
	 * 0: never. */
	uint64_t stop_after_commits;
	/* 1: the inputs are one packet stream (rotated files of one capture,
	 * cf_run_inputs_sort_by_time), read in order by one worker with one
	 * flow engine or producer instance: flows, windows and sessions that
	 * cross a file border are those of the whole capture, and the output
	 * equals that of the files concatenated. Rows go to the input being
	 * read when they are final (the rows still open at the end, to the
	 * last input); ids and row numbers are the stream's; each input's
	 * counters are those counted while it was read. jobs must be 1; no
	 * resume (a stream cannot restart mid-way); skipped inputs
	 * (duplicates, SQLite inputs already stored) are left out of the
	 * stream. A file that starts before the latest packet of the earlier
	 * ones is reported (cf_run_file.overlap_ns). */
	int continuous;
	/* Several ranks (see cf_run_net); NULL or size 1: this process alone. */
	const cf_run_net *net;
} cf_run_opts;

/* Defaults: jobs 1, CF_RUN_TEXT, the flow and decode defaults, backend auto. */
void cf_run_opts_default(cf_run_opts *o);

typedef struct cf_run_result {
	size_t files, files_ok, files_damaged, files_skipped, files_resumed;
	size_t files_out_of_order;  /* continuous: inputs with overlap_ns > 0 */
	cf_summary total;
	cf_flow_counters counters;  /* summed; max_live the largest */
	uint64_t ts_bad_fraction, ts_out_of_range;
	uint64_t rows;              /* rows written */
	uint64_t bytes;             /* bytes of the output file */
	char backend[8];            /* "cpu" or "cuda" */
	char backend_note[256];     /* cf_backend_note of the first worker's backend */
	uint64_t backend_fallbacks; /* calls redone on the CPU, all workers */
	char manifest[4096];        /* the manifest's path ("" when none) */
} cf_run_result;

/* Runs every input. CF_OK when the output is complete (inputs may be
 * damaged: see result->files_damaged); CF_ERR_ARG (bad options, a journal
 * of another run), CF_ERR_UNSUPPORTED (resume of gzip or Parquet),
 * CF_ERR_IO (writing failed: the message names the path), CF_ERR_NOMEM,
 * CF_ERR_DEVICE, CF_ERR_FILTER, with the message in errbuf. */
int cf_run(const cf_run_opts *opts, const cf_run_inputs *inputs, cf_run_result *result, char *errbuf);

/* The manifest path of an output path: OUT.manifest.json. */
int cf_run_manifest_path(const char *output, char *buf, size_t cap);

/* SHA-256 (FIPS 180-4) of a file as 64 hex digits + NUL. CF_OK or CF_ERR_IO. */
int cf_sha256_file(const char *path, char hex[65], char *errbuf);

#ifdef __cplusplus
}
#endif

#endif

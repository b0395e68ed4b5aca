/*
 * The SQLite output of the run driver (CF_RUN_SQLITE, cuflow/run.h),
 * internal: a producer's tables as SQL tables of one database, one
 * transaction per input (its rows, its `files` row, the layout's per-file
 * SQL), so a killed run leaves the inputs committed before it, whole.
 */
#ifndef CUFLOW_SINK_SQLITE_DB_H
#define CUFLOW_SINK_SQLITE_DB_H

#include <stdint.h>

#include "cuflow/run.h"
#include "cuflow/table.h"

typedef struct cf_sqlite_db cf_sqlite_db;

/* Opens (append) or creates `path` (an existing database, with its -wal
 * and -shm files, is removed first unless lay->append), creates the n
 * tables named names[t] from schemas[t] (scalar columns only; the layout
 * adds keys and conflict clauses by table name) and the `files` table,
 * then runs lay->schema_sql. CF_OK, or an error naming the path. */
int cf_sqlite_db_open(const char *path, const cf_run_sqlite *lay, uint32_t n, const char *const *names,
                      const cf_table_schema *const *schemas, cf_sqlite_db **out, char *err);
/* 1 when `files` has a committed row for this path, size and mtime. */
int cf_sqlite_db_has_file(cf_sqlite_db *db, const char *path, uint64_t size, int64_t mtime_ns);
/* The largest value of the CF_COLUMN_RUN_ID columns already stored (0
 * when none): an appending run numbers its ids after it. */
uint64_t cf_sqlite_db_max_run_id(cf_sqlite_db *db);
/* Inserts the batch's rows into table t (a transaction is opened first
 * when none is). */
int cf_sqlite_db_write(cf_sqlite_db *db, uint32_t t, const cf_table_batch *b, char *err);
/* Ends the input: its `files` row (counters: a JSON object or NULL), the
 * layout's file_sql, COMMIT. */
int cf_sqlite_db_commit_file(cf_sqlite_db *db, const cf_run_file *f, const char *counters_json, char *err);
/* Rolls back what the current input wrote and closes (NULL accepted). */
void cf_sqlite_db_abandon(cf_sqlite_db *db);
/* Checkpoints the WAL into the database, closes, and gives its size. */
int cf_sqlite_db_close(cf_sqlite_db *db, uint64_t *bytes, char *err);

#endif

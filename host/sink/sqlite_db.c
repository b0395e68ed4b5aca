/* The run driver's SQLite output (sqlite_db.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cuflow/status.h"
#include "sink/sqlite_db.h"

struct cf_sqlite_db {
	sqlite3 *db;
	char *path;
	const cf_run_sqlite *lay;
	uint32_t n;
	const cf_table_schema *const *schemas;
	const char *const *names;      /* the tables' (borrowed, as the schemas) */
	sqlite3_stmt **insert;   /* per table */
	sqlite3_stmt *file_row, *has_file;
	int in_tx;
};

/* A growing SQL text. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
} sbuf;

static void sb_puts(sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->failed = 1;
			return;
		}
		b->p = q, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static int db_fail(cf_sqlite_db *d, const char *what, char *err)
{
	snprintf(err, CF_ERRBUF_SIZE, "%s: %s: %s", d->path, what, d->db ? sqlite3_errmsg(d->db) : "cannot open");
	return CF_ERR_IO;
}

static int exec(cf_sqlite_db *d, const char *sql, char *err)
{
	char *msg = NULL;
	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return CF_OK;
	snprintf(err, CF_ERRBUF_SIZE, "%s: %s", d->path, msg ? msg : sqlite3_errmsg(d->db));
	sqlite3_free(msg);
	return CF_ERR_IO;
}

static const cf_run_sqlite_table *layout_of(const cf_run_sqlite *lay, const char *name)
{
	for (uint32_t i = 0; lay && i < lay->n_tables; i++)
		if (!strcmp(lay->tables[i].name, name))
			return &lay->tables[i];
	return NULL;
}

static const char *sql_type(int dtype)
{
	switch (dtype) {
	case CF_DTYPE_FLOAT32:
	case CF_DTYPE_FLOAT64:
		return "REAL";
	case CF_DTYPE_STRING:
	case CF_DTYPE_LARGE_STRING:
		return "TEXT";
	default:
		return "INTEGER";
	}
}

/* CREATE TABLE and the prepared INSERT of table t. */
static int table_create(cf_sqlite_db *d, uint32_t t, const char *name, char *err)
{
	const cf_table_schema *s = d->schemas[t];
	const cf_run_sqlite_table *l = layout_of(d->lay, name);
	sbuf c = {0}, ins = {0};
	uint32_t nc = cf_table_schema_columns(s);
	int first = 1;
	char tmp[256];
	snprintf(tmp, sizeof tmp, "CREATE TABLE IF NOT EXISTS \"%s\" (", name);
	sb_puts(&c, tmp);
	snprintf(tmp, sizeof tmp, "INSERT INTO \"%s\" (", name);
	sb_puts(&ins, tmp);
	if (l && l->lead) {
		sb_puts(&c, l->lead);
		first = 0;
	}
	for (uint32_t k = 0; k < nc; k++) {
		const cf_table_column *col = cf_table_schema_column(s, k);
		if (col->width != 1) {
			snprintf(err, CF_ERRBUF_SIZE, "%s: column %s.%s is a vector: SQLite takes scalar columns only", d->path,
			         name, col->name);
			free(c.p);
			free(ins.p);
			return CF_ERR_ARG;
		}
		snprintf(tmp, sizeof tmp, "%s\"%s\" %s", first ? "" : ", ", col->name, sql_type(col->dtype));
		sb_puts(&c, tmp);
		snprintf(tmp, sizeof tmp, "%s\"%s\"", k ? ", " : "", col->name);
		sb_puts(&ins, tmp);
		first = 0;
	}
	if (l && l->constraints) {
		sb_puts(&c, ", ");
		sb_puts(&c, l->constraints);
	}
	sb_puts(&c, ")");
	sb_puts(&ins, ") VALUES (");
	for (uint32_t k = 0; k < nc; k++)
		sb_puts(&ins, k ? ", ?" : "?");
	sb_puts(&ins, ")");
	if (l && l->on_conflict) {
		sb_puts(&ins, " ");
		sb_puts(&ins, l->on_conflict);
	}
	int st = CF_ERR_NOMEM;
	if (!c.failed && !ins.failed) {
		st = exec(d, c.p, err);
		if (st == CF_OK && sqlite3_prepare_v2(d->db, ins.p, -1, &d->insert[t], NULL) != SQLITE_OK)
			st = db_fail(d, name, err);
	}
	if (st == CF_ERR_NOMEM)
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
	free(c.p);
	free(ins.p);
	return st;
}

static void remove_db_files(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[4096];
	for (int k = 0; k < 4; k++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[k]);
		unlink(p);
	}
}

int cf_sqlite_db_open(const char *path, const cf_run_sqlite *lay, uint32_t n, const char *const *names,
                      const cf_table_schema *const *schemas, cf_sqlite_db **out, char *err)
{
	*out = NULL;
	cf_sqlite_db *d = calloc(1, sizeof *d);
	if (!d || !(d->path = strdup(path)) || !(d->insert = calloc(n ? n : 1, sizeof *d->insert))) {
		if (d)
			free(d->path);
		free(d);
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	d->lay = lay, d->n = n, d->schemas = schemas, d->names = names;
	if (!lay->append)
		remove_db_files(path);
	int st;
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		st = db_fail(d, "cannot open", err);
		goto bad;
	}
	sqlite3_busy_timeout(d->db, 5000);
	/* WAL: readers (a notebook) do not block the run, and a killed run
	 * loses only its open transaction */
	if ((st = exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err)) < 0 ||
	    (st = exec(d, "CREATE TABLE IF NOT EXISTS files (path TEXT, size INTEGER, mtime REAL, packets INTEGER, "
	                  "status TEXT, error TEXT, rows INTEGER, counters TEXT, committed REAL, "
	                  "PRIMARY KEY (path, size, mtime))",
	               err)) < 0)
		goto bad;
	for (uint32_t t = 0; t < n; t++)
		if ((st = table_create(d, t, names[t], err)) < 0)
			goto bad;
	if (lay->schema_sql && (st = exec(d, lay->schema_sql, err)) < 0)
		goto bad;
	if (sqlite3_prepare_v2(d->db,
	                       "INSERT OR REPLACE INTO files (path, size, mtime, packets, status, error, rows, counters, "
	                       "committed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, (julianday('now') - 2440587.5) * 86400.0)",
	                       -1, &d->file_row, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d->db, "SELECT 1 FROM files WHERE path = ? AND size = ? AND mtime = ?", -1, &d->has_file,
	                       NULL) != SQLITE_OK) {
		st = db_fail(d, "files", err);
		goto bad;
	}
	*out = d;
	return CF_OK;
bad:
	cf_sqlite_db_abandon(d);
	return st;
}

int cf_sqlite_db_has_file(cf_sqlite_db *d, const char *path, uint64_t size, int64_t mtime_ns)
{
	sqlite3_reset(d->has_file);
	sqlite3_bind_text(d->has_file, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(d->has_file, 2, (sqlite3_int64)size);
	sqlite3_bind_double(d->has_file, 3, (double)mtime_ns / 1e9);
	int found = sqlite3_step(d->has_file) == SQLITE_ROW;
	sqlite3_reset(d->has_file);
	return found;
}

uint64_t cf_sqlite_db_max_run_id(cf_sqlite_db *d)
{
	uint64_t best = 0;
	for (uint32_t t = 0; t < d->n; t++) {
		uint32_t nc = cf_table_schema_columns(d->schemas[t]);
		for (uint32_t k = 0; k < nc; k++) {
			const cf_table_column *col = cf_table_schema_column(d->schemas[t], k);
			if (!(col->flags & CF_COLUMN_RUN_ID))
				continue;
			char sql[512];
			sqlite3_stmt *q;
			snprintf(sql, sizeof sql, "SELECT max(\"%s\") FROM \"%s\"", col->name, d->names[t]);
			if (sqlite3_prepare_v2(d->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
				sqlite3_int64 v = sqlite3_column_int64(q, 0);
				if (v > 0 && (uint64_t)v > best)
					best = (uint64_t)v;
			}
			sqlite3_finalize(q);
		}
	}
	return best;
}

static int begin(cf_sqlite_db *d, char *err)
{
	if (d->in_tx)
		return CF_OK;
	int st = exec(d, "BEGIN", err);
	d->in_tx = st == CF_OK;
	return st;
}

static int bind_value(sqlite3_stmt *q, int i, const cf_table_column *c, const cf_table_array *a, int64_t r)
{
	if (a->validity && !(a->validity[r >> 3] >> (r & 7) & 1))
		return sqlite3_bind_null(q, i);
	const void *v = a->values;
	switch (c->dtype) {
	case CF_DTYPE_BOOL:
		return sqlite3_bind_int(q, i, ((const uint8_t *)v)[r >> 3] >> (r & 7) & 1);
	case CF_DTYPE_INT8:
		return sqlite3_bind_int(q, i, ((const int8_t *)v)[r]);
	case CF_DTYPE_INT16:
		return sqlite3_bind_int(q, i, ((const int16_t *)v)[r]);
	case CF_DTYPE_INT32:
		return sqlite3_bind_int(q, i, ((const int32_t *)v)[r]);
	case CF_DTYPE_INT64:
	case CF_DTYPE_TIMESTAMP_NS:
		return sqlite3_bind_int64(q, i, ((const int64_t *)v)[r]);
	case CF_DTYPE_UINT8:
		return sqlite3_bind_int(q, i, ((const uint8_t *)v)[r]);
	case CF_DTYPE_UINT16:
		return sqlite3_bind_int(q, i, ((const uint16_t *)v)[r]);
	case CF_DTYPE_UINT32:
		return sqlite3_bind_int64(q, i, ((const uint32_t *)v)[r]);
	case CF_DTYPE_UINT64:
		return sqlite3_bind_int64(q, i, (sqlite3_int64)((const uint64_t *)v)[r]);
	case CF_DTYPE_FLOAT32:
		return sqlite3_bind_double(q, i, ((const float *)v)[r]);
	case CF_DTYPE_FLOAT64:
		return sqlite3_bind_double(q, i, ((const double *)v)[r]);
	case CF_DTYPE_STRING: {
		const int32_t *o = v;
		return sqlite3_bind_text(q, i, (const char *)a->data + o[r], o[r + 1] - o[r], SQLITE_STATIC);
	}
	case CF_DTYPE_LARGE_STRING: {
		const int64_t *o = v;
		return sqlite3_bind_text64(q, i, (const char *)a->data + o[r], (sqlite3_uint64)(o[r + 1] - o[r]),
		                           SQLITE_STATIC, SQLITE_UTF8);
	}
	}
	return SQLITE_MISUSE;
}

int cf_sqlite_db_write(cf_sqlite_db *d, uint32_t t, const cf_table_batch *b, char *err)
{
	if (t >= d->n)
		return CF_ERR_ARG;
	int st = begin(d, err);
	if (st < 0)
		return st;
	sqlite3_stmt *q = d->insert[t];
	const cf_table_schema *s = d->schemas[t];
	for (int64_t r = 0; r < b->n_rows; r++) {
		sqlite3_reset(q);
		for (uint32_t k = 0; k < b->n_columns; k++)
			if (bind_value(q, (int)k + 1, cf_table_schema_column(s, k), &b->columns[k], r) != SQLITE_OK)
				return db_fail(d, "bind", err);
		if (sqlite3_step(q) != SQLITE_DONE) {
			st = db_fail(d, "insert", err);
			sqlite3_reset(q);
			return st;
		}
	}
	sqlite3_reset(q);
	return CF_OK;
}

int cf_sqlite_db_commit_file(cf_sqlite_db *d, const cf_run_file *f, const char *counters_json, char *err)
{
	int st = begin(d, err);
	if (st < 0)
		return st;
	sqlite3_stmt *q = d->file_row;
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, f->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)f->size);
	sqlite3_bind_double(q, 3, (double)f->mtime_ns / 1e9);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)f->summary.packets);
	sqlite3_bind_text(q, 5, f->status < 0 ? "damaged" : "ok", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, f->error ? f->error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)f->rows);
	if (counters_json)
		sqlite3_bind_text(q, 8, counters_json, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 8);
	if (sqlite3_step(q) != SQLITE_DONE) {
		st = db_fail(d, "files", err);
		sqlite3_reset(q);
		return st;
	}
	sqlite3_reset(q);
	if (d->lay->file_sql && (st = exec(d, d->lay->file_sql, err)) < 0)
		return st;
	st = exec(d, "COMMIT", err);
	d->in_tx = 0;
	return st;
}

static void finalize_all(cf_sqlite_db *d)
{
	for (uint32_t t = 0; d->insert && t < d->n; t++)
		sqlite3_finalize(d->insert[t]);
	sqlite3_finalize(d->file_row);
	sqlite3_finalize(d->has_file);
}

void cf_sqlite_db_abandon(cf_sqlite_db *d)
{
	if (!d)
		return;
	if (d->in_tx)
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	finalize_all(d);
	sqlite3_close(d->db);
	free(d->insert);
	free(d->path);
	free(d);
}

int cf_sqlite_db_close(cf_sqlite_db *d, uint64_t *bytes, char *err)
{
	int st = CF_OK;
	if (d->in_tx)
		st = exec(d, "COMMIT", err);
	/* fold the WAL into the file, so the database is one file again */
	if (st == CF_OK)
		st = exec(d, "PRAGMA wal_checkpoint(TRUNCATE)", err);
	finalize_all(d);
	if (sqlite3_close(d->db) != SQLITE_OK && st == CF_OK) {
		snprintf(err, CF_ERRBUF_SIZE, "%s: cannot close", d->path);
		st = CF_ERR_IO;
	}
	struct stat sb;
	if (bytes)
		*bytes = stat(d->path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	free(d->insert);
	free(d->path);
	free(d);
	return st;
}

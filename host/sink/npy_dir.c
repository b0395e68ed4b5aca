/*
 * npy directory sink: PATH is a directory holding one file per column,
 * for numpy (np.load) and anything that reads text lines.
 *
 *   C.npy        numeric, bool and timestamp columns: shape (N,) for a
 *                scalar, (N, W) for a vector of width W, (N, dims...) for
 *                a column with a shape; <i8 for timestamp_ns (ns since
 *                the epoch), |b1 for bool (one byte per element)
 *   C.txt        string columns: one value per line, UTF-8, '\n', '\r'
 *                and '\\' written as \n, \r, \\; a vector's W values of a
 *                row on W lines, row after row
 *   C.valid.npy  every nullable column: |b1, (N,), 1 = present (all 1
 *                for batches without a bitmap); a null row's values are
 *                whatever the batch held
 *   schema.json  cf_table_schema_json plus a newline
 *
 * With shard_rows R > 0 every column file is cut into files of at most R
 * rows: C-00000.npy, C-00001.npy, ..., C-00000.txt, ...,
 * C.valid-00000.npy, ... (the npy writer's naming); zero rows leave one
 * empty -00000 file per column.
 *
 * Everything is written in PATH.tmp-<pid>/ and renamed to PATH at close.
 * An earlier output at PATH (a directory holding schema.json, or an empty
 * one) is replaced then: moved aside to PATH.old-<pid>, the new directory
 * renamed in, the old one removed. Anything else at PATH is refused.
 * abort and failures remove the temporary directory.
 */
#include "cuflow/npy.h"
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "sink/out_file.h"
#include "sink/sink_internal.h"
#include "cuflow/errbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEXT_BUF (1u << 16)
#define SCRATCH_MIN (1u << 16)

/* One string column's text files (one, or shards of shard_rows rows). */
struct text_out {
	char *base;          /* DIR/C, without ".txt" */
	uint64_t shard_rows; /* 0: one file */
	uint32_t files;      /* files started so far */
	uint64_t rows;       /* rows in the open file */
	cf_out_file f;       /* the open file (zeroed when none) */
};

struct col_out {
	const cf_table_column *c;
	cf_npy_writer *vals;  /* numeric, bool, timestamp */
	cf_npy_writer *valid; /* nullable columns */
	struct text_out txt;  /* string columns */
	int has_txt;
};

struct npy_sink {
	const cf_table_schema *schema;
	char *path;     /* final directory */
	char *tmp;      /* PATH.tmp-<pid> */
	struct col_out *cols;
	uint32_t ncols;
	uint64_t shard_rows;
	uint64_t rows;
	uint8_t *scratch; /* bitmaps unpacked to bytes */
	size_t scratch_cap;
};

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", a, b, c);
	return p;
}

static int is_string(int dtype)
{
	return dtype == CF_DTYPE_STRING || dtype == CF_DTYPE_LARGE_STRING;
}

static int npy_dtype_of(int dtype)
{
	switch (dtype) {
	case CF_DTYPE_BOOL: return CF_NPY_U1; /* header patched to |b1 at close */
	case CF_DTYPE_INT8: return CF_NPY_I1;
	case CF_DTYPE_INT16: return CF_NPY_I2;
	case CF_DTYPE_INT32: return CF_NPY_I4;
	case CF_DTYPE_INT64: return CF_NPY_I8;
	case CF_DTYPE_UINT8: return CF_NPY_U1;
	case CF_DTYPE_UINT16: return CF_NPY_U2;
	case CF_DTYPE_UINT32: return CF_NPY_U4;
	case CF_DTYPE_UINT64: return CF_NPY_U8;
	case CF_DTYPE_FLOAT32: return CF_NPY_F4;
	case CF_DTYPE_FLOAT64: return CF_NPY_F8;
	case CF_DTYPE_TIMESTAMP_NS: return CF_NPY_I8;
	}
	return -1;
}

/* Removes a directory holding only files (what this sink writes). */
static int remove_flat(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : errno;
	int e = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && unlinkat(dirfd(d), de->d_name, 0) != 0 && !e)
			e = errno;
	closedir(d);
	if (rmdir(dir) != 0 && !e)
		e = errno;
	return e;
}

/* Sum of the sizes of the files in dir (the stats' bytes). */
static uint64_t dir_bytes(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	struct stat st;
	while ((de = readdir(d)))
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	closedir(d);
	return sum;
}

/* ------------------------------------------------------------ text files */

static int text_start_file(struct text_out *t)
{
	char num[16] = "";
	if (t->shard_rows)
		snprintf(num, sizeof num, "-%05u", (unsigned)t->files);
	char *p = join(t->base, num, ".txt");
	if (!p) {
		snprintf(t->f.msg, sizeof t->f.msg, "npy: out of memory");
		return t->f.err = CF_ERR_NOMEM;
	}
	int rc = cf_out_open(&t->f, "npy", p, TEXT_BUF);
	free(p);
	t->files++;
	t->rows = 0;
	return rc;
}

/* Before each row: with sharding, a full file is finished and the next begun. */
static int text_row(struct text_out *t)
{
	if (!t->shard_rows || t->rows < t->shard_rows)
		return CF_OK;
	int rc = cf_out_commit(&t->f);
	return rc ? rc : text_start_file(t);
}

/* One value on its own line, with \n, \r and \\ escaped. */
static void text_value(cf_out_file *f, const uint8_t *p, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *esc = p[i] == '\n' ? "\\n" : p[i] == '\r' ? "\\r" : p[i] == '\\' ? "\\\\" : NULL;
		if (!esc)
			continue;
		cf_out_write(f, p + from, i - from);
		cf_out_write(f, esc, 2);
		from = i + 1;
	}
	cf_out_write(f, p + from, n - from);
	cf_out_write(f, "\n", 1);
}

/* ------------------------------------------------------------ open */

static void free_sink(struct npy_sink *s)
{
	for (uint32_t i = 0; s->cols && i < s->ncols; i++)
		free(s->cols[i].txt.base);
	free(s->cols);
	free(s->scratch);
	free(s->path);
	free(s->tmp);
	free(s);
}

/* Closes every writer without caring for errors (abort, failed open). */
static void drop_writers(struct npy_sink *s)
{
	for (uint32_t i = 0; i < s->ncols; i++) {
		struct col_out *c = &s->cols[i];
		cf_npy_writer_close(c->vals, NULL);
		cf_npy_writer_close(c->valid, NULL);
		c->vals = c->valid = NULL;
		if (c->has_txt)
			cf_out_discard(&c->txt.f);
	}
}

static void drop_all(struct npy_sink *s)
{
	drop_writers(s);
	remove_flat(s->tmp);
	free_sink(s);
}

static int open_column(struct npy_sink *s, struct col_out *co, const cf_table_column *c, char *errbuf)
{
	co->c = c;
	char *base = join(s->tmp, "/", c->name);
	if (!base)
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	int rc = CF_OK;
	if (is_string(c->dtype)) {
		co->txt.base = base;
		co->txt.shard_rows = s->shard_rows;
		co->has_txt = 1;
		rc = text_start_file(&co->txt);
		if (rc)
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", co->txt.f.msg);
	} else {
		uint64_t shape[CF_NPY_MAX_ROW_NDIM];
		int ndim = 0;
		if (c->ndim)
			for (; ndim < (int)c->ndim; ndim++)
				shape[ndim] = c->dims[ndim];
		else if (c->width > 1)
			shape[ndim++] = c->width;
		char *p = join(base, ".npy", "");
		rc = p ? cf_npy_writer_open(p, npy_dtype_of(c->dtype), ndim, shape, s->shard_rows, &co->vals, errbuf)
		       : cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
		free(p);
	}
	if (rc == CF_OK && (c->flags & CF_COLUMN_NULLABLE)) {
		char *p = join(base, ".valid.npy", "");
		rc = p ? cf_npy_writer_open(p, CF_NPY_U1, 0, NULL, s->shard_rows, &co->valid, errbuf)
		       : cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
		free(p);
	}
	if (!co->has_txt)
		free(base);
	return rc;
}

static int npy_open(const cf_table_schema *schema, const char *path, const cf_sink_opts *opts, void **state,
                    char *errbuf)
{
	uint32_t nc = cf_table_schema_columns(schema);
	size_t scratch = SCRATCH_MIN;
	for (uint32_t i = 0; i < nc; i++) {
		const cf_table_column *c = cf_table_schema_column(schema, i);
		if (c->ndim > CF_NPY_MAX_ROW_NDIM)
			return cf_errf(errbuf, CF_ERR_ARG, "npy: %s: column %s has %u dimensions; npy rows take at most %d",
			            path, c->name, c->ndim, CF_NPY_MAX_ROW_NDIM);
		if (c->dtype == CF_DTYPE_BOOL && c->width > scratch)
			scratch = c->width; /* room for one row at least */
	}
	struct npy_sink *s = calloc(1, sizeof *s);
	if (!s)
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	s->schema = schema;
	s->ncols = nc;
	s->shard_rows = opts->shard_rows;
	s->scratch_cap = scratch;
	char pid[32];
	snprintf(pid, sizeof pid, ".tmp-%ld", (long)getpid());
	s->path = strdup(path);
	s->tmp = join(path, pid, "");
	s->cols = calloc(nc ? nc : 1, sizeof *s->cols);
	s->scratch = malloc(scratch);
	if (!s->path || !s->tmp || !s->cols || !s->scratch) {
		free_sink(s);
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	}
	remove_flat(s->tmp); /* a stale one of a crashed run with our pid */
	if (mkdir(s->tmp, 0777) != 0) {
		int rc = cf_errf(errbuf, CF_ERR_IO, "npy: cannot create %s: %s", path, strerror(errno));
		free_sink(s);
		return rc;
	}
	char *js = join(s->tmp, "/schema.json", "");
	int rc = js ? cf_table_schema_write_json(schema, js, errbuf) : cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	free(js);
	for (uint32_t i = 0; rc == CF_OK && i < nc; i++)
		rc = open_column(s, &s->cols[i], cf_table_schema_column(schema, i), errbuf);
	if (rc) {
		drop_all(s);
		return rc;
	}
	*state = s;
	return CF_OK;
}

/* ------------------------------------------------------------ write */

/* Appends n bits of an Arrow bitmap (from bit 0) as one byte each; a NULL
 * bitmap appends n ones (every row present). per_row: bits per writer row. */
static int append_bits(struct npy_sink *s, cf_npy_writer *w, const uint8_t *bits, int64_t rows, uint64_t per_row)
{
	uint64_t chunk = s->scratch_cap / per_row; /* >= 1: sized at open */
	for (int64_t r0 = 0; r0 < rows; r0 += (int64_t)chunk) {
		uint64_t k = (uint64_t)(rows - r0) < chunk ? (uint64_t)(rows - r0) : chunk;
		uint64_t e0 = (uint64_t)r0 * per_row, n = k * per_row;
		if (bits)
			for (uint64_t e = 0; e < n; e++)
				s->scratch[e] = (uint8_t)cf_bitmap_get(bits, (int64_t)(e0 + e));
		else
			memset(s->scratch, 1, n);
		int rc = cf_npy_writer_append(w, s->scratch, k);
		if (rc)
			return rc;
	}
	return CF_OK;
}

static int write_text(struct text_out *t, const cf_table_column *c, const cf_table_array *a, int64_t rows,
                      char *errbuf)
{
	for (int64_t r = 0; r < rows; r++) {
		if (text_row(t))
			break;
		for (uint32_t k = 0; k < c->width; k++) {
			int64_t e = r * (int64_t)c->width + k, lo, hi;
			if (c->dtype == CF_DTYPE_STRING) {
				lo = ((const int32_t *)a->values)[e];
				hi = ((const int32_t *)a->values)[e + 1];
			} else {
				lo = ((const int64_t *)a->values)[e];
				hi = ((const int64_t *)a->values)[e + 1];
			}
			text_value(&t->f, a->data + lo, (size_t)(hi - lo));
		}
		t->rows++;
		if (t->f.err)
			break;
	}
	if (t->f.err)
		return cf_errf(errbuf, t->f.err, "%s", t->f.msg);
	return CF_OK;
}

static int npy_write(void *state, const cf_table_batch *b, char *errbuf)
{
	struct npy_sink *s = state;
	for (uint32_t i = 0; i < s->ncols; i++) {
		struct col_out *co = &s->cols[i];
		const cf_table_column *c = co->c;
		const cf_table_array *a = &b->columns[i];
		int rc;
		if (co->has_txt)
			rc = write_text(&co->txt, c, a, b->n_rows, errbuf);
		else if (c->dtype == CF_DTYPE_BOOL)
			rc = append_bits(s, co->vals, a->values, b->n_rows, c->width);
		else
			rc = cf_npy_writer_append(co->vals, a->values, (uint64_t)b->n_rows);
		if (rc && !co->has_txt)
			return cf_errf(errbuf, rc, "%s", cf_npy_writer_error(co->vals));
		if (rc)
			return rc;
		if (co->valid && (rc = append_bits(s, co->valid, a->validity, b->n_rows, 1)))
			return cf_errf(errbuf, rc, "%s", cf_npy_writer_error(co->valid));
	}
	s->rows += (uint64_t)b->n_rows;
	return CF_OK;
}

/* ------------------------------------------------------------ close */

/* numpy's bool is "|b1"; the npy writer has no such dtype, so bool files
 * are written as |u1 (the same bytes, 0 or 1) and their header's type
 * letter is changed once the writer has finished them. */
static int mark_bool(const char *path, char *errbuf)
{
	static const char want[] = "{'descr': '|u1'";
	char got[sizeof want - 1];
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int e = fd < 0 ? errno : 0;
	if (!e && pread(fd, got, sizeof got, 10) != (ssize_t)sizeof got)
		e = EIO;
	if (!e && memcmp(got, want, sizeof got))
		e = EPROTO; /* not the header the npy writer writes */
	if (!e && pwrite(fd, "b", 1, 10 + 12) != 1)
		e = errno ? errno : EIO;
	if (fd >= 0 && close(fd) != 0 && !e)
		e = errno;
	return e ? cf_errf(errbuf, CF_ERR_IO, "npy: cannot write %s: %s", path, strerror(e)) : CF_OK;
}

/* Closes w; with `bool_type` also marks its files as bool. */
static int finish_npy(cf_npy_writer *w, int bool_type, char *errbuf)
{
	uint32_t n = bool_type ? cf_npy_writer_files(w) : 0;
	char **paths = n ? calloc(n, sizeof *paths) : NULL;
	if (n && !paths) {
		cf_npy_writer_close(w, NULL);
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	}
	int rc = CF_OK;
	for (uint32_t i = 0; i < n && !rc; i++)
		if (!(paths[i] = strdup(cf_npy_writer_file_path(w, i))))
			rc = cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	int crc = cf_npy_writer_close(w, errbuf);
	if (!rc)
		rc = crc;
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = mark_bool(paths[i], errbuf);
	for (uint32_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}

/* PATH may hold an earlier output: a directory with schema.json, or an
 * empty one. 0 when it may be replaced (or is absent), else a message. */
static int check_replaceable(const char *path, char *errbuf)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? CF_OK : cf_errf(errbuf, CF_ERR_IO, "npy: cannot replace %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cf_errf(errbuf, CF_ERR_IO, "npy: cannot replace %s: it exists and is not a directory", path);
	DIR *d = opendir(path);
	if (!d)
		return cf_errf(errbuf, CF_ERR_IO, "npy: cannot replace %s: %s", path, strerror(errno));
	int entries = 0, schema = 0, subdir = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		entries++;
		schema |= !strcmp(de->d_name, "schema.json");
		struct stat es;
		if (fstatat(dirfd(d), de->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(es.st_mode))
			subdir = 1;
	}
	closedir(d);
	if ((entries && !schema) || subdir)
		return cf_errf(errbuf, CF_ERR_IO,
		            "npy: cannot replace %s: not an earlier npy output (%s)", path,
		            subdir ? "it holds a directory" : "no schema.json");
	return CF_OK;
}

/* Renames the finished directory to PATH, replacing an earlier output. */
static int install_dir(struct npy_sink *s, char *errbuf)
{
	int rc = check_replaceable(s->path, errbuf);
	if (rc)
		return rc;
	if (rename(s->tmp, s->path) == 0)
		return CF_OK;
	if (errno != EEXIST && errno != ENOTEMPTY)
		return cf_errf(errbuf, CF_ERR_IO, "npy: cannot rename the finished directory to %s: %s", s->path,
		            strerror(errno));
	/* an earlier output: moved aside first, so PATH is never half of either */
	char pid[32];
	snprintf(pid, sizeof pid, ".old-%ld", (long)getpid());
	char *old = join(s->path, pid, "");
	if (!old)
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	remove_flat(old);
	if (rename(s->path, old) != 0) {
		rc = cf_errf(errbuf, CF_ERR_IO, "npy: cannot replace %s: %s", s->path, strerror(errno));
	} else if (rename(s->tmp, s->path) != 0) {
		rc = cf_errf(errbuf, CF_ERR_IO, "npy: cannot rename the finished directory to %s: %s", s->path,
		          strerror(errno));
		rename(old, s->path); /* the earlier output back in its place */
	} else {
		remove_flat(old);
	}
	free(old);
	return rc;
}

static int npy_close(void *state, cf_sink_stats *stats, char *errbuf)
{
	struct npy_sink *s = state;
	int rc = CF_OK;
	for (uint32_t i = 0; i < s->ncols; i++) {
		struct col_out *co = &s->cols[i];
		char msg[CF_ERRBUF_SIZE];
		int r = CF_OK, r2 = CF_OK;
		if (co->has_txt) {
			r = cf_out_commit(&co->txt.f);
			if (r)
				snprintf(msg, sizeof msg, "%s", co->txt.f.msg);
		} else {
			r = finish_npy(co->vals, co->c->dtype == CF_DTYPE_BOOL, msg);
		}
		co->vals = NULL;
		if (co->valid) {
			char m2[CF_ERRBUF_SIZE];
			r2 = finish_npy(co->valid, 1, m2);
			co->valid = NULL;
			if (r2 && !r)
				snprintf(msg, sizeof msg, "%s", m2);
		}
		if ((r || r2) && !rc) {
			rc = r ? r : r2;
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", msg);
		}
	}
	uint64_t bytes = rc ? 0 : dir_bytes(s->tmp);
	if (!rc)
		rc = install_dir(s, errbuf);
	if (rc) {
		remove_flat(s->tmp);
	} else if (stats) {
		stats->rows = s->rows;
		stats->bytes = bytes;
	}
	free_sink(s);
	return rc;
}

static void npy_abort(void *state)
{
	if (state)
		drop_all(state);
}

const cf_sink_ops cf_sink_npy = {"npy", "", npy_open, npy_write, npy_close, npy_abort};

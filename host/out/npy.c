/*
 * Streaming NumPy .npy writer (NPY format 1.0).
 *
 * Layout of a file: "\x93NUMPY", version 1.0, a little-endian uint16
 * header length, then the header dict padded with spaces and ended by
 * '\n' so that data starts at a multiple of 64 bytes, then the raw C-order
 * data. The header is sized at open for a 20-digit row count (the most a
 * uint64_t has), so finishing a file only rewrites those bytes with pwrite
 * and the data written meanwhile stays where it is.
 *
 * Large appends to a regular file skip 4 KiB blocks that are all zero,
 * leaving holes that read back as zeros: a 1500 x 1500 FlowPic image is
 * 4.5 MB of which a few KB are not zero, and writing (and the kernel
 * zeroing page-cache pages for) the rest was most of `cuflow flowpic`.
 */
#include "cuflow/npy.h"
#include "cuflow/cuflow.h"
#include "cuflow/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rows are copied to disk as they are in memory, and .npy files here say
 * little-endian ("<f4"): refuse to build where that would be a lie rather
 * than write silently wrong files. */
#if !defined(__BYTE_ORDER__) || !defined(__ORDER_LITTLE_ENDIAN__)
#error "cannot tell the host byte order; the .npy writer needs a little-endian host"
#elif __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy writer writes host-order data as little-endian: big-endian hosts are not supported"
#endif

#define NPY_BUF_SIZE (1u << 20)      /* write buffer */
#define NPY_DIRECT_CHUNK (1u << 30)  /* largest single write() of caller data */
#define NPY_PREFIX 10                /* magic 6 + version 2 + header length 2 */
#define NPY_ALIGN 64
#define NPY_HOLE 4096                /* the block size holes are made of */

struct npy_file {
	char *path;
	uint64_t rows;
};

struct cf_npy_writer {
	int dtype;
	int ndim;                            /* row dimensions */
	uint64_t shape[CF_NPY_MAX_ROW_NDIM];
	uint64_t row_bytes;
	uint64_t shard_rows;                 /* 0: no sharding */
	char *base;                          /* path, or path without ".npy" when sharding */
	size_t hdr_len;                      /* bytes before the data, multiple of 64 */
	int fd;                              /* the file being written, -1 when none */
	int sparse;                          /* fd is a regular file: zero blocks may be skipped */
	int holes;                           /* the current file ends in a skipped block */
	uint64_t off;                        /* bytes of the current file written or skipped */
	struct npy_file *files;
	uint32_t nfiles, files_cap;
	uint64_t rows;
	unsigned char *buf;
	size_t len;
	int err;                             /* sticky CF_ERR_IO (or NOMEM) once a write failed */
	char msg[CF_ERRBUF_SIZE];
};

static const struct {
	const char *descr;
	size_t size;
} dtypes[CF_NPY_DTYPE_COUNT] = {
	[CF_NPY_F4] = {"<f4", 4}, [CF_NPY_F8] = {"<f8", 8},
	[CF_NPY_I1] = {"|i1", 1}, [CF_NPY_U1] = {"|u1", 1},
	[CF_NPY_I2] = {"<i2", 2}, [CF_NPY_U2] = {"<u2", 2},
	[CF_NPY_I4] = {"<i4", 4}, [CF_NPY_U4] = {"<u4", 4},
	[CF_NPY_I8] = {"<i8", 8}, [CF_NPY_U8] = {"<u8", 8},
};

size_t cf_npy_dtype_size(int dtype)
{
	return dtype >= 0 && dtype < CF_NPY_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

const char *cf_npy_dtype_descr(int dtype)
{
	return dtype >= 0 && dtype < CF_NPY_DTYPE_COUNT ? dtypes[dtype].descr : NULL;
}

/* Records a failed write on file `path`; the error sticks. */
static int io_fail(cf_npy_writer *w, const char *what, const char *path, int e)
{
	w->err = CF_ERR_IO;
	return cf_errf(w->msg, CF_ERR_IO, "npy: cannot %s %s: %s", what, path, strerror(e));
}

/* The header dict for `rows` rows, without padding; its length. */
static int format_dict(const cf_npy_writer *w, uint64_t rows, char *out, size_t cap)
{
	int n = snprintf(out, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu%s",
	                 dtypes[w->dtype].descr, (unsigned long long)rows, w->ndim ? "" : ",");
	for (int i = 0; i < w->ndim && n >= 0 && (size_t)n < cap; i++)
		n += snprintf(out + n, cap - n, ", %llu", (unsigned long long)w->shape[i]);
	if (n >= 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - n, "), }");
	return n;
}

/* The full header (prefix + padded dict + '\n') of hdr_len bytes into out. */
static void format_header(const cf_npy_writer *w, uint64_t rows, unsigned char *out)
{
	size_t dict_room = w->hdr_len - NPY_PREFIX;
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (unsigned char)(dict_room & 0xff);
	out[9] = (unsigned char)(dict_room >> 8);
	char *d = (char *)out + NPY_PREFIX;
	int n = format_dict(w, rows, d, dict_room);  /* fits: hdr_len was sized for UINT64_MAX rows */
	memset(d + n, ' ', dict_room - (size_t)n);
	d[dict_room - 1] = '\n';
}

static int write_all(int fd, const void *p, uint64_t n)
{
	const unsigned char *c = p;
	while (n) {
		size_t k = n > NPY_DIRECT_CHUNK ? NPY_DIRECT_CHUNK : (size_t)n;
		ssize_t r = write(fd, c, k);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ENOSPC;
		c += r;
		n -= (uint64_t)r;
	}
	return 0;
}

static int pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const unsigned char *c = p;
	while (n) {
		ssize_t r = pwrite(fd, c, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ENOSPC;
		c += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static const char *cur_path(const cf_npy_writer *w)
{
	return w->files[w->nfiles - 1].path;
}

static int flush_buf(cf_npy_writer *w)
{
	if (!w->len)
		return CF_OK;
	int e = write_all(w->fd, w->buf, w->len);
	w->off += w->len;
	w->holes = 0;
	w->len = 0;
	return e ? io_fail(w, "write", cur_path(w), e) : CF_OK;
}

/* Stops at the first 64 bytes that are not all zero: dense rows (most
 * appends) cost a glance per block, not a second pass over the data. */
static int all_zero(const unsigned char *p)
{
	for (size_t i = 0; i < NPY_HOLE; i += 64) {
		uint64_t acc = 0, v;
		for (size_t k = 0; k < 64; k += 8) {
			memcpy(&v, p + i + k, 8);
			acc |= v;
		}
		if (acc)
			return 0;
	}
	return 1;
}

/* Writes n bytes at the current end of the file, leaving the file-aligned
 * blocks that are all zero as holes; the file offset ends after them. */
static int write_sparse(cf_npy_writer *w, const unsigned char *p, uint64_t n)
{
	uint64_t off = w->off, end = off + n;
	uint64_t run = off; /* start of the bytes not yet written */
	uint64_t b = (off + NPY_HOLE - 1) / NPY_HOLE * NPY_HOLE;
	for (; b + NPY_HOLE <= end; b += NPY_HOLE) {
		if (!all_zero(p + (b - off)))
			continue;
		if (b > run) {
			int e = pwrite_all(w->fd, p + (run - off), (size_t)(b - run), (off_t)run);
			if (e)
				return io_fail(w, "write", cur_path(w), e);
		}
		run = b + NPY_HOLE;
	}
	if (end > run) {
		int e = pwrite_all(w->fd, p + (run - off), (size_t)(end - run), (off_t)run);
		if (e)
			return io_fail(w, "write", cur_path(w), e);
	}
	w->holes = run == end && end > off;
	w->off = end;
	if (lseek(w->fd, (off_t)end, SEEK_SET) < 0)
		return io_fail(w, "seek in", cur_path(w), errno);
	return CF_OK;
}

/* Buffered write of n bytes of row data to the current file. */
static int put(cf_npy_writer *w, const unsigned char *p, uint64_t n)
{
	while (n) {
		if (!w->len && n >= NPY_BUF_SIZE) {
			/* Large appends go straight to the file. */
			if (w->sparse)
				return write_sparse(w, p, n);
			int e = write_all(w->fd, p, n);
			w->off += n;
			return e ? io_fail(w, "write", cur_path(w), e) : CF_OK;
		}
		size_t k = NPY_BUF_SIZE - w->len;
		if (k > n)
			k = (size_t)n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
		if (w->len == NPY_BUF_SIZE) {
			int rc = flush_buf(w);
			if (rc)
				return rc;
		}
	}
	return CF_OK;
}

/* Creates the next file (shard w->nfiles, or the single file) and writes
 * its provisional header (0 rows). */
static int open_file(cf_npy_writer *w)
{
	char *path;
	if (w->shard_rows) {
		size_t cap = strlen(w->base) + 32;
		path = malloc(cap);
		if (path)
			snprintf(path, cap, "%s-%05u.npy", w->base, (unsigned)w->nfiles);
	} else {
		path = strdup(w->base);
	}
	if (!path)
		return w->err = cf_errf(w->msg, CF_ERR_NOMEM, "npy: out of memory");
	if (w->nfiles == w->files_cap) {
		uint32_t cap = w->files_cap ? w->files_cap * 2 : 4;
		struct npy_file *f = cap > w->files_cap ? realloc(w->files, cap * sizeof *f) : NULL;
		if (!f) {
			free(path);
			return w->err = cf_errf(w->msg, CF_ERR_NOMEM, "npy: out of memory");
		}
		w->files = f;
		w->files_cap = cap;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		int rc = io_fail(w, "create", path, errno);
		free(path);
		return rc;
	}
	w->fd = fd;
	struct stat st;
	w->sparse = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	w->holes = 0;
	w->off = w->hdr_len;
	w->files[w->nfiles].path = path;
	w->files[w->nfiles].rows = 0;
	w->nfiles++;
	unsigned char hdr[512];
	format_header(w, 0, hdr);
	int e = write_all(fd, hdr, w->hdr_len);
	return e ? io_fail(w, "write", path, e) : CF_OK;
}

/* Flushes the current file, rewrites its header with the real row count
 * and closes it. After an earlier failure it only closes. */
static int finish_file(cf_npy_writer *w)
{
	if (w->fd < 0)
		return w->err;
	const struct npy_file *f = &w->files[w->nfiles - 1];
	if (!w->err && !flush_buf(w)) {
		/* a file ending in a hole has to be given its length */
		if (w->holes && ftruncate(w->fd, (off_t)w->off) != 0)
			io_fail(w, "write", f->path, errno);
		unsigned char hdr[512];
		format_header(w, f->rows, hdr);
		int e = pwrite_all(w->fd, hdr, w->hdr_len, 0);
		if (e)
			io_fail(w, "write", f->path, e);
	}
	int fd = w->fd;
	w->fd = -1;
	w->len = 0;
	if (close(fd) && !w->err)
		io_fail(w, "write", f->path, errno);
	return w->err;
}

static void free_writer(cf_npy_writer *w)
{
	for (uint32_t i = 0; i < w->nfiles; i++)
		free(w->files[i].path);
	free(w->files);
	free(w->base);
	free(w->buf);
	free(w);
}

int cf_npy_writer_open(const char *path, int dtype, int row_ndim, const uint64_t *row_shape,
                       uint64_t shard_rows, cf_npy_writer **out, char *errbuf)
{
	if (out)
		*out = NULL;
	if (!path || !*path || !out)
		return cf_errf(errbuf, CF_ERR_ARG, "npy: no output path");
	if (dtype < 0 || dtype >= CF_NPY_DTYPE_COUNT)
		return cf_errf(errbuf, CF_ERR_ARG, "npy: unknown dtype %d", dtype);
	if (row_ndim < 0 || row_ndim > CF_NPY_MAX_ROW_NDIM || (row_ndim && !row_shape))
		return cf_errf(errbuf, CF_ERR_ARG, "npy: rows must have 0..%d dimensions, not %d",
		            CF_NPY_MAX_ROW_NDIM, row_ndim);
	uint64_t row_bytes = dtypes[dtype].size;
	for (int i = 0; i < row_ndim; i++) {
		if (row_shape[i] && row_bytes > UINT64_MAX / row_shape[i])
			return cf_errf(errbuf, CF_ERR_ARG, "npy: row shape too large");
		row_bytes *= row_shape[i];
	}

	cf_npy_writer *w = calloc(1, sizeof *w);
	if (!w)
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	w->dtype = dtype;
	w->ndim = row_ndim;
	for (int i = 0; i < row_ndim; i++)
		w->shape[i] = row_shape[i];
	w->row_bytes = row_bytes;
	w->shard_rows = shard_rows;
	w->fd = -1;
	w->base = strdup(path);
	w->buf = malloc(NPY_BUF_SIZE);
	if (!w->base || !w->buf) {
		free_writer(w);
		return cf_errf(errbuf, CF_ERR_NOMEM, "npy: out of memory");
	}
	size_t bl = strlen(w->base);
	if (shard_rows && bl >= 4 && !strcmp(w->base + bl - 4, ".npy"))
		w->base[bl - 4] = '\0';

	/* Header room: the dict with the longest possible row count. */
	char dict[512];
	int n = format_dict(w, UINT64_MAX, dict, sizeof dict);
	w->hdr_len = ((size_t)NPY_PREFIX + (size_t)n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;

	int rc = open_file(w);
	if (rc) {
		cf_errf(errbuf, rc, "%s", w->msg);
		if (w->fd >= 0)
			close(w->fd);
		free_writer(w);
		return rc;
	}
	*out = w;
	return CF_OK;
}

/* With sharding, a full current file is finished and the next begun. */
static int next_shard_if_full(cf_npy_writer *w)
{
	if (!w->shard_rows || w->files[w->nfiles - 1].rows < w->shard_rows)
		return CF_OK;
	int rc = finish_file(w);
	return rc ? rc : open_file(w);
}

/* What both appends check first: 1 to go on, else *rc is the answer. */
static int append_starts(cf_npy_writer *w, uint64_t n, int *rc)
{
	*rc = !w ? CF_ERR_ARG : w->err ? w->err : CF_OK;
	return w && !w->err && n;
}

int cf_npy_writer_append(cf_npy_writer *w, const void *rows, uint64_t n)
{
	int rc0;
	if (!append_starts(w, n, &rc0))
		return rc0;
	if (!rows)
		return cf_errf(w->msg, CF_ERR_ARG, "npy: append of %llu rows from NULL", (unsigned long long)n);
	if ((w->row_bytes && n > UINT64_MAX / w->row_bytes) || n > UINT64_MAX - w->rows)
		return cf_errf(w->msg, CF_ERR_ARG, "npy: append of %llu rows is too large", (unsigned long long)n);
	const unsigned char *p = rows;
	while (n) {
		uint64_t k = n;
		if (w->shard_rows) {
			int rc = next_shard_if_full(w);
			if (rc)
				return rc;
			uint64_t room = w->shard_rows - w->files[w->nfiles - 1].rows;
			if (k > room)
				k = room;
		}
		int rc = put(w, p, k * w->row_bytes);
		if (rc)
			return rc;
		w->files[w->nfiles - 1].rows += k;
		w->rows += k;
		p += k * w->row_bytes;
		n -= k;
	}
	return CF_OK;
}

/* Writes the bytes of the file blocks first_block..last_block that fall
 * in [lo, hi), taken from p (the bytes from file offset lo). */
static int write_blocks(cf_npy_writer *w, const unsigned char *p, uint64_t lo, uint64_t hi, uint64_t first_block,
                        uint64_t last_block)
{
	uint64_t a = first_block * NPY_HOLE, b = (last_block + 1) * NPY_HOLE;
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	int e = pwrite_all(w->fd, p + (a - lo), (size_t)(b - a), (off_t)a);
	return e ? io_fail(w, "write", cur_path(w), e) : CF_OK;
}

int cf_npy_writer_append_sparse(cf_npy_writer *w, const void *rows, uint64_t n, const uint64_t *nonzero,
                                uint64_t n_nonzero)
{
	int rc0;
	if (!append_starts(w, n, &rc0))
		return rc0;
	if (!rows || (n_nonzero && !nonzero))
		return cf_errf(w->msg, CF_ERR_ARG, "npy: sparse append of %llu rows from NULL", (unsigned long long)n);
	uint64_t esize = dtypes[w->dtype].size, elems = esize ? w->row_bytes / esize : 0;
	if (!elems || n > UINT64_MAX / w->row_bytes || n > UINT64_MAX - w->rows)
		return cf_npy_writer_append(w, rows, n);
	for (uint64_t i = 0; i < n_nonzero; i++)
		if (nonzero[i] >= n * elems || (i && nonzero[i] < nonzero[i - 1]))
			return cf_errf(w->msg, CF_ERR_ARG, "npy: sparse append: element index %llu out of order or past the rows",
			            (unsigned long long)nonzero[i]);
	uint64_t bytes = n * w->row_bytes;
	int rc;
	if ((rc = next_shard_if_full(w)))
		return rc;
	int fits = !w->shard_rows || w->files[w->nfiles - 1].rows + n <= w->shard_rows;
	if (!w->sparse || !fits || bytes < NPY_BUF_SIZE)
		return cf_npy_writer_append(w, rows, n);
	rc = flush_buf(w);
	if (rc)
		return rc;
	const unsigned char *p = rows;
	uint64_t lo = w->off, hi = lo + bytes;
	uint64_t run_first = UINT64_MAX, run_last = 0;
	for (uint64_t i = 0; i < n_nonzero; i++) {
		uint64_t b0 = (lo + nonzero[i] * esize) / NPY_HOLE, b1 = (lo + nonzero[i] * esize + esize - 1) / NPY_HOLE;
		if (run_first != UINT64_MAX && b0 <= run_last + 1) {
			if (b1 > run_last)
				run_last = b1;
			continue;
		}
		if (run_first != UINT64_MAX && (rc = write_blocks(w, p, lo, hi, run_first, run_last)))
			return rc;
		run_first = b0;
		run_last = b1;
	}
	if (run_first != UINT64_MAX && (rc = write_blocks(w, p, lo, hi, run_first, run_last)))
		return rc;
	/* the file ends in a hole unless the last block was written */
	w->holes = run_first == UINT64_MAX || (run_last + 1) * NPY_HOLE < hi;
	w->off = hi;
	if (lseek(w->fd, (off_t)hi, SEEK_SET) < 0)
		return io_fail(w, "seek in", cur_path(w), errno);
	w->files[w->nfiles - 1].rows += n;
	w->rows += n;
	return CF_OK;
}

uint64_t cf_npy_writer_rows(const cf_npy_writer *w)
{
	return w ? w->rows : 0;
}

uint32_t cf_npy_writer_files(const cf_npy_writer *w)
{
	return w ? w->nfiles : 0;
}

const char *cf_npy_writer_file_path(const cf_npy_writer *w, uint32_t i)
{
	return w && i < w->nfiles ? w->files[i].path : NULL;
}

uint64_t cf_npy_writer_file_rows(const cf_npy_writer *w, uint32_t i)
{
	return w && i < w->nfiles ? w->files[i].rows : 0;
}

const char *cf_npy_writer_error(const cf_npy_writer *w)
{
	return w ? w->msg : "";
}

int cf_npy_writer_close(cf_npy_writer *w, char *errbuf)
{
	if (!w)
		return CF_OK;
	int rc = finish_file(w);
	if (rc)
		cf_errf(errbuf, rc, "%s", w->msg);
	free_writer(w);
	return rc;
}

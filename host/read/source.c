/*
 * Byte sources: mapped files, memory, and streams with transparent
 * gzip / zstd / lz4 / xz decompression. See source.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "source.h"

#define RAW_CAP (1u << 20)          /* raw (compressed) read size */
#define WINDOW_MIN (2u << 20)       /* stream window buffer: one huge page */
#define RELEASE_STEP (32u << 20)    /* hand mapped pages back every 32 MiB */

/* ---------------------------------------------------------------- raw input */

/* Tops up the raw buffer; returns -1 on a read error. */
static int raw_fill(cf_source *s)
{
	if (s->raw_pos > 0 && s->raw_pos == s->raw_len)
		s->raw_pos = s->raw_len = 0;
	if (s->raw_eof || s->raw_len == s->raw_cap)
		return 0;
	if (s->mem) {
		size_t n = s->mem_len - s->mem_pos;
		if (n > s->raw_cap - s->raw_len)
			n = s->raw_cap - s->raw_len;
		memcpy(s->raw + s->raw_len, s->mem + s->mem_pos, n);
		s->mem_pos += n;
		s->raw_len += n;
		s->raw_total += n;
		if (s->mem_pos == s->mem_len)
			s->raw_eof = 1;
		return 0;
	}
	for (;;) {
		ssize_t n = read(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(s->err, sizeof s->err, "read error: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			s->raw_eof = 1;
		s->raw_len += (size_t)n;
		s->raw_total += (uint64_t)n;
		return 0;
	}
}

/* ---------------------------------------------------------------- decompressors */

/* Each produces up to `cap` bytes into dst; returns bytes produced, 0 at
 * the end of the data, -1 on error (message in s->err). */

static ssize_t plain_produce(cf_source *s, uint8_t *dst, size_t cap)
{
	/* Uncompressed stream with nothing buffered: read straight into the
	 * window, saving a copy. */
	if (s->raw_pos == s->raw_len && !s->mem && !s->raw_eof) {
		for (;;) {
			ssize_t n = read(s->fd, dst, cap);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				snprintf(s->err, sizeof s->err, "read error: %s", strerror(errno));
				return -1;
			}
			if (n == 0)
				s->raw_eof = 1;
			s->raw_total += (uint64_t)n;
			return n;
		}
	}
	for (;;) {
		size_t n = s->raw_len - s->raw_pos;
		if (n) {
			if (n > cap)
				n = cap;
			memcpy(dst, s->raw + s->raw_pos, n);
			s->raw_pos += n;
			return (ssize_t)n;
		}
		if (s->raw_eof)
			return 0;
		if (raw_fill(s) < 0)
			return -1;
	}
}

static ssize_t gzip_produce(cf_source *s, uint8_t *dst, size_t cap)
{
	z_stream *z = s->z;
	z->next_out = dst;
	z->avail_out = (uInt)cap;
	while (z->avail_out == cap) {
		if (s->raw_pos == s->raw_len) {
			if (s->raw_eof) {
				if (s->z_mid) {
					snprintf(s->err, sizeof s->err, "gzip stream ends early (truncated compressed file)");
					return -1;
				}
				break;
			}
			if (raw_fill(s) < 0)
				return -1;
			continue;
		}
		s->z_mid = 1;
		z->next_in = s->raw + s->raw_pos;
		z->avail_in = (uInt)(s->raw_len - s->raw_pos);
		int rc = inflate(z, Z_NO_FLUSH);
		s->raw_pos = s->raw_len - z->avail_in;
		if (rc == Z_STREAM_END) {
			s->z_mid = 0;
			/* concatenated gzip members continue the stream */
			if (s->raw_pos == s->raw_len && raw_fill(s) < 0)
				return -1;
			if (s->raw_pos == s->raw_len && s->raw_eof)
				break;
			inflateReset(z);
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			snprintf(s->err, sizeof s->err, "gzip data error: %s", z->msg ? z->msg : "corrupt");
			return -1;
		}
	}
	return (ssize_t)(cap - z->avail_out);
}

static ssize_t zstd_produce(cf_source *s, uint8_t *dst, size_t cap)
{
	ZSTD_outBuffer out = {dst, cap, 0};
	size_t last = s->z_hint;
	while (out.pos == 0) {
		if (s->raw_pos == s->raw_len) {
			if (s->raw_eof) {
				if (last != 0) {
					snprintf(s->err, sizeof s->err, "zstd stream ends early (truncated compressed file)");
					return -1;
				}
				break;
			}
			if (raw_fill(s) < 0)
				return -1;
			continue;
		}
		ZSTD_inBuffer in = {s->raw + s->raw_pos, s->raw_len - s->raw_pos, 0};
		last = ZSTD_decompressStream(s->z, &out, &in);
		s->z_hint = last;
		s->raw_pos += in.pos;
		if (ZSTD_isError(last)) {
			snprintf(s->err, sizeof s->err, "zstd data error: %s", ZSTD_getErrorName(last));
			return -1;
		}
		if (last == 0 && out.pos == 0 && s->raw_pos == s->raw_len && s->raw_eof)
			break;
	}
	return (ssize_t)out.pos;
}

static ssize_t lz4_produce(cf_source *s, uint8_t *dst, size_t cap)
{
	size_t produced = 0;
	size_t hint = s->z_hint;
	while (produced == 0) {
		if (s->raw_pos == s->raw_len) {
			if (s->raw_eof) {
				if (hint != 0) {
					snprintf(s->err, sizeof s->err, "lz4 stream ends early (truncated compressed file)");
					return -1;
				}
				break;
			}
			if (raw_fill(s) < 0)
				return -1;
			continue;
		}
		size_t out_n = cap - produced, in_n = s->raw_len - s->raw_pos;
		hint = LZ4F_decompress(s->z, dst + produced, &out_n, s->raw + s->raw_pos, &in_n, NULL);
		s->z_hint = hint;
		s->raw_pos += in_n;
		produced += out_n;
		if (LZ4F_isError(hint)) {
			snprintf(s->err, sizeof s->err, "lz4 data error: %s", LZ4F_getErrorName(hint));
			return -1;
		}
		if (hint == 0 && produced == 0 && s->raw_pos == s->raw_len && s->raw_eof)
			break;
	}
	return (ssize_t)produced;
}

static ssize_t xz_produce(cf_source *s, uint8_t *dst, size_t cap)
{
	lzma_stream *x = s->z;
	x->next_out = dst;
	x->avail_out = cap;
	while (x->avail_out == cap) {
		if (s->raw_pos == s->raw_len && !s->raw_eof && raw_fill(s) < 0)
			return -1;
		x->next_in = s->raw + s->raw_pos;
		x->avail_in = s->raw_len - s->raw_pos;
		lzma_ret rc = lzma_code(x, s->raw_eof && s->raw_pos == s->raw_len ? LZMA_FINISH : LZMA_RUN);
		s->raw_pos = s->raw_len - x->avail_in;
		if (rc == LZMA_STREAM_END)
			break;
		if (rc != LZMA_OK) {
			snprintf(s->err, sizeof s->err, "xz data error (code %d)%s", (int)rc,
			         rc == LZMA_BUF_ERROR ? ": truncated compressed file" : "");
			return -1;
		}
	}
	return (ssize_t)(cap - x->avail_out);
}

static ssize_t produce(cf_source *s, uint8_t *dst, size_t cap)
{
	switch (s->compression) {
	case CF_COMPRESSION_GZIP: return gzip_produce(s, dst, cap);
	case CF_COMPRESSION_ZSTD: return zstd_produce(s, dst, cap);
	case CF_COMPRESSION_LZ4: return lz4_produce(s, dst, cap);
	case CF_COMPRESSION_XZ: return xz_produce(s, dst, cap);
	}
	return plain_produce(s, dst, cap);
}

static int sniff_compression(const uint8_t *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return CF_COMPRESSION_GZIP;
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return CF_COMPRESSION_ZSTD;
	if (n >= 4 && p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d && p[3] == 0x18)
		return CF_COMPRESSION_LZ4;
	if (n >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		return CF_COMPRESSION_XZ;
	return CF_COMPRESSION_NONE;
}

static int start_decompressor(cf_source *s, char *errbuf)
{
	switch (s->compression) {
	case CF_COMPRESSION_GZIP: {
		z_stream *z = calloc(1, sizeof *z);
		if (!z || inflateInit2(z, 15 + 16) != Z_OK) {
			free(z);
			goto nomem;
		}
		s->z = z;
		break;
	}
	case CF_COMPRESSION_ZSTD:
		s->z = ZSTD_createDStream();
		if (!s->z)
			goto nomem;
		ZSTD_initDStream(s->z);
		break;
	case CF_COMPRESSION_LZ4: {
		LZ4F_dctx *d = NULL;
		if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
			goto nomem;
		s->z = d;
		break;
	}
	case CF_COMPRESSION_XZ: {
		lzma_stream *x = calloc(1, sizeof *x);
		if (!x)
			goto nomem;
		lzma_stream init = LZMA_STREAM_INIT;
		*x = init;
		/* 1 GiB memory limit for the dictionary: bounded, and larger
		 * than any preset xz uses. */
		if (lzma_stream_decoder(x, 1ull << 30, LZMA_CONCATENATED) != LZMA_OK) {
			free(x);
			goto nomem;
		}
		s->z = x;
		break;
	}
	}
	return CF_OK;
nomem:
	snprintf(errbuf, CF_ERRBUF_SIZE, "cannot start the decompressor: out of memory");
	return CF_ERR_NOMEM;
}

static void stop_decompressor(cf_source *s)
{
	if (!s->z)
		return;
	switch (s->compression) {
	case CF_COMPRESSION_GZIP:
		inflateEnd(s->z);
		free(s->z);
		break;
	case CF_COMPRESSION_ZSTD: ZSTD_freeDStream(s->z); break;
	case CF_COMPRESSION_LZ4: LZ4F_freeDecompressionContext(s->z); break;
	case CF_COMPRESSION_XZ:
		lzma_end(s->z);
		free(s->z);
		break;
	}
	s->z = NULL;
}

/* ---------------------------------------------------------------- stream window */

int src_fill(cf_source *s, size_t n)
{
	if (s->err[0])
		return -1;
	if (n > CF_MAX_RECORD + 64) {
		snprintf(s->err, sizeof s->err, "record of %zu bytes exceeds the %u MiB limit", n,
		         CF_MAX_RECORD >> 20);
		return -1;
	}
	/* slide the unread bytes to the front */
	if (s->pos > 0) {
		memmove(s->own, s->own + s->pos, s->len - s->pos);
		s->base += s->pos;
		s->len -= s->pos;
		s->pos = 0;
	}
	if (n > s->own_cap) {
		size_t cap = s->own_cap;
		while (cap < n)
			cap *= 2;
		uint8_t *p = realloc(s->own, cap);
		if (!p) {
			snprintf(s->err, sizeof s->err, "out of memory for a %zu-byte record", n);
			return -1;
		}
		s->own = p;
		s->own_cap = cap;
	}
	while (s->len < n && !s->eof) {
		ssize_t got = produce(s, s->own + s->len, s->own_cap - s->len);
		if (got < 0)
			return -1;
		if (got == 0)
			s->eof = 1;
		s->len += (size_t)got;
	}
	s->buf = s->own;
	return s->len >= n ? 1 : 0;
}

/* The stream window: one transparent huge page where the system offers
 * them (2 MiB, aligned, advised). read() into it and the record walk over
 * it then take one TLB entry instead of 512: reading and touching a
 * page-cached capture went from 0.086 to 0.063 s (540 MB of 64-byte
 * frames) and from 0.078 to 0.040 s (605 MB of mixed sizes). */
static uint8_t *window_alloc(size_t cap)
{
	void *p = NULL;
	if (cap == WINDOW_MIN && posix_memalign(&p, WINDOW_MIN, WINDOW_MIN) == 0) {
#ifdef MADV_HUGEPAGE
		madvise(p, WINDOW_MIN, MADV_HUGEPAGE); /* advice: failure only costs the speed */
#endif
		return p;
	}
	return malloc(cap);
}

/* size: the whole input when it is a plain (uncompressed) regular file
 * smaller than the default buffers, else 0. Small files get buffers of
 * their size: most captures of a corpus are a few KB, and the default
 * buffers per open (1 MiB raw + the 2 MiB window, mmap and munmap each)
 * made opening them slower than libpcap. */
static int stream_init(cf_source *s, uint64_t size, char *errbuf)
{
	s->kind = SRC_STREAM;
	size_t small = size && size < WINDOW_MIN ? ((size_t)size + 64 + 4095) / 4096 * 4096 : 0;
	s->raw_cap = small ? small : RAW_CAP;
	s->raw = malloc(s->raw_cap);
	s->own_cap = small ? small : WINDOW_MIN;
	s->own = window_alloc(s->own_cap);
	if (!s->raw || !s->own) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	s->buf = s->own;
	/* sniff compression from the first raw bytes. A small file read whole
	 * into raw here would then be copied into the window; read a few bytes,
	 * so a plain one goes straight into the window (plain_produce) */
	if (small && s->fd >= 0 && !s->mem) {
		ssize_t n;
		do
			n = read(s->fd, s->raw, 64);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "read error: %s", strerror(errno));
			return CF_ERR_IO;
		}
		s->raw_eof = n == 0;
		s->raw_len = (size_t)n;
		s->raw_total = (uint64_t)n;
	}
	while (s->raw_len < 6 && !s->raw_eof)
		if (raw_fill(s) < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s", s->err);
			return CF_ERR_IO;
		}
	s->compression = sniff_compression(s->raw, s->raw_len);
	s->z_hint = 1;
	return start_decompressor(s, errbuf);
}

/* ---------------------------------------------------------------- open/close */

int src_open_path(cf_source *s, const char *path, char *errbuf)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	if (!strcmp(path, "-")) {
		s->fd = 0;
		return stream_init(s, 0, errbuf);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: cannot open: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	s->fd = fd;
	s->own_fd = 1;
	struct stat st;
	int plain = 0;
	if (fstat(fd, &st) != 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: cannot stat: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: is a directory", path);
		return CF_ERR_IO;
	}
	if (S_ISREG(st.st_mode)) {
		s->file_size = (uint64_t)st.st_size;
		uint8_t head[6] = {0};
		ssize_t n = pread(fd, head, sizeof head, 0);
		if (n < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s: cannot read: %s", path, strerror(errno));
			return CF_ERR_IO;
		}
		/* Large-block read() beats mmap here: populating page tables
		 * costs more than copying into a cache-resident window
		 * (bench/: 2.9x vs 1.2x libpcap on 1500-byte frames). mmap
		 * stays available for experiments. */
		plain = sniff_compression(head, (size_t)n) == CF_COMPRESSION_NONE;
		if (plain && st.st_size > 0 && getenv("CUFLOW_MMAP")) {
			void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m != MAP_FAILED) {
				/* advice values are not flags: one call */
				madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
				s->kind = SRC_MAP;
				s->map = m;
				s->map_len = (size_t)st.st_size;
				s->buf = m;
				s->len = s->map_len;
				s->eof = 1;
				return CF_OK;
			}
		}
	}
	return stream_init(s, plain ? s->file_size : 0, errbuf);
}

int src_open_memory(cf_source *s, const void *data, size_t len, char *errbuf)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->file_size = len;
	if (sniff_compression(data, len) == CF_COMPRESSION_NONE) {
		s->kind = SRC_MEMORY;
		s->buf = data;
		s->len = len;
		s->eof = 1;
		return CF_OK;
	}
	s->mem = data;
	s->mem_len = len;
	if (len == 0)
		s->raw_eof = 1;
	return stream_init(s, 0, errbuf);
}

void src_close(cf_source *s)
{
	stop_decompressor(s);
	if (s->map)
		munmap(s->map, s->map_len);
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	free(s->raw);
	free(s->own);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

void src_release_map(cf_source *s)
{
	if (s->pos - s->released < RELEASE_STEP)
		return;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t upto = s->pos & ~(page - 1);
	if (upto > s->released) {
		madvise((uint8_t *)s->map + s->released, upto - s->released, MADV_DONTNEED);
		s->released = upto;
	}
}

uint64_t src_raw_consumed(const cf_source *s)
{
	if (s->kind != SRC_STREAM)
		return s->pos;
	return s->raw_total - (s->raw_len - s->raw_pos);
}

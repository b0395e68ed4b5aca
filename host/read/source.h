/*
 * Byte sources under the capture readers: a window of bytes over a file
 * (memory-mapped), a caller's memory block, or a stream (pipe, standard
 * input, or a decompressor over a file or memory).
 *
 * The format parsers see one interface: src_want(s, n) makes n bytes
 * available at s->buf + s->pos (returns 1), or says the input ends sooner
 * (returns 0) or failed (returns -1, message in s->err). For mapped files
 * and memory the whole input is the window, so src_want is a comparison.
 */
#ifndef CUFLOW_READ_SOURCE_H
#define CUFLOW_READ_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/cuflow.h"

/* Largest single record or block a reader accepts: bounds every buffer. */
#define CF_MAX_RECORD (32u << 20)

enum src_kind { SRC_MAP, SRC_MEMORY, SRC_STREAM };

typedef struct cf_source {
	const uint8_t *buf;   /* window */
	size_t len;           /* valid bytes in the window */
	size_t pos;           /* parser position in the window */
	uint64_t base;        /* stream offset of buf[0] */
	int kind;             /* enum src_kind */
	int eof;              /* no more bytes will arrive after len */
	int compression;      /* enum cf_compression */
	uint64_t file_size;   /* input size as stored; 0 for a pipe */

	/* SRC_MAP */
	void *map;
	size_t map_len;
	size_t released;      /* pages before this offset were handed back */

	/* raw input of SRC_STREAM: a file descriptor or a memory block */
	int fd;
	int own_fd;
	const uint8_t *mem;
	size_t mem_len, mem_pos;
	uint8_t *raw;         /* raw (compressed) bytes read but not consumed */
	size_t raw_len, raw_pos, raw_cap;
	int raw_eof;
	uint64_t raw_total;   /* raw bytes taken from the input */

	/* SRC_STREAM window buffer */
	uint8_t *own;
	size_t own_cap;

	void *z;              /* decompressor state */
	size_t z_hint;        /* zstd/lz4: 0 when the last frame ended cleanly */
	int z_mid;            /* gzip: inside a member */
	char err[CF_ERRBUF_SIZE];
} cf_source;

/* Opens `path` ("-" = standard input): sniffs compression magic, maps plain
 * regular files, streams the rest. CF_OK or CF_ERR_IO (message in errbuf). */
int src_open_path(cf_source *s, const char *path, char *errbuf);
/* Over caller memory (borrowed). */
int src_open_memory(cf_source *s, const void *data, size_t len, char *errbuf);
void src_close(cf_source *s);

/* Slow path of src_want: refills a stream window. */
int src_fill(cf_source *s, size_t n);

static inline int src_want(cf_source *s, size_t n)
{
	if (s->len - s->pos >= n)
		return 1;
	if (s->kind != SRC_STREAM)
		return 0;
	return src_fill(s, n);
}

/* Bytes available at pos without refilling. */
static inline size_t src_avail(const cf_source *s) { return s->len - s->pos; }

/* Stream offset of the parser position. */
static inline uint64_t src_offset(const cf_source *s) { return s->base + s->pos; }

/* Hands mapped pages before the parser position back to the kernel, so a
 * long walk over a big file keeps a small resident set. Cheap to call. */
void src_release_map(cf_source *s);
static inline void src_release_behind(cf_source *s)
{
	if (s->kind == SRC_MAP)
		src_release_map(s);
}

/* Raw bytes consumed from the underlying input (for progress). */
uint64_t src_raw_consumed(const cf_source *s);

#endif

/*
 * Capture readers: one handle reads one capture (file or standard input)
 * and yields frames with integer-nanosecond timestamps.
 *
 * The format is detected from the first bytes, never from the file name:
 * classic pcap (microsecond and nanosecond magic, both byte orders),
 * pcapng (any number of sections and interfaces, both byte orders),
 * Solaris snoop, each optionally compressed with gzip, zstd, lz4 (frame
 * format) or xz. Anything else is handed to libpcap's pcap_open_offline as
 * a last resort; what libpcap cannot open either is rejected with
 * CF_ERR_NOT_CAPTURE and a message saying what the bytes look like.
 *
 * Files are read in large blocks into a 1 MiB window that stays in the
 * CPU cache, and records are walked in place there (no copy per packet);
 * memory stays small whatever the file size. (Setting CUFLOW_MMAP=1 in the
 * environment maps plain files instead; it measured slower.)
 */
#ifndef CUFLOW_READER_H
#define CUFLOW_READER_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_reader cf_reader;

/* One frame as read. `data` is borrowed: valid until the next call on the
 * same reader. */
typedef struct cf_frame {
	int64_t ts_ns;        /* ns since the Unix epoch (pcapng if_tsoffset applied) */
	uint32_t caplen;      /* bytes at data */
	uint32_t wirelen;     /* original length on the wire */
	uint32_t linktype;    /* LINKTYPE_* value of the frame's interface */
	uint32_t iface;       /* pcapng interface index within its section; 0 otherwise */
	uint64_t offset;      /* byte offset of the record in the (decompressed) stream */
	const uint8_t *data;
} cf_frame;

enum cf_format {
	CF_FORMAT_PCAP = 1,
	CF_FORMAT_PCAPNG = 2,
	CF_FORMAT_SNOOP = 3,
	CF_FORMAT_LIBPCAP = 4  /* read through libpcap (e.g. modified pcap variants) */
};

enum cf_compression {
	CF_COMPRESSION_NONE = 0,
	CF_COMPRESSION_GZIP,
	CF_COMPRESSION_ZSTD,
	CF_COMPRESSION_LZ4,
	CF_COMPRESSION_XZ
};

/* "pcap", "pcapng", "snoop", "libpcap" ("unknown" otherwise) and "none",
 * "gzip", "zstd", "lz4", "xz" ("none" otherwise): the names `cuflow info`
 * writes. */
const char *cf_format_name(int format);
const char *cf_compression_name(int compression);

#define CF_MAX_LINKTYPES 16

/* What a reader learned about its input. Fields that grow while reading
 * (pcapng interfaces appear in the stream) are final only at CF_EOF. */
typedef struct cf_reader_info {
	int format;           /* enum cf_format */
	int compression;      /* enum cf_compression */
	int big_endian;       /* byte order of the (first) section */
	int ts_resolution_ns; /* 1000 for microsecond pcap, 1 for nanosecond;
	                         pcapng: of the first interface (see ts_mixed) */
	int ts_mixed;         /* pcapng interfaces with different resolutions */
	uint32_t snaplen;     /* of the file header / first interface */
	uint32_t sections;    /* pcapng sections seen */
	uint32_t interfaces;  /* pcapng interfaces seen (all sections) */
	uint32_t n_linktypes; /* distinct link types seen, in order of appearance */
	uint32_t linktypes[CF_MAX_LINKTYPES];
	uint64_t file_size;   /* bytes of the input file as stored; 0 for a stream */
	/* Timestamps that could not be taken as written (counted, never
	 * wrapped; docs/capture-differences.md):
	 *  - ts_bad_fraction: pcap/snoop records whose fraction-of-second
	 *    field is out of range (>= 10^6 us, >= 10^9 ns); the record keeps
	 *    its seconds (fraction 0);
	 *  - ts_out_of_range: pcapng (or libpcap) timestamps outside the
	 *    int64-ns range (before 1677-09-21 or after 2262-04-11); the record
	 *    gets the previous packet's time, as a pcapng simple packet does. */
	uint64_t ts_bad_fraction;
	uint64_t ts_out_of_range;
} cf_reader_info;

/* Opens `path` ("-" for standard input) and reads its header.
 * On success *out holds the reader. On failure *out is NULL, errbuf holds
 * a message naming the file (and the byte offset where that applies) and
 * the status says why: CF_ERR_IO, CF_ERR_NOT_CAPTURE, CF_ERR_TRUNCATED,
 * CF_ERR_CORRUPT, CF_ERR_UNSUPPORTED, CF_ERR_NOMEM. */
int cf_reader_open(const char *path, cf_reader **out, char *errbuf);

/* Like cf_reader_open, over `len` bytes at `data` (borrowed: they must
 * outlive the reader). `name` is used in messages. Compressed data is
 * decompressed; the libpcap fallback is not available from memory. */
int cf_reader_open_memory(const void *data, size_t len, const char *name, cf_reader **out,
                          char *errbuf);

/* Reads the next frame into *frame. Returns CF_OK, CF_EOF at the clean end
 * of the input, or a negative status when the input is damaged: then
 * cf_reader_error() says what and where, and every later call returns the
 * same status. Frames before the damage were all delivered. */
int cf_reader_next(cf_reader *r, cf_frame *frame);

/* Format facts; the pointer stays valid until cf_reader_close. */
const cf_reader_info *cf_reader_get_info(const cf_reader *r);

/* Last error message ("" when none) and its byte offset in the
 * (decompressed) stream (-1 when none). */
const char *cf_reader_error(const cf_reader *r);
int64_t cf_reader_error_offset(const cf_reader *r);

/* Bytes of the input consumed so far, as stored (compressed bytes for a
 * compressed file), for progress reports. */
uint64_t cf_reader_bytes_read(const cf_reader *r);

/* Closes the reader (NULL-safe). */
void cf_reader_close(cf_reader *r);

#ifdef __cplusplus
}
#endif

#endif

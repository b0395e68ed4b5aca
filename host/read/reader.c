/*
 * Capture readers: format detection and the record walkers for classic
 * pcap, pcapng and snoop, plus libpcap as the fallback for anything else
 * it can open. See include/cuflow/reader.h for the contract.
 *
 * The walkers work in place on the source window (source.h): a frame's
 * data pointer points into the mapped file or the stream buffer, so
 * nothing is copied per packet. Every length read from the file is
 * checked against what is available before it is used.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cuflow/cuflow.h"
#include "reader_internal.h"
#include "source.h"
#include "decode/decode_fast.h"

#define PCAPNG_MAX_IFACES 65536

typedef struct iface {
	uint32_t linktype;
	uint32_t snaplen;
	int64_t offset_s;      /* if_tsoffset, seconds (signed, as the pcapng spec says) */
	uint64_t ns_mul;       /* ns per tick when units divide 1e9 evenly, else 0 */
	uint64_t units;        /* ticks per second */
} iface;

struct cf_reader {
	char *name;
	cf_source src;
	cf_reader_info info;
	int (*next)(cf_reader *r, cf_frame *f);

	int fast_pcap;         /* classic pcap in host order from a stream: cf_reader_next inlines the walk */
	int swap;              /* pcap/pcapng: file byte order differs from ours */
	int64_t frac_ns;       /* pcap: ns per fractional tick (1000 or 1) */
	uint32_t frac_lim;     /* pcap: fraction values in range are below this (10^6 or 10^9) */
	uint32_t linktype;     /* pcap/snoop */

	iface *ifaces;         /* pcapng interfaces of the current section */
	uint32_t n_ifaces, cap_ifaces;
	int in_section;

	pcap_t *pcap;          /* libpcap fallback */

	int64_t last_ts;       /* for pcapng simple packet blocks (no timestamp) */
	int status;            /* sticky error */
	int64_t err_off;
	char err[CF_ERRBUF_SIZE];
};

/* ---------------------------------------------------------------- helpers */

static inline uint32_t rd32(const uint8_t *p, int swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static inline uint16_t rd16(const uint8_t *p, int swap)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Records a sticky error naming the file and stream offset. */
static int fail(cf_reader *r, int status, uint64_t off, const char *fmt, ...)
{
	char msg[CF_ERRBUF_SIZE - 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof r->err, "%s: %s at %sbyte offset %llu", r->name, msg,
	         r->src.compression ? "decompressed " : "", (unsigned long long)off);
	r->status = status;
	r->err_off = (int64_t)off;
	r->fast_pcap = 0;
	return status;
}

/* The source failed (read or decompression error). */
static int fail_src(cf_reader *r)
{
	return fail(r, r->src.compression ? CF_ERR_CORRUPT : CF_ERR_IO, src_offset(&r->src), "%s",
	            r->src.err);
}

/* Makes the next n bytes of the input available at the parser position.
 * CF_OK: they are there; CF_EOF: the input ends cleanly here (eof_ok and
 * no byte left); < 0: the error, recorded on the reader. */
static int want(cf_reader *r, size_t n, int eof_ok, const char *what)
{
	cf_source *s = &r->src;
	int w = src_want(s, n);
	if (w > 0)
		return CF_OK;
	if (w < 0)
		return fail_src(r);
	if (eof_ok && src_avail(s) == 0)
		return CF_EOF;
	return fail(r, CF_ERR_TRUNCATED, src_offset(s), "truncated %s (%zu of %zu bytes)", what, src_avail(s), n);
}

static void note_linktype(cf_reader *r, uint32_t lt)
{
	cf_reader_info *in = &r->info;
	for (uint32_t i = 0; i < in->n_linktypes; i++)
		if (in->linktypes[i] == lt)
			return;
	if (in->n_linktypes < CF_MAX_LINKTYPES)
		in->linktypes[in->n_linktypes++] = lt;
}

/* ---------------------------------------------------------------- classic pcap */

static int pcap_next_rec(cf_reader *r, cf_frame *f)
{
	cf_source *s = &r->src;
	src_release_behind(s);
	int w = want(r, 16, 1, "packet record header");
	if (w != CF_OK)
		return w;
	const uint8_t *h = s->buf + s->pos;
	uint32_t sec = rd32(h, r->swap), frac = rd32(h + 4, r->swap);
	uint32_t caplen = rd32(h + 8, r->swap), wirelen = rd32(h + 12, r->swap);
	if (frac >= r->frac_lim) {
		/* out of range: carried into the seconds it could move the clock
		 * by up to 71 minutes (libpcap reads it signed in little-endian
		 * files and unsigned in big-endian ones); keep the seconds */
		r->info.ts_bad_fraction++;
		frac = 0;
	}
	if (caplen > CF_MAX_RECORD)
		return fail(r, CF_ERR_CORRUPT, src_offset(s),
		            "corrupt packet record: captured length %u exceeds the %u MiB limit", caplen,
		            CF_MAX_RECORD >> 20);
	w = want(r, 16 + (size_t)caplen, 0, "packet record");
	if (w != CF_OK)
		return w;
	h = s->buf + s->pos; /* the window may have moved */
	f->ts_ns = (int64_t)sec * 1000000000 + (int64_t)frac * r->frac_ns;
	f->caplen = caplen;
	f->wirelen = wirelen;
	f->linktype = r->linktype;
	f->iface = 0;
	f->offset = src_offset(s);
	f->data = h + 16;
	s->pos += 16 + (size_t)caplen;
	return CF_OK;
}

static int pcap_open_hdr(cf_reader *r, uint32_t magic_le)
{
	cf_source *s = &r->src;
	if (src_want(s, 24) <= 0)
		return fail(r, CF_ERR_TRUNCATED, 0, "truncated pcap file header (%zu of 24 bytes)",
		            src_avail(s));
	const uint8_t *h = s->buf + s->pos;
	/* magic_le is the magic as read little-endian: a1b2c3d4 means LE file */
	int nsec = magic_le == 0xa1b23c4d || magic_le == 0x4d3cb2a1;
	r->swap = (magic_le == 0xd4c3b2a1 || magic_le == 0x4d3cb2a1);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	r->swap = !r->swap;
#endif
	r->info.big_endian = (magic_le == 0xd4c3b2a1 || magic_le == 0x4d3cb2a1);
	uint16_t major = rd16(h + 4, r->swap);
	if (major != 2)
		return fail(r, CF_ERR_UNSUPPORTED, 4, "unsupported pcap version %u.%u", major,
		            rd16(h + 6, r->swap));
	r->frac_ns = nsec ? 1 : 1000;
	r->frac_lim = nsec ? 1000000000u : 1000000u;
	r->info.format = CF_FORMAT_PCAP;
	r->info.ts_resolution_ns = nsec ? 1 : 1000;
	r->info.snaplen = rd32(h + 16, r->swap);
	/* The link-type field: bits 0-15 link type, 16-25 reserved (must be
	 * zero, as libpcap and Wireshark insist), 26-31 FCS length flags. */
	uint32_t ltf = rd32(h + 20, r->swap);
	if (ltf & 0x03ff0000)
		return fail(r, CF_ERR_CORRUPT, 20, "pcap link-type field 0x%08x has reserved bits set", ltf);
	r->linktype = ltf & 0xffff;
	note_linktype(r, r->linktype);
	s->pos += 24;
	r->next = pcap_next_rec;
	r->fast_pcap = !r->swap && s->kind != SRC_MAP;
	return CF_OK;
}

/* ---------------------------------------------------------------- snoop (RFC 1761) */

static int snoop_next_rec(cf_reader *r, cf_frame *f)
{
	cf_source *s = &r->src;
	src_release_behind(s);
	int w = want(r, 24, 1, "snoop record header");
	if (w != CF_OK)
		return w;
	const uint8_t *h = s->buf + s->pos;
	uint32_t wirelen = be32(h), caplen = be32(h + 4), reclen = be32(h + 8);
	if (reclen < 24 || caplen > reclen - 24 || reclen > CF_MAX_RECORD)
		return fail(r, CF_ERR_CORRUPT, src_offset(s),
		            "corrupt snoop record: record length %u, captured length %u", reclen, caplen);
	w = want(r, reclen, 0, "snoop record");
	if (w != CF_OK)
		return w;
	h = s->buf + s->pos;
	uint32_t usec = be32(h + 20);
	if (usec >= 1000000) {
		r->info.ts_bad_fraction++;
		usec = 0;
	}
	f->ts_ns = (int64_t)be32(h + 16) * 1000000000 + (int64_t)usec * 1000;
	f->caplen = caplen;
	f->wirelen = wirelen;
	f->linktype = r->linktype;
	f->iface = 0;
	f->offset = src_offset(s);
	f->data = h + 24;
	s->pos += reclen;
	return CF_OK;
}

static int snoop_open_hdr(cf_reader *r)
{
	cf_source *s = &r->src;
	if (src_want(s, 16) <= 0)
		return fail(r, CF_ERR_TRUNCATED, 0, "truncated snoop file header");
	const uint8_t *h = s->buf + s->pos;
	uint32_t version = be32(h + 8), dl = be32(h + 12);
	if (version < 2 || version > 5)
		return fail(r, CF_ERR_UNSUPPORTED, 8, "unsupported snoop version %u", version);
	/* snoop data-link codes: 0 = 802.3, 4 = Ethernet; others are kept
	 * as-is and decode as unknown link types. */
	r->linktype = (dl == 0 || dl == 4) ? 1 : 0x10000 + dl;
	r->info.format = CF_FORMAT_SNOOP;
	r->info.big_endian = 1;
	r->info.ts_resolution_ns = 1000;
	note_linktype(r, r->linktype);
	s->pos += 16;
	r->next = snoop_next_rec;
	return CF_OK;
}

/* ---------------------------------------------------------------- pcapng */

/* Walks the options of an IDB for if_tsresol and if_tsoffset. */
static int idb_options(cf_reader *r, iface *ifc, const uint8_t *o, size_t n, uint64_t off)
{
	size_t i = 0;
	while (i + 4 <= n) {
		uint16_t code = rd16(o + i, r->swap), len = rd16(o + i + 2, r->swap);
		if (code == 0)
			break;
		if (i + 4 + len > n)
			return fail(r, CF_ERR_CORRUPT, off + i, "pcapng interface option %u overruns its block",
			            code);
		const uint8_t *v = o + i + 4;
		if (code == 9 && len >= 1) { /* if_tsresol */
			uint8_t res = v[0];
			unsigned e = res & 0x7f;
			if (res & 0x80) {
				if (e > 63)
					return fail(r, CF_ERR_CORRUPT, off + i, "pcapng if_tsresol 2^-%u out of range", e);
				ifc->units = 1ull << e;
			} else {
				if (e > 19)
					return fail(r, CF_ERR_CORRUPT, off + i, "pcapng if_tsresol 10^-%u out of range", e);
				ifc->units = 1;
				for (unsigned k = 0; k < e; k++)
					ifc->units *= 10;
			}
			ifc->ns_mul = (ifc->units <= 1000000000ull && 1000000000ull % ifc->units == 0)
			                  ? 1000000000ull / ifc->units
			                  : 0;
		} else if (code == 14 && len >= 8) { /* if_tsoffset, seconds */
			uint64_t lo = rd32(v, r->swap), hi = rd32(v + 4, r->swap);
			uint64_t sec = r->swap ? (lo << 32 | hi) : (hi << 32 | lo);
			ifc->offset_s = (int64_t)sec;
		}
		i += 4 + ((len + 3u) & ~3u);
	}
	return CF_OK;
}

/* A packet's time in ns: 0 with *ns set, or -1 when it lies outside the
 * int64-ns range (1677-09-21 .. 2262-04-11; e.g. a 64-bit microsecond
 * count past the year 2262, or garbage). Computed in 128 bits: never
 * wraps. */
static inline int ticks_to_ns(const iface *ifc, uint64_t t, int64_t *ns)
{
	__int128 v;
	if (ifc->ns_mul)
		v = (__int128)((unsigned __int128)t * ifc->ns_mul);
	else
		v = (__int128)((unsigned __int128)t * 1000000000u / ifc->units);
	v += (__int128)ifc->offset_s * 1000000000;
	if (v > INT64_MAX || v < INT64_MIN)
		return -1;
	*ns = (int64_t)v;
	return 0;
}

/* Reads a section header block at the current position (its first 12
 * bytes are available). Sets byte order, resets the interfaces. */
static int shb_parse(cf_reader *r, const uint8_t *b, uint32_t *blen)
{
	uint32_t bom;
	memcpy(&bom, b + 8, 4);
	if (bom == 0x1a2b3c4d)
		r->swap = 0;
	else if (bom == 0x4d3c2b1a)
		r->swap = 1;
	else
		return fail(r, CF_ERR_CORRUPT, src_offset(&r->src) + 8,
		            "pcapng section header with a bad byte-order magic 0x%08x", bom);
	*blen = rd32(b + 4, r->swap);
	if (r->info.sections == 0) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		r->info.big_endian = !r->swap;
#else
		r->info.big_endian = r->swap;
#endif
	}
	r->info.sections++;
	r->n_ifaces = 0;
	r->in_section = 1;
	return CF_OK;
}

static int pcapng_next_rec(cf_reader *r, cf_frame *f)
{
	cf_source *s = &r->src;
	for (;;) {
		src_release_behind(s);
		int w = want(r, 12, 1, "pcapng block header");
		if (w != CF_OK)
			return w;
		const uint8_t *b = s->buf + s->pos;
		uint64_t off = src_offset(s);
		uint32_t type = rd32(b, r->swap), blen = 0;
		if (type == 0x0a0d0d0a) {
			int st = shb_parse(r, b, &blen);
			if (st < 0)
				return st;
		} else {
			blen = rd32(b + 4, r->swap);
		}
		if (blen < 12 || (blen & 3))
			return fail(r, CF_ERR_CORRUPT, off, "corrupt pcapng block: total length %u %s", blen,
			            blen < 12 ? "is below the 12-byte minimum" : "is not a multiple of 4");
		if (blen > CF_MAX_RECORD)
			return fail(r, CF_ERR_CORRUPT, off, "corrupt pcapng block: total length %u exceeds the %u MiB limit",
			            blen, CF_MAX_RECORD >> 20);
		w = want(r, blen, 0, "pcapng block");
		if (w != CF_OK)
			return w;
		b = s->buf + s->pos;
		if (rd32(b + blen - 4, r->swap) != blen)
			return fail(r, CF_ERR_CORRUPT, off, "corrupt pcapng block (type 0x%x): trailing length %u differs from %u",
			            type, rd32(b + blen - 4, r->swap), blen);
		const uint8_t *body = b + 8;
		size_t body_len = blen - 12;
		s->pos += blen;

		switch (type) {
		case 0x0a0d0d0a: /* section header */
			if (body_len < 16)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng section header too short");
			/* 1.0, and 1.2 as some writers put it; libpcap and Wireshark
			 * refuse anything else */
			if (rd16(body + 4, r->swap) != 1 || (rd16(body + 6, r->swap) != 0 && rd16(body + 6, r->swap) != 2))
				return fail(r, CF_ERR_UNSUPPORTED, off + 12, "unsupported pcapng version %u.%u",
				            rd16(body + 4, r->swap), rd16(body + 6, r->swap));
			continue;
		case 1: { /* interface description */
			if (body_len < 8)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng interface block too short");
			if (r->n_ifaces >= PCAPNG_MAX_IFACES)
				return fail(r, CF_ERR_CORRUPT, off, "more than %d pcapng interfaces", PCAPNG_MAX_IFACES);
			if (r->n_ifaces == r->cap_ifaces) {
				uint32_t cap = r->cap_ifaces ? r->cap_ifaces * 2 : 8;
				iface *p = realloc(r->ifaces, cap * sizeof *p);
				if (!p)
					return fail(r, CF_ERR_NOMEM, off, "out of memory");
				r->ifaces = p;
				r->cap_ifaces = cap;
			}
			iface *ifc = &r->ifaces[r->n_ifaces];
			ifc->linktype = rd16(body, r->swap);
			ifc->snaplen = rd32(body + 4, r->swap);
			ifc->units = 1000000;
			ifc->ns_mul = 1000;
			ifc->offset_s = 0;
			int st = idb_options(r, ifc, body + 8, body_len - 8, off + 16);
			if (st < 0)
				return st;
			int res_ns = ifc->ns_mul ? (int)ifc->ns_mul : 0;
			if (r->info.interfaces == 0) {
				r->info.ts_resolution_ns = res_ns;
				r->info.snaplen = ifc->snaplen;
			} else if (res_ns != r->info.ts_resolution_ns) {
				r->info.ts_mixed = 1;
			}
			r->info.interfaces++;
			note_linktype(r, ifc->linktype);
			r->n_ifaces++;
			continue;
		}
		case 6: /* enhanced packet */
		case 2: { /* obsolete packet block */
			if (body_len < 20)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng packet block too short (%zu bytes)", body_len);
			uint32_t id = type == 6 ? rd32(body, r->swap) : rd16(body, r->swap);
			if (id >= r->n_ifaces)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng packet block names interface %u, but the section has %u",
				            id, r->n_ifaces);
			uint64_t t = (uint64_t)rd32(body + 4, r->swap) << 32 | rd32(body + 8, r->swap);
			uint32_t caplen = rd32(body + 12, r->swap);
			if (caplen > body_len - 20)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng packet block: captured length %u exceeds the block (%zu bytes)",
				            caplen, body_len - 20);
			if (ticks_to_ns(&r->ifaces[id], t, &f->ts_ns) < 0) {
				/* counted, never wrapped: the previous packet's time */
				r->info.ts_out_of_range++;
				f->ts_ns = r->last_ts;
			}
			f->caplen = caplen;
			f->wirelen = rd32(body + 16, r->swap);
			f->linktype = r->ifaces[id].linktype;
			f->iface = id;
			f->offset = off;
			f->data = body + 20;
			r->last_ts = f->ts_ns;
			return CF_OK;
		}
		case 3: { /* simple packet: no interface id, no timestamp */
			if (body_len < 4)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng simple packet block too short");
			if (r->n_ifaces == 0)
				return fail(r, CF_ERR_CORRUPT, off, "pcapng simple packet block before any interface");
			uint32_t wirelen = rd32(body, r->swap);
			uint32_t caplen = wirelen;
			if (r->ifaces[0].snaplen && caplen > r->ifaces[0].snaplen)
				caplen = r->ifaces[0].snaplen;
			if (caplen > body_len - 4)
				caplen = (uint32_t)(body_len - 4);
			/* no timestamp in the block: keep time flowing from the
			 * previous packet rather than jumping to 1970 */
			f->ts_ns = r->last_ts;
			f->caplen = caplen;
			f->wirelen = wirelen;
			f->linktype = r->ifaces[0].linktype;
			f->iface = 0;
			f->offset = off;
			f->data = body + 4;
			return CF_OK;
		}
		default: /* name resolution, statistics, custom, ... */
			continue;
		}
	}
}

/* ---------------------------------------------------------------- libpcap fallback */

static int libpcap_next_rec(cf_reader *r, cf_frame *f)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = pcap_next_ex(r->pcap, &h, &data);
	if (rc == PCAP_ERROR_BREAK)
		return CF_EOF;
	if (rc != 1)
		return fail(r, CF_ERR_CORRUPT, 0, "libpcap: %s (offset unknown; reported as 0)", pcap_geterr(r->pcap));
	int nsec = pcap_get_tstamp_precision(r->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	__int128 ns = (__int128)h->ts.tv_sec * 1000000000 + (__int128)h->ts.tv_usec * (nsec ? 1 : 1000);
	if (ns > INT64_MAX || ns < INT64_MIN) {
		r->info.ts_out_of_range++;
		ns = r->last_ts;
	}
	f->ts_ns = (int64_t)ns;
	r->last_ts = f->ts_ns;
	f->caplen = h->caplen;
	f->wirelen = h->len;
	f->linktype = r->linktype;
	f->iface = 0;
	f->offset = 0;
	f->data = data;
	return CF_OK;
}

/* ---------------------------------------------------------------- detection */

/* A few words about what non-capture bytes look like. */
static void describe(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (n == 0) {
		snprintf(out, cap, "an empty file");
		return;
	}
	static const struct { const char *magic; size_t len; const char *what; } known[] = {
		{"\x7f" "ELF", 4, "an ELF executable"},
		{"\x89PNG", 4, "a PNG image"},
		{"%PDF", 4, "a PDF document"},
		{"PK\x03\x04", 4, "a ZIP archive"},
		{"BZh", 3, "bzip2-compressed data (not supported: recompress with gzip, zstd, lz4 or xz)"},
		{"\xff\xd8\xff", 3, "a JPEG image"},
		{"GIF8", 4, "a GIF image"},
		{"SQLite format 3", 15, "an SQLite database"},
		{"\x93NUMPY", 6, "a numpy .npy file"},
		{"#!", 2, "a script"},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (n >= known[i].len && !memcmp(p, known[i].magic, known[i].len)) {
			snprintf(out, cap, "%s", known[i].what);
			return;
		}
	size_t k = n < 512 ? n : 512, printable = 0;
	for (size_t i = 0; i < k; i++)
		printable += (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\n' || p[i] == '\r' || p[i] == '\t';
	if (printable == k) {
		snprintf(out, cap, "text");
		return;
	}
	snprintf(out, cap, "unknown binary data (first bytes %02x %02x %02x %02x)", p[0],
	         n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
}

static int detect_and_open(cf_reader *r, const char *path, char *errbuf)
{
	cf_source *s = &r->src;
	r->info.compression = s->compression;
	r->info.file_size = s->file_size;
	int w = src_want(s, 16);
	if (w < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.200s: %.300s", r->name, s->err);
		return CF_ERR_IO;
	}
	const uint8_t *p = s->buf + s->pos;
	size_t n = src_avail(s);
	uint32_t m = n >= 4 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
	int st;
	if (m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1) {
		st = pcap_open_hdr(r, m);
	} else if (m == 0x0a0d0d0a) {
		r->info.format = CF_FORMAT_PCAPNG;
		r->next = pcapng_next_rec;
		st = CF_OK;
		if (n < 12)
			st = fail(r, CF_ERR_TRUNCATED, 0, "truncated pcapng section header");
	} else if (n >= 8 && !memcmp(p, "snoop\0\0\0", 8)) {
		st = snoop_open_hdr(r);
	} else {
		/* Not a format we walk ourselves: libpcap may know it (e.g. the
		 * modified-pcap variants). Only for plain files on disk. */
		char desc[160];
		describe(p, n, desc, sizeof desc);
		if (path && strcmp(path, "-") && s->compression == CF_COMPRESSION_NONE) {
			char perr[PCAP_ERRBUF_SIZE];
			pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
			if (pc) {
				r->pcap = pc;
				r->linktype = (uint32_t)pcap_datalink(pc);
				r->info.format = CF_FORMAT_LIBPCAP;
				r->info.ts_resolution_ns = 1;
				r->info.snaplen = (uint32_t)pcap_snapshot(pc);
				r->info.big_endian = pcap_is_swapped(pc) ? 1 : 0;
				note_linktype(r, r->linktype);
				r->next = libpcap_next_rec;
				return CF_OK;
			}
		}
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: not a capture file: looks like %s%s", r->name, desc,
		         s->compression ? " (after decompression)" : "");
		return CF_ERR_NOT_CAPTURE;
	}
	if (st < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", r->err);
		return st;
	}
	/* pcapng: read ahead to the first packet's interface so info is
	 * filled; the walker resumes where it stops. Nothing is lost: the
	 * walker consumes only non-packet blocks before returning. */
	return CF_OK;
}

/* ---------------------------------------------------------------- public */

static int open_common(cf_reader **out, const char *name, char *errbuf, cf_reader **rp)
{
	*out = NULL;
	cf_reader *r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(name))) {
		free(r);
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: out of memory", name);
		return CF_ERR_NOMEM;
	}
	r->err_off = -1;
	*rp = r;
	return CF_OK;
}

int cf_reader_open_at(const char *path, cf_reader **out, char *errbuf, int64_t *err_offset)
{
	cf_reader *r;
	if (err_offset)
		*err_offset = -1;
	if (!path)
		return CF_ERR_ARG;
	int st = open_common(out, strcmp(path, "-") ? path : "<stdin>", errbuf, &r);
	if (st < 0)
		return st;
	st = src_open_path(&r->src, path, errbuf);
	if (st == CF_OK)
		st = detect_and_open(r, path, errbuf);
	if (st < 0) {
		if (err_offset && r->err[0])
			*err_offset = r->err_off;
		else if (err_offset && st == CF_ERR_NOT_CAPTURE)
			*err_offset = 0;
		cf_reader_close(r);
		return st;
	}
	*out = r;
	return CF_OK;
}

int cf_reader_open(const char *path, cf_reader **out, char *errbuf)
{
	return cf_reader_open_at(path, out, errbuf, NULL);
}

int cf_reader_open_memory(const void *data, size_t len, const char *name, cf_reader **out, char *errbuf)
{
	cf_reader *r;
	int st = open_common(out, name ? name : "<memory>", errbuf, &r);
	if (st < 0)
		return st;
	st = src_open_memory(&r->src, data, len, errbuf);
	if (st == CF_OK)
		st = detect_and_open(r, NULL, errbuf);
	if (st < 0) {
		cf_reader_close(r);
		return st;
	}
	*out = r;
	return CF_OK;
}

int cf_reader_next(cf_reader *r, cf_frame *f)
{
	/* The common case, a host-order pcap record wholly in the window, is
	 * walked here without the indirect call; everything else (refills,
	 * damage, other formats) takes the general path. */
	if (r->fast_pcap) {
		cf_source *s = &r->src;
		size_t avail = s->len - s->pos;
		const uint8_t *h = s->buf + s->pos;
		uint32_t hdr[4];
		if (avail >= 16) {
			memcpy(hdr, h, 16);
			/* (an out-of-range fraction takes the general path) */
			if (hdr[2] <= CF_MAX_RECORD && avail - 16 >= hdr[2] && hdr[1] < r->frac_lim) {
				f->ts_ns = (int64_t)hdr[0] * 1000000000 + (int64_t)hdr[1] * r->frac_ns;
				/* one 8-byte store: the decoder copies the pair with one
				 * 8-byte load, which two 4-byte stores cannot forward to
				 * (a store-forwarding stall cost 3-4 ns per frame) */
				memcpy(&f->caplen, hdr + 2, 8);
				f->linktype = r->linktype;
				f->iface = 0;
				f->offset = s->base + s->pos;
				f->data = h + 16;
				s->pos += 16 + (size_t)hdr[2];
				return CF_OK;
			}
		}
	}
	if (r->status)
		return r->status;
	return r->next(r, f);
}

/* Reading and decoding fused: the common record (host-order pcap, wholly
 * in the window, Ethernet) is walked and decoded in one loop with both
 * inlined and the frame in registers; anything else goes one frame at a
 * time through cf_reader_next + cf_decode_frame. Per 64-byte frame this
 * saves the two calls and the frame's round trip through memory. The
 * record walk repeats cf_reader_next's fast path on purpose: as one
 * inline helper shared by both, gcc kept half as many values again on the
 * stack in this loop (37 -> 52-61 stack references, 8% slower). */
int cf_read_decode(cf_reader *r, const cf_decode_opts *opts, cf_pkt *out, size_t max, size_t *n)
{
	size_t k = 0;
	uint32_t decap = opts ? opts->decap : CF_DECAP_ALL;
	int st = CF_OK;
	while (k < max) {
		if (r->fast_pcap && r->linktype == 1) {
			cf_source *s = &r->src;
			const uint8_t *buf = s->buf;
			size_t pos = s->pos, len = s->len;
			int64_t frac_ns = r->frac_ns;
			uint32_t frac_lim = r->frac_lim;
			while (k < max && len - pos >= 16) {
				uint32_t hdr[4];
				memcpy(hdr, buf + pos, 16);
				if (hdr[2] > CF_MAX_RECORD || len - pos - 16 < hdr[2] || hdr[1] >= frac_lim)
					break; /* refill, damage or an out-of-range fraction: general path */
				cf_frame f;
				f.ts_ns = (int64_t)hdr[0] * 1000000000 + (int64_t)hdr[1] * frac_ns;
				memcpy(&f.caplen, hdr + 2, 8);
				f.linktype = 1;
				f.iface = 0;
				f.data = buf + pos + 16;
				if (!cf_decode_fast(&f, decap, &out[k])) {
					/* f's address stays private (f lives in registers),
					 * and only this path needs the offset */
					cf_frame g = f;
					g.offset = s->base + pos;
					cf_dec_frame_general(opts, &g, &out[k]);
				}
				pos += 16 + (size_t)hdr[2];
				k++;
			}
			s->pos = pos;
			if (k == max)
				break;
		}
		cf_frame f;
		st = cf_reader_next(r, &f);
		if (st != CF_OK)
			break;
		cf_decode_frame(opts, &f, &out[k++]);
	}
	*n = k;
	return k ? CF_OK : st;
}

const cf_reader_info *cf_reader_get_info(const cf_reader *r) { return &r->info; }
const char *cf_reader_error(const cf_reader *r) { return r->err; }
int64_t cf_reader_error_offset(const cf_reader *r) { return r->err[0] ? r->err_off : -1; }

uint64_t cf_reader_bytes_read(const cf_reader *r)
{
	if (r->pcap)
		return 0;
	return src_raw_consumed(&r->src);
}

void cf_reader_close(cf_reader *r)
{
	if (!r)
		return;
	if (r->pcap)
		pcap_close(r->pcap);
	src_close(&r->src);
	free(r->ifaces);
	free(r->name);
	free(r);
}

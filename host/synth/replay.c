/*
 * cf_synth_replay: a real capture written N times, copy k shifted in time
 * by k * (span + 1 s) and with its outermost IP addresses remapped by a
 * 16-bit XOR mask M_k (see synth.h for the contract).
 *
 * Pass 1 reads the input once: frame count, link type(s), earliest and
 * latest timestamp, the output size, and every distinct conversation (outer
 * address pair). From those it learns which masks would make two copies
 * share a conversation (see pick_masks); such mask differences go into a
 * 65536-bit set, and the masks are picked from a fixed scrambled sequence
 * so that no pairwise XOR of masks lands in it.
 * Pass 1 also keeps the frames in memory when they fit in cache_max; the
 * copies then come from there. Else passes 2 .. N+1 read the input again,
 * once per copy. Records go into a large buffer, where the addresses and
 * checksums are patched (the reader's frame bytes are never written to).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "synth/pcap_out.h"
#include "cuflow/errbuf.h"

#define RP_BUF_SIZE (8u << 20)
#define RP_MAX_COPIES 65536u
#define RP_MAX_SNAPLEN 262144u
#define RP_SET_MAX_SLOTS (1u << 21)  /* 36 B each: 72 MiB at most */
#define RP_PAIR_WORK (200u * 1000 * 1000) /* difference-set and mask-choice steps */
#define RP_NS 1000000000ull
#define RP_CACHE_DEFAULT (256u << 20)    /* inputs up to this are read once, kept in memory */

/* ------------------------------------------------------------ bytes */

/* ------------------------------------------------------------ finding the outer IP header */

/* An IP header of version v at off whose addresses lie within n bytes:
 * returns v (and *ipoff), else 0. */
static inline int ip_at(const uint8_t *p, uint32_t n, uint32_t off, int v, uint32_t *ipoff)
{
	if (off > n)
		return 0;
	if (v == 4) {
		if (n - off < 20 || (p[off] >> 4) != 4 || (p[off] & 15) < 5)
			return 0;
	} else {
		if (n - off < 40 || (p[off] >> 4) != 6)
			return 0;
	}
	*ipoff = off;
	return v;
}

static int by_nibble(const uint8_t *p, uint32_t n, uint32_t off, uint32_t *ipoff)
{
	if (off >= n)
		return 0;
	switch (p[off] >> 4) {
	case 4:
		return ip_at(p, n, off, 4, ipoff);
	case 6:
		return ip_at(p, n, off, 6, ipoff);
	}
	return 0;
}

/* The payload of ethertype t at off: VLAN tags (any number), MPLS (a
 * pseudowire control word leads to Ethernet again), PPPoE session and
 * LLC/SNAP are looked through, as the decoder does. Every step moves off
 * forward within n, so the loop ends. */
static int from_etype(const uint8_t *p, uint32_t n, uint32_t off, unsigned t, uint32_t *ipoff)
{
	for (;;) {
		if (off > n)
			return 0;
		switch (t) {
		case 0x0800:
			return ip_at(p, n, off, 4, ipoff);
		case 0x86dd:
			return ip_at(p, n, off, 6, ipoff);
		case 0x8100:
		case 0x88a8:
		case 0x9100:
		case 0x9200:
			if (n - off < 4)
				return 0;
			t = rd16(p + off + 2);
			off += 4;
			continue;
		case 0x8847:
		case 0x8848:
			for (;;) {
				if (n - off < 4)
					return 0;
				off += 4;
				if (p[off - 2] & 1)
					break; /* bottom of stack */
			}
			if (off >= n)
				return 0;
			if ((p[off] >> 4) == 0) { /* control word, then Ethernet */
				if (n - off < 4 + 14)
					return 0;
				t = rd16(p + off + 4 + 12);
				off += 4 + 14;
				continue;
			}
			return by_nibble(p, n, off, ipoff);
		case 0x8864:
			if (n - off < 8 || p[off] != 0x11)
				return 0;
			switch (rd16(p + off + 6)) {
			case 0x0021:
				return ip_at(p, n, off + 8, 4, ipoff);
			case 0x0057:
				return ip_at(p, n, off + 8, 6, ipoff);
			}
			return 0;
		default:
			if (t > 1500) /* an ethertype that is not IP (ARP, ...) */
				return 0;
			/* 802.3 length: LLC, and only SNAP (AA AA 03, OUI, type) goes on */
			if (n - off < 8 || p[off] != 0xaa || p[off + 1] != 0xaa || p[off + 2] != 0x03)
				return 0;
			t = rd16(p + off + 6);
			off += 8;
			continue;
		}
	}
}

static int from_ppp(const uint8_t *p, uint32_t n, uint32_t off, uint32_t *ipoff)
{
	unsigned proto;
	if (off >= n)
		return 0;
	if (p[off] == 0xff) { /* address/control */
		if (n - off < 2)
			return 0;
		if (p[off + 1] == 0x03)
			off += 2;
	}
	if (off >= n)
		return 0;
	if (p[off] & 1) {
		proto = p[off];
		off += 1;
	} else {
		if (n - off < 2)
			return 0;
		proto = rd16(p + off);
		off += 2;
	}
	switch (proto) {
	case 0x21:
		return ip_at(p, n, off, 4, ipoff);
	case 0x57:
		return ip_at(p, n, off, 6, ipoff);
	case 0x0281:
	case 0x0283:
		return from_etype(p, n, off, 0x8847, ipoff);
	}
	return 0;
}

/* The outermost IP header of a frame of link type lt, n bytes held:
 * 4 or 6 with its offset, or 0 when there is none whose addresses are
 * within the n bytes. */
static int find_ip(const uint8_t *p, uint32_t n, uint32_t lt, uint32_t *ipoff)
{
	uint32_t af;
	switch (lt) {
	case 1: /* Ethernet */
		if (n < 14)
			return 0;
		return from_etype(p, n, 14, rd16(p + 12), ipoff);
	case 113: /* Linux SLL */
		if (n < 16 || rd16(p + 14) < 0x600)
			return 0;
		return from_etype(p, n, 16, rd16(p + 14), ipoff);
	case 276: /* Linux SLL2 */
		if (n < 20 || rd16(p) < 0x600)
			return 0;
		return from_etype(p, n, 20, rd16(p), ipoff);
	case 12:
	case 14:
	case 101: /* raw IP */
		return by_nibble(p, n, 0, ipoff);
	case 228:
		return ip_at(p, n, 0, 4, ipoff);
	case 229:
		return ip_at(p, n, 0, 6, ipoff);
	case 0:   /* NULL: address family in the capturing host's byte order */
	case 108: /* LOOP */
		if (n < 4)
			return 0;
		af = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		if (af > 0xffff)
			af = __builtin_bswap32(af);
		switch (af) {
		case 2:
			return ip_at(p, n, 4, 4, ipoff);
		case 10: /* Linux */
		case 24: /* NetBSD, OpenBSD */
		case 28: /* FreeBSD */
		case 30: /* Darwin */
			return ip_at(p, n, 4, 6, ipoff);
		}
		return 0;
	case 9:  /* PPP */
	case 50: /* PPP_HDLC, which also holds Cisco PPP with HDLC framing */
		if (lt == 50 && n > 0 && (p[0] == 0x0f || p[0] == 0x8f)) {
			if (n < 4)
				return 0;
			return from_etype(p, n, 4, rd16(p + 2), ipoff);
		}
		return from_ppp(p, n, 0, ipoff);
	case 51: /* PPP_ETHER: PPPoE header first */
		return from_etype(p, n, 0, 0x8864, ipoff);
	case 104: /* Cisco HDLC */
		if (n < 4)
			return 0;
		return from_etype(p, n, 4, rd16(p + 2), ipoff);
	}
	return 0;
}

/* ------------------------------------------------------------ remapping */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), delta holding the sum of
 * ~m + m' over the changed words. */
static inline void csum_update(uint8_t *c, uint32_t delta, int udp)
{
	uint32_t s = (uint16_t)~rd16(c) + delta;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	uint32_t v = (uint16_t)~s;
	if (udp && v == 0)
		v = 0xffff; /* 0 means "no checksum" in UDP: its equal, -0, is sent */
	put16(c, v);
}

/* XORs m into the first 16 bits of the outer IP source and destination
 * of the n bytes at p and updates the checksums that cover them. 1 when
 * remapped, 0 when no IP header was found (nothing changed). */
static int remap(uint8_t *p, uint32_t n, uint32_t lt, uint32_t m)
{
	uint32_t off, l4, proto, lim;
	int v = find_ip(p, n, lt, &off);
	if (!v)
		return 0;
	uint8_t *ip = p + off;
	uint8_t *s = ip + (v == 4 ? 12 : 8), *d = ip + (v == 4 ? 16 : 24);
	uint32_t ws = rd16(s), wd = rd16(d);
	uint32_t ds = (uint16_t)~ws + (ws ^ m), dd = (uint16_t)~wd + (wd ^ m);
	uint32_t l4delta = ds + dd;
	put16(s, ws ^ m);
	put16(d, wd ^ m);
	lim = n - off;
	if (v == 4) {
		csum_update(ip + 10, ds + dd, 0);
		if (rd16(ip + 6) & 0x1fff)
			return 1; /* not the first fragment: no L4 header */
		l4 = (ip[0] & 15) * 4u;
		proto = ip[9];
		if (proto == 58)
			return 1;
	} else {
		proto = ip[6];
		l4 = 40;
		for (int i = 0; i < 64; i++) {
			uint32_t len;
			if (proto == 0 || proto == 43 || proto == 60 || proto == 44 || proto == 51) {
				if (lim < l4 + 8)
					return 1;
			} else {
				break;
			}
			if (proto == 44) {
				if (rd16(ip + l4 + 2) & 0xfff8)
					return 1; /* not the first fragment */
				len = 8;
			} else if (proto == 51) {
				len = (ip[l4 + 1] + 2u) * 4;
			} else {
				/* routing header with segments left: the pseudo-header
				 * holds the final destination, which is not remapped */
				if (proto == 43 && ip[l4 + 3])
					l4delta = ds;
				len = (ip[l4 + 1] + 1u) * 8;
			}
			proto = ip[l4];
			l4 += len;
		}
	}
	uint32_t at;
	int udp = 0;
	switch (proto) {
	case 6:
		at = 16;
		break;
	case 17:
	case 136: /* UDP-Lite */
		at = 6;
		udp = 1;
		break;
	case 33: /* DCCP */
		at = 6;
		break;
	case 58: /* ICMPv6 */
		at = 2;
		break;
	default:
		return 1;
	}
	if (lim < l4 || lim - l4 < at + 2)
		return 1; /* the checksum was not captured */
	uint8_t *c = ip + l4 + at;
	if (udp && rd16(c) == 0)
		return 1; /* no checksum */
	csum_update(c, l4delta, udp);
	return 1;
}

/* ------------------------------------------------------------ masks */

/* A bijection of 16-bit values with 0 -> 0 (odd multiplies and
 * xor-shifts): masks of neighbouring copies differ in many bits. */
static uint32_t scramble16(uint32_t x)
{
	x = (x * 0x9e37u) & 0xffff;
	x ^= x >> 7;
	x = (x * 0x5bd3u) & 0xffff;
	x ^= x >> 8;
	return x;
}

/* Distinct conversations (unordered outer address pairs, per family):
 * open addressing, fam 0 = empty slot. The pair is stored in a canonical
 * order that a mask cannot change: by the bits after the first 16 (which
 * XOR leaves alone), and only when those are equal by the whole address. */
typedef struct rp_conv {
	uint8_t a[16], b[16]; /* IPv4 in the first 4 bytes, the rest 0 */
	uint8_t fam, pad[3];
} rp_conv;

typedef struct rp_set {
	rp_conv *slot;
	uint32_t cap, n;
	int gave_up;
} rp_set;

static inline uint32_t conv_hash(const rp_conv *c)
{
	uint64_t w[4], x = c->fam;
	memcpy(w, c->a, 32);
	for (int i = 0; i < 4; i++)
		x = (x ^ w[i]) * 0x9e3779b97f4a7c15ull + (x >> 29);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x >> 32);
}

static void set_drop(rp_set *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
	s->gave_up = 1;
}

static void set_put(rp_set *s, uint32_t fam, const uint8_t *src, const uint8_t *dst, uint32_t alen)
{
	rp_conv k;
	if (s->gave_up)
		return;
	memset(&k, 0, sizeof k);
	k.fam = (uint8_t)fam;
	int c = memcmp(src + 2, dst + 2, alen - 2);
	if (!c)
		c = memcmp(src, dst, 2);
	memcpy(k.a, c <= 0 ? src : dst, alen);
	memcpy(k.b, c <= 0 ? dst : src, alen);
	if ((s->n + 1) * 4 > s->cap * 3) {
		uint32_t ncap = s->cap ? s->cap * 2 : 4096;
		rp_conv *ns;
		if (ncap > RP_SET_MAX_SLOTS || !(ns = calloc(ncap, sizeof *ns))) {
			set_drop(s);
			return;
		}
		for (uint32_t i = 0; i < s->cap; i++) {
			rp_conv *e = &s->slot[i];
			if (!e->fam)
				continue;
			uint32_t h = conv_hash(e) & (ncap - 1);
			while (ns[h].fam)
				h = (h + 1) & (ncap - 1);
			ns[h] = *e;
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	for (uint32_t h = conv_hash(&k) & (s->cap - 1);; h = (h + 1) & (s->cap - 1)) {
		rp_conv *e = &s->slot[h];
		if (!e->fam) {
			*e = k;
			s->n++;
			return;
		}
		if (!memcmp(e, &k, sizeof k))
			return;
	}
}

static inline uint32_t top16(const uint8_t *a) { return rd16(a); }

/* Groups: same family and same bits after the first 16 at both ends;
 * inside, by the XOR of the two ends' first 16 bits, then by the first
 * end's. */
static int conv_cmp(const void *x, const void *y)
{
	const rp_conv *p = x, *q = y;
	if (p->fam != q->fam)
		return p->fam < q->fam ? -1 : 1;
	int c = memcmp(p->a + 2, q->a + 2, 14);
	if (!c)
		c = memcmp(p->b + 2, q->b + 2, 14);
	if (c)
		return c;
	uint32_t dp = top16(p->a) ^ top16(p->b), dq = top16(q->a) ^ top16(q->b);
	if (dp != dq)
		return dp < dq ? -1 : 1;
	return (int)top16(p->a) - (int)top16(q->a);
}

static inline int same_group(const rp_conv *p, const rp_conv *q)
{
	return p->fam == q->fam && !memcmp(p->a + 2, q->a + 2, 14) && !memcmp(p->b + 2, q->b + 2, 14) &&
	       (top16(p->a) ^ top16(p->b)) == (top16(q->a) ^ top16(q->b));
}

static inline int bit(const uint8_t *bm, uint32_t i) { return bm[i >> 3] >> (i & 7) & 1; }
static inline void bit_set(uint8_t *bm, uint32_t i) { bm[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Fills masks[0..copies) (masks[0] = 0). Returns 1 when the masks were
 * checked against the input's conversations (no two copies share one),
 * 0 when the unchecked sequence was used. Consumes the set.
 *
 * Copies j and k share a conversation iff some input conversations
 * {a, b} and {c, d} and D = M_j ^ M_k != 0 have {a ^ D, b ^ D} = {c, d}
 * (D in the first 16 bits). Then a, c (or a, d) agree after the first 16
 * bits, and so do b and the other one: in the canonical order, (a, b) and
 * (c, d) match after the first 16 bits end for end (when a's and b's bits
 * after the first 16 differ; else both pairings are tried), and D is the
 * XOR of their first ends, which must equal that of their second ends, so
 * top(a) ^ top(b) = top(c) ^ top(d). Sorting by those puts every such pair
 * in one group; each pair in a group gives a forbidden D. */
static int pick_masks(rp_set *s, uint16_t *masks, uint32_t copies, int *nomem)
{
	uint8_t *diff = calloc(8192, 1), *used = calloc(8192, 1);
	uint16_t *dl = malloc(65536 * sizeof *dl);
	uint32_t nd = 0, k;
	uint64_t work = 0;
	int checked = !s->gave_up;

	*nomem = 0;
	for (k = 0; k < copies; k++)
		masks[k] = (uint16_t)scramble16(k);
	if (!diff || !used || !dl) {
		*nomem = 1;
		checked = 0;
		goto out;
	}
	if (!checked)
		goto out;

#define FORBID(d_)                                                                                  \
	do {                                                                                        \
		uint32_t d__ = (d_);                                                                \
		if (d__ && !bit(diff, d__)) {                                                       \
			bit_set(diff, d__);                                                         \
			dl[nd++] = (uint16_t)d__;                                                   \
		}                                                                                   \
	} while (0)

	uint32_t n = 0;
	for (uint32_t i = 0; i < s->cap; i++)
		if (s->slot[i].fam)
			s->slot[n++] = s->slot[i];
	if (n > 1)
		qsort(s->slot, n, sizeof *s->slot, conv_cmp);
	for (uint32_t i = 0; i < n && checked;) {
		const rp_conv *g = s->slot + i;
		int ends_alike = !memcmp(g->a + 2, g->b + 2, 14); /* both pairings possible */
		uint32_t j = i + 1;
		while (j < n && same_group(g, s->slot + j))
			j++;
		for (uint32_t x = i; x < j && checked; x++) {
			const rp_conv *p = s->slot + x;
			if (ends_alike)
				FORBID(top16(p->a) ^ top16(p->b)); /* {a, b} onto {b, a} */
			for (uint32_t y = x + 1; y < j; y++) {
				const rp_conv *q = s->slot + y;
				FORBID(top16(p->a) ^ top16(q->a));
				if (ends_alike)
					FORBID(top16(p->a) ^ top16(q->b));
				if (++work > RP_PAIR_WORK) {
					checked = 0;
					break;
				}
			}
		}
		i = j;
	}
#undef FORBID
	if (!checked || !nd)
		goto out; /* nothing to avoid: the plain sequence is disjoint */

	/* greedy choice from the scrambled sequence: a candidate c is taken
	 * when c ^ m is no forbidden difference for every mask m taken */
	bit_set(used, 0);
	masks[0] = 0;
	k = 1;
	for (uint32_t t = 1; t < 65536 && k < copies && checked; t++) {
		uint32_t c = scramble16(t);
		int ok = 1;
		if (nd <= k) {
			for (uint32_t i = 0; i < nd && ok; i++)
				ok = !bit(used, c ^ dl[i]);
			work += nd;
		} else {
			for (uint32_t i = 0; i < k && ok; i++)
				ok = !bit(diff, c ^ masks[i]);
			work += k;
		}
		if (ok) {
			masks[k++] = (uint16_t)c;
			bit_set(used, c);
		}
		if (work > RP_PAIR_WORK)
			checked = 0;
	}
	if (k < copies)
		checked = 0;
	if (!checked)
		for (k = 0; k < copies; k++)
			masks[k] = (uint16_t)scramble16(k);
out:
	free(diff);
	free(used);
	free(dl);
	set_drop(s);
	return checked;
}

/* ------------------------------------------------------------ output */

typedef struct rp_out {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	uint64_t bytes, packets, total;
	const cf_synth_replay_opts *o;
} rp_out;

static int out_flush(rp_out *w)
{
	const uint8_t *p = w->buf;
	size_t n = w->len;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		p += k;
		n -= (size_t)k;
	}
	w->len = 0;
	if (w->o->progress)
		w->o->progress(w->o->progress_ctx, w->bytes, w->total, w->packets);
	return 0;
}

/* ------------------------------------------------------------ entry */

void cf_synth_replay_opts_default(cf_synth_replay_opts *o)
{
	memset(o, 0, sizeof *o);
	o->copies = 1;
	o->cache_max = RP_CACHE_DEFAULT;
}

/* Pass 1's findings. */
typedef struct rp_scan {
	uint64_t frames, out_bytes; /* out_bytes: records of one copy */
	int64_t tmin, tmax;
	uint32_t linktype, max_kept, max_caplen;
	/* The kept frames when they fit in cache_max: per frame a 16-byte
	 * header (ts_ns, kept, wirelen; unaligned) then the bytes. NULL when
	 * too big: then every copy reads the file again. */
	uint8_t *cache;
	size_t cache_len, cache_cap, cache_max;
} rp_scan;

static void cache_put(rp_scan *sc, const cf_frame *f, uint32_t kept)
{
	size_t need = 16 + (size_t)kept;
	if (!sc->cache)
		return;
	if (sc->cache_cap - sc->cache_len < need) {
		size_t ncap = sc->cache_cap * 2;
		uint8_t *nc;
		while (ncap - sc->cache_len < need)
			ncap *= 2;
		if (ncap > sc->cache_max)
			ncap = sc->cache_max;
		if (ncap - sc->cache_len < need || !(nc = realloc(sc->cache, ncap))) {
			free(sc->cache); /* too big (or no memory): stream instead */
			sc->cache = NULL;
			return;
		}
		sc->cache = nc;
		sc->cache_cap = ncap;
	}
	uint8_t *h = sc->cache + sc->cache_len;
	uint32_t wl = f->wirelen;
	memcpy(h, &f->ts_ns, 8);
	memcpy(h + 8, &kept, 4);
	memcpy(h + 12, &wl, 4);
	memcpy(h + 16, f->data, kept);
	sc->cache_len += need;
}

static int open_input(const char *path, cf_reader **r, char *errbuf)
{
	char e[CF_ERRBUF_SIZE] = "";
	int rc = cf_reader_open(path, r, e);
	if (rc < 0)
		return cf_errf(errbuf, rc, "synth: %.480s", e);
	return CF_OK;
}

static int reader_failed(cf_reader *r, int rc, char *errbuf)
{
	return cf_errf(errbuf, rc, "synth: %.480s", cf_reader_error(r));
}

static int scan_input(const cf_synth_replay_opts *o, rp_scan *sc, rp_set *set, char *errbuf)
{
	cf_reader *r;
	cf_frame f;
	int own = 0, rc = open_input(o->input, &r, errbuf);
	if (rc < 0)
		return rc;
	memset(sc, 0, sizeof *sc);
	sc->cache_max = o->cache_max;
	sc->cache_cap = o->cache_max < (1u << 20) ? o->cache_max : (1u << 20);
	sc->cache = sc->cache_cap ? malloc(sc->cache_cap) : NULL;
	while ((rc = cf_reader_next(r, &f)) == CF_OK) {
		uint32_t kept = o->snaplen && f.caplen > o->snaplen ? o->snaplen : f.caplen, off;
		if (!sc->frames) {
			sc->linktype = f.linktype;
			sc->tmin = sc->tmax = f.ts_ns;
		} else if (f.linktype != sc->linktype) {
			rc = cf_errf(errbuf, CF_ERR_UNSUPPORTED,
				  "synth: %s holds frames of more than one link type (%u, then %u at byte offset "
				  "%llu); a pcap has one: split it by interface first",
				  o->input, sc->linktype, f.linktype, (unsigned long long)f.offset);
			own = 1;
			break;
		}
		if (f.ts_ns < 0) {
			rc = cf_errf(errbuf, CF_ERR_UNSUPPORTED,
				  "synth: %s: frame at byte offset %llu is timestamped before 1970, which pcap "
				  "cannot hold", o->input, (unsigned long long)f.offset);
			own = 1;
			break;
		}
		if (f.ts_ns < sc->tmin)
			sc->tmin = f.ts_ns;
		if (f.ts_ns > sc->tmax)
			sc->tmax = f.ts_ns;
		if (kept > sc->max_kept)
			sc->max_kept = kept;
		if (f.caplen > sc->max_caplen)
			sc->max_caplen = f.caplen;
		sc->frames++;
		sc->out_bytes += 16 + (uint64_t)kept;
		cache_put(sc, &f, kept);
		int v = find_ip(f.data, kept, f.linktype, &off);
		if (v && !set->gave_up) {
			const uint8_t *ip = f.data + off;
			set_put(set, (uint32_t)v, ip + (v == 4 ? 12 : 8), ip + (v == 4 ? 16 : 24), v == 4 ? 4 : 16);
		}
	}
	if (own)
		;
	else if (rc < 0)
		rc = reader_failed(r, rc, errbuf);
	else {
		rc = CF_OK;
		if (!sc->frames) {
			const cf_reader_info *in = cf_reader_get_info(r);
			sc->linktype = in->n_linktypes ? in->linktypes[0] : 1;
		}
	}
	cf_reader_close(r);
	if (rc) {
		free(sc->cache);
		sc->cache = NULL;
	}
	return rc;
}

static int check_opts(const cf_synth_replay_opts *o, char *errbuf)
{
	if (!o || !o->path || !o->path[0])
		return cf_errf(errbuf, CF_ERR_ARG, "synth: no output path");
	if (!o->input || !o->input[0])
		return cf_errf(errbuf, CF_ERR_ARG, "synth: no capture to replay");
	if (!strcmp(o->input, "-"))
		return cf_errf(errbuf, CF_ERR_ARG,
			    "synth: --replay reads its capture several times: give a file, not standard input");
	if (o->copies < 1 || o->copies > RP_MAX_COPIES)
		return cf_errf(errbuf, CF_ERR_ARG, "synth: copies must be in 1..%u, not %llu", RP_MAX_COPIES,
			    (unsigned long long)o->copies);
	if (o->snaplen > RP_MAX_SNAPLEN)
		return cf_errf(errbuf, CF_ERR_ARG, "synth: snaplen must be 0 or 1..%u, not %u", RP_MAX_SNAPLEN,
			    o->snaplen);
	if (strcmp(o->path, "-")) {
		struct stat a, b;
		if (!stat(o->input, &a) && !stat(o->path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
		    S_ISREG(a.st_mode))
			return cf_errf(errbuf, CF_ERR_ARG, "synth: the output %s is the input file", o->path);
	}
	return CF_OK;
}

int cf_synth_replay(const cf_synth_replay_opts *o, cf_synth_stats *stats, char *errbuf)
{
	rp_scan sc;
	rp_set set = {0};
	rp_out w = {0};
	uint16_t *masks = NULL;
	cf_reader *r = NULL;
	int rc, fd = -1, is_stdout = 0, err = 0, nomem = 0;
	uint64_t unmapped = 0;

	if (stats)
		memset(stats, 0, sizeof *stats);
	rc = check_opts(o, errbuf);
	if (rc)
		return rc;

	/* pass 1 */
	rc = scan_input(o, &sc, &set, errbuf);
	if (rc) {
		set_drop(&set);
		return rc;
	}
	uint64_t copies = o->copies;
	uint64_t span = (uint64_t)(sc.tmax - sc.tmin), step = span + RP_NS;
	const uint64_t ts_limit = 0xffffffffull * RP_NS + (RP_NS - 1); /* pcap: 32-bit seconds */
	if (stats) {
		stats->input_packets = sc.frames;
		stats->span_ns = span;
		stats->linktype = sc.linktype;
	}
	if (sc.frames && ((uint64_t)sc.tmax > ts_limit ||
			  (copies > 1 && step > (ts_limit - (uint64_t)sc.tmax) / (copies - 1)))) {
		set_drop(&set);
		free(sc.cache);
		return cf_errf(errbuf, CF_ERR_ARG,
			    "synth: %llu copies of %s (span %.3f s) would run past the year 2106, the end of "
			    "pcap timestamps", (unsigned long long)copies, o->input, (double)span / 1e9);
	}
	masks = malloc(copies * sizeof *masks);
	if (!masks) {
		set_drop(&set);
		free(sc.cache);
		return cf_errf(errbuf, CF_ERR_NOMEM, "synth: out of memory");
	}
	int disjoint = pick_masks(&set, masks, (uint32_t)copies, &nomem);
	if (nomem) {
		free(masks);
		free(sc.cache);
		return cf_errf(errbuf, CF_ERR_NOMEM, "synth: out of memory");
	}
	if (stats)
		stats->disjoint = disjoint;

	w.o = o;
	w.cap = RP_BUF_SIZE;
	if (w.cap < 2 * (16 + (size_t)sc.max_kept))
		w.cap = 2 * (16 + (size_t)sc.max_kept);
	w.buf = malloc(w.cap);
	if (!w.buf) {
		free(masks);
		free(sc.cache);
		return cf_errf(errbuf, CF_ERR_NOMEM, "synth: out of memory");
	}
	w.total = 24 + copies * sc.out_bytes;

	is_stdout = !strcmp(o->path, "-");
	fd = is_stdout ? STDOUT_FILENO : open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot open %s: %s", o->path, strerror(errno));
		free(masks);
		free(w.buf);
		free(sc.cache);
		return rc;
	}
	w.fd = fd;

	/* pcap file header */
	uint32_t snap = o->snaplen ? o->snaplen : (sc.max_caplen > 65535 ? sc.max_caplen : 65535);
	pcap_file_header(w.buf, o->nanosecond, snap, sc.linktype);
	w.len = 24;
	w.bytes = 24;

/* One record of copy k (shift, mask m) into the output buffer. When the
 * buffer must be flushed first and that fails, err is set and nothing is
 * added (the break leaves only the do-while). */
#define EMIT(ts_, kept_, wire_, data_)                                                              \
	do {                                                                                        \
		if (w.cap - w.len < 16 + (size_t)(kept_) && (err = out_flush(&w)))                     \
			break;                                                                          \
		uint8_t *h = w.buf + w.len;                                                         \
		pcap_record_header(h, (uint64_t)(ts_) + shift, o->nanosecond, (kept_), (wire_));    \
		memcpy(h + 16, (data_), (kept_));                                                   \
		if (k && !remap(h + 16, (kept_), sc.linktype, m))                                   \
			unmapped++;                                                                 \
		w.len += 16 + (size_t)(kept_);                                                      \
		w.bytes += 16 + (uint64_t)(kept_);                                                  \
		w.packets++;                                                                        \
	} while (0)

	for (uint64_t k = 0; k < copies && !rc && !err; k++) {
		cf_frame f;
		uint64_t shift = k * step, n = 0;
		uint32_t m = masks[k];
		int own = 0;
		if (sc.cache) {
			for (size_t at = 0; at < sc.cache_len && !err;) {
				const uint8_t *c = sc.cache + at;
				int64_t ts;
				uint32_t kept, wire;
				memcpy(&ts, c, 8);
				memcpy(&kept, c + 8, 4);
				memcpy(&wire, c + 12, 4);
				EMIT(ts, kept, wire, c + 16);
				at += 16 + (size_t)kept;
			}
			continue;
		}
		rc = open_input(o->input, &r, errbuf);
		if (rc)
			break;
		while ((rc = cf_reader_next(r, &f)) == CF_OK) {
			uint32_t kept = o->snaplen && f.caplen > o->snaplen ? o->snaplen : f.caplen;
			if (f.linktype != sc.linktype || ++n > sc.frames || f.ts_ns < 0) {
				rc = cf_errf(errbuf, CF_ERR_CORRUPT, "synth: %s changed while being replayed (copy %llu)",
					  o->input, (unsigned long long)k);
				own = 1;
				break;
			}
			EMIT(f.ts_ns, kept, f.wirelen, f.data);
			if (err)
				break;
		}
		if (own)
			;
		else if (rc == CF_EOF)
			rc = n == sc.frames ? CF_OK
					    : cf_errf(errbuf, CF_ERR_CORRUPT,
						   "synth: %s changed while being replayed (copy %llu)", o->input,
						   (unsigned long long)k);
		else if (rc < 0)
			rc = reader_failed(r, rc, errbuf);
		cf_reader_close(r);
		r = NULL;
	}
	if (!rc && !err && w.len)
		err = out_flush(&w);
	if (err && !rc)
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot write %s: %s", is_stdout ? "standard output" : o->path,
			  strerror(err));
	if (!is_stdout && close(fd) && !rc)
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot write %s: %s", o->path, strerror(errno));
	if (stats) {
		stats->packets = w.packets;
		stats->bytes_written = w.bytes - w.len; /* what reached the file */
		stats->unmapped = unmapped;
	}
#undef EMIT
	free(masks);
	free(w.buf);
	free(sc.cache);
	return rc;
}

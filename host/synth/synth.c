/*
 * Synthetic capture writer: a pool of concurrently active flows, each with
 * the time of its next packet, kept in a 4-ary min-heap; the earliest is
 * emitted, and a flow that ends frees its slot for the next arrival. Memory
 * is fixed (pool, heap, an output buffer pair, payload tables), whatever the
 * size of the file.
 *
 * Flow mix, as fractions of flows (not of bytes):
 *   70%  TCP. SYN (MSS/WS/SACK options), SYN-ACK, ACK; then exchanges: a
 *        client burst (85% a 40-800 B request, else an upload) and a server
 *        burst (70% Pareto-sized, else small), cut into MSS segments (1460 B
 *        IPv4, 1440 B IPv6) with a short tail, the receiver sending a pure
 *        ACK every second segment; then FIN/ACK from both sides (3-way, or
 *        4-way for 30%) after a keep-alive idle time (10 ms - 15 s,
 *        log-uniform). 10% of TCP flows end with RST/ACK instead; 30% of
 *        those are refused connections (SYN, RST/ACK). Server ports 443
 *        (65%), 80 (25%), 8080 (10%); not 22, whose dissector calls tiny
 *        segments of the pattern payload malformed.
 *   17%  UDP DNS-like: port 53, one query and one response (10% ask twice,
 *        A then AAAA); 1-6 answers, 5% NXDOMAIN; 30-200 B payloads.
 *    5%  UDP RTP-like: even ports 16384-32767 both sides, 12 B RTP header +
 *        160 B payload every 20 ms in each direction.
 *    8%  ICMP echo request/reply pairs 1 s apart (ICMPv6 on IPv6 flows).
 *   20% of flows are IPv6, 10% carry an 802.1Q tag.
 * Packets per TCP flow: 3 + close + Pareto(xm 2, alpha 0.8, cap 50000) data
 * packets, so the median TCP flow has about 11 packets and about one flow
 * in a thousand has 10^4+. RTP flows: 50-30000 packets (Pareto), ICMP:
 * 1-100 pairs.
 *
 * Every header is valid: IPv4 header, TCP, UDP and ICMP checksums (the
 * payload is a fixed pattern, so its partial sums come from a prefix table),
 * lengths, TTL/hop limit, IP ids counting per flow direction, seq/ack
 * numbers that follow the bytes sent. Frames shorter than 60 bytes get
 * Ethernet padding; with frame_size every frame is exactly that long (data
 * fills it, header-only packets are padded).
 *
 * Time: flows arrive uniformly over the duration (flows mode) or at a rate
 * steered so the byte target is reached at the duration (gbytes mode, where
 * no flow may take more than 5% of the target). A flow's gaps are natural
 * (RTT, pacing, think and keep-alive times, 20 ms RTP, 1 s ping) times a
 * global factor that keeps the pool from overflowing; they shrink when
 * needed so that no flow lasts over a tenth of the duration or runs past
 * its end, and a flow starting near the end gets fewer packets. So the
 * capture spans about the duration and the rate ramps up and down fast.
 *
 * Output is built in a 4 MB buffer; a writer thread writes one buffer while
 * the next is filled. Only the calling thread touches generator state, so
 * the bytes depend on the options alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "synth/pcap_out.h"
#include "cuflow/errbuf.h"

#define SY_BUF_SIZE (4u << 20)
#define SY_POOL 4096               /* most concurrently active flows */
#define SY_MAX_FRAME 65535u
#define SY_HOSTS 250               /* client hosts 10.1.0.2 .. 10.1.0.251 */
#define SY_SERVERS 1021
#define SY_EPOCH_NS 1700000000000000000ull /* 2023-11-14 */

enum { FT_TCP, FT_DNS, FT_RTP, FT_ICMP };
enum { TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16 };
enum { T_SYN, T_SYNACK, T_HSACK, T_DATA, T_FIN1, T_FINACK, T_FIN2, T_LASTACK, T_RST, T_REFUSED };

/* ------------------------------------------------------------ PRNG */

typedef struct { uint64_t s[4]; } sy_rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t hash64(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0xd1b54a32d192ed03ull);
	return splitmix64(&x);
}

static void rng_seed(sy_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t rng_next(sy_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static inline double rng_unit(sy_rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline uint32_t rng_below(sy_rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* Log-uniform in [lo, hi): most values small, all scales represented. */
static double rng_logu(sy_rng *r, double lo, double hi)
{
	return lo * exp(rng_unit(r) * log(hi / lo));
}

static uint64_t rng_pareto(sy_rng *r, double xm, double alpha, uint64_t cap)
{
	double x = xm / pow(1.0 - rng_unit(r), 1.0 / alpha);
	return x >= (double)cap ? cap : (uint64_t)x;
}

/* ------------------------------------------------------------ bytes */

static inline uint64_t csum_add(uint64_t sum, const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static inline uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ------------------------------------------------------------ state */

typedef struct sy_plan {
	uint8_t type, v6, vlan, rst, refused;
	uint32_t npkts;      /* for TCP: all packets, handshake and close included */
	uint32_t rtt_ns;
	uint32_t ps_per_byte; /* pacing of back-to-back segments */
} sy_plan;

typedef struct sy_flow {
	uint8_t hdr[2][58];   /* prebuilt Ethernet (+802.1Q) + IP, per direction; 0 = client to server */
	uint8_t type, v6, l23, state;
	uint8_t rst, refused, closer, fourway, dir, unacked, opts;
	uint8_t qtype_first, nanswers, pt; /* DNS; RTP payload type */
	uint16_t port[2], ipid[2], mss;
	uint32_t ip_base[2];  /* IPv4 header sum without total length and id */
	uint32_t addr_sum;    /* pseudo-header address sum: the same both ways */
	uint32_t seq[2];      /* TCP: next sequence number; RTP: RTP seq */
	uint32_t ts[2], ssrc[2]; /* RTP */
	uint32_t left, data_left, sent;
	uint32_t rtt_ns, ps_per_byte, id;
	uint64_t burst;       /* bytes left in the current TCP burst */
	uint64_t deadline;    /* the flow ends no later (ns from the start) */
	uint64_t qseed;       /* DNS name */
} sy_flow;

typedef struct sy_hent { uint64_t t; uint32_t slot; } sy_hent;

typedef struct sy_host {
	uint8_t mac[6], ttl;
	uint16_t eph, rtp;    /* next ephemeral / RTP port */
	uint8_t ip6[16];
} sy_host;

/* Two output buffers: the caller fills one while the writer thread writes the other. */
typedef struct sy_writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *buf[2];
	size_t len[2];
	int full[2];
	int stop, err;
	int fd;
} sy_writer;

typedef struct sy_gen {
	cf_synth_opts o;
	sy_rng rng;
	sy_writer w;
	int cur;              /* buffer being filled */
	uint8_t *buf;
	size_t len, flush_at;
	uint32_t frame_len;   /* frame under construction */
	uint8_t *pattern;
	uint16_t *psum;       /* folded sum of pattern[0..n) */
	sy_flow *flows;
	uint32_t *free_slots, nfree, pool;
	sy_hent *heap;
	void *heap_mem;
	uint32_t hn;
	sy_host hosts[SY_HOSTS];
	uint8_t gw_mac[6];
	uint64_t now, end_ns, next_arrival, target;
	uint64_t started, packets, bytes;
	/* per flow type: packets still due from active flows, packets and
	 * bytes written, mean bytes per packet (sampled, then measured),
	 * packets per flow in the sample divided by its size */
	uint64_t active_left[4], type_pkts[4], type_bytes[4];
	double pkt_bytes[4], flow_pkts[4];
	double scale;
} sy_gen;

/* ------------------------------------------------------------ output */

static void *writer_main(void *arg)
{
	sy_writer *w = arg;
	int i = 0;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->full[i] && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->full[i]) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		pthread_mutex_unlock(&w->mu);
		const uint8_t *p = w->buf[i];
		size_t n = w->len[i];
		int err = 0;
		while (n > 0) {
			ssize_t k = write(w->fd, p, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				err = k < 0 ? errno : EIO;
				break;
			}
			p += k;
			n -= (size_t)k;
		}
		pthread_mutex_lock(&w->mu);
		w->full[i] = 0;
		if (err && !w->err)
			w->err = err;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		i ^= 1;
	}
}

/* Hands the filled buffer to the writer and waits for the other one.
 * Returns the writer's errno, 0 when all is well. */
static int flush_buf(sy_gen *g)
{
	sy_writer *w = &g->w;
	int err;
	pthread_mutex_lock(&w->mu);
	w->len[g->cur] = g->len;
	w->full[g->cur] = 1;
	pthread_cond_broadcast(&w->cv);
	g->cur ^= 1;
	while (w->full[g->cur])
		pthread_cond_wait(&w->cv, &w->mu);
	err = w->err;
	pthread_mutex_unlock(&w->mu);
	g->buf = w->buf[g->cur];
	g->len = 0;
	if (g->o.progress)
		g->o.progress(g->o.progress_ctx, g->bytes, g->target, g->packets);
	return err;
}

/* Waits for everything handed over to be written and stops the thread. */
static int writer_finish(sy_writer *w)
{
	int err;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	err = w->err;
	return err;
}

/* ------------------------------------------------------------ packets */

/* Starts a frame for direction d of f whose IP payload is l4len bytes:
 * copies the prebuilt L2/L3 headers and fills IP lengths, id, checksum.
 * Returns where the L4 header goes. */
static uint8_t *pkt_start(sy_gen *g, sy_flow *f, int d, uint32_t l4len)
{
	uint8_t *fr = g->buf + g->len + 16;
	uint8_t *ip = fr + f->l23 - (f->v6 ? 40 : 20);
	memcpy(fr, f->hdr[d], f->l23);
	if (f->v6) {
		put16(ip + 4, l4len);
	} else {
		uint32_t tot = 20 + l4len, id = f->ipid[d]++;
		put16(ip + 2, tot);
		put16(ip + 4, id);
		put16(ip + 10, csum_fold((uint64_t)f->ip_base[d] + tot + id));
	}
	g->frame_len = f->l23 + l4len;
	return fr + f->l23;
}

/* Of n bytes at frame offset off, how many fall within the snaplen: bytes
 * past it are never written out, and sums never read them back. */
static inline uint32_t kept(const sy_gen *g, uint32_t off, uint32_t n)
{
	if (off >= g->o.snaplen)
		return 0;
	return n < g->o.snaplen - off ? n : g->o.snaplen - off;
}

/* Pads, writes the record header, advances; hands the buffer over when full. */
static int pkt_end(sy_gen *g)
{
	uint8_t *rec = g->buf + g->len;
	uint32_t len = g->frame_len;
	uint32_t min = g->o.frame_size ? g->o.frame_size : 60;
	uint32_t wire = len < min ? min : len; /* frame_size mode never exceeds it: tests check */
	if (wire > len)
		memset(rec + 16 + len, 0, kept(g, len, wire - len));
	uint32_t cap = wire < g->o.snaplen ? wire : g->o.snaplen;
	pcap_record_header(rec, SY_EPOCH_NS + g->now, g->o.nanosecond, cap, wire);
	g->len += 16 + cap;
	g->bytes += 16 + cap;
	g->packets++;
	if (g->len > g->flush_at)
		return flush_buf(g);
	return 0;
}

/* Bytes of L4 payload that make the frame exactly frame_size long. */
static inline uint32_t fill_len(const sy_gen *g, const sy_flow *f, uint32_t l4hdr)
{
	return g->o.frame_size - f->l23 - l4hdr;
}

static int tcp_pkt(sy_gen *g, sy_flow *f, int d, uint8_t flags, uint32_t plen)
{
	int syn = (flags & TH_SYN) && f->opts;
	uint32_t hl = syn ? 32 : 20;
	uint8_t *t = pkt_start(g, f, d, hl + plen);
	put16(t, f->port[d]);
	put16(t + 2, f->port[!d]);
	put32(t + 4, f->seq[d]);
	put32(t + 8, (flags & TH_ACK) ? f->seq[!d] : 0);
	t[12] = (uint8_t)(hl << 2);
	t[13] = flags;
	/* 502 << 7 = 64256 once window scaling is agreed; SYNs are unscaled */
	put16(t + 14, (flags & TH_SYN) || !f->opts ? 64240 : 502);
	put32(t + 16, 0);
	if (syn) {
		static const uint8_t o[12] = {2, 4, 0, 0, 1, 3, 3, 7, 1, 1, 4, 2};
		memcpy(t + 20, o, 12);
		put16(t + 22, f->mss);
	}
	memcpy(t + hl, g->pattern, kept(g, f->l23 + hl, plen));
	uint64_t sum = f->addr_sum + 6u + hl + plen + g->psum[plen];
	put16(t + 16, csum_fold(csum_add(sum, t, hl)));
	f->seq[d] += plen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
	return pkt_end(g);
}

/* UDP with body[0..n) then plen pattern bytes; n must be even when
 * plen > 0, so the pattern's prefix sums line up with 16-bit words. */
static int udp_pkt(sy_gen *g, sy_flow *f, int d, const uint8_t *body, uint32_t n, uint32_t plen)
{
	uint32_t ulen = 8 + n + plen;
	uint8_t *u = pkt_start(g, f, d, ulen);
	put16(u, f->port[d]);
	put16(u + 2, f->port[!d]);
	put16(u + 4, ulen);
	put16(u + 6, 0);
	memcpy(u + 8, body, n);
	memcpy(u + 8 + n, g->pattern, kept(g, f->l23 + 8 + n, plen));
	uint64_t sum = f->addr_sum + 17u + ulen + g->psum[plen];
	uint16_t c = csum_fold(csum_add(sum, u, 8 + n));
	put16(u + 6, c ? c : 0xffff); /* 0 would mean "no checksum" */
	return pkt_end(g);
}

/* ------------------------------------------------------------ flows */

static const char *const sy_words[] = {
	"example", "cdn", "api", "static", "mail", "img", "video", "edge",
	"cloud", "news", "shop", "auth", "data", "app", "login", "media",
};
static const char *const sy_tlds[] = {"com", "net", "org", "io"};

/* Writes an encoded DNS name of exactly q bytes (q >= 3, <= 255) when
 * exact, else a realistic one; returns its length. */
static uint32_t dns_name(uint8_t *p, uint64_t seed, uint32_t q, int exact)
{
	sy_rng r;
	uint32_t n = 0;
	rng_seed(&r, seed);
	if (!exact) {
		uint32_t a = 3 + rng_below(&r, 10);
		const char *w = sy_words[rng_below(&r, 16)], *t = sy_tlds[rng_below(&r, 4)];
		p[n++] = (uint8_t)a;
		for (uint32_t i = 0; i < a; i++)
			p[n++] = (uint8_t)('a' + rng_below(&r, 26));
		p[n++] = (uint8_t)strlen(w);
		memcpy(p + n, w, strlen(w));
		n += (uint32_t)strlen(w);
		p[n++] = (uint8_t)strlen(t);
		memcpy(p + n, t, strlen(t));
		n += (uint32_t)strlen(t);
		p[n++] = 0;
		return n;
	}
	uint32_t rem = q - 1;
	while (rem > 0) {
		uint32_t lab = rem - 1 < 63 ? rem - 1 : 63;
		if (rem - 1 - lab == 1)
			lab--; /* never leave room for one byte only: labels are >= 2 bytes */
		p[n++] = (uint8_t)lab;
		for (uint32_t i = 0; i < lab; i++)
			p[n++] = (uint8_t)('a' + rng_below(&r, 26));
		rem -= lab + 1;
	}
	p[n++] = 0;
	return n;
}

/* Smallest frame a flow kind needs (frame_size mode). */
static uint32_t min_frame(const sy_plan *p)
{
	uint32_t h = 14 + (p->vlan ? 4 : 0) + (p->v6 ? 40 : 20);
	switch (p->type) {
	case FT_DNS: return h + 8 + 12 + 3 + 4;
	case FT_RTP: return h + 8 + 12;
	case FT_ICMP: return h + 8;
	default: return h + 20;
	}
}

/* Draws what a new flow will be; the same draws serve the initial sample
 * that estimates mean flow size and duration. */
static void draw_plan(const sy_gen *g, sy_rng *r, sy_plan *p)
{
	double u = rng_unit(r);
	memset(p, 0, sizeof *p);
	p->type = u < 0.70 ? FT_TCP : u < 0.87 ? FT_DNS : u < 0.92 ? FT_RTP : FT_ICMP;
	p->v6 = rng_unit(r) < 0.20;
	p->vlan = rng_unit(r) < 0.10;
	if (g->o.frame_size) {
		/* drop what does not fit; IPv4 TCP always fits in 60 bytes */
		if (min_frame(p) > g->o.frame_size)
			p->vlan = 0;
		if (min_frame(p) > g->o.frame_size)
			p->v6 = 0;
		if (min_frame(p) > g->o.frame_size)
			p->type = FT_TCP;
	}
	p->rtt_ns = (uint32_t)rng_logu(r, 2e5, 2e8);
	p->ps_per_byte = (uint32_t)(8e12 / rng_logu(r, 1e7, 1e10));
	switch (p->type) {
	case FT_TCP:
		p->rst = rng_unit(r) < 0.10;
		p->refused = p->rst && rng_unit(r) < 0.30;
		if (p->refused)
			p->npkts = 2;
		else
			p->npkts = 3 + (p->rst ? 1 : 3) + (uint32_t)rng_pareto(r, 2.0, 0.8, 50000);
		break;
	case FT_DNS:
		p->npkts = rng_unit(r) < 0.10 ? 4 : 2;
		break;
	case FT_RTP:
		p->npkts = 2 * (uint32_t)rng_pareto(r, 25.0, 1.2, 15000);
		break;
	default:
		p->npkts = 2 * (uint32_t)rng_pareto(r, 1.0, 1.3, 100);
		break;
	}
}

/* Rough natural duration (ns) and size (bytes, records included). */
static void plan_estimate(const sy_gen *g, const sy_plan *p, double *dur, double *bytes)
{
	double n = p->npkts;
	switch (p->type) {
	case FT_TCP:
		/* handshake, keep-alive idle (2 s mean), exchanges of about 8
		 * packets with 0.26 s mean think time, pacing */
		*dur = p->rtt_ns * (3.0 + n / 8) + 2e9 + n / 8 * 2.6e8 + n * 1000.0 * p->ps_per_byte / 1000.0;
		*bytes = n * 16 + (n - 6) * 1000.0 + 6 * 60;
		break;
	case FT_DNS:
		*dur = p->rtt_ns * n / 2;
		*bytes = n * (16 + 130);
		break;
	case FT_RTP:
		*dur = n * 1e7;
		*bytes = n * (16 + 214);
		break;
	default:
		*dur = n / 2 * 1e9;
		*bytes = n * (16 + 98);
		break;
	}
	if (g->o.frame_size)
		*bytes = n * (16.0 + (g->o.frame_size < g->o.snaplen ? g->o.frame_size : g->o.snaplen));
}

/* At most maxpkts packets, but never fewer than the kind needs (TCP: a
 * handshake, 2 data packets, a close; RTP and ICMP: one pair; DNS as is). */
static void plan_clamp(sy_plan *p, uint64_t maxpkts)
{
	uint64_t least = p->type == FT_TCP ? (p->refused ? 2 : 8) : p->type == FT_DNS ? p->npkts : 2;
	uint64_t n = maxpkts < least ? least : maxpkts;
	if (p->type == FT_RTP || p->type == FT_ICMP)
		n &= ~1ull;
	if (n < p->npkts)
		p->npkts = (uint32_t)n;
}

static void build_hdr(sy_flow *f, int d, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		      int vlan, uint16_t vid, const uint8_t *src, const uint8_t *dst,
		      uint8_t proto, uint8_t ttl, uint32_t label)
{
	uint8_t *h = f->hdr[d];
	memcpy(h, dst_mac, 6);
	memcpy(h + 6, src_mac, 6);
	h += 12;
	if (vlan) {
		put16(h, 0x8100);
		put16(h + 2, vid);
		h += 4;
	}
	put16(h, f->v6 ? 0x86dd : 0x0800);
	h += 2;
	if (f->v6) {
		put32(h, 6u << 28 | (label & 0xfffff));
		put16(h + 4, 0);
		h[6] = proto;
		h[7] = ttl;
		memcpy(h + 8, src, 16);
		memcpy(h + 24, dst, 16);
		h += 40;
	} else {
		h[0] = 0x45;
		h[1] = 0;
		put32(h + 2, 0);
		put16(h + 6, 0x4000); /* DF */
		h[8] = ttl;
		h[9] = proto;
		put16(h + 10, 0);
		memcpy(h + 12, src, 4);
		memcpy(h + 16, dst, 4);
		f->ip_base[d] = (uint32_t)csum_add(0, h, 20);
		h += 20;
	}
	f->l23 = (uint8_t)(h - f->hdr[d]);
}

static void server_addr(uint64_t seed, uint32_t s, int v6, uint8_t *a)
{
	uint64_t h = hash64(seed ^ 0x5e7e7, s), h2 = hash64(seed ^ 0x5e7e8, s);
	if (v6) {
		static const uint8_t pre[4] = {0x20, 0x01, 0x0d, 0xb8};
		memcpy(a, pre, 4);
		for (int i = 0; i < 4; i++)
			a[4 + i] = (uint8_t)(h >> (8 * i));
		for (int i = 0; i < 8; i++)
			a[8 + i] = (uint8_t)(h2 >> (8 * i));
		return;
	}
	uint8_t o = (uint8_t)(1 + h % 223);
	/* keep clear of private, loopback, link-local and CGNAT space */
	if (o == 10 || o == 100 || o == 127 || o == 169 || o == 172 || o == 192)
		o++;
	a[0] = o;
	a[1] = (uint8_t)(h >> 8);
	a[2] = (uint8_t)(h >> 16);
	a[3] = (uint8_t)(1 + (h >> 24) % 254);
}

static void flow_init(sy_gen *g, sy_flow *f, const sy_plan *p, uint64_t t0)
{
	sy_rng *r = &g->rng;
	uint32_t hi = rng_below(r, SY_HOSTS);
	sy_host *h = &g->hosts[hi];
	uint8_t cip[16], sip[16], proto;
	uint32_t s = (uint32_t)(SY_SERVERS * pow(rng_unit(r), 2.5)); /* a few popular servers */
	uint64_t sh = hash64(g->o.seed ^ 0x7171, s);
	uint8_t sttl = (uint8_t)((sh & 3) == 0 ? 128 : (sh & 3) == 1 ? 255 : 64);
	sttl = (uint8_t)(sttl - 3 - (sh >> 8) % 20);

	memset(f, 0, sizeof *f);
	f->type = p->type;
	f->v6 = p->v6;
	f->rst = p->rst;
	f->left = p->npkts;
	f->rtt_ns = p->rtt_ns;
	f->ps_per_byte = p->ps_per_byte;
	f->id = (uint32_t)rng_next(r);
	f->ipid[0] = (uint16_t)rng_next(r);
	f->ipid[1] = (uint16_t)rng_next(r);
	{
		/* no flow longer than a tenth of the span, so the rate ramps up
		 * and winds down quickly; all end by the span's end (or soon
		 * after their start when they begin later) */
		uint64_t end = g->end_ns > t0 + g->end_ns / 100 ? g->end_ns : t0 + g->end_ns / 100;
		f->deadline = t0 + g->end_ns / 10 < end ? t0 + g->end_ns / 10 : end;
	}

	if (p->v6)
		memcpy(cip, h->ip6, 16);
	else {
		cip[0] = 10;
		cip[1] = 1;
		cip[2] = 0;
		cip[3] = (uint8_t)(2 + hi);
	}
	if (p->type == FT_DNS) {
		static const uint8_t r4[4][4] = {{10, 1, 0, 1}, {8, 8, 8, 8}, {1, 1, 1, 1}, {9, 9, 9, 9}};
		static const uint8_t r6[4][16] = {
			{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
			{0x20, 0x01, 0x48, 0x60, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88},
			{0x26, 0x06, 0x47, 0x00, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11},
			{0x26, 0x20, 0x00, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe},
		};
		uint32_t k = rng_below(r, 4);
		memcpy(sip, p->v6 ? r6[k] : r4[k], p->v6 ? 16 : 4);
	} else {
		server_addr(g->o.seed, s, p->v6, sip);
	}
	f->addr_sum = (uint32_t)csum_add(csum_add(0, cip, p->v6 ? 16 : 4), sip, p->v6 ? 16 : 4);

	switch (p->type) {
	case FT_TCP: {
		uint32_t k = rng_below(r, 100);
		proto = 6;
		f->port[0] = h->eph;
		f->port[1] = k < 65 ? 443 : k < 90 ? 80 : 8080;
		f->seq[0] = (uint32_t)rng_next(r);
		f->seq[1] = (uint32_t)rng_next(r);
		f->state = T_SYN;
		f->refused = p->refused;
		f->data_left = p->refused ? 0 : p->npkts - 3 - (p->rst ? 1 : 3);
		f->fourway = !p->rst && f->data_left > 1 && rng_unit(r) < 0.30;
		f->data_left -= f->fourway; /* the close's extra ACK */
		f->closer = rng_unit(r) < 0.6 ? 0 : 1;
		f->dir = 1; /* the first burst flips to the client */
		f->mss = p->v6 ? 1440 : 1460;
		f->opts = 1;
		if (g->o.frame_size) {
			uint32_t fill = g->o.frame_size - (14 + (p->vlan ? 4 : 0) + (p->v6 ? 40 : 20) + 20);
			f->opts = fill >= 12; /* no room for SYN options in tiny frames */
			f->mss = (uint16_t)fill;
		}
		break;
	}
	case FT_DNS:
		proto = 17;
		f->port[0] = h->eph;
		f->port[1] = 53;
		f->qseed = rng_next(r);
		f->qtype_first = rng_unit(r) < 0.6 ? 1 : 28;
		f->nanswers = rng_unit(r) < 0.05 ? 0 : (uint8_t)(1 + rng_below(r, 6) * rng_below(r, 2));
		break;
	case FT_RTP:
		proto = 17;
		f->port[0] = h->rtp;
		f->port[1] = (uint16_t)(16384 + 2 * rng_below(r, 8192));
		f->seq[0] = (uint16_t)rng_next(r);
		f->seq[1] = (uint16_t)rng_next(r);
		f->ts[0] = (uint32_t)rng_next(r);
		f->ts[1] = (uint32_t)rng_next(r);
		f->ssrc[0] = (uint32_t)rng_next(r);
		f->ssrc[1] = (uint32_t)rng_next(r);
		f->pt = rng_unit(r) < 0.5 ? 0 : 8; /* PCMU or PCMA */
		break;
	default:
		proto = p->v6 ? 58 : 1;
		f->port[0] = h->eph; /* the echo identifier */
		break;
	}
	/* per-host ports count up, so 5-tuples do not repeat for a long while */
	h->eph = (uint16_t)(h->eph >= 60999 - 3 ? 32768 : h->eph + 1 + rng_below(r, 3));
	if (p->type == FT_RTP)
		h->rtp = (uint16_t)(h->rtp >= 32766 ? 16384 : h->rtp + 2);

	uint16_t vid = p->vlan ? (uint16_t)((const uint16_t[]){10, 20, 100, 200})[rng_below(r, 4)] : 0;
	build_hdr(f, 0, g->gw_mac, h->mac, p->vlan, vid, cip, sip, proto, h->ttl,
		  (uint32_t)rng_next(r));
	build_hdr(f, 1, h->mac, g->gw_mac, p->vlan, vid, sip, cip, proto, sttl,
		  (uint32_t)rng_next(r));
}

static inline uint64_t jitter(sy_gen *g, uint64_t ns)
{
	return ns / 2 + (uint64_t)(rng_unit(&g->rng) * (double)ns);
}

static uint64_t burst_bytes(sy_gen *g, int dir)
{
	sy_rng *r = &g->rng;
	if (dir == 0)
		return rng_unit(r) < 0.85 ? (uint64_t)rng_logu(r, 40, 800)
					  : rng_pareto(r, 1000, 1.0, 10000000);
	return rng_unit(r) < 0.70 ? rng_pareto(r, 300, 0.9, 20000000)
				  : (uint64_t)rng_logu(r, 40, 1200);
}

/* Emits the next TCP packet; *gap is the natural time to the next one. */
static int tcp_step(sy_gen *g, sy_flow *f, uint64_t *gap, int *done)
{
	uint32_t rtt = f->rtt_ns;
	uint32_t fill = 0;
	int err;
	switch (f->state) {
	case T_SYN:
		*gap = rtt;
		f->state = f->refused ? T_REFUSED : T_SYNACK;
		return tcp_pkt(g, f, 0, TH_SYN, 0);
	case T_REFUSED: {
		*done = 1;
		uint32_t s = f->seq[1];
		f->seq[1] = 0;
		err = tcp_pkt(g, f, 1, TH_RST | TH_ACK, 0);
		f->seq[1] = s;
		return err;
	}
	case T_SYNACK:
		*gap = jitter(g, 40000);
		f->state = T_HSACK;
		return tcp_pkt(g, f, 1, TH_SYN | TH_ACK, 0);
	case T_HSACK:
		*gap = jitter(g, 200000);
		f->state = T_DATA;
		return tcp_pkt(g, f, 0, TH_ACK, 0);
	case T_DATA:
		if (f->data_left == 0) {
			f->state = f->rst ? T_RST : T_FIN1;
			return tcp_step(g, f, gap, done);
		}
		f->data_left--;
		if (f->unacked >= 2) {
			f->unacked = 0;
			*gap = jitter(g, 20000);
			return tcp_pkt(g, f, !f->dir, TH_ACK, 0);
		}
		if (f->burst == 0) {
			f->dir ^= 1;
			f->burst = burst_bytes(g, f->dir);
			f->unacked = 0;
		}
		if (g->o.frame_size) {
			/* full frames always: the burst rounds up (and moves on
			 * even when headers leave no room for data) */
			uint32_t step = f->mss ? f->mss : 64;
			fill = f->mss;
			f->burst = f->burst > step ? f->burst - step : 0;
		} else {
			fill = f->burst < f->mss ? (uint32_t)f->burst : f->mss;
			f->burst -= fill;
		}
		f->unacked++;
		if (f->data_left == 0) /* idle until the close: keep-alive */
			*gap = (uint64_t)rng_logu(&g->rng, 1e7, 1.5e10);
		else if (f->burst)
			*gap = jitter(g, (uint64_t)fill * f->ps_per_byte / 1000 + 1000);
		else /* the server answers after a round trip, the client after thinking */
			*gap = f->dir ? (uint64_t)rng_logu(&g->rng, 1e6, 2e9) : rtt + jitter(g, rtt / 4);
		return tcp_pkt(g, f, f->dir, TH_ACK | (f->burst ? 0 : TH_PSH), fill);
	case T_FIN1:
		*gap = f->closer ? jitter(g, 30000) : rtt;
		f->state = f->fourway ? T_FINACK : T_FIN2;
		return tcp_pkt(g, f, f->closer, TH_FIN | TH_ACK, 0);
	case T_FINACK:
		*gap = jitter(g, 50000);
		f->state = T_FIN2;
		return tcp_pkt(g, f, !f->closer, TH_ACK, 0);
	case T_FIN2:
		*gap = f->closer ? rtt : jitter(g, 30000);
		f->state = T_LASTACK;
		return tcp_pkt(g, f, !f->closer, TH_FIN | TH_ACK, 0);
	case T_LASTACK:
		*done = 1;
		return tcp_pkt(g, f, f->closer, TH_ACK, 0);
	default: /* T_RST: either side gives up */
		*done = 1;
		return tcp_pkt(g, f, (int)(rng_next(&g->rng) & 1), TH_RST | TH_ACK, 0);
	}
}

static int dns_step(sy_gen *g, sy_flow *f, uint64_t *gap, int *done)
{
	uint8_t m[512];
	uint32_t i = f->sent, d = i & 1;
	uint32_t room = g->o.frame_size ? fill_len(g, f, 8) : 512;
	uint16_t qtype = i < 2 ? f->qtype_first : 28;
	uint32_t alen = qtype == 28 ? 28 : 16;
	/* in frame_size mode a small frame is filled by the name */
	int exact = g->o.frame_size && room < 12 + 4 + 64;
	uint32_t q = dns_name(m + 12, f->qseed, room - 16 > 255 ? 255 : room - 16, exact);
	uint32_t n = 12 + q + 4, an = 0;
	put16(m, (f->id + i / 2) & 0xffff);
	put16(m + 2, d ? (f->nanswers ? 0x8180 : 0x8183) : 0x0100);
	put16(m + 4, 1);
	put32(m + 6, 0);
	put16(m + 10, 0);
	put16(m + 12 + q, qtype);
	put16(m + 14 + q, 1);
	if (d) {
		for (; an < f->nanswers && n + alen <= room; an++) {
			uint8_t *a = m + n;
			put16(a, 0xc00c); /* pointer to the question's name */
			put16(a + 2, qtype);
			put16(a + 4, 1);
			put32(a + 6, 60 + (f->id >> 20));
			put16(a + 10, alen - 12);
			if (alen == 28) {
				put32(a + 12, 0x26064700u);
				put32(a + 16, 0);
				put32(a + 20, f->id);
				put32(a + 24, an + 1);
			} else {
				put32(a + 12, 0x68100000u + (f->id & 0xfff) * 16 + an); /* 104.16/12 */
			}
			n += alen;
		}
		put16(m + 6, an);
	}
	f->sent++;
	*done = f->left == 1;
	*gap = d ? jitter(g, 2000000) : f->rtt_ns;
	return udp_pkt(g, f, (int)d, m, n, 0);
}

static int rtp_step(sy_gen *g, sy_flow *f, uint64_t *gap, int *done)
{
	uint8_t h[12];
	uint32_t d = f->sent & 1;
	uint32_t plen = g->o.frame_size ? fill_len(g, f, 8 + 12) : 160;
	h[0] = 0x80; /* version 2 */
	h[1] = f->pt;
	put16(h + 2, f->seq[d]++ & 0xffff);
	put32(h + 4, f->ts[d]);
	put32(h + 8, f->ssrc[d]);
	f->ts[d] += 160;
	f->sent++;
	*done = f->left == 1;
	*gap = 9000000 + rng_below(&g->rng, 2000000); /* each way every 20 ms */
	return udp_pkt(g, f, (int)d, h, 12, plen);
}

static int icmp_step(sy_gen *g, sy_flow *f, uint64_t *gap, int *done)
{
	uint32_t d = f->sent & 1;
	uint32_t plen = g->o.frame_size ? fill_len(g, f, 8) : 56;
	uint8_t *c = pkt_start(g, f, (int)d, 8 + plen);
	c[0] = f->v6 ? (uint8_t)(d ? 129 : 128) : (uint8_t)(d ? 0 : 8);
	c[1] = 0;
	put16(c + 2, 0);
	put16(c + 4, f->port[0]);
	put16(c + 6, 1 + f->sent / 2);
	memcpy(c + 8, g->pattern, kept(g, f->l23 + 8, plen));
	uint64_t sum = g->psum[plen];
	if (f->v6)
		sum += f->addr_sum + 58u + 8 + plen;
	put16(c + 2, csum_fold(csum_add(sum, c, 8)));
	f->sent++;
	*done = f->left == 1;
	*gap = d ? 1000000000ull - (f->rtt_ns < 1000000000u ? f->rtt_ns : 0) : f->rtt_ns;
	return pkt_end(g);
}

/* ------------------------------------------------------------ schedule */

/* A 4-ary min-heap on next-packet time: half the depth of a binary one,
 * and a node's four children share one cache line (see gen_init). The
 * entries past the last hold UINT64_MAX, so a node's four children can be
 * compared without bounds checks, in selects rather than branches (the
 * times are random: branches would mispredict). */
static void heap_down(sy_hent *h, uint32_t n, uint32_t i)
{
	sy_hent e = h[i];
	for (;;) {
		uint32_t c = 4 * i + 1;
		if (c >= n)
			break;
		uint32_t a = c + (h[c + 1].t < h[c].t);
		uint32_t b = c + 2 + (h[c + 3].t < h[c + 2].t);
		uint32_t m = h[b].t < h[a].t ? b : a;
		if (h[m].t >= e.t)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = e;
}

/* Removes the root. */
static void heap_pop(sy_hent *h, uint32_t *n)
{
	h[0] = h[--*n];
	h[*n].t = UINT64_MAX;
	if (*n)
		heap_down(h, *n, 0);
}

static void heap_push(sy_hent *h, uint32_t *n, sy_hent e)
{
	uint32_t i = (*n)++;
	while (i > 0 && h[(i - 1) / 4].t > e.t) {
		h[i] = h[(i - 1) / 4];
		i = (i - 1) / 4;
	}
	h[i] = e;
}

static double committed(const sy_gen *g)
{
	double c = (double)g->bytes;
	for (int t = 0; t < 4; t++)
		c += (double)g->active_left[t] * g->pkt_bytes[t];
	return c;
}

static int admitting(const sy_gen *g)
{
	if (g->target)
		return committed(g) < (double)g->target;
	return g->started < g->o.flows;
}

static void admit(sy_gen *g)
{
	sy_plan p;
	uint64_t t0 = g->next_arrival > g->now ? g->next_arrival : g->now;
	double dur, bytes;
	draw_plan(g, &g->rng, &p);
	for (int t = 0; t < 4; t++) /* learn the real mean packet sizes */
		if (g->type_pkts[t] >= 1000)
			g->pkt_bytes[t] = (double)g->type_bytes[t] / (double)g->type_pkts[t];
	if (g->target) {
		/* no flow takes more than 5% of the target, so a small target
		 * is not one giant flow that ends the file early */
		double room = (double)g->target - committed(g);
		if (room > (double)g->target / 20)
			room = (double)g->target / 20;
		room /= g->pkt_bytes[p.type];
		plan_clamp(&p, room < 1 ? 1 : (uint64_t)room + 1);
	}
	/* A flow that would run past the end gets fewer packets, rather than
	 * all of them squeezed into the last moments. */
	plan_estimate(g, &p, &dur, &bytes);
	dur *= g->scale;
	if (dur > (double)g->end_ns / 10)
		dur = (double)g->end_ns / 10;
	if (t0 + dur > (double)g->end_ns && dur > 0) {
		double left = t0 < g->end_ns ? (double)(g->end_ns - t0) : 0;
		plan_clamp(&p, (uint64_t)(p.npkts * left / dur));
	}
	uint32_t slot = g->free_slots[--g->nfree];
	flow_init(g, &g->flows[slot], &p, t0);
	heap_push(g->heap, &g->hn, (sy_hent){t0, slot});
	g->active_left[p.type] += p.npkts;
	g->started++;

	if (!g->target) {
		/* uniform arrivals with jitter: flow i in [i, i+1) * duration / N */
		double u = rng_unit(&g->rng), i = (double)g->started;
		g->next_arrival = (uint64_t)((double)g->end_ns * ((i + u) / (double)g->o.flows));
	} else {
		/* steer the rate so the remaining bytes land by the duration */
		double mean = 0;
		for (int t = 0; t < 4; t++)
			mean += g->flow_pkts[t] * g->pkt_bytes[t];
		double rem = (double)g->target - committed(g), gap = 0;
		if (rem < mean)
			rem = mean;
		if (t0 < g->end_ns)
			gap = mean * (double)(g->end_ns - t0) / rem;
		g->next_arrival = t0 + (uint64_t)(gap * -log(1.0 - rng_unit(&g->rng)));
	}
}

/* One packet from the earliest flow. */
static int emit(sy_gen *g)
{
	sy_hent *top = &g->heap[0];
	sy_flow *f = &g->flows[top->slot];
	uint64_t gap = 0;
	int done = 0, err;
	uint64_t bytes0 = g->bytes;
	g->now = top->t;
	switch (f->type) {
	case FT_TCP:
		err = tcp_step(g, f, &gap, &done);
		break;
	case FT_DNS:
		err = dns_step(g, f, &gap, &done);
		break;
	case FT_RTP:
		err = rtp_step(g, f, &gap, &done);
		break;
	default:
		err = icmp_step(g, f, &gap, &done);
		break;
	}
	f->left--;
	g->active_left[f->type]--;
	g->type_pkts[f->type]++;
	g->type_bytes[f->type] += g->bytes - bytes0;
	if (done) {
		g->active_left[f->type] -= f->left; /* 0 unless a count is off: keep the sum honest */
		g->free_slots[g->nfree++] = top->slot;
		heap_pop(g->heap, &g->hn);
	} else {
		/* natural gap, scaled for the pool, shrunk to meet the deadline */
		uint64_t left = f->left ? f->left : 1;
		uint64_t room = f->deadline > g->now ? f->deadline - g->now : 0;
		gap = (uint64_t)((double)gap * g->scale);
		uint64_t need;
		/* divide only when the deadline binds: it rarely does */
		if (__builtin_mul_overflow(gap, left, &need) || need > room)
			gap = room / left;
		top->t = g->now + gap;
		heap_down(g->heap, g->hn, 0);
	}
	return err;
}

/* ------------------------------------------------------------ setup */

void cf_synth_opts_default(cf_synth_opts *o)
{
	memset(o, 0, sizeof *o);
	o->path = NULL;
	o->flows = 1000;
	o->duration_s = 60.0;
	o->seed = 1;
	o->snaplen = 65535;
	o->gbytes = 0;
	o->frame_size = 0;
	o->nanosecond = 0;
}

static int check_opts(const cf_synth_opts *o, char *errbuf)
{
	if (!o || !o->path || !o->path[0])
		return cf_errf(errbuf, CF_ERR_ARG, "synth: no output path");
	if (!(o->gbytes >= 0 && o->gbytes <= 1e6))
		return cf_errf(errbuf, CF_ERR_ARG, "synth: gbytes must be in 0..1e6, not %g", o->gbytes);
	if (o->gbytes == 0 && (o->flows < 1 || o->flows > (1ull << 40)))
		return cf_errf(errbuf, CF_ERR_ARG, "synth: flows must be in 1..2^40, not %llu",
			    (unsigned long long)o->flows);
	if (!(o->duration_s > 0 && o->duration_s <= 1e8))
		return cf_errf(errbuf, CF_ERR_ARG, "synth: duration must be in (0, 1e8] s, not %g",
			    o->duration_s);
	if (o->snaplen < 1 || o->snaplen > 262144)
		return cf_errf(errbuf, CF_ERR_ARG, "synth: snaplen must be in 1..262144, not %u", o->snaplen);
	if (o->frame_size && (o->frame_size < 60 || o->frame_size > SY_MAX_FRAME))
		return cf_errf(errbuf, CF_ERR_ARG, "synth: frame size must be 0 or 60..65535, not %u",
			    o->frame_size);
	return CF_OK;
}

static int gen_init(sy_gen *g, char *errbuf)
{
	uint64_t seed = g->o.seed;
	g->pool = g->target || g->o.flows > SY_POOL ? SY_POOL : (uint32_t)g->o.flows;
	g->pattern = malloc(SY_MAX_FRAME + 1);
	g->psum = malloc((SY_MAX_FRAME + 2) * sizeof *g->psum);
	g->flows = malloc(g->pool * sizeof *g->flows);
	g->free_slots = malloc(g->pool * sizeof *g->free_slots);
	/* entries are 16 bytes: with 3 in front of a 64-byte boundary, the
	 * children 4i+1..4i+4 of every node fill one cache line */
	g->heap_mem = aligned_alloc(64, (g->pool + 11) / 4 * 64);
	g->heap = g->heap_mem ? (sy_hent *)g->heap_mem + 3 : NULL;
	if (g->heap)
		for (uint32_t i = 0; i < g->pool + 4; i++)
			g->heap[i].t = UINT64_MAX; /* the sentinels heap_down reads */
	g->w.buf[0] = malloc(SY_BUF_SIZE);
	g->w.buf[1] = malloc(SY_BUF_SIZE);
	if (!g->pattern || !g->psum || !g->flows || !g->free_slots || !g->heap || !g->w.buf[0] ||
	    !g->w.buf[1])
		return cf_errf(errbuf, CF_ERR_NOMEM, "synth: out of memory");
	for (uint32_t i = 0; i < g->pool; i++)
		g->free_slots[i] = g->pool - 1 - i;
	g->nfree = g->pool;

	/* printable text, so hex dumps look like payload; even offsets keep the sums valid */
	static const char text[] = "cuflow synthetic payload 0123456789 abcdefghijklmnopqrstuvwxyz. ";
	for (uint32_t i = 0; i <= SY_MAX_FRAME; i++)
		g->pattern[i] = (uint8_t)text[i % (sizeof text - 1)];
	uint64_t s = 0;
	g->psum[0] = 0;
	for (uint32_t i = 0; i <= SY_MAX_FRAME; i++) {
		s += (i & 1) ? g->pattern[i] : (uint32_t)g->pattern[i] << 8;
		s = (s & 0xffff) + (s >> 16);
		g->psum[i + 1] = (uint16_t)s;
	}

	rng_seed(&g->rng, seed);
	for (int i = 0; i < SY_HOSTS; i++) {
		sy_host *h = &g->hosts[i];
		uint64_t x = hash64(seed ^ 0x4057, (uint64_t)i), y = hash64(seed ^ 0x4058, (uint64_t)i);
		h->mac[0] = 0x02; /* locally administered, unicast */
		for (int k = 1; k < 6; k++)
			h->mac[k] = (uint8_t)(x >> (8 * k));
		h->ttl = (x & 7) < 2 ? 128 : 64;
		h->eph = (uint16_t)(32768 + (x >> 40) % 28000);
		h->rtp = (uint16_t)(16384 + 2 * ((x >> 20) % 8192));
		static const uint8_t pre[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0};
		memcpy(h->ip6, pre, 8);
		for (int k = 0; k < 8; k++)
			h->ip6[8 + k] = (uint8_t)(y >> (8 * k));
	}
	uint64_t gw = hash64(seed, 0x6a7e);
	static const uint8_t oui[3] = {0x00, 0x1b, 0x21};
	memcpy(g->gw_mac, oui, 3);
	for (int k = 0; k < 3; k++)
		g->gw_mac[3 + k] = (uint8_t)(gw >> (8 * k));

	/* Sample the flow mix to learn mean size and duration: they set the
	 * arrival rate (gbytes mode) and the factor that keeps the pool from
	 * overflowing. A side stream, so the main one is unaffected. */
	sy_rng side;
	double sd = 0, sball = 0, sb[4] = {0}, sp[4] = {0}, lambda;
	const int K = 65536; /* heavy tails: a big sample keeps the means steady */
	rng_seed(&side, seed ^ 0x5a3b1e);
	for (int i = 0; i < K; i++) {
		sy_plan p;
		double d, b;
		draw_plan(g, &side, &p);
		plan_estimate(g, &p, &d, &b);
		sd += d < (double)g->end_ns / 10 ? d : (double)g->end_ns / 10;
		sball += b;
		sb[p.type] += b;
		sp[p.type] += p.npkts;
	}
	for (int t = 0; t < 4; t++) {
		g->flow_pkts[t] = sp[t] / K;
		g->pkt_bytes[t] = sp[t] > 0 ? sb[t] / sp[t] : 100;
	}
	double dur_s = (double)g->end_ns / 1e9;
	lambda = g->target ? (double)g->target / (sball / K) / dur_s : (double)g->o.flows / dur_s;
	double conc = lambda * sd / K / 1e9;
	g->scale = conc > g->pool / 2.0 ? g->pool / 2.0 / conc : 1.0;
	g->next_arrival = 0;
	return CF_OK;
}

static void gen_free(sy_gen *g)
{
	free(g->pattern);
	free(g->psum);
	free(g->flows);
	free(g->free_slots);
	free(g->heap_mem);
	free(g->w.buf[0]);
	free(g->w.buf[1]);
}

int cf_synth_write(const cf_synth_opts *o, cf_synth_stats *stats, char *errbuf)
{
	sy_gen *g;
	int rc = check_opts(o, errbuf), fd, err = 0;
	if (stats)
		memset(stats, 0, sizeof *stats);
	if (rc)
		return rc;
	g = calloc(1, sizeof *g);
	if (!g)
		return cf_errf(errbuf, CF_ERR_NOMEM, "synth: out of memory");
	g->o = *o;
	g->end_ns = (uint64_t)(o->duration_s * 1e9);
	if (g->end_ns < 1000)
		g->end_ns = 1000;
	g->target = o->gbytes > 0 ? (uint64_t)(o->gbytes * 1e9) : 0;
	if (o->gbytes > 0 && g->target < 25)
		g->target = 25; /* the file header alone is 24 bytes: one packet at least */
	rc = gen_init(g, errbuf);
	if (rc) {
		gen_free(g);
		free(g);
		return rc;
	}

	int is_stdout = !strcmp(o->path, "-");
	fd = is_stdout ? STDOUT_FILENO : open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot open %s: %s", o->path, strerror(errno));
		gen_free(g);
		free(g);
		return rc;
	}
	g->w.fd = fd;
	pthread_mutex_init(&g->w.mu, NULL);
	pthread_cond_init(&g->w.cv, NULL);
	if (pthread_create(&g->w.th, NULL, writer_main, &g->w)) {
		rc = cf_errf(errbuf, CF_ERR_NOMEM, "synth: cannot start the writer thread");
		goto out_nothread;
	}
	g->cur = 0;
	g->buf = g->w.buf[0];
	g->flush_at = SY_BUF_SIZE - 16 - SY_MAX_FRAME;

	/* pcap file header */
	pcap_file_header(g->buf, o->nanosecond, o->snaplen, 1);
	g->len = 24;
	g->bytes = 24;

	while (!err) {
		uint64_t th = g->hn ? g->heap[0].t : UINT64_MAX;
		if (g->nfree && (g->next_arrival <= th || !g->hn) && admitting(g)) {
			admit(g);
			continue;
		}
		if (!g->hn)
			break;
		err = emit(g);
	}
	if (!err && g->len)
		err = flush_buf(g);
	{
		int e = writer_finish(&g->w);
		if (!err)
			err = e;
	}
	if (err)
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot write %s: %s",
			  is_stdout ? "standard output" : o->path, strerror(err));
out_nothread:
	pthread_mutex_destroy(&g->w.mu);
	pthread_cond_destroy(&g->w.cv);
	if (!is_stdout && close(fd) && !rc)
		rc = cf_errf(errbuf, CF_ERR_IO, "synth: cannot write %s: %s", o->path, strerror(errno));
	if (stats) {
		stats->flows = g->started;
		stats->packets = g->packets;
		stats->bytes_written = g->bytes;
	}
	gen_free(g);
	free(g);
	return rc;
}

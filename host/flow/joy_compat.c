/*
 * Joy 4.5.0's flow records, exactly (cuflow/joy.h): a tracker of its own,
 * apart from cuflow's flow table, because Joy's semantics differ at every
 * step (filter, keys, expiry, direction, counters). The rules restate Joy's
 * src/pkt_proc.c, p2f.c, proto_identify.c, ppi.c and osdetect.c (v4.5.0,
 * commit 21770513); docs/flows.md lists them. Times are microseconds, as
 * libpcap hands them to Joy.
 */
#define _GNU_SOURCE /* qsort_r */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cuflow/joy.h"
#include "cuflow/scan.h"

#define JOY_NUM_PKTS 50    /* num_pkts: listed per direction */
#define JOY_MAX_PKT_LEN 200 /* stored payload packets per direction (TCP: 199) */
#define JOY_MAX_IDS 50
#define JOY_BATCH 10       /* pcap_dispatch(handle, 10, ...) between expiry checks */
#define JOY_INACTIVE_US 10000000LL
#define JOY_ACTIVE_US 20000000LL /* on top of the inactive 10 s: 30 s from the start */
#define JOY_OPT_MAX 24
#define JOY_RETRANS_RING 10

enum { JOY_DIR_NONE = 0, JOY_DIR_CLIENT = 1, JOY_DIR_SERVER = 2 };

/* As Joy's flow_key_t: no address family; an IPv4 address fills the first
 * 4 bytes of 16 zeroed ones (so 1.2.3.4 and 102:304:: share a key). */
typedef struct joy_key {
	uint8_t sa[16], da[16];
	uint16_t sp, dp;
	uint8_t prot, pad;
} joy_key;

typedef struct joy_rec {
	joy_key key;
	uint8_t ip_type; /* 4 or 6: the last packet's (Joy prints the addresses by it) */
	uint8_t app, dir;
	uint8_t np;      /* Joy's uint8_t: wraps at 256 */
	uint16_t ob;     /* Joy's uint16_t: wraps at 65536 */
	uint16_t op;     /* stored payload packets */
	int64_t start, end; /* µs; start 0 = no packet yet, as Joy's zero timeval */
	uint16_t pkt_len[JOY_MAX_PKT_LEN];
	int64_t pkt_time[JOY_MAX_PKT_LEN];
	uint8_t ttl;
	uint8_t nids;
	uint16_t ids[JOY_MAX_IDS];
	uint32_t retrans;
	uint32_t first_seq;
	uint16_t first_win;
	uint8_t flags, opt_len;
	uint8_t opts[JOY_OPT_MAX];
	uint8_t is_tcp_retrans, invalid;
	uint32_t rseq[JOY_RETRANS_RING];
	uint16_t rlen[JOY_RETRANS_RING];
	uint8_t rtail;
	char exp_type;
	uint8_t in_chrono, live, due;
	int32_t twin, hnext, cprev, cnext;
	uint64_t seq;    /* list records: position in creation order */
	int64_t due_key; /* list records: the key of its latest heap entry */
} joy_rec;

/* An entry of the expiry heap: a list record and a time after which it may
 * have expired (never later than the time it does). */
typedef struct joy_due {
	int64_t key;
	int32_t rec;
	uint64_t seq;
} joy_due;

struct cf_joy {
	cf_joy_write_fn write;
	void *user;
	cf_filter *filter;
	joy_rec *recs;
	size_t nrecs, cap;
	int32_t free_head;
	int32_t *buckets;
	uint32_t nbuckets; /* power of 2 */
	size_t live;
	int32_t chead, ctail; /* creation order of first-seen records */
	uint64_t next_seq;
	/* Joy walks the whole list at every check (every 10 frames), which is
	 * quadratic in the live records; a min-heap of each list record's
	 * expiry time finds the same records (printed in list order) */
	joy_due *heap;
	size_t nheap, heap_cap;
	int32_t *due_list;
	size_t ndue, due_cap;
	int64_t global_us;
	unsigned batch;
	uint64_t records;
	int failed;
	int failed_nomem; /* the expiry heap could not grow */
	char *line;
	size_t len, lcap;
};

/* ------------------------------------------------------------ frame bytes */

/* Joy reads past short frames into libpcap's buffer; here those bytes are 0. */
static inline uint8_t byte_at(const cf_frame *f, size_t i)
{
	return i < f->caplen ? f->data[i] : 0;
}
static inline uint16_t be16_at(const cf_frame *f, size_t i)
{
	return (uint16_t)(byte_at(f, i) << 8 | byte_at(f, i + 1));
}
static inline uint32_t be32_at(const cf_frame *f, size_t i)
{
	return (uint32_t)be16_at(f, i) << 16 | be16_at(f, i + 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ------------------------------------------------------------ records */

static uint32_t key_hash(const joy_key *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = (const uint8_t *)k;
	for (size_t i = 0; i < sizeof *k; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int key_eq(const joy_key *a, const joy_key *b)
{
	return !memcmp(a, b, sizeof *a);
}

static int32_t find(const cf_joy *j, const joy_key *k)
{
	for (int32_t i = j->buckets[key_hash(k) & (j->nbuckets - 1)]; i >= 0; i = j->recs[i].hnext)
		if (key_eq(&j->recs[i].key, k))
			return i;
	return -1;
}

static int rehash(cf_joy *j, uint32_t n)
{
	int32_t *b = malloc(n * sizeof *b);
	if (!b)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		b[i] = -1;
	for (size_t i = 0; i < j->nrecs; i++) {
		joy_rec *r = &j->recs[i];
		if (!r->live)
			continue;
		uint32_t h = key_hash(&r->key) & (n - 1);
		r->hnext = b[h];
		b[h] = (int32_t)i;
	}
	free(j->buckets);
	j->buckets = b;
	j->nbuckets = n;
	return 0;
}

/* ------------------------------------------------------------ expiry heap */

/* The time after which list record i (and its twin) meets Joy's expiry
 * test: active when both starts are older than global - 30 s, inactive
 * when both ends are older than global - 10 s (strictly). */
static int64_t due_time(const cf_joy *j, int32_t i)
{
	const joy_rec *r = &j->recs[i];
	const joy_rec *tw = r->twin >= 0 ? &j->recs[r->twin] : NULL;
	int64_t st = r->start, en = r->end;
	if (tw) {
		st = tw->start > st ? tw->start : st;
		en = tw->end > en ? tw->end : en;
	}
	int64_t a = st + JOY_INACTIVE_US + JOY_ACTIVE_US, in = en + JOY_INACTIVE_US;
	return a < in ? a : in;
}

static int heap_push(cf_joy *j, int64_t key, int32_t rec, uint64_t seq)
{
	if (j->nheap == j->heap_cap) {
		size_t cap = j->heap_cap ? j->heap_cap * 2 : 1024;
		joy_due *h = realloc(j->heap, cap * sizeof *h);
		if (!h)
			return -1;
		j->heap = h;
		j->heap_cap = cap;
	}
	size_t k = j->nheap++;
	while (k > 0) {
		size_t p = (k - 1) / 2;
		if (j->heap[p].key <= key)
			break;
		j->heap[k] = j->heap[p];
		k = p;
	}
	j->heap[k] = (joy_due){key, rec, seq};
	return 0;
}

static joy_due heap_pop(cf_joy *j)
{
	joy_due top = j->heap[0], last = j->heap[--j->nheap];
	size_t k = 0, n = j->nheap;
	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= n)
			break;
		if (c + 1 < n && j->heap[c + 1].key < j->heap[c].key)
			c++;
		if (last.key <= j->heap[c].key)
			break;
		j->heap[k] = j->heap[c];
		k = c;
	}
	if (n)
		j->heap[k] = last;
	return top;
}

/* After record i (a list record or a twin) changed: keeps an entry whose
 * key is at most its list record's due time (a later time is found when
 * the older entry comes up). -1 when out of memory. */
static int due_touch(cf_joy *j, int32_t i)
{
	int32_t c = j->recs[i].in_chrono ? i : j->recs[i].twin;
	if (c < 0 || !j->recs[c].in_chrono)
		return 0;
	int64_t t = due_time(j, c);
	if (t >= j->recs[c].due_key)
		return 0;
	j->recs[c].due_key = t;
	return heap_push(j, t, c, j->recs[c].seq);
}

static int cmp_seq(const void *a, const void *b, void *arg)
{
	const cf_joy *j = arg;
	uint64_t x = j->recs[*(const int32_t *)a].seq, y = j->recs[*(const int32_t *)b].seq;
	return x < y ? -1 : x > y;
}

static void chrono_append(cf_joy *j, int32_t i)
{
	joy_rec *r = &j->recs[i];
	r->in_chrono = 1;
	r->seq = ++j->next_seq;
	r->due_key = INT64_MAX;
	r->cnext = -1;
	r->cprev = j->ctail;
	if (j->ctail >= 0)
		j->recs[j->ctail].cnext = i;
	else
		j->chead = i;
	j->ctail = i;
	if (due_touch(j, i) < 0)
		j->failed_nomem = 1;
}

static void chrono_remove(cf_joy *j, int32_t i)
{
	joy_rec *r = &j->recs[i];
	if (!r->in_chrono)
		return;
	if (r->cprev >= 0)
		j->recs[r->cprev].cnext = r->cnext;
	else
		j->chead = r->cnext;
	if (r->cnext >= 0)
		j->recs[r->cnext].cprev = r->cprev;
	else
		j->ctail = r->cprev;
	r->in_chrono = 0;
}

static void rec_delete(cf_joy *j, int32_t i)
{
	joy_rec *r = &j->recs[i];
	int32_t *pp = &j->buckets[key_hash(&r->key) & (j->nbuckets - 1)];
	while (*pp != i)
		pp = &j->recs[*pp].hnext;
	*pp = r->hnext;
	chrono_remove(j, i);
	r->live = 0;
	r->hnext = j->free_head;
	j->free_head = i;
	j->live--;
}

/* flow_key_get_record: the record of key k, created when absent. With
 * bidir, a new record whose reverse exists (and is nobody's twin yet) is
 * that record's twin and stays off the list; otherwise it joins the list
 * in creation order. -1 when out of memory. */
static int32_t get_record(cf_joy *j, const joy_key *k)
{
	int32_t i = find(j, k);
	if (i >= 0)
		return i;
	if (j->live + 1 > (size_t)j->nbuckets && rehash(j, j->nbuckets * 2) < 0)
		return -1;
	if (j->free_head >= 0) {
		i = j->free_head;
		j->free_head = j->recs[i].hnext;
	} else {
		if (j->nrecs == j->cap) {
			size_t cap = j->cap ? j->cap * 2 : 256;
			joy_rec *nr = realloc(j->recs, cap * sizeof *nr);
			if (!nr)
				return -1;
			j->recs = nr;
			j->cap = cap;
		}
		i = (int32_t)j->nrecs++;
	}
	joy_rec *r = &j->recs[i];
	memset(r, 0, offsetof(joy_rec, pkt_len));
	memset(&r->ttl, 0, sizeof *r - offsetof(joy_rec, ttl));
	r->key = *k;
	r->ttl = 255;
	r->live = 1;
	r->twin = -1;
	uint32_t h = key_hash(k) & (j->nbuckets - 1);
	r->hnext = j->buckets[h];
	j->buckets[h] = i;
	j->live++;
	joy_key rk = *k;
	memcpy(rk.sa, k->da, 16);
	memcpy(rk.da, k->sa, 16);
	rk.sp = k->dp;
	rk.dp = k->sp;
	int32_t t = find(j, &rk);
	if (t >= 0 && t != i && j->recs[t].twin < 0) {
		j->recs[t].twin = i;
		r->twin = t;
	} else {
		chrono_append(j, i); /* no reverse, a reverse already paired, or its own reverse */
	}
	return i;
}

static void add_pkt(joy_rec *r, uint32_t n, int64_t ts)
{
	r->pkt_len[r->op] = (uint16_t)n;
	r->pkt_time[r->op] = ts;
	r->op++;
}

/* proto_identify: the keywords of Joy's TCP and UDP tables, matched as
 * prefixes of a payload (-1: any byte). A match sets the side's direction. */
typedef struct joy_keyword {
	int16_t b[10];
	uint8_t n, dir;
} joy_keyword;

static const joy_keyword tcp_keywords[] = {
	{{0x16, 3, 1, -1, -1, 1}, 6, JOY_DIR_CLIENT}, {{0x16, 3, 1, -1, -1, 2}, 6, JOY_DIR_SERVER},
	{{0x16, 3, 2, -1, -1, 1}, 6, JOY_DIR_CLIENT}, {{0x16, 3, 2, -1, -1, 2}, 6, JOY_DIR_SERVER},
	{{0x16, 3, 3, -1, -1, 1}, 6, JOY_DIR_CLIENT}, {{0x16, 3, 3, -1, -1, 2}, 6, JOY_DIR_SERVER},
	{{'G', 'E', 'T', ' '}, 4, JOY_DIR_CLIENT},
	{{'P', 'O', 'S', 'T', ' '}, 5, JOY_DIR_CLIENT},
	{{'O', 'P', 'T', 'I', 'O', 'N', 'S', ' '}, 8, JOY_DIR_CLIENT},
	{{'H', 'E', 'A', 'D', ' '}, 5, JOY_DIR_CLIENT},
	{{'P', 'U', 'T', ' '}, 4, JOY_DIR_CLIENT},
	{{'D', 'E', 'L', 'E', 'T', 'E', ' '}, 7, JOY_DIR_CLIENT},
	{{'T', 'R', 'A', 'C', 'E', ' '}, 6, JOY_DIR_CLIENT},
	{{'C', 'O', 'N', 'N', 'E', 'C', 'T', ' '}, 8, JOY_DIR_CLIENT},
	{{'H', 'T', 'T', 'P', '/', '1', '.', '1', ' '}, 9, JOY_DIR_SERVER},
};
/* A DNS query (flags 0x0100, one question, no answers) marks its sender as
 * the server, so the resolver is printed as "sa". */
static const joy_keyword udp_keywords[] = {{{-1, -1, 1, 0, 0, 1, 0, 0}, 8, JOY_DIR_SERVER}};

static int identify(const joy_keyword *kw, size_t nkw, const cf_frame *f, size_t at, uint32_t n)
{
	for (size_t k = 0; k < nkw; k++) {
		if (n < kw[k].n)
			continue;
		size_t i = 0;
		while (i < kw[k].n && (kw[k].b[i] < 0 || byte_at(f, at + i) == kw[k].b[i]))
			i++;
		if (i == kw[k].n)
			return kw[k].dir;
	}
	return JOY_DIR_NONE;
}

/* ------------------------------------------------------------ packets */

/* process_tcp. -1: malformed (data offset under 20 or past the segment;
 * the key's ports stay 0); -3: a retransmission (its record then says so
 * in is_tcp_retrans). */
static int32_t joy_tcp(cf_joy *j, const cf_frame *f, size_t t, int64_t tlen, joy_key *k, int64_t ts)
{
	uint32_t hl = (uint32_t)(byte_at(f, t + 12) >> 4) * 4;
	if (hl < 20 || (int64_t)hl > tlen)
		return -1;
	int64_t n = tlen - hl;
	k->sp = be16_at(f, t);
	k->dp = be16_at(f, t + 2);
	int32_t i = get_record(j, k);
	if (i < 0)
		return -2;
	joy_rec *r = &j->recs[i];
	uint32_t seq = be32_at(f, t + 4);
	uint8_t fl = byte_at(f, t + 13);
	uint16_t win = be16_at(f, t + 14);
	if (n > 0) {
		/* a segment whose seq is one of the last 10 stored is a retransmission */
		int rc = 0;
		uint16_t n16 = (uint16_t)n;
		for (int e = 0; e < JOY_RETRANS_RING; e++) {
			if (r->rseq[e] == seq) {
				if (r->rlen[e] < n16) {
					r->rlen[e] = n16;
					rc = 2;
				} else {
					rc = 1;
				}
				break;
			}
		}
		r->is_tcp_retrans = (uint8_t)rc;
		if (rc) {
			r->retrans++;
			return -3;
		}
		if (r->op < JOY_MAX_PKT_LEN - 1) {
			add_pkt(r, (uint32_t)n, ts);
			r->rseq[r->rtail] = seq;
			r->rlen[r->rtail] = n16;
			r->rtail = (uint8_t)((r->rtail + 1) % JOY_RETRANS_RING);
		}
	}
	if (fl == 0x02 || fl == 0x12) { /* exactly SYN or SYN|ACK */
		if (!r->flags)
			r->flags = fl;
		if (fl == 0x02 && !r->first_seq)
			r->first_seq = seq;
		if (!r->first_win)
			r->first_win = win;
		uint32_t ol = hl - 20;
		if (ol > 0) { /* the last SYN with options wins */
			if (ol > JOY_OPT_MAX)
				ol = JOY_OPT_MAX;
			r->opt_len = (uint8_t)ol;
			for (uint32_t b = 0; b < ol; b++)
				r->opts[b] = byte_at(f, t + 20 + b);
		}
	}
	r->ob = (uint16_t)(r->ob + (uint64_t)n);
	if (!r->app && r->op <= 2 && n > 0) {
		int d = identify(tcp_keywords, sizeof tcp_keywords / sizeof *tcp_keywords, f, t + hl, (uint32_t)n);
		if (d) {
			r->app = 1;
			r->dir = (uint8_t)d;
		}
	}
	return i;
}

/* process_udp / process_icmp / process_ip. udp and icmp: -1 when shorter
 * than 8 bytes. */
static int32_t joy_other(cf_joy *j, const cf_frame *f, size_t t, int64_t tlen, joy_key *k, int64_t ts,
                         int kind)
{
	uint32_t n;
	if (kind == 17 || kind == 1) {
		if (tlen < 8)
			return -1;
		n = (uint32_t)(tlen - 8);
		if (kind == 17) {
			k->sp = be16_at(f, t);
			k->dp = be16_at(f, t + 2);
		}
	} else {
		n = (uint32_t)tlen;
	}
	int32_t i = get_record(j, k);
	if (i < 0)
		return -2;
	joy_rec *r = &j->recs[i];
	if (r->op < JOY_MAX_PKT_LEN && n != 0)
		add_pkt(r, n, ts);
	r->ob = (uint16_t)(r->ob + n);
	if (kind == 17 && !r->app && r->op <= 2 && n > 0) {
		int d = identify(udp_keywords, 1, f, t + 8, n);
		if (d) {
			r->app = 1;
			r->dir = (uint8_t)d;
		}
	}
	return i;
}

static int joy_packet(cf_joy *j, const cf_frame *f)
{
	int64_t ts = floor_div(f->ts_ns, 1000);
	uint16_t et = be16_at(f, 12);
	size_t off = 14;
	if (et == 0x8100 || et == 0x88a8) {
		et = be16_at(f, 16);
		off = 18;
		if (et == 0x8100 || et == 0x88a8) {
			et = be16_at(f, 20);
			off = 22;
		}
	}
	int v6;
	uint32_t hl;
	int64_t ip_len;
	if (et == 0x0800) {
		v6 = 0;
		hl = (uint32_t)(byte_at(f, off) & 15) * 4;
		if (hl < 20)
			return 0;
		ip_len = be16_at(f, off + 2);
		if (ip_len < 20)
			return 0;
	} else if (et == 0x86dd) {
		v6 = 1;
		hl = 40;
		ip_len = (int64_t)be16_at(f, off + 4) + 40;
		if (f->caplen < 40)
			return 0;
	} else {
		return 0;
	}
	/* snapshot truncation, as Joy tests it: against caplen, link header included */
	if (ip_len > (int64_t)f->caplen)
		ip_len = (int64_t)f->caplen - (int64_t)off;
	joy_key k;
	memset(&k, 0, sizeof k);
	int64_t tlen;
	size_t t;
	if (v6) {
		uint8_t nh = byte_at(f, off + 6);
		unsigned next = 0;
		for (;;) {
			if (nh == 0 || nh == 43 || nh == 44 || nh == 50 || nh == 51 || nh == 60) {
				/* every extension header taken as 8 bytes */
				size_t at = off + 40 + 8 * (size_t)next;
				if (at >= f->caplen) /* Joy would walk on through memory: stop here */
					return 0;
				nh = byte_at(f, at);
				next++;
			} else if (nh == 59) {
				return 0;
			} else {
				break;
			}
		}
		k.prot = nh;
		for (int b = 0; b < 16; b++) {
			k.sa[b] = byte_at(f, off + 8 + (size_t)b);
			k.da[b] = byte_at(f, off + 24 + (size_t)b);
		}
		tlen = ip_len - 40; /* extension headers counted as payload */
		t = off + 40 + 8 * (size_t)next;
	} else {
		for (int b = 0; b < 4; b++) {
			k.sa[b] = byte_at(f, off + 12 + (size_t)b);
			k.da[b] = byte_at(f, off + 16 + (size_t)b);
		}
		k.prot = (be16_at(f, off + 6) & 0x3fff) ? 0 : byte_at(f, off + 9); /* fragments: protocol 0 */
		tlen = ip_len - hl;
		t = off + hl;
	}
	if (ts > j->global_us)
		j->global_us = ts;
	int32_t i;
	if (k.prot == 6) {
		i = joy_tcp(j, f, t, tlen, &k, ts);
		if (i == -1 || i == -3) {
			/* Joy looks the key up without creating it: a retransmission
			 * stops there; a malformed segment whose (ports 0) record
			 * exists joins it without bytes or a listed packet (only the
			 * first one goes through process_ip) */
			int32_t x = find(j, &k);
			if (x >= 0) {
				j->recs[x].ip_type = v6 ? 6 : 4;
				if (j->recs[x].is_tcp_retrans)
					return 0;
				i = x;
			} else if (i == -3) {
				return 0;
			}
		}
	} else if (k.prot == 17 || k.prot == 1 || k.prot == 58) {
		i = joy_other(j, f, t, tlen, &k, ts, k.prot == 17 ? 17 : 1);
	} else {
		i = joy_other(j, f, t, tlen, &k, ts, 0);
	}
	if (i == -1) { /* malformed transport header: process_ip, ports 0, "invalid" */
		k.sp = k.dp = 0;
		i = joy_other(j, f, t, tlen, &k, ts, 0);
		if (i >= 0)
			j->recs[i].invalid = 1;
	}
	if (i < 0)
		return CF_ERR_NOMEM;
	joy_rec *r = &j->recs[i];
	r->ip_type = v6 ? 6 : 4;
	uint8_t ttl = byte_at(f, off + (v6 ? 7 : 8));
	if (!v6 && r->nids < JOY_MAX_IDS)
		r->ids[r->nids++] = be16_at(f, off + 4);
	if (ttl < r->ttl)
		r->ttl = ttl;
	r->np++;
	if (r->start)
		r->end = ts;
	else
		r->start = r->end = ts;
	return due_touch(j, i) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ printing */

static int grow(cf_joy *j, size_t more)
{
	if (j->len + more <= j->lcap)
		return 0;
	size_t cap = j->lcap ? j->lcap : 4096;
	while (cap < j->len + more)
		cap *= 2;
	char *p = realloc(j->line, cap);
	if (!p)
		return -1;
	j->line = p;
	j->lcap = cap;
	return 0;
}

static void put(cf_joy *j, const char *s)
{
	size_t n = strlen(s);
	if (grow(j, n) < 0) {
		j->failed = 1;
		return;
	}
	memcpy(j->line + j->len, s, n);
	j->len += n;
}

static void putf(cf_joy *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(cf_joy *j, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	put(j, buf);
}

static void put_time(cf_joy *j, int64_t us)
{
	int64_t s = floor_div(us, 1000000);
	putf(j, "%lld.%06lld", (long long)s, (long long)(us - s * 1000000));
}

/* utils.c's ms: whole milliseconds, floored, as an unsigned int */
static uint32_t joy_ms(int64_t dus)
{
	return (uint32_t)floor_div(dus, 1000);
}

static void put_packet(cf_joy *j, uint16_t n, const char *dir, int64_t dus)
{
	if (n < 32768)
		putf(j, "{\"b\":%u,\"dir\":\"%s\",\"ipt\":%u}", n, dir, joy_ms(dus));
	else
		putf(j, "{\"rep\":%u,\"dir\":\"%s\",\"ipt\":%u}", 65536u - n, dir, joy_ms(dus));
}

static void put_ip_side(cf_joy *j, const joy_rec *r)
{
	putf(j, "{\"ttl\":%u", r->ttl);
	if (r->nids) {
		put(j, ",\"id\":[");
		for (unsigned k = 0; k < r->nids; k++)
			putf(j, k ? ",%u" : "%u", r->ids[k]);
		put(j, "]");
	}
	put(j, "}");
}

static void put_hex(cf_joy *j, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (grow(j, 2 * n) < 0) {
		j->failed = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		j->line[j->len++] = hex[p[i] >> 4];
		j->line[j->len++] = hex[p[i] & 15];
	}
}

/* ppi.c's option list, over at most 24 bytes */
static void put_opts(cf_joy *j, const uint8_t *o, unsigned total)
{
	put(j, ",\"opts\":[");
	unsigned p = 0;
	int first = 1;
	while (total > 0) {
		uint8_t kind = o[p];
		unsigned ol;
		if (kind == 0)
			break;
		if (kind == 1)
			ol = 1;
		else if (total > 1)
			ol = o[p + 1];
		else
			break;
		if (!first)
			put(j, ",");
		first = 0;
		if (ol > total || ol == 0) {
			putf(j, "{\"malformed\":{\"kind\":%u,\"len\":%u}}", kind, ol);
			break;
		}
		const uint8_t *d = o + p + 2;
		unsigned dl = ol >= 2 ? ol - 2 : 0;
		if (kind == 1) {
			put(j, "{\"noop\":null}");
		} else if (kind == 4) {
			put(j, "{\"sackp\":null}");
		} else if ((kind == 2 && dl == 2) || (kind == 3 && dl == 1) || (kind == 8 && dl == 8)) {
			if (kind == 2)
				putf(j, "{\"mss\":%u}", (unsigned)(d[0] << 8 | d[1]));
			else if (kind == 3)
				putf(j, "{\"ws\":%u}", d[0]);
			else
				putf(j, "{\"ts\":{\"val\":%u,\"ecr\":%u}}",
				     (unsigned)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3]),
				     (unsigned)((uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7]));
		} else if (kind == 2 || kind == 3 || kind == 8) {
			putf(j, "{\"malformed\":{\"kind\":%u,\"data\":\"", kind);
			put_hex(j, d, dl);
			putf(j, "\",\"len\":%u}}", dl);
		} else {
			putf(j, "{\"kind\":%u,\"data\":\"", kind);
			put_hex(j, d, dl);
			put(j, "\"}");
		}
		total -= ol;
		p += ol;
	}
	put(j, "]");
}

static int tcp_side_nonempty(const joy_rec *r)
{
	return r->flags || r->first_win || r->opt_len;
}

static void put_tcp_side(cf_joy *j, const joy_rec *r)
{
	static const char letters[] = "FSRPAUEC";
	int any = 0;
	if (r->flags) {
		char s[9];
		int n = 0;
		for (int b = 0; b < 8; b++)
			if (r->flags & (1u << b))
				s[n++] = letters[b];
		s[n] = 0;
		putf(j, "\"flags\":\"%s\"", s);
		any = 1;
	}
	if (r->first_win) {
		putf(j, "%s\"first_window_size\":%u", any ? "," : "", r->first_win);
		any = 1;
	}
	if (r->opt_len) {
		putf(j, "%s\"opt_len\":%u", any ? "," : "", r->opt_len);
		put_opts(j, r->opts, r->opt_len);
	}
}

static void put_tcp(cf_joy *j, const joy_rec *rec, const joy_rec *tw)
{
	int have_seq = rec->first_seq || (tw && tw->first_seq);
	int out = tcp_side_nonempty(rec), in = tw && tcp_side_nonempty(tw);
	if (!have_seq && !out && !in)
		return;
	put(j, ",\"tcp\":{");
	int any = 0;
	if (rec->first_seq || (tw && tw->first_seq)) {
		putf(j, "\"first_seq\":%u", rec->first_seq ? rec->first_seq : tw->first_seq);
		any = 1;
	}
	if (out) {
		put(j, any ? ",\"out\":{" : "\"out\":{");
		put_tcp_side(j, rec);
		put(j, "}");
		any = 1;
	}
	if (in) {
		put(j, any ? ",\"in\":{" : "\"in\":{");
		put_tcp_side(j, tw);
		put(j, "}");
	}
	put(j, "}");
}

/* osdetect.c: (minimum TTL, first window) against ten signatures */
static const char *detect_os(unsigned ttl, unsigned win)
{
	static const struct {
		uint8_t lo, hi;
		uint16_t win;
		const char *name;
	} os[] = {{33, 64, 5840, "Linux 2.4 and 2.6"},
	          {33, 64, 5720, "Google Customized Linux"},
	          {33, 64, 16384, "OpenBSD, AIX 4.3"},
	          {33, 64, 32120, "Linux Kernel 2.2"},
	          {33, 64, 65535, "FreeBSD / OS X"},
	          {65, 128, 8192, "Windows 7, Vista, and Server 8"},
	          {65, 128, 16384, "Windows 2000"},
	          {65, 128, 65535, "Windows XP"},
	          {129, 255, 4128, "Cisco Router IOS 12.4"},
	          {129, 255, 8760, "Solaris 7"}};
	for (size_t i = 0; i < sizeof os / sizeof *os; i++)
		if (ttl >= os[i].lo && ttl <= os[i].hi && win == os[i].win)
			return os[i].name;
	return NULL;
}

static void put_addr(cf_joy *j, const uint8_t *a, int v6)
{
	char s[INET6_ADDRSTRLEN];
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, s, sizeof s);
	put(j, s);
}

/* One record (p2f.c's flow_record_print_json): `record` is the first-seen
 * side; the client side is printed as sa / "out" / ">". */
static void print_record(cf_joy *j, int32_t ri)
{
	const joy_rec *record = &j->recs[ri];
	const joy_rec *tw = record->twin >= 0 ? &j->recs[record->twin] : NULL;
	const joy_rec *rec = record;
	int64_t t0 = record->start, t1 = record->end;
	if (tw) {
		const joy_rec *a = record, *b = tw, *c = NULL;
		if (a->dir == JOY_DIR_CLIENT)
			c = a;
		else if (b->dir == JOY_DIR_CLIENT)
			c = b;
		else if (a->dir == JOY_DIR_SERVER)
			c = b;
		else if (b->dir == JOY_DIR_SERVER)
			c = a;
		else if (!a->flags && !b->flags)
			c = NULL;
		else if (a->flags == 0x02 && b->flags == 0x02)
			c = NULL;
		else if (a->flags == 0x02)
			c = a;
		else if (b->flags == 0x02)
			c = b;
		else if (a->flags == 0x12 && b->flags == 0x12)
			c = NULL;
		else if (a->flags == 0x12)
			c = b;
		else if (b->flags == 0x12)
			c = a;
		if (c) {
			rec = c;
			t0 = c->start;
			t1 = record->end; /* the first-seen side's end, as Joy */
		} else {
			rec = record->start < tw->start ? record : tw;
			t0 = rec->start;
			t1 = record->end < tw->end ? tw->end : record->end;
		}
	}
	const joy_rec *other = rec == record ? tw : record;
	j->len = 0;
	int v6 = rec->ip_type == 6;
	put(j, "{\"sa\":\"");
	put_addr(j, rec->key.sa, v6);
	put(j, "\",\"da\":\"");
	put_addr(j, rec->key.da, v6);
	putf(j, "\",\"pr\":%u,", rec->key.prot);
	if (rec->key.prot == 6 || rec->key.prot == 17)
		putf(j, "\"sp\":%u,\"dp\":%u,", rec->key.sp, rec->key.dp);
	else
		put(j, "\"sp\":null,\"dp\":null,");
	putf(j, "\"bytes_out\":%u,\"num_pkts_out\":%u,", rec->ob, rec->np);
	if (other)
		putf(j, "\"bytes_in\":%u,\"num_pkts_in\":%u,", other->ob, other->np);
	put(j, "\"time_start\":");
	put_time(j, t0);
	put(j, ",\"time_end\":");
	put_time(j, t1);
	put(j, ",\"packets\":[");
	unsigned imax = rec->op < JOY_NUM_PKTS ? rec->op : JOY_NUM_PKTS;
	if (!other) {
		for (unsigned i = 0; i < imax; i++) {
			if (i)
				put(j, ",");
			put_packet(j, rec->pkt_len[i], "<", i ? rec->pkt_time[i] - rec->pkt_time[i - 1] : 0);
		}
	} else {
		unsigned jmax = other->op < JOY_NUM_PKTS ? other->op : JOY_NUM_PKTS;
		unsigned a = 0, b = 0;
		int64_t last = t0;
		while (a < imax || b < jmax) {
			if (a + b)
				put(j, ",");
			if (b >= jmax || (a < imax && rec->pkt_time[a] < other->pkt_time[b])) {
				put_packet(j, rec->pkt_len[a], ">", rec->pkt_time[a] - last);
				last = rec->pkt_time[a++];
			} else { /* ties go to the other side */
				put_packet(j, other->pkt_len[b], "<", other->pkt_time[b] - last);
				last = other->pkt_time[b++];
			}
		}
	}
	put(j, "],\"ip\":{\"out\":");
	put_ip_side(j, rec);
	if (other) {
		put(j, ",\"in\":");
		put_ip_side(j, other);
	}
	put(j, "}");
	if (rec->key.prot == 6)
		put_tcp(j, rec, other);
	const char *os_out = detect_os(rec->ttl, rec->first_win);
	const char *os_in = other && other->ttl ? detect_os(other->ttl, other->first_win) : NULL;
	if (os_out || os_in) {
		put(j, ",\"probable_os\":{");
		if (os_out)
			putf(j, "\"out\":\"%s\"", os_out);
		if (os_in)
			putf(j, "%s\"in\":\"%s\"", os_out ? "," : "", os_in);
		put(j, "}");
	}
	uint32_t rt = rec->retrans + (other ? other->retrans : 0);
	unsigned inv = rec->invalid + (other ? other->invalid : 0);
	if (rt || inv) {
		put(j, ",\"debug\":{");
		if (rt)
			putf(j, "\"tcp_retrans\":%u", rt);
		if (inv)
			putf(j, "%s\"invalid\":%u", rt ? "," : "", inv);
		put(j, "}");
	}
	if (rec->exp_type) /* set on the first-seen side only */
		putf(j, ",\"expire_type\":\"%c\"", rec->exp_type);
	put(j, "}\n");
	if (j->failed)
		return;
	if (j->write(j->user, j->line, j->len) < 0)
		j->failed = 1;
	j->records++;
}

/* p2f.c's expiry walk over the list, in creation order; all: end of file. */
static void print_expired(cf_joy *j, int32_t i, char e)
{
	joy_rec *r = &j->recs[i];
	if (e)
		r->exp_type = e;
	print_record(j, i);
	if (r->twin >= 0)
		rec_delete(j, r->twin);
	rec_delete(j, i);
}

static void expire(cf_joy *j, int all)
{
	if (all) {
		for (int32_t i = j->chead; i >= 0;) {
			int32_t next = j->recs[i].cnext;
			print_expired(j, i, 0);
			i = next;
		}
		j->nheap = 0;
		return;
	}
	int64_t inactive = j->global_us - JOY_INACTIVE_US, active = inactive - JOY_ACTIVE_US;
	/* the records due: every heap entry older than now, checked again with
	 * the records' current times (an entry may be stale) */
	j->ndue = 0;
	while (j->nheap && j->heap[0].key < j->global_us) {
		joy_due d = heap_pop(j);
		joy_rec *r = &j->recs[d.rec];
		if (!r->live || !r->in_chrono || r->seq != d.seq || r->due)
			continue;
		int64_t t = due_time(j, d.rec);
		if (t >= j->global_us) {
			r->due_key = t;
			if (heap_push(j, t, d.rec, d.seq) < 0)
				j->failed_nomem = 1;
			continue;
		}
		if (j->ndue == j->due_cap) {
			size_t cap = j->due_cap ? j->due_cap * 2 : 256;
			int32_t *q = realloc(j->due_list, cap * sizeof *q);
			if (!q) {
				j->failed_nomem = 1;
				r->due_key = t;
				heap_push(j, t, d.rec, d.seq);
				break;
			}
			j->due_list = q;
			j->due_cap = cap;
		}
		r->due = 1;
		j->due_list[j->ndue++] = d.rec;
	}
	/* printed in the list's (creation) order, as Joy's walk prints them */
	if (j->ndue > 1)
		qsort_r(j->due_list, j->ndue, sizeof *j->due_list, cmp_seq, j);
	for (size_t k = 0; k < j->ndue; k++) {
		int32_t i = j->due_list[k];
		joy_rec *r = &j->recs[i];
		const joy_rec *tw = r->twin >= 0 ? &j->recs[r->twin] : NULL;
		r->due = 0;
		char e = 0;
		if (r->start < active && (!tw || tw->start < active))
			e = 'a';
		else if (r->end < inactive && (!tw || tw->end < inactive))
			e = 'i';
		if (e)
			print_expired(j, i, e);
	}
}

/* ------------------------------------------------------------ API */

int cf_joy_open(cf_joy_write_fn write, void *user, cf_joy **out, char *errbuf)
{
	*out = NULL;
	cf_joy *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	j->write = write;
	j->user = user;
	j->free_head = j->chead = j->ctail = -1;
	/* Joy's default filter: what it drops never reaches the 10-packet count */
	int rc = cf_filter_open("ip or ip6 or vlan", &j->filter, errbuf);
	if (rc < 0 || rehash(j, 1024) < 0) {
		cf_joy_close(j);
		if (rc >= 0)
			snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return rc < 0 ? rc : CF_ERR_NOMEM;
	}
	*out = j;
	return CF_OK;
}

int cf_joy_frame(cf_joy *j, const cf_frame *f)
{
	if (j->failed)
		return CF_ERR_IO;
	if (!cf_filter_match(j->filter, f))
		return CF_OK;
	if (joy_packet(j, f) < 0)
		return CF_ERR_NOMEM;
	if (++j->batch == JOY_BATCH) {
		j->batch = 0;
		expire(j, 0);
	}
	if (j->failed_nomem)
		return CF_ERR_NOMEM;
	return j->failed ? CF_ERR_IO : CF_OK;
}

int cf_joy_end(cf_joy *j)
{
	expire(j, 0); /* after the last, short batch */
	expire(j, 1);
	j->batch = 0;
	j->global_us = 0;
	return j->failed ? CF_ERR_IO : CF_OK;
}

int cf_joy_scan_file(cf_joy *j, const char *path, uint64_t *frames, char *errbuf)
{
	cf_reader *r;
	*frames = 0;
	int rc = cf_reader_open(path, &r, errbuf);
	if (rc < 0)
		return rc;
	cf_frame f;
	while ((rc = cf_reader_next(r, &f)) == CF_OK) {
		(*frames)++;
		if ((rc = cf_joy_frame(j, &f)) < 0) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s: %s", path,
			         rc == CF_ERR_NOMEM ? "out of memory" : "writing the records failed");
			cf_reader_close(r);
			return rc;
		}
	}
	int st = CF_OK;
	if (rc != CF_EOF) {
		st = rc;
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", cf_reader_error(r));
	}
	cf_reader_close(r);
	if (cf_joy_end(j) < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s: writing the records failed", path);
		return CF_ERR_IO;
	}
	return st;
}

uint64_t cf_joy_records(const cf_joy *j)
{
	return j ? j->records : 0;
}

void cf_joy_close(cf_joy *j)
{
	if (!j)
		return;
	cf_filter_close(j->filter);
	free(j->recs);
	free(j->buckets);
	free(j->heap);
	free(j->due_list);
	free(j->line);
	free(j);
}

size_t cf_joy_config_line(char *buf, size_t cap, const char *output)
{
	char name[1024];
	size_t k = 0;
	for (const char *p = output ? output : "-"; *p && k + 7 < sizeof name; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			k += (size_t)snprintf(name + k, sizeof name - k, "\\%c", c);
		else if (c < 0x20)
			k += (size_t)snprintf(name + k, sizeof name - k, "\\u%04x", c);
		else
			name[k++] = (char)c;
	}
	name[k] = 0;
	int n = snprintf(buf, cap,
	                 "{\"version\":\"4.5.0\",\"generator\":\"cuflow %s --joy-compat\",\"interface\":\"none\","
	                 "\"promisc\":0,\"output\":\"%s\",\"outputdir\":\".\",\"username\":\"none\",\"info\":\"none\","
	                 "\"count\":0,\"upload\":\"none\",\"keyfile\":\"none\",\"retain\":0,\"bidir\":1,\"num_pkts\":50,"
	                 "\"zeros\":0,\"retrans\":0,\"dist\":0,\"cdist\":\"none\",\"entropy\":0,\"hd\":0,\"classify\":0,"
	                 "\"idp\":0,\"exe\":0,\"anon\":\"none\",\"useranon\":\"none\",\"bpf\":\"none\",\"verbosity\":4,"
	                 "\"threads\":1,\"updater\":0,\"wht\":0,\"example\":0,\"dns\":0,\"ssh\":0,\"tls\":0,\"dhcp\":0,"
	                 "\"dhcpv6\":0,\"http\":0,\"ike\":0,\"payload\":0,\"salt\":0,\"ppi\":0,\"fpx\":0,\"end-config\":1}\n",
	                 cf_version(), name);
	return n < 0 ? 0 : (size_t)n;
}

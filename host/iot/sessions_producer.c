/*
 * The "sessions" producer (cuflow/iot.h, docs/sessions.md): one-direction
 * sessions keyed by (VLAN, IP version, protocol, source, destination,
 * ports), the device (source MAC) that sent each, what every sending MAC
 * showed of itself in the input (vendor, DHCP hostname and vendor class,
 * source IPs), and one row per DNS query. Everything happens in the frame
 * hook: the record and the frame's bytes arrive together, so a DNS query
 * is tied to the session its packet went to.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "cuflow/iot.h"
#include "cuflow/producers.h"
#include "iot/row_builder.h"

#define NS 1000000000LL
#define MAX_IPS_PER_MAC 64
#define DNS_MATCH_BACK 4096 /* a response is matched against the last this many queries */

enum { T_SESSIONS, T_DEVICES, T_DEVICE_IPS, T_DNS, N_TABLES };
static const char *const table_names[N_TABLES] = {"sessions", "devices", "device_ips", "dns"};

enum {
	C_SESSIONS, C_PACKETS_FILTERED, C_PACKETS_NOT_IP, C_PACKETS_SKIPPED, C_DEVICES, C_DEVICE_IPS_DROPPED, C_DNS_QUERIES,
	C_DNS_ANSWERED, C_DNS_UNANSWERED, C_DNS_RESPONSES_UNMATCHED, C_DNS_UNPARSED, C_DHCP_MESSAGES, C_DHCP_UNPARSED,
	C_COUNT
};
static const char *const counter_names[C_COUNT] = {
	"sessions", "packets_filtered", "packets_not_ip", "packets_skipped", "devices", "device_ips_dropped", "dns_queries", "dns_answered",
	"dns_unanswered", "dns_responses_unmatched", "dns_unparsed", "dhcp_messages", "dhcp_unparsed"};

/* A session's key: no padding, compared with memcmp. */
typedef struct skey {
	uint8_t ver, proto;
	uint16_t vlan, sport, dport;
	uint8_t src[16], dst[16];
} skey;

typedef struct sess {
	skey k;
	uint64_t id;          /* 0: an empty slot */
	int64_t first, last;
	uint64_t bytes, pkts;
	uint8_t smac[6], dmac[6];
	uint8_t has_mac, ended; /* ended: FIN (1) or RST (2) seen */
} sess;

typedef struct device {
	uint64_t mac;         /* mac48 + 1; 0: an empty slot */
	int64_t first, last;
	uint64_t pkts, bytes;
	uint32_t nips;
	char hostname[64], vendor_class[64];
} device;

typedef struct dev_ip {
	uint64_t mac;         /* mac48 + 1; 0: empty */
	uint8_t ver, ip[16];
	int64_t first, last;
	uint64_t pkts;
} dev_ip;

typedef struct query {
	uint64_t session;
	uint8_t mac[6], has_mac, mdns, answered, tcp;
	uint16_t txid, qtype;
	uint8_t rcode;
	int64_t ts;
	skey k;               /* the query's session key (the response's reversed) */
	char qname[CF_DNS_NAME_MAX + 1];
	char answers[CF_DNS_ANSWERS_MAX];
} query;

struct sessions_prod {
	cf_producer_env env;
	cf_sessions_producer_config cfg;
	cf_oui_registry *oui;
	cf_device_types *types;
	char *default_type;
	cf_table_schema *schema[N_TABLES];
	row_builder rb[N_TABLES];
	const char *path;
	/* sessions: open addressing, linear probing */
	sess *tab;
	size_t cap, count;
	uint64_t next_id;
	int64_t idle_ns, active_ns, next_sweep;
	/* devices of this input */
	device *dev;
	size_t dev_cap, dev_count;
	dev_ip *ips;
	size_t ips_cap, ips_count;
	/* DNS queries waiting for their answer, oldest first (a ring) */
	query *q;
	size_t q_cap, q_head, q_len;
	int64_t dns_timeout_ns;
	uint64_t ctr[C_COUNT];
	cf_producer_counter out_ctr[C_COUNT];
	char err[CF_ERRBUF_SIZE];
};

void cf_sessions_producer_config_default(cf_sessions_producer_config *c)
{
	memset(c, 0, sizeof *c);
	c->idle_timeout_s = 120;
	c->dns_timeout_s = 10;
	c->batch_rows = 4096;
}

static uint64_t mac48(const uint8_t m[6])
{
	uint64_t v = 0;
	for (int i = 0; i < 6; i++)
		v = v << 8 | m[i];
	return v;
}

static void mac_text(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void mac_from48(uint64_t v, uint8_t m[6])
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		m[i] = (uint8_t)v;
}

static void ip_text(const uint8_t *a, int ver, char out[46])
{
	if (!inet_ntop(ver == 6 ? AF_INET6 : AF_INET, a, out, 46))
		snprintf(out, 46, "?");
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/* The keys' bytes eight at a time, each word multiplied in (a key is 8 to
 * 40 bytes, hashed once or twice per packet). */
static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, b, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	return mix(h);
}

/* ------------------------------------------------------------ schema */

static int add(cf_table_schema *s, const char *name, int dtype, const char *unit, const char *doc, uint32_t flags,
               char *err)
{
	return cf_table_schema_add(s, name, dtype, 1, unit, doc, flags, err) != CF_OK;
}

static int build_schemas(struct sessions_prod *p, char *err)
{
	for (int t = 0; t < N_TABLES; t++)
		if (cf_table_schema_create(&p->schema[t], err) != CF_OK)
			return 1;
	const uint32_t N = CF_COLUMN_NULLABLE;
	cf_table_schema *s = p->schema[T_SESSIONS];
	int bad = 0;
	bad |= add(s, "sessionid", CF_DTYPE_UINT64, "", "the session's id, numbered over the run in order of first packet",
	           CF_COLUMN_RUN_ID, err);
	bad |= add(s, "srcmac", CF_DTYPE_STRING, "", "source MAC of the first packet (the device that sent the session); NULL off Ethernet", N, err);
	bad |= add(s, "dstmac", CF_DTYPE_STRING, "", "destination MAC of the first packet", N, err);
	bad |= add(s, "srcip", CF_DTYPE_STRING, "", "source IP", 0, err);
	bad |= add(s, "dstip", CF_DTYPE_STRING, "", "destination IP", 0, err);
	bad |= add(s, "srcport", CF_DTYPE_UINT16, "", "source port (TCP, UDP, SCTP; NULL for other protocols)", N, err);
	bad |= add(s, "dstport", CF_DTYPE_UINT16, "", "destination port", N, err);
	bad |= add(s, "proto", CF_DTYPE_UINT8, "", "IP protocol number", 0, err);
	bad |= add(s, "lensum", CF_DTYPE_UINT64, "bytes", "frame bytes on the wire, summed", 0, err);
	bad |= add(s, "pktcount", CF_DTYPE_UINT64, "packets", "packets", 0, err);
	bad |= add(s, "starttime", CF_DTYPE_FLOAT64, "s", "earliest packet, epoch seconds", 0, err);
	bad |= add(s, "endtime", CF_DTYPE_FLOAT64, "s", "latest packet, epoch seconds (never before starttime)", 0, err);
	bad |= add(s, "end_reason", CF_DTYPE_STRING, "", "idle, active, fin, rst (a new SYN after them) or eof", 0, err);
	bad |= add(s, "capture_file", CF_DTYPE_STRING, "", "the input", 0, err);
	bad |= add(s, "vlan", CF_DTYPE_UINT16, "", "outer VLAN id (0 without)", 0, err);
	bad |= add(s, "ip_version", CF_DTYPE_UINT8, "", "4 or 6", 0, err);
	s = p->schema[T_DEVICES];
	bad |= add(s, "mac", CF_DTYPE_STRING, "", "the device's MAC (lower-case, colons)", 0, err);
	bad |= add(s, "manufacturer", CF_DTYPE_STRING, "", "IEEE registry organisation of the longest prefix; NULL when none or locally administered", N, err);
	bad |= add(s, "device_type", CF_DTYPE_STRING, "", "from --device-types (MAC, prefix, manufacturer) or the default; NULL = unlabelled", N, err);
	bad |= add(s, "first_seen", CF_DTYPE_FLOAT64, "s", "first frame it sent, epoch seconds", 0, err);
	bad |= add(s, "last_seen", CF_DTYPE_FLOAT64, "s", "last frame it sent", 0, err);
	bad |= add(s, "packets", CF_DTYPE_UINT64, "packets", "frames it sent", 0, err);
	bad |= add(s, "bytes", CF_DTYPE_UINT64, "bytes", "frame bytes it sent", 0, err);
	bad |= add(s, "hostname", CF_DTYPE_STRING, "", "DHCP option 12 of its last request naming one", N, err);
	bad |= add(s, "vendor_class", CF_DTYPE_STRING, "", "DHCP option 60", N, err);
	bad |= add(s, "local_admin", CF_DTYPE_UINT8, "", "1 for a locally administered MAC (random or assigned: no vendor)", 0, err);
	bad |= add(s, "oui_bits", CF_DTYPE_UINT8, "", "length of the registry prefix that matched: 24, 28, 36; 0 none", 0, err);
	s = p->schema[T_DEVICE_IPS];
	bad |= add(s, "mac", CF_DTYPE_STRING, "", "the device", 0, err);
	bad |= add(s, "ip", CF_DTYPE_STRING, "", "a source IP it used", 0, err);
	bad |= add(s, "first_seen", CF_DTYPE_FLOAT64, "s", "", 0, err);
	bad |= add(s, "last_seen", CF_DTYPE_FLOAT64, "s", "", 0, err);
	bad |= add(s, "packets", CF_DTYPE_UINT64, "packets", "", 0, err);
	s = p->schema[T_DNS];
	bad |= add(s, "sessionid", CF_DTYPE_UINT64, "", "the session of the query's packet", CF_COLUMN_RUN_ID, err);
	bad |= add(s, "mac", CF_DTYPE_STRING, "", "the querying device (source MAC)", N, err);
	bad |= add(s, "ts", CF_DTYPE_FLOAT64, "s", "the query's time, epoch seconds", 0, err);
	bad |= add(s, "qname", CF_DTYPE_STRING, "", "the first question's name, lower-case, no trailing dot", 0, err);
	bad |= add(s, "qtype", CF_DTYPE_UINT16, "", "its type (1 A, 28 AAAA, ...)", 0, err);
	bad |= add(s, "rcode", CF_DTYPE_UINT8, "", "the matching response's rcode; NULL when none was seen (and for mDNS)", N, err);
	bad |= add(s, "answers", CF_DTYPE_STRING, "", "A/AAAA/CNAME/PTR data of the response, space-separated", N, err);
	bad |= add(s, "mdns", CF_DTYPE_UINT8, "", "1 for multicast DNS (port 5353)", 0, err);
	bad |= add(s, "tcp", CF_DTYPE_UINT8, "", "1 when the query went over TCP", 0, err);
	return bad;
}

/* ------------------------------------------------------------ output */

static int flush_table(struct sessions_prod *p, int t)
{
	row_builder *b = &p->rb[t];
	if (!b->rows)
		return CF_OK;
	if (b->oom) {
		snprintf(p->err, sizeof p->err, "out of memory");
		return CF_ERR_NOMEM;
	}
	int st = p->env.emit(p->env.user, (uint32_t)t, rb_batch(b));
	rb_clear(b);
	if (st < 0)
		snprintf(p->err, sizeof p->err, "the rows of table %s could not be handed on: %s", table_names[t], cf_status_str(st));
	return st < 0 ? st : CF_OK;
}

static int row_done(struct sessions_prod *p, int t)
{
	return rb_end_row(&p->rb[t]) ? flush_table(p, t) : CF_OK;
}

static int emit_session(struct sessions_prod *p, const sess *s, const char *reason)
{
	row_builder *b = &p->rb[T_SESSIONS];
	char t[46];
	rb_u64(b, s->id);
	if (s->has_mac) {
		mac_text(s->smac, t);
		rb_cstr(b, t);
		mac_text(s->dmac, t);
		rb_cstr(b, t);
	} else {
		rb_null(b);
		rb_null(b);
	}
	ip_text(s->k.src, s->k.ver, t);
	rb_cstr(b, t);
	ip_text(s->k.dst, s->k.ver, t);
	rb_cstr(b, t);
	int ports = s->k.proto == 6 || s->k.proto == 17 || s->k.proto == 132;
	if (ports) {
		rb_u64(b, s->k.sport);
		rb_u64(b, s->k.dport);
	} else {
		rb_null(b);
		rb_null(b);
	}
	rb_u64(b, s->k.proto);
	rb_u64(b, s->bytes);
	rb_u64(b, s->pkts);
	rb_f64(b, (double)s->first / 1e9);
	rb_f64(b, (double)s->last / 1e9);
	rb_cstr(b, reason);
	rb_cstr(b, p->path);
	rb_u64(b, s->k.vlan);
	rb_u64(b, s->k.ver);
	p->ctr[C_SESSIONS]++;
	return row_done(p, T_SESSIONS);
}

static int emit_query(struct sessions_prod *p, const query *q)
{
	row_builder *b = &p->rb[T_DNS];
	char t[18];
	rb_u64(b, q->session);
	if (q->has_mac) {
		mac_text(q->mac, t);
		rb_cstr(b, t);
	} else {
		rb_null(b);
	}
	rb_f64(b, (double)q->ts / 1e9);
	rb_cstr(b, q->qname);
	rb_u64(b, q->qtype);
	if (q->answered) {
		rb_u64(b, q->rcode);
		rb_cstr(b, q->answers);
	} else {
		rb_null(b);
		rb_null(b);
	}
	rb_u64(b, q->mdns);
	rb_u64(b, q->tcp);
	p->ctr[q->answered ? C_DNS_ANSWERED : C_DNS_UNANSWERED] += !q->mdns;
	return row_done(p, T_DNS);
}

/* ------------------------------------------------------------ session table */

static int tab_grow(struct sessions_prod *p, size_t cap)
{
	sess *n = calloc(cap, sizeof *n);
	if (!n)
		return -1;
	for (size_t i = 0; i < p->cap; i++) {
		if (!p->tab[i].id)
			continue;
		size_t j = hash_bytes(&p->tab[i].k, sizeof(skey)) & (cap - 1);
		while (n[j].id)
			j = (j + 1) & (cap - 1);
		n[j] = p->tab[i];
	}
	free(p->tab);
	p->tab = n, p->cap = cap;
	return 0;
}

static int cmp_sess_id(const void *a, const void *b)
{
	uint64_t x = (*(const sess *const *)a)->id, y = (*(const sess *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* Ends the sessions idle at `now` (all of them when now is INT64_MAX, as
 * "eof"), in id order, and rebuilds the table without them. */
static int sweep(struct sessions_prod *p, int64_t now)
{
	int eof = now == INT64_MAX;
	size_t n = 0;
	sess **ended = malloc((p->count ? p->count : 1) * sizeof *ended);
	if (!ended) {
		snprintf(p->err, sizeof p->err, "out of memory");
		return CF_ERR_NOMEM;
	}
	for (size_t i = 0; i < p->cap; i++)
		if (p->tab[i].id && (eof || now - p->tab[i].last > p->idle_ns))
			ended[n++] = &p->tab[i];
	qsort(ended, n, sizeof *ended, cmp_sess_id);
	int st = CF_OK;
	for (size_t i = 0; i < n && st == CF_OK; i++) {
		st = emit_session(p, ended[i], eof ? "eof" : "idle");
		ended[i]->id = 0;
	}
	free(ended);
	if (n) {
		p->count -= n;
		size_t cap = p->cap;
		while (cap > 4096 && p->count * 8 < cap)
			cap /= 2;
		if (tab_grow(p, cap) < 0) { /* rehash: the gaps would break probing */
			snprintf(p->err, sizeof p->err, "out of memory");
			return CF_ERR_NOMEM;
		}
	}
	return st;
}

static void sess_start(struct sessions_prod *p, sess *s, const cf_pkt *pk, const uint8_t *frame)
{
	s->id = ++p->next_id;
	s->first = s->last = pk->ts_ns;
	s->bytes = s->pkts = 0;
	s->ended = 0;
	s->has_mac = frame && pk->linktype == 1 && pk->caplen >= 14;
	if (s->has_mac) {
		memcpy(s->dmac, frame, 6);
		memcpy(s->smac, frame + 6, 6);
	}
}

/* The session of an IP packet, created or restarted as needed. */
static int session_of(struct sessions_prod *p, const cf_pkt *pk, const uint8_t *frame, sess **out)
{
	skey k;
	memset(&k, 0, sizeof k);
	k.ver = pk->ip_version, k.proto = pk->proto, k.vlan = pk->vlan_count ? pk->vlan[0] : 0;
	if (k.proto == 6 || k.proto == 17 || k.proto == 132)
		k.sport = pk->sport, k.dport = pk->dport;
	memcpy(k.src, pk->src_ip, 16);
	memcpy(k.dst, pk->dst_ip, 16);
	if ((p->count + 1) * 2 > p->cap && tab_grow(p, p->cap * 2) < 0) {
		snprintf(p->err, sizeof p->err, "out of memory");
		return CF_ERR_NOMEM;
	}
	size_t j = hash_bytes(&k, sizeof k) & (p->cap - 1);
	while (p->tab[j].id && memcmp(&p->tab[j].k, &k, sizeof k))
		j = (j + 1) & (p->cap - 1);
	sess *s = &p->tab[j];
	int st = CF_OK;
	if (!s->id) {
		s->k = k;
		sess_start(p, s, pk, frame);
		p->count++;
	} else {
		const char *why = NULL;
		int syn = k.proto == 6 && (pk->tcp_flags & 0x02) && !(pk->tcp_flags & 0x10);
		if (pk->ts_ns - s->last > p->idle_ns)
			why = "idle";
		else if (p->active_ns && pk->ts_ns - s->first > p->active_ns)
			why = "active";
		else if (syn && s->ended)
			why = s->ended == 2 ? "rst" : "fin"; /* the port pair is used again */
		if (why) {
			st = emit_session(p, s, why);
			sess_start(p, s, pk, frame);
		}
	}
	if (k.proto == 6 && (pk->tcp_flags & 0x04))
		s->ended = 2;
	else if (k.proto == 6 && (pk->tcp_flags & 0x01) && !s->ended)
		s->ended = 1;
	/* out-of-order timestamps widen the session both ways: endtime is
	 * never before starttime */
	if (pk->ts_ns < s->first)
		s->first = pk->ts_ns;
	if (pk->ts_ns > s->last)
		s->last = pk->ts_ns;
	s->bytes += pk->wirelen;
	s->pkts++;
	*out = s;
	return st;
}

/* ------------------------------------------------------------ devices */

static device *device_of(struct sessions_prod *p, uint64_t mac)
{
	if ((p->dev_count + 1) * 2 > p->dev_cap) {
		size_t cap = p->dev_cap ? p->dev_cap * 2 : 256;
		device *n = calloc(cap, sizeof *n);
		if (!n)
			return NULL;
		for (size_t i = 0; i < p->dev_cap; i++) {
			if (!p->dev[i].mac)
				continue;
			size_t j = hash_bytes(&p->dev[i].mac, 8) & (cap - 1);
			while (n[j].mac)
				j = (j + 1) & (cap - 1);
			n[j] = p->dev[i];
		}
		free(p->dev);
		p->dev = n, p->dev_cap = cap;
	}
	uint64_t key = mac + 1;
	size_t j = hash_bytes(&key, 8) & (p->dev_cap - 1);
	while (p->dev[j].mac && p->dev[j].mac != key)
		j = (j + 1) & (p->dev_cap - 1);
	if (!p->dev[j].mac) {
		memset(&p->dev[j], 0, sizeof p->dev[j]);
		p->dev[j].mac = key;
		p->dev[j].first = INT64_MAX;
		p->dev[j].last = INT64_MIN;
		p->dev_count++;
	}
	return &p->dev[j];
}

static int device_ip(struct sessions_prod *p, device *d, const cf_pkt *pk)
{
	struct {
		uint64_t mac;
		uint8_t ver, ip[16];
	} __attribute__((packed)) key = {d->mac, pk->ip_version, {0}};
	memcpy(key.ip, pk->src_ip, 16);
	static const uint8_t zero[16];
	if (!memcmp(key.ip, zero, 16))
		return CF_OK; /* 0.0.0.0 / :: (DHCP before an address) */
	if ((p->ips_count + 1) * 2 > p->ips_cap) {
		size_t cap = p->ips_cap ? p->ips_cap * 2 : 256;
		dev_ip *n = calloc(cap, sizeof *n);
		if (!n) {
			snprintf(p->err, sizeof p->err, "out of memory");
			return CF_ERR_NOMEM;
		}
		for (size_t i = 0; i < p->ips_cap; i++) {
			if (!p->ips[i].mac)
				continue;
			struct {
				uint64_t mac;
				uint8_t ver, ip[16];
			} __attribute__((packed)) k2 = {p->ips[i].mac, p->ips[i].ver, {0}};
			memcpy(k2.ip, p->ips[i].ip, 16);
			size_t j = hash_bytes(&k2, sizeof k2) & (cap - 1);
			while (n[j].mac)
				j = (j + 1) & (cap - 1);
			n[j] = p->ips[i];
		}
		free(p->ips);
		p->ips = n, p->ips_cap = cap;
	}
	size_t j = hash_bytes(&key, sizeof key) & (p->ips_cap - 1);
	while (p->ips[j].mac &&
	       (p->ips[j].mac != key.mac || p->ips[j].ver != key.ver || memcmp(p->ips[j].ip, key.ip, 16)))
		j = (j + 1) & (p->ips_cap - 1);
	dev_ip *e = &p->ips[j];
	if (!e->mac) {
		if (d->nips >= MAX_IPS_PER_MAC) {
			p->ctr[C_DEVICE_IPS_DROPPED]++;
			return CF_OK;
		}
		e->mac = key.mac, e->ver = key.ver;
		memcpy(e->ip, key.ip, 16);
		e->first = e->last = pk->ts_ns;
		d->nips++;
		p->ips_count++;
	}
	if (pk->ts_ns < e->first)
		e->first = pk->ts_ns;
	if (pk->ts_ns > e->last)
		e->last = pk->ts_ns;
	e->pkts++;
	return CF_OK;
}

/* ------------------------------------------------------------ DNS, DHCP */

static int dns_flush(struct sessions_prod *p, int64_t now, int all)
{
	/* queries leave in order: the oldest once answered or too old */
	while (p->q_len) {
		query *q = &p->q[p->q_head];
		if (!all && !q->answered && !q->mdns && now - q->ts <= p->dns_timeout_ns)
			break;
		int st = emit_query(p, q);
		if (st < 0)
			return st;
		p->q_head = (p->q_head + 1) % p->q_cap;
		p->q_len--;
	}
	return CF_OK;
}

static int dns_message(struct sessions_prod *p, const cf_pkt *pk, const uint8_t *msg, size_t n, const sess *s, int mdns,
                       int tcp)
{
	cf_dns_msg m;
	if (cf_dns_parse(msg, n, &m) != CF_OK) {
		p->ctr[C_DNS_UNPARSED]++;
		return CF_OK;
	}
	if (m.qr) {
		if (mdns)
			return CF_OK; /* announcements and answers: nothing asked here */
		/* the newest matching query first: same id and name, the reverse way */
		size_t look = p->q_len < DNS_MATCH_BACK ? p->q_len : DNS_MATCH_BACK;
		for (size_t i = 0; i < look; i++) {
			query *q = &p->q[(p->q_head + p->q_len - 1 - i) % p->q_cap];
			if (q->answered || q->txid != m.id || q->k.ver != s->k.ver || q->k.sport != s->k.dport ||
			    q->k.dport != s->k.sport || memcmp(q->k.src, s->k.dst, 16) || memcmp(q->k.dst, s->k.src, 16) ||
			    strcmp(q->qname, m.qname))
				continue;
			q->answered = 1;
			q->rcode = m.rcode;
			memcpy(q->answers, m.answers, sizeof q->answers);
			return dns_flush(p, pk->ts_ns, 0);
		}
		p->ctr[C_DNS_RESPONSES_UNMATCHED]++;
		return CF_OK;
	}
	if (p->q_len == p->q_cap) {
		size_t cap = p->q_cap ? p->q_cap * 2 : 64;
		query *nq = malloc(cap * sizeof *nq);
		if (!nq) {
			snprintf(p->err, sizeof p->err, "out of memory");
			return CF_ERR_NOMEM;
		}
		for (size_t i = 0; i < p->q_len; i++)
			nq[i] = p->q[(p->q_head + i) % p->q_cap];
		free(p->q);
		p->q = nq, p->q_cap = cap, p->q_head = 0;
	}
	query *q = &p->q[(p->q_head + p->q_len++) % p->q_cap];
	memset(q, 0, offsetof(query, qname));
	q->session = s->id;
	q->has_mac = s->has_mac && pk->linktype == 1;
	if (q->has_mac)
		memcpy(q->mac, s->smac, 6);
	q->mdns = (uint8_t)mdns;
	q->tcp = (uint8_t)tcp;
	q->txid = m.id;
	q->qtype = m.qtype;
	q->ts = pk->ts_ns;
	q->k = s->k;
	memcpy(q->qname, m.qname, sizeof q->qname);
	q->answers[0] = 0;
	p->ctr[C_DNS_QUERIES]++;
	return dns_flush(p, pk->ts_ns, 0);
}

static void dhcp_message(struct sessions_prod *p, const uint8_t *msg, size_t n)
{
	cf_dhcp_msg m;
	if (cf_dhcp_parse(msg, n, &m) != CF_OK) {
		p->ctr[C_DHCP_UNPARSED]++;
		return;
	}
	p->ctr[C_DHCP_MESSAGES]++;
	if (m.op != 1 || cf_mac_is_group(m.chaddr))
		return;
	device *d = device_of(p, mac48(m.chaddr));
	if (!d)
		return;
	if (m.hostname[0])
		snprintf(d->hostname, sizeof d->hostname, "%.63s", m.hostname);
	if (m.vendor_class[0])
		snprintf(d->vendor_class, sizeof d->vendor_class, "%.63s", m.vendor_class);
}

/* ------------------------------------------------------------ the hooks */

static int sp_frame(void *state, const cf_pkt *pk, const uint8_t *frame)
{
	struct sessions_prod *p = state;
	if (pk->ts_ns >= p->next_sweep) {
		if (p->next_sweep != INT64_MIN) {
			int st = sweep(p, pk->ts_ns);
			if (st < 0)
				return st;
		}
		p->next_sweep = pk->ts_ns + (p->idle_ns < 10 * NS ? p->idle_ns : 10 * NS);
	}
	if (pk->skip == CF_SKIP_FILTERED) { /* --filter: as if not captured */
		p->ctr[C_PACKETS_FILTERED]++;
		return CF_OK;
	}
	/* the sender, as a device: every Ethernet frame from a unicast MAC */
	device *d = NULL;
	if (pk->linktype == 1 && pk->caplen >= 14 && !cf_mac_is_group(frame + 6)) {
		if (!(d = device_of(p, mac48(frame + 6)))) {
			snprintf(p->err, sizeof p->err, "out of memory");
			return CF_ERR_NOMEM;
		}
		if (pk->ts_ns < d->first)
			d->first = pk->ts_ns;
		if (pk->ts_ns > d->last)
			d->last = pk->ts_ns;
		d->pkts++;
		d->bytes += pk->wirelen;
	}
	if (pk->skip || !pk->ip_version) {
		p->ctr[pk->skip ? C_PACKETS_SKIPPED : C_PACKETS_NOT_IP]++;
		return CF_OK;
	}
	if (d) {
		int st = device_ip(p, d, pk);
		if (st < 0)
			return st;
	}
	sess *s;
	int st = session_of(p, pk, frame, &s);
	if (st < 0)
		return st;
	/* payloads of the protocols that name devices */
	size_t at = (size_t)pk->l3_offset + pk->l3_hdr_len + pk->l4_hdr_len;
	if ((pk->proto != 17 && pk->proto != 6) || at >= pk->caplen || !pk->payload_len)
		return CF_OK;
	size_t n = pk->caplen - at;
	if (n > pk->payload_len)
		n = pk->payload_len;
	const uint8_t *pl = frame + at;
	uint16_t sp = pk->sport, dp = pk->dport;
	if (pk->proto == 17 && (sp == 53 || dp == 53 || sp == 5353 || dp == 5353))
		return dns_message(p, pk, pl, n, s, sp == 5353 || dp == 5353, 0);
	if (pk->proto == 6 && (sp == 53 || dp == 53)) {
		/* a whole message in the segment (queries are small); longer
		 * streams are not reassembled: counted */
		size_t len = n >= 2 ? (size_t)(pl[0] << 8 | pl[1]) : 0;
		if (n >= 2 && len && len + 2 <= n)
			return dns_message(p, pk, pl + 2, len, s, 0, 1);
		p->ctr[C_DNS_UNPARSED]++;
		return CF_OK;
	}
	if (pk->proto == 17 && ((sp == 68 && dp == 67) || (sp == 67 && dp == 68)))
		dhcp_message(p, pl, n);
	return CF_OK;
}

static int sp_packets(void *state, const cf_pkt *pk, size_t n)
{
	(void)state, (void)pk, (void)n;
	return CF_OK; /* everything happens in sp_frame */
}

/* continuous: sessions that end from now on name this file */
static void sp_next_file(void *state, const cf_producer_file *f)
{
	((struct sessions_prod *)state)->path = f->path;
}

static int sp_begin_file(void *state, const cf_producer_file *f)
{
	struct sessions_prod *p = state;
	p->path = f->path;
	p->next_id = 0;
	p->next_sweep = INT64_MIN;
	memset(p->ctr, 0, sizeof p->ctr);
	memset(p->tab, 0, p->cap * sizeof *p->tab);
	p->count = 0;
	if (p->dev) /* allocated at the first device */
		memset(p->dev, 0, p->dev_cap * sizeof *p->dev);
	p->dev_count = 0;
	if (p->ips)
		memset(p->ips, 0, p->ips_cap * sizeof *p->ips);
	p->ips_count = 0;
	p->q_len = p->q_head = 0;
	p->err[0] = 0;
	for (int t = 0; t < N_TABLES; t++)
		rb_clear(&p->rb[t]);
	return CF_OK;
}

static int cmp_device_mac(const void *a, const void *b)
{
	uint64_t x = (*(const device *const *)a)->mac, y = (*(const device *const *)b)->mac;
	return x < y ? -1 : x > y;
}

static int emit_devices(struct sessions_prod *p)
{
	/* in MAC order: the rows do not depend on the hash */
	device **devs = malloc((p->dev_count ? p->dev_count : 1) * sizeof *devs);
	if (!devs) {
		snprintf(p->err, sizeof p->err, "out of memory");
		return CF_ERR_NOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < p->dev_cap; i++)
		if (p->dev[i].mac)
			devs[n++] = &p->dev[i];
	qsort(devs, n, sizeof *devs, cmp_device_mac);
	int st = CF_OK;
	row_builder *b = &p->rb[T_DEVICES];
	for (size_t i = 0; i < n && st == CF_OK; i++) {
		const device *d = devs[i];
		if (!d->pkts)
			continue; /* named only by a DHCP message another host relayed */
		uint8_t m[6];
		char t[18];
		mac_from48(d->mac - 1, m);
		mac_text(m, t);
		int bits;
		const char *mf = cf_oui_lookup(p->oui, m, &bits);
		const char *ty = cf_device_types_lookup(p->types, m, mf);
		if (!ty)
			ty = p->default_type;
		rb_cstr(b, t);
		mf ? rb_cstr(b, mf) : rb_null(b);
		ty ? rb_cstr(b, ty) : rb_null(b);
		rb_f64(b, (double)d->first / 1e9);
		rb_f64(b, (double)d->last / 1e9);
		rb_u64(b, d->pkts);
		rb_u64(b, d->bytes);
		d->hostname[0] ? rb_cstr(b, d->hostname) : rb_null(b);
		d->vendor_class[0] ? rb_cstr(b, d->vendor_class) : rb_null(b);
		rb_u64(b, cf_mac_is_local(m));
		rb_u64(b, (uint64_t)bits);
		p->ctr[C_DEVICES]++;
		st = row_done(p, T_DEVICES);
	}
	free(devs);
	if (st < 0)
		return st;
	/* the addresses, by MAC then address */
	b = &p->rb[T_DEVICE_IPS];
	dev_ip **v = malloc((p->ips_count ? p->ips_count : 1) * sizeof *v);
	if (!v) {
		snprintf(p->err, sizeof p->err, "out of memory");
		return CF_ERR_NOMEM;
	}
	n = 0;
	for (size_t i = 0; i < p->ips_cap; i++)
		if (p->ips[i].mac)
			v[n++] = &p->ips[i];
	for (size_t i = 1; i < n; i++) { /* insertion sort: a few per device */
		dev_ip *x = v[i];
		size_t j = i;
		while (j && (v[j - 1]->mac > x->mac ||
		             (v[j - 1]->mac == x->mac && (v[j - 1]->ver > x->ver ||
		                                          (v[j - 1]->ver == x->ver && memcmp(v[j - 1]->ip, x->ip, 16) > 0))))) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
	for (size_t i = 0; i < n && st == CF_OK; i++) {
		uint8_t m[6];
		char t[46];
		mac_from48(v[i]->mac - 1, m);
		mac_text(m, t);
		rb_cstr(b, t);
		ip_text(v[i]->ip, v[i]->ver, t);
		rb_cstr(b, t);
		rb_f64(b, (double)v[i]->first / 1e9);
		rb_f64(b, (double)v[i]->last / 1e9);
		rb_u64(b, v[i]->pkts);
		st = row_done(p, T_DEVICE_IPS);
	}
	free(v);
	return st;
}

static int sp_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	(void)scan;
	struct sessions_prod *p = state;
	int st = sweep(p, INT64_MAX);
	if (st == CF_OK)
		st = dns_flush(p, INT64_MAX, 1);
	if (st == CF_OK)
		st = emit_devices(p);
	for (int t = 0; t < N_TABLES && st == CF_OK; t++)
		st = flush_table(p, t);
	*ids_used = p->next_id;
	return st;
}

static uint32_t sp_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	struct sessions_prod *p = state;
	for (uint32_t i = 0; out && i < cap && i < C_COUNT; i++) {
		out[i].name = counter_names[i];
		out[i].value = p->ctr[i];
	}
	return C_COUNT;
}

static const char *sp_error(void *state)
{
	return ((struct sessions_prod *)state)->err;
}

static uint32_t sp_tables(void *state)
{
	(void)state;
	return N_TABLES;
}

static const char *sp_table_name(void *state, uint32_t t)
{
	(void)state;
	return t < N_TABLES ? table_names[t] : NULL;
}

static const cf_table_schema *sp_schema(void *state, uint32_t t)
{
	return t < N_TABLES ? ((struct sessions_prod *)state)->schema[t] : NULL;
}

static void sp_close(void *state)
{
	struct sessions_prod *p = state;
	if (!p)
		return;
	for (int t = 0; t < N_TABLES; t++) {
		rb_free(&p->rb[t]);
		cf_table_schema_free(p->schema[t]);
	}
	cf_oui_registry_close(p->oui);
	cf_device_types_close(p->types);
	free(p->default_type);
	free(p->tab);
	free(p->dev);
	free(p->ips);
	free(p->q);
	free(p);
}

static int sp_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	const cf_sessions_producer_config *c = config;
	*state = NULL;
	if (!(c->idle_timeout_s > 0) || c->idle_timeout_s > 1e9 || c->active_timeout_s < 0 || c->active_timeout_s > 1e9 ||
	    !(c->dns_timeout_s > 0) || c->dns_timeout_s > 1e9 || c->batch_rows < 1 || c->batch_rows > (1u << 24)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "sessions: bad timeouts or batch size");
		return CF_ERR_ARG;
	}
	struct sessions_prod *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	p->env = *env;
	p->cfg = *c;
	p->idle_ns = (int64_t)(c->idle_timeout_s * 1e9);
	p->active_ns = (int64_t)(c->active_timeout_s * 1e9);
	p->dns_timeout_ns = (int64_t)(c->dns_timeout_s * 1e9);
	int st;
	if ((st = cf_oui_registry_open(c->ieee_dir, &p->oui, errbuf)) < 0 ||
	    (c->device_types && (st = cf_device_types_open(c->device_types, &p->types, errbuf)) < 0)) {
		sp_close(p);
		return st;
	}
	if (c->default_type && !(p->default_type = strdup(c->default_type)))
		goto oom;
	if (build_schemas(p, errbuf)) {
		sp_close(p);
		return CF_ERR_ARG;
	}
	for (int t = 0; t < N_TABLES; t++)
		if (rb_init(&p->rb[t], p->schema[t], c->batch_rows) < 0)
			goto oom;
	p->cap = 4096;
	if (!(p->tab = calloc(p->cap, sizeof *p->tab)))
		goto oom;
	*state = p;
	return CF_OK;
oom:
	sp_close(p);
	snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	return CF_ERR_NOMEM;
}

static const cf_producer_ops sessions_ops = {
	.name = "sessions",
	.flags = CF_PRODUCER_NEEDS_FRAMES,
	.open = sp_open,
	.tables = sp_tables,
	.table_name = sp_table_name,
	.schema = sp_schema,
	.begin_file = sp_begin_file,
	.packets = sp_packets,
	.end_file = sp_end_file,
	.counters = sp_counters,
	.error = sp_error,
	.close = sp_close,
	.frame = sp_frame,
	.next_file = sp_next_file,
};

const cf_producer_ops *cf_producer_sessions(void)
{
	return &sessions_ops;
}

/* ------------------------------------------------------------ SQLite */

static const cf_run_sqlite_table sqlite_tables[] = {
	{"sessions", NULL, "PRIMARY KEY (sessionid)", NULL},
	/* a device seen again in a later input: its span, counts and the
	 * latest names it gave; its labels stay as first written (a user may
	 * have edited them) */
	{"devices", NULL, "ips TEXT, PRIMARY KEY (mac)",
	 "ON CONFLICT (mac) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), "
	 "last_seen = max(last_seen, excluded.last_seen), packets = packets + excluded.packets, "
	 "bytes = bytes + excluded.bytes, hostname = coalesce(excluded.hostname, hostname), "
	 "vendor_class = coalesce(excluded.vendor_class, vendor_class), "
	 "manufacturer = coalesce(manufacturer, excluded.manufacturer), "
	 "device_type = coalesce(device_type, excluded.device_type)"},
	{"device_ips", NULL, "PRIMARY KEY (mac, ip)",
	 "ON CONFLICT (mac, ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), "
	 "last_seen = max(last_seen, excluded.last_seen), packets = packets + excluded.packets"},
	{"dns", "id INTEGER PRIMARY KEY", NULL, NULL},
};

static const char sqlite_schema[] =
	"CREATE VIEW IF NOT EXISTS v_session_mnf_devicetype AS\n"
	"  SELECT s.sessionid AS sessionid, s.srcmac AS mac, d.manufacturer AS manufacturer,\n"
	"         d.device_type AS device_type\n"
	"  FROM sessions s JOIN devices d ON d.mac = s.srcmac;\n"
	"CREATE INDEX IF NOT EXISTS sessions_srcmac ON sessions (srcmac);\n"
	"CREATE INDEX IF NOT EXISTS dns_mac ON dns (mac);\n"
	"CREATE INDEX IF NOT EXISTS dns_sessionid ON dns (sessionid);\n";

/* devices.ips: the addresses in device_ips, kept in step per input */
static const char sqlite_file[] =
	"UPDATE devices SET ips = (SELECT group_concat(ip, ' ') FROM (SELECT ip FROM device_ips i\n"
	"  WHERE i.mac = devices.mac ORDER BY ip));\n";

void cf_sessions_sqlite_layout(cf_run_sqlite *out, int append)
{
	memset(out, 0, sizeof *out);
	out->tables = sqlite_tables;
	out->n_tables = sizeof sqlite_tables / sizeof sqlite_tables[0];
	out->schema_sql = sqlite_schema;
	out->file_sql = sqlite_file;
	out->append = append;
}

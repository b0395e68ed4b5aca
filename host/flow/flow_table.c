/*
 * The flow table (see include/cuflow/flow.h for the rules and
 * host/flow/flow_table.h for the pieces it hands out).
 *
 * Layout: one array of max_flows slots, a chained hash index (bucket heads
 * plus a next index per slot; free slots are chained through the same
 * field), and three intrusive doubly linked lists through the slots:
 *  - lru:   live flows by last activity (touching a flow moves it to the
 *           tail), popped from the head for idle expiry and eviction;
 *  - start: flows by creation (= first packet, the clock being
 *           monotonic), live ones and finished ones waiting to be written.
 *           Records are emitted from its head only, so rows come out in
 *           id order; the head is always live (or the list empty) between
 *           calls, so it also serves active expiry and end of input;
 *  - close: closing TCP flows by close time, popped for the linger.
 * All indices are uint32_t; NIL marks the end of a chain. Everything is
 * allocated in cf_flow_table_open: max_flows live slots plus a reserve for
 * finished flows waiting behind an older live one, and the packet pool:
 * chunks of CHUNK_PKTS packets, each flow a singly linked chain of them.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cuflow/internal.h"
#include "cuflow/flow.h"
#include "flow/flow_table.h"

#define NIL UINT32_MAX
#define NS 1000000000ll

/* Canonical key: endpoint "lo" sorts before "hi" (address, then port).
 * Fixed size and zero-padded so memcmp compares keys. */
typedef struct flow_key {
	uint8_t addr_lo[16], addr_hi[16];
	uint16_t port_lo, port_hi;
	uint32_t tunnel_id;
	uint16_t vlan;
	uint8_t ip_version, proto, icmp_type, icmp_code;
} flow_key;

enum { L_LRU, L_START, L_CLOSE, L_COUNT };

struct link {
	uint32_t prev, next;
};

/* A slot, laid out for the per-packet path: the first cache line holds
 * what the hash lookup reads (key, chain), the second what placing a
 * packet touches (lists, times, chunks, TCP state); the identity is only
 * read when the flow starts and ends. Slots are 64-byte aligned. */
typedef struct flow {
	flow_key key;
	uint32_t hnext;            /* hash chain, or free list */
	uint32_t stored;           /* packets in the chain */
	int64_t last_ns;           /* latest packet (clock time) */
	/* line 2 */
	struct link l[L_COUNT];
	int64_t first_ns;          /* first packet (clock time) */
	uint32_t chunk_head, chunk_tail; /* stored packets, NIL when none */
	uint32_t tag;              /* the piece callback's word */
	uint8_t src_is_lo;         /* the source is the key's lo endpoint */
	uint8_t fin_seen;          /* bit 0: FIN from source, bit 1: from destination */
	uint8_t closing;           /* 0, or CF_FLOW_END_FIN / CF_FLOW_END_RST */
	uint8_t in_close;          /* on the close list */
	uint8_t done;              /* ended, waiting on the start list to be emitted */
	uint8_t sent;              /* an earlier piece has been handed out */
	/* cold */
	uint32_t bucket;
	int64_t close_ns;
	cf_flow_ident rec;
} __attribute__((aligned(64))) flow;
CF_STATIC_ASSERT(sizeof(flow_key) + 16 == 64, "key, chain and last time fill the first cache line");

#define CHUNK_PKTS 32
typedef struct chunk {
	cf_flow_pkt p[CHUNK_PKTS];
	uint32_t next;
} chunk;

struct list {
	uint32_t head, tail;
};

struct cf_flow_table {
	cf_flow_opts o;
	cf_flow_piece_fn piece;
	void *user;
	chunk *pool;
	uint32_t n_chunks, free_chunk, free_chunks;
	uint32_t unused_chunk;     /* chunks [unused_chunk, n_chunks) never used yet */
	cf_flow_pkt *scratch;      /* one piece, gathered from its chunks */
	flow *slots;
	void *slots_mem;           /* the allocation behind slots */
	uint32_t *buckets;
	uint32_t mask;
	uint32_t free_head;        /* chain of freed slots */
	uint32_t unused;           /* slots [unused, n_slots) never used yet */
	uint32_t n_slots;          /* max_flows + waiting reserve */
	uint32_t live;
	uint32_t waiting;          /* ended flows not yet emitted */
	struct list lists[L_COUNT];
	int64_t clock;
	int clock_set;
	uint64_t next_id;
	int status;                /* first emit error */
	cf_flow_counters c;
};

const char *cf_flow_end_name(int r)
{
	static const char *names[CF_FLOW_END_COUNT] = {"idle", "active", "fin", "rst", "evicted", "end_of_input"};
	return r >= 0 && r < CF_FLOW_END_COUNT ? names[r] : "unknown";
}

int cf_flow_size_parse(const char *name, int *mode)
{
	static const char *names[] = {"wire", "captured", "ip", "transport", "payload"};
	for (int i = 0; i < 5; i++)
		if (!strcmp(name, names[i])) {
			*mode = i;
			return CF_OK;
		}
	return CF_ERR_ARG;
}

void cf_flow_opts_default(cf_flow_opts *o)
{
	memset(o, 0, sizeof *o);
	o->idle_timeout_ns = 120 * NS;
	o->active_timeout_ns = 1800 * NS;
	o->tcp_linger_ns = 2 * NS;
	o->tcp_end = 1;
	o->size_mode = CF_SIZE_WIRE;
	o->max_flows = 1u << 20;
	/* Rows as flows end: waiting for older flows would make the output
	 * order change flow results (reserve evictions). */
	o->end_order = 1;
	o->seq_len = 30;
	o->piece_packets = 4096;
	o->pool_packets = 4u << 20;
	o->batch_flows = 16u << 10;
	o->batch_packets = 512u << 10;
}

/* ---------------------------------------------------------------- lists */

static void list_append(cf_flow_table *t, int which, uint32_t i)
{
	struct list *L = &t->lists[which];
	flow *f = &t->slots[i];
	f->l[which].prev = L->tail;
	f->l[which].next = NIL;
	if (L->tail != NIL)
		t->slots[L->tail].l[which].next = i;
	else
		L->head = i;
	L->tail = i;
}

static void list_remove(cf_flow_table *t, int which, uint32_t i)
{
	struct list *L = &t->lists[which];
	flow *f = &t->slots[i];
	if (f->l[which].prev != NIL)
		t->slots[f->l[which].prev].l[which].next = f->l[which].next;
	else
		L->head = f->l[which].next;
	if (f->l[which].next != NIL)
		t->slots[f->l[which].next].l[which].prev = f->l[which].prev;
	else
		L->tail = f->l[which].prev;
}

/* ---------------------------------------------------------------- open/close */

int cf_flow_table_open(const cf_flow_opts *opts, cf_flow_piece_fn emit, void *user, cf_flow_table **out,
                       char *errbuf)
{
	*out = NULL;
	cf_flow_opts o;
	if (opts)
		o = *opts;
	else
		cf_flow_opts_default(&o);
	uint64_t nc = o.pool_packets / CHUNK_PKTS;
	if (!emit || o.max_flows == 0 || o.max_flows > (1u << 30) || o.size_mode < 0 ||
	    o.size_mode > CF_SIZE_PAYLOAD || o.tcp_linger_ns < 0 || o.piece_packets == 0 ||
	    (o.orientation != CF_ORIENT_CLIENT && o.orientation != CF_ORIENT_FIRST_PACKET) ||
	    (o.compat != CF_COMPAT_NONE && o.compat != CF_COMPAT_NFSTREAM) ||
	    o.piece_packets > (1u << 24) || nc < 4 || nc > (1u << 30)) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE,
			         "flow table: invalid options (max_flows 1..2^30, piece_packets 1..2^24, "
			         "pool_packets %d..2^35, callback)",
			         4 * CHUNK_PKTS);
		return CF_ERR_ARG;
	}
	cf_flow_table *t = calloc(1, sizeof *t);
	uint32_t nb = 1;
	while (nb < o.max_flows)
		nb <<= 1;
	uint32_t n_slots = o.max_flows + o.max_flows / 8 + 16;
	if (t) {
		/* calloc: pages of slots are only touched once flows use them,
		 * so a large max_flows costs address space, not memory */
		t->n_slots = n_slots;
		/* one spare slot to align the array to a cache line */
		t->slots_mem = calloc((size_t)n_slots + 1, sizeof *t->slots);
		t->slots = t->slots_mem ? (flow *)(((uintptr_t)t->slots_mem + 63) & ~(uintptr_t)63) : NULL;
		t->buckets = malloc((size_t)nb * sizeof *t->buckets);
		t->pool = malloc((size_t)nc * sizeof *t->pool); /* touched only as used */
		t->scratch = malloc((size_t)o.piece_packets * sizeof *t->scratch);
	}
	if (!t || !t->slots || !t->buckets || !t->pool || !t->scratch) {
		if (t) {
			free(t->slots_mem);
			free(t->buckets);
			free(t->pool);
			free(t->scratch);
		}
		free(t);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow table: out of memory for %u flows", o.max_flows);
		return CF_ERR_NOMEM;
	}
	memset(t->buckets, 0xff, (size_t)nb * sizeof *t->buckets);
	t->o = o;
	t->piece = emit;
	t->n_chunks = (uint32_t)nc;
	t->free_chunk = NIL;
	t->free_chunks = (uint32_t)nc;
	t->user = user;
	t->mask = nb - 1;
	t->free_head = NIL;
	for (int i = 0; i < L_COUNT; i++)
		t->lists[i].head = t->lists[i].tail = NIL;
	t->next_id = 1;
	*out = t;
	return CF_OK;
}

void cf_flow_table_close(cf_flow_table *t)
{
	if (!t)
		return;
	free(t->slots_mem);
	free(t->buckets);
	free(t->pool);
	free(t->scratch);
	free(t);
}

uint32_t cf_flow_table_live(const cf_flow_table *t)
{
	return t->live;
}

const cf_flow_counters *cf_flow_table_counters(const cf_flow_table *t)
{
	return &t->c;
}

/* ---------------------------------------------------------------- key */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* One multiply per word, one full mix at the end: the key is hashed for
 * every packet, so this is on the hot path. */
static uint32_t key_hash(const flow_key *k)
{
	uint64_t w[sizeof(flow_key) / 8], h = 0x9e3779b97f4a7c15ull;
	CF_STATIC_ASSERT(sizeof(flow_key) % 8 == 0, "flow_key is whole words");
	memcpy(w, k, sizeof w);
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull + (h >> 29);
	return (uint32_t)mix64(h);
}

static int is_echo(uint8_t proto, uint8_t type)
{
	return proto == 1 ? (type == 0 || type == 8) : (type == 128 || type == 129);
}

/* Fills the canonical key; *sender_lo = 1 when the packet's sender is the
 * lo endpoint. Unidirectional: the sender is always "lo", so each
 * direction has its own key. */
_Static_assert(sizeof(flow_key) == 48 && offsetof(flow_key, port_lo) == 32 && offsetof(flow_key, port_hi) == 34 &&
                   offsetof(flow_key, tunnel_id) == 36 && offsetof(flow_key, vlan) == 40 &&
                   offsetof(flow_key, ip_version) == 42 && offsetof(flow_key, proto) == 43 &&
                   offsetof(flow_key, icmp_type) == 44 && offsetof(flow_key, icmp_code) == 45,
               "make_key writes flow_key's last 16 bytes as 2 words: update it with the layout");

/* The canonical key. Its last 16 bytes are composed in registers and
 * stored as two words (padding zero): the hash reads the key back in
 * words at once, and narrow stores there stalled it on store forwarding. */
static void make_key(const cf_pkt *p, int uni, int compat, flow_key *k, int *sender_lo)
{
	uint64_t vlan = p->vlan_count ? p->vlan[0] : 0;
	/* GTP-U uplink and downlink carry different TEIDs by design: keying
	 * on them would split every conversation in two. */
	uint64_t tunnel = p->tunnel_type == CF_TUNNEL_GTP ? 0 : p->tunnel_id;
	uint64_t itype = 0, icode = 0;
	uint16_t sp = p->sport, dp = p->dport;
	if (p->proto == 1 || p->proto == 58) {
		if (!uni && is_echo(p->proto, p->icmp_type)) {
			/* request and reply: one type, the identifier on both sides */
			itype = p->proto == 1 ? 8 : 128;
			sp = dp = p->sport;
		} else {
			itype = p->icmp_type;
			sp = dp = 0;
		}
		icode = p->icmp_code;
	}
	/* NFStream reads ports only when the IP length leaves a whole fixed
	 * transport header */
	if (__builtin_expect(p->flags & CF_PKT_SHORT_L4, 0) && compat == CF_COMPAT_NFSTREAM)
		sp = dp = 0;
	int c = memcmp(p->src_ip, p->dst_ip, 16);
	if (c == 0)
		c = sp < dp ? -1 : sp > dp;
	*sender_lo = uni || c <= 0;
	uint64_t ports;
	if (*sender_lo) {
		memcpy(k->addr_lo, p->src_ip, 16);
		memcpy(k->addr_hi, p->dst_ip, 16);
		ports = sp | (uint64_t)dp << 16;
	} else {
		memcpy(k->addr_lo, p->dst_ip, 16);
		memcpy(k->addr_hi, p->src_ip, 16);
		ports = dp | (uint64_t)sp << 16;
	}
	uint64_t w4 = ports | tunnel << 32;
	uint64_t w5 = vlan | (uint64_t)p->ip_version << 16 | (uint64_t)p->proto << 24 | itype << 32 | icode << 40;
	memcpy((uint8_t *)k + 32, &w4, 8);
	memcpy((uint8_t *)k + 40, &w5, 8);
}

static uint32_t lookup(cf_flow_table *t, const flow_key *k, uint32_t bucket)
{
	for (uint32_t i = t->buckets[bucket]; i != NIL; i = t->slots[i].hnext)
		if (!memcmp(&t->slots[i].key, k, sizeof *k))
			return i;
	return NIL;
}

/* ---------------------------------------------------------------- pieces */

/* Hands the flow's stored packets to the callback as one piece and gives
 * their chunks back to the pool. */
static void emit_piece(cf_flow_table *t, flow *f, int last)
{
	uint32_t n = 0;
	for (uint32_t c = f->chunk_head; c != NIL;) {
		chunk *ch = &t->pool[c];
		uint32_t k = f->stored - n < CHUNK_PKTS ? f->stored - n : CHUNK_PKTS;
		memcpy(t->scratch + n, ch->p, k * sizeof *ch->p);
		n += k;
		uint32_t next = ch->next;
		ch->next = t->free_chunk;
		t->free_chunk = c;
		t->free_chunks++;
		c = next;
	}
	f->chunk_head = f->chunk_tail = NIL;
	f->stored = 0;
	if (!last && !f->sent)
		t->c.split_flows++;
	t->c.pieces++;
	int st = t->piece(t->user, &f->rec, t->scratch, n, !f->sent, last, &f->tag);
	f->sent = 1;
	if (st < 0 && t->status == CF_OK)
		t->status = st;
}

/* The pool is dry: the least recently active flows give up their stored
 * packets (early pieces) until a quarter of the pool is free. Amortised
 * O(1) per packet: each pass frees a quarter of the pool. */
static void pool_flush(cf_flow_table *t)
{
	t->c.pool_flushes++;
	for (uint32_t i = t->lists[L_LRU].head; i != NIL && t->free_chunks < t->n_chunks / 4;
	     i = t->slots[i].l[L_LRU].next)
		if (t->slots[i].stored)
			emit_piece(t, &t->slots[i], 0);
	/* ended flows waiting for their turn (end_order 0) hold chunks too */
	for (uint32_t i = t->lists[L_START].head; i != NIL && t->free_chunks == 0; i = t->slots[i].l[L_START].next)
		if (t->slots[i].stored)
			emit_piece(t, &t->slots[i], 0);
}

static uint32_t chunk_alloc(cf_flow_table *t)
{
	if (t->free_chunk == NIL && t->unused_chunk == t->n_chunks)
		pool_flush(t);
	uint32_t c;
	if (t->free_chunk != NIL) {
		c = t->free_chunk;
		t->free_chunk = t->pool[c].next;
	} else {
		c = t->unused_chunk++;
	}
	t->free_chunks--;
	t->pool[c].next = NIL;
	return c;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "store_packet builds cf_flow_pkt from little-endian words"
#endif
_Static_assert(sizeof(cf_flow_pkt) == 24 && offsetof(cf_flow_pkt, size) == 8 && offsetof(cf_flow_pkt, ip_id) == 12 &&
                   offsetof(cf_flow_pkt, tcp_flags) == 14 && offsetof(cf_flow_pkt, ttl) == 15 &&
                   offsetof(cf_flow_pkt, dir) == 16,
               "store_packet writes cf_flow_pkt as 3 words: update it with the layout");

/* Appends a packet to a flow's chain (flushing an early piece first when
 * the flow already stores piece_packets). The record is given as its three
 * 8-byte words and stored straight: built in a struct with narrow stores
 * and copied wide, it stalled on store forwarding (a fifth of the flow
 * table's time on 64-byte frames). */
static void store_packet(cf_flow_table *t, uint32_t i, int64_t ts_ns, uint64_t w1, uint64_t w2)
{
	flow *f = &t->slots[i];
	if (f->stored == t->o.piece_packets)
		emit_piece(t, f, 0);
	if (f->stored % CHUNK_PKTS == 0) {
		/* pool_flush may empty this very flow: re-read its state after */
		uint32_t c = chunk_alloc(t);
		if (f->chunk_head == NIL)
			f->chunk_head = c;
		else
			t->pool[f->chunk_tail].next = c;
		f->chunk_tail = c;
	}
	uint8_t *d = (uint8_t *)&t->pool[f->chunk_tail].p[f->stored % CHUNK_PKTS];
	memcpy(d, &ts_ns, 8);
	memcpy(d + 8, &w1, 8);
	memcpy(d + 16, &w2, 8);
	f->stored++;
}

/* ---------------------------------------------------------------- end */

/* Emits the finished flows at the head of the start list and frees their
 * slots, stopping at the first live flow: rows leave in id order. */
static void drain(cf_flow_table *t)
{
	uint32_t i;
	while ((i = t->lists[L_START].head) != NIL && t->slots[i].done) {
		flow *f = &t->slots[i];
		list_remove(t, L_START, i);
		emit_piece(t, f, 1);
		f->done = 0;
		f->hnext = t->free_head;
		t->free_head = i;
		t->waiting--;
	}
}

/* Ends a live flow: out of the hash and the expiry lists, its end reason
 * set; it is emitted once every older flow has been. For idle/active/end
 * of input, a flow that was closing ends with its fin/rst reason: that is
 * what ended it. */
static void end_flow(cf_flow_table *t, uint32_t i, int reason)
{
	flow *f = &t->slots[i];
	if (f->closing && reason != CF_FLOW_END_EVICTED)
		reason = f->closing;
	uint32_t *pp = &t->buckets[f->bucket];
	while (*pp != i)
		pp = &t->slots[*pp].hnext;
	*pp = f->hnext;
	list_remove(t, L_LRU, i);
	if (f->in_close)
		list_remove(t, L_CLOSE, i);
	f->in_close = 0;
	f->rec.end_reason = (uint8_t)reason;
	t->c.ended[reason]++;
	if (reason == CF_FLOW_END_EVICTED)
		t->c.evictions++;
	t->live--;
	if (!t->o.end_order) {
		f->done = 1;
		t->waiting++;
		drain(t);
		return;
	}
	list_remove(t, L_START, i);
	emit_piece(t, f, 1);
	f->hnext = t->free_head;
	t->free_head = i;
}

/* Ends every flow that is due at time `now`. Each loop stops at the first
 * flow that is not due, so the cost is O(flows ended). */
static void expire_due(cf_flow_table *t, int64_t now)
{
	const cf_flow_opts *o = &t->o;
	uint32_t i;
	if (o->idle_timeout_ns > 0)
		while ((i = t->lists[L_LRU].head) != NIL && now - t->slots[i].last_ns >= o->idle_timeout_ns)
			end_flow(t, i, CF_FLOW_END_IDLE);
	if (o->active_timeout_ns > 0)
		while ((i = t->lists[L_START].head) != NIL &&
		       now - t->slots[i].first_ns >= o->active_timeout_ns)
			end_flow(t, i, CF_FLOW_END_ACTIVE);
	while ((i = t->lists[L_CLOSE].head) != NIL && now - t->slots[i].close_ns >= o->tcp_linger_ns)
		end_flow(t, i, t->slots[i].closing);
}

/* A wire length no frame has (CF_FLOW_MAX_WIRELEN): counted; the length
 * the headers imply instead (NFStream: 16 bits, as every length). */
static __attribute__((noinline)) uint32_t bad_wirelen(cf_flow_table *t, const cf_pkt *p)
{
	t->c.bad_wirelen++;
	if (t->o.compat == CF_COMPAT_NFSTREAM)
		return p->wirelen & 0xffff;
	uint64_t implied = (uint64_t)p->l3_offset + p->ip_len;
	return implied > p->caplen && implied <= CF_FLOW_MAX_WIRELEN ? (uint32_t)implied : p->caplen;
}

static uint32_t packet_size(cf_flow_table *t, const cf_pkt *p)
{
	switch (t->o.size_mode) {
	case CF_SIZE_CAPTURED: return p->caplen;
	case CF_SIZE_IP: return p->ip_len;
	case CF_SIZE_TRANSPORT: return p->ip_len > p->l3_hdr_len ? p->ip_len - p->l3_hdr_len : 0;
	case CF_SIZE_PAYLOAD: return p->payload_len;
	}
	if (__builtin_expect(p->wirelen > CF_FLOW_MAX_WIRELEN, 0))
		return bad_wirelen(t, p);
	if (t->o.compat == CF_COMPAT_NFSTREAM)
		return p->wirelen & 0xffff; /* NFStream's raw_size is a uint16_t */
	return p->wirelen;
}

/* ---------------------------------------------------------------- add */

static uint32_t create(cf_flow_table *t, const flow_key *k, uint32_t bucket, const cf_pkt *p, int sender_lo)
{
	if (t->live == t->o.max_flows)
		end_flow(t, t->lists[L_LRU].head, CF_FLOW_END_EVICTED);
	/* No slot left: the reserve is full of finished flows waiting behind
	 * the oldest live flow. Ending that one (evicted) lets them out; the
	 * start list's head is always live here, and each call frees it. */
	while (t->free_head == NIL && t->unused == t->n_slots)
		end_flow(t, t->lists[L_START].head, CF_FLOW_END_EVICTED);
	uint32_t i;
	if (t->free_head != NIL) {
		i = t->free_head;
		t->free_head = t->slots[i].hnext;
	} else {
		i = t->unused++;
	}
	flow *f = &t->slots[i];
	memset(f, 0, sizeof *f);
	memcpy(&f->key, k, sizeof *k); /* padding included: keys compare with memcmp */
	f->bucket = bucket;
	f->hnext = t->buckets[bucket];
	t->buckets[bucket] = i;
	/* A first TCP packet that is a SYN-ACK comes from the responder: the
	 * initiator is its receiver (CF_ORIENT_CLIENT). */
	int synack = p->proto == 6 && (p->tcp_flags & (CF_TCP_SYN | CF_TCP_ACK)) == (CF_TCP_SYN | CF_TCP_ACK);
	int src_is_sender = !synack || t->o.unidirectional || t->o.orientation == CF_ORIENT_FIRST_PACKET;
	f->src_is_lo = (uint8_t)(src_is_sender ? sender_lo : !sender_lo);
	f->chunk_head = f->chunk_tail = NIL;
	f->first_ns = t->clock; /* this packet's time, as clamped */
	cf_flow_ident *r = &f->rec;
	r->id = t->next_id++;
	r->ip_version = p->ip_version;
	r->proto = p->proto;
	r->icmp_type = k->icmp_type;
	r->icmp_code = k->icmp_code;
	r->vlan_id = k->vlan;
	r->tunnel_id = p->tunnel_id; /* the first packet's (for GTP, not part of the key) */
	if (f->src_is_lo) {
		memcpy(r->src_ip, k->addr_lo, 16);
		memcpy(r->dst_ip, k->addr_hi, 16);
		r->src_port = k->port_lo;
		r->dst_port = k->port_hi;
	} else {
		memcpy(r->src_ip, k->addr_hi, 16);
		memcpy(r->dst_ip, k->addr_lo, 16);
		r->src_port = k->port_hi;
		r->dst_port = k->port_lo;
	}
	list_append(t, L_LRU, i);
	list_append(t, L_START, i);
	t->live++;
	t->c.flows++;
	if (t->live > t->c.max_live)
		t->c.max_live = t->live;
	return i;
}

/* Places one usable packet whose key, bucket and sender side are known. */
static void add_keyed(cf_flow_table *t, const cf_pkt *p, const flow_key *kp, uint32_t bucket, int sender_lo)
{
	t->c.packets_used++;
	int64_t now = p->ts_ns;
	if (!t->clock_set) {
		t->clock = now;
		t->clock_set = 1;
	} else if (now < t->clock) {
		t->c.time_backwards++;
		now = t->clock;
	} else {
		t->clock = now;
	}
	expire_due(t, now);

	uint32_t i = lookup(t, kp, bucket);
	/* A pure SYN on a closing flow is a new connection reusing the ports:
	 * the old one ends now. */
	if (i != NIL && t->slots[i].closing && p->proto == 6 &&
	    (p->tcp_flags & (CF_TCP_SYN | CF_TCP_ACK | CF_TCP_RST)) == CF_TCP_SYN) {
		end_flow(t, i, t->slots[i].closing);
		i = NIL;
	}
	if (i == NIL)
		i = create(t, kp, bucket, p, sender_lo);
	flow *f = &t->slots[i];
	int from_src = sender_lo == f->src_is_lo;
	uint32_t size = packet_size(t, p);
	/* size, ip_id, tcp_flags, ttl | dir, padding */
	store_packet(t, i, now,
	             size | (uint64_t)(uint16_t)p->ip_id << 32 | (uint64_t)(uint8_t)p->tcp_flags << 48 |
	                 (uint64_t)p->ttl << 56,
	             (uint64_t)!from_src);
	f = &t->slots[i];
	f->last_ns = now;
	if (t->lists[L_LRU].tail != i) { /* bursts of one flow stay put */
		list_remove(t, L_LRU, i);
		list_append(t, L_LRU, i);
	}

	if (t->o.tcp_end && p->proto == 6 && !f->closing) {
		if (p->tcp_flags & CF_TCP_RST)
			f->closing = CF_FLOW_END_RST;
		else if (p->tcp_flags & CF_TCP_FIN) {
			f->fin_seen |= from_src ? 1 : 2;
			if (f->fin_seen == 3 || t->o.unidirectional)
				f->closing = CF_FLOW_END_FIN;
		}
		if (f->closing) {
			if (t->o.tcp_linger_ns == 0) {
				end_flow(t, i, f->closing);
			} else {
				f->close_ns = now;
				f->in_close = 1;
				list_append(t, L_CLOSE, i);
			}
		}
	}
}

int cf_flow_table_add(cf_flow_table *t, const cf_pkt *p)
{
	return cf_flow_table_add_batch(t, p, 1);
}

/* Keys and buckets of the whole batch first, with the bucket heads and
 * then the slots they point to prefetched, so the cache misses of many
 * packets overlap; then the packets are placed one by one, in order, with
 * the same rules as ever (a prefetch is only a hint). */
#define PREFETCH_BATCH 32
int cf_flow_table_add_batch(cf_flow_table *t, const cf_pkt *pkts, size_t n)
{
	flow_key keys[PREFETCH_BATCH];
	uint32_t bucket[PREFETCH_BATCH];
	int sender_lo[PREFETCH_BATCH];
	for (size_t base = 0; base < n; base += PREFETCH_BATCH) {
		size_t m = n - base < PREFETCH_BATCH ? n - base : PREFETCH_BATCH;
		const cf_pkt *p = pkts + base;
		for (size_t k = 0; k < m; k++) {
			if (p[k].skip != CF_SKIP_NONE)
				continue;
			make_key(&p[k], t->o.unidirectional, t->o.compat, &keys[k], &sender_lo[k]);
			bucket[k] = key_hash(&keys[k]) & t->mask;
			__builtin_prefetch(&t->buckets[bucket[k]]);
		}
		for (size_t k = 0; k < m; k++) {
			if (p[k].skip != CF_SKIP_NONE)
				continue;
			uint32_t i = t->buckets[bucket[k]];
			if (i != NIL)
				__builtin_prefetch(&t->slots[i]);
		}
		for (size_t k = 0; k < m; k++) {
			t->c.packets++;
			if (p[k].skip != CF_SKIP_NONE)
				t->c.skipped[p[k].skip < CF_SKIP_COUNT ? p[k].skip : 0]++;
			else
				add_keyed(t, &p[k], &keys[k], bucket[k], sender_lo[k]);
		}
	}
	int st = t->status;
	t->status = CF_OK;
	return st;
}

int cf_flow_table_finish(cf_flow_table *t)
{
	uint32_t i;
	while ((i = t->lists[L_START].head) != NIL)
		end_flow(t, i, CF_FLOW_END_EOF);
	t->clock_set = 0;
	int st = t->status;
	t->status = CF_OK;
	return st;
}

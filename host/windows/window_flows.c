/*
 * Packets into entries (docs/windows.md §2): a small flow table that keeps,
 * per bidirectional 5-tuple, who sent the first packet (the entry's src)
 * and the conntrack-like state after each packet. Flows idle longer than
 * the idle timeout are forgotten by a sweep every idle timeout of capture
 * time, so the table holds the flows of the last two timeouts at most.
 * A SYN without ACK on a closed or reset TCP flow starts a new flow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window_internal.h"
#include "cuflow/hd.h"

typedef struct wkey {
	uint8_t ver, proto;
	uint16_t aport, bport;
	uint8_t a[16], b[16];
} wkey; /* 38 bytes, compared with memcmp */

enum {
	WF_INIT_IS_A = 1, WF_SYN = 2, WF_SYNACK = 4, WF_EST = 8, WF_FIN_I = 16, WF_FIN_R = 32, WF_RST = 64,
	WF_REVERSE = 128
};

typedef struct wflow {
	wkey key;
	uint8_t used, bits;
	int64_t last_ts;
	wflow_ids ids;
} wflow; /* one 64-byte cache line */
CF_STATIC_ASSERT(sizeof(wkey) == 38, "wkey has no padding");
CF_STATIC_ASSERT(sizeof(wflow) == 64, "a flow is one cache line");

struct wflows {
	wflow *slot;
	uint64_t mask, n;
	int64_t next_sweep;
	int have_sweep;
};

static uint64_t key_hash(const wkey *k)
{
	uint64_t w[5] = {0}, h = 0x84222325cbf29ce4ull;
	memcpy(w, k, sizeof *k);
	for (int i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

static int table_init(struct wflows *f, uint64_t cap)
{
	f->slot = calloc(cap, sizeof *f->slot);
	if (!f->slot)
		return -1;
	f->mask = cap - 1;
	f->n = 0;
	return 0;
}

static wflow *insert_slot(struct wflows *f, const wkey *k)
{
	uint64_t j = key_hash(k) & f->mask;
	while (f->slot[j].used)
		j = (j + 1) & f->mask;
	return &f->slot[j];
}

/* Keeps the flows seen since `since` (all when since is INT64_MIN), in a
 * table of at least cap slots. */
static int rebuild(struct wflows *f, int64_t since, uint64_t cap)
{
	struct wflows g = *f;
	uint64_t keep = 0;
	for (uint64_t i = 0; f->slot && i <= f->mask; i++)
		keep += f->slot[i].used && f->slot[i].last_ts >= since;
	while (cap < 2 * keep + 64)
		cap *= 2;
	if (table_init(f, cap)) {
		*f = g;
		return -1;
	}
	for (uint64_t i = 0; g.slot && i <= g.mask; i++)
		if (g.slot[i].used && g.slot[i].last_ts >= since) {
			*insert_slot(f, &g.slot[i].key) = g.slot[i];
			f->n++;
		}
	free(g.slot);
	return 0;
}

void cf_windows_flows_reset(cf_windows *w)
{
	if (w->flows) {
		free(w->flows->slot);
		memset(w->flows, 0, sizeof *w->flows);
	}
	w->flows_seen = 0;
}

void cf_windows_flows_forget_ids(cf_windows *w)
{
	struct wflows *f = w->flows;
	for (uint64_t i = 0; f && f->slot && i <= f->mask; i++)
		f->slot[i].ids.serial = 0;
}

void cf_windows_flows_free(cf_windows *w)
{
	if (w->flows)
		free(w->flows->slot);
	free(w->flows);
	w->flows = NULL;
}

static int state_of(const wflow *fl)
{
	if (fl->bits & WF_RST)
		return CF_WSTATE_RESET;
	if ((fl->bits & (WF_FIN_I | WF_FIN_R)) == (WF_FIN_I | WF_FIN_R))
		return CF_WSTATE_CLOSED;
	if (fl->bits & (WF_FIN_I | WF_FIN_R))
		return CF_WSTATE_CLOSING;
	if (fl->bits & WF_EST)
		return CF_WSTATE_ESTABLISHED;
	return CF_WSTATE_CONNECTING;
}

static int is_entry_proto(uint8_t p)
{
	return p == 6 || p == 17 || p == 1 || p == 58;
}

int cf_windows_add_packets(cf_windows *w, const cf_pkt *p, size_t n)
{
	struct wflows *f = w->flows;
	if (!f) {
		if (!(f = w->flows = calloc(1, sizeof *f)))
			goto nomem;
	}
	if (!f->slot && table_init(f, 1024))
		goto nomem;
	/* in groups: keys and hashes first, the slots prefetched, then the
	 * packets in order (the table is larger than the caches) */
	enum { G = 16 };
	wkey keys[G];
	uint64_t hash[G];
	uint8_t is_a[G];
	for (size_t g0 = 0; g0 < n; g0 += G) {
		size_t gn = n - g0 < G ? n - g0 : G;
		for (size_t q = 0; q < gn; q++) {
			const cf_pkt *pk = &p[g0 + q];
			if (pk->skip != CF_SKIP_NONE || !is_entry_proto(pk->proto) || !pk->ip_version)
				continue;
			wkey *k = &keys[q];
			memset(k, 0, sizeof *k);
			k->ver = pk->ip_version;
			k->proto = pk->proto;
			int c = memcmp(pk->src_ip, pk->dst_ip, 16);
			int src_is_a = c < 0 || (c == 0 && pk->sport <= pk->dport);
			memcpy(k->a, src_is_a ? pk->src_ip : pk->dst_ip, 16);
			memcpy(k->b, src_is_a ? pk->dst_ip : pk->src_ip, 16);
			k->aport = src_is_a ? pk->sport : pk->dport;
			k->bport = src_is_a ? pk->dport : pk->sport;
			if (pk->proto == 1 || pk->proto == 58) /* the echo identifier (sport) in both directions */
				k->aport = k->bport = pk->sport;
			is_a[q] = (uint8_t)src_is_a;
			hash[q] = key_hash(k);
			__builtin_prefetch(&f->slot[hash[q] & f->mask]);
		}
	for (size_t q = 0; q < gn; q++) {
		const cf_pkt *pk = &p[g0 + q];
		if (pk->skip != CF_SKIP_NONE || !is_entry_proto(pk->proto) || !pk->ip_version) {
			w->c.not_ip++;
			continue;
		}
		if (pk->ts_ns > CF_WINDOWS_TS_MAX || pk->ts_ns < -CF_WINDOWS_TS_MAX) {
			w->c.bad_time++;
			continue;
		}
		if (!f->have_sweep) {
			f->next_sweep = pk->ts_ns + w->o.idle_timeout_ns;
			f->have_sweep = 1;
		} else if (pk->ts_ns >= f->next_sweep) {
			if (rebuild(f, pk->ts_ns - w->o.idle_timeout_ns, 1024))
				goto nomem;
			f->next_sweep = pk->ts_ns + w->o.idle_timeout_ns;
		}
		if ((f->n + 1) * 2 > f->mask + 1 && rebuild(f, INT64_MIN, (f->mask + 1) * 2))
			goto nomem;
		const wkey k = keys[q];
		int src_is_a = is_a[q];
		int icmp = pk->proto == 1 || pk->proto == 58;
		uint64_t j = hash[q] & f->mask;
		while (f->slot[j].used && memcmp(&f->slot[j].key, &k, sizeof k))
			j = (j + 1) & f->mask;
		wflow *fl = &f->slot[j];
		int tcp = pk->proto == 6;
		uint16_t fl_bits = pk->tcp_flags;
		int syn_only = tcp && (fl_bits & CF_TCP_SYN) && !(fl_bits & CF_TCP_ACK);
		int idle = fl->used && pk->ts_ns - fl->last_ts > w->o.idle_timeout_ns;
		int restart = fl->used && syn_only && (fl->bits & (WF_RST | WF_FIN_I | WF_FIN_R));
		int state;
		if (!fl->used || idle || restart) {
			if (!fl->used)
				f->n++;
			memset(fl, 0, sizeof *fl);
			fl->used = 1;
			fl->key = k;
			fl->bits = src_is_a ? WF_INIT_IS_A : 0;
			if (tcp) {
				if (syn_only)
					fl->bits |= WF_SYN;
				if (fl_bits & CF_TCP_RST)
					fl->bits |= WF_RST;
				if (fl_bits & CF_TCP_FIN)
					fl->bits |= WF_FIN_I;
			}
			w->flows_seen++;
			state = CF_WSTATE_NEW;
		} else {
			int from_init = !!(fl->bits & WF_INIT_IS_A) == src_is_a;
			if (!from_init)
				fl->bits |= WF_REVERSE;
			if (tcp) {
				if (fl_bits & CF_TCP_RST)
					fl->bits |= WF_RST;
				if (fl_bits & CF_TCP_FIN)
					fl->bits |= from_init ? WF_FIN_I : WF_FIN_R;
				if (!from_init && (fl_bits & CF_TCP_SYN) && (fl_bits & CF_TCP_ACK))
					fl->bits |= WF_SYNACK;
				if (!(fl->bits & WF_SYN))
					fl->bits |= WF_EST; /* picked up mid-stream: established from its second packet */
				else if (from_init && (fl->bits & WF_SYNACK) && (fl_bits & CF_TCP_ACK) && !(fl_bits & CF_TCP_SYN))
					fl->bits |= WF_EST;
				state = state_of(fl);
			} else {
				state = (fl->bits & WF_REVERSE) ? CF_WSTATE_ESTABLISHED : CF_WSTATE_CONNECTING;
			}
		}
		fl->last_ts = pk->ts_ns;
		int from_init = !!(fl->bits & WF_INIT_IS_A) == src_is_a;
		cf_window_entry e;
		e.ts_ns = pk->ts_ns;
		e.ip_version = pk->ip_version;
		e.proto = pk->proto;
		e.state = (uint8_t)state;
		e.dst_ip_version = 0;
		memcpy(e.src_ip, from_init ? pk->src_ip : pk->dst_ip, 16);
		memcpy(e.dst_ip, from_init ? pk->dst_ip : pk->src_ip, 16);
		e.src_port = from_init || icmp ? pk->sport : pk->dport;
		e.dst_port = from_init || icmp ? pk->dport : pk->sport;
		e.bytes_up = from_init ? pk->wirelen : 0;
		e.bytes_down = from_init ? 0 : pk->wirelen;
		int st = cf_windows_add_one(w, &e, &fl->ids);
		if (st != CF_OK)
			return st;
	}
	}
	return CF_OK;
nomem:
	snprintf(w->err, sizeof w->err, "out of memory");
	return CF_ERR_NOMEM;
}

int cf_windows_add_flow(cf_windows *w, const cf_flow_record *r)
{
	if (r->bidir.first_ns > CF_WINDOWS_TS_MAX || r->bidir.first_ns < -CF_WINDOWS_TS_MAX) {
		w->c.bad_time++;
		return CF_OK;
	}
	cf_window_entry e;
	memset(&e, 0, sizeof e);
	e.ts_ns = r->bidir.first_ns;
	e.ip_version = r->ip_version;
	e.proto = r->proto;
	e.src_port = r->src_port;
	e.dst_port = r->dst_port;
	memcpy(e.src_ip, r->src_ip, 16);
	memcpy(e.dst_ip, r->dst_ip, 16);
	e.bytes_up = r->src2dst.bytes;
	e.bytes_down = r->dst2src.bytes;
	if (r->end_reason == CF_FLOW_END_FIN)
		e.state = CF_WSTATE_CLOSED;
	else if (r->end_reason == CF_FLOW_END_RST)
		e.state = CF_WSTATE_RESET;
	else
		e.state = r->src2dst.packets && r->dst2src.packets ? CF_WSTATE_ESTABLISHED : CF_WSTATE_NEW;
	w->flows_seen++;
	return cf_windows_add_one(w, &e, NULL);
}

/*
 * The flow engine: flow table -> pieces -> batch -> backend -> records.
 *
 * The table hands out pieces (flow_table.h). A whole flow becomes one
 * piece of the batch, computed entirely by the backend. A split flow's
 * pieces each get their exact partial accumulators from the backend; the
 * engine keeps, per split flow, the merged part, an exact histogram of
 * its sizes per direction (for the quantiles) and its early-packet
 * sequence (both filled here on the host from the piece's packets, as
 * they pass), and finishes the flow when its last piece has been merged.
 * Pieces are processed in the order the table handed them out, so
 * records leave in the table's output order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cuflow/flow.h"
#include "flow/flow_table.h"

/* A sorted (size, count) histogram. */
typedef struct size_hist {
	uint32_t *size, *count;
	uint32_t n, cap;
} size_hist;

typedef struct split_state {
	cf_flow_part part;
	size_hist hist[2];          /* src2dst, dst2src */
	uint32_t *seq_size;         /* [seq_len] */
	int64_t *seq_iat;
	int8_t *seq_dir;
	uint32_t seq_n;
	int64_t prev_ts;
	uint32_t next_free;
} split_state;

struct cf_flow_engine {
	cf_flow_opts o;
	cf_backend *be;
	cf_flow_emit_fn emit;
	void *user;
	cf_flow_table *t;
	cf_flow_batch b;
	cf_flow_ident *ids;         /* [batch_flows]: identity of pieces that end a flow */
	uint32_t *tags;             /* [batch_flows]: split state + 1, 0 for whole flows */
	uint8_t *last;              /* [batch_flows] */
	split_state *states;
	uint32_t n_states, free_state;
	int status;
	cf_flow_counters c;
	char error[CF_ERRBUF_SIZE];
};

#define NONE UINT32_MAX

/* ---------------------------------------------------------------- split flows */

static int hist_add(size_hist *h, uint32_t size)
{
	uint32_t lo = 0, hi = h->n;
	while (lo < hi) {
		uint32_t m = lo + (hi - lo) / 2;
		if (h->size[m] < size)
			lo = m + 1;
		else
			hi = m;
	}
	if (lo < h->n && h->size[lo] == size) {
		h->count[lo]++;
		return CF_OK;
	}
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? 2 * h->cap : 16;
		uint32_t *s = realloc(h->size, (size_t)cap * sizeof *s);
		if (s)
			h->size = s;
		uint32_t *c = s ? realloc(h->count, (size_t)cap * sizeof *c) : NULL;
		if (!c)
			return CF_ERR_NOMEM;
		h->count = c;
		h->cap = cap;
	}
	memmove(h->size + lo + 1, h->size + lo, (size_t)(h->n - lo) * sizeof *h->size);
	memmove(h->count + lo + 1, h->count + lo, (size_t)(h->n - lo) * sizeof *h->count);
	h->size[lo] = size;
	h->count[lo] = 1;
	h->n++;
	return CF_OK;
}

/* The k-th smallest (0-based) size of the union of the histograms. */
static uint32_t hist_kth(const size_hist *a, const size_hist *b, uint64_t k)
{
	uint32_t i = 0, j = 0;
	uint64_t seen = 0;
	for (;;) {
		int take_a = j == (b ? b->n : 0) || (i < a->n && a->size[i] <= b->size[j]);
		uint32_t v = take_a ? a->size[i] : b->size[j];
		seen += take_a ? a->count[i++] : b->count[j++];
		if (seen > k)
			return v;
	}
}

static void hist_quantiles(cf_flow_stats *s, const size_hist *a, const size_hist *b)
{
	uint64_t n = s->packets;
	double q[3] = {0, 0, 0};
	if (n)
		for (int k = 0; k < 3; k++) {
			uint64_t lo;
			double frac;
			cf_quarter_pos(n, k + 1, &lo, &frac);
			double x0 = hist_kth(a, b, lo);
			double x1 = lo + 1 < n ? hist_kth(a, b, lo + 1) : x0;
			q[k] = cf_lerp_numpy(x0, x1, frac);
		}
	s->ps_p25 = q[0];
	s->ps_p50 = q[1];
	s->ps_p75 = q[2];
}

static uint32_t state_alloc(cf_flow_engine *e)
{
	if (e->free_state == NONE) {
		uint32_t n = e->n_states ? 2 * e->n_states : 64;
		split_state *s = realloc(e->states, (size_t)n * sizeof *s);
		if (!s)
			return NONE;
		memset(s + e->n_states, 0, (size_t)(n - e->n_states) * sizeof *s);
		for (uint32_t i = e->n_states; i < n; i++) {
			s[i].next_free = i + 1 < n ? i + 1 : NONE;
			uint32_t L = e->o.seq_len ? e->o.seq_len : 1;
			s[i].seq_size = malloc(L * sizeof *s[i].seq_size);
			s[i].seq_iat = malloc(L * sizeof *s[i].seq_iat);
			s[i].seq_dir = malloc(L);
			if (!s[i].seq_size || !s[i].seq_iat || !s[i].seq_dir) {
				e->states = s;
				e->n_states = i + 1;
				s[i].next_free = NONE;
				return NONE;
			}
		}
		e->free_state = e->n_states;
		e->states = s;
		e->n_states = n;
	}
	uint32_t i = e->free_state;
	split_state *st = &e->states[i];
	e->free_state = st->next_free;
	cf_flow_part_clear(&st->part);
	st->hist[0].n = st->hist[1].n = 0;
	st->seq_n = 0;
	return i;
}

static void state_free(cf_flow_engine *e, uint32_t i)
{
	e->states[i].next_free = e->free_state;
	e->free_state = i;
}

/* ---------------------------------------------------------------- batches */

static void fill_ident(cf_flow_record *r, const cf_flow_ident *id)
{
	r->id = id->id;
	r->ip_version = id->ip_version;
	r->proto = id->proto;
	r->end_reason = id->end_reason;
	r->icmp_type = id->icmp_type;
	r->icmp_code = id->icmp_code;
	r->vlan_id = id->vlan_id;
	r->tunnel_id = id->tunnel_id;
	r->src_port = id->src_port;
	r->dst_port = id->dst_port;
	memcpy(r->src_ip, id->src_ip, 16);
	memcpy(r->dst_ip, id->dst_ip, 16);
}

static void set_error(cf_flow_engine *e, int st, const char *msg)
{
	if (e->status == CF_OK) {
		e->status = st;
		snprintf(e->error, sizeof e->error, "%s", msg);
	}
}

/* Runs the backend on the batch and emits / merges its pieces in order. */
static int run_batch(cf_flow_engine *e)
{
	cf_flow_batch *b = &e->b;
	if (b->n_pieces == 0)
		return e->status;
	e->c.batches++;
	int st = cf_backend_flow_features(e->be, b);
	if (st < 0) {
		set_error(e, st, cf_backend_error(e->be));
		cf_flow_batch_reset(b);
		return e->status;
	}
	cf_flow_record r;
	for (uint32_t i = 0; i < b->n_pieces; i++) {
		if (!e->tags[i]) {
			fill_ident(&r, &e->ids[i]);
			r.bidir = b->stats[3 * (uint64_t)i + CF_DIR_BIDIR];
			r.src2dst = b->stats[3 * (uint64_t)i + CF_DIR_SRC2DST];
			r.dst2src = b->stats[3 * (uint64_t)i + CF_DIR_DST2SRC];
			uint64_t q = (uint64_t)i * b->seq_len;
			r.seq_n = b->seq_n[i];
			r.seq_size = b->seq_size + q;
			r.seq_iat_ns = b->seq_iat_ns + q;
			r.seq_dir = b->seq_dir + q;
		} else {
			split_state *s = &e->states[e->tags[i] - 1];
			cf_flow_part_merge(&s->part, &b->part[i]);
			if (!e->last[i])
				continue;
			fill_ident(&r, &e->ids[i]);
			cf_flow_stats_finish(&r.bidir, &s->part.d[CF_DIR_BIDIR]);
			cf_flow_stats_finish(&r.src2dst, &s->part.d[CF_DIR_SRC2DST]);
			cf_flow_stats_finish(&r.dst2src, &s->part.d[CF_DIR_DST2SRC]);
			hist_quantiles(&r.bidir, &s->hist[0], &s->hist[1]);
			hist_quantiles(&r.src2dst, &s->hist[0], NULL);
			hist_quantiles(&r.dst2src, &s->hist[1], NULL);
			r.seq_n = s->seq_n;
			r.seq_size = s->seq_size;
			r.seq_iat_ns = s->seq_iat;
			r.seq_dir = s->seq_dir;
			state_free(e, e->tags[i] - 1);
		}
		if (e->status == CF_OK) {
			int est = e->emit(e->user, &r);
			if (est < 0)
				set_error(e, est, "the flow output callback failed");
		}
	}
	cf_flow_batch_reset(b);
	return e->status;
}

/* The table's piece callback. */
static int on_piece(void *user, const cf_flow_ident *id, const cf_flow_pkt *pkts, uint32_t n, int first, int last,
                    uint32_t *tag)
{
	cf_flow_engine *e = user;
	cf_flow_batch *b = &e->b;
	int whole = first && last;
	if (!whole) {
		if (first) {
			uint32_t s = state_alloc(e);
			if (s == NONE) {
				set_error(e, CF_ERR_NOMEM, "out of memory for the state of a long flow");
				return e->status;
			}
			*tag = s + 1;
		}
		split_state *s = &e->states[*tag - 1];
		for (uint32_t k = 0; k < n; k++) {
			if (hist_add(&s->hist[pkts[k].dir & 1], pkts[k].size) < 0) {
				set_error(e, CF_ERR_NOMEM, "out of memory for the size histogram of a long flow");
				return e->status;
			}
			if (s->seq_n < e->o.seq_len) {
				s->seq_size[s->seq_n] = pkts[k].size;
				s->seq_iat[s->seq_n] = s->seq_n ? pkts[k].ts_ns - s->prev_ts : 0;
				s->seq_dir[s->seq_n] = pkts[k].dir ? -1 : 1;
				s->seq_n++;
			}
			s->prev_ts = pkts[k].ts_ns;
		}
	}
	if (b->n_pieces == b->max_pieces || b->n_packets + n > b->max_packets)
		run_batch(e);
	uint32_t i = b->n_pieces;
	e->tags[i] = whole ? 0 : *tag;
	e->last[i] = (uint8_t)last;
	if (last)
		e->ids[i] = *id;
	cf_flow_batch_push(b, pkts, n, whole);
	return e->status;
}

/* ---------------------------------------------------------------- API */

int cf_flow_engine_open(const cf_flow_opts *opts, cf_backend *backend, cf_flow_emit_fn emit, void *user,
                        cf_flow_engine **out, char *errbuf)
{
	*out = NULL;
	cf_flow_opts o;
	if (opts)
		o = *opts;
	else
		cf_flow_opts_default(&o);
	if (!backend || !emit || o.seq_len > 1024 || o.batch_flows == 0 || o.batch_packets < o.piece_packets ||
	    o.batch_packets == 0) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE,
			         "flow engine: invalid options (backend and callback required, seq_len <= 1024, "
			         "batch_packets >= piece_packets)");
		return CF_ERR_ARG;
	}
	cf_flow_engine *e = calloc(1, sizeof *e);
	if (!e) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	e->o = o;
	e->be = backend;
	e->emit = emit;
	e->user = user;
	e->free_state = NONE;
	int st = cf_flow_table_open(&o, on_piece, e, &e->t, errbuf);
	if (st < 0) {
		free(e);
		return st;
	}
	st = cf_flow_batch_init(&e->b, o.batch_flows, o.batch_packets, o.seq_len,
	                        cf_backend_kind(backend) == CF_BACKEND_CUDA);
	e->ids = malloc((size_t)o.batch_flows * sizeof *e->ids);
	e->tags = malloc((size_t)o.batch_flows * sizeof *e->tags);
	e->last = malloc(o.batch_flows);
	if (st < 0 || !e->ids || !e->tags || !e->last) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow engine: out of memory for batches of %u flows / %u packets",
			         o.batch_flows, o.batch_packets);
		cf_flow_engine_close(e);
		return st < 0 ? st : CF_ERR_NOMEM;
	}
	*out = e;
	return CF_OK;
}

int cf_flow_engine_add(cf_flow_engine *e, const cf_pkt *p)
{
	int st = cf_flow_table_add(e->t, p);
	if (st < 0 && e->status == CF_OK)
		e->status = st;
	return e->status;
}

int cf_flow_engine_add_batch(cf_flow_engine *e, const cf_pkt *p, size_t n)
{
	int st = cf_flow_table_add_batch(e->t, p, n);
	if (st < 0 && e->status == CF_OK)
		e->status = st;
	return e->status;
}

int cf_flow_engine_finish(cf_flow_engine *e)
{
	int st = cf_flow_table_finish(e->t);
	if (st < 0 && e->status == CF_OK)
		e->status = st;
	run_batch(e);
	return e->status;
}

uint32_t cf_flow_engine_live(const cf_flow_engine *e)
{
	return cf_flow_table_live(e->t);
}

const cf_flow_counters *cf_flow_engine_counters(const cf_flow_engine *e)
{
	cf_flow_engine *m = (cf_flow_engine *)e;
	uint64_t batches = m->c.batches;
	m->c = *cf_flow_table_counters(e->t);
	m->c.batches = batches;
	return &m->c;
}

const char *cf_flow_engine_error(const cf_flow_engine *e)
{
	return e->error;
}

void cf_flow_engine_close(cf_flow_engine *e)
{
	if (!e)
		return;
	cf_flow_table_close(e->t);
	cf_flow_batch_free(&e->b);
	for (uint32_t i = 0; i < e->n_states; i++) {
		free(e->states[i].hist[0].size);
		free(e->states[i].hist[0].count);
		free(e->states[i].hist[1].size);
		free(e->states[i].hist[1].count);
		free(e->states[i].seq_size);
		free(e->states[i].seq_iat);
		free(e->states[i].seq_dir);
	}
	free(e->states);
	free(e->ids);
	free(e->tags);
	free(e->last);
	free(e);
}

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
 * With opts.ip_ids, Joy's per-direction minimum TTL and first IP ids are
 * gathered here too, as the packets pass into the batch (ipx_add).
 * Pieces are processed in the order the table handed them out, so
 * records leave in the table's output order.
 *
 * With opts.threads >= 2 the backend and the emit callback run in one
 * worker thread on full batches while the caller's thread fills another
 * batch slot (reading, decoding, flow tracking go on). There is
 * one worker and batches are handed over in order, so the records, their
 * order and the batch boundaries are those of the 1-thread run. What both
 * threads touch: the split-flow states (states_mu) and the status/error
 * (mu, which also guards the hand-over).
 *
 * With the CPU backend the pieces of a queued batch are also shared: the
 * worker and, whenever it would otherwise wait for a free slot, the
 * caller's thread claim chunks of pieces (an atomic counter) and compute
 * them; the worker emits once every piece is done. Each piece is computed
 * by one function whoever runs it, so the bits do not change; what
 * changes is that neither thread idles while the other has work (the
 * worker alone was the bottleneck: computing and writing cost more than
 * reading, decoding and tracking).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/internal.h"
#include "cuflow/flow.h"
#include "flow/flow_table.h"
#include "backend/backend_cpu.h"

/* Batches in memory with a worker thread: one filled by the caller, the
 * rest queued for the worker. A queue of 3 measured no faster than 1 on 2
 * vCPUs (extract, 605 MB mixed) and costs 12 MB per slot. */
#define ENGINE_SLOTS 2

/* Pieces claimed at a time when a batch's pieces are shared. */
#define SHARE_CHUNK 128

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
	uint8_t ttl_min[2];         /* with opts.ip_ids: see ipx_add */
	uint32_t id_n[2];
	uint16_t *ip_ids;           /* [2 * ip_ids] */
} split_state;

/* One batch and what the engine needs to finish its pieces. */
typedef struct batch_slot {
	cf_flow_batch b;
	cf_flow_ident *ids;         /* [batch_flows]: identity of pieces that end a flow */
	uint32_t *tags;             /* [batch_flows]: split state + 1, 0 for whole flows */
	uint8_t *last;              /* [batch_flows] */
	uint8_t *ttl_min;           /* [2 * batch_flows], with opts.ip_ids only */
	uint32_t *id_n;             /* [2 * batch_flows] */
	uint16_t *ip_ids;           /* [2 * batch_flows * ip_ids] */
	uint32_t n_claim;           /* shared compute: pieces to compute, set before queueing */
	uint32_t next, done;        /* atomic: next piece to claim, pieces computed */
	int failed;                 /* atomic: a chunk failed (its pieces are not computed) */
} batch_slot;

struct cf_flow_engine {
	cf_flow_opts o;
	cf_backend *be;
	cf_flow_emit_fn emit;
	void *user;
	cf_flow_table *t;
	batch_slot slot[ENGINE_SLOTS]; /* slot[0] only, without a worker */
	int nslots;
	int cur;                    /* the slot the caller's thread fills */
	split_state *states;
	uint32_t n_states, free_state;
	uint32_t *seq_size;         /* [seq_len] a finished split flow's sequence, */
	int64_t *seq_iat;           /* copied out so that its state can be reused */
	int8_t *seq_dir;            /* while the record is emitted */
	uint16_t *ip_ids;           /* [2 * ip_ids] the same for its IP ids */
	int status;                 /* atomic loads; written under mu */
	uint64_t batches;           /* atomic */
	cf_flow_counters c;
	char error[CF_ERRBUF_SIZE];
	/* worker (threads >= 2) */
	int threaded;
	pthread_t worker;
	pthread_mutex_t mu, states_mu;
	pthread_cond_t cv;
	int head, queued;           /* slots handed to the worker: slot[head] and the
	                               queued - 1 after it, in order (under mu) */
	int quit;
	int share;                  /* threaded with the CPU backend: pieces shared */
	cf_cpu_flow_scratch scratch[2]; /* per thread: [0] worker, [1] caller */
	char share_err[2][CF_ERRBUF_SIZE];
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
			s[i].ip_ids = e->o.ip_ids ? malloc(2 * (size_t)e->o.ip_ids * sizeof *s[i].ip_ids) : NULL;
			if (!s[i].seq_size || !s[i].seq_iat || !s[i].seq_dir || (e->o.ip_ids && !s[i].ip_ids)) {
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
	st->ttl_min[0] = st->ttl_min[1] = 255;
	st->id_n[0] = st->id_n[1] = 0;
	return i;
}

static void state_free(cf_flow_engine *e, uint32_t i)
{
	e->states[i].next_free = e->free_state;
	e->free_state = i;
}

/* Joy's `ip` object, gathered while the packets pass on their way to the
 * batch (a gather, no arithmetic for a backend to do): per direction the
 * smallest TTL, which starts at 255, and the ids of its first K packets. */
static void ipx_add(const cf_flow_pkt *p, uint32_t n, uint32_t K, uint8_t ttl_min[2], uint32_t id_n[2],
                    uint16_t *ids)
{
	for (uint32_t k = 0; k < n; k++) {
		unsigned d = p[k].dir & 1;
		if (p[k].ttl < ttl_min[d])
			ttl_min[d] = p[k].ttl;
		if (id_n[d] < K)
			ids[d * K + id_n[d]++] = p[k].ip_id;
	}
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

/* The first error wins; its message stays. Either thread may call it
 * (lock order: states_mu before mu). */
static void set_error(cf_flow_engine *e, int st, const char *msg)
{
	pthread_mutex_lock(&e->mu);
	if (e->status == CF_OK) {
		snprintf(e->error, sizeof e->error, "%s", msg);
		__atomic_store_n(&e->status, st, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&e->mu);
}

static int status_of(cf_flow_engine *e)
{
	return __atomic_load_n(&e->status, __ATOMIC_ACQUIRE);
}

/* Shared compute: claims chunks of the slot's pieces until none is left
 * and computes them with thread `who`'s scratch. Returns whether it
 * computed any. */
static int compute_share(cf_flow_engine *e, batch_slot *sl, int who)
{
	int any = 0;
	for (;;) {
		uint32_t i0 = __atomic_fetch_add(&sl->next, SHARE_CHUNK, __ATOMIC_RELAXED);
		if (i0 >= sl->n_claim)
			return any;
		uint32_t i1 = sl->n_claim - i0 < SHARE_CHUNK ? sl->n_claim : i0 + SHARE_CHUNK;
		int st = cf_cpu_flow_pieces(&sl->b, i0, i1, &e->scratch[who], e->share_err[who]);
		if (st < 0) {
			set_error(e, st, e->share_err[who]);
			__atomic_store_n(&sl->failed, 1, __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&sl->done, i1 - i0, __ATOMIC_RELEASE);
		any = 1;
	}
}

/* Runs the backend on the batch and emits / merges its pieces in order
 * (in the worker when there is one). */
static void run_batch(cf_flow_engine *e, batch_slot *sl)
{
	cf_flow_batch *b = &sl->b;
	if (b->n_pieces == 0)
		return;
	__atomic_add_fetch(&e->batches, 1, __ATOMIC_RELAXED);
	if (e->share) {
		compute_share(e, sl, 0);
		/* the caller's last chunk, if it holds one, is at most
		 * SHARE_CHUNK pieces away */
		while (__atomic_load_n(&sl->done, __ATOMIC_ACQUIRE) < sl->n_claim)
			sched_yield();
	} else {
		int st = cf_backend_flow_features(e->be, b);
		if (st < 0) {
			set_error(e, st, cf_backend_error(e->be));
			cf_flow_batch_reset(b);
			return;
		}
	}
	if (e->share && __atomic_load_n(&sl->failed, __ATOMIC_RELAXED)) {
		cf_flow_batch_reset(b);
		return;
	}
	cf_flow_record r;
	memset(&r, 0, sizeof r);
	for (uint32_t i = 0; i < b->n_pieces; i++) {
		if (!sl->tags[i]) {
			fill_ident(&r, &sl->ids[i]);
			r.bidir = b->stats[3 * (uint64_t)i + CF_DIR_BIDIR];
			r.src2dst = b->stats[3 * (uint64_t)i + CF_DIR_SRC2DST];
			r.dst2src = b->stats[3 * (uint64_t)i + CF_DIR_DST2SRC];
			uint64_t q = (uint64_t)i * b->seq_len;
			r.seq_n = b->seq_n[i];
			r.seq_size = b->seq_size + q;
			r.seq_iat_ns = b->seq_iat_ns + q;
			r.seq_dir = b->seq_dir + q;
			if (e->o.ip_ids)
				for (int d = 0; d < 2; d++) {
					r.ttl_min[d] = sl->ttl_min[2 * i + d];
					r.ip_id_n[d] = sl->id_n[2 * i + d];
					r.ip_ids[d] = sl->ip_ids + (2 * (size_t)i + d) * e->o.ip_ids;
				}
		} else {
			pthread_mutex_lock(&e->states_mu);
			split_state *s = &e->states[sl->tags[i] - 1];
			cf_flow_part_merge(&s->part, &b->part[i]);
			if (!sl->last[i]) {
				pthread_mutex_unlock(&e->states_mu);
				continue;
			}
			fill_ident(&r, &sl->ids[i]);
			cf_flow_stats_finish(&r.bidir, &s->part.d[CF_DIR_BIDIR]);
			cf_flow_stats_finish(&r.src2dst, &s->part.d[CF_DIR_SRC2DST]);
			cf_flow_stats_finish(&r.dst2src, &s->part.d[CF_DIR_DST2SRC]);
			hist_quantiles(&r.bidir, &s->hist[0], &s->hist[1]);
			hist_quantiles(&r.src2dst, &s->hist[0], NULL);
			hist_quantiles(&r.dst2src, &s->hist[1], NULL);
			r.seq_n = s->seq_n;
			memcpy(e->seq_size, s->seq_size, s->seq_n * sizeof *e->seq_size);
			memcpy(e->seq_iat, s->seq_iat, s->seq_n * sizeof *e->seq_iat);
			memcpy(e->seq_dir, s->seq_dir, s->seq_n);
			r.seq_size = e->seq_size;
			r.seq_iat_ns = e->seq_iat;
			r.seq_dir = e->seq_dir;
			if (e->o.ip_ids) {
				memcpy(e->ip_ids, s->ip_ids, 2 * (size_t)e->o.ip_ids * sizeof *e->ip_ids);
				for (int d = 0; d < 2; d++) {
					r.ttl_min[d] = s->ttl_min[d];
					r.ip_id_n[d] = s->id_n[d];
					r.ip_ids[d] = e->ip_ids + (size_t)d * e->o.ip_ids;
				}
			}
			state_free(e, sl->tags[i] - 1);
			pthread_mutex_unlock(&e->states_mu);
		}
		if (status_of(e) == CF_OK) {
			int est = e->emit(e->user, &r);
			if (est < 0)
				set_error(e, est, "the flow output callback failed");
		}
	}
	cf_flow_batch_reset(b);
}

static void *worker_main(void *arg)
{
	cf_flow_engine *e = arg;
	pthread_mutex_lock(&e->mu);
	for (;;) {
		while (e->queued == 0 && !e->quit)
			pthread_cond_wait(&e->cv, &e->mu);
		if (e->queued == 0)
			break;
		int k = e->head;
		pthread_mutex_unlock(&e->mu);
		run_batch(e, &e->slot[k]);
		pthread_mutex_lock(&e->mu);
		e->head = (e->head + 1) % e->nslots;
		e->queued--;
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* The caller's thread, instead of waiting (mu held): computes pieces of
 * the queued batches, oldest first, while any is left unclaimed. Returns
 * with mu held; whether it found work. */
static int help(cf_flow_engine *e)
{
	if (!e->share)
		return 0;
	int head = e->head, queued = e->queued;
	pthread_mutex_unlock(&e->mu);
	int any = 0;
	for (int q = 0; q < queued; q++)
		any |= compute_share(e, &e->slot[(head + q) % e->nslots], 1);
	pthread_mutex_lock(&e->mu);
	return any;
}

/* Waits until the worker has finished every batch handed to it. */
static void drain(cf_flow_engine *e)
{
	if (!e->threaded)
		return;
	pthread_mutex_lock(&e->mu);
	while (e->queued > 0)
		if (!help(e) && e->queued > 0)
			pthread_cond_wait(&e->cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

/* The current batch is full (or the input ended): compute it here, or
 * queue it for the worker and fill the next free slot, waiting only when
 * every slot is queued (a queue, not a strict alternation, absorbs batches
 * of uneven cost on either side). */
static void submit(cf_flow_engine *e)
{
	if (e->slot[e->cur].b.n_pieces == 0)
		return;
	if (!e->threaded) {
		run_batch(e, &e->slot[0]);
		return;
	}
	batch_slot *sl = &e->slot[e->cur];
	sl->n_claim = sl->b.n_pieces;
	sl->next = sl->done = 0; /* the slot is the caller's until queued */
	sl->failed = 0;
	pthread_mutex_lock(&e->mu);
	e->queued++;
	pthread_cond_broadcast(&e->cv);
	while (e->queued == e->nslots)
		if (!help(e) && e->queued == e->nslots)
			pthread_cond_wait(&e->cv, &e->mu);
	e->cur = (e->head + e->queued) % e->nslots;
	pthread_mutex_unlock(&e->mu);
}

/* The table's piece callback. */
static int on_piece(void *user, const cf_flow_ident *id, const cf_flow_pkt *pkts, uint32_t n, int first, int last,
                    uint32_t *tag)
{
	cf_flow_engine *e = user;
	int whole = first && last;
	if (!whole) {
		pthread_mutex_lock(&e->states_mu);
		if (first) {
			uint32_t s = state_alloc(e);
			if (s == NONE) {
				pthread_mutex_unlock(&e->states_mu);
				set_error(e, CF_ERR_NOMEM, "out of memory for the state of a long flow");
				return status_of(e);
			}
			*tag = s + 1;
		}
		split_state *s = &e->states[*tag - 1];
		for (uint32_t k = 0; k < n; k++) {
			if (hist_add(&s->hist[pkts[k].dir & 1], pkts[k].size) < 0) {
				pthread_mutex_unlock(&e->states_mu);
				set_error(e, CF_ERR_NOMEM, "out of memory for the size histogram of a long flow");
				return status_of(e);
			}
			if (s->seq_n < e->o.seq_len) {
				s->seq_size[s->seq_n] = pkts[k].size;
				s->seq_iat[s->seq_n] = s->seq_n ? pkts[k].ts_ns - s->prev_ts : 0;
				s->seq_dir[s->seq_n] = pkts[k].dir ? -1 : 1;
				s->seq_n++;
			}
			s->prev_ts = pkts[k].ts_ns;
		}
		if (e->o.ip_ids)
			ipx_add(pkts, n, e->o.ip_ids, s->ttl_min, s->id_n, s->ip_ids);
		pthread_mutex_unlock(&e->states_mu);
	}
	batch_slot *sl = &e->slot[e->cur];
	if (sl->b.n_pieces == sl->b.max_pieces || sl->b.n_packets + n > sl->b.max_packets) {
		submit(e);
		sl = &e->slot[e->cur];
	}
	uint32_t i = sl->b.n_pieces;
	sl->tags[i] = whole ? 0 : *tag;
	sl->last[i] = (uint8_t)last;
	if (last)
		sl->ids[i] = *id;
	if (whole && e->o.ip_ids) {
		uint8_t *ttl = sl->ttl_min + 2 * (size_t)i;
		uint32_t *cnt = sl->id_n + 2 * (size_t)i;
		ttl[0] = ttl[1] = 255;
		cnt[0] = cnt[1] = 0;
		ipx_add(pkts, n, e->o.ip_ids, ttl, cnt, sl->ip_ids + 2 * (size_t)i * e->o.ip_ids);
	}
	cf_flow_batch_push(&sl->b, pkts, n, whole);
	return status_of(e);
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
	if (!backend || !emit || o.seq_len > 1024 || o.ip_ids > 1024 || o.batch_flows == 0 ||
	    o.batch_packets < o.piece_packets || o.batch_packets == 0) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE,
			         "flow engine: invalid options (backend and callback required, seq_len <= 1024, "
			         "ip_ids <= 1024, batch_packets >= piece_packets)");
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
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->states_mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	int st = cf_flow_table_open(&o, on_piece, e, &e->t, errbuf);
	if (st < 0) {
		cf_flow_engine_close(e);
		return st;
	}
	int nslots = o.threads >= 2 ? ENGINE_SLOTS : 1;
	e->nslots = nslots;
	uint32_t L = o.seq_len ? o.seq_len : 1;
	e->seq_size = malloc(L * sizeof *e->seq_size);
	e->seq_iat = malloc(L * sizeof *e->seq_iat);
	e->seq_dir = malloc(L);
	size_t K = o.ip_ids;
	e->ip_ids = K ? malloc(2 * K * sizeof *e->ip_ids) : NULL;
	int ok = e->seq_size && e->seq_iat && e->seq_dir && (!K || e->ip_ids);
	for (int k = 0; k < nslots && ok && st >= 0; k++) {
		batch_slot *sl = &e->slot[k];
		st = cf_flow_batch_init(&sl->b, o.batch_flows, o.batch_packets, o.seq_len,
		                        cf_backend_kind(backend) == CF_BACKEND_CUDA);
		sl->ids = malloc((size_t)o.batch_flows * sizeof *sl->ids);
		sl->tags = malloc((size_t)o.batch_flows * sizeof *sl->tags);
		sl->last = malloc(o.batch_flows);
		ok = sl->ids && sl->tags && sl->last;
		if (K) {
			sl->ttl_min = malloc(2 * (size_t)o.batch_flows);
			sl->id_n = malloc(2 * (size_t)o.batch_flows * sizeof *sl->id_n);
			sl->ip_ids = malloc(2 * (size_t)o.batch_flows * K * sizeof *sl->ip_ids);
			ok = ok && sl->ttl_min && sl->id_n && sl->ip_ids;
		}
	}
	if (st < 0 || !ok) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow engine: out of memory for batches of %u flows / %u packets",
			         o.batch_flows, o.batch_packets);
		cf_flow_engine_close(e);
		return st < 0 ? st : CF_ERR_NOMEM;
	}
	if (nslots > 1) {
		if (pthread_create(&e->worker, NULL, worker_main, e) != 0) {
			if (errbuf)
				snprintf(errbuf, CF_ERRBUF_SIZE, "flow engine: cannot start the batch thread");
			cf_flow_engine_close(e);
			return CF_ERR_NOMEM;
		}
		e->threaded = 1;
		e->share = cf_backend_kind(backend) == CF_BACKEND_CPU;
	}
	*out = e;
	return CF_OK;
}

int cf_flow_engine_add(cf_flow_engine *e, const cf_pkt *p)
{
	int st = cf_flow_table_add(e->t, p);
	if (st < 0)
		set_error(e, st, "");
	return status_of(e);
}

int cf_flow_engine_add_batch(cf_flow_engine *e, const cf_pkt *p, size_t n)
{
	int st = cf_flow_table_add_batch(e->t, p, n);
	if (st < 0)
		set_error(e, st, "");
	return status_of(e);
}

int cf_flow_engine_finish(cf_flow_engine *e)
{
	int st = cf_flow_table_finish(e->t);
	if (st < 0)
		set_error(e, st, "");
	submit(e);
	drain(e);
	return status_of(e);
}

uint32_t cf_flow_engine_live(const cf_flow_engine *e)
{
	return cf_flow_table_live(e->t);
}

const cf_flow_counters *cf_flow_engine_counters(const cf_flow_engine *e)
{
	cf_flow_engine *m = (cf_flow_engine *)e;
	m->c = *cf_flow_table_counters(e->t);
	m->c.batches = __atomic_load_n(&m->batches, __ATOMIC_RELAXED);
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
	if (e->threaded) {
		pthread_mutex_lock(&e->mu);
		e->quit = 1;
		pthread_cond_broadcast(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->worker, NULL);
	}
	cf_flow_table_close(e->t);
	for (int k = 0; k < ENGINE_SLOTS; k++) {
		cf_flow_batch_free(&e->slot[k].b);
		free(e->slot[k].ids);
		free(e->slot[k].tags);
		free(e->slot[k].last);
		free(e->slot[k].ttl_min);
		free(e->slot[k].id_n);
		free(e->slot[k].ip_ids);
	}
	for (uint32_t i = 0; i < e->n_states; i++) {
		free(e->states[i].hist[0].size);
		free(e->states[i].hist[0].count);
		free(e->states[i].hist[1].size);
		free(e->states[i].hist[1].count);
		free(e->states[i].seq_size);
		free(e->states[i].seq_iat);
		free(e->states[i].seq_dir);
		free(e->states[i].ip_ids);
	}
	free(e->states);
	free(e->seq_size);
	free(e->seq_iat);
	free(e->seq_dir);
	free(e->ip_ids);
	cf_cpu_flow_scratch_free(&e->scratch[0]);
	cf_cpu_flow_scratch_free(&e->scratch[1]);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->states_mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

/*
 * The windows engine (cuflow/windows.h): entries into windows, windows
 * into dense-id batches (window_batch.h), batches through the backend,
 * rows out as column batches. Semantics: docs/windows.md.
 *
 * Tumbling and sliding windows stay open until the largest time seen
 * passes their end by `lateness_ns`; then they close in window order and
 * wait in the batch until batch_windows of them (or 2^31 entries) are
 * there. Seed batching has one open batch, closed by the notebook's rule.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/windows.h"
#include "cuflow/internal.h"
#include "window_internal.h"

#define CLOSED_MAX_ENTRIES (1ull << 31)
/* closed windows wait for the backend until this many entries are there
 * (or batch_windows windows): memory stays bounded by the entries, not
 * by how many windows a capture has */
#define CLOSED_FLUSH_ENTRIES (1ull << 20)

static const char *const state_names[CF_WSTATE_COUNT] = {"closed",  "established", "reset",
                                                        "new",     "closing",     "connecting"};

const char *cf_window_state_name(int s)
{
	return s >= 0 && s < CF_WSTATE_COUNT ? state_names[s] : NULL;
}

int cf_window_state_parse(const char *s, size_t n)
{
	for (int i = 0; i < CF_WSTATE_COUNT; i++)
		if (strlen(state_names[i]) == n && !memcmp(state_names[i], s, n))
			return i;
	return -1;
}

void cf_windows_opts_default(cf_windows_opts *o)
{
	memset(o, 0, sizeof *o);
	o->window_ns = 10000000000ll;
	o->lateness_ns = 1000000000ll;
	o->idle_timeout_ns = 120000000000ll;
	o->batch_windows = 256;
}

/* ---------------------------------------------------------------- windows */

static void wcols_free(wcols *c)
{
	free(c->src_id), free(c->dst_id), free(c->conn_id);
	free(c->sport), free(c->dport), free(c->state);
}

/* Room for n entries (capacities doubled, at least `first`). 0 or -1. */
static int wcols_reserve(wcols *c, uint64_t n, uint64_t first)
{
	if (n <= c->cap)
		return 0;
	uint64_t cap = c->cap ? c->cap * 2 : first;
	while (cap < n)
		cap *= 2;
	void *p[6] = {c->src_id, c->dst_id, c->conn_id, c->sport, c->dport, c->state};
	const size_t size[6] = {4, 4, 4, 2, 2, 1};
	for (int i = 0; i < 6; i++) {
		void *q = realloc(p[i], cap * size[i]);
		if (!q)
			return -1; /* the arrays grown so far stay valid; cap is unchanged */
		p[i] = q;
		switch (i) {
		case 0: c->src_id = q; break;
		case 1: c->dst_id = q; break;
		case 2: c->conn_id = q; break;
		case 3: c->sport = q; break;
		case 4: c->dport = q; break;
		default: c->state = q; break;
		}
	}
	c->cap = cap;
	return 0;
}

static void wacc_free(wacc *a)
{
	wcols_free(&a->c);
	wmap_free(&a->ips), wmap_free(&a->conns), wmap_free(&a->flows);
	free(a);
}

static void wacc_reset(wacc *a, int64_t k, uint32_t serial)
{
	a->k = k;
	a->serial = serial;
	a->n = 0;
	a->bytes_up = a->bytes_down = 0;
	wmap_clear(&a->ips), wmap_clear(&a->conns), wmap_clear(&a->flows);
}

/* A window from the pool (or a new one) for window index k. */
static wacc *take_window(cf_windows *w, int64_t k)
{
	wacc *a;
	if (w->n_pool)
		a = w->pool[--w->n_pool];
	else if (!(a = calloc(1, sizeof *a)))
		return NULL;
	if (++w->serial == 0) { /* wrapped: no flow may keep ids of an old window with this serial */
		cf_windows_flows_forget_ids(w);
		for (uint32_t i = 0; i < w->n_open; i++)
			w->open[i]->serial = 0; /* the open ones stop matching caches; they stay correct */
		w->serial = 1;
	}
	wacc_reset(a, k, w->serial);
	return a;
}

static void give_window(cf_windows *w, wacc *a)
{
	if (w->n_pool < WIN_POOL_MAX)
		w->pool[w->n_pool++] = a;
	else
		wacc_free(a);
}

static uint64_t addr_word(const uint8_t *ip, int i)
{
	uint64_t v;
	memcpy(&v, ip + 8 * i, 8);
	return v;
}

/* Appends one entry to window a; ids from the flow's cache when it holds
 * this window's. */
static int wacc_add(wacc *a, const cf_window_entry *e, wflow_ids *cache)
{
	if (wcols_reserve(&a->c, a->n + 1, 1024))
		return -1;
	uint32_t sid, did, cid;
	if (cache && a->serial && cache->serial == a->serial) {
		sid = cache->src_id, did = cache->dst_id, cid = cache->conn_id;
	} else {
		int64_t s = wmap_id(&a->ips, addr_word(e->src_ip, 0), addr_word(e->src_ip, 1), e->ip_version);
		int64_t d = wmap_id(&a->ips, addr_word(e->dst_ip, 0), addr_word(e->dst_ip, 1),
		                     e->dst_ip_version ? e->dst_ip_version : e->ip_version);
		if (s < 0 || d < 0)
			return -1;
		int64_t c = wmap_id(&a->conns, (uint64_t)d << 32 | (uint64_t)s, 0, 0);
		if (c < 0 || wmap_id(&a->flows, (uint64_t)c << 32 | (uint64_t)e->src_port << 16 | e->dst_port, e->proto, 0) < 0)
			return -1;
		sid = (uint32_t)s, did = (uint32_t)d, cid = (uint32_t)c;
		if (cache) {
			cache->serial = a->serial;
			cache->src_id = sid, cache->dst_id = did, cache->conn_id = cid;
		}
	}
	uint64_t i = a->n++;
	a->c.src_id[i] = sid;
	a->c.dst_id[i] = did;
	a->c.conn_id[i] = cid;
	a->c.sport[i] = e->src_port;
	a->c.dport[i] = e->dst_port;
	a->c.state[i] = e->state;
	a->bytes_up += e->bytes_up;
	a->bytes_down += e->bytes_down;
	return 0;
}

/* ---------------------------------------------------------------- batches and rows */

/* Runs the closed windows through the backend and hands their rows on. */
static int flush_closed(cf_windows *w)
{
	if (!w->n_closed)
		return CF_OK;
	uint32_t nw = w->n_closed;
	cf_window_batch b;
	memset(&b, 0, sizeof b);
	b.n_windows = nw;
	b.distinct = w->o.distinct;
	b.offsets = w->b_off;
	b.n_ip = w->b_nip;
	b.n_conn = w->b_nconn;
	b.n_flow = w->b_nflow;
	b.src_id = w->b.src_id;
	b.dst_id = w->b.dst_id;
	b.conn_id = w->b.conn_id;
	b.sport = w->b.sport;
	b.dport = w->b.dport;
	b.state = w->b.state;
	b.rows = w->b_rows;
	int st = cf_backend_window_rows(w->backend, &b);
	if (st != CF_OK) {
		snprintf(w->err, sizeof w->err, "window rows: %s",
		         w->backend ? cf_backend_error(w->backend) : "out of memory");
		return st;
	}
	for (uint32_t i = 0; i < nw; i++) {
		st = cf_windows_put_row(w, w->b_k[i], &w->b_rows[i], w->b_bytes[2 * i], w->b_bytes[2 * i + 1]);
		if (st != CF_OK)
			return st;
	}
	w->n_closed = 0;
	w->b_entries = 0;
	return CF_OK;
}

/* Moves window a (closing) into the batch. */
static int close_window(cf_windows *w, wacc *a)
{
	if (w->n_closed == w->o.batch_windows || w->b_entries + a->n > CLOSED_MAX_ENTRIES ||
	    (w->n_closed && w->b_entries + a->n > CLOSED_FLUSH_ENTRIES)) {
		int st = flush_closed(w);
		if (st != CF_OK)
			return st;
	}
	if (a->n > CLOSED_MAX_ENTRIES) {
		snprintf(w->err, sizeof w->err, "a window holds %" PRIu64 " entries (at most 2^31)", a->n);
		return CF_ERR_UNSUPPORTED;
	}
	if (wcols_reserve(&w->b, w->b_entries + a->n, 4096))
		goto nomem;
	uint32_t i = w->n_closed;
	uint64_t o = w->b_entries;
	memcpy(w->b.src_id + o, a->c.src_id, a->n * sizeof *a->c.src_id);
	memcpy(w->b.dst_id + o, a->c.dst_id, a->n * sizeof *a->c.dst_id);
	memcpy(w->b.conn_id + o, a->c.conn_id, a->n * sizeof *a->c.conn_id);
	memcpy(w->b.sport + o, a->c.sport, a->n * sizeof *a->c.sport);
	memcpy(w->b.dport + o, a->c.dport, a->n * sizeof *a->c.dport);
	memcpy(w->b.state + o, a->c.state, a->n * sizeof *a->c.state);
	w->b_off[i] = o;
	w->b_off[i + 1] = o + a->n;
	w->b_nip[i] = a->ips.n;
	w->b_nconn[i] = a->conns.n;
	w->b_nflow[i] = a->flows.n;
	w->b_k[i] = a->k;
	w->b_bytes[2 * i] = a->bytes_up;
	w->b_bytes[2 * i + 1] = a->bytes_down;
	w->b_entries += a->n;
	w->n_closed++;
	give_window(w, a);
	if (w->n_closed == w->o.batch_windows)
		return flush_closed(w);
	return CF_OK;
nomem:
	snprintf(w->err, sizeof w->err, "out of memory");
	return CF_ERR_NOMEM;
}

/* Closes the open windows that end at or before `until` (all with
 * INT64_MAX), in window order. */
static int close_until(cf_windows *w, int64_t k_limit)
{
	while (w->n_open && w->open[0]->k < k_limit) {
		wacc *a = w->open[0];
		memmove(w->open, w->open + 1, (w->n_open - 1) * sizeof *w->open);
		w->n_open--;
		int st = close_window(w, a);
		if (st != CF_OK)
			return st;
	}
	return CF_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The open window k (created in order when new); NULL out of memory or
 * when too many are open. */
static wacc *open_window(cf_windows *w, int64_t k)
{
	uint32_t i = 0;
	while (i < w->n_open && w->open[i]->k < k)
		i++;
	if (i < w->n_open && w->open[i]->k == k)
		return w->open[i];
	if (w->n_open == w->open_cap) {
		uint32_t cap = w->open_cap ? w->open_cap * 2 : 8;
		wacc **p = realloc(w->open, cap * sizeof *p);
		if (!p)
			return NULL;
		w->open = p;
		w->open_cap = cap;
	}
	wacc *a = take_window(w, k);
	if (!a)
		return NULL;
	memmove(w->open + i + 1, w->open + i, (w->n_open - i) * sizeof *w->open);
	w->open[i] = a;
	w->n_open++;
	return a;
}

void cf_windows_set_entry_hook(cf_windows *w, int (*fn)(void *user, const cf_window_entry *e), void *user)
{
	w->on_entry = fn;
	w->on_entry_user = user;
}

int cf_windows_add_one(cf_windows *w, const cf_window_entry *e, wflow_ids *cache)
{
	int st;
	if (e->ts_ns > CF_WINDOWS_TS_MAX || e->ts_ns < -CF_WINDOWS_TS_MAX) {
		snprintf(w->err, sizeof w->err, "an entry's time %" PRId64 " ns is out of range (|ts| <= 4.6e18 ns)", e->ts_ns);
		return CF_ERR_ARG;
	}
	if (w->on_entry && (st = w->on_entry(w->on_entry_user, e)) < 0) {
		if (!w->err[0])
			snprintf(w->err, sizeof w->err, "the entry hook failed");
		return st;
	}
	if (w->o.batching == CF_WINDOWS_SEED) {
		if (!w->n_open && !open_window(w, w->seed_k++))
			goto nomem;
		if (wacc_add(w->open[0], e, cache))
			goto nomem;
		w->c.entries++;
		int64_t sec = floor_div(e->ts_ns, 1000000000ll);
		if (floor_div(sec, w->T_s) * w->T_s == sec)
			return close_until(w, INT64_MAX);
		return CF_OK;
	}
	int64_t S = w->o.step_ns ? w->o.step_ns : w->o.window_ns, T = w->o.window_ns;
	int64_t jlo, jhi;
	if (e->ts_ns >= w->cur_lo && e->ts_ns < w->cur_hi) { /* the last entry's window(s) */
		jlo = w->cur_jlo, jhi = w->cur_jhi;
	} else {
		jhi = floor_div(e->ts_ns, S);
		jlo = w->o.step_ns ? floor_div(e->ts_ns - T, S) + 1 : jhi;
		/* the times with the same windows: floor(ts / S) = jhi, i.e. [jhi*S, (jhi+1)*S),
		 * and floor((ts - T) / S) = jlo - 1, i.e. [(jlo-1)*S + T, jlo*S + T) */
		w->cur_jlo = jlo, w->cur_jhi = jhi;
		w->cur_lo = jhi * S;
		if (w->cur_lo < (jlo - 1) * S + T)
			w->cur_lo = (jlo - 1) * S + T;
		w->cur_hi = (jhi + 1) * S;
		if (w->cur_hi > jlo * S + T)
			w->cur_hi = jlo * S + T;
	}
	int late = 0, used = 0;
	for (int64_t j = jlo; j <= jhi; j++) {
		if (j < w->closed_below) {
			late = 1;
			continue;
		}
		wacc *a = (w->n_open && w->open[w->n_open - 1]->k == j) ? w->open[w->n_open - 1] : open_window(w, j);
		if (!a || wacc_add(a, e, jlo == jhi ? cache : NULL))
			goto nomem;
		used = 1;
	}
	if (late)
		w->c.late_entries++;
	if (used)
		w->c.entries++;
	if (e->ts_ns > w->max_ts || !w->any_ts) {
		w->max_ts = e->ts_ns;
		w->any_ts = 1;
	}
	/* window j ends at j*S + T and closes once max_ts >= end + lateness;
	 * close_check is when the first window not yet closed does */
	if (w->max_ts >= w->close_check) {
		int64_t edge = w->max_ts - w->o.lateness_ns - T; /* j*S <= edge: closed */
		int64_t k_limit = floor_div(edge, S) + 1;
		if (w->closed_below < k_limit)
			w->closed_below = k_limit;
		w->close_check = w->closed_below * S + T + w->o.lateness_ns;
		if (w->n_open && w->open[0]->k < k_limit && (st = close_until(w, k_limit)) != CF_OK)
			return st;
	}
	return CF_OK;
nomem:
	snprintf(w->err, sizeof w->err, "out of memory");
	return CF_ERR_NOMEM;
}

int cf_windows_add(cf_windows *w, const cf_window_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].state >= CF_WSTATE_COUNT) {
			snprintf(w->err, sizeof w->err, "entry %zu: state %u out of range", i, e[i].state);
			return CF_ERR_ARG;
		}
		int st = cf_windows_add_one(w, &e[i], NULL);
		if (st != CF_OK)
			return st;
	}
	return CF_OK;
}

int cf_windows_finish(cf_windows *w)
{
	int st;
	if (w->o.batching == CF_WINDOWS_SEED) {
		if (w->n_open) { /* the notebook never emits entries after the last close */
			w->c.tail_entries += w->open[0]->n;
			give_window(w, w->open[0]);
			w->n_open = 0;
		}
	} else if ((st = close_until(w, INT64_MAX)) != CF_OK) {
		return st;
	}
	if ((st = flush_closed(w)) != CF_OK)
		return st;
	return cf_windows_flush_rows(w);
}

void cf_windows_reset(cf_windows *w)
{
	for (uint32_t i = 0; i < w->n_open; i++)
		give_window(w, w->open[i]);
	w->n_open = 0;
	w->n_closed = 0;
	w->b_entries = 0;
	w->any_ts = 0;
	w->closed_below = INT64_MIN;
	w->close_check = INT64_MIN;
	w->cur_lo = 1, w->cur_hi = 0;
	w->max_ts = 0;
	w->seed_k = 0;
	w->next_row = 0;
	w->have_last_k = 0;
	w->n_rows = 0;
	memset(&w->c, 0, sizeof w->c);
	cf_windows_flows_reset(w);
	w->err[0] = 0;
}

int cf_windows_create(const cf_windows_opts *o, struct cf_backend *backend, cf_windows **out, char *errbuf)
{
	*out = NULL;
	const char *bad = NULL;
	if (o->window_ns <= 0 || o->window_ns > CF_WINDOWS_SPAN_MAX)
		bad = "the window length must be positive (at most 1e9 s)";
	else if (o->step_ns < 0 || o->step_ns > o->window_ns)
		bad = "the step must be positive and at most the window length";
	else if (o->batching != CF_WINDOWS_TUMBLING && o->batching != CF_WINDOWS_SEED)
		bad = "unknown batching";
	else if (o->batching == CF_WINDOWS_SEED && (o->window_ns % 1000000000ll || o->step_ns))
		bad = "seed batching takes a whole number of seconds and no step";
	else if (o->lateness_ns < 0 || o->idle_timeout_ns <= 0 || o->lateness_ns > CF_WINDOWS_SPAN_MAX ||
	         o->idle_timeout_ns > CF_WINDOWS_SPAN_MAX)
		bad = "lateness must be >= 0 and the idle timeout positive (both at most 1e9 s)";
	if (bad) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "windows: %s", bad);
		return CF_ERR_ARG;
	}
	cf_windows *w = calloc(1, sizeof *w);
	if (!w)
		goto nomem;
	w->o = *o;
	if (!w->o.batch_windows)
		w->o.batch_windows = 256;
	if (w->o.batch_windows > CF_WINDOW_BATCH_MAX_WINDOWS)
		w->o.batch_windows = CF_WINDOW_BATCH_MAX_WINDOWS;
	w->T_s = o->window_ns / 1000000000ll;
	w->closed_below = INT64_MIN;
	w->close_check = INT64_MIN;
	w->cur_lo = 1, w->cur_hi = 0;
	w->backend = backend;
	uint32_t nb = w->o.batch_windows;
	w->b_off = calloc(nb + 1, sizeof *w->b_off);
	w->b_nip = calloc(nb, sizeof *w->b_nip);
	w->b_nconn = calloc(nb, sizeof *w->b_nconn);
	w->b_nflow = calloc(nb, sizeof *w->b_nflow);
	w->b_k = calloc(nb, sizeof *w->b_k);
	w->b_bytes = calloc(2 * (size_t)nb, sizeof *w->b_bytes);
	w->b_rows = calloc(nb, sizeof *w->b_rows);
	if (!w->b_off || !w->b_nip || !w->b_nconn || !w->b_nflow || !w->b_k || !w->b_bytes || !w->b_rows)
		goto nomem;
	if (cf_windows_table_init(w, errbuf) != CF_OK) {
		cf_windows_free(w);
		return CF_ERR_NOMEM;
	}
	*out = w;
	return CF_OK;
nomem:
	cf_windows_free(w);
	snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
	return CF_ERR_NOMEM;
}

void cf_windows_get_counters(const cf_windows *w, cf_windows_counters *c)
{
	*c = w->c;
	c->flows = w->flows_seen;
}

const char *cf_windows_error(const cf_windows *w)
{
	return w->err;
}

void cf_windows_free(cf_windows *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n_open; i++)
		wacc_free(w->open[i]);
	for (uint32_t i = 0; i < w->n_pool; i++)
		wacc_free(w->pool[i]);
	free(w->open);
	wcols_free(&w->b);
	free(w->b_off), free(w->b_nip), free(w->b_nconn), free(w->b_nflow), free(w->b_k), free(w->b_bytes);
	free(w->b_rows);
	cf_windows_table_free(w);
	cf_windows_flows_free(w);
	free(w);
}

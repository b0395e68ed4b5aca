/*
 * netml 0.7.1's flow and subflow construction (docs/netml.md, spec
 * netml.md sections 2-5, 8), on the host. The per-row features run on a
 * backend (kernels/netml_features.h).
 *
 * Data: each kept packet's (flow id, time, size, TTL, header flags, TCP)
 * in capture order; finish() groups them by flow in first-appearance
 * order (a counting sort, so ties keep capture order), stable-sorts each
 * flow by time, walks the idle timeout and the interval split, and
 * compacts the surviving subflows' packets into adjacent ranges: the CSR
 * rows of the feature batches.
 */
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cuflow/internal.h"
#include "cuflow/backend_batch.h"
#include "cuflow/netml.h"
#include "common/key_table.h"
#include "netml_features.h"
#include "common/spill.h"

typedef cf_key5 fkey;

typedef struct range {
	uint64_t start;   /* first packet in the row store (memory or spill) */
	uint32_t len;
	uint32_t flow;
	double t0, t1;    /* first and last packet times */
} range;

typedef struct rangev {
	range *v;
	uint64_t n, cap;
} rangev;

/* Spilled packets (common/spill.h): in a run, 16 bytes, grouped by flow id. */
typedef struct netml_rec {
	double t;
	uint32_t flow;   /* flow id | NETML_REC_TCP */
	uint16_t size;
	uint8_t ttl, hfl;
} netml_rec;
#define NETML_REC_TCP 0x80000000u

/* A kept packet in the spill's store, in row order: 16 bytes. */
typedef struct netml_pkt {
	double t;
	uint16_t size;
	uint8_t ttl, hfl;
	uint32_t pad;
} netml_pkt;

/* Bytes held per packet before a spill: the six arrays and the run's
 * sort (two index arrays). */
#define NETML_BYTES_PER_PKT 27u
/* Packets per gathered feature batch of spilled rows (30 bytes each), and
 * per read when the chunks are walked again (16 bytes each);
 * CUFLOW_NETML_SPILL_READ_PACKETS sets both (tests: small captures then
 * take several pieces). */
#define NETML_GATHER_PKTS ((uint64_t)1 << 20)
#define NETML_WINDOW_PKTS ((uint64_t)1 << 18)

struct cf_netml {
	cf_netml_opts o;
	char err[CF_ERRBUF_SIZE];
	/* per kept packet, capture order (freed by finish) */
	uint32_t *p_flow;
	double *p_t;
	uint32_t *p_size;
	uint8_t *p_ttl, *p_hfl, *p_tcp;
	uint64_t np, cap;
	/* flows: their keys in first-appearance order (flow id = index) */
	cf_keymap flows;
	/* after finish: packets of the rows, adjacent, time order per row */
	double *t;
	uint32_t *size;
	uint8_t *ttl, *hfl;
	range *rows;
	int64_t *labels;
	uint64_t nrows;
	uint64_t *offsets;   /* nrows + 1 */
	double interval, samp_width;
	uint32_t dim;
	int finished, labelled;
	int failed;          /* a spill write failed: finish returns it */
	cf_netml_counters c;
	/* scratch for the CPU feature path */
	cf_netml_batch batch;
	/* bounded memory (common/spill.h): runs of at most spill_cap packets;
	 * after finish the rows' packets are in the spill's store, gathered per
	 * batch */
	cf_spill *spill;
	char *spill_dir;
	uint64_t spill_cap;
	uint64_t gather_pkts, window_pkts;
	cf_spill_sorter sorter;
	double *gt;
	uint32_t *gsize;
	uint8_t *gttl, *ghfl;
	uint64_t *goff;
	netml_pkt *gpk;
	uint64_t gcap, goff_cap;
};

static int fail(cf_netml *h, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cf_netml *h, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->err, sizeof h->err, fmt, ap);
	va_end(ap);
	return st;
}

void cf_netml_opts_default(cf_netml_opts *o)
{
	memset(o, 0, sizeof *o);
	o->q_interval = 0.9;
	o->flow_pkts_thres = 2;
	o->tcp_timeout = 600.0;
	o->udp_timeout = 600.0;
	o->spill_bytes = (uint64_t)128 << 20;
}

static const char *const type_names[CF_NETML_TYPE_COUNT] = {"IAT", "SIZE", "IAT_SIZE", "STATS", "SAMP_NUM",
                                                            "SAMP_SIZE"};

const char *cf_netml_type_name(int type)
{
	return type >= 0 && type < CF_NETML_TYPE_COUNT ? type_names[type] : NULL;
}

int cf_netml_type_parse(const char *name)
{
	if (!name)
		return -1;
	/* upstream accepts FFT-<type> for every type but STATS; the FFT
	 * itself is only the fft flag */
	if (!strncmp(name, "FFT-", 4) && strcmp(name + 4, "STATS"))
		name += 4;
	for (int i = 0; i < CF_NETML_TYPE_COUNT; i++)
		if (!strcmp(name, type_names[i]))
			return i;
	return -1;
}

int cf_netml_open(const cf_netml_opts *o, cf_netml **out, char *errbuf)
{
	cf_netml_opts d;
	if (!o) {
		cf_netml_opts_default(&d);
		o = &d;
	}
	const char *bad = NULL;
	if (!(o->q_interval > 0.0 && o->q_interval <= 1.0))
		bad = "q_interval must be in (0, 1]";
	else if (!(o->interval >= 0.0) || !isfinite(o->interval))
		bad = "interval must be >= 0 seconds";
	else if (o->flow_pkts_thres < 1)
		bad = "flow_pkts_thres must be >= 1";
	else if (!(o->tcp_timeout >= 0.0) || !(o->udp_timeout >= 0.0))
		bad = "timeouts must be >= 0 seconds";
	else if (!(o->samp_width >= 0.0) || !isfinite(o->samp_width))
		bad = "samp_width must be >= 0 seconds";
	else if (o->fixed_dim == 1 || o->fixed_dim > (1u << 23))
		bad = "fixed_dim must be 0 (netml's quantile) or 2..8388608";
	if (bad) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "netml: %s", bad);
		return CF_ERR_ARG;
	}
	cf_netml *h = calloc(1, sizeof *h);
	if (!h) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "netml: out of memory");
		return CF_ERR_NOMEM;
	}
	h->o = *o;
	if (o->spill_bytes) {
		h->spill_cap = o->spill_bytes / NETML_BYTES_PER_PKT;
		if (h->spill_cap < 64)
			h->spill_cap = 64;
		if (o->spill_dir && o->spill_dir[0] && !(h->spill_dir = strdup(o->spill_dir))) {
			free(h);
			if (errbuf)
				snprintf(errbuf, CF_ERRBUF_SIZE, "netml: out of memory");
			return CF_ERR_NOMEM;
		}
	}
	h->o.spill_dir = NULL; /* h->spill_dir is the copy */
	const char *rp = getenv("CUFLOW_NETML_SPILL_READ_PACKETS");
	uint64_t r = rp ? strtoull(rp, NULL, 10) : 0;
	h->gather_pkts = r ? r : NETML_GATHER_PKTS;
	h->window_pkts = r ? r : NETML_WINDOW_PKTS;
	*out = h;
	return CF_OK;
}

static void free_packets(cf_netml *h)
{
	free(h->p_flow);
	free(h->p_t);
	free(h->p_size);
	free(h->p_ttl);
	free(h->p_hfl);
	free(h->p_tcp);
	h->p_flow = NULL;
	h->p_t = NULL;
	h->p_size = NULL;
	h->p_ttl = h->p_hfl = h->p_tcp = NULL;
	h->cap = 0;
}

void cf_netml_close(cf_netml *h)
{
	if (!h)
		return;
	free_packets(h);
	cf_keymap_free(&h->flows);
	free(h->t);
	free(h->size);
	free(h->ttl);
	free(h->hfl);
	free(h->rows);
	free(h->labels);
	free(h->offsets);
	cf_spill_close(h->spill);
	free(h->spill_dir);
	cf_spill_sorter_free(&h->sorter);
	free(h->gt);
	free(h->gsize);
	free(h->gttl);
	free(h->ghfl);
	free(h->goff);
	free(h->gpk);
	free(h);
}

const char *cf_netml_error(const cf_netml *h) { return h ? h->err : ""; }

/* ---------------------------------------------------------------- ingestion */

/* float(pkt.time) as scapy gives it: the correctly rounded double of the
 * exact decimal time (netml.md section 2). Exact integer / power of ten
 * when the tick count fits in 53 bits, else strtod of the decimal text. */
static double ts_seconds(int64_t ns)
{
	const int64_t lim = (int64_t)1 << 53;
	if (ns % 1000 == 0 && ns / 1000 < lim && ns / 1000 > -lim)
		return (double)(ns / 1000) / 1e6;
	if (ns < lim && ns > -lim)
		return (double)ns / 1e9;
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	if (frac < 0) {
		sec -= 1;
		frac += 1000000000;
	}
	char buf[48];
	snprintf(buf, sizeof buf, "%lld.%09lld", (long long)sec, (long long)frac);
	return strtod(buf, NULL);
}

static int grow_packets(cf_netml *h)
{
	uint64_t nc = h->cap ? h->cap * 2 : 65536;
	if (h->spill_cap && nc > h->spill_cap)
		nc = h->spill_cap;
	void *a = realloc(h->p_flow, nc * sizeof *h->p_flow);
	if (a)
		h->p_flow = a;
	void *b = realloc(h->p_t, nc * sizeof *h->p_t);
	if (b)
		h->p_t = b;
	void *c = realloc(h->p_size, nc * sizeof *h->p_size);
	if (c)
		h->p_size = c;
	void *d = realloc(h->p_ttl, nc);
	if (d)
		h->p_ttl = d;
	void *e = realloc(h->p_hfl, nc);
	if (e)
		h->p_hfl = e;
	void *f = realloc(h->p_tcp, nc);
	if (f)
		h->p_tcp = f;
	if (!a || !b || !c || !d || !e || !f)
		return -1;
	h->cap = nc;
	return 0;
}

/* Link types where the IP header follows the link header directly, so
 * that netml's pkt.payload.payload.flags are the TCP flags. Elsewhere
 * (802.1Q, PPPoE, 802.11 + LLC, ...) scapy reads other fields named
 * "flags" and counts none; raw IP crashes upstream, cuflow counts them. */
static int header_sees_tcp_flags(const cf_pkt *p)
{
	switch (p->linktype) {
	case 1: /* Ethernet, untagged, Ethernet II */
		return !p->vlan_count && !p->mpls_count && !(p->layers & CF_LAYER_PPPOE);
	case 0: case 9: case 12: case 14: case 101: case 108: case 113: case 228: case 229: case 276:
		return 1;
	default:
		return 0;
	}
}

static void fill_rec(void *user, uint32_t p, void *rec)
{
	const cf_netml *h = user;
	netml_rec r = {h->p_t[p], h->p_flow[p] | (h->p_tcp[p] ? NETML_REC_TCP : 0), (uint16_t)h->p_size[p],
	               h->p_ttl[p], h->p_hfl[p]};
	memcpy(rec, &r, sizeof r);
}

/* The packets held go to the spill as one run, grouped by flow id
 * (capture order kept within a flow). */
static int write_run(cf_netml *h)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	int st;
	if (!h->spill && (st = cf_spill_open(&h->spill, h->spill_dir, "netml", sizeof(netml_rec),
	                                     offsetof(netml_rec, flow), ~NETML_REC_TCP, e, el)) < 0)
		return st;
	if ((st = cf_spill_write_run(h->spill, &h->sorter, h->p_flow, h->np, fill_rec, h, e, el)) < 0)
		return st;
	h->c.spill_runs++;
	h->np = 0;
	return CF_OK;
}

int cf_netml_add(cf_netml *h, const cf_pkt *p)
{
	h->c.packets++;
	if (h->finished)
		return fail(h, CF_ERR_ARG, "netml: packets added after finish");
	if (p->skip != CF_SKIP_NONE) {
		h->c.skipped_decode++;
		return CF_OK;
	}
	if (p->proto != 6 && p->proto != 17) {
		h->c.not_tcp_udp++;
		return CF_OK;
	}
	fkey k;
	memset(&k, 0, sizeof k);
	if (p->ip_version == 4 || h->o.ipv6_flows) {
		k.ver = p->ip_version;
		k.proto = p->proto;
		k.sport = p->sport;
		k.dport = p->dport;
		memcpy(k.src, p->src_ip, 16);
		memcpy(k.dst, p->dst_ip, 16);
	} else {
		h->c.ipv6_pseudo++; /* netml's fid ('', '', -1, -1, -1) */
	}
	int added;
	int64_t f = cf_keymap_add(&h->flows, &k, &added);
	if (f >= (int64_t)NETML_REC_TCP)
		return fail(h, CF_ERR_UNSUPPORTED, "netml: more than 2^31 flows");
	if (h->np == h->cap && h->spill_cap && h->cap == h->spill_cap) {
		int st = h->failed ? h->failed : write_run(h);
		if (st < 0)
			return h->failed = st;
	}
	if (f < 0 || (h->np == h->cap && grow_packets(h)))
		return fail(h, CF_ERR_NOMEM, "netml: out of memory after %llu packets", (unsigned long long)h->np);
	uint64_t i = h->np++;
	h->p_flow[i] = (uint32_t)f;
	h->p_t[i] = ts_seconds(p->ts_ns);
	h->p_size[i] = p->caplen < 65535 ? p->caplen : 65535; /* scapy's MTU cut */
	h->p_ttl[i] = p->ttl;
	h->p_hfl[i] = p->proto == 6 && (p->ip_version != 4 || header_sees_tcp_flags(p)) ? (uint8_t)p->tcp_flags : 0;
	h->p_tcp[i] = p->proto == 6;
	h->c.kept++;
	return CF_OK;
}

static int scan_hook(void *user, const cf_pkt *p, size_t n)
{
	cf_netml *h = user;
	for (size_t i = 0; i < n; i++) {
		int st = cf_netml_add(h, &p[i]);
		if (st < 0)
			return st;
	}
	return 0;
}

int cf_netml_scan_file(cf_netml *h, const char *path, const cf_scan_opts *opts, cf_scan_result *res)
{
	cf_scan_opts so = *opts;
	so.decode.decap = CF_DECAP_NONE;
	so.on_packet = NULL;
	so.on_packets = scan_hook;
	so.on_packet_user = h;
	return cf_scan_file(path, &so, res);
}

/* ---------------------------------------------------------------- finish */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* np.quantile(v, q) of n values (v is sorted in place). */
static double quantile_of(double *v, uint64_t n, double q)
{
	qsort(v, n, sizeof *v, cmp_double);
	return cf_np_quantile_sorted(v, n, q);
}

/* Stable sort of idx[0..n) by t[idx] (bottom-up merge sort; tmp holds n). */
static void stable_sort_by_time(uint32_t *idx, uint32_t *tmp, uint64_t n, const double *t)
{
	uint64_t i = 1;
	while (i < n && t[idx[i - 1]] <= t[idx[i]])
		i++;
	if (i >= n)
		return; /* already in time order: the usual case */
	uint32_t *a = idx, *b = tmp;
	for (uint64_t w = 1; w < n; w *= 2) {
		for (uint64_t lo = 0; lo < n; lo += 2 * w) {
			uint64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			uint64_t x = lo, y = mid, o = lo;
			while (x < mid && y < hi)
				b[o++] = t[a[y]] < t[a[x]] ? a[y++] : a[x++];
			while (x < mid)
				b[o++] = a[x++];
			while (y < hi)
				b[o++] = a[y++];
		}
		uint32_t *s = a;
		a = b;
		b = s;
	}
	if (a != idx)
		memcpy(idx, a, n * sizeof *idx);
}

/* netml's `(6 in fid) or (TCP in pkt)`: 6 among the fid's numbers. */
static int tcp_timeout_applies(const fkey *k, int pkt_is_tcp)
{
	return pkt_is_tcp || k->proto == 6 || k->sport == 6 || k->dport == 6;
}

static int push_range(rangev *v, uint64_t start, uint64_t len, uint32_t flow, double t0, double t1)
{
	if (v->n == v->cap) {
		uint64_t nc = v->cap ? v->cap * 2 : 1024;
		range *p = realloc(v->v, nc * sizeof *p);
		if (!p)
			return -1;
		v->v = p;
		v->cap = nc;
	}
	v->v[v->n++] = (range){start, (uint32_t)len, flow, t0, t1};
	return 0;
}

/* Section 3 for one flow f: its n >= max(2, thres) packets in time order
 * (times t; TCP or not), the first at `base` in the row store. Pushes the
 * chunks the idle timeout cuts. */
static int timeout_walk(cf_netml *h, uint32_t f, const double *t, const uint8_t *tcp, uint64_t n, uint64_t base,
                        rangev *chunks)
{
	const fkey *k = &h->flows.keys[f];
	uint64_t cur = 0;
	int split = 0;
	for (uint64_t j = 1; j < n; j++) {
		double to = tcp_timeout_applies(k, tcp[j]) ? h->o.tcp_timeout : h->o.udp_timeout;
		if (t[j] - t[j - 1] > to) {
			if (push_range(chunks, base + cur, j - cur, f, t[cur], t[j - 1]))
				return -1;
			cur = j;
			split = 1;
		}
	}
	if (!split || h->o.keep_trailing)
		return push_range(chunks, base + cur, n - cur, f, t[cur], t[n - 1]);
	h->c.pkts_timeout_tail += n - cur;
	return 0;
}

/* Section 4 for one chunk g, its packet times t[0..g->len): pushes the
 * subflows, idle gaps over the interval anchored on a grid. */
static int interval_walk(cf_netml *h, const range *g, const double *t, rangev *rows)
{
	double st_t = t[0], last = t[0];
	uint64_t cur = 0;
	int split = 0;
	for (uint64_t j = 1; j < g->len; j++) {
		if (t[j] - last > h->interval) {
			if (h->interval == 0.0)
				return fail(h, CF_ERR_NO_DATA,
				            "netml: the split interval is 0 (the %g quantile of flow durations) and a flow "
				            "has a gap; netml 0.7.1 crashes here (OverflowError); set an interval",
				            h->o.q_interval);
			if (push_range(rows, g->start + cur, j - cur, g->flow, t[cur], t[j - 1]))
				return CF_ERR_NOMEM;
			st_t += cf_py_floordiv(t[j] - st_t, h->interval) * h->interval;
			last = st_t; /* the new chunk's first stamp is the grid time */
			cur = j;
			split = 1;
		} else {
			last = t[j];
		}
	}
	if (!split || h->o.keep_trailing) {
		if (push_range(rows, g->start + cur, g->len - cur, g->flow, t[cur], t[g->len - 1]))
			return CF_ERR_NOMEM;
	} else {
		h->c.pkts_interval_tail += g->len - cur;
	}
	return CF_OK;
}

/* Section 3 on the packets held in memory: grouped by flow, each flow in
 * time order into h->t/size/ttl/hfl (the row store). */
static int chunks_in_memory(cf_netml *h, rangev *chunks)
{
	uint64_t np = h->np;
	uint32_t nf = h->flows.n;
	uint32_t thr2 = h->o.flow_pkts_thres > 2 ? h->o.flow_pkts_thres : 2;
	int st = CF_ERR_NOMEM;
	uint64_t *start = calloc((size_t)nf + 1, sizeof *start);
	uint32_t *idx = malloc((np ? np : 1) * sizeof *idx), *tmp = NULL;
	uint8_t *tcp = NULL;
	int64_t maxlen;
	if (!start || !idx || np > UINT32_MAX) /* idx is 32-bit */
		goto out;
	if ((maxlen = cf_group_by(h->p_flow, np, nf, start, idx)) < 0)
		goto out;
	tmp = malloc((maxlen ? (size_t)maxlen : 1) * sizeof *tmp);
	tcp = malloc(maxlen ? (size_t)maxlen : 1);
	h->t = malloc((np ? np : 1) * sizeof *h->t);
	h->size = malloc((np ? np : 1) * sizeof *h->size);
	h->ttl = malloc(np ? np : 1);
	h->hfl = malloc(np ? np : 1);
	if (!tmp || !tcp || !h->t || !h->size || !h->ttl || !h->hfl)
		goto out;
	uint64_t w = 0;
	for (uint32_t f = 0; f < nf; f++) {
		uint64_t s = start[f], n = start[f + 1] - s;
		if (n < thr2) {
			h->c.pkts_small_flow += n;
			continue;
		}
		uint32_t *ix = idx + s;
		stable_sort_by_time(ix, tmp, n, h->p_t);
		for (uint64_t j = 0; j < n; j++) {
			uint32_t p = ix[j];
			h->t[w + j] = h->p_t[p];
			h->size[w + j] = h->p_size[p];
			h->ttl[w + j] = h->p_ttl[p];
			h->hfl[w + j] = h->p_hfl[p];
			tcp[j] = h->p_tcp[p];
		}
		if (timeout_walk(h, f, h->t + w, tcp, n, w, chunks))
			goto out;
		w += n;
	}
	st = CF_OK;
out:
	free(start);
	free(idx);
	free(tmp);
	free(tcp);
	return st;
}

/* Grows the per-flow scratch of the spilled path to hold n packets. */
typedef struct flow_scratch {
	netml_rec *rec;
	double *t, *ot;
	uint32_t *ix, *tmp;
	uint8_t *tcp;
	netml_pkt *pk;
	uint64_t cap;
} flow_scratch;

static int scratch_grow(flow_scratch *s, uint64_t n)
{
	if (n <= s->cap)
		return 0;
	uint64_t nc = s->cap ? s->cap : 1024;
	while (nc < n)
		nc *= 2;
	if (nc > UINT32_MAX)
		return -1; /* ix is 32-bit */
#define GROW(p)                                                  \
	do {                                                         \
		void *q = realloc(s->p, (size_t)nc * sizeof *s->p);      \
		if (!q)                                                  \
			return -1;                                           \
		s->p = q;                                                \
	} while (0)
	GROW(rec);
	GROW(t);
	GROW(ot);
	GROW(ix);
	GROW(tmp);
	GROW(tcp);
	GROW(pk);
#undef GROW
	s->cap = nc;
	return 0;
}

static void scratch_free(flow_scratch *s)
{
	free(s->rec);
	free(s->t);
	free(s->ot);
	free(s->ix);
	free(s->tmp);
	free(s->tcp);
	free(s->pk);
}

/* Section 3 on spilled packets: the runs merged flow by flow (flow ids in
 * first-appearance order, capture order within a flow), each flow in time
 * order appended to the spill's row store. */
static int chunks_from_spill(cf_netml *h, rangev *chunks)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	uint32_t nf = h->flows.n;
	uint32_t thr2 = h->o.flow_pkts_thres > 2 ? h->o.flow_pkts_thres : 2;
	int st;
	if (h->np && (st = write_run(h)) < 0)
		return st;
	free_packets(h); /* the read buffers get the memory the packets had */
	cf_spill_sorter_free(&h->sorter);
	uint32_t nruns = cf_spill_runs(h->spill);
	uint64_t buf = h->o.spill_bytes / 2 / (nruns ? nruns : 1);
	buf = buf < 4096 ? 4096 : buf > (8u << 20) ? (8u << 20) : buf;
	if ((st = cf_spill_merge_start(h->spill, (size_t)buf, e, el)) < 0)
		return st;
	flow_scratch s = {0};
	netml_rec r;
	int got = cf_spill_merge_next(h->spill, &r, e, el);
	for (uint32_t f = 0; f < nf && got >= 0; f++) {
		uint64_t n = 0;
		while (got == 1 && (r.flow & ~NETML_REC_TCP) == f) {
			if (scratch_grow(&s, n + 1)) {
				st = CF_ERR_NOMEM;
				goto out;
			}
			s.rec[n] = r;
			s.t[n] = r.t;
			s.ix[n] = (uint32_t)n;
			n++;
			got = cf_spill_merge_next(h->spill, &r, e, el);
		}
		if (got < 0)
			break;
		if (n < thr2) {
			h->c.pkts_small_flow += n;
			continue;
		}
		stable_sort_by_time(s.ix, s.tmp, n, s.t);
		for (uint64_t j = 0; j < n; j++) {
			const netml_rec *q = &s.rec[s.ix[j]];
			s.ot[j] = q->t;
			s.tcp[j] = (q->flow & NETML_REC_TCP) != 0;
			s.pk[j] = (netml_pkt){q->t, q->size, q->ttl, q->hfl, 0};
		}
		if (timeout_walk(h, f, s.ot, s.tcp, n, cf_spill_store_size(h->spill) / sizeof(netml_pkt), chunks)) {
			st = CF_ERR_NOMEM;
			goto out;
		}
		if ((st = cf_spill_store_append(h->spill, s.pk, n * sizeof *s.pk, e, el)) < 0)
			goto out;
	}
	if (got < 0) {
		st = got;
		goto out;
	}
	if (got == 1) { /* a flow id the map does not have: the runs file is damaged */
		st = fail(h, CF_ERR_CORRUPT, "netml: spill merge gave flow %u of %u", r.flow & ~NETML_REC_TCP, nf);
		goto out;
	}
	st = cf_spill_store_flush(h->spill, e, el);
	cf_spill_runs_drop(h->spill);
out:
	scratch_free(&s);
	return st;
}

/* Kept packets [first, first + n) from the spill's store. */
static int read_pkts(cf_netml *h, uint64_t first, uint64_t n, netml_pkt *out)
{
	return cf_spill_store_read(h->spill, first * sizeof *out, n * sizeof *out, out, h->err, sizeof h->err);
}

/* Section 4 for every chunk, its times from memory or the spill. Spilled
 * chunks are in increasing position: they are read through a window of
 * window_pkts packets (a longer chunk alone). */
static int rows_from_chunks(cf_netml *h, const rangev *chunks, rangev *rows)
{
	double *t = NULL;
	netml_pkt *pk = NULL;
	uint64_t cap = 0, w0 = 0, wn = 0; /* the window: packets [w0, w0 + wn) in pk */
	int st = CF_OK;
	for (uint64_t i = 0; i < chunks->n && st == CF_OK; i++) {
		const range *g = &chunks->v[i];
		const double *tt = h->t ? h->t + g->start : NULL;
		if (h->spill) {
			if (g->start < w0 || g->start + g->len > w0 + wn) {
				uint64_t left = cf_spill_store_size(h->spill) / sizeof *pk - g->start;
				uint64_t want = g->len > h->window_pkts ? g->len : h->window_pkts;
				if (want > left)
					want = left;
				if (want > cap) {
					free(t);
					free(pk);
					cap = want;
					t = malloc(cap * sizeof *t);
					pk = malloc(cap * sizeof *pk);
					if (!t || !pk) {
						st = CF_ERR_NOMEM;
						break;
					}
				}
				if ((st = read_pkts(h, g->start, want, pk)) < 0)
					break;
				w0 = g->start;
				wn = want;
			}
			const netml_pkt *q = pk + (g->start - w0);
			for (uint64_t j = 0; j < g->len; j++)
				t[j] = q[j].t;
			tt = t;
		}
		st = interval_walk(h, g, tt, rows);
	}
	free(t);
	free(pk);
	return st;
}

/* Moves the rows' packets to adjacent ranges (in place: rows are in
 * increasing start order) and rebuilds the offsets. Spilled rows stay
 * where they are: the feature batches gather them. */
static int compact_rows(cf_netml *h)
{
	uint64_t w = 0;
	if (h->spill) {
		for (uint64_t r = 0; r < h->nrows; r++)
			w += h->rows[r].len;
		h->c.subflows = h->nrows;
		h->c.pkts_in_rows = w;
		return 0;
	}
	for (uint64_t r = 0; r < h->nrows; r++) {
		range *g = &h->rows[r];
		if (g->start != w) {
			memmove(h->t + w, h->t + g->start, g->len * sizeof *h->t);
			memmove(h->size + w, h->size + g->start, g->len * sizeof *h->size);
			memmove(h->ttl + w, h->ttl + g->start, g->len);
			memmove(h->hfl + w, h->hfl + g->start, g->len);
			g->start = w;
		}
		w += g->len;
	}
	free(h->offsets);
	h->offsets = malloc((h->nrows + 1) * sizeof *h->offsets);
	if (!h->offsets)
		return -1;
	for (uint64_t r = 0; r < h->nrows; r++)
		h->offsets[r] = h->rows[r].start;
	h->offsets[h->nrows] = w;
	h->c.subflows = h->nrows;
	h->c.pkts_in_rows = w;
	return 0;
}

/* dim and SAMP width of the current rows (netml.md sections 5, 6). */
static int row_quantiles(cf_netml *h)
{
	double *v = malloc((h->nrows ? h->nrows : 1) * sizeof *v);
	if (!v)
		return -1;
	for (uint64_t r = 0; r < h->nrows; r++)
		v[r] = (double)h->rows[r].len;
	if (h->o.fixed_dim)
		h->dim = h->o.fixed_dim; /* one width for every capture */
	else
		h->dim = h->nrows ? (uint32_t)floor(quantile_of(v, h->nrows, h->o.q_interval)) : 0;
	for (uint64_t r = 0; r < h->nrows; r++)
		v[r] = h->rows[r].t1 - h->rows[r].t0;
	h->samp_width = h->o.samp_width > 0.0 ? h->o.samp_width : h->nrows ? quantile_of(v, h->nrows, 0.3) : 0.0;
	free(v);
	return 0;
}

int cf_netml_finish(cf_netml *h)
{
	if (h->finished)
		return fail(h, CF_ERR_ARG, "netml: finish called twice");
	h->finished = 1;
	if (h->failed)
		return h->failed; /* the message of the failed write stays */
	const cf_netml_opts *o = &h->o;
	uint32_t nf = h->flows.n;
	uint32_t thr2 = o->flow_pkts_thres > 2 ? o->flow_pkts_thres : 2;
	h->c.flows = nf;
	rangev chunks = {0}, rows = {0};
	double *dur = NULL;
	int st = h->spill ? chunks_from_spill(h, &chunks) : chunks_in_memory(h, &chunks);
	free_packets(h);
	if (st < 0)
		goto out;
	st = CF_ERR_NOMEM;
	/* chunks below thres go (netml uses thres itself here, not max(2, .)) */
	{
		uint64_t k = 0;
		for (uint64_t i = 0; i < chunks.n; i++) {
			if (chunks.v[i].len >= o->flow_pkts_thres)
				chunks.v[k++] = chunks.v[i];
			else
				h->c.pkts_small_chunk += chunks.v[i].len;
		}
		chunks.n = k;
	}
	h->c.chunks = chunks.n;
	if (!chunks.n) {
		st = fail(h, CF_ERR_NO_DATA,
		          "netml: no flow with at least %u packets (%llu TCP/UDP packets in %u flows); netml 0.7.1 "
		          "raises IndexError here",
		          thr2, (unsigned long long)h->c.kept, nf);
		goto out;
	}
	/* the split interval (section 4) */
	if (o->interval > 0.0) {
		h->interval = o->interval;
	} else {
		if (!(dur = malloc(chunks.n * sizeof *dur)))
			goto out;
		for (uint64_t i = 0; i < chunks.n; i++)
			dur[i] = chunks.v[i].t1 - chunks.v[i].t0;
		h->interval = quantile_of(dur, chunks.n, o->q_interval);
	}
	if ((st = rows_from_chunks(h, &chunks, &rows)) < 0)
		goto out;
	st = CF_ERR_NOMEM;
	{
		uint64_t k = 0;
		for (uint64_t i = 0; i < rows.n; i++) {
			if (rows.v[i].len >= thr2)
				rows.v[k++] = rows.v[i];
			else
				h->c.pkts_small_subflow += rows.v[i].len;
		}
		rows.n = k;
	}
	h->rows = rows.v;
	h->nrows = rows.n;
	rows.v = NULL;
	if (!h->nrows) {
		st = fail(h, CF_ERR_NO_DATA, "netml: no subflow with at least %u packets", thr2);
		goto out;
	}
	if (compact_rows(h) || row_quantiles(h))
		goto out;
	st = CF_OK;
out:
	if (st == CF_ERR_NOMEM && !h->err[0])
		fail(h, st, "netml: out of memory (%llu packets, %u flows)", (unsigned long long)h->c.kept, nf);
	free(chunks.v);
	free(rows.v);
	free(dur);
	return st;
}

/* ---------------------------------------------------------------- labels */

void cf_netml_label_constant(cf_netml *h, int64_t label)
{
	free(h->labels);
	h->labels = malloc((h->nrows ? h->nrows : 1) * sizeof *h->labels);
	if (!h->labels)
		return;
	for (uint64_t r = 0; r < h->nrows; r++)
		h->labels[r] = label;
	h->labelled = 1;
}

static int is_normal(const char *name)
{
	return name && (!strcasecmp(name, "BENIGN") || !strcasecmp(name, "NORMAL"));
}

/* A subflow time (double seconds) for cf_label_query; only time-mode
 * labelers look at it. */
static int64_t t_ns(double t)
{
	double v = t * 1e9;
	if (!(v > -9.2e18))
		return INT64_MIN;
	return v < 9.2e18 ? (int64_t)llround(v) : INT64_MAX;
}

int cf_netml_label_with(cf_netml *h, cf_labeler *l, char *errbuf)
{
	char eb[CF_ERRBUF_SIZE];
	if (!errbuf)
		errbuf = eb;
	if (!h || !l) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml: cf_netml_label_with: NULL argument");
		return CF_ERR_ARG;
	}
	if (!h->finished || h->labelled) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml: labels go after finish, once");
		return fail(h, CF_ERR_ARG, "%s", errbuf);
	}
	const char *src = cf_labeler_source(l);
	if (!src)
		src = cf_labeler_format(l);
	free(h->labels);
	h->labels = malloc((h->nrows ? h->nrows : 1) * sizeof *h->labels);
	if (!h->labels) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: out of memory", src);
		return fail(h, CF_ERR_NOMEM, "%s", errbuf);
	}
	/* each subflow by its flow's directional 5-tuple; the IPv6 pseudo-flow
	 * (key all zero) goes as IP version 0, which no CSV row names */
	uint64_t k = 0;
	for (uint64_t i = 0; i < h->nrows; i++) {
		const range *g = &h->rows[i];
		const fkey *f = &h->flows.keys[g->flow];
		cf_label_query q;
		q.ip_version = f->ver;
		q.proto = f->proto;
		q.src_ip = f->src;
		q.dst_ip = f->dst;
		q.src_port = f->sport;
		q.dst_port = f->dport;
		q.first_ns = t_ns(g->t0);
		q.last_ns = t_ns(g->t1);
		int id = cf_labeler_match(l, &q);
		if (id < 0) {
			h->c.subflows_unlabelled++;
			h->c.pkts_unlabelled += g->len;
			continue;
		}
		h->labels[k] = is_normal(cf_labeler_name(l, (uint32_t)id)) ? 0 : 1;
		h->rows[k++] = *g;
	}
	h->nrows = k;
	h->labelled = 1;
	if (!k) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: no subflow has a row in this label file", src);
		return fail(h, CF_ERR_NO_DATA, "%s", errbuf);
	}
	if (compact_rows(h) || row_quantiles(h)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: out of memory", src);
		return fail(h, CF_ERR_NOMEM, "%s", errbuf);
	}
	return CF_OK;
}

int cf_netml_label_csv(cf_netml *h, const char *path, char *errbuf)
{
	char eb[CF_ERRBUF_SIZE];
	if (!errbuf)
		errbuf = eb;
	if (!h || !path) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml: cf_netml_label_csv: NULL argument");
		return CF_ERR_ARG;
	}
	if (!h->finished || h->labelled) { /* before reading a large file */
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml: labels go after finish, once");
		return fail(h, CF_ERR_ARG, "%s", errbuf);
	}
	cf_label_opts o;
	cf_label_opts_default(&o);
	o.match = CF_LABEL_MATCH_TUPLE_DIRECTIONAL;
	cf_labeler *l = NULL;
	int st = cf_labeler_open_csv(path, &o, &l, errbuf);
	if (st < 0)
		return fail(h, st, "%s", errbuf);
	st = cf_netml_label_with(h, l, errbuf);
	cf_labeler_close(l);
	return st;
}

/* ---------------------------------------------------------------- results */

uint64_t cf_netml_rows(const cf_netml *h) { return h->nrows; }
double cf_netml_interval(const cf_netml *h) { return h->interval; }
uint32_t cf_netml_dim(const cf_netml *h) { return h->dim; }
double cf_netml_samp_width(const cf_netml *h) { return h->samp_width; }

void cf_netml_subflow_at(const cf_netml *h, uint64_t i, cf_netml_subflow *out)
{
	memset(out, 0, sizeof *out);
	if (i >= h->nrows)
		return;
	const range *g = &h->rows[i];
	const fkey *k = &h->flows.keys[g->flow];
	out->ip_version = k->ver;
	out->proto = k->proto;
	out->src_port = k->sport;
	out->dst_port = k->dport;
	memcpy(out->src_ip, k->src, 16);
	memcpy(out->dst_ip, k->dst, 16);
	out->packets = g->len;
	out->first_t = g->t0;
	out->last_t = g->t1;
	out->label = h->labels ? h->labels[i] : 0;
}

uint32_t cf_netml_feat_cols(const cf_netml *h, int type)
{
	uint32_t d = h->dim;
	switch (type) {
	case CF_NETML_IAT: case CF_NETML_SAMP_NUM: case CF_NETML_SAMP_SIZE: return d - 1;
	case CF_NETML_SIZE: return d;
	case CF_NETML_IAT_SIZE: return 2 * d - 1;
	case CF_NETML_STATS: return CF_NETML_STATS_COLS;
	default: return 0;
	}
}

uint32_t cf_netml_row_cols(const cf_netml *h, int type, int header)
{
	uint32_t f = cf_netml_feat_cols(h, type);
	return f + (header ? CF_NETML_HDR_FLAGS + f : 0);
}

/* The packets of rows [row0, row0 + n) from the spill, adjacent in the
 * gather arrays, with their offsets (n + 1 entries from 0). Adjacent
 * rows are read in one piece. */
static int gather_rows(cf_netml *h, uint64_t row0, uint64_t n)
{
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++)
		total += h->rows[row0 + i].len;
	if (total > h->gcap) {
		uint64_t nc = total;
		void *a = realloc(h->gt, nc * sizeof *h->gt), *b = a ? realloc(h->gsize, nc * sizeof *h->gsize) : NULL;
		if (a)
			h->gt = a;
		if (b)
			h->gsize = b;
		void *c = b ? realloc(h->gttl, nc) : NULL;
		if (c)
			h->gttl = c;
		void *d = c ? realloc(h->ghfl, nc) : NULL;
		if (d)
			h->ghfl = d;
		void *e = d ? realloc(h->gpk, nc * sizeof *h->gpk) : NULL;
		if (e)
			h->gpk = e;
		if (!e)
			return fail(h, CF_ERR_NOMEM, "netml: out of memory (%llu packets in a batch)", (unsigned long long)nc);
		h->gcap = nc;
	}
	if (n + 1 > h->goff_cap) {
		uint64_t *p = realloc(h->goff, (n + 1) * sizeof *p);
		if (!p)
			return fail(h, CF_ERR_NOMEM, "netml: out of memory");
		h->goff = p;
		h->goff_cap = n + 1;
	}
	uint64_t w = 0;
	h->goff[0] = 0;
	for (uint64_t i = 0; i < n;) {
		const range *g = &h->rows[row0 + i];
		uint64_t first = g->start, len = 0, j = i;
		while (j < n && h->rows[row0 + j].start == first + len) {
			len += h->rows[row0 + j].len;
			h->goff[j + 1] = w + len;
			j++;
		}
		int st = read_pkts(h, first, len, h->gpk + w);
		if (st < 0)
			return st;
		w += len;
		i = j;
	}
	for (uint64_t k = 0; k < total; k++) {
		h->gt[k] = h->gpk[k].t;
		h->gsize[k] = h->gpk[k].size;
		h->gttl[k] = h->gpk[k].ttl;
		h->ghfl[k] = h->gpk[k].hfl;
	}
	return CF_OK;
}

static int features_batch(cf_netml *h, cf_backend *b, cf_netml_batch *bt)
{
	int st = cf_backend_netml_features(b, bt);
	if (st < 0)
		return fail(h, st, "netml: %s backend: %s", b ? cf_backend_name(b) : "cpu",
		            b ? cf_backend_error(b) : "failed");
	return CF_OK;
}

int cf_netml_features(cf_netml *h, cf_backend *b, int type, int fft, int header, uint64_t row0, uint64_t n,
                      double *out)
{
	if (!h->finished || !h->nrows)
		return fail(h, CF_ERR_ARG, "netml: no rows (finish first)");
	if (type < 0 || type >= CF_NETML_TYPE_COUNT || row0 > h->nrows || n > h->nrows - row0 || n > UINT32_MAX)
		return fail(h, CF_ERR_ARG, "netml: bad type or row range");
	if ((type == CF_NETML_SAMP_NUM || type == CF_NETML_SAMP_SIZE) && h->samp_width == 0.0) {
		for (uint64_t r = 0; r < h->nrows; r++)
			if (h->rows[r].t1 > h->rows[r].t0)
				return fail(h, CF_ERR_NO_DATA,
				            "netml: %s window width is 0 (the 0.3 quantile of subflow durations) and a subflow "
				            "lasts longer than 0 s; netml 0.7.1 crashes here (OverflowError); set a width",
				            type_names[type]);
	}
	if (!n)
		return CF_OK;
	cf_netml_batch *bt = &h->batch;
	bt->type = type;
	bt->feat_cols = cf_netml_feat_cols(h, type);
	bt->hdr_cols = header ? CF_NETML_HDR_FLAGS + bt->feat_cols : 0;
	bt->samp_width = h->samp_width;
	bt->fft = fft;
	if (!h->spill) {
		bt->n_rows = (uint32_t)n;
		bt->offsets = h->offsets + row0;
		bt->t = h->t;
		bt->size = h->size;
		bt->ttl = h->ttl;
		bt->hflags = h->hfl;
		bt->out = out;
		return features_batch(h, b, bt);
	}
	/* spilled rows: gathered in pieces of at most gather_pkts packets
	 * (or one longer row), so that a large block of rows costs no more */
	uint32_t cols = bt->hdr_cols + bt->feat_cols;
	for (uint64_t r = 0; r < n;) {
		uint64_t k = 1, pk = h->rows[row0 + r].len;
		while (r + k < n && pk + h->rows[row0 + r + k].len <= h->gather_pkts)
			pk += h->rows[row0 + r + k++].len;
		int st = gather_rows(h, row0 + r, k);
		if (st < 0)
			return st;
		bt->n_rows = (uint32_t)k;
		bt->offsets = h->goff;
		bt->t = h->gt;
		bt->size = h->gsize;
		bt->ttl = h->gttl;
		bt->hflags = h->ghfl;
		bt->out = out + r * cols;
		if ((st = features_batch(h, b, bt)) < 0)
			return st;
		r += k;
	}
	return CF_OK;
}

void cf_netml_counters_get(const cf_netml *h, cf_netml_counters *out) { *out = h->c; }

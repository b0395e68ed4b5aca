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

typedef cf_key5 fkey;

typedef struct range {
	uint64_t start;
	uint32_t len;
	uint32_t flow;
} range;

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
	cf_netml_counters c;
	/* scratch for the CPU feature path */
	cf_netml_batch batch;
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

static int push_range(range **v, uint64_t *n, uint64_t *cap, uint64_t start, uint64_t len, uint32_t flow)
{
	if (*n == *cap) {
		uint64_t nc = *cap ? *cap * 2 : 1024;
		range *p = realloc(*v, nc * sizeof *p);
		if (!p)
			return -1;
		*v = p;
		*cap = nc;
	}
	(*v)[(*n)++] = (range){start, (uint32_t)len, flow};
	return 0;
}

/* Moves the rows' packets to adjacent ranges (in place: rows are in
 * increasing start order) and rebuilds the offsets. */
static int compact_rows(cf_netml *h)
{
	uint64_t w = 0;
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
	for (uint64_t r = 0; r < h->nrows; r++) {
		const range *g = &h->rows[r];
		v[r] = h->t[g->start + g->len - 1] - h->t[g->start];
	}
	h->samp_width = h->o.samp_width > 0.0 ? h->o.samp_width : h->nrows ? quantile_of(v, h->nrows, 0.3) : 0.0;
	free(v);
	return 0;
}

int cf_netml_finish(cf_netml *h)
{
	if (h->finished)
		return fail(h, CF_ERR_ARG, "netml: finish called twice");
	h->finished = 1;
	const cf_netml_opts *o = &h->o;
	uint64_t np = h->np;
	uint32_t nf = h->flows.n;
	uint32_t thr2 = o->flow_pkts_thres > 2 ? o->flow_pkts_thres : 2;
	h->c.flows = nf;
	int st = CF_ERR_NOMEM;
	uint64_t *start = calloc((size_t)nf + 1, sizeof *start);
	uint32_t *idx = malloc((np ? np : 1) * sizeof *idx), *tmp = NULL;
	range *chunks = NULL;
	uint64_t nchunks = 0, chunks_cap = 0;
	int64_t maxlen = 0;
	double *dur = NULL;
	if (!start || !idx)
		goto out;
	if (np > UINT32_MAX)
		goto out; /* idx is 32-bit */
	/* group by flow, capture order kept within a flow */
	if ((maxlen = cf_group_by(h->p_flow, np, nf, start, idx)) < 0)
		goto out;
	tmp = malloc((maxlen ? (size_t)maxlen : 1) * sizeof *tmp);
	h->t = malloc((np ? np : 1) * sizeof *h->t);
	h->size = malloc((np ? np : 1) * sizeof *h->size);
	h->ttl = malloc(np ? np : 1);
	h->hfl = malloc(np ? np : 1);
	if (!tmp || !h->t || !h->size || !h->ttl || !h->hfl)
		goto out;
	/* per flow: time order, then the idle-timeout walk (section 3) */
	uint64_t w = 0;
	for (uint32_t f = 0; f < nf; f++) {
		uint64_t s = start[f], n = start[f + 1] - s;
		if (n < thr2) {
			h->c.pkts_small_flow += n;
			continue;
		}
		uint32_t *ix = idx + s;
		stable_sort_by_time(ix, tmp, n, h->p_t);
		uint64_t base = w, cur = w;
		int split = 0;
		for (uint64_t j = 0; j < n; j++) {
			uint32_t p = ix[j];
			h->t[w] = h->p_t[p];
			h->size[w] = h->p_size[p];
			h->ttl[w] = h->p_ttl[p];
			h->hfl[w] = h->p_hfl[p];
			if (j > 0) {
				double to = tcp_timeout_applies(&h->flows.keys[f], h->p_tcp[p]) ? o->tcp_timeout : o->udp_timeout;
				if (h->t[w] - h->t[w - 1] > to) {
					if (push_range(&chunks, &nchunks, &chunks_cap, cur, w - cur, f))
						goto out;
					cur = w;
					split = 1;
				}
			}
			w++;
		}
		if (!split || o->keep_trailing) {
			if (push_range(&chunks, &nchunks, &chunks_cap, cur, w - cur, f))
				goto out;
		} else {
			h->c.pkts_timeout_tail += w - cur;
		}
		(void)base;
	}
	free_packets(h);
	/* chunks below thres go (netml uses thres itself here, not max(2, .)) */
	{
		uint64_t k = 0;
		for (uint64_t i = 0; i < nchunks; i++) {
			if (chunks[i].len >= o->flow_pkts_thres)
				chunks[k++] = chunks[i];
			else
				h->c.pkts_small_chunk += chunks[i].len;
		}
		nchunks = k;
	}
	h->c.chunks = nchunks;
	if (!nchunks) {
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
		if (!(dur = malloc(nchunks * sizeof *dur)))
			goto out;
		for (uint64_t i = 0; i < nchunks; i++)
			dur[i] = h->t[chunks[i].start + chunks[i].len - 1] - h->t[chunks[i].start];
		h->interval = quantile_of(dur, nchunks, o->q_interval);
	}
	/* subflows: idle gaps over the interval, anchored on a grid */
	range *rows = NULL;
	uint64_t nrows = 0, rows_cap = 0;
	for (uint64_t i = 0; i < nchunks; i++) {
		const range *g = &chunks[i];
		const double *t = h->t + g->start;
		double st_t = t[0], last = t[0];
		uint64_t cur = 0;
		int split = 0;
		for (uint64_t j = 1; j < g->len; j++) {
			if (t[j] - last > h->interval) {
				if (h->interval == 0.0) {
					free(rows);
					st = fail(h, CF_ERR_NO_DATA,
					          "netml: the split interval is 0 (the %g quantile of flow durations) and a flow "
					          "has a gap; netml 0.7.1 crashes here (OverflowError); set an interval",
					          o->q_interval);
					goto out;
				}
				if (push_range(&rows, &nrows, &rows_cap, g->start + cur, j - cur, g->flow)) {
					free(rows);
					goto out;
				}
				st_t += cf_py_floordiv(t[j] - st_t, h->interval) * h->interval;
				last = st_t; /* the new chunk's first stamp is the grid time */
				cur = j;
				split = 1;
			} else {
				last = t[j];
			}
		}
		if (!split || o->keep_trailing) {
			if (push_range(&rows, &nrows, &rows_cap, g->start + cur, g->len - cur, g->flow)) {
				free(rows);
				goto out;
			}
		} else {
			h->c.pkts_interval_tail += g->len - cur;
		}
	}
	{
		uint64_t k = 0;
		for (uint64_t i = 0; i < nrows; i++) {
			if (rows[i].len >= thr2)
				rows[k++] = rows[i];
			else
				h->c.pkts_small_subflow += rows[i].len;
		}
		nrows = k;
	}
	h->rows = rows;
	h->nrows = nrows;
	if (!nrows) {
		st = fail(h, CF_ERR_NO_DATA, "netml: no subflow with at least %u packets", thr2);
		goto out;
	}
	if (compact_rows(h) || row_quantiles(h))
		goto out;
	st = CF_OK;
out:
	if (st == CF_ERR_NOMEM && !h->err[0])
		fail(h, st, "netml: out of memory (%llu packets, %u flows)", (unsigned long long)np, nf);
	free(start);
	free(idx);
	free(tmp);
	free(chunks);
	free(dur);
	free_packets(h);
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
		q.first_ns = t_ns(h->t[g->start]);
		q.last_ns = t_ns(h->t[g->start + g->len - 1]);
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
	out->first_t = h->t[g->start];
	out->last_t = h->t[g->start + g->len - 1];
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

int cf_netml_features(cf_netml *h, cf_backend *b, int type, int fft, int header, uint64_t row0, uint64_t n,
                      double *out)
{
	if (!h->finished || !h->nrows)
		return fail(h, CF_ERR_ARG, "netml: no rows (finish first)");
	if (type < 0 || type >= CF_NETML_TYPE_COUNT || row0 > h->nrows || n > h->nrows - row0 || n > UINT32_MAX)
		return fail(h, CF_ERR_ARG, "netml: bad type or row range");
	if ((type == CF_NETML_SAMP_NUM || type == CF_NETML_SAMP_SIZE) && h->samp_width == 0.0) {
		for (uint64_t r = 0; r < h->nrows; r++)
			if (h->t[h->offsets[r + 1] - 1] > h->t[h->offsets[r]])
				return fail(h, CF_ERR_NO_DATA,
				            "netml: %s window width is 0 (the 0.3 quantile of subflow durations) and a subflow "
				            "lasts longer than 0 s; netml 0.7.1 crashes here (OverflowError); set a width",
				            type_names[type]);
	}
	if (!n)
		return CF_OK;
	cf_netml_batch *bt = &h->batch;
	bt->n_rows = (uint32_t)n;
	bt->offsets = h->offsets + row0;
	bt->t = h->t;
	bt->size = h->size;
	bt->ttl = h->ttl;
	bt->hflags = h->hfl;
	bt->type = type;
	bt->feat_cols = cf_netml_feat_cols(h, type);
	bt->hdr_cols = header ? CF_NETML_HDR_FLAGS + bt->feat_cols : 0;
	bt->samp_width = h->samp_width;
	bt->fft = fft;
	bt->out = out;
	int st = cf_backend_netml_features(b, bt);
	if (st < 0)
		return fail(h, st, "netml: %s backend: %s", b ? cf_backend_name(b) : "cpu",
		            b ? cf_backend_error(b) : "failed");
	return CF_OK;
}

void cf_netml_counters_get(const cf_netml *h, cf_netml_counters *out) { *out = h->c; }

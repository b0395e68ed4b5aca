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
 *
 * Past the memory budget the same code runs on one hash partition of the
 * flows at a time, and the rows stay on disk (finish_partitioned,
 * docs/netml.md#memory).
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

/* Past the budget every kept packet goes to a hash partition on disk
 * with its flow's key and capture index (common/spill.h): 64 bytes. */
typedef struct netml_prec {
	cf_key5 k;
	uint16_t size;
	uint8_t ttl, hfl, tcp, pad0;
	uint32_t pad1;
	double t;
	uint64_t idx; /* capture index among the kept packets */
} netml_prec;

/* A kept packet of a row in the rows' packet store, in row order: 16 bytes. */
typedef struct netml_pkt {
	double t;
	uint16_t size;
	uint8_t ttl, hfl;
	uint32_t pad;
} netml_pkt;

/* A row of the partitioned path, on disk: first by partition, then in
 * row order. */
typedef struct netml_row {
	cf_key5 k;
	uint16_t pad;
	uint32_t len;
	uint32_t seg;      /* the partition it came from */
	uint64_t first;    /* capture index of its flow's first packet: the row order */
	uint64_t start;    /* first packet in the packet store */
	double t0, t1;
	int64_t label;
} netml_row;

_Static_assert(sizeof(netml_prec) == 64 && sizeof(netml_pkt) == 16 && sizeof(netml_row) == 88,
               "netml's spill records have no hidden padding");

/* Bytes held per packet before the packets go to partitions (the six
 * arrays and the finish's sort); a flow counts as two packets (its key in
 * the map). */
#define NETML_BYTES_PER_PKT 27u
#define NETML_PARTS 512u
#define NETML_PART_BUF (64u << 10)
/* Bytes per packet while a partition is taken (its records, the arrays,
 * the flow map, the row store): a partition of more than spill_bytes of
 * them (at least 2^16 packets) is split into NETML_SUBPARTS
 * (CUFLOW_NETML_UNIT_PACKETS sets the packet count). */
#define NETML_UNIT_BYTES 160u
#define NETML_SUBPARTS 64u
/* Packets per gathered feature batch of partitioned rows, values a
 * quantile sorts in memory (more: a radix selection on disk), rows of
 * the row file read at once, and each partition's window of the packet
 * store; CUFLOW_NETML_SPILL_READ_PACKETS sets them all (tests: small
 * captures then take several pieces) and CUFLOW_NETML_PARTITIONS the
 * partition count. */
#define NETML_GATHER_PKTS ((uint64_t)1 << 20)
#define NETML_ROW_WINDOW 4096u
#define NETML_SEG_WINDOW 1024u

typedef struct seg_window {
	netml_pkt *pk;
	uint64_t w0, wn;   /* packets [w0, w0 + wn) of the store */
	uint64_t end;      /* the partition's packets end here */
} seg_window;

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
	int failed;          /* a spill write or read failed: later calls return it */
	cf_netml_counters c;
	/* scratch for the CPU feature path */
	cf_netml_batch batch;
	/* bounded memory: past spill_cap packets (flows counting two) every
	 * packet goes to a partition; finish takes one partition at a time
	 * (a unit) through the in-memory code above, twice (the interval is
	 * a quantile over all of them), and merges their rows by first
	 * packet. Rows and their packets stay on disk. */
	cf_parts *parts;
	char *spill_dir;
	uint64_t spill_cap;
	uint32_t nparts;
	uint64_t gather_pkts, qsel_mem, row_window, seg_window_pkts;
	uint64_t unit_cap;         /* packets a partition may have before it is split */
	uint64_t merge_rows;       /* each unit's read buffer in the merge */
	cf_unit *units;            /* the partitions taken at once, split ones replaced by theirs */
	uint32_t nunits, nmade;
	cf_parts **made;           /* the sets the splits made */
	uint64_t *fidx, fidx_cap;  /* a unit's flows: capture index of the first packet */
	cf_spill *pkts;            /* the rows' packets (netml_pkt), partition after partition */
	cf_spill *rowf;            /* the rows (netml_row) in row order */
	int have_const_label;
	int64_t const_label;
	netml_row *rc;             /* a window of rowf: rows [rc0, rc0 + rcn) */
	uint64_t rc0, rcn;
	seg_window *sw;            /* per partition */
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
	h->qsel_mem = r ? r : NETML_GATHER_PKTS;
	h->row_window = r ? r : NETML_ROW_WINDOW;
	h->seg_window_pkts = r ? r : NETML_SEG_WINDOW;
	h->unit_cap = o->spill_bytes / NETML_UNIT_BYTES > 65536 ? o->spill_bytes / NETML_UNIT_BYTES : 65536;
	const char *up = getenv("CUFLOW_NETML_UNIT_PACKETS");
	if (up && strtoull(up, NULL, 10))
		h->unit_cap = strtoull(up, NULL, 10);
	const char *pp = getenv("CUFLOW_NETML_PARTITIONS");
	uint64_t np = pp ? strtoull(pp, NULL, 10) : 0;
	h->nparts = np && np <= 65536 ? (uint32_t)np : NETML_PARTS;
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
	cf_parts_close(h->parts);
	for (uint32_t i = 0; i < h->nmade; i++)
		cf_parts_close(h->made[i]);
	free(h->made);
	free(h->units);
	cf_spill_close(h->pkts);
	cf_spill_close(h->rowf);
	free(h->spill_dir);
	free(h->fidx);
	free(h->rc);
	if (h->sw)
		for (uint32_t i = 0; i < h->nunits; i++)
			free(h->sw[i].pk);
	free(h->sw);
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

/* Room for nc packets in the arrays (nc >= cap). */
static int reserve_packets(cf_netml *h, uint64_t nc)
{
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

static int grow_packets(cf_netml *h)
{
	uint64_t nc = h->cap ? h->cap * 2 : 65536;
	if (h->spill_cap && nc > h->spill_cap)
		nc = h->spill_cap;
	return reserve_packets(h, nc);
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

static uint32_t part_of(const cf_netml *h, const fkey *k)
{
	return cf_part_pick(cf_key5_hash(k), 0, h->nparts);
}

static int part_add(cf_netml *h, const fkey *k, double t, uint32_t size, uint8_t ttl, uint8_t hfl, uint8_t tcp,
                    uint64_t idx)
{
	netml_prec r;
	memset(&r, 0, sizeof r);
	r.k = *k;
	r.size = (uint16_t)size;
	r.ttl = ttl;
	r.hfl = hfl;
	r.tcp = tcp;
	r.t = t;
	r.idx = idx;
	return cf_parts_add(h->parts, part_of(h, k), &r, h->err, sizeof h->err);
}

/* Past the budget: the packets held go to the partitions (capture index =
 * position, as nothing went before), and the flow map goes. */
static int to_partitions(cf_netml *h)
{
	int st = cf_parts_open(&h->parts, h->spill_dir, "netml", h->nparts, sizeof(netml_prec), NETML_PART_BUF, h->err,
	                       sizeof h->err);
	for (uint64_t i = 0; i < h->np && st == CF_OK; i++)
		st = part_add(h, &h->flows.keys[h->p_flow[i]], h->p_t[i], h->p_size[i], h->p_ttl[i], h->p_hfl[i],
		              h->p_tcp[i], i);
	if (st < 0)
		return st;
	free_packets(h);
	cf_keymap_free(&h->flows);
	h->np = 0;
	h->c.spill_runs = h->nparts;
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
	if (h->failed)
		return h->failed;
	double t = ts_seconds(p->ts_ns);
	uint32_t size = p->caplen < 65535 ? p->caplen : 65535; /* scapy's MTU cut */
	uint8_t hfl = p->proto == 6 && (p->ip_version != 4 || header_sees_tcp_flags(p)) ? (uint8_t)p->tcp_flags : 0;
	if (!h->parts && h->spill_cap && h->np + 2 * (uint64_t)h->flows.n + 2 > h->spill_cap) {
		int st = to_partitions(h);
		if (st < 0)
			return h->failed = st;
	}
	if (h->parts) {
		int st = part_add(h, &k, t, size, p->ttl, hfl, p->proto == 6, h->c.kept);
		if (st < 0)
			return h->failed = st;
		h->c.kept++;
		return CF_OK;
	}
	int added;
	int64_t f = cf_keymap_add(&h->flows, &k, &added);
	if (f >= (int64_t)1 << 31)
		return fail(h, CF_ERR_UNSUPPORTED, "netml: more than 2^31 flows");
	if (f < 0 || (h->np == h->cap && grow_packets(h)))
		return fail(h, CF_ERR_NOMEM, "netml: out of memory after %llu packets", (unsigned long long)h->np);
	uint64_t i = h->np++;
	h->p_flow[i] = (uint32_t)f;
	h->p_t[i] = t;
	h->p_size[i] = size;
	h->p_ttl[i] = p->ttl;
	h->p_hfl[i] = hfl;
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

/* Section 4 for every chunk (times in h->t). */
static int rows_from_chunks(cf_netml *h, const rangev *chunks, rangev *rows)
{
	int st = CF_OK;
	for (uint64_t i = 0; i < chunks->n && st == CF_OK; i++)
		st = interval_walk(h, &chunks->v[i], h->t + chunks->v[i].start, rows);
	return st;
}

/* Chunks below thres go (netml uses thres itself here, not max(2, .));
 * counted when count. */
static void drop_small_chunks(cf_netml *h, rangev *chunks, int count)
{
	uint64_t k = 0;
	for (uint64_t i = 0; i < chunks->n; i++) {
		if (chunks->v[i].len >= h->o.flow_pkts_thres)
			chunks->v[k++] = chunks->v[i];
		else if (count)
			h->c.pkts_small_chunk += chunks->v[i].len;
	}
	chunks->n = k;
	if (count)
		h->c.chunks += k;
}

static void drop_small_rows(cf_netml *h, rangev *rows)
{
	uint32_t thr2 = h->o.flow_pkts_thres > 2 ? h->o.flow_pkts_thres : 2;
	uint64_t k = 0;
	for (uint64_t i = 0; i < rows->n; i++) {
		if (rows->v[i].len >= thr2)
			rows->v[k++] = rows->v[i];
		else
			h->c.pkts_small_subflow += rows->v[i].len;
	}
	rows->n = k;
}

static int no_chunks(cf_netml *h)
{
	uint32_t thr2 = h->o.flow_pkts_thres > 2 ? h->o.flow_pkts_thres : 2;
	return fail(h, CF_ERR_NO_DATA,
	            "netml: no flow with at least %u packets (%llu TCP/UDP packets in %llu flows); netml 0.7.1 "
	            "raises IndexError here",
	            thr2, (unsigned long long)h->c.kept, (unsigned long long)h->c.flows);
}

static int no_rows(cf_netml *h)
{
	uint32_t thr2 = h->o.flow_pkts_thres > 2 ? h->o.flow_pkts_thres : 2;
	return fail(h, CF_ERR_NO_DATA, "netml: no subflow with at least %u packets", thr2);
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
	for (uint64_t r = 0; r < h->nrows; r++)
		v[r] = h->rows[r].t1 - h->rows[r].t0;
	h->samp_width = h->o.samp_width > 0.0 ? h->o.samp_width : h->nrows ? quantile_of(v, h->nrows, 0.3) : 0.0;
	free(v);
	return 0;
}

static int finish_in_memory(cf_netml *h)
{
	rangev chunks = {0}, rows = {0};
	double *dur = NULL;
	int st = chunks_in_memory(h, &chunks);
	free_packets(h);
	if (st < 0)
		goto out;
	st = CF_ERR_NOMEM;
	drop_small_chunks(h, &chunks, 1);
	if (!chunks.n) {
		st = no_chunks(h);
		goto out;
	}
	/* the split interval (section 4) */
	if (h->o.interval > 0.0) {
		h->interval = h->o.interval;
	} else {
		if (!(dur = malloc(chunks.n * sizeof *dur)))
			goto out;
		for (uint64_t i = 0; i < chunks.n; i++)
			dur[i] = chunks.v[i].t1 - chunks.v[i].t0;
		h->interval = quantile_of(dur, chunks.n, h->o.q_interval);
	}
	if ((st = rows_from_chunks(h, &chunks, &rows)) < 0)
		goto out;
	st = CF_ERR_NOMEM;
	drop_small_rows(h, &rows);
	h->rows = rows.v;
	h->nrows = rows.n;
	rows.v = NULL;
	if (!h->nrows) {
		st = no_rows(h);
		goto out;
	}
	if (compact_rows(h) || row_quantiles(h))
		goto out;
	st = CF_OK;
out:
	free(chunks.v);
	free(rows.v);
	free(dur);
	return st;
}

/* ------------------------------------------------ finish, partitioned */

/* Quantiles of values on disk: np.quantile's two neighbours found by a
 * radix selection on an order-keeping 64-bit image of the doubles, 16
 * bits a pass. The values here are lengths and durations (t1 - t0 with
 * t1 >= t0: no -0.0, no NaN), so this order is cmp_double's. */
static uint64_t order_key(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	return b >> 63 ? ~b : b | (uint64_t)1 << 63;
}

static double key_value(uint64_t k)
{
	uint64_t b = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
	double v;
	memcpy(&v, &b, sizeof v);
	return v;
}

#define QSEL_BUF 65536u

typedef struct qsel {
	uint64_t *cnt;     /* 65536 digits */
	double *buf;       /* QSEL_BUF values read at once */
} qsel;

/* The k-th smallest (from 0) of the n doubles in s: its key, its rank
 * among the values equal to it (*rank) and how many there are (*eq). */
static int qsel_kth(cf_netml *h, qsel *q, cf_spill *s, uint64_t n, uint64_t k, uint64_t *key, uint64_t *rank,
                    uint64_t *eq)
{
	uint64_t prefix = 0, mask = 0, last = 0;
	for (int shift = 48; shift >= 0; shift -= 16) {
		memset(q->cnt, 0, 65536 * sizeof *q->cnt);
		for (uint64_t i = 0; i < n; i += QSEL_BUF) {
			uint64_t m = n - i < QSEL_BUF ? n - i : QSEL_BUF;
			int st = cf_spill_store_read(s, i * sizeof(double), m * sizeof(double), q->buf, h->err, sizeof h->err);
			if (st < 0)
				return st;
			for (uint64_t j = 0; j < m; j++) {
				uint64_t x = order_key(q->buf[j]);
				if ((x & mask) == prefix)
					q->cnt[(x >> shift) & 0xffff]++;
			}
		}
		uint64_t d = 0;
		while (d < 65535 && k >= q->cnt[d])
			k -= q->cnt[d++];
		prefix |= d << shift;
		mask |= (uint64_t)0xffff << shift;
		last = q->cnt[d];
	}
	*key = prefix;
	*rank = k;
	*eq = last;
	return CF_OK;
}

/* The smallest of the n doubles in s above the key. */
static int qsel_next_above(cf_netml *h, qsel *q, cf_spill *s, uint64_t n, uint64_t key, double *out)
{
	uint64_t best = UINT64_MAX;
	for (uint64_t i = 0; i < n; i += QSEL_BUF) {
		uint64_t m = n - i < QSEL_BUF ? n - i : QSEL_BUF;
		int st = cf_spill_store_read(s, i * sizeof(double), m * sizeof(double), q->buf, h->err, sizeof h->err);
		if (st < 0)
			return st;
		for (uint64_t j = 0; j < m; j++) {
			uint64_t x = order_key(q->buf[j]);
			if (x > key && x < best)
				best = x;
		}
	}
	*out = key_value(best);
	return CF_OK;
}

/* np.quantile(v, q) of the n >= 1 doubles in store s (flushed). Up to
 * qsel_mem values are read and sorted in memory. */
static int store_quantile(cf_netml *h, cf_spill *s, uint64_t n, double qv, double *out)
{
	if (n <= h->qsel_mem) {
		double *v = malloc(n * sizeof *v);
		if (!v)
			return CF_ERR_NOMEM;
		int st = cf_spill_store_read(s, 0, n * sizeof *v, v, h->err, sizeof h->err);
		if (st == CF_OK)
			*out = quantile_of(v, n, qv);
		free(v);
		return st;
	}
	qsel q = {malloc(65536 * sizeof *q.cnt), malloc(QSEL_BUF * sizeof *q.buf)};
	uint64_t i = n - 1, key, rank, eq;
	double g = 0.0, a, b;
	int mid = cf_np_quantile_at(n, qv, &i, &g);
	int st = q.cnt && q.buf ? qsel_kth(h, &q, s, n, i, &key, &rank, &eq) : CF_ERR_NOMEM;
	if (st == CF_OK) {
		a = b = key_value(key);
		if (mid && rank + 1 >= eq)
			st = qsel_next_above(h, &q, s, n, key, &b);
		if (st == CF_OK)
			*out = mid ? cf_np_lerp(a, b, g) : a;
	}
	free(q.cnt);
	free(q.buf);
	return st;
}

static void free_row_store(cf_netml *h)
{
	free(h->t);
	free(h->size);
	free(h->ttl);
	free(h->hfl);
	h->t = NULL;
	h->size = NULL;
	h->ttl = h->hfl = NULL;
}

/* Unit u (a partition) as the packets held (h->p_*, the flow map, each
 * flow's first capture index in h->fidx): what the in-memory path sees,
 * for this partition's flows alone, in capture order. */
static int unit_load(cf_netml *h, uint32_t u)
{
	const cf_unit *un = &h->units[u];
	uint64_t n = cf_parts_records(un->p, un->i);
	netml_prec *r = malloc((n ? n : 1) * sizeof *r);
	if (!r || (n > h->cap && reserve_packets(h, n))) {
		free(r);
		return CF_ERR_NOMEM;
	}
	int st = cf_parts_read(un->p, un->i, r, h->err, sizeof h->err);
	cf_keymap_clear(&h->flows);
	for (uint64_t i = 0; i < n && st == CF_OK; i++) {
		int added;
		int64_t f = cf_keymap_add(&h->flows, &r[i].k, &added);
		if (f >= 0 && added && (uint64_t)f >= h->fidx_cap) {
			uint64_t nc = h->fidx_cap ? h->fidx_cap * 2 : 4096;
			uint64_t *p = realloc(h->fidx, nc * sizeof *p);
			if (p) {
				h->fidx = p;
				h->fidx_cap = nc;
			}
		}
		if (f < 0 || (uint64_t)f >= h->fidx_cap) {
			st = CF_ERR_NOMEM;
			break;
		}
		if (added)
			h->fidx[f] = r[i].idx;
		h->p_flow[i] = (uint32_t)f;
		h->p_t[i] = r[i].t;
		h->p_size[i] = r[i].size;
		h->p_ttl[i] = r[i].ttl;
		h->p_hfl[i] = r[i].hfl;
		h->p_tcp[i] = r[i].tcp;
	}
	h->np = n;
	free(r);
	return st;
}

/* Section 3 for partition u: its chunks (thres applied) over its packets
 * in h->t/size/ttl/hfl; counted when count (the first pass). */
static int unit_chunks(cf_netml *h, uint32_t u, rangev *chunks, int count)
{
	chunks->n = 0;
	free_row_store(h);
	int st = unit_load(h, u);
	if (st < 0)
		return st;
	cf_netml_counters keep = h->c;
	st = chunks_in_memory(h, chunks);
	if (count)
		h->c.flows += h->flows.n;
	else
		h->c = keep;
	if (st < 0)
		return st;
	drop_small_chunks(h, chunks, count);
	return CF_OK;
}

/* Section 4 for partition u once the interval is known: its rows go to
 * the rows' file (by partition) and their packets to the packet store. */
static int unit_rows(cf_netml *h, uint32_t u, rangev *chunks, rangev *rows, cf_spill *rows_by_part)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	int st = unit_chunks(h, u, chunks, 0);
	rows->n = 0;
	if (st < 0 || (st = rows_from_chunks(h, chunks, rows)) < 0)
		return st;
	drop_small_rows(h, rows);
	for (uint64_t i = 0; i < rows->n && st == CF_OK; i++) {
		const range *g = &rows->v[i];
		netml_row r;
		memset(&r, 0, sizeof r);
		r.k = h->flows.keys[g->flow];
		r.len = g->len;
		r.seg = u;
		r.first = h->fidx[g->flow];
		r.start = cf_spill_store_size(h->pkts) / sizeof(netml_pkt);
		r.t0 = g->t0;
		r.t1 = g->t1;
		for (uint64_t j = g->start; j < g->start + g->len && st == CF_OK; j++) {
			netml_pkt pk = {h->t[j], (uint16_t)h->size[j], h->ttl[j], h->hfl[j], 0};
			st = cf_spill_store_append(h->pkts, &pk, sizeof pk, e, el);
		}
		if (st == CF_OK)
			st = cf_spill_store_append(rows_by_part, &r, sizeof r, e, el);
	}
	h->sw[u].end = cf_spill_store_size(h->pkts) / sizeof(netml_pkt);
	return st;
}

/* The rows of all partitions (each partition's in row order) merged by
 * their flows' first packets into h->rowf: the row order of the
 * in-memory path. */
typedef struct seg_reader {
	uint64_t next, end; /* rows in the by-partition file */
	netml_row *buf;
	uint32_t pos, n;
} seg_reader;

#define MERGE_BUF_ROWS 128u /* at most; fewer when there are many units (finish_partitioned) */

static int seg_refill(cf_netml *h, cf_spill *src, seg_reader *r)
{
	uint64_t m = r->end - r->next < h->merge_rows ? r->end - r->next : h->merge_rows;
	r->pos = 0;
	r->n = (uint32_t)m;
	int st = cf_spill_store_read(src, r->next * sizeof *r->buf, m * sizeof *r->buf, r->buf, h->err, sizeof h->err);
	r->next += m;
	return st;
}

static int merge_rows(cf_netml *h, cf_spill *src, const uint64_t *seg_rows)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	seg_reader *rd = calloc(h->nunits ? h->nunits : 1, sizeof *rd);
	uint32_t *heap = calloc(h->nunits ? h->nunits : 1, sizeof *heap), nh = 0;
	uint64_t *head = calloc(h->nunits ? h->nunits : 1, sizeof *head); /* each list's first row's flow */
	int st = rd && heap && head ? cf_spill_open_store(&h->rowf, h->spill_dir, "netml-rows", e, el) : CF_ERR_NOMEM;
	uint64_t at = 0;
	for (uint32_t u = 0; u < h->nunits && st == CF_OK; u++) {
		rd[u].next = at;
		rd[u].end = at += seg_rows[u];
		if (!seg_rows[u])
			continue;
		if (!(rd[u].buf = malloc(h->merge_rows * sizeof *rd[u].buf)))
			st = CF_ERR_NOMEM;
		else if ((st = seg_refill(h, src, &rd[u])) == CF_OK) {
			head[u] = rd[u].buf[0].first;
			heap[nh++] = u;
		}
	}
	for (uint32_t i = nh / 2; i-- > 0;)
		cf_heap_down(heap, nh, i, head);
	h->nrows = 0;
	while (nh && st == CF_OK) {
		seg_reader *r = &rd[heap[0]];
		st = cf_spill_store_append(h->rowf, &r->buf[r->pos++], sizeof *r->buf, e, el);
		h->nrows++;
		if (r->pos == r->n) {
			if (r->next == r->end)
				heap[0] = heap[--nh];
			else if (st == CF_OK)
				st = seg_refill(h, src, r);
		}
		if (nh && r->pos < r->n)
			head[heap[0]] = r->buf[r->pos].first;
		cf_heap_down(heap, nh, 0, head);
	}
	if (st == CF_OK && h->rowf)
		st = cf_spill_store_flush(h->rowf, e, el);
	if (rd)
		for (uint32_t u = 0; u < h->nunits; u++)
			free(rd[u].buf);
	free(rd);
	free(heap);
	free(head);
	return st;
}

/* Rows [i, i + m) of h->rowf into out. */
static int rows_read(cf_netml *h, uint64_t i, uint64_t m, netml_row *out)
{
	return cf_spill_store_read(h->rowf, i * sizeof *out, m * sizeof *out, out, h->err, sizeof h->err);
}

/* Row i of the partitioned path through a window of the row file; NULL
 * when it cannot be read (h->failed says why). */
static const netml_row *row_get(cf_netml *h, uint64_t i)
{
	if (i < h->rc0 || i >= h->rc0 + h->rcn) {
		uint64_t m = h->nrows - i < h->row_window ? h->nrows - i : h->row_window;
		int st = !h->rc && !(h->rc = malloc(h->row_window * sizeof *h->rc)) ? CF_ERR_NOMEM : rows_read(h, i, m, h->rc);
		if (st < 0) {
			h->rcn = 0;
			h->failed = st;
			return NULL;
		}
		h->rc0 = i;
		h->rcn = m;
	}
	return &h->rc[i - h->rc0];
}

/* dim and SAMP width of the partitioned path's rows: their lengths and
 * durations go to two stores for store_quantile. */
static int parts_row_quantiles(cf_netml *h)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	cf_spill *lens = NULL, *durs = NULL;
	uint64_t pk = 0;
	int st = cf_spill_open_store(&lens, h->spill_dir, "netml-q", e, el);
	if (st == CF_OK)
		st = cf_spill_open_store(&durs, h->spill_dir, "netml-q", e, el);
	h->rcn = 0;
	for (uint64_t i = 0; i < h->nrows && st == CF_OK; i++) {
		const netml_row *r = row_get(h, i);
		if (!r) {
			st = h->failed;
			break;
		}
		double l = (double)r->len, d = r->t1 - r->t0;
		pk += r->len;
		if ((st = cf_spill_store_append(lens, &l, sizeof l, e, el)) == CF_OK)
			st = cf_spill_store_append(durs, &d, sizeof d, e, el);
	}
	if (st == CF_OK && (st = cf_spill_store_flush(lens, e, el)) == CF_OK)
		st = cf_spill_store_flush(durs, e, el);
	if (st == CF_OK) {
		double dim = 0.0;
		h->c.subflows = h->nrows;
		h->c.pkts_in_rows = pk;
		if (h->o.fixed_dim)
			h->dim = h->o.fixed_dim;
		else if (h->nrows && (st = store_quantile(h, lens, h->nrows, h->o.q_interval, &dim)) == CF_OK)
			h->dim = (uint32_t)floor(dim);
		else if (!h->nrows)
			h->dim = 0;
	}
	if (st == CF_OK) {
		if (h->o.samp_width > 0.0)
			h->samp_width = h->o.samp_width;
		else if (!h->nrows)
			h->samp_width = 0.0;
		else
			st = store_quantile(h, durs, h->nrows, 0.3, &h->samp_width);
	}
	cf_spill_close(lens);
	cf_spill_close(durs);
	return st;
}

static int finish_partitioned(cf_netml *h)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	rangev chunks = {0}, rows = {0};
	cf_spill *durs = NULL, *by_part = NULL;
	uint64_t *seg_rows = NULL;
	int st = cf_parts_flush(h->parts, e, el);
	if (st == CF_OK)
		st = cf_parts_units(h->parts, h->unit_cap, NETML_SUBPARTS, offsetof(netml_prec, k), &h->units, &h->nunits,
		                    &h->made, &h->nmade, e, el);
	if (st == CF_OK && (!(seg_rows = calloc(h->nunits ? h->nunits : 1, sizeof *seg_rows)) ||
	                    !(h->sw = calloc(h->nunits ? h->nunits : 1, sizeof *h->sw))))
		st = CF_ERR_NOMEM;
	/* each unit's merge buffer and packet window: a share of a quarter of
	 * the budget, so that many units (a split archive) stay within it */
	uint64_t share = h->o.spill_bytes / 4 / (h->nunits ? h->nunits : 1) / 2;
	h->merge_rows = share / sizeof(netml_row) > MERGE_BUF_ROWS ? MERGE_BUF_ROWS
	                : share / sizeof(netml_row) < 4        ? 4
	                                                      : share / sizeof(netml_row);
	if (!getenv("CUFLOW_NETML_SPILL_READ_PACKETS"))
		h->seg_window_pkts = share / sizeof(netml_pkt) > NETML_SEG_WINDOW ? NETML_SEG_WINDOW
		                     : share / sizeof(netml_pkt) < 16            ? 16
		                                                                 : share / sizeof(netml_pkt);
	if (st == CF_OK && !(h->o.interval > 0.0))
		st = cf_spill_open_store(&durs, h->spill_dir, "netml-q", e, el);
	/* pass 1: every partition's chunks, for the interval */
	for (uint32_t u = 0; u < h->nunits && st == CF_OK; u++) {
		if ((st = unit_chunks(h, u, &chunks, 1)) < 0)
			break;
		for (uint64_t i = 0; i < chunks.n && durs && st == CF_OK; i++) {
			double d = chunks.v[i].t1 - chunks.v[i].t0;
			st = cf_spill_store_append(durs, &d, sizeof d, e, el);
		}
	}
	if (st < 0)
		goto out;
	if (!h->c.chunks) {
		st = no_chunks(h);
		goto out;
	}
	if (durs) {
		if ((st = cf_spill_store_flush(durs, e, el)) < 0 ||
		    (st = store_quantile(h, durs, h->c.chunks, h->o.q_interval, &h->interval)) < 0)
			goto out;
		cf_spill_close(durs);
		durs = NULL;
	} else {
		h->interval = h->o.interval;
	}
	/* pass 2: every partition's rows, then their merge */
	if ((st = cf_spill_open_store(&h->pkts, h->spill_dir, "netml-pkts", e, el)) < 0 ||
	    (st = cf_spill_open_store(&by_part, h->spill_dir, "netml-rows", e, el)) < 0)
		goto out;
	for (uint32_t u = 0; u < h->nunits && st == CF_OK; u++) {
		uint64_t before = cf_spill_store_size(by_part);
		st = unit_rows(h, u, &chunks, &rows, by_part);
		seg_rows[u] = (cf_spill_store_size(by_part) - before) / sizeof(netml_row);
		cf_parts_release(h->units[u].p, h->units[u].i);
	}
	free_row_store(h);
	free_packets(h);
	cf_keymap_free(&h->flows);
	cf_parts_close(h->parts);
	h->parts = NULL;
	for (uint32_t i = 0; i < h->nmade; i++)
		cf_parts_close(h->made[i]);
	h->nmade = 0;
	free(h->units); /* their sets are closed; h->nunits still counts h->sw */
	h->units = NULL;
	if (st < 0 || (st = cf_spill_store_flush(h->pkts, e, el)) < 0 ||
	    (st = cf_spill_store_flush(by_part, e, el)) < 0 || (st = merge_rows(h, by_part, seg_rows)) < 0)
		goto out;
	cf_spill_close(by_part);
	by_part = NULL;
	if (!h->nrows) {
		st = no_rows(h);
		goto out;
	}
	st = parts_row_quantiles(h);
out:
	free(chunks.v);
	free(rows.v);
	free(seg_rows);
	cf_spill_close(durs);
	cf_spill_close(by_part);
	return st;
}

int cf_netml_finish(cf_netml *h)
{
	if (h->finished)
		return fail(h, CF_ERR_ARG, "netml: finish called twice");
	h->finished = 1;
	if (h->failed)
		return h->failed; /* the message of the failed write stays */
	int st;
	if (h->parts) {
		st = finish_partitioned(h);
	} else {
		h->c.flows = h->flows.n;
		st = finish_in_memory(h);
	}
	if (st == CF_ERR_NOMEM && !h->err[0])
		fail(h, st, "netml: out of memory (%llu packets, %llu flows)", (unsigned long long)h->c.kept,
		     (unsigned long long)h->c.flows);
	return st;
}

/* ---------------------------------------------------------------- labels */

void cf_netml_label_constant(cf_netml *h, int64_t label)
{
	if (h->rowf) {
		h->have_const_label = 1;
		h->const_label = label;
		h->labelled = 1;
		return;
	}
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

/* The labeler's match for a subflow of flow k from t0 to t1. */
static int label_match(cf_labeler *l, const fkey *f, double t0, double t1)
{
	cf_label_query q;
	q.ip_version = f->ver;
	q.proto = f->proto;
	q.src_ip = f->src;
	q.dst_ip = f->dst;
	q.src_port = f->sport;
	q.dst_port = f->dport;
	q.first_ns = t_ns(t0);
	q.last_ns = t_ns(t1);
	return cf_labeler_match(l, &q);
}

static int parts_row_quantiles(cf_netml *h);

/* Labels on the partitioned path: the row file rewritten with the rows
 * that have one. */
static int label_partitioned(cf_netml *h, cf_labeler *l, const char *src, char *errbuf)
{
	cf_spill *out = NULL;
	uint64_t k = 0;
	int st = cf_spill_open_store(&out, h->spill_dir, "netml-rows", h->err, sizeof h->err);
	for (uint64_t i = 0; i < h->nrows && st == CF_OK; i++) {
		const netml_row *g = row_get(h, i);
		if (!g) {
			st = h->failed;
			break;
		}
		netml_row r = *g;
		int id = label_match(l, &r.k, r.t0, r.t1);
		if (id < 0) {
			h->c.subflows_unlabelled++;
			h->c.pkts_unlabelled += r.len;
			continue;
		}
		r.label = is_normal(cf_labeler_name(l, (uint32_t)id)) ? 0 : 1;
		st = cf_spill_store_append(out, &r, sizeof r, h->err, sizeof h->err);
		k++;
	}
	if (st == CF_OK)
		st = cf_spill_store_flush(out, h->err, sizeof h->err);
	if (st < 0) {
		cf_spill_close(out);
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: %.200s", src, h->err);
		return fail(h, st, "%s", errbuf);
	}
	cf_spill_close(h->rowf);
	h->rowf = out;
	h->rcn = 0;
	h->nrows = k;
	h->labelled = 1;
	if (!k) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: no subflow has a row in this label file", src);
		return fail(h, CF_ERR_NO_DATA, "%s", errbuf);
	}
	if ((st = parts_row_quantiles(h)) < 0) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%.300s: %.200s", src, h->err);
		return fail(h, st, "%s", errbuf);
	}
	return CF_OK;
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
	if (h->rowf)
		return label_partitioned(h, l, src, errbuf);
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
		int id = label_match(l, &h->flows.keys[g->flow], g->t0, g->t1);
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
	if (h->rowf) {
		const netml_row *r = row_get((cf_netml *)h, i); /* the window is a cache */
		if (!r)
			return;
		out->ip_version = r->k.ver;
		out->proto = r->k.proto;
		out->src_port = r->k.sport;
		out->dst_port = r->k.dport;
		memcpy(out->src_ip, r->k.src, 16);
		memcpy(out->dst_ip, r->k.dst, 16);
		out->packets = r->len;
		out->first_t = r->t0;
		out->last_t = r->t1;
		out->label = h->have_const_label ? h->const_label : r->label;
		return;
	}
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

/* Packets [first, first + n) of the rows' packet store. */
static int read_pkts(cf_netml *h, uint64_t first, uint64_t n, netml_pkt *out)
{
	return cf_spill_store_read(h->pkts, first * sizeof *out, n * sizeof *out, out, h->err, sizeof h->err);
}

/* Room for n rows of `total` packets in the gather arrays. */
static int gather_reserve(cf_netml *h, uint64_t total, uint64_t n)
{
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
	return CF_OK;
}

/* Row r's packets into out, through its partition's window of the
 * packet store (each partition's rows come in store order, so the
 * windows read ahead; a longer row is read alone). */
static int row_packets(cf_netml *h, const netml_row *r, netml_pkt *out)
{
	seg_window *w = &h->sw[r->seg];
	if (r->start < w->w0 || r->start + r->len > w->w0 + w->wn) {
		if (r->len > h->seg_window_pkts)
			return read_pkts(h, r->start, r->len, out);
		if (!w->pk && !(w->pk = malloc(h->seg_window_pkts * sizeof *w->pk)))
			return fail(h, CF_ERR_NOMEM, "netml: out of memory");
		uint64_t m = w->end - r->start < h->seg_window_pkts ? w->end - r->start : h->seg_window_pkts;
		int st = read_pkts(h, r->start, m, w->pk);
		if (st < 0)
			return st;
		w->w0 = r->start;
		w->wn = m;
	}
	memcpy(out, w->pk + (r->start - w->w0), r->len * sizeof *out);
	return CF_OK;
}

/* The packets of rows [row0, row0 + n) of the partitioned path, adjacent
 * in the gather arrays, with their offsets (n + 1 entries from 0). */
static int gather_rows(cf_netml *h, uint64_t row0, uint64_t n, uint64_t total)
{
	int st = gather_reserve(h, total, n);
	uint64_t w = 0;
	h->goff[0] = 0;
	for (uint64_t i = 0; i < n && st == CF_OK; i++) {
		const netml_row *r = row_get(h, row0 + i);
		if (!r)
			return h->failed;
		if (w + r->len > total)
			return fail(h, CF_ERR_CORRUPT, "netml: the row file changed under a batch");
		st = row_packets(h, r, h->gpk + w);
		w += r->len;
		h->goff[i + 1] = w;
	}
	if (st < 0)
		return st;
	for (uint64_t k = 0; k < w; k++) {
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
	if (h->failed)
		return h->failed;
	if ((type == CF_NETML_SAMP_NUM || type == CF_NETML_SAMP_SIZE) && h->samp_width == 0.0) {
		for (uint64_t r = 0; r < h->nrows; r++) {
			const netml_row *pr = h->rowf ? row_get(h, r) : NULL;
			if (h->rowf && !pr)
				return h->failed;
			if (pr ? pr->t1 > pr->t0 : h->rows[r].t1 > h->rows[r].t0)
				return fail(h, CF_ERR_NO_DATA,
				            "netml: %s window width is 0 (the 0.3 quantile of subflow durations) and a subflow "
				            "lasts longer than 0 s; netml 0.7.1 crashes here (OverflowError); set a width",
				            type_names[type]);
		}
	}
	if (!n)
		return CF_OK;
	cf_netml_batch *bt = &h->batch;
	bt->type = type;
	bt->feat_cols = cf_netml_feat_cols(h, type);
	bt->hdr_cols = header ? CF_NETML_HDR_FLAGS + bt->feat_cols : 0;
	bt->samp_width = h->samp_width;
	bt->fft = fft;
	if (!h->rowf) {
		bt->n_rows = (uint32_t)n;
		bt->offsets = h->offsets + row0;
		bt->t = h->t;
		bt->size = h->size;
		bt->ttl = h->ttl;
		bt->hflags = h->hfl;
		bt->out = out;
		return features_batch(h, b, bt);
	}
	/* partitioned rows: gathered in pieces of at most gather_pkts packets
	 * (or one longer row), so that a large block of rows costs no more */
	uint32_t cols = bt->hdr_cols + bt->feat_cols;
	for (uint64_t r = 0; r < n;) {
		const netml_row *pr = row_get(h, row0 + r);
		if (!pr)
			return h->failed;
		uint64_t k = 1, pk = pr->len;
		while (r + k < n && (pr = row_get(h, row0 + r + k)) && pk + pr->len <= h->gather_pkts) {
			pk += pr->len;
			k++;
		}
		if (!pr)
			return h->failed;
		int st = gather_rows(h, row0 + r, k, pk);
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

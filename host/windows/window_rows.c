/*
 * The CPU reference of a window batch's rows (window_batch.h): counting
 * arrays over the dense ids for the group sizes, sorted (group, value)
 * pairs for the distinct counts, then the shared finishing of
 * kernels/window_stats.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cuflow/status.h"
#include "cuflow/window_batch.h"
#include "window_stats.h"

struct rows_scratch {
	uint32_t *cnt_dst, *cnt_src, *cnt_conn, *cnt_dport, *sizes, *hist;
	uint8_t *sport_seen;
	uint64_t *pairs, *tmp;
};

/* The ascending sizes a histogram of sizes 1..maxv holds, into sizes;
 * zeroes the histogram. Returns how many. */
static uint64_t sizes_from_hist(uint32_t *hist, uint64_t maxv, uint32_t *sizes)
{
	uint64_t k = 0;
	for (uint64_t v = 1; v <= maxv; v++) {
		for (uint32_t r = hist[v]; r; r--)
			sizes[k++] = (uint32_t)v;
		hist[v] = 0;
	}
	return k;
}

/* Ascending sizes of the nonzero counts cnt[0..m) (a counting sort: the
 * sizes add up to the window's entries, so none exceeds n). Returns how
 * many groups; zeroes cnt as it goes. */
static uint64_t sorted_sizes(uint32_t *cnt, uint64_t m, uint32_t *hist, uint32_t *sizes)
{
	uint64_t groups = 0, maxv = 0;
	for (uint64_t i = 0; i < m; i++) {
		uint32_t c = cnt[i];
		if (!c)
			continue;
		hist[c]++;
		if (c > maxv)
			maxv = c;
		groups++;
		cnt[i] = 0;
	}
	sizes_from_hist(hist, maxv, sizes);
	return groups;
}

static int bits_of(uint64_t v)
{
	int b = 0;
	while (v >> b)
		b++;
	return b;
}

/* Sorts n keys of `bits` significant bits: LSD radix, 8 bits a pass,
 * through tmp (n keys); insertion sort for short runs. */
static void radix_sort_u64(uint64_t *k, uint64_t *tmp, uint64_t n, int bits)
{
	if (n < 48) {
		for (uint64_t i = 1; i < n; i++) {
			uint64_t v = k[i], j = i;
			for (; j && k[j - 1] > v; j--)
				k[j] = k[j - 1];
			k[j] = v;
		}
		return;
	}
	uint64_t *src = k, *dst = tmp;
	for (int shift = 0; shift < bits; shift += 8) {
		uint64_t count[257] = {0};
		for (uint64_t i = 0; i < n; i++)
			count[(src[i] >> shift & 0xff) + 1]++;
		for (int d = 0; d < 256; d++)
			count[d + 1] += count[d];
		for (uint64_t i = 0; i < n; i++)
			dst[count[src[i] >> shift & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst, dst = t;
	}
	if (src != k)
		memcpy(k, src, n * sizeof *k);
}

/* Distinct values per group from n (group << abits | value) pairs:
 * sorted, deduplicated, counted per group into sizes (ascending). */
static uint64_t distinct_sizes(uint64_t *pairs, uint64_t *tmp, uint64_t n, int abits, int bits, uint32_t *hist,
                               uint32_t *sizes)
{
	if (!n)
		return 0;
	radix_sort_u64(pairs, tmp, n, bits);
	uint64_t groups = 0, maxv = 0;
	uint32_t run = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (i && pairs[i] == pairs[i - 1])
			continue;
		if (i && pairs[i] >> abits != pairs[i - 1] >> abits) {
			hist[run]++;
			maxv = run > maxv ? run : maxv;
			groups++;
			run = 0;
		}
		run++;
	}
	hist[run]++;
	maxv = run > maxv ? run : maxv;
	groups++;
	sizes_from_hist(hist, maxv, sizes);
	return groups;
}

static void one_window(const cf_window_batch *b, uint32_t w, struct rows_scratch *s)
{
	cf_window_row *r = &b->rows[w];
	memset(r, 0, sizeof *r);
	uint64_t a = b->offsets[w], e = b->offsets[w + 1], n = e - a;
	r->num_entries = (int64_t)n;
	r->count_conns = b->n_conn[w];
	r->count_flows = b->n_flow[w];
	for (uint64_t i = a; i < e; i++) {
		r->num_state[b->state[i]]++;
		s->cnt_dst[b->dst_id[i]]++;
		s->cnt_src[b->src_id[i]]++;
		s->cnt_conn[b->conn_id[i]]++;
		if (!s->cnt_dport[b->dport[i]]++)
			r->count_dst_port++;
		if (!s->sport_seen[b->sport[i]]) {
			s->sport_seen[b->sport[i]] = 1;
			r->count_src_port++;
		}
	}
	for (uint64_t i = a; i < e; i++)
		s->sport_seen[b->sport[i]] = 0;
	uint64_t g;
	g = sorted_sizes(s->cnt_conn, b->n_conn[w], s->hist, s->sizes);
	cf_window_dist_from_sorted(s->sizes, g, &r->dist[CF_WDIST_CONN]);
	g = sorted_sizes(s->cnt_dst, b->n_ip[w], s->hist, s->sizes);
	r->count_dst_ip = (int64_t)g;
	cf_window_dist_from_sorted(s->sizes, g, &r->dist[CF_WDIST_DST_IP]);
	g = sorted_sizes(s->cnt_src, b->n_ip[w], s->hist, s->sizes);
	r->count_src_ip = (int64_t)g;
	cf_window_dist_from_sorted(s->sizes, g, &r->dist[CF_WDIST_SRC_IP]);
	/* dst ports: only the touched counters, zeroed as they are read */
	uint64_t k = 0, maxv = 0;
	for (uint64_t i = a; i < e; i++) {
		uint32_t c = s->cnt_dport[b->dport[i]];
		if (!c)
			continue;
		s->hist[c]++;
		maxv = c > maxv ? c : maxv;
		s->cnt_dport[b->dport[i]] = 0;
		k++;
	}
	sizes_from_hist(s->hist, maxv, s->sizes);
	cf_window_dist_from_sorted(s->sizes, k, &r->dist[CF_WDIST_DST_PORT]);
	if (!b->distinct)
		return;
	/* key widths from the id spaces: the sort makes only the passes the
	 * window's keys need */
	int ipb = bits_of(b->n_ip[w]), connb = bits_of(b->n_conn[w]), portb = 16;
	for (int kind = CF_WDIST_BASE; kind < CF_WDIST_COUNT; kind++) {
		int gb, ab;
		switch (kind) {
		case CF_WDIST_U_DPORT_PER_CONN: gb = connb, ab = portb; break;
		case CF_WDIST_U_DPORT_PER_DST:
		case CF_WDIST_U_DPORT_PER_SRC: gb = ipb, ab = portb; break;
		case CF_WDIST_U_SRC_PER_DST:
		case CF_WDIST_U_DST_PER_SRC: gb = ipb, ab = ipb; break;
		default: gb = portb, ab = ipb; break;
		}
		for (uint64_t i = a; i < e; i++) {
			uint64_t G, A;
			switch (kind) {
			case CF_WDIST_U_DPORT_PER_CONN: G = b->conn_id[i], A = b->dport[i]; break;
			case CF_WDIST_U_DPORT_PER_DST: G = b->dst_id[i], A = b->dport[i]; break;
			case CF_WDIST_U_SRC_PER_DST: G = b->dst_id[i], A = b->src_id[i]; break;
			case CF_WDIST_U_DPORT_PER_SRC: G = b->src_id[i], A = b->dport[i]; break;
			case CF_WDIST_U_DST_PER_SRC: G = b->src_id[i], A = b->dst_id[i]; break;
			case CF_WDIST_U_DST_PER_DPORT: G = b->dport[i], A = b->dst_id[i]; break;
			default: G = b->dport[i], A = b->src_id[i]; break;
			}
			s->pairs[i - a] = G << ab | A;
		}
		g = distinct_sizes(s->pairs, s->tmp, n, ab, gb + ab, s->hist, s->sizes);
		cf_window_dist_from_sorted(s->sizes, g, &r->dist[kind]);
	}
}

int cf_window_rows_cpu(cf_window_batch *b)
{
	uint64_t max_n = 0, max_ip = 0, max_conn = 0;
	for (uint32_t w = 0; w < b->n_windows; w++) {
		uint64_t n = b->offsets[w + 1] - b->offsets[w];
		max_n = n > max_n ? n : max_n;
		max_ip = b->n_ip[w] > max_ip ? b->n_ip[w] : max_ip;
		max_conn = b->n_conn[w] > max_conn ? b->n_conn[w] : max_conn;
	}
	struct rows_scratch s;
	s.cnt_dst = calloc(max_ip + 1, sizeof *s.cnt_dst);
	s.cnt_src = calloc(max_ip + 1, sizeof *s.cnt_src);
	s.cnt_conn = calloc(max_conn + 1, sizeof *s.cnt_conn);
	s.cnt_dport = calloc(65536, sizeof *s.cnt_dport);
	s.sport_seen = calloc(65536, 1);
	s.sizes = malloc((max_n + 1) * sizeof *s.sizes);
	s.hist = calloc(max_n + 2, sizeof *s.hist);
	s.pairs = b->distinct ? malloc((max_n + 1) * sizeof *s.pairs) : NULL;
	s.tmp = b->distinct ? malloc((max_n + 1) * sizeof *s.tmp) : NULL;
	int st = CF_OK;
	if (!s.cnt_dst || !s.cnt_src || !s.cnt_conn || !s.cnt_dport || !s.sport_seen || !s.sizes || !s.hist ||
	    (b->distinct && (!s.pairs || !s.tmp)))
		st = CF_ERR_NOMEM;
	for (uint32_t w = 0; st == CF_OK && w < b->n_windows; w++)
		one_window(b, w, &s);
	free(s.cnt_dst);
	free(s.cnt_src);
	free(s.cnt_conn);
	free(s.cnt_dport);
	free(s.sport_seen);
	free(s.sizes);
	free(s.hist);
	free(s.pairs);
	free(s.tmp);
	return st;
}

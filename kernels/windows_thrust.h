/*
 * The rows of a window batch (host/private/cuflow/window_batch.h) as Thrust
 * algorithms, templated on the execution policy: kernels/windows.cu runs it
 * on a CUDA stream, tests/test_windows_omp.cpp on OpenMP, so CI runs the
 * algorithm the GPU runs. Every statistic is an integer group-by done with
 * sorts of 64-bit keys (radix sorts on the GPU):
 *   - the window of every entry (upper_bound over the CSR offsets);
 *   - group sizes: keys window << 32 | id (conn, dst, src, dst port), sort,
 *     reduce_by_key -> one size per (window, group); keys window << 32 |
 *     size, sort -> every window's ascending sizes in one contiguous
 *     segment (lower_bound of window << 32), finished per window by the
 *     shared cf_window_dist_from_sorted (kernels/window_stats.h); the
 *     number of groups of a window is its segment's length;
 *   - distinct source ports: keys window << 16 | sport, sort, unique;
 *     states: keys window << 8 | state, sort, reduce_by_key;
 *   - with b.distinct, the (group, value) pairs: the group made
 *     batch-global (a per-window base, the exclusive prefix sum of n_ip or
 *     n_conn, plus the id; window * 65536 + port for ports; when the id
 *     spaces add up past 2^32, the group's rank among the batch's sorted
 *     (window, id) groups instead), keys group << 32 | value, sort, unique,
 *     reduce_by_key over the group -> distinct values per group, the
 *     group's window, then the same sorted-sizes segments.
 * Rows start zeroed (as the CPU reference memsets them), so the distinct
 * distributions stay zero without b.distinct, and a window without entries
 * gets max -1 and NaN from cf_window_dist_from_sorted(.., 0, ..).
 */
#ifndef CUFLOW_KERNELS_WINDOWS_THRUST_H
#define CUFLOW_KERNELS_WINDOWS_THRUST_H

#include <stddef.h>
#include <stdint.h>

#include <thrust/binary_search.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/tuple.h>
#include <thrust/unique.h>

#include "cuflow/status.h"
#include "cuflow/window_batch.h"
#include "window_stats.h"

namespace cf_thrust {

// Scratch of one batch: n = the batch's entries, W = its windows. Every
// array must be accessible to the policy; window_scratch_carve lays them
// out in one block (16-byte aligned pieces).
struct window_scratch {
	uint32_t *win;   // n: the window of every entry
	uint64_t *keys;  // n: the sort keys
	uint64_t *uniq;  // n: one key per (window, group) of the current grouping
	uint64_t *aux;   // n: reduce_by_key keys of the distinct counts, states
	uint32_t *cnt;   // n: group sizes, then the sorted sizes
	uint32_t *rank;  // n: batch-global groups when the id spaces overflow 32 bits
	uint32_t *seg;   // W + 1: segment starts by window
	uint64_t *bases; // W: per-window id bases (exclusive prefix sums)
};

// Bytes of the scratch of n entries and W windows; with mem non-null,
// points s's arrays into mem (16-byte aligned).
static inline size_t window_scratch_carve(window_scratch *s, void *mem, uint64_t n, uint32_t W)
{
	size_t off = 0;
	char *m = (char *)mem;
	auto take = [&](size_t bytes) {
		size_t at = off;
		off = (off + bytes + 15) & ~(size_t)15;
		return m ? m + at : nullptr;
	};
	size_t n1 = (size_t)n + 1;
	s->win = (uint32_t *)take(n1 * 4);
	s->keys = (uint64_t *)take(n1 * 8);
	s->uniq = (uint64_t *)take(n1 * 8);
	s->aux = (uint64_t *)take(n1 * 8);
	s->cnt = (uint32_t *)take(n1 * 4);
	s->rank = (uint32_t *)take(n1 * 4);
	s->seg = (uint32_t *)take(((size_t)W + 1) * 4);
	s->bases = (uint64_t *)take(((size_t)W + 1) * 8);
	return off;
}

// The columns a grouping or a distinct count reads.
enum { CF_WCOL_CONN = 0, CF_WCOL_DST, CF_WCOL_SRC, CF_WCOL_DPORT };

CF_HD static inline uint32_t window_col(const cf_window_batch &b, int c, uint64_t i)
{
	switch (c) {
	case CF_WCOL_CONN: return b.conn_id[i];
	case CF_WCOL_DST: return b.dst_id[i];
	case CF_WCOL_SRC: return b.src_id[i];
	default: return b.dport[i];
	}
}

// How a distinct count makes its group batch-global.
enum { CF_WGROUP_PORT = 0, CF_WGROUP_BASE, CF_WGROUP_RANK };

struct window_row_init {
	cf_window_batch b;
	CF_HD void operator()(uint32_t w) const
	{
		cf_window_row *r = &b.rows[w];
		*r = cf_window_row();
		r->num_entries = (int64_t)(b.offsets[w + 1] - b.offsets[w]);
		r->count_conns = b.n_conn[w];
		r->count_flows = b.n_flow[w];
	}
};

// window << shift | the column value (group keys: shift 32 and a column;
// sport 16; state 8).
struct window_entry_key {
	cf_window_batch b;
	const uint32_t *win;
	uint64_t base;
	int what; // a CF_WCOL_*, or 4: sport, 5: state
	int shift;
	CF_HD uint64_t operator()(uint64_t j) const
	{
		uint64_t i = base + j, v;
		if (what == 4)
			v = b.sport[i];
		else if (what == 5)
			v = b.state[i];
		else
			v = window_col(b, what, i);
		return (uint64_t)win[j] << shift | v;
	}
};

struct window_state_store {
	cf_window_row *rows;
	const uint64_t *keys;
	const uint32_t *cnt;
	CF_HD void operator()(uint64_t j) const
	{
		uint64_t k = keys[j], s = k & 0xff;
		if (s < CF_WINDOW_STATES) // the CPU reference indexes num_state[state] (enum cf_window_state)
			rows[k >> 8].num_state[s] = cnt[j];
	}
};

struct window_src_ports {
	cf_window_row *rows;
	const uint32_t *seg;
	CF_HD void operator()(uint32_t w) const { rows[w].count_src_port = (int64_t)(seg[w + 1] - seg[w]); }
};

// w << shift for the segment searches.
struct window_shl {
	int shift;
	CF_HD uint64_t operator()(uint64_t w) const { return w << shift; }
};

struct window_hi32 {
	CF_HD uint64_t operator()(uint64_t k) const { return k >> 32; }
};

struct window_lo32 {
	CF_HD uint32_t operator()(uint64_t k) const { return (uint32_t)k; }
};

struct window_to_u64 {
	CF_HD uint64_t operator()(uint32_t x) const { return x; }
};

// The window of a batch-global group.
struct window_of_group {
	int mode;              // CF_WGROUP_*
	const uint64_t *bases; // BASE: W per-window bases (nondecreasing)
	uint32_t W;
	const uint64_t *uniq;  // RANK: the (window << 32 | id) key of every rank
	CF_HD uint64_t operator()(uint64_t g) const
	{
		if (mode == CF_WGROUP_PORT)
			return g >> 16;
		if (mode == CF_WGROUP_RANK)
			return uniq[g] >> 32;
		// the last window whose base is <= g (windows with an empty id
		// space share their base with the next one and hold no group)
		uint32_t lo = 0, hi = W; // bases[lo] <= g < bases[hi] (bases[W] = infinity)
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (bases[mid] <= g)
				lo = mid;
			else
				hi = mid;
		}
		return lo;
	}
};

// (batch-global group) << 32 | value for a distinct count.
struct window_pair_key {
	cf_window_batch b;
	const uint32_t *win;
	uint64_t base;
	int gcol, vcol, mode;
	const uint64_t *bases; // BASE
	const uint32_t *rank;  // RANK
	CF_HD uint64_t operator()(uint64_t j) const
	{
		uint64_t i = base + j, g;
		if (mode == CF_WGROUP_PORT)
			g = (uint64_t)win[j] << 16 | window_col(b, gcol, i);
		else if (mode == CF_WGROUP_BASE)
			g = bases[win[j]] + window_col(b, gcol, i);
		else
			g = rank[j];
		return g << 32 | window_col(b, vcol, i);
	}
};

// window(group) << 32 | size.
struct window_size_key {
	window_of_group wog;
	CF_HD uint64_t operator()(const thrust::tuple<uint64_t, uint32_t> &t) const
	{
		return wog(thrust::get<0>(t)) << 32 | thrust::get<1>(t);
	}
};

// window(group key window << 32 | id) << 32 | size, for the base groupings.
struct window_group_size_key {
	CF_HD uint64_t operator()(const thrust::tuple<uint64_t, uint32_t> &t) const
	{
		return (thrust::get<0>(t) >> 32) << 32 | thrust::get<1>(t);
	}
};

struct window_dist_fill {
	cf_window_row *rows;
	const uint32_t *seg, *sizes;
	int kind;
	int count; // 0: none, 1: count_dst_ip, 2: count_src_ip, 3: count_dst_port
	CF_HD void operator()(uint32_t w) const
	{
		uint32_t a = seg[w], e = seg[w + 1];
		cf_window_row *r = &rows[w];
		cf_window_dist_from_sorted(sizes + a, e - a, &r->dist[kind]);
		if (count == 1)
			r->count_dst_ip = e - a;
		else if (count == 2)
			r->count_src_ip = e - a;
		else if (count == 3)
			r->count_dst_port = e - a;
	}
};

// s.keys[0..m) hold window << 32 | size keys: sorts them, finds every
// window's segment and finishes dist[kind] (and a group count) per window.
template <class Policy>
void window_sizes_to_rows(Policy &&pol, const cf_window_batch &b, const window_scratch &s, uint64_t m, int kind,
                          int count)
{
	uint32_t W = b.n_windows;
	thrust::sort(pol, s.keys, s.keys + m);
	thrust::transform(pol, s.keys, s.keys + m, s.cnt, window_lo32{});
	auto starts = thrust::make_transform_iterator(thrust::counting_iterator<uint64_t>(0), window_shl{32});
	thrust::lower_bound(pol, s.keys, s.keys + m, starts, starts + (W + 1), s.seg);
	thrust::for_each(pol, thrust::counting_iterator<uint32_t>(0), thrust::counting_iterator<uint32_t>(W),
	                 window_dist_fill{b.rows, s.seg, s.cnt, kind, count});
}

// b's columns, offsets, per-window arrays and rows, and s (carved for n
// entries and b.n_windows windows) must be accessible to the policy. The
// entries are base .. base + n - 1 (base = offsets[0], n = offsets[W] -
// base, passed by the caller, who may hold the offsets in device memory).
// Ids must keep the contract (id < n_ip[w] or n_conn[w], state <
// CF_WINDOW_STATES); n_windows <= CF_WINDOW_BATCH_MAX_WINDOWS, n < 2^32.
template <class Policy>
int window_rows(Policy &&pol, const cf_window_batch &b, uint64_t base, uint64_t n, const window_scratch &s)
{
	uint32_t W = b.n_windows;
	if (W == 0)
		return CF_OK;
	auto ws = thrust::counting_iterator<uint32_t>(0);
	auto js = thrust::counting_iterator<uint64_t>(0);
	auto one = thrust::constant_iterator<uint32_t>(1);
	thrust::for_each(pol, ws, ws + W, window_row_init{b});
	if (n)
		thrust::upper_bound(pol, b.offsets + 1, b.offsets + 1 + W, thrust::counting_iterator<uint64_t>(base),
		                    thrust::counting_iterator<uint64_t>(base + n), s.win);

	// states: window << 8 | state, counted per key
	thrust::transform(pol, js, js + n, s.keys, window_entry_key{b, s.win, base, 5, 8});
	thrust::sort(pol, s.keys, s.keys + n);
	uint64_t m = thrust::reduce_by_key(pol, s.keys, s.keys + n, one, s.aux, s.cnt).first - s.aux;
	thrust::for_each(pol, js, js + m, window_state_store{b.rows, s.aux, s.cnt});

	// distinct source ports: window << 16 | sport, unique, counted per window
	thrust::transform(pol, js, js + n, s.keys, window_entry_key{b, s.win, base, 4, 16});
	thrust::sort(pol, s.keys, s.keys + n);
	m = thrust::unique(pol, s.keys, s.keys + n) - s.keys;
	auto pstarts = thrust::make_transform_iterator(thrust::counting_iterator<uint64_t>(0), window_shl{16});
	thrust::lower_bound(pol, s.keys, s.keys + m, pstarts, pstarts + (W + 1), s.seg);
	thrust::for_each(pol, ws, ws + W, window_src_ports{b.rows, s.seg});

	// whether base + id stays below 2^32 for the id groups of the distinct counts
	uint64_t ip_total = 0, conn_total = 0;
	if (b.distinct) {
		ip_total = thrust::transform_reduce(pol, b.n_ip, b.n_ip + W, window_to_u64{}, (uint64_t)0,
		                                    thrust::plus<uint64_t>());
		conn_total = thrust::transform_reduce(pol, b.n_conn, b.n_conn + W, window_to_u64{}, (uint64_t)0,
		                                      thrust::plus<uint64_t>());
	}
	// the distinct counts of each base grouping: {kind, value column}
	static const int pairs[4][2][2] = {
	    {{CF_WDIST_U_DPORT_PER_CONN, CF_WCOL_DPORT}, {-1, 0}},
	    {{CF_WDIST_U_DPORT_PER_DST, CF_WCOL_DPORT}, {CF_WDIST_U_SRC_PER_DST, CF_WCOL_SRC}},
	    {{CF_WDIST_U_DPORT_PER_SRC, CF_WCOL_DPORT}, {CF_WDIST_U_DST_PER_SRC, CF_WCOL_DST}},
	    {{CF_WDIST_U_DST_PER_DPORT, CF_WCOL_DST}, {CF_WDIST_U_SRC_PER_DPORT, CF_WCOL_SRC}},
	};
	for (int g = CF_WCOL_CONN; g <= CF_WCOL_DPORT; g++) {
		// group sizes: window << 32 | id, reduce_by_key; then window << 32 | size
		window_entry_key gk{b, s.win, base, g, 32};
		thrust::transform(pol, js, js + n, s.keys, gk);
		thrust::sort(pol, s.keys, s.keys + n);
		uint64_t groups = thrust::reduce_by_key(pol, s.keys, s.keys + n, one, s.uniq, s.cnt).first - s.uniq;
		auto gz = thrust::make_zip_iterator(thrust::make_tuple(s.uniq, s.cnt));
		thrust::transform(pol, gz, gz + groups, s.keys, window_group_size_key{});
		// kind CF_WDIST_CONN .. CF_WDIST_DST_PORT is the column's number
		window_sizes_to_rows(pol, b, s, groups, g, g == CF_WCOL_CONN ? 0 : g);
		if (!b.distinct)
			continue;
		int mode = CF_WGROUP_PORT;
		if (g != CF_WCOL_DPORT) {
			const uint32_t *space = g == CF_WCOL_CONN ? b.n_conn : b.n_ip;
			uint64_t total = g == CF_WCOL_CONN ? conn_total : ip_total;
			if (total <= ((uint64_t)1 << 32)) {
				mode = CF_WGROUP_BASE;
				auto sp = thrust::make_transform_iterator(space, window_to_u64{});
				thrust::exclusive_scan(pol, sp, sp + W, s.bases);
			} else {
				// the group's rank among the batch's (window, id) groups (< n)
				mode = CF_WGROUP_RANK;
				auto ek = thrust::make_transform_iterator(js, gk);
				thrust::lower_bound(pol, s.uniq, s.uniq + groups, ek, ek + n, s.rank);
			}
		}
		window_of_group wog{mode, s.bases, W, s.uniq};
		for (int k = 0; k < 2; k++) {
			int kind = pairs[g][k][0];
			if (kind < 0)
				continue;
			thrust::transform(pol, js, js + n, s.keys,
			                  window_pair_key{b, s.win, base, g, pairs[g][k][1], mode, s.bases, s.rank});
			thrust::sort(pol, s.keys, s.keys + n);
			uint64_t u = thrust::unique(pol, s.keys, s.keys + n) - s.keys;
			auto hi = thrust::make_transform_iterator(s.keys, window_hi32{});
			uint64_t dg = thrust::reduce_by_key(pol, hi, hi + u, one, s.aux, s.cnt).first - s.aux;
			auto dz = thrust::make_zip_iterator(thrust::make_tuple(s.aux, s.cnt));
			thrust::transform(pol, dz, dz + dg, s.keys, window_size_key{wog});
			window_sizes_to_rows(pol, b, s, dg, kind, 0);
		}
	}
	return CF_OK;
}

} // namespace cf_thrust

#endif

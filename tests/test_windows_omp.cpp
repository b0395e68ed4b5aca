// The CUDA backend's window-rows algorithm (kernels/windows_thrust.h) built
// for OpenMP, against the CPU reference (cf_window_rows_cpu) on random
// batches: every row equal byte for byte (NaN bits included), with and
// without the distinct counts, windows of 0, 1 and many entries, tiny id
// and port spaces (groups collide, percentiles tie), entries that do not
// start at 0, a window of ~200k entries, the largest window count, and id
// spaces past 2^32 in all (the batch-global groups of the distinct counts
// then take ranks); and a small batch checked field by field by hand.
#include <gtest/gtest.h>
#include <thrust/execution_policy.h>
#include <thrust/system/omp/execution_policy.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuflow/internal.h"
#include "cuflow/window_batch.h"
#include "windows_thrust.h"
#include "window_batch_gen.h"
#include "test_util.h"

namespace {

using cft::wb_data;
using cft::random_batch;
using cft::expect_rows_equal;

void thrust_rows(wb_data &g)
{
	uint64_t base = g.offsets[0], n = g.offsets.back() - base;
	cf_thrust::window_scratch s;
	size_t bytes = cf_thrust::window_scratch_carve(&s, nullptr, n, g.b.n_windows);
	std::vector<uint64_t> mem(bytes / 8 + 2);
	cf_thrust::window_scratch_carve(&s, mem.data(), n, g.b.n_windows);
	ASSERT_EQ(cf_thrust::window_rows(thrust::omp::par, g.b, base, n, s), CF_OK);
}

// CPU rows of a (its b.rows) against the Thrust rows of g, byte for byte.
void compare(uint64_t seed, uint32_t W, uint64_t max_n, int distinct, uint64_t lead = 0)
{
	wb_data a = random_batch(seed, W, max_n, distinct, lead);
	wb_data g = random_batch(seed, W, max_n, distinct, lead);
	ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
	thrust_rows(g);
	std::string what = "seed " + std::to_string(seed) + " distinct " + std::to_string(distinct);
	expect_rows_equal(a, g, what.c_str());
}

} // namespace

TEST(WindowsThrustOmp, EqualsCpuReferenceOnRandomBatches)
{
	// OpenMP Thrust on 2 cores is slow per call: 80 seeds (20 sanitized)
	uint64_t seeds = cft::sanitized() ? 20 : 80;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		uint32_t W = 1 + (uint32_t)(seed * 7 % 40);
		uint64_t max_n = seed % 4 == 0 ? 5 : seed % 4 == 1 ? 60 : 400;
		compare(seed, W, max_n, (int)(seed & 1));
		if (HasFatalFailure())
			return;
	}
}

TEST(WindowsThrustOmp, EntriesThatDoNotStartAtZero)
{
	for (uint64_t seed = 500; seed < (cft::sanitized() ? 504u : 510u); seed++) {
		compare(seed, 12, 80, (int)(seed & 1), 1 + seed % 97);
		if (HasFatalFailure())
			return;
	}
}

TEST(WindowsThrustOmp, AllWindowsEmptyAndNoWindows)
{
	for (int distinct = 0; distinct < 2; distinct++) {
		compare(7, 0, 10, distinct); // no windows at all
		wb_data a, g;
		for (wb_data *x : {&a, &g}) {
			x->offsets = {3, 3, 3, 3}; // three windows, no entries (3 ignored before)
			for (int i = 0; i < 3; i++)
				x->push(1, 2, 3, 4, 5, 1);
			x->n_ip = {0, 4, 1};
			x->n_conn = {0, 2, 7};
			x->n_flow = {0, 1, 5};
			x->bind(distinct);
		}
		ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
		thrust_rows(g);
		expect_rows_equal(a, g, "empty windows");
		for (const cf_window_row &r : g.rows) {
			EXPECT_EQ(r.num_entries, 0);
			EXPECT_EQ(r.count_dst_ip, 0);
			EXPECT_EQ(r.count_src_port, 0);
			for (int k = 0; k < CF_WDIST_COUNT; k++) {
				if (k < CF_WDIST_BASE || distinct) {
					EXPECT_EQ(r.dist[k].max, -1) << k;
					EXPECT_TRUE(std::isnan(r.dist[k].mean) && std::isnan(r.dist[k].p90)) << k;
				} else {
					EXPECT_EQ(r.dist[k].max, 0) << k; // left as memset
					EXPECT_EQ(r.dist[k].mean, 0.0) << k;
				}
			}
		}
		EXPECT_EQ(g.rows[2].count_conns, 7);
		EXPECT_EQ(g.rows[2].count_flows, 5);
	}
}

// One window of ~200k entries (and a few small ones around it), with tiny
// and with large id spaces.
TEST(WindowsThrustOmp, OneLargeWindow)
{
	for (int distinct = 0; distinct < 2; distinct++)
		for (int tiny = 0; tiny < 2; tiny++) {
			wb_data a = cft::large_window_batch(tiny, distinct), g = cft::large_window_batch(tiny, distinct);
			ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
			thrust_rows(g);
			expect_rows_equal(a, g, tiny ? "one large window, tiny id spaces" : "one large window");
		}
}

// CF_WINDOW_BATCH_MAX_WINDOWS windows: the port groups of the distinct
// counts reach window * 65536 + 65535 = 2^32 - 1.
TEST(WindowsThrustOmp, MostWindowsAndTopPorts)
{
	wb_data a = cft::most_windows_batch(), g = cft::most_windows_batch();
	ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
	thrust_rows(g);
	expect_rows_equal(a, g, "65536 windows");
	EXPECT_EQ(g.rows.back().num_entries, 50);
	EXPECT_GE(g.rows.back().dist[CF_WDIST_U_DST_PER_DPORT].max, 1);
}

// Rows do not depend on the id values, only on which entries share an id:
// the same batch with every window's ids moved into huge id spaces (the
// CPU reference could not count over those) gives the CPU's rows of the
// small batch (count_conns = the new n_conn). Spaces adding up to exactly
// 2^32 (the top ids used: batch-global groups up to 2^32 - 1) and past it
// (the groups are then ranks).
TEST(WindowsThrustOmp, IdSpacesAtAndPast32Bits)
{
	for (int past = 0; past < 2; past++)
		for (uint64_t seed = 900; seed < 906; seed++) {
			const uint32_t W = 8;
			wb_data a = random_batch(seed, W, 300, 1);
			wb_data g = random_batch(seed, W, 300, 1);
			uint32_t big = past ? 0xC0000000u : 0x20000000u; // 8 * 2^29 = 2^32
			for (uint32_t w = 0; w < W; w++) {
				g.n_ip[w] = big; // every window, empty ones too: the spaces add up to 8 * big
				g.n_conn[w] = big;
				for (uint64_t i = g.offsets[w]; i < g.offsets[w + 1]; i++) {
					// injective within the window: reversed, at the top of the space
					g.dst[i] = big - 1 - a.dst[i];
					g.src[i] = big - 1 - a.src[i];
					g.conn[i] = big - 1 - a.conn[i];
				}
			}
			ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
			for (uint32_t w = 0; w < W; w++)
				a.rows[w].count_conns = big;
			thrust_rows(g);
			expect_rows_equal(a, g, past ? "id spaces past 2^32" : "id spaces of 2^32");
			if (HasFatalFailure())
				return;
		}
}

// A small batch by hand. Window 0 (8 entries):
//   dst   0 1 2 2 3 3 3 3     sizes [1,1,2,4]
//   src   0 0 1 1 1 2 2 2     sizes [2,3,3]
//   conn  0 1 2 2 3 4 4 4     sizes [1,1,1,2,3]
//   dport 80 x7, 443 at 3     sizes [1,7]
//   sport 1000 1001 1000 1002 1000 1000 1000 1000: 3 distinct
//   state 0 1 1 2 2 2 5 5
// distinct src per dst [1,1,1,2], dst per src [1,2,2], dst per dport [1,4];
// window 1 empty; window 2 one entry.
TEST(WindowsThrustOmp, HandComputedRows)
{
	for (int distinct = 0; distinct < 2; distinct++) {
		wb_data a, g;
		for (wb_data *x : {&a, &g}) {
			const uint32_t dst[] = {0, 1, 2, 2, 3, 3, 3, 3}, src[] = {0, 0, 1, 1, 1, 2, 2, 2},
			               cn[] = {0, 1, 2, 2, 3, 4, 4, 4};
			const uint16_t sp[] = {1000, 1001, 1000, 1002, 1000, 1000, 1000, 1000};
			const uint8_t st[] = {0, 1, 1, 2, 2, 2, 5, 5};
			for (int i = 0; i < 8; i++)
				x->push(src[i], dst[i], cn[i], sp[i], i == 3 ? 443 : 80, st[i]);
			x->push(0, 0, 0, 7, 9, 3);
			x->offsets = {0, 8, 8, 9};
			x->n_ip = {5, 0, 1}; // id 4 of window 0 unused
			x->n_conn = {5, 0, 1};
			x->n_flow = {9, 0, 1};
			x->bind(distinct);
		}
		ASSERT_EQ(cf_window_rows_cpu(&a.b), CF_OK);
		thrust_rows(g);
		expect_rows_equal(a, g, "hand batch");
		for (const wb_data *x : {&a, &g}) {
			const cf_window_row &r = x->rows[0];
			EXPECT_EQ(r.num_entries, 8);
			EXPECT_EQ(r.count_dst_ip, 4);
			EXPECT_EQ(r.count_src_ip, 3);
			EXPECT_EQ(r.count_dst_port, 2);
			EXPECT_EQ(r.count_src_port, 3);
			EXPECT_EQ(r.count_conns, 5);
			EXPECT_EQ(r.count_flows, 9);
			const int64_t states[CF_WINDOW_STATES] = {1, 2, 3, 0, 0, 2};
			for (int s = 0; s < CF_WINDOW_STATES; s++)
				EXPECT_EQ(r.num_state[s], states[s]) << s;
			const cf_window_dist &d = r.dist[CF_WDIST_DST_IP];
			EXPECT_EQ(d.max, 4);
			EXPECT_EQ(d.mean, 2.0);
			EXPECT_EQ(d.p25, 1.0);
			EXPECT_EQ(d.p50, 1.5);
			EXPECT_EQ(d.p75, 2.5);
			EXPECT_EQ(d.p90, 3.4000000000000004);
			const cf_window_dist &s = r.dist[CF_WDIST_SRC_IP];
			EXPECT_EQ(s.max, 3);
			EXPECT_EQ(s.mean, 2.6666666666666665);
			EXPECT_EQ(s.p25, 2.5);
			EXPECT_EQ(s.p50, 3.0);
			EXPECT_EQ(s.p90, 3.0);
			const cf_window_dist &p = r.dist[CF_WDIST_DST_PORT];
			EXPECT_EQ(p.max, 7);
			EXPECT_EQ(p.mean, 4.0);
			EXPECT_EQ(p.p25, 2.5);
			EXPECT_EQ(p.p50, 4.0);
			EXPECT_EQ(p.p75, 5.5);
			EXPECT_EQ(p.p90, 6.4);
			EXPECT_EQ(r.dist[CF_WDIST_CONN].max, 3);
			EXPECT_EQ(r.dist[CF_WDIST_CONN].mean, 1.6);
			if (distinct) {
				const cf_window_dist &u = r.dist[CF_WDIST_U_SRC_PER_DST];
				EXPECT_EQ(u.max, 2);
				EXPECT_EQ(u.mean, 1.25);
				EXPECT_EQ(u.p75, 1.25);
				EXPECT_EQ(u.p90, 1.7000000000000002);
				const cf_window_dist &v = r.dist[CF_WDIST_U_DST_PER_SRC];
				EXPECT_EQ(v.max, 2);
				EXPECT_EQ(v.mean, 1.6666666666666667);
				EXPECT_EQ(v.p25, 1.5);
				EXPECT_EQ(r.dist[CF_WDIST_U_DST_PER_DPORT].max, 4);
				EXPECT_EQ(r.dist[CF_WDIST_U_DST_PER_DPORT].mean, 2.5);
				EXPECT_EQ(r.dist[CF_WDIST_U_DPORT_PER_DST].max, 2);
				EXPECT_EQ(r.dist[CF_WDIST_U_DPORT_PER_CONN].max, 2); // conn 2: 80 and 443
			} else {
				cf_window_dist zero;
				std::memset(&zero, 0, sizeof zero);
				for (int k = CF_WDIST_BASE; k < CF_WDIST_COUNT; k++)
					EXPECT_EQ(0, std::memcmp(&r.dist[k], &zero, sizeof zero)) << k;
			}
			const cf_window_row &e = x->rows[1];
			EXPECT_EQ(e.num_entries, 0);
			EXPECT_EQ(e.dist[CF_WDIST_DST_IP].max, -1);
			EXPECT_TRUE(std::isnan(e.dist[CF_WDIST_DST_IP].p50));
			const cf_window_row &o = x->rows[2];
			EXPECT_EQ(o.num_entries, 1);
			EXPECT_EQ(o.num_state[3], 1);
			EXPECT_EQ(o.count_src_port, 1);
			for (int k = 0; k < (distinct ? CF_WDIST_COUNT : CF_WDIST_BASE); k++) {
				EXPECT_EQ(o.dist[k].max, 1) << k;
				EXPECT_EQ(o.dist[k].p90, 1.0) << k;
			}
		}
	}
}

// Random window batches (host/private/cuflow/window_batch.h) for the
// window-rows tests: the OpenMP build of the Thrust path and the CUDA
// parity test compare it with the CPU reference on the same batches.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "cuflow/window_batch.h"

namespace cft {

// A window batch owning its columns.
struct wb_data {
	std::vector<uint64_t> offsets;
	std::vector<uint32_t> n_ip, n_conn, n_flow, src, dst, conn;
	std::vector<uint16_t> sport, dport;
	std::vector<uint8_t> state;
	std::vector<cf_window_row> rows;
	cf_window_batch b{};

	void bind(int distinct)
	{
		rows.assign(n_ip.size(), cf_window_row());
		if (!rows.empty()) // garbage to overwrite
			std::memset((void *)rows.data(), 0xa5, rows.size() * sizeof(cf_window_row));
		b.n_windows = (uint32_t)n_ip.size();
		b.distinct = distinct;
		b.offsets = offsets.data();
		b.n_ip = n_ip.data();
		b.n_conn = n_conn.data();
		b.n_flow = n_flow.data();
		b.src_id = src.data();
		b.dst_id = dst.data();
		b.conn_id = conn.data();
		b.sport = sport.data();
		b.dport = dport.data();
		b.state = state.data();
		b.rows = rows.data();
	}
	void push(uint32_t s, uint32_t d, uint32_t c, uint16_t sp, uint16_t dp, uint8_t st)
	{
		src.push_back(s);
		dst.push_back(d);
		conn.push_back(c);
		sport.push_back(sp);
		dport.push_back(dp);
		state.push_back(st);
	}
};

// Random batch of W windows; `lead` entries before offsets[0]. Window
// sizes: 0, 1 or up to max_n; id spaces tiny, moderate or large, and the
// ports from a handful of values or all 65536.
wb_data random_batch(uint64_t seed, uint32_t W, uint64_t max_n, int distinct, uint64_t lead = 0)
{
	std::mt19937_64 rng(seed);
	wb_data a;
	for (uint64_t i = 0; i < lead; i++) {
		uint32_t s = (uint32_t)rng(), d = (uint32_t)rng(), c = (uint32_t)rng();
		a.push(s, d, c, (uint16_t)s, (uint16_t)d, 0);
	}
	a.offsets.push_back(lead);
	static const uint16_t few_ports[] = {0, 53, 80, 443, 65535};
	for (uint32_t w = 0; w < W; w++) {
		uint64_t kind = rng() % 6, n = kind == 0 ? 0 : kind == 1 ? 1 : rng() % (max_n + 1);
		uint64_t space = rng() % 3 == 0 ? 1 + rng() % 4 : rng() % 2 ? 2 * n + 1 : 1 + rng() % 20000;
		uint32_t n_ip = (uint32_t)(n || rng() % 2 ? 1 + rng() % space : 0);
		uint32_t n_conn = (uint32_t)(n || rng() % 2 ? 1 + rng() % space : 0);
		bool few_d = rng() % 2, few_s = rng() % 2;
		// the ids actually used may be fewer than the id space
		uint32_t used_ip = n_ip ? 1 + (uint32_t)(rng() % n_ip) : 0;
		for (uint64_t i = 0; i < n; i++) {
			uint32_t d = (uint32_t)(rng() % used_ip);
			uint32_t s_space = rng() % 3 ? used_ip : n_ip;
			uint32_t s = (uint32_t)(rng() % s_space);
			uint32_t c = (uint32_t)(rng() % n_conn);
			uint16_t dp = few_d ? few_ports[rng() % 5] : (uint16_t)rng();
			uint16_t sp = few_s ? few_ports[rng() % 3] : (uint16_t)rng();
			uint8_t st = (uint8_t)(rng() % CF_WINDOW_STATES);
			a.push(s, d, c, sp, dp, st);
		}
		a.offsets.push_back(a.offsets.back() + n);
		a.n_ip.push_back(n_ip);
		a.n_conn.push_back(n_conn);
		a.n_flow.push_back((uint32_t)(rng() % (n + 3)));
	}
	a.bind(distinct);
	return a;
}

// Three windows, the middle one of ~200k entries, the others of 0..4;
// id spaces of 3 (tiny: groups collide, ports from 3-4 values) or n + 1.
inline wb_data large_window_batch(int tiny, int distinct)
{
	wb_data x;
	std::mt19937_64 rng(99 + tiny);
	x.offsets.push_back(0);
	for (uint32_t w = 0; w < 3; w++) {
		uint64_t n = w == 1 ? 200000 + rng() % 1000 : rng() % 5;
		uint32_t space = tiny ? 3 : (uint32_t)(n + 1);
		for (uint64_t i = 0; i < n; i++) {
			uint32_t s = (uint32_t)(rng() % space), d = (uint32_t)(rng() % space);
			uint32_t c = (uint32_t)(rng() % space);
			uint16_t sp = tiny ? (uint16_t)(rng() % 4) : (uint16_t)rng();
			uint16_t dp = tiny ? (uint16_t)(rng() % 3) : (uint16_t)rng();
			x.push(s, d, c, sp, dp, (uint8_t)(rng() % 6));
		}
		x.offsets.push_back(x.offsets.back() + n);
		x.n_ip.push_back(space);
		x.n_conn.push_back(space);
		x.n_flow.push_back((uint32_t)n);
	}
	x.bind(distinct);
	return x;
}

// CF_WINDOW_BATCH_MAX_WINDOWS windows of 0..2 entries (the last of 50) on
// ports near 65535: the distinct counts' port groups reach 2^32 - 1.
inline wb_data most_windows_batch()
{
	wb_data x;
	std::mt19937_64 rng(5);
	x.offsets.push_back(0);
	for (uint32_t w = 0; w < CF_WINDOW_BATCH_MAX_WINDOWS; w++) {
		uint64_t n = w + 1 == CF_WINDOW_BATCH_MAX_WINDOWS ? 50 : rng() % 3;
		for (uint64_t i = 0; i < n; i++) {
			uint32_t s = (uint32_t)(rng() % 2), d = (uint32_t)(rng() % 2);
			uint16_t sp = (uint16_t)(65535 - rng() % 2), dp = (uint16_t)(65535 - rng() % 3);
			x.push(s, d, 0, sp, dp, (uint8_t)(rng() % 6));
		}
		x.offsets.push_back(x.offsets.back() + n);
		x.n_ip.push_back(n ? 2 : 0);
		x.n_conn.push_back(n ? 1 : 0);
		x.n_flow.push_back(1);
	}
	x.bind(1);
	return x;
}

// Every row of a and g the same bytes (NaN bits included).
inline void expect_rows_equal(const wb_data &a, const wb_data &g, const std::string &what)
{
	ASSERT_EQ(a.rows.size(), g.rows.size());
	for (size_t w = 0; w < a.rows.size(); w++)
		ASSERT_EQ(0, std::memcmp(&a.rows[w], &g.rows[w], sizeof(cf_window_row)))
		    << what << ": window " << w << " of " << a.rows.size() << ", " << (a.offsets[w + 1] - a.offsets[w])
		    << " entries";
}

} // namespace cft

// Random flow batches for the backend parity tests (CPU reference vs the
// Thrust algorithm on OpenMP, vs the CUDA backend), and a comparison of
// two computed batches: parts and statistics bit for bit, sequences up to
// their lengths.
#ifndef CUFLOW_TESTS_FLOW_BATCH_GEN_H
#define CUFLOW_TESTS_FLOW_BATCH_GEN_H

#include <gtest/gtest.h>
#include <cstring>
#include <random>

#include "cuflow/internal.h"

namespace cft {

// Fills b (already initialised) with pieces of random lengths: many short
// flows, some long ones, empty last pieces, repeated sizes (some pieces with
// sizes up to 256 KiB, the others below 64 KiB), both
// directions, all flag bits, large time gaps.
inline void random_flow_batch(cf_flow_batch *b, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	cf_flow_batch_reset(b);
	std::vector<cf_flow_pkt> pk;
	while (b->n_pieces < b->max_pieces) {
		uint64_t r = rng() % 100;
		uint32_t n = r < 3 ? 0 : r < 80 ? 1 + rng() % 20 : r < 97 ? 1 + rng() % 500 : 1 + rng() % 5000;
		if (b->n_packets + n > b->max_packets)
			break;
		pk.assign(n, cf_flow_pkt{});
		int64_t t = (int64_t)(rng() >> 4);
		uint32_t distinct = 1 + rng() % 8;
		bool jumbo = rng() % 3 == 0; /* pieces with sizes >= 64 KiB and pieces without */
		for (uint32_t k = 0; k < n; k++) {
			t += rng() % 4 == 0 ? (int64_t)(rng() % 3000000000000ull) : (int64_t)(rng() % 5000000);
			pk[k].ts_ns = t;
			pk[k].size = jumbo && rng() % 16 == 0 ? (uint32_t)(rng() % 262144) : 40 + 100 * (uint32_t)(rng() % distinct);
			pk[k].dir = (uint8_t)(rng() & 1);
			pk[k].tcp_flags = (uint8_t)rng();
		}
		int whole = n == 0 ? 0 : (rng() % 5 != 0);
		cf_flow_batch_push(b, pk.data(), n, whole);
	}
}

// Expects two batches computed from the same input to be equal.
inline void expect_same_flow_results(const cf_flow_batch &a, const cf_flow_batch &g, const char *what)
{
	ASSERT_EQ(a.n_pieces, g.n_pieces);
	for (uint32_t i = 0; i < a.n_pieces; i++) {
		ASSERT_EQ(0, memcmp(&a.part[i], &g.part[i], sizeof a.part[i])) << what << ": part of piece " << i;
		if (!a.whole[i])
			continue;
		for (int d = 0; d < 3; d++)
			ASSERT_EQ(0, memcmp(&a.stats[3 * i + d], &g.stats[3 * i + d], sizeof(cf_flow_stats)))
			    << what << ": stats of piece " << i << " set " << d << " p50 " << a.stats[3 * i + d].ps_p50
			    << " vs " << g.stats[3 * i + d].ps_p50 << " sd " << a.stats[3 * i + d].ps_stddev << " vs "
			    << g.stats[3 * i + d].ps_stddev;
		ASSERT_EQ(a.seq_n[i], g.seq_n[i]) << what << ": piece " << i;
		uint64_t q = (uint64_t)i * a.seq_len;
		for (uint32_t k = 0; k < a.seq_n[i]; k++) {
			ASSERT_EQ(a.seq_size[q + k], g.seq_size[q + k]);
			ASSERT_EQ(a.seq_iat_ns[q + k], g.seq_iat_ns[q + k]);
			ASSERT_EQ(a.seq_dir[q + k], g.seq_dir[q + k]);
		}
	}
}

} // namespace cft

#endif

// Random netml batches (CSR rows of packets) for the backend parity tests:
// tests/test_netml_omp.cpp (Thrust on OpenMP) and tests/gpu/test_netml_cuda.cpp
// (CUDA) compare against the CPU reference on the same batches.
#ifndef CUFLOW_TESTS_NETML_BATCH_GEN_H
#define CUFLOW_TESTS_NETML_BATCH_GEN_H

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cuflow/netml_batch.h"

namespace cft {


struct NetmlCols {
	std::vector<uint64_t> off; // n_rows + 1, off[0] > 0
	std::vector<double> t;
	std::vector<uint32_t> size;
	std::vector<uint8_t> ttl, hfl;
	uint32_t rows() const { return (uint32_t)off.size() - 1; }
	uint64_t base() const { return off[0]; }
	uint64_t n() const { return off.back() - off[0]; }
};

// Packets [0, base) and after the last row are junk no row owns.
inline NetmlCols random_cols(uint64_t seed, uint32_t rows)
{
	std::mt19937_64 rng(seed);
	std::uniform_real_distribution<double> u(0.0, 1.0);
	NetmlCols c;
	auto push = [&](double t, uint32_t s) {
		c.t.push_back(t);
		c.size.push_back(s);
		c.ttl.push_back((uint8_t)rng());
		c.hfl.push_back(rng() % 4 == 0 ? 0 : (uint8_t)rng());
	};
	uint64_t junk = 1 + rng() % 700;
	for (uint64_t i = 0; i < junk; i++)
		push(u(rng) * 1e9, (uint32_t)(rng() % 65536));
	// numpy's pairwise-sum shapes: < 8, blocks of 128, splits, 8192-element chunks
	static const uint32_t special[] = {2,    3,    7,    8,    9,    15,   16,   17,   127,  128,  129,  130,
	                                   255,  256,  257,  1023, 1024, 1025, 4095, 4096, 4097, 5000, 8191, 8192,
	                                   8193, 16385, 20000};
	const size_t nspecial = sizeof special / sizeof special[0];
	c.off.push_back(c.t.size());
	for (uint32_t r = 0; r < rows; r++) {
		uint32_t len;
		uint64_t k = rng() % 100;
		if (r < nspecial && seed % 2 == 1)
			len = special[r];
		else
			len = k < 70 ? 2 + (uint32_t)(rng() % 40) : k < 93 ? 41 + (uint32_t)(rng() % 560)
			                                                  : 601 + (uint32_t)(rng() % 4400);
		// times: non-decreasing, ties, microsecond steps, big gaps
		double t = 1.4e9 + u(rng) * 2e8;
		int time_mode = (int)(rng() % 10);          // 0: all at one instant
		int size_mode = (int)(rng() % 4);
		uint32_t distinct[6] = {54, 60, 66, 590, 1514, (uint32_t)(40 + rng() % 65000)};
		uint32_t constant = (uint32_t)(40 + rng() % 1500);
		for (uint32_t i = 0; i < len; i++) {
			if (i > 0 && time_mode != 0) {
				uint64_t g = rng() % 100;
				t += g < 30 ? 0.0 : g < 80 ? (double)(1 + rng() % 5000) * 1e-6 : g < 95 ? u(rng) * 10.0 : u(rng) * 5000.0;
			}
			uint32_t s = size_mode == 0 ? distinct[rng() % 6]
			             : size_mode == 1 ? (uint32_t)(rng() % 65536)
			             : size_mode == 2 ? constant
			                              : (uint32_t)(40 + rng() % 1500);
			push(t, s);
		}
		c.off.push_back(c.t.size());
	}
	for (uint64_t i = 0, m = rng() % 50; i < m; i++)
		push(u(rng) * 1e9, (uint32_t)(rng() % 65536));
	return c;
}

inline uint32_t feat_cols_for(int type, uint32_t dim)
{
	switch (type) {
	case CF_NETML_SIZE: return dim;
	case CF_NETML_IAT_SIZE: return 2 * dim - 1;
	case CF_NETML_STATS: return CF_NETML_STATS_COLS;
	default: return dim - 1; // IAT, SAMP_NUM, SAMP_SIZE
	}
}

inline cf_netml_batch make_batch(const NetmlCols &c, int type, uint32_t dim, int header, double samp_width, int fft)
{
	cf_netml_batch b;
	memset(&b, 0, sizeof b);
	b.n_rows = c.rows();
	b.offsets = c.off.data();
	b.t = c.t.data();
	b.size = c.size.data();
	b.ttl = c.ttl.data();
	b.hflags = c.hfl.data();
	b.type = type;
	b.feat_cols = feat_cols_for(type, dim);
	b.hdr_cols = header ? CF_NETML_HDR_FLAGS + b.feat_cols : 0;
	b.samp_width = samp_width;
	b.fft = fft;
	return b;
}

inline uint64_t bits(double d)
{
	uint64_t x;
	memcpy(&x, &d, 8);
	return x;
}

} // namespace cft

#endif

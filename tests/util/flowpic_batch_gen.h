// Random FlowPic batches for the backend parity tests (OpenMP build of the
// Thrust algorithm, CUDA backend): the same generator feeds both sides.
#ifndef CUFLOW_TESTS_FLOWPIC_BATCH_GEN_H
#define CUFLOW_TESTS_FLOWPIC_BATCH_GEN_H

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuflow/flowpic_batch.h"

namespace cft {

// Owns the arrays of one batch; b points into them. n_images images of
// up to max_entries entries, times in [-1, D + 1] (so some fall outside),
// sizes 0..1600 (some oversize), exact boundary values mixed in.
struct flowpic_batch_data {
	std::vector<uint64_t> offsets;
	std::vector<double> t, t_first, t_last, anchor, edges_t, edges_s;
	std::vector<uint32_t> size, acc, packets;
	std::vector<uint8_t> chan, out;
	cf_flowpic_batch b;

	flowpic_batch_data(uint64_t seed, uint32_t n_images, uint32_t max_entries, uint32_t res, uint32_t channels,
	                   int time_axis, int value, int size_clip, int size_edges, double duration)
	{
		std::mt19937_64 rng(seed);
		std::uniform_real_distribution<double> ut(-1.0, duration + 1.0);
		offsets.push_back(0);
		for (uint32_t i = 0; i < n_images; i++) {
			uint32_t n = (uint32_t)(rng() % (max_entries + 1));
			double tf = 1e300, tl = -1e300;
			for (uint32_t j = 0; j < n; j++) {
				double x;
				switch (rng() % 8) {
				case 0: x = 0.0; break;
				case 1: x = duration; break;
				case 2: x = std::floor(ut(rng)); break;
				default: x = ut(rng);
				}
				uint32_t s;
				switch (rng() % 8) {
				case 0: s = 1500; break;
				case 1: s = 1501 + (uint32_t)(rng() % 100); break;
				default: s = (uint32_t)(rng() % 1501);
				}
				t.push_back(x);
				size.push_back(s);
				chan.push_back((uint8_t)(rng() % channels));
				tf = std::min(tf, x);
				tl = std::max(tl, x);
			}
			offsets.push_back(t.size());
			t_first.push_back(n ? tf : 0.0);
			t_last.push_back(n ? tl : 0.0);
			anchor.push_back(rng() % 2 ? 0.0 : (n ? tf : 0.0));
		}
		edges_t.resize(res + 1);
		edges_s.resize(res + 1);
		double stop_t = time_axis == CF_FLOWPIC_FIXED_EDGES ? duration : (double)res;
		for (uint32_t k = 0; k < res; k++) {
			edges_t[k] = (double)k * (stop_t / res) + 0.0;
			edges_s[k] = (double)k * (1500.0 / res) + 0.0;
		}
		edges_t[res] = stop_t;
		edges_s[res] = 1500.0;
		uint64_t px = (uint64_t)n_images * channels * res * res;
		size_t vb = value == CF_FLOWPIC_COUNT ? 2 : value == CF_FLOWPIC_CAPPED ? 1 : 4;
		acc.assign(px, 0xdeadbeef);
		packets.assign(n_images, 0xdeadbeef);
		out.assign(px * vb, 0xab);
		memset(&b, 0, sizeof b);
		b.n_images = n_images;
		b.channels = channels;
		b.res = res;
		b.time_axis = time_axis;
		b.size_clip = size_clip;
		b.size_edges = size_edges;
		b.value = value;
		b.duration = duration;
		b.offsets = offsets.data();
		b.t = t.data();
		b.size = size.data();
		b.chan = chan.data();
		b.t_first = t_first.data();
		b.t_last = t_last.data();
		b.anchor = anchor.data();
		b.edges_t = edges_t.data();
		b.edges_s = edges_s.data();
		b.acc = acc.data();
		b.out = out.data();
		b.packets = packets.data();
	}

	// Leaves the first k images out: the batch then starts at entry
	// offsets[k] (offsets[0] > 0), as the CPU reference allows.
	void drop_first_images(uint32_t k)
	{
		b.offsets += k;
		b.t_first += k;
		b.t_last += k;
		b.anchor += k;
		b.n_images -= k;
	}
};

} // namespace cft

#endif

// The CUDA backend's window rows (kernels/windows.cu) against the CPU
// reference on random batches, byte for byte (NaN bits included): with and
// without the distinct counts, windows of 0, 1 and many entries, tiny id
// and port spaces, entries that do not start at 0, a window of ~200k
// entries, the largest window count, id spaces past 2^32 in all, and
// empty batches. Skips when no device answers.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuflow/internal.h"
#include "cuflow/window_batch.h"
#include "window_batch_gen.h"

namespace {

using cft::wb_data;
using cft::random_batch;
using cft::expect_rows_equal;

struct cuda_backend {
	cf_backend *b = nullptr;
	~cuda_backend() { cf_backend_close(b); }
};

} // namespace

TEST(WindowsCuda, EqualsCpuReferenceOnRandomBatches)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cuda_backend gpu;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu.b, err), CF_OK) << err;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		uint32_t W = 1 + (uint32_t)(seed * 7 % 300);
		uint64_t max_n = seed % 4 == 0 ? 5 : seed % 4 == 1 ? 60 : 2000;
		int distinct = (int)(seed & 1);
		uint64_t lead = seed % 5 == 0 ? seed : 0; // entries that do not start at 0
		wb_data a = random_batch(seed, W, max_n, distinct, lead);
		wb_data g = random_batch(seed, W, max_n, distinct, lead);
		ASSERT_EQ(cf_backend_window_rows(nullptr, &a.b), CF_OK);
		ASSERT_EQ(cf_backend_window_rows(gpu.b, &g.b), CF_OK) << cf_backend_error(gpu.b);
		expect_rows_equal(a, g, "seed " + std::to_string(seed) + " distinct " + std::to_string(distinct));
		if (HasFatalFailure())
			return;
	}
}

// A window of ~200k entries between small ones (tiny and large id
// spaces), CF_WINDOW_BATCH_MAX_WINDOWS windows, and empty batches.
TEST(WindowsCuda, LargeWindowMostWindowsAndEmptyBatches)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cuda_backend gpu;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu.b, err), CF_OK) << err;
	for (int distinct = 0; distinct < 2; distinct++)
		for (int tiny = 0; tiny < 2; tiny++) {
			wb_data a = cft::large_window_batch(tiny, distinct), g = cft::large_window_batch(tiny, distinct);
			ASSERT_EQ(cf_backend_window_rows(nullptr, &a.b), CF_OK);
			ASSERT_EQ(cf_backend_window_rows(gpu.b, &g.b), CF_OK) << cf_backend_error(gpu.b);
			expect_rows_equal(a, g, tiny ? "one large window, tiny id spaces" : "one large window");
		}
	{
		wb_data a = cft::most_windows_batch(), g = cft::most_windows_batch();
		ASSERT_EQ(cf_backend_window_rows(nullptr, &a.b), CF_OK);
		ASSERT_EQ(cf_backend_window_rows(gpu.b, &g.b), CF_OK) << cf_backend_error(gpu.b);
		expect_rows_equal(a, g, "65536 windows");
	}
	for (int distinct = 0; distinct < 2; distinct++)
		for (uint32_t W : {0u, 4u}) { // no windows; windows without entries
			wb_data a, g;
			for (wb_data *x : {&a, &g}) {
				x->offsets.assign(W + 1, 0);
				x->n_ip.assign(W, 3);
				x->n_conn.assign(W, 2);
				x->n_flow.assign(W, 1);
				x->bind(distinct);
			}
			ASSERT_EQ(cf_backend_window_rows(nullptr, &a.b), CF_OK);
			ASSERT_EQ(cf_backend_window_rows(gpu.b, &g.b), CF_OK) << cf_backend_error(gpu.b);
			expect_rows_equal(a, g, "empty batch of " + std::to_string(W) + " windows");
		}
}

// Every window's ids moved to the top of huge id spaces (adding up to
// exactly 2^32, then past it): the rows of the small batch on the CPU
// (count_conns = the new n_conn), as the rows depend only on which entries
// share an id.
TEST(WindowsCuda, IdSpacesAtAndPast32Bits)
{
	if (cf_cuda_device_count() == 0)
		GTEST_SKIP() << "no CUDA device";
	char err[CF_ERRBUF_SIZE];
	cuda_backend gpu;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu.b, err), CF_OK) << err;
	for (int past = 0; past < 2; past++)
		for (uint64_t seed = 900; seed < 906; seed++) {
			const uint32_t W = 8;
			wb_data a = random_batch(seed, W, 3000, 1);
			wb_data g = random_batch(seed, W, 3000, 1);
			uint32_t big = past ? 0xC0000000u : 0x20000000u; // 8 * 2^29 = 2^32
			for (uint32_t w = 0; w < W; w++) {
				g.n_ip[w] = big;
				g.n_conn[w] = big;
				for (uint64_t i = g.offsets[w]; i < g.offsets[w + 1]; i++) {
					g.dst[i] = big - 1 - a.dst[i];
					g.src[i] = big - 1 - a.src[i];
					g.conn[i] = big - 1 - a.conn[i];
				}
			}
			ASSERT_EQ(cf_backend_window_rows(nullptr, &a.b), CF_OK);
			for (uint32_t w = 0; w < W; w++)
				a.rows[w].count_conns = big;
			ASSERT_EQ(cf_backend_window_rows(gpu.b, &g.b), CF_OK) << cf_backend_error(gpu.b);
			expect_rows_equal(a, g, past ? "id spaces past 2^32" : "id spaces of 2^32");
			if (HasFatalFailure())
				return;
		}
}

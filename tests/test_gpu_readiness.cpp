// Host-side checks of the logic the CUDA backend relies on, so that the
// few minutes a GPU is lent confirm instead of debug (issue 14):
//   * the netml pairwise-sum stack holds the deepest split tree of any
//     range numpy hands its inner loop (8192 elements), and no more;
//   * cuFFT staging: every staged row of every part starts 16-byte
//     aligned, whatever the part's column and width (cufftExecD2Z refuses
//     input misaligned for cufftDoubleComplex);
//   * which compute capabilities a build's architecture list can run on
//     (AUTO must not pick a device without a kernel image);
//   * the AUTO fallback: a device that fails mid-run (a stand-in backend
//     that fails from its n-th call) has its batch redone on the CPU with
//     the CPU's bits, a note and a counter; a forced CUDA backend reports
//     the error instead.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "backend/backend_cpu.h"
#include "backend/cuda_arch.h"
#include "cuflow/internal.h"
#include "flow_batch_gen.h"
#include "flowpic_batch_gen.h"
#include "netml_batch_gen.h"
#include "netml_features.h"
#include "test_util.h"

namespace {

// Hand-walked: 8191 -> 4103 -> 2055 -> 1031 -> 519 -> 263 -> 135 -> 71
// (right halves are the larger: the left is n/2 rounded down to 8).
TEST(GpuReadiness, PairwiseStackIsSizedToTheDeepestTree)
{
	EXPECT_EQ(cf_np_pairwise_frames(128), 1);
	EXPECT_EQ(cf_np_pairwise_frames(129), 2);
	EXPECT_EQ(cf_np_pairwise_frames(8192), 7);
	EXPECT_EQ(cf_np_pairwise_frames(8191), 8);
	int deepest = 0;
	for (uint64_t n = 1; n <= CF_NP_BUFSIZE; n++)
		deepest = std::max(deepest, cf_np_pairwise_frames(n));
	EXPECT_EQ(deepest, CF_NP_TREE_FRAMES) << "the stack must hold the deepest tree, and not be oversized";
}

// The staging layout of one part: even row distance, aligned spectra, and
// a block for the wider part that holds the narrower one.
TEST(GpuReadiness, FftStagingKeepsEveryRow16ByteAligned)
{
	for (uint64_t rows : {1ull, 2ull, 3ull, 1001ull})
		for (uint32_t n = 1; n <= 300; n++) {
			cf_fft_stage st = cf_fft_stage_of(rows, n);
			ASSERT_GE(st.dist, n);
			ASSERT_EQ(st.dist % 2, 0u) << "n " << n;
			ASSERT_EQ(st.half, n / 2 + 1);
			ASSERT_EQ(st.spec_off % 16, 0u) << "n " << n << " rows " << rows;
			for (uint64_t r = 0; r < rows; r++)
				ASSERT_EQ((r * st.dist * sizeof(double)) % 16, 0u) << "row " << r << " of n " << n;
			ASSERT_EQ(st.bytes, st.spec_off + rows * st.half * 16);
			for (uint32_t m = 1; m <= n; m++)
				ASSERT_LE(cf_fft_stage_of(rows, m).bytes, st.bytes) << "part " << m << " in a block for " << n;
		}
	// What the unstaged call did: a part at an odd column of a row-major
	// matrix is 8 mod 16 (IAT_SIZE with --header: 8 + an odd dimension).
	alignas(16) double row[16];
	EXPECT_EQ((uintptr_t)(row + 9) % 16, 8u);
}

TEST(GpuReadiness, ArchitectureListDecidesWhichDevicesRun)
{
	const char *dflt = "75-real,80-real,86-real,89-real,90"; // the project's list
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 6, 0), 0);
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 7, 0), 0);  // V100: no image
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 7, 5), 1);
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 8, 7), 1);  // sm_80 code runs on 8.7
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 9, 0), 1);
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 10, 0), 1); // PTX 90 is JIT-compiled
	EXPECT_EQ(cf_cuda_arch_runs(dflt, 12, 0), 1);
	EXPECT_EQ(cf_cuda_arch_runs("90", 8, 0), 0);  // CI's build
	EXPECT_EQ(cf_cuda_arch_runs("90", 9, 0), 1);
	EXPECT_EQ(cf_cuda_arch_runs("80-real", 9, 0), 0); // machine code does not cross majors
	EXPECT_EQ(cf_cuda_arch_runs("80-real", 8, 6), 1);
	EXPECT_EQ(cf_cuda_arch_runs("80-virtual", 9, 0), 1);
	EXPECT_EQ(cf_cuda_arch_runs("80-virtual", 7, 5), 0);
	EXPECT_EQ(cf_cuda_arch_runs("90a-real", 9, 0), 1);
	EXPECT_EQ(cf_cuda_arch_runs("90a-real", 10, 0), 0);
	EXPECT_EQ(cf_cuda_arch_runs("100f", 10, 3), 1);
	EXPECT_EQ(cf_cuda_arch_runs("100f", 12, 0), 0);
	EXPECT_EQ(cf_cuda_arch_runs("75-real;86-real", 8, 9), 1); // CMake's own separator
	EXPECT_EQ(cf_cuda_arch_runs("native", 9, 0), -1);          // the driver decides
	EXPECT_EQ(cf_cuda_arch_runs("", 9, 0), -1);
	EXPECT_EQ(cf_cuda_arch_runs("all-major", 7, 0), -1);
}

// A device that fails at its second call: the first batch is computed "on
// the device", the second is redone on the CPU, and every result equals
// the CPU's.
TEST(GpuReadiness, AutoFallsBackToCpuWhenTheDeviceFailsMidRun)
{
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *dev = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK) << err;
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 1, &dev), CF_OK);
	EXPECT_EQ(cf_backend_kind(dev), CF_BACKEND_CUDA);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		cf_flow_batch a, g;
		ASSERT_EQ(cf_flow_batch_init(&a, 2000, 1u << 18, 20, 0), CF_OK);
		ASSERT_EQ(cf_flow_batch_init(&g, 2000, 1u << 18, 20, 0), CF_OK);
		cft::random_flow_batch(&a, seed);
		cft::random_flow_batch(&g, seed);
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		ASSERT_EQ(cf_backend_flow_features(dev, &g), CF_OK) << "seed " << seed << ": " << cf_backend_error(dev);
		cft::expect_same_flow_results(a, g, "after fallback");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	EXPECT_EQ(cf_backend_kind(dev), CF_BACKEND_CPU);
	cf_backend_counters k;
	cf_backend_get_counters(dev, &k);
	EXPECT_EQ(k.fallbacks, 1u);
	EXPECT_NE(std::string(cf_backend_note(dev)).find("injected device error"), std::string::npos)
	    << cf_backend_note(dev);
	EXPECT_NE(std::string(cf_backend_note(dev)).find("redone on the CPU"), std::string::npos);
	cf_backend_close(dev);
	cf_backend_close(cpu);
}

TEST(GpuReadiness, AutoFallbackCoversSummaryNetmlAndFlowpic)
{
	// summary: acc is untouched by the failed attempt and equals the CPU's
	cf_pkt_batch pb;
	ASSERT_EQ(cf_pkt_batch_init(&pb, 1000, 0), CF_OK);
	for (int i = 0; i < 1000; i++) {
		cf_pkt p{};
		p.ts_ns = 1000 + 7 * i;
		p.caplen = 60 + i % 100;
		p.wirelen = p.caplen + i % 3;
		p.layers = (uint16_t)(i & 0x1ff);
		p.skip = (uint8_t)(i % CF_SKIP_COUNT);
		cf_pkt_batch_push(&pb, &p);
	}
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *dev = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 0, &dev), CF_OK);
	cf_summary a, g;
	cf_summary_clear(&a);
	cf_summary_clear(&g);
	ASSERT_EQ(cf_backend_summarize(cpu, &pb, &a), CF_OK);
	ASSERT_EQ(cf_backend_summarize(dev, &pb, &g), CF_OK);
	EXPECT_EQ(0, memcmp(&a, &g, sizeof a));
	cf_backend_close(dev);
	cf_pkt_batch_free(&pb);

	// netml rows
	cft::NetmlCols c = cft::random_cols(5, 40);
	cf_netml_batch b = cft::make_batch(c, CF_NETML_STATS, 10, 1, 0.37, 0);
	std::vector<double> ref((size_t)b.n_rows * (b.hdr_cols + b.feat_cols)), got(ref.size(), -7.0);
	b.out = ref.data();
	ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 0, &dev), CF_OK);
	b.out = got.data();
	ASSERT_EQ(cf_backend_netml_features(dev, &b), CF_OK);
	EXPECT_EQ(ref, got);
	cf_backend_close(dev);

	// FlowPic images
	cft::flowpic_batch_data fa(3, 20, 300, 32, 2, CF_FLOWPIC_FIXED_EDGES, CF_FLOWPIC_COUNT, 0, 0, 15.0);
	cft::flowpic_batch_data fg(3, 20, 300, 32, 2, CF_FLOWPIC_FIXED_EDGES, CF_FLOWPIC_COUNT, 0, 0, 15.0);
	ASSERT_EQ(cf_backend_flowpic_images(nullptr, &fa.b), CF_OK);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 0, &dev), CF_OK);
	ASSERT_EQ(cf_backend_flowpic_images(dev, &fg.b), CF_OK);
	EXPECT_EQ(fa.out, fg.out);
	EXPECT_EQ(fa.packets, fg.packets);
	cf_backend_close(dev);
	cf_backend_close(cpu);
}

// --backend cuda asked for the device: its failure is the caller's to see.
TEST(GpuReadiness, ForcedCudaReportsTheDeviceErrorWithoutFallback)
{
	cf_backend *dev = nullptr;
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_CUDA, 0, &dev), CF_OK);
	cf_flow_batch g;
	ASSERT_EQ(cf_flow_batch_init(&g, 100, 10000, 0, 0), CF_OK);
	cft::random_flow_batch(&g, 9);
	EXPECT_EQ(cf_backend_flow_features(dev, &g), CF_ERR_DEVICE);
	EXPECT_NE(std::string(cf_backend_error(dev)).find("injected device error"), std::string::npos);
	EXPECT_EQ(cf_backend_kind(dev), CF_BACKEND_CUDA);
	cf_backend_counters k;
	cf_backend_get_counters(dev, &k);
	EXPECT_EQ(k.fallbacks, 0u);
	cf_flow_batch_free(&g);
	cf_backend_close(dev);
}

} // namespace

namespace {

struct Images {
	std::vector<std::string> all; // metadata + pixels of every emitted image, in order
};

int collect(void *user, const cf_flowpic_image *im)
{
	auto *c = (Images *)user;
	size_t bytes = (size_t)im->channels * im->res * im->res * 2; // COUNT: uint16 pixels
	std::string s = std::to_string(im->session) + "/" + std::to_string(im->window) + "/" +
	                std::to_string(im->packets) + ":";
	s.append((const char *)im->pixels, bytes);
	c->all.push_back(s);
	return 0;
}

// FlowPic through an AUTO backend whose device fails at the second file's
// batch, a file with fewer images than the first: the third file's images
// (more again) must not keep the first file's pixels (the device leaves
// the output dirty; the CPU path assumes it clean once it has cleared it).
std::vector<std::string> flowpic_images_of(const std::vector<std::string> &caps, cf_backend *be)
{
	char err[CF_ERRBUF_SIZE];
	cf_flowpic_opts o;
	EXPECT_EQ(cf_flowpic_preset(&o, "mini"), CF_OK);
	o.min_packets = 0;
	o.min_span_s = -1;
	o.value = CF_FLOWPIC_COUNT;
	Images got;
	cf_flowpic *h = nullptr;
	EXPECT_EQ(cf_flowpic_open(&o, be, collect, &got, &h, err), CF_OK) << err;
	cf_backend *cpu = nullptr;
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	for (const std::string &c : caps) {
		cf_scan_opts so;
		memset(&so, 0, sizeof so);
		so.backend = cpu; // the scan's summary: not the device under test
		cf_scan_result res;
		EXPECT_EQ(cf_flowpic_scan_file(h, c.c_str(), &so, &res), CF_OK) << res.error << cf_flowpic_error(h);
	}
	cf_flowpic_close(h);
	cf_backend_close(cpu);
	return got.all;
}

} // namespace

TEST(GpuReadiness, FlowpicAfterAFallbackKeepsNoPixelsOfDeviceBatches)
{
	std::vector<std::string> caps;
	for (int k : {300, 3, 300}) {
		std::string cap = cft::temp_path(".pcap");
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows " + std::to_string(k) + " --seed " +
		                   std::to_string(k + caps.size()) + " --duration 20 -o " + cft::shq(cap)),
		          0);
		caps.push_back(cap);
	}
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *dev = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	std::vector<std::string> ref = flowpic_images_of(caps, cpu);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 1, &dev), CF_OK); // the 2nd file's batch fails
	std::vector<std::string> got = flowpic_images_of(caps, dev);
	cf_backend_counters k;
	cf_backend_get_counters(dev, &k);
	EXPECT_EQ(k.fallbacks, 1u);
	ASSERT_GT(ref.size(), 20u);
	ASSERT_EQ(ref.size(), got.size());
	for (size_t i = 0; i < ref.size(); i++)
		ASSERT_TRUE(ref[i] == got[i]) << "image " << i << " of " << ref.size();
	cf_backend_close(dev);
	cf_backend_close(cpu);
}

// Two threads on one AUTO backend (the scan's summary and the flow
// engine's worker do this): the device fails while both are in flight;
// the switch to the CPU waits for the other call, every result equals the
// CPU's, and the fallback is counted once.
TEST(GpuReadiness, FallbackWhileAnotherThreadUsesTheBackend)
{
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *dev = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_AUTO, 7, &dev), CF_OK);
	cf_pkt_batch pb;
	ASSERT_EQ(cf_pkt_batch_init(&pb, 5000, 0), CF_OK);
	for (int i = 0; i < 5000; i++) {
		cf_pkt p{};
		p.ts_ns = 77 * i;
		p.caplen = 40 + i % 1400;
		p.wirelen = p.caplen;
		p.skip = (uint8_t)(i % 3);
		cf_pkt_batch_push(&pb, &p);
	}
	cf_summary ref;
	cf_summary_clear(&ref);
	ASSERT_EQ(cf_backend_summarize(cpu, &pb, &ref), CF_OK);
	std::vector<cf_summary> sums(20);
	int sum_bad = 0;
	std::thread t([&] {
		for (auto &s : sums) {
			cf_summary_clear(&s);
			sum_bad += cf_backend_summarize(dev, &pb, &s) != CF_OK;
		}
	});
	for (uint64_t seed = 1; seed <= 12; seed++) {
		cf_flow_batch a, g;
		ASSERT_EQ(cf_flow_batch_init(&a, 300, 1u << 16, 8, 0), CF_OK);
		ASSERT_EQ(cf_flow_batch_init(&g, 300, 1u << 16, 8, 0), CF_OK);
		cft::random_flow_batch(&a, seed);
		cft::random_flow_batch(&g, seed);
		ASSERT_EQ(cf_backend_flow_features(cpu, &a), CF_OK);
		EXPECT_EQ(cf_backend_flow_features(dev, &g), CF_OK) << cf_backend_error(dev);
		cft::expect_same_flow_results(a, g, "threaded fallback");
		cf_flow_batch_free(&a);
		cf_flow_batch_free(&g);
	}
	t.join();
	EXPECT_EQ(sum_bad, 0);
	for (auto &s : sums)
		EXPECT_EQ(0, memcmp(&s, &ref, sizeof s));
	cf_backend_counters k;
	cf_backend_get_counters(dev, &k);
	EXPECT_EQ(k.fallbacks, 1u);
	EXPECT_EQ(cf_backend_kind(dev), CF_BACKEND_CPU);
	cf_pkt_batch_free(&pb);
	cf_backend_close(dev);
	cf_backend_close(cpu);
}

// The scan adds up its summary on the host unless asked for the
// backend's (cuflow info): no device round trip just to count packets.
// A stand-in device that fails every call is never called, and the
// summary is the CPU backend's, bit for bit.
TEST(GpuReadiness, ScanSummaryStaysOnTheHostUnlessAskedFor)
{
	std::string cap = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 500 --seed 3 -o " + cft::shq(cap)), 0);
	char err[CF_ERRBUF_SIZE];
	cf_backend *cpu = nullptr, *dev = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	ASSERT_EQ(cf_backend_open_faulty(CF_BACKEND_CUDA, 0, &dev), CF_OK); // fails, and may not fall back
	cf_scan_opts so;
	memset(&so, 0, sizeof so);
	cf_decode_opts_default(&so.decode);
	cf_scan_result a, g;
	so.backend = cpu;
	so.summary_on_backend = 1;
	ASSERT_EQ(cf_scan_file(cap.c_str(), &so, &a), CF_OK) << a.error;
	so.backend = dev;
	so.summary_on_backend = 0;
	ASSERT_EQ(cf_scan_file(cap.c_str(), &so, &g), CF_OK) << g.error;
	EXPECT_GT(a.summary.packets, 1000u);
	EXPECT_EQ(0, memcmp(&a.summary, &g.summary, sizeof a.summary));
	so.summary_on_backend = 1; // asked for: the failing device is called and its error reported
	EXPECT_EQ(cf_scan_file(cap.c_str(), &so, &g), CF_ERR_DEVICE);
	cf_backend_close(dev);
	cf_backend_close(cpu);
}

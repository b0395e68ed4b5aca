// The CUDA backend's netml features (kernels/netml_features.cu) against the
// CPU reference (cf_backend_netml_features with a NULL backend):
//   * random batches (subflows of 2..20000 packets, ties, huge gaps, offsets
//     not starting at 0), every type, header on and off, several dimensions:
//     bit for bit; batches of different shapes one after the other, so the
//     device buffers are grown and reused;
//   * fft: cuFFT (or the direct-DFT fallback) within 1e-12 * max(1, row
//     max-abs) of FFTW;
//   * `cuflow netml --backend cuda` against `--backend cpu` on demo.pcap
//     (../shared), every type, fft and header.
// Skips when no CUDA device answers.
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <cstdlib>
#include <iostream>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "cuflow/internal.h"
#include "netml_batch_gen.h"
#include "test_util.h"

namespace {

using cft::slurp;

#define SKIP_WITHOUT_DEVICE()                          \
	do {                                               \
		if (cf_cuda_device_count() == 0)               \
			GTEST_SKIP() << "no CUDA device";          \
	} while (0)

using cft::NetmlCols;
using cft::bits;
using cft::make_batch;
using cft::random_cols;

std::string what(const cf_netml_batch &b, uint64_t seed, uint32_t dim)
{
	char s[200];
	snprintf(s, sizeof s, "seed %llu type %s dim %u header %d width %g fft %d", (unsigned long long)seed,
	         cf_netml_type_name(b.type), dim, b.hdr_cols ? 1 : 0, b.samp_width, b.fft);
	return s;
}

const double kWidths[] = {1e-6, 3.0994415283203125e-06, 1e-3, 0.37, 5.0};
const uint64_t kSentinel = 0x7ff8deadbeef0001ull;

std::vector<double> sentinel_filled(size_t n)
{
	std::vector<double> v(n);
	for (auto &x : v)
		memcpy(&x, &kSentinel, 8);
	return v;
}

// fft 0: bit for bit; fft 1: within 1e-12 * max(1, max |reference row|).
void compare(const std::vector<double> &ref, const std::vector<double> &got, const cf_netml_batch &b,
             const NetmlCols &c, const std::string &w)
{
	ASSERT_EQ(ref.size(), got.size());
	uint32_t cols = b.hdr_cols + b.feat_cols;
	int bad = 0;
	for (uint32_t r = 0; r < b.n_rows && bad < 5; r++) {
		double mx = 1.0;
		for (uint32_t k = 0; k < cols; k++)
			mx = std::max(mx, std::fabs(ref[(size_t)r * cols + k]));
		for (uint32_t k = 0; k < cols && bad < 5; k++) {
			double a = ref[(size_t)r * cols + k], g = got[(size_t)r * cols + k];
			bool ok = b.fft ? std::fabs(a - g) <= 1e-12 * mx : bits(a) == bits(g);
			if (!ok) {
				bad++;
				ADD_FAILURE() << w << ": row " << r << " (" << c.off[r + 1] - c.off[r] << " packets) col " << k
				              << ": cpu " << a << " (" << std::hexfloat << a << "), cuda " << g << " (" << g << ")"
				              << std::defaultfloat;
			}
		}
	}
	EXPECT_EQ(bad, 0) << w;
}

struct Backends {
	cf_backend *gpu = nullptr;
	~Backends() { cf_backend_close(gpu); }
};

void run_random(int fft, uint64_t seed0, uint64_t seeds, const uint32_t *dims, int ndims, int *runs)
{
	char err[CF_ERRBUF_SIZE];
	Backends be;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &be.gpu, err), CF_OK) << err;
	for (uint64_t seed = seed0; seed < seed0 + seeds; seed++) {
		// shapes change from batch to batch: the device block grows and is reused
		uint32_t rows = seed % 3 == 0 ? 5 : seed % 3 == 1 ? 3000 : 700;
		NetmlCols c = random_cols(seed, rows);
		for (int type = 0; type < CF_NETML_TYPE_COUNT; type++)
			for (int header = 0; header <= 1; header++)
				for (int k = 0; k < 2; k++) {
					uint32_t dim = dims[(seed + 2 * type + header + 3 * k) % ndims];
					cf_netml_batch b = make_batch(c, type, dim, header, kWidths[(seed + type + k) % 5], fft);
					size_t cells = (size_t)b.n_rows * (b.hdr_cols + b.feat_cols);
					std::vector<double> ref = sentinel_filled(cells), got = sentinel_filled(cells);
					b.out = ref.data();
					ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
					b.out = got.data();
					ASSERT_EQ(cf_backend_netml_features(be.gpu, &b), CF_OK) << cf_backend_error(be.gpu);
					compare(ref, got, b, c, what(b, seed, dim));
					(*runs)++;
				}
	}
}

TEST(NetmlCuda, EqualsCpuReferenceBitForBit)
{
	SKIP_WITHOUT_DEVICE();
	static const uint32_t dims[] = {2, 3, 10, 52, 130, 600};
	int runs = 0;
	run_random(0, 1, 6, dims, 6, &runs);
	EXPECT_EQ(runs, 144);
}

// With --header every part after the header starts at column 8 + dim:
// odd for odd dims, so cuFFT's input is staged (cufftExecD2Z refuses
// misaligned input). When libcufft loads here, cuFFT must be what ran: the
// direct DFT passing the tolerance would hide a broken cuFFT path.
TEST(NetmlCuda, FftWithinToleranceOfFftw)
{
	SKIP_WITHOUT_DEVICE();
	static const uint32_t dims[] = {2, 3, 10, 52, 130, 600};
	int runs = 0;
	run_random(1, 31, 3, dims, 6, &runs);
	EXPECT_EQ(runs, 72);
	const char *env = getenv("CUFLOW_CUFFT_LIB");
	void *h = dlopen(env && *env ? env : "libcufft.so.12", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		h = dlopen("libcufft.so.11", RTLD_NOW | RTLD_LOCAL);
	char err[CF_ERRBUF_SIZE];
	cf_backend *gpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &gpu, err), CF_OK) << err;
	cft::NetmlCols c = random_cols(77, 300);
	cf_netml_batch b = make_batch(c, CF_NETML_IAT_SIZE, 11, 1, 0.37, 1); // odd feature column
	std::vector<double> ref((size_t)b.n_rows * (b.hdr_cols + b.feat_cols)), got(ref.size());
	b.out = ref.data();
	ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
	b.out = got.data();
	ASSERT_EQ(cf_backend_netml_features(gpu, &b), CF_OK) << cf_backend_error(gpu);
	compare(ref, got, b, c, "IAT_SIZE dim 11 header fft");
	cf_backend_counters k;
	cf_backend_get_counters(gpu, &k);
	std::cout << "FFT parts: cuFFT " << k.fft_cufft << ", direct DFT " << k.fft_direct << " " << k.fft_why << "\n";
	if (h) {
		EXPECT_GT(k.fft_cufft, 0u);
		EXPECT_EQ(k.fft_direct, 0u) << k.fft_why;
		dlclose(h);
	} else {
		EXPECT_GT(k.fft_direct, 0u);
		std::cout << "note: libcufft is not loadable here (set CUFLOW_CUFFT_LIB): only the direct DFT was checked\n";
	}
	cf_backend_close(gpu);
}

// SAMP's 500-window cap with rows wider than 500 columns.
TEST(NetmlCuda, SampCapAndWideRows)
{
	SKIP_WITHOUT_DEVICE();
	char err[CF_ERRBUF_SIZE];
	Backends be;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CUDA, &be.gpu, err), CF_OK) << err;
	NetmlCols c;
	std::mt19937_64 rng(5);
	c.off.push_back(3);
	for (int i = 0; i < 3; i++) {
		c.t.push_back(0);
		c.size.push_back(1);
		c.ttl.push_back(1);
		c.hfl.push_back(1);
	}
	for (int r = 0; r < 200; r++) {
		double t = 1.5e9 + r;
		uint32_t len = 2 + (uint32_t)(rng() % 900);
		for (uint32_t i = 0; i < len; i++) {
			if (i)
				t += rng() % 3 == 0 ? 0.0 : (double)(rng() % (r % 2 ? 3000 : 4)) * 1e-6;
			c.t.push_back(t);
			c.size.push_back(40 + (uint32_t)(rng() % 1500));
			c.ttl.push_back((uint8_t)rng());
			c.hfl.push_back((uint8_t)rng());
		}
		c.off.push_back(c.t.size());
	}
	for (int type : {CF_NETML_SAMP_NUM, CF_NETML_SAMP_SIZE})
		for (uint32_t dim : {499u, 501u, 502u, 800u})
			for (double width : {1e-6, 2.5e-6})
				for (int fft = 0; fft <= 1; fft++) {
					cf_netml_batch b = make_batch(c, type, dim, 1, width, fft);
					size_t cells = (size_t)b.n_rows * (b.hdr_cols + b.feat_cols);
					std::vector<double> ref = sentinel_filled(cells), got = sentinel_filled(cells);
					b.out = ref.data();
					ASSERT_EQ(cf_backend_netml_features(nullptr, &b), CF_OK);
					b.out = got.data();
					ASSERT_EQ(cf_backend_netml_features(be.gpu, &b), CF_OK) << cf_backend_error(be.gpu);
					compare(ref, got, b, c, what(b, 5, dim));
				}
}

// ------------------------------------------------------------ CLI on demo.pcap

// Rows of doubles; false when the file is missing or ragged.
bool read_csv(const std::string &path, std::vector<std::vector<double>> *rows)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0)
		return false;
	std::istringstream in(slurp(path));
	std::string line;
	rows->clear();
	while (std::getline(in, line)) {
		if (line.empty())
			continue;
		std::vector<double> r;
		const char *p = line.c_str();
		for (;;) {
			char *e;
			r.push_back(strtod(p, &e));
			if (e == p)
				return false;
			if (*e == 0)
				break;
			if (*e != ',')
				return false;
			p = e + 1;
		}
		if (!rows->empty() && r.size() != rows->front().size())
			return false;
		rows->push_back(r);
	}
	return true;
}

TEST(NetmlCuda, CliBackendCudaEqualsCpuOnDemo)
{
	SKIP_WITHOUT_DEVICE();
	std::string shared = cft::shared_dir();
	std::string demo = shared + "/data/netml/demo.pcap";
	struct stat st;
	if (shared.empty() || stat(demo.c_str(), &st) != 0)
		GTEST_SKIP() << "../shared/data/netml/demo.pcap not available";
	static const char *types[] = {"IAT", "SIZE", "IAT_SIZE", "STATS", "SAMP_NUM", "SAMP_SIZE"};
	for (int labelled = 0; labelled <= 1; labelled++)
		for (int fft = 0; fft <= 1; fft++)
			for (int hdr = 0; hdr <= 1; hdr++) {
				std::string opts = std::string(" netml -q --format csv --type IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE") +
				                   (fft ? " --fft" : "") + (hdr ? " --header" : "") +
				                   (labelled ? " --labels " + cft::shq(shared + "/data/netml/demo.csv") : "");
				std::string dc = cft::temp_path(".cuda"), dp = cft::temp_path(".cpu"), log;
				int rc = cft::run(cft::shq(cft::cuflow_bin()) + opts + " --backend cuda " + cft::shq(demo) + " -o " +
				                      cft::shq(dc),
				                  &log);
				ASSERT_EQ(rc, 0) << log;
				rc = cft::run(cft::shq(cft::cuflow_bin()) + opts + " --backend cpu " + cft::shq(demo) + " -o " +
				                  cft::shq(dp),
				              &log);
				ASSERT_EQ(rc, 0) << log;
				EXPECT_NE(slurp(dc + "/meta.json").find("\"backend\": \"cuda\""), std::string::npos);
				EXPECT_EQ(slurp(dc + "/subflows.csv"), slurp(dp + "/subflows.csv"));
				for (const char *t : types) {
					std::string w = std::string(t) + " labelled " + std::to_string(labelled) + " fft " +
					                std::to_string(fft) + " header " + std::to_string(hdr);
					std::vector<std::vector<double>> a, g;
					ASSERT_TRUE(read_csv(dp + "/" + t + ".csv", &a)) << w;
					ASSERT_TRUE(read_csv(dc + "/" + t + ".csv", &g)) << w;
					ASSERT_EQ(a.size(), g.size()) << w;
					ASSERT_FALSE(a.empty()) << w;
					int bad = 0;
					for (size_t r = 0; r < a.size() && bad < 5; r++) {
						ASSERT_EQ(a[r].size(), g[r].size()) << w;
						double mx = 1.0;
						for (double x : a[r])
							mx = std::max(mx, std::fabs(x));
						for (size_t k = 0; k < a[r].size() && bad < 5; k++) {
							bool ok = fft ? std::fabs(a[r][k] - g[r][k]) <= 1e-12 * mx : bits(a[r][k]) == bits(g[r][k]);
							if (!ok) {
								bad++;
								ADD_FAILURE() << w << ": row " << r << " col " << k << ": cpu " << std::hexfloat
								              << a[r][k] << ", cuda " << g[r][k] << std::defaultfloat;
							}
						}
					}
					EXPECT_EQ(bad, 0) << w;
				}
			}
}

} // namespace

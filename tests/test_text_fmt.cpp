// The CSV number formatting (host/common/text_fmt.c) against glibc's printf,
// the text it replaces: integers at their limits, doubles from random bit
// patterns, integral doubles around the fast-path bound, signed zeros,
// infinities and NaN, and IPv4 addresses against inet_ntop.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

extern "C" {
#include "common/text_fmt.h"
}

namespace {

std::string g17(double v)
{
	char buf[CF_FMT_MAX];
	return std::string(buf, cf_fmt_g17(buf, v));
}

std::string printf_g17(double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.17g", v);
	return buf;
}

} // namespace

TEST(TextFmt, IntegersAsPrintf)
{
	std::mt19937_64 rng(5);
	std::vector<uint64_t> us = {0, 1, 9, 10, 99, 100, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX,
	                            UINT64_MAX - 1, 10000000000000000000ull};
	for (int i = 0; i < 100000; i++)
		us.push_back(rng() >> (rng() % 64));
	for (uint64_t u : us) {
		char a[CF_FMT_MAX], b[32];
		snprintf(b, sizeof b, "%" PRIu64, u);
		ASSERT_EQ(std::string(a, cf_fmt_u64(a, u)), b);
		int64_t s = (int64_t)u;
		snprintf(b, sizeof b, "%" PRId64, s);
		ASSERT_EQ(std::string(a, cf_fmt_i64(a, s)), b);
	}
	char a[CF_FMT_MAX];
	EXPECT_EQ(std::string(a, cf_fmt_i64(a, INT64_MIN)), "-9223372036854775808");
}

TEST(TextFmt, DoublesAsPrintfG17)
{
	std::vector<double> vs = {0.0, -0.0, 1.0, -1.0, 0.5, 60.0, 1500.0, 577.875, 1e15, -1e15, 1e15 - 1,
	                          -(1e15 - 1), 999999999999999.5, 1e16, 1e17, 1e300, 5e-324, -5e-324, 0.1,
	                          std::numeric_limits<double>::max(), std::numeric_limits<double>::infinity(),
	                          -std::numeric_limits<double>::infinity(), std::nan(""), 9007199254740993.0,
	                          4503599627370496.5, 123456789012345.0, 0.30000000000000004};
	std::mt19937_64 rng(17);
	for (int i = 0; i < 200000; i++) {
		uint64_t bits = rng();
		double d;
		memcpy(&d, &bits, sizeof d);
		vs.push_back(d);
		vs.push_back((double)(int64_t)(rng() >> (rng() % 64)) * (rng() % 2 ? 1 : -1)); // integral
		vs.push_back((double)(rng() % 3000000) / 8.0);                                   // means of sizes
		vs.push_back(std::ldexp((double)(rng() >> 11), -(int)(rng() % 80)));
		// the exact path's whole range (1e-6 .. 1e17), its edges and near-ties
		double u = std::ldexp((double)(rng() >> 11), -53); // [0, 1)
		double w = std::pow(10.0, -7.0 + 25.0 * u);
		vs.push_back(w);
		vs.push_back(-w);
		vs.push_back(std::nextafter(1e-6, 0));
		vs.push_back(std::nextafter(1e17, 0));
		double t = std::pow(10.0, (int)(rng() % 24) - 7);
		vs.push_back(t);
		vs.push_back(std::nextafter(t, 0));
		vs.push_back(std::nextafter(t, 1e300));
		vs.push_back((double)(rng() % 100000000) / 1024.0 + 0.5);
	}
	for (double v : vs) {
		uint64_t bits;
		memcpy(&bits, &v, sizeof bits);
		ASSERT_EQ(g17(v), printf_g17(v)) << "bits " << std::hex << bits;
	}
}

TEST(TextFmt, Ipv4AsInetNtop)
{
	std::mt19937 rng(3);
	for (int i = 0; i < 100000; i++) {
		uint8_t a[4];
		uint32_t r = i < 4 ? (i == 0 ? 0 : i == 1 ? 0xffffffffu : i == 2 ? 0x0a000001u : 0x01020304u) : rng();
		memcpy(a, &r, 4);
		char want[INET_ADDRSTRLEN], got[CF_FMT_MAX];
		ASSERT_NE(inet_ntop(AF_INET, a, want, sizeof want), nullptr);
		ASSERT_EQ(std::string(got, cf_fmt_ipv4(got, a)), want);
	}
}

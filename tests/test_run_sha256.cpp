// The manifest's SHA-256 (host/run/sha256.c): FIPS 180-4's examples
// (one block, two blocks, a million 'a's), and the CPU's SHA instructions
// against the portable loop on random lengths fed in random pieces.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

extern "C" {
#include "run/run_internal.h"
}

namespace {

std::string digest(const std::string &s, int portable)
{
	cf_sha256_portable = portable;
	cf_sha256 h;
	cf_sha256_init(&h);
	cf_sha256_update(&h, s.data(), s.size());
	char hex[65];
	cf_sha256_hex(&h, hex);
	cf_sha256_portable = 0;
	return hex;
}

TEST(RunSha256, FipsExamples)
{
	for (int portable = 0; portable <= 1; portable++) {
		EXPECT_EQ(digest("abc", portable), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", portable),
		          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
		EXPECT_EQ(digest(std::string(1000000, 'a'), portable),
		          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
		EXPECT_EQ(digest("", portable), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	}
}

TEST(RunSha256, AcceleratedEqualsPortable)
{
	std::mt19937_64 rng(7);
	for (int t = 0; t < 2000; t++) {
		std::vector<uint8_t> b(rng() % 3000);
		for (auto &x : b)
			x = (uint8_t)rng();
		char a[65], p[65];
		cf_sha256 h;
		cf_sha256_init(&h); // in pieces, through the partial-block buffer
		for (size_t o = 0; o < b.size();) {
			size_t k = std::min<size_t>(b.size() - o, 1 + rng() % 200);
			cf_sha256_update(&h, b.data() + o, k);
			o += k;
		}
		cf_sha256_hex(&h, a);
		cf_sha256_portable = 1;
		cf_sha256_init(&h);
		cf_sha256_update(&h, b.data(), b.size());
		cf_sha256_hex(&h, p);
		cf_sha256_portable = 0;
		ASSERT_STREQ(a, p) << "length " << b.size();
	}
}

} // namespace

/* SHA-256 as FIPS 180-4 defines it (section 6.2), written from the
 * standard: message schedule of 64 words, eight working variables, the
 * padding of section 5.1.1. Used for the manifest's output digests, which
 * the run's committer computes over every byte it writes: on x86 CPUs
 * with the SHA extensions the blocks go through SHA256RNDS2/MSG1/MSG2
 * (about 7x the portable loop here, which was a third of `flows`'s time
 * on large outputs); cf_sha256_portable forces the loop (tests compare). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define CF_SHA_X86 1
#endif

#include "run/run_internal.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = k + S1 + ch + K[t] + w[t];
		uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

#ifdef CF_SHA_X86
/* The state is kept as the instructions want it: ABEF and CDGH. Each
 * group of four rounds adds K to four schedule words and runs two
 * SHA256RNDS2; schedule words 16..63 come from MSG1 (W[t-16] + s0),
 * ALIGNR (W[t-7]) and MSG2 (s1). */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
	for (; n; n--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh, w[4];
		for (int j = 0; j < 16; j++) {
			__m128i wj;
			if (j < 4) {
				wj = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
			} else {
				__m128i x = _mm_sha256msg1_epu32(w[j & 3], w[(j + 1) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(j + 3) & 3], w[(j + 2) & 3], 4));
				wj = _mm_sha256msg2_epu32(x, w[(j + 3) & 3]);
			}
			w[j & 3] = wj;
			__m128i m = _mm_add_epi32(wj, _mm_loadu_si128((const __m128i *)&K[4 * j]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

static int have_shani(void)
{
	static int known = -1; /* atomic: any thread may ask first */
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (k < 0) {
		unsigned a, b, c, d;
		int sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3);
		int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
		k = sse41 && sha;
		__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	}
	return k;
}
#endif

int cf_sha256_portable; /* tests: 1 forces the portable loop */

static void blocks(uint32_t h[8], const uint8_t *p, size_t n)
{
#ifdef CF_SHA_X86
	if (!cf_sha256_portable && have_shani()) {
		blocks_shani(h, p, n);
		return;
	}
#endif
	for (; n; n--, p += 64)
		block(h, p);
}

void cf_sha256_init(cf_sha256 *s)
{
	static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, H0, sizeof H0);
	s->len = 0;
	s->fill = 0;
}

void cf_sha256_update(cf_sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (!n) /* data may be NULL then (an empty buffer) */
		return;
	s->len += n;
	if (s->fill) {
		size_t k = 64 - s->fill < n ? 64 - s->fill : n;
		memcpy(s->buf + s->fill, p, k);
		s->fill += k, p += k, n -= k;
		if (s->fill < 64)
			return;
		blocks(s->h, s->buf, 1);
		s->fill = 0;
	}
	blocks(s->h, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	memcpy(s->buf, p, n);
	s->fill = n;
}

void cf_sha256_hex(cf_sha256 *s, char hex[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padn = (s->fill < 56 ? 56 : 120) - s->fill;
	for (int i = 0; i < 8; i++)
		pad[padn + i] = (uint8_t)(bits >> (56 - 8 * i));
	cf_sha256_update(s, pad, padn + 8);
	static const char dig[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			hex[8 * i + j] = dig[(s->h[i] >> (28 - 4 * j)) & 15];
	hex[64] = 0;
}

int cf_sha256_file(const char *path, char hex[65], char *errbuf)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "cannot read %s: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	cf_sha256 s;
	cf_sha256_init(&s);
	static __thread uint8_t buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		cf_sha256_update(&s, buf, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "cannot read %s", path);
		return CF_ERR_IO;
	}
	cf_sha256_hex(&s, hex);
	return CF_OK;
}

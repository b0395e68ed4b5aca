/*
 * RLE/bit-packed hybrid and PLAIN booleans; see parquet_encode.h.
 */
#include "sink/parquet_encode.h"
#include "sink/thrift_compact.h"

#include <string.h>

#define LITERAL_GROUPS_MAX 63

int cf_pq_bit_width(uint64_t max_value)
{
	int w = 0;
	while (max_value) {
		w++;
		max_value >>= 1;
	}
	return w;
}

/* Value i of either input array. */
static inline uint32_t at(const uint32_t *v32, const uint8_t *v8, size_t i)
{
	return v32 ? v32[i] : v8[i];
}

/* Bit-packed runs of values [from, from + n), the last group padded. */
static void put_literals(cf_buf *out, const uint32_t *v32, const uint8_t *v8, size_t from, size_t n, int bw)
{
	while (n) {
		size_t take = n < LITERAL_GROUPS_MAX * 8 ? n : LITERAL_GROUPS_MAX * 8;
		size_t groups = (take + 7) / 8;
		cf_tc_varint(out, (uint64_t)groups << 1 | 1);
		if (cf_buf_reserve(out, groups * (size_t)bw))
			return;
		uint8_t *p = out->p + out->len;
		uint64_t acc = 0;
		int bits = 0;
		for (size_t i = 0; i < groups * 8; i++) {
			uint64_t x = i < take ? at(v32, v8, from + i) : 0;
			acc |= x << bits;
			bits += bw;
			while (bits >= 8) {
				*p++ = (uint8_t)acc;
				acc >>= 8;
				bits -= 8;
			}
		}
		/* groups of 8 values of bw bits are whole bytes: nothing left over */
		out->len += groups * (size_t)bw;
		from += take;
		n -= take;
	}
}

static void put_repeat(cf_buf *out, uint32_t value, size_t count, int bw)
{
	cf_tc_varint(out, (uint64_t)count << 1);
	for (int b = 0; b < (bw + 7) / 8; b++)
		cf_buf_byte(out, (uint8_t)(value >> (8 * b)));
}

static void rle_hybrid(cf_buf *out, const uint32_t *v32, const uint8_t *v8, size_t n, int bw)
{
	size_t lit = 0; /* first value not yet written */
	size_t i = 0;
	while (i < n) {
		uint32_t x = at(v32, v8, i);
		size_t j = i + 1;
		while (j < n && at(v32, v8, j) == x)
			j++;
		size_t run = j - i, pending = i - lit;
		/* values of the run that complete the pending literals' last group */
		size_t pad = (8 - pending % 8) % 8;
		if (run >= pad + 8) {
			put_literals(out, v32, v8, lit, pending + pad, bw);
			put_repeat(out, x, run - pad, bw);
			lit = j;
		}
		i = j;
	}
	put_literals(out, v32, v8, lit, n - lit, bw);
}

void cf_pq_rle_hybrid(cf_buf *out, const uint32_t *v, size_t n, int bit_width)
{
	rle_hybrid(out, v, NULL, n, bit_width);
}

void cf_pq_rle_hybrid_u8(cf_buf *out, const uint8_t *v, size_t n, int bit_width)
{
	rle_hybrid(out, NULL, v, n, bit_width);
}

void cf_pq_plain_bools(cf_buf *out, const uint8_t *v, size_t n)
{
	size_t nb = (n + 7) / 8;
	if (cf_buf_reserve(out, nb))
		return;
	uint8_t *p = out->p + out->len;
	memset(p, 0, nb);
	for (size_t i = 0; i < n; i++)
		if (v[i])
			p[i >> 3] |= (uint8_t)(1u << (i & 7));
	out->len += nb;
}

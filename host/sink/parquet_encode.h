/*
 * Parquet value encodings used by the Parquet sink, written from the
 * format's Encodings.md (apache/parquet-format):
 *
 * RLE/bit-packed hybrid (definition levels, dictionary indices): a
 * sequence of runs, each starting with a ULEB128 header h:
 *   h & 1 == 0: an RLE run of h >> 1 copies of one value, stored in
 *               ceil(bit_width / 8) little-endian bytes;
 *   h & 1 == 1: a bit-packed run of (h >> 1) groups of 8 values, each
 *               value bit_width bits, packed from the least significant
 *               bit of the first byte on.
 * The last bit-packed group may be padded with zeros; readers stop at the
 * page's value count. Here: a run of 8 or more equal values that can
 * start on a group boundary becomes an RLE run, the rest is bit-packed in
 * runs of at most 63 groups (a one-byte header, as other writers do).
 */
#ifndef CUFLOW_SINK_PARQUET_ENCODE_H
#define CUFLOW_SINK_PARQUET_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "sink/byte_buf.h"

/* Bits needed for values 0..max_value (0 for 0). */
int cf_pq_bit_width(uint64_t max_value);

/* Appends values v[0..n-1] (each < 2^bit_width, bit_width 1..32) in the
 * RLE/bit-packed hybrid, without a length prefix. */
void cf_pq_rle_hybrid(cf_buf *out, const uint32_t *v, size_t n, int bit_width);
/* The same for byte-sized values (definition levels). */
void cf_pq_rle_hybrid_u8(cf_buf *out, const uint8_t *v, size_t n, int bit_width);

/* Appends n booleans (bytes, nonzero = true) PLAIN-encoded: one bit each,
 * least significant bit first, the last byte padded with zeros. */
void cf_pq_plain_bools(cf_buf *out, const uint8_t *v, size_t n);

#endif

/* Bytes of the classic pcap files `cuflow synth` writes (both modes):
 * little-endian headers, network-order fields in frames. Internal. */
#ifndef CUFLOW_PCAP_OUT_H
#define CUFLOW_PCAP_OUT_H

#include <stdint.h>

static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The 24-byte file header: version 2.4, micro- or nanosecond magic. */
static inline void pcap_file_header(uint8_t *h, int nanosecond, uint32_t snaplen, uint32_t linktype)
{
	le32(h, nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
	h[4] = 2;
	h[5] = 0;
	h[6] = 4;
	h[7] = 0;
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, snaplen);
	le32(h + 20, linktype);
}

/* The 16-byte record header for a time in ns since the epoch. */
static inline void pcap_record_header(uint8_t *h, uint64_t ts_ns, int nanosecond, uint32_t caplen,
                                      uint32_t wirelen)
{
	uint32_t frac = (uint32_t)(ts_ns % 1000000000ull);
	le32(h, (uint32_t)(ts_ns / 1000000000ull));
	le32(h + 4, nanosecond ? frac : frac / 1000);
	le32(h + 8, caplen);
	le32(h + 12, wirelen);
}

#endif

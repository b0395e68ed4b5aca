/*
 * The decoder's hot path, shared by cf_decode_frame (decode.c) and the
 * reader's fused read-and-decode loop (cf_reader_decode, reader.c), which
 * inlines it next to the record walk. Library-internal.
 */
#ifndef CUFLOW_DECODE_FAST_H
#define CUFLOW_DECODE_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cuflow/decode.h"
#include "cuflow/packet.h"
#include "cuflow/reader.h"

/* The general decoder, for the frames cf_decode_fast declines (decode.c). */
int cf_dec_frame_general(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o);

static inline uint16_t cf_fast_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t cf_fast_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

#define CF_UDP_TUNNEL_BITS                                                                 \
	(CF_DECAP_BIT(CF_TUNNEL_VXLAN) | CF_DECAP_BIT(CF_TUNNEL_GENEVE) |               \
	 CF_DECAP_BIT(CF_TUNNEL_GTP) | CF_DECAP_BIT(CF_TUNNEL_TEREDO) |                 \
	 CF_DECAP_BIT(CF_TUNNEL_CAPWAP) | CF_DECAP_BIT(CF_TUNNEL_TZSP))

static inline uint64_t cf_fast_ld_u64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t cf_fast_ld_u16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint64_t cf_fast_ld_u32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cf_decode_fast builds cf_pkt from little-endian words"
#endif
_Static_assert(sizeof(cf_pkt) == 120 && offsetof(cf_pkt, caplen) == 8 && offsetof(cf_pkt, ip_len) == 16 &&
                   offsetof(cf_pkt, seq) == 24 && offsetof(cf_pkt, ip_id) == 32 && offsetof(cf_pkt, linktype) == 40 &&
                   offsetof(cf_pkt, sport) == 48 && offsetof(cf_pkt, l3_hdr_len) == 56 && offsetof(cf_pkt, ttl) == 64 &&
                   offsetof(cf_pkt, src_mac) == 72 && offsetof(cf_pkt, src_ip) == 84 && offsetof(cf_pkt, dst_ip) == 100,
               "cf_decode_fast writes cf_pkt as 15 words: update it with the layout");

/* Word k (8 bytes) of a record, stored straight (no array in between: a
 * wide copy of it would wait on the narrow stores that filled it). */
static inline void cf_fast_st_u64(cf_pkt *o, int k, uint64_t v)
{
	memcpy((char *)o + 8 * k, &v, 8);
}

/* The fast path after the Ethernet header: l2 is 14 or 18 (one 802.1Q
 * tag, its id in vlan), a constant at each call, so each copy folds the
 * words that depend on it (one body with both made the compiler keep
 * both sets of constants on the stack). The record is written as fifteen
 * 8-byte words (cf_pkt's layout, little endian, both checked above): a
 * third of the stores of zeroing it and then setting each field. Words
 * that need no check are stored as soon as they are known, freeing their
 * registers for the checks; a frame that fails is rewritten by decode(). */
static inline __attribute__((always_inline)) int cf_decode_fast_ip(const cf_frame *f, uint32_t decap, cf_pkt *o,
                                                                    const uint64_t l2, uint64_t vlan)
{
	const uint8_t *d = f->data, *ip = d + l2, *l4 = ip + 20;
	size_t cap = f->caplen;
	/* 64-bit locals: a spilled 32-bit one reloaded as 64 bits cannot be
	 * store-forwarded (a 10-cycle stall per frame, seen in perf) */
	uint64_t tot, hl, tcp_seq_ack = 0, tcp_flags_win = 0, layers;
	cf_fast_st_u64(o, 10, cf_fast_ld_u32(d + 2) | cf_fast_ld_u32(ip + 12) << 32); /* dst_mac[2..5], src_ip[0..3] */
	cf_fast_st_u64(o, 11, 0);
	cf_fast_st_u64(o, 12, cf_fast_ld_u32(ip + 16) << 32); /* dst_ip[0..3] */
	cf_fast_st_u64(o, 13, 0);
	cf_fast_st_u64(o, 14, 0);
	if (cf_fast_ld_u16(ip - 2) != 0x0008 || ip[0] != 0x45) /* IPv4 (0x0800), no options */
		return 0;
	tot = cf_fast_be16(ip + 2);
	if (tot > cap - l2 || (cf_fast_ld_u16(ip + 6) & 0xff3f)) /* MF, offset: 0x3fff */
		return 0; /* cut by the snap length, TSO length 0, fragment */
	if (ip[9] == 6) {
		if (tot < 40) /* before reading l4[12]: only 8 bytes of l4 are known to be there */
			return 0;
		/* bytes 12-15 (offset/NS, flags, window) as one big-endian word:
		 * a byte kept on the stack and reloaded wider stalls (store
		 * forwarding), and one word gives every field in a shift or two */
		uint64_t w12 = cf_fast_be32(l4 + 12);
		hl = (w12 >> 26) & 0x3c;
		if (hl < 20 || hl > tot - 20)
			return 0;
		tcp_seq_ack = cf_fast_be32(l4 + 4) | (uint64_t)cf_fast_be32(l4 + 8) << 32;
		tcp_flags_win = ((w12 >> 16) & 0x1ff) | (w12 & 0xffff) << 16; /* flags + NS, window */
		layers = CF_LAYER_IPV4 | CF_LAYER_TCP;
	} else if (ip[9] == 17) {
		if (tot < 28)
			return 0;
		uint64_t sp = cf_fast_be16(l4), dp = cf_fast_be16(l4 + 2);
		if ((decap & CF_UDP_TUNNEL_BITS) &&
		    (dp == 4789 || dp == 6081 || sp == 2152 || dp == 2152 || sp == 3544 || dp == 3544 ||
		     sp == 5247 || dp == 5247 || sp == 37008 || dp == 37008))
			return 0;
		hl = 8;
		layers = CF_LAYER_IPV4 | CF_LAYER_UDP;
	} else {
		return 0;
	}
	if (l2 == 18)
		layers |= CF_LAYER_VLAN;
	/* the words that needed the checks */
	cf_fast_st_u64(o, 2, tot | (uint64_t)(tot - 20 - hl) << 32);
	cf_fast_st_u64(o, 3, tcp_seq_ack);
	cf_fast_st_u64(o, 4, cf_fast_be16(ip + 4)); /* ip_id; tunnel_id 0 */
	cf_fast_st_u64(o, 5, 1 | layers << 16 | vlan << 32); /* linktype 1, layers, vlan[0], vlan[1] */
	/* sport | dport << 16, read again here rather than held in registers
	 * across the checks (fewer spills) */
	uint32_t ports = __builtin_bswap32((uint32_t)cf_fast_ld_u32(l4));
	cf_fast_st_u64(o, 6, (uint64_t)(ports >> 16 | ports << 16) | tcp_flags_win << 32);
	cf_fast_st_u64(o, 7, 20 | hl << 16 | l2 << 32 | (uint64_t)4 << 48 | (uint64_t)ip[9] << 56);
	cf_fast_st_u64(o, 8, ip[8] | (uint64_t)(l2 == 18) << 8); /* ttl, vlan_count; icmp, tunnel, skip, flags, mpls 0 */
	return 1;
}

/* Ethernet (with at most one 802.1Q tag), IPv4 without options or
 * fragmentation, TCP or UDP (not on a tunnel port), all captured: the bulk
 * of real traffic, straight-line. Anything else returns 0, possibly
 * after writing some of the record's words, and goes to decode(), which
 * rewrites the whole record and gives the same one for the frames taken
 * here (the tests compare the two paths on every frame they decode).
 * Ethertypes and the fragment field are compared in wire order (no byte
 * swaps). */
static inline int cf_decode_fast(const cf_frame *f, uint32_t decap, cf_pkt *o)
{
	const uint8_t *d = f->data;
	if (f->caplen < 14 + 20 + 8)
		return 0;
	cf_fast_st_u64(o, 0, (uint64_t)f->ts_ns);
	cf_fast_st_u64(o, 1, cf_fast_ld_u64(&f->caplen)); /* caplen, wirelen */
	cf_fast_st_u64(o, 9, (cf_fast_ld_u64(d + 6) & 0xffffffffffffull) | cf_fast_ld_u16(d) << 48); /* src_mac, dst_mac[0..1] */
	if (cf_fast_ld_u16(d + 12) != 0x0081) /* not 0x8100 */
		return cf_decode_fast_ip(f, decap, o, 14, 0);
	if (f->caplen < 18 + 20 + 8)
		return 0;
	return cf_decode_fast_ip(f, decap, o, 18, cf_fast_be16(d + 14) & 0xfff);
}

#endif

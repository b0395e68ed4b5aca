/*
 * Shared internals of the decoder (decode.c: link, IP and transport layers;
 * decode_tunnel.c: encapsulations).
 *
 * The decoder is an iterative state machine: every layer function reads the
 * header at c->off, fills what it can into the record and returns the next
 * layer to decode (NX_*), NX_DONE when an IP 5-tuple was recorded, or a
 * negated enum cf_skip. No recursion, so hostile nesting cannot exhaust the
 * stack; every step consumes bytes, so the loop always ends.
 *
 * Bounds: bytes [off, end) are captured and belong to the current region
 * (the frame, or an IP datagram per its length field). rend is where the
 * headers' own length fields say the region ends (SIZE_MAX for the frame
 * itself). Invariant off <= end <= rend. A header that does not fit before
 * end is "truncated" when it would fit before rend (the capture cut it) and
 * "bad" otherwise (the lengths contradict each other).
 */
#ifndef CUFLOW_DECODE_INTERNAL_H
#define CUFLOW_DECODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cuflow/decode.h"
#include "cuflow/packet.h"

enum {
	NX_DONE = 0, /* 5-tuple recorded; negative values are -enum cf_skip */
	NX_ETH,      /* Ethernet header at off */
	NX_ETYPE,    /* payload of ethertype c->etype at off */
	NX_IPV4,
	NX_IPV6,
	NX_WLAN      /* IEEE 802.11 header at off */
};

#define NX_FAIL(skip) (-(int)(skip))

typedef struct dctx {
	const uint8_t *d; /* frame bytes */
	size_t off, end, rend;
	cf_pkt *o;
	uint32_t decap;
	uint32_t max_depth;
	uint32_t depth;   /* tunnels decapsulated so far */
	uint16_t etype;   /* for NX_ETYPE */
	uint8_t have_mac; /* outermost MACs recorded */
	uint8_t have_saved;
	cf_pkt saved;     /* record of the packet around the innermost tunnel */
} dctx;

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

/* Reason when fewer than k bytes are left at off: the capture cut them
 * (`trunc`) or the enclosing length fields leave no room (`bad`). Only call
 * when end - off < k. */
static inline int nx_short(const dctx *c, size_t k, int trunc, int bad)
{
	return NX_FAIL(k <= c->rend - c->off ? trunc : bad);
}

/* Decodes the UDP payload at c->off as a tunnel when its ports and the
 * enabled kinds say so (o->sport/dport already set). Returns the inner
 * layer, NX_DONE to keep the UDP packet, or a failure. */
int cf_dec_udp_tunnel(dctx *c);
/* GRE at c->off (IP protocol 47, decapsulation enabled). */
int cf_dec_gre(dctx *c);
/* Starts decoding an inner packet: checks the depth, saves the outer
 * record (for a non-IP inner payload), clears the IP/transport fields.
 * outer_bits are layer bits the saved outer record gets (OTHER_L4 for
 * GRE/IP-in-IP). Returns 0 or a failure. */
int cf_dec_tunnel_enter(dctx *c, int type, uint32_t id, uint16_t outer_bits);

#endif

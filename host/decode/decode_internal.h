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
	const cf_decode_opts *opts; /* NULL: defaults */
	uint32_t decap;
	uint32_t depth;   /* tunnels decapsulated so far */
	uint16_t etype;   /* for NX_ETYPE */
	uint8_t have_mac; /* outermost MACs recorded (or past them) */
	uint8_t have_saved;
	uint8_t datapad;  /* radiotap: 802.11 header padded to 4 bytes */
	uint8_t fc_maybe_swapped; /* the 802.11 frame came in CAPWAP: its frame control
	                             bytes may be swapped (dec_wlan) */
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

/* cf_decode_frame without its fast path for plain TCP/UDP over IPv4; the
 * tests check that both give the same record. */
int cf_dec_frame_general(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o);

/* PPP header at p (optional FF 03 address/control, then a 1-byte
 * (compressed) or 2-byte protocol). Returns NX_IPV4/NX_IPV6, NX_ETYPE for
 * MPLS (the caller sets c->etype to 0x8847), NX_DONE for
 * any other protocol, or -1 when avail bytes do not hold the header;
 * *hl = header length. */
static inline int ppp_peek(const uint8_t *p, size_t avail, size_t *hl)
{
	size_t h = 0;
	unsigned proto;
	if (avail == 0)
		return -1;
	if (p[0] == 0xff) {
		/* address/control (a 0xff protocol byte would be invalid) */
		if (avail < 2)
			return -1;
		if (p[1] == 0x03)
			h = 2;
	}
	if (avail <= h)
		return -1;
	if (p[h] & 1) {
		proto = p[h];
		h += 1;
	} else {
		if (avail < h + 2)
			return -1;
		proto = be16(p + h);
		h += 2;
	}
	*hl = h;
	if (proto == 0x21)
		return NX_IPV4;
	if (proto == 0x57)
		return NX_IPV6;
	if (proto == 0x0281 || proto == 0x0283)
		return NX_ETYPE; /* MPLS unicast/multicast: the caller sets etype 0x8847 */
	return NX_DONE;
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

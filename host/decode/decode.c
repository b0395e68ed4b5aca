/*
 * Packet decoder: link layers, IPv4/IPv6, transport headers, and the loop
 * that drives them. Encapsulations live in decode_tunnel.c; the state
 * machine and the bounds rules are described in decode_internal.h.
 *
 * Hot path: decode_fast() takes Ethernet (+ one 802.1Q tag) / IPv4 without
 * options or fragments / TCP or UDP straight through; everything else, and
 * anything unusual in those, goes through decode(): link -> dec_eth ->
 * dec_etype -> dec_ipv4/dec_ipv6 -> dec_l4, one bounds check per header.
 */
#include <stddef.h>

#include "decode_internal.h"
#include "decode_fast.h"

/* First nibble decides IPv4/IPv6 (raw IP, NFLOG, MPLS payloads). */
static inline int ip_by_nibble(dctx *c, int other)
{
	if (c->end == c->off)
		return nx_short(c, 1, CF_SKIP_TRUNCATED_IP, other);
	switch (c->d[c->off] >> 4) {
	case 4:
		return NX_IPV4;
	case 6:
		return NX_IPV6;
	}
	return NX_FAIL(other);
}

/* ------------------------------------------------------------ transport */

/* A first fragment (MF set, offset 0) whose datagram ends inside the
 * fixed transport header (RFC 1858's tiny fragments; fragment trains of
 * scans and evasion tools): the rest of the header is in the next
 * fragment. The packet is a real one of the conversation, so it is
 * recorded with what is there (ports from 4 bytes, TCP sequence numbers
 * and flags as far as present) and flagged CF_PKT_SHORT_L4; all of its
 * transport bytes count as header. Out of line: never on the hot path. */
static __attribute__((noinline)) int dec_l4_short(dctx *c, unsigned proto)
{
	cf_pkt *o = c->o;
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;

	if (avail >= 4) {
		o->sport = be16(p);
		o->dport = be16(p + 2);
	}
	if (proto == 6) {
		if (avail >= 8)
			o->seq = be32(p + 4);
		if (avail >= 12)
			o->ack = be32(p + 8);
		if (avail >= 14)
			o->tcp_flags = (uint16_t)(p[13] | (p[12] & 1u) << 8);
	}
	o->l4_hdr_len = (uint16_t)(c->rend - c->off);
	o->flags |= CF_PKT_SHORT_L4;
	return NX_DONE;
}

/* True when the datagram (a first fragment) leaves fewer than k bytes for
 * the transport header: not a broken header, the rest of it is in the
 * next fragment. */
static inline int short_first_fragment(const dctx *c, size_t k)
{
	return (c->o->flags & CF_PKT_FRAGMENT) && c->rend - c->off < k;
}

/* Everything but TCP and UDP: kept out of line, off the hot path. */
static __attribute__((noinline)) int dec_l4_other(dctx *c, unsigned proto)
{
	cf_pkt *o = c->o;
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;

	switch (proto) {
	case 1:
	case 58:
		o->layers |= proto == 1 ? CF_LAYER_ICMP : CF_LAYER_ICMPV6;
		if (avail < 4)
			return nx_short(c, 4, CF_SKIP_TRUNCATED_TRANSPORT, CF_SKIP_BAD_TRANSPORT);
		o->icmp_type = p[0];
		o->icmp_code = p[1];
		/* the ICMP header is 8 bytes (type, code, checksum, 4 bytes of
		 * rest-of-header) when the datagram is long enough */
		o->l4_hdr_len = c->rend - c->off >= 8 ? 8 : 4;
		if (avail >= 8 && (proto == 1 ? (p[0] == 0 || p[0] == 8) : (p[0] == 128 || p[0] == 129)))
			o->sport = be16(p + 4);
		return NX_DONE;
	case 132:
		o->layers |= CF_LAYER_SCTP;
		if (avail < 12) {
			if (short_first_fragment(c, 12))
				return dec_l4_short(c, proto);
			return nx_short(c, 12, CF_SKIP_TRUNCATED_TRANSPORT, CF_SKIP_BAD_TRANSPORT);
		}
		o->sport = be16(p);
		o->dport = be16(p + 2);
		o->l4_hdr_len = 12;
		return NX_DONE;
	case 47:
		if (c->decap & CF_DECAP_BIT(CF_TUNNEL_GRE)) {
			int nx = cf_dec_gre(c);
			if (nx != NX_DONE)
				return nx;
		}
		break;
	case 4:
	case 41:
		if (c->decap & CF_DECAP_BIT(CF_TUNNEL_IPIP)) {
			int r = cf_dec_tunnel_enter(c, CF_TUNNEL_IPIP, 0, CF_LAYER_OTHER_L4);
			if (r)
				return r;
			return proto == 4 ? NX_IPV4 : NX_IPV6;
		}
		break;
	}
	/* IGMP, ESP, OSPF, ..., and tunnels left encapsulated */
	o->layers |= CF_LAYER_OTHER_L4;
	return NX_DONE;
}

static inline int dec_l4(dctx *c, unsigned proto)
{
	cf_pkt *o = c->o;
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	unsigned hl;

	if (proto == 6) {
		o->layers |= CF_LAYER_TCP;
		if (avail < 20) {
			if (short_first_fragment(c, 20))
				return dec_l4_short(c, proto);
			return nx_short(c, 20, CF_SKIP_TRUNCATED_TRANSPORT, CF_SKIP_BAD_TRANSPORT);
		}
		o->sport = be16(p);
		o->dport = be16(p + 2);
		o->seq = be32(p + 4);
		o->ack = be32(p + 8);
		o->tcp_flags = (uint16_t)(p[13] | (p[12] & 1u) << 8);
		o->window = be16(p + 14);
		hl = (p[12] >> 4) * 4u;
		/* options beyond the IP length are a broken header (unless the
		 * datagram is a first fragment: they go on in the next one),
		 * options beyond the capture only a short snap length */
		if (hl < 20)
			return NX_FAIL(CF_SKIP_BAD_TRANSPORT);
		if (hl > c->rend - c->off) {
			if (!short_first_fragment(c, hl))
				return NX_FAIL(CF_SKIP_BAD_TRANSPORT);
		} else if (hl > avail) {
			o->flags |= CF_PKT_TRUNCATED;
		}
		o->l4_hdr_len = (uint16_t)hl;
		return NX_DONE;
	}
	if (proto == 17) {
		o->layers |= CF_LAYER_UDP;
		if (avail < 8) {
			if (short_first_fragment(c, 8))
				return dec_l4_short(c, proto);
			return nx_short(c, 8, CF_SKIP_TRUNCATED_TRANSPORT, CF_SKIP_BAD_TRANSPORT);
		}
		o->sport = be16(p);
		o->dport = be16(p + 2);
		o->l4_hdr_len = 8;
		if (c->decap & CF_UDP_TUNNEL_BITS) {
			c->off += 8;
			return cf_dec_udp_tunnel(c);
		}
		return NX_DONE;
	}
	return dec_l4_other(c, proto);
}

/* ------------------------------------------------------------ IP */

/* Narrows the region to an IP datagram of `len` bytes at `start`; a
 * datagram longer than what was captured is flagged, not skipped. */
static inline uint8_t ip_region(dctx *c, size_t start, size_t len)
{
	size_t dend = start + len;
	uint8_t fl = 0;
	if (dend > c->end)
		fl = CF_PKT_TRUNCATED;
	else
		c->end = dend;
	if (dend < c->rend)
		c->rend = dend;
	return fl;
}

/* IPv4 authentication headers (RFC 4302, protocol 51) are walked like
 * IPv6 extension headers: the transport after them is recorded. */
static __attribute__((noinline)) int dec_ipv4_ah(dctx *c)
{
	cf_pkt *o = c->o;
	unsigned proto = 51;
	while (proto == 51) {
		const uint8_t *a = c->d + c->off;
		if (c->end - c->off < 8)
			return nx_short(c, 8, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
		size_t al = ((size_t)a[1] + 2) * 4;
		if (c->end - c->off < al)
			return nx_short(c, al, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
		proto = a[0];
		c->off += al;
		o->l3_hdr_len = (uint16_t)(o->l3_hdr_len + al);
		o->flags |= CF_PKT_IP_OPTIONS;
	}
	o->proto = (uint8_t)proto;
	return dec_l4(c, proto);
}

static inline int dec_ipv4(dctx *c)
{
	cf_pkt *o = c->o;
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	unsigned hl, frag;
	size_t tot;
	uint8_t fl;

	o->layers |= CF_LAYER_IPV4;
	if (avail < 20)
		return nx_short(c, 20, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
	hl = (p[0] & 15u) * 4;
	if ((p[0] >> 4) != 4 || hl < 20)
		return NX_FAIL(CF_SKIP_BAD_IP);
	tot = be16(p + 2);
	if (tot == 0)
		tot = avail; /* TSO/GSO capture: the length was left to the NIC */
	else if (tot < hl)
		return NX_FAIL(CF_SKIP_BAD_IP);
	if (avail < hl)
		return nx_short(c, hl, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);

	o->ip_version = 4;
	o->ttl = p[8];
	o->proto = p[9];
	o->ip_id = be16(p + 4);
	memcpy(o->src_ip, p + 12, 4);
	memcpy(o->dst_ip, p + 16, 4);
	o->ip_len = (uint32_t)tot;
	o->l3_hdr_len = (uint16_t)hl;
	o->l3_offset = (uint16_t)(c->off < 65535 ? c->off : 65535);
	fl = ip_region(c, c->off, tot);
	if (hl > 20)
		fl |= CF_PKT_IP_OPTIONS;
	c->off += hl;
	frag = be16(p + 6);
	if (frag & 0x1fff) {
		o->flags |= fl;
		return NX_FAIL(CF_SKIP_NONFIRST_FRAGMENT);
	}
	if (frag & 0x2000)
		fl |= CF_PKT_FRAGMENT;
	o->flags |= fl;
	if (__builtin_expect(p[9] == 51, 0))
		return dec_ipv4_ah(c);
	return dec_l4(c, p[9]);
}

static inline int dec_ipv6(dctx *c)
{
	cf_pkt *o = c->o;
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	size_t len, h = 40, elen;
	unsigned nh, fo;
	uint8_t fl;

	o->layers |= CF_LAYER_IPV6;
	if (avail < 40)
		return nx_short(c, 40, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
	if ((p[0] >> 4) != 6)
		return NX_FAIL(CF_SKIP_BAD_IP);
	len = 40 + (size_t)be16(p + 4);
	nh = p[6];
	/* payload length 0 with a payload: a jumbogram (length in the
	 * hop-by-hop option) or a GSO capture; use what was captured */
	if (len == 40 && nh != 59)
		len = avail;

	o->ip_version = 6;
	o->ttl = p[7];
	memcpy(o->src_ip, p + 8, 16);
	memcpy(o->dst_ip, p + 24, 16);
	o->ip_len = (uint32_t)len;
	o->l3_offset = (uint16_t)(c->off < 65535 ? c->off : 65535);
	fl = ip_region(c, c->off, len);

	for (;;) {
		switch (nh) {
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
		case 51: /* authentication header */
			if (c->end - c->off < h + 2)
				return nx_short(c, h + 2, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
			elen = nh == 51 ? ((size_t)p[h + 1] + 2) * 4 : ((size_t)p[h + 1] + 1) * 8;
			if (c->end - c->off < h + elen)
				return nx_short(c, h + elen, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
			nh = p[h];
			h += elen;
			fl |= CF_PKT_IP_OPTIONS;
			continue;
		case 44: /* fragment */
			if (c->end - c->off < h + 8)
				return nx_short(c, h + 8, CF_SKIP_TRUNCATED_IP, CF_SKIP_BAD_IP);
			fo = be16(p + h + 2);
			o->ip_id = be32(p + h + 4);
			nh = p[h];
			h += 8;
			fl |= CF_PKT_IP_OPTIONS;
			if (fo & 0xfff8) {
				o->proto = (uint8_t)nh;
				o->l3_hdr_len = (uint16_t)(h > 0xffff ? 0xffff : h);
				o->flags |= fl;
				c->off += h;
				return NX_FAIL(CF_SKIP_NONFIRST_FRAGMENT);
			}
			if (fo & 1)
				fl |= CF_PKT_FRAGMENT;
			continue;
		}
		break; /* transport, or ESP/no-next-header/mobility: treated as L4 */
	}
	o->proto = (uint8_t)nh;
	o->l3_hdr_len = (uint16_t)(h > 0xffff ? 0xffff : h);
	o->flags |= fl;
	c->off += h;
	return dec_l4(c, nh);
}

/* ------------------------------------------------------------ link */

static inline int dec_eth(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	if (c->end - c->off < 14)
		return nx_short(c, 14, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
	if (!c->have_mac) {
		memcpy(c->o->dst_mac, p, 6);
		memcpy(c->o->src_mac, p + 6, 6);
		c->have_mac = 1;
	}
	c->etype = be16(p + 12);
	c->off += 14;
	return NX_ETYPE;
}

/* Payload of ethertype c->etype: VLAN tags, MPLS, PPPoE and LLC/SNAP are
 * peeled here, in a loop, until IP or something that is not IP. */
static inline int dec_etype(dctx *c)
{
	cf_pkt *o = c->o;
	unsigned t = c->etype;
	const uint8_t *p;
	size_t avail;
	size_t hl;

	for (;;) {
		p = c->d + c->off;
		avail = c->end - c->off;
		switch (t) {
		case 0x0800:
			return NX_IPV4;
		case 0x86dd:
			return NX_IPV6;
		case 0x8100:
		case 0x88a8:
		case 0x9100:
		case 0x9200:
			o->layers |= CF_LAYER_VLAN;
			if (avail < 4)
				return nx_short(c, 4, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
			if (o->vlan_count < 2)
				o->vlan[o->vlan_count] = be16(p) & 0xfff;
			if (o->vlan_count < 255)
				o->vlan_count++;
			t = be16(p + 2);
			c->off += 4;
			continue;
		case 0x8847:
		case 0x8848:
			o->layers |= CF_LAYER_MPLS;
			for (;;) {
				if (c->end - c->off < 4)
					return nx_short(c, 4, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
				p = c->d + c->off;
				c->off += 4;
				if (o->mpls_count < 255)
					o->mpls_count++;
				if (p[2] & 1)
					break; /* bottom of stack */
			}
			if (c->end == c->off)
				return nx_short(c, 1, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
			p = c->d + c->off;
			switch (p[0] >> 4) {
			case 4:
				return NX_IPV4;
			case 6:
				return NX_IPV6;
			case 0: /* pseudowire control word, then Ethernet */
				if (c->end - c->off < 4)
					return nx_short(c, 4, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
				c->off += 4;
				return NX_ETH;
			}
			return NX_FAIL(CF_SKIP_NON_IP);
		case 0x8864: /* PPPoE session: ver/type, code, session, length, PPP protocol */
			o->layers |= CF_LAYER_PPPOE;
			if (avail < 8)
				return nx_short(c, 8, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
			if (p[0] != 0x11)
				return NX_FAIL(CF_SKIP_BAD_LINK);
			c->off += 8;
			switch (be16(p + 6)) {
			case 0x0021:
				return NX_IPV4;
			case 0x0057:
				return NX_IPV6;
			}
			return NX_FAIL(CF_SKIP_NON_IP);
		case 0x0806:
			o->layers |= CF_LAYER_ARP;
			return NX_FAIL(CF_SKIP_NON_IP);
		default:
			if (t > 1500)
				return NX_FAIL(CF_SKIP_NON_IP);
			/* 802.3 length: LLC; only SNAP (AA AA 03, OUI, type) goes on */
			if (avail < 3)
				return nx_short(c, 3, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
			if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03)
				return NX_FAIL(CF_SKIP_NON_IP);
			hl = 8;
			if (avail < hl)
				return nx_short(c, hl, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
			t = be16(p + 6);
			c->off += hl;
			continue;
		}
	}
}

/* IEEE 802.11: only data frames carry IP. Addresses: addr1 = receiver
 * (recorded as dst), addr2 = transmitter (src). */
static int dec_wlan(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	size_t hl, qos = 0;
	unsigned fc0, fc1, type, sub;

	if (avail < 2)
		return nx_short(c, 2, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
	fc0 = p[0];
	fc1 = p[1];
	/* Some CAPWAP access points and controllers send the two frame
	 * control bytes swapped (Wireshark's capwap.swap_fc). Taken swapped
	 * when, as written, they are no version-0 data frame and, swapped,
	 * they are one: a data frame's flags byte read as the first byte
	 * gives a non-zero version whenever ToDS or FromDS is set. */
	if (c->fc_maybe_swapped && ((fc0 & 3) || ((fc0 >> 2) & 3) != 2) && (fc1 & 0x0f) == 0x08) {
		fc0 = p[1];
		fc1 = p[0];
	}
	if (fc0 & 3)
		return NX_FAIL(CF_SKIP_BAD_LINK); /* protocol version is 0 */
	type = (fc0 >> 2) & 3;
	sub = fc0 >> 4;
	if (type != 1 && !c->have_mac && avail >= 16) {
		/* management and data frames have both addresses */
		memcpy(c->o->dst_mac, p + 4, 6);
		memcpy(c->o->src_mac, p + 10, 6);
		c->have_mac = 1;
	}
	if (type != 2)
		return NX_FAIL(CF_SKIP_NON_IP); /* management, control, extension */
	if ((sub & 4) || (fc1 & 0x40))
		return NX_FAIL(CF_SKIP_NON_IP); /* null data (no payload) or encrypted */
	hl = (fc1 & 3) == 3 ? 30 : 24;     /* ToDS+FromDS: 4th address */
	if (sub & 8) {
		qos = hl;
		hl += 2;
		if (fc1 & 0x80)
			hl += 4; /* HT control */
	}
	if (avail < hl)
		return nx_short(c, hl, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
	if (c->datapad)
		hl = (hl + 3) & ~(size_t)3;
	if (qos && (p[qos] & 0x80))
		hl += 14; /* A-MSDU: first subframe's DA, SA, length */
	if (avail < hl + 8)
		return nx_short(c, hl + 8, CF_SKIP_TRUNCATED_LINK, CF_SKIP_BAD_LINK);
	p += hl;
	if (p[0] != 0xaa || p[1] != 0xaa || p[2] != 0x03)
		return NX_FAIL(CF_SKIP_NON_IP);
	c->etype = be16(p + 6);
	c->off += hl + 8;
	return NX_ETYPE;
}

/* Radiotap header, then 802.11. The flags field (when present) says
 * whether the 802.11 header is padded. */
static int dec_radiotap(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	size_t rl, pos = 4;
	uint32_t present, word;

	if (avail < 8)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	if (p[0] != 0)
		return NX_FAIL(CF_SKIP_BAD_LINK);
	rl = le16(p + 2);
	if (rl < 8)
		return NX_FAIL(CF_SKIP_BAD_LINK);
	if (rl > avail)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	present = word = (uint32_t)le16(p + 4) | (uint32_t)le16(p + 6) << 16;
	while (word & 0x80000000u) { /* extended presence bitmaps */
		pos += 4;
		if (pos + 4 > rl)
			return NX_FAIL(CF_SKIP_BAD_LINK);
		word = (uint32_t)le16(p + pos) | (uint32_t)le16(p + pos + 2) << 16;
	}
	pos += 4;
	if (present & 1)
		pos = ((pos + 7) & ~(size_t)7) + 8; /* TSFT, 8-aligned */
	if ((present & 2) && pos < rl)
		c->datapad = (p[pos] & 0x20) != 0;
	c->off += rl;
	return NX_WLAN;
}

/* NFLOG: 4-byte header, then TLVs (little-endian length incl. the TLV
 * header, padded to 4); NFULA_PAYLOAD (9) holds the IP packet. */
static int dec_nflog(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	size_t off, left, step;
	unsigned tl, type;
	int frame_cut = c->o->caplen < c->o->wirelen;

	if (c->end - c->off < 4)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	if (p[1] != 0)
		return NX_FAIL(CF_SKIP_BAD_LINK); /* version */
	off = c->off + 4;
	for (;;) {
		left = c->end - off;
		if (left < 4)
			return NX_FAIL(left || frame_cut ? CF_SKIP_TRUNCATED_LINK : CF_SKIP_NON_IP);
		p = c->d + off;
		tl = le16(p);
		type = le16(p + 2) & 0x7fff; /* without NLA_F_NESTED / NET_BYTEORDER */
		if (tl < 4)
			return NX_FAIL(CF_SKIP_BAD_LINK);
		if (type == 9) {
			c->off = off + 4;
			c->rend = off + tl;
			if (c->rend < c->end)
				c->end = c->rend;
			return ip_by_nibble(c, CF_SKIP_NON_IP);
		}
		if (tl > left)
			return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
		step = (tl + 3) & ~3u;
		if (step >= left)
			return NX_FAIL(frame_cut ? CF_SKIP_TRUNCATED_LINK : CF_SKIP_NON_IP);
		off += step;
	}
}

/* Address family of BSD loopback (NULL: host order of the capturing
 * machine, either; LOOP: network order). Values stay below 256, so a
 * value with high bits set was written in the other byte order. */
static int dec_null(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	uint32_t af;

	if (c->end - c->off < 4)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	af = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (af > 0xffff)
		af = __builtin_bswap32(af);
	c->off += 4;
	switch (af) {
	case 2:
		return NX_IPV4;
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD */
	case 28: /* FreeBSD */
	case 30: /* Darwin */
		return NX_IPV6;
	}
	return NX_FAIL(CF_SKIP_NON_IP);
}

static int dec_chdlc(dctx *c)
{
	if (c->end - c->off < 4)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	c->etype = be16(c->d + c->off + 2);
	c->off += 4;
	return NX_ETYPE;
}

static int dec_ppp(dctx *c, uint32_t linktype)
{
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off, hl;
	int nx;

	/* PPP_HDLC also holds Cisco PPP with HDLC framing */
	if (linktype == 50 && avail > 0 && (p[0] == 0x0f || p[0] == 0x8f))
		return dec_chdlc(c);
	nx = ppp_peek(p, avail, &hl);
	if (nx < 0)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	if (nx == NX_DONE)
		return NX_FAIL(CF_SKIP_NON_IP);
	if (nx == NX_ETYPE)
		c->etype = 0x8847; /* MPLS over PPP */
	c->off += hl;
	return nx;
}

/* Linux cooked capture v1 (16 bytes) and v2 (20 bytes). The protocol is
 * an ethertype; values below 0x600 are Linux ETH_P_* pseudo types (802.2
 * LLC, 802.3 raw, CAN, ...), none of them IP. */
static int dec_sll(dctx *c, int v2)
{
	const uint8_t *p = c->d + c->off;
	size_t hl = v2 ? 20 : 16;
	unsigned proto, hatype, halen;
	const uint8_t *addr;

	if (c->end - c->off < hl)
		return NX_FAIL(CF_SKIP_TRUNCATED_LINK);
	if (v2) {
		proto = be16(p);
		hatype = be16(p + 8);
		halen = p[11];
		addr = p + 12;
	} else {
		proto = be16(p + 14);
		hatype = be16(p + 2);
		halen = be16(p + 4);
		addr = p + 6;
	}
	if (hatype == 1 && halen == 6) { /* ARPHRD_ETHER: the sender's MAC */
		memcpy(c->o->src_mac, addr, 6);
		c->have_mac = 1;
	}
	c->off += hl;
	if (proto < 0x600)
		return NX_FAIL(CF_SKIP_NON_IP);
	c->etype = (uint16_t)proto;
	return NX_ETYPE;
}

/* ------------------------------------------------------------ entry */

/* Link types other than Ethernet: the first layer after the link header. */
static __attribute__((noinline)) int dec_link(dctx *c, uint32_t linktype)
{
	switch (linktype) {
	case 0:   /* NULL */
	case 108: /* LOOP */
		return dec_null(c);
	case 9:  /* PPP */
	case 50: /* PPP_HDLC */
		return dec_ppp(c, linktype);
	case 51: /* PPP_ETHER: PPPoE header first */
		c->etype = 0x8864;
		return NX_ETYPE;
	case 104: /* Cisco HDLC */
		return dec_chdlc(c);
	case 113:
		return dec_sll(c, 0);
	case 276:
		return dec_sll(c, 1);
	case 12:
	case 14:
	case 101: /* raw IP */
		return ip_by_nibble(c, CF_SKIP_BAD_IP);
	case 228:
		return NX_IPV4;
	case 229:
		return NX_IPV6;
	case 239:
		return dec_nflog(c);
	case 105:
		return NX_WLAN;
	case 127:
		return dec_radiotap(c);
	}
	return NX_FAIL(CF_SKIP_UNKNOWN_LINKTYPE);
}

static inline void init_record(const cf_frame *f, cf_pkt *o)
{
	/* two memsets: gcc -O2 turns one 120-byte memset into `rep stos`,
	 * whose start-up alone costs more than decoding a TCP header */
	memset(o, 0, 64);
	memset((char *)o + 64, 0, sizeof *o - 64);
	o->ts_ns = f->ts_ns;
	o->caplen = f->caplen;
	o->wirelen = f->wirelen;
	o->linktype = (uint16_t)f->linktype;
}

/* The general decoder: every link type, layer and tunnel. */
static __attribute__((noinline)) int decode(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o)
{
	dctx c;
	int nx, skip;

	c.d = f->data;
	c.off = 0;
	c.end = f->data ? f->caplen : 0;
	c.rend = SIZE_MAX;
	c.o = o;
	c.opts = opts;
	c.decap = opts ? opts->decap : CF_DECAP_ALL;
	c.depth = 0;
	c.have_mac = 0;
	c.have_saved = 0;
	c.datapad = 0;
	c.fc_maybe_swapped = 0;

	if (f->linktype == 1)
		nx = NX_ETH;
	else
		nx = dec_link(&c, f->linktype);

	for (;;) {
		switch (nx) {
		case NX_ETH:
			nx = dec_eth(&c);
			continue;
		case NX_ETYPE:
			nx = dec_etype(&c);
			continue;
		case NX_IPV4:
			nx = dec_ipv4(&c);
			continue;
		case NX_IPV6:
			nx = dec_ipv6(&c);
			continue;
		case NX_WLAN:
			nx = dec_wlan(&c);
			continue;
		}
		break;
	}

	skip = nx < 0 ? -nx : CF_SKIP_NONE;
	if (skip == CF_SKIP_NON_IP && c.have_saved) {
		/* a tunnel carrying something other than IP: the packet around
		 * it is still a good 5-tuple; keep what was seen inside */
		uint16_t layers = o->layers;
		*o = c.saved;
		o->layers |= layers;
		skip = CF_SKIP_NONE;
	}
	if (o->tunnel_type)
		o->layers |= CF_LAYER_TUNNEL;
	if (o->ip_version) {
		uint32_t h = (uint32_t)o->l3_hdr_len + o->l4_hdr_len;
		o->payload_len = o->ip_len > h ? o->ip_len - h : 0;
	}
	o->skip = (uint8_t)skip;
	return skip;
}

int cf_decode_frame(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o)
{
	if (f->linktype == 1 && f->data && cf_decode_fast(f, opts ? opts->decap : CF_DECAP_ALL, o))
		return CF_SKIP_NONE;
	init_record(f, o);
	return decode(opts, f, o);
}

int cf_dec_frame_general(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o)
{
	init_record(f, o);
	return decode(opts, f, o);
}

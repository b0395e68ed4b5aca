/*
 * Encapsulations: GRE (with ERSPAN and PPTP), IP-in-IP (entered from
 * decode.c), and the UDP tunnels VXLAN, Geneve, GTP-U, Teredo, CAPWAP
 * data, TZSP.
 *
 * Rules shared by all of them:
 * - A tunnel header cut by the capture is CF_SKIP_TRUNCATED_TUNNEL.
 * - A payload that is not this tunnel after all (wrong version or flags,
 *   a control message, too short per the lengths, an unknown inner
 *   protocol) leaves the outer packet as the record: NX_DONE before
 *   cf_dec_tunnel_enter was called.
 * - Once entered, inner failures are the inner reason, except a non-IP
 *   inner frame (ARP over VXLAN, ...), which cf_decode_frame turns back
 *   into the outer record.
 */
#include "decode_internal.h"

int cf_dec_tunnel_enter(dctx *c, int type, uint32_t id, uint16_t outer_bits)
{
	cf_pkt *o = c->o;
	uint32_t max = c->opts && c->opts->max_depth ? c->opts->max_depth : 4;

	if (++c->depth > max)
		return NX_FAIL(CF_SKIP_TUNNEL_DEPTH);
	c->saved = *o;
	c->saved.layers |= outer_bits;
	c->have_saved = 1;
	c->have_mac = 1; /* MACs are the outermost Ethernet's */
	c->datapad = 0;  /* the radiotap flag was for the outer 802.11 header */
	c->fc_maybe_swapped = 0;
	o->ip_len = 0;
	o->payload_len = 0;
	o->seq = 0;
	o->ack = 0;
	o->ip_id = 0;
	o->sport = 0;
	o->dport = 0;
	o->tcp_flags = 0;
	o->window = 0;
	o->l3_hdr_len = 0;
	o->l4_hdr_len = 0;
	o->ip_version = 0;
	o->proto = 0;
	o->ttl = 0;
	o->icmp_type = 0;
	o->icmp_code = 0;
	memset(o->src_ip, 0, sizeof o->src_ip);
	memset(o->dst_ip, 0, sizeof o->dst_ip);
	o->tunnel_type = (uint8_t)type;
	o->tunnel_id = id;
	o->flags = CF_PKT_TUNNEL_INNER;
	return 0;
}

/* Fewer than k header bytes at off: cut by the capture, or not this
 * tunnel (the outer lengths leave no room), keep the outer packet. */
static int hdr_short(const dctx *c, size_t k)
{
	return k <= c->rend - c->off ? NX_FAIL(CF_SKIP_TRUNCATED_TUNNEL) : NX_DONE;
}

/* Enters the tunnel with a header of hl bytes, inner layer nx. */
static int enter(dctx *c, int type, uint32_t id, size_t hl, int nx)
{
	int r = cf_dec_tunnel_enter(c, type, id, 0);
	if (r)
		return r;
	c->off += hl;
	return nx;
}

/* ------------------------------------------------------------ GRE */

int cf_dec_gre(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	size_t hl, ppp_hl;
	int ppp = 0;
	unsigned f0, f1, pt;
	uint32_t id = 0;
	int nx, r;

	if (avail < 4)
		return hdr_short(c, 4);
	f0 = p[0];
	f1 = p[1];
	pt = be16(p + 2);
	switch (f1 & 7) {
	case 0:
		if (f0 & 0x40)
			return NX_DONE; /* RFC 1701 source routing: not followed */
		hl = 4;
		if (f0 & 0x80) /* checksum + offset */
			hl += 4;
		if (f0 & 0x20) { /* key */
			if (avail < hl + 4)
				return hdr_short(c, hl + 4);
			id = be32(p + hl);
			hl += 4;
		}
		if (f0 & 0x10) /* sequence number */
			hl += 4;
		if (avail < hl)
			return hdr_short(c, hl);
		switch (pt) {
		case 0x0800:
			nx = NX_IPV4;
			break;
		case 0x86dd:
			nx = NX_IPV6;
			break;
		case 0x6558: /* transparent Ethernet bridging */
			nx = NX_ETH;
			break;
		case 0x8847:
		case 0x8848:
			c->etype = (uint16_t)pt;
			nx = NX_ETYPE;
			break;
		case 0x88be:
			nx = NX_ETH;
			if (!(f0 & 0x10))
				break; /* ERSPAN type I: no header */
			/* type II: version 1, session id in the low 10 bits */
			if (avail < hl + 8)
				return hdr_short(c, hl + 8);
			if ((p[hl] >> 4) != 1)
				return NX_DONE;
			id = be16(p + hl + 2) & 0x3ff;
			hl += 8;
			break;
		case 0x880b: /* PPP (e.g. L2TP-less PPP over GRE) */
			ppp = 1;
			break;
		case 0x22eb: /* ERSPAN type III, +8 with the platform-specific subheader */
			if (avail < hl + 12)
				return hdr_short(c, hl + 12);
			id = be16(p + hl + 2) & 0x3ff;
			hl += (p[hl + 11] & 1) ? 20 : 12;
			if (avail < hl)
				return hdr_short(c, hl);
			nx = NX_ETH;
			break;
		default:
			return NX_DONE;
		}
		break;
	case 1: /* PPTP enhanced GRE: key = payload length, call id */
		if (pt != 0x880b)
			return NX_DONE;
		hl = 8;
		if (f0 & 0x10)
			hl += 4;
		if (f1 & 0x80)
			hl += 4;
		if (avail < hl)
			return hdr_short(c, hl);
		id = be16(p + 6);
		if (be16(p + 4) == 0)
			return NX_DONE; /* acknowledgement only */
		ppp = 1;
		break;
	default:
		return NX_DONE;
	}
	if (ppp) { /* PPP payload (GRE v0 0x880b, PPTP): IP or MPLS inside */
		nx = ppp_peek(p + hl, avail - hl, &ppp_hl);
		if (nx < 0)
			return hdr_short(c, avail + 1);
		if (nx == NX_DONE)
			return NX_DONE; /* LCP, CCP, compressed or encrypted PPP */
		if (nx == NX_ETYPE)
			c->etype = 0x8847;
		hl += ppp_hl;
	}
	r = cf_dec_tunnel_enter(c, CF_TUNNEL_GRE, id, CF_LAYER_OTHER_L4);
	if (r)
		return r;
	c->off += hl;
	return nx;
}

/* ------------------------------------------------------------ UDP tunnels */

static int dec_vxlan(dctx *c, const uint8_t *p, size_t avail)
{
	if (avail < 8)
		return hdr_short(c, 8);
	if (!(p[0] & 0x08))
		return NX_DONE; /* VNI not valid */
	return enter(c, CF_TUNNEL_VXLAN, be32(p + 4) >> 8, 8, NX_ETH);
}

static int dec_geneve(dctx *c, const uint8_t *p, size_t avail)
{
	size_t hl;
	int nx;

	if (avail < 8)
		return hdr_short(c, 8);
	if (p[0] >> 6)
		return NX_DONE; /* version 0 only */
	switch (be16(p + 2)) {
	case 0x6558:
		nx = NX_ETH;
		break;
	case 0x0800:
		nx = NX_IPV4;
		break;
	case 0x86dd:
		nx = NX_IPV6;
		break;
	default:
		return NX_DONE;
	}
	hl = 8 + (size_t)(p[0] & 0x3f) * 4;
	if (avail < hl)
		return hdr_short(c, hl);
	return enter(c, CF_TUNNEL_GENEVE, be32(p + 4) >> 8, hl, nx);
}

/* GTP-U T-PDU: version 1, protocol type GTP, message type 255. */
static int dec_gtp(dctx *c, const uint8_t *p, size_t avail)
{
	size_t hl = 8, el;
	unsigned next;
	int r;

	if (avail < 2)
		return hdr_short(c, 2);
	if ((p[0] >> 5) != 1 || !(p[0] & 0x10) || p[1] != 0xff)
		return NX_DONE; /* GTP' , echo, error indication, end marker, ... */
	if (p[0] & 7)
		hl = 12; /* sequence number, N-PDU number, next extension type */
	if (avail < hl)
		return hdr_short(c, hl);
	if (p[0] & 4) {
		for (next = p[11]; next; next = p[hl - 1]) {
			if (avail < hl + 1)
				return hdr_short(c, hl + 1);
			el = (size_t)p[hl] * 4;
			if (el == 0)
				return NX_DONE; /* malformed extension */
			hl += el;
			if (avail < hl)
				return hdr_short(c, hl);
		}
	}
	if (avail == hl) {
		/* the inner packet's first byte says IPv4 or IPv6 */
		if (hl >= c->rend - c->off)
			return NX_DONE; /* empty T-PDU */
		r = cf_dec_tunnel_enter(c, CF_TUNNEL_GTP, be32(p + 4), 0);
		return r ? r : NX_FAIL(CF_SKIP_TRUNCATED_IP);
	}
	switch (p[hl] >> 4) {
	case 4:
		return enter(c, CF_TUNNEL_GTP, be32(p + 4), hl, NX_IPV4);
	case 6:
		return enter(c, CF_TUNNEL_GTP, be32(p + 4), hl, NX_IPV6);
	}
	return NX_DONE; /* PPP, Ethernet or unstructured PDU sessions */
}

/* Teredo: optional authentication and origin indication, then IPv6 whose
 * payload length fits in the datagram (as Wireshark's heuristic). */
static int dec_teredo(dctx *c, const uint8_t *p, size_t avail)
{
	size_t o = 0, room = c->rend - c->off;

	if (avail >= 4 && be16(p) == 0x0001)
		o = 4 + (size_t)p[2] + p[3] + 9; /* id, auth value, nonce, confirmation */
	if (avail >= o + 2 && be16(p + o) == 0x0000)
		o += 8;
	if (avail < o + 40 || (p[o] >> 4) != 6 || o + 40 + be16(p + o + 4) > room)
		return NX_DONE;
	return enter(c, CF_TUNNEL_TEREDO, 0, o, NX_IPV6);
}

/* CAPWAP data channel: preamble, then HLEN/RID/WBID/T and flags. */
static int dec_capwap(dctx *c, const uint8_t *p, size_t avail)
{
	size_t hl;
	unsigned wbid, t;

	if (avail < 4)
		return hdr_short(c, 4);
	if (p[0] != 0)
		return NX_DONE; /* version 0, type 0 (type 1 is DTLS) */
	hl = (size_t)(p[1] >> 3) * 4;
	wbid = (p[2] >> 1) & 0x1f;
	t = p[2] & 1;
	if (hl < 8 || (p[3] & 0x88))
		return NX_DONE; /* keepalive (K) or fragment (F) */
	if (avail < hl)
		return hdr_short(c, hl);
	if (!t)
		return enter(c, CF_TUNNEL_CAPWAP, 0, hl, NX_ETH);
	if (wbid == 1) {
		int nx = enter(c, CF_TUNNEL_CAPWAP, 0, hl, NX_WLAN);
		c->fc_maybe_swapped = 1;
		return nx;
	}
	return NX_DONE;
}

/* TZSP: version 1, type received/transmitted, encapsulated protocol,
 * tagged fields up to the end tag. */
static int dec_tzsp(dctx *c, const uint8_t *p, size_t avail)
{
	size_t hl = 4;
	int nx;

	if (avail < 4)
		return hdr_short(c, 4);
	if (p[0] != 1 || p[1] > 1)
		return NX_DONE;
	switch (be16(p + 2)) {
	case 1:
		nx = NX_ETH;
		break;
	case 18:
		nx = NX_WLAN;
		break;
	default:
		return NX_DONE;
	}
	for (;;) {
		if (avail < hl + 1)
			return hdr_short(c, hl + 1);
		if (p[hl] == 0) { /* padding */
			hl++;
			continue;
		}
		if (p[hl] == 1) { /* end */
			hl++;
			break;
		}
		if (avail < hl + 2)
			return hdr_short(c, hl + 2);
		hl += 2 + (size_t)p[hl + 1];
	}
	return enter(c, CF_TUNNEL_TZSP, 0, hl, nx);
}

int cf_dec_udp_tunnel(dctx *c)
{
	const uint8_t *p = c->d + c->off;
	size_t avail = c->end - c->off;
	unsigned sp = c->o->sport, dp = c->o->dport;
	uint32_t m = c->decap;

	if (dp == 4789 && (m & CF_DECAP_BIT(CF_TUNNEL_VXLAN)))
		return dec_vxlan(c, p, avail);
	if (dp == 6081 && (m & CF_DECAP_BIT(CF_TUNNEL_GENEVE)))
		return dec_geneve(c, p, avail);
	if ((dp == 2152 || sp == 2152) && (m & CF_DECAP_BIT(CF_TUNNEL_GTP)))
		return dec_gtp(c, p, avail);
	if ((dp == 3544 || sp == 3544) && (m & CF_DECAP_BIT(CF_TUNNEL_TEREDO)))
		return dec_teredo(c, p, avail);
	if ((dp == 5247 || sp == 5247) && (m & CF_DECAP_BIT(CF_TUNNEL_CAPWAP)))
		return dec_capwap(c, p, avail);
	if ((dp == 37008 || sp == 37008) && (m & CF_DECAP_BIT(CF_TUNNEL_TZSP)))
		return dec_tzsp(c, p, avail);
	return NX_DONE;
}

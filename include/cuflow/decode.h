/*
 * The packet decoder: one frame in, one cf_pkt record out.
 *
 * Link layers: Ethernet (with 802.1Q/802.1ad/QinQ tags, MPLS label stacks,
 * PPPoE session, LLC/SNAP), PPP, Linux cooked SLL and SLL2, raw IP
 * (LINKTYPE 12, 14, 101, 228, 229), NULL/LOOP, NFLOG, IEEE 802.11 with
 * and without radiotap (data frames with LLC/SNAP). Network: IPv4 with
 * options and fragments, IPv6 with extension headers (hop-by-hop, routing,
 * destination options, fragment, AH, mobility). Transport: TCP, UDP, ICMP,
 * ICMPv6, SCTP. Tunnels (each can be switched off): GRE incl. ERSPAN I/II,
 * IP-in-IP/6in4/4in6, VXLAN, Geneve, GTP-U, Teredo, CAPWAP data, TZSP; the
 * innermost packet is the one recorded, with its tunnel id.
 *
 * Nothing is ever read past frame->caplen. A header that does not fit in
 * the captured bytes stops decoding with a CF_SKIP_TRUNCATED_* reason; a
 * packet whose headers are complete but whose payload was cut by the
 * snap length is decoded and flagged CF_PKT_TRUNCATED.
 */
#ifndef CUFLOW_DECODE_H
#define CUFLOW_DECODE_H

#include <stdint.h>
#include "cuflow/packet.h"
#include "cuflow/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bit of a tunnel kind in cf_decode_opts.decap. */
#define CF_DECAP_BIT(t) (1u << (t))
#define CF_DECAP_ALL 0x1feu   /* every CF_TUNNEL_* kind */
#define CF_DECAP_NONE 0u

typedef struct cf_decode_opts {
	uint32_t decap;      /* CF_DECAP_BIT set of tunnels to decapsulate */
	uint32_t max_depth;  /* nested encapsulations followed (0 = default 4) */
} cf_decode_opts;

/* Defaults: decapsulate every tunnel kind, depth 4. */
void cf_decode_opts_default(cf_decode_opts *o);

/* Parses a --decap list: "all", "none", or comma-separated names from
 * gre, ipip, vxlan, geneve, gtp, teredo, capwap, tzsp. Returns CF_OK or
 * CF_ERR_ARG with a message naming the bad word in errbuf. */
int cf_decode_parse_decap(const char *list, uint32_t *decap, char *errbuf);

/* Decodes one frame. Always fills *out (timestamps, lengths, link type and
 * whatever layers were decoded) and returns out->skip: CF_SKIP_NONE when
 * an IP 5-tuple was found, else the reason. Pure: no allocation, no
 * global state, safe from any number of threads. */
int cf_decode_frame(const cf_decode_opts *opts, const cf_frame *frame, cf_pkt *out);

/* Reads up to max frames from r and decodes each into out[0..*n), the
 * records cf_reader_next + cf_decode_frame would give, faster (the common
 * pcap/Ethernet record is walked and decoded in one inlined loop).
 * Returns CF_OK with *n >= 1, or, with *n == 0, what cf_reader_next
 * returned: CF_EOF or the reader's sticky error. A frame's data is not
 * kept: use cf_reader_next when a frame's bytes are needed (a filter). */
int cf_read_decode(cf_reader *r, const cf_decode_opts *opts, cf_pkt *out, size_t max, size_t *n);

#ifdef __cplusplus
}
#endif

#endif

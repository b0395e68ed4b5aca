/*
 * Shared by the fuzz targets: decode options from a byte, and the checks
 * every decoded frame must pass whatever its bytes (contracts written in
 * include/cuflow/decode.h and packet.h).
 *
 * A broken contract that matters (wrong status, out-of-range enum, output
 * that depends on what was in *out before the call) aborts, so libFuzzer
 * saves the input as a crash. Memory errors are ASan's and UBSan's job.
 */
#ifndef CUFLOW_FUZZ_COMMON_H
#define CUFLOW_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"

#define FUZZ_FAIL(...)                                                    \
	do {                                                              \
		fprintf(stderr, "cuflow fuzz contract violated: " __VA_ARGS__); \
		fputc('\n', stderr);                                      \
		abort();                                                  \
	} while (0)

/* Decode options from one byte: the tunnel set is the byte inverted
 * (0x00 = every kind, the default; 0xff = none); max_depth comes from
 * `depth_sel` (0 = default; 15 = UINT32_MAX, which must not matter). */
static inline void fuzz_opts_from_bytes(uint8_t decap_sel, uint8_t depth_sel, cf_decode_opts *o)
{
	cf_decode_opts_default(o);
	o->decap = ((uint32_t)(uint8_t)~decap_sel << 1) & CF_DECAP_ALL;
	depth_sel &= 0x0f;
	o->max_depth = depth_sel == 15 ? UINT32_MAX : depth_sel;
}

static inline int fuzz_pkt_equal(const cf_pkt *a, const cf_pkt *b)
{
	/* Field by field: padding may differ. */
#define EQ(f) (memcmp(&a->f, &b->f, sizeof a->f) == 0)
	return EQ(ts_ns) && EQ(caplen) && EQ(wirelen) && EQ(ip_len) && EQ(payload_len) &&
	       EQ(seq) && EQ(ack) && EQ(ip_id) && EQ(tunnel_id) && EQ(linktype) && EQ(layers) &&
	       EQ(vlan) && EQ(sport) && EQ(dport) && EQ(tcp_flags) && EQ(window) &&
	       EQ(l3_hdr_len) && EQ(l4_hdr_len) && EQ(ip_version) && EQ(proto) && EQ(ttl) &&
	       EQ(vlan_count) && EQ(icmp_type) && EQ(icmp_code) && EQ(tunnel_type) && EQ(skip) &&
	       EQ(flags) && EQ(mpls_count) && EQ(src_mac) && EQ(dst_mac) && EQ(src_ip) &&
	       EQ(dst_ip);
#undef EQ
}

/* Decodes `f` twice, into records pre-filled with 0x00 and with 0xff, and
 * checks the documented contracts: the function always fills *out, is
 * pure (same answer twice), returns out->skip, and copies the frame's
 * timestamp, lengths and link type. */
static inline void fuzz_decode_check(const cf_decode_opts *o, const cf_frame *f)
{
	cf_pkt a, b;
	memset(&a, 0x00, sizeof a);
	memset(&b, 0xff, sizeof b);
	int ra = cf_decode_frame(o, f, &a);
	int rb = cf_decode_frame(o, f, &b);

	if (ra != rb)
		FUZZ_FAIL("cf_decode_frame returned %d then %d for the same frame", ra, rb);
	if (ra != a.skip)
		FUZZ_FAIL("cf_decode_frame returned %d but out->skip is %d", ra, a.skip);
	if (a.skip >= CF_SKIP_COUNT)
		FUZZ_FAIL("skip reason %d out of range", a.skip);
	if (!fuzz_pkt_equal(&a, &b))
		FUZZ_FAIL("cf_decode_frame output depends on what *out held before "
		          "(a field is left unwritten), or the decoder is not pure");
	if (a.tunnel_type >= CF_TUNNEL_COUNT)
		FUZZ_FAIL("tunnel_type %d out of range", a.tunnel_type);
	if (a.ts_ns != f->ts_ns || a.caplen != f->caplen || a.wirelen != f->wirelen ||
	    a.linktype != (uint16_t)f->linktype)
		FUZZ_FAIL("ts/caplen/wirelen/linktype not copied from the frame");
	if (a.ip_version != 0 && a.ip_version != 4 && a.ip_version != 6)
		FUZZ_FAIL("ip_version %d", a.ip_version);
	if (a.skip == CF_SKIP_NONE && a.ip_version == 0)
		FUZZ_FAIL("CF_SKIP_NONE without an IP version");
	if (cf_skip_name(a.skip) == NULL || cf_tunnel_name(a.tunnel_type) == NULL)
		FUZZ_FAIL("NULL skip/tunnel name");
}

#endif

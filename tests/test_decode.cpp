// The packet decoder: frames built byte by byte, expected values computed
// by hand from the bytes written; truncation sweeps, random input, and a
// cross-check of the innermost addresses and ports against tshark.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

// host/decode/decode_internal.h: cf_decode_frame without its fast path.
extern "C" int cf_dec_frame_general(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *o);

using Bytes = std::vector<uint8_t>;
using cft::cat;

namespace {

const uint8_t MAC_A[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
const uint8_t MAC_B[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
const uint8_t MAC_C[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0c};
const uint8_t MAC_D[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0d};
const uint8_t V6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const uint8_t V6_B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};
const uint8_t V6_C[16] = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd};
const uint8_t V6_D[16] = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};

constexpr uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return a << 24 | b << 16 | c << 8 | d;
}
const uint32_t A4 = ip4(192, 168, 1, 10), B4 = ip4(10, 1, 2, 3);
const uint32_t C4 = ip4(172, 16, 0, 1), D4 = ip4(172, 16, 0, 2);

Bytes operator+(Bytes a, const Bytes &b) { return cat(std::move(a), b); }
Bytes be16(unsigned v) { return {(uint8_t)(v >> 8), (uint8_t)v}; }
Bytes be32(uint32_t v) { return {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v}; }
Bytes le16(unsigned v) { return {(uint8_t)v, (uint8_t)(v >> 8)}; }
Bytes fill(size_t n, uint8_t b = 0) { return Bytes(n, b); }

Bytes eth(uint16_t type, const uint8_t *dst = MAC_B, const uint8_t *src = MAC_A)
{
	return cft::eth(dst, src, type);
}
Bytes tcp(uint16_t sp, uint16_t dp, uint16_t flags = 0x18, size_t payload = 0)
{
	return cft::tcp(sp, dp, 1000, 2000, flags, 512, payload);
}
Bytes udp(uint16_t sp, uint16_t dp, const Bytes &payload) { return cft::udp(sp, dp, payload); }
Bytes v4(uint32_t s, uint32_t d, uint8_t proto, const Bytes &payload, uint8_t ttl = 64, uint16_t id = 1,
         uint16_t frag = 0)
{
	return cft::ipv4(s, d, proto, payload, ttl, id, frag);
}
Bytes v6(const uint8_t *s, const uint8_t *d, uint8_t next, const Bytes &payload, uint8_t hlim = 64)
{
	return cft::ipv6(s, d, next, payload, hlim);
}

// IPv4 header options: IHL and total length grow with them.
Bytes with_ip_options(Bytes ip, const Bytes &opts)
{
	ip.insert(ip.begin() + 20, opts.begin(), opts.end());
	ip[0] = (uint8_t)(0x40 | (20 + opts.size()) / 4);
	unsigned tot = (unsigned)ip.size();
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	return ip;
}
// TCP options: data offset grows with them (NS bit kept).
Bytes with_tcp_options(Bytes t, const Bytes &opts)
{
	t.insert(t.begin() + 20, opts.begin(), opts.end());
	t[12] = (uint8_t)(((20 + opts.size()) / 4) << 4 | (t[12] & 1));
	return t;
}
// IPv6 extension header of (units + 1) * 8 bytes (HBH, routing, dest opts).
Bytes ext8(uint8_t next, uint8_t units) { return Bytes{next, units} + fill(6 + 8u * units); }

Bytes vxlan(uint32_t vni) { return Bytes{0x08, 0, 0, 0} + be32(vni << 8); }
Bytes llc_snap(uint16_t type) { return Bytes{0xaa, 0xaa, 0x03, 0, 0, 0} + be16(type); }

// 802.11 data frame header (FC, duration, addr1..3, sequence control).
Bytes wlan_data(uint8_t fc0, uint8_t fc1, const uint8_t *a1 = MAC_B, const uint8_t *a2 = MAC_A)
{
	Bytes h = {fc0, fc1, 0, 0};
	h.insert(h.end(), a1, a1 + 6);
	h.insert(h.end(), a2, a2 + 6);
	h.insert(h.end(), MAC_C, MAC_C + 6);
	return h + Bytes{0x10, 0x00};
}

// Decodes a copy of the first `cap` bytes in a buffer of exactly that size,
// so that AddressSanitizer sees any read past the captured length.
cf_pkt dec(uint32_t lt, const Bytes &b, const cf_decode_opts *o = nullptr, size_t cap = SIZE_MAX,
           uint32_t wire = 0)
{
	size_t n = std::min(cap, b.size());
	std::unique_ptr<uint8_t[]> buf(n ? new uint8_t[n] : nullptr);
	if (n)
		memcpy(buf.get(), b.data(), n);
	cf_frame f{};
	f.ts_ns = 1234567890123;
	f.caplen = (uint32_t)n;
	f.wirelen = wire ? wire : (uint32_t)b.size();
	f.linktype = lt;
	f.data = buf.get();
	cf_pkt p, g;
	memset(&p, 0xa5, sizeof p); // the decoder must overwrite everything
	memset(&g, 0x5a, sizeof g);
	int r = cf_decode_frame(o, &f, &p);
	EXPECT_EQ(r, p.skip);
	// the fast path for plain TCP/UDP over IPv4 agrees with the general decoder
	EXPECT_EQ(cf_dec_frame_general(o, &f, &g), r);
	EXPECT_EQ(memcmp(&p, &g, sizeof p), 0) << "fast and general paths differ, linktype " << lt << " caplen " << n;
	return p;
}

cf_decode_opts opts(uint32_t decap, uint32_t depth = 0)
{
	cf_decode_opts o;
	o.decap = decap;
	o.max_depth = depth;
	return o;
}

std::string addr(const cf_pkt &p, bool src)
{
	char s[INET6_ADDRSTRLEN] = "";
	const uint8_t *a = src ? p.src_ip : p.dst_ip;
	if (p.ip_version == 4)
		inet_ntop(AF_INET, a, s, sizeof s);
	else if (p.ip_version == 6)
		inet_ntop(AF_INET6, a, s, sizeof s);
	return s;
}
std::string src(const cf_pkt &p) { return addr(p, true); }
std::string dst(const cf_pkt &p) { return addr(p, false); }
bool mac_is(const uint8_t *m, const uint8_t *want) { return memcmp(m, want, 6) == 0; }

const char *sk(int s) { return cf_skip_name(s); }

#define EXPECT_SKIP(p, s) EXPECT_STREQ(sk((p).skip), sk(s))

// Ethernet/IPv4/TCP, the reference frame: 14 + 20 + 20 + 10 bytes.
Bytes frame_eth_v4_tcp()
{
	return eth(0x0800) + v4(A4, B4, 6, cft::tcp(40000, 443, 0x01020304, 0xa0b0c0d0, 0x1d2, 0xffee, 10), 63,
	                        0x4242);
}

} // namespace

// ------------------------------------------------------------ names, options

TEST(DecodeNames, SkipAndTunnelNames)
{
	const char *want[] = {"none",           "unknown_linktype",    "non_ip",           "truncated_link",
	                      "truncated_ip",   "truncated_transport", "truncated_tunnel", "bad_link",
	                      "bad_ip",         "bad_transport",       "nonfirst_fragment", "tunnel_depth",
	                      "filtered"};
	ASSERT_EQ(sizeof want / sizeof *want, (size_t)CF_SKIP_COUNT);
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		EXPECT_STREQ(cf_skip_name(i), want[i]);
	EXPECT_STREQ(cf_skip_name(-1), "unknown");
	EXPECT_STREQ(cf_skip_name(CF_SKIP_COUNT), "unknown");
	const char *tun[] = {"none", "gre", "ipip", "vxlan", "geneve", "gtp", "teredo", "capwap", "tzsp"};
	ASSERT_EQ(sizeof tun / sizeof *tun, (size_t)CF_TUNNEL_COUNT);
	for (int i = 0; i < CF_TUNNEL_COUNT; i++)
		EXPECT_STREQ(cf_tunnel_name(i), tun[i]);
	EXPECT_STREQ(cf_tunnel_name(-3), "unknown");
	EXPECT_STREQ(cf_tunnel_name(CF_TUNNEL_COUNT), "unknown");
}

TEST(DecodeOpts, DefaultsAndDecapList)
{
	cf_decode_opts o;
	memset(&o, 0xff, sizeof o);
	cf_decode_opts_default(&o);
	EXPECT_EQ(o.decap, 0x1feu);
	EXPECT_EQ(o.max_depth, 4u);

	char err[CF_ERRBUF_SIZE];
	uint32_t d = 7;
	EXPECT_EQ(cf_decode_parse_decap("all", &d, err), CF_OK);
	EXPECT_EQ(d, 0x1feu);
	EXPECT_EQ(cf_decode_parse_decap("none", &d, err), CF_OK);
	EXPECT_EQ(d, 0u);
	EXPECT_EQ(cf_decode_parse_decap("gre,vxlan", &d, err), CF_OK);
	EXPECT_EQ(d, (1u << 1) | (1u << 3));
	EXPECT_EQ(cf_decode_parse_decap(" GTP , teredo,tzsp", &d, err), CF_OK);
	EXPECT_EQ(d, (1u << 5) | (1u << 6) | (1u << 8));
	EXPECT_EQ(cf_decode_parse_decap("ipip,geneve,capwap", &d, err), CF_OK);
	EXPECT_EQ(d, (1u << 2) | (1u << 4) | (1u << 7));

	d = 99;
	EXPECT_EQ(cf_decode_parse_decap("gre,mpls", &d, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("\"mpls\""), std::string::npos) << err;
	EXPECT_EQ(d, 99u); // untouched on error
	EXPECT_EQ(cf_decode_parse_decap("gre,,vxlan", &d, err), CF_ERR_ARG);
	EXPECT_EQ(cf_decode_parse_decap("", &d, err), CF_ERR_ARG);
	EXPECT_EQ(cf_decode_parse_decap("vxlanx", &d, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("vxlanx"), std::string::npos) << err;
	EXPECT_EQ(cf_decode_parse_decap("gre", &d, nullptr), CF_OK);
	EXPECT_EQ(cf_decode_parse_decap("bogus", &d, nullptr), CF_ERR_ARG);
}

// ------------------------------------------------------------ Ethernet, IPv4, TCP

TEST(DecodeEthernet, Ipv4TcpEveryField)
{
	Bytes f = frame_eth_v4_tcp();
	ASSERT_EQ(f.size(), 64u);
	cf_pkt p = dec(1, f, nullptr, SIZE_MAX, 1514);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ts_ns, 1234567890123);
	EXPECT_EQ(p.caplen, 64u);
	EXPECT_EQ(p.wirelen, 1514u);
	EXPECT_EQ(p.linktype, 1);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	EXPECT_TRUE(mac_is(p.dst_mac, MAC_B));
	EXPECT_EQ(p.ip_version, 4);
	EXPECT_EQ(src(p), "192.168.1.10");
	EXPECT_EQ(dst(p), "10.1.2.3");
	for (int i = 4; i < 16; i++)
		EXPECT_EQ(p.src_ip[i] | p.dst_ip[i], 0);
	EXPECT_EQ(p.proto, 6);
	EXPECT_EQ(p.ttl, 63);
	EXPECT_EQ(p.ip_id, 0x4242u);
	EXPECT_EQ(p.sport, 40000);
	EXPECT_EQ(p.dport, 443);
	EXPECT_EQ(p.seq, 0x01020304u);
	EXPECT_EQ(p.ack, 0xa0b0c0d0u);
	EXPECT_EQ(p.tcp_flags, CF_TCP_NS | CF_TCP_CWR | CF_TCP_ECE | CF_TCP_ACK | CF_TCP_SYN);
	EXPECT_EQ(p.window, 0xffee);
	EXPECT_EQ(p.ip_len, 50u);
	EXPECT_EQ(p.l3_hdr_len, 20);
	EXPECT_EQ(p.l4_hdr_len, 20);
	EXPECT_EQ(p.payload_len, 10u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP);
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(p.vlan_count, 0);
	EXPECT_EQ(p.vlan[0] | p.vlan[1], 0);
	EXPECT_EQ(p.mpls_count, 0);
	EXPECT_EQ(p.tunnel_type, 0);
	EXPECT_EQ(p.tunnel_id, 0u);
	EXPECT_EQ(p.icmp_type | p.icmp_code, 0);
}

TEST(DecodeEthernet, TcpFlagBitsOneByOne)
{
	// flags byte 13 bit by bit, NS from byte 12 bit 0
	const uint16_t bits[] = {CF_TCP_FIN, CF_TCP_SYN, CF_TCP_RST, CF_TCP_PSH, CF_TCP_ACK,
	                         CF_TCP_URG, CF_TCP_ECE, CF_TCP_CWR, CF_TCP_NS};
	for (uint16_t b : bits) {
		Bytes f = eth(0x0800) + v4(A4, B4, 6, cft::tcp(1, 2, 0, 0, b, 0, 0));
		cf_pkt p = dec(1, f);
		EXPECT_EQ(p.tcp_flags, b);
		EXPECT_EQ(p.payload_len, 0u);
	}
}

TEST(DecodeEthernet, Ipv6UdpAndPadding)
{
	// UDP 8 + 4 payload in IPv6, then 6 bytes of Ethernet padding
	Bytes f = eth(0x86dd) + v6(V6_A, V6_B, 17, udp(5353, 53, {1, 2, 3, 4}), 255) + fill(6, 0xee);
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(src(p), "2001:db8::1");
	EXPECT_EQ(dst(p), "2001:db8::2");
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.ttl, 255);
	EXPECT_EQ(p.sport, 5353);
	EXPECT_EQ(p.dport, 53);
	EXPECT_EQ(p.ip_len, 52u); // payload length 12 + 40
	EXPECT_EQ(p.l3_hdr_len, 40);
	EXPECT_EQ(p.l4_hdr_len, 8);
	EXPECT_EQ(p.payload_len, 4u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV6 | CF_LAYER_UDP);
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(p.ip_id, 0u);
}

TEST(DecodeEthernet, IcmpEchoAndOthers)
{
	// echo request: type 8, code 0, checksum, identifier 0x1234, sequence 7, 4 data bytes
	Bytes echo = {8, 0, 0, 0, 0x12, 0x34, 0, 7, 'a', 'b', 'c', 'd'};
	cf_pkt p = dec(1, eth(0x0800) + v4(A4, B4, 1, echo));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.proto, 1);
	EXPECT_EQ(p.icmp_type, 8);
	EXPECT_EQ(p.icmp_code, 0);
	EXPECT_EQ(p.sport, 0x1234);
	EXPECT_EQ(p.dport, 0);
	EXPECT_EQ(p.l4_hdr_len, 8);
	EXPECT_EQ(p.payload_len, 4u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_ICMP);

	// port unreachable: no identifier
	Bytes unr = {3, 3, 0, 0, 0, 0, 0, 0};
	p = dec(1, eth(0x0800) + v4(A4, B4, 1, unr));
	EXPECT_EQ(p.icmp_type, 3);
	EXPECT_EQ(p.icmp_code, 3);
	EXPECT_EQ(p.sport, 0);

	// only 4 ICMP bytes in the datagram: type and code still there
	p = dec(1, eth(0x0800) + v4(A4, B4, 1, {0, 0, 0xff, 0xff}));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.icmp_type, 0);
	EXPECT_EQ(p.sport, 0);
	EXPECT_EQ(p.l4_hdr_len, 4);
	EXPECT_EQ(p.payload_len, 0u);

	// 3 bytes: the datagram says so (bad), or the capture cut it (truncated)
	p = dec(1, eth(0x0800) + v4(A4, B4, 1, {8, 0, 0}));
	EXPECT_SKIP(p, CF_SKIP_BAD_TRANSPORT);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_ICMP);
	p = dec(1, eth(0x0800) + v4(A4, B4, 1, echo), nullptr, 14 + 20 + 3);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TRANSPORT);

	// ICMPv6 echo reply 129, identifier 0xbeef
	Bytes e6 = {129, 0, 0, 0, 0xbe, 0xef, 0, 1};
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 58, e6));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.proto, 58);
	EXPECT_EQ(p.icmp_type, 129);
	EXPECT_EQ(p.sport, 0xbeef);
	EXPECT_EQ(p.layers, CF_LAYER_IPV6 | CF_LAYER_ICMPV6);
	// neighbour solicitation 135: no identifier
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 58, Bytes{135, 0, 0, 0} + fill(20)));
	EXPECT_EQ(p.icmp_type, 135);
	EXPECT_EQ(p.sport, 0);
	EXPECT_EQ(p.payload_len, 16u); // 24 - 8
}

TEST(DecodeEthernet, SctpAndOtherProtocols)
{
	// SCTP common header: ports 2905 -> 2944, verification tag, checksum; one 16-byte chunk
	Bytes sctp = be16(2905) + be16(2944) + be32(0xdeadbeef) + be32(0) + fill(16, 1);
	cf_pkt p = dec(1, eth(0x0800) + v4(A4, B4, 132, sctp));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 2905);
	EXPECT_EQ(p.dport, 2944);
	EXPECT_EQ(p.l4_hdr_len, 12);
	EXPECT_EQ(p.payload_len, 16u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_SCTP);

	// IGMP (2), ESP (50), OSPF (89): no ports, other L4
	for (uint8_t proto : {2, 50, 89}) {
		p = dec(1, eth(0x0800) + v4(A4, B4, proto, fill(24, 3)));
		EXPECT_SKIP(p, CF_SKIP_NONE);
		EXPECT_EQ(p.proto, proto);
		EXPECT_EQ(p.sport | p.dport, 0);
		EXPECT_EQ(p.l4_hdr_len, 0);
		EXPECT_EQ(p.payload_len, 24u);
		EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_OTHER_L4);
	}
}

TEST(DecodeEthernet, VlanQinQAndTripleTags)
{
	// one 802.1Q tag: PCP 5, VID 100
	Bytes f = eth(0x8100) + be16(0xa064) + be16(0x0800) + v4(A4, B4, 6, tcp(1, 2));
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.vlan_count, 1);
	EXPECT_EQ(p.vlan[0], 100);
	EXPECT_EQ(p.vlan[1], 0);
	EXPECT_EQ(p.layers, CF_LAYER_VLAN | CF_LAYER_IPV4 | CF_LAYER_TCP);

	// 802.1ad outer 0xfff, 802.1Q inner 7, IPv6
	f = eth(0x88a8) + be16(0x0fff) + be16(0x8100) + be16(0x2007) + be16(0x86dd) +
	    v6(V6_A, V6_B, 17, udp(1, 2, {}));
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.vlan_count, 2);
	EXPECT_EQ(p.vlan[0], 0xfff);
	EXPECT_EQ(p.vlan[1], 7);
	EXPECT_EQ(p.ip_version, 6);

	// three tags (0x9100, 0x9200, 0x8100): ids of the first two, count 3
	f = eth(0x9100) + be16(10) + be16(0x9200) + be16(20) + be16(0x8100) + be16(30) + be16(0x0800) +
	    v4(A4, B4, 17, udp(7, 9, {}));
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.vlan_count, 3);
	EXPECT_EQ(p.vlan[0], 10);
	EXPECT_EQ(p.vlan[1], 20);
	EXPECT_EQ(p.sport, 7);

	// tag cut in the middle
	p = dec(1, eth(0x8100) + be16(5) + be16(0x0800), nullptr, 16);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(p.layers, CF_LAYER_VLAN);
	// ARP inside a VLAN
	p = dec(1, eth(0x8100) + be16(5) + be16(0x0806) + fill(28));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.layers, CF_LAYER_VLAN | CF_LAYER_ARP);
	EXPECT_EQ(p.vlan[0], 5);
}

TEST(DecodeEthernet, MplsStacksAndPseudowire)
{
	// two labels (16, 17 bottom of stack), IPv4 TCP
	Bytes f = eth(0x8847) + Bytes{0x00, 0x01, 0x00, 0x40} + Bytes{0x00, 0x01, 0x11, 0x3f} +
	          v4(A4, B4, 6, tcp(1000, 22, 0x10, 5));
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.mpls_count, 2);
	EXPECT_EQ(p.dport, 22);
	EXPECT_EQ(p.payload_len, 5u);
	EXPECT_EQ(p.layers, CF_LAYER_MPLS | CF_LAYER_IPV4 | CF_LAYER_TCP);

	// one label, IPv6
	f = eth(0x8848) + Bytes{0x00, 0x02, 0x01, 0x40} + v6(V6_A, V6_B, 17, udp(3, 4, {}));
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.mpls_count, 1);
	EXPECT_EQ(p.ip_version, 6);

	// pseudowire: label, control word, Ethernet (its MACs are not recorded), VLAN, IPv4
	f = eth(0x8847) + Bytes{0x00, 0x03, 0x01, 0x40} + fill(4) + eth(0x8100, MAC_D, MAC_C) + be16(42) +
	    be16(0x0800) + v4(C4, D4, 17, udp(53, 1053, {}));
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	EXPECT_TRUE(mac_is(p.dst_mac, MAC_B));
	EXPECT_EQ(p.mpls_count, 1);
	EXPECT_EQ(p.vlan_count, 1);
	EXPECT_EQ(p.vlan[0], 42);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(p.layers, CF_LAYER_MPLS | CF_LAYER_VLAN | CF_LAYER_IPV4 | CF_LAYER_UDP);
	EXPECT_EQ(p.tunnel_type, 0);

	// no bottom of stack before the end of the capture
	p = dec(1, eth(0x8847) + Bytes{0, 1, 0, 0x40, 0, 1, 0});
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_LINK);
	// payload nibble 1 (associated channel): not IP
	p = dec(1, eth(0x8847) + Bytes{0, 1, 1, 0x40} + Bytes{0x10, 0, 0, 0x21} + fill(20));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
}

TEST(DecodeEthernet, PppoeSession)
{
	// ver/type 0x11, code 0, session 0x0abc, length 2 + 40, PPP IPv4
	Bytes ip = v4(A4, B4, 6, tcp(1, 2, 0x02));
	Bytes f = eth(0x8864) + Bytes{0x11, 0x00, 0x0a, 0xbc} + be16(2 + ip.size()) + be16(0x0021) + ip;
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.layers, CF_LAYER_PPPOE | CF_LAYER_IPV4 | CF_LAYER_TCP);
	EXPECT_EQ(p.tcp_flags, CF_TCP_SYN);
	// PPP IPv6
	Bytes ip6 = v6(V6_A, V6_B, 17, udp(546, 547, {}));
	f = eth(0x8864) + Bytes{0x11, 0x00, 0x00, 0x01} + be16(2 + ip6.size()) + be16(0x0057) + ip6;
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.dport, 547);
	// LCP echo: not IP
	f = eth(0x8864) + Bytes{0x11, 0x00, 0x00, 0x01, 0x00, 0x0a, 0xc0, 0x21} + fill(8);
	p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.layers, CF_LAYER_PPPOE);
	// discovery (0x8863): not IP
	EXPECT_EQ(dec(1, eth(0x8863) + fill(30)).skip, CF_SKIP_NON_IP);
	// wrong version/type
	EXPECT_EQ(dec(1, eth(0x8864) + Bytes{0x21, 0, 0, 1, 0, 2, 0, 0x21}).skip, CF_SKIP_BAD_LINK);
	// LINKTYPE_PPP_ETHER (51): PPPoE header first
	f = Bytes{0x11, 0x00, 0x0a, 0xbc} + be16(2 + ip.size()) + be16(0x0021) + ip;
	p = dec(51, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.layers, CF_LAYER_PPPOE | CF_LAYER_IPV4 | CF_LAYER_TCP);
	EXPECT_EQ(src(p), "192.168.1.10");
}

TEST(DecodeEthernet, ArpLlcAndOtherEthertypes)
{
	cf_pkt p = dec(1, eth(0x0806, MAC_B, MAC_A) + fill(28));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.layers, CF_LAYER_ARP);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	EXPECT_EQ(p.ip_version, 0);

	// 802.3 length + LLC/SNAP carrying IPv4
	Bytes ip = v4(A4, B4, 17, udp(67, 68, fill(4)));
	p = dec(1, eth((uint16_t)(8 + ip.size())) + llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 67);
	EXPECT_EQ(p.payload_len, 4u);
	// 802.3 + STP LLC (42 42 03)
	p = dec(1, eth(38) + Bytes{0x42, 0x42, 0x03} + fill(35));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.layers, 0);
	// LLDP, IPX, ...
	EXPECT_EQ(dec(1, eth(0x88cc) + fill(40)).skip, CF_SKIP_NON_IP);
	EXPECT_EQ(dec(1, eth(0x8137) + fill(40)).skip, CF_SKIP_NON_IP);
	// short Ethernet header
	EXPECT_EQ(dec(1, fill(13)).skip, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(dec(1, {}).skip, CF_SKIP_TRUNCATED_LINK);
	// link type cuflow does not decode
	p = dec(147, frame_eth_v4_tcp());
	EXPECT_SKIP(p, CF_SKIP_UNKNOWN_LINKTYPE);
	EXPECT_EQ(p.linktype, 147);
	EXPECT_EQ(p.layers, 0);
	EXPECT_EQ(p.caplen, 64u);
}

// ------------------------------------------------------------ other link types

TEST(DecodeLink, NullAndLoop)
{
	Bytes ip4p = v4(A4, B4, 6, tcp(10, 20));
	Bytes ip6p = v6(V6_A, V6_B, 17, udp(30, 40, {}));
	// NULL: family in the capturing machine's order, little- or big-endian
	cf_pkt p = dec(0, Bytes{2, 0, 0, 0} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 10);
	EXPECT_EQ(dec(0, Bytes{0, 0, 0, 2} + ip4p).skip, CF_SKIP_NONE);
	for (uint8_t af : {10, 24, 28, 30}) {
		p = dec(0, Bytes{af, 0, 0, 0} + ip6p);
		EXPECT_SKIP(p, CF_SKIP_NONE) << (int)af;
		EXPECT_EQ(p.ip_version, 6);
		EXPECT_EQ(p.dport, 40);
		EXPECT_EQ(dec(0, Bytes{0, 0, 0, af} + ip6p).skip, CF_SKIP_NONE) << (int)af;
	}
	EXPECT_EQ(dec(0, Bytes{7, 0, 0, 0} + ip4p).skip, CF_SKIP_NON_IP);
	EXPECT_EQ(dec(0, Bytes{2, 0, 0}).skip, CF_SKIP_TRUNCATED_LINK);
	// LOOP: network order
	p = dec(108, Bytes{0, 0, 0, 2} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(dst(p), "10.1.2.3");
	p = dec(108, Bytes{0, 0, 0, 30} + ip6p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(src(p), "2001:db8::1");
	// the family says IPv4, the bytes are IPv6
	EXPECT_EQ(dec(108, Bytes{0, 0, 0, 2} + ip6p).skip, CF_SKIP_BAD_IP);
}

TEST(DecodeLink, PppAndPppHdlc)
{
	Bytes ip4p = v4(A4, B4, 6, tcp(10, 20));
	Bytes ip6p = v6(V6_A, V6_B, 17, udp(30, 40, {}));
	// address/control + 2-byte protocol
	cf_pkt p = dec(9, Bytes{0xff, 0x03, 0x00, 0x21} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP);
	// no address/control
	EXPECT_EQ(dec(9, Bytes{0x00, 0x21} + ip4p).skip, CF_SKIP_NONE);
	// compressed 1-byte protocol
	EXPECT_EQ(dec(9, Bytes{0x21} + ip4p).skip, CF_SKIP_NONE);
	p = dec(9, Bytes{0xff, 0x03, 0x57} + ip6p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_version, 6);
	p = dec(50, Bytes{0xff, 0x03, 0x00, 0x57} + ip6p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 30);
	// LCP
	EXPECT_EQ(dec(50, Bytes{0xff, 0x03, 0xc0, 0x21} + fill(10)).skip, CF_SKIP_NON_IP);
	EXPECT_EQ(dec(9, Bytes{0xff, 0x03, 0x00}).skip, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(dec(9, Bytes{0xff}).skip, CF_SKIP_TRUNCATED_LINK);
	// PPP_HDLC holding Cisco HDLC framing
	p = dec(50, Bytes{0x0f, 0x00, 0x08, 0x00} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.dport, 20);
}

TEST(DecodeLink, CiscoHdlc)
{
	Bytes ip4p = v4(A4, B4, 17, udp(161, 162, fill(3)));
	cf_pkt p = dec(104, Bytes{0x0f, 0x00, 0x08, 0x00} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 161);
	EXPECT_EQ(p.payload_len, 3u);
	p = dec(104, Bytes{0x8f, 0x00, 0x86, 0xdd} + v6(V6_A, V6_B, 6, tcp(5, 6)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_version, 6);
	// SLARP
	EXPECT_EQ(dec(104, Bytes{0x8f, 0x00, 0x80, 0x35} + fill(20)).skip, CF_SKIP_NON_IP);
	EXPECT_EQ(dec(104, Bytes{0x0f, 0x00, 0x08}).skip, CF_SKIP_TRUNCATED_LINK);
	// MPLS over Cisco HDLC
	p = dec(104, Bytes{0x0f, 0x00, 0x88, 0x47, 0, 1, 1, 0x40} + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.mpls_count, 1);
}

TEST(DecodeLink, LinuxCookedV1AndV2)
{
	Bytes ip4p = v4(A4, B4, 6, tcp(443, 50000, 0x11, 7));
	// SLL: packet type 4 (outgoing), ARPHRD_ETHER, address length 6, MAC + 2 pad, protocol
	Bytes sll = Bytes{0x00, 0x04, 0x00, 0x01, 0x00, 0x06};
	sll.insert(sll.end(), MAC_C, MAC_C + 6);
	sll = sll + Bytes{0, 0} + be16(0x0800);
	ASSERT_EQ(sll.size(), 16u);
	cf_pkt p = dec(113, sll + ip4p);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_C));
	EXPECT_EQ(p.sport, 443);
	EXPECT_EQ(p.tcp_flags, CF_TCP_FIN | CF_TCP_ACK);
	EXPECT_EQ(p.payload_len, 7u);
	// protocol 0x0004 (802.2 LLC): not IP, even with SNAP/IP after it
	Bytes llc = sll;
	llc[14] = 0x00;
	llc[15] = 0x04;
	EXPECT_EQ(dec(113, llc + llc_snap(0x0800) + ip4p).skip, CF_SKIP_NON_IP);
	// VLAN tag reinserted by libpcap
	Bytes vl = sll;
	vl[14] = 0x81;
	vl[15] = 0x00;
	p = dec(113, vl + be16(300) + be16(0x86dd) + v6(V6_A, V6_B, 17, udp(1, 2, {})));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.vlan[0], 300);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(dec(113, fill(15)).skip, CF_SKIP_TRUNCATED_LINK);

	// SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address
	Bytes sll2 = be16(0x86dd) + Bytes{0, 0} + be32(3) + be16(1) + Bytes{0, 6};
	sll2.insert(sll2.end(), MAC_D, MAC_D + 6);
	sll2 = sll2 + Bytes{0, 0};
	ASSERT_EQ(sll2.size(), 20u);
	p = dec(276, sll2 + v6(V6_B, V6_A, 6, tcp(22, 60000)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_D));
	EXPECT_EQ(src(p), "2001:db8::2");
	EXPECT_EQ(p.dport, 60000);
	Bytes arp2 = sll2;
	arp2[0] = 0x08;
	arp2[1] = 0x06;
	p = dec(276, arp2 + fill(28));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.layers, CF_LAYER_ARP);
	EXPECT_EQ(dec(276, fill(19)).skip, CF_SKIP_TRUNCATED_LINK);
}

TEST(DecodeLink, RawIp)
{
	Bytes ip4p = v4(A4, B4, 17, udp(1, 2, {}));
	Bytes ip6p = v6(V6_A, V6_B, 6, tcp(3, 4));
	for (uint32_t lt : {12u, 14u, 101u}) {
		cf_pkt p = dec(lt, ip4p);
		EXPECT_SKIP(p, CF_SKIP_NONE);
		EXPECT_EQ(p.ip_version, 4);
		p = dec(lt, ip6p);
		EXPECT_SKIP(p, CF_SKIP_NONE);
		EXPECT_EQ(p.ip_version, 6);
		EXPECT_EQ(dec(lt, Bytes{0x50} + fill(30)).skip, CF_SKIP_BAD_IP);
		EXPECT_EQ(dec(lt, {}).skip, CF_SKIP_TRUNCATED_IP);
	}
	EXPECT_EQ(dec(228, ip4p).skip, CF_SKIP_NONE);
	EXPECT_EQ(dec(228, ip6p).skip, CF_SKIP_BAD_IP);
	EXPECT_EQ(dec(229, ip6p).skip, CF_SKIP_NONE);
	EXPECT_EQ(dec(229, ip4p).skip, CF_SKIP_TRUNCATED_IP); // 28 bytes < 40
	EXPECT_EQ(dec(229, ip4p + fill(20)).skip, CF_SKIP_BAD_IP);
	cf_pkt p = dec(101, ip4p);
	EXPECT_TRUE(p.src_mac[0] == 0 && p.dst_mac[5] == 0);
}

TEST(DecodeLink, Nflog)
{
	Bytes ip = v4(A4, B4, 6, tcp(8080, 3128, 0x18, 3));
	// header: AF_INET, version 0, resource id 1 (big-endian)
	Bytes hdr = {2, 0, 0, 1};
	Bytes tlv_hdr = le16(8) + le16(1) + Bytes{0x08, 0x00, 3, 0};    // NFULA_PACKET_HDR
	Bytes tlv_prefix = le16(7) + le16(10) + Bytes{'a', 'b', 'c', 0}; // NFULA_PREFIX, 7 + 1 pad
	Bytes tlv_payload = le16(4 + ip.size()) + le16(9) + ip;
	cf_pkt p = dec(239, hdr + tlv_hdr + tlv_prefix + tlv_payload);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(src(p), "192.168.1.10");
	EXPECT_EQ(p.sport, 8080);
	EXPECT_EQ(p.payload_len, 3u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP);
	// IPv6 payload
	Bytes ip6 = v6(V6_A, V6_B, 17, udp(1, 2, {}));
	p = dec(239, Bytes{10, 0, 0, 0} + le16(4 + ip6.size()) + le16(9) + ip6);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_version, 6);
	// no payload TLV
	EXPECT_EQ(dec(239, hdr + tlv_hdr + tlv_prefix).skip, CF_SKIP_NON_IP);
	// payload cut by the snap length: the IP packet is flagged, not skipped
	p = dec(239, hdr + tlv_hdr + tlv_payload, nullptr, 4 + 8 + 4 + 20 + 20 + 1);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.flags, CF_PKT_TRUNCATED);
	EXPECT_EQ(p.payload_len, 3u);
	// a TLV shorter than its own header
	EXPECT_EQ(dec(239, hdr + le16(2) + le16(1) + fill(8)).skip, CF_SKIP_BAD_LINK);
	// version 1
	EXPECT_EQ(dec(239, Bytes{2, 1, 0, 0} + tlv_payload).skip, CF_SKIP_BAD_LINK);
	EXPECT_EQ(dec(239, Bytes{2, 0}).skip, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(dec(239, hdr + Bytes{8, 0}).skip, CF_SKIP_TRUNCATED_LINK);
}

TEST(DecodeLink, Ieee80211DataFrames)
{
	Bytes ip = v4(A4, B4, 17, udp(5000, 6000, fill(2)));
	// data, ToDS: 24-byte header, LLC/SNAP, IPv4
	cf_pkt p = dec(105, wlan_data(0x08, 0x01) + llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_TRUE(mac_is(p.dst_mac, MAC_B)); // addr1
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A)); // addr2
	EXPECT_EQ(p.sport, 5000);
	EXPECT_EQ(p.payload_len, 2u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP);
	// WDS (ToDS+FromDS): 4th address
	p = dec(105, wlan_data(0x08, 0x03) + fill(6) + llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.dport, 6000);
	// QoS data: + 2 QoS control
	p = dec(105, wlan_data(0x88, 0x02) + Bytes{0x05, 0x00} + llc_snap(0x86dd) +
	                 v6(V6_A, V6_B, 6, tcp(1, 2)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_version, 6);
	// QoS data with the order bit: + 4 HT control
	p = dec(105, wlan_data(0x88, 0x80) + Bytes{0, 0} + fill(4) + llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 5000);
	// QoS + WDS + HT control: 24 + 6 + 2 + 4
	p = dec(105, wlan_data(0x88, 0x83) + fill(6) + Bytes{0, 0} + fill(4) + llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	// A-MSDU: QoS control bit 7, then the first subframe header (DA, SA, length)
	p = dec(105, wlan_data(0x88, 0x01) + Bytes{0x80, 0} + fill(12) + be16(8 + ip.size()) +
	                 llc_snap(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.sport, 5000);
	// protected (encrypted) data
	p = dec(105, wlan_data(0x08, 0x41) + fill(40));
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	// null data (subtype 4) and QoS null (12)
	EXPECT_EQ(dec(105, wlan_data(0x48, 0x01)).skip, CF_SKIP_NON_IP);
	EXPECT_EQ(dec(105, wlan_data(0xc8, 0x01) + Bytes{0, 0}).skip, CF_SKIP_NON_IP);
	// beacon (management) and ACK (control)
	EXPECT_EQ(dec(105, wlan_data(0x80, 0x00) + fill(36)).skip, CF_SKIP_NON_IP);
	p = dec(105, Bytes{0xd4, 0x00, 0, 0, 1, 2, 3, 4, 5, 6});
	EXPECT_SKIP(p, CF_SKIP_NON_IP);
	EXPECT_EQ(p.src_mac[0] | p.dst_mac[0], 0);
	// not LLC/SNAP
	EXPECT_EQ(dec(105, wlan_data(0x08, 0x01) + Bytes{0xe0, 0xe0, 0x03} + fill(30)).skip, CF_SKIP_NON_IP);
	// header cut
	EXPECT_EQ(dec(105, wlan_data(0x08, 0x01), nullptr, 20).skip, CF_SKIP_TRUNCATED_LINK);
	// protocol version 1
	EXPECT_EQ(dec(105, wlan_data(0x09, 0x01) + llc_snap(0x0800) + ip).skip, CF_SKIP_BAD_LINK);
}

TEST(DecodeLink, RadiotapThen80211)
{
	Bytes ip = v4(A4, B4, 6, tcp(80, 1025, 0x12));
	Bytes wl = wlan_data(0x88, 0x02) + Bytes{0x00, 0x00} + llc_snap(0x0800) + ip;
	// minimal radiotap: version 0, pad, length 8, no fields
	cf_pkt p = dec(127, Bytes{0, 0, 8, 0, 0, 0, 0, 0} + wl);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	EXPECT_EQ(p.sport, 80);
	EXPECT_EQ(p.tcp_flags, CF_TCP_SYN | CF_TCP_ACK);
	// TSFT + flags + rate (length 8 + 8 + 1 + 1 = 18), flags without data pad
	Bytes rt = Bytes{0, 0} + le16(18) + Bytes{0x07, 0, 0, 0} + fill(8) + Bytes{0x00, 0x02};
	p = dec(127, rt + wl);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	// same with the data-pad flag: the 26-byte QoS header is padded to 28
	rt[16] = 0x20;
	Bytes wl_pad = wlan_data(0x88, 0x02) + Bytes{0, 0} + Bytes{0, 0} + llc_snap(0x0800) + ip;
	p = dec(127, rt + wl_pad);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.dport, 1025);
	// the data-pad flag is for the outer 802.11 header only, not one inside CAPWAP
	Bytes capwap = Bytes{0x00, 0x10, 0x03, 0x00} + fill(4) + wlan_data(0x88, 0x01, MAC_D, MAC_C) + Bytes{0, 0} +
	               llc_snap(0x0800) + v4(C4, D4, 6, tcp(1111, 2222, 0x18, 4), 10, 77);
	p = dec(127, rt + wlan_data(0x88, 0x02) + Bytes{0, 0} + Bytes{0, 0} + llc_snap(0x0800) +
	                 v4(A4, B4, 17, udp(40000, 5247, capwap)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_CAPWAP);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(p.sport, 1111);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	// extended presence bitmap (bit 31), then one more word
	Bytes rt2 = Bytes{0, 0} + le16(12) + Bytes{0, 0, 0, 0x80} + Bytes{0, 0, 0, 0};
	EXPECT_EQ(dec(127, rt2 + wl).skip, CF_SKIP_NONE);
	// length below 8, version 1, length beyond the capture
	EXPECT_EQ(dec(127, Bytes{0, 0, 4, 0, 0, 0, 0, 0} + wl).skip, CF_SKIP_BAD_LINK);
	EXPECT_EQ(dec(127, Bytes{1, 0, 8, 0, 0, 0, 0, 0} + wl).skip, CF_SKIP_BAD_LINK);
	EXPECT_EQ(dec(127, Bytes{0, 0, 0x40, 0, 0, 0, 0, 0} + fill(20)).skip, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(dec(127, Bytes{0, 0, 8}).skip, CF_SKIP_TRUNCATED_LINK);
}

// ------------------------------------------------------------ IPv4 details

TEST(DecodeIpv4, OptionsAndLengths)
{
	// IHL 6 (record-route stub NOP NOP NOP EOL), TCP with 12 bytes of options
	Bytes t = with_tcp_options(tcp(1, 2, 0x02, 6), {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 1, 0});
	Bytes ip = with_ip_options(v4(A4, B4, 6, t, 32, 7), {1, 1, 1, 0});
	cf_pkt p = dec(1, eth(0x0800) + ip);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.l3_hdr_len, 24);
	EXPECT_EQ(p.l4_hdr_len, 32);
	EXPECT_EQ(p.ip_len, 24u + 32 + 6);
	EXPECT_EQ(p.payload_len, 6u);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS);
	EXPECT_EQ(p.ttl, 32);
	EXPECT_EQ(p.ip_id, 7u);

	// total length 0 (TSO): the captured length is used
	Bytes tso = v4(A4, B4, 6, tcp(1, 2, 0x10, 3000));
	tso[2] = tso[3] = 0;
	p = dec(1, eth(0x0800) + tso);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_len, 3040u);
	EXPECT_EQ(p.payload_len, 3000u);
	EXPECT_EQ(p.flags, 0);

	// snap length 96: headers complete, datagram cut
	p = dec(1, eth(0x0800) + v4(A4, B4, 6, tcp(1, 2, 0x10, 1400)), nullptr, 96);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.flags, CF_PKT_TRUNCATED);
	EXPECT_EQ(p.ip_len, 1440u);
	EXPECT_EQ(p.payload_len, 1400u);

	// bad version, IHL below 5, total length below the header length
	Bytes bad = v4(A4, B4, 6, tcp(1, 2));
	bad[0] = 0x55;
	EXPECT_EQ(dec(1, eth(0x0800) + bad).skip, CF_SKIP_BAD_IP);
	bad[0] = 0x44;
	EXPECT_EQ(dec(1, eth(0x0800) + bad).skip, CF_SKIP_BAD_IP);
	bad[0] = 0x45;
	bad[2] = 0;
	bad[3] = 19;
	EXPECT_EQ(dec(1, eth(0x0800) + bad).skip, CF_SKIP_BAD_IP);
	// header cut
	p = dec(1, eth(0x0800) + v4(A4, B4, 6, tcp(1, 2)), nullptr, 14 + 19);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_IP);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4);
	// options cut
	EXPECT_EQ(dec(1, eth(0x0800) + ip, nullptr, 14 + 22).skip, CF_SKIP_TRUNCATED_IP);
	// total length 30 leaves 10 bytes for a 20-byte TCP header: bad, not truncated
	Bytes shortlen = v4(A4, B4, 6, tcp(1, 2));
	shortlen[3] = 30;
	p = dec(1, eth(0x0800) + shortlen);
	EXPECT_SKIP(p, CF_SKIP_BAD_TRANSPORT);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP);
}

TEST(DecodeIpv4, Fragments)
{
	// first fragment: MF, offset 0: transport decoded
	cf_pkt p = dec(1, eth(0x0800) + v4(A4, B4, 17, udp(500, 4500, fill(100)), 64, 0x1111, 0x2000));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.flags, CF_PKT_FRAGMENT);
	EXPECT_EQ(p.sport, 500);
	EXPECT_EQ(p.ip_id, 0x1111u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP);
	// DF set: not a fragment
	p = dec(1, eth(0x0800) + v4(A4, B4, 17, udp(500, 4500, {}), 64, 1, 0x4000));
	EXPECT_EQ(p.flags, 0);
	// offset 185 (1480 bytes), MF: not the first
	p = dec(1, eth(0x0800) + v4(A4, B4, 17, fill(200, 0x33), 61, 0x1111, 0x2000 | 185));
	EXPECT_SKIP(p, CF_SKIP_NONFIRST_FRAGMENT);
	EXPECT_EQ(src(p), "192.168.1.10");
	EXPECT_EQ(dst(p), "10.1.2.3");
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.ip_id, 0x1111u);
	EXPECT_EQ(p.ttl, 61);
	EXPECT_EQ(p.sport | p.dport, 0);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4);
	EXPECT_EQ(p.ip_len, 220u);
	EXPECT_EQ(p.l4_hdr_len, 0);
	// last fragment: offset only
	p = dec(1, eth(0x0800) + v4(A4, B4, 6, fill(20), 64, 9, 1));
	EXPECT_SKIP(p, CF_SKIP_NONFIRST_FRAGMENT);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4);
}

// ------------------------------------------------------------ IPv6 extension headers

TEST(DecodeIpv6, ExtensionHeaders)
{
	Bytes t = tcp(1234, 80, 0x18, 9);
	// hop-by-hop (8) -> routing (24) -> destination options (16) -> TCP
	Bytes chain = ext8(43, 0) + ext8(60, 2) + ext8(6, 1) + t;
	cf_pkt p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 0, chain));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.proto, 6);
	EXPECT_EQ(p.l3_hdr_len, 40 + 8 + 24 + 16);
	EXPECT_EQ(p.ip_len, 40u + 48 + 29);
	EXPECT_EQ(p.l4_hdr_len, 20);
	EXPECT_EQ(p.payload_len, 9u);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS);
	EXPECT_EQ(p.sport, 1234);

	// AH: payload length 4 -> (4 + 2) * 4 = 24 bytes, then UDP
	Bytes ah = Bytes{17, 4, 0, 0} + be32(0x100) + be32(1) + fill(12);
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 51, ah + udp(9, 10, fill(5))));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.l3_hdr_len, 64);
	EXPECT_EQ(p.dport, 10);
	EXPECT_EQ(p.payload_len, 5u);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS);

	// first fragment (offset 0, M): decoded, identification recorded
	Bytes frag0 = Bytes{17, 0, 0x00, 0x01} + be32(0xcafef00d);
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 44, frag0 + udp(9, 10, fill(40))));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_id, 0xcafef00du);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS | CF_PKT_FRAGMENT);
	EXPECT_EQ(p.l3_hdr_len, 48);
	EXPECT_EQ(p.layers, CF_LAYER_IPV6 | CF_LAYER_UDP);
	// non-first fragment (offset 1448 = 181 * 8)
	Bytes frag1 = Bytes{6, 0} + be16(181 << 3) + be32(0xcafef00d);
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 44, frag1 + fill(64)));
	EXPECT_SKIP(p, CF_SKIP_NONFIRST_FRAGMENT);
	EXPECT_EQ(p.proto, 6);
	EXPECT_EQ(p.ip_id, 0xcafef00du);
	EXPECT_EQ(src(p), "2001:db8::1");
	EXPECT_EQ(p.layers, CF_LAYER_IPV6);
	EXPECT_EQ(p.sport | p.dport, 0);
	// hop-by-hop then fragment then routing then ICMPv6
	Bytes mix = ext8(44, 0) + Bytes{43, 0, 0, 0} + be32(5) + ext8(58, 0) + Bytes{128, 0, 0, 0, 0, 9, 0, 1};
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 0, mix));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.icmp_type, 128);
	EXPECT_EQ(p.sport, 9);
	EXPECT_EQ(p.l3_hdr_len, 64);
	EXPECT_EQ(p.ip_id, 5u);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS); // offset 0 without M: not fragmented

	// ESP (50), no next header (59), mobility (135): stop, other L4
	for (uint8_t nh : {50, 59, 135}) {
		p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, nh, fill(16)));
		EXPECT_SKIP(p, CF_SKIP_NONE) << (int)nh;
		EXPECT_EQ(p.proto, nh);
		EXPECT_EQ(p.l3_hdr_len, 40);
		EXPECT_EQ(p.payload_len, 16u);
		EXPECT_EQ(p.flags, 0);
		EXPECT_EQ(p.layers, CF_LAYER_IPV6 | CF_LAYER_OTHER_L4);
	}
	// destination options then ESP
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 60, ext8(50, 0) + fill(16)));
	EXPECT_EQ(p.proto, 50);
	EXPECT_EQ(p.flags, CF_PKT_IP_OPTIONS);

	// extension header cut by the capture / longer than the payload length
	EXPECT_EQ(dec(1, eth(0x86dd) + v6(V6_A, V6_B, 0, chain), nullptr, 14 + 40 + 12).skip,
	          CF_SKIP_TRUNCATED_IP);
	Bytes lying = v6(V6_A, V6_B, 0, ext8(6, 3)); // 32 bytes of HBH
	lying[5] = 16;                               // payload length 16
	EXPECT_EQ(dec(1, eth(0x86dd) + lying).skip, CF_SKIP_BAD_IP);
	// version 4 under ethertype 0x86dd
	Bytes wrong = v6(V6_A, V6_B, 6, tcp(1, 2));
	wrong[0] = 0x40;
	EXPECT_EQ(dec(1, eth(0x86dd) + wrong).skip, CF_SKIP_BAD_IP);
}

TEST(DecodeIpv6, JumboAndTruncation)
{
	// payload length 0 + hop-by-hop jumbo option (0xc2): captured length
	Bytes hbh = Bytes{6, 0, 0xc2, 4} + be32(8 + 20 + 100);
	Bytes f = eth(0x86dd) + v6(V6_A, V6_B, 0, hbh + tcp(1, 2, 0x10, 100));
	f[14 + 4] = f[14 + 5] = 0;
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.ip_len, 40u + 8 + 20 + 100);
	EXPECT_EQ(p.l3_hdr_len, 48);
	EXPECT_EQ(p.payload_len, 100u);
	// payload cut by the snap length
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 17, udp(1, 2, fill(1000))), nullptr, 14 + 40 + 8 + 10);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.flags, CF_PKT_TRUNCATED);
	EXPECT_EQ(p.ip_len, 1048u);
	EXPECT_EQ(p.payload_len, 1000u);
}

// ------------------------------------------------------------ TCP details

TEST(DecodeTcp, HeaderChecks)
{
	Bytes t = with_tcp_options(tcp(1, 2, 0x02), fill(20, 1)); // 40-byte header
	// options cut by the snap length: decoded, flagged
	cf_pkt p = dec(1, eth(0x0800) + v4(A4, B4, 6, t), nullptr, 14 + 20 + 30);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.flags, CF_PKT_TRUNCATED);
	EXPECT_EQ(p.l4_hdr_len, 40);
	EXPECT_EQ(p.payload_len, 0u);
	EXPECT_EQ(p.tcp_flags, CF_TCP_SYN);
	// fixed header cut
	p = dec(1, eth(0x0800) + v4(A4, B4, 6, t), nullptr, 14 + 20 + 19);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TRANSPORT);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP);
	// data offset 4
	Bytes bad = tcp(1, 2);
	bad[12] = 0x40;
	EXPECT_EQ(dec(1, eth(0x0800) + v4(A4, B4, 6, bad)).skip, CF_SKIP_BAD_TRANSPORT);
	// data offset 15 in a 20-byte segment: past the IP length
	bad[12] = 0xf0;
	EXPECT_EQ(dec(1, eth(0x0800) + v4(A4, B4, 6, bad)).skip, CF_SKIP_BAD_TRANSPORT);
	// UDP and SCTP cut
	EXPECT_EQ(dec(1, eth(0x0800) + v4(A4, B4, 17, udp(1, 2, {})), nullptr, 14 + 27).skip,
	          CF_SKIP_TRUNCATED_TRANSPORT);
	EXPECT_EQ(dec(1, eth(0x0800) + v4(A4, B4, 132, fill(12)), nullptr, 14 + 31).skip,
	          CF_SKIP_TRUNCATED_TRANSPORT);
}

// ------------------------------------------------------------ tunnels

namespace {

const uint32_t ALL = CF_DECAP_ALL;
uint32_t BIT(int t) { return CF_DECAP_BIT(t); }

// Outer Ethernet/IPv4 around an IP payload of protocol `proto`.
Bytes outer4(uint8_t proto, const Bytes &payload) { return eth(0x0800) + v4(A4, B4, proto, payload, 200, 0x9999); }
// Outer Ethernet/IPv4/UDP.
Bytes outer_udp(uint16_t sp, uint16_t dp, const Bytes &payload) { return outer4(17, udp(sp, dp, payload)); }
// The inner packet most tunnels carry: 172.16.0.1:1111 -> 172.16.0.2:2222, TCP, 4 bytes.
Bytes inner4() { return v4(C4, D4, 6, tcp(1111, 2222, 0x18, 4), 10, 77); }
Bytes inner_eth() { return eth(0x0800, MAC_D, MAC_C) + inner4(); }

// Checks the record is inner4() seen through a tunnel.
void expect_inner4(const cf_pkt &p, int tunnel, uint32_t id, uint16_t extra_layers)
{
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, tunnel);
	EXPECT_EQ(p.tunnel_id, id);
	EXPECT_EQ(p.flags, CF_PKT_TUNNEL_INNER);
	EXPECT_EQ(p.ip_version, 4);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(dst(p), "172.16.0.2");
	EXPECT_EQ(p.proto, 6);
	EXPECT_EQ(p.ttl, 10);
	EXPECT_EQ(p.ip_id, 77u);
	EXPECT_EQ(p.sport, 1111);
	EXPECT_EQ(p.dport, 2222);
	EXPECT_EQ(p.tcp_flags, CF_TCP_PSH | CF_TCP_ACK);
	EXPECT_EQ(p.seq, 1000u);
	EXPECT_EQ(p.ack, 2000u);
	EXPECT_EQ(p.window, 512);
	EXPECT_EQ(p.ip_len, 44u);
	EXPECT_EQ(p.l3_hdr_len, 20);
	EXPECT_EQ(p.l4_hdr_len, 20);
	EXPECT_EQ(p.payload_len, 4u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_TCP | CF_LAYER_TUNNEL | extra_layers);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A)); // outermost Ethernet
	EXPECT_TRUE(mac_is(p.dst_mac, MAC_B));
}

// Checks the record is the outer UDP packet (tunnel not followed).
void expect_outer_udp(const cf_pkt &p, uint16_t sp, uint16_t dp, uint16_t extra_layers = 0)
{
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, 0);
	EXPECT_EQ(p.tunnel_id, 0u);
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(src(p), "192.168.1.10");
	EXPECT_EQ(dst(p), "10.1.2.3");
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.ttl, 200);
	EXPECT_EQ(p.sport, sp);
	EXPECT_EQ(p.dport, dp);
	EXPECT_EQ(p.l4_hdr_len, 8);
	EXPECT_EQ(p.payload_len, p.ip_len - 28);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP | extra_layers);
}

void expect_outer_gre(const cf_pkt &p, uint16_t extra_layers = 0)
{
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, 0);
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(src(p), "192.168.1.10");
	EXPECT_EQ(p.proto, 47);
	EXPECT_EQ(p.sport | p.dport, 0);
	EXPECT_EQ(p.l4_hdr_len, 0);
	EXPECT_EQ(p.payload_len, p.ip_len - 20);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_OTHER_L4 | extra_layers);
}

Bytes gtp_hdr(uint8_t flags, uint32_t teid, const Bytes &rest, const Bytes &payload)
{
	Bytes opt = rest;
	return Bytes{flags, 0xff} + be16(opt.size() + payload.size()) + be32(teid) + opt + payload;
}

} // namespace

TEST(DecodeTunnel, GrePlainKeyChecksumSequence)
{
	cf_pkt p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x08, 0x00} + inner4()));
	expect_inner4(p, CF_TUNNEL_GRE, 0, 0);

	// C + K + S: checksum/offset, key 0x01020304, sequence; IPv6 inside
	Bytes in6 = v6(V6_C, V6_D, 17, udp(4000, 53, fill(7)), 33);
	Bytes gre = Bytes{0xb0, 0x00, 0x86, 0xdd} + fill(4) + be32(0x01020304) + be32(9);
	p = dec(1, outer4(47, gre + in6));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_GRE);
	EXPECT_EQ(p.tunnel_id, 0x01020304u);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(src(p), "fd00::abcd");
	EXPECT_EQ(dst(p), "fd00::1234");
	EXPECT_EQ(p.ttl, 33);
	EXPECT_EQ(p.dport, 53);
	EXPECT_EQ(p.payload_len, 7u);
	EXPECT_EQ(p.ip_id, 0u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_IPV6 | CF_LAYER_UDP | CF_LAYER_TUNNEL);

	// transparent Ethernet bridging (0x6558), key 5: MACs stay the outer ones
	p = dec(1, outer4(47, Bytes{0x20, 0x00, 0x65, 0x58} + be32(5) + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GRE, 5, 0);

	// MPLS over GRE
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x88, 0x47} + Bytes{0, 0, 0x41, 0xff} + inner4()));
	expect_inner4(p, CF_TUNNEL_GRE, 0, CF_LAYER_MPLS);
	EXPECT_EQ(p.mpls_count, 1);

	// IPv6 outer
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 47, Bytes{0, 0, 0x08, 0x00} + inner4()));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_GRE);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(p.layers, CF_LAYER_IPV6 | CF_LAYER_IPV4 | CF_LAYER_TCP | CF_LAYER_TUNNEL);
}

TEST(DecodeTunnel, GreErspan)
{
	// type II: S set, sequence; ERSPAN version 1, VLAN 0x005, session 0x2ab (upper bits COS/En/T set)
	Bytes e2 = Bytes{0x10, 0x05} + be16(0xfeab) + be32(0x00000007);
	cf_pkt p = dec(1, outer4(47, Bytes{0x10, 0x00, 0x88, 0xbe} + be32(1) + e2 + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GRE, 0x2ab, 0);
	// type II with version 2 in the ERSPAN header: not followed
	Bytes e2bad = e2;
	e2bad[0] = 0x20;
	expect_outer_gre(dec(1, outer4(47, Bytes{0x10, 0x00, 0x88, 0xbe} + be32(1) + e2bad + inner_eth())));
	// type I: no S, Ethernet right after GRE
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x88, 0xbe} + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GRE, 0, 0);
	// type III: 12 bytes (version 2, session 0x123), O bit clear
	Bytes e3 = Bytes{0x20, 0x00} + be16(0xc123) + be32(0xaabbccdd) + Bytes{0, 0, 0x80, 0x00};
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x22, 0xeb} + e3 + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GRE, 0x123, 0);
	// type III with the optional 8-byte platform subheader
	e3[11] = 0x01;
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x22, 0xeb} + e3 + fill(8, 0x5a) + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GRE, 0x123, 0);
	// ERSPAN header cut by the capture
	Bytes f = outer4(47, Bytes{0x10, 0x00, 0x88, 0xbe} + be32(1) + e2 + inner_eth());
	p = dec(1, f, nullptr, 14 + 20 + 8 + 5);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TUNNEL);
}

TEST(DecodeTunnel, GrePptp)
{
	// version 1, K + S (0x30), A + version 1 (0x81), payload length, call id 0x4242, seq, ack
	Bytes ppp = Bytes{0xff, 0x03, 0x00, 0x21} + inner4();
	Bytes g = Bytes{0x30, 0x81, 0x88, 0x0b} + be16(ppp.size()) + be16(0x4242) + be32(1) + be32(2);
	cf_pkt p = dec(1, outer4(47, g + ppp));
	expect_inner4(p, CF_TUNNEL_GRE, 0x4242, 0);
	// no seq, no ack, compressed PPP protocol without address/control
	Bytes ppp2 = Bytes{0x21} + inner4();
	g = Bytes{0x20, 0x01, 0x88, 0x0b} + be16(ppp2.size()) + be16(7);
	p = dec(1, outer4(47, g + ppp2));
	expect_inner4(p, CF_TUNNEL_GRE, 7, 0);
	// acknowledgement only: the outer GRE packet
	g = Bytes{0x20, 0x81, 0x88, 0x0b} + be16(0) + be16(7) + be32(3);
	expect_outer_gre(dec(1, outer4(47, g)));
	// LCP inside: the outer GRE packet
	Bytes lcp = Bytes{0xff, 0x03, 0xc0, 0x21} + fill(8);
	g = Bytes{0x20, 0x01, 0x88, 0x0b} + be16(lcp.size()) + be16(7);
	expect_outer_gre(dec(1, outer4(47, g + lcp)));
}

TEST(DecodeTunnel, GreNotFollowedKeepsOuter)
{
	// unknown GRE payload (WCCP 0x883e): outer packet, proto 47
	cf_pkt p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x88, 0x3e} + fill(30)));
	expect_outer_gre(p);
	EXPECT_EQ(p.payload_len, 34u);
	// Ethernet carrying ARP: outer packet, ARP seen
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x65, 0x58} + eth(0x0806, MAC_D, MAC_C) + fill(28)));
	expect_outer_gre(p, CF_LAYER_ARP);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
	// GRE decapsulation off
	cf_decode_opts o = opts(CF_DECAP_NONE);
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x08, 0x00} + inner4()), &o);
	expect_outer_gre(p);
	o = opts(ALL & ~BIT(CF_TUNNEL_GRE));
	expect_outer_gre(dec(1, outer4(47, Bytes{0x00, 0x00, 0x08, 0x00} + inner4()), &o));
	// version 2, routing present: not followed
	expect_outer_gre(dec(1, outer4(47, Bytes{0x00, 0x02, 0x08, 0x00} + inner4())));
	expect_outer_gre(dec(1, outer4(47, Bytes{0x40, 0x00, 0x08, 0x00} + inner4())));
	// GRE header cut by the capture; 2 GRE bytes per the IP length: not GRE
	p = dec(1, outer4(47, Bytes{0x20, 0x00, 0x08, 0x00} + be32(5) + inner4()), nullptr, 14 + 20 + 6);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TUNNEL);
	expect_outer_gre(dec(1, outer4(47, Bytes{0x00, 0x00})));
	// inner header broken: the inner reason, the tunnel recorded
	Bytes bad = inner4();
	bad[0] = 0x46; // IHL 6, no options there: total length still fine, header 24
	bad[2] = 0;
	bad[3] = 22;
	p = dec(1, outer4(47, Bytes{0x00, 0x00, 0x08, 0x00} + bad));
	EXPECT_SKIP(p, CF_SKIP_BAD_IP);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_GRE);
	EXPECT_EQ(p.flags & CF_PKT_TUNNEL_INNER, CF_PKT_TUNNEL_INNER);
	EXPECT_EQ(p.layers & CF_LAYER_TUNNEL, CF_LAYER_TUNNEL);
}

TEST(DecodeTunnel, IpInIp)
{
	// 4in4
	cf_pkt p = dec(1, outer4(4, inner4()));
	expect_inner4(p, CF_TUNNEL_IPIP, 0, 0);
	// 6in4
	p = dec(1, outer4(41, v6(V6_C, V6_D, 6, tcp(5, 6, 0x01), 9)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_IPIP);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(src(p), "fd00::abcd");
	EXPECT_EQ(p.ttl, 9);
	EXPECT_EQ(p.tcp_flags, CF_TCP_FIN);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_IPV6 | CF_LAYER_TCP | CF_LAYER_TUNNEL);
	// 4in6
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 4, inner4()));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_IPIP);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(p.sport, 1111);
	// 6in6, after a destination options header
	p = dec(1, eth(0x86dd) + v6(V6_A, V6_B, 60, ext8(41, 0) + v6(V6_C, V6_D, 17, udp(1, 2, {}))));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_IPIP);
	EXPECT_EQ(dst(p), "fd00::1234");
	EXPECT_EQ(p.flags, CF_PKT_TUNNEL_INNER); // the inner header has no extension headers
	EXPECT_EQ(p.l3_hdr_len, 40);
	// IPIP off: outer, other L4
	cf_decode_opts o = opts(ALL & ~BIT(CF_TUNNEL_IPIP));
	p = dec(1, outer4(4, inner4()), &o);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.proto, 4);
	EXPECT_EQ(p.tunnel_type, 0);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_OTHER_L4);
	// protocol 4 carrying IPv6: the inner header is bad
	p = dec(1, outer4(4, v6(V6_C, V6_D, 6, tcp(5, 6))));
	EXPECT_SKIP(p, CF_SKIP_BAD_IP);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_IPIP);
}

TEST(DecodeTunnel, Vxlan)
{
	cf_pkt p = dec(1, outer_udp(49152, 4789, vxlan(0x123456) + inner_eth()));
	expect_inner4(p, CF_TUNNEL_VXLAN, 0x123456, CF_LAYER_UDP);
	// inner VLAN tag
	p = dec(1, outer_udp(49152, 4789, vxlan(7) + eth(0x8100, MAC_D, MAC_C) + be16(33) + be16(0x0800) + inner4()));
	expect_inner4(p, CF_TUNNEL_VXLAN, 7, CF_LAYER_UDP | CF_LAYER_VLAN);
	EXPECT_EQ(p.vlan_count, 1);
	EXPECT_EQ(p.vlan[0], 33);
	// I flag clear: the outer UDP packet
	Bytes noi = vxlan(7);
	noi[0] = 0;
	expect_outer_udp(dec(1, outer_udp(49152, 4789, noi + inner_eth())), 49152, 4789);
	// ARP inside: the outer UDP packet, ARP seen
	p = dec(1, outer_udp(49152, 4789, vxlan(7) + eth(0x0806, MAC_D, MAC_C) + fill(28)));
	expect_outer_udp(p, 49152, 4789, CF_LAYER_ARP);
	// only 4789 as destination port
	expect_outer_udp(dec(1, outer_udp(4789, 5555, vxlan(7) + inner_eth())), 4789, 5555);
	// off
	cf_decode_opts o = opts(CF_DECAP_NONE);
	expect_outer_udp(dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), &o), 49152, 4789);
	o = opts(BIT(CF_TUNNEL_GRE) | BIT(CF_TUNNEL_GTP));
	expect_outer_udp(dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), &o), 49152, 4789);
	o = opts(BIT(CF_TUNNEL_VXLAN));
	expect_inner4(dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), &o), CF_TUNNEL_VXLAN, 7, CF_LAYER_UDP);
	// header cut by the capture / 4 bytes of payload per the lengths
	p = dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), nullptr, 14 + 20 + 8 + 4);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TUNNEL);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP);
	expect_outer_udp(dec(1, outer_udp(49152, 4789, {0x08, 0, 0, 0})), 49152, 4789);
	// inner Ethernet cut
	p = dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), nullptr, 14 + 20 + 8 + 8 + 10);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_LINK);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_VXLAN);
	// inner TCP cut
	p = dec(1, outer_udp(49152, 4789, vxlan(7) + inner_eth()), nullptr, 14 + 20 + 8 + 8 + 14 + 20 + 10);
	EXPECT_SKIP(p, CF_SKIP_TRUNCATED_TRANSPORT);
	EXPECT_EQ(src(p), "172.16.0.1");
}

TEST(DecodeTunnel, Geneve)
{
	// 2 words of options, protocol Ethernet, VNI 0xabcdef
	Bytes g = Bytes{0x02, 0x00, 0x65, 0x58} + be32(0xabcdef00) + fill(8, 0x11);
	cf_pkt p = dec(1, outer_udp(3333, 6081, g + inner_eth()));
	expect_inner4(p, CF_TUNNEL_GENEVE, 0xabcdef, CF_LAYER_UDP);
	// IPv4 directly, no options
	p = dec(1, outer_udp(3333, 6081, Bytes{0x00, 0x00, 0x08, 0x00} + be32(0x00000100) + inner4()));
	expect_inner4(p, CF_TUNNEL_GENEVE, 1, CF_LAYER_UDP);
	// IPv6 directly
	p = dec(1, outer_udp(3333, 6081, Bytes{0x00, 0x00, 0x86, 0xdd} + be32(0x00000200) + v6(V6_C, V6_D, 17, udp(8, 9, {}))));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_id, 2u);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(p.sport, 8);
	// version 1, unknown protocol: the outer packet
	expect_outer_udp(dec(1, outer_udp(3333, 6081, Bytes{0x40, 0x00, 0x65, 0x58} + be32(0) + inner_eth())), 3333,
	                 6081);
	expect_outer_udp(dec(1, outer_udp(3333, 6081, Bytes{0x00, 0x00, 0x12, 0x34} + be32(0) + inner_eth())), 3333,
	                 6081);
	// options cut
	EXPECT_EQ(dec(1, outer_udp(3333, 6081, g + inner_eth()), nullptr, 14 + 20 + 8 + 12).skip,
	          CF_SKIP_TRUNCATED_TUNNEL);
}

TEST(DecodeTunnel, GtpU)
{
	// plain T-PDU, TEID 0x11223344, from port 2152 to 2152
	cf_pkt p = dec(1, outer_udp(2152, 2152, gtp_hdr(0x30, 0x11223344, {}, inner4())));
	expect_inner4(p, CF_TUNNEL_GTP, 0x11223344, CF_LAYER_UDP);
	// sequence number present (S): 12 bytes; only the source port is 2152
	p = dec(1, outer_udp(2152, 40000, gtp_hdr(0x32, 5, {0, 1, 0, 0}, inner4())));
	expect_inner4(p, CF_TUNNEL_GTP, 5, CF_LAYER_UDP);
	// two extension headers: PDU session container (0x85) -> UDP port (0x40) -> end
	Bytes ext = Bytes{0, 0, 0, 0x85} + Bytes{0x01, 0x10, 0x09, 0x40} + Bytes{0x01, 0x08, 0x68, 0x00};
	p = dec(1, outer_udp(40000, 2152, gtp_hdr(0x34, 6, ext, v6(V6_C, V6_D, 17, udp(7, 8, fill(3))))));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_GTP);
	EXPECT_EQ(p.tunnel_id, 6u);
	EXPECT_EQ(p.ip_version, 6);
	EXPECT_EQ(p.sport, 7);
	EXPECT_EQ(p.payload_len, 3u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP | CF_LAYER_IPV6 | CF_LAYER_TUNNEL);
	// echo request (type 1), version 2 (GTPv2-C), GTP' (PT 0): the outer packet
	Bytes echo = gtp_hdr(0x32, 0, {0, 1, 0, 0}, {});
	echo[1] = 0x01;
	expect_outer_udp(dec(1, outer_udp(2152, 2152, echo)), 2152, 2152);
	expect_outer_udp(dec(1, outer_udp(2152, 2152, gtp_hdr(0x48, 1, {}, inner4()))), 2152, 2152);
	expect_outer_udp(dec(1, outer_udp(2152, 2152, gtp_hdr(0x20, 1, {}, inner4()))), 2152, 2152);
	// payload not IP: the outer packet
	expect_outer_udp(dec(1, outer_udp(2152, 2152, gtp_hdr(0x30, 1, {}, fill(30, 0x7e)))), 2152, 2152);
	// extension of length 0: malformed, the outer packet
	Bytes bad = Bytes{0, 0, 0, 0x85} + Bytes{0x00, 0, 0, 0};
	expect_outer_udp(dec(1, outer_udp(2152, 2152, gtp_hdr(0x34, 1, bad, inner4()))), 2152, 2152);
	// off
	cf_decode_opts o = opts(ALL & ~BIT(CF_TUNNEL_GTP));
	expect_outer_udp(dec(1, outer_udp(2152, 2152, gtp_hdr(0x30, 1, {}, inner4())), &o), 2152, 2152);
}

TEST(DecodeTunnel, Teredo)
{
	Bytes in6 = v6(V6_C, V6_D, 17, udp(1000, 2000, fill(6)), 21);
	// bare IPv6
	cf_pkt p = dec(1, outer_udp(3544, 50000, in6));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_TEREDO);
	EXPECT_EQ(p.tunnel_id, 0u);
	EXPECT_EQ(p.flags, CF_PKT_TUNNEL_INNER);
	EXPECT_EQ(src(p), "fd00::abcd");
	EXPECT_EQ(p.ttl, 21);
	EXPECT_EQ(p.sport, 1000);
	EXPECT_EQ(p.payload_len, 6u);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP | CF_LAYER_IPV6 | CF_LAYER_TUNNEL);
	// origin indication
	Bytes origin = Bytes{0x00, 0x00} + be16(0x1234) + be32(0x01020304);
	p = dec(1, outer_udp(50000, 3544, origin + in6));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_TEREDO);
	EXPECT_EQ(p.dport, 2000);
	// authentication (id length 2, auth length 3, nonce, confirmation) + origin indication
	Bytes auth = Bytes{0x00, 0x01, 2, 3, 'i', 'd', 'a', 'u', 't'} + fill(8, 0x4e) + Bytes{0};
	p = dec(1, outer_udp(50000, 3544, auth + origin + in6));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_TEREDO);
	EXPECT_EQ(dst(p), "fd00::1234");
	// not IPv6, or an IPv6 payload length that does not fit: the outer packet
	expect_outer_udp(dec(1, outer_udp(3544, 50000, fill(60, 0x45))), 3544, 50000);
	Bytes lying = in6;
	lying[4] = 0x05;
	expect_outer_udp(dec(1, outer_udp(3544, 50000, lying)), 3544, 50000);
	// off
	cf_decode_opts o = opts(ALL & ~BIT(CF_TUNNEL_TEREDO));
	expect_outer_udp(dec(1, outer_udp(3544, 50000, in6), &o), 3544, 50000);
}

TEST(DecodeTunnel, Capwap)
{
	// preamble 0, HLEN 2 (8 bytes), RID 0, WBID 0, T 0: 802.3 frame
	Bytes h = {0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0};
	cf_pkt p = dec(1, outer_udp(40000, 5247, h + inner_eth()));
	expect_inner4(p, CF_TUNNEL_CAPWAP, 0, CF_LAYER_UDP);
	// HLEN 4 (radio MAC + wireless info), T 1, WBID 1: 802.11 frame
	Bytes h11 = Bytes{0x00, 0x20, 0x03, 0x30} + fill(12, 0x01);
	Bytes wl = wlan_data(0x08, 0x01, MAC_D, MAC_C) + llc_snap(0x0800) + inner4();
	p = dec(1, outer_udp(5247, 40000, h11 + wl));
	expect_inner4(p, CF_TUNNEL_CAPWAP, 0, CF_LAYER_UDP);
	// keepalive (K), fragment (F), DTLS preamble (type 1), T 1 with WBID 3: the outer packet
	Bytes k = h;
	k[3] = 0x08;
	expect_outer_udp(dec(1, outer_udp(40000, 5247, k + inner_eth())), 40000, 5247);
	k[3] = 0x80;
	expect_outer_udp(dec(1, outer_udp(40000, 5247, k + inner_eth())), 40000, 5247);
	k = h;
	k[0] = 0x01;
	expect_outer_udp(dec(1, outer_udp(40000, 5247, k + inner_eth())), 40000, 5247);
	k = h;
	k[2] = 0x07;
	expect_outer_udp(dec(1, outer_udp(40000, 5247, k + wl)), 40000, 5247);
	// 802.11 management frame inside: not IP, the outer packet
	p = dec(1, outer_udp(5247, 40000, h11 + wlan_data(0x80, 0x00) + fill(20)));
	expect_outer_udp(p, 5247, 40000);
	EXPECT_TRUE(mac_is(p.src_mac, MAC_A));
}

TEST(DecodeTunnel, Tzsp)
{
	// version 1, received, Ethernet; padding, tag 10 (length 1), end
	Bytes h = Bytes{0x01, 0x00} + be16(1) + Bytes{0x00, 0x0a, 0x01, 0x7f, 0x01};
	cf_pkt p = dec(1, outer_udp(37008, 37008, h + inner_eth()));
	expect_inner4(p, CF_TUNNEL_TZSP, 0, CF_LAYER_UDP);
	// 802.11 (18), end tag only
	Bytes h11 = Bytes{0x01, 0x00} + be16(18) + Bytes{0x01};
	p = dec(1, outer_udp(40000, 37008, h11 + wlan_data(0x88, 0x01, MAC_D, MAC_C) + Bytes{0, 0} +
	                                       llc_snap(0x0800) + inner4()));
	expect_inner4(p, CF_TUNNEL_TZSP, 0, CF_LAYER_UDP);
	// version 2, keepalive type, unknown encapsulation: the outer packet
	Bytes k = h;
	k[0] = 2;
	expect_outer_udp(dec(1, outer_udp(37008, 37008, k + inner_eth())), 37008, 37008);
	k = h;
	k[1] = 4;
	expect_outer_udp(dec(1, outer_udp(37008, 37008, k + inner_eth())), 37008, 37008);
	k = h;
	k[3] = 119;
	expect_outer_udp(dec(1, outer_udp(37008, 37008, k + inner_eth())), 37008, 37008);
	// tags cut by the capture
	EXPECT_EQ(dec(1, outer_udp(37008, 37008, h + inner_eth()), nullptr, 14 + 20 + 8 + 6).skip,
	          CF_SKIP_TRUNCATED_TUNNEL);
	// tags without an end tag, as far as the datagram goes: the outer packet
	expect_outer_udp(dec(1, outer_udp(37008, 37008, Bytes{1, 0, 0, 1, 0x0a, 0x01, 0x7f})), 37008, 37008);
}

TEST(DecodeTunnel, NestingAndDepth)
{
	// GRE (key 9) inside VXLAN (VNI 3): the innermost decapsulation is recorded
	Bytes gre_in = Bytes{0x20, 0x00, 0x08, 0x00} + be32(9) + inner4();
	Bytes f = outer_udp(1, 4789, vxlan(3) + eth(0x0800, MAC_D, MAC_C) + v4(C4, D4, 47, gre_in));
	cf_pkt p = dec(1, f);
	expect_inner4(p, CF_TUNNEL_GRE, 9, CF_LAYER_UDP);
	// only VXLAN: the packet inside VXLAN, proto 47
	cf_decode_opts o = opts(BIT(CF_TUNNEL_VXLAN));
	p = dec(1, f, &o);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_VXLAN);
	EXPECT_EQ(p.tunnel_id, 3u);
	EXPECT_EQ(p.proto, 47);
	EXPECT_EQ(src(p), "172.16.0.1");
	EXPECT_EQ(p.flags, CF_PKT_TUNNEL_INNER);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP | CF_LAYER_OTHER_L4 | CF_LAYER_TUNNEL);
	// only GRE: the outer UDP packet
	o = opts(BIT(CF_TUNNEL_GRE));
	expect_outer_udp(dec(1, f, &o), 1, 4789);
	// ARP in GRE in VXLAN: back to the packet inside VXLAN
	Bytes arp_gre = Bytes{0x00, 0x00, 0x65, 0x58} + eth(0x0806) + fill(28);
	p = dec(1, outer_udp(1, 4789, vxlan(3) + eth(0x0800, MAC_D, MAC_C) + v4(C4, D4, 47, arp_gre)));
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_VXLAN);
	EXPECT_EQ(p.proto, 47);
	EXPECT_EQ(p.layers, CF_LAYER_IPV4 | CF_LAYER_UDP | CF_LAYER_OTHER_L4 | CF_LAYER_TUNNEL | CF_LAYER_ARP);

	// IP-in-IP n times
	auto nest = [](int n) {
		Bytes b = inner4();
		for (int i = 0; i < n; i++)
			b = v4(ip4(10, 0, 0, (unsigned)i), ip4(10, 0, 1, (unsigned)i), 4, b);
		return eth(0x0800) + b;
	};
	expect_inner4(dec(1, nest(4)), CF_TUNNEL_IPIP, 0, 0);
	p = dec(1, nest(5));
	EXPECT_SKIP(p, CF_SKIP_TUNNEL_DEPTH);
	o = opts(ALL, 5);
	expect_inner4(dec(1, nest(5), &o), CF_TUNNEL_IPIP, 0, 0);
	o = opts(ALL, 1);
	expect_inner4(dec(1, nest(1), &o), CF_TUNNEL_IPIP, 0, 0);
	EXPECT_EQ(dec(1, nest(2), &o).skip, CF_SKIP_TUNNEL_DEPTH);
	o = opts(ALL, 0); // 0 = 4
	EXPECT_EQ(dec(1, nest(4), &o).skip, CF_SKIP_NONE);
	EXPECT_EQ(dec(1, nest(5), &o).skip, CF_SKIP_TUNNEL_DEPTH);
	// a deep chain must not cost stack: 1000 levels, depth limit lifted
	o = opts(ALL, 100000);
	expect_inner4(dec(1, nest(1000), &o), CF_TUNNEL_IPIP, 0, 0);
	// NULL options = defaults
	EXPECT_EQ(dec(1, nest(5), nullptr).skip, CF_SKIP_TUNNEL_DEPTH);
}

// ------------------------------------------------------------ truncation sweeps

namespace {

// A frame and, in order, where each header ends and the reason while the
// capture ends before it; from the last boundary on the frame decodes.
struct Sweep {
	const char *name;
	uint32_t linktype;
	Bytes frame;
	std::vector<std::pair<size_t, int>> cuts;
};

std::vector<Sweep> sweeps()
{
	std::vector<Sweep> v;
	{
		// Ethernet 14, IPv4 with options 24, TCP with options 32 (20 fixed), payload 6
		Bytes t = with_tcp_options(tcp(1, 2, 0x02, 6), {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 1, 0});
		Bytes f = eth(0x0800) + with_ip_options(v4(A4, B4, 6, t), {1, 1, 1, 0});
		v.push_back({"eth-ipv4opt-tcpopt", 1, f,
		             {{14, CF_SKIP_TRUNCATED_LINK}, {38, CF_SKIP_TRUNCATED_IP}, {58, CF_SKIP_TRUNCATED_TRANSPORT}}});
	}
	{
		// Ethernet 14, VLAN 4, IPv6 40, UDP 8, payload 5
		Bytes f = eth(0x8100) + be16(12) + be16(0x86dd) + v6(V6_A, V6_B, 17, udp(1, 2, fill(5)));
		v.push_back({"vlan-ipv6-udp", 1, f,
		             {{18, CF_SKIP_TRUNCATED_LINK}, {58, CF_SKIP_TRUNCATED_IP}, {66, CF_SKIP_TRUNCATED_TRANSPORT}}});
	}
	{
		// Ethernet, IPv4, UDP, VXLAN 8, Ethernet, IPv4, TCP, payload 4
		Bytes f = outer_udp(49152, 4789, vxlan(7) + inner_eth());
		v.push_back({"vxlan-tcp", 1, f,
		             {{14, CF_SKIP_TRUNCATED_LINK},
		              {34, CF_SKIP_TRUNCATED_IP},
		              {42, CF_SKIP_TRUNCATED_TRANSPORT},
		              {50, CF_SKIP_TRUNCATED_TUNNEL},
		              {64, CF_SKIP_TRUNCATED_LINK},
		              {84, CF_SKIP_TRUNCATED_IP},
		              {104, CF_SKIP_TRUNCATED_TRANSPORT}}});
	}
	{
		// Ethernet, IPv4, UDP, GTP 12 + two extensions 8, IPv4 20, UDP 8, payload 4
		Bytes ext = Bytes{0, 0, 0, 0x85} + Bytes{0x01, 0x10, 0x09, 0x40} + Bytes{0x01, 0x08, 0x68, 0x00};
		Bytes f = outer_udp(2152, 2152, gtp_hdr(0x34, 6, ext, v4(C4, D4, 17, udp(7, 8, fill(4)))));
		v.push_back({"gtp-ext-udp", 1, f,
		             {{14, CF_SKIP_TRUNCATED_LINK},
		              {34, CF_SKIP_TRUNCATED_IP},
		              {42, CF_SKIP_TRUNCATED_TRANSPORT},
		              {62, CF_SKIP_TRUNCATED_TUNNEL},
		              {82, CF_SKIP_TRUNCATED_IP},
		              {90, CF_SKIP_TRUNCATED_TRANSPORT}}});
	}
	{
		// radiotap 18 (TSFT, flags, rate), 802.11 QoS data 26, LLC/SNAP 8, IPv4 20, TCP 20, payload 2
		Bytes rt = Bytes{0, 0} + le16(18) + Bytes{0x07, 0, 0, 0} + fill(8) + Bytes{0x00, 0x02};
		Bytes f = rt + wlan_data(0x88, 0x01) + Bytes{0, 0} + llc_snap(0x0800) + v4(A4, B4, 6, tcp(1, 2, 0x10, 2));
		v.push_back({"radiotap-qos-tcp", 127, f,
		             {{52, CF_SKIP_TRUNCATED_LINK}, {72, CF_SKIP_TRUNCATED_IP}, {92, CF_SKIP_TRUNCATED_TRANSPORT}}});
	}
	return v;
}

} // namespace

TEST(DecodeTruncation, SweepEveryCaptureLength)
{
	for (const Sweep &s : sweeps()) {
		ASSERT_EQ(dec(s.linktype, s.frame).skip, CF_SKIP_NONE) << s.name;
		for (size_t cap = 0; cap <= s.frame.size(); cap++) {
			cf_pkt p = dec(s.linktype, s.frame, nullptr, cap);
			int want = CF_SKIP_NONE;
			for (auto &c : s.cuts)
				if (cap < c.first) {
					want = c.second;
					break;
				}
			EXPECT_STREQ(sk(p.skip), sk(want)) << s.name << " caplen " << cap;
			EXPECT_EQ(p.caplen, cap);
			EXPECT_EQ(p.wirelen, s.frame.size());
			if (want == CF_SKIP_NONE) {
				EXPECT_EQ(!!(p.flags & CF_PKT_TRUNCATED), cap < s.frame.size()) << s.name << " caplen " << cap;
				EXPECT_NE(p.sport, 0) << s.name << " caplen " << cap;
			}
		}
	}
}

// ------------------------------------------------------------ hostile input

TEST(DecodeRandom, RandomBytesAndMutationsNeverCrash)
{
	const uint32_t lts[] = {0, 1, 9, 12, 14, 50, 51, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276, 1, 1, 1};
	std::vector<std::pair<uint32_t, Bytes>> seeds;
	for (const Sweep &s : sweeps())
		seeds.push_back({s.linktype, s.frame});
	Bytes gre = Bytes{0x10, 0x00, 0x88, 0xbe} + be32(1) + Bytes{0x10, 0x05} + be16(0xfeab) + be32(7);
	seeds.push_back({1, outer4(47, gre + inner_eth())});
	seeds.push_back({1, outer4(47, Bytes{0x30, 0x81, 0x88, 0x0b, 0, 48, 0, 1} + fill(8) + Bytes{0xff, 3, 0, 0x21} + inner4())});
	seeds.push_back({1, outer4(47, Bytes{0x00, 0x00, 0x22, 0xeb, 0x20, 0, 0xc1, 0x23} + fill(7) + Bytes{1} + fill(8) + inner_eth())});
	seeds.push_back({1, outer_udp(1, 6081, Bytes{0x02, 0x00, 0x65, 0x58} + be32(0xabcdef00) + fill(8) + inner_eth())});
	seeds.push_back({1, outer_udp(3544, 1, Bytes{0, 1, 2, 3} + fill(14) + Bytes{0, 0} + fill(6) + v6(V6_C, V6_D, 6, tcp(1, 2)))});
	seeds.push_back({1, outer_udp(1, 5247, Bytes{0x00, 0x20, 0x03, 0x30} + fill(12) + wlan_data(0x88, 0x81) + fill(6) + llc_snap(0x0800) + inner4())});
	seeds.push_back({1, outer_udp(37008, 1, Bytes{1, 0, 0, 1, 0, 0x0a, 1, 0, 1} + inner_eth())});
	seeds.push_back({1, eth(0x86dd) + v6(V6_A, V6_B, 0, ext8(44, 0) + Bytes{51, 0, 0, 1} + be32(1) + Bytes{60, 4} + fill(22) + ext8(4, 0) + inner4())});
	seeds.push_back({1, eth(0x8847) + Bytes{0, 3, 1, 0x40} + fill(4) + eth(0x88a8) + be16(1) + be16(0x8864) + Bytes{0x11, 0, 0, 1, 0, 42, 0, 0x21} + inner4()});
	seeds.push_back({239, Bytes{2, 0, 0, 1} + le16(8) + le16(1) + fill(4) + le16(48) + le16(9) + inner4()});
	seeds.push_back({113, Bytes{0, 4, 0, 1, 0, 6} + fill(8) + be16(0x8100) + be16(4) + be16(0x0800) + inner4()});
	seeds.push_back({0, Bytes{30, 0, 0, 0} + v6(V6_A, V6_B, 41, v6(V6_C, V6_D, 17, udp(1, 2, {})))});
	// fast-path candidates: plain TCP and UDP over IPv4, UDP on each tunnel port
	seeds.push_back({1, frame_eth_v4_tcp()});
	seeds.push_back({1, with_ip_options(v4(A4, B4, 6, tcp(1, 2)), {1, 1, 1, 1})});
	for (uint16_t port : {53, 4789, 6081, 2152, 3544, 5247, 37008}) {
		seeds.push_back({1, eth(0x0800) + v4(A4, B4, 17, udp(port, 1000, fill(20, 0x45)))});
		seeds.push_back({1, eth(0x0800) + v4(A4, B4, 17, udp(1000, port, fill(20, 0x08)))});
	}

	std::mt19937_64 rng(20240611);
	size_t n_none = 0;
	for (int i = 0; i < 300000; i++) {
		uint32_t lt;
		Bytes b;
		if (i & 1) {
			lt = (rng() % 8) ? lts[rng() % (sizeof lts / sizeof *lts)] : (uint32_t)(rng() % 300);
			size_t n = (rng() % 16) ? rng() % 128 : rng() % 2000;
			b.resize(n);
			for (auto &x : b)
				x = (uint8_t)rng();
		} else {
			const auto &s = seeds[rng() % seeds.size()];
			lt = s.first;
			b = s.second;
			int flips = 1 + (int)(rng() % 4);
			for (int k = 0; k < flips && !b.empty(); k++)
				b[rng() % b.size()] = (uint8_t)rng();
			if (rng() % 2)
				b.resize(rng() % (b.size() + 1));
		}
		cf_decode_opts o = opts((uint32_t)rng() & CF_DECAP_ALL, (uint32_t)(rng() % 6));
		if (rng() % 4 == 0)
			o = opts(CF_DECAP_ALL, 0);
		cf_pkt p = dec(lt, b, &o);
		ASSERT_LT(p.skip, CF_SKIP_FILTERED) << "iteration " << i;
		ASSERT_EQ(p.caplen, b.size());
		if (p.skip == CF_SKIP_NONE) {
			n_none++;
			ASSERT_TRUE(p.ip_version == 4 || p.ip_version == 6) << "iteration " << i;
			ASSERT_LE(p.l3_hdr_len, p.ip_len) << "iteration " << i;
			ASSERT_EQ(!!(p.flags & CF_PKT_TUNNEL_INNER), p.tunnel_type != 0) << "iteration " << i;
		}
		if (p.tunnel_type) {
			ASSERT_TRUE(p.layers & CF_LAYER_TUNNEL);
		}
	}
	EXPECT_GT(n_none, 1000u); // the mutations reach deep into the decoder
}

TEST(DecodeRandom, EveryLengthAroundTheFastPath)
{
	// Ethernet (+ one tag) / IPv4 / TCP|UDP|ICMP with every capture length
	// and many total lengths and data offsets: the fast path must read
	// nothing past the capture (ASan) and agree with the general decoder
	// (checked inside dec()).
	cf_decode_opts none = opts(CF_DECAP_NONE);
	for (int tagged = 0; tagged < 2; tagged++)
		for (uint8_t proto : {6, 17, 1})
			for (unsigned tot : {0u, 19u, 20u, 27u, 28u, 30u, 39u, 40u, 41u, 44u, 52u, 60u, 80u})
				for (uint8_t doff : {0x50, 0x40, 0x81, 0xf0})
					for (uint16_t dport : {80, 4789}) {
						Bytes f = tagged ? eth(0x8100) + be16(0x0123) + be16(0x0800) : eth(0x0800);
						Bytes ip = v4(A4, B4, proto, cft::tcp(1234, dport, 1, 2, 0x10, 100, 40));
						ip[2] = (uint8_t)(tot >> 8);
						ip[3] = (uint8_t)tot;
						ip[20 + 12] = doff;
						f = f + ip;
						for (size_t cap = 0; cap <= 100 && cap <= f.size(); cap++) {
							cf_pkt p = dec(1, f, nullptr, cap);
							EXPECT_LT(p.skip, CF_SKIP_FILTERED);
							dec(1, f, &none, cap);
						}
					}
	// one tag: the same record as the general path, with the tag
	Bytes f = eth(0x8100) + be16(0x2abc) + be16(0x0800) + v4(A4, B4, 6, tcp(5, 6, 0x02, 3));
	cf_pkt p = dec(1, f);
	EXPECT_SKIP(p, CF_SKIP_NONE);
	EXPECT_EQ(p.vlan_count, 1);
	EXPECT_EQ(p.vlan[0], 0xabc);
	EXPECT_EQ(p.layers, CF_LAYER_VLAN | CF_LAYER_IPV4 | CF_LAYER_TCP);
	EXPECT_EQ(p.payload_len, 3u);
}

// ------------------------------------------------------------ tshark cross-check

TEST(DecodeTshark, InnermostAddressesAndPortsAgree)
{
	if (cft::run("tshark -v >/dev/null 2>&1") != 0)
		GTEST_SKIP() << "tshark not installed";
	Bytes in6 = v6(V6_C, V6_D, 17, udp(1000, 2000, fill(6)));
	Bytes in6tcp = v6(V6_C, V6_D, 6, tcp(3000, 4000, 0x02));
	Bytes ppp = Bytes{0xff, 0x03, 0x00, 0x21} + inner4();
	Bytes ext = Bytes{0, 0, 0, 0x85} + Bytes{0x01, 0x10, 0x09, 0x40} + Bytes{0x01, 0x08, 0x68, 0x00};
	std::vector<Bytes> frames = {
		frame_eth_v4_tcp(),
		eth(0x86dd) + v6(V6_A, V6_B, 17, udp(5353, 53, {1, 2, 3, 4})),
		eth(0x8100) + be16(100) + be16(0x0800) + v4(A4, B4, 6, tcp(1, 2)),
		eth(0x88a8) + be16(1) + be16(0x8100) + be16(2) + be16(0x86dd) + in6tcp,
		eth(0x8847) + Bytes{0, 1, 0, 0x40, 0, 1, 1, 0x40} + v4(A4, B4, 17, udp(67, 68, fill(4))),
		eth(0x8864) + Bytes{0x11, 0x00, 0x0a, 0xbc} + be16(42) + be16(0x0021) + v4(A4, B4, 6, tcp(5, 6)),
		eth(0x0800) + v4(A4, B4, 132, be16(2905) + be16(2944) + be32(1) + be32(0) + fill(16)),
		eth(0x86dd) + v6(V6_A, V6_B, 0, ext8(43, 0) + Bytes{60, 2, 0, 0, 0, 0, 0, 0} + fill(16) + ext8(6, 0) + tcp(7, 8)),
		outer4(47, Bytes{0x00, 0x00, 0x08, 0x00} + inner4()),
		outer4(47, Bytes{0x20, 0x00, 0x86, 0xdd} + be32(0x01020304) + in6),
		outer4(47, Bytes{0x20, 0x00, 0x65, 0x58} + be32(5) + inner_eth()),
		outer4(47, Bytes{0x10, 0x00, 0x88, 0xbe} + be32(1) + Bytes{0x10, 0x05} + be16(0x02ab) + be32(7) + inner_eth()),
		outer4(47, Bytes{0x00, 0x00, 0x22, 0xeb} + Bytes{0x20, 0x00} + be16(0x0123) + be32(1) + Bytes{0, 0, 0, 0} + inner_eth()),
		outer4(47, Bytes{0x30, 0x81, 0x88, 0x0b} + be16(ppp.size()) + be16(0x4242) + be32(1) + be32(2) + ppp),
		outer4(4, inner4()),
		outer4(41, in6tcp),
		eth(0x86dd) + v6(V6_A, V6_B, 4, inner4()),
		outer_udp(49152, 4789, vxlan(0x123456) + inner_eth()),
		outer_udp(3333, 6081, Bytes{0x02, 0x00, 0x65, 0x58} + be32(0xabcdef00) + Bytes{0x01, 0x02, 0x03, 0x01} + fill(4) + inner_eth()),
		outer_udp(2152, 2152, gtp_hdr(0x30, 0x11223344, {}, inner4())),
		outer_udp(2152, 2152, gtp_hdr(0x34, 6, ext, v4(C4, D4, 17, udp(7, 8, fill(3))))),
		outer_udp(3544, 50000, in6),
		outer_udp(40000, 5247, Bytes{0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0} + inner_eth()),
		outer_udp(40000, 37008, Bytes{0x01, 0x00, 0x00, 0x01, 0x01} + inner_eth()),
		outer_udp(49152, 4789, vxlan(3) + eth(0x0800, MAC_D, MAC_C) + v4(C4, D4, 47, Bytes{0x20, 0, 8, 0} + be32(9) + v4(D4, C4, 17, udp(9, 10, {})))),
	};
	std::vector<cft::Frame> pf;
	for (size_t i = 0; i < frames.size(); i++)
		pf.push_back({(int64_t)(i + 1) * 1000000, frames[i]});
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, pf);
	std::string out;
	int rc = cft::run("(tshark -n -r " + path +
	                  " -T fields -E separator=/t -E occurrence=l -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst"
	                  " -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport -e sctp.srcport"
	                  " -e sctp.dstport 2>/dev/null)",
	                  &out);
	remove(path.c_str());
	ASSERT_EQ(rc, 0) << out;
	std::vector<std::string> lines;
	std::istringstream is(out);
	for (std::string l; std::getline(is, l);)
		lines.push_back(l);
	ASSERT_EQ(lines.size(), frames.size()) << out;
	for (size_t i = 0; i < frames.size(); i++) {
		std::vector<std::string> f;
		std::string cell;
		std::istringstream ls(lines[i]);
		while (std::getline(ls, cell, '\t'))
			f.push_back(cell);
		f.resize(10);
		cf_pkt p = dec(1, frames[i]);
		ASSERT_EQ(p.skip, CF_SKIP_NONE) << "frame " << i + 1;
		int base = p.ip_version == 4 ? 0 : 2;
		EXPECT_EQ(src(p), f[base]) << "frame " << i + 1 << ": " << lines[i];
		EXPECT_EQ(dst(p), f[base + 1]) << "frame " << i + 1 << ": " << lines[i];
		int pb = p.proto == 6 ? 4 : p.proto == 17 ? 6 : p.proto == 132 ? 8 : -1;
		ASSERT_NE(pb, -1) << "frame " << i + 1;
		EXPECT_EQ(std::to_string(p.sport), f[pb]) << "frame " << i + 1 << ": " << lines[i];
		EXPECT_EQ(std::to_string(p.dport), f[pb + 1]) << "frame " << i + 1 << ": " << lines[i];
	}
}

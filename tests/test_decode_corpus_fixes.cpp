// Decoder and reader cases found by the capinfos/tshark corpus comparison
// (docs/capture-differences.md, "Fixed"), rebuilt here byte by byte.
#include <gtest/gtest.h>

#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

cf_pkt decode(uint32_t linktype, const std::vector<uint8_t> &b)
{
	cf_frame f{};
	f.linktype = linktype;
	f.caplen = f.wirelen = (uint32_t)b.size();
	f.data = b.data();
	cf_decode_opts o;
	cf_decode_opts_default(&o);
	cf_pkt p;
	cf_decode_frame(&o, &f, &p);
	return p;
}

const std::vector<uint8_t> kUdp = cft::udp(1000, 53, std::vector<uint8_t>(12, 7));

} // namespace

TEST(DecodeCorpusFixes, MplsOverPpp)
{
	// PPP (LINKTYPE 9): ff 03, protocol 0x0281, one MPLS label (bottom of
	// stack), IPv4/UDP.
	std::vector<uint8_t> f = {0xff, 0x03, 0x02, 0x81, 0x00, 0x01, 0x01, 0x40};
	f = cft::cat(f, cft::ipv4(0x0a000001, 0x0a000002, 17, kUdp));
	cf_pkt p = decode(9, f);
	EXPECT_EQ(p.skip, CF_SKIP_NONE);
	EXPECT_EQ(p.mpls_count, 1);
	EXPECT_TRUE(p.layers & CF_LAYER_MPLS);
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.dport, 53);
}

TEST(DecodeCorpusFixes, Ipv4AuthenticationHeaderIsWalked)
{
	// AH: next header 17, payload length 4 -> (4 + 2) * 4 = 24 bytes.
	std::vector<uint8_t> ah = {17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9};
	ah.resize(24, 0xaa);
	uint8_t a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
	auto f = cft::cat(cft::eth(a, b, 0x0800), cft::ipv4(0x0a000001, 0x0a000002, 51, cft::cat(ah, kUdp)));
	cf_pkt p = decode(1, f);
	EXPECT_EQ(p.skip, CF_SKIP_NONE);
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.sport, 1000);
	EXPECT_EQ(p.l3_hdr_len, 20 + 24);
	EXPECT_EQ(p.l4_hdr_len, 8);
	EXPECT_EQ(p.payload_len, 12u);
	EXPECT_TRUE(p.flags & CF_PKT_IP_OPTIONS);
	EXPECT_TRUE(p.layers & CF_LAYER_UDP);
	// cut inside the AH: truncated at the IP layer
	f.resize(14 + 20 + 10);
	EXPECT_EQ(decode(1, f).skip, CF_SKIP_TRUNCATED_IP);
}

TEST(DecodeCorpusFixes, GreVersion0CarryingCompressedPpp)
{
	// GRE v0, protocol 0x880b, PPP with no address/control and a 1-byte
	// protocol field 0x21 (IPv4).
	std::vector<uint8_t> gre = {0x00, 0x00, 0x88, 0x0b, 0x21};
	auto inner = cft::ipv4(0xc0a80001, 0xc0a80002, 17, kUdp);
	uint8_t a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
	auto f = cft::cat(cft::eth(a, b, 0x0800), cft::ipv4(0x07070707, 0x09090909, 47, cft::cat(gre, inner)));
	cf_pkt p = decode(1, f);
	EXPECT_EQ(p.skip, CF_SKIP_NONE);
	EXPECT_EQ(p.tunnel_type, CF_TUNNEL_GRE);
	EXPECT_EQ(p.src_ip[0], 0xc0);
	EXPECT_EQ(p.proto, 17);
	EXPECT_EQ(p.dport, 53);
}

TEST(DecodeCorpusFixes, PcapLinkTypeFieldFlagsAndReservedBits)
{
	std::vector<uint8_t> hdr = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                            0xff, 0xff, 0, 0, 0x01, 0x00, 0x00, 0x04}; // 0x04000001: F bit set
	cf_reader *r = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_reader_open_memory(hdr.data(), hdr.size(), "fcs", &r, err), CF_OK) << err;
	EXPECT_EQ(cf_reader_get_info(r)->linktypes[0], 1u);
	cf_reader_close(r);
	hdr[22] = 0x30; // 0x00300001: reserved bits 16-25 set
	EXPECT_EQ(cf_reader_open_memory(hdr.data(), hdr.size(), "reserved", &r, err), CF_ERR_CORRUPT);
	EXPECT_NE(std::string(err).find("reserved"), std::string::npos) << err;
}

// The statistics of `cuflow flows` against NFStream itself (not its expected
// results files): tests/oracles/compare_nfstream_stats.py runs
// NFStreamer(statistical_analysis=True, idle 120 s, active 1800 s, wire
// sizes, tunnels) and cuflow with the matching options on a capture, pairs
// the flows and compares the 48 statistics within the bounds NFStream's
// millisecond clock allows; every other difference must fall under one of
// its named, checked rules (docs/nfstream-stats.md). Exit 0 = all explained.
//
// Needs a Python with nfstream importable: $CUFLOW_NFSTREAM_PYTHON, else
// <build>/nfs-venv/bin/python (next to the cuflow binary), else
// <source>/build/nfs-venv/bin/python, else python3. Skips without one, or
// without the ../shared corpus.
#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <vector>

#include "test_util.h"

namespace {

using cft::exists;

// A Python interpreter that can import nfstream, or "".
std::string nfstream_python()
{
	return cft::venv_python("CUFLOW_NFSTREAM_PYTHON", "nfs-venv", "nfstream");
}

// Runs the comparison on the nfstream corpus capture `name`.
void check_capture(const std::string &name)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "no ../shared corpus";
	std::string pcap = shared + "/captures/nfstream/pcaps/" + name;
	if (!exists(pcap))
		GTEST_SKIP() << "no " << pcap;
	std::string py = nfstream_python();
	if (py.empty())
		GTEST_SKIP() << "nfstream is not importable (pip install nfstream; see docs/nfstream-stats.md)";
	std::string script = cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/compare_nfstream_stats.py";
	std::string out;
	int rc = cft::run(cft::shq(py) + " " + cft::shq(script) + " --cuflow " + cft::shq(cft::env("CUFLOW_BIN")) +
	                  " " + cft::shq(pcap) + " 2>&1", &out);
	EXPECT_EQ(rc, 0) << out;
	EXPECT_NE(out.find("all differences explained"), std::string::npos) << out;
	EXPECT_EQ(out.find("flows: NFStream 0,"), std::string::npos) << out;
	::testing::Test::RecordProperty("report", out);
}

} // namespace

// TCP-heavy (30 TCP, 7 UDP, 1 ICMP flows; 3,443 packets); one flow whose
// first packet is a SYN-ACK (oriented by its first packet, as NFStream, with
// --compat nfstream; cuflow's default client rule would swap it).
TEST(FlowNfstreamStats, TcpInstagram) { check_capture("instagram.pcap"); }

// DNS over TLS, and ICMP pings with two identifiers: two cuflow flows, one
// NFStream flow (finer_keying, checked by merging cuflow's flows).
TEST(FlowNfstreamStats, IcmpKeyingGoogleDns) { check_capture("googledns_android10.pcap"); }

// UDP (QUIC), ICMP and ICMPv6 over IPv4 and IPv6 (77 flows, pcapng).
TEST(FlowNfstreamStats, UdpIpv6Quic) { check_capture("quic_interop_V.pcapng"); }

// IPv4 in IPv4 under two stacked 802.1Q tags (vlan_outer_vs_inner).
TEST(FlowNfstreamStats, QinqIpipTunnel) { check_capture("4in4tunnel.pcap"); }

// TSO segments with IPv4 total length 0 (ip_length_zero, checked by a
// re-run of both tools on a copy without them).
TEST(FlowNfstreamStats, TsoSegmentsAnydesk) { check_capture("anydesk-2.pcap"); }

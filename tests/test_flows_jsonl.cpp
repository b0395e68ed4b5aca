// `cuflow flows -o OUT.jsonl[.gz]`: Joy-compatible JSON lines.
// - A capture written here, with every expected record written out by
//   hand (key order, payload bytes, truncated-millisecond ipt across
//   skipped empty packets, minimum TTLs, IP ids, null ports for ICMP, no
//   ids for IPv6, expire_type), with and without --zeros; gzip and stdout
//   give the same text.
// - Real captures (Joy's own test captures in ../shared, pathspider's
//   real.pcap from Debian, a synth capture) against tshark's per-packet
//   fields, rebuilt into Joy records by tests/oracles/joy_jsonl_oracle.py;
//   also with tiny pieces and two threads (the split-flow path).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using cft::shq;

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint32_t A = 0x0a000001, B = 0x0a000002, C = 0x0a000003;
const int64_t T0 = 1700000000000000000ll, US = 1000ll, MS = 1000000ll, SEC = 1000000000ll;

cft::Frame tcpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint16_t flags, size_t pay,
                uint8_t ttl, uint16_t id)
{
	return {T0 + t, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                         cft::ipv4(s, d, 6, cft::tcp(sp, dp, 1, 1, flags, 1000, pay), ttl, id))};
}
cft::Frame udpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay, uint8_t ttl, uint16_t id)
{
	return {T0 + t, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                         cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 1)), ttl, id))};
}

std::vector<cft::Frame> capture()
{
	// echo request, identifier 0x1234, 8 bytes of data
	std::vector<uint8_t> icmp = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8}, d6[16] = {0x20, 0x01, 0x0d, 0xb8};
	s6[15] = 1;
	d6[15] = 2;
	return {
		tcpf(0, A, B, 40000, 80, 0x02, 0, 64, 100),             // SYN
		tcpf(1500 * US, B, A, 80, 40000, 0x12, 0, 50, 7),       // SYN-ACK
		tcpf(2900 * US, A, B, 40000, 80, 0x10, 0, 63, 101),     // ACK
		tcpf(4900 * US, A, B, 40000, 80, 0x18, 100, 64, 102),   // 100 bytes out
		udpf(5 * MS, A, B, 5353, 53, 30, 64, 200),
		udpf(6500 * US, B, A, 53, 5353, 80, 60, 300),
		{T0 + 7 * MS, cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(A, B, 1, icmp, 64, 400))},
		{T0 + 8 * MS, cft::cat(cft::eth(kMacB, kMacA, 0x86dd), cft::ipv6(s6, d6, 17, cft::udp(1000, 2000,
		                                                                  std::vector<uint8_t>(10, 2)), 33))},
		tcpf(10200 * US, B, A, 80, 40000, 0x10, 300, 52, 8),    // 300 bytes in
		tcpf(10900 * US, A, B, 40000, 80, 0x10, 0, 64, 103),    // ACK
		tcpf(25 * MS, B, A, 80, 40000, 0x18, 20, 51, 9),        // 20 bytes in
		tcpf(30 * MS, A, B, 40000, 80, 0x11, 0, 64, 104),       // FIN
		tcpf(31 * MS, B, A, 80, 40000, 0x11, 0, 50, 10),        // FIN
		tcpf(32 * MS, A, B, 40000, 80, 0x10, 0, 64, 105),       // last ACK
		udpf(3 * SEC, C, B, 7, 7, 0, 64, 500),                  // idle sweep at 3 s
	};
}

// The records, by hand. TCP: 6 packets out (100 payload bytes), 4 in (300
// + 20); listed are the 3 with payload: 4.9 ms after the start -> 4, then
// 10.2 - 4.9 = 5.3 -> 5, then 25 - 10.2 = 14.8 -> 14 (the empty ACK at
// 10.9 ms is spanned, not restarted from). Minimum TTLs 63 and 50.
const char *const kTcp =
	"{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":6,\"sp\":40000,\"dp\":80,\"bytes_out\":100,\"num_pkts_out\":6,"
	"\"bytes_in\":320,\"num_pkts_in\":4,\"time_start\":1700000000.000000000,\"time_end\":1700000000.032000000,"
	"\"packets\":[{\"b\":100,\"dir\":\">\",\"ipt\":4},{\"b\":300,\"dir\":\"<\",\"ipt\":5},"
	"{\"b\":20,\"dir\":\"<\",\"ipt\":14}],\"ip\":{\"out\":{\"ttl\":63,\"id\":[100,101,102,103,104,105]},"
	"\"in\":{\"ttl\":50,\"id\":[7,8,9,10]}},\"flow_id\":1,\"end_reason\":\"fin\"}";
const char *const kTcpZeros =
	"\"packets\":[{\"b\":0,\"dir\":\">\",\"ipt\":0},{\"b\":0,\"dir\":\"<\",\"ipt\":1},{\"b\":0,\"dir\":\">\",\"ipt\":1},"
	"{\"b\":100,\"dir\":\">\",\"ipt\":2},{\"b\":300,\"dir\":\"<\",\"ipt\":5},{\"b\":0,\"dir\":\">\",\"ipt\":0},"
	"{\"b\":20,\"dir\":\"<\",\"ipt\":14},{\"b\":0,\"dir\":\">\",\"ipt\":5},{\"b\":0,\"dir\":\"<\",\"ipt\":1},"
	"{\"b\":0,\"dir\":\">\",\"ipt\":1}]";
const char *const kUdp =
	"{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":17,\"sp\":5353,\"dp\":53,\"bytes_out\":30,\"num_pkts_out\":1,"
	"\"bytes_in\":80,\"num_pkts_in\":1,\"time_start\":1700000000.005000000,\"time_end\":1700000000.006500000,"
	"\"packets\":[{\"b\":30,\"dir\":\">\",\"ipt\":0},{\"b\":80,\"dir\":\"<\",\"ipt\":1}],"
	"\"ip\":{\"out\":{\"ttl\":64,\"id\":[200]},\"in\":{\"ttl\":60,\"id\":[300]}},\"expire_type\":\"i\","
	"\"flow_id\":2,\"end_reason\":\"idle\"}";
// ICMP: ports null as in Joy, bytes are the data after the 8-byte header
const char *const kIcmp =
	"{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":1,\"sp\":null,\"dp\":null,\"bytes_out\":8,\"num_pkts_out\":1,"
	"\"bytes_in\":0,\"num_pkts_in\":0,\"time_start\":1700000000.007000000,\"time_end\":1700000000.007000000,"
	"\"packets\":[{\"b\":8,\"dir\":\">\",\"ipt\":0}],\"ip\":{\"out\":{\"ttl\":64,\"id\":[400]}},"
	"\"expire_type\":\"i\",\"flow_id\":3,\"end_reason\":\"idle\"}";
// IPv6: hop limit as ttl, no ids
const char *const kIpv6 =
	"{\"sa\":\"2001:db8::1\",\"da\":\"2001:db8::2\",\"pr\":17,\"sp\":1000,\"dp\":2000,\"bytes_out\":10,"
	"\"num_pkts_out\":1,\"bytes_in\":0,\"num_pkts_in\":0,\"time_start\":1700000000.008000000,"
	"\"time_end\":1700000000.008000000,\"packets\":[{\"b\":10,\"dir\":\">\",\"ipt\":0}],"
	"\"ip\":{\"out\":{\"ttl\":33}},\"expire_type\":\"i\",\"flow_id\":4,\"end_reason\":\"idle\"}";
// an empty datagram: counted, not listed
const char *const kEmpty =
	"{\"sa\":\"10.0.0.3\",\"da\":\"10.0.0.2\",\"pr\":17,\"sp\":7,\"dp\":7,\"bytes_out\":0,\"num_pkts_out\":1,"
	"\"bytes_in\":0,\"num_pkts_in\":0,\"time_start\":1700000003.000000000,\"time_end\":1700000003.000000000,"
	"\"packets\":[],\"ip\":{\"out\":{\"ttl\":64,\"id\":[500]}},\"flow_id\":5,\"end_reason\":\"end_of_input\"}";

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> v;
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line))
		v.push_back(line);
	return v;
}

std::string flows_jsonl(const std::string &pcap, const std::string &opts, const std::string &out)
{
	std::string log;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu --quiet " + opts + " " + shq(pcap) + " -o " +
	                       shq(out),
	                   &log),
	          0)
		<< log;
	return log;
}

bool have(const char *tool)
{
	return cft::run(std::string("command -v ") + tool + " >/dev/null 2>&1") == 0;
}

} // namespace

TEST(FlowsJsonl, RecordsMatchHandWrittenLines)
{
	std::string pcap = cft::temp_path(".pcap"), out = cft::temp_path(".jsonl");
	cft::write_pcap(pcap, 1, capture());
	flows_jsonl(pcap, "--idle-timeout 1", out);
	auto lines = lines_of(cft::slurp(out));
	ASSERT_EQ(lines.size(), 6u) << cft::slurp(out);
	// Joy readers skip the configuration line by its "version" key
	EXPECT_EQ(lines[0].rfind("{\"version\":\"cuflow ", 0), 0u) << lines[0];
	EXPECT_NE(lines[0].find("\"bidir\":1,\"num_pkts\":100,\"zeros\":0"), std::string::npos) << lines[0];
	EXPECT_NE(lines[0].find("\"size\":\"payload\""), std::string::npos) << lines[0];
	EXPECT_EQ(lines[0].substr(lines[0].size() - 15), "\"end-config\":1}");
	std::vector<std::string> got(lines.begin() + 1, lines.end()), want = {kTcp, kUdp, kIcmp, kIpv6, kEmpty};
	std::sort(got.begin(), got.end());
	std::sort(want.begin(), want.end());
	for (size_t i = 0; i < want.size(); i++)
		EXPECT_EQ(got[i], want[i]);
}

TEST(FlowsJsonl, ZerosListEmptyPacketsAndIptRestartsFromEach)
{
	std::string pcap = cft::temp_path(".pcap"), out = cft::temp_path(".jsonl");
	cft::write_pcap(pcap, 1, capture());
	flows_jsonl(pcap, "--idle-timeout 1 --zeros", out);
	auto lines = lines_of(cft::slurp(out));
	ASSERT_EQ(lines.size(), 6u);
	EXPECT_NE(lines[0].find("\"zeros\":1"), std::string::npos) << lines[0];
	std::string tcp;
	for (auto &l : lines)
		if (l.find("\"pr\":6") != std::string::npos)
			tcp = l;
	// every packet listed, ipt from the previous one: 0, 1.5 -> 1, 1.4 -> 1,
	// 2.0 -> 2, 5.3 -> 5, 0.7 -> 0, 14.1 -> 14, 5, 1, 1 ms
	EXPECT_NE(tcp.find(kTcpZeros), std::string::npos) << tcp;
	auto empty = std::find_if(lines.begin(), lines.end(),
	                          [](const std::string &l) { return l.find("\"sa\":\"10.0.0.3\"") != std::string::npos; });
	ASSERT_NE(empty, lines.end());
	EXPECT_NE(empty->find("\"packets\":[{\"b\":0,\"dir\":\">\",\"ipt\":0}]"), std::string::npos) << *empty;
}

TEST(FlowsJsonl, GzipStdoutAndFormatGiveTheSameText)
{
	std::string pcap = cft::temp_path(".pcap"), plain = cft::temp_path(".jsonl"), gz = cft::temp_path(".jsonl.gz");
	std::string piped = cft::temp_path(".txt");
	cft::write_pcap(pcap, 1, capture());
	flows_jsonl(pcap, "", plain);
	flows_jsonl(pcap, "", gz);
	std::string text = cft::slurp(plain), log;
	ASSERT_FALSE(text.empty());
	ASSERT_EQ(cft::run("gzip -dc " + shq(gz) + " > " + shq(piped), &log), 0) << log;
	EXPECT_EQ(cft::slurp(piped), text);
	ASSERT_EQ(cft::run("(" + cft::cuflow_bin() + " flows --backend cpu --quiet --format jsonl " + shq(pcap) +
	                       " -o - > " + shq(piped) + " 2>/dev/null)",
	                   &log),
	          0);
	EXPECT_EQ(cft::slurp(piped), text);
	// an explicit --size and --seq win over Joy's defaults
	flows_jsonl(pcap, "--size wire --seq 2", plain);
	auto lines = lines_of(cft::slurp(plain));
	ASSERT_GE(lines.size(), 2u);
	EXPECT_NE(lines[0].find("\"num_pkts\":2"), std::string::npos) << lines[0];
	EXPECT_NE(lines[0].find("\"size\":\"wire\""), std::string::npos) << lines[0];
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --format xml " + shq(pcap) + " -o -", &log), 1) << log;
}

TEST(FlowsJsonl, RealCapturesMatchTshark)
{
	if (!have("tshark") || !have("python3"))
		GTEST_SKIP() << "tshark or python3 not installed";
	std::string src = cft::env("CUFLOW_SOURCE_DIR"), oracle = src + "/tests/oracles/joy_jsonl_oracle.py";
	std::vector<std::string> caps;
	std::string synth = cft::temp_path(".pcap"), log;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -o " + shq(synth) + " --flows 400 --seed 11", &log), 0) << log;
	caps.push_back(synth);
	std::string shared = cft::shared_dir();
	if (!shared.empty())
		for (const char *f : {"sample", "firefox58", "dhcp", "kali-password-attack_hydra", "ikev1", "tls12"})
			caps.push_back(shared + "/data/joy/test/pcaps/" + f + ".pcap");
	std::string deb = cft::env("CUFLOW_TEST_DATA", src + "/tests/.data") + "/debian";
	std::string real = deb + "/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	if (!cft::exists(real))
		cft::run("bash " + shq(src + "/tests/scripts/fetch_debian_captures.sh") + " " + shq(deb), &log);
	if (cft::exists(real))
		caps.push_back(real);
	else
		printf("pathspider's real.pcap not fetched: compared without it\n");
	const std::string one_flow_per_key = "--tcp-end off --idle-timeout 0 --active-timeout 0";
	for (const auto &cap : caps) {
		for (const char *extra : {"", " --piece-packets 5 --threads 2"}) {
			if (*extra && cap != real && cap != synth)
				continue;
			std::string out = cft::temp_path(".jsonl");
			flows_jsonl(cap, one_flow_per_key + extra, out);
			std::string report;
			EXPECT_EQ(cft::run("python3 " + shq(oracle) + " " + shq(cap) + " " + shq(out), &report), 0)
				<< cap << extra << "\n" << report;
			printf("%s%s: %s", cap.c_str(), extra, report.substr(report.rfind(": ", report.size() - 2) + 2).c_str());
		}
	}
}

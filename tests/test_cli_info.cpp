// `cuflow info` end to end on captures written here, with hand-computed
// expectations, and its --filter against tcpdump as the oracle.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace {

const uint8_t kA[6] = {0, 1, 2, 3, 4, 5}, kB[6] = {6, 7, 8, 9, 10, 11};
const uint8_t kV6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t kV6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

// Value of "key": in the JSON text after position `from` (the first match).
long long json_int(const std::string &js, const std::string &key, size_t from = 0)
{
	std::string k = "\"" + key + "\":";
	size_t p = js.find(k, from);
	if (p == std::string::npos)
		return -1;
	return std::stoll(js.substr(p + k.size()));
}

std::vector<cft::Frame> mixed_frames()
{
	using namespace cft;
	std::vector<Frame> v;
	int64_t t = 1600000000000000000ll;
	auto e4 = eth(kB, kA, 0x0800);
	// 1: TCP SYN 10.0.0.1:1234 -> 10.0.0.2:80
	v.push_back({t, cat(e4, ipv4(0x0a000001, 0x0a000002, 6, tcp(1234, 80, 1, 0, 0x02, 65535, 0)))});
	// 2: UDP DNS
	v.push_back({t + 1000, cat(e4, ipv4(0x0a000001, 0x0a000003, 17, udp(5353, 53, std::vector<uint8_t>(30, 1))))});
	// 3: IPv6 UDP
	v.push_back({t + 2000, cat(eth(kB, kA, 0x86dd), ipv6(kV6a, kV6b, 17, udp(1000, 2000, std::vector<uint8_t>(10, 2))))});
	// 4: ARP request
	std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1, 0, 1, 2, 3, 4, 5, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
	v.push_back({t + 3000, cat(eth(kB, kA, 0x0806), arp)});
	// 5: IPv4 non-first fragment (offset 185 * 8)
	v.push_back({t + 4000, cat(e4, ipv4(0x0a000001, 0x0a000002, 17, std::vector<uint8_t>(40, 3), 64, 7, 185))});
	// 6: 802.1Q VLAN 100, ICMP echo request
	std::vector<uint8_t> vl = eth(kB, kA, 0x8100);
	vl.insert(vl.end(), {0x00, 0x64, 0x08, 0x00});
	std::vector<uint8_t> icmp = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
	v.push_back({t + 5000, cat(vl, ipv4(0x0a000001, 0x0a000004, 1, icmp))});
	// 7: TCP whose header is cut after 10 bytes (snap length), 60 bytes on the wire
	auto full = cat(e4, ipv4(0x0a000001, 0x0a000002, 6, tcp(1234, 80, 2, 0, 0x10, 65535, 6)));
	Frame f7{t + 6000, std::vector<uint8_t>(full.begin(), full.begin() + 14 + 20 + 10), (uint32_t)full.size()};
	v.push_back(f7);
	return v;
}

} // namespace

TEST(CliInfo, HandComputedCountsOnAMixedCapture)
{
	std::string path = cft::temp_path(".pcap");
	auto frames = mixed_frames();
	cft::write_pcap(path, 1, frames, true);
	std::string out;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " info --json --backend cpu " + path + " 2>/dev/null", &out), 0) << out;
	long long captured = 0, wire = 0;
	for (auto &f : frames) {
		captured += (long long)f.bytes.size();
		wire += f.wirelen ? f.wirelen : f.bytes.size();
	}
	EXPECT_EQ(json_int(out, "packets"), 7);
	EXPECT_EQ(json_int(out, "captured_bytes"), captured);
	EXPECT_EQ(json_int(out, "wire_bytes"), wire);
	EXPECT_EQ(json_int(out, "first_ns"), 1600000000000000000ll);
	EXPECT_EQ(json_int(out, "last_ns"), 1600000000000006000ll);
	EXPECT_EQ(json_int(out, "ipv4"), 5);
	EXPECT_EQ(json_int(out, "ipv6"), 1);
	EXPECT_EQ(json_int(out, "tcp"), 2);
	EXPECT_EQ(json_int(out, "udp"), 2);
	EXPECT_EQ(json_int(out, "icmp"), 1);
	EXPECT_EQ(json_int(out, "vlan"), 1);
	EXPECT_EQ(json_int(out, "arp"), 1);
	EXPECT_EQ(json_int(out, "decoded"), 4);
	EXPECT_EQ(json_int(out, "non_ip"), 1);
	EXPECT_EQ(json_int(out, "nonfirst_fragment"), 1);
	EXPECT_EQ(json_int(out, "truncated_transport"), 1);
	EXPECT_NE(out.find("\"format\":\"pcap\""), std::string::npos);
	EXPECT_NE(out.find("\"ts_resolution_ns\":1,"), std::string::npos);
	EXPECT_NE(out.find("\"error\":null"), std::string::npos);
	// the total repeats the file's counters
	size_t total = out.find("\"total\"");
	ASSERT_NE(total, std::string::npos);
	EXPECT_EQ(json_int(out, "packets", total), 7);
	EXPECT_EQ(json_int(out, "damaged", total), 0);
}

TEST(CliInfo, FilterAgreesWithTcpdump)
{
	if (cft::run("command -v tcpdump") != 0)
		GTEST_SKIP() << "tcpdump not installed";
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, mixed_frames());
	for (const char *expr : {"tcp port 80", "udp", "ip6", "vlan and icmp", "arp", "net 10.0.0.0/8", "not ip"}) {
		std::string want, got;
		ASSERT_EQ(cft::run("tcpdump -nr " + path + " '" + expr + "' 2>/dev/null | wc -l", &want), 0);
		ASSERT_EQ(cft::run(cft::cuflow_bin() + " info --json --backend cpu --filter '" + expr + "' " + path +
		                       " 2>/dev/null",
		                   &got),
		          0)
		    << got;
		long long matched = json_int(got, "packets") - json_int(got, "filtered");
		EXPECT_EQ(matched, std::stoll(want)) << expr << "\n" << got;
	}
	std::string out;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info --filter 'tcp port' " + path, &out), 1) << out;
	EXPECT_NE(out.find("filter"), std::string::npos) << out;
}

TEST(CliInfo, DamagedFileIsReportedAndTheNextFileIsRead)
{
	std::string good = cft::temp_path(".pcap"), cut = cft::temp_path(".pcap");
	auto frames = mixed_frames();
	cft::write_pcap(good, 1, frames);
	auto bytes = cft::read_file(good);
	size_t first_two = 24 + 16 + frames[0].bytes.size() + 16 + frames[1].bytes.size();
	bytes.resize(first_two + 20); // inside the third record
	cft::write_file(cut, bytes);
	std::string out;
	int rc = cft::run(cft::cuflow_bin() + " info --json --backend cpu " + cut + " " + good + " 2>/dev/null", &out);
	EXPECT_EQ(rc, 2) << out;
	EXPECT_EQ(json_int(out, "packets"), 2);
	EXPECT_EQ(json_int(out, "offset"), (long long)first_two);
	size_t second = out.find("\"path\"", out.find("\"path\"") + 1);
	ASSERT_NE(second, std::string::npos);
	EXPECT_EQ(json_int(out, "packets", second), 7);
	size_t total = out.find("\"total\"");
	EXPECT_EQ(json_int(out, "packets", total), 9);
	EXPECT_EQ(json_int(out, "damaged", total), 1);
	// the text form names the file and the offset on stderr
	std::string err;
	EXPECT_EQ(cft::run("(" + cft::cuflow_bin() + " info --backend cpu " + cut + " >/dev/null)", &err), 2);
	EXPECT_NE(err.find(cut), std::string::npos) << err;
	EXPECT_NE(err.find("offset " + std::to_string(first_two)), std::string::npos) << err;
}

TEST(CliInfo, NotACaptureExitsTwoAndUsageErrorsExitOne)
{
	std::string txt = cft::temp_path(".pcap");
	cft::write_file(txt, std::vector<uint8_t>{'j', 'u', 's', 't', ' ', 't', 'e', 'x', 't', '\n'});
	std::string out;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info " + txt, &out), 2);
	EXPECT_NE(out.find("looks like text"), std::string::npos) << out;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info", &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info --decap bogus " + txt, &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info --backend tpu " + txt, &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " frobnicate", &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info /nonexistent/file.pcap", &out), 2);
	EXPECT_NE(out.find("/nonexistent/file.pcap"), std::string::npos);
}

TEST(CliInfo, ForcingCudaWithoutADeviceIsAClearError)
{
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, mixed_frames());
	std::string out;
	int rc = cft::run(cft::cuflow_bin() + " info --backend cuda " + path, &out);
	if (out.find("using the CPU") == std::string::npos && rc == 0)
		GTEST_SKIP() << "a CUDA device is present";
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("CUDA"), std::string::npos) << out;
	// auto says once that it falls back, and works
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " info " + path + " " + path + " 2>&1 >/dev/null | grep -c 'CPU backend'", &out), 0);
	EXPECT_EQ(std::stoi(out), 1);
}

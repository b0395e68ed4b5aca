// `cuflow flows` against NFStream's own expected results
// (../shared/captures/nfstream/results/*.csv): the multiset of
// (bidirectional_packets, bidirectional_bytes) per capture, with NFStream's
// settings (idle 120 s, active 1800 s, no TCP termination, wire sizes,
// tunnels gtp,capwap,tzsp,ipip, --compat nfstream). Skips when the shared
// corpus is absent.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "test_util.h"

namespace {

typedef std::map<std::pair<long long, long long>, int> Multiset;

// (packets, bytes) multiset of a CSV with those two named columns.
Multiset read_pairs(const std::string &path)
{
	Multiset m;
	std::ifstream in(path);
	std::string line;
	if (!std::getline(in, line))
		return m;
	std::vector<std::string> head;
	std::stringstream hs(line);
	std::string cell;
	while (std::getline(hs, cell, ','))
		head.push_back(cell);
	int ip = -1, ib = -1;
	for (size_t i = 0; i < head.size(); i++) {
		if (head[i] == "bidirectional_packets")
			ip = (int)i;
		if (head[i] == "bidirectional_bytes")
			ib = (int)i;
	}
	if (ip < 0 || ib < 0)
		return m;
	while (std::getline(in, line)) {
		std::vector<std::string> c;
		std::stringstream ss(line);
		while (std::getline(ss, cell, ','))
			c.push_back(cell);
		if ((int)c.size() > std::max(ip, ib))
			m[{std::stoll(c[ip]), std::stoll(c[ib])}]++;
	}
	return m;
}

int count(const Multiset &m)
{
	int n = 0;
	for (auto &kv : m)
		n += kv.second;
	return n;
}

int common(const Multiset &a, const Multiset &b)
{
	int n = 0;
	for (auto &kv : a) {
		auto it = b.find(kv.first);
		if (it != b.end())
			n += std::min(kv.second, it->second);
	}
	return n;
}

} // namespace

TEST(FlowNfstream, PacketAndByteMultisetsMatchExpectedResults)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "no ../shared corpus";
	std::string rdir = shared + "/captures/nfstream/results", pdir = shared + "/captures/nfstream/pcaps";
	DIR *d = opendir(rdir.c_str());
	if (!d)
		GTEST_SKIP() << "no " << rdir;
	std::vector<std::string> names;
	while (struct dirent *e = readdir(d)) {
		std::string n = e->d_name;
		if (n.size() > 4 && n.substr(n.size() - 4) == ".csv")
			names.push_back(n.substr(0, n.size() - 4));
	}
	closedir(d);
	// Files known to differ (6 of 4,336 expected flows; docs/ to follow):
	//  - BGP_Cisco_hdlc_slarp.pcap, ajp.pcap: NFStream parses any frame whose
	//    byte at the IP offset looks like IPv4 (Cisco HDLC SLARP, FabricPath
	//    0x8903, shared/specs/nfstream_flows.md section 0); cuflow's decoder
	//    counts them non_ip.
	//  - reasm_crash_anon.pcapng: one TCP segment with a bad header that
	//    cuflow skips (bad_transport) and NFStream meters.
	//  - googledns_android10.pcap: pings with identifiers 2 and 3; cuflow keys
	//    ICMP echo by identifier (issue 3), NFStream merges them.
	//  - anydesk-2.pcap: one TCP flow, 2502 packets here and 2064 in NFStream:
	//    NFStream drops the 438 TSO/GRO segments whose IPv4 total length is 0
	//    (tests/oracles/compare_nfstream_stats.py, rule ip_length_zero).
	const std::set<std::string> known = {"BGP_Cisco_hdlc_slarp.pcap", "ajp.pcap", "anydesk-2.pcap",
	                                     "googledns_android10.pcap", "reasm_crash_anon.pcapng"};
	int total = 0, matched = 0, files = 0;
	std::string csv = cft::temp_path(".csv");
	for (auto &n : names) {
		std::string pcap = pdir + "/" + n;
		struct stat st;
		if (stat(pcap.c_str(), &st) != 0)
			continue;
		files++;
		std::string out;
		int rc = cft::run(cft::cuflow_bin() + " flows --backend cpu --quiet --idle-timeout 120 --active-timeout 1800"
		                  " --tcp-end off --size wire --decap gtp,capwap,tzsp,ipip --compat nfstream '" + pcap +
		                      "' -o " + csv,
		                  &out);
		EXPECT_TRUE(rc == 0 || rc == 2) << n << ": " << out;
		Multiset want = read_pairs(rdir + "/" + n + ".csv"), got = read_pairs(csv);
		int nw = count(want), m = common(want, got);
		total += nw;
		matched += m;
		if (!known.count(n)) {
			EXPECT_EQ(m, nw) << n;
			EXPECT_EQ(count(got), nw) << n;
		}
	}
	ASSERT_GT(files, 100);
	EXPECT_GE((double)matched, 0.99 * total) << matched << " of " << total;
	RecordProperty("matched", matched);
	RecordProperty("total", total);
}

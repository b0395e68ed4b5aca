// `cuflow flows` end to end: the CSV it writes for a capture written here,
// checked against hand-computed values; options; damaged input.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint32_t A = 0x0a000001, B = 0x0a000002;
const int64_t T0 = 1700000000000000000ll, MS = 1000000ll, SEC = 1000000000ll;

cft::Frame tcpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint16_t flags, size_t pay = 0)
{
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(s, d, 6, cft::tcp(sp, dp, 1, 1, flags, 1000, pay)))};
}
cft::Frame udpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay)
{
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                    cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 1))))};
}

struct Csv {
	std::vector<std::string> header;
	std::vector<std::map<std::string, std::string>> rows;
};

std::vector<std::string> split(const std::string &line)
{
	std::vector<std::string> v;
	std::stringstream ss(line);
	std::string cell;
	while (std::getline(ss, cell, ','))
		v.push_back(cell);
	return v;
}

Csv read_csv(const std::string &path)
{
	Csv c;
	std::ifstream in(path);
	std::string line;
	if (std::getline(in, line))
		c.header = split(line);
	while (std::getline(in, line)) {
		auto cells = split(line);
		EXPECT_EQ(cells.size(), c.header.size()) << line;
		std::map<std::string, std::string> row;
		for (size_t i = 0; i < cells.size() && i < c.header.size(); i++)
			row[c.header[i]] = cells[i];
		c.rows.push_back(row);
	}
	return c;
}

std::vector<cft::Frame> capture()
{
	return {
		tcpf(T0, A, B, 40000, 80, 0x02),                  // SYN, 54
		tcpf(T0 + 1 * MS, B, A, 80, 40000, 0x12),         // SYN-ACK, 54
		udpf(T0 + 2 * MS, A, B, 5353, 53, 58),            // DNS query, 100
		tcpf(T0 + 3 * MS, A, B, 40000, 80, 0x18, 146),    // PSH-ACK, 200
		udpf(T0 + 4 * MS, B, A, 53, 5353, 158),           // DNS answer, 200
		tcpf(T0 + 7 * MS, B, A, 80, 40000, 0x11),         // FIN-ACK, 54
		tcpf(T0 + 9 * MS, A, B, 40000, 80, 0x11),         // FIN-ACK, 54 -> closing
		tcpf(T0 + 10 * MS, B, A, 80, 40000, 0x10),        // last ACK, 54
		tcpf(T0 + 3 * SEC, A, B, 40000, 80, 0x02),        // port reuse, after the linger
	};
}

} // namespace

TEST(FlowCli, CsvRowsMatchHandComputedValues)
{
	std::string pcap = cft::temp_path(".pcap"), csv = cft::temp_path(".csv");
	cft::write_pcap(pcap, 1, capture(), true);
	std::string out;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu --quiet " + pcap + " -o " + csv, &out), 0) << out;
	// counters on stderr
	EXPECT_NE(out.find("packets read 9"), std::string::npos) << out;
	EXPECT_NE(out.find("fin 1"), std::string::npos) << out;
	Csv c = read_csv(csv);
	ASSERT_FALSE(c.header.empty());
	EXPECT_EQ(c.header[0], "id");
	ASSERT_EQ(c.rows.size(), 3u);
	// Row order: the TCP flow ends (linger over) when the SYN at 3 s
	// arrives; then end of input in order of first packet: DNS (id 2), the
	// new TCP flow (id 3).
	auto &t = c.rows[0];
	EXPECT_EQ(t["id"], "1");
	EXPECT_EQ(t["end_reason"], "fin");
	EXPECT_EQ(t["src_ip"], "10.0.0.1");
	EXPECT_EQ(t["dst_ip"], "10.0.0.2");
	EXPECT_EQ(t["src_port"], "40000");
	EXPECT_EQ(t["dst_port"], "80");
	EXPECT_EQ(t["protocol"], "6");
	EXPECT_EQ(t["bidirectional_packets"], "6");
	EXPECT_EQ(t["bidirectional_bytes"], "470");          // 54*5 + 200
	EXPECT_EQ(t["bidirectional_first_seen_ns"], std::to_string(T0));
	EXPECT_EQ(t["bidirectional_duration_ns"], std::to_string(10 * MS));
	EXPECT_EQ(t["bidirectional_min_ps"], "54");
	EXPECT_EQ(t["bidirectional_max_ps"], "200");
	// mean 470/6; deviations: 5 x (54 - 470/6) and (200 - 470/6)
	double m = 470.0 / 6, q = 5 * (54 - m) * (54 - m) + (200 - m) * (200 - m);
	EXPECT_NEAR(std::stod(t["bidirectional_mean_ps"]), m, 1e-9);
	EXPECT_NEAR(std::stod(t["bidirectional_stddev_ps"]), std::sqrt(q / 5), 1e-9);
	// piats 1,2,4,2,1 ms: mean 2 ms, sample var (1+0+4+0+1)/4 = 1.5 ms^2
	EXPECT_EQ(t["bidirectional_min_piat_ns"], std::to_string(1 * MS));
	EXPECT_EQ(t["bidirectional_max_piat_ns"], std::to_string(4 * MS));
	EXPECT_NEAR(std::stod(t["bidirectional_mean_piat_ns"]), 2e6, 1e-3);
	EXPECT_NEAR(std::stod(t["bidirectional_stddev_piat_ns"]), std::sqrt(1.5) * 1e6, 1e-3);
	EXPECT_EQ(t["src2dst_packets"], "3");
	EXPECT_EQ(t["src2dst_bytes"], "308");
	EXPECT_EQ(t["dst2src_packets"], "3");
	EXPECT_EQ(t["dst2src_bytes"], "162");
	EXPECT_EQ(t["bidirectional_syn_packets"], "2");
	EXPECT_EQ(t["bidirectional_fin_packets"], "2");
	EXPECT_EQ(t["bidirectional_ack_packets"], "5");
	EXPECT_EQ(t["src2dst_psh_packets"], "1");
	EXPECT_EQ(t["dst2src_syn_packets"], "1");
	EXPECT_EQ(t["dst2src_rst_packets"], "0");

	auto &u = c.rows[1];
	EXPECT_EQ(u["id"], "2");
	EXPECT_EQ(u["end_reason"], "end_of_input");
	EXPECT_EQ(u["protocol"], "17");
	EXPECT_EQ(u["src_port"], "5353");
	EXPECT_EQ(u["bidirectional_bytes"], "300");
	EXPECT_EQ(u["bidirectional_mean_ps"], "150");
	EXPECT_EQ(u["bidirectional_min_piat_ns"], std::to_string(2 * MS));
	EXPECT_EQ(u["dst2src_bytes"], "200");
	EXPECT_EQ(u["dst2src_min_piat_ns"], "0");   // one packet: no piat

	auto &n = c.rows[2];
	EXPECT_EQ(n["id"], "3");
	EXPECT_EQ(n["bidirectional_packets"], "1");
	EXPECT_EQ(n["bidirectional_first_seen_ns"], std::to_string(T0 + 3 * SEC));
}

TEST(FlowCli, OptionsChangeTheFlows)
{
	std::string pcap = cft::temp_path(".pcap"), csv = cft::temp_path(".csv");
	cft::write_pcap(pcap, 1, capture(), true);
	std::string out;
	// TCP termination off: the SYN at 3 s joins the first flow.
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu --tcp-end off " + pcap + " -o " + csv, &out), 0)
		<< out;
	Csv c = read_csv(csv);
	ASSERT_EQ(c.rows.size(), 2u);
	EXPECT_EQ(c.rows[0]["bidirectional_packets"], "7");
	EXPECT_EQ(c.rows[0]["end_reason"], "end_of_input");
	// idle timeout 1 s: at 3 s the DNS flow (least recently active) and then
	// the TCP flow end idle; the SYN starts a new flow.
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu --tcp-end off --idle-timeout 1 " + pcap +
	                   " -o " + csv, &out), 0) << out;
	c = read_csv(csv);
	ASSERT_EQ(c.rows.size(), 3u);
	EXPECT_EQ(c.rows[0]["end_reason"], "idle");
	EXPECT_EQ(c.rows[1]["end_reason"], "idle");
	// --max-flows 1: every new flow evicts the previous one
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu --max-flows 1 " + pcap + " -o " + csv, &out), 0)
		<< out;
	EXPECT_NE(out.find("evictions 4"), std::string::npos) << out;
	// usage errors
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows " + pcap, &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --tcp-end maybe " + pcap + " -o " + csv, &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --size bogus " + pcap + " -o " + csv, &out), 1);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --order bogus " + pcap + " -o " + csv, &out), 1);
}

// A damaged file is reported (exit 2); the flows of the good file and of
// the damaged file's intact part are still written.
TEST(FlowCli, DamagedInputExitsTwoAndKeepsTheRest)
{
	std::string good = cft::temp_path(".pcap"), bad = cft::temp_path(".pcap"), csv = cft::temp_path(".csv");
	cft::write_pcap(good, 1, capture(), true);
	auto bytes = cft::read_file(good);
	bytes.resize(bytes.size() - 20); // cut inside the last record
	cft::write_file(bad, bytes);
	std::string out;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --backend cpu " + bad + " " + good + " -o " + csv, &out), 2)
		<< out;
	Csv c = read_csv(csv);
	// bad: 8 intact packets -> TCP (fin) + DNS; good: 3 flows; ids continue
	ASSERT_EQ(c.rows.size(), 5u);
	EXPECT_EQ(c.rows[0]["bidirectional_packets"], "6");
	EXPECT_EQ(c.rows[0]["end_reason"], "fin");
	EXPECT_EQ(c.rows[2]["id"], "3");
	EXPECT_EQ(c.rows[4]["id"], "5");
}

// cuflow windows (seed 001, docs/windows.md) against independent oracles:
// a pandas implementation of the notebook's cell In [31]
// (tests/oracles/windows_ref.py) fed the same entries, hand-computed rows,
// hand-built captures whose per-packet states are known, and a port scan
// and a SYN flood mixed into background traffic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using cft::shq;

std::string pandas_python()
{
	return cft::venv_python("CUFLOW_PANDAS_PYTHON", "netml-venv", "pandas");
}

std::string oracle()
{
	return cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/windows_ref.py";
}

// A CSV as rows of fields (no quoting: cuflow's numeric output).
std::vector<std::vector<std::string>> read_csv(const std::string &path)
{
	std::vector<std::vector<std::string>> rows;
	std::istringstream in(cft::slurp(path));
	std::string line;
	while (std::getline(in, line))
		if (!line.empty())
			rows.push_back(cft::split(line, ','));
	return rows;
}

struct Table {
	std::vector<std::string> header;
	std::vector<std::vector<std::string>> rows;
	std::string at(size_t r, const std::string &col) const
	{
		auto it = std::find(header.begin(), header.end(), col);
		if (it == header.end() || r >= rows.size())
			return "?";
		return rows[r][it - header.begin()];
	}
	double num(size_t r, const std::string &col) const { return strtod(at(r, col).c_str(), nullptr); }
};

Table read_table(const std::string &path)
{
	Table t;
	auto rows = read_csv(path);
	if (rows.empty())
		return t;
	t.header = rows[0];
	t.rows.assign(rows.begin() + 1, rows.end());
	return t;
}

// Runs cuflow windows; returns its exit status, output in *out.
int windows(const std::string &args, std::string *out = nullptr)
{
	return cft::run(shq(cft::cuflow_bin()) + " windows -q " + args, out);
}

void write_text(const std::string &path, const std::string &text)
{
	cft::write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// cuflow windows (with its summary line) on the entries CSV `csv`, written to a
// temporary file; the table goes to *out.
int windows_on_csv(const std::string &csv, const std::string &opts, std::string *out, std::string *log)
{
	std::string ent = cft::temp_path(".csv");
	*out = cft::temp_path(".csv");
	write_text(ent, csv);
	return cft::run(shq(cft::cuflow_bin()) + " windows " + opts + " --entries-csv " + shq(ent) + " -o " + shq(*out), log);
}

// cuflow on an entries CSV, then the pandas oracle on the same entries and options.
void expect_equals_pandas(const std::string &entries, const std::string &opts, const std::string &what)
{
	std::string py = pandas_python();
	std::string out = cft::temp_path(".csv"), log;
	ASSERT_EQ(windows("--entries-csv " + shq(entries) + " " + opts + " -o " + shq(out), &log), 0) << what << log;
	int rc = cft::run(shq(py) + " " + shq(oracle()) + " check --entries " + shq(entries) + " " + opts + " --actual " +
	                      shq(out),
	                  &log);
	EXPECT_EQ(rc, 0) << what << ": " << log;
	EXPECT_NE(log.find(" 0 mismatches"), std::string::npos) << what << ": " << log;
}

const uint8_t kMacA[6] = {2, 0, 0, 0, 0, 1}, kMacB[6] = {2, 0, 0, 0, 0, 2};

enum : uint16_t { FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16 };

cft::Frame tcp4(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint16_t flags, size_t pay = 0)
{
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(s, d, 6, cft::tcp(sp, dp, 1, 1, flags, 1000, pay)))};
}

cft::Frame udp4(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay = 20)
{
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                    cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 1))))};
}

const uint32_t H1 = 0x0a000001, H2 = 0x0a000002, H3 = 0x0a000003, H4 = 0x0a000004;
const int64_t T0 = 1700000000000000000ll; // a multiple of 10 s

} // namespace

// Every state of docs/windows.md §2 on hand-built flows: the state after
// each packet, and the entry's orientation (src = the first packet's sender).
TEST(Windows, PacketStatesOfHandBuiltFlows)
{
	std::vector<cft::Frame> f;
	int64_t t = T0 + 1000000000ll, us = 1000;
	// full TCP life: SYN, SYN-ACK, ACK, data both ways, FIN, FIN-ACK, ACK
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, SYN));            // new
	f.push_back(tcp4(t += us, H2, H1, 80, 40000, SYN | ACK));      // connecting
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, ACK));            // established
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, PSH | ACK, 100)); // established
	f.push_back(tcp4(t += us, H2, H1, 80, 40000, PSH | ACK, 900)); // established
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, FIN | ACK));      // closing
	f.push_back(tcp4(t += us, H2, H1, 80, 40000, FIN | ACK));      // closed
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, ACK));            // closed
	// refused connection: SYN, RST-ACK; then the same 5-tuple starts again
	f.push_back(tcp4(t += us, H1, H3, 40001, 22, SYN));       // new
	f.push_back(tcp4(t += us, H3, H1, 22, 40001, RST | ACK)); // reset
	f.push_back(tcp4(t += us, H1, H3, 40001, 22, ACK));       // reset (stays)
	f.push_back(tcp4(t += us, H1, H3, 40001, 22, SYN));       // new (a SYN on a reset flow starts one)
	// picked up mid-stream, answered from the server side first
	f.push_back(tcp4(t += us, H4, H1, 443, 50000, PSH | ACK, 50)); // new (src = H4, the first sender)
	f.push_back(tcp4(t += us, H1, H4, 50000, 443, ACK));           // established
	// handshake never completed: SYN, SYN (retransmitted)
	f.push_back(tcp4(t += us, H1, H2, 40002, 8080, SYN)); // new
	f.push_back(tcp4(t += us, H1, H2, 40002, 8080, SYN)); // connecting
	// UDP: two one-way packets, then the answer
	f.push_back(udp4(t += us, H1, H3, 5353, 53)); // new
	f.push_back(udp4(t += us, H1, H3, 5353, 53)); // connecting
	f.push_back(udp4(t += us, H3, H1, 53, 5353)); // established
	f.push_back(udp4(t += us, H1, H3, 5353, 53)); // established
	std::string pcap = cft::temp_path(".pcap"), out = cft::temp_path(".csv"), ent = cft::temp_path(".csv"), log;
	cft::write_pcap(pcap, 1, f, true);
	ASSERT_EQ(windows(shq(pcap) + " --dump-entries " + shq(ent) + " -o " + shq(out), &log), 0) << log;
	Table e = read_table(ent);
	const char *want[] = {"new",         "connecting", "established", "established", "established",
	                      "closing",     "closed",     "closed",      "new",         "reset",
	                      "reset",       "new",        "new",         "established", "new",
	                      "connecting",  "new",        "connecting",  "established", "established"};
	ASSERT_EQ(e.rows.size(), sizeof want / sizeof *want);
	for (size_t i = 0; i < e.rows.size(); i++)
		EXPECT_EQ(e.at(i, "state"), want[i]) << "packet " << i + 1;
	// orientation: the answer of the first flow is still src 10.0.0.1 -> dst 10.0.0.2:80
	EXPECT_EQ(e.at(1, "src_ip"), "10.0.0.1");
	EXPECT_EQ(e.at(1, "dst_port"), "80");
	EXPECT_EQ(e.at(1, "bytes_up"), "0");
	EXPECT_NE(e.at(1, "bytes_down"), "0");
	EXPECT_EQ(e.at(12, "src_ip"), "10.0.0.4");
	EXPECT_EQ(e.at(13, "dst_port"), "50000");
	EXPECT_EQ(e.at(1, "ts"), "1700000001.000002000");
	// one window: hand-counted row
	Table w = read_table(out);
	ASSERT_EQ(w.rows.size(), 1u);
	EXPECT_EQ(w.at(0, "window_start_ns"), "1700000000000000000");
	EXPECT_EQ(w.at(0, "num_entries"), "20");
	EXPECT_EQ(w.at(0, "num_state_new"), "6");
	EXPECT_EQ(w.at(0, "num_state_connecting"), "3");
	EXPECT_EQ(w.at(0, "num_state_established"), "6");
	EXPECT_EQ(w.at(0, "num_state_closing"), "1");
	EXPECT_EQ(w.at(0, "num_state_closed"), "2");
	EXPECT_EQ(w.at(0, "num_state_reset"), "2");
	EXPECT_EQ(w.at(0, "count_dst_port"), "5"); // 80, 22, 50000, 8080, 53
	EXPECT_EQ(w.at(0, "count_flows"), "5");    // the restarted port-22 flow is the same 5-tuple
	EXPECT_EQ(w.at(0, "count_conns"), "3");    // (dst, src): (H2,H1) (H3,H1) (H1,H4)
	if (!pandas_python().empty()) // every state and group shape, through the notebook's code
		expect_equals_pandas(ent, "--window 10 --distinct", "hand-built flows");
}

// Hand-computed: one window whose dst_ip groups have 1, 1, 2 and 4 entries.
TEST(Windows, HandComputedDistribution)
{
	std::string ent = cft::temp_path(".csv"), out = cft::temp_path(".csv"), log;
	std::string csv = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state,bytes_up,bytes_down\n";
	const char *dsts[] = {"10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.3",
	                      "10.1.0.4", "10.1.0.4", "10.1.0.4", "10.1.0.4"};
	for (int i = 0; i < 8; i++)
		csv += "1700000001." + std::to_string(i) + ",192.168.0.9," + std::to_string(1000 + i) + "," + dsts[i] +
		       ",443,tcp,established,10,20\n";
	write_text(ent, csv);
	ASSERT_EQ(windows("--entries-csv " + shq(ent) + " -o " + shq(out), &log), 0) << log;
	Table w = read_table(out);
	ASSERT_EQ(w.rows.size(), 1u);
	EXPECT_EQ(w.at(0, "dst_port_per_dst_ip_max"), "4");
	EXPECT_EQ(w.num(0, "dst_port_per_dst_ip_mean"), 2.0);
	EXPECT_EQ(w.num(0, "dst_port_per_dst_ip_perc25"), 1.0);
	EXPECT_EQ(w.num(0, "dst_port_per_dst_ip_perc50"), 1.5);
	EXPECT_EQ(w.num(0, "dst_port_per_dst_ip_perc75"), 2.5);
	EXPECT_EQ(w.num(0, "dst_port_per_dst_ip_perc90"), 3.4000000000000004); // numpy's bits
	EXPECT_EQ(w.at(0, "count_conns"), "4");
	EXPECT_EQ(w.at(0, "count_flows"), "8");
	EXPECT_EQ(w.num(0, "num_flows_per_conn_mean"), 2.0);
	EXPECT_EQ(w.at(0, "dst_port_per_src_ip_max"), "8");
	EXPECT_EQ(w.at(0, "bytes_up"), "80");
	EXPECT_EQ(w.at(0, "bytes_down"), "160");
	if (pandas_python().empty())
		GTEST_SKIP() << "no python with pandas (bash .ci/deps.sh makes build/netml-venv)";
	expect_equals_pandas(ent, "--window 10 --distinct", "hand-built");
}

// Random entry CSVs (many seeds): tumbling, distinct, the seed's batching,
// sliding windows with empty ones, sub-second windows, IPv6 and mixed
// versions, ties in percentiles, windows of one entry.
TEST(Windows, RandomEntriesEqualPandas)
{
	std::string py = pandas_python();
	if (py.empty())
		GTEST_SKIP() << "no python with pandas (bash .ci/deps.sh makes build/netml-venv)";
	// (the oracle's pandas costs ~20 ms per window: sizes keep it near 30 s)
	int seeds = cft::sanitized() ? 2 : 4;
	for (int seed = 1; seed <= seeds; seed++) {
		std::string ent = cft::temp_path(".csv"), few = cft::temp_path(".csv"), log;
		auto gen = [&](int rows, const std::string &path) {
			return cft::run(shq(py) + " " + shq(oracle()) + " gen --seed " + std::to_string(seed) + " --rows " +
			                    std::to_string(rows) + " --span-s " + std::to_string(seed % 2 ? 95 : 31) + " -o " +
			                    shq(path),
			                &log);
		};
		ASSERT_EQ(gen(seed % 3 == 0 ? 40 : 800, ent), 0) << log;
		ASSERT_EQ(gen(250, few), 0) << log;
		std::string s = "seed " + std::to_string(seed);
		expect_equals_pandas(ent, "--window 10 --distinct", s + " tumbling");
		expect_equals_pandas(few, "--window 10 --batching seed", s + " seed batching");
		expect_equals_pandas(ent, "--window 4 --step 1 --empty", s + " sliding");
		if (seed == 1)
			expect_equals_pandas(few, "--window 0.5 --empty --distinct", s + " 0.5 s");
		if (seed == 2) // a step that does not divide the window
			expect_equals_pandas(few, "--window 2.5 --step 1", s + " sliding 2.5 / 1");
	}
}

// The notebook's batching, by hand: a batch closes after an entry whose
// whole second is a multiple of T, so entries sharing such a second make
// one-entry batches, and the tail after the last close is dropped.
TEST(Windows, SeedBatchingByHand)
{
	std::string out, log;
	std::string csv = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n"
	                  "1700000001,10.0.0.1,1,10.0.0.2,80,tcp,new\n"
	                  "1700000005,10.0.0.1,1,10.0.0.2,80,tcp,established\n"
	                  "1700000010.2,10.0.0.1,1,10.0.0.2,80,tcp,established\n" // closes batch 0 (3 entries)
	                  "1700000010.7,10.0.0.1,1,10.0.0.2,80,tcp,established\n" // a batch of one
	                  "1700000010.9,10.0.0.1,1,10.0.0.2,80,tcp,closing\n"     // a batch of one
	                  "1700000012,10.0.0.1,1,10.0.0.2,80,tcp,closed\n";       // the dropped tail
	ASSERT_EQ(windows_on_csv(csv, "--batching seed", &out, &log), 0) << log;
	EXPECT_NE(log.find("1 entries after the last batch close discarded"), std::string::npos) << log;
	Table w = read_table(out);
	ASSERT_EQ(w.rows.size(), 3u);
	EXPECT_EQ(w.at(0, "num_entries"), "3");
	EXPECT_EQ(w.at(1, "num_entries"), "1");
	EXPECT_EQ(w.at(2, "num_entries"), "1");
	EXPECT_EQ(w.at(2, "num_state_closing"), "1");
	EXPECT_EQ(w.at(2, "flow_batch"), "2");
	EXPECT_TRUE(std::find(w.header.begin(), w.header.end(), "window_start_ns") == w.header.end());
}

// Late entries are counted and dropped; --lateness keeps them.
TEST(Windows, LateEntriesCounted)
{
	std::string out, log;
	std::string csv = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n"
	                  "1700000001,10.0.0.1,1,10.0.0.2,80,tcp,new\n"
	                  "1700000012,10.0.0.1,1,10.0.0.2,80,tcp,established\n"
	                  "1700000009.5,10.0.0.1,1,10.0.0.2,80,tcp,established\n" // within 1 s lateness? no: 12 > 10 + 1
	                  "1700000021,10.0.0.1,1,10.0.0.2,80,tcp,established\n"
	                  "1700000019.5,10.0.0.1,1,10.0.0.2,80,tcp,established\n"; // 21 < 20 + 1.5: kept with --lateness 1.5
	ASSERT_EQ(windows_on_csv(csv, "", &out, &log), 0) << log;
	EXPECT_NE(log.find("2 late entries dropped"), std::string::npos) << log;
	ASSERT_EQ(windows_on_csv(csv, "--lateness 1.5", &out, &log), 0) << log;
	EXPECT_NE(log.find("1 late entries dropped"), std::string::npos) << log;
	Table w = read_table(out);
	ASSERT_EQ(w.rows.size(), 3u);
	EXPECT_EQ(w.at(1, "num_entries"), "2");
}

// Bad input stops with the file and line; bad options are refused.
TEST(Windows, BadInputNamesFileAndLine)
{
	std::string ent = cft::temp_path(".csv"), out = cft::temp_path(".csv"), log;
	std::string csv = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n"
	                  "1700000001,10.0.0.1,1,10.0.0.2,80,tcp,new\n"
	                  "1700000002,10.0.0.1,1,10.0.0.2,80,tcp,listening\n";
	write_text(ent, csv);
	EXPECT_NE(windows("--entries-csv " + shq(ent) + " -o " + shq(out), &log), 0);
	EXPECT_NE(log.find(ent + ":3: state is not one of"), std::string::npos) << log;
	EXPECT_FALSE(cft::exists(out)) << "no partial output";
	const char *bad_rows[] = {"17000000x1,10.0.0.1,1,10.0.0.2,80,tcp,new\n", "1700000001,10.0.0.1,1,10.0.0.2,99999,tcp,new\n",
	                          "1700000001,10.0.0.1,1,host,80,tcp,new\n",    "1700000001,10.0.0.1,1,10.0.0.2,80,bogus,new\n",
	                          "1700000001.1234567891,10.0.0.1,1,10.0.0.2,80,tcp,new\n",
	                          "2023-11-14T22:13:20,10.0.0.1,1,10.0.0.2,80,tcp,new\n", "1700000001,10.0.0.1\n"};
	for (const char *row : bad_rows) {
		std::string c = std::string("ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n") + row;
		write_text(ent, c);
		EXPECT_NE(windows("--entries-csv " + shq(ent) + " -o " + shq(out), &log), 0) << row;
		EXPECT_NE(log.find(ent + ":2: "), std::string::npos) << row << log;
	}
	std::string nohdr = "ts,src_ip,dst_ip\n";
	write_text(ent, nohdr);
	EXPECT_NE(windows("--entries-csv " + shq(ent) + " -o " + shq(out), &log), 0);
	EXPECT_NE(log.find("no column \"src_port\""), std::string::npos) << log;
	EXPECT_NE(windows("--window 10 --step 10 --entries-csv " + shq(ent) + " -o " + shq(out), &log), 0);
	EXPECT_NE(windows("--window 2.5 --batching seed --entries-csv " + shq(ent) + " -o " + shq(out), &log), 0);
	EXPECT_NE(windows("--entries flows --entries-csv " + shq(ent) + " -o " + shq(out), &log), 0);
	// ISO-8601 with an offset is read, exactly
	std::string iso = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n"
	                  "2023-11-14T23:13:20.5+01:00,10.0.0.1,1,10.0.0.2,80,tcp,new\n";
	write_text(ent, iso);
	ASSERT_EQ(windows("--window 1 --entries-csv " + shq(ent) + " -o " + shq(out), &log), 0) << log;
	EXPECT_EQ(read_table(out).at(0, "window_start_ns"), "1700000000000000000");
}

// Real captures of the corpus: entries from packets, windows equal pandas
// on the same entries.
TEST(Windows, RealCapturesEqualPandas)
{
	std::string shared = cft::shared_dir(), py = pandas_python();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	if (py.empty())
		GTEST_SKIP() << "no python with pandas";
	const char *caps[] = {"nfstream/pcaps/anydesk.pcap", "nfstream/pcaps/facebook.pcap",
	                      "nfstream/pcaps/android.pcap", "nfstream/pcaps/dns_doh.pcap", "nfstream/pcaps/quic.pcap",
	                      "nfstream/pcaps/http_ipv6.pcap", "nfstream/pcaps/6in4tunnel.pcap",
	                      "nfstream/pcaps/malformed_icmp.pcap"};
	int ran = 0;
	for (const char *c : caps) {
		std::string cap = shared + "/captures/" + c;
		if (!cft::exists(cap))
			continue;
		ran++;
		std::string ent = cft::temp_path(".csv"), out = cft::temp_path(".csv"), log;
		ASSERT_EQ(windows(shq(cap) + " --distinct --dump-entries " + shq(ent) + " -o " + shq(out), &log), 0) << c << log;
		int rc = cft::run(shq(py) + " " + shq(oracle()) + " check --entries " + shq(ent) +
		                      " --window 10 --distinct --actual " + shq(out),
		                  &log);
		EXPECT_EQ(rc, 0) << c << ": " << log;
		EXPECT_NE(log.find(" 0 mismatches"), std::string::npos) << c << ": " << log;
	}
	if (!ran)
		GTEST_SKIP() << "none of the captures is in ../shared/captures";
}

namespace {

// The frames of a classic pcap (as cuflow synth writes it).
std::vector<cft::Frame> read_pcap_frames(const std::string &path, bool *nano)
{
	std::vector<uint8_t> b = cft::read_file(path);
	std::vector<cft::Frame> f;
	if (b.size() < 24)
		return f;
	uint32_t magic = cft::le32(&b[0]);
	*nano = magic == 0xa1b23c4d;
	for (size_t o = 24; o + 16 <= b.size();) {
		uint32_t sec = cft::le32(&b[o]), frac = cft::le32(&b[o + 4]), cap = cft::le32(&b[o + 8]),
		         wire = cft::le32(&b[o + 12]);
		if (o + 16 + cap > b.size())
			break;
		cft::Frame fr;
		fr.ts_ns = (int64_t)sec * 1000000000ll + (int64_t)frac * (*nano ? 1 : 1000);
		fr.bytes.assign(b.begin() + o + 16, b.begin() + o + 16 + cap);
		fr.wirelen = wire;
		f.push_back(fr);
		o += 16 + cap;
	}
	return f;
}

} // namespace

// A port scan and a SYN flood mixed into background traffic show up in
// the windows where they happen, and nowhere else.
TEST(Windows, PortScanAndSynFloodShowUp)
{
	std::string bg = cft::temp_path(".pcap"), mix = cft::temp_path(".pcap"), out = cft::temp_path(".csv"), log;
	ASSERT_EQ(cft::run(shq(cft::cuflow_bin()) + " synth -q --flows 600 --duration 90 --seed 5 --nanosecond -o " + shq(bg),
	                   &log),
	          0)
	    << log;
	bool nano = false;
	std::vector<cft::Frame> f = read_pcap_frames(bg, &nano);
	ASSERT_GT(f.size(), 1000u);
	int64_t t0 = f[0].ts_ns;
	for (auto &x : f)
		t0 = std::min(t0, x.ts_ns);
	int64_t base = (t0 / 10000000000ll + 1) * 10000000000ll; // the first window boundary after the start
	const uint32_t scanner = 0xc0a80a0a, target = 0xc0a80a14, victim = 0xc0a80a1e;
	// window base+20 s: a SYN scan of ports 1..1000, each answered by RST-ACK
	for (int p = 1; p <= 1000; p++) {
		int64_t t = base + 20000000000ll + p * 1000000ll;
		f.push_back(tcp4(t, scanner, target, 61000, (uint16_t)p, SYN));
		f.push_back(tcp4(t + 100000, target, scanner, (uint16_t)p, 61000, RST | ACK));
	}
	// window base+50 s: 2000 spoofed sources SYN to port 80, each answered by SYN-ACK
	for (uint32_t i = 0; i < 2000; i++) {
		int64_t t = base + 50000000000ll + i * 1000000ll;
		uint32_t src = 0x0b000000 + i * 7919;
		f.push_back(tcp4(t, src, victim, (uint16_t)(1024 + i), 80, SYN));
		f.push_back(tcp4(t + 100000, victim, src, 80, (uint16_t)(1024 + i), SYN | ACK));
	}
	std::stable_sort(f.begin(), f.end(), [](const cft::Frame &a, const cft::Frame &b) { return a.ts_ns < b.ts_ns; });
	cft::write_pcap(mix, 1, f, true);
	ASSERT_EQ(windows(shq(mix) + " -o " + shq(out), &log), 0) << log;
	Table w = read_table(out);
	ASSERT_GT(w.rows.size(), 7u);
	// the seed's "stat vs flow_batch" plots, with a time axis
	std::string png = cft::env("CFT_KEEP_PLOT", cft::temp_path(".png"));
	ASSERT_EQ(windows(shq(mix) + " --plot count_dst_port,dst_port_per_src_ip_max,num_state_reset,num_state_connecting -o " +
	                      shq(png),
	                  &log),
	          0)
	    << log;
	std::vector<uint8_t> img = cft::read_file(png);
	ASSERT_GT(img.size(), 24u);
	EXPECT_EQ(std::string(img.begin() + 1, img.begin() + 4), "PNG");
	EXPECT_EQ((img[16] << 24 | img[17] << 16 | img[18] << 8 | img[19]), 800); // IHDR width
	EXPECT_NE(windows(shq(mix) + " --plot no_such_column -o " + shq(png), &log), 0);
	EXPECT_NE(log.find("'no_such_column' is not a column"), std::string::npos) << log;
	size_t scan_row = SIZE_MAX, flood_row = SIZE_MAX;
	for (size_t r = 0; r < w.rows.size(); r++) {
		int64_t start = strtoll(w.at(r, "window_start_ns").c_str(), nullptr, 10);
		if (start == base + 20000000000ll)
			scan_row = r;
		if (start == base + 50000000000ll)
			flood_row = r;
	}
	ASSERT_NE(scan_row, SIZE_MAX);
	ASSERT_NE(flood_row, SIZE_MAX);
	for (size_t r = 0; r < w.rows.size(); r++) {
		bool scan = r == scan_row, flood = r == flood_row;
		double dports = w.num(r, "count_dst_port"), per_src = w.num(r, "dst_port_per_src_ip_max");
		double connecting = w.num(r, "num_state_connecting"), reset = w.num(r, "num_state_reset");
		double srcs = w.num(r, "count_src_ip"), src_per_dst = w.num(r, "src_ip_per_dst_ip_max");
		if (scan) {
			EXPECT_GE(dports, 1000) << "scan window";
			EXPECT_GE(per_src, 2000) << "scan window: the scanner's entries";
			EXPECT_GE(reset, 1000) << "scan window";
		} else {
			EXPECT_LT(dports, 300) << "row " << r;
			EXPECT_LT(reset, 300) << "row " << r;
		}
		if (flood) {
			EXPECT_GE(srcs, 2000) << "flood window";
			EXPECT_GE(connecting, 2000) << "flood window: the SYN-ACKs";
			EXPECT_GE(src_per_dst, 4000) << "flood window: entries to the victim";
		} else {
			EXPECT_LT(srcs, 1000) << "row " << r;
			EXPECT_LT(connecting, 1000) << "row " << r;
		}
	}
}

// --jobs: the "windows" producer through the run driver gives the same
// bytes for 1 and 2 workers; its rows per file equal the one-stream
// command run on that file alone.
TEST(Windows, JobsSameBytesAndEqualPerFileRun)
{
	std::string dir = cft::temp_path("-in"), log;
	ASSERT_EQ(cft::run("mkdir -p " + shq(dir + "/benign") + " " + shq(dir + "/scan")), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(cft::run(shq(cft::cuflow_bin()) + " synth -q --flows 200 --duration 40 --seed " + std::to_string(i + 1) +
		                       " -o " + shq(dir + (i < 2 ? "/benign/c" : "/scan/c") + std::to_string(i) + ".pcap"),
		                   &log),
		          0)
		    << log;
	std::string a = cft::temp_path("-j1"), b = cft::temp_path("-j2");
	ASSERT_EQ(windows("--jobs 1 --format csv --distinct " + shq(dir) + " -o " + shq(a), &log), 0) << log;
	ASSERT_EQ(windows("--jobs 2 --format csv --distinct " + shq(dir) + " -o " + shq(b), &log), 0) << log;
	std::string pa = a + "/windows/part-00000.csv", pb = b + "/windows/part-00000.csv";
	ASSERT_TRUE(cft::exists(pa)) << log;
	EXPECT_EQ(cft::slurp(pa), cft::slurp(pb));
	EXPECT_TRUE(cft::exists(a + "/manifest.json"));
	// the rows of the first file equal the one-stream command on that file
	std::string one = cft::temp_path(".csv");
	ASSERT_EQ(windows("--distinct " + shq(dir + "/benign/c0.pcap") + " -o " + shq(one), &log), 0) << log;
	std::string single = cft::slurp(one), joined = cft::slurp(pa);
	ASSERT_FALSE(single.empty());
	EXPECT_EQ(joined.compare(0, single.size(), single), 0) << "file 0's rows lead the joined table";
	// labels: each file's directory with --jobs, a constant without
	std::string l = cft::temp_path("-lab");
	ASSERT_EQ(windows("--jobs 2 --format csv --label-from-dir " + shq(dir) + " -o " + shq(l), &log), 0) << log;
	Table t = read_table(l + "/windows/part-00000.csv");
	ASSERT_GT(t.rows.size(), 4u);
	std::map<std::string, int> labels;
	for (size_t r = 0; r < t.rows.size(); r++)
		labels[t.at(r, "label")]++;
	EXPECT_EQ(labels.size(), 2u);
	EXPECT_GT(labels["benign"], 0);
	EXPECT_GT(labels["scan"], 0);
	EXPECT_EQ(t.at(0, "label"), "benign");
	EXPECT_EQ(t.at(t.rows.size() - 1, "label"), "scan");
	std::string c = cft::temp_path(".csv");
	ASSERT_EQ(windows("--label portscan " + shq(dir + "/scan/c2.pcap") + " -o " + shq(c), &log), 0) << log;
	EXPECT_EQ(read_table(c).at(0, "label"), "portscan");
	EXPECT_NE(windows("--label-from-dir " + shq(dir) + " -o " + shq(c), &log), 0) << "windows span files without --jobs";
}

// The TCP state of every packet entry of real captures against tshark's
// flags, stream by stream (tests/oracles/windows_states_tshark.py applies
// docs/windows.md §2 to tshark's own TCP streams), orientation included.
TEST(Windows, TcpStatesAgreeWithTshark)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	if (cft::run("command -v tshark >/dev/null") != 0)
		GTEST_SKIP() << "tshark is not installed";
	const char *caps[] = {"WebattackSQLinj.pcap", "android.pcap", "bittorrent.pcap", "KakaoTalk_chat.pcap",
	                      "443-curl.pcap",        "ftp_failed.pcap", "anydesk.pcap"};
	std::string script = cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/windows_states_tshark.py";
	int ran = 0;
	for (const char *c : caps) {
		std::string cap = shared + "/captures/nfstream/pcaps/" + c;
		if (!cft::exists(cap))
			continue;
		ran++;
		std::string ent = cft::temp_path(".csv"), out = cft::temp_path(".csv"), log;
		ASSERT_EQ(windows(shq(cap) + " --dump-entries " + shq(ent) + " -o " + shq(out), &log), 0) << c << log;
		EXPECT_EQ(cft::run("python3 " + shq(script) + " " + shq(cap) + " " + shq(ent), &log), 0) << c << ": " << log;
		EXPECT_NE(log.find(" 0 mismatches"), std::string::npos) << c << ": " << log;
	}
	if (!ran)
		GTEST_SKIP() << "none of the captures is in ../shared/captures";
}

// --entries flows: one entry per finished flow, its state from how it ended.
TEST(Windows, FlowRecordsAsEntries)
{
	std::vector<cft::Frame> f;
	int64_t t = T0 + 2000000000ll, us = 1000;
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, SYN)); // FIN flow -> closed
	f.push_back(tcp4(t += us, H2, H1, 80, 40000, SYN | ACK));
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, ACK));
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, FIN | ACK));
	f.push_back(tcp4(t += us, H2, H1, 80, 40000, FIN | ACK));
	f.push_back(tcp4(t += us, H1, H2, 40000, 80, ACK));
	f.push_back(tcp4(t += us, H1, H3, 40001, 22, SYN)); // refused -> reset
	f.push_back(tcp4(t += us, H3, H1, 22, 40001, RST | ACK));
	f.push_back(udp4(t += us, H1, H4, 5000, 9999));           // one way -> new
	f.push_back(udp4(t += 11000000000ll, H1, H3, 5353, 53)); // answered -> established, next window
	f.push_back(udp4(t += us, H3, H1, 53, 5353, 200));
	std::string pcap = cft::temp_path(".pcap"), out = cft::temp_path(".csv"), ent = cft::temp_path(".csv"), log;
	cft::write_pcap(pcap, 1, f, true);
	ASSERT_EQ(windows("--entries flows " + shq(pcap) + " --dump-entries " + shq(ent) + " -o " + shq(out), &log), 0)
	    << log;
	Table e = read_table(ent);
	std::map<std::string, std::string> by_dport;
	for (size_t i = 0; i < e.rows.size(); i++)
		by_dport[e.at(i, "dst_port")] = e.at(i, "state");
	EXPECT_EQ(e.rows.size(), 4u);
	EXPECT_EQ(by_dport["80"], "closed");
	EXPECT_EQ(by_dport["22"], "reset");
	EXPECT_EQ(by_dport["9999"], "new");
	EXPECT_EQ(by_dport["53"], "established");
	Table w = read_table(out);
	ASSERT_EQ(w.rows.size(), 2u);
	EXPECT_EQ(w.at(0, "num_entries"), "3"); // the three flows that start in the first window
	EXPECT_EQ(w.at(1, "num_entries"), "1");
	EXPECT_EQ(w.at(1, "bytes_down"), "242"); // the answer's frame: 14 + 20 + 8 + 200
	std::string py = pandas_python();
	if (!py.empty())
		expect_equals_pandas(ent, "--window 10", "flow entries");
}

// --threads 2 (the windows in the scan's second thread) writes the same bytes.
TEST(Windows, TwoThreadsSameBytes)
{
	std::string cap = cft::temp_path(".pcap"), a = cft::temp_path(".csv"), b = cft::temp_path(".csv"), log;
	// at least 16 MB: the scan hands smaller files to one thread
	ASSERT_EQ(cft::run(shq(cft::cuflow_bin()) + " synth -q --flows 800 --duration 60 --seed 3 -o " + shq(cap), &log), 0)
	    << log;
	ASSERT_EQ(windows("--distinct " + shq(cap) + " -o " + shq(a), &log), 0) << log;
	ASSERT_EQ(windows("--distinct --threads 2 " + shq(cap) + " -o " + shq(b), &log), 0) << log;
	EXPECT_EQ(cft::slurp(a), cft::slurp(b));
	ASSERT_EQ(windows("--entries flows --threads 2 " + shq(cap) + " -o " + shq(b), &log), 0) << log;
	ASSERT_EQ(windows("--entries flows " + shq(cap) + " -o " + shq(a), &log), 0) << log;
	EXPECT_EQ(cft::slurp(a), cft::slurp(b));
}

// Sliding windows whose step does not divide the length, entries out of
// order within the lateness: each entry lands in every window covering it.
TEST(Windows, SlidingOutOfOrderEntries)
{
	std::string csv = "ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n"
	                  "1700000005.5,10.0.0.1,1,10.0.0.2,80,tcp,new\n"
	                  "1700000005.2,10.0.0.1,1,10.0.0.2,80,tcp,established\n" // also in [3, 5.5)
	                  "1700000005.9,10.0.0.3,1,10.0.0.2,80,tcp,established\n"
	                  "1700000005.0,10.0.0.3,1,10.0.0.2,81,tcp,established\n";
	std::string out, log;
	ASSERT_EQ(windows_on_csv(csv, "--window 2.5 --step 1", &out, &log), 0) << log;
	Table w = read_table(out);
	// windows [j, j + 2.5) for j = 3, 4, 5 (seconds after 1700000000)
	ASSERT_EQ(w.rows.size(), 3u);
	EXPECT_EQ(w.at(0, "window_start_ns"), "1700000003000000000");
	EXPECT_EQ(w.at(0, "num_entries"), "2"); // 5.2 and 5.0
	EXPECT_EQ(w.at(1, "num_entries"), "4");
	EXPECT_EQ(w.at(2, "num_entries"), "4");
	if (!pandas_python().empty()) {
		std::string ent = cft::temp_path(".csv");
		write_text(ent, csv);
		expect_equals_pandas(ent, "--window 2.5 --step 1", "sliding, out of order");
	}
}

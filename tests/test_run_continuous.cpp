// --continuous (cf_run_opts.continuous): a capture cut into files by editcap
// (-c packets, -i seconds) gives, read as one stream, the output of the
// whole file: flows (CSV and Parquet), the dataset producers (extract,
// windows, netml, flowpic) and the sessions database. The oracle is the
// whole capture's run; the same parts read as separate files differ, which
// shows that flows do cross the borders. The capture written here puts an
// active timeout, an idle timeout and a FIN exactly around the borders.
// Rotated names that do not sort in time order (tcpdump -C: cap, cap1,
// cap10, cap2) are ordered by their first packets; overlapping files are
// reported with the overlap the frames written here imply.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

bool have_editcap()
{
	static int have = cft::run("editcap -h >/dev/null 2>&1") == 0 ? 1 : 0;
	return have;
}

const int64_t T0 = 1700000000LL * 1000000000LL;
const int64_t SEC = 1000000000LL;
const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 1}, MAC_B[6] = {0x02, 0, 0, 0, 0, 2};

std::vector<uint8_t> tcp_frame(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint16_t flags, size_t pay)
{
	return cft::cat(cft::eth(MAC_B, MAC_A, 0x0800), cft::ipv4(src, dst, 6, cft::tcp(sp, dp, 1, 1, flags, 512, pay)));
}

std::vector<uint8_t> udp_frame(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, size_t pay)
{
	return cft::cat(cft::eth(MAC_B, MAC_A, 0x0800),
	                cft::ipv4(src, dst, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 0x41))));
}

// 30 s of traffic (timeouts for the runs: idle 4 s, active 10 s):
//  - a TCP flow with a packet every second (cut by the active timeout at
//    10 s and 20 s, borders of `editcap -i 5` and `-i 10`);
//  - a UDP flow quiet from 1.5 s to 6.5 s (idle timeout across the 5 s border);
//  - a TCP flow closed by FIN/ACK at 14.9 s and 15.1 s (across 15 s);
//  - 40 UDP flows of 3 to 9 packets at scattered times.
std::vector<cft::Frame> border_frames()
{
	std::vector<cft::Frame> f;
	const uint32_t A = 0x0a000001, B = 0x0a000002;
	for (int s = 0; s < 30; s++)
		f.push_back({T0 + s * SEC + 1000, tcp_frame(A, B, 40000, 80, 0x10, 100 + s)});
	for (double t : {0.5, 1.5, 6.5, 7.0, 8.0})
		f.push_back({T0 + (int64_t)(t * 1e9), udp_frame(A + 2, B + 2, 5353, 53, 40)});
	f.push_back({T0 + 13 * SEC, tcp_frame(A + 4, B + 4, 40001, 443, 0x02, 0)});
	f.push_back({T0 + 14 * SEC + 900000000, tcp_frame(A + 4, B + 4, 40001, 443, 0x11, 0)});
	f.push_back({T0 + 15 * SEC + 100000000, tcp_frame(B + 4, A + 4, 443, 40001, 0x11, 0)});
	uint64_t x = 12345;
	for (int k = 0; k < 40; k++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t start = (int64_t)((x >> 33) % (27 * 1000)) * 1000000; // 0 .. 27 s
		int n = 3 + (int)((x >> 20) % 7);
		for (int i = 0; i < n; i++)
			f.push_back({T0 + start + i * 350000000LL, udp_frame(0x0b000000 + k, 0x0c000001, (uint16_t)(20000 + k), 9000, 20 + i)});
	}
	std::stable_sort(f.begin(), f.end(), [](const cft::Frame &a, const cft::Frame &b) { return a.ts_ns < b.ts_ns; });
	return f;
}

// dir/ with the capture cut by `editcap args`; returns the number of parts.
int cut(const std::string &capture, const std::string &dir, const std::string &args)
{
	mkdir(dir.c_str(), 0755);
	std::string out;
	EXPECT_EQ(cft::run("editcap " + args + " " + cft::shq(capture) + " " + cft::shq(dir + "/part.pcap"), &out), 0) << out;
	EXPECT_EQ(cft::run("ls " + cft::shq(dir) + " | wc -l", &out), 0);
	return std::atoi(out.c_str());
}

const char *TIMEOUTS = " --idle-timeout 4 --active-timeout 10 ";

struct Fixture {
	std::string capture;
};

const Fixture &fixture()
{
	static Fixture fx = [] {
		Fixture k;
		k.capture = cft::temp_path("border.pcap");
		cft::write_pcap(k.capture, 1, border_frames(), true);
		return k;
	}();
	return fx;
}

std::string flows_csv(const std::string &inputs, const std::string &extra)
{
	std::string out_path = cft::temp_path("flows.csv"), out;
	int rc = cft::run(cf() + " flows -q" + TIMEOUTS + extra + " " + inputs + " -o " + cft::shq(out_path), &out);
	EXPECT_EQ(rc, 0) << out;
	return cft::slurp(out_path);
}

TEST(RunContinuous, FlowsAcrossEditcapBordersEqualTheWholeCapture)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	const std::string whole = flows_csv(cft::shq(fixture().capture), "");
	ASSERT_GT(std::count(whole.begin(), whole.end(), '\n'), 40);
	struct Cut {
		const char *args;
		int min_parts;
	} cuts[] = {{"-i 5", 6}, {"-i 10", 3}, {"-c 7", 20}, {"-c 100", 3}, {"-c 1", 200}};
	for (const Cut &c : cuts) {
		std::string dir = cft::temp_path("cut");
		int parts = cut(fixture().capture, dir, c.args);
		EXPECT_GE(parts, c.min_parts) << c.args;
		EXPECT_EQ(flows_csv(cft::shq(dir), "--continuous"), whole) << "editcap " << c.args;
		// read as separate files, flows are cut at the borders
		EXPECT_NE(flows_csv(cft::shq(dir), ""), whole) << "editcap " << c.args;
	}
}

TEST(RunContinuous, ParquetAndManifest)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	std::string dir = cft::temp_path("cut");
	int parts = cut(fixture().capture, dir, "-i 10");
	ASSERT_EQ(parts, 3);
	std::string a = cft::temp_path("whole.parquet"), b = cft::temp_path("cont.parquet"), out;
	ASSERT_EQ(cft::run(cf() + " flows -q" + TIMEOUTS + cft::shq(fixture().capture) + " -o " + cft::shq(a), &out), 0) << out;
	ASSERT_EQ(cft::run(cf() + " flows -q --continuous" + TIMEOUTS + cft::shq(dir) + " -o " + cft::shq(b), &out), 0) << out;
	EXPECT_EQ(cft::read_file(a), cft::read_file(b));
	// the manifest: each part's first and latest packet times; the parts
	// cut the frames written above (in time order) into consecutive runs
	std::string m = cft::slurp(b + ".manifest.json");
	EXPECT_NE(m.find("\"continuous\": true"), std::string::npos) << m;
	std::vector<int64_t> ts;
	for (const cft::Frame &f : border_frames())
		ts.push_back(f.ts_ns);
	std::vector<int64_t> first, last;
	for (size_t at = 0; (at = m.find("\"first_ts_ns\": ", at)) != std::string::npos; at++) {
		first.push_back(std::stoll(m.substr(at + 15)));
		size_t l = m.find("\"last_ts_ns\": ", at);
		last.push_back(std::stoll(m.substr(l + 14)));
		EXPECT_EQ(m.compare(m.find("\"overlap_ns\": ", at) + 14, 2, "0}"), 0);
	}
	ASSERT_EQ(first.size(), 3u) << m;
	EXPECT_EQ(first[0], ts.front());
	EXPECT_EQ(last[2], ts.back());
	for (int k = 0; k < 2; k++)
		EXPECT_EQ(std::upper_bound(ts.begin(), ts.end(), last[k]), std::lower_bound(ts.begin(), ts.end(), first[k + 1]))
		        << "part " << k;
}

// The dataset producers through the run driver: --jobs 1 over the whole
// capture and --continuous over its parts write the same table files, also
// when the stream ends in a file that is not a capture (it goes last in
// time order, is reported, and the stream's rows are all there).
TEST(RunContinuous, ProducersEqualTheWholeCapture)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	std::string syn = cft::temp_path("syn.pcap"), dir = cft::temp_path("cut"), out;
	ASSERT_EQ(cft::run(cf() + " synth -q --flows 150 --seed 11 -o " + cft::shq(syn), &out), 0) << out;
	ASSERT_GE(cut(syn, dir, "-c 600"), 5);
	const char text[] = "not a capture\n";
	cft::write_file(dir + "/notes.pcap", std::vector<uint8_t>(text, text + sizeof text - 1));
	const char *cmds[] = {"extract --format csv", "windows --window 2", "netml --type IAT --dim 8",
	                      "netml --type SAMP_SIZE --dim 8", "flowpic"};
	for (const char *cmd : cmds) {
		std::string a = cft::temp_path("whole"), b = cft::temp_path("cont");
		ASSERT_EQ(cft::run(cf() + " " + cmd + " -q --jobs 1 " + cft::shq(syn) + " -o " + cft::shq(a), &out), 0) << cmd << out;
		ASSERT_EQ(cft::run(cf() + " " + cmd + " -q --continuous " + cft::shq(dir) + " -o " + cft::shq(b), &out), 2)
		        << cmd << out;
		EXPECT_NE(out.find("notes.pcap"), std::string::npos) << out;
		EXPECT_EQ(cft::run("diff -r -x manifest.json " + cft::shq(a) + " " + cft::shq(b), &out), 0) << cmd << "\n" << out;
		EXPECT_EQ(cft::run("ls -R " + cft::shq(a) + " | grep -c part-", &out), 0) << cmd; // something was compared
	}
}

// Sessions in SQLite: the same rows, but for the file a session ends in.
TEST(RunContinuous, SessionsEqualTheWholeCapture)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	std::string dir = cft::temp_path("cut"), out;
	ASSERT_GE(cut(fixture().capture, dir, "-i 5"), 6);
	std::string a = cft::temp_path("whole.db"), b = cft::temp_path("cont.db");
	ASSERT_EQ(cft::run(cf() + " sessions -q --idle-timeout 4 --active-timeout 10 " + cft::shq(fixture().capture) +
	                   " -o " + cft::shq(a), &out), 0) << out;
	ASSERT_EQ(cft::run(cf() + " sessions -q --continuous --idle-timeout 4 --active-timeout 10 " + cft::shq(dir) +
	                   " -o " + cft::shq(b), &out), 0) << out;
	std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
	EXPECT_EQ(cft::run("python3 " + cft::shq(src + "/tests/oracles/sqlite_tables_equal.py") + " " + cft::shq(a) + " " +
	                   cft::shq(b) + " --skip capture_file --order 1 --distinct-in-b sessions.capture_file:2",
	                   &out),
	          0) << out;
	EXPECT_NE(out.find("sessions 4"), std::string::npos) << out; // at least 40 sessions
}

// tcpdump -C names the files cap, cap1, cap2, ... cap10: bytewise they do
// not sort in time order; --continuous orders them by their first packets.
TEST(RunContinuous, RotatedNamesAreOrderedByTime)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	std::string dir = cft::temp_path("cut"), rot = cft::temp_path("rotated"), out;
	int parts = cut(fixture().capture, dir, "-c 20");
	ASSERT_GE(parts, 11);
	mkdir(rot.c_str(), 0755);
	ASSERT_EQ(cft::run("cd " + cft::shq(dir) + " && i=0 && for f in $(ls); do "
	                   "if [ $i = 0 ]; then n=cap; else n=cap$i; fi; mv $f " + cft::shq(rot) + "/$n; i=$((i+1)); done",
	                   &out), 0) << out;
	const std::string whole = flows_csv(cft::shq(fixture().capture), "");
	EXPECT_EQ(flows_csv(cft::shq(rot), "--continuous"), whole);
	// the order the manifest lists: cap, cap1, cap2, ..., not cap, cap1, cap10
	std::string o = cft::temp_path("o.csv");
	ASSERT_EQ(cft::run(cf() + " flows -q --continuous" + TIMEOUTS + cft::shq(rot) + " -o " + cft::shq(o), &out), 0);
	std::string m = cft::slurp(o + ".manifest.json");
	size_t p2 = m.find("/cap2\""), p10 = m.find("/cap10\"");
	ASSERT_NE(p2, std::string::npos);
	ASSERT_NE(p10, std::string::npos);
	EXPECT_LT(p2, p10);
}

// Files that overlap in time: read as given, reported on stderr and in the
// manifest with the overlap the frames imply.
TEST(RunContinuous, OverlappingFilesAreReported)
{
	std::vector<cft::Frame> a, b;
	for (int s = 0; s <= 10; s++)
		a.push_back({T0 + s * SEC, udp_frame(0x0a000001, 0x0a000002, 1000, 2000, 10)});
	for (int s = 7; s <= 15; s++) // starts 3 s before a's last packet
		b.push_back({T0 + s * SEC + 500, udp_frame(0x0a000001, 0x0a000002, 1000, 2000, 10)});
	std::string dir = cft::temp_path("overlap"), out;
	mkdir(dir.c_str(), 0755);
	cft::write_pcap(dir + "/a.pcap", 1, a, true);
	cft::write_pcap(dir + "/b.pcap", 1, b, true);
	std::string o = cft::temp_path("o.csv");
	EXPECT_EQ(cft::run(cf() + " flows --continuous " + cft::shq(dir) + " -o " + cft::shq(o) + " 2>&1", &out), 0) << out;
	EXPECT_NE(out.find("b.pcap: starts 2.999999500 s before the latest packet"), std::string::npos) << out;
	std::string m = cft::slurp(o + ".manifest.json");
	EXPECT_NE(m.find("\"overlap_ns\": 2999999500"), std::string::npos) << m;
	// one flow: the packets of both files in the order read
	std::string csv = cft::slurp(o);
	EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2) << csv;
}

TEST(RunContinuous, RefusedCombinations)
{
	std::string out, o = cft::temp_path("o.csv");
	const std::string cap = cft::shq(fixture().capture);
	EXPECT_EQ(cft::run(cf() + " flows --continuous --jobs 2 " + cap + " " + cap + " -o " + cft::shq(o), &out), 1);
	EXPECT_NE(out.find("one worker"), std::string::npos) << out;
	EXPECT_EQ(cft::run(cf() + " flows --continuous --resume " + cap + " -o " + cft::shq(o), &out), 1);
	EXPECT_NE(out.find("cannot be resumed"), std::string::npos) << out;
	EXPECT_EQ(cft::run(cf() + " flows --continuous - -o " + cft::shq(o) + " < " + cap, &out), 1);
	EXPECT_NE(out.find("standard input"), std::string::npos) << out;
	std::string d = cft::temp_path("w");
	EXPECT_EQ(cft::run(cf() + " windows --continuous --jobs 3 " + cap + " -o " + cft::shq(d), &out), 1);
	EXPECT_NE(out.find("one worker"), std::string::npos) << out;
}

// A real capture from ../shared cut every 1000 packets.
TEST(RunContinuous, RealCapture)
{
	if (!have_editcap())
		GTEST_SKIP() << "editcap (wireshark-common) is not installed";
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	for (const char *name : {"/captures/nfstream/pcaps/tor.pcap", "/captures/nfstream/pcaps/instagram.pcap"}) {
		std::string cap = shared + name;
		if (!cft::exists(cap))
			continue;
		std::string dir = cft::temp_path("cut");
		ASSERT_GE(cut(cap, dir, "-c 1000"), 3) << name;
		const char *opts = " --idle-timeout 5 --active-timeout 30 ";
		std::string a = cft::temp_path("a.csv"), b = cft::temp_path("b.csv"), out;
		ASSERT_EQ(cft::run(cf() + " flows -q" + opts + cft::shq(cap) + " -o " + cft::shq(a), &out), 0) << out;
		ASSERT_EQ(cft::run(cf() + " flows -q --continuous" + opts + cft::shq(dir) + " -o " + cft::shq(b), &out), 0) << out;
		EXPECT_EQ(cft::slurp(a), cft::slurp(b)) << name;
	}
}

} // namespace

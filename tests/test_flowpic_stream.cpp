// FlowPic streaming (issue 24, host/flowpic/flowpic.c): with one window from
// each session's first packet and the exact time model (the mini preset),
// sessions whose window has closed are turned into images during the scan
// and their packets dropped, so memory follows the traffic of the last
// window instead of the whole file. The oracle is the same command holding
// every session to the end of the file (CUFLOW_FLOWPIC_HOLD=1, the
// behaviour before streaming, checked against tcbench elsewhere): images,
// index and meta.json byte for byte, on synthetic and real captures, with
// the augmentations, bidirectional sessions and input that goes back in
// time. CUFLOW_FLOWPIC_FLUSH_PACKETS=300 (50) makes small captures stream.
//
// FlowpicSpill (common/spill.h): past --spill-mb (packets, keys and
// sessions held), the state so far and every later packet go to hash
// partitions of the session keys; the end of the file replays one
// partition at a time and merges their sessions in session order. The
// oracle is the same command holding everything in memory (--spill-mb 0):
// the same bytes with budgets of 2 KB (partitions from the first few
// dozen packets) to 40 KB (after streaming has written images), with 512,
// 3 or 1 partitions (CUFLOW_FLOWPIC_PARTITIONS; the one split again, level
// after level, past 60 records: CUFLOW_FLOWPIC_UNIT_PACKETS), on synthetic and real
// captures (pathspider's real.pcap goes back in time), both presets
// streaming or holding, the augmentations, bidirectional sessions cut by
// an idle timeout, Parquet, and several files in one run (partitions per
// file); a spill directory that does not exist fails the run with its name
// (which also shows that these runs did spill).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

const int64_t T0 = 1700000000LL * 1000000000LL, SEC = 1000000000LL;
const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 1}, MAC_B[6] = {0x02, 0, 0, 0, 0, 2};

std::vector<uint8_t> udp_frame(uint32_t src, uint16_t sport, size_t pay)
{
	return cft::cat(cft::eth(MAC_B, MAC_A, 0x0800),
	                cft::ipv4(src, 0x0c000001, 17, cft::udp(sport, 443, std::vector<uint8_t>(pay, 0x41))));
}

// Files of DIR (but meta.json) with their digests, and meta.json with the
// directory's own name cut out.
std::string digest(const std::string &dir)
{
	std::string out;
	cft::run("cd " + cft::shq(dir) + " && find . -type f ! -name meta.json | sort | xargs md5sum", &out);
	std::string meta = cft::slurp(dir + "/meta.json");
	for (size_t at; (at = meta.find(dir)) != std::string::npos;)
		meta.erase(at, dir.size());
	return out + meta;
}

struct FpRun {
	int rc;
	std::string out, digest;
};

FpRun flowpic(const std::string &env, const std::string &opts, const std::string &cap)
{
	FpRun r;
	std::string dir = cft::temp_path("fp");
	r.rc = cft::run(env + " " + cf() + " flowpic -q " + opts + " " + cft::shq(cap) + " -o " + cft::shq(dir), &r.out);
	r.digest = digest(dir);
	return r;
}

const char *STREAM = "CUFLOW_FLOWPIC_FLUSH_PACKETS=300";
const char *HOLD = "CUFLOW_FLOWPIC_HOLD=1";

void expect_same(const std::string &opts, const std::string &cap)
{
	FpRun a = flowpic(STREAM, opts, cap), b = flowpic(HOLD, opts, cap);
	EXPECT_EQ(a.rc, b.rc) << opts << " " << cap << "\n" << a.out << b.out;
	EXPECT_EQ(a.digest, b.digest) << opts << " " << cap;
	EXPECT_NE(a.digest.find("flowpic.npy"), std::string::npos) << a.out;
}

TEST(FlowpicStream, SameImagesAsHoldingEverySession)
{
	std::string syn = cft::temp_path("long.pcap"), out;
	// 200 s of traffic: most sessions' 15 s windows close long before the end
	ASSERT_EQ(cft::run(cf() + " synth -q --flows 400 --duration 200 --seed 5 -o " + cft::shq(syn), &out), 0) << out;
	std::vector<std::string> caps = {syn};
	std::string shared = cft::shared_dir();
	if (!shared.empty())
		for (const char *c : {"/captures/nfstream/pcaps/tor.pcap", "/captures/nfstream/pcaps/instagram.pcap"})
			if (cft::exists(shared + c))
				caps.push_back(shared + c);
	const char *opts[] = {"--preset mini", "--preset mini --augment rtt", "--preset mini --augment shift",
	                      "--preset mini --augment loss --window 5", "--preset mini --sessions bidir --direction 2ch",
	                      "--preset mini --format parquet"};
	for (const std::string &cap : caps)
		for (const char *o : opts)
			expect_same(o, cap);
}

// A capture that jumps back 40 s (two halves in the wrong order, as a
// careless mergecap -a makes): streaming stops at the jump, and the images
// are still those of the whole file.
TEST(FlowpicStream, InputGoingBackInTimeIsHeld)
{
	std::vector<cft::Frame> late, early, all;
	for (int f = 0; f < 30; f++)
		for (int i = 0; i < 14; i++) {
			late.push_back({T0 + 100 * SEC + f * SEC + i * 300000000LL, udp_frame(0x0a000000 + f, 1000, 60 + i)});
			early.push_back({T0 + 60 * SEC + f * SEC + i * 300000000LL, udp_frame(0x0b000000 + f, 2000, 80 + i)});
		}
	auto by_time = [](const cft::Frame &a, const cft::Frame &b) { return a.ts_ns < b.ts_ns; };
	std::stable_sort(late.begin(), late.end(), by_time);
	std::stable_sort(early.begin(), early.end(), by_time);
	all = late;
	all.insert(all.end(), early.begin(), early.end());
	std::string cap = cft::temp_path("back.pcap");
	cft::write_pcap(cap, 1, all, true);
	expect_same("--preset mini", cap);
}

// The one case streaming cannot serve: a packet more than the slack (10 s)
// late that belongs to a session whose image is already written. The run
// says so and how to hold instead; holding gives that packet its place.
TEST(FlowpicStream, LatePacketOfAWrittenSessionIsAnError)
{
	std::vector<cft::Frame> f;
	for (int i = 0; i < 14; i++) // session X: 14 packets in its first 5 s
		f.push_back({T0 + i * 350000000LL, udp_frame(0x0a000001, 1000, 100 + i)});
	for (int s = 0; s < 400; s++) // others until 40 s
		f.push_back({T0 + 6 * SEC + s * 85000000LL, udp_frame(0x0b000000 + s % 40, 2000, 50)});
	f.push_back({T0 + 3 * SEC, udp_frame(0x0a000001, 1000, 999)}); // X again, 37 s late
	std::string cap = cft::temp_path("late.pcap");
	cft::write_pcap(cap, 1, f, true);
	FpRun a = flowpic("CUFLOW_FLOWPIC_FLUSH_PACKETS=50", "--preset mini", cap);
	EXPECT_NE(a.rc, 0);
	EXPECT_NE(a.out.find("arrived after that session's image was written"), std::string::npos) << a.out;
	EXPECT_NE(a.out.find("CUFLOW_FLOWPIC_HOLD=1"), std::string::npos) << a.out;
	FpRun b = flowpic(HOLD, "--preset mini", cap);
	EXPECT_EQ(b.rc, 0) << b.out;
}

std::string data_dir()
{
	return cft::env("CUFLOW_TEST_DATA", cft::env("CUFLOW_SOURCE_DIR") + "/tests/.data");
}

TEST(FlowpicSpill, SameImagesAsHoldingInMemory)
{
	std::string syn = cft::temp_path("long.pcap"), out;
	ASSERT_EQ(cft::run(cf() + " synth -q --flows 400 --duration 200 --seed 7 -o " + cft::shq(syn), &out), 0) << out;
	std::vector<std::string> caps = {syn};
	std::string real = data_dir() + "/debian/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	if (cft::exists(real))
		caps.push_back(real);
	std::string shared = cft::shared_dir();
	if (!shared.empty() && cft::exists(shared + "/captures/nfstream/pcaps/instagram.pcap"))
		caps.push_back(shared + "/captures/nfstream/pcaps/instagram.pcap");
	struct Case {
		const char *env, *opts;
	} cases[] = {
		{"", "--preset official"},
		{"", "--preset official --sessions bidir --direction 2ch --format parquet"},
		{"", "--preset official --sessions bidir --idle-timeout 2 --direction both"},
		{HOLD, "--preset mini"},
		{HOLD, "--preset mini --augment rtt --augment-copies 2"},
		{STREAM, "--preset mini"},
		{STREAM, "--preset mini --augment shift --augment-copies 2"},
		{STREAM, "--preset mini --sessions bidir --idle-timeout 3 --direction 2ch"},
	};
	const char *tiny = " --spill-mb 0.002"; // 2 KB: partitions from the first few dozen packets
	const char *later[] = {" --spill-mb 0.02", " --spill-mb 0.04"}; // after streaming wrote some images
	const char *parts[] = {"CUFLOW_FLOWPIC_PARTITIONS=512", "CUFLOW_FLOWPIC_PARTITIONS=3",
	                       "CUFLOW_FLOWPIC_PARTITIONS=1 CUFLOW_FLOWPIC_UNIT_PACKETS=60"}; // the last split again
	int k = 0;
	for (const std::string &cap : caps)
		for (const Case &c : cases) {
			FpRun a = flowpic(c.env, std::string(c.opts) + " --spill-mb 0", cap);
			std::string env = std::string(c.env) + " " + parts[k++ % 3];
			FpRun b = flowpic(env, std::string(c.opts) + tiny, cap);
			FpRun l = flowpic(env, std::string(c.opts) + later[k % 2], cap);
			EXPECT_EQ(a.rc, 0) << c.opts << " " << cap << "\n" << a.out;
			EXPECT_EQ(b.rc, 0) << c.opts << " " << cap << "\n" << b.out;
			EXPECT_EQ(l.rc, 0) << c.opts << " " << cap << "\n" << l.out;
			EXPECT_EQ(a.digest, b.digest) << c.opts << " " << cap << " " << env;
			EXPECT_EQ(a.digest, l.digest) << c.opts << " " << cap << " " << env << later[k % 2];
			EXPECT_NE(a.digest.find("flowpic"), std::string::npos) << a.out;
			// the spilled run did spill: without a place for its files it fails, naming it
			std::string nodir = cft::temp_path("no-such-dir") + "/below";
			FpRun e = flowpic(c.env, std::string(c.opts) + tiny + " --spill-dir " + cft::shq(nodir), cap);
			EXPECT_NE(e.rc, 0) << c.opts << " " << cap;
			EXPECT_NE(e.out.find(nodir), std::string::npos) << e.out;
		}
	// several files in one run (the run driver): a spill per file, the same parts
	if (caps.size() > 1) {
		auto parts = [&](const std::string &spill) {
			std::string dir = cft::temp_path("fpj"), log, sums;
			std::string cmd = cf() + " flowpic -q --preset official --jobs 2 --spill-mb " + spill;
			for (const std::string &c : caps)
				cmd += " " + cft::shq(c);
			EXPECT_EQ(cft::run(cmd + " -o " + cft::shq(dir), &log), 0) << log;
			cft::run("cd " + cft::shq(dir) + " && find . -name '*.npy' | sort | xargs md5sum", &sums);
			return sums;
		};
		std::string a = parts("0"), b = parts("0.002");
		EXPECT_EQ(a, b);
		EXPECT_NE(a.find("image.npy"), std::string::npos) << a;
	}
}

} // namespace

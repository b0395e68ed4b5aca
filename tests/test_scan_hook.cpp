// cf_scan_file's per-packet hook run in a second thread (hook_thread): the
// hook must see exactly the records, in exactly the order, of the inline
// run; a failing hook stops the file with its status and gets nothing
// after; flowpic and netml --threads 2, flows and extract --threads 2 and 3
// write the same bytes as 1 thread.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "cuflow/internal.h"
#include "test_util.h"

namespace {

using cft::shq;
using Rec = std::tuple<int64_t, uint32_t, uint16_t, uint16_t, uint8_t, uint8_t>;

struct Seen {
	std::vector<Rec> recs;
	size_t calls = 0, max_run = 0, calls_after_fail = 0;
	size_t fail_at = 0; // fail on the call that passes this many records (0: never)
	bool failed = false;
};

int hook(void *user, const cf_pkt *p, size_t n)
{
	Seen *s = static_cast<Seen *>(user);
	if (s->failed)
		s->calls_after_fail++;
	s->calls++;
	s->max_run = std::max(s->max_run, n);
	for (size_t i = 0; i < n; i++)
		s->recs.emplace_back(p[i].ts_ns, p[i].caplen, p[i].sport, p[i].dport, p[i].proto, p[i].skip);
	if (s->fail_at && s->recs.size() >= s->fail_at && !s->failed) {
		s->failed = true;
		return CF_ERR_IO;
	}
	return CF_OK;
}

// A synth capture of about `mb` MB, written once per size.
std::string capture(int mb)
{
	static std::string paths[64];
	std::string &p = paths[mb];
	if (p.empty()) {
		p = cft::temp_path(".pcap");
		std::string log;
		EXPECT_EQ(cft::run(cft::cuflow_bin() + " synth -o " + shq(p) + " --seed 5 --gbytes " +
		                       std::to_string(mb / 1000.0),
		                   &log),
		          0)
			<< log;
	}
	return p;
}

int scan(const std::string &path, int threaded, Seen *seen, cf_scan_result *res)
{
	cf_backend *be = nullptr;
	char err[CF_ERRBUF_SIZE];
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &be, err), CF_OK) << err;
	cf_scan_opts o;
	memset(&o, 0, sizeof o);
	cf_decode_opts_default(&o.decode);
	o.backend = be;
	o.on_packets = hook;
	o.on_packet_user = seen;
	o.hook_thread = threaded;
	int st = cf_scan_file(path.c_str(), &o, res);
	cf_backend_close(be);
	return st;
}

} // namespace

TEST(ScanHook, ThreadSeesTheSameRecordsInTheSameOrder)
{
	std::string path = capture(40);
	Seen a, b;
	cf_scan_result ra, rb;
	ASSERT_EQ(scan(path, 0, &a, &ra), CF_OK) << ra.error;
	ASSERT_EQ(scan(path, 1, &b, &rb), CF_OK) << rb.error;
	ASSERT_GT(a.recs.size(), 80000u);
	EXPECT_EQ(a.recs, b.recs);
	EXPECT_EQ(ra.summary.packets, rb.summary.packets);
	EXPECT_EQ(ra.summary.packets, a.recs.size());
	EXPECT_LE(a.max_run, 32u);    // inline: runs of 32
	EXPECT_GT(b.max_run, 32u);    // the thread took the file: longer runs
	EXPECT_LE(b.max_run, 4096u);
}

TEST(ScanHook, SmallFilesStayInline)
{
	std::string path = capture(2);
	Seen s;
	cf_scan_result r;
	ASSERT_EQ(scan(path, 1, &s, &r), CF_OK) << r.error;
	EXPECT_GT(s.recs.size(), 0u);
	EXPECT_LE(s.max_run, 32u);
}

TEST(ScanHook, AFailingHookStopsTheFileAndGetsNothingAfter)
{
	std::string path = capture(40);
	for (int threaded = 0; threaded < 2; threaded++) {
		Seen s;
		s.fail_at = 50000;
		cf_scan_result r;
		EXPECT_EQ(scan(path, threaded, &s, &r), CF_ERR_IO);
		EXPECT_EQ(r.status, CF_ERR_IO);
		EXPECT_NE(std::string(r.error).find(path), std::string::npos) << r.error;
		EXPECT_TRUE(s.failed);
		EXPECT_EQ(s.calls_after_fail, 0u) << "threaded " << threaded;
		EXPECT_LT(s.recs.size(), 60000u);
	}
}

TEST(ScanHook, FlowpicAndNetmlWithTwoThreadsWriteTheSameBytes)
{
	std::string path = capture(40), log;
	for (const char *preset : {"official", "mini"}) {
		std::string d1 = cft::temp_path("-fp1"), d2 = cft::temp_path("-fp2");
		std::string base = cft::cuflow_bin() + " flowpic -q --backend cpu --preset " + preset + " " + shq(path);
		ASSERT_EQ(cft::run(base + " -o " + shq(d1), &log), 0) << log;
		ASSERT_EQ(cft::run(base + " --threads 2 -o " + shq(d2), &log), 0) << log;
		for (const char *f : {"flowpic.npy", "index.csv"}) {
			auto x = cft::read_file(d1 + "/" + f);
			EXPECT_FALSE(x.empty()) << preset << " " << f;
			EXPECT_TRUE(x == cft::read_file(d2 + "/" + f)) << preset << " " << f;
		}
	}
	std::string d1 = cft::temp_path("-nm1"), d2 = cft::temp_path("-nm2");
	std::string base = cft::cuflow_bin() + " netml -q --backend cpu --type IAT,SIZE,STATS " + shq(path);
	ASSERT_EQ(cft::run(base + " -o " + shq(d1), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " --threads 2 -o " + shq(d2), &log), 0) << log;
	for (const char *f : {"IAT.npy", "SIZE.npy", "STATS.npy", "subflows.csv"}) {
		auto x = cft::read_file(d1 + "/" + f);
		EXPECT_FALSE(x.empty()) << f;
		EXPECT_TRUE(x == cft::read_file(d2 + "/" + f)) << f;
	}
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flowpic --threads 3 " + shq(path) + " -o " + shq(d1 + "x"), &log), 1);
}

TEST(ScanHook, FlowsAndExtractWithThreeThreadsWriteTheSameBytes)
{
	// --threads 3: flow tracking in the scan's hook thread, the backend and
	// the writer in the engine's worker; the file is over the 16 MB the
	// hook thread needs
	std::string path = capture(40), log;
	std::string d[3];
	for (int t = 1; t <= 3; t++) {
		d[t - 1] = cft::temp_path("-ex" + std::to_string(t));
		ASSERT_EQ(cft::run(cft::cuflow_bin() + " extract -q --backend cpu --piece-packets 50 --threads " +
		                       std::to_string(t) + " " + shq(path) + " -o " + shq(d[t - 1]),
		                   &log),
		          0)
			<< log;
	}
	for (const char *f : {"features.npy", "sequences.npy", "lengths.npy", "flows.csv"}) {
		auto x = cft::read_file(d[0] + "/" + f);
		EXPECT_GT(x.size(), 1000u) << f;
		EXPECT_TRUE(x == cft::read_file(d[1] + "/" + f)) << "2 threads: " << f;
		EXPECT_TRUE(x == cft::read_file(d[2] + "/" + f)) << "3 threads: " << f;
	}
	std::string c1 = cft::temp_path("-fl1.csv"), c3 = cft::temp_path("-fl3.csv");
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows -q " + shq(path) + " -o " + shq(c1), &log), 0) << log;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " flows -q --threads 3 " + shq(path) + " -o " + shq(c3), &log), 0) << log;
	EXPECT_TRUE(cft::read_file(c1) == cft::read_file(c3));
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --threads 4 " + shq(path) + " -o " + shq(c3), &log), 1);
}

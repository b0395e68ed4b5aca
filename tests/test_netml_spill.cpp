// netml with bounded memory (cf_netml_opts.spill_bytes, host/common/spill.c):
// past the budget every packet goes to a hash partition on disk with its
// flow's key; finish takes the partitions one at a time, finds the interval,
// dim and SAMP width by radix selection over values on disk, and merges the
// partitions' rows by their flows' first packets. The oracle is the in-memory
// path (checked against netml 0.7.1 itself in test_netml.cpp /
// test_netml_upstream.cpp): with budgets of a few dozen packets, and 1, 3,
// 17 or 512 partitions (CUFLOW_NETML_PARTITIONS), partitions over 40 or 50
// packets split again (CUFLOW_NETML_UNIT_PACKETS), every result must be the
// same bits.
//
//  * NetmlSpill.SameBitsAsInMemory: real captures (pathspider's real.pcap,
//    whose timestamps are not in order; ../shared/captures when present) and
//    synth captures: rows, interval, dim, SAMP width, every counter, every
//    subflow's identity and times, all six types with and without FFT and
//    header, labels from a CSV.
//  * NetmlSpill.RandomStreams: packets made here (seeded): times that go
//    backwards inside flows, idle timeouts short enough to split, one-packet
//    flows, TCP and UDP, IPv6 (pseudo-flow and real flows), the trailing
//    chunk kept or dropped, a threshold above 2, and 100,000 flows.
//    Reads of the spilled packets and rows go in pieces of 37, and quantiles
//    of more than 37 values take the radix selection
//    (CUFLOW_NETML_SPILL_READ_PACKETS), so that batches and windows split.
//  * NetmlSpill.BadSpillDir: a spill directory that does not exist is an
//    I/O error naming it, from the add that needed it; nothing crashes.
//  * NetmlSpill.Option: "spill-mb" through cf_netml_write_opts_set.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuflow/backend.h"
#include "cuflow/netml.h"
#include "cuflow/netml_out.h"
#include "cuflow/scan.h"
#include "cuflow/synth.h"
#include "test_util.h"

namespace {

std::string source_dir() { return cft::env("CUFLOW_SOURCE_DIR"); }
std::string data_dir() { return cft::env("CUFLOW_TEST_DATA", source_dir() + "/tests/.data"); }

// Everything a netml handle answers after finish (and labels), as bytes.
struct Result {
	int finish = 0;
	uint64_t rows = 0;
	double interval = 0, samp = 0;
	uint32_t dim = 0;
	cf_netml_counters c{};
	std::vector<cf_netml_subflow> subflows;
	std::vector<double> feats;
};

Result collect(cf_netml *h, cf_backend *b, int fin)
{
	Result r;
	r.finish = fin;
	cf_netml_counters_get(h, &r.c);
	r.c.spill_runs = 0; // the one counter that differs
	if (fin != CF_OK)
		return r;
	r.rows = cf_netml_rows(h);
	r.interval = cf_netml_interval(h);
	r.samp = cf_netml_samp_width(h);
	r.dim = cf_netml_dim(h);
	for (uint64_t i = 0; i < r.rows; i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		r.subflows.push_back(s);
	}
	for (int t = 0; t < CF_NETML_TYPE_COUNT; t++)
		for (int fft = 0; fft < 2; fft++)
			for (int hdr = 0; hdr < 2; hdr++) {
				uint32_t cols = cf_netml_row_cols(h, t, hdr);
				std::vector<double> v(r.rows * cols);
				// in two pieces, so a batch starts inside the rows
				uint64_t half = r.rows / 2;
				int st = cf_netml_features(h, b, t, fft, hdr, 0, half, v.data());
				if (st == CF_OK)
					st = cf_netml_features(h, b, t, fft, hdr, half, r.rows - half, v.data() + half * cols);
				if (st != CF_OK) {
					r.feats.push_back((double)st); // SAMP with a zero width: the same refusal
					continue;
				}
				r.feats.insert(r.feats.end(), v.begin(), v.end());
			}
	return r;
}

void expect_same(const Result &a, const Result &b, const std::string &what)
{
	ASSERT_EQ(a.finish, b.finish) << what;
	EXPECT_EQ(memcmp(&a.c, &b.c, sizeof a.c), 0) << what << ": counters";
	EXPECT_EQ(a.c.subflows, b.c.subflows) << what;
	EXPECT_EQ(a.c.pkts_in_rows, b.c.pkts_in_rows) << what;
	if (a.finish != CF_OK)
		return;
	EXPECT_EQ(a.rows, b.rows) << what;
	EXPECT_EQ(memcmp(&a.interval, &b.interval, 8), 0) << what << ": interval " << a.interval << " " << b.interval;
	EXPECT_EQ(memcmp(&a.samp, &b.samp, 8), 0) << what << ": samp width";
	EXPECT_EQ(a.dim, b.dim) << what;
	ASSERT_EQ(a.subflows.size(), b.subflows.size()) << what;
	for (size_t i = 0; i < a.subflows.size(); i++)
		ASSERT_EQ(memcmp(&a.subflows[i], &b.subflows[i], sizeof a.subflows[i]), 0) << what << ": subflow " << i;
	ASSERT_EQ(a.feats.size(), b.feats.size()) << what;
	EXPECT_EQ(memcmp(a.feats.data(), b.feats.data(), a.feats.size() * sizeof(double)), 0) << what << ": features";
}

struct Backend {
	cf_backend *b = nullptr;
	Backend()
	{
		char err[CF_ERRBUF_SIZE];
		EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &b, err), CF_OK) << err;
	}
	~Backend() { cf_backend_close(b); }
};

// One capture through netml with the given spill (0: in memory).
Result from_capture(const std::string &path, uint64_t spill_bytes, const std::string &labels, uint32_t *runs)
{
	Backend be;
	cf_scan_opts so;
	memset(&so, 0, sizeof so);
	cf_decode_opts_default(&so.decode);
	so.backend = be.b;
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.spill_bytes = spill_bytes;
	char err[CF_ERRBUF_SIZE];
	cf_netml *h = nullptr;
	EXPECT_EQ(cf_netml_open(&o, &h, err), CF_OK) << err;
	cf_scan_result res;
	cf_netml_scan_file(h, path.c_str(), &so, &res);
	EXPECT_EQ(res.status, CF_OK) << path << ": " << res.error;
	EXPECT_GT(res.summary.packets, 0u) << path;
	int fin = cf_netml_finish(h);
	if (fin == CF_OK && !labels.empty())
		fin = cf_netml_label_csv(h, labels.c_str(), err);
	Result r = collect(h, be.b, fin);
	cf_netml_counters k;
	cf_netml_counters_get(h, &k);
	*runs = (uint32_t)k.spill_runs;
	cf_netml_close(h);
	return r;
}

// Small captures read back in several pieces too: the feature batches'
// gathers, the row and packet windows, and quantiles by radix selection
// (host/netml/netml.c).
struct SmallReads {
	SmallReads() { setenv("CUFLOW_NETML_SPILL_READ_PACKETS", "37", 1); }
	~SmallReads()
	{
		unsetenv("CUFLOW_NETML_SPILL_READ_PACKETS");
		unsetenv("CUFLOW_NETML_PARTITIONS");
		unsetenv("CUFLOW_NETML_UNIT_PACKETS");
	}
	void parts(int n) { setenv("CUFLOW_NETML_PARTITIONS", std::to_string(n).c_str(), 1); }
	// partitions of more than n packets split (0: the default, 2^16)
	void unit(int n) { n ? setenv("CUFLOW_NETML_UNIT_PACKETS", std::to_string(n).c_str(), 1) : unsetenv("CUFLOW_NETML_UNIT_PACKETS"); }
};

TEST(NetmlSpill, SameBitsAsInMemory)
{
	SmallReads small_reads;
	std::vector<std::string> caps = {cft::synth_pcap(7, 300), cft::synth_pcap(8, 900)};
	std::string deb = data_dir() + "/debian";
	std::string real = deb + "/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	if (!cft::exists(real)) {
		std::string log;
		cft::run("bash " + cft::shq(source_dir() + "/tests/scripts/fetch_debian_captures.sh") + " " + cft::shq(deb),
		         &log);
	}
	if (cft::exists(real))
		caps.push_back(real);
	else
		printf("pathspider's real.pcap not available (offline?): not compared\n");
	std::string sh = cft::shared_dir();
	for (const char *rel : {"/captures/nfstream/pcaps/instagram.pcap",
	                        "/captures/PcapPlusPlus/ExamplesTest/pcap_examples/many-protocols.pcap",
	                        "/captures/PcapPlusPlus/Pcap++Test/PcapExamples/example.pcap"})
		if (!sh.empty() && cft::exists(sh + rel))
			caps.push_back(sh + rel);
	// a label file naming some of real.pcap's and the synth captures' flows is
	// not needed for the check: the CSV below names none, then one, of the rows
	for (const std::string &c : caps) {
		uint32_t runs0 = 0, runs1 = 0, runs2 = 0, runs3 = 0;
		Result mem = from_capture(c, 0, "", &runs0);
		small_reads.parts(512);
		Result tiny = from_capture(c, 64 * 27, "", &runs1); // partitions from the 30th packet or so
		small_reads.parts(3);
		Result three = from_capture(c, 5000 * 27, "", &runs2); // many flows a partition
		small_reads.parts(1);
		small_reads.unit(50); // the one partition split, level after level
		Result one = from_capture(c, 64 * 27, "", &runs3);
		// the same without the small reads: the windows and merge buffers are
		// then each unit's share of the budget (16 packets, 4 rows here)
		unsetenv("CUFLOW_NETML_SPILL_READ_PACKETS");
		uint32_t runs4 = 0;
		Result shared = from_capture(c, 64 * 27, "", &runs4);
		setenv("CUFLOW_NETML_SPILL_READ_PACKETS", "37", 1);
		small_reads.unit(0);
		EXPECT_EQ(runs0, 0u) << c;
		EXPECT_EQ(runs1, 512u) << c;
		expect_same(mem, tiny, c + " (512 partitions)");
		if (runs2) // real.pcap has fewer than 5000 packets
			expect_same(mem, three, c + " (3 partitions)");
		EXPECT_EQ(runs3, 1u) << c;
		expect_same(mem, one, c + " (1 partition)");
		expect_same(mem, shared, c + " (1 partition, windows by share)");
		small_reads.parts(3);
		// labels: a CSV naming the first row's flow (filters rows, so dim and the
		// SAMP width are computed again from the spilled rows' times)
		if (mem.finish == CF_OK && !mem.subflows.empty() && mem.subflows[0].ip_version == 4) {
			const cf_netml_subflow &s = mem.subflows[0];
			char a[64], b2[64];
			snprintf(a, sizeof a, "%u.%u.%u.%u", s.src_ip[0], s.src_ip[1], s.src_ip[2], s.src_ip[3]);
			snprintf(b2, sizeof b2, "%u.%u.%u.%u", s.dst_ip[0], s.dst_ip[1], s.dst_ip[2], s.dst_ip[3]);
			std::string csv = cft::temp_path(".csv");
			std::string text = " Source IP, Destination IP, Source Port, Destination Port, Protocol, Label\n" +
			                   std::string(a) + "," + b2 + "," + std::to_string(s.src_port) + "," +
			                   std::to_string(s.dst_port) + "," + std::to_string(s.proto) + ",DoS\n";
			cft::write_file(csv, std::vector<uint8_t>(text.begin(), text.end()));
			Result lm = from_capture(c, 0, csv, &runs0), ls = from_capture(c, 64 * 27, csv, &runs1);
			EXPECT_GE(lm.rows, 1u) << c;
			expect_same(lm, ls, c + " labelled");
			remove(csv.c_str());
		}
	}
	for (size_t i = 0; i < 2; i++)
		remove(caps[i].c_str());
}

// Packets made here, added straight to two handles.
cf_pkt make_pkt(std::mt19937_64 &g, double t, int flow, int v6flows)
{
	cf_pkt p;
	memset(&p, 0, sizeof p);
	p.ts_ns = (int64_t)(t * 1e9);
	p.linktype = 1;
	p.ip_version = (flow % 7 == 3) ? 6 : 4;
	p.proto = (flow % 3 == 0) ? 17 : 6;
	if (flow % 11 == 5)
		p.proto = 1; // ICMP: counted, not kept
	p.sport = (uint16_t)(1024 + flow);
	p.dport = (uint16_t)(flow % 5 == 0 ? 6 : 443); // port 6: netml's "6 in fid" quirk
	p.src_ip[0] = 10;
	p.src_ip[3] = (uint8_t)(flow & 0xff);
	p.src_ip[2] = (uint8_t)(flow >> 8);
	p.src_ip[1] = (uint8_t)(flow >> 16);
	p.dst_ip[0] = 192;
	p.dst_ip[3] = 1;
	p.ttl = (uint8_t)(32 + g() % 64);
	p.tcp_flags = (uint8_t)(g() & 0xff);
	p.caplen = p.wirelen = (uint32_t)(60 + g() % 1400);
	(void)v6flows;
	return p;
}

TEST(NetmlSpill, RandomStreams)
{
	SmallReads small_reads;
	Backend be;
	int with_rows = 0;
	for (int trial = 0; trial < 26; trial++) {
		std::mt19937_64 g(1000 + trial);
		int nflows = 1 + (int)(g() % 300);
		int npkts = (int)(g() % 6000);
		if (trial >= 24) { // flow ids past 2^16: the runs' radix sort takes a second digit
			nflows = 150000; // IPv6 (one pseudo-flow) and ICMP leave about 100,000
			npkts = 300000;
		}
		cf_netml_opts o;
		cf_netml_opts_default(&o);
		o.tcp_timeout = 1.0 + (double)(g() % 40);
		o.udp_timeout = (trial % 3 == 0) ? o.tcp_timeout : 1.0 + (double)(g() % 40);
		o.keep_trailing = trial % 4 == 1;
		o.ipv6_flows = trial % 5 == 2;
		o.flow_pkts_thres = trial % 6 == 3 ? 4 : 2;
		if (trial % 7 == 6)
			o.samp_width = 0.25;
		char err[CF_ERRBUF_SIZE];
		cf_netml *hm = nullptr, *hs = nullptr;
		cf_netml_opts om = o;
		om.spill_bytes = 0;
		o.spill_bytes = (uint64_t)(64 + g() % 400) * 27;
		const int parts[4] = {1, 3, 17, 512};
		small_reads.parts(parts[trial % 4]);
		small_reads.unit(trial % 3 == 0 ? 40 : 0); // split partitions of more than 40 packets
		ASSERT_EQ(cf_netml_open(&om, &hm, err), CF_OK) << err;
		ASSERT_EQ(cf_netml_open(&o, &hs, err), CF_OK) << err;
		double t = 1.7e9 + (double)(g() % 1000) / 7.0;
		for (int i = 0; i < npkts; i++) {
			// mostly forward in small steps, sometimes a long pause, sometimes back
			uint64_t r = g() % 100;
			double step = r < 80 ? (double)(g() % 1000) / 4096.0 : r < 90 ? (double)(g() % 60) : -(double)(g() % 50);
			t += step;
			int flow = (int)(g() % (uint64_t)nflows);
			if (g() % 4 == 0)
				flow = (int)(g() % 4); // a few busy flows
			cf_pkt p = make_pkt(g, t, flow, o.ipv6_flows);
			ASSERT_EQ(cf_netml_add(hm, &p), CF_OK);
			ASSERT_EQ(cf_netml_add(hs, &p), CF_OK) << cf_netml_error(hs);
		}
		int fm = cf_netml_finish(hm), fs = cf_netml_finish(hs);
		Result a = collect(hm, be.b, fm), b = collect(hs, be.b, fs);
		cf_netml_counters k;
		cf_netml_counters_get(hs, &k);
		if (a.c.kept > 400 * 2) {
			EXPECT_EQ(k.spill_runs, (uint64_t)parts[trial % 4]) << "trial " << trial;
		}
		expect_same(a, b, "trial " + std::to_string(trial));
		with_rows += fm == CF_OK && a.rows > 10;
		if (trial >= 24) {
			EXPECT_GT(a.c.flows, 70000u) << "trial " << trial;
		}
		if (fm != CF_OK) {
			EXPECT_STREQ(cf_netml_error(hm), cf_netml_error(hs)) << "trial " << trial;
		}
		cf_netml_close(hm);
		cf_netml_close(hs);
	}
	EXPECT_GE(with_rows, 16) << "most trials make rows";
}

TEST(NetmlSpill, BadSpillDir)
{
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.spill_bytes = 64 * 27;
	std::string dir = cft::temp_path("-no-such-dir") + "/below";
	o.spill_dir = dir.c_str();
	char err[CF_ERRBUF_SIZE];
	cf_netml *h = nullptr;
	ASSERT_EQ(cf_netml_open(&o, &h, err), CF_OK) << err;
	std::mt19937_64 g(5);
	int st = CF_OK, i = 0;
	cf_netml_counters k;
	for (; i < 1000 && st == CF_OK; i++) {
		cf_pkt p = make_pkt(g, 1.7e9 + i * 0.01, i % 9, 0);
		cf_netml_counters_get(h, &k);
		st = cf_netml_add(h, &p);
	}
	EXPECT_EQ(st, CF_ERR_IO);
	// 8 flows (flow 5 is ICMP): a flow counts as two packets, so the packet
	// that would pass 64 (47 + 2 * 8 + 2 > 64) opens the partitions
	EXPECT_EQ(k.kept, 47u) << "the packet that passes the budget makes the partitions' file";
	EXPECT_NE(std::string(cf_netml_error(h)).find(dir), std::string::npos) << cf_netml_error(h);
	EXPECT_NE(cf_netml_finish(h), CF_OK);
	cf_netml_close(h);
}

TEST(NetmlSpill, Option)
{
	cf_netml_write_opts w;
	cf_netml_write_opts_default(&w);
	EXPECT_EQ(w.netml.spill_bytes, (uint64_t)128 << 20);
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_netml_write_opts_set(&w, "spill-mb", "3", err), CF_OK) << err;
	EXPECT_EQ(w.netml.spill_bytes, (uint64_t)3 << 20);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "spill-mb", "0", err), CF_OK) << err;
	EXPECT_EQ(w.netml.spill_bytes, 0u);
	EXPECT_EQ(cf_netml_write_opts_set(&w, "spill-mb", "-1", err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("--spill-mb"), std::string::npos) << err;
	ASSERT_EQ(cf_netml_write_opts_set(&w, "spill-dir", "/var/tmp", err), CF_OK) << err;
	EXPECT_STREQ(w.netml.spill_dir, "/var/tmp");
}

} // namespace

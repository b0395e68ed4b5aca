// `cuflow flows --joy-compat` against Cisco Joy 4.5.0 itself: the records
// Joy wrote (`joy bidir=1`, ../shared/data/joy/reference, see its README)
// for Joy's own test captures and pathspider's real.pcap, line for line and
// byte for byte after the configuration line (whose output name and
// generator necessarily differ). Skips without ../shared; real.pcap needs
// the Debian captures (tests/scripts/fetch_debian_captures.sh).
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"
#include "cuflow/joy.h"

namespace {

std::string after_first_line(const std::string &s)
{
	size_t nl = s.find('\n');
	return nl == std::string::npos ? "" : s.substr(nl + 1);
}

TEST(JoyReference, EveryRecordAsJoyWroteIt)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	std::string refdir = shared + "/data/joy/reference";
	std::string listing;
	ASSERT_EQ(cft::run("ls " + cft::shq(refdir), &listing), 0) << listing;
	std::string real = cft::env("CUFLOW_TEST_DATA") +
	                   "/debian/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	size_t checked = 0, records = 0;
	for (const std::string &name : cft::split(listing, '\n')) {
		const std::string suffix = ".joy.json.gz";
		if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix))
			continue;
		std::string cap_name = name.substr(0, name.size() - suffix.size());
		std::string cap = shared + "/captures/joy/" + cap_name;
		if (cap_name == "real.pcap")
			cap = real;
		if (!cft::exists(cap)) {
			if (cap_name == "real.pcap") { /* the Debian captures were not fetched */
				std::cout << "[ note ] real.pcap absent (" << cap << "), not compared\n";
				continue;
			}
			ADD_FAILURE() << "no capture for " << name << " (" << cap << ")";
			continue;
		}
		std::string joy, mine;
		ASSERT_EQ(cft::run("zcat " + cft::shq(refdir + "/" + name), &joy), 0) << joy;
		std::string out = cft::temp_path("_joy_" + cap_name + ".jsonl");
		std::string log;
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " flows -q --joy-compat " + cft::shq(cap) + " -o " +
		                           cft::shq(out),
		                   &log),
		          0)
		        << log;
		mine = cft::slurp(out);
		// The configuration line: Joy's keys, bidir 1, 50 packets.
		std::string config = mine.substr(0, mine.find('\n'));
		EXPECT_NE(config.find("\"bidir\":1,\"num_pkts\":50"), std::string::npos) << config;
		EXPECT_NE(config.find("\"end-config\":1}"), std::string::npos) << config;
		std::vector<std::string> a = cft::split(after_first_line(joy), '\n');
		std::vector<std::string> b = cft::split(after_first_line(mine), '\n');
		EXPECT_EQ(a.size(), b.size()) << cap_name;
		size_t diffs = 0;
		for (size_t i = 0; i < a.size() && i < b.size(); i++) {
			if (a[i] != b[i] && diffs++ < 3)
				ADD_FAILURE() << cap_name << " record " << i << "\n joy:    " << a[i] << "\n cuflow: " << b[i];
		}
		EXPECT_EQ(diffs, 0u) << cap_name;
		records += a.size() - 1; /* the last split piece is the empty string after the final newline */
		checked++;
	}
	EXPECT_GE(checked, 14u);
	EXPECT_GE(records, 70u); /* 73 without real.pcap, 6,421 with it */
}

}  // namespace

namespace {

// The reader (cf_joy_reader) against Python's json module (times as
// decimal.Decimal, exact): every record of Joy's own files (gzip) and of
// cuflow's --joy-compat and default JSON lines, the same fields.
std::string flow_line(const cf_joy_flow &f)
{
	std::string s = std::string(f.sa) + " " + f.da + " " + std::to_string(f.pr) + " " + std::to_string(f.sp) + " " +
	                std::to_string(f.dp) + " " + std::to_string(f.bytes_out) + " " + std::to_string(f.num_pkts_out) +
	                " " + (f.has_in ? std::to_string(f.bytes_in) + " " + std::to_string(f.num_pkts_in) : "- -") + " " +
	                std::to_string(f.time_start_ns) + " " + std::to_string(f.time_end_ns) + " " +
	                (f.expire_type ? std::string(1, f.expire_type) : "-") + " ";
	for (size_t i = 0; i < f.npackets; i++)
		s += (i ? "," : "") + std::to_string(f.packets[i].b) + (f.packets[i].dir > 0 ? ">" : "<") +
		     std::to_string(f.packets[i].ipt);
	return s;
}

const char *kPyDump = R"PY(
import decimal, gzip, json, sys
p = sys.argv[1]
f = gzip.open(p, "rt") if p.endswith(".gz") else open(p)
for line in f:
    if not line.strip():
        continue
    r = json.loads(line, parse_float=decimal.Decimal)
    if "sa" not in r:
        continue
    ns = lambda t: int(decimal.Decimal(t) * 1000000000)
    n = lambda v: -1 if v is None else v
    pk = ",".join("%d%s%d" % (q["b"] if "b" in q else 65536 - q["rep"], q["dir"], q["ipt"]) for q in r.get("packets", []))
    inn = "%d %d" % (r["bytes_in"], r["num_pkts_in"]) if "bytes_in" in r else "- -"
    print("%s %s %d %d %d %d %d %s %d %d %s %s" % (r["sa"], r["da"], r["pr"], n(r["sp"]), n(r["dp"]), r["bytes_out"],
          r["num_pkts_out"], inn, ns(r["time_start"]), ns(r["time_end"]), r.get("expire_type", "-"), pk))
)PY";

void check_reader(const std::string &path)
{
	std::string py = cft::temp_path("_joydump.py");
	cft::write_file(py, std::vector<uint8_t>(kPyDump, kPyDump + strlen(kPyDump)));
	std::string want;
	ASSERT_EQ(cft::run("python3 " + cft::shq(py) + " " + cft::shq(path), &want), 0) << want;
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr;
	ASSERT_EQ(cf_joy_reader_open(path.c_str(), &r, err), CF_OK) << err;
	std::string got;
	cf_joy_flow f;
	int st;
	while ((st = cf_joy_reader_next(r, &f)) == CF_OK)
		got += flow_line(f) + "\n";
	EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
	cf_joy_reader_close(r);
	EXPECT_EQ(got, want) << path;
	EXPECT_GT(got.size(), 40u) << path;
}

TEST(JoyReader, ReadsJoyFilesAsPythonDoes)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	for (const char *name : {"tls12.pcap", "sample.pcap", "firefox58.pcap", "kali-normal-ssh.pcap"}) {
		std::string ref = shared + "/data/joy/reference/" + name + ".joy.json.gz";
		check_reader(ref); // Joy's own file, gzip
		std::string out = cft::temp_path("_joyr.jsonl"), log;
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " flows -q --joy-compat " +
		                           cft::shq(shared + "/captures/joy/" + name) + " -o " + cft::shq(out),
		                   &log),
		          0)
		        << log;
		check_reader(out); // cuflow's compat records
		std::string dflt = cft::temp_path("_joyd.jsonl.gz");
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " flows -q " + cft::shq(shared + "/captures/joy/" + name) +
		                           " -o " + cft::shq(dflt),
		                   &log),
		          0)
		        << log;
		check_reader(dflt); // cuflow's own JSON lines (ns times, extra keys), gzip
	}
}

TEST(JoyReader, CorruptLineNamesFileAndLine)
{
	std::string p = cft::temp_path("_joybad.json");
	std::string text = "{\"version\":\"4.5.0\",\"end-config\":1}\n"
	                   "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":17,\"sp\":1,\"dp\":2,\"bytes_out\":5,"
	                   "\"num_pkts_out\":1,\"time_start\":1.5,\"time_end\":1.5,\"packets\":[{\"b\":5,\"dir\":\"<\",\"ipt\":0}]}\n"
	                   "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":17,\"packets\":[{\"b\":5,\"dir\":\"<\"\n";
	cft::write_file(p, std::vector<uint8_t>(text.begin(), text.end()));
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr;
	ASSERT_EQ(cf_joy_reader_open(p.c_str(), &r, err), CF_OK) << err;
	cf_joy_flow f;
	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK);
	EXPECT_EQ(f.line, 2u);
	EXPECT_EQ(f.has_in, 0);
	EXPECT_EQ(f.time_start_ns, 1500000000);
	ASSERT_EQ(f.npackets, 1u);
	EXPECT_EQ(f.packets[0].dir, -1);
	EXPECT_EQ(cf_joy_reader_next(r, &f), CF_ERR_CORRUPT);
	std::string e = cf_joy_reader_error(r);
	EXPECT_NE(e.find("_joybad.json: line 3:"), std::string::npos) << e;
	EXPECT_EQ(cf_joy_reader_next(r, &f), CF_ERR_CORRUPT); // stays stopped
	cf_joy_reader_close(r);
	EXPECT_EQ(cf_joy_reader_open((p + ".missing").c_str(), &r, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(".missing"), std::string::npos) << err;
}

}  // namespace

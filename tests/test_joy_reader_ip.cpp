// cf_joy_reader's "ip" and "label" fields and its capture mode
// (cf_joy_reader_open_capture / _open_auto). Oracles: values read by hand
// from Joy 4.5.0's own files (../shared/data/joy/reference), Python's json
// module over those files and over cuflow's JSON lines, hand-built
// captures whose TTLs and IP ids the test sets, and, for the capture mode,
// Joy's own records for the same captures read with the file reader.
// Skips what needs ../shared when it is absent.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"
#include "cuflow/joy.h"
#include "cuflow/status.h"

namespace {

std::vector<uint16_t> ids(const uint16_t *p, size_t n)
{
	return std::vector<uint16_t>(p, p + n);
}

void write_text(const std::string &path, const std::string &s)
{
	cft::write_file(path, std::vector<uint8_t>(s.begin(), s.end()));
}

std::string id_list(const uint16_t *p, size_t n)
{
	std::string s = "[";
	for (size_t i = 0; i < n; i++)
		s += (i ? "," : "") + std::to_string(p[i]);
	return s + "]";
}

// Everything the reader gives for a record but its line number.
std::string rec_line(const cf_joy_flow &f)
{
	std::string s = std::string(f.sa) + " " + f.da + " " + std::to_string(f.pr) + " " + std::to_string(f.sp) + " " +
	                std::to_string(f.dp) + " " + std::to_string(f.bytes_out) + " " + std::to_string(f.num_pkts_out) +
	                " " + (f.has_in ? std::to_string(f.bytes_in) + " " + std::to_string(f.num_pkts_in) : "- -") + " " +
	                std::to_string(f.time_start_ns) + " " + std::to_string(f.time_end_ns) + " " +
	                (f.expire_type ? std::string(1, f.expire_type) : "-") + " ";
	for (size_t i = 0; i < f.npackets; i++)
		s += (i ? "," : "") + std::to_string(f.packets[i].b) + (f.packets[i].dir > 0 ? ">" : "<") +
		     std::to_string(f.packets[i].ipt);
	s += " " + std::to_string(f.ttl_out) + id_list(f.ids_out, f.n_ids_out) + " " + std::to_string(f.ttl_in) +
	     id_list(f.ids_in, f.n_ids_in);
	return s;
}

// The ip fields and label as Python's json module reads them.
std::string ip_line(const cf_joy_flow &f)
{
	return std::string(f.sa) + " " + f.da + " " + std::to_string(f.sp) + " " + std::to_string(f.dp) + " " +
	       std::to_string(f.ttl_out) + id_list(f.ids_out, f.n_ids_out) + " " + std::to_string(f.ttl_in) +
	       id_list(f.ids_in, f.n_ids_in) + " " + (f.label ? f.label : "<none>");
}

const char *kPyIp = R"PY(
import gzip, json, sys
p = sys.argv[1]
f = gzip.open(p, "rt", encoding="utf-8") if p.endswith(".gz") else open(p, encoding="utf-8")
n = lambda v: -1 if v is None else v
for line in f:
    if not line.strip():
        continue
    r = json.loads(line)
    if "sa" not in r:
        continue
    ip = r.get("ip", {})
    side = lambda d: "%d[%s]" % (ip[d].get("ttl", -1), ",".join(str(i) for i in ip[d].get("id", []))) if d in ip else "-1[]"
    sys.stdout.buffer.write(("%s %s %d %d %s %s %s\n" % (r["sa"], r["da"], n(r["sp"]), n(r["dp"]), side("out"),
                             side("in"), r.get("label") or "<none>")).encode("utf-8"))
)PY";

// Every record's ip fields and label against Python's.
void check_ip_against_python(const std::string &path)
{
	std::string py = cft::temp_path("_joyip.py");
	write_text(py, kPyIp);
	std::string want;
	ASSERT_EQ(cft::run("python3 " + cft::shq(py) + " " + cft::shq(path), &want), 0) << want;
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr;
	ASSERT_EQ(cf_joy_reader_open(path.c_str(), &r, err), CF_OK) << err;
	std::string got;
	cf_joy_flow f;
	int st;
	while ((st = cf_joy_reader_next(r, &f)) == CF_OK)
		got += ip_line(f) + "\n";
	EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
	cf_joy_reader_close(r);
	EXPECT_EQ(got, want) << path;
	EXPECT_GT(got.size(), 40u) << path;
}

// All records of a reader, as rec_line; *lines gets each record's `line`.
std::vector<std::string> read_all(cf_joy_reader *r, std::vector<uint64_t> *lines, int *status)
{
	std::vector<std::string> v;
	cf_joy_flow f;
	int st;
	while ((st = cf_joy_reader_next(r, &f)) == CF_OK) {
		v.push_back(rec_line(f));
		if (lines)
			lines->push_back(f.line);
	}
	*status = st;
	return v;
}

TEST(JoyReaderIp, HandReadValuesOfJoysRealPcapFile)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	std::string p = shared + "/data/joy/reference/real.pcap.joy.json.gz";
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr;
	ASSERT_EQ(cf_joy_reader_open(p.c_str(), &r, err), CF_OK) << err;
	cf_joy_flow f;
	// line 2: "ip":{"out":{"ttl":53,"id":[28338,...,28342]},"in":{"ttl":64,"id":[0,5507,...,5510]}}
	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 2u);
	EXPECT_STREQ(f.sa, "10.64.88.105");
	EXPECT_EQ(f.sp, 37132);
	EXPECT_EQ(f.ttl_out, 53);
	EXPECT_EQ(ids(f.ids_out, f.n_ids_out), (std::vector<uint16_t>{28338, 28339, 28340, 28341, 28342}));
	EXPECT_EQ(f.ttl_in, 64);
	EXPECT_EQ(ids(f.ids_in, f.n_ids_in), (std::vector<uint16_t>{0, 5507, 5508, 5509, 5510}));
	EXPECT_EQ(f.label, nullptr);
	// line 3: out ttl 64, ids 10245..10249; in ttl 64, ids 0,22042..22045
	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 3u);
	EXPECT_EQ(f.sp, 42352);
	EXPECT_EQ(f.ttl_out, 64);
	EXPECT_EQ(ids(f.ids_out, f.n_ids_out), (std::vector<uint16_t>{10245, 10246, 10247, 10248, 10249}));
	EXPECT_EQ(f.ttl_in, 64);
	EXPECT_EQ(ids(f.ids_in, f.n_ids_in), (std::vector<uint16_t>{0, 22042, 22043, 22044, 22045}));
	cf_joy_reader_close(r);

	// firefox58 line 2, IPv6 (no ids, no "in"): "ip":{"out":{"ttl":1}}
	p = shared + "/data/joy/reference/firefox58.pcap.joy.json.gz";
	ASSERT_EQ(cf_joy_reader_open(p.c_str(), &r, err), CF_OK) << err;
	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 2u);
	EXPECT_STREQ(f.da, "ff02::16");
	EXPECT_EQ(f.ttl_out, 1);
	EXPECT_EQ(f.n_ids_out, 0u);
	EXPECT_EQ(f.ttl_in, -1);
	EXPECT_EQ(f.n_ids_in, 0u);
	cf_joy_reader_close(r);
}

TEST(JoyReaderIp, EveryJoyAndCuflowRecordAsPythonReadsIt)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	std::string listing;
	std::string refdir = shared + "/data/joy/reference";
	ASSERT_EQ(cft::run("ls " + cft::shq(refdir), &listing), 0) << listing;
	int files = 0;
	for (const std::string &name : cft::split(listing, '\n'))
		if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) {
			check_ip_against_python(refdir + "/" + name);
			files++;
		}
	EXPECT_EQ(files, 15);
	// cuflow's own JSON lines (host/flow/joy_jsonl.c) write the same "ip" form
	for (const char *name : {"tls12.pcap", "firefox58.pcap"}) {
		std::string out = cft::temp_path("_joyip.jsonl.gz"), log;
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " flows -q --format jsonl " +
		                           cft::shq(shared + "/data/joy/test/pcaps/" + name) + " -o " + cft::shq(out),
		                   &log),
		          0)
		        << log;
		check_ip_against_python(out);
	}
}

const std::string kConfig = "{\"version\":\"4.5.0\",\"bidir\":1,\"end-config\":1}\n";
const std::string kHead = "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":17,\"sp\":1,\"dp\":2,\"bytes_out\":5,"
                          "\"num_pkts_out\":1,\"time_start\":1.5,\"time_end\":1.5,"
                          "\"packets\":[{\"b\":5,\"dir\":\">\",\"ipt\":0}]";

TEST(JoyReaderIp, HandWrittenRecords)
{
	std::string p = cft::temp_path("_joyip_hand.json");
	write_text(p, kConfig +
	                      // 2: no "in"
	                      kHead + ",\"ip\":{\"out\":{\"ttl\":128,\"id\":[65535,0,7]}},\"expire_type\":\"i\"}\n" +
	                      // 3: no "ip" at all, a label
	                      kHead + ",\"label\":\"video\"}\n" +
	                      // 4: "in" before "out", unknown keys inside, empty id list, label first
	                      "{\"label\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\/\"," + kHead.substr(1) +
	                      ",\"ip\":{\"x\":[1,{\"y\":2}],\"in\":{\"id\":[9],\"ttl\":0,\"z\":null},\"out\":{\"id\":[]}}}\n" +
	                      // 5: "ip":{} and "label":null
	                      kHead + ",\"ip\":{},\"label\":null}\n");
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr;
	ASSERT_EQ(cf_joy_reader_open(p.c_str(), &r, err), CF_OK) << err;
	cf_joy_flow f;
	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 2u);
	EXPECT_EQ(f.ttl_out, 128);
	EXPECT_EQ(ids(f.ids_out, f.n_ids_out), (std::vector<uint16_t>{65535, 0, 7}));
	EXPECT_EQ(f.ttl_in, -1);
	EXPECT_EQ(f.n_ids_in, 0u);
	EXPECT_EQ(f.expire_type, 'i');
	EXPECT_EQ(f.label, nullptr);

	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 3u);
	EXPECT_EQ(f.ttl_out, -1);
	EXPECT_EQ(f.ttl_in, -1);
	EXPECT_EQ(f.n_ids_out + f.n_ids_in, 0u);
	ASSERT_NE(f.label, nullptr);
	EXPECT_STREQ(f.label, "video");
	EXPECT_EQ(f.npackets, 1u);

	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 4u);
	EXPECT_STREQ(f.sa, "10.0.0.1");
	EXPECT_EQ(f.ttl_out, -1);
	EXPECT_EQ(f.n_ids_out, 0u);
	EXPECT_EQ(f.ttl_in, 0);
	EXPECT_EQ(ids(f.ids_in, f.n_ids_in), (std::vector<uint16_t>{9}));
	ASSERT_NE(f.label, nullptr);
	// a"b\c, U+00E9 (C3 A9), U+1F600 (F0 9F 98 80), /
	EXPECT_EQ(std::string(f.label), std::string("a\"b\\c\xc3\xa9\xf0\x9f\x98\x80/"));

	ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 5u);
	EXPECT_EQ(f.ttl_out, -1);
	EXPECT_EQ(f.ttl_in, -1);
	EXPECT_EQ(f.label, nullptr);
	EXPECT_EQ(cf_joy_reader_next(r, &f), CF_EOF);
	cf_joy_reader_close(r);
}

TEST(JoyReaderIp, MalformedIpOrLabelIsCorruptNamingFileAndLine)
{
	const char *bad[] = {
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,65536]}}",   // id out of range
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,-2]}}",      // negative
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,\"3\"]}}",   // a string
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,2.5]}}",     // not an integer
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,]}}",        // trailing comma
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1 2]}}",       // no comma
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":7}}",           // not a list
	        ",\"ip\":{\"out\":{\"ttl\":256}}",                   // ttl out of range
	        ",\"ip\":{\"out\":{\"ttl\":null}}",                  // ttl null
	        ",\"ip\":{\"in\":[64]}",                             // side not an object
	        ",\"ip\":[1]",                                       // ip not an object
	        ",\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,2",          // line ends inside
	        ",\"label\":5",                                      // label not a string
	        ",\"label\":\"a\\q\"",                               // bad escape
	        ",\"label\":\"\\ud800x\"",                           // lone surrogate
	};
	int k = 0;
	for (const char *tail : bad) {
		std::string p = cft::temp_path("_joyip_bad" + std::to_string(k++) + ".json");
		write_text(p, kConfig + kHead + "}\n\n" + kHead + tail + "}\n");
		char err[CF_ERRBUF_SIZE];
		cf_joy_reader *r = nullptr;
		ASSERT_EQ(cf_joy_reader_open(p.c_str(), &r, err), CF_OK) << err;
		cf_joy_flow f;
		ASSERT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
		EXPECT_EQ(cf_joy_reader_next(r, &f), CF_ERR_CORRUPT) << tail;
		std::string e = cf_joy_reader_error(r);
		EXPECT_NE(e.find(p + ": line 4:"), std::string::npos) << tail << ": " << e;
		EXPECT_EQ(cf_joy_reader_next(r, &f), CF_ERR_CORRUPT) << tail; // stays stopped
		cf_joy_reader_close(r);
	}
}

// The capture mode against Joy's own records for the same captures: the
// same records in the same order, every field (the ip ids included).
TEST(JoyReaderIp, CaptureGivesJoysOwnRecords)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	std::vector<std::pair<std::string, std::string>> cases;
	for (const char *name : {"tls12.pcap", "sample.pcap", "firefox58.pcap", "kali-normal-ssh.pcap", "ikev2.pcap",
	                         "dhcp.pcap", "ssh-gex-sha256.pcap"})
		cases.push_back({shared + "/data/joy/test/pcaps/" + name, shared + "/data/joy/reference/" + name +
		                                                                 ".joy.json.gz"});
	std::string real = cft::env("CUFLOW_TEST_DATA") +
	                   "/debian/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	if (cft::exists(real)) // tests/scripts/fetch_debian_captures.sh
		cases.push_back({real, shared + "/data/joy/reference/real.pcap.joy.json.gz"});
	size_t total = 0;
	for (auto &c : cases) {
		char err[CF_ERRBUF_SIZE];
		cf_joy_reader *r = nullptr;
		int st;
		ASSERT_EQ(cf_joy_reader_open(c.second.c_str(), &r, err), CF_OK) << err;
		std::vector<std::string> want = read_all(r, nullptr, &st);
		EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
		cf_joy_reader_close(r);

		ASSERT_EQ(cf_joy_reader_open_capture(c.first.c_str(), &r, err), CF_OK) << err;
		std::vector<uint64_t> lines;
		std::vector<std::string> got = read_all(r, &lines, &st);
		EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
		cf_joy_flow f;
		EXPECT_EQ(cf_joy_reader_next(r, &f), CF_EOF); // stays at the end
		cf_joy_reader_close(r);
		ASSERT_EQ(got.size(), want.size()) << c.first;
		for (size_t i = 0; i < got.size(); i++) {
			EXPECT_EQ(got[i], want[i]) << c.first << " record " << i + 1;
			EXPECT_EQ(lines[i], i + 1) << c.first;
		}
		EXPECT_GT(got.size(), 0u) << c.first;
		total += got.size();

		// open_auto tells the capture from the Joy file
		ASSERT_EQ(cf_joy_reader_open_auto(c.first.c_str(), &r, err), CF_OK) << err;
		EXPECT_EQ(read_all(r, nullptr, &st), want) << c.first;
		cf_joy_reader_close(r);
		ASSERT_EQ(cf_joy_reader_open_auto(c.second.c_str(), &r, err), CF_OK) << err;
		lines.clear();
		EXPECT_EQ(read_all(r, &lines, &st), want) << c.second;
		ASSERT_FALSE(lines.empty()) << c.second;
		EXPECT_EQ(lines[0], 2u) << c.second; // file lines: the config line is line 1
		cf_joy_reader_close(r);
	}
	EXPECT_GE(total, 20u);

	// a gzip-compressed pcap is a capture too (cf_reader decompresses it)
	std::string gz = cft::temp_path("_tls12.pcap.gz"), log;
	ASSERT_EQ(cft::run("gzip -c " + cft::shq(cases[0].first) + " > " + cft::shq(gz), &log), 0) << log;
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = nullptr, *w = nullptr;
	int st, st2;
	ASSERT_EQ(cf_joy_reader_open_auto(gz.c_str(), &r, err), CF_OK) << err;
	ASSERT_EQ(cf_joy_reader_open(cases[0].second.c_str(), &w, err), CF_OK) << err;
	EXPECT_EQ(read_all(r, nullptr, &st), read_all(w, nullptr, &st2));
	EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
	cf_joy_reader_close(r);
	cf_joy_reader_close(w);
}

// A capture the test builds: TTLs and IP ids set by hand, then damage.
TEST(JoyReaderIp, HandBuiltCaptureThenDamage)
{
	const uint8_t ma[6] = {2, 0, 0, 0, 0, 1}, mb[6] = {2, 0, 0, 0, 0, 2};
	auto frame = [&](uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t ttl, uint16_t id, size_t n) {
		return cft::cat(cft::eth(mb, ma, 0x0800),
		                cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(n, 0x41)), ttl, id));
	};
	const uint32_t a = 0x0a000001, b = 0x0a000002, c = 0x0a000003, d = 0x0a000004;
	std::vector<cft::Frame> frames = {
	        {1000000000, frame(a, b, 5000, 6000, 57, 100, 10)},
	        {1001000000, frame(b, a, 6000, 5000, 33, 7, 20)},
	        {1002000000, frame(a, b, 5000, 6000, 60, 101, 30)},
	        {1003000000, frame(c, d, 7000, 8000, 200, 65535, 40)},
	        {1004000000, frame(a, b, 5000, 6000, 57, 102, 50)},
	};
	std::string p = cft::temp_path("_joyip_hand.pcap");
	cft::write_pcap(p, 1, frames);
	std::vector<uint8_t> bytes = cft::read_file(p);
	// cut the last record after 30 of its bytes: the first four frames stay
	size_t last = bytes.size() - frames[4].bytes.size() - 16;
	bytes.resize(last + 16 + 30);
	std::string cut = cft::temp_path("_joyip_cut.pcap");
	cft::write_file(cut, bytes);

	for (int damaged = 0; damaged < 2; damaged++) {
		char err[CF_ERRBUF_SIZE];
		cf_joy_reader *r = nullptr;
		ASSERT_EQ(cf_joy_reader_open_auto((damaged ? cut : p).c_str(), &r, err), CF_OK) << err;
		cf_joy_flow f;
		int seen = 0, st;
		while ((st = cf_joy_reader_next(r, &f)) == CF_OK) {
			seen++;
			EXPECT_EQ(f.line, (uint64_t)seen);
			EXPECT_EQ(f.label, nullptr);
			if (!strcmp(f.sa, "10.0.0.1")) {
				EXPECT_STREQ(f.da, "10.0.0.2");
				EXPECT_EQ(f.sp, 5000);
				EXPECT_EQ(f.dp, 6000);
				EXPECT_EQ(f.pr, 17);
				EXPECT_EQ(f.ttl_out, 57); // the first and the smallest of 57, 60 (, 57)
				EXPECT_EQ(ids(f.ids_out, f.n_ids_out),
				          damaged ? (std::vector<uint16_t>{100, 101}) : (std::vector<uint16_t>{100, 101, 102}));
				EXPECT_EQ(f.ttl_in, 33);
				EXPECT_EQ(ids(f.ids_in, f.n_ids_in), (std::vector<uint16_t>{7}));
				EXPECT_EQ(f.num_pkts_out, damaged ? 2u : 3u);
				EXPECT_EQ(f.bytes_out, damaged ? 40u : 90u); // UDP payloads 10 + 30 (+ 50)
				EXPECT_EQ(f.bytes_in, 20u);
			} else {
				EXPECT_STREQ(f.sa, "10.0.0.3");
				EXPECT_EQ(f.sp, 7000);
				EXPECT_EQ(f.ttl_out, 200);
				EXPECT_EQ(ids(f.ids_out, f.n_ids_out), (std::vector<uint16_t>{65535}));
				EXPECT_EQ(f.has_in, 0);
				EXPECT_EQ(f.ttl_in, -1);
				EXPECT_EQ(f.n_ids_in, 0u);
			}
		}
		EXPECT_EQ(seen, 2);
		if (!damaged) {
			EXPECT_EQ(st, CF_EOF) << cf_joy_reader_error(r);
		} else {
			EXPECT_EQ(st, CF_ERR_TRUNCATED) << cf_joy_reader_error(r);
			std::string e = cf_joy_reader_error(r);
			// the fifth record's header starts at byte last
			EXPECT_NE(e.find(cut), std::string::npos) << e;
			EXPECT_NE(e.find("byte offset"), std::string::npos) << e;
			EXPECT_EQ(cf_joy_reader_next(r, &f), CF_ERR_TRUNCATED); // stays stopped
		}
		cf_joy_reader_close(r);
	}
}

TEST(JoyReaderIp, OpenCaptureErrors)
{
	char err[CF_ERRBUF_SIZE];
	cf_joy_reader *r = reinterpret_cast<cf_joy_reader *>(1);
	std::string missing = cft::temp_path("_joyip_missing.pcap");
	EXPECT_EQ(cf_joy_reader_open_capture(missing.c_str(), &r, err), CF_ERR_IO);
	EXPECT_EQ(r, nullptr);
	EXPECT_NE(std::string(err).find(missing), std::string::npos) << err;
	// a Joy file is no capture
	std::string p = cft::temp_path("_joyip_notcap.json");
	write_text(p, kConfig + kHead + "}\n");
	EXPECT_EQ(cf_joy_reader_open_capture(p.c_str(), &r, err), CF_ERR_NOT_CAPTURE);
	EXPECT_NE(std::string(err).find(p), std::string::npos) << err;
	// ... which open_auto reads as one
	ASSERT_EQ(cf_joy_reader_open_auto(p.c_str(), &r, err), CF_OK) << err;
	cf_joy_flow f;
	EXPECT_EQ(cf_joy_reader_next(r, &f), CF_OK) << cf_joy_reader_error(r);
	EXPECT_EQ(f.line, 2u);
	EXPECT_EQ(cf_joy_reader_next(r, &f), CF_EOF);
	cf_joy_reader_close(r);
	EXPECT_EQ(cf_joy_reader_open_auto(missing.c_str(), &r, err), CF_ERR_IO);
}

}  // namespace

// Flow labelling: constant labels, directory names, CICFlowMeter ground
// truth and rules CSVs written by the tests. Expected labels and counters
// are worked out by hand in the comments next to each query.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "cuflow/cuflow.h"
#include "cuflow/label.h"
#include "test_util.h"

namespace {

const int64_t S = 1000000000LL;  // ns per second
const int64_t MS = 1000000LL;

// Seconds since the epoch of a UTC civil time (timegm: an implementation
// independent of the labeler's).
int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

// A flow endpoint pair for queries.
struct Flow {
	uint8_t ver = 4, proto = 6;
	uint8_t src[16] = {}, dst[16] = {};
	uint16_t sport = 0, dport = 0;
	int64_t first = 0, last = 0;
};

void set_ip(uint8_t ip[16], const char *s)
{
	memset(ip, 0, 16);
	if (strchr(s, ':'))
		ASSERT_EQ(inet_pton(AF_INET6, s, ip), 1) << s;
	else
		ASSERT_EQ(inet_pton(AF_INET, s, ip), 1) << s;
}

Flow flow(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto, int64_t first_ns,
          int64_t last_ns)
{
	Flow f;
	f.ver = strchr(src, ':') ? 6 : 4;
	f.proto = proto;
	set_ip(f.src, src);
	set_ip(f.dst, dst);
	f.sport = sport;
	f.dport = dport;
	f.first = first_ns;
	f.last = last_ns;
	return f;
}

int match(cf_labeler *l, const Flow &f)
{
	cf_label_query q;
	q.ip_version = f.ver;
	q.proto = f.proto;
	q.src_ip = f.src;
	q.dst_ip = f.dst;
	q.src_port = f.sport;
	q.dst_port = f.dport;
	q.first_ns = f.first;
	q.last_ns = f.last;
	return cf_labeler_match(l, &q);
}

// Label name of a match result ("<drop>" for CF_LABEL_DROP).
std::string name_of(cf_labeler *l, const Flow &f)
{
	int id = match(l, f);
	if (id == CF_LABEL_DROP)
		return "<drop>";
	const char *n = cf_labeler_name(l, (uint32_t)id);
	return n ? n : "<bad id>";
}

// Files the tests wrote, removed when the executable exits.
struct TempFiles {
	std::vector<std::string> paths;
	~TempFiles()
	{
		for (auto &p : paths)
			unlink(p.c_str());
	}
} g_temp;

std::string write_temp(const std::string &text, const std::string &suffix = ".csv")
{
	std::string p = cft::temp_path(suffix);
	cft::write_file(p, std::vector<uint8_t>(text.begin(), text.end()));
	g_temp.paths.push_back(p);
	return p;
}

std::string report(const cf_labeler *l)
{
	char *buf = nullptr;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	EXPECT_EQ(cf_labeler_report_json(l, f), CF_OK);
	fclose(f);
	std::string s(buf, len);
	free(buf);
	return s;
}

cf_label_counts counts(const cf_labeler *l, const char *name)
{
	cf_label_counts c = {};
	int id = cf_labeler_find(l, name);
	EXPECT_GE(id, 0) << name;
	if (id >= 0) {
		EXPECT_EQ(cf_labeler_label_counts(l, (uint32_t)id, &c), CF_OK);
	}
	return c;
}

// ------------------------------------------------------------------ constant

TEST(Label, Constant)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_constant("vpn", &l, err), CF_OK) << err;
	EXPECT_STREQ(cf_labeler_format(l), "constant");
	Flow f = flow("10.0.0.1", 1, "10.0.0.2", 2, 6, 0, 0);
	EXPECT_EQ(match(l, f), 0);
	EXPECT_EQ(match(l, flow("2001:db8::1", 1, "2001:db8::2", 2, 17, 5, 1)), 0);
	EXPECT_EQ(cf_labeler_count(l), 1u);
	EXPECT_STREQ(cf_labeler_name(l, 0), "vpn");
	EXPECT_EQ(cf_labeler_name(l, 1), nullptr);

	// --label-from-dir: switch the constant per input.
	EXPECT_EQ(cf_labeler_set_constant(l, "chat"), 1);
	EXPECT_EQ(match(l, f), 1);
	EXPECT_EQ(cf_labeler_set_constant(l, "vpn"), 0);
	EXPECT_EQ(match(l, f), 0);
	EXPECT_EQ(cf_labeler_set_constant(l, ""), CF_ERR_ARG);

	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, 4u);
	EXPECT_EQ(t.matched, 4u);
	EXPECT_EQ(t.dropped + t.defaulted + t.ambiguous, 0u);
	EXPECT_EQ(counts(l, "vpn").matched, 3u);
	EXPECT_EQ(counts(l, "chat").matched, 1u);
	EXPECT_EQ(cf_labeler_rules(l), 0u);
	std::string r = report(l);
	EXPECT_NE(r.find("\"format\": \"constant\", \"source\": null"), std::string::npos) << r;
	EXPECT_NE(r.find("{\"id\": 1, \"name\": \"chat\", \"matched\": 1, \"ambiguous\": 0, \"defaulted\": 0}"),
	          std::string::npos)
	    << r;
	EXPECT_EQ(r.find("\"rules\""), std::string::npos);

	EXPECT_EQ(cf_labeler_match(nullptr, nullptr), CF_ERR_ARG);
	cf_labeler_close(l);
	cf_labeler_close(nullptr);

	l = reinterpret_cast<cf_labeler *>(1);
	EXPECT_EQ(cf_labeler_open_constant("", &l, err), CF_ERR_ARG);
	EXPECT_EQ(l, nullptr);
	EXPECT_NE(std::string(err).find("empty"), std::string::npos) << err;
}

TEST(Label, DirName)
{
	char out[256];
	EXPECT_EQ(cf_label_dir_name("data/vpn/chat/a.pcap", out, sizeof out), CF_OK);
	EXPECT_STREQ(out, "chat");
	EXPECT_EQ(cf_label_dir_name("/data/voip//b.pcapng", out, sizeof out), CF_OK);
	EXPECT_STREQ(out, "voip");
	EXPECT_EQ(cf_label_dir_name("/x.pcap", out, sizeof out), CF_ERR_ARG);
	EXPECT_EQ(cf_label_dir_name("d/chat/a.pcap", out, 4), CF_ERR_ARG);  // "chat" + NUL needs 5
	EXPECT_EQ(cf_label_dir_name("d/chat/a.pcap", out, 5), CF_OK);

	// No directory part, or "." / "..": the real directory's name.
	char cwd[4096];
	ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
	std::string base = strrchr(cwd, '/') + 1;
	if (base.empty())
		GTEST_SKIP() << "running in /";
	EXPECT_EQ(cf_label_dir_name("a.pcap", out, sizeof out), CF_OK);
	EXPECT_EQ(out, base);
	EXPECT_EQ(cf_label_dir_name("./a.pcap", out, sizeof out), CF_OK);
	EXPECT_EQ(out, base);
	EXPECT_EQ(cf_label_dir_name(("../" + base + "/./a.pcap").c_str(), out, sizeof out), CF_OK);
	EXPECT_EQ(out, base);
}

// ------------------------------------------------------------------ CICFlowMeter CSV

// BOM, CRLF, CIC-style headers with leading spaces, a quoted field with a
// comma, an empty ",,," row, a Latin-1 byte in a label.
const char *CIC_CSV =
    "\xEF\xBB\xBF"
    "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, "
    "Total Fwd Packets, Label\r\n"
    // line 2. 8:55 local (no seconds: the whole minute) + 3 h = 11:55Z;
    // range [11:55:00, 11:55:00 + 60 s + 3 s] = [11:55:00, 11:56:03],
    // +-1 s slack: [11:54:59, 11:56:04].
    "192.168.10.5-104.16.207.165-54865-443-6,192.168.10.5,54865,104.16.207.165,443,6,3/7/2017 8:55,3000000,3,"
    "BENIGN\r\n"
    // line 3. 3:30:01 PM -> 15:30:01 local -> 18:30:01Z; range
    // [18:30:01, +1 s +1.5 s = 18:30:03.5], slack: [18:30:00, 18:30:04.5].
    "x,172.16.0.1,45022,192.168.10.50,80,6,7/7/2017 3:30:01 PM,1500000,2,DDoS\r\n"
    // line 4. The same pair reversed, a 12-hour time without AM/PM: 3 ->
    // 15 (pm_hours_below 8), 18:30:02Z; range [18:30:02, 18:30:03],
    // slack: [18:30:01, 18:30:04].
    "x,192.168.10.50,80,172.16.0.1,45022,6,07/07/2017 03:30:02,0,1,BENIGN\r\n"
    // line 5. IPv6, 9:00:00 local -> 12:00:00Z, range [12:00:00, 12:00:01.5]
    // slack [11:59:59, 12:00:02.5].
    "x,2001:db8::1,5353,2001:db8::2,53,17,3/7/2017 9:00:00,500000,1,DNS\r\n"
    // line 6: all empty, skipped
    ",,,,,,,,,\r\n"
    // line 7. A quoted Flow ID with a comma; 10:00:00.250 local ->
    // 13:00:00.25Z, fraction of 3 digits: resolution 1 ms; negative duration
    // -> 0: range [13:00:00.250, 13:00:00.251], slack [12:59:59.25, 13:00:01.251].
    "\"a,b\",10.0.0.1,1000,10.0.0.2,2000,17,3/7/2017 10:00:00.250,-1,1,Web Attack \x96 Brute Force\r\n"
    // line 8. ICMP, ports 0 in the CSV; 11:00 local -> 14:00Z.
    "x,10.0.0.7,0,10.0.0.8,0,1,3/7/2017 11:00,1000000,2,Ping\r\n";

TEST(Label, CicFlowMeter)
{
	std::string path = write_temp(CIC_CSV);
	cf_label_opts o;
	cf_label_opts_default(&o);
	cf_label_opts_cicids2017(&o);
	EXPECT_EQ(o.time_offset_ns, 3 * 3600 * S);
	EXPECT_EQ(o.pm_hours_below, 8);
	o.default_label = "unmatched";
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_STREQ(cf_labeler_format(l), "cicflowmeter");
	ASSERT_EQ(cf_labeler_count(l), 6u);  // 5 names in the file, then the default
	EXPECT_STREQ(cf_labeler_name(l, 0), "BENIGN");
	EXPECT_STREQ(cf_labeler_name(l, 1), "DDoS");
	EXPECT_STREQ(cf_labeler_name(l, 2), "DNS");
	EXPECT_STREQ(cf_labeler_name(l, 3), "Web Attack \x96 Brute Force");
	EXPECT_STREQ(cf_labeler_name(l, 4), "Ping");
	EXPECT_STREQ(cf_labeler_name(l, 5), "unmatched");
	ASSERT_EQ(cf_labeler_rules(l), 6u);
	cf_label_rule_counts rc;
	ASSERT_EQ(cf_labeler_rule_counts(l, 4, &rc), CF_OK);
	EXPECT_EQ(rc.line, 7u);
	EXPECT_EQ(rc.label, 3u);

	const int64_t d3 = utc(2017, 7, 3, 0, 0, 0) * S, d7 = utc(2017, 7, 7, 0, 0, 0) * S;
	const int64_t H = 3600 * S, M = 60 * S;
	// Row 2, same orientation, inside.
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 11 * H + 55 * M + 30 * S,
	                          d3 + 11 * H + 55 * M + 32 * S)),
	          "BENIGN");
	// Reversed orientation.
	EXPECT_EQ(name_of(l, flow("104.16.207.165", 443, "192.168.10.5", 54865, 6, d3 + 11 * H + 55 * M + 30 * S,
	                          d3 + 11 * H + 55 * M + 32 * S)),
	          "BENIGN");
	// Starts 0.1 s before the widened end 11:56:04: still inside.
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 11 * H + 56 * M + 3900 * MS,
	                          d3 + 11 * H + 57 * M)),
	          "BENIGN");
	// Starts 0.5 s after it: unmatched -> default.
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 11 * H + 56 * M + 4500 * MS,
	                          d3 + 11 * H + 57 * M)),
	          "unmatched");
	// Ends before the widened start 11:54:59.
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 11 * H + 50 * M,
	                          d3 + 11 * H + 54 * M + 58 * S)),
	          "unmatched");
	// Right time, other protocol / other port: unmatched.
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 17, d3 + 11 * H + 55 * M,
	                          d3 + 11 * H + 55 * M)),
	          "unmatched");
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54866, "104.16.207.165", 443, 6, d3 + 11 * H + 55 * M,
	                          d3 + 11 * H + 55 * M)),
	          "unmatched");

	// Rows 3 and 4 (DDoS from 18:30:01, BENIGN from 18:30:02) both overlap:
	// ambiguous; the winner is the row starting nearest the flow's first
	// packet. First 18:30:01.2: DDoS is 0.2 s away, BENIGN 0.8 s.
	EXPECT_EQ(name_of(l, flow("172.16.0.1", 45022, "192.168.10.50", 80, 6, d7 + 18 * H + 30 * M + 1200 * MS,
	                          d7 + 18 * H + 30 * M + 2500 * MS)),
	          "DDoS");
	// First 18:30:03.8 (inside both widened ranges: ends 04.5 and 04.0):
	// DDoS 2.8 s away, BENIGN 1.8 s -> BENIGN.
	EXPECT_EQ(name_of(l, flow("192.168.10.50", 80, "172.16.0.1", 45022, 6, d7 + 18 * H + 30 * M + 3800 * MS,
	                          d7 + 18 * H + 30 * M + 9 * S)),
	          "BENIGN");
	// First 18:30:04.2: only DDoS's range (to 18:30:04.5) reaches it.
	EXPECT_EQ(name_of(l, flow("172.16.0.1", 45022, "192.168.10.50", 80, 6, d7 + 18 * H + 30 * M + 4200 * MS,
	                          d7 + 18 * H + 30 * M + 9 * S)),
	          "DDoS");
	// An hour read as 24-hour would be 03:30 local = 06:30Z: nothing there.
	EXPECT_EQ(name_of(l, flow("192.168.10.50", 80, "172.16.0.1", 45022, 6, d7 + 6 * H + 30 * M,
	                          d7 + 6 * H + 31 * M)),
	          "unmatched");

	// IPv6, reversed.
	EXPECT_EQ(name_of(l, flow("2001:db8::2", 53, "2001:db8::1", 5353, 17, d3 + 12 * H + 2 * S,
	                          d3 + 12 * H + 3 * S)),
	          "DNS");
	// Millisecond resolution: range ends 13:00:01.251 with slack.
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 2000, "10.0.0.1", 1000, 17, d3 + 13 * H + 1251 * MS,
	                          d3 + 13 * H + 2 * S)),
	          "Web Attack \x96 Brute Force");
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 2000, "10.0.0.1", 1000, 17, d3 + 13 * H + 1252 * MS,
	                          d3 + 13 * H + 2 * S)),
	          "unmatched");
	// ICMP echo: cuflow puts the identifier in both ports; matched anyway.
	EXPECT_EQ(name_of(l, flow("10.0.0.8", 4242, "10.0.0.7", 4242, 1, d3 + 14 * H + 30 * S, d3 + 14 * H + 31 * S)),
	          "Ping");

	// 15 flows: matched 3 BENIGN (row 2) + DDoS, BENIGN, DDoS + DNS + Web
	// + Ping = 9; ambiguous 2 (one DDoS, one BENIGN); defaulted 6.
	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, 15u);
	EXPECT_EQ(t.matched, 9u);
	EXPECT_EQ(t.ambiguous, 2u);
	EXPECT_EQ(t.defaulted, 6u);
	EXPECT_EQ(t.dropped, 0u);
	cf_label_counts c = counts(l, "BENIGN");
	EXPECT_EQ(c.matched, 4u);
	EXPECT_EQ(c.ambiguous, 1u);
	c = counts(l, "DDoS");
	EXPECT_EQ(c.matched, 2u);
	EXPECT_EQ(c.ambiguous, 1u);
	EXPECT_EQ(counts(l, "unmatched").defaulted, 6u);
	// Row 3 (DDoS, index 1) matched 3 flows and won 2; row 4 matched 2, won 1.
	ASSERT_EQ(cf_labeler_rule_counts(l, 1, &rc), CF_OK);
	EXPECT_EQ(rc.line, 3u);
	EXPECT_EQ(rc.matched, 3u);
	EXPECT_EQ(rc.won, 2u);
	ASSERT_EQ(cf_labeler_rule_counts(l, 2, &rc), CF_OK);
	EXPECT_EQ(rc.line, 4u);
	EXPECT_EQ(rc.matched, 2u);
	EXPECT_EQ(rc.won, 1u);
	EXPECT_EQ(cf_labeler_rule_counts(l, 6, &rc), CF_ERR_ARG);

	std::string r = report(l);
	EXPECT_NE(r.find("\"format\": \"cicflowmeter\""), std::string::npos) << r;
	EXPECT_NE(r.find("\"default_label\": \"unmatched\""), std::string::npos) << r;
	EXPECT_NE(r.find("\"flows\": 15, \"matched\": 9, \"ambiguous\": 2, \"unmatched\": 6, \"defaulted\": 6, "
	                 "\"dropped\": 0, \"rows\": 6, \"rows_matched\": 6"),
	          std::string::npos)
	    << r;
	// The Latin-1 byte 0x96 is not UTF-8: written as \u0096.
	EXPECT_NE(r.find("\"name\": \"Web Attack \\u0096 Brute Force\", \"matched\": 1"), std::string::npos) << r;
	EXPECT_EQ(r.find("\"rules\""), std::string::npos);
	cf_labeler_close(l);

	// No default label: unmatched flows are dropped. No offset: the CSV's
	// local times are taken as UTC, so 11:55Z misses the 8:55 row.
	cf_label_opts_default(&o);
	o.pm_hours_below = 8;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(cf_labeler_count(l), 5u);
	EXPECT_EQ(match(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 11 * H + 55 * M + 30 * S,
	                        d3 + 11 * H + 55 * M + 32 * S)),
	          CF_LABEL_DROP);
	EXPECT_EQ(name_of(l, flow("192.168.10.5", 54865, "104.16.207.165", 443, 6, d3 + 8 * H + 55 * M + 30 * S,
	                          d3 + 8 * H + 55 * M + 32 * S)),
	          "BENIGN");
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.dropped, 1u);
	EXPECT_EQ(t.matched, 1u);
	r = report(l);
	EXPECT_NE(r.find("\"default_label\": null"), std::string::npos) << r;
	EXPECT_NE(r.find("\"unmatched\": 1, \"defaulted\": 0, \"dropped\": 1"), std::string::npos) << r;
	cf_labeler_close(l);
}

TEST(Label, CicDateOrderAndShortHeaders)
{
	// CSE-CIC-IDS2018-style short names, 24-hour times, LF endings.
	std::string path = write_temp("Dst Port,Protocol,Timestamp,Flow Duration,Src IP,Src Port,Dst IP,Label\n"
	                              "80,6,14/02/2018 20:31:01,1000000,10.0.0.1,5000,10.0.0.2,Bot\n");
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &l, err), CF_OK) << err;
	const int64_t t0 = utc(2018, 2, 14, 20, 31, 1) * S;
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 80, "10.0.0.1", 5000, 6, t0 + 1500 * MS, t0 + 3 * S)), "Bot");
	// range [t0, t0 + 1 s + 1 s]; no slack
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 80, "10.0.0.1", 5000, 6, t0 + 2001 * MS, t0 + 3 * S)), "<drop>");
	cf_labeler_close(l);

	// 14/02 read month first: month 14 -> a hint to switch the order.
	cf_label_opts o;
	cf_label_opts_default(&o);
	o.month_first = 1;
	EXPECT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_ERR_CORRUPT);
	EXPECT_EQ(l, nullptr);
	EXPECT_NE(std::string(err).find(":2: bad Timestamp"), std::string::npos) << err;
	EXPECT_NE(std::string(err).find("month above 12"), std::string::npos) << err;

	// Month first, US style with AM: 2/14/2018 8:31:01 AM.
	path = write_temp("Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Label\n"
	                  "10.0.0.1,5000,10.0.0.2,80,6,2/14/2018 12:31:01 AM,0,early\n"
	                  "10.0.0.1,5000,10.0.0.2,80,6,2/14/2018 12:31:01 PM,0,noon\n"
	                  "10.0.0.1,5000,10.0.0.2,80,6,2018-02-14T09:00:00.5+01:00,0,iso\n");
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	const int64_t day = utc(2018, 2, 14, 0, 0, 0) * S;
	// 12:31:01 AM = 00:31:01Z, range [00:31:01, 00:31:02]
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 5000, "10.0.0.2", 80, 6, day + 31 * 60 * S + S, day + 31 * 60 * S + S)),
	          "early");
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 5000, "10.0.0.2", 80, 6, day + 31 * 60 * S, day + 31 * 60 * S)), "<drop>");
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 5000, "10.0.0.2", 80, 6, day + 12 * 3600 * S + 31 * 60 * S + S,
	                          day + 12 * 3600 * S + 31 * 60 * S + S)),
	          "noon");
	// 09:00:00.5+01:00 = 08:00:00.5Z, resolution 0.1 s
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 5000, "10.0.0.2", 80, 6, day + 8 * 3600 * S + 550 * MS,
	                          day + 8 * 3600 * S + 550 * MS)),
	          "iso");
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 5000, "10.0.0.2", 80, 6, day + 8 * 3600 * S + 650 * MS,
	                          day + 8 * 3600 * S + 650 * MS)),
	          "<drop>");
	cf_labeler_close(l);
}

// ------------------------------------------------------------------ rules CSV

const char *RULES_CSV = "# rules for the test\n"
                        "src_ip,dst_ip,src_port,dst_port,protocol,start,end,label\n"
                        // line 3, rule 0
                        "10.0.0.5,10.0.0.0/8,*,22,tcp,,,ssh-internal\n"
                        // line 4, rule 1: 15:00:00Z .. 16:00:00.5Z
                        "10.0.0.0/8,*,,,,2017-07-07T15:00:00Z,2017-07-07T16:00:00.5Z,attack-window\n"
                        // line 5, rule 2
                        "2001:db8::/32,,,443,6,,,v6-https\n"
                        // line 6, rule 3: exact (hash table), 15:00:00Z .. 16:00:00.25Z
                        "192.168.1.1,192.168.1.2,1000,2000,17,1499439600,1499443200.25,exact-udp\n"
                        // line 7, rule 4
                        "*,*,*,1000-1999,udp,,,udp-range\n";

TEST(Label, Rules)
{
	std::string path = write_temp(RULES_CSV);
	cf_label_opts o;
	cf_label_opts_default(&o);
	o.default_label = "benign";
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_STREQ(cf_labeler_format(l), "rules");
	ASSERT_EQ(cf_labeler_count(l), 6u);
	EXPECT_STREQ(cf_labeler_name(l, 5), "benign");
	ASSERT_EQ(cf_labeler_rules(l), 5u);

	const int64_t d7 = utc(2017, 7, 7, 0, 0, 0) * S, H = 3600 * S;
	EXPECT_EQ(utc(2017, 7, 7, 15, 0, 0), 1499439600);
	const int64_t at1530 = d7 + 15 * H + 30 * 60 * S;
	// r1: rules 0 and 1 match; rule 0 is earlier -> ssh-internal, ambiguous.
	EXPECT_EQ(name_of(l, flow("10.0.0.5", 40000, "10.1.2.3", 22, 6, at1530, at1530 + 10 * S)), "ssh-internal");
	// r2: reversed, at 10:00 (outside rule 1): rule 0 only.
	EXPECT_EQ(name_of(l, flow("10.1.2.3", 22, "10.0.0.5", 40000, 6, d7 + 10 * H, d7 + 10 * H)), "ssh-internal");
	// r3: rule 1 (src 10/8, in time); rule 4 reversed (flow src port 1234
	// is the rule's dst port range) -> attack-window, ambiguous.
	EXPECT_EQ(name_of(l, flow("10.9.9.9", 1234, "8.8.8.8", 53, 17, d7 + 16 * H - S, d7 + 16 * H - S)),
	          "attack-window");
	// r4: nothing -> benign.
	EXPECT_EQ(name_of(l, flow("8.8.8.8", 53, "1.1.1.1", 5000, 17, at1530, at1530)), "benign");
	// r4b/r4c: rule 1 ends at 16:00:00.5.
	EXPECT_EQ(name_of(l, flow("10.9.9.9", 5, "1.1.1.1", 6, 6, d7 + 16 * H + 600 * MS, d7 + 16 * H + S)), "benign");
	EXPECT_EQ(name_of(l, flow("10.9.9.9", 5, "1.1.1.1", 6, 6, d7 + 16 * H + 400 * MS, d7 + 16 * H + S)),
	          "attack-window");
	// r5, r5b: IPv6 prefix, either orientation.
	EXPECT_EQ(name_of(l, flow("2001:db8::10", 50000, "2001:db9::1", 443, 6, 0, 0)), "v6-https");
	EXPECT_EQ(name_of(l, flow("2001:db9::1", 443, "2001:db8::10", 50000, 6, 0, 0)), "v6-https");
	// r5c: reversed, but the port is on the wrong side.
	EXPECT_EQ(name_of(l, flow("2001:db9::1", 50000, "2001:db8::10", 443, 6, 0, 0)), "benign");
	// r5d: IPv4 32.1.13.184 has the bytes of 2001:0db8 but is not IPv6.
	EXPECT_EQ(name_of(l, flow("32.1.13.184", 50000, "1.2.3.4", 443, 6, 0, 0)), "benign");
	// r6: exact rule 3 (reversed) and rule 4 -> exact-udp (earlier), ambiguous.
	EXPECT_EQ(name_of(l, flow("192.168.1.2", 2000, "192.168.1.1", 1000, 17, at1530, at1530)), "exact-udp");
	// r6b: 16:00:00.2 still in rule 3 (ends .25); r6c: 16:00:00.3 only rule 4.
	EXPECT_EQ(name_of(l, flow("192.168.1.2", 2000, "192.168.1.1", 1000, 17, d7 + 16 * H + 200 * MS,
	                          d7 + 16 * H + 200 * MS)),
	          "exact-udp");
	EXPECT_EQ(name_of(l, flow("192.168.1.2", 2000, "192.168.1.1", 1000, 17, d7 + 16 * H + 300 * MS,
	                          d7 + 16 * H + 300 * MS)),
	          "udp-range");
	// r7: rule 0's tuple over UDP at 10:00: nothing.
	EXPECT_EQ(name_of(l, flow("10.0.0.5", 40000, "10.1.2.3", 22, 17, d7 + 10 * H, d7 + 10 * H)), "benign");

	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, 14u);
	EXPECT_EQ(t.matched, 9u);
	EXPECT_EQ(t.ambiguous, 4u);
	EXPECT_EQ(t.defaulted, 5u);
	EXPECT_EQ(t.dropped, 0u);
	struct { const char *name; uint64_t matched, ambiguous; } want[] = {
	    {"ssh-internal", 2, 1}, {"attack-window", 2, 1}, {"v6-https", 2, 0},
	    {"exact-udp", 2, 2},    {"udp-range", 1, 0},     {"benign", 0, 0},
	};
	for (auto &w : want) {
		cf_label_counts c = counts(l, w.name);
		EXPECT_EQ(c.matched, w.matched) << w.name;
		EXPECT_EQ(c.ambiguous, w.ambiguous) << w.name;
	}
	EXPECT_EQ(counts(l, "benign").defaulted, 5u);
	// per rule: line, matched, won
	const uint64_t rules[5][3] = {{3, 2, 2}, {4, 3, 2}, {5, 2, 2}, {6, 2, 2}, {7, 4, 1}};
	for (uint32_t i = 0; i < 5; i++) {
		cf_label_rule_counts rc;
		ASSERT_EQ(cf_labeler_rule_counts(l, i, &rc), CF_OK);
		EXPECT_EQ(rc.line, rules[i][0]) << i;
		EXPECT_EQ(rc.matched, rules[i][1]) << i;
		EXPECT_EQ(rc.won, rules[i][2]) << i;
		EXPECT_EQ(rc.label, i) << i;
	}
	std::string r = report(l);
	EXPECT_NE(r.find("\"flows\": 14, \"matched\": 9, \"ambiguous\": 4, \"unmatched\": 5, \"defaulted\": 5, "
	                 "\"dropped\": 0, \"rows\": 5, \"rows_matched\": 5"),
	          std::string::npos)
	    << r;
	EXPECT_NE(r.find("{\"line\": 7, \"label\": \"udp-range\", \"matched\": 4, \"won\": 1}"), std::string::npos) << r;
	EXPECT_NE(r.find("{\"id\": 5, \"name\": \"benign\", \"matched\": 0, \"ambiguous\": 0, \"defaulted\": 5}"),
	          std::string::npos)
	    << r;
	cf_labeler_close(l);
}

TEST(Label, RulesPrecedenceOverExact)
{
	// A general rule before an exact one wins; missing columns are
	// wildcards; columns in any order; quoted fields; time offset.
	std::string path = write_temp("Label , PROTO,start\r\n"
	                              "\"any, udp\",udp,100\r\n"
	                              "\"exact\"\"quoted\"\"\",17,\r\n");
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &l, err), CF_OK) << err;
	ASSERT_EQ(cf_labeler_count(l), 2u);
	EXPECT_STREQ(cf_labeler_name(l, 1), "exact\"quoted\"");
	EXPECT_EQ(name_of(l, flow("1.1.1.1", 1, "2.2.2.2", 2, 17, 100 * S, 100 * S)), "any, udp");
	EXPECT_EQ(name_of(l, flow("1.1.1.1", 1, "2.2.2.2", 2, 17, 99 * S, 99 * S)), "exact\"quoted\"");
	EXPECT_EQ(name_of(l, flow("1.1.1.1", 1, "2.2.2.2", 2, 6, 100 * S, 100 * S)), "<drop>");
	std::string r = report(l);
	EXPECT_NE(r.find("\"name\": \"exact\\\"quoted\\\"\""), std::string::npos) << r;
	cf_labeler_close(l);

	path = write_temp("src_ip,dst_ip,src_port,dst_port,protocol,start,end,label\n"
	                  "*,*,*,*,udp,,,any-udp\n"
	                  "1.1.1.1,2.2.2.2,1,2,udp,,,exact\n");
	cf_label_opts o;
	cf_label_opts_default(&o);
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(name_of(l, flow("2.2.2.2", 2, "1.1.1.1", 1, 17, 0, 0)), "any-udp");
	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.ambiguous, 1u);
	cf_labeler_close(l);

	// time_offset_ns shifts rule times; slack_ns widens them.
	path = write_temp("src_ip,start,end,label\n10.0.0.1,1000,1010,x\n");
	o.time_offset_ns = 100 * S;
	o.slack_ns = 2 * S;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	// effective range [1098, 1112]
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 1, "10.0.0.2", 2, 6, 1000 * S, 1097 * S)), "<drop>");
	EXPECT_EQ(name_of(l, flow("10.0.0.1", 1, "10.0.0.2", 2, 6, 1000 * S, 1098 * S)), "x");
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 2, "10.0.0.1", 1, 6, 1112 * S, 1200 * S)), "x");
	EXPECT_EQ(name_of(l, flow("10.0.0.2", 2, "10.0.0.1", 1, 6, 1112 * S + 1, 1200 * S)), "<drop>");
	cf_labeler_close(l);
}

// ------------------------------------------------------------------ errors

struct BadCase {
	const char *text;
	int status;
	const char *want;  // substring of the message after "<path>"
};

TEST(Label, MalformedInput)
{
	const BadCase cases[] = {
	    // bad address on line 3
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,10.0.0.2,2,6,3/7/2017 8:55,0,A\n"
	     "10.0.0.300,1,10.0.0.2,2,6,3/7/2017 8:55,0,A\n",
	     CF_ERR_CORRUPT, ":3: bad Source IP \"10.0.0.300\""},
	    // unparseable timestamp on line 2 (day 32)
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\r\n"
	     "10.0.0.1,1,10.0.0.2,2,6,32/7/2017 8:55,0,A\r\n",
	     CF_ERR_CORRUPT, ":2: bad Timestamp \"32/7/2017 8:55\""},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,10.0.0.2,2,6,yesterday,0,A\n",
	     CF_ERR_CORRUPT, ":2: bad Timestamp"},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,10.0.0.2,2,6,3/7/2017 13:00 PM,0,A\n",
	     CF_ERR_CORRUPT, ":2: bad Timestamp"},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,70000,10.0.0.2,2,6,3/7/2017 8:55,0,A\n",
	     CF_ERR_CORRUPT, ":2: bad Source Port"},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,10.0.0.2,2,6,3/7/2017 8:55,abc,A\n",
	     CF_ERR_CORRUPT, ":2: bad Flow Duration"},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,10.0.0.2,2,6,3/7/2017 8:55,0,A\n"
	     "10.0.0.1,1,10.0.0.2\n",
	     CF_ERR_CORRUPT, ":3: 3 fields, the header needs at least 8"},
	    {"Source IP,Source Port,Destination IP,Destination Port,Protocol,Timestamp,Flow Duration,Label\n"
	     "10.0.0.1,1,::1,2,6,3/7/2017 8:55,0,A\n",
	     CF_ERR_CORRUPT, ":2: Source IP and Destination IP are different IP versions"},
	    // the record on line 2 spans lines 2-3; the bad one starts on line 4
	    {"src_ip,label\n"
	     "10.0.0.1,\"two\nlines\"\n"
	     "10.0.0.0/33,x\n",
	     CF_ERR_CORRUPT, ":4: bad src_ip \"10.0.0.0/33\""},
	    {"src_ip,label\n10.0.0.1,\"open\n", CF_ERR_CORRUPT, ":2: unterminated quoted field"},
	    {"src_ip,dst_ip,label\n10.0.0.1,::1,x\n", CF_ERR_CORRUPT, ":2: src_ip and dst_ip are different IP versions"},
	    {"src_ip,dst_port,label\n10.0.0.1,90-80,x\n", CF_ERR_CORRUPT, ":2: bad dst_port \"90-80\""},
	    {"protocol,label\nfoo,x\n", CF_ERR_CORRUPT, ":2: bad protocol \"foo\""},
	    {"start,end,label\n20,10,x\n", CF_ERR_CORRUPT, ":2: start is after end"},
	    {"start,label\n2017-07-07T25:00:00Z,x\n", CF_ERR_CORRUPT, ":2: bad start"},
	    {"src_ip,label\n10.0.0.1,\n", CF_ERR_CORRUPT, ":2: empty label"},
	    {"a,b,c\n1,2,3\n", CF_ERR_UNSUPPORTED, ":1: unknown header"},
	    {"Destination Port,Protocol,Timestamp,Label\n80,6,3/7/2017 8:55,BENIGN\n", CF_ERR_UNSUPPORTED,
	     ": CICFlowMeter CSV without a \"Source IP\" column"},
	    {"", CF_ERR_UNSUPPORTED, ": empty file"},
	};
	for (const BadCase &bc : cases) {
		std::string path = write_temp(bc.text);
		char err[CF_ERRBUF_SIZE] = "";
		cf_labeler *l = reinterpret_cast<cf_labeler *>(1);
		EXPECT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &l, err), bc.status) << bc.text;
		EXPECT_EQ(l, nullptr);
		EXPECT_EQ(std::string(err).rfind(path, 0), 0u) << err;  // starts with the file name
		EXPECT_NE(std::string(err).find(path + bc.want), std::string::npos) << "got: " << err << "\nwant: " << bc.want;
	}

	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	std::string missing = cft::temp_path("-missing.csv");
	EXPECT_EQ(cf_labeler_open_csv(missing.c_str(), nullptr, &l, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(missing), std::string::npos) << err;
	cf_label_opts o;
	cf_label_opts_default(&o);
	o.slack_ns = -1;
	EXPECT_EQ(cf_labeler_open_csv(missing.c_str(), &o, &l, err), CF_ERR_ARG);
	EXPECT_EQ(cf_labeler_open_csv(nullptr, nullptr, &l, nullptr), CF_ERR_ARG);
	EXPECT_EQ(cf_labeler_set_constant(nullptr, "x"), CF_ERR_ARG);

	// A header only: loads, matches nothing.
	std::string path = write_temp("src_ip,label\n");
	o.slack_ns = 0;
	o.default_label = "d";
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(name_of(l, flow("1.1.1.1", 1, "2.2.2.2", 2, 6, 0, 0)), "d");
	EXPECT_EQ(cf_labeler_set_constant(l, "x"), CF_ERR_ARG);  // not a constant labeler
	cf_labeler_close(l);
}

TEST(Label, MutatedInputNeverCrashes)
{
	// Random byte edits of the two sample files: every open either loads
	// or fails with a "FILE:..." message; loaded labelers still match.
	std::mt19937 rng(7);
	const char *charset = ",\"\r\n /:.-*#0123456789aAPM\xEF\xBB\xBF";
	int loaded = 0;
	for (int iter = 0; iter < 600; iter++) {
		std::string text = iter % 2 ? CIC_CSV : RULES_CSV;
		int edits = 1 + (int)(rng() % 4);
		for (int e = 0; e < edits; e++) {
			size_t at = rng() % text.size();
			switch (rng() % 3) {
			case 0: text[at] = charset[rng() % strlen(charset)]; break;
			case 1: text.erase(at, 1 + rng() % 8); break;
			default: text.insert(at, 1, charset[rng() % strlen(charset)]); break;
			}
			if (text.empty())
				text = "x";
		}
		std::string path = write_temp(text);
		char err[CF_ERRBUF_SIZE] = "";
		cf_labeler *l = nullptr;
		int st = cf_labeler_open_csv(path.c_str(), nullptr, &l, err);
		if (st == CF_OK) {
			loaded++;
			for (int k = 0; k < 20; k++) {
				Flow f = flow("10.0.0.1", (uint16_t)rng(), "10.0.0.2", 22, (uint8_t)(rng() % 20),
				              (int64_t)(rng() % 2000000000) * S, (int64_t)(rng() % 2000000000) * S);
				int id = match(l, f);
				EXPECT_TRUE(id == CF_LABEL_DROP || (id >= 0 && (uint32_t)id < cf_labeler_count(l)));
			}
			report(l);
			cf_labeler_close(l);
		} else {
			EXPECT_TRUE(st == CF_ERR_CORRUPT || st == CF_ERR_UNSUPPORTED) << st << " " << err;
			EXPECT_EQ(std::string(err).rfind(path, 0), 0u) << err;
		}
	}
	EXPECT_GT(loaded, 0);
}

// ------------------------------------------------------------------ scale

TEST(Label, LargeCsvIsFast)
{
	// 200k rows: 150k distinct 5-tuples, plus 50 keys with 1000 rows each
	// (one every 10 s) so the per-key time search is exercised. Row i has
	// label "L<i % 7>".
	constexpr int N = 200000, UNIQUE = 150000, KEYS = 50, PER_KEY = 1000;
	static_assert(UNIQUE + KEYS * PER_KEY == N, "row counts");
	const int64_t base = utc(2017, 7, 5, 0, 0, 0);
	std::string text = " Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow "
	                   "Duration, Label\n";
	text.reserve((size_t)N * 80);
	struct Row {
		char src[16], dst[16];
		uint16_t sp, dp;
		int64_t t;
	};
	std::vector<Row> rows(N);
	for (int i = 0; i < N; i++) {
		Row &r = rows[i];
		if (i < UNIQUE) {
			snprintf(r.src, sizeof r.src, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
			snprintf(r.dst, sizeof r.dst, "172.16.%d.%d", (i >> 8) & 255, i & 255);
			r.sp = (uint16_t)(1024 + i % 60000);
			r.dp = 443;
			r.t = base + (i % 80000);  // within the day
		} else {
			int k = (i - UNIQUE) % KEYS, j = (i - UNIQUE) / KEYS;
			snprintf(r.src, sizeof r.src, "192.168.0.%d", k);
			snprintf(r.dst, sizeof r.dst, "192.168.1.1");
			r.sp = 53;
			r.dp = 53;
			r.t = base + 1000 + (int64_t)j * 10;
		}
		time_t tt = (time_t)r.t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		char ts[32], line[160];
		strftime(ts, sizeof ts, "%d/%m/%Y %H:%M:%S", &tm);
		// duration 2 s: range [t, t + 1 s + 2 s]
		snprintf(line, sizeof line, "%s,%u,%s,%u,%d,%s,2000000,L%d\n", r.src, r.sp, r.dst, r.dp, i < UNIQUE ? 6 : 17,
		         ts, i % 7);
		text += line;
	}
	std::string path = write_temp(text);

	auto t0 = std::chrono::steady_clock::now();
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &l, err), CF_OK) << err;
	auto t1 = std::chrono::steady_clock::now();
	ASSERT_EQ(cf_labeler_rules(l), (uint32_t)N);
	ASSERT_EQ(cf_labeler_count(l), 7u);
	int wrong = 0;
	for (int i = 0; i < N; i++) {
		const Row &r = rows[i];
		// odd rows queried reversed; each flow sits inside its own row only
		Flow f = i % 2 ? flow(r.dst, r.dp, r.src, r.sp, i < UNIQUE ? 6 : 17, r.t * S + S / 2, r.t * S + 1500 * MS)
		               : flow(r.src, r.sp, r.dst, r.dp, i < UNIQUE ? 6 : 17, r.t * S + S / 2, r.t * S + 1500 * MS);
		int id = match(l, f);
		char want[8];
		snprintf(want, sizeof want, "L%d", i % 7);
		if (id < 0 || strcmp(cf_labeler_name(l, (uint32_t)id), want))
			wrong++;
	}
	auto t2 = std::chrono::steady_clock::now();
	EXPECT_EQ(wrong, 0);
	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, (uint64_t)N);
	EXPECT_EQ(t.matched, (uint64_t)N);
	EXPECT_EQ(t.ambiguous, 0u);
	cf_labeler_close(l);

	double load_s = std::chrono::duration<double>(t1 - t0).count();
	double match_s = std::chrono::duration<double>(t2 - t1).count();
	printf("200k-row CSV (%.1f MB): load %.3f s, 200k matches %.3f s\n", text.size() / 1e6, load_s, match_s);
	double limit = 2.0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	limit = 20.0;
#endif
	EXPECT_LT(load_s + match_s, limit);
}

} // namespace

// The labeler's CF_LABEL_MATCH_TUPLE_DIRECTIONAL mode (netml 0.7.1's
// label_flows: directional 5-tuple, no times, the last row wins) and netml
// labelling through it (cf_netml_label_with, cf_netml_label_csv). Expected
// names, labels and counters are worked out by hand next to each check.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "cuflow/cuflow.h"
#include "cuflow/label.h"
#include "cuflow/netml.h"
#include "test_util.h"

namespace {

const int64_t S = 1000000000LL;

struct TempFiles {
	std::vector<std::string> paths;
	~TempFiles()
	{
		for (auto &p : paths)
			unlink(p.c_str());
	}
} g_temp;

std::string write_temp(const std::string &text)
{
	std::string p = cft::temp_path(".csv");
	cft::write_file(p, std::vector<uint8_t>(text.begin(), text.end()));
	g_temp.paths.push_back(p);
	return p;
}

void set_ip(uint8_t ip[16], const char *s)
{
	memset(ip, 0, 16);
	if (strchr(s, ':'))
		ASSERT_EQ(inet_pton(AF_INET6, s, ip), 1) << s;
	else
		ASSERT_EQ(inet_pton(AF_INET, s, ip), 1) << s;
}

// Name the labeler gives a flow ("<drop>" for CF_LABEL_DROP).
std::string name_of(cf_labeler *l, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto,
                    int64_t first_ns = 0, int64_t last_ns = 0)
{
	uint8_t a[16], b[16];
	set_ip(a, src);
	set_ip(b, dst);
	cf_label_query q;
	q.ip_version = strchr(src, ':') ? 6 : 4;
	q.proto = proto;
	q.src_ip = a;
	q.dst_ip = b;
	q.src_port = sport;
	q.dst_port = dport;
	q.first_ns = first_ns;
	q.last_ns = last_ns;
	int id = cf_labeler_match(l, &q);
	if (id == CF_LABEL_DROP)
		return "<drop>";
	const char *n = cf_labeler_name(l, (uint32_t)id);
	return n ? n : "<bad id>";
}

cf_label_opts tuple_opts()
{
	cf_label_opts o;
	cf_label_opts_default(&o);
	o.match = CF_LABEL_MATCH_TUPLE_DIRECTIONAL;
	return o;
}

// A CIC-style file whose Timestamps are not times at all: tuple mode never
// reads them. Lines: 1 header, 2-3 the same 5-tuple twice, 4 a port written
// "53.0", 5 IPv6, 6 mixed versions (skipped), 7 an address that does not
// parse (skipped), 8 ICMP with ports 0, 9 an empty label.
const char *const kCsv =
	"Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Label\n"
	"a,10.0.0.1,1234,10.0.0.2,80,6,3/7/2017 8:55,BENIGN\n"
	"b,10.0.0.1,1234,10.0.0.2,80,6,not a time,DoS\n"
	"c,10.0.0.3,53.0,10.0.0.4,5353,17,,Normal\n"
	"d,2001:db8::1,443,2001:db8::2,50000,6,,PortScan\n"
	"e,10.0.0.5,1,2001:db8::9,2,6,,Bot\n"
	"f,not-an-ip,1,10.0.0.9,2,6,,Bot\n"
	"g,10.0.0.7,0,10.0.0.8,0,1,,icmp-row\n"
	"h,10.0.0.10,5,10.0.0.11,6,6,,\n";

TEST(LabelTuple, DirectionalNoTimeLastRowWins)
{
	std::string path = write_temp(kCsv);
	char err[CF_ERRBUF_SIZE] = "";
	cf_label_opts o = tuple_opts();
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_STREQ(cf_labeler_format(l), "cicflowmeter");
	EXPECT_STREQ(cf_labeler_source(l), path.c_str());
	EXPECT_EQ(cf_labeler_rules(l), 6u); // lines 6 and 7 skipped
	// names in order of first appearance over the loaded rows
	ASSERT_EQ(cf_labeler_count(l), 6u);
	EXPECT_STREQ(cf_labeler_name(l, 0), "BENIGN");
	EXPECT_STREQ(cf_labeler_name(l, 5), "");
	EXPECT_EQ(cf_labeler_find(l, "Bot"), -1);

	// lines 2 and 3: the later row wins, at any time (0, and 2030)
	EXPECT_EQ(name_of(l, "10.0.0.1", 1234, "10.0.0.2", 80, 6), "DoS");
	EXPECT_EQ(name_of(l, "10.0.0.1", 1234, "10.0.0.2", 80, 6, 1900000000 * S, 1900000100 * S), "DoS");
	// the reverse direction and another protocol are other tuples
	EXPECT_EQ(name_of(l, "10.0.0.2", 80, "10.0.0.1", 1234, 6), "<drop>");
	EXPECT_EQ(name_of(l, "10.0.0.1", 1234, "10.0.0.2", 80, 17), "<drop>");
	EXPECT_EQ(name_of(l, "10.0.0.1", 1235, "10.0.0.2", 80, 6), "<drop>");
	// names come back as written (netml maps BENIGN/NORMAL to 0 itself)
	EXPECT_EQ(name_of(l, "10.0.0.3", 53, "10.0.0.4", 5353, 17), "Normal");
	EXPECT_EQ(name_of(l, "2001:db8::1", 443, "2001:db8::2", 50000, 6), "PortScan");
	EXPECT_EQ(name_of(l, "2001:db8::2", 50000, "2001:db8::1", 443, 6), "<drop>");
	// ICMP: the ports are compared as written (time mode ignores them)
	EXPECT_EQ(name_of(l, "10.0.0.7", 0, "10.0.0.8", 0, 1), "icmp-row");
	EXPECT_EQ(name_of(l, "10.0.0.7", 8, "10.0.0.8", 0, 1), "<drop>");
	EXPECT_EQ(name_of(l, "10.0.0.10", 5, "10.0.0.11", 6, 6), "");
	// the skipped rows' tuples match nothing
	EXPECT_EQ(name_of(l, "10.0.0.9", 2, "10.0.0.5", 1, 6), "<drop>");

	// 12 queries: 6 matched (2 of them by rows with two labels), 6 dropped
	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, 12u);
	EXPECT_EQ(t.matched, 6u);
	EXPECT_EQ(t.ambiguous, 2u);
	EXPECT_EQ(t.dropped, 6u);
	EXPECT_EQ(t.defaulted, 0u);
	// both rows of the pair matched twice; only line 3 won
	cf_label_rule_counts rc;
	ASSERT_EQ(cf_labeler_rule_counts(l, 0, &rc), CF_OK);
	EXPECT_EQ(rc.line, 2u);
	EXPECT_EQ(rc.matched, 2u);
	EXPECT_EQ(rc.won, 0u);
	ASSERT_EQ(cf_labeler_rule_counts(l, 1, &rc), CF_OK);
	EXPECT_EQ(rc.line, 3u);
	EXPECT_EQ(rc.matched, 2u);
	EXPECT_EQ(rc.won, 2u);
	ASSERT_EQ(cf_labeler_rule_counts(l, 5, &rc), CF_OK);
	EXPECT_EQ(rc.line, 9u); // line 9 is the 6th row loaded
	cf_labeler_close(l);

	// with a default label the unmatched get it
	o.default_label = "unknown";
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(name_of(l, "10.0.0.2", 80, "10.0.0.1", 1234, 6), "unknown");
	EXPECT_EQ(name_of(l, "10.0.0.1", 1234, "10.0.0.2", 80, 6), "DoS");
	cf_labeler_close(l);

	// the default mode reads Timestamps, and "not a time" is not one
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &l, err), CF_ERR_CORRUPT);
	EXPECT_NE(std::string(err).find(":3: bad Timestamp"), std::string::npos) << err;
}

TEST(LabelTuple, TimeModeUnchangedOnTheSameRows)
{
	// the same two rows read by both modes: time mode takes either
	// direction and the row nearest the flow's start, tuple mode one
	// direction and the last row
	std::string path = write_temp(
		" Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Label\n"
		"10.0.0.1,1234,10.0.0.2,80,6,2017-07-07 10:00:00,1000000,BENIGN\n"
		"10.0.0.1,1234,10.0.0.2,80,6,2017-07-07 11:00:00,1000000,DoS\n");
	int64_t t10 = 1499421600LL * S; // 2017-07-07 10:00:00 UTC
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *time = nullptr, *tup = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), nullptr, &time, err), CF_OK) << err;
	cf_label_opts o = tuple_opts();
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &tup, err), CF_OK) << err;
	EXPECT_EQ(name_of(time, "10.0.0.1", 1234, "10.0.0.2", 80, 6, t10, t10 + S), "BENIGN");
	EXPECT_EQ(name_of(time, "10.0.0.2", 80, "10.0.0.1", 1234, 6, t10, t10 + S), "BENIGN");
	EXPECT_EQ(name_of(time, "10.0.0.1", 1234, "10.0.0.2", 80, 6, t10 - 3600 * S, t10 - 3500 * S), "<drop>");
	EXPECT_EQ(name_of(tup, "10.0.0.1", 1234, "10.0.0.2", 80, 6, t10, t10 + S), "DoS");
	EXPECT_EQ(name_of(tup, "10.0.0.2", 80, "10.0.0.1", 1234, 6, t10, t10 + S), "<drop>");
	EXPECT_EQ(name_of(tup, "10.0.0.1", 1234, "10.0.0.2", 80, 6, t10 - 3600 * S, t10 - 3500 * S), "DoS");
	cf_labeler_close(time);
	cf_labeler_close(tup);
}

TEST(LabelTuple, HeadersAndErrors)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_label_opts o = tuple_opts();
	cf_labeler *l = nullptr;
	// no Timestamp column: still a CICFlowMeter file in tuple mode
	std::string nots = write_temp(" Source IP, Destination IP, Source Port, Destination Port, Protocol, Label\n"
	                              "10.0.0.1,10.0.0.2,1,2,17,x\n");
	ASSERT_EQ(cf_labeler_open_csv(nots.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(name_of(l, "10.0.0.1", 1, "10.0.0.2", 2, 17), "x");
	cf_labeler_close(l);
	// Timestamp and Flow Duration are not read, so a row may stop before them
	std::string shortrow = write_temp("Source IP,Destination IP,Source Port,Destination Port,Protocol,Label,Timestamp\n"
	                                  "10.0.0.1,10.0.0.2,1,2,6,y\n");
	ASSERT_EQ(cf_labeler_open_csv(shortrow.c_str(), &o, &l, err), CF_OK) << err;
	EXPECT_EQ(name_of(l, "10.0.0.1", 1, "10.0.0.2", 2, 6), "y");
	cf_labeler_close(l);
	// a port that is not a whole number, a protocol name: the file and line
	const char *bad[] = {"10.0.0.1,10.0.0.2,80.5,2,6,z\n", "10.0.0.1,10.0.0.2,1,2,tcp,z\n",
	                     "10.0.0.1,10.0.0.2,1,65536,6,z\n", "10.0.0.1,10.0.0.2,1,2,256,z\n",
	                     "10.0.0.1,10.0.0.2,,2,6,z\n"};
	for (const char *row : bad) {
		std::string p = write_temp(std::string("Source IP,Destination IP,Source Port,Destination Port,Protocol,Label\n"
		                                       "10.0.0.1,10.0.0.2,1,2,6,ok\n") +
		                           row);
		EXPECT_EQ(cf_labeler_open_csv(p.c_str(), &o, &l, err), CF_ERR_CORRUPT) << row;
		EXPECT_NE(std::string(err).find(p + ":3: bad port or protocol"), std::string::npos) << err;
		EXPECT_EQ(l, nullptr);
	}
	// too few fields for the six columns
	std::string few = write_temp("Source IP,Destination IP,Source Port,Destination Port,Protocol,Label\n"
	                             "10.0.0.1,10.0.0.2,1,2,6\n");
	EXPECT_EQ(cf_labeler_open_csv(few.c_str(), &o, &l, err), CF_ERR_CORRUPT);
	EXPECT_NE(std::string(err).find(few + ":2:"), std::string::npos) << err;
	// a rules header or a missing Label column
	std::string rules = write_temp("src_ip,dst_ip,label\n10.0.0.1,10.0.0.2,x\n");
	EXPECT_EQ(cf_labeler_open_csv(rules.c_str(), &o, &l, err), CF_ERR_UNSUPPORTED);
	std::string nolabel = write_temp("Source IP,Destination IP,Source Port,Destination Port,Protocol\n");
	EXPECT_EQ(cf_labeler_open_csv(nolabel.c_str(), &o, &l, err), CF_ERR_UNSUPPORTED);
	EXPECT_NE(std::string(err).find("\"Label\""), std::string::npos) << err;
	// an unknown mode
	o.match = 7;
	EXPECT_EQ(cf_labeler_open_csv(nots.c_str(), &o, &l, err), CF_ERR_ARG);
	EXPECT_EQ(l, nullptr);
}

// ------------------------------------------------------------------ netml

cf_pkt pkt(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto, int64_t ts_ns)
{
	cf_pkt p;
	memset(&p, 0, sizeof p);
	p.ts_ns = ts_ns;
	p.caplen = p.wirelen = 60;
	p.linktype = 1;
	p.ip_version = strchr(src, ':') ? 6 : 4;
	p.proto = proto;
	p.ttl = 64;
	p.sport = sport;
	p.dport = dport;
	set_ip(p.src_ip, src);
	set_ip(p.dst_ip, dst);
	return p;
}

// Five directional flows of three packets each, 1 s apart, interleaved:
// A 10.0.0.1:1000 -> 10.0.0.2:80 tcp, R its reverse, B 10.0.0.3:2000 ->
// 10.0.0.4:53 udp, C 10.0.0.5:3000 -> 10.0.0.6:443 tcp, and IPv6 packets
// (netml's one pseudo-flow). A fixed 100 s interval keeps each flow one
// subflow, so the rows are A, R, B, C, pseudo (first appearance).
cf_netml *hand_capture()
{
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.interval = 100.0;
	cf_netml *h = nullptr;
	char err[CF_ERRBUF_SIZE];
	EXPECT_EQ(cf_netml_open(&o, &h, err), CF_OK) << err;
	int64_t t0 = 1499421600LL * S;
	for (int i = 0; i < 3; i++) {
		int64_t t = t0 + i * S;
		cf_pkt ps[] = {
			pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, t),
			pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, t + 1000),
			pkt("10.0.0.3", 2000, "10.0.0.4", 53, 17, t + 2000),
			pkt("10.0.0.5", 3000, "10.0.0.6", 443, 6, t + 3000),
			pkt("2001:db8::1", 4000, "2001:db8::2", 80, 6, t + 4000),
		};
		for (const cf_pkt &p : ps)
			EXPECT_EQ(cf_netml_add(h, &p), CF_OK);
	}
	EXPECT_EQ(cf_netml_finish(h), CF_OK) << cf_netml_error(h);
	EXPECT_EQ(cf_netml_rows(h), 5u);
	return h;
}

// A: DoS then benign (the later row wins: 0). R: its own row, Bot (1). B:
// only its reverse is named (dropped). C: Normal then PortScan, its port
// written "443.0" (1). A flow not in the capture, and a row naming IPv6
// addresses (no netml fid has them: the pseudo-flow is dropped).
const char *const kNetmlCsv =
	" Source IP, Destination IP, Source Port, Destination Port, Protocol, Label\n"
	"10.0.0.1,10.0.0.2,1000,80,6,DoS\n"
	"10.0.0.4,10.0.0.3,53,2000,17,BENIGN\n"
	"10.0.0.5,10.0.0.6,3000,443.0,6,Normal\n"
	"10.0.0.2,10.0.0.1,80,1000,6,Bot\n"
	"10.0.0.1,10.0.0.2,1000,80,6,benign\n"
	"192.168.1.1,192.168.1.2,1,2,6,BENIGN\n"
	"2001:db8::1,2001:db8::2,4000,80,6,DoS\n"
	"10.0.0.5,10.0.0.6,3000,443,6,PortScan\n";

struct Labelled {
	std::vector<uint16_t> sports;
	std::vector<int64_t> labels;
	cf_netml_counters c;
	uint32_t dim;
};

Labelled result(cf_netml *h)
{
	Labelled r;
	for (uint64_t i = 0; i < cf_netml_rows(h); i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		EXPECT_EQ(s.packets, 3u);
		r.sports.push_back(s.src_port);
		r.labels.push_back(s.label);
	}
	cf_netml_counters_get(h, &r.c);
	r.dim = cf_netml_dim(h);
	return r;
}

void expect_hand_result(const Labelled &r, const char *what)
{
	// rows A, R, C in capture order; B and the pseudo-flow dropped
	EXPECT_EQ(r.sports, (std::vector<uint16_t>{1000, 80, 3000})) << what;
	EXPECT_EQ(r.labels, (std::vector<int64_t>{0, 1, 1})) << what;
	EXPECT_EQ(r.c.subflows_unlabelled, 2u) << what;
	EXPECT_EQ(r.c.pkts_unlabelled, 6u) << what;
	EXPECT_EQ(r.c.subflows, 3u) << what; // the rows left
	EXPECT_EQ(r.c.pkts_in_rows, 9u) << what;
	EXPECT_EQ(r.dim, 3u) << what;
}

TEST(NetmlLabelWith, HandCsvSameAsNetmlSemantics)
{
	std::string path = write_temp(kNetmlCsv);
	char err[CF_ERRBUF_SIZE] = "";
	// the wrapper (opens, labels, closes)
	cf_netml *h = hand_capture();
	ASSERT_EQ(cf_netml_label_csv(h, path.c_str(), err), CF_OK) << err;
	expect_hand_result(result(h), "cf_netml_label_csv");
	// twice is refused
	EXPECT_EQ(cf_netml_label_csv(h, path.c_str(), err), CF_ERR_ARG);
	cf_netml_close(h);

	// one labeler loaded once, two captures
	cf_label_opts o = tuple_opts();
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_csv(path.c_str(), &o, &l, err), CF_OK) << err;
	for (int k = 0; k < 2; k++) {
		h = hand_capture();
		ASSERT_EQ(cf_netml_label_with(h, l, err), CF_OK) << err;
		expect_hand_result(result(h), "cf_netml_label_with");
		// the features are those of the same rows
		double a[3 * 12];
		EXPECT_EQ(cf_netml_features(h, nullptr, CF_NETML_STATS, 0, 0, 0, 3, a), CF_OK) << cf_netml_error(h);
		cf_netml_close(h);
	}
	// per capture: 5 subflows asked, 3 matched (A and C by two rows with
	// different labels each), 2 dropped
	cf_label_totals t;
	cf_labeler_totals(l, &t);
	EXPECT_EQ(t.flows, 10u);
	EXPECT_EQ(t.matched, 6u);
	EXPECT_EQ(t.ambiguous, 4u);
	EXPECT_EQ(t.dropped, 4u);
	cf_labeler_close(l);
}

TEST(NetmlLabelWith, OtherLabelersAndErrors)
{
	char err[CF_ERRBUF_SIZE] = "";
	// a constant labeler: every subflow, the pseudo-flow too
	cf_labeler *l = nullptr;
	ASSERT_EQ(cf_labeler_open_constant("Normal", &l, err), CF_OK);
	cf_netml *h = hand_capture();
	ASSERT_EQ(cf_netml_label_with(h, l, err), CF_OK) << err;
	Labelled r = result(h);
	EXPECT_EQ(r.labels, (std::vector<int64_t>(5, 0)));
	EXPECT_EQ(r.c.subflows_unlabelled, 0u);
	cf_netml_close(h);
	cf_labeler_close(l);

	// before finish
	cf_netml *raw = nullptr;
	ASSERT_EQ(cf_netml_open(nullptr, &raw, err), CF_OK);
	ASSERT_EQ(cf_labeler_open_constant("x", &l, err), CF_OK);
	EXPECT_EQ(cf_netml_label_with(raw, l, err), CF_ERR_ARG);
	EXPECT_EQ(cf_netml_label_with(raw, nullptr, err), CF_ERR_ARG);
	cf_labeler_close(l);
	cf_netml_close(raw);

	// a file that names none of the subflows: no rows left
	std::string none = write_temp("Source IP,Destination IP,Source Port,Destination Port,Protocol,Label\n"
	                              "10.0.0.2,10.0.0.1,80,1000,17,DoS\n");
	h = hand_capture();
	EXPECT_EQ(cf_netml_label_csv(h, none.c_str(), err), CF_ERR_NO_DATA);
	EXPECT_NE(std::string(err).find(none + ": no subflow has a row"), std::string::npos) << err;
	cf_netml_counters c;
	cf_netml_counters_get(h, &c);
	EXPECT_EQ(c.subflows_unlabelled, 5u);
	EXPECT_EQ(c.pkts_unlabelled, 15u);
	cf_netml_close(h);

	// a bad file: the labeler's error, naming the file and line
	std::string bad = write_temp("Source IP,Destination IP,Source Port,Destination Port,Protocol,Label\n"
	                             "10.0.0.1,10.0.0.2,x,80,6,DoS\n");
	h = hand_capture();
	EXPECT_EQ(cf_netml_label_csv(h, bad.c_str(), err), CF_ERR_CORRUPT);
	EXPECT_NE(std::string(cf_netml_error(h)).find(bad + ":2:"), std::string::npos) << cf_netml_error(h);
	EXPECT_EQ(cf_netml_label_csv(h, "/nonexistent/labels.csv", err), CF_ERR_IO);
	cf_netml_close(h);
}

} // namespace

// cf_synth_write and `cuflow synth`, checked against oracles that share no
// code with the writer: a pcap walk and header checker written here, and
// capinfos / tshark when installed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

// ------------------------------------------------------------ helpers

bool have_tool(const char *name)
{
	return cft::run(std::string("command -v ") + name + " >/dev/null") == 0;
}

int count_lines(const std::string &s)
{
	int n = 0;
	std::istringstream in(s);
	std::string line;
	while (std::getline(in, line))
		if (!line.empty() && line.find("Running as user") == std::string::npos)
			n++;
	return n;
}

// The number after `label` in text, or -1 when absent.
long long number_after(const std::string &text, const std::string &label)
{
	size_t at = text.find(label);
	if (at == std::string::npos)
		return -1;
	const char *p = text.c_str() + at + label.size();
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	return std::strtoll(p, nullptr, 10);
}

// Whitespace runs as single spaces, with one in front.
std::string squeeze(const std::string &s)
{
	std::string o = " ";
	for (char ch : s) {
		bool ws = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
		if (!ws)
			o += ch;
		else if (o.back() != ' ')
			o += ' ';
	}
	return o;
}

// Runs the writer; fails the test on an error.
cf_synth_stats synth(const cf_synth_opts &o)
{
	cf_synth_stats st{};
	char err[CF_ERRBUF_SIZE] = "";
	int rc = cf_synth_write(&o, &st, err);
	EXPECT_EQ(rc, CF_OK) << err;
	return st;
}

cf_synth_opts opts(const char *path, uint64_t flows, uint64_t seed = 1)
{
	cf_synth_opts o;
	cf_synth_opts_default(&o);
	o.path = path;
	o.flows = flows;
	o.seed = seed;
	return o;
}

using cft::be16;
using cft::le32;
using cft::sum16;

bool csum_ok(uint32_t s)
{
	return cft::fold(s) == 0xffff;
}

// A minimal pcap walk: file header and records, nothing decoded.
struct Record {
	uint64_t ts_ns;
	uint32_t caplen, wirelen;
	const uint8_t *data;
};

struct Capture {
	std::vector<uint8_t> bytes;
	uint32_t magic = 0, snaplen = 0, linktype = 0;
	uint16_t vmaj = 0, vmin = 0;
	std::vector<Record> recs;
	bool complete = false; // every record whole, nothing after the last
};

Capture walk(const std::string &path)
{
	Capture c;
	c.bytes = cft::read_file(path);
	const std::vector<uint8_t> &b = c.bytes;
	if (b.size() < 24)
		return c;
	c.magic = le32(&b[0]);
	c.vmaj = (uint16_t)(b[4] | b[5] << 8);
	c.vmin = (uint16_t)(b[6] | b[7] << 8);
	c.snaplen = le32(&b[16]);
	c.linktype = le32(&b[20]);
	bool ns = c.magic == 0xa1b23c4du;
	size_t off = 24;
	while (off + 16 <= b.size()) {
		Record r;
		uint64_t sec = le32(&b[off]), frac = le32(&b[off + 4]);
		r.ts_ns = sec * 1000000000ull + (ns ? frac : frac * 1000);
		r.caplen = le32(&b[off + 8]);
		r.wirelen = le32(&b[off + 12]);
		if (off + 16 + r.caplen > b.size())
			return c;
		r.data = &b[off + 16];
		c.recs.push_back(r);
		off += 16 + r.caplen;
	}
	c.complete = off == b.size();
	return c;
}

// What the header checker learned about one frame.
struct Frame {
	bool ok = false;
	std::string why;
	bool vlan = false, v6 = false;
	int proto = -1; // 6, 17, 1, 58
	uint8_t tcp_flags = 0;
	uint16_t sport = 0, dport = 0; // ICMP: echo id in both
	std::string key;               // direction-free 5-tuple
	uint32_t l2l3_len = 0;         // Ethernet + IP bytes the headers claim
	bool checksummed = false;      // L4 checksum verified (whole frame captured)
};

// Checks Ethernet / 802.1Q / IPv4 / IPv6 / TCP / UDP / ICMP headers of a
// whole or cut frame: lengths, TTL, IPv4 header checksum, and the L4
// checksum when the frame is whole.
Frame check_frame(const Record &r)
{
	Frame f;
	const uint8_t *p = r.data;
	uint32_t n = r.caplen;
	auto bad = [&](const std::string &why) {
		f.ok = false;
		f.why = why;
		return f;
	};
	if (n < 14)
		return bad("short ethernet");
	uint32_t off = 12;
	uint16_t et = be16(p + off);
	if (et == 0x8100) {
		f.vlan = true;
		off += 4;
		et = be16(p + off);
	}
	off += 2;
	const uint8_t *ip = p + off;
	uint32_t iplen, l4off;
	const uint8_t *src, *dst;
	uint32_t alen;
	if (et == 0x0800) {
		if (n < off + 20)
			return bad("short ipv4");
		if (ip[0] != 0x45)
			return bad("ipv4 version/ihl");
		if (!csum_ok(sum16(ip, 20)))
			return bad("ipv4 header checksum");
		if (ip[8] == 0)
			return bad("ttl 0");
		iplen = be16(ip + 2);
		f.proto = ip[9];
		src = ip + 12;
		dst = ip + 16;
		alen = 4;
		l4off = off + 20;
	} else if (et == 0x86dd) {
		if (n < off + 40)
			return bad("short ipv6");
		if ((ip[0] >> 4) != 6)
			return bad("ipv6 version");
		if (ip[7] == 0)
			return bad("hop limit 0");
		f.v6 = true;
		iplen = 40u + be16(ip + 4);
		f.proto = ip[6];
		src = ip + 8;
		dst = ip + 24;
		alen = 16;
		l4off = off + 40;
	} else {
		return bad("ethertype");
	}
	f.l2l3_len = off + iplen;
	if (f.l2l3_len > r.wirelen)
		return bad("ip length beyond the frame");
	uint32_t l4len = iplen - (l4off - off);
	const uint8_t *l4 = p + l4off;
	bool whole = r.caplen == r.wirelen;
	uint32_t pseudo = sum16(src, alen) + sum16(dst, alen) + (uint32_t)f.proto + l4len;
	if (f.proto == 6) {
		if (n >= l4off + 14) {
			f.sport = be16(l4);
			f.dport = be16(l4 + 2);
			f.tcp_flags = l4[13];
			if ((l4[12] >> 4) * 4u > l4len)
				return bad("tcp header length");
		}
	} else if (f.proto == 17) {
		if (n >= l4off + 8) {
			f.sport = be16(l4);
			f.dport = be16(l4 + 2);
			if (be16(l4 + 4) != l4len)
				return bad("udp length");
		}
	} else if (f.proto == 1 || f.proto == 58) {
		if (n >= l4off + 8) {
			uint8_t t = l4[0];
			bool echo = f.proto == 1 ? (t == 8 || t == 0) : (t == 128 || t == 129);
			if (!echo)
				return bad("not an echo");
			f.sport = f.dport = be16(l4 + 4);
		}
		if (f.proto == 1)
			pseudo = 0;
	} else {
		return bad("protocol " + std::to_string(f.proto));
	}
	if (whole) {
		if (!csum_ok(sum16(l4, l4len, pseudo)))
			return bad("l4 checksum, protocol " + std::to_string(f.proto));
		f.checksummed = true;
	}
	std::string a((const char *)src, alen), b((const char *)dst, alen);
	a += std::to_string(f.sport);
	b += std::to_string(f.dport);
	f.key = std::to_string(f.proto) + "|" + std::min(a, b) + "|" + std::max(a, b);
	f.ok = true;
	return f;
}

// Everything the tests want from one capture.
struct Summary {
	size_t frames = 0, bad = 0, vlan = 0, v6 = 0, tcp = 0, udp = 0, icmp = 0, icmp6 = 0, dns = 0,
	       rtp = 0, syn = 0, fin = 0, rst = 0, small = 0, full = 0, switches = 0;
	std::set<std::string> flows, tcp_flows;
	size_t max_active = 0; // most flows open (between first and last packet) at once
	std::string first_bad;
	bool ts_sorted = true;
	uint64_t span_ns = 0;
};

Summary summarize(const Capture &c, bool mixed_sizes)
{
	Summary s;
	std::string prev;
	std::map<std::string, std::pair<uint64_t, uint64_t>> span;
	for (size_t i = 0; i < c.recs.size(); i++) {
		const Record &r = c.recs[i];
		Frame f = check_frame(r);
		s.frames++;
		if (i && r.ts_ns < c.recs[i - 1].ts_ns)
			s.ts_sorted = false;
		// unpadded frames: IP length fills the frame; padded ones are 60 bytes
		if (f.ok && mixed_sizes && f.l2l3_len != r.wirelen && !(r.wirelen == 60 && f.l2l3_len < 60))
		{
			f.ok = false;
			f.why = "frame length " + std::to_string(r.wirelen) + " vs ip " + std::to_string(f.l2l3_len);
		}
		if (!f.ok) {
			if (!s.bad++)
				s.first_bad = "record " + std::to_string(i) + ": " + f.why;
			continue;
		}
		s.vlan += f.vlan;
		s.v6 += f.v6;
		s.tcp += f.proto == 6;
		s.udp += f.proto == 17;
		s.icmp += f.proto == 1;
		s.icmp6 += f.proto == 58;
		s.dns += f.proto == 17 && (f.sport == 53 || f.dport == 53);
		s.rtp += f.proto == 17 && f.sport >= 16384 && f.sport < 32768 && f.dport >= 16384 &&
			 f.dport < 32768 && !(f.sport & 1) && !(f.dport & 1);
		s.syn += f.proto == 6 && (f.tcp_flags & 0x12) == 0x02;
		s.fin += f.proto == 6 && (f.tcp_flags & 0x01);
		s.rst += f.proto == 6 && (f.tcp_flags & 0x04);
		s.small += r.wirelen <= 80;
		s.full += r.wirelen >= 1500;
		s.flows.insert(f.key);
		if (f.proto == 6)
			s.tcp_flows.insert(f.key);
		s.switches += i && f.key != prev;
		prev = f.key;
		auto it = span.find(f.key);
		if (it == span.end())
			span[f.key] = {r.ts_ns, r.ts_ns};
		else
			it->second.second = r.ts_ns;
	}
	std::vector<std::pair<uint64_t, int>> ev;
	for (auto &kv : span) {
		ev.push_back({kv.second.first, 1});
		ev.push_back({kv.second.second + 1, -1});
	}
	std::sort(ev.begin(), ev.end());
	long open = 0;
	for (auto &e : ev) {
		open += e.second;
		s.max_active = std::max(s.max_active, (size_t)open);
	}
	if (!c.recs.empty())
		s.span_ns = c.recs.back().ts_ns - c.recs.front().ts_ns;
	return s;
}

// ------------------------------------------------------------ API

TEST(SynthApi, Defaults)
{
	cf_synth_opts o;
	memset(&o, 0x5a, sizeof o);
	cf_synth_opts_default(&o);
	EXPECT_EQ(o.path, nullptr);
	EXPECT_EQ(o.flows, 1000u);
	EXPECT_DOUBLE_EQ(o.duration_s, 60.0);
	EXPECT_EQ(o.seed, 1u);
	EXPECT_EQ(o.snaplen, 65535u);
	EXPECT_EQ(o.gbytes, 0.0);
	EXPECT_EQ(o.frame_size, 0u);
	EXPECT_EQ(o.nanosecond, 0);
	EXPECT_EQ(o.progress, nullptr);
}

TEST(SynthApi, InvalidOptionsAreArgErrors)
{
	std::string path = cft::temp_path(".pcap");
	std::vector<std::pair<const char *, void (*)(cf_synth_opts &)>> cases = {
		{"no path", [](cf_synth_opts &o) { o.path = nullptr; }},
		{"empty path", [](cf_synth_opts &o) { o.path = ""; }},
		{"zero flows", [](cf_synth_opts &o) { o.flows = 0; }},
		{"frame 59", [](cf_synth_opts &o) { o.frame_size = 59; }},
		{"frame 65536", [](cf_synth_opts &o) { o.frame_size = 65536; }},
		{"snaplen 0", [](cf_synth_opts &o) { o.snaplen = 0; }},
		{"snaplen 262145", [](cf_synth_opts &o) { o.snaplen = 262145; }},
		{"duration 0", [](cf_synth_opts &o) { o.duration_s = 0; }},
		{"duration -1", [](cf_synth_opts &o) { o.duration_s = -1; }},
		{"duration nan", [](cf_synth_opts &o) { o.duration_s = NAN; }},
		{"gbytes -1", [](cf_synth_opts &o) { o.gbytes = -1; }},
		{"gbytes nan", [](cf_synth_opts &o) { o.gbytes = NAN; }},
	};
	for (auto &c : cases) {
		cf_synth_opts o = opts(path.c_str(), 10);
		c.second(o);
		char err[CF_ERRBUF_SIZE] = "";
		cf_synth_stats st;
		EXPECT_EQ(cf_synth_write(&o, &st, err), CF_ERR_ARG) << c.first;
		EXPECT_STRNE(err, "") << c.first;
		EXPECT_EQ(cf_synth_write(&o, nullptr, nullptr), CF_ERR_ARG) << c.first;
	}
	EXPECT_EQ(cf_synth_write(nullptr, nullptr, nullptr), CF_ERR_ARG);
}

TEST(SynthApi, UnwritablePathIsAnIoErrorNamingIt)
{
	std::string path = "/nonexistent-cuflow-dir/sub/x.pcap";
	cf_synth_opts o = opts(path.c_str(), 10);
	char err[CF_ERRBUF_SIZE] = "";
	cf_synth_stats st;
	EXPECT_EQ(cf_synth_write(&o, &st, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	EXPECT_EQ(st.packets, 0u);
}

TEST(SynthApi, WriteFailureIsAnIoError)
{
	if (access("/dev/full", W_OK) != 0)
		GTEST_SKIP() << "no /dev/full";
	cf_synth_opts o = opts("/dev/full", 3000);
	char err[CF_ERRBUF_SIZE] = "";
	EXPECT_EQ(cf_synth_write(&o, nullptr, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find("/dev/full"), std::string::npos) << err;
}

TEST(SynthApi, ProgressCallbackSeesEveryChunk)
{
	struct Seen {
		int calls = 0;
		uint64_t last_bytes = 0, last_total = 0, last_packets = 0;
		bool monotonic = true;
	} seen;
	cf_synth_opts o = opts("/dev/null", 0);
	o.gbytes = 0.03;
	o.progress = [](void *ctx, uint64_t bytes, uint64_t total, uint64_t packets) {
		Seen *s = (Seen *)ctx;
		if (bytes < s->last_bytes || packets < s->last_packets)
			s->monotonic = false;
		s->calls++;
		s->last_bytes = bytes;
		s->last_total = total;
		s->last_packets = packets;
	};
	o.progress_ctx = &seen;
	cf_synth_stats st = synth(o);
	EXPECT_GE(seen.calls, 5); // 30 MB in 4 MB chunks
	EXPECT_TRUE(seen.monotonic);
	EXPECT_EQ(seen.last_total, 30000000u);
	EXPECT_EQ(seen.last_bytes, st.bytes_written);
	EXPECT_EQ(seen.last_packets, st.packets);
}

// ------------------------------------------------------------ the capture itself

TEST(SynthPcap, HeadersFlowsAndMix)
{
	std::string path = cft::temp_path(".pcap");
	cf_synth_opts o = opts(path.c_str(), 600, 7);
	cf_synth_stats st = synth(o);
	Capture c = walk(path);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.magic, 0xa1b2c3d4u);
	EXPECT_EQ(c.vmaj, 2);
	EXPECT_EQ(c.vmin, 4);
	EXPECT_EQ(c.snaplen, 65535u);
	EXPECT_EQ(c.linktype, 1u);
	EXPECT_EQ(c.recs.size(), st.packets);
	EXPECT_EQ(c.bytes.size(), st.bytes_written);
	EXPECT_EQ(st.flows, 600u);

	Summary s = summarize(c, true);
	EXPECT_EQ(s.bad, 0u) << s.first_bad;
	EXPECT_TRUE(s.ts_sorted);
	EXPECT_EQ(s.flows.size(), 600u); // distinct 5-tuples: exactly the flows asked for
	for (const Record &r : c.recs) {
		ASSERT_EQ(r.caplen, r.wirelen);
		ASSERT_GE(r.wirelen, 60u);
		ASSERT_LE(r.wirelen, 1518u);
	}
	EXPECT_GT(s.tcp, 0u);
	EXPECT_GT(s.udp, 0u);
	EXPECT_GT(s.icmp, 0u);
	EXPECT_GT(s.icmp6, 0u);
	EXPECT_GT(s.dns, 0u);
	EXPECT_GT(s.rtp, 0u);
	EXPECT_GT(s.vlan, 0u);
	EXPECT_GT(s.v6, 0u);
	EXPECT_GT(s.rst, 0u);
	EXPECT_GT(s.fin, 0u);
	EXPECT_GE(s.syn, s.tcp_flows.size()); // every TCP flow opens with a SYN
	// the flow mix: roughly 70% TCP, 20% IPv6, 10% VLAN by flows
	EXPECT_NEAR((double)s.tcp_flows.size() / 600, 0.70, 0.08);
	// mixed sizes: many small control packets and many full segments
	EXPECT_GT((double)s.small / s.frames, 0.15);
	EXPECT_GT((double)s.full / s.frames, 0.10);
	// interleaved flows, spanning about the duration
	EXPECT_GT((double)s.switches / s.frames, 0.1);
	EXPECT_GE(s.max_active, 8u);
	EXPECT_GT(s.span_ns, 50e9);
	EXPECT_LT(s.span_ns, 70e9);
}

TEST(SynthPcap, SameSeedSameBytesOtherSeedOtherBytes)
{
	std::string a = cft::temp_path(".pcap"), b = cft::temp_path(".pcap"), c = cft::temp_path(".pcap");
	synth(opts(a.c_str(), 300, 42));
	synth(opts(b.c_str(), 300, 42));
	synth(opts(c.c_str(), 300, 43));
	std::vector<uint8_t> x = cft::read_file(a), y = cft::read_file(b), z = cft::read_file(c);
	ASSERT_GT(x.size(), 24u);
	EXPECT_TRUE(x == y);
	EXPECT_FALSE(x == z);

	cf_synth_opts o = opts(a.c_str(), 0, 42);
	o.gbytes = 0.02;
	synth(o);
	o.path = b.c_str();
	synth(o);
	EXPECT_TRUE(cft::read_file(a) == cft::read_file(b));
}

TEST(SynthPcap, FrameSizeMakesEveryFrameThatLong)
{
	for (uint32_t size : {60u, 64u, 78u, 1514u}) {
		std::string path = cft::temp_path(".pcap");
		cf_synth_opts o = opts(path.c_str(), 300, size);
		o.frame_size = size;
		o.duration_s = 10; // 30 flows a second: several open at once
		cf_synth_stats st = synth(o);
		Capture c = walk(path);
		ASSERT_TRUE(c.complete);
		ASSERT_EQ(c.recs.size(), st.packets);
		size_t wrong = 0;
		for (const Record &r : c.recs)
			wrong += r.caplen != size || r.wirelen != size;
		EXPECT_EQ(wrong, 0u) << size;
		Summary s = summarize(c, false);
		EXPECT_EQ(s.bad, 0u) << size << ": " << s.first_bad;
		EXPECT_EQ(s.flows.size(), 300u) << size;
		EXPECT_TRUE(s.ts_sorted) << size;
		EXPECT_GE(s.max_active, 8u) << size; // flows still interleave
		EXPECT_GT((double)s.switches / s.frames, 0.03) << size;
		EXPECT_GT(s.tcp, 0u);
		EXPECT_GT(s.udp, 0u);
		if (size >= 78) {
			EXPECT_GT(s.v6, 0u) << size;
		}
	}
}

TEST(SynthPcap, SnaplenCutsFramesKeepingWireLength)
{
	std::string path = cft::temp_path(".pcap");
	cf_synth_opts o = opts(path.c_str(), 300, 5);
	o.snaplen = 96;
	cf_synth_stats st = synth(o);
	Capture c = walk(path);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.snaplen, 96u);
	ASSERT_EQ(c.recs.size(), st.packets);
	size_t cut = 0;
	for (const Record &r : c.recs) {
		ASSERT_EQ(r.caplen, std::min(r.wirelen, 96u));
		ASSERT_LE(r.wirelen, 1514u + 4);
		cut += r.wirelen > 96;
	}
	EXPECT_GT(cut, c.recs.size() / 10);
	Summary s = summarize(c, true);
	EXPECT_EQ(s.bad, 0u) << s.first_bad;
	EXPECT_EQ(s.flows.size(), 300u);
}

TEST(SynthPcap, NanosecondMagic)
{
	std::string path = cft::temp_path(".pcap");
	cf_synth_opts o = opts(path.c_str(), 50);
	o.nanosecond = 1;
	synth(o);
	Capture c = walk(path);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.magic, 0xa1b23c4du);
	size_t sub_us = 0;
	for (const Record &r : c.recs)
		sub_us += r.ts_ns % 1000 != 0;
	EXPECT_GT(sub_us, c.recs.size() / 2);
	EXPECT_TRUE(summarize(c, true).ts_sorted);
}

TEST(SynthPcap, GbytesReachesTheSizeOverTheDuration)
{
	std::string path = cft::temp_path(".pcap");
	cf_synth_opts o = opts(path.c_str(), 0, 3);
	o.gbytes = 0.05;
	cf_synth_stats st = synth(o);
	Capture c = walk(path);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.bytes.size(), st.bytes_written);
	EXPECT_GE(st.bytes_written, 50000000u);
	EXPECT_LT(st.bytes_written, 50500000u);
	EXPECT_EQ(c.recs.size(), st.packets);
	Summary s = summarize(c, true);
	EXPECT_EQ(s.bad, 0u) << s.first_bad;
	EXPECT_TRUE(s.ts_sorted);
	EXPECT_EQ(s.flows.size(), st.flows);
	EXPECT_GT(s.span_ns, 50e9);
	EXPECT_LT(s.span_ns, 70e9);

	// a higher packet rate on a short span
	o.duration_s = 2;
	o.frame_size = 64;
	o.gbytes = 0.02;
	st = synth(o);
	c = walk(path);
	s = summarize(c, false);
	EXPECT_GE(st.bytes_written, 20000000u);
	EXPECT_LT(st.bytes_written, 20000000u + 1000); // the last flow's few packets
	EXPECT_EQ(s.bad, 0u) << s.first_bad;
	EXPECT_GT(s.span_ns, 1.6e9);
	EXPECT_LT(s.span_ns, 2.4e9);
}

TEST(SynthPcap, LargeRunToDevNull)
{
	cf_synth_opts o = opts("/dev/null", 0, 9);
	o.gbytes = 0.3;
	cf_synth_stats st = synth(o);
	EXPECT_GE(st.bytes_written, 300000000u);
	EXPECT_LT(st.bytes_written, 303000000u);
	EXPECT_GT(st.flows, 1000u);
}

// ------------------------------------------------------------ independent tools

TEST(SynthTools, CapinfosAgreesWithStats)
{
	if (!have_tool("capinfos"))
		GTEST_SKIP() << "capinfos not installed";
	std::string path = cft::temp_path(".pcap");
	cf_synth_stats st = synth(opts(path.c_str(), 400, 11));
	std::string out;
	ASSERT_EQ(cft::run("capinfos -M -c -d " + path, &out), 0) << out;
	EXPECT_EQ(number_after(out, "Number of packets:"), (long long)st.packets) << out;
	EXPECT_EQ(number_after(out, "Data size:"), (long long)(st.bytes_written - 24 - 16 * st.packets)) << out;
}

const char *kCheck = "-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE";
const char *kBad = "\"_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || "
		   "tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0 || "
		   "icmpv6.checksum.status == 0\"";

TEST(SynthTools, TsharkDecodesEveryFrameCleanly)
{
	if (!have_tool("tshark"))
		GTEST_SKIP() << "tshark not installed";
	std::string path = cft::temp_path(".pcap");
	synth(opts(path.c_str(), 400, 21));
	Summary s = summarize(walk(path), true);
	std::string out;

	// no malformed frame, no expert error, no bad checksum
	ASSERT_EQ(cft::run(std::string("tshark -n -r ") + path + " " + kCheck + " -Y " + kBad, &out), 0) << out;
	EXPECT_EQ(count_lines(out), 0) << out.substr(0, 2000);

	// the protocols present, and tshark's TCP conversations
	ASSERT_EQ(cft::run("tshark -n -r " + path + " -q -z io,phs -z conv,tcp", &out), 0) << out;
	std::string flat = squeeze(out);
	for (const char *proto : {" eth ", " vlan ", " ip ", " ipv6 ", " tcp ", " udp ", " dns ", " icmp ", " icmpv6 "})
		EXPECT_NE(flat.find(proto), std::string::npos) << proto << "\n" << out;
	size_t convs = 0;
	for (size_t at = out.find("<->"); at != std::string::npos; at = out.find("<->", at + 1))
		convs++;
	EXPECT_EQ(convs, s.tcp_flows.size());

	// TCP flags as tshark reads them; no sequence-analysis complaint but RST
	ASSERT_EQ(cft::run("tshark -n -r " + path + " -Y tcp -T fields -E separator=, -e tcp.flags.syn "
			   "-e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset -e tcp.analysis.flags",
			   &out),
		  0);
	size_t syn = 0, fin = 0, rst = 0, complaints = 0;
	std::istringstream in(out);
	std::string line;
	while (std::getline(in, line)) {
		if (line.find("Running as user") != std::string::npos)
			continue;
		std::vector<std::string> f;
		std::stringstream ls(line);
		for (std::string x; std::getline(ls, x, ',');)
			f.push_back(x);
		f.resize(5);
		bool is_rst = f[3] == "1" || f[3] == "True";
		syn += (f[0] == "1" || f[0] == "True") && !(f[1] == "1" || f[1] == "True");
		fin += f[2] == "1" || f[2] == "True";
		rst += is_rst;
		complaints += !f[4].empty() && !is_rst;
	}
	EXPECT_EQ(syn, s.syn);
	EXPECT_EQ(fin, s.fin);
	EXPECT_EQ(rst, s.rst);
	EXPECT_GT(rst, 0u);
	EXPECT_GT(fin, 0u);
	EXPECT_EQ(complaints, 0u);
}

TEST(SynthTools, TsharkDecodesSmallFixedFrames)
{
	if (!have_tool("tshark"))
		GTEST_SKIP() << "tshark not installed";
	for (uint32_t size : {60u, 64u, 90u}) {
		std::string path = cft::temp_path(".pcap");
		cf_synth_opts o = opts(path.c_str(), 300, 2);
		o.frame_size = size;
		synth(o);
		std::string out;
		ASSERT_EQ(cft::run(std::string("tshark -n -r ") + path + " " + kCheck + " -Y " + kBad, &out), 0);
		EXPECT_EQ(count_lines(out), 0) << size << "\n" << out.substr(0, 2000);
	}
}

// ------------------------------------------------------------ CLI

TEST(SynthCli, WritesFileAndReports)
{
	std::string path = cft::temp_path(".pcap");
	std::string out;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -o " + path + " --flows 50 --seed 7", &out), 0) << out;
	Capture c = walk(path);
	unsigned long long pk = 0, fl = 0, by = 0;
	char to[4096] = "";
	size_t at = out.find("synth: wrote ");
	ASSERT_NE(at, std::string::npos) << out;
	ASSERT_EQ(sscanf(out.c_str() + at, "synth: wrote %llu packets, %llu flows, %llu bytes to %4095s", &pk, &fl, &by, to), 4)
		<< out;
	EXPECT_EQ(pk, c.recs.size());
	EXPECT_EQ(fl, 50u);
	EXPECT_EQ(by, c.bytes.size());
	EXPECT_EQ(std::string(to), path);
	EXPECT_EQ(out.find('\r'), std::string::npos); // no progress line off a terminal

	// the same options through the API give the same bytes
	std::string api = cft::temp_path(".pcap");
	synth(opts(api.c_str(), 50, 7));
	EXPECT_TRUE(cft::read_file(api) == c.bytes);

	// standard output, quiet
	std::string piped = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -o - --flows 50 --seed 7 --quiet > " + piped, &out), 0);
	EXPECT_EQ(out, "");
	EXPECT_TRUE(cft::read_file(piped) == c.bytes);
}

TEST(SynthCli, OptionsReachTheWriter)
{
	std::string path = cft::temp_path(".pcap");
	std::string out;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -o " + path +
				   " --flows 40 --duration 5 --seed 3 --snaplen 200 --frame-size 300 --nanosecond -q",
			   &out),
		  0)
		<< out;
	EXPECT_EQ(out, "");
	Capture c = walk(path);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.magic, 0xa1b23c4du);
	EXPECT_EQ(c.snaplen, 200u);
	for (const Record &r : c.recs) {
		ASSERT_EQ(r.wirelen, 300u);
		ASSERT_EQ(r.caplen, 200u);
	}
	Summary s = summarize(c, false);
	EXPECT_EQ(s.flows.size(), 40u);
	EXPECT_LT(s.span_ns, 6e9);

	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -o " + path + " --gbytes 0.001 -q", &out), 0) << out;
	EXPECT_GE(cft::read_file(path).size(), 1000000u);
}

TEST(SynthCli, BadArgumentsExitOne)
{
	std::string path = cft::temp_path(".pcap");
	const std::string bin = cft::cuflow_bin() + " synth ";
	for (std::string args : std::vector<std::string>{"", "--flows 10", "-o " + path + " --flows 0", "-o " + path + " --flows -3",
				 "-o " + path + " --flows x", "-o " + path + " --frame-size 59",
				 "-o " + path + " --snaplen 0", "-o " + path + " --duration 0",
				 "-o " + path + " --gbytes 0", "-o " + path + " --gbytes nan",
				 "-o " + path + " --bogus", "-o " + path + " extra", "-o",
				 "-o " + path + " --flows 5 --gbytes 1"}) {
		std::string out;
		EXPECT_EQ(cft::run(bin + args, &out), 1) << args << "\n" << out;
		EXPECT_NE(out.find("synth"), std::string::npos) << args << "\n" << out;
	}
	std::string out;
	EXPECT_EQ(cft::run(bin + "-o /nonexistent-cuflow-dir/x.pcap --flows 3", &out), 1);
	EXPECT_NE(out.find("/nonexistent-cuflow-dir/x.pcap"), std::string::npos) << out;
	EXPECT_EQ(cft::run(bin + "--help", &out), 0);
	EXPECT_NE(out.find("usage: cuflow synth"), std::string::npos) << out;
}

} // namespace

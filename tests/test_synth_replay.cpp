// cf_synth_replay and `cuflow synth --replay`, checked against oracles that
// share no code with the writer: a pcap walk, header parser and checksum
// verifier written here, the frames as the test built them, and capinfos,
// editcap, tshark and `cuflow flows` on the output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

using Bytes = std::vector<uint8_t>;
const int64_t kSec = 1000000000;

// ------------------------------------------------------------ helpers

bool have_tool(const char *name) { return cft::run(std::string("command -v ") + name + " >/dev/null") == 0; }

using cft::be16;
using cft::fold;
using cft::le32;
using cft::sum16;

// Lines of a tool's output, without tshark's root notice.
std::vector<std::string> lines(const std::string &s)
{
	std::vector<std::string> v;
	std::istringstream in(s);
	std::string line;
	while (std::getline(in, line))
		if (line.find("Running as user") == std::string::npos)
			v.push_back(line);
	return v;
}

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

// A minimal pcap walk (little-endian files, as the writer makes).
struct Record {
	int64_t ts_ns;
	uint32_t caplen, wirelen;
	Bytes data;
};
struct Capture {
	uint32_t magic = 0, snaplen = 0, linktype = 0;
	size_t size = 0;
	std::vector<Record> recs;
	bool complete = false;
};

Capture walk(const std::string &path)
{
	Capture c;
	Bytes b = cft::read_file(path);
	c.size = b.size();
	if (b.size() < 24)
		return c;
	c.magic = le32(&b[0]);
	c.snaplen = le32(&b[16]);
	c.linktype = le32(&b[20]);
	bool ns = c.magic == 0xa1b23c4du;
	size_t off = 24;
	while (off + 16 <= b.size()) {
		Record r;
		int64_t sec = le32(&b[off]), frac = le32(&b[off + 4]);
		r.ts_ns = sec * kSec + (ns ? frac : frac * 1000);
		r.caplen = le32(&b[off + 8]);
		r.wirelen = le32(&b[off + 12]);
		if (off + 16 + r.caplen > b.size())
			return c;
		r.data.assign(b.begin() + (long)off + 16, b.begin() + (long)(off + 16 + r.caplen));
		c.recs.push_back(std::move(r));
		off += 16 + r.caplen;
	}
	c.complete = off == b.size();
	return c;
}

// ------------------------------------------------------------ frames the tests build

// Where a test frame's IP header and L4 checksum are (known by
// construction, not parsed).
struct Layout {
	int ip = -1;      // IP header offset; -1: no IP (or cut before the addresses)
	int v = 0;        // 4 or 6
	int l4 = -1;      // L4 header offset; -1: none (non-first fragment, ...)
	int proto = 0;
	int csum_at = -1; // offset of the L4 checksum field that covers the addresses; -1: none
	bool frag = false; // a first fragment: the checksum covers more than the frame
	int final_dst = -1; // IPv6 routing header: offset of the final destination (pseudo-header)
};

struct TFrame {
	cft::Frame f;
	Layout lay;
};

int csum_field(int proto)
{
	switch (proto) {
	case 6:
		return 16;
	case 17:
		return 6;
	case 58:
		return 2;
	}
	return -1;
}

// Pseudo-header sum of the IP header at ip (no routing header).
uint32_t pseudo(const uint8_t *ip, int v, int proto, uint32_t l4len)
{
	if (v == 4)
		return sum16(ip + 12, 8) + (uint32_t)proto + l4len;
	return sum16(ip + 8, 32) + (l4len >> 16) + (l4len & 0xffff) + (uint32_t)proto;
}

// End of the IP packet at ip (by its length field).
size_t ip_end(const Bytes &b, int ip, int v)
{
	return v == 4 ? (size_t)ip + be16(&b[ip + 2]) : (size_t)ip + 40 + be16(&b[ip + 4]);
}

// Fills the L4 checksum of a whole, unfragmented packet.
void fill_l4(Bytes &b, const Layout &L)
{
	size_t end = ip_end(b, L.ip, L.v);
	uint32_t l4len = (uint32_t)(end - L.l4);
	b[L.l4 + L.csum_at] = b[L.l4 + L.csum_at + 1] = 0;
	uint32_t s = pseudo(&b[L.ip], L.v, L.proto, l4len);
	if (L.proto == 1)
		s = 0;
	uint16_t c = (uint16_t)~fold(sum16(&b[L.l4], l4len, s));
	if (L.proto == 17 && c == 0)
		c = 0xffff;
	b[L.l4 + L.csum_at] = (uint8_t)(c >> 8);
	b[L.l4 + L.csum_at + 1] = (uint8_t)c;
}

// Validity as this test sees it: -1 not checkable, 0 bad, 1 good.
struct Valid {
	int ip = -1, l4 = -1;
	bool operator==(const Valid &o) const { return ip == o.ip && l4 == o.l4; }
};

Valid validity(const Bytes &b, uint32_t wirelen, const Layout &L)
{
	Valid r;
	if (L.ip < 0 || (size_t)L.ip + (L.v == 4 ? 20 : 40) > b.size())
		return r;
	const uint8_t *ip = &b[L.ip];
	if (L.v == 4 && (size_t)L.ip + (ip[0] & 15) * 4u <= b.size())
		r.ip = fold(sum16(ip, (ip[0] & 15) * 4u)) == 0xffff;
	if (L.l4 < 0 || L.csum_at < 0 || L.frag || b.size() != wirelen)
		return r;
	size_t end = ip_end(b, L.ip, L.v);
	if (end > b.size() || end < (size_t)L.l4 + L.csum_at + 2)
		return r;
	uint32_t l4len = (uint32_t)(end - L.l4);
	if (L.proto == 17 && be16(&b[L.l4 + 6]) == 0)
		return r; // no checksum
	uint32_t s = L.proto == 1 ? 0 : pseudo(ip, L.v, L.proto, l4len);
	if (L.final_dst >= 0)
		s = sum16(ip + 8, 16) + sum16(&b[L.final_dst], 16) + l4len + (uint32_t)L.proto;
	r.l4 = fold(sum16(&b[L.l4], l4len, s)) == 0xffff;
	return r;
}

const uint8_t kMacA[6] = {0x02, 0, 0, 0, 0, 0xaa}, kMacB[6] = {0x02, 0, 0, 0, 0, 0xbb};

Bytes v6addr(uint16_t top, uint16_t last)
{
	Bytes a(16, 0);
	a[0] = (uint8_t)(top >> 8);
	a[1] = (uint8_t)top;
	a[5] = 0x42;
	a[14] = (uint8_t)(last >> 8);
	a[15] = (uint8_t)last;
	return a;
}

// An IP packet (v4 TCP/UDP/ICMP or v6 TCP/UDP/ICMPv6) after `link`, with
// its checksums filled; lay set accordingly.
TFrame ip_frame(const Bytes &link, int v, int proto, uint32_t a, uint32_t b, uint16_t sp, uint16_t dp,
		size_t payload, int64_t ts)
{
	TFrame t;
	Bytes l4;
	if (proto == 6)
		l4 = cft::tcp(sp, dp, 1000, 0, 0x18, 4096, payload);
	else if (proto == 17)
		l4 = cft::udp(sp, dp, Bytes(payload, 0x33));
	else {
		l4 = {(uint8_t)(v == 4 ? 8 : 128), 0, 0, 0, (uint8_t)(sp >> 8), (uint8_t)sp, 0, 1};
		l4.resize(8 + payload, 0x44);
	}
	Bytes ip;
	if (v == 4)
		ip = cft::ipv4(a, b, (uint8_t)proto, l4);
	else
		ip = cft::ipv6(v6addr((uint16_t)(a >> 16), (uint16_t)a).data(), v6addr((uint16_t)(b >> 16), (uint16_t)b).data(),
			       (uint8_t)proto, l4);
	t.f.ts_ns = ts;
	t.f.bytes = cft::cat(link, ip);
	t.lay.ip = (int)link.size();
	t.lay.v = v;
	t.lay.l4 = t.lay.ip + (v == 4 ? 20 : 40);
	t.lay.proto = proto;
	t.lay.csum_at = csum_field(proto);
	if (v == 4 && proto == 1)
		t.lay.csum_at = 2; // ICMP: checked, but no pseudo-header
	fill_l4(t.f.bytes, t.lay);
	return t;
}

Bytes eth_hdr(uint16_t type) { return cft::eth(kMacA, kMacB, type); }

std::vector<cft::Frame> frames_of(const std::vector<TFrame> &v)
{
	std::vector<cft::Frame> f;
	for (auto &t : v)
		f.push_back(t.f);
	return f;
}

// The hand-made Ethernet capture: every case the remapper must handle.
std::vector<TFrame> ethernet_frames()
{
	std::vector<TFrame> v;
	int64_t t0 = 1700000000 * kSec + 123456000;
	auto ts = [&](int i) { return t0 + i * 37000000LL + (i % 3) * 1000; };
	uint32_t A = 0x0a000001, B = 0x0a000002, C = 0xc0a80101, D = 0xc0a80102;
	v.push_back(ip_frame(eth_hdr(0x0800), 4, 6, A, B, 40000, 80, 0, ts(0)));        // 0 TCP
	v.push_back(ip_frame(eth_hdr(0x0800), 4, 17, B, A, 53, 40001, 30, ts(1)));      // 1 UDP
	{                                                                                // 2 UDP, no checksum
		TFrame t = ip_frame(eth_hdr(0x0800), 4, 17, C, D, 5000, 5001, 20, ts(2));
		t.f.bytes[t.lay.l4 + 6] = t.f.bytes[t.lay.l4 + 7] = 0;
		v.push_back(t);
	}
	{ // 3 QinQ IPv6 TCP
		Bytes l = eth_hdr(0x88a8);
		for (uint8_t x : {0x00, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x86, 0xdd})
			l.push_back(x);
		v.push_back(ip_frame(l, 6, 6, 0x20010001, 0x20010002, 443, 50000, 100, ts(3)));
	}
	v.push_back(ip_frame(eth_hdr(0x86dd), 6, 58, 0xfe800001, 0xff020001, 7, 7, 16, ts(4))); // 4 ICMPv6
	{ // 5 IPv6, hop-by-hop options, UDP
		Bytes u = cft::udp(546, 547, Bytes(12, 0x55));
		Bytes hbh = {17, 0, 1, 4, 0, 0, 0, 0};
		Bytes ip = cft::ipv6(v6addr(0x2001, 9).data(), v6addr(0x2001, 10).data(), 0, cft::cat(hbh, u));
		TFrame t;
		t.f.ts_ns = ts(5);
		t.f.bytes = cft::cat(eth_hdr(0x86dd), ip);
		t.lay = {14, 6, 14 + 48, 17, 6};
		// the pseudo-header length is the UDP length, not the IPv6 payload length
		uint32_t s = sum16(&t.f.bytes[14 + 8], 32) + 17 + (uint32_t)u.size();
		uint16_t c = (uint16_t)~fold(sum16(&t.f.bytes[62], u.size(), s));
		t.f.bytes[62 + 6] = (uint8_t)(c >> 8);
		t.f.bytes[62 + 7] = (uint8_t)c;
		v.push_back(t);
	}
	{ // 6, 7: an IPv4 UDP datagram in two fragments; the checksum covers both
		Bytes u = cft::udp(7000, 7001, Bytes(40, 0x66));
		Bytes whole = cft::ipv4(A, C, 17, u, 64, 77);
		Layout L{0, 4, 20, 17, 6};
		fill_l4(whole, L);
		Bytes l4(whole.begin() + 20, whole.end()); // 48 bytes
		Bytes f1 = cft::ipv4(A, C, 17, Bytes(l4.begin(), l4.begin() + 24), 64, 77, 0x2000);
		Bytes f2 = cft::ipv4(A, C, 17, Bytes(l4.begin() + 24, l4.end()), 64, 77, 3);
		TFrame t1, t2;
		t1.f = {ts(6), cft::cat(eth_hdr(0x0800), f1)};
		t1.lay = {14, 4, 34, 17, 6, true}; // the checksum is there, not checkable on one fragment
		t2.f = {ts(7), cft::cat(eth_hdr(0x0800), f2)};
		t2.lay = {14, 4, -1, 17, -1};
		v.push_back(t1);
		v.push_back(t2);
	}
	{ // 8 ARP
		TFrame t;
		Bytes arp = {0, 1, 8, 0, 6, 4, 0, 1};
		arp.insert(arp.end(), kMacB, kMacB + 6);
		for (uint8_t x : {10, 0, 0, 2})
			arp.push_back(x);
		arp.insert(arp.end(), 6, 0);
		for (uint8_t x : {10, 0, 0, 1})
			arp.push_back(x);
		t.f = {ts(8), cft::cat(eth_hdr(0x0806), arp)};
		v.push_back(t);
	}
	{ // 9 TCP with a wrong checksum (as offloading leaves it)
		TFrame t = ip_frame(eth_hdr(0x0800), 4, 6, B, A, 80, 40000, 200, ts(9));
		t.f.bytes[t.lay.l4 + 16] ^= 0x5a;
		v.push_back(t);
	}
	{ // 10 TCP cut by the snap length inside the payload
		TFrame t = ip_frame(eth_hdr(0x0800), 4, 6, A, B, 40000, 80, 500, ts(10));
		t.f.wirelen = (uint32_t)t.f.bytes.size();
		t.f.bytes.resize(14 + 20 + 20 + 10);
		v.push_back(t);
	}
	{ // 11 IPv4 cut before the end of the destination address
		TFrame t = ip_frame(eth_hdr(0x0800), 4, 6, A, D, 1, 2, 0, ts(11));
		t.f.wirelen = (uint32_t)t.f.bytes.size();
		t.f.bytes.resize(14 + 18);
		t.lay = Layout{};
		v.push_back(t);
	}
	{ // 12 IPv4 with options (IHL 6), TCP
		Bytes tcp = cft::tcp(1234, 22, 5, 6, 0x10, 100, 10);
		Bytes ip = cft::ipv4(C, A, 6, tcp);
		ip[0] = 0x46;
		ip.insert(ip.begin() + 20, {1, 1, 1, 0}); // NOP NOP NOP EOL
		uint16_t tot = (uint16_t)ip.size();
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[10] = ip[11] = 0;
		uint16_t c = (uint16_t)~fold(sum16(ip.data(), 24));
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		TFrame t;
		t.f = {ts(12), cft::cat(eth_hdr(0x0800), ip)};
		t.lay = {14, 4, 14 + 24, 6, 16};
		fill_l4(t.f.bytes, t.lay);
		v.push_back(t);
	}
	{ // 13 802.1Q, ICMP echo
		Bytes l = eth_hdr(0x8100);
		for (uint8_t x : {0x00, 0x07, 0x08, 0x00})
			l.push_back(x);
		v.push_back(ip_frame(l, 4, 1, A, D, 99, 99, 32, ts(13)));
	}
	{ // 14 MPLS, two labels, IPv4 UDP
		Bytes l = eth_hdr(0x8847);
		for (uint8_t x : {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40})
			l.push_back(x);
		v.push_back(ip_frame(l, 4, 17, D, B, 123, 123, 48, ts(14)));
	}
	{ // 15 PPPoE session, IPv6 UDP
		Bytes l = eth_hdr(0x8864);
		for (uint8_t x : {0x11, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0x57})
			l.push_back(x);
		TFrame t = ip_frame(l, 6, 17, 0x2a000001, 0x2a000002, 4500, 4500, 20, ts(15));
		uint16_t plen = (uint16_t)(t.f.bytes.size() - 14 - 6);
		t.f.bytes[14 + 4] = (uint8_t)(plen >> 8);
		t.f.bytes[14 + 5] = (uint8_t)plen;
		v.push_back(t);
	}
	{ // 16 802.3 + LLC/SNAP, IPv4 TCP
		Bytes l = eth_hdr(0);
		for (uint8_t x : {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00})
			l.push_back(x);
		TFrame t = ip_frame(l, 4, 6, B, C, 3000, 3001, 8, ts(16));
		uint16_t len = (uint16_t)(t.f.bytes.size() - 14);
		t.f.bytes[12] = (uint8_t)(len >> 8);
		t.f.bytes[13] = (uint8_t)len;
		v.push_back(t);
	}
	{ // 17 IPv6, type 2 routing header (one segment left), UDP: the
	  // pseudo-header holds the final destination, the home address
		Bytes home = v6addr(0x2001, 0x77);
		Bytes rh(24, 0); // next 17, length 2 (24 bytes), type 2, segments left 1
		rh[0] = 17;
		rh[1] = 2;
		rh[2] = 2;
		rh[3] = 1;
		std::copy(home.begin(), home.end(), rh.begin() + 8);
		Bytes u = cft::udp(9000, 9001, Bytes(10, 0x77));
		Bytes ip = cft::ipv6(v6addr(0x2001, 0x71).data(), v6addr(0x2001, 0x72).data(), 43, cft::cat(rh, u));
		TFrame t;
		t.f = {ts(17), cft::cat(eth_hdr(0x86dd), ip)};
		t.lay = {14, 6, 14 + 40 + 24, 17, 6, false, 14 + 40 + 8};
		uint32_t sum = sum16(&t.f.bytes[14 + 8], 16) + sum16(home.data(), 16) + 17 + (uint32_t)u.size();
		uint16_t c = (uint16_t)~fold(sum16(&t.f.bytes[t.lay.l4], u.size(), sum));
		t.f.bytes[t.lay.l4 + 6] = (uint8_t)(c >> 8);
		t.f.bytes[t.lay.l4 + 7] = (uint8_t)c;
		v.push_back(t);
	}
	return v;
}

cf_synth_stats replay(const std::string &in, const std::string &out, uint64_t copies, int *rc_out = nullptr,
		      std::string *err_out = nullptr, uint32_t snaplen = 0, int ns = 0, size_t cache_max = SIZE_MAX)
{
	cf_synth_replay_opts o;
	cf_synth_replay_opts_default(&o);
	if (cache_max != SIZE_MAX)
		o.cache_max = cache_max;
	o.input = in.c_str();
	o.path = out.c_str();
	o.copies = copies;
	o.snaplen = snaplen;
	o.nanosecond = ns;
	cf_synth_stats st;
	char err[CF_ERRBUF_SIZE] = "";
	int rc = cf_synth_replay(&o, &st, err);
	if (rc_out)
		*rc_out = rc;
	else
		EXPECT_EQ(rc, CF_OK) << err;
	if (err_out)
		*err_out = err;
	return st;
}

// Per copy: the 16-bit XOR seen in every remapped frame (the test's own
// reading of addresses at the known offsets).
struct CopyCheck {
	std::vector<uint32_t> masks; // per copy; copy 0 must be 0
	size_t frames_checked = 0;
};

// Compares every output frame with its input frame: timestamps, copy 0
// byte for byte, and in later copies addresses XORed with one 16-bit
// mask per copy, nothing else changed but the checksum fields, and the
// checksums as valid as they were.
CopyCheck check_copies(const std::vector<TFrame> &in, const Capture &c, uint64_t copies, int64_t step)
{
	CopyCheck r;
	size_t m = in.size();
	EXPECT_EQ(c.recs.size(), m * copies);
	if (c.recs.size() != m * copies)
		return r;
	r.masks.assign(copies, 0xffffffffu);
	for (uint64_t k = 0; k < copies; k++)
		for (size_t i = 0; i < m; i++) {
			const Record &o = c.recs[k * m + i];
			const TFrame &t = in[i];
			const Bytes &b = t.f.bytes;
			uint32_t wire = t.f.wirelen ? t.f.wirelen : (uint32_t)b.size();
			SCOPED_TRACE("copy " + std::to_string(k) + " frame " + std::to_string(i));
			EXPECT_EQ(o.ts_ns, t.f.ts_ns + (int64_t)k * step);
			EXPECT_EQ(o.caplen, b.size());
			EXPECT_EQ(o.wirelen, wire);
			if (o.data.size() != b.size())
				continue;
			if (k == 0 || t.lay.ip < 0) {
				EXPECT_TRUE(o.data == b); // copy 0, and frames without IP
				continue;
			}
			const Layout &L = t.lay;
			int s = L.ip + (L.v == 4 ? 12 : 8), d = L.ip + (L.v == 4 ? 16 : 24), alen = L.v == 4 ? 4 : 16;
			uint32_t ms = be16(&o.data[s]) ^ be16(&b[s]), md = be16(&o.data[d]) ^ be16(&b[d]);
			EXPECT_EQ(ms, md);
			if (r.masks[k] == 0xffffffffu)
				r.masks[k] = ms;
			EXPECT_EQ(ms, r.masks[k]);
			EXPECT_NE(ms, 0u);
			std::set<int> may_change = {s, s + 1, d, d + 1};
			if (L.v == 4)
				may_change.insert({L.ip + 10, L.ip + 11});
			if (L.l4 >= 0 && L.csum_at >= 0)
				may_change.insert({L.l4 + L.csum_at, L.l4 + L.csum_at + 1});
			if (L.proto == 17 && L.l4 >= 0 && be16(&b[L.l4 + 6]) == 0) {
				EXPECT_EQ(be16(&o.data[L.l4 + 6]), 0); // no checksum stays no checksum
			}
			for (int j = 0; j < (int)b.size(); j++) {
				if (!may_change.count(j)) {
					EXPECT_EQ(o.data[j], b[j]) << "byte " << j;
				}
			}
			// the remapped bits are the first 16 only
			for (int j = 2; j < alen; j++) {
				EXPECT_EQ(o.data[s + j], b[s + j]);
				EXPECT_EQ(o.data[d + j], b[d + j]);
			}
			EXPECT_TRUE(validity(o.data, wire, L) == validity(b, wire, L));
			r.frames_checked++;
		}
	for (uint64_t k = 1; k < copies; k++)
		for (uint64_t j = 0; j < k; j++)
			EXPECT_NE(r.masks[j], r.masks[k]) << j << " " << k;
	return r;
}

// tshark's checksum verdicts, one line per frame.
std::vector<std::string> tshark_checksums(const std::string &path)
{
	std::string out;
	EXPECT_EQ(cft::run("tshark -n -r " + cft::shq(path) +
				   " -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE"
				   " -T fields -E separator=/ -e ip.checksum.status -e tcp.checksum.status"
				   " -e udp.checksum.status -e icmpv6.checksum.status 2>/dev/null | cat",
			   &out),
		  0);
	return lines(out);
}

// In tshark, checksum status 0 is "Bad", 1 "Good", 2 "Unverified".
// Every output frame must get the verdicts of its input frame: good stays
// good, bad (offloaded) stays bad, unchecked stays unchecked.
void expect_tshark_verdicts_kept(const std::string &in, const std::string &out, uint64_t copies)
{
	std::vector<std::string> a = tshark_checksums(in), b = tshark_checksums(out);
	ASSERT_EQ(b.size(), a.size() * copies);
	size_t good = 0, bad_made = 0, differ = 0;
	for (size_t i = 0; i < b.size(); i++) {
		const std::string &x = a[i % a.size()], &y = b[i];
		good += x.find('1') != std::string::npos;
		if (x != y && !differ++)
			ADD_FAILURE() << "frame " << i + 1 << ": input " << x << ", output " << y;
		// a good checksum of the input reported bad in the output
		for (size_t p = 0; p < std::min(x.size(), y.size()); p++)
			bad_made += x[p] == '1' && y[p] == '0';
	}
	EXPECT_EQ(differ, 0u);
	EXPECT_EQ(bad_made, 0u);
	EXPECT_GT(good, 0u);
}

// Data rows of `cuflow flows` on a capture (--decap none: flows on the
// headers the replay remaps).
long flow_rows(const std::string &path)
{
	std::string csv = cft::temp_path(".csv"), out;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " flows --decap none -q " + cft::shq(path) + " -o " + cft::shq(csv), &out), 0)
		<< out;
	Bytes b = cft::read_file(csv);
	return (long)lines(std::string(b.begin(), b.end())).size() - 1;
}

// ------------------------------------------------------------ API

TEST(ReplayApi, Defaults)
{
	cf_synth_replay_opts o;
	memset(&o, 0x5a, sizeof o);
	cf_synth_replay_opts_default(&o);
	EXPECT_EQ(o.input, nullptr);
	EXPECT_EQ(o.path, nullptr);
	EXPECT_EQ(o.copies, 1u);
	EXPECT_EQ(o.snaplen, 0u);
	EXPECT_EQ(o.nanosecond, 0);
	EXPECT_EQ(o.cache_max, (size_t)256 << 20);
	EXPECT_EQ(o.progress, nullptr);
}

// From memory (the default for small inputs), read again per copy
// (cache_max 0), or memory given up half-way: the same bytes.
TEST(ReplayApi, CachedAndStreamedCopiesAreTheSame)
{
	std::vector<TFrame> e = ethernet_frames();
	std::vector<cft::Frame> f;
	for (int r = 0; r < 20; r++)
		for (auto &t : e) {
			f.push_back(t.f);
			f.back().ts_ns += r * kSec / 10;
		}
	std::string in = cft::temp_path(".pcap"), a = cft::temp_path(".pcap"), b = cft::temp_path(".pcap");
	cft::write_pcap(in, 1, f);
	cf_synth_stats sa = replay(in, a, 7);
	for (size_t max : {(size_t)0, (size_t)1, (size_t)3000}) {
		cf_synth_stats sb = replay(in, b, 7, nullptr, nullptr, 0, 0, max);
		EXPECT_TRUE(cft::read_file(a) == cft::read_file(b)) << max;
		EXPECT_EQ(sa.packets, sb.packets);
		EXPECT_EQ(sa.unmapped, sb.unmapped);
		EXPECT_EQ(sa.bytes_written, sb.bytes_written);
	}
	EXPECT_EQ(sa.packets, 7 * f.size());
}

TEST(ReplayApi, InvalidOptionsAreArgErrors)
{
	std::string in = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(in, 1, frames_of(ethernet_frames()));
	struct Case {
		const char *what;
		const char *input, *path;
		uint64_t copies;
		uint32_t snaplen;
		const char *says;
	};
	std::vector<Case> cases = {
		{"no output", in.c_str(), nullptr, 2, 0, "output"},
		{"empty output", in.c_str(), "", 2, 0, "output"},
		{"no input", nullptr, out.c_str(), 2, 0, "replay"},
		{"stdin input", "-", out.c_str(), 2, 0, "standard input"},
		{"0 copies", in.c_str(), out.c_str(), 0, 0, "copies"},
		{"65537 copies", in.c_str(), out.c_str(), 65537, 0, "copies"},
		{"snaplen", in.c_str(), out.c_str(), 2, 262145, "snaplen"},
		{"output is the input", in.c_str(), in.c_str(), 2, 0, "is the input"},
	};
	for (auto &c : cases) {
		cf_synth_replay_opts o;
		cf_synth_replay_opts_default(&o);
		o.input = c.input;
		o.path = c.path;
		o.copies = c.copies;
		o.snaplen = c.snaplen;
		char err[CF_ERRBUF_SIZE] = "";
		EXPECT_EQ(cf_synth_replay(&o, nullptr, err), CF_ERR_ARG) << c.what;
		EXPECT_NE(std::string(err).find(c.says), std::string::npos) << c.what << ": " << err;
		EXPECT_EQ(cf_synth_replay(&o, nullptr, nullptr), CF_ERR_ARG) << c.what;
	}
	EXPECT_EQ(cf_synth_replay(nullptr, nullptr, nullptr), CF_ERR_ARG);
	EXPECT_EQ(access(out.c_str(), F_OK), -1); // nothing created
	EXPECT_EQ(walk(in).recs.size(), ethernet_frames().size()); // input untouched
}

TEST(ReplayApi, BadInputsNameTheFile)
{
	std::string out = cft::temp_path(".pcap"), err;
	int rc;
	// missing
	std::string missing = cft::temp_path("-missing.pcap");
	replay(missing, out, 2, &rc, &err);
	EXPECT_EQ(rc, CF_ERR_IO);
	EXPECT_NE(err.find(missing), std::string::npos) << err;
	// not a capture
	std::string text = cft::temp_path(".pcap");
	cft::write_file(text, Bytes(200, 'x'));
	replay(text, out, 2, &rc, &err);
	EXPECT_EQ(rc, CF_ERR_NOT_CAPTURE);
	EXPECT_NE(err.find(text), std::string::npos) << err;
	// truncated in the middle of a record: the reader's message with the offset
	std::string cut = cft::temp_path(".pcap");
	cft::write_pcap(cut, 1, frames_of(ethernet_frames()));
	Bytes b = cft::read_file(cut);
	b.resize(b.size() - 7);
	cft::write_file(cut, b);
	replay(cut, out, 3, &rc, &err);
	EXPECT_EQ(rc, CF_ERR_TRUNCATED);
	EXPECT_NE(err.find(cut), std::string::npos) << err;
	EXPECT_NE(err.find("byte offset"), std::string::npos) << err;
	EXPECT_EQ(access(out.c_str(), F_OK), -1); // found before the output was created
}

// A pcapng with two interfaces of different link types, a frame on each.
Bytes two_linktype_pcapng(const Bytes &eth_frame, const Bytes &raw_frame)
{
	Bytes v;
	auto u32 = [&](uint32_t x) {
		for (int i = 0; i < 4; i++)
			v.push_back((uint8_t)(x >> (8 * i)));
	};
	auto u16 = [&](uint16_t x) {
		v.push_back((uint8_t)x);
		v.push_back((uint8_t)(x >> 8));
	};
	u32(0x0a0d0d0a), u32(28), u32(0x1a2b3c4d), u16(1), u16(0), u32(0xffffffff), u32(0xffffffff), u32(28);
	for (uint16_t lt : {1, 101})
		u32(1), u32(20), u16(lt), u16(0), u32(65535), u32(20);
	uint64_t ts = 1700000000ull * 1000000;
	uint32_t iface = 0;
	for (const Bytes *f : {&eth_frame, &raw_frame}) {
		uint32_t pad = (4 - f->size() % 4) % 4, len = 32 + (uint32_t)f->size() + pad;
		u32(6), u32(len), u32(iface++), u32((uint32_t)(ts >> 32)), u32((uint32_t)ts), u32((uint32_t)f->size()),
			u32((uint32_t)f->size());
		v.insert(v.end(), f->begin(), f->end());
		v.insert(v.end(), pad, 0);
		u32(len);
		ts += 1000;
	}
	return v;
}

TEST(ReplayApi, FramesOfTwoLinkTypesAreRefused)
{
	std::vector<TFrame> e = ethernet_frames();
	TFrame raw = ip_frame({}, 4, 17, 0x01020304, 0x05060708, 1, 2, 4, 0);
	std::string in = cft::temp_path(".pcapng"), out = cft::temp_path(".pcap"), err;
	cft::write_file(in, two_linktype_pcapng(e[0].f.bytes, raw.f.bytes));
	if (have_tool("capinfos")) { // the test's pcapng is well formed: two interfaces, two packets
		std::string o;
		ASSERT_EQ(cft::run("capinfos -M -c -I " + in, &o), 0) << o;
		EXPECT_EQ(number_after(o, "Number of packets:"), 2) << o;
		EXPECT_EQ(number_after(o, "Number of interfaces in file:"), 2) << o;
	}
	int rc;
	replay(in, out, 2, &rc, &err);
	EXPECT_EQ(rc, CF_ERR_UNSUPPORTED);
	EXPECT_NE(err.find(in), std::string::npos) << err;
	EXPECT_NE(err.find("link type"), std::string::npos) << err;
	EXPECT_EQ(access(out.c_str(), F_OK), -1);
	// one link type in a pcapng is fine
	std::string one = cft::temp_path(".pcapng");
	cft::write_file(one, two_linktype_pcapng(e[0].f.bytes, e[1].f.bytes));
	Bytes b = cft::read_file(one);
	b[28 + 20 + 8] = 1; // second interface (after SHB 28 and IDB 20 bytes): Ethernet too
	cft::write_file(one, b);
	cf_synth_stats st = replay(one, out, 2);
	EXPECT_EQ(st.packets, 4u);
	EXPECT_EQ(walk(out).linktype, 1u);
}

TEST(ReplayApi, TimestampsPastPcapsRangeAreRefused)
{
	std::vector<TFrame> e = ethernet_frames();
	std::vector<cft::Frame> f = {e[0].f, e[1].f};
	f[0].ts_ns = 4000000000LL * kSec;
	f[1].ts_ns = 4100000000LL * kSec; // span 1e8 s
	std::string in = cft::temp_path(".pcap"), out = cft::temp_path(".pcap"), err;
	cft::write_pcap(in, 1, f);
	int rc;
	replay(in, out, 2, &rc, &err); // ends at 4.2e9 s: fits
	EXPECT_EQ(rc, CF_OK) << err;
	replay(in, out, 3, &rc, &err); // 4.3e9 s > 2^32 - 1
	EXPECT_EQ(rc, CF_ERR_ARG);
	EXPECT_NE(err.find("2106"), std::string::npos) << err;
}

TEST(ReplayApi, WriteFailureIsAnIoError)
{
	if (access("/dev/full", W_OK) != 0)
		GTEST_SKIP() << "no /dev/full";
	std::string in = cft::temp_path(".pcap"), err;
	cft::write_pcap(in, 1, frames_of(ethernet_frames()));
	int rc;
	replay(in, "/dev/full", 3, &rc, &err);
	EXPECT_EQ(rc, CF_ERR_IO);
	EXPECT_NE(err.find("/dev/full"), std::string::npos) << err;
}

TEST(ReplayApi, EmptyCaptureGivesAHeader)
{
	std::string in = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(in, 101, {});
	cf_synth_stats st = replay(in, out, 5);
	Capture c = walk(out);
	EXPECT_TRUE(c.complete);
	EXPECT_EQ(c.linktype, 101u);
	EXPECT_EQ(c.size, 24u);
	EXPECT_EQ(st.packets, 0u);
	EXPECT_EQ(st.bytes_written, 24u);
}

TEST(ReplayApi, ProgressReachesTheFileSize)
{
	std::vector<TFrame> e = ethernet_frames();
	std::vector<cft::Frame> f;
	for (int r = 0; r < 200; r++) // ~90 KB
		for (auto &t : e) {
			f.push_back(t.f);
			f.back().ts_ns += r * kSec / 10;
		}
	std::string in = cft::temp_path(".pcap");
	cft::write_pcap(in, 1, f);
	struct Seen {
		int calls = 0;
		uint64_t bytes = 0, total = 0, packets = 0;
		bool monotonic = true;
	} seen;
	cf_synth_replay_opts o;
	cf_synth_replay_opts_default(&o);
	o.input = in.c_str();
	o.path = "/dev/null";
	o.copies = 300; // ~27 MB in 8 MB chunks
	o.progress = [](void *ctx, uint64_t bytes, uint64_t total, uint64_t packets) {
		Seen *s = (Seen *)ctx;
		s->monotonic &= bytes >= s->bytes && packets >= s->packets && (!s->total || total == s->total);
		s->calls++;
		s->bytes = bytes;
		s->total = total;
		s->packets = packets;
	};
	o.progress_ctx = &seen;
	cf_synth_stats st;
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_synth_replay(&o, &st, err), CF_OK) << err;
	EXPECT_GE(seen.calls, 3);
	EXPECT_TRUE(seen.monotonic);
	EXPECT_EQ(seen.bytes, st.bytes_written);
	EXPECT_EQ(seen.total, st.bytes_written);
	EXPECT_EQ(seen.packets, st.packets);
	EXPECT_EQ(st.packets, f.size() * 300);
	EXPECT_EQ(st.bytes_written, 24 + 300 * (cft::read_file(in).size() - 24));
}

// ------------------------------------------------------------ the copies

TEST(ReplayPcap, EthernetCopiesShiftRemapAndKeepChecksums)
{
	std::vector<TFrame> in = ethernet_frames();
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 1, frames_of(in));
	const uint64_t N = 6;
	cf_synth_stats st = replay(src, out, N);
	Capture c = walk(out);
	ASSERT_TRUE(c.complete);
	ASSERT_EQ(c.recs.size(), in.size() * N);
	EXPECT_EQ(c.magic, 0xa1b2c3d4u);
	EXPECT_EQ(c.linktype, 1u);
	EXPECT_EQ(c.snaplen, 65535u);
	int64_t first = in.front().f.ts_ns, last = in.back().f.ts_ns, span = last - first;
	EXPECT_EQ(st.input_packets, in.size());
	EXPECT_EQ(st.packets, in.size() * N);
	EXPECT_EQ(st.bytes_written, c.size);
	EXPECT_EQ(c.size, 24 + N * (cft::read_file(src).size() - 24));
	EXPECT_EQ(st.span_ns, (uint64_t)span);
	EXPECT_EQ(st.linktype, 1u);
	EXPECT_EQ(st.disjoint, 1);
	EXPECT_EQ(st.unmapped, 2 * (N - 1)); // ARP and the frame cut inside the addresses
	for (size_t i = 1; i < c.recs.size(); i++)
		ASSERT_LE(c.recs[i - 1].ts_ns, c.recs[i].ts_ns) << i;
	EXPECT_EQ(c.recs.front().ts_ns, first);
	EXPECT_EQ(c.recs.back().ts_ns, last + (int64_t)(N - 1) * (span + kSec));

	CopyCheck cc = check_copies(in, c, N, span + kSec);
	EXPECT_EQ(cc.frames_checked, (in.size() - 2) * (N - 1));
	// the valid checksums really are valid (not only "as valid as before")
	for (size_t i = 0; i < c.recs.size(); i++) {
		const TFrame &t = in[i % in.size()];
		if (i % in.size() == 9)
			continue; // the deliberately wrong one
		Valid v = validity(c.recs[i].data, c.recs[i].wirelen, t.lay);
		EXPECT_NE(v.ip, 0) << i;
		EXPECT_NE(v.l4, 0) << i;
	}
	// the wrong one stays wrong
	EXPECT_EQ(validity(c.recs[in.size() + 9].data, c.recs[in.size() + 9].wirelen, in[9].lay).l4, 0);
	// the cut frame's TCP checksum is the one of the whole remapped packet
	for (uint64_t k = 1; k < N; k++) {
		const TFrame &t = in[10];
		Bytes whole = ip_frame(eth_hdr(0x0800), 4, 6, 0x0a000001 ^ cc.masks[k] << 16, 0x0a000002 ^ cc.masks[k] << 16,
				       40000, 80, 500, 0).f.bytes;
		const Bytes &o = c.recs[k * in.size() + 10].data;
		EXPECT_EQ(be16(&o[t.lay.l4 + 16]), be16(&whole[t.lay.l4 + 16])) << k;
		EXPECT_EQ(be16(&o[t.lay.ip + 10]), be16(&whole[t.lay.ip + 10])) << k;
	}
	// the two fragments, put back together, carry a valid UDP checksum
	for (uint64_t k = 0; k < N; k++) {
		const Bytes &f1 = c.recs[k * in.size() + 6].data, &f2 = c.recs[k * in.size() + 7].data;
		Bytes l4(f1.begin() + 34, f1.end());
		l4.insert(l4.end(), f2.begin() + 34, f2.end());
		uint32_t s = sum16(&f1[14 + 12], 8) + 17 + (uint32_t)l4.size();
		EXPECT_EQ(fold(sum16(l4.data(), l4.size(), s)), 0xffff) << k;
	}
}

TEST(ReplayPcap, SnaplenAndNanosecond)
{
	std::vector<TFrame> in = ethernet_frames();
	for (size_t i = 0; i < in.size(); i++)
		in[i].f.ts_ns += (int64_t)i * 7; // sub-microsecond digits
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 1, frames_of(in), true);

	// nanosecond output keeps every digit; copy 0 is the input exactly
	cf_synth_stats st = replay(src, out, 3, nullptr, nullptr, 0, 1);
	Capture c = walk(out);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.magic, 0xa1b23c4du);
	int64_t span = in.back().f.ts_ns - in.front().f.ts_ns;
	check_copies(in, c, 3, span + kSec);
	EXPECT_EQ(st.packets, 3 * in.size());

	// microsecond output drops them
	replay(src, out, 2);
	c = walk(out);
	ASSERT_EQ(c.recs.size(), 2 * in.size());
	for (size_t i = 0; i < c.recs.size(); i++)
		EXPECT_EQ(c.recs[i].ts_ns, (in[i % in.size()].f.ts_ns + (int64_t)(i / in.size()) * (span + kSec)) / 1000 * 1000);

	// --snaplen cuts, keeps wire lengths, and remaps what it keeps
	replay(src, out, 2, nullptr, nullptr, 60);
	c = walk(out);
	ASSERT_TRUE(c.complete);
	EXPECT_EQ(c.snaplen, 60u);
	ASSERT_EQ(c.recs.size(), 2 * in.size());
	for (size_t i = 0; i < c.recs.size(); i++) {
		const TFrame &t = in[i % in.size()];
		uint32_t wire = t.f.wirelen ? t.f.wirelen : (uint32_t)t.f.bytes.size();
		EXPECT_EQ(c.recs[i].caplen, std::min<uint32_t>((uint32_t)t.f.bytes.size(), 60));
		EXPECT_EQ(c.recs[i].wirelen, wire);
		if (i < in.size())
			EXPECT_TRUE(c.recs[i].data == Bytes(t.f.bytes.begin(), t.f.bytes.begin() + c.recs[i].caplen));
		else if (t.lay.ip >= 0 && t.lay.ip + (t.lay.v == 4 ? 20 : 40) <= 60) {
			int s = t.lay.ip + (t.lay.v == 4 ? 12 : 8);
			EXPECT_NE(be16(&c.recs[i].data[s]), be16(&t.f.bytes[s])) << i;
			if (t.lay.v == 4) {
				EXPECT_EQ(fold(sum16(&c.recs[i].data[t.lay.ip], (c.recs[i].data[t.lay.ip] & 15) * 4u)), 0xffff) << i;
			}
		}
	}
}

TEST(ReplayPcap, CompressedInputGivesTheSameOutput)
{
	if (!have_tool("gzip"))
		GTEST_SKIP() << "gzip not installed";
	std::string src = cft::temp_path(".pcap"), a = cft::temp_path(".pcap"), b = cft::temp_path(".pcap");
	cft::write_pcap(src, 1, frames_of(ethernet_frames()));
	ASSERT_EQ(cft::run("gzip -k " + cft::shq(src)), 0);
	replay(src, a, 4);
	replay(src + ".gz", b, 4);
	EXPECT_GT(cft::read_file(a).size(), 24u);
	EXPECT_TRUE(cft::read_file(a) == cft::read_file(b));
}

// Each other link type the remapper reads through: an IPv4 TCP and an
// IPv6 UDP frame (only one of them for 228 / 229).
TEST(ReplayPcap, OtherLinkTypes)
{
	struct Lt {
		int linktype;
		Bytes hdr4, hdr6; // empty hdr: that family is absent
		bool has4 = true, has6 = true;
	};
	auto sll = [](uint16_t proto) {
		Bytes h = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};
		h.push_back((uint8_t)(proto >> 8));
		h.push_back((uint8_t)proto);
		return h;
	};
	auto sll2 = [](uint16_t proto) {
		Bytes h = {(uint8_t)(proto >> 8), (uint8_t)proto, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};
		return h;
	};
	std::vector<Lt> lts = {
		{113, sll(0x0800), sll(0x86dd)},
		{276, sll2(0x0800), sll2(0x86dd)},
		{101, {}, {}},
		{12, {}, {}},
		{14, {}, {}},
		{228, {}, {}, true, false},
		{229, {}, {}, false, true},
		{0, {2, 0, 0, 0}, {30, 0, 0, 0}},        // NULL, little-endian host
		{0, {0, 0, 0, 2}, {0, 0, 0, 10}},        // NULL, big-endian host
		{108, {0, 0, 0, 2}, {0, 0, 0, 24}},      // LOOP
		{9, {0xff, 0x03, 0x00, 0x21}, {0x00, 0x57}}, // PPP, with and without address/control
		{104, {0x0f, 0, 0x08, 0x00}, {0x0f, 0, 0x86, 0xdd}}, // Cisco HDLC
	};
	for (const Lt &l : lts) {
		SCOPED_TRACE("linktype " + std::to_string(l.linktype));
		std::vector<TFrame> in;
		int64_t t0 = 1600000000 * kSec;
		for (int r = 0; r < 3; r++) {
			if (l.has4)
				in.push_back(ip_frame(l.hdr4, 4, 6, 0xac100001 + r, 0x08080808, 33000, 443, 50, t0 + r * 1000000));
			if (l.has6)
				in.push_back(ip_frame(l.hdr6, 6, 17, 0x26000001 + r, 0x26000099, 33001, 53, 30, t0 + r * 1000000 + 500000));
		}
		std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
		cft::write_pcap(src, l.linktype, frames_of(in));
		cf_synth_stats st = replay(src, out, 4);
		EXPECT_EQ(st.unmapped, 0u);
		EXPECT_EQ(st.disjoint, 1);
		Capture c = walk(out);
		ASSERT_TRUE(c.complete);
		ASSERT_EQ(c.recs.size(), in.size() * 4);
		EXPECT_EQ(c.linktype, (uint32_t)l.linktype);
		CopyCheck cc = check_copies(in, c, 4, in.back().f.ts_ns - in.front().f.ts_ns + kSec);
		EXPECT_EQ(cc.frames_checked, in.size() * 3);
		for (size_t i = 0; i < c.recs.size(); i++) {
			Valid v = validity(c.recs[i].data, c.recs[i].wirelen, in[i % in.size()].lay);
			EXPECT_EQ(v.l4, 1) << i;
			EXPECT_NE(v.ip, 0) << i;
		}
	}
}

// The unordered address pairs of each copy (raw IPv4 frames).
std::vector<std::set<uint64_t>> conversations(const Capture &c, size_t per_copy)
{
	std::vector<std::set<uint64_t>> v(c.recs.size() / per_copy);
	for (size_t i = 0; i < c.recs.size(); i++) {
		const Bytes &d = c.recs[i].data;
		uint64_t a = (uint64_t)d[12] << 24 | (uint64_t)d[13] << 16 | (uint64_t)d[14] << 8 | d[15];
		uint64_t b = (uint64_t)d[16] << 24 | (uint64_t)d[17] << 16 | (uint64_t)d[18] << 8 | d[19];
		v[i / per_copy].insert(std::min(a, b) << 32 | std::max(a, b));
	}
	return v;
}

size_t shared_between_copies(const std::vector<std::set<uint64_t>> &v)
{
	std::map<uint64_t, size_t> seen; // conversation -> copies holding it
	for (auto &s : v)
		for (uint64_t x : s)
			seen[x]++;
	size_t n = 0;
	for (auto &kv : seen)
		n += kv.second > 1;
	return n;
}

// The mask copy 1 gets when nothing stands in the way.
uint32_t plain_mask_of_copy_1()
{
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 228, frames_of({ip_frame({}, 4, 17, 0x0a000001, 0x0a000002, 1, 2, 4, kSec)}));
	replay(src, out, 2);
	Capture c = walk(out);
	EXPECT_EQ(c.recs.size(), 2u);
	return c.recs.size() == 2 ? be16(&c.recs[1].data[12]) ^ 0x0a00u : 0;
}

// Conversations that the plain mask sequence would make collide: the
// masks are chosen around them, and no two copies share a conversation.
TEST(ReplayPcap, MasksAvoidConversationsTheyWouldMerge)
{
	uint32_t m1 = plain_mask_of_copy_1();
	ASSERT_NE(m1, 0u);
	// conversations {t.0.0.1, t.0.0.2} for first-16-bit values t: 10.0,
	// the one copy 1 would turn 10.0 into, and 60 random ones
	std::mt19937 rng(7);
	std::set<uint32_t> tops = {0x0a00, 0x0a00 ^ m1};
	while (tops.size() < 62)
		tops.insert(rng() & 0xffff);
	std::vector<TFrame> in;
	int64_t t = 1650000000 * kSec;
	for (uint32_t top : tops) {
		uint32_t a = top << 16 | 0x0001, b = top << 16 | 0x0002;
		in.push_back(ip_frame({}, 4, 17, a, b, 1111, 2222, 10, t));
		in.push_back(ip_frame({}, 4, 17, b, a, 2222, 1111, 10, t + 1000));
		t += 10000000;
	}
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 228, frames_of(in));
	const uint64_t N = 40;
	cf_synth_stats st = replay(src, out, N);
	EXPECT_EQ(st.disjoint, 1);
	Capture c = walk(out);
	ASSERT_EQ(c.recs.size(), in.size() * N);
	check_copies(in, c, N, in.back().f.ts_ns - in.front().f.ts_ns + kSec);
	auto conv = conversations(c, in.size());
	for (auto &s : conv)
		EXPECT_EQ(s.size(), tops.size());
	EXPECT_EQ(shared_between_copies(conv), 0u);
	// copy 1 does not use the mask that maps {10.0.0.1, 10.0.0.2} onto a present pair
	EXPECT_NE(be16(&c.recs[in.size()].data[12]) ^ be16(&in[0].f.bytes[12]), m1);
	EXPECT_EQ(flow_rows(out), (long)(N * tops.size()));
}

// Only conversations matter: an address of copy 1 may equal one of copy 0
// (here 10.0.0.1 becomes the input's other address) when no conversation
// follows it, and the plain masks stay.
TEST(ReplayPcap, AddressesMayRecurConversationsNot)
{
	uint32_t m1 = plain_mask_of_copy_1();
	ASSERT_NE(m1, 0u);
	uint32_t a = 0x0a000001, a2 = a ^ m1 << 16;
	std::vector<TFrame> in = {ip_frame({}, 4, 6, a, 0x08080808, 5000, 443, 20, kSec),
				  ip_frame({}, 4, 6, a2, 0x09090909, 5000, 443, 20, kSec + 5000)};
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 228, frames_of(in));
	cf_synth_stats st = replay(src, out, 3);
	EXPECT_EQ(st.disjoint, 1);
	Capture c = walk(out);
	ASSERT_EQ(c.recs.size(), 6u);
	EXPECT_EQ(be16(&c.recs[2].data[12]), a2 >> 16); // copy 1's 10.0.0.1 is copy 0's a2
	EXPECT_EQ(shared_between_copies(conversations(c, 2)), 0u);
	EXPECT_EQ(flow_rows(out), 6);
}

// A conversation whose two ends differ only in their first 16 bits, by
// copy 1's plain mask: that mask would turn it into itself, reversed.
TEST(ReplayPcap, NoMaskTurnsAConversationIntoItself)
{
	uint32_t m1 = plain_mask_of_copy_1();
	ASSERT_NE(m1, 0u);
	uint32_t a = 0x0a000001, b = a ^ m1 << 16;
	std::vector<TFrame> in = {ip_frame({}, 4, 6, a, b, 5000, 443, 20, kSec),
				  ip_frame({}, 4, 6, b, a, 443, 5000, 20, kSec + 5000)};
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 228, frames_of(in));
	cf_synth_stats st = replay(src, out, 8);
	EXPECT_EQ(st.disjoint, 1);
	Capture c = walk(out);
	ASSERT_EQ(c.recs.size(), 16u);
	EXPECT_NE(be16(&c.recs[2].data[12]) ^ 0x0a00u, m1);
	EXPECT_EQ(shared_between_copies(conversations(c, 2)), 0u);
	EXPECT_EQ(flow_rows(out), 8);
}

// Many random address pairs (100000 addresses: about 76000 pairs of them
// share their last 16 bits, so masks checked against addresses alone
// could not be found): conversations do not get in each other's way.
TEST(ReplayPcap, ManyRandomConversationsStayApart)
{
	std::mt19937 rng(11);
	std::vector<cft::Frame> f;
	TFrame proto = ip_frame({}, 4, 17, 0, 0, 1000, 2000, 0, 0);
	for (int i = 0; i < 50000; i++) {
		cft::Frame x = proto.f;
		x.ts_ns = 1600000000 * kSec + i * 1000LL;
		for (int at = 12; at < 20; at++)
			x.bytes[at] = (uint8_t)rng();
		f.push_back(x); // (checksums do not matter here)
	}
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 228, f);
	const uint64_t N = 20;
	cf_synth_stats st = replay(src, out, N);
	EXPECT_EQ(st.disjoint, 1);
	Capture c = walk(out);
	ASSERT_EQ(c.recs.size(), f.size() * N);
	EXPECT_EQ(shared_between_copies(conversations(c, f.size())), 0u);
}

// ------------------------------------------------------------ independent tools

TEST(ReplayTools, HandMadeCaptureThroughCapinfosTsharkAndFlows)
{
	std::vector<TFrame> in = ethernet_frames();
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 1, frames_of(in));
	const uint64_t N = 5;
	replay(src, out, N);
	if (have_tool("capinfos")) {
		std::string o;
		ASSERT_EQ(cft::run("capinfos -M -c " + out, &o), 0) << o;
		EXPECT_EQ(number_after(o, "Number of packets:"), (long long)(N * in.size())) << o;
	}
	if (have_tool("tshark"))
		expect_tshark_verdicts_kept(src, out, N);
	// Every copy holds the same frames with other addresses (disjoint
	// across copies) and the same relative timing, so the flow engine
	// splits each copy into flows exactly as it splits the input, and no
	// flow of one copy can take a packet of another: N times the flows.
	long f = flow_rows(src);
	EXPECT_GT(f, 5);
	EXPECT_EQ(flow_rows(out), f * (long)N);
}

struct RealCase {
	const char *rel; // under shared_dir()
	uint64_t copies;
};

void real_capture(const RealCase &rc)
{
	std::string dir = cft::shared_dir();
	if (dir.empty())
		GTEST_SKIP() << "no ../shared";
	std::string in = dir + "/" + rc.rel;
	if (access(in.c_str(), R_OK) != 0)
		GTEST_SKIP() << in << " absent";
	for (const char *tool : {"capinfos", "editcap", "tshark"})
		if (!have_tool(tool))
			GTEST_SKIP() << tool << " not installed";
	std::string out = cft::temp_path(".pcap"), o;
	const uint64_t N = rc.copies;
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth -q --replay " + cft::shq(in) + " --copies " + std::to_string(N) +
				   " -o " + out, &o), 0) << o;

	// packet count and times, by capinfos
	std::string ci, co;
	ASSERT_EQ(cft::run("capinfos -M -c -S -a -e " + cft::shq(in), &ci), 0) << ci;
	ASSERT_EQ(cft::run("capinfos -M -c -S -a -e " + out, &co), 0) << co;
	long long n_in = number_after(ci, "Number of packets:");
	ASSERT_GT(n_in, 0);
	EXPECT_EQ(number_after(co, "Number of packets:"), n_in * (long long)N);
	auto when = [](const std::string &s, const char *label) {
		size_t at = s.find(label);
		return at == std::string::npos ? -1.0 : std::strtod(s.c_str() + at + strlen(label), nullptr);
	};
	double first = when(ci, "First packet time:"), last = when(ci, "Last packet time:");
	EXPECT_NEAR(when(co, "First packet time:"), first, 1e-6);
	EXPECT_NEAR(when(co, "Last packet time:"), last + (double)(N - 1) * (last - first + 1), 1e-5);

	// copy 0 against editcap's own pcap of the input: same bytes, lengths, times
	std::string ref = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run("editcap -F pcap " + cft::shq(in) + " " + ref, &o), 0) << o;
	Capture r = walk(ref), c = walk(out);
	ASSERT_TRUE(c.complete);
	ASSERT_EQ((long long)r.recs.size(), n_in);
	ASSERT_EQ(c.recs.size(), r.recs.size() * N);
	EXPECT_EQ(c.linktype, r.linktype);
	size_t differ = 0;
	for (size_t i = 0; i < r.recs.size(); i++)
		differ += c.recs[i].data != r.recs[i].data || c.recs[i].ts_ns != r.recs[i].ts_ns ||
			  c.recs[i].wirelen != r.recs[i].wirelen;
	EXPECT_EQ(differ, 0u);
	uint64_t bytes = 0;
	for (auto &x : r.recs)
		bytes += 16 + x.caplen;
	EXPECT_EQ(c.size, 24 + N * bytes);
	// later copies: same lengths, shifted times, the frames mostly changed
	int64_t span = r.recs.back().ts_ns - r.recs.front().ts_ns;
	size_t changed = 0;
	bool sorted = true;
	for (size_t i = 0; i < c.recs.size(); i++) {
		const Record &x = r.recs[i % r.recs.size()];
		uint64_t k = i / r.recs.size();
		ASSERT_EQ(c.recs[i].caplen, x.caplen);
		ASSERT_EQ(c.recs[i].ts_ns, x.ts_ns + (int64_t)k * (span + kSec));
		changed += k && c.recs[i].data != x.data;
		sorted &= !i || c.recs[i - 1].ts_ns <= c.recs[i].ts_ns;
	}
	EXPECT_TRUE(sorted);
	EXPECT_GT(changed, (N - 1) * r.recs.size() * 9 / 10);

	// the API reading the file once per copy gives the same bytes
	std::string streamed = cft::temp_path(".pcap");
	cf_synth_stats st = replay(in, streamed, N, nullptr, nullptr, 0, 0, 0);
	EXPECT_TRUE(cft::read_file(streamed) == cft::read_file(out));
	EXPECT_EQ(st.disjoint, 1);

	// checksums: tshark's verdicts per frame as in the input
	expect_tshark_verdicts_kept(in, out, N);

	// N times the flows (see HandMadeCaptureThroughCapinfosTsharkAndFlows)
	long f = flow_rows(in);
	EXPECT_GT(f, 10);
	EXPECT_EQ(flow_rows(out), f * (long)N);
}

TEST(ReplayTools, RealCaptureNetmlDemo) { real_capture({"data/netml/demo.pcap", 5}); }
TEST(ReplayTools, RealCaptureAlexaApp) { real_capture({"captures/nfstream/pcaps/alexa-app.pcapng", 4}); }

// ------------------------------------------------------------ CLI

TEST(ReplayCli, WritesAndReports)
{
	std::vector<TFrame> in = ethernet_frames();
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap"), api = cft::temp_path(".pcap"), o;
	cft::write_pcap(src, 1, frames_of(in));
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + src + " --copies 3 -o " + out, &o), 0) << o;
	unsigned long long pk = 0, cp = 0, n = 0, by = 0;
	size_t at = o.find("synth: wrote ");
	ASSERT_NE(at, std::string::npos) << o;
	ASSERT_EQ(sscanf(o.c_str() + at, "synth: wrote %llu packets (%llu copies of %llu), %llu bytes", &pk, &cp, &n, &by), 4) << o;
	EXPECT_EQ(pk, 3 * in.size());
	EXPECT_EQ(cp, 3u);
	EXPECT_EQ(n, in.size());
	EXPECT_EQ(by, cft::read_file(out).size());
	EXPECT_NE(o.find("4 frames of copies 1..2 had no IP header"), std::string::npos) << o;
	replay(src, api, 3);
	EXPECT_TRUE(cft::read_file(api) == cft::read_file(out));

	// options reach the writer; standard output
	ASSERT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + src + " --copies 2 --snaplen 50 --nanosecond -q -o - > " + out, &o), 0) << o;
	EXPECT_EQ(o, "");
	Capture c = walk(out);
	EXPECT_EQ(c.magic, 0xa1b23c4du);
	EXPECT_EQ(c.snaplen, 50u);
	EXPECT_EQ(c.recs.size(), 2 * in.size());
}

TEST(ReplayCli, BadArgumentsExitOneWithAMessage)
{
	std::string src = cft::temp_path(".pcap"), out = cft::temp_path(".pcap");
	cft::write_pcap(src, 1, frames_of(ethernet_frames()));
	const std::string bin = cft::cuflow_bin() + " synth -o " + out + " ";
	std::vector<std::pair<std::string, std::string>> cases = {
		{"--copies 3", "--replay"},
		{"--replay " + src, "--copies"},
		{"--replay " + src + " --copies 0", "--copies"},
		{"--replay " + src + " --copies 65537", "--copies"},
		{"--replay " + src + " --copies x", "--copies"},
		{"--replay " + src + " --copies 2 --flows 5", "--flows"},
		{"--replay " + src + " --copies 2 --gbytes 1", "--gbytes"},
		{"--replay " + src + " --copies 2 --duration 5", "--duration"},
		{"--replay " + src + " --copies 2 --frame-size 100", "--frame-size"},
		{"--replay " + src + " --copies 2 --seed 4", "--seed"},
		{"--replay - --copies 2", "standard input"},
		{"--replay " + src + " --copies 2 --snaplen 0", "--snaplen"},
	};
	for (auto &c : cases) {
		std::string o;
		EXPECT_EQ(cft::run(bin + c.first, &o), 1) << c.first << "\n" << o;
		EXPECT_NE(o.find(c.second), std::string::npos) << c.first << "\n" << o;
	}
	std::string o;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + src + " --copies 2", &o), 1) << o; // no -o
	EXPECT_EQ(access(out.c_str(), F_OK), -1);
}

TEST(ReplayCli, BadInputsExitTwoNamingTheFile)
{
	std::string out = cft::temp_path(".pcap"), missing = cft::temp_path("-missing.pcap"), o;
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + missing + " --copies 2 -o " + out, &o), 2) << o;
	EXPECT_NE(o.find(missing), std::string::npos) << o;

	std::string cut = cft::temp_path(".pcap");
	cft::write_pcap(cut, 1, frames_of(ethernet_frames()));
	Bytes b = cft::read_file(cut);
	b.resize(b.size() - 5);
	cft::write_file(cut, b);
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + cut + " --copies 2 -o " + out, &o), 2) << o;
	EXPECT_NE(o.find(cut), std::string::npos) << o;
	EXPECT_NE(o.find("byte offset"), std::string::npos) << o;

	std::vector<TFrame> e = ethernet_frames();
	std::string mixed = cft::temp_path(".pcapng");
	cft::write_file(mixed, two_linktype_pcapng(e[0].f.bytes, ip_frame({}, 4, 6, 1, 2, 3, 4, 0, 0).f.bytes));
	EXPECT_EQ(cft::run(cft::cuflow_bin() + " synth --replay " + mixed + " --copies 2 -o " + out, &o), 2) << o;
	EXPECT_NE(o.find(mixed), std::string::npos) << o;
	EXPECT_NE(o.find("more than one link type"), std::string::npos) << o;
	EXPECT_EQ(access(out.c_str(), F_OK), -1);
}

} // namespace

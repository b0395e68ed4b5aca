// `cuflow extract` end to end against an independent oracle.
//
// Every capture is written here, and alongside it the test keeps its own
// list of the packets it wrote (time, wire size, direction, TCP flags),
// grouped into the flows it expects from flow.h's rules (reasoned by
// hand). tests/oracles/extract_oracle.py recomputes all 66 features and
// the sequences from those lists with plain numpy (np.std(ddof=1),
// np.percentile, np.diff) and compares them with the .npy files: integer
// columns exactly, other doubles within 1e-12 relative. Nothing expected
// is ever taken from cuflow's output. A few counts (the CIC-IDS2017
// trailing-ACK case) are also asserted directly, by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "test_util.h"

namespace {

using cft::slurp;
using cft::exists;

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint32_t A = 0x0a000001, B = 0x0a000002, C = 0x0a000003; // 10.0.0.1 .. 10.0.0.3
const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
const int64_t T0S = 1700000000, T0 = T0S * 1000000000ll; // 2023-11-14T22:13:20Z
const int64_t US = 1000ll, MS = 1000000ll, SEC = 1000000000ll;

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80 };

// ------------------------------------------------------------ python

#define SKIP_WITHOUT_NUMPY()                                    \
	do {                                                        \
		if (cft::numpy_python().empty())                             \
			GTEST_SKIP() << "python3 with numpy not installed"; \
	} while (0)

std::string oracle_script() { return cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/extract_oracle.py"; }

// ------------------------------------------------------------ captures

// One packet as the oracle sees it.
struct Pkt {
	int64_t t;
	uint32_t size; // wire length of the frame written
	int dir;       // 0 src2dst, 1 dst2src
	int flags;     // TCP flags (0 otherwise)
};

// A flow the test expects: identity (src = the side flow.h makes the
// source) and its packets.
struct FlowSpec {
	int ipv = 4;
	std::array<uint8_t, 16> src{}, dst{};
	int sport = 0, dport = 0, proto = 0, vlan = 0;
	std::string end_reason; // "" = not checked
	std::string label;      // "" = no label expected
	std::vector<Pkt> pk;
};

std::array<uint8_t, 16> v4(uint32_t a)
{
	std::array<uint8_t, 16> r{};
	r[0] = (uint8_t)(a >> 24);
	r[1] = (uint8_t)(a >> 16);
	r[2] = (uint8_t)(a >> 8);
	r[3] = (uint8_t)a;
	return r;
}
std::array<uint8_t, 16> v6(const uint8_t *a)
{
	std::array<uint8_t, 16> r{};
	memcpy(r.data(), a, 16);
	return r;
}
uint32_t as_u32(const std::array<uint8_t, 16> &a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

std::string ip_text(const FlowSpec &f, const std::array<uint8_t, 16> &a)
{
	char buf[64];
	inet_ntop(f.ipv == 6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
	return buf;
}

// Frames plus the flows they make. Each add_* builds the frame from the
// flow's identity: dir 0 is sent by src, dir 1 by dst.
struct Capture {
	std::vector<cft::Frame> frames;
	std::vector<FlowSpec> flows;

	int flow4(uint32_t src, uint32_t dst, int sport, int dport, int proto, int vlan = 0)
	{
		FlowSpec f;
		f.src = v4(src);
		f.dst = v4(dst);
		f.sport = sport;
		f.dport = dport;
		f.proto = proto;
		f.vlan = vlan;
		flows.push_back(f);
		return (int)flows.size() - 1;
	}
	int flow6(const uint8_t *src, const uint8_t *dst, int sport, int dport, int proto)
	{
		FlowSpec f;
		f.ipv = 6;
		f.src = v6(src);
		f.dst = v6(dst);
		f.sport = sport;
		f.dport = dport;
		f.proto = proto;
		flows.push_back(f);
		return (int)flows.size() - 1;
	}

	std::vector<uint8_t> l3(const FlowSpec &f, int dir, uint8_t proto, const std::vector<uint8_t> &l4)
	{
		const auto &s = dir ? f.dst : f.src, &d = dir ? f.src : f.dst;
		std::vector<uint8_t> l2;
		uint16_t et = f.ipv == 6 ? 0x86dd : 0x0800;
		if (f.vlan) {
			l2 = cft::eth(kMacB, kMacA, 0x8100);
			l2.insert(l2.end(), {(uint8_t)(f.vlan >> 8), (uint8_t)f.vlan, (uint8_t)(et >> 8), (uint8_t)et});
		} else {
			l2 = cft::eth(kMacB, kMacA, et);
		}
		if (f.ipv == 6)
			return cft::cat(l2, cft::ipv6(s.data(), d.data(), proto, l4));
		return cft::cat(l2, cft::ipv4(as_u32(s), as_u32(d), proto, l4));
	}
	void push(int fi, int64_t t, int dir, int flags, std::vector<uint8_t> bytes)
	{
		flows[fi].pk.push_back({t, (uint32_t)bytes.size(), dir, flags});
		frames.push_back({t, std::move(bytes)});
	}
	// TCP: 54 bytes + payload over IPv4, 74 + payload over IPv6 (+4 with VLAN).
	void tcp(int fi, int64_t t, int dir, int flags, size_t pay = 0)
	{
		const FlowSpec &f = flows[fi];
		uint16_t sp = (uint16_t)(dir ? f.dport : f.sport), dp = (uint16_t)(dir ? f.sport : f.dport);
		push(fi, t, dir, flags, l3(f, dir, 6, cft::tcp(sp, dp, 1, 1, (uint16_t)flags, 1000, pay)));
	}
	// UDP: 42 / 62 bytes + payload.
	void udp(int fi, int64_t t, int dir, size_t pay = 0)
	{
		const FlowSpec &f = flows[fi];
		uint16_t sp = (uint16_t)(dir ? f.dport : f.sport), dp = (uint16_t)(dir ? f.sport : f.dport);
		push(fi, t, dir, 0, l3(f, dir, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 0x55))));
	}
	// ICMP / ICMPv6 echo: request from src, reply from dst; the identifier
	// is the flow's port on both sides. 42 / 62 bytes + payload.
	// (type and ident override that, for unidirectional flows).
	void echo(int fi, int64_t t, int dir, uint16_t seq, size_t pay = 0, int type = -1, int ident = -1)
	{
		const FlowSpec &f = flows[fi];
		if (type < 0)
			type = f.ipv == 6 ? (dir ? 129 : 128) : (dir ? 0 : 8);
		if (ident < 0)
			ident = f.sport;
		std::vector<uint8_t> m = {(uint8_t)type, 0, 0, 0, (uint8_t)(ident >> 8), (uint8_t)ident,
		                          (uint8_t)(seq >> 8), (uint8_t)seq};
		m.resize(8 + pay, 0x42);
		push(fi, t, dir, 0, l3(f, dir, f.ipv == 6 ? 58 : 1, m));
	}

	// Frames in time order (stable), nanosecond pcap.
	std::string write(std::string path = "") const
	{
		std::vector<cft::Frame> f = frames;
		std::stable_sort(f.begin(), f.end(), [](const cft::Frame &a, const cft::Frame &b) { return a.ts_ns < b.ts_ns; });
		if (path.empty())
			path = cft::temp_path(".pcap");
		cft::write_pcap(path, 1, f, true);
		return path;
	}
};

// ------------------------------------------------------------ running

struct Result {
	int rc;
	std::string log, dir;
};

Result extract(const std::vector<std::string> &caps, const std::string &opts, std::string dir = "")
{
	Result r;
	r.dir = dir.empty() ? cft::temp_path("_extract") : dir;
	std::string cmd = cft::shq(cft::cuflow_bin()) + " extract -q " + opts;
	for (auto &c : caps)
		cmd += " " + cft::shq(c);
	cmd += " -o " + cft::shq(r.dir);
	r.rc = cft::run(cmd, &r.log);
	return r;
}

std::string json_str(const std::string &s)
{
	std::string o = "\"";
	for (char c : s) {
		if (c == '"' || c == '\\')
			o += '\\';
		o += c;
	}
	return o + "\"";
}

struct OracleOpts {
	int seq = 30;
	double pad = 0;
	std::string dtype = "float64";
	bool ordered = true;
	std::vector<std::string> label_names; // checked when not empty
};

std::string spec_json(const std::string &dir, const std::vector<FlowSpec> &flows, const OracleOpts &o)
{
	std::ostringstream j;
	j.precision(17);
	j << "{\"mode\": \"check\", \"dir\": " << json_str(dir) << ", \"dtype\": " << json_str(o.dtype)
	  << ", \"seq\": " << o.seq << ", \"pad\": " << o.pad << ", \"ordered\": " << (o.ordered ? "true" : "false");
	if (!o.label_names.empty()) {
		j << ", \"label_names\": [";
		for (size_t i = 0; i < o.label_names.size(); i++)
			j << (i ? ", " : "") << json_str(o.label_names[i]);
		j << "]";
	}
	j << ",\n \"flows\": [";
	for (size_t i = 0; i < flows.size(); i++) {
		const FlowSpec &f = flows[i];
		j << (i ? ",\n  " : "\n  ") << "{\"src\": " << json_str(ip_text(f, f.src))
		  << ", \"dst\": " << json_str(ip_text(f, f.dst)) << ", \"sport\": " << f.sport
		  << ", \"dport\": " << f.dport << ", \"proto\": " << f.proto << ", \"ip_version\": " << f.ipv
		  << ", \"vlan\": " << f.vlan;
		if (!f.end_reason.empty())
			j << ", \"end_reason\": " << json_str(f.end_reason);
		if (!f.label.empty())
			j << ", \"label\": " << json_str(f.label);
		j << ", \"packets\": [";
		for (size_t k = 0; k < f.pk.size(); k++)
			j << (k ? "," : "") << "[" << f.pk[k].t << "," << f.pk[k].size << "," << f.pk[k].dir << ","
			  << f.pk[k].flags << "]";
		j << "]}";
	}
	j << "]}\n";
	return j.str();
}

// Runs the oracle on a spec; expects "ok".
void run_oracle(const std::string &spec_text, const std::string &what)
{
	std::string spec = cft::temp_path("_spec.json");
	cft::write_file(spec, std::vector<uint8_t>(spec_text.begin(), spec_text.end()));
	std::string out;
	int rc = cft::run(cft::shq(cft::numpy_python()) + " " + cft::shq(oracle_script()) + " " + cft::shq(spec), &out);
	EXPECT_EQ(rc, 0) << what << ": the numpy oracle disagrees:\n" << out;
	EXPECT_NE(out.find("ok "), std::string::npos) << what << ":\n" << out;
}

void check(const Result &r, const std::vector<FlowSpec> &flows, const OracleOpts &o = OracleOpts(),
           const std::string &what = "")
{
	run_oracle(spec_json(r.dir, flows, o), what.empty() ? r.dir : what);
}

void check_shards(const std::string &whole, const std::string &sharded, int rows)
{
	run_oracle("{\"mode\": \"shards\", \"whole\": " + json_str(whole) + ", \"sharded\": " + json_str(sharded) +
	               ", \"shard_rows\": " + std::to_string(rows) + "}\n",
	           "shards of " + std::to_string(rows));
}

// flows.csv as rows of name -> value (no quoting in what extract writes
// for these captures).
std::vector<std::map<std::string, std::string>> read_flows_csv(const std::string &path)
{
	std::vector<std::map<std::string, std::string>> rows;
	std::istringstream in(slurp(path));
	std::string line;
	std::vector<std::string> header;
	auto split = [](const std::string &l) {
		std::vector<std::string> v;
		std::string cell;
		std::istringstream ss(l);
		while (std::getline(ss, cell, ','))
			v.push_back(cell);
		if (!l.empty() && l.back() == ',')
			v.push_back("");
		return v;
	};
	if (std::getline(in, line))
		header = split(line);
	while (std::getline(in, line)) {
		auto cells = split(line);
		EXPECT_EQ(cells.size(), header.size()) << line;
		std::map<std::string, std::string> m;
		for (size_t i = 0; i < cells.size() && i < header.size(); i++)
			m[header[i]] = cells[i];
		rows.push_back(m);
	}
	return rows;
}

// A minimal .npy reader for the hand checks: little-endian <f8 only.
struct NpyF8 {
	std::vector<uint64_t> shape;
	std::vector<double> v;
	double at(size_t row, size_t col) const { return v.at(row * (v.size() / std::max<uint64_t>(shape[0], 1)) + col); }
};

NpyF8 read_npy_f8(const std::string &path)
{
	NpyF8 a;
	auto b = cft::read_file(path);
	EXPECT_GE(b.size(), 10u) << path;
	if (b.size() < 10 || memcmp(b.data(), "\x93NUMPY", 6) != 0) {
		ADD_FAILURE() << path << ": not an npy file";
		return a;
	}
	size_t hl, off;
	if (b[6] == 1) {
		hl = b[8] | (size_t)b[9] << 8;
		off = 10;
	} else {
		hl = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
		off = 12;
	}
	std::string h(b.begin() + off, b.begin() + off + hl);
	EXPECT_NE(h.find("'descr': '<f8'"), std::string::npos) << h;
	size_t p = h.find("'shape': (");
	EXPECT_NE(p, std::string::npos) << h;
	std::istringstream s(h.substr(p + 10));
	uint64_t n;
	char sep;
	while (s >> n) {
		a.shape.push_back(n);
		if (!(s >> sep) || sep != ',')
			break;
	}
	size_t count = 1;
	for (auto d : a.shape)
		count *= d;
	const uint8_t *data = b.data() + off + hl;
	EXPECT_EQ(b.size() - off - hl, count * 8) << path;
	a.v.resize(std::min(count, (b.size() - off - hl) / 8));
	memcpy(a.v.data(), data, a.v.size() * 8);
	return a;
}

// Column index of set (0 bidir, 1 src2dst, 2 dst2src) and stat k.
enum { PACKETS = 0, BYTES = 1, DURATION = 2, ACK_PACKETS = 18, FIN_PACKETS = 21 };
size_t col(int set, int k) { return (size_t)(set * 22 + k); }

// ------------------------------------------------------------ the captures

// Two TCP connections: one with data both ways, every flag kind, equal
// timestamps (piat 0), FIN from both sides and the last ACK in the
// linger; one reset by the server.
Capture tcp_connections()
{
	Capture c;
	int f = c.flow4(A, B, 40000, 80, 6);
	c.flows[f].end_reason = "fin";
	c.tcp(f, T0, 0, SYN);
	c.tcp(f, T0 + 1100003, 1, SYN | ACK);
	c.tcp(f, T0 + 2350017, 0, ACK);
	c.tcp(f, T0 + 2360000, 0, PSH | ACK, 517);
	c.tcp(f, T0 + 40000001, 1, ACK);
	c.tcp(f, T0 + 41234567, 1, PSH | ACK, 1460);
	c.tcp(f, T0 + 41234567, 1, ACK, 1460); // same time: piat 0
	c.tcp(f, T0 + 45000000, 1, PSH | ACK, 1460);
	c.tcp(f, T0 + 47500000, 0, URG | ACK, 10);
	c.tcp(f, T0 + 48000000, 1, ECE | CWR | ACK, 200);
	c.tcp(f, T0 + 60000000, 0, ACK);
	c.tcp(f, T0 + 70000000, 1, FIN | ACK);
	c.tcp(f, T0 + 70500000, 0, FIN | PSH | ACK); // closing
	c.tcp(f, T0 + 71000000, 1, ACK);             // within the 2 s linger
	// 3 s later (past the linger: the first flow ends here, so it is row 0)
	int g = c.flow4(C, B, 5555, 443, 6);
	c.flows[g].end_reason = "rst";
	c.tcp(g, T0 + 3 * SEC, 0, SYN);
	c.tcp(g, T0 + 3 * SEC + 250 * US, 1, SYN | ACK);
	c.tcp(g, T0 + 3 * SEC + 500 * US, 0, ACK);
	c.tcp(g, T0 + 3 * SEC + 900 * US, 0, PSH | ACK, 100);
	c.tcp(g, T0 + 3 * SEC + 1500 * US, 1, RST | ACK);
	return c;
}

// Flows of every kind, none closing, so all end at end of input in the
// order of their first packets.
Capture small_flows()
{
	Capture c;
	int f0 = c.flow4(A, C, 5000, 53, 17); // one packet
	c.udp(f0, T0, 0, 30);
	int f1 = c.flow4(A, B, 5001, 53, 17); // dst2src has one packet
	c.udp(f1, T0 + 1 * MS, 0, 40);
	c.udp(f1, T0 + 3 * MS, 0, 40);
	c.udp(f1, T0 + 4 * MS, 1, 200);
	c.udp(f1, T0 + 9 * MS, 0, 41);
	int f2 = c.flow4(A, B, 0x1234, 0x1234, 1); // ICMP echo: the identifier as both ports
	c.echo(f2, T0 + 2 * MS, 0, 1, 56);
	c.echo(f2, T0 + 2400 * US, 1, 1, 56);
	c.echo(f2, T0 + 1002 * MS, 0, 2, 56);
	c.echo(f2, T0 + 1002300 * US, 1, 2, 56);
	c.echo(f2, T0 + 2002 * MS, 0, 3, 64); // unanswered
	int f3 = c.flow6(A6, B6, 5555, 443, 6);
	c.tcp(f3, T0 + 5 * MS, 0, SYN);
	c.tcp(f3, T0 + 6 * MS, 1, SYN | ACK);
	c.tcp(f3, T0 + 7 * MS, 0, ACK);
	c.tcp(f3, T0 + 8 * MS, 0, PSH | ACK, 26);
	c.tcp(f3, T0 + 20 * MS, 1, ACK, 1000);
	int f4 = c.flow4(A, B, 6000, 22, 6, 42); // VLAN 42
	c.tcp(f4, T0 + 10 * MS, 0, PSH | ACK, 48);
	c.tcp(f4, T0 + 11 * MS, 1, ACK);
	c.tcp(f4, T0 + 12 * MS, 1, PSH | ACK, 64);
	int f5 = c.flow4(A, B, 6000, 22, 6); // same 5-tuple, no VLAN: another flow
	c.tcp(f5, T0 + 13 * MS, 0, PSH | ACK, 48);
	int f6 = c.flow4(A, B, 50000, 8080, 6); // first packet a SYN-ACK: its receiver is src
	c.tcp(f6, T0 + 14 * MS, 1, SYN | ACK);
	c.tcp(f6, T0 + 15 * MS, 0, ACK);
	c.tcp(f6, T0 + 30 * MS, 1, PSH | ACK, 300);
	c.tcp(f6, T0 + 31 * MS, 0, ACK);
	int f7 = c.flow6(B6, A6, 546, 547, 17); // IPv6 UDP, one direction
	c.udp(f7, T0 + 40 * MS, 0, 10);
	c.udp(f7, T0 + 41 * MS, 0, 20);
	int f8 = c.flow6(A6, B6, 7, 7, 58); // ICMPv6 echo
	c.echo(f8, T0 + 50 * MS, 0, 1, 16);
	c.echo(f8, T0 + 50500 * US, 1, 1, 16);
	for (auto &f : c.flows)
		f.end_reason = "end_of_input";
	return c;
}

// UDP flows of 2..8 packets with repeated sizes (quantiles interpolate
// between equal and unequal neighbours), mixed directions, repeated gaps.
Capture quantile_flows()
{
	const std::vector<std::vector<int>> sizes = {
		{60, 1514},
		{100, 100, 700},
		{64, 200, 200, 1000},
		{90, 90, 90, 1400, 500},
		{70, 70, 80, 80, 90, 1500},
		{60, 60, 61, 1514, 1514, 300, 61},
		{300, 100, 300, 100, 300, 100, 999, 43},
		{555},
	};
	const std::vector<std::vector<int>> dirs = {
		{0, 1}, {0, 0, 1}, {0, 1, 0, 1}, {0, 1, 1, 0, 1}, {0, 0, 0, 1, 1, 1}, {0, 1, 0, 1, 0, 1, 0},
		{0, 0, 0, 0, 0, 0, 0, 0}, {0},
	};
	const int64_t gaps[] = {3 * MS, 3 * MS, 1, 0, 7 * MS + 11, 3 * MS, 250 * US};
	Capture c;
	for (size_t i = 0; i < sizes.size(); i++) {
		int f = c.flow4(A, B, 7000 + (int)i, 7777, 17);
		int64_t t = T0 + (int64_t)i * 100 * US;
		for (size_t k = 0; k < sizes[i].size(); k++) {
			if (k)
				t += gaps[(k + i) % 7];
			c.udp(f, t, dirs[i][k], (size_t)sizes[i][k] - 42);
		}
	}
	return c;
}

} // namespace

// ---------------------------------------------------------------- tests

TEST(Extract, TcpConnectionsMatchTheOracle)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = tcp_connections();
	Result r = extract({c.write()}, "--dtype float64");
	ASSERT_EQ(r.rc, 0) << r.log;
	check(r, c.flows);
}

TEST(Extract, SmallFlowsOfEveryKindMatchTheOracle)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = small_flows();
	Result r = extract({c.write()}, "--dtype float64");
	ASSERT_EQ(r.rc, 0) << r.log;
	check(r, c.flows);
}

TEST(Extract, QuantilesInterpolateLikeNumpy)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = quantile_flows();
	Result r = extract({c.write()}, "--dtype float64");
	ASSERT_EQ(r.rc, 0) << r.log;
	check(r, c.flows);
}

TEST(Extract, Float32IsTheFeaturesRoundedOnce)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = tcp_connections();
	Result r = extract({c.write()}, ""); // default dtype
	ASSERT_EQ(r.rc, 0) << r.log;
	OracleOpts o;
	o.dtype = "float32";
	check(r, c.flows, o);
}

// 10,000 packets in one TCP flow (pseudo-random sizes 60..1514, gaps and
// flags), a 1,500-packet UDP flow interleaved, a one-packet flow: the
// default piece size (4096), 7, 1 and one larger than any flow must give
// the same bytes, and match the oracle.
TEST(Extract, LongFlowIsTheSameInAnyPieces)
{
	SKIP_WITHOUT_NUMPY();
	Capture c;
	int L = c.flow4(A, B, 33000, 443, 6), M = c.flow4(C, B, 7000, 7001, 17), S = -1;
	std::mt19937_64 rng(20240607);
	const int flagset[] = {ACK, PSH | ACK, URG | ACK, ECE | ACK, CWR | ACK, ACK | PSH | URG | ECE | CWR};
	int64_t t = T0;
	c.tcp(L, t, 0, SYN);
	t += 1234567;
	c.tcp(L, t, 1, SYN | ACK);
	bool m_started = false;
	while (c.flows[L].pk.size() < 10000) {
		t += rng() % 16 == 0 ? 0 : (int64_t)(rng() % (20 * MS));
		uint32_t size = 60 + (uint32_t)(rng() % 1455);
		int dir = (int)(rng() % 2);
		if (!m_started || rng() % 7 == 0) {
			c.udp(M, t, m_started ? dir : 0, size - 42);
			m_started = true;
		} else {
			c.tcp(L, t, dir, flagset[rng() % 6], size - 54);
		}
		if (S < 0 && c.flows[L].pk.size() == 5000) {
			S = c.flow4(A, C, 9, 9, 17);
			c.udp(S, t + 1, 0, 18);
		}
	}
	ASSERT_EQ(c.flows[L].pk.size(), 10000u);
	ASSERT_GT(c.flows[M].pk.size(), 1000u);
	for (auto &f : c.flows)
		f.end_reason = "end_of_input";
	std::string cap = c.write();
	const std::string opts = "--dtype float64 --seq 64";
	Result base = extract({cap}, opts);
	ASSERT_EQ(base.rc, 0) << base.log;
	OracleOpts o;
	o.seq = 64;
	check(base, c.flows, o, "default pieces");
	EXPECT_EQ(slurp(base.dir + "/schema.json").find("\"split_flows\": 0,"), std::string::npos)
	    << "the 10,000-packet flow should be split at 4096";
	for (const char *pieces : {"7", "1", "100000", "7 --threads 2", "4096 --threads 2"}) {
		Result r = extract({cap}, opts + " --piece-packets " + pieces);
		ASSERT_EQ(r.rc, 0) << r.log;
		for (const char *file : {"features.npy", "sequences.npy", "lengths.npy", "flows.csv"})
			EXPECT_TRUE(cft::read_file(base.dir + "/" + file) == cft::read_file(r.dir + "/" + file))
			    << file << " differs with --piece-packets " << pieces;
		std::string schema = slurp(r.dir + "/schema.json");
		bool unsplit = schema.find("\"split_flows\": 0,") != std::string::npos;
		EXPECT_EQ(unsplit, std::string(pieces) == "100000") << pieces << "\n" << schema;
	}
}

TEST(Extract, SequenceLengthPaddingAndLengths)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = quantile_flows(); // flows of 1..8 packets
	{
		Result r = extract({c.write()}, "--dtype float64 --seq 4 --seq-pad -1");
		ASSERT_EQ(r.rc, 0) << r.log;
		OracleOpts o;
		o.seq = 4;
		o.pad = -1;
		check(r, c.flows, o, "--seq 4 --seq-pad -1");
	}
	{
		Result r = extract({c.write()}, "--dtype float64 --seq 50 --seq-pad -1");
		ASSERT_EQ(r.rc, 0) << r.log;
		OracleOpts o;
		o.seq = 50;
		o.pad = -1;
		check(r, c.flows, o, "--seq 50 --seq-pad -1");
	}
	{
		Result r = extract({c.write()}, "--dtype float64 --seq 1");
		ASSERT_EQ(r.rc, 0) << r.log;
		OracleOpts o;
		o.seq = 1;
		check(r, c.flows, o, "--seq 1");
	}
	{
		Result r = extract({c.write()}, "--dtype float64 --seq 0");
		ASSERT_EQ(r.rc, 0) << r.log;
		OracleOpts o;
		o.seq = 0;
		check(r, c.flows, o, "--seq 0"); // also: no sequences/lengths files
		EXPECT_FALSE(exists(r.dir + "/sequences.npy"));
		EXPECT_FALSE(exists(r.dir + "/lengths.npy"));
	}
}

TEST(Extract, ConstantLabel)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = small_flows();
	for (auto &f : c.flows)
		f.label = "X";
	Result r = extract({c.write()}, "--dtype float64 --label X");
	ASSERT_EQ(r.rc, 0) << r.log;
	OracleOpts o;
	o.label_names = {"X"}; // so every id is 0
	check(r, c.flows, o);
	EXPECT_NE(slurp(r.dir + "/schema.json").find("\"names\": [\"X\"]"), std::string::npos);
}

TEST(Extract, LabelFromDirectory)
{
	SKIP_WITHOUT_NUMPY();
	std::string base = cft::temp_path("_dirs");
	ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/chat").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/voip").c_str(), 0755), 0);
	// chat/a: 2 flows; voip/b: 3 flows; chat/c: 1 flow (back to "chat").
	Capture a, b, cc;
	int f = a.flow4(A, B, 1000, 2000, 17);
	a.udp(f, T0, 0, 10);
	a.udp(f, T0 + 5 * MS, 1, 20);
	f = a.flow4(A, B, 1001, 80, 6);
	a.tcp(f, T0 + 6 * MS, 0, SYN);
	for (auto &x : a.flows)
		x.label = "chat";
	f = b.flow4(C, B, 5060, 5061, 17);
	b.udp(f, T0 + 10 * MS, 0, 100);
	b.udp(f, T0 + 30 * MS, 1, 100);
	b.udp(f, T0 + 50 * MS, 0, 100);
	f = b.flow4(C, A, 16384, 16386, 17);
	b.udp(f, T0 + 11 * MS, 0, 172);
	f = b.flow4(C, A, 16385, 16387, 17);
	b.udp(f, T0 + 12 * MS, 0, 172);
	for (auto &x : b.flows)
		x.label = "voip";
	f = cc.flow4(B, C, 443, 50001, 6);
	cc.tcp(f, T0 + 100 * MS, 0, ACK, 5);
	cc.flows[f].label = "chat";
	std::string pa = base + "/chat/a.pcap", pb = base + "/voip/b.pcap", pc = base + "/chat/c.pcap";
	a.write(pa);
	b.write(pb);
	cc.write(pc);
	Result r = extract({pa, pb, pc}, "--dtype float64 --label-from-dir");
	ASSERT_EQ(r.rc, 0) << r.log;
	std::vector<FlowSpec> all = a.flows;
	all.insert(all.end(), b.flows.begin(), b.flows.end());
	all.insert(all.end(), cc.flows.begin(), cc.flows.end());
	check(r, all); // flows in file order, each with its directory's label
}

// A directory (or a quoted glob) given to extract or flowpic without --jobs
// is its files in name order, as for `cuflow flows`: the outputs equal
// those of the files named one by one (the traffic lab's layout: one
// directory per class, for --label-from-dir).
TEST(Extract, DirectoryArgumentIsItsFilesInNameOrder)
{
	std::string base = cft::temp_path("_dirarg");
	ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/chat").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/voip").c_str(), 0755), 0);
	Capture a, b, cc;
	int f = a.flow4(A, B, 1000, 2000, 17);
	for (int i = 0; i < 12; i++)
		a.udp(f, T0 + i * 50 * MS, i & 1, 40 + 10 * i);
	f = b.flow4(C, B, 5060, 5061, 17);
	for (int i = 0; i < 12; i++)
		b.udp(f, T0 + i * 20 * MS, 0, 172);
	f = cc.flow4(B, C, 443, 50001, 6);
	cc.tcp(f, T0 + 100 * MS, 0, ACK, 5);
	std::string pa = base + "/chat/a.pcap", pb = base + "/voip/b.pcap", pc = base + "/chat/c.pcap";
	a.write(pa);
	b.write(pb);
	cc.write(pc);
	Result named = extract({pa, pc, pb}, "--label-from-dir");
	ASSERT_EQ(named.rc, 0) << named.log;
	for (std::string arg : {base, base + "/*/*.pcap"}) {
		Result whole = extract({arg}, "--label-from-dir");
		ASSERT_EQ(whole.rc, 0) << whole.log;
		for (const char *file : {"features.npy", "labels.npy", "flows.csv", "schema.json", "sequences.npy"})
			EXPECT_EQ(cft::slurp(whole.dir + "/" + file), cft::slurp(named.dir + "/" + file)) << arg << " " << file;
	}
	for (std::string arg : {base, base + "/*/*.pcap"}) {
		std::string d1 = cft::temp_path("_fp_named"), d2 = cft::temp_path("_fp_dir"), log;
		std::string fp = cft::shq(cft::cuflow_bin()) + " flowpic -q --preset mini --min-packets 2 --label-from-dir ";
		ASSERT_EQ(cft::run(fp + cft::shq(pa) + " " + cft::shq(pc) + " " + cft::shq(pb) + " -o " + cft::shq(d1), &log), 0)
		        << log;
		ASSERT_EQ(cft::run(fp + cft::shq(arg) + " -o " + cft::shq(d2), &log), 0) << log;
		for (const char *file : {"flowpic.npy", "index.csv", "labels.npy"})
			EXPECT_EQ(cft::slurp(d1 + "/" + file), cft::slurp(d2 + "/" + file)) << arg << " " << file;
		EXPECT_GT(cft::slurp(d1 + "/index.csv").size(), 60u);
	}
	// A glob that matches nothing is refused by name.
	Result none = extract({base + "/*/*.pcapng"}, "");
	EXPECT_NE(none.rc, 0);
	EXPECT_NE(none.log.find("no input matches"), std::string::npos) << none.log;
}

// Rules CSV: precedence, CIDR, either orientation, epoch-second ranges;
// with --default-label every flow is a row, without it the unmatched
// flows are dropped and the rows stay aligned.
TEST(Extract, LabelRulesCsv)
{
	SKIP_WITHOUT_NUMPY();
	std::string rules = cft::temp_path("_rules.csv");
	std::string text = "src_ip,dst_ip,src_port,dst_port,protocol,start,end,label\n"
	                   "10.0.0.1,10.0.0.2,*,80,tcp," + std::to_string(T0S) + "," + std::to_string(T0S + 10) +
	                   ",web-attack\n"
	                   "10.0.0.0/24,*,*,53,udp,,,dns\n"
	                   "10.0.0.3,10.0.0.2,*,*,*," + std::to_string(T0S + 100) + ".5," + std::to_string(T0S + 200) +
	                   ",late\n";
	cft::write_file(rules, std::vector<uint8_t>(text.begin(), text.end()));
	Capture c;
	int f0 = c.flow4(A, B, 40000, 80, 6); // rule 1
	c.tcp(f0, T0 + 1 * SEC, 0, SYN);
	c.tcp(f0, T0 + 1200 * MS, 1, SYN | ACK);
	c.tcp(f0, T0 + 1300 * MS, 0, ACK);
	c.flows[f0].label = "web-attack";
	int f1 = c.flow4(A, B, 5353, 53, 17); // rule 2
	c.udp(f1, T0 + 2 * SEC, 0, 30);
	c.udp(f1, T0 + 2010 * MS, 1, 90);
	c.flows[f1].label = "dns";
	int f2 = c.flow4(B, A, 80, 40002, 6); // rule 1 reversed (flow src is the rule's dst)
	c.tcp(f2, T0 + 5 * SEC, 0, ACK, 100);
	c.tcp(f2, T0 + 5100 * MS, 1, ACK);
	c.flows[f2].label = "web-attack";
	int f3 = c.flow4(A, B, 40001, 80, 6); // rule 1's tuple after its end: nothing
	c.tcp(f3, T0 + 20 * SEC, 0, SYN);
	c.flows[f3].label = "benign";
	int f4 = c.flow4(C, B, 6001, 80, 6); // rule 3's hosts before its start: nothing
	c.tcp(f4, T0 + 50 * SEC, 0, SYN);
	c.flows[f4].label = "benign";
	int f5 = c.flow4(C, B, 6000, 80, 6); // rule 3
	c.tcp(f5, T0 + 150 * SEC, 0, ACK);
	c.tcp(f5, T0 + 150500 * MS, 1, ACK);
	c.flows[f5].label = "late";
	int f6 = c.flow4(C, B, 1234, 53, 17); // rules 2 and 3: the earlier wins
	c.udp(f6, T0 + 160 * SEC, 0, 30);
	c.flows[f6].label = "dns";
	// At T0+150 s flows 0..3 have been idle >= 120 s; 4..6 end at the end.
	for (int i = 0; i < 7; i++)
		c.flows[i].end_reason = i < 4 ? "idle" : "end_of_input";
	std::string cap = c.write();

	Result r = extract({cap}, "--dtype float64 --labels " + cft::shq(rules) + " --default-label benign");
	ASSERT_EQ(r.rc, 0) << r.log;
	OracleOpts o;
	o.label_names = {"web-attack", "dns", "late", "benign"};
	check(r, c.flows, o, "with --default-label");
	EXPECT_NE(slurp(r.dir + "/schema.json").find("\"dropped_flows\": 0"), std::string::npos);

	Result d = extract({cap}, "--dtype float64 --labels " + cft::shq(rules));
	ASSERT_EQ(d.rc, 0) << d.log;
	std::vector<FlowSpec> kept;
	for (auto &f : c.flows)
		if (f.label != "benign")
			kept.push_back(f);
	ASSERT_EQ(kept.size(), 5u);
	o.label_names = {"web-attack", "dns", "late"};
	check(d, kept, o, "without a default label");
	EXPECT_NE(slurp(d.dir + "/schema.json").find("\"dropped_flows\": 2"), std::string::npos);
	auto rows = read_flows_csv(d.dir + "/flows.csv");
	ASSERT_EQ(rows.size(), 5u);
	EXPECT_EQ(rows[3]["label"], "late");
	EXPECT_EQ(rows[3]["row"], "3");
	EXPECT_EQ(rows[3]["id"], "6"); // flow ids still count the dropped flows
}

TEST(Extract, ShardsConcatenateToTheWhole)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = small_flows(); // 9 flows
	ASSERT_EQ(c.flows.size(), 9u);
	for (auto &f : c.flows)
		f.label = "X";
	std::string cap = c.write();
	Result whole = extract({cap}, "--dtype float64 --label X");
	ASSERT_EQ(whole.rc, 0) << whole.log;
	for (int rows : {4, 9, 1, 100}) {
		Result s = extract({cap}, "--dtype float64 --label X --shard-rows " + std::to_string(rows));
		ASSERT_EQ(s.rc, 0) << s.log;
		check_shards(whole.dir, s.dir, rows);
		check(s, c.flows, OracleOpts(), "sharded by " + std::to_string(rows));
	}
}

TEST(Extract, TruncatedCaptureExitsTwoAndKeepsTheIntactPackets)
{
	SKIP_WITHOUT_NUMPY();
	Capture c;
	int f0 = c.flow4(A, B, 1000, 80, 6);
	c.tcp(f0, T0, 0, SYN);
	c.tcp(f0, T0 + 1 * MS, 1, SYN | ACK);
	c.tcp(f0, T0 + 2 * MS, 0, ACK, 300);
	int f1 = c.flow4(A, B, 2000, 53, 17);
	c.udp(f1, T0 + 3 * MS, 0, 20);
	c.udp(f1, T0 + 4 * MS, 1, 120);
	c.udp(f1, T0 + 5 * MS, 0, 220); // the damaged record
	std::string bad = c.write();
	auto bytes = cft::read_file(bad);
	bytes.resize(bytes.size() - 20); // cut inside the last record
	cft::write_file(bad, bytes);
	c.flows[f1].pk.pop_back();
	Capture g; // a good capture after it is still read
	int h = g.flow4(C, A, 4444, 5555, 17);
	g.udp(h, T0 + 1 * SEC, 0, 10);
	g.udp(h, T0 + 2 * SEC, 1, 11);
	Result r = extract({bad, g.write()}, "--dtype float64");
	EXPECT_EQ(r.rc, 2) << r.log;
	EXPECT_NE(r.log.find(bad), std::string::npos) << "the damaged file is named\n" << r.log;
	std::vector<FlowSpec> all = c.flows;
	all.push_back(g.flows[0]);
	check(r, all);
}

TEST(Extract, UnwritableOutputExitsOneNamingThePath)
{
	Capture c = quantile_flows();
	std::string cap = c.write();
	// the output's parent is a regular file
	std::string file = cft::temp_path("_file");
	cft::write_file(file, {1, 2, 3});
	Result r = extract({cap}, "", file + "/out");
	EXPECT_EQ(r.rc, 1) << r.log;
	EXPECT_NE(r.log.find(file + "/out"), std::string::npos) << r.log;
	// an output file's name is taken by a directory
	for (const char *name : {"features.npy", "sequences.npy", "flows.csv"}) {
		std::string dir = cft::temp_path("_busy");
		ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
		ASSERT_EQ(mkdir((dir + "/" + name).c_str(), 0755), 0);
		Result b = extract({cap}, "", dir);
		EXPECT_EQ(b.rc, 1) << name << ": " << b.log;
		EXPECT_NE(b.log.find(dir + "/" + name), std::string::npos) << name << ": " << b.log;
	}
}

// --unidirectional: each direction is its own flow with its sender as
// src (no SYN-ACK flip), echo request and reply apart (keyed by type,
// ports 0), so every packet is src2dst and dst2src is all zeros.
TEST(Extract, UnidirectionalFlowsMatchTheOracle)
{
	SKIP_WITHOUT_NUMPY();
	Capture c;
	int ua = c.flow4(A, B, 5001, 53, 17);
	int tb = c.flow4(B, A, 8080, 50000, 6);
	int ub = c.flow4(B, A, 53, 5001, 17);
	int ta = c.flow4(A, B, 50000, 8080, 6);
	int ea = c.flow4(A, B, 0, 0, 1);
	int eb = c.flow4(B, A, 0, 0, 1);
	c.udp(ua, T0 + 1 * MS, 0, 40);
	c.tcp(tb, T0 + 2 * MS, 0, SYN | ACK);
	c.udp(ua, T0 + 3 * MS, 0, 40);
	c.udp(ub, T0 + 4 * MS, 0, 200);
	c.tcp(ta, T0 + 5 * MS, 0, ACK);
	c.echo(ea, T0 + 6 * MS, 0, 1, 56, 8, 0x1234);
	c.echo(eb, T0 + 7 * MS, 0, 1, 56, 0, 0x1234);
	c.tcp(tb, T0 + 8 * MS, 0, PSH | ACK, 300);
	c.echo(ea, T0 + 1006 * MS, 0, 2, 56, 8, 0x1234);
	c.tcp(ta, T0 + 1100 * MS, 0, ACK);
	for (auto &f : c.flows)
		f.end_reason = "end_of_input";
	Result r = extract({c.write()}, "--dtype float64 --unidirectional");
	ASSERT_EQ(r.rc, 0) << r.log;
	check(r, c.flows);
}

// The CIC-IDS2017 artefact (CICFlowMeter ends a flow at the second FIN,
// so the final ACK becomes a one-packet flow of its own): here the ACK
// 0.5 s after the FINs stays in the connection (2 s linger); only with
// --tcp-linger 0 does it make a flow of its own.
TEST(Extract, TrailingAckJoinsTheClosedConnection)
{
	Capture c;
	int f = c.flow4(A, B, 40000, 80, 6);
	c.tcp(f, T0, 0, SYN);
	c.tcp(f, T0 + 1 * MS, 1, SYN | ACK);
	c.tcp(f, T0 + 2 * MS, 0, ACK);
	c.tcp(f, T0 + 3 * MS, 0, PSH | ACK, 100);
	c.tcp(f, T0 + 4 * MS, 1, ACK);
	c.tcp(f, T0 + 10 * MS, 0, FIN | ACK);
	c.tcp(f, T0 + 11 * MS, 1, FIN | ACK);  // FIN from both sides: closing
	c.tcp(f, T0 + 511 * MS, 0, ACK);       // the final ACK, 0.5 s later
	std::string cap = c.write();

	// default: one flow of 8 packets (A sent 5, B 3; 7 with ACK, 2 FIN)
	Result r = extract({cap}, "--dtype float64");
	ASSERT_EQ(r.rc, 0) << r.log;
	auto rows = read_flows_csv(r.dir + "/flows.csv");
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0]["end_reason"], "fin");
	EXPECT_EQ(rows[0]["last_seen_ns"], std::to_string(T0 + 511 * MS));
	NpyF8 x = read_npy_f8(r.dir + "/features.npy");
	ASSERT_EQ(x.shape, (std::vector<uint64_t>{1, 66}));
	EXPECT_EQ(x.at(0, col(0, PACKETS)), 8);
	EXPECT_EQ(x.at(0, col(1, PACKETS)), 5);
	EXPECT_EQ(x.at(0, col(2, PACKETS)), 3);
	EXPECT_EQ(x.at(0, col(0, ACK_PACKETS)), 7);
	EXPECT_EQ(x.at(0, col(0, FIN_PACKETS)), 2);
	EXPECT_EQ(x.at(0, col(0, DURATION)), 511 * MS);
	EXPECT_EQ(x.at(0, col(0, BYTES)), 8 * 54 + 100);

	// --tcp-linger 0: the flow ends at the second FIN (7 packets: A 4, B 3);
	// the ACK starts a new one-packet flow (A -> B, ended by end of input).
	Result z = extract({cap}, "--dtype float64 --tcp-linger 0");
	ASSERT_EQ(z.rc, 0) << z.log;
	rows = read_flows_csv(z.dir + "/flows.csv");
	ASSERT_EQ(rows.size(), 2u);
	EXPECT_EQ(rows[0]["end_reason"], "fin");
	EXPECT_EQ(rows[0]["last_seen_ns"], std::to_string(T0 + 11 * MS));
	EXPECT_EQ(rows[1]["end_reason"], "end_of_input");
	EXPECT_EQ(rows[1]["src_ip"], "10.0.0.1");
	EXPECT_EQ(rows[1]["src_port"], "40000");
	EXPECT_EQ(rows[1]["first_seen_ns"], std::to_string(T0 + 511 * MS));
	x = read_npy_f8(z.dir + "/features.npy");
	ASSERT_EQ(x.shape, (std::vector<uint64_t>{2, 66}));
	EXPECT_EQ(x.at(0, col(0, PACKETS)), 7);
	EXPECT_EQ(x.at(0, col(1, PACKETS)), 4);
	EXPECT_EQ(x.at(0, col(2, PACKETS)), 3);
	EXPECT_EQ(x.at(1, col(0, PACKETS)), 1);
	EXPECT_EQ(x.at(1, col(1, PACKETS)), 1);
	EXPECT_EQ(x.at(1, col(2, PACKETS)), 0);
	EXPECT_EQ(x.at(1, col(0, ACK_PACKETS)), 1);
	EXPECT_EQ(x.at(1, col(0, DURATION)), 0);

	if (cft::numpy_python().empty())
		return;
	// and both agree with the oracle on every feature
	c.flows[f].end_reason = "fin";
	check(r, c.flows, OracleOpts(), "default linger");
	Capture split = c;
	split.flows[f].pk.pop_back();
	int g = split.flow4(A, B, 40000, 80, 6);
	split.flows[g].pk.push_back(c.flows[f].pk.back());
	split.flows[g].end_reason = "end_of_input";
	check(z, split.flows, OracleOpts(), "--tcp-linger 0");
}

// ---------------------------------------------------------------- known bugs
// Disabled: they fail on the current code (see the report that came with
// this file); enable them with the fix.

// --seq-pad nan (a common "masked" padding) is accepted, and the arrays
// are right, but schema.json then holds "pad": nan, which is not JSON.
TEST(Extract, NanPaddingKeepsSchemaJsonValid)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = quantile_flows();
	Result r = extract({c.write()}, "--seq-pad nan");
	ASSERT_EQ(r.rc, 0) << r.log;
	std::string out;
	EXPECT_EQ(cft::run(cft::shq(cft::numpy_python()) + " -c 'import json,sys; json.load(open(sys.argv[1]))' " +
	                       cft::shq(r.dir + "/schema.json"),
	                   &out),
	          0)
	    << out;
}

// A label with a comma (a --label value, a directory name with
// --label-from-dir, a CSV label) is written into flows.csv unquoted, so
// the row gets an extra column.
TEST(Extract, LabelWithACommaKeepsFlowsCsvAligned)
{
	SKIP_WITHOUT_NUMPY();
	Capture c = quantile_flows();
	Result r = extract({c.write()}, "--label 'web, attack'");
	ASSERT_EQ(r.rc, 0) << r.log;
	std::string out;
	EXPECT_EQ(cft::run(cft::shq(cft::numpy_python()) +
	                       " -c 'import csv,sys; rows=list(csv.reader(open(sys.argv[1]))); "
	                       "assert all(len(x) == 14 for x in rows), rows[1]; assert rows[1][13] == \"web, attack\"' " +
	                       cft::shq(r.dir + "/flows.csv"),
	                   &out),
	          0)
	    << out;
}

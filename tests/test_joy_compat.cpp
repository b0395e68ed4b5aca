// `cuflow flows --joy-compat`: Cisco Joy 4.5.0's records as `joy bidir=1`
// writes them (every other setting at its default), one quirk per test.
// Each test writes a small capture (microsecond timestamps: Joy prints
// exact microseconds as %ld.%06ld), drops the configuration line and
// compares every record line with a literal written out by hand from Joy's
// rules (docs/flows.md, "Joy 4.5.0 exactly"); the comments derive the
// values that are not obvious. Reminders of the rules used throughout:
// - "b" is the L4 payload; only packets with payload > 0 are listed, but
//   every packet counts in num_pkts, ttl (the minimum) and the IP id list;
// - two-sided records merge the client's packets (">") with the other
//   side's ("<"), a tie going to the other side; ipt is the time since the
//   previous listed packet (the first: since time_start, the client's first
//   packet of any size), floored to whole ms and wrapping mod 2^32 when
//   negative; a one-sided record lists all as "<", the first with ipt 0;
// - the client: TLS/HTTP keyword in the first payloads, then a DNS query
//   (marks the querier as the server), then the pure SYN / SYN-ACK, then
//   the side seen first; time_end is the first-seen side's last packet
//   when a client was identified, else the later end of the two;
// - expiry (10 s idle, 30 s active, over both directions) is checked only
//   after every 10 packets that pass Joy's filter "ip or ip6 or vlan"; a
//   record printed at the end of the capture has no expire_type.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using cft::shq;
using Bytes = std::vector<uint8_t>;

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint8_t kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
// 10.0.0.1 .. 10.0.0.4 and 10.0.0.53
const uint32_t A = 0x0a000001, B = 0x0a000002, C = 0x0a000003, D = 0x0a000004, R = 0x0a000035;
// 1700000000 s: every record's times print as 1700000000.uuuuuu
const int64_t T0 = 1700000000ll * 1000000000ll;

// A frame at T0 + us microseconds.
cft::Frame at(int64_t us, const Bytes &bytes, uint32_t wirelen = 0)
{
	return {T0 + us * 1000, bytes, wirelen};
}

Bytes fill(size_t n, uint8_t b = 0x61) { return Bytes(n, b); }

// Ethernet + IPv4.
Bytes e4(uint32_t s, uint32_t d, uint8_t proto, const Bytes &l4, uint8_t ttl, uint16_t id, uint16_t frag = 0)
{
	return cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(s, d, proto, l4, ttl, id, frag));
}

// A TCP segment with options (a multiple of 4 bytes) and the given payload.
Bytes tcpo(uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint16_t flags, uint16_t win, const Bytes &opts,
           const Bytes &payload)
{
	Bytes v = cft::tcp(sp, dp, seq, ack, flags, win, 0);
	v[12] = (uint8_t)(((20 + opts.size()) / 4) << 4);
	v.insert(v.end(), opts.begin(), opts.end());
	v.insert(v.end(), payload.begin(), payload.end());
	return v;
}

// TCP without options, payload of n bytes 'a' (no keyword of Joy's).
Bytes tcpn(uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint16_t flags, uint16_t win, size_t n)
{
	return cft::tcp(sp, dp, seq, ack, flags, win, n);
}

const uint16_t SYN = 0x02, SYNACK = 0x12, ACK = 0x10, PSHACK = 0x18;

// Runs `cuflow flows -q --joy-compat PCAP -o -`; the lines of stdout.
std::vector<std::string> joy_lines(const std::vector<cft::Frame> &frames)
{
	std::string pcap = cft::temp_path(".pcap"), err = cft::temp_path(".err"), out;
	cft::write_pcap(pcap, 1, frames);
	int rc = cft::run("(" + cft::cuflow_bin() + " flows -q --joy-compat " + shq(pcap) + " -o - 2>" + shq(err) +
	                      ")",
	                  &out);
	EXPECT_EQ(rc, 0) << cft::slurp(err);
	std::vector<std::string> v;
	std::istringstream in(out);
	std::string line;
	while (std::getline(in, line))
		v.push_back(line);
	return v;
}

// The record lines (the configuration line dropped).
std::vector<std::string> joy_records(const std::vector<cft::Frame> &frames)
{
	auto v = joy_lines(frames);
	if (!v.empty()) {
		EXPECT_NE(v[0].find("\"end-config\""), std::string::npos) << "first line is not the config: " << v[0];
		v.erase(v.begin());
	}
	return v;
}

void expect_records(const std::vector<std::string> &got, const std::vector<std::string> &want)
{
	std::string all;
	for (auto &l : got)
		all += l + "\n";
	ASSERT_EQ(got.size(), want.size()) << all;
	for (size_t i = 0; i < want.size(); i++)
		EXPECT_EQ(got[i], want[i]) << "record " << i;
}

} // namespace

TEST(JoyCompat, ConfigLine)
{
	auto lines = joy_lines({at(0, e4(A, B, 17, cft::udp(1, 2, fill(4)), 64, 1))});
	ASSERT_EQ(lines.size(), 2u);
	const std::string &c = lines[0];
	ASSERT_FALSE(c.empty());
	EXPECT_EQ(c.front(), '{') << c;
	EXPECT_EQ(c.back(), '}') << c;
	EXPECT_NE(c.find("\"bidir\":1"), std::string::npos) << c;
	EXPECT_NE(c.find("\"num_pkts\":50"), std::string::npos) << c;
	EXPECT_NE(c.find("\"end-config\""), std::string::npos) << c;
	// valid JSON (checked with python3 when there is one)
	if (cft::run("command -v python3 >/dev/null 2>&1") == 0) {
		std::string path = cft::temp_path(".json"), log;
		cft::write_file(path, Bytes(c.begin(), c.end()));
		EXPECT_EQ(cft::run("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " + shq(path), &log), 0)
			<< log << c;
	}
}

// 1. TCP handshake with options, a TLS ClientHello prefix, server data.
TEST(JoyCompat, TcpHandshakeTls)
{
	// client SYN options: mss 1460, sack-permitted, ts 100/0, nop, ws 7 (20 bytes)
	Bytes copt = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7};
	// server SYN-ACK options: mss 1400, sack-permitted, ts 200/100, nop, ws 6
	Bytes sopt = {2, 4, 0x05, 0x78, 4, 2, 8, 10, 0, 0, 0, 200, 0, 0, 0, 100, 1, 3, 3, 6};
	Bytes hello = fill(200, 0);
	const uint8_t prefix[] = {0x16, 0x03, 0x01, 0x00, 0xc3, 0x01};
	std::copy(prefix, prefix + 6, hello.begin());
	std::vector<cft::Frame> f = {
		at(0, e4(A, B, 6, tcpo(40000, 443, 1000, 0, SYN, 29200, copt, {}), 64, 100)),
		at(1500, e4(B, A, 6, tcpo(443, 40000, 5000, 1001, SYNACK, 28960, sopt, {}), 56, 0)),
		at(2900, e4(A, B, 6, tcpn(40000, 443, 1001, 5001, ACK, 229, 0), 64, 101)),
		at(3400, e4(A, B, 6, tcpo(40000, 443, 1001, 5001, PSHACK, 229, {}, hello), 63, 102)),
		at(6950, e4(B, A, 6, tcpn(443, 40000, 5001, 1201, ACK, 227, 1000), 57, 1)),
		at(7100, e4(B, A, 6, tcpn(443, 40000, 6001, 1201, PSHACK, 227, 300), 57, 2)),
		at(9999, e4(A, B, 6, tcpn(40000, 443, 1201, 6301, ACK, 229, 0), 64, 103)),
		at(12500, e4(A, B, 6, tcpn(40000, 443, 1201, 6301, PSHACK, 229, 50), 64, 104)),
		at(15000, e4(B, A, 6, tcpn(443, 40000, 6301, 1251, ACK, 227, 0), 60, 3)),
	};
	// Client: the ClientHello (and the SYN). out: 5 packets (SYN, ACK, 200,
	// ACK, 50) = 250 bytes; in: 4 packets (SYN-ACK, 1000, 300, ACK) = 1300.
	// time_end is the client's (first-seen side's) last packet, 12.5 ms,
	// not the server's ACK at 15 ms. ipt from the SYN at 0: 3.4 -> 3,
	// 6.95-3.4 = 3.55 -> 3, 0.15 -> 0, 12.5-7.1 = 5.4 -> 5. Minimum TTLs 63
	// and 56; ids of every packet, the empty ones included. tcp: first_seq of
	// the SYN, flags/window/options of the SYN and the SYN-ACK, opt_len 20.
	// Windows 29200/28960 are in no row of Joy's OS table: no probable_os.
	expect_records(
		joy_records(f),
		{R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":6,"sp":40000,"dp":443,"bytes_out":250,"num_pkts_out":5,)"
		 R"("bytes_in":1300,"num_pkts_in":4,"time_start":1700000000.000000,"time_end":1700000000.012500,)"
		 R"("packets":[{"b":200,"dir":">","ipt":3},{"b":1000,"dir":"<","ipt":3},{"b":300,"dir":"<","ipt":0},)"
		 R"({"b":50,"dir":">","ipt":5}],)"
		 R"("ip":{"out":{"ttl":63,"id":[100,101,102,103,104]},"in":{"ttl":56,"id":[0,1,2,3]}},)"
		 R"("tcp":{"first_seq":1000,)"
		 R"("out":{"flags":"S","first_window_size":29200,"opt_len":20,"opts":[{"mss":1460},{"sackp":null},)"
		 R"({"ts":{"val":100,"ecr":0}},{"noop":null},{"ws":7}]},)"
		 R"("in":{"flags":"SA","first_window_size":28960,"opt_len":20,"opts":[{"mss":1400},{"sackp":null},)"
		 R"({"ts":{"val":200,"ecr":100}},{"noop":null},{"ws":6}]}}})"});
}

// 2. DNS: the querier's direction is marked "server", the resolver is sa.
TEST(JoyCompat, DnsResolverIsSource)
{
	// question: example.com, type A or AAAA, class IN (17 bytes)
	auto question = [](uint8_t type) {
		Bytes q = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, type, 0, 1};
		return q;
	};
	// query: id abcd, flags 0x0100, QD 1, AN 0, NS 0, AR 0 (12 + 17 = 29 bytes)
	auto query = [&](uint8_t type) {
		return cft::cat({0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, question(type));
	};
	// response: flags 0x8180, AN 1; A answer 16 bytes (45 in all), AAAA 28 (57)
	Bytes ra = cft::cat(cft::cat({0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, question(1)),
	                    {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34});
	Bytes raaaa = cft::cat(cft::cat({0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0}, question(28)),
	                       cft::cat({0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0x0e, 0x10, 0, 16}, fill(16, 0x20)));
	ASSERT_EQ(ra.size(), 45u);
	ASSERT_EQ(raaaa.size(), 57u);
	std::vector<cft::Frame> f = {
		at(0, e4(A, R, 17, cft::udp(33333, 53, query(1)), 64, 10)),
		at(1000, e4(A, R, 17, cft::udp(33333, 53, query(28)), 64, 11)),
		at(40500, e4(R, A, 17, cft::udp(53, 33333, ra), 120, 500)),
		at(41000, e4(R, A, 17, cft::udp(53, 33333, raaaa), 118, 501)),
	};
	// The query pattern (?? ?? 01 00 00 01 00 00) marks the querier as the
	// server, so the resolver's side is sa ("out", ">"): time_start is its
	// first packet (40.5 ms) but time_end is the first-seen side's (the
	// querier's) last packet, 1.0 ms: time_end < time_start. The merge
	// starts from time_start: the first query is 40.5 ms before it, which
	// floors to -41 ms = 4294967255 mod 2^32; then 1.0 -> 1, 40.5-1.0 = 39.5
	// -> 39, 0.5 -> 0. Printed at the end of the capture: no expire_type.
	expect_records(
		joy_records(f),
		{R"({"sa":"10.0.0.53","da":"10.0.0.1","pr":17,"sp":53,"dp":33333,"bytes_out":102,"num_pkts_out":2,)"
		 R"("bytes_in":58,"num_pkts_in":2,"time_start":1700000000.040500,"time_end":1700000000.001000,)"
		 R"("packets":[{"b":29,"dir":"<","ipt":4294967255},{"b":29,"dir":"<","ipt":1},)"
		 R"({"b":45,"dir":">","ipt":39},{"b":57,"dir":">","ipt":0}],)"
		 R"("ip":{"out":{"ttl":118,"id":[500,501]},"in":{"ttl":64,"id":[10,11]}}})"});
}

// 3. A one-sided UDP flow: no "in" keys, every packet "<".
TEST(JoyCompat, OneSidedUdp)
{
	std::vector<cft::Frame> f = {
		at(0, e4(A, B, 17, cft::udp(5000, 6000, {}), 64, 20)),
		at(2500, e4(A, B, 17, cft::udp(5000, 6000, fill(100)), 62, 21)),
		at(7800, e4(A, B, 17, cft::udp(5000, 6000, fill(50)), 64, 22)),
	};
	// The empty datagram counts (3 packets, its id listed, time_start 0)
	// but is not listed; the first listed packet has ipt 0 (not 2.5 ms from
	// time_start), the next 7.8-2.5 = 5.3 -> 5. ip has only "out".
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":5000,"dp":6000,"bytes_out":150,)"
	                R"("num_pkts_out":3,"time_start":1700000000.000000,"time_end":1700000000.007800,)"
	                R"("packets":[{"b":100,"dir":"<","ipt":0},{"b":50,"dir":"<","ipt":5}],)"
	                R"("ip":{"out":{"ttl":62,"id":[20,21,22]}}})"});
}

// 4. A TCP retransmission is left out of everything but debug.tcp_retrans.
TEST(JoyCompat, TcpRetransmission)
{
	std::vector<cft::Frame> f = {
		at(0, e4(A, B, 6, tcpn(40002, 80, 100, 0, SYN, 1000, 0), 64, 1)),
		at(800, e4(B, A, 6, tcpn(80, 40002, 900, 101, SYNACK, 2000, 0), 50, 50)),
		at(1600, e4(A, B, 6, tcpn(40002, 80, 101, 901, ACK, 1000, 0), 64, 2)),
		at(10000, e4(A, B, 6, tcpn(40002, 80, 101, 901, PSHACK, 1000, 100), 64, 3)),
		at(12000, e4(B, A, 6, tcpn(80, 40002, 901, 201, PSHACK, 2000, 20), 50, 51)),
		at(20000, e4(A, B, 6, tcpn(40002, 80, 201, 921, PSHACK, 1000, 40), 64, 4)),
		at(25000, e4(B, A, 6, tcpn(80, 40002, 921, 241, ACK, 2000, 0), 50, 52)),
		// seq 101 again: a retransmission (ttl 30 would lower the minimum)
		at(300000, e4(A, B, 6, tcpn(40002, 80, 101, 921, PSHACK, 1000, 100), 30, 5)),
	};
	// Client by the SYN. out: SYN, ACK, 100, 40 = 4 packets, 140 bytes, ids
	// 1-4, ttl 64 (the retransmission's 30 and id 5 are not taken); in: 3
	// packets, 20 bytes. time_end: the client's last counted packet, 20 ms
	// (the retransmission at 300 ms does not move it). ipt 10, 2, 8. No
	// options: tcp has flags and windows only.
	expect_records(
		joy_records(f),
		{R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":6,"sp":40002,"dp":80,"bytes_out":140,"num_pkts_out":4,)"
		 R"("bytes_in":20,"num_pkts_in":3,"time_start":1700000000.000000,"time_end":1700000000.020000,)"
		 R"("packets":[{"b":100,"dir":">","ipt":10},{"b":20,"dir":"<","ipt":2},{"b":40,"dir":">","ipt":8}],)"
		 R"("ip":{"out":{"ttl":64,"id":[1,2,3,4]},"in":{"ttl":50,"id":[50,51,52]}},)"
		 R"("tcp":{"first_seq":100,"out":{"flags":"S","first_window_size":1000},)"
		 R"("in":{"flags":"SA","first_window_size":2000}},"debug":{"tcp_retrans":1}})"});
}

// 5. Idle expiry only after every 10 packets passing Joy's filter; ARP
// frames do not count.
TEST(JoyCompat, IdleExpiryAtTenPacketBoundary)
{
	// X = 10.0.0.1:1000 -> .2:2000, Z = 10.0.0.4:5000 -> .2:6000, Y = 10.0.0.3:3000 -> .2:4000 (empty)
	auto X = [](int64_t us, size_t n, uint16_t id) { return at(us, e4(A, B, 17, cft::udp(1000, 2000, fill(n)), 64, id)); };
	auto Z = [](int64_t us, size_t n, uint16_t id) { return at(us, e4(D, B, 17, cft::udp(5000, 6000, fill(n)), 64, id)); };
	auto Y = [](int64_t us, uint16_t id) { return at(us, e4(C, B, 17, cft::udp(3000, 4000, {}), 64, id)); };
	auto arp = [](int64_t us) {
		Bytes body = {0, 1, 8, 0, 6, 4, 0, 1, 0, 1, 2, 3, 4, 5, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 9};
		return at(us, cft::cat(cft::eth(kBcast, kMacA, 0x0806), body));
	};
	std::vector<cft::Frame> f = {
		X(0, 10, 1),           // filtered packet 1
		Z(500000, 7, 2),       // 2
		Y(1000000, 3),         // 3
		arp(2000000), arp(2100000), arp(2200000), arp(2300000), arp(2400000),
		Y(3000000, 4),         // 4
		Y(4000000, 5),         // 5 (the 10th frame: a check here if ARP counted; nothing idle yet)
		Y(10500000, 6),        // 6: X idle for 10.5 s, but no check
		Y(10600000, 7),        // 7
		Y(10700000, 8),        // 8
		X(10800000, 20, 9),    // 9: X goes on in the same record
		Y(10900000, 10),       // 10: check, cutoff 0.9 s: only Z (last 0.5 s) is idle -> "i"
		Z(11000000, 8, 11),    // 11: a new Z record
		Y(11100000, 12),       // 12; end of capture (cutoff 1.1 s: nothing idle)
	};
	// Output: Z printed at the check after filtered packet 10 with "i"; then
	// at the end of the capture, in creation order, X (two packets 10.8 s
	// apart: ipt 10800), Y (8 empty packets: "packets":[]), the new Z; none
	// with expire_type. With per-packet checks X would have been cut at
	// packet 6; with ARP counted there would be no check at packet 10 and Z
	// would be one record of 2 packets.
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.4","da":"10.0.0.2","pr":17,"sp":5000,"dp":6000,"bytes_out":7,"num_pkts_out":1,)"
	                R"("time_start":1700000000.500000,"time_end":1700000000.500000,)"
	                R"("packets":[{"b":7,"dir":"<","ipt":0}],"ip":{"out":{"ttl":64,"id":[2]}},"expire_type":"i"})",
	                R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":1000,"dp":2000,"bytes_out":30,"num_pkts_out":2,)"
	                R"("time_start":1700000000.000000,"time_end":1700000010.800000,)"
	                R"("packets":[{"b":10,"dir":"<","ipt":0},{"b":20,"dir":"<","ipt":10800}],)"
	                R"("ip":{"out":{"ttl":64,"id":[1,9]}}})",
	                R"({"sa":"10.0.0.3","da":"10.0.0.2","pr":17,"sp":3000,"dp":4000,"bytes_out":0,"num_pkts_out":8,)"
	                R"("time_start":1700000001.000000,"time_end":1700000011.100000,"packets":[],)"
	                R"("ip":{"out":{"ttl":64,"id":[3,4,5,6,7,8,10,12]}}})",
	                R"({"sa":"10.0.0.4","da":"10.0.0.2","pr":17,"sp":5000,"dp":6000,"bytes_out":8,"num_pkts_out":1,)"
	                R"("time_start":1700000011.000000,"time_end":1700000011.000000,)"
	                R"("packets":[{"b":8,"dir":"<","ipt":0}],"ip":{"out":{"ttl":64,"id":[11]}}})"});
}

// 6. Active timeout: 30 s from the later side's first packet, cut at a
// 10-packet boundary; the continuation is a new record without tcp.
TEST(JoyCompat, ActiveTimeoutSplit)
{
	auto a = [](int64_t us, uint32_t seq, uint16_t flags, size_t n, uint16_t id) {
		return at(us, e4(A, B, 6, tcpn(40001, 22, seq, 2001, flags, 1000, n), 64, id));
	};
	auto b = [](int64_t us, uint32_t seq, uint16_t flags, size_t n, uint16_t id) {
		return at(us, e4(B, A, 6, tcpn(22, 40001, seq, 1001, flags, 2000, n), 50, id));
	};
	std::vector<cft::Frame> f = {
		a(0, 1000, SYN, 0, 1),               // 1
		b(100000, 2000, SYNACK, 0, 101),     // 2
		a(200000, 1001, ACK, 0, 2),          // 3
		a(9000000, 1001, PSHACK, 10, 3),     // 4
		a(18000000, 1011, PSHACK, 10, 4),    // 5
		a(27000000, 1021, PSHACK, 10, 5),    // 6
		a(30150000, 1031, PSHACK, 10, 6),    // 7: both starts now > 30 s old, no check
		b(31000000, 2001, PSHACK, 5, 102),   // 8
		a(32000000, 1041, PSHACK, 10, 7),    // 9
		a(33000000, 1051, PSHACK, 10, 8),    // 10: check, 0 and 0.1 < 33-30 = 3 -> "a"
		a(34000000, 1061, PSHACK, 10, 9),    // 11: a new record
		b(34500000, 2006, PSHACK, 5, 103),   // 12
		a(35000000, 1071, PSHACK, 10, 10),   // 13
	};
	// First record (client by the SYN): out 8 packets (SYN, ACK, 6 x 10
	// bytes), in 2 (SYN-ACK, 5 bytes); ipt 9000, 9000, 9000, 3150, 850,
	// 1000, 1000. The second: no SYN on either side, so no tcp object; the
	// earlier side (10.0.0.1) is sa, time_end the later end (35 s); ipt 0,
	// 500, 500; printed at the end: no expire_type.
	expect_records(
		joy_records(f),
		{R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":6,"sp":40001,"dp":22,"bytes_out":60,"num_pkts_out":8,)"
		 R"("bytes_in":5,"num_pkts_in":2,"time_start":1700000000.000000,"time_end":1700000033.000000,)"
		 R"("packets":[{"b":10,"dir":">","ipt":9000},{"b":10,"dir":">","ipt":9000},{"b":10,"dir":">","ipt":9000},)"
		 R"({"b":10,"dir":">","ipt":3150},{"b":5,"dir":"<","ipt":850},{"b":10,"dir":">","ipt":1000},)"
		 R"({"b":10,"dir":">","ipt":1000}],)"
		 R"("ip":{"out":{"ttl":64,"id":[1,2,3,4,5,6,7,8]},"in":{"ttl":50,"id":[101,102]}},)"
		 R"("tcp":{"first_seq":1000,"out":{"flags":"S","first_window_size":1000},)"
		 R"("in":{"flags":"SA","first_window_size":2000}},"expire_type":"a"})",
		 R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":6,"sp":40001,"dp":22,"bytes_out":20,"num_pkts_out":2,)"
		 R"("bytes_in":5,"num_pkts_in":1,"time_start":1700000034.000000,"time_end":1700000035.000000,)"
		 R"("packets":[{"b":10,"dir":">","ipt":0},{"b":5,"dir":"<","ipt":500},{"b":10,"dir":">","ipt":500}],)"
		 R"("ip":{"out":{"ttl":64,"id":[9,10]},"in":{"ttl":50,"id":[103]}}})"});
}

// 7. ICMP: one flow per host pair whatever the echo identifier.
TEST(JoyCompat, IcmpPerHostPair)
{
	auto echo = [](uint8_t type, uint16_t ident, size_t n) {
		Bytes v = {type, 0, 0, 0, (uint8_t)(ident >> 8), (uint8_t)ident, 0, 1};
		return cft::cat(v, fill(n, 0x30));
	};
	std::vector<cft::Frame> f = {
		at(0, e4(A, B, 1, echo(8, 0x1111, 32), 64, 1)),
		at(1200, e4(B, A, 1, echo(0, 0x1111, 32), 60, 3)),
		at(5000, e4(A, B, 1, echo(8, 0x2222, 16), 64, 2)),
		at(6000, e4(B, A, 1, echo(0, 0x2222, 16), 61, 4)),
	};
	// Ports null; b = ICMP length - 8 (40 -> 32, 24 -> 16). No client rule
	// applies: the earlier side is sa, time_end the later end (6 ms). ipt 0,
	// 1.2 -> 1, 3.8 -> 3, 1.
	expect_records(
		joy_records(f),
		{R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":1,"sp":null,"dp":null,"bytes_out":48,"num_pkts_out":2,)"
		 R"("bytes_in":48,"num_pkts_in":2,"time_start":1700000000.000000,"time_end":1700000000.006000,)"
		 R"("packets":[{"b":32,"dir":">","ipt":0},{"b":32,"dir":"<","ipt":1},{"b":16,"dir":">","ipt":3},)"
		 R"({"b":16,"dir":"<","ipt":1}],"ip":{"out":{"ttl":64,"id":[1,2]},"in":{"ttl":60,"id":[3,4]}}})"});
}

// 8. IPv4 fragments, the first one included, go to a protocol-0 flow.
TEST(JoyCompat, Ipv4FragmentsProtocolZero)
{
	Bytes dgram = cft::udp(1234, 5678, fill(2000));   // 2008 bytes
	Bytes first(dgram.begin(), dgram.begin() + 1480), rest(dgram.begin() + 1480, dgram.end());
	std::vector<cft::Frame> f = {
		at(0, e4(A, B, 17, first, 64, 77, 0x2000)),   // MF, offset 0
		at(100, e4(A, B, 17, rest, 64, 77, 185)),     // offset 1480 / 8
		at(5000, e4(A, B, 17, cft::udp(1234, 5678, fill(100)), 64, 78)),
	};
	// Fragments: "pr":0, ports null, b = the whole IP payload (1480 with
	// the UDP header, 528). The whole datagram afterwards is its own UDP
	// flow, created later, so printed second.
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":0,"sp":null,"dp":null,"bytes_out":2008,)"
	                R"("num_pkts_out":2,"time_start":1700000000.000000,"time_end":1700000000.000100,)"
	                R"("packets":[{"b":1480,"dir":"<","ipt":0},{"b":528,"dir":"<","ipt":0}],)"
	                R"("ip":{"out":{"ttl":64,"id":[77,77]}}})",
	                R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":1234,"dp":5678,"bytes_out":100,)"
	                R"("num_pkts_out":1,"time_start":1700000000.005000,"time_end":1700000000.005000,)"
	                R"("packets":[{"b":100,"dir":"<","ipt":0}],"ip":{"out":{"ttl":64,"id":[78]}}})"});
}

// 9. IPv6 with an 8-byte hop-by-hop header before UDP.
TEST(JoyCompat, Ipv6ExtensionHeaderCountsAsPayload)
{
	uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8}, d6[16] = {0x20, 0x01, 0x0d, 0xb8};
	s6[15] = 1;
	d6[15] = 2;
	Bytes hbh = {17, 0, 1, 4, 0, 0, 0, 0};   // next UDP, 8 bytes, PadN
	std::vector<cft::Frame> f = {
		at(0, cft::cat(cft::eth(kMacB, kMacA, 0x86dd),
		               cft::ipv6(s6, d6, 0, cft::cat(hbh, cft::udp(1111, 2222, fill(20))), 7))),
		at(2500, cft::cat(cft::eth(kMacA, kMacB, 0x86dd), cft::ipv6(d6, s6, 17, cft::udp(2222, 1111, fill(12)), 60))),
	};
	// Payload length 36 = 8 (HBH) + 8 (UDP) + 20: b = 36 - 8 = 28, the
	// extension header counted as payload. ip: hop limits, no ids.
	expect_records(joy_records(f),
	               {R"({"sa":"2001:db8::1","da":"2001:db8::2","pr":17,"sp":1111,"dp":2222,"bytes_out":28,)"
	                R"("num_pkts_out":1,"bytes_in":12,"num_pkts_in":1,"time_start":1700000000.000000,)"
	                R"("time_end":1700000000.002500,"packets":[{"b":28,"dir":">","ipt":0},{"b":12,"dir":"<","ipt":2}],)"
	                R"("ip":{"out":{"ttl":7},"in":{"ttl":60}}})"});
}

// 10. Packets cut by the snapshot length.
TEST(JoyCompat, SnapshotTruncation)
{
	Bytes big = e4(A, B, 17, cft::udp(4000, 4001, fill(1000)), 64, 1);   // 1042 bytes
	Bytes mid = e4(A, B, 17, cft::udp(4000, 4001, fill(200)), 64, 2);    // 242 bytes
	std::vector<cft::Frame> f = {
		at(0, Bytes(big.begin(), big.begin() + 142), 1042),
		at(1000, Bytes(mid.begin(), mid.begin() + 232), 242),
	};
	// First: IP total length 1028 > caplen 142, so ip_len = 142 - 14 = 128
	// and b = 128 - 20 - 8 = 100 (the captured payload). Second: cut by only
	// 10 bytes; Joy compares the IP length (228) with caplen (232), which
	// includes the Ethernet header, so it does not notice: b = 200.
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":4000,"dp":4001,"bytes_out":300,)"
	                R"("num_pkts_out":2,"time_start":1700000000.000000,"time_end":1700000000.001000,)"
	                R"("packets":[{"b":100,"dir":"<","ipt":0},{"b":200,"dir":"<","ipt":1}],)"
	                R"("ip":{"out":{"ttl":64,"id":[1,2]}}})"});
}

// 11. The 16-bit byte counter wraps.
TEST(JoyCompat, ByteCounterWraps)
{
	std::vector<cft::Frame> f;
	for (int i = 0; i < 50; i++)
		f.push_back(at(i * 1000, e4(A, B, 17, cft::udp(9000, 9001, fill(1400)), 64, (uint16_t)(i + 1))));
	// 50 x 1400 = 70000 bytes, printed mod 65536 = 4464; all 50 listed (one
	// per ms: ipt 0, then 1), ids 1..50.
	std::string packets = R"({"b":1400,"dir":"<","ipt":0})", ids = "1";
	for (int i = 1; i < 50; i++) {
		packets += R"(,{"b":1400,"dir":"<","ipt":1})";
		ids += "," + std::to_string(i + 1);
	}
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":9000,"dp":9001,"bytes_out":4464,)"
	                R"("num_pkts_out":50,"time_start":1700000000.000000,"time_end":1700000000.049000,)"
	                R"("packets":[)" +
	                    packets + R"(],"ip":{"out":{"ttl":64,"id":[)" + ids + "]}}}"});
}

// 12. Two malformed TCP segments (data offset 28 > the 20 bytes there) of
// one 4-tuple: the first goes through Joy's process_ip to a (6, ports 0)
// record, counted with its bytes and listed, "invalid"; the second finds
// that record (Joy looks it up before process_ip) and joins it with its
// packet count, id and time only: no bytes, no listed packet.
TEST(JoyCompat, SecondMalformedTcpJoinsWithoutBytes)
{
	auto bad = [](uint16_t id) {
		Bytes seg = cft::tcp(1000, 80, 5, 0, ACK, 100, 0); // 20 bytes, no payload
		seg[12] = (uint8_t)(7 << 4);                       // data offset 28: past the segment
		return e4(A, B, 6, seg, 64, id);
	};
	std::vector<cft::Frame> f = {at(0, bad(1)), at(4, bad(2))};
	// b = the IP payload (20); bytes_out 20 once, num_pkts_out 2, ids both,
	// time_end the second packet's; sp/dp 0 (the ports were never read).
	expect_records(joy_records(f),
	               {R"({"sa":"10.0.0.1","da":"10.0.0.2","pr":6,"sp":0,"dp":0,"bytes_out":20,"num_pkts_out":2,)"
	                R"("time_start":1700000000.000000,"time_end":1700000000.000004,)"
	                R"("packets":[{"b":20,"dir":"<","ipt":0}],"ip":{"out":{"ttl":64,"id":[1,2]}},)"
	                R"("debug":{"invalid":1}})"});
}

// 13. Joy's flow key has no address family: 1.2.3.4 -> 5.6.7.8 and
// 102:304:: -> 506:708:: (the same 16 key bytes) are one record, printed
// by the family of its last packet; the IPv4 packet's id stays listed.
TEST(JoyCompat, Ipv4AndIpv6ShareAKey)
{
	uint8_t s6[16] = {1, 2, 3, 4}, d6[16] = {5, 6, 7, 8};
	std::vector<cft::Frame> f = {
		at(0, e4(0x01020304, 0x05060708, 17, cft::udp(1111, 2222, fill(7)), 64, 1)),
		at(10, cft::cat(cft::eth(kMacB, kMacA, 0x86dd), cft::ipv6(s6, d6, 17, cft::udp(1111, 2222, fill(7)), 64))),
	};
	expect_records(joy_records(f),
	               {R"({"sa":"102:304::","da":"506:708::","pr":17,"sp":1111,"dp":2222,"bytes_out":14,)"
	                R"("num_pkts_out":2,"time_start":1700000000.000000,"time_end":1700000000.000010,)"
	                R"("packets":[{"b":7,"dir":"<","ipt":0},{"b":7,"dir":"<","ipt":0}],)"
	                R"("ip":{"out":{"ttl":64,"id":[1]}}})"});
}

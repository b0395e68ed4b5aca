// The flow table and per-flow statistics on captures written here. Every
// expected value is computed by hand (or by the two-pass textbook formula
// in `Moments` below on hand-listed values), never taken from cuflow.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cmath>
#include <random>
#include <cstring>
#include <string>
#include <vector>

#include "cuflow/internal.h"
#include "test_util.h"

namespace {

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint32_t A = 0x0a000001, B = 0x0a000002, C = 0x0a000003;
const int64_t T0 = 1700000000000000000ll;
const int64_t MS = 1000000ll, SEC = 1000000000ll;

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

// TCP over IPv4 over Ethernet: 54 bytes + payload on the wire.
cft::Frame tcpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint16_t flags, size_t pay = 0,
                int vlan = -1)
{
	std::vector<uint8_t> l2;
	if (vlan >= 0) {
		l2 = cft::eth(kMacB, kMacA, 0x8100);
		l2.insert(l2.end(), {(uint8_t)(vlan >> 8), (uint8_t)vlan, 0x08, 0x00});
	} else {
		l2 = cft::eth(kMacB, kMacA, 0x0800);
	}
	return {t, cft::cat(l2, cft::ipv4(s, d, 6, cft::tcp(sp, dp, 1, 1, flags, 1000, pay)))};
}

// UDP over IPv4: 42 bytes + payload.
cft::Frame udpf(int64_t t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay = 0)
{
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                    cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 0x55))))};
}

// ICMP echo (type 8 request, 0 reply): 42 bytes.
cft::Frame icmpf(int64_t t, uint32_t s, uint32_t d, uint8_t type, uint16_t ident, uint16_t seq)
{
	std::vector<uint8_t> m = {type, 0, 0, 0, (uint8_t)(ident >> 8), (uint8_t)ident, (uint8_t)(seq >> 8),
	                          (uint8_t)seq};
	return {t, cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(s, d, 1, m))};
}

struct FlowRun {
	std::vector<cf_flow_record> flows; // in emission order
	cf_flow_counters c;
	int status;
};

int collect(void *user, const cf_flow_record *r)
{
	static_cast<std::vector<cf_flow_record> *>(user)->push_back(*r);
	return CF_OK;
}

cf_flow_opts defaults()
{
	cf_flow_opts o;
	cf_flow_opts_default(&o);
	return o;
}

FlowRun run_flows(const std::vector<cft::Frame> &frames, const cf_flow_opts &fo)
{
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, frames, true);
	FlowRun r;
	char err[CF_ERRBUF_SIZE];
	cf_scan_opts so;
	memset(&so, 0, sizeof so);
	cf_decode_opts_default(&so.decode);
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &so.backend, err), CF_OK) << err;
	cf_flow_engine *t = nullptr;
	EXPECT_EQ(cf_flow_engine_open(&fo, so.backend, collect, &r.flows, &t, err), CF_OK) << err;
	cf_scan_result *res = new cf_scan_result;
	r.status = cf_flow_scan_file(path.c_str(), &so, t, res);
	EXPECT_EQ(r.status, CF_OK) << res->error;
	EXPECT_EQ(cf_flow_engine_finish(t), CF_OK);
	EXPECT_EQ(cf_flow_engine_live(t), 0u);
	r.c = *cf_flow_engine_counters(t);
	delete res;
	cf_flow_engine_close(t);
	cf_backend_close(so.backend);
	return r;
}

uint32_t ip4(const uint8_t *a)
{
	uint32_t v;
	memcpy(&v, a, 4);
	return ntohl(v);
}

// Two-pass mean and sample standard deviation of hand-listed values.
struct Moments {
	double mean, sd;
	explicit Moments(const std::vector<double> &v)
	{
		double s = 0;
		for (double x : v)
			s += x;
		mean = s / v.size();
		double q = 0;
		for (double x : v)
			q += (x - mean) * (x - mean);
		sd = v.size() > 1 ? std::sqrt(q / (v.size() - 1)) : 0.0;
	}
};

void expect_rel(double got, double want)
{
	EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::fabs(want))) << "want " << want;
}

} // namespace

// A complete TCP connection: every statistic of the three accumulators.
TEST(FlowStats, HandComputedTcpConnection)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, SYN),                 // 54, src
		tcpf(T0 + 1 * MS, B, A, 80, 40000, SYN | ACK),  // 54, dst
		tcpf(T0 + 3 * MS, A, B, 40000, 80, ACK),        // 54, src
		tcpf(T0 + 6 * MS, A, B, 40000, 80, PSH | ACK, 100), // 154, src
		tcpf(T0 + 10 * MS, B, A, 80, 40000, ACK, 300),  // 354, dst
		tcpf(T0 + 20 * MS, A, B, 40000, 80, FIN | ACK), // 54, src
		tcpf(T0 + 21 * MS, B, A, 80, 40000, FIN | ACK), // 54, dst
		tcpf(T0 + 22 * MS, A, B, 40000, 80, ACK),       // 54, src
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	const cf_flow_record &x = r.flows[0];
	EXPECT_EQ(x.id, 1u);
	EXPECT_EQ(x.end_reason, CF_FLOW_END_FIN); // closing when the input ended
	EXPECT_EQ(ip4(x.src_ip), A);
	EXPECT_EQ(ip4(x.dst_ip), B);
	EXPECT_EQ(x.src_port, 40000);
	EXPECT_EQ(x.dst_port, 80);
	EXPECT_EQ(x.proto, 6);
	EXPECT_EQ(x.ip_version, 4);

	// bidirectional: sizes 54 x6, 154, 354 -> 832 bytes, mean 104,
	// squared deviations 6*2500 + 2500 + 62500 = 80000 -> var 80000/7.
	const cf_flow_stats &b = x.bidir;
	EXPECT_EQ(b.packets, 8u);
	EXPECT_EQ(b.bytes, 832u);
	EXPECT_EQ(b.first_ns, T0);
	EXPECT_EQ(b.last_ns, T0 + 22 * MS);
	EXPECT_EQ(b.duration_ns, 22 * MS);
	EXPECT_EQ(b.ps_min, 54u);
	EXPECT_EQ(b.ps_max, 354u);
	expect_rel(b.ps_mean, 104.0);
	expect_rel(b.ps_stddev, std::sqrt(80000.0 / 7));
	// piats 1,2,3,4,10,1,1 ms
	Moments bp({1e6, 2e6, 3e6, 4e6, 10e6, 1e6, 1e6});
	EXPECT_EQ(b.piat_min, 1 * MS);
	EXPECT_EQ(b.piat_max, 10 * MS);
	expect_rel(b.piat_mean, 22e6 / 7);
	expect_rel(b.piat_stddev, bp.sd);
	EXPECT_EQ(b.flag[CF_FF_SYN], 2u);
	EXPECT_EQ(b.flag[CF_FF_ACK], 7u);
	EXPECT_EQ(b.flag[CF_FF_PSH], 1u);
	EXPECT_EQ(b.flag[CF_FF_FIN], 2u);
	EXPECT_EQ(b.flag[CF_FF_RST], 0u);
	EXPECT_EQ(b.flag[CF_FF_URG] + b.flag[CF_FF_ECE] + b.flag[CF_FF_CWR], 0u);

	// src2dst: 54,54,154,54,54 at 0,3,6,20,22 ms: 370 bytes, mean 74,
	// deviations -20 x4 and 80 -> 8000/4 = 2000; piats 3,3,14,2 ms.
	const cf_flow_stats &s = x.src2dst;
	EXPECT_EQ(s.packets, 5u);
	EXPECT_EQ(s.bytes, 370u);
	EXPECT_EQ(s.first_ns, T0);
	EXPECT_EQ(s.last_ns, T0 + 22 * MS);
	expect_rel(s.ps_mean, 74.0);
	expect_rel(s.ps_stddev, std::sqrt(2000.0));
	EXPECT_EQ(s.ps_min, 54u);
	EXPECT_EQ(s.ps_max, 154u);
	EXPECT_EQ(s.piat_min, 2 * MS);
	EXPECT_EQ(s.piat_max, 14 * MS);
	expect_rel(s.piat_mean, 5.5e6);
	expect_rel(s.piat_stddev, Moments({3e6, 3e6, 14e6, 2e6}).sd);
	EXPECT_EQ(s.flag[CF_FF_SYN], 1u);
	EXPECT_EQ(s.flag[CF_FF_ACK], 4u);
	EXPECT_EQ(s.flag[CF_FF_PSH], 1u);
	EXPECT_EQ(s.flag[CF_FF_FIN], 1u);

	// dst2src: 54,354,54 at 1,10,21 ms: 462 bytes, mean 154, var
	// (10000+40000+10000)/2 = 30000; piats 9, 11 ms: mean 10 ms, sd sqrt(2) ms.
	const cf_flow_stats &d = x.dst2src;
	EXPECT_EQ(d.packets, 3u);
	EXPECT_EQ(d.bytes, 462u);
	EXPECT_EQ(d.first_ns, T0 + 1 * MS);
	EXPECT_EQ(d.last_ns, T0 + 21 * MS);
	EXPECT_EQ(d.duration_ns, 20 * MS);
	expect_rel(d.ps_mean, 154.0);
	expect_rel(d.ps_stddev, std::sqrt(30000.0));
	EXPECT_EQ(d.piat_min, 9 * MS);
	EXPECT_EQ(d.piat_max, 11 * MS);
	expect_rel(d.piat_mean, 10e6);
	expect_rel(d.piat_stddev, std::sqrt(2.0) * 1e6);
	EXPECT_EQ(d.flag[CF_FF_SYN], 1u);
	EXPECT_EQ(d.flag[CF_FF_ACK], 3u);
	EXPECT_EQ(d.flag[CF_FF_FIN], 1u);
	EXPECT_EQ(d.flag[CF_FF_PSH], 0u);

	EXPECT_EQ(r.c.packets_used, 8u);
	EXPECT_EQ(r.c.flows, 1u);
	EXPECT_EQ(r.c.ended[CF_FLOW_END_FIN], 1u);
}

// One packet: sizes, no piats, every spread 0.
TEST(FlowStats, SinglePacketFlowHasZeroSpreads)
{
	FlowRun r = run_flows({udpf(T0, A, B, 5000, 53, 58)}, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	const cf_flow_record &x = r.flows[0];
	EXPECT_EQ(x.end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(x.bidir.packets, 1u);
	EXPECT_EQ(x.bidir.bytes, 100u);
	EXPECT_EQ(x.bidir.ps_min, 100u);
	EXPECT_EQ(x.bidir.ps_max, 100u);
	EXPECT_EQ(x.bidir.ps_stddev, 0.0);
	EXPECT_EQ(x.bidir.piat_stddev, 0.0);
	EXPECT_EQ(x.bidir.piat_min, 0);
	EXPECT_EQ(x.bidir.piat_max, 0);
	EXPECT_EQ(x.dst2src.packets, 0u);
	EXPECT_EQ(x.dst2src.bytes, 0u);
}

// Merging the exact parts of two consecutive pieces gives the part of
// the whole flow bit for bit, and the finished statistics match
// hand-listed values.
TEST(FlowStats, MergeOfPiecesEqualsWhole)
{
	const int64_t t[] = {0, 5, 7, 20, 21, 40, 41, 90};
	const uint32_t sz[] = {60, 1500, 60, 400, 60, 1500, 999, 60};
	for (int cut = 0; cut <= 8; cut++) {
		cf_flow_part_dir whole, a, b;
		cf_flow_part_dir_clear(&whole);
		cf_flow_part_dir_clear(&a);
		cf_flow_part_dir_clear(&b);
		for (int i = 0; i < 8; i++) {
			cf_flow_part_dir_add(&whole, t[i] * MS, sz[i], i == 0 ? SYN : ACK);
			cf_flow_part_dir_add(i < cut ? &a : &b, t[i] * MS, sz[i], i == 0 ? SYN : ACK);
		}
		cf_flow_part_dir_merge(&a, &b);
		EXPECT_EQ(0, memcmp(&a, &whole, sizeof a)) << "cut " << cut;
		cf_flow_stats s;
		cf_flow_stats_finish(&s, &a);
		EXPECT_EQ(s.packets, 8u);
		EXPECT_EQ(s.bytes, 4639u);
		EXPECT_EQ(s.first_ns, 0);
		EXPECT_EQ(s.last_ns, 90 * MS);
		EXPECT_EQ(s.ps_min, 60u);
		EXPECT_EQ(s.ps_max, 1500u);
		EXPECT_EQ(s.piat_min, 1 * MS);
		EXPECT_EQ(s.piat_max, 49 * MS);
		EXPECT_EQ(s.flag[CF_FF_SYN], 1u);
		EXPECT_EQ(s.flag[CF_FF_ACK], 7u);
		expect_rel(s.ps_mean, 4639.0 / 8);
		expect_rel(s.piat_mean, 90e6 / 7);
		expect_rel(s.ps_stddev, Moments({60, 1500, 60, 400, 60, 1500, 999, 60}).sd);
		expect_rel(s.piat_stddev, Moments({5e6, 2e6, 13e6, 1e6, 19e6, 1e6, 49e6}).sd);
	}
}

// Idle gap >= timeout splits; a shorter gap does not.
TEST(FlowExpiry, IdleTimeoutSplitsAFlow)
{
	cf_flow_opts o = defaults();
	o.idle_timeout_ns = 10 * SEC;
	FlowRun r = run_flows({udpf(T0, A, B, 1000, 2000), udpf(T0 + 9 * SEC, B, A, 2000, 1000),
	                   udpf(T0 + 19 * SEC, A, B, 1000, 2000), udpf(T0 + 40 * SEC, A, B, 1000, 2000)},
	                  o);
	// gaps 9 s (kept), 10 s (split: >= timeout), 21 s (split)
	ASSERT_EQ(r.flows.size(), 3u);
	EXPECT_EQ(r.flows[0].bidir.packets, 2u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_IDLE);
	EXPECT_EQ(r.flows[0].bidir.last_ns, T0 + 9 * SEC);
	EXPECT_EQ(r.flows[1].bidir.packets, 1u);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_IDLE);
	EXPECT_EQ(r.flows[2].bidir.packets, 1u);
	EXPECT_EQ(r.flows[2].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.c.ended[CF_FLOW_END_IDLE], 2u);
	EXPECT_EQ(r.c.ended[CF_FLOW_END_EOF], 1u);
	// the later flows keep the first packet's sender as source
	EXPECT_EQ(ip4(r.flows[1].src_ip), A);
}

// Active timeout: a flow is cut when its age reaches the timeout.
TEST(FlowExpiry, ActiveTimeoutSplitsALongFlow)
{
	cf_flow_opts o = defaults();
	o.active_timeout_ns = 25 * SEC;
	std::vector<cft::Frame> f;
	for (int i = 0; i <= 5; i++)
		f.push_back(udpf(T0 + i * 10 * SEC, A, B, 1000, 2000, 10 * i));
	FlowRun r = run_flows(f, o);
	// packets at 0,10,20 | 30 (age 30 >= 25 ends flow 1), 40, 50 (age 20)
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_ACTIVE);
	EXPECT_EQ(r.flows[0].bidir.packets, 3u);
	EXPECT_EQ(r.flows[0].bidir.bytes, 42u + 52 + 62);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.flows[1].bidir.packets, 3u);
	EXPECT_EQ(r.flows[1].bidir.first_ns, T0 + 30 * SEC);
	EXPECT_EQ(r.flows[1].bidir.bytes, 72u + 82 + 92);
}

std::vector<cft::Frame> fin_close_then_reuse()
{
	return {
		tcpf(T0, A, B, 40000, 80, SYN),
		tcpf(T0 + 1 * MS, B, A, 80, 40000, SYN | ACK),
		tcpf(T0 + 2 * MS, A, B, 40000, 80, ACK),
		tcpf(T0 + 10 * MS, A, B, 40000, 80, FIN | ACK),
		tcpf(T0 + 11 * MS, B, A, 80, 40000, FIN | ACK),
		tcpf(T0 + 12 * MS, A, B, 40000, 80, ACK),          // last ACK of the teardown
		tcpf(T0 + 500 * MS, A, B, 40000, 80, SYN),         // port reuse: a new connection
		tcpf(T0 + 501 * MS, B, A, 80, 40000, SYN | ACK),
		tcpf(T0 + 502 * MS, A, B, 40000, 80, ACK, 10),
	};
}

// FIN from both sides ends the flow (the final ACK still belongs to it);
// a SYN on the same ports starts a new flow.
TEST(FlowTcp, FinFromBothSidesEndsAndPortReuseStartsANewFlow)
{
	FlowRun r = run_flows(fin_close_then_reuse(), defaults());
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.flows[0].id, 1u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(r.flows[0].bidir.packets, 6u);
	EXPECT_EQ(r.flows[0].bidir.last_ns, T0 + 12 * MS);
	EXPECT_EQ(r.flows[0].bidir.flag[CF_FF_FIN], 2u);
	EXPECT_EQ(r.flows[1].id, 2u);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.flows[1].bidir.packets, 3u);
	EXPECT_EQ(r.flows[1].bidir.first_ns, T0 + 500 * MS);
	EXPECT_EQ(r.flows[1].bidir.flag[CF_FF_SYN], 2u);
	EXPECT_EQ(r.flows[1].bidir.flag[CF_FF_FIN], 0u);
	EXPECT_EQ(ip4(r.flows[1].src_ip), A);
}

TEST(FlowTcp, TcpEndOffKeepsOneFlow)
{
	cf_flow_opts o = defaults();
	o.tcp_end = 0;
	FlowRun r = run_flows(fin_close_then_reuse(), o);
	ASSERT_EQ(r.flows.size(), 1u);
	EXPECT_EQ(r.flows[0].bidir.packets, 9u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_EOF);
}

// A FIN retransmitted by one side does not close the flow; only the
// other side's FIN does.
TEST(FlowTcp, RetransmittedFinFromOneSideDoesNotClose)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, ACK, 100),
		tcpf(T0 + 10 * MS, A, B, 40000, 80, FIN | ACK),
		tcpf(T0 + 300 * MS, A, B, 40000, 80, FIN | ACK),  // retransmission
		tcpf(T0 + 5 * SEC, B, A, 80, 40000, ACK, 50),     // > linger after the first FIN: still the same flow
		tcpf(T0 + 5 * SEC + 1 * MS, B, A, 80, 40000, FIN | ACK),
		tcpf(T0 + 5 * SEC + 2 * MS, A, B, 40000, 80, ACK),
		tcpf(T0 + 5 * SEC + 300 * MS, B, A, 80, 40000, FIN | ACK), // retransmitted after close: joins
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(r.flows[0].bidir.packets, 7u);
	EXPECT_EQ(r.flows[0].bidir.flag[CF_FF_FIN], 4u);
	EXPECT_EQ(r.flows[0].src2dst.flag[CF_FF_FIN], 2u);
	EXPECT_EQ(r.flows[0].dst2src.flag[CF_FF_FIN], 2u);
}

// RST ends the flow; a later non-SYN packet (after the linger) is a new flow.
TEST(FlowTcp, RstEndsTheFlow)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, SYN),
		tcpf(T0 + 1 * MS, B, A, 80, 40000, RST | ACK),
		tcpf(T0 + 1 * SEC, A, B, 40000, 80, SYN),            // SYN: new flow at once
		tcpf(T0 + 1 * SEC + 1 * MS, B, A, 80, 40000, RST | ACK),
		tcpf(T0 + 10 * SEC, A, B, 40000, 80, ACK),           // stray, long after: own flow
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 3u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_RST);
	EXPECT_EQ(r.flows[0].bidir.packets, 2u);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_RST);
	EXPECT_EQ(r.flows[1].bidir.packets, 2u);
	EXPECT_EQ(r.flows[1].bidir.first_ns, T0 + 1 * SEC);
	EXPECT_EQ(r.flows[2].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.flows[2].bidir.packets, 1u);
	EXPECT_EQ(r.c.ended[CF_FLOW_END_RST], 2u);

	cf_flow_opts o = defaults();
	o.tcp_end = 0;
	FlowRun off = run_flows(f, o);
	ASSERT_EQ(off.flows.size(), 1u);
	EXPECT_EQ(off.flows[0].bidir.packets, 5u);
}

// The first packet seen is a SYN-ACK: its receiver is the source.
TEST(FlowTcp, SynAckSeenFirstFlipsTheSource)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, B, A, 80, 40000, SYN | ACK),
		tcpf(T0 + 1 * MS, A, B, 40000, 80, ACK),
		tcpf(T0 + 2 * MS, A, B, 40000, 80, PSH | ACK, 20),
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	const cf_flow_record &x = r.flows[0];
	EXPECT_EQ(ip4(x.src_ip), A);
	EXPECT_EQ(ip4(x.dst_ip), B);
	EXPECT_EQ(x.src_port, 40000);
	EXPECT_EQ(x.dst_port, 80);
	EXPECT_EQ(x.src2dst.packets, 2u);
	EXPECT_EQ(x.src2dst.bytes, 54u + 74);
	EXPECT_EQ(x.dst2src.packets, 1u);
	EXPECT_EQ(x.dst2src.flag[CF_FF_SYN], 1u);
	// without the correction the sender would be the source
	FlowRun u = run_flows({tcpf(T0, B, A, 80, 40000, ACK), tcpf(T0 + 1, A, B, 40000, 80, ACK)}, defaults());
	ASSERT_EQ(u.flows.size(), 1u);
	EXPECT_EQ(ip4(u.flows[0].src_ip), B);
}

// The CIC-IDS2017 artefact: the teardown's trailing ACK must not become
// a flow of its own, nor mix with the next connection. Documented rule:
// it joins the closed flow while within tcp_linger (2 s) of the close;
// only a packet arriving after the flow has ended starts a new flow.
TEST(FlowTcp, TrailingAckAfterTeardownIsNoArtefactFlow)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, SYN),
		tcpf(T0 + 1 * MS, B, A, 80, 40000, SYN | ACK),
		tcpf(T0 + 2 * MS, A, B, 40000, 80, ACK),
		tcpf(T0 + 10 * MS, B, A, 80, 40000, FIN | ACK),
		tcpf(T0 + 11 * MS, A, B, 40000, 80, FIN | ACK),
		tcpf(T0 + 200 * MS, B, A, 80, 40000, ACK),           // trailing ACK, late
		tcpf(T0 + 300 * MS, A, B, 40000, 80, SYN),           // next connection, same ports
		tcpf(T0 + 301 * MS, B, A, 80, 40000, SYN | ACK),
		tcpf(T0 + 302 * MS, A, B, 40000, 80, ACK),
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.flows[0].bidir.packets, 6u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(r.flows[0].bidir.last_ns, T0 + 200 * MS);
	EXPECT_EQ(r.flows[1].bidir.packets, 3u);
	EXPECT_EQ(r.flows[1].bidir.first_ns, T0 + 300 * MS);
	EXPECT_EQ(r.flows[1].bidir.flag[CF_FF_SYN], 2u);

	// An ACK arriving after the linger: the flow has ended, a new 1-packet flow.
	std::vector<cft::Frame> g(f.begin(), f.begin() + 5);
	g.push_back(tcpf(T0 + 5 * SEC, B, A, 80, 40000, ACK));
	FlowRun r2 = run_flows(g, defaults());
	ASSERT_EQ(r2.flows.size(), 2u);
	EXPECT_EQ(r2.flows[0].bidir.packets, 5u);
	EXPECT_EQ(r2.flows[0].end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(r2.flows[1].bidir.packets, 1u);

	// tcp_linger 0 ends the flow at the second FIN (CICFlowMeter's rule):
	// then the trailing ACK is a 1-packet flow; shown so the choice is explicit.
	cf_flow_opts o = defaults();
	o.tcp_linger_ns = 0;
	FlowRun r3 = run_flows(std::vector<cft::Frame>(f.begin(), f.begin() + 6), o);
	ASSERT_EQ(r3.flows.size(), 2u);
	EXPECT_EQ(r3.flows[0].bidir.packets, 5u);
	EXPECT_EQ(r3.flows[1].bidir.packets, 1u);
}

TEST(FlowKey, VlanIdsSeparateFlows)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, ACK, 0, 10),
		tcpf(T0 + 1, A, B, 40000, 80, ACK, 0, 20),
		tcpf(T0 + 2, B, A, 80, 40000, ACK, 0, 10),
		tcpf(T0 + 3, A, B, 40000, 80, ACK, 0, -1),
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 3u);
	// end of input: in order of first packet
	EXPECT_EQ(r.flows[0].vlan_id, 10);
	EXPECT_EQ(r.flows[0].bidir.packets, 2u);
	EXPECT_EQ(r.flows[0].bidir.bytes, 58u * 2);
	EXPECT_EQ(r.flows[0].dst2src.packets, 1u);
	EXPECT_EQ(r.flows[1].vlan_id, 20);
	EXPECT_EQ(r.flows[1].bidir.packets, 1u);
	EXPECT_EQ(r.flows[2].vlan_id, 0);
	EXPECT_EQ(r.flows[2].bidir.bytes, 54u);
}

TEST(FlowKey, Ipv6Flow)
{
	uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	auto e6 = cft::eth(kMacB, kMacA, 0x86dd);
	std::vector<cft::Frame> f = {
		{T0, cft::cat(e6, cft::ipv6(a6, b6, 6, cft::tcp(5555, 443, 1, 0, SYN, 1000, 0)))},       // 74
		{T0 + 2 * MS, cft::cat(e6, cft::ipv6(b6, a6, 6, cft::tcp(443, 5555, 1, 2, SYN | ACK, 1000, 0)))},
		{T0 + 5 * MS, cft::cat(e6, cft::ipv6(a6, b6, 6, cft::tcp(5555, 443, 2, 2, ACK, 1000, 26)))}, // 100
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	const cf_flow_record &x = r.flows[0];
	EXPECT_EQ(x.ip_version, 6);
	EXPECT_EQ(memcmp(x.src_ip, a6, 16), 0);
	EXPECT_EQ(memcmp(x.dst_ip, b6, 16), 0);
	EXPECT_EQ(x.src_port, 5555);
	EXPECT_EQ(x.bidir.bytes, 74u + 74 + 100);
	EXPECT_EQ(x.src2dst.packets, 2u);
	EXPECT_EQ(x.dst2src.packets, 1u);
	EXPECT_EQ(x.bidir.piat_min, 2 * MS);
	EXPECT_EQ(x.bidir.piat_max, 3 * MS);
}

// Echo request and reply share a flow keyed by the identifier; another
// identifier is another flow.
TEST(FlowKey, IcmpEchoRequestAndReplyShareAFlow)
{
	std::vector<cft::Frame> f = {
		icmpf(T0, A, C, 8, 0x1234, 1),
		icmpf(T0 + 1 * MS, C, A, 0, 0x1234, 1),
		icmpf(T0 + 1 * SEC, A, C, 8, 0x1234, 2),
		icmpf(T0 + 1 * SEC + 1 * MS, C, A, 0, 0x1234, 2),
		icmpf(T0 + 2 * SEC, A, C, 8, 0x9999, 1),
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.flows[0].proto, 1);
	EXPECT_EQ(ip4(r.flows[0].src_ip), A);
	EXPECT_EQ(r.flows[0].src_port, 0x1234);
	EXPECT_EQ(r.flows[0].dst_port, 0x1234);
	EXPECT_EQ(r.flows[0].src2dst.packets, 2u);
	EXPECT_EQ(r.flows[0].dst2src.packets, 2u);
	EXPECT_EQ(r.flows[0].bidir.bytes, 4u * 42);
	EXPECT_EQ(r.flows[1].src_port, 0x9999);
	EXPECT_EQ(r.flows[1].bidir.packets, 1u);
}

// Past max_flows the least recently active flow is evicted and counted.
TEST(FlowExpiry, EvictionAtMaxFlows)
{
	cf_flow_opts o = defaults();
	o.max_flows = 2;
	std::vector<cft::Frame> f = {
		udpf(T0, A, B, 1, 100),            // F1
		udpf(T0 + 1 * SEC, A, B, 2, 100),  // F2
		udpf(T0 + 2 * SEC, B, A, 100, 1),  // F1 again: F2 is now least recently active
		udpf(T0 + 3 * SEC, A, B, 3, 100),  // F3 evicts F2
		udpf(T0 + 4 * SEC, A, B, 2, 100),  // F2' evicts F1 (last active 2 s < F3's 3 s)
	};
	FlowRun r = run_flows(f, o);
	// rows as flows end: F2 (evicted first), F1 (evicted second), then F3
	// and F2' at end of input in id order
	ASSERT_EQ(r.flows.size(), 4u);
	EXPECT_EQ(r.flows[1].id, 1u);
	EXPECT_EQ(r.flows[1].src_port, 1);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_EVICTED);
	EXPECT_EQ(r.flows[1].bidir.packets, 2u);
	EXPECT_EQ(r.flows[0].id, 2u);
	EXPECT_EQ(r.flows[0].src_port, 2);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_EVICTED);
	EXPECT_EQ(r.flows[0].bidir.packets, 1u);
	EXPECT_EQ(r.flows[2].src_port, 3);
	EXPECT_EQ(r.flows[2].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.flows[3].src_port, 2);
	EXPECT_EQ(r.flows[3].id, 4u);
	EXPECT_EQ(r.c.evictions, 2u);
	EXPECT_EQ(r.c.ended[CF_FLOW_END_EVICTED], 2u);
	EXPECT_EQ(r.c.max_live, 2u);
	EXPECT_EQ(r.c.flows, 4u);
}

// Time going backwards is clamped (no negative durations or piats); a jump
// by years just ends everything idle.
TEST(FlowExpiry, TimestampsGoingBackwardsOrJumpingYears)
{
	std::vector<cft::Frame> f = {
		udpf(T0 + 10 * SEC, A, B, 1000, 2000),
		udpf(T0 + 5 * SEC, B, A, 2000, 1000),   // 5 s in the past: counted at 10 s
		udpf(T0 + 11 * SEC, A, B, 1000, 2000),
		udpf(T0 + 11 * SEC + 10 * 365 * 86400 * SEC, A, B, 1000, 2000), // ten years later
		udpf(T0, A, B, 1000, 2000),             // back again: clamped to the future
	};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.c.time_backwards, 2u);
	const cf_flow_record &x = r.flows[0];
	EXPECT_EQ(x.end_reason, CF_FLOW_END_IDLE);
	EXPECT_EQ(x.bidir.packets, 3u);
	EXPECT_EQ(x.bidir.first_ns, T0 + 10 * SEC);
	EXPECT_EQ(x.bidir.duration_ns, 1 * SEC);
	EXPECT_EQ(x.bidir.piat_min, 0);
	EXPECT_EQ(x.bidir.piat_max, 1 * SEC);
	EXPECT_EQ(x.dst2src.first_ns, T0 + 10 * SEC);
	EXPECT_EQ(r.flows[1].bidir.packets, 2u);
	EXPECT_EQ(r.flows[1].bidir.piat_max, 0);
	EXPECT_GE(r.flows[1].bidir.duration_ns, 0);
}

// Skipped frames never enter the table; they are counted by reason.
TEST(FlowCounters, SkippedPacketsAreCountedNotTracked)
{
	std::vector<uint8_t> arp = {0, 1, 8, 0, 6, 4, 0, 1, 0, 1, 2, 3, 4, 5, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
	std::vector<cft::Frame> f = {udpf(T0, A, B, 1, 2), {T0 + 1, cft::cat(cft::eth(kMacB, kMacA, 0x0806), arp)},
	                             udpf(T0 + 2, B, A, 2, 1)};
	FlowRun r = run_flows(f, defaults());
	ASSERT_EQ(r.flows.size(), 1u);
	EXPECT_EQ(r.flows[0].bidir.packets, 2u);
	EXPECT_EQ(r.c.packets, 3u);
	EXPECT_EQ(r.c.packets_used, 2u);
	EXPECT_EQ(r.c.skipped[CF_SKIP_NON_IP], 1u);
}

// Sizes other than the wire length.
TEST(FlowStats, SizeModes)
{
	std::vector<cft::Frame> f = {tcpf(T0, A, B, 1, 2, ACK, 100)}; // wire 154, ip 140, transport 120, payload 100
	f[0].wirelen = 1000; // as if the frame had been cut by the snap length
	const struct { int mode; uint64_t bytes; } cases[] = {
		{CF_SIZE_WIRE, 1000}, {CF_SIZE_CAPTURED, 154}, {CF_SIZE_IP, 140}, {CF_SIZE_TRANSPORT, 120}, {CF_SIZE_PAYLOAD, 100},
	};
	for (auto &c : cases) {
		cf_flow_opts o = defaults();
		o.size_mode = c.mode;
		FlowRun r = run_flows(f, o);
		ASSERT_EQ(r.flows.size(), 1u);
		EXPECT_EQ(r.flows[0].bidir.bytes, c.bytes) << "mode " << c.mode;
	}
}

// Rows come out in order of first packet (= id) even when a younger flow
// ends first; flows waiting behind a long-lived one are bounded by the
// reserve, past which the long-lived flow is ended early (evicted).
TEST(FlowOrder, RowsInFirstPacketOrderWithBoundedWaiting)
{
	std::vector<cft::Frame> f = {
		udpf(T0, A, C, 7000, 7000),                     // long-lived flow, id 1
		tcpf(T0 + 1 * MS, A, B, 40001, 80, SYN),        // id 2
		tcpf(T0 + 2 * MS, B, A, 80, 40001, RST | ACK),  // ends id 2 (waits behind id 1)
		udpf(T0 + 3 * MS, C, A, 7000, 7000),
	};
	cf_flow_opts fo = defaults();
	fo.end_order = 0;
	FlowRun r = run_flows(f, fo);
	ASSERT_EQ(r.flows.size(), 2u);
	EXPECT_EQ(r.flows[0].id, 1u);
	EXPECT_EQ(r.flows[0].bidir.packets, 2u);
	EXPECT_EQ(r.flows[0].end_reason, CF_FLOW_END_EOF);
	EXPECT_EQ(r.flows[1].id, 2u);
	EXPECT_EQ(r.flows[1].end_reason, CF_FLOW_END_RST);

	// end_order: the RST flow is written first, as it ends
	cf_flow_opts eo = defaults();
	eo.end_order = 1;
	eo.tcp_linger_ns = 0;
	FlowRun e = run_flows(f, eo);
	ASSERT_EQ(e.flows.size(), 2u);
	EXPECT_EQ(e.flows[0].id, 2u);
	EXPECT_EQ(e.flows[0].end_reason, CF_FLOW_END_RST);
	EXPECT_EQ(e.flows[1].id, 1u);

	// max_flows 8: reserve 8/8 + 16 = 17, 25 slots. The long flow (id 1)
	// stays live; 40 short connections (SYN, RST) each end at once and wait.
	// Creating connection k needs a slot: slots used = 1 live + waiting; the
	// 25th slot goes to connection 24, so connection 25 (id 26) finds none
	// and ends the long flow (evicted), releasing ids 1..25.
	cf_flow_opts o = defaults();
	o.end_order = 0;
	o.max_flows = 8;
	o.tcp_linger_ns = 0; // a RST ends its flow at once (no closing state)
	std::vector<cft::Frame> g = {udpf(T0, A, C, 7000, 7000)};
	for (int k = 1; k <= 40; k++) {
		g.push_back(tcpf(T0 + k * MS, A, B, (uint16_t)(40000 + k), 80, SYN));
		g.push_back(tcpf(T0 + k * MS + 1000, B, A, 80, (uint16_t)(40000 + k), RST | ACK));
	}
	g.push_back(udpf(T0 + 100 * MS, C, A, 7000, 7000)); // the long flow's key again: a new flow
	FlowRun q = run_flows(g, o);
	ASSERT_EQ(q.flows.size(), 42u);
	for (size_t i = 0; i < q.flows.size(); i++)
		EXPECT_EQ(q.flows[i].id, i + 1) << i;
	EXPECT_EQ(q.flows[0].end_reason, CF_FLOW_END_EVICTED);
	EXPECT_EQ(q.flows[0].bidir.packets, 1u);
	EXPECT_EQ(q.c.evictions, 1u);
	EXPECT_EQ(q.c.ended[CF_FLOW_END_RST], 40u);
	EXPECT_EQ(q.flows[41].bidir.packets, 1u);
	EXPECT_EQ(q.flows[41].end_reason, CF_FLOW_END_EOF);

	// end_order: nothing waits, so the long flow survives (2 packets)
	o.end_order = 1;
	FlowRun w = run_flows(g, o);
	ASSERT_EQ(w.flows.size(), 41u);
	EXPECT_EQ(w.c.evictions, 0u);
	EXPECT_EQ(w.flows[40].id, 1u);
	EXPECT_EQ(w.flows[40].bidir.packets, 2u);
	EXPECT_EQ(w.flows[40].end_reason, CF_FLOW_END_EOF);
}

// Unidirectional mode: each direction is its own flow; the sender is the
// source (no SYN-ACK flip), one FIN closes the direction, echo request and
// reply are apart.
TEST(FlowKey, UnidirectionalSplitsDirections)
{
	std::vector<cft::Frame> f = {
		tcpf(T0, A, B, 40000, 80, SYN),                  // A->B 1
		tcpf(T0 + 1 * MS, B, A, 80, 40000, SYN | ACK),   // B->A 1
		tcpf(T0 + 2 * MS, A, B, 40000, 80, ACK),         // A->B 2
		tcpf(T0 + 3 * MS, A, B, 40000, 80, FIN | ACK),   // A->B 3: closes A->B
		tcpf(T0 + 4 * MS, B, A, 80, 40000, FIN | ACK),   // B->A 2: closes B->A
		tcpf(T0 + 5 * MS, A, B, 40000, 80, ACK),         // A->B 4: within the linger
		icmpf(T0 + 1 * SEC, A, C, 8, 0x1234, 1),
		icmpf(T0 + 1 * SEC + 1 * MS, C, A, 0, 0x1234, 1),
	};
	cf_flow_opts o = defaults();
	o.unidirectional = 1;
	FlowRun r = run_flows(f, o);
	ASSERT_EQ(r.flows.size(), 4u);
	// A->B and B->A end as fin (linger passed at the ICMP packet), the
	// pings at end of input, in id order
	const cf_flow_record *ab = nullptr, *ba = nullptr;
	int pings = 0;
	for (auto &x : r.flows) {
		if (x.proto == 6 && ip4(x.src_ip) == A)
			ab = &x;
		else if (x.proto == 6 && ip4(x.src_ip) == B)
			ba = &x;
		else if (x.proto == 1) {
			pings++;
			EXPECT_EQ(x.bidir.packets, 1u);
			EXPECT_EQ(x.dst2src.packets, 0u);
		}
	}
	ASSERT_TRUE(ab && ba);
	EXPECT_EQ(pings, 2);
	EXPECT_EQ(ab->bidir.packets, 4u);
	EXPECT_EQ(ab->src2dst.packets, 4u);
	EXPECT_EQ(ab->dst2src.packets, 0u);
	EXPECT_EQ(ab->end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(ab->src_port, 40000);
	EXPECT_EQ(ba->bidir.packets, 2u);
	EXPECT_EQ(ba->src_port, 80); // the SYN-ACK's sender stays the source
	EXPECT_EQ(ba->end_reason, CF_FLOW_END_FIN);
	EXPECT_EQ(ba->bidir.flag[CF_FF_SYN], 1u);
}

// p25/p50/p75 of the union of two sorted lists (the layout the backends
// sort into) equal numpy's linear percentiles of the sorted union,
// computed here the textbook way.
TEST(FlowStats, QuantilesOfTwoSortedListsMatchNumpyLinear)
{
	std::mt19937_64 rng(7);
	for (int trial = 0; trial < 2000; trial++) {
		size_t na = rng() % 12, nb = rng() % 12;
		if (na + nb == 0)
			continue;
		std::vector<uint64_t> a(na), b(nb);
		for (auto &x : a)
			x = (1ull << 32) * (rng() & 1) + rng() % 50; // high bits must be ignored
		for (auto &x : b)
			x = rng() % 50;
		auto low = [](uint64_t x, uint64_t y) { return (uint32_t)x < (uint32_t)y; };
		std::sort(a.begin(), a.end(), low);
		std::sort(b.begin(), b.end(), low);
		std::vector<double> u;
		for (auto x : a)
			u.push_back((uint32_t)x);
		for (auto x : b)
			u.push_back((uint32_t)x);
		std::sort(u.begin(), u.end());
		double want[3];
		for (int k = 0; k < 3; k++) {
			double h = (u.size() - 1) * (k + 1) / 4.0;
			size_t lo = (size_t)std::floor(h);
			double hi = lo + 1 < u.size() ? u[lo + 1] : u[lo];
			want[k] = u[lo] + (h - lo) * (hi - u[lo]);
		}
		cf_flow_stats s{};
		cf_flow_stats_quantiles(&s, a.data(), na, b.data(), nb);
		EXPECT_EQ(s.ps_p25, want[0]) << "trial " << trial;
		EXPECT_EQ(s.ps_p50, want[1]) << "trial " << trial;
		EXPECT_EQ(s.ps_p75, want[2]) << "trial " << trial;
	}
}

// With threads = 2 the backend and the callback run in a second thread on
// one batch while the next fills. Tiny batches (5 pieces) and pieces (16
// packets, so long flows are split and merged across batches) make every
// hand-over and every split-state path run many times: the records, their
// sequences and their order must be those of the 1-thread run.
namespace {

struct Serialised {
	std::vector<std::string> rows;
	int fail_at = -1; // the callback fails on this record (-1: never)
};

int serialise(void *user, const cf_flow_record *r)
{
	auto *s = static_cast<Serialised *>(user);
	if ((int)s->rows.size() == s->fail_at)
		return CF_ERR_IO;
	std::string b = std::to_string(r->id) + "," + std::to_string(r->ip_version) + "," + std::to_string(r->proto) +
	                "," + std::to_string(r->end_reason) + "," + std::to_string(r->icmp_type) + "," +
	                std::to_string(r->icmp_code) + "," + std::to_string(r->vlan_id) + "," +
	                std::to_string(r->tunnel_id) + "," + std::to_string(r->src_port) + "," +
	                std::to_string(r->dst_port) + ",";
	b.append(reinterpret_cast<const char *>(r->src_ip), 16);
	b.append(reinterpret_cast<const char *>(r->dst_ip), 16);
	b.append(reinterpret_cast<const char *>(&r->bidir), sizeof r->bidir);
	b.append(reinterpret_cast<const char *>(&r->src2dst), sizeof r->src2dst);
	b.append(reinterpret_cast<const char *>(&r->dst2src), sizeof r->dst2src);
	b.append(reinterpret_cast<const char *>(r->seq_size), r->seq_n * sizeof *r->seq_size);
	b.append(reinterpret_cast<const char *>(r->seq_iat_ns), r->seq_n * sizeof *r->seq_iat_ns);
	b.append(reinterpret_cast<const char *>(r->seq_dir), r->seq_n);
	s->rows.push_back(b);
	return CF_OK;
}

struct EngineRun {
	int open_rc = 0, scan_rc = 0, finish_rc = 0;
	uint64_t batches = 0, split = 0;
	std::string error;
};

EngineRun run_engine(const std::string &path, cf_flow_opts fo, Serialised *out)
{
	EngineRun er;
	char err[CF_ERRBUF_SIZE];
	cf_scan_opts so;
	memset(&so, 0, sizeof so);
	cf_decode_opts_default(&so.decode);
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &so.backend, err), CF_OK) << err;
	cf_flow_engine *e = nullptr;
	er.open_rc = cf_flow_engine_open(&fo, so.backend, serialise, out, &e, err);
	if (er.open_rc == CF_OK) {
		cf_scan_result *res = new cf_scan_result;
		er.scan_rc = cf_flow_scan_file(path.c_str(), &so, e, res);
		er.finish_rc = cf_flow_engine_finish(e);
		er.batches = cf_flow_engine_counters(e)->batches;
		er.split = cf_flow_engine_counters(e)->split_flows;
		er.error = cf_flow_engine_error(e);
		delete res;
	}
	cf_flow_engine_close(e);
	cf_backend_close(so.backend);
	return er;
}

} // namespace

TEST(FlowThreads, SecondThreadGivesTheSameRecordsInTheSameOrder)
{
	std::string path = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 2000 --seed 11 -o " + cft::shq(path)), 0);
	/* small batches: many hand-overs; large ones: both threads compute
	 * chunks of one batch's pieces */
	for (int order_end = 0; order_end <= 2; order_end++) {
		cf_flow_opts fo = defaults();
		fo.batch_flows = order_end == 2 ? 700 : 5;
		fo.batch_packets = order_end == 2 ? 8192 : 64;
		fo.piece_packets = 16;
		fo.seq_len = 40;
		fo.end_order = order_end & 1;
		Serialised one, two;
		EngineRun a = run_engine(path, fo, &one);
		fo.threads = 2;
		EngineRun b = run_engine(path, fo, &two);
		ASSERT_EQ(a.open_rc, CF_OK);
		ASSERT_EQ(b.open_rc, CF_OK);
		EXPECT_EQ(a.finish_rc, CF_OK);
		EXPECT_EQ(b.finish_rc, CF_OK);
		EXPECT_GT(a.batches, order_end == 2 ? 8u : 500u) << "batches too large to exercise the hand-over";
		EXPECT_GT(a.split, 50u) << "no long flows split into pieces";
		EXPECT_EQ(a.batches, b.batches);
		ASSERT_EQ(one.rows.size(), two.rows.size());
		EXPECT_GT(one.rows.size(), 1000u);
		for (size_t i = 0; i < one.rows.size(); i++)
			ASSERT_TRUE(one.rows[i] == two.rows[i]) << "record " << i << " differs (order_end " << order_end << ")";
	}
}

TEST(FlowThreads, CallbackFailureInTheSecondThreadIsReported)
{
	std::string path = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 500 --seed 3 -o " + cft::shq(path)), 0);
	for (uint32_t threads : {1u, 2u}) {
		cf_flow_opts fo = defaults();
		fo.batch_flows = 4;
		fo.batch_packets = 64;
		fo.piece_packets = 16;
		fo.threads = threads;
		Serialised s;
		s.fail_at = 37;
		EngineRun r = run_engine(path, fo, &s);
		ASSERT_EQ(r.open_rc, CF_OK);
		EXPECT_EQ(r.finish_rc, CF_ERR_IO) << "threads " << threads;
		EXPECT_EQ(r.error, "the flow output callback failed") << "threads " << threads;
		EXPECT_EQ(s.rows.size(), 37u) << "no record after the failure (threads " << threads << ")";
	}
}

// The public text writers of flow records (cuflow/flow_text.h): hand-built
// records against CSV rows and Joy records written out by hand, the CSV
// header against cf_flow_rows's column names (the same columns), the run
// driver's row function (where the id's digits are) and the options JSON
// of the manifest. `cuflow flows` itself is tested by test_flow_cli and
// test_flows_jsonl.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <string>

#include "cuflow/cuflow.h"

namespace {

cf_flow_stats stats(uint64_t packets, uint64_t bytes, int64_t first, int64_t last, uint32_t ps_min, uint32_t ps_max,
                    double ps_mean, double ps_stddev, double p25, double p50, double p75, int64_t piat_min,
                    int64_t piat_max, double piat_mean, double piat_stddev, uint32_t syn, uint32_t ack, uint32_t fin)
{
	cf_flow_stats s;
	std::memset(&s, 0, sizeof s);
	s.packets = packets;
	s.bytes = bytes;
	s.first_ns = first;
	s.last_ns = last;
	s.duration_ns = last - first;
	s.ps_min = ps_min;
	s.ps_max = ps_max;
	s.ps_mean = ps_mean;
	s.ps_stddev = ps_stddev;
	s.ps_p25 = p25;
	s.ps_p50 = p50;
	s.ps_p75 = p75;
	s.piat_min = piat_min;
	s.piat_max = piat_max;
	s.piat_mean = piat_mean;
	s.piat_stddev = piat_stddev;
	s.flag[CF_FF_SYN] = syn;
	s.flag[CF_FF_ACK] = ack;
	s.flag[CF_FF_FIN] = fin;
	return s;
}

// An IPv4 TCP flow, 10.0.0.1:1234 -> 10.0.0.2:80 on VLAN 5, ended by FINs:
// three listed packets (the first empty) and the IP ids of both directions.
struct TcpFlow {
	cf_flow_record r;
	uint32_t size[3] = {0, 100, 40};
	int64_t iat[3] = {0, 2500000, 1000000}; // 2.5 ms then 1 ms
	int8_t dir[3] = {1, -1, 1};
	uint16_t ids_out[2] = {1, 2}, ids_in[1] = {9};

	TcpFlow()
	{
		std::memset(&r, 0, sizeof r);
		r.id = 7;
		r.ip_version = 4;
		r.proto = 6;
		r.end_reason = CF_FLOW_END_FIN;
		r.vlan_id = 5;
		r.src_port = 1234;
		r.dst_port = 80;
		const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
		std::memcpy(r.src_ip, a, 4);
		std::memcpy(r.dst_ip, b, 4);
		r.bidir = stats(3, 300, 1000000000, 1500000000, 60, 140, 100, 40, 80, 100, 120, 100000000, 400000000,
		                250000000, 0.1, 1, 3, 2);
		r.src2dst = stats(2, 200, 1000000000, 1500000000, 60, 140, 100, 56.5, 80, 100, 120, 500000000, 500000000,
		                  500000000, 0, 1, 2, 1);
		r.dst2src = stats(1, 100, 1100000000, 1100000000, 100, 100, 100, 0, 100, 100, 100, 0, 0, 0, 0, 0, 1, 1);
		r.seq_n = 3;
		r.seq_size = size;
		r.seq_iat_ns = iat;
		r.seq_dir = dir;
		r.ttl_min[0] = 64;
		r.ttl_min[1] = 128;
		r.ip_id_n[0] = 2;
		r.ip_id_n[1] = 1;
		r.ip_ids[0] = ids_out;
		r.ip_ids[1] = ids_in;
	}
};

// An IPv6 ICMPv6 flow, one packet, idle, in tunnel 3, nothing listed.
cf_flow_record icmp6_flow()
{
	cf_flow_record r;
	std::memset(&r, 0, sizeof r);
	r.id = 8;
	r.ip_version = 6;
	r.proto = 58;
	r.end_reason = CF_FLOW_END_IDLE;
	r.tunnel_id = 3;
	inet_pton(AF_INET6, "2001:db8::1", r.src_ip);
	inet_pton(AF_INET6, "2001:db8::2", r.dst_ip);
	const int64_t t = 1700000000123456789ll;
	r.bidir = stats(1, 64, t, t, 64, 64, 64, 0, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0);
	r.src2dst = r.bidir;
	r.ttl_min[0] = r.ttl_min[1] = 255;
	return r;
}

const char kTcpCsv[] =
    "7,fin,10.0.0.1,10.0.0.2,1234,80,6,4,5,0"
    ",1000000000,1500000000,500000000,3,300,60,100,40,140,80,100,120,100000000,250000000,0.10000000000000001,"
    "400000000,1,0,0,0,3,0,0,2"
    ",1000000000,1500000000,500000000,2,200,60,100,56.5,140,80,100,120,500000000,500000000,0,500000000,"
    "1,0,0,0,2,0,0,1"
    ",1100000000,1100000000,0,1,100,100,100,0,100,100,100,100,0,0,0,0,0,0,0,0,1,0,0,1\n";

const char kTcpJoy[] = "{\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\",\"pr\":6,\"sp\":1234,\"dp\":80,\"bytes_out\":200,"
                       "\"num_pkts_out\":2,\"bytes_in\":100,\"num_pkts_in\":1,\"time_start\":1.000000000,"
                       "\"time_end\":1.500000000,\"packets\":[{\"b\":100,\"dir\":\"<\",\"ipt\":2},"
                       "{\"b\":40,\"dir\":\">\",\"ipt\":1}],\"ip\":{\"out\":{\"ttl\":64,\"id\":[1,2]},"
                       "\"in\":{\"ttl\":128,\"id\":[9]}},\"flow_id\":7,\"end_reason\":\"fin\",\"vlan_id\":5}\n";

cf_flow_opts joy_opts()
{
	cf_flow_opts o;
	cf_flow_opts_default(&o);
	o.idle_timeout_ns = 120000000000ll;
	o.active_timeout_ns = 1800000000000ll;
	o.tcp_end = 1;
	o.unidirectional = 0;
	o.size_mode = CF_SIZE_PAYLOAD;
	o.seq_len = 100;
	o.ip_ids = 50;
	return o;
}

TEST(FlowText, CsvRowOfAnIpv4TcpFlow)
{
	TcpFlow f;
	char buf[CF_FLOW_CSV_ROW_MAX];
	EXPECT_EQ(std::string(buf, cf_flow_csv_row(buf, &f.r)), kTcpCsv);
}

TEST(FlowText, CsvIdentityOfAnIpv6Flow)
{
	cf_flow_record r = icmp6_flow();
	char buf[256];
	EXPECT_EQ(std::string(buf, cf_flow_csv_ident(buf, &r)), "8,idle,2001:db8::1,2001:db8::2,0,0,58,6,0,3");
	EXPECT_EQ(std::string(buf, cf_flow_ip_put(buf, r.dst_ip, 6)), "2001:db8::2");
}

// The header names the columns of cf_flow_rows (the Parquet columns), in order.
TEST(FlowText, CsvHeaderNamesTheFlowRowsColumns)
{
	char buf[CF_FLOW_HEADER_MAX];
	std::string h(buf, cf_flow_csv_header(buf));
	ASSERT_EQ(h.back(), '\n');
	EXPECT_EQ(h.compare(0, std::strlen(CF_FLOW_CSV_IDENT_HEADER ","), CF_FLOW_CSV_IDENT_HEADER ","), 0);
	EXPECT_NE(h.find(",bidirectional_first_seen_ns,bidirectional_last_seen_ns,"), std::string::npos);
	EXPECT_EQ(h.substr(h.size() - 41), ",dst2src_rst_packets,dst2src_fin_packets\n");

	cf_flow_rows *rows = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_flow_rows_create(1, 0, &rows, err), CF_OK) << err;
	const cf_table_schema *s = cf_flow_rows_schema(rows);
	std::string names;
	for (uint32_t i = 0; i < cf_table_schema_columns(s); i++)
		names += (i ? "," : "") + std::string(cf_table_schema_column(s, i)->name);
	cf_flow_rows_free(rows);
	EXPECT_EQ(h, names + "\n");
}

TEST(FlowText, JoyRecordOfAnIpv4TcpFlow)
{
	TcpFlow f;
	cf_flow_opts o = joy_opts();
	std::string buf(cf_joy_record_max(&o), '\0');
	char *p = &buf[0];
	EXPECT_EQ(std::string(p, cf_joy_record(p, &f.r, 0)), kTcpJoy);
	// zeros: the empty first packet is listed, 0 ms after the start
	std::string zeros = kTcpJoy;
	zeros.replace(zeros.find("[{"), 2, "[{\"b\":0,\"dir\":\">\",\"ipt\":0},{");
	EXPECT_EQ(std::string(p, cf_joy_record(p, &f.r, 1)), zeros);
}

TEST(FlowText, JoyRecordOfAnIcmpv6Flow)
{
	cf_flow_record r = icmp6_flow();
	cf_flow_opts o = joy_opts();
	std::string buf(cf_joy_record_max(&o), '\0');
	char *p = &buf[0];
	EXPECT_EQ(std::string(p, cf_joy_record(p, &r, 0)),
	          "{\"sa\":\"2001:db8::1\",\"da\":\"2001:db8::2\",\"pr\":58,\"sp\":null,\"dp\":null,\"bytes_out\":64,"
	          "\"num_pkts_out\":1,\"bytes_in\":0,\"num_pkts_in\":0,\"time_start\":1700000000.123456789,"
	          "\"time_end\":1700000000.123456789,\"packets\":[],\"ip\":{\"out\":{\"ttl\":255}},"
	          "\"expire_type\":\"i\",\"flow_id\":8,\"end_reason\":\"idle\",\"tunnel_id\":3}\n");
}

TEST(FlowText, JoyConfigLine)
{
	cf_flow_opts o = joy_opts();
	char buf[CF_FLOW_HEADER_MAX];
	EXPECT_EQ(std::string(buf, cf_joy_config(buf, &o, 1)),
	          "{\"version\":\"cuflow " CF_VERSION_STRING "\",\"bidir\":1,\"num_pkts\":100,\"zeros\":1,\"retrans\":1,"
	          "\"size\":\"payload\",\"num_ip_ids\":50,\"idle_timeout_ns\":120000000000,"
	          "\"active_timeout_ns\":1800000000000,\"tcp_end\":1,\"end-config\":1}\n");
}

// The run driver's row function: the same text, and where the id's digits are.
TEST(FlowText, RunRowsSayWhereTheIdIs)
{
	TcpFlow f;
	cf_flow_opts o = joy_opts();
	char head[CF_FLOW_HEADER_MAX];
	size_t at = 99, len = 99;

	cf_flow_text csv = {CF_FLOW_TEXT_CSV, 0};
	EXPECT_EQ(cf_flow_text_row_max(&csv, &o), (size_t)CF_FLOW_CSV_ROW_MAX);
	std::string row(cf_flow_text_row_max(&csv, &o), '\0');
	size_t n = cf_flow_text_row(&csv, &f.r, &row[0], &at, &len);
	EXPECT_EQ(row.substr(0, n), kTcpCsv);
	EXPECT_EQ(at, 0u);
	EXPECT_EQ(len, 1u);
	size_t hn = cf_flow_text_header(&csv, &o, head);
	char want[CF_FLOW_HEADER_MAX];
	EXPECT_EQ(std::string(head, hn), std::string(want, cf_flow_csv_header(want)));

	cf_flow_text joy = {CF_FLOW_TEXT_JOY, 0};
	EXPECT_EQ(cf_flow_text_row_max(&joy, &o), cf_joy_record_max(&o));
	row.assign(cf_flow_text_row_max(&joy, &o), '\0');
	f.r.id = 1234567;
	n = cf_flow_text_row(&joy, &f.r, &row[0], &at, &len);
	row.resize(n);
	EXPECT_EQ(row.substr(at, len), "1234567");
	EXPECT_EQ(row.compare(at - 10, 10, "\"flow_id\":"), 0);
	hn = cf_flow_text_header(&joy, &o, head);
	EXPECT_EQ(std::string(head, hn), std::string(want, cf_joy_config(want, &o, 0)));
}

TEST(FlowText, OptionsJsonIsSizedLikeSnprintf)
{
	cf_flow_opts o;
	cf_flow_opts_default(&o);
	o.idle_timeout_ns = 120000000000ll;
	o.active_timeout_ns = 1800000000000ll;
	o.tcp_linger_ns = 2000000000;
	o.tcp_end = 1;
	o.unidirectional = 0;
	o.size_mode = CF_SIZE_WIRE;
	o.orientation = CF_ORIENT_CLIENT;
	o.compat = CF_COMPAT_NONE;
	o.end_order = 1;
	o.max_flows = 1048576;
	o.seq_len = 30;
	o.ip_ids = 0;
	cf_decode_opts d;
	cf_decode_opts_default(&d);
	d.decap = 5;
	d.max_depth = 4;
	const std::string want =
	    "{\"command\": \"flows\", \"format\": \"csv\", \"zeros\": false, \"idle_timeout_ns\": 120000000000, "
	    "\"active_timeout_ns\": 1800000000000, \"tcp_linger_ns\": 2000000000, \"tcp_end\": 1, \"unidirectional\": 0, "
	    "\"size\": 0, \"orientation\": \"client\", \"compat\": \"none\", \"order\": \"end\", \"max_flows\": 1048576, "
	    "\"seq\": 30, \"ip_ids\": 0, \"decap\": 5, \"max_depth\": 4, \"filter\": \"a\\\"b\\\\c\\u0001\"}";
	size_t n = cf_flow_options_json(nullptr, 0, "csv", 0, &o, &d, "a\"b\\c\x01");
	ASSERT_EQ(n, want.size());
	std::string buf(n + 1, 'x');
	EXPECT_EQ(cf_flow_options_json(&buf[0], n + 1, "csv", 0, &o, &d, "a\"b\\c\x01"), n);
	EXPECT_EQ(std::string(buf.c_str()), want);
	char small[10];
	EXPECT_EQ(cf_flow_options_json(small, sizeof small, "csv", 0, &o, &d, "a\"b\\c\x01"), n);
	EXPECT_EQ(std::string(small), want.substr(0, 9));
	// no filter: null
	n = cf_flow_options_json(&buf[0], buf.size(), "jsonl", 1, &o, &d, nullptr);
	EXPECT_NE(std::string(buf.c_str()).find("\"format\": \"jsonl\", \"zeros\": true,"), std::string::npos);
	EXPECT_EQ(std::string(buf.c_str()).substr(n - 15), "\"filter\": null}");
}

} // namespace

// Backend selection and the CPU reference summary, hand-computed.
#include <gtest/gtest.h>
#include "cuflow/internal.h"

TEST(Backend, AutoFallsBackToCpuWithANote)
{
	if (cf_cuda_device_count() > 0)
		GTEST_SKIP() << "a CUDA device is present";
	cf_backend *b = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_backend_open(CF_BACKEND_AUTO, &b, err), CF_OK) << err;
	EXPECT_EQ(cf_backend_kind(b), CF_BACKEND_CPU);
	EXPECT_STRNE(cf_backend_note(b), "");
	cf_backend_close(b);
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CUDA, &b, err), CF_ERR_DEVICE);
	EXPECT_EQ(b, nullptr);
	EXPECT_NE(std::string(err).find("unavailable"), std::string::npos);
}

TEST(Backend, ParseNames)
{
	int k = -1;
	EXPECT_EQ(cf_backend_parse("cpu", &k), CF_OK);
	EXPECT_EQ(k, CF_BACKEND_CPU);
	EXPECT_EQ(cf_backend_parse("cuda", &k), CF_OK);
	EXPECT_EQ(k, CF_BACKEND_CUDA);
	EXPECT_EQ(cf_backend_parse("auto", &k), CF_OK);
	EXPECT_EQ(k, CF_BACKEND_AUTO);
	EXPECT_EQ(cf_backend_parse("tpu", &k), CF_ERR_ARG);
}

TEST(Backend, CpuSummaryHandComputed)
{
	cf_backend *b = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &b, err), CF_OK);
	cf_pkt_batch batch;
	ASSERT_EQ(cf_pkt_batch_init(&batch, 4, 0), CF_OK);
	cf_pkt p{};
	p.ts_ns = 300; p.caplen = 60; p.wirelen = 60; p.layers = CF_LAYER_IPV4 | CF_LAYER_TCP;
	cf_pkt_batch_push(&batch, &p);
	p.ts_ns = 100; p.caplen = 96; p.wirelen = 1514; p.layers = CF_LAYER_IPV6 | CF_LAYER_UDP;
	cf_pkt_batch_push(&batch, &p);
	p.ts_ns = 200; p.caplen = 42; p.wirelen = 42; p.layers = CF_LAYER_ARP; p.skip = CF_SKIP_NON_IP;
	cf_pkt_batch_push(&batch, &p);
	cf_summary s;
	cf_summary_clear(&s);
	ASSERT_EQ(cf_backend_summarize(b, &batch, &s), CF_OK);
	EXPECT_EQ(s.packets, 3u);
	EXPECT_EQ(s.captured_bytes, 198u);
	EXPECT_EQ(s.wire_bytes, 1616u);
	EXPECT_EQ(s.first_ns, 100);
	EXPECT_EQ(s.last_ns, 300);
	EXPECT_EQ(s.layer[0], 1u); // ipv4
	EXPECT_EQ(s.layer[1], 1u); // ipv6
	EXPECT_EQ(s.layer[2], 1u); // tcp
	EXPECT_EQ(s.layer[3], 1u); // udp
	EXPECT_EQ(s.skip[CF_SKIP_NONE], 2u);
	EXPECT_EQ(s.skip[CF_SKIP_NON_IP], 1u);
	cf_pkt_batch_free(&batch);
	cf_backend_close(b);
}

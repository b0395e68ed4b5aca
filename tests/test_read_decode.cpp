// cf_read_decode (the fused read-and-decode loop the scan pipeline uses)
// against its definition: cf_reader_next + cf_decode_frame, frame by frame.
// Same records byte for byte, same count, same final status and error
// offset, for every run length, on captures the test writes (synthetic
// traffic, truncated copies, non-Ethernet links), the Debian captures the
// corpus test fetched, and the whole ../shared/captures corpus.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

struct Read {
	std::vector<cf_pkt> pkts;
	int status = 0;
	int64_t err_off = -1;
	bool opened = false;
};

// Opens path; nullptr (and out->opened false) when it is not a capture.
cf_reader *open_reader(const std::string &path, Read *out)
{
	char err[CF_ERRBUF_SIZE];
	cf_reader *r = nullptr;
	out->opened = cf_reader_open(path.c_str(), &r, err) == CF_OK;
	return out->opened ? r : nullptr;
}

Read per_frame(const std::string &path, const cf_decode_opts *o)
{
	Read out;
	cf_reader *r = open_reader(path, &out);
	if (!r)
		return out;
	cf_frame f;
	int st;
	while ((st = cf_reader_next(r, &f)) == CF_OK) {
		cf_pkt p;
		cf_decode_frame(o, &f, &p);
		out.pkts.push_back(p);
	}
	out.status = st;
	out.err_off = cf_reader_error_offset(r);
	cf_reader_close(r);
	return out;
}

Read fused(const std::string &path, const cf_decode_opts *o, size_t run)
{
	Read out;
	cf_reader *r = open_reader(path, &out);
	if (!r)
		return out;
	std::vector<cf_pkt> buf(run);
	size_t got = 0;
	int st;
	while ((st = cf_read_decode(r, o, buf.data(), run, &got)) == CF_OK) {
		EXPECT_GE(got, 1u);
		EXPECT_LE(got, run);
		out.pkts.insert(out.pkts.end(), buf.begin(), buf.begin() + (long)got);
	}
	EXPECT_EQ(got, 0u) << "a failed call reports no records";
	out.status = st;
	out.err_off = cf_reader_error_offset(r);
	cf_reader_close(r);
	return out;
}

// Returns how many records were compared.
size_t expect_same(const std::string &path, const cf_decode_opts *o, size_t run)
{
	Read a = per_frame(path, o), b = fused(path, o, run);
	EXPECT_EQ(a.opened, b.opened) << path;
	EXPECT_EQ(a.status, b.status) << path << " run " << run;
	EXPECT_EQ(a.err_off, b.err_off) << path << " run " << run;
	EXPECT_EQ(a.pkts.size(), b.pkts.size()) << path << " run " << run;
	size_t n = std::min(a.pkts.size(), b.pkts.size());
	for (size_t i = 0; i < n; i++)
		if (memcmp(&a.pkts[i], &b.pkts[i], sizeof(cf_pkt)) != 0) {
			ADD_FAILURE() << path << ": record " << i << " differs (run " << run << ")";
			break;
		}
	return n;
}

} // namespace

TEST(ReadDecode, SyntheticTrafficEveryRunLength)
{
	std::string path = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 3000 --seed 5 -o " + cft::shq(path)), 0);
	cf_decode_opts all, none;
	cf_decode_opts_default(&all);
	cf_decode_opts_default(&none);
	none.decap = CF_DECAP_NONE;
	for (size_t run : {1, 2, 7, 256, 4096}) {
		EXPECT_GT(expect_same(path, &all, run), 10000u);
		expect_same(path, &none, run);
	}
	expect_same(path, nullptr, 64);
}

TEST(ReadDecode, TruncatedCopiesStopAtTheSameRecordAndOffset)
{
	std::string path = cft::temp_path(".pcap");
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 300 --seed 9 -o " + cft::shq(path)), 0);
	std::vector<uint8_t> whole = cft::read_file(path);
	ASSERT_GT(whole.size(), 100000u);
	std::mt19937_64 rng(17);
	cf_decode_opts o;
	cf_decode_opts_default(&o);
	for (int k = 0; k < 12; k++) {
		size_t cut = 24 + rng() % (whole.size() - 24);
		std::vector<uint8_t> part(whole.begin(), whole.begin() + (long)cut);
		if (k % 3 == 0) // a corrupt record length somewhere in the middle
			memset(part.data() + part.size() / 2, 0xff, 16);
		std::string p = cft::temp_path(".pcap");
		cft::write_file(p, part);
		Read a = per_frame(p, &o);
		EXPECT_NE(a.status, CF_OK);
		for (size_t run : {1, 5, 256})
			expect_same(p, &o, run);
	}
}

TEST(ReadDecode, OtherLinkTypesTakeTheGeneralPath)
{
	// raw IPv4 (link type 101) and Linux cooked (113): not the Ethernet
	// fast loop, the same records all the same
	std::vector<cft::Frame> raw, sll;
	for (int i = 0; i < 50; i++) {
		auto ip = cft::ipv4(0x0a000001 + i, 0x0a000002, 17, cft::udp(1000 + i, 53, std::vector<uint8_t>(i, 7)));
		raw.push_back({1000000000LL * i, ip});
		std::vector<uint8_t> hdr = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
		sll.push_back({1000000000LL * i + 5, cft::cat(hdr, ip)});
	}
	std::string a = cft::temp_path(".pcap"), b = cft::temp_path(".pcap");
	cft::write_pcap(a, 101, raw);
	cft::write_pcap(b, 113, sll, true);
	cf_decode_opts o;
	cf_decode_opts_default(&o);
	for (size_t run : {1, 3, 256}) {
		EXPECT_EQ(expect_same(a, &o, run), 50u);
		EXPECT_EQ(expect_same(b, &o, run), 50u);
	}
}

TEST(ReadDecode, EveryCaptureOfTheCorpus)
{
	std::vector<std::string> roots;
	std::string shared = cft::shared_dir();
	if (!shared.empty())
		roots.push_back(shared + "/captures");
	std::string debian = std::string(CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/tests/.data/debian";
	if (cft::exists(debian))
		roots.push_back(debian);
	if (roots.empty())
		GTEST_SKIP() << "neither ../shared/captures nor the fetched Debian captures are here";
	cf_decode_opts o;
	cf_decode_opts_default(&o);
	size_t files = 0, records = 0;
	for (const auto &root : roots)
		for (const auto &e : std::filesystem::recursive_directory_iterator(
		         root, std::filesystem::directory_options::skip_permission_denied)) {
			if (!e.is_regular_file() || e.file_size() > (64u << 20))
				continue;
			std::string ext = e.path().extension().string();
			if (ext == ".md" || ext == ".tsv" || ext == ".txt" || ext == ".csv" || ext == ".json")
				continue;
			records += expect_same(e.path().string(), &o, files % 2 ? 3 : 256);
			files++;
		}
	EXPECT_GT(files, 100u);
	EXPECT_GT(records, 10000u);
	std::printf("compared %zu records in %zu files\n", records, files);
}

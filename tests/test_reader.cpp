// Capture readers: classic pcap, pcapng, snoop, compression, stdin,
// memory, libpcap fallback and damage, on files these tests write byte by
// byte (expected values are the ones written).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

struct Got {
	int status = 0;
	std::vector<cf_frame> frames;
	std::vector<std::vector<uint8_t>> data;
	cf_reader_info info{};
	std::string error;
	int64_t error_offset = -1;
};

Got read_all(cf_reader *r)
{
	Got g;
	cf_frame f;
	int st;
	while ((st = cf_reader_next(r, &f)) == CF_OK) {
		g.frames.push_back(f);
		g.data.emplace_back(f.data, f.data + f.caplen);
	}
	g.status = st;
	g.info = *cf_reader_get_info(r);
	g.error = cf_reader_error(r);
	g.error_offset = cf_reader_error_offset(r);
	return g;
}

Got read_path(const std::string &path, int *open_status = nullptr, std::string *open_err = nullptr)
{
	cf_reader *r = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	int st = cf_reader_open(path.c_str(), &r, err);
	if (open_status)
		*open_status = st;
	if (open_err)
		*open_err = err;
	if (st < 0) {
		Got g;
		g.status = st;
		g.error = err;
		return g;
	}
	Got g = read_all(r);
	cf_reader_close(r);
	return g;
}

Got read_mem(const std::vector<uint8_t> &bytes)
{
	cf_reader *r = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	int st = cf_reader_open_memory(bytes.data(), bytes.size(), "mem", &r, err);
	if (st < 0) {
		Got g;
		g.status = st;
		g.error = err;
		return g;
	}
	Got g = read_all(r);
	cf_reader_close(r);
	return g;
}

// Little helpers writing integers in a chosen byte order.
struct W {
	std::vector<uint8_t> v;
	bool be = false;
	void u8(uint8_t x) { v.push_back(x); }
	void u16(uint16_t x)
	{
		if (be) { u8(x >> 8); u8(x & 0xff); }
		else { u8(x & 0xff); u8(x >> 8); }
	}
	void u32(uint32_t x)
	{
		if (be) { u16(x >> 16); u16(x & 0xffff); }
		else { u16(x & 0xffff); u16(x >> 16); }
	}
	void bytes(const std::vector<uint8_t> &b) { v.insert(v.end(), b.begin(), b.end()); }
	void pad4() { while (v.size() % 4) u8(0); }
};

std::vector<uint8_t> frame_bytes(size_t n, uint8_t seed)
{
	std::vector<uint8_t> b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
	return b;
}

// pcapng block writer: type, body -> full block with both lengths.
void block(W &w, uint32_t type, const std::vector<uint8_t> &body)
{
	uint32_t len = 12 + (uint32_t)((body.size() + 3) & ~3u);
	w.u32(type);
	w.u32(len);
	w.bytes(body);
	w.pad4();
	w.u32(len);
}

std::vector<uint8_t> shb_body(bool be)
{
	W b;
	b.be = be;
	b.u32(0x1a2b3c4d);
	b.u16(1);
	b.u16(0);
	b.u32(0xffffffff); // section length -1
	b.u32(0xffffffff);
	return b.v;
}

// IDB with optional if_tsresol (code 9) and if_tsoffset (code 14).
std::vector<uint8_t> idb_body(bool be, uint16_t linktype, uint32_t snaplen, int tsresol = -1,
                              int64_t tsoffset = 0)
{
	W b;
	b.be = be;
	b.u16(linktype);
	b.u16(0);
	b.u32(snaplen);
	if (tsresol >= 0) {
		b.u16(9);
		b.u16(1);
		b.u8((uint8_t)tsresol);
		b.pad4();
	}
	if (tsoffset) {
		b.u16(14);
		b.u16(8);
		uint64_t o = (uint64_t)tsoffset;
		if (be) { b.u32((uint32_t)(o >> 32)); b.u32((uint32_t)o); }
		else { b.u32((uint32_t)o); b.u32((uint32_t)(o >> 32)); }
	}
	b.u16(0);
	b.u16(0);
	return b.v;
}

std::vector<uint8_t> epb_body(bool be, uint32_t iface, uint64_t ts, const std::vector<uint8_t> &data,
                              uint32_t wirelen)
{
	W b;
	b.be = be;
	b.u32(iface);
	b.u32((uint32_t)(ts >> 32));
	b.u32((uint32_t)ts);
	b.u32((uint32_t)data.size());
	b.u32(wirelen);
	b.bytes(data);
	b.pad4();
	return b.v;
}

std::vector<uint8_t> classic(bool be, bool nsec, uint32_t linktype,
                             const std::vector<std::pair<uint64_t, std::vector<uint8_t>>> &pkts)
{
	W w;
	w.be = be;
	w.u32(nsec ? 0xa1b23c4d : 0xa1b2c3d4);
	w.u16(2);
	w.u16(4);
	w.u32(0);
	w.u32(0);
	w.u32(65535);
	w.u32(linktype);
	for (auto &p : pkts) {
		w.u32((uint32_t)(p.first / 1000000000));
		w.u32((uint32_t)(nsec ? p.first % 1000000000 : p.first % 1000000000 / 1000));
		w.u32((uint32_t)p.second.size());
		w.u32((uint32_t)p.second.size() + 4);
		w.bytes(p.second);
	}
	return w.v;
}

} // namespace

TEST(Reader, ClassicPcapAllMagicsAndByteOrders)
{
	for (int be = 0; be < 2; be++)
		for (int nsec = 0; nsec < 2; nsec++) {
			std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts = {
				{1700000000123456789ull, frame_bytes(60, 1)},
				{1700000001000001000ull, frame_bytes(1514, 2)},
				{1700000001000001000ull, frame_bytes(0, 3)},
			};
			Got g = read_mem(classic(be, nsec, 113, pkts));
			ASSERT_EQ(g.status, CF_EOF) << g.error;
			ASSERT_EQ(g.frames.size(), 3u);
			EXPECT_EQ(g.info.format, CF_FORMAT_PCAP);
			EXPECT_EQ(g.info.big_endian, be);
			EXPECT_EQ(g.info.ts_resolution_ns, nsec ? 1 : 1000);
			EXPECT_EQ(g.info.snaplen, 65535u);
			ASSERT_EQ(g.info.n_linktypes, 1u);
			EXPECT_EQ(g.info.linktypes[0], 113u);
			EXPECT_EQ(g.frames[0].ts_ns, nsec ? 1700000000123456789ll : 1700000000123456000ll);
			EXPECT_EQ(g.frames[1].ts_ns, 1700000001000001000ll);
			for (int i = 0; i < 3; i++) {
				EXPECT_EQ(g.frames[i].caplen, pkts[i].second.size());
				EXPECT_EQ(g.frames[i].wirelen, pkts[i].second.size() + 4);
				EXPECT_EQ(g.frames[i].linktype, 113u);
				EXPECT_EQ(g.data[i], pkts[i].second);
			}
			EXPECT_EQ(g.frames[0].offset, 24u);
			EXPECT_EQ(g.frames[1].offset, 24u + 16 + 60);
		}
}

TEST(Reader, ClassicPcapFromFileMapsAndMatchesMemory)
{
	std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
	for (int i = 0; i < 1000; i++)
		pkts.push_back({1000000000ull * i + 5000, frame_bytes(40 + i % 1500, (uint8_t)i)});
	auto bytes = classic(false, false, 1, pkts);
	std::string path = cft::temp_path(".bin"); // the name says nothing about the format
	cft::write_file(path, bytes);
	Got g = read_path(path);
	ASSERT_EQ(g.status, CF_EOF) << g.error;
	ASSERT_EQ(g.frames.size(), 1000u);
	EXPECT_EQ(g.info.file_size, bytes.size());
	for (int i = 0; i < 1000; i++) {
		ASSERT_EQ(g.data[i], pkts[i].second);
		ASSERT_EQ(g.frames[i].ts_ns, (int64_t)(1000000000ll * i + 5000));
	}
}

TEST(Reader, PcapngInterfacesResolutionsOffsetsAndBlocks)
{
	for (int be = 0; be < 2; be++) {
		W w;
		w.be = be;
		block(w, 0x0a0d0d0a, shb_body(be));
		block(w, 1, idb_body(be, 1, 65535));              // if 0: Ethernet, default microseconds
		block(w, 1, idb_body(be, 101, 128, 9));           // if 1: raw IP, nanoseconds (10^-9)
		block(w, 1, idb_body(be, 113, 0, 0x80 | 10, 100)); // if 2: SLL, 2^-10 s, offset +100 s
		block(w, 0x0bad, {1, 2, 3, 4, 5});                // custom block: skipped
		block(w, 5, std::vector<uint8_t>(20, 0));         // statistics block: skipped
		auto d0 = frame_bytes(60, 9), d1 = frame_bytes(33, 8), d2 = frame_bytes(100, 7);
		block(w, 6, epb_body(be, 0, 1700000000123456ull, d0, 60));
		block(w, 6, epb_body(be, 1, 1700000000123456789ull, d1, 1500));
		block(w, 6, epb_body(be, 2, 1024ull * 5 + 512, d2, 100)); // 5.5 s + 100 s
		// obsolete packet block on interface 1
		W pb;
		pb.be = be;
		pb.u16(1);
		pb.u16(0);
		pb.u32(0);
		pb.u32(42);
		pb.u32(4);
		pb.u32(4);
		pb.bytes({0x45, 0, 0, 4});
		block(w, 2, pb.v);
		// simple packet block: interface 0, no timestamp
		W spb;
		spb.be = be;
		spb.u32(50);
		spb.bytes(frame_bytes(50, 3));
		block(w, 3, spb.v);
		Got g = read_mem(w.v);
		ASSERT_EQ(g.status, CF_EOF) << g.error;
		ASSERT_EQ(g.frames.size(), 5u);
		EXPECT_EQ(g.info.format, CF_FORMAT_PCAPNG);
		EXPECT_EQ(g.info.big_endian, be);
		EXPECT_EQ(g.info.interfaces, 3u);
		EXPECT_EQ(g.info.sections, 1u);
		EXPECT_EQ(g.info.ts_mixed, 1);
		ASSERT_EQ(g.info.n_linktypes, 3u);
		EXPECT_EQ(g.info.linktypes[0], 1u);
		EXPECT_EQ(g.info.linktypes[1], 101u);
		EXPECT_EQ(g.info.linktypes[2], 113u);
		EXPECT_EQ(g.frames[0].ts_ns, 1700000000123456000ll);
		EXPECT_EQ(g.frames[0].linktype, 1u);
		EXPECT_EQ(g.data[0], d0);
		EXPECT_EQ(g.frames[1].ts_ns, 1700000000123456789ll);
		EXPECT_EQ(g.frames[1].linktype, 101u);
		EXPECT_EQ(g.frames[1].wirelen, 1500u);
		EXPECT_EQ(g.frames[1].iface, 1u);
		EXPECT_EQ(g.frames[2].ts_ns, 105500000000ll);
		EXPECT_EQ(g.frames[2].linktype, 113u);
		EXPECT_EQ(g.data[2], d2);
		EXPECT_EQ(g.frames[3].ts_ns, 42);
		EXPECT_EQ(g.frames[3].linktype, 101u);
		EXPECT_EQ(g.frames[4].linktype, 1u);
		EXPECT_EQ(g.frames[4].caplen, 50u);
		EXPECT_EQ(g.frames[4].ts_ns, 42); // no timestamp: the previous packet's time
	}
}

TEST(Reader, PcapngSeveralSectionsWithDifferentByteOrders)
{
	W w;
	w.be = false;
	block(w, 0x0a0d0d0a, shb_body(false));
	block(w, 1, idb_body(false, 1, 0));
	block(w, 6, epb_body(false, 0, 1000000, frame_bytes(20, 1), 20));
	W w2;
	w2.be = true;
	block(w2, 0x0a0d0d0a, shb_body(true));
	block(w2, 1, idb_body(true, 229, 0, 9));
	block(w2, 6, epb_body(true, 0, 7, frame_bytes(40, 2), 40));
	w.bytes(w2.v);
	Got g = read_mem(w.v);
	ASSERT_EQ(g.status, CF_EOF) << g.error;
	ASSERT_EQ(g.frames.size(), 2u);
	EXPECT_EQ(g.info.sections, 2u);
	EXPECT_EQ(g.frames[0].ts_ns, 1000000000ll);
	EXPECT_EQ(g.frames[1].ts_ns, 7);
	EXPECT_EQ(g.frames[1].linktype, 229u);
	EXPECT_EQ(g.data[1], frame_bytes(40, 2));
}

TEST(Reader, PcapngDamage)
{
	W w;
	block(w, 0x0a0d0d0a, shb_body(false));
	block(w, 1, idb_body(false, 1, 0));
	block(w, 6, epb_body(false, 0, 1, frame_bytes(60, 1), 60));
	size_t good = w.v.size();
	block(w, 6, epb_body(false, 0, 2, frame_bytes(60, 2), 60));
	// truncated inside the second packet block
	std::vector<uint8_t> cut(w.v.begin(), w.v.begin() + good + 30);
	Got g = read_mem(cut);
	EXPECT_EQ(g.status, CF_ERR_TRUNCATED);
	EXPECT_EQ(g.frames.size(), 1u);
	EXPECT_EQ(g.error_offset, (int64_t)good);
	EXPECT_NE(g.error.find("mem"), std::string::npos);
	EXPECT_NE(g.error.find("offset " + std::to_string(good)), std::string::npos) << g.error;
	// block length not a multiple of 4
	std::vector<uint8_t> bad = w.v;
	bad[good + 4] = 0x4d;
	g = read_mem(bad);
	EXPECT_EQ(g.status, CF_ERR_CORRUPT);
	EXPECT_EQ(g.frames.size(), 1u);
	EXPECT_NE(g.error.find("multiple of 4"), std::string::npos) << g.error;
	// interface id out of range
	W w3;
	block(w3, 0x0a0d0d0a, shb_body(false));
	block(w3, 6, epb_body(false, 0, 1, frame_bytes(60, 1), 60));
	g = read_mem(w3.v);
	EXPECT_EQ(g.status, CF_ERR_CORRUPT);
	EXPECT_NE(g.error.find("interface"), std::string::npos) << g.error;
}

TEST(Reader, ClassicPcapDamage)
{
	std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts = {{1, frame_bytes(100, 1)}, {2, frame_bytes(100, 2)}};
	auto bytes = classic(false, false, 1, pkts);
	for (size_t cut = 24; cut < bytes.size(); cut++) {
		Got g = read_mem(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut));
		size_t complete = cut >= 24 + 116 * 2 ? 2 : cut >= 24 + 116 ? 1 : 0;
		ASSERT_EQ(g.frames.size(), complete) << cut;
		if (cut == 24 || cut == 24 + 116) {
			ASSERT_EQ(g.status, CF_EOF) << cut;
		} else {
			ASSERT_EQ(g.status, CF_ERR_TRUNCATED) << cut;
			ASSERT_EQ(g.error_offset, (int64_t)(24 + 116 * complete)) << cut;
		}
	}
	// absurd captured length: an error, not a huge allocation
	auto bad = bytes;
	bad[24 + 8] = 0xff, bad[24 + 9] = 0xff, bad[24 + 10] = 0xff, bad[24 + 11] = 0x7f;
	Got g = read_mem(bad);
	EXPECT_EQ(g.status, CF_ERR_CORRUPT);
	EXPECT_EQ(g.frames.size(), 0u);
	// short file header
	g = read_mem(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10));
	EXPECT_EQ(g.status, CF_ERR_TRUNCATED);
}

TEST(Reader, NotACaptureSaysWhatItLooksLike)
{
	struct { std::vector<uint8_t> bytes; const char *what; } cases[] = {
		{{}, "empty"},
		{{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'}, "text"},
		{{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "ELF"},
		{{0x89, 'P', 'N', 'G', 13, 10, 26, 10}, "PNG"},
		{{0, 1, 2, 3, 0xfe, 0xff, 0x80, 0x81}, "binary"},
	};
	for (auto &c : cases) {
		std::string path = cft::temp_path(".pcap");
		cft::write_file(path, c.bytes);
		int st = 0;
		std::string err;
		read_path(path, &st, &err);
		EXPECT_EQ(st, CF_ERR_NOT_CAPTURE) << c.what;
		EXPECT_NE(err.find(c.what), std::string::npos) << err;
		EXPECT_NE(err.find(path), std::string::npos) << err;
	}
}

TEST(Reader, SnoopFile)
{
	W w;
	w.be = true;
	for (char c : std::string("snoop\0\0\0", 8))
		w.u8((uint8_t)c);
	w.u32(2);
	w.u32(4); // Ethernet
	auto d = frame_bytes(61, 5);
	w.u32(70);                  // original length
	w.u32(61);                  // included length
	w.u32(24 + 64);             // record length, padded
	w.u32(0);                   // drops
	w.u32(1600000000);
	w.u32(250000);
	w.bytes(d);
	w.u8(0), w.u8(0), w.u8(0);
	Got g = read_mem(w.v);
	ASSERT_EQ(g.status, CF_EOF) << g.error;
	ASSERT_EQ(g.frames.size(), 1u);
	EXPECT_EQ(g.info.format, CF_FORMAT_SNOOP);
	EXPECT_EQ(g.frames[0].ts_ns, 1600000000250000000ll);
	EXPECT_EQ(g.frames[0].wirelen, 70u);
	EXPECT_EQ(g.frames[0].linktype, 1u);
	EXPECT_EQ(g.data[0], d);
}

TEST(Reader, CompressedFilesAndStdinMatchThePlainFile)
{
	std::vector<std::pair<uint64_t, std::vector<uint8_t>>> pkts;
	for (int i = 0; i < 3000; i++)
		pkts.push_back({1000ull * i, frame_bytes(60 + (i * 37) % 1454, (uint8_t)i)});
	auto bytes = classic(false, true, 1, pkts);
	std::string plain = cft::temp_path(".pcap");
	cft::write_file(plain, bytes);
	struct { const char *tool; int compression; } tools[] = {
		{"gzip -c", CF_COMPRESSION_GZIP}, {"zstd -q -c", CF_COMPRESSION_ZSTD},
		{"lz4 -q -B4 -c", CF_COMPRESSION_LZ4}, {"xz -c", CF_COMPRESSION_XZ},
	};
	for (auto &t : tools) {
		std::string tool = std::string(t.tool).substr(0, std::string(t.tool).find(' '));
		if (cft::run("command -v " + tool) != 0) {
			ADD_FAILURE() << tool << " missing (.ci/run installs it)";
			continue;
		}
		std::string z = cft::temp_path(".cap");
		ASSERT_EQ(cft::run(std::string(t.tool) + " " + plain + " > " + z), 0);
		Got g = read_path(z);
		ASSERT_EQ(g.status, CF_EOF) << t.tool << ": " << g.error;
		EXPECT_EQ(g.info.compression, t.compression);
		ASSERT_EQ(g.frames.size(), pkts.size()) << t.tool;
		for (size_t i = 0; i < pkts.size(); i++)
			ASSERT_EQ(g.data[i], pkts[i].second) << t.tool << " packet " << i;
		// a truncated compressed file is an error after the packets it holds
		auto zb = cft::read_file(z);
		zb.resize(zb.size() * 2 / 3);
		std::string zc = cft::temp_path(".cap");
		cft::write_file(zc, zb);
		g = read_path(zc);
		EXPECT_LT(g.status, 0) << t.tool;
		EXPECT_GT(g.frames.size(), 0u) << t.tool;
		EXPECT_LT(g.frames.size(), pkts.size()) << t.tool;
		// the same through standard input, via the CLI
		std::string out;
		ASSERT_EQ(cft::run(cft::cuflow_bin() + " info --json --backend cpu - < " + z, &out), 0) << out;
		EXPECT_NE(out.find("\"packets\":3000,"), std::string::npos) << out;
	}
}

TEST(Reader, LibpcapFallbackReadsModifiedPcap)
{
	// The "modified pcap" (Kuznetzov) variant: magic a1b2cd34, 24-byte
	// record headers (ifindex, protocol, pkt_type, pad). cuflow does not
	// walk it itself; libpcap does.
	W w;
	w.u32(0xa1b2cd34);
	w.u16(2);
	w.u16(4);
	w.u32(0);
	w.u32(0);
	w.u32(65535);
	w.u32(1);
	for (int i = 0; i < 3; i++) {
		w.u32(100 + i);
		w.u32(5);
		w.u32(60);
		w.u32(60);
		w.u32(0);
		w.u16(0);
		w.u8(0);
		w.u8(0);
		w.bytes(frame_bytes(60, (uint8_t)i));
	}
	std::string path = cft::temp_path(".pcap");
	cft::write_file(path, w.v);
	Got g = read_path(path);
	ASSERT_EQ(g.status, CF_EOF) << g.error;
	EXPECT_EQ(g.info.format, CF_FORMAT_LIBPCAP);
	ASSERT_EQ(g.frames.size(), 3u);
	EXPECT_EQ(g.frames[2].ts_ns, 102000005000ll);
	EXPECT_EQ(g.data[1], frame_bytes(60, 1));
}

// Damaged and non-capture inputs through `cuflow info --json`.
//
// The requirement: a truncated or corrupt file gives a clear message naming
// the file and the byte offset; the packets before the damage are kept;
// processing continues with the next file; the exit status is 2 when any
// file was damaged. A file that is not a capture at all is rejected at once
// (exit 2) with a message saying what it looks like. Never a crash, hang,
// unbounded allocation or out-of-bounds read.
//
// Every run goes through `timeout 20` and, where the binary tolerates it,
// `ulimit -v` (1 GiB), so a hang or a huge allocation fails the test
// instead of the machine. What each cut file should yield is computed here
// by walking the pcap records / pcapng blocks independently of cuflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "test_util.h"

namespace {

// ------------------------------------------------------------------ a small JSON reader
struct Json {
	enum Type { Null, Bool, Num, Str, Arr, Obj } type = Null;
	bool b = false;
	double num = 0;
	long long inum = 0;
	std::string str;
	std::vector<Json> arr;
	std::map<std::string, Json> obj;

	const Json &operator[](const std::string &k) const
	{
		static const Json null;
		auto it = obj.find(k);
		return it == obj.end() ? null : it->second;
	}
	const Json &operator[](size_t i) const
	{
		static const Json null;
		return i < arr.size() ? arr[i] : null;
	}
	bool is_null() const { return type == Null; }
	long long i() const { return inum; }
};

struct JsonParser {
	const std::string &s;
	size_t p = 0;
	bool ok = true;
	explicit JsonParser(const std::string &src) : s(src) {}
	void ws()
	{
		while (p < s.size() && strchr(" \t\r\n", s[p]))
			p++;
	}
	bool lit(const char *w)
	{
		size_t n = strlen(w);
		if (s.compare(p, n, w) == 0) {
			p += n;
			return true;
		}
		return false;
	}
	std::string string_body()
	{
		std::string out;
		p++; // opening quote
		while (p < s.size() && s[p] != '"') {
			char c = s[p++];
			if (c == '\\' && p < s.size()) {
				char e = s[p++];
				switch (e) {
				case 'n': out += '\n'; break;
				case 't': out += '\t'; break;
				case 'r': out += '\r'; break;
				case 'b': out += '\b'; break;
				case 'f': out += '\f'; break;
				case 'u': {
					unsigned v = (unsigned)strtoul(s.substr(p, 4).c_str(), nullptr, 16);
					p += 4;
					if (v < 0x80)
						out += (char)v;
					else
						out += '?';
					break;
				}
				default: out += e;
				}
			} else {
				out += c;
			}
		}
		if (p >= s.size())
			ok = false;
		p++;
		return out;
	}
	Json value(int depth = 0)
	{
		Json v;
		ws();
		if (p >= s.size() || depth > 64) {
			ok = false;
			return v;
		}
		char c = s[p];
		if (c == '{') {
			v.type = Json::Obj;
			p++;
			ws();
			if (p < s.size() && s[p] == '}') {
				p++;
				return v;
			}
			while (ok) {
				ws();
				if (p >= s.size() || s[p] != '"') {
					ok = false;
					break;
				}
				std::string k = string_body();
				ws();
				if (p >= s.size() || s[p] != ':') {
					ok = false;
					break;
				}
				p++;
				v.obj[k] = value(depth + 1);
				ws();
				if (p < s.size() && s[p] == ',') {
					p++;
					continue;
				}
				if (p < s.size() && s[p] == '}') {
					p++;
					break;
				}
				ok = false;
			}
		} else if (c == '[') {
			v.type = Json::Arr;
			p++;
			ws();
			if (p < s.size() && s[p] == ']') {
				p++;
				return v;
			}
			while (ok) {
				v.arr.push_back(value(depth + 1));
				ws();
				if (p < s.size() && s[p] == ',') {
					p++;
					continue;
				}
				if (p < s.size() && s[p] == ']') {
					p++;
					break;
				}
				ok = false;
			}
		} else if (c == '"') {
			v.type = Json::Str;
			v.str = string_body();
		} else if (lit("null")) {
		} else if (lit("true")) {
			v.type = Json::Bool;
			v.b = true;
		} else if (lit("false")) {
			v.type = Json::Bool;
		} else {
			size_t q = p;
			while (q < s.size() && strchr("+-0123456789.eE", s[q]))
				q++;
			if (q == p) {
				ok = false;
				return v;
			}
			v.type = Json::Num;
			std::string t = s.substr(p, q - p);
			v.num = strtod(t.c_str(), nullptr);
			v.inum = strtoll(t.c_str(), nullptr, 10);
			p = q;
		}
		return v;
	}
};

// ------------------------------------------------------------------ running cuflow
struct InfoRun {
	int status = -1;       // exit status; 124 = timed out; >= 128 = killed by a signal
	std::string out, err;  // stdout, stderr
	Json doc;
	bool parsed = false;
	double seconds = 0;
	const Json &file(size_t i) const { return doc["files"][i]; }
};

using cft::shq;

// How every run is wrapped: `timeout`, and `ulimit -v` unless the binary
// cannot start under it (sanitizer builds reserve terabytes of address space).
struct Harness {
	std::string prefix;   // "ulimit -v N; " or ""
	std::string backend;  // " --backend cpu" when accepted
	bool ready = false;
};

Harness &harness()
{
	static Harness h;
	if (h.ready)
		return h;
	h.ready = true;
	std::string good = cft::temp_path(".pcap");
	cft::write_pcap(good, 1, {{1000000000, std::vector<uint8_t>(60, 0)}});
	std::string bin = shq(cft::cuflow_bin());
	// Prefer the CPU backend: it needs no device and little address space.
	if (cft::run("timeout 20 " + bin + " info --json --backend cpu " + shq(good) + " >/dev/null") == 0)
		h.backend = " --backend cpu";
	std::string ul = "ulimit -v 1048576; ";
	if (cft::env("CUFLOW_NO_ULIMIT").empty() &&
	    cft::run("(" + ul + "timeout 20 " + bin + " info --json" + h.backend + " " + shq(good) + ") >/dev/null") == 0)
		h.prefix = ul;
	else
		fprintf(stderr, "[note] running without ulimit -v (the binary does not start under it)\n");
	return h;
}

InfoRun info(const std::vector<std::string> &files, const std::string &stdin_file = "")
{
	Harness &h = harness();
	InfoRun r;
	std::string out = cft::temp_path(".out"), err = cft::temp_path(".err");
	// The outer parentheses keep cft::run's trailing 2>&1 off our redirections.
	std::string cmd = "((" + h.prefix + "exec timeout 20 " + shq(cft::cuflow_bin()) + " info --json" + h.backend;
	for (const std::string &f : files)
		cmd += " " + shq(f);
	cmd += ")";
	if (!stdin_file.empty())
		cmd += " <" + shq(stdin_file);
	else
		cmd += " </dev/null";
	cmd += " >" + shq(out) + " 2>" + shq(err) + ")";
	auto t0 = std::chrono::steady_clock::now();
	r.status = cft::run(cmd);
	r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	auto o = cft::read_file(out), e = cft::read_file(err);
	r.out.assign(o.begin(), o.end());
	r.err.assign(e.begin(), e.end());
	JsonParser jp(r.out);
	r.doc = jp.value();
	r.parsed = jp.ok && r.doc.type == Json::Obj;
	remove(out.c_str());
	remove(err.c_str());
	return r;
}

std::string basename_of(const std::string &p)
{
	size_t s = p.rfind('/');
	return s == std::string::npos ? p : p.substr(s + 1);
}

std::string lower(std::string s)
{
	std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return (char)tolower(c); });
	return s;
}

// The message of file i (error.message, else stderr).
std::string message_of(const InfoRun &r, size_t i)
{
	const Json &e = r.file(i)["error"];
	if (e.type == Json::Obj)
		return e["message"].str;
	return "";
}

// Context for failures: the command's outputs.
std::string ctx(const InfoRun &r)
{
	return "exit " + std::to_string(r.status) + "\nstdout: " + r.out.substr(0, 2000) + "\nstderr: " + r.err.substr(0, 2000);
}

// ------------------------------------------------------------------ independent record walker
struct Walk {
	bool ok = false;                // the format was recognised
	uint64_t header_end = 0;        // end of the file header (pcap) / first SHB (pcapng)
	// For each packet record: its end offset and captured length.
	std::vector<std::pair<uint64_t, uint32_t>> packets;
	// Offsets where a record/block ends (clean cut points), incl. header_end.
	std::vector<uint64_t> boundaries;
};

uint32_t rd32(const uint8_t *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
	          : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

Walk walk(const std::vector<uint8_t> &b)
{
	Walk w;
	if (b.size() < 24)
		return w;
	uint32_t m = rd32(b.data(), false);
	if (m == 0xa1b2c3d4 || m == 0xa1b23c4d || m == 0xd4c3b2a1 || m == 0x4d3cb2a1) {
		bool be = (m == 0xd4c3b2a1 || m == 0x4d3cb2a1);
		w.ok = true;
		w.header_end = 24;
		w.boundaries.push_back(24);
		uint64_t off = 24;
		while (off + 16 <= b.size()) {
			uint32_t caplen = rd32(&b[off + 8], be);
			if (caplen > b.size() - off - 16)
				break;
			off += 16 + caplen;
			w.packets.push_back({off, caplen});
			w.boundaries.push_back(off);
		}
		return w;
	}
	if (m == 0x0a0d0d0a) {
		w.ok = true;
		uint64_t off = 0;
		bool be = false;
		bool first = true;
		while (off + 12 <= b.size()) {
			uint32_t type = rd32(&b[off], false);
			if (type == 0x0a0d0d0a) {
				uint32_t bom = rd32(&b[off + 8], false);
				be = (bom == 0x4d3c2b1a);
			}
			uint32_t len = rd32(&b[off + 4], be);
			if (len < 12 || len % 4 || len > b.size() - off)
				break;
			uint32_t t = rd32(&b[off], be);
			if (t == 6 && len >= 32)
				w.packets.push_back({off + len, rd32(&b[off + 20], be)});
			else if (t == 3 && len >= 16)
				w.packets.push_back({off + len, 0}); // caplen depends on the IDB snaplen; not used
			else if (t == 2 && len >= 32)
				w.packets.push_back({off + len, rd32(&b[off + 20], be)});
			off += len;
			if (first)
				w.header_end = off;
			first = false;
			w.boundaries.push_back(off);
		}
		return w;
	}
	return w;
}

// Complete packet records in the first `cut` bytes.
size_t packets_before(const Walk &w, uint64_t cut)
{
	size_t n = 0;
	for (auto &p : w.packets)
		if (p.first <= cut)
			n++;
	return n;
}
uint64_t bytes_before(const Walk &w, uint64_t cut)
{
	uint64_t n = 0;
	for (auto &p : w.packets)
		if (p.first <= cut)
			n += p.second;
	return n;
}
bool is_boundary(const Walk &w, uint64_t cut)
{
	return std::find(w.boundaries.begin(), w.boundaries.end(), cut) != w.boundaries.end();
}

// ------------------------------------------------------------------ capture builders
void put16(std::vector<uint8_t> &v, uint16_t x)
{
	v.push_back((uint8_t)x);
	v.push_back((uint8_t)(x >> 8));
}
void put32(std::vector<uint8_t> &v, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		v.push_back((uint8_t)(x >> (8 * i)));
}
void set32(std::vector<uint8_t> &v, size_t off, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		v[off + i] = (uint8_t)(x >> (8 * i));
}

std::vector<uint8_t> udp_frame(int i, size_t payload)
{
	const uint8_t a[6] = {0, 1, 2, 3, 4, 5}, b[6] = {6, 7, 8, 9, 10, 11};
	std::vector<uint8_t> pl(payload, (uint8_t)i);
	return cft::cat(cft::eth(a, b, 0x0800),
	                cft::ipv4(0x0a000001, 0x0a000002, 17, cft::udp((uint16_t)(1000 + i), 53, pl)));
}

std::vector<cft::Frame> some_frames(int n, uint32_t seed)
{
	std::mt19937 rng(seed);
	std::vector<cft::Frame> fr;
	for (int i = 0; i < n; i++)
		fr.push_back({1600000000000000000LL + i * 1000000LL, udp_frame(i, rng() % 300)});
	return fr;
}

// Little-endian pcapng: SHB, one Ethernet IDB, then one EPB per frame.
// Returns the bytes; *epb_offsets receives each EPB's offset.
std::vector<uint8_t> pcapng_bytes(const std::vector<cft::Frame> &frames, std::vector<size_t> *epb_offsets = nullptr)
{
	std::vector<uint8_t> v;
	put32(v, 0x0a0d0d0a);
	put32(v, 28);
	put32(v, 0x1a2b3c4d);
	put16(v, 1);
	put16(v, 0);
	put32(v, 0xffffffff);
	put32(v, 0xffffffff);
	put32(v, 28);
	put32(v, 1); // IDB
	put32(v, 20);
	put16(v, 1);
	put16(v, 0);
	put32(v, 65535);
	put32(v, 20);
	for (const cft::Frame &f : frames) {
		if (epb_offsets)
			epb_offsets->push_back(v.size());
		uint32_t cap = (uint32_t)f.bytes.size(), pad = (4 - cap % 4) % 4, len = 32 + cap + pad;
		uint64_t ts = (uint64_t)f.ts_ns / 1000; // default resolution: microseconds
		put32(v, 6);
		put32(v, len);
		put32(v, 0);
		put32(v, (uint32_t)(ts >> 32));
		put32(v, (uint32_t)ts);
		put32(v, cap);
		put32(v, f.wirelen ? f.wirelen : cap);
		v.insert(v.end(), f.bytes.begin(), f.bytes.end());
		v.insert(v.end(), pad, 0);
		put32(v, len);
	}
	return v;
}

std::vector<uint8_t> pcap_bytes(const std::vector<cft::Frame> &frames)
{
	std::string p = cft::temp_path(".pcap");
	cft::write_pcap(p, 1, frames);
	auto b = cft::read_file(p);
	remove(p.c_str());
	return b;
}

std::string write_temp(const std::vector<uint8_t> &b, const std::string &suffix)
{
	std::string p = cft::temp_path(suffix);
	cft::write_file(p, b);
	return p;
}

// Checks common to every run: finished in time, no crash, JSON parsed.
#define EXPECT_SANE(r)                                                                   \
	do {                                                                                 \
		ASSERT_NE((r).status, 124) << "timed out (hang?)\n" << ctx(r);                   \
		ASSERT_LT((r).status, 124) << "crashed / killed\n" << ctx(r);                    \
		ASSERT_TRUE((r).parsed) << "stdout is not JSON\n" << ctx(r);                      \
	} while (0)

// One damaged file: exit 2, the error names the file and an offset within
// the file, and the packets before the damage are all there.
void expect_damaged(const std::string &path, uint64_t size, size_t want_packets, int64_t want_bytes,
                    const std::string &what)
{
	InfoRun r = info({path});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << what << "\n" << ctx(r);
	const Json &f = r.file(0);
	ASSERT_EQ(f["error"].type, Json::Obj) << what << ": no error reported\n" << ctx(r);
	std::string msg = message_of(r, 0);
	EXPECT_NE(msg.find(basename_of(path)), std::string::npos) << what << ": message does not name the file: " << msg;
	const Json &off = f["error"]["offset"];
	EXPECT_EQ(off.type, Json::Num) << what << ": no offset\n" << ctx(r);
	EXPECT_GE(off.i(), 0) << what << ": " << msg;
	EXPECT_LE((uint64_t)off.i(), size) << what << ": offset past the end of the file: " << msg;
	EXPECT_EQ((size_t)f["packets"].i(), want_packets) << what << "\n" << ctx(r);
	if (want_bytes >= 0) {
		EXPECT_EQ(f["captured_bytes"].i(), want_bytes) << what << "\n" << ctx(r);
	}
	EXPECT_NE(r.err.find(basename_of(path)), std::string::npos) << what << ": stderr does not name the file\n"
	                                                            << ctx(r);
}

// Cuts `bytes` at `n_cuts` seeded offsets (plus a few fixed ones) and checks each.
void cut_and_check(const std::vector<uint8_t> &bytes, const std::string &name, int n_cuts, uint32_t seed,
                   int *n_checked)
{
	Walk w = walk(bytes);
	ASSERT_TRUE(w.ok) << name;
	std::mt19937 rng(seed);
	std::vector<uint64_t> cuts;
	// Fixed: inside the file header, inside the first record header, one byte short.
	cuts.push_back(std::min<uint64_t>(10, bytes.size() - 1));
	if (w.header_end + 8 < bytes.size())
		cuts.push_back(w.header_end + 8);
	cuts.push_back(bytes.size() - 1);
	for (int i = 0; i < n_cuts; i++)
		cuts.push_back(1 + rng() % (bytes.size() - 1));
	for (uint64_t cut : cuts) {
		std::vector<uint8_t> part(bytes.begin(), bytes.begin() + (long)cut);
		std::string path = write_temp(part, "_cut" + std::to_string(cut) + ".pcap");
		std::string what = name + " cut at " + std::to_string(cut) + " of " + std::to_string(bytes.size());
		if (is_boundary(w, cut)) {
			// A clean cut between records is a valid, shorter capture.
			InfoRun r = info({path});
			EXPECT_SANE(r);
			EXPECT_EQ(r.status, 0) << what << " (record boundary)\n" << ctx(r);
			EXPECT_EQ((size_t)r.file(0)["packets"].i(), packets_before(w, cut)) << what;
		} else {
			bool pcapng = bytes[0] == 0x0a;
			expect_damaged(path, cut, packets_before(w, cut), pcapng ? -1 : (int64_t)bytes_before(w, cut), what);
		}
		(*n_checked)++;
		remove(path.c_str());
	}
}

std::string shared_file(const std::string &rel)
{
	std::string d = cft::shared_dir();
	if (d.empty())
		return "";
	std::string p = d + "/captures/" + rel;
	struct stat st;
	return stat(p.c_str(), &st) == 0 ? p : "";
}

// ================================================================== truncation
TEST(Damaged, TruncatedWrittenPcap)
{
	int n = 0;
	cut_and_check(pcap_bytes(some_frames(40, 1)), "written.pcap", 10, 11, &n);
	EXPECT_GT(n, 10);
}

TEST(Damaged, TruncatedWrittenPcapng)
{
	int n = 0;
	cut_and_check(pcapng_bytes(some_frames(40, 2)), "written.pcapng", 10, 12, &n);
	EXPECT_GT(n, 10);
}

TEST(Damaged, TruncatedRealCaptures)
{
	// A few classic pcap (both byte orders, nanosecond) and pcapng (multiple
	// interfaces, mixed-endian sections) files from ../shared.
	const char *rel[] = {
		"gopacket/test_dns.pcap",
		"arkime/bigendian.pcap",
		"PcapPlusPlus/Pcap++Test/PcapExamples/nanosecs.pcap",
		"tcpreplay/test.pcap",
		"packets/http_ip4and6.pcapng",
		"PcapPlusPlus/Pcap++Test/PcapExamples/many_interfaces-1.pcapng",
		"pcapng-test-generator/output_be/difficult/test202.pcapng",
		"pcapng-test-generator/output_le/advanced/test102.pcapng",
	};
	if (cft::shared_dir().empty())
		GTEST_SKIP() << "../shared absent (CUFLOW_SHARED)";
	int n = 0, files = 0;
	uint32_t seed = 100;
	for (const char *r : rel) {
		std::string p = shared_file(r);
		if (p.empty())
			continue;
		files++;
		cut_and_check(cft::read_file(p), r, 3, seed++, &n);
	}
	if (!files)
		GTEST_SKIP() << "none of the chosen captures is in ../shared";
	EXPECT_GE(n, 20);
}

TEST(Damaged, TruncatedFileFromStdin)
{
	auto bytes = pcap_bytes(some_frames(10, 3));
	Walk w = walk(bytes);
	uint64_t cut = w.packets[5].first + 7; // 6 complete records, then 7 bytes of the 7th header
	std::vector<uint8_t> part(bytes.begin(), bytes.begin() + (long)cut);
	std::string path = write_temp(part, "_stdin.pcap");
	InfoRun r = info({"-"}, path);
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 6) << ctx(r);
	EXPECT_EQ(r.file(0)["error"].type, Json::Obj) << ctx(r);
}

TEST(Damaged, TruncatedGzipCapture)
{
	auto bytes = pcap_bytes(some_frames(200, 4));
	std::string plain = write_temp(bytes, ".pcap");
	std::string gz = plain + ".gz";
	ASSERT_EQ(cft::run("gzip -c " + shq(plain) + " >" + shq(gz)), 0);
	auto z = cft::read_file(gz);
	for (size_t cut : {z.size() / 2, z.size() - 5, (size_t)12}) {
		std::vector<uint8_t> part(z.begin(), z.begin() + (long)cut);
		std::string p = write_temp(part, "_cut.pcap.gz");
		InfoRun r = info({p});
		EXPECT_SANE(r);
		EXPECT_EQ(r.status, 2) << "gzip cut at " << cut << "\n" << ctx(r);
		EXPECT_LE(r.file(0)["packets"].i(), 200);
		EXPECT_NE(message_of(r, 0).find(basename_of(p)), std::string::npos) << ctx(r);
		remove(p.c_str());
	}
}

// ================================================================== several files
TEST(Damaged, CutFileDoesNotStopTheNext)
{
	auto good_b = pcap_bytes(some_frames(25, 5));
	auto bad_b = pcapng_bytes(some_frames(30, 6));
	Walk wb = walk(bad_b);
	uint64_t cut = wb.packets[11].first + 20; // 12 complete packets
	std::string good = write_temp(good_b, "_good.pcap");
	std::string bad = write_temp(std::vector<uint8_t>(bad_b.begin(), bad_b.begin() + (long)cut), "_bad.pcapng");
	for (int order = 0; order < 2; order++) {
		InfoRun r = order ? info({good, bad}) : info({bad, good});
		EXPECT_SANE(r);
		EXPECT_EQ(r.status, 2) << ctx(r);
		ASSERT_EQ(r.doc["files"].arr.size(), 2u) << ctx(r);
		const Json &fb = r.file(order ? 1 : 0), &fg = r.file(order ? 0 : 1);
		EXPECT_EQ(fb["path"].str, bad);
		EXPECT_EQ(fg["path"].str, good);
		EXPECT_EQ(fb["error"].type, Json::Obj) << ctx(r);
		EXPECT_EQ(fb["packets"].i(), 12) << ctx(r);
		EXPECT_TRUE(fg["error"].is_null()) << ctx(r);
		EXPECT_EQ(fg["packets"].i(), 25) << ctx(r);
		EXPECT_EQ(r.doc["total"]["files"].i(), 2) << ctx(r);
		EXPECT_EQ(r.doc["total"]["damaged"].i(), 1) << ctx(r);
		EXPECT_EQ(r.doc["total"]["packets"].i(), 37) << ctx(r);
	}
}

TEST(Damaged, NotACaptureAmongGoodOnes)
{
	std::string good1 = write_temp(pcap_bytes(some_frames(3, 7)), "_g1.pcap");
	std::string good2 = write_temp(pcapng_bytes(some_frames(4, 8)), "_g2.pcapng");
	std::string text = write_temp(std::vector<uint8_t>({'h', 'e', 'l', 'l', 'o', '\n'}), "_hello.txt");
	InfoRun r = info({good1, text, good2});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << ctx(r);
	ASSERT_EQ(r.doc["files"].arr.size(), 3u) << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 3);
	EXPECT_TRUE(r.file(0)["error"].is_null());
	EXPECT_EQ(r.file(1)["error"].type, Json::Obj);
	EXPECT_EQ(r.file(2)["packets"].i(), 4);
	EXPECT_TRUE(r.file(2)["error"].is_null());
	EXPECT_EQ(r.doc["total"]["damaged"].i(), 1);
}

TEST(Damaged, MissingFile)
{
	std::string good = write_temp(pcap_bytes(some_frames(2, 9)), "_g.pcap");
	std::string missing = cft::temp_path("_does_not_exist.pcap");
	InfoRun r = info({missing, good});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << ctx(r);
	EXPECT_NE(message_of(r, 0).find(basename_of(missing)), std::string::npos) << ctx(r);
	EXPECT_EQ(r.file(1)["packets"].i(), 2) << ctx(r);
}

// ================================================================== not a capture
// A non-capture is rejected with exit 2, no packets, and a message that
// names the file and says what the bytes look like (any of `words`).
void expect_rejected(const std::string &path, const std::vector<std::string> &words, const std::string &what)
{
	InfoRun r = info({path});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << what << "\n" << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 0) << what;
	std::string msg = message_of(r, 0);
	EXPECT_NE(msg.find(basename_of(path)), std::string::npos) << what << ": message does not name the file: " << msg;
	if (!words.empty()) {
		bool any = false;
		for (const std::string &w : words)
			any = any || lower(msg).find(lower(w)) != std::string::npos;
		EXPECT_TRUE(any) << what << ": message does not say what the file looks like: " << msg;
	}
	EXPECT_LT(r.seconds, 5.0) << what << ": not rejected at once";
}

TEST(Damaged, EmptyFile)
{
	expect_rejected(write_temp({}, "_empty.pcap"), {"empty"}, "empty file");
}

TEST(Damaged, TextFile)
{
	std::string s = "This is a plain text file.\nIt is not a capture.\n";
	for (int i = 0; i < 50; i++)
		s += "line " + std::to_string(i) + " of some text\n";
	expect_rejected(write_temp(std::vector<uint8_t>(s.begin(), s.end()), "_notes.pcap"), {"text"}, "text file");
}

TEST(Damaged, ElfBinary)
{
	struct stat st;
	if (stat("/bin/ls", &st) != 0)
		GTEST_SKIP() << "/bin/ls absent";
	expect_rejected("/bin/ls", {"ELF"}, "ELF executable");
}

TEST(Damaged, PngHeader)
{
	std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
	b.resize(200, 0x42);
	expect_rejected(write_temp(b, "_image.pcap"), {"PNG"}, "PNG");
}

TEST(Damaged, ZipHeader)
{
	std::vector<uint8_t> b = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0};
	b.resize(300, 0x17);
	expect_rejected(write_temp(b, "_archive.pcapng"), {"zip"}, "zip");
}

TEST(Damaged, RandomBytes)
{
	std::mt19937 rng(42);
	for (int k = 0; k < 5; k++) {
		std::vector<uint8_t> b(64 + rng() % 8192);
		for (auto &x : b)
			x = (uint8_t)rng();
		// Make sure the first bytes are not by chance a capture magic.
		b[0] = 0x5a;
		expect_rejected(write_temp(b, "_random" + std::to_string(k) + ".bin"), {}, "random bytes #" + std::to_string(k));
	}
}

TEST(Damaged, GzipOfText)
{
	std::string s = "not a capture, just gzip-compressed text\n";
	std::string plain = write_temp(std::vector<uint8_t>(s.begin(), s.end()), "_gztext.txt");
	std::string gz = plain + ".pcap.gz";
	ASSERT_EQ(cft::run("gzip -c " + shq(plain) + " >" + shq(gz)), 0);
	InfoRun r = info({gz});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 0);
	EXPECT_NE(message_of(r, 0).find(basename_of(gz)), std::string::npos) << ctx(r);
}

TEST(Damaged, HugeNonCaptureRejectedAtOnce)
{
	// 512 MiB of zeros (sparse: costs no disk): must be rejected from its
	// first bytes, not read to the end.
	std::string p = cft::temp_path("_zeros.pcap");
	ASSERT_EQ(cft::run("truncate -s 512M " + shq(p)), 0);
	expect_rejected(p, {}, "512 MiB of zeros");
	remove(p.c_str());
}

TEST(Damaged, PcapHeaderOnlyAndShortHeader)
{
	auto b = pcap_bytes({});
	ASSERT_EQ(b.size(), 24u);
	InfoRun r = info({write_temp(b, "_hdronly.pcap")});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 0) << "a pcap header with no records is a valid empty capture\n" << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 0);
	for (size_t n : {4u, 5u, 23u}) {
		std::string p = write_temp(std::vector<uint8_t>(b.begin(), b.begin() + (long)n), "_shorthdr.pcap");
		InfoRun q = info({p});
		EXPECT_SANE(q);
		EXPECT_EQ(q.status, 2) << n << "-byte pcap header\n" << ctx(q);
		EXPECT_EQ(q.file(0)["error"].type, Json::Obj) << ctx(q);
	}
}

// ================================================================== corrupt lengths
TEST(Damaged, PcapRecordLengthHuge)
{
	for (uint32_t bad : {0x7fffffffu, 0xffffffffu, 0x10000000u, 0x00400000u}) {
		auto fr = some_frames(5, 10);
		auto b = pcap_bytes(fr);
		Walk w = walk(b);
		size_t rec3 = (size_t)w.packets[1].first; // third record header
		set32(b, rec3 + 8, bad);                  // caplen
		b.resize(b.size() + 4096, 0xab);          // some bytes after, not enough for the claim
		std::string p = write_temp(b, "_hugecaplen.pcap");
		expect_damaged(p, b.size(), 2, (int64_t)(fr[0].bytes.size() + fr[1].bytes.size()),
		               "pcap caplen " + std::to_string(bad));
		InfoRun r = info({p});
		if (r.file(0)["error"].type == Json::Obj) {
			EXPECT_EQ((size_t)r.file(0)["error"]["offset"].i(), rec3)
			    << "the offset should be that of the bad record header: " << message_of(r, 0);
		}
	}
}

TEST(Damaged, PcapRecordCaplenAboveWirelen)
{
	// caplen > wire length and > snaplen but within the file: cuflow may read
	// or reject it, but never crash; the records before stay.
	auto fr = some_frames(4, 11);
	auto b = pcap_bytes(fr);
	Walk w = walk(b);
	set32(b, (size_t)w.packets[0].first + 12, 10); // wirelen of record 2 = 10 < caplen
	InfoRun r = info({write_temp(b, "_caplen_gt_len.pcap")});
	EXPECT_SANE(r);
	EXPECT_TRUE(r.status == 0 || r.status == 2) << ctx(r);
	EXPECT_GE(r.file(0)["packets"].i(), 1) << ctx(r);
}

struct BlockCase {
	const char *name;
	uint32_t len;
};

TEST(Damaged, PcapngBlockLengthCorrupt)
{
	const BlockCase cases[] = {
		{"not a multiple of 4", 0},   // filled in below: real length + 2
		{"smaller than 12 (8)", 8},
		{"zero", 0xffffffff},          // marker: set to 0
		{"larger than the file", 0x7ffffff0},
		{"0xffffffff", 0xfffffffe},    // marker: set to 0xffffffff
		{"just past the end", 1},      // marker: file size - offset + 4
	};
	for (const BlockCase &c : cases) {
		auto fr = some_frames(6, 12);
		std::vector<size_t> epb;
		auto b = pcapng_bytes(fr, &epb);
		size_t at = epb[3]; // the 4th EPB
		uint32_t real = (uint32_t)(epb[4] - epb[3]);
		uint32_t len = c.len;
		if (!strcmp(c.name, "not a multiple of 4"))
			len = real + 2;
		else if (len == 0xffffffff)
			len = 0;
		else if (len == 0xfffffffe)
			len = 0xffffffff;
		else if (len == 1)
			len = (uint32_t)(b.size() - at + 4);
		set32(b, at + 4, len);
		std::string p = write_temp(b, "_badblock.pcapng");
		uint64_t want_bytes = 0;
		for (int i = 0; i < 3; i++)
			want_bytes += fr[i].bytes.size();
		expect_damaged(p, b.size(), 3, (int64_t)want_bytes, std::string("pcapng block length ") + c.name);
		InfoRun r = info({p});
		if (r.file(0)["error"].type == Json::Obj) {
			EXPECT_EQ((size_t)r.file(0)["error"]["offset"].i(), at)
			    << c.name << ": the offset should be that of the bad block: " << message_of(r, 0);
		}
	}
}

TEST(Damaged, PcapngEpbCaplenBeyondBlock)
{
	auto fr = some_frames(5, 13);
	std::vector<size_t> epb;
	auto b = pcapng_bytes(fr, &epb);
	set32(b, epb[2] + 20, 100000); // captured length far beyond the block
	std::string p = write_temp(b, "_epbcaplen.pcapng");
	expect_damaged(p, b.size(), 2, (int64_t)(fr[0].bytes.size() + fr[1].bytes.size()), "EPB caplen beyond block");
}

TEST(Damaged, PcapngTrailerMismatch)
{
	// The trailing copy of the block length disagrees with the leading one.
	auto fr = some_frames(5, 14);
	std::vector<size_t> epb;
	auto b = pcapng_bytes(fr, &epb);
	size_t end3 = epb[3];
	set32(b, end3 - 4, 0x12345678);
	InfoRun r = info({write_temp(b, "_trailer.pcapng")});
	EXPECT_SANE(r);
	EXPECT_TRUE(r.status == 0 || r.status == 2) << ctx(r);
	EXPECT_GE(r.file(0)["packets"].i(), 2) << ctx(r);
}

TEST(Damaged, PcapngIdbOptionOverflow)
{
	// An IDB whose option claims more bytes than the block holds.
	auto fr = some_frames(3, 15);
	auto b = pcapng_bytes(fr);
	// Rebuild the IDB (at offset 28, 20 bytes) with an option header
	// (if_name, length 0xfff0) in a 28-byte block.
	std::vector<uint8_t> idb;
	put32(idb, 1);
	put32(idb, 28);
	put16(idb, 1);
	put16(idb, 0);
	put32(idb, 65535);
	put16(idb, 2);
	put16(idb, 0xfff0);
	put32(idb, 0x41414141);
	put32(idb, 28);
	std::vector<uint8_t> out(b.begin(), b.begin() + 28);
	out.insert(out.end(), idb.begin(), idb.end());
	out.insert(out.end(), b.begin() + 48, b.end());
	InfoRun r = info({write_temp(out, "_idbopt.pcapng")});
	EXPECT_SANE(r);
	EXPECT_TRUE(r.status == 0 || r.status == 2) << ctx(r);
}

TEST(Damaged, PcapngPacketBeforeInterface)
{
	// An EPB that names interface 5 when only interface 0 exists.
	auto fr = some_frames(4, 16);
	std::vector<size_t> epb;
	auto b = pcapng_bytes(fr, &epb);
	set32(b, epb[2] + 8, 5);
	std::string p = write_temp(b, "_noiface.pcapng");
	InfoRun r = info({p});
	EXPECT_SANE(r);
	EXPECT_EQ(r.status, 2) << "a packet on an undeclared interface is a damaged file\n" << ctx(r);
	EXPECT_EQ(r.file(0)["packets"].i(), 2) << ctx(r);
}

TEST(Damaged, SnoopTruncated)
{
	std::string p = shared_file("PcapPlusPlus/Pcap++Test/PcapExamples/solaris.snoop");
	if (p.empty())
		GTEST_SKIP() << "../shared snoop file absent";
	auto b = cft::read_file(p);
	std::mt19937 rng(77);
	for (int k = 0; k < 4; k++) {
		size_t cut = 16 + rng() % (b.size() - 16);
		std::string q = write_temp(std::vector<uint8_t>(b.begin(), b.begin() + (long)cut), "_cut.snoop");
		InfoRun r = info({q});
		EXPECT_SANE(r);
		EXPECT_TRUE(r.status == 0 || r.status == 2) << ctx(r);
		EXPECT_LE(r.file(0)["packets"].i(), 250);
		if (r.status == 2) {
			EXPECT_NE(message_of(r, 0).find(basename_of(q)), std::string::npos) << ctx(r);
		}
		remove(q.c_str());
	}
}

// ================================================================== pcapfix's examples
TEST(Damaged, PcapfixExamples)
{
	std::string src = cft::env("CUFLOW_SOURCE_DIR");
	std::string data = cft::env("CUFLOW_TEST_DATA", src + "/tests/.data");
	if (!src.empty())
		cft::run("bash " + shq(src + "/tests/scripts/fetch_debian_captures.sh") + " " + shq(data + "/debian") +
		         " >/dev/null 2>&1");
	auto lst = cft::read_file(data + "/debian/damaged.txt");
	std::string s(lst.begin(), lst.end());
	std::istringstream in(s);
	std::string line;
	int n = 0;
	while (std::getline(in, line)) {
		if (line.empty())
			continue;
		std::string p = data + "/debian/" + line;
		InfoRun r = info({p});
		EXPECT_SANE(r);
		EXPECT_TRUE(r.status == 0 || r.status == 2) << line << "\n" << ctx(r);
		if (r.status == 2) {
			EXPECT_NE(message_of(r, 0).find(basename_of(p)), std::string::npos) << ctx(r);
		}
		n++;
	}
	if (!n)
		GTEST_SKIP() << "no pcapfix examples (offline? run tests/scripts/fetch_debian_captures.sh)";
}

} // namespace

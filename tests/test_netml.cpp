// `cuflow netml` (netml 0.7.1's PParser features, ../shared/specs/netml.md):
//
//  * NetmlReference: demo.pcap, unlabelled and labelled with demo.csv, every
//    (fft, header), all six types in one run, against the upstream reference
//    matrices in ../shared/data/netml/expected_caplen (else expected/):
//    non-FFT values bit for bit, FFT within 1e-12 * max(1, max |ref row|);
//    meta.json interval / dim / samp_width, subflows.csv and the labels
//    against the reference meta and subflow lists; the default .npy output
//    loads in numpy as float64 (labels int64) and equals the CSV bit for bit.
//  * NetmlCases: captures written here, with the expected rows worked out by
//    hand in the comments (times are T0 + binary fractions of a second, so
//    every time, IAT and duration below is an exact double), and where the
//    options are netml's defaults also against ../shared/tools/netml_oracle.py
//    (an independent Python re-implementation of the spec). Every case also
//    checks meta.json's packet accounting: read = in_rows + sum(not_used).
//  * NetmlErrors: exit 3 (netml would crash / nothing survives), exit 2 with a
//    damaged capture (rows for the packets before the damage), exit 1 usage.
//  * NetmlNumerics: the per-row numerics of kernels/netml_features.h against
//    numpy / CPython on random data: np.std, np.quantile, float //.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "netml_features.h"
#include "test_util.h"

namespace {

using cft::exists;
using cft::slurp;
using cft::split;

const char *const kTypes[] = {"IAT", "SIZE", "IAT_SIZE", "STATS", "SAMP_NUM", "SAMP_SIZE"};
const std::string kAllTypes = "IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE";

// ------------------------------------------------------------ small utilities

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	std::string l;
	while (std::getline(in, l)) {
		if (!l.empty() && l.back() == '\r')
			l.pop_back();
		if (!l.empty())
			out.push_back(l);
	}
	return out;
}

bool parse_double(const std::string &s, double *v)
{
	if (s.empty())
		return false;
	char *e;
	*v = strtod(s.c_str(), &e);
	return *e == 0;
}

uint64_t bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	return u;
}

std::string hexf(double d)
{
	char b[64];
	snprintf(b, sizeof b, "%a (%.17g)", d, d);
	return b;
}

bool same_bits(double a, double b) { return bits(a) == bits(b); }

// A matrix of doubles read from a CSV (cuflow's %.17g or Python's repr).
struct Mat {
	size_t rows = 0, cols = 0;
	std::vector<double> v;
	std::string err; // non-empty: could not be read
	double at(size_t r, size_t c) const { return v[r * cols + c]; }
};

Mat mat_from_text(const std::string &text, const std::string &what)
{
	Mat m;
	for (const std::string &l : lines_of(text)) {
		std::vector<std::string> f = split(l, ',');
		if (m.rows == 0)
			m.cols = f.size();
		if (f.size() != m.cols) {
			m.err = what + ": row " + std::to_string(m.rows) + " has " + std::to_string(f.size()) + " values, not " +
			        std::to_string(m.cols);
			return m;
		}
		for (const std::string &x : f) {
			double d;
			if (!parse_double(x, &d)) {
				m.err = what + ": bad number '" + x + "' in row " + std::to_string(m.rows);
				return m;
			}
			m.v.push_back(d);
		}
		m.rows++;
	}
	return m;
}

Mat read_mat(const std::string &path)
{
	if (!exists(path)) {
		Mat m;
		m.err = path + ": missing";
		return m;
	}
	return mat_from_text(slurp(path), path);
}

// Every value bit-identical (non-FFT netml outputs).
void expect_same_bits(const Mat &got, const Mat &ref, const std::string &what)
{
	ASSERT_TRUE(got.err.empty()) << got.err;
	ASSERT_TRUE(ref.err.empty()) << ref.err;
	ASSERT_EQ(got.rows, ref.rows) << what << ": rows";
	ASSERT_EQ(got.cols, ref.cols) << what << ": columns";
	size_t bad = 0;
	for (size_t r = 0; r < ref.rows; r++)
		for (size_t c = 0; c < ref.cols; c++)
			if (!same_bits(got.at(r, c), ref.at(r, c)) && bad++ < 5)
				ADD_FAILURE() << what << ": row " << r << " col " << c << ": got " << hexf(got.at(r, c)) << ", want "
				              << hexf(ref.at(r, c));
	EXPECT_EQ(bad, 0u) << what << ": values differing";
}

// |a - b| <= 1e-12 * max(1, max |ref row|) (FFT outputs).
void expect_close_rows(const Mat &got, const Mat &ref, const std::string &what)
{
	ASSERT_TRUE(got.err.empty()) << got.err;
	ASSERT_TRUE(ref.err.empty()) << ref.err;
	ASSERT_EQ(got.rows, ref.rows) << what << ": rows";
	ASSERT_EQ(got.cols, ref.cols) << what << ": columns";
	size_t bad = 0;
	for (size_t r = 0; r < ref.rows; r++) {
		double mx = 1.0;
		for (size_t c = 0; c < ref.cols; c++)
			mx = std::max(mx, std::fabs(ref.at(r, c)));
		for (size_t c = 0; c < ref.cols; c++) {
			double d = std::fabs(got.at(r, c) - ref.at(r, c));
			if (!(d <= 1e-12 * mx) && bad++ < 5)
				ADD_FAILURE() << what << ": row " << r << " col " << c << ": got " << hexf(got.at(r, c)) << ", want "
				              << hexf(ref.at(r, c)) << " (|diff| " << d << ", tolerance " << 1e-12 * mx << ")";
		}
	}
	EXPECT_EQ(bad, 0u) << what << ": values outside the tolerance";
}

// Expected rows written out by hand: bit for bit.
void expect_rows(const Mat &got, const std::vector<std::vector<double>> &want, const std::string &what)
{
	Mat ref;
	ref.rows = want.size();
	ref.cols = want.empty() ? 0 : want[0].size();
	for (const auto &r : want) {
		ASSERT_EQ(r.size(), ref.cols) << what << ": the test's expected rows are ragged";
		ref.v.insert(ref.v.end(), r.begin(), r.end());
	}
	expect_same_bits(got, ref, what);
}

// ------------------------------------------------------------ meta.json

// The number after the first "key": (top-level keys come before "options").
bool json_num(const std::string &j, const std::string &key, double *out)
{
	std::string k = "\"" + key + "\":";
	size_t p = j.find(k);
	if (p == std::string::npos)
		return false;
	p += k.size();
	while (p < j.size() && isspace((unsigned char)j[p]))
		p++;
	char *e;
	*out = strtod(j.c_str() + p, &e);
	return e != j.c_str() + p;
}

double jnum(const std::string &j, const std::string &key)
{
	double v = NAN;
	EXPECT_TRUE(json_num(j, key, &v)) << "no \"" << key << "\" in\n" << j;
	return v;
}

// The "key": { "a": 1, "b": 2 } object of numbers.
std::map<std::string, uint64_t> json_obj(const std::string &j, const std::string &key)
{
	std::map<std::string, uint64_t> m;
	std::string k = "\"" + key + "\":";
	size_t p = j.find(k);
	if (p == std::string::npos)
		return m;
	size_t b = j.find('{', p), e = j.find('}', b);
	std::string body = j.substr(b + 1, e - b - 1);
	for (const std::string &item : split(body, ',')) {
		size_t q1 = item.find('"'), q2 = item.find('"', q1 + 1), c = item.find(':', q2);
		if (q1 == std::string::npos || q2 == std::string::npos || c == std::string::npos)
			continue;
		m[item.substr(q1 + 1, q2 - q1 - 1)] = strtoull(item.c_str() + c + 1, nullptr, 10);
	}
	return m;
}

// "key": [1, 0, ...]
std::vector<long> json_int_array(const std::string &j, const std::string &key)
{
	std::vector<long> v;
	size_t p = j.find("\"" + key + "\":");
	if (p == std::string::npos)
		return v;
	size_t b = j.find('[', p), e = j.find(']', b);
	for (const std::string &x : split(j.substr(b + 1, e - b - 1), ',')) {
		std::string t;
		for (char c : x)
			if (!isspace((unsigned char)c))
				t += c;
		if (!t.empty())
			v.push_back(strtol(t.c_str(), nullptr, 10));
	}
	return v;
}

// The packet accounting of meta.json: every packet read is in a row or in
// exactly one not_used reason; decoder skips are part of no_ip_5tuple.
struct Acct {
	uint64_t read = 0, in_rows = 0, ipv6_pseudo = 0;
	std::map<std::string, uint64_t> not_used, decoder_skips;
};

Acct check_accounting(const std::string &meta)
{
	Acct a;
	a.read = (uint64_t)jnum(meta, "read");
	a.in_rows = (uint64_t)jnum(meta, "in_rows");
	a.ipv6_pseudo = (uint64_t)jnum(meta, "ipv6_pseudo_flow");
	a.not_used = json_obj(meta, "not_used");
	a.decoder_skips = json_obj(meta, "decoder_skips");
	EXPECT_EQ(a.not_used.size(), 8u) << meta;
	uint64_t sum = a.in_rows, skips = 0;
	for (auto &kv : a.not_used)
		sum += kv.second;
	for (auto &kv : a.decoder_skips)
		skips += kv.second;
	EXPECT_EQ(a.read, sum) << "packets read != in rows + not used:\n" << meta;
	EXPECT_EQ(skips, a.not_used["no_ip_5tuple"]) << "decoder skips are the no_ip_5tuple packets:\n" << meta;
	return a;
}

// ------------------------------------------------------------ subflows.csv

struct Sub {
	std::string src, dst;
	long sport, dport, proto;
	uint64_t packets;
	double first, last;
};

std::vector<Sub> read_subflows(const std::string &path, char sep, bool has_idx)
{
	std::vector<Sub> out;
	std::vector<std::string> ls = lines_of(slurp(path));
	for (size_t i = 1; i < ls.size(); i++) {
		std::vector<std::string> f = split(ls[i], sep);
		size_t o = has_idx ? 1 : 0;
		EXPECT_EQ(f.size(), 8 + o) << path << ": " << ls[i];
		if (f.size() != 8 + o)
			return out;
		Sub s;
		s.src = f[o];
		s.dst = f[o + 1];
		s.sport = strtol(f[o + 2].c_str(), nullptr, 10);
		s.dport = strtol(f[o + 3].c_str(), nullptr, 10);
		s.proto = strtol(f[o + 4].c_str(), nullptr, 10);
		s.packets = strtoull(f[o + 5].c_str(), nullptr, 10);
		EXPECT_TRUE(parse_double(f[o + 6], &s.first)) << ls[i];
		EXPECT_TRUE(parse_double(f[o + 7], &s.last)) << ls[i];
		out.push_back(s);
	}
	return out;
}

void expect_same_subflows(const std::vector<Sub> &got, const std::vector<Sub> &want, const std::string &what)
{
	ASSERT_EQ(got.size(), want.size()) << what << ": subflows";
	for (size_t i = 0; i < want.size(); i++) {
		const Sub &g = got[i], &w = want[i];
		EXPECT_TRUE(g.src == w.src && g.dst == w.dst && g.sport == w.sport && g.dport == w.dport &&
		            g.proto == w.proto && g.packets == w.packets)
		    << what << ": subflow " << i << ": got " << g.src << " " << g.dst << " " << g.sport << " " << g.dport << " "
		    << g.proto << " " << g.packets << ", want " << w.src << " " << w.dst << " " << w.sport << " " << w.dport
		    << " " << w.proto << " " << w.packets;
		EXPECT_TRUE(same_bits(g.first, w.first) && same_bits(g.last, w.last))
		    << what << ": subflow " << i << " times: got " << hexf(g.first) << " .. " << hexf(g.last) << ", want "
		    << hexf(w.first) << " .. " << hexf(w.last);
	}
}

// ------------------------------------------------------------ running cuflow

struct Out {
	int rc;
	std::string log, dir;
	Mat mat(const std::string &type) const { return read_mat(dir + "/" + type + ".csv"); }
	std::string meta() const { return slurp(dir + "/meta.json"); }
	std::vector<Sub> subflows() const { return read_subflows(dir + "/subflows.csv", ',', false); }
};

Out netml(const std::string &capture, const std::string &opts, std::string dir = "")
{
	if (dir.empty())
		dir = cft::temp_path(".netml");
	Out r;
	r.dir = dir;
	r.rc = cft::run(cft::shq(cft::cuflow_bin()) + " netml -q --backend cpu " + opts + " " + cft::shq(capture) +
	                    " -o " + cft::shq(dir),
	                &r.log);
	return r;
}

std::string py() { return cft::numpy_python().empty() ? std::string("python3") : cft::numpy_python(); }

std::string oracle_script()
{
	std::string s = cft::shared_dir();
	if (s.empty() || !exists(s + "/tools/netml_oracle.py"))
		return "";
	return s + "/tools/netml_oracle.py";
}

// The oracle's rows for one type (netml's defaults: thres 2, 600 s, q 0.9).
Mat oracle(const std::string &capture, const std::string &type, bool fft, bool header)
{
	std::string out;
	int rc = cft::run(cft::shq(py()) + " " + cft::shq(oracle_script()) + " " + cft::shq(capture) + " " + type +
	                      (fft ? " --fft" : "") + (header ? " --header" : ""),
	                  &out);
	if (rc != 0) {
		Mat m;
		m.err = "oracle failed (" + std::to_string(rc) + "): " + out;
		return m;
	}
	return mat_from_text(out, "oracle " + type);
}

// cuflow with netml's default options against the oracle: all six types,
// fft off and on, header when asked.
void check_against_oracle(const std::string &capture, bool header)
{
	if (oracle_script().empty()) {
		printf("(../shared/tools/netml_oracle.py absent: oracle comparison skipped)\n");
		return;
	}
	for (int fft = 0; fft <= 1; fft++) {
		Out r = netml(capture, "--format csv --type " + kAllTypes + (fft ? " --fft" : "") + (header ? " --header" : ""));
		ASSERT_EQ(r.rc, 0) << r.log;
		for (const char *t : kTypes) {
			std::string what = std::string("oracle ") + t + " fft" + std::to_string(fft) + " hdr" +
			                   std::to_string(header);
			Mat want = oracle(capture, t, fft, header);
			ASSERT_GT(want.rows, 0u) << what << ": " << want.err;
			if (fft)
				expect_close_rows(r.mat(t), want, what);
			else
				expect_same_bits(r.mat(t), want, what);
		}
	}
}

// ------------------------------------------------------------ captures

const uint8_t kMacA[6] = {0, 1, 2, 3, 4, 5}, kMacB[6] = {6, 7, 8, 9, 10, 11};
const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}; // 2001:db8::1
const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}; // 2001:db8::2
const int64_t T0_SEC = 1700000000;
const double T0 = 1700000000.0; // times below are T0 + exact binary fractions

constexpr uint32_t ip4(int a, int b, int c, int d) { return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d; }

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40, CWR = 0x80 };

// Frames in the order added (or sorted by time, stably, on write).
// Sizes: TCP/IPv4 54 + payload (58 with a VLAN tag), UDP/IPv4 42 + payload,
// TCP/IPv6 74 + payload, UDP/IPv6 62 + payload.
struct Cap {
	std::vector<cft::Frame> f;

	static int64_t ns(double rel) { return T0_SEC * 1000000000ll + (int64_t)llround(rel * 1e9); }
	std::vector<uint8_t> l2(uint16_t et, int vlan) const
	{
		if (!vlan)
			return cft::eth(kMacB, kMacA, et);
		std::vector<uint8_t> v = cft::eth(kMacB, kMacA, 0x8100);
		v.insert(v.end(), {(uint8_t)(vlan >> 8), (uint8_t)vlan, (uint8_t)(et >> 8), (uint8_t)et});
		return v;
	}
	void tcp(double t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay, uint8_t flags = ACK,
	         uint8_t ttl = 64, int vlan = 0)
	{
		f.push_back({ns(t), cft::cat(l2(0x0800, vlan), cft::ipv4(s, d, 6, cft::tcp(sp, dp, 1, 1, flags, 1000, pay), ttl))});
	}
	void udp(double t, uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, size_t pay, uint8_t ttl = 64)
	{
		f.push_back({ns(t), cft::cat(l2(0x0800, 0),
		                             cft::ipv4(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 0x55)), ttl))});
	}
	void tcp6(double t, const uint8_t *s, const uint8_t *d, uint16_t sp, uint16_t dp, size_t pay)
	{
		f.push_back({ns(t), cft::cat(l2(0x86dd, 0), cft::ipv6(s, d, 6, cft::tcp(sp, dp, 1, 1, ACK, 1000, pay)))});
	}
	void udp6(double t, const uint8_t *s, const uint8_t *d, uint16_t sp, uint16_t dp, size_t pay)
	{
		f.push_back({ns(t), cft::cat(l2(0x86dd, 0), cft::ipv6(s, d, 17, cft::udp(sp, dp, std::vector<uint8_t>(pay, 0x55))))});
	}
	void icmp4(double t, uint32_t s, uint32_t d)
	{
		std::vector<uint8_t> m = {8, 0, 0, 0, 0, 1, 0, 1};
		f.push_back({ns(t), cft::cat(l2(0x0800, 0), cft::ipv4(s, d, 1, m))});
	}
	void icmp6(double t, const uint8_t *s, const uint8_t *d)
	{
		std::vector<uint8_t> m = {128, 0, 0, 0, 0, 1, 0, 1};
		f.push_back({ns(t), cft::cat(l2(0x86dd, 0), cft::ipv6(s, d, 58, m))});
	}
	void arp(double t)
	{
		std::vector<uint8_t> b = cft::eth(kMacB, kMacA, 0x0806);
		b.resize(b.size() + 28, 0);
		f.push_back({ns(t), b});
	}
	void raw(double t, std::vector<uint8_t> bytes) { f.push_back({ns(t), std::move(bytes)}); }

	std::string write(bool sort_by_time = true, bool nanosecond = false) const
	{
		std::vector<cft::Frame> v = f;
		if (sort_by_time)
			std::stable_sort(v.begin(), v.end(), [](const cft::Frame &a, const cft::Frame &b) { return a.ts_ns < b.ts_ns; });
		std::string path = cft::temp_path(".pcap");
		cft::write_pcap(path, 1, v, nanosecond);
		return path;
	}
};

// ============================================================ a. reference data

std::string netml_data()
{
	std::string s = cft::shared_dir();
	if (s.empty() || !exists(s + "/data/netml/demo.pcap"))
		return "";
	return s + "/data/netml";
}

#define SKIP_WITHOUT_NETML_DATA()                                   \
	do {                                                            \
		if (netml_data().empty())                                   \
			GTEST_SKIP() << "../shared/data/netml not available";   \
	} while (0)

std::string ref_file(const std::string &data, const std::string &name)
{
	std::string c = data + "/expected_caplen/" + name;
	if (exists(c))
		return c;
	std::string e = data + "/expected/" + name;
	return exists(e) ? e : "";
}

void check_demo(bool labelled)
{
	std::string data = netml_data();
	std::string tag = labelled ? "demo_labelled" : "demo";
	std::string refmeta = slurp(data + "/expected/" + tag + "_meta.json");
	ASSERT_FALSE(refmeta.empty());
	std::vector<Sub> refsub = read_subflows(data + "/expected/" + tag + "_subflows.tsv", '\t', true);
	ASSERT_FALSE(refsub.empty());
	std::vector<long> reflabels = json_int_array(refmeta, "labels");
	if (labelled) {
		ASSERT_EQ(reflabels.size(), 88u);
	}
	int compared = 0;
	for (int fft = 0; fft <= 1; fft++)
		for (int hdr = 0; hdr <= 1; hdr++) {
			std::string opts = "--format csv --type " + kAllTypes + (fft ? " --fft" : "") + (hdr ? " --header" : "") +
			                   (labelled ? " --labels " + cft::shq(data + "/demo.csv") : "");
			Out r = netml(data + "/demo.pcap", opts);
			std::string combo = tag + " fft" + std::to_string(fft) + " hdr" + std::to_string(hdr);
			ASSERT_EQ(r.rc, 0) << combo << "\n" << r.log;
			for (const char *t : kTypes) {
				std::string name = tag + "_" + t + "_fft" + std::to_string(fft) + "_hdr" + std::to_string(hdr) + ".csv";
				std::string ref = ref_file(data, name);
				if (ref.empty())
					continue; // the labelled references have IAT and STATS only
				Mat got = r.mat(t), want = read_mat(ref);
				if (fft)
					expect_close_rows(got, want, combo + " " + t);
				else
					expect_same_bits(got, want, combo + " " + t);
				compared++;
			}
			// meta.json against the reference meta
			std::string meta = r.meta();
			EXPECT_TRUE(same_bits(jnum(meta, "interval"), jnum(refmeta, "interval"))) << combo;
			EXPECT_EQ(jnum(meta, "dim"), jnum(refmeta, "dim_base")) << combo;
			EXPECT_TRUE(same_bits(jnum(meta, "samp_width"), jnum(refmeta, "samp_rate_q0.3")))
			    << combo << ": " << hexf(jnum(meta, "samp_width"));
			EXPECT_EQ(jnum(meta, "flows"), jnum(refmeta, "n_flows_after_timeout")) << combo;
			EXPECT_EQ(jnum(meta, "subflows"), jnum(refmeta, labelled ? "n_labelled_subflows" : "n_subflows")) << combo;
			Acct a = check_accounting(meta);
			if (labelled) {
				EXPECT_GT(a.not_used["unlabelled"], 0u);
			}
			expect_same_subflows(r.subflows(), refsub, combo);
			if (labelled) {
				std::vector<std::string> ls = lines_of(slurp(r.dir + "/labels.csv"));
				ASSERT_EQ(ls.size(), reflabels.size()) << combo;
				for (size_t i = 0; i < ls.size(); i++)
					EXPECT_EQ(ls[i], std::to_string(reflabels[i])) << combo << ": label " << i;
			}
		}
	EXPECT_EQ(compared, labelled ? 8 : 24);
}

TEST(NetmlReference, DemoUnlabelledAllTypes)
{
	SKIP_WITHOUT_NETML_DATA();
	check_demo(false);
}

TEST(NetmlReference, DemoLabelledWithDemoCsv)
{
	SKIP_WITHOUT_NETML_DATA();
	check_demo(true);
}

// Dumps .npy files through numpy: "path dtype dim0 [dim1]" then the values
// (float.hex for floats, integers as text).
const char *kNpyDump = R"PY(
import sys
import numpy as np
for p in sys.argv[1:]:
    a = np.load(p, allow_pickle=False)
    print(p, a.dtype.name, *a.shape)
    if a.dtype.kind == 'f':
        print(' '.join(float(x).hex() for x in a.ravel()))
    else:
        print(' '.join(str(int(x)) for x in a.ravel()))
)PY";

struct Npy {
	std::string dtype;
	std::vector<size_t> shape;
	std::vector<double> f;
	std::vector<long long> i;
};

std::map<std::string, Npy> npy_load(const std::vector<std::string> &paths)
{
	std::map<std::string, Npy> out;
	std::string script = cft::temp_path(".py");
	cft::write_file(script, std::vector<uint8_t>(kNpyDump, kNpyDump + strlen(kNpyDump)));
	std::string cmd = cft::shq(cft::numpy_python()) + " " + cft::shq(script);
	for (auto &p : paths)
		cmd += " " + cft::shq(p);
	std::string text;
	int rc = cft::run(cmd, &text);
	EXPECT_EQ(rc, 0) << text;
	std::istringstream in(text);
	std::string head, vals;
	while (std::getline(in, head) && std::getline(in, vals)) {
		std::istringstream h(head);
		std::string path;
		Npy n;
		h >> path >> n.dtype;
		size_t d;
		while (h >> d)
			n.shape.push_back(d);
		std::istringstream v(vals);
		std::string tok;
		while (v >> tok) {
			if (n.dtype.rfind("float", 0) == 0)
				n.f.push_back(strtod(tok.c_str(), nullptr));
			else
				n.i.push_back(strtoll(tok.c_str(), nullptr, 10));
		}
		out[path] = n;
	}
	return out;
}

TEST(NetmlReference, NpyOutputLoadsInNumpyAndEqualsCsv)
{
	SKIP_WITHOUT_NETML_DATA();
	if (cft::numpy_python().empty())
		GTEST_SKIP() << "python3 with numpy not installed";
	std::string data = netml_data();
	for (int labelled = 0; labelled <= 1; labelled++) {
		std::string opts = "--type " + kAllTypes + " --header" +
		                   (labelled ? " --labels " + cft::shq(data + "/demo.csv") : "");
		Out npy = netml(data + "/demo.pcap", opts);
		Out csv = netml(data + "/demo.pcap", opts + " --format csv");
		ASSERT_EQ(npy.rc, 0) << npy.log;
		ASSERT_EQ(csv.rc, 0) << csv.log;
		std::vector<std::string> paths;
		for (const char *t : kTypes)
			paths.push_back(npy.dir + "/" + t + ".npy");
		if (labelled)
			paths.push_back(npy.dir + "/labels.npy");
		else
			EXPECT_FALSE(exists(npy.dir + "/labels.npy"));
		std::map<std::string, Npy> loaded = npy_load(paths);
		for (const char *t : kTypes) {
			const Npy &n = loaded[npy.dir + "/" + t + ".npy"];
			EXPECT_EQ(n.dtype, "float64") << t;
			Mat m = csv.mat(t), g;
			ASSERT_TRUE(m.err.empty()) << m.err;
			ASSERT_EQ(n.shape.size(), 2u) << t;
			g.rows = n.shape[0];
			g.cols = n.shape[1];
			g.v = n.f;
			ASSERT_EQ(g.v.size(), g.rows * g.cols) << t;
			expect_same_bits(g, m, std::string("npy vs csv ") + t + (labelled ? " labelled" : ""));
		}
		if (labelled) {
			const Npy &l = loaded[npy.dir + "/labels.npy"];
			EXPECT_EQ(l.dtype, "int64");
			ASSERT_EQ(l.shape.size(), 1u);
			std::vector<std::string> ls = lines_of(slurp(csv.dir + "/labels.csv"));
			ASSERT_EQ(l.i.size(), ls.size());
			ASSERT_EQ(l.shape[0], ls.size());
			for (size_t i = 0; i < ls.size(); i++)
				EXPECT_EQ(std::to_string(l.i[i]), ls[i]) << "label " << i;
		}
		// the subflow list and the meta do not depend on the format
		EXPECT_EQ(slurp(npy.dir + "/subflows.csv"), slurp(csv.dir + "/subflows.csv"));
	}
}

// ============================================================ b. hand-made captures

// Idle timeout (netml.md section 3): gaps > 600 s close a chunk, and a flow
// that was split loses its last chunk.
//   F1 TCP 10.0.0.1:1000 > 10.0.0.2:80 at T0 + 0, 1, 2 | 702, 703 | 1403, 1404
//      sizes 60 100 200 | 60 70 | 80 90 (54 + payload)
//      gaps 700 > 600 split it into three chunks; the last one (2 packets)
//      is dropped because the flow was split.
//   F2 UDP 10.0.0.3:5000 > 10.0.0.4:53 at 0.5, 1.5, 2.5, sizes 100 150 200.
// Chunks: F1a (3 pkts, duration 2), F1b (2, 1), F2 (3, 2).
// interval = quantile([1,2,2], .9): v = 2*.9 = 1.8, lo 1, g .8 >= .5 ->
//   x[2] - (x[2]-x[1])*(1-g) = 2 - 0 = 2; every gap (1) <= 2: no subflow split.
// dim = floor(quantile([2,3,3], .9)) = 3 - 0 = 3; IAT has 2 columns, SIZE 3.
Cap timeout_capture()
{
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2), u = ip4(10, 0, 0, 3), v = ip4(10, 0, 0, 4);
	const double t1[] = {0, 1, 2, 702, 703, 1403, 1404};
	const size_t p1[] = {6, 46, 146, 6, 16, 26, 36};
	for (int i = 0; i < 7; i++)
		c.tcp(t1[i], a, b, 1000, 80, p1[i]);
	c.udp(0.5, u, v, 5000, 53, 58);
	c.udp(1.5, u, v, 5000, 53, 108);
	c.udp(2.5, u, v, 5000, 53, 158);
	return c;
}

TEST(NetmlCases, IdleTimeoutDropsTrailingChunk)
{
	std::string cap = timeout_capture().write();
	Out r = netml(cap, "--format csv --type IAT,SIZE");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("IAT"), {{1, 1}, {1, 0}, {1, 1}}, "IAT");
	expect_rows(r.mat("SIZE"), {{60, 100, 200}, {60, 70, 0}, {100, 150, 200}}, "SIZE");
	expect_same_subflows(r.subflows(),
	                     {{"10.0.0.1", "10.0.0.2", 1000, 80, 6, 3, T0 + 0, T0 + 2},
	                      {"10.0.0.1", "10.0.0.2", 1000, 80, 6, 2, T0 + 702, T0 + 703},
	                      {"10.0.0.3", "10.0.0.4", 5000, 53, 17, 3, T0 + 0.5, T0 + 2.5}},
	                     "subflows");
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 2.0);
	EXPECT_EQ(jnum(meta, "dim"), 3.0);
	EXPECT_EQ(jnum(meta, "flows"), 3.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.read, 10u);
	EXPECT_EQ(a.in_rows, 8u);
	EXPECT_EQ(a.not_used["trailing_chunk_after_timeout_split"], 2u);
	check_against_oracle(cap, true);
}

// The same capture with --fixed trailing: F1's last chunk (1403, 1404) is kept.
// Chunk durations [2,1,1,2]: interval = quantile(sorted [1,1,2,2], .9):
//   v = 2.7, lo 2, g .7 -> 2 - 0 = 2; dim = quantile([2,2,3,3], .9) = 3.
TEST(NetmlCases, IdleTimeoutKeepsTrailingChunkWhenFixed)
{
	std::string cap = timeout_capture().write();
	Out r = netml(cap, "--format csv --type IAT,SIZE --fixed trailing");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("IAT"), {{1, 1}, {1, 0}, {1, 0}, {1, 1}}, "IAT");
	expect_rows(r.mat("SIZE"), {{60, 100, 200}, {60, 70, 0}, {80, 90, 0}, {100, 150, 200}}, "SIZE");
	std::vector<Sub> s = r.subflows();
	ASSERT_EQ(s.size(), 4u);
	EXPECT_EQ(s[2].first, T0 + 1403);
	EXPECT_EQ(s[2].last, T0 + 1404);
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 2.0);
	EXPECT_EQ(jnum(meta, "dim"), 3.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.in_rows, 10u);
	EXPECT_EQ(a.not_used["trailing_chunk_after_timeout_split"], 0u);
	// a shorter TCP timeout splits F1 at every 1 s gap too (UDP keeps 600 s)
	Out t = netml(cap, "--format csv --type SIZE --fixed trailing --tcp-timeout 0.5");
	ASSERT_EQ(t.rc, 0) << t.log;
	// F1: 7 one-packet chunks (all < thres 2, dropped); F2 whole
	expect_rows(t.mat("SIZE"), {{100, 150, 200}}, "SIZE with --tcp-timeout 0.5");
	Acct b = check_accounting(t.meta());
	EXPECT_EQ(b.not_used["chunk_below_threshold"], 7u);
}

// Interval split with the grid-anchored stamp (netml.md section 4).
//   X TCP 10.0.0.1:1000 > 10.0.0.2:80: p0..p5 at 0, 1.5, 2.25, 2.75, 3.5, 10,
//     sizes 60 80 60 100 200 60.
//   11 fillers UDP 10.0.1.k:4000 > 10.0.2.1:4001, 2 packets 1 s apart
//     (sizes 50, 60), duration 1.
// interval = quantile(durations [10, 1 x 11], .9): n 12, v = 11*.9 = 9.9,
//   lo 9, x[9] = x[10] = 1 -> 1.
// X with stamps: st = 0, chunk [(0,p0)]
//   p1 1.5: 1.5 - 0 > 1 -> emit [p0]; st = 0 + (1.5 // 1)*1 = 1; chunk [(1,p1)]
//   p2 2.25: 2.25 - 1 (the chunk's STAMP, not p1's 1.5) = 1.25 > 1 -> emit [p1];
//            st = 1 + (1.25 // 1)*1 = 2; chunk [(2,p2)]
//            (packet to packet the gap is 0.75 <= 1: no split there)
//   p3 2.75: 2.75 - 2 = 0.75 <= 1 -> append; p4 3.5: 3.5 - 2.75 = 0.75 -> append
//   p5 10: 6.5 > 1 -> emit [p2,p3,p4]; chunk [(10,p5)], dropped (trailing)
// [p0], [p1] are below 2 packets: X's only row is p2..p4 (2.25 .. 3.5).
// With plain packet-to-packet gaps it would have been p1..p4 (4 packets).
// dim = floor(quantile([3, 2 x 11], .9)) = 2: IAT 1 column, SIZE 2, IAT_SIZE 3.
// STATS of X: duration 1.25, 3/1.25, 360/1.25 = 288, mean 120,
//   std = sqrt((60^2 + 20^2 + 80^2)/3) = sqrt(10400/3),
//   q1: v = .5, g .5 -> 100 - 40*.5 = 80; q2: v = 1 -> 100; q3: v = 1.5 ->
//   200 - 100*.5 = 150; min 60, max 200, n 3, bytes 360.
// STATS of a filler: 1, 2/1, 110/1, 55, sqrt(50/2) = 5, q1 50 + 10*.25 = 52.5,
//   q2 60 - 10*.5 = 55, q3 60 - 10*.25 = 57.5, 50, 60, 2, 110.
TEST(NetmlCases, IntervalSplitAnchorsOnTheGrid)
{
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
	const double tx[] = {0, 1.5, 2.25, 2.75, 3.5, 10};
	const size_t px[] = {6, 26, 6, 46, 146, 6};
	for (int i = 0; i < 6; i++)
		c.tcp(tx[i], a, b, 1000, 80, px[i]);
	for (int k = 0; k < 11; k++) {
		c.udp(0.125 * k, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 8);
		c.udp(0.125 * k + 1, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 18);
	}
	std::string cap = c.write();
	Out r = netml(cap, "--format csv --type IAT,SIZE,IAT_SIZE,STATS");
	ASSERT_EQ(r.rc, 0) << r.log;
	std::vector<std::vector<double>> iat = {{0.5}}, size = {{60, 100}}, iat_size = {{0.5, 60, 0.75}};
	std::vector<std::vector<double>> stats = {
	    {1.25, 3.0 / 1.25, 288, 120, std::sqrt(10400.0 / 3.0), 80, 100, 150, 60, 200, 3, 360}};
	for (int k = 0; k < 11; k++) {
		iat.push_back({1});
		size.push_back({50, 60});
		iat_size.push_back({1, 50, 60});
		stats.push_back({1, 2, 110, 55, 5, 52.5, 55, 57.5, 50, 60, 2, 110});
	}
	expect_rows(r.mat("IAT"), iat, "IAT");
	expect_rows(r.mat("SIZE"), size, "SIZE");
	expect_rows(r.mat("IAT_SIZE"), iat_size, "IAT_SIZE");
	expect_rows(r.mat("STATS"), stats, "STATS");
	std::vector<Sub> s = r.subflows();
	ASSERT_EQ(s.size(), 12u);
	EXPECT_EQ(s[0].packets, 3u);
	EXPECT_EQ(s[0].first, T0 + 2.25);
	EXPECT_EQ(s[0].last, T0 + 3.5);
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 1.0);
	EXPECT_EQ(jnum(meta, "dim"), 2.0);
	Acct ac = check_accounting(meta);
	EXPECT_EQ(ac.read, 28u);
	EXPECT_EQ(ac.in_rows, 25u);
	EXPECT_EQ(ac.not_used["subflow_below_threshold"], 2u);              // [p0], [p1]
	EXPECT_EQ(ac.not_used["trailing_subflow_after_interval_split"], 1u); // [p5]
	check_against_oracle(cap, true);
}

// Ties, flow order and direction. File order (not time order):
//   Q5 Pa Pb S Q5.25 Pc R.5 Pd R.75 Q5.5 R1 R1.5 Q6
//   Q UDP 10.0.0.9:7000 > 10.0.0.8:7001 at 5, 5.25, 5.5, 6; sizes 100 150 200 250
//   P TCP 10.0.0.1:1234 > 10.0.0.2:80: a t1 100, b t0 200, c t1 300, d t0 400
//   R TCP 10.0.0.2:80 > 10.0.0.1:1234 (P reversed: its own flow) at .5 .75 1 1.5,
//     sizes 60 70 80 90
//   S UDP 10.0.0.7:9 > 10.0.0.8:9, one packet: below the threshold.
// Rows in first-appearance order Q, P, R (not time order: Q starts last).
// P stable-sorted by time: b(0) d(0) a(1) c(1): ties keep file order.
// Durations all 1: interval 1, no gap > 1; dim = 4.
TEST(NetmlCases, TiesFlowOrderAndDirection)
{
	Cap c;
	const uint32_t q1 = ip4(10, 0, 0, 9), q2 = ip4(10, 0, 0, 8), p1 = ip4(10, 0, 0, 1), p2 = ip4(10, 0, 0, 2);
	c.udp(5, q1, q2, 7000, 7001, 58);
	c.tcp(1, p1, p2, 1234, 80, 46);  // a
	c.tcp(0, p1, p2, 1234, 80, 146); // b
	c.udp(3, ip4(10, 0, 0, 7), q2, 9, 9, 0);
	c.udp(5.25, q1, q2, 7000, 7001, 108);
	c.tcp(1, p1, p2, 1234, 80, 246); // c
	c.tcp(0.5, p2, p1, 80, 1234, 6);
	c.tcp(0, p1, p2, 1234, 80, 346); // d
	c.tcp(0.75, p2, p1, 80, 1234, 16);
	c.udp(5.5, q1, q2, 7000, 7001, 158);
	c.tcp(1, p2, p1, 80, 1234, 26);
	c.tcp(1.5, p2, p1, 80, 1234, 36);
	c.udp(6, q1, q2, 7000, 7001, 208);
	std::string cap = c.write(false);
	Out r = netml(cap, "--format csv --type IAT,SIZE --label 1");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"), {{100, 150, 200, 250}, {200, 400, 100, 300}, {60, 70, 80, 90}}, "SIZE");
	expect_rows(r.mat("IAT"), {{0.25, 0.25, 0.5}, {0, 1, 0}, {0.25, 0.25, 0.5}}, "IAT");
	expect_same_subflows(r.subflows(),
	                     {{"10.0.0.9", "10.0.0.8", 7000, 7001, 17, 4, T0 + 5, T0 + 6},
	                      {"10.0.0.1", "10.0.0.2", 1234, 80, 6, 4, T0 + 0, T0 + 1},
	                      {"10.0.0.2", "10.0.0.1", 80, 1234, 6, 4, T0 + 0.5, T0 + 1.5}},
	                     "subflows");
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 1.0);
	EXPECT_EQ(jnum(meta, "dim"), 4.0);
	EXPECT_EQ(jnum(meta, "flow_ids"), 4.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.read, 13u);
	EXPECT_EQ(a.in_rows, 12u);
	EXPECT_EQ(a.not_used["flow_below_threshold"], 1u);
	// --label 1: every row labelled 1
	EXPECT_EQ(lines_of(slurp(r.dir + "/labels.csv")), (std::vector<std::string>{"1", "1", "1"}));
	if (!cft::numpy_python().empty()) {
		Out n = netml(cap, "--type SIZE --label 1");
		ASSERT_EQ(n.rc, 0) << n.log;
		std::map<std::string, Npy> l = npy_load({n.dir + "/labels.npy"});
		const Npy &lab = l[n.dir + "/labels.npy"];
		EXPECT_EQ(lab.dtype, "int64");
		EXPECT_EQ(lab.i, (std::vector<long long>{1, 1, 1}));
	}
	check_against_oracle(cap, true);
}

// --flow-pkts-thres (netml's flow_ptks_thres), and the chunk filter that
// uses thres itself rather than max(2, thres).
//   A TCP :1001 at 0, .5, 1 (60 70 80)      B TCP :1002 at 0, 1 (60 100)
//   C UDP 10.0.0.3:53 > 10.0.0.4:53 at 0, .25, .5, 1 (50 60 70 80)
//   D UDP one packet                          E TCP :1005 at 0, .25 | 700, 700.25, 700.5 (all 60)
// thres 2: E splits at the 699.75 s gap, its trailing 3 packets dropped.
//   chunks A(3, dur 1) B(2, 1) C(4, 1) E(2, .25); interval = quantile(sorted
//   [.25,1,1,1], .9) = 1; dim = floor(quantile([2,2,3,4], .9)) = floor(4 - 1*(1-.7)) = 3.
// thres 3: B and D are below 3 at the flow step; E's 2-packet chunk is below
//   thres at the chunk step; rows A, C: interval 1, dim floor(4 - 1*.1) = 3.
TEST(NetmlCases, FlowPacketThreshold)
{
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
	c.tcp(0, a, b, 1001, 80, 6);
	c.tcp(0, a, b, 1002, 80, 6);
	c.udp(0, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 53, 53, 8);
	c.tcp(0, a, b, 1005, 80, 6);
	c.tcp(0.5, a, b, 1001, 80, 16);
	c.tcp(1, a, b, 1001, 80, 26);
	c.tcp(1, a, b, 1002, 80, 46);
	c.udp(0.25, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 53, 53, 18);
	c.udp(0.5, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 53, 53, 28);
	c.udp(1, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 53, 53, 38);
	c.udp(0.5, ip4(10, 0, 0, 5), ip4(10, 0, 0, 6), 1, 2, 0);
	for (double t : {0.25, 700.0, 700.25, 700.5})
		c.tcp(t, a, b, 1005, 80, 6);
	std::string cap = c.write();
	Out r = netml(cap, "--format csv --type SIZE");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"), {{60, 70, 80}, {60, 100, 0}, {50, 60, 70}, {60, 60, 0}}, "SIZE thres 2");
	Acct a2 = check_accounting(r.meta());
	EXPECT_EQ(a2.in_rows, 11u);
	EXPECT_EQ(a2.not_used["flow_below_threshold"], 1u);
	EXPECT_EQ(a2.not_used["trailing_chunk_after_timeout_split"], 3u);
	Out t = netml(cap, "--format csv --type SIZE --flow-pkts-thres 3");
	ASSERT_EQ(t.rc, 0) << t.log;
	expect_rows(t.mat("SIZE"), {{60, 70, 80}, {50, 60, 70}}, "SIZE thres 3");
	std::string meta = t.meta();
	EXPECT_EQ(jnum(meta, "interval"), 1.0);
	EXPECT_EQ(jnum(meta, "dim"), 3.0);
	Acct a3 = check_accounting(meta);
	EXPECT_EQ(a3.read, 15u);
	EXPECT_EQ(a3.in_rows, 7u);
	EXPECT_EQ(a3.not_used["flow_below_threshold"], 3u);
	EXPECT_EQ(a3.not_used["chunk_below_threshold"], 2u);
	EXPECT_EQ(a3.not_used["trailing_chunk_after_timeout_split"], 3u);
	std::vector<Sub> s = t.subflows();
	ASSERT_EQ(s.size(), 2u);
	EXPECT_EQ(s[1].proto, 17);
	check_against_oracle(cap, false);
}

// IPv6: netml's fid for a TCP/UDP packet without IPv4 is ('', '', -1, -1, -1),
// so every IPv6 TCP/UDP packet lands in one pseudo-flow.
//   A TCP/IPv4 10.0.0.1:1000 > 10.0.0.2:80 at 0 (60), .5 (70)
//   X6 TCP 2001:db8::1:5000 > 2001:db8::2:443 at .25 (80), .75 (90)
//   Y6 UDP 2001:db8::2:53 > 2001:db8::1:5353 at .5 (70), 1 (80)
//   one ICMPv6 echo at .6 (not used)
// netml: rows A, pseudo(X6+Y6 by time: 80 70 90 80, .25 .. 1).
//   interval = quantile([.5, .75], .9) = .75 - .25*(1-.9) = .725 (all gaps smaller);
//   dim = floor(quantile([2,4], .9)) = floor(4 - 2*.1) = 3.
// --fixed ipv6: rows A, X6, Y6, all lasting .5: interval .5, dim 2.
Cap ipv6_capture()
{
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
	c.tcp(0, a, b, 1000, 80, 6);
	c.tcp6(0.25, A6, B6, 5000, 443, 6);
	c.tcp(0.5, a, b, 1000, 80, 16);
	c.udp6(0.5, B6, A6, 53, 5353, 8);
	c.icmp6(0.6, A6, B6);
	c.tcp6(0.75, A6, B6, 5000, 443, 16);
	c.udp6(1.0, B6, A6, 53, 5353, 18);
	return c;
}

TEST(NetmlCases, Ipv6PseudoFlow)
{
	std::string cap = ipv6_capture().write();
	Out r = netml(cap, "--format csv --type IAT,SIZE");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"), {{60, 70, 0}, {80, 70, 90}}, "SIZE");
	expect_rows(r.mat("IAT"), {{0.5, 0}, {0.25, 0.25}}, "IAT");
	expect_same_subflows(r.subflows(),
	                     {{"10.0.0.1", "10.0.0.2", 1000, 80, 6, 2, T0 + 0, T0 + 0.5},
	                      {"", "", -1, -1, -1, 4, T0 + 0.25, T0 + 1}},
	                     "subflows");
	EXPECT_NE(slurp(r.dir + "/subflows.csv").find("\n,,-1,-1,-1,4,"), std::string::npos);
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 0.75 - 0.25 * (1 - 0.9));
	EXPECT_EQ(jnum(meta, "dim"), 3.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.read, 7u);
	EXPECT_EQ(a.in_rows, 6u);
	EXPECT_EQ(a.ipv6_pseudo, 4u);
	EXPECT_EQ(a.not_used["not_tcp_udp"], 1u);
	check_against_oracle(cap, false); // the oracle's header path crashes on IPv6, as netml
}

TEST(NetmlCases, Ipv6RealFlowsWhenFixed)
{
	std::string cap = ipv6_capture().write();
	Out r = netml(cap, "--format csv --type IAT,SIZE --fixed ipv6");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"), {{60, 70}, {80, 90}, {70, 80}}, "SIZE");
	expect_rows(r.mat("IAT"), {{0.5}, {0.5}, {0.5}}, "IAT");
	expect_same_subflows(r.subflows(),
	                     {{"10.0.0.1", "10.0.0.2", 1000, 80, 6, 2, T0 + 0, T0 + 0.5},
	                      {"2001:db8::1", "2001:db8::2", 5000, 443, 6, 2, T0 + 0.25, T0 + 0.75},
	                      {"2001:db8::2", "2001:db8::1", 53, 5353, 17, 2, T0 + 0.5, T0 + 1}},
	                     "subflows");
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "interval"), 0.5);
	EXPECT_EQ(jnum(meta, "dim"), 2.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.ipv6_pseudo, 0u);
	EXPECT_EQ(a.in_rows, 6u);
}

// IPv4 fragments: scapy binds TCP only when the fragment offset is 0.
//   A TCP 10.0.0.1:1000 > 10.0.0.2:80:
//     t 0     normal, 100 bytes
//     t .5    first fragment (MF, offset 0): TCP header + 100 bytes -> 154 bytes, kept
//     t .625  a later fragment (offset 15 = 120 bytes), 50 bytes of data: dropped
//     t 1     normal, 60 bytes
// One flow, duration 1: interval 1, dim 3. SIZE 100 154 60, IAT .5 .5.
TEST(NetmlCases, FragmentsFirstKeptLaterDropped)
{
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
	c.tcp(0, a, b, 1000, 80, 46);
	c.raw(0.5, cft::cat(cft::eth(kMacB, kMacA, 0x0800),
	                    cft::ipv4(a, b, 6, cft::tcp(1000, 80, 1, 1, ACK, 1000, 100), 64, 7, 0x2000)));
	c.raw(0.625, cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(a, b, 6, std::vector<uint8_t>(50, 0x61), 64, 7, 15)));
	c.tcp(1, a, b, 1000, 80, 6);
	std::string cap = c.write();
	Out r = netml(cap, "--format csv --type IAT,SIZE");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"), {{100, 154, 60}}, "SIZE");
	expect_rows(r.mat("IAT"), {{0.5, 0.5}}, "IAT");
	Acct ac = check_accounting(r.meta());
	EXPECT_EQ(ac.read, 4u);
	EXPECT_EQ(ac.in_rows, 3u);
	EXPECT_EQ(ac.not_used["no_ip_5tuple"], 1u);
	EXPECT_EQ(ac.decoder_skips["nonfirst_fragment"], 1u);
	check_against_oracle(cap, true);
}

// The header part (netml.md section 6): 8 TCP flag counts then the TTLs,
// h_dim = 8 + self.dim, header first.
//   U TCP 10.0.0.1:1111 > 10.0.0.2:80, untagged Ethernet, at 0, .5, 1:
//     flags 0xC2 (S E C), 0x38 (P A U), 0x15 (F R A); TTL 64 63 62; 54 64 74 bytes
//     counts F 1, S 1, R 1, P 1, A 2, U 1, E 1, C 1
//   V TCP 10.0.0.3:2222 > 10.0.0.4:80 in an 802.1Q tag (VLAN 100): flags S, A,
//     FA; TTL 128 127 126; 58 68 78 bytes. Kept, but netml reads the IP flags
//     through the tag: no TCP flag is counted; the TTLs are.
//   W UDP 10.0.0.5:5353 > 10.0.0.6:5353: TTL 30 31 32; 42 52 62 bytes.
//   An ICMP echo 10.0.0.1 > 10.0.0.2 (not used) and an ARP frame (no IP).
// All durations 1: interval 1, dim 3.
//   SIZE (self.dim 3, h_dim 11): header 8 counts + 3 TTLs, then 3 sizes.
//   IAT (self.dim 2, h_dim 10): the third TTL is cut.
//   STATS (12, h_dim 20): the header is zero-padded to 20.
TEST(NetmlCases, HeaderFlagsTtlsVlanAndIcmp)
{
	Cap c;
	c.arp(0);
	const uint8_t fu[] = {SYN | ECE | CWR, PSH | ACK | URG, FIN | RST | ACK}, fv[] = {SYN, ACK, FIN | ACK};
	for (int i = 0; i < 3; i++) {
		double t = 0.5 * i;
		c.tcp(t, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1111, 80, 10 * i, fu[i], (uint8_t)(64 - i));
		c.tcp(t, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 2222, 80, 10 * i, fv[i], (uint8_t)(128 - i), 100);
		c.udp(t, ip4(10, 0, 0, 5), ip4(10, 0, 0, 6), 5353, 5353, 10 * i, (uint8_t)(30 + i));
	}
	c.icmp4(0.25, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2));
	std::string cap = c.write();
	Out r = netml(cap, "--format csv --type IAT,SIZE,STATS --header");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("SIZE"),
	            {{1, 1, 1, 1, 2, 1, 1, 1, 64, 63, 62, 54, 64, 74},
	             {0, 0, 0, 0, 0, 0, 0, 0, 128, 127, 126, 58, 68, 78},
	             {0, 0, 0, 0, 0, 0, 0, 0, 30, 31, 32, 42, 52, 62}},
	            "SIZE header");
	expect_rows(r.mat("IAT"),
	            {{1, 1, 1, 1, 2, 1, 1, 1, 64, 63, 0.5, 0.5},
	             {0, 0, 0, 0, 0, 0, 0, 0, 128, 127, 0.5, 0.5},
	             {0, 0, 0, 0, 0, 0, 0, 0, 30, 31, 0.5, 0.5}},
	            "IAT header");
	Mat st = r.mat("STATS");
	ASSERT_TRUE(st.err.empty()) << st.err;
	ASSERT_EQ(st.rows, 3u);
	ASSERT_EQ(st.cols, 32u);
	const double hdr_u[11] = {1, 1, 1, 1, 2, 1, 1, 1, 64, 63, 62};
	for (size_t c2 = 0; c2 < 20; c2++)
		EXPECT_EQ(st.at(0, c2), c2 < 11 ? hdr_u[c2] : 0.0) << "STATS header col " << c2;
	// U's STATS: 1 s, 3/1, 192/1, mean 64, std sqrt(200/3), q1 59, q2 64, q3 69, 54, 74, 3, 192
	const double su[12] = {1, 3, 192, 64, std::sqrt(200.0 / 3.0), 59, 64, 69, 54, 74, 3, 192};
	for (size_t c2 = 0; c2 < 12; c2++)
		EXPECT_TRUE(same_bits(st.at(0, 20 + c2), su[c2])) << "STATS col " << c2 << " " << hexf(st.at(0, 20 + c2));
	std::vector<Sub> s = r.subflows();
	ASSERT_EQ(s.size(), 3u);
	EXPECT_EQ(s[1].src, "10.0.0.3");
	std::string meta = r.meta();
	EXPECT_EQ(jnum(meta, "dim"), 3.0);
	Acct a = check_accounting(meta);
	EXPECT_EQ(a.read, 11u);
	EXPECT_EQ(a.in_rows, 9u);
	EXPECT_EQ(a.not_used["not_tcp_udp"], 1u);
	EXPECT_EQ(a.not_used["no_ip_5tuple"], 1u);
	// without the header the oracle agrees (its header reads TCP flags
	// through VLAN tags, which netml does not)
	check_against_oracle(cap, false);
}

// Nanosecond pcap: netml's time is float(Decimal("sec.nnnnnnnnn")), the
// correctly rounded double of the decimal. At 1.7e9 s, (double)ticks / 1e9
// is not: the tick count (1.7e18) is rounded to a multiple of 256 first.
//   A TCP at 1700000000.144272509, .909925047, 1700000001.846885253
TEST(NetmlCases, NanosecondTimestampsCorrectlyRounded)
{
	const char *txt[3] = {"1700000000.144272509", "1700000000.909925047", "1700000001.846885253"};
	const int64_t tick[3] = {1700000000144272509ll, 1700000000909925047ll, 1700000001846885253ll};
	double t[3];
	for (int i = 0; i < 3; i++)
		t[i] = strtod(txt[i], nullptr);
	// Python: float('1700000000.144272509').hex() == '0x1.954fc40093bc3p+30'
	EXPECT_EQ(t[0], 0x1.954fc40093bc3p+30);
	EXPECT_EQ(t[1], 0x1.954fc403a3c36p+30);
	// the naive conversion differs on these two, so the test tells them apart
	EXPECT_NE((double)tick[0] / 1e9, t[0]);
	EXPECT_NE((double)tick[1] / 1e9, t[1]);
	Cap c;
	const uint32_t a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
	for (int i = 0; i < 3; i++) {
		std::vector<uint8_t> bytes =
		    cft::cat(cft::eth(kMacB, kMacA, 0x0800), cft::ipv4(a, b, 6, cft::tcp(1000, 80, 1, 1, ACK, 1000, 6)));
		c.f.push_back({tick[i], bytes});
	}
	std::string cap = c.write(false, true);
	Out r = netml(cap, "--format csv --type IAT,STATS");
	ASSERT_EQ(r.rc, 0) << r.log;
	expect_rows(r.mat("IAT"), {{t[1] - t[0], t[2] - t[1]}}, "IAT");
	double dur = t[2] - t[0];
	expect_rows(r.mat("STATS"), {{dur, 3 / dur, 180 / dur, 60, 0, 60, 60, 60, 60, 60, 3, 180}}, "STATS");
	std::vector<Sub> s = r.subflows();
	ASSERT_EQ(s.size(), 1u);
	EXPECT_TRUE(same_bits(s[0].first, t[0])) << hexf(s[0].first);
	EXPECT_TRUE(same_bits(s[0].last, t[2])) << hexf(s[0].last);
	EXPECT_TRUE(same_bits(jnum(r.meta(), "interval"), dur));
	check_against_oracle(cap, true);
}

// ============================================================ c. errors

TEST(NetmlErrors, EmptyCaptureExits3)
{
	std::string cap = cft::temp_path(".pcap");
	cft::write_pcap(cap, 1, {});
	Out r = netml(cap, "--type IAT");
	EXPECT_EQ(r.rc, 3) << r.log;
	EXPECT_NE(r.log.find("netml"), std::string::npos) << r.log;
}

TEST(NetmlErrors, OnlySinglePacketFlowsExit3)
{
	Cap c;
	for (int k = 0; k < 3; k++)
		c.tcp(k, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), (uint16_t)(1000 + k), 80, 0);
	Out r = netml(c.write(), "--type IAT,STATS");
	EXPECT_EQ(r.rc, 3) << r.log;
	EXPECT_NE(r.log.find("netml"), std::string::npos) << r.log;
}

// 11 flows of 2 packets at the same instant (duration 0) and one with a 1 s
// gap: interval = quantile([0 x 11, 1], .9) (v 9.9, x[9] = x[10] = 0) = 0,
// and a positive gap then crashes netml (division by zero).
TEST(NetmlErrors, ZeroIntervalWithAGapExits3)
{
	Cap c;
	for (int k = 0; k < 11; k++) {
		c.udp(0.25 * k, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 8);
		c.udp(0.25 * k, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 8);
	}
	c.tcp(0, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 80, 0);
	c.tcp(1, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 80, 0);
	Out r = netml(c.write(), "--type IAT");
	EXPECT_EQ(r.rc, 3) << r.log;
	EXPECT_NE(r.log.find("interval"), std::string::npos) << r.log;
	// a fixed interval avoids it
	Out f = netml(c.write(), "--type IAT --interval 0.5 --format csv");
	EXPECT_EQ(f.rc, 0) << f.log;
}

// 4 flows of 2 packets at one instant, 3 flows of 2 packets 1 s apart:
// interval = quantile([0,0,0,0,1,1,1], .9) = 1 (v 5.4, x[5] = x[6] = 1): fine;
// SAMP width = quantile(.., .3): v = 6*.3 = 1.8, x[1] = x[2] = 0 -> 0 with
// gaps: netml crashes for SAMP; the other types are fine.
// With --samp-width .5 (dim 2, SAMP has 1 column):
//   zero-duration rows: both packets in the first window -> [2] / [size0+size1]
//   t 0, 1: 1 - 0 > .5 -> cur .5, out [1], k = floor((1 - .5) // .5) = 1 zero ... -> [1] / [size0]
TEST(NetmlErrors, ZeroSampWidthExits3UnlessSet)
{
	Cap c;
	for (int k = 0; k < 4; k++) {
		c.udp(0.25 * k, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 8);  // 50 bytes
		c.udp(0.25 * k, ip4(10, 0, 1, k + 1), ip4(10, 0, 2, 1), 4000, 4001, 18); // 60
	}
	for (int k = 0; k < 3; k++) {
		c.tcp(0.25 * k, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), (uint16_t)(1000 + k), 80, 6);  // 60
		c.tcp(0.25 * k + 1, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), (uint16_t)(1000 + k), 80, 16); // 70
	}
	std::string cap = c.write();
	Out s = netml(cap, "--type SAMP_NUM");
	EXPECT_EQ(s.rc, 3) << s.log;
	EXPECT_NE(s.log.find("width"), std::string::npos) << s.log;
	Out o = netml(cap, "--type IAT,SIZE,IAT_SIZE,STATS --format csv");
	EXPECT_EQ(o.rc, 0) << o.log;
	EXPECT_EQ(jnum(o.meta(), "samp_width"), 0.0);
	EXPECT_EQ(o.mat("STATS").rows, 7u);
	Out w = netml(cap, "--type SAMP_NUM,SAMP_SIZE --samp-width 0.5 --format csv");
	ASSERT_EQ(w.rc, 0) << w.log;
	EXPECT_EQ(jnum(w.meta(), "samp_width"), 0.5);
	// rows in first-appearance order: the UDP flows (k = 0..3) interleave
	// with the TCP ones by time: U0 T0 U1 T1 U2 T2 U3
	expect_rows(w.mat("SAMP_NUM"), {{2}, {1}, {2}, {1}, {2}, {1}, {2}}, "SAMP_NUM width .5");
	expect_rows(w.mat("SAMP_SIZE"), {{110}, {60}, {110}, {60}, {110}, {60}, {110}}, "SAMP_SIZE width .5");
}

TEST(NetmlErrors, MissingCaptureNamesTheFile)
{
	std::string cap = cft::temp_path("-no-such-capture.pcap");
	Out r = netml(cap, "--type IAT");
	EXPECT_NE(r.rc, 0) << r.log;
	EXPECT_NE(r.rc, 3) << r.log;
	EXPECT_NE(r.log.find(cap), std::string::npos) << r.log;
}

// A capture cut inside its last record: the packets before it are used
// (same output as the intact prefix), exit 2, and the message names the
// file and the record's byte offset.
TEST(NetmlErrors, TruncatedCaptureKeepsThePacketsBefore)
{
	Cap c;
	for (int i = 0; i < 4; i++) {
		c.tcp(0.25 * i, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 80, 10 + i);
		c.udp(0.25 * i + 0.125, ip4(10, 0, 0, 3), ip4(10, 0, 0, 4), 53, 53, 20 + i);
	}
	Cap prefix = c;
	prefix.f.pop_back();
	std::string whole = c.write(false), good = prefix.write(false);
	std::vector<uint8_t> bytes = cft::read_file(whole);
	size_t last = cft::read_file(good).size(); // offset of the last record
	ASSERT_GT(bytes.size(), last + 16 + 10);
	bytes.resize(bytes.size() - 10);
	std::string cut = cft::temp_path("-cut.pcap");
	cft::write_file(cut, bytes);
	Out r = netml(cut, "--type IAT,SIZE,STATS --format csv");
	Out p = netml(good, "--type IAT,SIZE,STATS --format csv");
	EXPECT_EQ(r.rc, 2) << r.log;
	ASSERT_EQ(p.rc, 0) << p.log;
	EXPECT_NE(r.log.find(cut), std::string::npos) << r.log;
	EXPECT_NE(r.log.find("offset " + std::to_string(last)), std::string::npos) << r.log;
	for (const char *t : {"IAT", "SIZE", "STATS"})
		expect_same_bits(r.mat(t), p.mat(t), std::string("truncated vs prefix ") + t);
	EXPECT_EQ(slurp(r.dir + "/subflows.csv"), slurp(p.dir + "/subflows.csv"));
	EXPECT_EQ(jnum(r.meta(), "read"), 7.0);
}

TEST(NetmlErrors, BadTypeIsAUsageError)
{
	Cap c;
	c.tcp(0, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 80, 0);
	c.tcp(1, ip4(10, 0, 0, 1), ip4(10, 0, 0, 2), 1000, 80, 0);
	std::string cap = c.write();
	Out r = netml(cap, "--type IAT,BOGUS");
	EXPECT_EQ(r.rc, 1) << r.log;
	EXPECT_NE(r.log.find("BOGUS"), std::string::npos) << r.log;
	EXPECT_EQ(netml(cap, "--type FFT-STATS").rc, 1); // netml has no FFT-STATS alias
	EXPECT_EQ(netml(cap, "--type iat").rc, 1);       // case-sensitive, as upstream
	Out a = netml(cap, "--type FFT-IAT --format csv");   // the alias is the plain type
	EXPECT_EQ(a.rc, 0) << a.log;
	EXPECT_TRUE(exists(a.dir + "/IAT.csv"));
}

// ============================================================ d. numerics vs numpy

// Runs a Python script on an input file; returns its stdout lines.
std::vector<std::string> python_lines(const char *script, const std::string &input)
{
	std::string sp = cft::temp_path(".py");
	cft::write_file(sp, std::vector<uint8_t>(script, script + strlen(script)));
	std::string out;
	int rc = cft::run(cft::shq(cft::numpy_python()) + " " + cft::shq(sp) + " " + cft::shq(input), &out);
	EXPECT_EQ(rc, 0) << out;
	return lines_of(out);
}

double from_hex(const std::string &s)
{
	char *e;
	double d = strtod(s.c_str(), &e);
	EXPECT_EQ(*e, 0) << "'" << s << "'";
	return d;
}

const double kQs[5] = {0.25, 0.5, 0.75, 0.9, 0.3};

// Lines "I v0 v1 ..." (an int array) or "D h0 h1 ..." (doubles, float.hex):
// prints np.std (ints only) then np.quantile at the five q, as float.hex.
const char *kStatsPy = R"PY(
import sys
import numpy as np
qs = [0.25, 0.5, 0.75, 0.9, 0.3]
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == 'I':
        a = [int(x) for x in f[1:]]          # netml hands numpy a list of ints
        out = [float(np.std(a))] + [float(np.quantile(a, q)) for q in qs]
    else:
        a = [float.fromhex(x) for x in f[1:]]
        out = [float(np.quantile(a, q)) for q in qs]
    print(' '.join(x.hex() for x in out))
)PY";

TEST(NetmlNumerics, StdAndQuantilesOfIntegersMatchNumpy)
{
	if (cft::numpy_python().empty())
		GTEST_SKIP() << "python3 with numpy not installed";
	std::mt19937_64 rng(20240801);
	// numpy's reduction hands the pairwise sum at most 8192 elements at a
	// time (NPY_BUFSIZE): sizes around and past multiples of 8192 too
	std::vector<size_t> sizes = {1,    2,    3,    7,    8,    9,     15,    16,    17,    127,   128,   129,
	                             255,  256,  257,  1023, 1024, 1025,  3000,  4095,  4096,  4097,  8191,  8192,
	                             8193, 8200, 16383, 16384, 16385, 24577, 40000, 100000};
	while (sizes.size() < 300)
		sizes.push_back(1 + rng() % 3000);
	std::vector<std::vector<uint32_t>> arrays;
	std::string text;
	for (size_t i = 0; i < sizes.size(); i++) {
		std::vector<uint32_t> a(sizes[i]);
		int kind = (int)(i % 4);
		uint32_t distinct[5] = {54, 60, 1514, 66, 590};
		for (auto &x : a)
			x = kind == 0 ? (uint32_t)(rng() % 65536)
			    : kind == 1 ? distinct[rng() % 5]
			    : kind == 2 ? (uint32_t)(40 + rng() % 1500)
			                : (uint32_t)(rng() % 3 == 0 ? 65535 : 1 + rng() % 100);
		text += "I";
		for (uint32_t x : a)
			text += " " + std::to_string(x);
		text += "\n";
		arrays.push_back(a);
	}
	std::string in = cft::temp_path(".txt");
	cft::write_file(in, std::vector<uint8_t>(text.begin(), text.end()));
	std::vector<std::string> out = python_lines(kStatsPy, in);
	ASSERT_EQ(out.size(), arrays.size());
	int bad = 0;
	for (size_t i = 0; i < arrays.size() && bad < 10; i++) {
		const std::vector<uint32_t> &a = arrays[i];
		std::vector<std::string> f = split(out[i], ' ');
		ASSERT_EQ(f.size(), 6u);
		uint64_t sum = 0;
		for (uint32_t x : a)
			sum += x;
		double mean = (double)sum / (double)a.size();
		double sd = std::sqrt(cf_np_pairwise_sqdev(a.data(), a.size(), mean) / (double)a.size());
		if (!same_bits(sd, from_hex(f[0]))) {
			bad++;
			ADD_FAILURE() << "np.std, n " << a.size() << ": got " << hexf(sd) << ", numpy " << f[0];
		}
		std::vector<uint32_t> s = a;
		std::sort(s.begin(), s.end());
		for (int q = 0; q < 5; q++) {
			double v = cf_np_quantile_sorted_u32(s.data(), s.size(), kQs[q]);
			if (!same_bits(v, from_hex(f[1 + q]))) {
				bad++;
				ADD_FAILURE() << "np.quantile(ints, " << kQs[q] << "), n " << a.size() << ": got " << hexf(v)
				              << ", numpy " << f[1 + q];
			}
		}
	}
	EXPECT_EQ(bad, 0);
}

TEST(NetmlNumerics, QuantilesOfDoublesMatchNumpy)
{
	if (cft::numpy_python().empty())
		GTEST_SKIP() << "python3 with numpy not installed";
	std::mt19937_64 rng(7);
	std::vector<std::vector<double>> arrays;
	std::string text;
	for (int i = 0; i < 200; i++) {
		size_t n = i < 12 ? (size_t)(i + 1) : 1 + rng() % 2000;
		std::vector<double> a(n);
		std::uniform_real_distribution<double> u(0.0, 1.0);
		for (auto &x : a) {
			switch (i % 4) {
			case 0: x = u(rng) * 600.0; break;                          // durations
			case 1: x = (double)(rng() % 10) * 1e-6; break;             // many ties, zeros
			case 2: x = std::ldexp(u(rng), (int)(rng() % 40) - 30); break; // wide range
			default: x = 1.5e9 + u(rng) * 100.0 - 1.5e9; break;         // epoch differences
			}
		}
		char b[40];
		text += "D";
		for (double x : a) {
			snprintf(b, sizeof b, " %a", x);
			text += b;
		}
		text += "\n";
		arrays.push_back(a);
	}
	std::string in = cft::temp_path(".txt");
	cft::write_file(in, std::vector<uint8_t>(text.begin(), text.end()));
	std::vector<std::string> out = python_lines(kStatsPy, in);
	ASSERT_EQ(out.size(), arrays.size());
	int bad = 0;
	for (size_t i = 0; i < arrays.size() && bad < 10; i++) {
		std::vector<double> s = arrays[i];
		std::sort(s.begin(), s.end());
		std::vector<std::string> f = split(out[i], ' ');
		ASSERT_EQ(f.size(), 5u);
		for (int q = 0; q < 5; q++) {
			double v = cf_np_quantile_sorted(s.data(), s.size(), kQs[q]);
			if (!same_bits(v, from_hex(f[q]))) {
				bad++;
				ADD_FAILURE() << "np.quantile(doubles, " << kQs[q] << "), n " << s.size() << ": got " << hexf(v)
				              << ", numpy " << f[q];
			}
		}
	}
	EXPECT_EQ(bad, 0);
}

// Lines "a b" (float.hex): prints a // b for Python floats and for numpy
// float64 (netml mixes both), as float.hex.
const char *kFloorDivPy = R"PY(
import sys
import numpy as np
np.seterr(all='ignore')
for line in open(sys.argv[1]):
    a, b = (float.fromhex(x) for x in line.split())
    try:
        p = (a // b).hex()
    except (ZeroDivisionError, OverflowError) as e:
        p = 'error'
    print(p, float(np.float64(a) // np.float64(b)).hex())
)PY";

TEST(NetmlNumerics, FloorDivMatchesPython)
{
	if (cft::numpy_python().empty())
		GTEST_SKIP() << "python3 with numpy not installed";
	std::vector<std::pair<double, double>> pairs = {
	    {0.3, 0.1}, {-0.3, 0.1}, {0.3, -0.1}, {-0.3, -0.1}, {1.0, 0.1}, {1.0, -0.1}, {-1.0, 0.1}, {7.0, 7.0},
	    {-7.0, 7.0}, {6.0, -4.0}, {-6.0, 4.0}, {0.0, 1.0}, {-0.0, 1.0}, {0.0, -1.0}, {-0.0, -1.0},
	    {5e-324, 1.0}, {-5e-324, 1.0}, {5e-324, -1.0}, {1e308, 1e-308}, {1e308, -1e-308}, {-1e308, 1e-308},
	    {1e-300, 1e300}, {-1e-300, 1e300}, {2.5, 0.5}, {3.5, 0.5}, {0.7, 0.1}, {0.6, 0.2}, {1.5, 1.0},
	    {1.25, 1.0}, {8.0, 1.0}, {6.5, 3.0994415283203125e-06}, {1.0, 3.0994415283203125e-06},
	    {5.776507735252384 * 3, 5.776507735252384}, {0.725 * 7, 0.725}, {1e16, 3.0}, {1e17, 0.1},
	    {9007199254740993.0, 2.0}, {4503599627370497.0, 0.5}, {1.0, 1e-20}, {1e-20, 1.0}, {-1e-20, 1.0},
	    {172.205, 5.776507735252384}, {0.0012046575546264646 * 500, 0.0012046575546264646}};
	std::mt19937_64 rng(99);
	std::uniform_real_distribution<double> u(0.0, 1.0);
	for (int i = 0; i < 3000; i++) {
		double b = std::ldexp(0.5 + u(rng), (int)(rng() % 30) - 22) * (rng() % 5 == 0 ? -1 : 1);
		double a;
		switch (i % 3) {
		case 0: a = (u(rng) - 0.2) * 1000.0; break;
		case 1: a = (double)(int64_t)(rng() % 2000000 - 100000) * b; break; // near-exact multiples
		default: a = (1.5e9 + u(rng) * 1000.0) - 1.5e9; break;            // time differences
		}
		pairs.push_back({a, b});
	}
	std::string text;
	char buf[96];
	for (auto &p : pairs) {
		snprintf(buf, sizeof buf, "%a %a\n", p.first, p.second);
		text += buf;
	}
	std::string in = cft::temp_path(".txt");
	cft::write_file(in, std::vector<uint8_t>(text.begin(), text.end()));
	std::vector<std::string> out = python_lines(kFloorDivPy, in);
	ASSERT_EQ(out.size(), pairs.size());
	int bad = 0;
	for (size_t i = 0; i < pairs.size() && bad < 10; i++) {
		std::vector<std::string> f = split(out[i], ' ');
		ASSERT_EQ(f.size(), 2u);
		double got = cf_py_floordiv(pairs[i].first, pairs[i].second);
		double want_np = from_hex(f[1]);
		if (!same_bits(got, want_np)) {
			bad++;
			ADD_FAILURE() << hexf(pairs[i].first) << " // " << hexf(pairs[i].second) << ": got " << hexf(got)
			              << ", numpy " << f[1];
		}
		if (f[0] != "error" && !same_bits(got, from_hex(f[0]))) {
			bad++;
			ADD_FAILURE() << hexf(pairs[i].first) << " // " << hexf(pairs[i].second) << ": got " << hexf(got)
			              << ", Python " << f[0];
		}
	}
	EXPECT_EQ(bad, 0);
}

} // namespace

// The "npy" (directory of per-column files) and "jsonl" sinks: a table of
// every dtype, vectors, a shaped column, nullable columns and awkward
// strings, written in several batches (sharded too), read back by numpy
// and Python's json module (tests/oracles/read_npy_jsonl.py, from
// build/arrow-venv; those tests skip without it) and compared token by
// token with values worked out here; exact bytes of small files checked
// by hand; abort, failures, the directory rename and its replacement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <limits>
#include <map>
#include <signal.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/table.h"
#include "test_util.h"

namespace {

// ------------------------------------------------------------ the table

struct TCol {
	std::string name;
	int dtype;
	uint32_t width = 1;
	uint32_t flags = 0;
	std::vector<uint32_t> dims;
	std::vector<uint8_t> raw;       // numbers: rows * width elements, host order
	std::vector<uint8_t> bits;      // bool: one byte per element
	std::vector<std::string> strs;  // strings: one per element
	std::vector<uint8_t> valid;     // nullable: one byte per row (empty: none)
};

struct TTable {
	int64_t rows = 0;
	std::vector<TCol> cols;
	std::vector<int64_t> cuts;      // batch boundaries: 0, ..., rows
	std::vector<bool> batch_bitmap; // per batch: hand the validity bitmaps over (else NULL)
};

template <class T> void put(TCol &c, T v)
{
	size_t n = c.raw.size();
	c.raw.resize(n + sizeof v);
	memcpy(c.raw.data() + n, &v, sizeof v);
}

template <class T> T get(const TCol &c, int64_t e)
{
	T v;
	memcpy(&v, c.raw.data() + e * sizeof v, sizeof v);
	return v;
}

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

const std::vector<std::string> kStrings = {
	"", "plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", "back\\slash", "tab\tand\x01" "ctl",
	"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\\n literally", "end\n", "\"", "{\"json\":[1]}", "x"};

// Every dtype, a vector of each kind, a 2x3x4 shaped column, nullable
// columns (numbers, floats vector, strings), over `rows` rows cut at cuts.
TTable full_table(int64_t rows, std::vector<int64_t> cuts, std::vector<bool> bitmap_in_batch)
{
	TTable t;
	t.rows = rows;
	t.cuts = cuts;
	t.batch_bitmap = bitmap_in_batch;
	auto add = [&](const char *name, int dtype, uint32_t width = 1, uint32_t flags = 0) -> TCol & {
		TCol c;
		c.name = name;
		c.dtype = dtype;
		c.width = width;
		c.flags = flags;
		t.cols.push_back(c);
		return t.cols.back();
	};
	add("b", CF_DTYPE_BOOL);
	add("bv", CF_DTYPE_BOOL, 3);
	add("i8", CF_DTYPE_INT8);
	add("i16", CF_DTYPE_INT16);
	add("i32", CF_DTYPE_INT32);
	add("i64", CF_DTYPE_INT64);
	add("u8", CF_DTYPE_UINT8);
	add("u16", CF_DTYPE_UINT16);
	add("u32", CF_DTYPE_UINT32);
	add("u64", CF_DTYPE_UINT64);
	add("f32", CF_DTYPE_FLOAT32);
	add("f64", CF_DTYPE_FLOAT64);
	add("ts", CF_DTYPE_TIMESTAMP_NS);
	add("vec", CF_DTYPE_INT16, 5);
	add("img", CF_DTYPE_UINT8, 24).dims = {2, 3, 4};
	add("fv", CF_DTYPE_FLOAT32, 2, CF_COLUMN_NULLABLE);
	add("n", CF_DTYPE_INT32, 1, CF_COLUMN_NULLABLE);
	add("s", CF_DTYPE_STRING, 1, CF_COLUMN_NULLABLE);
	add("ls", CF_DTYPE_LARGE_STRING, 2);
	add("sq", CF_DTYPE_FLOAT64, 4).dims = {2, 2};

	const float f32s[] = {0.1f, 1.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
	                      std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
	                      std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
	                      3.14159274f, 1e20f, 16777216.0f, 0.3f};
	const double f64s[] = {0.1, 1.0, -0.0, std::nan(""), HUGE_VAL, -HUGE_VAL,
	                       std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
	                       1.0 / 3.0, 1e300, 9007199254740993.0, 123456.789, 2.5e-8, 100.0};
	for (int64_t r = 0; r < rows; r++) {
		uint64_t h = mix((uint64_t)r);
		for (TCol &c : t.cols) {
			for (uint32_t k = 0; k < c.width; k++) {
				uint64_t x = mix(h + k * 7919 + c.name.size() * 104729);
				int pick = (int)(x % 17);
				switch (c.dtype) {
				case CF_DTYPE_BOOL: c.bits.push_back((uint8_t)(x >> 7 & 1)); break;
				case CF_DTYPE_INT8: put<int8_t>(c, pick == 0 ? INT8_MIN : pick == 1 ? INT8_MAX : (int8_t)x); break;
				case CF_DTYPE_INT16: put<int16_t>(c, pick == 0 ? INT16_MIN : pick == 1 ? INT16_MAX : (int16_t)x); break;
				case CF_DTYPE_INT32: put<int32_t>(c, pick == 0 ? INT32_MIN : pick == 1 ? INT32_MAX : (int32_t)x); break;
				case CF_DTYPE_INT64: put<int64_t>(c, pick == 0 ? INT64_MIN : pick == 1 ? INT64_MAX : (int64_t)x); break;
				case CF_DTYPE_UINT8: put<uint8_t>(c, pick == 0 ? 0 : pick == 1 ? UINT8_MAX : (uint8_t)x); break;
				case CF_DTYPE_UINT16: put<uint16_t>(c, pick == 0 ? 0 : pick == 1 ? UINT16_MAX : (uint16_t)x); break;
				case CF_DTYPE_UINT32: put<uint32_t>(c, pick == 0 ? 3000000000u : pick == 1 ? UINT32_MAX : (uint32_t)x); break;
				case CF_DTYPE_UINT64: put<uint64_t>(c, pick == 0 ? 0 : pick == 1 ? UINT64_MAX : x); break;
				case CF_DTYPE_TIMESTAMP_NS: put<int64_t>(c, pick == 0 ? -1 : 1700000000123456789ll + (int64_t)(x % 1000000000000ll)); break;
				case CF_DTYPE_FLOAT32: {
					float v = pick < 12 ? f32s[pick] : (float)((int64_t)(x >> 11) % 2000000 - 1000000) / 4096.0f * 1.7f;
					put<float>(c, v);
					break;
				}
				case CF_DTYPE_FLOAT64: {
					double v = pick < 14 ? f64s[pick] : (double)(int64_t)(x >> 11) * 1.2345e-9;
					put<double>(c, v);
					break;
				}
				case CF_DTYPE_STRING:
				case CF_DTYPE_LARGE_STRING: c.strs.push_back(kStrings[x % kStrings.size()]); break;
				}
			}
			if (c.flags & CF_COLUMN_NULLABLE)
				c.valid.push_back((uint8_t)(mix(h ^ 0x55) % 3 != 0));
		}
	}
	// rows of batches without a bitmap are present
	for (size_t b = 0; b + 1 < t.cuts.size(); b++)
		if (!t.batch_bitmap[b])
			for (TCol &c : t.cols)
				for (int64_t r = t.cuts[b]; r < t.cuts[b + 1] && !c.valid.empty(); r++)
					c.valid[r] = 1;
	return t;
}

cf_table_schema *make_schema(const TTable &t)
{
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	EXPECT_EQ(cf_table_schema_create(&s, err), CF_OK);
	for (const TCol &c : t.cols) {
		EXPECT_EQ(cf_table_schema_add(s, c.name.c_str(), c.dtype, c.width, "", "", c.flags, err), CF_OK) << err;
		if (!c.dims.empty()) {
			EXPECT_EQ(cf_table_schema_set_shape(s, cf_table_schema_columns(s) - 1, (uint32_t)c.dims.size(),
			                                    c.dims.data(), err),
			          CF_OK)
			        << err;
		}
	}
	return s;
}

// The arrays of rows [r0, r1): bitmaps packed from bit 0, string offsets
// into the whole table's bytes (so they do not start at 0), numbers
// pointing into the table.
struct BatchHolder {
	cf_table_batch batch = {};
	std::vector<std::vector<uint8_t>> bitmaps;
	std::vector<std::vector<int32_t>> off32;
	std::vector<std::vector<int64_t>> off64;
	std::vector<std::string> data;

	BatchHolder(const TTable &t, const cf_table_schema *s, int64_t r0, int64_t r1, bool with_bitmaps)
	{
		cf_table_batch_init(&batch, s, r1 - r0);
		bitmaps.resize(t.cols.size() * 2);
		off32.resize(t.cols.size());
		off64.resize(t.cols.size());
		data.resize(t.cols.size());
		for (size_t i = 0; i < t.cols.size(); i++) {
			const TCol &c = t.cols[i];
			int64_t e0 = r0 * c.width, e1 = r1 * c.width;
			const void *values = nullptr;
			const uint8_t *bytes = nullptr, *validity = nullptr;
			if (c.dtype == CF_DTYPE_BOOL) {
				auto &bm = bitmaps[2 * i];
				bm.assign(cf_bitmap_bytes(e1 - e0) + 1, 0xa5); // stray bits past the end
				for (int64_t e = e0; e < e1; e++)
					cf_bitmap_set(bm.data(), e - e0, c.bits[e]);
				values = bm.data();
			} else if (c.dtype == CF_DTYPE_STRING || c.dtype == CF_DTYPE_LARGE_STRING) {
				std::string &d = data[i];
				d = "prefix"; // offsets start past 0
				std::vector<int64_t> o;
				for (int64_t e = e0; e < e1; e++) {
					o.push_back((int64_t)d.size());
					d += c.strs[e];
				}
				o.push_back((int64_t)d.size());
				if (c.dtype == CF_DTYPE_STRING) {
					off32[i].assign(o.begin(), o.end());
					values = off32[i].data();
				} else {
					off64[i] = o;
					values = off64[i].data();
				}
				bytes = (const uint8_t *)d.data();
			} else {
				values = c.raw.data() + e0 * cf_dtype_size(c.dtype);
			}
			if (!c.valid.empty() && with_bitmaps) {
				auto &vm = bitmaps[2 * i + 1];
				vm.assign(cf_bitmap_bytes(r1 - r0) + 1, 0);
				for (int64_t r = r0; r < r1; r++)
					cf_bitmap_set(vm.data(), r - r0, c.valid[r]);
				validity = vm.data();
			}
			cf_table_batch_set(&batch, (uint32_t)i, values, bytes, validity);
		}
	}
	~BatchHolder() { cf_table_batch_free(&batch); }
};

// Writes t through format `name` into path; CF_OK expected all the way.
cf_sink_stats write_table(const char *name, const TTable &t, const std::string &path, uint64_t shard_rows = 0)
{
	cf_table_schema *s = make_schema(t);
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.shard_rows = shard_rows;
	char err[CF_ERRBUF_SIZE] = "";
	cf_sink *k = nullptr;
	cf_sink_stats st = {};
	EXPECT_EQ(cf_sink_open(name, s, path.c_str(), &o, &k, err), CF_OK) << err;
	if (!k) {
		cf_table_schema_free(s);
		return st;
	}
	for (size_t b = 0; b + 1 < t.cuts.size(); b++) {
		BatchHolder h(t, s, t.cuts[b], t.cuts[b + 1], t.batch_bitmap[b]);
		EXPECT_EQ(cf_sink_write(k, &h.batch), CF_OK) << cf_sink_error(k);
	}
	EXPECT_EQ(cf_sink_close(k, &st, err), CF_OK) << err;
	cf_table_schema_free(s);
	return st;
}

std::string tmp(const std::string &suffix)
{
	return cft::temp_path(suffix);
}

std::string tmp_name(const std::string &path)
{
	return path + ".tmp-" + std::to_string(getpid());
}

bool is_dir(const std::string &p)
{
	struct stat st;
	return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string &dir)
{
	std::vector<std::string> out;
	DIR *d = opendir(dir.c_str());
	if (!d)
		return out;
	while (struct dirent *e = readdir(d))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			out.push_back(e->d_name);
	closedir(d);
	std::sort(out.begin(), out.end());
	return out;
}

uint64_t dir_size(const std::string &dir)
{
	uint64_t n = 0;
	for (auto &f : list_dir(dir))
		n += cft::read_file(dir + "/" + f).size();
	return n;
}

// Nothing named like path (the output, its temporary, a moved-aside old one).
void expect_no_output(const std::string &path)
{
	EXPECT_FALSE(cft::exists(path)) << path;
	std::string dir = path.substr(0, path.rfind('/')), base = path.substr(path.rfind('/') + 1);
	for (auto &f : list_dir(dir))
		EXPECT_NE(f.rfind(base, 0), 0u) << "left behind: " << f;
}

// ------------------------------------------------------------ expected tokens

std::string hexs(const std::string &s)
{
	static const char *d = "0123456789abcdef";
	std::string out;
	for (unsigned char ch : s) {
		out += d[ch >> 4];
		out += d[ch & 15];
	}
	return out;
}

// Token of element e of c as numpy's reading prints it (or json's, json = true).
std::string token(const TCol &c, int64_t e, bool json)
{
	char t[64];
	switch (c.dtype) {
	case CF_DTYPE_BOOL: return json ? (c.bits[e] ? "T" : "F") : (c.bits[e] ? "1" : "0");
	case CF_DTYPE_INT8: snprintf(t, sizeof t, "%d", get<int8_t>(c, e)); break;
	case CF_DTYPE_INT16: snprintf(t, sizeof t, "%d", get<int16_t>(c, e)); break;
	case CF_DTYPE_INT32: snprintf(t, sizeof t, "%d", get<int32_t>(c, e)); break;
	case CF_DTYPE_INT64:
	case CF_DTYPE_TIMESTAMP_NS: snprintf(t, sizeof t, "%lld", (long long)get<int64_t>(c, e)); break;
	case CF_DTYPE_UINT8: snprintf(t, sizeof t, "%u", get<uint8_t>(c, e)); break;
	case CF_DTYPE_UINT16: snprintf(t, sizeof t, "%u", get<uint16_t>(c, e)); break;
	case CF_DTYPE_UINT32: snprintf(t, sizeof t, "%u", get<uint32_t>(c, e)); break;
	case CF_DTYPE_UINT64: snprintf(t, sizeof t, "%llu", (unsigned long long)get<uint64_t>(c, e)); break;
	case CF_DTYPE_FLOAT32: {
		float v = get<float>(c, e);
		if (json && !std::isfinite(v))
			return "N";
		uint32_t u;
		memcpy(&u, &v, 4);
		snprintf(t, sizeof t, "f%08x", u);
		return t;
	}
	case CF_DTYPE_FLOAT64: {
		double v = get<double>(c, e);
		if (json && !std::isfinite(v))
			return "N";
		uint64_t u;
		memcpy(&u, &v, 8);
		snprintf(t, sizeof t, "d%016llx", (unsigned long long)u);
		return t;
	}
	default: return "s" + hexs(c.strs[e]);
	}
	return json ? std::string("i") + t : std::string(t);
}

// ------------------------------------------------------------ the oracle

std::string oracle_python()
{
	std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "numpy");
	return py;
}

#define NEED_ORACLE()                                                                                \
	std::string py_ = oracle_python();                                                           \
	if (py_.empty())                                                                             \
		GTEST_SKIP() << "numpy is not importable (bash .ci/deps.sh makes build/arrow-venv)";

// The oracle's records: by kind, the tab-separated fields after the kind.
std::vector<std::vector<std::string>> run_oracle(const std::string &py, const std::string &args)
{
	std::string cmd = cft::shq(py) + " " +
	                  cft::shq(cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/read_npy_jsonl.py") + " " + args;
	std::string out;
	int rc = cft::run(cmd, &out);
	EXPECT_EQ(rc, 0) << cmd << "\n" << out.substr(0, 4000);
	std::vector<std::vector<std::string>> recs;
	for (const std::string &line : cft::split(out, '\n')) {
		if (line.empty())
			continue;
		EXPECT_NE(line.rfind("BAD", 0), 0u) << line;
		recs.push_back(cft::split(line, '\t'));
	}
	return recs;
}

std::string join_tokens(const std::vector<std::string> &v)
{
	std::string s;
	for (size_t i = 0; i < v.size(); i++)
		s += (i ? " " : "") + v[i];
	return s;
}

const char *npy_descr(int dtype)
{
	switch (dtype) {
	case CF_DTYPE_BOOL: return "|b1";
	case CF_DTYPE_INT8: return "|i1";
	case CF_DTYPE_INT16: return "<i2";
	case CF_DTYPE_INT32: return "<i4";
	case CF_DTYPE_INT64: return "<i8";
	case CF_DTYPE_UINT8: return "|u1";
	case CF_DTYPE_UINT16: return "<u2";
	case CF_DTYPE_UINT32: return "<u4";
	case CF_DTYPE_UINT64: return "<u8";
	case CF_DTYPE_FLOAT32: return "<f4";
	case CF_DTYPE_FLOAT64: return "<f8";
	case CF_DTYPE_TIMESTAMP_NS: return "<i8";
	}
	return "?";
}

// The files the npy sink should have written for t, with (kind, descr,
// shape, tokens) each, in the oracle's record form.
struct Want {
	std::string kind, descr, shape, tokens;
};

std::map<std::string, Want> expected_dir(const TTable &t, uint64_t shard)
{
	std::map<std::string, Want> w;
	int64_t per = shard ? (int64_t)shard : std::max<int64_t>(t.rows, 1);
	int64_t files = shard ? std::max<int64_t>((t.rows + per - 1) / per, 1) : 1;
	for (const TCol &c : t.cols) {
		bool str = c.dtype == CF_DTYPE_STRING || c.dtype == CF_DTYPE_LARGE_STRING;
		for (int64_t f = 0; f < files; f++) {
			int64_t r0 = f * per, r1 = std::min(t.rows, r0 + per);
			if (!shard)
				r0 = 0, r1 = t.rows;
			char num[32] = "";
			if (shard)
				snprintf(num, sizeof num, "-%05lld", (long long)f);
			std::vector<std::string> tok, vtok;
			for (int64_t e = r0 * c.width; e < r1 * c.width; e++)
				tok.push_back(token(c, e, false));
			for (int64_t r = r0; r < r1 && !c.valid.empty(); r++)
				vtok.push_back(c.valid[r] ? "1" : "0");
			std::string shape = std::to_string(r1 - r0);
			if (!c.dims.empty())
				for (uint32_t d : c.dims)
					shape += "," + std::to_string(d);
			else if (c.width > 1)
				shape += "," + std::to_string(c.width);
			if (str)
				w[c.name + num + ".txt"] = {"txt", "", std::to_string((r1 - r0) * c.width), join_tokens(tok)};
			else
				w[c.name + num + ".npy"] = {"npy", npy_descr(c.dtype), shape, join_tokens(tok)};
			if (c.flags & CF_COLUMN_NULLABLE)
				w[c.name + ".valid" + num + ".npy"] = {"npy", "|b1", std::to_string(r1 - r0), join_tokens(vtok)};
		}
	}
	return w;
}

void check_dir(const std::string &py, const TTable &t, const std::string &dir, uint64_t shard)
{
	auto recs = run_oracle(py, "npy " + cft::shq(dir));
	std::map<std::string, Want> want = expected_dir(t, shard), got;
	std::vector<std::vector<std::string>> schema;
	std::string newline;
	for (auto &r : recs) {
		if ((r[0] == "npy" || r[0] == "txt") && r.size() >= 3) {
			got[r[1]].kind = r[0];
			if (r[0] == "npy") {
				got[r[1]].descr = r[2];
				got[r[1]].shape = r.size() > 3 ? r[3] : "";
			} else {
				got[r[1]].shape = r[2];
			}
		} else if (r[0] == "v" && r.size() >= 2) {
			got[r[1]].tokens = r.size() > 2 ? r[2] : "";
		} else if (r[0] == "schema") {
			schema.push_back(r);
		} else if (r[0] == "schema_newline") {
			newline = r[1];
		} else {
			ADD_FAILURE() << "unexpected record: " << r[0] << " " << (r.size() > 1 ? r[1] : "");
		}
	}
	EXPECT_EQ(got.size(), want.size());
	for (auto &kv : want) {
		auto it = got.find(kv.first);
		ASSERT_NE(it, got.end()) << "missing " << kv.first;
		EXPECT_EQ(it->second.kind, kv.second.kind) << kv.first;
		EXPECT_EQ(it->second.descr, kv.second.descr) << kv.first;
		EXPECT_EQ(it->second.shape, kv.second.shape) << kv.first;
		EXPECT_EQ(it->second.tokens, kv.second.tokens) << kv.first;
	}
	EXPECT_EQ(newline, "1");
	ASSERT_EQ(schema.size(), t.cols.size());
	for (size_t i = 0; i < t.cols.size(); i++) {
		const TCol &c = t.cols[i];
		EXPECT_EQ(schema[i][1], c.name);
		EXPECT_EQ(schema[i][2], cf_dtype_name(c.dtype));
		EXPECT_EQ(schema[i][3], std::to_string(c.width));
		EXPECT_EQ(schema[i][4], (c.flags & CF_COLUMN_NULLABLE) ? "1" : "0");
		std::string shape;
		for (size_t k = 0; k < c.dims.size(); k++)
			shape += (k ? "," : "") + std::to_string(c.dims[k]);
		EXPECT_EQ(schema[i].size() > 5 ? schema[i][5] : "", shape) << c.name;
	}
}

const std::vector<int64_t> kCuts = {0, 7, 7, 16, 23};       // a zero-row batch among them
const std::vector<bool> kBitmaps = {true, true, false, true}; // the third batch gives none

// ------------------------------------------------------------ npy directory

TEST(SinkNpy, EveryDtypeReadBackByNumpy)
{
	NEED_ORACLE();
	TTable t = full_table(23, kCuts, kBitmaps);
	std::string dir = tmp(".npydir");
	cf_sink_stats st = write_table("npy", t, dir);
	EXPECT_EQ(st.rows, 23u);
	EXPECT_TRUE(is_dir(dir));
	EXPECT_EQ(st.bytes, dir_size(dir));
	EXPECT_FALSE(cft::exists(tmp_name(dir)));
	check_dir(py_, t, dir, 0);
}

TEST(SinkNpy, ShardsOfRRowsWithARemainder)
{
	NEED_ORACLE();
	TTable t = full_table(23, kCuts, kBitmaps);
	std::string dir = tmp(".npydir");
	cf_sink_stats st = write_table("npy", t, dir, 5); // 5 + 5 + 5 + 5 + 3, crossing batch ends
	EXPECT_EQ(st.rows, 23u);
	EXPECT_EQ(st.bytes, dir_size(dir));
	EXPECT_TRUE(cft::exists(dir + "/i32-00004.npy"));
	EXPECT_FALSE(cft::exists(dir + "/i32-00005.npy"));
	EXPECT_TRUE(cft::exists(dir + "/s-00004.txt"));
	EXPECT_TRUE(cft::exists(dir + "/n.valid-00004.npy"));
	check_dir(py_, t, dir, 5);
	// a shard size dividing the rows leaves no empty trailing shard
	TTable t2 = full_table(20, {0, 10, 20}, {true, true});
	std::string dir2 = tmp(".npydir");
	write_table("npy", t2, dir2, 10);
	EXPECT_FALSE(cft::exists(dir2 + "/i32-00002.npy"));
	check_dir(py_, t2, dir2, 10);
}

TEST(SinkNpy, ZeroRows)
{
	NEED_ORACLE();
	TTable t = full_table(0, {0}, {});
	for (uint64_t shard : {0u, 4u}) {
		std::string dir = tmp(".npydir");
		cf_sink_stats st = write_table("npy", t, dir, shard);
		EXPECT_EQ(st.rows, 0u);
		check_dir(py_, t, dir, shard); // one empty file per column
	}
}

TEST(SinkNpy, ExactBytesOfTextAndBoolFiles)
{
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_schema_create(&s, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "s", CF_DTYPE_STRING, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "ok", CF_DTYPE_BOOL, 1, "", "", 0, err), CF_OK);
	std::string dir = tmp(".npydir");
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open("npy", s, dir.c_str(), nullptr, &k, err), CF_OK) << err;
	const char bytes[] = "a\nbc\\d\r\xc3\xa9,\"";
	int32_t off[] = {0, 3, 6, 7, 11}; // "a\nb", "c\\d", "\r", "é,\""
	uint8_t bits[] = {0x05};           // 1, 0, 1, 0
	cf_table_batch b;
	cf_table_batch_init(&b, s, 4);
	cf_table_batch_set(&b, 0, off, (const uint8_t *)bytes, nullptr);
	cf_table_batch_set(&b, 1, bits, nullptr, nullptr);
	ASSERT_EQ(cf_sink_write(k, &b), CF_OK);
	cf_table_batch_free(&b);
	// before close only the temporary directory exists
	EXPECT_FALSE(cft::exists(dir));
	EXPECT_TRUE(is_dir(tmp_name(dir)));
	ASSERT_EQ(cf_sink_close(k, nullptr, err), CF_OK) << err;
	EXPECT_FALSE(cft::exists(tmp_name(dir)));
	EXPECT_EQ(cft::slurp(dir + "/s.txt"), "a\\nb\nc\\\\d\n\\r\n\xc3\xa9,\"\n");
	std::vector<uint8_t> npy = cft::read_file(dir + "/ok.npy");
	ASSERT_GE(npy.size(), 14u);
	size_t hdr = 10 + (npy[8] | npy[9] << 8u); // NPY 1.0: a 16-bit header length
	ASSERT_EQ(npy.size(), hdr + 4);
	EXPECT_EQ(hdr % 64, 0u);
	std::string head(npy.begin(), npy.begin() + hdr);
	EXPECT_EQ(head.find("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }"), 10u) << head;
	EXPECT_EQ(std::vector<uint8_t>(npy.end() - 4, npy.end()), (std::vector<uint8_t>{1, 0, 1, 0}));
	size_t n;
	cf_table_schema_json(s, nullptr, 0, &n);
	std::string js(n + 1, '\0');
	cf_table_schema_json(s, &js[0], n + 1, nullptr);
	js[n] = '\n';
	EXPECT_EQ(cft::slurp(dir + "/schema.json"), js);
	EXPECT_EQ(list_dir(dir), (std::vector<std::string>{"ok.npy", "s.txt", "schema.json"}));
	cf_table_schema_free(s);
}

TEST(SinkNpy, AbortLeavesNothing)
{
	TTable t = full_table(30, {0, 30}, {true});
	cf_table_schema *s = make_schema(t);
	for (uint64_t shard : {0u, 7u}) {
		std::string dir = tmp(".npydir");
		cf_sink_opts o;
		cf_sink_opts_default(&o);
		o.shard_rows = shard;
		char err[CF_ERRBUF_SIZE];
		cf_sink *k = nullptr;
		ASSERT_EQ(cf_sink_open("npy", s, dir.c_str(), &o, &k, err), CF_OK) << err;
		BatchHolder h(t, s, 0, 30, true);
		ASSERT_EQ(cf_sink_write(k, &h.batch), CF_OK) << cf_sink_error(k);
		EXPECT_TRUE(is_dir(tmp_name(dir)));
		cf_sink_abort(k);
		expect_no_output(dir);
	}
	cf_table_schema_free(s);
}

TEST(SinkNpy, FailedOpenNamesThePath)
{
	TTable t = full_table(1, {0, 1}, {true});
	cf_table_schema *s = make_schema(t);
	// a parent that is a regular file fails even for root
	std::string file = tmp(".file");
	cft::write_file(file, {'x'});
	std::string dir = file + "/out";
	char err[CF_ERRBUF_SIZE] = "";
	cf_sink *k = nullptr;
	EXPECT_EQ(cf_sink_open("npy", s, dir.c_str(), nullptr, &k, err), CF_ERR_IO);
	EXPECT_EQ(k, nullptr);
	EXPECT_NE(std::string(err).find(dir), std::string::npos) << err;
	EXPECT_EQ(cft::slurp(file), "x");
	// a directory without write permission (not for root, who may write anyway)
	if (geteuid() != 0) {
		std::string ro = tmp(".ro");
		ASSERT_EQ(mkdir(ro.c_str(), 0555), 0);
		std::string d2 = ro + "/out";
		EXPECT_EQ(cf_sink_open("npy", s, d2.c_str(), nullptr, &k, err), CF_ERR_IO);
		EXPECT_NE(std::string(err).find(d2), std::string::npos) << err;
		rmdir(ro.c_str());
	}
	cf_table_schema_free(s);
}

TEST(SinkNpy, SecondRunReplacesTheDirectory)
{
	std::string dir = tmp(".npydir");
	TTable t1 = full_table(10, {0, 10}, {true});
	write_table("npy", t1, dir);
	ASSERT_TRUE(cft::exists(dir + "/i32.npy"));
	// the second table lacks i32 and has fewer rows: nothing of the first stays
	TTable t2 = full_table(3, {0, 3}, {true});
	t2.cols.erase(t2.cols.begin() + 4);
	ASSERT_EQ(t2.cols[3].name, "i16");
	cf_sink_stats st = write_table("npy", t2, dir, 2);
	EXPECT_EQ(st.rows, 3u);
	EXPECT_FALSE(cft::exists(dir + "/i32.npy"));
	EXPECT_FALSE(cft::exists(dir + "/i16.npy"));
	EXPECT_TRUE(cft::exists(dir + "/i16-00001.npy"));
	EXPECT_FALSE(cft::exists(dir + ".old-" + std::to_string(getpid())));
	EXPECT_FALSE(cft::exists(tmp_name(dir)));
	EXPECT_EQ(st.bytes, dir_size(dir));
	std::string py = oracle_python();
	if (!py.empty())
		check_dir(py, t2, dir, 2);
}

TEST(SinkNpy, RefusesToReplaceWhatIsNotAnEarlierOutput)
{
	TTable t = full_table(2, {0, 2}, {true});
	cf_table_schema *s = make_schema(t);
	char err[CF_ERRBUF_SIZE];
	// a directory of someone's files, a regular file
	std::string dir = tmp(".npydir");
	ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
	cft::write_file(dir + "/keep.txt", {'k'});
	std::string file = tmp(".npydir");
	cft::write_file(file, {'f'});
	for (const std::string &p : {dir, file}) {
		cf_sink *k = nullptr;
		ASSERT_EQ(cf_sink_open("npy", s, p.c_str(), nullptr, &k, err), CF_OK) << err;
		BatchHolder h(t, s, 0, 2, true);
		ASSERT_EQ(cf_sink_write(k, &h.batch), CF_OK);
		EXPECT_EQ(cf_sink_close(k, nullptr, err), CF_ERR_IO);
		EXPECT_NE(std::string(err).find(p), std::string::npos) << err;
		EXPECT_FALSE(cft::exists(tmp_name(p)));
	}
	EXPECT_EQ(cft::slurp(dir + "/keep.txt"), "k");
	EXPECT_EQ(list_dir(dir), std::vector<std::string>{"keep.txt"});
	EXPECT_EQ(cft::slurp(file), "f");
	cf_table_schema_free(s);
}

TEST(SinkNpy, FourDimensionsAreRefused)
{
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_schema_create(&s, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "t4", CF_DTYPE_UINT8, 16, "", "", 0, err), CF_OK);
	uint32_t dims[] = {2, 2, 2, 2};
	ASSERT_EQ(cf_table_schema_set_shape(s, 0, 4, dims, err), CF_OK) << err;
	std::string dir = tmp(".npydir");
	cf_sink *k = nullptr;
	EXPECT_EQ(cf_sink_open("npy", s, dir.c_str(), nullptr, &k, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("t4"), std::string::npos) << err;
	expect_no_output(dir);
	cf_table_schema_free(s);
}

TEST(SinkNpyJsonl, WriteFailureMidOutputLeavesNothing)
{
	// A file size limit makes write() fail with EFBIG, as a full disk would
	// with ENOSPC; the limit is lifted again before anything else runs.
	TTable t = full_table(20000, {0, 5000, 10000, 15000, 20000}, {true, true, true, true});
	cf_table_schema *s = make_schema(t);
	for (const char *format : {"npy", "jsonl"}) {
		std::string path = tmp(std::string(".") + format);
		char err[CF_ERRBUF_SIZE] = "";
		cf_sink *k = nullptr;
		ASSERT_EQ(cf_sink_open(format, s, path.c_str(), nullptr, &k, err), CF_OK) << err;
		struct rlimit old, lim;
		getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = 64 << 10;
		void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
		ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
		int rc = CF_OK;
		for (size_t b = 0; b + 1 < t.cuts.size() && rc == CF_OK; b++) {
			BatchHolder h(t, s, t.cuts[b], t.cuts[b + 1], true);
			rc = cf_sink_write(k, &h.batch);
		}
		std::string werr = cf_sink_error(k);
		int crc = cf_sink_close(k, nullptr, err);
		setrlimit(RLIMIT_FSIZE, &old);
		signal(SIGXFSZ, prev);
		EXPECT_EQ(crc, CF_ERR_IO) << format;
		if (rc != CF_OK) {
			EXPECT_EQ(rc, CF_ERR_IO);
			EXPECT_NE(werr.find(path), std::string::npos) << werr;
		}
		EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
		expect_no_output(path);
	}
	cf_table_schema_free(s);
}

// ------------------------------------------------------------ JSON lines

TEST(SinkJsonl, EveryDtypeReadBackByJson)
{
	NEED_ORACLE();
	TTable t = full_table(23, kCuts, kBitmaps);
	std::string path = tmp(".jsonl");
	cf_sink_stats st = write_table("jsonl", t, path);
	EXPECT_EQ(st.rows, 23u);
	EXPECT_EQ(st.bytes, cft::read_file(path).size());
	EXPECT_FALSE(cft::exists(tmp_name(path)));
	std::string f32;
	for (const TCol &c : t.cols)
		if (c.dtype == CF_DTYPE_FLOAT32)
			f32 += (f32.empty() ? "" : ",") + c.name;
	auto recs = run_oracle(py_, "jsonl " + cft::shq(path) + " --f32 " + f32);
	std::string keys;
	for (size_t i = 0; i < t.cols.size(); i++)
		keys += (i ? "," : "") + t.cols[i].name;
	std::map<std::pair<int64_t, std::string>, std::string> got;
	int64_t nkeys = 0;
	std::string lines;
	for (auto &r : recs) {
		if (r[0] == "keys") {
			EXPECT_EQ(r[2], keys) << "row " << r[1];
			nkeys++;
		} else if (r[0] == "r" && r.size() == 4) {
			got[{std::stoll(r[1]), r[2]}] = r[3];
		} else if (r[0] == "lines") {
			lines = r[1];
		}
	}
	EXPECT_EQ(lines, "23");
	EXPECT_EQ(nkeys, 23);
	for (int64_t r = 0; r < t.rows; r++)
		for (const TCol &c : t.cols) {
			std::vector<std::string> want;
			bool vec = c.width > 1 || !c.dims.empty();
			if (!c.valid.empty() && !c.valid[r]) {
				want.push_back("N");
			} else {
				if (vec)
					want.push_back("[");
				for (uint32_t k = 0; k < c.width; k++)
					want.push_back(token(c, r * c.width + k, true));
				if (vec)
					want.push_back("]");
			}
			EXPECT_EQ(got[std::make_pair(r, c.name)], join_tokens(want)) << "row " << r << " " << c.name;
		}
}

TEST(SinkJsonl, ExactText)
{
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_schema_create(&s, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "i", CF_DTYPE_INT64, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "u", CF_DTYPE_UINT64, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "f", CF_DTYPE_FLOAT32, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "d", CF_DTYPE_FLOAT64, 3, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "ok", CF_DTYPE_BOOL, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "t", CF_DTYPE_TIMESTAMP_NS, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "s", CF_DTYPE_STRING, 1, "", "", CF_COLUMN_NULLABLE, err), CF_OK);
	int64_t i[] = {-5, INT64_MIN};
	uint64_t u[] = {UINT64_MAX, 0};
	float f[] = {0.1f, std::nanf("")};
	double d[] = {1.0, -0.0, 100.0, 1e21, 2.5e-8, 1e16};
	uint8_t ok[] = {0x01};
	int64_t ts[] = {1700000000123456789ll, -1};
	const char bytes[] = "a\"b\\c\n\x01\xc3\xa9";
	int32_t off[] = {0, 9, 9};
	uint8_t valid[] = {0x01}; // row 1 null
	cf_table_batch b;
	cf_table_batch_init(&b, s, 2);
	const void *vals[] = {i, u, f, d, ok, ts, off};
	for (uint32_t c = 0; c < 7; c++)
		cf_table_batch_set(&b, c, vals[c], c == 6 ? (const uint8_t *)bytes : nullptr, c == 6 ? valid : nullptr);
	std::string path = tmp(".jsonl");
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open("jsonl", s, path.c_str(), nullptr, &k, err), CF_OK) << err;
	ASSERT_EQ(cf_sink_write(k, &b), CF_OK) << cf_sink_error(k);
	EXPECT_FALSE(cft::exists(path));
	cf_sink_stats st;
	ASSERT_EQ(cf_sink_close(k, &st, err), CF_OK) << err;
	cf_table_batch_free(&b);
	EXPECT_EQ(cft::slurp(path),
	          "{\"i\":-5,\"u\":18446744073709551615,\"f\":0.1,\"d\":[1.0,-0.0,100.0],\"ok\":true,"
	          "\"t\":1700000000123456789,\"s\":\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"}\n"
	          "{\"i\":-9223372036854775808,\"u\":0,\"f\":null,\"d\":[1e+21,2.5e-08,10000000000000000.0],\"ok\":false,"
	          "\"t\":-1,\"s\":null}\n");
	EXPECT_EQ(st.rows, 2u);
	EXPECT_EQ(st.bytes, cft::read_file(path).size());
	cf_table_schema_free(s);
}

TEST(SinkJsonl, AbortAndFailedOpen)
{
	TTable t = full_table(5, {0, 5}, {true});
	cf_table_schema *s = make_schema(t);
	char err[CF_ERRBUF_SIZE] = "";
	std::string path = tmp(".jsonl");
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open("jsonl", s, path.c_str(), nullptr, &k, err), CF_OK) << err;
	BatchHolder h(t, s, 0, 5, true);
	ASSERT_EQ(cf_sink_write(k, &h.batch), CF_OK);
	cf_sink_abort(k);
	expect_no_output(path);
	std::string file = tmp(".file");
	cft::write_file(file, {'x'});
	std::string bad = file + "/out.jsonl";
	k = nullptr;
	EXPECT_EQ(cf_sink_open("jsonl", s, bad.c_str(), nullptr, &k, err), CF_ERR_IO);
	EXPECT_EQ(k, nullptr);
	EXPECT_NE(std::string(err).find(bad), std::string::npos) << err;
	cf_table_schema_free(s);
}

TEST(SinkNpyJsonl, Registered)
{
	const cf_sink_ops *n = cf_sink_find("npy"), *j = cf_sink_find("jsonl");
	ASSERT_NE(n, nullptr);
	ASSERT_NE(j, nullptr);
	EXPECT_STREQ(n->extension, "");
	EXPECT_STREQ(j->extension, ".jsonl");
}

} // namespace

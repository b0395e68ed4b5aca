// The Parquet sink: its Thrift compact encoder and RLE/bit-packed hybrid
// against bytes worked out by hand from the specifications, then whole
// files read back by pyarrow and DuckDB (tests/oracles/read_parquet.py,
// from build/arrow-venv; those tests skip without it) and compared value
// for value, bit for bit, with what was written, with statistics computed
// here independently, plus bounded memory and failure behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <signal.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/table.h"
#include "test_util.h"

extern "C" {
#include "sink/byte_buf.h"
#include "sink/parquet_encode.h"
#include "sink/thrift_compact.h"
}

namespace {

std::vector<uint8_t> bytes(const cf_buf &b)
{
	return std::vector<uint8_t>(b.p, b.p + b.len);
}

std::string hex(const std::vector<uint8_t> &v)
{
	std::string s;
	char t[4];
	for (uint8_t x : v) {
		snprintf(t, sizeof t, "%02x ", x);
		s += t;
	}
	return s;
}

#define EXPECT_BYTES(buf, ...)                                                   \
	do {                                                                     \
		std::vector<uint8_t> want_ = {__VA_ARGS__};                      \
		EXPECT_EQ(hex(bytes(buf)), hex(want_));                          \
	} while (0)

// ------------------------------------------------------------ Thrift compact

TEST(ParquetThrift, VarintsAndZigzag)
{
	cf_buf b = {};
	for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16384ull})
		cf_tc_varint(&b, v);
	// 300 = 0b10_0101100 -> 0xac 0x02; 16384 = 2^14 -> 0x80 0x80 0x01
	EXPECT_BYTES(b, 0x00, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02, 0x80, 0x80, 0x01);
	cf_buf_clear(&b);
	cf_tc_varint(&b, UINT64_MAX); // 64 one bits: nine 0xff and a final 0x01
	EXPECT_BYTES(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	EXPECT_EQ(cf_tc_zigzag(0), 0u);
	EXPECT_EQ(cf_tc_zigzag(-1), 1u);
	EXPECT_EQ(cf_tc_zigzag(1), 2u);
	EXPECT_EQ(cf_tc_zigzag(-2), 3u);
	EXPECT_EQ(cf_tc_zigzag(2147483647), 4294967294u);
	EXPECT_EQ(cf_tc_zigzag(-2147483648LL), 4294967295u);
	EXPECT_EQ(cf_tc_zigzag(INT64_MAX), UINT64_MAX - 1);
	EXPECT_EQ(cf_tc_zigzag(INT64_MIN), UINT64_MAX);
	cf_buf_free(&b);
}

TEST(ParquetThrift, FieldHeadersStructsAndBools)
{
	cf_buf b = {};
	cf_tc t;
	cf_tc_init(&t, &b);
	cf_tc_struct_begin(&t);
	cf_tc_field_i32(&t, 1, 5);        // delta 1, type 5: 0x15, zigzag(5) = 10
	cf_tc_field_bool(&t, 2, 1);       // delta 1, type 1 (true): 0x11, no value byte
	cf_tc_field_i64(&t, 20, -1);      // delta 18 > 15: long form 0x06, zigzag(20) = 40, zigzag(-1) = 1
	cf_tc_field_string(&t, 21, "ab"); // delta 1, binary: 0x18, length 2, bytes
	cf_tc_field_struct(&t, 22);       // 0x1c; the inner struct counts ids from 0
	cf_tc_field_i8(&t, 1, -2);        // 0x13, one raw byte 0xfe
	cf_tc_struct_end(&t);             // STOP
	cf_tc_field_bool(&t, 23, 0);      // delta 1 from 22 (not from the inner 1), false: 0x12
	cf_tc_field_i16(&t, 5, 300);      // id decreases: long form 0x04, zigzag(5) = 10; zigzag(300) = 600 = 0xd8 0x04
	cf_tc_field_double(&t, 6, 1.0);   // delta 1, type 7, little-endian IEEE 754
	cf_tc_struct_end(&t);
	EXPECT_EQ(t.bad, 0);
	EXPECT_EQ(t.depth, 0);
	EXPECT_BYTES(b, 0x15, 0x0a, 0x11, 0x06, 0x28, 0x01, 0x18, 0x02, 'a', 'b', 0x1c, 0x13, 0xfe, 0x00, 0x12,
	             0x04, 0x0a, 0xd8, 0x04, 0x17, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x00);
	cf_buf_free(&b);
}

TEST(ParquetThrift, Lists)
{
	cf_buf b = {};
	cf_tc t;
	cf_tc_init(&t, &b);
	cf_tc_struct_begin(&t);
	cf_tc_field_list(&t, 1, CF_TC_I32, 3); // 0x19; size 3 << 4 | i32 5 = 0x35
	for (int v : {1, -1, 64})
		cf_tc_elem_i32(&t, v); // zigzag: 2, 1, 128 = 0x80 0x01
	cf_tc_field_list(&t, 2, CF_TC_BOOL, 2); // delta 1: 0x19; 2 << 4 | 1 = 0x21; elements 1 (true), 2 (false)
	cf_tc_elem_bool(&t, 1);
	cf_tc_elem_bool(&t, 0);
	cf_tc_field_list(&t, 3, CF_TC_BINARY, 15); // 0x19; 15 elements: long form 0xf8, size varint 15
	for (int i = 0; i < 15; i++)
		cf_tc_elem_string(&t, "");
	cf_tc_field_list(&t, 4, CF_TC_STRUCT, 1); // 0x19; 1 << 4 | 12 = 0x1c
	cf_tc_struct_begin(&t);
	cf_tc_field_i32(&t, 3, 1); // delta 3 inside the element: 0x35 0x02
	cf_tc_struct_end(&t);
	cf_tc_struct_end(&t);
	std::vector<uint8_t> want = {0x19, 0x35, 0x02, 0x01, 0x80, 0x01, 0x19, 0x21, 0x01, 0x02, 0x19, 0xf8, 0x0f};
	want.insert(want.end(), 15, 0x00); // 15 empty strings: length 0 each
	for (uint8_t x : {0x19, 0x1c, 0x35, 0x02, 0x00, 0x00})
		want.push_back(x);
	EXPECT_EQ(hex(bytes(b)), hex(want));
	cf_buf_free(&b);
}

TEST(ParquetThrift, MisuseIsFlaggedNotFatal)
{
	cf_buf b = {};
	cf_tc t;
	cf_tc_init(&t, &b);
	cf_tc_field_i32(&t, 1, 1); // no struct open
	EXPECT_EQ(t.bad, 1);
	cf_buf_free(&b);
}

// ------------------------------------------------------------ RLE / bit-packed hybrid

TEST(ParquetEncode, BitWidth)
{
	EXPECT_EQ(cf_pq_bit_width(0), 0);
	EXPECT_EQ(cf_pq_bit_width(1), 1);
	EXPECT_EQ(cf_pq_bit_width(2), 2);
	EXPECT_EQ(cf_pq_bit_width(3), 2);
	EXPECT_EQ(cf_pq_bit_width(4), 3);
	EXPECT_EQ(cf_pq_bit_width(255), 8);
	EXPECT_EQ(cf_pq_bit_width(256), 9);
	EXPECT_EQ(cf_pq_bit_width(UINT32_MAX), 32);
}

TEST(ParquetEncode, BitPackedExampleFromTheSpec)
{
	// Encodings.md: 0..7 with bit width 3 bit-pack to 10001000 11000110 11111010
	cf_buf b = {};
	uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	cf_pq_rle_hybrid(&b, v, 8, 3);
	EXPECT_BYTES(b, 0x03, 0x88, 0xc6, 0xfa); // header: 1 group << 1 | 1
	cf_buf_free(&b);
}

TEST(ParquetEncode, RleRunsAndPadding)
{
	cf_buf b = {};
	std::vector<uint32_t> v(10, 5);
	cf_pq_rle_hybrid(&b, v.data(), v.size(), 3);
	EXPECT_BYTES(b, 0x14, 0x05); // RLE: 10 << 1, value in one byte
	cf_buf_clear(&b);

	// eight 1s (RLE), then 2, 3 bit-packed in one group padded with zeros:
	// 2 | 3 << 2 = 0x0e, then a zero byte
	v = {1, 1, 1, 1, 1, 1, 1, 1, 2, 3};
	cf_pq_rle_hybrid(&b, v.data(), v.size(), 2);
	EXPECT_BYTES(b, 0x10, 0x01, 0x03, 0x0e, 0x00);
	cf_buf_clear(&b);

	// 1, 2, 3 then sixteen 4s (bw 3): five 4s complete the first group of
	// literals (1,2,3,4,4,4,4,4 -> 0xd1 0x48 0x92 worked out bit by bit),
	// the other eleven are an RLE run (22, 4)
	v = {1, 2, 3};
	v.insert(v.end(), 16, 4);
	cf_pq_rle_hybrid(&b, v.data(), v.size(), 3);
	EXPECT_BYTES(b, 0x03, 0xd1, 0x48, 0x92, 0x16, 0x04);
	cf_buf_clear(&b);

	// a 300-wide RLE value takes two bytes (bw 9), little-endian; a varint count
	v.assign(200, 300);
	cf_pq_rle_hybrid(&b, v.data(), v.size(), 9);
	EXPECT_BYTES(b, 0x90, 0x03, 0x2c, 0x01); // 400 = 0x90 0x03
	cf_buf_clear(&b);

	// definition levels (bytes), bw 1: 1,0,1,1 + padding -> 0b1101 = 0x0d
	uint8_t d[4] = {1, 0, 1, 1};
	cf_pq_rle_hybrid_u8(&b, d, 4, 1);
	EXPECT_BYTES(b, 0x03, 0x0d);
	cf_buf_free(&b);
}

TEST(ParquetEncode, LongLiteralRunsSplitAt63Groups)
{
	cf_buf b = {};
	std::vector<uint32_t> v(1000);
	for (size_t i = 0; i < v.size(); i++)
		v[i] = (uint32_t)(i & 1); // alternating: no runs at all
	cf_pq_rle_hybrid(&b, v.data(), v.size(), 1);
	// 504 values = 63 groups: header 127, 63 bytes of 0b10101010; then 496 = 62 groups: header 125
	ASSERT_EQ(b.len, 1u + 63 + 1 + 62);
	EXPECT_EQ(b.p[0], 0x7f);
	EXPECT_EQ(b.p[1], 0xaa);
	EXPECT_EQ(b.p[64], 0x7d);
	EXPECT_EQ(b.p[65], 0xaa);
	cf_buf_free(&b);
}

TEST(ParquetEncode, PlainBooleans)
{
	cf_buf b = {};
	uint8_t v[9] = {1, 0, 1, 1, 0, 0, 0, 0, 1};
	cf_pq_plain_bools(&b, v, 9);
	EXPECT_BYTES(b, 0x0d, 0x01);
	cf_buf_free(&b);
}

// ------------------------------------------------------------ test tables

// A column as the test knows it: one logical value per element.
struct TCol {
	std::string name;
	int dtype;
	uint32_t width = 1;
	bool nullable = false;
	std::string unit, doc;
	std::vector<int64_t> i;     // bool, signed ints, uint8..32, timestamps
	std::vector<uint64_t> u;    // uint64
	std::vector<float> f32;
	std::vector<double> f64;
	std::vector<std::string> s;
	std::vector<bool> valid;    // per row; empty: all present

	bool present(int64_t r) const { return valid.empty() || valid[(size_t)r]; }
	bool is_string() const { return dtype == CF_DTYPE_STRING || dtype == CF_DTYPE_LARGE_STRING; }
	std::string leaf(uint32_t k) const { return width == 1 ? name : name + "_" + std::to_string(k); }
};

struct TTable {
	int64_t rows = 0;
	std::vector<TCol> cols;
};

std::string tok_f32(float x)
{
	uint32_t b;
	memcpy(&b, &x, 4);
	char t[16];
	snprintf(t, sizeof t, "f%08x", b);
	return t;
}

std::string tok_f64(double x)
{
	uint64_t b;
	memcpy(&b, &x, 8);
	char t[24];
	snprintf(t, sizeof t, "d%016llx", (unsigned long long)b);
	return t;
}

std::string tok_str(const std::string &s)
{
	std::string t = "s";
	char h[3];
	for (unsigned char c : s) {
		snprintf(h, sizeof h, "%02x", c);
		t += h;
	}
	return t;
}

// The oracle's token of element e of c (not null).
std::string token(const TCol &c, size_t e)
{
	switch (c.dtype) {
	case CF_DTYPE_UINT64: return std::to_string(c.u[e]);
	case CF_DTYPE_FLOAT32: return tok_f32(c.f32[e]);
	case CF_DTYPE_FLOAT64: return tok_f64(c.f64[e]);
	case CF_DTYPE_STRING:
	case CF_DTYPE_LARGE_STRING: return tok_str(c.s[e]);
	default: return std::to_string(c.i[e]);
	}
}

// The type names pyarrow and DuckDB give each dtype read from Parquet.
const char *arrow_type(int dtype)
{
	static const char *n[CF_DTYPE_COUNT] = {"bool",   "int8",   "int16",  "int32", "int64",
	                                        "uint8",  "uint16", "uint32", "uint64", "float",
	                                        "double", "string", "string", "timestamp[ns, tz=UTC]"};
	return n[dtype];
}

const char *duckdb_type(int dtype)
{
	static const char *n[CF_DTYPE_COUNT] = {"BOOLEAN",  "TINYINT",   "SMALLINT", "INTEGER", "BIGINT",
	                                        "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT",
	                                        "DOUBLE",   "VARCHAR",   "VARCHAR",  "TIMESTAMPTZ_NS"};
	return n[dtype];
}

cf_table_schema *make_schema(const TTable &t)
{
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	EXPECT_EQ(cf_table_schema_create(&s, err), CF_OK);
	for (const TCol &c : t.cols)
		EXPECT_EQ(cf_table_schema_add(s, c.name.c_str(), c.dtype, c.width, c.unit.c_str(), c.doc.c_str(),
		                              c.nullable ? CF_COLUMN_NULLABLE : 0, err),
		          CF_OK)
		    << err;
	return s;
}

// Arrow buffers of rows [a, b) of a table, owned here; batch points at them.
struct BatchHolder {
	std::vector<std::vector<uint8_t>> bufs;
	cf_table_batch batch = {};

	uint8_t *add(size_t n)
	{
		bufs.emplace_back(n + 8, 0xa5); // slack + a pattern: nothing past n may be read as data
		return bufs.back().data();
	}

	BatchHolder(const TTable &t, const cf_table_schema *s, int64_t a, int64_t b)
	{
		bufs.reserve(t.cols.size() * 3);
		EXPECT_EQ(cf_table_batch_init(&batch, s, b - a), CF_OK);
		for (size_t ci = 0; ci < t.cols.size(); ci++) {
			const TCol &c = t.cols[ci];
			size_t e0 = (size_t)a * c.width, n = (size_t)(b - a) * c.width;
			const void *values = nullptr;
			const uint8_t *data = nullptr, *validity = nullptr;
			if (c.dtype == CF_DTYPE_BOOL) {
				uint8_t *p = add(cf_bitmap_bytes((int64_t)n));
				for (size_t k = 0; k < n; k++)
					cf_bitmap_set(p, (int64_t)k, (int)c.i[e0 + k]);
				values = p;
			} else if (c.is_string()) {
				// offsets start past 3 junk bytes: Arrow allows offsets[0] != 0
				std::string d = "xyz";
				std::vector<int64_t> off = {3};
				for (size_t k = 0; k < n; k++) {
					d += c.s[e0 + k];
					off.push_back((int64_t)d.size());
				}
				uint8_t *dp = add(d.size());
				memcpy(dp, d.data(), d.size());
				data = dp;
				if (c.dtype == CF_DTYPE_STRING) {
					int32_t *o = (int32_t *)add((n + 1) * 4);
					for (size_t k = 0; k <= n; k++)
						o[k] = (int32_t)off[k];
					values = o;
				} else {
					int64_t *o = (int64_t *)add((n + 1) * 8);
					memcpy(o, off.data(), (n + 1) * 8);
					values = o;
				}
			} else {
				size_t es = cf_dtype_size(c.dtype);
				uint8_t *p = add(n * es);
				for (size_t k = 0; k < n; k++) {
					size_t e = e0 + k;
					switch (c.dtype) {
					case CF_DTYPE_INT8: ((int8_t *)p)[k] = (int8_t)c.i[e]; break;
					case CF_DTYPE_INT16: ((int16_t *)p)[k] = (int16_t)c.i[e]; break;
					case CF_DTYPE_INT32: ((int32_t *)p)[k] = (int32_t)c.i[e]; break;
					case CF_DTYPE_INT64:
					case CF_DTYPE_TIMESTAMP_NS: ((int64_t *)p)[k] = c.i[e]; break;
					case CF_DTYPE_UINT8: ((uint8_t *)p)[k] = (uint8_t)c.i[e]; break;
					case CF_DTYPE_UINT16: ((uint16_t *)p)[k] = (uint16_t)c.i[e]; break;
					case CF_DTYPE_UINT32: ((uint32_t *)p)[k] = (uint32_t)c.i[e]; break;
					case CF_DTYPE_UINT64: ((uint64_t *)p)[k] = c.u[e]; break;
					case CF_DTYPE_FLOAT32: ((float *)p)[k] = c.f32[e]; break;
					case CF_DTYPE_FLOAT64: ((double *)p)[k] = c.f64[e]; break;
					}
				}
				values = p;
			}
			if (!c.valid.empty()) {
				uint8_t *p = add(cf_bitmap_bytes(b - a));
				for (int64_t r = a; r < b; r++)
					cf_bitmap_set(p, r - a, c.valid[(size_t)r]);
				validity = p;
			}
			cf_table_batch_set(&batch, (uint32_t)ci, values, data, validity);
		}
	}
	~BatchHolder() { cf_table_batch_free(&batch); }
};

// Writes t with `format` in batches whose sizes cycle through `cuts`.
void write_table(const TTable &t, const char *format, const std::string &path, const cf_sink_opts &o,
                 std::vector<int64_t> cuts = {1, 7, 300, 999, 64})
{
	cf_table_schema *s = make_schema(t);
	char err[CF_ERRBUF_SIZE] = "";
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open(format, s, path.c_str(), &o, &k, err), CF_OK) << err;
	int64_t r = 0;
	for (size_t i = 0; r < t.rows; i++) {
		int64_t n = std::min(cuts[i % cuts.size()], t.rows - r);
		BatchHolder h(t, s, r, r + n);
		ASSERT_EQ(cf_sink_write(k, &h.batch), CF_OK) << cf_sink_error(k);
		r += n;
	}
	cf_sink_stats st;
	ASSERT_EQ(cf_sink_close(k, &st, err), CF_OK) << err;
	EXPECT_EQ(st.rows, (uint64_t)t.rows);
	EXPECT_EQ(st.bytes, cft::read_file(path).size());
	cf_table_schema_free(s);
}

// ------------------------------------------------------------ the oracle

std::string arrow_python()
{
	std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow.parquet");
	if (py.empty() || cft::run(cft::shq(py) + " -c 'import duckdb, numpy' >/dev/null 2>&1") != 0)
		return "";
	return py;
}

#define NEED_ORACLE()                                                                                   \
	std::string py_ = arrow_python();                                                               \
	if (py_.empty())                                                                                \
		GTEST_SKIP() << "pyarrow/duckdb are not importable (bash .ci/deps.sh makes build/arrow-venv)";

struct Oracle {
	std::map<std::string, std::string> scalars;              // rows, row_groups, created_by
	std::map<std::string, std::string> types;                // col name -> type
	std::vector<std::string> col_order;
	std::map<std::string, std::vector<std::string>> values;  // v lines
	std::map<std::pair<int, std::string>, std::vector<std::string>> chunks; // (rg, name) -> fields
	std::vector<std::vector<std::string>> schema_cols;
	std::map<std::string, std::string> kv;
};

Oracle read_back(const std::string &py, const char *reader, const std::string &path, bool values = true)
{
	std::string cmd = cft::shq(py) + " " + cft::shq(cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/read_parquet.py") +
	                  " " + reader + " " + cft::shq(path) + (values ? "" : " --no-values");
	std::string out;
	int rc = cft::run(cmd, &out);
	EXPECT_EQ(rc, 0) << cmd << "\n" << out.substr(0, 4000);
	Oracle o;
	for (const std::string &line : cft::split(out, '\n')) {
		std::vector<std::string> f = cft::split(line, '\t');
		if (f.size() < 2)
			continue;
		if (f[0] == "rows" || f[0] == "row_groups" || f[0] == "created_by")
			o.scalars[f[0]] = f[1];
		else if (f[0] == "col" && f.size() == 3) {
			o.types[f[1]] = f[2];
			o.col_order.push_back(f[1]);
		} else if (f[0] == "v")
			o.values[f[1]] = std::vector<std::string>(f.begin() + 2, f.end());
		else if (f[0] == "chunk" && f.size() == 9)
			o.chunks[{std::stoi(f[1]), f[2]}] = std::vector<std::string>(f.begin() + 3, f.end());
		else if (f[0] == "schema_col")
			o.schema_cols.emplace_back(f.begin() + 1, f.end());
		else if (f[0] == "kv" && f.size() == 3)
			o.kv[f[1]] = f[2];
	}
	return o;
}

// Compares a reader's values with the table, leaf by leaf; first mismatches only.
void expect_values(const TTable &t, const Oracle &o, const char *reader)
{
	for (const TCol &c : t.cols)
		for (uint32_t k = 0; k < c.width; k++) {
			std::string leaf = c.leaf(k);
			auto it = o.values.find(leaf);
			if (t.rows == 0 && it == o.values.end())
				continue; // no rows: the oracle prints an empty line, split drops it
			ASSERT_NE(it, o.values.end()) << reader << ": no column " << leaf;
			const std::vector<std::string> &got = it->second;
			ASSERT_EQ((int64_t)got.size(), t.rows) << reader << " " << leaf;
			int bad = 0;
			for (int64_t r = 0; r < t.rows && bad < 10; r++) {
				std::string want = c.present(r) ? token(c, (size_t)r * c.width + k) : "N";
				if (got[(size_t)r] != want) {
					ADD_FAILURE() << reader << ": " << leaf << " row " << r << ": got " << got[(size_t)r]
					              << ", wrote " << want;
					bad++;
				}
			}
		}
}

// Statistics of rows [a, b) of leaf k of c, computed here from the values
// as the specification defines them: {has_minmax, min, max, null_count}.
std::vector<std::string> expected_stats(const TCol &c, uint32_t k, int64_t a, int64_t b)
{
	int64_t nulls = 0;
	bool has = false;
	int64_t ilo = 0, ihi = 0;
	uint64_t ulo = 0, uhi = 0;
	double dlo = 0, dhi = 0;
	std::string slo, shi;
	for (int64_t r = a; r < b; r++) {
		if (!c.present(r)) {
			nulls++;
			continue;
		}
		size_t e = (size_t)r * c.width + k;
		switch (c.dtype) {
		case CF_DTYPE_UINT64:
			ulo = has ? std::min(ulo, c.u[e]) : c.u[e];
			uhi = has ? std::max(uhi, c.u[e]) : c.u[e];
			has = true;
			break;
		case CF_DTYPE_FLOAT32:
		case CF_DTYPE_FLOAT64: {
			double d = c.dtype == CF_DTYPE_FLOAT32 ? (double)c.f32[e] : c.f64[e];
			if (std::isnan(d))
				break; // NaN never counts for min/max
			dlo = has ? std::min(dlo, d) : d;
			dhi = has ? std::max(dhi, d) : d;
			has = true;
			break;
		}
		case CF_DTYPE_STRING:
		case CF_DTYPE_LARGE_STRING: // std::string compares bytes as unsigned char
			slo = has ? std::min(slo, c.s[e]) : c.s[e];
			shi = has ? std::max(shi, c.s[e]) : c.s[e];
			has = true;
			break;
		default: // bool, signed, uint8..32 (held exactly in int64), timestamps
			ilo = has ? std::min(ilo, c.i[e]) : c.i[e];
			ihi = has ? std::max(ihi, c.i[e]) : c.i[e];
			has = true;
		}
	}
	std::string lo = "-", hi = "-";
	if (has) {
		switch (c.dtype) {
		case CF_DTYPE_UINT64: lo = std::to_string(ulo), hi = std::to_string(uhi); break;
		case CF_DTYPE_FLOAT32:
		case CF_DTYPE_FLOAT64:
			// spec: a zero min is written -0.0, a zero max +0.0
			if (dlo == 0)
				dlo = -0.0;
			if (dhi == 0)
				dhi = 0.0;
			lo = c.dtype == CF_DTYPE_FLOAT32 ? tok_f32((float)dlo) : tok_f64(dlo);
			hi = c.dtype == CF_DTYPE_FLOAT32 ? tok_f32((float)dhi) : tok_f64(dhi);
			break;
		case CF_DTYPE_STRING:
		case CF_DTYPE_LARGE_STRING: lo = tok_str(slo), hi = tok_str(shi); break;
		default: lo = std::to_string(ilo), hi = std::to_string(ihi);
		}
	}
	return {has ? "1" : "0", lo, hi, std::to_string(nulls)};
}

// Whether the sink's rule (distinct values of a chunk take at most
// dictionary_bytes as a PLAIN dictionary page) picks a dictionary.
bool expect_dictionary(const TCol &c, uint32_t k, int64_t a, int64_t b, uint32_t dictionary_bytes)
{
	std::set<std::string> seen;
	uint64_t bytes = 0;
	for (int64_t r = a; r < b; r++)
		if (c.present(r) && seen.insert(c.s[(size_t)r * c.width + k]).second)
			bytes += 4 + c.s[(size_t)r * c.width + k].size();
	return !seen.empty() && bytes <= dictionary_bytes;
}

const char *codec_name(int compression)
{
	return compression == CF_SINK_ZSTD ? "ZSTD" : compression == CF_SINK_SNAPPY ? "SNAPPY" : "UNCOMPRESSED";
}

// Everything pyarrow reports about the file against the table and options.
void expect_pyarrow(const TTable &t, const Oracle &o, const cf_sink_opts &opts)
{
	int64_t groups = (t.rows + (int64_t)opts.row_group_rows - 1) / (int64_t)opts.row_group_rows;
	EXPECT_EQ(o.scalars.at("rows"), std::to_string(t.rows));
	EXPECT_EQ(o.scalars.at("row_groups"), std::to_string(groups));
	EXPECT_EQ(o.scalars.at("created_by").rfind("cuflow version ", 0), 0u) << o.scalars.at("created_by");
	// the schema JSON travels in the footer and parses back to the schema
	ASSERT_EQ(o.schema_cols.size(), t.cols.size());
	std::vector<std::string> order;
	for (size_t i = 0; i < t.cols.size(); i++) {
		const TCol &c = t.cols[i];
		std::vector<std::string> want = {c.name, cf_dtype_name(c.dtype), std::to_string(c.width),
		                                 tok_str(c.unit).substr(1), tok_str(c.doc).substr(1),
		                                 c.nullable ? "1" : "0"};
		EXPECT_EQ(o.schema_cols[i], want);
		for (uint32_t k = 0; k < c.width; k++) {
			order.push_back(c.leaf(k));
			EXPECT_EQ(o.types.count(c.leaf(k)) ? o.types.at(c.leaf(k)) : "?", arrow_type(c.dtype)) << c.leaf(k);
		}
	}
	EXPECT_EQ(o.col_order, order);
	for (int64_t g = 0; g < groups; g++) {
		int64_t a = g * (int64_t)opts.row_group_rows, b = std::min(t.rows, a + (int64_t)opts.row_group_rows);
		for (const TCol &c : t.cols)
			for (uint32_t k = 0; k < c.width; k++) {
				auto it = o.chunks.find({(int)g, c.leaf(k)});
				ASSERT_NE(it, o.chunks.end()) << "row group " << g << " " << c.leaf(k);
				const std::vector<std::string> &f = it->second; // encodings codec has min max nulls
				std::string enc = "PLAIN";
				if (c.nullable)
					enc += ",RLE";
				if (c.is_string() && expect_dictionary(c, k, a, b, opts.dictionary_bytes))
					enc += ",RLE_DICTIONARY";
				EXPECT_EQ(f[0], enc) << "row group " << g << " " << c.leaf(k);
				EXPECT_EQ(f[1], codec_name(opts.compression));
				std::vector<std::string> got(f.begin() + 2, f.end());
				EXPECT_EQ(got, expected_stats(c, k, a, b)) << "statistics, row group " << g << " " << c.leaf(k);
			}
	}
}

void expect_duckdb(const TTable &t, const Oracle &o)
{
	EXPECT_EQ(o.scalars.at("rows"), std::to_string(t.rows));
	for (const TCol &c : t.cols)
		for (uint32_t k = 0; k < c.width; k++)
			EXPECT_EQ(o.types.count(c.leaf(k)) ? o.types.at(c.leaf(k)) : "?", duckdb_type(c.dtype)) << c.leaf(k);
	expect_values(t, o, "duckdb");
}

// A table with every dtype, vectors, nullable columns, and the awkward
// values: extremes, NaN, infinities, -0.0, subnormals, empty and UTF-8
// strings, unsigned values past the signed range.
TTable all_types_table(int64_t rows, uint64_t seed)
{
	std::mt19937_64 rng(seed);
	TTable t;
	t.rows = rows;
	auto add = [&](const char *name, int dtype, uint32_t width = 1, bool nullable = false) -> TCol & {
		TCol c;
		c.name = name;
		c.dtype = dtype;
		c.width = width;
		c.nullable = nullable;
		c.unit = dtype == CF_DTYPE_TIMESTAMP_NS ? "ns" : "bytes";
		c.doc = std::string("the ") + name + " column, \"quoted\", caf\xc3\xa9";
		t.cols.push_back(c);
		return t.cols.back();
	};
	add("flag", CF_DTYPE_BOOL);
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
	add("name", CF_DTYPE_STRING);
	add("big_name", CF_DTYPE_LARGE_STRING);
	add("tags", CF_DTYPE_STRING, 2);
	add("first_ns", CF_DTYPE_TIMESTAMP_NS);
	add("sizes", CF_DTYPE_UINT16, 5);
	add("iat", CF_DTYPE_FLOAT32, 3);
	add("opt_i32", CF_DTYPE_INT32, 1, true);
	add("opt_f64", CF_DTYPE_FLOAT64, 1, true);
	add("opt_str", CF_DTYPE_STRING, 1, true);
	add("opt_flags", CF_DTYPE_BOOL, 2, true);
	add("opt_u64", CF_DTYPE_UINT64, 1, true);
	// zeros of both signs at the bottom / top of the range: the statistics
	// must say -0.0 for a zero min and +0.0 for a zero max
	add("zero_min", CF_DTYPE_FLOAT64);
	add("zero_max", CF_DTYPE_FLOAT32, 2);

	const std::vector<std::string> words = {"", "a", "tcp", "udp", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
	                                        "\xf0\x9f\x98\x80 emoji", "comma,and\"quote", "zz", "A"};
	const float f32s[] = {0.0f, -0.0f, 1.5f, -2.25f, std::numeric_limits<float>::infinity(),
	                      -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
	                      std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
	                      std::numeric_limits<float>::lowest()};
	const double f64s[] = {0.0, -0.0, 0.1, -1e300, std::numeric_limits<double>::infinity(),
	                       std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::denorm_min(),
	                       std::numeric_limits<double>::max(), -std::numeric_limits<double>::infinity(), 1.0 / 3};
	for (TCol &c : t.cols) {
		size_t n = (size_t)rows * c.width;
		for (size_t e = 0; e < n; e++) {
			uint64_t x = rng();
			if (c.name == "zero_min" || c.name == "zero_max") {
				double z = (x & 3) == 0 ? ((x >> 2) & 1 ? -0.0 : 0.0) : (double)((x >> 8) % 1000) + 0.5;
				if (c.name == "zero_min")
					c.f64.push_back(z);
				else
					c.f32.push_back((float)-z);
				continue;
			}
			bool special = (x & 7) == 0; // one in eight: an extreme
			switch (c.dtype) {
			case CF_DTYPE_BOOL: c.i.push_back((int64_t)(x >> 20) & 1); break;
			case CF_DTYPE_INT8: c.i.push_back(special ? ((x >> 8) & 1 ? INT8_MIN : INT8_MAX) : (int8_t)(x >> 8)); break;
			case CF_DTYPE_INT16: c.i.push_back(special ? ((x >> 8) & 1 ? INT16_MIN : INT16_MAX) : (int16_t)(x >> 8)); break;
			case CF_DTYPE_INT32: c.i.push_back(special ? ((x >> 8) & 1 ? INT32_MIN : INT32_MAX) : (int32_t)(x >> 8)); break;
			case CF_DTYPE_INT64: c.i.push_back(special ? ((x >> 8) & 1 ? INT64_MIN : INT64_MAX) : (int64_t)(x >> 3)); break;
			case CF_DTYPE_UINT8: c.i.push_back(special ? 255 : (int64_t)((x >> 8) & 0xff)); break;
			case CF_DTYPE_UINT16: c.i.push_back(special ? 65535 : (int64_t)((x >> 8) & 0x7fff)); break;
			// uint32 values past 2^31: stored in INT32 they look negative, their order is unsigned
			case CF_DTYPE_UINT32: c.i.push_back(special ? (int64_t)UINT32_MAX : (int64_t)((x >> 8) & 0xffffffffu)); break;
			case CF_DTYPE_UINT64: c.u.push_back(special ? UINT64_MAX : x >> (x & 1)); break;
			case CF_DTYPE_FLOAT32: c.f32.push_back(special ? f32s[(x >> 8) % 10] : (float)((int64_t)(x >> 40) - (1 << 23)) / 1024.0f); break;
			case CF_DTYPE_FLOAT64: c.f64.push_back(special ? f64s[(x >> 8) % 10] : std::ldexp((double)(x >> 11), -40) - 1e3); break;
			case CF_DTYPE_TIMESTAMP_NS: c.i.push_back(1700000000000000000LL + (int64_t)(x >> 24)); break;
			default: { // strings: a few words (dictionary) or a unique-ish one
				std::string w = words[(x >> 8) % words.size()];
				if (c.dtype == CF_DTYPE_LARGE_STRING)
					w += "-" + std::to_string(x % 100000);
				c.s.push_back(w);
			}
			}
		}
		if (c.nullable)
			for (int64_t r = 0; r < rows; r++)
				c.valid.push_back(rng() % 4 != 0);
	}
	return t;
}

std::string tmp(const std::string &suffix)
{
	return cft::temp_path(suffix);
}

// ------------------------------------------------------------ round trips

class ParquetCodec : public ::testing::TestWithParam<int> {};

TEST_P(ParquetCodec, AllTypesReadBackByPyarrowAndDuckdb)
{
	NEED_ORACLE();
	TTable t = all_types_table(2500, 17 + GetParam());
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.compression = GetParam();
	o.row_group_rows = 700; // 4 row groups, the last one short
	o.page_bytes = 1024;    // several pages per chunk
	std::string path = tmp(".parquet");
	write_table(t, "parquet", path, o);
	ASSERT_FALSE(::testing::Test::HasFatalFailure());
	std::vector<uint8_t> f = cft::read_file(path);
	ASSERT_GE(f.size(), 12u);
	EXPECT_EQ(std::string(f.begin(), f.begin() + 4), "PAR1");
	EXPECT_EQ(std::string(f.end() - 4, f.end()), "PAR1");
	Oracle pa = read_back(py_, "pyarrow", path);
	expect_pyarrow(t, pa, o);
	expect_values(t, pa, "pyarrow");
	expect_duckdb(t, read_back(py_, "duckdb", path));
}

INSTANTIATE_TEST_SUITE_P(Parquet, ParquetCodec,
                         ::testing::Values((int)CF_SINK_UNCOMPRESSED, (int)CF_SINK_SNAPPY, (int)CF_SINK_ZSTD),
                         [](const ::testing::TestParamInfo<int> &i) { return std::string(codec_name(i.param)); });

TEST(Parquet, DictionaryAndPlainFallback)
{
	NEED_ORACLE();
	TTable t;
	t.rows = 200000;
	TCol proto, host;
	proto.name = "proto";
	proto.dtype = CF_DTYPE_STRING;
	proto.nullable = true;
	host.name = "host";
	host.dtype = CF_DTYPE_LARGE_STRING;
	const char *protos[] = {"tcp", "udp", "", "icmp", "sctp"};
	std::mt19937_64 rng(5);
	for (int64_t r = 0; r < t.rows; r++) {
		// long runs of one value (RLE runs) broken by noise (bit-packed runs)
		proto.s.push_back(protos[(r / 1000 + (rng() % 8 == 0 ? rng() : 0)) % 5]);
		proto.valid.push_back(rng() % 10 != 0);
		host.s.push_back("host-" + std::to_string(r) + "-\xc3\xa9\xe2\x82\xac");
	}
	t.cols = {proto, host};
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.row_group_rows = 65536;
	o.dictionary_bytes = 64 << 10; // proto: 5 values fit; host: 65536 distinct do not
	o.page_bytes = 16 << 10;
	std::string path = tmp(".parquet");
	write_table(t, "parquet", path, o, {4096, 50000, 1});
	ASSERT_FALSE(::testing::Test::HasFatalFailure());
	Oracle pa = read_back(py_, "pyarrow", path);
	expect_pyarrow(t, pa, o); // encodings: proto dictionary, host PLAIN (checked against the rule)
	EXPECT_EQ(pa.chunks.at({0, "proto"})[0], "PLAIN,RLE,RLE_DICTIONARY");
	EXPECT_EQ(pa.chunks.at({0, "host"})[0], "PLAIN");
	expect_values(t, pa, "pyarrow");
	expect_duckdb(t, read_back(py_, "duckdb", path));
}

TEST(Parquet, ByteBudgetEndsRowGroupsEarly)
{
	NEED_ORACLE();
	TTable t;
	t.rows = 10000;
	TCol c;
	c.name = "payload";
	c.dtype = CF_DTYPE_STRING;
	for (int64_t r = 0; r < t.rows; r++)
		c.s.push_back(std::string(100, (char)('a' + r % 26)) + std::to_string(r));
	t.cols = {c};
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.row_group_bytes = 200000; // about 2,000 rows of ~110 bytes; the row limit (1 Mi) never binds
	std::string path = tmp(".parquet");
	write_table(t, "parquet", path, o, {10000});
	ASSERT_FALSE(::testing::Test::HasFatalFailure());
	Oracle pa = read_back(py_, "pyarrow", path);
	EXPECT_EQ(pa.scalars.at("rows"), "10000");
	EXPECT_GE(std::stoi(pa.scalars.at("row_groups")), 2);
	expect_values(t, pa, "pyarrow");
}

TEST(Parquet, AllNullAndAllNaNChunksHaveNoMinMax)
{
	NEED_ORACLE();
	TTable t;
	t.rows = 10;
	TCol nan, none, snone;
	nan.name = "nan";
	nan.dtype = CF_DTYPE_FLOAT64;
	nan.f64.assign(10, std::nan(""));
	none.name = "none";
	none.dtype = CF_DTYPE_INT32;
	none.nullable = true;
	none.i.assign(10, 7);
	none.valid.assign(10, false);
	snone = none;
	snone.name = "snone";
	snone.dtype = CF_DTYPE_STRING;
	snone.s.assign(10, "x");
	t.cols = {nan, none, snone};
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	std::string path = tmp(".parquet");
	write_table(t, "parquet", path, o);
	Oracle pa = read_back(py_, "pyarrow", path);
	expect_pyarrow(t, pa, o);
	EXPECT_EQ(pa.chunks.at({0, "nan"})[2], "0");
	EXPECT_EQ(pa.chunks.at({0, "none"})[5], "10");
	expect_values(t, pa, "pyarrow");
	expect_duckdb(t, read_back(py_, "duckdb", path));
}

TEST(Parquet, ZeroRowsAndOneRow)
{
	NEED_ORACLE();
	for (int64_t rows : {0, 1}) {
		TTable t = all_types_table(rows, 99);
		cf_sink_opts o;
		cf_sink_opts_default(&o);
		std::string path = tmp(".parquet");
		write_table(t, "parquet", path, o);
		Oracle pa = read_back(py_, "pyarrow", path);
		expect_pyarrow(t, pa, o);
		expect_values(t, pa, "pyarrow");
		expect_duckdb(t, read_back(py_, "duckdb", path));
	}
}

// ------------------------------------------------------------ bounded memory

long max_rss_kib()
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

// Lowers the peak RSS to the current RSS (Linux: "5" > /proc/self/clear_refs),
// so tests that ran before in this process do not hide the growth. ctest runs
// each test in its own process anyway.
void reset_peak_rss()
{
	if (FILE *f = fopen("/proc/self/clear_refs", "w")) {
		fputs("5", f);
		fclose(f);
	}
}

TEST(Parquet, MemoryStaysWithinARowGroup)
{
	const int64_t rows = 20000000, batch = 65536, rg = 256 << 10;
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_schema_create(&s, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "ts", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "bytes", CF_DTYPE_UINT32, 1, "bytes", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "mean", CF_DTYPE_FLOAT64, 1, "", "", 0, err), CF_OK);
	ASSERT_EQ(cf_table_schema_add(s, "sizes", CF_DTYPE_UINT16, 2, "bytes", "", 0, err), CF_OK);
	std::vector<int64_t> ts(batch);
	std::vector<uint32_t> by(batch);
	std::vector<double> mean(batch);
	std::vector<uint16_t> sizes(2 * batch);
	cf_table_batch b;
	ASSERT_EQ(cf_table_batch_init(&b, s, batch), CF_OK);
	cf_table_batch_set(&b, 0, ts.data(), nullptr, nullptr);
	cf_table_batch_set(&b, 1, by.data(), nullptr, nullptr);
	cf_table_batch_set(&b, 2, mean.data(), nullptr, nullptr);
	cf_table_batch_set(&b, 3, sizes.data(), nullptr, nullptr);
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.row_group_rows = rg;
	o.compression_level = 1;
	std::string path = tmp(".parquet");
	cf_sink *k = nullptr;
	reset_peak_rss();
	long before = max_rss_kib();
	ASSERT_EQ(cf_sink_open("parquet", s, path.c_str(), &o, &k, err), CF_OK) << err;
	uint64_t x = 1;
	for (int64_t r = 0; r < rows; r += batch) {
		b.n_rows = std::min(batch, rows - r);
		for (int64_t i = 0; i < b.n_rows; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			ts[i] = 1700000000000000000LL + (r + i) * 1000;
			by[i] = (uint32_t)(x >> 40);
			mean[i] = (double)(x >> 11) * 0x1p-53;
			sizes[2 * i] = (uint16_t)(x >> 20);
			sizes[2 * i + 1] = (uint16_t)(x >> 36);
		}
		ASSERT_EQ(cf_sink_write(k, &b), CF_OK) << cf_sink_error(k);
	}
	cf_sink_stats st;
	ASSERT_EQ(cf_sink_close(k, &st, err), CF_OK) << err;
	long growth_kib = max_rss_kib() - before;
	// One row group buffered is 256 Ki rows x 24 bytes = 6 MiB (the whole
	// table would be 480 MB); allow that, a page, its compressed copy, the
	// zstd context and the allocator's slack: 48 MiB, 96 under ASan.
	long bound_kib = 48 << 10;
#if defined(__SANITIZE_ADDRESS__)
	bound_kib *= 2;
#endif
	RecordProperty("peak_rss_growth_kib", (int)growth_kib);
	printf("peak RSS growth writing %lld rows: %ld KiB (bound %ld KiB), file %llu bytes\n", (long long)rows,
	       growth_kib, bound_kib, (unsigned long long)st.bytes);
	EXPECT_LT(growth_kib, bound_kib);
	EXPECT_EQ(st.rows, (uint64_t)rows);
	cf_table_batch_free(&b);
	cf_table_schema_free(s);

	std::string py = arrow_python();
	if (py.empty()) {
		unlink(path.c_str());
		GTEST_SKIP() << "memory bound checked; pyarrow/duckdb are not importable for the row-group count";
	}
	Oracle pa = read_back(py, "pyarrow", path, false);
	EXPECT_EQ(pa.scalars["rows"], std::to_string(rows));
	EXPECT_EQ(pa.scalars["row_groups"], std::to_string((rows + rg - 1) / rg)); // 77
	unlink(path.c_str()); // 200+ MB: do not leave it in tmp/
}

// ------------------------------------------------------------ failures

// No file with `path`'s name, nor any of its temporary files, in its directory.
void expect_no_output(const std::string &path)
{
	EXPECT_FALSE(cft::exists(path)) << path;
	std::string dir = path.substr(0, path.rfind('/')), base = path.substr(path.rfind('/') + 1);
	DIR *d = opendir(dir.c_str());
	if (!d)
		return;
	while (struct dirent *e = readdir(d))
		EXPECT_NE(std::string(e->d_name).rfind(base, 0), 0u) << "left behind: " << e->d_name;
	closedir(d);
}

TEST(Parquet, UnwritableDirectoryNamesThePathAndLeavesNothing)
{
	TTable t = all_types_table(3, 1);
	cf_table_schema *s = make_schema(t);
	std::string file = tmp(".notadir");
	cft::write_file(file, {'x'});
	std::string path = file + "/out.parquet"; // the parent is a regular file: ENOTDIR, even as root
	for (const char *format : {"parquet", "csv"}) {
		char err[CF_ERRBUF_SIZE] = "";
		cf_sink *k = reinterpret_cast<cf_sink *>(1);
		EXPECT_EQ(cf_sink_open(format, s, path.c_str(), nullptr, &k, err), CF_ERR_IO) << format;
		EXPECT_EQ(k, nullptr);
		EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
		EXPECT_FALSE(cft::exists(path));
	}
	cf_table_schema_free(s);
}

TEST(Parquet, WriteFailureMidFileLeavesNoFinalFile)
{
	// A file size limit makes write() fail with EFBIG, as a full disk would
	// with ENOSPC; the limit is lifted again before anything else runs.
	TTable t = all_types_table(20000, 3);
	cf_table_schema *s = make_schema(t);
	for (const char *format : {"parquet", "csv"}) {
		std::string path = tmp(std::string(".") + format);
		cf_sink_opts o;
		cf_sink_opts_default(&o);
		o.row_group_rows = 1000;
		o.compression = CF_SINK_UNCOMPRESSED;
		char err[CF_ERRBUF_SIZE] = "";
		cf_sink *k = nullptr;
		ASSERT_EQ(cf_sink_open(format, s, path.c_str(), &o, &k, err), CF_OK) << err;
		struct rlimit old, lim;
		getrlimit(RLIMIT_FSIZE, &old);
		lim = old;
		lim.rlim_cur = 64 << 10;
		void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
		ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
		int rc = CF_OK;
		for (int64_t r = 0; r < t.rows && rc == CF_OK; r += 500) {
			BatchHolder h(t, s, r, r + 500);
			rc = cf_sink_write(k, &h.batch);
		}
		std::string werr = cf_sink_error(k);
		int crc = cf_sink_close(k, nullptr, err);
		setrlimit(RLIMIT_FSIZE, &old);
		signal(SIGXFSZ, prev);
		EXPECT_EQ(crc, CF_ERR_IO) << format;
		// the failure shows at a write (a buffer flush) or at the latest at close
		if (rc != CF_OK) {
			EXPECT_EQ(rc, CF_ERR_IO);
			EXPECT_NE(werr.find(path), std::string::npos) << werr;
		}
		EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
		expect_no_output(path);
	}
	cf_table_schema_free(s);
}

TEST(Parquet, AbortRemovesPartialOutputAndKeepsAnOldFile)
{
	TTable t = all_types_table(100, 2);
	cf_table_schema *s = make_schema(t);
	std::string path = tmp(".parquet");
	cft::write_file(path, {'o', 'l', 'd'});
	char err[CF_ERRBUF_SIZE];
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open("parquet", s, path.c_str(), nullptr, &k, err), CF_OK) << err;
	BatchHolder h(t, s, 0, 100);
	ASSERT_EQ(cf_sink_write(k, &h.batch), CF_OK);
	EXPECT_EQ(cft::slurp(path), "old"); // not replaced before close
	cf_sink_abort(k);
	EXPECT_EQ(cft::slurp(path), "old");
	unlink(path.c_str());
	expect_no_output(path);
	cf_table_schema_free(s);
}

TEST(Parquet, BadBatchIsRefusedWithoutBreakingTheSink)
{
	TTable t = all_types_table(10, 4);
	cf_table_schema *s = make_schema(t);
	std::string path = tmp(".parquet");
	char err[CF_ERRBUF_SIZE];
	cf_sink *k = nullptr;
	ASSERT_EQ(cf_sink_open("parquet", s, path.c_str(), nullptr, &k, err), CF_OK);
	BatchHolder h(t, s, 0, 10);
	const void *keep = h.batch.columns[3].values;
	h.batch.columns[3].values = nullptr;
	EXPECT_EQ(cf_sink_write(k, &h.batch), CF_ERR_ARG);
	EXPECT_NE(std::string(cf_sink_error(k)).find("i32"), std::string::npos) << cf_sink_error(k);
	h.batch.columns[3].values = keep;
	EXPECT_EQ(cf_sink_write(k, &h.batch), CF_OK);
	cf_sink_stats st;
	EXPECT_EQ(cf_sink_close(k, &st, err), CF_OK) << err;
	EXPECT_EQ(st.rows, 10u);
	cf_table_schema_free(s);
}

TEST(Parquet, BadOptionsAreRefused)
{
	TTable t = all_types_table(1, 4);
	cf_table_schema *s = make_schema(t);
	std::string path = tmp(".parquet");
	char err[CF_ERRBUF_SIZE];
	cf_sink *k = nullptr;
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	o.compression = 42;
	EXPECT_EQ(cf_sink_open("parquet", s, path.c_str(), &o, &k, err), CF_ERR_ARG);
	cf_sink_opts_default(&o);
	o.row_group_rows = 0;
	EXPECT_EQ(cf_sink_open("parquet", s, path.c_str(), &o, &k, err), CF_ERR_ARG);
	EXPECT_EQ(cf_sink_open("feather", s, path.c_str(), nullptr, &k, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("feather"), std::string::npos);
	expect_no_output(path);
	cf_table_schema_free(s);
}

} // namespace

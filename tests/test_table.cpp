// Column-table schemas and batches (include/cuflow/table.h), the sink
// table, the CSV sink, and that the public headers are strict C11/C++17.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "cuflow/table.h"
#include "test_util.h"

namespace {

struct Schema {
	cf_table_schema *s = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	Schema() { EXPECT_EQ(cf_table_schema_create(&s, err), CF_OK); }
	~Schema() { cf_table_schema_free(s); }
	int add(const char *name, int dtype, uint32_t width = 1, const char *unit = "", const char *doc = "",
	        uint32_t flags = 0)
	{
		return cf_table_schema_add(s, name, dtype, width, unit, doc, flags, err);
	}
};

std::string json(const cf_table_schema *s)
{
	size_t n = 0;
	EXPECT_EQ(cf_table_schema_json(s, nullptr, 0, &n), CF_ERR_ARG); // sizing call: cap 0 is "too small"
	std::string out(n + 1, '\0');
	EXPECT_EQ(cf_table_schema_json(s, &out[0], n + 1, nullptr), CF_OK);
	out.resize(n);
	return out;
}

TEST(Table, DtypeNamesAndSizes)
{
	const char *names[] = {"bool",   "int8",    "int16",   "int32",  "int64",        "uint8",       "uint16",
	                       "uint32", "uint64",  "float32", "float64", "string", "large_string", "timestamp_ns"};
	const size_t sizes[] = {0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 4, 8, 8};
	for (int d = 0; d < CF_DTYPE_COUNT; d++) {
		EXPECT_STREQ(cf_dtype_name(d), names[d]);
		EXPECT_EQ(cf_dtype_size(d), sizes[d]) << names[d];
	}
	EXPECT_EQ(cf_dtype_name(CF_DTYPE_COUNT), nullptr);
	EXPECT_EQ(cf_dtype_name(-1), nullptr);
	EXPECT_EQ(cf_dtype_size(CF_DTYPE_COUNT), 0u);
}

TEST(Table, SchemaBuildLookupAndClone)
{
	Schema k;
	ASSERT_EQ(k.add("bytes", CF_DTYPE_UINT64, 1, "bytes", "bytes in both directions"), CF_OK) << k.err;
	ASSERT_EQ(k.add("seq", CF_DTYPE_INT16, 30, "bytes", "first 30 packet sizes, signed by direction"), CF_OK);
	ASSERT_EQ(k.add("label", CF_DTYPE_STRING, 1, nullptr, nullptr, CF_COLUMN_NULLABLE), CF_OK);
	EXPECT_EQ(cf_table_schema_columns(k.s), 3u);
	const cf_table_column *c = cf_table_schema_column(k.s, 1);
	ASSERT_NE(c, nullptr);
	EXPECT_STREQ(c->name, "seq");
	EXPECT_EQ(c->dtype, CF_DTYPE_INT16);
	EXPECT_EQ(c->width, 30u);
	EXPECT_STREQ(c->unit, "bytes");
	EXPECT_STREQ(cf_table_schema_column(k.s, 2)->unit, "");
	EXPECT_EQ(cf_table_schema_column(k.s, 2)->flags, CF_COLUMN_NULLABLE);
	EXPECT_EQ(cf_table_schema_column(k.s, 3), nullptr);
	EXPECT_EQ(cf_table_schema_find(k.s, "label"), 2);
	EXPECT_EQ(cf_table_schema_find(k.s, "nope"), -1);
	cf_table_schema *copy = nullptr;
	ASSERT_EQ(cf_table_schema_clone(k.s, &copy, k.err), CF_OK);
	EXPECT_EQ(json(copy), json(k.s));
	cf_table_schema_free(copy);
	EXPECT_EQ(cf_table_schema_columns(nullptr), 0u);
	cf_table_schema_free(nullptr);
}

TEST(Table, BadColumnsAreRefused)
{
	Schema k;
	ASSERT_EQ(k.add("pkt", CF_DTYPE_UINT16, 3), CF_OK);
	ASSERT_EQ(k.add("x_0", CF_DTYPE_INT8), CF_OK);
	EXPECT_EQ(k.add("", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add("9lives", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add("has space", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add("caf\xc3\xa9", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add(std::string(CF_COLUMN_NAME_MAX + 1, 'a').c_str(), CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add("ok", CF_DTYPE_COUNT), CF_ERR_ARG);
	EXPECT_EQ(k.add("ok", CF_DTYPE_INT8, 0), CF_ERR_ARG);
	EXPECT_EQ(k.add("ok", CF_DTYPE_INT8, CF_COLUMN_WIDTH_MAX + 1), CF_ERR_ARG);
	EXPECT_EQ(k.add("ok", CF_DTYPE_INT8, 1, "", "two\nlines"), CF_ERR_ARG);
	EXPECT_EQ(k.add("ok", CF_DTYPE_INT8, 1, "\xff", ""), CF_ERR_ARG); // not UTF-8
	EXPECT_EQ(k.add("ok", CF_DTYPE_INT8, 1, "", "", 0x80), CF_ERR_ARG);
	// duplicates, and names written the same once vectors are expanded
	EXPECT_EQ(k.add("pkt", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_NE(std::string(k.err).find("pkt"), std::string::npos) << k.err;
	EXPECT_EQ(k.add("pkt_2", CF_DTYPE_INT8), CF_ERR_ARG);  // element 2 of pkt
	EXPECT_EQ(k.add("x", CF_DTYPE_INT8, 2), CF_ERR_ARG);   // x_0 exists
	EXPECT_EQ(k.add("pkt", CF_DTYPE_INT8, 5), CF_ERR_ARG);
	EXPECT_EQ(cf_table_schema_columns(k.s), 2u); // nothing added by a refusal
	// not clashes: past the width, leading zeros, a longer prefix
	EXPECT_EQ(k.add("pkt_3", CF_DTYPE_INT8), CF_OK) << k.err;
	EXPECT_EQ(k.add("pkt_01", CF_DTYPE_INT8), CF_OK) << k.err;
	EXPECT_EQ(k.add("pkt_0x", CF_DTYPE_INT8), CF_OK) << k.err;
	EXPECT_EQ(k.add("x", CF_DTYPE_INT8, 1), CF_OK) << k.err;
	// vectors: a plain name may not be another's element name either
	EXPECT_EQ(k.add("q", CF_DTYPE_INT8, 12), CF_OK) << k.err;
	EXPECT_EQ(k.add("q_1", CF_DTYPE_INT8, 3), CF_ERR_ARG); // q_1 is an element of q
	EXPECT_EQ(k.add("q_1x", CF_DTYPE_INT8, 3), CF_OK) << k.err;
	EXPECT_EQ(k.add("r_1", CF_DTYPE_INT8, 2), CF_OK) << k.err; // writes r_1_0, r_1_1
	EXPECT_EQ(k.add("r_1_1", CF_DTYPE_INT8), CF_ERR_ARG);
	EXPECT_EQ(k.add("r", CF_DTYPE_INT8, 3), CF_ERR_ARG);        // r_1 would be its element
}

TEST(Table, SchemaJsonIsExact)
{
	Schema k;
	ASSERT_EQ(k.add("first_ns", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "time of the first packet"), CF_OK);
	ASSERT_EQ(k.add("seq", CF_DTYPE_INT16, 4, "bytes", "say \"hi\"\t\\ caf\xc3\xa9"), CF_OK);
	ASSERT_EQ(k.add("label", CF_DTYPE_STRING, 1, "", "", CF_COLUMN_NULLABLE), CF_OK);
	const std::string want =
	    "{\"columns\":["
	    "{\"name\":\"first_ns\",\"dtype\":\"timestamp_ns\",\"width\":1,\"unit\":\"ns\","
	    "\"doc\":\"time of the first packet\",\"nullable\":false},"
	    "{\"name\":\"seq\",\"dtype\":\"int16\",\"width\":4,\"unit\":\"bytes\","
	    "\"doc\":\"say \\\"hi\\\"\\u0009\\\\ caf\xc3\xa9\",\"nullable\":false},"
	    "{\"name\":\"label\",\"dtype\":\"string\",\"width\":1,\"unit\":\"\",\"doc\":\"\",\"nullable\":true}]}";
	EXPECT_EQ(json(k.s), want);
	// a short buffer gets a NUL-terminated prefix and CF_ERR_ARG
	char small[10];
	size_t n = 0;
	EXPECT_EQ(cf_table_schema_json(k.s, small, sizeof small, &n), CF_ERR_ARG);
	EXPECT_EQ(n, want.size());
	EXPECT_EQ(std::string(small), want.substr(0, 9));
	// and Python's json module reads it back (an independent parser)
	std::string file = cft::temp_path(".json");
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_schema_write_json(k.s, file.c_str(), err), CF_OK) << err;
	EXPECT_EQ(cft::slurp(file), want + "\n");
	std::string py = cft::numpy_python();
	if (py.empty())
		py = "python3";
	std::string out;
	ASSERT_EQ(cft::run(cft::shq(py) + " -c 'import json,sys; d=json.load(open(sys.argv[1]));"
	                                  " print([(c[\"name\"],c[\"width\"],c[\"doc\"]) for c in d[\"columns\"]])' " +
	                       cft::shq(file),
	                   &out),
	          0)
	    << out;
	EXPECT_EQ(out, "[('first_ns', 1, 'time of the first packet'), ('seq', 4, 'say \"hi\"\\t\\\\ café'), "
	               "('label', 1, '')]\n");
}

TEST(Table, SchemaJsonWriteFailureNamesThePath)
{
	Schema k;
	ASSERT_EQ(k.add("a", CF_DTYPE_INT8), CF_OK);
	std::string file = cft::temp_path(".file");
	cft::write_file(file, {'x'});
	std::string path = file + "/schema.json";
	char err[CF_ERRBUF_SIZE] = "";
	EXPECT_EQ(cf_table_schema_write_json(k.s, path.c_str(), err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	EXPECT_FALSE(cft::exists(path));
}

TEST(Table, BatchCheck)
{
	Schema k;
	ASSERT_EQ(k.add("n", CF_DTYPE_INT32), CF_OK);
	ASSERT_EQ(k.add("s", CF_DTYPE_STRING, 2), CF_OK);
	ASSERT_EQ(k.add("o", CF_DTYPE_FLOAT64, 1, "", "", CF_COLUMN_NULLABLE), CF_OK);
	int32_t n[2] = {1, 2};
	int32_t off[5] = {0, 1, 1, 3, 3};
	const uint8_t data[] = "abc";
	double o[2] = {0.5, 1.5};
	uint8_t valid = 0x1;
	cf_table_batch b;
	ASSERT_EQ(cf_table_batch_init(&b, k.s, 2), CF_OK);
	EXPECT_EQ(b.n_columns, 3u);
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG); // no values yet
	EXPECT_NE(std::string(k.err).find("column n"), std::string::npos) << k.err;
	cf_table_batch_set(&b, 0, n, nullptr, nullptr);
	cf_table_batch_set(&b, 1, off, data, nullptr);
	cf_table_batch_set(&b, 2, o, nullptr, &valid);
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_OK) << k.err;
	EXPECT_EQ(cf_table_batch_set(&b, 3, n, nullptr, nullptr), CF_ERR_ARG);
	// validity on a column that is not nullable
	cf_table_batch_set(&b, 0, n, nullptr, &valid);
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG);
	cf_table_batch_set(&b, 0, n, nullptr, nullptr);
	// decreasing or negative offsets, missing string data
	off[2] = 0;
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG);
	EXPECT_NE(std::string(k.err).find("column s"), std::string::npos) << k.err;
	off[2] = 1;
	off[0] = -1;
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG);
	off[0] = 0;
	cf_table_batch_set(&b, 1, off, nullptr, nullptr);
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG);
	// zero rows need no arrays; the wrong column count does not pass
	b.n_rows = 0;
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_OK);
	b.n_columns = 2;
	EXPECT_EQ(cf_table_batch_check(k.s, &b, k.err), CF_ERR_ARG);
	b.n_columns = 3;
	cf_table_batch_free(&b);
	cf_table_batch_free(&b); // twice is fine
}

TEST(Table, Bitmaps)
{
	uint8_t bits[2] = {0, 0};
	cf_bitmap_set(bits, 0, 1);
	cf_bitmap_set(bits, 9, 1);
	cf_bitmap_set(bits, 3, 1);
	cf_bitmap_set(bits, 3, 0);
	EXPECT_EQ(bits[0], 0x01); // Arrow: least significant bit first
	EXPECT_EQ(bits[1], 0x02);
	EXPECT_EQ(cf_bitmap_get(bits, 9), 1);
	EXPECT_EQ(cf_bitmap_get(bits, 8), 0);
	EXPECT_EQ(cf_bitmap_bytes(0), 0u);
	EXPECT_EQ(cf_bitmap_bytes(9), 2u);
}

// The public headers compile as strict C11 and C++17 on their own.
TEST(Table, PublicHeadersAreStrictC11AndCxx17)
{
	std::string inc = cft::env("CUFLOW_SOURCE_DIR") + "/include";
	std::string c = cft::temp_path(".c"), cxx = cft::temp_path(".cpp");
	const std::string src = "#include <cuflow/table.h>\n#include <cuflow/sink.h>\n"
	                        "int main(void) { cf_sink_opts o; cf_sink_opts_default(&o); return o.compression; }\n";
	cft::write_file(c, std::vector<uint8_t>(src.begin(), src.end()));
	cft::write_file(cxx, std::vector<uint8_t>(src.begin(), src.end()));
	std::string out;
	if (cft::run("command -v gcc && command -v g++", &out) != 0)
		GTEST_SKIP() << "gcc/g++ not on PATH";
	EXPECT_EQ(cft::run("gcc -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I" + cft::shq(inc) + " " +
	                       cft::shq(c),
	                   &out),
	          0)
	    << out;
	EXPECT_EQ(cft::run("g++ -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only -I" + cft::shq(inc) + " " +
	                       cft::shq(cxx),
	                   &out),
	          0)
	    << out;
}

TEST(TableSink, Registry)
{
	ASSERT_GE(cf_sink_count(), 2u);
	const cf_sink_ops *p = cf_sink_find("parquet");
	ASSERT_NE(p, nullptr);
	EXPECT_STREQ(p->extension, ".parquet");
	EXPECT_NE(cf_sink_find("csv"), nullptr);
	EXPECT_EQ(cf_sink_find("xlsx"), nullptr);
	EXPECT_EQ(cf_sink_find(nullptr), nullptr);
	for (uint32_t i = 0; i < cf_sink_count(); i++) {
		const cf_sink_ops *o = cf_sink_at(i);
		ASSERT_NE(o, nullptr);
		EXPECT_EQ(cf_sink_find(o->name), o);
		EXPECT_TRUE(o->open && o->write && o->close && o->abort) << o->name;
	}
	EXPECT_EQ(cf_sink_at(cf_sink_count()), nullptr);
	cf_sink_opts o;
	cf_sink_opts_default(&o);
	EXPECT_EQ(o.compression, CF_SINK_ZSTD);
	EXPECT_EQ(o.row_group_rows, 1u << 20);
	EXPECT_EQ(cf_sink_close(nullptr, nullptr, nullptr), CF_OK);
	cf_sink_abort(nullptr);
}

TEST(TableSink, CsvMatchesHandWrittenText)
{
	Schema k;
	ASSERT_EQ(k.add("ok", CF_DTYPE_BOOL), CF_OK);
	ASSERT_EQ(k.add("n", CF_DTYPE_INT64), CF_OK);
	ASSERT_EQ(k.add("u", CF_DTYPE_UINT64), CF_OK);
	ASSERT_EQ(k.add("v", CF_DTYPE_FLOAT32, 2), CF_OK);
	ASSERT_EQ(k.add("d", CF_DTYPE_FLOAT64, 1, "", "", CF_COLUMN_NULLABLE), CF_OK);
	ASSERT_EQ(k.add("s", CF_DTYPE_LARGE_STRING), CF_OK);
	uint8_t ok = 0x5; // 1, 0, 1
	int64_t n[3] = {-1, 0, INT64_MIN};
	uint64_t u[3] = {0, UINT64_MAX, 7};
	float v[6] = {0.1f, -0.0f, 1e30f, NAN, INFINITY, -INFINITY};
	double d[3] = {0.1, 0, 1.0 / 3};
	uint8_t dv = 0x5; // row 1 null
	const char text[] = "plainwith,comma\"q\"";
	int64_t off[4] = {0, 5, 15, 18};
	cf_table_batch b;
	ASSERT_EQ(cf_table_batch_init(&b, k.s, 3), CF_OK);
	cf_table_batch_set(&b, 0, &ok, nullptr, nullptr);
	cf_table_batch_set(&b, 1, n, nullptr, nullptr);
	cf_table_batch_set(&b, 2, u, nullptr, nullptr);
	cf_table_batch_set(&b, 3, v, nullptr, nullptr);
	cf_table_batch_set(&b, 4, d, nullptr, &dv);
	cf_table_batch_set(&b, 5, off, (const uint8_t *)text, nullptr);
	std::string path = cft::temp_path(".csv");
	cf_sink *sk = nullptr;
	ASSERT_EQ(cf_sink_open("csv", k.s, path.c_str(), nullptr, &sk, k.err), CF_OK) << k.err;
	ASSERT_EQ(cf_sink_write(sk, &b), CF_OK) << cf_sink_error(sk);
	cf_sink_stats st;
	ASSERT_EQ(cf_sink_close(sk, &st, k.err), CF_OK) << k.err;
	// floats: 9 significant digits for float32, 17 for float64 (round trip)
	const std::string want = "ok,n,u,v_0,v_1,d,s\n"
	                         "true,-1,0,0.100000001,-0,0.10000000000000001,plain\n"
	                         "false,0,18446744073709551615,1.00000002e+30,nan,,\"with,comma\"\n"
	                         "true,-9223372036854775808,7,inf,-inf,0.33333333333333331,\"\"\"q\"\"\"\n";
	EXPECT_EQ(cft::slurp(path), want);
	EXPECT_EQ(st.rows, 3u);
	EXPECT_EQ(st.bytes, want.size());
	cf_table_batch_free(&b);
}

} // namespace

// The Arrow C Data Interface export of column tables (cuflow/arrow.h,
// issue 25's first step): the ABI structs checked field by field here, and
// pyarrow importing them (tests/oracles/arrow_check_ctypes.py through
// libcuflow.so: every dtype, nulls, a vector column, offset strings, an
// empty batch, values compared with numpy). Releases run under ASan in CI.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuflow/arrow.h"
#include "cuflow/run.h"
#include "cuflow/status.h"
#include "test_util.h"

namespace {

struct Table {
  cf_table_schema *s = nullptr;
  Table() {
    char err[CF_ERRBUF_SIZE];
    EXPECT_EQ(cf_table_schema_create(&s, err), CF_OK);
    EXPECT_EQ(cf_table_schema_add(s, "id", CF_DTYPE_UINT64, 1, "", "the id", 0, err), CF_OK);
    EXPECT_EQ(cf_table_schema_add(s, "name", CF_DTYPE_STRING, 1, "", "", CF_COLUMN_NULLABLE, err), CF_OK);
    EXPECT_EQ(cf_table_schema_add(s, "sizes", CF_DTYPE_UINT16, 3, "bytes", "", 0, err), CF_OK);
  }
  ~Table() { cf_table_schema_free(s); }
};

TEST(ArrowExport, SchemaFields) {
  Table t;
  ArrowSchema a;
  char err[CF_ERRBUF_SIZE];
  ASSERT_EQ(cf_arrow_export_schema(t.s, &a, err), CF_OK) << err;
  EXPECT_STREQ(a.format, "+s");
  ASSERT_EQ(a.n_children, 3);
  EXPECT_STREQ(a.children[0]->format, "L");
  EXPECT_STREQ(a.children[0]->name, "id");
  EXPECT_EQ(a.children[0]->flags, 0);
  EXPECT_STREQ(a.children[1]->format, "u");
  EXPECT_EQ(a.children[1]->flags, ARROW_FLAG_NULLABLE);
  EXPECT_EQ(a.children[1]->metadata, nullptr);
  EXPECT_STREQ(a.children[2]->format, "+w:3");
  ASSERT_EQ(a.children[2]->n_children, 1);
  EXPECT_STREQ(a.children[2]->children[0]->format, "S");
  // metadata: one pair, "cuflow.unit" = "bytes"
  const char *m = a.children[2]->metadata;
  ASSERT_NE(m, nullptr);
  int32_t pairs, kl, vl;
  memcpy(&pairs, m, 4), memcpy(&kl, m + 4, 4), memcpy(&vl, m + 8 + kl, 4);
  EXPECT_EQ(pairs, 1);
  EXPECT_EQ(std::string(m + 8, kl), "cuflow.unit");
  EXPECT_EQ(std::string(m + 12 + kl, vl), "bytes");
  a.release(&a);
  EXPECT_EQ(a.release, nullptr);
}

TEST(ArrowExport, BatchBuffersNullsAndMovedChild) {
  Table t;
  // 3 rows: strings with offsets starting at 2, row 1 null
  uint64_t ids[3] = {7, 8, 9};
  int32_t off[4] = {2, 5, 5, 9};
  const char data[] = "xxabcwxyz";
  uint8_t valid = 0x5;  // rows 0 and 2
  uint16_t sizes[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  cf_table_batch b;
  ASSERT_EQ(cf_table_batch_init(&b, t.s, 3), CF_OK);
  cf_table_batch_set(&b, 0, ids, nullptr, nullptr);
  cf_table_batch_set(&b, 1, off, reinterpret_cast<const uint8_t *>(data), &valid);
  cf_table_batch_set(&b, 2, sizes, nullptr, nullptr);
  ArrowArray a;
  char err[CF_ERRBUF_SIZE];
  ASSERT_EQ(cf_arrow_export_batch(t.s, &b, &a, err), CF_OK) << err;
  cf_table_batch_free(&b);
  ids[0] = 0, sizes[0] = 0;  // the export holds its own copy
  EXPECT_EQ(a.length, 3);
  ASSERT_EQ(a.n_children, 3);
  const ArrowArray *id = a.children[0], *name = a.children[1], *sz = a.children[2];
  EXPECT_EQ(id->n_buffers, 2);
  EXPECT_EQ(id->buffers[0], nullptr);
  EXPECT_EQ(static_cast<const uint64_t *>(id->buffers[1])[0], 7u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(id->buffers[1]) % 64, 0u);
  EXPECT_EQ(name->null_count, 1);
  const int32_t *o = static_cast<const int32_t *>(name->buffers[1]);
  EXPECT_EQ(o[0], 0);
  EXPECT_EQ(o[3], 7);
  EXPECT_EQ(std::string(static_cast<const char *>(name->buffers[2]), 7), "abcwxyz");
  ASSERT_EQ(sz->n_children, 1);
  EXPECT_EQ(sz->children[0]->length, 9);
  EXPECT_EQ(static_cast<const uint16_t *>(sz->children[0]->buffers[1])[0], 1);
  // a consumer may move a child out and release it after the parent
  ArrowArray moved = *a.children[1];
  a.children[1]->release = nullptr;
  a.release(&a);
  EXPECT_EQ(std::string(static_cast<const char *>(moved.buffers[2]), 3), "abc");
  moved.release(&moved);
  // a batch that does not fit is refused, the output untouched
  cf_table_batch bad;
  ASSERT_EQ(cf_table_batch_init(&bad, t.s, 3), CF_OK);
  ArrowArray untouched;
  untouched.release = nullptr;
  EXPECT_EQ(cf_arrow_export_batch(t.s, &bad, &untouched, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("no values"), std::string::npos) << err;
  EXPECT_EQ(untouched.release, nullptr);
  cf_table_batch_free(&bad);
}

TEST(ArrowExport, PyarrowImportsEveryDtype) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow");
  if (py.empty()) GTEST_SKIP() << "pyarrow not importable (bash .ci/deps.sh makes build/arrow-venv)";
  std::string out;
  int rc = cft::run(cft::ctypes_oracle_cmd(py, lib, "arrow_check_ctypes.py", "--rows 2000"), &out);
  EXPECT_EQ(rc, 0) << out;
  std::printf("%s", out.c_str());
}

// cf_arrow_stream_open: the "sessions" producer over real captures as a
// record batch stream, read by pyarrow, equal to what `cuflow sessions`
// wrote to SQLite from the same captures (with 2 workers, so the order is
// the run's, not a worker's).
TEST(ArrowExport, StreamOfARunEqualsTheSessionsDatabase) {
  std::string shared = cft::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared absent";
  if (!cft::exists("/usr/share/ieee-data/oui.csv")) GTEST_SKIP() << "ieee-data not installed";
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow");
  if (py.empty()) GTEST_SKIP() << "pyarrow not importable (bash .ci/deps.sh makes build/arrow-venv)";
  std::string caps;
  for (const char *p : {"PcapPlusPlus/ExamplesTest/pcap_examples/many-protocols.pcap", "gopacket/test_dns.pcap",
                        "nfstream/pcaps/instagram.pcap", "tcpdump/dhcp-rfc5859.pcap"})
    caps += " " + cft::shq(shared + "/captures/" + p);
  std::string db = cft::temp_path("stream.sqlite"), out;
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " sessions -q -o " + cft::shq(db) + caps, &out), 0) << out;
  int rc = cft::run(cft::ctypes_oracle_cmd(py, lib, "arrow_check_ctypes.py",
                                           "--rows 10 --jobs 2 --stream-db " + cft::shq(db) + " --captures" + caps),
                    &out);
  EXPECT_EQ(rc, 0) << out;
  std::printf("%s", out.c_str());
}

// The stream from C: every batch, the end, and an early release.
TEST(ArrowExport, StreamFromCReleasesEarly) {
  std::string cap = cft::temp_path("s.pcap");
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth --flows 300 -o " + cft::shq(cap)), 0);
  const char *in[] = {cap.c_str(), cap.c_str()};  // the second is a duplicate: skipped
  char err[CF_ERRBUF_SIZE];
  ArrowArrayStream st;
  ASSERT_EQ(cf_arrow_stream_open("flows", in, 2, nullptr, 2, 1, nullptr, &st, err), CF_OK) << err;
  ArrowSchema sch;
  ASSERT_EQ(st.get_schema(&st, &sch), 0);
  EXPECT_STREQ(sch.format, "+s");
  EXPECT_STREQ(sch.children[0]->name, "id");
  sch.release(&sch);
  int64_t rows = 0;
  for (;;) {
    ArrowArray a;
    ASSERT_EQ(st.get_next(&st, &a), 0) << st.get_last_error(&st);
    if (!a.release) break;
    rows += a.length;
    a.release(&a);
  }
  EXPECT_GT(rows, 290);  // synth's flows (a few split by timeouts)
  st.release(&st);
  EXPECT_EQ(st.release, nullptr);
  // released before reading anything: the run stops
  ASSERT_EQ(cf_arrow_stream_open("flows", in, 1, "flows", 1, 1, "idle_timeout=5", &st, err), CF_OK) << err;
  st.release(&st);
  EXPECT_EQ(cf_arrow_stream_open("netml", in, 1, nullptr, 1, 1, nullptr, &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("no producer netml"), std::string::npos) << err;
  EXPECT_EQ(cf_arrow_stream_open("flows", in, 1, nullptr, 1, 1, "idle=3", &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("has no option idle (its options: idle_timeout"), std::string::npos) << err;
  EXPECT_EQ(cf_arrow_stream_open("windows", in, 1, nullptr, 1, 1, "window=0", &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("option window: want seconds"), std::string::npos) << err;
}

}  // namespace

namespace {

// The Python package (python/cuflow, ctypes over libcuflow.so's stream):
// summary, flows and sessions equal the command line's outputs, a missing
// input raises cuflow.Error naming it (tests/oracles/python_package_check.py).
TEST(PythonPackage, TablesEqualTheCommandLine) {
  std::string shared = cft::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "../shared absent";
  if (!cft::exists("/usr/share/ieee-data/oui.csv")) GTEST_SKIP() << "ieee-data not installed";
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow");
  if (py.empty()) GTEST_SKIP() << "pyarrow not importable (bash .ci/deps.sh makes build/arrow-venv)";
  std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
  std::string cap = cft::temp_path("py.pcap"), out;
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth --flows 300 -o " + cft::shq(cap)), 0);
  std::string cmd = lib.preload + "CUFLOW_LIBRARY=" + cft::shq(lib.path) + " PYTHONPATH=" + cft::shq(src + "/python") +
                    " " + cft::shq(py) + " " + cft::shq(src + "/tests/oracles/python_package_check.py") +
                    " --cuflow " + cft::shq(cft::cuflow_bin()) + " " + cft::shq(cap) + " " +
                    cft::shq(shared + "/captures/nfstream/pcaps/instagram.pcap");
  int rc = cft::run(cmd, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("python package:"), std::string::npos) << out;
}

// The stream's batches reach pyarrow without a copy (the buffer addresses
// the C side exported are pyarrow's), stay readable after the stream is
// released, and 1,000 runs do not grow the resident set
// (tests/oracles/arrow_zero_copy_check.py).
TEST(PythonPackage, ZeroCopySafeAndNoLeak) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow");
  if (py.empty()) GTEST_SKIP() << "pyarrow not importable (bash .ci/deps.sh makes build/arrow-venv)";
  std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
  std::string cap = cft::temp_path("zc.pcap"), out;
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 40 --seed 3 -o " + cft::shq(cap)), 0);
  std::string cmd = lib.preload + "CUFLOW_LIBRARY=" + cft::shq(lib.path) + " PYTHONPATH=" + cft::shq(src + "/python") +
                    " " + cft::shq(py) + " " + cft::shq(src + "/tests/oracles/arrow_zero_copy_check.py") + " " +
                    cft::shq(cap) + (cft::sanitized() ? " 100" : " 1000");
  int rc = cft::run(cmd, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("arrow zero-copy:"), std::string::npos) << out;
}

}  // namespace

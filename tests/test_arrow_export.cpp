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
  EXPECT_EQ(cf_arrow_stream_open("netmI", in, 1, nullptr, 1, 1, nullptr, &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("no producer netmI"), std::string::npos) << err;
  EXPECT_LT(cf_arrow_stream_open("netml", in, 1, nullptr, 1, 1, nullptr, &st, err), 0);  // no dim
  EXPECT_NE(std::string(err).find("set dim"), std::string::npos) << err;
  EXPECT_EQ(cf_arrow_stream_open("netml", in, 1, "IATT", 1, 1, "dim=8", &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("netml has no type IATT"), std::string::npos) << err;
  EXPECT_EQ(cf_arrow_stream_open("flows", in, 1, nullptr, 1, 1, "idle=3", &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("has no option idle (its options: idle_timeout"), std::string::npos) << err;
  EXPECT_EQ(cf_arrow_stream_open("windows", in, 1, nullptr, 1, 1, "window=0", &st, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("option window: want seconds"), std::string::npos) << err;
}

}  // namespace

namespace {

// The Python package's pytest suite (python/tests), one file per test here,
// with the build's library and command line: CUFLOW_LIBRARY, CUFLOW_BIN,
// PYTHONPATH=python; under the sanitizers the runtime is preloaded into the
// interpreter. `py` is a venv's python with pytest and pyarrow.
void run_pytest(const std::string &py, const cft::CtypesLib &lib, const std::string &file,
                const std::string &env = "") {
  std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR), out;
  int rc = cft::run("cd / && " + lib.preload + env + "CUFLOW_LIBRARY=" + cft::shq(lib.path) + " CUFLOW_BIN=" +
                        cft::shq(cft::cuflow_bin()) + " PYTHONPATH=" + cft::shq(src + "/python") +
                        " PYTHONDONTWRITEBYTECODE=1 " + cft::shq(py) + " -m pytest -q -rs -p no:cacheprovider " +
                        cft::shq(src + "/python/tests/" + file) + " 2>&1",
                    &out);
  EXPECT_EQ(rc, 0) << out;
  std::cout << out.substr(out.size() > 1500 ? out.size() - 1500 : 0);
}

std::string arrow_python() {
  return cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow, pandas, numpy, pytest");
}

// python/tests/test_tables.py: every function's table equals the command
// line's output for the same inputs and options, value for value (flows,
// windows, features, netml, flowpic against their Parquet files; flows
// against the CSV; summary against info; sessions against the SQLite
// database); labels, presets, compat, hook_thread, continuous (editcap),
// progress, inputs(); bad options, missing and damaged inputs raise.
TEST(PythonPackage, TablesEqualTheCommandLine) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = arrow_python();
  if (py.empty()) GTEST_SKIP() << "pyarrow/pandas/pytest not importable (bash .ci/deps.sh makes build/arrow-venv)";
  run_pytest(py, lib, "test_tables.py");
}

// python/tests/test_zero_copy.py: pyarrow's buffers are at the addresses
// the library exported (82 of 82 columns), a batch outlives its stream,
// and 1,000 calls (100 under the sanitizers) do not grow the resident set.
TEST(PythonPackage, ZeroCopySafeAndNoLeak) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = arrow_python();
  if (py.empty()) GTEST_SKIP() << "pyarrow/pandas/pytest not importable (bash .ci/deps.sh makes build/arrow-venv)";
  run_pytest(py, lib, "test_zero_copy.py", cft::sanitized() ? "CUFLOW_LEAK_RUNS=100 " : "");
}

// python/tests/test_torch.py: FlowDataset through a DataLoader with 2
// workers gives every row of three captures once, with extract's feature,
// sequence and label values, also in batches, for one input, in continuous
// mode and from an extract directory in shards; load_model's modules give
// `cuflow predict`'s probabilities (flowpic-mini, official FlowPic) and the
// nested model's test loss and predictions. PyTorch is not installed by
// .ci/deps.sh (several GB; CUFLOW_DEPS_TORCH=1 makes build/torch-venv): the
// test skips without it (CUFLOW_TORCH_PYTHON, build/torch-venv) and under the
// sanitizers.
TEST(PythonPackage, TorchDatasetAndModels) {
  if (cft::sanitized()) GTEST_SKIP() << "PyTorch is not run under the sanitizers";
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py = cft::venv_python("CUFLOW_TORCH_PYTHON", "torch-venv", "torch, pyarrow, pytest");
  if (py.empty()) GTEST_SKIP() << "torch, pyarrow and pytest not importable (CUFLOW_TORCH_PYTHON or build/torch-venv)";
  run_pytest(py, lib, "test_torch.py");
}

// `pip install ./python` in a new venv (python3 -m venv, nothing else in
// it): the wheel bundles the build's libcuflow.so (python/setup.py), and the
// installed package, run from elsewhere with no CUFLOW_LIBRARY or
// PYTHONPATH, loads its own copy and gives `cuflow flows`' rows. pip fetches
// setuptools and pyarrow from PyPI (its cache after the first time): the test
// skips when the index cannot be reached.
TEST(PythonPackage, PipInstallInAFreshVenv) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  if (cft::run("python3 -c 'import venv, ensurepip' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3-venv missing";
  std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
  std::string bin = cft::cuflow_bin();
  std::string dir = bin.substr(0, bin.rfind('/'));
  std::string venv = cft::temp_path("venv"), cap = cft::temp_path("pip.pcap"), csv = cft::temp_path("pip.csv"), out;
  ASSERT_EQ(cft::run(cft::shq(bin) + " synth -q --flows 120 --seed 5 -o " + cft::shq(cap) + " && " + cft::shq(bin) +
                     " flows -q " + cft::shq(cap) + " -o " + cft::shq(csv)),
            0);
  int rc = cft::run("env -u CUFLOW_LIBRARY -u PYTHONPATH -u LD_PRELOAD CUFLOW_BUILD_DIR=" + cft::shq(dir) +
                        " sh -c 'python3 -m venv " + cft::shq(venv) + " && " + cft::shq(venv + "/bin/pip") +
                        " install -q --disable-pip-version-check " + cft::shq(src + "/python") + "' 2>&1",
                    &out);
  if (rc != 0 && (out.find("NewConnectionError") != std::string::npos ||
                  out.find("Temporary failure in name resolution") != std::string::npos ||
                  out.find("No matching distribution found for setuptools") != std::string::npos ||
                  out.find("Could not find a version that satisfies the requirement setuptools") != std::string::npos))
    GTEST_SKIP() << "PyPI not reachable: " << out;
  ASSERT_EQ(rc, 0) << out;
  std::string check =
      "import cuflow, os, sys\n"
      "p = cuflow.library_path()\n"
      "assert p.startswith(sys.prefix) and os.path.isfile(p), p\n"
      "t = cuflow.flows(sys.argv[1])\n"
      "print('installed', p, t.num_rows)\n";
  std::string py = cft::temp_path("pipcheck.py");
  cft::write_file(py, std::vector<uint8_t>(check.begin(), check.end()));
  rc = cft::run("cd / && env -u CUFLOW_LIBRARY -u PYTHONPATH " + lib.preload + cft::shq(venv + "/bin/python") + " " +
                    cft::shq(py) + " " + cft::shq(cap) + " 2>&1",
                &out);
  ASSERT_EQ(rc, 0) << out;
  size_t lines = 0;
  for (const std::string &l : cft::split(cft::slurp(csv), '\n')) lines += !l.empty();
  EXPECT_NE(out.find("installed " + venv + "/lib/"), std::string::npos) << out;
  EXPECT_NE(out.find(" " + std::to_string(lines - 1) + "\n"), std::string::npos) << out << " want rows " << lines - 1;
  cft::run("rm -rf " + cft::shq(venv));
}


// python/tests/test_docs_examples.py: docs/python.md's examples run (seed
// 001's windows plot, polars and DuckDB, and where PyTorch is importable,
// not under the sanitizers, seed 003's sequences and nested model and seed
// 004's FlowPic CNN).
TEST(PythonPackage, DocsExamplesRun) {
  cft::CtypesLib lib = cft::ctypes_lib();
  if (lib.path.empty()) GTEST_SKIP() << lib.problem;
  std::string py;
  if (!cft::sanitized())
    py = cft::venv_python("CUFLOW_TORCH_PYTHON", "torch-venv", "torch, pyarrow, pandas, matplotlib, pytest");
  if (py.empty()) py = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow, pandas, matplotlib, pytest");
  if (py.empty()) GTEST_SKIP() << "pyarrow, pandas, matplotlib, pytest not importable (bash .ci/deps.sh)";
  run_pytest(py, lib, "test_docs_examples.py", cft::sanitized() ? "CFT_SANITIZED=1 " : "");
}

}  // namespace

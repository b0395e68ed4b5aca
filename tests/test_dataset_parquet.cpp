// `cuflow extract|netml|flowpic --format parquet` (the library's column
// tables cf_feature_rows, cf_netml_table, cf_flowpic_index through its
// Parquet sink) against the npy / CSV outputs of the same input, read by
// independent readers (tests/oracles/dataset_parquet_oracle.py): pyarrow
// and DuckDB for the Parquet files, numpy for the npy files, Python's csv
// module for the CSV files. Integers and timestamps exact, strings equal,
// floats bitwise and of the same width (float32 features stay float32).
//
//   extract: features.parquet vs features.npy, sequences.npy, lengths.npy,
//            labels.npy and flows.csv (float32 and float64, with and
//            without sequences and labels, labels per directory, a label
//            CSV-quoting would change, batches crossed, real captures);
//   netml:   every <TYPE>.parquet vs <TYPE>.csv + subflows.csv + labels.csv
//            of a --format csv run and <TYPE>.npy of an npy run (all six
//            types, header and FFT, the IPv6 pseudo-flow, netml's demo
//            capture and labels when ../shared has them);
//   flowpic: index.parquet vs index.csv and labels.npy; the images are
//            the same files in both formats.
// Plus the failure paths (a final name that cannot be created, options
// that do not combine) and the library calls' argument checks.
#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

std::string arrow_python()
{
	return cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "duckdb");
}

std::string oracle()
{
	return cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/dataset_parquet_oracle.py";
}

std::string bin() { return cft::shq(cft::cuflow_bin()); }

std::string synth(const std::string &args)
{
	std::string cap = cft::temp_path(".pcap"), log;
	EXPECT_EQ(cft::run(bin() + " synth -q " + args + " -o " + cft::shq(cap), &log), 0) << log;
	return cap;
}

// Runs the oracle; "" when it says ok, else its output. Skips (returns
// "skip") without pyarrow/duckdb.
std::string run_oracle(const std::string &args)
{
	std::string py = arrow_python();
	if (py.empty())
		return "skip";
	std::string out;
	int rc = cft::run(cft::shq(py) + " " + cft::shq(oracle()) + " " + args, &out);
	if (rc == 0 && out.rfind("ok ", 0) == 0)
		return "";
	return out.empty() ? "oracle exit " + std::to_string(rc) : out;
}

#define EXPECT_ORACLE_OK(args, what)                                                                       \
	do {                                                                                                   \
		std::string o_ = run_oracle(args);                                                                 \
		if (o_ == "skip")                                                                                  \
			GTEST_SKIP() << "pyarrow/duckdb are not importable (bash .ci/deps.sh makes build/arrow-venv): " \
			                "Parquet written, not compared";                                               \
		EXPECT_EQ(o_, "") << what;                                                                         \
	} while (0)

// ------------------------------------------------------------------ extract

// extract twice on the same input, npy and parquet; then the oracle.
void expect_extract_same(const std::string &caps, const std::string &extra)
{
	std::string npy = cft::temp_path("-npy"), pq = cft::temp_path("-pq"), log;
	std::string base = bin() + " extract -q" + extra + " " + caps;
	ASSERT_EQ(cft::run(base + " -o " + cft::shq(npy), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " --format parquet -o " + cft::shq(pq), &log), 0) << log;
	ASSERT_TRUE(cft::exists(pq + "/features.parquet"));
	ASSERT_TRUE(cft::exists(pq + "/schema.json"));
	for (const char *f : {"features.npy", "sequences.npy", "lengths.npy", "labels.npy", "flows.csv"})
		EXPECT_FALSE(cft::exists(pq + "/" + f)) << f << " written with --format parquet";
	EXPECT_ORACLE_OK("extract " + cft::shq(pq) + " " + cft::shq(npy), caps + extra);
}

TEST(ExtractParquet, EqualsNpyRunOnSyntheticCaptures)
{
	std::string cap = synth("--flows 2000 --seed 21");
	expect_extract_same(cft::shq(cap), " --label demo");                   // float32, 30-packet sequences
	expect_extract_same(cft::shq(cap), " --dtype float64 --seq 5 --seq-pad nan");  // no labels
	expect_extract_same(cft::shq(cap), " --seq 0 --label 'web,\"x\"'");     // no sequences; quoted in flows.csv
	expect_extract_same(cft::shq(cap), " --unidirectional --size payload --dtype float64 --seq-pad -1");
}

TEST(ExtractParquet, EqualsNpyRunAcrossBatches)
{
	// float64 with 30-packet sequences: 22,310 rows a batch
	std::string cap = synth("--flows 25000 --seed 22 --duration 20");
	expect_extract_same(cft::shq(cap), " --dtype float64 --label big --threads 2");
}

TEST(ExtractParquet, LabelsPerDirectory)
{
	std::string base = cft::temp_path("-dirs");
	ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/chat").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/voip").c_str(), 0755), 0);
	std::string a = base + "/chat/a.pcap", b = base + "/voip/b.pcap", c = base + "/chat/c.pcap", log;
	ASSERT_EQ(cft::run(bin() + " synth -q --flows 300 --seed 1 -o " + cft::shq(a), &log), 0) << log;
	ASSERT_EQ(cft::run(bin() + " synth -q --flows 200 --seed 2 -o " + cft::shq(b), &log), 0) << log;
	ASSERT_EQ(cft::run(bin() + " synth -q --flows 100 --seed 3 -o " + cft::shq(c), &log), 0) << log;
	expect_extract_same(cft::shq(a) + " " + cft::shq(b) + " " + cft::shq(c), " --label-from-dir");
}

TEST(ExtractParquet, EqualsNpyRunOnRealCaptures)
{
	std::string dir = cft::shared_dir();
	if (dir.empty())
		GTEST_SKIP() << "needs ../shared/captures (absent)";
	int n = 0;
	for (const char *name : {"nfstream/pcaps/instagram.pcap", "nfstream/pcaps/6in4tunnel.pcap",
	                         "nfstream/pcaps/gtp-u.pcap"}) {
		std::string cap = dir + "/captures/" + name;
		if (!cft::exists(cap))
			continue;
		n++;
		expect_extract_same(cft::shq(cap), " --compat nfstream --label real");
	}
	if (!n)
		GTEST_SKIP() << "none of the listed ../shared/captures/nfstream captures is present";
}

TEST(ExtractParquet, UnwritableTableIsAnErrorNamingItAndLeavesNoFile)
{
	std::string cap = synth("--flows 50 --seed 5"), dir = cft::temp_path("-pq"), log;
	ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
	// a directory in the way of the final name: the rename fails (even as root)
	std::string target = dir + "/features.parquet";
	ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
	int rc = cft::run(bin() + " extract -q --format parquet " + cft::shq(cap) + " -o " + cft::shq(dir), &log);
	EXPECT_EQ(rc, 1) << log;
	EXPECT_NE(log.find(target), std::string::npos) << "the message must name the path: " << log;
	std::string ls;
	cft::run("ls -A " + cft::shq(dir), &ls);
	EXPECT_EQ(ls, "features.parquet\n") << "no temporary file or schema.json left";
}

TEST(ExtractParquet, ShardRowsAndUnknownFormatAreUsageErrors)
{
	std::string cap = synth("--flows 20 --seed 6"), dir = cft::temp_path("-pq"), log;
	EXPECT_EQ(cft::run(bin() + " extract -q --format parquet --shard-rows 10 " + cft::shq(cap) + " -o " +
	                       cft::shq(dir),
	                   &log),
	          1)
	    << log;
	EXPECT_EQ(cft::run(bin() + " extract -q --format xlsx " + cft::shq(cap) + " -o " + cft::shq(dir), &log), 1)
	    << log;
}

// ------------------------------------------------------------------ netml

// netml three times (csv, npy, parquet); then the oracle.
void expect_netml_same(const std::string &cap, const std::string &opts)
{
	std::string csv = cft::temp_path("-csv"), npy = cft::temp_path("-npy"), pq = cft::temp_path("-pq"), log;
	std::string base = bin() + " netml -q " + opts + " " + cft::shq(cap);
	ASSERT_EQ(cft::run(base + " --format csv -o " + cft::shq(csv), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " -o " + cft::shq(npy), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " --format parquet -o " + cft::shq(pq), &log), 0) << log;
	EXPECT_FALSE(cft::exists(pq + "/subflows.csv"));
	EXPECT_TRUE(cft::exists(pq + "/meta.json"));
	EXPECT_ORACLE_OK("netml " + cft::shq(pq) + " " + cft::shq(csv) + " " + cft::shq(npy), cap + " " + opts);
}

const std::string kAllTypes = "--type IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE";

TEST(NetmlParquet, EqualsCsvAndNpyRunsOnSyntheticCaptures)
{
	// IPv6 flows there: netml's pseudo-flow ('' addresses, -1 ports)
	std::string cap = synth("--flows 800 --seed 31");
	expect_netml_same(cap, kAllTypes + " --header --label 1");
	expect_netml_same(cap, kAllTypes + " --fft");
	expect_netml_same(cap, "--type IAT_SIZE,STATS --fixed all --header --fft --label 7");
}

TEST(NetmlParquet, EqualsCsvAndNpyRunsOnNetmlDemo)
{
	std::string s = cft::shared_dir();
	if (s.empty() || !cft::exists(s + "/data/netml/demo.pcap"))
		GTEST_SKIP() << "../shared/data/netml not available";
	expect_netml_same(s + "/data/netml/demo.pcap",
	                  kAllTypes + " --header --labels " + cft::shq(s + "/data/netml/demo.csv"));
}

TEST(NetmlParquet, UnwritableTableIsAnErrorNamingIt)
{
	std::string cap = synth("--flows 100 --seed 7"), dir = cft::temp_path("-pq"), log;
	ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
	std::string target = dir + "/STATS.parquet";
	ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
	int rc = cft::run(bin() + " netml -q --type STATS --format parquet " + cft::shq(cap) + " -o " + cft::shq(dir),
	                  &log);
	EXPECT_EQ(rc, 1) << log;
	EXPECT_NE(log.find(target), std::string::npos) << log;
	std::string ls;
	cft::run("ls -A " + cft::shq(dir), &ls);
	EXPECT_EQ(ls, "STATS.parquet\n");
}

// ------------------------------------------------------------------ flowpic

void expect_flowpic_same(const std::string &caps, const std::string &opts)
{
	std::string csv = cft::temp_path("-csv"), pq = cft::temp_path("-pq"), log;
	std::string base = bin() + " flowpic -q " + opts + " " + caps;
	ASSERT_EQ(cft::run(base + " -o " + cft::shq(csv), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " --format parquet -o " + cft::shq(pq), &log), 0) << log;
	EXPECT_FALSE(cft::exists(pq + "/index.csv"));
	// the images (and label ids) are the same files
	for (const char *f : {"flowpic.npy", "labels.npy"}) {
		EXPECT_EQ(cft::exists(csv + "/" + f), cft::exists(pq + "/" + f)) << f;
		if (cft::exists(csv + "/" + f)) {
			EXPECT_TRUE(cft::read_file(csv + "/" + f) == cft::read_file(pq + "/" + f)) << f << " " << opts;
		}
	}
	EXPECT_ORACLE_OK("flowpic " + cft::shq(pq) + " " + cft::shq(csv), caps + " " + opts);
}

TEST(FlowpicParquet, IndexEqualsIndexCsv)
{
	std::string cap = synth("--flows 600 --seed 41");
	expect_flowpic_same(cft::shq(cap), "--preset mini --label 'web, \"x\" é'"); // quoted in index.csv
	expect_flowpic_same(cft::shq(cap), "--resolution 16 --window 5 --step 2 --min-span -1 --min-packets 2 "
	                                   "--sessions bidir --direction 2ch --ipv6");
}

TEST(FlowpicParquet, LabelsPerDirectory)
{
	std::string base = cft::temp_path("-dirs"), log;
	ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/chat").c_str(), 0755), 0);
	ASSERT_EQ(mkdir((base + "/voip").c_str(), 0755), 0);
	std::string a = base + "/chat/a.pcap", b = base + "/voip/b.pcap";
	ASSERT_EQ(cft::run(bin() + " synth -q --flows 200 --seed 1 -o " + cft::shq(a), &log), 0) << log;
	ASSERT_EQ(cft::run(bin() + " synth -q --flows 200 --seed 2 -o " + cft::shq(b), &log), 0) << log;
	expect_flowpic_same(cft::shq(a) + " " + cft::shq(b), "--preset mini --label-from-dir --ipv6");
}

TEST(FlowpicParquet, UnwritableIndexIsAnErrorNamingIt)
{
	std::string cap = synth("--flows 100 --seed 8"), dir = cft::temp_path("-pq"), log;
	ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
	std::string target = dir + "/index.parquet";
	ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
	int rc = cft::run(bin() + " flowpic -q --preset mini --format parquet " + cft::shq(cap) + " -o " + cft::shq(dir),
	                  &log);
	EXPECT_EQ(rc, 1) << log;
	EXPECT_NE(log.find(target), std::string::npos) << log;
	EXPECT_FALSE(cft::exists(dir + "/index.csv"));
}

// ------------------------------------------------------------------ library

TEST(DatasetTables, ArgumentChecks)
{
	char err[CF_ERRBUF_SIZE];
	cf_feature_rows *fr = nullptr;
	cf_feature_rows_opts o = {};
	EXPECT_EQ(cf_feature_rows_create(&o, &fr, err), CF_ERR_ARG); // capacity 0
	o.capacity = 1;
	o.seq_len = 4097;
	EXPECT_EQ(cf_feature_rows_create(&o, &fr, err), CF_ERR_ARG);
	o.seq_len = 2;
	o.labels = 1;
	ASSERT_EQ(cf_feature_rows_create(&o, &fr, err), CF_OK) << err;
	const cf_table_schema *s = cf_feature_rows_schema(fr);
	// 13 identity columns, 2 label columns, 66 features, 4 sequence columns
	EXPECT_EQ(cf_table_schema_columns(s), 13u + 2u + CF_FLOW_FEATURES + 4u);
	EXPECT_EQ(cf_table_schema_column(s, cf_table_schema_find(s, "seq_size"))->width, 2u);
	EXPECT_EQ(cf_table_schema_column(s, cf_table_schema_find(s, "bidirectional_mean_ps"))->dtype, CF_DTYPE_FLOAT32);
	cf_flow_record rec = {};
	rec.ip_version = 4;
	uint32_t sz[1] = {60};
	int64_t iat[1] = {0};
	int8_t dir[1] = {1};
	rec.seq_n = 1;
	rec.seq_size = sz;
	rec.seq_iat_ns = iat;
	rec.seq_dir = dir;
	EXPECT_EQ(cf_feature_rows_add(fr, &rec, 0, 3, "x"), CF_OK);
	EXPECT_TRUE(cf_feature_rows_full(fr));
	EXPECT_EQ(cf_feature_rows_add(fr, &rec, 1, 3, "x"), CF_ERR_ARG);
	EXPECT_EQ(cf_table_batch_check(s, cf_feature_rows_batch(fr), err), CF_OK) << err;
	cf_feature_rows_free(fr);
	EXPECT_STREQ(cf_flow_feature_name(0), "bidirectional_packets");
	EXPECT_STREQ(cf_flow_feature_name(CF_FLOW_FEATURES - 1), "dst2src_fin_packets");
	EXPECT_EQ(cf_flow_feature_name(CF_FLOW_FEATURES), nullptr);

	cf_flowpic_index *fx = nullptr;
	EXPECT_EQ(cf_flowpic_index_create(0, 0, &fx, err), CF_ERR_ARG);
	ASSERT_EQ(cf_flowpic_index_create(4, 0, &fx, err), CF_OK) << err;
	EXPECT_EQ(cf_table_schema_columns(cf_flowpic_index_schema(fx)), 8u);
	cf_flowpic_index_free(fx);

	cf_netml *h = nullptr;
	cf_netml_opts no;
	cf_netml_opts_default(&no);
	ASSERT_EQ(cf_netml_open(&no, &h, err), CF_OK) << err;
	cf_netml_table *t = nullptr;
	EXPECT_EQ(cf_netml_table_create(h, CF_NETML_IAT, 0, 0, 0, 16, &t, err), CF_ERR_ARG); // not finished
	EXPECT_EQ(t, nullptr);
	EXPECT_EQ(cf_netml_table_create(h, CF_NETML_TYPE_COUNT, 0, 0, 0, 16, &t, err), CF_ERR_ARG);
	cf_netml_close(h);
}

} // namespace

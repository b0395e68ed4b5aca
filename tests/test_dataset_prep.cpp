// `cuflow dataset` (docs/dataset.md): a training set from a sessions
// database, checked by an independent oracle (tests/oracles/
// dataset_prep_ref.py: pandas + scikit-learn recompute the labels, the
// scale, the category maps and the DNS one-hot columns, X compared
// bitwise; the split's properties checked and its documented algorithm
// run again). The fixture database is written by the same script with
// Python's sqlite3 (any python3), the comparisons need build/sk-venv
// (bash .ci/deps.sh) and skip without it.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace {

std::string bin() { return cft::shq(cft::cuflow_bin()); }

std::string script()
{
	return cft::shq(cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/tests/oracles/dataset_prep_ref.py");
}

// A python with numpy, pandas and scikit-learn ($CUFLOW_SK_PYTHON,
// build/sk-venv, python3), or "".
std::string sk_python()
{
	return cft::venv_python("CUFLOW_SK_PYTHON", "sk-venv", "numpy, pandas, sklearn");
}

const char seed_sql[] = "select s.srcport, s.dstport, s.lensum, s.pktcount,\n"
                        "       abs(s.endtime - s.starttime) as durn, d.manufacturer, d.device_type\n"
                        "from sessions s inner join v_session_mnf_devicetype d on s.sessionid = d.sessionid\n"
                        "where d.device_type is not null";

// The default query's text (the seed's select list plus d.mac).
const char default_sql[] =
	"select s.srcport, s.dstport, s.lensum, s.pktcount,\n"
	"       abs(s.endtime - s.starttime) as durn, d.manufacturer, d.device_type, d.mac\n"
	"from sessions s inner join v_session_mnf_devicetype d on s.sessionid = d.sessionid\n"
	"where d.device_type is not null";

const char mixed_sql[] =
	"select s.srcport, s.dstport, 7 as konst, s.starttime - 1.6e9 as t,"
	" case when s.lensum > 1000 then null else s.lensum end as small, d.device_type, d.mac"
	" from sessions s join v_session_mnf_devicetype d on s.sessionid = d.sessionid where d.device_type is not null";

const char dns_only_sql[] = "select d.device_type, d.mac from v_session_mnf_devicetype d"
                            " where d.device_type is not null; -- nothing but DNS columns";

// The fixture database, written once per process.
const std::string &fixture_db()
{
	static std::string db = [] {
		std::string p = cft::temp_path("-sessions.sqlite"), out;
		int rc = cft::run("python3 " + script() + " fixture " + cft::shq(p) + " --sessions 2000 --devices 30", &out);
		EXPECT_EQ(rc, 0) << out;
		return p;
	}();
	return db;
}

// Runs cuflow dataset; the exit status, output in *log.
int dataset(const std::string &db, const std::string &dir, const std::string &opts, std::string *log)
{
	return cft::run(bin() + " dataset " + cft::shq(db) + " -o " + cft::shq(dir) + " " + opts, log);
}

// The oracle's verdict: "" when ok, "skip" without scikit-learn, else its output.
std::string oracle(const std::string &args, std::string *out_ok = nullptr)
{
	std::string py = sk_python();
	if (py.empty())
		return "skip";
	std::string out;
	int rc = cft::run(cft::shq(py) + " " + script() + " " + args, &out);
	if (rc == 0 && out.find("ok ") != std::string::npos) {
		if (out_ok)
			*out_ok = out;
		return "";
	}
	return out.empty() ? "oracle exit " + std::to_string(rc) : out;
}

#define EXPECT_ORACLE(args)                                                                                \
	do {                                                                                                   \
		std::string o_ = oracle(args);                                                                     \
		if (o_ == "skip")                                                                                  \
			GTEST_SKIP() << "numpy/pandas/scikit-learn not importable (bash .ci/deps.sh makes build/sk-venv)"; \
		EXPECT_EQ(o_, "");                                                                                 \
	} while (0)

const char *const files[] = {"X_train.npy", "X_val.npy", "X_test.npy", "y_train.npy", "y_val.npy",
                             "y_test.npy", "idx_train.npy", "idx_val.npy", "idx_test.npy", "maps.json"};

// No DIR and no DIR.tmp-* left behind.
void expect_nothing_left(const std::string &dir)
{
	EXPECT_FALSE(cft::exists(dir)) << dir;
	std::string out;
	cft::run("ls -d " + cft::shq(dir) + ".tmp-* 2>/dev/null | wc -l", &out);
	EXPECT_EQ(out.substr(0, 1), "0") << out;
}

TEST(DatasetPrep, DefaultMatchesOracle)
{
	std::string dir = cft::temp_path("-ds"), log;
	ASSERT_EQ(dataset(fixture_db(), dir, "--parquet", &log), 0) << log;
	for (const char *f : files)
		EXPECT_TRUE(cft::exists(dir + "/" + f)) << f;
	EXPECT_TRUE(cft::exists(dir + "/dataset.parquet"));
	EXPECT_NE(log.find("rows -> train"), std::string::npos) << log;
	EXPECT_ORACLE("check " + cft::shq(fixture_db()) + " " + cft::shq(dir));
	// dataset.parquet read by pyarrow: the same rows, labels and X
	std::string arrow = cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow.parquet, numpy"), out;
	if (arrow.empty())
		GTEST_SKIP() << "pyarrow not importable (build/arrow-venv): dataset.parquet written, not compared";
	EXPECT_EQ(cft::run(cft::shq(arrow) + " " + script() + " parquet " + cft::shq(dir), &out), 0) << out;
}

TEST(DatasetPrep, OptionsMatchOracle)
{
	struct Case {
		std::string cuflow, oracle;
	} cases[] = {
		{"--seed 7 --splits 60,20,20 --min-count 5 --top-dns 20", "--seed 7 --splits 60,20,20 --min-count 5 --top-dns 20"},
		{"--label-column device_type --seed 3", "--label-column device_type --seed 3"},
		{"--label-column manufacturer --sql " +
		     cft::shq("select s.srcport, s.dstport, s.proto, s.lensum, d.manufacturer, d.mac from sessions s join "
		              "v_session_mnf_devicetype d on s.sessionid = d.sessionid where d.manufacturer is not null"),
		 "--label-column manufacturer --sql " +
		     cft::shq("select s.srcport, s.dstport, s.proto, s.lensum, d.manufacturer, d.mac from sessions s join "
		              "v_session_mnf_devicetype d on s.sessionid = d.sessionid where d.manufacturer is not null")},
		{"--splits 100,0,0 --top-dns 0 --categorical srcport", "--splits 100,0,0 --top-dns 0 --categorical srcport"},
		{"--splits 33.3,33.3,33.4 --seed 18446744073709551615",
		 "--splits 33.3,33.3,33.4 --seed 18446744073709551615"},
		// NULLs in a scaled column (srcport without ports), a constant column,
		// a REAL column, a column NULL above a threshold
		// DNS columns only; a trailing comment after the statement
		{"--sql " + cft::shq(dns_only_sql), "--sql " + cft::shq(dns_only_sql)},
		{"--categorical dstport --label-column device_type --min-count 3 --sql " + cft::shq(mixed_sql),
		 "--categorical dstport --label-column device_type --min-count 3 --sql " + cft::shq(mixed_sql)},
	};
	for (const Case &c : cases) {
		std::string dir = cft::temp_path("-ds"), log;
		ASSERT_EQ(dataset(fixture_db(), dir, c.cuflow, &log), 0) << c.cuflow << "\n" << log;
		EXPECT_ORACLE("check " + cft::shq(fixture_db()) + " " + cft::shq(dir) + " " + c.oracle);
	}
}

TEST(DatasetPrep, SeedQueryVerbatim)
{
	std::string seed_dir = cft::temp_path("-ds"), def_dir = cft::temp_path("-ds"), mac_dir = cft::temp_path("-ds");
	std::string log;
	ASSERT_EQ(dataset(fixture_db(), seed_dir, "--sql " + cft::shq(seed_sql), &log), 0) << log;
	EXPECT_NE(log.find("no 'mac' column: no DNS columns"), std::string::npos) << log;
	ASSERT_EQ(dataset(fixture_db(), def_dir, "", &log), 0) << log;
	ASSERT_EQ(dataset(fixture_db(), mac_dir, "--sql " + cft::shq(default_sql), &log), 0) << log;
	// the seed's query plus d.mac is the default: the same arrays
	for (const char *f : files) {
		if (std::string(f) == "maps.json")
			continue; // its query differs
		EXPECT_EQ(cft::slurp(def_dir + "/" + f), cft::slurp(mac_dir + "/" + f)) << f;
	}
	// and without mac the same rows, split and columns, less the DNS ones
	EXPECT_ORACLE("prefix " + cft::shq(seed_dir) + " " + cft::shq(def_dir));
	EXPECT_ORACLE("check " + cft::shq(fixture_db()) + " " + cft::shq(seed_dir) + " --sql " + cft::shq(seed_sql));
}

// --label EXPR: the label as an SQL expression over the query's columns.
// device_type != 'Other' is the default is_iot, so the same bytes; a
// three-way expression gives three classes the oracle checks.
TEST(DatasetPrep, LabelExpression)
{
	std::string a = cft::temp_path("-ds"), b = cft::temp_path("-ds"), c = cft::temp_path("-ds"), log;
	ASSERT_EQ(dataset(fixture_db(), a, "", &log), 0) << log;
	ASSERT_EQ(dataset(fixture_db(), b, "--label \"device_type != 'Other'\"", &log), 0) << log;
	for (const char *f : files) {
		if (std::string(f) != "maps.json") {
			EXPECT_EQ(cft::slurp(a + "/" + f), cft::slurp(b + "/" + f)) << f;
		}
	}
	const std::string expr = "case when device_type = 'Other' then 'other' when lensum > 5000 then 'big' else 'small' end";
	ASSERT_EQ(dataset(fixture_db(), c, "--label " + cft::shq(expr) + " --sql " + cft::shq(std::string(default_sql) + ";\n"), &log), 0) << log;
	std::string wrapped = "SELECT q.*, (" + expr + "\n) AS label FROM (\n" + default_sql + "\n) AS q";
	EXPECT_ORACLE("check " + cft::shq(fixture_db()) + " " + cft::shq(c) + " --sql " + cft::shq(wrapped) +
	              " --label-column label");
	EXPECT_NE(cft::slurp(c + "/maps.json").find("\"big\""), std::string::npos);
	EXPECT_EQ(dataset(fixture_db(), c, "--label x --label-column device_type", &log), 1) << log;
}

TEST(DatasetPrep, Deterministic)
{
	std::string a = cft::temp_path("-ds"), b = cft::temp_path("-ds"), c = cft::temp_path("-ds"), log;
	ASSERT_EQ(dataset(fixture_db(), a, "--seed 11 --parquet", &log), 0) << log;
	ASSERT_EQ(dataset(fixture_db(), b, "--seed 11 --parquet", &log), 0) << log;
	ASSERT_EQ(dataset(fixture_db(), c, "--seed 12", &log), 0) << log;
	for (const char *f : files)
		EXPECT_EQ(cft::slurp(a + "/" + f), cft::slurp(b + "/" + f)) << f;
	EXPECT_EQ(cft::slurp(a + "/dataset.parquet"), cft::slurp(b + "/dataset.parquet"));
	EXPECT_NE(cft::slurp(a + "/idx_train.npy"), cft::slurp(c + "/idx_train.npy"));
	EXPECT_NE(cft::slurp(a + "/X_train.npy"), cft::slurp(c + "/X_train.npy"));
	// an earlier output is replaced, anything else is refused
	ASSERT_EQ(dataset(fixture_db(), a, "--seed 12", &log), 0) << log;
	EXPECT_EQ(cft::slurp(a + "/idx_train.npy"), cft::slurp(c + "/idx_train.npy"));
	EXPECT_FALSE(cft::exists(a + "/dataset.parquet"));
	std::string other = cft::temp_path("-other");
	cft::run("mkdir " + cft::shq(other) + " && touch " + cft::shq(other + "/keep.txt"));
	EXPECT_EQ(dataset(fixture_db(), other, "", &log), 1) << log;
	EXPECT_NE(log.find("not an earlier dataset output"), std::string::npos) << log;
	EXPECT_TRUE(cft::exists(other + "/keep.txt"));
}

TEST(DatasetPrep, LogisticRegressionBeatsMajority)
{
	std::string dir = cft::temp_path("-ds"), log, out;
	ASSERT_EQ(dataset(fixture_db(), dir, "--seed 5", &log), 0) << log;
	std::string o = oracle("check " + cft::shq(fixture_db()) + " " + cft::shq(dir) + " --seed 5 --train-logreg", &out);
	if (o == "skip")
		GTEST_SKIP() << "scikit-learn not importable";
	EXPECT_EQ(o, "");
	size_t p = out.find("logreg:");
	ASSERT_NE(p, std::string::npos) << out;
	std::printf("default query: %s", out.substr(p, out.find('\n', p) - p + 1).c_str());
	// the seed's query: no DNS columns, still better than the majority
	std::string seed_dir = cft::temp_path("-ds");
	ASSERT_EQ(dataset(fixture_db(), seed_dir, "--seed 5 --sql " + cft::shq(seed_sql), &log), 0) << log;
	EXPECT_EQ(oracle("check " + cft::shq(fixture_db()) + " " + cft::shq(seed_dir) + " --seed 5 --train-logreg --sql " +
	                     cft::shq(seed_sql),
	                 &out),
	          "");
	p = out.find("logreg:");
	ASSERT_NE(p, std::string::npos) << out;
	std::printf("seed query: %s", out.substr(p, out.find('\n', p) - p + 1).c_str());
}

TEST(DatasetPrep, BadInput)
{
	std::string dir = cft::temp_path("-ds"), log;
	// missing database
	std::string missing = cft::temp_path("-missing.sqlite");
	EXPECT_EQ(dataset(missing, dir, "", &log), 2) << log;
	EXPECT_NE(log.find(missing), std::string::npos) << log;
	expect_nothing_left(dir);
	// not a database
	std::string junk = cft::temp_path("-junk.sqlite");
	cft::write_file(junk, std::vector<uint8_t>(4096, 'x'));
	EXPECT_NE(dataset(junk, dir, "", &log), 0) << log;
	EXPECT_NE(log.find("not a database"), std::string::npos) << log;
	expect_nothing_left(dir);
	// bad SQL: SQLite's message
	EXPECT_EQ(dataset(fixture_db(), dir, "--sql 'select nope from sessions'", &log), 1) << log;
	EXPECT_NE(log.find("no such column: nope"), std::string::npos) << log;
	expect_nothing_left(dir);
	EXPECT_EQ(dataset(fixture_db(), dir, "--sql 'delete from sessions'", &log), 1) << log;
	EXPECT_NE(log.find("read-only"), std::string::npos) << log;
	EXPECT_EQ(dataset(fixture_db(), dir, "--sql 'select 1 as device_type; select 2'", &log), 1) << log;
	EXPECT_NE(log.find("one statement"), std::string::npos) << log;
	// bad --splits
	for (const char *s : {"70,20,20", "70,30", "-10,55,55", "a,b,c", "70,15,15,0", ""}) {
		EXPECT_EQ(dataset(fixture_db(), dir, std::string("--splits ") + cft::shq(s), &log), 1) << s << log;
		EXPECT_NE(log.find("--splits"), std::string::npos) << log;
		expect_nothing_left(dir);
	}
	// an empty result, a NULL label, no label column
	EXPECT_EQ(dataset(fixture_db(), dir, "--sql " + cft::shq(std::string(default_sql) + " and 0"), &log), 2) << log;
	EXPECT_NE(log.find("no rows"), std::string::npos) << log;
	EXPECT_EQ(dataset(fixture_db(), dir,
	                  "--sql 'select s.lensum, d.device_type from sessions s join v_session_mnf_devicetype d on "
	                  "s.sessionid = d.sessionid'",
	                  &log),
	          2)
		<< log;
	EXPECT_NE(log.find("is NULL"), std::string::npos) << log;
	EXPECT_EQ(dataset(fixture_db(), dir, "--sql 'select lensum from sessions'", &log), 1) << log;
	EXPECT_NE(log.find("device_type"), std::string::npos) << log;
	EXPECT_EQ(dataset(fixture_db(), dir, "--label-column nope", &log), 1) << log;
	EXPECT_NE(log.find("'nope'"), std::string::npos) << log;
	expect_nothing_left(dir);
	// usage
	EXPECT_EQ(cft::run(bin() + " dataset " + cft::shq(fixture_db()), &log), 1) << log;
	EXPECT_EQ(cft::run(bin() + " dataset --help", &log), 0) << log;
	EXPECT_NE(log.find("usage: cuflow dataset"), std::string::npos) << log;
}

} // namespace

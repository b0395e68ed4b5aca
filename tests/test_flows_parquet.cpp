// `cuflow flows -o OUT.parquet` (flow records through the library's column
// table and Parquet sink) against `cuflow flows -o OUT.csv` of the same
// input: the same columns in the same order and every value equal, read
// by pyarrow and by DuckDB (tests/oracles/parquet_equals_csv.py): integers
// and timestamps exact, floats bitwise. Captures: synthetic ones (IPv4 and
// IPv6, TCP/UDP/ICMP, VLAN; one of 66,000 flows so the rows cross a
// batch), and real ones from ../shared when present. A Parquet output that
// cannot be written is an error naming the path, with no file left.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string arrow_python()
{
	return cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "duckdb");
}

void expect_parquet_equals_csv(const std::string &cap, const std::string &extra)
{
	std::string py = arrow_python();
	std::string csv = cft::temp_path(".csv"), pq = cft::temp_path(".parquet"), log;
	std::string base = cft::shq(cft::cuflow_bin()) + " flows -q" + extra + " " + cft::shq(cap);
	ASSERT_EQ(cft::run(base + " -o " + cft::shq(csv), &log), 0) << log;
	ASSERT_EQ(cft::run(base + " -o " + cft::shq(pq), &log), 0) << log;
	ASSERT_TRUE(cft::exists(pq));
	if (py.empty())
		GTEST_SKIP() << "pyarrow/duckdb are not importable (bash .ci/deps.sh makes build/arrow-venv): "
		                "Parquet written, not compared";
	std::string out;
	int rc = cft::run(cft::shq(py) + " " + cft::shq(cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/parquet_equals_csv.py") +
	                      " " + cft::shq(pq) + " " + cft::shq(csv),
	                  &out);
	EXPECT_EQ(rc, 0) << cap << extra << ":\n" << out;
	EXPECT_EQ(out.rfind("ok ", 0), 0u) << out;
}

TEST(FlowsParquet, EqualsCsvOnSyntheticCaptures)
{
	for (const char *args : {"--flows 2000 --seed 11", "--flows 66000 --seed 12 --duration 20"}) {
		std::string cap = cft::temp_path(".pcap");
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q " + args + " -o " + cft::shq(cap)), 0);
		expect_parquet_equals_csv(cap, "");
	}
}

TEST(FlowsParquet, EqualsCsvOnRealCaptures)
{
	std::string dir = cft::shared_dir();
	if (dir.empty())
		GTEST_SKIP() << "needs ../shared/captures (absent)";
	int n = 0;
	for (const char *name : {"nfstream/pcaps/instagram.pcap", "nfstream/pcaps/6in4tunnel.pcap",
	                         "nfstream/pcaps/quic-33.pcapng", "nfstream/pcaps/gtp-u.pcap"}) {
		std::string cap = dir + "/captures/" + name;
		if (!cft::exists(cap))
			continue;
		n++;
		expect_parquet_equals_csv(cap, " --compat nfstream");
		expect_parquet_equals_csv(cap, "");
	}
	if (!n)
		GTEST_SKIP() << "none of the listed ../shared/captures/nfstream captures is present";
}

TEST(FlowsParquet, UnwritablePathIsAnErrorAndLeavesNoFile)
{
	std::string cap = cft::temp_path(".pcap"), parent = cft::temp_path(".file"), log;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " synth -q --flows 50 -o " + cft::shq(cap)), 0);
	cft::write_file(parent, std::vector<uint8_t>{'x'});
	std::string out = parent + "/flows.parquet"; // the parent is a regular file
	int rc = cft::run(cft::shq(cft::cuflow_bin()) + " flows -q " + cft::shq(cap) + " -o " + cft::shq(out), &log);
	EXPECT_EQ(rc, 1) << log;
	EXPECT_NE(log.find(out), std::string::npos) << "the message must name the path: " << log;
	EXPECT_FALSE(cft::exists(out));
}

} // namespace

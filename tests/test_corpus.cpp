// Acceptance tests against independent oracles on real captures: wraps
// tests/oracles/compare_info.py, which compares `cuflow info --json` with
// capinfos (packets, bytes, times, format) and tshark (protocol counts).
//
//   CorpusDebian.*   captures shipped in Debian packages, fetched by
//                    tests/scripts/fetch_debian_captures.sh into tests/.data
//                    (skipped when that got nothing, e.g. offline)
//   CorpusShared.*   the ../shared/captures corpus (skipped when absent):
//                    capinfos on every file; tshark protocol counts on a
//                    deterministic sample of 300 files, or on all of them
//                    with CUFLOW_FULL_CORPUS=1
//
// Oracle results are cached in tests/.data/oracle-cache (by file hash), so
// only the first run pays for tshark. Differences listed in
// tests/oracles/known_differences.tsv are explained; any other one fails.
// Environment: CUFLOW_TEST_JOBS (parallel jobs, default 2),
// CUFLOW_CORPUS_SAMPLE (tshark sample size, default 300), CUFLOW_CORPUS_SEED.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include "test_util.h"

namespace {

using cft::shq;

bool have(const char *tool)
{
	return cft::run(std::string("command -v ") + tool + " >/dev/null 2>&1") == 0;
}

std::string source_dir() { return cft::env("CUFLOW_SOURCE_DIR"); }
std::string data_dir() { return cft::env("CUFLOW_TEST_DATA", source_dir() + "/tests/.data"); }

// Runs compare_info.py with `args`; returns its exit status, output in *out.
int compare(const std::string &args, const std::string &report, std::string *out)
{
	std::string cmd = "python3 " + shq(source_dir() + "/tests/oracles/compare_info.py") +
	                  " --cuflow " + shq(cft::cuflow_bin()) + " -j " + cft::env("CUFLOW_TEST_JOBS", "2") +
	                  " --cache " + shq(data_dir() + "/oracle-cache") + " --report " + shq(report) + " " + args;
	int rc = cft::run(cmd, out);
	// Shown with ctest -V / --output-on-failure.
	printf("$ %s\n%s\n", cmd.c_str(), out->c_str());
	return rc;
}

#define SKIP_WITHOUT_TOOLS(...)                                                   \
	do {                                                                          \
		if (source_dir().empty())                                                 \
			GTEST_SKIP() << "CUFLOW_SOURCE_DIR not set";                          \
		for (const char *t : {"python3", __VA_ARGS__})                            \
			if (!have(t))                                                         \
				GTEST_SKIP() << t << " not installed";                            \
	} while (0)

// ------------------------------------------------------------------ Debian
TEST(CorpusDebian, AllFilesMatchCapinfosAndTshark)
{
	SKIP_WITHOUT_TOOLS("capinfos", "tshark");
	std::string dest = data_dir() + "/debian";
	std::string log;
	cft::run("bash " + shq(source_dir() + "/tests/scripts/fetch_debian_captures.sh") + " " + shq(dest), &log);
	printf("%s", log.c_str());
	auto lst = cft::read_file(dest + "/captures.txt");
	if (lst.empty())
		GTEST_SKIP() << "no Debian captures fetched (offline?)";
	std::string out;
	int rc = compare("@" + shq(dest + "/captures.txt"), cft::env("CUFLOW_TMP", "/tmp") + "/corpus-debian.json", &out);
	EXPECT_EQ(rc, 0) << "unexplained differences with capinfos/tshark (report: corpus-debian.json)\n" << out;
}

// ------------------------------------------------------------------ ../shared
TEST(CorpusShared, AllFilesMatchCapinfos)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared absent (CUFLOW_SHARED)";
	SKIP_WITHOUT_TOOLS("capinfos");
	std::string out;
	int rc = compare("--no-tshark " + shq(shared + "/captures"),
	                 cft::env("CUFLOW_TMP", "/tmp") + "/corpus-shared-capinfos.json", &out);
	EXPECT_EQ(rc, 0) << "unexplained differences with capinfos (report: corpus-shared-capinfos.json)\n" << out;
}

TEST(CorpusShared, ProtocolCountsMatchTshark)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared absent (CUFLOW_SHARED)";
	SKIP_WITHOUT_TOOLS("capinfos", "tshark");
	std::string sample;
	if (cft::env("CUFLOW_FULL_CORPUS") != "1")
		sample = "--sample " + cft::env("CUFLOW_CORPUS_SAMPLE", "300") + " --seed " + cft::env("CUFLOW_CORPUS_SEED", "1") + " ";
	std::string out;
	int rc = compare(sample + "--fields captured_bytes,wire_bytes,ipv4,ipv6,tcp,udp,icmp,icmpv6,sctp " + shq(shared + "/captures"),
	                 cft::env("CUFLOW_TMP", "/tmp") + "/corpus-shared-tshark.json", &out);
	EXPECT_EQ(rc, 0) << "unexplained differences with tshark (report: corpus-shared-tshark.json)\n" << out;
}

} // namespace

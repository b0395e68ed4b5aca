// -o DIR for the commands that write a directory (flowpic, extract, netml;
// run and train already did) creates DIR's missing parents, as mkdir -p; a
// path that cannot be made (under a regular file) fails naming it.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace {

TEST(OutputDirs, MissingParentsAreCreated)
{
	const std::string bin = cft::shq(cft::cuflow_bin()), root = cft::temp_path("outdirs"), cap = root + "/a.pcap";
	std::string out;
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(root) + " && " + bin + " synth -q -o " + cft::shq(cap) +
	                       " --flows 50 --duration 5 --seed 3 2>&1", &out), 0) << out;
	for (const char *cmd : {"flowpic --preset mini", "extract", "netml --type IAT"}) {
		SCOPED_TRACE(cmd);
		const std::string dir = root + "/" + std::string(cmd).substr(0, 4) + "/deep/er/out";
		EXPECT_EQ(cft::run(bin + " " + cmd + " -q " + cft::shq(cap) + " -o " + cft::shq(dir) + " 2>&1", &out), 0) << out;
		EXPECT_TRUE(cft::exists(dir)) << dir;
	}
	// under a regular file: an error naming the path, nothing written
	const std::string bad = cap + "/sub/out";
	EXPECT_NE(cft::run(bin + " flowpic --preset mini -q " + cft::shq(cap) + " -o " + cft::shq(bad) + " 2>&1", &out), 0);
	EXPECT_NE(out.find("cannot create " + bad), std::string::npos) << out;
}

}  // namespace

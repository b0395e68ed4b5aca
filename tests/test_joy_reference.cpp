// `cuflow flows --joy-compat` against Cisco Joy 4.5.0 itself: the records
// Joy wrote (`joy bidir=1`, ../shared/data/joy/reference, see its README)
// for Joy's own test captures and pathspider's real.pcap, line for line and
// byte for byte after the configuration line (whose output name and
// generator necessarily differ). Skips without ../shared; real.pcap needs
// the Debian captures (tests/scripts/fetch_debian_captures.sh).
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string after_first_line(const std::string &s)
{
	size_t nl = s.find('\n');
	return nl == std::string::npos ? "" : s.substr(nl + 1);
}

TEST(JoyReference, EveryRecordAsJoyWroteIt)
{
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "../shared is absent";
	std::string refdir = shared + "/data/joy/reference";
	std::string listing;
	ASSERT_EQ(cft::run("ls " + cft::shq(refdir), &listing), 0) << listing;
	std::string real = cft::env("CUFLOW_TEST_DATA") +
	                   "/debian/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	size_t checked = 0, records = 0;
	for (const std::string &name : cft::split(listing, '\n')) {
		const std::string suffix = ".joy.json.gz";
		if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix))
			continue;
		std::string cap_name = name.substr(0, name.size() - suffix.size());
		std::string cap = shared + "/captures/joy/" + cap_name;
		if (cap_name == "real.pcap")
			cap = real;
		if (!cft::exists(cap)) {
			if (cap_name == "real.pcap") { /* the Debian captures were not fetched */
				std::cout << "[ note ] real.pcap absent (" << cap << "), not compared\n";
				continue;
			}
			ADD_FAILURE() << "no capture for " << name << " (" << cap << ")";
			continue;
		}
		std::string joy, mine;
		ASSERT_EQ(cft::run("zcat " + cft::shq(refdir + "/" + name), &joy), 0) << joy;
		std::string out = cft::temp_path("_joy_" + cap_name + ".jsonl");
		std::string log;
		ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " flows -q --joy-compat " + cft::shq(cap) + " -o " +
		                           cft::shq(out),
		                   &log),
		          0)
		        << log;
		mine = cft::slurp(out);
		// The configuration line: Joy's keys, bidir 1, 50 packets.
		std::string config = mine.substr(0, mine.find('\n'));
		EXPECT_NE(config.find("\"bidir\":1,\"num_pkts\":50"), std::string::npos) << config;
		EXPECT_NE(config.find("\"end-config\":1}"), std::string::npos) << config;
		std::vector<std::string> a = cft::split(after_first_line(joy), '\n');
		std::vector<std::string> b = cft::split(after_first_line(mine), '\n');
		EXPECT_EQ(a.size(), b.size()) << cap_name;
		size_t diffs = 0;
		for (size_t i = 0; i < a.size() && i < b.size(); i++) {
			if (a[i] != b[i] && diffs++ < 3)
				ADD_FAILURE() << cap_name << " record " << i << "\n joy:    " << a[i] << "\n cuflow: " << b[i];
		}
		EXPECT_EQ(diffs, 0u) << cap_name;
		records += a.size() - 1; /* the last split piece is the empty string after the final newline */
		checked++;
	}
	EXPECT_GE(checked, 14u);
	EXPECT_GE(records, 70u); /* 73 without real.pcap, 6,421 with it */
}

}  // namespace

// predict with a FlowPic CNN straight from captures (host/nn/nn_predict_captures.c):
//   * a mini model trained on `cuflow flowpic --preset mini` images records
//     the preset and options in config.json; predict on the captures gives,
//     row for row, index.csv's row of the image (same columns and values)
//     and the probabilities predict gives on the image directory, to the
//     last printed digit (the same images through the same model);
//   * images made with a changed option (--min-packets 5) cannot be remade
//     from a preset: predict on captures is refused with the reason;
//   * directories and captures in one call are refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string bin() { return cft::shq(cft::cuflow_bin()); }

std::vector<std::vector<std::string>> csv(const std::string &path)
{
	std::vector<std::vector<std::string>> rows;
	for (const std::string &line : cft::split(cft::slurp(path), '\n'))
		if (!line.empty()) rows.push_back(cft::split(line, ','));
	return rows;
}

TEST(ModelFlowpicCaptures, PredictFromCapturesFollowsTheIndex)
{
	std::string root = cft::temp_path("fpcap"), out;
	std::string small = root + "/caps/small/a.pcap", large = root + "/caps/large/b.pcap";
	int rc = cft::run("mkdir -p " + cft::shq(root + "/caps/small") + " " + cft::shq(root + "/caps/large") + " && " +
	                      bin() + " synth -q --flows 200 --seed 7 -o " + cft::shq(small) + " && " + bin() +
	                      " synth -q --flows 200 --seed 8 --frame-size 1000 -o " + cft::shq(large) + " && " + bin() +
	                      " flowpic -q --preset mini --label-from-dir " + cft::shq(root + "/caps") + " -o " +
	                      cft::shq(root + "/fp") + " && " + bin() + " train --model flowpic-mini --quiet --epochs 2 " +
	                      cft::shq(root + "/fp") + " -o " + cft::shq(root + "/model") + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	std::string cfg = cft::slurp(root + "/model/config.json");
	EXPECT_NE(cfg.find("\"flowpic_preset\": \"mini\""), std::string::npos) << cfg;
	// `cuflow flowpic` reads a directory's files in name order: large/ first
	rc = cft::run(bin() + " predict --quiet " + cft::shq(root + "/model") + " " + cft::shq(large) + " " +
	                  cft::shq(small) + " -o " + cft::shq(root + "/cap.csv") + " 2>&1 && " + bin() +
	                  " predict --quiet " + cft::shq(root + "/model") + " " + cft::shq(root + "/fp") + " -o " +
	                  cft::shq(root + "/dir.csv") + " 2>&1",
	              &out);
	ASSERT_EQ(rc, 0) << out;
	auto cap = csv(root + "/cap.csv"), dir = csv(root + "/dir.csv"), idx = csv(root + "/fp/index.csv");
	ASSERT_GT(idx.size(), 20u);
	ASSERT_EQ(cap.size(), idx.size());
	ASSERT_EQ(dir.size(), idx.size());
	// header: file, the index's columns but label, predicted, p_large, p_small
	std::vector<std::string> want = {"file"};
	want.insert(want.end(), idx[0].begin(), idx[0].end() - 1);
	want.insert(want.end(), {"predicted", "p_large", "p_small"});
	EXPECT_EQ(cap[0], want);
	size_t ni = idx[0].size() - 1, n_large = 0;
	for (size_t r = 1; r < cap.size(); r++) {
		ASSERT_EQ(cap[r].size(), want.size()) << r;
		EXPECT_EQ(cap[r][0], idx[r].back() == "large" ? large : small) << r;
		n_large += cap[r][0] == large;
		for (size_t c = 0; c < ni; c++) EXPECT_EQ(cap[r][1 + c], idx[r][c]) << "row " << r << " column " << idx[0][c];
		// predicted and the probabilities: the directory's row r
		for (size_t c = 0; c < 3; c++) EXPECT_EQ(cap[r][1 + ni + c], dir[r][2 + c]) << "row " << r;
	}
	EXPECT_GT(n_large, 0u);
	EXPECT_LT(n_large, cap.size() - 1);

	// images with a changed option: no preset remakes them
	rc = cft::run(bin() + " flowpic -q --preset mini --min-packets 5 --label-from-dir " + cft::shq(root + "/caps") +
	                  " -o " + cft::shq(root + "/fp5") + " && " + bin() + " train --model flowpic-mini --quiet --epochs 1 " +
	                  cft::shq(root + "/fp5") + " -o " + cft::shq(root + "/model5") + " 2>&1",
	              &out);
	ASSERT_EQ(rc, 0) << out;
	rc = cft::run(bin() + " predict --quiet " + cft::shq(root + "/model5") + " " + cft::shq(small) + " -o " +
	                  cft::shq(root + "/x.csv") + " 2>&1",
	              &out);
	EXPECT_NE(rc, 0);
	EXPECT_NE(out.find("not made with a plain --preset"), std::string::npos) << out;
	// both kinds of input at once
	rc = cft::run(bin() + " predict --quiet " + cft::shq(root + "/model") + " " + cft::shq(root + "/fp") + " " +
	                  cft::shq(small) + " -o " + cft::shq(root + "/y.csv") + " 2>&1",
	              &out);
	EXPECT_NE(rc, 0);
	EXPECT_NE(out.find("either `cuflow flowpic` directories or captures"), std::string::npos) << out;
}

} // namespace

// tcbench's network augmentations in `cuflow flowpic --augment rtt|shift|loss`
// (mini-FlowPic, ../shared/specs/flowpic_joy_lstm.md §1.5):
//   * every image, copy 0 and augmented, equals tests/oracles/flowpic_augment_check.py
//     (flowpic_ref.py's mini images of the session's times changed with the
//     parameter cuflow printed in index.csv), on a synthetic capture and on
//     real ones from ../shared when present; parameters in range and spread;
//   * the same seed gives the same bytes, another seed other parameters;
//     without --augment the output is byte for byte what it was;
//   * the augmented directory trains a mini model (labels per copy too).
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace {

std::string bin() { return cft::shq(cft::cuflow_bin()); }
std::string oracle() { return std::string(CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/tests/oracles/flowpic_augment_check.py"; }

const std::string &synth_capture()
{
	static std::string path;
	if (path.empty()) {
		path = cft::temp_path("aug.pcap");
		std::string out;
		EXPECT_EQ(cft::run(bin() + " synth -q --flows 150 --seed 11 -o " + cft::shq(path) + " 2>&1", &out), 0) << out;
	}
	return path;
}

void check(const std::string &cap, const char *kind, int copies, const std::string &py)
{
	std::string dir = cft::temp_path("aug_out"), out;
	int rc = cft::run(bin() + " flowpic -q --preset mini --augment " + kind + " --augment-copies " +
	                      std::to_string(copies) + " " + cft::shq(cap) + " -o " + cft::shq(dir) + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	rc = cft::run(cft::shq(py) + " " + cft::shq(oracle()) + " " + cft::shq(cap) + " " + cft::shq(dir) + " " + kind +
	                  " " + std::to_string(copies) + " 2>&1",
	              &out);
	EXPECT_EQ(rc, 0) << cap << " " << kind << ": " << out;
	EXPECT_EQ(out.rfind("OK ", 0), 0u) << out;
}

TEST(FlowpicAugment, EveryImageMatchesTheReference)
{
	std::string py = cft::numpy_python();
	if (py.empty()) GTEST_SKIP() << "no python3 with numpy";
	for (const char *kind : {"rtt", "shift", "loss"}) check(synth_capture(), kind, 3, py);
	std::string shared = cft::shared_dir();
	if (shared.empty()) return;
	// real traffic: bursty sessions (the reference found that RTT < 1 needs packets
	// past the window kept), and a TLS session
	for (const char *f : {"anydesk.pcap", "google_ssl.pcap"})
		for (const char *kind : {"rtt", "shift", "loss"})
			check(shared + "/captures/nfstream/pcaps/" + f, kind, 2, py);
}

TEST(FlowpicAugment, SeededAndOffByDefault)
{
	const std::string &cap = synth_capture();
	std::string a = cft::temp_path("aug_a"), b = cft::temp_path("aug_b"), c = cft::temp_path("aug_c"),
	            plain = cft::temp_path("aug_plain"), plain0 = cft::temp_path("aug_plain0"), out;
	std::string base = bin() + " flowpic -q --preset mini " + cft::shq(cap);
	int rc = cft::run(base + " --augment rtt --augment-copies 2 --augment-seed 5 -o " + cft::shq(a) + " && " + base +
	                      " --augment rtt --augment-copies 2 --augment-seed 5 -o " + cft::shq(b) + " && " + base +
	                      " --augment rtt --augment-copies 2 --augment-seed 6 -o " + cft::shq(c) + " && " + base +
	                      " -o " + cft::shq(plain) + " && " + base + " --augment rtt --augment-copies 0 -o " +
	                      cft::shq(plain0) + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	EXPECT_EQ(cft::read_file(a + "/flowpic.npy"), cft::read_file(b + "/flowpic.npy"));
	EXPECT_EQ(cft::slurp(a + "/index.csv"), cft::slurp(b + "/index.csv"));
	EXPECT_NE(cft::slurp(a + "/index.csv"), cft::slurp(c + "/index.csv"));
	EXPECT_NE(cft::slurp(a + "/meta.json").find("\"augment\": {\"kind\": \"rtt\", \"copies\": 2, \"seed\": 5}"),
	          std::string::npos);
	// no augmentation (absent, or zero copies): the index keeps its columns
	EXPECT_EQ(cft::slurp(plain + "/index.csv"), cft::slurp(plain0 + "/index.csv"));
	EXPECT_EQ(cft::slurp(plain + "/index.csv").find("augment"), std::string::npos);
	EXPECT_EQ(cft::slurp(plain + "/meta.json").find("\"augment\""), std::string::npos);
	rc = cft::run(base + " --augment jitter -o " + cft::shq(cft::temp_path("aug_bad")) + " 2>&1", &out);
	EXPECT_EQ(rc, 1) << out;
	EXPECT_NE(out.find("--augment takes rtt, shift, loss or none"), std::string::npos) << out;
}

TEST(FlowpicAugment, AugmentedImagesTrainAMiniModel)
{
	std::string root = cft::temp_path("aug_train"), out;
	int rc = cft::run("mkdir -p " + cft::shq(root + "/caps/x") + " " + cft::shq(root + "/caps/y") + " && " + bin() +
	                      " synth -q --flows 100 --seed 3 -o " + cft::shq(root + "/caps/x/a.pcap") + " && " + bin() +
	                      " synth -q --flows 100 --seed 4 --frame-size 900 -o " + cft::shq(root + "/caps/y/b.pcap") +
	                      " && " + bin() + " flowpic -q --preset mini --augment shift --augment-copies 2 --label-from-dir " +
	                      cft::shq(root + "/caps") + " -o " + cft::shq(root + "/fp") + " && " + bin() +
	                      " train --model flowpic-mini --quiet --epochs 1 " + cft::shq(root + "/fp") + " -o " +
	                      cft::shq(root + "/m") + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	std::string idx = cft::slurp(root + "/fp/index.csv");
	EXPECT_NE(idx.find(",x,1,"), std::string::npos) << "an augmented copy keeps its session's label";
	// the model records the images' preset and options without the augmentation:
	// predict on captures makes the plain images
	rc = cft::run(bin() + " predict --quiet " + cft::shq(root + "/m") + " " + cft::shq(root + "/caps/x/a.pcap") +
	                  " -o " + cft::shq(root + "/p.csv") + " 2>&1",
	              &out);
	EXPECT_EQ(rc, 0) << out;
}

} // namespace

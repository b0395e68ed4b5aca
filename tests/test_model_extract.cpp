// `cuflow extract` datasets as the nested model's input (host/nn/nn_extract.c):
//   * two synthetic classes (small against 1000-byte frames), extracted with
//     --label-from-dir, whole and in shards; train --export writes what the
//     model read, and tests/oracles/extract_input_check.py recomputes it
//     from extract's arrays with numpy (docs/models.md's mapping);
//   * the shards read the same rows as the whole arrays;
//   * train learns the two classes; evaluate scores every row;
//   * predict refuses a dataset with a reason; a truncated features.npy is
//     an error naming the dataset, with the damaged-input exit status.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "test_util.h"

namespace {

std::string bin() { return cft::shq(cft::cuflow_bin()); }

struct Dataset {
	std::string root, whole, sharded;
	Dataset()
	{
		root = cft::temp_path("xin");
		std::string out;
		int rc = cft::run("mkdir -p " + cft::shq(root + "/caps/small") + " " + cft::shq(root + "/caps/large") + " && " +
		                      bin() + " synth -q --flows 300 --seed 5 -o " + cft::shq(root + "/caps/small/a.pcap") +
		                      " && " + bin() + " synth -q --flows 300 --seed 6 --frame-size 1000 -o " +
		                      cft::shq(root + "/caps/large/b.pcap") + " 2>&1",
		                  &out);
		EXPECT_EQ(rc, 0) << out;
		whole = root + "/x";
		sharded = root + "/xs";
		rc = cft::run(bin() + " extract -q --label-from-dir " + cft::shq(root + "/caps") + " -o " + cft::shq(whole) +
		                  " 2>&1 && " + bin() + " extract -q --label-from-dir --shard-rows 128 " +
		                  cft::shq(root + "/caps") + " -o " + cft::shq(sharded) + " 2>&1",
		              &out);
		EXPECT_EQ(rc, 0) << out;
	}
};

const Dataset &dataset()
{
	static Dataset d;
	return d;
}

TEST(ModelExtract, InputsMatchANumpyOracle)
{
	const Dataset &d = dataset();
	std::string py = cft::numpy_python();
	if (py.empty()) GTEST_SKIP() << "no python3 with numpy";
	std::string oracle = std::string(CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/tests/oracles/extract_input_check.py";
	std::string exp_whole = cft::temp_path("xin_exp"), exp_shard = cft::temp_path("xin_exps"), out;
	for (auto [ds, ex] : {std::pair<std::string, std::string>{d.whole, exp_whole}, {d.sharded, exp_shard}}) {
		int rc = cft::run(bin() + " train --model nested --quiet --epochs 1 --val-fraction 0 --max-packets 20 " +
		                      cft::shq(ds) + " -o " + cft::shq(cft::temp_path("xin_m")) + " --export " + cft::shq(ex) +
		                      " 2>&1",
		                  &out);
		ASSERT_EQ(rc, 0) << out;
		rc = cft::run(cft::shq(py) + " " + cft::shq(oracle) + " " + cft::shq(ds) + " " + cft::shq(ex) + " 20 2>&1", &out);
		EXPECT_EQ(rc, 0) << ds << ": " << out;
		EXPECT_NE(out.find("OK 600 flows, 2 classes"), std::string::npos) << out;
	}
	// the shards hold the same rows in the same order: the same export
	for (const char *f : {"train_pkt.npy", "train_root.npy", "train_label.npy", "train_pkt_len.npy"})
		EXPECT_EQ(cft::read_file(exp_whole + "/" + f), cft::read_file(exp_shard + "/" + f)) << f;
}

TEST(ModelExtract, TrainsAndEvaluates)
{
	const Dataset &d = dataset();
	std::string model = cft::temp_path("xin_model"), ev = cft::temp_path("xin_eval"), out;
	int rc = cft::run(bin() + " train --model nested --quiet --epochs 15 --batch 32 --lr 0.01 " + cft::shq(d.whole) +
	                      " -o " + cft::shq(model) + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	rc = cft::run(bin() + " evaluate --quiet " + cft::shq(model) + " " + cft::shq(d.sharded) + " -o " + cft::shq(ev) +
	                  " 2>&1",
	              &out);
	ASSERT_EQ(rc, 0) << out;
	std::string m = cft::slurp(ev + "/metrics.json");
	EXPECT_NE(m.find("\"flows\": 600"), std::string::npos) << m;
	// frame sizes 1000 against the synth's mix: far above the majority's 0.5
	size_t at = m.find("\"accuracy\": ");
	ASSERT_NE(at, std::string::npos) << m;
	EXPECT_GT(std::stod(m.substr(at + 12)), 0.9) << m;
}

TEST(ModelExtract, PredictRefusesAndDamageIsNamed)
{
	const Dataset &d = dataset();
	std::string model = cft::temp_path("xin_model2"), out;
	int rc = cft::run(bin() + " train --model nested --quiet --epochs 1 " + cft::shq(d.whole) + " -o " +
	                      cft::shq(model) + " 2>&1",
	                  &out);
	ASSERT_EQ(rc, 0) << out;
	rc = cft::run(bin() + " predict --quiet " + cft::shq(model) + " " + cft::shq(d.whole) + " -o " +
	                  cft::shq(cft::temp_path("xin.csv")) + " 2>&1",
	              &out);
	EXPECT_NE(rc, 0);
	EXPECT_NE(out.find("an extract dataset; predict reads captures and Joy files"), std::string::npos) << out;
	// a copy whose features.npy lost its tail
	std::string cut = cft::temp_path("xin_cut");
	rc = cft::run("cp -r " + cft::shq(d.whole) + " " + cft::shq(cut) + " && truncate -s -100 " +
	              cft::shq(cut + "/features.npy"));
	ASSERT_EQ(rc, 0);
	rc = cft::run(bin() + " train --model nested --quiet --epochs 1 " + cft::shq(cut) + " -o " +
	                  cft::shq(cft::temp_path("xin_m3")) + " 2>&1",
	              &out);
	EXPECT_EQ(rc, 2) << out;
	EXPECT_NE(out.find(cut + ": shard 0 ends before its row"), std::string::npos) << out;
}

} // namespace

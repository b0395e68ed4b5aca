// The run driver (include/cuflow/run.h) through `cuflow flows`: --jobs 2 and 3
// give the bytes of --jobs 1 (CSV, JSON lines, gzip, Parquet) over a
// directory of ~40 synthetic captures of different sizes with truncated
// copies and a file that is no capture; that output equals the single-file
// runs one after the other with ids renumbered (tests/oracles/run_check.py);
// the manifest agrees with values computed independently (hashlib sha256,
// stat, line counts, `cuflow info`); inputs expand in the documented order.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

std::string py()
{
	static std::string p = [] {
		std::string out;
		return cft::run("python3 -c 'import json,hashlib'", &out) == 0 ? std::string("python3") : std::string();
	}();
	return p;
}

std::string oracle() { return cft::shq(cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/run_check.py"); }

struct Input {
	std::string status, path;
};

// dir/ holds 40 captures in three sub-directories and at the top (names
// chosen so that bytewise order differs from creation order), 3 truncated
// copies and a text file; the inputs in the order the driver must take.
struct Corpus {
	std::string dir;
	std::vector<Input> inputs;
};

const Corpus &corpus()
{
	static Corpus c = [] {
		Corpus k;
		k.dir = cft::temp_path("run-corpus");
		const char *subs[] = {"b-sub", "A-sub", "a-sub", ""};
		mkdir(k.dir.c_str(), 0755);
		for (const char *s : subs)
			mkdir((k.dir + "/" + s).c_str(), 0755);
		std::vector<std::string> files;
		for (int i = 0; i < 40; i++) {
			std::string sub = subs[i % 4];
			std::string name = (sub.empty() ? k.dir : k.dir + "/" + sub) + "/cap" + std::to_string((i * 7) % 40) + ".pcap";
			int flows = 2 + (i * 37) % 61;
			std::string cmd = cf() + " synth -q --snaplen 128 --flows " + std::to_string(flows) + " --seed " +
			                  std::to_string(100 + i) + " -o " + cft::shq(name);
			EXPECT_EQ(cft::run(cmd), 0) << cmd;
			files.push_back(name);
		}
		// truncated copies: cut in the middle of a record
		for (int i = 0; i < 3; i++) {
			std::vector<uint8_t> b = cft::read_file(files[i * 5]);
			b.resize(b.size() * (3 + i) / 7 + 13);
			cft::write_file(k.dir + "/a-sub/trunc" + std::to_string(i) + ".pcap", b);
		}
		std::ofstream(k.dir + "/b-sub/notes.txt") << "not a capture\n";
		// the order: each directory's entries bytewise, sub-directories in place
		std::string out;
		cft::run("cd " + cft::shq(k.dir) + " && LC_ALL=C find . -type f | LC_ALL=C sort", &out);
		// `find | sort` sorts whole paths; bytewise sorting of names per
		// directory is the same here (no name is a prefix of another
		// followed by a byte below '/')
		for (const std::string &l : cft::split(out, '\n')) {
			if (l.empty())
				continue;
			std::string p = k.dir + "/" + l.substr(2);
			bool bad = p.find("trunc") != std::string::npos || p.find("notes.txt") != std::string::npos;
			k.inputs.push_back({bad ? "damaged" : "ok", p});
		}
		return k;
	}();
	return c;
}

// Runs `cuflow flows` on each input alone (the oracle's material).
std::vector<std::string> singles(const std::string &ext, const std::string &opts = "")
{
	std::vector<std::string> v;
	for (size_t i = 0; i < corpus().inputs.size(); i++) {
		std::string o = cft::temp_path("single" + std::to_string(i) + ext);
		cft::run(cf() + " flows -q " + opts + " " + cft::shq(corpus().inputs[i].path) + " -o " + cft::shq(o));
		v.push_back(o);
	}
	return v;
}

std::string spec_file(const std::vector<std::string> &single)
{
	std::string s = cft::temp_path("spec.tsv"), text;
	for (size_t i = 0; i < corpus().inputs.size(); i++)
		text += corpus().inputs[i].status + "\t" + corpus().inputs[i].path + "\t" + single[i] + "\n";
	std::ofstream(s) << text;
	return s;
}

void jobs_equal(const std::string &ext, const std::string &fmt, bool check_oracle)
{
	const Corpus &c = corpus();
	std::vector<std::string> outs;
	for (int j = 1; j <= 3; j++) {
		std::string o = cft::temp_path("jobs" + std::to_string(j) + ext), log;
		int rc = cft::run(cf() + " flows -q --jobs " + std::to_string(j) + " " + cft::shq(c.dir) + " -o " + cft::shq(o),
		                  &log);
		EXPECT_EQ(rc, 2) << "damaged inputs give exit 2: " << log;
		EXPECT_NE(log.find("trunc0.pcap"), std::string::npos) << log;
		EXPECT_NE(log.find("notes.txt"), std::string::npos) << log;
		ASSERT_TRUE(cft::exists(o)) << log;
		ASSERT_TRUE(cft::exists(o + ".manifest.json")) << log;
		EXPECT_FALSE(cft::exists(o + ".partial"));
		EXPECT_FALSE(cft::exists(o + ".journal"));
		outs.push_back(o);
	}
	std::vector<uint8_t> one = cft::read_file(outs[0]);
	ASSERT_GT(one.size(), 1000u);
	EXPECT_TRUE(one == cft::read_file(outs[1])) << "--jobs 2 differs from --jobs 1 (" << ext << ")";
	EXPECT_TRUE(one == cft::read_file(outs[2])) << "--jobs 3 differs from --jobs 1 (" << ext << ")";
	if (!check_oracle)
		return;
	if (py().empty())
		GTEST_SKIP() << "python3 absent";
	std::vector<std::string> single = singles(ext);
	std::string cmd = py() + " " + oracle() + " concat " + fmt + " " + cft::shq(outs[1]);
	for (const std::string &s : single)
		cmd += " " + cft::shq(s);
	std::string out;
	EXPECT_EQ(cft::run(cmd, &out), 0) << out;
	cmd = py() + " " + oracle() + " manifest " + fmt + " " + cft::shq(outs[1]) + " " +
	      cft::shq(outs[1] + ".manifest.json") + " " + cf() + " " + cft::shq(spec_file(single));
	EXPECT_EQ(cft::run(cmd, &out), 0) << out;
	// the three manifests differ only in the output's name and the "run" object
	auto norm = [&](int j) {
		std::string m = cft::slurp(outs[j] + ".manifest.json"), o = outs[j], r;
		for (size_t at; (at = m.find(o)) != std::string::npos;)
			m.replace(at, o.size(), "OUT");
		for (const std::string &l : cft::split(m, '\n'))
			if (l.rfind("  \"run\":", 0) != 0)
				r += l + "\n";
		return r;
	};
	EXPECT_EQ(norm(0), norm(1));
	EXPECT_EQ(norm(0), norm(2));
}

TEST(RunJobs, CsvSameBytesForEveryJobsAndEqualsSingleFileRuns) { jobs_equal(".csv", "csv", true); }

TEST(RunJobs, JsonlSameBytesForEveryJobsAndEqualsSingleFileRuns) { jobs_equal(".jsonl", "jsonl", true); }

TEST(RunJobs, GzipAndParquetSameBytesForEveryJobs)
{
	jobs_equal(".csv.gz", "csv", false);
	jobs_equal(".parquet", "parquet", false);
	// the Parquet manifest's digest and size, by sha256sum and stat
	std::string o = cft::temp_path("pq.parquet"), out;
	cft::run(cf() + " flows -q --jobs 2 " + cft::shq(corpus().dir) + " -o " + cft::shq(o));
	ASSERT_EQ(cft::run("sha256sum " + cft::shq(o), &out), 0);
	std::string m = cft::slurp(o + ".manifest.json");
	EXPECT_NE(m.find("\"sha256\": \"" + out.substr(0, 64) + "\""), std::string::npos) << m;
	struct stat st;
	ASSERT_EQ(stat(o.c_str(), &st), 0);
	EXPECT_NE(m.find("\"bytes\": " + std::to_string(st.st_size) + ","), std::string::npos) << m;
}

// The inputs' paths as the manifest lists them.
std::vector<std::string> manifest_inputs(const std::string &manifest, std::vector<std::string> *status = nullptr)
{
	std::vector<std::string> v;
	std::string m = cft::slurp(manifest);
	size_t at = m.find("\"inputs\": [");
	const std::string key = "{\"path\": \"", skey = "\"status\": \"";
	while (at != std::string::npos && (at = m.find(key, at)) != std::string::npos) {
		at += key.size();
		v.push_back(m.substr(at, m.find('"', at) - at));
		size_t s = m.find(skey, at) + skey.size();
		if (status)
			status->push_back(m.substr(s, m.find('"', s) - s));
	}
	return v;
}

TEST(RunInputs, DirectoriesGlobsListsAndDuplicatesInTheirOrder)
{
	std::string d = cft::temp_path("order");
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(d + "/dir/a")), 0);
	const char *names[] = {"dir/b.pcap", "dir/a/z.pcap", "dir/B.pcap", "dir/a.pcap", "dir/a/y.pcap"};
	int seed = 1;
	for (const char *n : names)
		ASSERT_EQ(cft::run(cf() + " synth -q --snaplen 96 --flows 3 --seed " + std::to_string(seed++) + " -o " +
		                   cft::shq(d + "/" + n)),
		          0);
	auto run_order = [&](const std::string &args, std::vector<std::string> *status = nullptr) {
		std::string o = d + "/out.csv", log;
		int rc = cft::run("cd " + cft::shq(d) + " && " + cf() + " flows -q --jobs 2 " + args + " -o out.csv", &log);
		EXPECT_EQ(rc, 0) << args << ": " << log;
		return manifest_inputs(o + ".manifest.json", status);
	};
	// a directory: each directory's names bytewise ('B' < 'a' < 'a.pcap' < 'b.pcap'), recursing in place
	EXPECT_EQ(run_order("dir"), (std::vector<std::string>{"dir/B.pcap", "dir/a/y.pcap", "dir/a/z.pcap", "dir/a.pcap",
	                                                        "dir/b.pcap"}));
	// the command line's order otherwise
	EXPECT_EQ(run_order("dir/b.pcap dir/a"), (std::vector<std::string>{"dir/b.pcap", "dir/a/y.pcap", "dir/a/z.pcap"}));
	// a quoted glob: its matches bytewise
	EXPECT_EQ(run_order("'dir/*.pcap'"), (std::vector<std::string>{"dir/B.pcap", "dir/a.pcap", "dir/b.pcap"}));
	// @list: one input per line (blank lines ignored), each expanded
	std::ofstream(d + "/list.txt") << "dir/b.pcap\n\ndir/a\r\ndir/a.pcap\n";
	EXPECT_EQ(run_order("@list.txt"),
	          (std::vector<std::string>{"dir/b.pcap", "dir/a/y.pcap", "dir/a/z.pcap", "dir/a.pcap"}));
	// duplicates (same text, or the same file by another name) are listed and skipped
	std::vector<std::string> st;
	EXPECT_EQ(run_order("dir/a.pcap dir/a dir/a.pcap dir/./a/y.pcap", &st),
	          (std::vector<std::string>{"dir/a.pcap", "dir/a/y.pcap", "dir/a/z.pcap", "dir/a.pcap", "dir/./a/y.pcap"}));
	EXPECT_EQ(st, (std::vector<std::string>{"ok", "ok", "ok", "skipped", "skipped"}));
	std::string log;
	cft::run("cd " + cft::shq(d) + " && " + cf() + " flows -q dir/a.pcap dir/a.pcap -o out2.csv", &log);
	EXPECT_NE(log.find("dir/a.pcap: the same file as input 1, skipped"), std::string::npos) << log;
	// the rows of a duplicate are not written twice
	std::string once = cft::temp_path("once.csv");
	cft::run(cf() + " flows -q " + cft::shq(d + "/dir/a.pcap") + " -o " + cft::shq(once));
	EXPECT_EQ(cft::slurp(d + "/out2.csv"), cft::slurp(once));
	// a glob that matches nothing is a usage error
	EXPECT_EQ(cft::run("cd " + cft::shq(d) + " && " + cf() + " flows -q 'dir/*.nothing' -o out3.csv", &log), 1)
	    << log;
	EXPECT_NE(log.find("no input matches"), std::string::npos) << log;
}

} // namespace

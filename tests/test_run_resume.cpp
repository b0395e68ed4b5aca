// --resume and write errors of the run driver through `cuflow flows`: a run
// killed with SIGKILL (at file boundaries through the test hook
// CUFLOW_TEST_KILL_AFTER_COMMITS, and after random delays, resumes killed
// again) and resumed gives the output and manifest of an uninterrupted run
// (the manifest's "run" object apart); nothing with the final name exists
// while a run is unfinished; write errors (a parent that is a file, a file
// size limit) exit 1 naming the path and leave nothing that looks complete.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

// 30 captures (two truncated) in a directory tree.
const std::string &corpus()
{
	static std::string dir = [] {
		std::string d = cft::temp_path("resume-corpus");
		EXPECT_EQ(cft::run("mkdir -p " + cft::shq(d + "/x") + " " + cft::shq(d + "/y")), 0);
		for (int i = 0; i < 30; i++) {
			std::string name = d + (i % 3 == 0 ? "/x" : i % 3 == 1 ? "/y" : "") + "/c" + std::to_string(i) + ".pcap";
			EXPECT_EQ(cft::run(cf() + " synth -q --snaplen 128 --flows " + std::to_string(3 + (i * 29) % 80) +
			                   " --seed " + std::to_string(500 + i) + " -o " + cft::shq(name)),
			          0);
		}
		for (int i = 0; i < 2; i++) {
			std::vector<uint8_t> b = cft::read_file(d + "/c" + std::to_string(3 * i + 2) + ".pcap");
			b.resize(b.size() / 2 + 7);
			cft::write_file(d + "/y/t" + std::to_string(i) + ".pcap", b);
		}
		return d;
	}();
	return dir;
}

// The manifest without its "run" line, the output's name replaced.
std::string manifest_norm(const std::string &out)
{
	std::string m = cft::slurp(out + ".manifest.json"), r;
	for (size_t at; (at = m.find(out)) != std::string::npos;)
		m.replace(at, out.size(), "OUT");
	for (const std::string &l : cft::split(m, '\n'))
		if (l.rfind("  \"run\":", 0) != 0)
			r += l + "\n";
	return r;
}

struct Ref {
	std::string out;
	double seconds;
};

const Ref &reference(const std::string &ext)
{
	static std::map<std::string, Ref> refs;
	auto it = refs.find(ext);
	if (it != refs.end())
		return it->second;
	Ref r{cft::temp_path("ref" + ext), 0};
	auto t0 = std::chrono::steady_clock::now();
	std::string log;
	EXPECT_EQ(cft::run(cf() + " flows -q " + cft::shq(corpus()) + " -o " + cft::shq(r.out), &log), 2) << log;
	r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	return refs[ext] = r;
}

void expect_same_as_reference(const std::string &out, const std::string &ext, const std::string &what)
{
	const Ref &ref = reference(ext);
	EXPECT_TRUE(cft::read_file(out) == cft::read_file(ref.out)) << what << ": output differs";
	EXPECT_EQ(manifest_norm(out), manifest_norm(ref.out)) << what;
	EXPECT_FALSE(cft::exists(out + ".partial")) << what;
	EXPECT_FALSE(cft::exists(out + ".journal")) << what;
}

std::string flows_cmd(const std::string &out, int jobs, bool resume)
{
	return cf() + " flows -q --jobs " + std::to_string(jobs) + (resume ? " --resume " : " ") + cft::shq(corpus()) +
	       " -o " + cft::shq(out);
}

TEST(RunResume, KilledAtFileBoundariesThenResumed)
{
	const char *exts[] = {".csv", ".jsonl"};
	for (const char *ext : exts)
		for (int n : {1, 9, 20, 31}) {
			int jobs = 1 + n % 3;
			std::string out = cft::temp_path(std::string("kb") + std::to_string(n) + ext), log;
			int rc = cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=" + std::to_string(n) + " " + flows_cmd(out, jobs, false),
			                  &log);
			ASSERT_EQ(rc, 128 + SIGKILL) << log;
			// nothing looks complete
			EXPECT_FALSE(cft::exists(out));
			EXPECT_FALSE(cft::exists(out + ".manifest.json"));
			EXPECT_TRUE(cft::exists(out + ".partial"));
			// the journal holds at least the n inputs reported as committed (after its
			// header line): the committer writes rows and journal lines in batches and
			// reports a batch's inputs once both are written
			EXPECT_GE(cft::split(cft::slurp(out + ".journal"), '\n').size(), (size_t)n + 2);
			rc = cft::run(flows_cmd(out, 3 - n % 2, true), &log);
			EXPECT_EQ(rc, 2) << log;
			expect_same_as_reference(out, ext, "killed after " + std::to_string(n) + " commits");
			EXPECT_NE(cft::slurp(out + ".manifest.json").find("\"resumed\": true"), std::string::npos);
		}
}

// Starts cuflow with argv, kills it with SIGKILL after `delay` seconds
// (unless it ended before); returns whether it was killed.
bool run_and_kill(const std::vector<std::string> &args, double delay)
{
	pid_t pid = fork();
	if (pid == 0) {
		std::vector<char *> v;
		for (const std::string &a : args)
			v.push_back(const_cast<char *>(a.c_str()));
		v.push_back(nullptr);
		freopen("/dev/null", "w", stderr);
		execv(v[0], v.data());
		_exit(127);
	}
	std::this_thread::sleep_for(std::chrono::duration<double>(delay));
	kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st);
}

TEST(RunResume, KilledAtRandomTimesThenResumed)
{
	const Ref &ref = reference(".csv");
	std::mt19937 rng(20261206);
	int killed = 0;
	for (int t = 0; t < 6; t++) {
		std::string out = cft::temp_path("kr" + std::to_string(t) + ".csv");
		// within the first 60% of an uninterrupted run's time (a resumed run has
		// less to do, so it may end before its kill: that is a case too)
		std::uniform_real_distribution<double> when(0.0, ref.seconds * 0.6);
		// a first run and up to two resumed runs killed at random, then one to the end
		for (int k = 0; k < 3; k++) {
			std::vector<std::string> args = {cft::cuflow_bin(), "flows", "-q", "--jobs", std::to_string(1 + (t + k) % 3)};
			if (k)
				args.push_back("--resume");
			args.insert(args.end(), {corpus(), "-o", out});
			killed += run_and_kill(args, when(rng));
			EXPECT_FALSE(cft::exists(out + ".manifest.json") && cft::exists(out + ".journal"));
		}
		std::string log;
		EXPECT_EQ(cft::run(flows_cmd(out, 2, true), &log), 2) << log;
		expect_same_as_reference(out, ".csv", "random kills, trial " + std::to_string(t));
	}
	EXPECT_GE(killed, 2) << "the random delays should interrupt some runs";
}

TEST(RunResume, RefusedForOtherOptionsGzipAndParquet)
{
	std::string out = cft::temp_path("other.csv"), log;
	ASSERT_EQ(cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=5 " + flows_cmd(out, 2, false), &log), 128 + SIGKILL);
	int rc = cft::run(cf() + " flows -q --resume --idle-timeout 10 " + cft::shq(corpus()) + " -o " + cft::shq(out), &log);
	EXPECT_EQ(rc, 1) << log;
	EXPECT_NE(log.find("belongs to another run"), std::string::npos) << log;
	EXPECT_FALSE(cft::exists(out));
	for (const char *ext : {".csv.gz", ".parquet"}) {
		std::string o = cft::temp_path(std::string("nores") + ext);
		rc = cft::run(flows_cmd(o, 1, true), &log);
		EXPECT_EQ(rc, 1) << log;
		EXPECT_NE(log.find("--resume is not supported"), std::string::npos) << log;
		EXPECT_FALSE(cft::exists(o));
	}
	// without a journal, --resume runs from the start
	std::string fresh = cft::temp_path("fresh.csv");
	EXPECT_EQ(cft::run(flows_cmd(fresh, 2, true), &log), 2) << log;
	expect_same_as_reference(fresh, ".csv", "--resume without a journal");
}

TEST(RunWriteErrors, ParentIsAFile)
{
	std::string f = cft::temp_path("plain-file");
	std::ofstream(f) << "x";
	for (const char *ext : {"/out.csv", "/out.jsonl.gz", "/out.parquet"}) {
		std::string out = f + ext, log;
		int rc = cft::run(flows_cmd(out, 2, false), &log);
		EXPECT_EQ(rc, 1) << log;
		EXPECT_NE(log.find(out), std::string::npos) << "the message names the path: " << log;
	}
}

TEST(RunWriteErrors, FileSizeLimitStopsWithTheMessage)
{
	const Ref &ref = reference(".csv");
	struct stat st;
	ASSERT_EQ(stat(ref.out.c_str(), &st), 0);
	ASSERT_GT(st.st_size, 200 * 1024) << "the output must pass the limit";
	for (const char *ext : {".csv", ".jsonl", ".csv.gz"}) {
		std::string out = cft::temp_path(std::string("fsize") + ext), log;
		// 100 KiB (prlimit counts bytes): the output passes it, the inputs are only read
		int rc = cft::run("prlimit --fsize=102400 " + flows_cmd(out, 2, false), &log);
		EXPECT_EQ(rc, 1) << log;
		EXPECT_NE(log.find(out), std::string::npos) << log;
		EXPECT_NE(log.find("File too large"), std::string::npos) << log;
		EXPECT_FALSE(cft::exists(out)) << "nothing with the final name";
		EXPECT_FALSE(cft::exists(out + ".manifest.json"));
		if (std::string(ext) == ".csv") {
			// the partial output and its journal stay: --resume with room finishes it
			EXPECT_TRUE(cft::exists(out + ".partial"));
			EXPECT_EQ(cft::run(flows_cmd(out, 3, true), &log), 2) << log;
			expect_same_as_reference(out, ".csv", "resumed after a full disk");
		}
	}
}

} // namespace

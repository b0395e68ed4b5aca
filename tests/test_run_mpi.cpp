// Several MPI ranks (cf_run_net, host/cli/cli_mpi.c): `mpirun -np P cuflow
// ...` gives, for P = 1, 2, 3 or 4 on this machine (--oversubscribe), the
// bytes of one process: flows as CSV, gzip and Parquet, extract's and
// netml's tables, the sessions database, and the manifests (but for their
// "run" object). The oracle is the single-process run, which the other
// tests check against upstream tools. The inputs include a truncated
// capture, a text file and a duplicate, whose reports must survive the
// trip to rank 0. The Slurm batch script in docs/ is checked for syntax.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

// mpirun as root needs Open MPI's consent; the sanitizers' leak check
// would report Open MPI's own allocations at exit.
std::string mpirun(int np)
{
	return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
	       "ASAN_OPTIONS=detect_leaks=0 timeout 120 mpirun --oversubscribe -np " +
	       std::to_string(np) + " ";
}

// The corpus: 10 synthetic captures of different sizes, a truncated copy,
// a text file and a second name for one capture.
const std::string &corpus()
{
	static std::string dir = [] {
		std::string d = cft::temp_path("mpi-corpus");
		mkdir(d.c_str(), 0755);
		for (int i = 0; i < 10; i++) {
			std::string name = d + "/cap" + std::to_string(i) + ".pcap";
			EXPECT_EQ(cft::run(cf() + " synth -q --flows " + std::to_string(5 + i * 13) + " --seed " +
			                   std::to_string(40 + i) + " -o " + cft::shq(name)),
			          0);
		}
		std::vector<uint8_t> b = cft::read_file(d + "/cap9.pcap");
		b.resize(b.size() / 2 + 3);
		cft::write_file(d + "/cap9-cut.pcap", b);
		const char text[] = "not a capture\n";
		cft::write_file(d + "/notes.pcap", std::vector<uint8_t>(text, text + sizeof text - 1));
		EXPECT_EQ(symlink((d + "/cap3.pcap").c_str(), (d + "/same-as-cap3.pcap").c_str()), 0);
		return d;
	}();
	return dir;
}

// The manifest without its "run" object and with the output's own name
// (which differs between the runs) cut out.
std::string manifest_body(const std::string &path, const std::string &name)
{
	std::string m = cft::slurp(path), out;
	for (const std::string &line : cft::split(m, '\n'))
		if (line.find("\"run\":") == std::string::npos)
			out += line + "\n";
	for (size_t at; (at = out.find(name)) != std::string::npos;)
		out.erase(at, name.size());
	return out;
}

bool have_mpi(std::string *why)
{
	static int state = -1;
	static std::string reason;
	if (state < 0) {
		std::string out;
		if (cft::run("command -v mpirun", &out) != 0) {
			state = 0, reason = "mpirun (openmpi-bin) is not installed";
		} else {
			std::string o = cft::temp_path("probe.csv");
			int rc = cft::run(mpirun(2) + cf() + " flows -q " + cft::shq(corpus() + "/cap0.pcap") + " " +
			                  cft::shq(corpus() + "/cap1.pcap") + " -o " + cft::shq(o), &out);
			if (rc != 0)
				state = 0, reason = "mpirun -np 2 failed here: " + out;
			else if (cft::slurp(o + ".manifest.json").find("\"ranks\": 2") == std::string::npos)
				state = 0, reason = "cuflow was built without MPI (CUFLOW_HAVE_MPI)";
			else
				state = 1;
		}
	}
	*why = reason;
	return state == 1;
}

TEST(RunMpi, FlowsAreTheBytesOfOneProcess)
{
	std::string why;
	if (!have_mpi(&why))
		GTEST_SKIP() << why;
	for (const char *ext : {".csv", ".csv.gz", ".parquet", ".jsonl"}) {
		std::string one = cft::temp_path(std::string("one") + ext), out;
		EXPECT_EQ(cft::run(cf() + " flows -q " + cft::shq(corpus()) + " -o " + cft::shq(one), &out), 2) << out;
		const std::string want = cft::slurp(one), want_m = manifest_body(one + ".manifest.json", one);
		ASSERT_GT(want.size(), 1000u);
		const bool every = std::string(ext) == ".csv" || std::string(ext) == ".parquet";
		for (int np : every ? std::vector<int>{1, 2, 4} : std::vector<int>{3}) {
			std::string got = cft::temp_path(std::string("ranks") + ext);
			// exit 2: the truncated capture and the text file, reported by rank 0
			EXPECT_EQ(cft::run(mpirun(np) + cf() + " flows -q " + cft::shq(corpus()) + " -o " + cft::shq(got), &out), 2)
			        << np << " ranks, " << ext << "\n" << out;
			EXPECT_TRUE(cft::slurp(got) == want) << np << " ranks, " << ext;
			EXPECT_EQ(manifest_body(got + ".manifest.json", got), want_m) << np << " ranks, " << ext;
			EXPECT_NE(cft::slurp(got + ".manifest.json").find("\"ranks\": " + std::to_string(np > 1 ? np : 1)),
			          std::string::npos);
			if (std::string(ext) == ".csv") {
				EXPECT_NE(out.find("notes.pcap"), std::string::npos) << out;         // damaged: named once
				EXPECT_NE(out.find("the same file as input"), std::string::npos) << out;
			}
		}
	}
}

TEST(RunMpi, TablesAreTheBytesOfOneProcess)
{
	std::string why;
	if (!have_mpi(&why))
		GTEST_SKIP() << why;
	const char *cmds[] = {"extract", "netml --type SIZE --dim 6", "windows --window 3 --format csv"};
	for (const char *cmd : cmds) {
		std::string one = cft::temp_path("one"), out;
		EXPECT_EQ(cft::run(cf() + " " + cmd + " -q --jobs 2 " + cft::shq(corpus()) + " -o " + cft::shq(one), &out), 2)
		        << cmd << out;
		for (int np : {2, 4}) {
			std::string got = cft::temp_path("ranks");
			EXPECT_EQ(cft::run(mpirun(np) + cf() + " " + cmd + " -q " + cft::shq(corpus()) + " -o " + cft::shq(got), &out),
			          2)
			        << cmd << ", " << np << " ranks\n" << out;
			EXPECT_EQ(cft::run("diff -r -x manifest.json " + cft::shq(one) + " " + cft::shq(got), &out), 0)
			        << cmd << ", " << np << " ranks\n" << out;
			EXPECT_EQ(manifest_body(got + "/manifest.json", got), manifest_body(one + "/manifest.json", one))
			        << cmd << ", " << np << " ranks";
		}
	}
}

TEST(RunMpi, SessionsDatabaseIsTheOneOfOneProcess)
{
	std::string why;
	if (!have_mpi(&why))
		GTEST_SKIP() << why;
	if (!cft::exists("/usr/share/ieee-data/oui.csv"))
		GTEST_SKIP() << "ieee-data not installed";
	std::string a = cft::temp_path("one.db"), b = cft::temp_path("ranks.db"), out;
	EXPECT_EQ(cft::run(cf() + " sessions -q " + cft::shq(corpus()) + " -o " + cft::shq(a), &out), 2) << out;
	EXPECT_EQ(cft::run(mpirun(3) + cf() + " sessions -q " + cft::shq(corpus()) + " -o " + cft::shq(b), &out), 2) << out;
	std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
	EXPECT_EQ(cft::run("python3 " + cft::shq(src + "/tests/oracles/sqlite_tables_equal.py") + " " + cft::shq(a) + " " +
	                   cft::shq(b) + " --tables sessions,devices,device_ips,dns,files --skip committed",
	                   &out),
	          0) << out;
}

TEST(RunMpi, RefusedUnderSeveralRanks)
{
	std::string why;
	if (!have_mpi(&why))
		GTEST_SKIP() << why;
	std::string o = cft::temp_path("o.csv"), out;
	EXPECT_NE(cft::run(mpirun(2) + cf() + " synth -q -o " + cft::shq(o), &out), 0);
	EXPECT_NE(out.find("does not run over several MPI ranks"), std::string::npos) << out;
	EXPECT_NE(cft::run(mpirun(2) + cf() + " flows -q --resume " + cft::shq(corpus()) + " -o " + cft::shq(o), &out), 0);
	EXPECT_NE(out.find("do not serve --resume"), std::string::npos) << out;
	EXPECT_NE(cft::run(mpirun(2) + cf() + " flows -q --continuous " + cft::shq(corpus() + "/cap1.pcap") + " -o " +
	                   cft::shq(o), &out),
	          0);
	EXPECT_NE(out.find("do not serve --continuous"), std::string::npos) << out;
}

// The Slurm batch script of docs/scale.md: bash syntax, and the command
// it runs is one cuflow accepts (its --help).
TEST(RunMpi, SlurmScriptParses)
{
	std::string src = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR);
	std::string script = src + "/docs/slurm/cuflow-archive.sbatch", out;
	ASSERT_TRUE(cft::exists(script));
	EXPECT_EQ(cft::run("bash -n " + cft::shq(script), &out), 0) << out;
	std::string text = cft::slurp(script);
	EXPECT_NE(text.find("#SBATCH --ntasks-per-node=1"), std::string::npos);
	EXPECT_NE(text.find("srun "), std::string::npos);
	for (const char *opt : {"--jobs", "-o"})
		EXPECT_NE(text.find(opt), std::string::npos) << opt;
}

} // namespace

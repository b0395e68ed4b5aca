// cuflow as an installed product: `cmake --install` into a temporary
// prefix, then, outside the source tree,
//   * a C program built with `pkg-config --cflags --libs cuflow` against
//     the shared library,
//   * a CMake project with find_package(cuflow) linking cuflow::cuflow and
//     cuflow::cuflow_static,
// each reading a capture through the public API and printing its packet
// count, which must equal what `cuflow info` (installed too) reports; the
// public headers compile as C11 and C++17 with -Wall -Wextra -pedantic
// -Werror; `cpack -G DEB` makes a package holding the tool, both libraries,
// the headers and both description files.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cuflow/cuflow.h"
#include "test_util.h"

#ifndef CFT_BUILD_DIR
#define CFT_BUILD_DIR ""
#endif
#ifndef CFT_SANITIZE
#define CFT_SANITIZE ""
#endif

namespace {

const char kProgram[] = R"(/* counts the frames of a capture through the public API */
#include <stdio.h>
#include <cuflow/cuflow.h>

int main(int argc, char **argv)
{
	char err[CF_ERRBUF_SIZE];
	cf_reader *r = NULL;
	if (argc < 2 || cf_reader_open(argv[1], &r, err) != CF_OK) {
		fprintf(stderr, "open: %s\n", argc < 2 ? "no file" : err);
		return 1;
	}
	cf_frame f;
	unsigned long long n = 0;
	int st;
	while ((st = cf_reader_next(r, &f)) == CF_OK)
		n++;
	cf_reader_close(r);
	printf("%s %llu\n", cf_version(), n);
	return st == CF_EOF ? 0 : 2;
}
)";

void write(const std::string &path, const std::string &text)
{
	std::ofstream(path) << text;
}

std::string sanitize_flags()
{
	std::string s = CFT_SANITIZE;
	return s.empty() ? "" : " -fsanitize=" + s;
}

struct Installed {
	std::string prefix, capture, count;
};

// Installs once for the whole suite.
const Installed &installed()
{
	static Installed in = [] {
		Installed x;
		x.prefix = cft::temp_path("-prefix");
		std::string log;
		int rc = cft::run("cmake --install " + cft::shq(CFT_BUILD_DIR) + " --prefix " + cft::shq(x.prefix), &log);
		if (rc != 0) {
			ADD_FAILURE() << "cmake --install failed: " << log;
			return x;
		}
		x.capture = cft::temp_path(".pcap");
		std::string bin = x.prefix + "/bin/cuflow";
		EXPECT_EQ(cft::run(cft::shq(bin) + " synth -q --flows 300 --seed 4 -o " + cft::shq(x.capture)), 0);
		std::string json;
		EXPECT_EQ(cft::run(cft::shq(bin) + " info --json --backend cpu " + cft::shq(x.capture), &json), 0);
		size_t p = json.find("\"packets\":");
		if (p != std::string::npos)
			x.count = json.substr(p + 10, json.find_first_of(",}", p) - p - 10);
		return x;
	}();
	return in;
}

TEST(Install, PkgConfigProgramOutsideTheTree)
{
	const Installed &in = installed();
	ASSERT_FALSE(in.count.empty());
	std::string dir = cft::temp_path("-pkgconfig");
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(dir)), 0);
	write(dir + "/count.c", kProgram);
	std::string env = "PKG_CONFIG_PATH=" + cft::shq(in.prefix + "/lib/pkgconfig") + " ";
	std::string log;
	ASSERT_EQ(cft::run(env + "pkg-config --modversion cuflow", &log), 0) << log;
	EXPECT_EQ(log.substr(0, log.find('\n')), CF_VERSION_STRING);
	ASSERT_EQ(cft::run("cd " + cft::shq(dir) + " && cc -std=c11 -Wall -Wextra -Werror" + sanitize_flags() +
	                               " count.c $(" + env + "pkg-config --cflags --libs cuflow) -o count",
	                           &log),
	          0)
	    << log;
	ASSERT_EQ(cft::run("LD_LIBRARY_PATH=" + cft::shq(in.prefix + "/lib") + " " + cft::shq(dir + "/count") +
	                               " " + cft::shq(in.capture),
	                           &log),
	          0)
	    << log;
	EXPECT_EQ(log, std::string(CF_VERSION_STRING) + " " + in.count + "\n");
	// the shared library really is what it runs
	ASSERT_EQ(cft::run("LD_LIBRARY_PATH=" + cft::shq(in.prefix + "/lib") + " ldd " + cft::shq(dir + "/count"),
	                           &log),
	          0);
	EXPECT_NE(log.find(in.prefix + "/lib/libcuflow.so.0"), std::string::npos) << log;
}

TEST(Install, CMakeFindPackageSharedAndStatic)
{
	const Installed &in = installed();
	ASSERT_FALSE(in.count.empty());
	std::string dir = cft::temp_path("-findpkg");
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(dir)), 0);
	write(dir + "/count.c", kProgram);
	std::string flags = sanitize_flags();
	// (a sanitized build's library needs its consumers built the same way)
	write(dir + "/CMakeLists.txt", "cmake_minimum_required(VERSION 3.24)\nproject(count C CXX)\n"
	                               "if(NOT \"" + flags + "\" STREQUAL \"\")\n"
	                               "  add_compile_options(" + flags + ")\n  add_link_options(" + flags + ")\n"
	                               "endif()\n"
	                               "find_package(cuflow 0.1 REQUIRED)\n"
	                               "add_executable(count_shared count.c)\n"
	                               "target_link_libraries(count_shared PRIVATE cuflow::cuflow)\n"
	                               "add_executable(count_static count.c)\n"
	                               "target_link_libraries(count_static PRIVATE cuflow::cuflow_static)\n"
	                               "set_target_properties(count_static PROPERTIES LINKER_LANGUAGE CXX)\n");
	std::string log;
	ASSERT_EQ(cft::run("cmake -S " + cft::shq(dir) + " -B " + cft::shq(dir + "/b") + " -G Ninja " +
	                               "-DCMAKE_PREFIX_PATH=" + cft::shq(in.prefix) + " && cmake --build " +
	                               cft::shq(dir + "/b"),
	                           &log),
	          0)
	    << log;
	for (const char *exe : {"count_shared", "count_static"}) {
		ASSERT_EQ(cft::run(cft::shq(dir + "/b/" + exe) + " " + cft::shq(in.capture), &log), 0) << exe << log;
		EXPECT_EQ(log, std::string(CF_VERSION_STRING) + " " + in.count + "\n") << exe;
	}
}

// Every public header, alone, as strict C11 and C++17.
TEST(Install, PublicHeadersCompileAsC11AndCxx17Pedantic)
{
	const Installed &in = installed();
	std::string dir = cft::temp_path("-headers"), log;
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(dir)), 0);
	ASSERT_EQ(cft::run("ls " + cft::shq(in.prefix + "/include/cuflow"), &log), 0);
	size_t n = 0, start = 0;
	for (size_t nl; (nl = log.find('\n', start)) != std::string::npos; start = nl + 1) {
		std::string h = log.substr(start, nl - start);
		if (h.size() < 3 || h.substr(h.size() - 2) != ".h")
			continue;
		n++;
		write(dir + "/t.c", "#include <cuflow/" + h + ">\nint main(void) { return 0; }\n");
		write(dir + "/t.cpp", "#include <cuflow/" + h + ">\nint main() { return 0; }\n");
		std::string out;
		EXPECT_EQ(cft::run("cc -std=c11 -Wall -Wextra -pedantic -Werror -I" + cft::shq(in.prefix + "/include") +
		                               " -c " + cft::shq(dir + "/t.c") + " -o /dev/null",
		                           &out),
		          0)
		    << h << " as C11: " << out;
		EXPECT_EQ(cft::run("c++ -std=c++17 -Wall -Wextra -pedantic -Werror -I" +
		                               cft::shq(in.prefix + "/include") + " -c " + cft::shq(dir + "/t.cpp") +
		                               " -o /dev/null",
		                           &out),
		          0)
		    << h << " as C++17: " << out;
	}
	EXPECT_GE(n, 5u);
}

TEST(Install, CpackMakesADebianPackage)
{
	std::string dir = cft::temp_path("-deb"), log;
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(dir)), 0);
	ASSERT_EQ(cft::run("cd " + cft::shq(dir) + " && cpack -G DEB --config " +
	                               cft::shq(std::string(CFT_BUILD_DIR) + "/CPackConfig.cmake"),
	                           &log),
	          0)
	    << log;
	std::string deb;
	ASSERT_EQ(cft::run("ls " + cft::shq(dir) + "/*.deb", &deb), 0) << log;
	deb = deb.substr(0, deb.find('\n'));
	std::string list;
	ASSERT_EQ(cft::run("dpkg-deb -c " + cft::shq(deb), &list), 0);
	for (const char *f : {"./usr/bin/cuflow", "./usr/lib/" /* libdir */, "libcuflow.so.0", "libcuflow.a",
	                      "./usr/include/cuflow/cuflow.h", "pkgconfig/cuflow.pc", "cmake/cuflow/cuflowConfig.cmake"})
		EXPECT_NE(list.find(f), std::string::npos) << f << " not in " << deb << ":\n" << list;
	std::string info;
	ASSERT_EQ(cft::run("dpkg-deb -f " + cft::shq(deb) + " Package Version Depends", &info), 0);
	EXPECT_NE(info.find("Package: cuflow"), std::string::npos) << info;
	EXPECT_NE(info.find("libpcap"), std::string::npos) << "Depends must name libpcap: " << info;
}

} // namespace

#include "test_util.h"


#include <atomic>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cuflow/status.h"
#include "cuflow/synth.h"

namespace cft {

// Build-time defaults for the variables the test CMakeLists knows about.
static const char *compiled_default(const char *name)
{
	static const struct { const char *name, *value; } defaults[] = {
		{"CUFLOW_BIN", CFT_DEFAULT_CUFLOW_BIN},
		{"CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR},
		{"CUFLOW_SHARED", CFT_DEFAULT_CUFLOW_SHARED},
		{"CUFLOW_TEST_DATA", CFT_DEFAULT_CUFLOW_TEST_DATA},
		{"CUFLOW_TMP", CFT_DEFAULT_CUFLOW_TMP},
	};
	for (auto &d : defaults)
		if (!strcmp(d.name, name))
			return d.value;
	return nullptr;
}

// Exported at start-up (never overriding the caller's environment), so
// child processes (the CLI, the Python oracles) see the same paths.
static const bool g_env_exported = [] {
	for (const char *n : {"CUFLOW_BIN", "CUFLOW_SOURCE_DIR", "CUFLOW_SHARED", "CUFLOW_TEST_DATA", "CUFLOW_TMP"})
		if (const char *d = compiled_default(n))
			setenv(n, d, 0);
	return true;
}();

std::string env(const char *name, const std::string &fallback)
{
	const char *v = getenv(name);
	if (v && *v)
		return v;
	const char *d = compiled_default(name);
	return d && *d ? std::string(d) : fallback;
}

std::string temp_path(const std::string &suffix)
{
	// pid alone is not enough: pids come round again and the files of an
	// earlier run stay in the directory (a stale output once made a test
	// that expects no output fail); the start time makes the prefix unique
	static std::atomic<int> n{0};
	static const std::string run = [] {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		return std::to_string(getpid()) + "_" + std::to_string((long long)ts.tv_sec * 1000000000ll + ts.tv_nsec);
	}();
	std::string dir = env("CUFLOW_TMP", "/tmp");
	mkdir(dir.c_str(), 0755);
	return dir + "/t" + run + "_" + std::to_string(n++) + suffix;
}

std::string synth_pcap(uint64_t seed, uint64_t flows, bool nanosecond)
{
	std::string path = temp_path(".pcap");
	cf_synth_opts o;
	cf_synth_opts_default(&o);
	o.path = path.c_str();
	o.flows = flows;
	o.seed = seed;
	o.duration_s = 60;
	o.nanosecond = nanosecond;
	char err[CF_ERRBUF_SIZE];
	if (cf_synth_write(&o, nullptr, err) != CF_OK) {
		ADD_FAILURE() << "cf_synth_write: " << err;
		return "";
	}
	return path;
}

static void put32(std::vector<uint8_t> &v, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		v.push_back((uint8_t)(x >> (8 * i)));
}
static void put16(std::vector<uint8_t> &v, uint16_t x)
{
	v.push_back((uint8_t)x);
	v.push_back((uint8_t)(x >> 8));
}

void write_pcap(const std::string &path, int linktype, const std::vector<Frame> &frames,
                bool nanosecond, uint32_t snaplen)
{
	std::vector<uint8_t> v;
	put32(v, nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
	put16(v, 2);
	put16(v, 4);
	put32(v, 0);
	put32(v, 0);
	put32(v, snaplen);
	put32(v, (uint32_t)linktype);
	for (const Frame &f : frames) {
		int64_t sec = f.ts_ns / 1000000000, frac = f.ts_ns % 1000000000;
		put32(v, (uint32_t)sec);
		put32(v, (uint32_t)(nanosecond ? frac : frac / 1000));
		put32(v, (uint32_t)f.bytes.size());
		put32(v, f.wirelen ? f.wirelen : (uint32_t)f.bytes.size());
		v.insert(v.end(), f.bytes.begin(), f.bytes.end());
	}
	write_file(path, v);
}

std::vector<uint8_t> read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string slurp(const std::string &path)
{
	auto b = read_file(path);
	return std::string(b.begin(), b.end());
}

bool exists(const std::string &path)
{
	struct stat st;
	return stat(path.c_str(), &st) == 0;
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	size_t b = 0;
	for (;;) {
		size_t e = s.find(sep, b);
		out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
		if (e == std::string::npos)
			return out;
		b = e + 1;
	}
}

std::string venv_python(const char *env_var, const std::string &venv, const std::string &module)
{
	static std::map<std::string, std::string> found;
	auto it = found.find(module);
	if (it != found.end())
		return it->second;
	std::vector<std::string> cands;
	std::string e = env(env_var);
	if (!e.empty())
		cands.push_back(e);
	std::string bin = cuflow_bin();
	size_t slash = bin.rfind('/');
	cands.push_back((slash == std::string::npos ? std::string(".") : bin.substr(0, slash)) + "/" + venv +
	                "/bin/python");
	cands.push_back(env("CUFLOW_SOURCE_DIR") + "/build/" + venv + "/bin/python");
	cands.push_back("python3");
	std::string got;
	for (auto &c : cands) {
		if (c.find('/') != std::string::npos && !exists(c))
			continue;
		if (run(shq(c) + " -c 'import " + module + "' >/dev/null 2>&1") == 0) {
			got = c;
			break;
		}
	}
	found[module] = got;
	return got;
}

void write_file(const std::string &path, const std::vector<uint8_t> &bytes)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out.write((const char *)bytes.data(), (std::streamsize)bytes.size());
	if (!out)
		throw std::runtime_error("cannot write " + path);
}

int run(const std::string &cmd, std::string *out)
{
	std::string full = cmd + " 2>&1";
	FILE *p = popen(full.c_str(), "r");
	if (!p)
		return -1;
	char buf[4096];
	size_t n;
	std::string s;
	while ((n = fread(buf, 1, sizeof buf, p)) > 0)
		s.append(buf, n);
	int st = pclose(p);
	if (out)
		*out = s;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string shq(const std::string &s)
{
	std::string o = "'";
	for (char c : s)
		o += c == '\'' ? std::string("'\\''") : std::string(1, c);
	return o + "'";
}

std::string cuflow_bin() { return env("CUFLOW_BIN", "cuflow"); }

std::string shared_dir()
{
	std::string d = env("CUFLOW_SHARED");
	struct stat st;
	if (d.empty() || stat((d + "/captures").c_str(), &st) != 0)
		return "";
	return d;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

std::vector<uint8_t> eth(const uint8_t dst[6], const uint8_t src[6], uint16_t ethertype)
{
	std::vector<uint8_t> v(dst, dst + 6);
	v.insert(v.end(), src, src + 6);
	v.push_back((uint8_t)(ethertype >> 8));
	v.push_back((uint8_t)ethertype);
	return v;
}

std::vector<uint8_t> ipv4(uint32_t src, uint32_t dst, uint8_t proto, const std::vector<uint8_t> &payload,
                          uint8_t ttl, uint16_t id, uint16_t frag)
{
	size_t tot = 20 + payload.size();
	std::vector<uint8_t> v = {0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, (uint8_t)(id >> 8), (uint8_t)id,
	                          (uint8_t)(frag >> 8), (uint8_t)frag, ttl, proto, 0, 0,
	                          (uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src,
	                          (uint8_t)(dst >> 24), (uint8_t)(dst >> 16), (uint8_t)(dst >> 8), (uint8_t)dst};
	uint16_t c = csum(v.data(), 20);
	v[10] = (uint8_t)(c >> 8);
	v[11] = (uint8_t)c;
	v.insert(v.end(), payload.begin(), payload.end());
	return v;
}

std::vector<uint8_t> ipv6(const uint8_t src[16], const uint8_t dst[16], uint8_t next,
                          const std::vector<uint8_t> &payload, uint8_t hlim)
{
	std::vector<uint8_t> v = {0x60, 0, 0, 0, (uint8_t)(payload.size() >> 8), (uint8_t)payload.size(), next, hlim};
	v.insert(v.end(), src, src + 16);
	v.insert(v.end(), dst, dst + 16);
	v.insert(v.end(), payload.begin(), payload.end());
	return v;
}

std::vector<uint8_t> tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint16_t flags,
                         uint16_t window, size_t payload)
{
	std::vector<uint8_t> v = {(uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
	                          (uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq,
	                          (uint8_t)(ack >> 24), (uint8_t)(ack >> 16), (uint8_t)(ack >> 8), (uint8_t)ack,
	                          (uint8_t)(0x50 | ((flags >> 8) & 1)), (uint8_t)flags,
	                          (uint8_t)(window >> 8), (uint8_t)window, 0, 0, 0, 0};
	v.resize(20 + payload, 0x61);
	return v;
}

std::vector<uint8_t> udp(uint16_t sport, uint16_t dport, const std::vector<uint8_t> &payload)
{
	size_t len = 8 + payload.size();
	std::vector<uint8_t> v = {(uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
	                          (uint8_t)(len >> 8), (uint8_t)len, 0, 0};
	v.insert(v.end(), payload.begin(), payload.end());
	return v;
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t> &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

std::string numpy_python()
{
	static const std::string py = [] {
		std::vector<std::string> cands;
		std::string e = env("CUFLOW_PYTHON");
		if (!e.empty())
			cands.push_back(e);
		cands.push_back("python3");
		cands.push_back("/usr/bin/python3");
		for (auto &c : cands)
			if (run(shq(c) + " -c 'import numpy' >/dev/null 2>&1") == 0)
				return c;
		return std::string();
	}();
	return py;
}

// Compile-time: GCC and Clang predefine __SANITIZE_ADDRESS__ / answer
// __has_feature(address_sanitizer) under -fsanitize=address; the test
// CMakeLists passes CUFLOW_SANITIZE as CFT_SANITIZERS (UBSan alone has no
// macro).
#if defined(__SANITIZE_ADDRESS__)
#define CFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CFT_ASAN 1
#endif
#endif
#ifndef CFT_ASAN
#define CFT_ASAN 0
#endif
#ifndef CFT_SANITIZERS
#define CFT_SANITIZERS ""
#endif

bool sanitized()
{
	if (const char *v = getenv("CFT_SANITIZED"))
		return *v && strcmp(v, "0") != 0;
	return CFT_ASAN || CFT_SANITIZERS[0] != '\0';
}

CtypesLib ctypes_lib()
{
	CtypesLib r;
	std::string bin = cuflow_bin();
	size_t slash = bin.rfind('/');
	std::string dir = slash == std::string::npos ? "." : bin.substr(0, slash);
	std::string lib = env("CUFLOW_LIBRARY", dir + "/libcuflow.so");
	if (!exists(lib)) {
		r.problem = lib + " is absent: build the cuflow_shared target";
		return r;
	}
	r.path = lib;
	// The shared library links the same objects as the static one the tests
	// link: when an nn object is newer, only libcuflow.a was rebuilt.
	struct stat so{};
	if (stat(lib.c_str(), &so) == 0) {
		std::string objs = dir + "/CMakeFiles/cuflow.dir/host/nn";
		if (DIR *dd = opendir(objs.c_str())) {
			while (struct dirent *e = readdir(dd)) {
				struct stat st{};
				std::string f = objs + "/" + e->d_name;
				if (f.size() > 2 && f.compare(f.size() - 2, 2, ".o") == 0 && stat(f.c_str(), &st) == 0 &&
				    (st.st_mtim.tv_sec > so.st_mtim.tv_sec ||
				     (st.st_mtim.tv_sec == so.st_mtim.tv_sec && st.st_mtim.tv_nsec > so.st_mtim.tv_nsec))) {
					r.problem = lib + " is older than " + f + ": rebuild the cuflow_shared target";
					r.stale = true;
					break;
				}
			}
			closedir(dd);
		}
	}
	// A sanitized library needs its runtime first in the process.
	std::string pre, ldd;
	if (run("ldd " + shq(lib), &ldd) == 0)
		for (const char *rt : {"libasan.so", "libubsan.so"}) {
			size_t at = ldd.find(rt);
			if (at == std::string::npos)
				continue;
			size_t a = ldd.find("=> ", at), e = ldd.find(" (", a);
			if (a != std::string::npos && e != std::string::npos)
				pre += (pre.empty() ? "" : ":") + ldd.substr(a + 3, e - a - 3);
		}
	if (!pre.empty())
		r.preload = "ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=" + shq(pre) + " ";
	return r;
}

std::string ctypes_oracle_cmd(const std::string &python, const CtypesLib &lib, const std::string &script,
                              const std::string &extra)
{
	std::string path = env("CUFLOW_SOURCE_DIR") + "/tests/oracles/" + script;
	std::string cmd = lib.preload + shq(python) + " " + shq(path) + " --lib " + shq(lib.path);
	return extra.empty() ? cmd : cmd + " " + extra;
}

CtypesRun run_ctypes_oracle(const std::string &script)
{
	CtypesRun r;
	std::string py = numpy_python();
	if (py.empty()) {
		r.skip = true;
		r.why = "no python3 with numpy (CUFLOW_PYTHON, python3, /usr/bin/python3)";
		return r;
	}
	CtypesLib lib = ctypes_lib();
	if (lib.stale || lib.path.empty()) {
		(lib.stale ? r.fail : r.skip) = true;
		r.why = lib.problem;
		return r;
	}
	r.rc = run(ctypes_oracle_cmd(py, lib, script, sanitized() ? "--skip-selfcheck" : ""), &r.out);
	std::string name = script.substr(0, script.rfind('.')) + ":";
	size_t last = r.out.rfind(name);
	if (last != std::string::npos) std::cout << r.out.substr(last);
	return r;
}

uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

} // namespace cft

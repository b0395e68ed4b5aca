// Helpers shared by the test executables: temporary files, captures the
// tests write themselves, running the cuflow CLI.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cft {

// A frame to write: timestamp in ns, bytes, optional wire length (0 = size).
struct Frame {
	int64_t ts_ns;
	std::vector<uint8_t> bytes;
	uint32_t wirelen = 0;
};

// Environment variable or fallback.
std::string env(const char *name, const std::string &fallback = "");
// A fresh path under the test temp directory (CUFLOW_TMP), unique per call.
std::string temp_path(const std::string &suffix);
// A `cuflow synth` capture of `flows` flows over 60 s (cf_synth_write) at a
// fresh temp path; "" (with a test failure) when it cannot be written.
std::string synth_pcap(uint64_t seed, uint64_t flows, bool nanosecond = false);
// Writes a classic pcap (little-endian, micro- or nanosecond magic).
void write_pcap(const std::string &path, int linktype, const std::vector<Frame> &frames,
                bool nanosecond = false, uint32_t snaplen = 65535);
// Reads a whole file.
std::vector<uint8_t> read_file(const std::string &path);
void write_file(const std::string &path, const std::vector<uint8_t> &bytes);
// A whole file as text ("" when missing).
std::string slurp(const std::string &path);
// Whether a path exists.
bool exists(const std::string &path);
// s cut at every sep (empty fields kept).
std::vector<std::string> split(const std::string &s, char sep);
// A Python interpreter that can import `module`, or "": $env_var, then the
// virtual environment `venv` (e.g. "netml-venv") beside the cuflow binary or
// in <source>/build, then python3 on PATH. Looked up once per module.
std::string venv_python(const char *env_var, const std::string &venv, const std::string &module);
// Runs a shell command, returns its exit status; stdout+stderr in *out.
int run(const std::string &cmd, std::string *out = nullptr);
// s quoted for a POSIX shell command line.
std::string shq(const std::string &s);
// Path of the cuflow executable (CUFLOW_BIN).
std::string cuflow_bin();
// ../shared, or "" when absent (tests then GTEST_SKIP).
std::string shared_dir();
// A python3 that has numpy: $CUFLOW_PYTHON, python3 on PATH, or the system
// one (a pyenv python3 earlier on PATH may lack the Debian numpy); "" when
// none has it (tests then GTEST_SKIP).
std::string numpy_python();

// Whether the tests run under a sanitizer, where everything is several times
// slower: $CFT_SANITIZED when set ("0" or "" no, anything else yes), else
// whether this binary was built with one (AddressSanitizer's predefined
// macro, or CUFLOW_SANITIZE through the test CMakeLists). The slowest tests
// then do less of the same work (fewer epochs, smaller batches, fewer
// entries checked) through every code path; the full-strength runs and
// their thresholds are the normal build's.
bool sanitized();

// libcuflow.so for the Python ctypes oracles (tests/oracles/*_check_ctypes.py):
// $CUFLOW_LIBRARY, else beside the cuflow binary.
struct CtypesLib {
	std::string path;     // "" when absent (the test skips: `problem` says why)
	std::string problem;  // why it cannot be used, "" when it can
	bool stale = false;   // problem is a failure: an nn object file is newer
	                      // than the library (only libcuflow.a was rebuilt)
	std::string preload;  // "ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=... " to put
	                      // before the command when the library is sanitized
	                      // (its runtime must come first in the process), else ""
};
CtypesLib ctypes_lib();
// The command line that runs tests/oracles/<script> (in the source tree) on
// lib with the interpreter python: the preload, then `python script --lib
// lib`, then extra (options, already quoted).
std::string ctypes_oracle_cmd(const std::string &python, const CtypesLib &lib, const std::string &script,
                              const std::string &extra = "");
// Runs tests/oracles/<script> (a ctypes checker) with a numpy python on
// ctypes_lib(), with --skip-selfcheck under sanitizers (the checker's test of
// itself is numpy alone: the normal build runs it). skip / fail: it could not
// run (no numpy or no library / a stale library), `why` says so; else rc is
// the checker's status and out its output, whose last "<name>:" summary is
// printed.
struct CtypesRun {
	bool skip = false, fail = false;
	std::string why, out;
	int rc = -1;
};
CtypesRun run_ctypes_oracle(const std::string &script);

// Reading captures the tests wrote: byte order, and the Internet checksum
// (one's-complement sum of 16-bit words, the last odd byte padded; fold
// carries it back into 16 bits: 0xffff over a packet with a right checksum).
uint16_t be16(const uint8_t *p);
uint32_t le32(const uint8_t *p);
uint32_t sum16(const uint8_t *p, size_t n, uint32_t s = 0);
uint16_t fold(uint32_t s);

// Frame builders (network byte order on the wire).
std::vector<uint8_t> eth(const uint8_t dst[6], const uint8_t src[6], uint16_t ethertype);
std::vector<uint8_t> ipv4(uint32_t src, uint32_t dst, uint8_t proto, const std::vector<uint8_t> &payload,
                          uint8_t ttl = 64, uint16_t id = 1, uint16_t frag = 0);
std::vector<uint8_t> ipv6(const uint8_t src[16], const uint8_t dst[16], uint8_t next,
                          const std::vector<uint8_t> &payload, uint8_t hlim = 64);
std::vector<uint8_t> tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint16_t flags,
                         uint16_t window, size_t payload);
std::vector<uint8_t> udp(uint16_t sport, uint16_t dport, const std::vector<uint8_t> &payload);
std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t> &b);

} // namespace cft

// `cuflow flowpic` (FlowPic / mini-FlowPic images, ../shared/specs/flowpic_joy_lstm.md
// section 1) against the independent numpy oracle tests/oracles/flowpic_ref.py (checked
// against upstream talshapira/FlowPic and tcbench's get_flowpic, see
// tests/oracles/flowpic_notes.md) and against pixels worked out by hand:
//
//  * FlowpicGolden: the spec's golden cases in captures written here, every expected
//    pixel computed in the comments, and the whole output compared with the oracle:
//    the 2-packet window (histogram level, --min-packets 1 --min-span -1) and its
//    12-packet version through the full official pipeline; a 1501 B packet dropped
//    (official; it still counts for the window rules and the stretch) and clipped to
//    row 31 (mini); a packet exactly on the 60 s boundary in both windows; saturation at
//    255 (mini) and 1.0f (norm); the > 10 packets / > 50 s rules; Python 2 rounding ties
//    (ns pcap) and editcap's µs truncation (ns pcapng); the window count taken from the
//    session's last packet in file order; dpkt's len(ip) (padding, snap length, TSO);
//    the oracle's own --make-golden captures.
//  * FlowpicRandom: 8 random captures (fixed seeds: interleaved sessions, both
//    directions, sizes 40..1600 with 1500/1501, exact window boundaries, rounding ties
//    and times within 0.6 µs of column edges (ns), out-of-order timestamps, VLAN tags,
//    non-IP noise; µs and ns pcaps) with the official and mini presets and 11 generic
//    combinations (overlapping windows, anchor first, fixed axes, oversize clip,
//    norm/capped values, bidirectional up/down/both/2ch, N = 7, 50, 64, 100, 128, 1500,
//    tcbench size rows, exact/dpkt time, step 0), plus cuflow's numpy "edges" axes
//    (N = 7, 90, 96) against np.histogram2d on np.linspace edges.
//  * FlowpicReal: the corpus captures with long flows (../shared/captures) and
//    pathspider's real.pcap (Debian package, fetched by tests/scripts/
//    fetch_debian_captures.sh into tests/.data/debian; skipped when offline): both
//    presets equal the oracle image for image, and the image counts of the notes.
//  * FlowpicLabels, FlowpicPng, FlowpicOutput (--shard-rows), FlowpicErrors (exit 2 on
//    damaged/missing captures with the images before the damage, exit 1 on bad
//    options), FlowpicMemory (3000 official 1500 x 1500 images in bounded memory).
//
// "Equal" means: flowpic.npy loads in numpy with the oracle's dtype and shape and the
// same bytes (float32 compared bit for bit), and index.csv is byte-identical.
// Option mapping (cuflow -> oracle): --min-packets N -> N + 1 (cuflow: more than N,
// oracle: at least N); --time-axis stretch/scale -> --stretch 1/0; --right-open ->
// --end open; --size-bins scale -> --size-formula int, tcbench -> tcbench; --sessions
// bidir -> --bidir 1 (with --idle-timeout 1e9: the oracle has no idle timeout); --time
// exact/dpkt -> --timebase ns/official; --step 0 -> --rule first.
// --size-bins edges (the official preset's rows) has no oracle option: it equals the
// integer rows floor(L N / 1500) for N = 1500 and other N whose linspace(0, 1500, N + 1)
// edges put no integer on the wrong side, but not for 268 N in 1..4096 (45, 85, 87, 90,
// ...): the edges tests compare it with np.histogram2d instead. cuflow's mini preset bins
// sizes the tcbench way, the oracle's mini preset the integer way: the same rows for
// N = 32 and every power of two, different for 94 N in 1..2048 (e.g. 100, 1500), so mini
// at such an N maps to --size-formula tcbench.
//
// Counts over 65535 (test CountAbove65535WrapsLikeNumpy): upstream casts with numpy's
// astype(uint16), which wraps modulo 65536; the oracle and cuflow do the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "test_util.h"

namespace {

using cft::exists;
using cft::slurp;
using cft::split;

using cft::shq;

// ------------------------------------------------------------------ small utilities

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	std::string l;
	while (std::getline(in, l))
		if (!l.empty())
			out.push_back(l);
	return out;
}

std::string source_dir() { return cft::env("CUFLOW_SOURCE_DIR"); }
std::string data_dir() { return cft::env("CUFLOW_TEST_DATA", source_dir() + "/tests/.data"); }
std::string oracle_path() { return source_dir() + "/tests/oracles/flowpic_ref.py"; }

// Scratch paths: those of a test are removed when it passes (kept for a look when it
// fails); process-wide ones (the random captures, the driver) at the end.
std::vector<std::string> &test_scratch()
{
	static std::vector<std::string> v;
	return v;
}
std::vector<std::string> &process_scratch()
{
	static std::vector<std::string> v;
	return v;
}

void remove_paths(std::vector<std::string> &v)
{
	for (size_t i = 0; i < v.size(); i += 200) {
		std::string cmd = "rm -rf";
		for (size_t j = i; j < v.size() && j < i + 200; j++)
			cmd += " " + shq(v[j]);
		cft::run(cmd);
	}
	v.clear();
}

class ScratchCleaner : public testing::EmptyTestEventListener {
	void OnTestEnd(const testing::TestInfo &t) override
	{
		if (t.result()->Failed()) {
			for (const std::string &p : test_scratch())
				printf("kept %s\n", p.c_str());
			test_scratch().clear();
		} else {
			remove_paths(test_scratch());
		}
	}
	void OnTestProgramEnd(const testing::UnitTest &) override { remove_paths(process_scratch()); }
};

const bool g_cleaner = [] {
	testing::UnitTest::GetInstance()->listeners().Append(new ScratchCleaner);
	return true;
}();

// A fresh temp path (CUFLOW_TMP), removed after the test (process-wide: at exit).
std::string tmp(const std::string &suffix, bool process_wide = false)
{
	std::string p = cft::temp_path(suffix);
	(process_wide ? process_scratch() : test_scratch()).push_back(p);
	return p;
}

std::string fresh_dir()
{
	std::string d = tmp("_fp");
	mkdir(d.c_str(), 0755);
	return d;
}

// Deterministic generator (splitmix64): the same captures on every platform.
struct Rng {
	uint64_t s;
	uint64_t next()
	{
		uint64_t z = (s += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		return z ^ (z >> 31);
	}
	uint64_t below(uint64_t n) { return n ? next() % n : 0; }
};

// ------------------------------------------------------------------ captures

constexpr int64_t kSec = 1000000000;
// 2020-09-13 12:26:40.25 UTC: the .25 s fraction is exact in binary, so dpkt's
// float seconds (sec + usec / 1e6) and their differences are exact below.
constexpr int64_t T0 = 1600000000 * kSec + 250000000;
constexpr uint32_t IP_A = 0x0a000001, IP_B = 0x0a000002, IP_C = 0xc0a80709; // 10.0.0.1, 10.0.0.2, 192.168.7.9

enum PkKind { PK_IP = 0, PK_ARP, PK_IPV6, PK_ICMP };

// One packet: IPv4 TCP/UDP with IP total length L (>= 40), or noise.
struct Pk {
	int64_t ts_ns;
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto; // 6 or 17
	uint32_t L;
	bool vlan = false;
	int kind = PK_IP;
};

Pk pk(int64_t ts, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint8_t proto, uint32_t L)
{
	Pk p;
	p.ts_ns = ts;
	p.src = src;
	p.dst = dst;
	p.sport = sp;
	p.dport = dp;
	p.proto = proto;
	p.L = L;
	return p;
}

std::vector<uint8_t> frame_of(const Pk &p)
{
	static const uint8_t m1[6] = {0, 0x11, 0x22, 0x33, 0x44, 0x55}, m2[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
	if (p.kind == PK_ARP) {
		std::vector<uint8_t> f = cft::eth(m1, m2, 0x0806);
		f.resize(14 + 28, 0);
		return f;
	}
	if (p.kind == PK_IPV6) {
		uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8}, b[16] = {0x20, 0x01, 0x0d, 0xb8};
		a[15] = 1;
		b[15] = 2;
		return cft::cat(cft::eth(m1, m2, 0x86dd), cft::ipv6(a, b, 17, cft::udp(p.sport, p.dport, std::vector<uint8_t>(40, 1))));
	}
	std::vector<uint8_t> l4;
	uint8_t proto = p.proto;
	if (p.kind == PK_ICMP) {
		proto = 1;
		l4 = {8, 0, 0, 0, 0, 1, 0, 1};
		l4.resize(p.L - 20, 0);
	} else if (p.proto == 6) {
		l4 = cft::tcp(p.sport, p.dport, 1000, 2000, 0x10, 512, p.L - 40);
	} else {
		l4 = cft::udp(p.sport, p.dport, std::vector<uint8_t>(p.L - 28, 0x5a));
	}
	std::vector<uint8_t> ip = cft::ipv4(p.src, p.dst, proto, l4);
	std::vector<uint8_t> l2 = cft::eth(m1, m2, p.vlan ? 0x8100 : 0x0800);
	if (p.vlan)
		l2.insert(l2.end(), {0x00, 0x07, 0x08, 0x00});
	return cft::cat(l2, ip);
}

// Classic pcap, µs (timestamps truncated to µs) or ns.
void write_cap(const std::string &path, const std::vector<Pk> &pkts, bool ns)
{
	std::vector<cft::Frame> fr;
	fr.reserve(pkts.size());
	for (const Pk &p : pkts)
		fr.push_back({p.ts_ns, frame_of(p)});
	cft::write_pcap(path, 1, fr, ns);
}

// pcapng, little-endian, one Ethernet interface with if_tsresol 9 (ns).
void write_pcapng_ns(const std::string &path, const std::vector<Pk> &pkts)
{
	std::vector<uint8_t> v;
	auto p32 = [&](uint32_t x) {
		for (int i = 0; i < 4; i++)
			v.push_back((uint8_t)(x >> (8 * i)));
	};
	auto p16 = [&](uint16_t x) {
		v.push_back((uint8_t)x);
		v.push_back((uint8_t)(x >> 8));
	};
	// SHB
	p32(0x0a0d0d0a);
	p32(28);
	p32(0x1a2b3c4d);
	p16(1);
	p16(0);
	p32(0xffffffff);
	p32(0xffffffff);
	p32(28);
	// IDB: linktype 1, snaplen 65535, if_tsresol = 9, end of options
	p32(1);
	p32(32);
	p16(1);
	p16(0);
	p32(65535);
	p16(9);
	p16(1);
	v.insert(v.end(), {9, 0, 0, 0});
	p32(0);
	p32(32);
	for (const Pk &p : pkts) {
		std::vector<uint8_t> f = frame_of(p);
		uint32_t pad = (4 - f.size() % 4) % 4, len = 32 + (uint32_t)f.size() + pad;
		uint64_t ts = (uint64_t)p.ts_ns;
		p32(6);
		p32(len);
		p32(0);
		p32((uint32_t)(ts >> 32));
		p32((uint32_t)ts);
		p32((uint32_t)f.size());
		p32((uint32_t)f.size());
		v.insert(v.end(), f.begin(), f.end());
		v.insert(v.end(), pad, 0);
		p32(len);
	}
	cft::write_file(path, v);
}

// ------------------------------------------------------------------ running cuflow

struct Out {
	int rc = -1;
	std::string log, dir;
};

// cuflow flowpic -q ARGS CAPTURES... -o DIR (a fresh directory unless given).
Out flowpic(const std::string &args, const std::vector<std::string> &caps, std::string dir = "")
{
	Out o;
	o.dir = dir.empty() ? fresh_dir() : dir;
	std::string cmd = shq(cft::cuflow_bin()) + " flowpic -q " + args;
	for (const std::string &c : caps)
		cmd += " " + shq(c);
	cmd += " -o " + shq(o.dir);
	o.rc = cft::run(cmd, &o.log);
	o.log = "$ " + cmd + "\n" + o.log;
	return o;
}

// ------------------------------------------------------------------ reading the outputs

// A .npy file (version 1.0 or 2.0, C order).
struct Npy {
	std::string err, descr;
	std::vector<uint64_t> shape;
	std::vector<uint8_t> data;
	size_t item = 0;
	uint64_t count() const
	{
		uint64_t n = 1;
		for (uint64_t d : shape)
			n *= d;
		return n;
	}
	// Element k as a double (u1, u2, i8, f4).
	double at(uint64_t k) const
	{
		const uint8_t *p = data.data() + k * item;
		if (descr == "|u1")
			return p[0];
		if (descr == "<u2")
			return (double)(p[0] | p[1] << 8);
		if (descr == "<f4") {
			float f;
			memcpy(&f, p, 4);
			return f;
		}
		if (descr == "<i8") {
			int64_t x;
			memcpy(&x, p, 8);
			return (double)x;
		}
		return NAN;
	}
	// Pixel [img][ch][row][col] of an images x C x N x N array.
	double px(uint64_t img, uint64_t ch, uint64_t row, uint64_t col) const
	{
		return at(((img * shape[1] + ch) * shape[2] + row) * shape[3] + col);
	}
	double sum(uint64_t img) const
	{
		uint64_t per = shape[1] * shape[2] * shape[3];
		double s = 0;
		for (uint64_t k = img * per; k < (img + 1) * per; k++)
			s += at(k);
		return s;
	}
	double row_sum(uint64_t img, uint64_t ch, uint64_t row) const
	{
		double s = 0;
		for (uint64_t c = 0; c < shape[3]; c++)
			s += px(img, ch, row, c);
		return s;
	}
};

Npy read_npy(const std::string &path)
{
	Npy n;
	std::vector<uint8_t> b = cft::read_file(path);
	if (b.size() < 10 || memcmp(b.data(), "\x93NUMPY", 6) != 0) {
		n.err = path + ": not a .npy file";
		return n;
	}
	size_t hl, off;
	if (b[6] == 1) {
		hl = b[8] | b[9] << 8;
		off = 10;
	} else {
		hl = b[8] | b[9] << 8 | b[10] << 16 | (size_t)b[11] << 24;
		off = 12;
	}
	std::string h(b.begin() + (long)off, b.begin() + (long)(off + hl));
	size_t d = h.find("'descr': '");
	size_t s = h.find("'shape': (");
	if (d == std::string::npos || s == std::string::npos || h.find("'fortran_order': False") == std::string::npos) {
		n.err = path + ": unexpected header " + h;
		return n;
	}
	n.descr = h.substr(d + 10, h.find('\'', d + 10) - d - 10);
	std::string sh = h.substr(s + 10, h.find(')', s) - s - 10);
	for (const std::string &x : split(sh, ','))
		if (x.find_first_of("0123456789") != std::string::npos)
			n.shape.push_back(strtoull(x.c_str(), nullptr, 10));
	n.item = n.descr == "|u1" ? 1 : n.descr == "<u2" ? 2 : n.descr == "<f4" ? 4 : n.descr == "<i8" ? 8 : 0;
	n.data.assign(b.begin() + (long)(off + hl), b.end());
	if (!n.item || n.data.size() != n.count() * n.item)
		n.err = path + ": " + std::to_string(n.data.size()) + " data bytes for " + h;
	return n;
}

// index.csv rows (without the header), each split at commas.
std::vector<std::vector<std::string>> index_rows(const std::string &dir)
{
	std::vector<std::string> l = lines_of(slurp(dir + "/index.csv"));
	std::vector<std::vector<std::string>> out;
	for (size_t i = 1; i < l.size(); i++)
		out.push_back(split(l[i], ','));
	return out;
}

const char *const kIndexHeader = "src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label";

// ------------------------------------------------------------------ the oracle driver

// Runs in /usr/bin/python3 (numpy): for each job line "CAPTURE<TAB>CUFLOW_DIR<TAB>MODE
// <TAB>ORACLE ARGS", runs flowpic_ref.main(CAPTURE ARGS --out TMP) in-process (MODE
// "oracle"), or with the binning replaced by np.histogram2d on np.linspace edges (MODE
// "edges": cuflow's --time-axis edges / --size-bins edges), and compares
// CUFLOW_DIR/flowpic.npy (np.load: dtype, shape, bytes) and index.csv (bytes). Prints
// "JOB i OK ..." or "JOB i FAIL why". `png FILE...` validates PNG files instead.
const char *const kDriver = R"PY(
import io, os, shlex, shutil, struct, sys, tempfile, zlib, contextlib
import numpy as np

def jobs(oracle_dir, jobfile, tmp):
    sys.path.insert(0, oracle_dir)
    import flowpic_ref as fr
    cache = {}
    orig_read = fr.read_packets
    def read_cached(path):
        if path not in cache:
            cache[path] = orig_read(path)
        return cache[path]
    fr.read_packets = read_cached
    orig_session_images = fr.session_images

    def edges_session_images(t, sizes, dirs=None, resolution=1500, window=60.0, step=60.0,
                             rule="all", end="closed", anchor="window", oversize="drop",
                             value="count", min_packets=11, min_span=50.0, direction="both",
                             **_ignored):
        # numpy.histogram2d on linspace edges: sizes over linspace(0, 1500, N + 1),
        # time t - anchor over linspace(0, window, N + 1); windows as the oracle
        t = np.asarray(t, dtype=np.float64)
        sizes = np.asarray(sizes, dtype=np.int64)
        N, W, S = int(resolution), float(window), float(step)
        dirs = np.ones(len(t), np.int64) if dirs is None else np.asarray(dirs, np.int64)
        C = 2 if direction == "2ch" else 1
        if len(t) == 0:
            return []
        se = np.linspace(0, 1500, N + 1)
        te = np.linspace(0, W, N + 1)
        out = []
        for k in range(fr.window_count(float(t[-1]), S, W, rule)):
            lo = k * S
            m = (t >= lo) & ((t <= lo + W) if end == "closed" else (t < lo + W))
            if direction == "up":
                m &= dirs == 1
            elif direction == "down":
                m &= dirs == 0
            tw, sw, dw = t[m], sizes[m], dirs[m]
            if len(tw) < min_packets or len(tw) == 0:
                continue
            if min_span >= 0 and not (tw[-1] - tw[0] > min_span):
                continue
            A = lo if anchor == "window" else tw[0]
            L = np.minimum(sw, 1500) if oversize == "clip" else sw
            H = np.zeros((C, N, N), np.int64)
            for c in range(C):
                sel = (np.where(dw == 1, 0, 1) == c) if C == 2 else np.ones(len(tw), bool)
                h, _, _ = np.histogram2d(L[sel].astype(np.float64), tw[sel] - A, bins=(se, te))
                H[c] = h.astype(np.int64)
            out.append(dict(window=k, lo=lo, packets=int(H.sum()), image=fr.convert_value(H, value)))
        return out

    with open(jobfile) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    for i, line in enumerate(lines):
        cap, cudir, mode, args = line.split("\t")
        od = tempfile.mkdtemp(dir=tmp)
        try:
            compare_one(fr, i, cap, cudir, mode, args, od, edges_session_images, orig_session_images)
        except Exception as e:
            import traceback
            print("JOB %d FAIL driver error: %s" % (i, traceback.format_exc().replace("\n", " | ")))
        finally:
            shutil.rmtree(od, ignore_errors=True)
        sys.stdout.flush()

def compare_one(fr, i, cap, cudir, mode, args, od, edges_session_images, orig_session_images):
    # one job: the oracle's outputs into od, then cuflow's against them
    fr.session_images = edges_session_images if mode == "edges" else orig_session_images
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            fr.main([cap] + shlex.split(args) + ["--out", od])
    except SystemExit as e:
        print("JOB %d FAIL oracle exited %s" % (i, e.code)); return
    ref = np.load(os.path.join(od, "flowpic.npy"))
    refcsv = open(os.path.join(od, "index.csv"), "rb").read()
    try:
        got = np.load(os.path.join(cudir, "flowpic.npy"))
    except Exception as e:
        print("JOB %d FAIL cuflow's flowpic.npy does not load: %s" % (i, e)); return
    gotcsv = open(os.path.join(cudir, "index.csv"), "rb").read()
    why = []
    if got.dtype != ref.dtype or got.shape != ref.shape:
        why.append("dtype/shape %s %s, oracle %s %s" % (got.dtype, got.shape, ref.dtype, ref.shape))
    elif got.shape[0]:
        # raw bits (float32 compared bit for bit)
        a = got.reshape(got.shape[0], -1).view(np.uint8 if got.dtype.itemsize == 1 else
            np.uint16 if got.dtype.itemsize == 2 else np.uint32)
        b = ref.reshape(ref.shape[0], -1).view(a.dtype)
        bad = np.nonzero((a != b).any(axis=1))[0]
        if len(bad):
            k = int(bad[0])
            pix = np.argwhere(got[k] != ref[k])
            desc = ", ".join("[%d][%d][%d] %s vs %s" % (c, r, q, got[k][c, r, q], ref[k][c, r, q])
                             for c, r, q in pix[:5])
            why.append("%d of %d images differ; image %d: %d pixels (ch, row, col cuflow vs "
                       "oracle): %s" % (len(bad), got.shape[0], k, len(pix), desc))
    if gotcsv != refcsv:
        gl, rl = gotcsv.decode().split("\n"), refcsv.decode().split("\n")
        j = next((j for j in range(max(len(gl), len(rl)))
                  if j >= len(gl) or j >= len(rl) or gl[j] != rl[j]), 0)
        why.append("index.csv line %d: cuflow %r, oracle %r (%d vs %d lines)" % (
            j + 1, gl[j] if j < len(gl) else None, rl[j] if j < len(rl) else None, len(gl), len(rl)))
    if why:
        print("JOB %d FAIL %s" % (i, "; ".join(why)))
    else:
        print("JOB %d OK %d images %s %s" % (i, ref.shape[0], ref.dtype, ref.shape))

def png_check(path):
    # signature, chunk CRCs, IHDR, IDAT inflated and unfiltered to RGB rows
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        return "bad signature"
    off, idat, ihdr, seen_end = 8, b"", None, False
    while off + 12 <= len(b):
        n, = struct.unpack(">I", b[off:off + 4])
        typ, data = b[off + 4:off + 8], b[off + 8:off + 8 + n]
        crc, = struct.unpack(">I", b[off + 8 + n:off + 12 + n])
        if zlib.crc32(typ + data) & 0xffffffff != crc:
            return "bad CRC in %r" % typ
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif typ == b"IDAT":
            idat += data
        elif typ == b"IEND":
            seen_end = True
        off += 12 + n
    if not ihdr or not seen_end:
        return "no IHDR or IEND"
    w, h, depth, ctype = ihdr[:4]
    if depth != 8 or ctype != 2:
        return "not 8-bit RGB: depth %d color type %d" % (depth, ctype)
    raw = zlib.decompress(idat)
    if len(raw) != h * (1 + 3 * w):
        return "IDAT holds %d bytes, not %d" % (len(raw), h * (1 + 3 * w))
    # unfilter: None, Sub and Up vectorised, Average and Paeth per byte
    stride = 3 * w
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride + 1)
    img = np.zeros((h, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(h):
        ft = int(rows[y, 0])
        line = rows[y, 1:].astype(np.int64)
        if ft == 0:
            cur = line
        elif ft == 1:
            cur = (np.cumsum(line.reshape(w, 3), axis=0) & 255).reshape(-1)
        elif ft == 2:
            cur = (line + prev) & 255
        elif ft in (3, 4):
            L, P, C = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                a = C[x - 3] if x >= 3 else 0
                b = P[x]
                c = P[x - 3] if x >= 3 else 0
                if ft == 3:
                    q = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    q = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                C[x] = (L[x] + q) & 255
            cur = np.array(C, np.int64)
        else:
            return "bad filter type %d" % ft
        img[y] = cur
        prev = cur
    rgb = img.reshape(h, w, 3)
    gray = bool(((rgb[:, :, 0] == rgb[:, :, 1]) & (rgb[:, :, 1] == rgb[:, :, 2])).all())
    red = int(((rgb[:, :, 0] > rgb[:, :, 2] + 40)).sum())
    blue = int(((rgb[:, :, 2] > rgb[:, :, 0] + 40)).sum())
    dark = int((rgb.sum(axis=2) < 600).sum())
    return "PNG %d %d gray=%d red=%d blue=%d marked=%d" % (w, h, gray, red, blue, dark)

if __name__ == "__main__":
    if sys.argv[1] == "jobs":
        jobs(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "png":
        for p in sys.argv[2:]:
            print(png_check(p))
)PY";

std::string driver_path()
{
	static const std::string p = [] {
		std::string path = tmp("_flowpic_driver.py", true);
		cft::write_file(path, std::vector<uint8_t>(kDriver, kDriver + strlen(kDriver)));
		return path;
	}();
	return p;
}

// One comparison: cuflow's output directory against the oracle's run with these args.
struct Job {
	std::string name, cap, cudir, mode, oracle_args;
};

// Runs the jobs; returns one result line per job ("OK ..." / "FAIL ...").
std::vector<std::string> run_jobs(const std::vector<Job> &jobs)
{
	std::string jf = tmp("_jobs.tsv"), text;
	for (const Job &j : jobs)
		text += j.cap + "\t" + j.cudir + "\t" + j.mode + "\t" + j.oracle_args + "\n";
	cft::write_file(jf, std::vector<uint8_t>(text.begin(), text.end()));
	std::string out;
	std::string cmd = shq(cft::numpy_python()) + " " + shq(driver_path()) + " jobs " +
	                  shq(source_dir() + "/tests/oracles") + " " + shq(jf) + " " + shq(cft::env("CUFLOW_TMP", "/tmp"));
	int rc = cft::run(cmd, &out);
	std::vector<std::string> res(jobs.size(), "FAIL no result from the oracle driver (rc " + std::to_string(rc) +
	                                              "):\n" + out);
	for (const std::string &l : lines_of(out)) {
		if (l.compare(0, 4, "JOB ") != 0)
			continue;
		size_t sp = l.find(' ', 4);
		size_t i = strtoul(l.c_str() + 4, nullptr, 10);
		if (i < res.size())
			res[i] = l.substr(sp + 1);
	}
	return res;
}

// cuflow with cu_args on cap, then the oracle with oracle_args: equal outputs expected.
// Returns cuflow's output directory.
std::string expect_same_as_oracle(const std::string &cap, const std::string &cu_args, const std::string &oracle_args,
                                  const std::string &mode = "oracle", int want_rc = 0)
{
	Out o = flowpic(cu_args, {cap});
	EXPECT_EQ(o.rc, want_rc) << o.log;
	std::vector<std::string> r = run_jobs({{"", cap, o.dir, mode, oracle_args}});
	EXPECT_EQ(r[0].compare(0, 2, "OK"), 0) << cap << "\n cuflow " << cu_args << "\n oracle " << oracle_args << "\n "
	                                         << r[0];
	return o.dir;
}

#define NEED_ORACLE()                                                                    \
	do {                                                                                 \
		if (source_dir().empty() || !exists(oracle_path()))                              \
			GTEST_SKIP() << "tests/oracles/flowpic_ref.py not found (CUFLOW_SOURCE_DIR)"; \
		if (cft::numpy_python().empty())                                                 \
			GTEST_SKIP() << "no python3 with numpy";                                     \
	} while (0)

std::string u64(int64_t v) { return std::to_string(v); }

// ================================================================== golden cases

// The spec's 2-packet window: 100 B at t0 and 1500 B at t0 + 55 s. Stretched over
// [0, 55 s]: x = 0 -> column 0, x = 1500 -> column 1499 (numpy's last bin is closed);
// size 100 -> row 100, size 1500 -> row 1499. A window needs more than 10 packets, so
// the histogram is tested with --min-packets 1 (more than 1) and --min-span -1.
TEST(FlowpicGolden, TwoPacketWindowHistogram)
{
	std::string cap = tmp("_two.pcap");
	write_cap(cap, {pk(T0, IP_A, IP_B, 1000, 80, 6, 100), pk(T0 + 55 * kSec, IP_A, IP_B, 1000, 80, 6, 1500)}, false);
	Out o = flowpic("--min-packets 1 --min-span -1", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	EXPECT_EQ(n.descr, "<u2");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 1500, 1500}));
	EXPECT_EQ(n.px(0, 0, 100, 0), 1);
	EXPECT_EQ(n.px(0, 0, 1499, 1499), 1);
	EXPECT_EQ(n.sum(0), 2);
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0], (std::vector<std::string>{"10.0.0.1", "1000", "10.0.0.2", "80", "6", "0", u64(T0), "2", ""}));
	EXPECT_EQ(lines_of(slurp(o.dir + "/index.csv"))[0], kIndexHeader);

	// the official rules: 2 packets are not "more than 10" -> no image, empty array
	Out d = flowpic("", {cap});
	ASSERT_EQ(d.rc, 0) << d.log;
	Npy e = read_npy(d.dir + "/flowpic.npy");
	ASSERT_EQ(e.err, "");
	EXPECT_EQ(e.shape, (std::vector<uint64_t>{0, 1, 1500, 1500}));
	EXPECT_TRUE(index_rows(d.dir).empty());

	NEED_ORACLE();
	expect_same_as_oracle(cap, "--min-packets 1 --min-span -1", "--preset official --min-packets 2 --min-span -1");
	expect_same_as_oracle(cap, "", "--preset official");
}

// The 12-packet version through the whole official pipeline: 100 B at 0 s, 600 B at
// 5 i s (i = 1..10), 1500 B at 55 s. Stretch x = (t / 55) * 1500: H[100][0] = 1,
// H[1499][1499] = 1, 600 B at columns floor(1500 i / 11) = 136, 272, 409, 545, 681,
// 818, 954, 1090, 1227, 1363 (never within 1e-9 of an integer).
TEST(FlowpicGolden, TwelvePacketOfficialWindow)
{
	std::vector<Pk> p = {pk(T0, IP_A, IP_B, 1000, 80, 6, 100)};
	for (int i = 1; i <= 10; i++)
		p.push_back(pk(T0 + 5 * i * kSec, IP_A, IP_B, 1000, 80, 6, 600));
	p.push_back(pk(T0 + 55 * kSec, IP_A, IP_B, 1000, 80, 6, 1500));
	for (bool ns : {false, true}) {
		SCOPED_TRACE(ns ? "ns pcap" : "us pcap");
		std::string cap = tmp(ns ? "_12ns.pcap" : "_12us.pcap");
		write_cap(cap, p, ns);
		Out o = flowpic("--preset official", {cap});
		ASSERT_EQ(o.rc, 0) << o.log;
		Npy n = read_npy(o.dir + "/flowpic.npy");
		ASSERT_EQ(n.err, "");
		ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 1500, 1500}));
		EXPECT_EQ(n.px(0, 0, 100, 0), 1);
		EXPECT_EQ(n.px(0, 0, 1499, 1499), 1);
		const int cols[10] = {136, 272, 409, 545, 681, 818, 954, 1090, 1227, 1363};
		for (int c : cols)
			EXPECT_EQ(n.px(0, 0, 600, c), 1) << "column " << c;
		EXPECT_EQ(n.row_sum(0, 0, 600), 10);
		EXPECT_EQ(n.sum(0), 12);
		auto rows = index_rows(o.dir);
		ASSERT_EQ(rows.size(), 1u);
		EXPECT_EQ(rows[0][6], u64(T0));
		EXPECT_EQ(rows[0][7], "12");
		if (!cft::numpy_python().empty() && exists(oracle_path()))
			expect_same_as_oracle(cap, "--preset official", "--preset official");
	}
}

// A 1501 B packet in official mode is dropped by the histogram but still counts for
// the window rules and is the stretch's last packet (upstream filters nothing before
// np.histogram2d):
//  session 1 (port 1000): 100 B at 0, 600 B at 5 i (i = 1..10), 1500 B at 55, 1501 B at
//    57.5 s -> T = 57.5: x = t / 57.5 * 1500; 1500 B -> column floor(1434.78) = 1434,
//    600 B -> floor(130.43 i) = 130, 260, 391, 521, 652, 782, 913, 1043, 1173, 1304;
//    nothing at column 1499 (the packet there was dropped); 12 packets in the image.
//  session 2 (port 1001): 10 x 300 B at 0, 6, ..., 54 s and 1501 B at 56 s: 11 packets
//    -> the window qualifies, but the image holds 10; T = 56: 54 s -> floor(1446.43).
TEST(FlowpicGolden, OversizeDroppedInOfficial)
{
	std::vector<Pk> p = {pk(T0, IP_A, IP_B, 1000, 80, 6, 100)};
	for (int i = 1; i <= 10; i++)
		p.push_back(pk(T0 + 5 * i * kSec, IP_A, IP_B, 1000, 80, 6, 600));
	p.push_back(pk(T0 + 55 * kSec, IP_A, IP_B, 1000, 80, 6, 1500));
	p.push_back(pk(T0 + 57500 * 1000000LL, IP_A, IP_B, 1000, 80, 6, 1501));
	for (int i = 0; i < 10; i++)
		p.push_back(pk(T0 + 6 * i * kSec + 1000, IP_A, IP_B, 1001, 80, 17, 300));
	p.push_back(pk(T0 + 56 * kSec + 1000, IP_A, IP_B, 1001, 80, 17, 1501));
	std::stable_sort(p.begin(), p.end(), [](const Pk &a, const Pk &b) { return a.ts_ns < b.ts_ns; });
	std::string cap = tmp("_oversize.pcap");
	write_cap(cap, p, false);
	Out o = flowpic("--preset official", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{2, 1, 1500, 1500}));
	EXPECT_EQ(n.px(0, 0, 100, 0), 1);
	EXPECT_EQ(n.px(0, 0, 1499, 1434), 1);
	EXPECT_EQ(n.row_sum(0, 0, 1499), 1);
	for (int c : {130, 260, 391, 521, 652, 782, 913, 1043, 1173, 1304})
		EXPECT_EQ(n.px(0, 0, 600, c), 1) << "column " << c;
	EXPECT_EQ(n.sum(0), 12);
	EXPECT_EQ(n.px(1, 0, 300, 0), 1);
	EXPECT_EQ(n.px(1, 0, 300, 1446), 1);
	EXPECT_EQ(n.row_sum(1, 0, 1499), 0);
	EXPECT_EQ(n.sum(1), 10);
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 2u);
	EXPECT_EQ(rows[0][7], "12");
	EXPECT_EQ(rows[1][1], "1001");
	EXPECT_EQ(rows[1][4], "17");
	EXPECT_EQ(rows[1][7], "10");
	std::string meta = slurp(o.dir + "/meta.json");
	EXPECT_NE(meta.find("\"entries_outside_image\": 2"), std::string::npos) << meta;

	// --oversize clip (still official otherwise): the 1501 B packets land in row 1499
	Out c = flowpic("--preset official --oversize clip", {cap});
	ASSERT_EQ(c.rc, 0) << c.log;
	Npy k = read_npy(c.dir + "/flowpic.npy");
	ASSERT_EQ(k.err, "");
	EXPECT_EQ(k.px(0, 0, 1499, 1499), 1);
	EXPECT_EQ(k.px(1, 0, 1499, 1499), 1);
	EXPECT_EQ(k.sum(0), 13);
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset official", "--preset official");
	expect_same_as_oracle(cap, "--preset official --oversize clip", "--preset official --oversize clip");
}

// mini (ns pcap): 100 B at t = 0, 1, ..., 10 s and 1501 B at 1/128 s. Sizes are clipped
// to 1500: (1500 / 1500) * 32 = 32 is the last edge -> row 31; x = (1/128 / 15) * 32 =
// 0.0167 -> column 0. 100 B -> row floor(2.133) = 2, columns floor((k / 15) * 32) = 0, 2,
// 4, 6, 8, 10, 12, 14, 17, 19, 21.
TEST(FlowpicGolden, OversizeClippedInMini)
{
	std::vector<Pk> p;
	for (int k = 0; k <= 10; k++) {
		p.push_back(pk(T0 + k * kSec, IP_A, IP_B, 4000, 443, 17, 100));
		if (k == 0)
			p.push_back(pk(T0 + 7812500, IP_A, IP_B, 4000, 443, 17, 1501));
	}
	std::string cap = tmp("_miniclip.pcap");
	write_cap(cap, p, true);
	Out o = flowpic("--preset mini", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	EXPECT_EQ(n.descr, "|u1");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 32, 32}));
	EXPECT_EQ(n.px(0, 0, 31, 0), 1);
	for (int c : {0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21})
		EXPECT_EQ(n.px(0, 0, 2, c), 1) << "column " << c;
	EXPECT_EQ(n.sum(0), 12);
	EXPECT_EQ(index_rows(o.dir)[0][7], "12");
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset mini", "--preset mini");
	// and official drops it (and the 10 s span fails the 50 s rule anyway)
	expect_same_as_oracle(cap, "--preset official --min-span -1", "--preset official --min-span -1");
}

// A packet exactly on the 60 s boundary is in both windows (both ends closed). One µs
// session, a packet every 3.75 s from 0 to 120 s (33 packets; 3.75 / 60 = 1/16, so
// every x below is exact): 200 B, except 777 B at 60 s and 300 B at 120 s.
//  windows: int(120 / 60 - 1) + 1 = 2; window 0 = [0, 60], window 1 = [60, 120].
//  window 0: 17 packets, stretch over 60 s: x = 93.75 k -> columns floor(93.75 k) for
//    k = 0..15 in row 200; the 777 B packet is its last: x = 1500 -> H[777][1499].
//  window 1: the 777 B packet is its first: H[777][0]; 300 B at 120 s -> H[300][1499].
// index.csv: window_start_ns = first packet + 60 s for window 1.
TEST(FlowpicGolden, PacketOnWindowBoundaryInBothWindows)
{
	std::vector<Pk> p;
	for (int k = 0; k <= 32; k++)
		p.push_back(pk(T0 + k * 3750 * 1000000LL, IP_A, IP_C, 5000, 53, 17, k == 16 ? 777 : k == 32 ? 300 : 200));
	std::string cap = tmp("_boundary.pcap");
	write_cap(cap, p, false);
	Out o = flowpic("--preset official", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{2, 1, 1500, 1500}));
	for (int k = 0; k <= 15; k++)
		EXPECT_EQ(n.px(0, 0, 200, (int)std::floor(93.75 * k)), 1) << "k " << k;
	EXPECT_EQ(n.px(0, 0, 777, 1499), 1);
	EXPECT_EQ(n.row_sum(0, 0, 777), 1);
	EXPECT_EQ(n.sum(0), 17);
	EXPECT_EQ(n.px(1, 0, 777, 0), 1);
	EXPECT_EQ(n.row_sum(1, 0, 777), 1);
	for (int k = 1; k <= 15; k++)
		EXPECT_EQ(n.px(1, 0, 200, (int)std::floor(93.75 * k)), 1) << "k " << k;
	EXPECT_EQ(n.px(1, 0, 300, 1499), 1);
	EXPECT_EQ(n.sum(1), 17);
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 2u);
	EXPECT_EQ(rows[0], (std::vector<std::string>{"10.0.0.1", "5000", "192.168.7.9", "53", "17", "0", u64(T0), "17", ""}));
	EXPECT_EQ(rows[1], (std::vector<std::string>{"10.0.0.1", "5000", "192.168.7.9", "53", "17", "1", u64(T0 + 60 * kSec),
	                                             "17", ""}));
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset official", "--preset official");
	// right-open windows [0, 60) and [60, 120): the boundary packet only in window 1
	std::string d = expect_same_as_oracle(cap, "--preset official --right-open", "--preset official --end open");
	Npy r = read_npy(d + "/flowpic.npy");
	ASSERT_EQ(r.err, "");
	ASSERT_EQ(r.shape.size(), 4u);
	ASSERT_EQ(r.shape[0], 2u);
	EXPECT_EQ(r.row_sum(0, 0, 777), 0);
	EXPECT_EQ(r.px(1, 0, 777, 0), 1);
}

// mini saturation (ns pcap, session 10.0.0.1:4000 -> 10.0.0.2:443 UDP):
//  300 x 100 B within the first 0.3 ms -> row floor((100 / 1500) * 32) = 2, column 0:
//    300 packets saturate at 255 (uint8);
//  20 x 1000 B at 1 + 0.5 j s -> row 21; (7.5 / 15) * 32 = 16 exactly -> column 16,
//    nothing in column 15;
//  1300 B at 14.999999999 s -> x = 31.99999999787 -> H[27][31]; 1200 B at exactly 15 s:
//    excluded (t < 15);
//  the reverse direction (10 packets in the first 15 s): not more than 10 -> no image.
// image packets = 321. --value count keeps 300; --value norm gives 255/255 = 1.0f.
TEST(FlowpicGolden, MiniSaturatesAt255)
{
	std::vector<Pk> p;
	for (int i = 0; i < 300; i++)
		p.push_back(pk(T0 + i * 1000, IP_A, IP_B, 4000, 443, 17, 100));
	for (int j = 0; j < 20; j++)
		p.push_back(pk(T0 + kSec + j * (kSec / 2), IP_A, IP_B, 4000, 443, 17, 1000));
	p.push_back(pk(T0 + 14 * kSec + 999999999, IP_A, IP_B, 4000, 443, 17, 1300));
	p.push_back(pk(T0 + 15 * kSec, IP_A, IP_B, 4000, 443, 17, 1200));
	for (int i = 0; i < 10; i++)
		p.push_back(pk(T0 + i * kSec + 500, IP_B, IP_A, 443, 4000, 17, 60));
	p.push_back(pk(T0 + 16 * kSec, IP_B, IP_A, 443, 4000, 17, 60));
	std::stable_sort(p.begin(), p.end(), [](const Pk &a, const Pk &b) { return a.ts_ns < b.ts_ns; });
	std::string cap = tmp("_sat.pcap");
	write_cap(cap, p, true);

	Out o = flowpic("--preset mini", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	EXPECT_EQ(n.descr, "|u1");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 32, 32}));
	EXPECT_EQ(n.px(0, 0, 2, 0), 255);
	EXPECT_EQ(n.row_sum(0, 0, 21), 20);
	EXPECT_EQ(n.px(0, 0, 21, 16), 1);
	EXPECT_EQ(n.px(0, 0, 21, 15), 0);
	EXPECT_EQ(n.px(0, 0, 27, 31), 1);
	EXPECT_EQ(n.row_sum(0, 0, 25), 0); // 1200 B would be row floor(25.6) = 25
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0][0], "10.0.0.1");
	EXPECT_EQ(rows[0][7], "321");

	Out c = flowpic("--preset mini --value count", {cap});
	ASSERT_EQ(c.rc, 0) << c.log;
	Npy nc = read_npy(c.dir + "/flowpic.npy");
	ASSERT_EQ(nc.err, "");
	EXPECT_EQ(nc.descr, "<u2");
	EXPECT_EQ(nc.px(0, 0, 2, 0), 300);

	Out f = flowpic("--preset mini --value norm", {cap});
	ASSERT_EQ(f.rc, 0) << f.log;
	Npy nf = read_npy(f.dir + "/flowpic.npy");
	ASSERT_EQ(nf.err, "");
	EXPECT_EQ(nf.descr, "<f4");
	EXPECT_EQ(nf.px(0, 0, 2, 0), 1.0);
	EXPECT_EQ((float)nf.px(0, 0, 21, 16), 1.0f / 255.0f);

	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset mini", "--preset mini");
	expect_same_as_oracle(cap, "--preset mini --value count", "--preset mini --value count");
	expect_same_as_oracle(cap, "--preset mini --value norm", "--preset mini --value norm");
}

// The > 10 packets and > 50 s rules (µs pcap, UDP sessions to port 53):
//  port 1: 10 packets over 55 s -> no image;
//  port 2: 11 packets every 5 s -> span exactly 50 s -> no image;
//  port 3: 11 packets, the last at 50.000001 s -> one image;
//  port 4: 11 packets over 50 s, then 11 more from 70 to 120 s: last = 120 -> two
//    windows, both with span 50 s (window 0 = [0, 60]: 0..50, window 1: 70..120) -> none.
TEST(FlowpicGolden, MinPacketsAndMinSpanRules)
{
	std::vector<Pk> p;
	for (int i = 0; i < 10; i++)
		p.push_back(pk(T0 + i * 55 * kSec / 9, IP_A, IP_B, 1, 53, 17, 100));
	for (int i = 0; i < 11; i++)
		p.push_back(pk(T0 + i * 5 * kSec, IP_A, IP_B, 2, 53, 17, 100));
	for (int i = 0; i < 11; i++)
		p.push_back(pk(T0 + i * 5 * kSec + (i == 10 ? 1000 : 0), IP_A, IP_B, 3, 53, 17, 100));
	for (int i = 0; i < 11; i++) {
		p.push_back(pk(T0 + i * 5 * kSec, IP_A, IP_B, 4, 53, 17, 100));
		p.push_back(pk(T0 + 70 * kSec + i * 5 * kSec, IP_A, IP_B, 4, 53, 17, 100));
	}
	std::stable_sort(p.begin(), p.end(), [](const Pk &a, const Pk &b) { return a.ts_ns < b.ts_ns; });
	std::string cap = tmp("_rules.pcap");
	write_cap(cap, p, false);
	Out o = flowpic("--preset official", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0][1], "3");
	EXPECT_EQ(rows[0][7], "11");
	// --min-packets 9 (more than 9) lets port 1 through as well (span 55 s)
	Out m = flowpic("--preset official --min-packets 9", {cap});
	ASSERT_EQ(m.rc, 0) << m.log;
	rows = index_rows(m.dir);
	ASSERT_EQ(rows.size(), 2u);
	EXPECT_EQ(rows[0][1], "1");
	// --min-span 49.5: ports 2, 3 and both windows of port 4
	Out s = flowpic("--preset official --min-span 49.5", {cap});
	ASSERT_EQ(s.rc, 0) << s.log;
	rows = index_rows(s.dir);
	ASSERT_EQ(rows.size(), 4u);
	EXPECT_EQ(rows[3][1], "4");
	EXPECT_EQ(rows[3][5], "1");
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset official", "--preset official");
	expect_same_as_oracle(cap, "--preset official --min-packets 9", "--preset official --min-packets 10");
	expect_same_as_oracle(cap, "--preset official --min-span 49.5", "--preset official --min-span 49.5");
}

// Python 2's round(x, 6) rounds exact ties away from zero. A ns pcap gives dpkt an exact
// Decimal, so t = 50.0078125 s (6401/128, a tie) becomes 50.007813 (Python 3: 50.007812).
// 12 packets over that span, with --min-span 50.0078125: the official time (dpkt) keeps
// the window (50.007813 > 50.0078125), exact ns time does not (not >); --min-span
// 50.007812 keeps it too (round-half-even would not). The same packets in a ns pcapng
// go through editcap's µs truncation: t = 50.007812 -> no image.
TEST(FlowpicGolden, RoundingTiesAndTimebases)
{
	std::vector<Pk> p;
	for (int i = 0; i <= 10; i++)
		p.push_back(pk(T0 + 123 + i * 5 * kSec, IP_A, IP_B, 1000, 80, 6, 100 + i));
	p.push_back(pk(T0 + 123 + 50 * kSec + 7812500, IP_A, IP_B, 1000, 80, 6, 1400));
	std::string ns = tmp("_tie.pcap"), ng = tmp("_tie.pcapng");
	write_cap(ns, p, true);
	write_pcapng_ns(ng, p);
	struct {
		std::string cap, args;
		size_t images;
		std::string oracle;
	} cases[] = {
		{ns, "--min-span 50.0078125", 1, "--min-span 50.0078125"},
		{ns, "--min-span 50.007812", 1, "--min-span 50.007812"},
		{ns, "--min-span 50.007813", 0, "--min-span 50.007813"},
		{ns, "--min-span 50.0078125 --time exact", 0, "--min-span 50.0078125 --timebase ns"},
		{ns, "--min-span 50.0078124 --time exact", 1, "--min-span 50.0078124 --timebase ns"},
		{ng, "--min-span 50.0078125", 0, "--min-span 50.0078125"},
		{ng, "--min-span 50.0078115", 1, "--min-span 50.0078115"},
	};
	for (auto &c : cases) {
		SCOPED_TRACE(c.cap + " " + c.args);
		Out o = flowpic(c.args, {c.cap});
		ASSERT_EQ(o.rc, 0) << o.log;
		EXPECT_EQ(index_rows(o.dir).size(), c.images);
		if (!cft::numpy_python().empty() && exists(oracle_path())) {
			auto r = run_jobs({{"", c.cap, o.dir, "oracle", "--preset official " + c.oracle}});
			EXPECT_EQ(r[0].compare(0, 2, "OK"), 0) << r[0];
		}
	}
}

// The window count comes from the session's LAST PACKET IN FILE ORDER (not the latest
// time), int(last / 60 - 1) + 1, and no window at all when last <= 0 (µs pcap):
//  port 1: 100 B at 0, 300 B at 4, 8, ..., 132 s, then 200 B at 5 s last in the file:
//    last = 5 -> 1 window, [0, 60]: 17 packets; the stretch uses the window's first and
//    last packet in file order (0 and 5 s): x = t / 5 * 1500: 0 s -> column 0, 4 s ->
//    1200, 5 s -> 1500 -> column 1499; everything from 8 s on has x > 1500 and is
//    dropped: 3 packets in the image. (The span is 5 s, so the official --min-span 50
//    keeps nothing; this runs with --min-span -1.)
//  port 2: 12 packets at 0..10 s, the file's last one at 0 s again -> last = 0 -> none.
//  port 3: 12 packets at 0..11 s, the file's last one 3 s BEFORE the first -> none.
TEST(FlowpicGolden, WindowCountFromLastPacketInFileOrder)
{
	std::vector<Pk> p = {pk(T0, IP_A, IP_B, 1, 80, 6, 100)};
	for (int k = 1; k <= 33; k++)
		p.push_back(pk(T0 + 4 * k * kSec, IP_A, IP_B, 1, 80, 6, 300));
	p.push_back(pk(T0 + 5 * kSec, IP_A, IP_B, 1, 80, 6, 200));
	for (int k = 0; k <= 10; k++)
		p.push_back(pk(T0 + k * kSec, IP_A, IP_B, 2, 80, 6, 100));
	p.push_back(pk(T0, IP_A, IP_B, 2, 80, 6, 100));
	for (int k = 0; k <= 11; k++)
		p.push_back(pk(T0 + k * kSec, IP_A, IP_B, 3, 80, 6, 100));
	p.push_back(pk(T0 - 3 * kSec, IP_A, IP_B, 3, 80, 6, 100));
	std::string cap = tmp("_lastpkt.pcap");
	write_cap(cap, p, false);
	Out o = flowpic("--preset official --min-span -1", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 1500, 1500}));
	EXPECT_EQ(n.px(0, 0, 100, 0), 1);
	EXPECT_EQ(n.px(0, 0, 300, 1200), 1);
	EXPECT_EQ(n.px(0, 0, 200, 1499), 1);
	EXPECT_EQ(n.sum(0), 3);
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 1u);
	EXPECT_EQ(rows[0][1], "1");
	EXPECT_EQ(rows[0][7], "3");
	Out d = flowpic("--preset official", {cap});
	ASSERT_EQ(d.rc, 0) << d.log;
	EXPECT_TRUE(index_rows(d.dir).empty());
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset official --min-span -1", "--preset official --min-span -1");
	expect_same_as_oracle(cap, "--preset mini", "--preset mini");
}

// Packet size = dpkt's len(ip), the IP bytes actually there (UDP 10.0.0.1:9 -> 10.0.0.2:9,
// 12 packets at 5 i s, stretch over 55 s: columns 0, 136, 272, ..., 1499):
//  i = 0: IP total length 40 in a frame padded to 60 bytes -> 40 (padding excluded);
//  i = 1: a 1000 B datagram cut by the snap length to a 114-byte frame -> 100;
//  i = 2: total length 0 (TSO capture), 300 IP bytes captured -> 300;
//  i = 3..11: 500 B.
// --size frame counts captured frame bytes instead: 60, 114, 314, 514.
TEST(FlowpicGolden, PacketSizeIsDpktLenIp)
{
	std::vector<cft::Frame> fr;
	for (int i = 0; i < 12; i++) {
		uint32_t L = i == 0 ? 40 : i == 1 ? 1000 : i == 2 ? 300 : 500;
		std::vector<uint8_t> f = frame_of(pk(T0 + 5 * i * kSec, IP_A, IP_B, 9, 9, 17, L));
		uint32_t wire = 0;
		if (i == 0)
			f.resize(60, 0);
		if (i == 1) {
			wire = (uint32_t)f.size();
			f.resize(114);
		}
		if (i == 2) { // total length 0, header checksum recomputed
			f[14 + 2] = f[14 + 3] = 0;
			f[14 + 10] = f[14 + 11] = 0;
			uint32_t sum = 0;
			for (int k = 0; k < 20; k += 2)
				sum += (uint32_t)f[14 + k] << 8 | f[14 + k + 1];
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			f[14 + 10] = (uint8_t)(~sum >> 8);
			f[14 + 11] = (uint8_t)~sum;
		}
		fr.push_back({T0 + 5 * i * kSec, f, wire});
	}
	std::string cap = tmp("_sizes.pcap");
	cft::write_pcap(cap, 1, fr, false);
	Out o = flowpic("--preset official", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 1500, 1500}));
	EXPECT_EQ(n.px(0, 0, 40, 0), 1);
	EXPECT_EQ(n.px(0, 0, 100, 136), 1);
	EXPECT_EQ(n.px(0, 0, 300, 272), 1);
	EXPECT_EQ(n.row_sum(0, 0, 500), 9);
	EXPECT_EQ(n.px(0, 0, 500, 1499), 1);
	Out f = flowpic("--preset official --size frame", {cap});
	ASSERT_EQ(f.rc, 0) << f.log;
	Npy m = read_npy(f.dir + "/flowpic.npy");
	ASSERT_EQ(m.err, "");
	EXPECT_EQ(m.px(0, 0, 60, 0), 1);
	EXPECT_EQ(m.px(0, 0, 114, 136), 1);
	EXPECT_EQ(m.px(0, 0, 314, 272), 1);
	EXPECT_EQ(m.row_sum(0, 0, 514), 9);
	NEED_ORACLE();
	expect_same_as_oracle(cap, "--preset official", "--preset official");
}

// The oracle's own golden captures (flowpic_ref.py --make-golden): µs pcap with a VLAN
// session, the same packets as a big-endian ns pcapng (+789 ns), and the mini capture
// (big-endian ns pcap), under the presets (and the exact time) below.
TEST(FlowpicGolden, OracleGoldenCaptures)
{
	NEED_ORACLE();
	std::string g = fresh_dir();
	std::string log;
	ASSERT_EQ(cft::run(shq(cft::numpy_python()) + " " + shq(oracle_path()) + " --make-golden " + shq(g), &log), 0) << log;
	std::vector<Job> jobs;
	struct {
		const char *file, *cu, *oracle;
		size_t images;
	} cases[] = {
		// session 1: windows 0 and 1 (the packet at 60 s in both); session 3 (VLAN): one;
		// session 4: span exactly 50 s -> none
		{"golden_official.pcap", "--preset official", "--preset official", 3},
		{"golden_official_ns.pcapng", "--preset official", "--preset official", 3},
		{"golden_mini.pcap", "--preset mini", "--preset mini", 1},
		// mini on the official capture: no session has more than 10 packets in 15 s
		{"golden_official.pcap", "--preset mini", "--preset mini", 0},
		{"golden_mini.pcap", "--preset official --min-span -1", "--preset official --min-span -1", 1},
		{"golden_official.pcap", "--preset official --time exact", "--preset official --timebase ns", 3},
	};
	for (auto &c : cases) {
		Out o = flowpic(c.cu, {g + "/" + c.file});
		ASSERT_EQ(o.rc, 0) << o.log;
		EXPECT_EQ(index_rows(o.dir).size(), c.images) << c.file << " " << c.cu;
		jobs.push_back({c.file, g + "/" + c.file, o.dir, "oracle", c.oracle});
	}
	auto r = run_jobs(jobs);
	for (size_t i = 0; i < jobs.size(); i++)
		EXPECT_EQ(r[i].compare(0, 2, "OK"), 0) << jobs[i].name << " " << cases[i].cu << ": " << r[i];
	// mini: the 300 packets at t0 saturate at 255, the 1501 B packet is in row 31
	Out m = flowpic("--preset mini", {g + "/golden_mini.pcap"});
	Npy n = read_npy(m.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	ASSERT_EQ(n.shape, (std::vector<uint64_t>{1, 1, 32, 32}));
	EXPECT_EQ(n.px(0, 0, 2, 0), 255);
	EXPECT_EQ(n.px(0, 0, 31, 0), 1);
}

// Upstream's counts are np.histogram2d(...).astype(np.uint16), which wraps modulo 65536
// (notes section 1): 65537 packets of 100 B at t0 (column 0) plus 11 packets over 55 s
// give H[100][0] = 65537 mod 65536 = 1.
TEST(FlowpicGolden, CountAbove65535WrapsLikeNumpy)
{
	NEED_ORACLE();
	std::vector<Pk> p;
	for (int i = 0; i < 65537; i++)
		p.push_back(pk(T0, IP_A, IP_B, 1000, 80, 17, 100));
	for (int i = 1; i <= 11; i++)
		p.push_back(pk(T0 + 5 * i * kSec, IP_A, IP_B, 1000, 80, 17, 200));
	std::string cap = tmp("_wrap.pcap");
	write_cap(cap, p, false);
	std::string d = expect_same_as_oracle(cap, "--preset official", "--preset official");
	Npy n = read_npy(d + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	EXPECT_EQ(n.px(0, 0, 100, 0), 1);
}

// ================================================================== random sessions

// A random capture: 5..9 sessions interleaved in file order, TCP or UDP, some over
// 802.1Q, most with packets in both directions (the first packet's direction random);
// profiles from short (mini-sized) to 260 s (several official windows); sizes 40..1600
// with extra 40, 1500, 1501 and 1600; times on exact multiples of 15 s and 60 s from the
// session's first packet, rounding ties (odd multiples of 1/128 s, ns pcaps), and ~3 %
// of the packets stamped up to 3 s earlier than their place in the file (some before
// the session's first packet); ARP, IPv6 and ICMP noise. µs pcaps round times to µs.
std::vector<Pk> random_capture(uint64_t seed, bool ns)
{
	Rng r{seed * 7919 + (ns ? 1 : 0)};
	struct Item {
		int64_t order;
		Pk p;
	};
	std::vector<Item> all;
	int64_t base = T0 + (int64_t)r.below(kSec);
	int nsess = 5 + (int)r.below(5);
	for (int s = 0; s < nsess; s++) {
		uint32_t a = 0x0a000000u + (uint32_t)(s * 2 + 1), b = 0xc0a80000u + (uint32_t)r.below(65536);
		uint16_t pa = (uint16_t)(1024 + r.below(60000)), pb = (uint16_t)(r.below(3) == 0 ? 53 : 1 + r.below(65000));
		uint8_t proto = r.below(2) ? 6 : 17;
		bool vlan = r.below(4) == 0, bidir = r.below(4) != 0;
		int64_t start = base + (int64_t)r.below(40 * kSec);
		int prof = (int)r.below(4);
		int64_t dur;
		int n;
		switch (prof) {
		case 0: dur = (5 + (int64_t)r.below(15)) * kSec; n = 11 + (int)r.below(60); break;
		case 1: dur = (50 + (int64_t)r.below(80)) * kSec; n = 20 + (int)r.below(300); break;
		case 2: dur = (130 + (int64_t)r.below(130)) * kSec; n = 30 + (int)r.below(400); break;
		default: dur = (1 + (int64_t)r.below(70)) * kSec; n = 3 + (int)r.below(12); break;
		}
		std::vector<int64_t> rel(n);
		rel[0] = 0;
		for (int i = 1; i < n; i++)
			rel[i] = (int64_t)r.below((uint64_t)dur + 1);
		// exact boundaries; in ns captures also rounding ties (odd multiples of 1/128 s:
		// Python 2 rounds them up, Python 3 to even) and times within 0.6 µs of a 15 s
		// boundary or of a multiple of 1/128 s (a column edge of the 1 s / 128-column
		// axis below, and of mini's (t / 15) * 32), where rounding to µs moves a packet
		// across the edge
		for (int i = 1; i < n; i++) {
			uint64_t q = r.below(14);
			int64_t jitter = (int64_t)r.below(1201) - 600;
			if (q == 0)
				rel[i] = (int64_t)r.below((uint64_t)(dur / (15 * kSec)) + 1) * 15 * kSec;
			else if (q == 1)
				rel[i] = (int64_t)r.below((uint64_t)(dur / (60 * kSec)) + 1) * 60 * kSec;
			else if (q == 2 && ns)
				rel[i] = std::min(dur, (int64_t)(2 * r.below(8000) + 1) * 7812500);
			else if (q == 3 && ns)
				rel[i] = std::max<int64_t>(1, (int64_t)r.below((uint64_t)(dur / (15 * kSec)) + 1) * 15 * kSec + jitter);
			else if (q == 4 && ns)
				rel[i] = std::max<int64_t>(1, (int64_t)r.below((uint64_t)(dur / 7812500) + 1) * 7812500 + jitter);
		}
		if (r.below(3) == 0) // a last packet exactly on a window boundary
			rel[n - 1] = (dur / (60 * kSec)) * 60 * kSec + (r.below(2) ? 0 : 15 * kSec);
		std::sort(rel.begin() + 1, rel.end() - 1);
		if (rel[n - 1] < rel[n - 2] && r.below(2))
			std::swap(rel[n - 1], rel[n - 2]);
		int first_dir = bidir ? (int)r.below(2) : 0;
		for (int i = 0; i < n; i++) {
			int64_t ts = start + rel[i];
			if (i > 0 && r.below(33) == 0)
				ts -= (int64_t)r.below(3 * kSec); // out of order
			if (!ns)
				ts = ts / 1000 * 1000;
			int dir = i == 0 ? first_dir : bidir ? (r.below(5) < 2 ? 1 - first_dir : first_dir) : 0;
			uint64_t q = r.below(100);
			uint32_t L = q < 5 ? 1500 : q < 10 ? 1501 : q < 12 ? 40 : q < 14 ? 1600 : 40 + (uint32_t)r.below(1561);
			Pk p = dir ? pk(ts, b, a, pb, pa, proto, L) : pk(ts, a, b, pa, pb, proto, L);
			p.vlan = vlan;
			all.push_back({start + rel[i], p});
		}
	}
	for (int i = 0; i < 20; i++) {
		int64_t ts = base + (int64_t)r.below(200 * kSec);
		if (!ns)
			ts = ts / 1000 * 1000;
		Pk p = pk(ts, IP_A, IP_B, 7, 7, 17, 60);
		p.kind = i % 3 == 0 ? PK_ARP : i % 3 == 1 ? PK_IPV6 : PK_ICMP;
		all.push_back({ts, p});
	}
	std::stable_sort(all.begin(), all.end(), [](const Item &x, const Item &y) { return x.order < y.order; });
	std::vector<Pk> out;
	for (auto &it : all)
		out.push_back(it.p);
	return out;
}

// The random captures, written once per process: seeds 1..4 as µs pcaps, 5..8 as ns.
const std::vector<std::string> &random_captures()
{
	static const std::vector<std::string> caps = [] {
		std::vector<std::string> v;
		for (uint64_t seed = 1; seed <= 8; seed++) {
			bool ns = seed > 4;
			std::string path = tmp("_random" + std::to_string(seed) + (ns ? "_ns.pcap" : "_us.pcap"), true);
			write_cap(path, random_capture(seed, ns), ns);
			v.push_back(path);
		}
		return v;
	}();
	return caps;
}

struct Combo {
	const char *name, *cu, *oracle, *mode;
};

// Every combo on every random capture; every comparison must pass. Returns the total
// number of images compared.
uint64_t check_combos(const std::vector<Combo> &combos)
{
	std::vector<Job> jobs;
	for (const std::string &cap : random_captures())
		for (const Combo &c : combos) {
			Out o = flowpic(c.cu, {cap});
			EXPECT_EQ(o.rc, 0) << o.log;
			jobs.push_back({std::string(c.name) + " on " + cap.substr(cap.rfind('/') + 1), cap, o.dir, c.mode, c.oracle});
		}
	auto r = run_jobs(jobs);
	uint64_t images = 0;
	std::vector<uint64_t> per_combo(combos.size());
	for (size_t i = 0; i < jobs.size(); i++) {
		EXPECT_EQ(r[i].compare(0, 2, "OK"), 0) << jobs[i].name << "\n  cuflow flowpic " << combos[i % combos.size()].cu
		                                       << "\n  flowpic_ref.py " << jobs[i].oracle_args << "\n  " << r[i];
		if (r[i].compare(0, 3, "OK ") == 0) {
			uint64_t k = strtoull(r[i].c_str() + 3, nullptr, 10);
			images += k;
			per_combo[i % combos.size()] += k;
		}
		cft::run("rm -rf " + shq(jobs[i].cudir));
	}
	for (size_t c = 0; c < combos.size(); c++) {
		printf("%-22s %5" PRIu64 " images\n", combos[c].name, per_combo[c]);
		EXPECT_GT(per_combo[c], 0u) << combos[c].name << ": no image on any random capture";
	}
	return images;
}

TEST(FlowpicRandom, PresetsMatchOracle)
{
	NEED_ORACLE();
	uint64_t n = check_combos({
		{"official", "--preset official", "--preset official", "oracle"},
		{"mini", "--preset mini", "--preset mini", "oracle"},
	});
	// the generator makes both kinds of image on these seeds
	EXPECT_GT(n, 40u);
	printf("compared %" PRIu64 " images\n", n);
}

TEST(FlowpicRandom, GenericCombinationsMatchOracle)
{
	NEED_ORACLE();
	uint64_t n = check_combos({
		// overlapping windows (step < window), N = 64 (cuflow's size edges 23.4375 k exact)
		{"overlap-64", "--window 60 --step 20 --resolution 64", "--window 60 --step 20 --resolution 64", "oracle"},
		// fixed axis anchored at the window's first packet, oversize clip, float32 norm,
		// N = 7, integer size rows, no span rule, more than 3 packets, 20 s windows every 10 s
		{"anchor-first-7-norm",
		 "--time-axis scale --anchor first --oversize clip --value norm --resolution 7 --size-bins scale "
		 "--min-packets 3 --min-span -1 --window 20 --step 10",
		 "--stretch 0 --anchor first --oversize clip --value norm --resolution 7 --min-packets 4 --min-span -1 "
		 "--window 20 --step 10",
		 "oracle"},
		// bidirectional 2-channel images (up, down), fixed axis, capped values
		{"bidir-2ch-64",
		 "--sessions bidir --idle-timeout 1e9 --direction 2ch --resolution 64 --window 30 --step 30 --value capped "
		 "--time-axis scale --min-span 10",
		 "--bidir 1 --direction 2ch --resolution 64 --window 30 --step 30 --value capped --stretch 0 --anchor window "
		 "--min-span 10",
		 "oracle"},
		// mini on the down direction of bidirectional sessions
		{"mini-down", "--preset mini --sessions bidir --idle-timeout 1e9 --direction down",
		 "--preset mini --bidir 1 --direction down", "oracle"},
		// up direction, right-open windows, tcbench's float size rows at N = 100 (they differ
		// from the integer rows there)
		{"up-open-tcbench-100",
		 "--sessions bidir --idle-timeout 1e9 --direction up --time-axis scale --right-open --size-bins tcbench "
		 "--resolution 100 --min-span 20",
		 "--bidir 1 --direction up --stretch 0 --anchor window --end open --size-formula tcbench --resolution 100 "
		 "--min-span 20",
		 "oracle"},
		// mini at N = 1500 with uint16 counts (tcbench rows: L = 27 -> row 26)
		{"mini-1500-count", "--preset mini --resolution 1500 --value count",
		 "--preset mini --resolution 1500 --size-formula tcbench --value count", "oracle"},
		// official windows on both directions merged, exact ns time
		{"official-both-exact", "--sessions bidir --idle-timeout 1e9 --direction both --time exact",
		 "--bidir 1 --direction both --timebase ns", "oracle"},
		// mini with dpkt time and 15 s windows every 5 s, more than 5 packets
		{"mini-dpkt-overlap", "--preset mini --time dpkt --step 5 --min-packets 5",
		 "--preset mini --timebase official --rule all --step 5 --min-packets 6", "oracle"},
		// one stretched window per session (step 0), N = 50, no rules but > 0 packets
		{"step0-stretch-50", "--step 0 --min-span -1 --min-packets 0 --resolution 50",
		 "--rule first --min-span -1 --min-packets 1 --resolution 50", "oracle"},
		// 1 s windows of 128 columns (7.8125 ms each) with every non-empty window kept: the
		// ties and near-edge times of the ns captures decide columns and windows, so this
		// tells the dpkt time (Python 2 round to 1 µs) from the exact one (both checked)
		{"fine-128-dpkt",
		 "--time-axis scale --window 1 --step 1 --resolution 128 --min-packets 0 --min-span -1 --value capped "
		 "--size-bins scale",
		 "--stretch 0 --anchor window --window 1 --step 1 --resolution 128 --min-packets 1 --min-span -1 "
		 "--value capped",
		 "oracle"},
		{"fine-128-exact",
		 "--time-axis scale --window 1 --step 1 --resolution 128 --min-packets 0 --min-span -1 --value capped "
		 "--size-bins scale --time exact",
		 "--stretch 0 --anchor window --window 1 --step 1 --resolution 128 --min-packets 1 --min-span -1 "
		 "--value capped --timebase ns",
		 "oracle"},
	});
	EXPECT_GT(n, 100u);
	printf("compared %" PRIu64 " images\n", n);
}

// cuflow's --time-axis edges (x = t - anchor on numpy linspace(0, window, N + 1)) and
// --size-bins edges (linspace(0, 1500, N + 1)) against np.histogram2d on those edges.
TEST(FlowpicRandom, EdgesAxisMatchesNumpyHistogram2d)
{
	NEED_ORACLE();
	uint64_t n = check_combos({
		{"edges-7", "--time-axis edges --anchor window --resolution 7 --window 60 --step 30 --min-span -1",
		 "--stretch 0 --anchor window --resolution 7 --window 60 --step 30 --min-span -1", "edges"},
		// N = 90: linspace(0, 1500, 91) has inexact edges (3 * 16.666... = 50.00000000000001),
		// so some sizes land one row lower than floor(L * 90 / 1500)
		{"edges-90", "--time-axis edges --resolution 90 --window 60 --step 60 --min-span 30 --size-bins edges",
		 "--stretch 0 --anchor window --resolution 90 --window 60 --step 60 --min-span 30", "edges"},
		{"edges-2ch-first-96",
		 "--time-axis edges --anchor first --resolution 96 --sessions bidir --idle-timeout 1e9 --direction 2ch "
		 "--window 15 --step 0 --min-span -1 --min-packets 2 --oversize clip --value norm",
		 "--stretch 0 --anchor first --resolution 96 --bidir 1 --direction 2ch --window 15 --rule first "
		 "--min-span -1 --min-packets 3 --oversize clip --value norm",
		 "edges"},
	});
	EXPECT_GT(n, 20u);
	printf("compared %" PRIu64 " images\n", n);
}

// Guards the generator's power: on every ns capture, the 1 s / 128-column axis gives
// different images with exact time than with the official (dpkt) time, so the two
// fine-128 comparisons above really check the rounding. (By hand: the oracle with Python
// 3's round-half-even in place of Python 2's round also fails them.)
TEST(FlowpicRandom, NsCapturesExerciseTimeRounding)
{
	const std::string fine = "--time-axis scale --window 1 --step 1 --resolution 128 --min-packets 0 --min-span -1 "
	                         "--value capped";
	for (size_t i = 4; i < random_captures().size(); i++) {
		const std::string &cap = random_captures()[i];
		Out d = flowpic(fine, {cap}), e = flowpic(fine + " --time exact", {cap});
		ASSERT_EQ(d.rc, 0) << d.log;
		ASSERT_EQ(e.rc, 0) << e.log;
		EXPECT_NE(slurp(d.dir + "/flowpic.npy") + slurp(d.dir + "/index.csv"),
		          slurp(e.dir + "/flowpic.npy") + slurp(e.dir + "/index.csv"))
		        << cap;
	}
}

// ================================================================== real captures

// The captures of flowpic_notes.md section 5 and pathspider's real.pcap: official and
// mini equal the oracle image for image (the oracle equals upstream FlowPic and tcbench
// on them, per the notes), with the notes' image counts.
TEST(FlowpicReal, CorpusCapturesMatchOracle)
{
	NEED_ORACLE();
	struct {
		std::string path;
		size_t official, mini;
	} caps[] = {
		{"zeek/ftp/cwd-navigation.pcap", 20, 2},
		{"nfstream/pcaps/wireguard.pcap", 10, 2},
		{"nfstream/pcaps/tor.pcap", 6, 14},
		{"zeek/modbus/modbusBig.pcap", 6, 6},
		{"PcapPlusPlus/ExamplesTest/pcap_examples/tls2.pcap", 3, 41},
		{"nfstream/pcaps/wechat.pcap", 4, 38},
		{"nfstream/pcaps/skype_no_unknown.pcap", 4, 43},
		{"nfstream/pcaps/quickplay.pcap", 2, 0}, // Linux SLL: upstream crashes, the oracle decodes it
	};
	std::vector<Job> jobs;
	std::vector<std::string> present;
	std::string shared = cft::shared_dir();
	if (!shared.empty())
		for (auto &c : caps) {
			std::string p = shared + "/captures/" + c.path;
			if (!exists(p)) {
				ADD_FAILURE() << "missing " << p;
				continue;
			}
			for (int mini = 0; mini < 2; mini++) {
				Out o = flowpic(mini ? "--preset mini" : "--preset official", {p});
				EXPECT_EQ(o.rc, 0) << o.log;
				EXPECT_EQ(index_rows(o.dir).size(), mini ? c.mini : c.official) << p;
				jobs.push_back({c.path + (mini ? " mini" : " official"), p, o.dir, "oracle",
				                mini ? "--preset mini" : "--preset official"});
			}
		}
	// pathspider 2.0.1's tests/data/real.pcap (62k packets over 3599 s, timestamps not in
	// order): 4 official images, 44 mini
	std::string deb = data_dir() + "/debian";
	std::string real = deb + "/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap";
	if (!exists(real)) {
		std::string log;
		cft::run("bash " + shq(source_dir() + "/tests/scripts/fetch_debian_captures.sh") + " " + shq(deb), &log);
		printf("%s", log.c_str());
	}
	bool have_real = exists(real);
	if (have_real)
		for (int mini = 0; mini < 2; mini++) {
			Out o = flowpic(mini ? "--preset mini" : "--preset official", {real});
			EXPECT_EQ(o.rc, 0) << o.log;
			EXPECT_EQ(index_rows(o.dir).size(), mini ? 44u : 4u) << real;
			jobs.push_back({std::string("real.pcap") + (mini ? " mini" : " official"), real, o.dir, "oracle",
			                mini ? "--preset mini" : "--preset official"});
		}
	if (jobs.empty())
		GTEST_SKIP() << "neither ../shared/captures nor pathspider's real.pcap (offline?)";
	auto r = run_jobs(jobs);
	for (size_t i = 0; i < jobs.size(); i++) {
		EXPECT_EQ(r[i].compare(0, 2, "OK"), 0) << jobs[i].name << ": " << r[i];
		cft::run("rm -rf " + shq(jobs[i].cudir));
	}
	if (!have_real)
		printf("pathspider's real.pcap not available (offline?): not compared\n");
}

// ================================================================== labels

// Two official images from 10.0.0.1:5000 -> 192.168.7.9:53 (the boundary session) and
// one from 10.0.0.1:1000 -> 10.0.0.2:80 (TCP).
std::string two_session_capture()
{
	std::vector<Pk> p;
	for (int k = 0; k <= 32; k++)
		p.push_back(pk(T0 + k * 3750 * 1000000LL, IP_A, IP_C, 5000, 53, 17, 200));
	for (int i = 0; i <= 11; i++)
		p.push_back(pk(T0 + 1000 + 5 * i * kSec, IP_A, IP_B, 1000, 80, 6, 100 + i));
	std::stable_sort(p.begin(), p.end(), [](const Pk &a, const Pk &b) { return a.ts_ns < b.ts_ns; });
	std::string cap = tmp("_twosess.pcap");
	write_cap(cap, p, false);
	return cap;
}

TEST(FlowpicLabels, ConstantLabel)
{
	std::string cap = two_session_capture();
	Out o = flowpic("--label vpn-chat", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy l = read_npy(o.dir + "/labels.npy");
	ASSERT_EQ(l.err, "");
	EXPECT_EQ(l.descr, "<i8");
	ASSERT_EQ(l.shape, (std::vector<uint64_t>{3}));
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(l.at(i), 0);
	for (auto &row : index_rows(o.dir))
		EXPECT_EQ(row[8], "vpn-chat");
	std::string meta = slurp(o.dir + "/meta.json");
	EXPECT_NE(meta.find("\"names\": [\"vpn-chat\"]"), std::string::npos) << meta;
	EXPECT_NE(meta.find("\"shape\": [3, 1, 1500, 1500]"), std::string::npos) << meta;
	// without a label option there is no labels.npy and "labels": null
	Out u = flowpic("", {cap});
	ASSERT_EQ(u.rc, 0) << u.log;
	EXPECT_FALSE(exists(u.dir + "/labels.npy"));
	EXPECT_NE(slurp(u.dir + "/meta.json").find("\"labels\": null"), std::string::npos);
}

// A rules CSV (include/cuflow/label.h): the DNS session matches (in reverse orientation:
// rules match either way), the TCP one matches nothing and is dropped (counted in
// meta.json); with --default-label it is kept under that name.
TEST(FlowpicLabels, RulesCsvLabelsAndDrops)
{
	std::string cap = two_session_capture();
	std::string rules = tmp("_rules.csv");
	std::string text = "# comment\n"
	                   "src_ip,dst_ip,src_port,dst_port,protocol,start,end,label\n"
	                   "192.168.7.0/24,10.0.0.1,53,*,udp,,,dns\n"
	                   "10.0.0.9,*,*,*,*,,,never\n";
	cft::write_file(rules, std::vector<uint8_t>(text.begin(), text.end()));
	Out o = flowpic("--labels " + shq(rules), {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	Npy l = read_npy(o.dir + "/labels.npy");
	ASSERT_EQ(l.err, "");
	ASSERT_EQ(l.shape, (std::vector<uint64_t>{2}));
	EXPECT_EQ(l.at(0), 0);
	EXPECT_EQ(l.at(1), 0);
	Npy im = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(im.err, "");
	EXPECT_EQ(im.shape, (std::vector<uint64_t>{2, 1, 1500, 1500}));
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 2u);
	for (auto &row : rows) {
		EXPECT_EQ(row[1], "5000");
		EXPECT_EQ(row[8], "dns");
	}
	std::string meta = slurp(o.dir + "/meta.json");
	EXPECT_NE(meta.find("\"images_unlabelled_dropped\": 1"), std::string::npos) << meta;
	EXPECT_NE(meta.find("\"names\": [\"dns\", \"never\"]"), std::string::npos) << meta;

	Out d = flowpic("--labels " + shq(rules) + " --default-label other", {cap});
	ASSERT_EQ(d.rc, 0) << d.log;
	Npy ld = read_npy(d.dir + "/labels.npy");
	ASSERT_EQ(ld.err, "");
	ASSERT_EQ(ld.shape, (std::vector<uint64_t>{3}));
	rows = index_rows(d.dir);
	ASSERT_EQ(rows.size(), 3u);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(rows[i][8], rows[i][1] == "5000" ? "dns" : "other");
		EXPECT_EQ(ld.at(i), rows[i][1] == "5000" ? 0 : 2); // ids: dns 0, never 1, other 2
	}
	EXPECT_NE(slurp(d.dir + "/meta.json").find("\"images_unlabelled_dropped\": 0"), std::string::npos);
	// a malformed rules file is a usage error
	std::string bad = tmp("_bad.csv");
	std::string bt = "src_ip,label\n10.0.0.300,x\n";
	cft::write_file(bad, std::vector<uint8_t>(bt.begin(), bt.end()));
	Out b = flowpic("--labels " + shq(bad), {cap});
	EXPECT_EQ(b.rc, 1) << b.log;
}

// ================================================================== PNG previews

// 4 sessions (UDP 10.0.0.1:700+s <-> 10.0.0.2:53) of 30 packets in 12 s, every third one
// the reply: mini gives 4 one-channel images (20 packets up), bidirectional 2ch 4 images
// with both channels.
std::string png_capture()
{
	std::vector<Pk> p;
	for (int i = 0; i < 30; i++)
		for (int s = 0; s < 4; s++) {
			int64_t ts = T0 + i * 400 * 1000000LL + s * 1000;
			uint32_t L = 100 + 40 * (uint32_t)i;
			p.push_back(i % 3 == 2 ? pk(ts, IP_B, IP_A, 53, (uint16_t)(700 + s), 17, L)
			                       : pk(ts, IP_A, IP_B, (uint16_t)(700 + s), 53, 17, L));
		}
	std::string cap = tmp("_png.pcap");
	write_cap(cap, p, true);
	return cap;
}

TEST(FlowpicPng, WritesValidPreviews)
{
	NEED_ORACLE(); // python decodes the PNGs
	std::string cap = png_capture();
	// mini: 32 x 32 scaled up 13 times: 48 + 416 + 16 = 480 wide, 12 + 416 + 28 = 456 high
	Out o = flowpic("--preset mini --png 3", {cap});
	ASSERT_EQ(o.rc, 0) << o.log;
	ASSERT_EQ(index_rows(o.dir).size(), 4u);
	// 2 channels (bidirectional up and down)
	Out t = flowpic("--preset mini --sessions bidir --idle-timeout 1e9 --direction 2ch --png 3", {cap});
	ASSERT_EQ(t.rc, 0) << t.log;
	ASSERT_EQ(index_rows(t.dir).size(), 4u);
	// official: 1500 x 1500 summed over 3 x 3 blocks -> 500 cells
	Out f = flowpic("--preset official --png 1", {two_session_capture()});
	ASSERT_EQ(f.rc, 0) << f.log;
	std::vector<std::string> files;
	for (const Out *x : {&o, &t})
		for (int i = 0; i < 3; i++)
			files.push_back(x->dir + "/png/00000" + std::to_string(i) + ".png");
	files.push_back(f.dir + "/png/000000.png");
	EXPECT_FALSE(exists(o.dir + "/png/000003.png"));
	EXPECT_FALSE(exists(f.dir + "/png/000001.png"));
	EXPECT_NE(slurp(o.dir + "/meta.json").find("\"png\": 3"), std::string::npos);
	std::string cmd = shq(cft::numpy_python()) + " " + shq(driver_path()) + " png";
	for (auto &p : files)
		cmd += " " + shq(p);
	std::string out;
	ASSERT_EQ(cft::run(cmd, &out), 0) << out;
	std::vector<std::string> res = lines_of(out);
	ASSERT_EQ(res.size(), files.size()) << out;
	bool some_red = false, some_blue = false;
	for (size_t i = 0; i < files.size(); i++) {
		SCOPED_TRACE(files[i] + ": " + res[i]);
		unsigned w = 0, h = 0, gray = 0, red = 0, blue = 0, marked = 0;
		ASSERT_EQ(sscanf(res[i].c_str(), "PNG %u %u gray=%u red=%u blue=%u marked=%u", &w, &h, &gray, &red, &blue,
		                 &marked),
		          6);
		if (i < 6) {
			EXPECT_EQ(w, 480u);
			EXPECT_EQ(h, 456u);
			EXPECT_GT(w, 32u);
		} else {
			EXPECT_EQ(w, 48u + 500 + 16);
			EXPECT_EQ(h, 12u + 500 + 28);
		}
		EXPECT_GT(marked, 0u); // the axes, ticks and at least one cell
		if (i < 3 || i == 6) {
			EXPECT_EQ(gray, 1u); // one channel: grey levels only
		} else {
			EXPECT_EQ(gray, 0u);
			some_red |= red > 0;
			some_blue |= blue > 0;
		}
	}
	EXPECT_TRUE(some_red && some_blue) << "2-channel previews draw up in red, down in blue";
}

// ================================================================== output options

// --shard-rows 2: flowpic-00000.npy with images 0-1 and flowpic-00001.npy with image 2
// (labels-0000K.npy alike), the same bytes as the single file; meta.json lists them.
TEST(FlowpicOutput, ShardRows)
{
	std::string cap = two_session_capture();
	Out one = flowpic("--label x", {cap});
	Out sh = flowpic("--label x --shard-rows 2", {cap});
	ASSERT_EQ(one.rc, 0) << one.log;
	ASSERT_EQ(sh.rc, 0) << sh.log;
	Npy all = read_npy(one.dir + "/flowpic.npy");
	Npy a = read_npy(sh.dir + "/flowpic-00000.npy"), b = read_npy(sh.dir + "/flowpic-00001.npy");
	ASSERT_EQ(all.err + a.err + b.err, "");
	EXPECT_EQ(a.shape, (std::vector<uint64_t>{2, 1, 1500, 1500}));
	EXPECT_EQ(b.shape, (std::vector<uint64_t>{1, 1, 1500, 1500}));
	std::vector<uint8_t> cat = a.data;
	cat.insert(cat.end(), b.data.begin(), b.data.end());
	EXPECT_TRUE(cat == all.data);
	EXPECT_FALSE(exists(sh.dir + "/flowpic-00002.npy"));
	EXPECT_TRUE(exists(sh.dir + "/labels-00001.npy"));
	EXPECT_EQ(slurp(sh.dir + "/index.csv"), slurp(one.dir + "/index.csv"));
	std::string meta = slurp(sh.dir + "/meta.json");
	EXPECT_NE(meta.find("flowpic-00001.npy\", \"rows\": 1}"), std::string::npos) << meta;
}

// ================================================================== errors

// A capture cut inside its last packet's data: exit 2, the message names the file and
// the byte offset of the cut record (its 16-byte header); the images of the packets before are written
// (and equal the oracle's, which also stops at the cut record).
TEST(FlowpicErrors, TruncatedCaptureKeepsImagesBefore)
{
	std::vector<Pk> p;
	for (int k = 0; k <= 32; k++)
		p.push_back(pk(T0 + k * 3750 * 1000000LL, IP_A, IP_C, 5000, 53, 17, k == 16 ? 777 : 200));
	p.push_back(pk(T0 + 121 * kSec, IP_A, IP_C, 5000, 53, 17, 1000));
	std::string full = tmp("_full.pcap");
	write_cap(full, p, false);
	std::vector<uint8_t> b = cft::read_file(full);
	size_t record_off = b.size() - (16 + 14 + 1000); // the cut record's header
	b.resize(b.size() - 500);
	std::string cap = tmp("_cut.pcap");
	cft::write_file(cap, b);
	Out o = flowpic("", {cap});
	EXPECT_EQ(o.rc, 2) << o.log;
	EXPECT_NE(o.log.find(cap.substr(cap.rfind('/') + 1)), std::string::npos) << o.log;
	EXPECT_NE(o.log.find("byte offset " + std::to_string(record_off)), std::string::npos) << o.log;
	auto rows = index_rows(o.dir);
	ASSERT_EQ(rows.size(), 2u);
	Npy n = read_npy(o.dir + "/flowpic.npy");
	ASSERT_EQ(n.err, "");
	EXPECT_EQ(n.px(0, 0, 777, 1499), 1);
	EXPECT_EQ(n.px(1, 0, 777, 0), 1);
	EXPECT_TRUE(exists(o.dir + "/meta.json"));
	NEED_ORACLE();
	auto r = run_jobs({{"", cap, o.dir, "oracle", "--preset official"}});
	EXPECT_EQ(r[0].compare(0, 2, "OK"), 0) << r[0];
}

// A missing file, or one that is not a capture: exit 2, named in the message; the other
// captures are still processed.
TEST(FlowpicErrors, MissingOrNonCaptureFile)
{
	std::string missing = tmp("_missing.pcap");
	Out m = flowpic("", {missing});
	EXPECT_EQ(m.rc, 2) << m.log;
	EXPECT_NE(m.log.find(missing.substr(missing.rfind('/') + 1)), std::string::npos) << m.log;
	std::string text = tmp("_text.pcap");
	std::string t(200, 'x');
	cft::write_file(text, std::vector<uint8_t>(t.begin(), t.end()));
	Out x = flowpic("", {text, two_session_capture(), missing});
	EXPECT_EQ(x.rc, 2) << x.log;
	EXPECT_NE(x.log.find(text.substr(text.rfind('/') + 1)), std::string::npos) << x.log;
	EXPECT_EQ(index_rows(x.dir).size(), 3u);
}

TEST(FlowpicErrors, BadOptionValuesExit1)
{
	std::string cap = two_session_capture();
	const char *bad[] = {
		"--preset large", "--resolution 0", "--resolution 4097", "--resolution 1.5", "--resolution x",
		"--window 0", "--window -60", "--step -1", "--step abc", "--time-axis linear", "--anchor middle",
		"--oversize wrap", "--size-bins log", "--value float", "--direction sideways", "--min-packets -1",
		"--min-packets 1e10", "--min-span fifty", "--size wire", "--sessions tri", "--idle-timeout 0",
		"--sessions bidir --idle-timeout -5", "--time float", "--max-windows -2", "--png -1", "--shard-rows 0",
		"--no-such-option", "--backend quantum",
	};
	for (const char *a : bad) {
		Out o = flowpic(a, {cap});
		EXPECT_EQ(o.rc, 1) << a << "\n" << o.log;
		EXPECT_FALSE(exists(o.dir + "/meta.json")) << a;
	}
	// no capture, no output
	std::string log;
	EXPECT_EQ(cft::run(shq(cft::cuflow_bin()) + " flowpic -o " + shq(fresh_dir()), &log), 1) << log;
	EXPECT_EQ(cft::run(shq(cft::cuflow_bin()) + " flowpic " + shq(cap), &log), 1) << log;
	// an output directory that cannot be created
	EXPECT_EQ(cft::run(shq(cft::cuflow_bin()) + " flowpic -q " + shq(cap) + " -o " + shq(cap + "/sub"), &log), 1) << log;
}

// down, both and 2ch select directions of bidirectional sessions: refused (exit 1, with
// a message) for the unidirectional ones, accepted with --sessions bidir.
TEST(FlowpicErrors, DirectionNeedsBidirSessions)
{
	std::string cap = two_session_capture();
	for (const char *d : {"down", "2ch", "both"}) {
		Out o = flowpic(std::string("--direction ") + d, {cap});
		EXPECT_EQ(o.rc, 1) << o.log;
		EXPECT_NE(o.log.find("bidirectional"), std::string::npos) << o.log;
		Out b = flowpic(std::string("--sessions bidir --direction ") + d, {cap});
		EXPECT_EQ(b.rc, 0) << b.log;
	}
	Out u = flowpic("--direction up", {cap});
	EXPECT_EQ(u.rc, 0) << u.log;
}

// ================================================================== memory

// Runs argv (no shell) with stdout/stderr to log; returns the exit status and the
// child's own peak RSS in KiB (wait4, so earlier children such as the python oracle do
// not count).
int run_rss(const std::vector<std::string> &argv, const std::string &log, long *maxrss_kb)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		std::vector<char *> a;
		for (const std::string &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execv(a[0], a.data());
		_exit(127);
	}
	int st = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid)
		return -1;
	*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// 3000 sessions of 12 packets over 55 s: 3000 official 1500 x 1500 uint16 images, 13.5 GB
// of pixels. Images live only in the current batch (flowpic.h: about 64 MiB), so the
// peak RSS stays far below that (about 60 MB measured); 150 MB is the bound. The pixels
// are not kept: DIR/flowpic.npy is a symlink to /dev/null, which the npy writer opens,
// writes and pwrite()s like a file; index.csv and meta.json are real files. (The pixel
// values themselves are checked by the tests above.)
TEST(FlowpicMemory, ThousandsOfOfficialImagesInBoundedMemory)
{
	const int kSessions = 3000;
	std::vector<Pk> p;
	p.reserve(kSessions * 12);
	for (int i = 0; i <= 11; i++)
		for (int s = 0; s < kSessions; s++)
			p.push_back(pk(T0 + i * 5 * kSec + s * 1000, 0x0a000000u + (uint32_t)s, IP_B, (uint16_t)(1024 + s), 53, 17,
			               40 + (uint32_t)((s + i) % 60)));
	std::string cap = tmp("_many.pcap");
	write_cap(cap, p, false);
	std::string dir = fresh_dir();
	ASSERT_EQ(symlink("/dev/null", (dir + "/flowpic.npy").c_str()), 0);
	long kb = 0;
	std::string log = tmp("_many.log");
	int rc = run_rss({cft::cuflow_bin(), "flowpic", "-q", "--preset", "official", cap, "-o", dir}, log, &kb);
	ASSERT_EQ(rc, 0) << slurp(log);
	EXPECT_EQ(index_rows(dir).size(), (size_t)kSessions);
	std::string meta = slurp(dir + "/meta.json");
	EXPECT_NE(meta.find("\"shape\": [3000, 1, 1500, 1500]"), std::string::npos) << meta;
	EXPECT_NE(meta.find("\"images\": 3000"), std::string::npos) << meta;
	printf("peak RSS %ld KiB for %d images (%.1f GB of pixels)\n", kb, kSessions, kSessions * 4.5e-3);
	EXPECT_GT(kb, 0);
	EXPECT_LT(kb, 150 * 1024) << "peak RSS " << kb << " KiB";
	remove(cap.c_str());
}

} // namespace

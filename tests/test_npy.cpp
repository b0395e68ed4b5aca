// The streaming .npy writer: files written here are loaded by numpy (the
// independent oracle) and compared with values both sides compute from the
// same formula; headers, sharding, argument and I/O errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "cuflow/cuflow.h"
#include "cuflow/npy.h"
#include "test_util.h"

namespace {

#define SKIP_WITHOUT_NUMPY()                                           \
	do {                                                               \
		if (cft::numpy_python().empty())                                    \
			GTEST_SKIP() << "python3 with numpy not installed";        \
	} while (0)

// Element j of row i (global row index, flat index inside the row).
// Floats: i*0.5 - j*0.25 (exact in float32 for the sizes here). Integers:
// a 64-bit mix of i and j truncated to the type (two's complement), so
// every byte of wide types and negative values are covered.
const uint64_t K1 = 0x9E3779B97F4A7C15ull, K2 = 0xBF58476D1CE4E5B9ull;
uint64_t int_value(uint64_t i, uint64_t j) { return (i + 1) * K1 + j * K2; }

void put_value(int dtype, uint64_t i, uint64_t j, unsigned char *dst)
{
	double d = (double)i * 0.5 - (double)j * 0.25;
	uint64_t x = int_value(i, j);
	switch (dtype) {
	case CF_NPY_F4: { float f = (float)d; memcpy(dst, &f, 4); break; }
	case CF_NPY_F8: memcpy(dst, &d, 8); break;
	case CF_NPY_I1: case CF_NPY_U1: { uint8_t v = (uint8_t)x; memcpy(dst, &v, 1); break; }
	case CF_NPY_I2: case CF_NPY_U2: { uint16_t v = (uint16_t)x; memcpy(dst, &v, 2); break; }
	case CF_NPY_I4: case CF_NPY_U4: { uint32_t v = (uint32_t)x; memcpy(dst, &v, 4); break; }
	default: memcpy(dst, &x, 8); break;
	}
}

const char *kOracle = R"PY(
import sys
import numpy as np

K1, K2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9

def expected(descr, first, n, row_shape):
    r = int(np.prod(row_shape, dtype=np.int64)) if row_shape else 1
    i = np.arange(first, first + n, dtype=np.uint64)[:, None]
    j = np.arange(r, dtype=np.uint64)[None, :]
    if descr[1] == 'f':
        v = i.astype(np.float64) * 0.5 - j.astype(np.float64) * 0.25
    else:
        v = (i + np.uint64(1)) * np.uint64(K1) + j * np.uint64(K2)
    return v.astype(np.dtype(descr)).reshape((n,) + row_shape)

bad = 0
for line in open(sys.argv[1]):
    path, descr, first, n, shape = line.split()
    first, n = int(first), int(n)
    row_shape = tuple(int(x) for x in shape.split(',') if x) if shape != '-' else ()
    with open(path, 'rb') as f:
        head = f.read(10)
        hlen = head[8] | head[9] << 8
        ok_head = head[:8] == b'\x93NUMPY\x01\x00' and (10 + hlen) % 64 == 0
        text = f.read(hlen)
        ok_head = ok_head and text.endswith(b'\n')
    for mmap in (None, 'r'):
        a = np.load(path, mmap_mode=mmap, allow_pickle=False)
        e = expected(descr, first, n, row_shape)
        problems = []
        if not ok_head:
            problems.append('bad header bytes %r' % (head + text))
        if a.dtype.str != descr:
            problems.append('dtype %s, expected %s' % (a.dtype.str, descr))
        if a.shape != (n,) + row_shape:
            problems.append('shape %s, expected %s' % (a.shape, (n,) + row_shape))
        elif not np.array_equal(a, e):
            problems.append('values differ (first rows %r vs %r)' % (a[:2], e[:2]))
        if not a.flags.c_contiguous:
            problems.append('not C order')
        if problems:
            bad += 1
            print('%s: %s' % (path, '; '.join(problems)))
            break
    else:
        print('%s: ok %s %s' % (path, descr, a.shape))
sys.exit(1 if bad else 0)
)PY";

struct Case {
	std::string name;
	int dtype;
	std::vector<uint64_t> row_shape;
	uint64_t rows;
	uint64_t shard_rows;
	std::vector<uint64_t> expect_file_rows;  // rows per file the writer must report
	bool suffix = true;                       // path ends in ".npy"
};

// Writes one case with appends of varying sizes (1, 7, 0, 300, 4096, ...)
// and checks what the writer reports; appends the files to the manifest.
void write_case(const Case &c, const std::string &dir, std::string *manifest)
{
	SCOPED_TRACE(c.name);
	size_t esize = cf_npy_dtype_size(c.dtype);
	uint64_t per_row = 1;
	for (uint64_t d : c.row_shape)
		per_row *= d;
	size_t row_bytes = esize * per_row;
	std::vector<unsigned char> all(row_bytes * c.rows + 1);
	for (uint64_t i = 0; i < c.rows; i++)
		for (uint64_t j = 0; j < per_row; j++)
			put_value(c.dtype, i, j, &all[(i * per_row + j) * esize]);

	std::string path = dir + "/" + c.name + (c.suffix ? ".npy" : "");
	char err[CF_ERRBUF_SIZE] = "";
	cf_npy_writer *w = nullptr;
	ASSERT_EQ(cf_npy_writer_open(path.c_str(), c.dtype, (int)c.row_shape.size(),
	                             c.row_shape.empty() ? nullptr : c.row_shape.data(), c.shard_rows, &w, err),
	          CF_OK)
		<< err;
	ASSERT_NE(w, nullptr);
	EXPECT_EQ(cf_npy_writer_files(w), 1u);  // created at open
	const uint64_t chunks[] = {1, 7, 0, 300, 4096, 2, 20000};
	uint64_t done = 0;
	for (size_t k = 0; done < c.rows; k++) {
		uint64_t n = std::min<uint64_t>(chunks[k % 7], c.rows - done);
		ASSERT_EQ(cf_npy_writer_append(w, &all[done * row_bytes], n), CF_OK) << cf_npy_writer_error(w);
		done += n;
		ASSERT_EQ(cf_npy_writer_rows(w), done);
	}
	ASSERT_EQ(cf_npy_writer_files(w), c.expect_file_rows.size());
	std::vector<std::string> paths;
	uint64_t first = 0;
	for (uint32_t f = 0; f < cf_npy_writer_files(w); f++) {
		std::string p = cf_npy_writer_file_path(w, f);
		std::string want = path;
		if (c.shard_rows) {
			char sfx[32];
			snprintf(sfx, sizeof sfx, "-%05u.npy", f);
			want = (c.suffix ? path.substr(0, path.size() - 4) : path) + sfx;
		}
		EXPECT_EQ(p, want);
		EXPECT_EQ(cf_npy_writer_file_rows(w, f), c.expect_file_rows[f]);
		paths.push_back(p);
		std::string shape;
		for (uint64_t d : c.row_shape)
			shape += std::to_string(d) + ",";
		*manifest += p + " " + cf_npy_dtype_descr(c.dtype) + " " + std::to_string(first) + " " +
		             std::to_string(c.expect_file_rows[f]) + " " + (shape.empty() ? "-" : shape) + "\n";
		first += c.expect_file_rows[f];
	}
	EXPECT_EQ(cf_npy_writer_file_path(w, cf_npy_writer_files(w)), nullptr);
	EXPECT_STREQ(cf_npy_writer_error(w), "");
	ASSERT_EQ(cf_npy_writer_close(w, err), CF_OK) << err;

	// Bytes on disk: 64-aligned header, then exactly the data.
	first = 0;
	for (size_t f = 0; f < paths.size(); f++) {
		auto bytes = cft::read_file(paths[f]);
		ASSERT_GE(bytes.size(), 10u);
		EXPECT_EQ(0, memcmp(bytes.data(), "\x93NUMPY\x01\x00", 8));
		size_t hdr = 10 + (bytes[8] | bytes[9] << 8);
		EXPECT_EQ(hdr % 64, 0u);
		EXPECT_EQ(bytes[hdr - 1], '\n');
		ASSERT_EQ(bytes.size(), hdr + c.expect_file_rows[f] * row_bytes) << paths[f];
		EXPECT_EQ(0, memcmp(&bytes[hdr], &all[first * row_bytes], c.expect_file_rows[f] * row_bytes));
		first += c.expect_file_rows[f];
	}
	// No file past the last one (no empty trailing shard).
	if (c.shard_rows) {
		char sfx[32];
		snprintf(sfx, sizeof sfx, "-%05zu.npy", paths.size());
		std::string next = (c.suffix ? path.substr(0, path.size() - 4) : path) + sfx;
		EXPECT_NE(access(next.c_str(), F_OK), 0) << next << " should not exist";
	}
}

std::string fresh_dir()
{
	std::string d = cft::temp_path("_npy");
	mkdir(d.c_str(), 0755);
	return d;
}

// Runs the oracle on a manifest; expects every file to match.
void check_with_numpy(const std::string &dir, const std::string &manifest)
{
	std::string script = dir + "/oracle.py", list = dir + "/manifest.txt";
	cft::write_file(script, std::vector<uint8_t>(kOracle, kOracle + strlen(kOracle)));
	cft::write_file(list, std::vector<uint8_t>(manifest.begin(), manifest.end()));
	std::string out;
	int rc = cft::run(cft::shq(cft::numpy_python()) + " " + cft::shq(script) + " " + cft::shq(list), &out);
	printf("%s", out.c_str());
	EXPECT_EQ(rc, 0) << "numpy disagrees (output above)";
	// Every manifest line was checked.
	size_t lines = 0, oks = 0;
	for (char ch : manifest)
		lines += ch == '\n';
	for (size_t p = 0; (p = out.find(": ok ", p)) != std::string::npos; p++)
		oks++;
	EXPECT_EQ(oks, lines) << "files checked by numpy";
}

} // namespace

TEST(Npy, DtypeTable)
{
	const struct { int t; size_t size; const char *descr; } want[] = {
		{CF_NPY_F4, 4, "<f4"}, {CF_NPY_F8, 8, "<f8"}, {CF_NPY_I1, 1, "|i1"}, {CF_NPY_U1, 1, "|u1"},
		{CF_NPY_I2, 2, "<i2"}, {CF_NPY_U2, 2, "<u2"}, {CF_NPY_I4, 4, "<i4"}, {CF_NPY_U4, 4, "<u4"},
		{CF_NPY_I8, 8, "<i8"}, {CF_NPY_U8, 8, "<u8"},
	};
	for (auto &d : want) {
		EXPECT_EQ(cf_npy_dtype_size(d.t), d.size);
		EXPECT_STREQ(cf_npy_dtype_descr(d.t), d.descr);
	}
	EXPECT_EQ(cf_npy_dtype_size(-1), 0u);
	EXPECT_EQ(cf_npy_dtype_size(CF_NPY_DTYPE_COUNT), 0u);
	EXPECT_EQ(cf_npy_dtype_descr(CF_NPY_DTYPE_COUNT), nullptr);
}

TEST(Npy, AllDtypesAndShapesLoadInNumpy)
{
	SKIP_WITHOUT_NUMPY();
	std::string dir = fresh_dir(), manifest;
	const std::vector<Case> cases = {
		{"f4_matrix", CF_NPY_F4, {7}, 1000, 0, {1000}},
		{"f8_vector", CF_NPY_F8, {}, 123, 0, {123}},
		{"f4_seq", CF_NPY_F4, {30, 3}, 5000, 0, {5000}},  // 1.8 MB: buffer flushes and direct writes
		{"f8_seq", CF_NPY_F8, {2, 3, 4}, 77, 0, {77}},
		{"i1", CF_NPY_I1, {5}, 300, 0, {300}},
		{"u1_vector", CF_NPY_U1, {}, 1000, 0, {1000}},
		{"i2", CF_NPY_I2, {2, 3}, 101, 0, {101}},
		{"u2", CF_NPY_U2, {4}, 99, 0, {99}},
		{"i4", CF_NPY_I4, {3}, 500, 0, {500}},
		{"u4", CF_NPY_U4, {1}, 64, 0, {64}},
		{"i8", CF_NPY_I8, {2}, 333, 0, {333}},
		{"u8_vector", CF_NPY_U8, {}, 257, 0, {257}},
		{"empty_row_dim", CF_NPY_F4, {0}, 10, 0, {10}},
	};
	for (auto &c : cases)
		write_case(c, dir, &manifest);
	check_with_numpy(dir, manifest);
}

TEST(Npy, ZeroRowsGiveValidEmptyArrays)
{
	SKIP_WITHOUT_NUMPY();
	std::string dir = fresh_dir(), manifest;
	const std::vector<Case> cases = {
		{"zero_matrix", CF_NPY_F4, {7}, 0, 0, {0}},
		{"zero_vector", CF_NPY_U8, {}, 0, 0, {0}},
		{"zero_seq", CF_NPY_I2, {30, 3}, 0, 0, {0}},
		{"zero_sharded", CF_NPY_F4, {7}, 0, 100, {0}},  // one empty shard, -00000.npy
	};
	for (auto &c : cases)
		write_case(c, dir, &manifest);
	check_with_numpy(dir, manifest);
}

TEST(Npy, ShardsSplitRowsWithoutEmptyTrailingFile)
{
	SKIP_WITHOUT_NUMPY();
	std::string dir = fresh_dir(), manifest;
	Case nosuffix{"nosuffix", CF_NPY_U2, {3}, 25, 10, {10, 10, 5}};
	nosuffix.suffix = false;
	const std::vector<Case> cases = {
		{"exact", CF_NPY_I4, {4}, 300, 100, {100, 100, 100}},
		{"remainder", CF_NPY_F4, {30, 3}, 250, 100, {100, 100, 50}},
		{"one_per_file", CF_NPY_U1, {}, 5, 1, {1, 1, 1, 1, 1}},
		{"big_shards", CF_NPY_F8, {7}, 50000, 20000, {20000, 20000, 10000}},  // 2.8 MB
		{"single_shard", CF_NPY_I8, {}, 40, 100, {40}},
		nosuffix,
	};
	for (auto &c : cases)
		write_case(c, dir, &manifest);
	check_with_numpy(dir, manifest);
}

TEST(Npy, HeaderIsRewrittenInPlace)
{
	// The header has the same size before and after close, and says 0 rows
	// while the file is being written (a crashed run leaves a loadable file).
	std::string path = fresh_dir() + "/inplace.npy";
	uint64_t shape[1] = {7};
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 1, shape, 0, &w, err), CF_OK) << err;
	auto before = cft::read_file(path);
	ASSERT_EQ(before.size() % 64, 0u);
	std::string head(before.begin() + 10, before.end());
	EXPECT_NE(head.find("'shape': (0, 7), }"), std::string::npos) << head;
	EXPECT_NE(head.find("'descr': '<f4', 'fortran_order': False"), std::string::npos) << head;
	std::vector<float> rows(7 * 3, 1.5f);
	ASSERT_EQ(cf_npy_writer_append(w, rows.data(), 3), CF_OK);
	ASSERT_EQ(cf_npy_writer_close(w, err), CF_OK) << err;
	auto after = cft::read_file(path);
	ASSERT_EQ(after.size(), before.size() + rows.size() * 4);
	EXPECT_EQ(after[8] | after[9] << 8, before[8] | before[9] << 8);
	std::string head2(after.begin() + 10, after.begin() + before.size());
	EXPECT_NE(head2.find("'shape': (3, 7), }"), std::string::npos) << head2;
	// Room for the largest row count: the header must hold 20 digits.
	size_t pad = head2.size() - head2.find("}") - 1;
	EXPECT_GE(pad, 20u - 1u);
}

TEST(Npy, MostlyZeroRowsReadBackExactlyWithHoles)
{
	// Large appends skip all-zero 4 KiB blocks of the file (holes). What is
	// read back must be exactly what was appended: non-zero bytes on and
	// next to block edges, a row ending in zeros (the file ends in a hole),
	// small buffered appends before and after, and a row of zeros only.
	std::string path = fresh_dir() + "/sparse.npy";
	const uint64_t W = 1500 * 1500; // uint16 row: 4.5 MB, not a block multiple
	uint64_t shape[1] = {W};
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_U2, 1, shape, 0, &w, err), CF_OK) << err;
	std::vector<std::vector<uint16_t>> rows(4, std::vector<uint16_t>(W, 0));
	for (uint64_t k : std::vector<uint64_t>{0, 1, 2047, 2048, 4095, 100000, W / 2, W - 1})
		rows[0][k] = (uint16_t)(k + 1);
	for (uint64_t k = 0; k < W; k += 4099)
		rows[1][k] = 7;
	rows[2][W / 3] = 9; // ends with ~3 MB of zeros
	// rows[3]: all zero
	for (auto &r : rows)
		ASSERT_EQ(cf_npy_writer_append(w, r.data(), 1), CF_OK);
	ASSERT_EQ(cf_npy_writer_close(w, err), CF_OK) << err;
	auto bytes = cft::read_file(path);
	size_t hdr = bytes.size() - rows.size() * W * 2;
	ASSERT_EQ(bytes.size(), hdr + rows.size() * W * 2);
	for (size_t i = 0; i < rows.size(); i++)
		EXPECT_EQ(memcmp(bytes.data() + hdr + i * W * 2, rows[i].data(), W * 2), 0) << "row " << i;
	struct stat st;
	ASSERT_EQ(stat(path.c_str(), &st), 0);
	printf("%lld bytes in %lld blocks of 512\n", (long long)st.st_size, (long long)st.st_blocks);
}

TEST(Npy, SparseAppendWritesTheSameFileAsDense)
{
	// Rows zero but for listed elements: the file must be byte for byte the
	// one a plain append writes, with small rows between, across shards,
	// with elements on block edges, at the ends, and rows with none.
	const uint64_t W = 1500 * 1500;
	uint64_t shape[1] = {W};
	std::vector<std::vector<uint16_t>> rows;
	std::vector<std::vector<uint64_t>> nz;
	for (int r = 0; r < 5; r++) {
		std::vector<uint16_t> v(W, 0);
		std::vector<uint64_t> idx;
		if (r == 0)
			idx = {0, 2047, 2048, 4095, W - 1};
		else if (r == 1)
			for (uint64_t k = 7; k < W; k += 9973)
				idx.push_back(k);
		else if (r == 2)
			idx = {W / 2};
		// r == 3: none; r == 4: the first element only
		else if (r == 4)
			idx = {0};
		for (uint64_t k : idx)
			v[k] = (uint16_t)(k % 65521 + 1);
		rows.push_back(v);
		nz.push_back(idx);
	}
	for (uint64_t shard : {0ull, 2ull}) {
		std::string dir = fresh_dir(), a = dir + "/dense.npy", b = dir + "/sparse.npy";
		cf_npy_writer *wa = nullptr, *wb = nullptr;
		char err[CF_ERRBUF_SIZE];
		ASSERT_EQ(cf_npy_writer_open(a.c_str(), CF_NPY_U2, 1, shape, shard, &wa, err), CF_OK) << err;
		ASSERT_EQ(cf_npy_writer_open(b.c_str(), CF_NPY_U2, 1, shape, shard, &wb, err), CF_OK) << err;
		for (size_t r = 0; r < rows.size(); r++) {
			ASSERT_EQ(cf_npy_writer_append(wa, rows[r].data(), 1), CF_OK);
			ASSERT_EQ(cf_npy_writer_append_sparse(wb, rows[r].data(), 1, nz[r].data(), nz[r].size()), CF_OK);
		}
		EXPECT_EQ(cf_npy_writer_files(wa), cf_npy_writer_files(wb));
		std::vector<std::string> fa, fb;
		for (uint32_t i = 0; i < cf_npy_writer_files(wa); i++) {
			fa.push_back(cf_npy_writer_file_path(wa, i));
			fb.push_back(cf_npy_writer_file_path(wb, i));
		}
		ASSERT_EQ(cf_npy_writer_close(wa, err), CF_OK) << err;
		ASSERT_EQ(cf_npy_writer_close(wb, err), CF_OK) << err;
		for (size_t i = 0; i < fa.size(); i++) {
			auto x = cft::read_file(fa[i]), y = cft::read_file(fb[i]);
			EXPECT_EQ(x.size(), y.size()) << "shard " << shard << " file " << i;
			EXPECT_TRUE(x == y) << "shard " << shard << " file " << i;
		}
	}
	// indices out of order or past the rows are refused
	std::string path = fresh_dir() + "/bad.npy";
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_U2, 1, shape, 0, &w, err), CF_OK) << err;
	uint64_t bad1[2] = {5, 3}, bad2[1] = {W};
	EXPECT_EQ(cf_npy_writer_append_sparse(w, rows[0].data(), 1, bad1, 2), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_append_sparse(w, rows[0].data(), 1, bad2, 1), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_close(w, err), CF_OK) << err;
}

TEST(Npy, OpenInMissingDirectoryFailsWithPath)
{
	std::string path = cft::env("CUFLOW_TMP", "/tmp") + "/no/such/dir/x.npy";
	uint64_t shape[1] = {7};
	cf_npy_writer *w = reinterpret_cast<cf_npy_writer *>(1);
	char err[CF_ERRBUF_SIZE] = "";
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 1, shape, 0, &w, err), CF_ERR_IO);
	EXPECT_EQ(w, nullptr);
	EXPECT_NE(std::string(err).find(path), std::string::npos) << err;
	// Sharded: the message names the shard file.
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 1, shape, 10, &w, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find("/no/such/dir/x-00000.npy"), std::string::npos) << err;
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 1, shape, 0, &w, nullptr), CF_ERR_IO);
}

TEST(Npy, BadArgumentsAreRejected)
{
	std::string path = fresh_dir() + "/args.npy";
	uint64_t shape[4] = {2, 3, 4, 5};
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE];
	EXPECT_EQ(cf_npy_writer_open(nullptr, CF_NPY_F4, 1, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open("", CF_NPY_F4, 1, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 1, shape, 0, nullptr, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), 99, 1, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), -1, 1, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 4, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, -1, shape, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 2, nullptr, 0, &w, err), CF_ERR_ARG);
	uint64_t huge[3] = {UINT64_MAX / 2, 4, 1};
	EXPECT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F8, 3, huge, 0, &w, err), CF_ERR_ARG);
	EXPECT_EQ(w, nullptr);
	EXPECT_EQ(access(path.c_str(), F_OK), -1);  // nothing created

	ASSERT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_F4, 3, shape, 0, &w, err), CF_OK) << err;
	EXPECT_EQ(cf_npy_writer_append(w, nullptr, 1), CF_ERR_ARG);
	EXPECT_STRNE(cf_npy_writer_error(w), "");
	EXPECT_EQ(cf_npy_writer_append(w, nullptr, 0), CF_OK);
	EXPECT_EQ(cf_npy_writer_append(w, shape, UINT64_MAX / 8), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_rows(w), 0u);
	EXPECT_EQ(cf_npy_writer_close(w, err), CF_OK) << err;  // argument errors do not stick

	EXPECT_EQ(cf_npy_writer_append(nullptr, shape, 1), CF_ERR_ARG);
	EXPECT_EQ(cf_npy_writer_rows(nullptr), 0u);
	EXPECT_EQ(cf_npy_writer_files(nullptr), 0u);
	EXPECT_EQ(cf_npy_writer_file_path(nullptr, 0), nullptr);
	EXPECT_EQ(cf_npy_writer_file_rows(nullptr, 0), 0u);
	EXPECT_STREQ(cf_npy_writer_error(nullptr), "");
	EXPECT_EQ(cf_npy_writer_close(nullptr, err), CF_OK);
}

TEST(Npy, DiskFullAtOpenIsAnIoError)
{
	if (access("/dev/full", W_OK) != 0)
		GTEST_SKIP() << "no /dev/full";
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	EXPECT_EQ(cf_npy_writer_open("/dev/full", CF_NPY_U1, 0, nullptr, 0, &w, err), CF_ERR_IO);
	EXPECT_EQ(w, nullptr);
	EXPECT_NE(std::string(err).find("/dev/full"), std::string::npos) << err;
}

TEST(Npy, DiskFullInALaterShardSticks)
{
	if (access("/dev/full", W_OK) != 0)
		GTEST_SKIP() << "no /dev/full";
	std::string dir = fresh_dir(), path = dir + "/full.npy";
	ASSERT_EQ(symlink("/dev/full", (dir + "/full-00001.npy").c_str()), 0);
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_npy_writer_open(path.c_str(), CF_NPY_U4, 0, nullptr, 4, &w, err), CF_OK) << err;
	uint32_t v[10] = {0};
	EXPECT_EQ(cf_npy_writer_append(w, v, 4), CF_OK);
	EXPECT_EQ(cf_npy_writer_append(w, v, 3), CF_ERR_IO);  // starting shard 1 fails
	EXPECT_NE(std::string(cf_npy_writer_error(w)).find("full-00001.npy"), std::string::npos)
		<< cf_npy_writer_error(w);
	EXPECT_EQ(cf_npy_writer_append(w, v, 1), CF_ERR_IO);  // sticks
	EXPECT_EQ(cf_npy_writer_close(w, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find("full-00001.npy"), std::string::npos) << err;
	// Shard 0 was finished properly before the failure.
	auto bytes = cft::read_file(dir + "/full-00000.npy");
	ASSERT_GE(bytes.size(), 64u);
	EXPECT_EQ(bytes.size(), 10 + (size_t)(bytes[8] | bytes[9] << 8) + 16);
	EXPECT_NE(std::string(bytes.begin(), bytes.begin() + 64).find("(4,)"), std::string::npos);
}

// Child side of WriteFailureMidStreamIsReportedWithFileName: prints the
// messages to stderr, exits 0 when every call failed as it should.
[[noreturn]] static void fsize_limited_child(const std::string &path)
{
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = {300000, 300000};
	setrlimit(RLIMIT_FSIZE, &rl);
	cf_npy_writer *w = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	uint64_t shape[2] = {30, 3};
	if (cf_npy_writer_open(path.c_str(), CF_NPY_F4, 2, shape, 0, &w, err) != CF_OK)
		_exit(10);
	std::vector<float> rows(30 * 3 * 100, 2.0f);  // 36 kB per append: the buffered path
	int rc = CF_OK;
	for (int k = 0; k < 100 && rc == CF_OK; k++)
		rc = cf_npy_writer_append(w, rows.data(), 100);
	if (rc != CF_ERR_IO)
		_exit(11);
	fprintf(stderr, "append: %s\n", cf_npy_writer_error(w));
	if (cf_npy_writer_append(w, rows.data(), 1) != CF_ERR_IO)
		_exit(12);
	if (cf_npy_writer_close(w, err) != CF_ERR_IO)
		_exit(13);
	fprintf(stderr, "close: %s\n", err);
	// The direct path: one append larger than the buffer.
	std::vector<float> big(30 * 3 * 4000, 1.0f);
	if (cf_npy_writer_open(path.c_str(), CF_NPY_F4, 2, shape, 0, &w, err) != CF_OK)
		_exit(14);
	if (cf_npy_writer_append(w, big.data(), 4000) != CF_ERR_IO)
		_exit(15);
	fprintf(stderr, "direct: %s\n", cf_npy_writer_error(w));
	cf_npy_writer_close(w, nullptr);
	_exit(0);
}

TEST(Npy, WriteFailureMidStreamIsReportedWithFileName)
{
	// A file size limit makes write() fail (EFBIG) after some data: both
	// write paths must report it with the file name, not crash. In a child
	// process, so the limit does not leak into other tests.
	std::string path = fresh_dir() + "/fsize_limited.npy";
	EXPECT_EXIT(fsize_limited_child(path), ::testing::ExitedWithCode(0),
	            "append: npy: cannot write .*fsize_limited.npy: File too large\n"
	            "close: npy: cannot write .*fsize_limited.npy: File too large\n"
	            "direct: npy: cannot write .*fsize_limited.npy: File too large");
}

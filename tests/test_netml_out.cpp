// The netml output directory as a library call (cuflow/netml_out.h):
// cf_netml_write_dir, driven from C++ with cf_netml_write_opts_set taking
// the command's option names, writes the same files, byte for byte, as
// `cuflow netml` with those options on the same capture (every format:
// npy, csv, parquet; labels; fft, header; netml options), and reports bad
// options and misuse with a status and a message instead of printing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using Opts = std::vector<std::pair<std::string, std::string>>; // name, value ("" for a flag)

// A synthetic capture (written once): TCP and UDP, IPv4 and IPv6.
const std::string &capture()
{
	static std::string path;
	if (path.empty()) {
		path = cft::temp_path("-netml-out.pcap");
		cf_synth_opts o;
		cf_synth_opts_default(&o);
		o.path = path.c_str();
		o.flows = 300;
		o.seed = 11;
		char err[CF_ERRBUF_SIZE];
		EXPECT_EQ(cf_synth_write(&o, nullptr, err), CF_OK) << err;
	}
	return path;
}

// `cuflow netml` with these options into dir; its exit status.
int run_cli(const Opts &opts, const std::string &dir, std::string *out)
{
	std::string cmd = cft::shq(cft::cuflow_bin()) + " netml -q --backend cpu";
	for (const auto &o : opts)
		cmd += " --" + o.first + (o.second.empty() ? "" : " " + cft::shq(o.second));
	return cft::run(cmd + " " + cft::shq(capture()) + " -o " + cft::shq(dir), out);
}

// The same through the library: scan, finish, label, cf_netml_write_dir.
int run_api(const Opts &opts, const std::string &dir, std::string *msg)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_netml_write_opts w;
	cf_netml_write_opts_default(&w);
	for (const auto &o : opts)
		if (cf_netml_write_opts_set(&w, o.first.c_str(), o.second.empty() ? nullptr : o.second.c_str(), err) !=
		    CF_OK) {
			*msg = err;
			return CF_ERR_ARG;
		}
	cf_backend *b = nullptr;
	cf_netml *h = nullptr;
	cf_scan_opts so{};
	cf_decode_opts_default(&so.decode);
	EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &b, err), CF_OK) << err;
	EXPECT_EQ(cf_netml_open(&w.netml, &h, err), CF_OK) << err;
	so.backend = b;
	cf_scan_result res;
	int st = cf_netml_scan_file(h, capture().c_str(), &so, &res);
	if (st == CF_OK)
		st = cf_netml_finish(h);
	if (st == CF_OK && w.label_file)
		st = cf_netml_label_csv(h, w.label_file, err);
	else if (st == CF_OK && w.have_label)
		cf_netml_label_constant(h, w.label);
	if (st == CF_OK) {
		w.capture = capture().c_str();
		w.summary = &res.summary;
		st = cf_netml_write_dir(h, b, dir.c_str(), &w, err);
	}
	*msg = st == CF_OK ? "" : err[0] ? err : cf_netml_error(h);
	cf_netml_close(h);
	cf_backend_close(b);
	return st;
}

std::vector<std::string> files_in(const std::string &dir)
{
	std::vector<std::string> names;
	for (const auto &e : fs::directory_iterator(dir))
		names.push_back(e.path().filename().string());
	std::sort(names.begin(), names.end());
	return names;
}

void expect_same_as_cli(const Opts &opts, const std::vector<std::string> &want_files)
{
	std::string a = cft::temp_path("-cli"), b = cft::temp_path("-api"), out;
	ASSERT_EQ(run_cli(opts, a, &out), 0) << out;
	ASSERT_EQ(run_api(opts, b, &out), CF_OK) << out;
	std::vector<std::string> fa = files_in(a), fb = files_in(b);
	EXPECT_EQ(fa, want_files);
	ASSERT_EQ(fa, fb);
	for (const auto &f : fa) {
		std::vector<uint8_t> x = cft::read_file(a + "/" + f), y = cft::read_file(b + "/" + f);
		EXPECT_FALSE(x.empty()) << f;
		EXPECT_TRUE(x == y) << f << " differs between the CLI and the library";
	}
}

TEST(NetmlOut, NpyAllTypesWithHeaderEqualsCli)
{
	expect_same_as_cli({{"type", "IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE"}, {"header", ""}},
	                   {"IAT.npy", "IAT_SIZE.npy", "SAMP_NUM.npy", "SAMP_SIZE.npy", "SIZE.npy", "STATS.npy",
	                    "meta.json", "subflows.csv"});
}

TEST(NetmlOut, FftTypeOrderAndNetmlOptionsEqualCli)
{
	// types in this order in meta.json; netml options through the setter
	expect_same_as_cli({{"type", "SAMP_SIZE,IAT"}, {"type", "IAT,STATS"}, {"fft", ""}, {"fixed", "all"},
	                    {"samp-width", "0.05"}, {"q-interval", "0.8"}, {"flow-pkts-thres", "3"}},
	                   {"IAT.npy", "SAMP_SIZE.npy", "STATS.npy", "meta.json", "subflows.csv"});
}

TEST(NetmlOut, CsvWithConstantLabelEqualsCli)
{
	expect_same_as_cli({{"type", "STATS,SIZE"}, {"format", "csv"}, {"label", "1"}, {"header", ""}},
	                   {"SIZE.csv", "STATS.csv", "labels.csv", "meta.json", "subflows.csv"});
}

TEST(NetmlOut, NpyLabelsAndDimEqualCli)
{
	expect_same_as_cli({{"type", "IAT_SIZE"}, {"label", "0"}, {"dim", "7"}},
	                   {"IAT_SIZE.npy", "labels.npy", "meta.json", "subflows.csv"});
}

// A CIC-IDS2017 label file made from some of the capture's subflows: the
// rest are dropped, labels.npy and meta.json's "labels" (the path) agree.
TEST(NetmlOut, LabelFileEqualsCli)
{
	std::string dir = cft::temp_path("-subflows"), out;
	ASSERT_EQ(run_cli({{"type", "IAT"}}, dir, &out), 0) << out;
	std::string csv = " Source IP, Destination IP, Source Port, Destination Port, Protocol, Label\n";
	std::vector<std::string> rows = cft::split(cft::slurp(dir + "/subflows.csv"), '\n');
	int n = 0;
	for (size_t i = 1; i < rows.size() && n < 40; i += 3) {
		std::vector<std::string> f = cft::split(rows[i], ',');
		if (f.size() < 5 || f[0].empty())
			continue;
		csv += f[0] + "," + f[1] + "," + f[2] + "," + f[3] + "," + f[4] + "," + (n++ % 2 ? "BENIGN" : "DoS") + "\n";
	}
	ASSERT_GT(n, 5);
	std::string path = cft::temp_path("-labels.csv");
	cft::write_file(path, std::vector<uint8_t>(csv.begin(), csv.end()));
	expect_same_as_cli({{"type", "STATS,SAMP_NUM"}, {"labels", path}},
	                   {"SAMP_NUM.npy", "STATS.npy", "labels.npy", "meta.json", "subflows.csv"});
	expect_same_as_cli({{"type", "SIZE"}, {"labels", path}, {"format", "parquet"}}, {"SIZE.parquet", "meta.json"});
}

TEST(NetmlOut, ParquetEqualsCli)
{
	expect_same_as_cli({{"type", "STATS,IAT"}, {"format", "parquet"}, {"label", "1"}, {"header", ""}},
	                   {"IAT.parquet", "STATS.parquet", "meta.json"});
}

// Bad values: a status and the message the command prints after "cuflow netml: ".
TEST(NetmlOut, SetterRejectsBadOptionsWithTheCommandsMessages)
{
	struct Case {
		const char *name, *value, *msg;
	} cases[] = {
	    {"type", "IAT,NOPE", "unknown type 'NOPE' (IAT, SIZE, IAT_SIZE, STATS, SAMP_NUM, SAMP_SIZE)"},
	    {"q-interval", "-1", "--q-interval needs a number >= 0, not '-1'"},
	    {"tcp-timeout", "x", "--tcp-timeout needs a number >= 0, not 'x'"},
	    {"flow-pkts-thres", "0", "--flow-pkts-thres needs an integer >= 1"},
	    {"dim", "1", "--dim takes 2 .. 8388608"},
	    {"label", "one", "--label needs an integer (netml: 0 normal, 1 abnormal)"},
	    {"fixed", "trailing,bogus", "unknown --fixed item 'bogus' (trailing, ipv6, all)"},
	    {"format", "jsonl", "--format is npy, csv or parquet"},
	    {"fft", "2", "--fft is 0 or 1, not '2'"},
	    {"no-such-option", "1", "netml: unknown option 'no-such-option'"},
	};
	for (const Case &c : cases) {
		cf_netml_write_opts w;
		cf_netml_write_opts_default(&w);
		char err[CF_ERRBUF_SIZE] = "";
		EXPECT_EQ(cf_netml_write_opts_set(&w, c.name, c.value, err), CF_ERR_ARG) << c.name;
		EXPECT_STREQ(err, c.msg);
		if (strcmp(c.name, "type") && strcmp(c.name, "no-such-option")) {
			std::string out;
			EXPECT_EQ(run_cli({{"type", "IAT"}, {c.name, c.value}}, cft::temp_path("-bad"), &out), 1);
			if (strcmp(c.name, "format") && strcmp(c.name, "fft")) {
				EXPECT_NE(out.find(std::string("cuflow netml: ") + c.msg), std::string::npos) << out;
			}
		}
	}
	cf_netml_write_opts w;
	cf_netml_write_opts_default(&w);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "type", "SIZE,FFT-IAT,SIZE", nullptr), CF_OK);
	ASSERT_EQ(w.ntypes, 2); // aliases accepted, repeats ignored, order kept
	EXPECT_EQ(w.types[0], CF_NETML_SIZE);
	EXPECT_EQ(w.types[1], CF_NETML_IAT);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "fixed", "ipv6", nullptr), CF_OK);
	EXPECT_TRUE(w.netml.ipv6_flows && !w.netml.keep_trailing);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "header", nullptr, nullptr), CF_OK);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "header", "0", nullptr), CF_OK);
	EXPECT_EQ(w.header, 0);
}

// Misuse of cf_netml_write_dir: CF_ERR_ARG with a message, nothing printed.
TEST(NetmlOut, WriteDirRejectsMisuse)
{
	char err[CF_ERRBUF_SIZE];
	cf_netml_opts no;
	cf_netml_opts_default(&no);
	cf_netml *h = nullptr;
	ASSERT_EQ(cf_netml_open(&no, &h, err), CF_OK);
	cf_netml_write_opts w;
	cf_netml_write_opts_default(&w);
	std::string dir = cft::temp_path("-misuse");
	EXPECT_EQ(cf_netml_write_dir(h, nullptr, dir.c_str(), &w, err), CF_ERR_ARG); // no types
	EXPECT_NE(std::string(err).find("types"), std::string::npos) << err;
	w.types[0] = CF_NETML_IAT;
	w.types[1] = CF_NETML_IAT;
	w.ntypes = 2;
	EXPECT_EQ(cf_netml_write_dir(h, nullptr, dir.c_str(), &w, err), CF_ERR_ARG); // a repeat
	w.ntypes = 1;
	w.format = 7;
	EXPECT_EQ(cf_netml_write_dir(h, nullptr, dir.c_str(), &w, err), CF_ERR_ARG);
	w.format = CF_NETML_OUT_NPY;
	EXPECT_EQ(cf_netml_write_dir(h, nullptr, dir.c_str(), &w, err), CF_ERR_ARG); // not finished
	EXPECT_NE(std::string(err).find("finish"), std::string::npos) << err;
	EXPECT_FALSE(cft::exists(dir)); // checked before anything is created
	EXPECT_EQ(cf_netml_write_dir(nullptr, nullptr, dir.c_str(), &w, nullptr), CF_ERR_ARG);
	cf_netml_close(h);
}

// The library's own rows written with a NULL backend (the CPU reference)
// equal the CLI's; meta.json says "cpu".
TEST(NetmlOut, NullBackendIsTheCpuReference)
{
	std::string a = cft::temp_path("-cli"), b = cft::temp_path("-null"), out;
	ASSERT_EQ(run_cli({{"type", "STATS"}}, a, &out), 0) << out;
	char err[CF_ERRBUF_SIZE];
	cf_netml_write_opts w;
	cf_netml_write_opts_default(&w);
	ASSERT_EQ(cf_netml_write_opts_set(&w, "type", "STATS", err), CF_OK);
	cf_netml *h = nullptr;
	ASSERT_EQ(cf_netml_open(&w.netml, &h, err), CF_OK);
	cf_backend *cpu = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &cpu, err), CF_OK);
	cf_scan_opts so{};
	cf_decode_opts_default(&so.decode);
	so.backend = cpu;
	cf_scan_result res;
	ASSERT_EQ(cf_netml_scan_file(h, capture().c_str(), &so, &res), CF_OK);
	ASSERT_EQ(cf_netml_finish(h), CF_OK);
	w.capture = capture().c_str();
	w.summary = &res.summary;
	ASSERT_EQ(cf_netml_write_dir(h, nullptr, b.c_str(), &w, err), CF_OK) << err;
	for (const char *f : {"STATS.npy", "subflows.csv", "meta.json"})
		EXPECT_TRUE(cft::read_file(a + "/" + f) == cft::read_file(b + "/" + f)) << f;
	cf_netml_close(h);
	cf_backend_close(cpu);
}

} // namespace

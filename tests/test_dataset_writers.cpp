// The dataset writers as library calls: cf_flowpic_writer
// (cuflow/flowpic_out.h) fed by cf_flowpic's emit callback, and
// cf_extract_writer (cuflow/extract_out.h) fed by the flow engine's, write
// the same files, byte for byte, as `cuflow flowpic` and `cuflow extract`
// (without --jobs) with the same options on the same captures: npy
// images and arrays, sharding, labels (rules CSV, constant), the CSV and
// Parquet indexes, PNG previews, meta.json and schema.json. Misuse comes
// back as a status and a message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cuflow/cuflow.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;

// Two synthetic captures (written once): micro- and nanosecond pcap.
const std::vector<std::string> &captures()
{
	static std::vector<std::string> paths;
	if (paths.empty()) {
		for (int i = 0; i < 2; i++) {
			std::string p = cft::temp_path(i ? "-writers-b.pcap" : "-writers-a.pcap");
			cf_synth_opts o;
			cf_synth_opts_default(&o);
			o.path = p.c_str();
			o.flows = i ? 120 : 300;
			o.seed = 21 + (uint64_t)i;
			o.nanosecond = i;
			char err[CF_ERRBUF_SIZE];
			EXPECT_EQ(cf_synth_write(&o, nullptr, err), CF_OK) << err;
			paths.push_back(p);
		}
	}
	return paths;
}

// A rules CSV whose labels need quoting in CSV and escaping in JSON.
const std::string &rules()
{
	static std::string path;
	if (path.empty()) {
		path = cft::temp_path("-writers-rules.csv");
		std::string t = "src_ip,dst_ip,src_port,dst_port,protocol,start,end,label\n"
		                "*,*,*,53,udp,,,\"dns, udp\"\n"
		                "*,*,*,443,tcp,,,\"web \"\"tls\"\"\"\n"
		                "10.0.0.0/8,*,*,*,tcp,,,tcp10\n";
		cft::write_file(path, std::vector<uint8_t>(t.begin(), t.end()));
	}
	return path;
}

std::string replace_all(std::string s, const std::string &from, const std::string &to)
{
	for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
		s.replace(at, from.size(), to);
	return s;
}

// Every file under a and b, byte for byte (JSON files with each
// directory's own path taken out: meta.json lists its files by path).
void expect_same_tree(const std::string &a, const std::string &b)
{
	std::vector<std::string> fa, fb;
	for (auto &e : fs::recursive_directory_iterator(a))
		fa.push_back(fs::relative(e.path(), a).string());
	for (auto &e : fs::recursive_directory_iterator(b))
		fb.push_back(fs::relative(e.path(), b).string());
	std::sort(fa.begin(), fa.end());
	std::sort(fb.begin(), fb.end());
	ASSERT_EQ(fa, fb);
	ASSERT_FALSE(fa.empty());
	for (const auto &f : fa) {
		if (fs::is_directory(a + "/" + f))
			continue;
		std::string x = cft::slurp(a + "/" + f), y = cft::slurp(b + "/" + f);
		if (f.size() > 5 && f.substr(f.size() - 5) == ".json") {
			x = replace_all(x, a + "/", "DIR/");
			y = replace_all(y, b + "/", "DIR/");
		}
		EXPECT_TRUE(x == y) << f << " differs between " << a << " and " << b;
	}
}

std::string cli(const std::string &cmd, const std::string &args, const std::string &dir)
{
	std::string c = cft::shq(cft::cuflow_bin()) + " " + cmd + " -q --backend cpu " + args;
	for (const auto &p : captures())
		c += " " + cft::shq(p);
	std::string out;
	EXPECT_EQ(cft::run(c + " -o " + cft::shq(dir), &out), 0) << c << "\n" << out;
	return out;
}

// ------------------------------------------------------------ flowpic

struct PicCase {
	const char *args;      // the command line
	const char *preset;
	int parquet, csv_labels;
	const char *constant;  // --label
	uint64_t shard, png;
	int sessions_bidir, direction;
};

void flowpic_api(const PicCase &c, const std::string &dir)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_flowpic_opts o;
	ASSERT_EQ(cf_flowpic_preset(&o, c.preset), CF_OK);
	if (c.sessions_bidir)
		o.sessions = CF_FLOWPIC_SESSIONS_BIDIR;
	o.direction = c.direction;
	cf_labeler *lab = nullptr;
	const char *desc = nullptr;
	if (c.csv_labels) {
		ASSERT_EQ(cf_labeler_open_csv(rules().c_str(), nullptr, &lab, err), CF_OK) << err;
		desc = rules().c_str();
	} else if (c.constant) {
		ASSERT_EQ(cf_labeler_open_constant(c.constant, &lab, err), CF_OK) << err;
		desc = "constant";
	}
	cf_flowpic_writer_opts wo = {c.parquet ? CF_FLOWPIC_INDEX_PARQUET : CF_FLOWPIC_INDEX_CSV, c.shard, c.png, lab,
	                             desc};
	cf_flowpic_writer *w = nullptr;
	ASSERT_EQ(cf_flowpic_writer_open(dir.c_str(), &o, &wo, &w, err), CF_OK) << err;
	cf_backend *b = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &b, err), CF_OK) << err;
	cf_flowpic *h = nullptr;
	ASSERT_EQ(cf_flowpic_open(&o, b, cf_flowpic_writer_emit, w, &h, err), CF_OK) << err;
	cf_scan_opts so{};
	cf_decode_opts_default(&so.decode);
	so.backend = b;
	cf_summary total;
	cf_summary_clear(&total);
	cf_scan_result res;
	for (const auto &p : captures()) {
		EXPECT_EQ(cf_flowpic_scan_file(h, p.c_str(), &so, &res), CF_OK) << cf_flowpic_error(h);
		cf_summary_merge(&total, &res.summary);
	}
	EXPECT_FALSE(cf_flowpic_writer_failed(w));
	EXPECT_STREQ(cf_flowpic_writer_error(w), "");
	if (!strcmp(c.preset, "mini")) { // the synthetic flows are too short for 60 s windows
		EXPECT_GT(cf_flowpic_writer_rows(w), 0u);
	}
	cf_flowpic_counters k;
	cf_flowpic_counters_get(h, &k);
	EXPECT_EQ(k.images, cf_flowpic_writer_rows(w) + cf_flowpic_writer_dropped(w));
	cf_flowpic_writer_meta m = {c.preset, cf_backend_name(b), &total};
	EXPECT_EQ(cf_flowpic_writer_close(w, &k, &m, err), CF_OK) << err;
	cf_flowpic_close(h);
	cf_backend_close(b);
	cf_labeler_close(lab);
}

TEST(FlowpicWriter, SameFilesAsTheCommand)
{
	const std::string r = cft::shq(rules());
	const PicCase cases[] = {
		{"--preset official", "official", 0, 0, nullptr, 0, 0, 0, 0},
		{"--preset mini --png 3 --shard-rows 7 --labels RULES", "mini", 0, 1, nullptr, 7, 3, 0, 0},
		{"--preset mini --format parquet --label 'a,\"b\"'", "mini", 1, 0, "a,\"b\"", 0, 0, 0, 0},
		{"--preset mini --format parquet --labels RULES --shard-rows 4", "mini", 1, 1, nullptr, 4, 0, 0, 0},
		{"--preset mini --sessions bidir --direction 2ch", "mini", 0, 0, nullptr, 0, 0, 1, CF_FLOWPIC_CHANNELS},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.args);
		std::string a = cft::temp_path("-fp-cli"), b = cft::temp_path("-fp-api");
		cli("flowpic", replace_all(c.args, "RULES", r), a);
		flowpic_api(c, b);
		expect_same_tree(a, b);
		if (c.png) {
			EXPECT_TRUE(cft::exists(b + "/png/000002.png"));
		}
		if (c.shard) {
			EXPECT_TRUE(cft::exists(b + "/flowpic-00001.npy"));
		}
	}
}

// add() takes labels from the caller; without a labeler they are ignored.
TEST(FlowpicWriter, AddAndMisuse)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_flowpic_opts o;
	ASSERT_EQ(cf_flowpic_preset(&o, "mini"), CF_OK);
	cf_flowpic_writer *w = nullptr;
	EXPECT_EQ(cf_flowpic_writer_open(nullptr, &o, nullptr, &w, err), CF_ERR_ARG);
	EXPECT_STRNE(err, "");
	EXPECT_EQ(w, nullptr);
	// a file that cannot be created: the status and its path
	std::string dir = cft::temp_path("-fp-misuse");
	fs::create_directories(dir + "/index.csv");
	EXPECT_EQ(cf_flowpic_writer_open(dir.c_str(), &o, nullptr, &w, err), CF_ERR_IO);
	EXPECT_NE(std::string(err).find("index.csv"), std::string::npos) << err;
	fs::remove(dir + "/index.csv");
	ASSERT_EQ(cf_flowpic_writer_open(dir.c_str(), &o, nullptr, &w, err), CF_OK) << err;
	std::vector<uint8_t> px(32 * 32, 0);
	px[5] = 3;
	cf_flowpic_image im{};
	im.ip_version = 4;
	im.proto = 17;
	im.src_ip[0] = 10, im.src_ip[3] = 1;
	im.dst_ip[0] = 10, im.dst_ip[3] = 2;
	im.src_port = 1000, im.dst_port = 53;
	im.channels = 1, im.res = 32;
	im.pixels = px.data();
	im.packets = 3;
	EXPECT_EQ(cf_flowpic_writer_add(w, &im, 7, "ignored"), CF_OK);
	im.res = 64; // not the options' shape: refused, and the error sticks
	EXPECT_EQ(cf_flowpic_writer_add(w, &im, -1, nullptr), CF_ERR_ARG);
	EXPECT_TRUE(cf_flowpic_writer_failed(w));
	im.res = 32;
	EXPECT_EQ(cf_flowpic_writer_add(w, &im, -1, nullptr), CF_ERR_ARG);
	EXPECT_EQ(cf_flowpic_writer_rows(w), 1u);
	EXPECT_NE(cf_flowpic_writer_close(w, nullptr, nullptr, err), CF_OK);
	EXPECT_NE(std::string(err).find("shape"), std::string::npos) << err;
	EXPECT_FALSE(cft::exists(dir + "/meta.json"));
	EXPECT_EQ(cft::slurp(dir + "/index.csv"),
	          "src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label\n"
	          "10.0.0.1,1000,10.0.0.2,53,17,0,0,3,\n");
	EXPECT_EQ(cf_flowpic_writer_close(nullptr, nullptr, nullptr, err), CF_OK);
	cf_flowpic_writer_abort(nullptr);
}

// ------------------------------------------------------------ extract

struct ExCase {
	const char *args;
	int parquet, float64, csv_labels;
	const char *constant;
	uint32_t seq;
	double pad;
	uint64_t shard;
};

void extract_api(const ExCase &c, const std::string &dir)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_labeler *lab = nullptr;
	const char *desc = nullptr;
	if (c.csv_labels) {
		ASSERT_EQ(cf_labeler_open_csv(rules().c_str(), nullptr, &lab, err), CF_OK) << err;
		desc = rules().c_str();
	} else if (c.constant) {
		ASSERT_EQ(cf_labeler_open_constant(c.constant, &lab, err), CF_OK) << err;
		desc = "constant";
	}
	cf_flow_opts fo;
	cf_flow_opts_default(&fo);
	fo.seq_len = c.seq;
	cf_extract_writer_opts wo = {c.parquet ? CF_EXTRACT_PARQUET : CF_EXTRACT_NPY, c.float64, c.seq, c.pad, c.shard,
	                             lab, desc};
	cf_extract_writer *w = nullptr;
	ASSERT_EQ(cf_extract_writer_open(dir.c_str(), &wo, &w, err), CF_OK) << err;
	cf_backend *b = nullptr;
	ASSERT_EQ(cf_backend_open(CF_BACKEND_CPU, &b, err), CF_OK) << err;
	cf_flow_engine *e = nullptr;
	ASSERT_EQ(cf_flow_engine_open(&fo, b, cf_extract_writer_emit, w, &e, err), CF_OK) << err;
	cf_scan_opts so{};
	cf_decode_opts_default(&so.decode);
	so.backend = b;
	cf_summary total;
	cf_summary_clear(&total);
	cf_scan_result res;
	cf_extract_writer_meta m{};
	for (const auto &p : captures()) {
		EXPECT_EQ(cf_flow_scan_file(p.c_str(), &so, e, &res), CF_OK);
		EXPECT_EQ(cf_flow_engine_finish(e), CF_OK) << cf_flow_engine_error(e);
		cf_summary_merge(&total, &res.summary);
		m.ts_bad_fraction += res.info.ts_bad_fraction;
		m.ts_out_of_range += res.info.ts_out_of_range;
	}
	EXPECT_FALSE(cf_extract_writer_failed(w));
	EXPECT_GT(cf_extract_writer_rows(w), 0u);
	cf_flow_counters k = *cf_flow_engine_counters(e);
	m.flow = &fo;
	m.backend = cf_backend_name(b);
	m.counters = &k;
	m.summary = &total;
	EXPECT_EQ(k.flows, cf_extract_writer_rows(w) + cf_extract_writer_dropped(w));
	EXPECT_EQ(cf_extract_writer_close(w, &m, err), CF_OK) << err;
	cf_flow_engine_close(e);
	cf_backend_close(b);
	cf_labeler_close(lab);
}

TEST(ExtractWriter, SameFilesAsTheCommand)
{
	const std::string r = cft::shq(rules());
	const ExCase cases[] = {
		{"", 0, 0, 0, nullptr, 30, 0, 0},
		{"--dtype float64 --seq 12 --shard-rows 50 --labels RULES", 0, 1, 1, nullptr, 12, 0, 50},
		{"--seq 0 --label 'x,\"y\"'", 0, 0, 0, "x,\"y\"", 0, 0, 0},
		{"--seq 4 --seq-pad -1.5", 0, 0, 0, nullptr, 4, -1.5, 0},
		{"--format parquet", 1, 0, 0, nullptr, 30, 0, 0},
		{"--format parquet --dtype float64 --seq 5 --labels RULES", 1, 1, 1, nullptr, 5, 0, 0},
	};
	for (const auto &c : cases) {
		SCOPED_TRACE(c.args);
		std::string a = cft::temp_path("-ex-cli"), b = cft::temp_path("-ex-api");
		cli("extract", replace_all(c.args, "RULES", r), a);
		extract_api(c, b);
		expect_same_tree(a, b);
		if (c.shard) {
			EXPECT_TRUE(cft::exists(b + "/features-00001.npy"));
		}
	}
}

TEST(ExtractWriter, AddAndMisuse)
{
	char err[CF_ERRBUF_SIZE] = "";
	cf_extract_writer *w = nullptr;
	cf_extract_writer_opts wo{};
	wo.format = CF_EXTRACT_PARQUET;
	wo.shard_rows = 10;
	std::string dir = cft::temp_path("-ex-misuse");
	EXPECT_EQ(cf_extract_writer_open(dir.c_str(), &wo, &w, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("Parquet"), std::string::npos) << err;
	EXPECT_EQ(w, nullptr);
	wo.format = 7;
	wo.shard_rows = 0;
	EXPECT_EQ(cf_extract_writer_open(dir.c_str(), &wo, &w, err), CF_ERR_ARG);
	// defaults: npy, float32, no sequences; add() rows with the caller's labels
	// (ignored without a labeler)
	ASSERT_EQ(cf_extract_writer_open(dir.c_str(), nullptr, &w, err), CF_OK) << err;
	cf_flow_record rec{};
	rec.ip_version = 4;
	rec.proto = 6;
	rec.src_ip[0] = 192, rec.src_ip[3] = 1;
	rec.dst_ip[0] = 192, rec.dst_ip[3] = 2;
	rec.src_port = 4000, rec.dst_port = 80;
	rec.id = 9;
	rec.bidir.first_ns = 1000;
	rec.bidir.last_ns = 2500;
	EXPECT_EQ(cf_extract_writer_add(w, &rec, 3, "ignored"), CF_OK);
	EXPECT_EQ(cf_extract_writer_rows(w), 1u);
	EXPECT_EQ(cf_extract_writer_close(w, nullptr, err), CF_OK) << err;
	std::string csv = cft::slurp(dir + "/flows.csv");
	EXPECT_NE(csv.find("\n0,9,"), std::string::npos) << csv;
	EXPECT_NE(csv.find(",192.0.0.1,192.0.0.2,4000,80,6,4,0,0,1000,2500,\n"), std::string::npos) << csv;
	EXPECT_NE(cft::slurp(dir + "/schema.json").find("\"rows\": 1,"), std::string::npos);
	EXPECT_FALSE(cft::exists(dir + "/labels.npy"));
	EXPECT_FALSE(cft::exists(dir + "/sequences.npy"));
	// abort: no schema, the Parquet table's temporary file removed
	std::string d2 = cft::temp_path("-ex-abort");
	wo.format = CF_EXTRACT_PARQUET;
	ASSERT_EQ(cf_extract_writer_open(d2.c_str(), &wo, &w, err), CF_OK) << err;
	EXPECT_EQ(cf_extract_writer_add(w, &rec, -1, nullptr), CF_OK);
	cf_extract_writer_abort(w);
	EXPECT_TRUE(fs::is_empty(d2));
	EXPECT_EQ(cf_extract_writer_close(nullptr, nullptr, err), CF_OK);
	cf_extract_writer_abort(nullptr);
}

} // namespace

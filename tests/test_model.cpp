// The nested model's commands and files: the reference-compat shapes and
// parameter counts of seed 003 (spec §3.4), training that learns and does
// not depend on the thread count, safetensors read by an independent
// parser, evaluation numbers computed by hand, predict rows aligned with
// the records, and clear errors on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuflow/model.h"
#include "cuflow/nn.h"
#include "cuflow/status.h"
#include "nn/nn_internal.h"
#include "test_util.h"

namespace {

// One Joy record (bidir) as a JSON line.
struct Rec {
	int npk_out = 0, npk_in = 0, b = 100, ipt = 3;
	std::vector<int> ids_out, ids_in;
	int ttl_out = 64, ttl_in = 128;
	std::string label;
	int sp = 40000, dp = 443;
};

std::string joy_line(const Rec &r, int serial)
{
	std::ostringstream o;
	o << "{\"sa\":\"10.0.0." << (serial % 250 + 1) << "\",\"da\":\"192.0.2.1\",\"pr\":6,\"sp\":" << r.sp + serial % 1000
	  << ",\"dp\":" << r.dp << ",\"bytes_out\":" << r.npk_out * r.b << ",\"num_pkts_out\":" << r.npk_out
	  << ",\"bytes_in\":" << r.npk_in * r.b << ",\"num_pkts_in\":" << r.npk_in
	  << ",\"time_start\":1000.000000,\"time_end\":1001.500000,\"packets\":[";
	int n = 0;
	for (int k = 0; k < r.npk_out + r.npk_in; k++) {
		bool out = k < r.npk_out;
		o << (n++ ? "," : "") << "{\"b\":" << r.b << ",\"dir\":\"" << (out ? ">" : "<") << "\",\"ipt\":" << r.ipt << "}";
	}
	o << "],\"ip\":{\"out\":{\"ttl\":" << r.ttl_out << ",\"id\":[";
	for (size_t k = 0; k < r.ids_out.size(); k++) o << (k ? "," : "") << r.ids_out[k];
	o << "]}";
	if (r.ttl_in >= 0) {
		o << ",\"in\":{\"ttl\":" << r.ttl_in << ",\"id\":[";
		for (size_t k = 0; k < r.ids_in.size(); k++) o << (k ? "," : "") << r.ids_in[k];
		o << "]}";
	}
	o << "}";
	if (!r.label.empty()) o << ",\"label\":\"" << r.label << "\"";
	o << "}\n";
	return o.str();
}

// Two classes a model can tell apart: "bulk" (large payloads, TTL 64) and
// "chat" (small payloads, TTL 128), with noise in counts and ids.
std::string two_class_file(const std::string &name, int per_class, unsigned seed)
{
	std::mt19937 g(seed);
	std::string path = cft::temp_path(name), text;
	for (int i = 0; i < 2 * per_class; i++) {
		Rec r;
		bool bulk = i % 2 == 0;
		r.label = bulk ? "bulk" : "chat";
		r.npk_out = 1 + (int)(g() % 10);
		r.npk_in = (int)(g() % 10);
		r.b = bulk ? 1200 + (int)(g() % 260) : 20 + (int)(g() % 80);
		r.ipt = (int)(g() % 50);
		r.ttl_out = bulk ? 64 : 128;
		for (int k = 0; k < (int)(g() % 6); k++) r.ids_out.push_back((int)(g() % 65536));
		text += joy_line(r, i);
	}
	std::ofstream(path) << text;
	return path;
}

std::string read_text(const std::string &p) { return cft::slurp(p); }

double json_number(const std::string &js, const std::string &key)
{
	size_t at = js.find("\"" + key + "\"");
	if (at == std::string::npos) return NAN;
	at = js.find(':', at);
	return std::strtod(js.c_str() + at + 1, nullptr);
}

}  // namespace

TEST(Model, ReferenceCompatCountsAreTheSeeds)
{
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.classes = 3;
	cf_nested_param ps[64];
	int n = cf_nested_params(&c, ps, 64);
	size_t pkt = 0, id = 0, root = 0;
	for (int i = 0; i < n; i++) {
		std::string nm = ps[i].name;
		if (nm.rfind("pkt_lstm.", 0) == 0) pkt += ps[i].count;
		else if (nm.rfind("id_lstm.", 0) == 0) id += ps[i].count;
		else if (nm.rfind("dense.", 0) == 0 || nm.rfind("out.", 0) == 0) root += ps[i].count;
	}
	// CuDNNLSTM(16) on 3 inputs: 4*16*(3+16) + 8*16; CuDNNLSTM(8) on 1: 4*8*(1+8) + 8*8
	EXPECT_EQ(pkt, 4u * 16 * (3 + 16) + 8 * 16);
	EXPECT_EQ(pkt, 1344u);
	EXPECT_EQ(id, 352u);
	EXPECT_EQ(cf_nested_root_inputs(&c), 16 + 8 + 8 + 8 + 8 + 5);
	EXPECT_EQ(cf_nested_root_inputs(&c), 53);
	// 53*10+10, 10*10+10 twice, 10*3+3
	EXPECT_EQ(root, 793u);
}

TEST(Model, ReferenceCompatPadsToTheBatchMaximum)
{
	// Four flows; the longest lists 100 packets (Joy's 50 per direction) and
	// 50 ids; the last has no packets at all (one zero row, as the seed).
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.reference_compat = 1;
	cf_nested_batch b;
	ASSERT_EQ(cf_nested_batch_alloc(&b, &c, 4), 0);
	std::vector<nn_pkt> pk(100);
	for (int t = 0; t < 100; t++) pk[t] = nn_pkt{(uint32_t)(t + 1), (uint32_t)(2 * t), (int8_t)(t < 50)};
	std::vector<uint16_t> ids(50);
	for (int t = 0; t < 50; t++) ids[t] = (uint16_t)(1000 + t);
	double root[5] = {8.6e6, 1234, 5000, 300, 12.5};
	nn_batch_put(&c, &b, 0, pk.data(), 100, ids.data(), 50, ids.data(), 7, 64, 128, root, 0);
	nn_batch_put(&c, &b, 1, pk.data(), 10, ids.data(), 3, ids.data(), 0, 64, -1, root, 1);
	nn_batch_put(&c, &b, 2, pk.data(), 1, ids.data(), 1, ids.data(), 1, 300, 0, root, 2);
	nn_batch_put(&c, &b, 3, pk.data(), 0, ids.data(), 0, ids.data(), 0, -1, -1, root, 0);
	nn_batch_finish(&c, &b);
	EXPECT_EQ(b.n, 4);
	EXPECT_EQ(b.t_pkt, 100);  // (4, 100, 3)
	for (int k = 0; k < 4; k++) {
		EXPECT_EQ(b.pkt_len[k], 100);
		EXPECT_EQ(b.id_out_len[k], 50);  // (4, 50, 1)
		EXPECT_EQ(b.id_in_len[k], 7);    // the in-ids node pads to its own longest
	}
	// raw values: b, dir, ipt as Joy wrote them; ids as they are; totals raw
	EXPECT_EQ(b.pkt[0], 1.0f);
	EXPECT_EQ(b.pkt[1], 1.0f);
	EXPECT_EQ(b.pkt[99 * 3 + 0], 100.0f);
	EXPECT_EQ(b.pkt[99 * 3 + 1], 0.0f);
	EXPECT_EQ(b.pkt[99 * 3 + 2], 198.0f);
	EXPECT_EQ(b.id_out[49], 1049.0f);
	EXPECT_EQ(b.root[0], 8.6e6f);
	EXPECT_EQ(b.root[4], 12.5f);
	// flow 1 is zero after its 10 packets; flow 3 is zeros throughout
	for (int t = 10; t < 100; t++) EXPECT_EQ(b.pkt[(size_t)(100 + t) * 3], 0.0f);
	for (int t = 0; t < 300; t++) EXPECT_EQ(b.pkt[(size_t)3 * 300 + t], 0.0f);
	// TTLs: absent -> 0, over the vocabulary -> clamped
	EXPECT_EQ(b.ttl_in[1], 0);
	EXPECT_EQ(b.ttl_out[2], 255);
	EXPECT_EQ(b.ttl_out[3], 0);
	cf_nested_batch_free(&b);
}

TEST(Model, DefaultModeScalesAndKeepsTrueLengths)
{
	cf_nested_config c;
	cf_nested_config_default(&c);
	cf_nested_batch b;
	ASSERT_EQ(cf_nested_batch_alloc(&b, &c, 2), 0);
	std::vector<nn_pkt> pk(120, nn_pkt{1500, 0, 1});
	pk[0] = nn_pkt{750, 7, 0};
	std::vector<uint16_t> ids(60, 65535);
	double root[5] = {99, 0, 3, 0, 0.25};
	nn_batch_put(&c, &b, 0, pk.data(), 120, ids.data(), 60, ids.data(), 0, 64, 64, root, 1);
	nn_batch_put(&c, &b, 1, pk.data(), 0, ids.data(), 0, ids.data(), 0, 64, 64, root, 0);
	nn_batch_finish(&c, &b);
	EXPECT_EQ(b.pkt_len[0], 100);  // truncated to max_packets
	EXPECT_EQ(b.id_out_len[0], 50);
	EXPECT_EQ(b.id_in_len[0], 1);  // empty: one zero step
	EXPECT_EQ(b.pkt_len[1], 1);
	EXPECT_FLOAT_EQ(b.pkt[0], 0.5f);                    // 750 / 1500
	EXPECT_FLOAT_EQ(b.pkt[1], 0.0f);                    // "<"
	EXPECT_FLOAT_EQ(b.pkt[2], (float)std::log1p(7.0));  // ipt ms
	EXPECT_FLOAT_EQ(b.id_out[0], 1.0f);                 // 65535 / 65535
	EXPECT_FLOAT_EQ(b.root[0], (float)std::log1p(99.0));
	EXPECT_FLOAT_EQ(b.root[4], (float)std::log1p(250.0));  // 0.25 s in ms
	cf_nested_batch_free(&b);
}

TEST(Model, TrainLearnsAndIgnoresTheThreadCount)
{
	std::string train = two_class_file("model_train.jsonl", 300, 1);
	std::string test = two_class_file("model_test.jsonl", 100, 2);
	std::string d1 = cft::temp_path("model_t1"), d2 = cft::temp_path("model_t2"), ev = cft::temp_path("model_ev");
	std::string out;
	std::string common = " train --model nested " + cft::shq(train) + " -o ";
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + common + cft::shq(d1) + " --epochs 6 --threads 1 --quiet", &out), 0) << out;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + common + cft::shq(d2) + " --epochs 6 --threads 2 --quiet", &out), 0) << out;
	// the same bits whatever the thread count: chunks of the batch are summed in order
	EXPECT_EQ(cft::read_file(d1 + "/model.safetensors"), cft::read_file(d2 + "/model.safetensors"));
	std::string m1 = read_text(d1 + "/metrics.csv"), m2 = read_text(d2 + "/metrics.csv");
	auto strip_times = [](const std::string &csv) {
		std::string r;
		for (const std::string &line : cft::split(csv, '\n')) {
			auto f = cft::split(line, ',');
			if (f.size() >= 6) r += f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + "\n";
		}
		return r;
	};
	EXPECT_EQ(strip_times(m1), strip_times(m2));
	EXPECT_EQ(cft::split(m1, '\n').size(), 8u);  // header + 6 epochs + ""
	ASSERT_TRUE(cft::exists(d1 + "/learning_curves.png"));
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " evaluate " + cft::shq(d1) + " " + cft::shq(test) + " -o " +
	                       cft::shq(ev) + " --quiet", &out), 0) << out;
	std::string js = read_text(ev + "/metrics.json");
	EXPECT_EQ(json_number(js, "flows"), 200);
	EXPECT_DOUBLE_EQ(json_number(js, "majority_class_accuracy"), 0.5);
	EXPECT_GT(json_number(js, "accuracy"), 0.95) << js;
	EXPECT_TRUE(cft::exists(ev + "/confusion.png"));
	// the confusion matrix adds up to the flows, rows by true class
	auto rows = cft::split(read_text(ev + "/confusion.csv"), '\n');
	ASSERT_GE(rows.size(), 3u);
	EXPECT_EQ(rows[0], "true\\predicted,bulk,chat");
	long total = 0;
	for (int r = 1; r <= 2; r++) {
		auto f = cft::split(rows[r], ',');
		ASSERT_EQ(f.size(), 3u);
		long row = std::stol(f[1]) + std::stol(f[2]);
		EXPECT_EQ(row, 100);
		total += row;
	}
	EXPECT_EQ(total, 200);
}

TEST(Model, SafetensorsReadByAnIndependentParser)
{
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.classes = 4;
	const char *names[4] = {"a", "b \"quoted\"", "c", "d"};
	cf_model *m = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_model_create(&c, 7, names, &m, err), CF_OK) << err;
	std::string dir = cft::temp_path("model_st");
	ASSERT_EQ(cf_model_save(m, dir.c_str(), err), CF_OK) << err;
	// Python's json + struct read the file as the safetensors format defines
	// it; they print name, shape and the float sum of each tensor.
	std::string py = cft::temp_path("st_check.py");
	std::ofstream(py) << "import json, struct, sys\n"
	                     "b = open(sys.argv[1], 'rb').read()\n"
	                     "n = struct.unpack('<Q', b[:8])[0]\n"
	                     "h = json.loads(b[8:8 + n])\n"
	                     "assert n % 8 == 0\n"
	                     "data = b[8 + n:]\n"
	                     "ends = sorted((v['data_offsets'][0], v['data_offsets'][1]) for k, v in h.items() if k != '__metadata__')\n"
	                     "pos = 0\n"
	                     "for s, e in ends:\n"
	                     "    assert s == pos, (s, pos)\n"
	                     "    pos = e\n"
	                     "assert pos == len(data), (pos, len(data))\n"
	                     "for k, v in h.items():\n"
	                     "    if k == '__metadata__': continue\n"
	                     "    s, e = v['data_offsets']\n"
	                     "    vals = struct.unpack('<%df' % ((e - s) // 4), data[s:e])\n"
	                     "    print(k, v['dtype'], 'x'.join(map(str, v['shape'])), repr(sum(vals)))\n";
	std::string out;
	ASSERT_EQ(cft::run("python3 " + cft::shq(py) + " " + cft::shq(dir + "/model.safetensors"), &out), 0) << out;
	cf_nested_param ps[64];
	int n = cf_nested_params(&c, ps, 64);
	const float *p = cf_model_params(m);
	auto lines = cft::split(out, '\n');
	ASSERT_EQ((int)lines.size(), n + 1);
	for (int i = 0; i < n; i++) {
		auto f = cft::split(lines[i], ' ');
		ASSERT_EQ(f.size(), 4u) << lines[i];
		EXPECT_EQ(f[0], ps[i].name);
		EXPECT_EQ(f[1], "F32");
		std::string shape = std::to_string(ps[i].dims[0]) + (ps[i].ndim == 2 ? "x" + std::to_string(ps[i].dims[1]) : "");
		EXPECT_EQ(f[2], shape) << ps[i].name;
		double sum = 0;
		for (size_t k = 0; k < ps[i].count; k++) sum += p[ps[i].offset + k];
		EXPECT_NEAR(std::stod(f[3]), sum, 1e-9 * (1 + std::fabs(sum))) << ps[i].name;
	}
	// PyTorch's initialisation bounds: LSTM within 1/sqrt(H), Linear within 1/sqrt(fan_in)
	for (int i = 0; i < n; i++) {
		double bound = 0;
		std::string nm = ps[i].name;
		if (nm.rfind("pkt_lstm", 0) == 0) bound = 1 / std::sqrt(16.0);
		else if (nm.rfind("id_lstm", 0) == 0) bound = 1 / std::sqrt(8.0);
		else if (nm == "dense.0.weight" || nm == "dense.0.bias") bound = 1 / std::sqrt(53.0);
		else if (nm.rfind("ttl_", 0) != 0) bound = 1 / std::sqrt(10.0);
		if (bound == 0) continue;
		for (size_t k = 0; k < ps[i].count; k++) ASSERT_LE(std::fabs(p[ps[i].offset + k]), bound) << nm;
	}
	// and back: the same floats and class names
	cf_model *back = nullptr;
	ASSERT_EQ(cf_model_load(dir.c_str(), &back, err), CF_OK) << err;
	EXPECT_EQ(0, std::memcmp(cf_model_params(back), p, cf_nested_param_count(&c) * sizeof(float)));
	EXPECT_STREQ(cf_model_class_name(back, 1), "b \"quoted\"");
	cf_model_free(back);
	// a truncated file is refused, naming it
	auto bytes = cft::read_file(dir + "/model.safetensors");
	bytes.resize(bytes.size() - 5);
	cft::write_file(dir + "/model.safetensors", bytes);
	EXPECT_NE(cf_model_load(dir.c_str(), &back, err), CF_OK);
	EXPECT_NE(std::string(err).find("model.safetensors"), std::string::npos) << err;
	cf_model_free(m);
}

TEST(Model, EvaluateNumbersByHand)
{
	// A model that always answers "a": out.weight = 0, out.bias = (5, 0).
	cf_nested_config c;
	cf_nested_config_default(&c);
	c.classes = 2;
	const char *names[2] = {"a", "b"};
	cf_model *m = nullptr;
	char err[CF_ERRBUF_SIZE] = "";
	ASSERT_EQ(cf_model_create(&c, 1, names, &m, err), CF_OK);
	cf_nested_param ps[64];
	int n = cf_nested_params(&c, ps, 64);
	for (int i = 0; i < n; i++) {
		float *p = cf_model_params(m) + ps[i].offset;
		if (!strcmp(ps[i].name, "out.weight")) std::fill(p, p + ps[i].count, 0.0f);
		if (!strcmp(ps[i].name, "out.bias")) { p[0] = 5; p[1] = 0; }
	}
	std::string dir = cft::temp_path("model_hand"), ev = cft::temp_path("model_hand_ev");
	ASSERT_EQ(cf_model_save(m, dir.c_str(), err), CF_OK) << err;
	cf_model_free(m);
	std::string data = cft::temp_path("hand.jsonl"), text;
	const char *labels[5] = {"a", "a", "a", "b", "zzz"};
	for (int i = 0; i < 5; i++) {
		Rec r;
		r.npk_out = 2;
		r.label = labels[i];
		text += joy_line(r, i);
	}
	std::ofstream(data) << text;
	std::string out;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " evaluate " + cft::shq(dir) + " " + cft::shq(data) + " -o " +
	                       cft::shq(ev) + " --quiet", &out), 0) << out;
	std::string js = read_text(ev + "/metrics.json");
	EXPECT_EQ(json_number(js, "flows"), 4);
	EXPECT_EQ(json_number(js, "skipped_unknown_label"), 1);
	EXPECT_DOUBLE_EQ(json_number(js, "accuracy"), 0.75);
	EXPECT_DOUBLE_EQ(json_number(js, "majority_class_accuracy"), 0.75);
	// class a: precision 3/4, recall 1, F1 = 2*0.75/1.75; class b: all zero
	EXPECT_NE(js.find("\"name\": \"a\", \"support\": 3, \"predicted\": 4, \"precision\": 0.750000, \"recall\": 1.000000, "
	                  "\"f1\": 0.857143"), std::string::npos) << js;
	EXPECT_NE(js.find("\"name\": \"b\", \"support\": 1, \"predicted\": 0, \"precision\": 0.000000, \"recall\": 0.000000"),
	          std::string::npos) << js;
	EXPECT_NEAR(json_number(js, "macro_f1"), (0.857143 + 0) / 2, 1e-6);
	EXPECT_EQ(read_text(ev + "/confusion.csv"), "true\\predicted,a,b\na,3,0\nb,1,0\n");
}

TEST(Model, PredictRowsFollowTheRecords)
{
	std::string train = two_class_file("pred_train.jsonl", 50, 3);
	std::string dir = cft::temp_path("model_pred"), csv = cft::temp_path("pred.csv");
	std::string out;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested " + cft::shq(train) + " -o " + cft::shq(dir) +
	                       " --epochs 1 --quiet", &out), 0) << out;
	// predict over the same records, with a batch that does not divide them
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " predict " + cft::shq(dir) + " " + cft::shq(train) + " -o " +
	                       cft::shq(csv) + " --batch 7 --quiet", &out), 0) << out;
	auto rows = cft::split(read_text(csv), '\n');
	ASSERT_EQ(rows.size(), 102u);  // header, 100 rows, ""
	EXPECT_EQ(rows[0], "file,record,sa,sp,da,dp,pr,time_start,predicted,p_bulk,p_chat");
	for (int i = 0; i < 100; i++) {
		auto f = cft::split(rows[1 + i], ',');
		ASSERT_EQ(f.size(), 11u) << rows[1 + i];
		EXPECT_EQ(f[1], std::to_string(i + 1));                   // the record's line
		EXPECT_EQ(f[2], "10.0.0." + std::to_string(i % 250 + 1));  // its sa
		EXPECT_EQ(f[3], std::to_string(40000 + i));
		double pb = std::stod(f[9]), pc = std::stod(f[10]);
		EXPECT_NEAR(pb + pc, 1.0, 1e-6);
		EXPECT_EQ(f[8], pb >= pc ? "bulk" : "chat");
	}
}

// --test-data: the test split is a set of its own (e.g. other sessions),
// every one of its labelled flows scored once: test/metrics.json counts them
// and equals `cuflow evaluate` of the trained model on that set; the
// training data keeps all its flows but the validation split; a test set
// and a test fraction together are refused.
TEST(Model, TestDataIsAHeldOutSetOfItsOwn)
{
	std::string train = two_class_file("tdata_train.jsonl", 60, 5);
	std::string test = two_class_file("tdata_test.jsonl", 15, 6);  // 30 flows
	std::ofstream(test, std::ios::app) << [] {
		Rec r;
		r.npk_out = 2;
		r.label = "voip";  // a class the training data lacks: left out, and said so
		return joy_line(r, 99);
	}();
	std::string dir = cft::temp_path("model_tdata"), ev = cft::temp_path("model_tdata_ev"), out;
	std::string bin = cft::shq(cft::cuflow_bin());
	ASSERT_EQ(cft::run(bin + " train --model nested " + cft::shq(train) + " -o " + cft::shq(dir) + " --test-data " +
	                       cft::shq(test) + " --epochs 2 --threads 1 2>&1", &out), 0) << out;
	// 120 flows: 24 validation, 96 train, and the own test set's 30
	EXPECT_NE(out.find("120 flows, 2 classes: 96 train, 24 validation, 30 test (own set)"), std::string::npos) << out;
	EXPECT_NE(out.find("test set: 1 flows of classes the training data lacks, left out"), std::string::npos) << out;
	std::string js = read_text(dir + "/test/metrics.json");
	EXPECT_EQ(json_number(js, "flows"), 30);
	ASSERT_EQ(cft::run(bin + " evaluate " + cft::shq(dir) + " " + cft::shq(test) + " -o " + cft::shq(ev) + " --quiet 2>&1",
	                   &out), 0) << out;
	std::string ejs = read_text(ev + "/metrics.json");
	EXPECT_DOUBLE_EQ(json_number(js, "accuracy"), json_number(ejs, "accuracy"));
	EXPECT_DOUBLE_EQ(json_number(js, "macro_f1"), json_number(ejs, "macro_f1"));
	EXPECT_EQ(read_text(dir + "/test/confusion.csv"), read_text(ev + "/confusion.csv"));
	EXPECT_NE(cft::run(bin + " train --model nested " + cft::shq(train) + " -o " + cft::shq(dir + "x") + " --test-data " +
	                       cft::shq(test) + " --test-fraction 0.2 2>&1", &out), 0);
	EXPECT_NE(out.find("--test-data and --test-fraction exclude each other"), std::string::npos) << out;
	// a test set with nothing of the training classes is an error, not an empty test
	std::string none = cft::temp_path("tdata_none.jsonl");
	std::ofstream(none) << [] {
		Rec r;
		r.npk_out = 2;
		r.label = "voip";
		return joy_line(r, 1);
	}();
	EXPECT_NE(cft::run(bin + " train --model nested " + cft::shq(train) + " -o " + cft::shq(dir + "y") + " --test-data " +
	                       cft::shq(none) + " --epochs 1 2>&1", &out), 0);
	EXPECT_NE(out.find("the test set holds no labelled flow"), std::string::npos) << out;
}

TEST(Model, PredictOverACaptureGivesJoysFlows)
{
	std::string pcap = cft::shared_dir() + "/data/joy/test/pcaps/tls12.pcap";
	std::string ref = cft::shared_dir() + "/data/joy/reference/tls12.pcap.joy.json.gz";
	if (!cft::exists(pcap) || !cft::exists(ref)) GTEST_SKIP() << "needs ../shared/data/joy";
	std::string train = two_class_file("cap_train.jsonl", 20, 4);
	std::string dir = cft::temp_path("model_cap"), csv = cft::temp_path("cap.csv"), out;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested " + cft::shq(train) + " -o " + cft::shq(dir) +
	                       " --epochs 1 --quiet", &out), 0) << out;
	ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " predict " + cft::shq(dir) + " " + cft::shq(pcap) + " -o " +
	                       cft::shq(csv) + " --quiet", &out), 0) << out;
	// as many rows as Joy itself wrote records (its first line is its configuration)
	std::string joy;
	ASSERT_EQ(cft::run("zcat " + cft::shq(ref) + " | tail -n +2 | grep -c '\"sa\"'", &joy), 0);
	auto rows = cft::split(read_text(csv), '\n');
	EXPECT_EQ((long)rows.size() - 2, std::stol(joy));
}

TEST(Model, BadInputNamesFileAndLine)
{
	std::string data = cft::temp_path("bad.jsonl");
	Rec r;
	r.npk_out = 1;
	r.label = "x";
	std::string good = joy_line(r, 0);
	r.label = "y";
	std::ofstream(data) << good << joy_line(r, 1) << "{\"sa\":\"1.2.3.4\",\"packets\":[{\"b\":\n";
	std::string out, dir = cft::temp_path("model_bad");
	int rc = cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested " + cft::shq(data) + " -o " + cft::shq(dir) +
	                  " --quiet 2>&1", &out);
	EXPECT_EQ(rc, 2) << out;
	EXPECT_NE(out.find(data), std::string::npos) << out;
	EXPECT_NE(out.find("line 3"), std::string::npos) << out;
	// a missing model directory
	rc = cft::run(cft::shq(cft::cuflow_bin()) + " predict /nonexistent/model " + cft::shq(data) + " -o " +
	              cft::shq(cft::temp_path("x.csv")) + " 2>&1", &out);
	EXPECT_NE(rc, 0);
	EXPECT_NE(out.find("/nonexistent/model/config.json"), std::string::npos) << out;
	// one class is not a classification problem
	std::string one = cft::temp_path("one.jsonl");
	std::ofstream(one) << good << good;
	rc = cft::run(cft::shq(cft::cuflow_bin()) + " train --model nested " + cft::shq(one) + " -o " + cft::shq(dir) +
	              " 2>&1", &out);
	EXPECT_NE(rc, 0);
	EXPECT_NE(out.find("at least two classes"), std::string::npos) << out;
}

// A FlowPic CNN through the same commands: two synthetic classes that
// differ in frame size (small against large packets: different image
// rows), images from `cuflow flowpic --preset mini`, the mini LeNet-5
// learns them, the weights do not depend on the thread count, and the
// weights file holds 4-D convolution tensors under PyTorch's names.
// 25 epochs of 2 batches (162 images, 130 to train); under sanitizers 5
// epochs of 16-image batches (9 steps each, the last one partial) learn the
// same classes in a fifth of the time (accuracy 0.98 to 1 over training
// seeds 1 to 8).
TEST(Model, FlowpicMiniTrainsOnFlowpicOutput)
{
	std::string dir = cft::temp_path("fpm_data"), out;
	std::string bin = cft::shq(cft::cuflow_bin());
	const std::string epochs = cft::sanitized() ? " --epochs 5 --batch 16" : " --epochs 25";
	ASSERT_EQ(cft::run("mkdir -p " + cft::shq(dir + "/small") + " " + cft::shq(dir + "/large")), 0);
	ASSERT_EQ(cft::run(bin + " synth -o " + cft::shq(dir + "/small/a.pcap") +
	                   " --flows 300 --frame-size 120 --duration 30 --seed 2 2>&1", &out), 0) << out;
	ASSERT_EQ(cft::run(bin + " synth -o " + cft::shq(dir + "/large/b.pcap") +
	                   " --flows 300 --frame-size 1400 --duration 30 --seed 3 2>&1", &out), 0) << out;
	std::string fp = dir + "/fp";
	ASSERT_EQ(cft::run(bin + " flowpic --preset mini " + cft::shq(dir + "/small/a.pcap") + " " +
	                   cft::shq(dir + "/large/b.pcap") + " --label-from-dir -o " + cft::shq(fp) + " 2>&1", &out), 0)
	    << out;
	std::string m1 = dir + "/m1", m2 = dir + "/m2", ev = dir + "/ev";
	ASSERT_EQ(cft::run(bin + " train --model flowpic-mini " + cft::shq(fp) + " -o " + cft::shq(m1) + epochs +
	                   " --threads 1 --quiet 2>&1", &out), 0) << out;
	ASSERT_EQ(cft::run(bin + " train --model flowpic-mini " + cft::shq(fp) + " -o " + cft::shq(m2) + epochs +
	                   " --threads 2 --quiet 2>&1", &out), 0) << out;
	EXPECT_EQ(cft::read_file(m1 + "/model.safetensors"), cft::read_file(m2 + "/model.safetensors"));
	ASSERT_EQ(cft::run(bin + " evaluate " + cft::shq(m1) + " " + cft::shq(fp) + " -o " + cft::shq(ev) + " --quiet 2>&1",
	                   &out), 0) << out;
	std::string js = read_text(ev + "/metrics.json");
	EXPECT_GT(json_number(js, "accuracy"), 0.9) << js;
	EXPECT_NE(read_text(m1 + "/config.json").find("\"model\": \"flowpic-mini\""), std::string::npos);
	// --test-data with images: the test set's scores are evaluate's on it
	std::string m3 = dir + "/m3", ev3 = dir + "/ev3";
	ASSERT_EQ(cft::run(bin + " train --model flowpic-mini " + cft::shq(fp) + " -o " + cft::shq(m3) +
	                   " --epochs 1 --test-data " + cft::shq(fp) + " --quiet 2>&1", &out), 0) << out;
	ASSERT_EQ(cft::run(bin + " evaluate " + cft::shq(m3) + " " + cft::shq(fp) + " -o " + cft::shq(ev3) + " --quiet 2>&1",
	                   &out), 0) << out;
	EXPECT_EQ(read_text(m3 + "/test/confusion.csv"), read_text(ev3 + "/confusion.csv"));
	EXPECT_DOUBLE_EQ(json_number(read_text(m3 + "/test/metrics.json"), "accuracy"),
	                 json_number(read_text(ev3 + "/metrics.json"), "accuracy"));
	// conv1.weight is (6, 1, 5, 5) and fc1.weight (120, 400): shapes read by Python's json
	std::string py = cft::temp_path("fp_shapes.py");
	std::ofstream(py) << "import json, struct, sys\n"
	                     "b = open(sys.argv[1], 'rb').read()\n"
	                     "h = json.loads(b[8:8 + struct.unpack('<Q', b[:8])[0]])\n"
	                     "print(h['conv1.weight']['shape'], h['conv2.weight']['shape'], h['fc1.weight']['shape'], "
	                     "h['out.weight']['shape'])\n";
	ASSERT_EQ(cft::run("python3 " + cft::shq(py) + " " + cft::shq(m1 + "/model.safetensors"), &out), 0) << out;
	EXPECT_EQ(out, "[6, 1, 5, 5] [16, 6, 5, 5] [120, 400] [2, 84]\n");
	// predict: one row per image, in index.csv's order
	std::string pred = dir + "/pred.csv";
	ASSERT_EQ(cft::run(bin + " predict " + cft::shq(m1) + " " + cft::shq(fp) + " -o " + cft::shq(pred) + " --quiet 2>&1",
	                   &out), 0) << out;
	auto rows = cft::split(read_text(pred), '\n'), index = cft::split(read_text(fp + "/index.csv"), '\n');
	EXPECT_EQ(rows[0], "dir,image,predicted,p_large,p_small");
	ASSERT_EQ(rows.size(), index.size());
	for (size_t i = 1; i + 1 < rows.size(); i++) {
		auto f = cft::split(rows[i], ',');
		ASSERT_EQ(f.size(), 5u);
		EXPECT_EQ(f[1], std::to_string(i - 1));
		EXPECT_NEAR(std::stod(f[3]) + std::stod(f[4]), 1.0, 1e-6);
	}
	// a nested model's data is not a FlowPic directory
	std::string bad = dir + "/bad";
	EXPECT_NE(cft::run(bin + " train --model flowpic-mini " + cft::shq(dir + "/small") + " -o " + cft::shq(bad) +
	                   " 2>&1", &out), 0);
	EXPECT_NE(out.find("not a cuflow flowpic output directory"), std::string::npos) << out;
}

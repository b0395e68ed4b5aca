// The "netml" and "flowpic" producers (cuflow/producers.h) against the
// library paths they wrap, on captures written here with cf_synth_write:
//
//  * ProducerNetml: cf_producer_scan_file over three captures gives, table by
//    table, the rows of cf_netml_scan_file + finish + labels + cf_netml_table
//    per file with the same fixed dim and blocks, value for value (every
//    column's bytes; FFT rows too, since the blocks are the same); schemas
//    equal the per-file tables'; labels (constant, CIC CSV that drops some
//    subflows, a file it has no row for); counters named and per file; files
//    without rows counted; a truncated capture keeps its earlier packets;
//    errors have messages, and a failed output leaves nothing to the next
//    file; cf_netml_opts.fixed_dim at the capture's own dim changes nothing.
//  * ProducerFlowpic: the index and image tables equal cf_flowpic_scan_file's
//    images (index rows as cf_flowpic_index gives them, pixels memcmp), with
//    and without labels (a rules CSV that drops UDP sessions, dropped from both
//    tables), both tables emitted together in batches of at most batch_rows
//    (and at most 64 MiB), the image column's dtype and shape, counters per
//    file, a truncated capture, a failed output (the next file's rows are a
//    fresh instance's), labels from the input's directory, instances in
//    parallel threads.
//  * ProducerRegistry: cf_producer_find finds "netml" and "flowpic".
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include "cuflow/cuflow.h"
#include "cuflow/flowpic_index.h"
#include "cuflow/netml_table.h"
#include "cuflow/producers.h"
#include "cuflow/synth.h"
#include "test_util.h"

namespace {

// ------------------------------------------------------------ tables as bytes

// Every column of the rows seen, as bytes: fixed-size values as they are,
// strings as (length, bytes) per element, so that batches cut differently
// and string offsets that start anywhere compare equal.
struct TableData {
	std::vector<std::vector<uint8_t>> cols;
	int64_t rows = 0;
	std::vector<int64_t> batches; // n_rows of each batch
	bool digest = false;          // fixed-size columns: a 64-bit FNV-1a per row (large images)
};

uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *b = static_cast<const uint8_t *>(p);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

void put_bytes(std::vector<uint8_t> &v, const void *p, size_t n)
{
	const uint8_t *b = static_cast<const uint8_t *>(p);
	v.insert(v.end(), b, b + n);
}

void append_batch(const cf_table_schema *s, const cf_table_batch *b, TableData *d)
{
	uint32_t nc = cf_table_schema_columns(s);
	ASSERT_EQ(b->n_columns, nc);
	char err[CF_ERRBUF_SIZE];
	ASSERT_EQ(cf_table_batch_check(s, b, err), CF_OK) << err;
	d->cols.resize(nc);
	for (uint32_t i = 0; i < nc; i++) {
		const cf_table_column *c = cf_table_schema_column(s, i);
		const cf_table_array &a = b->columns[i];
		int64_t n = b->n_rows * c->width;
		std::vector<uint8_t> &out = d->cols[i];
		if (a.validity)
			for (int64_t r = 0; r < b->n_rows; r++)
				out.push_back((uint8_t)(2 + cf_bitmap_get(a.validity, r)));
		if (c->dtype == CF_DTYPE_STRING || c->dtype == CF_DTYPE_LARGE_STRING) {
			for (int64_t k = 0; k < n; k++) {
				int64_t o0, o1;
				if (c->dtype == CF_DTYPE_STRING) {
					o0 = static_cast<const int32_t *>(a.values)[k];
					o1 = static_cast<const int32_t *>(a.values)[k + 1];
				} else {
					o0 = static_cast<const int64_t *>(a.values)[k];
					o1 = static_cast<const int64_t *>(a.values)[k + 1];
				}
				int64_t len = o1 - o0;
				put_bytes(out, &len, sizeof len);
				put_bytes(out, a.data + o0, (size_t)len);
			}
		} else if (c->dtype == CF_DTYPE_BOOL) {
			for (int64_t k = 0; k < n; k++)
				out.push_back((uint8_t)cf_bitmap_get(static_cast<const uint8_t *>(a.values), k));
		} else if (d->digest) {
			size_t row = (size_t)c->width * cf_dtype_size(c->dtype);
			for (int64_t r = 0; r < b->n_rows; r++) {
				uint64_t h = fnv1a(static_cast<const uint8_t *>(a.values) + (size_t)r * row, row);
				put_bytes(out, &h, sizeof h);
			}
		} else if (n) {
			put_bytes(out, a.values, (size_t)n * cf_dtype_size(c->dtype));
		}
	}
	d->rows += b->n_rows;
	d->batches.push_back(b->n_rows);
}

std::string schema_json(const cf_table_schema *s)
{
	size_t len = 0;
	cf_table_schema_json(s, nullptr, 0, &len);
	std::string j(len + 1, '\0');
	EXPECT_EQ(cf_table_schema_json(s, &j[0], j.size(), &len), CF_OK);
	j.resize(len);
	return j;
}

void expect_same_table(const TableData &got, const TableData &want, const std::string &what)
{
	ASSERT_EQ(got.rows, want.rows) << what;
	ASSERT_EQ(got.cols.size(), want.cols.size()) << what;
	for (size_t i = 0; i < want.cols.size(); i++)
		EXPECT_TRUE(got.cols[i] == want.cols[i]) << what << ": column " << i << " differs";
}

// ------------------------------------------------------------ a producer run

// Collects what a producer instance emits.
struct Collector {
	const cf_producer_ops *ops = nullptr;
	void *state = nullptr;
	std::vector<TableData> tables;
	std::vector<std::pair<uint32_t, int64_t>> calls; // (table, rows) in emit order
	int fail_with = 0;                               // < 0: emit returns it ...
	int64_t fail_calls = -1;                         // ... this many times (-1: always)
	bool digest_images = false;                      // table 1 (flowpic images) as digests
};

int collect(void *user, uint32_t t, const cf_table_batch *b)
{
	Collector *c = static_cast<Collector *>(user);
	if (c->fail_with < 0 && c->fail_calls != 0) {
		if (c->fail_calls > 0)
			c->fail_calls--;
		return c->fail_with;
	}
	EXPECT_LT(t, c->tables.size());
	if (t >= c->tables.size())
		return CF_ERR_ARG;
	c->calls.push_back({t, b->n_rows});
	append_batch(c->ops->schema(c->state, t), b, &c->tables[t]);
	return CF_OK;
}

struct Scan {
	cf_scan_opts so;
	Scan()
	{
		char err[CF_ERRBUF_SIZE];
		memset(&so, 0, sizeof so);
		cf_decode_opts_default(&so.decode);
		EXPECT_EQ(cf_backend_open(CF_BACKEND_CPU, &so.backend, err), CF_OK) << err;
	}
	~Scan() { cf_backend_close(so.backend); }
};

struct FileResult {
	int status = 0;
	uint64_t ids_used = 0;
	std::vector<cf_producer_counter> counters;
	uint64_t counter(const char *name) const
	{
		for (const auto &c : counters)
			if (!strcmp(c.name, name))
				return c.value;
		ADD_FAILURE() << "no counter " << name;
		return 0;
	}
};

// Opens ops with config, scans `files` in order; the collector holds the
// rows. Returns the open status (message in *err).
int run_producer(const cf_producer_ops *ops, const void *config, const std::vector<std::string> &files,
                 Collector *col, std::vector<FileResult> *per_file, std::string *err)
{
	Scan sc;
	cf_producer_env env;
	env.backend = sc.so.backend;
	env.emit = collect;
	env.user = col;
	char eb[CF_ERRBUF_SIZE] = "";
	void *state = nullptr;
	int st = ops->open(config, &env, &state, eb);
	if (err)
		*err = eb;
	if (st != CF_OK) {
		EXPECT_EQ(state, nullptr);
		EXPECT_NE(eb[0], 0) << "an open error without a message";
		return st;
	}
	col->ops = ops;
	col->state = state;
	col->tables.assign(ops->tables(state), TableData());
	if (col->digest_images && col->tables.size() > 1)
		col->tables[1].digest = true;
	cf_scan_result *res = new cf_scan_result;
	for (size_t i = 0; i < files.size(); i++) {
		cf_producer_file f = {files[i].c_str(), i};
		FileResult fr;
		fr.status = cf_producer_scan_file(ops, state, &f, &sc.so, res, &fr.ids_used);
		if (fr.status < 0 && res->status >= 0) {
			EXPECT_NE(ops->error(state)[0], 0) << "a producer error without a message";
		}
		uint32_t n = ops->counters(state, nullptr, 0);
		fr.counters.resize(n);
		EXPECT_EQ(ops->counters(state, fr.counters.data(), n), n);
		per_file->push_back(fr);
	}
	delete res;
	ops->close(state);
	col->state = nullptr;
	return CF_OK;
}

// ------------------------------------------------------------ captures

std::string synth(uint64_t seed, uint64_t flows, bool ns = false) { return cft::synth_pcap(seed, flows, ns); }

// The first `keep` of a capture's bytes (cut inside a record).
std::string truncated(const std::string &src, double keep)
{
	std::vector<uint8_t> b = cft::read_file(src);
	b.resize((size_t)(b.size() * keep) | 1); // odd: not on a record boundary by luck
	std::string path = cft::temp_path(".pcap");
	cft::write_file(path, b);
	return path;
}

// One UDP packet: no flow survives netml's threshold.
std::string one_packet()
{
	const uint8_t a[6] = {2, 0, 0, 0, 0, 1}, b[6] = {2, 0, 0, 0, 0, 2};
	std::vector<cft::Frame> fr;
	fr.push_back({1500000000000000000LL, cft::cat(cft::eth(a, b, 0x0800), cft::ipv4(0x0a000001, 0x0a000002, 17,
	                                                                                 cft::udp(1000, 53, {1, 2, 3})))});
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, fr);
	return path;
}

// One UDP flow of 4 packets, 192.0.2.1 -> 192.0.2.2: a subflow netml keeps.
std::string small_flow()
{
	const uint8_t a[6] = {2, 0, 0, 0, 0, 1}, b[6] = {2, 0, 0, 0, 0, 2};
	std::vector<cft::Frame> fr;
	for (int i = 0; i < 4; i++)
		fr.push_back({1500000000000000000LL + i * 250000000LL,
		              cft::cat(cft::eth(a, b, 0x0800), cft::ipv4(0xc0000201, 0xc0000202, 17, cft::udp(1000, 53, {1, 2})))});
	std::string path = cft::temp_path(".pcap");
	cft::write_pcap(path, 1, fr);
	return path;
}

const std::vector<std::string> &captures()
{
	static const std::vector<std::string> c = {synth(1, 400), synth(2, 300, true), synth(3, 500)};
	return c;
}

// ------------------------------------------------------------ netml, library path

struct NetmlRef {
	std::vector<TableData> tables; // one per selected type
	std::vector<std::string> schemas;
	std::vector<cf_netml_counters> counters;
	std::vector<int> no_data;
	std::vector<uint32_t> natural_dim;
};

// The rows `cuflow netml --format parquet` would write for each file, with
// the producer's fixed dim; labels as the config says.
NetmlRef netml_reference(const cf_netml_producer_config &c, const std::vector<std::string> &files)
{
	NetmlRef r;
	Scan sc;
	std::vector<int> types;
	for (int t = 0; t < CF_NETML_TYPE_COUNT; t++)
		if (!c.types || (c.types & (1u << t)))
			types.push_back(t);
	r.tables.resize(types.size());
	r.schemas.resize(types.size());
	cf_scan_result *res = new cf_scan_result;
	char err[CF_ERRBUF_SIZE];
	for (const std::string &f : files) {
		cf_netml_opts o = c.netml;
		o.fixed_dim = c.dim;
		cf_netml *h = nullptr;
		EXPECT_EQ(cf_netml_open(&o, &h, err), CF_OK) << err;
		cf_netml_scan_file(h, f.c_str(), &sc.so, res);
		int st = cf_netml_finish(h);
		if (st == CF_OK && c.labels_csv)
			st = cf_netml_label_csv(h, c.labels_csv, err);
		else if (st == CF_OK && c.have_label)
			cf_netml_label_constant(h, c.label);
		r.no_data.push_back(st == CF_ERR_NO_DATA);
		if (st == CF_OK) {
			for (size_t i = 0; i < types.size(); i++) {
				cf_netml_table *t = nullptr;
				// the same blocks as the producer's: FFTW's result for a row
				// may differ in the last bit with the block's alignment
				uint32_t blk = c.batch_rows;
				EXPECT_EQ(cf_netml_table_create(h, types[i], c.fft, c.header, c.labels_csv || c.have_label, blk, &t,
				                                err),
				          CF_OK)
				        << err;
				r.schemas[i] = schema_json(cf_netml_table_schema(t));
				uint64_t n = cf_netml_rows(h);
				for (uint64_t row = 0; row < n; row += blk) {
					const cf_table_batch *b;
					uint32_t k = (uint32_t)(n - row < blk ? n - row : blk);
					EXPECT_EQ(cf_netml_table_fill(t, sc.so.backend, row, k, &b), CF_OK) << cf_netml_error(h);
					append_batch(cf_netml_table_schema(t), b, &r.tables[i]);
				}
				cf_netml_table_free(t);
			}
		} else {
			EXPECT_EQ(st, CF_ERR_NO_DATA) << cf_netml_error(h) << " " << err;
		}
		cf_netml_counters k;
		cf_netml_counters_get(h, &k);
		r.counters.push_back(k);
		cf_netml_close(h);
		// the capture's own dim (netml's quantile), for the fixed_dim test
		cf_netml_opts q = c.netml;
		q.fixed_dim = 0;
		EXPECT_EQ(cf_netml_open(&q, &h, err), CF_OK) << err;
		cf_netml_scan_file(h, f.c_str(), &sc.so, res);
		r.natural_dim.push_back(cf_netml_finish(h) == CF_OK ? cf_netml_dim(h) : 0);
		cf_netml_close(h);
	}
	delete res;
	return r;
}

const char *const kNetmlCounters[] = {"packets",          "skipped_decode",     "not_tcp_udp",       "kept",
                                      "ipv6_pseudo",      "flows",              "pkts_small_flow",   "pkts_timeout_tail",
                                      "pkts_small_chunk", "chunks",             "pkts_interval_tail", "pkts_small_subflow",
                                      "pkts_unlabelled",  "subflows_unlabelled", "subflows",          "pkts_in_rows",
                                      "files_no_data"};

void check_netml(const cf_netml_producer_config &c, const std::vector<std::string> &files, const std::string &what)
{
	SCOPED_TRACE(what);
	NetmlRef ref = netml_reference(c, files);
	Collector col;
	std::vector<FileResult> pf;
	std::string err;
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, files, &col, &pf, &err), CF_OK) << err;
	ASSERT_EQ(col.tables.size(), ref.tables.size());
	uint64_t rows = 0;
	for (size_t i = 0; i < ref.tables.size(); i++) {
		expect_same_table(col.tables[i], ref.tables[i], "table " + std::to_string(i));
		rows += (uint64_t)ref.tables[i].rows;
		for (int64_t n : col.tables[i].batches)
			EXPECT_LE(n, (int64_t)c.batch_rows);
	}
	EXPECT_GT(rows, 0u) << "the captures gave no rows: nothing compared";
	ASSERT_EQ(pf.size(), files.size());
	for (size_t f = 0; f < files.size(); f++) {
		const FileResult &r = pf[f];
		EXPECT_EQ(r.ids_used, 0u);
		ASSERT_EQ(r.counters.size(), sizeof kNetmlCounters / sizeof *kNetmlCounters);
		for (size_t i = 0; i < r.counters.size(); i++)
			EXPECT_STREQ(r.counters[i].name, kNetmlCounters[i]);
		const cf_netml_counters &k = ref.counters[f];
		EXPECT_EQ(r.counter("packets"), k.packets) << "file " << f;
		EXPECT_EQ(r.counter("kept"), k.kept) << "file " << f;
		EXPECT_EQ(r.counter("flows"), k.flows) << "file " << f;
		EXPECT_EQ(r.counter("subflows"), k.subflows) << "file " << f;
		EXPECT_EQ(r.counter("pkts_in_rows"), k.pkts_in_rows) << "file " << f;
		EXPECT_EQ(r.counter("pkts_unlabelled"), k.pkts_unlabelled) << "file " << f;
		EXPECT_EQ(r.counter("subflows_unlabelled"), k.subflows_unlabelled) << "file " << f;
		EXPECT_EQ(r.counter("files_no_data"), (uint64_t)ref.no_data[f]) << "file " << f;
		EXPECT_EQ(r.counter("packets"), r.counter("skipped_decode") + r.counter("not_tcp_udp") + r.counter("kept"));
	}
}

cf_netml_producer_config netml_config(uint32_t dim)
{
	cf_netml_producer_config c;
	cf_netml_producer_config_default(&c);
	c.dim = dim;
	c.batch_rows = 37; // several blocks per file
	return c;
}

TEST(ProducerNetml, DefaultsAndSchema)
{
	cf_netml_producer_config c;
	cf_netml_producer_config_default(&c);
	EXPECT_EQ(c.types, 0u);
	EXPECT_EQ(c.fft, 0);
	EXPECT_EQ(c.header, 0);
	EXPECT_EQ(c.batch_rows, 4096u);
	EXPECT_EQ(c.dim, 0u);
	EXPECT_DOUBLE_EQ(c.netml.q_interval, 0.9);
	EXPECT_EQ(c.netml.flow_pkts_thres, 2u);

	// dim 0: refused with a message that says what to set
	Collector col;
	std::vector<FileResult> pf;
	std::string err;
	EXPECT_EQ(run_producer(cf_producer_netml(), &c, {}, &col, &pf, &err), CF_ERR_ARG);
	EXPECT_NE(err.find("dim"), std::string::npos) << err;
	c.dim = 1;
	EXPECT_EQ(run_producer(cf_producer_netml(), &c, {}, &col, &pf, &err), CF_ERR_ARG);
	c.dim = 8;
	c.types = 1u << CF_NETML_TYPE_COUNT;
	EXPECT_EQ(run_producer(cf_producer_netml(), &c, {}, &col, &pf, &err), CF_ERR_ARG);
	c.types = 0;
	c.netml.q_interval = 2; // netml's own checks
	EXPECT_EQ(run_producer(cf_producer_netml(), &c, {}, &col, &pf, &err), CF_ERR_ARG);
	EXPECT_NE(err.find("q_interval"), std::string::npos) << err;
	c.netml.q_interval = 0.9;
	c.labels_csv = "/nonexistent/labels.csv";
	EXPECT_EQ(run_producer(cf_producer_netml(), &c, {}, &col, &pf, &err), CF_ERR_IO);
	c.labels_csv = nullptr;

	// tables: every type in enum order, named as netml, each schema that of
	// cf_netml_table with this dim
	cf_producer_env env = {nullptr, collect, &col};
	char eb[CF_ERRBUF_SIZE];
	for (int header = 0; header < 2; header++) {
		c.header = header;
		c.have_label = header;
		void *st = nullptr;
		ASSERT_EQ(cf_producer_netml()->open(&c, &env, &st, eb), CF_OK) << eb;
		ASSERT_EQ(cf_producer_netml()->tables(st), (uint32_t)CF_NETML_TYPE_COUNT);
		NetmlRef ref = netml_reference(c, {captures()[0]});
		for (uint32_t t = 0; t < CF_NETML_TYPE_COUNT; t++) {
			EXPECT_STREQ(cf_producer_netml()->table_name(st, t), cf_netml_type_name((int)t));
			EXPECT_EQ(schema_json(cf_producer_netml()->schema(st, t)), ref.schemas[t]) << t;
		}
		const cf_table_schema *s = cf_producer_netml()->schema(st, CF_NETML_IAT_SIZE);
		const cf_table_column *feat = cf_table_schema_column(s, (uint32_t)cf_table_schema_find(s, "features"));
		EXPECT_EQ(feat->width, 2 * 8u - 1);
		EXPECT_EQ(cf_table_schema_find(s, "label") >= 0, header == 1);
		cf_decode_opts d;
		cf_decode_opts_default(&d);
		cf_producer_netml()->decode_opts(st, &d);
		EXPECT_EQ(d.decap, (uint32_t)CF_DECAP_NONE);
		cf_producer_netml()->close(st);
	}
	// a subset of types, in enum order whatever the bits
	c.types = (1u << CF_NETML_STATS) | (1u << CF_NETML_IAT);
	void *st = nullptr;
	ASSERT_EQ(cf_producer_netml()->open(&c, &env, &st, eb), CF_OK) << eb;
	ASSERT_EQ(cf_producer_netml()->tables(st), 2u);
	EXPECT_STREQ(cf_producer_netml()->table_name(st, 0), "IAT");
	EXPECT_STREQ(cf_producer_netml()->table_name(st, 1), "STATS");
	EXPECT_EQ(cf_producer_netml()->table_name(st, 2), nullptr);
	EXPECT_EQ(cf_producer_netml()->schema(st, 2), nullptr);
	cf_producer_netml()->close(st);
}

TEST(ProducerNetml, SameRowsAsLibrary)
{
	check_netml(netml_config(10), captures(), "every type, dim 10");
	cf_netml_producer_config c = netml_config(3);
	c.header = 1;
	c.fft = 1;
	c.have_label = 1;
	c.label = 7;
	c.types = (1u << CF_NETML_IAT_SIZE) | (1u << CF_NETML_SAMP_SIZE) | (1u << CF_NETML_STATS);
	check_netml(c, captures(), "header, fft, constant label, dim 3");
	c = netml_config(40);
	c.netml.keep_trailing = 1;
	c.netml.ipv6_flows = 1;
	c.batch_rows = 4096;
	check_netml(c, captures(), "fixed variants, dim 40, one block");
}

TEST(ProducerNetml, LabelFile)
{
	// a CIC-IDS2017 file naming every other subflow of the first capture
	// (label 1) and some of the second's as BENIGN: the others are dropped
	Scan sc;
	cf_scan_result *res = new cf_scan_result;
	char err[CF_ERRBUF_SIZE];
	std::string csv = " Source IP, Destination IP, Source Port, Destination Port, Protocol, Label\n";
	for (size_t f = 0; f < 2; f++) {
		cf_netml *h = nullptr;
		ASSERT_EQ(cf_netml_open(nullptr, &h, err), CF_OK);
		cf_netml_scan_file(h, captures()[f].c_str(), &sc.so, res);
		ASSERT_EQ(cf_netml_finish(h), CF_OK);
		for (uint64_t i = f; i < cf_netml_rows(h); i += 2 + f) {
			cf_netml_subflow s;
			cf_netml_subflow_at(h, i, &s);
			if (s.ip_version != 4)
				continue;
			char a[64], b[64];
			snprintf(a, sizeof a, "%u.%u.%u.%u", s.src_ip[0], s.src_ip[1], s.src_ip[2], s.src_ip[3]);
			snprintf(b, sizeof b, "%u.%u.%u.%u", s.dst_ip[0], s.dst_ip[1], s.dst_ip[2], s.dst_ip[3]);
			csv += std::string(a) + "," + b + "," + std::to_string(s.src_port) + "," + std::to_string(s.dst_port) +
			       "," + std::to_string(s.proto) + "," + (f ? "BENIGN" : "DoS") + "\n";
		}
		cf_netml_close(h);
	}
	delete res;
	std::string path = cft::temp_path(".csv");
	cft::write_file(path, std::vector<uint8_t>(csv.begin(), csv.end()));
	cf_netml_producer_config c = netml_config(12);
	c.labels_csv = path.c_str();
	std::vector<std::string> files = {captures()[0], captures()[1], small_flow()};
	check_netml(c, files, "CIC label file");
	// the third capture has no row in it: no rows, counted, not an error
	Collector col;
	std::vector<FileResult> pf;
	std::string e;
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, files, &col, &pf, &e), CF_OK) << e;
	ASSERT_EQ(pf.size(), 3u);
	EXPECT_EQ(pf[2].status, CF_OK);
	EXPECT_EQ(pf[0].counter("files_no_data"), 0u);
	EXPECT_GT(pf[0].counter("subflows_unlabelled"), 0u);
	EXPECT_EQ(pf[2].counter("files_no_data"), 1u);
	EXPECT_EQ(pf[2].counter("subflows_unlabelled"), 1u);
	EXPECT_EQ(pf[2].counter("pkts_unlabelled"), 4u);
	// without the label file, the same capture has its row
	c.labels_csv = nullptr;
	Collector col2;
	std::vector<FileResult> pf2;
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, {files[2]}, &col2, &pf2, &e), CF_OK) << e;
	EXPECT_EQ(pf2[0].counter("files_no_data"), 0u);
	EXPECT_EQ(col2.tables[0].rows, 1);
}

TEST(ProducerNetml, NoDataAndDamage)
{
	std::string one = one_packet(), cut = truncated(captures()[0], 0.55);
	std::vector<std::string> files = {captures()[1], one, cut, captures()[2]};
	check_netml(netml_config(6), files, "one-packet and truncated captures");
	Collector col;
	std::vector<FileResult> pf;
	std::string err;
	cf_netml_producer_config c = netml_config(6);
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, files, &col, &pf, &err), CF_OK) << err;
	EXPECT_EQ(pf[0].status, CF_OK);
	EXPECT_EQ(pf[1].status, CF_OK); // no rows is not an error
	EXPECT_EQ(pf[1].counter("files_no_data"), 1u);
	EXPECT_EQ(pf[1].counter("packets"), 1u);
	EXPECT_EQ(pf[2].status, CF_ERR_TRUNCATED); // the scan's status ...
	EXPECT_EQ(pf[2].counter("files_no_data"), 0u);
	EXPECT_GT(pf[2].counter("subflows"), 0u); // ... and the rows before the damage
	EXPECT_EQ(pf[3].status, CF_OK);
	EXPECT_EQ(pf[3].counter("files_no_data"), 0u); // per file: reset
	// a missing file: the scan's error, no rows, not counted as no data
	Collector col2;
	std::vector<FileResult> pf2;
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, {"/nonexistent.pcap"}, &col2, &pf2, &err), CF_OK);
	EXPECT_LT(pf2[0].status, 0);
	EXPECT_EQ(pf2[0].counter("files_no_data"), 0u);
	for (const TableData &t : col2.tables)
		EXPECT_EQ(t.rows, 0);
}

TEST(ProducerNetml, OutputErrorStopsTheFile)
{
	Collector col;
	col.fail_with = CF_ERR_IO;
	std::vector<FileResult> pf;
	std::string err;
	cf_netml_producer_config c = netml_config(5);
	// run_producer checks that the failing file's error has a message
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, {captures()[0], captures()[1]}, &col, &pf, &err), CF_OK);
	EXPECT_EQ(pf[0].status, CF_ERR_IO);
	EXPECT_EQ(pf[1].status, CF_ERR_IO);
	Collector col3, fresh;
	col3.fail_with = CF_ERR_IO;
	col3.fail_calls = 1;
	std::vector<FileResult> pf3, pf4;
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, {captures()[0], captures()[1]}, &col3, &pf3, &err), CF_OK);
	EXPECT_EQ(pf3[0].status, CF_ERR_IO);
	EXPECT_EQ(pf3[1].status, CF_OK);
	ASSERT_EQ(run_producer(cf_producer_netml(), &c, {captures()[1]}, &fresh, &pf4, &err), CF_OK);
	for (size_t t = 0; t < fresh.tables.size(); t++)
		expect_same_table(col3.tables[t], fresh.tables[t], "after a failed file");
}

TEST(ProducerNetml, FixedDimAtTheNaturalDimChangesNothing)
{
	// cf_netml_opts.fixed_dim set to the capture's own quantile dim gives
	// netml's matrices bit for bit (fixed_dim 0 is netml)
	Scan sc;
	cf_scan_result *res = new cf_scan_result;
	char err[CF_ERRBUF_SIZE];
	for (const std::string &f : captures()) {
		std::vector<double> m[2];
		uint32_t dim = 0;
		for (int pass = 0; pass < 2; pass++) {
			cf_netml_opts o;
			cf_netml_opts_default(&o);
			o.fixed_dim = pass ? dim : 0;
			cf_netml *h = nullptr;
			ASSERT_EQ(cf_netml_open(&o, &h, err), CF_OK) << err;
			cf_netml_scan_file(h, f.c_str(), &sc.so, res);
			ASSERT_EQ(cf_netml_finish(h), CF_OK) << cf_netml_error(h);
			if (!pass)
				dim = cf_netml_dim(h);
			EXPECT_EQ(cf_netml_dim(h), dim);
			for (int t = 0; t < CF_NETML_TYPE_COUNT; t++) {
				uint32_t cols = cf_netml_row_cols(h, t, 1);
				std::vector<double> v(cf_netml_rows(h) * cols);
				ASSERT_EQ(cf_netml_features(h, sc.so.backend, t, 0, 1, 0, cf_netml_rows(h), v.data()), CF_OK);
				m[pass].insert(m[pass].end(), v.begin(), v.end());
			}
			cf_netml_close(h);
		}
		ASSERT_GE(dim, 2u);
		ASSERT_EQ(m[0].size(), m[1].size());
		EXPECT_EQ(memcmp(m[0].data(), m[1].data(), m[0].size() * sizeof(double)), 0) << f;
	}
	delete res;
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.fixed_dim = 1;
	cf_netml *h = nullptr;
	EXPECT_EQ(cf_netml_open(&o, &h, err), CF_ERR_ARG);
	EXPECT_NE(std::string(err).find("fixed_dim"), std::string::npos) << err;
}

// ------------------------------------------------------------ flowpic, library path

struct PicRef {
	TableData index;
	std::vector<uint8_t> pixels;
	std::vector<cf_flowpic_counters> counters; // per file
	std::vector<uint64_t> dropped;             // per file
};

struct PicSink {
	cf_flowpic_index *idx;
	cf_labeler *lab;
	TableData *index;
	std::vector<uint8_t> *pixels;
	size_t img_bytes;
	uint64_t dropped;
	bool digest;
};

// cmd_flowpic.c's emit_image, into an index table and a pixel vector.
int pic_emit(void *user, const cf_flowpic_image *im)
{
	PicSink *s = static_cast<PicSink *>(user);
	int64_t label = -1;
	if (s->lab) {
		cf_label_query q = {im->ip_version, im->proto, im->src_ip, im->dst_ip, im->src_port, im->dst_port,
		                    im->first_ns, im->last_ns};
		int id = cf_labeler_match(s->lab, &q);
		if (id == CF_LABEL_DROP) {
			s->dropped++;
			return 0;
		}
		label = id;
	}
	const char *name = label >= 0 ? cf_labeler_name(s->lab, (uint32_t)label) : nullptr;
	EXPECT_EQ(cf_flowpic_index_add(s->idx, im, label, name), CF_OK);
	const uint8_t *p = static_cast<const uint8_t *>(im->pixels);
	if (s->digest) {
		uint64_t h = fnv1a(p, s->img_bytes);
		put_bytes(*s->pixels, &h, sizeof h);
	} else {
		s->pixels->insert(s->pixels->end(), p, p + s->img_bytes);
	}
	if (cf_flowpic_index_full(s->idx)) {
		append_batch(cf_flowpic_index_schema(s->idx), cf_flowpic_index_batch(s->idx), s->index);
		cf_flowpic_index_reset(s->idx);
	}
	return 0;
}

PicRef flowpic_reference(const cf_flowpic_producer_config &c, const std::vector<std::string> &files, bool digest)
{
	PicRef r;
	Scan sc;
	char err[CF_ERRBUF_SIZE];
	PicSink s = {nullptr, nullptr, &r.index, &r.pixels, 0, 0, digest};
	s.img_bytes = cf_flowpic_channels(&c.pic) * c.pic.res * c.pic.res * cf_flowpic_pixel_bytes(&c.pic);
	if (c.labels.csv) {
		EXPECT_EQ(cf_labeler_open_csv(c.labels.csv, &c.labels.csv_opts, &s.lab, err), CF_OK) << err;
	} else if (c.labels.constant) {
		EXPECT_EQ(cf_labeler_open_constant(c.labels.constant, &s.lab, err), CF_OK) << err;
	}
	EXPECT_EQ(cf_flowpic_index_create(1000, s.lab != nullptr, &s.idx, err), CF_OK) << err;
	cf_flowpic *h = nullptr;
	EXPECT_EQ(cf_flowpic_open(&c.pic, sc.so.backend, pic_emit, &s, &h, err), CF_OK) << err;
	cf_scan_result *res = new cf_scan_result;
	cf_flowpic_counters before;
	memset(&before, 0, sizeof before);
	for (const std::string &f : files) {
		s.dropped = 0;
		cf_flowpic_scan_file(h, f.c_str(), &sc.so, res);
		cf_flowpic_counters k;
		cf_flowpic_counters_get(h, &k);
		cf_flowpic_counters d = k;
		uint64_t *pd = reinterpret_cast<uint64_t *>(&d);
		const uint64_t *pb = reinterpret_cast<const uint64_t *>(&before);
		for (size_t i = 0; i < sizeof d / sizeof(uint64_t); i++)
			pd[i] -= pb[i];
		r.counters.push_back(d);
		r.dropped.push_back(s.dropped);
		before = k;
	}
	if (cf_flowpic_index_count(s.idx))
		append_batch(cf_flowpic_index_schema(s.idx), cf_flowpic_index_batch(s.idx), &r.index);
	delete res;
	cf_flowpic_close(h);
	cf_flowpic_index_free(s.idx);
	cf_labeler_close(s.lab);
	return r;
}

const char *const kPicCounters[] = {"packets", "skipped_decode", "not_used",       "after_window", "sessions",
                                    "windows", "windows_small",  "windows_short",  "images",       "entries",
                                    "entries_outside", "batches", "images_unlabelled_dropped"};

// Runs the producer over files and compares with the library; returns the
// producer's per-file results.
std::vector<FileResult> check_flowpic(const cf_flowpic_producer_config &c, const std::vector<std::string> &files,
                                      const std::string &what, uint32_t expect_cap, bool digest = false)
{
	SCOPED_TRACE(what);
	PicRef ref = flowpic_reference(c, files, digest);
	Collector col;
	col.digest_images = digest;
	std::vector<FileResult> pf;
	std::string err;
	EXPECT_EQ(run_producer(cf_producer_flowpic(), &c, files, &col, &pf, &err), CF_OK) << err;
	if (col.tables.size() != 2) {
		ADD_FAILURE() << "tables: " << col.tables.size();
		return pf;
	}
	expect_same_table(col.tables[0], ref.index, "index");
	EXPECT_GT(ref.index.rows, 0) << "no images: nothing compared";
	EXPECT_EQ(col.tables[1].rows, col.tables[0].rows);
	EXPECT_EQ(col.tables[1].cols.size(), 1u);
	if (col.tables[1].cols.size() == 1) {
		EXPECT_EQ(col.tables[1].cols[0].size(), ref.pixels.size());
		EXPECT_TRUE(col.tables[1].cols[0] == ref.pixels) << "pixels differ";
	}
	// index then images, same rows, at most the batch size
	EXPECT_EQ(col.calls.size() % 2, 0u);
	for (size_t i = 0; i + 1 < col.calls.size(); i += 2) {
		EXPECT_EQ(col.calls[i].first, 0u);
		EXPECT_EQ(col.calls[i + 1].first, 1u);
		EXPECT_EQ(col.calls[i].second, col.calls[i + 1].second);
		EXPECT_GT(col.calls[i].second, 0);
		EXPECT_LE(col.calls[i].second, (int64_t)expect_cap);
	}
	EXPECT_EQ(pf.size(), files.size());
	for (size_t f = 0; f < pf.size() && f < ref.counters.size(); f++) {
		const FileResult &r = pf[f];
		EXPECT_EQ(r.counters.size(), sizeof kPicCounters / sizeof *kPicCounters);
		for (size_t i = 0; i < r.counters.size() && i < sizeof kPicCounters / sizeof *kPicCounters; i++)
			EXPECT_STREQ(r.counters[i].name, kPicCounters[i]);
		const cf_flowpic_counters &k = ref.counters[f];
		EXPECT_EQ(r.counter("packets"), k.packets) << f;
		EXPECT_EQ(r.counter("skipped_decode"), k.skipped_decode) << f;
		EXPECT_EQ(r.counter("not_used"), k.not_used) << f;
		EXPECT_EQ(r.counter("sessions"), k.sessions) << f;
		EXPECT_EQ(r.counter("windows"), k.windows) << f;
		EXPECT_EQ(r.counter("windows_small"), k.windows_small) << f;
		EXPECT_EQ(r.counter("images"), k.images) << f;
		EXPECT_EQ(r.counter("entries"), k.entries) << f;
		EXPECT_EQ(r.counter("images_unlabelled_dropped"), ref.dropped[f]) << f;
	}
	return pf;
}

cf_flowpic_producer_config mini_config()
{
	cf_flowpic_producer_config c;
	cf_flowpic_producer_config_default(&c);
	EXPECT_EQ(cf_flowpic_preset(&c.pic, "mini"), CF_OK);
	c.pic.min_packets = 3;
	return c;
}

TEST(ProducerFlowpic, DefaultsAndSchema)
{
	cf_flowpic_producer_config c;
	cf_flowpic_producer_config_default(&c);
	cf_flowpic_opts off;
	cf_flowpic_preset(&off, "official");
	EXPECT_EQ(memcmp(&c.pic, &off, sizeof off), 0);
	EXPECT_EQ(c.batch_rows, 64u);
	EXPECT_FALSE(cf_producer_labels_on(&c.labels));

	Collector col;
	cf_producer_env env = {nullptr, collect, &col};
	char eb[CF_ERRBUF_SIZE];
	struct Case {
		int value, direction, sessions, dtype;
		uint32_t res, ch;
	} cases[] = {{CF_FLOWPIC_COUNT, CF_FLOWPIC_UP, CF_FLOWPIC_SESSIONS_UNI, CF_DTYPE_UINT16, 1500, 1},
	             {CF_FLOWPIC_CAPPED, CF_FLOWPIC_BOTH, CF_FLOWPIC_SESSIONS_BIDIR, CF_DTYPE_UINT8, 32, 1},
	             {CF_FLOWPIC_NORM, CF_FLOWPIC_CHANNELS, CF_FLOWPIC_SESSIONS_BIDIR, CF_DTYPE_FLOAT32, 64, 2}};
	for (const Case &k : cases) {
		c.pic.value = k.value;
		c.pic.direction = k.direction;
		c.pic.sessions = k.sessions;
		c.pic.res = k.res;
		for (int labels = 0; labels < 2; labels++) {
			c.labels.constant = labels ? "web" : nullptr;
			void *st = nullptr;
			ASSERT_EQ(cf_producer_flowpic()->open(&c, &env, &st, eb), CF_OK) << eb;
			ASSERT_EQ(cf_producer_flowpic()->tables(st), 2u);
			EXPECT_STREQ(cf_producer_flowpic()->table_name(st, 0), "index");
			EXPECT_STREQ(cf_producer_flowpic()->table_name(st, 1), "images");
			EXPECT_EQ(cf_producer_flowpic()->table_name(st, 2), nullptr);
			cf_flowpic_index *x = nullptr;
			ASSERT_EQ(cf_flowpic_index_create(4, labels, &x, eb), CF_OK);
			EXPECT_EQ(schema_json(cf_producer_flowpic()->schema(st, 0)), schema_json(cf_flowpic_index_schema(x)));
			cf_flowpic_index_free(x);
			const cf_table_schema *s = cf_producer_flowpic()->schema(st, 1);
			ASSERT_EQ(cf_table_schema_columns(s), 1u);
			const cf_table_column *col0 = cf_table_schema_column(s, 0);
			EXPECT_STREQ(col0->name, "image");
			EXPECT_EQ(col0->dtype, k.dtype);
			EXPECT_EQ(col0->width, k.ch * k.res * k.res);
			ASSERT_EQ(col0->ndim, 3u);
			EXPECT_EQ(col0->dims[0], k.ch);
			EXPECT_EQ(col0->dims[1], k.res);
			EXPECT_EQ(col0->dims[2], k.res);
			cf_producer_flowpic()->close(st);
		}
	}
	// errors have messages
	c.labels.constant = nullptr;
	c.pic.res = 0;
	void *st = nullptr;
	eb[0] = 0;
	EXPECT_EQ(cf_producer_flowpic()->open(&c, &env, &st, eb), CF_ERR_ARG);
	EXPECT_NE(eb[0], 0);
	c.pic.res = 4096; // 2 x 4096 x 4096 is over a column
	eb[0] = 0;
	EXPECT_EQ(cf_producer_flowpic()->open(&c, &env, &st, eb), CF_ERR_ARG);
	EXPECT_NE(eb[0], 0);
	c.pic.res = 32;
	c.batch_rows = 0;
	eb[0] = 0;
	EXPECT_EQ(cf_producer_flowpic()->open(&c, &env, &st, eb), CF_ERR_ARG);
	EXPECT_NE(eb[0], 0);
	c.batch_rows = 64;
	c.labels.csv = "/nonexistent/labels.csv";
	eb[0] = 0;
	EXPECT_LT(cf_producer_flowpic()->open(&c, &env, &st, eb), 0);
	EXPECT_NE(eb[0], 0);
	EXPECT_EQ(st, nullptr);
}

TEST(ProducerFlowpic, SameImagesAsLibrary)
{
	cf_flowpic_producer_config c = mini_config();
	c.batch_rows = 5; // many batches, and a partial one at each file's end
	check_flowpic(c, captures(), "mini, batches of 5", 5);

	c = mini_config();
	c.pic.sessions = CF_FLOWPIC_SESSIONS_BIDIR;
	c.pic.direction = CF_FLOWPIC_CHANNELS;
	c.pic.value = CF_FLOWPIC_NORM;
	c.pic.res = 16;
	c.pic.window_s = 10;
	c.pic.step_s = 5;
	c.pic.time_model = CF_FLOWPIC_TIME_DPKT;
	c.labels.constant = "web";
	check_flowpic(c, captures(), "bidir 2ch norm, overlapping windows, constant label", 64);

	// official 1500 x 1500 counts: batches stop at 64 MiB (14 images); 27
	// images, compared by digest to keep this test's memory small
	cf_flowpic_producer_config o;
	cf_flowpic_producer_config_default(&o);
	o.pic.min_span_s = -1;
	o.pic.min_packets = 60;
	o.pic.max_windows = 1;
	o.pic.window_s = o.pic.step_s = 20;
	check_flowpic(o, {captures()[0]}, "official, 64 MiB batches", 14, true);
}

TEST(ProducerFlowpic, RulesLabelsDropFromBothTables)
{
	std::string path = cft::temp_path(".csv");
	std::string csv = "label,protocol\nweb,tcp\n";
	cft::write_file(path, std::vector<uint8_t>(csv.begin(), csv.end()));
	cf_flowpic_producer_config c = mini_config();
	c.labels.csv = path.c_str();
	c.batch_rows = 7;
	std::vector<FileResult> pf = check_flowpic(c, captures(), "rules CSV: TCP only", 7);
	uint64_t dropped = 0;
	for (const FileResult &r : pf)
		dropped += r.counter("images_unlabelled_dropped");
	EXPECT_GT(dropped, 0u) << "no UDP image: the drop path is not tested";
}

TEST(ProducerFlowpic, LabelFromDir)
{
	// labels from the input's directory: ids numbered from dir_names
	std::string d1 = cft::temp_path("-chat"), d2 = cft::temp_path("-video");
	ASSERT_EQ(mkdir(d1.c_str(), 0777), 0);
	ASSERT_EQ(mkdir(d2.c_str(), 0777), 0);
	std::string f1 = d1 + "/a.pcap", f2 = d2 + "/b.pcap";
	cft::write_file(f1, cft::read_file(captures()[0]));
	cft::write_file(f2, cft::read_file(captures()[1]));
	char n1[4096], n2[4096];
	ASSERT_EQ(cf_label_dir_name(f1.c_str(), n1, sizeof n1), CF_OK);
	ASSERT_EQ(cf_label_dir_name(f2.c_str(), n2, sizeof n2), CF_OK);
	const char *names[] = {n2, n1}; // the run's order need not be the files'
	cf_flowpic_producer_config c = mini_config();
	c.labels.from_dir = 1;
	c.labels.dir_names = names;
	c.labels.n_dir_names = 2;
	Collector col;
	std::vector<FileResult> pf;
	std::string err;
	ASSERT_EQ(run_producer(cf_producer_flowpic(), &c, {f1, f2}, &col, &pf, &err), CF_OK) << err;
	ASSERT_EQ(col.tables.size(), 2u);
	// label_id column (index 8): file 1's rows 1, file 2's rows 0
	const TableData &ix = col.tables[0];
	ASSERT_EQ(ix.cols.size(), 10u);
	std::vector<int64_t> ids(ix.rows);
	memcpy(ids.data(), ix.cols[8].data(), ids.size() * sizeof(int64_t));
	uint64_t first = pf[0].counter("images");
	ASSERT_GT(first, 0u);
	ASSERT_GT(pf[1].counter("images"), 0u);
	for (int64_t i = 0; i < ix.rows; i++)
		EXPECT_EQ(ids[i], (uint64_t)i < first ? 1 : 0) << i;
}

TEST(ProducerFlowpic, DamagedAndErrors)
{
	std::string cut = truncated(captures()[2], 0.6);
	cf_flowpic_producer_config c = mini_config();
	std::vector<FileResult> pf = check_flowpic(c, {captures()[0], cut, "/nonexistent.pcap", captures()[1]},
	                                           "truncated and missing captures", 64);
	ASSERT_EQ(pf.size(), 4u);
	EXPECT_EQ(pf[0].status, CF_OK);
	EXPECT_EQ(pf[1].status, CF_ERR_TRUNCATED);
	EXPECT_GT(pf[1].counter("images"), 0u); // the packets before the damage
	EXPECT_LT(pf[2].status, 0);
	EXPECT_EQ(pf[2].counter("packets"), 0u);
	EXPECT_EQ(pf[3].status, CF_OK);

	// an output that fails: the file's status, with a message
	Collector col;
	col.fail_with = CF_ERR_IO;
	std::vector<FileResult> pf2;
	std::string err;
	ASSERT_EQ(run_producer(cf_producer_flowpic(), &c, {captures()[0], captures()[1]}, &col, &pf2, &err), CF_OK);
	EXPECT_EQ(pf2[0].status, CF_ERR_IO);
	EXPECT_EQ(pf2[1].status, CF_ERR_IO);
	// once: the next file's rows are those of a fresh instance (nothing of
	// the failed file's batch left behind)
	Collector col3, fresh;
	col3.fail_with = CF_ERR_IO;
	col3.fail_calls = 1;
	std::vector<FileResult> pf3, pf4;
	ASSERT_EQ(run_producer(cf_producer_flowpic(), &c, {captures()[0], captures()[1]}, &col3, &pf3, &err), CF_OK);
	EXPECT_EQ(pf3[0].status, CF_ERR_IO);
	EXPECT_EQ(pf3[1].status, CF_OK);
	ASSERT_EQ(run_producer(cf_producer_flowpic(), &c, {captures()[1]}, &fresh, &pf4, &err), CF_OK);
	ASSERT_EQ(col3.tables.size(), 2u);
	ASSERT_GT(fresh.tables[0].rows, 0);
	for (size_t t = 0; t < 2; t++)
		expect_same_table(col3.tables[t], fresh.tables[t], "after a failed file");
	EXPECT_EQ(pf3[1].counter("images"), pf4[0].counter("images"));
	EXPECT_EQ(pf3[1].counter("packets"), pf4[0].counter("packets"));
}

TEST(ProducerFlowpic, InstancesInParallel)
{
	// one instance per thread, each over every capture: the rows of one
	cf_flowpic_producer_config c = mini_config();
	c.batch_rows = 9;
	cf_netml_producer_config n = netml_config(9);
	Collector one[2], par[4];
	std::vector<FileResult> pf1[2], pfp[4];
	std::string e1, e2;
	ASSERT_EQ(run_producer(cf_producer_flowpic(), &c, captures(), &one[0], &pf1[0], &e1), CF_OK) << e1;
	ASSERT_EQ(run_producer(cf_producer_netml(), &n, captures(), &one[1], &pf1[1], &e1), CF_OK) << e1;
	std::vector<std::thread> th;
	std::string errs[4];
	for (int i = 0; i < 4; i++)
		th.emplace_back([&, i] {
			if (i % 2 == 0)
				run_producer(cf_producer_flowpic(), &c, captures(), &par[i], &pfp[i], &errs[i]);
			else
				run_producer(cf_producer_netml(), &n, captures(), &par[i], &pfp[i], &errs[i]);
		});
	for (std::thread &t : th)
		t.join();
	for (int i = 0; i < 4; i++) {
		const Collector &ref = one[i % 2];
		ASSERT_EQ(par[i].tables.size(), ref.tables.size()) << errs[i];
		for (size_t t = 0; t < ref.tables.size(); t++)
			expect_same_table(par[i].tables[t], ref.tables[t], "thread " + std::to_string(i));
	}
}

// netml with fft in parallel instances: FFTW's planner is not thread-safe
// (host/backend/fft_cpu.c plans and destroys a plan per call, unlocked),
// so this dies with SIGFPE in about 1 run of 3. Enable once fft_cpu.c
// serialises fftw_plan_* / fftw_destroy_plan (a static mutex; execute is
// thread-safe).
TEST(ProducerNetml, FftInParallelThreads)
{
	cf_netml_producer_config n = netml_config(9);
	n.fft = 1;
	n.header = 1;
	Collector one;
	std::vector<FileResult> pf1;
	std::string e;
	ASSERT_EQ(run_producer(cf_producer_netml(), &n, captures(), &one, &pf1, &e), CF_OK) << e;
	for (int round = 0; round < 10; round++) {
		Collector par[4];
		std::vector<FileResult> pfp[4];
		std::string errs[4];
		std::vector<std::thread> th;
		for (int i = 0; i < 4; i++)
			th.emplace_back([&, i] { run_producer(cf_producer_netml(), &n, captures(), &par[i], &pfp[i], &errs[i]); });
		for (std::thread &t : th)
			t.join();
		for (int i = 0; i < 4; i++)
			for (size_t t = 0; t < one.tables.size(); t++)
				expect_same_table(par[i].tables[t], one.tables[t], "thread " + std::to_string(i));
	}
}

TEST(ProducerRegistry, FindsNetmlAndFlowpic)
{
	EXPECT_EQ(cf_producer_find("netml"), cf_producer_netml());
	EXPECT_EQ(cf_producer_find("flowpic"), cf_producer_flowpic());
	EXPECT_STREQ(cf_producer_netml()->name, "netml");
	EXPECT_STREQ(cf_producer_flowpic()->name, "flowpic");
	EXPECT_EQ(cf_producer_find("nope"), nullptr);
	bool seen[2] = {false, false};
	for (uint32_t i = 0; i < cf_producer_count(); i++) {
		seen[0] |= cf_producer_at(i) == cf_producer_netml();
		seen[1] |= cf_producer_at(i) == cf_producer_flowpic();
	}
	EXPECT_TRUE(seen[0] && seen[1]);
	for (const cf_producer_ops *o : {cf_producer_netml(), cf_producer_flowpic()}) {
		EXPECT_EQ(o->flags & CF_PRODUCER_NEEDS_FRAMES, 0u);
		EXPECT_TRUE(o->open && o->tables && o->table_name && o->schema && o->decode_opts && o->begin_file &&
		            o->packets && o->end_file && o->counters && o->error && o->close);
	}
}

} // namespace

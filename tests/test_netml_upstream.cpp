// `cuflow netml` against the REAL upstream netml 0.7.1 (not a re-implementation):
// tests/oracles/netml_upstream.py runs netml's PCAP(flow_ptks_thres=2),
// pcap2flows(q_interval=0.9), [label_flows], flow2features(T, fft, header) for
// the six feature types and fft/header in {0,1}, with the packet size patched to
// the captured length (docs: ../shared/specs/netml.md section 2). For each
// capture of tests/oracles/netml_captures.txt this test runs that once, then
// cuflow for the four (fft, header) pairs with all six types, and requires:
//   * same rows and columns for every (type, fft, header);
//   * non-FFT values bit-identical as float64;
//   * FFT values within 1e-12 * max(1, max |upstream row|);
//   * subflows.csv = upstream's subflows (5-tuple, packets, first/last time);
//   * meta interval, dim, samp_width (and flows, subflows) equal.
// Where upstream raised for a combination (header=True on IPv6/raw-IP flows,
// SAMP with a zero sampling width) cuflow may define its own behaviour
// (netml.md): that combination is reported, not compared, and every other type
// of the same run still is. One more case runs a capture with a CICIDS-style
// label file the test writes (duplicate fid: later row wins; absent fids are
// dropped; direction matters) and compares labels.csv too.
//
// Needs a Python that imports netml: $CUFLOW_NETML_PYTHON, else
// <build>/netml-venv/bin/python (next to the cuflow binary), else
// <source>/build/netml-venv/bin/python (made by .ci/deps.sh), else python3.
// Skips without one, or without the ../shared corpus.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "test_util.h"

namespace {

using cft::exists;
using cft::slurp;
using cft::split;

const char *const kTypes[] = {"IAT", "SIZE", "IAT_SIZE", "STATS", "SAMP_NUM", "SAMP_SIZE"};
// The capture the labelled case runs on (one of netml_captures.txt; no IPv6
// pseudo-flow, so every fid is a real 5-tuple a label file can name).
const char *const kLabelledCapture = "nfstream/pcaps/alexa-app.pcapng";

std::vector<std::string> lines_of(const std::string &text);

std::string first_line(const std::string &path)
{
	std::vector<std::string> ls = lines_of(slurp(path));
	return ls.empty() ? std::string("(empty)") : ls.front();
}

std::vector<std::string> lines_of(const std::string &text)
{
	std::vector<std::string> out;
	for (std::string &l : split(text, '\n')) {
		if (!l.empty() && l.back() == '\r')
			l.pop_back();
		if (!l.empty())
			out.push_back(l);
	}
	return out;
}

bool parse_double(const std::string &s, double *v)
{
	if (s.empty())
		return false;
	char *end = nullptr;
	*v = strtod(s.c_str(), &end);
	return end && *end == '\0';
}

// A Python interpreter that can import netml's parser, or "".
std::string netml_python()
{
	return cft::venv_python("CUFLOW_NETML_PYTHON", "netml-venv", "netml.pparser.parser");
}

struct Matrix {
	bool ok = false; // file present and every value parsed
	std::string error;
	std::vector<std::vector<double>> rows;
};

Matrix read_matrix(const std::string &path)
{
	Matrix m;
	if (!exists(path)) {
		m.error = "missing " + path;
		return m;
	}
	std::vector<std::string> ls = lines_of(slurp(path));
	for (size_t r = 0; r < ls.size(); r++) {
		std::vector<double> row;
		for (const std::string &tok : split(ls[r], ',')) {
			double v;
			if (!parse_double(tok, &v)) {
				m.error = path + ": row " + std::to_string(r) + ": bad value '" + tok + "'";
				return m;
			}
			row.push_back(v);
		}
		m.rows.push_back(std::move(row));
	}
	m.ok = true;
	return m;
}

// Numeric value of "key": in a flat-enough JSON text (meta.json), or NAN.
double json_number(const std::string &json, const std::string &key)
{
	size_t p = json.find("\"" + key + "\"");
	if (p == std::string::npos)
		return NAN;
	p = json.find(':', p);
	if (p == std::string::npos)
		return NAN;
	return strtod(json.c_str() + p + 1, nullptr);
}

struct Subflow {
	std::string src, dst;
	long sport = 0, dport = 0, proto = 0, packets = 0;
	double first = 0, last = 0;
	std::string tuple() const
	{
		return "(" + src + ", " + dst + ", " + std::to_string(sport) + ", " + std::to_string(dport) + ", " +
		       std::to_string(proto) + ")";
	}
	bool operator==(const Subflow &o) const
	{
		return src == o.src && dst == o.dst && sport == o.sport && dport == o.dport && proto == o.proto &&
		       packets == o.packets && memcmp(&first, &o.first, sizeof first) == 0 &&
		       memcmp(&last, &o.last, sizeof last) == 0;
	}
};

std::string describe(const Subflow &s)
{
	char b[128];
	snprintf(b, sizeof b, " packets %ld first %.17g last %.17g", s.packets, s.first, s.last);
	return s.tuple() + b;
}

// Upstream subflows.tsv (idx src dst sport dport proto n_pkts t_first t_last) or
// cuflow subflows.csv (header src_ip,...,last_time): skip=1 for the idx column.
bool read_subflows(const std::string &path, char sep, size_t skip, std::vector<Subflow> *out, std::string *err)
{
	std::vector<std::string> ls = lines_of(slurp(path));
	if (ls.empty()) {
		*err = "missing or empty " + path;
		return false;
	}
	for (size_t i = 1; i < ls.size(); i++) {
		std::vector<std::string> f = split(ls[i], sep);
		if (f.size() != skip + 8) {
			*err = path + ": line " + std::to_string(i + 1) + " has " + std::to_string(f.size()) + " fields";
			return false;
		}
		Subflow s;
		s.src = f[skip];
		s.dst = f[skip + 1];
		s.sport = strtol(f[skip + 2].c_str(), nullptr, 10);
		s.dport = strtol(f[skip + 3].c_str(), nullptr, 10);
		s.proto = strtol(f[skip + 4].c_str(), nullptr, 10);
		s.packets = strtol(f[skip + 5].c_str(), nullptr, 10);
		if (!parse_double(f[skip + 6], &s.first) || !parse_double(f[skip + 7], &s.last)) {
			*err = path + ": line " + std::to_string(i + 1) + ": bad time";
			return false;
		}
		out->push_back(s);
	}
	return true;
}

struct Upstream {
	bool ok = false;
	std::string dir, log;
	double wall_s = 0;
};

std::string combo(const std::string &type, int fft, int hdr)
{
	return type + "_fft" + std::to_string(fft) + "_hdr" + std::to_string(hdr);
}

// netml_upstream.py outputs of this process, by capture + label file.
std::map<std::string, Upstream> &upstream_cache()
{
	static std::map<std::string, Upstream> cache;
	return cache;
}

// Removes a temporary path, and any cached upstream run kept there.
void remove_temp(const std::string &path)
{
	cft::run("rm -rf " + cft::shq(path));
	for (auto it = upstream_cache().begin(); it != upstream_cache().end();)
		it = it->second.dir == path ? upstream_cache().erase(it) : std::next(it);
}

// Runs netml_upstream.py once per (capture, label file) within this process.
const Upstream &run_upstream(const std::string &py, const std::string &pcap, const std::string &labels)
{
	std::map<std::string, Upstream> &cache = upstream_cache();
	std::string key = pcap + "\n" + labels;
	auto it = cache.find(key);
	if (it != cache.end())
		return it->second;
	Upstream u;
	u.dir = cft::temp_path("_netml_upstream");
	std::string script = cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/netml_upstream.py";
	std::string cmd = cft::shq(py) + " " + cft::shq(script) + " " + cft::shq(pcap) + " " + cft::shq(u.dir);
	if (!labels.empty())
		cmd += " --labels " + cft::shq(labels);
	auto t0 = std::chrono::steady_clock::now();
	int rc = cft::run(cmd, &u.log);
	u.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	u.ok = rc == 0 && exists(u.dir + "/meta.json");
	if (!u.ok)
		u.log = "netml_upstream.py exited " + std::to_string(rc) + ":\n" + u.log;
	return cache.emplace(key, u).first->second;
}

struct Tally {
	long exact = 0, fft = 0; // values compared
	std::vector<std::string> notes;
};

// Compares cuflow's DIR/<type>.csv with upstream's matrix for one combination.
void compare_matrix(const std::string &what, const std::string &up_path, const std::string &cu_path, bool fft,
                    const std::vector<Subflow> &subflows, Tally *tally)
{
	Matrix up = read_matrix(up_path), cu = read_matrix(cu_path);
	ASSERT_TRUE(up.ok) << what << ": " << up.error;
	ASSERT_TRUE(cu.ok) << what << ": " << cu.error;
	ASSERT_EQ(cu.rows.size(), up.rows.size()) << what << ": row count (cuflow vs upstream)";
	long ndiff = 0;
	std::string first;
	for (size_t r = 0; r < up.rows.size(); r++) {
		const std::vector<double> &a = cu.rows[r], &b = up.rows[r];
		ASSERT_EQ(a.size(), b.size()) << what << ": column count of row " << r << " (cuflow vs upstream)";
		double tol = 0;
		if (fft) {
			double mx = 1;
			for (double v : b)
				mx = std::max(mx, std::fabs(v));
			tol = 1e-12 * mx;
		}
		for (size_t c = 0; c < b.size(); c++) {
			bool same = fft ? std::fabs(a[c] - b[c]) <= tol : memcmp(&a[c], &b[c], sizeof(double)) == 0;
			if (fft)
				tally->fft++;
			else
				tally->exact++;
			if (same)
				continue;
			if (ndiff++ == 0) {
				char buf[256];
				snprintf(buf, sizeof buf, "row %zu col %zu: cuflow %.17g upstream %.17g%s", r, c, a[c], b[c],
				         fft ? " (beyond 1e-12 x row max-abs)" : " (not bit-identical)");
				first = buf;
				if (r < subflows.size())
					first += "; subflow " + describe(subflows[r]);
			}
		}
	}
	EXPECT_EQ(ndiff, 0) << what << ": " << ndiff << " values differ; first at " << first;
}

void compare_subflows(const std::string &what, const std::vector<Subflow> &up, const std::string &cu_path)
{
	std::vector<Subflow> cu;
	std::string err;
	ASSERT_TRUE(read_subflows(cu_path, ',', 0, &cu, &err)) << what << ": " << err;
	ASSERT_EQ(cu.size(), up.size()) << what << ": subflow count (cuflow vs upstream)";
	for (size_t i = 0; i < up.size(); i++)
		ASSERT_TRUE(cu[i] == up[i]) << what << ": subflow " << i << ": cuflow " << describe(cu[i]) << " upstream "
		                            << describe(up[i]);
}

void compare_meta(const std::string &what, const std::string &up_json, const std::string &cu_path, bool labelled)
{
	std::string cu = slurp(cu_path);
	ASSERT_FALSE(cu.empty()) << what << ": missing " << cu_path;
	struct {
		const char *cu_key, *up_key;
	} keys[] = {{"interval", "interval"}, {"dim", "dim_base"}, {"samp_width", "samp_rate"},
	            {"flows", "n_flows_after_timeout"}};
	for (auto &k : keys) {
		double a = json_number(cu, k.cu_key), b = json_number(up_json, k.up_key);
		if (std::isnan(b))
			continue; // upstream could not compute it (reported elsewhere)
		EXPECT_TRUE(memcmp(&a, &b, sizeof a) == 0)
		    << what << ": meta " << k.cu_key << ": cuflow " << a << " upstream " << k.up_key << " " << b;
	}
	double sub = json_number(cu, "subflows");
	double up_sub = json_number(up_json, "n_subflows");
	double up_lab = json_number(up_json, "n_labelled_subflows");
	// Labelled: upstream's n_subflows counts subflows before label_flows drops
	// the unlabelled ones; either count is a sensible meaning for cuflow's key.
	EXPECT_TRUE(sub == up_sub || (labelled && sub == up_lab))
	    << what << ": meta subflows " << sub << ", upstream " << up_sub
	    << (labelled ? " (" + std::to_string((long)up_lab) + " labelled)" : std::string());
}

// One cuflow run for (fft, hdr) with `types`, into a fresh directory.
int run_cuflow(const std::string &pcap, const std::string &labels, int fft, int hdr, const std::vector<std::string> &types,
               std::string *dir, std::string *out)
{
	*dir = cft::temp_path("_netml_cuflow_" + std::to_string(fft) + std::to_string(hdr));
	mkdir(dir->c_str(), 0755);
	std::string list;
	for (auto &t : types)
		list += (list.empty() ? "" : ",") + t;
	std::string cmd = cft::shq(cft::cuflow_bin()) + " netml --type " + list + (fft ? " --fft" : "") +
	                  (hdr ? " --header" : "") + (labels.empty() ? "" : " --labels " + cft::shq(labels)) +
	                  " --format csv " + cft::shq(pcap) + " -o " + cft::shq(*dir);
	return cft::run(cmd, out);
}

// Writes a CICIDS-2017 style label file for the fids of upstream's (unlabelled)
// subflows: some BENIGN (any case) or Normal, some attacks, a fid given twice
// with different labels (the later row wins), every 5th fid absent (dropped:
// as most of those have their reverse direction labelled, a matcher that
// ignored direction would keep them; where the reverse is not a fid of the
// capture, the file names the reverse instead), and fids not in the capture.
std::string write_label_csv(const std::vector<Subflow> &subflows)
{
	std::vector<Subflow> fids;
	std::map<std::string, bool> seen;
	for (const Subflow &s : subflows)
		if (seen.emplace(s.tuple(), true).second)
			fids.push_back(s);
	std::string path = cft::temp_path("_netml_labels.csv");
	std::string csv = "Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, "
	                  "Flow Duration, Label\n";
	auto row = [&](const Subflow &s, const std::string &label) {
		csv += s.src + "-" + s.dst + "-" + std::to_string(s.sport) + "-" + std::to_string(s.dport) + "-" +
		       std::to_string(s.proto) + "," + s.src + "," + std::to_string(s.sport) + "," + s.dst + "," +
		       std::to_string(s.dport) + "," + std::to_string(s.proto) + ",3/7/2017 8:55,1234," + label + "\n";
	};
	Subflow stranger;
	stranger.src = "10.255.255.1";
	stranger.dst = "10.255.255.2";
	stranger.sport = 4242;
	stranger.dport = 80;
	stranger.proto = 6;
	row(stranger, "DoS Hulk");
	const char *labels[] = {"BENIGN", "DoS Hulk", "benign", "PortScan", "Normal", "Bot", "Benign"};
	for (size_t i = 0; i < fids.size(); i++) {
		if (i % 5 == 4) {
			// Absent: upstream drops these subflows (matching is directional).
			Subflow rev = fids[i];
			std::swap(rev.src, rev.dst);
			std::swap(rev.sport, rev.dport);
			if (!seen.count(rev.tuple()))
				row(rev, "Infiltration");
			continue;
		}
		std::string label = labels[i % 7];
		bool benign = label == "BENIGN" || label == "benign" || label == "Benign" || label == "Normal";
		if (i % 6 == 1) // duplicate fid: an earlier row of the other class; the later row wins
			row(fids[i], benign ? "DDoS" : "BENIGN");
		row(fids[i], label);
	}
	stranger.sport = 4243;
	row(stranger, "BENIGN");
	cft::write_file(path, std::vector<uint8_t>(csv.begin(), csv.end()));
	return path;
}

struct CaptureCase {
	std::string path; // relative to ../shared/captures
	std::string why;
	bool labelled = false;
};

std::vector<CaptureCase> load_cases()
{
	std::vector<CaptureCase> out;
	std::string list = cft::env("CUFLOW_SOURCE_DIR") + "/tests/oracles/netml_captures.txt";
	for (const std::string &l : lines_of(slurp(list))) {
		if (l[0] == '#')
			continue;
		size_t tab = l.find('\t');
		CaptureCase c;
		c.path = l.substr(0, tab);
		while (!c.path.empty() && (c.path.back() == ' '))
			c.path.pop_back();
		c.why = tab == std::string::npos ? "" : l.substr(tab + 1);
		if (!c.path.empty())
			out.push_back(c);
	}
	CaptureCase lab;
	lab.path = kLabelledCapture;
	lab.why = "labelled with a label file the test writes";
	lab.labelled = true;
	out.push_back(lab);
	return out;
}

void PrintTo(const CaptureCase &c, std::ostream *os)
{
	*os << c.path << (c.labelled ? " (labelled)" : "");
}

std::string case_name(const ::testing::TestParamInfo<CaptureCase> &info)
{
	std::string n;
	for (char c : info.param.path)
		n += isalnum((unsigned char)c) ? c : '_';
	return n + (info.param.labelled ? "_labelled" : "");
}

class NetmlUpstream : public ::testing::TestWithParam<CaptureCase> {};

TEST_P(NetmlUpstream, MatchesUpstream)
{
	const CaptureCase &cc = GetParam();
	std::string shared = cft::shared_dir();
	if (shared.empty())
		GTEST_SKIP() << "no ../shared corpus";
	std::string pcap = shared + "/captures/" + cc.path;
	if (!exists(pcap))
		GTEST_SKIP() << "no " << pcap;
	std::string py = netml_python();
	if (py.empty())
		GTEST_SKIP() << "netml 0.7.1 is not importable (bash .ci/deps.sh makes build/netml-venv)";
	std::vector<std::string> keep; // temp dirs, removed when the test passes

	std::string labels;
	if (cc.labelled) {
		const Upstream &plain = run_upstream(py, pcap, "");
		ASSERT_TRUE(plain.ok) << plain.log;
		ASSERT_FALSE(exists(plain.dir + "/error.txt")) << slurp(plain.dir + "/error.txt");
		std::vector<Subflow> sf;
		std::string err;
		ASSERT_TRUE(read_subflows(plain.dir + "/subflows.tsv", '\t', 1, &sf, &err)) << err;
		labels = write_label_csv(sf);
		keep.push_back(labels);
		keep.push_back(plain.dir);
	}
	const Upstream &up = run_upstream(py, pcap, labels);
	ASSERT_TRUE(up.ok) << up.log;
	keep.push_back(up.dir);
	std::string up_meta = slurp(up.dir + "/meta.json");
	std::string what0 = cc.path + (cc.labelled ? " (labelled)" : "");

	if (exists(up.dir + "/error.txt")) {
		// Upstream's pcap2flows (or label_flows) raised: no output at all.
		std::string dir, out;
		int rc = run_cuflow(pcap, labels, 0, 0, {"IAT"}, &dir, &out);
		keep.push_back(dir);
		std::string uperr = first_line(up.dir + "/error.txt");
		printf("[netml-upstream] %s: upstream raised (%s); cuflow exit %d: %s\n", what0.c_str(), uperr.c_str(), rc,
		       out.c_str());
		EXPECT_NE(rc, 0) << what0 << ": upstream produced no output (" << uperr << ") but cuflow exited 0";
		return;
	}

	std::vector<Subflow> up_sub;
	std::string err;
	ASSERT_TRUE(read_subflows(up.dir + "/subflows.tsv", '\t', 1, &up_sub, &err)) << err;

	Tally tally;
	int upstream_errors = 0;
	for (int fft = 0; fft <= 1; fft++)
		for (int hdr = 0; hdr <= 1; hdr++) {
			std::string what = what0 + " fft=" + std::to_string(fft) + " header=" + std::to_string(hdr);
			std::vector<std::string> all(std::begin(kTypes), std::end(kTypes)), ok_types, err_types;
			std::map<std::string, std::string> up_err;
			for (auto &t : all) {
				std::string e = up.dir + "/" + combo(t, fft, hdr) + ".error";
				if (exists(e)) {
					up_err[t] = first_line(e);
					err_types.push_back(t);
					upstream_errors++;
				} else {
					ok_types.push_back(t);
				}
			}
			std::string dir, out;
			int rc = run_cuflow(pcap, labels, fft, hdr, all, &dir, &out);
			keep.push_back(dir);
			if (rc != 0) {
				ASSERT_FALSE(err_types.empty())
				    << what << ": cuflow exited " << rc << " where upstream raised for no type:\n" << out;
				for (auto &t : err_types)
					tally.notes.push_back(combo(t, fft, hdr) + ": upstream " + up_err[t] + "; cuflow exited " +
					                      std::to_string(rc) + " for the run with all types");
				if (ok_types.empty())
					continue;
				// The other types of that run still have to match: without the crashing ones.
				rc = run_cuflow(pcap, labels, fft, hdr, ok_types, &dir, &out);
				keep.push_back(dir);
				ASSERT_EQ(rc, 0) << what << ": cuflow without the types upstream raised for:\n" << out;
			} else {
				for (auto &t : err_types) {
					Matrix m = read_matrix(dir + "/" + t + ".csv");
					std::string did = m.ok ? "wrote " + std::to_string(m.rows.size()) + "x" +
					                             std::to_string(m.rows.empty() ? 0 : m.rows[0].size())
					                       : "wrote no matrix (" + m.error + ")";
					tally.notes.push_back(combo(t, fft, hdr) + ": upstream " + up_err[t] + "; cuflow " + did +
					                      " (its own definition, not compared)");
				}
			}
			for (auto &t : ok_types)
				compare_matrix(what + " " + t, up.dir + "/" + combo(t, fft, hdr) + ".csv", dir + "/" + t + ".csv",
				               fft != 0, up_sub, &tally);
			compare_subflows(what, up_sub, dir + "/subflows.csv");
			compare_meta(what, up_meta, dir + "/meta.json", cc.labelled);
			if (cc.labelled) {
				std::vector<std::string> a = lines_of(slurp(dir + "/labels.csv"));
				std::vector<std::string> b = lines_of(slurp(up.dir + "/labels.csv"));
				ASSERT_EQ(a.size(), b.size()) << what << ": labels.csv lines (cuflow vs upstream)";
				for (size_t i = 0; i < a.size(); i++)
					ASSERT_EQ(strtol(a[i].c_str(), nullptr, 10), strtol(b[i].c_str(), nullptr, 10))
					    << what << ": label of subflow " << i << " " << describe(up_sub[i]);
			}
		}

	printf("[netml-upstream] %s: %zu subflows, %.0f flows, dim %.0f, interval %.17g, samp width %.17g; "
	       "%ld values compared (%ld bit-exact, %ld FFT); %d of 24 combinations raised upstream; upstream %.1f s\n",
	       what0.c_str(), up_sub.size(), json_number(up_meta, "n_flows_after_timeout"),
	       json_number(up_meta, "dim_base"), json_number(up_meta, "interval"), json_number(up_meta, "samp_rate"),
	       tally.exact + tally.fft, tally.exact, tally.fft, upstream_errors, up.wall_s);
	for (auto &n : tally.notes)
		printf("[netml-upstream]   %s\n", n.c_str());
	fflush(stdout);
	::testing::Test::RecordProperty("values_compared", std::to_string(tally.exact + tally.fft));
	if (!HasFailure() && !getenv("CUFLOW_KEEP_TMP"))
		for (auto &p : keep)
			remove_temp(p);
}

INSTANTIATE_TEST_SUITE_P(Captures, NetmlUpstream, ::testing::ValuesIn(load_cases()), case_name);

} // namespace

// The run driver with producers (CF_RUN_TABLES, include/cuflow/producer.h)
// through `cuflow extract|netml|flowpic --jobs N`:
//  - every output file is byte-identical for --jobs 1, 2 and 3 over a
//    directory of 14 synthetic captures of different sizes (one truncated),
//    and so is the manifest apart from its "run" object;
//  - the rows equal an independent path: the same captures, in the
//    driver's input order, through the single-threaded commands without
//    --jobs (extract --format parquet, flowpic's npy + index.csv), compared
//    value for value by pyarrow / numpy;
//  - the manifest lists every input with its producer counters, and every
//    table with its rows and (for files) the sha256 hashlib computes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

std::string cf() { return cft::shq(cft::cuflow_bin()); }

std::string arrow_python() { return cft::venv_python("CUFLOW_ARROW_PYTHON", "arrow-venv", "pyarrow"); }

struct Corpus {
	std::string dir;
	std::vector<std::string> files;  // in the driver's order
};

const Corpus &corpus()
{
	static Corpus c = [] {
		Corpus k;
		k.dir = cft::temp_path("tables-corpus");
		mkdir(k.dir.c_str(), 0755);
		mkdir((k.dir + "/web").c_str(), 0755);
		mkdir((k.dir + "/iot").c_str(), 0755);
		for (int i = 0; i < 13; i++) {
			std::string sub = i % 2 ? "/web" : "/iot";
			std::string name = k.dir + sub + "/c" + std::to_string(10 + i) + ".pcap";
			int flows = 3 + (i * 29) % 47;
			std::string cmd = cf() + " synth -q --snaplen 128 --flows " + std::to_string(flows) + " --seed " +
			                  std::to_string(700 + i) + " -o " + cft::shq(name);
			EXPECT_EQ(cft::run(cmd), 0) << cmd;
		}
		std::vector<uint8_t> b = cft::read_file(k.dir + "/web/c11.pcap");
		b.resize(b.size() / 2 + 7);
		cft::write_file(k.dir + "/web/cut.pcap", b);
		std::string out;
		cft::run("cd " + cft::shq(k.dir) + " && LC_ALL=C find . -type f | LC_ALL=C sort", &out);
		for (const std::string &l : cft::split(out, '\n'))
			if (!l.empty())
				k.files.push_back(k.dir + "/" + l.substr(2));
		return k;
	}();
	return c;
}

// Every file under dir (relative path -> bytes), the manifest without its
// "run" line.
std::vector<std::pair<std::string, std::string>> tree(const std::string &dir)
{
	std::vector<std::pair<std::string, std::string>> t;
	std::string out;
	cft::run("cd " + cft::shq(dir) + " && LC_ALL=C find . -type f | LC_ALL=C sort", &out);
	for (const std::string &l : cft::split(out, '\n')) {
		if (l.empty())
			continue;
		std::string body = cft::slurp(dir + "/" + l);
		if (l == "./manifest.json") {
			std::string keep;
			for (const std::string &line : cft::split(body, '\n'))
				if (line.find("\"run\":") == std::string::npos && line.find("\"jobs\"") == std::string::npos)
					keep += line + "\n";
			body = keep;
		}
		t.emplace_back(l, body);
	}
	return t;
}

void expect_same_for_jobs(const std::string &what, const std::string &args)
{
	std::vector<std::pair<std::string, std::string>> first;
	for (int jobs : {1, 2, 3}) {
		std::string out = cft::temp_path(what + "-j" + std::to_string(jobs));
		std::string cmd = cf() + " " + args + " -q --jobs " + std::to_string(jobs) + " -o " + cft::shq(out) + " " +
		                  cft::shq(corpus().dir) + " 2>/dev/null";
		// the truncated capture is reported: exit 2
		EXPECT_EQ(cft::run(cmd), 2) << cmd;
		auto t = tree(out);
		ASSERT_FALSE(t.empty()) << cmd;
		if (jobs == 1) {
			first = t;
			continue;
		}
		ASSERT_EQ(t.size(), first.size()) << cmd;
		for (size_t i = 0; i < t.size(); i++) {
			EXPECT_EQ(t[i].first, first[i].first);
			EXPECT_TRUE(t[i].second == first[i].second) << what << ": " << t[i].first << " differs for --jobs " << jobs;
		}
	}
}

std::string files_args()
{
	std::string s;
	for (const std::string &f : corpus().files)
		s += " " + cft::shq(f);
	return s;
}

TEST(RunTables, ExtractSameBytesForEveryJobs)
{
	expect_same_for_jobs("extract-pq", "extract --seq 8 --format parquet --label-from-dir --part-rows 37");
	expect_same_for_jobs("extract-csv", "extract --format csv");
}

TEST(RunTables, NetmlSameBytesForEveryJobs)
{
	expect_same_for_jobs("netml-pq", "netml --type IAT,SIZE,STATS --dim 12 --format parquet");
	expect_same_for_jobs("netml-fft", "netml --type IAT,SAMP_SIZE --dim 9 --fft --header --format npy");
}

TEST(RunTables, FlowpicSameBytesForEveryJobs)
{
	expect_same_for_jobs("flowpic-npy", "flowpic --preset mini --label-from-dir");
}

// The driver's images and index equal the single-threaded flowpic over the
// same files in the same order (flowpic.npy, index.csv, labels.npy).
TEST(RunTables, FlowpicEqualsSingleThreadedCommand)
{
	std::string py = cft::numpy_python();
	if (py.empty())
		GTEST_SKIP() << "numpy is not importable";
	std::string a = cft::temp_path("fp-driver"), b = cft::temp_path("fp-legacy");
	std::string opts = " -q --preset mini --label-from-dir";
	EXPECT_EQ(cft::run(cf() + " flowpic" + opts + " --jobs 3 --part-rows 40 -o " + cft::shq(a) + " " + cft::shq(corpus().dir) +
	                   " 2>/dev/null"),
	          2);
	EXPECT_EQ(cft::run(cf() + " flowpic" + opts + " -o " + cft::shq(b) + files_args() + " 2>/dev/null"), 2);
	std::string script =
	    "import numpy as np,csv,json,sys,glob\n"
	    "a,b=sys.argv[1],sys.argv[2]\n"
	    "def cat(table,f):\n"
	    "  return np.concatenate([np.load(p+'/'+f) for p in sorted(glob.glob(a+'/'+table+'/part-*'))])\n"
	    "def txt(table,f):\n"
	    "  return sum((open(p+'/'+f).read().split('\\n')[:-1] for p in sorted(glob.glob(a+'/'+table+'/part-*'))),[])\n"
	    "x=cat('images','image.npy'); y=np.load(b+'/flowpic.npy')\n"
	    "assert x.shape==y.shape and x.shape[0]>20,(x.shape,y.shape)\n"
	    "assert x.dtype==y.dtype and np.array_equal(x,y)\n"
	    "rows=list(csv.DictReader(open(b+'/index.csv')))\n"
	    "assert len(rows)==x.shape[0]\n"
	    "for col,conv in (('src_port',int),('dst_port',int),('protocol',int),('window',int),('window_start_ns',int),('packets',int)):\n"
	    "  v=cat('index',col+'.npy')\n"
	    "  assert [int(t) for t in v]==[conv(r[col]) for r in rows],col\n"
	    "for col in ('src_ip','dst_ip','label'):\n"
	    "  v=txt('index',col+'.txt')\n"
	    "  assert v==[r[col] for r in rows],col\n"
	    "assert np.array_equal(cat('index','label_id.npy'),np.load(b+'/labels.npy'))\n"
	    "print('ok',x.shape)\n";
	std::string sp = cft::temp_path("fp-cmp.py");
	cft::write_file(sp, std::vector<uint8_t>(script.begin(), script.end()));
	std::string out;
	EXPECT_EQ(cft::run(py + " " + cft::shq(sp) + " " + cft::shq(a) + " " + cft::shq(b) + " 2>&1", &out), 0) << out;
	EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

// The driver's features table equals the single-threaded extract over the
// same files in the same order (one engine: the same ids and rows).
TEST(RunTables, ExtractEqualsSingleThreadedCommand)
{
	std::string py = arrow_python();
	if (py.empty())
		GTEST_SKIP() << "pyarrow is not importable (bash .ci/deps.sh makes build/arrow-venv)";
	std::string a = cft::temp_path("ext-driver"), b = cft::temp_path("ext-legacy");
	std::string opts = " -q --seq 8 --format parquet --label-from-dir";
	EXPECT_EQ(cft::run(cf() + " extract" + opts + " --jobs 2 --part-rows 100 -o " + cft::shq(a) + " " + cft::shq(corpus().dir) +
	                   " 2>/dev/null"),
	          2);
	EXPECT_EQ(cft::run(cf() + " extract" + opts + " -o " + cft::shq(b) + files_args() + " 2>/dev/null"), 2);
	std::string script = "import pyarrow.parquet as pq,sys\n"
	                     "x=pq.read_table(sys.argv[1]); y=pq.read_table(sys.argv[2])\n"
	                     "assert x.num_rows==y.num_rows>0,(x.num_rows,y.num_rows)\n"
	                     "assert x.column_names==y.column_names\n"
	                     "for n in x.column_names:\n"
	                     "  assert x[n].combine_chunks().equals(y[n].combine_chunks()),n\n"
	                     "print('ok',x.num_rows)\n";
	std::string sp = cft::temp_path("ext-cmp.py");
	cft::write_file(sp, std::vector<uint8_t>(script.begin(), script.end()));
	std::string out;
	EXPECT_EQ(cft::run(py + " " + cft::shq(sp) + " " + cft::shq(a + "/features") + " " +
	                       cft::shq(b + "/features.parquet") + " 2>&1",
	                   &out),
	          0)
	    << out;
	EXPECT_NE(out.find("ok"), std::string::npos) << out;
}

// The manifest: every input with its status and counters, the table's
// rows and sha256 (hashlib).
TEST(RunTables, ManifestListsInputsCountersAndHashes)
{
	std::string out = cft::temp_path("ext-manifest");
	EXPECT_EQ(cft::run(cf() + " extract -q --format parquet --jobs 2 --part-rows 100 -o " + cft::shq(out) + " " +
	                   cft::shq(corpus().dir) + " 2>/dev/null"),
	          2);
	std::string script =
	    "import json,hashlib,sys,os\n"
	    "m=json.load(open(sys.argv[1]+'/manifest.json'))\n"
	    "assert m['producer']=='features'\n"
	    "ins=m['inputs']; assert len(ins)==int(sys.argv[2]),len(ins)\n"
	    "assert sum(1 for i in ins if i['status']=='damaged')==1\n"
	    "assert all('counters' in i and 'flows' not in i for i in ins)\n"
	    "o=m['outputs'][0]; assert o['table']=='features' and o['path']=='features' and len(o['parts'])>1\n"
	    "for q in o['parts']:\n"
	    "  p=os.path.join(sys.argv[1],q['path'])\n"
	    "  assert q['sha256']==hashlib.sha256(open(p,'rb').read()).hexdigest() and q['bytes']==os.path.getsize(p)\n"
	    "assert o['bytes']==sum(q['bytes'] for q in o['parts']) and o['rows']==sum(q['rows'] for q in o['parts'])\n"
	    "assert sorted(os.listdir(sys.argv[1]+'/features'))==[q['path'].split('/')[1] for q in o['parts']]\n"
	    "assert o['rows']==sum(i['rows'] for i in ins)==sum(i['counters']['flows']-i['counters']['rows_unlabelled_dropped'] for i in ins)\n"
	    "print('ok')\n";
	std::string sp = cft::temp_path("manifest-check.py");
	cft::write_file(sp, std::vector<uint8_t>(script.begin(), script.end()));
	std::string res;
	EXPECT_EQ(cft::run("python3 " + cft::shq(sp) + " " + cft::shq(out) + " " + std::to_string(corpus().files.size()) +
	                       " 2>&1",
	                   &res),
	          0)
	    << res;
}

// Refusals: resume is not served for tables, nor npy-only columns in Parquet.
TEST(RunTables, RefusesWhatItCannotDo)
{
	std::string out = cft::temp_path("fp-pq");
	std::string msg;
	EXPECT_EQ(cft::run(cf() + " flowpic -q --format parquet --jobs 1 -o " + cft::shq(out) + " " +
	                       cft::shq(corpus().files[0]) + " 2>&1",
	                   &msg),
	          1);
	EXPECT_NE(msg.find("wider than"), std::string::npos) << msg;
	EXPECT_FALSE(cft::exists(out + "/manifest.json"));
}

// Table runs are resumable: killed after 1, 4, 9 and 13 inputs (and at a
// random moment), the same command with --resume gives the parts and the
// manifest of an uninterrupted run (its "run" object apart), for every
// producer's table shape (one table, several tables, npy directories).
TEST(RunTables, KilledAndResumedEqualsUninterrupted)
{
	struct Case {
		std::string name, args;
	} cases[] = {
	    {"ext", "extract --seq 6 --format parquet --label-from-dir --part-rows 40"},
	    {"nml", "netml --type IAT,STATS --dim 10 --format csv --part-rows 25"},
	    {"fpc", "flowpic --preset mini --part-rows 30"},
	};
	for (const Case &c : cases) {
		std::string ref = cft::temp_path("res-ref-" + c.name);
		std::string base = cf() + " " + c.args + " -q --jobs 2 " + cft::shq(corpus().dir) + " -o ";
		EXPECT_EQ(cft::run(base + cft::shq(ref) + " 2>/dev/null"), 2);
		auto want = tree(ref);
		ASSERT_GT(want.size(), 3u) << c.name;
		for (int n : {1, 4, 9, 13, 0}) {
			std::string out = cft::temp_path("res-" + c.name + std::to_string(n)), log;
			int rc = n ? cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=" + std::to_string(n) + " " + base + cft::shq(out) +
			                          " 2>&1",
			                      &log)
			           : cft::run("timeout -s KILL 0.03 " + base + cft::shq(out) + " 2>/dev/null");
			if (n) {
				EXPECT_EQ(rc, 128 + 9) << c.name << " " << n << " " << log;
			}
			// killed after its n-th input: nothing looks complete (a run killed by the
			// timer may have finished, or been killed while it exited)
			if (n) {
				EXPECT_FALSE(cft::exists(out + "/manifest.json")) << c.name << " " << n;
			}
			// resumed once killed again, then to the end
			cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=3 " + base + cft::shq(out) + " --resume 2>/dev/null");
			EXPECT_EQ(cft::run(base + cft::shq(out) + " --resume 2>&1", &log), 2) << c.name << " " << n << log;
			auto got = tree(out);
			ASSERT_EQ(got.size(), want.size()) << c.name << " " << n;
			for (size_t i = 0; i < got.size(); i++) {
				EXPECT_EQ(got[i].first, want[i].first) << c.name << " " << n;
				std::string g = got[i].second, w = want[i].second;
				if (got[i].first == "./manifest.json") {
					// the manifest names its own directory nowhere; "resumed" differs
					g = g.substr(0, g.find("\"run\""));
					w = w.substr(0, w.find("\"run\""));
				}
				EXPECT_TRUE(g == w) << c.name << " killed after " << n << ": " << got[i].first << " differs";
			}
		}
	}
}

// `cuflow info --jobs N -o DIR`: the "summary" producer's inventory has,
// for every input, the numbers `cuflow info --json` prints for it (whose
// counts the corpus tests check against capinfos and tshark).
TEST(RunTables, InfoInventoryEqualsInfoJson)
{
	std::string out = cft::temp_path("inventory"), js = cft::temp_path("inventory.json");
	std::vector<std::string> files = corpus().files;
	std::string shared = cft::shared_dir() + "/captures/libpcap";
	if (cft::exists(shared)) {
		std::string list;
		cft::run("LC_ALL=C find " + cft::shq(shared) + " -type f | LC_ALL=C sort", &list);
		for (const std::string &l : cft::split(list, '\n'))
			if (!l.empty())
				files.push_back(l);
	}
	std::string args;
	for (const std::string &f : files)
		args += " " + cft::shq(f);
	EXPECT_EQ(cft::run(cf() + " info -q --jobs 2 --format jsonl -o " + cft::shq(out) + args + " 2>/dev/null"), 2);
	// (cft::run appends 2>&1: the group keeps stderr out of the file)
	EXPECT_EQ(cft::run("{ " + cf() + " info -q --json" + args + " > " + cft::shq(js) + "; } 2>/dev/null"), 2);
	std::string script =
	    "import json,sys\n"
	    "rows=[json.loads(l) for l in open(sys.argv[1]+'/summary/part-00000.jsonl')]\n"
	    "info=json.load(open(sys.argv[2]))['files']\n"
	    "assert len(rows)==len(info)>10,(len(rows),len(info))\n"
	    "lay=['ipv4','ipv6','tcp','udp','icmp','icmpv6','sctp','other','vlan','mpls','pppoe','tunnel','arp']\n"
	    "bad=0\n"
	    "for r,f in zip(rows,info):\n"
	    "  assert r['input']==f['path'],(r['input'],f['path'])\n"
	    "  assert (r['status']!='ok')==('error' in f and f['error'] is not None),(r,f.get('error'))\n"
	    "  bad+=r['status']!='ok'\n"
	    "  if f.get('format') is not None: assert r['format']==f['format'] and r['compression']==f['compression'],(r['format'],f['format'],r['compression'],f.get('compression'))\n"
	    "  else: assert r['format']=='' and r['compression']==''\n"
	    "  for k in ('packets','captured_bytes','wire_bytes'): assert r[k]==f.get(k,0),(k,r[k],f.get(k))\n"
	    "  if f.get('packets'): assert r['first_ns']==f['first_ns'] and r['last_ns']==f['last_ns']\n"
	    "  for k in lay: assert r['frames_'+k]==f.get(k,0),(k,r['input'])\n"
	    "  assert r['skipped_none']==f.get('decoded',0)\n"
	    "  for k,v in f.get('skipped',{}).items(): assert r['skipped_'+k]==v,(k,r['input'])\n"
	    "assert bad>=1\n"
	    "print('ok',len(rows),bad)\n";
	std::string sp = cft::temp_path("inventory.py"), log;
	cft::write_file(sp, std::vector<uint8_t>(script.begin(), script.end()));
	EXPECT_EQ(cft::run("python3 " + cft::shq(sp) + " " + cft::shq(out) + " " + cft::shq(js) + " 2>&1", &log), 0) << log;
}

// Outputs of an earlier run inside an input directory are not inputs: the
// output, its manifest (flows) and a table run's output directory are
// listed as skipped ("the run's own output"), not read as damaged captures.
TEST(RunDriver, OwnOutputsAreNotInputs)
{
	std::string d = cft::temp_path("own");
	mkdir(d.c_str(), 0755);
	ASSERT_EQ(cft::run(cf() + " synth -q --flows 20 -o " + cft::shq(d + "/a.pcap")), 0);
	std::string log;
	for (int pass = 0; pass < 2; pass++)
		EXPECT_EQ(cft::run(cf() + " flows -q " + cft::shq(d) + " -o " + cft::shq(d + "/out.csv") + " 2>&1", &log), 0)
		    << log;
	EXPECT_NE(log.find("out.csv: the run's own output, skipped"), std::string::npos) << log;
	std::string m = cft::slurp(d + "/out.csv.manifest.json");
	EXPECT_NE(m.find("\"error\": \"the run's own output\""), std::string::npos) << m;
	EXPECT_EQ(m.find("damaged\","), std::string::npos) << m;
	std::string ds = d + "/ds";
	for (int pass = 0; pass < 2; pass++)
		cft::run(cf() + " extract -q --jobs 2 " + cft::shq(d) + " -o " + cft::shq(ds) + " 2>&1", &log);
	EXPECT_NE(log.find("ds/features/part-00000.parquet: the run's own output, skipped"), std::string::npos) << log;
	EXPECT_NE(log.find("ds/manifest.json: the run's own output, skipped"), std::string::npos) << log;
}

// Standard input named twice is read once (the second is a duplicate):
// two workers must not share one stream.
TEST(RunDriver, StandardInputTwiceIsReadOnce)
{
	std::string cap = cft::temp_path("stdin2.pcap"), out = cft::temp_path("stdin2.csv"), log;
	ASSERT_EQ(cft::run(cf() + " synth -q --flows 25 -o " + cft::shq(cap)), 0);
	EXPECT_EQ(cft::run(cf() + " flows -q --jobs 2 - - -o " + cft::shq(out) + " < " + cft::shq(cap), &log), 0) << log;
	EXPECT_NE(log.find("-: the same file as input 1, skipped"), std::string::npos) << log;
	std::string m = cft::slurp(out + ".manifest.json");
	EXPECT_NE(m.find("\"status\": \"skipped\""), std::string::npos) << m;
	EXPECT_EQ(m.find("\"status\": \"damaged\""), std::string::npos) << m;
}

// --resume refuses when an input committed by the interrupted run was
// removed since (its rows are in the output, the manifest would lie).
TEST(RunDriver, ResumeRefusesARemovedCommittedInput)
{
	std::string d = cft::temp_path("resume-rm");
	mkdir(d.c_str(), 0755);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(cft::run(cf() + " synth -q --flows 30 --seed " + std::to_string(i + 1) + " -o " +
		                   cft::shq(d + "/c" + std::to_string(i) + ".pcap")),
		          0);
	std::string out = cft::temp_path("resume-rm.csv"), log;
	// named one by one (a directory would list one input fewer: another run)
	std::string cmd = cf() + " flows -q --jobs 1";
	for (int i = 0; i < 4; i++)
		cmd += " " + cft::shq(d + "/c" + std::to_string(i) + ".pcap");
	cmd += " -o " + cft::shq(out);
	EXPECT_EQ(cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=2 " + cmd + " 2>&1", &log), 128 + 9) << log;
	ASSERT_EQ(unlink((d + "/c0.pcap").c_str()), 0);
	EXPECT_EQ(cft::run(cmd + " --resume 2>&1", &log), 1) << log;
	EXPECT_NE(log.find("c0.pcap was removed since the interrupted run"), std::string::npos) << log;
	EXPECT_FALSE(cft::exists(out));
}

}  // namespace

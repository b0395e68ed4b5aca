// The traffic lab (bench/lab, issue 18): the CI preset runs real servers and
// clients in network namespaces for about a minute, then bench/lab/check.py
// holds the captures against the lab's labels: every class present, at least
// 99% of the labelled sessions found among `cuflow flows`' flows, and no
// frame outside the lab's addresses. Skips (saying why) without root, ip
// netns or the lab's Debian packages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>

#include "test_util.h"

namespace {

std::string lab_dir() { return cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/bench/lab"; }

TEST(TrafficLab, CiPresetEveryClassMatchedInsideTheLab) {
  if (geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces)";
  std::string why;
  int rc = cft::run("python3 " + cft::shq(lab_dir() + "/run") + " --check", &why);
  if (rc == 77) GTEST_SKIP() << why;
  ASSERT_EQ(rc, 0) << why;

  std::string out = cft::temp_path("lab-ci");
  std::string log;
  rc = cft::run("python3 " + cft::shq(lab_dir() + "/run") + " --preset ci --seed 7 -o " + cft::shq(out), &log);
  ASSERT_EQ(rc, 0) << log;

  std::string summary;
  rc = cft::run("python3 " + cft::shq(lab_dir() + "/check.py") + " " + cft::shq(out) + " --cuflow " +
                    cft::shq(cft::cuflow_bin()),
                &summary);
  EXPECT_EQ(rc, 0) << summary;

  // The classes, read back from labels.csv here too (column "class").
  std::string labels = cft::slurp(out + "/labels.csv");
  auto lines = cft::split(labels, '\n');
  ASSERT_GT(lines.size(), 8u);
  auto head = cft::split(lines[0], ',');
  size_t col = 0;
  while (col < head.size() && head[col] != "class") col++;
  ASSERT_LT(col, head.size());
  std::set<std::string> classes;
  for (size_t i = 1; i < lines.size(); i++) {
    auto f = cft::split(lines[i], ',');
    if (f.size() > col) classes.insert(f[col]);
  }
  for (const char *c : {"web", "file", "voip", "video", "chat", "dns", "iot"})
    EXPECT_TRUE(classes.count(c)) << "no labelled flow of class " << c << "\n" << log;
  // One directory per class, for --label-from-dir.
  for (const std::string c : {"web", "file", "voip", "video", "chat", "dns", "iot"})
    EXPECT_TRUE(cft::exists(out + "/" + c)) << c;
  EXPECT_TRUE(cft::exists(out + "/lab.json"));

  // cuflow sessions (issue 23) on the same captures: the IoT devices with
  // their registry vendor, DHCP hostname and mapped type, their DNS names
  // and every session's bytes and packets held against tshark.
  std::string types = out + "/device-types.csv", db = out + "/sessions.sqlite", caps = out + "/captures.txt";
  rc = cft::run("python3 -c " +
                    cft::shq("import json,sys; j=json.load(open(sys.argv[1])); print('key,device_type'); "
                             "[print(d['mac'].lower()+','+d['kind']) for d in j['devices']]") +
                    " " + cft::shq(out + "/lab.json") + " > " + cft::shq(types) + " && ls " + cft::shq(out) +
                    "/*/*.pcap > " + cft::shq(caps),
                &log);
  ASSERT_EQ(rc, 0) << log;
  rc = cft::run(cft::shq(cft::cuflow_bin()) + " sessions -q --device-types " + cft::shq(types) +
                    " --default-type Other -o " + cft::shq(db) + " @" + cft::shq(caps),
                &log);
  ASSERT_EQ(rc, 0) << log;
  std::string py = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/build/sk-venv/bin/python";
  if (cft::run("tshark -v >/dev/null 2>&1") == 0) {
    rc = cft::run((cft::exists(py) ? cft::shq(py) : std::string("python3")) + " " +
                      cft::shq(cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) +
                               "/tests/oracles/sessions_check.py") +
                      " " + cft::shq(db) + " --lab " + cft::shq(out) + " --types " + cft::shq(types) + " $(cat " +
                      cft::shq(caps) + ")",
                  &log);
    EXPECT_EQ(rc, 0) << log;
    std::printf("%s", log.c_str());
  }
  // cuflow dataset (seed 002's preparation) on that database, held against
  // pandas + scikit-learn, and a logistic regression on it telling the IoT
  // devices' sessions from the rest, against the majority class
  if (!cft::exists(py)) {
    std::printf("no build/sk-venv: the dataset check on the lab skipped\n");
    return;
  }
  std::string ds = out + "/dataset";
  rc = cft::run(cft::shq(cft::cuflow_bin()) + " dataset -q " + cft::shq(db) + " -o " + cft::shq(ds), &log);
  ASSERT_EQ(rc, 0) << log;
  rc = cft::run(cft::shq(py) + " " +
                    cft::shq(cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) +
                             "/tests/oracles/dataset_prep_ref.py") +
                    " check --train-logreg " + cft::shq(db) + " " + cft::shq(ds),
                &log);
  EXPECT_EQ(rc, 0) << log;
  std::printf("%s", log.c_str());
  EXPECT_NE(log.find("logreg: test accuracy"), std::string::npos) << log;
}

// The plan (hosts, sessions, sizes, schedule) is a function of the seed:
// the same seed plans the same run, another seed another one. No root needed.
TEST(TrafficLab, PlanIsTheSeeds) {
  if (!cft::exists("/usr/share/ieee-data/oui.csv")) GTEST_SKIP() << "needs ieee-data (the IEEE OUI registry)";
  std::string a, b, c;
  std::string run = "python3 " + cft::shq(lab_dir() + "/run") + " --preset bench --plan --seed ";
  ASSERT_EQ(cft::run(run + "11", &a), 0) << a;
  ASSERT_EQ(cft::run(run + "11", &b), 0) << b;
  ASSERT_EQ(cft::run(run + "12", &c), 0) << c;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Every class is planned, and the bench preset has hundreds of sessions.
  for (const char *cls : {"\"web\"", "\"file\"", "\"voip\"", "\"video\"", "\"chat\"", "\"dns\""})
    EXPECT_NE(a.find(std::string("\"class\": ") + cls), std::string::npos) << cls;
  EXPECT_NE(a.find("\"kind\": \"camera\""), std::string::npos);
}

// Stopped half-way (SIGTERM, as Ctrl-C would), the lab tears itself down:
// exit 130, no namespace of the run left, no process still using its files.
TEST(TrafficLab, StoppedRunLeavesNothingBehind) {
  if (geteuid() != 0) GTEST_SKIP() << "the lab needs root (network namespaces)";
  std::string why;
  int rc = cft::run("python3 " + cft::shq(lab_dir() + "/run") + " --check", &why);
  if (rc == 77) GTEST_SKIP() << why;
  ASSERT_EQ(rc, 0) << why;
  std::string out = cft::temp_path("lab-stop");
  // (The pattern for pgrep starts with a bracketed character, so that it
  // does not find this very shell, whose command line holds the pattern.)
  std::string log;
  rc = cft::run("python3 " + cft::shq(lab_dir() + "/run") + " --minutes 0.5 --seed 3 -o " + cft::shq(out) +
                    " & pid=$!; sleep 12; kill -TERM $pid; wait $pid; echo \"rc=$?\"; sleep 1; "
                    "echo \"left=$(ip netns list | grep -c \"^cfl$pid\")\"; "
                    "echo \"procs=$(pgrep -f " + cft::shq("[" + out.substr(0, 1) + "]" + out.substr(1) + "/.lab") +
                    " | wc -l)\"; "
                    "echo \"etc=$(ls -d /etc/netns/cfl$pid* 2>/dev/null | wc -l)\"",
                &log);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("rc=130"), std::string::npos) << log;
  EXPECT_NE(log.find("left=0"), std::string::npos) << log;
  EXPECT_NE(log.find("procs=0"), std::string::npos) << log;
  EXPECT_NE(log.find("etc=0"), std::string::npos) << log;
}

}  // namespace

// cuflow sessions (issue 23, seed 002): one-direction sessions, devices and
// DNS queries in SQLite. Oracles: tshark's dissection of the same captures
// and the IEEE registry CSVs read by Python (tests/oracles/sessions_check.py),
// the seed's SQL verbatim through Python's sqlite3, hand-built DNS and DHCP
// messages, hand-written captures.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cuflow/iot.h"
#include "test_util.h"

namespace {

std::string oracle() {
  return cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/tests/oracles/sessions_check.py";
}

// The oracle's interpreter: build/sk-venv's when it is there (it has apsw,
// the seed notebook's own SQLite binding), else python3.
std::string py() {
  std::string v = cft::env("CUFLOW_SOURCE_DIR", CFT_DEFAULT_CUFLOW_SOURCE_DIR) + "/build/sk-venv/bin/python";
  return cft::exists(v) ? cft::shq(v) : "python3";
}

bool have_tshark() { return cft::run("tshark -v >/dev/null 2>&1") == 0; }
bool have_registry() { return cft::exists("/usr/share/ieee-data/oui.csv") || !cft::env("CUFLOW_IEEE_DATA").empty(); }

// Real captures with DNS (UDP, answered and not), DHCP, TLS, and a
// big-endian pcapng.
std::vector<std::string> shared_captures() {
  std::string s = cft::shared_dir();
  if (s.empty()) return {};
  std::vector<std::string> v;
  for (const char *p : {"PcapPlusPlus/ExamplesTest/pcap_examples/many-protocols.pcap", "gopacket/test_dns.pcap",
                        "packets/dns.pcap", "nfstream/pcaps/dhcp_big_endian.pcapng", "tcpdump/dhcp-rfc5859.pcap",
                        "nfstream/pcaps/instagram.pcap"}) {
    std::string f = s + "/captures/" + p;
    if (cft::exists(f)) v.push_back(f);
  }
  return v;
}

std::string join(const std::vector<std::string> &v) {
  std::string s;
  for (auto &x : v) s += " " + cft::shq(x);
  return s;
}

// One value of a query (first column of the first row) as text.
std::string sql1(const std::string &db, const std::string &q) {
  sqlite3 *h = nullptr;
  std::string out = "<error>";
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_ROW)
        out = sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "NULL";
      else if (rc == SQLITE_DONE)
        out = "";
    } else {
      out = std::string("<") + sqlite3_errmsg(h) + ">";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

// Every row of a query, one line each, '|' between values.
std::string sql_all(const std::string &db, const std::string &q) {
  sqlite3 *h = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "<open>";
  sqlite3_stmt *st = nullptr;
  if (sqlite3_prepare_v2(h, q.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    out = std::string("<") + sqlite3_errmsg(h) + ">";
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); c++) {
        const unsigned char *t = sqlite3_column_text(st, c);
        out += (c ? "|" : "") + std::string(t ? (const char *)t : "NULL");
      }
      out += "\n";
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

TEST(Sessions, RealCapturesMatchTsharkAndTheRegistry) {
  auto caps = shared_captures();
  if (caps.size() < 4) GTEST_SKIP() << "../shared/captures absent";
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  std::string db = cft::temp_path("real.sqlite"), out;
  int rc = cft::run(cft::shq(cft::cuflow_bin()) + " sessions -q --default-type Other -o " + cft::shq(db) + join(caps), &out);
  ASSERT_EQ(rc, 0) << out;
  rc = cft::run(py() + " " + cft::shq(oracle()) + " " + cft::shq(db) + join(caps), &out);
  EXPECT_EQ(rc, 0) << out;
  std::printf("%s", out.c_str());
  // hand-checked facts of these captures: test_dns.pcap is ten queries
  // without answers; packets/dns.pcap holds only responses
  EXPECT_EQ(sql1(db, "select count(*) from dns d join sessions s using (sessionid) where s.capture_file like "
                     "'%gopacket/test_dns.pcap' and d.rcode is null"),
            "10");
  EXPECT_EQ(sql1(db, "select json_extract(counters, '$.dns_responses_unmatched') from files where path like "
                     "'%packets/dns.pcap'"),
            "7");
  EXPECT_EQ(sql1(db, "select count(*) from sessions where endtime < starttime"), "0");
  EXPECT_EQ(sql1(db, "select count(*) from files where status = 'ok'"), std::to_string(caps.size()));
}

// A killed run keeps the captures it committed, whole; --append finishes
// the rest (and skips what is there), giving the rows of one clean run.
TEST(Sessions, KilledRunThenAppendEqualsOneRun) {
  auto caps = shared_captures();
  if (caps.size() < 4) GTEST_SKIP() << "../shared/captures absent";
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  std::string bin = cft::shq(cft::cuflow_bin());
  std::string one = cft::temp_path("one.sqlite"), two = cft::temp_path("two.sqlite"), out;
  ASSERT_EQ(cft::run(bin + " sessions -q -o " + cft::shq(one) + join(caps), &out), 0) << out;
  int rc = cft::run("CUFLOW_TEST_KILL_AFTER_COMMITS=2 " + bin + " sessions -q -o " + cft::shq(two) + join(caps), &out);
  EXPECT_NE(rc, 0) << "the run should have been killed";
  EXPECT_EQ(sql1(two, "pragma integrity_check"), "ok");
  EXPECT_EQ(sql1(two, "select count(*) from files"), "2");
  EXPECT_EQ(sql1(two, "select count(distinct capture_file) from sessions"), "2");
  ASSERT_EQ(cft::run(bin + " sessions -q --append -o " + cft::shq(two) + join(caps), &out), 0) << out;
  const char *qs[] = {"select * from sessions order by sessionid", "select * from dns order by id",
                      "select * from devices order by mac", "select * from device_ips order by mac, ip",
                      "select path, size, mtime, packets, status, rows, counters from files order by path"};
  for (const char *q : qs) EXPECT_EQ(sql_all(one, q), sql_all(two, q)) << q;
  // a second append finds everything there
  ASSERT_EQ(cft::run(bin + " sessions --append -o " + cft::shq(two) + join(caps), &out), 0) << out;
  EXPECT_NE(out.find("already in the database, skipped"), std::string::npos) << out;
  EXPECT_EQ(sql_all(one, qs[0]), sql_all(two, qs[0]));
}

// The dataset engine's promise: the same rows for any number of workers.
TEST(Sessions, JobsGiveTheSameDatabase) {
  auto caps = shared_captures();
  if (caps.size() < 4) GTEST_SKIP() << "../shared/captures absent";
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  std::string bin = cft::shq(cft::cuflow_bin());
  std::string one = cft::temp_path("j1.sqlite"), three = cft::temp_path("j3.sqlite"), out;
  ASSERT_EQ(cft::run(bin + " sessions -q -o " + cft::shq(one) + join(caps), &out), 0) << out;
  ASSERT_EQ(cft::run(bin + " sessions -q --jobs 3 -o " + cft::shq(three) + join(caps), &out), 0) << out;
  for (const char *q : {"select * from sessions order by sessionid", "select * from dns order by id",
                        "select * from devices order by mac", "select * from device_ips order by mac, ip",
                        "select path, size, mtime, packets, status, rows, counters from files order by rowid"})
    EXPECT_EQ(sql_all(one, q), sql_all(three, q)) << q;
  EXPECT_NE(sql_all(one, "select * from sessions order by sessionid"), "");
}

// Hand-written traffic: timestamps going backwards, an idle gap, a port
// pair used again after FIN, ICMP without ports, a DHCP request naming its
// host; every number below is counted by hand.
TEST(Sessions, HandWrittenCaptureCountedByHand) {
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  auto eth = [](const uint8_t *dst, const uint8_t *src, uint16_t type) {
    std::vector<uint8_t> f(dst, dst + 6);
    f.insert(f.end(), src, src + 6);
    f.push_back(type >> 8), f.push_back(type & 255);
    return f;
  };
  auto ip4 = [](std::vector<uint8_t> &f, uint8_t proto, const uint8_t *s, const uint8_t *d, size_t l4len) {
    uint16_t tot = (uint16_t)(20 + l4len);
    uint8_t h[20] = {0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, 0, 1, 0, 0, 64, proto, 0, 0};
    memcpy(h + 12, s, 4), memcpy(h + 16, d, 4);
    f.insert(f.end(), h, h + 20);
  };
  const uint8_t cam[6] = {0xc0, 0x56, 0xe3, 0x11, 0x22, 0x33};   // Hikvision's OUI
  const uint8_t gw[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};    // locally administered
  const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint8_t a[4] = {192, 168, 1, 10}, b[4] = {192, 168, 1, 1}, zero[4] = {0, 0, 0, 0}, all[4] = {255, 255, 255, 255};
  auto tcp = [&](int64_t ts, const uint8_t *sm, const uint8_t *dm, const uint8_t *s, const uint8_t *d, uint16_t sp,
                 uint16_t dp, uint8_t flags) {
    auto f = eth(dm, sm, 0x0800);
    ip4(f, 6, s, d, 20);
    uint8_t t[20] = {(uint8_t)(sp >> 8), (uint8_t)sp, (uint8_t)(dp >> 8), (uint8_t)dp, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 1, 0};
    f.insert(f.end(), t, t + 20);
    return cft::Frame{ts, f};
  };
  const int64_t S = 1000000000LL, T0 = 1700000000LL * S;
  std::vector<cft::Frame> fr;
  // session 1: cam 49322 -> gw 7550, three packets, the third stamped
  // before the first (a capture clock step); session 2: the reply, one packet
  fr.push_back(tcp(T0 + 10 * S, cam, gw, a, b, 49322, 7550, 0x02));
  fr.push_back(tcp(T0 + 11 * S, gw, cam, b, a, 7550, 49322, 0x12));
  fr.push_back(tcp(T0 + 12 * S, cam, gw, a, b, 49322, 7550, 0x10));
  fr.push_back(tcp(T0 + 5 * S, cam, gw, a, b, 49322, 7550, 0x11));  // FIN, 5 s "earlier"
  // the same port pair again after the FIN: a new session (end_reason fin)
  fr.push_back(tcp(T0 + 20 * S, cam, gw, a, b, 49322, 7550, 0x02));
  // ICMP echo cam -> gw twice, 200 s apart: two sessions (idle 120 s)
  for (int64_t t : {T0 + 30 * S, T0 + 230 * S}) {
    auto f = eth(gw, cam, 0x0800);
    ip4(f, 1, a, b, 8);
    uint8_t icmp[8] = {8, 0, 0, 0, 0, 7, 0, 1};
    f.insert(f.end(), icmp, icmp + 8);
    fr.push_back({t, f});
  }
  // a DHCP request from the camera naming itself "cam-01"
  {
    std::vector<uint8_t> d(240, 0);
    d[0] = 1, d[1] = 1, d[2] = 6;
    memcpy(&d[28], cam, 6);
    d[236] = 0x63, d[237] = 0x82, d[238] = 0x53, d[239] = 0x63;
    const uint8_t opts[] = {53, 1, 3, 12, 6, 'c', 'a', 'm', '-', '0', '1', 60, 4, 'h', 'i', 'k', 'v', 255};
    d.insert(d.end(), opts, opts + sizeof opts);
    auto f = eth(bcast, cam, 0x0800);
    ip4(f, 17, zero, all, 8 + d.size());
    uint16_t ul = (uint16_t)(8 + d.size());
    uint8_t u[8] = {0, 68, 0, 67, (uint8_t)(ul >> 8), (uint8_t)ul, 0, 0};
    f.insert(f.end(), u, u + 8);
    f.insert(f.end(), d.begin(), d.end());
    fr.push_back({T0 + 240 * S, f});
  }
  std::string cap = cft::temp_path("hand.pcap"), db = cft::temp_path("hand.sqlite"), types = cft::temp_path("types.csv");
  cft::write_pcap(cap, 1, fr);
  cft::write_file(types, std::vector<uint8_t>{});
  {
    std::ofstream t(types);
    t << "key,device_type\n"
      << "\"Hangzhou Hikvision Digital Technology Co.,Ltd.\",camera-by-vendor\n"
      << "c0:56:e3:11:22:33,UVC-G3-Flex Camera\n";
  }
  std::string out;
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " sessions -q --device-types " + cft::shq(types) +
                         " --default-type Other -o " + cft::shq(db) + " " + cft::shq(cap), &out),
            0)
      << out;
  EXPECT_EQ(sql_all(db, "select srcmac, srcport, dstport, proto, pktcount, lensum, starttime, endtime, end_reason "
                        "from sessions order by sessionid"),
            "c0:56:e3:11:22:33|49322|7550|6|3|162|1700000005.0|1700000012.0|fin\n"
            "02:00:00:00:00:01|7550|49322|6|1|54|1700000011.0|1700000011.0|idle\n"
            "c0:56:e3:11:22:33|49322|7550|6|1|54|1700000020.0|1700000020.0|idle\n"
            "c0:56:e3:11:22:33|NULL|NULL|1|1|42|1700000030.0|1700000030.0|idle\n"
            "c0:56:e3:11:22:33|NULL|NULL|1|1|42|1700000230.0|1700000230.0|eof\n"
            "c0:56:e3:11:22:33|68|67|17|1|300|1700000240.0|1700000240.0|eof\n");
  EXPECT_EQ(sql_all(db, "select mac, manufacturer, device_type, hostname, vendor_class, local_admin, oui_bits, ips, "
                        "packets from devices order by mac"),
            "02:00:00:00:00:01|NULL|Other|NULL|NULL|1|0|192.168.1.1|1\n"
            "c0:56:e3:11:22:33|Hangzhou Hikvision Digital Technology Co.,Ltd.|UVC-G3-Flex Camera|cam-01|hikv|0|24|"
            "192.168.1.10|7\n");
  // seed 002's query: every session of a typed device, durn = |end - start|
  EXPECT_EQ(sql_all(db, "select s.srcport, s.dstport, s.lensum, s.pktcount, abs(s.endtime - s.starttime) as durn, "
                        "d.manufacturer, d.device_type from sessions s inner join v_session_mnf_devicetype d on "
                        "s.sessionid = d.sessionid where d.device_type is not null order by s.sessionid limit 2"),
            "49322|7550|162|3|7.0|Hangzhou Hikvision Digital Technology Co.,Ltd.|UVC-G3-Flex Camera\n"
            "7550|49322|54|1|0.0|NULL|Other\n");
  // --filter: frames it rejects count nowhere (sessions, devices) but in
  // the counter that says so
  std::string fdb = cft::temp_path("hand-filter.sqlite");
  ASSERT_EQ(cft::run(cft::shq(cft::cuflow_bin()) + " sessions -q --filter icmp -o " + cft::shq(fdb) + " " + cft::shq(cap), &out), 0)
      << out;
  EXPECT_EQ(sql_all(fdb, "select proto, pktcount from sessions order by sessionid"), "1|1\n1|1\n");
  EXPECT_EQ(sql_all(fdb, "select mac, packets from devices"), "c0:56:e3:11:22:33|2\n");
  EXPECT_EQ(sql1(fdb, "select json_extract(counters, '$.packets_filtered') from files"), "6");
}

TEST(Sessions, DnsParserHandBuilt) {
  // id 0x1234, response, rcode 3; question www.Example.COM A IN; answers: a
  // CNAME to a name compressed against the question, then an A record
  std::vector<uint8_t> m = {0x12, 0x34, 0x81, 0x83, 0, 1, 0, 2, 0, 0, 0, 0};
  const uint8_t q[] = {3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0, 0, 1, 0, 1};
  m.insert(m.end(), q, q + sizeof q);
  const uint8_t cname[] = {0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'c', 'd', 'n', 0xc0, 16};
  m.insert(m.end(), cname, cname + sizeof cname);
  const uint8_t arec[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34};
  m.insert(m.end(), arec, arec + sizeof arec);
  cf_dns_msg d;
  ASSERT_EQ(cf_dns_parse(m.data(), m.size(), &d), CF_OK);
  EXPECT_EQ(d.id, 0x1234);
  EXPECT_EQ(d.qr, 1);
  EXPECT_EQ(d.rcode, 3);
  EXPECT_EQ(d.qtype, 1);
  EXPECT_STREQ(d.qname, "www.example.com");
  EXPECT_STREQ(d.answers, "cdn.example.com 93.184.216.34");
  // cut anywhere inside the question: refused, never read past the end
  for (size_t n = 0; n < 12 + sizeof q; n++) EXPECT_EQ(cf_dns_parse(m.data(), n, &d), CF_ERR_CORRUPT) << n;
  // a pointer to itself: refused after a bounded number of hops
  std::vector<uint8_t> loop = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  EXPECT_EQ(cf_dns_parse(loop.data(), loop.size(), &d), CF_ERR_CORRUPT);
  // the root name
  std::vector<uint8_t> root = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1};
  ASSERT_EQ(cf_dns_parse(root.data(), root.size(), &d), CF_OK);
  EXPECT_STREQ(d.qname, "");
  EXPECT_EQ(d.qtype, 2);
}

TEST(Sessions, RegistryLongestPrefixAndDeviceTypes) {
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  char err[CF_ERRBUF_SIZE];
  cf_oui_registry *r = nullptr;
  ASSERT_EQ(cf_oui_registry_open(nullptr, &r, err), CF_OK) << err;
  // an MA-M block inside an OUI the IEEE keeps for such blocks: the block's
  // owner, not the IEEE (the first MA-M line of mam.csv that is not Private)
  std::ifstream mam(cft::env("CUFLOW_IEEE_DATA", "/usr/share/ieee-data") + "/mam.csv");
  std::string line, assign, org;
  std::getline(mam, line);
  while (std::getline(mam, line)) {
    auto f = cft::split(line, ',');
    if (f.size() >= 3 && f[1].size() == 7 && f[2] != "Private" && f[2].find('"') == std::string::npos) {
      assign = f[1], org = f[2];
      break;
    }
  }
  ASSERT_FALSE(assign.empty());
  uint8_t mac[6];
  uint64_t v = std::stoull(assign, nullptr, 16) << 20 | 0xabcde;
  for (int i = 5; i >= 0; i--, v >>= 8) mac[i] = (uint8_t)v;
  int bits = 0;
  const char *name = cf_oui_lookup(r, mac, &bits);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), org);
  EXPECT_EQ(bits, 28);
  const uint8_t pi[6] = {0xb8, 0x27, 0xeb, 1, 2, 3}, local[6] = {0xda, 0x27, 0xeb, 1, 2, 3};
  name = cf_oui_lookup(r, pi, &bits);
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(std::string(name), "Raspberry Pi Foundation");
  EXPECT_EQ(bits, 24);
  EXPECT_EQ(cf_oui_lookup(r, local, &bits), nullptr);
  EXPECT_TRUE(cf_mac_is_local(local));
  cf_oui_registry_close(r);

  std::string csv = cft::temp_path("types.csv");
  {
    std::ofstream t(csv);
    t << "key,device_type\nraspberry pi foundation,pi-by-name\nb8:27:eb,pi-by-oui\nb827eb0,pi-by-ma-m\n"
      << "B8-27-EB-01-02-03,pi-by-mac\n";
  }
  cf_device_types *dt = nullptr;
  ASSERT_EQ(cf_device_types_open(csv.c_str(), &dt, err), CF_OK) << err;
  EXPECT_STREQ(cf_device_types_lookup(dt, pi, "Raspberry Pi Foundation"), "pi-by-mac");
  const uint8_t pi2[6] = {0xb8, 0x27, 0xeb, 0x09, 2, 3}, pi3[6] = {0xb8, 0x27, 0xeb, 0xf9, 2, 3};
  EXPECT_STREQ(cf_device_types_lookup(dt, pi2, "Raspberry Pi Foundation"), "pi-by-ma-m");
  EXPECT_STREQ(cf_device_types_lookup(dt, pi3, "Raspberry Pi Foundation"), "pi-by-oui");
  const uint8_t other[6] = {0x00, 0x11, 0x22, 1, 2, 3};
  EXPECT_STREQ(cf_device_types_lookup(dt, other, "RASPBERRY PI FOUNDATION"), "pi-by-name");
  EXPECT_EQ(cf_device_types_lookup(dt, other, "Apple, Inc."), nullptr);
  cf_device_types_close(dt);
  // a bad line names FILE:LINE
  {
    std::ofstream t(csv);
    t << "key,device_type\nb8:27:eb,pi\nonly-one-field\n";
  }
  EXPECT_EQ(cf_device_types_open(csv.c_str(), &dt, err), CF_ERR_ARG);
  EXPECT_NE(std::string(err).find("types.csv:3:"), std::string::npos) << err;
}

TEST(Sessions, BadInputs) {
  if (!have_registry()) GTEST_SKIP() << "ieee-data not installed";
  std::string bin = cft::shq(cft::cuflow_bin()), out;
  std::string db = cft::temp_path("bad.sqlite"), junk = cft::temp_path("junk.pcap"), good = cft::temp_path("good.pcap");
  cft::write_file(junk, std::vector<uint8_t>(100, 0x41));
  cft::write_pcap(good, 1, {});
  // a file that is not a capture: named, exit 2, the other file committed
  int rc = cft::run(bin + " sessions -q -o " + cft::shq(db) + " " + cft::shq(good) + " " + cft::shq(junk), &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("junk.pcap"), std::string::npos) << out;
  EXPECT_EQ(sql1(db, "select group_concat(status) from (select status from files order by status)"), "damaged,ok");
  // a bad device-types file: exit 1, FILE:LINE
  std::string types = cft::temp_path("t.csv");
  cft::write_file(types, std::vector<uint8_t>{'k', 'e', 'y', '\n'});
  rc = cft::run(bin + " sessions -q --device-types " + cft::shq(types) + " -o " + cft::shq(db) + " " + cft::shq(good),
                &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("t.csv:1: the header must be key,device_type"), std::string::npos) << out;
  // no registry where one is named
  rc = cft::run(bin + " sessions -q --ieee-data /nonexistent -o " + cft::shq(db) + " " + cft::shq(good), &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("/nonexistent: no IEEE registry here"), std::string::npos) << out;
  // output to a directory that does not exist
  rc = cft::run(bin + " sessions -q -o /nonexistent/x.sqlite " + cft::shq(good), &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("/nonexistent/x.sqlite"), std::string::npos) << out;
}

}  // namespace

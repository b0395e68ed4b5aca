#!/usr/bin/env python3
"""Holds a `cuflow sessions` database against independent oracles.

    sessions_check.py DB CAPTURE... [--lab LAB_DIR] [--types CSV] [--ieee DIR]

- seed 002's query, verbatim, through Python's sqlite3 (and apsw when it
  imports): one row per session whose device has a type; no row anywhere
  with endtime < starttime;
- per capture, tshark's dissection (one line per frame: addresses, ports,
  protocol, frame length) summed per direction and 5-tuple equals the
  sessions' lensum and pktcount summed per 5-tuple (sessions split by time
  are added back together);
- per capture, the DNS queries tshark sees (dns.flags.response == 0, UDP or
  TCP, mDNS too) equal the dns rows: (time, source MAC, name) as multisets;
- every device's manufacturer is the IEEE registry's longest prefix, looked
  up here from the CSVs with Python's csv module; locally administered
  MACs have none and the flag;
- with --lab: every IoT device of lab.json is in `devices` with its vendor
  (the registry's name, which starts with the lab's), its DHCP hostname
  (the lab's device name) and, with --types, its device type.
Exit 0, or 1 with the differences on stdout.
"""
import argparse
import collections
import csv
import json
import os
import sqlite3
import subprocess
import sys

SEED_SQL = """
-- We still have the smell on some endtime entries being less than
-- some starttime entries

select s.srcport,
       s.dstport,
       s.lensum,
       s.pktcount,
       abs(s.endtime - s.starttime) as durn, -- SMELL --
       d.manufacturer,
       d.device_type
from sessions s
         inner join v_session_mnf_devicetype d on s.sessionid = d.sessionid
where d.device_type is not null

"""

problems = []


def bad(msg):
    problems.append(msg)


def registry(ieee):
    pre = {}
    for name in ("oui.csv", "mam.csv", "oui36.csv", "iab.csv"):
        path = os.path.join(ieee, name)
        if not os.path.exists(path):
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                a = row["Assignment"].strip().lower()
                pre[a] = row["Organization Name"].strip()
    return pre


def vendor(pre, mac):
    h = mac.replace(":", "").lower()
    if int(h[:2], 16) & 3:
        return None
    for n in (9, 7, 6):
        if h[:n] in pre:
            return pre[h[:n]]
    return None


def first(v):
    return v.split(",")[0] if v else ""


def tshark(cap, *args):
    out = subprocess.run(["tshark", "-r", cap, "-n", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"tshark failed on {cap}: {out.stderr[-500:]}")
    return out.stdout.splitlines()


def check_capture(db, cap):
    """One tshark pass: per direction and 5-tuple, frames and frame bytes
    against the sessions; the DNS queries (ports 53 and 5353) against dns."""
    want = collections.Counter()
    wbytes = collections.Counter()
    wdns = collections.Counter()
    rcode_of = {}     # frame number -> rcode (responses)
    answered = {}     # query key -> the frame of its response (unicast DNS)
    lines = tshark(cap, "-T", "fields", "-E", "separator=|", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst",
                   "-e", "ipv6.dst", "-e", "ip.proto", "-e", "ipv6.nxt", "-e", "tcp.srcport", "-e", "udp.srcport",
                   "-e", "tcp.dstport", "-e", "udp.dstport", "-e", "frame.len", "-e", "ip.flags.mf",
                   "-e", "ip.frag_offset", "-e", "frame.time_epoch", "-e", "eth.src", "-e", "dns.flags.response",
                   "-e", "dns.qry.name", "-e", "frame.number", "-e", "dns.response_in", "-e", "dns.flags.rcode",
                   "-Y", "ip or ipv6")
    for ln in lines:
        f = ln.split("|")
        src = first(f[0]) or first(f[1])
        dst = first(f[2]) or first(f[3])
        proto = first(f[4]) or first(f[5])
        if not src or not proto:
            continue
        proto = int(proto)
        frag = first(f[12]) not in ("", "0")
        sp = first(f[6]) or first(f[7])
        dp = first(f[8]) or first(f[9])
        if proto in (6, 17, 132) and not frag:
            key = (src, dst, int(sp) if sp else None, int(dp) if dp else None, proto)
        else:
            key = (src, dst, None, None, proto)
        want[key] += 1
        wbytes[key] += int(f[10])
        ports = {int(sp) if sp else 0, int(dp) if dp else 0}
        dns_port = (proto == 17 and ports & {53, 5353}) or (proto == 6 and 53 in ports)
        if dns_port and first(f[15]) in ("1", "True"):
            rcode_of[f[17]] = int(first(f[19]) or 0)
        if dns_port and first(f[15]) in ("0", "False") and first(f[16]):
            qk = (round(float(f[13]), 6), first(f[14]) or None, first(f[16]).lower().rstrip("."))
            wdns[qk] += 1
            if first(f[18]) and 5353 not in ports:
                answered[qk] = first(f[18])
    got = collections.Counter()
    gbytes = collections.Counter()
    for srcip, dstip, sp, dp, proto, n, b in db.execute(
            "select srcip, dstip, srcport, dstport, proto, pktcount, lensum from sessions where capture_file = ?",
            (cap,)):
        key = (srcip, dstip, sp if proto in (6, 17, 132) else None, dp if proto in (6, 17, 132) else None, proto)
        got[key] += n
        gbytes[key] += b
    diff = [k for k in set(want) | set(got) if (want[k], wbytes[k]) != (got[k], gbytes[k])]
    for k in sorted(diff, key=str)[:10]:
        bad(f"{cap}: {k}: tshark {want[k]} frames {wbytes[k]} bytes, sessions {got[k]} / {gbytes[k]}")
    gdns = collections.Counter()
    grcode = {}
    for ts, mac, qname, rcode in db.execute(
            "select d.ts, d.mac, d.qname, d.rcode from dns d join sessions s on s.sessionid = d.sessionid "
            "where s.capture_file = ?", (cap,)):
        gdns[(round(ts, 6), mac, qname)] += 1
        grcode[(round(ts, 6), mac, qname)] = rcode
    # the answer tshark pairs with each query: the same rcode in dns
    for qk, frame in answered.items():
        if qk in grcode and grcode[qk] != rcode_of.get(frame):
            bad(f"{cap}: {qk}: rcode {grcode[qk]}, tshark's response (frame {frame}) {rcode_of.get(frame)}")
    if wdns != gdns:
        for k in list((wdns - gdns).keys())[:5]:
            bad(f"{cap}: DNS query in tshark, not in dns: {k}")
        for k in list((gdns - wdns).keys())[:5]:
            bad(f"{cap}: DNS row without tshark query: {k}")
    return len(want), sum(want.values()), sum(wdns.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--lab")
    ap.add_argument("--types")
    ap.add_argument("--ieee", default=os.environ.get("CUFLOW_IEEE_DATA") or "/usr/share/ieee-data")
    a = ap.parse_args()
    db = sqlite3.connect(a.db)

    rows = list(db.execute(SEED_SQL))
    n_typed = db.execute("select count(*) from sessions s join devices d on d.mac = s.srcmac "
                         "where d.device_type is not null").fetchone()[0]
    if len(rows) != n_typed:
        bad(f"seed query: {len(rows)} rows, {n_typed} sessions of typed devices")
    neg = db.execute("select count(*) from sessions where endtime < starttime").fetchone()[0]
    if neg:
        bad(f"{neg} sessions with endtime < starttime")
    try:
        import apsw  # the seed's own driver, when it installs
        conn = apsw.Connection(a.db)
        if len(list(conn.cursor().execute(SEED_SQL))) != len(rows):
            bad("apsw and sqlite3 disagree on the seed query")
        apsw_note = "apsw too"
    except ImportError:
        apsw_note = "apsw not installed"

    tuples = frames = queries = 0
    for cap in a.captures:
        t, f, q = check_capture(db, cap)
        tuples += t
        frames += f
        queries += q

    pre = registry(a.ieee)
    devs = list(db.execute("select mac, manufacturer, local_admin, device_type, hostname from devices"))
    for mac, mf, local, _, _ in devs:
        want = vendor(pre, mac)
        if mf != want:
            bad(f"device {mac}: manufacturer {mf!r}, registry {want!r}")
        if local != (1 if int(mac[:2], 16) & 3 == 2 else 0):
            bad(f"device {mac}: local_admin {local}")

    labbed = 0
    if a.lab:
        lab = json.load(open(os.path.join(a.lab, "lab.json")))
        types = {}
        if a.types:
            with open(a.types, newline="") as f:
                types = {r["key"].lower(): r["device_type"] for r in csv.DictReader(f)}
        by_mac = {d[0]: d for d in devs}
        for dev in lab["devices"]:
            mac = dev["mac"].lower()
            d = by_mac.get(mac)
            if not d:
                bad(f"lab device {dev['name']} ({mac}) not in devices")
                continue
            labbed += 1
            if not d[1] or not d[1].lower().startswith(dev["vendor"].lower()[:12]):
                bad(f"lab device {dev['name']}: manufacturer {d[1]!r}, lab vendor {dev['vendor']!r}")
            if d[4] != dev["name"]:
                bad(f"lab device {dev['name']}: hostname {d[4]!r}")
            if mac in types and d[3] != types[mac]:
                bad(f"lab device {dev['name']}: device_type {d[3]!r}, want {types[mac]!r}")
            n = db.execute("select count(*) from dns where mac = ?", (mac,)).fetchone()[0]
            if n == 0:
                bad(f"lab device {dev['name']}: no DNS queries")

    print(f"seed query: {len(rows)} rows ({apsw_note}); {len(a.captures)} captures, {tuples} one-direction "
          f"5-tuples, {frames} IP frames, {queries} DNS queries matched tshark; {len(devs)} devices checked "
          f"against the registry; {labbed} lab IoT devices")
    if problems:
        print(f"{len(problems)} problems:")
        for p in problems[:40]:
            print("  " + p)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

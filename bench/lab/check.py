#!/usr/bin/env python3
"""Checks a lab run (issue 18's acceptance): every class present, cuflow's
flows find the labelled sessions, no packet leaves the lab's addresses.

    bench/lab/check.py DIR --cuflow PATH/TO/cuflow [--min-match 0.99] [--json OUT]

labels.csv comes from the lab's own pcap reader (labpcap.py), the flows
from `cuflow flows` on the same captures: a label matches when a flow has
the same 5-tuple (either direction) and overlapping first/last times.
Exit 0 when every check holds, 1 otherwise (the reasons on stderr).
"""
import argparse
import csv
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labnet  # noqa: E402
import labpcap  # noqa: E402

LAB = ipaddress.ip_network(labnet.LAB_NET)
DHCP_ADDRS = {"0.0.0.0", "255.255.255.255"}


def captures(d):
    out = []
    for cls in sorted(os.listdir(d)):
        sub = os.path.join(d, cls)
        if cls.startswith(".") or not os.path.isdir(sub):
            continue
        out += [os.path.join(sub, f) for f in sorted(os.listdir(sub)) if f.endswith(".pcap")]
    return out


def address_check(paths):
    """Frames that are neither ARP nor IPv4 inside the lab's range (DHCP's
    0.0.0.0 -> 255.255.255.255 on ports 67/68 excepted)."""
    bad, frames = [], 0
    for p in paths:
        for ts, length, etype, ip in labpcap.packets(p):
            frames += 1
            if etype == 0x0806:
                continue
            if ip is None:
                bad.append((p, ts, "ethertype 0x%04x" % (etype or 0)))
                continue
            src, dst, proto, sport, dport = ip[:5]
            dhcp = proto == 17 and {sport, dport} <= {67, 68}
            for a in (src, dst):
                if dhcp and a in DHCP_ADDRS:
                    continue
                if ipaddress.ip_address(a) not in LAB:
                    bad.append((p, ts, "%s -> %s" % (src, dst)))
                    break
    return frames, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--cuflow", required=True)
    ap.add_argument("--min-match", type=float, default=0.99)
    ap.add_argument("--json")
    args = ap.parse_args()
    fails = []
    with open(os.path.join(args.dir, "lab.json")) as f:
        lab = json.load(f)
    paths = captures(args.dir)
    with open(os.path.join(args.dir, "labels.csv"), newline="") as f:
        labels = list(csv.DictReader(f))
    per_class = {c: {"labels": 0, "matched": 0, "captures": 0} for c in lab["classes"]}
    for p in paths:
        c = os.path.basename(os.path.dirname(p))
        per_class.setdefault(c, {"labels": 0, "matched": 0, "captures": 0})["captures"] += 1
    for c in lab["classes"]:
        if not any(r["class"] == c for r in labels):
            fails.append("class %s: no labelled flow" % c)

    frames, bad = address_check(paths)
    if bad:
        fails.append("%d frames leave the lab's addresses, e.g. %s" % (len(bad), bad[:3]))

    tmp = tempfile.mkdtemp(prefix="lab-check-")
    listing = os.path.join(tmp, "inputs.txt")
    flows_csv = os.path.join(tmp, "flows.csv")
    with open(listing, "w") as f:
        f.write("".join(p + "\n" for p in paths))
    r = subprocess.run([args.cuflow, "flows", "-q", "@" + listing, "-o", flows_csv],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        fails.append("cuflow flows failed (%d): %s" % (r.returncode, r.stderr.strip()[-500:]))
        flows = []
    else:
        with open(flows_csv, newline="") as f:
            flows = list(csv.DictReader(f))
    index = {}
    for fl in flows:
        a = (fl["src_ip"], int(fl["src_port"]))
        b = (fl["dst_ip"], int(fl["dst_port"]))
        key = (min(a, b), max(a, b), int(fl["protocol"]))
        index.setdefault(key, []).append((int(fl["bidirectional_first_seen_ns"]) / 1e9,
                                          int(fl["bidirectional_last_seen_ns"]) / 1e9))
    matched = 0
    unmatched = []
    for lb in labels:
        a = (lb["src_ip"], int(lb["src_port"]))
        b = (lb["dst_ip"], int(lb["dst_port"]))
        key = (min(a, b), max(a, b), int(lb["protocol"]))
        t0, t1 = float(lb["first_seen"]), float(lb["last_seen"])
        ok = any(f0 <= t1 + 1e-3 and t0 <= f1 + 1e-3 for f0, f1 in index.get(key, []))
        pc = per_class.setdefault(lb["class"], {"labels": 0, "matched": 0, "captures": 0})
        pc["labels"] += 1
        if ok:
            matched += 1
            pc["matched"] += 1
        else:
            unmatched.append(lb)
    # The directory labels as a training set sees them: `cuflow extract
    # --label-from-dir` rows per class, at least the class's labelled
    # sessions (a long idle gap may split one session into two flows).
    ext = os.path.join(tmp, "extract")
    r = subprocess.run([args.cuflow, "extract", "-q", "--label-from-dir", "@" + listing, "-o", ext],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    extract_rows = {}
    if r.returncode != 0:
        fails.append("cuflow extract --label-from-dir failed (%d): %s" % (r.returncode, r.stderr.strip()[-500:]))
    else:
        with open(os.path.join(ext, "schema.json")) as f:
            rep = json.load(f)["labels"]["report"]["labels"]
        extract_rows = {x["name"]: x["matched"] for x in rep}
        for c, pc in per_class.items():
            pc["extract_rows"] = extract_rows.get(c, 0)
            if pc["labels"] and pc["extract_rows"] < pc["labels"]:
                fails.append("class %s: %d extract rows for %d labelled sessions" % (c, pc["extract_rows"], pc["labels"]))
        if sum(extract_rows.values()) != len(flows):
            fails.append("extract has %d rows, flows %d" % (sum(extract_rows.values()), len(flows)))
    rate = matched / len(labels) if labels else 0.0
    if rate < args.min_match:
        fails.append("only %d of %d labelled sessions (%.2f%%) match a cuflow flow, e.g. %s" % (
            matched, len(labels), 100 * rate, unmatched[:2]))
    summary = {"captures": len(paths), "frames": frames, "frames_outside_lab": len(bad),
               "labels": len(labels), "matched": matched, "match_rate": rate, "cuflow_flows": len(flows),
               "per_class": per_class, "failures": fails}
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    for m in fails:
        print("check: " + m, file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

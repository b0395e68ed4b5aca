#!/usr/bin/env python3
"""Checks `cuflow flows -o OUT.jsonl` against tshark, independently.

usage: joy_jsonl_oracle.py CAPTURE OUT.jsonl

OUT.jsonl must come from `cuflow flows --tcp-end off --idle-timeout 0
--active-timeout 0` (one flow per 5-tuple and VLAN), Joy's defaults
otherwise (payload sizes, --seq 100, 50 ids). From tshark's per-packet
fields alone this script rebuilds every TCP/UDP flow and what its Joy
record must say: orientation (first packet's sender, or the receiver when
the first TCP packet is a SYN-ACK), packet and payload-byte counts per
direction, first and last time, the listed packets (non-empty ones among
the first 100, ipt in truncated milliseconds from the previous listed one,
the first from the flow's start; a time that goes backwards counts as
the newest time seen before it, as in cuflow's flow clock), the minimum TTL and the first 50 IPv4
ids per direction. It compares them with the records, field by field, and
exits 1 on any difference, 0 when all agree (printing a one-line summary).
Captures with tunnels or IP fragments are refused (exit 3): the rules for
those are cuflow's, not something tshark's fields can settle.
"""
import json
import subprocess
import sys

FIELDS = ["frame.time_epoch", "vlan.id", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.ttl", "ipv6.hlim",
          "ip.id", "ip.flags.mf", "ip.frag_offset", "ipv6.nxt", "ip.proto", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "tcp.len", "udp.length", "tcp.flags", "icmp.type", "icmpv6.type"]
SEQ, IDS = 100, 50


def ns_of(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def seconds(ns):
    return "%d.%09d" % divmod(ns, 1_000_000_000)


def packets(capture):
    out = subprocess.run(["tshark", "-n", "-r", capture, "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=a", "-E", "aggregator=|"] + sum((["-e", f] for f in FIELDS), []),
                         check=True, capture_output=True, text=True).stdout
    clock = -2**63
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        src, dst = v["ip.src"] or v["ipv6.src"], v["ip.dst"] or v["ipv6.dst"]
        if not src:
            continue
        # cuflow's packet clock (flow.h): a time earlier than the newest
        # one of any IP packet so far counts as that newest time
        clock = max(clock, ns_of(v["frame.time_epoch"]))
        if v["icmp.type"] or v["icmpv6.type"]:
            continue  # ICMP errors quote an IP header (and ports) of another flow
        if "|" in src or "|" in v["ip.src"] + v["ipv6.src"] or (v["ip.src"] and v["ipv6.src"]):
            sys.exit("oracle: %s has tunnels (several IP layers); not a capture for this oracle" % capture)
        if v["ip.flags.mf"] in ("1", "True") or v["ip.frag_offset"] not in ("", "0"):
            sys.exit("oracle: %s has IP fragments; not a capture for this oracle" % capture)
        if v["tcp.srcport"]:
            proto, sp, dp = 6, int(v["tcp.srcport"]), int(v["tcp.dstport"])
            pay, flags = int(v["tcp.len"]), int(v["tcp.flags"], 16)
        elif v["udp.srcport"]:
            proto, sp, dp = 17, int(v["udp.srcport"]), int(v["udp.dstport"])
            pay, flags = int(v["udp.length"]) - 8, 0
        else:
            continue  # ICMP & co: keyed by type/code/id in cuflow, not compared here
        yield {
            "t": clock, "vlan": int(v["vlan.id"].split("|")[0] or 0),
            "src": src, "dst": dst, "proto": proto, "sp": sp, "dp": dp, "pay": pay, "flags": flags,
            "ttl": int(v["ip.ttl"] or v["ipv6.hlim"]), "id": int(v["ip.id"], 16) if v["ip.id"] else None,
        }


def expected(capture):
    flows = {}
    for p in packets(capture):
        a, b = (p["src"], p["sp"]), (p["dst"], p["dp"])
        key = (min(a, b), max(a, b), p["proto"], p["vlan"])
        f = flows.get(key)
        if f is None:
            first_is_synack = p["proto"] == 6 and p["flags"] & 0x12 == 0x12
            f = flows[key] = {"client": b if first_is_synack else a, "pkts": []}
        p["out"] = (p["src"], p["sp"]) == f["client"]
        f["pkts"].append(p)
    records = {}
    for key, f in flows.items():
        ps = f["pkts"]
        (sa, sp), server = f["client"], [e for e in key[:2] if e != f["client"]]
        da, dp = server[0] if server else f["client"]
        rec = {"sa": sa, "da": da, "pr": key[2], "sp": sp, "dp": dp}
        for d, name in ((True, "out"), (False, "in")):
            mine = [p for p in ps if p["out"] == d]
            rec["bytes_" + name] = sum(p["pay"] for p in mine)
            rec["num_pkts_" + name] = len(mine)
            if mine:
                ip = {"ttl": min(p["ttl"] for p in mine)}
                ids = [p["id"] for p in mine if p["id"] is not None][:IDS]
                if ids:
                    ip["id"] = ids
                rec.setdefault("ip", {})[name] = ip
        t0 = ps[0]["t"]
        rec["time_start"], rec["time_end"] = seconds(t0), seconds(ps[-1]["t"])
        listed, last = [], t0
        for p in ps[:SEQ]:
            if p["pay"]:
                listed.append({"b": p["pay"], "dir": ">" if p["out"] else "<", "ipt": (p["t"] - last) // 1_000_000})
                last = p["t"]
        rec["packets"] = listed
        records[(sa, sp, da, dp, key[2], key[3])] = rec
    return records


def main():
    capture, jsonl = sys.argv[1], sys.argv[2]
    want = expected(capture)
    got = {}
    with open(jsonl) as fh:
        lines = fh.read().splitlines()
    if not lines or '"version"' not in lines[0] or '"end-config":1' not in lines[0]:
        print("no configuration line first")
        return 1
    for line in lines[1:]:
        # times are compared as text: a float would lose the nanoseconds
        r = json.loads(line, parse_float=str)
        if r["pr"] in (6, 17):
            got[(r["sa"], r["sp"], r["da"], r["dp"], r["pr"], r.get("vlan_id", 0))] = r
    bad = 0
    for k in sorted(set(want) | set(got), key=str):
        if k not in got or k not in want:
            print("%s: only in %s" % (k, "tshark" if k not in got else "cuflow"))
            bad += 1
            continue
        for field, value in want[k].items():
            if got[k].get(field) != value:
                print("%s: %s: cuflow %r, tshark %r" % (k, field, got[k].get(field), value))
                bad += 1
        if "in" in got[k].get("ip", {}) and "in" not in want[k].get("ip", {}):
            print("%s: ip.in without a reverse packet" % (k,))
            bad += 1
    print("%s: %d TCP/UDP flows, %d packets listed, %d differences" %
          (capture, len(want), sum(len(r["packets"]) for r in want.values()), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

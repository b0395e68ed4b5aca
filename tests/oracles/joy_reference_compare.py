#!/usr/bin/env python3
"""Holds cuflow's Joy records against Joy 4.5.0's own output
(../shared/data/joy/reference/CAPTURE.joy.json.gz, written by Joy itself
with `bidir=1`), record for record and field for field.

    joy_reference_compare.py CUFLOW REFERENCE_DIR CAPTURE... [--args "--joy-compat"] [--json OUT]

Each CAPTURE is matched to REFERENCE_DIR/<basename>.joy.json.gz. Records
are paired by (sa, da, pr, sp, dp, time_start) in file order; a record is
"equal" when every key and value is the same (key order included: Joy's
loaders do not care, but a reader of the text might). Prints a summary per
capture and per key; exit 0 when every record of every capture is equal.
"""
import argparse
import collections
import gzip
import json
import os
import subprocess
import sys


def records(lines):
    out = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        obj = json.loads(line, object_pairs_hook=collections.OrderedDict)
        if "end-config" in obj or "version" in obj:
            continue
        out.append(obj)
    return out


def key(r):
    return (r.get("sa"), r.get("da"), r.get("pr"), r.get("sp"), r.get("dp"), r.get("time_start"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cuflow")
    ap.add_argument("reference_dir")
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--args", default="--joy-compat")
    ap.add_argument("--json")
    ap.add_argument("--show", type=int, default=2, help="mismatching records shown per capture")
    args = ap.parse_args()
    total = collections.Counter()
    per_key = collections.Counter()
    per_capture = {}
    examples = []
    for cap in args.captures:
        ref_path = os.path.join(args.reference_dir, os.path.basename(cap) + ".joy.json.gz")
        with gzip.open(ref_path, "rt") as f:
            ref = records(f)
        r = subprocess.run([args.cuflow, "flows", "-q", "--format", "jsonl"] + args.args.split() + [cap, "-o", "-"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode not in (0, 2):
            print("%s: cuflow failed (%d): %s" % (cap, r.returncode, r.stderr.strip()[-400:]), file=sys.stderr)
            return 2
        mine = records(r.stdout.splitlines())
        pool = collections.defaultdict(list)
        for m in mine:
            pool[key(m)].append(m)
        c = collections.Counter(joy=len(ref), cuflow=len(mine))
        for j in ref:
            cands = pool.get(key(j))
            if not cands:
                c["unpaired"] += 1
                if len(examples) < 200:
                    examples.append({"capture": os.path.basename(cap), "joy": j, "cuflow": None})
                continue
            m = cands.pop(0)
            c["paired"] += 1
            if list(m.items()) == list(j.items()):
                c["equal"] += 1
                continue
            bad = sorted({k for k in set(m) | set(j) if m.get(k, "<missing>") != j.get(k, "<missing>")})
            if not bad:
                bad = ["<key order>"]
            for k in bad:
                per_key[k] += 1
            if sum(1 for e in examples if e["capture"] == os.path.basename(cap)) < args.show:
                examples.append({"capture": os.path.basename(cap), "fields": bad,
                                 "joy": {k: j.get(k) for k in bad if k in j},
                                 "cuflow": {k: m.get(k) for k in bad if k in m}})
        c["extra_cuflow"] = sum(len(v) for v in pool.values())
        per_capture[os.path.basename(cap)] = dict(c)
        total.update(c)
    summary = {"total": dict(total), "per_key": dict(per_key.most_common()), "per_capture": per_capture,
               "examples": examples[:40]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    print(json.dumps({"total": summary["total"], "per_key": summary["per_key"], "per_capture": per_capture},
                     indent=1))
    ok = total["joy"] == total["equal"] and total["extra_cuflow"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

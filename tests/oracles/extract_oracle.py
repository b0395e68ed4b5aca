#!/usr/bin/env python3
"""Independent oracle for `cuflow extract` (used by tests/test_extract.cpp).

    extract_oracle.py SPEC.json

SPEC is written by the test that wrote the capture. It never contains
anything cuflow computed: only the packets the test put into the capture,
grouped into the flows the test expects (per flow.h's rules, reasoned by
hand), each packet as [time_ns, size_bytes, dir, tcp_flags] with dir 0 =
src2dst, 1 = dst2src. From those lists this script recomputes every
feature with plain numpy (np.std(ddof=1), np.percentile, np.diff, ...) and
every sequence entry, and compares with the files cuflow wrote.

Modes:
  {"mode": "check", "dir": D, "dtype": "float64"|"float32", "seq": L,
   "pad": P, "ordered": bool, "label_names": [..] (optional),
   "flows": [{"src", "dst", "sport", "dport", "proto", "ip_version",
              "vlan", "end_reason" (optional), "label" (optional),
              "packets": [[t, size, dir, flags], ...]}, ...]}
      Rows are matched to flows by flows.csv's identity columns and
      first_seen_ns (each flow exactly one row, no extra rows); with
      "ordered" row i must be flow i. Arrays are read through
      schema.json's "files" lists (so sharded output works too).
  {"mode": "shards", "whole": D1, "sharded": D2, "shard_rows": R}
      D2 (--shard-rows R) concatenated in schema order equals D1.

Comparisons: integer-valued columns and sequences exactly; other doubles
within 1e-12 relative (float32 output: within 2.5e-7 relative of the
float64 value, i.e. one float32 rounding). Prints one line per problem
and "ok ..." at the end; exit status 1 on any problem.
"""
import csv
import ipaddress
import json
import os
import sys

import numpy as np

STAT = ["packets", "bytes", "duration_ns", "min_ps", "mean_ps", "stddev_ps", "max_ps", "p25_ps", "p50_ps",
        "p75_ps", "min_piat_ns", "mean_piat_ns", "stddev_piat_ns", "max_piat_ns", "syn_packets", "cwr_packets",
        "ece_packets", "urg_packets", "ack_packets", "psh_packets", "rst_packets", "fin_packets"]
SETS = ["bidirectional", "src2dst", "dst2src"]
# columns whose value is an integer (compared exactly)
INTEGER = {"packets", "bytes", "duration_ns", "min_ps", "max_ps", "min_piat_ns", "max_piat_ns"} | {
    s for s in STAT if s.endswith("_packets")}
FLAG_BITS = {"syn_packets": 0x02, "cwr_packets": 0x80, "ece_packets": 0x40, "urg_packets": 0x20,
             "ack_packets": 0x10, "psh_packets": 0x08, "rst_packets": 0x04, "fin_packets": 0x01}

problems = []


def problem(msg):
    problems.append(msg)
    if len(problems) <= 60:
        print("MISMATCH " + msg)


def set_stats(pk):
    """22 features of one direction set; pk: list of [t, size, dir, flags] in time order."""
    n = len(pk)
    v = dict.fromkeys(STAT, 0.0)
    if n == 0:
        return v
    t = np.array([p[0] for p in pk], dtype=np.int64)
    s = np.array([p[1] for p in pk], dtype=np.int64)
    fl = np.array([p[3] for p in pk], dtype=np.int64)
    v["packets"] = n
    v["bytes"] = int(s.sum())
    v["duration_ns"] = int(t[-1] - t[0])
    v["min_ps"] = int(s.min())
    v["max_ps"] = int(s.max())
    v["mean_ps"] = float(np.mean(s.astype(np.float64)))
    v["stddev_ps"] = float(np.std(s.astype(np.float64), ddof=1)) if n > 1 else 0.0
    q = np.percentile(s, [25, 50, 75])  # numpy default: linear
    v["p25_ps"], v["p50_ps"], v["p75_ps"] = (float(x) for x in q)
    piat = np.diff(t)
    if len(piat):
        v["min_piat_ns"] = int(piat.min())
        v["max_piat_ns"] = int(piat.max())
        v["mean_piat_ns"] = float(np.mean(piat.astype(np.float64)))
        v["stddev_piat_ns"] = float(np.std(piat.astype(np.float64), ddof=1)) if len(piat) > 1 else 0.0
    for name, bit in FLAG_BITS.items():
        v[name] = int(np.count_nonzero(fl & bit))
    return v


def flow_features(flow):
    pk = sorted(flow["packets"], key=lambda p: p[0])
    row = []
    for d in (None, 0, 1):
        sub = [p for p in pk if d is None or p[2] == d]
        st = set_stats(sub)
        row.extend(st[k] for k in STAT)
    return row


def flow_sequence(flow, L, pad):
    pk = sorted(flow["packets"], key=lambda p: p[0])
    seq = np.full((L, 3), pad, dtype=np.float64)
    t = np.array([p[0] for p in pk], dtype=np.int64)
    iat = np.concatenate([[0], np.diff(t)]) if len(t) else np.zeros(0, dtype=np.int64)
    for k in range(min(L, len(pk))):
        seq[k, 0] = pk[k][1]
        seq[k, 1] = iat[k]
        seq[k, 2] = 1 if pk[k][2] == 0 else -1
    return seq, min(L, len(pk))


def load_array(d, schema, name):
    """The array `name` of output dir d, its files concatenated in schema order."""
    files = schema["files"].get(name)
    if files is None:
        return None
    parts = []
    for f in files:
        a = np.load(os.path.join(d, f["path"]))
        if a.shape[0] != f["rows"]:
            problem("%s: %d rows, schema says %d" % (f["path"], a.shape[0], f["rows"]))
        parts.append(a)
    return np.concatenate(parts) if parts else None


def same_ip(a, b):
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def close(got, want, tol):
    return abs(got - want) <= tol * max(abs(want), 1.0)


def check(spec):
    d = spec["dir"]
    with open(os.path.join(d, "schema.json")) as fh:
        schema = json.load(fh)
    with open(os.path.join(d, "flows.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    flows = spec["flows"]
    n = len(flows)
    f32 = spec.get("dtype", "float64") == "float32"
    L = int(spec["seq"])
    pad = float(spec.get("pad", 0.0))
    ndt = np.float32 if f32 else np.float64

    if schema["rows"] != n:
        problem("schema rows %d, want %d" % (schema["rows"], n))
    if len(rows) != n:
        problem("flows.csv has %d rows, want %d" % (len(rows), n))
    if schema["features"]["dtype"] != ("float32" if f32 else "float64"):
        problem("schema dtype %s" % schema["features"]["dtype"])
    cols = [c["name"] for c in schema["features"]["columns"]]
    want_cols = ["%s_%s" % (s, k) for s in SETS for k in STAT]
    if cols != want_cols:
        problem("schema columns differ: %s" % cols)

    sq = schema["sequences"]
    if sq["length"] != L or float(sq["pad"]) != pad:
        problem("schema sequences length %s pad %s, want %d %r" % (sq["length"], sq["pad"], L, pad))

    feat = load_array(d, schema, "features")
    seq = load_array(d, schema, "sequences")
    lens = load_array(d, schema, "lengths")
    labs = load_array(d, schema, "labels")
    if feat is None or feat.dtype != ndt or feat.shape != (n, 66):
        problem("features: %s" % (None if feat is None else (feat.dtype, feat.shape)))
        return
    if L:
        if seq is None or seq.dtype != ndt or seq.shape != (n, L, 3):
            problem("sequences: %s" % (None if seq is None else (seq.dtype, seq.shape)))
            return
        if lens is None or lens.dtype != np.int32 or lens.shape != (n,):
            problem("lengths: %s" % (None if lens is None else (lens.dtype, lens.shape)))
            return
    else:
        if seq is not None or lens is not None:
            problem("--seq 0 wrote sequences/lengths")
        for name in ("sequences.npy", "lengths.npy"):
            if os.path.exists(os.path.join(d, name)):
                problem("--seq 0 wrote " + name)
    want_labels = any("label" in f for f in flows)
    if want_labels:
        if labs is None or labs.dtype != np.int64 or labs.shape != (n,):
            problem("labels: %s" % (None if labs is None else (labs.dtype, labs.shape)))
            return
        names = schema["labels"]["names"]
        if "label_names" in spec and names != spec["label_names"]:
            problem("label names %s, want %s" % (names, spec["label_names"]))
    elif labs is not None or schema["labels"] is not None:
        problem("labels written without a label option")

    # match rows to flows
    row_of = [None] * n
    used = set()
    for i, fl in enumerate(flows):
        first = min(p[0] for p in fl["packets"])
        last = max(p[0] for p in fl["packets"])
        cands = [r for r, row in enumerate(rows)
                 if r not in used and same_ip(row["src_ip"], fl["src"]) and same_ip(row["dst_ip"], fl["dst"])
                 and int(row["src_port"]) == fl["sport"] and int(row["dst_port"]) == fl["dport"]
                 and int(row["protocol"]) == fl["proto"] and int(row["first_seen_ns"]) == first
                 and int(row["vlan_id"]) == fl.get("vlan", 0)]
        if len(cands) != 1:
            problem("flow %d (%s:%d -> %s:%d proto %d first %d): %d matching rows" %
                    (i, fl["src"], fl["sport"], fl["dst"], fl["dport"], fl["proto"], first, len(cands)))
            continue
        r = cands[0]
        used.add(r)
        row_of[i] = r
        row = rows[r]
        if spec.get("ordered") and r != i:
            problem("flow %d is row %d (rows out of order)" % (i, r))
        if int(row["row"]) != r:
            problem("flows.csv row column %s at line %d" % (row["row"], r))
        if int(row["last_seen_ns"]) != last:
            problem("flow %d last_seen_ns %s, want %d" % (i, row["last_seen_ns"], last))
        if int(row["ip_version"]) != fl.get("ip_version", 4):
            problem("flow %d ip_version %s" % (i, row["ip_version"]))
        if "end_reason" in fl and row["end_reason"] != fl["end_reason"]:
            problem("flow %d end_reason %s, want %s" % (i, row["end_reason"], fl["end_reason"]))
        if want_labels:
            if row["label"] != fl["label"]:
                problem("flow %d flows.csv label %r, want %r" % (i, row["label"], fl["label"]))
            lid = int(labs[r])
            if not (0 <= lid < len(names)) or names[lid] != fl["label"]:
                problem("flow %d labels.npy id %d (%s), want %r" %
                        (i, lid, names[lid] if 0 <= lid < len(names) else "?", fl["label"]))
        elif row["label"] != "":
            problem("flow %d has label %r without a label option" % (i, row["label"]))

        want = flow_features(fl)
        got = feat[r]
        for c in range(66):
            name = STAT[c % 22]
            w, g = want[c], float(got[c])
            if f32:
                ok = close(g, float(w), 2.5e-7)
            elif name in INTEGER:
                ok = g == float(w) and float(w) == w
            else:
                ok = close(g, float(w), 1e-12)
            if not ok:
                problem("flow %d column %s: got %r, want %r" % (i, want_cols[c], g, w))
        if L:
            wseq, wlen = flow_sequence(fl, L, pad)
            if f32:
                wseq = wseq.astype(np.float32)
            if not np.array_equal(seq[r], wseq):
                bad = np.argwhere(seq[r] != wseq)
                k, ch = bad[0]
                problem("flow %d sequence [%d,%d]: got %r, want %r (%d entries differ)" %
                        (i, k, ch, float(seq[r][k, ch]), float(wseq[k, ch]), len(bad)))
            if int(lens[r]) != wlen:
                problem("flow %d length %d, want %d" % (i, int(lens[r]), wlen))
    return n


def shards(spec):
    w, s, R = spec["whole"], spec["sharded"], int(spec["shard_rows"])
    with open(os.path.join(w, "schema.json")) as fh:
        sw = json.load(fh)
    with open(os.path.join(s, "schema.json")) as fh:
        ss = json.load(fh)
    N = sw["rows"]
    if ss["rows"] != N:
        problem("sharded rows %d, whole %d" % (ss["rows"], N))
    if set(sw["files"]) != set(ss["files"]):
        problem("arrays differ: %s vs %s" % (sorted(sw["files"]), sorted(ss["files"])))
    for name, files in sw["files"].items():
        if len(files) != 1 or files[0]["path"] != name + ".npy":
            problem("unsharded %s files %s" % (name, files))
        whole = np.load(os.path.join(w, files[0]["path"]))
        sf = ss["files"].get(name, [])
        want_n = (N + R - 1) // R
        if len(sf) != want_n:
            problem("%s: %d shards, want %d" % (name, len(sf), want_n))
        for k, f in enumerate(sf):
            if f["path"] != "%s-%05d.npy" % (name, k):
                problem("%s shard %d named %s" % (name, k, f["path"]))
            want_rows = min(R, N - k * R)
            if f["rows"] != want_rows:
                problem("%s shard %d: schema rows %d, want %d" % (name, k, f["rows"], want_rows))
        parts = [np.load(os.path.join(s, f["path"])) for f in sf]
        for k, p in enumerate(parts):
            if p.shape[0] != sf[k]["rows"]:
                problem("%s shard %d holds %d rows, schema says %d" % (name, k, p.shape[0], sf[k]["rows"]))
            if p.dtype != whole.dtype or p.shape[1:] != whole.shape[1:]:
                problem("%s shard %d: %s %s vs %s %s" % (name, k, p.dtype, p.shape, whole.dtype, whole.shape))
        cat = np.concatenate(parts) if parts else None
        if cat is None or cat.dtype != whole.dtype or not np.array_equal(cat, whole):
            problem("%s: shards concatenated differ from the whole" % name)
        if os.path.exists(os.path.join(s, name + ".npy")):
            problem("sharded output also has %s.npy" % name)
    with open(os.path.join(w, "flows.csv"), "rb") as a, open(os.path.join(s, "flows.csv"), "rb") as b:
        if a.read() != b.read():
            problem("flows.csv differs")
    return N


def main():
    with open(sys.argv[1]) as fh:
        spec = json.load(fh)
    mode = spec.get("mode", "check")
    n = check(spec) if mode == "check" else shards(spec)
    if problems:
        print("%d problems" % len(problems))
        return 1
    print("ok %s %s rows" % (mode, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())

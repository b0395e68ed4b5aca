#!/usr/bin/env python3
"""Independent check of how the nested model reads a `cuflow extract` dataset.

usage: extract_input_check.py EXTRACT_DIR EXPORT_DIR MAX_PACKETS

EXTRACT_DIR: `cuflow extract` output (npy layout, whole or sharded);
EXPORT_DIR: `cuflow train --model nested EXTRACT_DIR --export EXPORT_DIR
--val-fraction 0 --test-fraction 0` (every flow in train_*.npy, in the
split's seeded order). From extract's arrays alone (numpy, schema.json's
column names) this computes what docs/models.md says each flow becomes in
the default input mode, and compares it with the export as a multiset of
rows (the split order is cuflow's, so both sides are sorted first):
  pkt[t]  = (size / 1500, 1 if direction > 0 else 0, log1p(round(iat_ns / 1e6)))
            for t < min(length, MAX_PACKETS), zeros after; pkt_len = max(that, 1)
  root    = log1p of dst2src_bytes, src2dst_bytes, dst2src_packets,
            src2dst_packets, duration in ms (bidirectional_duration_ns / 1e6)
  ttl_out = ttl_in = 0; id lists: one step of zeros (length 1)
  label   = the class's index among the sorted label names
Prints OK and exits 0, or the first mismatch and exits 1.
"""
import glob
import json
import os
import sys

import numpy as np


def load(dir_, base):
    whole = os.path.join(dir_, base + ".npy")
    if os.path.exists(whole):
        return np.load(whole)
    parts = sorted(glob.glob(os.path.join(dir_, base + "-[0-9][0-9][0-9][0-9][0-9].npy")))
    return np.concatenate([np.load(p) for p in parts]) if parts else None


def main():
    xdir, edir, maxp = sys.argv[1], sys.argv[2], int(sys.argv[3])
    schema = json.load(open(os.path.join(xdir, "schema.json")))
    cols = [c["name"] for c in schema["features"]["columns"]]
    feat = load(xdir, "features").astype(np.float64)
    seq = load(xdir, "sequences").astype(np.float64)
    lens = load(xdir, "lengths").astype(np.int64)
    labs = load(xdir, "labels")
    names = schema["labels"]["names"]
    classes = sorted(set(names[i] for i in labs))
    n = feat.shape[0]

    def col(name):
        v = feat[:, cols.index(name)]
        return np.where(v > 0, v, 0.0)

    root = np.stack([np.log1p(col("dst2src_bytes")), np.log1p(col("src2dst_bytes")),
                     np.log1p(col("dst2src_packets")), np.log1p(col("src2dst_packets")),
                     np.log1p(np.floor(col("bidirectional_duration_ns")) * 1e-9 * 1e3)], axis=1).astype(np.float32)
    L = np.minimum(np.maximum(lens, 0), min(maxp, seq.shape[1]))
    pkt = np.zeros((n, maxp, 3), np.float32)
    for i in range(n):
        s = seq[i, :L[i]]
        size = np.where(s[:, 0] > 0, np.floor(s[:, 0]), 0)
        ms = np.where(s[:, 1] > 0, np.floor(s[:, 1] / 1e6 + 0.5), 0)
        pkt[i, :L[i], 0] = (size / 1500.0).astype(np.float32)
        pkt[i, :L[i], 1] = (s[:, 2] > 0).astype(np.float32)
        pkt[i, :L[i], 2] = np.log1p(ms).astype(np.float32)
    want = {
        "pkt": pkt, "pkt_len": np.maximum(L, 1).astype(np.int32), "root": root,
        "label": np.array([classes.index(names[i]) for i in labs], np.int32),
        "ttl_out": np.zeros(n, np.int32), "ttl_in": np.zeros(n, np.int32),
        "id_out_len": np.ones(n, np.int32), "id_in_len": np.ones(n, np.int32),
    }
    got = {k: np.load(os.path.join(edir, "train_" + k + ".npy")) for k in want}
    if got["pkt"].shape != want["pkt"].shape:
        print(f"MISMATCH pkt shape {got['pkt'].shape} vs {want['pkt'].shape}")
        return 1
    for k in ("id_out", "id_in"):
        a = np.load(os.path.join(edir, "train_" + k + ".npy"))
        if a.shape[0] != n or np.any(a != 0):
            print(f"MISMATCH {k}: expected {n} rows of zeros")
            return 1

    def rows(d):
        return np.concatenate([d["label"][:, None], d["pkt_len"][:, None], d["ttl_out"][:, None],
                               d["ttl_in"][:, None], d["id_out_len"][:, None], d["id_in_len"][:, None],
                               d["root"], d["pkt"].reshape(n, -1)], axis=1).astype(np.float64)

    a, b = rows(got), rows(want)
    # sort on values rounded to 5 significant digits, so libm's last bit cannot reorder rows
    def order(m):
        r = np.round(m, 5)
        return np.lexsort(r.T[::-1])
    a, b = a[order(a)], b[order(b)]
    bad = ~np.isclose(a, b, rtol=1e-6, atol=1e-7)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        print(f"MISMATCH sorted row {i} column {j}: cuflow {a[i, j]!r} oracle {b[i, j]!r}")
        return 1
    print(f"OK {n} flows, {len(classes)} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

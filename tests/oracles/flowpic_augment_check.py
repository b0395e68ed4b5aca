#!/usr/bin/env python3
"""Checks `cuflow flowpic --preset mini --augment KIND` against tcbench's augmentations
applied by an independent reference (flowpic_ref.py, numpy).

usage: flowpic_augment_check.py CAPTURE CUFLOW_DIR KIND COPIES

CUFLOW_DIR: `cuflow flowpic --preset mini --augment KIND --augment-copies COPIES CAPTURE -o DIR`
(index.csv with its augment and augment_param columns, flowpic.npy). For each session, in
order of first appearance, the reference makes its own images (copy 0), then for each copy k
that cuflow lists, the images of the session's packet times changed with the parameter p
cuflow drew and printed (augment_param):
    rtt    t * p          p in [0.5, 1.5]
    shift  t + p          p in [-1, 1]    (times outside [0, 15) are not counted)
    loss   packets with |t - p| <= 0.1 dropped, p in [0, t_last]
and compares every image (bit for bit) and index row (5-tuple, window, start, packets). The
parameters themselves are random: they are checked for range, for being one per copy and
session, and for spreading over their range. A copy that cuflow does not list must give no
image here either, for every parameter of its range on a grid (a copy with too few packets).
Prints OK and exits 0, or the first difference and exits 1.
"""
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flowpic_ref as R  # noqa: E402

RANGES = {"rtt": (0.5, 1.5), "shift": (-1.0, 1.0)}


def augment(t, sizes, kind, p):
    if kind == "rtt":
        return t * p, sizes
    if kind == "shift":
        return t + p, sizes
    keep = ~(np.abs(t - p) <= 0.1)
    return t[keep], sizes[keep]


def main():
    cap, outdir, kind, copies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    params = R.resolve_params("mini", size_formula="tcbench")
    rows = list(csv.DictReader(open(os.path.join(outdir, "index.csv"))))
    arr = np.load(os.path.join(outdir, "flowpic.npy"))
    if len(rows) != arr.shape[0]:
        print(f"MISMATCH {len(rows)} index rows, {arr.shape[0]} images")
        return 1
    sessions, order = {}, []
    for p in R.read_packets(cap):
        if p.key not in sessions:
            sessions[p.key] = []
            order.append(p.key)
        sessions[p.key].append(p)
    at, params_seen, n_aug = 0, [], 0
    for key in order:
        plist = sessions[key]
        p0 = plist[0]
        t = np.array([R.rel_time(p, p0, params["timebase"]) for p in plist], dtype=np.float64)
        sz = np.array([p.size for p in plist], dtype=np.int64)
        want = [(0, 0.0, im) for im in R.session_images(t, sz, None, **params)]
        # cuflow's copies of this session: the rows after its own images that carry its key
        j = at + len(want)
        listed = {}
        while j < len(rows) and int(rows[j]["augment"]) > 0 and \
                (rows[j]["src_ip"], int(rows[j]["src_port"]), rows[j]["dst_ip"], int(rows[j]["dst_port"])) == \
                (key[0], key[1], key[2], key[3]):
            listed.setdefault(int(rows[j]["augment"]), float(rows[j]["augment_param"]))
            j += 1
        lo_hi = RANGES.get(kind, (0.0, float(t[-1]) if len(t) else 0.0))
        for k in range(1, copies + 1):
            if k in listed:
                p = listed[k]
                if not (lo_hi[0] <= p <= lo_hi[1]):
                    print(f"MISMATCH session {key} copy {k}: parameter {p} outside {lo_hi}")
                    return 1
                params_seen.append((p - lo_hi[0]) / (lo_hi[1] - lo_hi[0]) if lo_hi[1] > lo_hi[0] else 0.5)
                ta, sa = augment(t, sz, kind, p)
                want += [(k, p, im) for im in R.session_images(ta, sa, None, **params)]
            elif kind == "rtt":
                # scaling keeps every packet: a copy without images means none of the range
                # gives one (shift and loss can push packets out for some parameters only)
                for p in np.linspace(lo_hi[0], lo_hi[1], 41):
                    if R.session_images(t * p, sz, None, **params):
                        print(f"MISMATCH session {key} copy {k}: cuflow lists no image, factor {p} gives one")
                        return 1
        for (k, p, im) in want:
            if at >= len(rows):
                print(f"MISMATCH cuflow has {len(rows)} images, the reference more (session {key})")
                return 1
            r = rows[at]
            got = (r["src_ip"], int(r["src_port"]), r["dst_ip"], int(r["dst_port"]), int(r["protocol"]),
                   int(r["window"]), int(r["window_start_ns"]), int(r["packets"]), int(r["augment"]))
            exp = (key[0], key[1], key[2], key[3], key[4], im["window"], p0.ns, im["packets"], k)
            if got != exp:
                print(f"MISMATCH row {at}: cuflow {got} reference {exp}")
                return 1
            if not np.array_equal(arr[at], im["image"].astype(arr.dtype)):
                print(f"MISMATCH image {at} (session {key}, copy {k}, parameter {p}): "
                      f"{int((arr[at] != im['image']).sum())} pixels differ")
                return 1
            n_aug += k > 0
            at += 1
    if at != len(rows):
        print(f"MISMATCH cuflow has {len(rows)} images, the reference {at}")
        return 1
    if len(params_seen) >= 20:
        q = np.array(params_seen)
        if q.min() > 0.2 or q.max() < 0.8 or abs(q.mean() - 0.5) > 0.15:
            print(f"MISMATCH parameters do not spread over their range: min {q.min()} max {q.max()} mean {q.mean()}")
            return 1
    print(f"OK {at} images, {n_aug} augmented, {len(params_seen)} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())

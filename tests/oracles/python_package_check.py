#!/usr/bin/env python3
"""The Python package (python/cuflow) against the command line.

    python_package_check.py --cuflow BIN CAPTURE... (CUFLOW_LIBRARY and
    PYTHONPATH set by the caller)

- cuflow.summary(captures) has one row per capture with `cuflow info
  --json`'s packets;
- cuflow.flows(captures, jobs=2) has the rows of `cuflow flows -o x.csv`
  (same ids, same packet counts per flow);
- cuflow.sessions(captures) equals `cuflow sessions`' SQLite table;
- a missing input raises cuflow.Error naming it (strict), or gives the other
  inputs' rows (strict=False);
- continuous=True over the first capture cut by `editcap -c 1000` (when
  editcap is installed) gives the whole capture's flows, every column.
Exit 0, or 1 with the differences.
"""
import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

import cuflow


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuflow", required=True)
    ap.add_argument("captures", nargs="+")
    a = ap.parse_args()
    bad = []
    tmp = tempfile.mkdtemp()

    s = cuflow.summary(a.captures)
    info = json.loads(subprocess.run([a.cuflow, "info", "--json", *a.captures], capture_output=True,
                                     text=True).stdout)
    want = [f["packets"] for f in info["files"]]
    if s.column("packets").to_pylist() != want:
        bad.append(f"summary packets {s.column('packets').to_pylist()} != info {want}")

    f = cuflow.flows(a.captures, jobs=2)
    out = os.path.join(tmp, "f.csv")
    subprocess.run([a.cuflow, "flows", "-q", *a.captures, "-o", out], check=True)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    got = list(zip(f.column("id").to_pylist(), f.column("bidirectional_packets").to_pylist()))
    want = [(int(r["id"]), int(r["bidirectional_packets"])) for r in rows]
    if got != want:
        bad.append(f"flows: {len(got)} rows, CSV {len(want)}; first difference "
                   f"{next(((g, w) for g, w in zip(got, want) if g != w), None)}")

    db = os.path.join(tmp, "s.sqlite")
    subprocess.run([a.cuflow, "sessions", "-q", *a.captures, "-o", db], check=True)
    cur = sqlite3.connect(db).execute("select * from sessions order by sessionid")
    names = [d[0] for d in cur.description]
    want_rows = [dict(zip(names, r)) for r in cur]
    got_rows = [{k: r.get(k) for k in names} for r in cuflow.sessions(a.captures).to_pylist()]
    if got_rows != want_rows:
        bad.append(f"sessions: {len(got_rows)} rows, database {len(want_rows)}; first difference "
                   f"{next(((g, w) for g, w in zip(got_rows, want_rows) if g != w), None)}")

    # options: the same as the command line's
    out2 = os.path.join(tmp, "f5.csv")
    subprocess.run([a.cuflow, "flows", "-q", "--idle-timeout", "5", *a.captures, "-o", out2], check=True)
    with open(out2, newline="") as fh:
        n5 = sum(1 for _ in csv.DictReader(fh))
    f5 = cuflow.flows(a.captures, idle_timeout=5)
    if f5.num_rows != n5:
        bad.append(f"flows(idle_timeout=5): {f5.num_rows} rows, --idle-timeout 5: {n5}")
    out3 = os.path.join(tmp, "fc.csv")
    subprocess.run([a.cuflow, "flows", "-q", "--compat", "nfstream", *a.captures, "-o", out3], check=True)
    with open(out3, newline="") as fh:
        crow = list(csv.DictReader(fh))
    fc = cuflow.flows(a.captures, compat="nfstream")
    cols = ["id", "src_port", "dst_port", "bidirectional_packets", "src2dst_packets"]
    got = list(zip(*[fc.column(c).to_pylist() for c in cols]))
    want = [tuple(int(r[c]) for c in cols) for r in crow]
    if got != want:
        bad.append(f"flows(compat='nfstream'): {len(got)} rows, --compat nfstream: {len(want)}; first difference "
                   f"{next(((g, w) for g, w in zip(got, want) if g != w), None)}")
    w = cuflow.windows(a.captures, window=2, distinct=True)
    if "distinct_dst_ip_per_src_ip_max" not in w.schema.names and not any(c.startswith("distinct_") for c in w.schema.names):
        bad.append("windows(distinct=True) has no distinct columns")
    try:
        cuflow.flows(a.captures, idle=5)
        bad.append("an unknown option raised nothing")
    except cuflow.Error as e:
        if "no option idle" not in str(e):
            bad.append(f"unknown option: {e}")

    missing = os.path.join(tmp, "missing.pcap")
    try:
        cuflow.flows([a.captures[0], missing])
        bad.append("a missing input raised nothing")
    except cuflow.Error as e:
        if "missing.pcap" not in str(e):
            bad.append(f"the error does not name the input: {e}")
    lax = cuflow.flows([a.captures[0], missing], strict=False)
    if lax.num_rows != cuflow.flows(a.captures[0]).num_rows:
        bad.append("strict=False: not the readable input's rows")

    import shutil
    if shutil.which("editcap"):
        parts = os.path.join(tmp, "parts")
        os.mkdir(parts)
        # not with the sanitizer runtime this interpreter may have preloaded
        # (editcap hangs under it)
        clean = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
        subprocess.run(["editcap", "-c", "1000", a.captures[0], os.path.join(parts, "p.pcap")], check=True,
                       env=clean, timeout=120)
        whole = cuflow.flows(a.captures[0], idle_timeout=5, active_timeout=30)
        cont = cuflow.flows(parts, idle_timeout=5, active_timeout=30, continuous=True)
        if whole.to_pylist() != cont.to_pylist():
            bad.append(f"continuous=True: {cont.num_rows} rows, the whole capture {whole.num_rows}")
        elif len(os.listdir(parts)) < 2 or cuflow.flows(parts, idle_timeout=5, active_timeout=30).equals(whole):
            bad.append("continuous=True: the cut did not cut a flow (no test)")

    # the options that reach labels and FlowPic's presets: the command line's arrays
    import numpy as np
    fp = os.path.join(tmp, "fp")
    subprocess.run([a.cuflow, "flowpic", "-q", "--preset", "mini", "--label-from-dir", *a.captures, "-o", fp],
                   check=True)
    idx = cuflow.flowpic(a.captures, preset="mini", label_from_dir=True)
    img = cuflow.flowpic(a.captures, images=True, preset="mini", label_from_dir=True)
    want_img = np.load(os.path.join(fp, "flowpic.npy"))
    got_img = np.stack([np.asarray(v, dtype=want_img.dtype) for v in img.column("image").to_pylist()]) \
        if img.num_rows else np.zeros((0,))
    if got_img.reshape(want_img.shape[0], -1).tolist() != want_img.reshape(want_img.shape[0], -1).tolist():
        bad.append(f"flowpic(preset='mini'): {img.num_rows} images, the command line {len(want_img)}")
    with open(os.path.join(fp, "index.csv"), newline="") as fh:
        want_lab = [r["label"] for r in csv.DictReader(fh)]
    if idx.column("label").to_pylist() != want_lab or not want_lab:
        bad.append("flowpic(label_from_dir=True): labels differ from index.csv's")
    xd = os.path.join(tmp, "x")
    subprocess.run([a.cuflow, "extract", "-q", "--label-from-dir", *a.captures, "-o", xd], check=True)
    feat = cuflow.features(a.captures, label_from_dir=True)
    if feat.column("label_id").to_pylist() != np.load(os.path.join(xd, "labels.npy")).tolist():
        bad.append("features(label_from_dir=True): label_id differs from extract's labels.npy")
    if set(cuflow.features(a.captures[0], label="web").column("label").to_pylist()) != {"web"}:
        bad.append("features(label='web'): not every row labelled web")

    # value for value: each function's table against the command line's Parquet output of the
    # same inputs and options (every column the two share; the files may add label columns)
    import pyarrow.parquet as pq

    def same(name, got, path):
        """got's columns equal the file's: by name, or a fixed-size list c as the file's c_0, c_1, ..."""
        if os.path.isdir(path):  # the run driver's layout: DIR/<table>/part-NNNNN.parquet, a manifest
            import glob
            import pyarrow as pa
            want = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(os.path.join(path, "*", "part-*")))])
        else:
            want = pq.read_table(path)
        pairs = []
        for c in got.schema.names:
            if c in want.schema.names:
                pairs.append((c, got.column(c).to_pylist(), want.column(c).to_pylist()))
            elif f"{c}_0" in want.schema.names:
                rows = got.column(c).to_pylist()
                for k in range(len(rows[0]) if rows else 0):
                    pairs.append((f"{c}_{k}", [r[k] for r in rows], want.column(f"{c}_{k}").to_pylist()))
            else:
                bad.append(f"{name}: column {c} not in {os.path.basename(path)}")
        if got.num_rows != want.num_rows or not got.num_rows:
            bad.append(f"{name}: {got.num_rows} rows, the command line's {want.num_rows}")
            return 0
        diff = [c for c, g, w in pairs if g != w]
        if diff:
            bad.append(f"{name}: columns {diff[:5]} differ from {os.path.basename(path)}")
        return len(pairs)

    pq_dir = os.path.join(tmp, "pq")
    os.mkdir(pq_dir)
    cli = lambda *args: subprocess.run([a.cuflow, *args], check=True, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
    cli("flows", "-q", "--idle-timeout", "7", *a.captures, "-o", os.path.join(pq_dir, "flows.parquet"))
    n_same = same("flows(idle_timeout=7)", cuflow.flows(a.captures, jobs=2, idle_timeout=7),
                  os.path.join(pq_dir, "flows.parquet"))
    cli("windows", "-q", "--jobs", "2", "--window", "5", *a.captures, "-o", os.path.join(pq_dir, "windows.parquet"))
    n_same += same("windows(window=5)", cuflow.windows(a.captures, window=5), os.path.join(pq_dir, "windows.parquet"))
    cli("extract", "-q", "--format", "parquet", *a.captures, "-o", os.path.join(pq_dir, "x"))
    n_same += same("features()", cuflow.features(a.captures), os.path.join(pq_dir, "x", "features.parquet"))
    for typ in ("IAT", "STATS"):
        cli("netml", "-q", "--jobs", "2", "--dim", "8", "--type", typ, *a.captures, "-o",
            os.path.join(pq_dir, f"netml-{typ}.parquet"))
        n_same += same(f"netml(type={typ!r}, dim=8)", cuflow.netml(a.captures, typ, dim=8),
                       os.path.join(pq_dir, f"netml-{typ}.parquet"))
    cli("flowpic", "-q", "--preset", "mini", "--format", "parquet", *a.captures, "-o", os.path.join(pq_dir, "fp"))
    n_same += same("flowpic(preset='mini')", cuflow.flowpic(a.captures, preset="mini"),
                   os.path.join(pq_dir, "fp", "index.parquet"))

    # hook_thread: the flow engine in a second thread gives the same table
    if not cuflow.flows(a.captures, hook_thread=True).equals(cuflow.flows(a.captures)):
        bad.append("flows(hook_thread=True): another table")

    # progress: the run's counts reach a callable, the last call every input byte and file
    ps = []
    pf = cuflow.flows(a.captures, jobs=2, progress=ps.append)
    total = sum(os.path.getsize(c) for c in a.captures)
    if not ps or ps[-1].files_done != len(a.captures) or ps[-1].bytes_done != total or \
            ps[-1].bytes_total != total or not pf.equals(f):
        bad.append(f"progress: {ps[-1:]} (want {len(a.captures)} files, {total} bytes) or other rows")
    if [p.bytes_done for p in ps] != sorted(p.bytes_done for p in ps):
        bad.append("progress: bytes went backwards")
    listed = cuflow.inputs([os.path.dirname(a.captures[0])])
    if a.captures[0] not in listed and os.path.abspath(a.captures[0]) not in listed:
        bad.append(f"inputs(): {a.captures[0]} not in its directory's list {listed[:5]}...")

    print(f"python package: summary, flows ({f.num_rows} rows), sessions ({len(want_rows)} rows) equal the "
          f"command line; flows, windows, features, netml (IAT, STATS), flowpic equal its Parquet files ({n_same} columns); options, "
          f"labels, progress; missing input raised; {len(bad)} problems")
    for b in bad:
        print("  " + b)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

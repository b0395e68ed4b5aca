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
          f"command line; missing input raised; {len(bad)} problems")
    for b in bad:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

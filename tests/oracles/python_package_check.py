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
  inputs' rows (strict=False).
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

    print(f"python package: summary, flows ({f.num_rows} rows), sessions ({len(want_rows)} rows) equal the "
          f"command line; missing input raised; {len(bad)} problems")
    for b in bad:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Independent checks of a multi-file `cuflow flows` run (tests/test_run_*.cpp).

  run_check.py concat FORMAT OUT SINGLE...
      OUT (csv or jsonl) must equal the rows of the single-file outputs SINGLE
      (each the output of `cuflow flows` on one input, "-" for a skipped input)
      one after the other, ids renumbered as one run counts them: the first
      flow of input k gets 1 + the flows of inputs 0..k-1. Byte for byte.

  run_check.py manifest FORMAT OUT MANIFEST CUFLOW SPEC
      SPEC: one line per expected input, in order: STATUS<TAB>PATH<TAB>SINGLE
      (STATUS ok|damaged|skipped). Checks the manifest against values
      computed here: sha256 (hashlib), bytes and input sizes/mtimes (os.stat),
      rows (lines of OUT minus the header/config line), per-input rows,
      flows and first ids (lines of SINGLE), packets read (`cuflow info`).
Exit 0 when everything matches, 1 with the differences on stdout.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

FLOW_ID = re.compile(rb'"flow_id":(\d+)')


def rows_of(path):
    """The data rows of a single-file output (header / config line dropped)."""
    if path == "-":
        return []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    assert lines[-1] == b"", path
    return lines[1:-1]


def header_of(path):
    with open(path, "rb") as f:
        return f.readline()


def renumber(fmt, row, offset):
    if fmt == "csv":
        i = row.index(b",")
        return str(int(row[:i]) + offset).encode() + row[i:]
    m = list(FLOW_ID.finditer(row))[-1]
    return row[:m.start(1)] + str(int(m.group(1)) + offset).encode() + row[m.end(1):]


def local_ids(fmt, rows):
    out = []
    for r in rows:
        if fmt == "csv":
            out.append(int(r[:r.index(b",")]))
        else:
            out.append(int(list(FLOW_ID.finditer(r))[-1].group(1)))
    return out


def concat(fmt, out, singles):
    expect = None
    offset = 0
    body = []
    for s in singles:
        if s == "-":
            continue
        if expect is None:
            expect = header_of(s)
        rows = rows_of(s)
        ids = local_ids(fmt, rows)
        body += [renumber(fmt, r, offset) for r in rows]
        # a file's flows are numbered 1..n (every flow ends within its file)
        offset += max(ids) if ids else 0
    want = expect + b"".join(r + b"\n" for r in body)
    with open(out, "rb") as f:
        got = f.read()
    if got != want:
        gl, wl = got.split(b"\n"), want.split(b"\n")
        for i, (a, b) in enumerate(zip(gl, wl)):
            if a != b:
                print("line %d differs:\n got  %r\n want %r" % (i + 1, a[:200], b[:200]))
                break
        print("lines: got %d, want %d" % (len(gl), len(wl)))
        return 1
    return 0


def manifest(fmt, out, mpath, cuflow, spec):
    bad = []
    with open(mpath) as f:
        m = json.load(f)
    data = open(out, "rb").read()
    o = m["outputs"][0]
    if o["sha256"] != hashlib.sha256(data).hexdigest():
        bad.append("sha256 %s != hashlib %s" % (o["sha256"], hashlib.sha256(data).hexdigest()))
    if o["bytes"] != os.stat(out).st_size:
        bad.append("bytes %d != stat %d" % (o["bytes"], os.stat(out).st_size))
    nrows = data.count(b"\n") - 1
    if o["rows"] != nrows:
        bad.append("rows %d != lines - 1 = %d" % (o["rows"], nrows))
    if o["path"] != out or o["format"] != fmt:
        bad.append("output path/format %r %r" % (o["path"], o["format"]))
    entries = [l.rstrip("\n").split("\t") for l in open(spec) if l.strip()]
    ins = m["inputs"]
    if [e[1] for e in entries] != [i["path"] for i in ins]:
        bad.append("inputs: %r != %r" % ([i["path"] for i in ins], [e[1] for e in entries]))
    paths = [e[1] for e in entries if e[0] != "skipped"]
    info = subprocess.run([cuflow, "info", "--json", "--quiet"] + paths, capture_output=True, text=True)
    packets = {f["path"]: f["packets"] for f in json.loads(info.stdout)["files"]}
    next_id, tot_rows = 1, 0
    for (status, path, single), i in zip(entries, ins):
        if i["status"] != status:
            bad.append("%s: status %s, want %s (%s)" % (path, i["status"], status, i.get("error")))
        if (i["error"] is None) != (status == "ok"):
            bad.append("%s: error %r with status %s" % (path, i["error"], status))
        st = os.stat(path)
        if i["size"] != st.st_size or i["mtime_ns"] != st.st_mtime_ns:
            bad.append("%s: size/mtime %d/%d != stat %d/%d" % (path, i["size"], i["mtime_ns"], st.st_size,
                                                               st.st_mtime_ns))
        if status == "skipped":
            if i["rows"] or i["flows"] or i["packets_read"]:
                bad.append("%s: a skipped input has counts" % path)
            continue
        rows = rows_of(single)
        if i["rows"] != len(rows) or i["flows"] != len(rows):
            bad.append("%s: rows %d flows %d, single run has %d" % (path, i["rows"], i["flows"], len(rows)))
        if rows and i["first_id"] != next_id:
            bad.append("%s: first_id %d, want %d" % (path, i["first_id"], next_id))
        next_id += len(rows)
        tot_rows += len(rows)
        pk = packets[path]
        if i["packets_read"] != pk:
            bad.append("%s: packets_read %d, cuflow info says %d" % (path, i["packets_read"], pk))
    t = m["totals"]
    want = {"inputs": len(entries), "ok": sum(e[0] == "ok" for e in entries),
            "damaged": sum(e[0] == "damaged" for e in entries), "skipped": sum(e[0] == "skipped" for e in entries),
            "rows": tot_rows, "flows": tot_rows}
    for k, v in want.items():
        if t[k] != v:
            bad.append("totals.%s %d, want %d" % (k, t[k], v))
    if tot_rows != nrows:
        bad.append("single runs have %d rows, the output %d" % (tot_rows, nrows))
    for k in ("cuflow_version", "options", "run"):
        if k not in m:
            bad.append("no %s" % k)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "concat":
        sys.exit(concat(sys.argv[2], sys.argv[3], sys.argv[4:]))
    sys.exit(manifest(*sys.argv[2:7]))

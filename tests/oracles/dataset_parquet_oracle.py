#!/usr/bin/env python3
"""Checks the Parquet outputs of `cuflow extract|netml|flowpic --format parquet`
against the npy / CSV outputs of the same run. Every Parquet file is read
twice, by pyarrow and by DuckDB; the npy files by numpy, the CSV files by
Python's csv module. Integers and timestamps must be exact (timestamps as
int64 ns), strings equal, floats bitwise and of the same width (a float32
array stays float32).

usage:
  dataset_parquet_oracle.py extract PQ_DIR NPY_DIR
      PQ_DIR/features.parquet against NPY_DIR's features.npy, sequences.npy,
      lengths.npy, labels.npy, flows.csv, schema.json (whichever exist)
  dataset_parquet_oracle.py netml PQ_DIR CSV_DIR NPY_DIR
      every PQ_DIR/<TYPE>.parquet listed in PQ_DIR/meta.json against
      CSV_DIR/<TYPE>.csv, subflows.csv, labels.csv and NPY_DIR/<TYPE>.npy
  dataset_parquet_oracle.py flowpic PQ_DIR CSV_DIR
      PQ_DIR/index.parquet against CSV_DIR/index.csv and labels.npy

Prints "ok ..." and exits 0, or prints the differences and exits 1.
"""
import csv
import json
import os
import sys

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BAD = []


def bad(msg):
    BAD.append(msg)


def read_csv(path, header=True):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not header:
        return None, rows
    return rows[0], rows[1:]


class Both:
    """A Parquet file read by pyarrow and by DuckDB, column by column."""

    def __init__(self, path):
        self.path = path
        self.table = pq.read_table(path)
        self.names = self.table.column_names
        self.types = {f.name: f.type for f in self.table.schema}
        sel = ['epoch_ns("%s") AS "%s"' % (n, n) if pa.types.is_timestamp(self.types[n]) else '"%s"' % n
               for n in self.names]
        con = duckdb.connect()
        self.duck = con.execute("SELECT %s FROM read_parquet(?)" % ", ".join(sel), [path]).fetchnumpy()

    def arrow(self, name):
        col = self.table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        if pa.types.is_string(col.type):
            return col.to_pylist()
        return col.to_numpy()

    def readers(self, name):
        d = self.duck[name]
        if isinstance(d, np.ma.MaskedArray):
            if d.mask.any():
                bad("duckdb %s: nulls" % name)
            d = d.data
        if d.dtype == object:
            d = list(d)
        return [("pyarrow", self.arrow(name)), ("duckdb", d)]


def same_floats(got, exp):
    got = np.asarray(got)
    exp = np.asarray(exp)
    if got.dtype != exp.dtype:
        return "dtype %s, expected %s" % (got.dtype, exp.dtype)
    if got.shape != exp.shape:
        return "shape %s, expected %s" % (got.shape, exp.shape)
    u = np.uint32 if exp.dtype == np.float32 else np.uint64
    diff = np.nonzero(got.view(u) != exp.view(u))[0]
    if len(diff):
        i = diff[0]
        return "row %d: %r (bits %x), expected %r (bits %x)" % (i, got[i], got.view(u)[i], exp[i], exp.view(u)[i])
    return None


def check(pqf, name, exp, kind):
    """exp: expected values (list of str / int, or a numpy float array)."""
    if name not in pqf.names:
        bad("%s: no column %s" % (pqf.path, name))
        return
    for reader, got in pqf.readers(name):
        where = "%s %s %s" % (os.path.basename(pqf.path), reader, name)
        if len(got) != len(exp):
            bad("%s: %d rows, expected %d" % (where, len(got), len(exp)))
            continue
        if kind == "float":
            msg = same_floats(got, exp)
            if msg:
                bad("%s: %s" % (where, msg))
        elif kind == "int":
            g = [int(v) for v in got]
            e = [int(v) for v in exp]
            if g != e:
                i = next(k for k in range(len(g)) if g[k] != e[k])
                bad("%s: row %d: %r, expected %r" % (where, i, g[i], e[i]))
        else:
            g = list(got)
            e = list(exp)
            if g != e:
                i = next(k for k in range(len(g)) if g[k] != e[k])
                bad("%s: row %d: %r, expected %r" % (where, i, g[i], e[i]))


def csv_column(header, body, name):
    j = header.index(name)
    return [r[j] for r in body]


def check_names(pqf, expected):
    if pqf.names != expected:
        extra = [n for n in pqf.names if n not in expected]
        missing = [n for n in expected if n not in pqf.names]
        bad("%s: columns differ (extra %s, missing %s, or the order)" % (pqf.path, extra[:5], missing[:5]))
        return False
    return True


# ---------------------------------------------------------------- extract

def extract(pq_dir, npy_dir):
    f = Both(os.path.join(pq_dir, "features.parquet"))
    schema = json.load(open(os.path.join(npy_dir, "schema.json")))
    pq_schema = json.load(open(os.path.join(pq_dir, "schema.json")))
    feats = [c["name"] for c in schema["features"]["columns"]]
    if [c["name"] for c in pq_schema["features"]["columns"]] != feats:
        bad("schema.json feature columns differ between the runs")
    header, body = read_csv(os.path.join(npy_dir, "flows.csv"))
    X = np.load(os.path.join(npy_dir, "features.npy"))
    seq_len = schema["sequences"]["length"]
    labelled = os.path.exists(os.path.join(npy_dir, "labels.npy"))
    ident = [h for h in header if h != "label"]
    expected = ident + (["label_id", "label"] if labelled else []) + feats
    if seq_len:
        expected += ["seq_length"] + ["seq_%s_%d" % (c, k) for c in ("size", "iat_ns", "dir") for k in range(seq_len)]
    if not check_names(f, expected):
        return "extract"
    if len(body) != X.shape[0] or f.table.num_rows != X.shape[0]:
        bad("rows: parquet %d, features.npy %d, flows.csv %d" % (f.table.num_rows, X.shape[0], len(body)))
        return "extract"
    for name in ident:
        t = f.types[name]
        kind = "str" if pa.types.is_string(t) else "int"
        check(f, name, csv_column(header, body, name), kind)
    if labelled:
        check(f, "label_id", np.load(os.path.join(npy_dir, "labels.npy")).tolist(), "int")
        check(f, "label", csv_column(header, body, "label"), "str")
    for j, name in enumerate(feats):
        check(f, name, np.ascontiguousarray(X[:, j]), "float")
    if seq_len:
        S = np.load(os.path.join(npy_dir, "sequences.npy"))
        L = np.load(os.path.join(npy_dir, "lengths.npy"))
        check(f, "seq_length", L.tolist(), "int")
        if f.types["seq_length"] != pa.int32():
            bad("seq_length is %s, lengths.npy int32" % f.types["seq_length"])
        for c, ch in enumerate(("size", "iat_ns", "dir")):
            for k in range(seq_len):
                check(f, "seq_%s_%d" % (ch, k), np.ascontiguousarray(S[:, k, c]), "float")
    return "extract %d rows %d columns" % (X.shape[0], len(f.names))


# ---------------------------------------------------------------- netml

def netml(pq_dir, csv_dir, npy_dir):
    meta = json.load(open(os.path.join(pq_dir, "meta.json")))
    sub_h, sub = read_csv(os.path.join(csv_dir, "subflows.csv"))
    labels_path = os.path.join(csv_dir, "labels.csv")
    labelled = os.path.exists(labels_path)
    labels = [r[0] for r in read_csv(labels_path, header=False)[1]] if labelled else None
    done = []
    for tname, out in meta["outputs"].items():
        if out["file"] != tname + ".parquet":
            bad("meta.json: %s file %s" % (tname, out["file"]))
        f = Both(os.path.join(pq_dir, tname + ".parquet"))
        hdr, feat = out["header_cols"], out["self_dim"]
        expected = list(sub_h) + (["label"] if labelled else []) + ["header_%d" % k for k in range(hdr)] + \
            ["features_%d" % k for k in range(feat)]
        if out["shape"][1] != hdr + feat:
            bad("meta.json %s: shape %s, header %d + features %d" % (tname, out["shape"], hdr, feat))
        if not check_names(f, expected):
            continue
        for name in sub_h:
            t = f.types[name]
            if pa.types.is_floating(t):
                check(f, name, np.array([float(v) for v in csv_column(sub_h, sub, name)]), "float")
            else:
                check(f, name, csv_column(sub_h, sub, name), "str" if pa.types.is_string(t) else "int")
        if labelled:
            check(f, "label", labels, "int")
        _, rows = read_csv(os.path.join(csv_dir, tname + ".csv"), header=False)
        M = np.array([[float(v) for v in r] for r in rows]).reshape(len(rows), hdr + feat)
        N = np.load(os.path.join(npy_dir, tname + ".npy"))
        if N.shape != M.shape:
            bad("%s: npy %s, csv %s" % (tname, N.shape, M.shape))
            continue
        msg = same_floats(N.reshape(-1), M.reshape(-1))
        if msg:
            bad("%s: the npy and csv runs differ: %s" % (tname, msg))
        for k in range(hdr + feat):
            name = "header_%d" % k if k < hdr else "features_%d" % (k - hdr)
            check(f, name, np.ascontiguousarray(N[:, k]), "float")
        done.append("%s %dx%d" % (tname, M.shape[0], len(f.names)))
    return "netml " + ", ".join(done)


# ---------------------------------------------------------------- flowpic

def flowpic(pq_dir, csv_dir):
    f = Both(os.path.join(pq_dir, "index.parquet"))
    header, body = read_csv(os.path.join(csv_dir, "index.csv"))
    labels_path = os.path.join(csv_dir, "labels.npy")
    labelled = os.path.exists(labels_path)
    cols = [h for h in header if h != "label"]
    if not check_names(f, cols + (["label_id", "label"] if labelled else [])):
        return "flowpic"
    for name in cols:
        check(f, name, csv_column(header, body, name), "str" if pa.types.is_string(f.types[name]) else "int")
    if labelled:
        check(f, "label_id", np.load(labels_path).tolist(), "int")
        check(f, "label", csv_column(header, body, "label"), "str")
    return "flowpic %d rows" % len(body)


def main():
    cmd = sys.argv[1]
    what = {"extract": lambda: extract(*sys.argv[2:4]), "netml": lambda: netml(*sys.argv[2:5]),
            "flowpic": lambda: flowpic(*sys.argv[2:4])}[cmd]()
    if BAD:
        print("\n".join(BAD[:20]))
        return 1
    print("ok " + what)
    return 0


if __name__ == "__main__":
    sys.exit(main())

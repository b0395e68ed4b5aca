#!/usr/bin/env python3
"""Reads a Parquet file with pyarrow or DuckDB and prints what it holds, for
tests/test_parquet.cpp to compare with what cuflow's Parquet sink was given.

usage: read_parquet.py pyarrow|duckdb FILE [--no-values]

Output, one record per line, fields separated by tabs:
  rows N | row_groups G | created_by TEXT
  kv KEY HEX(VALUE)                              (pyarrow)
  schema_col NAME DTYPE WIDTH HEX(UNIT) HEX(DOC) NULLABLE   (pyarrow: the
                                                 cuflow.schema JSON, parsed)
  col NAME TYPE                                  (the reader's own type name)
  chunk RG NAME ENCODINGS CODEC HAS_MINMAX MIN MAX NULL_COUNT   (pyarrow)
  v NAME TOKEN TOKEN ...                         (every value, in row order)
Value tokens: N null, 0/1 bool, decimal integers (timestamps as int ns),
f<8 hex> float32 bits, d<16 hex> float64 bits, s<hex> UTF-8 bytes.
"""
import json
import struct
import sys


def tok_float(x, is32):
    if is32:
        return "f%08x" % struct.unpack("<I", struct.pack("<f", x))[0]
    return "d%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


def tok(x, kind):
    if x is None:
        return "N"
    if kind == "bool":
        return "1" if x else "0"
    if kind in ("f32", "f64"):
        return tok_float(x, kind == "f32")
    if kind == "str":
        return "s" + x.encode("utf-8").hex()
    return str(int(x))


def arrow_kind(t):
    import pyarrow as pa
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_float32(t):
        return "f32"
    if pa.types.is_float64(t):
        return "f64"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    return "int"


def arrow_tokens(col):
    """Tokens of a pyarrow ChunkedArray; floats and timestamps from their raw buffers, bit-exact."""
    import numpy as np
    import pyarrow as pa
    t = col.type
    kind = arrow_kind(t)
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    nulls = arr.is_null().to_pylist() if arr.null_count else [False] * len(arr)
    if kind in ("f32", "f64") or pa.types.is_timestamp(t):
        width = {"f32": np.uint32, "f64": np.uint64}.get(kind, np.int64)
        filled = arr.fill_null(0) if arr.null_count else arr
        if pa.types.is_timestamp(t):
            raw = filled.cast(pa.int64()).to_numpy(zero_copy_only=False)
            return ["N" if n else str(int(v)) for v, n in zip(raw, nulls)]
        raw = filled.to_numpy(zero_copy_only=False).view(width)
        digits = 8 if kind == "f32" else 16
        pre = "f" if kind == "f32" else "d"
        return ["N" if n else "%s%0*x" % (pre, digits, int(v)) for v, n in zip(raw, nulls)]
    return [tok(v, kind) for v in arr.to_pylist()]


def stat_token(st, kind, logical):
    if "Timestamp" in logical:  # .min would convert to datetime (microseconds)
        return str(int(st.min_raw)), str(int(st.max_raw))
    return tok(st.min, kind), tok(st.max, kind)


def run_pyarrow(path, values):
    import pyarrow.parquet as pq
    f = pq.ParquetFile(path)
    md = f.metadata
    print("rows\t%d" % md.num_rows)
    print("row_groups\t%d" % md.num_row_groups)
    print("created_by\t%s" % md.created_by)
    kv = md.metadata or {}
    for k, v in sorted(kv.items()):
        print("kv\t%s\t%s" % (k.decode(), v.hex()))
    if b"cuflow.schema" in kv:
        for c in json.loads(kv[b"cuflow.schema"].decode("utf-8"))["columns"]:
            print("schema_col\t%s\t%s\t%d\t%s\t%s\t%d" % (
                c["name"], c["dtype"], c["width"], c["unit"].encode().hex(), c["doc"].encode().hex(),
                1 if c["nullable"] else 0))
    schema = f.schema_arrow
    for field in schema:
        print("col\t%s\t%s" % (field.name, field.type))
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for i in range(rg.num_columns):
            c = rg.column(i)
            kind = arrow_kind(schema.field(c.path_in_schema).type)
            st = c.statistics
            logical = str(f.schema.column(i).logical_type)
            if st is not None and st.has_min_max:
                lo, hi = stat_token(st, kind, logical)
                mm = "1\t%s\t%s" % (lo, hi)
            else:
                mm = "0\t-\t-"
            nulls = st.null_count if st is not None and st.has_null_count else -1
            print("chunk\t%d\t%s\t%s\t%s\t%s\t%d" % (g, c.path_in_schema, ",".join(sorted(c.encodings)),
                                                   c.compression, mm, nulls))
    if values:
        table = f.read()
        for name in table.column_names:
            print("\t".join(["v", name] + arrow_tokens(table.column(name))))


def run_duckdb(path, values):
    import duckdb
    con = duckdb.connect()
    rel = con.read_parquet(path)
    names, types = rel.columns, [str(t) for t in rel.types]
    print("rows\t%d" % con.execute("select count(*) from read_parquet(?)", [path]).fetchone()[0])
    for n, t in zip(names, types):
        print("col\t%s\t%s" % (n, t))
    if not values:
        return
    sel = []
    kinds = []
    for n, t in zip(names, types):
        q = '"%s"' % n
        if t.startswith("TIMESTAMP"):
            sel.append("epoch_ns(%s)" % q)  # exact for TIMESTAMP_NS
            kinds.append("int")
        elif t == "BOOLEAN":
            sel.append(q)
            kinds.append("bool")
        elif t == "FLOAT":
            sel.append(q)
            kinds.append("f32")
        elif t == "DOUBLE":
            sel.append(q)
            kinds.append("f64")
        elif t == "VARCHAR":
            sel.append(q)
            kinds.append("str")
        else:
            sel.append(q)
            kinds.append("int")
    rows = con.execute("select %s from read_parquet(?)" % ", ".join(sel), [path]).fetchall()
    for j, n in enumerate(names):
        print("\t".join(["v", n] + [tok(r[j], kinds[j]) for r in rows]))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("pyarrow", "duckdb"):
        sys.exit(__doc__)
    values = "--no-values" not in sys.argv[3:]
    (run_pyarrow if sys.argv[1] == "pyarrow" else run_duckdb)(sys.argv[2], values)


if __name__ == "__main__":
    main()

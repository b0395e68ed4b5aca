#!/usr/bin/env python3
"""Checks that a Parquet file written by cuflow holds the same table as a
CSV written by the same run: the same column names in the same order, the
same number of rows, and every value equal. The Parquet file is read twice,
by pyarrow and by DuckDB; the CSV by Python's csv module.

  integers and timestamps: exact (the CSV's decimal text as an int; a
      timestamp column as its int64 ns);
  floats: bitwise (the CSV prints 17 significant digits, which round-trip);
  strings: equal.

usage: parquet_equals_csv.py FILE.parquet FILE.csv [--skip-columns A,B]
Prints "ok ROWS COLUMNS" and exits 0, or prints the first differences and
exits 1.
"""
import csv
import math
import struct
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def same(csv_text, value, kind):
    if kind == "float":
        f = float(csv_text)
        return bits(f) == bits(float(value)) or (math.isnan(f) and math.isnan(value))
    if kind == "int":
        return int(csv_text) == int(value)
    return csv_text == value


def kind_of(t):
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_integer(t) or pa.types.is_timestamp(t):
        return "int"
    return "str"


def main():
    pq_path, csv_path = sys.argv[1], sys.argv[2]
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    table = pq.read_table(pq_path)
    names = table.column_names
    bad = []
    if names != header:
        print("column names differ:\nparquet %s\ncsv     %s" % (names, header))
        return 1
    if table.num_rows != len(body):
        print("rows differ: parquet %d, csv %d" % (table.num_rows, len(body)))
        return 1
    # pyarrow: timestamps as int64 ns
    cols = []
    for i, name in enumerate(names):
        col = table.column(i)
        t = col.type
        if pa.types.is_timestamp(t):
            col = col.cast(pa.int64())
        cols.append((name, kind_of(t), col.to_pylist()))
    for name, kind, values in cols:
        j = header.index(name)
        for r, v in enumerate(values):
            if not same(body[r][j], v, kind):
                bad.append("pyarrow row %d %s: csv %r parquet %r" % (r, name, body[r][j], v))
                break
    # DuckDB: its own reader, timestamps through epoch_ns
    con = duckdb.connect()
    sel = []
    for name, kind, _ in cols:
        t = table.schema.field(name).type
        sel.append('epoch_ns("%s")' % name if pa.types.is_timestamp(t) else '"%s"' % name)
    got = con.execute("SELECT %s FROM read_parquet(?)" % ", ".join(sel), [pq_path]).fetchall()
    if len(got) != len(body):
        bad.append("duckdb rows %d, csv %d" % (len(got), len(body)))
    else:
        for r, row in enumerate(got):
            for (name, kind, _), v in zip(cols, row):
                if not same(body[r][header.index(name)], v, kind):
                    bad.append("duckdb row %d %s: csv %r parquet %r" % (r, name, body[r][header.index(name)], v))
                    break
            if len(bad) > 10:
                break
    if bad:
        print("\n".join(bad[:10]))
        return 1
    print("ok %d %d" % (len(body), len(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

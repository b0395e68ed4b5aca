#!/usr/bin/env python3
"""Two SQLite databases written by `cuflow sessions` hold the same rows.

  sqlite_tables_equal.py A.db B.db [--tables sessions,devices,...]
      [--skip COLUMN]... [--order rowid|1] [--distinct-in-b TABLE.COLUMN:N]

For each table, every column but the skipped ones, rows in --order
(rowid: as written; 1: by the first column), must be equal. Prints
"TABLE ROWS" per table. --distinct-in-b also asks that B's TABLE.COLUMN
holds at least N distinct values (e.g. the rows really came from several
files). Exit 0, or 1 naming the first table that differs.
"""
import argparse
import sqlite3
import sys


def rows(path, table, skip, order):
    c = sqlite3.connect(path)
    cols = [r[1] for r in c.execute(f"pragma table_info({table})") if r[1] not in skip]
    return c.execute(f"select {','.join(cols)} from {table} order by {order}").fetchall()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tables", default="sessions,devices,device_ips,dns")
    ap.add_argument("--skip", action="append", default=[])
    ap.add_argument("--order", default="rowid", choices=("rowid", "1"))
    ap.add_argument("--distinct-in-b", default=None)
    o = ap.parse_args()
    for t in o.tables.split(","):
        x, y = rows(o.a, t, o.skip, o.order), rows(o.b, t, o.skip, o.order)
        if x != y:
            print(f"{t}: {len(x)} rows against {len(y)}; first difference "
                  f"{next(((p, q) for p, q in zip(x, y) if p != q), None)}")
            return 1
        print(t, len(x))
    if o.distinct_in_b:
        where, n = o.distinct_in_b.rsplit(":", 1)
        table, col = where.split(".")
        got = sqlite3.connect(o.b).execute(f"select count(distinct {col}) from {table}").fetchone()[0]
        if got < int(n):
            print(f"{table}.{col}: {got} distinct values, want at least {n}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

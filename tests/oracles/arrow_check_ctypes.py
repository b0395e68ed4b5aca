#!/usr/bin/env python3
"""pyarrow imports cuflow's Arrow C Data Interface export (cuflow/arrow.h).

    arrow_check_ctypes.py --lib libcuflow.so [--rows N] [--seed S]
                          [--stream-db DB --captures CAPTURE... [--jobs N]]

Builds a cuflow column table through libcuflow.so's own C API (ctypes): a
schema with every dtype (nullable and not, a vector column, strings whose
offsets do not start at 0, a timestamp), a batch over numpy arrays; exports
both with cf_arrow_export_schema / cf_arrow_export_batch; imports them with
pyarrow.RecordBatch._import_from_c; and compares every value, null, type,
field name, nullability and metadata with what numpy holds. Also an empty
batch. With --stream-db: pyarrow reads cf_arrow_stream_open's record batch
stream of the "sessions" producer over the captures (a RecordBatchReader,
batch by batch) and every row equals the sessions table `cuflow sessions`
wrote to DB from the same captures; a stream released after one batch stops
its run. Exit 0 when all agree, 1 with the differences, 3 when the library or
pyarrow is missing.
"""
import argparse
import ctypes as C
import sys

import numpy as np

try:
    import pyarrow as pa
except ImportError:
    print("arrow: pyarrow not importable")
    sys.exit(3)

DT = {"bool": 0, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "uint8": 5, "uint16": 6, "uint32": 7, "uint64": 8,
      "float32": 9, "float64": 10, "string": 11, "large_string": 12, "timestamp_ns": 13}
NULLABLE = 1


class Array(C.Structure):
    _fields_ = [("values", C.c_void_p), ("data", C.c_void_p), ("validity", C.c_void_p)]


class Batch(C.Structure):
    _fields_ = [("n_rows", C.c_int64), ("n_columns", C.c_uint32), ("columns", C.POINTER(Array))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stream-db")
    ap.add_argument("--captures", nargs="*", default=[])
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    try:
        lib = C.CDLL(a.lib)
    except OSError as e:
        print(f"arrow: {e}")
        return 3
    lib.cf_table_schema_create.argtypes = [C.POINTER(C.c_void_p), C.c_char_p]
    lib.cf_table_schema_add.argtypes = [C.c_void_p, C.c_char_p, C.c_int, C.c_uint32, C.c_char_p, C.c_char_p,
                                        C.c_uint32, C.c_char_p]
    lib.cf_table_schema_free.argtypes = [C.c_void_p]
    lib.cf_arrow_export_schema.argtypes = [C.c_void_p, C.c_void_p, C.c_char_p]
    lib.cf_arrow_export_batch.argtypes = [C.c_void_p, C.POINTER(Batch), C.c_void_p, C.c_char_p]
    err = C.create_string_buffer(512)
    rng = np.random.default_rng(a.seed)
    n = a.rows

    # (name, dtype, width, flags, unit, doc, numpy values, validity or None)
    cols = []
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        info = np.iinfo(name)
        v = rng.integers(info.min, info.max, size=n, dtype=name, endpoint=True)
        cols.append((name + "_col", name, 1, 0, "", "", v, None))
    f32 = rng.standard_normal(n).astype(np.float32)
    f64 = rng.standard_normal(n)
    f64[::7] = np.nan
    valid = rng.random(n) > 0.2
    cols.append(("f32", "float32", 1, NULLABLE, "s", "a float", f32, valid))
    cols.append(("f64", "float64", 1, 0, "", "", f64, None))
    ts = rng.integers(0, 2**62, size=n, dtype=np.int64)
    cols.append(("ts", "timestamp_ns", 1, 0, "ns", "when", ts, None))
    bits = rng.random(n) > 0.5
    cols.append(("flag", "bool", 1, NULLABLE, "", "", bits, rng.random(n) > 0.1))
    vec = rng.integers(0, 1500, size=(n, 5), dtype=np.uint16)
    cols.append(("sizes", "uint16", 5, NULLABLE, "bytes", "first five sizes", vec, rng.random(n) > 0.3))
    words = ["", "a", "dns.example.com", "Ubiquiti Networks Inc.", "Apple, Inc.", "\u00e9t\u00e9"]
    strs = [words[i] for i in rng.integers(0, len(words), size=n)]
    cols.append(("name", "string", 1, NULLABLE, "", "text", strs, rng.random(n) > 0.25))
    cols.append(("big", "large_string", 1, 0, "", "", strs[::-1], None))

    sch = C.c_void_p()
    assert lib.cf_table_schema_create(C.byref(sch), err) == 0
    for name, dt, w, fl, unit, doc, _, _ in cols:
        rc = lib.cf_table_schema_add(sch, name.encode(), DT[dt], w, unit.encode(), doc.encode(), fl, err)
        assert rc == 0, err.value

    keep = []  # the buffers must live until the export has copied them

    def packbits(b):
        return np.packbits(np.asarray(b, dtype=np.uint8), bitorder="little")

    def build(rows):
        arrs = (Array * len(cols))()
        for k, (name, dt, w, fl, _, _, v, valid) in enumerate(cols):
            if dt in ("string", "large_string"):
                enc = [s.encode() for s in v[:rows]]
                # offsets start at 7: a slice of a larger buffer
                off = np.cumsum([7] + [len(s) for s in enc]).astype(np.int32 if dt == "string" else np.int64)
                data = np.frombuffer(b"x" * 7 + b"".join(enc) + b"\0", dtype=np.uint8)
                keep.extend([off, data])
                arrs[k].values = off.ctypes.data
                arrs[k].data = data.ctypes.data
            elif dt == "bool":
                p = packbits(v[:rows]) if rows else np.zeros(1, np.uint8)
                keep.append(p)
                arrs[k].values = p.ctypes.data
            else:
                x = np.ascontiguousarray(v[:rows]) if rows else np.zeros(max(w, 1), dtype=v.dtype)
                keep.append(x)
                arrs[k].values = x.ctypes.data
            if valid is not None and rows:
                p = packbits(valid[:rows])
                keep.append(p)
                arrs[k].validity = p.ctypes.data
        keep.append(arrs)
        return Batch(rows, len(cols), arrs)

    problems = []
    for rows in (n, 0):
        b = build(rows)
        c_schema = C.create_string_buffer(72)  # struct ArrowSchema
        c_array = C.create_string_buffer(80)   # struct ArrowArray
        if lib.cf_arrow_export_schema(sch, c_schema, err) != 0:
            problems.append(f"export_schema: {err.value}")
            break
        if lib.cf_arrow_export_batch(sch, C.byref(b), c_array, err) != 0:
            problems.append(f"export_batch: {err.value}")
            break
        rb = pa.RecordBatch._import_from_c(C.addressof(c_array), C.addressof(c_schema))
        keep.clear()  # the import must not depend on cuflow's input buffers
        rb.validate(full=True)
        if rb.num_rows != rows:
            problems.append(f"{rows} rows exported, {rb.num_rows} imported")
        for k, (name, dt, w, fl, unit, doc, v, valid) in enumerate(cols):
            f = rb.schema.field(k)
            col = rb.column(k)
            if f.name != name or f.nullable != bool(fl & NULLABLE):
                problems.append(f"field {k}: {f.name} nullable={f.nullable}")
            md = dict(f.metadata or {})
            want_md = {kk.encode(): vv.encode() for kk, vv in (("cuflow.unit", unit), ("cuflow.doc", doc)) if vv}
            if md != want_md:
                problems.append(f"{name}: metadata {md} != {want_md}")
            want_t = {"bool": pa.bool_(), "float32": pa.float32(), "float64": pa.float64(), "string": pa.string(),
                      "large_string": pa.large_string(), "timestamp_ns": pa.timestamp("ns", tz="UTC")}.get(dt)
            if want_t is None:
                want_t = pa.from_numpy_dtype(np.dtype(dt))
            if w > 1:  # elements never null: only rows are
                want_t = pa.list_(pa.field("item", want_t, nullable=False), w)
            if col.type != want_t:
                problems.append(f"{name}: type {col.type} != {want_t}")
                continue
            vv = valid[:rows] if valid is not None else np.ones(rows, bool)
            if col.null_count != int((~vv).sum()):
                problems.append(f"{name}: null_count {col.null_count} != {int((~vv).sum())}")
            got_valid = np.asarray(col.is_valid())
            if not np.array_equal(got_valid, vv):
                problems.append(f"{name}: validity differs")
            if dt in ("string", "large_string"):
                got = col.to_pylist()
                want = [s if ok else None for s, ok in zip(v[:rows], vv)]
            elif w > 1:
                got = [None if x is None else list(x) for x in col.to_pylist()]
                want = [list(map(int, r)) if ok else None for r, ok in zip(v[:rows], vv)]
            elif dt == "timestamp_ns":
                got = col.cast(pa.int64()).to_numpy(zero_copy_only=False).tolist()
                want = v[:rows].tolist()
            else:
                got = col.to_pylist()
                want = [(x.item() if hasattr(x, "item") else x) if ok else None for x, ok in zip(v[:rows], vv)]
                if dt.startswith("float"):
                    same = all((g is None and x is None) or (g is not None and x is not None and
                               (np.isnan(g) and np.isnan(x) or np.float64(g) == np.float64(x)))
                               for g, x in zip(got, want))
                    if not same:
                        problems.append(f"{name}: values differ")
                    continue
            if got != want:
                bad = next(i for i, (g, x) in enumerate(zip(got, want)) if g != x) if len(got) == len(want) else -1
                problems.append(f"{name}: values differ (first at row {bad})")
        del rb  # pyarrow calls the export's release here
    lib.cf_table_schema_free(sch)
    streamed = ""
    if a.stream_db:
        streamed = check_stream(lib, a, problems)
    print(f"arrow: {len(cols)} columns x {n} rows and an empty batch imported by pyarrow "
          f"{pa.__version__}{streamed}; {len(problems)} problems")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


def check_stream(lib, a, problems):
    import sqlite3
    lib.cf_arrow_stream_open.argtypes = [C.c_char_p, C.POINTER(C.c_char_p), C.c_int, C.c_char_p, C.c_uint32,
                                         C.c_int, C.c_char_p, C.c_void_p, C.c_char_p]
    err = C.create_string_buffer(512)
    caps = (C.c_char_p * len(a.captures))(*[c.encode() for c in a.captures])

    def open_stream(table=b"sessions"):
        st = C.create_string_buffer(40)  # struct ArrowArrayStream
        if lib.cf_arrow_stream_open(b"sessions", caps, len(a.captures), table, a.jobs, 1, None, st, err) != 0:
            problems.append(f"cf_arrow_stream_open: {err.value}")
            return None, None
        return st, pa.RecordBatchReader._import_from_c(C.addressof(st))

    _, reader = open_stream()
    if reader is None:
        return ""
    batches = 0
    rows = []
    for rb in reader:
        batches += 1
        rows.extend(rb.to_pylist())
    db = sqlite3.connect(a.stream_db)
    cur = db.execute("select * from sessions order by sessionid")
    names = [d[0] for d in cur.description]
    want = [dict(zip(names, r)) for r in cur]
    if len(rows) != len(want):
        problems.append(f"stream: {len(rows)} sessions, database {len(want)}")
    for i, (g, w) in enumerate(zip(rows, want)):
        if {k: g.get(k) for k in names} != w:
            problems.append(f"stream row {i}: {g} != {w}")
            break
    # DuckDB reads the same stream (through pyarrow's reader, no copy) and
    # aggregates it in SQL: the sums equal the database's
    duck = ""
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None:
        _, reader = open_stream()
        if reader is not None:
            con = duckdb.connect()
            con.register("s", reader)
            got = con.execute("select count(*), sum(lensum), sum(pktcount) from s").fetchall()[0]
            con.close()
            want = db.execute("select count(*), sum(lensum), sum(pktcount) from sessions").fetchone()
            if tuple(got) != tuple(want):
                problems.append(f"duckdb over the stream: {got} != database {want}")
            duck = ", DuckDB's sums over it too"
    # released after one batch: the run stops, nothing hangs or leaks
    _, reader = open_stream()
    if reader is not None:
        next(iter(reader), None)
        del reader
    # no such table: a clear error
    st = C.create_string_buffer(40)
    if lib.cf_arrow_stream_open(b"sessions", caps, len(a.captures), b"nope", a.jobs, 1, None, st, err) == 0 or \
            b"no table nope" not in err.value:
        problems.append(f"a missing table: {err.value}")
    return f"; the sessions stream ({batches} batches, {len(rows)} rows, jobs {a.jobs}) equals the database{duck}"


if __name__ == "__main__":
    sys.exit(main())

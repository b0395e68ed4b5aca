#!/usr/bin/env python3
"""The Arrow stream of libcuflow is zero-copy, safe and does not leak.

    arrow_zero_copy_check.py CAPTURE [RUNS] (CUFLOW_LIBRARY and PYTHONPATH set by the caller)

- zero-copy: the stream's ArrowArray is read through ctypes (the C Data
  Interface structs of the Arrow specification, declared here), the
  address of every column's data buffer noted, then the array is imported
  by pyarrow: its buffers have the same addresses (pyarrow copied nothing);
- safe: the stream is released and garbage collected before the batch is
  read; the batch still holds the values cuflow.flows gives;
- no leak: cuflow.flows(CAPTURE) RUNS times (1,000); the resident set after
  the last call is within 16 MB of the one after the first tenth.
Exit 0, or 1 with the differences.
"""
import ctypes
import gc
import sys

import pyarrow as pa

import cuflow


class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
    ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))), ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p)]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)), ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)), ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p)]

GET_SCHEMA = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ArrowSchema))
GET_NEXT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ArrowArray))
RELEASE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class ArrowArrayStream(ctypes.Structure):
    _fields_ = [("get_schema", GET_SCHEMA), ("get_next", GET_NEXT), ("get_last_error", ctypes.c_void_p),
                ("release", RELEASE), ("private_data", ctypes.c_void_p)]


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    cap = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    bad = []
    lib = cuflow._load()
    st = ArrowArrayStream()
    err = ctypes.create_string_buffer(512)
    argv = (ctypes.c_char_p * 1)(cap.encode())
    if lib.cf_arrow_stream_open(b"flows", argv, 1, b"flows", 1, 1, None, ctypes.byref(st), err) != 0:
        print("open failed:", err.value)
        return 1
    sp = ArrowSchema()
    if st.get_schema(ctypes.addressof(st), ctypes.byref(sp)) != 0:
        print("get_schema failed")
        return 1
    arr = ArrowArray()
    if st.get_next(ctypes.addressof(st), ctypes.byref(arr)) != 0 or not arr.release:
        print("get_next gave no batch")
        return 1
    # the C side's data buffers (buffer 1 of each fixed-width or string column)
    c_addr = {}
    for i in range(arr.n_children):
        child = arr.children[i].contents
        if child.n_buffers >= 2 and child.buffers[1]:
            c_addr[i] = child.buffers[1]
    batch = pa.RecordBatch._import_from_c(ctypes.addressof(arr), ctypes.addressof(sp))
    same = sum(1 for i, a in c_addr.items() if batch.column(i).buffers()[1].address == a)
    if not c_addr or same != len(c_addr):
        bad.append(f"zero-copy: {same} of {len(c_addr)} columns kept the library's buffer address")
    # safe: the stream goes first, the batch stays readable
    st.release(ctypes.addressof(st))
    del st
    gc.collect()
    want = cuflow.flows(cap)
    n = batch.num_rows
    if batch.to_pydict() != want.slice(0, n).to_pydict():
        bad.append("the batch read after the stream's release differs from cuflow.flows")
    # no leak over 1,000 runs
    for _ in range(runs // 10):
        cuflow.flows(cap).num_rows
    gc.collect()
    r0 = rss_kb()
    for _ in range(runs - runs // 10):
        cuflow.flows(cap).num_rows
    gc.collect()
    r1 = rss_kb()
    if r1 - r0 > 16 * 1024:
        bad.append(f"resident set grew {(r1 - r0) / 1024:.1f} MB over {runs - runs // 10} more runs")
    print(f"arrow zero-copy: {same}/{len(c_addr)} columns at the library's addresses, batch of {n} rows readable "
          f"after release, RSS {r0 // 1024} -> {r1 // 1024} MB over {runs - runs // 10} runs; {len(bad)} problems")
    for b in bad:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The Arrow stream is zero-copy (pyarrow's buffers are the library's),
safe (a batch outlives its stream) and does not leak (1,000 calls)."""
import ctypes
import gc
import os

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



def test_zero_copy_and_safe(synth_capture):
    lib = cuflow._load()
    st = ArrowArrayStream()
    err = ctypes.create_string_buffer(512)
    argv = (ctypes.c_char_p * 1)(synth_capture.encode())
    assert lib.cf_arrow_stream_open(b"flows", argv, 1, b"flows", 1, 1, None, ctypes.byref(st), err) == 0, err.value
    sp = ArrowSchema()
    assert st.get_schema(ctypes.addressof(st), ctypes.byref(sp)) == 0
    arr = ArrowArray()
    assert st.get_next(ctypes.addressof(st), ctypes.byref(arr)) == 0 and arr.release
    # the C side's data buffers (buffer 1 of each fixed-width or string column)
    c_addr = {i: arr.children[i].contents.buffers[1] for i in range(arr.n_children)
              if arr.children[i].contents.n_buffers >= 2 and arr.children[i].contents.buffers[1]}
    batch = pa.RecordBatch._import_from_c(ctypes.addressof(arr), ctypes.addressof(sp))
    assert len(c_addr) == 82
    assert [i for i, a in c_addr.items() if batch.column(i).buffers()[1].address != a] == []
    # the stream goes first; the batch stays readable
    st.release(ctypes.addressof(st))
    del st
    gc.collect()
    assert batch.to_pydict() == cuflow.flows(synth_capture).slice(0, batch.num_rows).to_pydict()


def test_no_leak_over_many_calls(tmp_path, cli):
    cap = tmp_path / "zc.pcap"
    cli("synth", "-q", "--flows", "40", "--seed", "3", "-o", cap)
    runs = int(os.environ.get("CUFLOW_LEAK_RUNS", "1000"))
    for _ in range(runs // 10):
        cuflow.flows(str(cap)).num_rows
    gc.collect()
    r0 = rss_kb()
    for _ in range(runs - runs // 10):
        cuflow.flows(str(cap)).num_rows
    gc.collect()
    r1 = rss_kb()
    print(f"RSS {r0 // 1024} -> {r1 // 1024} MB over {runs - runs // 10} calls")
    assert r1 - r0 <= 16 * 1024, f"resident set grew {(r1 - r0) / 1024:.1f} MB over {runs - runs // 10} calls"

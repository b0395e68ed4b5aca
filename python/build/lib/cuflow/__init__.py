"""cuflow from Python: the dataset engine's tables as pyarrow record batches.

    import cuflow
    t = cuflow.sessions(["captures/"], jobs=2)      # a pyarrow.Table
    df = cuflow.flows("trace.pcap").to_pandas()
    for batch in cuflow.stream("windows", ["big.pcap"]):   # pyarrow.RecordBatch, as they come
        ...

Every function runs libcuflow's run driver over the inputs (files,
directories, globs, @lists, as the command line takes them) through the
Arrow C Data Interface (docs/arrow.md): the batches are cuflow's buffers,
imported by pyarrow without a copy. Producers run with their default
options for now. libcuflow.so is found through $CUFLOW_LIBRARY, beside this
package (cuflow/_lib/), or the system's library path. Errors raise
cuflow.Error with the library's message (file and byte offset included).
"""
import ctypes
import os
from typing import Iterable, Iterator, List, Optional, Sequence, Union

__all__ = ["Error", "stream", "table", "flows", "features", "flowpic", "summary", "windows", "sessions",
           "library_path"]

Paths = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


class Error(RuntimeError):
    """A failure reported by libcuflow, with its message."""


_lib = None


def library_path() -> str:
    """The libcuflow.so this package loads."""
    env = os.environ.get("CUFLOW_LIBRARY")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", "libcuflow.so")
    return here if os.path.exists(here) else "libcuflow.so"


def _load():
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL(library_path())
        except OSError as e:
            raise Error(f"cannot load libcuflow ({e}); set CUFLOW_LIBRARY") from None
        lib.cf_arrow_stream_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                             ctypes.c_char_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_char_p]
        lib.cf_arrow_stream_open.restype = ctypes.c_int
        _lib = lib
    return _lib


def _paths(inputs: Paths) -> List[bytes]:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out = [os.fsencode(p) for p in inputs]
    if not out:
        raise Error("no input given")
    return out


def stream(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1):
    """A pyarrow.RecordBatchReader over `producer`'s table `table` (default:
    its first) for the inputs, read by `jobs` workers; batches come as the
    run commits them, in input order."""
    import pyarrow as pa

    lib = _load()
    paths = _paths(inputs)
    argv = (ctypes.c_char_p * len(paths))(*paths)
    st = ctypes.create_string_buffer(40)  # struct ArrowArrayStream: 5 pointers
    err = ctypes.create_string_buffer(512)
    rc = lib.cf_arrow_stream_open(producer.encode(), argv, len(paths), table.encode() if table else None,
                                  max(1, int(jobs)), st, err)
    if rc != 0:
        raise Error(err.value.decode(errors="replace"))
    try:
        return pa.RecordBatchReader._import_from_c(ctypes.addressof(st))
    except Exception as e:  # the run failed while pyarrow read its schema
        raise Error(str(e)) from None


def table(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1):
    """The whole table as a pyarrow.Table."""
    import pyarrow as pa

    reader = stream(producer, inputs, table, jobs)
    try:
        return reader.read_all()
    except pa.ArrowException as e:
        raise Error(str(e)) from None


def flows(inputs: Paths, jobs: int = 1):
    """One row per bidirectional flow (cuflow flows' columns)."""
    return table("flows", inputs, "flows", jobs)


def features(inputs: Paths, jobs: int = 1):
    """Training rows (cuflow extract's features)."""
    return table("features", inputs, "features", jobs)


def flowpic(inputs: Paths, jobs: int = 1, images: bool = False):
    """FlowPic index rows, or with images=True the images table."""
    return table("flowpic", inputs, "images" if images else "index", jobs)


def summary(inputs: Paths, jobs: int = 1):
    """One row per input: what cuflow info counts."""
    return table("summary", inputs, "summary", jobs)


def windows(inputs: Paths, jobs: int = 1):
    """Seed 001's per-window aggregates."""
    return table("windows", inputs, "windows", jobs)


def sessions(inputs: Paths, jobs: int = 1, what: str = "sessions"):
    """Seed 002's one-direction sessions (what: sessions, devices, device_ips, dns)."""
    return table("sessions", inputs, what, jobs)

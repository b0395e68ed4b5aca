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
options unless keyword options say otherwise (docs/python.md). libcuflow.so is found through $CUFLOW_LIBRARY, beside this
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
                                             ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_char_p,
                                             ctypes.c_void_p, ctypes.c_char_p]
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


def _options(opts: dict) -> Optional[bytes]:
    """Keyword options as the library takes them: key=value lines (bools as 0/1)."""
    if not opts:
        return None
    lines = []
    for k, v in opts.items():
        if v is None:
            v = "null"
        elif isinstance(v, bool):
            v = int(v)
        elif isinstance(v, os.PathLike):
            v = os.fspath(v)
        v = str(v)
        if "\n" in v or ";" in v:
            raise Error(f"option {k}: a value may not hold ';' or a line break")
        lines.append(f"{k}={v}")
    return "\n".join(lines).encode()


def stream(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1, strict: bool = True,
           **options):
    """A pyarrow.RecordBatchReader over `producer`'s table `table` (default:
    its first) for the inputs, read by `jobs` workers; batches come as the
    run commits them, in input order. strict: an input that cannot be read
    to its end (missing, not a capture, damaged) raises at the end of the
    stream, after every row; False: it only gives fewer rows. Keyword
    options set the producer's configuration (docs/python.md: idle_timeout,
    active_timeout, window, step, device_types, default_type, ...)."""
    import pyarrow as pa

    lib = _load()
    paths = _paths(inputs)
    argv = (ctypes.c_char_p * len(paths))(*paths)
    st = ctypes.create_string_buffer(40)  # struct ArrowArrayStream: 5 pointers
    err = ctypes.create_string_buffer(512)
    rc = lib.cf_arrow_stream_open(producer.encode(), argv, len(paths), table.encode() if table else None,
                                  max(1, int(jobs)), 1 if strict else 0, _options(options), st, err)
    if rc != 0:
        raise Error(err.value.decode(errors="replace"))
    try:
        return pa.RecordBatchReader._import_from_c(ctypes.addressof(st))
    except Exception as e:  # the run failed while pyarrow read its schema
        raise Error(str(e)) from None


def table(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1, strict: bool = True,
          **options):
    """The whole table as a pyarrow.Table."""
    import pyarrow as pa

    reader = stream(producer, inputs, table, jobs, strict, **options)
    try:
        return reader.read_all()
    except (pa.ArrowException, OSError) as e:  # the stream's EIO arrives as OSError
        raise Error(str(e)) from None


def flows(inputs: Paths, jobs: int = 1, strict: bool = True, **options):
    """One row per bidirectional flow (cuflow flows' columns)."""
    return table("flows", inputs, "flows", jobs, strict, **options)


def features(inputs: Paths, jobs: int = 1, strict: bool = True, **options):
    """Training rows (cuflow extract's features)."""
    return table("features", inputs, "features", jobs, strict, **options)


def flowpic(inputs: Paths, jobs: int = 1, images: bool = False, strict: bool = True, **options):
    """FlowPic index rows, or with images=True the images table."""
    return table("flowpic", inputs, "images" if images else "index", jobs, strict, **options)


def summary(inputs: Paths, jobs: int = 1, strict: bool = True, **options):
    """One row per input: what cuflow info counts."""
    return table("summary", inputs, "summary", jobs, strict, **options)


def windows(inputs: Paths, jobs: int = 1, strict: bool = True, **options):
    """Seed 001's per-window aggregates."""
    return table("windows", inputs, "windows", jobs, strict, **options)


def sessions(inputs: Paths, jobs: int = 1, what: str = "sessions", strict: bool = True, **options):
    """Seed 002's one-direction sessions (what: sessions, devices, device_ips, dns)."""
    return table("sessions", inputs, what, jobs, strict, **options)

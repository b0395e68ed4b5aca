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
import sys
from typing import Callable, List, NamedTuple, Optional, Sequence, Union

__all__ = ["Error", "Progress", "stream", "table", "flows", "features", "extract", "netml", "flowpic", "summary", "windows", "sessions",
           "inputs", "label_dir_name", "library_path"]

Paths = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]


class Error(RuntimeError):
    """A failure reported by libcuflow, with its message."""


class Progress(NamedTuple):
    """Where a run stands (cuflow/run.h's cf_run_progress)."""
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    packets_done: int
    elapsed_s: float


class _CProgress(ctypes.Structure):
    _fields_ = [("files_done", ctypes.c_size_t), ("files_total", ctypes.c_size_t),
                ("bytes_done", ctypes.c_uint64), ("bytes_total", ctypes.c_uint64),
                ("packets_done", ctypes.c_uint64), ("elapsed_s", ctypes.c_double)]




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
        lib.cf_arrow_stream_open_progress.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                                      ctypes.c_char_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_char_p,
                                                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                                      ctypes.c_char_p]
        lib.cf_arrow_stream_open_progress.restype = ctypes.c_int
        lib.cf_run_inputs_expand.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                             ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
        lib.cf_run_inputs_expand.restype = ctypes.c_int
        lib.cf_run_inputs_count.argtypes = [ctypes.c_void_p]
        lib.cf_run_inputs_count.restype = ctypes.c_size_t
        lib.cf_run_inputs_path.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.cf_run_inputs_path.restype = ctypes.c_char_p
        lib.cf_run_inputs_free.argtypes = [ctypes.c_void_p]
        lib.cf_run_inputs_free.restype = None
        lib.cf_label_dir_name.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.cf_label_dir_name.restype = ctypes.c_int
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


def inputs(paths: Paths) -> List[str]:
    """The files a run reads for these arguments, in its order: files,
    directories (their captures, recursively, sorted), globs and @list
    files expanded as the command line expands them."""
    lib = _load()
    raw = _paths(paths)
    argv = (ctypes.c_char_p * len(raw))(*raw)
    handle = ctypes.c_void_p()
    err = ctypes.create_string_buffer(512)
    if lib.cf_run_inputs_expand(argv, len(raw), ctypes.byref(handle), err) != 0:
        raise Error(err.value.decode(errors="replace"))
    try:
        return [os.fsdecode(lib.cf_run_inputs_path(handle, i)) for i in range(lib.cf_run_inputs_count(handle))]
    finally:
        lib.cf_run_inputs_free(handle)


def label_dir_name(path: Union[str, os.PathLike]) -> str:
    """The class --label-from-dir gives a file: the name of the directory
    holding it (cf_label_dir_name: "d/chat/a.pcap" -> "chat")."""
    out = ctypes.create_string_buffer(4096)
    if _load().cf_label_dir_name(os.fsencode(path), out, len(out)) != 0:
        raise Error(f"{os.fsdecode(path)}: no directory name to label it with")
    return os.fsdecode(out.value)


def _progress_fn(progress):
    """progress=True: a tqdm bar (or, without tqdm, a line on a terminal's
    stderr); a callable is called with each Progress."""
    if callable(progress):
        return progress, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if not sys.stderr.isatty():
            return None, None

        def line(p):
            rate = p.bytes_done / p.elapsed_s / 1e6 if p.elapsed_s > 0 else 0.0
            sys.stderr.write(f"\rcuflow: {p.files_done}/{p.files_total} files, {p.bytes_done / 1e6:.0f}/"
                             f"{p.bytes_total / 1e6:.0f} MB, {rate:.0f} MB/s")
            if p.files_done == p.files_total:
                sys.stderr.write("\n")
        return line, None
    bar = tqdm(total=0, unit="B", unit_scale=True, desc="cuflow")

    def update(p):
        bar.total = p.bytes_total
        bar.n = p.bytes_done
        bar.set_postfix(files=f"{p.files_done}/{p.files_total}", refresh=False)
        bar.refresh()
    return update, bar


def _with_progress(reader, slot, fn, bar):
    """reader's batches through Python, calling fn with the run's progress
    (which the library stores into `slot` from its thread) after each batch,
    at most ten times a second, and once at the end."""
    import time

    import pyarrow as pa

    def now():
        c = slot
        return Progress(c.files_done, c.files_total, c.bytes_done, c.bytes_total, c.packets_done, c.elapsed_s)

    def batches():
        last = 0.0
        try:
            for b in reader:
                if time.monotonic() - last >= 0.1:
                    fn(now())
                    last = time.monotonic()
                yield b
            fn(now())
        finally:
            reader.close()
            if bar is not None:
                bar.close()
    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def stream(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1, strict: bool = True,
           progress: Union[bool, Callable[[Progress], None], None] = None, **options):
    """A pyarrow.RecordBatchReader over `producer`'s table `table` (default:
    its first) for the inputs, read by `jobs` workers; batches come as the
    run commits them, in input order. strict: an input that cannot be read
    to its end (missing, not a capture, damaged) raises at the end of the
    stream, after every row; False: it only gives fewer rows. progress:
    True for a tqdm bar (a line on a terminal without tqdm), or a function
    called with a Progress (files, input bytes, packets, seconds) as
    batches arrive, at most ten times a second, and at the end. Keyword
    options set the producer's configuration (docs/python.md:
    idle_timeout, active_timeout, window, step, device_types, default_type,
    ...); with one worker hook_thread defaults to True (flow tracking in a
    second thread; the same rows)."""
    import pyarrow as pa

    lib = _load()
    paths = _paths(inputs)
    argv = (ctypes.c_char_p * len(paths))(*paths)
    if int(jobs) <= 1 and "hook_thread" not in options:
        # one worker: its packet hooks (flow tracking) in a second thread, overlapped with
        # reading; the same rows, 1.2-1.45x faster on 2 cores (docs/python.md)
        options["hook_thread"] = True
    st = ctypes.create_string_buffer(40)  # struct ArrowArrayStream: 5 pointers
    err = ctypes.create_string_buffer(512)
    fn, bar = _progress_fn(progress) if progress else (None, None)
    slot = _CProgress()
    rc = lib.cf_arrow_stream_open_progress(producer.encode(), argv, len(paths), table.encode() if table else None,
                                           max(1, int(jobs)), 1 if strict else 0, _options(options),
                                           ctypes.cast(lib.cf_run_progress_store, ctypes.c_void_p) if fn else None,
                                           ctypes.byref(slot) if fn else None, st, err)
    if rc != 0:
        if bar is not None:
            bar.close()
        raise Error(err.value.decode(errors="replace"))
    try:
        reader = pa.RecordBatchReader._import_from_c(ctypes.addressof(st))
    except Exception as e:  # the run failed while pyarrow read its schema
        raise Error(str(e)) from None
    # slot is the library's to write until the run ends: the generator holds it past reader.close()
    return _with_progress(reader, slot, fn, bar) if fn else reader


def table(producer: str, inputs: Paths, table: Optional[str] = None, jobs: int = 1, strict: bool = True,
          progress: Union[bool, Callable[[Progress], None], None] = None, **options):
    """The whole table as a pyarrow.Table."""
    import pyarrow as pa

    reader = stream(producer, inputs, table, jobs, strict, progress, **options)
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


def extract(inputs: Paths, jobs: int = 1, strict: bool = True, **options):
    """cuflow extract's rows by the command's name: the same as features()."""
    return features(inputs, jobs, strict, **options)


def netml(inputs: Paths, type: str = "IAT", dim: Optional[int] = None, jobs: int = 1, strict: bool = True,
          **options):
    """netml's features (cuflow netml's rows) of one type ("IAT", "SIZE",
    "IAT_SIZE", "STATS", "SAMP_NUM", "SAMP_SIZE"); dim, netml's row width,
    is required (as --dim: one table has one width); fft, header, label,
    labels_csv as the command line's."""
    if dim is None:
        raise Error("netml: give dim (the row width for every input, as cuflow netml --dim; a capture's own "
                    "netml run writes its dim to meta.json)")
    return table("netml", inputs, type, jobs, strict, dim=dim, **options)


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

"""cuflow for PyTorch: a dataset streaming cuflow's rows, and the modules of
cuflow's trained models.

    from cuflow.torch import FlowDataset, load_model
    ds = FlowDataset("captures/", label="dir", sequences=True)    # or an extract directory
    loader = torch.utils.data.DataLoader(ds, batch_size=128, num_workers=2)
    model = load_model("model/")                                  # torch.nn.Module, eval mode

FlowDataset is an IterableDataset. From captures it runs libcuflow's
dataset engine (cuflow.stream) and yields each row as a dict of tensors:
  x           the row's features: every floating-point scalar column of the
              table (features: the 66 statistics), or `columns`;
  seq, seq_length  with sequences=True (features table): the first packets'
              (size, iat_ns, direction), length x 3, and how many are real;
  y           with a label: the class index (label_names has the names);
  input, row  where the row comes from: the input's index in
              cuflow.inputs(source) and the row's number within that input
              (within the directory for an extract directory).
From a directory written by `cuflow extract` (schema.json, features.npy and,
when written, sequences.npy, lengths.npy, labels.npy, sharded or not) it
reads the arrays through memory maps.

Workers of a DataLoader share the work without duplicates: captures are
dealt to workers one input each in turn when there are at least as many
inputs as workers; otherwise (and with continuous=True, where the inputs
are one stream) every worker runs the inputs and keeps rows r with
r % workers == worker. An extract directory is cut into contiguous row
ranges. batch_size=N yields dicts of N-row tensors instead of rows (use
DataLoader(batch_size=None)), without per-row Python work.
"""
import json
import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import Error, Paths, inputs as _expand_inputs, label_dir_name as _label_dir_name, stream as _stream

__all__ = ["FlowDataset", "load_model", "NestedModel", "FlowpicCNN"]


def _worker() -> Tuple[int, int]:
    info = torch.utils.data.get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


def _float_columns(schema) -> List[str]:
    import pyarrow as pa
    return [f.name for f in schema if pa.types.is_floating(f.type)]


class FlowDataset(torch.utils.data.IterableDataset):
    """Rows of cuflow's tables as tensors (see the module's docstring).

    source    captures (files, directories, globs, @lists, as the command
              line takes them) or one `cuflow extract` output directory
    producer  the dataset engine's producer for captures ("features")
    table     its table (default: the producer's first)
    columns   the columns stacked into x (default: the floating-point ones)
    sequences yield seq and seq_length (features table, extract directories)
    label     None; "dir" (the class is the capture's directory name, as
              --label-from-dir); "labels" (an extract directory's
              labels.npy); or a column name of the table
    batch_size  yield batches of this many rows (None: single rows)
    dtype     of x and seq
    shuffle_buffer, seed  rows come through a buffer of this many rows, each
              taken at random (seeded by seed, the epoch of set_epoch and
              the worker): a local shuffle, as streaming loaders do; 0 (the
              default): the tables' order
    jobs, strict, options  passed to cuflow.stream (per worker)
    """

    def __init__(self, source: Paths, producer: str = "features", table: Optional[str] = None,
                 columns: Optional[Sequence[str]] = None, sequences: bool = False, label: Optional[str] = None,
                 batch_size: Optional[int] = None, dtype: torch.dtype = torch.float32, jobs: int = 1,
                 strict: bool = True, shuffle_buffer: int = 0, seed: int = 0, **options):
        super().__init__()
        self.shuffle_buffer, self.seed, self.epoch = int(shuffle_buffer), int(seed), 0
        self.columns = list(columns) if columns is not None else None
        self.sequences = sequences
        self.label = label
        self.batch_size = batch_size
        self.dtype = dtype
        self.producer, self.table, self.jobs, self.strict, self.options = producer, table, jobs, strict, options
        self.label_names: List[str] = []
        single = source if isinstance(source, (str, os.PathLike)) else (source[0] if len(source) == 1 else None)
        if single is not None and os.path.isfile(os.path.join(os.fspath(single), "schema.json")):
            self._init_extract(os.fspath(single))
        else:
            self.dir = None
            self.inputs = _expand_inputs(source)
            if label == "dir":  # as --label-from-dir names them, classes sorted
                names = [_label_dir_name(p) for p in self.inputs]
                self.label_names = sorted(set(names))
                self.input_class = [self.label_names.index(n) for n in names]
            elif label == "labels":
                raise Error("label='labels' reads an extract directory's labels.npy; captures take label='dir' "
                            "or a column name")

    # ------------------------------------------------------------ extract directories
    def _init_extract(self, d: str):
        self.dir = d
        with open(os.path.join(d, "schema.json")) as f:
            schema = json.load(f)
        files = schema.get("files", {})
        if "features" not in files:
            raise Error(f"{d}: schema.json lists no features .npy files (a Parquet extract? read it with pyarrow)")
        self.files = files
        self.feature_names = [c["name"] for c in schema["features"]["columns"]]
        if self.columns is not None:
            missing = [c for c in self.columns if c not in self.feature_names]
            if missing:
                raise Error(f"{d}: no feature columns {missing}")
            self.col_index = [self.feature_names.index(c) for c in self.columns]
        else:
            self.col_index = None
        if self.sequences and "sequences" not in files:
            raise Error(f"{d}: written without sequences (cuflow extract --seq 0)")
        if self.label not in (None, "labels"):
            raise Error(f"{d}: an extract directory's label is 'labels' (its labels.npy)")
        if self.label == "labels":
            if "labels" not in files:
                raise Error(f"{d}: written without labels (cuflow extract --label ...)")
            self.label_names = list((schema.get("labels") or {}).get("names", []))
        self.rows = sum(f["rows"] for f in files["features"])

    def _extract_arrays(self, name: str):
        return [np.load(os.path.join(self.dir, f["path"]), mmap_mode="r") for f in self.files[name]]

    def _iter_extract(self) -> Iterator[Dict[str, torch.Tensor]]:
        """This worker's rows of the extract directory, in chunks."""
        k, w = _worker()
        lo, hi = self.rows * k // w, self.rows * (k + 1) // w
        step = 4096
        parts = {"x": self._extract_arrays("features")}
        if self.sequences:
            parts["seq"] = self._extract_arrays("sequences")
            parts["seq_length"] = self._extract_arrays("lengths")
        if self.label == "labels":
            parts["y"] = self._extract_arrays("labels")
        starts = np.cumsum([0] + [len(a) for a in parts["x"]])
        r = lo
        while r < hi:
            i = int(np.searchsorted(starts, r, side="right") - 1)
            n = min(step, hi - r, int(starts[i + 1]) - r)
            a = r - int(starts[i])
            out = {}
            for key, arrs in parts.items():
                v = arrs[i][a:a + n]
                if key == "x" and self.col_index is not None:
                    v = v[:, self.col_index]
                t = torch.from_numpy(np.array(v))  # a copy: the maps are read-only
                out[key] = t.to(self.dtype) if t.is_floating_point() else t.long()
            out["input"] = torch.zeros(n, dtype=torch.long)
            out["row"] = torch.arange(r, r + n, dtype=torch.long)
            yield out
            r += n

    # ------------------------------------------------------------ captures
    def _batch_tensors(self, b, names: List[str], input_index: int, first_row: int,
                       keep: Optional[np.ndarray]) -> Tuple[Dict[str, torch.Tensor], int]:
        n = b.num_rows
        sel = (lambda v: v[keep]) if keep is not None else (lambda v: v)
        x = np.stack([b.column(c).to_numpy(zero_copy_only=False) for c in names], axis=1) if names else \
            np.zeros((n, 0))
        out = {"x": torch.from_numpy(np.ascontiguousarray(sel(x))).to(self.dtype)}
        if self.sequences:
            try:
                cols = [b.column(c) for c in ("seq_size", "seq_iat_ns", "seq_dir")]
                lens = b.column("seq_length")
            except KeyError:
                raise Error(f"sequences=True: table {self.table or self.producer} has no seq_* columns") from None
            chans = [c.flatten().to_numpy(zero_copy_only=False).reshape(n, -1) for c in cols]
            out["seq"] = torch.from_numpy(np.ascontiguousarray(sel(np.stack(chans, axis=2)))).to(self.dtype)
            out["seq_length"] = torch.from_numpy(sel(lens.to_numpy(zero_copy_only=False)).astype(np.int64))
        m = n if keep is None else int(keep.sum())
        if self.label == "dir":
            out["y"] = torch.full((m,), self.input_class[input_index], dtype=torch.long)
        elif self.label is not None:
            try:
                v = b.column(self.label).to_numpy(zero_copy_only=False)
            except KeyError:
                raise Error(f"label {self.label!r}: no such column") from None
            out["y"] = torch.from_numpy(sel(v).astype(np.int64))
        out["input"] = torch.full((m,), input_index, dtype=torch.long)
        out["row"] = torch.from_numpy(sel(np.arange(first_row, first_row + n, dtype=np.int64)))
        return out, m

    def _iter_captures(self) -> Iterator[Dict[str, torch.Tensor]]:
        """This worker's rows of the captures, in chunks (the library's batches)."""
        k, w = _worker()
        continuous = bool(self.options.get("continuous"))
        by_input = w > 1 and len(self.inputs) >= w and not continuous
        groups = [self.inputs] if continuous else [[p] for p in self.inputs]
        for gi, group in enumerate(groups):
            if by_input and gi % w != k:
                continue
            reader = _stream(self.producer, group, self.table, self.jobs, self.strict, **self.options)
            names = self.columns if self.columns is not None else \
                [c for c in _float_columns(reader.schema) if c not in ("seq_size", "seq_iat_ns", "seq_dir")]
            row = 0
            for b in reader:
                keep = None
                if w > 1 and not by_input:
                    keep = (np.arange(row, row + b.num_rows) % w) == k
                out, m = self._batch_tensors(b, names, gi, row, keep)
                row += b.num_rows
                if m:
                    yield out

    def set_epoch(self, epoch: int):
        """The epoch the shuffle buffer's seed mixes in (call before each epoch)."""
        self.epoch = int(epoch)

    def _chunks(self) -> Iterator[Dict[str, torch.Tensor]]:
        return self._iter_extract() if self.dir is not None else self._iter_captures()

    @staticmethod
    def _rows(chunks) -> Iterator[Dict[str, torch.Tensor]]:
        for c in chunks:
            for i in range(len(c["row"])):
                yield {key: v[i] for key, v in c.items()}

    @staticmethod
    def _batches(chunks, bs: int) -> Iterator[Dict[str, torch.Tensor]]:
        """The chunks re-cut into bs rows (the library's batches have their own sizes)."""
        pending = None
        for c in chunks:
            if pending is not None:
                c = {key: torch.cat([pending[key], v]) for key, v in c.items()}
                pending = None
            n = len(c["row"])
            full = n - n % bs
            for at in range(0, full, bs):
                yield {key: v[at:at + bs] for key, v in c.items()}
            if full < n:
                pending = {key: v[full:] for key, v in c.items()}
        if pending is not None:
            yield pending

    def _shuffled(self, rows) -> Iterator[Dict[str, torch.Tensor]]:
        """Rows through a buffer of shuffle_buffer rows, each taken at random."""
        k, w = _worker()
        rng = np.random.default_rng([self.seed, self.epoch, k, w])
        buf = []
        for row in rows:
            if len(buf) < self.shuffle_buffer:
                buf.append(row)
                continue
            j = int(rng.integers(len(buf)))
            yield buf[j]
            buf[j] = row
        for j in rng.permutation(len(buf)):
            yield buf[j]

    def __iter__(self):
        if self.shuffle_buffer <= 0:
            yield from self._rows(self._chunks()) if self.batch_size is None else \
                self._batches(self._chunks(), self.batch_size)
            return
        rows = self._shuffled(self._rows(self._chunks()))
        if self.batch_size is None:
            yield from rows
            return
        group = []
        for row in rows:
            group.append(row)
            if len(group) == self.batch_size:
                yield {key: torch.stack([r[key] for r in group]) for key in group[0]}
                group = []
        if group:
            yield {key: torch.stack([r[key] for r in group]) for key in group[0]}


# ------------------------------------------------------------------ models

class NestedModel(nn.Module):
    """cuflow's nested model (docs/models.md: state_dict names of
    include/cuflow/nn.h). forward takes a dict of the featurized batch
    (`cuflow train --export`'s arrays: pkt, pkt_len, id_out, id_out_len,
    id_in, id_in_len, ttl_out, ttl_in, root) and returns logits."""

    def __init__(self, c: dict):
        super().__init__()
        self.pkt_lstm = nn.LSTM(3, c["pkt_hidden"], batch_first=True)
        self.ttl_embedding = nn.Embedding(c["ttl_vocab"], c["ttl_dim"])
        self.id_lstm = nn.LSTM(1, c["id_hidden"], batch_first=True)
        width = c["pkt_hidden"] + 2 * c["ttl_dim"] + 2 * c["id_hidden"] + 5
        layers = []
        for _ in range(c["dense_layers"]):
            layers.append(nn.Linear(width, c["dense_units"]))
            width = c["dense_units"]
        self.dense = nn.ModuleList(layers)
        self.out = nn.Linear(width, c["classes"])
        self.packed = not c.get("reference_compat", 0)

    @staticmethod
    def _last(lstm, x, lens, packed):
        if packed:  # each sample over its true length
            p = nn.utils.rnn.pack_padded_sequence(x, lens.cpu().long().clamp(min=1), batch_first=True,
                                                  enforce_sorted=False)
            _, (h, _) = lstm(p)
        else:  # reference_compat: every sample runs the batch's longest, over zeros
            _, (h, _) = lstm(x[:, :int(lens.max())])
        return h[0]

    def forward(self, b: Dict[str, torch.Tensor]) -> torch.Tensor:
        hp = self._last(self.pkt_lstm, b["pkt"], b["pkt_len"], self.packed)
        ho = self._last(self.id_lstm, b["id_out"].unsqueeze(-1), b["id_out_len"], self.packed)
        hi = self._last(self.id_lstm, b["id_in"].unsqueeze(-1), b["id_in_len"], self.packed)
        eo = self.ttl_embedding(b["ttl_out"].long())
        ei = self.ttl_embedding(b["ttl_in"].long())
        x = torch.cat([hp, eo, ho, ei, hi, b["root"]], dim=1)
        for d in self.dense:
            x = F.relu(d(x))
        return self.out(x)


def _keras_same(n: int, k: int, s: int):
    """TensorFlow/Keras "same" padding along one axis: (before, after)."""
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class FlowpicCNN(nn.Module):
    """The FlowPic CNNs of docs/models.md from cuflow's config.json, with
    cuflow's parameter names: the official model ("flowpic": Keras "same"
    padding, asymmetric, emulated with F.pad) or tcbench's mini LeNet-5
    ("flowpic-mini"); pad_sym >= 0 is a symmetric padding (tcbench's 3).
    forward takes N x C x S x S images (raw counts) and returns logits;
    dropout acts in train mode only."""

    def __init__(self, c: dict):
        super().__init__()
        self.mini = c["model"] == "flowpic-mini"
        k, st, self.pool = c["kernel"], c["stride"], c["pool"]
        sym = max(c.get("pad_sym", -1), 0)
        keras = c.get("pad_sym", -1) < 0 and c.get("same_padding", 0)
        self.conv1 = nn.Conv2d(c["channels"], c["conv1"], k, st, padding=sym)
        self.conv2 = nn.Conv2d(c["conv1"], c["conv2"], k, st, padding=sym)
        size = c["size"]
        p1 = _keras_same(size, k, st) if keras else (sym, sym)
        q1 = ((size + p1[0] + p1[1] - k) // st + 1) // self.pool
        p2 = _keras_same(q1, k, st) if keras else (sym, sym)
        q2 = ((q1 + p2[0] + p2[1] - k) // st + 1) // self.pool
        # F.pad's order: left, right, top, bottom; the convolution then pads nothing
        self.fpad1 = (p1[0], p1[1], p1[0], p1[1]) if keras else None
        self.fpad2 = (p2[0], p2[1], p2[0], p2[1]) if keras else None
        self.fc1 = nn.Linear(c["conv2"] * q2 * q2, c["hidden1"])
        last = c["hidden1"]
        self.fc2 = None
        if c.get("hidden2", 0) > 0:
            self.fc2 = nn.Linear(c["hidden1"], c["hidden2"])
            last = c["hidden2"]
        self.out = nn.Linear(last, c["classes"])
        self.drop_conv = nn.Dropout2d(c["drop_conv"]) if self.mini else nn.Dropout(c["drop_conv"])
        self.drop_fc = nn.Dropout(c["drop_fc"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fpad1:
            x = F.pad(x, self.fpad1)
        x = F.max_pool2d(F.relu(self.conv1(x)), self.pool)
        if self.fpad2:
            x = F.pad(x, self.fpad2)
        x = self.drop_conv(F.relu(self.conv2(x)))
        x = F.relu(self.fc1(F.max_pool2d(x, self.pool).flatten(1)))
        if self.fc2 is not None:
            x = F.relu(self.fc2(x))
        return self.out(self.drop_fc(x))


def _read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """safetensors without the package: an 8-byte header length, a JSON
    header of dtype/shape/offsets, then the raw little-endian tensors."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in dtypes:
            raise Error(f"{path}: tensor {name}: dtype {t['dtype']} not supported")
        a, b = t["data_offsets"]
        arr = np.frombuffer(blob, dtype=dtypes[t["dtype"]], count=(b - a) // np.dtype(dtypes[t["dtype"]]).itemsize,
                            offset=8 + n + a).reshape(t["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def load_model(model_dir: str) -> nn.Module:
    """The PyTorch module of a model `cuflow train` wrote (config.json and
    model.safetensors), its weights loaded strictly, in eval mode; the
    class names are its `classes` attribute."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    kind = c.get("model", "nested")
    if kind == "nested":
        m = NestedModel(c)
    elif kind in ("flowpic", "flowpic-mini"):
        m = FlowpicCNN(c)
    else:
        raise Error(f"{model_dir}: model {kind!r} has no PyTorch module here")
    m.load_state_dict(_read_safetensors(os.path.join(model_dir, "model.safetensors")), strict=True)
    m.classes = list(c.get("class_names", []))
    return m.eval()

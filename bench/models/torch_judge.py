#!/usr/bin/env python3
"""PyTorch as the outside judge of cuflow's model engine (the nested model).

  1. trains cuflow (`cuflow train --model nested ... --export WORK/export`),
     which also writes the featurized splits (.npy) and the initial weights;
  2. parity: a torch module with the state_dict names of include/cuflow/nn.h
     loads the initial and the trained weights (strict) and compares class
     probabilities (cf_model_forward), loss and every parameter's gradient
     (cf_nested_step_f32 / _f64) on test batches, in float32 and float64;
     the same with reference_compat semantics (each input runs to its batch's
     longest, no packing) on a small random configuration;
  3. trains the same torch model the same way (initial weights from the
     export, Adam 1e-3/eps 1e-8, batch 128, seeded shuffles,
     ReduceLROnPlateau 0.2/5 on the validation loss, best-val weights kept)
     and compares test accuracy and per-class F1 with cuflow's;
  4. speed at the same thread count, batch 128, float32: training flows/s
     (an epoch: batch gather + forward + backward + Adam) and inference
     flows/s (forward only, test split in batches of 256);
  5. writes WORK/judge.json and prints a summary table.

Run it with the venv's python, or give --venv PATH (created, with torch,
numpy and safetensors from PyPI, when missing; the script re-executes
itself under it). See bench/models/README.md.
"""
import argparse
import os
import subprocess
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuflow", default="build-r17/cuflow", help="cuflow CLI binary")
    ap.add_argument("--lib", default="build-r17/libcuflow.so", help="libcuflow.so (ctypes)")
    ap.add_argument("--data", default="/work/labrun-bench2/*/*.pcap",
                    help="labelled flows for cuflow train: a file, a directory or a quoted glob (captures or Joy "
                         "JSON lines)")
    ap.add_argument("--label", default="dir", choices=("field", "dir", "file"),
                    help="cuflow train --label: the record's \"label\" key, the directory or the file name (dir)")
    ap.add_argument("--reference-compat", action="store_true",
                    help="cuflow train --reference-compat: raw inputs; every sequence of a batch runs to that "
                         "batch's longest of its kind over zeros, no packing (the judge pads per batch)")
    ap.add_argument("--early-stop", type=int, default=0,
                    help="cuflow train --early-stop N, and the same rule for torch's trainings (0: off)")
    ap.add_argument("--work", default="/tmp/torch_judge", help="work directory (export, models, judge.json)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--torch-train-threads", type=int, default=0,
                    help="torch threads for step 3's trainings (0: --threads); 1 is much faster when several "
                         "jobs share the cores (torch's OpenMP barriers spin)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--parity-batches", type=int, default=3, help="test batches of 128 compared")
    ap.add_argument("--speed-rounds", type=int, default=3, help="alternating timing rounds (median kept)")
    ap.add_argument("--reuse", action="store_true",
                    help="skip `cuflow train` when WORK/cuflow_model/test/metrics.json and WORK/export exist")
    ap.add_argument("--skip-train-compare", action="store_true", help="skip step 3 (torch training)")
    ap.add_argument("--skip-speed", action="store_true", help="skip step 4 (speed)")
    ap.add_argument("--replay-cuflow-order", type=int, default=1,
                    help="also train torch on cuflow's own batch order (1, default) or not (0): EXPORT/"
                         "train_order.npy when cuflow wrote it, else its splitmix64 shuffles replayed in Python")
    ap.add_argument("--extra-seeds", type=int, default=3,
                    help="torch trainings with other shuffle seeds, for the run-to-run spread (3)")
    ap.add_argument("--venv", help="python venv to run under (created with torch, numpy, safetensors if missing)")
    return ap.parse_args()


def ensure_venv(path):
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        print(f"[venv] {path} is missing: python3 -m venv {path}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", path])
        cmd = [py, "-m", "pip", "install", "torch", "numpy", "safetensors"]
        print("[venv] " + " ".join(cmd) + "   (PyPI's torch pulls the nvidia-* CUDA wheels: several GB)", flush=True)
        if subprocess.call(cmd) != 0:
            # a CPU-only fallback: torch without its CUDA wheels, plus its pure-python deps
            cmd = [py, "-m", "pip", "install", "--no-deps", "torch"]
            print("[venv] that failed; " + " ".join(cmd), flush=True)
            subprocess.check_call(cmd)
            deps = ["numpy", "safetensors", "filelock", "typing-extensions", "sympy", "networkx", "jinja2",
                    "fsspec", "mpmath", "MarkupSafe"]
            print("[venv] " + " ".join([py, "-m", "pip", "install"] + deps), flush=True)
            subprocess.check_call([py, "-m", "pip", "install"] + deps)
        subprocess.check_call([py, "-c", "import torch; print('[venv] torch', torch.__version__)"])
    if os.path.realpath(sys.prefix) != os.path.realpath(path):
        print(f"[venv] re-executing under {py}", flush=True)
        os.execv(py, [py] + sys.argv)


ARGS = parse_args()
if ARGS.venv:
    ensure_venv(ARGS.venv)

import ctypes as ct  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


# ------------------------------------------------------------------ ctypes

class CfConfig(ct.Structure):
    _fields_ = [(n, ct.c_int) for n in ("pkt_hidden", "ttl_vocab", "ttl_dim", "id_hidden", "dense_units",
                                         "dense_layers", "classes", "max_packets", "max_ids", "reference_compat")]


class CfParam(ct.Structure):
    _fields_ = [("name", ct.c_char * 48), ("ndim", ct.c_int), ("dims", ct.c_int64 * 2),
                ("offset", ct.c_size_t), ("count", ct.c_size_t)]


P_F = ct.POINTER(ct.c_float)
P_I = ct.POINTER(ct.c_int32)


class CfBatch(ct.Structure):
    _fields_ = [("n", ct.c_int), ("cap", ct.c_int), ("t_pkt", ct.c_int), ("t_ids", ct.c_int),
                ("pkt", P_F), ("pkt_len", P_I), ("ttl_out", P_I), ("ttl_in", P_I),
                ("id_out", P_F), ("id_in", P_F), ("id_out_len", P_I), ("id_in_len", P_I),
                ("root", P_F), ("label", P_I)]


FIELDS = ["pkt", "pkt_len", "ttl_out", "id_out", "id_out_len", "ttl_in", "id_in", "id_in_len", "root", "label"]
LENS = ("pkt_len", "id_out_len", "id_in_len")
# set from the export's config.json: cuflow's batches then run every sequence
# to its batch's longest (nn_batch_finish); the export holds true lengths
COMPAT = [False]


def compat_pad(d):
    """reference_compat batches as nn_batch_finish makes them: packets, out
    ids and in ids each run to that batch's longest of its own kind (at least
    1) over the zeros the export already holds past each true length."""
    d = dict(d)
    for k in LENS:
        v = np.asarray(d[k])
        d[k] = np.full(len(v), max(1, int(v.max())) if len(v) else 1, np.int32)
    return d


def load_lib(path):
    L = ct.CDLL(os.path.abspath(path))
    vp = ct.c_void_p
    L.cf_model_load.argtypes = [ct.c_char_p, ct.POINTER(vp), ct.c_char_p]
    L.cf_model_load.restype = ct.c_int
    L.cf_model_free.argtypes = [vp]
    L.cf_model_forward.argtypes = [vp, ct.POINTER(CfBatch), ct.c_int, P_F, ct.c_char_p]
    L.cf_model_forward.restype = ct.c_int
    L.cf_model_params.argtypes = [vp]
    L.cf_model_params.restype = P_F
    L.cf_model_config.argtypes = [vp]
    L.cf_model_config.restype = ct.POINTER(CfConfig)
    L.cf_nested_params.argtypes = [ct.POINTER(CfConfig), ct.POINTER(CfParam), ct.c_int]
    L.cf_nested_params.restype = ct.c_int
    L.cf_nested_param_count.argtypes = [ct.POINTER(CfConfig)]
    L.cf_nested_param_count.restype = ct.c_size_t
    L.cf_nested_work_elems.argtypes = [ct.POINTER(CfConfig), ct.c_int]
    L.cf_nested_work_elems.restype = ct.c_size_t
    for s, T in (("f32", ct.c_float), ("f64", ct.c_double)):
        fn = getattr(L, "cf_nested_step_" + s)
        PT = ct.POINTER(T)
        fn.argtypes = [ct.POINTER(CfConfig), PT, ct.POINTER(CfBatch), ct.c_int, ct.c_int, ct.c_double, PT, PT, PT]
        fn.restype = ct.c_double
    # internal (host/nn/nn_internal.h), exported: the parallel step train uses
    try:
        L.nn_model_run.argtypes = [vp, ct.POINTER(CfBatch), ct.c_int, ct.c_double, P_F, P_F,
                                   ct.POINTER(ct.c_double)]
        L.nn_model_run.restype = ct.c_int
        L.has_model_run = True
    except AttributeError:
        L.has_model_run = False
    return L


def ptr(a, T):
    assert a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(ct.POINTER(T))


class Batch:
    """A cf_nested_batch over numpy arrays (kept alive here)."""

    def __init__(self, d):
        if COMPAT[0]:
            d = compat_pad(d)
        self.a = {}
        for k in FIELDS:
            v = d[k]
            dt = np.int32 if k in ("pkt_len", "ttl_out", "ttl_in", "id_out_len", "id_in_len", "label") else np.float32
            self.a[k] = np.ascontiguousarray(v, dtype=dt)
        n = len(self.a["label"])
        s = CfBatch()
        s.n = s.cap = n
        s.t_pkt = int(self.a["pkt_len"].max())
        s.t_ids = int(max(self.a["id_out_len"].max(), self.a["id_in_len"].max()))
        for k in FIELDS:
            setattr(s, k, ptr(self.a[k], ct.c_int32 if self.a[k].dtype == np.int32 else ct.c_float))
        self.s = s
        self.n = n


def param_table(L, cfg):
    cap = 64
    arr = (CfParam * cap)()
    n = L.cf_nested_params(ct.byref(cfg), arr, cap)
    return [(arr[i].name.decode(), tuple(arr[i].dims[:arr[i].ndim]), arr[i].offset, arr[i].count) for i in range(n)]


def cfg_from_json(j):
    c = CfConfig()
    for f, _ in CfConfig._fields_:
        setattr(c, f, int(j[f]))
    return c


# ------------------------------------------------------------------ torch model

# the module of cuflow's nested model: python/cuflow/torch.py (state_dict names
# of include/cuflow/nn.h; packed sequences, or reference_compat's batch-max runs)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from cuflow.torch import NestedModel as Nested  # noqa: E402


def to_torch(d, dtype=torch.float32):
    out = {}
    for k in FIELDS:
        v = torch.from_numpy(np.ascontiguousarray(d[k]))
        out[k] = v.to(dtype) if v.dtype == torch.float32 else v.long() if k in ("ttl_out", "ttl_in", "label") else v
    return out


def rel(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    nb = np.linalg.norm(b)
    na = np.linalg.norm(a - b)
    if nb == 0:
        return float(na)
    return float(na / nb)


# ------------------------------------------------------------------ parity

def torch_step(model, tb, dtype):
    model.zero_grad(set_to_none=True)
    logits = model(tb)
    loss = F.cross_entropy(logits, tb["label"])
    loss.backward()
    probs = torch.softmax(logits, 1).detach().numpy()
    grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}
    return float(loss.detach()), probs, grads


def cuflow_step(L, cfg, table, flat, batch, dtype):
    n = batch.n
    T = ct.c_float if dtype == np.float32 else ct.c_double
    fn = L.cf_nested_step_f32 if dtype == np.float32 else L.cf_nested_step_f64
    params = np.ascontiguousarray(flat, dtype=dtype)
    grad = np.zeros_like(params)
    probs = np.zeros((n, cfg.classes), dtype=dtype)
    work = np.zeros(L.cf_nested_work_elems(ct.byref(cfg), n), dtype=dtype)
    loss = fn(ct.byref(cfg), ptr(params, T), ct.byref(batch.s), 0, n, 1.0 / n, ptr(probs, T), ptr(grad, T),
              ptr(work, T))
    grads = {name: grad[off:off + cnt].reshape(dims) for name, dims, off, cnt in table}
    return loss, probs, grads


def flat_from_state(sd, table, total):
    flat = np.zeros(total, dtype=np.float64)
    for name, dims, off, cnt in table:
        t = sd[name].detach().double().numpy()
        assert tuple(t.shape) == dims, (name, t.shape, dims)
        flat[off:off + cnt] = t.ravel()
    return flat


def compare_step(L, cfg, table, model32, flat, batch, tb32):
    """f32 and f64: torch vs cuflow's step (loss, probs, every gradient)."""
    res = {}
    for tag, dtype, tdt in (("f32", np.float32, torch.float32), ("f64", np.float64, torch.float64)):
        m = model32 if tdt == torch.float32 else _double_copy(model32)
        tb = tb32 if tdt == torch.float32 else {k: (v.double() if v.is_floating_point() else v)
                                                for k, v in tb32.items()}
        tl, tp, tg = torch_step(m, tb, tdt)
        cl, cp, cg = cuflow_step(L, cfg, table, flat, batch, dtype)
        grad_rel = {n: rel(cg[n], tg[n]) for n in tg}
        worst = max(grad_rel, key=grad_rel.get)
        res[tag] = {"loss_torch": tl, "loss_cuflow": cl, "loss_rel": abs(cl - tl) / abs(tl),
                    "probs_rel": rel(cp, tp), "probs_max_abs": float(np.max(np.abs(cp - tp))),
                    "grad_rel_max": grad_rel[worst], "grad_rel_worst_tensor": worst, "grad_rel": grad_rel}
    return res


def _double_copy(model):
    import copy
    m = copy.deepcopy(model).double()
    return m


def merge_max(acc, r):
    """Worst case over batches."""
    for tag, v in r.items():
        a = acc.setdefault(tag, {"loss_rel": 0.0, "probs_rel": 0.0, "probs_max_abs": 0.0, "grad_rel_max": 0.0,
                                 "grad_rel_worst_tensor": "", "grad_rel": {}})
        for k in ("loss_rel", "probs_rel", "probs_max_abs"):
            a[k] = max(a[k], v[k])
        if v["grad_rel_max"] >= a["grad_rel_max"]:
            a["grad_rel_max"], a["grad_rel_worst_tensor"] = v["grad_rel_max"], v["grad_rel_worst_tensor"]
        for n, e in v["grad_rel"].items():
            a["grad_rel"][n] = max(a["grad_rel"].get(n, 0.0), e)
    return acc


def model_probs_cuflow(L, model_dir, batches, threads):
    m = ct.c_void_p()
    err = ct.create_string_buffer(512)
    if L.cf_model_load(model_dir.encode(), ct.byref(m), err) != 0:
        raise RuntimeError("cf_model_load: " + err.value.decode())
    out = []
    try:
        C = L.cf_model_config(m).contents.classes
        for b in batches:
            pr = np.zeros((b.n, C), dtype=np.float32)
            if L.cf_model_forward(m, ct.byref(b.s), threads, ptr(pr, ct.c_float), err) != 0:
                raise RuntimeError("cf_model_forward: " + err.value.decode())
            out.append(pr)
    finally:
        L.cf_model_free(m)
    return out


def parity_on_weights(L, cfg, table, cfg_json, weights_dir, splits, nb, threads):
    sd = load_file(os.path.join(weights_dir, "model.safetensors"))
    model = Nested(cfg_json)
    model.load_state_dict(sd, strict=True)
    total = L.cf_nested_param_count(ct.byref(cfg))
    flat = flat_from_state(model.state_dict(), table, total)
    te = splits["test"]
    acc = {}
    batches, tbs = [], []
    for k in range(nb):
        sl = slice(k * 128, min((k + 1) * 128, len(te["label"])))
        if sl.start >= len(te["label"]):
            break
        d = {f: te[f][sl] for f in FIELDS}
        b = Batch(d)
        tb = to_torch(d)
        batches.append(b)
        tbs.append(tb)
        merge_max(acc, compare_step(L, cfg, table, model, flat, b, tb))
    # cf_model_forward (the loaded model, threads) against torch's probabilities
    cps = model_probs_cuflow(L, weights_dir, batches, threads)
    fw = 0.0
    fw_abs = 0.0
    with torch.no_grad():
        for cp, tb in zip(cps, tbs):
            tp = torch.softmax(model(tb), 1).numpy()
            fw = max(fw, rel(cp, tp))
            fw_abs = max(fw_abs, float(np.max(np.abs(cp - tp))))
    acc["model_forward_f32"] = {"probs_rel": fw, "probs_max_abs": fw_abs}
    acc["batches"] = len(batches)
    return acc


def parity_compat(L, seed):
    """reference_compat semantics on a small random configuration: each of
    packets / out ids / in ids runs to its own batch maximum (as
    nn_batch_finish sets them), no packing; random weights (torch's init)."""
    cj = {"pkt_hidden": 5, "ttl_vocab": 17, "ttl_dim": 3, "id_hidden": 4, "dense_units": 6, "dense_layers": 2,
          "classes": 4, "max_packets": 12, "max_ids": 9, "reference_compat": 1}
    cfg = cfg_from_json(cj)
    table = param_table(L, cfg)
    total = L.cf_nested_param_count(ct.byref(cfg))
    torch.manual_seed(seed)
    model = Nested(cj)
    flat = flat_from_state(model.state_dict(), table, total)
    rng = np.random.default_rng(seed)
    out = {}
    for scale_name, (sz, ids, ipt, root) in {"unit": (1.0, 1.0, 1.0, 1.0),
                                             "raw": (1500.0, 65535.0, 50.0, 1000.0)}.items():
        acc = {}
        for rep in range(3):
            B = 11 + 5 * rep
            Tp, Ti = cj["max_packets"], cj["max_ids"]
            pl = rng.integers(1, Tp + 1, B)
            ol = rng.integers(1, Ti + 1, B)
            il = rng.integers(1, Ti + 1, B)
            pkt = np.zeros((B, Tp, 3), np.float32)
            io = np.zeros((B, Ti), np.float32)
            ii = np.zeros((B, Ti), np.float32)
            for s in range(B):
                pkt[s, :pl[s], 0] = rng.random(pl[s]) * sz
                pkt[s, :pl[s], 1] = rng.integers(0, 2, pl[s])
                pkt[s, :pl[s], 2] = rng.random(pl[s]) * ipt
                io[s, :ol[s]] = np.floor(rng.random(ol[s]) * ids) if ids > 1 else rng.random(ol[s])
                ii[s, :il[s]] = np.floor(rng.random(il[s]) * ids) if ids > 1 else rng.random(il[s])
            d = {"pkt": pkt, "id_out": io, "id_in": ii,
                 # the seed's padding: every sample of an input runs to that input's batch maximum
                 "pkt_len": np.full(B, pl.max(), np.int32), "id_out_len": np.full(B, ol.max(), np.int32),
                 "id_in_len": np.full(B, il.max(), np.int32),
                 "ttl_out": rng.integers(0, cj["ttl_vocab"], B).astype(np.int32),
                 "ttl_in": rng.integers(0, cj["ttl_vocab"], B).astype(np.int32),
                 "root": (rng.random((B, 5)) * root).astype(np.float32),
                 "label": rng.integers(0, cj["classes"], B).astype(np.int32)}
            merge_max(acc, compare_step(L, cfg, table, model, flat, Batch(d), to_torch(d)))
        out[scale_name] = acc
    return out


# ------------------------------------------------------------------ training

def load_splits(export):
    s = {}
    for split in ("train", "val", "test"):
        s[split] = {f: np.load(os.path.join(export, f"{split}_{f}.npy")) for f in FIELDS}
    return s


def gather(tdata, idx):
    return {k: v[idx] for k, v in tdata.items()}


def eval_loss_acc(model, tdata, bs=128):
    """Loss, accuracy and predictions in consecutive batches of 128, as
    cuflow scores its validation and test splits (with reference_compat a
    flow's output depends on its batch)."""
    n = len(tdata["label"])
    tot, correct = 0.0, 0
    preds = []
    with torch.inference_mode():
        for at in range(0, n, bs):
            b = gather(tdata, slice(at, at + bs))
            lg = model(b)
            tot += float(F.cross_entropy(lg, b["label"], reduction="sum"))
            p = lg.argmax(1)
            preds.append(p)
            correct += int((p == b["label"]).sum())
    return tot / n, correct / n, torch.cat(preds).numpy()


def class_metrics(y, p, C, names):
    cm = np.zeros((C, C), np.int64)
    np.add.at(cm, (y, p), 1)
    out = []
    f1s = []
    for k in range(C):
        tp, sup, pred = cm[k, k], cm[k].sum(), cm[:, k].sum()
        prec = tp / pred if pred else 0.0
        rec = tp / sup if sup else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
        out.append({"name": names[k], "support": int(sup), "precision": prec, "recall": rec, "f1": f1})
        if sup:
            f1s.append(f1)
    return {"accuracy": float(np.trace(cm) / cm.sum()), "macro_f1": float(np.mean(f1s)), "classes": out}


M64 = (1 << 64) - 1


class CuflowOrder:
    """cuflow's own batch order (nn_train.c): splitmix64 from
    seed * 0x2545F4914F6CDD1D + 7; a Fisher-Yates over all flows for the
    splits (test, val, train: the export's train rows are that order), then
    one Fisher-Yates of the train array per epoch, in place."""

    def __init__(self, seed, n_all, n_train):
        self.s = (seed * 0x2545F4914F6CDD1D + 7) & M64
        for i in range(n_all, 1, -1):
            self.next()
        self.order = list(range(n_train))

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def epoch(self):
        o = self.order
        for i in range(len(o), 1, -1):
            j = self.next() % i
            o[i - 1], o[j] = o[j], o[i - 1]
        return torch.tensor(o)


class FileOrder:
    """cuflow's batch order as it wrote it: EXPORT/train_order.npy, int32
    (epochs_run x n_train), row e = epoch e's order as positions into the
    exported train arrays (batches: consecutive slices of 128)."""

    def __init__(self, rows):
        self.rows = rows
        self.e = 0

    def epoch(self):
        r = self.rows[self.e]
        self.e += 1
        return torch.from_numpy(r.astype(np.int64))


def train_torch(cfg_json, init_sd, splits, epochs, seed, batch=128, order=None, quiet=False, early_stop=0):
    model = Nested(cfg_json)
    model.load_state_dict(init_sd, strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.2, patience=5, threshold=1e-4,
                                                       threshold_mode="rel", min_lr=1e-5)
    tr, va = to_torch(splits["train"]), to_torch(splits["val"])
    n = len(tr["label"])
    g = torch.Generator().manual_seed(seed)
    best, best_sd, hist, since_best = float("inf"), None, [], 0
    for ep in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = order.epoch() if order is not None else torch.randperm(n, generator=g)
        lsum, corr = 0.0, 0
        for at in range(0, n, batch):
            b = gather(tr, perm[at:at + batch])
            opt.zero_grad(set_to_none=True)
            lg = model(b)
            loss = F.cross_entropy(lg, b["label"])
            loss.backward()
            opt.step()
            lsum += loss.item() * len(b["label"])
            corr += int((lg.argmax(1) == b["label"]).sum())
        secs = time.perf_counter() - t0
        model.eval()
        vl, vacc, _ = eval_loss_acc(model, va)
        lr = opt.param_groups[0]["lr"]
        mark = ""
        if vl < best:
            best, mark, since_best = vl, "*", 0
            best_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
        sched.step(vl)
        hist.append({"epoch": ep, "loss": lsum / n, "accuracy": corr / n, "val_loss": vl, "val_accuracy": vacc,
                     "lr": lr, "train_seconds": secs, "train_flows_per_s": n / secs, "best": bool(mark)})
        if not quiet:
            print(f"  torch epoch {ep:3d}  loss {lsum / n:.4f}  acc {corr / n:.4f}  val_loss {vl:.4f}  "
                  f"val_acc {vacc:.4f}  lr {lr:.3g}  {n / secs:7.0f} flows/s {mark}", flush=True)
        if early_stop > 0 and since_best >= early_stop:  # cuflow's rule (nn_train.c)
            break
    model.load_state_dict(best_sd)
    return model, hist


# ------------------------------------------------------------------ speed

def speed(L, args, cfg_json, splits, work, N):
    """Alternating rounds at N threads (torch.set_num_threads(N), cuflow's
    threads = N): a training epoch (batch 128: gather + forward + backward +
    Adam) and an inference pass over the test split (batches of 256,
    forward calls only, timed per call) for torch and for cuflow. Returns
    per-round flows/s, their medians and their best (the least disturbed
    round: on a shared machine interference only slows a run down)."""
    torch.set_num_threads(N)
    tr = splits["train"]
    n = len(tr["label"])
    init_sd = load_file(os.path.join(work, "export", "model.safetensors"))
    # torch
    tmodel = Nested(cfg_json)
    tmodel.load_state_dict(init_sd, strict=True)
    opt = torch.optim.Adam(tmodel.parameters(), lr=1e-3, eps=1e-8)
    ttr = to_torch(tr)
    rng = np.random.default_rng(args.seed + 7)
    # cuflow: the initial weights through cf_model_load, stepped with
    # nn_model_run (the parallel step `cuflow train` uses) and Adam as nn_train.c
    cm = ct.c_void_p()
    err = ct.create_string_buffer(512)
    if L.cf_model_load(os.path.join(work, "export").encode(), ct.byref(cm), err) != 0:
        raise RuntimeError(err.value.decode())
    cfg = L.cf_model_config(cm).contents
    total = L.cf_nested_param_count(ct.byref(cfg))
    params = np.ctypeslib.as_array(L.cf_model_params(cm), shape=(total,))
    grad = np.zeros(total, np.float32)
    am = np.zeros(total, np.float32)
    av = np.zeros(total, np.float32)
    C = cfg.classes
    probs128 = np.zeros((128, C), np.float32)
    step = [0]

    def cuflow_epoch():
        perm = rng.permutation(n)
        t0 = time.perf_counter()
        for at in range(0, n, 128):
            idx = perm[at:at + 128]
            b = Batch({f: tr[f][idx] for f in FIELDS})
            loss = ct.c_double()
            if L.nn_model_run(cm, ct.byref(b.s), N, 1.0 / b.n, ptr(probs128, ct.c_float), ptr(grad, ct.c_float),
                              ct.byref(loss)) != 0:
                raise RuntimeError("nn_model_run failed")
            step[0] += 1
            bc1, bc2 = 1 - 0.9 ** step[0], 1 - 0.999 ** step[0]
            am[:] = 0.9 * am + 0.1 * grad
            av[:] = 0.999 * av + 0.001 * grad * grad
            params[:] -= (1e-3 / bc1) * am / (np.sqrt(av / bc2) + 1e-8)
        return n / (time.perf_counter() - t0)

    def torch_epoch():
        perm = torch.from_numpy(rng.permutation(n))
        t0 = time.perf_counter()
        for at in range(0, n, 128):
            b = gather(ttr, perm[at:at + 128])
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(tmodel(b), b["label"])
            loss.backward()
            opt.step()
        return n / (time.perf_counter() - t0)

    # inference batches (built before timing), the trained weights for both
    te = splits["test"]
    nt = len(te["label"])
    cb, tb = [], []
    for at in range(0, nt, 256):
        d = {f: te[f][at:at + 256] for f in FIELDS}
        cb.append(Batch(d))
        tb.append(to_torch(d))
    im = ct.c_void_p()
    if L.cf_model_load(os.path.join(work, "cuflow_model").encode(), ct.byref(im), err) != 0:
        raise RuntimeError(err.value.decode())
    imodel = Nested(cfg_json)
    imodel.load_state_dict(load_file(os.path.join(work, "cuflow_model", "model.safetensors")), strict=True)
    imodel.eval()
    pr = [np.zeros((b.n, C), np.float32) for b in cb]

    def cuflow_infer(reps=3):
        t = 0.0
        for _ in range(reps):
            for b, p in zip(cb, pr):
                t0 = time.perf_counter()
                L.cf_model_forward(im, ct.byref(b.s), N, ptr(p, ct.c_float), err)
                t += time.perf_counter() - t0
        return reps * nt / t

    def torch_infer(reps=3):
        t = 0.0
        with torch.inference_mode():
            for _ in range(reps):
                for b in tb:
                    t0 = time.perf_counter()
                    torch.softmax(imodel(b), 1)
                    t += time.perf_counter() - t0
        return reps * nt / t

    cuflow_infer(1)  # warm-up
    torch_infer(1)
    res = {"train_torch": [], "train_cuflow": [], "infer_torch": [], "infer_cuflow": []}
    for r in range(args.speed_rounds):
        res["train_torch"].append(torch_epoch())
        if L.has_model_run:
            res["train_cuflow"].append(cuflow_epoch())
        res["infer_torch"].append(torch_infer())
        res["infer_cuflow"].append(cuflow_infer())
        print(f"  {N} thread(s), round {r + 1}: train torch {res['train_torch'][-1]:.0f}"
              + (f" cuflow {res['train_cuflow'][-1]:.0f}" if L.has_model_run else "")
              + f" flows/s; infer torch {res['infer_torch'][-1]:.0f} cuflow {res['infer_cuflow'][-1]:.0f} flows/s",
              flush=True)
    L.cf_model_free(cm)
    L.cf_model_free(im)
    out = {"threads": N, "rounds": res}
    for k, v in res.items():
        out[k + "_median"] = statistics.median(v) if v else None
        out[k + "_best"] = max(v) if v else None
    return out


# ------------------------------------------------------------------ main

def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    work = os.path.abspath(a.work)
    export, mdir = os.path.join(work, "export"), os.path.join(work, "cuflow_model")
    J = {"args": vars(a), "torch": torch.__version__, "threads": a.threads}
    print(f"torch {torch.__version__}, {a.threads} threads, work {work}", flush=True)

    # 1. cuflow train (+ export)
    if a.reuse and os.path.exists(os.path.join(mdir, "test", "metrics.json")) and \
            os.path.exists(os.path.join(export, "model.safetensors")):
        print("[1] reusing", mdir, "and", export, flush=True)
    else:
        cmd = [a.cuflow, "train", "--model", "nested", a.data, "--label", a.label, "-o", mdir, "--epochs",
               str(a.epochs), "--test-fraction", str(a.test_fraction), "--seed", str(a.seed), "--threads",
               str(a.threads), "--export", export]
        if a.reference_compat:
            cmd.append("--reference-compat")
        if a.early_stop:
            cmd += ["--early-stop", str(a.early_stop)]
        J["cuflow_train_cmd"] = cmd
        print("[1] " + " ".join(f"'{c}'" if "*" in c or "?" in c else c for c in cmd), flush=True)
        t0 = time.time()
        with open(os.path.join(work, "cuflow_train.log"), "w") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
        if rc != 0:
            sys.exit(f"cuflow train failed ({rc}); see {work}/cuflow_train.log")
        J["cuflow_train_wall_s"] = time.time() - t0
        print(f"    done in {J['cuflow_train_wall_s']:.0f} s (log: {work}/cuflow_train.log)", flush=True)

    L = load_lib(a.lib)
    cfg_json = json.load(open(os.path.join(export, "config.json")))
    COMPAT[0] = bool(cfg_json.get("reference_compat", 0))
    if COMPAT[0] != a.reference_compat:
        sys.exit(f"{export}/config.json has reference_compat {int(COMPAT[0])}, --reference-compat "
                 f"{int(a.reference_compat)}: run without --reuse")
    J["reference_compat"] = int(COMPAT[0])
    names = cfg_json["class_names"]
    cfg = cfg_from_json(cfg_json)
    table = param_table(L, cfg)
    splits = load_splits(export)
    J["flows"] = {k: int(len(v["label"])) for k, v in splits.items()}
    J["param_count"] = int(L.cf_nested_param_count(ct.byref(cfg)))

    # 2. parity
    print("[2] parity (torch vs cuflow: probabilities, loss, gradients)", flush=True)
    J["parity"] = {
        "initial": parity_on_weights(L, cfg, table, cfg_json, export, splits, a.parity_batches, a.threads),
        "trained": parity_on_weights(L, cfg, table, cfg_json, mdir, splits, a.parity_batches, a.threads),
        "reference_compat": parity_compat(L, a.seed),
    }

    # cuflow's trained model scored by torch on the test split: the export's
    # test split must be the one cuflow scored
    tm = Nested(cfg_json)
    tm.load_state_dict(load_file(os.path.join(mdir, "model.safetensors")), strict=True)
    tm.eval()
    te = to_torch(splits["test"])
    _, acc_cuflow_in_torch, pred_cuflow = eval_loss_acc(tm, te)
    J["cuflow_model_scored_by_torch_accuracy"] = acc_cuflow_in_torch

    # 3. torch training
    y = splits["test"]["label"]
    C = cfg_json["classes"]
    cm_json = json.load(open(os.path.join(mdir, "test", "metrics.json")))
    cuf = {"accuracy": cm_json["accuracy"], "macro_f1": cm_json["macro_f1"], "loss": cm_json["loss"],
           "majority_class_accuracy": cm_json.get("majority_class_accuracy"), "classes": cm_json["classes"]}
    crows = [r.split(",") for r in open(os.path.join(mdir, "metrics.csv")).read().strip().splitlines()[1:]]
    cuf["epochs_run"] = len(crows)
    J["cuflow"] = cuf
    if not a.skip_train_compare:
        init_sd = load_file(os.path.join(export, "model.safetensors"))

        def compare(pred, met):
            return {"accuracy": met["accuracy"], "macro_f1": met["macro_f1"], "loss": met.get("loss"),
                    "classes": met["classes"],
                    "accuracy_diff_points": 100 * (met["accuracy"] - cuf["accuracy"]),
                    "macro_f1_diff_points": 100 * (met["macro_f1"] - cuf["macro_f1"]),
                    "f1_diff_points": {c["name"]: 100 * (t["f1"] - c["f1"])
                                       for c, t in zip(cuf["classes"], met["classes"])},
                    "prediction_agreement": float(np.mean(pred == pred_cuflow))}

        tc = J["train_compare"] = {"cuflow": cuf}
        torch.set_num_threads(a.torch_train_threads or a.threads)
        # (a) torch on cuflow's own batches: differences left are rounding only
        if a.replay_cuflow_order:
            opath = os.path.join(export, "train_order.npy")
            n_train = J["flows"]["train"]
            if os.path.exists(opath):
                rows = np.load(opath)
                assert rows.ndim == 2 and rows.shape[1] == n_train, (rows.shape, n_train)
                for r in rows:  # every row a permutation of the train positions
                    assert np.array_equal(np.sort(r), np.arange(n_train))
                order, src = FileOrder(rows), "train_order.npy"
                # the Python replay of cuflow's splitmix64 shuffles, checked against the file
                rp = CuflowOrder(a.seed, sum(J["flows"].values()), n_train)
                same = sum(int(np.array_equal(rp.epoch().numpy(), r)) for r in rows)
                tc["replay_matches_train_order_epochs"] = [same, int(len(rows))]
                n_ep = min(a.epochs, len(rows))
            else:
                order, src = CuflowOrder(a.seed, sum(J["flows"].values()), n_train), "replayed splitmix64 shuffles"
                n_ep = a.epochs
            print(f"[3a] torch training on cuflow's batch order ({src}), {n_ep} epochs", flush=True)
            t0 = time.time()
            rm, rh = train_torch(cfg_json, init_sd, splits, n_ep, a.seed, order=order, quiet=True,
                                 early_stop=a.early_stop)
            rm.eval()
            rl, _, pr = eval_loss_acc(rm, te)
            rmet = class_metrics(y, pr, C, names)
            rmet["loss"] = rl
            d = tc["cuflow_order"] = compare(pr, rmet)
            d.update({"order_source": src, "epochs_run": len(rh), "wall_s": time.time() - t0,
                      "epoch_loss_abs_diff": [abs(h["loss"] - float(r[1])) for h, r in zip(rh, crows)],
                      "epoch_val_loss_abs_diff": [abs(h["val_loss"] - float(r[3])) for h, r in zip(rh, crows)],
                      "history": rh})
            print(f"    accuracy {d['accuracy']:.4f} ({d['accuracy_diff_points']:+.2f} pts vs cuflow), macro F1 "
                  f"{d['macro_f1']:.4f} ({d['macro_f1_diff_points']:+.2f}); |train loss - cuflow's| epoch 1 "
                  f"{d['epoch_loss_abs_diff'][0]:.1e}, last {d['epoch_loss_abs_diff'][-1]:.1e}", flush=True)
        # (b) torch with its own seeded shuffles (torch.randperm)
        print(f"[3b] torch training, own shuffle (seed {a.seed}), {a.epochs} epochs", flush=True)
        torch.manual_seed(a.seed)
        t0 = time.time()
        model, hist = train_torch(cfg_json, init_sd, splits, a.epochs, a.seed, early_stop=a.early_stop)
        J["torch_train_wall_s"] = time.time() - t0
        model.eval()
        tl, tacc, pred_torch = eval_loss_acc(model, te)
        tmet = class_metrics(y, pred_torch, C, names)
        tmet["loss"] = tl
        d = tc["own_shuffle"] = compare(pred_torch, tmet)
        d.update({"epochs_run": len(hist), "wall_s": J["torch_train_wall_s"], "history": hist})
        tc["torch_median_train_flows_per_s"] = statistics.median(h["train_flows_per_s"] for h in hist)
        # run-to-run spread of the torch side: other shuffle seeds, same initial weights
        if a.extra_seeds:
            accs = [tmet["accuracy"]]
            f1s = [tmet["macro_f1"]]
            for k in range(1, a.extra_seeds + 1):
                sm, _ = train_torch(cfg_json, init_sd, splits, a.epochs, a.seed + 1000 * k, quiet=True,
                                    early_stop=a.early_stop)
                sm.eval()
                _, sacc, sp_ = eval_loss_acc(sm, te)
                accs.append(sacc)
                f1s.append(class_metrics(y, sp_, C, names)["macro_f1"])
                print(f"    shuffle seed {a.seed + 1000 * k}: accuracy {sacc:.4f}", flush=True)
            tc["torch_shuffle_seeds"] = {"seeds": [a.seed + 1000 * k for k in range(a.extra_seeds + 1)],
                                         "accuracy": accs, "macro_f1": f1s,
                                         "accuracy_mean": float(np.mean(accs)),
                                         "accuracy_min": float(min(accs)), "accuracy_max": float(max(accs)),
                                         "macro_f1_mean": float(np.mean(f1s)),
                                         "accuracy_mean_diff_points": 100 * (float(np.mean(accs)) - cuf["accuracy"])}
        torch.set_num_threads(a.threads)
    # write what there is so far (speed can take minutes)
    with open(os.path.join(work, "judge.json"), "w") as f:
        json.dump(J, f, indent=1, default=float)

    if not a.skip_speed:
        # 4. speed: at --threads, and at 1 thread (torch's OpenMP pool suffers
        # far more than cuflow's from sharing cores with other work)
        print("[4] speed (float32, batch 128 training, 256 inference)", flush=True)
        with open(os.path.join(mdir, "metrics.csv")) as f:
            rows = f.read().strip().splitlines()
        col = rows[0].split(",").index("train_flows_per_s")
        sp = {"cuflow_metrics_csv_median_train_flows_per_s":
              statistics.median(float(r.split(",")[col]) for r in rows[1:]), "by_threads": {}}
        for N in sorted({a.threads, 1}, reverse=True):
            r = speed(L, a, cfg_json, splits, work, N)
            ctrain = r["train_cuflow_best"] if r["train_cuflow_best"] else sp["cuflow_metrics_csv_median_train_flows_per_s"]
            r["train_ratio"] = ctrain / r["train_torch_best"]
            r["infer_ratio"] = r["infer_cuflow_best"] / r["infer_torch_best"]
            sp["by_threads"][str(N)] = r
        torch.set_num_threads(a.threads)
        main_r = sp["by_threads"][str(a.threads)]
        sp["train_ratio"], sp["infer_ratio"] = main_r["train_ratio"], main_r["infer_ratio"]
        # cuflow at --threads against torch at whichever thread count served it best
        bt = max(r["train_torch_best"] for r in sp["by_threads"].values())
        bi = max(r["infer_torch_best"] for r in sp["by_threads"].values())
        sp["train_ratio_vs_best_torch"] = (main_r["train_cuflow_best"] or 0) / bt
        sp["infer_ratio_vs_best_torch"] = main_r["infer_cuflow_best"] / bi
        J["speed"] = sp

    with open(os.path.join(work, "judge.json"), "w") as f:
        json.dump(J, f, indent=1, default=float)
    summary(J)


def summary(J):
    p = J["parity"]
    print("\n==================== torch judge summary ====================")
    print(f"flows: {J['flows']}   parameters: {J['param_count']}   threads: {J['threads']}   torch {J['torch']}   "
          f"reference_compat: {J.get('reference_compat', 0)}")
    print("\nparity (max over batches; norm-wise relative error ||cuflow - torch|| / ||torch||)")
    print(f"  {'case':34s} {'loss':>9s} {'probs':>9s} {'grad max':>9s}  worst gradient tensor")
    for wname in ("initial", "trained"):
        for tag in ("f32", "f64"):
            r = p[wname][tag]
            print(f"  {wname + ' weights, step ' + tag:34s} {r['loss_rel']:9.2e} {r['probs_rel']:9.2e} "
                  f"{r['grad_rel_max']:9.2e}  {r['grad_rel_worst_tensor']}")
        r = p[wname]["model_forward_f32"]
        print(f"  {wname + ' weights, cf_model_forward':34s} {'':9s} {r['probs_rel']:9.2e}")
    for sname, acc in p["reference_compat"].items():
        for tag in ("f32", "f64"):
            r = acc[tag]
            print(f"  {'compat (' + sname + ' inputs), step ' + tag:34s} {r['loss_rel']:9.2e} {r['probs_rel']:9.2e} "
                  f"{r['grad_rel_max']:9.2e}  {r['grad_rel_worst_tensor']}")
    cuf = J["cuflow"]
    print(f"\ncuflow's trained model scored by torch on the test split: accuracy "
          f"{J['cuflow_model_scored_by_torch_accuracy']:.4f} (cuflow's own: {cuf['accuracy']:.4f})")
    if "train_compare" in J:
        t = J["train_compare"]
        runs = [(k, lab) for k, lab in (("cuflow_order", "torch cuflow-order"), ("own_shuffle", "torch own-shuffle"))
                if k in t]
        print(f"\ntest split ({J['flows']['test']} flows; each trained from the export's initial weights; "
              f"majority class {cuf['majority_class_accuracy']:.4f})")
        if "cuflow_order" in t:
            r = t["cuflow_order"]
            m = t.get("replay_matches_train_order_epochs")
            print(f"  cuflow's order from {r['order_source']}"
                  + (f" (the Python replay matches {m[0]}/{m[1]} epochs)" if m else ""))
        hdr = f"  {'':24s} {'cuflow':>8s}" + "".join(f" {lab:>18s} {'pts':>7s}" for _, lab in runs)
        print(hdr)

        def row(label, cv, get):
            s = f"  {label:24s} {cv:8.4f}"
            for k, _ in runs:
                v = get(t[k])
                s += f" {v:18.4f} {100 * (v - cv):+7.2f}"
            print(s)
        row("accuracy", cuf["accuracy"], lambda r: r["accuracy"])
        row("macro F1", cuf["macro_f1"], lambda r: r["macro_f1"])
        for i, c in enumerate(cuf["classes"]):
            row(f"F1 {c['name'][:16]} ({c['support']})", c["f1"], lambda r, i=i: r["classes"][i]["f1"])
        s = f"  {'prediction agreement':24s} {'':8s}"
        for k, _ in runs:
            s += f" {100 * t[k]['prediction_agreement']:17.1f}% {'':7s}"
        print(s)
        s = f"  {'epochs run':24s} {cuf['epochs_run']:8d}"
        for k, _ in runs:
            s += f" {t[k]['epochs_run']:18d} {'':7s}"
        print(s)
        if "cuflow_order" in t:
            r = t["cuflow_order"]
            e = r["epoch_loss_abs_diff"]
            first = next((i + 1 for i, x in enumerate(e) if x > 5e-6), None)
            print(f"  cuflow-order run: |epoch train loss - metrics.csv| first {e[0]:.1e}, max {max(e):.1e}; "
                  f"first epoch above 5e-6: {first}")
        if "torch_shuffle_seeds" in t:
            r = t["torch_shuffle_seeds"]
            print(f"  torch over {len(r['seeds'])} shuffle seeds: accuracy mean {r['accuracy_mean']:.4f} "
                  f"(min {r['accuracy_min']:.4f}, max {r['accuracy_max']:.4f}; mean {r['accuracy_mean_diff_points']:+.2f} pts "
                  f"vs cuflow), macro F1 mean {r['macro_f1_mean']:.4f}")
    if "speed" in J:
        s = J["speed"]
        print("\nspeed (flows/s, float32; best of alternating rounds, median in brackets)")
        print(f"  {'threads':8s} {'':10s} {'torch':>16s} {'cuflow':>16s} {'cuflow/torch':>13s}")
        for N, r in s["by_threads"].items():
            for what in ("train", "infer"):
                c = r[what + "_cuflow_best"]
                cm_ = r[what + "_cuflow_median"]
                cs = f"{c:7.0f} ({cm_:7.0f})" if c else f"{'n/a':>16s}"
                print(f"  {N:8s} {('training' if what == 'train' else 'inference'):10s} "
                      f"{r[what + '_torch_best']:7.0f} ({r[what + '_torch_median']:7.0f}) {cs} {r[what + '_ratio']:12.2f}x")
        print(f"  cuflow's metrics.csv median train_flows_per_s: {s['cuflow_metrics_csv_median_train_flows_per_s']:.0f}")
        print(f"  cuflow at {J['threads']} threads vs torch at its best thread count: training "
              f"{s['train_ratio_vs_best_torch']:.2f}x, inference {s['infer_ratio_vs_best_torch']:.2f}x")
        if "train_compare" in J:
            print(f"  (torch's median training epoch during step 3: "
                  f"{J['train_compare']['torch_median_train_flows_per_s']:.0f} flows/s)")
    print("==============================================================")


if __name__ == "__main__":
    main()

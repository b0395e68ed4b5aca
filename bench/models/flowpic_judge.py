#!/usr/bin/env python3
"""PyTorch as the outside judge of cuflow's FlowPic CNNs (issue 21).

  0. images: `cuflow flowpic --preset mini` and `--preset official` over
     labelled capture directories (--captures DIR..., label = directory), or,
     without them, over two synthetic classes made by `cuflow synth`;
  1. trains cuflow's models (`cuflow train --model flowpic|flowpic-mini
     [--pad 3] --export`): the official model with Keras's "same" padding and
     with tcbench's symmetric padding 3, the mini LeNet-5 with no padding
     (valid) and with padding 3;
  2. parity: a torch module per model with the state_dict names of
     include/cuflow/nn_flowpic.h (conv1, conv2, fc1, [fc2,] out) loads the
     initial (export) and the trained weights (strict) and compares class
     probabilities, loss and every parameter's gradient with
     cf_flowpic_cnn_step_f32 / _f64 (libcuflow.so, ctypes), in float32 and
     float64, on real images and random ones, with dropout off (training 0)
     and on (training 1: torch applies cuflow's per-sample masks, made here
     from the seeds with the rule of nn_flowpic.h); Keras's asymmetric "same"
     padding is emulated by F.pad(x, (left, right, top, bottom)) before a
     padding-0 convolution (2 before, 3 after), tcbench's by Conv2d(padding=3);
     also cf_model_forward_flowpic of the loaded model directory;
  3. speed, float32, same run, same thread count: inference images/s
     (cf_model_forward_flowpic vs torch eval under inference_mode) and
     training images/s (nn_model_run_batch with dropout + Adam in numpy, the
     step `cuflow train` runs, vs torch forward + backward + Adam), batches
     prebuilt, best of --speed-rounds;
  4. training comparison: torch trained the same way (export's initial
     weights, Adam 1e-3, same batch size, ReduceLROnPlateau 0.2/5, best
     validation weights kept) on cuflow's split (replayed from the seed,
     checked against train_order.npy) and (a) cuflow's own batches and
     dropout masks (per-epoch losses must track metrics.csv), (b) torch's
     own shuffles and dropout; test accuracy against cuflow's;
  5. writes WORK/judge.json and prints a summary table.

Run it with the venv's python, or give --venv PATH (the script re-executes
itself under it). See bench/models/README.md.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cuflow", default="build-r17-rel/cuflow", help="cuflow CLI binary")
    ap.add_argument("--lib", default="build-r17-rel/libcuflow.so", help="libcuflow.so (ctypes)")
    ap.add_argument("--work", default="/tmp/flowpic_judge", help="work directory (images, models, judge.json)")
    ap.add_argument("--captures", nargs="*", default=[],
                    help="labelled capture directories (label = directory name) for `cuflow flowpic`; none: two "
                         "synthetic classes (cuflow synth)")
    ap.add_argument("--official-flowpic-args", default=None,
                    help="extra `cuflow flowpic --preset official` options (default: none with --captures, "
                         "'--min-span -1 --window 15' for the short synthetic captures)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--test-captures", nargs="*", default=[],
                    help="a held-out test set of its own: labelled capture directories (the same class names) "
                         "whose images are `cuflow train --test-data` instead of --test-fraction (e.g. other "
                         "sessions: bench/lab/split_sessions.py)")
    ap.add_argument("--batch-mini", type=int, default=64, help="training and speed batch, mini (64)")
    ap.add_argument("--batch-official", type=int, default=16, help="training and speed batch, official (16)")
    ap.add_argument("--epochs-mini", type=int, default=10)
    ap.add_argument("--epochs-official", type=int, default=3)
    ap.add_argument("--parity-mini", type=int, default=64, help="images per parity batch, mini (64)")
    ap.add_argument("--parity-official", type=int, default=8, help="images per parity batch, official (8)")
    ap.add_argument("--speed-rounds", type=int, default=2)
    ap.add_argument("--speed-threads", default="",
                    help="comma list of thread counts timed (default: --threads, then 1: torch's OpenMP pool can "
                         "be slower at 2 threads than at 1 on a loaded machine)")
    ap.add_argument("--speed-batches-mini", type=int, default=8)
    ap.add_argument("--speed-batches-official", type=int, default=4)
    ap.add_argument("--train-compare", default="mini,mini-pad3,official",
                    help="comma list of variants trained by torch too (mini, mini-pad3, official, official-pad3; "
                         "'' for none)")
    ap.add_argument("--own-shuffle", default=None,
                    help="comma list of the --train-compare variants that torch also trains on its own shuffles "
                         "and dropout (default: all of them; '' for none)")
    ap.add_argument("--torch-train-threads", type=int, default=0,
                    help="torch threads for step 4's trainings (0: --threads); 1 is much faster when other jobs "
                         "share the cores (torch's OpenMP barriers spin)")
    ap.add_argument("--reuse", action="store_true", help="reuse WORK's images and cuflow models when present")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--venv", help="python venv to run under (needs torch, numpy, safetensors)")
    return ap.parse_args()


ARGS = parse_args()
if ARGS.venv:
    py = os.path.join(ARGS.venv, "bin", "python")
    if not os.path.exists(py):
        sys.exit(f"{py} is missing: make the venv with bench/models/torch_judge.py --venv {ARGS.venv} "
                 f"(it installs torch, numpy, safetensors)")
    if os.path.realpath(sys.prefix) != os.path.realpath(ARGS.venv):
        print(f"[venv] re-executing under {py}", flush=True)
        os.execv(py, [py] + sys.argv)

import copy  # noqa: E402
import ctypes as ct  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

# ------------------------------------------------------------------ ctypes
# The structs of include/cuflow/nn_flowpic.h: tests/oracles' definitions
# (imported), or the same fields mirrored here when that import fails.

OFFICIAL, MINI = 0, 1
FC_SEED_XOR = 0xD1B54A32D192ED03
M64 = (1 << 64) - 1
P_F = ct.POINTER(ct.c_float)
P_I32 = ct.POINTER(ct.c_int32)
P_I64 = ct.POINTER(ct.c_int64)
P_U64 = ct.POINTER(ct.c_uint64)
STRUCTS_FROM = "tests/oracles/flowpic_cnn_check_ctypes.py"
try:
    sys.path.insert(0, os.path.join(ROOT, "tests", "oracles"))
    import flowpic_cnn_check_ctypes as _fcc  # noqa: E402
    CfConfig, CfBatch, CfParam, CfShape = _fcc.Config, _fcc.Batch, _fcc.Param, _fcc.Shape
except Exception as e:  # a checker being edited must not stop the judge
    STRUCTS_FROM = f"mirrored in flowpic_judge.py (import failed: {type(e).__name__}: {e})"

    class CfConfig(ct.Structure):
        _fields_ = [(n, ct.c_int) for n in ("kind", "channels", "size", "classes", "conv1", "conv2", "kernel",
                                            "stride", "pool", "hidden1", "hidden2")] + [
            ("drop_conv", ct.c_double), ("drop_fc", ct.c_double), ("same_padding", ct.c_int), ("pad_sym", ct.c_int)]

    class CfShape(ct.Structure):
        _fields_ = [("pad1", ct.c_int * 4), ("pad2", ct.c_int * 4)] + [
            (n, ct.c_int) for n in ("c1_h", "c1_w", "p1_h", "p1_w", "c2_h", "c2_w", "p2_h", "p2_w", "flat")]

    class CfParam(ct.Structure):
        _fields_ = [("name", ct.c_char * 48), ("ndim", ct.c_int), ("dims", ct.c_int64 * 4),
                    ("offset", ct.c_size_t), ("count", ct.c_size_t)]

    class CfBatch(ct.Structure):
        _fields_ = [("n", ct.c_int), ("cap", ct.c_int), ("dense", P_F), ("offsets", P_I64), ("pc", P_I32),
                    ("py", P_I32), ("px", P_I32), ("pv", P_F), ("nnz", ct.c_size_t), ("nnz_cap", ct.c_size_t),
                    ("label", P_I32), ("seed", P_U64), ("kind", ct.c_int), ("channels", ct.c_int),
                    ("size", ct.c_int)]


def load_lib(path):
    L = ct.CDLL(os.path.abspath(path))
    vp, pc, pb = ct.c_void_p, ct.POINTER(CfConfig), ct.POINTER(CfBatch)
    for name, res, args in (
            ("cf_flowpic_cnn_config_default", None, [pc, ct.c_int]),
            ("cf_flowpic_cnn_shapes", ct.c_int, [pc, ct.POINTER(CfShape)]),
            ("cf_flowpic_cnn_params", ct.c_int, [pc, ct.POINTER(CfParam), ct.c_int]),
            ("cf_flowpic_cnn_param_count", ct.c_size_t, [pc]),
            ("cf_flowpic_cnn_work_elems", ct.c_size_t, [pc, ct.c_int]),
            ("cf_flowpic_batch_alloc", ct.c_int, [pb, pc, ct.c_int, ct.c_size_t]),
            ("cf_flowpic_batch_free", None, [pb]),
            ("cf_flowpic_batch_add_sparse", ct.c_int,
             [pb, ct.c_size_t, P_I32, P_I32, P_I32, P_F, ct.c_int32, ct.c_uint64]),
            ("cf_model_load", ct.c_int, [ct.c_char_p, ct.POINTER(vp), ct.c_char_p]),
            ("cf_model_free", None, [vp]),
            ("cf_model_params", P_F, [vp]),
            ("cf_model_flowpic_config", pc, [vp]),
            ("cf_model_forward_flowpic", ct.c_int, [vp, pb, ct.c_int, P_F, ct.c_char_p]),
            # internal (host/nn/nn_internal.h), exported: the parallel step `cuflow train` runs
            ("nn_model_run_batch", ct.c_int, [vp, ct.c_void_p, ct.c_int, ct.c_int, ct.c_double, ct.c_int, P_F, P_F,
                                              ct.POINTER(ct.c_double)])):
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    for s, T in (("f32", ct.c_float), ("f64", ct.c_double)):
        f = getattr(L, "cf_flowpic_cnn_step_" + s)
        PT = ct.POINTER(T)
        f.restype = ct.c_double
        f.argtypes = [pc, PT, pb, ct.c_int, ct.c_int, ct.c_double, ct.c_int, PT, PT, PT]
    return L


def ptr(a, T):
    assert a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(ct.POINTER(T))


def cfg_from_json(j):
    c = CfConfig()
    c.kind = MINI if j["model"] == "flowpic-mini" else OFFICIAL
    for f, t in CfConfig._fields_:
        if f != "kind":
            setattr(c, f, (float if t is ct.c_double else int)(j[f]))
    return c


def param_table(L, cfg):
    arr = (CfParam * 16)()
    n = L.cf_flowpic_cnn_params(ct.byref(cfg), arr, 16)
    return [(arr[i].name.decode(), tuple(arr[i].dims[:arr[i].ndim]), arr[i].offset, arr[i].count) for i in range(n)]


def c_shapes(L, cfg):
    s = CfShape()
    assert L.cf_flowpic_cnn_shapes(ct.byref(cfg), ct.byref(s)) == 0
    return {"pad1": tuple(s.pad1), "pad2": tuple(s.pad2), "flat": s.flat}


class Batch:
    """A cf_flowpic_batch (cf_flowpic_batch_alloc / _add_sparse from each
    image's nonzero pixels, as cuflow's image loader does)."""

    def __init__(self, L, cfg, imgs, labels, seeds=None):
        self.L = L
        n = len(imgs)
        self.n = n
        self.s = CfBatch()
        nnz = int(sum(int(np.count_nonzero(im)) for im in imgs))
        if L.cf_flowpic_batch_alloc(ct.byref(self.s), ct.byref(cfg), n, max(nnz, 1)) != 0:
            raise RuntimeError("cf_flowpic_batch_alloc failed")
        for k in range(n):
            im = np.asarray(imgs[k])
            c, y, x = (np.ascontiguousarray(a, np.int32) for a in np.nonzero(im))
            v = np.ascontiguousarray(im[c, y, x], np.float32)
            sd = int(seeds[k]) if seeds is not None else k
            rc = L.cf_flowpic_batch_add_sparse(ct.byref(self.s), len(v), ptr(c, ct.c_int32), ptr(y, ct.c_int32),
                                               ptr(x, ct.c_int32), ptr(v, ct.c_float), int(labels[k]), sd)
            if rc != 0:
                raise RuntimeError(f"cf_flowpic_batch_add_sparse: {rc}")

    def __del__(self):
        try:
            self.L.cf_flowpic_batch_free(ct.byref(self.s))
        except Exception:
            pass


# ------------------------------------------------------------------ dropout masks (nn_flowpic.h's rule)

def splitmix_stream(seed, n):
    """cf_nn_dropout_mask's draws: splitmix64 from seed, n outputs."""
    with np.errstate(over="ignore"):
        s = np.uint64(seed & M64) + np.uint64(0x9E3779B97F4A7C15) * np.arange(1, n + 1, dtype=np.uint64)
        z = (s ^ (s >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def keep_mask(seed, n, p):
    if p <= 0:
        return np.ones(n, bool)
    if p >= 1:
        return np.zeros(n, bool)
    return (splitmix_stream(seed, n) >> np.uint64(11)).astype(np.float64) / float(1 << 53) >= p


def cuflow_masks(cj, shapes, seeds):
    """(conv keep mask (n, per), fc keep mask (n, units)) of the samples with
    these seeds: per = conv2's channels (mini, 2-D dropout) or its output
    elements (official); units = the last hidden layer's."""
    per = cj["conv2"] if cj["model"] == "flowpic-mini" else cj["conv2"] * shapes["c2"][0] * shapes["c2"][1]
    units = cj["hidden2"] if cj["hidden2"] > 0 else cj["hidden1"]
    mc = np.stack([keep_mask(int(s), per, cj["drop_conv"]) for s in seeds])
    mf = np.stack([keep_mask(int(s) ^ FC_SEED_XOR, units, cj["drop_fc"]) for s in seeds])
    return mc, mf


# ------------------------------------------------------------------ torch model

def keras_same(n, k, s):
    """TensorFlow/Keras "same" padding along one axis: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


class FlowPicCNN(nn.Module):
    """The official FlowPic CNN (talshapira/FlowPic, Keras) or tcbench's
    mini LeNet-5, from cuflow's config.json, with cuflow's parameter names.
    Padding: pad_sym >= 0 is Conv2d(padding=pad_sym) (tcbench); else
    same_padding = 1 is Keras "same" emulated with F.pad before a
    padding-0 convolution (asymmetric: 2 before, 3 after for kernel 10,
    stride 5); else valid."""

    def __init__(self, cj):
        super().__init__()
        self.mini = cj["model"] == "flowpic-mini"
        k, st, self.pool = cj["kernel"], cj["stride"], cj["pool"]
        sym = cj["pad_sym"] if cj["pad_sym"] >= 0 else 0
        self.conv1 = nn.Conv2d(cj["channels"], cj["conv1"], k, st, padding=sym)
        self.conv2 = nn.Conv2d(cj["conv1"], cj["conv2"], k, st, padding=sym)
        S = cj["size"]
        keras = cj["pad_sym"] < 0 and cj["same_padding"]
        # the shapes, as torch's (floor) arithmetic gives them
        p1 = keras_same(S, k, st) if keras else (sym, sym)
        c1 = (S + p1[0] + p1[1] - k) // st + 1
        q1 = c1 // self.pool
        p2 = keras_same(q1, k, st) if keras else (sym, sym)
        c2 = (q1 + p2[0] + p2[1] - k) // st + 1
        q2 = c2 // self.pool
        self.fpad1 = (p1[0], p1[1], p1[0], p1[1]) if keras else None  # F.pad: left, right, top, bottom
        self.fpad2 = (p2[0], p2[1], p2[0], p2[1]) if keras else None
        self.shapes = {"pad1": (p1[0], p1[1], p1[0], p1[1]), "pad2": (p2[0], p2[1], p2[0], p2[1]),
                       "c1": (c1, c1), "c2": (c2, c2), "flat": cj["conv2"] * q2 * q2}
        self.fc1 = nn.Linear(self.shapes["flat"], cj["hidden1"])
        last = cj["hidden1"]
        if cj["hidden2"] > 0:
            self.fc2 = nn.Linear(cj["hidden1"], cj["hidden2"])
            last = cj["hidden2"]
        else:
            self.fc2 = None
        self.out = nn.Linear(last, cj["classes"])
        self.p_conv, self.p_fc = cj["drop_conv"], cj["drop_fc"]
        self.drop_conv = nn.Dropout2d(self.p_conv) if self.mini else nn.Dropout(self.p_conv)
        self.drop_fc = nn.Dropout(self.p_fc)

    def forward(self, x, masks=None):
        """masks: None (torch's own dropout in train mode), or cuflow's keep
        masks (conv (n, per), fc (n, units)) as tensors of 0/1."""
        if self.fpad1:
            x = F.pad(x, self.fpad1)
        x = F.max_pool2d(F.relu(self.conv1(x)), self.pool)
        if self.fpad2:
            x = F.pad(x, self.fpad2)
        x = F.relu(self.conv2(x))
        if masks is not None:
            mc = masks[0].reshape(x.shape[0], x.shape[1], 1, 1) if self.mini else masks[0].reshape(x.shape)
            x = x * mc / (1.0 - self.p_conv)
        else:
            x = self.drop_conv(x)
        x = F.max_pool2d(x, self.pool).flatten(1)
        x = F.relu(self.fc1(x))
        if self.fc2 is not None:
            x = F.relu(self.fc2(x))
        x = x * masks[1] / (1.0 - self.p_fc) if masks is not None else self.drop_fc(x)
        return self.out(x)


def rel(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    nb = np.linalg.norm(b)
    na = np.linalg.norm(a - b)
    return float(na) if nb == 0 else float(na / nb)


def flat_from_state(sd, table, total):
    flat = np.zeros(total, dtype=np.float64)
    for name, dims, off, cnt in table:
        t = sd[name].detach().double().numpy()
        assert tuple(t.shape) == dims, (name, t.shape, dims)
        flat[off:off + cnt] = t.ravel()
    return flat


# ------------------------------------------------------------------ images

class Images:
    """One `cuflow flowpic` directory as cuflow's trainer reads it: images
    whose label names a class (meta.json's names), in file order; labels
    mapped to the sorted class names (config.json's class_names)."""

    def __init__(self, d, class_names):
        meta = json.load(open(os.path.join(d, "meta.json")))
        names = meta["labels"]["names"]
        self.x = np.load(os.path.join(d, "flowpic.npy"), mmap_mode="r")
        lab = np.load(os.path.join(d, "labels.npy")).astype(np.int64)
        keep = [i for i in range(len(lab)) if 0 <= lab[i] < len(names)]
        self.rows = np.array(keep, np.int64)
        self.y = np.array([class_names.index(names[lab[i]]) for i in keep], np.int64)
        self.n = len(keep)
        self.dense_cache = None
        if self.x[0].size * self.n <= 64 << 20:  # mini: all in memory as float32
            self.dense_cache = np.ascontiguousarray(self.x[self.rows], np.float32)

    def get(self, idx):
        """Images idx (dataset indices) as float32 (n, C, S, S)."""
        idx = np.asarray(idx, np.int64)
        if self.dense_cache is not None:
            return self.dense_cache[idx]
        return np.stack([np.asarray(self.x[self.rows[i]], np.float32) for i in idx])


def random_images(rng, cj, n):
    """Random images of the model's geometry: mini dense-ish capped counts
    (0..255, 15 % of pixels), official sparse counts (1..40 at ~600 random
    pixels plus a few hundred in one band, as a packet-size line)."""
    C, S = cj["channels"], cj["size"]
    x = np.zeros((n, C, S, S), np.float32)
    for k in range(n):
        if cj["model"] == "flowpic-mini":
            m = rng.random((C, S, S)) < 0.15
            x[k][m] = rng.integers(1, 256, int(m.sum()))
        else:
            npix = 600
            c, yy, xx = rng.integers(0, C, npix), rng.integers(0, S, npix), rng.integers(0, S, npix)
            x[k][c, yy, xx] = rng.integers(1, 41, npix)
            row = rng.integers(0, S)
            cols = rng.integers(0, S, 300)
            x[k][0, row, cols] += rng.integers(1, 5, 300)
    return x


# ------------------------------------------------------------------ parity

def torch_step(model, x, y, scale, masks):
    model.zero_grad(set_to_none=True)
    logits = model(x, masks)
    loss = F.cross_entropy(logits, y, ignore_index=-1, reduction="sum") * scale
    loss.backward()
    probs = torch.softmax(logits, 1).detach().numpy()
    return float(loss.detach()), probs, {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}


def cuflow_step(L, cfg, table, flat, batch, dtype, scale, training):
    n = batch.n
    T = ct.c_float if dtype == np.float32 else ct.c_double
    fn = L.cf_flowpic_cnn_step_f32 if dtype == np.float32 else L.cf_flowpic_cnn_step_f64
    params = np.ascontiguousarray(flat, dtype=dtype)
    grad = np.zeros_like(params)
    probs = np.zeros((n, cfg.classes), dtype=dtype)
    work = np.full(L.cf_flowpic_cnn_work_elems(ct.byref(cfg), n), np.nan, dtype=dtype)
    loss = fn(ct.byref(cfg), ptr(params, T), ct.byref(batch.s), 0, n, scale, training, ptr(probs, T), ptr(grad, T),
              ptr(work, T))
    return loss, probs, {name: grad[off:off + cnt].reshape(dims) for name, dims, off, cnt in table}


def compare_batch(L, cfg, cj, table, model32, flat, imgs, labels, seeds):
    """Every precision x training case on one batch: torch vs
    cf_flowpic_cnn_step. For float32, also both float32 results against
    torch's float64 (the reference both float64 runs agree on): a ReLU input
    within rounding of 0 can take the other side of the kink in one float32
    run and drop that unit's gradient, which no implementation controls."""
    batch = Batch(L, cfg, imgs, labels, seeds)
    nl = int((np.asarray(labels) >= 0).sum())
    scale = 1.0 / max(nl, 1)
    mc, mf = cuflow_masks(cj, model32.shapes, seeds)
    model64 = copy.deepcopy(model32).double()
    y = torch.from_numpy(np.asarray(labels, np.int64))
    res = {}
    for training in (0, 1):
        ref64 = None
        for tag, dtype, m, tdt in (("f64", np.float64, model64, torch.float64),
                                   ("f32", np.float32, model32, torch.float32)):
            x = torch.from_numpy(np.ascontiguousarray(imgs)).to(tdt)
            masks = (torch.from_numpy(mc).to(tdt), torch.from_numpy(mf).to(tdt)) if training else None
            m.eval()
            tl, tp, tg = torch_step(m, x, y, scale, masks)
            cl, cp, cg = cuflow_step(L, cfg, table, flat, batch, dtype, scale, training)
            gr = {n: rel(cg[n], tg[n]) for n in tg}
            worst = max(gr, key=gr.get)
            r = res[f"{tag} training {training}"] = {
                "loss_torch": tl, "loss_cuflow": cl, "loss_rel": abs(cl - tl) / abs(tl), "probs_rel": rel(cp, tp),
                "probs_max_abs": float(np.max(np.abs(cp - tp))), "grad_rel_max": gr[worst],
                "grad_rel_worst_tensor": worst, "grad_rel": gr}
            if tag == "f64":
                ref64 = tg
            else:
                r["cuflow_vs_torch64_grad_rel_max"] = max(rel(cg[n], ref64[n]) for n in tg)
                r["torch32_vs_torch64_grad_rel_max"] = max(rel(tg[n], ref64[n]) for n in tg)
    return res


def model_forward_cuflow(L, model_dir, imgs, labels, threads):
    m = ct.c_void_p()
    err = ct.create_string_buffer(1024)
    if L.cf_model_load(model_dir.encode(), ct.byref(m), err) != 0:
        raise RuntimeError("cf_model_load: " + err.value.decode())
    try:
        cfg = L.cf_model_flowpic_config(m).contents
        b = Batch(L, cfg, imgs, labels)
        pr = np.zeros((len(imgs), cfg.classes), np.float32)
        if L.cf_model_forward_flowpic(m, ct.byref(b.s), threads, ptr(pr, ct.c_float), err) != 0:
            raise RuntimeError("cf_model_forward_flowpic: " + err.value.decode())
    finally:
        L.cf_model_free(m)
    return pr


def parity_variant(L, v, data, rng, threads):
    """Initial and trained weights x real and random images."""
    cj = json.load(open(os.path.join(v["model"], "config.json")))
    cfg = cfg_from_json(cj)
    table = param_table(L, cfg)
    total = L.cf_flowpic_cnn_param_count(ct.byref(cfg))
    out = {"param_count": int(total), "config": {k: cj[k] for k in ("channels", "size", "classes", "same_padding",
                                                                  "pad_sym")}}
    probe = FlowPicCNN(cj)
    cs = c_shapes(L, cfg)
    out["pads_cuflow"] = {"pad1": cs["pad1"], "pad2": cs["pad2"], "flat": cs["flat"]}
    out["pads_torch"] = {"pad1": probe.shapes["pad1"], "pad2": probe.shapes["pad2"], "flat": probe.shapes["flat"]}
    out["pads_agree"] = (tuple(cs["pad1"]) == tuple(probe.shapes["pad1"]) and
                         tuple(cs["pad2"]) == tuple(probe.shapes["pad2"]) and cs["flat"] == probe.shapes["flat"])
    out["param_names_agree"] = [t[0] for t in table] == [n for n, _ in probe.named_parameters()]
    n = v["parity_n"]
    real_idx = np.arange(min(n, data.n))
    inputs = {"real": (data.get(real_idx), data.y[real_idx].copy()),
              "random": (random_images(rng, cj, n), rng.integers(0, cj["classes"], n))}
    inputs["random"][1][n // 2] = -1  # an unlabelled sample: left out of the loss
    seeds = rng.integers(0, 2 ** 63, n, dtype=np.uint64)
    for wname, wdir in (("initial", v["export"]), ("trained", v["model"])):
        model = FlowPicCNN(cj)
        model.load_state_dict(load_file(os.path.join(wdir, "model.safetensors")), strict=True)
        flat = flat_from_state(model.state_dict(), table, total)
        for iname, (imgs, labels) in inputs.items():
            r = compare_batch(L, cfg, cj, table, model, flat, imgs, labels, seeds[:len(imgs)])
            cp = model_forward_cuflow(L, wdir, imgs, labels, threads)
            model.eval()
            with torch.no_grad():
                tp = torch.softmax(model(torch.from_numpy(np.ascontiguousarray(imgs))), 1).numpy()
            r["cf_model_forward f32"] = {"probs_rel": rel(cp, tp), "probs_max_abs": float(np.max(np.abs(cp - tp)))}
            out[f"{wname} weights, {iname} images ({len(imgs)})"] = r
    return out


# ------------------------------------------------------------------ training (torch)

class CuflowRng:
    """nn_train.c's splitmix64 state: seed * 0x2545F4914F6CDD1D + 7."""

    def __init__(self, seed):
        self.s = (seed * 0x2545F4914F6CDD1D + 7) & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.next() % i
            a[i - 1], a[j] = a[j], a[i - 1]


def cuflow_split(n, seed, test_fraction, val_fraction=0.2):
    """nn_split: one Fisher-Yates of all samples; test first, then validation;
    returns (test, val, train, rng state for the epochs' shuffles)."""
    r = CuflowRng(seed)
    p = list(range(n))
    r.shuffle(p)
    nt, nv = int(test_fraction * n), int(val_fraction * n)
    return np.array(p[:nt]), np.array(p[nt:nt + nv]), list(p[nt + nv:]), r


def seed_base(seed, ep):
    return ((seed + 1) * 0x9E3779B97F4A7C15 + ep * 0xD1B54A32D192ED03) & M64


def eval_split(model, data, idx, bs):
    model.eval()
    tot, corr, preds = 0.0, 0, []
    with torch.inference_mode():
        for at in range(0, len(idx), bs):
            i = idx[at:at + bs]
            lg = model(torch.from_numpy(data.get(i)))
            y = torch.from_numpy(data.y[i])
            tot += float(F.cross_entropy(lg, y, reduction="sum"))
            p = lg.argmax(1)
            corr += int((p == y).sum())
            preds.append(p.numpy())
    return tot / len(idx), corr / len(idx), np.concatenate(preds)


def train_torch(cj, init_sd, data, split, epochs, batch, seed, cuflow_order=None, quiet=False):
    """Adam 1e-3 (eps 1e-8), ReduceLROnPlateau(min, 0.2, patience 5, rel 1e-4,
    min_lr 1e-5) on the validation loss, best-validation weights kept.
    cuflow_order: rows of train_order.npy (positions into the split's train
    list): cuflow's batches, with cuflow's dropout masks (seed per sample and
    epoch); else torch.randperm and torch's own dropout."""
    test, val, train0 = split
    train0 = np.asarray(train0)
    model = FlowPicCNN(cj)
    model.load_state_dict(init_sd, strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.2, patience=5, threshold=1e-4,
                                                       threshold_mode="rel", min_lr=1e-5)
    g = torch.Generator().manual_seed(seed)
    n = len(train0)
    best, best_sd, hist = float("inf"), None, []
    for ep in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        if cuflow_order is not None:
            order = train0[cuflow_order[ep - 1]]
        else:
            order = train0[torch.randperm(n, generator=g).numpy()]
        lsum, corr = 0.0, 0
        for at in range(0, n, batch):
            idx = order[at:at + batch]
            x = torch.from_numpy(data.get(idx))
            y = torch.from_numpy(data.y[idx])
            masks = None
            if cuflow_order is not None:
                sb = seed_base(seed, ep)
                mc, mf = cuflow_masks(cj, model.shapes, [(sb + int(i)) & M64 for i in idx])
                masks = (torch.from_numpy(mc).float(), torch.from_numpy(mf).float())
            opt.zero_grad(set_to_none=True)
            lg = model(x, masks)
            loss = F.cross_entropy(lg, y)
            loss.backward()
            opt.step()
            lsum += loss.item() * len(idx)
            corr += int((lg.argmax(1) == y).sum())
        secs = time.perf_counter() - t0
        vl, vacc, _ = eval_split(model, data, val, batch)
        lr = opt.param_groups[0]["lr"]
        mark = vl < best
        if mark:
            best = vl
            best_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
        sched.step(vl)
        hist.append({"epoch": ep, "loss": lsum / n, "accuracy": corr / n, "val_loss": vl, "val_accuracy": vacc,
                     "lr": lr, "train_seconds": secs, "train_images_per_s": n / secs, "best": bool(mark)})
        if not quiet:
            print(f"    torch epoch {ep:3d}  loss {lsum / n:.6f}  acc {corr / n:.4f}  val_loss {vl:.6f}  "
                  f"val_acc {vacc:.4f}  {n / secs:6.0f} images/s {'*' if mark else ''}", flush=True)
    model.load_state_dict(best_sd)
    return model, hist


def per_class_f1(y, pred, names):
    """F1 per class (0 where a class is neither true nor predicted)."""
    out = {}
    for k, n in enumerate(names):
        tp = int(np.sum((pred == k) & (y == k)))
        fp_, fn = int(np.sum((pred == k) & (y != k))), int(np.sum((pred != k) & (y == k)))
        out[n] = 2 * tp / (2 * tp + fp_ + fn) if tp + fp_ + fn else 0.0
    return out


def train_compare(v, data, a):
    cj = json.load(open(os.path.join(v["model"], "config.json")))
    init_sd = load_file(os.path.join(v["export"], "model.safetensors"))
    own_test = v["fp_test"] is not None
    split = cuflow_split(data.n, a.seed, 0.0 if own_test else a.test_fraction)
    test, val, train0, rs = split
    tdata = v["test_data"]
    if own_test:  # the held-out set of its own, every image once
        test = np.arange(tdata.n)
        split = (test,) + split[1:]
    rows = np.load(os.path.join(v["export"], "train_order.npy"))
    # replay cuflow's per-epoch shuffles (in place on the train list) and check them against the file
    pos = {s: i for i, s in enumerate(train0)}
    cur = list(train0)
    same = 0
    for r in rows:
        rs.shuffle(cur)
        same += int(np.array_equal(np.array([pos[s] for s in cur]), r))
    out = {"split": {"train": len(train0), "val": len(val), "test": len(test)},
           "replay_matches_train_order_epochs": [same, int(len(rows))]}
    mdir = v["model"]
    cm = json.load(open(os.path.join(mdir, "test", "metrics.json")))
    crows = [r.split(",") for r in open(os.path.join(mdir, "metrics.csv")).read().strip().splitlines()[1:]]
    out["cuflow"] = {"accuracy": cm["accuracy"], "macro_f1": cm.get("macro_f1"), "loss": cm.get("loss"),
                     "epochs": len(crows), "train_images_per_s": [float(r[7]) for r in crows],
                     "loss_per_epoch": [float(r[1]) for r in crows], "val_loss_per_epoch": [float(r[3]) for r in crows]}
    # cuflow's trained model scored by torch on the replayed test split
    tm = FlowPicCNN(cj)
    tm.load_state_dict(load_file(os.path.join(mdir, "model.safetensors")), strict=True)
    _, acc_c, pred_c = eval_split(tm, tdata, test, v["batch"])
    out["cuflow"]["per_class_f1"] = {c["name"]: c["f1"] for c in cm.get("classes", [])}
    out["test_images"] = int(len(test))
    out["cuflow_model_scored_by_torch_accuracy"] = acc_c
    torch.set_num_threads(a.torch_train_threads or a.threads)
    own = a.train_compare if a.own_shuffle is None else a.own_shuffle
    runs = [("cuflow_order", rows)] + ([("own_shuffle", None)] if v["name"] in own.split(",") else [])
    for name, order in runs:
        print(f"  [{v['name']}] torch training, {'cuflow' if order is not None else 'own'} batches and dropout, "
              f"{len(rows)} epochs", flush=True)
        t0 = time.time()
        torch.manual_seed(a.seed)  # torch's own dropout draws
        model, hist = train_torch(cj, init_sd, data, split[:3], len(rows), v["batch"], a.seed, order)
        tl, tacc, pred = eval_split(model, tdata, test, v["batch"])
        r = out[name] = {"accuracy": tacc, "loss": tl, "accuracy_diff_points": 100 * (tacc - cm["accuracy"]),
                         "per_class_f1": per_class_f1(tdata.y[test], pred, cj["class_names"]),
                         "macro_f1": None,
                         "prediction_agreement": float(np.mean(pred == pred_c)), "wall_s": time.time() - t0,
                         "history": hist}
        r["macro_f1"] = float(np.mean(list(r["per_class_f1"].values())))
        r["epoch_loss_abs_diff"] = [abs(h["loss"] - x) for h, x in zip(hist, out["cuflow"]["loss_per_epoch"])]
        r["epoch_val_loss_abs_diff"] = [abs(h["val_loss"] - x) for h, x in zip(hist, out["cuflow"]["val_loss_per_epoch"])]
        print(f"    test accuracy {tacc:.4f} (cuflow {cm['accuracy']:.4f}, {r['accuracy_diff_points']:+.2f} pts); "
              f"|epoch loss - metrics.csv| first {r['epoch_loss_abs_diff'][0]:.1e} max "
              f"{max(r['epoch_loss_abs_diff']):.1e}", flush=True)
    torch.set_num_threads(a.threads)
    out["torch_threads"] = a.torch_train_threads or a.threads
    return out


# ------------------------------------------------------------------ speed

def speed_variant(L, v, data, a, N):
    """float32, N threads for both: inference (eval, no dropout) and training
    (dropout on, + Adam) images/s over prebuilt batches of v['batch'];
    alternating rounds, best and median kept."""
    torch.set_num_threads(N)
    cj = json.load(open(os.path.join(v["model"], "config.json")))
    B = v["batch"]
    nb = v["speed_batches"]
    idx = np.arange(nb * B) % data.n
    rng = np.random.default_rng(a.seed + 7)
    imgs = [data.get(idx[k * B:(k + 1) * B]) for k in range(nb)]
    labs = [data.y[idx[k * B:(k + 1) * B]] for k in range(nb)]
    tx = [torch.from_numpy(x) for x in imgs]
    ty = [torch.from_numpy(y) for y in labs]
    # cuflow: the export's weights through cf_model_load, batches prebuilt
    err = ct.create_string_buffer(1024)
    cm = ct.c_void_p()
    if L.cf_model_load(v["export"].encode(), ct.byref(cm), err) != 0:
        raise RuntimeError(err.value.decode())
    cfg = L.cf_model_flowpic_config(cm).contents
    cb = [Batch(L, cfg, x, y, rng.integers(0, 2 ** 63, len(y), dtype=np.uint64)) for x, y in zip(imgs, labs)]
    total = L.cf_flowpic_cnn_param_count(ct.byref(cfg))
    params = np.ctypeslib.as_array(L.cf_model_params(cm), shape=(total,))
    grad = np.zeros(total, np.float32)
    am = np.zeros(total, np.float32)
    av = np.zeros(total, np.float32)
    probs = np.zeros((B, cfg.classes), np.float32)
    step = [0]

    def cuflow_train():
        t0 = time.perf_counter()
        for b in cb:
            loss = ct.c_double()
            if L.nn_model_run_batch(cm, ct.addressof(b.s), b.n, N, 1.0 / b.n, 1, ptr(probs, ct.c_float),
                                    ptr(grad, ct.c_float), ct.byref(loss)) != 0:
                raise RuntimeError("nn_model_run_batch failed")
            step[0] += 1
            bc1, bc2 = 1 - 0.9 ** step[0], 1 - 0.999 ** step[0]
            am[:] = 0.9 * am + 0.1 * grad
            av[:] = 0.999 * av + 0.001 * grad * grad
            params[:] -= (1e-3 / bc1) * am / (np.sqrt(av / bc2) + 1e-8)
        return nb * B / (time.perf_counter() - t0)

    def cuflow_infer():
        t0 = time.perf_counter()
        for b in cb:
            if L.cf_model_forward_flowpic(cm, ct.byref(b.s), N, ptr(probs, ct.c_float), err) != 0:
                raise RuntimeError(err.value.decode())
        return nb * B / (time.perf_counter() - t0)

    tm = FlowPicCNN(cj)
    tm.load_state_dict(load_file(os.path.join(v["export"], "model.safetensors")), strict=True)
    opt = torch.optim.Adam(tm.parameters(), lr=1e-3, eps=1e-8)

    def torch_train():
        tm.train()
        t0 = time.perf_counter()
        for x, y in zip(tx, ty):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(tm(x), y).backward()
            opt.step()
        return nb * B / (time.perf_counter() - t0)

    def torch_infer():
        tm.eval()
        t0 = time.perf_counter()
        with torch.inference_mode():
            for x in tx:
                torch.softmax(tm(x), 1)
        return nb * B / (time.perf_counter() - t0)

    # warm-up (one batch each)
    with torch.inference_mode():
        tm.eval()
        tm(tx[0])
    L.cf_model_forward_flowpic(cm, ct.byref(cb[0].s), N, ptr(probs, ct.c_float), err)
    res = {"train_torch": [], "train_cuflow": [], "infer_torch": [], "infer_cuflow": []}
    for r in range(a.speed_rounds):
        for k, f in (("infer_torch", torch_infer), ("infer_cuflow", cuflow_infer), ("train_torch", torch_train),
                     ("train_cuflow", cuflow_train)):
            res[k].append(f())
        print(f"  [{v['name']}] {N} thread(s), round {r + 1}: infer torch {res['infer_torch'][-1]:.1f} cuflow "
              f"{res['infer_cuflow'][-1]:.1f}; train torch {res['train_torch'][-1]:.1f} cuflow "
              f"{res['train_cuflow'][-1]:.1f} images/s", flush=True)
    L.cf_model_free(cm)
    out = {"threads": N, "batch": B, "batches": nb, "rounds": res}
    for k, vals in res.items():
        out[k + "_best"] = max(vals)
        out[k + "_median"] = statistics.median(vals)
    out["infer_ratio"] = out["infer_cuflow_best"] / out["infer_torch_best"]
    out["train_ratio"] = out["train_cuflow_best"] / out["train_torch_best"]
    return out


# ------------------------------------------------------------------ main

def run(cmd, log):
    print("    " + " ".join(cmd), flush=True)
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        sys.exit(f"failed ({rc}): {' '.join(cmd)}; see {log}")


def main():
    a = ARGS
    t_start = time.time()
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    work = os.path.abspath(a.work)
    cuflow = os.path.abspath(a.cuflow)
    J = {"args": vars(a), "torch": torch.__version__, "threads": a.threads, "structs_from": STRUCTS_FROM}
    print(f"torch {torch.__version__}, {a.threads} threads, work {work}; ctypes structs: {STRUCTS_FROM}", flush=True)

    # 0. images
    caps = [os.path.abspath(c) for c in a.captures]
    off_args = a.official_flowpic_args
    if not caps:
        for name, extra in (("a", []), ("b", ["--frame-size", "200"])):
            d = os.path.join(work, "captures", name)
            os.makedirs(d, exist_ok=True)
            p = os.path.join(d, name + ".pcap")
            if not (a.reuse and os.path.exists(p)):
                run([cuflow, "synth", "-o", p, "--flows", "400", "--duration", "30", "--seed", str(a.seed + ord(name)),
                     "-q"] + extra, os.path.join(work, "synth.log"))
            caps.append(d)
        if off_args is None:
            off_args = "--min-span -1 --window 15"
    off_args = (off_args or "").split()
    fp = {"mini": os.path.join(work, "fp_mini"), "official": os.path.join(work, "fp_official")}
    test_caps = [os.path.abspath(c) for c in a.test_captures]
    fp_test = {p: d + "_test" for p, d in fp.items()} if test_caps else {}
    print("[0] images", flush=True)
    for preset, d in list(fp.items()) + [(p + " test", d) for p, d in fp_test.items()]:
        pr = preset.split()[0]
        if not (a.reuse and os.path.exists(os.path.join(d, "meta.json"))):
            run([cuflow, "flowpic", "--preset", pr, "--label-from-dir"] + (off_args if pr == "official" else [])
                + (test_caps if preset.endswith("test") else caps) + ["-o", d, "-q"],
                os.path.join(work, f"flowpic_{preset.replace(' ', '_')}.log"))
    J["images"] = {p: json.load(open(os.path.join(d, "meta.json")))["shape"] for p, d in fp.items()}
    if fp_test:
        J["test_images"] = {p: json.load(open(os.path.join(d, "meta.json")))["shape"] for p, d in fp_test.items()}

    # 1. cuflow's models
    variants = []
    tc_set = set(x for x in a.train_compare.split(",") if x)
    for name, model, preset, pad in (("official", "flowpic", "official", None), ("official-pad3", "flowpic", "official", 3),
                                     ("mini", "flowpic-mini", "mini", None), ("mini-pad3", "flowpic-mini", "mini", 3)):
        off = preset == "official"
        v = {"name": name, "cuflow_model": model, "fp": fp[preset], "fp_test": fp_test.get(preset), "pad": pad,
             "batch": a.batch_official if off else a.batch_mini,
             "epochs": (a.epochs_official if off else a.epochs_mini) if name in tc_set else 1,
             "parity_n": a.parity_official if off else a.parity_mini,
             "speed_batches": a.speed_batches_official if off else a.speed_batches_mini,
             "model": os.path.join(work, name, "model"), "export": os.path.join(work, name, "export")}
        variants.append(v)
    print("[1] cuflow train", flush=True)
    J["cuflow_train"] = {}
    for v in variants:
        if a.reuse and os.path.exists(os.path.join(v["model"], "test", "metrics.json")):
            continue
        cmd = [cuflow, "train", "--model", v["cuflow_model"], v["fp"], "-o", v["model"], "--export", v["export"],
               "--epochs", str(v["epochs"]), "--batch", str(v["batch"]), "--seed", str(a.seed),
               "--threads", str(a.threads), "--quiet"]
        cmd += ["--test-data", v["fp_test"]] if v["fp_test"] else ["--test-fraction", str(a.test_fraction)]
        if v["pad"] is not None:
            cmd += ["--pad", str(v["pad"])]
        t0 = time.time()
        run(cmd, os.path.join(work, v["name"] + "_train.log"))
        J["cuflow_train"][v["name"]] = {"cmd": cmd, "wall_s": time.time() - t0}

    L = load_lib(a.lib)
    datas = {}
    for v in variants:
        if v["fp"] not in datas:
            cn = json.load(open(os.path.join(v["model"], "config.json")))["class_names"]
            datas[v["fp"]] = Images(v["fp"], cn)
            if v["fp_test"]:
                datas[v["fp_test"]] = Images(v["fp_test"], cn)
        v["data"] = datas[v["fp"]]
        v["test_data"] = datas[v["fp_test"]] if v["fp_test"] else v["data"]

    # 2. parity
    print("[2] parity (torch vs cf_flowpic_cnn_step: probabilities, loss, every gradient)", flush=True)
    rng = np.random.default_rng(a.seed)
    J["parity"] = {}
    for v in variants:
        t0 = time.time()
        J["parity"][v["name"]] = parity_variant(L, v, v["data"], rng, a.threads)
        print(f"  {v['name']}: {time.time() - t0:.0f} s", flush=True)
    J["parity_wall_s"] = time.time() - t_start
    with open(os.path.join(work, "judge.json"), "w") as f:
        json.dump(J, f, indent=1, default=float)
    summary_parity(J)

    # 3. speed
    if not a.skip_speed:
        print("[3] speed (float32, images/s)", flush=True)
        J["speed"] = {}
        tl = [int(x) for x in a.speed_threads.split(",") if x] or sorted({a.threads, 1}, reverse=True)
        for v in variants:
            if v["pad"] is None:
                s = J["speed"][v["name"]] = {"by_threads": {}}
                for N in tl:
                    s["by_threads"][str(N)] = speed_variant(L, v, v["data"], a, N)
                m = s["by_threads"][str(tl[0])]
                for what in ("infer", "train"):
                    best_t = max(r[what + "_torch_best"] for r in s["by_threads"].values())
                    s[what + "_ratio_vs_best_torch"] = m[what + "_cuflow_best"] / best_t
        torch.set_num_threads(a.threads)
        with open(os.path.join(work, "judge.json"), "w") as f:
            json.dump(J, f, indent=1, default=float)

    # 4. training comparison
    J["train_compare"] = {}
    for v in variants:
        if v["name"] in tc_set:
            print(f"[4] training comparison: {v['name']}", flush=True)
            J["train_compare"][v["name"]] = train_compare(v, v["data"], a)
            with open(os.path.join(work, "judge.json"), "w") as f:
                json.dump(J, f, indent=1, default=float)
    J["wall_s"] = time.time() - t_start
    with open(os.path.join(work, "judge.json"), "w") as f:
        json.dump(J, f, indent=1, default=float)
    summary(J)


def summary_parity(J):
    print("\nparity: norm-wise relative error ||cuflow - torch|| / ||torch|| (loss: |difference| / |torch|)")
    print(f"  {'model':14s} {'case':46s} {'loss':>9s} {'probs':>9s} {'grad max':>9s}  worst gradient")
    for name, p in J["parity"].items():
        print(f"  {name:14s} pads cuflow {p['pads_cuflow']['pad1']}/{p['pads_cuflow']['pad2']}, torch "
              f"{p['pads_torch']['pad1']}/{p['pads_torch']['pad2']}: {'agree' if p['pads_agree'] else 'DIFFER'}; "
              f"{p['param_count']} parameters, names {'agree' if p['param_names_agree'] else 'DIFFER'}")
        for case, r in p.items():
            if not isinstance(r, dict) or "f32 training 0" not in r:
                continue
            for k, x in r.items():
                if "grad_rel_max" in x:
                    vs = (f"  (vs torch f64: cuflow {x['cuflow_vs_torch64_grad_rel_max']:.2e}, torch "
                          f"{x['torch32_vs_torch64_grad_rel_max']:.2e})" if "cuflow_vs_torch64_grad_rel_max" in x else "")
                    print(f"  {'':14s} {case + ', ' + k:46s} {x['loss_rel']:9.2e} {x['probs_rel']:9.2e} "
                          f"{x['grad_rel_max']:9.2e}  {x['grad_rel_worst_tensor']}{vs}")
                else:
                    print(f"  {'':14s} {case + ', ' + k:46s} {'':9s} {x['probs_rel']:9.2e}")


def summary(J):
    print("\n==================== FlowPic judge summary ====================")
    print(f"torch {J['torch']}, threads {J['threads']}, images {J['images']}")
    print("\nparity, worst per model and precision (over weights x inputs x training 0/1):")
    print(f"  {'model':14s} {'prec':5s} {'loss':>9s} {'probs':>9s} {'grad max':>9s} {'model_fwd':>9s}   float32 "
          f"gradients against torch float64: cuflow / torch")
    for name, p in J["parity"].items():
        for tag in ("f32", "f64"):
            w = {"loss_rel": 0.0, "probs_rel": 0.0, "grad_rel_max": 0.0}
            if tag == "f32":
                w.update({"cuflow_vs_torch64_grad_rel_max": 0.0, "torch32_vs_torch64_grad_rel_max": 0.0})
            fw = 0.0
            for case, r in p.items():
                if not isinstance(r, dict) or "f32 training 0" not in r:
                    continue
                for t in (0, 1):
                    for k in w:
                        w[k] = max(w[k], r[f"{tag} training {t}"][k])
                fw = max(fw, r["cf_model_forward f32"]["probs_rel"])
            extra = (f"   {w['cuflow_vs_torch64_grad_rel_max']:9.2e} / {w['torch32_vs_torch64_grad_rel_max']:9.2e}"
                     if tag == "f32" else "")
            print(f"  {name:14s} {tag:5s} {w['loss_rel']:9.2e} {w['probs_rel']:9.2e} {w['grad_rel_max']:9.2e} "
                  f"{fw if tag == 'f32' else float('nan'):9.2e}{extra}")
    if "speed" in J:
        print("\nspeed (images/s, float32, best of rounds, median in brackets; cuflow/torch)")
        for name, sv in J["speed"].items():
            for N, s in sv["by_threads"].items():
                for what in ("infer", "train"):
                    print(f"  {name:10s} {N:>2s} thr {what:6s} batch {s['batch']:3d}  torch "
                          f"{s[what + '_torch_best']:8.1f} ({s[what + '_torch_median']:8.1f})  cuflow "
                          f"{s[what + '_cuflow_best']:8.1f} ({s[what + '_cuflow_median']:8.1f})  {s[what + '_ratio']:6.2f}x")
            print(f"  {name:10s} cuflow at the first thread count vs torch at its best: inference "
                  f"{sv['infer_ratio_vs_best_torch']:.2f}x, training {sv['train_ratio_vs_best_torch']:.2f}x")
    for name, t in J.get("train_compare", {}).items():
        c = t["cuflow"]
        print(f"\ntraining {name}: split {t['split']}, replay = train_order.npy in "
              f"{t['replay_matches_train_order_epochs'][0]}/{t['replay_matches_train_order_epochs'][1]} epochs; "
              f"cuflow test accuracy {c['accuracy']:.4f} (scored by torch: "
              f"{t['cuflow_model_scored_by_torch_accuracy']:.4f}), {c['epochs']} epochs, "
              f"metrics.csv median {statistics.median(c['train_images_per_s']):.1f} images/s")
        if c.get("per_class_f1"):
            print(f"  cuflow F1 per class: " + ", ".join(f"{k} {x:.4f}" for k, x in c["per_class_f1"].items())
                  + f"; macro {c['macro_f1']:.4f} ({t.get('test_images', '?')} test images)")
        for k in ("cuflow_order", "own_shuffle"):
            if k in t:
                r = t[k]
                print(f"  torch {k:12s}: test accuracy {r['accuracy']:.4f} ({r['accuracy_diff_points']:+.2f} pts), "
                      f"agreement {100 * r['prediction_agreement']:.1f}%, |epoch loss - cuflow| first "
                      f"{r['epoch_loss_abs_diff'][0]:.1e} max {max(r['epoch_loss_abs_diff']):.1e}, "
                      f"median {statistics.median(h['train_images_per_s'] for h in r['history']):.1f} images/s")
                print(f"    F1 per class: " + ", ".join(f"{k} {x:.4f}" for k, x in r["per_class_f1"].items())
                      + f"; macro {r['macro_f1']:.4f}")
    print(f"\ntotal {J['wall_s']:.0f} s")
    print("===============================================================")


if __name__ == "__main__":
    main()

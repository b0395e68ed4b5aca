#!/usr/bin/env python3
"""cuflow.torch against the command line (PythonPackage.TorchDatasetAndModels).

  python_torch_check.py --cuflow BIN WORKDIR

1. FlowDataset over captures (three inputs in two class directories, and one
   input alone), through a DataLoader with 2 workers, single rows and
   batches: every (input, row) exactly once, x equal to `cuflow extract`'s
   features.npy of that input (float32 bits), seq/seq_length to its
   sequences.npy/lengths.npy, y to the directory's class; continuous=True
   and an extract directory cut in shards the same way.
2. load_model: a flowpic-mini and an official FlowPic model trained by
   `cuflow train` give, through PyTorch, the class probabilities `cuflow
   predict` writes for the same images (float32, 1e-5); a nested model gives
   the test split's loss and accuracy of its test/metrics.json on the
   arrays `--export` wrote.
3. progress=callable is called, its last call counts every input byte.
Prints "python torch: ..." and exits 0 when everything holds.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
import torch

import cuflow
from cuflow.torch import FlowDataset, load_model

checks = 0


def ok(cond, what):
    global checks
    if not cond:
        sys.exit(f"python torch: FAILED: {what}")
    checks += 1


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"python torch: FAILED: {' '.join(cmd)}\n{r.stdout}")
    return r.stdout


def collect(ds, workers):
    """Every row the DataLoader yields (single rows or the dataset's own
    batches), as {(input, row): {key: value}}, and how many came twice."""
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers,
                                     **({"multiprocessing_context": "fork"} if workers else {}))
    seen, dup = {}, 0
    for item in dl:
        if item["row"].dim() == 0:
            item = {k: v.unsqueeze(0) for k, v in item.items()}
        for i in range(len(item["row"])):
            key = (int(item["input"][i]), int(item["row"][i]))
            dup += key in seen
            seen[key] = {k: v[i] for k, v in item.items()}
    return seen, dup


def check_captures(bin_, work):
    caps = [os.path.join(work, "caps", "chat", "a.pcap"), os.path.join(work, "caps", "chat", "b.pcap"),
            os.path.join(work, "caps", "video", "c.pcap")]
    for i, c in enumerate(caps):
        os.makedirs(os.path.dirname(c), exist_ok=True)
        run([bin_, "synth", "-q", "--flows", str(60 + 40 * i), "--seed", str(11 + i), "-o", c])
    ref = []
    for i, c in enumerate(caps):
        out = os.path.join(work, f"x{i}")
        run([bin_, "extract", "-q", c, "-o", out])
        ref.append({"x": np.load(os.path.join(out, "features.npy")),
                    "seq": np.load(os.path.join(out, "sequences.npy")),
                    "len": np.load(os.path.join(out, "lengths.npy"))})
    want = {(i, r) for i in range(3) for r in range(len(ref[i]["x"]))}
    classes = {0: 0, 1: 0, 2: 1}
    for workers, bs in ((2, None), (2, 16), (0, None)):
        ds = FlowDataset(os.path.join(work, "caps"), label="dir", sequences=True, batch_size=bs)
        ok(ds.label_names == ["chat", "video"], f"label names {ds.label_names}")
        seen, dup = collect(ds, workers)
        ok(dup == 0, f"{workers} workers, batch {bs}: {dup} rows twice")
        ok(set(seen) == want, f"{workers} workers, batch {bs}: rows {len(seen)} of {len(want)}")
        if True:
            bad = 0
            for (i, r), it in seen.items():
                bad += not np.array_equal(it["x"].numpy(), ref[i]["x"][r])
                bad += not np.array_equal(it["seq"].numpy(), ref[i]["seq"][r])
                bad += int(it["seq_length"]) != int(ref[i]["len"][r]) or int(it["y"]) != classes[i]
            ok(bad == 0, f"{workers} workers: {bad} values differ from extract's arrays")
    # batches: the rows of every batch come back, with their values
    ds = FlowDataset(os.path.join(work, "caps"), batch_size=16)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
    got, sizes = {}, []
    for b in dl:
        sizes.append(len(b["row"]))
        for k in range(len(b["row"])):
            key = (int(b["input"][k]), int(b["row"][k]))
            ok(key not in got, f"batched: {key} twice")
            got[key] = b["x"][k].numpy()
    ok(set(got) == want and all(np.array_equal(v, ref[i]["x"][r]) for (i, r), v in got.items()),
       "batched rows or values differ")
    ok(max(sizes) == 16 and sum(s < 16 for s in sizes) <= 2, f"batch sizes {sizes}")
    # one input, two workers: rows dealt by number
    one = FlowDataset(caps[2])
    seen, dup = collect(one, 2)
    ok(dup == 0 and set(seen) == {(0, r) for r in range(len(ref[2]["x"]))}, "one input: rows not once each")
    # continuous: the three files as one stream (the inputs' own order here: their first packets)
    cont = FlowDataset(caps, continuous=True)
    seen, dup = collect(cont, 2)
    whole = cuflow.features(caps, continuous=True)
    ok(dup == 0 and set(seen) == {(0, r) for r in range(whole.num_rows)}, "continuous: rows not once each")
    # an extract directory in shards
    xd = os.path.join(work, "xshards")
    run([bin_, "extract", "-q", "--label-from-dir", os.path.join(work, "caps"), "-o", xd, "--shard-rows", "37"])
    feats = np.concatenate([np.load(os.path.join(xd, f)) for f in sorted(os.listdir(xd)) if f.startswith("features-")])
    labs = np.concatenate([np.load(os.path.join(xd, f)) for f in sorted(os.listdir(xd)) if f.startswith("labels-")])
    for bs in (None, 10):
        ds = FlowDataset(xd, label="labels", sequences=True, batch_size=bs)
        dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
        rows = {}
        for b in dl:
            r = b["row"].reshape(-1)
            x = b["x"].reshape(len(r), -1)
            y = b["y"].reshape(-1)
            for k in range(len(r)):
                ok(int(r[k]) not in rows, f"extract dir: row {int(r[k])} twice")
                rows[int(r[k])] = (x[k].numpy(), int(y[k]))
        ok(set(rows) == set(range(len(feats))), f"extract dir: {len(rows)} rows of {len(feats)}")
        ok(all(np.array_equal(v[0], feats[r]) and v[1] == labs[r] for r, v in rows.items()),
           "extract dir: values differ")
    ok(ds.label_names == ["chat", "video"], f"extract dir label names {ds.label_names}")
    # progress
    ps = []
    t = cuflow.flows(caps, progress=ps.append)
    ok(len(ps) >= 1 and ps[-1].files_done == 3 and ps[-1].bytes_done == sum(os.path.getsize(c) for c in caps)
       and t.num_rows > 0, f"progress {ps[-1:] if ps else ps}")
    return len(want)


def predict_csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    head = rows[0]
    pcols = [i for i, h in enumerate(head) if h.startswith("p_")]
    return [h[2:] for h in (head[i] for i in pcols)], np.array([[float(r[i]) for i in pcols] for r in rows[1:]])


def long_sessions(path, sessions, size, seconds=130, gap=0.5):
    """A capture of UDP sessions of `seconds` (synth's flows are too short for
    the official preset's 60 s windows): a packet every `gap` s, every third
    one answered, sizes from `size` up."""
    import struct
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pk = []
    for s in range(sessions):
        for k in range(int(seconds / gap)):
            t = 1_700_000_000 + s * 0.013 + k * gap
            plen = size + (k * 37 + s * 11) % 200
            a, b, pa, pb = bytes([10, 0, 0, 1 + s]), bytes([10, 0, 1, 1]), 40000 + s, 5004
            if k % 3 == 2:
                a, b, pa, pb = b, a, pb, pa
            udp = struct.pack(">HHHH", pa, pb, 8 + plen, 0) + bytes(plen)
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k & 0xffff, 0, 64, 17, 0, a, b) + udp
            pk.append((t, b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip))
    pk.sort(key=lambda p: p[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, frame in pk:
            f.write(struct.pack("<IIII", int(t), int(round((t - int(t)) * 1e6)), len(frame), len(frame)) + frame)


def check_flowpic_model(bin_, work, preset, model, epochs, caps):
    fp = os.path.join(work, f"fp-{preset}")
    mdir = os.path.join(work, f"model-{model}")
    run([bin_, "flowpic", "-q", "--preset", preset, "--label-from-dir", caps, "-o", fp])
    run([bin_, "train", "--model", model, "--quiet", "--epochs", str(epochs), fp, "-o", mdir])
    run([bin_, "predict", "--quiet", mdir, fp, "-o", os.path.join(work, f"pred-{model}.csv")])
    names, want = predict_csv(os.path.join(work, f"pred-{model}.csv"))
    m = load_model(mdir)
    ok(m.classes == names, f"{model}: classes {m.classes} vs {names}")
    x = np.load(os.path.join(fp, "flowpic.npy"), mmap_mode="r")
    ok(len(x) == len(want) and len(x) > 0, f"{model}: {len(x)} images, {len(want)} predictions")
    with torch.no_grad():
        got = np.concatenate([torch.softmax(m(torch.from_numpy(np.asarray(x[i:i + 32], np.float32))), 1).numpy()
                              for i in range(0, len(x), 32)])
    err = float(np.abs(got - want).max())
    ok(err < 1e-5, f"{model}: probabilities differ by {err}")
    return len(x), err


def check_nested(bin_, work):
    mdir, exp = os.path.join(work, "model-nested"), os.path.join(work, "export")
    run([bin_, "train", "--model", "nested", "--quiet", "--epochs", "2", "--label", "dir", "--test-fraction", "0.3",
         "--export", exp, os.path.join(work, "caps"), "-o", mdir])
    m = load_model(mdir)
    fields = ["pkt", "pkt_len", "ttl_out", "id_out", "id_out_len", "ttl_in", "id_in", "id_in_len", "root", "label"]
    d = {f: torch.from_numpy(np.load(os.path.join(exp, f"test_{f}.npy"))) for f in fields}
    with torch.no_grad():
        logits = m(d)
    y = d["label"].long()
    loss = float(torch.nn.functional.cross_entropy(logits.double(), y))
    acc = float((logits.argmax(1) == y).double().mean())
    with open(os.path.join(mdir, "test", "metrics.json")) as f:
        mj = json.load(f)
    # metrics.json prints 6 decimals; the predicted counts per class are exact
    ok(abs(loss - mj["loss"]) <= 6e-7, f"nested: loss {loss} vs {mj['loss']}")
    ok(abs(acc - mj["accuracy"]) <= 6e-7, f"nested: accuracy {acc} vs {mj['accuracy']}")
    pred = logits.argmax(1)
    for k, c in enumerate(mj["classes"]):
        ok(c["name"] == m.classes[k], f"nested: class {k} {c['name']} vs {m.classes[k]}")
        ok(int((pred == k).sum()) == c["predicted"], f"nested: class {c['name']} predicted "
           f"{int((pred == k).sum())} times, cuflow {c['predicted']}")
    return len(y), loss, mj["loss"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuflow", required=True)
    ap.add_argument("work")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = check_captures(a.cuflow, a.work)
    n_mini, e_mini = check_flowpic_model(a.cuflow, a.work, "mini", "flowpic-mini", 2, os.path.join(a.work, "caps"))
    long_caps = os.path.join(a.work, "long")
    long_sessions(os.path.join(long_caps, "small", "a.pcap"), 3, 100)
    long_sessions(os.path.join(long_caps, "large", "b.pcap"), 3, 900)
    n_off, e_off = check_flowpic_model(a.cuflow, a.work, "official", "flowpic", 1, long_caps)
    n_nest, l_t, l_c = check_nested(a.cuflow, a.work)
    print(f"python torch: {checks} checks passed; FlowDataset {rows} rows once each (2 workers, rows and batches, "
          f"extract shards); flowpic-mini {n_mini} images max |dp| {e_mini:.2e}, official {n_off} images "
          f"{e_off:.2e}; nested {n_nest} test flows loss {l_t:.9g} vs {l_c:.9g}")


if __name__ == "__main__":
    main()

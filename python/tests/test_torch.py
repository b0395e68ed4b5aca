"""cuflow.torch: FlowDataset through a DataLoader with 2 workers gives every
row exactly once, with extract's values; load_model's modules give cuflow's
own probabilities and test metrics. Skips without PyTorch."""
import csv
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cuflow  # noqa: E402
from cuflow.torch import FlowDataset, load_model  # noqa: E402


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


@pytest.fixture(scope="module")
def extracted(class_captures, cli, tmp_path_factory):
    """extract's arrays of each class capture, alone."""
    _, caps = class_captures
    out = []
    for i, c in enumerate(caps):
        d = tmp_path_factory.mktemp(f"x{i}")
        cli("extract", "-q", c, "-o", d)
        out.append({k: np.load(d / f"{k}.npy") for k in ("features", "sequences", "lengths")})
    return out


@pytest.mark.parametrize("workers, batch", [(2, None), (2, 16), (0, None)])
def test_every_row_once_with_extracts_values(workers, batch, class_captures, extracted):
    root, _ = class_captures
    ds = FlowDataset(root, label="dir", sequences=True, batch_size=batch)
    assert ds.label_names == ["chat", "video"]
    seen, dup = collect(ds, workers)
    assert dup == 0
    assert set(seen) == {(i, r) for i in range(3) for r in range(len(extracted[i]["features"]))}
    classes = {0: 0, 1: 0, 2: 1}
    for (i, r), it in seen.items():
        assert np.array_equal(it["x"].numpy(), extracted[i]["features"][r])
        assert np.array_equal(it["seq"].numpy(), extracted[i]["sequences"][r])
        assert int(it["seq_length"]) == int(extracted[i]["lengths"][r]) and int(it["y"]) == classes[i]
    if batch:
        sizes = []
        for b in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork"):
            sizes.append(len(b["row"]))
        assert max(sizes) == batch and sum(s < batch for s in sizes) <= 2  # one short tail per worker


@pytest.mark.parametrize("batch", [None, 8])
def test_shuffle_buffer_keeps_every_row_and_is_seeded(batch, class_captures):
    root, _ = class_captures
    plain, _ = collect(FlowDataset(root), 2)
    orders = []
    for seed in (1, 1, 2):
        ds = FlowDataset(root, shuffle_buffer=50, seed=seed, batch_size=batch)
        seen, dup = collect(ds, 2)
        assert dup == 0 and set(seen) == set(plain)
        assert all(torch.equal(seen[k]["x"], plain[k]["x"]) for k in plain)
        order = []
        for b in torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork"):
            order += list(zip(b["input"].reshape(-1).tolist(), b["row"].reshape(-1).tolist()))
        orders.append(order)
    assert orders[0] == orders[1] != orders[2]
    assert orders[0] != sorted(orders[0], key=lambda k: (k[0], k[1]))


def test_one_input_is_dealt_by_row(class_captures, extracted):
    _, caps = class_captures
    seen, dup = collect(FlowDataset(caps[2]), 2)
    assert dup == 0 and set(seen) == {(0, r) for r in range(len(extracted[2]["features"]))}


def test_continuous_is_one_stream(class_captures):
    _, caps = class_captures
    seen, dup = collect(FlowDataset(caps, continuous=True), 2)
    whole = cuflow.features(caps, continuous=True)
    assert dup == 0 and set(seen) == {(0, r) for r in range(whole.num_rows)}
    xs = whole.select([c for c in whole.schema.names if c.startswith(("bidirectional_", "src2dst_", "dst2src_"))])
    want = np.stack([c.to_numpy() for c in xs.columns], axis=1)
    assert all(np.array_equal(seen[(0, r)]["x"].numpy(), want[r]) for r in range(whole.num_rows))


@pytest.mark.parametrize("batch", [None, 10])
def test_extract_directory_in_shards(batch, class_captures, cli, tmp_path):
    root, _ = class_captures
    xd = tmp_path / "x"
    cli("extract", "-q", "--label-from-dir", root, "-o", xd, "--shard-rows", "37")
    files = sorted(os.listdir(xd))
    feats = np.concatenate([np.load(xd / f) for f in files if f.startswith("features-")])
    labs = np.concatenate([np.load(xd / f) for f in files if f.startswith("labels-")])
    ds = FlowDataset(str(xd), label="labels", sequences=True, batch_size=batch)
    assert ds.label_names == ["chat", "video"]
    seen, dup = collect(ds, 2)
    assert dup == 0 and set(seen) == {(0, r) for r in range(len(feats))}
    assert all(np.array_equal(v["x"].numpy(), feats[r]) and int(v["y"]) == labs[r] for (_, r), v in seen.items())


def test_bad_sources_raise(class_captures, tmp_path, cli):
    root, caps = class_captures
    with pytest.raises(cuflow.Error, match="extract directory's labels.npy"):
        FlowDataset(root, label="labels")
    xd = tmp_path / "nolab"
    cli("extract", "-q", caps[0], "-o", xd)
    with pytest.raises(cuflow.Error, match="written without labels"):
        FlowDataset(str(xd), label="labels")


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



def predictions(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    p = [i for i, h in enumerate(rows[0]) if h.startswith("p_")]
    return [rows[0][i][2:] for i in p], np.array([[float(r[i]) for i in p] for r in rows[1:]])


@pytest.mark.parametrize("model, preset, epochs", [("flowpic-mini", "mini", 2), ("flowpic", "official", 1)])
def test_flowpic_models_give_cuflows_probabilities(model, preset, epochs, class_captures, cli, tmp_path):
    caps = class_captures[0]
    if preset == "official":  # synth's flows are too short for its 60 s windows
        caps = str(tmp_path / "long")
        long_sessions(os.path.join(caps, "small", "a.pcap"), 3, 100)
        long_sessions(os.path.join(caps, "large", "b.pcap"), 3, 900)
    fp, mdir = tmp_path / "fp", tmp_path / "model"
    cli("flowpic", "-q", "--preset", preset, "--label-from-dir", caps, "-o", fp)
    cli("train", "--model", model, "--quiet", "--epochs", epochs, fp, "-o", mdir)
    cli("predict", "--quiet", mdir, fp, "-o", tmp_path / "pred.csv")
    names, want = predictions(tmp_path / "pred.csv")
    m = load_model(str(mdir))
    assert m.classes == names
    x = np.load(fp / "flowpic.npy", mmap_mode="r")
    assert len(x) == len(want) > 0
    with torch.no_grad():
        got = np.concatenate([torch.softmax(m(torch.from_numpy(np.asarray(x[i:i + 32], np.float32))), 1).numpy()
                              for i in range(0, len(x), 32)])
    assert np.abs(got - want).max() < 1e-5


def test_nested_model_gives_cuflows_test_metrics(class_captures, cli, tmp_path):
    mdir, exp = tmp_path / "nested", tmp_path / "export"
    cli("train", "--model", "nested", "--quiet", "--epochs", "2", "--label", "dir", "--test-fraction", "0.3",
        "--export", exp, class_captures[0], "-o", mdir)
    m = load_model(str(mdir))
    fields = ["pkt", "pkt_len", "ttl_out", "id_out", "id_out_len", "ttl_in", "id_in", "id_in_len", "root", "label"]
    d = {f: torch.from_numpy(np.load(exp / f"test_{f}.npy")) for f in fields}
    with torch.no_grad():
        logits = m(d)
    y = d["label"].long()
    with open(mdir / "test" / "metrics.json") as f:
        mj = json.load(f)
    # metrics.json prints 6 decimals; the predictions per class are exact
    assert abs(float(torch.nn.functional.cross_entropy(logits.double(), y)) - mj["loss"]) <= 6e-7
    assert abs(float((logits.argmax(1) == y).double().mean()) - mj["accuracy"]) <= 6e-7
    pred = logits.argmax(1)
    assert [c["name"] for c in mj["classes"]] == m.classes
    assert [int((pred == k).sum()) for k in range(len(m.classes))] == [c["predicted"] for c in mj["classes"]]

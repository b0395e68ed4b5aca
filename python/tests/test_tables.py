"""Each function's table against the command line's output for the same
inputs and options, value for value; options, labels, errors, progress."""
import csv
import glob
import json
import os
import sqlite3
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cuflow
from conftest import clean_env, have


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def cli_table(path):
    """The command line's Parquet output: one file, or the run driver's
    directory (DIR/<table>/part-NNNNN.parquet beside manifest.json)."""
    if os.path.isdir(path):
        return pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(os.path.join(path, "*", "part-*")))])
    return pq.read_table(path)


def assert_same(got, path):
    """Every column of got equals the file's: by name, or a fixed-size list
    column c as the file's flattened c_0, c_1, ... (Parquet's layout)."""
    want = cli_table(path)
    assert got.num_rows == want.num_rows and got.num_rows > 0
    compared = 0
    for c in got.schema.names:
        if c in want.schema.names:
            assert got.column(c).to_pylist() == want.column(c).to_pylist(), c
            compared += 1
        else:
            assert f"{c}_0" in want.schema.names, f"column {c} not in {path}"
            rows = got.column(c).to_pylist()
            for k in range(len(rows[0])):
                assert [r[k] for r in rows] == want.column(f"{c}_{k}").to_pylist(), f"{c}_{k}"
                compared += 1
    return compared


def test_summary_equals_info(captures, cuflow_bin):
    s = cuflow.summary(captures)
    info = json.loads(subprocess.run([cuflow_bin, "info", "--json", *captures], capture_output=True,
                                     text=True, check=True).stdout)
    assert s.column("packets").to_pylist() == [f["packets"] for f in info["files"]]


def test_flows_equal_the_csv(captures, cli, tmp_path):
    f = cuflow.flows(captures, jobs=2)
    cli("flows", "-q", *captures, "-o", tmp_path / "f.csv")
    rows = read_csv(tmp_path / "f.csv")
    got = list(zip(f.column("id").to_pylist(), f.column("bidirectional_packets").to_pylist()))
    assert got == [(int(r["id"]), int(r["bidirectional_packets"])) for r in rows]


@pytest.mark.parametrize("name, call, args", [
    ("flows", lambda c: cuflow.flows(c, jobs=2, idle_timeout=7), ["flows", "--idle-timeout", "7"]),
    ("flows-ip", lambda c: cuflow.flows(c, size="ip", unidirectional=True),
     ["flows", "--size", "ip", "--unidirectional"]),
    ("windows", lambda c: cuflow.windows(c, window=5), ["windows", "--jobs", "2", "--window", "5"]),
    ("netml-IAT", lambda c: cuflow.netml(c, "IAT", dim=8), ["netml", "--jobs", "2", "--dim", "8", "--type", "IAT"]),
    ("netml-STATS", lambda c: cuflow.netml(c, "STATS", dim=8, spill_dir="/tmp"),
     ["netml", "--jobs", "2", "--dim", "8", "--type", "STATS", "--spill-mb", "1", "--spill-dir", "/tmp"]),
])
def test_table_equals_the_command_lines_parquet(name, call, args, captures, cli, tmp_path):
    out = tmp_path / f"{name}.parquet"
    cli(args[0], "-q", *args[1:], *captures, "-o", out)
    assert assert_same(call(captures), str(out)) > 5


def test_feature_settings_equal_extract(captures, cli, tmp_path):
    cli("extract", "-q", "--format", "parquet", "--size", "payload", "--seq", "12", "--dtype", "float64",
        *captures, "-o", tmp_path / "x")
    got = cuflow.features(captures, size="payload", seq_len=12, dtype="float64")
    assert got.schema.field("src2dst_bytes").type == pa.float64() and got.column("seq_size").type.list_size == 12
    assert assert_same(got, str(tmp_path / "x" / "features.parquet")) > 60


def test_features_equal_extract(captures, cli, tmp_path):
    cli("extract", "-q", "--format", "parquet", *captures, "-o", tmp_path / "x")
    assert assert_same(cuflow.features(captures), str(tmp_path / "x" / "features.parquet")) > 60


def test_flowpic_index_and_images_equal_the_command_line(captures, cli, tmp_path):
    cli("flowpic", "-q", "--preset", "mini", "--format", "parquet", *captures, "-o", tmp_path / "fp")
    assert_same(cuflow.flowpic(captures, preset="mini"), str(tmp_path / "fp" / "index.parquet"))
    cli("flowpic", "-q", "--preset", "mini", "--label-from-dir", *captures, "-o", tmp_path / "fpl")
    img = cuflow.flowpic(captures, images=True, preset="mini", label_from_dir=True)
    want = np.load(tmp_path / "fpl" / "flowpic.npy")
    got = np.stack(img.column("image").to_numpy(zero_copy_only=False)).astype(want.dtype)
    assert np.array_equal(got.reshape(want.shape), want)
    idx = cuflow.flowpic(captures, preset="mini", label_from_dir=True)
    labels = [r["label"] for r in read_csv(tmp_path / "fpl" / "index.csv")]
    assert labels and idx.column("label").to_pylist() == labels


def test_extract_is_features(captures):
    assert cuflow.extract(captures, seq_len=4).equals(cuflow.features(captures, seq_len=4))


def test_feature_labels_equal_extract(captures, cli, tmp_path):
    cli("extract", "-q", "--label-from-dir", *captures, "-o", tmp_path / "x")
    f = cuflow.features(captures, label_from_dir=True)
    assert f.column("label_id").to_pylist() == np.load(tmp_path / "x" / "labels.npy").tolist()
    assert set(cuflow.features(captures[0], label="web").column("label").to_pylist()) == {"web"}


def test_sessions_equal_the_database(captures, cli, tmp_path):
    if not os.path.exists("/usr/share/ieee-data/oui.csv"):
        pytest.skip("ieee-data not installed")
    db = tmp_path / "s.sqlite"
    cli("sessions", "-q", *captures, "-o", db)
    cur = sqlite3.connect(db).execute("select * from sessions order by sessionid")
    names = [d[0] for d in cur.description]
    want = [dict(zip(names, r)) for r in cur]
    got = [{k: r.get(k) for k in names} for r in cuflow.sessions(captures).to_pylist()]
    assert got == want and want


def test_compat_nfstream_as_the_flag(captures, cli, tmp_path):
    cli("flows", "-q", "--compat", "nfstream", *captures, "-o", tmp_path / "fc.csv")
    rows = read_csv(tmp_path / "fc.csv")
    fc = cuflow.flows(captures, compat="nfstream")
    cols = ["id", "src_port", "dst_port", "bidirectional_packets", "src2dst_packets"]
    assert list(zip(*[fc.column(c).to_pylist() for c in cols])) == [tuple(int(r[c]) for c in cols) for r in rows]


def test_hook_thread_gives_the_same_table(captures):
    assert cuflow.flows(captures, hook_thread=True).equals(cuflow.flows(captures, hook_thread=False))
    assert cuflow.windows(captures, hook_thread=True).equals(cuflow.windows(captures, hook_thread=False))


def test_windows_distinct_has_its_columns(captures):
    w = cuflow.windows(captures, window=2, distinct=True)
    assert any(c.startswith("distinct_") for c in w.schema.names)


def test_bad_options_raise_naming_them(captures):
    with pytest.raises(cuflow.Error, match="no option idle"):
        cuflow.flows(captures, idle=5)
    with pytest.raises(cuflow.Error, match="option window: want seconds"):
        cuflow.windows(captures, window=0)
    with pytest.raises(cuflow.Error, match="option preset: official or mini"):
        cuflow.flowpic(captures, preset="huge")
    with pytest.raises(cuflow.Error, match="give dim"):
        cuflow.netml(captures)


def test_missing_input_raises_naming_it(captures, tmp_path):
    missing = str(tmp_path / "missing.pcap")
    with pytest.raises(cuflow.Error, match="missing.pcap"):
        cuflow.flows([captures[0], missing])
    assert cuflow.flows([captures[0], missing], strict=False).num_rows == cuflow.flows(captures[0]).num_rows


def test_not_a_capture_raises_with_the_offset(captures, tmp_path):
    bad = tmp_path / "bad.pcap"
    with open(captures[0], "rb") as f:
        head = f.read(5000)
    bad.write_bytes(head[:24] + b"\xff" * 64)  # a record header claiming 4 GB
    with pytest.raises(cuflow.Error, match=r"bad.pcap: .* at byte offset 24"):
        cuflow.flows(str(bad))


@pytest.mark.skipif(not have("editcap"), reason="editcap (tshark) not installed")
def test_continuous_equals_the_whole_capture(captures, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    subprocess.run(["editcap", "-c", "1000", captures[0], str(parts / "p.pcap")], check=True, env=clean_env(),
                   timeout=120)
    whole = cuflow.flows(captures[0], idle_timeout=5, active_timeout=30)
    cut = cuflow.flows(str(parts), idle_timeout=5, active_timeout=30)
    assert len(os.listdir(parts)) > 1 and not cut.equals(whole)  # the cut does cut flows
    assert cuflow.flows(str(parts), idle_timeout=5, active_timeout=30, continuous=True).to_pylist() == \
        whole.to_pylist()


def test_progress_reaches_a_callable(captures):
    ps = []
    t = cuflow.flows(captures, jobs=2, progress=ps.append)
    total = sum(os.path.getsize(c) for c in captures)
    assert ps and ps[-1].files_done == len(captures) and ps[-1].bytes_done == total == ps[-1].bytes_total
    assert [p.bytes_done for p in ps] == sorted(p.bytes_done for p in ps)
    assert t.equals(cuflow.flows(captures, jobs=2))


def test_inputs_lists_what_a_run_reads(captures):
    d = os.path.dirname(captures[0])
    assert captures[0] in cuflow.inputs([d])
    assert cuflow.inputs(captures) == captures


def test_progress_true_draws_a_tqdm_bar(captures, capsys):
    pytest.importorskip("tqdm")
    t = cuflow.flows(captures, progress=True)
    err = capsys.readouterr().err
    assert t.num_rows > 0 and "cuflow" in err and f"{len(captures)}/{len(captures)}" in err, err[-500:]

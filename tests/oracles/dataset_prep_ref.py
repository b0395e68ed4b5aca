#!/usr/bin/env python3
"""Independent oracle of `cuflow dataset` (docs/dataset.md).

  dataset_prep_ref.py fixture DB [--sessions N] [--devices N] [--seed S]
      writes a sessions database of the schema `cuflow sessions` writes,
      with random but realistic rows (Python's sqlite3 only).
  dataset_prep_ref.py check DB DIR [the options given to cuflow dataset]
      [--train-logreg]
      recomputes every step with pandas and scikit-learn from the database
      and DIR's idx_train.npy, and compares DIR's files: X_* bitwise, y_*,
      idx_*, maps.json; checks the split's properties and reproduces it.
      With --train-logreg: a logistic regression on the prepared set must
      beat the majority class on the test split.
  dataset_prep_ref.py prefix DIR_A DIR_B
      X of A equals the first columns of X of B, y and idx equal.
  dataset_prep_ref.py parquet DIR
      DIR/dataset.parquet read by pyarrow equals the npy files (split,
      label, X bitwise).

Prints "ok ..." and exits 0, or prints the differences and exits 1.
"""
import argparse
import json
import math
import os
import random
import sqlite3
import sys

DEFAULT_SQL = (
    "select s.srcport, s.dstport, s.lensum, s.pktcount,\n"
    "       abs(s.endtime - s.starttime) as durn, d.manufacturer, d.device_type, d.mac\n"
    "from sessions s inner join v_session_mnf_devicetype d on s.sessionid = d.sessionid\n"
    "where d.device_type is not null")
SPLITS = ("train", "val", "test")
M64 = (1 << 64) - 1

# ---------------------------------------------------------------- fixture

SCHEMA = """
CREATE TABLE sessions(sessionid INTEGER PRIMARY KEY, srcmac TEXT, dstmac TEXT, srcip TEXT, dstip TEXT,
  srcport INTEGER, dstport INTEGER, proto INTEGER, lensum INTEGER, pktcount INTEGER, starttime REAL,
  endtime REAL, end_reason TEXT, capture_file TEXT);
CREATE TABLE devices(mac TEXT PRIMARY KEY, manufacturer TEXT, device_type TEXT, first_seen REAL,
  last_seen REAL, ips TEXT, hostname TEXT, local_admin INTEGER);
CREATE TABLE dns(id INTEGER PRIMARY KEY, sessionid INTEGER, mac TEXT, ts REAL, qname TEXT, qtype INTEGER,
  rcode INTEGER, answers TEXT, mdns INTEGER);
CREATE TABLE files(path TEXT PRIMARY KEY, size INTEGER, mtime REAL, packets INTEGER, status TEXT);
CREATE VIEW v_session_mnf_devicetype AS SELECT s.sessionid AS sessionid, s.srcmac AS mac,
  d.manufacturer AS manufacturer, d.device_type AS device_type FROM sessions s JOIN devices d ON d.mac = s.srcmac;
"""

# (device_type, manufacturer, behaviour) of the fixture's devices
KINDS = [
    ("Other", "Apple, Inc.", "client"), ("Other", "Intel Corporate", "client"),
    ("Other", "Samsung Electro-Mechanics(Thailand)", "client"), ("Other", "Ubiquiti Networks Inc.", "infra"),
    ("Other", None, "client"), ("Other", "Hewlett Packard", "client"),
    ("UVC-G3-Flex Camera", "Ubiquiti Networks Inc.", "camera"), ("Smart Plug", "Topwell International Holdinds Limited", "plug"),
    ("Echo Dot", "Amazon Technologies Inc.", "speaker"), ("Sensor Hub", "Raspberry Pi Foundation", "plug"),
    (None, "Realtek Semiconductor Corp.", "client"), (None, None, "client"),
]


def fixture(path, n_sessions, n_devices, seed):
    rnd = random.Random(seed)
    if os.path.exists(path):
        os.unlink(path)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    names = ["cdn%d.%s" % (i, dom) for i, dom in
             zip(range(150), ["apple.com", "google.com", "akamai.net", "example.org", "icloud.com", "msn.com"] * 25)]
    vendor = {"camera": [], "plug": ["iot.tplinkcloud.com", "time.nist.gov"],
              "speaker": ["device-metrics-us.amazon.com", "avs-alexa-na.amazon.com", "time.nist.gov"]}
    devices = []
    for k in range(n_devices):
        # the first kinds once each, then weighted so that clients dominate
        kind = KINDS[k] if k < len(KINDS) else KINDS[rnd.choice([0, 1, 2, 4, 5, 0, 1, 6, 7, 8, 9, 10])]
        mac = "02:00:00:%02x:%02x:%02x" % (k >> 8, k & 255, rnd.randrange(256))
        devices.append((mac,) + kind)
        db.execute("insert into devices values (?,?,?,?,?,?,?,?)",
                   (mac, kind[1], kind[0], 1.6e9, 1.6e9 + 86400, "192.168.1.%d" % (k + 10), None, 0))
    # a device that never starts a session, and one with sessions but no device row
    db.execute("insert into devices values ('02:ff:00:00:00:01','Apple, Inc.','Other',0,0,'',NULL,0)")
    sid = 0
    weights = [3 if d[3] == "client" else 2 for d in devices]
    for _ in range(n_sessions):
        mac, dtype, mnf, beh = rnd.choices(devices, weights)[0]
        sid += 1
        proto = 6 if rnd.random() < 0.8 else 17
        sport, dport = rnd.randrange(49152, 65536), rnd.choice([443, 443, 443, 80, 53, 123, 8080, 5353])
        if beh == "camera":
            dport = rnd.choice([7550, 7442, 7550])
            lensum = int(rnd.lognormvariate(17, 1.5))
            pkts = max(1, lensum // rnd.randrange(600, 1400))
            durn = rnd.uniform(100, 2000)
        elif beh in ("plug", "speaker"):
            dport = rnd.choice([443, 8883, 1883, 123])
            lensum = int(rnd.lognormvariate(7, 0.7))
            pkts = max(1, lensum // rnd.randrange(60, 200))
            durn = rnd.uniform(20, 60)
        else:
            lensum = int(rnd.lognormvariate(9, 2))
            pkts = max(1, lensum // rnd.randrange(60, 1500))
            durn = rnd.expovariate(1 / 30)
        if rnd.random() < 0.03:
            proto, sport, dport = 1, None, None
        start = 1.6e9 + rnd.uniform(0, 86400)
        end = start + durn
        if rnd.random() < 0.05:  # the seed's smell: end before start
            start, end = end, start
        if rnd.random() < 0.01:
            mac = "02:ee:00:00:00:%02x" % rnd.randrange(256)  # no device row: the join drops it
        db.execute("insert into sessions values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (sid, mac, "02:00:00:00:00:01", "192.168.1.5", "1.2.3.4", sport, dport, proto, lensum, pkts,
                    start, end, rnd.choice(["idle", "fin", "rst"]), "cap%d.pcap" % (sid % 3)))
    # DNS: clients ask for many names (a Zipf-like spread), IoT devices for
    # their vendor's few names, cameras for none
    qid = 0
    for mac, dtype, mnf, beh in devices + [("02:dd:00:00:00:01", None, None, "client")]:
        if beh in ("client", "infra"):
            # a few popular names, and a long tail past the top 100
            asked = [names[min(149, int(rnd.paretovariate(0.8)) - 1) if rnd.random() < 0.6 else rnd.randrange(150)]
                     for _ in range(rnd.randrange(20, 120))]
        else:
            asked = [rnd.choice(vendor[beh]) for _ in range(rnd.randrange(0, 12))] if vendor[beh] else []
        for q in asked:
            qid += 1
            db.execute("insert into dns values (?,?,?,?,?,?,?,?,?)",
                       (qid, rnd.randrange(1, sid + 1), mac, 1.6e9, q, 1, 0, "", 1 if q.endswith(".local") else 0))
        if beh == "client" and rnd.random() < 0.5:
            qid += 1
            db.execute("insert into dns values (?,?,?,?,?,?,?,?,?)",
                       (qid, None, mac, 1.6e9, "_airplay._tcp.local", 12, 0, "", 1))
    db.commit()
    db.close()
    print("ok fixture %s: %d sessions, %d devices, %d dns rows" % (path, sid, n_devices, qid))
    return 0

# ---------------------------------------------------------------- check


def keyf(v):
    """The documented order: numbers (numerically) before text (bytewise)."""
    return (1, v.encode()) if isinstance(v, str) else (0, v)


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def reference_split(y, nclass, pct, seed):
    """docs/dataset.md §2, written again: per class, Fisher-Yates, rounding."""
    import numpy as np
    split = np.full(len(y), -1)
    per_class = []
    for c in range(nclass):
        a = [int(i) for i in np.flatnonzero(y == c)]
        s = seed ^ (((c + 1) * 0xD1B54A32D192ED03) & M64)
        for i in range(len(a), 1, -1):
            s, r = splitmix64(s)
            j = r % i
            a[i - 1], a[j] = a[j], a[i - 1]
        n = len(a)
        ntr = min(n, math.floor(pct[0] * n / 100.0 + 0.5))
        nva = min(n - ntr, math.floor(pct[1] * n / 100.0 + 0.5))
        for k, i in enumerate(a):
            split[i] = 0 if k < ntr else 1 if k < ntr + nva else 2
        per_class.append((ntr, nva, n - ntr - nva))
    return split, per_class


class Diff:
    def __init__(self):
        self.msgs = []

    def __call__(self, ok, msg):
        if not ok:
            self.msgs.append(msg)
        return ok


def load_rows(db, sql):
    import pandas as pd
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    dns = con.execute("select mac, qname from dns").fetchall() if "mac" in [c.lower() for c in cols] else None
    con.close()
    return pd.DataFrame(rows, columns=cols, dtype=object), dns


def check(a):
    import numpy as np
    import pandas as pd
    from sklearn.preprocessing import MinMaxScaler
    diff = Diff()
    sql = a.sql if a.sql is not None else DEFAULT_SQL
    pct = [float(x) for x in a.splits.split(",")]
    df, dns = load_rows(a.db, sql)
    n = len(df)
    lower = {c.lower(): c for c in df.columns}
    ld = lambda name: np.load(os.path.join(a.dir, name))
    maps = json.load(open(os.path.join(a.dir, "maps.json")))

    # options recorded
    diff(maps["query"] == sql, "maps.json query differs")
    diff(maps["seed"] == a.seed, "maps.json seed %r != %r" % (maps["seed"], a.seed))
    diff(maps["splits_percent"] == pct, "maps.json splits %r != %r" % (maps["splits_percent"], pct))
    diff(maps["rows"] == n, "rows %r != %d" % (maps["rows"], n))

    # 1. labels
    label = a.label_column or "device_type"
    lc = lower[label.lower()]
    if df[lc].isna().any():
        print("oracle: NULL label in the rows")
        return 1
    if a.label_column:
        classes = sorted(set(df[lc]), key=keyf)
        cid = {v: i for i, v in enumerate(classes)}
        y = np.array([cid[v] for v in df[lc]], dtype=np.int64)
        diff(maps["label"]["classes"] == classes, "classes %r != %r" % (maps["label"]["classes"], classes))
    else:
        y = np.where(df[lc] == "Other", 0, 1).astype(np.int64)  # the seed's In[11]
        classes = ["Other", "iot"]
    nclass = len(classes)

    # 2. split: properties, then the documented algorithm again
    idx = [ld("idx_%s.npy" % s) for s in SPLITS]
    for s, v in zip(SPLITS, idx):
        diff(v.dtype == np.int64, "idx_%s dtype %s" % (s, v.dtype))
        diff(bool(np.all(np.diff(v) > 0)), "idx_%s not strictly ascending" % s)
    allidx = np.concatenate(idx)
    diff(len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n)),
         "splits are not disjoint or do not cover every row")
    for c in range(nclass):
        nc = int((y == c).sum())
        ntr = min(nc, math.floor(pct[0] * nc / 100.0 + 0.5))
        nva = min(nc - ntr, math.floor(pct[1] * nc / 100.0 + 0.5))
        want = [ntr, nva, nc - ntr - nva]
        got = [int((y[v] == c).sum()) for v in idx]
        diff(got == want, "class %d: split sizes %r, the rounding gives %r" % (c, got, want))
        diff([maps["splits"][s]["per_class"][c] for s in SPLITS] == want, "maps.json per_class of class %d" % c)
    ref, _ = reference_split(y, nclass, pct, a.seed)
    for k, s in enumerate(SPLITS):
        diff(np.array_equal(np.flatnonzero(ref == k), idx[k]), "idx_%s differs from the documented algorithm" % s)
    tr = idx[0]

    # 3./4. the feature columns
    cats = [c.strip().lower() for c in (a.categorical or "srcport,dstport,manufacturer").split(",")]
    skip = {label.lower(), "mac", "device_type"}
    feats = []  # (name, kind)
    for c in df.columns:
        if c.lower() in skip:
            continue
        is_text = any(isinstance(v, str) for v in df[c])
        feats.append((c, "category" if is_text or c.lower() in cats else "minmax"))
    num = [c for c, k in feats if k == "minmax"]
    block = {}
    if num:
        xn = pd.DataFrame({c: [np.nan if v is None else float(v) for v in df[c]] for c in num}, dtype=np.float64)
        sc = MinMaxScaler()  # clip=False
        sc.fit(xn.iloc[tr].to_numpy())
        # sklearn refuses to transform no rows (--splits 100,0,0)
        xs = {k: sc.transform(xn.iloc[v].to_numpy()) if len(v) else np.zeros((0, len(num))) for k, v in enumerate(idx)}
        for j, c in enumerate(num):
            block[c] = [xs[k][:, j] for k in range(3)]
            block[c + "#fit"] = (sc.data_min_[j], sc.data_max_[j], sc.scale_[j], sc.min_[j])
    for c, kind in feats:
        if kind != "category":
            continue
        vc = df[c].iloc[tr].dropna().value_counts()
        kept = sorted(((v, int(cnt)) for v, cnt in vc.items() if cnt >= a.min_count),
                      key=lambda t: (-t[1], keyf(t[0])))
        index = {v: i + 1 for i, (v, _) in enumerate(kept)}
        col = np.array([0.0 if v is None else float(index.get(v, 0)) for v in df[c]], dtype=np.float64)
        block[c] = [col[v] for v in idx]
        block[c + "#map"] = kept

    # 5. DNS
    have_mac = "mac" in lower and a.top_dns > 0
    names = []
    if have_mac:
        mc = lower["mac"]
        dd = pd.DataFrame([r for r in dns if isinstance(r[0], str) and isinstance(r[1], str)],
                          columns=["mac", "qname"], dtype=object)
        train_macs = set(v for v in df[mc].iloc[tr] if isinstance(v, str))
        cnt = dd[dd["mac"].isin(train_macs)]["qname"].value_counts()
        ranked = sorted(((q, int(k)) for q, k in cnt.items()), key=lambda t: (-t[1], t[0].encode()))
        top = ranked[:a.top_dns]
        names = [q for q, _ in top]
        asked = dd.groupby("mac")["qname"].agg(set).to_dict()
        pos = {q: i for i, q in enumerate(names)}
        oh = np.zeros((n, len(names) + 1))
        for r, m in enumerate(df[mc]):
            for q in asked.get(m, ()) if isinstance(m, str) else ():
                oh[r, pos.get(q, len(names))] = 1.0
        diff(maps["dns"] is not None and maps["dns"]["names"] == names, "DNS names differ: %r vs %r" % (
            maps["dns"] and maps["dns"]["names"][:5], names[:5]))

    # X, column by column, against the files
    parts = [[] for _ in range(3)]
    want_cols = []
    for c, kind in feats:
        for k in range(3):
            parts[k].append(block[c][k])
        want_cols.append((c, kind))
    if have_mac:
        for k in range(3):
            for j in range(len(names) + 1):
                parts[k].append(oh[idx[k], j])
        want_cols += [("dns_%03d" % j, "dns") for j in range(len(names))] + [("dns_other", "dns_other")]
    got_cols = [(m["name"], m["kind"]) for m in maps["columns"]]
    diff(got_cols == want_cols, "columns %r != %r" % (got_cols, want_cols))
    for m in maps["columns"]:
        if m["kind"] == "minmax":
            f = block[m["name"] + "#fit"]
            got = tuple(np.nan if m[k] is None else float(m[k]) for k in ("data_min", "data_max", "scale", "min"))
            diff(np.array_equal(np.array(got).view(np.uint64), np.array(f, dtype=np.float64).view(np.uint64)),
                 "scale of %s: %r != sklearn %r" % (m["name"], got, f))
        elif m["kind"] == "category":
            kept = block[m["name"] + "#map"]
            diff(m["values"] == [v for v, _ in kept] and m["counts"] == [k for _, k in kept],
                 "category map of %s differs: %r vs %r" % (m["name"], list(zip(m["values"], m["counts"]))[:6], kept[:6]))
        elif m["kind"] == "dns":
            diff(m["qname"] == names[int(m["name"][4:])], "dns column %s" % m["name"])
    for k, s in enumerate(SPLITS):
        want = np.column_stack(parts[k]) if parts[k] and len(idx[k]) else np.zeros((len(idx[k]), len(want_cols)))
        x = ld("X_%s.npy" % s)
        ys = ld("y_%s.npy" % s)
        diff(x.dtype == np.float64 and ys.dtype == np.int64, "dtypes of X_%s / y_%s" % (s, s))
        diff(np.array_equal(ys, y[idx[k]]), "y_%s differs" % s)
        if not diff(x.shape == want.shape, "X_%s shape %r != %r" % (s, x.shape, want.shape)):
            continue
        bad = x.view(np.uint64) != want.view(np.uint64)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            diff(False, "X_%s: %d cells differ; first row %d column %d (%s): %r vs oracle %r" % (
                s, int(bad.sum()), r, c, want_cols[c][0], x[r, c], want[r, c]))

    if a.train_logreg and not diff.msgs:
        from sklearn.linear_model import LogisticRegression
        xtr, ytr, xte, yte = ld("X_train.npy"), ld("y_train.npy"), ld("X_test.npy"), ld("y_test.npy")
        model = LogisticRegression(max_iter=2000).fit(xtr, ytr)
        acc = float((model.predict(xte) == yte).mean())
        major = np.bincount(ytr).argmax()
        base = float((yte == major).mean())
        print("logreg: test accuracy %.4f, majority class %.4f (%d test rows, %d columns)" % (
            acc, base, len(yte), xtr.shape[1]))
        diff(acc > base + 0.05, "logistic regression %.4f does not beat the majority class %.4f" % (acc, base))

    if diff.msgs:
        print("\n".join("DIFF " + m for m in diff.msgs))
        return 1
    print("ok %d rows, %d columns, %d classes, %d DNS names, splits %s" % (
        n, len(want_cols), nclass, len(names), [len(v) for v in idx]))
    return 0


def prefix(a):
    import numpy as np
    diff = Diff()
    for s in SPLITS:
        xa, xb = (np.load(os.path.join(d, "X_%s.npy" % s)) for d in (a.a, a.b))
        diff(xa.shape[1] <= xb.shape[1] and np.array_equal(xa.view(np.uint64), xb[:, :xa.shape[1]].view(np.uint64)),
             "X_%s of %s is not the first columns of %s's" % (s, a.a, a.b))
        for f in ("y_%s.npy" % s, "idx_%s.npy" % s):
            diff(np.array_equal(np.load(os.path.join(a.a, f)), np.load(os.path.join(a.b, f))), f + " differs")
    if diff.msgs:
        print("\n".join("DIFF " + m for m in diff.msgs))
        return 1
    print("ok prefix")
    return 0


def parquet(a):
    """dataset.parquet (read by pyarrow) against the npy files of DIR."""
    import numpy as np
    import pyarrow.parquet as pq
    diff = Diff()
    t = pq.read_table(os.path.join(a.dir, "dataset.parquet"))
    maps = json.load(open(os.path.join(a.dir, "maps.json")))
    names = t.column_names
    diff(names[:3] == ["row", "split", "label"], "first columns %r" % names[:3])
    diff(len(names) == 3 + len(maps["columns"]), "%d columns for %d X columns" % (len(names), len(maps["columns"])))
    row = t.column("row").to_numpy()
    diff(np.array_equal(row, np.arange(maps["rows"])), "row is not 0..n-1")
    split = np.array(t.column("split").to_pylist())
    label = t.column("label").to_numpy()
    x = np.column_stack([t.column(c).to_numpy() for c in names[3:]]) if len(names) > 3 else np.zeros((len(row), 0))
    for s in SPLITS:
        idx = np.load(os.path.join(a.dir, "idx_%s.npy" % s))
        diff(np.array_equal(np.flatnonzero(split == s), idx), "split %s rows differ from idx_%s" % (s, s))
        diff(np.array_equal(label[idx], np.load(os.path.join(a.dir, "y_%s.npy" % s))), "label of %s" % s)
        xs = np.load(os.path.join(a.dir, "X_%s.npy" % s))
        diff(x[idx].shape == xs.shape and np.array_equal(x[idx].view(np.uint64), xs.view(np.uint64)),
             "X of %s differs from X_%s.npy" % (s, s))
    if diff.msgs:
        print("\n".join("DIFF " + m for m in diff.msgs))
        return 1
    print("ok parquet %d rows, %d columns" % (len(row), len(names)))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("db")
    f.add_argument("--sessions", type=int, default=2000)
    f.add_argument("--devices", type=int, default=30)
    f.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("check")
    c.add_argument("db")
    c.add_argument("dir")
    c.add_argument("--sql")
    c.add_argument("--label-column")
    c.add_argument("--categorical")
    c.add_argument("--top-dns", type=int, default=100)
    c.add_argument("--min-count", type=int, default=1)
    c.add_argument("--splits", default="70,15,15")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--train-logreg", action="store_true")
    x = sub.add_parser("prefix")
    x.add_argument("a")
    x.add_argument("b")
    q = sub.add_parser("parquet")
    q.add_argument("dir")
    a = p.parse_args()
    if a.cmd == "fixture":
        return fixture(a.db, a.sessions, a.devices, a.seed)
    if a.cmd == "prefix":
        return prefix(a)
    if a.cmd == "parquet":
        return parquet(a)
    return check(a)


if __name__ == "__main__":
    sys.exit(main())

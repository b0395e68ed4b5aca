#!/usr/bin/env python3
"""Joy records of the NFStream test captures, labelled with nDPI's category.

For each capture in NFStream's test corpus (../shared/captures/nfstream:
pcaps/<name>, results/<name>.csv) this runs `cuflow flows --joy-compat
CAPTURE -o -` (Joy 4.5.0's records) and adds "label":"<category>" to each
record whose 5-tuple, in either direction, is one of NFStream's flows; the
category is NFStream's application_category_name (nDPI). The key is put
before the record's final '}', the rest of the line is left as Joy wrote it,
so cf_joy_reader reads the result (cf_joy_flow.label).

The 5-tuple: NFStream's result files upstream carry only
id, bidirectional_packets, bidirectional_bytes and the application columns.
Where a CSV has src_ip, src_port, dst_ip, dst_port and protocol they are
used as they are; otherwise each CSV flow is matched to one of cuflow's
flows in NFStream's own flow table (`cuflow flows --compat nfstream` with
NFStream's settings, which tests/test_flow_nfstream.cpp holds to these CSVs):
in flow order (NFStream's id against cuflow's first packet) where the two
sequences of (bidirectional_packets, bidirectional_bytes) agree entirely,
else by that pair, taken only where it occurs equally often in both (its
flows get every category the pair has). Flows under a decapsulated tunnel
are left out (Joy keys the outer header). Ports are 0 for protocols other than
TCP and UDP (Joy writes null there; ICMP is one flow per host pair).

Dropped and counted: records with no matching flow, records whose 5-tuple
maps to several categories (e.g. a host pair's ICMP flows, or several flows
with one pair but different categories), and categories with fewer than
--min-class records (or named by --drop). A summary goes to stderr.

python3 standard library only.
"""
import argparse
import collections
import csv
import gzip
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))
NFSTREAM_FLAGS = ["flows", "--backend", "cpu", "--quiet", "--idle-timeout", "120", "--active-timeout", "1800",
                  "--tcp-end", "off", "--size", "wire", "--decap", "gtp,capwap,tzsp,ipip", "--compat", "nfstream"]
TUPLE_COLUMNS = ("src_ip", "src_port", "dst_ip", "dst_port", "protocol")


def ip_text(s):
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return s


def flow_key(proto, a, ap, b, bp):
    """The 5-tuple without direction; ports 0 outside TCP and UDP."""
    proto = int(proto)
    if proto not in (6, 17):
        ap = bp = 0
    ends = sorted([(ip_text(a), int(ap or 0)), (ip_text(b), int(bp or 0))])
    return (proto, ends[0], ends[1])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def nfstream_keys(cuflow, capture, rows, stats):
    """5-tuple -> set of categories for one capture's CSV rows."""
    keys = collections.defaultdict(set)
    if rows and all(c in rows[0] for c in TUPLE_COLUMNS):
        for r in rows:
            keys[flow_key(r["protocol"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])].add(
                r["application_category_name"])
        stats["csv flows with a tuple"] += len(rows)
        return keys
    # No tuple in the CSV: recover it from cuflow's NFStream flow table.
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "flows.csv")
        p = subprocess.run([cuflow] + NFSTREAM_FLAGS + [capture, "-o", out], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode not in (0, 2) or not os.path.exists(out):
            raise RuntimeError("cuflow flows --compat nfstream %s: exit %d: %s" % (capture, p.returncode,
                                                                                     p.stderr.strip()))
        flows = read_csv(out)
    def add(f, cats):
        if int(f.get("tunnel_id") or 0):
            stats["csv flows in a tunnel (left out)"] += 1
            return
        keys[flow_key(f["protocol"], f["src_ip"], f["src_port"], f["dst_ip"], f["dst_port"])].update(cats)

    def pair(r):
        return (int(r["bidirectional_packets"]), int(r["bidirectional_bytes"]))

    rows = sorted(rows, key=lambda r: int(r["id"]))
    flows.sort(key=lambda f: (int(f["bidirectional_first_seen_ns"]), int(f["id"])))
    if [pair(r) for r in rows] == [pair(f) for f in flows]:
        # NFStream numbers its flows as they start: where the whole sequence
        # of (packets, bytes) lines up with cuflow's flows by first packet
        # (most captures), flow i is flow i.
        stats["captures matched in flow order"] += 1
        stats["csv flows with a tuple"] += len(rows)
        for r, f in zip(rows, flows):
            add(f, [r["application_category_name"]])
        return keys
    stats["captures matched by (packets, bytes)"] += 1
    by_pair = collections.defaultdict(list)
    for r in rows:
        by_pair[pair(r)].append(r["application_category_name"])
    mine = collections.defaultdict(list)
    for f in flows:
        mine[pair(f)].append(f)
    for pr, cats in by_pair.items():
        got = mine.get(pr, [])
        if len(got) != len(cats):
            stats["csv flows without a tuple"] += len(cats)
            continue
        stats["csv flows with a tuple"] += len(cats)
        for f in got:
            add(f, cats)
    return keys


def labelled_lines(cuflow, capture, keys, stats):
    """Joy's records for the capture: (category, line with the label) per matched record."""
    p = subprocess.Popen([cuflow, "flows", "-q", "--joy-compat", capture, "-o", "-"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for line in p.stdout:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        r = json.loads(line)
        if "sa" not in r:
            continue  # Joy's configuration line
        stats["records"] += 1
        cats = keys.get(flow_key(r["pr"], r["sa"], r.get("sp"), r["da"], r.get("dp")))
        if not cats:
            stats["records unmatched"] += 1
            continue
        if len(cats) > 1:
            stats["records ambiguous (several categories)"] += 1
            continue
        cat = next(iter(cats))
        if not line.endswith("}"):
            raise RuntimeError("%s: a record that does not end with '}': %s" % (capture, line[:80]))
        yield cat, line[:-1] + ',"label":' + json.dumps(cat) + "}\n"
    err = p.stderr.read()
    if p.wait() not in (0, 2):  # 2: a damaged capture, its records up to the damage
        raise RuntimeError("cuflow flows --joy-compat %s: exit %d: %s" % (capture, p.returncode, err.strip()))
    if p.returncode == 2:
        stats["captures damaged (records up to the damage kept)"] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cuflow", required=True, help="the cuflow executable")
    ap.add_argument("--out", required=True, help="JSON lines out (.gz: gzip)")
    ap.add_argument("--min-class", type=int, default=50, help="drop categories with fewer records (default 50)")
    ap.add_argument("--drop", action="append", default=[], metavar="CATEGORY",
                    help="leave this category out (repeatable; e.g. Unspecified, nDPI's unknown)")
    ap.add_argument("--pcaps", default=os.path.join(SHARED, "captures", "nfstream", "pcaps"))
    ap.add_argument("--results", default=os.path.join(SHARED, "captures", "nfstream", "results"))
    a = ap.parse_args()

    stats = collections.Counter()
    per_cat = collections.Counter()
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    # Matched records wait in a temporary file: --min-class needs every count first.
    with tempfile.TemporaryFile("w+", dir=out_dir) as held:
        for name in sorted(os.listdir(a.pcaps)):
            csv_path = os.path.join(a.results, name + ".csv")
            if not os.path.exists(csv_path):
                stats["captures without a results CSV"] += 1
                continue
            capture = os.path.join(a.pcaps, name)
            rows = read_csv(csv_path)
            keys = nfstream_keys(a.cuflow, capture, rows, stats)
            stats["captures"] += 1
            for cat, line in labelled_lines(a.cuflow, capture, keys, stats):
                per_cat[cat] += 1
                held.write(cat + "\t" + line)
        held.seek(0)
        keep = {c for c, n in per_cat.items() if n >= a.min_class and c not in a.drop}
        partial = a.out + ".partial"
        opener = (lambda p: gzip.GzipFile(p, "wb", mtime=0)) if a.out.endswith(".gz") else (lambda p: open(p, "wb"))
        with opener(partial) as out:
            for entry in held:
                cat, line = entry.split("\t", 1)
                if cat in keep:
                    out.write(line.encode("utf-8"))
                    stats["records written"] += 1
                else:
                    stats["records in a category dropped (--min-class, --drop)"] += 1
        os.replace(partial, a.out)

    w = sys.stderr.write
    w("prep_nfstream_labels: %s\n" % a.out)
    for k in sorted(stats):
        w("  %-52s %d\n" % (k, stats[k]))
    w("  records per category (min %d):\n" % a.min_class)
    for cat, n in per_cat.most_common():
        w("    %-30s %7d%s\n" % (cat, n, "" if cat in keep else "  (dropped)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

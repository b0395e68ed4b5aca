#!/usr/bin/env python3
"""The lab's leak check: can a classifier tell the classes apart from what
the traffic should NOT give away: initial TTLs, IP-id steps, ports and
addresses? It should stay near the majority class (issue 18: within 5
points). Needs numpy and scikit-learn (a bench venv, not a cuflow
dependency).

    bench/lab/leak_check.py DIR [--exclude iot] [--json OUT]

Features per labelled flow (labels.csv + the capture it came from): source
and destination address (as integers), source and destination port, the
first TTL each way, the median IP-id step each way. Evaluation: 5-fold
GroupKFold with the session as group (a session's flows share a client
address; a row-wise split would let the forest memorise it), a random
forest and a single decision tree, against the majority class of each
test fold.
"""
import argparse
import csv
import ipaddress
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import labpcap  # noqa: E402


def flow_features(out_dir, labels, min_packets=0):
    by_capture = {}
    for lb in labels:
        by_capture.setdefault(lb["capture"], []).append(lb)
    feats = {}
    for cap, rows in by_capture.items():
        per = {}
        for ts, length, etype, ip in labpcap.packets(os.path.join(out_dir, cap)):
            if ip is None:
                continue
            src, dst, proto, sport, dport, ttl, ip_id = ip
            per.setdefault((src, sport, dst, dport, proto), []).append((ttl, ip_id))
        for lb in rows:
            fwd = per.get((lb["src_ip"], int(lb["src_port"]), lb["dst_ip"], int(lb["dst_port"]), int(lb["protocol"])), [])
            bwd = per.get((lb["dst_ip"], int(lb["dst_port"]), lb["src_ip"], int(lb["src_port"]), int(lb["protocol"])), [])

            def step(pk):
                d = [(b[1] - a[1]) % 65536 for a, b in zip(pk, pk[1:])]
                return statistics.median(d) if d else -1

            if len(fwd) < min_packets or len(bwd) < min_packets:
                feats[id(lb)] = None
                continue
            feats[id(lb)] = [int(ipaddress.ip_address(lb["src_ip"])), int(ipaddress.ip_address(lb["dst_ip"])),
                             int(lb["src_port"]), int(lb["dst_port"]),
                             fwd[0][0] if fwd else -1, bwd[0][0] if bwd else -1, step(fwd), step(bwd)]
    return [feats[id(lb)] for lb in labels]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--exclude", default="", help="comma-separated classes left out")
    ap.add_argument("--json")
    ap.add_argument("--min-packets", type=int, default=0,
                    help="only flows with at least N packets each way (where an IP-id step exists: 2)")
    args = ap.parse_args()
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GroupKFold
    from sklearn.tree import DecisionTreeClassifier

    excl = {c for c in args.exclude.split(",") if c}
    with open(os.path.join(args.dir, "labels.csv"), newline="") as f:
        labels = [r for r in csv.DictReader(f) if r["class"] not in excl]
    feats = flow_features(args.dir, labels, args.min_packets)
    keep = [i for i, f in enumerate(feats) if f is not None]
    labels = [labels[i] for i in keep]
    X = np.array([feats[i] for i in keep], dtype=np.float64)
    classes = sorted({r["class"] for r in labels})
    y = np.array([classes.index(r["class"]) for r in labels])
    groups = np.array([r["session"] for r in labels])
    result = {"flows": len(labels), "classes": {c: int((y == i).sum()) for i, c in enumerate(classes)},
              "excluded": sorted(excl), "min_packets": args.min_packets}
    names = ["src_addr", "dst_addr", "src_port", "dst_port", "ttl_fwd", "ttl_bwd", "ipid_step_fwd", "ipid_step_bwd"]

    def evaluate(cols):
        acc = {"forest": [], "tree": [], "majority": []}
        for train, test in GroupKFold(n_splits=5).split(X, y, groups):
            maj = np.bincount(y[train], minlength=len(classes)).argmax()
            acc["majority"].append(float((y[test] == maj).mean()))
            for name, model in (("forest", RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=2)),
                                ("tree", DecisionTreeClassifier(random_state=0))):
                model.fit(X[train][:, cols], y[train])
                acc[name].append(float((model.predict(X[test][:, cols]) == y[test]).mean()))
        out = {}
        for k, v in acc.items():
            out[k + "_accuracy"] = round(sum(v) / len(v), 4)
            out[k + "_folds"] = [round(a, 4) for a in v]
        out["forest_minus_majority_points"] = round(100 * (out["forest_accuracy"] - out["majority_accuracy"]), 2)
        out["tree_minus_majority_points"] = round(100 * (out["tree_accuracy"] - out["majority_accuracy"]), 2)
        return out

    result.update(evaluate(list(range(len(names)))))
    model = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=2).fit(X, y)
    result["importances"] = {n: round(float(w), 4) for n, w in zip(names, model.feature_importances_)}
    # Which feature group carries what: each group left out, and each alone.
    groups_of = {"addresses": [0, 1], "ports": [2, 3], "ttls": [4, 5], "ipid_steps": [6, 7]}
    result["ablation"] = {}
    for g, cols in groups_of.items():
        rest = [c for c in range(len(names)) if c not in cols]
        a, b = evaluate(rest), evaluate(cols)
        result["ablation"]["without_" + g] = {k: a[k] for k in ("forest_minus_majority_points", "tree_minus_majority_points")}
        result["ablation"]["only_" + g] = {k: b[k] for k in ("forest_minus_majority_points", "tree_minus_majority_points")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The lab's leak check: can a classifier tell the classes apart from what
the traffic should NOT give away: initial TTLs, IP-id steps, ports and
addresses? It should stay near the majority class (issue 18: within 5
points). Needs numpy and scikit-learn (a bench venv, not a cuflow
dependency).

    bench/lab/leak_check.py DIR [--exclude iot] [--json OUT]

Features per labelled flow (labels.csv + the capture it came from): source
and destination address (as integers), source and destination port, the
first TTL each way, the median IP-id step each way (-1 where a direction has
fewer than two packets). Evaluation: 5-fold GroupKFold with the session as
group (a session's flows share a client address; a row-wise split would let
the forest memorise it), a random forest and a single decision tree, against
the majority class of each test fold.

Two populations are reported. On the flows with at least two packets each
way every feature exists; this is the check of the lab. On all flows, a
missing step says "one packet this way", which is the traffic (a DNS query
is one packet), not the lab: there the forest is also held against a forest
given only whether each direction has a step, and the IP-id steps are judged
by what they add to that.
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


def flow_features(out_dir, labels):
    """Per label: the eight features and the packets each way (or None when
    the flow is not in its capture)."""
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
            if not fwd and not bwd:
                feats[id(lb)] = None
                continue

            def step(pk):
                d = [(b[1] - a[1]) % 65536 for a, b in zip(pk, pk[1:])]
                return statistics.median(d) if d else -1

            feats[id(lb)] = ([int(ipaddress.ip_address(lb["src_ip"])), int(ipaddress.ip_address(lb["dst_ip"])),
                              int(lb["src_port"]), int(lb["dst_port"]),
                              fwd[0][0] if fwd else -1, bwd[0][0] if bwd else -1, step(fwd), step(bwd)],
                             (len(fwd), len(bwd)))
    return [feats[id(lb)] for lb in labels]


NAMES = ["src_addr", "dst_addr", "src_port", "dst_port", "ttl_fwd", "ttl_bwd", "ipid_step_fwd", "ipid_step_bwd"]
GROUPS = {"addresses": [0, 1], "ports": [2, 3], "ttls": [4, 5], "ipid_steps": [6, 7]}


def evaluate(np, X, y, groups, nclasses, cols):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GroupKFold
    from sklearn.tree import DecisionTreeClassifier
    acc = {"forest": [], "tree": [], "majority": []}
    for train, test in GroupKFold(n_splits=5).split(X, y, groups):
        maj = np.bincount(y[train], minlength=nclasses).argmax()
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


def population(np, rows, classes):
    """The check on one set of (label, features, packets) rows."""
    from sklearn.ensemble import RandomForestClassifier
    X = np.array([f for _, f, _ in rows], dtype=np.float64)
    y = np.array([classes.index(lb["class"]) for lb, _, _ in rows])
    groups = np.array([lb["session"] for lb, _, _ in rows])
    # Whether each direction has a step (two packets or more): the traffic's shape, not the lab.
    has_step = np.array([[float(n[0] >= 2), float(n[1] >= 2)] for _, _, n in rows])
    XS = np.hstack([X, has_step])
    res = {"flows": len(rows), "classes": {c: int((y == i).sum()) for i, c in enumerate(classes)}}
    res.update(evaluate(np, X, y, groups, len(classes), list(range(len(NAMES)))))
    model = RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=2).fit(X, y)
    res["importances"] = {n: round(float(w), 4) for n, w in zip(NAMES, model.feature_importances_)}
    res["ablation"] = {}
    for g, cols in GROUPS.items():
        rest = [c for c in range(len(NAMES)) if c not in cols]
        a, b = evaluate(np, X, y, groups, len(classes), rest), evaluate(np, X, y, groups, len(classes), cols)
        res["ablation"]["without_" + g] = {k: a[k] for k in ("forest_minus_majority_points", "tree_minus_majority_points")}
        res["ablation"]["only_" + g] = {k: b[k] for k in ("forest_minus_majority_points", "tree_minus_majority_points")}
    if has_step.min() < 1:
        base = evaluate(np, XS, y, groups, len(classes), [8, 9])
        steps = evaluate(np, XS, y, groups, len(classes), [6, 7, 8, 9])
        every = evaluate(np, XS, y, groups, len(classes), list(range(10)))
        res["step_presence"] = {
            "forest_minus_majority_points": base["forest_minus_majority_points"],
            "ipid_steps_forest_minus_majority_points": steps["forest_minus_majority_points"],
            "ipid_steps_beyond_presence_points": round(steps["forest_minus_majority_points"]
                                                       - base["forest_minus_majority_points"], 2),
            "all_eight_forest_minus_majority_points": every["forest_minus_majority_points"],
            "all_eight_beyond_presence_points": round(every["forest_minus_majority_points"]
                                                      - base["forest_minus_majority_points"], 2)}
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--exclude", default="", help="comma-separated classes left out")
    ap.add_argument("--json")
    args = ap.parse_args()
    import numpy as np

    excl = {c for c in args.exclude.split(",") if c}
    with open(os.path.join(args.dir, "labels.csv"), newline="") as f:
        labels = [r for r in csv.DictReader(f) if r["class"] not in excl]
    feats = flow_features(args.dir, labels)
    rows = [(lb, f[0], f[1]) for lb, f in zip(labels, feats) if f is not None]
    classes = sorted({lb["class"] for lb, _, _ in rows})
    result = {"excluded": sorted(excl), "not_in_capture": sum(f is None for f in feats),
              "all_flows": population(np, rows, classes),
              "flows_with_step": population(np, [r for r in rows if r[2][0] >= 2 and r[2][1] >= 2], classes)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    for name in ("flows_with_step", "all_flows"):
        r = result[name]
        print("%s: %d flows, majority %.1f%%, forest %+.1f points, tree %+.1f points (all eight features)"
              % (name, r["flows"], 100 * r["majority_accuracy"], r["forest_minus_majority_points"],
                 r["tree_minus_majority_points"]), file=sys.stderr)
        if "step_presence" in r:
            sp = r["step_presence"]
            print("  given whether each direction has a step (%+.1f points alone): all eight %+.1f beyond it, "
                  "IP-id steps %+.1f beyond it" % (sp["forest_minus_majority_points"],
                                                   sp["all_eight_beyond_presence_points"],
                                                   sp["ipid_steps_beyond_presence_points"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

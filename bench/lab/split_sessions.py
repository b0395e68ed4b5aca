#!/usr/bin/env python3
"""Splits a lab run's captures into train and test sets by session, so that
no session (a web visit, a call, a chat room with all its bots) feeds both:
a model is then scored on conversations it has never seen a window of.

    bench/lab/split_sessions.py LAB_DIR OUT_DIR [--classes chat,file,voip,video]
                                [--test-fraction 0.2] [--seed 1]

Writes OUT_DIR/train/<class>/ and OUT_DIR/test/<class>/ with symbolic links
to the lab's captures (so `--label-from-dir` labels them by class), and
OUT_DIR/split.json (the sessions of each side). A capture's session is
labels.csv's `session` column; per class, a seeded shuffle of its sessions
puts round(fraction x sessions) of them, at least one, in the test set.
"""
import argparse
import csv
import json
import os
import random
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lab_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--classes", default="chat,file,voip,video",
                    help="comma-separated classes (default: the FlowPic seed's four)")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    lab = os.path.abspath(a.lab_dir)
    classes = [c for c in a.classes.split(",") if c]
    if os.path.exists(a.out_dir):
        sys.exit("split_sessions: %s exists; give a new directory" % a.out_dir)
    session_of = {}
    with open(os.path.join(lab, "labels.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["class"] in classes:
                session_of.setdefault(r["capture"], (r["class"], r["session"]))
    rng = random.Random(a.seed)
    report = {"lab_dir": lab, "seed": a.seed, "test_fraction": a.test_fraction, "classes": {}}
    for cls in classes:
        caps = sorted(c for c, (k, _) in session_of.items() if k == cls)
        if not caps:
            sys.exit("split_sessions: no labelled capture of class %s in %s" % (cls, lab))
        sessions = sorted({session_of[c][1] for c in caps})
        rng.shuffle(sessions)
        n_test = max(1, round(a.test_fraction * len(sessions))) if len(sessions) > 1 else 0
        test = set(sessions[:n_test])
        side_caps = {"train": [], "test": []}
        for c in caps:
            side = "test" if session_of[c][1] in test else "train"
            d = os.path.join(a.out_dir, side, cls)
            os.makedirs(d, exist_ok=True)
            os.symlink(os.path.join(lab, c), os.path.join(d, os.path.basename(c)))
            side_caps[side].append(c)
        report["classes"][cls] = {"sessions": len(sessions), "test_sessions": sorted(test),
                                  "train_captures": len(side_caps["train"]), "test_captures": len(side_caps["test"])}
        print("%-6s %4d sessions: %4d train captures, %4d test captures (%d sessions)"
              % (cls, len(sessions), len(side_caps["train"]), len(side_caps["test"]), len(test)))
    with open(os.path.join(a.out_dir, "split.json"), "w") as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The FlowPic pipeline as users run it today, in Python 3: the baseline of the FlowPic
benchmark (bench/run, tools flowpic-py-official and flowpic-py-mini).

    flowpic_py_pipeline.py CAPTURE --preset official|mini --out DIR

Its stages follow the official talshapira/FlowPic scripts (../shared/specs/flowpic_joy_lstm.md
section 1.2; tests/oracles/flowpic_notes.md), written here from that description:
  1. parse: dpkt reads the pcap frame by frame (Ethernet, else the frame as raw IP), keeps IPv4
     TCP/UDP, and appends to the unidirectional 5-tuple session its time relative to the
     session's first packet, rounded to 6 decimals, and len(ip);
  2. CSV: one row per session (pcap name, addresses, ports, protocol, start time, packet
     count, the times, an empty cell, the sizes), written and read back, as the official
     converter reads the parser's CSV;
  3. images: official: 60 s windows over each session (inclusive bounds, the upstream window
     count), a window kept with more than 10 packets and a span over 50 s, time stretched
     from its first to its last packet, np.histogram2d on 1500 x 1500 unit bins, uint16;
     mini: tcbench's get_flowpic(dim=32, max_block_duration=15) on each session with more
     than 10 packets in its first 15 s: t < 15, sizes clipped to 1500, 32 x 32, counts capped
     at 255, uint8.
Writes DIR/flowpic.npy (N x 1 x H x W) and DIR/index.csv as `cuflow flowpic` does, so the
images can be compared. Known difference: Python 3's round() takes ties to even where the
official Python 2 scripts round them away from zero (a tie needs a time difference of an odd
multiple of 1/128 s to the microsecond, which microsecond captures do not produce).
Needs python3-dpkt and python3-numpy (Debian).
"""
import argparse
import csv
import os
import socket
import sys

import dpkt
import numpy as np


def parse(path):
    """Stage 1: sessions as {key: [start_ts, times, sizes]}, in order of first appearance."""
    sessions = {}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except (dpkt.NeedData, dpkt.UnpackError):
                continue
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP):
                try:
                    ip = dpkt.ip.IP(buf)
                except (dpkt.NeedData, dpkt.UnpackError):
                    continue
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP):
                proto = "TCP"
            elif isinstance(l4, dpkt.udp.UDP):
                proto = "UDP"
            else:
                continue
            key = (socket.inet_ntoa(ip.src), l4.sport, socket.inet_ntoa(ip.dst), l4.dport, proto)
            s = sessions.get(key)
            if s is None:
                s = sessions[key] = [ts, [], []]
            s[1].append(round(ts - s[0], 6))
            s[2].append(len(ip))
    return sessions


def write_csv(path, pcap_name, sessions):
    """Stage 2a: the parser's CSV (floats as repr: the round trip is exact)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for (src, sport, dst, dport, proto), (start, times, sizes) in sessions.items():
            w.writerow([pcap_name, src, sport, dst, dport, proto, repr(start), len(times)] +
                       [repr(t) for t in times] + [""] + sizes)


def read_csv(path):
    """Stage 2b: the converter reads it back."""
    with open(path, newline="") as f:
        for row in csv.reader(f):
            n = int(row[7])
            times = np.array([float(x) for x in row[8:8 + n]])
            sizes = np.array([int(x) for x in row[9 + n:9 + 2 * n]])
            yield row[1:6], float(row[6]), times, sizes


EDGES = np.arange(0, 1501)


def official_images(key, start, ts, sizes):
    if len(ts) <= 10:
        return
    last = ts[-1]
    for t in range(int(last / 60 - 1) + 1):
        lo = 60.0 * t
        sel = (ts >= lo) & (ts <= lo + 60)
        wt, ws = ts[sel], sizes[sel]
        if len(wt) <= 10 or wt[-1] - wt[0] <= 50:
            continue
        x = (wt - wt[0]) / (wt[-1] - wt[0]) * 1500
        h, _, _ = np.histogram2d(ws, x, bins=(EDGES, EDGES))
        yield t, start + lo, len(wt), h.astype(np.uint16)


def mini_images(key, start, ts, sizes, dim=32, duration=15.0):
    sel = ts < duration
    t, s = ts[sel], sizes[sel]
    if len(t) <= 10:
        return
    s = np.clip(s, 0, 1500)
    h, _, _ = np.histogram2d(s / 1500 * dim, t / duration * dim, bins=(np.arange(dim + 1), np.arange(dim + 1)))
    yield 0, start, len(t), np.clip(h, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture")
    ap.add_argument("--preset", choices=["official", "mini"], default="official")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sessions = parse(a.capture)
    csv_path = os.path.join(a.out, "sessions.csv")
    write_csv(csv_path, os.path.basename(a.capture), sessions)
    del sessions
    make = official_images if a.preset == "official" else mini_images
    images, index = [], []
    for key, start, ts, sizes in read_csv(csv_path):
        for w, wstart, n, img in make(key, start, ts, sizes):
            images.append(img)
            index.append(key + [w, int(round(wstart * 1e9)), n])
    side, dtype = (1500, np.uint16) if a.preset == "official" else (32, np.uint8)
    arr = np.stack(images)[:, None] if images else np.zeros((0, 1, side, side), dtype)
    np.save(os.path.join(a.out, "flowpic.npy"), arr)
    with open(os.path.join(a.out, "index.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["src_ip", "src_port", "dst_ip", "dst_port", "protocol", "window", "window_start_ns", "packets"])
        w.writerows(index)
    print(len(images))
    return 0


if __name__ == "__main__":
    sys.exit(main())

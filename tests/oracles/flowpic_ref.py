#!/usr/bin/env python3
"""Independent FlowPic reference (python3 + numpy only) for the tests of `cuflow flowpic`.

Written from the upstream behaviour described in tests/oracles/flowpic_notes.md and in
../shared/specs/flowpic_joy_lstm.md section 1; no upstream code is used or imported.

    flowpic_ref.py CAPTURE --preset official|mini [options] --out DIR
    flowpic_ref.py --selftest
    flowpic_ref.py --make-golden DIR     (small captures for the golden cases, see make_golden)

Writes DIR/flowpic.npy  (images x C x N x N; uint16 for count, uint8 for capped, float32
for norm; C = 2 for --direction 2ch, else 1) and DIR/index.csv with the header
    src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label
one row per image (label empty; protocol as a number), images ordered by the session's first
appearance in the capture, then by window index.

Capture reading (own code): classic pcap (usec and nsec magic, both byte orders), pcapng
(SHB/IDB/EPB and the obsolete PB, if_tsresol decimal or binary, if_tsoffset, several
sections; an SPB gets the previous packet's time, as cuflow's reader does). Link types:
Ethernet (1) with up to eight VLAN tags (0x8100, 0x88a8, 0x9100, 0x9200) and/or an MPLS label
stack (IPv4 after the bottom label when the version nibble is 4; dpkt wants the byte 0x45),
Linux SLL (113), SLL2 (276), raw IP (101, 12, 14, 228), BSD loopback (0, 108).
Kept: IPv4 (version 4, IHL >= 5, 20 captured header bytes), protocol TCP (>= 20 captured
bytes, data offset >= 5) or UDP (>= 8 captured bytes), fragment offset 0 (a first fragment
with MF set is kept, as dpkt does). Everything else (IPv6, ARP, non-first fragments, other
protocols, frames too short) is skipped. Packet size L = dpkt's len(ip):
    L = min(captured IP bytes, IHL*4) + len(ip_bytes[IHL*4 : total_length or end]),
i.e. the IP total length when the packet is captured whole (Ethernet padding excluded), the
captured length when it was cut by the snap length, the captured length when total_length
is 0 (TSO). Where upstream differs on broken input, see flowpic_notes.md.

Sessions: key (src ip, src port, dst ip, dst port, protocol), unidirectional by default, no
timeouts: one key is one session for the whole capture, packets kept in file order (never
sorted). With --bidir the key is unordered and a packet's direction is "up" when its source is
the source of the session's first packet.

Per-packet time t (seconds, float64) relative to the session's first packet in file order:
  timebase "official" (dpkt + FlowPic's generic_parser, Python 2):
      usec pcap:  a = float(sec) + usec / 1e6 (float64), t = round6(a - a_first)
      nsec pcap:  t = round6(float(exact (ns - ns_first) / 1e9))   (dpkt gives a Decimal)
      pcapng:     upstream converts the file with `editcap -F libpcap` first, which truncates
                  to microseconds (usec = nsec // 1000); then as usec pcap.
      round6 = Python 2.7 round(x, 6): correctly rounded, exact ties (x an odd multiple of
      1/128) away from zero (Python 3 would round them to even).
  timebase "ns": t = (ns - ns_first) / 1e9 (float64, correctly rounded, no rounding to 6 d.p.)

Windows (per session): last = t of the session's LAST packet IN FILE ORDER.
  rule "all" (upstream): count = int(last/S - W/S) + 1 (float64, int() truncates toward zero;
      negative -> none); window k: lo = k*S (float64), packets with lo <= t <= lo + W
      (end "closed", upstream) or lo <= t < lo + W (end "open", tcbench's t < 15).
  rule "first": only window 0 (mini / tcbench: one image per flow from its first packet).
  Direction: up/down keep only that direction's packets (bidir input); both and 2ch keep all.
  A window is kept if it has >= min_packets selected packets (official and mini: 11, i.e.
  "more than 10") and span = t_lastsel - t_firstsel > min_span (official: 50; span uses the
  first and last selected packets in file order; min_span < 0 disables the test). Both tests
  count packets BEFORE oversize packets are dropped (upstream histogram2d drops them later).

Binning (N = resolution, sizes in bytes, the canonical spec of section 1.6):
  size: L > 1500 -> dropped (oversize "drop") or L := 1500 (oversize "clip");
        row = min(floor(L*N/1500), N-1)     (integer arithmetic; N=1500: row = min(L, 1499))
  time: stretch 1: x = ((t - t0) / (t1 - t0)) * N, t0/t1 = first/last selected packet of the
        window in file order; if t1 == t0: x = 0 for every packet (our choice; numpy would give
        NaN and drop them -- upstream never gets there because span > 50 s is required);
        stretch 0: x = ((t - A) / W) * N, A = lo (anchor "window") or t0 (anchor "first");
        evaluated in this order in float64 (no FMA);
        packets with x outside [0, N] (or NaN) are dropped; col = min(floor(x), N-1).
  H[row][col] += 1 (channel 0 = up / all, channel 1 = down for 2ch).
  For N=1500 this equals np.histogram2d(L, x, bins=(range(1501), range(1501))) exactly
  (numpy >= 1.15: the last bin is closed, everything else half-open); the self-test checks it.
  tcbench bins the size as floor((L/1500)*N) in float64 (size_formula "tcbench"). That equals
  the integer formula for every L when N is a power of two (so for mini's N = 32 and N = 64) but
  NOT for 94 values of N in 1..2048, among them N = 1500 (e.g. L = 27 -> row 26), 50, 100, 150,
  ...; the self-test checks this. size_formula "int" (default) is the canonical formula.
Value: count -> uint16 (numpy astype: wraps modulo 65536); capped -> uint8 min(count, 255);
  norm -> float32 min(count,255) / 255 (float32 division; equal to float64 division cast).

window_start_ns = ns of the session's first packet + k * round(S * 1e9).
packets (index.csv) = packets counted into the image (after oversize / out-of-range drops).

Presets (explicit options override them):
  official: N 1500, W 60, S 60, rule all, end closed, stretch 1, oversize drop, value count,
            min_packets 11, min_span 50, timebase official, unidirectional.
  mini:     N 32, W 15, S 15, rule first, end open, stretch 0, anchor window, oversize clip,
            value capped, min_packets 11, min_span -1 (off), timebase ns, unidirectional
            (tcbench get_flowpic(dim=32, max_block_duration=15) on each session from its
            first packet; mini-FlowPic's MINIMUM_PKTS_FLOWPIC: > 10 packets with t < 15 s).

Function API (for tests with synthetic packets):
  histogram(sizes, x, N=1500, oversize="drop", channels=None) -> (H int64 [C,N,N], counted)
  session_images(t, sizes, dirs=None, **params) -> list of dict(window, lo, packets, image)
      t: float seconds relative to the session's first packet (file order);
      dirs: None or per packet 1 = up, 0 = down.
  rel_times_ns(ns_list, timebase="ns"|"official", kind="ns"|"us") -> float64 array
  build_images(capture_path, **params) -> (images array, index rows)
"""
import argparse
import csv
import math
import os
import struct
import sys
from decimal import Decimal, ROUND_HALF_UP
from fractions import Fraction

import numpy as np

MTU = 1500

PRESETS = {
    "official": dict(resolution=1500, window=60.0, step=60.0, rule="all", end="closed",
                     stretch=1, anchor="first", oversize="drop", value="count",
                     min_packets=11, min_span=50.0, timebase="official", bidir=False,
                     direction="both"),
    "mini": dict(resolution=32, window=15.0, step=15.0, rule="first", end="open",
                 stretch=0, anchor="window", oversize="clip", value="capped",
                 min_packets=11, min_span=-1.0, timebase="ns", bidir=False,
                 direction="both"),
}



# --------------------------------------------------------------------------------------------
# capture reading

class Packet:
    __slots__ = ("ns", "fl", "kind", "key", "size")

    def __init__(self, ns, fl, kind, key, size):
        self.ns = ns        # int, ns since the epoch
        self.fl = fl        # dpkt float timestamp (usec kinds), else None
        self.kind = kind    # "us" (usec pcap or pcapng via editcap) or "ns" (nsec pcap)
        self.key = key      # (src, sport, dst, dport, proto)
        self.size = size    # dpkt len(ip)


def _records_pcap(buf):
    magic_le = struct.unpack_from("<I", buf, 0)[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    magic = struct.unpack_from(e + "I", buf, 0)[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack_from(e + "I", buf, 20)[0] & 0x03FFFFFF
    off = 24
    n = len(buf)
    while off + 16 <= n:
        sec, frac, caplen, _olen = struct.unpack_from(e + "IIII", buf, off)
        off += 16
        if off + caplen > n:
            break
        data = buf[off:off + caplen]
        off += caplen
        if nano:
            yield sec * 1000000000 + frac, None, "ns", linktype, data
        else:
            yield sec * 1000000000 + frac * 1000, sec + frac / 1e6, "us", linktype, data


def _records_pcapng(buf):
    n = len(buf)
    off = 0
    e = "<"
    ifaces = []
    last_ns = 0
    while off + 12 <= n:
        btype = struct.unpack_from(e + "I", buf, off)[0]
        if btype == 0x0A0D0D0A:
            bom = buf[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack_from(e + "I", buf, off + 4)[0]
        if blen < 12 or off + blen > n:
            break
        body = buf[off + 8:off + blen - 4]
        off += blen
        if btype == 1:  # IDB
            linktype, snap = struct.unpack_from(e + "H2xI", body, 0)
            tsresol, tsoff = 6, 0
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(e + "HH", body, o)
                o += 4
                val = body[o:o + olen]
                o += (olen + 3) & ~3
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    tsresol = val[0]
                elif code == 14 and olen >= 8:
                    tsoff = struct.unpack_from(e + "q", val, 0)[0]
            ifaces.append((linktype, tsresol, tsoff, snap))
        elif btype in (6, 2):  # EPB, obsolete PB
            if btype == 6:
                ifid, hi, lo, caplen, _olen = struct.unpack_from(e + "IIIII", body, 0)
            else:
                ifid, _drops, hi, lo, caplen, _olen = struct.unpack_from(e + "HHIIII", body, 0)
            if ifid >= len(ifaces):
                continue
            linktype, tsresol, tsoff, _snap = ifaces[ifid]
            data = body[20:20 + caplen]
            units = (hi << 32) | lo
            if tsresol & 0x80:
                ns = (units * 1000000000) >> (tsresol & 0x7F)
            else:
                p = tsresol
                ns = units * 10 ** (9 - p) if p <= 9 else units // 10 ** (p - 9)
            ns += tsoff * 1000000000
            last_ns = ns
            # upstream: editcap -F libpcap (usec truncated, seconds cast to 32 bits), then
            # dpkt's sec + usec/1e6
            sec, rem = divmod(ns, 1000000000)
            yield ns, (sec & 0xFFFFFFFF) + (rem // 1000) / 1e6, "us", linktype, data
        elif btype == 3 and ifaces and len(body) >= 4:  # SPB: no timestamp
            olen = struct.unpack_from(e + "I", body, 0)[0]
            linktype, _r, _o, snap = ifaces[0]
            caplen = min(olen, snap) if snap else olen
            data = body[4:4 + caplen]
            # cuflow's reader gives an SPB the previous packet's time; editcap (upstream)
            # would give it 0 (1970)
            sec, rem = divmod(last_ns, 1000000000)
            yield last_ns, (sec & 0xFFFFFFFF) + (rem // 1000) / 1e6, "us", linktype, data
        # other blocks are skipped


def read_records(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24:
        return iter(())
    if buf[:4] == b"\x0a\x0d\x0d\x0a":
        return _records_pcapng(buf)
    m = buf[:4]
    if m in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        return _records_pcap(buf)
    raise ValueError("%s: not a pcap or pcapng file" % path)


_VLAN = (0x8100, 0x88A8, 0x9100, 0x9200)


def _ip_offset(linktype, d):
    """Offset of the IPv4 header in frame d, or -1."""
    if linktype == 1:
        if len(d) < 14:
            return -1
        et = (d[12] << 8) | d[13]
        o = 14
        for _ in range(8):
            if et not in _VLAN:
                break
            if len(d) < o + 4:
                return -1
            et = (d[o + 2] << 8) | d[o + 3]
            o += 4
        if et in (0x8847, 0x8848):  # MPLS: labels up to bottom of stack, then IPv4 by nibble
            while True:
                if len(d) < o + 4:
                    return -1
                bos = d[o + 2] & 1
                o += 4
                if bos:
                    break
            return o if len(d) > o and (d[o] >> 4) == 4 else -1
        return o if et == 0x0800 else -1
    if linktype == 113:
        if len(d) < 16:
            return -1
        return 16 if ((d[14] << 8) | d[15]) == 0x0800 else -1
    if linktype == 276:
        if len(d) < 20:
            return -1
        return 20 if ((d[0] << 8) | d[1]) == 0x0800 else -1
    if linktype in (101, 12, 14, 228):
        return 0
    if linktype in (0, 108):
        if len(d) < 4:
            return -1
        fam = struct.unpack_from("<I", d, 0)[0]
        if fam not in (2,):
            fam = struct.unpack_from(">I", d, 0)[0]
        return 4 if fam == 2 else -1
    return -1


def decode(linktype, d):
    """(key, size) for a kept IPv4 TCP/UDP packet, else None."""
    o = _ip_offset(linktype, d)
    if o < 0:
        return None
    ip = d[o:]
    if len(ip) < 20 or (ip[0] >> 4) != 4:
        return None
    ihl = (ip[0] & 0x0F) * 4
    if ihl < 20:
        return None
    tot = (ip[2] << 8) | ip[3]
    if ((ip[6] & 0x1F) << 8 | ip[7]) != 0:  # non-first fragment
        return None
    proto = ip[9]
    payload = ip[ihl:tot] if tot else ip[ihl:]
    if proto == 6:
        if len(payload) < 20 or (payload[12] >> 4) < 5:
            return None
    elif proto == 17:
        if len(payload) < 8:
            return None
    else:
        return None
    size = min(len(ip), ihl) + len(payload)
    sport = (payload[0] << 8) | payload[1]
    dport = (payload[2] << 8) | payload[3]
    src = "%d.%d.%d.%d" % tuple(ip[12:16])
    dst = "%d.%d.%d.%d" % tuple(ip[16:20])
    return (src, sport, dst, dport, proto), size


def read_packets(path):
    out = []
    for ns, fl, kind, linktype, data in read_records(path):
        r = decode(linktype, data)
        if r is None:
            continue
        out.append(Packet(ns, fl, kind, r[0], r[1]))
    return out


# --------------------------------------------------------------------------------------------
# time arithmetic

def round6_py2(x):
    """Python 2.7 round(x, 6): correctly rounded, exact ties away from zero."""
    r = round(x, 6)  # Python 3: correctly rounded, ties to even
    if math.isfinite(x):
        y = x * 128.0  # exact
        if y == math.floor(y) and int(y) % 2 == 1:  # x is an odd multiple of 1/128: a tie
            r = float(Decimal(x).quantize(Decimal("1e-6"), rounding=ROUND_HALF_UP))
    return r


def rel_time(p, p0, timebase):
    if timebase == "ns":
        return float(Fraction(p.ns - p0.ns, 1000000000))
    if p.kind == "ns":
        return round6_py2(float(Fraction(p.ns - p0.ns, 1000000000)))
    return round6_py2(p.fl - p0.fl)


def rel_times_ns(ns_list, timebase="ns", kind="ns"):
    """Relative times for a synthetic session given absolute integer ns timestamps."""
    ns_list = [int(v) for v in ns_list]
    out = []
    for v in ns_list:
        d = Fraction(v - ns_list[0], 1000000000)
        if timebase == "ns":
            out.append(float(d))
        elif kind == "ns":
            out.append(round6_py2(float(d)))
        else:
            a = (v // 1000000000) + ((v % 1000000000) // 1000) / 1e6
            a0 = (ns_list[0] // 1000000000) + ((ns_list[0] % 1000000000) // 1000) / 1e6
            out.append(round6_py2(a - a0))
    return np.array(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# binning

def size_rows(sizes, N, oversize, size_formula="int"):
    """(rows, keep mask)."""
    L = np.asarray(sizes, dtype=np.int64)
    if oversize == "clip":
        keep = np.ones(L.shape, dtype=bool)
        L = np.minimum(L, MTU)
    else:
        keep = L <= MTU
    keep &= L >= 0
    if size_formula == "tcbench":
        rows = np.floor((L / MTU) * N).astype(np.int64)
        rows = np.minimum(np.maximum(rows, 0), N - 1)
    else:
        rows = np.minimum((L * N) // MTU, N - 1)
    return rows, keep


def time_cols(x, N):
    x = np.asarray(x, dtype=np.float64)
    keep = (x >= 0.0) & (x <= float(N))  # NaN fails both
    cols = np.zeros(x.shape, dtype=np.int64)
    cols[keep] = np.minimum(np.floor(x[keep]).astype(np.int64), N - 1)
    return cols, keep


def histogram(sizes, x, N=1500, oversize="drop", channels=None, C=1, size_formula="int"):
    """H[c][row][col] as int64 counts and the number of packets counted."""
    rows, k1 = size_rows(sizes, N, oversize, size_formula)
    cols, k2 = time_cols(x, N)
    keep = k1 & k2
    ch = np.zeros(len(rows), dtype=np.int64) if channels is None else np.asarray(channels, np.int64)
    H = np.zeros((C, N, N), dtype=np.int64)
    np.add.at(H, (ch[keep], rows[keep], cols[keep]), 1)
    return H, int(keep.sum())


def convert_value(H, value):
    if value == "count":
        return H.astype(np.uint16)  # wraps modulo 65536 as numpy's astype does on x86-64
    capped = np.minimum(H, 255)
    if value == "capped":
        return capped.astype(np.uint8)
    if value == "norm":
        return capped.astype(np.float32) / np.float32(255.0)
    raise ValueError(value)


def window_count(last, S, W, rule):
    if rule == "first":
        return 1
    v = int(last / S - W / S) + 1  # int() truncates toward zero, as upstream
    return max(v, 0)


def session_images(t, sizes, dirs=None, resolution=1500, window=60.0, step=60.0, rule="all",
                   end="closed", stretch=1, anchor="first", oversize="drop", value="count",
                   min_packets=11, min_span=50.0, direction="both", size_formula="int",
                   **_ignored):
    """Images of one session. t: float64 seconds relative to the session's first packet, file
    order. dirs: None or 1 = up / 0 = down per packet. Returns a list of dicts."""
    t = np.asarray(t, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.int64)
    N = int(resolution)
    W = float(window)
    S = float(step)
    if dirs is None:
        dirs = np.ones(len(t), dtype=np.int64)
    dirs = np.asarray(dirs, dtype=np.int64)
    C = 2 if direction == "2ch" else 1
    if len(t) == 0:
        return []
    nwin = window_count(float(t[-1]), S, W, rule)
    out = []
    for k in range(nwin):
        lo = k * S
        hi = lo + W
        m = (t >= lo) & ((t <= hi) if end == "closed" else (t < hi))
        if direction == "up":
            m &= dirs == 1
        elif direction == "down":
            m &= dirs == 0
        tw = t[m]
        sw = sizes[m]
        dw = dirs[m]
        if len(tw) < min_packets:
            continue
        if len(tw) == 0:
            continue
        span = tw[-1] - tw[0]
        if min_span >= 0 and not (span > min_span):
            continue
        if stretch:
            D = tw[-1] - tw[0]
            if D == 0:
                x = np.zeros(len(tw), dtype=np.float64)
            else:
                x = ((tw - tw[0]) / D) * float(N)
        else:
            A = lo if anchor == "window" else tw[0]
            x = ((tw - A) / W) * float(N)
        ch = None
        if C == 2:
            ch = np.where(dw == 1, 0, 1)
        H, counted = histogram(sw, x, N, oversize, ch, C, size_formula)
        out.append(dict(window=k, lo=lo, packets=counted, image=convert_value(H, value)))
    return out


def resolve_params(preset, **over):
    p = dict(PRESETS[preset])
    for k, v in over.items():
        if v is not None:
            p[k] = v
    return p


def build_images(path, **params):
    pkts = read_packets(path)
    sessions = {}
    order = []
    for p in pkts:
        key = p.key
        if params.get("bidir"):
            a = (key[0], key[1])
            b = (key[2], key[3])
            skey = (min(a, b), max(a, b), key[4])
        else:
            skey = key
        s = sessions.get(skey)
        if s is None:
            s = sessions[skey] = [p.key, []]
            order.append(skey)
        s[1].append(p)
    step_ns = int(round(float(params["step"]) * 1e9))
    C = 2 if params.get("direction") == "2ch" else 1
    N = int(params["resolution"])
    images = []
    rows = []
    for skey in order:
        first_key, plist = sessions[skey]
        p0 = plist[0]
        t = np.array([rel_time(p, p0, params["timebase"]) for p in plist], dtype=np.float64)
        sz = np.array([p.size for p in plist], dtype=np.int64)
        dirs = np.array([1 if (p.key[0], p.key[1]) == (first_key[0], first_key[1]) else 0
                         for p in plist], dtype=np.int64)
        for im in session_images(t, sz, dirs, **params):
            images.append(im["image"])
            rows.append([first_key[0], first_key[1], first_key[2], first_key[3], first_key[4],
                         im["window"], p0.ns + im["window"] * step_ns, im["packets"], ""])
    dtype = {"count": np.uint16, "capped": np.uint8, "norm": np.float32}[params["value"]]
    if images:
        arr = np.stack(images).astype(dtype, copy=False)
    else:
        arr = np.zeros((0, C, N, N), dtype=dtype)
    return arr, rows


def write_outputs(outdir, arr, rows):
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "flowpic.npy"), arr)
    with open(os.path.join(outdir, "index.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["src_ip", "src_port", "dst_ip", "dst_port", "protocol", "window",
                    "window_start_ns", "packets", "label"])
        w.writerows(rows)


# --------------------------------------------------------------------------------------------
# self-test

def _check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok  " + what)


def _np_hist_official(sizes, x):
    edges = np.arange(MTU + 1)
    H, _, _ = np.histogram2d(np.asarray(sizes, dtype=np.float64), np.asarray(x, np.float64),
                             bins=(edges, edges))
    return H.astype(np.int64)


def _write_pcap(path, recs, linktype=1, nano=False, endian="<"):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        for ns, data in recs:
            sec, rem = divmod(ns, 1000000000)
            frac = rem if nano else rem // 1000
            f.write(struct.pack(endian + "IIII", sec, frac, len(data), len(data)))
            f.write(data)


def _write_pcapng(path, recs, linktype=1, tsresol=9, endian="<"):
    def block(btype, body):
        body += b"\0" * ((4 - len(body) % 4) % 4)
        L = 12 + len(body)
        return struct.pack(endian + "II", btype, L) + body + struct.pack(endian + "I", L)
    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)))
        opt = struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + \
            struct.pack(endian + "HH", 0, 0)
        f.write(block(1, struct.pack(endian + "HHI", linktype, 0, 65535) + opt))
        for ns, data in recs:
            if tsresol & 0x80:
                units = (ns << (tsresol & 0x7F)) // 1000000000
            else:
                units = ns // 10 ** (9 - tsresol)
            f.write(block(6, struct.pack(endian + "IIIII", 0, units >> 32, units & 0xFFFFFFFF,
                                         len(data), len(data)) + data))


def _ipv4(src, dst, proto, sport, dport, total, pad=0):
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, proto, 0,
                      bytes(src), bytes(dst))
    l4 = struct.pack(">HH", sport, dport)
    if proto == 6:
        l4 += struct.pack(">IIBBHHH", 0, 0, 0x50, 0x10, 0, 0, 0)
    else:
        l4 += struct.pack(">HH", total - 20, 0)
    body = hdr + l4
    body += b"\0" * (total - len(body))
    return body + b"\0" * pad


def make_golden(outdir):
    """Write small captures that exercise the golden cases through a whole pipeline:
    golden_official.pcap (usec, LE, Ethernet; one session has an 802.1Q tag),
    golden_official_ns.pcapng (same packets + 789 ns each, tsresol 9, BE),
    golden_mini.pcap (nsec, BE, Ethernet)."""
    os.makedirs(outdir, exist_ok=True)
    eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
    vlan = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x81\x00\x00\x07\x08\x00"
    A, B, Cc = [10, 0, 0, 1], [10, 0, 0, 2], [192, 168, 7, 9]
    t0 = 1600000000 * 10 ** 9 + 250000000
    sec = 10 ** 9
    recs = []
    # session 1 (TCP 10.0.0.1:1000 -> 10.0.0.2:80): windows 0 and 1, packet on the 60 s bound,
    # 100 B at t0, 1500 B at t0 + 55 s, a 1501 B packet (dropped in official)
    s1 = [(0, 100)] + [(5 * i * sec, 600) for i in range(1, 11)] + [(55 * sec, 1500),
                                                                   (57 * sec, 1501),
                                                                   (60 * sec, 777)]
    s1 += [(61 * sec + i * 5 * sec, 200) for i in range(12)] + [(120 * sec + 500000000, 300)]
    for dt, L in s1:
        recs.append((t0 + dt, eth + _ipv4(A, B, 6, 1000, 80, L)))
    # session 2 (the reverse direction): 3 packets, never an image
    for i in range(3):
        recs.append((t0 + i * 7 * sec + 123, eth + _ipv4(B, A, 6, 80, 1000, 52)))
    # session 3 (UDP over 802.1Q): 11 packets over 50.5 s -> one image; session 4: span = 50 s
    for i in range(11):
        recs.append((t0 + 2 * sec + i * 5050000000, vlan + _ipv4(A, Cc, 17, 5353, 53, 80 + i)))
        recs.append((t0 + 3 * sec + i * 5 * sec, eth + _ipv4(Cc, A, 17, 53, 5353, 90)))
    recs.sort(key=lambda r: r[0])
    _write_pcap(os.path.join(outdir, "golden_official.pcap"), recs, 1, False, "<")
    _write_pcapng(os.path.join(outdir, "golden_official_ns.pcapng"),
                  [(n_ + 789, d_) for n_, d_ in recs], 1, 9, ">")
    # mini: 300 packets in one pixel (saturation), a 1501 B packet (clipped to row 31), a
    # packet at exactly 15 s (excluded), a session with 10 packets (no image), ns ties
    recs = []
    for i in range(300):
        recs.append((t0 + i * 1000, eth + _ipv4(A, B, 17, 4000, 443, 100)))
    recs.append((t0 + 7812500, eth + _ipv4(A, B, 17, 4000, 443, 1501)))  # t = 1/128 s
    recs.append((t0 + 15 * sec, eth + _ipv4(A, B, 17, 4000, 443, 1200)))
    recs.append((t0 + 14 * sec + 999999999, eth + _ipv4(A, B, 17, 4000, 443, 1300)))
    for i in range(10):
        recs.append((t0 + i * sec, eth + _ipv4(B, A, 17, 443, 4000, 60)))
    recs.sort(key=lambda r: r[0])
    _write_pcap(os.path.join(outdir, "golden_mini.pcap"), recs, 1, True, ">")


def selftest():
    rng = np.random.default_rng(12345)
    # 1. integer binning == numpy histogram2d with edges 0..1500 (N = 1500)
    n = 200000
    L = rng.integers(0, 1700, n)
    L[:50] = 1500
    L[50:100] = 1501
    L[100:150] = 0
    x = rng.uniform(-5.0, 1505.0, n)
    x[:200] = rng.integers(0, 1501, 200).astype(np.float64)  # integer ties
    x[200:260] = 1500.0
    x[260:300] = np.nextafter(1500.0, 2000.0)
    x[300:340] = np.nextafter(1500.0, 0.0)
    x[340:380] = -0.0
    x[380:420] = np.nextafter(0.0, -1.0)
    x[420:440] = np.nan
    x[440:480] = np.nextafter(np.floor(x[440:480]) + 1.0, 0.0)  # just below an edge
    H, _ = histogram(L, x, 1500, "drop")
    _check(np.array_equal(H[0], _np_hist_official(L, x)),
           "integer binning == np.histogram2d(edges 0..1500) on %d packets with boundaries" % n)
    # 2. stretched time from float t, as upstream
    t = np.sort(rng.uniform(0, 60, 5000))
    t = np.array([round6_py2(v) for v in t])
    xs = ((t - t[0]) / (t[-1] - t[0])) * 1500.0
    Ls = rng.integers(40, 1600, len(t))
    H, _ = histogram(Ls, xs, 1500, "drop")
    _check(np.array_equal(H[0], _np_hist_official(Ls, xs)), "stretched window == np.histogram2d")
    # 3. size formula: integer vs tcbench float (L/1500)*N for all L, N in 1..2048
    bad = []
    Lall = np.arange(0, MTU + 1, dtype=np.int64)
    for N in range(1, 2049):
        f = np.floor((Lall / MTU) * N).astype(np.int64)
        f = np.minimum(f, N - 1)
        if not np.array_equal(f, np.minimum((Lall * N) // MTU, N - 1)):
            bad.append(N)
        fr, _ = size_rows(Lall, N, "drop", "tcbench")
        if not np.array_equal(fr, f):
            raise AssertionError("size_formula tcbench, N=%d" % N)
    _check(len(bad) == 94 and 1500 in bad and not any(N & (N - 1) == 0 for N in bad),
           "size row: floor(L*N/1500) == floor((L/1500)*N) for every power-of-two N; differs for "
           "%d N in 1..2048 (first: %s; N=1500 too)" % (len(bad), bad[:6]))
    # 3b. mini time: x = (t/15)*32 via histogram2d edges 0..32 == min(floor(x), 31)
    tt = rng.uniform(-1, 15, 100000)
    tt[:10] = np.nextafter(15.0, 0.0)
    tt[10:20] = 0.0
    xm = (tt / 15.0) * 32.0
    Lm = rng.integers(0, 2000, len(tt))
    Lc = np.minimum(Lm, 1500)
    Hm, _, _ = np.histogram2d((Lc / 1500) * 32, xm, bins=(range(33), range(33)))
    H, _ = histogram(Lm, xm, 32, "clip")
    _check(np.array_equal(H[0], Hm.astype(np.int64)), "mini binning == tcbench-style histogram2d")
    # 4. golden: 2-packet window, stretched (histogram level)
    x2 = ((np.array([0.0, 55.0]) - 0.0) / 55.0) * 1500.0
    H, c = histogram([100, 1500], x2, 1500, "drop")
    _check(H[0, 100, 0] == 1 and H[0, 1499, 1499] == 1 and c == 2 and H.sum() == 2,
           "golden 2-packet window: H[100][0] = 1, H[1499][1499] = 1")
    # 5. full pipeline official: 12 packets over 55 s
    tp = np.array([0.0] + [5.0 * i for i in range(1, 11)] + [55.0])
    sp = np.array([100] + [600] * 10 + [1500])
    ims = session_images(tp, sp, **PRESETS["official"])
    _check(len(ims) == 1 and ims[0]["image"][0, 100, 0] == 1 and
           ims[0]["image"][0, 1499, 1499] == 1 and ims[0]["packets"] == 12 and
           ims[0]["image"].dtype == np.uint16,
           "official pipeline: 12 packets / 55 s -> one uint16 image, corners set")
    # 6. 1501-byte packet: dropped in official, clipped in mini
    sp2 = sp.copy()
    sp2[5] = 1501
    ims = session_images(tp, sp2, **PRESETS["official"])
    _check(len(ims) == 1 and ims[0]["packets"] == 11 and int(ims[0]["image"].sum()) == 11,
           "official: 1501 B packet dropped (window still kept: 12 packets counted before drop)")
    tm = np.array([0.1 * i for i in range(12)])
    sm = np.array([1501] + [100] * 11)
    ims = session_images(tm, sm, **PRESETS["mini"])
    _check(len(ims) == 1 and ims[0]["image"][0, 31, 0] == 1 and ims[0]["packets"] == 12,
           "mini: 1501 B packet clipped to 1500 -> row 31")
    # 7. a packet exactly on the 60 s boundary lands in both windows
    tb = np.concatenate([np.linspace(0, 59, 12), [60.0], np.linspace(61, 119.5, 12), [120.5]])
    sb = np.full(len(tb), 200)
    sb[12] = 777
    ims = session_images(tb, sb, **PRESETS["official"])
    row = 777 * 1500 // 1500
    _check(len(ims) == 2 and ims[0]["image"][0, row].sum() == 1 and
           ims[1]["image"][0, row].sum() == 1 and ims[0]["image"][0, row, 1499] == 1 and
           ims[1]["image"][0, row, 0] == 1,
           "official: t = 60 s packet counted in windows 0 (last col) and 1 (first col)")
    # 8. window count rule
    wc = [window_count(v, 60.0, 60.0, "all") for v in (0.0, 59.9, 60.0, 119.999999, 120.0,
                                                        185.0, -30.0, -61.0)]
    _check(wc == [0, 1, 1, 1, 2, 3, 0, 0],
           "window count int(last/60 - 1) + 1 (last <= 0 -> none): %s" % wc)
    # 9. mini saturation at 255 and norm
    ts = np.concatenate([np.zeros(300), np.linspace(1, 14, 20), [15.0, 16.0]])
    ss = np.full(len(ts), 100)
    ims = session_images(ts, ss, **PRESETS["mini"])
    img = ims[0]["image"]
    _check(img.dtype == np.uint8 and img[0, 2, 0] == 255 and ims[0]["packets"] == 320,
           "mini: 300 packets in one pixel saturate at 255 (uint8); t >= 15 s excluded")
    p = dict(PRESETS["mini"], value="norm")
    imn = session_images(ts, ss, **p)[0]["image"]
    _check(imn.dtype == np.float32 and imn[0, 2, 0] == np.float32(1.0), "norm: 255 -> 1.0f")
    c = np.arange(256)
    _check(np.array_equal(c.astype(np.float32) / np.float32(255),
                          (c / 255.0).astype(np.float32)),
           "norm: float32 division == float64 division cast, for 0..255")
    # 10. min packets: 10 packets -> no image, 11 -> image
    t10 = np.linspace(0, 55, 10)
    _check(session_images(t10, np.full(10, 100), **PRESETS["official"]) == [],
           "official: 10 packets -> no image")
    t11 = np.linspace(0, 50, 11)
    _check(session_images(t11, np.full(11, 100), **PRESETS["official"]) == [],
           "official: span exactly 50 s -> no image (span must be > 50)")
    # 11. Python 2 round at ties
    _check(round6_py2(0.0078125) == 0.007813 and round(0.0078125, 6) == 0.007812 and
           round6_py2(-0.0234375) == -0.023438 and round6_py2(1.2345675) == round(1.2345675, 6),
           "round6_py2: exact ties away from zero (0.0078125 -> 0.007813)")
    # 12. uint16 wrap
    _check(convert_value(np.array([65535, 65536, 70000]), "count").tolist() == [65535, 0, 4464],
           "count: astype(uint16) wraps modulo 65536")
    # 12b. generic: direction split, 2 channels, overlapping windows, anchors
    n = 3000
    tg = np.sort(rng.uniform(0, 200, n))
    tg[0] = 0.0
    sg = rng.integers(40, 1600, n)
    dg = rng.integers(0, 2, n)
    g = dict(resolution=64, window=60.0, step=30.0, rule="all", end="closed", stretch=0,
             anchor="window", oversize="clip", value="count", min_packets=0, min_span=-1.0)
    both = session_images(tg, sg, dg, direction="both", **g)
    up = session_images(tg, sg, dg, direction="up", **g)
    down = session_images(tg, sg, dg, direction="down", **g)
    two = session_images(tg, sg, dg, direction="2ch", **g)
    ok = len(both) == len(up) == len(down) == len(two) == int(200 // 30 - 2 + 1)
    for a_, u_, d_, c_ in zip(both, up, down, two):
        ok &= np.array_equal(a_["image"][0], u_["image"][0] + d_["image"][0])
        ok &= np.array_equal(c_["image"][0], u_["image"][0])
        ok &= np.array_equal(c_["image"][1], d_["image"][0])
        ok &= c_["packets"] == u_["packets"] + d_["packets"]
    tot = sum(a_["packets"] for a_ in both)
    inw = sum(int(((tg >= k * 30.0) & (tg <= k * 30.0 + 60.0)).sum()) for k in range(len(both)))
    _check(ok and tot == inw, "generic: up + down == both, 2ch == [up, down], overlap step 30 / "
           "window 60 -> %d windows, %d packet placements" % (len(both), tot))
    fa = session_images(tg, sg, dg, direction="both", **dict(g, anchor="first"))
    _check(all(int(f_["image"].sum()) == f_["packets"] for f_ in fa) and
           fa[1]["image"][0][:, 0].sum() >= 1,
           "generic: anchor first puts the window's first packet in column 0")
    # 13. readers and decoders round trip
    import tempfile
    d = tempfile.mkdtemp()
    base = 1500000000 * 10 ** 9 + 123456789
    a, b = [10, 0, 0, 1], [10, 0, 0, 2]
    frames = []
    for i in range(5):
        ipb = _ipv4(a, b, 17 if i % 2 else 6, 1000 + i, 53, 60 + i, pad=7 if i == 0 else 0)
        frames.append((base + i * 1000001234, ipb))
    eth = b"\x00" * 12 + b"\x08\x00"
    vlan = b"\x00" * 12 + b"\x81\x00\x00\x05\x88\xa8\x00\x06\x08\x00"
    sll = b"\x00" * 14 + b"\x08\x00"
    cases = [
        ("us-le.pcap", lambda pth: _write_pcap(pth, [(n_, eth + f_) for n_, f_ in frames])),
        ("ns-be.pcap", lambda pth: _write_pcap(pth, [(n_, vlan + f_) for n_, f_ in frames],
                                                 nano=True, endian=">")),
        ("sll.pcap", lambda pth: _write_pcap(pth, [(n_, sll + f_) for n_, f_ in frames], 113)),
        ("raw.pcapng", lambda pth: _write_pcapng(pth, frames, 101, 9, ">")),
        ("eth6.pcapng", lambda pth: _write_pcapng(pth, [(n_, eth + f_) for n_, f_ in frames],
                                                   1, 6)),
    ]
    for name, wr in cases:
        pth = os.path.join(d, name)
        wr(pth)
        pk = read_packets(pth)
        exp_ns = [n_ if ("ns" in name or "raw" in name) else n_ // 1000 * 1000
                  for n_, _ in frames]
        ok = (len(pk) == 5 and [p_.size for p_ in pk] == [60, 61, 62, 63, 64] and
              [p_.ns for p_ in pk] == exp_ns and pk[1].key == ("10.0.0.1", 1001, "10.0.0.2",
                                                               53, 17))
        _check(ok, "reader/decoder round trip: %s" % name)
    # official timebase: usec pcap gives dpkt floats; nsec pcap exact decimal then round6
    pk = read_packets(os.path.join(d, "us-le.pcap"))
    sec = base // 10 ** 9
    usec = (base % 10 ** 9) // 1000
    a0 = sec + usec / 1e6
    _check(pk[0].fl == a0 and rel_time(pk[3], pk[0], "official") ==
           round6_py2((sec + 3 + ((base + 3000003702) % 10 ** 9 // 1000) / 1e6) - a0),
           "official timebase (usec): round6(a - a0), a = sec + usec/1e6")
    print("selftest passed")
    # optional: compare mini against tcbench's own get_flowpic if its augmentation.py is given
    tcb = os.environ.get("FLOWPIC_TCBENCH_AUGMENTATION")
    if tcb:
        _tcbench_check(tcb, rng)


def _tcbench_check(path, rng):
    """Load tcbench.modeling.augmentation.get_flowpic from the file at path (from the tcbench
    wheel) with torch/torchvision stubbed out (get_flowpic itself needs numpy only)."""
    import importlib.util
    import types
    for m in ("torch", "torchvision", "torchvision.transforms"):
        sys.modules.setdefault(m, types.ModuleType(m))
    spec = importlib.util.spec_from_file_location("tcb_aug", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for trial in range(3000):
        n = int(rng.integers(1, 400))
        t = np.sort(rng.uniform(0, 20, n))
        t[0] = 0.0
        if trial % 3 == 0:
            t = np.round(t * 1000) / 1000  # ties on bin edges
        s = rng.integers(0, 2000, n)
        if trial % 5 == 0:
            s[: n // 2] = 100
            t[: n // 2] = 0.0
        ref = mod.get_flowpic(t, s, dim=32, max_block_duration=15)
        ims = session_images(t, s, **dict(PRESETS["mini"], min_packets=0))
        ours = ims[0]["image"][0] if ims else np.zeros((32, 32), np.uint8)
        if not np.array_equal(ref, ours):
            raise AssertionError("tcbench mismatch at trial %d" % trial)
    print("ok  mini == tcbench get_flowpic on 3000 random sessions")


# --------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="FlowPic reference (see the module docstring)")
    ap.add_argument("capture", nargs="?")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--make-golden", metavar="DIR", dest="make_golden",
                    help="write golden_*.pcap[ng] test captures into DIR and exit")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="official")
    ap.add_argument("--resolution", type=int)
    ap.add_argument("--window", type=float)
    ap.add_argument("--step", type=float)
    ap.add_argument("--rule", choices=["all", "first"])
    ap.add_argument("--end", choices=["closed", "open"])
    ap.add_argument("--anchor", choices=["window", "first"])
    ap.add_argument("--stretch", type=int, choices=[0, 1])
    ap.add_argument("--oversize", choices=["drop", "clip"])
    ap.add_argument("--value", choices=["count", "capped", "norm"])
    ap.add_argument("--min-packets", type=int, dest="min_packets")
    ap.add_argument("--min-span", type=float, dest="min_span")
    ap.add_argument("--timebase", choices=["official", "ns"])
    ap.add_argument("--bidir", type=int, choices=[0, 1])
    ap.add_argument("--direction", choices=["up", "down", "both", "2ch"])
    ap.add_argument("--size-formula", choices=["int", "tcbench"], dest="size_formula")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    if a.selftest:
        selftest()
        return 0
    if a.make_golden:
        make_golden(a.make_golden)
        return 0
    if not a.capture or not a.out:
        ap.error("CAPTURE and --out are required")
    params = resolve_params(a.preset, resolution=a.resolution, window=a.window, step=a.step,
                            rule=a.rule, end=a.end, anchor=a.anchor, stretch=a.stretch,
                            oversize=a.oversize, value=a.value, min_packets=a.min_packets,
                            min_span=a.min_span, timebase=a.timebase,
                            bidir=None if a.bidir is None else bool(a.bidir),
                            direction=a.direction, size_formula=a.size_formula)
    if params["direction"] in ("up", "down", "2ch") and not params["bidir"]:
        ap.error("--direction up/down/2ch needs --bidir 1")
    arr, rows = build_images(a.capture, **params)
    write_outputs(a.out, arr, rows)
    print("%d images %s %s" % (arr.shape[0], arr.dtype, arr.shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())

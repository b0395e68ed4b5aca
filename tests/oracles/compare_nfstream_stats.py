#!/usr/bin/env python3
"""Compare the flow statistics of `cuflow flows` with NFStream itself.

    compare_nfstream_stats.py CAPTURE... --cuflow BIN [--json] [--examples N]

For each capture this runs

  NFStreamer(source=CAPTURE, statistical_analysis=True, idle_timeout=120,
             active_timeout=1800, accounting_mode=0, decode_tunnels=True,
             n_dissections=0, splt_analysis=0, n_meters=1)

and

  BIN flows --backend cpu --quiet --idle-timeout 120 --active-timeout 1800
            --tcp-end off --size wire --decap gtp,capwap,tzsp,ipip CAPTURE

pairs the flows and compares the 48 statistics NFStream computes: for
bidirectional, src2dst and dst2src, packets, bytes, min/mean/stddev/max
packet size, min/mean/stddev/max inter-arrival time and the 8 TCP flag
counters (plus first/last seen and duration). docs/nfstream-stats.md has the
method, the bounds and the results.

Pairing: the key is the unordered pair of endpoints (ip, port), the IP
protocol and the VLAN id (NFStream's ports are 0 for anything but TCP/UDP,
so cuflow's ports are ignored there too); the first-seen times must then
agree within 1 ms.

Tolerances. NFStream's packet time is t_ms = floor(t_us / 1000)
(lib_engine.c capture_next) and everything after that is integer ms; its
stddevs are sample ones (flow.py). With cuflow's times in ns:
  first/last seen    nf == floor(cu / 1e6)                          (exact)
  duration           nf == floor(cu_last / 1e6) - floor(cu_first / 1e6)
  min/max piat       floor(cu / 1e6) <= nf <= ceil(cu / 1e6)
  mean piat          |nf - cu / 1e6| < 1 / m,  m = packets - 1
                     (the m piats telescope to last - first)
  stddev piat        |nf - cu / 1e6| < sqrt(m / (m - 1))
                     (a sample stddev is a seminorm; each piat is off by
                     less than 1 ms)
  mean/stddev size   relative 1e-9 (both are running sums in doubles)
  everything else    exact (packets, bytes, min/max size, flag counts)
with a float slack of 1e-9 (relative, at least 1e-9 absolute) on the real
bounds.

Every difference is put under a named rule (RULES) only after checking its
evidence: the pairing rules are checked on the flows themselves (e.g. the
merged flows add up exactly), the packet rules by re-running both tools on a
copy of the capture without (or with corrected) packets of that kind: the
difference is explained when the flows of that key then agree.

Exit status: 0 when every difference is explained, 1 otherwise, 2 on a usage
error, 3 when a tool failed on a capture (e.g. NFStream's libpcap refuses
it), 4 when nfstream cannot be imported.
"""
import argparse
import csv
import ipaddress
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

IDLE_S, ACTIVE_S = 120, 1800
CUFLOW_ARGS = ["flows", "--backend", "cpu", "--quiet", "--idle-timeout", str(IDLE_S), "--active-timeout",
               str(ACTIVE_S), "--tcp-end", "off", "--size", "wire", "--decap", "gtp,capwap,tzsp,ipip", "--compat",
               "nfstream"]
DIRS = ("bidirectional", "src2dst", "dst2src")
FLAGS = ("syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin")
# The 16 per-direction quantities and how each is compared.
STATS = ([("first_seen", "time"), ("last_seen", "time"), ("duration", "duration"), ("packets", "exact"),
          ("bytes", "exact"), ("min_ps", "exact"), ("mean_ps", "real"), ("stddev_ps", "real"),
          ("max_ps", "exact"), ("min_piat", "piat_minmax"), ("mean_piat", "piat_mean"),
          ("stddev_piat", "piat_stddev"), ("max_piat", "piat_minmax")]
         + [(f + "_packets", "exact") for f in FLAGS])
COLUMNS = [d + "_" + s for d in DIRS for s, _ in STATS]
NS_PER_MS = 1000000
SLACK = 1e-9
U64 = 1 << 64

# Every difference must fall under one of these. "pairing" rules are checked
# on the flows, "packet" rules by a re-run on a corrected copy of the capture.
RULES = {
    "synack_direction": (
        "pairing", "cuflow makes the receiver of a flow's first TCP packet its source when that packet is a "
        "SYN-ACK (docs/flows.md, Key and direction; --orientation client); NFStream takes the first sender. "
        "--compat nfstream implies --orientation first-packet, so this is only seen with an older cuflow or an "
        "explicit --orientation client. Checked: the first packet is a SYN-ACK; the directions are then compared "
        "crosswise."),
    "vlan_outer_vs_inner": (
        "pairing", "with stacked 802.1Q tags cuflow keys the flow by the first (outer) VLAN id, NFStream by the "
        "innermost (nfstream_flows.md s4). Checked: the capture has frames tagged with exactly that outer/inner "
        "pair; the flows are then compared as usual."),
    "ns_clock_overflow": (
        "pairing", "cuflow keeps times as signed 64-bit ns, which end at 2262-04-11: a later timestamp is counted "
        "and the packet takes the previous packet's time (docs/capture-differences.md); NFStream's u64 ms goes on. "
        "Checked: NFStream's time is past the int64 ns range; the flows pair by key, and the times, durations and "
        "inter-arrival times are not compared."),
    "nfstream_signed_pcap_seconds": (
        "pairing", "in a little-endian classic pcap libpcap reads the seconds as a signed 32-bit number, so "
        "NFStream puts times past 2038-01-19 2^32 s earlier (wrapped in its u64 ms); cuflow reads them unsigned "
        "(nfstream_flows.md s2). Checked: NFStream's time + 2^32 s (mod 2^64 ms) is cuflow's."),
    "finer_keying": (
        "pairing", "cuflow keys ICMP/ICMPv6 by type/code (echo: identifier) and SCTP by its ports; NFStream gives "
        "every packet that is not TCP/UDP ports 0, so all such packets between two hosts are one flow "
        "(nfstream_flows.md s7-8). Checked: cuflow's flows, merged, give NFStream's packets, bytes, first/last "
        "seen, size min/mean/stddev/max and flags in each direction (piats cannot be merged)."),
    "gtp_teid_keying": (
        "pairing", "cuflow keys a GTP-U inner flow by the TEID, which differs per direction, so each direction "
        "is its own cuflow flow; NFStream keys by tunnel type (1). Checked as for finer_keying."),
    "pcapng_caplen_over_snaplen": (
        "packet", "libpcap (sf-pcapng.c) rejects a pcapng packet block whose captured length exceeds the "
        "interface's snaplen (e.g. GRO/TSO frames over a 1514 snaplen), so NFStream never sees it; cuflow "
        "reads it."),
    "pcapng_interface_rejected": (
        "packet", "libpcap rejects a pcapng interface whose link type or snaplen differs from the first "
        "interface's, and skips its packets; cuflow reads them."),
    "nfstream_unsupported_linktype": (
        "packet", "NFStream drops every packet of a link type its engine does not parse (e.g. Linux SLL2); "
        "cuflow decodes it (nfstream_flows.md s4)."),
    "nfstream_meters_non_ip": (
        "packet", "NFStream never checks the ether type: a non-IP frame (FabricPath, IS-IS/LLC, ...) whose byte "
        "at the IP offset looks like IPv4/IPv6 is metered; cuflow counts it non_ip (nfstream_flows.md s0, s4)."),
    "nfstream_no_8021ad": (
        "packet", "NFStream recognises only 0x8100 VLAN tags: behind an 802.1ad (0x88A8) or 0x9100 S-tag it reads "
        "the tag as the IP header and drops (or misreads) the frame; cuflow decodes the tags "
        "(nfstream_flows.md s4)."),
    "ppp_cisco_hdlc_framing": (
        "packet", "LINKTYPE_PPP frames with Cisco HDLC framing (first byte 0x0F/0x8F): NFStream (and Wireshark) "
        "decode the IP inside, cuflow counts them non_ip (nfstream_flows.md s4)."),
    "ip_length_zero": (
        "packet", "an IPv4 total length (IPv6 payload length) of 0, as in captures of TSO/GRO segments: cuflow "
        "takes the captured length (docs/flows.md); NFStream drops the IPv4 packet (tot_len < ihl*4) and gives "
        "the IPv6 one ports 0 (nfstream_flows.md s7)."),
    "tcp_bad_data_offset": (
        "packet", "a TCP header whose data offset is below 5 or beyond the IP length: cuflow skips the packet "
        "(bad_transport), NFStream meters it (it needs only 20 bytes of L4)."),
    "ah_walked": (
        "packet", "cuflow walks an IPsec AH header to the transport after it; NFStream keys the packet as "
        "protocol 51 with ports 0."),
    "damaged_capture": (
        "capture", "the file has a damaged record: cuflow stops reading there (exit status 2) while NFStream's "
        "libpcap loop goes on reading from the bytes after the bad record header (nfstream_flows.md s2), so "
        "NFStream meters garbage or later packets cuflow never sees. Checked: cuflow reported the damage."),
    "u16_size_wrap": (
        "packet", "NFStream's packet size is a uint16 (raw_size = hdr.len mod 65536, nfstream_flows.md s10); "
        "cuflow counts the full original length. Checked by re-running on a copy whose lengths are reduced "
        "mod 65536."),
}


# ---------------------------------------------------------------------------------------------------------------
# Running the two tools

def run_nfstream(path):
    """NFStream's flows as dicts: identity plus COLUMNS (times in ms)."""
    from nfstream import NFStreamer
    s = NFStreamer(source=path, decode_tunnels=True, bpf_filter=None, promiscuous_mode=True,
                   idle_timeout=IDLE_S, active_timeout=ACTIVE_S, accounting_mode=0, udps=None,
                   n_dissections=0, statistical_analysis=True, splt_analysis=0, n_meters=1,
                   performance_report=0, system_visibility_mode=0)
    rows = []
    for f in s:
        r = {k: getattr(f, k) for k in ("id", "src_ip", "dst_ip", "src_port", "dst_port", "protocol",
                                         "ip_version", "vlan_id", "tunnel_id")}
        for d in DIRS:
            for st, _ in STATS:
                name = d + "_" + st
                ms = st in ("first_seen", "last_seen", "duration") or "piat" in st
                r[name] = getattr(f, name + "_ms" if ms else name)
        rows.append(r)
    return rows


def run_cuflow(binary, path, tmpdir):
    """cuflow's flows as dicts (the _ns suffix dropped, times in ns) and its counters."""
    out = os.path.join(tmpdir, "flows.csv")
    p = subprocess.run([binary] + CUFLOW_ARGS + [path, "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode not in (0, 2) or not os.path.exists(out):
        raise RuntimeError("cuflow exited %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
    rows = []
    with open(out, newline="") as fh:
        for raw in csv.DictReader(fh):
            r = {}
            for k, v in raw.items():
                if k in ("src_ip", "dst_ip", "end_reason"):
                    r[k] = v
                elif "mean" in k or "stddev" in k or re.search(r"_p\d\d_ps$", k):
                    r[k[:-3] if k.endswith("_ns") else k] = float(v)
                else:
                    r[k[:-3] if k.endswith("_ns") else k] = int(v)
            rows.append(r)
    m = re.search(r"time backwards (\d+)", p.stderr)
    return rows, {"exit": p.returncode, "time_backwards": int(m.group(1)) if m else 0}


# ---------------------------------------------------------------------------------------------------------------
# Reading and writing captures (for the evidence of the rules; NFStream and cuflow read the files themselves)

class Rec:
    __slots__ = ("linktype", "ts_ns", "caplen", "wirelen", "data", "rejected")

    def __init__(self, linktype, ts_ns, caplen, wirelen, data, rejected=None):
        self.linktype, self.ts_ns, self.caplen, self.wirelen, self.data = linktype, ts_ns, caplen, wirelen, data
        self.rejected = rejected  # why libpcap would skip it, or None


def _adjust_snaplen(s):
    return 262144 if s == 0 or s > 0x7FFFFFFF else s


def read_capture(path):
    """Records of a classic pcap or pcapng file; None when the format is not handled."""
    with open(path, "rb") as fh:
        buf = fh.read()
    if buf[:2] == b"\x1f\x8b":
        return None  # libpcap (NFStream) does not read gzip
    if len(buf) < 24:
        return None
    for e in ("<", ">"):
        magic = struct.unpack(e + "I", buf[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            return _read_pcap(buf, e, magic == 0xA1B23C4D)
    if buf[:4] == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(buf)
    return None


def _read_pcap(buf, e, nano):
    snaplen, linktype = struct.unpack(e + "II", buf[16:24])
    linktype &= 0x03FFFFFF
    recs, off = [], 24
    while off + 16 <= len(buf):
        sec, frac, caplen, wirelen = struct.unpack(e + "IIII", buf[off:off + 16])
        off += 16
        if caplen > 262144 or off + caplen > len(buf):
            return None  # damaged; the rules are not checked on such files
        recs.append(Rec(linktype, sec * 1000000000 + (frac if nano else frac * 1000), caplen, wirelen,
                        buf[off:off + caplen]))
        off += caplen
    return recs


def _read_pcapng(buf):
    recs, off, e, ifs = [], 0, "<", []
    while off + 12 <= len(buf):
        btype = struct.unpack(e + "I", buf[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            e = "<" if buf[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifs = []
        blen = struct.unpack(e + "I", buf[off + 4:off + 8])[0]
        if blen < 12 or blen % 4 or off + blen > len(buf):
            return None
        body = buf[off + 8:off + blen - 4]
        if btype == 1:  # IDB
            lt, _, snap = struct.unpack(e + "HHI", body[:8])
            res, tsoff, o = 1000000, 0, 8
            while o + 4 <= len(body):
                code, ln = struct.unpack(e + "HH", body[o:o + 4])
                v = body[o + 4:o + 4 + ln]
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    res = 2 ** (v[0] & 0x7F) if v[0] & 0x80 else 10 ** v[0]
                if code == 14 and ln >= 8:
                    tsoff = struct.unpack(e + "q", v[:8])[0]
                o += 4 + ln + (-ln % 4)
            why = None
            if ifs and (lt != ifs[0][0] or _adjust_snaplen(snap) != ifs[0][1]):
                why = "pcapng_interface_rejected"
            ifs.append((lt, _adjust_snaplen(snap), res, tsoff, why))
        elif btype in (6, 2, 3) and ifs:
            if btype == 3:
                iface, (wirelen,) = 0, struct.unpack(e + "I", body[:4])
                t, caplen, data0 = 0, min(wirelen, ifs[0][1]), 4
            else:
                if btype == 6:
                    iface, hi, lo, caplen, wirelen = struct.unpack(e + "IIIII", body[:20])
                else:
                    iface, _, hi, lo, caplen, wirelen = struct.unpack(e + "HHIIII", body[:20])
                t, data0 = (hi << 32) | lo, 20
            if iface >= len(ifs):
                continue
            lt, snap, res, tsoff, why = ifs[iface]
            if why is None and caplen > snap:
                why = "pcapng_caplen_over_snaplen"
            ts_ns = (t // res + tsoff) * 1000000000 + (t % res) * 1000000000 // res
            recs.append(Rec(lt, ts_ns, caplen, wirelen, body[data0:data0 + caplen], why))
        off += blen
    return recs


def write_pcap(path, recs):
    """Classic pcap, nanosecond magic, little-endian; False when the records cannot be written as one."""
    lts = {r.linktype for r in recs}
    if len(lts) > 1 or any(r.ts_ns < 0 or r.ts_ns >= (1 << 32) * 1000000000 for r in recs):
        return False
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, lts.pop() if lts else 1))
        for r in recs:
            fh.write(struct.pack("<IIII", r.ts_ns // 1000000000, r.ts_ns % 1000000000, len(r.data), r.wirelen))
            fh.write(r.data)
    return True


# ---------------------------------------------------------------------------------------------------------------
# A small decoder, for the evidence only (Ethernet with 802.1Q/802.1ad, raw IP, NULL, Linux SLL, PPP)

NFSTREAM_LINKTYPES = {0, 1, 9, 12, 101, 50, 104, 113, 127, 228, 229}
IP_ETHERTYPES = {0x0800, 0x86DD}
CUFLOW_L2_ETHERTYPES = {0x8100, 0x88A8, 0x9100, 0x8847, 0x8848, 0x8864}


def decode(lt, d):
    """{'vlans', 'ethertype', 'nf_ip_off', 'ip': {...}} or None when no link layer is recognised."""
    out = {"vlans": [], "ethertype": None, "nf_ip_off": None, "ip": None}
    off = None
    if lt == 1 and len(d) >= 14:
        et, off = struct.unpack(">H", d[12:14])[0], 14
        nf_off, nf_vlan = 14, True
        while et in (0x8100, 0x88A8, 0x9100) and off + 4 <= len(d):
            out["vlans"].append((et, struct.unpack(">H", d[off:off + 2])[0] & 0xFFF))
            if et == 0x8100 and nf_vlan:
                nf_off += 4
            else:
                nf_vlan = False
            et, off = struct.unpack(">H", d[off + 2:off + 4])[0], off + 4
        if et <= 1500 and len(d) > 16 and 0xAA in (d[14], d[15]):
            nf_off += 8  # LLC/SNAP (NFStream)
        out["ethertype"], out["nf_ip_off"] = et, nf_off
        if et not in IP_ETHERTYPES:
            return out
    elif lt in (12, 101, 228, 229):
        off = 0
    elif lt == 0 and len(d) >= 4:
        fam = struct.unpack("<I", d[:4])[0]
        if fam not in (2, 10, 24, 28, 30) and struct.unpack(">I", d[:4])[0] not in (2, 10, 24, 28, 30):
            out["nf_ip_off"] = 4  # not an address family cuflow knows; NFStream parses it anyway
            return out
        off = 4
    elif lt == 113 and len(d) >= 16:
        out["ethertype"] = struct.unpack(">H", d[14:16])[0]
        if out["ethertype"] not in IP_ETHERTYPES:
            return out
        off = 16
    elif lt in (9, 104) and len(d) >= 4 and d[0] in (0x0F, 0x8F):  # Cisco HDLC framing
        out["ethertype"], out["nf_ip_off"] = struct.unpack(">H", d[2:4])[0], 4
        if lt == 9 or out["ethertype"] not in IP_ETHERTYPES:
            out["chdlc_on_ppp"] = lt == 9
            return out
        off = 4
    elif lt == 9 and len(d) >= 4:
        off = 4 if d[:2] == b"\xff\x03" else 2
        if struct.unpack(">H", d[off - 2:off])[0] not in (0x21, 0x57):
            return out
    else:
        return None
    out["ip"] = decode_ip(d, off)
    return out


def decode_ip(d, off):
    if off + 20 > len(d):
        return None
    v = d[off] >> 4
    if v == 4:
        ihl = (d[off] & 15) * 4
        tot, frag, proto = struct.unpack(">H", d[off + 2:off + 4])[0], struct.unpack(">H", d[off + 6:off + 8])[0], d[off + 9]
        ip = {"v": 4, "src": ipaddress.ip_address(d[off + 12:off + 16]).compressed,
              "dst": ipaddress.ip_address(d[off + 16:off + 20]).compressed, "proto": proto, "l4": off + ihl,
              "l4_len": tot - ihl, "frag": frag & 0x1FFF, "len0": tot == 0}
    elif v == 6 and off + 40 <= len(d):
        nh, l4, plen = d[off + 6], off + 40, struct.unpack(">H", d[off + 4:off + 6])[0]
        ip = {"v": 6, "src": ipaddress.ip_address(d[off + 8:off + 24]).compressed,
              "dst": ipaddress.ip_address(d[off + 24:off + 40]).compressed, "frag": 0}
        while nh in (0, 43, 60, 44) and l4 + 8 <= len(d):
            if nh == 44:
                ip["frag"] = struct.unpack(">H", d[l4 + 2:l4 + 4])[0] >> 3
                nh, l4 = d[l4], l4 + 8
            else:
                nh, l4 = d[l4], l4 + (d[l4 + 1] + 1) * 8
        ip.update(proto=nh, l4=l4, l4_len=off + 40 + plen - l4, len0=plen == 0 and nh != 59)
    else:
        return None
    ip["outer_proto"] = ip["proto"]
    l4 = ip["l4"]
    if ip["proto"] in (6, 17) and not ip["frag"] and l4 + 4 <= len(d):
        ip["sport"], ip["dport"] = struct.unpack(">HH", d[l4:l4 + 4])
        if ip["proto"] == 6 and l4 + 14 <= len(d):
            ip["doff"], ip["tcp_flags"] = d[l4 + 12] >> 4, d[l4 + 13]
    return ip


def packet_rule(rec, dec):
    """The packet rule under which NFStream and cuflow see this record differently, or None."""
    if rec.rejected:
        return rec.rejected
    if rec.linktype not in NFSTREAM_LINKTYPES:
        return "nfstream_unsupported_linktype"
    if dec is None:
        return None
    if dec.get("chdlc_on_ppp") and dec["ethertype"] in IP_ETHERTYPES:
        return "ppp_cisco_hdlc_framing"
    if dec["vlans"] and dec["vlans"][0][0] != 0x8100:
        return "nfstream_no_8021ad"
    nf_off = dec["nf_ip_off"]
    if (dec["ip"] is None and nf_off is not None and dec["ethertype"] not in IP_ETHERTYPES | CUFLOW_L2_ETHERTYPES
            and len(rec.data) >= nf_off + 20 and rec.data[nf_off] >> 4 in (4, 6)):
        return "nfstream_meters_non_ip"
    ip = dec["ip"]
    if ip is None:
        return None
    if ip["len0"]:
        return "ip_length_zero"
    if ip["proto"] == 51:
        return "ah_walked"
    if ip["proto"] == 6 and "doff" in ip and ip["l4_len"] >= 20 and not (20 <= ip["doff"] * 4 <= ip["l4_len"]):
        return "tcp_bad_data_offset"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Pairing and comparing

def norm_ip(s):
    try:
        return ipaddress.ip_address(s).compressed
    except ValueError:
        return s


def endpoints(r):
    ports = r["protocol"] in (6, 17)
    return ((norm_ip(r["src_ip"]), r["src_port"] if ports else 0),
            (norm_ip(r["dst_ip"]), r["dst_port"] if ports else 0))


def flow_key(r, vlan=True):
    a, b = endpoints(r)
    return (min(a, b), max(a, b), r["protocol"], r["vlan_id"] if vlan else None)


def first_dt(n, c, wrap):
    """|cuflow's first seen in ms - NFStream's|, with cuflow's time taken modulo 2^64 ns when wrap."""
    cu = c["bidirectional_first_seen"]
    if wrap:
        return abs(((cu - n["bidirectional_first_seen"] * NS_PER_MS + NS_PER_MS) % U64) // NS_PER_MS - 1)
    return abs(cu // NS_PER_MS - n["bidirectional_first_seen"])


def pair_by_first(ns, cs, wrap=False):
    """Greedy pairing of two lists of flows of one key by first-seen time (within 1 ms)."""
    ns = sorted(ns, key=lambda r: r["bidirectional_first_seen"])
    taken, pairs, nf_left = [False] * len(cs), [], []
    for n in ns:
        best = None
        for i, c in enumerate(cs):
            if taken[i]:
                continue
            dt = first_dt(n, c, wrap)
            if dt <= 1:
                score = (dt, c["bidirectional_packets"] != n["bidirectional_packets"])
                if best is None or score < best[0]:
                    best = (score, i)
        if best is None:
            nf_left.append(n)
        else:
            taken[best[1]] = True
            pairs.append((n, cs[best[1]]))
    return pairs, nf_left, [c for i, c in enumerate(cs) if not taken[i]]


def unwrap_times(n, c):
    """cuflow's row with its times left out of the comparison (ns_clock_overflow): cuflow cannot represent
    NFStream's times there, it counts them and uses the previous packet's time."""
    v = dict(c)
    for d in DIRS:
        for st, kind in STATS:
            if kind in ("time", "duration") or "piat" in kind:
                v[d + "_" + st] = None
    return v


def unsign_seconds(n):
    """NFStream's row with its times moved 2^32 s later, modulo 2^64 ms (nfstream_signed_pcap_seconds)."""
    v = dict(n)
    for d in DIRS:
        if n[d + "_packets"]:
            for st in ("first_seen", "last_seen"):
                v[d + "_" + st] = (n[d + "_" + st] + (1 << 32) * 1000) % U64
    return v


def swapped(n, c):
    """True when cuflow's source is NFStream's destination."""
    (ns, nd), (cs, cd) = endpoints(n), endpoints(c)
    return ns != nd and ns == cd and nd == cs


def cu_view(c, swap):
    if not swap:
        return c
    v = dict(c)
    for s, _ in STATS:
        v["src2dst_" + s], v["dst2src_" + s] = c["dst2src_" + s], c["src2dst_" + s]
    return v


def agree(kind, d, stat, nfv, c):
    """(agrees, exact) for NFStream's value nfv and cuflow's (direction-mapped) row c."""
    cuv = c.get(d + "_" + stat)
    if cuv is None:
        return True, True  # not comparable (merged flows: piats)
    if kind == "exact":
        return nfv == cuv, nfv == cuv
    if kind == "real":
        return abs(nfv - cuv) <= SLACK * max(1.0, abs(nfv), abs(cuv)), nfv == cuv
    pk = c[d + "_packets"]
    if kind == "time":
        if not pk:
            return nfv == 0, nfv == 0
        return cuv // NS_PER_MS == nfv, cuv // NS_PER_MS == nfv
    if kind == "duration":
        want = c[d + "_last_seen"] // NS_PER_MS - c[d + "_first_seen"] // NS_PER_MS if pk else 0
        return nfv == want, nfv == want
    m = pk - 1  # inter-arrival times
    if kind == "piat_minmax":
        if m < 1:
            return nfv == 0, nfv == 0
        return cuv // NS_PER_MS <= nfv <= -(-cuv // NS_PER_MS), nfv * NS_PER_MS == cuv
    cu_ms = cuv / NS_PER_MS
    need = 1 if kind == "piat_mean" else 2
    if m < need:
        return nfv == 0, nfv == 0
    bound = 1.0 / m if kind == "piat_mean" else math.sqrt(m / (m - 1.0))
    err, slack = abs(nfv - cu_ms), SLACK * max(1.0, abs(cu_ms))
    return err < bound + slack, err <= slack


def compare_pair(n, c):
    """({column: (nf, cu)} of the columns that disagree, {column: 'exact'|'bound'|'skip'})."""
    bad, how = {}, {}
    for d in DIRS:
        for st, kind in STATS:
            col = d + "_" + st
            if col not in c:
                how[col] = "skip"
                continue
            ok, ex = agree(kind, d, st, n[col], c)
            how[col] = "exact" if ex else "bound"
            if not ok:
                bad[col] = (n[col], c[col])
    return bad, how


def merge_flows(n, parts):
    """cuflow's flows `parts`, merged into NFStream's flow n's directions (piat columns left out)."""
    (nsrc, _) = endpoints(n)
    acc = {d: [] for d in DIRS}
    for c in parts:
        same = endpoints(c)[0][0] == nsrc[0]  # by source address (ports are 0 in NFStream's view)
        acc["bidirectional"].append((c, "bidirectional"))
        acc["src2dst"].append((c, "src2dst" if same else "dst2src"))
        acc["dst2src"].append((c, "dst2src" if same else "src2dst"))
    m = {}
    for d in DIRS:
        segs = [(c, cd) for c, cd in acc[d] if c[cd + "_packets"]]
        N = sum(c[cd + "_packets"] for c, cd in segs)
        m[d + "_packets"] = N
        m[d + "_bytes"] = sum(c[cd + "_bytes"] for c, cd in segs)
        for f in FLAGS:
            m[d + "_" + f + "_packets"] = sum(c[cd + "_" + f + "_packets"] for c, cd in segs)
        if not N:
            for st in ("first_seen", "last_seen", "duration", "min_ps", "max_ps", "mean_ps", "stddev_ps"):
                m[d + "_" + st] = 0
            continue
        m[d + "_first_seen"] = min(c[cd + "_first_seen"] for c, cd in segs)
        m[d + "_last_seen"] = max(c[cd + "_last_seen"] for c, cd in segs)
        m[d + "_duration"] = m[d + "_last_seen"] - m[d + "_first_seen"]
        m[d + "_min_ps"] = min(c[cd + "_min_ps"] for c, cd in segs)
        m[d + "_max_ps"] = max(c[cd + "_max_ps"] for c, cd in segs)
        mean = sum(c[cd + "_packets"] * c[cd + "_mean_ps"] for c, cd in segs) / N
        m2 = sum((c[cd + "_packets"] - 1) * c[cd + "_stddev_ps"] ** 2
                 + c[cd + "_packets"] * (c[cd + "_mean_ps"] - mean) ** 2 for c, cd in segs)
        m[d + "_mean_ps"] = mean
        m[d + "_stddev_ps"] = math.sqrt(m2 / (N - 1)) if N > 1 else 0.0
    return m


def merge_explain(ns, cs):
    """Merged pairs [(n, merged)] when every cuflow flow of the key lies in one NFStream flow and every
    NFStream flow gets at least one; else None."""
    groups = {id(n): [] for n in ns}
    for c in cs:
        t = c["bidirectional_first_seen"] // NS_PER_MS
        home = [n for n in ns if n["bidirectional_first_seen"] - 1 <= t <= n["bidirectional_last_seen"] + 1]
        if not home:
            return None
        groups[id(min(home, key=lambda n: abs(n["bidirectional_first_seen"] - t)))].append(c)
    if any(not groups[id(n)] for n in ns):
        return None
    return [(n, merge_flows(n, groups[id(n)])) for n in ns]


# ---------------------------------------------------------------------------------------------------------------
# One analysis of one capture (both tools' flows given)

class Analysis:
    def __init__(self, nf, cu, recs):
        self.recs = recs
        self.decoded = None
        self.pairs = []       # (n, c_view, rule or None, bad, how)
        self.diffs = {}       # key -> list of (what, detail): unexplained so far
        self._run(nf, cu)

    def _dec(self):
        if self.decoded is None:
            self.decoded = [decode(r.linktype, r.data) for r in (self.recs or [])]
        return self.decoded

    def _vlan_pairs(self):
        s = set()
        for dec in self._dec():
            if dec and len(dec["vlans"]) >= 2:
                inner = [v for et, v in dec["vlans"] if et == 0x8100]
                s.add((dec["vlans"][0][1], inner[-1] if inner else 0))
        return s

    def _first_is_synack(self, n):
        (sa, sp), (da, dp) = endpoints(n)
        t = n["bidirectional_first_seen"]
        for r, dec in zip(self.recs or [], self._dec()):
            ip = dec and dec["ip"]
            if (ip and ip["proto"] == 6 and ip.get("sport") == sp and ip.get("dport") == dp
                    and ip["src"] == sa and ip["dst"] == da and r.ts_ns // NS_PER_MS >= t - 1):
                return ip.get("tcp_flags", 0) & 0x12 == 0x12
        return False

    def _add(self, n, c, rule=None, wrap=False):
        sw = swapped(n, c) if "src_ip" in c else False
        view = cu_view(c, sw)
        if wrap:
            view = unwrap_times(n, view)
        if sw and rule is None:
            rule = "synack_direction" if n["protocol"] == 6 and self._first_is_synack(n) else "swapped_not_synack"
        bad, how = compare_pair(n, view)
        self.pairs.append((n, view, rule, bad, how))
        if bad or rule == "swapped_not_synack":
            self.diffs.setdefault(flow_key(n), []).append(
                ("columns", "%s: %s" % (describe(n, "nf"), ", ".join(
                    "%s nf %s cu %s" % (k, v[0], v[1]) for k, v in list(bad.items())[:4]))))

    def _run(self, nf, cu):
        by_key = {}
        for r in nf:
            by_key.setdefault(flow_key(r), ([], []))[0].append(r)
        for r in cu:
            by_key.setdefault(flow_key(r), ([], []))[1].append(r)
        left_n, left_c = [], []
        for key, (ns, cs) in by_key.items():
            pairs, ln, lc = pair_by_first(ns, cs)
            if (ln or lc or any(n["bidirectional_packets"] != c["bidirectional_packets"] for n, c in pairs)) \
                    and ns and cs and (key[2] not in (6, 17) or any(c["tunnel_id"] for c in cs)):
                merged = merge_explain(ns, cs)
                if merged is not None:
                    rule = "finer_keying" if key[2] not in (6, 17) else "gtp_teid_keying"
                    for n, m in merged:
                        self._add(n, m, rule)
                    continue
            for n, c in pairs:
                self._add(n, c)
            left_n += ln
            left_c += lc
        # Pairing rules for what is left: VLAN outer/inner, ns clock overflow.
        if left_n and left_c:
            vp = self._vlan_pairs() if self.recs else set()
            ln2 = []
            for n in left_n:
                hit = None
                for c in left_c:
                    if flow_key(c, False) != flow_key(n, False):
                        continue
                    if (c["vlan_id"], n["vlan_id"]) in vp and first_dt(n, c, False) <= 1:
                        hit = (c, "vlan_outer_vs_inner", False)
                    elif (c["vlan_id"] == n["vlan_id"] and n["bidirectional_first_seen"] * NS_PER_MS >= 1 << 63
                          and n["bidirectional_first_seen"] < 1 << 63):
                        hit = (c, "ns_clock_overflow", True)
                    elif (c["vlan_id"] == n["vlan_id"] and n["bidirectional_first_seen"] >= 1 << 63
                          and first_dt(unsign_seconds(n), c, False) <= 1):
                        n = unsign_seconds(n)
                        hit = (c, "nfstream_signed_pcap_seconds", False)
                    if hit:
                        break
                if hit:
                    left_c.remove(hit[0])
                    self._add(n, hit[0], hit[1], hit[2])
                else:
                    ln2.append(n)
            left_n = ln2
        for n in left_n:
            self.diffs.setdefault(flow_key(n), []).append(("nfstream_only", describe(n, "nf")))
        for c in left_c:
            self.diffs.setdefault(flow_key(c), []).append(("cuflow_only", describe(c, "cu")))


def describe(r, who):
    a, b = endpoints(r)
    return "%s flow %s:%s <-> %s:%s proto %d vlan %d first %s packets %d bytes %d" % (
        who, a[0], a[1], b[0], b[1], r["protocol"], r["vlan_id"], r["bidirectional_first_seen"],
        r["bidirectional_packets"], r["bidirectional_bytes"])


# ---------------------------------------------------------------------------------------------------------------
# Per capture

def analyse_capture(path, cuflow, examples):
    rep = {"capture": path}
    try:
        nf = run_nfstream(path)
    except Exception as e:  # noqa: NFStream raises plain exceptions for unreadable files
        rep["error"] = "nfstream: %s" % e
        return rep
    with tempfile.TemporaryDirectory() as td:
        try:
            cu, info = run_cuflow(cuflow, path, td)
        except RuntimeError as e:
            rep["error"] = str(e)
            return rep
        recs = read_capture(path)
        a = Analysis(nf, cu, recs)
        explained = {}  # key -> rule
        if a.diffs and recs:
            explained = packet_rules(a, recs, cuflow, td)
        if info["exit"] == 2:  # cuflow found the file damaged (read_capture gave up too)
            for key in a.diffs:
                explained.setdefault(key, "damaged_capture")
    rep.update(nfstream_flows=len(nf), cuflow_flows=len(cu), cuflow_time_backwards=info["time_backwards"],
               cuflow_exit=info["exit"])
    rep["pairs"] = len(a.pairs)
    pair_rules = {}
    for n, c, rule, bad, how in a.pairs:
        if rule:
            pair_rules[rule] = pair_rules.get(rule, 0) + 1
    rep["pairs_by_rule"] = pair_rules
    # Per-column tally.
    cols = {col: {"compared": 0, "exact": 0, "bound": 0, "differ": 0, "skip": 0, "max_abs_err": 0.0,
                  "max_rel_err": 0.0} for col in COLUMNS}
    diffs_by_rule, unexplained = {}, []
    for n, c, rule, bad, how in a.pairs:
        key = flow_key(n)
        for col in COLUMNS:
            t = cols[col]
            if how[col] == "skip":
                t["skip"] += 1
                continue
            t["compared"] += 1
            if col in bad:
                t["differ"] += 1
                why = explained.get(key, "unexplained")
                t.setdefault("by_rule", {})[why] = t.setdefault("by_rule", {}).get(why, 0) + 1
                if len(t.setdefault("examples", [])) < examples:
                    t["examples"].append("%s (%s): nf %s cu %s" % (describe(n, "nf"), why, bad[col][0],
                                                                    bad[col][1]))
            else:
                t[how[col]] += 1
                if "piat" in col and how[col] == "bound":  # ms
                    t["max_abs_err"] = max(t["max_abs_err"], abs(n[col] - c[col] / NS_PER_MS))
                elif how[col] == "bound":  # mean/stddev of sizes
                    t["max_rel_err"] = max(t["max_rel_err"], abs(n[col] - c[col]) / max(1.0, abs(n[col])))
    for key, items in a.diffs.items():
        why = explained.get(key)
        for what, detail in items:
            if why:
                diffs_by_rule.setdefault(why, []).append(what + ": " + detail)
            else:
                unexplained.append(what + ": " + detail)
    rep["columns"] = cols
    rep["differences_by_rule"] = {k: {"count": len(v), "examples": v[:examples]} for k, v in diffs_by_rule.items()}
    for rule, k in pair_rules.items():
        if rule in RULES:
            rep["differences_by_rule"].setdefault(rule, {"count": 0, "examples": []})
            rep["differences_by_rule"][rule]["pairs"] = k
    rep["unexplained"] = unexplained
    return rep


def packet_rules(a, recs, cuflow, td):
    """Re-runs both tools on corrected copies; {key: rule} for the difference keys that then agree."""
    dec = a._dec()
    by_rule = {}
    for i, (r, d) in enumerate(zip(recs, dec)):
        rule = packet_rule(r, d)
        if rule:
            by_rule.setdefault(rule, set()).add(i)
    if any(r.wirelen > 65535 for r in recs):
        by_rule["u16_size_wrap"] = None
    explained = {}
    todo = set(a.diffs)
    order = sorted(by_rule) + (["+".join(sorted(by_rule))] if len(by_rule) > 1 else [])
    for name in order:
        if not todo:
            break
        names = name.split("+")
        drop = set()
        for nm in names:
            drop |= by_rule[nm] or set()
        wrap = "u16_size_wrap" in names
        copy = []
        for i, r in enumerate(recs):
            if i in drop:
                continue
            if wrap and r.wirelen > 65535:
                r = Rec(r.linktype, r.ts_ns, r.caplen, r.wirelen % 65536, r.data, None)
            copy.append(r)
        p = os.path.join(td, "rerun.pcap")
        if not write_pcap(p, copy):
            continue
        try:
            b = Analysis(run_nfstream(p), run_cuflow(cuflow, p, td)[0], copy)
        except Exception:  # noqa: a failed re-run explains nothing
            continue
        for key in list(todo):
            if key not in b.diffs:
                explained[key] = name
                todo.discard(key)
    return explained


def print_report(rep, out):
    w = out.write
    w("== %s\n" % rep["capture"])
    if "error" in rep:
        w("   ERROR %s\n" % rep["error"])
        return
    w("   flows: NFStream %d, cuflow %d; compared pairs %d %s; cuflow time-backwards %d\n" % (
        rep["nfstream_flows"], rep["cuflow_flows"], rep["pairs"],
        json.dumps(rep["pairs_by_rule"]) if rep["pairs_by_rule"] else "", rep["cuflow_time_backwards"]))
    for col, t in rep["columns"].items():
        if t["differ"] or t["bound"]:
            w("   %-34s compared %5d exact %5d within-bound %5d differ %3d%s%s\n" % (
                col, t["compared"], t["exact"], t["bound"], t["differ"],
                " " + json.dumps(t.get("by_rule")) if t["differ"] else "",
                "  max|err| %.3f ms" % t["max_abs_err"] if t["max_abs_err"] else
                "  max rel err %.1e" % t["max_rel_err"] if t["max_rel_err"] else ""))
            for e in t.get("examples", []):
                w("      e.g. %s\n" % e)
    for rule, d in rep["differences_by_rule"].items():
        w("   explained by %s: %d flow difference(s)%s\n" % (
            rule, d["count"], ", %d pair(s)" % d["pairs"] if d.get("pairs") else ""))
        for e in d["examples"]:
            w("      e.g. %s\n" % e)
    for u in rep["unexplained"]:
        w("   UNEXPLAINED %s\n" % u)
    w("   %s\n" % ("all differences explained" if not rep["unexplained"] else
                   "%d unexplained difference(s)" % len(rep["unexplained"])))


def main(argv=None):
    ap = argparse.ArgumentParser(description="cuflow flows' statistics against NFStream itself")
    ap.add_argument("captures", nargs="*", metavar="CAPTURE")
    ap.add_argument("--cuflow", help="the cuflow executable (required with captures)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout instead of text")
    ap.add_argument("--examples", type=int, default=3, help="examples kept per column and rule (default 3)")
    ap.add_argument("--rules", action="store_true", help="list the named rules and exit")
    args = ap.parse_args(argv)
    if args.rules:
        for k, (kind, text) in RULES.items():
            print("%s (%s): %s" % (k, kind, text))
        return 0
    if not args.captures or not args.cuflow:
        ap.error("give --cuflow BIN and at least one CAPTURE")
    try:
        import nfstream  # noqa: F401
    except ImportError as e:
        sys.stderr.write("compare_nfstream_stats: nfstream is not importable (%s)\n" % e)
        return 4
    reps = [analyse_capture(p, args.cuflow, args.examples) for p in args.captures]
    if args.json:
        json.dump({"rules": {k: v[1] for k, v in RULES.items()}, "captures": reps}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for r in reps:
            print_report(r, sys.stdout)
    if any("error" in r for r in reps):
        return 3
    return 1 if any(r["unexplained"] for r in reps) else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compare `cuflow info --json` with independent oracles (capinfos, tshark).

    compare_info.py --cuflow BUILD/cuflow [options] INPUT...

INPUT is a capture file, a directory (walked; captures are recognised by
their first bytes, never by the extension) or @LIST (a text file with one
path per line, relative paths resolved against the list's directory).

Oracles, each run once per file content and cached in
CACHE/<sha256>.json (default tests/.data/oracle-cache):

  capinfos  (batched, many files per run)
      capinfos -M -T -R -t -E -l -c -d -a -e -S -K FILE...
      -> packets, captured_bytes ("data size"), first_ns/last_ns (earliest
         and latest timestamp), file type, encapsulation, snaplen;
         damaged/partial reads are noted from its messages.
  tshark    (one run per file)
      tshark -n -r FILE -o ip.defragment:FALSE -o ipv6.defragment:FALSE
             -o tcp.desegment_tcp_streams:FALSE -T fields -E separator=/t
             -e frame.encap_type -e frame.len -e frame.cap_len -e frame.protocols
      -> per-frame protocol stacks, kept as a histogram; the counts cuflow
         should give are derived from it by `expected_layers` (see there):
         a protocol counts when it appears before the first icmp/icmpv6
         layer and is reachable through encapsulations cuflow decodes.
  magic     the first bytes of the file -> compression.

Fields compared (a field is compared only when its oracle could read the
file; what was not compared is noted in the report):
  packets, captured_bytes, first_ns, last_ns, format, ts_resolution_ns,
  link_types, snaplen (classic pcap) .......................... capinfos
  damaged (capinfos stopped early <=> cuflow reports an error) . capinfos
  compression ................................................. magic
  wire_bytes, ipv4, ipv6, tcp, udp, icmp, icmpv6, sctp ......... tshark
      (only when tshark saw as many frames as capinfos and cuflow)

A difference listed in known_differences.tsv (path glob, field, reason) is
"explained"; any other makes the exit status 1. Crashes or hangs of cuflow
are never explained.

Exit: 0 no unexplained difference; 1 unexplained differences; 3 usage or
tool problems (cuflow missing, ...).
"""
import argparse
import concurrent.futures as cf
import fnmatch
import gzip
import hashlib
import json
import lzma
import os
import random
import re
import shutil
import subprocess
import sys
import time

ORACLE_VERSION = 3  # bump when what is cached changes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CACHE = os.path.join(REPO, "tests", ".data", "oracle-cache")
DEFAULT_KNOWN = os.path.join(HERE, "known_differences.tsv")

TSHARK_PREFS = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
                "-o", "tcp.desegment_tcp_streams:FALSE"]
TSHARK_FIELDS = ["frame.encap_type", "frame.len", "frame.cap_len", "frame.protocols"]
CAPINFOS_FLAGS = ["-M", "-T", "-R", "-t", "-E", "-l", "-c", "-d", "-a", "-e", "-S", "-K"]

PROTO_FIELDS = ["ipv4", "ipv6", "tcp", "udp", "icmp", "icmpv6", "sctp"]
ALL_FIELDS = ["error", "packets", "wire_bytes", "first_ns", "last_ns", "format",
              "ts_resolution_ns", "link_types", "snaplen", "damaged", "compression",
              "captured_bytes"] + PROTO_FIELDS

# ------------------------------------------------------------------ link types
# Wireshark's wiretap encapsulation (frame.encap_type number, capinfos -E
# short name) -> the LINKTYPE_* values it stands for.
WTAP_TO_LINKTYPES = {
    1: ("ether", {1}), 15: ("null", {0}), 174: ("loop", {108}), 7: ("rawip", {12, 14, 101}),
    129: ("rawip4", {228}), 130: ("rawip6", {229}), 4: ("ppp", {9, 50}), 139: ("pppoes", {51}),
    28: ("chdlc", {104}), 25: ("linux-sll", {113}), 210: ("linux-sll2", {276}),
    20: ("ieee-802-11", {105}), 23: ("ieee-802-11-radiotap", {127}), 141: ("nflog", {239}),
    26: ("frelay", {107}), 3: ("slip", {8}), 9: ("arcnet_linux", {129}),
    104: ("wpan", {195}), 127: ("wpan-nofcs", {230}), 125: ("socketcan", {227}),
    97: ("ppi", {192}), 180: ("ip-ib", {242}), 185: ("vsock", {271}), 158: ("netlink", {253}),
    6: ("fddi-swapped", {10}), 171: ("pktap", {258}), 146: ("dbus", {231}),
}
ENCAP_NAME_TO_LINKTYPES = {name: lts for (name, lts) in WTAP_TO_LINKTYPES.values()}
# Encapsulations cuflow decodes (by wiretap number).
CUFLOW_ENCAPS = {1, 15, 174, 7, 129, 130, 4, 139, 28, 25, 210, 20, 23, 141}

# tshark protocol names of the tunnels cuflow decapsulates by default, and
# the layers tshark may show between the tunnel header and the inner IP
# header that cuflow also walks (Ethernet, VLAN, MPLS, PPP in GRE; 802.11/LLC in
# CAPWAP and TZSP). Any other layer there (NHRP, WCCP, Aruba
# WLAN, LISP, Cisco MetaData, ...) means cuflow does not reach the inner packet.
CUFLOW_UDP_TUNNELS = {
    "vxlan": {"eth", "ethertype", "vlan"},
    "geneve": {"eth", "ethertype", "vlan"},
    "gtp": set(),
    "teredo": set(),
    "capwap.data": {"wlan", "wlan_radio", "llc", "eth", "ethertype", "vlan"},
    "tzsp": {"eth", "ethertype", "vlan", "wlan", "wlan_radio", "llc"},
}
GRE_PAYLOAD_OK = {"erspan", "eth", "ethertype", "vlan", "mpls", "ppp"}
IP_NAMES = {"ip": "ipv4", "ipv6": "ipv6"}
L4_NAMES = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "icmp": "icmp", "icmpv6": "icmpv6"}
# Headers walked between an IP header and what it carries (AH included:
# cuflow walks it like an IPv6 extension header).
IPV6_EXT = {"ipv6.hopopts", "ipv6.routing", "ipv6.fraghdr", "ipv6.dstopts", "ipv6.shim6", "ah"}


def _tunnel_path_ok(between):
    """Is the protocol path from an outer IP header to an inner one one
    that cuflow follows?"""
    if not between:                                   # IP-in-IP
        return True
    if between[0] == "gre":
        return all(p in GRE_PAYLOAD_OK for p in between[1:])
    if between[0] == "udp" and len(between) > 1 and between[1] in CUFLOW_UDP_TUNNELS:
        return all(p in CUFLOW_UDP_TUNNELS[between[1]] for p in between[2:])
    return False


def expected_layers(encap, protos):
    """The cuflow layers a frame should count, from tshark's view of it.

    `protos` is frame.protocols split on ':'. Counting stops at the first
    icmp/icmpv6 (cuflow does not dissect the IP header quoted in ICMP
    errors) and at an inner IP header that tshark reached through an
    encapsulation cuflow does not decode (L2TP, PPTP-less paths, LISP,
    AYIYA, ...). Frames of link types cuflow does not decode count nothing.
    """
    out = set()
    if encap not in CUFLOW_ENCAPS:
        return out
    last_ip = None  # index of the last IP layer seen
    for i, name in enumerate(protos):
        if name in IP_NAMES:
            if last_ip is not None:
                between = [p for p in protos[last_ip + 1:i] if p not in IPV6_EXT]
                if not _tunnel_path_ok(between):
                    break
            out.add(IP_NAMES[name])
            last_ip = i
        elif name in L4_NAMES and last_ip is not None:
            out.add(L4_NAMES[name])
            if name in ("icmp", "icmpv6"):
                break
    return out


def raw_layers(protos):
    """Protocols of the frame up to the first icmp/icmpv6, no tunnel model."""
    out = set()
    for name in protos:
        if name in IP_NAMES:
            out.add(IP_NAMES[name])
        elif name in L4_NAMES:
            out.add(L4_NAMES[name])
            if name in ("icmp", "icmpv6"):
                break
    return out


# ------------------------------------------------------------------ sniffing
def _kind(head):
    if len(head) >= 4:
        m = head[:4]
        if m in (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"):
            return "pcap"
        if m == b"\x0a\x0d\x0d\x0a":
            return "pcapng"
        if m == b"\x28\xb5\x2f\xfd":
            return "zstd"
        if m == b"\x04\x22\x4d\x18":
            return "lz4"
    if head[:8] == b"snoop\0\0\0":
        return "snoop"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:6] == b"\xfd7zXZ\0":
        return "xz"
    return None


def _inner_head(path, kind):
    try:
        if kind == "gzip":
            with gzip.open(path, "rb") as f:
                return f.read(16)
        if kind == "xz":
            with lzma.open(path, "rb") as f:
                return f.read(16)
        tool = {"zstd": "zstd", "lz4": "lz4"}[kind]
        if not shutil.which(tool):
            return None
        p = subprocess.run([tool, "-dc", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=60)
        return p.stdout[:16]
    except Exception:
        return b""


def sniff(path):
    """(container, compression) of a file from its bytes, or (None, None)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None, None
    k = _kind(head)
    if k in ("pcap", "pcapng", "snoop"):
        return k, "none"
    if k in ("gzip", "xz", "zstd", "lz4"):
        inner = _inner_head(path, k)
        if inner is None:  # no tool to look inside: assume a capture
            return "unknown", k
        k2 = _kind(inner)
        if k2 in ("pcap", "pcapng", "snoop"):
            return k2, k
        if k2 in ("gzip", "xz", "zstd", "lz4"):
            return "nested", k
    return None, None


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------ inputs
class Item:
    __slots__ = ("rel", "path", "sha", "container", "compression", "size", "cap", "tsh", "cf",
                 "diffs", "notes", "status", "ttimes")

    def __init__(self, rel, path):
        self.rel, self.path = rel, path
        self.sha = self.container = self.compression = None
        self.size = 0
        self.cap = self.tsh = self.cf = self.ttimes = None
        self.diffs, self.notes, self.status = [], [], None

    def times_needed(self, e):
        """capinfos' first/last are unreliable here (span over 2^31 s)."""
        c = self.cap or {}
        fa, la = c.get("first_ns"), c.get("last_ns")
        big = 2**31 * 10**9
        if fa is not None and la is not None and (la < fa or la - fa >= big):
            return True
        ef, el = (e or {}).get("first_ns"), (e or {}).get("last_ns")
        return ef is not None and el is not None and el - ef >= big


def collect(inputs, include_all):
    """[(rel, abs path)] in a stable order; directories are walked."""
    out, seen = [], set()

    def add(rel, path):
        ap = os.path.abspath(path)
        if ap not in seen:
            seen.add(ap)
            out.append((rel, ap))

    for inp in inputs:
        if inp.startswith("@"):
            lst = inp[1:]
            base = os.path.dirname(os.path.abspath(lst))
            with open(lst) as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    add(line, line if os.path.isabs(line) else os.path.join(base, line))
        elif os.path.isdir(inp):
            root = os.path.abspath(inp)
            for d, dirs, files in os.walk(root):
                dirs.sort()
                for fn in sorted(files):
                    p = os.path.join(d, fn)
                    if not os.path.isfile(p) or os.path.islink(p) and not os.path.exists(p):
                        continue
                    if include_all or sniff(p)[0] is not None:
                        add(os.path.relpath(p, root), p)
        else:
            add(inp, inp)
    return out


# ------------------------------------------------------------------ cache
class Cache:
    def __init__(self, d):
        self.d = d
        if d:
            os.makedirs(d, exist_ok=True)

    def load(self, sha):
        if not self.d:
            return {}
        try:
            with open(os.path.join(self.d, sha + ".json")) as f:
                c = json.load(f)
            return c if c.get("v") == ORACLE_VERSION else {}
        except (OSError, ValueError):
            return {}

    def store(self, sha, key, value):
        if not self.d:
            return
        c = self.load(sha)
        c["v"] = ORACLE_VERSION
        c[key] = value
        tmp = os.path.join(self.d, "%s.%d.tmp" % (sha, os.getpid()))
        with open(tmp, "w") as f:
            json.dump(c, f, sort_keys=True)
        os.replace(tmp, os.path.join(self.d, sha + ".json"))


# ------------------------------------------------------------------ capinfos
_QUOTED = re.compile(r'"(.*)"')


def _split_messages(stderr):
    msgs, cur = [], None
    for line in stderr.splitlines():
        if line.startswith("capinfos: "):
            if cur is not None:
                msgs.append(cur)
            cur = line[len("capinfos: "):]
        elif cur is not None and line.strip():
            cur += " " + line.strip()
    if cur is not None:
        msgs.append(cur)
    return msgs


def _secs_to_ns(s):
    """'1369248420.080467' -> (ns, unit_ns) exactly (unit = last digit's weight)."""
    if s in (None, "", "n/a"):
        return None, None
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    whole, _, frac = s.partition(".")
    digits = len(frac)
    frac9 = (frac + "0" * 9)[:9]
    ns = int(whole or "0") * 1000000000 + int(frac9 or "0")
    unit = 10 ** (9 - digits) if digits <= 9 else 1
    return (-ns if neg else ns), unit


def capinfos_batch(paths, timeout):
    """{path: result} for many files in one capinfos run."""
    cmd = ["capinfos"] + CAPINFOS_FLAGS + list(paths)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        if len(paths) == 1:
            return {paths[0]: {"ok": False, "opened": False, "error": "capinfos timed out"}}
        mid = len(paths) // 2
        r = capinfos_batch(paths[:mid], timeout)
        r.update(capinfos_batch(paths[mid:], timeout))
        return r
    out = p.stdout.decode("utf-8", "replace").splitlines()
    err = p.stderr.decode("utf-8", "replace")
    res = {}
    header = out[0].split("\t") if out else []
    col = {h: i for i, h in enumerate(header)}
    for line in out[1:]:
        f = line.split("\t")
        if len(f) != len(header):
            continue
        g = lambda name: f[col[name]] if name in col else None
        path = g("File name")
        first, unit_a = _secs_to_ns(g("Start time"))
        last, unit_e = _secs_to_ns(g("End time"))
        snap = g("Packet size limit")
        res[path] = {
            "ok": True, "opened": True, "error": None, "partial": False,
            "packets": int(g("Number of packets")),
            "captured_bytes": int(g("Data size (bytes)")),
            "first_ns": first, "last_ns": last,
            "ts_unit_ns": max(unit_a or 1, unit_e or 1),
            "file_type": g("File type"), "encap": g("File encapsulation"),
            "snaplen": int(snap) if snap and snap.isdigit() else None,
        }
    pset = set(paths)
    for m in _split_messages(err):
        q = _QUOTED.search(m)
        path = q.group(1) if q else None
        if path not in pset:
            # e.g. a message without a file name: attribute to all in doubt
            continue
        r = res.get(path)
        mm = re.search(r"error occurred after reading (\d+) packets", m)
        if r is None:
            r = res[path] = {"ok": False, "opened": False, "error": m}
            if mm:  # damaged: no row printed, but the packets before the damage are known
                r.update({"opened": True, "partial": True, "packets": int(mm.group(1)),
                          "captured_bytes": None, "first_ns": None, "last_ns": None,
                          "ts_unit_ns": None, "file_type": None, "encap": None,
                          "snaplen": None, "no_row": True})
            continue
        r["ok"] = False
        r["error"] = (r["error"] + " " + m) if r.get("error") else m
        if mm or "cut short" in m or "damaged or corrupt" in m:
            r["partial"] = True
    for path in paths:
        if path not in res:
            res[path] = {"ok": False, "opened": False,
                         "error": "capinfos printed nothing for this file (rc %d)" % p.returncode}
    return res


# ------------------------------------------------------------------ tshark
def tshark_one(path, timeout):
    cmd = ["tshark", "-n", "-r", path] + TSHARK_PREFS + ["-T", "fields", "-E", "separator=/t"]
    for fld in TSHARK_FIELDS:
        cmd += ["-e", fld]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "tshark timed out after %ds" % timeout}
    stacks, frames, capb, wireb = {}, 0, 0, 0
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        f = line.split("\t")
        if len(f) < 4:
            continue
        frames += 1
        try:
            wireb += int(f[1] or 0)
            capb += int(f[2] or 0)
        except ValueError:
            pass
        key = f[0] + "|" + f[3]
        stacks[key] = stacks.get(key, 0) + 1
    err = "\n".join(l for l in p.stderr.decode("utf-8", "replace").splitlines()
                    if l.strip() and "Running as user" not in l)
    return {"ok": p.returncode == 0 and not err, "rc": p.returncode, "error": err or None,
            "frames": frames, "captured_bytes": capb, "wire_bytes": wireb, "stacks": stacks}


def tshark_times(path, timeout):
    """Earliest and latest frame.time_epoch, exactly (no float)."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.time_epoch"]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False}
    lo = hi = None
    n = 0
    for line in p.stdout.decode("ascii", "replace").split():
        ns, _ = _secs_to_ns(line.strip())
        if ns is None:
            continue
        n += 1
        lo = ns if lo is None or ns < lo else lo
        hi = ns if hi is None or ns > hi else hi
    return {"ok": True, "frames": n, "first_ns": lo, "last_ns": hi}


def tshark_counts(t):
    """Expected cuflow counts (model) and raw counts from a tshark result."""
    exp = {k: 0 for k in PROTO_FIELDS}
    raw = {k: 0 for k in PROTO_FIELDS}
    for key, n in t["stacks"].items():
        enc, _, prot = key.partition("|")
        try:
            enc = int(enc)
        except ValueError:
            enc = -1
        protos = prot.split(":") if prot else []
        for k in expected_layers(enc, protos):
            exp[k] += n
        for k in raw_layers(protos):
            raw[k] += n
    return exp, raw


# ------------------------------------------------------------------ cuflow
def cuflow_batch(binary, extra, items, timeout_per_file):
    """Runs cuflow info --json on items; fills item.cf. Splits batches that crash."""
    paths = [it.path for it in items]
    cmd = [binary, "info", "--json"] + extra + paths
    t0 = time.time()
    timeout = 30 + timeout_per_file * len(paths)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        rc, out, err, to = p.returncode, p.stdout, p.stderr, False
    except subprocess.TimeoutExpired as e:
        rc, out, err, to = None, e.stdout or b"", e.stderr or b"", True
    elapsed = time.time() - t0
    doc = None
    if not to and rc in (0, 2):
        try:
            doc = json.loads(out.decode("utf-8", "replace"))
        except ValueError:
            doc = None
    files = doc.get("files") if isinstance(doc, dict) else None
    if files is not None and len(files) == len(items):
        for it, fe in zip(items, files):
            if fe.get("path") != it.path:
                byp = {x.get("path"): x for x in files}
                fe = byp.get(it.path)
            it.cf = {"rc": rc, "entry": fe, "stderr": err.decode("utf-8", "replace")[-4000:],
                     "batch": len(items), "seconds": elapsed}
        return
    if len(items) > 1:
        mid = len(items) // 2
        cuflow_batch(binary, extra, items[:mid], timeout_per_file)
        cuflow_batch(binary, extra, items[mid:], timeout_per_file)
        return
    it = items[0]
    what = ("timed out after %ds" % timeout if to else
            "killed by signal %d" % -rc if rc is not None and rc < 0 else
            "exit %s" % rc if rc not in (0, 2) else "unparsable JSON")
    it.cf = {"rc": rc, "entry": None, "failure": what, "timeout": to,
             "crash": bool(rc is not None and (rc < 0 or rc >= 128)),
             "stdout": out.decode("utf-8", "replace")[-2000:],
             "stderr": err.decode("utf-8", "replace")[-4000:]}


# ------------------------------------------------------------------ known differences
class Known:
    def __init__(self, path):
        self.rows = []
        if path and os.path.exists(path):
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    line = line.rstrip("\n")
                    if not line.strip() or line.lstrip().startswith("#"):
                        continue
                    parts = line.split("\t")
                    if len(parts) < 3:
                        raise SystemExit("%s:%d: want PATTERN<TAB>FIELD<TAB>REASON" % (path, n))
                    self.rows.append({"pattern": parts[0], "field": parts[1],
                                      "reason": "\t".join(parts[2:]), "line": n, "used": 0})

    def explain(self, rel, field):
        for r in self.rows:
            if (r["field"] in ("*", field) or field in r["field"].split(",")) and \
                    fnmatch.fnmatchcase(rel, r["pattern"]):
                r["used"] += 1
                return r
        return None


# ------------------------------------------------------------------ comparison
FORMAT_OF_FILETYPE = {"pcap": ("pcap", 1000), "nsecpcap": ("pcap", 1), "pcapng": ("pcapng", None),
                      "snoop": ("snoop", None)}


def compare(it, known, fields, proto_checked):
    """Fills it.diffs / it.notes / it.status."""
    def diff(field, got, want, oracle, detail=None):
        if field not in fields:
            return
        d = {"field": field, "cuflow": got, "oracle": want, "by": oracle}
        if detail:
            d["detail"] = detail
        r = known.explain(it.rel, field)
        d["explained"] = r["reason"] if r else None
        it.diffs.append(d)

    compared = []

    def check(field, got, want, oracle, equal=None):
        if field not in fields:
            return
        compared.append(field)
        ok = equal(got, want) if equal else got == want
        if not ok:
            diff(field, got, want, oracle)

    cfr = it.cf or {}
    e = cfr.get("entry")
    cap = it.cap or {}
    if e is None:
        what = cfr.get("failure", "no result")
        d = {"field": "error", "cuflow": what, "oracle": None, "by": "run",
             "explained": None}
        if not cfr.get("crash") and not cfr.get("timeout"):
            r = known.explain(it.rel, "error")
            d["explained"] = r["reason"] if r else None
        it.diffs.append(d)
        it.status = "unexplained" if not d["explained"] else "explained"
        return
    err = e.get("error")

    # ---- capinfos
    if cap.get("opened"):
        partial = bool(cap.get("partial"))
        check("damaged", bool(err), partial, "capinfos")
        if err and not partial:
            pass  # reported as 'damaged' above
        check("packets", e.get("packets"), cap["packets"], "capinfos")
        # capinfos' "data size" is the sum of the ORIGINAL (wire) lengths
        # (capinfos.c: bytes += rec.rec_header.packet_header.len), so it is
        # the oracle of wire_bytes; captured_bytes comes from tshark below.
        if cap.get("captured_bytes") is not None:
            check("wire_bytes", e.get("wire_bytes"), cap["captured_bytes"], "capinfos")
        unit = cap.get("ts_unit_ns") or 1

        def close(a, b):
            if a is None or b is None:
                return a == b
            return abs(a - b) < unit
        if cap["packets"] == e.get("packets") and not cap.get("no_row"):
            fa, la = cap.get("first_ns"), cap.get("last_ns")
            if cap["packets"] and (fa is None or la is None):
                it.notes.append("capinfos gives no first/last time (a packet without a timestamp,"
                                " e.g. a pcapng Simple Packet Block): times not compared")
            elif fa is not None and not (-2**63 <= fa < 2**63 and -2**63 <= la < 2**63):
                it.notes.append("capinfos times beyond the int64 ns range (%s, %s): times not"
                                " compared" % (fa, la))
            elif it.times_needed(e):
                # capinfos compares times with nstime_cmp, which truncates the
                # seconds difference to int: spans over 68 years give wrong
                # first/last. tshark's frame.time_epoch is the oracle then.
                tt = it.ttimes or {}
                if tt.get("frames") == cap["packets"]:
                    check("first_ns", e.get("first_ns"), tt["first_ns"], "tshark", close)
                    check("last_ns", e.get("last_ns"), tt["last_ns"], "tshark", close)
                else:
                    it.notes.append("time span over 2^31 s and no tshark times: not compared")
            else:
                check("first_ns", e.get("first_ns"), fa, "capinfos", close)
                check("last_ns", e.get("last_ns"), la, "capinfos", close)
        ft = FORMAT_OF_FILETYPE.get(cap.get("file_type"))
        if ft:
            check("format", e.get("format"), ft[0], "capinfos")
            if ft[1] is not None:
                check("ts_resolution_ns", e.get("ts_resolution_ns"), ft[1], "capinfos")
            if ft[0] == "pcap" and cap.get("snaplen") is not None:
                check("snaplen", e.get("snaplen"), cap["snaplen"], "capinfos")
        lts = ENCAP_NAME_TO_LINKTYPES.get(cap.get("encap"))
        if lts is not None:
            got = e.get("link_types") or []
            check("link_types", got, sorted(lts), "capinfos",
                  lambda g, w: bool(g) and set(g) <= set(w))
    elif cap:
        it.notes.append("capinfos could not open the file: %s" % (cap.get("error") or "?"))
    # ---- magic
    if it.compression is not None:
        if not err or e.get("compression") is not None:
            check("compression", e.get("compression"), it.compression, "magic")
    # ---- tshark
    t = it.tsh
    if t is not None and proto_checked:
        if t.get("frames") is None:
            it.notes.append("tshark failed: %s" % t.get("error"))
        elif cap.get("opened") and t["frames"] != cap.get("packets"):
            it.notes.append("tshark shows %d frames, capinfos %s packets: protocol counts not compared"
                            % (t["frames"], cap.get("packets")))
        elif t["frames"] != e.get("packets"):
            it.notes.append("tshark shows %d frames, cuflow %s packets: protocol counts not compared"
                            % (t["frames"], e.get("packets")))
        else:
            exp, raw = tshark_counts(t)
            check("captured_bytes", e.get("captured_bytes"), t["captured_bytes"], "tshark")
            if not cap.get("opened") or cap.get("captured_bytes") is None:
                check("wire_bytes", e.get("wire_bytes"), t["wire_bytes"], "tshark")
            for k in PROTO_FIELDS:
                if e.get(k) is None and k not in e:
                    continue
                before = len(it.diffs)
                check(k, e.get(k), exp[k], "tshark")
                if len(it.diffs) > before and raw[k] != exp[k]:
                    it.diffs[-1]["detail"] = "tshark without the tunnel model: %d" % raw[k]
    if not it.diffs:
        it.status = "equal"
    elif all(d["explained"] for d in it.diffs):
        it.status = "explained"
    else:
        it.status = "unexplained"
    it.notes.append("compared: " + ",".join(compared))


# ------------------------------------------------------------------ main
def chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", help="files, directories, @list files")
    ap.add_argument("--cuflow", default=os.environ.get("CUFLOW_BIN", "cuflow"),
                    help="cuflow executable (default $CUFLOW_BIN)")
    ap.add_argument("--cuflow-arg", action="append", default=[],
                    help="extra argument for cuflow info (repeatable), e.g. --backend=cpu")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--cache", default=DEFAULT_CACHE, help="oracle cache dir ('' = none)")
    ap.add_argument("--known", default=DEFAULT_KNOWN, help="known differences TSV")
    ap.add_argument("--report", help="write the machine-readable report (JSON) here")
    ap.add_argument("--sample", type=int, default=0, help="compare only N files (deterministic)")
    ap.add_argument("--proto-sample", type=int, default=0,
                    help="run tshark on only N of the compared files (0 = all)")
    ap.add_argument("--seed", type=int, default=1, help="seed of --sample / --proto-sample")
    ap.add_argument("--no-tshark", action="store_true", help="skip the tshark oracle")
    ap.add_argument("--fields", default=",".join(ALL_FIELDS), help="fields to compare")
    ap.add_argument("--batch", type=int, default=64, help="files per cuflow/capinfos run")
    ap.add_argument("--all-files", action="store_true",
                    help="in directories, take every file, not only those with a capture magic")
    ap.add_argument("--cached-only", action="store_true",
                    help="use only cached oracle results; run neither capinfos nor tshark "
                         "(for machines without Wireshark: carry the cache there)")
    ap.add_argument("--oracle-only", action="store_true",
                    help="run and cache the oracles, do not run cuflow")
    ap.add_argument("--tshark-timeout", type=int, default=300)
    ap.add_argument("--cuflow-timeout", type=int, default=20, help="seconds per file in a batch")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("--max-print", type=int, default=60, help="unexplained differences printed")
    a = ap.parse_args(argv)
    fields = set(x for x in a.fields.split(",") if x)
    t_start = time.time()

    if not shutil.which("capinfos") and not a.cached_only:
        print("compare_info: capinfos not found", file=sys.stderr)
        return 3
    have_tshark = (a.cached_only or bool(shutil.which("tshark"))) and not a.no_tshark
    if not a.oracle_only and not (os.path.exists(a.cuflow) or shutil.which(a.cuflow)):
        print("compare_info: cuflow binary %s not found" % a.cuflow, file=sys.stderr)
        return 3

    pairs = collect(a.inputs, a.all_files)
    pairs.sort(key=lambda p: p[0])
    if a.sample and a.sample < len(pairs):
        pairs = sorted(random.Random(a.seed).sample(pairs, a.sample), key=lambda p: p[0])
    items = [Item(r, p) for r, p in pairs]
    if not items:
        print("compare_info: no input files", file=sys.stderr)
        return 3
    proto_set = set(range(len(items)))
    if a.proto_sample and a.proto_sample < len(items):
        proto_set = set(random.Random(a.seed + 7919).sample(range(len(items)), a.proto_sample))

    cache = Cache(a.cache)
    pool = cf.ThreadPoolExecutor(max_workers=max(1, a.jobs))

    # -- hashes and magic
    def prep(it):
        it.size = os.path.getsize(it.path)
        it.sha = sha256_of(it.path)
        it.container, it.compression = sniff(it.path)
        c = cache.load(it.sha)
        it.cap = c.get("capinfos")
        it.tsh = c.get("tshark")
    list(pool.map(prep, items))

    # -- capinfos (batched)
    todo = [it for it in items if it.cap is None]
    if a.cached_only:
        for it in todo:
            it.notes.append("no cached capinfos result")
        todo = []
    if todo:
        by_path = {it.path: it for it in todo}
        jobs = [pool.submit(capinfos_batch, [it.path for it in ch], 120 + 5 * len(ch))
                for ch in chunks(todo, max(1, min(a.batch * 4, (len(todo) + a.jobs - 1) // a.jobs)))]
        for j in jobs:
            for path, r in j.result().items():
                it = by_path.get(path)
                if it is not None:
                    it.cap = r
                    cache.store(it.sha, "capinfos", r)
    t_cap = time.time()

    # -- tshark (one file per run)
    n_tshark_run = 0
    if have_tshark:
        todo = [it for i, it in enumerate(items) if i in proto_set and it.tsh is None]
        if a.cached_only:
            todo = []
        n_tshark_run = len(todo)

        def run_t(it):
            it.tsh = tshark_one(it.path, a.tshark_timeout)
            cache.store(it.sha, "tshark", it.tsh)
        list(pool.map(run_t, todo))
    t_tsh = time.time()

    if a.oracle_only:
        print("compare_info: oracles ready for %d files (%d tshark runs) in %.1fs"
              % (len(items), n_tshark_run, time.time() - t_start))
        return 0

    # -- cuflow (batched)
    per = max(1, min(a.batch, (len(items) + a.jobs - 1) // a.jobs))
    list(pool.map(lambda ch: cuflow_batch(a.cuflow, a.cuflow_arg, ch, a.cuflow_timeout),
                  list(chunks(items, per))))
    t_cf = time.time()

    # -- tshark times where capinfos' are unreliable
    if shutil.which("tshark") or a.cached_only:
        need = [it for it in items if it.cf and it.cf.get("entry") and it.cap and
                it.cap.get("opened") and it.times_needed(it.cf["entry"])]

        def run_tt(it):
            c = cache.load(it.sha)
            it.ttimes = c.get("tshark_times")
            if it.ttimes is None and not a.cached_only:
                it.ttimes = tshark_times(it.path, a.tshark_timeout)
                cache.store(it.sha, "tshark_times", it.ttimes)
        list(pool.map(run_tt, need))

    known = Known(a.known)
    for i, it in enumerate(items):
        compare(it, known, fields, have_tshark and i in proto_set)

    # -- summary
    n = len(items)
    st = {"equal": 0, "explained": 0, "unexplained": 0}
    for it in items:
        st[it.status] += 1
    by_field = {}
    for it in items:
        for d in it.diffs:
            bf = by_field.setdefault(d["field"], {"explained": 0, "unexplained": 0})
            bf["explained" if d["explained"] else "unexplained"] += 1
    cap_failed = sum(1 for it in items if it.cap and not it.cap.get("opened"))
    cap_partial = sum(1 for it in items if it.cap and it.cap.get("partial"))
    proto_cmp = sum(1 for it in items if any(n.startswith("compared:") and "ipv4" in n
                                             for n in it.notes))
    crashes = [it.rel for it in items if it.cf and (it.cf.get("crash") or it.cf.get("timeout"))]

    print("compare_info: %d files compared: %d equal, %d explained, %d unexplained"
          % (n, st["equal"], st["explained"], st["unexplained"]))
    print("  oracles: capinfos could not open %d, read %d partly; protocol counts compared on %d"
          " files (tshark on %d, %d run now)" % (cap_failed, cap_partial, proto_cmp,
                                                 len(proto_set) if have_tshark else 0, n_tshark_run))
    if crashes:
        print("  cuflow CRASHED or HUNG on %d files: %s" % (len(crashes), ", ".join(crashes[:10])))
    for f in ALL_FIELDS:
        if f in by_field:
            print("  %-16s differs in %5d files (%d explained, %d unexplained)"
                  % (f, by_field[f]["explained"] + by_field[f]["unexplained"],
                     by_field[f]["explained"], by_field[f]["unexplained"]))
    print("  time: capinfos %.1fs, tshark %.1fs, cuflow %.1fs, total %.1fs"
          % (t_cap - t_start, t_tsh - t_cap, t_cf - t_tsh, time.time() - t_start))
    shown = 0
    for it in items:
        for d in it.diffs:
            if d["explained"] and a.verbose < 2:
                continue
            if shown >= a.max_print and not a.verbose:
                continue
            shown += 1
            print("  %s %s: %s: cuflow %s, %s %s%s" % (
                "EXPLAINED" if d["explained"] else "DIFF", it.rel, d["field"],
                json.dumps(d["cuflow"]), d["by"], json.dumps(d["oracle"]),
                " (%s)" % d["detail"] if d.get("detail") else ""))
    n_unexp = sum(1 for it in items for d in it.diffs if not d["explained"])
    if shown < n_unexp:
        print("  ... %d more unexplained differences (see the report or -v)" % (n_unexp - shown))

    if a.report:
        rep = {
            "summary": {"files": n, **st, "by_field": by_field, "capinfos_failed": cap_failed,
                        "capinfos_partial": cap_partial, "proto_compared": proto_cmp,
                        "crashes": crashes, "seconds": round(time.time() - t_start, 1),
                        "cuflow": a.cuflow, "inputs": a.inputs, "sample": a.sample,
                        "proto_sample": a.proto_sample, "seed": a.seed},
            "known_unused": [r for r in known.rows if not r["used"]],
            "files": [],
        }
        for i, it in enumerate(items):
            e = (it.cf or {}).get("entry") or {}
            rec = {"path": it.rel, "abs": it.path, "sha256": it.sha, "size": it.size,
                   "status": it.status, "diffs": it.diffs, "notes": it.notes,
                   "cuflow": {k: e.get(k) for k in ["format", "compression", "packets",
                                                    "captured_bytes", "wire_bytes", "first_ns",
                                                    "last_ns", "link_types", "error"] + PROTO_FIELDS}
                   if e else {"failure": (it.cf or {}).get("failure")},
                   "capinfos": it.cap}
            if it.tsh and i in proto_set:
                exp, raw = tshark_counts(it.tsh)
                rec["tshark"] = {"frames": it.tsh.get("frames"), "error": it.tsh.get("error"),
                                 "wire_bytes": it.tsh.get("wire_bytes"), "expected": exp,
                                 "raw": raw}
            rep["files"].append(rec)
        os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
        with open(a.report, "w") as f:
            json.dump(rep, f, indent=1)
        print("  report: %s" % a.report)
    return 1 if st["unexplained"] else 0


if __name__ == "__main__":
    sys.exit(main())

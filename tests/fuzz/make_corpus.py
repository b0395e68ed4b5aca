#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets (python3 standard library only).

    make_corpus.py --out DIR [--captures DIR] [--extra DIR ...]
                   [--max-files 300] [--max-bytes 65536] [--max-frames 3000]

Writes DIR/fuzz_reader/ (whole captures) and DIR/fuzz_decode/ (single frames
as {link-type index, options byte, frame bytes...}; see fuzz_decode.c).
File names are the SHA-1 of the content, as libFuzzer names corpus files.

Sources, all optional:
  * --captures: the shared capture corpus (../shared/captures). Every file of
    at most --max-bytes whose first bytes are a capture or compression magic
    is a candidate; the selection is deterministic and spread over formats
    and link types: candidates are grouped by (container, link types) and
    taken round-robin, smallest first, up to --max-files.
  * --extra: directories of captures written by the build or the tests
    (same size limit), smallest first, up to --max-extra.
  * a few synthetic captures made here (pcap LE/BE, usec/nsec, pcapng with
    two interfaces, snoop, and gzip/xz/zstd/lz4 copies when the tools are
    there) and hand-built frames for the tunnels and link layers the
    decoder handles, so the targets have useful seeds without ../shared.
Frames for fuzz_decode come from every capture that could be parsed here
(pcap, pcapng, snoop, gzip/xz compressed), up to 6 per file, deduplicated,
shared fairly between link types, at most --max-frames.
"""
import argparse
import gzip
import hashlib
import lzma
import os
import shutil
import struct
import subprocess
import sys

# Link types in the order fuzz_decode.c's LINKTYPES lists them.
DECODE_LINKTYPES = [0, 1, 9, 12, 14, 50, 51, 101, 104, 105, 108, 113, 127, 228, 229, 239, 276]
MAGICS = [
    (b"\xd4\xc3\xb2\xa1", "pcap"), (b"\xa1\xb2\xc3\xd4", "pcap"),
    (b"\x4d\x3c\xb2\xa1", "pcap"), (b"\xa1\xb2\x3c\x4d", "pcap"),
    (b"\x34\xcd\xb2\xa1", "pcap-modified"), (b"\xa1\xb2\xcd\x34", "pcap-modified"),
    (b"\x0a\x0d\x0d\x0a", "pcapng"),
    (b"snoop\0\0\0", "snoop"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xfd7zXZ\0", "xz"),
]


def sniff(head):
    for magic, kind in MAGICS:
        if head.startswith(magic):
            return kind
    return None


def decompress(kind, data):
    """Decompressed bytes, or None when this machine cannot (or the data is bad)."""
    try:
        if kind == "gzip":
            return gzip.decompress(data)
        if kind == "xz":
            return lzma.decompress(data)
        tool = {"zstd": ["zstd", "-dc"], "lz4": ["lz4", "-dc"]}.get(kind)
        if tool and shutil.which(tool[0]):
            p = subprocess.run(tool, input=data, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=30, check=False)
            return p.stdout if p.returncode == 0 else None
    except Exception:  # noqa: BLE001 - damaged seeds are still seeds
        return None
    return None


# --------------------------------------------------------------- parsers
def pcap_frames(b):
    """(linktype, frame) from a classic or modified pcap; stops at damage."""
    if len(b) < 24:
        return
    m = b[:4]
    if m in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"):
        e = "<"
    else:
        e = ">"
    extra = 8 if m in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 0
    lt = struct.unpack(e + "I", b[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 + extra <= len(b):
        incl = struct.unpack(e + "I", b[off + 8:off + 12])[0]
        off += 16 + extra
        if incl > 262144 or off + incl > len(b):
            return
        yield lt, b[off:off + incl]
        off += incl


def pcapng_frames(b):
    off, e = 0, "<"
    ifaces = []
    while off + 12 <= len(b):
        btype = struct.unpack(e + "I", b[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = b[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", b[off + 4:off + 8])[0]
        if blen < 12 or blen % 4 or off + blen > len(b):
            return
        body = b[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 8:
            lt, _, snap = struct.unpack(e + "HHI", body[:8])
            ifaces.append((lt, snap))
        elif btype == 6 and len(body) >= 20:
            iface, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
            if iface < len(ifaces) and 20 + cap <= len(body):
                yield ifaces[iface][0], body[20:20 + cap]
        elif btype == 2 and len(body) >= 20:
            iface = struct.unpack(e + "H", body[:2])[0]
            cap = struct.unpack(e + "I", body[12:16])[0]
            if iface < len(ifaces) and 20 + cap <= len(body):
                yield ifaces[iface][0], body[20:20 + cap]
        elif btype == 3 and len(body) >= 4 and ifaces:
            orig = struct.unpack(e + "I", body[:4])[0]
            cap = min(orig, len(body) - 4)
            if ifaces[0][1]:
                cap = min(cap, ifaces[0][1])
            yield ifaces[0][0], body[4:4 + cap]
        off += blen


SNOOP_TO_LINKTYPE = {4: 1, 8: 1}  # 10 Mb and 100 Mb Ethernet variants -> Ethernet


def snoop_frames(b):
    if len(b) < 16:
        return
    dl = struct.unpack(">I", b[12:16])[0]
    lt = SNOOP_TO_LINKTYPE.get(dl)
    if lt is None:
        return
    off = 16
    while off + 24 <= len(b):
        _, incl, rec, _, _, _ = struct.unpack(">6I", b[off:off + 24])
        if rec < 24 or incl > rec - 24 or off + rec > len(b):
            return
        yield lt, b[off + 24:off + 24 + incl]
        off += rec


def frames_of(data):
    kind = sniff(data[:8])
    if kind in ("gzip", "xz", "zstd", "lz4"):
        inner = decompress(kind, data)
        return frames_of(inner) if inner else iter(())
    if kind in ("pcap", "pcap-modified"):
        return pcap_frames(data)
    if kind == "pcapng":
        return pcapng_frames(data)
    if kind == "snoop":
        return snoop_frames(data)
    return iter(())


def group_key(data):
    """(container, link types) for spreading the selection."""
    kind = sniff(data[:8]) or "?"
    inner = data
    if kind in ("gzip", "xz", "zstd", "lz4"):
        inner = decompress(kind, data) or b""
        kind = kind + "+" + (sniff(inner[:8]) or "?")
    lts = set()
    try:
        for i, (lt, _) in enumerate(frames_of(inner)):
            lts.add(lt)
            if i > 200:
                break
    except Exception:  # noqa: BLE001
        pass
    if kind.endswith("pcap") and len(inner) >= 24 and not lts:
        e = "<" if inner[:1] in (b"\xd4", b"\x4d", b"\x34") else ">"
        lts.add(struct.unpack(e + "I", inner[20:24])[0] & 0x0FFFFFFF)
    # Byte order and resolution matter to the reader: keep them in the key.
    return (kind, inner[:4].hex() if kind.endswith(("pcap", "pcap-modified")) else "",
            tuple(sorted(lts)))


# --------------------------------------------------------------- synthetic seeds
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, payload, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", frag=0, opts=b""):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(opts) + len(payload), 0x1234,
                    frag, 64, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(nxt, payload, src=b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01",
         dst=b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02"):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64, src, dst) + payload


def tcp(sport=40000, dport=80, flags=0x18, data=b"GET / HTTP/1.1\r\n\r\n"):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 2000, 5 << 4, flags, 65535, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


ETH_SRC, ETH_DST = b"\x00\x11\x22\x33\x44\x55", b"\x66\x77\x88\x99\xaa\xbb"


def eth(ethertype, payload):
    return ETH_DST + ETH_SRC + struct.pack("!H", ethertype) + payload


def synthetic_frames():
    """(linktype, frame) covering the layers decode.h lists."""
    v4tcp = ipv4(6, tcp())
    v4udp = ipv4(17, udp(5353, 53, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
    v6tcp = ipv6(6, tcp(443, 50000, 0x12, b""))
    inner_eth = eth(0x0800, ipv4(6, tcp(1234, 22), b"\xc0\xa8\x00\x01", b"\xc0\xa8\x00\x02"))
    f = []
    f.append((1, eth(0x0800, v4tcp)))
    f.append((1, eth(0x0800, ipv4(1, b"\x08\x00\xf7\xff\x00\x01\x00\x01"))))
    f.append((1, eth(0x86DD, v6tcp)))
    f.append((1, eth(0x86DD, ipv6(58, b"\x80\x00\x00\x00\x00\x01\x00\x01"))))
    f.append((1, eth(0x86DD, ipv6(0, b"\x11\x00\x01\x04\x00\x00\x00\x00"
                                     + udp(1, 2, b"x")))))  # hop-by-hop then UDP
    f.append((1, eth(0x86DD, ipv6(44, b"\x06\x00\x00\x01\x00\x00\x00\x07" + tcp()))))  # fragment
    f.append((1, eth(0x0800, ipv4(132, struct.pack("!HHII", 2905, 2905, 1, 0)))))  # SCTP
    f.append((1, eth(0x0800, ipv4(17, udp(1, 2, b""), frag=0x2000))))  # first fragment
    f.append((1, eth(0x0800, ipv4(17, b"zzzz", frag=0x0010))))  # later fragment
    f.append((1, eth(0x0800, ipv4(6, tcp(), opts=b"\x01\x01\x01\x00"))))  # IPv4 options
    f.append((1, eth(0x8100, b"\x00\x64\x08\x00" + v4udp)))  # 802.1Q
    f.append((1, eth(0x88A8, b"\x00\x0a\x81\x00\x00\x14\x86\xdd" + v6tcp)))  # QinQ
    f.append((1, eth(0x8847, b"\x00\x01\x00\x40\x00\x02\x01\x40" + v4tcp)))  # MPLS x2
    f.append((1, eth(0x8864, b"\x11\x00\x00\x01" + struct.pack("!H", 2 + len(v4tcp))
                     + b"\x00\x21" + v4tcp)))  # PPPoE session
    f.append((1, ETH_DST + ETH_SRC + struct.pack("!H", 8 + len(v4tcp))
              + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + v4tcp))  # LLC/SNAP
    f.append((1, eth(0x0806, b"\x00\x01\x08\x00\x06\x04\x00\x01" + ETH_SRC + b"\x0a\0\0\x01"
                     + b"\0" * 6 + b"\x0a\0\0\x02")))  # ARP
    # Tunnels.
    f.append((1, eth(0x0800, ipv4(47, b"\x20\x00\x08\x00\x00\x00\x00\x2a" + v4tcp))))  # GRE+key
    f.append((1, eth(0x0800, ipv4(47, b"\x10\x00\x88\xbe\x00\x00\x00\x01"
                                  + b"\x10\x00\x00\x05\x00\x00\x00\x00" + inner_eth))))  # ERSPAN II
    f.append((1, eth(0x0800, ipv4(4, v4tcp))))  # IPIP
    f.append((1, eth(0x0800, ipv4(41, v6tcp))))  # 6in4
    f.append((1, eth(0x86DD, ipv6(4, v4tcp))))  # 4in6
    f.append((1, eth(0x0800, ipv4(17, udp(50000, 4789, b"\x08\0\0\0\0\x12\x34\0" + inner_eth)))))
    f.append((1, eth(0x0800, ipv4(17, udp(50000, 6081, b"\x00\x00\x65\x58\x00\x00\x2a\x00"
                                                    + inner_eth)))))  # Geneve
    f.append((1, eth(0x0800, ipv4(17, udp(2152, 2152, b"\x30\xff" + struct.pack("!H", len(v4tcp))
                                               + b"\x00\x00\x00\x07" + v4tcp)))))  # GTP-U
    f.append((1, eth(0x0800, ipv4(17, udp(3544, 3544, v6tcp)))))  # Teredo
    f.append((1, eth(0x0800, ipv4(17, udp(5246, 5247, b"\x00\x20\x43\x10\x00\x00\x00\x00"
                                                    + inner_eth)))))  # CAPWAP data
    f.append((1, eth(0x0800, ipv4(17, udp(37008, 37008, b"\x01\x00\x00\x01\x01" + inner_eth)))))
    # Other link layers.
    f.append((0, struct.pack("<I", 2) + v4tcp))  # NULL, AF_INET
    f.append((0, struct.pack("<I", 30) + v6tcp))  # NULL, AF_INET6 (BSD value)
    f.append((108, struct.pack(">I", 2) + v4tcp))  # LOOP
    for lt in (12, 14, 101, 228):
        f.append((lt, v4tcp))
    f.append((101, v6tcp))
    f.append((229, v6tcp))
    f.append((9, b"\x00\x21" + v4tcp))  # PPP
    f.append((50, b"\xff\x03\x00\x57" + v6tcp))  # PPP in HDLC
    f.append((51, b"\x11\x00\x00\x01" + struct.pack("!H", 2 + len(v4tcp)) + b"\x00\x21" + v4tcp))
    f.append((104, b"\x0f\x00\x08\x00" + v4tcp))  # Cisco HDLC
    f.append((113, b"\x00\x00\x00\x01\x00\x06" + ETH_SRC + b"\0\0\x08\x00" + v4tcp))  # SLL
    f.append((276, b"\x08\x00\x00\x00\x00\x00\x00\x02\x00\x01\x00\x06" + ETH_SRC
              + b"\0\0" + v4tcp))  # SLL2
    dot11 = (b"\x08\x01\x00\x00" + ETH_DST + ETH_SRC + ETH_DST + b"\x00\x00"
             + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + v4tcp)  # data frame, to-DS
    f.append((105, dot11))
    f.append((127, b"\x00\x00\x08\x00\x00\x00\x00\x00" + dot11))  # minimal radiotap
    nflog = (b"\x02\x00\x00\x00" + struct.pack("<HH", 4 + 4, 1) + b"\x08\x00\x00\x00"
             + struct.pack("<HH", 4 + len(v4tcp), 9) + v4tcp)
    f.append((239, nflog))
    return f


def pcap_file(frames, big=False, nsec=False, linktype=1):
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, fr in enumerate(frames):
        out += struct.pack(e + "IIII", 1700000000 + i, 123456 + i, len(fr), len(fr)) + fr
    return out


def pcapng_file(frames_by_iface, big=False):
    e = ">" if big else "<"

    def block(t, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(e + "II", t, n) + body + struct.pack(e + "I", n)

    out = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt, _ in frames_by_iface:
        # if_tsresol = 9 (ns) option, then opt_endofopt
        out += block(1, struct.pack(e + "HHI", lt, 0, 0) + struct.pack(e + "HH", 9, 1)
                     + b"\x09\0\0\0" + struct.pack(e + "HH", 0, 0))
    ts = 1700000000 * 10 ** 9
    for i, (_, frs) in enumerate(frames_by_iface):
        for fr in frs:
            ts += 1000
            out += block(6, struct.pack(e + "IIIII", i, ts >> 32, ts & 0xFFFFFFFF, len(fr),
                                        len(fr)) + fr)
    if frames_by_iface and frames_by_iface[0][1]:
        fr = frames_by_iface[0][1][0]
        out += block(3, struct.pack(e + "I", len(fr)) + fr)  # simple packet block
    return out


def snoop_file(frames):
    out = b"snoop\0\0\0" + struct.pack(">II", 2, 4)
    for i, fr in enumerate(frames):
        rec = 24 + len(fr) + (-len(fr) % 4)
        out += struct.pack(">6I", len(fr), len(fr), rec, 0, 1700000000 + i, i) + fr
        out += b"\0" * (-len(fr) % 4)
    return out


def compress(kind, data):
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "xz":
        return lzma.compress(data)
    tool = {"zstd": ["zstd", "-q", "-c"], "lz4": ["lz4", "-q", "-c"]}[kind]
    if not shutil.which(tool[0]):
        return None
    p = subprocess.run(tool, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       timeout=30, check=False)
    return p.stdout if p.returncode == 0 else None


def synthetic_captures():
    fr = synthetic_frames()
    eth_frames = [b for lt, b in fr if lt == 1]
    caps = [
        pcap_file(eth_frames[:8]),
        pcap_file(eth_frames[8:16], big=True),
        pcap_file(eth_frames[16:], nsec=True),
        pcap_file(eth_frames[:4], big=True, nsec=True),
        pcap_file([b for lt, b in fr if lt == 101], linktype=101),
        pcap_file([b for lt, b in fr if lt == 113], linktype=113),
        pcapng_file([(1, eth_frames[:6]), (101, [b for lt, b in fr if lt == 101])]),
        pcapng_file([(276, [b for lt, b in fr if lt == 276]), (1, eth_frames[6:10])], big=True),
        snoop_file(eth_frames[:5]),
        pcap_file([]),
    ]
    # Two sections in one pcapng file.
    caps.append(caps[6] + caps[7])
    for kind in ("gzip", "xz", "zstd", "lz4"):
        c = compress(kind, caps[0])
        if c:
            caps.append(c)
        c = compress(kind, caps[6])
        if c:
            caps.append(c)
    return caps


# --------------------------------------------------------------- main
def write(dirpath, data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(dirpath, name), "wb") as fp:
        fp.write(data)
    return name


def decode_seed(lt, frame):
    if lt in DECODE_LINKTYPES:
        return bytes([DECODE_LINKTYPES.index(lt), 0]) + frame
    if lt < 0xF00:
        return bytes([0xF0 + (lt >> 8), lt & 0xFF]) + frame
    return None


def candidates(root, max_bytes):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            try:
                size = os.path.getsize(p)
                if size == 0 or size > max_bytes or not os.path.isfile(p):
                    continue
                with open(p, "rb") as fp:
                    head = fp.read(8)
            except OSError:
                continue
            if sniff(head):
                out.append((p, size))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--captures", help="shared capture corpus (skipped when absent)")
    ap.add_argument("--extra", action="append", default=[],
                    help="directory of captures written by the build or the tests")
    ap.add_argument("--max-extra", type=int, default=200,
                    help="captures taken from the --extra directories (smallest first)")
    ap.add_argument("--max-files", type=int, default=300)
    ap.add_argument("--max-bytes", type=int, default=65536)
    ap.add_argument("--max-frames", type=int, default=3000)
    ap.add_argument("--frames-per-file", type=int, default=6)
    args = ap.parse_args()

    rdir = os.path.join(args.out, "fuzz_reader")
    ddir = os.path.join(args.out, "fuzz_decode")
    for d in (rdir, ddir):
        os.makedirs(d, exist_ok=True)
        for fn in os.listdir(d):
            os.unlink(os.path.join(d, fn))

    captures = []  # bytes, in a deterministic order
    synth = synthetic_captures()
    captures.extend(synth)

    n_shared = 0
    if args.captures and os.path.isdir(args.captures):
        groups = {}
        for p, size in candidates(args.captures, args.max_bytes):
            with open(p, "rb") as fp:
                data = fp.read()
            groups.setdefault(group_key(data), []).append((size, p, data))
        order = sorted(groups, key=repr)
        for k in order:
            groups[k].sort(key=lambda t: (t[0], t[1]))
        picked, rnd = [], 0
        while len(picked) < args.max_files:
            took = False
            for k in order:
                if rnd < len(groups[k]) and len(picked) < args.max_files:
                    picked.append(groups[k][rnd][2])
                    took = True
            if not took:
                break
            rnd += 1
        captures.extend(picked)
        n_shared = len(picked)
        print("make_corpus: %d shared captures of %d candidates in %d groups"
              % (n_shared, sum(len(v) for v in groups.values()), len(groups)))
    else:
        print("make_corpus: no shared captures (%s), synthetic seeds only" % args.captures)

    extra = []
    for d in args.extra:
        if os.path.isdir(d):
            extra.extend(candidates(d, args.max_bytes))
    extra.sort(key=lambda t: (t[1], t[0]))  # smallest first
    for p, _ in extra[:args.max_extra]:
        with open(p, "rb") as fp:
            captures.append(fp.read())
    n_extra = min(len(extra), args.max_extra)

    names = set()
    for data in captures:
        names.add(write(rdir, data))

    # Frames for fuzz_decode: per link type queues, then round-robin.
    per_lt = {}
    seen = set()

    def add(lt, frame):
        seed = decode_seed(lt, frame)
        if seed is None:
            return
        h = hashlib.sha1(seed).digest()
        if h in seen:
            return
        seen.add(h)
        per_lt.setdefault(lt, []).append(seed)

    for lt, frame in synthetic_frames():
        add(lt, frame)
    for data in captures:
        try:
            frames = []
            for i, fr in enumerate(frames_of(data)):
                frames.append(fr)
                if i >= 4000:
                    break
        except Exception:  # noqa: BLE001 - damaged captures are fine
            continue
        if not frames:
            continue
        k = min(args.frames_per_file, len(frames))
        for j in range(k):
            lt, fr = frames[(j * len(frames)) // k]
            add(lt, fr)
    dseeds = []
    lts = sorted(per_lt)
    rnd = 0
    while len(dseeds) < args.max_frames:
        took = False
        for lt in lts:
            if rnd < len(per_lt[lt]) and len(dseeds) < args.max_frames:
                dseeds.append(per_lt[lt][rnd])
                took = True
        if not took:
            break
        rnd += 1
    for s in dseeds:
        write(ddir, s)

    print("make_corpus: fuzz_reader %d seeds (%d synthetic, %d shared, %d from the build); "
          "fuzz_decode %d frames over %d link types"
          % (len(os.listdir(rdir)), len(synth), n_shared, n_extra, len(dseeds), len(lts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

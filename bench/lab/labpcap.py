"""A small pcap reader for the lab's own captures (tcpdump's classic pcap,
Ethernet): the sessions' 5-tuples for labels.csv and the address check.
Dependency-free on purpose: it is the lab's account of what it generated,
independent of the cuflow code the test then checks against it."""
import struct

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}


def packets(path):
    """Yields (ts_seconds, frame_len, ethertype, ipv4_or_None) per frame;
    ipv4 = (src, dst, proto, sport, dport, ttl, ip_id)."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        else:
            end = ">"
            magic = struct.unpack(">I", head[:4])[0]
        nano = magic == 0xA1B23C4D
        linktype = struct.unpack(end + "I", head[20:24])[0]
        if linktype != 1:
            raise ValueError("%s: link type %d, not Ethernet" % (path, linktype))
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, orig = struct.unpack(end + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            ts = sec + frac / (1e9 if nano else 1e6)
            if len(data) < 14:
                yield ts, orig, None, None
                continue
            etype = struct.unpack("!H", data[12:14])[0]
            off = 14
            if etype == 0x8100 and len(data) >= 18:
                etype = struct.unpack("!H", data[16:18])[0]
                off = 18
            ip = None
            if etype == 0x0800 and len(data) >= off + 20:
                vihl = data[off]
                ihl = (vihl & 15) * 4
                ip_id = struct.unpack("!H", data[off + 4:off + 6])[0]
                ttl, proto = data[off + 8], data[off + 9]
                src = ".".join(str(b) for b in data[off + 12:off + 16])
                dst = ".".join(str(b) for b in data[off + 16:off + 20])
                frag = struct.unpack("!H", data[off + 6:off + 8])[0] & 0x1FFF
                sport = dport = 0
                l4 = off + ihl
                if proto in (6, 17) and frag == 0 and len(data) >= l4 + 4:
                    sport, dport = struct.unpack("!HH", data[l4:l4 + 4])
                ip = (src, dst, proto, sport, dport, ttl, ip_id)
            yield ts, orig, etype, ip


def sessions(path):
    """The capture's bidirectional 5-tuples, first direction = initiator:
    a list of dicts with first/last time, packets and bytes."""
    flows = {}
    for ts, length, etype, ip in packets(path):
        if ip is None:
            continue
        src, dst, proto, sport, dport = ip[:5]
        key = (src, sport, dst, dport, proto)
        rkey = (dst, dport, src, sport, proto)
        if rkey in flows:
            key = rkey
        f = flows.get(key)
        if f is None:
            f = flows[key] = {"src_ip": src, "src_port": sport, "dst_ip": dst, "dst_port": dport,
                              "protocol": proto, "first_seen": ts, "last_seen": ts, "packets": 0, "bytes": 0}
        f["last_seen"] = max(f["last_seen"], ts)
        f["packets"] += 1
        f["bytes"] += length
    return sorted(flows.values(), key=lambda f: f["first_seen"])

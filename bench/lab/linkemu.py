#!/usr/bin/env python3
"""User-space link emulator: moves Ethernet frames between two interfaces
with delay, jitter, loss and a rate limit (what `tc netem` would do; the
lab's kernel has no sch_netem). Runs inside the lab's "wan" namespace,
one process per emulated link, until SIGTERM/SIGINT.

    linkemu.py IF_A IF_B --delay-ms D --jitter-ms J --loss P --rate-kbit R --seed S

Frames keep their order per direction (a jittered frame never overtakes
the one before it); the queue behind the rate limit holds at most
--queue-ms of traffic, later frames are dropped (a tail-drop buffer).
Offloads must be off on both interfaces (the lab does it with ethtool):
GSO super-frames and partial checksums could not be sent on as frames.

--ipid POLICY renumbers the IPv4 identification of the host's frames
(IF_A -> IF_B; the header checksum is redone; fragments are left alone) as
an OS-like stack would, so that the lab's single Linux kernel does not
give every class the same IP-id behaviour: `flow` (a counter per 5-tuple
from a random start), `global` (one counter per host), `zero` (0 with DF,
else a counter per flow), `random`, or `keep`.
"""
import argparse
import random
import select
import signal
import socket
import sys
import time
from collections import deque

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    return s


class IpId:
    """Renumbers IPv4 ids of frames from the host by an OS-like policy."""

    def __init__(self, policy, rng):
        self.policy, self.rng = policy, rng
        self.counter = rng.getrandbits(16)
        self.flows = {}

    def rewrite(self, frame):
        if self.policy == "keep" or len(frame) < 34 or frame[12:14] != b"\x08\x00":
            return frame
        ihl = (frame[14] & 15) * 4
        if ihl < 20 or len(frame) < 14 + ihl:
            return frame
        flags_frag = (frame[20] << 8) | frame[21]
        if flags_frag & 0x3FFF:  # a fragment: its datagram's id must stay
            return frame
        if self.policy == "random":
            new = self.rng.getrandbits(16)
        elif self.policy == "zero" and flags_frag & 0x4000:
            new = 0
        elif self.policy in ("flow", "zero"):  # zero without DF: a counter per flow too
            proto = frame[23]
            ports = bytes(frame[14 + ihl:14 + ihl + 4]) if proto in (6, 17) else b""
            key = (bytes(frame[26:34]), proto, ports)
            cur = self.flows.get(key)
            if cur is None:
                if len(self.flows) > 65536:
                    self.flows.clear()
                cur = self.rng.getrandbits(16)
            new = cur
            self.flows[key] = (cur + 1) & 0xFFFF
        else:  # global
            new = self.counter
            self.counter = (self.counter + 1) & 0xFFFF
        b = bytearray(frame)
        b[18], b[19] = new >> 8, new & 0xFF
        b[24] = b[25] = 0
        s = 0
        for i in range(14, 14 + ihl, 2):
            s += (b[i] << 8) | b[i + 1]
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        s = ~s & 0xFFFF
        b[24], b[25] = s >> 8, s & 0xFF
        return bytes(b)


class Direction:
    def __init__(self, args, rng):
        self.delay = args.delay_ms / 1000.0
        self.jitter = args.jitter_ms / 1000.0
        self.loss = args.loss
        self.rate = args.rate_kbit * 1000.0 if args.rate_kbit > 0 else 0.0
        self.queue_limit = args.queue_ms / 1000.0
        self.rng = rng
        self.link_free = 0.0
        self.last_departure = 0.0
        self.queue = deque()
        self.sent = self.lost = self.dropped = 0

    def admit(self, frame, now):
        if self.loss > 0 and self.rng.random() < self.loss:
            self.lost += 1
            return
        start = max(now, self.link_free)
        if self.rate > 0:
            if start - now > self.queue_limit:
                self.dropped += 1
                return
            self.link_free = start + len(frame) * 8.0 / self.rate
            start = self.link_free
        jitter = self.rng.uniform(-self.jitter, self.jitter) if self.jitter > 0 else 0.0
        departure = max(start + max(self.delay + jitter, 0.0), self.last_departure)
        self.last_departure = departure
        self.queue.append((departure, frame))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--jitter-ms", type=float, default=0.0)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--rate-kbit", type=float, default=0.0)
    ap.add_argument("--queue-ms", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ipid", choices=["keep", "flow", "global", "zero", "random"], default="keep")
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rng = random.Random(args.seed)
    a, b = open_if(args.if_a), open_if(args.if_b)
    # a->b and b->a: each with its own queue and link state.
    dirs = {a.fileno(): (a, b, Direction(args, rng)), b.fileno(): (b, a, Direction(args, rng))}
    ipid = IpId(args.ipid, random.Random(args.seed ^ 0x1D1D))
    while not stop:
        now = time.monotonic()
        timeout = 0.05
        for _, out, d in dirs.values():
            while d.queue and d.queue[0][0] <= now:
                _, frame = d.queue.popleft()
                try:
                    out.send(frame)
                    d.sent += 1
                except OSError:
                    d.dropped += 1
            if d.queue:
                timeout = min(timeout, max(d.queue[0][0] - now, 0.0))
        try:
            ready, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            _, _, d = dirs[s.fileno()]
            for _ in range(64):
                try:
                    frame, addr = s.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if s is a:
                    frame = ipid.rewrite(frame)
                d.admit(frame, now)
    da, db = dirs[a.fileno()][2], dirs[b.fileno()][2]
    print(f"linkemu {args.if_a}->{args.if_b}: sent {da.sent} lost {da.lost} dropped {da.dropped}; "
          f"{args.if_b}->{args.if_a}: sent {db.sent} lost {db.lost} dropped {db.dropped}", file=sys.stderr)


if __name__ == "__main__":
    main()

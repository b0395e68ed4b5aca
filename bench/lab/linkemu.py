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
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rng = random.Random(args.seed)
    a, b = open_if(args.if_a), open_if(args.if_b)
    # a->b and b->a: each with its own queue and link state.
    dirs = {a.fileno(): (a, b, Direction(args, rng)), b.fileno(): (b, a, Direction(args, rng))}
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
                d.admit(frame, now)
    da, db = dirs[a.fileno()][2], dirs[b.fileno()][2]
    print(f"linkemu {args.if_a}->{args.if_b}: sent {da.sent} lost {da.lost} dropped {da.dropped}; "
          f"{args.if_b}->{args.if_a}: sent {db.sent} lost {db.lost} dropped {db.dropped}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A chat bot for the lab's IRC server (ngircd, TLS): joins a channel, says
short lines with human-like think times, answers what others say now and
then, and leaves when its time is up.

    ircbot.py HOST PORT NICK --cafile CA --channel '#lab' --seconds S --think-s T --seed N
"""
import argparse
import random
import socket
import ssl
import sys
import time

WORDS = ("ok sure lol yes no maybe later tomorrow meeting lunch coffee build deploy test broken fixed "
         "thanks nice cool weird agreed link file sent call me now back brb afk gg haha right hmm").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("nick")
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--channel", default="#lab")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--think-s", type=float, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    ctx = ssl.create_default_context(cafile=args.cafile)
    raw = socket.create_connection((args.host, args.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=args.host)
    buf = b""
    end = time.time() + args.seconds

    def send(line):
        s.sendall((line + "\r\n").encode())

    def pump(until_codes=None, deadline=None):
        """Reads lines until one with a code in until_codes, or the deadline."""
        nonlocal buf
        heard = 0
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None, heard
            s.settimeout(left)
            try:
                data = s.recv(4096)
            except socket.timeout:
                return None, heard
            if not data:
                return None, heard
            buf += data
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                line = line.decode(errors="replace")
                if line.startswith("PING"):
                    send("PONG" + line[4:])
                parts = line.split()
                if len(parts) > 1 and parts[1] == "PRIVMSG":
                    heard += 1
                if until_codes and len(parts) > 1 and parts[1] in until_codes:
                    return line, heard

    send("NICK " + args.nick)
    send("USER %s 0 * :%s" % (args.nick, args.nick))
    if pump({"001"}, time.time() + 10)[0] is None:
        print("ircbot %s: not registered" % args.nick, file=sys.stderr)
        return 1
    send("JOIN " + args.channel)
    pump({"366"}, time.time() + 10)
    while time.time() < end:
        wait = min(rng.expovariate(1.0 / args.think_s), end - time.time())
        _, heard = pump(None, time.time() + max(wait, 0.05))
        if time.time() >= end:
            break
        n = max(1, int(rng.lognormvariate(1.2, 0.7)))
        if heard and rng.random() < 0.5:
            n = min(n, 3)  # a quick reply
        send("PRIVMSG %s :%s" % (args.channel, " ".join(rng.choice(WORDS) for _ in range(n))))
    send("QUIT :bye")
    pump(None, time.time() + 1)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

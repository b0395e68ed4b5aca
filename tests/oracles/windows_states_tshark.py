#!/usr/bin/env python3
"""The TCP states of cuflow windows' packet entries against tshark.

tshark decodes the capture (its own TCP stream index and flag fields); this
script applies docs/windows.md section 2 to each tshark stream on its own
and compares, packet by packet, the state and the orientation (src = the
stream's first sender) with the entries cuflow wrote (--dump-entries), for
the TCP packets of the streams picked (--streams: tshark stream numbers,
default all).

  windows_states_tshark.py CAPTURE ENTRIES.csv [--streams 0,3,7]
Exit 0 when every picked packet agrees; prints a summary line.
"""
import csv
import subprocess
import sys

FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "ip.proto", "ipv6.nxt",
          "udp.srcport", "icmp.type", "icmpv6.type", "_ws.col.Protocol"]


def tshark_rows(cap):
    cmd = ["tshark", "-n", "-r", cap, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield dict(zip(FIELDS, line.split("\t")))


def flag(r, name):
    return r[name] in ("1", "True")


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    cap, entries = argv[1], argv[2]
    pick = None
    if len(argv) > 4 and argv[3] == "--streams":
        pick = {int(x) for x in argv[4].split(",")}
    # cuflow's entries, in packet order; TCP ones only (UDP/ICMP entries are skipped in step)
    ent = list(csv.DictReader(open(entries, newline="")))
    tcp_entries = [e for e in ent if e["ip_protocol"] == "tcp"]
    # tshark's TCP packets that cuflow makes entries of (tshark also counts tunnelled or
    # fragment-reassembled segments differently; the captures picked have none)
    streams = {}
    checked = mismatches = 0
    ti = 0
    for r in tshark_rows(cap):
        if not r["tcp.stream"]:
            continue
        if ti >= len(tcp_entries):
            print("windows_states_tshark: cuflow has fewer TCP entries than tshark has TCP packets")
            return 1
        e = tcp_entries[ti]
        ti += 1
        sid = int(r["tcp.stream"])
        src = r["ip.src"] or r["ipv6.src"]
        syn, ack, fin, rst = (flag(r, "tcp.flags.syn"), flag(r, "tcp.flags.ack"), flag(r, "tcp.flags.fin"),
                              flag(r, "tcp.flags.reset"))
        s = streams.get(sid)
        if s is None:
            # section 2: the first packet is "new"; its sender is the initiator
            s = streams[sid] = {"init": (src, r["tcp.srcport"]), "syn": syn and not ack, "synack": False,
                                "est": False, "fin_i": fin, "fin_r": False, "rst": rst}
            state = "new"
        else:
            from_init = (src, r["tcp.srcport"]) == s["init"]
            if rst:
                s["rst"] = True
            if fin:
                s["fin_i" if from_init else "fin_r"] = True
            if not from_init and syn and ack:
                s["synack"] = True
            if not s["syn"]:
                s["est"] = True          # picked up mid-stream: established from the 2nd packet
            elif from_init and s["synack"] and ack and not syn:
                s["est"] = True
            if s["rst"]:
                state = "reset"
            elif s["fin_i"] and s["fin_r"]:
                state = "closed"
            elif s["fin_i"] or s["fin_r"]:
                state = "closing"
            elif s["est"]:
                state = "established"
            else:
                state = "connecting"
        if pick is not None and sid not in pick:
            continue
        checked += 1
        want_src = s["init"]
        got = (e["state"], (e["src_ip"], e["src_port"]))
        if got != (state, want_src):
            mismatches += 1
            if mismatches <= 20:
                print("frame %s (stream %d): tshark says %s from %s, cuflow %s from %s" %
                      (r["frame.number"], sid, state, want_src, got[0], got[1]))
    print("windows_states_tshark: %d TCP packets in %d streams checked, %d mismatches" %
          (checked, len(streams) if pick is None else len(pick & set(streams)), mismatches))
    return 0 if mismatches == 0 and checked > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""NFStream's own flows of a capture, as CSV, for the tests' hand-built captures.

    nfstream_flows.py CAPTURE

Runs NFStreamer(source=CAPTURE, idle_timeout=120, active_timeout=1800,
accounting_mode=0, decode_tunnels=True, n_dissections=0, n_meters=1) -- the
settings of NFStream's expected results (shared/specs/nfstream_flows.md) --
and prints one row per flow in NFStream's export order:

    packets,bytes,src_ip,src_port,dst_ip,dst_port,protocol,tunnel_id,
    first_seen_ms,last_seen_ms,src2dst_packets,dst2src_packets

Exit status 4 when nfstream cannot be imported (the tests then skip).
"""
import sys


def main(argv):
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    try:
        from nfstream import NFStreamer
    except ImportError as e:
        sys.stderr.write("nfstream_flows: nfstream is not importable (%s)\n" % e)
        return 4
    s = NFStreamer(source=argv[0], decode_tunnels=True, bpf_filter=None, promiscuous_mode=True, idle_timeout=120,
                   active_timeout=1800, accounting_mode=0, udps=None, n_dissections=0, statistical_analysis=False,
                   splt_analysis=0, n_meters=1, performance_report=0, system_visibility_mode=0)
    w = sys.stdout.write
    w("packets,bytes,src_ip,src_port,dst_ip,dst_port,protocol,tunnel_id,first_seen_ms,last_seen_ms,"
      "src2dst_packets,dst2src_packets\n")
    for f in s:
        w("%d,%d,%s,%d,%s,%d,%d,%d,%d,%d,%d,%d\n" % (
            f.bidirectional_packets, f.bidirectional_bytes, f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.protocol,
            f.tunnel_id, f.bidirectional_first_seen_ms, f.bidirectional_last_seen_ms, f.src2dst_packets,
            f.dst2src_packets))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

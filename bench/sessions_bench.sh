#!/bin/bash
# cuflow sessions (seed 002's SQLite database, docs/sessions.md) in one run:
#  1. speed on the 2 GB mixed capture (bench/.work/mixed-2.pcap, `cuflow synth
#     --gbytes 2`): Mpps and rows per second into SQLite with one worker,
#     beside `cuflow info` (read + decode, the floor) and `cuflow flows`
#     (the flow engine to CSV) on the same file; medians of RUNS runs, page
#     cache warm;
#  2. peak RSS as the capture grows in time: the same traffic replayed 1, 4
#     and 16 times one after the other (`synth --replay`), so sessions come
#     and go and memory must stay flat;
#  3. against what a user would script instead: tshark's dissection of the
#     fields the sessions need (one line per frame, the tests' oracle's
#     command) on the 256 MB capture, before any aggregation or SQLite.
#   bench/sessions_bench.sh [--build DIR] [--runs N]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$ROOT/build-r17-rel RUNS=3
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 1 ;;
	esac
done
C=$BUILD/cuflow
W=$ROOT/bench/.work
mkdir -p "$W"
T=$(mktemp -d /tmp/cuflow-sessions-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
CAP=$W/mixed-2.pcap
[ -f "$CAP" ] || "$C" synth -q --gbytes 2 -o "$CAP"

. "$HERE/bench_lib.sh"
packets() { "$C" info --json "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"]["packets"])'; }
rows() { sqlite3 "$1" "select (select count(*) from sessions) + (select count(*) from dns) + (select count(*) from devices) + (select count(*) from device_ips)"; }

echo "== 1. speed, $(basename "$CAP") ($(du -hL "$CAP" | cut -f1)), one worker, CPU backend"
N=$(packets "$CAP")
ti=$(median_run "$C" info --backend cpu "$CAP")
tf=$(median_run "$C" flows -q --backend cpu "$CAP" -o "$T/f.csv")
ts=$(median_run "$C" sessions -q --backend cpu "$CAP" -o "$T/s.sqlite")
R=$(rows "$T/s.sqlite")
S=$(sqlite3 "$T/s.sqlite" "select count(*) from sessions")
printf '%-34s %8s %8s %s\n' command seconds Mpps "vs sessions"
for x in "info (read + decode):$ti" "flows -o csv:$tf" "sessions -o sqlite:$ts"; do
	name=${x%%:*} t=${x##*:}
	printf '%-34s %8.2f %8.2f %.2fx\n' "$name" "$t" "$(echo "$N / $t / 1000000" | bc -l)" "$(echo "$ts / $t" | bc -l)"
done
printf 'rows: %s (%s sessions), %.0f rows/s; database %s\n' "$R" "$S" "$(echo "$R / $ts" | bc -l)" \
	"$(du -h "$T/s.sqlite" | cut -f1)"

echo "== 2. peak RSS as the capture grows (synth --replay of 256 MB)"
"$C" synth -q --gbytes 0.25 -o "$T/base.pcap"
for k in 1 4 16; do
	"$C" synth --replay "$T/base.pcap" --copies $k -o "$T/r$k.pcap" >/dev/null 2>&1
	printf 'x%-3s %6s  peak RSS %s MB\n' $k "$(du -h "$T/r$k.pcap" | cut -f1)" \
		"$(rss_mb "$C" sessions -q --backend cpu "$T/r$k.pcap" -o "$T/r$k.sqlite")"
	rm -f "$T/r$k.pcap" "$T/r$k.sqlite"
done

echo "== 3. against tshark's field export on $(basename "$T/base.pcap") ($(du -h "$T/base.pcap" | cut -f1))"
if command -v tshark >/dev/null; then
	NB=$(packets "$T/base.pcap")
	tc=$(median_run "$C" sessions -q --backend cpu "$T/base.pcap" -o "$T/b.sqlite")
	s=$(date +%s.%N)
	tshark -r "$T/base.pcap" -n -T fields -E separator='|' -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e ip.proto \
		-e tcp.srcport -e udp.srcport -e tcp.dstport -e udp.dstport -e frame.len -e frame.time_epoch -e eth.src \
		-e dns.flags.response -e dns.qry.name -e dhcp.option.hostname >/dev/null 2>&1
	tt=$(echo "$(date +%s.%N) - $s" | bc)
	printf 'cuflow sessions (to SQLite)  %8.2f s %8.2f Mpps\n' "$tc" "$(echo "$NB / $tc / 1000000" | bc -l)"
	printf 'tshark -T fields (no output) %8.2f s %8.2f Mpps   cuflow %.0fx faster\n' "$tt" \
		"$(echo "$NB / $tt / 1000000" | bc -l)" "$(echo "$tt / $tc" | bc -l)"
else
	echo "tshark not installed: skipped"
fi

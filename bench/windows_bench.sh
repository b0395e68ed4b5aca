#!/bin/bash
# cuflow windows (seed 001's aggregates, docs/windows.md) in one run:
#  1. speed on the 2 GB mixed capture (bench/.work/mixed-2.pcap, `cuflow synth
#     --gbytes 2`): Mpps with one thread and the CPU backend, beside `cuflow
#     info` (read + decode, the floor) and `cuflow flows` on the same file;
#  2. peak RSS as the capture grows in time: the same traffic replayed 1, 4
#     and 16 times one after the other (`synth --replay`), so windows and
#     flows come and go and memory must stay flat;
#  3. against the seed's pandas code (cell In [31], as the tests' oracle
#     tests/oracles/windows_ref.py writes it, timed per batch loop only, not
#     its CSV parsing) on the same entries: cuflow's --dump-entries of a
#     capture whose 10 s windows hold a few thousand entries each (the
#     seed's own sample had ~500 per batch); cuflow timed on the entries CSV
#     and on the capture. Medians of RUNS runs, page cache warm.
#   bench/windows_bench.sh [--build DIR] [--runs N] [--pandas-windows N]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$ROOT/build-r17-rel RUNS=3 PW=60
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--pandas-windows) PW=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 1 ;;
	esac
done
C=$BUILD/cuflow
PY=$(ls "$ROOT"/build/netml-venv/bin/python "$BUILD"/netml-venv/bin/python 2>/dev/null | head -1 || true)
[ -n "$PY" ] && "$PY" -c 'import pandas' 2>/dev/null || PY=python3
W=$ROOT/bench/.work
mkdir -p "$W"
T=$(mktemp -d /tmp/cuflow-windows-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
CAP=$W/mixed-2.pcap
[ -f "$CAP" ] || "$C" synth -q --gbytes 2 -o "$CAP"

# median wall seconds of RUNS runs of a command (after one warm-up)
median() {
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	for i in $(seq "$RUNS"); do
		s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
		echo "$e - $s" | bc
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
rss_mb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1/1024}'; }
packets() { "$C" info --json "$1" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"]["packets"])'; }

echo "== 1. speed, $(basename "$CAP") ($(du -h "$CAP" | cut -f1)), one thread, CPU backend"
N=$(packets "$CAP")
ti=$(median "$C" info --backend cpu "$CAP")
tf=$(median "$C" flows -q --backend cpu "$CAP" -o "$T/f.csv")
tw=$(median "$C" windows -q --backend cpu "$CAP" -o "$T/w.csv")
twd=$(median "$C" windows -q --backend cpu --distinct "$CAP" -o "$T/wd.csv")
ts=$(median "$C" windows -q --backend cpu --window 60 --step 10 "$CAP" -o "$T/ws.csv")
for x in "info (read+decode) $ti" "flows $tf" "windows $tw" "windows --distinct $twd" "windows --window 60 --step 10 $ts"; do
	t=${x##* }; n=${x% *}
	printf "  %-34s %7.3f s  %6.2f Mpps\n" "$n" "$t" "$(echo "$N / $t / 1000000" | bc -l)"
done
echo "  packets $N; windows peak RSS $(rss_mb "$C" windows -q --backend cpu "$CAP" -o "$T/w.csv") MB"

echo "== 2. peak RSS as the capture grows in time (same traffic replayed k times, one after the other)"
"$C" synth -q --flows 20000 --duration 120 --seed 7 -o "$T/base.pcap"
for k in 1 4 16; do
	"$C" synth -q --replay "$T/base.pcap" --copies "$k" -o "$T/r$k.pcap"
	printf "  x%-3s %6s MB capture  %5s windows  peak RSS %4s MB\n" "$k" "$(($(stat -c %s "$T/r$k.pcap") / 1000000))" \
		"$("$C" windows -q "$T/r$k.pcap" -o "$T/r$k.csv" && tail -n +2 "$T/r$k.csv" | wc -l)" \
		"$(rss_mb "$C" windows -q "$T/r$k.pcap" -o "$T/r$k.csv")"
	rm -f "$T/r$k.pcap"
done

echo "== 3. against the seed's pandas code (In [31]) on the same entries ($PY)"
# a capture with a few thousand entries per 10 s window: 4,000 flows over PW windows
"$C" synth -q --flows 4000 --duration $((PW * 10)) --seed 11 -o "$T/p.pcap"
"$C" windows -q "$T/p.pcap" --dump-entries "$T/e.csv" -o "$T/pw.csv"
NE=$(($(wc -l <"$T/e.csv") - 1))
tc=$(median "$C" windows -q --entries-csv "$T/e.csv" -o "$T/c.csv")
tp=$(median "$C" windows -q "$T/p.pcap" -o "$T/c2.csv")
cmp -s "$T/c.csv" "$T/c2.csv" || { echo "entries CSV and capture disagree" >&2; exit 1; }
"$PY" - "$ROOT/tests/oracles" "$T/e.csv" "$T/c.csv" "$tc" "$tp" "$NE" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import windows_ref as ref
entries = ref.read_entries(sys.argv[2])
batches = ref.batches_tumbling(entries, 10 * 10**9, False)
t = time.perf_counter()
rows = [ref.batch_stats(b[1] if isinstance(b, tuple) else b, False) for b in batches]
tpd = time.perf_counter() - t
tc, tp, ne = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
print("  %d entries, %d windows (%.0f entries per window)" % (ne, len(rows), ne / max(1, len(rows))))
print("  pandas In [31] loop           %8.3f s  %10.0f entries/s" % (tpd, ne / tpd))
print("  cuflow --entries-csv          %8.3f s  %10.0f entries/s  %6.0fx pandas (CSV parsing included)" % (tc, ne / tc, tpd / tc))
print("  cuflow from the capture       %8.3f s  %10.0f entries/s  %6.0fx pandas" % (tp, ne / tp, tpd / tp))
PY

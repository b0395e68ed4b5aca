#!/bin/bash
# cuflow windows (seed 001's aggregates, docs/windows.md) in one run:
#  1. speed on the 2 GB mixed capture (bench/.work/mixed-2.pcap, `cuflow synth
#     --gbytes 2`): Mpps with one thread and the CPU backend, beside `cuflow
#     info` (read + decode, the floor) and `cuflow flows` on the same file;
#  2. peak RSS as the capture grows in time: the same traffic replayed 1, 4
#     and 16 times one after the other (`synth --replay`), so windows and
#     flows come and go and memory must stay flat;
#  3. against the seed's pandas code (cell In [31], as the tests' oracle
#     tests/oracles/windows_ref.py writes it, timed on its batch loop only,
#     not its CSV parsing) on the same entries (cuflow's --dump-entries of
#     a capture): entries per second with 10 s windows (a few thousand
#     entries each), 1 s windows (hundreds, like the seed's first batch of
#     484) and the notebook's own batching (mostly one-entry batches, as on
#     the seed's sample); pandas costs ~17 ms a batch whatever its size, so
#     it is timed on the first batches of the long runs. cuflow's times are
#     whole runs from the capture (process start, read, decode and writing
#     Parquet included).
#     Medians of RUNS runs, page cache warm.
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

. "$HERE/bench_lib.sh"
packets() { "$C" info --json "$1" 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"]["packets"])'; }

echo "== 1. speed, $(basename "$CAP") ($(du -hL "$CAP" | cut -f1)), one thread, CPU backend"
N=$(packets "$CAP")
ti=$(median_run "$C" info --backend cpu "$CAP")
tf=$(median_run "$C" flows -q --backend cpu "$CAP" -o "$T/f.csv")
tw=$(median_run "$C" windows -q --backend cpu "$CAP" -o "$T/w.csv")
twd=$(median_run "$C" windows -q --backend cpu --distinct "$CAP" -o "$T/wd.csv")
ts=$(median_run "$C" windows -q --backend cpu --window 60 --step 10 "$CAP" -o "$T/ws.csv")
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
"$C" windows -q --entries-csv "$T/e.csv" -o "$T/c.csv"
cmp -s "$T/c.csv" "$T/pw.csv" || { echo "entries CSV and capture disagree" >&2; exit 1; }
# timed with Parquet output (printf of 17-digit floats would be most of a CSV run)
tc=$(median_run "$C" windows -q --entries-csv "$T/e.csv" -o "$T/c.parquet")
tp=$(median_run "$C" windows -q "$T/p.pcap" -o "$T/c2.parquet")
t1=$(median_run "$C" windows -q --window 1 "$T/p.pcap" -o "$T/c3.parquet")
tsd=$(median_run "$C" windows -q --batching seed "$T/p.pcap" -o "$T/c4.parquet")
"$PY" - "$ROOT/tests/oracles" "$T/e.csv" "$NE" "$tc" "$tp" "$t1" "$tsd" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import windows_ref as ref
entries = ref.read_entries(sys.argv[2])
ne = int(sys.argv[3])
tc, tp, t1, tsd = (float(x) for x in sys.argv[4:8])
NS = 10**9
def pandas_rate(batches, cap):
    # the In [31] loop over the first `cap` batches (pandas costs the same per batch
    # all along); entries per second of that loop
    bs = [b for _, b in batches][:cap]
    t = time.perf_counter()
    for b in bs:
        ref.batch_stats(b, False)
    dt = time.perf_counter() - t
    return sum(len(b) for b in bs) / dt, len(bs), len(batches)
print("  %d entries (the same entries in every case)" % ne)
print("  %-34s %12s %12s %8s" % ("batching", "pandas e/s", "cuflow e/s", "ratio"))
for name, batches, cap, t in (("tumbling 10 s", ref.batches_tumbling(entries, 10 * NS, False), 10**9, tp),
                              ("tumbling 1 s", ref.batches_tumbling(entries, NS, False), 200, t1),
                              ("the notebook's (--batching seed)", ref.batches_seed(entries, 10 * NS), 300, tsd)):
    rate, used, total = pandas_rate(batches, cap)
    cu = ne / t
    print("  %-34s %12.0f %12.0f %7.0fx   (%d batches, pandas timed on %d, %.0f entries each)" %
          (name, rate, cu, cu / rate, total, used, ne / total))
print("  cuflow --entries-csv, tumbling 10 s: %.0f entries/s (CSV parsing included)" % (ne / tc))
PY

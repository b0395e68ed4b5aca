#!/usr/bin/env bash
# cuflow extract (66 statistics + 30-packet sequences + npy output, CPU
# backend) against NFStream (statistical_analysis=True, splt_analysis=30,
# n_meters=1, idle 120 s, active 1800 s) in the same run, plus peak RSS.
# NFStream is slow, so it runs on a prefix of the capture (stated in the
# report); cuflow runs on the same prefix too, so the ratio compares like
# with like, and on the whole capture for its absolute rate.
#
# usage: bench/extract_bench.sh [--capture FILE] [--prefix N] [--runs N]
#                               [--build DIR] [--venv DIR] [--threads N]
#   --capture FILE  workload (default bench/.work/mixed-2.pcap, made by
#                   `cuflow synth --gbytes 2` when absent)
#   --prefix N      packets NFStream gets (default 400000)
#   --runs N        runs per measurement, median reported (default 3)
#   --build DIR     build directory with ./cuflow (default build)
#   --venv DIR      Python virtual environment with nfstream (default
#                   build/nfs-venv, as .ci/deps.sh makes; created with pip when absent)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAP=$ROOT/bench/.work/mixed-2.pcap PREFIX=400000 RUNS=3 BUILD=$ROOT/build VENV=$ROOT/build/nfs-venv
while [ $# -gt 0 ]; do
	case $1 in
	--capture) CAP=$(realpath "$2"); shift ;;
	--prefix) PREFIX=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--build) BUILD=$(realpath "$2"); shift ;;
	--venv) VENV=$(realpath -m "$2"); shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "extract_bench: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
CUFLOW=$BUILD/cuflow
WORK=$ROOT/bench/.work
mkdir -p "$WORK"
[ -x "$CUFLOW" ] || { echo "extract_bench: build cuflow first ($CUFLOW)" >&2; exit 1; }
if [ ! -f "$CAP" ]; then
	"$CUFLOW" synth -o "$CAP" --gbytes 2 --quiet
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import nfstream' 2>/dev/null; then
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q nfstream
fi
PFX=$WORK/extract-prefix.pcap
editcap -r "$CAP" "$PFX" "1-$PREFIX" >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# cuflow extract: wall seconds (median of RUNS) and peak RSS (KB)
run_cuflow() { # FILE -> "packets wall rss"
	local f=$1 walls="" rss=0 pk=0
	cat "$f" >/dev/null
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %M" -o "$TMP/t" "$CUFLOW" extract --backend cpu -q "$f" -o "$TMP/ex" 2>"$TMP/err"
		walls="$walls $(cut -d' ' -f1 "$TMP/t")"
		r=$(cut -d' ' -f2 "$TMP/t"); [ "$r" -gt "$rss" ] && rss=$r
		pk=$(sed -n 's/.*packets read \([0-9]*\).*/\1/p' "$TMP/err")
	done
	echo "$pk $(echo $walls | tr ' ' '\n' | median) $rss"
}

cat > "$TMP/nfs.py" <<'PY'
import sys, time, resource
from nfstream import NFStreamer
t = time.perf_counter()
flows = packets = 0
for f in NFStreamer(source=sys.argv[1], statistical_analysis=True, splt_analysis=30, n_meters=1,
                    idle_timeout=120, active_timeout=1800, n_dissections=0):
    flows += 1
    packets += f.bidirectional_packets
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss + resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(packets, flows, wall, rss)
PY
run_nfstream() {
	local walls="" out
	for _ in $(seq "$RUNS"); do
		out=$("$VENV/bin/python" "$TMP/nfs.py" "$1")
		walls="$walls $(echo "$out" | cut -d' ' -f3)"
	done
	echo "$(echo "$out" | cut -d' ' -f1,2) $(echo $walls | tr ' ' '\n' | median) $(echo "$out" | cut -d' ' -f4)"
}

read -r cp_pk cp_wall cp_rss < <(run_cuflow "$PFX")
read -r nf_pk nf_flows nf_wall nf_rss < <(run_nfstream "$PFX")
read -r cf_pk cf_wall cf_rss < <(run_cuflow "$CAP")
pps() { awk -v p="$1" -v w="$2" 'BEGIN {printf "%.0f", p / w}'; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
echo "## cuflow extract vs NFStream ($(date -u +%Y-%m-%d), $(nproc) x $cpu)"
echo
echo "Workload: $(basename "$CAP") ($(stat -c %s "$CAP") bytes); prefix for NFStream: first $PREFIX packets."
echo "Median of $RUNS runs, page cache warm, same run."
echo
echo "| tool | input | packets | wall s | packets/s | peak RSS MB |"
echo "|---|---|---|---|---|---|"
echo "| cuflow extract --backend cpu | prefix | $cp_pk | $cp_wall | $(pps "$cp_pk" "$cp_wall") | $((cp_rss / 1024)) |"
echo "| NFStream 6 (statistical_analysis, splt_analysis=30, n_meters=1) | prefix | $nf_pk | $nf_wall | $(pps "$nf_pk" "$nf_wall") | $((nf_rss / 1024)) |"
echo "| cuflow extract --backend cpu | whole | $cf_pk | $cf_wall | $(pps "$cf_pk" "$cf_wall") | $((cf_rss / 1024)) |"
echo
echo "Ratio on the prefix (cuflow packets/s / NFStream packets/s): $(awk -v a="$(pps "$cp_pk" "$cp_wall")" -v b="$(pps "$nf_pk" "$nf_wall")" 'BEGIN {printf "%.1fx", a / b}')"
} | tee "$WORK/extract_results.md"

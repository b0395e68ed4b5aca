#!/usr/bin/env bash
# cuflow flowpic (CPU backend) against the reference Python pipeline
# (tests/oracles/flowpic_ref.py: numpy, image for image equal to the
# official talshapira/FlowPic scripts and to tcbench's get_flowpic) for
# both presets, in the same run.
#
# Workload: pathspider's real.pcap (Debian package pathspider, fetched with
# apt-get download; 62k packets over an hour of real traffic) amplified
# with `cuflow synth --replay` to about 2 GB (--copies 360). The Python
# pipeline holds every packet and image in memory (a 2 GB capture needs
# tens of GB), so it runs on the first --prefix copies (the same bytes as
# the start of the big file); cuflow runs on both, the outputs of the
# prefix are compared value for value, and the ratio is stated per packet.
#
# usage: bench/flowpic_bench.sh [--copies N] [--prefix K] [--runs N] [--build DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COPIES=360 PREFIX=8 RUNS=3 BUILD=$ROOT/build
while [ $# -gt 0 ]; do
	case $1 in
	--copies) COPIES=$2; shift ;;
	--prefix) PREFIX=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--build) BUILD=$(realpath "$2"); shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "flowpic_bench: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
CUFLOW=$BUILD/cuflow
WORK=$ROOT/bench/.work
PY=/usr/bin/python3
mkdir -p "$WORK"
[ -x "$CUFLOW" ] || { echo "flowpic_bench: build cuflow first ($CUFLOW)" >&2; exit 1; }
REAL=$WORK/pathspider/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap
if [ ! -f "$REAL" ]; then
	(cd "$WORK" && apt-get download pathspider >/dev/null && dpkg -x pathspider_*.deb pathspider)
fi
BIG=$WORK/flowpic-real-x$COPIES.pcap SMALL=$WORK/flowpic-real-x$PREFIX.pcap
[ -f "$BIG" ] || "$CUFLOW" synth --replay "$REAL" --copies "$COPIES" -o "$BIG" -q
[ -f "$SMALL" ] || "$CUFLOW" synth --replay "$REAL" --copies "$PREFIX" -o "$SMALL" -q
TMP=$(mktemp -d -p "$WORK")
trap 'rm -rf "$TMP"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
packets() { "$CUFLOW" info --json "$1" 2>/dev/null | sed -n 's/.*"total".*"packets": *\([0-9]*\).*/\1/p' | head -1; }
secs() { echo "$2 - $1" | bc -l; }

run_cuflow() { # FILE PRESET -> "wall images rss"
	local walls="" rss images
	cat "$1" >/dev/null
	for _ in $(seq "$RUNS"); do
		rm -rf "$TMP/cf"
		local t0=$EPOCHREALTIME
		/usr/bin/time -f "%M" -o "$TMP/rss" "$CUFLOW" flowpic -q --backend cpu --preset "$2" "$1" -o "$TMP/cf"
		walls="$walls $(secs "$t0" "$EPOCHREALTIME")"
	done
	rss=$(cat "$TMP/rss")
	images=$(sed -n 's/.*"images": \([0-9]*\).*/\1/p' "$TMP/cf/meta.json" | head -1)
	echo "$(echo $walls | tr ' ' '\n' | median) $images $rss"
}

run_python() { # FILE PRESET -> "wall images rss"
	rm -rf "$TMP/py"
	local t0=$EPOCHREALTIME
	/usr/bin/time -f "%M" -o "$TMP/rss" "$PY" "$ROOT/tests/oracles/flowpic_ref.py" "$1" --preset "$2" --out "$TMP/py" >/dev/null
	local w
	w=$(secs "$t0" "$EPOCHREALTIME")
	echo "$w $(($(wc -l <"$TMP/py/index.csv") - 1)) $(cat "$TMP/rss")"
}

same() { # compares $TMP/cf and $TMP/py
	"$PY" - "$TMP/cf" "$TMP/py" <<'EOF'
import sys, numpy as np
a, b = (np.load(d + '/flowpic.npy', mmap_mode='r') for d in sys.argv[1:3])
ia, ib = (open(d + '/index.csv').read() for d in sys.argv[1:3])
print('identical' if a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b) and ia == ib else 'DIFFERENT')
EOF
}

np_big=$(packets "$BIG") np_small=$(packets "$SMALL")
echo "## flowpic: cuflow flowpic vs the reference Python pipeline ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -m))"
echo "workload: pathspider real.pcap x $COPIES = $(stat -c %s "$BIG") bytes, $np_big packets; Python on the first $PREFIX copies ($np_small packets)"
echo "| preset | tool | file | wall s | images | images/s | packets/s | peak RSS MB |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
for preset in official mini; do
	read -r w i r <<<"$(run_cuflow "$BIG" "$preset")"
	cf_big_pps=$(echo "$np_big / $w" | bc -l)
	printf '| %s | cuflow (CPU, median of %s) | x%s | %.3f | %s | %.0f | %.0f | %s |\n' "$preset" "$RUNS" "$COPIES" "$w" "$i" \
		"$(echo "$i / $w" | bc -l)" "$cf_big_pps" "$((r / 1024))"
	read -r w i r <<<"$(run_cuflow "$SMALL" "$preset")"
	printf '| %s | cuflow (CPU, median of %s) | x%s | %.3f | %s | %.0f | %.0f | %s |\n' "$preset" "$RUNS" "$PREFIX" "$w" "$i" \
		"$(echo "$i / $w" | bc -l)" "$(echo "$np_small / $w" | bc -l)" "$((r / 1024))"
	read -r pw pi pr <<<"$(run_python "$SMALL" "$preset")"
	py_pps=$(echo "$np_small / $pw" | bc -l)
	printf '| %s | Python reference (1 run) | x%s | %.3f | %s | %.0f | %.0f | %s |\n' "$preset" "$PREFIX" "$pw" "$pi" \
		"$(echo "$pi / $pw" | bc -l)" "$py_pps" "$((pr / 1024))"
	echo "$preset: cuflow on the 2 GB file vs Python per packet: $(printf %.0f "$(echo "$cf_big_pps / $py_pps" | bc -l)")x; prefix outputs: $(same)"
done

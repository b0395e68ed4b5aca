#!/usr/bin/env bash
# Reader + decoder throughput against libpcap on `cuflow synth` captures
# (mixed sizes and 64-byte frames), the read() floor, and the peak RSS of
# `cuflow info` on a 4 GB capture. Prints a Markdown report on stdout and
# keeps it, with the raw JSON, in bench/.work/.
#
# usage: bench/reader_bench.sh [--quick] [--runs N] [--cpu N] [--regen] [--keep]
#                              [--build DIR] [--mixed FILE] [--small FILE]
#   --quick        0.2 GB workloads, no 4 GB RSS check
#   --runs N       interleaved runs per mode (default 5)
#   --cpu N        pin the benchmark to CPU N
#   --regen        regenerate the workloads even when they are up to date
#   --keep         keep the 4 GB capture (deleted by default)
#   --build DIR    build directory (default build-bench; configured Release
#                  without CUDA when it does not exist)
#   --mixed/--small FILE   use this capture instead of generating one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
WORK=$ROOT/bench/.work
QUICK=0 RUNS=5 CPU='' REGEN=0 KEEP=0 MIXED='' SMALL=''

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--runs) RUNS=$2; shift ;;
	--cpu) CPU=$2; shift ;;
	--regen) REGEN=1 ;;
	--keep) KEEP=1 ;;
	--build) BUILD=$(realpath -m "$2"); shift ;;
	--mixed) MIXED=$(realpath "$2"); shift ;;
	--small) SMALL=$(realpath "$2"); shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "reader_bench: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done

for tool in cmake jq awk /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "reader_bench: needs $tool" >&2; exit 1; }
done

if [ "$QUICK" = 1 ]; then GB=0.2; else GB=2; fi
RSS_GB=4

# ---------------------------------------------------------------- build
# Timings of a Debug build mean nothing: configure Release when we own the
# directory, warn when someone else's is not.
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	gen=(); ! command -v ninja >/dev/null || gen=(-G Ninja)
	cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCUFLOW_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=Release \
		-DCUFLOW_BUILD_TESTS=OFF -DCUFLOW_BUILD_BENCH=ON >&2
fi
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ "$BTYPE" = Release ] || echo "reader_bench: warning: $BUILD is a '$BTYPE' build, not Release" >&2
cmake --build "$BUILD" --target cuflow_cli cuflow_bench_reader >&2
CUFLOW=$BUILD/cuflow
BENCH=$BUILD/bench/cuflow_bench_reader

mkdir -p "$WORK"

# Arithmetic with awk, not bc (bc is missing on minimal machines).
calc() { awk "BEGIN { print $* }"; }
is() { awk "BEGIN { exit !($*) }"; }

# ---------------------------------------------------------------- space
# Bytes still to be written (workloads already there cost nothing), plus
# 1 GB of slack.
avail_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
need_gb=1
[ -n "$MIXED" ] || [ -f "$WORK/mixed-$GB.pcap" ] || need_gb=$(calc "$need_gb + $GB")
[ -n "$SMALL" ] || [ -f "$WORK/small64-$GB.pcap" ] || need_gb=$(calc "$need_gb + $GB")
[ "$QUICK" = 1 ] || need_gb=$(calc "$need_gb + $RSS_GB")
if is "$avail_kb < $need_gb * 1000000"; then
	echo "reader_bench: $WORK has $((avail_kb / 1000000)) GB free, needs $need_gb GB" >&2
	exit 1
fi
# The files must fit in the page cache (one at a time) or the run times the disk.
avail_mem_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
if is "$avail_mem_kb < $GB * 1000000 * 1.5"; then
	echo "reader_bench: warning: only $((avail_mem_kb / 1024)) MB available for the page cache" >&2
fi

# ---------------------------------------------------------------- workloads
# A workload is regenerated when its synth command or the synth sources
# changed (the output depends only on those).
synth_sig() {
	echo "$*"
	cat "$ROOT"/host/synth/*.c "$ROOT"/host/cli/cmd_synth.c 2>/dev/null | md5sum
}
synth() {  # synth FILE ARGS...
	local file=$1; shift
	local sig; sig=$(synth_sig "$@")
	if [ "$REGEN" = 0 ] && [ -f "$file" ] && [ "$(cat "$file.sig" 2>/dev/null)" = "$sig" ]; then
		echo "reader_bench: reusing $file" >&2
		return
	fi
	echo "reader_bench: cuflow synth -o $file $*" >&2
	rm -f "$file" "$file.sig"
	# errexit is off inside `if synth`: check by hand.
	"$CUFLOW" synth -o "$file" "$@" >&2 || { rm -f "$file"; return 1; }
	echo "$sig" >"$file.sig"
}

if [ -z "$MIXED" ]; then
	MIXED=$WORK/mixed-$GB.pcap
	synth "$MIXED" --gbytes "$GB"
fi
if [ -z "$SMALL" ]; then
	SMALL=$WORK/small64-$GB.pcap
	synth "$SMALL" --gbytes "$GB" --frame-size 64
fi

now() { date +%s.%N; }

# `cat FILE > /dev/null` from the page cache: the best of 3 after a warm-up.
cat_floor() {
	local best=0 t0 t1 gbps size
	size=$(stat -c %s "$1")
	cat "$1" >/dev/null
	for _ in 1 2 3; do
		t0=$(now); cat "$1" >/dev/null; t1=$(now)
		gbps=$(calc "int($size / ($t1 - $t0) / 1e7) / 100")
		! is "$gbps > $best" || best=$gbps
	done
	echo "$best"
}

# ---------------------------------------------------------------- throughput
STATUS=0
BENCH_ARGS=(--runs "$RUNS" --json)
[ -z "$CPU" ] || BENCH_ARGS+=(--cpu "$CPU")
declare -A FLOOR
for w in mixed small64; do
	if [ $w = mixed ]; then f=$MIXED; else f=$SMALL; fi
	FLOOR[$w]=$(cat_floor "$f")
	echo "reader_bench: $w: $BENCH $f ${BENCH_ARGS[*]}" >&2
	if ! "$BENCH" "$f" "${BENCH_ARGS[@]}" >"$WORK/$w.json"; then
		echo "reader_bench: $w: cuflow_bench_reader failed" >&2
		STATUS=1
	fi
done

# ---------------------------------------------------------------- peak RSS
# "Maximum resident set size" of a full `cuflow info` (reader + decoder +
# summary) over a 4 GB capture, and of the bare reader + decoder loop.
max_rss_kb() {  # max_rss_kb CMD...: prints "PEAK_RSS_KB WALL_SECONDS", or "failed"
	local out; out=$(mktemp)
	if /usr/bin/time -v "$@" >/dev/null 2>"$out"; then
		awk '/Maximum resident set size/ { rss = $NF }
			/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0
				for (i = 1; i <= n; i++) s = s * 60 + t[i] }
			END { print rss, s }' "$out"
	else
		echo failed
		tail -5 "$out" >&2
	fi
	rm -f "$out"
}
RSS_INFO='' RSS_MMAP='' RSS_DECODE='' RSS_LIBPCAP='' RSS_FILE='' INFO_S=''
if [ "$QUICK" = 0 ]; then
	RSS_FILE=$WORK/rss-$RSS_GB.pcap
	[ "$KEEP" = 1 ] || trap 'rm -f "$RSS_FILE" "$RSS_FILE.sig"' EXIT
	if synth "$RSS_FILE" --gbytes "$RSS_GB"; then
		cat "$RSS_FILE" >/dev/null  # page cache, as for the other workloads
		read -r RSS_INFO INFO_S < <(max_rss_kb "$CUFLOW" info "$RSS_FILE")
		# the mmap path (CUFLOW_MMAP=1) counts mapped file pages in RSS:
		# it relies on releasing them behind the walk
		read -r RSS_MMAP _ < <(max_rss_kb env CUFLOW_MMAP=1 "$CUFLOW" info "$RSS_FILE")
		read -r RSS_DECODE _ < <(max_rss_kb "$BENCH" "$RSS_FILE" --mode cuflow-decode --runs 1)
		read -r RSS_LIBPCAP _ < <(max_rss_kb "$BENCH" "$RSS_FILE" --mode libpcap --runs 1)
	else
		RSS_INFO=failed
	fi
	[ "$RSS_INFO" != failed ] && [ -n "$RSS_INFO" ] || STATUS=1
fi

# ---------------------------------------------------------------- report
mb() { case $1 in ''|failed) echo "${1:-n/a}" ;; *) echo "$(($1 / 1024)) MB" ;; esac; }
yesno() { if is "$1"; then echo yes; else echo "**no**"; fi; }
jqf() {  # jqf WORKLOAD FILTER: a value from the JSON of one workload, "n/a" if absent
	local v
	v=$(jq -r "$2 // \"n/a\"" "$WORK/$1.json" 2>/dev/null) || v=
	echo "${v:-n/a}"
}
ratio() { jqf "$1" ".modes[] | select(.mode == \"$2\") | .ratio"; }

REPORT=$WORK/results.md
{
	echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
		"$(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM," \
		"Linux $(uname -r), libpcap $(pkg-config --modversion libpcap 2>/dev/null || echo '?')," \
		"$(date -u +%Y-%m-%d)"
	echo
	echo "Median of $RUNS interleaved runs, one thread, files in the page cache." \
		"x libpcap = libpcap time / mode time (ratio of medians; paired = median of per-round ratios);" \
		"cpu = CPU time / wall time of the pass (well below 100%: the machine was busy, wall times suspect)."
	echo
	echo "| workload | mode | packets | Mpps | GB/s | x libpcap | (paired) | cpu |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|"
	for w in mixed small64; do
		[ -s "$WORK/$w.json" ] || { echo "| $w | (failed) | | | | | | |"; continue; }
		echo "| $w | \`cat > /dev/null\` (floor) | | | ${FLOOR[$w]} | | | |"
		jq -r --arg w "$w" '.modes[] | [$w, .mode, .packets, .mpps, .gbps, .ratio, .ratio_paired,
			.cpu_seconds / .seconds * 100] | @tsv' "$WORK/$w.json" | awk -F'\t' '
			$2 == "floor" { printf "| %s | read() floor, in process | | | %.2f | | | %.0f%% |\n", $1, $5, $8; next }
			{ printf "| %s | %s | %d | %.2f | %.2f | %.2fx | %.2fx | %.0f%% |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
	done
	echo
	echo "| workload | bytes | packets | mean frame (B) | counts match libpcap |"
	echo "|---|---:|---:|---:|---|"
	for w in mixed small64; do
		[ -s "$WORK/$w.json" ] || continue
		jq -r --arg w "$w" '(.modes[] | select(.mode == "libpcap") | .packets) as $n'`
			`' | "| \($w) | \(.bytes) | \($n) | \((.bytes / $n - 16) | floor) | \(.counts_match) |"' \
			"$WORK/$w.json"
	done
	echo
	mixed=$(ratio mixed cuflow-decode) small=$(ratio small64 cuflow-decode)
	[ "$mixed" = n/a ] || mixed=$(printf %.2f "$mixed")
	[ "$small" = n/a ] || small=$(printf %.2f "$small")
	echo "| target | measured | met |"
	echo "|---|---:|---|"
	if [ "$mixed" = n/a ]; then echo "| reader + decoder >= 1.5x libpcap, mixed sizes | n/a | **no** |"
	else echo "| reader + decoder >= 1.5x libpcap, mixed sizes | ${mixed}x | $(yesno "$mixed >= 1.5") |"; fi
	if [ "$small" = n/a ]; then echo "| reader + decoder >= 3x libpcap, 64-byte frames | n/a | **no** |"
	else echo "| reader + decoder >= 3x libpcap, 64-byte frames | ${small}x | $(yesno "$small >= 3") |"; fi
	if [ "$QUICK" = 0 ]; then
		case $RSS_INFO in
		''|failed) echo "| \`cuflow info\` peak RSS on a $RSS_GB GB capture < 256 MB | failed | **no** |" ;;
		*) echo "| \`cuflow info\` peak RSS on a $RSS_GB GB capture < 256 MB | $(mb "$RSS_INFO") | $(yesno "$RSS_INFO < 262144") |" ;;
		esac
		echo
		echo "Peak RSS on the $RSS_GB GB capture: \`cuflow info\` $(mb "$RSS_INFO")" \
			"($(mb "$RSS_MMAP") with \`CUFLOW_MMAP=1\`)," \
			"reader + decoder loop $(mb "$RSS_DECODE"), libpcap loop $(mb "$RSS_LIBPCAP")."
		if [ -n "$INFO_S" ] && is "$INFO_S > 0"; then
			echo "\`cuflow info\` (reader + decoder + summary) took ${INFO_S} s on it:" \
				"$(calc "int($(stat -c %s "$RSS_FILE") / $INFO_S / 1e7) / 100") GB/s."
		fi
	fi
} | tee "$REPORT"
echo "reader_bench: report in $REPORT, raw results in $WORK/{mixed,small64}.json" >&2
exit $STATUS

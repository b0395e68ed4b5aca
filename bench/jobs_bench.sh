#!/bin/bash
# --jobs 1 vs --jobs 2 (and more) on bench/run's many-files workload: every
# capture of ../shared/captures (bench/run's capture_files: the files whose
# first bytes are a capture or a compressed one), given as one @list to one
# process. Runs are interleaved, page cache warm (one unmeasured run first);
# prints each run's wall time, the medians and their ratio, and checks the
# outputs are byte-identical.
#   bench/jobs_bench.sh BUILD_DIR [RUNS] [COMMAND...]   (COMMAND default: flows)
set -eu
B=${1:?usage: bench/jobs_bench.sh BUILD_DIR [RUNS] [flows|extract]}/cuflow
RUNS=${2:-7}
CMD=${3:-flows}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$HERE/../../shared/captures
W=$(mktemp -d /tmp/cuflow-jobs.XXXXXX)
trap 'rm -rf "$W"' EXIT
[ -d "$SHARED" ] || { echo "needs ../shared/captures"; exit 0; }
python3 - "$SHARED" "$W/list.txt" <<'PY'
import sys
from pathlib import Path
magics = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
          b"\x0a\x0d\x0d\x0a", b"snoo", b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zX", b"\x04\x22\x4d\x18")
out = [str(p) for p in sorted(Path(sys.argv[1]).rglob("*"))
       if p.is_file() and p.stat().st_size > 0 and open(p, "rb").read(4) in magics]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("%d files, %.1f MB" % (len(out), sum(Path(p).stat().st_size for p in out) / 1e6))
PY
run() { # jobs output
	case $CMD in
	flows) "$B" flows -q --jobs "$1" @"$W/list.txt" -o "$2.csv" ;;
	extract) "$B" extract -q --format parquet --jobs "$1" @"$W/list.txt" -o "$2" ;;
	esac >/dev/null 2>&1 || true
}
run 1 "$W/warm"
for i in $(seq "$RUNS"); do
	for j in 1 2; do
		s=$(date +%s.%N)
		run "$j" "$W/j$j"
		e=$(date +%s.%N)
		echo "$j $(echo "$e - $s" | bc)"
	done
done >"$W/times"
python3 - "$W/times" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    j, t = l.split()
    d[j].append(float(t))
for j in sorted(d):
    print("--jobs %s: %s  median %.3f s" % (j, " ".join("%.3f" % t for t in d[j]), statistics.median(d[j])))
print("speed-up of the medians: %.2fx" % (statistics.median(d["1"]) / statistics.median(d["2"])))
PY
if [ "$CMD" = flows ]; then cmp "$W/j1.csv" "$W/j2.csv" && echo "outputs identical"; else diff -r -q "$W/j1" "$W/j2" | grep -v manifest || echo "outputs identical (manifest apart)"; fi

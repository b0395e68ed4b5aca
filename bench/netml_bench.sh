#!/usr/bin/env bash
# cuflow netml against upstream netml 0.7.1 (pip) on the same capture, in
# the same run: the six feature types IAT, SIZE, IAT_SIZE, STATS, SAMP_NUM,
# SAMP_SIZE (no FFT, no header), netml's defaults (q_interval 0.9,
# threshold 2, 600 s timeouts). Upstream runs PCAP() + pcap2flows() once,
# then flow2features() for each type, as a user would; cuflow computes the
# six matrices in one pass. Both outputs are compared value for value (a
# fast wrong answer shows up). Upstream's packet size is patched to the
# captured length, as cuflow's (docs/netml.md: scapy re-encodes a few
# LDAP/Kerberos packets); that patch costs nothing measurable.
#
# usage: bench/netml_bench.sh [--capture FILE] [--runs N] [--build DIR] [--venv DIR]
#   --capture FILE  workload (default bench/.work/netml-188k.pcap: `cuflow synth
#                   --flows 4000 --duration 300`, 187,926 packets, 123 MB)
#   --runs N        cuflow runs, median reported (default 5); upstream runs once
#   --build DIR     build directory with ./cuflow (default build)
#   --venv DIR      virtual environment with netml 0.7.1 (default build/netml-venv,
#                   as .ci/deps.sh makes; created with pip when absent)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CAP=$ROOT/bench/.work/netml-188k.pcap RUNS=5 BUILD=$ROOT/build VENV=$ROOT/build/netml-venv
while [ $# -gt 0 ]; do
	case $1 in
	--capture) CAP=$(realpath "$2"); shift ;;
	--runs) RUNS=$2; shift ;;
	--build) BUILD=$(realpath "$2"); shift ;;
	--venv) VENV=$(realpath -m "$2"); shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "netml_bench: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
CUFLOW=$BUILD/cuflow
mkdir -p "$ROOT/bench/.work"
[ -x "$CUFLOW" ] || { echo "netml_bench: build cuflow first ($CUFLOW)" >&2; exit 1; }
[ -f "$CAP" ] || "$CUFLOW" synth -o "$CAP" --flows 4000 --duration 300 --quiet
if ! "$VENV/bin/python" -c 'import netml' 2>/dev/null; then
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q netml==0.7.1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TYPES=IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# cuflow: wall seconds of each run (EPOCHREALTIME: /usr/bin/time rounds to 10 ms)
cat "$CAP" >/dev/null
walls=""
for _ in $(seq "$RUNS"); do
	t0=$EPOCHREALTIME
	"$CUFLOW" netml --backend cpu -q --type $TYPES "$CAP" -o "$TMP/cf"
	t1=$EPOCHREALTIME
	walls="$walls $(echo "$t1 - $t0" | bc -l)"
done
/usr/bin/time -f "%M" -o "$TMP/rss" "$CUFLOW" netml --backend cpu -q --type $TYPES "$CAP" -o "$TMP/cf"
cf_wall=$(echo $walls | tr ' ' '\n' | median)
cf_rss=$(cat "$TMP/rss")
packets=$(sed -n 's/.*"read": \([0-9]*\).*/\1/p' "$TMP/cf/meta.json")

# upstream netml: timed inside Python (import excluded), matrices saved for the check
cat >"$TMP/up.py" <<'EOF'
import builtins, json, sys, time
import numpy as np
import netml.pparser.parser as P
from netml.pparser.parser import PCAP
P.len = lambda x: builtins.len(x.original) if hasattr(x, 'original') else builtins.len(x)
cap, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
pc = PCAP(cap, flow_ptks_thres=2)
pc.pcap2flows(q_interval=0.9)
t1 = time.perf_counter()
feat = {}
for T in ['IAT', 'SIZE', 'IAT_SIZE', 'STATS', 'SAMP_NUM', 'SAMP_SIZE']:
    s = time.perf_counter()
    pc.flow2features(T, fft=False, header=False)
    feat[T] = time.perf_counter() - s
    np.save(f'{out}/{T}.npy', pc.features)
t2 = time.perf_counter()
json.dump({'flows_s': t1 - t0, 'features_s': feat, 'total_s': t2 - t0, 'subflows': len(pc.flows)},
          open(f'{out}/time.json', 'w'))
EOF
mkdir -p "$TMP/up"
/usr/bin/time -f "%M" -o "$TMP/uprss" "$VENV/bin/python" "$TMP/up.py" "$CAP" "$TMP/up" 2>"$TMP/uperr" ||
	{ echo "netml_bench: upstream netml failed:"; tail -5 "$TMP/uperr"; exit 1; }
up_wall=$("$VENV/bin/python" -c "import json;print(json.load(open('$TMP/up/time.json'))['total_s'])")
up_flows=$("$VENV/bin/python" -c "import json;print(json.load(open('$TMP/up/time.json'))['flows_s'])")
up_rss=$(cat "$TMP/uprss")

# same values? (non-FFT outputs are bit-exact by design)
check=$("$VENV/bin/python" - "$TMP/cf" "$TMP/up" <<'EOF'
import sys, numpy as np
bad = []
for T in ['IAT', 'SIZE', 'IAT_SIZE', 'STATS', 'SAMP_NUM', 'SAMP_SIZE']:
    a, b = np.load(f'{sys.argv[1]}/{T}.npy'), np.load(f'{sys.argv[2]}/{T}.npy')
    if a.shape != b.shape or a.tobytes() != b.astype(np.float64).tobytes():
        bad.append(T)
print('identical' if not bad else 'DIFFERENT: ' + ','.join(bad))
EOF
)

ratio=$(echo "$up_wall / $cf_wall" | bc -l)
cat <<EOF
## netml: cuflow netml vs upstream netml 0.7.1 ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -m))
workload: $(basename "$CAP"), $packets packets, $(stat -c %s "$CAP") bytes; types $TYPES
| tool | wall s | packets/s | peak RSS MB | command |
|---|---:|---:|---:|---|
| cuflow netml (CPU, median of $RUNS) | $(printf %.4f "$cf_wall") | $(printf %.0f "$(echo "$packets / $cf_wall" | bc -l)") | $(echo "$cf_rss / 1024" | bc) | \`cuflow netml --backend cpu --type $TYPES CAPTURE -o DIR\` |
| netml 0.7.1 (1 run; flows $(printf %.1f "$up_flows") s) | $(printf %.2f "$up_wall") | $(printf %.0f "$(echo "$packets / $up_wall" | bc -l)") | $(echo "$up_rss / 1024" | bc) | \`PCAP(f).pcap2flows(); flow2features(T)\` x 6 |
speed-up: $(printf %.0f "$ratio")x; outputs: $check
EOF

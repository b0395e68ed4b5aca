#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# and fuzzes each for a bounded time.
#
#   tests/fuzz/run_fuzz.sh [SECONDS_PER_TARGET]
#
# Steps: (1) check that clang links -fsanitize=fuzzer; (2) configure
# build-fuzz/ (once) and build the targets; (3) seeds: tests/fuzz/make_corpus.py
# picks up to 300 small captures (< 64 KB) from ../shared/captures (skipped
# when absent) and captures the build wrote (build/tests/tmp, tests/.data),
# adds synthetic ones, and cuts single frames from them for fuzz_decode;
# (4) per target: replay tests/fuzz/regressions/<target>/*, then fuzz for
# SECONDS with -rss_limit_mb=1024 -timeout=5. New interesting inputs
# accumulate in <work>/corpus/<target> across runs.
#
# Exit status: 0 when no target crashed; 1 on a crash, leak, timeout,
# out-of-memory or build failure (the input's path, a repro command and,
# when small, its base64 are printed); 77 when clang/libFuzzer is missing
# (1 instead when CI=true or FUZZ_REQUIRE=1).
#
# Environment (all optional):
#   FUZZ_SECONDS      seconds per target (default 60; the argument wins)
#   FUZZ_TARGETS      default "fuzz_reader fuzz_decode fuzz_netml fuzz_joy fuzz_joy_reader fuzz_model_load fuzz_dataset fuzz_windows fuzz_dns_dhcp"
#   FUZZ_BUILD_DIR    clang build directory (default <repo>/build-fuzz)
#   FUZZ_BIN_DIR      use the fuzz binaries in this directory, build nothing
#   FUZZ_WORK_DIR     seeds, corpus, artifacts, logs (default <build dir>/work)
#   FUZZ_CC, FUZZ_CXX compilers (default clang, clang++)
#   FUZZ_JOBS         build parallelism (default: all cores)
#   FUZZ_RSS_MB       -rss_limit_mb (default 1024); FUZZ_TIMEOUT -timeout (default 5)
#   FUZZ_MAX_SEEDS    shared captures taken (default 300); FUZZ_SEED_MAX_BYTES (65536)
#   FUZZ_EXTRA_ARGS   more libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   CUFLOW_SHARED     the shared directory (default <repo>/../shared)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-${FUZZ_SECONDS:-60}}
targets=${FUZZ_TARGETS:-fuzz_reader fuzz_decode fuzz_netml fuzz_joy fuzz_joy_reader fuzz_model_load fuzz_dataset fuzz_windows fuzz_dns_dhcp}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
bin=${FUZZ_BIN_DIR:-$build/tests/fuzz}
work=${FUZZ_WORK_DIR:-$build/work}
cc=${FUZZ_CC:-clang}
cxx=${FUZZ_CXX:-clang++}
rss=${FUZZ_RSS_MB:-1024}
timeout=${FUZZ_TIMEOUT:-5}
shared=${CUFLOW_SHARED:-$root/../shared}

case $seconds in ''|*[!0-9]*) echo "run_fuzz: SECONDS must be a number, got '$seconds'" >&2; exit 2 ;; esac

now() { date +%s; }
log() { printf '[run_fuzz] %s\n' "$*"; }

missing() {
	if [[ ${CI:-} == true || ${FUZZ_REQUIRE:-0} == 1 ]]; then
		log "ERROR: $* (required here: CI=true or FUZZ_REQUIRE=1)"
		exit 1
	fi
	log "SKIP: $*"
	exit 77
}

# ------------------------------------------------------------ (1) toolchain
if [[ -z ${FUZZ_BIN_DIR:-} ]]; then
	command -v "$cc" >/dev/null 2>&1 || missing "$cc not found (Debian: apt-get install clang)"
	command -v cmake >/dev/null 2>&1 || missing "cmake not found"
	probe=$(mktemp -d)
	trap 'rm -rf "$probe"' EXIT
	printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$probe/p.c"
	if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
		sed 's/^/    /' "$probe/log" | tail -5
		missing "$cc cannot link -fsanitize=fuzzer,address,undefined (Debian: apt-get install libclang-rt-$("$cc" -dumpversion | cut -d. -f1)-dev)"
	fi
fi

# llvm-symbolizer makes the stack traces readable.
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
	for s in "$(command -v llvm-symbolizer || true)" /usr/lib/llvm-*/bin/llvm-symbolizer; do
		if [[ -n $s && -x $s ]]; then export ASAN_SYMBOLIZER_PATH=$s; break; fi
	done
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ------------------------------------------------------------ (2) build
t0=$(now)
if [[ -z ${FUZZ_BIN_DIR:-} ]]; then
	gen=()
	command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
	if [[ ! -f $build/CMakeCache.txt ]]; then
		log "configuring $build with $cc"
		cmake -S "$root" -B "$build" "${gen[@]}" \
			-DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
			-DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
			-DCUFLOW_WITH_CUDA=OFF -DCUFLOW_BUILD_TESTS=OFF -DCUFLOW_BUILD_BENCH=OFF \
			-DCUFLOW_BUILD_FUZZ=ON >"$build.configure.log" 2>&1 || {
			cat "$build.configure.log"; log "ERROR: configure failed"; exit 1; }
		mv "$build.configure.log" "$build/configure.log"
	fi
	# shellcheck disable=SC2086
	cmake --build "$build" -j "${FUZZ_JOBS:-$(nproc)}" --target $targets || {
		log "ERROR: build failed"; exit 1; }
	grep -q '^CUFLOW_HAVE_LIBFUZZER:INTERNAL=1' "$build/CMakeCache.txt" || {
		log "ERROR: $build was not configured with libFuzzer (remove it and rerun)"; exit 1; }
fi
for t in $targets; do
	[[ -x $bin/$t ]] || { log "ERROR: $bin/$t not built"; exit 1; }
done
t1=$(now)
log "build: $((t1 - t0)) s"

# ------------------------------------------------------------ (3) seeds
mkdir -p "$work"
seeds=$work/seeds
extra=()
for d in "$root/build/tests/tmp" "$root/tests/.data"; do
	[[ -d $d ]] && extra+=(--extra "$d")
done
if command -v python3 >/dev/null 2>&1; then
	cap_arg=()
	if [[ -d $shared/captures ]]; then
		cap_arg=(--captures "$shared/captures")
	else
		log "no $shared/captures: synthetic seeds only"
	fi
	python3 "$here/make_corpus.py" --out "$seeds" "${cap_arg[@]}" "${extra[@]}" \
		--max-files "${FUZZ_MAX_SEEDS:-300}" --max-bytes "${FUZZ_SEED_MAX_BYTES:-65536}"
else
	log "no python3: fuzzing without seeds"
	for t in $targets; do mkdir -p "$seeds/$t"; done
fi
t2=$(now)
# fuzz_netml and fuzz_joy take whole captures, like fuzz_reader
rm -rf "$seeds/fuzz_netml" "$seeds/fuzz_joy" && cp -r "$seeds/fuzz_reader" "$seeds/fuzz_netml" && cp -r "$seeds/fuzz_reader" "$seeds/fuzz_joy"
# fuzz_joy_reader: Joy's own records (gzip, and the first lines as plain text)
mkdir -p "$seeds/fuzz_joy_reader"
for f in "$shared"/data/joy/reference/*.joy.json.gz; do
	[ -e "$f" ] || continue
	b=$(basename "$f" .joy.json.gz)
	[ "$(stat -c %s "$f")" -lt 65536 ] && cp "$f" "$seeds/fuzz_joy_reader/$b.gz"
	zcat "$f" | head -n 6 > "$seeds/fuzz_joy_reader/$b.json" || true
done
printf '{"sa":"10.0.0.1","da":"10.0.0.2","pr":17,"sp":null,"dp":2,"bytes_out":5,"num_pkts_out":1,"time_start":1.5,"time_end":1.5,"packets":[{"rep":5,"dir":">","ipt":4294967295}]}\n' \
	> "$seeds/fuzz_joy_reader/one.json"
# fuzz_model_load: a small model's config.json (first byte even) and weights (odd)
mkdir -p "$seeds/fuzz_model_load"
python3 - "$seeds/fuzz_model_load" <<'PY' || true
import json, struct, sys
d = sys.argv[1]
cfg = {"model": "nested", "format": 1, "pkt_hidden": 4, "ttl_vocab": 16, "ttl_dim": 2, "id_hidden": 3,
       "dense_units": 5, "dense_layers": 2, "classes": 3, "max_packets": 100, "max_ids": 50,
       "reference_compat": 0, "class_names": ["a", "b", "c"]}
open(d + "/config", "wb").write(b"\0" + json.dumps(cfg).encode())
fp = {"model": "flowpic-mini", "format": 1, "channels": 1, "size": 32, "classes": 3, "conv1": 6, "conv2": 16,
      "kernel": 5, "stride": 1, "pool": 2, "hidden1": 120, "hidden2": 84, "drop_conv": 0.25, "drop_fc": 0.5,
      "same_padding": 0, "pad_sym": -1, "class_names": ["a", "b", "c"]}
open(d + "/config-flowpic", "wb").write(b"\0" + json.dumps(fp).encode())
hdr = json.dumps({"pkt_lstm.weight_ih_l0": {"dtype": "F32", "shape": [16, 3], "data_offsets": [0, 192]}}).encode()
hdr += b" " * (-len(hdr) % 8)
open(d + "/weights", "wb").write(b"\1" + struct.pack("<Q", len(hdr)) + hdr + bytes(192))
PY
# fuzz_dataset: each file of a two-row extract dataset behind its selector byte
mkdir -p "$seeds/fuzz_dataset"
python3 - "$seeds/fuzz_dataset" <<'PY' || true
import struct, sys
d = sys.argv[1]
def npy(descr, shape, fmt, vals):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<" + fmt * len(vals), *vals)
schema = ('{"rows": 2, "features": {"columns": [{"name": "bidirectional_duration_ns"}, {"name": "src2dst_packets"}, '
          '{"name": "src2dst_bytes"}, {"name": "dst2src_packets"}, {"name": "dst2src_bytes"}]}, '
          '"sequences": {"length": 4}, "labels": {"names": ["a", "b"]}}').encode()
files = [schema, npy("<f4", "(2, 5)", "f", [1e9, 3, 300, 1, 60, 5e6, 1, 1500, 0, 0]),
         npy("<f8", "(2, 4, 3)", "d", [100, 0, 1, 60, 2e6, -1, 100, 3e6, 1] + [0] * 15),
         npy("<i4", "(2,)", "i", [3, 1]), npy("<i8", "(2,)", "q", [1, 0])]
for k, b in enumerate(files):
    open("%s/file%d" % (d, k), "wb").write(bytes([k]) + b)
PY
# fuzz_windows: entries CSVs behind an options byte
mkdir -p "$seeds/fuzz_windows"
printf '\x00ts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state,bytes_up,bytes_down\n1700000001.5,10.0.0.1,1234,10.0.0.2,80,tcp,new,60,0\n1700000010,10.0.0.2,80,10.0.0.1,1234,6,established,0,1500\n1700000012.000000001,fe80::1,5353,ff02::fb,5353,udp,connecting,90,0\n' \
	> "$seeds/fuzz_windows/tumbling.csv"
printf '\x1cts,src_ip,src_port,dst_ip,dst_port,ip_protocol,state\n2023-11-14T22:13:20.5+01:00,10.0.0.1,1,10.0.0.2,80,tcp,reset\n1700000020,10.0.0.1,1,10.0.0.3,22,icmp,closing\n' \
	> "$seeds/fuzz_windows/seed.csv"
log "seeds: $((t2 - t1)) s"

# ------------------------------------------------------------ (4) fuzz
failed=()
summary=()
report_artifacts() { # target artifact-dir
	local t=$1 a=$2 f
	for f in "$a"/crash-* "$a"/leak-* "$a"/timeout-* "$a"/oom-* "$a"/crash-like-*; do
		[[ -f $f ]] || continue
		log "  failing input: $f ($(stat -c %s "$f") bytes)"
		log "  reproduce:     $bin/$t $f"
		if (( $(stat -c %s "$f") <= 4096 )); then
			log "  base64:        $(base64 -w0 "$f")"
		fi
	done
}
show_failure() { # log-file
	local lf=$1 first
	first=$(grep -n -m1 -E '==[0-9]+==ERROR|runtime error|cuflow fuzz contract|ERROR: libFuzzer|deadly signal|ALARM|out-of-memory' "$lf" | cut -d: -f1 || true)
	if [[ -n $first ]]; then
		sed -n "$((first > 3 ? first - 3 : 1)),$((first + 80))p" "$lf"
	else
		tail -n 60 "$lf"
	fi
}

for t in $targets; do
	ts=$(now)
	corpus=$work/corpus/$t
	art=$work/artifacts/$t
	logf=$work/logs/$t.log
	mkdir -p "$corpus" "$art" "$work/logs" "$seeds/$t"
	rm -f "$art"/*

	# Regression inputs first: each must run clean.
	regs=()
	if [[ -d $here/regressions/$t ]]; then
		while IFS= read -r -d '' f; do regs+=("$f"); done < <(find "$here/regressions/$t" -maxdepth 1 -type f ! -name 'README*' -print0 | sort -z)
	fi
	if (( ${#regs[@]} )); then
		if ! "$bin/$t" -rss_limit_mb="$rss" -timeout="$timeout" "${regs[@]}" >"$work/logs/$t.regressions.log" 2>&1; then
			log "$t: a regression input fails again"
			show_failure "$work/logs/$t.regressions.log"
			failed+=("$t (regression)")
			continue
		fi
		log "$t: ${#regs[@]} regression input(s) pass"
	fi

	log "$t: fuzzing for ${seconds} s ($(find "$seeds/$t" -type f | wc -l) seeds, $(find "$corpus" -type f | wc -l) corpus inputs from earlier runs)"
	dict=()
	[[ -f $here/$t.dict ]] && dict=(-dict="$here/$t.dict")
	rc=0
	# shellcheck disable=SC2086
	"$bin/$t" -max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" \
		-print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" ${FUZZ_EXTRA_ARGS:-} \
		"$corpus" "$seeds/$t" >"$logf" 2>&1 || rc=$?
	te=$(now)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -1)
	rss_peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logf" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$logf" | tail -1 || true)
	line="$t: rc=$rc, ${execs:-?} execs (${rate:-?}/s), ${cov:-no coverage line}, peak RSS ${rss_peak:-?} MB, $((te - ts)) s"
	summary+=("$line")
	if (( rc != 0 )); then
		log "$t: FAILED (libFuzzer exit $rc); log: $logf"
		show_failure "$logf"
		report_artifacts "$t" "$art"
		failed+=("$t")
	else
		log "$line"
	fi
done

log "summary (build $((t1 - t0)) s, seeds $((t2 - t1)) s):"
for s in "${summary[@]}"; do log "  $s"; done
if (( ${#failed[@]} )); then
	log "FAILED: ${failed[*]}"
	exit 1
fi
log "no crashes"

#!/bin/bash
# Byte-compares the outputs of two cuflow binaries (an old commit's and the
# new one) for every output that existed in the old one: info JSON, flows
# CSV / JSON lines / Parquet, extract npy + CSV + schema.json and Parquet,
# netml npy / CSV / Parquet + meta.json, flowpic npy + index + meta.json.
# Inputs: synthetic captures written here plus, when present, the capture
# corpus. Prints one line per output and "all N outputs identical" or the
# differing files; exit 1 on a difference.
#   bench/compare_binaries.sh OLD_BIN NEW_BIN [WORKDIR]
set -u
OLD=${1:?usage: compare_binaries.sh OLD_BIN NEW_BIN [WORKDIR]}
NEW=${2:?usage}
W=${3:-/tmp/cuflow-compare}
rm -rf "$W"
mkdir -p "$W/in"
"$NEW" synth -q --flows 400 --seed 3 -o "$W/in/s1.pcap"
"$NEW" synth -q --flows 150 --seed 4 --nanosecond -o "$W/in/s2.pcap"
"$NEW" synth -q --flows 60 --seed 5 --frame-size 64 -o "$W/in/s3.pcap"
CORPUS=()
SHARED=$(cd "$(dirname "$0")/../.." && pwd)/shared/captures
if [ -d "$SHARED" ]; then
	while IFS= read -r f; do CORPUS+=("$f"); done < <(find "$SHARED" -type f \( -name '*.pcap' -o -name '*.pcapng' \) -size -3M | LC_ALL=C sort | head -60)
fi
ALL=("$W"/in/*.pcap "${CORPUS[@]}")
n=0
bad=0
one() { # name, then the command with OUT standing for the output path
	local name=$1
	shift
	for v in old new; do
		local bin=$OLD
		[ $v = new ] && bin=$NEW
		local out="$W/$v/$name"
		mkdir -p "$(dirname "$out")"
		local args=()
		for a in "$@"; do args+=("${a//OUT/$out}"); done
		(cd "$W" && "$bin" "${args[@]}" >"$out.stdout" 2>/dev/null)
	done
	# the manifests of the run driver carry times; meta/schema JSON name the
	# output directory, which differs (old/ and new/)
	for m in "$W"/old/"$name"*.manifest.json "$W"/new/"$name"*.manifest.json; do
		[ -f "$m" ] && sed -i '/"run":/d' "$m"
	done
	find "$W/old" "$W/new" -path "*/$name*" -name '*.json' -exec sed -i "s#$W/old/#W/#g; s#$W/new/#W/#g" {} +
	n=$((n + 1))
	if diff -r -q "$W/old/$name"* "$W/new/$name"* >/dev/null 2>&1 || diff -r -q "$W/old/$name" "$W/new/$name" >/dev/null 2>&1; then
		echo "same  $name"
	else
		echo "DIFF  $name"
		diff -r -q "$W/old" "$W/new" | grep "$name" | head -5
		bad=$((bad + 1))
	fi
}
one info.json info --json -q "${ALL[@]}"
one flows.csv flows -q "${ALL[@]}" -o OUT
one flows.jsonl flows -q "${ALL[@]}" -o OUT
one flows_seq.csv flows -q --seq 8 --threads 3 "${ALL[@]}" -o OUT
one flows.parquet flows -q "${ALL[@]}" -o OUT
one extract extract -q "${ALL[@]}" -o OUT
one extract_lab extract -q --seq 10 --label-from-dir --dtype float64 "${ALL[@]}" -o OUT
one extract_pq extract -q --format parquet "${ALL[@]}" -o OUT
for c in "$W"/in/s1.pcap "$W"/in/s2.pcap; do
	b=$(basename "$c" .pcap)
	one "netml_$b" netml -q --type IAT,SIZE,IAT_SIZE,STATS,SAMP_NUM,SAMP_SIZE --header "$c" -o OUT
	one "netml_fft_$b" netml -q --type IAT,SAMP_SIZE --fft "$c" -o OUT
	one "netml_csv_$b" netml -q --type STATS,SIZE --format csv "$c" -o OUT
	one "netml_pq_$b" netml -q --type STATS,IAT --format parquet "$c" -o OUT
done
one flowpic_mini flowpic -q --preset mini --label-from-dir "${ALL[@]}" -o OUT
one flowpic_pq flowpic -q --preset mini --format parquet "${ALL[@]}" -o OUT
if [ $bad = 0 ]; then
	echo "all $n outputs identical"
else
	echo "$bad of $n outputs differ"
	exit 1
fi

#!/usr/bin/env bash
# FlowPic previews of a lab run, one per class: the busiest 30-second window
# (most packets) of the class's largest capture, both directions merged,
# 64 x 64, through `cuflow flowpic --png`.
#   bench/lab/previews.sh CUFLOW LAB_DIR OUT_DIR
set -euo pipefail
cuflow=$1 lab=$2 out=$3
mkdir -p "$out"
for dir in "$lab"/*/; do
	cls=$(basename "$dir")
	cap=$(ls -S "$dir"*.pcap 2>/dev/null | head -n 1) || true
	[ -n "$cap" ] || continue
	tmp=$(mktemp -d)
	# DNS flows are a packet or two each way: no window passes 10 packets.
	for minp in 10 0; do
		rm -rf "$tmp/fp"
		"$cuflow" flowpic "$cap" -o "$tmp/fp" --resolution 64 --window 30 --step 30 --min-span -1 \
			--min-packets $minp --sessions bidir --direction both --time-axis edges --png 100000 -q
		[ "$(wc -l < "$tmp/fp/index.csv")" -gt 1 ] && break
	done
	# index.csv row k (after the header) is image k: take the one with most packets.
	best=$(awk -F, 'NR > 1 && $8 > max { max = $8; k = NR - 2 } END { print k + 0 }' "$tmp/fp/index.csv")
	cp "$tmp/fp/png/$(printf %06d "$best").png" "$out/$cls.png"
	echo "$cls: $(basename "$cap") image $best ($(awk -F, -v k=$((best + 2)) 'NR == k { print $8 }' "$tmp/fp/index.csv") packets)"
	rm -rf "$tmp"
done

#!/bin/sh
# Peak RSS of `cuflow flows -o X.parquet` on streamed synthetic captures of
# 2 and 20 GB (nothing is written to disk but the Parquet files), with the
# default row groups and with --row-group-rows 65536, against the CSV
# output of the same 20 GB: the Parquet sink holds one row group's values
# in memory, so its RSS is bounded by the row-group size, not the input.
#   bench/parquet_rss.sh BUILD_DIR [OUT_DIR]
set -eu
B=${1:?usage: bench/parquet_rss.sh BUILD_DIR [OUT_DIR]}/cuflow
O=${2:-/tmp/cuflow-parquet-rss}
mkdir -p "$O"
run() { # label gbytes flows-args...
	label=$1 g=$2
	shift 2
	"$B" synth -q --gbytes "$g" --duration 36000 -o - |
		/usr/bin/time -f "$label gbytes=$g max_rss_mb=%M wall_s=%e" -o "$O/time.txt" "$B" flows -q "$@" >/dev/null 2>&1
	awk '{ split($3, a, "="); printf "%s %s max_rss_mb=%.0f %s\n", $1, $2, a[2] / 1024, $4 }' "$O/time.txt"
}
for g in 2 20; do
	run parquet-default "$g" - -o "$O/d$g.parquet"
	run parquet-rg65536 "$g" --row-group-rows 65536 - -o "$O/r$g.parquet"
done
run csv-stdout 20 - -o -
ls -l "$O"/*.parquet

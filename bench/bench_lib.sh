# Helpers the bench scripts source (windows_bench.sh, sessions_bench.sh).
# median_run CMD...: median wall seconds of $RUNS runs of CMD, after one
# warm-up run (which must succeed); rss_mb CMD...: CMD's peak RSS in MB.
median_run() {
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	for _ in $(seq "$RUNS"); do
		s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
		echo "$e - $s" | bc
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
rss_mb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f", $1/1024}'; }

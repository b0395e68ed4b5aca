#!/usr/bin/env bash
# The device check: everything a lent GPU must confirm, in one command of
# a few minutes, with one results file.
#
#   bench/gpu_check.sh prepare [BUILD]        on the development machine (no GPU
#        needed): a Release build of the CLI and the GPU tests for one
#        architecture (GPU_ARCH, default 90) in BUILD (default build-gpu),
#        stripped, with the shared libraries they need copied into BUILD/lib,
#        so the folder can be carried to a machine that has only a driver.
#   bench/gpu_check.sh run [BUILD] [OUT]      on the GPU machine (or anywhere:
#        without a device every step that needs one says SKIPPED and why).
#        Writes OUT/gpu_check.md (default OUT: $OUT, else bench/results/gpu-check).
#
# Steps of `run` (each PASS, FAIL or SKIPPED with the reason):
#   1 device      nvidia-smi, and `cuflow info --backend auto`: which backend
#                 AUTO picks and why
#   2 parity      every GPU test (tests/gpu: CUDA vs the CPU reference, bit for
#                 bit; cuFFT asserted when libcufft loads) and the host-side
#                 readiness tests
#   3 memcheck    compute-sanitizer --tool memcheck on a narrow selection
#   4 cufft       `cuflow netml --fft --header` (parts at odd columns) with
#                 --backend cuda: cuFFT must run, not the direct DFT
#   5 bench       extract, flows, netml --fft, flowpic (and info) with
#                 --backend cpu and --backend cuda on the same synthetic
#                 capture: wall time of each, and whether the outputs are equal
#   6 models      the nested model trained (2 epochs) and run (predict) with
#                 --backend cpu and cuda: flows/s, and the largest difference
#                 between the two backends' probabilities (< 1e-4)
# Exit status: 0 when nothing FAILED (SKIPPED is not a failure), else 1.
#
# On the device tool: carry BUILD, e.g.
#   run(command="bench/gpu_check.sh run build-gpu $OUT", carry=["build-gpu"], timeout_s=540)
# cuFFT: the library is dlopen()ed; where it is not on the loader's path
# (the GPU image has it in pip's nvidia-cufft wheel) the script looks for
# it there and sets CUFLOW_CUFFT_LIB.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
MODE=${1:-}
BUILD=${2:-build-gpu}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD

prepare() {
	local arch=${GPU_ARCH:-90}
	cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCUFLOW_REQUIRE_CUDA=ON \
		-DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null || return 1
	cmake --build "$BUILD" -j"${JOBS:-2}" --target cuflow_cli test_backend_cuda test_flow_features_cuda \
		test_flowpic_cuda test_netml_cuda test_nn_cuda test_nested_cuda test_windows_cuda test_gpu_readiness test_backend || return 1
	strip "$BUILD/cuflow" "$BUILD"/tests/test_*_cuda "$BUILD/tests/test_gpu_readiness" \
		"$BUILD/tests/test_backend" 2>/dev/null
	# the libraries a bare GPU image may lack (libc and the loader stay)
	mkdir -p "$BUILD/lib"
	ldd "$BUILD/cuflow" "$BUILD/tests/test_netml_cuda" | awk '$3 ~ /^\// {print $3}' | sort -u |
		grep -Ev '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' |
		while read -r lib; do cp -L "$lib" "$BUILD/lib/"; done
	# leave only what the check needs: the carry limit is 64 MiB
	du -sh "$BUILD/cuflow" "$BUILD/tests" "$BUILD/lib" | sed 's/^/  /'
	echo "prepared $BUILD (sm_$arch); carry it and run: bench/gpu_check.sh run ${BUILD#"$ROOT"/}"
}

# ---------------------------------------------------------------- run
declare -a NAMES=() RESULTS=()
RES=""
record() { # name status detail...
	NAMES+=("$1")
	RESULTS+=("$2")
	printf '| %s | %s | %s |\n' "$1" "$2" "${*:3}" >>"$RES"
	printf '%-10s %-8s %s\n' "$1" "$2" "${*:3}"
}

find_cufft() {
	[[ -n ${CUFLOW_CUFFT_LIB:-} ]] && return
	ldconfig -p 2>/dev/null | grep 'libcufft\.so\.1[12]' >/dev/null && return
	# the toolkit, or pip's wheels: CUDA 13 puts libcufft.so.12 in nvidia/cu13/lib,
	# CUDA 12 wheels put libcufft.so.11 in nvidia/cufft/lib
	local base c
	base=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null)
	for c in /usr/local/cuda/lib64/libcufft.so.12 \
		"$base"/nvidia/cu13/lib/libcufft.so.12 "$base"/nvidia/cufft/lib/libcufft.so.1[12] \
		/opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib/libcufft.so.12 \
		/opt/torch/.venv/lib/python3*/site-packages/nvidia/cufft/lib/libcufft.so.1[12] \
		/usr/local/lib/python3*/dist-packages/nvidia/cu13/lib/libcufft.so.12; do
		if [[ -f $c ]]; then
			export CUFLOW_CUFFT_LIB=$c
			return
		fi
	done
}

# cuDNN 9 and cuBLAS (the model layers, kernels/nn_cudnn.cu) are dlopen()ed
# too, and cuDNN loads its sub-libraries by name: where they are not on the
# loader's path, pip's nvidia-cudnn / nvidia-cublas wheels (the GPU image's
# PyTorch) provide them; their folders join the tests' library path.
NN_LIB_DIRS=
find_nn_libs() {
	local base c d
	base=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null)
	if [[ -z ${CUFLOW_CUDNN_LIB:-} ]] && ! ldconfig -p 2>/dev/null | grep 'libcudnn\.so\.9' >/dev/null; then
		for c in "$base"/nvidia/cudnn/lib/libcudnn.so.9 /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/lib/libcudnn.so.9 \
			/usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib/libcudnn.so.9; do
			[[ -f $c ]] && { export CUFLOW_CUDNN_LIB=$c; break; }
		done
	fi
	if [[ -z ${CUFLOW_CUBLAS_LIB:-} ]] && ! ldconfig -p 2>/dev/null | grep 'libcublas\.so\.1[123]' >/dev/null; then
		for c in /usr/local/cuda/lib64/libcublas.so.1[23] "$base"/nvidia/cu13/lib/libcublas.so.13 \
			"$base"/nvidia/cublas/lib/libcublas.so.1[123] /opt/torch/.venv/lib/python3*/site-packages/nvidia/cublas/lib/libcublas.so.1[123] \
			/opt/torch/.venv/lib/python3*/site-packages/nvidia/cu13/lib/libcublas.so.13; do
			[[ -f $c ]] && { export CUFLOW_CUBLAS_LIB=$c; break; }
		done
	fi
	for c in ${CUFLOW_CUDNN_LIB:-} ${CUFLOW_CUBLAS_LIB:-}; do
		d=$(dirname "$c")
		NN_LIB_DIRS=${NN_LIB_DIRS:+$NN_LIB_DIRS:}$d
	done
}

# Runs one of cuflow's binaries with the libraries carried beside them
# (only them: python3, nvidia-smi and compute-sanitizer keep the system's).
ours() { LD_LIBRARY_PATH="$BUILD/lib${NN_LIB_DIRS:+:$NN_LIB_DIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

# gtest summary of one test binary: "N passed, N skipped, N failed"
gtest_line() {
	local log=$1 p s f
	p=$(grep -c '^\[       OK \]' "$log")
	# the summary repeats failed and skipped names: count each test once
	f=$(grep -E '^\[  FAILED  \] [A-Za-z_]+\.[A-Za-z_]+ \(' "$log" | sort -u | wc -l)
	s=$(grep -E '^\[  SKIPPED \] [A-Za-z_]+\.[A-Za-z_]+ \(' "$log" | sort -u | wc -l)
	echo "$p passed, $s skipped, $f failed"
}

run_check() {
	local out=${3:-${OUT:-$ROOT/bench/results/gpu-check}}
	mkdir -p "$out"
	RES=$out/gpu_check.md
	local bin=$BUILD/cuflow tests=$BUILD/tests tmp
	tmp=$(mktemp -d)
	export CUFLOW_BIN=$bin CUFLOW_SOURCE_DIR=$ROOT CUFLOW_TMP=$tmp
	[[ -d $ROOT/../shared ]] && export CUFLOW_SHARED=$ROOT/../shared
	find_cufft
	find_nn_libs
	{
		echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
		echo
		echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), build $BUILD, host $(nproc) cores"
		echo
		echo "| step | result | detail |"
		echo "|---|---|---|"
	} >"$RES"
	if [[ ! -x $bin ]]; then
		record build FAIL "no $bin: run bench/gpu_check.sh prepare first"
		return 1
	fi

	# 1 device
	local smi="no nvidia-smi" dev=0
	if command -v nvidia-smi >/dev/null; then
		smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
	fi
	ours "$bin" synth -q -o "$tmp/s.pcap" --flows 20000 --seed 5 >/dev/null 2>&1
	local auto
	auto=$(ours "$bin" info --json --backend auto "$tmp/s.pcap" 2>"$tmp/auto.err" | grep -o '"backend": *"[a-z]*"' | head -1)
	if [[ $auto == *cuda* ]]; then
		dev=1
		record device PASS "$smi; AUTO picks CUDA"
	else
		record device SKIPPED "no usable device ($smi): AUTO said: $(tr '\n' ' ' <"$tmp/auto.err")"
	fi
	echo "cuFFT: ${CUFLOW_CUFFT_LIB:-whatever the loader path has}" >>"$tmp/notes"
	echo "cuDNN: ${CUFLOW_CUDNN_LIB:-whatever the loader path has}; cuBLAS: ${CUFLOW_CUBLAS_LIB:-whatever the loader path has}" >>"$tmp/notes"

	# 2 parity tests
	local t line
	for t in test_gpu_readiness test_backend test_backend_cuda test_flow_features_cuda test_flowpic_cuda test_netml_cuda test_nn_cuda test_nested_cuda test_windows_cuda; do
		if [[ ! -x $tests/$t ]]; then
			record "$t" FAIL "not built"
			continue
		fi
		ours timeout 300 "$tests/$t" >"$out/$t.log" 2>&1
		local rc=$?
		line=$(gtest_line "$out/$t.log")
		if [[ $rc != 0 ]]; then
			record "$t" FAIL "exit $rc: $line (log: $t.log)"
		elif [[ $line != *" 0 skipped"* ]]; then
			record "$t" SKIPPED "$line: $(grep -h -A1 ': Skipped$' "$out/$t.log" | grep -v ': Skipped$' | grep -v '^--$' | sort -u | head -3 | tr '\n' ' ')"
		else
			record "$t" PASS "$line"
		fi
	done
	grep -h '^device:\|^FFT parts\|^out-of-memory\|^note:' "$out"/test_*.log >>"$tmp/notes" 2>/dev/null

	# 3 memcheck
	if [[ $dev == 0 ]]; then
		record memcheck SKIPPED "needs a device"
	elif ! command -v compute-sanitizer >/dev/null; then
		record memcheck SKIPPED "compute-sanitizer not installed"
	else
		local ok=1 sel
		# the out-of-memory test fails an allocation on purpose: API errors not reported there
		for sel in "test_flowpic_cuda:FlowpicCuda.OffsetStart*:" "test_flow_features_cuda:FlowFeaturesCuda.EmptyBatches*:" \
			"test_backend_cuda:BackendCuda.OutOfMemory*:--report-api-errors no" "test_netml_cuda:NetmlCuda.SampCap*:"; do
			local exe=${sel%%:*} rest=${sel#*:}
			# shellcheck disable=SC2086
			ours timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 ${rest#*:} "$tests/$exe" \
				--gtest_filter="${rest%%:*}" >>"$out/memcheck.log" 2>&1 || ok=0
		done
		if [[ $ok == 1 ]]; then
			record memcheck PASS "$(grep -c 'ERROR SUMMARY: 0 errors' "$out/memcheck.log") selections, 0 errors"
		else
			record memcheck FAIL "see memcheck.log: $(grep 'ERROR SUMMARY' "$out/memcheck.log" | tr '\n' ' ')"
		fi
	fi

	# 4 cuFFT through the CLI: parts at odd columns (--header, IAT_SIZE)
	if [[ $dev == 0 ]]; then
		record cufft SKIPPED "needs a device"
	else
		ours "$bin" netml -q --type IAT_SIZE,SIZE --fft --header --backend cuda "$tmp/s.pcap" -o "$tmp/nm" \
			2>"$tmp/nm.err"
		local rc=$?
		if [[ $rc != 0 ]]; then
			record cufft FAIL "netml --backend cuda exit $rc: $(head -c 300 "$tmp/nm.err")"
		elif grep -q 'direct DFT' "$tmp/nm.err"; then
			record cufft FAIL "the direct DFT ran: $(head -c 300 "$tmp/nm.err")"
		else
			record cufft PASS "netml --fft --header on CUDA ran cuFFT"
		fi
	fi

	# 5 bench: the same capture, CPU and CUDA
	if [[ $dev == 0 ]]; then
		record bench SKIPPED "needs a device"
	else
		ours "$bin" synth -q -o "$tmp/b.pcap" --gbytes "${GPU_CHECK_GBYTES:-1}" --seed 9 >/dev/null 2>&1
		local cmd be s0 s1 eq
		{
			echo
			echo "## Wall time, $(du -h "$tmp/b.pcap" | cut -f1) synthetic capture (page cache warm, best of 2)"
			echo
			echo "| command | CPU backend | CUDA backend | outputs equal |"
			echo "|---|---|---|---|"
		} >>"$tmp/bench"
		for cmd in "info --json" "extract" "flows" "netml --type IAT,SIZE,STATS --fft" "flowpic --preset mini" "windows --distinct"; do
			local tcpu="" tgpu=""
			for be in cpu cuda; do
				local best=""
				for _ in 1 2; do
					rm -rf "$tmp/o-$be"
					s0=$(date +%s%N)
					case $cmd in
					info*) ours "$bin" $cmd --backend $be "$tmp/b.pcap" >"$tmp/o-$be.json" 2>/dev/null ;;
					flows) ours "$bin" flows -q --backend $be "$tmp/b.pcap" -o "$tmp/o-$be.csv" 2>/dev/null ;;
					*) ours "$bin" $cmd -q --backend $be "$tmp/b.pcap" -o "$tmp/o-$be" 2>/dev/null ;;
					esac
					s1=$(date +%s%N)
					local ms=$(((s1 - s0) / 1000000))
					[[ -z $best || $ms -lt $best ]] && best=$ms
				done
				[[ $be == cpu ]] && tcpu=$best || tgpu=$best
			done
			case $cmd in
			info*) eq=$(diff <(sed 's/"backend":"[a-z]*"//' "$tmp/o-cpu.json") <(sed 's/"backend":"[a-z]*"//' "$tmp/o-cuda.json") >/dev/null && echo yes || echo NO) ;;
			flows) eq=$(cmp -s "$tmp/o-cpu.csv" "$tmp/o-cuda.csv" && echo yes || echo NO) ;;
			netml*) eq="FFT: tolerance (see parity)" ;;
			*) eq=$(diff -r -x '*.json' "$tmp/o-cpu" "$tmp/o-cuda" >/dev/null && echo yes || echo NO) ;;
			esac
			echo "| \`cuflow $cmd\` | ${tcpu} ms | ${tgpu} ms | $eq |" >>"$tmp/bench"
		done
		if grep -q '| NO |' "$tmp/bench"; then
			record bench FAIL "CPU and CUDA outputs differ (table below)"
		else
			record bench PASS "table below"
		fi
	fi

	# 6 models: the nested model trained and run on each backend (flows/s
	# of the last epoch from metrics.csv; predict's wall time; the two
	# backends' probabilities compared)
	if [[ $dev == 0 ]]; then
		record models SKIPPED "needs a device"
	else
		local md=$tmp/models be col
		mkdir -p "$md/data/a" "$md/data/b"
		ours "$bin" synth -q -o "$md/data/a/a.pcap" --flows "${GPU_CHECK_FLOWS:-20000}" --seed 3 >/dev/null 2>&1
		ours "$bin" synth -q -o "$md/data/b/b.pcap" --flows "${GPU_CHECK_FLOWS:-20000}" --seed 4 --frame-size 1200 \
			>/dev/null 2>&1
		local ok=1 tr_cpu="" tr_gpu="" pr_cpu="" pr_gpu=""
		for be in cpu cuda; do
			ours "$bin" train --model nested --label dir --epochs 2 --batch 256 --val-fraction 0.1 --quiet \
				--backend $be "$md/data" -o "$md/model-$be" 2>"$md/train-$be.err" || ok=0
			col=$(head -1 "$md/model-$be/metrics.csv" 2>/dev/null | tr ',' '\n' | grep -n train_flows_per_s | cut -d: -f1)
			local fps=$([[ -n $col ]] && tail -1 "$md/model-$be/metrics.csv" | cut -d, -f"$col")
			s0=$(date +%s%N)
			ours "$bin" predict --quiet --backend $be --batch 256 "$md/model-cpu" "$md/data" -o "$md/pred-$be.csv" \
				2>"$md/pred-$be.err" || ok=0
			s1=$(date +%s%N)
			if [[ $be == cpu ]]; then tr_cpu=$fps; pr_cpu=$(((s1 - s0) / 1000000)); else tr_gpu=$fps; pr_gpu=$(((s1 - s0) / 1000000)); fi
		done
		# the largest difference between the two backends' probabilities
		local diff
		diff=$(paste -d, "$md/pred-cpu.csv" "$md/pred-cuda.csv" 2>/dev/null | awk -F, 'NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) if ($i ~ /^p_/) p[i] = 1; next }
			{ for (i in p) { d = $i - $(i + n); if (d < 0) d = -d; if (d > m) m = d } } END { printf "%.3g", m + 0 }')
		{
			echo
			echo "## The nested model, CPU reference against CUDA (2 x ${GPU_CHECK_FLOWS:-20000} synthetic flows)"
			echo
			echo "| | CPU | CUDA |"
			echo "|---|---|---|"
			echo "| train, flows/s (last epoch, batch 256) | ${tr_cpu:-?} | ${tr_gpu:-?} |"
			echo "| predict, ms wall (one model, batch 256) | ${pr_cpu:-?} | ${pr_gpu:-?} |"
			echo "| largest probability difference | | $diff |"
		} >>"$tmp/bench"
		if [[ $ok == 0 ]]; then
			record models FAIL "train/predict failed: $(cat "$md"/*.err | head -c 400)"
		elif awk -v d="$diff" 'BEGIN { exit !(d < 1e-4) }'; then
			record models PASS "train ${tr_cpu:-?} vs ${tr_gpu:-?} flows/s, probabilities within $diff"
		else
			record models FAIL "CUDA probabilities differ from the CPU's by $diff"
		fi
	fi

	{
		echo
		echo "## Notes"
		echo
		sed 's/^/- /' "$tmp/notes" 2>/dev/null
		[[ -f $tmp/bench ]] && cat "$tmp/bench"
	} >>"$RES"
	rm -rf "$tmp"
	local fails=0 r
	for r in "${RESULTS[@]}"; do [[ $r == FAIL ]] && fails=$((fails + 1)); done
	echo "results: $RES ($fails failed)"
	[[ $fails == 0 ]]
}

case $MODE in
prepare) prepare ;;
run) run_check "$@" ;;
*)
	echo "usage: bench/gpu_check.sh prepare [BUILD] | run [BUILD] [OUT]" >&2
	exit 2
	;;
esac

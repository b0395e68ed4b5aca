#!/usr/bin/env bash
# Installs what building and testing cuflow needs on Debian 12 (run as root,
# or with sudo available). Packages already present are not reinstalled.
# nvcc/CUDA are not installed here: the CUDA backend is built when nvcc is
# found (e.g. /usr/local/cuda/bin/nvcc), and the CPU build works without it.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git
      libpcap-dev zlib1g-dev libzstd-dev liblz4-dev liblzma-dev
      libgtest-dev googletest libfftw3-dev libpng-dev libsnappy-dev libsqlite3-dev sqlite3
      tshark tcpdump zstd lz4 xz-utils gzip python3 python3-numpy python3-venv
      clang libclang-rt-14-dev llvm-14 ca-certificates time
      openmpi-bin libopenmpi-dev)
# (Open MPI: the CLI's several-rank runs, tests/test_run_mpi.cpp with
#  mpirun --oversubscribe.)
# (llvm-14 only for llvm-symbolizer: readable sanitizer stack traces;
#  clang + libclang-rt for the libFuzzer build.)
# The traffic lab's real servers and clients (bench/lab, tests/test_lab.cpp,
# which runs its CI preset as root): installed with their services kept from
# starting (policy-rc.d below), since the lab runs each one by hand inside
# its own network namespace and nothing of it may listen on the machine.
pkgs+=(iproute2 ethtool curl openssl nginx-light openssh-server openssh-client dnsmasq-base
       bind9-dnsutils baresip-core ngircd mosquitto mosquitto-clients chrony udhcpc ieee-data)
# Test oracle from PyPI: NFStream itself, in a virtual environment the
# tests find (build/nfs-venv); the comparison test skips without it, so a
# failed download is a warning, not an error.
nfstream_venv() {
	local root venv
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	venv=$root/build/nfs-venv
	if "$venv/bin/python" -c 'import nfstream' 2>/dev/null; then
		return 0
	fi
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q nfstream==6.6.0; } >/tmp/cuflow-pip.log 2>&1 ||
		{ echo "deps: warning: nfstream not installed (its comparison test will skip)"; tail -n 5 /tmp/cuflow-pip.log; }
}

# Second oracle: the real netml 0.7.1 (build/netml-venv) for
# tests/test_netml_upstream.cpp, which skips without it. Only netml's parser
# is used, so netml goes in without its dependencies and then the four its
# pparser imports, at netml's own pins; the rest of its pins (scikit-learn,
# pyod and what they pull in) are for its models and would triple the size.
netml_venv() {
	local root venv
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	venv=$root/build/netml-venv
	if "$venv/bin/python" -c 'import netml.pparser.parser' 2>/dev/null; then
		return 0
	fi
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q --no-deps netml==0.7.1 &&
		"$venv/bin/pip" install -q 'numpy~=2.0.1' 'pandas~=2.2.2' 'scapy~=2.5.0' 'netaddr~=1.3.0' &&
		"$venv/bin/python" -c 'import netml.pparser.parser'; } >/tmp/cuflow-pip-netml.log 2>&1 ||
		{ echo "deps: warning: netml not installed (its comparison test will skip)"; tail -n 5 /tmp/cuflow-pip-netml.log; }
}

# Third oracle: pyarrow and DuckDB (build/arrow-venv) read back the Parquet
# files of tests/test_parquet.cpp, which skips without them; the Python
# package's tests and docs/python.md's examples run there too (pandas,
# polars, matplotlib, tqdm).
arrow_venv() {
	local root venv mods='pyarrow.parquet, duckdb, numpy, pandas, polars, matplotlib, tqdm, pytest'
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	venv=$root/build/arrow-venv
	if "$venv/bin/python" -c "import $mods" 2>/dev/null; then
		return 0
	fi
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q pyarrow==26.0.1 duckdb==2.0.1 numpy==2.4.6 \
		pandas==3.1.1 polars==2.1.0 matplotlib==3.11.2 tqdm==4.70.1 pytest==9.2.0 &&
		"$venv/bin/python" -c "import $mods"; } >/tmp/cuflow-pip-arrow.log 2>&1 ||
		{ echo "deps: warning: pyarrow/duckdb not installed (the Parquet oracle tests will skip)"; tail -n 5 /tmp/cuflow-pip-arrow.log; }
}

# Fourth oracle: pandas and scikit-learn (build/sk-venv) redo `cuflow
# dataset`'s steps for tests/test_dataset_prep.cpp, which skips without
# them; apsw (the seed notebook's SQLite binding) is optional.
sk_venv() {
	local root venv
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	venv=$root/build/sk-venv
	if "$venv/bin/python" -c 'import numpy, pandas, sklearn' 2>/dev/null; then
		return 0
	fi
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q numpy pandas scikit-learn &&
		"$venv/bin/python" -c 'import numpy, pandas, sklearn'; } >/tmp/cuflow-pip-sk.log 2>&1 ||
		{ echo "deps: warning: pandas/scikit-learn not installed (the dataset oracle tests will skip)"; tail -n 5 /tmp/cuflow-pip-sk.log; return 0; }
	"$venv/bin/pip" install -q apsw >/dev/null 2>&1 || true
}

# Opt-in (CUFLOW_DEPS_TORCH=1): PyTorch for PythonPackage.TorchDatasetAndModels
# and docs/python.md's PyTorch examples (build/torch-venv). Not in CI: PyPI's
# torch brings about 5 GB of CUDA wheels; those tests skip without it.
torch_venv() {
	local root venv
	[ "${CUFLOW_DEPS_TORCH:-0}" = 1 ] || return 0
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	venv=$root/build/torch-venv
	"$venv/bin/python" -c 'import torch, pyarrow, pandas, matplotlib, pytest' 2>/dev/null && return 0
	{ python3 -m venv "$venv" && "$venv/bin/pip" install -q torch pyarrow numpy pandas matplotlib pytest; } \
		>/tmp/cuflow-pip-torch.log 2>&1 ||
		{ echo "deps: warning: torch not installed (its tests will skip)"; tail -n 5 /tmp/cuflow-pip-torch.log; }
}

missing=()
for p in "${pkgs[@]}"; do
	# dpkg -s also succeeds for removed packages that left config files
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages present"
	nfstream_venv
	netml_venv
	arrow_venv
	sk_venv
	torch_venv
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}"
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# Debian's hook that keeps packages from starting their services (101 =
# "action forbidden"): nginx, sshd, mosquitto, chrony stay stopped. Chrony
# in particular would steer the machine's clock. Removed after, if ours.
policy_made=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	policy_made=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
	"${missing[@]}" >/tmp/cuflow-apt.log 2>&1 || { [ -z "$policy_made" ] || $SUDO rm -f /usr/sbin/policy-rc.d; tail -n 40 /tmp/cuflow-apt.log; exit 1; }
[ -z "$policy_made" ] || $SUDO rm -f /usr/sbin/policy-rc.d
for p in "${missing[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || { echo "deps: $p not installed"; exit 1; }
done
echo "deps: done"
nfstream_venv
netml_venv
arrow_venv
sk_venv
torch_venv

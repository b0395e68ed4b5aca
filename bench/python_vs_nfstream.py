#!/usr/bin/env python3
"""Capture to pandas DataFrame: cuflow's Python package against NFStream, in one run.

    bench/python_vs_nfstream.py --lib build/libcuflow.so --nfs-python build/nfs-venv/bin/python \
        [--runs 3] CAPTURE...

For each capture, the best of RUNS wall times (page cache warm) of
  - NFStream 6.6: NFStreamer(source=CAPTURE, idle_timeout=120, active_timeout=1800,
    n_dissections=0, statistical_analysis=False).to_pandas() (no DPI: cuflow does none), and
    with its defaults (n_dissections=20, nDPI on), in NFStream's own virtual environment;
  - cuflow: cuflow.flows(CAPTURE, idle_timeout=120, active_timeout=1800,
    compat="nfstream").to_pandas() (NFStream's flow semantics; the
    "flows" producer through the run driver, Arrow C stream, pyarrow, to_pandas), in this
    interpreter (it needs pyarrow and pandas), and the same with statistics columns read
    but no DataFrame (the Arrow table alone), and to_pandas with hook_thread=1
    (flow tracking in a second thread, overlapped with reading);
each in a fresh process, so imports and library loading are counted as a user pays them.
Prints a Markdown table with rows, seconds and the ratios.
"""
import argparse
import os
import subprocess
import sys

NFS = r'''
import sys, time
t0 = time.perf_counter()
from nfstream import NFStreamer
df = NFStreamer(source=sys.argv[1], idle_timeout=120, active_timeout=1800, {extra}).to_pandas()
print(len(df), time.perf_counter() - t0)
'''

CF = r'''
import sys, time
t0 = time.perf_counter()
import cuflow
t = cuflow.flows(sys.argv[1], idle_timeout=120, active_timeout=1800, compat="nfstream", hook_thread=int(sys.argv[3]))
n = len(t.to_pandas()) if sys.argv[2] == "pandas" else t.num_rows
print(n, time.perf_counter() - t0)
'''


def best(cmd, env, runs):
    out = []
    for _ in range(runs):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd[:3])}...\n{r.stderr[-2000:]}")
        rows, secs = r.stdout.split()[-2:]
        out.append((float(secs), int(rows)))
    return min(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--nfs-python", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("captures", nargs="+")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, CUFLOW_LIBRARY=os.path.abspath(a.lib),
               PYTHONPATH=os.path.join(os.path.dirname(here), "python"))
    print("| capture | MB | NFStream, no DPI | NFStream, defaults | cuflow to_pandas | cuflow Arrow table | "
          "ratio (no DPI / cuflow pandas) | cuflow to_pandas, hook_thread=1 | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for cap in a.captures:
        mb = os.path.getsize(cap) / 1e6
        nd = best([a.nfs_python, "-c", NFS.format(extra="n_dissections=0, statistical_analysis=False"), cap],
                  os.environ, a.runs)
        dflt = best([a.nfs_python, "-c", NFS.format(extra="statistical_analysis=False"), cap], os.environ,
                    max(1, a.runs - 2))
        cp = best([sys.executable, "-c", CF, cap, "pandas", "0"], env, a.runs)
        ct = best([sys.executable, "-c", CF, cap, "table", "0"], env, a.runs)
        ch = best([sys.executable, "-c", CF, cap, "pandas", "1"], env, a.runs)
        print(f"| {os.path.basename(cap)} | {mb:.0f} | {nd[0]:.2f} s ({nd[1]} rows) | {dflt[0]:.2f} s | "
              f"{cp[0]:.3f} s ({cp[1]} rows) | {ct[0]:.3f} s | {nd[0] / cp[0]:.0f}x | {ch[0]:.3f} s | "
              f"{nd[0] / ch[0]:.0f}x |")


if __name__ == "__main__":
    main()

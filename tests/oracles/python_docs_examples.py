#!/usr/bin/env python3
"""Runs docs/python.md's examples (PythonPackage.DocsExamplesRun).

  python_docs_examples.py --cuflow BIN DOC WORKDIR

Every ```python block right after a `<!-- example -->` line (or
`<!-- example needs: torch -->`) runs, in the document's order and one
namespace, with WORKDIR as the working directory, holding trace.pcap and
captures/{chat,video}/ made by `cuflow synth`, and BIN's directory first
on the PATH. A block whose modules are missing is skipped and says so.
Prints "docs examples: N ran, M skipped" and exits 0 when none failed.
"""
import argparse
import importlib.util
import os
import re
import subprocess
import sys
import traceback


def blocks(doc):
    text = open(doc).read()
    for m in re.finditer(r"<!-- example(?: needs: ([^>]*?))? -->\s*\n```python\n(.*?)\n```", text, re.S):
        yield (m.group(1) or "").split(), m.group(2), text.count("\n", 0, m.start()) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuflow", required=True)
    ap.add_argument("doc")
    ap.add_argument("work")
    a = ap.parse_args()
    bin_ = os.path.abspath(a.cuflow)
    os.makedirs(a.work, exist_ok=True)
    os.chdir(a.work)
    os.environ["PATH"] = os.path.dirname(bin_) + os.pathsep + os.environ.get("PATH", "")
    made = [["synth", "-q", "--flows", "400", "--seed", "1", "-o", "trace.pcap"]]
    for i, (cls, frame) in enumerate((("chat", "200"), ("video", "1200"))):
        os.makedirs(f"captures/{cls}", exist_ok=True)
        for k in range(2):
            made.append(["synth", "-q", "--flows", "80", "--seed", str(10 * i + k), "--frame-size", frame,
                         "-o", f"captures/{cls}/{k}.pcap"])
    for args in made:
        subprocess.run([bin_, *args], check=True)
    ran, skipped, failed = 0, [], []
    ns = {"__name__": "__docs__"}
    found = list(blocks(a.doc))
    if not found:
        sys.exit(f"docs examples: no examples in {a.doc}")
    for needs, code, line in found:
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            skipped.append(f"line {line} (needs {', '.join(missing)})")
            continue
        print(f"--- example at line {line}", flush=True)
        try:
            exec(compile(code, f"{a.doc}:{line}", "exec"), ns)
            ran += 1
        except Exception:
            failed.append(line)
            traceback.print_exc()
    if ran and "windows.png" not in os.listdir("."):
        failed.append("windows.png not written")
    print(f"docs examples: {ran} ran, {len(skipped)} skipped{': ' + '; '.join(skipped) if skipped else ''}, "
          f"{len(failed)} failed {failed if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

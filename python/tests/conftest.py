"""Fixtures of cuflow's Python test suite (pytest python/tests).

Environment:
  CUFLOW_BIN      the cuflow command line the tables are compared with
                  (default: build/cuflow of this source tree)
  CUFLOW_LIBRARY  the libcuflow.so the package loads (default: the package's)
  CUFLOW_SHARED   ../shared of the project (real captures; tests that need it
                  skip without it)
  CUFLOW_LEAK_RUNS  calls in the no-leak loop (default 1000)
ctest runs each file through tests/test_arrow_export.cpp (PythonPackage.*).
"""
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture(scope="session")
def cuflow_bin():
    b = os.environ.get("CUFLOW_BIN", os.path.join(SOURCE, "build", "cuflow"))
    if not os.access(b, os.X_OK):
        pytest.skip(f"no cuflow binary at {b} (set CUFLOW_BIN)")
    return b


@pytest.fixture(scope="session")
def cli(cuflow_bin):
    """cli(*args): runs the command line, quiet, failing the test on a non-zero exit."""
    def run(*args):
        r = subprocess.run([cuflow_bin, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        assert r.returncode == 0, f"cuflow {' '.join(map(str, args))}:\n{r.stdout[-3000:]}"
        return r.stdout
    return run


@pytest.fixture(scope="session")
def shared_dir():
    d = os.environ.get("CUFLOW_SHARED", os.path.join(os.path.dirname(SOURCE), "shared"))
    return d if os.path.isdir(os.path.join(d, "captures")) else None


@pytest.fixture(scope="session")
def synth_capture(tmp_path_factory, cli):
    """A synthetic capture (cuflow synth, 300 flows) in a directory named web/."""
    d = tmp_path_factory.mktemp("captures") / "web"
    d.mkdir()
    cap = d / "py.pcap"
    cli("synth", "-q", "--flows", "300", "-o", cap)
    return str(cap)


@pytest.fixture(scope="session")
def captures(synth_capture, shared_dir):
    """The synthetic capture and, with ../shared, a real one (nfstream's instagram.pcap)."""
    caps = [synth_capture]
    if shared_dir:
        caps.append(os.path.join(shared_dir, "captures", "nfstream", "pcaps", "instagram.pcap"))
    return caps


@pytest.fixture(scope="session")
def class_captures(tmp_path_factory, cli):
    """captures/{chat,video}/: three synthetic captures in two class directories."""
    root = tmp_path_factory.mktemp("classes") / "caps"
    caps = [root / "chat" / "a.pcap", root / "chat" / "b.pcap", root / "video" / "c.pcap"]
    for i, c in enumerate(caps):
        c.parent.mkdir(parents=True, exist_ok=True)
        cli("synth", "-q", "--flows", 60 + 40 * i, "--seed", 11 + i, "-o", c)
    return str(root), [str(c) for c in caps]


def clean_env():
    """The environment without a preloaded sanitizer runtime (tools such as
    editcap hang under it)."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}


def have(tool):
    return shutil.which(tool) is not None

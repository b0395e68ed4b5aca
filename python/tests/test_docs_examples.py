"""docs/python.md's examples run: every ```python block right after an
`<!-- example -->` line (or `<!-- example needs: torch -->`: skipped
without those modules), in a directory holding trace.pcap and
captures/{chat,video}/ made by `cuflow synth`, with cuflow on the PATH."""
import os
import re

import pytest

from conftest import SOURCE

DOC = os.path.join(SOURCE, "docs", "python.md")


def examples():
    text = open(DOC).read()
    out = []
    for m in re.finditer(r"<!-- example(?: needs: ([^>]*?))? -->\s*\n```python\n(.*?)\n```", text, re.S):
        line = text.count("\n", 0, m.start()) + 1
        out.append(pytest.param((m.group(1) or "").split(), m.group(2), id=f"line{line}"))
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, cli, cuflow_bin):
    d = tmp_path_factory.mktemp("docs")
    cli("synth", "-q", "--flows", "400", "--seed", "1", "-o", d / "trace.pcap")
    for i, (cls, frame) in enumerate((("chat", "200"), ("video", "1200"))):
        (d / "captures" / cls).mkdir(parents=True)
        for k in range(2):
            cli("synth", "-q", "--flows", "80", "--seed", 10 * i + k, "--frame-size", frame, "-o",
                d / "captures" / cls / f"{k}.pcap")
    return d


def test_the_document_has_examples():
    assert len(examples()) >= 4


@pytest.mark.parametrize("needs, code", examples())
def test_example_runs(needs, code, workdir, cuflow_bin, monkeypatch):
    for mod in needs:
        pytest.importorskip(mod)
    if os.environ.get("CFT_SANITIZED") == "1" and "matplotlib" in code:
        # matplotlib's C++ exceptions (ft2font) trip the sanitizer runtime the
        # interpreter has preloaded (CheckFailed in __cxa_throw): not cuflow's code
        pytest.skip("matplotlib under a preloaded sanitizer runtime")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PATH", os.path.dirname(os.path.abspath(cuflow_bin)) + os.pathsep + os.environ["PATH"])
    exec(compile(code, DOC, "exec"), {"__name__": "__docs__"})
    if "windows.png" in code:
        assert os.path.getsize(workdir / "windows.png") > 10000

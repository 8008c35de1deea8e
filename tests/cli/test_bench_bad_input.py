"""`make bench`'s entry points refuse bad input with a sentence and exit 2 (never a traceback, never exit 1): a
--golden or --port that is not an executable file is named before minutes of measuring, and the window worker
(app/cli/bench_window.py) answers a spec that is not its JSON object with one BENCH_WORKER error line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("flag", ["--golden", "--port"])
def test_bench_names_a_peer_that_is_not_an_executable(flag, tmp_path):
    not_exe = tmp_path / "golden.txt"
    not_exe.write_text("not a program\n")
    for value in (str(tmp_path / "missing"), str(not_exe)):
        p = _run("app.cli.bench", flag, value)
        assert p.returncode == 2, p.stderr
        assert f"argument {flag}: {value!r} is not an executable file" in p.stderr
        assert "Traceback" not in p.stderr + p.stdout


@pytest.mark.parametrize("spec, words", [("notjson", "Expecting value"), ("[1, 2]", "expected one JSON object"),
                                         ('{"args": []}', "expected one JSON object")])
def test_window_worker_answers_a_bad_spec_with_one_error_line(spec, words):
    p = _run("app.cli.bench_window", spec)
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("BENCH_WORKER ")]
    assert len(lines) == 1 and words in lines[0] and '"error"' in lines[0]
    assert "Traceback" not in p.stderr + p.stdout

"""`make typecheck` (issue 15): the mypy settings in pyproject.toml are the ones the project relies on.

The clean run itself is `make typecheck` (part of `make test`); here a small planted file shows that the settings
catch what they are meant to catch, so that a weakened [tool.mypy] table fails a test rather than passing quietly.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# One error of each kind the settings must report, each on its own line; `import fabio` must pass (an untyped
# third-party library listed in the overrides).
PLANTED = '''\
import re

import fabio
import nbparity_no_such_module


def untyped(text):
    return re.match("a", text).group(0)


def annotated(x: int) -> int:
    return x  # type: ignore[return-value]


def compares(x: int) -> bool:
    return x == "1"
'''
EXPECTED = {
    "import-not-found": 4,   # our own mistyped import: not hidden by a global ignore_missing_imports
    "union-attr": 8,         # inside an unannotated function: check_untyped_defs
    "unused-ignore": 12,     # warn_unused_ignores
    "comparison-overlap": 16,  # strict_equality
}


def _mypy_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["mypy"]


def test_every_listed_path_exists():
    """A module moved without updating `files` would otherwise make mypy fail with a bare "can't find" error."""
    files = _mypy_config()["files"]
    assert len(files) >= 4   # tracing, simulator and the app's Qt-free core at least
    missing = [f for f in files if not (ROOT / f).exists()]
    assert missing == []


def test_planted_errors_are_reported(tmp_path):
    """Each planted fault is reported once, with its code and line; nothing else is (fabio passes)."""
    src = tmp_path / "planted.py"
    src.write_text(PLANTED)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", "--show-error-codes", str(src)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    found = {}
    for line in run.stdout.splitlines():
        m = re.match(r".*planted\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        if m:
            found[m.group(2)] = int(m.group(1))
    assert found == EXPECTED, run.stdout

"""Ctrl-C during `nbparity sweep`: SIGINT to the sweep's whole process group (as a terminal sends it: the sweep
process and its workers) cancels the rest, leaves no process behind (workers, C runs) and no scratch folder, and
still writes the report; the cases that finished are kept, so running the same command again resumes them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]

BASE = "-cell 100 100 100 90 90 90 -default_F 100 -distance 100 -pixel 0.1 -lambda 6.2 -phi0_carryover on"
MATRIX = f"""
[sweep]
name = "interrupt"
[[grid]]
name = "g"
args = "{BASE} -detpixels 96 -mosaic 0.2 -mosaic_dom 3 -phi 0 -osc 0.5 -phisteps 5"
[grid.flags]
"-N" = [2, 3, 4, 5, 6, 7, 8, 9]
"""


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return out


def test_ctrl_c_cancels_the_rest_and_leaves_no_process(tmp_path, c_binary):
    matrix = tmp_path / "m.toml"
    matrix.write_text(MATRIX)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "app", "sweep", str(matrix), "--workers", "2", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    seen: list[psutil.Process] = []
    try:
        # Wait for the first finished case (the progress line "1/8"), noting every process the sweep started.
        for line in proc.stderr:
            seen += _descendants(proc.pid)
            if " 1/8 " in line:
                break
        else:
            pytest.fail(f"the sweep ended before any case finished: rc {proc.wait()}, {proc.stdout.read()}")
        seen += _descendants(proc.pid)
        assert len({p.pid for p in seen}) >= 2, "expected worker processes under the sweep"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the sweep and every worker get it
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, out, err[-2000:])  # 128 + SIGINT, as `nbparity compare`
    assert "Traceback" not in err, err[-3000:]
    deadline = time.monotonic() + 10  # the OS reaps the last workers a moment after the parent exits
    while _alive(seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(seen), _alive(seen)
    assert list(scratch.iterdir()) == [], list(scratch.iterdir())  # the dask scratch space is gone
    assert "(cancelled)" in out
    report = (tmp_path / "out" / "report.md").read_text()
    assert "cancelled: yes (SIGINT)" in report and "not run (the sweep was cancelled)" in report
    finished = list((tmp_path / "out" / "cases").glob("*/record.json"))
    assert 1 <= len(finished) < 8  # the finished cases are kept for a resume; the rest never ran

"""Faulty external engines (issue 8): each fault gives one exact, readable outcome; output stays bounded in memory;
time limits and cancel bound both sides (torch included); output flags resolve against the user's folder and
nothing is written elsewhere. One case per test.

The engines are tests/support/fakes/fake_nb.py modes run through the one process driver (c_reference/driver.py).
"""
from __future__ import annotations

import stat
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from app.core.session import ComparisonSession, SessionOptions, SideOptions
from c_reference.driver import LOG_HEAD_BYTES, LOG_TAIL_LINES, SCRATCH_PREFIX, run_c, trace_c
from simulator.config import ConfigError
from tracing.records import Cancelled, EngineError
from proc_util import gone as proc_gone

REPO = Path(__file__).resolve().parents[2]
FAKE_NB = REPO / "tests" / "support" / "fakes" / "fake_nb.py"
ARGS = ["-detpixels", "8", "-default_F", "1", "-cell", "10", "10", "10", "90", "90", "90"]
TINY = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 32 -distance 100").split()


def cmd(mode: str) -> list[str]:
    return [sys.executable, str(FAKE_NB), mode]


def gone(pid: int) -> bool:
    return proc_gone(pid, 10.0)


@pytest.fixture
def pids(tmp_path, monkeypatch) -> Path:
    p = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(p))
    return p


@pytest.fixture
def scratch_parent(tmp_path) -> Path:
    p = tmp_path / "scratch"
    p.mkdir()
    return p


def _pids(path: Path) -> tuple[int, int]:
    engine, child = map(int, path.read_text().split())
    return engine, child


# ---- one fault, one outcome --------------------------------------------------------------------------------------
def test_crash_by_signal_names_the_signal(pids):
    with pytest.raises(EngineError, match=r"was killed by SIGSEGV \(it crashed or was stopped from outside\)") as e:
        run_c(ARGS, command=cmd("crash"))
    assert e.value.returncode == -11 and "fake nanoBragg (crash)" in e.value.log_tail


def test_nonzero_exit_names_the_status_and_keeps_the_log_tail():
    with pytest.raises(EngineError, match="exited with status 3$") as e:
        run_c(ARGS, command=cmd("exit:3"))
    assert e.value.returncode == 3 and "cannot open foo.hkl" in e.value.log_tail


def test_exit_9_explains_nanobraggs_usage_exit():
    with pytest.raises(EngineError, match="exits 9 after printing its usage"):
        run_c(ARGS, command=cmd("exit:9"))


def test_hang_is_stopped_at_the_time_limit(pids):
    with pytest.raises(EngineError, match=r"timed out after 1 s and was stopped"):
        run_c(ARGS, command=cmd("sleep"), timeout_s=1)
    assert gone(_pids(pids)[0])


def test_hang_that_ignores_sigterm_is_killed_at_the_time_limit(pids):
    with pytest.raises(EngineError, match="timed out after 1 s"):
        run_c(ARGS, command=cmd("ignore-term"), timeout_s=1)
    assert gone(_pids(pids)[0])


def test_cancel_stops_a_hanging_engine(pids):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    with pytest.raises(Cancelled, match="run cancelled"):
        run_c(ARGS, command=cmd("sleep"), cancel=cancel, timeout_s=60)
    assert gone(_pids(pids)[0])


def test_ten_megabytes_of_garbage_are_kept_as_a_bounded_head_and_tail():
    res = run_c(ARGS, command=cmd("garbage"))
    assert res.image.shape == (8, 8) and res.image[3, 5] == 3005.0  # the run itself succeeded
    assert res.log_bytes > 10 * 2**20
    # Memory: the head (64 KiB) plus at most LOG_TAIL_LINES lines of at most 2000 characters each (utf-8 <= 3 B).
    assert len(res.stdout.encode()) < LOG_HEAD_BYTES * 3 + LOG_TAIL_LINES * 2000 * 3 + 1000
    assert res.stdout.rstrip().endswith("last line after the garbage")
    assert f"log of {res.log_bytes} bytes" in res.stdout


def test_wrong_size_float_file_says_both_sizes():
    with pytest.raises(EngineError, match=r"has 252 bytes, expected 256 bytes \(8 slow x 8 fast float32 pixels"):
        run_c(ARGS, command=cmd("wrong-size"))


def test_no_float_file_is_an_error():
    with pytest.raises(EngineError, match=r"finished but wrote no float image \(-floatfile float.bin\)"):
        run_c(ARGS, command=cmd("no-output"))


def test_a_nan_image_is_not_accepted_silently():
    with pytest.raises(EngineError, match=r"holds 1 NaN or infinite pixel\(s\) of 64: not accepted"):
        run_c(ARGS, command=cmd("nan"))


def test_a_setsid_child_left_behind_after_a_normal_exit_is_killed(pids):
    res = run_c(ARGS, command=cmd("setsid-exit"))
    assert res.returncode == 0
    engine, child = _pids(pids)
    assert child != 0 and gone(engine) and gone(child)


def test_a_command_not_on_path_is_named():
    with pytest.raises(EngineError, match="command not found: no-such-engine-xyz"):
        run_c(ARGS, command=["no-such-engine-xyz"])


def test_a_binary_that_is_not_executable_says_chmod(tmp_path):
    b = tmp_path / "nanoBragg"
    b.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(EngineError, match=r"not executable: .*nanoBragg \(chmod \+x it\)"):
        run_c(ARGS, binary=b)


def test_a_crash_during_a_trace_is_an_error_value_and_the_other_side_still_traces(tmp_path):
    s = ComparisonSession(TINY, SessionOptions(SideOptions(f"cmd:{sys.executable} {FAKE_NB} crash"),
                                               SideOptions("torch")), cwd=tmp_path)
    insp = s.inspect_pixel(3, 4)
    assert "killed by SIGSEGV" in insp.errors["a"] and "b" not in insp.errors
    assert insp.traces["b"].samples


# ---- scratch and output files --------------------------------------------------------------------------------------
def test_scratch_folder_is_named_after_the_owner_and_removed(scratch_parent):
    run_c(ARGS, command=cmd("ok"), workdir_parent=scratch_parent)
    assert list(scratch_parent.iterdir()) == []
    with pytest.raises(EngineError):
        run_c(ARGS, command=cmd("crash"), workdir_parent=scratch_parent)
    assert list(scratch_parent.iterdir()) == []  # removed after a failure too
    assert SCRATCH_PREFIX == "nbref-run-"


def test_output_flags_resolve_against_the_users_folder_and_nothing_else_is_written(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work)
    res = run_c(ARGS + ["-intfile", "sub/x.img", "-pgmfile", "p.pgm", "-floatfile", "f.bin"], command=cmd("outputs"))
    # Written where nanoBragg run in `work` would write them, by the engine itself (its cwd is the scratch folder).
    assert (work / "sub" / "x.img").read_text().startswith("-intfile from cwd ")
    assert SCRATCH_PREFIX in (work / "sub" / "x.img").read_text()
    assert (work / "p.pgm").is_file()
    assert np.array_equal(np.fromfile(work / "f.bin", dtype=np.float32).reshape(8, 8), res.image)
    assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*")) == ["f.bin", "p.pgm", "sub",
                                                                                "sub/x.img"]


def test_a_trace_run_writes_none_of_the_users_output_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trace_c(ARGS + ["-intfile", "x.img", "-floatfile", "f.bin"], 1, 1, command=cmd("outputs"))
    assert list(tmp_path.iterdir()) == []


def test_only_one_side_writes_the_output_files_and_a_warning_says_which(tmp_path, c_binary):
    s = ComparisonSession(TINY + ["-intfile", "x.img"], SessionOptions(SideOptions("cref"), SideOptions("cref", False)),
                          cwd=tmp_path)
    assert s.sides["a"].job.write_outputs and not s.sides["b"].job.write_outputs
    assert any(w.startswith("output files of the command line (-intfile x.img) are written by side A") for w in
               s.warnings)


# ---- time limits and cancel bound both sides -------------------------------------------------------------------------
BIG = ("-cell 100 100 100 90 90 90 -default_F 100 -N 3 -lambda 6.2 -detpixels 2000 -distance 100 "
       "-phi 0 -osc 1 -phisteps 10 -mosaic 0.5 -mosaic_dom 5").split()


def test_the_time_limit_bounds_the_torch_engine_too(tmp_path):
    s = ComparisonSession(BIG, SessionOptions(SideOptions("torch"), SideOptions("torch:float32"), timeout_s=0.5),
                          cwd=tmp_path)
    out = s.run_side("a")
    # The limit, not completion, ended it (the message); no wall-clock bound on how soon (issue 18).
    assert out.error == "nbparity PyTorch f64 timed out after 0.5 s and was stopped" and not out.cancelled


def test_cancel_bounds_both_sides_at_once(tmp_path, pids):
    s = ComparisonSession(BIG, SessionOptions(SideOptions(f"cmd:{sys.executable} {FAKE_NB} sleep"),
                                              SideOptions("torch"), schedule="parallel"), cwd=tmp_path)
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    a, b = s.run_both(cancel=cancel)
    assert a.cancelled and b.cancelled and a.error == b.error == "cancelled"
    assert gone(_pids(pids)[0])


def test_bad_engine_spelling_never_reaches_an_engine():
    with pytest.raises(ConfigError, match="engine 'bin:/no/such/nanoBragg': C binary not found"):
        ComparisonSession(TINY, SessionOptions(SideOptions("bin:/no/such/nanoBragg")))


def test_non_executable_fake_is_reported_before_the_run(tmp_path):
    b = tmp_path / "nb"
    b.write_text("#!/bin/sh\n")
    b.chmod(b.stat().st_mode & ~stat.S_IXUSR)
    with pytest.raises(ConfigError, match="not executable"):
        ComparisonSession(TINY, SessionOptions(SideOptions(f"bin:{b}")))

"""Unit tests of the compiled kernel's cache and build guards (issue 18): simulator.kernel_cache and the process-
group runner of simulator.compiled. The end-to-end cases are in tests/support/fault_cases_cache.py."""
from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from proc_util import gone
from simulator import compiled, kernel_cache


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_private_dir_is_0700_under_umask_000_and_tightens_open_folders(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert kernel_cache.private_dir(tmp_path / "c" / "kernels") is None
    finally:
        os.umask(old)
    assert _mode(tmp_path / "c") == _mode(tmp_path / "c" / "kernels") == 0o700
    (tmp_path / "c" / "kernels").chmod(0o777)
    (tmp_path / "c").chmod(0o777)
    assert kernel_cache.private_dir(tmp_path / "c" / "kernels") is None
    assert _mode(tmp_path / "c") == _mode(tmp_path / "c" / "kernels") == 0o700


def test_private_dir_refuses_a_file_and_a_link(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert "cache folder" in kernel_cache.private_dir(tmp_path / "f" / "kernels")
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "c").mkdir(mode=0o700)
    (tmp_path / "c" / "kernels").symlink_to(tmp_path / "real")
    assert "not a folder" in kernel_cache.private_dir(tmp_path / "c" / "kernels")


def test_verify_refuses_truncated_replaced_and_unrecorded_libraries_without_loading(tmp_path: Path) -> None:
    lib = tmp_path / "fastkernel-k.so"
    lib.write_bytes(b"\x7fELF" + bytes(range(256)) * 8)
    lib.chmod(0o600)
    assert "missing" in kernel_cache.verify(lib)            # no sidecar: never recorded as checked
    kernel_cache.record(lib, *kernel_cache.sha256_file(lib), ["-O3"])
    assert kernel_cache.verify(lib) is None
    os.truncate(lib, 100)
    assert "truncated" in kernel_cache.verify(lib)
    kernel_cache.record(lib, *kernel_cache.sha256_file(lib), ["-O3"])
    with open(lib, "r+b") as f:
        f.write(b"\x7fELX")
    assert "sha256" in kernel_cache.verify(lib)
    kernel_cache.sidecar(lib).write_bytes(b"\xff\x00garbage")
    assert "unreadable record" in kernel_cache.verify(lib)
    lib.chmod(0o666)
    assert "writable by others" in kernel_cache.verify(lib)


def test_failures_are_remembered_per_key(tmp_path: Path) -> None:
    assert kernel_cache.recalled_failure(tmp_path, "a") is None
    kernel_cache.remember_failure(tmp_path, "a", "g++ failed: error: x")
    assert kernel_cache.recalled_failure(tmp_path, "a") == "g++ failed: error: x"
    assert kernel_cache.recalled_failure(tmp_path, "b") is None


def test_flag_sets_and_budget_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("NBPARITY_KERNEL_MARCH", raising=False)
    assert compiled._flag_sets()[0] == ["-march=native", "-fopenmp"] and compiled._flag_sets()[-1] == []
    monkeypatch.setenv("NBPARITY_KERNEL_MARCH", "x86-64")
    assert compiled._flag_sets() == [["-march=x86-64", "-fopenmp"], ["-fopenmp"], ["-march=x86-64"], []]
    monkeypatch.setenv("NBPARITY_KERNEL_MARCH", "none")
    assert compiled._flag_sets() == [["-fopenmp"], []]
    for raw, want in (("5", 5.0), ("abc", compiled.BUILD_BUDGET_S), ("-1", compiled.BUILD_BUDGET_S),
                      ("inf", compiled.BUILD_BUDGET_S), ("nan", compiled.BUILD_BUDGET_S)):
        monkeypatch.setenv("NBPARITY_BUILD_BUDGET_S", raw)
        assert compiled.build_budget_s() == want, raw


HANG = 'sleep 600 & echo $! > "$1"; echo started > "$2"; wait'


def test_a_compiler_past_the_budget_is_killed_with_its_children(tmp_path: Path) -> None:
    child = tmp_path / "child"
    rc, _ = compiled._run_group(["sh", "-c", HANG, "sh", str(child), str(tmp_path / "s")], time.monotonic() + 1.0,
                                None)
    assert rc is None                                      # ran out of budget
    assert gone(int(child.read_text()), 10.0)              # its background child too: the group was killed
    assert compiled._LOADER.groups == set()


def test_a_cancelled_build_is_cut_and_its_group_killed(tmp_path: Path) -> None:
    child, started = tmp_path / "child", tmp_path / "started"
    cancel = threading.Event()

    def press():   # cancel once the "compiler" has started its child: ordered, not timed
        while not started.exists():
            time.sleep(0.01)
        cancel.set()
    threading.Thread(target=press, daemon=True).start()
    with pytest.raises(compiled.BuildCut):
        compiled._run_group(["sh", "-c", HANG, "sh", str(child), str(started)], time.monotonic() + 600, cancel)
    assert gone(int(child.read_text()), 10.0)

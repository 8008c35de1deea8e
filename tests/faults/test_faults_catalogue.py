"""The fault catalogue (issue 8): bad flags, values and files, memory refusals, bad output folders.

Every case of `fault_cases.CASES` is checked three ways, each with its exact outcome:
- the Qt-free preflight (what `nbparity compare|trace`, the window and `python -m simulator` call first) raises
  ConfigError whose message holds the case's flag/file/line words, and a memory refusal comes in under a second;
- the PyTorch engine's own set-up raises ConfigError and nothing else (no numpy MemoryError, no OverflowError);
- the C reference exits 9 with the same words on stderr, never on a signal, within its time limit.
A valid case passes all three and both engines render the same finite image. One subprocess per entry point shows
what a user meets there: the exit status of the documented table and no traceback. Output folders (read-only, a
file, full, vanished, ENOSPC mid-write, a killed writer's leftovers) are checked in-process.
"""
from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fault_cases import BASE, CASE_IDS, CASES, GiB, Case, smv, MASK_OK
from simulator.argv import diagnose_argv, parse_argv
from simulator.config import ConfigError
from simulator.preflight import check, resolve_inputs
from simulator.setup import build_setup
from tracing import bundle as bundle_mod
from tracing.bundle import BundleError, BundleWriter, remove_stale_partials

REPO = Path(__file__).resolve().parents[2]
C_TIMEOUT_S = 60  # generous for a loaded CI machine: every rejection takes milliseconds
# Cases the C may run where the PyTorch side refuses: none since issue 22 (both read simulator/budget.def, so
# -phisteps 1e9 is refused by nbref too, with the same figure).
C_LEGITIMATELY_RUNS: set[str] = set()


def materialise(case: Case, folder: Path) -> list[str]:
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    return case.argv(str(folder))


def assert_words(case: Case, message: str, words: tuple[str, ...] | None = None) -> None:
    for w in (case.words if words is None else words):
        assert w.lower() in message.lower(), (case.id, w, message)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_preflight_and_setup(case: Case, tmp_path: Path, monkeypatch) -> None:
    argv = materialise(case, tmp_path)
    if case.mem_limit:
        monkeypatch.setenv("NBPARITY_MEMORY_LIMIT", str(case.mem_limit))
    t0, cpu0 = time.perf_counter(), time.process_time()
    if case.accept:
        est = check(argv, cwd=tmp_path)
        assert est.work >= est.roi_pixels >= 1 and est.bytes > 0
        assert "path evaluations" in est.sentence()
        return
    with pytest.raises(ConfigError) as ei:
        check(argv, cwd=tmp_path)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert_words(case, str(ei.value))
    if case.mem_limit:
        # issue 8: a command line that would not fit is refused in under a second, naming the estimate. The bound
        # is on this process's CPU time (milliseconds measured), which other processes' load does not add to; the
        # wall time is not asserted (issue 18).
        assert cpu < 1.0, (cpu, elapsed)
        assert "would need about" in str(ei.value)
    # The engine's own set-up agrees, with ConfigError only (a numpy MemoryError or OverflowError fails here).
    with pytest.raises(ConfigError):
        build_setup(parse_argv(resolve_inputs(argv, tmp_path)).config)


def _c_limits(limit: int | None):
    def apply() -> None:
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


@pytest.mark.parametrize("case", [c for c in CASES if c.id not in C_LEGITIMATELY_RUNS],
                         ids=[i for i in CASE_IDS if i not in C_LEGITIMATELY_RUNS])
def test_c_reference(case: Case, tmp_path: Path, c_binary: Path) -> None:
    argv = materialise(case, tmp_path)
    env = dict(os.environ)
    if case.mem_limit:
        env["NBPARITY_MEMORY_LIMIT"] = str(case.mem_limit)
    p = subprocess.run([str(c_binary), *argv, "-floatfile", "c.bin"], cwd=tmp_path, capture_output=True, text=True,
                       errors="replace", timeout=C_TIMEOUT_S, env=env, preexec_fn=_c_limits(case.mem_limit))
    assert p.returncode >= 0, f"{case.id}: the C reference died on signal {-p.returncode}"
    if case.accept:
        assert p.returncode == 0, (case.id, p.stderr[-2000:])
        img = np.fromfile(tmp_path / "c.bin", dtype="<f4")
        assert img.size == 16 * 16 and np.all(np.isfinite(img)) and img.max() > 0
        return
    assert p.returncode == 9, (case.id, p.returncode, p.stderr[-2000:])
    assert "nbref: ERROR" in p.stderr
    assert_words(case, p.stderr, case.c_words)
    assert not (tmp_path / "c.bin").exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.accept], ids=[c.id for c in CASES if c.accept])
def test_valid_case_same_image_on_both_engines(case: Case, tmp_path: Path, c_binary: Path) -> None:
    """Accepted inputs mean the same to both engines: e.g. -detector_thicksteps 0 puts the two layers 50 µm apart
    in both (it was 0/50 µm in the C and 0/100 µm in PyTorch: 3.7 % apart)."""
    from simulator.engine import render

    argv = materialise(case, tmp_path)
    subprocess.run([str(c_binary), *argv, "-floatfile", "c.bin"], cwd=tmp_path, check=True, capture_output=True,
                   timeout=C_TIMEOUT_S)
    c_img = np.fromfile(tmp_path / "c.bin", dtype="<f4").reshape(16, 16)
    py_img = render(parse_argv(resolve_inputs(argv, tmp_path)).config).image
    assert np.all(np.isfinite(py_img))
    # parity threshold of the project's compare (max relative error 1e-5 over bright pixels), loosened to 1e-4
    # for float32 rounding on these tiny images
    bright = c_img > 1e-3 * c_img.max()
    rel = np.abs(py_img[bright] - c_img[bright]) / c_img[bright]
    assert rel.max() < 1e-4, (case.id, rel.max())


def test_catalogue_size() -> None:
    assert len(CASES) >= 80 and len(set(CASE_IDS)) == len(CASES)


# ---- entry points as users meet them (one subprocess each: torch-importing launches cost seconds) -----------------
def _run(cmd: list[str], cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO), **env))


def _case(cid: str) -> Case:
    return next(c for c in CASES if c.id == cid)


NBPARITY = [sys.executable, "-m", "app"]


def test_python_m_simulator_exit_9_no_traceback(tmp_path: Path) -> None:
    case = _case("hkl-non-utf8")
    p = _run([sys.executable, "-m", "simulator", *materialise(case, tmp_path)], tmp_path)
    assert p.returncode == 9 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert_words(case, p.stderr)
    assert not (tmp_path / "floatimage.bin").exists()


def test_nbparity_sim_memory_refusal_exit_9(tmp_path: Path) -> None:
    case = _case("hkl-grid-huge")
    p = _run([*NBPARITY, "sim", *materialise(case, tmp_path)], tmp_path, NBPARITY_MEMORY_LIMIT=str(8 * GiB))
    assert p.returncode == 9 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert_words(case, p.stderr)


def test_nbparity_compare_roi_off_detector_exit_3_before_engines(tmp_path: Path) -> None:
    """Was: uncaught ValueError, exit 1 (the 'engines differ' code), no bundle."""
    case = _case("roi-off-detector")
    out = tmp_path / "out"
    p = _run([*NBPARITY, "compare", "--out", str(out), "--", *materialise(case, tmp_path)], tmp_path)
    assert p.returncode == 3 and "Traceback" not in p.stderr, (p.returncode, p.stderr[-2000:])
    assert_words(case, p.stderr)
    assert "C: ok" not in p.stdout and not out.exists()


def test_nbparity_trace_bad_hkl_exit_3(tmp_path: Path) -> None:
    case = _case("hkl-F-nan")
    p = _run([*NBPARITY, "trace", "--pixel", "0", "0", "--out", str(tmp_path / "out"), "--",
              *materialise(case, tmp_path)], tmp_path)
    assert p.returncode == 3 and "Traceback" not in p.stderr, (p.returncode, p.stderr[-2000:])
    assert_words(case, p.stderr)


def test_nbparity_compare_unwritable_out_exit_3_before_engines(tmp_path: Path) -> None:
    """/proc takes no new folders, even from root: the bundle folder is refused before anything is computed."""
    p = _run([*NBPARITY, "compare", "--out", "/proc/nbparity-out", "--", *BASE], tmp_path)
    assert p.returncode == 3 and "Traceback" not in p.stderr, (p.returncode, p.stderr[-2000:])
    assert "--out" in p.stderr and "not writable" in p.stderr
    assert "C: ok" not in p.stdout


# ---- output folders (in-process: the same code the commands call) ---------------------------------------------------
def _est(tmp_path: Path):
    return check(list(BASE), cwd=tmp_path)


def test_out_read_only_refused(tmp_path: Path, monkeypatch) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **kw: False if Path(p) == ro else real_access(p, m, **kw))
    with pytest.raises(ConfigError, match=r"--out .*not writable"):
        check(list(BASE), cwd=tmp_path, out=ro / "bundles")


def test_out_is_a_file_refused(tmp_path: Path) -> None:
    f = tmp_path / "plain.txt"
    f.write_text("x")
    with pytest.raises(ConfigError, match=r"--out .*not a folder"):
        check(list(BASE), cwd=tmp_path, out=f)
    with pytest.raises(ConfigError, match=r"--out .*not a folder.*cannot be made"):
        check(list(BASE), cwd=tmp_path, out=f / "sub")  # a parent that is a file: the folder can never exist


def test_out_full_disk_refused(tmp_path: Path, monkeypatch) -> None:
    real = os.statvfs

    class Full:
        def __init__(self, st):
            self.f_frsize, self.f_bavail = st.f_frsize, 1

    monkeypatch.setattr(os, "statvfs", lambda p: Full(real(p)))
    with pytest.raises(ConfigError, match="no space left on device"):
        check(list(BASE), cwd=tmp_path, out=tmp_path / "out")


def test_enospc_mid_write_says_so_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    class FullFile:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_mod, "open", FullFile, raising=False)
    with pytest.raises(BundleError, match="no space left on device while writing c_float.bin"):
        with BundleWriter(tmp_path, "compare") as w:
            w.write_array_f32("c_float.bin", np.zeros((4, 4)))
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with BundleWriter(tmp_path, "compare") as w:
            w.write_text("summary.md", "half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_vanished_out_folder_is_made_again(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    check(list(BASE), cwd=tmp_path, out=out)
    out.rmdir()  # removed between the preflight and the write: nothing is lost, the folder is made again
    with BundleWriter(out, "compare") as w:
        w.write_text("summary.md", "ok")
    assert (w.path / "summary.md").read_text() == "ok"


def test_killed_writer_leftovers_removed_live_ones_kept(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        killed = tmp_path / f".compare-20260101-000000.{dead.pid}.abc123.partial"
        live = tmp_path / f".compare-20260101-000000.{sleeper.pid}.def456.partial"
        old = tmp_path / ".compare-20250101-000000.x1y2z3.partial"   # an older writer's name, without a PID
        for d in (killed, live, old):
            d.mkdir()
            (d / "c_float.bin").write_bytes(b"\0" * 16)
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        with BundleWriter(tmp_path, "compare") as w:
            w.write_text("summary.md", "ok")
        assert not killed.exists() and not old.exists() and live.exists()
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [w.path.name]
        assert remove_stale_partials(tmp_path) == []
    finally:
        sleeper.kill()
        sleeper.wait()


# ---- the editor and image loading ---------------------------------------------------------------------------------
def test_editor_validation_reports_overflowing_mask_header(tmp_path: Path) -> None:
    """Was: OverflowError escaped the editor's validation and left Run enabled on an invalid line."""
    (tmp_path / "m.img").write_bytes(smv(MASK_OK.replace("SIZE1=16", "SIZE1=1e999")))
    text = " ".join(BASE) + f" -mask {tmp_path / 'm.img'}"
    diags = diagnose_argv(text)
    errors = [d for d in diags if d.severity == "error"]
    assert errors and "SIZE1" in errors[0].message


@pytest.mark.parametrize("content, words", [
    (None, "a folder, not an image file"),
    (b"{\nHEADER_BYTES=512;\nSIZE1=16;\nSIZE2=16;\n}", "not a readable"),
    (b"garbage" * 10, "not a readable"),
])
def test_image_loading_errors(tmp_path: Path, content, words) -> None:
    from app.core.image_loading import ImageLoadError, load_image

    p = tmp_path / "x.img"
    if content is None:
        p = tmp_path  # a folder
    else:
        p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=words):
        load_image(p)


def test_image_loading_refuses_nan_raw_image(tmp_path: Path) -> None:
    from app.core.image_loading import ImageLoadError, load_image

    p = tmp_path / "x.bin"
    a = np.ones((4, 4), dtype="<f4")
    a[1, 2] = np.nan
    a.tofile(p)
    with pytest.raises(ImageLoadError, match="1 pixel"):
        load_image(p, (4, 4))


def test_error_fields_name_flag_file_line(tmp_path: Path) -> None:
    """The vocabulary's fields, for callers that must not parse text (the editor, dialogs)."""
    argv = materialise(_case("hkl-F-nan"), tmp_path)
    with pytest.raises(ConfigError) as ei:
        check(argv, cwd=tmp_path)
    e = ei.value
    assert (e.flag, Path(e.file).name, e.line, e.expected) == ("-hkl", "f.hkl", 2, "a finite number for F")
    with pytest.raises(ConfigError) as ei:
        check([*BASE, "-distance", "abc"])
    assert ei.value.flag == "-distance" and ei.value.file is None


def test_estimate_flags_a_run_of_minutes_before_it_starts() -> None:
    """-xtalsize 0.1 auto-selects ceil(3 * 0.1 mm / (lambda * distance / pixel)) = ceil(3e-4 / 1e-7) = 3000-fold
    oversampling: 16 * 16 * 3000^2 = 2.3e9 path evaluations, which the window must ask about (minutes, not a hang)."""
    est = check([*BASE[:BASE.index("-oversample")], "-nonoise", "-nopgm", "-xtalsize", "0.1"])
    assert est.oversample == 3000
    assert est.work == 16 * 16 * 3000 ** 2
    assert est.seconds_guess > 60 and " min " in est.sentence() + " "

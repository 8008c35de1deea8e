"""c_reference.driver with fake binaries (small Python scripts), plus a few checks against the real C reference."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from c_reference import driver
from c_reference.driver import (
    phi_intensity_curve, prepare_args, run_c, trace_c, trace_c_run, trace_roi,
)
from c_reference.locate import REFERENCE_BINARY, default_binary
from simulator.config import SamplingConfig, phi_ticks
from tracing.records import Cancelled, EngineError
from proc_util import gone as proc_gone

PRELUDE = f"""#!{sys.executable}
import json, os, signal, struct, subprocess, sys, time
args = sys.argv[1:]
def val(name, n=1):
    v = None
    for i, a in enumerate(args):
        if a == name and i + n < len(args):
            v = args[i + 1:i + 1 + n]
    return v
FLOAT = val("-floatfile")[0]
N = int(val("-detpixels")[0]) if val("-detpixels") else 8
if os.environ.get("FAKE_LOG"):
    with open(os.environ["FAKE_LOG"], "a") as fh:
        fh.write(json.dumps({{"argv": args, "cwd": os.getcwd(), "pid": os.getpid(),
                             "omp": os.environ.get("OMP_NUM_THREADS")}}) + "\\n")
def write_image(fn=lambda s, f: s * 1000 + f, count=None):
    vals = [float(fn(s, f)) for s in range(N) for f in range(N)]
    with open(FLOAT, "wb") as fh:
        fh.write(struct.pack("<%df" % len(vals[:count]), *vals[:count]))
"""


def fake(tmp_path: Path, body: str, name: str = "fakenb") -> Path:
    p = tmp_path / name
    p.write_text(PRELUDE + body)
    p.chmod(0o755)
    return p


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def gone(pid: int) -> bool:
    return proc_gone(pid, 3.0)


@pytest.fixture
def flog(tmp_path, monkeypatch) -> Path:
    p = tmp_path / "fake_log.jsonl"
    monkeypatch.setenv("FAKE_LOG", str(p))
    return p


# -- successful runs ----------------------------------------------------------------------------------------------

def test_run_reads_image_progress_files_and_cleans_scratch(tmp_path, monkeypatch, flog):
    binary = fake(tmp_path, """
for pct in (5, 50, 100):
    print(f"{pct}% done", flush=True)
    time.sleep(0.15)
write_image()
open("intimage.img", "wb").write(b"SMV?")
print("done writing")
""")
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    seen: list[float] = []
    res = run_c(["-detpixels", "8", "-hkl", "data/x.hkl", "-floatfile", "mine.bin", "-default_F", "1"],
                binary=binary, threads=3, progress=seen.append)
    # Image: float32 (slow, fast) with value s*1000 + f, exactly as written.
    assert res.image.dtype == np.float32 and res.image.shape == (8, 8)
    assert res.image[3, 5] == 3005.0 and res.image[7, 0] == 7000.0
    # Progress from the "NN% done" lines, in order, ending at 1.
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 2
    # Other files the run left in scratch are listed (name -> size in bytes), not read; the scratch folder is gone.
    assert res.files == {"intimage.img": 4}
    entry = log_entries(flog)[0]
    assert not Path(entry["cwd"]).exists() and Path(entry["cwd"]) != work
    assert entry["omp"] == "3"
    # Input made absolute against the caller's folder; the engine writes its float file into scratch, and the
    # user's -floatfile gets a copy where nanoBragg run in the user's folder would have put it.
    argv = entry["argv"]
    assert argv[argv.index("-hkl") + 1] == str(work / "data" / "x.hkl")
    assert argv.count("-floatfile") == 1 and "mine.bin" not in argv
    assert Path(argv[argv.index("-floatfile") + 1]).parent == Path(entry["cwd"])
    assert np.array_equal(np.fromfile(work / "mine.bin", dtype=np.float32).reshape(8, 8), res.image)
    assert not (work / "intimage.img").exists()  # the C's default output stays in scratch
    assert res.binary_sha256 == hashlib.sha256(binary.read_bytes()).hexdigest()
    assert res.wall_s >= 0.3 and res.returncode == 0 and "done writing" in res.stdout
    ir = res.to_image_result()
    assert ir.engine == "c" and ir.meta["binary_sha256"] == res.binary_sha256 and ir.shape == (8, 8)


def test_threads_default_inherits_env(tmp_path, monkeypatch, flog):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    run_c(["-detpixels", "2"], binary=fake(tmp_path, "write_image()\n"))
    assert log_entries(flog)[0]["omp"] == "7"


def test_prepare_args_resolves_files_against_the_users_folder(tmp_path):
    # Inputs and outputs resolve against the user's folder (as nanoBragg run there); -floatfile goes to scratch.
    out = prepare_args(["-mat", "A.mat", "-img", "/abs/i.img", "-floatimage", "x", "-intimage", "sub/i.img",
                        "-N", "3"], tmp_path / "float.bin", "/home/u")
    assert out == ["-mat", "/home/u/A.mat", "-img", "/abs/i.img", "-intimage", "/home/u/sub/i.img", "-N", "3",
                   "-floatfile", str(tmp_path / "float.bin")]


# -- failures -----------------------------------------------------------------------------------------------------

def test_nonzero_exit(tmp_path):
    b = fake(tmp_path, "print('reading hkl', flush=True)\nprint('cannot open foo.hkl', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(EngineError) as ei:
        run_c(["-detpixels", "4"], binary=b)
    assert "exited with status 3" in str(ei.value) and ei.value.returncode == 3
    assert "cannot open foo.hkl" in ei.value.log_tail and "reading hkl" in ei.value.log_tail


def test_crash_by_signal(tmp_path):
    b = fake(tmp_path, "os.kill(os.getpid(), signal.SIGSEGV)\n")
    with pytest.raises(EngineError) as ei:
        run_c(["-detpixels", "4"], binary=b)
    assert "SIGSEGV" in str(ei.value)


def test_short_float_file(tmp_path):
    b = fake(tmp_path, "write_image(count=10)\n")
    with pytest.raises(EngineError) as ei:
        run_c(["-detpixels", "8"], binary=b)
    # 8 x 8 float32 = 256 bytes expected; 10 floats = 40 bytes written.
    assert "has 40 bytes, expected 256 bytes (8 slow x 8 fast" in str(ei.value)


def test_missing_float_file(tmp_path):
    with pytest.raises(EngineError, match="wrote no float image"):
        run_c(["-detpixels", "8"], binary=fake(tmp_path, "print('nothing')\n"))


def test_missing_and_non_executable_binary(tmp_path):
    with pytest.raises(EngineError, match="not found"):
        run_c([], binary=tmp_path / "nope")
    p = tmp_path / "plain"
    p.write_text("#!/bin/sh\n")
    with pytest.raises(EngineError, match="not executable"):
        run_c([], binary=p)


def test_default_binary_env(monkeypatch, tmp_path):
    monkeypatch.delenv("NB_C_BIN", raising=False)
    assert default_binary() == REFERENCE_BINARY
    monkeypatch.setenv("NB_C_BIN", str(tmp_path / "nb"))
    assert default_binary() == tmp_path / "nb"


# -- cancel and time-out: no process survives ---------------------------------------------------------------------

HANG = """
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open(os.environ["FAKE_PIDS"], "w").write(f"{os.getpid()} {child.pid}")
print("1% done", flush=True)
time.sleep(60)
"""


def test_cancel_kills_process_group(tmp_path, monkeypatch):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(pids_file))
    cancel = threading.Event()

    def press_cancel():
        while not pids_file.exists() or not pids_file.read_text():
            time.sleep(0.01)
        cancel.set()

    threading.Thread(target=press_cancel, daemon=True).start()
    # Cancelled (not EngineError "timed out after 30 s"): the cancel ended it; no wall-clock bound (issue 18).
    with pytest.raises(Cancelled):
        run_c(["-detpixels", "4"], binary=fake(tmp_path, HANG), cancel=cancel, timeout_s=30)
    pid, child = map(int, pids_file.read_text().split())
    assert gone(pid) and gone(child)  # the grandchild too: the whole group was killed


def test_timeout_kills_process_that_ignores_sigterm(tmp_path, monkeypatch):
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(pids_file))
    b = fake(tmp_path, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + HANG)
    t0 = time.monotonic()
    with pytest.raises(EngineError, match="timed out after 2 s"):
        run_c(["-detpixels", "4"], binary=b, timeout_s=2)
    # 2 s limit, then the supervisor SIGKILLs the engine and its descendants (SIGTERM cannot be ignored away): not
    # before the limit (a lower bound no load can break); that it ended is the error above and the pids below.
    assert time.monotonic() - t0 >= 2.0
    pid, child = map(int, pids_file.read_text().split())
    assert gone(pid) and gone(child)


def test_cancel_before_start(tmp_path, flog):
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        run_c(["-detpixels", "2"], binary=fake(tmp_path, "write_image()\n"), cancel=ev)
    assert not flog.exists()  # never launched


# -- traces -------------------------------------------------------------------------------------------------------

TRACER = """
write_image()
tp = val("-trace_pixel", 2)
if tp:
    print(f"TRACE_CONFIG: tracing pixel (spixel={tp[0]}, fpixel={tp[1]})")
    print("TRACE_C: hkl_frac -6.8795206024501 -0.607255839576692 -13.766298525469")
    for i in range(10):
        k = -0.607255839576692 if i in (0, 9) else -0.59 - 0.001 * i
        print(f"TRACE_C_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={k:.15g} F_latt_b=1.5 F_latt=2.5")
    print(f"TRACE_C: floatimage_accumulated {int(tp[0]) * 1000 + int(tp[1])}")
"""


def test_trace_c_args_and_parse(tmp_path, flog):
    b = fake(tmp_path, TRACER)
    user = ["-detpixels", "8", "-roi", "0", "7", "0", "7", "-trace_pixel", "1", "1", "-osc", "0.1", "-phisteps", "10"]
    tr = trace_c(user, 3, 5, binary=b, threads=4)
    argv = log_entries(flog)[0]["argv"]
    # One -trace_pixel (ours), the -roi covering (3,4) and (3,5), one thread, no noise/PGM work.
    assert argv.count("-trace_pixel") == 1 and argv[argv.index("-trace_pixel") + 1:][:2] == ["3", "5"]
    assert argv.count("-roi") == 1 and argv[argv.index("-roi") + 1:][:4] == ["4", "5", "3", "3"]
    assert "-nonoise" in argv and "-nopgm" in argv
    assert log_entries(flog)[0]["omp"] == "1"
    assert tr.dialect == "golden" and (tr.slow, tr.fast) == (3, 5)
    s = tr.series()
    assert len(s) == 10 and s[0].get("k_frac") == s[9].get("k_frac") == -0.607255839576692
    assert tr.scalar("floatimage_accumulated") == 3005.0


def test_trace_c_without_trace_lines(tmp_path):
    tr = trace_c(["-detpixels", "4"], 0, 0, binary=fake(tmp_path, "write_image()\n"))
    assert tr.dialect == "none" and "phi_intensity_curve" in tr.notes[-1]


def test_trace_c_bad_trace_is_engine_error(tmp_path):
    b = fake(tmp_path, "write_image()\nprint('TRACE_C_PHI phi_tic=0 phi_deg=0 k_frac=abc F_latt_b=1 F_latt=1')\n")
    with pytest.raises(EngineError, match="k_frac"):
        trace_c(["-detpixels", "4"], 1, 1, binary=b)
    res = trace_c_run(["-detpixels", "4"], 1, 1, binary=b)  # the run itself is fine; the error is recorded
    assert res.trace is None and "not a number" in res.trace_error


@pytest.mark.parametrize("slow, fast, user_roi, expected", [
    (5, 3, None, (2, 3, 5, 5)),          # previous pixel on the same row
    (5, 0, None, (0, 9, 4, 5)),          # first of its row: last pixel of the previous row, two full rows
    (0, 0, None, (0, 0, 0, 0)),          # the very first pixel renders alone, as in the full run
    (4, 2, (2, 6, 4, 8), (2, 2, 4, 4)),  # first pixel of the user's ROI: alone
    (5, 2, (2, 6, 4, 8), (2, 6, 4, 5)),  # first of its ROI row: previous ROI row's last pixel (fast 6)
    (1, 1, (2, 6, 4, 8), (0, 1, 1, 1)),  # outside the user's ROI: as for the whole detector
])
def test_trace_roi(slow, fast, user_roi, expected):
    assert trace_roi(slow, fast, (8, 10), user_roi) == expected


def test_trace_roi_outside_detector():
    with pytest.raises(EngineError, match="outside"):
        trace_roi(8, 0, (8, 10))


# -- per-tick curve -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("phisteps, osc, phistep, expected", [
    (None, None, None, (0.0, 0.0, 1)),     # 1 step, osc 0
    (None, None, 0.2, (0.2, 0.2, 2)),      # osc = phistep, 2 steps
    (None, 0.1, None, (0.1, 0.05, 2)),     # 2 steps, phistep = osc/2
    (None, 0.1, 0.03, (0.1, 0.03, 4)),     # ceil(0.1/0.03) = 4
    (10, None, None, (1.0, 0.1, 10)),      # osc defaults to 1 deg
    (10, None, 0.2, (0.2, 0.2, 2)),        # N discarded
    (10, 0.1, None, (0.1, 0.01, 10)),      # phistep = osc/N
    (0, 0.1, None, (0.1, 0.1, 1)),         # phisteps 0 counts as 1
])
def test_phi_ticks_resolve_the_grid_by_the_spec_table(phisteps, osc, phistep, expected):
    # simulator.config.phi_ticks: the one φ-grid derivation the driver, engines and slider share (spec 8.2 table).
    g = phi_ticks(SamplingConfig(phi_deg=0.0, osc_deg=osc, phistep_deg=phistep, phisteps=phisteps))
    assert (g.osc, g.n) == pytest.approx(expected[0::2]) and g.step == pytest.approx(expected[1])
    assert g.angles() == [0.0 + i * g.step for i in range(g.n)]


def test_phi_intensity_curve(tmp_path, flog):
    # Each single-tick run fills the image with 100 + 1000*phi, so the curve reads back the tick angles.
    b = fake(tmp_path, """
assert val("-phisteps") == ["1"] and args.count("-phi") == 1
phi = float(val("-phi")[0])
write_image(lambda s, f: 100 + 1000 * phi)
""")
    seen: list[float] = []
    curve = phi_intensity_curve(["-detpixels", "4", "-phi", "0.5", "-osc", "0.1", "-phisteps", "10", "-roi", "0", "1",
                                 "0", "1"], 2, 3, binary=b, progress=seen.append)
    assert [p for p, _ in curve] == pytest.approx([0.5 + 0.01 * i for i in range(10)])
    assert [v for _, v in curve] == pytest.approx([100 + 1000 * (0.5 + 0.01 * i) for i in range(10)], rel=1e-6)
    argv = log_entries(flog)[3]["argv"]
    assert argv[argv.index("-roi") + 1:][:4] == ["3", "3", "2", "2"] and argv[argv.index("-osc") + 1] == "0.01"
    assert seen[-1] == 1.0 and seen == sorted(seen)


# -- the real C reference (skipped until c_reference has a Makefile) ----------------------------------------------

@pytest.fixture
def real_c(request) -> Path:
    if not (driver.Path(driver.__file__).parent / "Makefile").exists():
        pytest.skip("c_reference/Makefile not there yet")
    return request.getfixturevalue("c_binary")


SMALL = ["-cell", "100", "100", "100", "90", "90", "90", "-default_F", "100", "-lambda", "6.2", "-N", "3",
         "-distance", "100", "-detpixels", "32", "-pixel", "0.1", "-nopgm", "-nonoise"]
ROTATING = SMALL + ["-phi", "0", "-osc", "10", "-phisteps", "5", "-misset", "10", "20", "30"]


def test_real_c_run(real_c):
    res = run_c(SMALL, binary=real_c, threads=1)
    assert res.image.shape == (32, 32) and np.isfinite(res.image).all() and res.image.sum() > 0


def test_real_trace_reports_image_value(real_c):
    # Decisions D4: the traced final value is the image's value at that pixel in the full run (carry-over on).
    img = run_c(ROTATING, binary=real_c, threads=1).image
    s, f = np.unravel_index(int(np.argmax(img)), img.shape)
    tr = trace_c(ROTATING, int(s), int(f), binary=real_c)
    assert tr.dialect in ("rich", "golden") and len(tr.series()) == 5
    assert tr.scalar("floatimage_accumulated") == pytest.approx(float(img[s, f]), rel=1e-6)


def test_real_phi_curve_sums_to_spec_image(real_c):
    # Spec §15: Σ single-tick values / N equals the image with a fresh rotation at every tick (carry-over off).
    img = run_c(ROTATING + ["-phi0_carryover", "off"], binary=real_c, threads=1).image
    s, f = np.unravel_index(int(np.argmax(img)), img.shape)
    curve = phi_intensity_curve(ROTATING, int(s), int(f), binary=real_c)
    assert len(curve) == 5
    assert sum(v for _, v in curve) / 5 == pytest.approx(float(img[s, f]), rel=1e-5)


def cli_flags_003_args(data: Path) -> list[str]:
    """The supervisor command of spec §12.1, with our data folder's A.mat and scaled.hkl."""
    return f"""-mat {data}/A.mat -floatfile img.bin -hkl {data}/scaled.hkl -nonoise -nointerpolate -oversample 1
      -exposure 1 -flux 1e18 -beamsize 1.0 -spindle_axis -1 0 0
      -Xbeam 217.742295 -Ybeam 213.907080 -distance 231.274660 -lambda 0.976800
      -pixel 0.172 -detpixels_x 2463 -detpixels_y 2527
      -odet_vector -0.000088 0.004914 -0.999988 -sdet_vector -0.005998 -0.999970 -0.004913
      -fdet_vector 0.999982 -0.005998 -0.000118
      -pix0_vector_mm -216.336293 215.205512 -230.200866 -beam_vector 0.00051387949 0.0 -0.99999986
      -Na 36 -Nb 47 -Nc 29 -osc 0.1 -phi 0 -phisteps 10 -detector_rotx 0 -detector_roty 0 -detector_rotz 0
      -twotheta 0""".split()


def test_real_cli_flags_003_trace_matches_golden(real_c, cli_flags_003):
    # Spec §8.3/§11.1, pixel (slow 685, fast 1039): the golden C's trace. The -roi trick (previous pixel rendered
    # first) is what makes tick 0 carry tick 9's lattice here, as in the full-image run.
    res = trace_c_run(cli_flags_003_args(cli_flags_003), 685, 1039, binary=real_c)
    tr = res.trace
    s = tr.series()
    assert [x.phi_tic for x in s] == list(range(10))
    assert s[0].get("k_frac") == s[9].get("k_frac") == pytest.approx(-0.607255839576692, abs=1e-12)
    assert s[0].get("F_latt") == pytest.approx(-2.38319665299058, rel=1e-9)
    assert tr.scalar("I_before_scaling") == pytest.approx(943654.80923755, rel=1e-9)
    assert tr.scalars["rot_b_angstroms"][1] == pytest.approx(0.671588, abs=1e-6)
    assert res.image[685, 1039] == pytest.approx(2.88139546000821e-07, rel=1e-7)


def test_real_cli_flags_003_phi_curve_is_spec_value(real_c, cli_flags_003):
    # Σ single-tick values / N is the spec-compliant pixel (§15), i.e. the C's pixel with the carry-over off. The
    # scale factors (polar, omega, capture, r_e^2·fluence/steps) do not depend on φ, so relative to the carry-over
    # pixel it is the ratio of the two traces' I_before_scaling.
    args = cli_flags_003_args(cli_flags_003)
    curve = phi_intensity_curve(args, 685, 1039, binary=real_c)
    assert [p for p, _ in curve] == pytest.approx([0.01 * i for i in range(10)])
    on = trace_c_run(args, 685, 1039, binary=real_c)
    off = trace_c(args + ["-phi0_carryover", "off"], 685, 1039, binary=real_c)
    ratio = sum(v for _, v in curve) / 10 / float(on.image[685, 1039])
    assert ratio == pytest.approx(off.scalar("I_before_scaling") / on.trace.scalar("I_before_scaling"), rel=1e-6)
    # Spec §8.3 quotes 805473.79 / 943654.81 = 0.8536 (the PyTorch port then, whose k also differed by 2.8e-5 at
    # every tick): the same -14.6% effect to within 0.3%.
    assert ratio == pytest.approx(805473.79 / 943654.81, rel=3e-3)


# -- one parse per run or trace (issue 15) ------------------------------------------------------------------------

COUNTED = ["-cell", "10", "10", "10", "90", "90", "90", "-default_F", "1", "-detpixels", "8", "-osc", "0.1",
           "-phisteps", "3"]


@pytest.fixture
def parses(monkeypatch) -> list[list[str]]:
    """Every parse of a command line anywhere (parse_argv, lenient_command, diagnose_argv all go through
    simulator.argv.parse._parse_tokens): the token lists, in order."""
    import simulator.argv.parse as grammar
    seen: list[list[str]] = []
    real = grammar._parse_tokens

    def counted(tokens, check_files):
        seen.append(list(tokens))
        return real(tokens, check_files)

    monkeypatch.setattr(grammar, "_parse_tokens", counted)
    return seen


def test_a_c_side_trace_and_curve_parse_nothing_after_the_session(tmp_path, flog, parses):
    # Before issue 15 one C-side trace parsed the line 4 times (may_interpolate twice, image_shape twice); the
    # session's parse now travels as a value (Job -> ParsedCommand -> driver), so the count stays at the 1 parse.
    from app.core.session import ComparisonSession, SessionOptions, SideOptions
    b = fake(tmp_path, TRACER)
    s = ComparisonSession(COUNTED, SessionOptions(SideOptions(f"bin:{b}"), SideOptions(f"bin:{b}", carryover=False)))
    assert len(parses) == 1
    for key in ("a", "b"):
        side = s.sides[key]
        tr = side.engine.trace(side.job, 3, 5)
        assert tr.scalar("floatimage_accumulated") == 3005.0
        curve = side.engine.phi_curve(side.job, 3, 5)
        assert len(curve.ticks) == 3                      # -osc 0.1 -phisteps 3: three single-tick runs
    assert len(parses) == 1
    # The carry-over switch reached side B's runs as a flag, and its config without a parse.
    switched = [r["argv"] for r in log_entries(flog) if "-phi0_carryover" in r["argv"]]
    assert len(switched) == 5                             # side B: its trace, 3 tick runs, the curve's trace run
    assert all(a[a.index("-phi0_carryover") + 1] == "off" for a in switched)


def test_plain_tokens_are_parsed_once_per_driver_call(tmp_path, flog, parses):
    b = fake(tmp_path, TRACER)
    trace_c(COUNTED, 3, 5, binary=b)
    assert len(parses) == 1                               # trace_command -> run_c: the same ParsedCommand
    phi_intensity_curve(COUNTED, 3, 5, binary=b)
    assert len(parses) == 2                               # three tick runs, one parse


def test_lenient_parse_keeps_the_shape_of_a_line_our_grammar_refuses(tmp_path):
    # A binary decides for itself what it accepts: a value our grammar refuses leaves that flag out (named in
    # errors), the rest still gives the image shape (the driver's second grammar, _scan_shape, is gone).
    from simulator.argv import lenient_command
    cmd = lenient_command(["-detpixels", "6", "-Na", "x", "-pixel", "0.1"])
    assert cmd.shape == (6, 6) and cmd.errors and "-Na" in cmd.errors[0]
    res = run_c(["-detpixels", "6", "-Na", "x"], binary=fake(tmp_path, "write_image()\n"))
    assert res.image.shape == (6, 6)


def test_float_image_shape_comes_from_the_flag_table_aliases_included(tmp_path):
    # -detpixels_x / -detpixels_y are the table's aliases of -detpixels_f / -detpixels_s: 4 fast x 3 slow.
    b = fake(tmp_path, "N = 0\nimport struct\nopen(FLOAT, 'wb').write(struct.pack('<12f', *range(12)))\n")
    res = run_c(["-detpixels_x", "4", "-detpixels_y", "3"], binary=b)
    assert res.image.shape == (3, 4) and res.image[2, 3] == 11.0


# -- a pixel trace reads one pixel's rows, and writes no int image (issue 19) --------------------------------------

def test_region_reads_only_its_rows_and_sends_the_int_image_to_devnull(tmp_path, flog):
    # The fake fills s*1000+f and a NaN at (0, 0), outside the region: a trace of (3, 5) reads row 3 only, so the
    # NaN is not seen (it is not the traced pixel's business) and every other row reads as 0.
    b = fake(tmp_path, "import math\nwrite_image(lambda s, f: math.nan if (s, f) == (0, 0) else s * 1000 + f)\n")
    res = trace_c_run(["-detpixels", "8"], 3, 5, binary=b)
    assert res.image.shape == (8, 8) and res.image[3, 5] == 3005.0 and res.image[3, 4] == 3004.0
    assert not res.image[:3].any() and not res.image[4:].any()
    argv = log_entries(flog)[-1]["argv"]
    assert argv[argv.index("-intfile") + 1] == os.devnull
    with pytest.raises(EngineError, match="1 NaN or infinite pixel"):
        trace_c_run(["-detpixels", "8"], 0, 1, binary=b)   # the region (0, 0)-(0, 1) holds the NaN
    with pytest.raises(EngineError, match="1 NaN or infinite pixel"):
        run_c(["-detpixels", "8"], binary=b)                # a full run still checks every pixel


def test_a_command_engine_gets_no_devnull_int_file(tmp_path, flog):
    # An external command may write files its own way (the port writes none unless asked): nothing is added.
    b = fake(tmp_path, TRACER)
    trace_c_run(["-detpixels", "8"], 3, 5, command=[str(b)])
    assert "-intfile" not in log_entries(flog)[-1]["argv"]

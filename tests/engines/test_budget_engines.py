"""One budget for both engines (issue 22): nbref and the PyTorch side read simulator/budget.def, so they print the
same estimate and derived values and refuse the same command lines with the same figures and words; nbref answers
the issue's command lines at once (a refusal with exit 9, or its estimate before any long work) and its output is
bounded whatever the phi / source counts.

Memory is fixed through $NBPARITY_MEMORY_LIMIT (8 GiB), so every figure is the same on any host.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fault_cases import BASE, BASE_NO_OVERSAMPLE, GOOD_HKL
from simulator.argv import parse_argv
from simulator.budget import CONSOLE_LIST_MAX, COSTS, SPEC_FILE, WORDS, format_bytes, when
from simulator.config import ConfigError
from simulator.preflight import check, derived_lines, resolve_inputs

GiB = 1 << 30
LIMIT = 8 * GiB
REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, NBPARITY_MEMORY_LIMIT=str(LIMIT), OMP_NUM_THREADS="1")
OURS = re.compile(r"^nbref: ((?:estimate|derived): .*)$", re.M)
BOUND_S = 60        # a hang guard only: every answer here takes milliseconds (measured in the report)
OUTPUT_MAX = 256 << 10  # bytes of stdout: the lists are cut at CONSOLE_LIST_MAX lines


@pytest.fixture(autouse=True)
def _limit(monkeypatch):
    monkeypatch.setenv("NBPARITY_MEMORY_LIMIT", str(LIMIT))


def _nbref_until_estimate(c_binary: Path, argv: list[str], cwd: Path) -> tuple[int | None, str, str]:
    """Run nbref until it exits or has printed its last derived line (then it is killed: the render is not what
    is tested). (exit status or None when killed, stdout so far, stderr)."""
    p = subprocess.Popen([str(c_binary), *argv, "-floatfile", "c.bin"], cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=ENV, text=True, errors="replace")
    out: list[str] = []
    try:
        assert p.stdout is not None
        for line in p.stdout:
            out.append(line)
            if line.startswith("nbref: derived: ") and "sub-pixels" in line:
                break
        if p.poll() is None and out and "sub-pixels" in out[-1]:
            p.kill()
            p.wait(BOUND_S)
            return None, "".join(out), p.stderr.read() if p.stderr else ""
        rest, err = p.communicate(timeout=BOUND_S)
        return p.returncode, "".join(out) + rest, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _python_lines(argv: list[str], cwd: Path) -> tuple[list[str] | None, str]:
    """(derived lines, "") or (None, the ConfigError's message) of the PyTorch side for `argv`."""
    try:
        est = check(argv, cwd=cwd)
    except ConfigError as e:
        return None, str(e)
    return derived_lines(parse_argv(resolve_inputs(argv, cwd)).config, est), ""


# A spread of command lines over every factor of the budget: pixels, ROI, sub-pixels (given and auto-selected),
# layers, sources (divergence, dispersion, a source file), phi ticks (every way of deriving them), mosaic domains,
# the HKL grid, and the memory refusals of each component.
SMALL = [a if a != "16" else "8" for a in BASE]
CASES: list[tuple[str, ...]] = [
    (), ("-osc", "1", "-phistep", "0"), ("-osc", "1", "-phisteps", "5"), ("-phistep", "0.25"), ("-phisteps", "0"),
    ("-osc", "2", "-phistep", "0.3"), ("-phi", "10", "-osc", "3", "-phisteps", "4", "-phistep", "0.5"),
    ("-phisteps", "1000"), ("-mosaic", "1"), ("-mosaic", "0.5", "-mosaic_dom", "7"), ("-mosaic_dom", "5"),
    ("-mosaic", "0", "-mosaic_dom", "5"), ("-mosaic", "1", "-mosaic_dom", "0"), ("-mosaic", "1", "-mosaic_dom", "-2"),
    ("-dispersion", "10", "-dispsteps", "5"), ("-divergence", "1", "-divsteps", "4"),
    ("-hdivrange", "1", "-hdivstep", "0.3"), ("-divergence", "1", "-divsteps", "3", "-square_div"),
    ("-detector_thick", "100", "-detector_thicksteps", "3"), ("-detector_thick", "100"),
    ("-roi", "1", "3", "2", "5"), ("-roi", "-5", "100", "0", "2"), ("-oversample", "3"), ("-oversample", "0"),
    ("-hkl", "f.hkl"), ("-sourcefile", "s.txt"), ("-detpixels", "100000"), ("-phisteps", "1000000000"),
    ("-dispersion", "10", "-dispsteps", "100000000"), ("-mosaic", "1", "-mosaic_dom", "100000000"),
    ("-divergence", "1", "-divsteps", "200000"), ("-osc", "1e9", "-phistep", "1e-9"),
]


def _materialise(extra: tuple[str, ...], folder: Path) -> list[str]:
    (folder / "f.hkl").write_bytes(GOOD_HKL)
    (folder / "s.txt").write_bytes(b"-10 0 0 1 1e-10\n-10 0.01 0 1 1.01e-10\n-10 0 0.01 2 1e-10\n")
    return [*SMALL, *extra]


@pytest.mark.parametrize("extra", CASES, ids=[" ".join(c) or "base" for c in CASES])
def test_both_engines_same_estimate_derived_values_and_refusals(extra, tmp_path: Path, c_binary: Path) -> None:
    """Identical lines, character for character: the estimate (counts, path evaluations, rough time, memory of
    the available), the derived phi steps, mosaic domains and sub-pixels; or the same refusal text (exit 9)."""
    argv = _materialise(extra, tmp_path)
    py, py_error = _python_lines(argv, tmp_path)
    rc, out, err = _nbref_until_estimate(c_binary, argv, tmp_path)
    if py is None:
        assert rc == 9, (extra, rc, err[-500:])
        assert f"nbref: ERROR: {py_error}" in err, (py_error, err[-500:])
        assert "nbref: estimate:" not in out
    else:
        assert rc in (0, None), (extra, rc, err[-500:])
        assert OURS.findall(out) == py
    assert len(out) < OUTPUT_MAX


def test_auto_oversample_named_before_the_run(tmp_path: Path, c_binary: Path) -> None:
    """-xtalsize 0.1 auto-selects ceil(3 * 0.1 mm / (1 A * 100 mm / 0.1 mm)) = 3000-fold oversampling: both
    engines name 16 * 16 * 3000^2 = 2.3e9 path evaluations and minutes (2.3e9 / PATHS_PER_SECOND = 384 s = 6 min)
    before the C starts rendering."""
    argv = [*BASE_NO_OVERSAMPLE, "-xtalsize", "0.1"]
    rc, out, _err = _nbref_until_estimate(c_binary, argv, tmp_path)
    assert rc is None   # still working: killed after its estimate
    lines = OURS.findall(out)
    assert lines == _python_lines(argv, tmp_path)[0]
    assert "3000x3000 sub-pixels" in lines[0] and "about 2.3e+09 path evaluations, roughly 6 min" in lines[0]
    assert lines[-1] == "derived: 3000x3000 sub-pixels (auto-selected from the crystal size)"


ISSUE_LINES = {
    "-phisteps 1000000000": (9, "-phisteps: this run would need about 93.1 GiB of memory (phi ticks: 93.1 GiB)"),
    "-dispersion 10 -dispsteps 100000000": (9, "-dispsteps: this run would need about 18.6 GiB of memory "
                                               "(sources: 18.6 GiB)"),
    "-mosaic 1 -mosaic_dom 0": (9, "-mosaic_domains: expected a positive count, got 0"),
    "-osc 1 -phistep 0": (0, "derived: 2 phi step(s) of 0.5 degrees, from 0 to 1 degrees"),
}


@pytest.mark.parametrize("line", list(ISSUE_LINES))
def test_nbref_answers_the_issue_command_lines_at_once(line: str, tmp_path: Path, c_binary: Path) -> None:
    """The figures: 1e9 ticks x PHI_BYTES_PER_TICK (100 B) = 93.1 GiB; 1e8 sources x SOURCE_BYTES (200 B) =
    18.6 GiB; both beyond the 8 GiB allowed. Nothing flooded: stdout stays under 256 KiB (it was 8.6 GB)."""
    rc_want, words = ISSUE_LINES[line]
    p = subprocess.run([str(c_binary), *BASE, *line.split(), "-floatfile", "c.bin"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=BOUND_S, env=ENV)
    assert p.returncode == rc_want, p.stderr[-500:]
    assert words in (p.stderr if rc_want == 9 else p.stdout)
    assert len(p.stdout) < OUTPUT_MAX


def test_console_lists_cut_at_the_same_line_in_both(tmp_path: Path, c_binary: Path) -> None:
    """1500 phi ticks and 2 x 2 divergence points x 1200 wavelengths: upstream would print 1500 phi lines, 4
    deviations, 1200 wavelengths and 4800 sources; both engines print CONSOLE_LIST_MAX (1000) of each list and one
    "... N more" line (500 phi, 200 lambda, 3800 source). One pixel is rendered (-roi): 1500 x 4800 = 7.2e6 paths."""
    from simulator.console import setup_report
    from simulator.setup import build_setup

    assert CONSOLE_LIST_MAX == 1000
    argv = [*SMALL, "-phisteps", "1500", "-divergence", "1", "-divsteps", "2", "-square_div", "-dispersion", "10",
            "-dispsteps", "1200", "-roi", "0", "0", "0", "0"]
    p = subprocess.run([str(c_binary), *argv, "-floatfile", "c.bin"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=BOUND_S, env=ENV)
    assert p.returncode == 0, p.stderr[-500:]
    py = "\n".join(setup_report(build_setup(parse_argv(argv).config), None))
    for text, prefix in ((p.stdout, "nbref: "), (py, "simulator: ")):
        assert len(re.findall(r"^phi\d+ = ", text, re.M)) == CONSOLE_LIST_MAX
        assert len(re.findall(r"^lambda\d+ = ", text, re.M)) == CONSOLE_LIST_MAX
        assert len(re.findall(r"^divergence deviation: ", text, re.M)) == 4
        cuts = re.findall(rf"^{prefix}\.\.\. (\d+) more (\w+) line", text, re.M)
        assert cuts == [("500", "phi"), ("200", "lambda"), ("3800", "source")], cuts


def test_python_m_simulator_prints_the_same_lines_as_nbref(tmp_path: Path, c_binary: Path) -> None:
    """The CLI users run: `python -m simulator` prints "simulator: " + the lines nbref prints after "nbref: "."""
    argv = [*BASE, "-osc", "1", "-phistep", "0", "-mosaic", "0.5", "-mosaic_dom", "3"]
    p = subprocess.run([sys.executable, "-m", "simulator", *argv, "-floatfile", "p.bin"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=dict(ENV, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr[-1000:]
    _rc, out, _err = _nbref_until_estimate(c_binary, argv, tmp_path)
    py = re.findall(r"^simulator: ((?:estimate|derived): .*)$", p.stdout, re.M)
    assert py == OURS.findall(out) and len(py) == 4


def test_spec_file_is_the_one_source() -> None:
    """budget.def is read whole: every cost and every word the engines use is there (the C fails to compile
    without them), and the formats are the C's (the % operator gives what printf gives for these)."""
    text = SPEC_FILE.read_text()
    assert len(re.findall(r"^NB_COST\(", text, re.M)) == len(COSTS)
    assert len(re.findall(r"^NB_WORDS\(", text, re.M)) == len(WORDS)
    assert COSTS["PHI_BYTES_PER_TICK"] * 1e9 / GiB == pytest.approx(93.13, abs=0.01)
    assert format_bytes(100 * 10 ** 9) == "93.1 GiB" and format_bytes(1000) == "1000 B"
    assert [when(s) for s in (0.5, 59.6, 384, 7200)] == ["under a second", "60 s", "6 min", "2 h"]

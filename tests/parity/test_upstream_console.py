"""Both engines' stdout carries upstream nanoBragg's lines in upstream's words and order (issue 10): the set-up
report, the statistics of spec 10.5, and the -printout block of spec 11.2. Our own lines carry a prefix ("nbref: "
for the C reference, "simulator: " for the PyTorch CLI), so a script that greps nanoBragg's log reads ours alike.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from test_upstream_files import run_c, run_py

OWN = ("nbref: ", "simulator: ")
N = r"-?[\d.]+(?:e[-+]\d+)?"       # a %g number
HKL = "0 0 1 10\n1 0 1 20\n0 1 1 30\n2 1 0 40\n"
BASE = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "5", "-N", "5", "-detpixels", "64",
        "-pixel", "0.4", "-distance", "100", "-seed", "12345"]

# Upstream's lines for BASE + -hkl, one regex per line, in upstream's order (spec 4.4, 4.6, 5.1, 6, 8.2, 10.5).
UPSTREAM = [
    r"nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17",
    r"mosflm convention selected\.", r"pivoting detector around direct beam spot", r"XDS incident beam: 0 0 1",
    r"auto-selected no interpolation",
    r"Unit Cell: 70 80 90 90 90 90", r"Recp Cell: 0\.0142857 0\.0125 0\.0111111 90 90 90", r"volume = 504000 A\^3",
    r"real-space cell vectors \(Angstrom\):", r"     a           b           c         ",
    r"X: 70\.00000000 +-?0\.00000000 +-?0\.00000000", r"Y: +-?0\.00000000 80\.00000000 +-?0\.00000000",
    r"Z: +-?0\.00000000 +-?0\.00000000 90\.00000000",
    r"reciprocal-space cell vectors \(Angstrom\^-1\):", r"     a_star      b_star      c_star    ",
    r"X: +0\.01428571 +-?0\.00000000 +-?0\.00000000", r"Y: +-?0\.00000000 +0\.01250000 +-?0\.00000000",
    r"Z: +-?0\.00000000 +-?0\.00000000 +0\.01111111",
    r"crystal is 0\.035 x 0\.04 x 0\.045 microns", r"auto-selected \d+-fold oversampling", rf"approximate MW = {N}",
    r"counting entries in .*\.hkl", r"initializing to default_F = 5:", r"done initializing:", r"re-reading .*\.hkl",
    r"thick0 = 0 um", r"phi0 = 0", r"divergence deviation: 0 0", r"lambda0 = 1e-10",
    r"  created a total of 1 sources:", r"-10 -0 0   1 1e-10", r"  created a total of 1 mosaic domains",
    r"  4 initialized hkls \(all others =5\)", r"  parallelpiped xtal: 5x5x5 cells",
    r"  wave=1e-10 meters \+/- 0% in 1 steps", r"  Kahn polarization factor: 0\.000000",
    r"  incident fluence: 1\.25932e\+29 photons/m\^2",
    r"  distance=0\.1 detsize=0\.0256x0\.0256  pixel=0\.0004 meters \(64x64 pixels\)",
    r"  sensor is 0 m thick in 1 layers with mu= -1", rf"  Xbeam={N} Ybeam={N}", rf"  Fbeam={N} Sbeam={N}",
    rf"  Xclose={N} Yclose={N}", rf"  Fclose={N} Sclose={N}",
    r"  DIRECTION_OF_DETECTOR_X-AXIS= 0 0 1", r"  DIRECTION_OF_DETECTOR_Y-AXIS= 0 -1 0",
    r"  DIRECTION_OF_DETECTOR_Z-AXIS= 1 0 0", r"  INCIDENT_BEAM_DIRECTION= 1 0 0", r"  spindle ROTATION_AXIS= 0 0 1",
    r"  POLARIZATION_PLANE_NORMAL= 0 -1 0", rf"  dials origin= {N} {N} -100",
    r"  roi: 0 < x < 64 && 0 < y < 64", r"  hdivrange=0 hdivstep=0  radians", r"  vdivrange=0 vdivstep=0  radians",
    r"  1 divergence steps", r"  1 sources", r"  1 mosaic domains over mosaic spread of 0 degrees",
    r"  1 phi steps from 0 to 0 degrees", r"  \d+x\d+ pixel oversample steps",
    r"", r"  noise image paramters:", r"  seed: -12345", r"  water droplet size: 0 m",
    r"",   # the end of the progress meter
    rf"solid angle subtended by detector = {N} steradian \( {N}% sphere\)",
    r"writing floatimage\.bin as 4096 4-byte floats", rf"max_I = {N}  at {N} {N}", rf"mean= {N} rms= {N} rmsd= {N}",
    rf"intfile_scale = {N}", r"writing intimage\.img as 2-byte integers", rf"pgm_scale = {N}",
    r"writing image\.pgm as 1-byte integers", r"\d+ photons on noise image \(\d+ overloads\)",
    r"writing noiseimage\.img as 2-byte integers",
]


def upstream_lines(stdout: str) -> list[str]:
    """stdout without our own (prefixed) lines and without the progress meter."""
    return [ln for ln in stdout.splitlines() if not ln.startswith(OWN) and not re.fullmatch(r"\d+% done", ln)]


@pytest.fixture(scope="module")
def both_logs(c_binary, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("console")
    hkl = root / "t.hkl"
    hkl.write_text(HKL)
    logs = {}
    for name, run in (("c", lambda a, d: run_c(c_binary, a, d)), ("py", run_py)):
        (root / name).mkdir()
        logs[name] = run(BASE + ["-hkl", str(hkl)], root / name)
    return logs


@pytest.mark.parametrize("engine", ["c", "py"])
def test_stdout_is_upstreams_lines_in_upstreams_order(both_logs, engine):
    """Every line that is not ours matches upstream's line at the same place, and none is missing or extra."""
    lines = upstream_lines(both_logs[engine])
    for i, (line, pattern) in enumerate(zip(lines, UPSTREAM, strict=False)):
        assert re.fullmatch(pattern, line), f"line {i}: {line!r} is not upstream's {pattern!r}"
    assert len(lines) == len(UPSTREAM), f"{len(lines)} upstream lines, expected {len(UPSTREAM)}: {lines[-5:]}"


def test_engines_print_the_same_upstream_lines(both_logs):
    """The two engines' upstream lines are identical, digit for digit, except the photon count of the noise image
    (the PyTorch engine's noise is statistical, decisions D2)."""
    c, py = (upstream_lines(both_logs[k]) for k in ("c", "py"))
    strip = [ln for ln in c if "photons on noise image" not in ln]
    assert strip == [ln for ln in py if "photons on noise image" not in ln]


def test_own_lines_are_marked(both_logs):
    """Our additions (engine identification, step counts, carry-over, timing) carry the prefix."""
    assert any(ln.startswith("nbref: steps = ") for ln in both_logs["c"].splitlines())
    assert any(ln.startswith("simulator: phi0 carry-over ") for ln in both_logs["py"].splitlines())


def test_reciprocal_cell_angles_match_on_the_parity_case(c_binary, cli_flags_003: Path, tmp_path):
    """CLI-FLAGS-003 (a -mat crystal whose angles drift): both engines print the same Unit Cell and Recp Cell lines
    (the issue saw the PyTorch Recp Cell angles differ in the 4th digit); a 2x2 ROI keeps the run short."""
    from app.core.known_cases import cli_flags_003_args

    args = cli_flags_003_args(cli_flags_003) + ["-roi", "0", "1", "0", "1", "-nonoise", "-nopgm"]
    logs = {}
    for name, run in (("c", lambda a, d: run_c(c_binary, a, d)), ("py", run_py)):
        (tmp_path / name).mkdir()
        logs[name] = [ln for ln in upstream_lines(run(args, tmp_path / name)) if ln.startswith(("Unit", "Recp"))]
    assert len(logs["c"]) == 2 and logs["c"] == logs["py"]


# --------------------------------------------------------------------------------------------- -printout

PRINTOUT = [rf" *\d+ +\d+ : stol = {N} or {N}", rf"at {N} {N} {N}",
            r"hkl= -?\d+\.\d{6} -?\d+\.\d{6} -?\d+\.\d{6}  hkl0= -?\d+ -?\d+ -?\d+",
            rf" F_cell={N}  F_latt={N}   I = {N}", r"I/steps +\S+", r"polar +\S+", r"omega +\S+", r"capfrac +\S+",
            r"pixel +\S+", r"real-space cell vectors \(Angstrom\):", r"     a           b           c         ",
            r"X: .*", r"Y: .*", r"Z: .*"]


def printout_blocks(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    starts = [i for i, ln in enumerate(lines) if re.fullmatch(PRINTOUT[0], ln)]
    return [lines[i:i + len(PRINTOUT)] for i in starts]


@pytest.mark.parametrize(("extra", "n_blocks"), [
    (["-printout_pixel", "40", "25", "-phisteps", "2", "-osc", "1", "-mosaic", "0.5", "-mosaic_dom", "2"], 1),
    (["-printout", "-roi", "30", "31", "20", "22", "-detector_thick", "50", "-detector_thicksteps", "2",
      "-gauss_xtal"], 6),
])
def test_printout_in_upstreams_format_on_both_engines(c_binary, tmp_path, extra, n_blocks):
    """Spec 11.2: one block per printed pixel (fast index first), in upstream's format; the two engines print the
    same blocks (PyTorch with the C's default carry-over on); `pixel` is the float image's value and equals
    r_e^2 * fluence * (I/steps) * polar * omega * capfrac (spec 7.1's scaling) to 1e-6."""
    args = BASE[:-2] + ["-nonoise", "-phi0_carryover", "on"] + extra
    out = {}
    for name, run in (("c", lambda a, d: run_c(c_binary, a, d)), ("py", run_py)):
        (tmp_path / name).mkdir()
        out[name] = printout_blocks(run(args, tmp_path / name))
    assert len(out["c"]) == n_blocks and out["c"] == out["py"]
    for block in out["c"]:
        for line, pattern in zip(block, PRINTOUT, strict=True):
            assert re.fullmatch(pattern, line), (line, pattern)
        val = {ln.split()[0]: float(ln.split()[-1]) for ln in block[4:9]}
        expect = 7.94079248018965e-30 * 1.25932015286227086360700780544e29 * val["I/steps"] * val["polar"] \
            * val["omega"] * val["capfrac"]
        assert math.isclose(val["pixel"], expect, rel_tol=1e-6)
    if n_blocks == 1:
        assert out["c"][0][0].split()[:2] == ["40", "25"]


def test_printout_of_a_whole_large_detector_is_refused_before_work(tmp_path):
    """A plain -printout prints every rendered pixel; the PyTorch CLI traces at most MAX_PRINTOUT_PIXELS (1024) and
    says so, with exit status 9 (bad command line), before rendering anything (no float image is written)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    args = [("128" if a == "64" else a) for a in BASE[:-2]]   # 128 x 128 = 16384 pixels, 64 x 64 would be too
    p = subprocess.run([sys.executable, "-m", "simulator", *args, "-printout", "-nonoise"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 9 and "-printout" in p.stderr and "1024" in p.stderr and "-printout_pixel" in p.stderr
    assert not (tmp_path / "floatimage.bin").exists()

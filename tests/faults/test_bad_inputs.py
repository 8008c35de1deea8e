"""Bad and unusual input files for the newer flags, on both engines (decisions D5).

The C reference stops with exit status 9 and a message on stderr; the PyTorch engine raises ConfigError from its API
and `python -m simulator` exits 9 with an `ERROR:` line and no traceback. Every message names the file (and the
line, or both sizes) and the flag.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.argv import parse_argv
from simulator.config import ConfigError
from simulator.engine import render
from simulator.setup import build_setup

REPO = Path(__file__).resolve().parents[2]
BASE = ["-cell", "100", "100", "100", "90", "90", "90", "-N", "3", "-default_F", "100", "-lambda", "1",
        "-distance", "100", "-pixel", "0.1", "-oversample", "1", "-nonoise", "-nopgm"]


def c_run(c_binary: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(c_binary), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def py_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(REPO)))


def torch_api_error(args: list[str]) -> str:
    """The ConfigError message of parse + render (whichever raises)."""
    with pytest.raises(ConfigError) as ei:
        render(parse_argv(args).config)
    return str(ei.value)


def assert_both_fail(c_binary, tmp_path, args, *needles):
    """C: exit 9 with every needle in stderr; torch CLI: exit 9, every needle, no traceback; torch API too."""
    c = c_run(c_binary, args, tmp_path)
    assert c.returncode == 9, (c.returncode, c.stderr)
    py = py_run(args, tmp_path)
    assert py.returncode == 9, (py.returncode, py.stderr[-2000:])
    assert "Traceback" not in py.stderr
    api = torch_api_error(args)
    for n in needles:
        assert n in c.stderr, (n, c.stderr)
        assert n in py.stderr, (n, py.stderr)
        assert n in api, (n, api)


def images(c_binary, tmp_path, args) -> tuple[np.ndarray, np.ndarray]:
    c = c_run(c_binary, args + ["-floatfile", "f.bin"], tmp_path)
    assert c.returncode == 0, c.stderr
    cfg = parse_argv(args).config
    s, f = build_setup(cfg).geometry.spixels, build_setup(cfg).geometry.fpixels
    return np.fromfile(tmp_path / "f.bin", "<f4").reshape(s, f), render(cfg).image


# ------------------------------------------------------------------------------------------------ -sourcefile

def test_sourcefile_comments_are_comments(c_binary, tmp_path):
    """'#' lines and blank lines are skipped (the C would make ghost sources, C-SOURCEFILE-001); columns may be
    separated by any of ' \\t,;:!'; a missing lambda defaults to -lambda."""
    src = tmp_path / "s.txt"
    src.write_text("# X Y Z weight lambda\n-10 0 0 1 1e-10\n\n   # indented comment\n-10,0.002;0 1\n")
    args = BASE + ["-detpixels", "8", "-sourcefile", str(src)]
    c = c_run(c_binary, args + ["-floatfile", "f.bin"], tmp_path)
    assert c.returncode == 0, c.stderr
    assert "created a total of 2 sources:" in c.stdout
    beam = build_setup(parse_argv(args).config).beam
    assert beam.n_sources == 2
    np.testing.assert_allclose(beam.lambdas, [1e-10, 1e-10])
    np.testing.assert_allclose(beam.incident[1], np.array([10, -0.002, 0]) / np.hypot(10, 0.002), atol=1e-15)
    ci, ti = images(c_binary, tmp_path, args)
    np.testing.assert_allclose(ti, ci, rtol=2e-6, atol=0)


def test_sourcefile_bad_line(c_binary, tmp_path):
    src = tmp_path / "bad_sources.txt"
    src.write_text("# comment\n-10 0 0 1 1e-10\n-10 abc 0\n")
    assert_both_fail(c_binary, tmp_path, BASE + ["-detpixels", "8", "-sourcefile", str(src)],
                     "-sourcefile", str(src), "line 3", "'abc'")


# ------------------------------------------------------------------------------------------------------ -mask

@pytest.fixture()
def mask_4x3(c_binary, tmp_path) -> Path:
    """A 4 x 3 (fast x slow) SMV file: the C's int image of a tiny detector (every value >= ADC 40, non-zero)."""
    d = tmp_path / "mk"
    d.mkdir()
    p = c_run(c_binary, BASE + ["-detpixels_x", "4", "-detpixels_y", "3", "-intfile", "m.img"], d)
    assert p.returncode == 0, p.stderr
    return d / "m.img"


def test_mask_matching_size_is_used(c_binary, tmp_path, mask_4x3):
    """Control: the mask header sets the detector to 4 x 3 and every pixel is rendered on both engines."""
    ci, ti = images(c_binary, tmp_path, BASE + ["-mask", str(mask_4x3)])
    assert ci.shape == ti.shape == (3, 4) and np.all(ci > 0)
    np.testing.assert_allclose(ti, ci, rtol=2e-6, atol=0)


def test_mask_wrong_size(c_binary, tmp_path, mask_4x3):
    """-detpixels after the mask's header makes an 8 x 8 detector: an error naming both sizes (nanoBragg would
    read past the mask's data)."""
    assert_both_fail(c_binary, tmp_path, BASE + ["-mask", str(mask_4x3), "-detpixels", "8"],
                     "-mask", str(mask_4x3), "4 x 3", "8 x 8")


def test_mask_with_too_little_data(c_binary, tmp_path, mask_4x3):
    short = tmp_path / "short.img"
    short.write_bytes(mask_4x3.read_bytes()[:512 + 2 * 7])
    assert_both_fail(c_binary, tmp_path, BASE + ["-mask", str(short)], "-mask", str(short), "4 x 3",
                     "only 7 pixels")


def test_mask_not_smv(c_binary, tmp_path):
    txt = tmp_path / "mask.txt"
    txt.write_text("this is not an SMV image\n" * 40)
    assert_both_fail(c_binary, tmp_path, BASE + ["-detpixels", "8", "-mask", str(txt)], "-mask", str(txt),
                     "not an SMV image")


# ------------------------------------------------------------------------------------------------------- -hkl

def test_hkl_five_columns_equal_four(c_binary, tmp_path):
    """D5: 4 to 6 columns are accepted and the extra ones ignored: the 5-column file gives the 4-column image."""
    rows = [(h, k, l, 10 + 3 * h - k + 2 * l) for h in range(-2, 3) for k in range(-2, 3) for l in range(-2, 3)]  # noqa: E741
    f4, f5 = tmp_path / "four.hkl", tmp_path / "five.hkl"
    f4.write_text("".join(f"{h} {k} {l} {F}\n" for h, k, l, F in rows))
    f5.write_text("".join(f"{h} {k} {l} {F} {0.1 * F:.3f}\n" for h, k, l, F in rows))
    base = ["-cell", "30", "30", "30", "90", "90", "90", "-N", "4", "-lambda", "1", "-distance", "50",
            "-pixel", "0.4", "-detpixels", "24", "-oversample", "1", "-nonoise", "-nopgm"]
    c4, t4 = images(c_binary, tmp_path, base + ["-hkl", str(f4)])
    c5, t5 = images(c_binary, tmp_path, base + ["-hkl", str(f5)])
    assert c4.max() > 0
    np.testing.assert_array_equal(c5, c4)
    np.testing.assert_array_equal(t5, t4)
    np.testing.assert_allclose(t4, c4, rtol=2e-6, atol=1e-6 * c4.max())


# --------------------------------------------------------------------------------------------- -detector_thick

def test_negative_thickness(c_binary, tmp_path):
    assert_both_fail(c_binary, tmp_path, BASE + ["-detpixels", "8", "-detector_thick", "-5"], "-detector_thick",
                     "-5")

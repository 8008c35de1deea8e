"""Output files byte for byte with upstream nanoBragg (issue 10, decisions D8): the int image's float32 rounding
(spec 9.3, corrected), the single-precision noise stream (spec 9.4, corrected), and int / PGM / SMV files of the two
engines byte-identical on the same command line. The expected figures come from tests/support/c_float_models.py, which
models the spec's formulas with numpy.float32, not from either engine's code.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from c_float_models import int_image_double_model, int_image_model, noise_image_model
from simulator import io_files

REPO = Path(__file__).resolve().parents[2]
HEADER = 512

# A smooth water background of ~9.6e10 photons/pixel: the auto int scale 55000/max puts every pixel in
# [53000, 55040], where float32 has 2^-8 spacing, so about one pixel in 500 sits on a rounding edge (20 measured).
WATER = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "20", "-N", "5", "-detpixels", "128",
         "-pixel", "0.2", "-distance", "100", "-water", "100"]
# Bragg peaks at high counts: 3834 pixels in poidev's rejection branch (12 <= mean <= 1e6), 262 below 12,
# 143 overloads with ADC 10 (the issue's -fluence 2e33 -seed 7 -adc 10 on a small detector).
BRAGG_HIGH = ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "20", "-N", "5", "-detpixels", "64",
              "-pixel", "0.4", "-distance", "100", "-fluence", "2e33", "-seed", "7", "-adc", "10"]
# The same at the default fluence (means 0..0.02: poidev's direct branch only).
BRAGG_LOW = BRAGG_HIGH[:-6] + ["-seed", "12345"]


def run_c(c_binary: Path, args: list[str], cwd: Path) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([str(c_binary), "-noprogress", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def run_py(args: list[str], cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-m", "simulator", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    return p.stdout


def smv_data(path: Path, shape: tuple[int, int]) -> np.ndarray:
    return np.frombuffer(path.read_bytes()[HEADER:], "<u2").reshape(shape)


# --------------------------------------------------------------------------------------------- the int image

def test_int_writer_rounds_in_float32_on_edges():
    """Spec 9.3 (corrected): with scale 1 and ADC -2^-11, the float K - 0.5 gives v + 0.5 = K - 2^-11 in double;
    floor gives K - 1, but float32 (spacing 2^-8 above 32768) rounds K - 2^-11 up to K first, so floorf gives K.
    K - 2^-7 is a float32 itself and stays K - 1; below 1024 (spacing 2^-14) ADC -2^-16 shows the same edge."""
    hi = np.array([[33000 - 0.5, 40000 - 0.5, 65000 - 0.5]], dtype=np.float32)
    out = io_files.int_image(hi, (0, 2, 0, 0), 1.0, -2.0 ** -11)
    np.testing.assert_array_equal(out, [[33000, 40000, 65000]])
    np.testing.assert_array_equal(out, int_image_model(hi, 1.0, -2.0 ** -11))
    np.testing.assert_array_equal(int_image_double_model(hi, 1.0, -2.0 ** -11), [[32999, 39999, 64999]])
    np.testing.assert_array_equal(io_files.int_image(hi, (0, 2, 0, 0), 1.0, -2.0 ** -7), [[32999, 39999, 64999]])
    lo = np.array([[1000 - 0.5, 600 - 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(io_files.int_image(lo, (0, 1, 0, 0), 1.0, -2.0 ** -16), [[1000, 600]])


def test_c_int_file_is_the_float32_model_of_its_float_file(c_binary, tmp_path):
    """The C's intimage.img equals the float32 model (spec 9.3) of its own floatimage.bin on the water case, where
    rounding in double would differ by 1 ADU at >= 10 pixels (20 measured)."""
    run_c(c_binary, WATER + ["-nonoise", "-nopgm"], tmp_path)
    img = np.fromfile(tmp_path / "floatimage.bin", "<f4").reshape(128, 128)
    scale = 55000.0 / float(img.max())
    c_int = smv_data(tmp_path / "intimage.img", img.shape)
    np.testing.assert_array_equal(c_int, int_image_model(img, scale, 40.0))
    assert np.count_nonzero(int_image_double_model(img, scale, 40.0) != c_int) >= 10


# --------------------------------------------------------------------------------------------- the noise stream

@pytest.mark.parametrize(("args", "seed", "adc"), [(BRAGG_HIGH, -7, 10.0), (BRAGG_LOW, -12345, 40.0)],
                         ids=["fluence-2e33-seed-7-adc-10", "default-fluence-seed-12345"])
def test_c_noise_file_is_the_single_precision_poidev_stream(c_binary, tmp_path, args, seed, adc):
    """Spec 9.4 (corrected): the C's noise image, photon count and overloads equal the single-precision model of
    poidev/gammln/gaussdev/ran1 for the seed, pixel for pixel; at high counts a double-precision gammln gives
    another stream (>= 100 pixels differ; 1879 measured), so the test tells the two apart."""
    out = run_c(c_binary, args, tmp_path)
    img = np.fromfile(tmp_path / "floatimage.bin", "<f4").reshape(64, 64)
    c_noise = smv_data(tmp_path / "noiseimage.img", img.shape)
    model, photons, overloads = noise_image_model(img, seed, adc)
    np.testing.assert_array_equal(c_noise, model)
    m = re.search(r"^(\d+) photons on noise image \((\d+) overloads\)$", out, re.M)
    assert m and (int(m.group(1)), int(m.group(2))) == (round(photons), overloads)
    if args is BRAGG_HIGH:
        assert overloads > 0 and np.count_nonzero((img >= 12) & (img <= 1e6)) > 1000
        double_model, _, _ = noise_image_model(img, seed, adc, single_gammln=False)
        assert np.count_nonzero(double_model != c_noise) >= 100


# --------------------------------------------------------------------------------------------- both engines' files

FILE_CASES = {
    "water-int-edges": WATER,
    "bragg-high-counts": BRAGG_HIGH,
    "mosaic-roi-adc": ["-cell", "70", "80", "90", "85", "95", "105", "-default_F", "30", "-N", "4",
                       "-detpixels", "64", "-pixel", "0.4", "-distance", "120", "-mosaic", "0.5",
                       "-mosaic_dom", "3", "-roi", "8", "50", "4", "60", "-adc", "25", "-scale", "3e4"],
    "xds-twotheta-thick-layers": ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "20", "-N", "5",
                                  "-detpixels", "64", "-pixel", "0.4", "-distance", "100", "-xds", "-twotheta", "10",
                                  "-detector_thick", "100", "-detector_thicksteps", "2", "-pgmscale", "40"],
    "curved-point-pixel-nopolar": ["-cell", "70", "80", "90", "90", "90", "90", "-default_F", "20", "-N", "5",
                                   "-detpixels", "64", "-pixel", "0.4", "-distance", "100", "-curved_det",
                                   "-point_pixel", "-nopolar", "-adc", "0"],
}


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_int_pgm_and_smv_files_byte_identical_between_engines(c_binary, tmp_path, name):
    """Both engines on one command line (PyTorch in float64): when the float images are bit-identical (asserted:
    the engines agree to the bit on these cases), intimage.img (header and data) and image.pgm are byte-identical
    too; the noise files share their header (their data: the C stream above, PyTorch statistical, decisions D2)."""
    args = FILE_CASES[name]
    (tmp_path / "c").mkdir()
    (tmp_path / "py").mkdir()
    seed = ["-seed", "99"] if "-seed" not in args else []
    run_c(c_binary, args + seed, tmp_path / "c")
    run_py(args + seed, tmp_path / "py")
    c_float = (tmp_path / "c" / "floatimage.bin").read_bytes()
    assert c_float == (tmp_path / "py" / "floatimage.bin").read_bytes(), "float images differ"
    for fname in ("intimage.img", "image.pgm"):
        assert (tmp_path / "c" / fname).read_bytes() == (tmp_path / "py" / fname).read_bytes(), fname
    py_noise = (tmp_path / "py" / "noiseimage.img").read_bytes()
    assert (tmp_path / "c" / "noiseimage.img").read_bytes()[:HEADER] == py_noise[:HEADER]

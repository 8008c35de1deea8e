"""The parity matrix: the C reference against the PyTorch engine, one case per AT-PARALLEL row of spec §13.3 and one
per group of command-line flags (spec §2–§10).

Every image case runs the same nanoBragg argv through both engines (`parity_util.both`) and asserts, over the pixels
above 1e-3 of the C image's maximum:
- PyTorch float64: Pearson correlation >= 0.999999 and max relative error <= 1e-5;
- PyTorch float32: correlation >= 0.9999;
- non-triviality: the C image has a positive maximum and at least `min_bright` bright pixels, and neither image has a
  NaN or an infinity (so no case can pass on two empty or broken images);
- the row's own check where it has one (peak positions, argmax, Py-vs-Py determinism, seeds).
Flag-group cases also carry a baseline argv (the same line without the flag): the flag must change the C image
(`test_flag_changes_the_c_image`), so a flag that both engines silently ignored could not pass. Rows whose check is
not an image comparison (determinism, seeds, unit equivalence, slopes, the MOSFLM/XDS offset, int/PGM/noise files)
have their own tests, with the case name as the pytest id.
A looser bound may only be set where the case documents the physics that needs it (`why`); no case needs one
today. Every argv ends with
`-phi0_carryover on`, the real nanoBragg's behaviour (decisions D3), which both engines accept. Sizes are scaled
down from the spec's 512²/1024² where the row is not about the size (2 shared cores). Input files (HKL, source file,
mask, SMV header) are written into a session temporary folder.

| Case | What it checks |
|---|---|
| AT-PARALLEL-001-beam-centre-64 / -256 | cubic 100 Å, N 3, λ 6.2, centre N/2·px; brightest pixel ≤ 2 px from it |
| AT-PARALLEL-002-pixel-0.05 / -0.4 | 256², centre 25.6 mm, N 5, pixel sizes 0.05 and 0.4 mm |
| AT-PARALLEL-003-beam-centre-offset | centre (30, 40) mm, px 0.2, 256²; brightest pixel at centre/px ± 1 px |
| AT-PARALLEL-004-mosflm / -xds | MOSFLM versus XDS convention, 256² of 0.2 mm, centre 25.6 mm, λ 1 |
| AT-PARALLEL-004-mosflm-xds-offset (own test) | the direct-beam spots differ by 0.4–0.6 px per axis, C = PyTorch |
| AT-PARALLEL-005-xbeam / -orgx / -xclose | the three ways of giving the beam centre (BEAM and SAMPLE pivots) |
| AT-PARALLEL-006-bragg-position-d50-l1 / -d200-l2 | one reflection (HKL file, default_F 0), N 1, distance/λ pairs |
| AT-PARALLEL-007-detector-rotations | 256², rot 5/3/2, 2θ 10, pivot beam; ≥ 95% of the top-25 peaks within 1 px |
| AT-PARALLEL-008-triclinic | triclinic 70 80 90 75 85 95, N 5 (256²); top-100 peaks (99th percentile) within 1 px |
| AT-PARALLEL-009-N10-F500 / -N2-F50 | scaling in N and F (N 2: the interpolation auto rule with hkls = 0) |
| AT-PARALLEL-009-scaling-slopes (own test) | log–log slopes of I_max: 6 in N, 2 in F; C/PyTorch within 10% |
| AT-PARALLEL-010-point-pixel-d50 / -tilt-30-d400 | solid angle: -point_pixel at 50 mm; 30° tilt at 400 mm |
| AT-PARALLEL-011-polar-0 / -polar-0.95 / -nopolar | Kahn factor K = 0, 0.95 and -nopolar at wide angles |
| AT-PARALLEL-012-simple-cubic-1024 | golden simple_cubic, 1024² (slow); top-50 peaks within 0.5 px |
| AT-PARALLEL-012-triclinic-P1 | golden triclinic_P1, 512², misset −89.968546 −31.328953 177.753396 |
| AT-PARALLEL-012-cubic-tilted-1024 | golden cubic_tilted, 1024², Xbeam/Ybeam 61.2, rot 5/3/2, 2θ 15 (slow) |
| AT-PARALLEL-012-high-res-roi | λ 0.5, 4096², px 0.05, distance 500, a 256² ROI at the centre (slow) |
| AT-PARALLEL-013-determinism (own test) | triclinic_P1 (256²): PyTorch twice (rtol 1e-7, atol 1e-12), and the C |
| AT-PARALLEL-014-noise-seed-123 / -456 (own test) | noise, float mean ≈ 1e3: mean, reproducibility, centroids |
| AT-PARALLEL-015-mixed-units | -energy (eV), -detsize, -close_distance, -Xclose |
| AT-PARALLEL-015-units-equivalent (own test) | -energy 12398.42 ≈ -lambda 1 within each engine |
| AT-PARALLEL-016-tiny / -large-cell / -10m-distance | extreme scales: N 1 λ 0.1 d 10 mm; 300 Å N 10 λ 6; 10 m |
| AT-PARALLEL-017-grazing | tilt 50° about x and 2θ 65°: no NaN/Inf, parity |
| AT-PARALLEL-018-aligned-axes | spindle ∥ beam, a pixel exactly on the direct beam (sincg(0), d = i), K 0.9 |
| AT-PARALLEL-020-comprehensive | triclinic+misset, mosaic 0.5°×5, φ 0–90/9, rot, 2θ, 450 µm×5, K 0.95; 32² (slow) |
| AT-PARALLEL-021-phi-1-step / -9-steps | cubic, φ 0, osc 90, phisteps 1 and 9 |
| AT-PARALLEL-022-phi-rot-2theta | 021 (9 steps) with rot 5/3/2 and 2θ 10 |
| AT-PARALLEL-023-cubic-misset / -triclinic-misset-x / -xyz | misset on both cells; top-25 peaks ≤ 0.5 px |
| AT-PARALLEL-024-misset-random-12345 / -54321 | -misset random -misset_seed |
| AT-PARALLEL-024-seeds-differ (own test) | same seed reproduces (rtol 1e-12); seeds 12345 and 54321 correlate ≤ 0.7 |
| AT-PARALLEL-025-argmax | cubic, N 1, λ 1, 64²: the argmax pixels are equal |
| AT-PARALLEL-026-triclinic-brightest | triclinic 70 80 90 85 95 105, λ 1.5, N 1, distance 150: brightest pixel ± 1 |
| AT-PARALLEL-027-hkl-no-default | six-reflection HKL file, no -default_F, λ 6.2, N 5, 64² |
| AT-PARALLEL-029-oversample-1 / -2 / -4 / -8 | cubic N 5, λ 1, d 50: oversample 1, 2, 4 (128²), 8 (64², slow) |
| flags-round-xtal / flags-gauss-xtal / flags-tophat-spots | the lattice shapes of §4.8 |
| flags-fudge-round / flags-fudge-gauss | -fudge with ROUND (2.0) and GAUSS (0.5) |
| flags-xtalsize-clip-auto-oversample | -xtalsize 0.0005 mm, y/z clipped by -beamsize 0.0003; auto oversample |
| flags-xtalsize-auto-oversample-count (own test) | both warn twice about the clip and auto-select the same N (10) |
| flags-misset-random-seed | -misset random -misset_seed 777 on a triclinic cell |
| flags-interpolate | -interpolate on a 17³ HKL grid written in tmp, N 5 |
| flags-interpolate-auto-N2 | no flag, N 2 → interpolation switched on by the auto rule |
| flags-interpolate-out-of-range | 11³ grid, ROI from the centre down: the first miss turns interpolation off |
| flags-dispersion | -dispersion 10 -dispsteps 5 |
| flags-divergence | -divergence 2 -divsteps 3 (round cut) |
| flags-divergence-hv | -hdivrange/-hdivstep and -vdivrange/-vdivsteps |
| flags-round-div / flags-square-div | 5×5 grid with and without the elliptical cut |
| flags-sourcefile | source file with a comment line, 3 sources with their own λ and ignored weights |
| flags-dmin | -dmin 25 cuts the outer part of the detector |
| flags-detector-thick | -detector_thick 200 -detector_thicksteps 4 -detector_abs 300 |
| flags-oversample-thick / -polar / -omega / -all | the running-sum oversample_* flags, oversample 2 |
| flags-point-pixel / flags-curved-det | ω = 1/R²; all pixels at |P| = distance |
| flags-mask | -mask SMV file with a zero block and a zero column: those pixels stay 0 |
| flags-img-header | -img SMV header: size, pixel, distance/close-distance gotcha, λ, beam centre |
| flags-water | -water 0.1 µm: a background of the Bragg maximum's size (it grows as W³·fluence²) |
| flags-roi | -roi strictly inside the detector |
| flags-intfile-scale-adc | -scale 5 -adc 10: SMV int images of both engines (header keys and counts) |
| flags-intfile-auto-scale | no -scale: int images scaled to 55000/max |
| flags-pgmfile-pgmscale / flags-pgmfile-auto | PGM bytes with -pgmscale, and with the automatic scale |
| flags-noise-regimes (own test) | Poisson noise per regime (< 12, 12–1e6, > 1e6) by mean and variance, not per pixel |
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from c_reference.driver import run_c
from parity_util import C_THREADS, Parity, both, c_image, c_run, describe, parity, torch_image

CARRY = ["-phi0_carryover", "on"]
CELL100 = ["-cell", "100", "100", "100", "90", "90", "90"]
CELL100_F = CELL100 + ["-default_F", "100"]
CUBIC = CELL100_F + ["-lambda", "6.2", "-distance", "100"]
TRICLINIC = ["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "100", "-N", "5", "-lambda", "1.0",
             "-distance", "100"]
TRICLINIC_P1 = TRICLINIC + ["-misset", "-89.968546", "-31.328953", "177.753396"]
ROT = ["-detector_rotx", "5", "-detector_roty", "3", "-detector_rotz", "2"]
# A 128² cubic base whose pixels see several orders (edge 2θ ≈ 14°), for the flag groups.
WIDE = CUBIC + ["-N", "5", "-pixel", "0.4", "-detpixels", "128"]


def s(*vals) -> list[str]:
    return [str(v) for v in vals]


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]                 # may contain "{data}" (the session folder of input files)
    what: str
    corr64: float = 0.999999
    rel64: float = 1e-5
    corr32: float = 0.9999
    min_bright: int = 20
    roi: tuple[int, int, int, int] | None = None      # compare only this part (x0, x1, y0, y1), inclusive
    peaks: tuple[int, float, float] | None = None      # (top_n, percentile, gate px): ≥ 95% of C peaks matched
    check: Callable[[np.ndarray, np.ndarray], None] | None = None
    slow: bool = False
    why: str = ""                   # the physics behind a looser bound, if any
    baseline: list[str] | None = None   # flag groups: the argv without the flag; the flag must change the C image


def _argmax(img: np.ndarray) -> tuple[int, int]:
    s_, f_ = np.unravel_index(int(np.argmax(img)), img.shape)
    return int(s_), int(f_)


def peak_near(slow: float, fast: float, tol: float) -> Callable[[np.ndarray, np.ndarray], None]:
    """Both engines' brightest pixels lie within `tol` px of (slow, fast)."""
    def check(c, t):
        for who, img in (("C", c), ("PyTorch", t)):
            ps, pf = _argmax(img)
            assert math.hypot(ps - slow, pf - fast) <= tol, f"{who} peak at {(ps, pf)}, expected {(slow, fast)} ± {tol}"
    return check


def same_argmax(tol: float) -> Callable[[np.ndarray, np.ndarray], None]:
    def check(c, t):
        a, b = _argmax(c), _argmax(t)
        assert math.hypot(a[0] - b[0], a[1] - b[1]) <= tol, f"argmax C {a} PyTorch {b}"
    return check


def zero_where_masked(c, t):
    m = mask_array()
    assert np.all(c[m == 0] == 0) and np.all(t[m == 0] == 0), "masked pixels must stay 0 in both images"
    assert np.count_nonzero(c[m != 0]) > 100


def zero_outside_roi(x0, x1, y0, y1):
    def check(c, t):
        inside = np.zeros(c.shape, dtype=bool)
        inside[y0:y1 + 1, x0:x1 + 1] = True
        assert np.all(c[~inside] == 0) and np.all(t[~inside] == 0), "pixels outside the ROI must stay 0"
    return check


# -- input files -----------------------------------------------------------------------------------------------------

MASK_SHAPE = (128, 128)


def mask_array() -> np.ndarray:
    m = np.ones(MASK_SHAPE, dtype=np.uint16)
    m[40:60, 70:100] = 0     # a block (slow 40..59, fast 70..99)
    m[:, 10] = 0             # a column
    m[100, :] = 0            # a row
    return m


def smv_bytes(keys: dict[str, object], data: np.ndarray) -> bytes:
    text = "{\nHEADER_BYTES=512;\n" + "".join(f"{k}={v};\n" for k, v in keys.items()) + "}\f"
    head = text.encode("ascii").ljust(512, b" ")
    return head + data.astype("<u2").tobytes()


def _write_inputs(d: Path) -> None:
    (d / "one_refl.hkl").write_text("0 1 0 100\n")
    (d / "at027.hkl").write_text("0 0 0 100\n1 0 0 50\n0 1 0 25\n1 1 0 12.5\n2 0 0 200\n0 2 0 150\n")
    rng = np.random.default_rng(20261128)
    for name, n in (("grid8.hkl", 8), ("grid5.hkl", 5)):
        lines = [f"{h} {k} {l} {rng.uniform(20, 200):.4f}"
                 for h in range(-n, n + 1) for k in range(-n, n + 1) for l in range(-n, n + 1)]
        (d / name).write_text("\n".join(lines) + "\n")
    # MOSFLM: b = +x, so the default source sits at (-10, 0, 0) m. Columns: X Y Z weight lambda(m).
    (d / "sources.txt").write_text(
        "# X Y Z weight lambda  (a comment line: our engines skip it, decisions D5)\n"
        "-10 0 0 1.0 6.2e-10\n"
        "-10 0.002 0 0.5 6.0e-10\n"
        "-10 0 -0.002 2.0 6.4e-10\n")
    (d / "mask.img").write_bytes(smv_bytes(
        {"DIM": 2, "BYTE_ORDER": "little_endian", "TYPE": "unsigned_short", "SIZE1": MASK_SHAPE[1],
         "SIZE2": MASK_SHAPE[0]}, mask_array()))
    (d / "header.img").write_bytes(smv_bytes(
        {"DIM": 2, "BYTE_ORDER": "little_endian", "TYPE": "unsigned_short", "SIZE1": 112, "SIZE2": 96,
         "PIXEL_SIZE": 0.4, "DISTANCE": 90, "CLOSE_DISTANCE": 95, "WAVELENGTH": 6.0,
         "BEAM_CENTER_X": 20.2, "BEAM_CENTER_Y": 21.0, "PHI": 0, "OSC_RANGE": 0},
        np.zeros((96, 112), dtype=np.uint16)))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("parity_matrix_inputs")
    _write_inputs(d)
    return d


def resolve(args: list[str], data: Path) -> list[str]:
    return [a.replace("{data}", str(data)) for a in args] + CARRY


# -- the cases -------------------------------------------------------------------------------------------------------

PHI90 = ["-phi", "0", "-osc", "90"]
C021 = CUBIC + ["-N", "5", "-pixel", "0.1", "-detpixels", "256"]
C029 = CELL100_F + ["-N", "5", "-lambda", "1", "-distance", "50", "-pixel", "0.4"]

CASES: list[Case] = [
    # ---- AT-PARALLEL rows (spec §13.3) ----
    Case("AT-PARALLEL-001-beam-centre-64", CUBIC + s("-N", 3, "-pixel", 0.1, "-detpixels", 64, "-Xbeam", 3.2,
         "-Ybeam", 3.2), "64², centre 3.2 mm", check=peak_near(32, 32, 2)),
    Case("AT-PARALLEL-001-beam-centre-256", CUBIC + s("-N", 3, "-pixel", 0.1, "-detpixels", 256, "-Xbeam", 12.8,
         "-Ybeam", 12.8), "256², centre 12.8 mm", check=peak_near(128, 128, 2)),
    Case("AT-PARALLEL-002-pixel-0.05", CUBIC + s("-N", 5, "-pixel", 0.05, "-detpixels", 256, "-Xbeam", 25.6,
         "-Ybeam", 25.6), "px 0.05 (centre off the detector: the row's wide-angle side)", min_bright=20),
    Case("AT-PARALLEL-002-pixel-0.4", CUBIC + s("-N", 5, "-pixel", 0.4, "-detpixels", 256, "-Xbeam", 25.6,
         "-Ybeam", 25.6), "px 0.4, centre at 64 px", check=peak_near(64, 64, 1)),
    Case("AT-PARALLEL-003-beam-centre-offset", CUBIC + s("-N", 5, "-pixel", 0.2, "-detpixels", 256, "-Xbeam", 30,
         "-Ybeam", 40), "centre (30, 40) mm", check=peak_near(150, 200, 1)),
    Case("AT-PARALLEL-004-mosflm", CELL100_F + s("-N", 5, "-lambda", 1, "-distance", 100, "-pixel", 0.2,
         "-detpixels", 256, "-Xbeam", 25.6, "-Ybeam", 25.6, "-mosflm"), "MOSFLM, +0.5 px"),
    Case("AT-PARALLEL-004-xds", CELL100_F + s("-N", 5, "-lambda", 1, "-distance", 100, "-pixel", 0.2,
         "-detpixels", 256, "-Xbeam", 25.6, "-Ybeam", 25.6, "-xds"), "XDS"),
    Case("AT-PARALLEL-005-xbeam", WIDE + s("-Xbeam", 24, "-Ybeam", 27), "-Xbeam/-Ybeam (BEAM pivot)"),
    Case("AT-PARALLEL-005-orgx", WIDE + s("-xds", "-ORGX", 60, "-ORGY", 67.5), "-ORGX/-ORGY (SAMPLE pivot)"),
    Case("AT-PARALLEL-005-xclose", WIDE + s("-Xclose", 24, "-Yclose", 27, "-close_distance", 100),
         "-Xclose/-Yclose with -close_distance"),
    Case("AT-PARALLEL-006-bragg-position-d50-l1", s("-cell", 100, 100, 100, 90, 90, 90, "-hkl", "{data}/one_refl.hkl",
         "-default_F", 0, "-N", 1, "-lambda", 1.0, "-distance", 50, "-pixel", 0.05, "-detpixels", 128),
         "one reflection (010), N 1, d 50, λ 1"),
    Case("AT-PARALLEL-006-bragg-position-d200-l2", s("-cell", 100, 100, 100, 90, 90, 90, "-hkl",
         "{data}/one_refl.hkl", "-default_F", 0, "-N", 1, "-lambda", 2.0, "-distance", 200, "-pixel", 0.1,
         "-detpixels", 128), "one reflection (010), N 1, d 200, λ 2"),
    Case("AT-PARALLEL-007-detector-rotations", CUBIC + s("-N", 5, "-pixel", 0.1, "-detpixels", 256) + ROT
         + s("-twotheta", 10, "-pivot", "beam"), "rot 5/3/2, 2θ 10, pivot beam", peaks=(25, 99.5, 1.0)),
    Case("AT-PARALLEL-008-triclinic", TRICLINIC + s("-pixel", 0.2, "-detpixels", 256),
         "triclinic, N 5", peaks=(100, 99.0, 1.0)),
    Case("AT-PARALLEL-009-N10-F500", CELL100 + s("-default_F", 500, "-N", 10, "-lambda", 6.2, "-distance", 100,
         "-pixel", 0.1, "-detpixels", 128), "N 10, F 500"),
    Case("AT-PARALLEL-009-N2-F50", CELL100 + s("-default_F", 50, "-N", 2, "-lambda", 6.2, "-distance", 100,
         "-pixel", 0.1, "-detpixels", 128), "N 2, F 50"),
    Case("AT-PARALLEL-010-point-pixel-d50", WIDE + s("-distance", 50, "-point_pixel"), "ω = 1/R² at 50 mm"),
    Case("AT-PARALLEL-010-tilt-30-d400", CELL100_F + s("-N", 5, "-lambda", 6.2, "-distance", 400, "-pixel", 0.8,
         "-detpixels", 128, "-detector_rotx", 30), "obliquity, 30° tilt, 400 mm"),
    Case("AT-PARALLEL-011-polar-0", C029 + s("-detpixels", 128, "-polar", 0), "K = 0"),
    Case("AT-PARALLEL-011-polar-0.95", C029 + s("-detpixels", 128, "-polar", 0.95), "K = 0.95"),
    Case("AT-PARALLEL-011-nopolar", C029 + s("-detpixels", 128, "-nopolar"), "-nopolar"),
    Case("AT-PARALLEL-012-simple-cubic-1024", CUBIC + s("-N", 5, "-pixel", 0.1, "-detpixels", 1024),
         "golden simple_cubic", peaks=(50, 99.5, 0.5), slow=True),
    Case("AT-PARALLEL-012-triclinic-P1", TRICLINIC_P1 + s("-pixel", 0.1, "-detpixels", 512),
         "golden triclinic_P1", peaks=(50, 99.5, 0.5), slow=True),
    Case("AT-PARALLEL-012-cubic-tilted-1024", CUBIC + s("-N", 5, "-pixel", 0.1, "-detpixels", 1024, "-Xbeam", 61.2,
         "-Ybeam", 61.2) + ROT + s("-twotheta", 15), "golden cubic_tilted", peaks=(50, 99.5, 1.0), slow=True),
    Case("AT-PARALLEL-012-high-res-roi", CELL100_F + s("-N", 5, "-lambda", 0.5, "-distance", 500, "-pixel", 0.05,
         "-detpixels", 4096, "-roi", 1920, 2175, 1920, 2175), "high-res 4096², 256² ROI",
         roi=(1920, 2175, 1920, 2175), slow=True),
    Case("AT-PARALLEL-015-mixed-units", CELL100_F + s("-N", 5, "-energy", 12398.42, "-detsize", 25.6, "-pixel", 0.1,
         "-close_distance", 80, "-Xclose", 12.8, "-Yclose", 12.8, "-detector_roty", 4), "eV, detsize, close"),
    Case("AT-PARALLEL-016-tiny", s("-cell", 100, 100, 100, 90, 90, 90, "-default_F", 100, "-N", 1, "-lambda", 0.1,
         "-distance", 10, "-pixel", 0.05, "-detpixels", 128), "N 1, λ 0.1, 10 mm (a smooth image: no peaks to match)"),
    Case("AT-PARALLEL-016-large-cell", s("-cell", 300, 300, 300, 90, 90, 90, "-default_F", 100, "-N", 10, "-lambda", 6,
         "-distance", 100, "-pixel", 0.1, "-detpixels", 256), "300 Å, N 10, λ 6 (256² of the row's 1024²)",
         peaks=(25, 99.5, 2.0)),
    Case("AT-PARALLEL-016-10m-distance", CELL100_F + s("-N", 5, "-lambda", 6.2, "-distance", 10000, "-pixel", 0.2,
         "-detpixels", 256), "10 m (only the (000) blob: no peaks to match)"),
    Case("AT-PARALLEL-017-grazing", CUBIC + s("-N", 5, "-pixel", 0.2, "-detpixels", 128, "-detector_rotx", 50,
         "-twotheta", 65), "tilt 50°, 2θ 65°"),
    Case("AT-PARALLEL-018-aligned-axes", CUBIC + s("-N", 5, "-pixel", 0.1, "-detpixels", 129, "-Xbeam", 6.45,
         "-Ybeam", 6.4, "-spindle_axis", 1, 0, 0, "-phi", 0, "-osc", 30, "-phisteps", 3, "-polar", 0.9),
         "spindle ∥ beam, pixel on the direct beam"),
    Case("AT-PARALLEL-020-comprehensive", TRICLINIC + s("-misset", 15, 25, 35, "-mosaic", 0.5, "-mosaic_dom", 5,
         "-mosaic_seed", 12345, "-phi", 0, "-osc", 90, "-phisteps", 9) + ROT
         + s("-twotheta", 10, "-detector_abs", 500, "-detector_thick", 450, "-detector_thicksteps", 5, "-polar", 0.95,
             "-pixel", 1.6, "-detpixels", 32), "everything at once (32² of 1.6 mm: the 512²'s field)",
         peaks=(50, 99.5, 1.0), slow=True),
    Case("AT-PARALLEL-021-phi-1-step", C021 + PHI90 + s("-phisteps", 1), "φ 0, osc 90, 1 step"),
    Case("AT-PARALLEL-021-phi-9-steps", C021 + PHI90 + s("-phistep", 10), "φ 0, osc 90, phistep 10 (9 steps)"),
    Case("AT-PARALLEL-022-phi-rot-2theta", C021 + PHI90 + s("-phistep", 10) + ROT + s("-twotheta", 10),
         "021 + rot 5/3/2 + 2θ 10", peaks=(25, 99.5, 1.0)),
    Case("AT-PARALLEL-023-cubic-misset", CUBIC + s("-N", 5, "-pixel", 0.4, "-detpixels", 128, "-misset", 15, 20.5,
         30.25), "cubic, misset (15, 20.5, 30.25)", peaks=(25, 99.5, 0.5)),
    Case("AT-PARALLEL-023-triclinic-misset-x", TRICLINIC + s("-pixel", 0.4, "-detpixels", 128, "-misset", 10.5, 0, 0),
         "triclinic, misset (10.5, 0, 0)", peaks=(25, 99.5, 0.5)),
    Case("AT-PARALLEL-023-triclinic-misset-xyz", TRICLINIC + s("-pixel", 0.4, "-detpixels", 128, "-misset", 0, 10.25,
         9.75), "triclinic, misset (0, 10.25, 9.75)", peaks=(25, 99.5, 0.5)),
    Case("AT-PARALLEL-024-misset-random-12345", CELL100_F + s("-N", 5, "-lambda", 1, "-distance", 100, "-pixel", 0.4,
         "-detpixels", 128, "-misset", "random", "-misset_seed", 12345), "random misset, seed 12345"),
    Case("AT-PARALLEL-024-misset-random-54321", CELL100_F + s("-N", 5, "-lambda", 1, "-distance", 100, "-pixel", 0.4,
         "-detpixels", 128, "-misset", "random", "-misset_seed", 54321), "random misset, seed 54321"),
    Case("AT-PARALLEL-025-argmax", CELL100_F + s("-N", 1, "-lambda", 1, "-distance", 100, "-pixel", 0.1,
         "-detpixels", 64), "cubic N 1 λ 1, 64²", check=same_argmax(0.5)),
    Case("AT-PARALLEL-026-triclinic-brightest", s("-cell", 70, 80, 90, 85, 95, 105, "-default_F", 100, "-N", 1,
         "-lambda", 1.5, "-distance", 150, "-pixel", 0.1, "-detpixels", 256), "triclinic N 1, λ 1.5, d 150",
         check=same_argmax(1.0)),
    Case("AT-PARALLEL-027-hkl-no-default", s("-cell", 100, 100, 100, 90, 90, 90, "-hkl", "{data}/at027.hkl",
         "-N", 5, "-lambda", 6.2, "-distance", 100, "-pixel", 0.4, "-detpixels", 64), "six reflections, no default_F",
         min_bright=10),
    Case("AT-PARALLEL-029-oversample-1", C029 + s("-detpixels", 128, "-oversample", 1), "oversample 1"),
    Case("AT-PARALLEL-029-oversample-2", C029 + s("-detpixels", 128, "-oversample", 2), "oversample 2"),
    Case("AT-PARALLEL-029-oversample-4", C029 + s("-detpixels", 128, "-oversample", 4), "oversample 4"),
    Case("AT-PARALLEL-029-oversample-8", C029 + s("-detpixels", 64, "-pixel", 0.8, "-oversample", 8),
         "oversample 8 (64²)", slow=True),
    # ---- flag groups (spec §2–§10) ----
    Case("flags-round-xtal", WIDE + ["-round_xtal"], "ROUND shape", baseline=WIDE),
    Case("flags-gauss-xtal", WIDE + ["-gauss_xtal"], "GAUSS shape", baseline=WIDE),
    Case("flags-tophat-spots", WIDE + ["-tophat_spots"], "TOPHAT shape", baseline=WIDE),
    Case("flags-fudge-round", WIDE + s("-round_xtal", "-fudge", 2.0), "ROUND with fudge 2",
         baseline=WIDE + ["-round_xtal"]),
    Case("flags-fudge-gauss", WIDE + s("-gauss_xtal", "-fudge", 0.5), "GAUSS with fudge 0.5",
         baseline=WIDE + ["-gauss_xtal"]),
    Case("flags-xtalsize-clip-auto-oversample", CUBIC + s("-pixel", 0.4, "-detpixels", 96, "-xtalsize", 0.0005,
         "-beamsize", 0.0003), "crystal size, beam clipping, auto oversample",
         baseline=CUBIC + s("-N", 5, "-pixel", 0.4, "-detpixels", 96)),
    Case("flags-misset-random-seed", TRICLINIC + s("-pixel", 0.4, "-detpixels", 128, "-misset", "random",
         "-misset_seed", 777), "random misset on a triclinic cell",
         baseline=TRICLINIC + s("-pixel", 0.4, "-detpixels", 128)),
    Case("flags-interpolate", CELL100 + s("-hkl", "{data}/grid8.hkl", "-N", 5, "-lambda", 6.2, "-distance", 100,
         "-pixel", 0.4, "-detpixels", 128, "-interpolate"), "tricubic interpolation",
         baseline=CELL100 + s("-hkl", "{data}/grid8.hkl", "-N", 5, "-lambda", 6.2, "-distance", 100, "-pixel", 0.4,
                              "-detpixels", 128, "-nointerpolate")),
    Case("flags-interpolate-auto-N2", CELL100 + s("-hkl", "{data}/grid8.hkl", "-N", 2, "-lambda", 6.2,
         "-distance", 100, "-pixel", 0.4, "-detpixels", 128), "auto rule: N ≤ 2 → on",
         baseline=CELL100 + s("-hkl", "{data}/grid8.hkl", "-N", 2, "-lambda", 6.2, "-distance", 100, "-pixel", 0.4,
                              "-detpixels", 128, "-nointerpolate")),
    Case("flags-interpolate-out-of-range", CELL100 + s("-hkl", "{data}/grid5.hkl", "-N", 5, "-lambda", 6.2,
         "-distance", 100, "-pixel", 0.4, "-detpixels", 128, "-interpolate", "-roi", 48, 80, 56, 127),
         "ROI rows near the centre interpolate; the first miss (|h| > 3, lower rows) turns it off for good",
         baseline=CELL100 + s("-hkl", "{data}/grid5.hkl", "-N", 5, "-lambda", 6.2, "-distance", 100, "-pixel", 0.4,
                              "-detpixels", 128, "-nointerpolate", "-roi", 48, 80, 56, 127)),
    Case("flags-dispersion", WIDE + s("-dispersion", 10, "-dispsteps", 5), "5 wavelengths over 10%", baseline=WIDE),
    Case("flags-divergence", WIDE + s("-divergence", 2, "-divsteps", 3), "divergence 2 mrad, 3×3 (round cut)",
         baseline=WIDE),
    Case("flags-divergence-hv", WIDE + s("-hdivrange", 2, "-hdivstep", 0.5, "-vdivrange", 1, "-vdivsteps", 3),
         "h range/step, v range/steps",
         baseline=WIDE),
    Case("flags-round-div", WIDE + s("-divergence", 3, "-divsteps", 5, "-round_div"), "5×5 with the cut",
         baseline=WIDE + s("-divergence", 3, "-divsteps", 5, "-square_div")),
    Case("flags-square-div", WIDE + s("-divergence", 3, "-divsteps", 5, "-square_div"), "5×5 without the cut",
         baseline=WIDE),
    Case("flags-sourcefile", WIDE + s("-sourcefile", "{data}/sources.txt"), "3 sources, own λ, comment line",
         baseline=WIDE),
    Case("flags-dmin", WIDE + s("-dmin", 25), "dmin 25 Å", baseline=WIDE),
    Case("flags-detector-thick", WIDE + s("-detector_thick", 200, "-detector_thicksteps", 4, "-detector_abs", 300),
         "4 layers, 200 µm, μ = 1/300 µm",
         baseline=WIDE),
    Case("flags-oversample-thick", WIDE + s("-oversample", 2, "-detector_thick", 100, "-detector_thicksteps", 3,
         "-oversample_thick"), "capture per sub-pixel (running sum)",
         baseline=WIDE + s("-oversample", 2, "-detector_thick", 100, "-detector_thicksteps", 3)),
    Case("flags-oversample-polar", WIDE + s("-oversample", 2, "-polar", 0.9, "-oversample_polar"),
         "polarisation per sub-pixel", baseline=WIDE + s("-oversample", 2, "-polar", 0.9)),
    Case("flags-oversample-omega", WIDE + s("-oversample", 2, "-oversample_omega"), "ω per sub-pixel",
         baseline=WIDE + s("-oversample", 2)),
    Case("flags-oversample-all", WIDE + s("-oversample", 2, "-detector_thick", 100, "-detector_thicksteps", 2,
         "-polar", 0.9, "-oversample_thick", "-oversample_polar", "-oversample_omega"), "all three",
         baseline=WIDE + s("-oversample", 2, "-detector_thick", 100, "-detector_thicksteps", 2, "-polar", 0.9)),
    Case("flags-point-pixel", WIDE + ["-point_pixel"], "ω = 1/R²", baseline=WIDE),
    Case("flags-curved-det", WIDE + s("-curved_det", "-detector_rotz", 3), "curved detector",
         baseline=WIDE + s("-detector_rotz", 3)),
    Case("flags-mask", WIDE + s("-mask", "{data}/mask.img"), "mask with zeros", baseline=WIDE, check=zero_where_masked),
    Case("flags-img-header", CELL100_F + s("-N", 5, "-img", "{data}/header.img"), "SMV header keys"),
    Case("flags-water", WIDE + s("-water", 0.1), "water background (≈ the Bragg maximum)", baseline=WIDE),
    Case("flags-roi", WIDE + s("-roi", 20, 90, 30, 100), "ROI inside the detector",
         check=zero_outside_roi(20, 90, 30, 100)),
]

CASE_BY_NAME = {c.name: c for c in CASES}


def _params():
    out = []
    for c in CASES:
        marks = [pytest.mark.slow] if c.slow else []
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


def _non_trivial(case: Case, c: np.ndarray, t: np.ndarray, p: Parity) -> None:
    assert np.isfinite(c).all(), f"{case.name}: the C image has NaN/Inf"
    assert np.isfinite(t).all(), f"{case.name}: the PyTorch image has NaN/Inf"
    assert c.max() > 0, f"{case.name}: the C image is empty"
    assert p.n_bright >= case.min_bright, f"{case.name}: only {p.n_bright} bright pixels (< {case.min_bright})"


@pytest.mark.parametrize("case", _params())
def test_matrix_float64(c_binary, data_dir, case: Case):
    args = resolve(case.args, data_dir)
    c, t = both(c_binary, args, "float64", roi=case.roi)
    top_n, pct, gate = case.peaks if case.peaks else (25, 99.5, 1.0)
    p = parity(c, t, top_n=top_n, percentile=pct, gate=gate)
    _non_trivial(case, c, t, p)
    assert p.corr >= case.corr64, f"{case.name}: {describe(p)}"
    assert p.max_rel <= case.rel64, f"{case.name}: {describe(p)}"
    if case.peaks:
        assert p.n_peaks >= 1 and p.peaks_matched >= 0.95, f"{case.name}: {describe(p)}"
    if case.check:
        case.check(c, t)


@pytest.mark.parametrize("case", _params())
def test_matrix_float32(c_binary, data_dir, case: Case):
    args = resolve(case.args, data_dir)
    c, t = both(c_binary, args, "float32", roi=case.roi)
    p = parity(c, t)
    _non_trivial(case, c, t, p)
    assert p.corr >= case.corr32, f"{case.name}: {describe(p)}"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES if c.baseline is not None])
def test_flag_changes_the_c_image(c_binary, data_dir, case: Case):
    """A flag group's case must differ from the same argv without the flag, or it would test nothing."""
    a = c_image(c_binary, resolve(case.args, data_dir))
    b = c_image(c_binary, resolve(case.baseline, data_dir))
    if a.shape == b.shape:
        diff = float(np.abs(a.astype(np.float64) - b).max())
        assert diff > 1e-3 * max(float(a.max()), float(b.max())), f"{case.name}: the flag does not change the image"


# -- rows with their own procedure -----------------------------------------------------------------------------------

def _spot_centre(img: np.ndarray, near: tuple[int, int], search: int = 3) -> np.ndarray:
    """(slow, fast) centroid of the brightest spot within `search` px of `near`: the pixels ≥ half its maximum in
    the 3×3 around it (a direct-beam spot sampled symmetrically about its centre gives the centre exactly)."""
    s0, f0 = near
    win = img[s0 - search:s0 + search + 1, f0 - search:f0 + search + 1]
    ps, pf = np.unravel_index(int(np.argmax(win)), win.shape)
    ps, pf = ps + s0 - search, pf + f0 - search
    w = img[ps - 1:ps + 2, pf - 1:pf + 2].astype(np.float64)
    w = np.where(w >= 0.5 * w.max(), w, 0.0)
    ss, ff = np.mgrid[ps - 1:ps + 2, pf - 1:pf + 2]
    return np.array([(w * ss).sum(), (w * ff).sum()]) / w.sum()


@pytest.mark.parametrize("name", ["AT-PARALLEL-004-mosflm-xds-offset"])
def test_at_parallel_004_offset(c_binary, data_dir, name):
    """AT-PARALLEL-004: the same -Xbeam/-Ybeam put the MOSFLM direct beam half a pixel from the XDS one
    (the MOSFLM +0.5 px, spec §3.5), in both engines, and the engines put each spot at the same place."""
    centres = {}
    for conv in ("mosflm", "xds"):
        args = resolve(CASE_BY_NAME[f"AT-PARALLEL-004-{conv}"].args, data_dir)
        c, t = c_image(c_binary, args), torch_image(args, "float64")
        cc, ct = _spot_centre(c, (128, 128)), _spot_centre(t, (128, 128))
        assert np.allclose(cc, ct, atol=0.01), f"{conv}: C spot at {cc}, PyTorch at {ct}"
        centres[conv] = cc
    d = np.abs(centres["mosflm"] - centres["xds"])
    assert np.all((d >= 0.4) & (d <= 0.6)), f"MOSFLM {centres['mosflm']} vs XDS {centres['xds']}: |Δ| = {d}"


@pytest.mark.parametrize("name", ["AT-PARALLEL-009-scaling-slopes"])
def test_at_parallel_009_slopes(c_binary, data_dir, name):
    """AT-PARALLEL-009: I_max (21×21 window at the centre, 64²) grows as N^6 (slope 6 ± 0.3, R² ≥ 0.99) and as F²
    (slope 2 ± 0.05) in both engines, and C and PyTorch I_max agree within 10% (they must agree far better)."""
    def imax(args):
        c, t = c_image(c_binary, args), torch_image(args, "float64")
        return float(c[22:43, 22:43].max()), float(t[22:43, 22:43].max())

    def base(n, f):
        return resolve(CELL100 + s("-default_F", f, "-N", n, "-lambda", 6.2, "-distance", 100, "-pixel", 0.1,
                                   "-detpixels", 64), data_dir)

    for var, values, slope, tol in (("N", [1, 2, 3, 5, 10], 6.0, 0.3), ("F", [50, 100, 200, 500], 2.0, 0.05)):
        pairs = [imax(base(v, 100) if var == "N" else base(5, v)) for v in values]
        for (ic, it), v in zip(pairs, values, strict=True):
            assert ic > 0 and abs(it / ic - 1) <= 0.1, f"{var}={v}: C {ic} PyTorch {it}"
        x = np.log(np.asarray(values, dtype=np.float64))
        for who, k in (("C", 0), ("PyTorch", 1)):
            y = np.log([p[k] for p in pairs])
            fit = np.polyfit(x, y, 1)
            r2 = 1 - np.sum((y - np.polyval(fit, x)) ** 2) / np.sum((y - y.mean()) ** 2)
            assert abs(fit[0] - slope) <= tol and r2 >= 0.99, f"{who} slope in {var} {fit[0]:.3f} (R² {r2:.4f})"


@pytest.mark.parametrize("name", ["flags-xtalsize-auto-oversample-count"])
def test_xtalsize_auto_oversample(c_binary, data_dir, name):
    """-xtalsize clipped by -beamsize, no -oversample: both engines warn about the clipping and auto-select the same
    oversampling (spec §4.5-4.6)."""
    from simulator.argv import parse_argv
    from simulator.engine import render

    args = resolve(CASE_BY_NAME["flags-xtalsize-clip-auto-oversample"].args, data_dir)
    c_log = c_run(c_binary, args).log
    t = render(parse_argv(args).config, dtype="float64")
    pick = re.compile(r"auto-selected (\d+)-fold oversampling")
    mc, mt = pick.findall(c_log), pick.findall(t.log)
    assert mc and mt and mc[-1] == mt[-1] == str(t.meta["oversample"]), f"C {mc}, PyTorch {mt}"
    assert int(mc[-1]) > 1
    for log in (c_log, t.log):
        assert len(re.findall(r"WARNING: clipping sample", log)) == 2, log

@pytest.mark.parametrize("name", ["AT-PARALLEL-013-determinism"])
def test_at_parallel_013_determinism(c_binary, data_dir, name):
    """AT-PARALLEL-013: PyTorch float64 on CPU twice gives the same image; both agree with the C."""
    args = resolve(TRICLINIC_P1 + s("-pixel", 0.2, "-detpixels", 256), data_dir)
    t1 = torch_image(args, "float64")
    t2 = torch_image(args, "float64")
    np.testing.assert_allclose(t2, t1, rtol=1e-7, atol=1e-12)
    c = c_image(c_binary, args)
    p = parity(c, t1)
    assert c.max() > 0 and p.n_bright >= 20
    assert p.corr >= 0.999999 and p.max_rel <= 1e-5, describe(p)


@pytest.mark.parametrize("name", ["AT-PARALLEL-024-seeds-differ"])
def test_at_parallel_024_seeds_differ(c_binary, data_dir, name):
    """AT-PARALLEL-024: the same -misset_seed reproduces; different seeds give different patterns (corr ≤ 0.7)."""
    a = resolve(CASE_BY_NAME["AT-PARALLEL-024-misset-random-12345"].args, data_dir)
    b = resolve(CASE_BY_NAME["AT-PARALLEL-024-misset-random-54321"].args, data_dir)
    ca, cb = c_image(c_binary, a), c_image(c_binary, b)
    assert ca.max() > 0 and cb.max() > 0
    ta, ta2, tb = torch_image(a, "float64"), torch_image(a, "float64"), torch_image(b, "float64")
    np.testing.assert_allclose(ta2, ta, rtol=1e-12, atol=1e-15)
    assert parity(ca, cb).corr <= 0.7
    assert parity(ta, tb).corr <= 0.7


@pytest.mark.parametrize("name", ["AT-PARALLEL-015-units-equivalent"])
def test_at_parallel_015_units_equivalent(c_binary, data_dir, name):
    """AT-PARALLEL-015: -energy 12398.42 eV is λ 1 Å: the C's two images agree, and so do the PyTorch ones."""
    args_e = resolve(CASE_BY_NAME["AT-PARALLEL-015-mixed-units"].args, data_dir)
    i = args_e.index("-energy")
    args_l = args_e[:i] + ["-lambda", "1.0"] + args_e[i + 2:]
    ce, cl = c_image(c_binary, args_e), c_image(c_binary, args_l)
    assert cl.max() > 0
    assert parity(cl, ce).corr >= 0.9999
    assert parity(torch_image(args_l, "float64"), torch_image(args_e, "float64")).corr >= 0.9999


# -- int, PGM and noise images ---------------------------------------------------------------------------------------

def read_smv(data: bytes) -> tuple[dict[str, str], np.ndarray]:
    m = re.search(rb"HEADER_BYTES=\s*(\d+)", data[:512])
    assert data.startswith(b"{\nHEADER_BYTES") and m, "not an SMV file"
    hb = int(m.group(1))
    head = data[:hb].decode("ascii", "replace")
    keys: dict[str, str] = {}
    for k, v in re.findall(r"([A-Z0-9_]+)=([^;\n]*)", head):
        keys[k] = v.strip()
    order = "<" if keys.get("BYTE_ORDER", "little_endian") == "little_endian" else ">"
    nf, ns = int(keys["SIZE1"]), int(keys["SIZE2"])
    img = np.frombuffer(data[hb:hb + 2 * nf * ns], dtype=f"{order}u2").reshape(ns, nf)
    return keys, img


def _numeric_equal(a: str, b: str) -> bool:
    try:
        fa = [float(x) for x in a.split(",")]
        fb = [float(x) for x in b.split(",")]
    except ValueError:
        return a == b
    return len(fa) == len(fb) and all(
        math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(fa, fb, strict=True))


def torch_files(args: list[str], workdir: Path, monkeypatch) -> dict[str, bytes]:
    """Run the PyTorch engine's nanoBragg-style CLI in `workdir`; return the files it wrote (name -> bytes)."""
    from simulator.cli import main

    workdir.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(workdir)
    rc = main(list(args))
    assert rc == 0, f"python -m simulator exited {rc}"
    return {p.name: p.read_bytes() for p in workdir.iterdir() if p.is_file()}


def c_files(c_binary, args: list[str], workdir: Path):
    """Run the C reference as if started in `workdir` (its output flags resolve there, as nanoBragg's would);
    return (the run, the files it wrote there: name -> bytes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    res = run_c(args, binary=c_binary, threads=C_THREADS, cwd=workdir)
    return res, {p.name: p.read_bytes() for p in workdir.iterdir() if p.is_file()}


def compare_int_images(c_bytes: bytes, t_bytes: bytes, adc: float) -> None:
    kc, ic = read_smv(c_bytes)
    kt, it = read_smv(t_bytes)
    assert list(kc) == list(kt), f"header keys differ:\nC  {list(kc)}\nPy {list(kt)}"
    bad = {k: (kc[k], kt[k]) for k in kc if not _numeric_equal(kc[k], kt[k])}
    assert not bad, f"header values differ: {bad}"
    assert ic.shape == it.shape
    assert int(ic.max()) > adc + 1000, "the int image is (nearly) empty: the case tests nothing"
    d = np.abs(ic.astype(np.int64) - it.astype(np.int64))
    assert d.max() <= 1, f"int images differ by up to {d.max()} counts"
    assert np.count_nonzero(d) <= max(1, d.size // 1000), f"{np.count_nonzero(d)} pixels differ by one count"


INT_ARGS = WIDE + s("-nonoise", "-nopgm")


@pytest.mark.parametrize("extra,adc", [pytest.param(s("-scale", 5, "-adc", 10), 10, id="flags-intfile-scale-adc"),
                                       pytest.param([], 40, id="flags-intfile-auto-scale")])
def test_intfile(c_binary, data_dir, tmp_path, monkeypatch, extra, adc):
    args = resolve(INT_ARGS + extra + ["-intfile", "int.img"], data_dir)
    _, cf = c_files(c_binary, args, tmp_path / "c")
    tf = torch_files(args, tmp_path / "torch", monkeypatch)
    compare_int_images(cf["int.img"], tf["int.img"], adc)


def read_pgm(data: bytes) -> tuple[list[bytes], np.ndarray]:
    lines = data.split(b"\n", 4)
    assert lines[0] == b"P5", "not a P5 PGM"
    w, h = (int(v) for v in lines[1].split())
    body = lines[4]
    assert len(body) == w * h
    return lines[:4], np.frombuffer(body, dtype=np.uint8).reshape(h, w)


@pytest.mark.parametrize("extra", [pytest.param(s("-pgmscale", 2.5), id="flags-pgmfile-pgmscale"),
                                   pytest.param([], id="flags-pgmfile-auto")])
def test_pgmfile(c_binary, data_dir, tmp_path, monkeypatch, extra):
    args = resolve(WIDE + s("-nonoise", "-pgmfile", "img.pgm") + extra, data_dir)
    _, cf = c_files(c_binary, args, tmp_path / "c")
    tf = torch_files(args, tmp_path / "torch", monkeypatch)
    hc, pc = read_pgm(cf["img.pgm"])
    ht, pt = read_pgm(tf["img.pgm"])
    assert hc[:2] == ht[:2] and hc[3] == ht[3] == b"255"
    sc = float(hc[2].split()[-1])
    st = float(ht[2].split()[-1])
    assert math.isclose(sc, st, rel_tol=1e-5), f"pgm scale C {sc} PyTorch {st}"
    if extra:
        assert hc == ht
    assert np.count_nonzero(pc) > 100 and pc.max() > 50, "the PGM is (nearly) black: the case tests nothing"
    d = np.abs(pc.astype(int) - pt.astype(int))
    # Truncation to a byte: a float32 hair either side of an integer flips a pixel by one.
    assert d.max() <= 1 and np.count_nonzero(d) <= max(1, d.size // 1000), f"{np.count_nonzero(d)} bytes differ"
    if extra:
        assert np.array_equal(pc, pt) or np.count_nonzero(d) <= 2


# Poisson noise: only the C is bit-exact (decisions D2), so each engine's noise image is tested against its own
# float image, per poidev regime, by mean and variance of the standardised residual z = (n − λ)/√λ.
NOISE_ARGS = WIDE + s("-fluence", 1.25e32, "-nopgm", "-noisefile", "noise.img", "-adc", 0)
CLIP = 65535


def _noise_stats(float_img: np.ndarray, noise: np.ndarray, who: str) -> dict[str, int]:
    lam = float_img.astype(np.float64).ravel()
    n = noise.astype(np.float64).ravel()
    counts = {}
    for lo, hi, label in ((0.0, 12.0, "<12"), (12.0, 3e4, "12-3e4")):
        sel = (lam > 0) & (lam >= lo) & (lam < hi)
        k = int(sel.sum())
        counts[label] = k
        if k < 200:
            continue
        z = (n[sel] - lam[sel]) / np.sqrt(lam[sel])
        # mean of z: 0 ± 6/√k ; variance: 1 ± 6·√(2/k) (+ a little for the <12 regime's skew)
        assert abs(z.mean()) <= 6 / math.sqrt(k), f"{who} {label}: mean z {z.mean():.4f} over {k} pixels"
        assert abs(z.var() - 1) <= 6 * math.sqrt(2 / k) + 0.02, f"{who} {label}: var z {z.var():.4f} over {k}"
        # the regime's total counts
        assert abs(n[sel].sum() - lam[sel].sum()) <= 6 * math.sqrt(lam[sel].sum()), f"{who} {label}: sum"
    big = lam > 1e6
    counts[">1e6"] = int(big.sum())
    assert np.all(n[big] == CLIP), f"{who}: pixels above 1e6 photons must overload to {CLIP}"
    mid = (lam >= 3e4) & (lam <= 1e6)
    if mid.any():
        lo = np.minimum(CLIP, np.maximum(0, lam[mid] - 8 * np.sqrt(lam[mid])))
        hi = np.minimum(CLIP, lam[mid] + 8 * np.sqrt(lam[mid]))
        assert np.all((n[mid] >= np.floor(lo)) & (n[mid] <= np.ceil(hi))), f"{who}: 3e4..1e6 outside ±8σ"
    return counts


def _overloads(log: str) -> int:
    m = re.findall(r"photons on noise image \((\d+) overloads\)", log)
    assert m, "no overload count in the log"
    return int(m[-1])


@pytest.mark.parametrize("name", ["flags-noise-regimes"])
def test_noise_regimes(c_binary, data_dir, tmp_path, monkeypatch, capsys, name):
    """flags-noise-regimes: both noise images are Poisson draws of their float images, in every poidev regime."""
    args = resolve(NOISE_ARGS + s("-seed", 123), data_dir)
    cr, cfiles = c_files(c_binary, args, tmp_path / "c")
    _, cn = read_smv(cfiles["noise.img"])
    cfl = cr.image
    cc = _noise_stats(cfl, cn, "C")
    assert cc["<12"] >= 200 and cc["12-3e4"] >= 200 and cc[">1e6"] >= 5, f"regimes not all populated: {cc}"
    capsys.readouterr()
    tf = torch_files(args, tmp_path / "torch", monkeypatch)
    tlog = capsys.readouterr().out
    _, tn = read_smv(tf["noise.img"])
    tfl = np.fromfile(tmp_path / "torch" / "floatimage.bin", dtype="<f4").reshape(cfl.shape)
    _noise_stats(tfl, tn, "PyTorch")
    # Overloads: every pixel above ~7e4 photons overloads in both; the few near 65535 are random.
    oc, ot = _overloads(cr.log), _overloads(tlog)
    assert abs(oc - ot) <= max(3, 0.1 * oc), f"overloads C {oc} PyTorch {ot}"


@pytest.mark.parametrize("seed", [pytest.param(123, id="AT-PARALLEL-014-noise-seed-123"),
                                  pytest.param(456, id="AT-PARALLEL-014-noise-seed-456")])
def test_at_parallel_014_noise_seeds(c_binary, data_dir, tmp_path, monkeypatch, seed):
    """AT-PARALLEL-014: float mean ≈ 1e3; noise mean = mean(float) + ADC ± 1% in both engines; the PyTorch noise is
    reproducible with the same seed; the top-20 peak centroids of the noise images sit where the float peaks are."""
    args = resolve(WIDE + s("-fluence", 1e31, "-nopgm", "-noisefile", "noise.img", "-seed", seed),
                   data_dir)
    cr, cfiles = c_files(c_binary, args, tmp_path / "c")
    cfl = cr.image.astype(np.float64)
    assert 300 <= cfl.mean() <= 3000, f"float mean {cfl.mean():.4g} is not ≈ 1e3"
    _, cn = read_smv(cfiles["noise.img"])
    tf1 = torch_files(args, tmp_path / "a", monkeypatch)
    tf2 = torch_files(args, tmp_path / "b", monkeypatch)
    _, tn = read_smv(tf1["noise.img"])
    assert tf1["noise.img"] == tf2["noise.img"], "the same -seed must give the same PyTorch noise image"
    for who, n in (("C", cn), ("PyTorch", tn)):
        unclipped = n < CLIP
        mean_n = n[unclipped].astype(np.float64).mean() - 40
        mean_f = cfl[unclipped].mean()
        assert abs(mean_n - mean_f) <= 0.01 * mean_f, f"{who}: noise mean {mean_n:.4g} vs float {mean_f:.4g}"
    from tracing.metrics import local_maxima
    pf = local_maxima(cfl, 99.0, 20)
    for who, n in (("C", cn), ("PyTorch", tn)):
        shifts = []
        for ps, pf_ in pf:
            sl = (slice(max(0, ps - 2), ps + 3), slice(max(0, pf_ - 2), pf_ + 3))
            w = n[sl].astype(np.float64) - 40
            w = np.clip(w, 0, None)
            ss, ff = np.mgrid[sl]
            if w.sum() <= 0:
                continue
            wf = cfl[sl]
            c_noise = np.array([(w * ss).sum(), (w * ff).sum()]) / w.sum()
            c_float = np.array([(wf * ss).sum(), (wf * ff).sum()]) / wf.sum()
            shifts.append(float(np.hypot(*(c_noise - c_float))))
        assert len(shifts) >= 10
        assert np.median(shifts) <= 0.5 and np.percentile(shifts, 90) <= 1.0, f"{who}: centroid shifts {shifts}"

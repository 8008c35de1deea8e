"""Shared helpers of the engine-parity tests: run both engines on one command line and compare their float images.

- `both(c_binary, args, dtype, roi=None)`: the C reference's and the PyTorch engine's float images (slow, fast) for the
  same nanoBragg argv (optionally cut to an inclusive ROI (x0, x1, y0, y1), fast then slow like the C's -roi);
  asserts the shapes agree and that the C image is not empty.
- `parity(c, t)`: Pearson correlation over the whole image, max relative error over the pixels above 1e-3 of the C
  image's maximum, the number of those pixels, the sum ratio t/c and the top-N peak match (3x3 local maxima above
  the 99.5th percentile, greedily paired within 1 px; tracing.metrics).
- `c_image(c_binary, args)`: the C float image, cached per argv for the test session (the C is deterministic, and the
  float64 and float32 tests of one case then share one C run).

Convention: `c` is the C image, `t` the PyTorch image (ratios are t/c, as nb_compare's sum_ratio = py/c).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from c_reference.driver import CRunResult, run_c
from simulator.argv import parse_argv
from tracing.metrics import local_maxima, match_peaks, pearson

C_THREADS = 2
CACHE_MAX_PIXELS = 1 << 20  # larger C images are not kept between tests
BRIGHT_FRAC = 1e-3

_C_CACHE: dict[tuple[str, ...], CRunResult] = {}


@dataclass
class Parity:
    corr: float
    max_rel: float
    n_bright: int
    sum_ratio: float = math.nan
    peaks_matched: float = math.nan      # fraction of the C's top-N peaks with a PyTorch peak within `gate` px
    peak_max_dist: float = math.nan      # largest distance of a matched pair, px (NaN when none matched)
    n_peaks: int = 0                     # number of C peaks examined
    c_max: float = math.nan
    worst_pixel: tuple[int, int] | None = field(default=None)  # (slow, fast) of the max relative error


def parity(c: np.ndarray, t: np.ndarray, *, top_n: int = 25, percentile: float = 99.5, gate: float = 1.0) -> Parity:
    """Correlation over the whole image and max |t-c|/|c| over pixels above 1e-3 of max(c), plus sums and peaks."""
    c64, t64 = c.astype(np.float64), t.astype(np.float64)
    cf, tf = c64.ravel(), t64.ravel()
    corr = pearson(cf, tf)
    cmax = float(cf.max())
    bright = cf > BRIGHT_FRAC * cmax
    if bright.any():
        rel = np.abs(tf[bright] - cf[bright]) / np.abs(cf[bright])
        k = int(np.argmax(rel))
        worst = np.unravel_index(int(np.flatnonzero(bright)[k]), c64.shape)
        max_rel, worst_px = float(rel[k]), (int(worst[0]), int(worst[1]))
    else:
        max_rel, worst_px = math.nan, None
    csum = float(cf.sum())
    pm = match_peaks(local_maxima(c64, percentile, top_n), local_maxima(t64, percentile, top_n), gate)
    return Parity(corr=corr, max_rel=max_rel, n_bright=int(bright.sum()),
                  sum_ratio=float(tf.sum()) / csum if csum != 0 else math.nan,
                  peaks_matched=pm.fraction_matched, peak_max_dist=pm.max_distance, n_peaks=len(pm.peaks_a),
                  c_max=cmax, worst_pixel=worst_px)


def c_run(c_binary, args: list[str]) -> CRunResult:
    """The C reference's run of `args` (cached per argv and binary for the session)."""
    key = (str(c_binary), *args)
    if key in _C_CACHE:
        return _C_CACHE[key]
    res = run_c(args, binary=c_binary, threads=C_THREADS)
    if res.image.size <= CACHE_MAX_PIXELS:
        _C_CACHE[key] = res
    return res


def c_image(c_binary, args: list[str]) -> np.ndarray:
    return c_run(c_binary, args).image


def torch_image(args: list[str], dtype: str) -> np.ndarray:
    from simulator.engine import render

    return render(parse_argv(args).config, dtype=dtype).image


def both(c_binary, args: list[str], dtype: str, roi=None) -> tuple[np.ndarray, np.ndarray]:
    """(C image, PyTorch image) of the same argv, both float32 (slow, fast), cut to `roi` (x0, x1, y0, y1) if given."""
    cfg = parse_argv(args).config
    c_img = c_image(c_binary, args)
    from simulator.engine import render

    t_img = render(cfg, dtype=dtype).image
    assert c_img.shape == t_img.shape == tuple(cfg.pixel_counts()), (
        f"image shapes differ: C {c_img.shape}, PyTorch {t_img.shape}, parsed config {tuple(cfg.pixel_counts())}")
    if roi is not None:
        x0, x1, y0, y1 = roi
        c_img, t_img = c_img[y0:y1 + 1, x0:x1 + 1], t_img[y0:y1 + 1, x0:x1 + 1]
    assert c_img.max() > 0, "the C image is empty: the case tests nothing"
    return c_img, t_img


def describe(p: Parity) -> str:
    return (f"corr {p.corr:.9f}, max rel {p.max_rel:.3g} at {p.worst_pixel} over {p.n_bright} bright pixels, "
            f"sum ratio {p.sum_ratio:.6f}, peaks matched {p.peaks_matched:.2f} of {p.n_peaks} "
            f"(max dist {p.peak_max_dist}), C max {p.c_max:.4g}")

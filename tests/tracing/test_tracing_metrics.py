"""tracing.metrics: figures with known answers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tracing.metrics import compare_images, difference_maps, local_maxima, match_peaks, pearson


def spots(shape=(64, 80), centres=((10, 12), (30, 40), (50, 70)), amp=1000.0, shift=(0, 0)) -> np.ndarray:
    """Gaussian spots (sigma 1 px) on a faint ramp, float32 (slow, fast)."""
    s, f = np.mgrid[0:shape[0], 0:shape[1]]
    img = 0.01 * (s + f).astype(np.float64)
    for k, (cs, cf) in enumerate(centres):
        img += amp * (k + 1) * np.exp(-((s - cs - shift[0]) ** 2 + (f - cf - shift[1]) ** 2) / 2.0)
    return img.astype(np.float32)


def test_identical_images():
    a = spots()
    m = compare_images(a, a.copy())
    # Identical inputs: r is exactly 1 (no rounding slack), every difference is 0, all peaks match at distance 0.
    assert m.correlation == 1.0
    assert m.rms_diff == 0.0 and m.max_abs_diff == 0.0 and m.max_rel_err == 0.0
    assert m.sum_ratio == 1.0 and m.n_beyond_tol == 0
    assert m.peaks.fraction_matched == 1.0 and m.peaks.mean_distance == 0.0
    # The three spots are the three brightest local maxima, brightest (k=2 at (50, 70)) first.
    assert m.peaks.peaks_a[:3] == [(50, 70), (30, 40), (10, 12)]


def test_sum_ratio_and_tolerance_count_for_doubled_image():
    a = spots()
    m = compare_images(a, 2 * a)
    assert m.sum_ratio == pytest.approx(2.0, rel=1e-12)   # b/a
    assert m.correlation == pytest.approx(1.0, abs=1e-12)  # scaling does not change r
    assert m.max_rel_err == pytest.approx(1.0, rel=1e-6)  # |a-2a|/|a|
    # Bright pixels are all 100% off; dim ones (below 1e-3*max) count where |Δ| = a > 1e-5*max, which leaves out
    # only the corner pixels of the faint ramp (a <= 0.03 photons).
    assert m.n_beyond_tol == np.count_nonzero(a > 1e-5 * a.max())
    assert a.size - m.n_beyond_tol == 10
    # The largest |Δ| = max(a), at the brightest spot's centre.
    assert m.max_abs_diff_pixel == (50, 70)
    assert m.max_abs_diff == pytest.approx(float(a.max()), rel=1e-6)


def test_shifted_peak():
    # A one-pixel spike moved one pixel along fast (and 10% dimmer): |Δ| is largest where the C's spike was.
    a = np.full((32, 32), 1.0)
    b = a.copy()
    a[20, 30] = 100.0
    b[20, 31] = 90.0
    m = compare_images(a, b)
    assert m.max_abs_diff_pixel == (20, 30) and m.max_abs_diff == 99.0
    # Gaussian spots 1 px apart: inside the 1-px gate, all matched, mean distance exactly 1.
    m1 = compare_images(spots(), spots(shift=(0, 1)))
    assert m1.peaks.fraction_matched == 1.0
    assert m1.peaks.mean_distance == pytest.approx(1.0)
    # A 2-px shift falls outside the gate: nothing matches.
    m2 = compare_images(spots(), spots(shift=(2, 0)))
    assert m2.peaks.fraction_matched == 0.0 and math.isnan(m2.peaks.mean_distance)


def test_zero_std_gives_nan_correlation_and_json_null():
    a = np.ones((8, 8), np.float32)
    m = compare_images(a, spots((8, 8), ((4, 4),)))
    assert math.isnan(m.correlation)
    d = m.to_dict()
    assert d["correlation"] is None
    json.dumps(d, allow_nan=False)  # JSON-safe


def test_nan_pixels_are_excluded_and_counted():
    a = spots()
    b = a.copy()
    b[3, 3] = np.nan
    m = compare_images(a, b)
    assert m.n_nonfinite == 1
    assert m.correlation == 1.0 and m.max_abs_diff == 0.0


def test_roi_reports_full_image_coordinates():
    a = spots()
    b = a.copy()
    b[31, 41] += 5.0
    m = compare_images(a, b, roi=(35, 45, 25, 35))  # xmin xmax ymin ymax, inclusive
    assert m.n_pixels == 11 * 11
    assert m.max_abs_diff_pixel == (31, 41)
    assert m.max_abs_diff == pytest.approx(5.0, rel=1e-4)
    with pytest.raises(ValueError):
        compare_images(a, b, roi=(100, 120, 0, 5))


def test_tolerance_rule_bright_vs_dim():
    a = np.zeros((4, 4))
    a[0, 0] = 1000.0       # max; floor 1e-3 * 1000 = 1 photon separates bright from dim
    a[1, 1] = 10.0         # bright
    a[2, 2] = 0.5          # dim
    b = a.copy()
    b[1, 1] += 10.0 * 2e-5   # bright, 2e-5 relative > 1e-5: beyond
    b[2, 2] += 0.005         # dim, 0.005 < 1e-5 * 1000 = 0.01 absolute: within (its 1% relative error is ignored)
    b[3, 3] += 0.02          # dim, 0.02 > 0.01: beyond
    m = compare_images(a, b)
    assert m.n_bright == 2 and m.bright_threshold == 1.0
    assert m.n_beyond_tol == 2
    assert m.max_rel_err == pytest.approx(2e-5)
    assert m.max_rel_err_pixel == (1, 1)


def test_pearson_constant_and_faint():
    # A constant image whose float mean is off by an ulp still counts as zero spread.
    assert math.isnan(pearson(np.full(10**5, 0.1), np.arange(10**5.0)))
    # Faint values (1e-120): va*vb ~ 1e-480 would underflow to 0; sqrt(va)*sqrt(vb) does not.
    x = np.arange(5.0) * 1e-120
    assert pearson(x, np.array([0, 1, 4, 9, 16.0]) * 1e-120) == pytest.approx(0.958927, abs=1e-6)


def test_pearson_known_value():
    # x = 0..4, y = x^2: r = 40/sqrt(10*174) = 0.958927
    assert pearson(np.arange(5.0), np.arange(5.0) ** 2) == pytest.approx(0.958927, abs=1e-6)


def test_local_maxima_and_greedy_matching():
    img = np.zeros((20, 20))
    img[5, 5], img[15, 15], img[5, 15] = 3.0, 2.0, 1.0
    assert local_maxima(img, percentile=90, top_n=2) == [(5, 5), (15, 15)]
    # Greedy: the closest pair is taken first: b(1,1) is 1.41 from a(0,0) and 1.0 from a(0,1), so a(0,1) gets it.
    pm = match_peaks([(0, 0), (0, 1)], [(1, 1)], gate=1.5)
    assert pm.pairs == [(1, 0, 1.0)] and pm.fraction_matched == 0.5


def test_difference_maps():
    a = np.array([[10.0, 0.0], [1.0, 100.0]])
    b = np.array([[5.0, 0.0], [2.0, 100.0]])
    d, rel, logr = difference_maps(a, b, floor=1.0)
    assert d.dtype == rel.dtype == logr.dtype == np.float32
    np.testing.assert_allclose(d, [[5, 0], [-1, 0]])
    np.testing.assert_allclose(rel, [[0.5, 0], [-1, 0]])          # /max(|a|, 1)
    np.testing.assert_allclose(logr, [[math.log10(2), 0], [-math.log10(2), 0]], rtol=1e-6)
    with pytest.raises(ValueError):
        difference_maps(a, b, floor=0.0)

"""Issue 19's faster display plan shows the very same pixels and figures as the whole-array computations it replaced.

Each test states the old computation (whole-image float64 rules of tracing.metrics, one downsample_max per factor
from the full image, a[finite & (a > 0)].min()) and asserts bit-for-bit equality (NaN where NaN) with the new one:
row blocks, zoomed-out copies built from the previous level, masked minima. A real image comes from our C reference
(the demo crystal on a 700 x 700 detector: several row blocks, Bragg peaks one pixel wide).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from app.core import difference as diffmod
from app.core.display_plan import plan_display
from app.core.pyramid import max_pyramid
from app.core.display_plan import level_sample
from app.core.scaling import Levels, downsample_max, log_floor, transform
from tracing.metrics import beyond_tolerance_mask, difference_map, row_blocks

FACTORS = (2, 3, 4, 6, 8, 12, 16, 32, 64, 128)


def old_beyond(a, b, tol_rel, floor_frac):
    """The whole-array rule as it was written before issue 19."""
    A = np.abs(np.asarray(a, dtype=np.float64))
    with np.errstate(over="ignore"):
        D = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    finite = np.isfinite(A) & np.isfinite(D)
    peak = float(A[finite].max()) if finite.any() else 0.0
    bright = (A >= floor_frac * peak) & (A > 0)
    with np.errstate(invalid="ignore"):
        return finite & (D > np.where(bright, tol_rel * A, tol_rel * peak))


def old_difference(a, b, mode, floor):
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"diff": lambda: a64 - b64,
               "relative": lambda: (a64 - b64) / np.maximum(np.abs(a64), floor),
               "logratio": lambda: np.log10(np.maximum(a64, floor)) - np.log10(np.maximum(b64, floor))}[mode]()
    return out.astype(np.float32)


def old_log_floor(*arrays):
    smallest = math.inf
    for a in arrays:
        if a is None or a.size == 0:
            continue
        pos = a[np.isfinite(a) & (a > 0)]
        if pos.size:
            smallest = min(smallest, float(pos.min()))
    return smallest / 2.0 if math.isfinite(smallest) else 1e-30


def old_percentile_levels(arrays, percentile, scale, floor):
    """Auto-contrast levels as computed before issue 19 (one copy and one partition per call)."""
    vals = np.concatenate([finite64(transform(a, scale, floor)) for a in arrays])
    high = float(np.percentile(vals, percentile))
    if scale == "log":
        raw = np.concatenate([finite64(a) for a in arrays])
        pos = raw[raw > 0]
        low = math.log10(float(np.percentile(pos, 1.0))) if pos.size else float(vals.min())
    else:
        low = float(vals.min())
        if 0.0 <= low < 0.01 * high:
            low = 0.0
    if not high > low:
        high = float(vals.max())
    return Levels(low, high)


def finite64(x):
    flat = np.asarray(x, dtype=np.float64).ravel()
    return flat[np.isfinite(flat)]


def awkward_image(shape=(517, 389), seed=3) -> np.ndarray:
    """Odd sizes (edge blocks of every factor are partial), negatives, a whole NaN block, lone NaN and peaks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, shape).astype(np.float32)
    x[rng.integers(0, shape[0], 40), rng.integers(0, shape[1], 40)] = 1e4      # single-pixel peaks
    x[rng.integers(0, shape[0], 40), rng.integers(0, shape[1], 40)] = -2e4     # and deep negatives (signed maps)
    x[0:8, 0:8] = np.nan                                                      # a block that is all NaN at f <= 8
    x[100, 200] = np.nan
    return x


@pytest.mark.parametrize("signed", [False, True])
def test_pyramid_equals_one_downsample_per_factor_from_the_full_image(signed):
    x = awkward_image()
    pyr = max_pyramid(x, FACTORS + (1,), signed=signed)
    assert sorted(pyr) == sorted(FACTORS)                # factor 1 is the image itself: not copied
    for f in FACTORS:
        ref = downsample_max(x, f, f, signed=signed)
        assert pyr[f].dtype == np.float32 and pyr[f].shape == (math.ceil(517 / f), math.ceil(389 / f))
        assert np.array_equal(pyr[f], ref, equal_nan=True), f
    assert np.isnan(pyr[2][0, 0]) and np.isnan(pyr[8][0, 0]) and not np.isnan(pyr[16][0, 0])
    assert max_pyramid(x, (1,)) == {} and max_pyramid(x, ()) == {}


def test_mask_in_row_blocks_equals_the_whole_array_rule():
    rng = np.random.default_rng(5)
    a = rng.exponential(1.0, (600, 300)).astype(np.float32)
    a[0:2] = 0.0
    a[-1, -1] = 500.0          # the peak sits in the last row block: the first pass must see every block
    b = (a * (1 + rng.normal(0, 1e-4, a.shape))).astype(np.float32)
    b[3, 3], a[4, 4], b[5, 5] = np.nan, np.inf, -np.inf
    assert len(row_blocks(a.shape)) >= 3
    for tol, frac in ((1e-4, 1e-3), (1e-5, 0.0), (1.0, 1.0)):
        new = beyond_tolerance_mask(a, b, tol, frac)
        assert new.dtype == bool and np.array_equal(new, old_beyond(a, b, tol, frac)), (tol, frac)
    assert 0 < int(beyond_tolerance_mask(a, b, 1e-4, 1e-3).sum()) < a.size
    # float64 images whose difference overflows to inf: that pixel is not finite, so it is never beyond
    big = np.array([[1e308, 1.0], [2.0, 3.0]])
    assert np.array_equal(beyond_tolerance_mask(big, -big, 1e-3, 1e-3), old_beyond(big, -big, 1e-3, 1e-3))
    assert not beyond_tolerance_mask(big, -big, 1e-3, 1e-3)[0, 0]
    # no finite pixel: peak 0, nothing beyond; other ranks keep working
    nan = np.full((3, 4), np.nan)
    assert not beyond_tolerance_mask(nan, nan, 1e-3, 1e-3).any()
    v = np.array([1.0, 2.0, 4.0])
    assert np.array_equal(beyond_tolerance_mask(v, v * 1.01, 1e-3, 0.5), old_beyond(v, v * 1.01, 1e-3, 0.5))


@pytest.mark.parametrize("mode", ["diff", "relative", "logratio"])
def test_difference_in_row_blocks_equals_the_whole_array_map(mode):
    a = awkward_image((700, 250), seed=7)
    b = awkward_image((700, 250), seed=8)
    assert np.array_equal(difference_map(a, b, mode, 1e-3), old_difference(a, b, mode, 1e-3), equal_nan=True)


def test_float32_difference_is_bit_identical_to_the_float64_route():
    """A − B of float32 images in one float32 subtraction: every bit as via float64 (double rounding 53 >= 2*24+2),
    over random bit patterns: all exponents, subnormals, zeros of both signs, inf and NaN."""
    rng = np.random.default_rng(11)
    a, b = (rng.integers(0, 2**32, 1 << 20, dtype=np.uint64).astype(np.uint32).view(np.float32) for _ in range(2))
    with np.errstate(invalid="ignore", over="ignore"):
        b[:1000] = a[:1000] * np.float32(1.0000001)      # close pairs: the cancellation case
        b[1000:2000] = -a[1000:2000]
        new, old = difference_map(a, b, "diff", 1.0), old_difference(a, b, "diff", 1.0)
    nan = np.isnan(old)
    assert np.array_equal(np.isnan(new), nan)
    assert np.array_equal(new[~nan].view(np.uint32), old[~nan].view(np.uint32))
    assert np.count_nonzero(np.abs(old[~nan]) < np.finfo(np.float32).tiny) > 0     # subnormal results covered


def test_log_floor_is_half_the_smallest_finite_positive_pixel():
    x = np.array([[np.inf, np.nan, -3.0], [0.0, 0.25, 7.0]], np.float32)
    assert log_floor(x) == old_log_floor(x) == 0.125
    assert log_floor(np.array([[np.inf, -1.0]], np.float32)) == 1e-30      # +inf is not a pixel's value
    ints = np.array([[0, 3], [9, -4]], np.int32)                            # a loaded integer image
    assert log_floor(ints, x) == old_log_floor(ints, x) == 0.125
    assert log_floor(ints) == 1.5
    assert log_floor(None, np.zeros((0, 3), np.float32)) == 1e-30


def test_default_floor_keeps_the_peak_of_abs_values():
    c = np.array([[1.0, -50.0, np.nan]], np.float32)
    p = np.array([[2.0, 3.0, 4.0]], np.float32)
    assert diffmod.default_floor(c, p) == pytest.approx(50.0 * 1e-6, rel=0, abs=0)
    assert diffmod.default_floor(np.zeros((0, 2), np.float32), p) == pytest.approx(4.0 * 1e-6, rel=0, abs=0)


@pytest.fixture(scope="module")
def real_pair(c_binary):
    """The demo crystal on a 700 x 700 detector from our C, and a copy off by ~1e-4 relative (deterministic)."""
    from app.core.demo import demo_argv
    from c_reference.run import run_c
    argv = demo_argv()
    argv[argv.index("-detpixels") + 1] = "700"
    a = run_c(argv, binary=c_binary, threads=1, outputs=False).image
    rng = np.random.default_rng(19)
    b = (a * (1 + rng.normal(0, 1e-4, a.shape))).astype(np.float32)
    return a, b


@pytest.mark.parametrize("scale", ["linear", "log", "sqrt"])
def test_plan_of_a_real_image_equals_the_whole_array_computations(real_pair, scale):
    a, b = real_pair
    tol = diffmod.Tolerance(rtol=1e-4)
    plan = plan_display(a, b, scale=scale, percentile=99.5, mode="diff", tolerance=tol, factors=(4,),
                        view_px=(100.0, 100.0))
    assert plan.floor == old_log_floor(a, b)
    assert sorted(plan.pyramids["a"]) == [2, 4, 8]    # 700 / 100 px: factor 4, and one level more (display_plan)
    for key, shown, signed in (("a", transform(a, scale, plan.floor), False),
                               ("b", transform(b, scale, plan.floor), False),
                               ("diff", old_difference(a, b, "diff", 1.0), True),
                               ("mask", old_beyond(a, b, tol.rtol, tol.floor_frac).astype(np.float32), False)):
        for f, img in plan.pyramids[key].items():
            assert np.array_equal(img, downsample_max(shown, f, f, signed=signed), equal_nan=True), (key, f)
    mask = old_beyond(a, b, tol.rtol, tol.floor_frac)
    assert np.array_equal(plan.mask, mask.astype(np.float32)) and plan.n_beyond == int(mask.sum())
    assert 0 < plan.n_beyond < a.size                            # the rule splits this image: a real check
    assert np.array_equal(plan.diff, old_difference(a, b, "diff", 1.0))


@pytest.mark.parametrize("scale", ["linear", "log", "sqrt"])
def test_levels_of_a_real_image_equal_the_old_percentiles(real_pair, scale):
    """Shared levels (the percentile of both sides' samples together) and each side's own, exactly as before; B is
    scaled x3 and a few pixels are NaN, so the sides' levels differ and the finite filter counts."""
    a, b = real_pair
    b = b * np.float32(3.0)
    b[10:12, 20:30] = np.nan
    opts = dict(percentile=99.5, mode="diff", tolerance=diffmod.Tolerance())
    shared = plan_display(a, b, scale=scale, sharing="shared", **opts)
    own = plan_display(a, b, scale=scale, sharing="per side", **opts)
    fl = old_log_floor(a, b)
    sa, sb = level_sample(a), level_sample(b)
    la, lb = (old_percentile_levels([x], 99.5, scale, fl) for x in (sa, sb))
    assert (own.levels, own.levels_b, own.shared) == (la, lb, False)
    assert shared.levels == shared.levels_b == old_percentile_levels([sa, sb], 99.5, scale, fl)   # one joint percentile
    alone = plan_display(a, None, scale=scale, **opts)                 # the first image, before B arrives
    assert alone.levels == old_percentile_levels([sa], 99.5, scale, old_log_floor(a))
    both = plan_display(a, b, scale=scale, sharing="auto", **opts)
    assert la.high != lb.high and both.levels in (shared.levels, own.levels)

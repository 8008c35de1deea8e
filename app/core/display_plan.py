"""The Qt-free display plan of the three image panels: both sides scaled, auto-contrasted and differenced, with
zoomed-out copies, computed on any thread (a worker for big images) and handed to app.widgets.image_panels.ImagePanels.

Arrays are float32 (slow, fast); display units follow the scale (linear photons, log10 photons, √photons).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from app.core import compare_modes
from app.core import difference as diffmod
from app.core.pyramid import max_pyramid
from app.core.scaling import (Levels, downsample_factor, level_values, levels_from, log_floor,
                              symmetric_levels, transform)

# Above this many pixels, percentiles are estimated from a strided sample (keeps the GUI thread under ~20 ms).
_PERCENTILE_SAMPLE = 1_000_000


def level_sample(a: np.ndarray) -> np.ndarray:
    """A strided sample of at most ~_PERCENTILE_SAMPLE pixels (the whole array when small)."""
    if a.size <= _PERCENTILE_SAMPLE:
        return a
    step = int(math.ceil(a.size / _PERCENTILE_SAMPLE))
    return a.ravel()[::step]


@dataclass
class DisplayPlan:
    """Everything the panels need to show two raw images, computed off the GUI thread (plan_display).

    Display arrays are in the display units of `scale`; `pyramids` maps a panel key ('a', 'b', 'diff', 'mask')
    to {factor: max-aggregated array} for the zoom factors asked for, so the GUI thread only hands arrays over.
    """

    a: np.ndarray | None       # side A's raw image (slow, fast), photons
    b: np.ndarray | None
    scale: str
    floor: float
    display_a: np.ndarray | None
    display_b: np.ndarray | None
    levels: Levels | None
    mode: str
    diff: np.ndarray | None = None
    diff_levels: Levels | None = None
    mask: np.ndarray | None = None
    n_beyond: int | None = None
    diff_error: str | None = None
    pyramids: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    levels_b: Levels | None = None     # B's levels (display units): the same as `levels` when shared
    shared: bool = True                # one colour scale for both sides (app.core.compare_modes.side_scales)
    b_factor: float | None = None      # B is shown multiplied by this (display only: "B scaled to A's sum")


def plan_display(a: np.ndarray | None, b: np.ndarray | None, *, scale: str, percentile: float, mode: str,
                 tolerance: diffmod.Tolerance, factors: tuple[int, ...] = (),
                 view_px: tuple[float, float] | None = None, sharing: str = "auto",
                 b_to_a_sum: bool = False) -> DisplayPlan:
    """Scale, auto-contrast, difference, tolerance mask and zoomed-out copies of two images (Qt-free, any thread).

    factors: aggregation factors to pre-compute; view_px: (height, width) of a panel's view in screen pixels, so
    the factor of a whole-detector view is pre-computed too (that is what a new image is first shown at).
    sharing: 'auto' | 'shared' | 'per side' colour levels; b_to_a_sum: show B multiplied by sum(A)/sum(B) (display
    only: the difference, mask and readouts keep the raw values).
    """
    b_factor = compare_modes.sum_factor(a, b) if b_to_a_sum else None
    shown_b = b * np.float32(b_factor) if b_factor is not None and b is not None else b
    present = [x for x in (a, shown_b) if x is not None]
    if view_px is not None and present and min(view_px) > 0:
        s_n, f_n = present[0].shape
        full = downsample_factor(max(s_n / view_px[0], f_n / view_px[1]))
        # Every power of two up to the whole-detector factor: zooming in then needs no per-pixel work here.
        # (One more level than the estimate: padding and the aspect lock can tip the view over a power of two.)
        factors = tuple(factors) + tuple(1 << k for k in range(1, full.bit_length() + 1))
    floor = log_floor(*present)
    disp_a = transform(a, scale, floor) if a is not None else None
    disp_b = transform(shown_b, scale, floor) if shown_b is not None else None
    # Each side's sample is scaled and filtered once, for the shared levels and for its own.
    values = [level_values(level_sample(x), scale, floor) for x in present]
    levels = levels_from(values, percentile, scale) if present else None
    plan = DisplayPlan(a, b, scale, floor, disp_a, disp_b, levels, mode, b_factor=b_factor)
    if a is not None and b is not None:
        own = [levels_from([v], percentile, scale) for v in values]
        scales = compare_modes.side_scales(own[0], own[1], scale, sharing)
        plan.shared = scales.shared
        plan.levels, plan.levels_b = (levels, levels) if scales.shared else (scales.a, scales.b)
        if a.shape == b.shape:
            plan.diff, plan.diff_levels, plan.mask, plan.n_beyond, pyramids = _comparison(
                a, b, mode, tolerance, percentile, factors)
            plan.pyramids.update(pyramids)
        else:
            plan.diff_error = (f"Cannot compare: the images differ in shape (slow, fast): A {a.shape}, "
                               f"B {b.shape}.")
    else:
        plan.levels_b = levels
    for key, arr in (("a", disp_a), ("b", disp_b)):
        if arr is not None and any(f > 1 for f in factors):
            plan.pyramids[key] = max_pyramid(arr, factors)
    return plan


def _comparison(a: np.ndarray, b: np.ndarray, mode: str, tolerance: diffmod.Tolerance, percentile: float,
                factors: tuple[int, ...]):
    """(difference, its symmetric levels, float32 tolerance mask, pixels beyond, {'diff'|'mask': pyramid})."""
    diff = diffmod.difference(a, b, mode)
    diff_levels = symmetric_levels(level_sample(diff), percentile)
    beyond = diffmod.beyond_tolerance(a, b, tolerance)
    mask = beyond.astype(np.float32)
    pyramids = {}
    if any(f > 1 for f in factors):
        pyramids = {"diff": max_pyramid(diff, factors, signed=True), "mask": max_pyramid(mask, factors)}
    return diff, diff_levels, mask, int(np.count_nonzero(beyond)), pyramids


def identical_note(diff: np.ndarray | None) -> str:
    """The difference panel's note: say so when A and B agree exactly (the panel is then one flat colour)."""
    return "identical: zero everywhere" if diff is not None and diff.size and not np.any(diff) else ""

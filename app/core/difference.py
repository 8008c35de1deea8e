"""Difference-panel modes (Qt-free): what the third panel shows, and which pixels count as "beyond tolerance".

Modes (A and B are the two sides, any engine or a loaded file):
    diff      A − B, photons
    relative  (A − B) / max(|A|, floor)
    logratio  log10(max(A, floor) / max(B, floor))

All three are signed and centred on zero, so the panel uses a diverging colour map with symmetric levels.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from tracing.metrics import ParityThresholds, beyond_tolerance_mask, difference_map

MODES: dict[str, str] = {
    "diff": "A − B",
    "relative": "relative (A − B)/|A|",
    "logratio": "log10 ratio A/B",
}
UNITS: dict[str, str] = {"diff": "photons", "relative": "fraction", "logratio": "decades"}
# Colour-bar axis labels: short, so that the axis's own multiplier ("(x1e-06)") still fits beside them.
BAR_LABELS: dict[str, str] = {"diff": "A − B (photons)", "relative": "(A − B)/|A|", "logratio": "log10(A/B)"}


@dataclass(frozen=True)
class Tolerance:
    """The rule of tracing.metrics.compare_images, so the overlay and the metrics count the same pixels:
    a bright pixel (|C| >= floor_frac·max|C|) is beyond when |C − Py| > rtol·|C|; a dim one when
    |C − Py| > rtol·max|C|."""

    rtol: float = ParityThresholds().max_rel_error
    floor_frac: float = ParityThresholds().rel_floor


def default_floor(c: np.ndarray, py: np.ndarray) -> float:
    """Floor for relative and ratio modes: 1e-6 of the brightest pixel, so faint noise does not dominate."""
    # max|x| = max(max x, −min x): the same peak without an |x| copy of each image.
    peak = max(_abs_peak(c), _abs_peak(py))
    return peak * 1e-6 if peak > 0 else 1e-30


def _abs_peak(x: np.ndarray) -> float:
    """max|x| over non-NaN pixels (NaN when all are NaN, as np.nanmax(np.abs(x))); 0 for an empty image."""
    if not x.size:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN: NaN, as before
        return max(float(np.nanmax(x)), -float(np.nanmin(x)))


def difference(c: np.ndarray, py: np.ndarray, mode: str, floor: float | None = None) -> np.ndarray:
    """The difference map of `mode` (float32, same shape). Shapes must match; raise ValueError otherwise."""
    if c.shape != py.shape:
        raise ValueError(f"the images differ in shape: C {c.shape} vs PyTorch {py.shape} (slow, fast)")
    fl = floor if floor is not None and floor > 0 else default_floor(c, py)
    return difference_map(c, py, mode, fl)


def beyond_tolerance(c: np.ndarray, py: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Boolean mask of pixels beyond `tol` (see Tolerance): the same pixels the metrics panel counts."""
    return beyond_tolerance_mask(c, py, tol.rtol, tol.floor_frac)

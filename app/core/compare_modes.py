"""Compare modes of the third panel and per-side colour scales (Qt-free numpy).

Modes (one exclusive choice, a single key each on an image):
    side      side by side: A and B only, the third panel hidden
    diff      the difference panel (A − B, relative or log ratio: app.core.difference)
    swipe_v   one image, A left of a vertical split line and B right of it
    swipe_h   one image, A above a horizontal split line and B below it
    overlay   A in the magenta (red + blue) channels and B in the green channel of one RGB image: where A = B the
              pixel is grey, where only A is bright it is magenta, where only B is bright it is green

Images are (slow, fast) arrays in display units (after app.core.scaling.transform); colours are uint8 RGBA (S, F, 4).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.core.scaling import Levels, colorize, inverse_value

MODES: dict[str, str] = {
    "side": "side by side",
    "diff": "difference",
    "swipe_v": "swipe (vertical split)",
    "swipe_h": "swipe (horizontal split)",
    "overlay": "overlay (A magenta, B green)",
}
KEYS: dict[str, str] = {"side": "S", "diff": "D", "swipe_v": "W", "swipe_h": "H", "overlay": "O"}
# Shared levels stay the default while the sides' upper levels (photons) are within this factor of each other.
SHARED_WITHIN = 10.0
SHARINGS: dict[str, str] = {"auto": "auto (shared within 10×)", "shared": "shared", "per side": "per side"}


@dataclass(frozen=True)
class SideScales:
    """Colour levels per side (display units) and whether they are one shared scale."""

    a: Levels | None
    b: Levels | None
    shared: bool


def normalised(display: np.ndarray, levels: Levels) -> np.ndarray:
    """Display values -> [0, 1] fractions of `levels` (float32; NaN -> 0)."""
    span = levels.high - levels.low
    span = span if span > 0 else 1.0
    x = (np.asarray(display, dtype=np.float32) - np.float32(levels.low)) / np.float32(span)
    return np.nan_to_num(np.clip(x, 0.0, 1.0), nan=0.0).astype(np.float32, copy=False)


def swipe_rgba(a: np.ndarray, b: np.ndarray, split: int, orientation: str, levels_a: Levels, levels_b: Levels,
               lut: np.ndarray) -> np.ndarray:
    """A before the split, B from it on (uint8 RGBA, shape of a).

    orientation 'v': a vertical line, A in columns [0, split), B in [split, F); 'h': a horizontal line, A in rows
    [0, split), B in [split, S). `lut` is the image colour map's (256, 4) uint8 table; each side uses its own levels.
    """
    if a.shape != b.shape:
        raise ValueError(f"the images differ in shape (slow, fast): A {a.shape}, B {b.shape}")
    axis = 1 if orientation == "v" else 0
    split = int(min(max(split, 0), a.shape[axis]))
    lut4 = _rgba_lut(lut)
    out = np.empty(a.shape + (4,), dtype=np.uint8)
    if axis == 1:
        out[:, :split] = colorize(a[:, :split], levels_a, lut4)
        out[:, split:] = colorize(b[:, split:], levels_b, lut4)
    else:
        out[:split] = colorize(a[:split], levels_a, lut4)
        out[split:] = colorize(b[split:], levels_b, lut4)
    return out


def blend_weights(blend: float) -> tuple[float, float]:
    """(weight of A, weight of B) for a blend slider at `blend` in [0, 1]: 0 shows A only, 1 B only, 0.5 both
    at full strength (each weight is min(1, 2·share))."""
    t = min(max(float(blend), 0.0), 1.0)
    return min(1.0, 2.0 * (1.0 - t)), min(1.0, 2.0 * t)


def overlay_rgba(a: np.ndarray, b: np.ndarray, levels_a: Levels, levels_b: Levels, blend: float = 0.5) -> np.ndarray:
    """A in red and blue, B in green (uint8 RGBA, opaque): channel = 255 · weight · fraction of the side's levels."""
    if a.shape != b.shape:
        raise ValueError(f"the images differ in shape (slow, fast): A {a.shape}, B {b.shape}")
    wa, wb = blend_weights(blend)
    fa = np.round(255.0 * wa * normalised(a, levels_a)).astype(np.uint8)
    fb = np.round(255.0 * wb * normalised(b, levels_b)).astype(np.uint8)
    out = np.empty(a.shape + (4,), dtype=np.uint8)
    out[..., 0] = fa
    out[..., 1] = fb
    out[..., 2] = fa
    out[..., 3] = 255
    return out


def _rgba_lut(lut: np.ndarray) -> np.ndarray:
    lut = np.asarray(lut, dtype=np.uint8)
    if lut.shape[1] == 4:
        return lut
    return np.concatenate([lut, np.full((lut.shape[0], 1), 255, np.uint8)], axis=1)


def split_index(position_px: float, factor: int, n: int) -> int:
    """The split line at view coordinate `position_px` (image pixels) as an index into an image aggregated by
    `factor` with n rows/columns (rounded to the nearest block edge)."""
    if not math.isfinite(position_px):
        return 0
    return int(min(max(round(position_px / max(factor, 1)), 0), n))


def side_scales(levels_a: Levels | None, levels_b: Levels | None, scale: str, sharing: str = "auto") -> SideScales:
    """Shared or per-side levels. 'auto' shares when both upper levels (in photons) are within SHARED_WITHIN of each
    other (and both are positive); the shared levels then span both sides' (lowest low, highest high)."""
    if levels_a is None or levels_b is None:
        only = levels_a or levels_b
        return SideScales(only, only, True)
    share = sharing == "shared"
    if sharing == "auto":
        ha, hb = inverse_value(levels_a.high, scale), inverse_value(levels_b.high, scale)
        share = ha > 0 and hb > 0 and max(ha, hb) <= SHARED_WITHIN * min(ha, hb)
    if share:
        lv = Levels(min(levels_a.low, levels_b.low), max(levels_a.high, levels_b.high))
        return SideScales(lv, lv, True)
    return SideScales(levels_a, levels_b, False)


def sum_factor(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """sum(A) / sum(B) over finite pixels: the display factor that gives B A's sum (None when undefined)."""
    if a is None or b is None:
        return None
    sa = float(np.nansum(np.where(np.isfinite(a), a, 0.0), dtype=np.float64))
    sb = float(np.nansum(np.where(np.isfinite(b), b, 0.0), dtype=np.float64))
    if not (sb != 0 and math.isfinite(sa) and math.isfinite(sb)) or sa / sb <= 0:
        return None
    return sa / sb

"""Display scaling for detector images (Qt-free numpy).

Everything here maps raw photon values to display values and back. Readouts never use these numbers: the panels
keep the raw arrays and show raw values under the cursor.

Scales:
    linear  display = raw
    sqrt    display = sqrt(max(raw, 0))            (negative pixels show as 0)
    log     display = log10(max(raw, floor))       (floor > 0: zero and negative pixels show as the floor)

Downsampling for zoomed-out views uses MAX aggregation (or signed max-|value| for difference maps), so that a Bragg
peak one pixel wide is still visible when many image pixels share one screen pixel; averaging would dilute it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCALES: tuple[str, ...] = ("linear", "log", "sqrt")
DEFAULT_PERCENTILE = 99.5


@dataclass(frozen=True)
class Levels:
    """A (low, high) pair in display units (after the scale transform)."""

    low: float
    high: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.low, self.high)


def _finite(values: np.ndarray) -> np.ndarray:
    """The finite values as one float64 vector, in order (filtered before the float64 copy: one copy, not two)."""
    flat = np.asarray(values).ravel()
    fin = np.isfinite(flat)
    return (flat if fin.all() else flat[fin]).astype(np.float64)


def log_floor(*arrays: np.ndarray | None) -> float:
    """The value that zero and negative pixels take on a log scale.

    Half the smallest positive pixel over all arrays, so every real signal stays above the floor; 1e-30 when no pixel
    is positive (an all-zero image still displays, as a flat field).
    """
    smallest = math.inf
    for a in arrays:
        if a is None or a.size == 0:
            continue
        # A masked minimum: no copy of the positive pixels. NaN is not > 0; +inf is, but it can only be the
        # minimum when no finite pixel is positive, and then `low` is inf, as if none were: a[finite & (a > 0)].min().
        vals = a if a.dtype.kind == "f" else a.astype(np.float64)
        low = float(np.min(vals, where=vals > 0, initial=np.inf))
        smallest = min(smallest, low)
    return smallest / 2.0 if math.isfinite(smallest) else 1e-30


def transform(raw: np.ndarray, scale: str, floor: float | None = None) -> np.ndarray:
    """Raw values -> display values (float32) for `scale`; never NaN for finite input, never raises on zeros."""
    a = np.asarray(raw, dtype=np.float32)
    if scale == "linear":
        return a
    if scale == "sqrt":
        return np.sqrt(np.clip(a, 0.0, None))
    if scale == "log":
        fl = floor if floor is not None and floor > 0 else log_floor(a)
        with np.errstate(invalid="ignore"):
            return np.log10(np.maximum(a, np.float32(fl))).astype(np.float32)
    raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")


def transform_value(value: float, scale: str, floor: float) -> float:
    """One raw value -> display value (the same rule as `transform`)."""
    if scale == "linear":
        return float(value)
    if scale == "sqrt":
        return math.sqrt(max(value, 0.0))
    if scale == "log":
        return math.log10(max(value, floor))
    raise ValueError(f"unknown scale {scale!r}")


def inverse_value(display: float, scale: str) -> float:
    """Display value -> raw value (for labelling colour bars in photons)."""
    if scale == "linear":
        return float(display)
    if scale == "sqrt":
        return float(display) ** 2 if display > 0 else 0.0
    if scale == "log":
        return 10.0 ** float(display)
    raise ValueError(f"unknown scale {scale!r}")


def percentile_levels(arrays: Sequence[np.ndarray | None], percentile: float = DEFAULT_PERCENTILE,
                      scale: str = "linear", floor: float | None = None) -> Levels:
    """Auto-contrast levels in display units, shared by all `arrays`.

    high = the `percentile` of the display values of all finite pixels together; low = their minimum (linear/sqrt;
    0 when that minimum is non-negative and below 1 % of high) or
    the 1st percentile of positive pixels (log), so a few zero pixels do not stretch the log range to the floor.
    Always returns low < high.
    """
    present = [a for a in arrays if a is not None and a.size]
    if not present:
        return Levels(0.0, 1.0)
    fl = floor if floor is not None else log_floor(*present)
    return levels_from([level_values(a, scale, fl) for a in present], percentile, scale)


@dataclass(frozen=True)
class LevelValues:
    """What percentile_levels needs of one image, computed once and shared by several levels (both sides' shared
    levels and each side's own): its finite display values and, on the log scale, its finite positive raw values;
    float64 vectors. Only their values count: levels_from may reorder them (in-place partitions)."""

    display: np.ndarray
    positive: np.ndarray | None = None


def level_values(a: np.ndarray, scale: str, floor: float) -> LevelValues:
    raw = _finite(a) if scale == "log" else None
    return LevelValues(_finite(transform(a, scale, floor)), raw[raw > 0] if raw is not None else None)


def levels_from(values: Sequence[LevelValues], percentile: float, scale: str) -> Levels:
    """percentile_levels of the images whose LevelValues these are (the same figures)."""
    if not values:
        return Levels(0.0, 1.0)
    vals = values[0].display if len(values) == 1 else np.concatenate([v.display for v in values])
    if vals.size == 0:
        return Levels(0.0, 1.0)
    p = float(np.clip(percentile, 0.0, 100.0))
    high = float(np.percentile(vals, p, overwrite_input=True))   # a partition in place: no copy of the vector
    if scale == "log":
        pos = np.concatenate([v.positive for v in values if v.positive is not None])
        low = math.log10(float(np.percentile(pos, 1.0, overwrite_input=True))) if pos.size else float(vals.min())
    else:
        low = float(vals.min())
        # A non-negative image starts at 0, not at its smallest pixel (a dim background pixel of 4e-14 photons
        # would put "4e-14" on the bar for no gain): the lower level moves off zero only for a real pedestal.
        if 0.0 <= low < 0.01 * high:
            low = 0.0
    if not high > low:
        high = float(vals.max())
    if not high > low:
        high = low + (abs(low) * 1e-3 if low else 1.0)
    return Levels(low, high)


def symmetric_levels(values: np.ndarray | None, percentile: float = DEFAULT_PERCENTILE) -> Levels:
    """(-m, m) with m the `percentile` of |values| (finite pixels); m > 0 always, so zero sits in the middle."""
    if values is None or values.size == 0:
        return Levels(-1.0, 1.0)
    mag = np.abs(_finite(values))
    if mag.size == 0:
        return Levels(-1.0, 1.0)
    m = float(np.percentile(mag, float(np.clip(percentile, 0.0, 100.0)), overwrite_input=True))   # mag is ours
    if not m > 0:
        m = float(mag.max())
    if not m > 0:
        m = 1.0
    return Levels(-m, m)


def downsample_factor(data_px_per_screen_px: float) -> int:
    """Power-of-two aggregation factor for a view where one screen pixel spans that many image pixels (>= 1)."""
    if not math.isfinite(data_px_per_screen_px) or data_px_per_screen_px < 2.0:
        return 1
    return 1 << int(math.floor(math.log2(data_px_per_screen_px)))


def downsample_max(a: np.ndarray, fs: int, ff: int, signed: bool = False) -> np.ndarray:
    """Aggregate blocks of fs x ff pixels (slow, fast) by their maximum.

    signed=True keeps, per block, the value of largest magnitude with its sign (for difference maps, where the most
    negative pixel matters as much as the most positive). The edges are padded so no pixel is dropped; the result
    has shape (ceil(S/fs), ceil(F/ff)). NaN pixels are ignored unless a whole block is NaN.
    """
    if fs <= 1 and ff <= 1:
        return a
    fs, ff = max(1, int(fs)), max(1, int(ff))
    s, f = a.shape
    ns, nf = -(-s // fs), -(-f // ff)
    src = np.asarray(a, dtype=np.float32)
    if not signed:
        return _block_max(src, ns, nf, fs, ff)
    hi = _block_max(src, ns, nf, fs, ff)
    lo = _block_max(src, ns, nf, fs, ff, op=np.fmin)   # == -max(-src), without a negated copy
    return np.where(np.abs(lo) > np.abs(hi), lo, hi).astype(np.float32)


# Elements per row block of _block_max's first stage: the block's column maxima stay in a core's cache, and no
# image-sized temporary is allocated (fresh pages cost more than the arithmetic here).
_BLOCK_PX = 1 << 16


def _block_max(src: np.ndarray, ns: int, nf: int, fs: int, ff: int, op: np.ufunc = np.fmax) -> np.ndarray:
    """Block maxima (op=np.fmin: minima); NaN counts as missing (fmax), blocks with nothing but NaN stay NaN.
    Whole blocks of rows at a time (`_block_rows`), written into the (ns, nf) result."""
    rows = max(1, _BLOCK_PX // max(1, src.shape[1]) // fs) * fs      # a multiple of fs: blocks never split
    if rows >= src.shape[0]:
        return _block_rows(src, fs, ff, op)
    out = np.empty((ns, nf), dtype=np.float32)
    for r in range(0, src.shape[0], rows):
        part = _block_rows(src[r:r + rows], fs, ff, op)
        out[r // fs:r // fs + part.shape[0]] = part
    return out


def _block_rows(src: np.ndarray, fs: int, ff: int, op: np.ufunc) -> np.ndarray:
    """Block maxima of some rows: fmax over the ff strided column views, then over the fs strided row views (fs + ff
    array operations and no padded copy: a large np.full holds the GIL, which would stall the GUI thread)."""
    cols = src[:, 0::ff].copy()                      # (rows, nf): the first column of every block
    for j in range(1, ff):
        view = src[:, j::ff]                         # the last block may be narrower: nf or nf - 1 columns
        n = view.shape[1]
        op(cols[:, :n], view, out=cols[:, :n])
    out = cols[0::fs].copy()                         # (ceil(rows/fs), nf)
    for i in range(1, fs):
        view = cols[i::fs]
        n = view.shape[0]
        op(out[:n], view, out=out[:n])
    return out.astype(np.float32, copy=False)


def downsample_min(a: np.ndarray, fs: int, ff: int) -> np.ndarray:
    """Block minima of fs x ff pixels (the mirror of downsample_max: -downsample_max(-a) without negating a)."""
    if fs <= 1 and ff <= 1:
        return a
    fs, ff = max(1, int(fs)), max(1, int(ff))
    s, f = a.shape
    return _block_max(np.asarray(a, dtype=np.float32), -(-s // fs), -(-f // ff), fs, ff, op=np.fmin)


def to_uint8(display: np.ndarray, levels: Levels) -> np.ndarray:
    """Display values -> 0..255 indices into a 256-entry LUT (NaN -> 0)."""
    span = levels.high - levels.low
    span = span if span > 0 else 1.0
    x = (np.asarray(display, dtype=np.float64) - levels.low) / span
    x = np.nan_to_num(np.clip(x, 0.0, 1.0), nan=0.0)
    return np.round(x * 255.0).astype(np.uint8)


def colorize(display: np.ndarray, levels: Levels, lut: np.ndarray) -> np.ndarray:
    """Display values -> RGB(A) uint8 image (S, F, channels) through a (256, channels) LUT."""
    return np.asarray(lut, dtype=np.uint8)[to_uint8(display, levels)]

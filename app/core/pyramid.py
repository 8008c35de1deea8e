"""Zoomed-out copies of one image at several aggregation factors, each built from the last (Qt-free numpy).

A block of f x f pixels aligned at multiples of f is exactly the (f/g) x (f/g) blocks of g x g pixels of a coarser
level g that divides f, edge blocks included (ceil(ceil(S/g)/(f/g)) = ceil(S/f)); the maximum (NaN-ignoring
`np.fmax`) of maxima is the maximum. So factor 2f is aggregated from factor f's array, a quarter of its size, with
the very values `app.core.scaling.downsample_max` gives from the full image: the pyramid of a 6-megapixel image
costs about one pass over it instead of one pass per factor.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from app.core.scaling import downsample_max, downsample_min


def max_pyramid(image: np.ndarray, factors: Iterable[int], signed: bool = False) -> dict[int, np.ndarray]:
    """{factor: float32 block maximum of `image` (slow, fast), shape (ceil(S/f), ceil(F/f))} for each factor > 1.

    signed: per block the value of largest magnitude with its sign (as downsample_max); its two halves, the block
    maximum and minimum, are aggregated level by level and combined per level, so ties resolve as there.
    """
    wanted = sorted({int(f) for f in factors if int(f) > 1})
    if not wanted:
        return {}
    src = np.asarray(image, dtype=np.float32)
    # level -> (max, min): the min only for signed images; level 1 is the image itself.
    levels: dict[int, tuple[np.ndarray, np.ndarray | None]] = {1: (src, src if signed else None)}
    out: dict[int, np.ndarray] = {}
    for f in wanted:
        g = max(k for k in levels if f % k == 0)      # the coarsest level already built that divides f
        hi_g, lo_g = levels[g]
        step = f // g
        hi = downsample_max(hi_g, step, step)
        lo = downsample_min(lo_g, step, step) if lo_g is not None else None
        levels[f] = (hi, lo)
        out[f] = hi if lo is None else np.where(np.abs(lo) > np.abs(hi), lo, hi).astype(np.float32, copy=False)
    return out

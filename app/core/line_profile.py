"""Line profiles through both images (Qt-free numpy).

A profile follows a segment in view coordinates (x = fast px, y = slow px; pixel (s, f) covers [f, f+1) x [s, s+1))
and reads, at every image pixel the segment passes through, the raw values of A, B and A − B straight from the
images' own arrays (no interpolation, no display scaling). Every pixel the segment passes through (found exactly,
from its crossings of the pixel edges) is listed once, in the order the segment meets it; a segment that only
touches a pixel's corner does not enter it.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    """Values along a segment: index i is the i-th pixel (slow[i], fast[i]) met, at distance[i] px from the start
    (its centre projected on the segment). a, b: raw values (None when that side has no image); diff = a − b."""

    start: tuple[float, float]          # (x, y) view coordinates, px
    end: tuple[float, float]
    slow: np.ndarray                    # int, (n,)
    fast: np.ndarray                    # int, (n,)
    distance: np.ndarray                # float64, (n,) px
    a: np.ndarray | None
    b: np.ndarray | None

    @property
    def diff(self) -> np.ndarray | None:
        if self.a is None or self.b is None:
            return None
        return (self.a.astype(np.float64) - self.b.astype(np.float64))

    def describe(self) -> str:
        (x0, y0), (x1, y1) = self.start, self.end
        return (f"profile from (slow {y0:.1f}, fast {x0:.1f}) to (slow {y1:.1f}, fast {x1:.1f}) px, "
                f"{len(self.slow)} pixels")

    def csv(self, names: tuple[str, str] = ("A", "B")) -> str:
        """distance_px, slow, fast, A, B, A − B as CSV text (empty cells where a side is missing)."""
        buf = io.StringIO()
        buf.write(f"distance_px,slow,fast,{names[0]},{names[1]},A-B\n")
        d = self.diff
        for i in range(len(self.slow)):
            cells = [f"{self.distance[i]:.6g}", str(int(self.slow[i])), str(int(self.fast[i]))]
            for arr in (self.a, self.b, d):
                cells.append("" if arr is None else repr(float(arr[i])))
            buf.write(",".join(cells) + "\n")
        return buf.getvalue()


def pixels_on_segment(start: tuple[float, float], end: tuple[float, float],
                      shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slow, fast, distance) of the image pixels the segment start→end crosses, clipped to `shape` (slow, fast)."""
    (x0, y0), (x1, y1) = start, end
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError("the profile's ends must be finite view coordinates (px)")
    length = math.hypot(x1 - x0, y1 - y0)
    # Exact traversal: the segment's parameters t where it crosses a pixel edge (x or y an integer) split it into
    # pieces that each lie in one pixel; a piece's midpoint names that pixel.
    cuts = [np.array([0.0, 1.0])]
    for p0, p1 in ((x0, x1), (y0, y1)):
        if p1 != p0:
            lo, hi = sorted((p0, p1))
            edges = np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=np.float64)
            cuts.append((edges - p0) / (p1 - p0))
    t = np.unique(np.clip(np.concatenate(cuts), 0.0, 1.0))
    mid = (t[:-1] + t[1:]) / 2 if t.size > 1 else t
    xs, ys = x0 + mid * (x1 - x0), y0 + mid * (y1 - y0)
    f, s = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    inside = (s >= 0) & (s < shape[0]) & (f >= 0) & (f < shape[1])
    s, f = s[inside], f[inside]
    if s.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    keep = np.ones(s.size, bool)
    keep[1:] = (s[1:] != s[:-1]) | (f[1:] != f[:-1])
    s, f = s[keep], f[keep]
    if length > 0:
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        dist = (f + 0.5 - x0) * ux + (s + 0.5 - y0) * uy
    else:
        dist = np.zeros(s.size)
    return s, f, np.asarray(dist, dtype=np.float64)


def line_profile(a: np.ndarray | None, b: np.ndarray | None, start: tuple[float, float],
                 end: tuple[float, float]) -> Profile:
    """The profile of A and B (either may be None; same shape when both given) along start→end (x, y) px."""
    ref = a if a is not None else b
    if ref is None:
        raise ValueError("a profile needs at least one image")
    if a is not None and b is not None and a.shape != b.shape:
        raise ValueError(f"the images differ in shape (slow, fast): A {a.shape}, B {b.shape}")
    s, f, d = pixels_on_segment(start, end, ref.shape)
    return Profile((float(start[0]), float(start[1])), (float(end[0]), float(end[1])), s, f, d,
                   None if a is None else a[s, f], None if b is None else b[s, f])


def row_profile(a: np.ndarray | None, b: np.ndarray | None, slow: int) -> Profile:
    """The whole row `slow` (fast 0 … F−1)."""
    ref = a if a is not None else b
    n_f = ref.shape[1] if ref is not None else 0
    return line_profile(a, b, (0.0, slow + 0.5), (n_f - 1e-9, slow + 0.5))


def column_profile(a: np.ndarray | None, b: np.ndarray | None, fast: int) -> Profile:
    """The whole column `fast` (slow 0 … S−1)."""
    ref = a if a is not None else b
    n_s = ref.shape[0] if ref is not None else 0
    return line_profile(a, b, (fast + 0.5, 0.0), (fast + 0.5, n_s - 1e-9))

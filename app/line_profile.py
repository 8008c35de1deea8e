"""Line profiles through both images (Qt-free numpy).

A profile follows a segment in view coordinates (x = fast px, y = slow px; pixel (s, f) covers [f, f+1) x [s, s+1))
and reads, at every image pixel the segment passes through, the raw values of A, B and A − B straight from the
images' own arrays (no interpolation, no display scaling). Steps of at most half a pixel along the segment find
every pixel it crosses; a pixel is listed once, in the order the segment meets it.
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
    length = math.hypot(x1 - x0, y1 - y0)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError("the profile's ends must be finite view coordinates (px)")
    n = max(2, int(math.ceil(length / 0.5)) + 1)
    t = np.linspace(0.0, 1.0, n)
    xs, ys = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
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

"""The port team's nb-compare metrics (their spec AT-TOOLS-001, spec/nanobragg.md §11.6), numpy only.

Images are float32 (slow, fast) arrays. The figures are computed with the arithmetic the definition implies for
float32 images read from `-floatfile`: MSE, RMSE, max |Δ|, the sums and their ratio stay float32 (numpy's pairwise
float32 reductions, so the values agree with the port team's tool to the last bit); Pearson r is float64.
"""
from __future__ import annotations

import math

import numpy as np

N_PEAKS = 10            # peaks kept per image (the top 10 by value)
PEAK_PERCENTILE = 95.0  # a peak is a 3x3 local maximum above this percentile of the image

Roi = tuple[int, int, int, int]  # xmin, xmax, ymin, ymax: inclusive pixel bounds (x = fast, y = slow)


def crop(img: np.ndarray, roi: Roi | None) -> np.ndarray:
    """img[ymin:ymax+1, xmin:xmax+1] (inclusive bounds), or img itself without a ROI."""
    if roi is None:
        return img
    xmin, xmax, ymin, ymax = roi
    return img[ymin:ymax + 1, xmin:xmax + 1]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two equally sized arrays in float64; NaN when either is constant (zero standard deviation)."""
    x = a.astype(np.float64).ravel()
    y = b.astype(np.float64).ravel()
    if x.size == 0 or x.min() == x.max() or y.min() == y.max():
        return math.nan
    x = x - x.mean()
    y = y - y.mean()
    r = float(np.dot(x, y) / math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y))))
    return max(-1.0, min(1.0, r))


def local_max_3x3(img: np.ndarray) -> np.ndarray:
    """Boolean mask: the pixel equals the maximum of its 3x3 neighbourhood (the border repeats the edge pixel)."""
    p = np.pad(img, 1, mode="edge")
    h, w = img.shape
    m = img.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(m, p[dy:dy + h, dx:dx + w], out=m)
    return m == img


def find_peaks(img: np.ndarray, n: int = N_PEAKS) -> list[tuple[int, int]]:
    """The n brightest 3x3 local maxima above the image's 95th percentile, as (slow, fast), brightest first.
    Equal values: the later pixel in row-major order first (a stable sort, so no CPU-dependent tie order)."""
    if img.ndim != 2 or img.size == 0:
        return []
    mask = local_max_3x3(img) & (img > np.percentile(img, PEAK_PERCENTILE))
    coords = np.argwhere(mask)
    values = img[mask]
    order = np.argsort(values, kind="stable")[::-1][:n]
    return [(int(coords[i][0]), int(coords[i][1])) for i in order]


def peak_distances(c_img: np.ndarray, py_img: np.ndarray) -> tuple[float, float]:
    """(mean, max) over the C peaks of the distance (pixels) to the nearest PyTorch peak; NaN when either image
    has no peak."""
    cp, pp = find_peaks(c_img), find_peaks(py_img)
    if not cp or not pp:
        return math.nan, math.nan
    p = np.asarray(pp, dtype=np.float64)
    d = [float(np.min(np.hypot(p[:, 0] - s, p[:, 1] - f))) for s, f in cp]
    return float(np.mean(d)), float(np.max(d))


def image_metrics(c_img: np.ndarray, py_img: np.ndarray, roi: Roi | None = None) -> dict:
    """The image figures of summary.json, in its field order: correlation, mse, rmse, max_abs_diff, c_sum, py_sum,
    sum_ratio (py/c; inf when c_sum is 0), mean_peak_distance, max_peak_distance (pixels). Shapes must match."""
    c = np.ascontiguousarray(crop(c_img, roi), dtype=np.float32)
    p = np.ascontiguousarray(crop(py_img, roi), dtype=np.float32)
    if c.shape != p.shape or c.size == 0:
        raise ValueError(f"metrics need two non-empty images of one shape, got {c.shape} and {p.shape}")
    d = c.ravel() - p.ravel()                   # float32, as the images
    mse = np.mean(np.square(d))                 # float32 mean (numpy pairwise sum)
    c_sum, py_sum = np.sum(c.ravel()), np.sum(p.ravel())
    mean_pd, max_pd = peak_distances(c, p)
    return {
        "correlation": pearson(c, p),
        "mse": float(mse),
        "rmse": float(np.sqrt(mse)),
        "max_abs_diff": float(np.max(np.abs(d))),
        "c_sum": float(c_sum),
        "py_sum": float(py_sum),
        "sum_ratio": float(py_sum / c_sum) if c_sum != 0 else math.inf,
        "mean_peak_distance": mean_pd,
        "max_peak_distance": max_pd,
    }


def resample_nearest(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour zoom of a 2-D image to `shape`: output index o reads input round(o * (n_in-1)/(n_out-1))
    on each axis (corners map to corners)."""
    idx = []
    for n_in, n_out in zip(img.shape, shape, strict=True):
        if n_out == 1:
            idx.append(np.zeros(1, dtype=np.intp))
            continue
        pos = np.arange(n_out, dtype=np.float64) * ((n_in - 1) / (n_out - 1))
        idx.append(np.clip(np.floor(pos + 0.5).astype(np.intp), 0, n_in - 1))
    return img[np.ix_(idx[0], idx[1])]


def square_shape(n_pixels: int) -> tuple[int, int] | None:
    """(n, n) when n_pixels is a perfect square (how a float file of unknown size is read), else None."""
    n = math.isqrt(n_pixels)
    return (n, n) if n > 0 and n * n == n_pixels else None

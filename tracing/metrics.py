"""Image-level comparison of two engines' float images, and difference maps.

Convention: `a` is the C image, `b` the PyTorch image; both float (slow, fast) arrays in photons/pixel (decisions D6).
Differences are a − b; ratios are b / a (as nb_compare's sum_ratio = py/c, spec §11.6).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .bundle import json_safe

Roi = tuple[int, int, int, int]  # (xmin, xmax, ymin, ymax): fast, fast, slow, slow; inclusive, like the C's -roi


@dataclass
class PeakMatch:
    """Peaks of both images and how they pair up. Peak positions are (slow, fast) in full-image pixels."""

    peaks_a: list[tuple[int, int]] = field(default_factory=list)
    peaks_b: list[tuple[int, int]] = field(default_factory=list)
    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (index in a, index in b, distance px)
    fraction_matched: float = math.nan   # matched / len(peaks_a); NaN when a has no peak
    mean_distance: float = math.nan      # mean distance of matched pairs, px; NaN when none matched
    max_distance: float = math.nan


@dataclass
class ImageMetrics:
    """Figures comparing a (C) with b (PyTorch). Pixels are (slow, fast) in full-image coordinates.

    bright pixels: |a| >= floor_frac * max|a| (the threshold is `bright_threshold`).
    n_beyond_tol: bright pixels with |a-b| > tol_rel*|a|, plus the other pixels with |a-b| > tol_rel*max|a| (so dim
        pixels get an absolute tolerance tied to the image's scale rather than a relative one that noise would break).
    Non-finite pixels (NaN/inf in either image) are excluded from every figure and counted in n_nonfinite.
    """

    shape: tuple[int, int]
    roi: Roi | None
    n_pixels: int
    n_nonfinite: int
    correlation: float
    rms_diff: float
    max_abs_diff: float
    max_abs_diff_pixel: tuple[int, int] | None
    sum_a: float
    sum_b: float
    sum_ratio: float
    max_a: float
    max_b: float
    bright_threshold: float
    n_bright: int
    max_rel_err: float
    max_rel_err_pixel: tuple[int, int] | None
    tol_rel: float
    n_beyond_tol: int
    peaks: PeakMatch

    def to_dict(self) -> dict:
        """JSON-safe dict (NaN and inf become None, tuples lists)."""
        return json_safe(asdict(self))


def _roi_slices(shape: tuple[int, int], roi: Roi | None) -> tuple[slice, slice]:
    if roi is None:
        return slice(0, shape[0]), slice(0, shape[1])
    xmin, xmax, ymin, ymax = (int(v) for v in roi)
    if xmin < 0 or ymin < 0 or xmin > xmax or ymin > ymax or xmin >= shape[1] or ymin >= shape[0]:
        raise ValueError(f"roi {roi} (xmin xmax ymin ymax) does not fit an image of shape {shape} (slow, fast)")
    return slice(ymin, min(ymax, shape[0] - 1) + 1), slice(xmin, min(xmax, shape[1] - 1) + 1)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two equal-size arrays (float64); NaN when either has zero spread; identical inputs give 1.0."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2:
        return math.nan
    # Zero spread tested on the values themselves: a constant's mean can be off by an ulp, leaving tiny residuals.
    if a.min() == a.max() or b.min() == b.max():
        return math.nan
    if np.array_equal(a, b):
        return 1.0
    da = a - a.mean()
    db = b - b.mean()
    va = float(np.dot(da, da))
    vb = float(np.dot(db, db))
    den = math.sqrt(va) * math.sqrt(vb)  # not sqrt(va*vb): the product can underflow for faint images
    return max(-1.0, min(1.0, float(np.dot(da, db)) / den))


def local_maxima(img: np.ndarray, percentile: float = 99.5, top_n: int = 25) -> list[tuple[int, int]]:
    """Top-N (by value) pixels that equal the max of their 3x3 neighbourhood and exceed the image's percentile.

    Returns (slow, fast) indices of `img`, brightest first. Non-finite pixels are never peaks and never block one.
    Only pixels above the percentile are examined, so this stays cheap on 6-Mpixel detectors.
    """
    x = np.asarray(img)
    finite = np.isfinite(x)
    if x.size == 0 or not finite.any():
        return []
    thr = float(np.percentile(x if finite.all() else x[finite], percentile))
    cand = np.flatnonzero(x > thr)  # NaN compares False
    if cand.size == 0:
        return []
    h, w = x.shape
    ss, ff = np.divmod(cand, w)
    v = x.ravel()[cand]
    is_max = np.ones(cand.size, dtype=bool)
    for ds in (-1, 0, 1):
        for df in (-1, 0, 1):
            if ds == 0 and df == 0:
                continue
            ns, nf = ss + ds, ff + df
            inside = (ns >= 0) & (ns < h) & (nf >= 0) & (nf < w)
            nv = x[np.clip(ns, 0, h - 1), np.clip(nf, 0, w - 1)]
            is_max &= ~inside | ~np.isfinite(nv) | (v >= nv)
    ss, ff, v = ss[is_max], ff[is_max], v[is_max]
    order = np.argsort(-v, kind="stable")[:top_n]
    return [(int(ss[k]), int(ff[k])) for k in order]


def match_peaks(pa: list[tuple[int, int]], pb: list[tuple[int, int]], gate: float = 1.0) -> PeakMatch:
    """Greedy nearest pairing: all (a, b) pairs sorted by distance, accepted while both are free and d <= gate."""
    out = PeakMatch(peaks_a=list(pa), peaks_b=list(pb))
    if not pa:
        return out
    if pb:
        A = np.asarray(pa, dtype=np.float64)
        B = np.asarray(pb, dtype=np.float64)
        d = np.hypot(A[:, None, 0] - B[None, :, 0], A[:, None, 1] - B[None, :, 1])
        used_a: set[int] = set()
        used_b: set[int] = set()
        for flat in np.argsort(d, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(pb))
            if d[i, j] > gate:
                break
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            out.pairs.append((i, j, float(d[i, j])))
    out.fraction_matched = len(out.pairs) / len(pa)
    if out.pairs:
        dist = [p[2] for p in out.pairs]
        out.mean_distance = float(np.mean(dist))
        out.max_distance = float(np.max(dist))
    return out


def compare_images(a: np.ndarray, b: np.ndarray, *, tol_rel: float = 1e-5, floor_frac: float = 1e-3,
                   roi: Roi | None = None, top_n: int = 25, peak_percentile: float = 99.5,
                   peak_gate: float = 1.0) -> ImageMetrics:
    """Compare a (C) with b (PyTorch), both (slow, fast), over `roi` (C -roi order, inclusive) or the whole image.

    Peaks: 3x3 local maxima above the `peak_percentile` of each image, top `top_n`, greedy-matched within
    `peak_gate` px (spec §13.3 AT-PARALLEL-007 uses 99.5 / 25 / 1 px).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"images must be 2-D and of the same shape: {a.shape} vs {b.shape}")
    sl_s, sl_f = _roi_slices(a.shape, roi)
    oy, ox = sl_s.start, sl_f.start
    A = a[sl_s, sl_f].astype(np.float64)
    B = b[sl_s, sl_f].astype(np.float64)
    finite = np.isfinite(A) & np.isfinite(B)
    n_finite = int(np.count_nonzero(finite))
    n_nonfinite = int(finite.size - n_finite)
    if n_nonfinite:
        # Zero both images where either is not finite, so sums and differences skip those pixels.
        A[~finite] = 0.0
        B[~finite] = 0.0

    def at(idx) -> tuple[int, int]:
        s, f = np.unravel_index(int(idx), A.shape)
        return int(s) + oy, int(f) + ox

    D = (A - B).ravel()
    sum_a, sum_b = float(A.sum()), float(B.sum())
    sum_ratio = sum_b / sum_a if sum_a != 0 else math.nan
    if n_finite:
        rms = math.sqrt(float(np.dot(D, D)) / n_finite)
        absD = np.abs(D, out=D)
        imax = int(np.argmax(absD))
        max_abs, max_abs_px = float(absD[imax]), at(imax)
        absA = np.abs(A).ravel()
        max_a, max_b = float(absA.max()), float(np.abs(B).max())
        corr = pearson(A, B) if not n_nonfinite else pearson(A[finite], B[finite])
    else:
        absD = np.abs(D)
        absA = np.abs(A).ravel()
        max_abs, max_abs_px, rms, max_a, max_b, corr = math.nan, None, math.nan, math.nan, math.nan, math.nan

    scale = max_a if (n_finite and max_a > 0) else 0.0
    bright_thr = floor_frac * scale
    fin = finite.ravel()
    bright = fin & (absA >= bright_thr) & (absA > 0)
    ib = np.flatnonzero(bright)
    if ib.size:
        rel = absD[ib] / absA[ib]
        k = int(np.argmax(rel))
        # No pixel is "worst" when every bright pixel agrees exactly (else argmax names the first, (0, 0)).
        max_rel, max_rel_px = float(rel[k]), (at(ib[k]) if rel[k] > 0 else None)
    else:
        max_rel, max_rel_px = math.nan, None
    n_beyond = int(np.count_nonzero(beyond_tolerance_mask(A, B, tol_rel, floor_frac)))

    Ap = a[sl_s, sl_f] if not n_nonfinite else np.where(finite, a[sl_s, sl_f], np.nan)
    Bp = b[sl_s, sl_f] if not n_nonfinite else np.where(finite, b[sl_s, sl_f], np.nan)
    pa = [(s + oy, f + ox) for s, f in local_maxima(Ap, peak_percentile, top_n)]
    pb = [(s + oy, f + ox) for s, f in local_maxima(Bp, peak_percentile, top_n)]

    return ImageMetrics(
        shape=(int(a.shape[0]), int(a.shape[1])), roi=(roi[0], roi[1], roi[2], roi[3]) if roi is not None else None,
        n_pixels=int(A.size), n_nonfinite=n_nonfinite,
        correlation=corr, rms_diff=rms, max_abs_diff=max_abs, max_abs_diff_pixel=max_abs_px,
        sum_a=sum_a, sum_b=sum_b, sum_ratio=sum_ratio, max_a=max_a, max_b=max_b,
        bright_threshold=bright_thr, n_bright=int(np.count_nonzero(bright)),
        max_rel_err=max_rel, max_rel_err_pixel=max_rel_px, tol_rel=tol_rel, n_beyond_tol=n_beyond,
        peaks=match_peaks(pa, pb, peak_gate),
    )


DIFFERENCE_MODES: tuple[str, ...] = ("diff", "relative", "logratio")


def difference_map(a: np.ndarray, b: np.ndarray, mode: str, floor: float) -> np.ndarray:
    """One difference map as float32 (slow, fast): "diff" a − b, "relative" (a − b)/max(|a|, floor), "logratio"
    log10(max(a, floor)/max(b, floor)). `floor` (> 0, photons) keeps dark pixels from dominating the last two;
    all three are positive where the C (a) is brighter. Computed in float64 block by block of rows (the same
    values as whole-array float64, without 50 MB temporaries for a 6-megapixel image)."""
    if not floor > 0:
        raise ValueError(f"floor must be > 0, got {floor}")
    if mode not in DIFFERENCE_MODES:
        raise ValueError(f"unknown difference mode {mode!r}; expected one of {', '.join(DIFFERENCE_MODES)}")
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if mode == "diff" and a.dtype == np.float32 and b.dtype == np.float32:
        # One float32 subtraction: rounding a − b to float64 and then to float32 gives the correctly rounded float32
        # result (double rounding is innocuous when 53 >= 2·24 + 2 bits, Figueroa 1995), so it is the same value.
        return np.subtract(a, b, dtype=np.float32)
    out = np.empty(a.shape, dtype=np.float32)
    for sl in row_blocks(a.shape):
        a64 = np.asarray(a[sl], dtype=np.float64)
        b64 = np.asarray(b[sl], dtype=np.float64)
        if mode == "diff":
            out[sl] = a64 - b64
        elif mode == "relative":
            out[sl] = (a64 - b64) / np.maximum(np.abs(a64), floor)
        else:
            out[sl] = np.log10(np.maximum(a64, floor)) - np.log10(np.maximum(b64, floor))
    return out


def difference_maps(a: np.ndarray, b: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(diff, relative, logratio) maps of `difference_map`, float32 (slow, fast)."""
    diff, rel, logr = (difference_map(a, b, mode, floor) for mode in DIFFERENCE_MODES)
    return diff, rel, logr


def beyond_tolerance_mask(a: np.ndarray, b: np.ndarray, tol_rel: float, floor_frac: float) -> np.ndarray:
    """Pixels beyond tolerance, the rule `compare_images` counts: a bright pixel (|a| >= floor_frac·max|a|, |a| > 0)
    when |a − b| > tol_rel·|a|, any other when |a − b| > tol_rel·max|a|. Non-finite pixels are never beyond.

    max|a| is over the pixels where |a| and |a − b| are finite. Evaluated in float64 block by block of rows: two
    passes (the peak, then the mask) over cache-sized blocks instead of a dozen whole-image float64 temporaries."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    if a.ndim == 0:
        return beyond_tolerance_mask(a.reshape(1), b.reshape(1), tol_rel, floor_frac).reshape(())
    # float32 images (the engines'): |a| is exact in float32, and the float64 difference of two finite ones cannot
    # overflow, so "|a| and |a − b| finite" is "a and b finite" and the peak needs no float64 copy.
    narrow = all(x.dtype.kind == "f" and x.dtype.itemsize <= 4 for x in (a, b))

    def sides(sl):
        """(|a|, |a − b|) of the rows `sl` in float64, computed in place (two block-sized arrays)."""
        A = np.array(a[sl], dtype=np.float64)
        D = np.array(b[sl], dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):   # an overflowing difference is not finite: never beyond
            np.subtract(A, D, out=D)
        np.abs(D, out=D)
        return np.abs(A, out=A), D

    def finite_of(sl, A, D):
        return np.isfinite(a[sl]) & np.isfinite(b[sl]) if narrow else np.isfinite(A) & np.isfinite(D)

    blocks = row_blocks(a.shape)
    peak = 0.0   # |a| >= 0, so 0 is also the answer when no pixel is finite
    for sl in blocks:
        if narrow:
            fin = np.isfinite(a[sl]) & np.isfinite(b[sl])
            peak = max(peak, float(np.max(np.abs(a[sl]), where=fin, initial=0.0)))
        else:
            A, D = sides(sl)
            peak = max(peak, float(np.max(A, where=finite_of(sl, A, D), initial=0.0)))
    out = np.empty(a.shape, dtype=bool)
    bright_at = floor_frac * peak
    for sl in blocks:
        A, D = sides(sl)
        finite = finite_of(sl, A, D)
        # tol_rel·|a| where bright, tol_rel·peak elsewhere (the same products as np.where(bright, tol_rel*A, ...))
        thr = np.where((A >= bright_at) & (A > 0), A, peak)
        np.multiply(thr, tol_rel, out=thr)
        with np.errstate(invalid="ignore"):
            np.greater(D, thr, out=finite, where=finite)
        out[sl] = finite
    return out


def row_blocks(shape: tuple[int, ...], target_px: int = 1 << 16) -> list[slice]:
    """Slices of axis 0 covering `shape` in blocks of about `target_px` elements (at least one row each): whole
    float64 temporaries of a block fit in a core's cache (512 kB for the default 65536 px)."""
    n = shape[0] if shape else 1
    per_row = max(1, math.prod(shape[1:]))
    step = max(1, target_px // per_row)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)] or [slice(0, 0)]


# ---- figures as text ----------------------------------------------------------------------------------------------
def metric_rows(metrics: ImageMetrics) -> list[tuple[str, str]]:
    """(name, text) of the scalar figures of an ImageMetrics, peaks summarised; for tables and the console."""
    rows = []
    for key, value in metrics.to_dict().items():
        if key == "peaks":
            for sub in ("fraction_matched", "mean_distance", "max_distance"):
                rows.append((f"peaks_{sub}", _fmt(value.get(sub))))
            rows.append(("peaks_found_a_b", f"{len(value.get('peaks_a', []))}, {len(value.get('peaks_b', []))}"))
        else:
            rows.append((key, _fmt(value)))
    return rows


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.9g}"
    if isinstance(v, list):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


# ---- parity thresholds and verdict (their one home) ---------------------------------------------------------------

@dataclass(frozen=True)
class ParityThresholds:
    """Every parity threshold of the project, dimensionless.

    Images pass when Pearson r >= min_correlation and the largest |b - a| / |a| over pixels whose |a| exceeds
    rel_floor * max|a| is <= max_rel_error (the bright-pixel rule of ImageMetrics). Per-φ traces diverge at the
    first tick where |Δh|, |Δk| or |Δl| > phi_tol (5e-4, the upstream per-φ compare script's limit, spec §11.5).
    The port team's matrix (parity_cases.yaml, spec §11.7) adds sum_ratio_min <= ΣB/ΣA <= sum_ratio_max and
    max |B − A| <= max_abs_max (photons); None = not judged. max_rel_error None (as a bundle stores inf) = inf:
    their matrix does not judge the relative error.
    A traced quantity other than a Miller index (tracing.pipeline) diverges when its relative Δ exceeds
    pipeline_rel_tol (1e-4: a float32 port agrees with the C to ~1e-6 where it computes the same thing).
    """

    min_correlation: float = 0.999999
    max_rel_error: float = 1e-5
    rel_floor: float = 1e-3
    phi_tol: float = 5e-4
    sum_ratio_min: float | None = None
    sum_ratio_max: float | None = None
    max_abs_max: float | None = None
    pipeline_rel_tol: float = 1e-4
    scale_tol: float = 1e-2   # a sum ratio B/A outside [1/(1+s), 1+s] is a "scale" divergence

    def __post_init__(self) -> None:
        if self.max_rel_error is None:
            object.__setattr__(self, "max_rel_error", math.inf)


@dataclass
class Verdict:
    """Outcome of the parity check; `reasons` says which threshold failed, with the figures; `notes` say what the
    figures depend on (e.g. a binary run with one thread because of the φ=0 carry-over).

    kinds: which divergences a FAIL shows, in this order: "scale" (image sums differ by more than scale_tol),
    "geometry" (a peak of A has no peak of B within 1 px), "per-pixel" (the correlation, which no scale changes,
    or the relative error without a scale difference). why: sentences that explain it (the scale decomposed into
    scaling factors, what could not be traced; tracing.why). known: the known-divergence ledger's reading
    ("explained: C φ=0 carry-over (known)", "unexplained: …"), "" when it was not consulted. cause: what the
    auto-trace of the worst pixels found (app/core/auto_trace.py: "first divergent quantity: k at φ tick 0 at (s, f)
    (Δk 8.0e-3)"), "" when none ran.
    """

    passed: bool
    correlation: float
    max_rel_error: float
    thresholds: ParityThresholds
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference: str = "A"
    kinds: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    known: str = ""
    cause: str = ""

    def to_dict(self) -> dict:
        d = json_safe(asdict(self))
        d["verdict"] = "pass" if self.passed else "fail"
        return d

    def sentence(self) -> str:
        """'PASS: ...' with both figures and their limits, or 'FAIL: ...' with the figures that broke them,
        then the notes."""
        t = self.thresholds
        where = f"over pixels above {t.rel_floor:g} of the maximum of {self.reference}"
        if self.passed and math.isinf(t.max_rel_error):  # the port team's matrix: r, sum ratio, max |B - A|
            text = (f"PASS: correlation {self.correlation:.9g} (>= {t.min_correlation:g})"
                    + (f", sum ratio within [{t.sum_ratio_min:g}, {t.sum_ratio_max:g}]"
                       if t.sum_ratio_min is not None and t.sum_ratio_max is not None else "")
                    + (f", max |B - A| <= {t.max_abs_max:g}" if t.max_abs_max is not None else ""))
        elif self.passed:
            text = (f"PASS: correlation {self.correlation:.9g} (>= {t.min_correlation:g}), max relative error "
                    f"{self.max_rel_error:.3g} (<= {t.max_rel_error:g} {where})")
        else:
            said = "; ".join(x for x in (self.cause, self.known) if x)
            head = "FAIL" + (f" — {said}" if said else "")
            kinds = f" [{', '.join(self.kinds)}]" if self.kinds else ""
            text = f"{head}{kinds}: " + "; ".join(self.reasons) + ("" if math.isinf(t.max_rel_error)
                                                                   else f" (relative error {where})")
            text += "".join(f". {w}" for w in self.why)
        return text + "".join(f". {n}" for n in self.notes)


def parity_verdict(metrics: ImageMetrics, thresholds: ParityThresholds = ParityThresholds(),
                   notes: list[str] | None = None, reference: str = "A") -> Verdict:
    """Judge ImageMetrics (`correlation`, and `max_rel_err` over its bright pixels, which must have been computed
    with floor_frac = thresholds.rel_floor). NaN figures (a constant or blank image) fail: parity cannot be shown
    with them."""
    corr = float(metrics.correlation)
    rel = float(metrics.max_rel_err)
    reasons = []
    if not corr >= thresholds.min_correlation:
        reasons.append(f"correlation {corr:.9g} < {thresholds.min_correlation:g}")
    if not rel <= thresholds.max_rel_error:
        reasons.append(f"max relative error {rel:.3g} > {thresholds.max_rel_error:g}")
    ratio, max_abs = float(metrics.sum_ratio), float(metrics.max_abs_diff)
    if thresholds.sum_ratio_min is not None and not ratio >= thresholds.sum_ratio_min:
        reasons.append(f"sum ratio {ratio:.9g} < {thresholds.sum_ratio_min:g}")
    if thresholds.sum_ratio_max is not None and not ratio <= thresholds.sum_ratio_max:
        reasons.append(f"sum ratio {ratio:.9g} > {thresholds.sum_ratio_max:g}")
    if thresholds.max_abs_max is not None and not max_abs <= thresholds.max_abs_max:
        reasons.append(f"max |B - A| {max_abs:.6g} > {thresholds.max_abs_max:g}")
    kinds = divergence_kinds(metrics, thresholds) if reasons else []
    return Verdict(not reasons, corr, rel, thresholds, reasons, list(notes or []), reference, kinds)


def divergence_kinds(metrics: ImageMetrics, thresholds: ParityThresholds) -> list[str]:
    """"scale", "geometry", "per-pixel" (Verdict.kinds) of a failing comparison; "per-pixel" when neither of the
    others explains the failure."""
    kinds = []
    ratio = float(metrics.sum_ratio)
    scale = math.isfinite(ratio) and ratio > 0 and abs(math.log(ratio)) > math.log1p(thresholds.scale_tol)
    if scale or (math.isfinite(ratio) and ratio <= 0):
        kinds.append("scale")
    frac = float(metrics.peaks.fraction_matched)
    if math.isfinite(frac) and frac < 1.0:
        kinds.append("geometry")
    corr = float(metrics.correlation)
    if not corr >= thresholds.min_correlation or (not scale and not float(metrics.max_rel_err)
                                                   <= thresholds.max_rel_error):
        kinds.append("per-pixel")
    return kinds or ["per-pixel"]

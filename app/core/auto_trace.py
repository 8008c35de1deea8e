"""Auto-trace on FAIL (issue 21): when a comparison fails, trace a few chosen pixels on both sides, diff each
pixel's whole calculation (tracing.pipeline), test the known-divergence ledger (tracing.ledger) and say the cause
in the verdict: "FAIL — first divergent quantity: k at φ tick 0 at (30, 33) (Δk 8.0e-3); explained: C φ=0
carry-over (known)".

Qt-free; `nbparity compare`, the sweep task (app/sweep/task.py) and the window's run model call `auto_trace`.

Pixels (`choose_pixels`, distinct, in this order): the worst by relative error |B−A|/|A| over the bright pixels
of A (A ≥ metrics.bright_threshold), the worst by absolute difference |B−A|, and the brightest pixel of A (a peak);
each criterion takes its next best pixel when its best is already chosen. Only pixels inside the command's -roi,
with finite values on both sides, are candidates.

Time: the loop stops before a pixel once `budget_s` seconds (monotonic clock) are spent, and a trace still running
at the deadline is cancelled (the engines' own cancel path: a C process is killed, torch stops between chunks);
`AutoTrace.cut_short` and the verdict say so and name the pixels left out. A side whose engine prints no per-φ trace
(upstream nanoBragg) gets its per-φ intensity curve where it can (session.inspect_pixel), and the verdict names it.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tracing.ledger import Ledger, LedgerMatch, match_ledger
from tracing.metrics import ImageMetrics, Verdict
from tracing.pipeline import PipelineDiff, PipelineRow, abs_delta, diff_pipeline
from app.core.sides import SIDES
from tracing.metrics import ParityThresholds

log = logging.getLogger(__name__)

REASONS: tuple[str, ...] = ("worst relative error", "worst absolute difference", "brightest peak")
DEFAULT_BUDGET_S = 120.0
_CANDIDATES = 16   # best pixels kept per criterion, enough to find one not already chosen


@dataclass(frozen=True)
class AutoTraceOptions:
    """enabled: trace on FAIL at all; budget_s: wall-clock seconds the traces may take (> 0)."""

    enabled: bool = True
    budget_s: float = DEFAULT_BUDGET_S

    def validate(self) -> None:
        if not (isinstance(self.budget_s, (int, float)) and math.isfinite(self.budget_s) and self.budget_s > 0):
            raise ValueError(f"auto-trace budget {self.budget_s!r}: expected a positive number of seconds")


@dataclass(frozen=True)
class ChosenPixel:
    """A pixel (slow, fast), zero-based, why it was chosen (one of REASONS) and both images' values there
    (photons/pixel)."""

    slow: int
    fast: int
    reason: str
    a: float
    b: float

    @property
    def where(self) -> str:
        return f"({self.slow}, {self.fast})"


@dataclass(frozen=True)
class TracedPixel:
    """One chosen pixel after tracing: diff is None unless both sides printed a trace; note says why not."""

    pixel: ChosenPixel
    diff: PipelineDiff | None
    note: str = ""


@dataclass(frozen=True)
class AutoTrace:
    """The result. traced: pixels whose traces came back (in REASONS order); skipped: chosen but not traced
    because the budget ran out; inspections: session PixelInspections of the traced pixels (for bundles and the
    inspector); untraced: sentences naming engines whose per-pixel quantities could not be compared; match: the
    ledger's reading of the diffs (None without a ledger); elapsed_s / budget_s: seconds."""

    traced: tuple[TracedPixel, ...]
    skipped: tuple[ChosenPixel, ...]
    inspections: tuple = ()
    untraced: tuple[str, ...] = ()
    match: LedgerMatch | None = None
    budget_s: float = DEFAULT_BUDGET_S
    elapsed_s: float = 0.0
    names: tuple[str, str] = ("A", "B")

    @property
    def cut_short(self) -> bool:
        return bool(self.skipped)

    def first(self) -> tuple[ChosenPixel, PipelineRow] | None:
        """The first divergent quantity of the first traced pixel that has one (worst relative error first)."""
        for t in self.traced:
            if t.diff is not None and t.diff.first_divergent is not None:
                return t.pixel, t.diff.first_divergent
        return None

    # ---- the words ------------------------------------------------------------------------------------------------
    def quantity(self) -> str:
        """'k', '' when nothing diverged, 'not traced' when no pixel was traced on both sides."""
        f = self.first()
        if f is not None:
            return f[1].name
        return "" if any(t.diff is not None for t in self.traced) else "not traced"

    def where(self) -> str:
        """'φ tick 0 at (30, 33)' (per-φ rows, and the lattice block, which both dialects print at tick 0),
        'at (30, 33)' (another pixel-level quantity), or ''."""
        f = self.first()
        if f is None:
            return ""
        pixel, row = f
        tick = row.tick if row.tick is not None else (0 if row.stage == "lattice" else None)
        return f"φ tick {tick} at {pixel.where}" if tick is not None else f"at {pixel.where}"

    def explained_by(self) -> str:
        """'C φ=0 carry-over (known)', 'unexplained', 'in part: … ; unexplained: …', or '' (nothing to explain)."""
        if self.first() is None:
            return ""
        if self.match is None:
            return "ledger not consulted"
        if self.match.fully_explained:
            return ", ".join(f"{t} (known)" for t in self.match.explained)
        if self.match.explained:
            return "in part: " + ", ".join(f"{t} (known)" for t in self.match.explained) + "; unexplained"
        return "unexplained"

    def cause(self) -> str:
        """The verdict's head: 'first divergent quantity: k at φ tick 0 at (30, 33) (Δk 8.0e-3)', or what was
        found instead."""
        f = self.first()
        if f is not None:
            pixel, row = f
            delta = abs_delta(row)
            d = f" (Δ{row.name} {delta:.1e})" if delta is not None and math.isfinite(delta) else ""
            where = self.where()
            return f"first divergent quantity: {row.name} {'at ' if where.startswith('φ') else ''}{where}{d}"
        traced = [t for t in self.traced if t.diff is not None]
        if traced:
            return (f"no divergent quantity in the traced pixel{'s' if len(traced) > 1 else ''} "
                    + ", ".join(t.pixel.where for t in traced))
        if not self.traced and self.skipped:
            return "no pixel traced within the auto-trace budget"
        return "first divergent quantity unknown: no pixel was traced on both sides"

    def explanation(self) -> str:
        """The ledger's reading of the traced pixels ('explained: C φ=0 carry-over (known)', 'unexplained: k (per
        φ, tick 3)'), '' when nothing diverged or no ledger was consulted."""
        if self.first() is None or self.match is None:
            return ""
        return self.match.text()

    def notes(self) -> list[str]:
        """Sentences for Verdict.why: the traced pixels, what could not be traced, the budget."""
        out = []
        if self.traced:
            out.append("auto-trace: " + ", ".join(f"{t.pixel.reason} {t.pixel.where}" for t in self.traced)
                       + f" traced in {self.elapsed_s:.1f} s")
        out += [f"auto-trace: {u}" for u in self.untraced]
        if self.skipped:
            out.append(f"auto-trace: cut short by its budget of {self.budget_s:g} s; not traced: "
                       + ", ".join(f"{p.reason} {p.where}" for p in self.skipped))
        return out

    def sentence(self) -> str:
        """'FAIL — first divergent quantity: …; explained: …' (the verdict's head)."""
        return "FAIL — " + "; ".join(x for x in (self.cause(), self.explanation()) if x)

    def to_dict(self) -> dict:
        """JSON-ready summary (for a sweep's record and a bundle)."""
        return {"quantity": self.quantity(), "where": self.where(), "explained_by": self.explained_by(),
                "cause": self.cause(), "sentence": self.sentence(), "cut_short": self.cut_short,
                "budget_s": self.budget_s, "elapsed_s": self.elapsed_s, "untraced": list(self.untraced),
                "pixels": [{"slow": t.pixel.slow, "fast": t.pixel.fast, "reason": t.pixel.reason,
                            "first_divergent": (t.diff.sentence if t.diff is not None else t.note)}
                           for t in self.traced],
                "skipped": [{"slow": p.slow, "fast": p.fast, "reason": p.reason} for p in self.skipped]}


# ---- choosing pixels --------------------------------------------------------------------------------------------
def _roi_window(shape: tuple[int, int], roi) -> tuple[slice, slice]:
    if roi is None:
        return slice(0, shape[0]), slice(0, shape[1])
    xmin, xmax, ymin, ymax = (int(v) for v in roi)
    return slice(max(ymin, 0), min(ymax, shape[0] - 1) + 1), slice(max(xmin, 0), min(xmax, shape[1] - 1) + 1)


def _best(score: np.ndarray, n: int = _CANDIDATES) -> list[int]:
    """Flat indices of the n largest finite scores, largest first (ties: lower index first)."""
    flat = np.where(np.isfinite(score), score, -np.inf).ravel()
    n = min(n, flat.size)
    if n == 0:
        return []
    top = np.argpartition(-flat, n - 1)[:n]
    top = top[np.isfinite(flat[top])]
    return sorted(top.tolist(), key=lambda i: (-flat[i], i))


def choose_pixels(a: np.ndarray, b: np.ndarray, metrics: ImageMetrics | None = None, roi=None,
                  ) -> tuple[ChosenPixel, ...]:
    """Up to three distinct pixels (module docstring), (slow, fast) of the full image. a, b: float images
    (slow, fast), one shape; metrics: for the bright threshold (else ParityThresholds.rel_floor of max |A|);
    roi: C -roi order."""
    if a.shape != b.shape or a.ndim != 2:
        return ()
    ss, fs = _roi_window(a.shape, roi)
    wa = np.asarray(a[ss, fs], dtype=np.float64)
    wb = np.asarray(b[ss, fs], dtype=np.float64)
    ok = np.isfinite(wa) & np.isfinite(wb)
    if not ok.any():
        return ()
    diff = np.where(ok, np.abs(wb - wa), np.nan)
    bright = metrics.bright_threshold if metrics is not None and math.isfinite(metrics.bright_threshold) else \
        ParityThresholds().rel_floor * float(np.nanmax(np.abs(np.where(ok, wa, np.nan))))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(ok & (np.abs(wa) >= bright) & (np.abs(wa) > 0), diff / np.abs(wa), np.nan)
    scores = (rel, diff, np.where(ok, wa, np.nan))
    chosen: list[ChosenPixel] = []
    taken: set[tuple[int, int]] = set()
    for reason, score in zip(REASONS, scores, strict=True):
        for i in _best(score):
            s, f = divmod(i, wa.shape[1])
            if reason != "brightest peak" and not score.ravel()[i] > 0:
                break   # no difference left to chase
            key = (s + ss.start, f + fs.start)
            if key in taken:
                continue
            taken.add(key)
            chosen.append(ChosenPixel(key[0], key[1], reason, float(wa[s, f]), float(wb[s, f])))
            break
    return tuple(chosen)


# ---- the bounded loop -------------------------------------------------------------------------------------------
class _BudgetCancel(threading.Event):
    """A cancel event that is also set once the budget's deadline has passed, or when the caller's is set
    (engines poll is_set() and sleep on wait(), both of which this honours)."""

    def __init__(self, parent: threading.Event | None, deadline: float, clock: Callable[[], float]):
        super().__init__()
        self._parent, self._deadline, self._clock = parent, deadline, clock

    def is_set(self) -> bool:
        return super().is_set() or (self._parent is not None and self._parent.is_set()) or \
            self._clock() >= self._deadline

    def expired(self) -> bool:
        return self._clock() >= self._deadline


def auto_trace(session, pixels: Sequence[ChosenPixel], *, ledger: Ledger | None = None,
               options: AutoTraceOptions = AutoTraceOptions(), cancel: threading.Event | None = None,
               clock: Callable[[], float] = time.monotonic) -> AutoTrace:
    """Trace `pixels` on both sides of `session` (app.core.session.ComparisonSession) within options.budget_s, diff
    each pixel's whole calculation and test the ledger. Never raises for engine failures (they become notes)."""
    options.validate()
    names = (session.label("a"), session.label("b"))
    t0 = clock()
    budget = _BudgetCancel(cancel, t0 + options.budget_s, clock)
    traced: list[TracedPixel] = []
    inspections = []
    skipped: list[ChosenPixel] = []
    untraced: dict[str, str] = {}
    for i, p in enumerate(pixels):
        if budget.is_set():
            skipped = list(pixels[i:])
            break
        insp = session.inspect_pixel(p.slow, p.fast, budget)
        if budget.expired() and any(e == "cancelled" for e in insp.errors.values()):
            skipped = list(pixels[i:])
            break
        if cancel is not None and cancel.is_set():
            break
        inspections.append(insp)
        traced.append(_traced(session, p, insp, names, untraced))
    diffs = [t.diff for t in traced if t.diff is not None]
    match = match_ledger(ledger, diffs, session.thresholds) if ledger is not None and diffs else None
    result = AutoTrace(tuple(traced), tuple(skipped), tuple(inspections), tuple(untraced.values()), match,
                       options.budget_s, clock() - t0, names)
    log.info("auto-trace: %s (%d traced, %d skipped, %.2f s)", result.sentence(), len(traced), len(skipped),
             result.elapsed_s)
    return result


def _traced(session, p: ChosenPixel, insp, names: tuple[str, str], untraced: dict[str, str]) -> TracedPixel:
    ta, tb = insp.traces.get("a"), insp.traces.get("b")
    for k in SIDES:
        label = names[0 if k == "a" else 1]
        if k in insp.errors:
            untraced.setdefault(k, f"{label} could not trace: {insp.errors[k]}")
        elif (tr := insp.traces.get(k)) is not None and not (tr.scalars or tr.samples):
            curve = insp.curves.get(k)
            how = (f"its per-φ intensity curve was computed instead (sum {curve.sum_value:.6g} vs its image "
                   f"{curve.image_value:.6g} at {p.where})" if curve is not None else "no per-φ curve either")
            untraced.setdefault(k, f"{label} prints no trace, so its per-pixel quantities could not be compared; "
                                   + how)
    if ta is None or tb is None or not (ta.scalars or ta.samples) or not (tb.scalars or tb.samples):
        return TracedPixel(p, None, "not traced on both sides")
    return TracedPixel(p, diff_pipeline(ta, tb, session.thresholds, names=names))


def with_cause(verdict: Verdict, result: AutoTrace | None) -> Verdict:
    """A copy of a failing verdict with the auto-trace's cause, the ledger's reading of its pixels (Verdict.known)
    and its notes (Verdict.why); a PASS, or no result, unchanged."""
    if result is None or verdict.passed:
        return verdict
    return dataclasses.replace(verdict, cause=result.cause(), known=result.explanation() or verdict.known,
                               why=list(verdict.why) + [n for n in result.notes() if n not in verdict.why])


def record_with_cause(record, result: AutoTrace | None):
    """A ComparisonRecord whose verdict carries the auto-trace's cause (`with_cause`); unchanged without one."""
    if result is None or record.verdict is None:
        return record
    return dataclasses.replace(record, verdict=with_cause(record.verdict, result))


def run_on_fail(session, a, b, metrics: ImageMetrics, verdict: Verdict, *, ledger: Ledger | None,
                options: AutoTraceOptions, cancel: threading.Event | None = None) -> AutoTrace | None:
    """The one call compare, the sweep task and the window make: None unless `verdict` failed and auto-trace is
    on; else pixels of the a (A) and b (B) ImageResults chosen and traced within the budget."""
    if verdict.passed or not options.enabled:
        return None
    pixels = choose_pixels(a.image, b.image, metrics, session.config.output.roi)
    return auto_trace(session, pixels, ledger=ledger, options=options, cancel=cancel)


# ---- command-line options (compare, gui, sweep) --------------------------------------------------------------------
def _budget(text: str) -> float:
    import argparse
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number of seconds")
    return v


def add_cli_options(p) -> None:
    """--no-auto-trace and --auto-trace-budget SECONDS on an argparse parser."""
    p.add_argument("--no-auto-trace", action="store_true",
                   help="on FAIL, do not trace the worst pixels automatically")
    p.add_argument("--auto-trace-budget", type=_budget, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                   help=f"on FAIL, time the automatic traces may take (default {DEFAULT_BUDGET_S:g} s; the verdict "
                        "says when it cut them short)")


def options_from_args(opts) -> AutoTraceOptions:
    return AutoTraceOptions(not getattr(opts, "no_auto_trace", False),
                            getattr(opts, "auto_trace_budget", DEFAULT_BUDGET_S))

"""A verdict that says why: the parity Verdict (tracing.metrics) with the scale decomposed into the scaling factors
both engines report (tracing.scale), what could not be traced, and the known-divergence ledger's reading
(tracing.ledger) of the traced pixels' pipeline diffs (tracing.pipeline)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .ledger import Ledger, match_ledger
from .metrics import ImageMetrics, Verdict
from .pipeline import PipelineDiff
from .records import PixelTrace
from .scale import ScaleFactors, explain_scale, factors_from_trace, merge


def explain_verdict(verdict: Verdict, metrics: ImageMetrics, *, names: tuple[str, str] = ("A", "B"),
                    traces: Sequence[tuple[PixelTrace | None, PixelTrace | None]] = (),
                    diffs: Sequence[PipelineDiff] = (), logs: tuple[ScaleFactors, ScaleFactors] | None = None,
                    ledger: Ledger | None = None) -> Verdict:
    """A copy of `verdict` with `why` and `known` filled in (a PASS is returned unchanged).

    traces: (A, B) pixel traces (either may be None); their scaling factors come first, then `logs` (factors read
    from each engine's console report). diffs: pipeline diffs of pixels both sides traced, for the ledger.
    """
    if verdict.passed:
        return verdict
    why: list[str] = []
    fa = merge(*[factors_from_trace(a) for a, _ in traces if a is not None], *([logs[0]] if logs else []))
    fb = merge(*[factors_from_trace(b) for _, b in traces if b is not None], *([logs[1]] if logs else []))
    if "scale" in verdict.kinds:
        why.append("scale: " + explain_scale(float(metrics.sum_ratio), fa, fb, names,
                                             verdict.thresholds.pipeline_rel_tol).sentence)
    untraced = [names[i] for i in (0, 1)
                if traces and all((t[i] is None or not (t[i].scalars or t[i].samples)) for t in traces)]
    for name in untraced:
        why.append(f"{name} prints no trace: its per-pixel quantities could not be compared (only images and "
                   "per-φ intensity curves)")
    known = verdict.known   # what an earlier reading said (app/auto_trace.py), unless a ledger is tested here
    if ledger is not None:
        known = match_ledger(ledger, diffs, verdict.thresholds).text()
    return dataclasses.replace(verdict, why=list(verdict.why) + why, known=known)

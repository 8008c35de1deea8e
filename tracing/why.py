"""A verdict that says why: the parity Verdict (tracing.metrics) with the scale decomposed into the scaling factors
both engines report (tracing.scale), what could not be traced, and the known-divergence ledger's reading
(tracing.ledger) of the traced pixels' pipeline diffs (tracing.pipeline).

Verdict.known, the headline after "FAIL —", reads in this order (each part only when there is something to say):
"scale: B is 1.3e5 × A (fluence 1.259e29 vs 1e24 photons/m²; × 1.05 not in the reported factors)" (when a scaling
factor differs),
"per-pixel: explained: C φ=0 carry-over (known)" (the ledger's reading of what the scale part does not already say;
without "per-pixel: " when there is no scale part), "B's trace: unit problems (hkl_frac, k in another unit;
V_cell implausible; F_latt computed from its unconverted Miller index)". A unit problem is a fault of that
engine's trace, never a physics divergence.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from .ledger import Ledger, match_ledger
from .metrics import ImageMetrics, Verdict
from .pipeline import PipelineDiff, PipelineRow
from .records import PixelTrace
from .scale import ScaleExplanation, ScaleFactors, explain_scale, factors_from_trace, merge

_KIND_WORDS = (("unit", "in another unit"), ("implausible", "implausible"),
               ("derived", "computed from its unconverted Miller index"))


def scale_headline(exp: ScaleExplanation, names: tuple[str, str]) -> str:
    """'scale: B is 1.3e5 × A (fluence 1.259e29 vs 1e24 photons/m²; × 1.05 not in the reported factors)'."""
    head = f"scale: {names[1]} is {exp.sum_ratio:.2g} × {names[0]}"
    parts = [f"{c.name} {c.b:.4g} vs {c.a:.4g}{' ' + c.unit if c.unit else ''}" for c in exp.causes]
    if abs(exp.residual - 1.0) > 1e-2:   # NaN residual: nothing said
        parts.append(f"× {exp.residual:.3g} not in the reported factors")
    return f"{head} ({'; '.join(parts)})"


def without_scale(diff: PipelineDiff, exp: ScaleExplanation | None, tol: float) -> PipelineDiff:
    """The diff with the rows the scale part already says marked not diverged: the scaling factors named as its
    causes, and "final" rows whose B/A ratio is the product of the causes' ratios (to `tol`, relative). What the
    scale does not account for stays for the ledger's per-pixel reading."""
    if exp is None or not exp.causes:
        return diff
    names = {c.name for c in exp.causes}
    product = math.prod(c.ratio for c in exp.causes)

    def said(r: PipelineRow) -> bool:
        if r.stage == "scaling" and r.name in names:
            return True
        if r.stage != "final" or r.a is None or r.b is None or len(r.a) != 1 or len(r.b) != 1 or r.a[0] == 0:
            return False
        return abs(r.b[0] / r.a[0] / product - 1.0) <= tol

    rows = tuple(dataclasses.replace(r, diverged=False) if r.diverged and said(r) else r for r in diff.rows)
    return dataclasses.replace(diff, rows=rows)


def unit_headline(diffs: Sequence[PipelineDiff], names: tuple[str, str]) -> list[str]:
    """Per side, "B's trace: unit problems (k, hkl_frac in another unit; F_latt computed from its unconverted
    Miller index)" over the diffs' unit problems (each quantity once)."""
    out = []
    for side in (0, 1):
        groups = []
        for kind, words in _KIND_WORDS:
            qs = list(dict.fromkeys(q for d in diffs for s, q, k in d.unit_quantities if s == side and k == kind))
            if qs:
                groups.append(f"{', '.join(qs)} {words}")
        if groups:
            out.append(f"{names[side]}'s trace: unit problems ({'; '.join(groups)})")
    return out


def _prints_nothing(trace: PixelTrace | None) -> bool:
    """No trace, or one without a single traced quantity."""
    return trace is None or not (trace.scalars or trace.samples)


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
    head: list[str] = []
    exp = None
    if "scale" in verdict.kinds:
        exp = explain_scale(float(metrics.sum_ratio), fa, fb, names, verdict.thresholds.pipeline_rel_tol)
        why.append("scale: " + exp.sentence)
        if exp.causes:   # with no factor to name, the scale is what the per-pixel reading explains (or not)
            head.append(scale_headline(exp, names))
    untraced = [names[i] for i in (0, 1) if traces and all(_prints_nothing(t[i]) for t in traces)]
    for name in untraced:
        why.append(f"{name} prints no trace: its per-pixel quantities could not be compared (only images and "
                   "per-φ intensity curves)")
    known = verdict.known   # what an earlier reading said (app/auto_trace.py), unless a ledger is tested here
    if ledger is not None:
        tol = verdict.thresholds.pipeline_rel_tol
        known = match_ledger(ledger, [without_scale(d, exp, tol) for d in diffs], verdict.thresholds).text()
    if known:
        head.append(f"per-pixel: {known}" if head else known)
    head += unit_headline(diffs, names)
    known = "; ".join(head)
    return dataclasses.replace(verdict, why=list(verdict.why) + why, known=known)

"""The pipeline diff of an inspected pixel, computed Qt-free on the worker that traced it (never the GUI thread).

`pipeline_for` aligns both sides' traces of an app.core.records.PixelInspection quantity by quantity with
tracing.pipeline.diff_pipeline; the result travels to the window as a `PixelPipeline` (the pixel, the diff or why
there is none), next to the inspection itself.

Where the diff finds that a side prints a per-φ quantity in another unit (the port's k at 1e-10 of the Miller
index), `PixelPipeline.traces` holds that side's trace with the quantity converted by the power of ten the diff
applied, and `conversions` says so: the inspector plots and compares those, so a unit bug is neither drawn as a
flat line at 0 nor headlined as a physics divergence. The traces as printed stay in the inspection.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

from tracing.metrics import ParityThresholds
from tracing.names import PHI_QUANTITIES
from tracing.pipeline import PipelineDiff, diff_pipeline
from tracing.records import PLOT_FIELDS, PhiSample, PixelTrace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PixelPipeline:
    """The pipeline diff of pixel (slow, fast); diff None with `reason` when there is none (a side has no trace,
    or the diff failed: the reason says so and the log has the traceback)."""

    slow: int
    fast: int
    diff: PipelineDiff | None
    reason: str = ""
    traces: dict[str, PixelTrace] = field(default_factory=dict)   # side -> trace with units converted (if any)
    conversions: tuple[str, ...] = ()   # the plotted fields converted, e.g. "B's k_frac × 1e+10"


def pipeline_for(insp, thresholds: ParityThresholds | None = None) -> PixelPipeline:
    """The pipeline diff of an inspection (anything with slow, fast, traces {"a", "b"} and labels)."""
    traces = getattr(insp, "traces", {}) or {}
    labels = getattr(insp, "labels", {}) or {}
    ta, tb = traces.get("a"), traces.get("b")
    if ta is None or tb is None:
        missing = [labels.get(k, k.upper()) for k, t in (("a", ta), ("b", tb)) if t is None]
        return PixelPipeline(insp.slow, insp.fast, None, f"no trace from {' and '.join(missing)}")
    names = (labels.get("a", "A"), labels.get("b", "B"))
    try:
        diff = diff_pipeline(ta, tb, thresholds, names=names)
    except Exception as exc:  # noqa: BLE001 - one pixel's diff failing must not hide its per-φ plots
        log.exception("pipeline diff of pixel (%d, %d) failed", insp.slow, insp.fast)
        return PixelPipeline(insp.slow, insp.fast, None, f"the pipeline diff failed: {type(exc).__name__}: {exc}")
    factors = unit_factors(diff)
    converted = {side: convert_trace(traces[side], f) for side, f in factors.items()}
    # The ones the inspector plots are named (the others are in the Pipeline tab's unit problems).
    words = tuple(f"{side.upper()}'s {key} × {factor:g}" for side, f in factors.items() for key, factor in f.items()
                  if key in PLOT_FIELDS)
    return PixelPipeline(insp.slow, insp.fast, diff, traces=converted, conversions=words)


# The trace field of each per-φ quantity (its first raw key), e.g. "k" -> "k_frac".
_PHI_KEYS: dict[str, str] = {q.name: q.aliases[0].key for q in PHI_QUANTITIES}


def unit_factors(diff: PipelineDiff) -> dict[str, dict[str, float]]:
    """side ("a", "b") -> {trace field: power of ten} for the per-φ quantities the diff marked "unit A"/"unit B",
    read off its rows (canonical value / printed value, rounded to a power of ten)."""
    out: dict[str, dict[str, float]] = {}
    for row in diff.rows:
        if row.tick is None or row.status not in ("unit A", "unit B") or row.name not in _PHI_KEYS:
            continue
        side = "a" if row.status == "unit A" else "b"
        conv, raw = (row.a, row.a_raw) if side == "a" else (row.b, row.b_raw)
        ratios = [c / r for c, r in zip(conv or (), raw or (), strict=False) if r != 0 and c != 0]
        if ratios and math.isfinite(ratios[0]):
            factor = 10.0 ** round(math.log10(abs(ratios[0])))
            if factor != 1.0:
                out.setdefault(side, {}).setdefault(_PHI_KEYS[row.name], factor)
    return out


def convert_trace(trace: PixelTrace, factors: dict[str, float]) -> PixelTrace:
    """A copy of `trace` whose per-φ fields in `factors` are multiplied by their factor (scalars untouched)."""
    samples = [PhiSample(s.phi_tic, s.phi_deg, s.path,
                         {k: v * factors.get(k, 1.0) for k, v in s.values.items()}) for s in trace.samples]
    notes = list(trace.notes) + [f"{k} × {f:g} (unit problem found by the pipeline diff)" for k, f in factors.items()]
    return dataclasses.replace(trace, samples=samples, notes=notes)

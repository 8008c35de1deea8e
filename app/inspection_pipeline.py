"""The pipeline diff of an inspected pixel, computed Qt-free on the worker that traced it (never the GUI thread).

`pipeline_for` aligns both sides' traces of an app.session.PixelInspection quantity by quantity with
tracing.pipeline.diff_pipeline; the result travels to the window as a `PixelPipeline` (the pixel, the diff or why
there is none), next to the inspection itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from tracing.metrics import ParityThresholds
from tracing.pipeline import PipelineDiff, diff_pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PixelPipeline:
    """The pipeline diff of pixel (slow, fast); diff None with `reason` when there is none (a side has no trace,
    or the diff failed: the reason says so and the log has the traceback)."""

    slow: int
    fast: int
    diff: PipelineDiff | None
    reason: str = ""


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
    return PixelPipeline(insp.slow, insp.fast, diff)

"""The records of a comparison, Qt-free and free of the session: one side's render (`EngineOutcome`), a pixel's
traces on both sides (`PixelInspection`) and the immutable `ComparisonRecord` that app/bundle/snapshot.py writes
and app/bundle/bundle_reader.py reads back. Images are float32 (slow, fast) photons/pixel (spec/decisions.md D6).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from app.engines.base import PhiCurve
from simulator.config import NanoBraggConfig
from tracing.metrics import ImageMetrics, ParityThresholds, Verdict
from tracing.phi_compare import PhiComparison
from tracing.records import ImageResult, PixelTrace


@dataclass
class EngineOutcome:
    """One side's render: either `result` or `error` (+ `log_tail`), or `cancelled`. `engine` is the side's label;
    `side` is "a" or "b"."""

    engine: str
    result: ImageResult | None = None
    error: str | None = None
    log_tail: str = ""
    cancelled: bool = False
    side: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None and not self.cancelled


@dataclass
class PixelInspection:
    """Both sides' traces of pixel (slow, fast) and their per-phi comparison (deltas are B − A).

    traces / errors / log_tails / curves: keyed by side ("a", "b"). curves: for a side whose trace has no per-phi
    samples (an upstream nanoBragg, capability "none"): the per-tick intensity from single-tick runs, with the
    engine's own image value at the pixel and their sum (app.engines.base.PhiCurve). labels: side -> engine label.
    """

    slow: int
    fast: int
    labels: dict[str, str] = field(default_factory=dict)
    traces: dict[str, PixelTrace] = field(default_factory=dict)
    comparison: PhiComparison | None = None
    errors: dict[str, str] = field(default_factory=dict)
    log_tails: dict[str, str] = field(default_factory=dict)
    curves: dict[str, PhiCurve] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """File-name stem of this pixel's tables in a bundle."""
        return f"pixel_s{self.slow}_f{self.fast}"

    @property
    def pipeline_stem(self) -> str:
        """File-name stem of this pixel's pipeline diff (not pixel_s*: tools glob pixel_s*_f*.json for tables)."""
        return f"pipeline_s{self.slow}_f{self.fast}"

    def describe(self) -> str:
        """One line for a console or a summary: the first divergence, or why there is no comparison."""
        head = f"pixel (slow={self.slow}, fast={self.fast})"
        problems = [f"{self.labels.get(k, k)} failed: {e}" for k, e in self.errors.items()]
        for k, curve in self.curves.items():
            text = (f"{self.labels.get(k, k)} prints no per-phi trace; its per-tick intensity comes from "
                    f"single-tick runs (sum {curve.sum_value:.9g}, image {curve.image_value:.9g})")
            problems.append(text + (f": {curve.explanation}" if curve.explanation else ""))
        if self.comparison is not None:
            return f"{head}: {self.comparison.describe()}" + "".join(f"; {p}" for p in problems)
        return f"{head}: " + ("; ".join(problems) if problems else "no per-phi samples to compare")

    # Shorthands of the side-keyed tables above.
    @property
    def trace_a(self) -> PixelTrace | None:
        return self.traces.get("a")

    @property
    def trace_b(self) -> PixelTrace | None:
        return self.traces.get("b")

    @property
    def error_a(self) -> str | None:
        return self.errors.get("a")

    @property
    def error_b(self) -> str | None:
        return self.errors.get("b")

    @property
    def curve_a(self) -> list[tuple[float, float]] | None:
        curve = self.curves.get("a")
        return list(curve.ticks) if curve is not None else None


@dataclass(frozen=True)
class ComparisonRecord:
    """A finished comparison, immutable: what app/bundle/snapshot.py writes. sides: ("a", "b") -> Side summary dicts;
    outcomes: side -> EngineOutcome or None (not run); inspections in tracing order; manifest: provenance."""

    argv: tuple[str, ...]
    config: NanoBraggConfig
    labels: tuple[tuple[str, str], ...]
    outcomes: tuple[tuple[str, EngineOutcome | None], ...]
    metrics: ImageMetrics | None
    verdict: Verdict | None
    inspections: tuple[PixelInspection, ...]
    thresholds: ParityThresholds
    warnings: tuple[str, ...]
    manifest: dict

    def outcome(self, side: str) -> EngineOutcome | None:
        return dict(self.outcomes).get(side)

    def label(self, side: str) -> str:
        return dict(self.labels)[side]

"""The whole calculation of one pixel, diffed: every quantity both engines trace, aligned by canonical name, in the
order nanoBragg computes them, each with both values (canonical unit and as printed), relative Δ and a status.

Public contract (the window's pipeline tab builds on it): `PipelineRow`, `PipelineDiff`, `diff_pipeline`.
"""
from __future__ import annotations

from dataclasses import dataclass

from .metrics import ParityThresholds
from .records import PixelTrace

STAGES: tuple[str, ...] = ("detector geometry", "pixel position", "scattering", "lattice", "per-φ",
                           "structure factor", "intensity", "scaling", "final")
STATUSES: tuple[str, ...] = ("match", "diverge", "only A", "only B", "unit A", "unit B")


@dataclass(frozen=True)
class PipelineRow:
    """One quantity of one pixel's calculation on both sides.

    stage: one of STAGES (nanoBragg's order). name: canonical quantity name (tracing.names). tick: φ tick for
    per-φ rows, else None. unit: the canonical unit ("Å", "1/Å", "m", "photons/m²", "" dimensionless, ...).
    a / b: the side's value(s) in the canonical unit, None when that side does not trace it; a_raw / b_raw: as
    printed. rel_delta: max over components of |a-b| / max(|a|, |b|) (0 when both are 0), None when a side lacks it.
    status: "match" | "diverge" | "only A" | "only B" | "unit A" | "unit B" ("unit X": X's trace prints this
    quantity in a wrong unit; the converted values were compared, and the row also diverges when rel_delta exceeds
    the tolerance, which `diverged` tells). note: a sentence, e.g. the conversion applied.
    """

    stage: str
    name: str
    tick: int | None
    unit: str
    a: tuple[float, ...] | None
    b: tuple[float, ...] | None
    a_raw: tuple[float, ...] | None
    b_raw: tuple[float, ...] | None
    rel_delta: float | None
    status: str
    note: str
    diverged: bool = False


@dataclass(frozen=True)
class PipelineDiff:
    """rows in nanoBragg's computation order; first_divergent: the first row whose values differ beyond tolerance
    (after unit conversion); sentence names it; unit_problems: sentences naming the engine and the field."""

    rows: tuple[PipelineRow, ...]
    first_divergent: PipelineRow | None
    sentence: str
    unit_problems: tuple[str, ...]


def diff_pipeline(a: PixelTrace, b: PixelTrace, thresholds: ParityThresholds | None = None,
                  names: tuple[str, str] = ("A", "B")) -> PipelineDiff:
    """Align two pixel traces quantity by quantity (see module docstring)."""
    raise NotImplementedError

"""The whole calculation of one pixel, diffed: every quantity both engines trace, aligned by canonical name, in the
order nanoBragg computes them, each with both values (canonical unit and as printed), relative Δ and a status.

Public contract (the window's pipeline tab builds on it): `PipelineRow`, `PipelineDiff`, `diff_pipeline`.

Alignment: raw keys are mapped to canonical quantities by tracing.names (one unit each; e.g. the C's
`lambda_meters` × 1e10 is λ in Å). Pixel-level "lattice" rows are the values at φ tick 0 / mosaic 0 (what both
dialects print there); per-φ rows come from each side's first path (PixelTrace.series()), one row per quantity and
tick. Unit sanity (tracing.units) runs per quantity over every sample (every tick for per-φ quantities): a side
that prints a unit of its own gets the status "unit A" / "unit B", its values are converted, and the converted ones
are compared; then tracing.derived marks the rows a side computed from its unconverted Miller index (a trace
bug downstream of its unit problem) as "unit A" / "unit B", not diverged.
Divergence: Miller indices (h, k, l, hkl_frac, hkl_rounded) when max |a - b| > thresholds.phi_tol
(absolute, as the per-φ compare); every other quantity when rel_delta > thresholds.pipeline_rel_tol.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .metrics import ParityThresholds
from .names import PHI_QUANTITIES, PIXEL_QUANTITIES, STAGES, Quantity, lookup
from .records import PhiSample, PixelTrace
from .units import UnitFinding, lone_finding, paired_finding

__all__ = ["STAGES", "STATUSES", "PipelineRow", "PipelineDiff", "diff_pipeline", "abs_delta"]
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
    (after unit conversion); sentence names it; unit_problems: sentences naming the engine and the field.
    unit_quantities: (side 0/1, canonical name, kind) of each unit problem, kind "unit" (another unit than the
    other side's), "implausible" (one side alone) or "derived" (computed from the side's unconverted Miller index,
    tracing.derived)."""

    rows: tuple[PipelineRow, ...]
    first_divergent: PipelineRow | None
    sentence: str
    unit_problems: tuple[str, ...]
    unit_quantities: tuple[tuple[int, str, str], ...] = ()


def diff_pipeline(a: PixelTrace, b: PixelTrace, thresholds: ParityThresholds | None = None,
                  names: tuple[str, str] = ("A", "B")) -> PipelineDiff:
    """Align two pixel traces quantity by quantity (see module docstring)."""
    t = thresholds or ParityThresholds()
    rows: list[PipelineRow] = []
    findings: list[UnitFinding] = []
    for stage in STAGES:
        if stage == "per-φ":
            rows += _phi_rows(a, b, t, names, findings)
            continue
        for q in (q for q in PIXEL_QUANTITIES if q.stage == stage):
            ha, hb = lookup(a.scalars, q), lookup(b.scalars, q)
            if ha is None and hb is None:
                continue
            raw_a = tuple(ha[1]) if ha else None
            raw_b = tuple(hb[1]) if hb else None
            conv_a = tuple(v * ha[0].factor for v in ha[1]) if ha else None
            conv_b = tuple(v * hb[0].factor for v in hb[1]) if hb else None
            finding = _unit_check(q, [conv_a] if conv_a else [], [conv_b] if conv_b else [], names, "")
            if finding is not None:
                findings.append(finding)
            alias_note = "; ".join(f"{names[i]} prints {h[0].key} (× {h[0].factor:g} to {q.unit})"
                                   for i, h in enumerate((ha, hb)) if h is not None and h[0].factor != 1.0)
            rows.append(_row(q, None, conv_a, conv_b, raw_a, raw_b, finding, t, alias_note, names))
    # Values a side's trace computed from its wrong-unit Miller index are trace bugs, not divergences.
    from .derived import mark_derived   # derived imports PipelineRow from here
    rows, derived, marked = mark_derived(rows, a, b, findings, names)
    first = next((r for r in rows if r.diverged), None)
    kinds = tuple((f.side, f.quantity, "unit" if f.paired else "implausible") for f in findings)
    return PipelineDiff(tuple(rows), first, _sentence(rows, first, names),
                        tuple(f.sentence for f in findings) + tuple(derived),
                        kinds + tuple((side, name, "derived") for side, name in marked))


def _unit_check(q: Quantity, va: list[tuple[float, ...]], vb: list[tuple[float, ...]], names: tuple[str, str],
                where: str) -> UnitFinding | None:
    if va and vb:
        return paired_finding(q, va, vb, names, where)
    if va:
        return lone_finding(q, va, 0, names, where)
    if vb:
        return lone_finding(q, vb, 1, names, where)
    return None


def _phi_value(s: PhiSample | None, q: Quantity) -> tuple[float, ...] | None:
    if s is None:
        return None
    for al in q.aliases:
        v = s.get(al.key)
        if v is not None:
            return (v * al.factor,)
    return None


def _phi_rows(a: PixelTrace, b: PixelTrace, t: ParityThresholds, names: tuple[str, str],
              findings: list[UnitFinding]) -> list[PipelineRow]:
    sa = {s.phi_tic: s for s in a.series()}
    sb = {s.phi_tic: s for s in b.series()}
    ticks = sorted(set(sa) | set(sb))
    per_q: dict[str, tuple[Quantity, dict[int, tuple[float, ...] | None], dict[int, tuple[float, ...] | None],
                           UnitFinding | None]] = {}
    for q in PHI_QUANTITIES:
        va = {k: _phi_value(sa.get(k), q) for k in ticks}
        vb = {k: _phi_value(sb.get(k), q) for k in ticks}
        if all(v is None for v in va.values()) and all(v is None for v in vb.values()):
            continue
        pairs = [(x, y) for k in ticks if (x := va[k]) is not None and (y := vb[k]) is not None]
        if pairs:
            finding = paired_finding(q, [x for x, _ in pairs], [y for _, y in pairs], names, " (per φ)")
        else:
            finding = _unit_check(q, [v for v in va.values() if v], [v for v in vb.values() if v], names,
                                  " (per φ)")
        if finding is not None:
            findings.append(finding)
        per_q[q.name] = (q, va, vb, finding)
    rows = []
    for k in ticks:
        for q, va, vb, finding in per_q.values():
            if va[k] is None and vb[k] is None:
                continue
            rows.append(_row(q, k, va[k], vb[k], va[k], vb[k], finding, t, "", names))
    return rows


def _row(q: Quantity, tick: int | None, a: tuple[float, ...] | None, b: tuple[float, ...] | None,
         a_raw: tuple[float, ...] | None, b_raw: tuple[float, ...] | None, finding: UnitFinding | None,
         t: ParityThresholds, note: str, names: tuple[str, str]) -> PipelineRow:
    """One row: the unit finding's conversion applied, Δ and status."""
    if finding is not None:
        if finding.side == 0 and a is not None:
            a = tuple(v * finding.factor for v in a)
        elif finding.side == 1 and b is not None:
            b = tuple(v * finding.factor for v in b)
        side = names[finding.side]
        how = "is in another unit" if finding.paired else "is implausible"
        note = "; ".join(x for x in (note, f"{side}'s {q.name} {how}: converted × {finding.factor:g}") if x)
    rel = delta = None
    diverged = False
    if a is not None and b is not None:
        delta, rel = _deltas(a, b)
        if q.miller:
            diverged = not delta <= t.phi_tol
        else:
            diverged = not rel <= t.pipeline_rel_tol
    if finding is not None:
        status = "unit A" if finding.side == 0 else "unit B"
    elif a is not None and b is not None:
        status = "diverge" if diverged else "match"
    else:
        status = "only A" if a is not None else "only B"
    return PipelineRow(q.stage, q.name, tick, q.unit, a, b, a_raw, b_raw, rel, status, note, diverged)


def _deltas(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float]:
    """(max |a_i - b_i|, that over max |a_i|, |b_i|); NaN / inf / unequal lengths give (inf, inf); 0 / 0 is 0."""
    if len(a) != len(b) or not all(math.isfinite(v) for v in a + b):
        return math.inf, math.inf
    delta = max(abs(x - y) for x, y in zip(a, b, strict=True))
    scale = max(max(abs(x), abs(y)) for x, y in zip(a, b, strict=True))
    return delta, (delta / scale if scale > 0 else 0.0)


def abs_delta(row: PipelineRow) -> float | None:
    """max |a - b| of a row in its canonical unit (None when a side lacks it)."""
    if row.a is None or row.b is None:
        return None
    return _deltas(row.a, row.b)[0]


def _sentence(rows: list[PipelineRow], first: PipelineRow | None, names: tuple[str, str]) -> str:
    both = sum(1 for r in rows if r.a is not None and r.b is not None)
    if not both:
        return (f"no quantity traced by both {names[0]} and {names[1]} "
                f"({sum(r.a is not None for r in rows)} only in {names[0]}, "
                f"{sum(r.b is not None for r in rows)} only in {names[1]})")
    if first is None:
        return f"no divergent quantity among the {both} traced by both"
    where = f" at φ tick {first.tick}" if first.tick is not None else ""
    if first.stage == "lattice":
        where = " (printed at φ tick 0, mosaic 0)"
    delta = abs_delta(first)
    return f"first divergent quantity: {first.name}{where} (Δ {delta:.1e}, rel {first.rel_delta:.1e})"

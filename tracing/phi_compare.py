"""Per-φ comparison of two pixel traces (C versus PyTorch): deltas per tick and the first divergence.

Rows are paired by phi_tic, not by list position (the old compare script paired by position, spec §11.5, which
silently misaligns when one engine skips or repeats a tick). Deltas are py − c, so for the CLI-FLAGS-003 pixel the
C-PARITY-001 tick gives Δk = −0.589139 − (−0.607256) = +1.81e-2 (spec §8.3).

Unit sanity (tracing.units): where one side's h, k or l is a power of ten of the other's at every common tick (the
real port prints k_frac at 1e-10 of the index), that side's values are converted before the deltas are taken and
`unit_notes` says so: a unit bug is never reported as a divergence of the physics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .names import PHI_QUANTITIES
from .records import PathKey, PhiSample, PixelTrace
from .units import paired_finding

HKL_FIELDS: tuple[str, ...] = ("h_frac", "k_frac", "l_frac")
_SHORT = {"h_frac": "h", "k_frac": "k", "l_frac": "l"}


@dataclass
class PhiRow:
    """One φ tick: each engine's values (None where that engine lacks the tick) and py − c deltas."""

    phi_tic: int
    phi_deg_c: float | None
    phi_deg_py: float | None
    c: dict[str, float]
    py: dict[str, float]
    delta: dict[str, float]          # py − c for every common numeric field present in both at this tick
    diverged: bool = False           # some |Δ| of h, k, l > tol at this tick

    @property
    def phi_deg(self) -> float | None:
        return self.phi_deg_c if self.phi_deg_c is not None else self.phi_deg_py


@dataclass
class Divergence:
    field: str
    phi_tic: int
    phi_deg: float | None
    delta: float                     # py − c

    @property
    def tick(self) -> int:
        """Alias of phi_tic."""
        return self.phi_tic


@dataclass
class PhiComparison:
    """Result of compare_traces. `fields` are the numeric per-φ fields both engines carry (phi_deg included)."""

    tol: float
    path_c: PathKey | None
    path_py: PathKey | None
    rows: list[PhiRow]
    fields: list[str]
    hkl_fields: list[str]                       # which of h_frac, k_frac, l_frac were compared
    first_divergence: Divergence | None
    max_abs_delta: dict[str, float]             # per common field, over common ticks
    missing_in_c: list[str]
    missing_in_py: list[str]
    ticks_only_c: list[int] = field(default_factory=list)
    ticks_only_py: list[int] = field(default_factory=list)
    unit_notes: list[str] = field(default_factory=list)   # e.g. "B's k_frac converted × 1e10 (a unit problem)"

    @property
    def max_abs_dk(self) -> float:
        return self.max_abs_delta.get("k_frac", math.nan)

    @property
    def n_common(self) -> int:
        return sum(1 for r in self.rows if r.phi_deg_c is not None and r.phi_deg_py is not None)

    def describe(self) -> str:
        """One sentence for the status line."""
        if self.n_common == 0:
            return "no common φ ticks to compare"
        if not self.hkl_fields:
            return f"no h, k, l fields in common over {self.n_common} ticks"
        d = self.first_divergence
        units = f" ({'; '.join(self.unit_notes)})" if self.unit_notes else ""
        if d is not None:
            deg = "" if d.phi_deg is None else f" ({fmt_deg(d.phi_deg)}°)"
            return (f"first divergence at φ tick {d.phi_tic}{deg}: Δ{_SHORT.get(d.field, d.field)} = "
                    f"{fmt_num(d.delta)}{units}")
        names = ", ".join(_SHORT[f] for f in self.hkl_fields)
        return f"no divergence above {fmt_num(self.tol)} in {names} over {self.n_common} ticks{units}"


def fmt_num(x: float, digits: int = 2) -> str:
    """Compact scientific form without exponent padding: 0.018116 -> '1.8e-2', 5e-4 -> '5e-4'."""
    if x is None or not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    mant, exp = f"{x:.{digits - 1}e}".split("e")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


def fmt_deg(x: float) -> str:
    """Angle with 2 decimals, or more when needed to show the tick exactly (up to 6)."""
    for d in range(2, 7):
        if abs(round(x, d) - x) < 1e-9:
            return f"{x:.{d}f}"
    return f"{x:.6f}"


def _by_tick(series: list[PhiSample]) -> dict[int, PhiSample]:
    out: dict[int, PhiSample] = {}
    for s in series:
        out.setdefault(s.phi_tic, s)  # a repeated tick within one path: keep the first, as printed
    return out


def compare_traces(c: PixelTrace, py: PixelTrace, *, tol: float = 5e-4,
                   path: PathKey | tuple[PathKey, PathKey] | None = None) -> PhiComparison:
    """Pair the two traces' φ ticks for one path and find the first tick where h, k or l differ by more than `tol`.

    path: None = each trace's first path; a PathKey = that path in both; a pair = (C path, PyTorch path).
    At the first diverging tick the field reported is the one with the largest |Δ| among h, k, l.
    """
    path_c: PathKey | None
    path_py: PathKey | None
    if isinstance(path, tuple):
        path_c, path_py = path
    else:
        path_c = path_py = path
    sc = c.series(path_c)
    sp = py.series(path_py)
    used_c = sc[0].path if sc else path_c
    used_py = sp[0].path if sp else path_py
    fc = [f for f in c.fields() if f != "phi_tic"] if sc else []
    fp = [f for f in py.fields() if f != "phi_tic"] if sp else []
    common = [f for f in fc if f in fp]
    hkl = [f for f in HKL_FIELDS if f in common]
    bc, bp = _by_tick(sc), _by_tick(sp)
    factors, unit_notes = _unit_factors(bc, bp, hkl)

    rows: list[PhiRow] = []
    first: Divergence | None = None
    max_abs: dict[str, float] = {}
    for tic in sorted(set(bc) | set(bp)):
        a, b = bc.get(tic), bp.get(tic)
        vc = {f: xc * factors[0].get(f, 1.0) for f in fc if (xc := a.get(f)) is not None} if a else {}
        vp = {f: xp * factors[1].get(f, 1.0) for f in fp if (xp := b.get(f)) is not None} if b else {}
        delta = {f: vp[f] - vc[f] for f in common if f in vc and f in vp}
        for f, d in delta.items():
            if math.isfinite(d):
                max_abs[f] = max(max_abs.get(f, 0.0), abs(d))
        over = [(abs(delta[f]), f) for f in hkl if f in delta and not abs(delta[f]) <= tol]  # NaN counts as over
        row = PhiRow(phi_tic=tic, phi_deg_c=a.phi_deg if a else None, phi_deg_py=b.phi_deg if b else None,
                     c=vc, py=vp, delta=delta, diverged=bool(over))
        if over and first is None:
            f = max(over, key=lambda t: (math.isnan(t[0]), t[0]))[1]
            first = Divergence(field=f, phi_tic=tic, phi_deg=row.phi_deg, delta=delta[f])
        rows.append(row)
    return PhiComparison(
        tol=tol, path_c=used_c, path_py=used_py, rows=rows, fields=common, hkl_fields=hkl, first_divergence=first,
        max_abs_delta=max_abs,
        missing_in_c=[f for f in fp if f not in fc], missing_in_py=[f for f in fc if f not in fp],
        ticks_only_c=sorted(set(bc) - set(bp)), ticks_only_py=sorted(set(bp) - set(bc)), unit_notes=unit_notes,
    )


_QUANT = {f"{q.name}_frac": q for q in PHI_QUANTITIES if q.name in ("h", "k", "l")}


def _unit_factors(bc: dict[int, PhiSample], bp: dict[int, PhiSample],
                  hkl: list[str]) -> tuple[tuple[dict[str, float], dict[str, float]], list[str]]:
    """Per side, field -> factor for the Miller-index fields printed in another unit (tracing.units), and notes."""
    factors: tuple[dict[str, float], dict[str, float]] = ({}, {})
    notes: list[str] = []
    common = [t for t in sorted(bc) if t in bp]
    for f in hkl:
        pairs = [(x, y) for t in common if (x := bc[t].get(f)) is not None and (y := bp[t].get(f)) is not None]
        found = paired_finding(_QUANT[f], [(x,) for x, _ in pairs], [(y,) for _, y in pairs], ("A", "B"))
        if found is not None:
            factors[found.side][f] = found.factor
            notes.append(f"{'AB'[found.side]}'s {f} converted × 1e{round(math.log10(found.factor))}: a unit problem "
                         "in its trace")
    return factors, notes

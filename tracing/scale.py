"""Why two images differ in scale: an image sum ratio far from 1 decomposed into the scaling factors both engines
report (r_e², fluence, steps, capture fraction, polarisation, ω; spec §7: I_final = I_before_scaling × r_e² ×
fluence × capture × polar × ω / steps).

Factors come from a pixel trace (TRACE_C / TRACE_PY scalars, or the port's free-form `TRACE: Fluence = …`) or from
an engine's console report (the C's `incident fluence: 1e+24 photons/m^2`, the port's `Fluence: 1.26e+29
photons/m²` under -show_config). A factor is a cause when its ratio B/A differs from 1 by more than `rel_tol`;
what the causes do not account for is reported as the residual.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .names import SCALE_FACTORS, lookup, pixel_quantity
from .records import PixelTrace

# Console lines that report a scaling factor: (regex with one number group, canonical factor name).
_CONSOLE: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"incident fluence:\s*([-+0-9.eE]+)\s*photons/m"), "fluence"),
    (re.compile(r"^\s*Fluence:\s*([-+0-9.eE]+)\s*photons/m", re.MULTILINE), "fluence"),
    (re.compile(r"TRACE:\s*Fluence\s*=\s*([-+0-9.eE]+)"), "fluence"),
    (re.compile(r"TRACE:\s*r_e\^2\s*=\s*([-+0-9.eE]+)"), "r_e_sqr"),
)
# Free-form TRACE: keys (tracing.parse) that carry a factor.
_FREE = {"fluence": "fluence", "r_e2": "r_e_sqr"}


@dataclass(frozen=True)
class ScaleFactors:
    """Scaling factors one engine reported: canonical name (names.SCALE_FACTORS) -> value in the canonical unit;
    source says where they were read ("trace of pixel (s, f)", "console report")."""

    values: dict[str, float] = field(default_factory=dict)
    source: str = ""


def factors_from_trace(trace: PixelTrace) -> ScaleFactors:
    """The scaling factors a pixel trace carries (empty when it has none, e.g. upstream nanoBragg)."""
    out: dict[str, float] = {}
    for name in SCALE_FACTORS:
        hit = lookup(trace.scalars, pixel_quantity(name))
        if hit is not None:
            out[name] = hit[1][0] * hit[0].factor
    for key, name in _FREE.items():
        if name not in out and trace.free.get(key):
            out[name] = trace.free[key][0]
    return ScaleFactors(out, f"trace of pixel ({trace.slow}, {trace.fast})" if out else "")


def factors_from_log(text: str) -> ScaleFactors:
    """Scaling factors an engine's console output reports (first occurrence of each)."""
    out: dict[str, float] = {}
    for rx, name in _CONSOLE:
        if name in out:
            continue
        m = rx.search(text or "")
        if m:
            try:
                out[name] = float(m.group(1))
            except ValueError:
                continue
    return ScaleFactors(out, "console report" if out else "")


def merge(*factors: ScaleFactors) -> ScaleFactors:
    """First value of each factor over several sources (earlier sources win)."""
    out: dict[str, float] = {}
    sources = []
    for f in factors:
        new = {k: v for k, v in f.values.items() if k not in out}
        if new:
            out.update(new)
            sources.append(f.source)
    return ScaleFactors(out, ", ".join(s for s in sources if s))


@dataclass(frozen=True)
class ScaleCause:
    """One factor whose B/A ratio differs from 1: values of both sides in `unit`."""

    name: str
    a: float
    b: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.b / self.a if self.a else math.inf


@dataclass(frozen=True)
class ScaleExplanation:
    """sum_ratio: image sum B / A. causes: factors whose ratio differs from 1. residual: sum_ratio / product of the
    causes' ratios (1 when they account for all of it). compared / missing: factors both sides report / factors a
    side does not report. sentence: e.g. "B is 1.32e5 × A: fluence 1.259e29 vs 1e24 photons/m² (× 1.26e5)"."""

    sum_ratio: float
    causes: tuple[ScaleCause, ...]
    residual: float
    compared: tuple[str, ...]
    missing: tuple[str, ...]
    sentence: str


def _g(x: float) -> str:
    return f"{x:.4g}"


def explain_scale(sum_ratio: float, fa: ScaleFactors, fb: ScaleFactors, names: tuple[str, str] = ("A", "B"),
                  rel_tol: float = 1e-4) -> ScaleExplanation:
    """Decompose sum_ratio (B / A) into the factors both sides report (module docstring)."""
    compared = tuple(n for n in SCALE_FACTORS if n in fa.values and n in fb.values)
    missing = tuple(n for n in SCALE_FACTORS if n not in compared)
    causes = []
    for n in compared:
        a, b = fa.values[n], fb.values[n]
        if not (a == b or (a != 0 and abs(b / a - 1.0) <= rel_tol)):
            causes.append(ScaleCause(n, a, b, pixel_quantity(n).unit))
    product = math.prod(c.ratio for c in causes) if causes else 1.0
    residual = sum_ratio / product if product and math.isfinite(product) else math.nan
    head = f"{names[1]} is {sum_ratio:.3g} × {names[0]}"
    parts = [f"{c.name} {_g(c.b)} vs {_g(c.a)}{' ' + c.unit if c.unit else ''} (× {c.ratio:.3g})" for c in causes]
    if not compared:
        lacking = [names[i] for i, f in enumerate((fa, fb)) if not f.values]
        who = " and ".join(lacking)
        text = (f"{head}: no scaling factor reported by both sides ({who} reports none: no trace of a pixel and no "
                f"console line with one)" if lacking else f"{head}: no scaling factor reported by both sides")
    elif not causes:
        text = f"{head}: the scaling factors both report agree ({', '.join(compared)}): the cause is upstream of them"
    else:
        text = f"{head}: " + "; ".join(parts)
        if math.isfinite(residual) and abs(residual - 1.0) > 1e-2:
            text += f"; × {residual:.3g} not in the reported factors"
    return ScaleExplanation(sum_ratio, tuple(causes), residual, compared, missing, text)

"""Unit sanity of traced quantities: a power-of-ten mismatch between the two sides, or an implausible magnitude on
one side, named as a unit problem in that engine's trace (never as a physics divergence).

Two sides: when |b/a| is 10^n (|n| >= MIN_POWER, within a factor 10^LOG_TOL) at every sample and every component
that carries weight (|a_i| >= COMPONENT_FLOOR × max|a| of that sample), the quantity is printed in different units.
Which side is wrong is decided by the quantity's canonical unit (tracing.names): the side whose largest |component|
lies outside the plausible range of the quantity, or, when both or neither do, the one farther (in decades) from
the range's geometric centre. Quantities without a plausible range (counts, F_latt, intensities, fluence) are
never called unit problems: a fluence 1.26e5 × the other's is a physics or set-up difference, and it is not a power
of ten anyway.

One side only: a largest |component| at least MIN_POWER decades outside the plausible range is implausible; the
first power of ten of LONE_POWERS (Å ↔ m first, Å³ ↔ m³, then milli, micro, nano, pico) that brings it inside
the range is suggested (e.g. a Miller index of 2e-10: × 1e10).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .names import Quantity

MIN_POWER = 2            # smallest |n| of a 10^n mismatch called a unit problem
LOG_TOL = 0.1            # |log10|b/a| - n| allowed at every component (a factor 1.26)
COMPONENT_FLOOR = 1e-2   # components smaller than this fraction of the sample's largest are not tested
LONE_POWERS: tuple[int, ...] = (10, -10, 30, -30, 3, -3, 6, -6, 9, -9, 12, -12)


@dataclass(frozen=True)
class UnitFinding:
    """A unit problem of one quantity in one side's trace.

    side: 0 = side A, 1 = side B (the side that prints the wrong unit). factor: multiply that side's values by it
    to get the canonical unit (e.g. 1e10). paired: found against the other side (False: implausible on its own).
    sentence: engine, field, raw and converted magnitudes, in words.
    """

    quantity: str
    side: int
    factor: float
    paired: bool
    sentence: str


def _max_abs(sample: Sequence[float]) -> float:
    return max((abs(v) for v in sample if math.isfinite(v)), default=0.0)


def mismatch_power(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> int | None:
    """n when b ≈ 10^n · a (|n| >= MIN_POWER) at every sample (pairs of equal-length value tuples), else None."""
    n_seen: int | None = None
    tested = 0
    for sa, sb in zip(a, b, strict=True):
        if len(sa) != len(sb):
            return None
        top = _max_abs(sa)
        if top == 0.0:
            continue
        for va, vb in zip(sa, sb, strict=True):
            if not (math.isfinite(va) and math.isfinite(vb)) or abs(va) < COMPONENT_FLOOR * top:
                continue
            if vb == 0.0:
                return None
            lg = math.log10(abs(vb / va))
            n = round(lg)
            if abs(lg - n) > LOG_TOL or abs(n) < MIN_POWER or (n_seen is not None and n != n_seen):
                return None
            n_seen = n
            tested += 1
    return n_seen if tested else None


def _decades_outside(x: float, rng: tuple[float, float]) -> float:
    """How many decades x lies outside [lo, hi] (0 inside)."""
    if x <= 0.0:
        return math.inf
    lo, hi = rng
    if x < lo:
        return math.log10(lo / x)
    if x > hi:
        return math.log10(x / hi)
    return 0.0


def _centre_distance(x: float, rng: tuple[float, float]) -> float:
    return abs(math.log10(x) - 0.5 * (math.log10(rng[0]) + math.log10(rng[1]))) if x > 0 else math.inf


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _power(n: int) -> str:
    return f"1e{n}"


def paired_finding(q: Quantity, a: Sequence[Sequence[float]], b: Sequence[Sequence[float]],
                   names: tuple[str, str], where: str = "") -> UnitFinding | None:
    """A unit problem of q between sides A and B (module docstring), or None. a / b: the samples (value tuples)
    of both sides in the canonical unit as far as the name map knows it."""
    if q.plausible is None or not a:
        return None
    n = mismatch_power(a, b)
    if n is None:
        return None
    mag_a = max(_max_abs(s) for s in a)
    mag_b = max(_max_abs(s) for s in b)
    out_a, out_b = _decades_outside(mag_a, q.plausible), _decades_outside(mag_b, q.plausible)
    if (out_a > 0) != (out_b > 0):
        wrong = 0 if out_a > 0 else 1
    else:
        wrong = 0 if _centre_distance(mag_a, q.plausible) > _centre_distance(mag_b, q.plausible) else 1
    factor = 10.0 ** (n if wrong == 0 else -n)
    raw, right = (mag_a, mag_b) if wrong == 0 else (mag_b, mag_a)
    unit = f" {q.unit}" if q.unit else ""
    what = q.label or q.name
    sentence = (f"{names[wrong]}'s {q.name}{where} is {_power(round(math.log10(1 / factor)))} of "
                f"{names[1 - wrong]}'s at every sample (largest |value| {_fmt(raw)} vs {_fmt(right)}{unit}; a "
                f"{what} of {_fmt(raw)}{unit} is implausible): {names[wrong]}'s trace prints it in another unit; "
                f"converted × {_power(round(math.log10(factor)))} and compared")
    if (out_a > 0) == (out_b > 0):
        sentence = sentence.replace(f"; a {what} of {_fmt(raw)}{unit} is implausible",
                                    f"; {names[wrong]}'s is farther from a plausible {what}")
    return UnitFinding(q.name, wrong, factor, True, sentence)


def lone_finding(q: Quantity, values: Sequence[Sequence[float]], side: int, names: tuple[str, str],
                 where: str = "") -> UnitFinding | None:
    """A unit problem of q in one side's trace alone (no other side to compare with), or None."""
    if q.plausible is None or not values:
        return None
    mag = max(_max_abs(s) for s in values)
    if mag == 0.0 or _decades_outside(mag, q.plausible) < MIN_POWER:
        return None
    n = next((p for p in LONE_POWERS if _decades_outside(mag * 10.0 ** p, q.plausible) == 0.0), None)
    if n is None:
        return None
    unit = f" {q.unit}" if q.unit else ""
    lo, hi = q.plausible
    sentence = (f"{names[side]}'s {q.name}{where} is implausible ({q.label or q.name}: largest |value| "
                f"{_fmt(mag)}{unit}, expected {lo:g}..{hi:g}{unit}): {names[side]}'s trace likely prints it in "
                f"another unit (× {_power(n)} would give {_fmt(mag * 10.0 ** n)}{unit})")
    return UnitFinding(q.name, side, 10.0 ** n, False, sentence)

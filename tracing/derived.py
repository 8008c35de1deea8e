"""Trace values derived from a unit problem: when one side prints its Miller indices in a wrong unit (tracing.units
found hkl_frac or the per-φ h / k / l 1e-10 of the other side's), the quantities that are pure functions of the
Miller index (F_latt_a/b/c, F_latt, hkl_rounded) may have been computed from that *unconverted* index by the trace
code itself. Such a value is a trace bug downstream of the unit problem, not a physics divergence.

Test (per side X with a Miller unit finding, on the rows that diverge after conversion): evaluate the function at
X's raw (as printed, unconverted) index and compare with X's printed value, relative REL_TOL, at every sample:

- F_latt_x = sincg(π·x, N_x) (spec §6.3, square shape: sin(N·π·x)/sin(π·x), N at x = 0 exactly; 1 when N = 1);
  F_latt = F_latt_a·F_latt_b·F_latt_c at the raw (h, k, l). Per-φ ticks where X prints only some of h, k, l take
  the missing components from X's tick-0 hkl_frac (raw): noted, and a mismatch simply leaves the row diverged.
- hkl_rounded = nearest integer of the raw hkl_frac (spec: ceil(x - 0.5)).

N_x is read from the *other* side's trace (its own F_latt_x against its own index: the smallest integer N in 1..MAX_N
with sincg(π·x, N) equal to its printed F_latt_x at every sample it prints); when that side gives no N the check
is not made and the rows stay as they are. Rows whose printed values do not match the raw-index function stay
physics divergences. Matching rows get status "unit X", diverged False and a note; one sentence names them among
the unit problems.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from .pipeline import PipelineRow
from .records import PixelTrace
from .units import UnitFinding

REL_TOL = 1e-6        # printed vs raw-index function (the port prints float32: ~6e-8; the C doubles)
MAX_N = 2000          # largest crystal size (unit cells along an axis) searched for
_AXES = ("a", "b", "c")
_MILLER_NAMES = ("hkl_frac", "h", "k", "l")
_PHI_KEY = {"a": "h_frac", "b": "k_frac", "c": "l_frac"}


def sincg(x: float, n: int) -> float:
    """sin(n·x)/sin(x), n at x == 0 exactly (spec §6.3)."""
    if x == 0.0:
        return float(n)
    return math.sin(n * x) / math.sin(x)


def _f_axis(x: float, n: int) -> float:
    return sincg(math.pi * x, n) if n > 1 else 1.0


def _close(printed: float, expected: float) -> bool:
    if not (math.isfinite(printed) and math.isfinite(expected)):
        return False
    return abs(printed - expected) <= REL_TOL * max(abs(printed), abs(expected), 1e-300)


def _pairs(trace: PixelTrace, axis: int) -> list[tuple[float, float]]:
    """(index component, printed F_latt_<axis>) pairs a trace carries: the tick-0 block and every per-φ tick."""
    out = []
    hkl, f = trace.scalars.get("hkl_frac"), trace.scalars.get(f"F_latt_{_AXES[axis]}")
    if hkl and len(hkl) == 3 and f:
        out.append((hkl[axis], f[0]))
    for s in trace.series():
        x, fx = s.get(_PHI_KEY[_AXES[axis]]), s.get(f"F_latt_{_AXES[axis]}")
        if x is not None and fx is not None:
            out.append((x, fx))
    return out


def infer_n(trace: PixelTrace, axis: int) -> int | None:
    """The crystal size N along axis 0/1/2 that explains a (unit-correct) trace's own F_latt values: the smallest
    N in 1..MAX_N matching every (index, F_latt) pair it prints, else None."""
    pairs = [(x, f) for x, f in _pairs(trace, axis) if math.isfinite(x) and math.isfinite(f)]
    if not pairs:
        return None
    # sincg(π·x, N) is periodic in N (period 2/|x|): a few samples near one x fit N + 2k/|x| too; the smallest N
    # is the crystal's (a larger one would give more, not fewer, cells than the index's period).
    return next((n for n in range(1, MAX_N + 1) if all(_close(f, _f_axis(x, n)) for x, f in pairs)), None)


def _miller_side(findings: Sequence[UnitFinding]) -> dict[int, float]:
    """side -> factor of the sides whose Miller indices are in a wrong unit."""
    return {f.side: f.factor for f in findings if f.quantity in _MILLER_NAMES}


def _raw_hkl(trace: PixelTrace, tick: int | None) -> tuple[list[float | None], bool]:
    """X's raw (h, k, l) at a tick (None: the tick-0 block); bool: whether components came from the tick-0 block
    to fill a per-φ tick."""
    base = trace.scalars.get("hkl_frac")
    block: list[float | None] = list(base[:3]) if base and len(base) >= 3 else [None, None, None]
    if tick is None:
        return block, False
    s = next((s for s in trace.series() if s.phi_tic == tick), None)
    out: list[float | None] = []
    filled = False
    for i, ax in enumerate(_AXES):
        v = s.get(_PHI_KEY[ax]) if s is not None else None
        if v is None:
            v, filled = block[i], filled or block[i] is not None
        out.append(v)
    return out, filled


def _expected(name: str, hkl: list[float | None], ns: list[int | None]) -> tuple[float, ...] | None:
    """The raw-index function of a quantity (None when an input is missing or not finite)."""
    if any(v is not None and not math.isfinite(v) for v in hkl):
        return None   # a NaN / inf index: nothing to evaluate (math.sin and math.ceil would raise)
    if name in ("F_latt_a", "F_latt_b", "F_latt_c"):
        i = _AXES.index(name[-1])
        x, n = hkl[i], ns[i]
        return None if x is None or n is None else (_f_axis(x, n),)
    xs = [v for v in hkl if v is not None]
    if name == "F_latt":
        n_set = [n for n in ns if n is not None]
        if len(xs) != len(hkl) or len(n_set) != len(ns):
            return None
        return (math.prod([_f_axis(x, n) for x, n in zip(xs, n_set, strict=True)]),)
    if name == "hkl_rounded":
        if len(xs) != len(hkl):
            return None
        return tuple(float(math.ceil(v - 0.5)) for v in xs)
    return None


DERIVED = ("F_latt_a", "F_latt_b", "F_latt_c", "F_latt", "hkl_rounded")


def mark_derived(rows: Sequence[PipelineRow], a: PixelTrace, b: PixelTrace, findings: Sequence[UnitFinding],
                 names: tuple[str, str]) -> tuple[list[PipelineRow], list[str], list[tuple[int, str]]]:
    """The rows with the derived-from-unit-problem check applied (module docstring), the sentences naming what it
    found (one per side at most) and the (side, quantity name) pairs it marked."""
    out = list(rows)
    sentences = []
    found: list[tuple[int, str]] = []
    for side, factor in sorted(_miller_side(findings).items()):
        own, other = (a, b)[side], (b, a)[side]
        ns = [infer_n(other, i) for i in range(3)]
        # All of a quantity's rows (every tick) must match the raw-index function for any of them to be marked.
        cand: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(out):
            if r.name in DERIVED and r.stage in ("lattice", "per-φ") and r.diverged:
                cand.setdefault((r.stage, r.name), []).append(i)
        marked: list[str] = []
        filled_any = False
        for (stage, name), idx in cand.items():
            ok = True
            for i in idx:
                r = out[i]
                hkl, filled = _raw_hkl(own, r.tick if stage == "per-φ" else None)
                want = _expected(name, hkl, ns)
                got = (r.a_raw, r.b_raw)[side]
                if want is None or got is None or len(got) != len(want) or \
                        not all(_close(g, w) for g, w in zip(got, want, strict=True)):
                    ok = False
                    break
                filled_any = filled_any or filled
            if not ok:
                continue
            mag = max(abs(v) for v in hkl if v is not None) if any(v is not None for v in hkl) else 0.0
            note = (f"computed from {names[side]}'s unconverted Miller index (largest |value| {mag:.3g}, "
                    f"{1 / factor:g} of the index) — a trace bug downstream of its unit problem")
            status = "unit A" if side == 0 else "unit B"
            for i in idx:
                r = out[i]
                out[i] = dataclasses.replace(r, status=status, diverged=False,
                                             note="; ".join(x for x in (r.note, note) if x))
            if (side, name) not in found:
                found.append((side, name))
            ticks = sorted({t for i in idx if (t := out[i].tick) is not None})
            marked.append(f"{name} (per φ, ticks {ticks[0]}–{ticks[-1]})" if ticks and len(ticks) > 1 else
                          f"{name} (per φ, tick {ticks[0]})" if ticks else name)
        if marked:
            n_txt = ", ".join(f"N{ax}={n}" for ax, n in zip(_AXES, ns, strict=True) if n is not None)
            fill = "; per-φ ticks without h or l took them from its tick-0 hkl_frac" if filled_any else ""
            sentences.append(f"{names[side]}'s {', '.join(marked)} equal the lattice function at "
                             f"{names[side]}'s unconverted Miller index ({n_txt}{fill}): computed from the "
                             f"wrong-unit index, a trace bug downstream of its unit problem, not physics")
    return out, sentences, found

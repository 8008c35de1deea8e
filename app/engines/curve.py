"""Per-φ curves from single-tick renders (spec §15) and the sentence that explains a mismatch with the image."""
from __future__ import annotations

from simulator.config import NanoBraggConfig, phi_ticks

from .base import PhiCurve

# float32 images: two values agree when they differ by no more than a few float32 roundings of the larger.
REL_AGREE = 1e-5


def has_zero_tick(config: NanoBraggConfig) -> bool:
    """Whether some φ tick φ0 + i·Δ (spec §8.2) is exactly 0.0°, where the C's carry-over acts (§8.3)."""
    return phi_ticks(config.sampling).has_zero_tick()


def explain(image_value: float | None, sum_value: float, *, carryover: bool | None, zero_tick: bool,
            oversample_flags: bool) -> str:
    """'' when the image value equals the sum of the single-tick values (to float32 rounding), else a sentence
    naming the likely mechanism: the φ=0 carry-over, the -oversample_* running sums, or none known."""
    if image_value is None:
        return ""
    scale = max(abs(image_value), abs(sum_value))
    if abs(image_value - sum_value) <= REL_AGREE * scale:
        return ""
    more = "more" if image_value > sum_value else "less"
    head = f"the image holds {more} than the sum of single-tick runs ({image_value:.9g} vs {sum_value:.9g})"
    if zero_tick and carryover is not False:
        return head + ": the φ=0 carry-over (the tick at exactly 0° reuses the previous tick's lattice, spec 8.3)"
    if oversample_flags:
        return head + ": the -oversample_thick/_polar/_omega running sums do not add up across separate runs"
    return head + ": no known mechanism explains it"


def make_curve(engine: str, slow: int, fast: int, single_tick: list[tuple[float, float]],
               image_value: float | None, config: NanoBraggConfig, carryover: bool | None) -> PhiCurve:
    """PhiCurve from [(phi_deg, pixel value of the single-tick run)]: each divided by N (a single-tick run divides
    by a steps N times smaller), summed, and the sum compared with the engine's own image value."""
    n = max(1, len(single_tick))
    ticks = [(p, v / n) for p, v in single_tick]
    total = float(sum(v for _, v in ticks))
    sp = config.sampling
    why = explain(image_value, total, carryover=carryover, zero_tick=has_zero_tick(config),
                  oversample_flags=bool(sp.oversample_thick or sp.oversample_polar or sp.oversample_omega))
    return PhiCurve(engine=engine, slow=slow, fast=fast, ticks=tuple((float(p), float(v)) for p, v in ticks),
                    image_value=None if image_value is None else float(image_value), sum_value=total,
                    explanation=why)

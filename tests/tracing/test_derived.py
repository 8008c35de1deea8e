"""tracing.derived on written traces: a value a trace computed from its own unconverted (wrong-unit) Miller index is a
unit problem of that trace, not a physics divergence; a value that is neither the raw-index nor the converted-index
function stays a divergence. The figures are those of the lead's measurement (issue 16 follow-up): on a
-cell 100 100 100 -N 5 case, pixel (16, 16), the golden C prints k_frac=0.04999977 F_latt_b=4.52015 F_latt=102.16
while the port prints k_frac=4.99999e-12 F_latt_b=5 F_latt=125, i.e. sincg(π·k_raw, 5) = 5 at k_raw ≈ 5e-12.
The real engines' runs are in test_real_clients_pipeline.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tracing.derived import REL_TOL, infer_n, sincg
from tracing.ledger import load_ledger
from tracing.metrics import ParityThresholds, compare_images, parity_verdict
from tracing.parse import parse_trace
from tracing.pipeline import diff_pipeline
from tracing.why import explain_verdict

N = 5
HKL_C = (1.49532688803346e-4, 0.0499997701492229, -0.0499999875000046)   # the golden C's tick-0 hkl_frac
# Per-φ k: the C's tick 0 repeats its last tick (the carry-over, spec 8.3), 8e-4 from the port's fresh tick 0
# (beyond the per-φ tolerance 5e-4); ticks 1, 2 agree to 1e-7 (float32).
K_C = [0.0492, 0.0499999549788808, 0.0492]
K_PORT = [0.0499999087272274, 0.0499998549788808, 0.0492001]     # the port's, once × 1e10


def f_axis(x: float) -> float:
    return sincg(math.pi * x, N)


def golden_text() -> str:
    h, k, l = HKL_C
    fa, fb, fc = f_axis(h), f_axis(k), f_axis(l)
    lines = [f"TRACE_C: hkl_frac {h!r} {k!r} {l!r}", "TRACE_C: hkl_rounded 0 0 0",
             f"TRACE_C: F_latt_a {fa!r}", f"TRACE_C: F_latt_b {fb!r}", f"TRACE_C: F_latt_c {fc!r}",
             f"TRACE_C: F_latt {fa * fb * fc!r}", "TRACE_C: F_cell 100",
             "TRACE_C: fluence_photons_per_m2 1e+24", "TRACE_C: r_e_sqr 7.94079248018965e-30", "TRACE_C: steps 3"]
    lines += [f"TRACE_C_PHI phi_tic={i} phi_deg={0.1 * i:.15g} k_frac={kk!r} F_latt_b={f_axis(kk)!r} "
              f"F_latt={fa * f_axis(kk) * fc!r}" for i, kk in enumerate(K_C)]
    return "\n".join(lines) + "\n"


def port_text(f_latt_b: float | None = None, converted: bool = False) -> str:
    """The port's dialect; F_latt_b printed as given (default: sincg at the raw 1e-10 index, = 5; `converted`:
    sincg at the converted index, as a correct trace would), F_latt = F_latt_a · F_latt_b · F_latt_c."""
    h, k, l = (HKL_C[0] * 1e-10, K_PORT[0] * 1e-10, HKL_C[2] * 1e-10)
    fb = f_latt_b if f_latt_b is not None else f_axis(k)
    fl = f_axis(h) * fb * f_axis(l)
    lines = [f"TRACE_PY: hkl_frac {h!r} {k!r} {l!r}",
             "TRACE_PY: hkl_rounded 0 0 0", f"TRACE_PY: F_latt_a {f_axis(h)!r}", f"TRACE_PY: F_latt_b {fb!r}",
             f"TRACE_PY: F_latt_c {f_axis(l)!r}",
             f"TRACE_PY: F_latt {fl!r}", "TRACE_PY: F_cell 100",
             "TRACE_PY: fluence_photons_per_m2 1.25932017574725e+29", "TRACE_PY: r_e_sqr 7.9407927259064e-30",
             "TRACE_PY: steps 3"]
    for i, kk in enumerate(K_PORT):
        fbt = f_latt_b if f_latt_b is not None else f_axis(kk if converted else kk * 1e-10)
        lines.append(f"TRACE_PY_PHI phi_tic={i} phi_deg={0.1 * i:.15g} k_frac={kk * 1e-10!r} F_latt_b={fbt!r} "
                     f"F_latt={f_axis(h) * fbt * f_axis(l)!r}")
    return "\n".join(lines) + "\n"


def _diff(port: str):
    return diff_pipeline(parse_trace(golden_text(), "golden", 16, 16), parse_trace(port, "port", 16, 16),
                         names=("golden", "port"))


def test_sincg_and_n_from_the_other_side():
    assert sincg(0.0, 5) == 5.0
    assert sincg(math.pi * 5e-12, 5) == pytest.approx(5.0, rel=1e-15)      # → N at an (almost) integer index
    # the golden C's printed F_latt_b at its k of the case (4.52015130939923): the same function
    assert sincg(math.pi * 0.0499997701492229, 5) == pytest.approx(4.52015130939923, rel=1e-12)
    g = parse_trace(golden_text(), "golden", 16, 16)
    assert [infer_n(g, i) for i in range(3)] == [5, 5, 5]


def test_values_from_the_unconverted_index_are_the_trace_bug_not_physics():
    d = _diff(port_text())
    lat = [r for r in d.rows if r.name.startswith("F_latt") and r.tick is None or
           r.name.startswith("F_latt") and r.stage == "per-φ"]
    # The port's F_latt_b = 5 vs the C's 4.52 (rel Δ 0.096) would diverge; it is sincg(π·k_raw, 5) exactly.
    marked = [r for r in lat if r.status == "unit B"]
    assert {(r.name, r.tick) for r in marked} >= {("F_latt_b", None), ("F_latt_c", None), ("F_latt", None)} | \
        {(n, t) for n in ("F_latt_b", "F_latt") for t in range(3)}
    assert all(not r.diverged and "unconverted Miller index" in r.note for r in marked)
    assert all(r.rel_delta > 0.09 for r in marked if r.name == "F_latt_b")   # the Δ is still shown
    assert not any(r.name.startswith("F_latt") for r in d.rows if r.diverged)
    assert d.first_divergent is None or not d.first_divergent.name.startswith("F_latt")
    sentence = next(u for u in d.unit_problems if "unconverted Miller index" in u)
    assert sentence.startswith("port's F_latt_b, F_latt_c, F_latt") and "Na=5, Nb=5, Nc=5" in sentence
    assert (1, "F_latt", "derived") in d.unit_quantities and (1, "k", "unit") in d.unit_quantities
    # What is left is the carry-over's tick 0 (k, and the C's F_latt at its carried k).
    assert {(r.name, r.tick) for r in d.rows if r.diverged and r.stage == "per-φ"} == {("k", 0)}


def test_a_value_that_is_neither_raw_nor_converted_stays_a_divergence():
    # 4.8 is neither sincg(π·5e-12, 5) = 5 nor sincg(π·0.05, 5) = 4.52: physics (or another bug), not the unit.
    d = _diff(port_text(f_latt_b=4.8))
    fb = [r for r in d.rows if r.name == "F_latt_b"]
    assert len(fb) == 4 and all(r.status == "diverge" and r.diverged for r in fb)
    assert (1, "F_latt_b", "derived") not in d.unit_quantities
    assert d.first_divergent is not None and d.first_divergent.name == "F_latt_b"   # the tick-0 block's
    # Within REL_TOL of the raw value (float32 print) is still the raw value; 10 × REL_TOL off is not.
    assert all(r.status == "unit B" for r in _diff(port_text(f_latt_b=5.0 * (1 - REL_TOL / 4))).rows
               if r.name == "F_latt_b")
    assert all(r.status == "diverge" for r in _diff(port_text(f_latt_b=5.0 * (1 - 10 * REL_TOL))).rows
               if r.name == "F_latt_b")


def test_a_port_that_computes_from_the_converted_index_matches():
    d = _diff(port_text(converted=True))   # the values at the converted k: agree with the C at ticks 1, 2
    phi = {r.tick: r for r in d.rows if r.name == "F_latt_b" and r.stage == "per-φ"}
    assert phi[1].status == phi[2].status == "match"
    assert phi[0].status == "diverge"     # the C's carried tick 0: physics, for the ledger, not a unit problem


def test_rounded_index_of_the_raw_value():
    # CLI-FLAGS-003's pixel: the C rounds (2.0012, 1.9928, -12.99) to 2 2 -13; a port rounding its 1e-10 index
    # prints 0 0 0 (the rounding of the raw value), one printing 1 1 1 rounds nothing it has.
    g = "TRACE_C: hkl_frac 2.00120331912649 1.99279793937568 -12.9907668789699\nTRACE_C: hkl_rounded 2 2 -13\n"

    def port(rounded: str) -> str:
        return (f"TRACE_PY: hkl_frac 2.00120331912649e-10 1.99279793937568e-10 -1.29907668789699e-09\n"
                f"TRACE_PY: hkl_rounded {rounded}\n")
    for rounded, status in (("0 0 0", "unit B"), ("1 1 1", "diverge")):
        d = diff_pipeline(parse_trace(g, "golden", 1, 1), parse_trace(port(rounded), "port", 1, 1))
        row = next(r for r in d.rows if r.name == "hkl_rounded")
        assert row.status == status and row.diverged == (status == "diverge"), (rounded, row)


def test_the_verdict_headline_says_scale_then_per_pixel_then_the_trace():
    a = np.zeros((16, 16), np.float32)
    a[5, 5], a[10, 3] = 100.0, 50.0
    m = compare_images(a, a * 1.3e5)
    v = parity_verdict(m, ParityThresholds())
    d = _diff(port_text())
    ga, pb = parse_trace(golden_text(), "golden", 16, 16), parse_trace(port_text(), "port", 16, 16)
    out = explain_verdict(v, m, names=("golden", "port"), traces=[(ga, pb)], diffs=[d], ledger=load_ledger())
    # 1.3e5 / (1.25932e29 / 1e24) = 1.0323: what the fluence does not account for is said, not hidden.
    assert out.known.startswith("scale: port is 1.3e+05 × golden (fluence 1.259e+29 vs 1e+24 photons/m²; "
                                "× 1.03 not in the reported factors); per-pixel: "), out.known
    assert "port's trace: unit problems (hkl_frac, k in another unit; F_latt_b, F_latt_c, F_latt computed from " \
           "its unconverted Miller index)" in out.known
    ledger_part = out.known.split("per-pixel: ")[1].split("; port's trace")[0]
    assert ledger_part == "explained: C φ=0 carry-over (known)", out.known   # no F_latt left unexplained
    assert out.sentence().startswith("FAIL — scale: port is 1.3e+05 × golden")


def test_a_non_finite_raw_index_leaves_the_rows_as_they_are():
    text = port_text().replace(f"k_frac={K_PORT[1] * 1e-10!r}", "k_frac=nan")
    d = _diff(text)     # no exception; the tick with a NaN index cannot be evaluated, so F_latt_b is not marked
    assert (1, "F_latt_b", "derived") in d.unit_quantities     # the tick-0 block still is
    assert any(r.name == "F_latt_b" and r.stage == "per-φ" and r.status == "diverge" for r in d.rows)

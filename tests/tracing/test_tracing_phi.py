"""tracing.phi_compare and tracing.tables: per-φ deltas, first divergence, the written tables."""
from __future__ import annotations

import csv
import json
import math

import pytest

from tracing.parse import parse_trace
from tracing.phi_compare import compare_traces, fmt_num
from tracing.records import PathKey, PhiSample, PixelTrace
from tracing.tables import phi_table_rows, write_phi_tables

# CLI-FLAGS-003 pixel (685, 1039), spec §8.3: C tick 0 carries tick 9's k (-0.607255839576692); the spec value is
# -0.589139352775903, so Δk(φ0) = py - c = +1.8116e-2; later ticks agree to about 2.84e-5.
K_C0 = -0.607255839576692
K_PY0 = -0.589139352775903


def make_trace(engine: str, ks: list[float], rich: bool = False, dphi: float = 0.01, ticks=None) -> PixelTrace:
    tr = PixelTrace(engine=engine, slow=685, fast=1039, dialect="rich" if rich else "golden")
    for i, k in zip(ticks if ticks is not None else range(len(ks)), ks, strict=True):
        vals = {"k_frac": k, "F_latt_b": 1.0 + i, "F_latt": 2.0 * i}
        if rich:
            vals.update(h_frac=-6.88 + 1e-3 * i, l_frac=-13.77, F_cell=190.27)
        tr.samples.append(PhiSample(phi_tic=i, phi_deg=dphi * i, path=PathKey(), values=vals))
    return tr


def c_and_py():
    py_k = [K_PY0 - 0.002 * i for i in range(10)]
    c_k = [v - 2.84e-5 for v in py_k]
    c_k[0] = K_C0
    return make_trace("c", c_k), make_trace("py", py_k, rich=True)


def test_first_divergence_at_tick0_carry_over():
    c, py = c_and_py()
    cmp = compare_traces(c, py)
    d = cmp.first_divergence
    assert (d.field, d.phi_tic, d.phi_deg) == ("k_frac", 0, 0.0)
    assert d.delta == pytest.approx(K_PY0 - K_C0) and d.delta == pytest.approx(1.8116e-2, abs=1e-6)
    assert cmp.describe() == "first divergence at φ tick 0 (0.00°): Δk = 1.8e-2"
    assert cmp.max_abs_dk == pytest.approx(1.8116e-2, abs=1e-6)
    # Golden C has only k: h, l and the rest are listed as missing in C, not compared.
    assert cmp.hkl_fields == ["k_frac"]
    assert set(cmp.missing_in_c) == {"h_frac", "l_frac", "F_cell"} and cmp.missing_in_py == []
    assert [r.diverged for r in cmp.rows] == [True] + [False] * 9


def test_no_divergence_sentence():
    c, py = c_and_py()
    c.samples[0].values["k_frac"] = K_PY0 - 2.84e-5
    cmp = compare_traces(c, py)
    assert cmp.first_divergence is None
    assert cmp.describe() == "no divergence above 5e-4 in k over 10 ticks"
    # Both rich: all three of h, k, l are compared.
    cmp2 = compare_traces(make_trace("c", [0.1] * 3, rich=True), make_trace("py", [0.1] * 3, rich=True))
    assert cmp2.describe() == "no divergence above 5e-4 in h, k, l over 3 ticks"


def test_pairs_by_tick_not_position():
    # The C lacks tick 1; pairing by position would compare tick 2 with tick 1 and report a bogus Δk.
    ks = [0.1 * i for i in range(4)]
    c = make_trace("c", [ks[0], ks[2], ks[3]], ticks=[0, 2, 3])
    py = make_trace("py", ks)
    cmp = compare_traces(c, py)
    assert cmp.first_divergence is None
    assert cmp.ticks_only_py == [1] and cmp.n_common == 3
    rows = phi_table_rows(cmp)
    assert [r["status"] for r in rows] == ["OK", "only B", "OK", "OK"]


def test_largest_of_hkl_reported_and_path_choice():
    c = make_trace("c", [0.1, 0.1], rich=True)
    py = make_trace("py", [0.1 + 1e-3, 0.1], rich=True)
    py.samples[0].values["h_frac"] += 5e-3
    cmp = compare_traces(c, py)
    assert (cmp.first_divergence.field, cmp.first_divergence.phi_tic) == ("h_frac", 0)
    assert cmp.describe().endswith("Δh = 5e-3")
    # A second path in C: choose it explicitly.
    for s in list(c.samples):
        c.samples.append(PhiSample(s.phi_tic, s.phi_deg, PathKey(layer=1), dict(s.values, k_frac=9.0)))
    cmp1 = compare_traces(c, py, path=(PathKey(layer=1), PathKey()))
    assert cmp1.path_c == PathKey(layer=1) and cmp1.first_divergence.field == "k_frac"


def test_no_common_ticks():
    cmp = compare_traces(make_trace("c", []), make_trace("py", [0.1]))
    assert cmp.describe() == "no common φ ticks to compare"


def test_parsed_traces_compare_and_tables(tmp_path):
    c_text = "\n".join(f"TRACE_C_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={K_C0 if i == 0 else -0.59:.15g} "
                       f"F_latt_b=1 F_latt=2" for i in range(3))
    py_text = "TRACE_PY: steps 3\n" + "\n".join(
        f"TRACE_PY_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={K_PY0 if i == 0 else -0.59:.15g} F_latt_b=1 "
        f"F_latt=2 S_x=0.5" for i in range(3))
    c = parse_trace(c_text + "\nTRACE_C: steps 3\n", "c", 685, 1039)
    py = parse_trace(py_text, "py", 685, 1039)
    cmp = compare_traces(c, py)
    paths = write_phi_tables(tmp_path, "pixel_685_1039", cmp, c, py)
    assert [p.name for p in paths] == ["pixel_685_1039.json", "pixel_685_1039.csv", "pixel_685_1039.md"]
    doc = json.loads(paths[0].read_text())
    assert doc["summary"]["describe"] == "first divergence at φ tick 0 (0.00°): Δk = 1.8e-2"
    assert doc["rows"][0]["first"] == "<<" and doc["rows"][0]["status"] == "DIVERGE"
    # S_x is the port dialect's (spec 11.3): 0.5 1/Angstrom is stored as 5e9 1/m.
    assert doc["rows"][0]["a_k_frac"] == K_C0 and doc["rows"][0]["b_S_x"] == 0.5e10
    assert doc["scalars"] == [{"key": "steps", "a": [3.0], "b": [3.0], "delta": [0.0]}]
    with open(paths[1], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["a_k_frac"]) == K_C0  # repr round-trips the double exactly
    assert rows[1]["status"] == "OK" and rows[1]["first"] == ""
    md = paths[2].read_text()
    assert "**first divergence at φ tick 0 (0.00°): Δk = 1.8e-2**" in md and "| DIVERGE | << |" in md


def test_fmt_num():
    assert fmt_num(0.018116) == "1.8e-2"
    assert fmt_num(5e-4) == "5e-4"
    assert fmt_num(-2.845e-5) == "-2.8e-5"
    assert fmt_num(0.0) == "0"
    assert fmt_num(math.nan) == "nan"

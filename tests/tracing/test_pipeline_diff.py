"""tracing.names / units / pipeline / scale / ledger / why on written traces (the real engines' runs are in
test_real_clients_pipeline.py). The trace texts follow the real dialects' line shapes (spec 11.1, 11.3) with the
values the real port prints on CLI-FLAGS-003 pixel (slow 1039, fast 685): its hkl_frac and k_frac are 1e-10 of the
Miller index, its rot_a_angstroms holds metres, its fluence is 1.259e29 photons/m² where the C has 1e24."""
from __future__ import annotations

import math

import pytest

from tracing.ledger import LedgerError, load_ledger, match_ledger, parse_ledger
from tracing.metrics import ParityThresholds, compare_images, parity_verdict
from tracing.names import canonical_of, pixel_quantity
from tracing.parse import parse_trace
from tracing.pipeline import STAGES, diff_pipeline
from tracing.scale import explain_scale, factors_from_log, factors_from_trace
from tracing.units import lone_finding, mismatch_power, paired_finding

# The golden C's k at ticks 0..9 on CLI-FLAGS-003 (1039, 685): tick 0 repeats tick 9 (the carry-over, spec 8.3).
K_C = [1.99279793937568, 1.99891752953334, 1.9981523012792, 1.99738715283115, 1.99662208421249, 1.99585709544653,
       1.99509218655656, 1.9943273575659, 1.99356260849785, 1.99279793937568]
# The port's fresh tick 0 (1.99968 once scaled) and the C's later ticks within float32 (Δ ~ 3e-6).
K_PORT = [1.99968069880541] + [k + 2.6e-6 for k in K_C[1:]]


def golden_text(fluence: float = 1e24) -> str:
    lines = ["TRACE_C:detector_convention=CUSTOM", "TRACE_C:distance_m=0.23127466",
             "TRACE:   a = [-14.3563, -21.8718, -5.58202] |a| = 26.7514",
             "TRACE: After conversion:",
             "TRACE:   a = [-1.43563e-09, -2.18718e-09, -5.58202e-10] |a| = 2.67514e-09 meters",
             "TRACE_C: pixel_pos_meters -0.0996443642887915 0.0368472243540029 -0.231084742080328",
             "TRACE_C: omega_pixel_sr 4.15867865980257e-07",
             "TRACE_C: lambda_meters 9.768e-11",
             "TRACE_C: rot_a_angstroms -14.3562690335399 -21.8805340763623 -5.5476578307123",
             "TRACE_C: hkl_frac 2.00120331912649 1.99279793937568 -12.9907668789699"]
    lines += [f"TRACE_C_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={k!r} F_latt_b=40 F_latt=30000"
              for i, k in enumerate(K_C)]
    lines += ["TRACE_C: I_before_scaling 1.48079201045406e+15", "TRACE_C: r_e_sqr 7.94079248018965e-30",
              f"TRACE_C: fluence_photons_per_m2 {fluence:.15g}", "TRACE_C: steps 10", "TRACE_C: capture_fraction 1",
              "TRACE_C: polar 0.912575818665327", "TRACE_C: omega_pixel 4.15867865980257e-07",
              "TRACE_C: I_pixel_final 446.254110667806"]
    return "\n".join(lines) + "\n"


def port_text() -> str:
    lines = ["TRACE_PY: pixel_pos_meters -0.0996442437171936 0.0368473306298256 -0.231084778904915",
             "TRACE_PY: omega_pixel_sr 4.15867901892852e-07",
             "TRACE_PY: lambda_angstroms 0.97680002450943",
             "TRACE_PY: rot_a_angstroms -1.43562695065214e-09 -2.18717932654044e-09 -5.5820215116853e-10",
             "TRACE_PY: hkl_frac 1.99926741828449e-10 1.99968069880541e-10 -1.29920840752362e-09",
             "TRACE_PY: F_cell_nearest 0", "TRACE_PY_TRICUBIC_GRID_START", "TRACE_PY_TRICUBIC: [0,0,0]=53.77",
             "TRACE_PY_TRICUBIC: [0,0,1]=171.61", "TRACE_PY_TRICUBIC_GRID_END",
             "TRACE_PY_TRICUBIC_H_COORDS: [-1.0, 0.0, 1.0, 2.0]",
             "TRACE_PY: I_before_scaling_pre_polar 1.54793225171763e+15",
             "TRACE_PY: r_e_sqr 7.9407927259064e-30", "TRACE_PY: fluence_photons_per_m2 1.25932017574725e+29",
             "TRACE_PY: steps 10", "TRACE_PY: capture_fraction 1", "TRACE_PY: polar 0.912575960159302",
             "TRACE_PY: omega_pixel 4.15867901892852e-07", "TRACE_PY: I_pixel_final 58745744",
             "TRACE: r_e^2 = 7.940792725906e-30", "TRACE: Fluence = 1.259320175747e+29"]
    lines += [f"TRACE_PY_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={k * 1e-10!r} F_latt_b=40 F_latt=30000 "
              f"S_x=-0.4016 S_y=0.1483 S_z=0.0936 a_star_y=-293958816 b_star_y=104376432 c_star_y=-143330144 "
              f"V_actual=2.4682260566312e-26" for i, k in enumerate(K_PORT)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def traces():
    return parse_trace(golden_text(), "golden", 1039, 685), parse_trace(port_text(), "port", 1039, 685)


# ---- names and units ----------------------------------------------------------------------------------------------
def test_one_name_map_with_aliases_and_units():
    assert canonical_of("omega_pixel_sr") == canonical_of("omega_pixel") == "omega_pixel"
    assert canonical_of("I_before_scaling_pre_polar") == canonical_of("I_before_scaling") == "I_before_scaling"
    lam = pixel_quantity("lambda")
    assert lam.unit == "Å" and {a.key: a.factor for a in lam.aliases}["lambda_meters"] == 1e10
    assert canonical_of("no_such_key") is None


def test_power_of_ten_only_when_every_sample_agrees():
    assert mismatch_power([(2.0,), (1.99,)], [(2e-10,), (1.99e-10,)]) == -10
    assert mismatch_power([(1e24,)], [(1.259e29,)]) is None          # 10^5.1: not a power of ten
    assert mismatch_power([(2.0,), (1.99,)], [(2e-10,), (1.99,)]) is None  # one sample in the same unit
    assert mismatch_power([(2.0,)], [(2.001,)]) is None               # same unit


def test_the_wrong_side_is_found_by_plausibility_not_by_position():
    q = pixel_quantity("hkl_frac")
    names = ("left", "right")
    f = paired_finding(q, [(2.0, 2.0, -13.0)], [(2e-10, 2e-10, -1.3e-9)], names)
    assert f is not None and f.side == 1 and f.factor == 1e10 and "right's hkl_frac is 1e-10 of left's" in f.sentence
    g = paired_finding(q, [(2e-10, 2e-10, -1.3e-9)], [(2.0, 2.0, -13.0)], names)
    assert g is not None and g.side == 0 and g.factor == 1e10
    # Lattice vectors printed in metres under an Å name: 2.2e-9 "Å" is implausible, 21.9 Å is not.
    r = paired_finding(pixel_quantity("rot_a"), [(-14.36, -21.88, -5.55)], [(-1.436e-9, -2.188e-9, -5.58e-10)], names)
    assert r is not None and r.side == 1


def test_a_lone_implausible_value_is_named_with_the_factor():
    from tracing.names import PHI_QUANTITIES
    q = next(q for q in PHI_QUANTITIES if q.name == "V_cell")
    f = lone_finding(q, [(2.4682e-26,)], 1, ("A", "port"))
    assert f is not None and f.factor == 1e30 and "port's V_cell" in f.sentence
    assert lone_finding(q, [(24682.0,)], 1, ("A", "port")) is None


# ---- parse: the dialects' other lines ------------------------------------------------------------------------------
def test_free_form_blocks_and_other_tags_are_kept(traces):
    g, p = traces
    assert g.free["a"] == [-14.3563, -21.8718, -5.58202]
    assert g.free["after_conversion/a"] == [-1.43563e-09, -2.18718e-09, -5.58202e-10]
    assert g.free["after_conversion/norm_a"] == [2.67514e-09]
    assert p.free["TRACE_PY_TRICUBIC/grid"] == [53.77, 171.61]
    assert p.free["TRACE_PY_TRICUBIC_H_COORDS"] == [-1.0, 0.0, 1.0, 2.0]
    assert p.free["fluence"] == [1.259320175747e29] and p.free["r_e2"] == [7.940792725906e-30]
    assert p.dialect == "port" and g.dialect == "golden"


# ---- the pipeline ----------------------------------------------------------------------------------------------------
def test_pipeline_golden_vs_port(traces):
    g, p = traces
    d = diff_pipeline(g, p, names=("golden", "port"))
    stages = [r.stage for r in d.rows]
    assert stages == sorted(stages, key=STAGES.index)            # nanoBragg's order
    by = {(r.name, r.tick): r for r in d.rows}
    # k per φ: the port's is 1e-10 of the C's; converted, ticks 1..9 agree (Δ 2.6e-6 <= 5e-4), tick 0 does not.
    for t in range(1, 10):
        r = by[("k", t)]
        assert r.status == "unit B" and not r.diverged and r.b_raw[0] == pytest.approx(r.b[0] * 1e-10, rel=1e-12)
        assert abs(r.a[0] - r.b[0]) == pytest.approx(2.6e-6, rel=1e-3)
    k0 = by[("k", 0)]
    assert k0.status == "unit B" and k0.diverged and abs(k0.b[0] - k0.a[0]) == pytest.approx(6.88e-3, rel=1e-2)
    assert by[("omega_pixel", None)].status == "match"          # omega_pixel_sr and omega_pixel, one quantity
    assert by[("lambda", None)].status == "match"               # λ in m (×1e10) vs λ in Å
    assert by[("I_before_scaling", None)].status == "diverge"   # ..._pre_polar read as I_before_scaling
    assert by[("fluence", None)].status == "diverge"
    assert by[("distance", None)].status == "only A"
    # The first divergence is a tick-0 quantity (the lattice rotated at tick 0), not a unit bug.
    assert d.first_divergent.name == "rot_a" and "tick 0" in d.sentence
    assert any("port's k (per φ) is 1e-10 of golden's" in u for u in d.unit_problems)
    assert any("port's hkl_frac is 1e-10" in u for u in d.unit_problems)
    assert any("port's V_cell (per φ) is implausible" in u for u in d.unit_problems)


def test_pipeline_of_identical_traces_has_no_divergence(traces):
    g, _ = traces
    d = diff_pipeline(g, parse_trace(golden_text(), "again", 1039, 685))
    assert d.first_divergent is None and not d.unit_problems
    assert d.sentence.startswith("no divergent quantity among the")


# ---- scale ----------------------------------------------------------------------------------------------------------
def test_the_scale_is_decomposed_into_the_factors(traces):
    g, p = traces
    fa, fb = factors_from_trace(g), factors_from_trace(p)
    ratio = 58745744 / 446.254110667806
    e = explain_scale(ratio, fa, fb, ("golden", "port"))
    assert [c.name for c in e.causes] == ["fluence"]           # r_e², polar, ω agree within 1e-4
    assert e.sentence.startswith("port is 1.32e+05 × golden: fluence 1.259e+29 vs 1e+24 photons/m² (× 1.26e+05)")
    # The remaining factor 1.0453 is I_before_scaling (the carry-over), not a scaling factor.
    assert e.residual == pytest.approx(1.0453, rel=1e-3) and "× 1.05 not in the reported factors" in e.sentence


def test_factors_from_console_reports():
    assert factors_from_log("  incident fluence: 1e+24 photons/m^2\n").values == {"fluence": 1e24}
    assert factors_from_log("  Fluence: 1.26e+29 photons/m²\n").values == {"fluence": 1.26e29}
    assert factors_from_log("nothing here").values == {}
    e = explain_scale(2.0, factors_from_log(""), factors_from_log(""), ("up", "port"))
    assert "no scaling factor reported by both sides (up and port reports none: no trace" in e.sentence


def test_verdict_kinds():
    import numpy as np
    a = np.zeros((16, 16), np.float32)
    a[5, 5], a[10, 3] = 100.0, 50.0
    scaled = parity_verdict(compare_images(a, a * 1e5), ParityThresholds())
    assert not scaled.passed and scaled.kinds == ["scale"]
    moved = np.roll(a, 3, axis=1)
    v = parity_verdict(compare_images(a, moved), ParityThresholds())
    assert "geometry" in v.kinds and "per-pixel" in v.kinds and "scale" not in v.kinds


# ---- the ledger ----------------------------------------------------------------------------------------------------
def test_shipped_ledger_explains_the_carryover(traces):
    g, p = traces
    ledger = load_ledger()
    assert [e.signature for e in ledger.entries] == ["phi0_carryover"]
    assert ledger.files[0][0].endswith("known_divergences.toml") and len(ledger.files[0][1]) == 64
    d = diff_pipeline(g, p, names=("golden", "port"))
    m = match_ledger(ledger, [d])
    assert m.explained == ("C φ=0 carry-over",)
    assert m.unexplained == ("fluence",)   # the port's fluence is not a known divergence
    assert m.text() == "explained in part: C φ=0 carry-over (known); unexplained: fluence"
    # With the same fluence the carry-over explains everything.
    g2 = parse_trace(golden_text(fluence=1.25932017574725e29), "golden", 1039, 685)
    d2 = diff_pipeline(g2, p, names=("golden", "port"))
    assert match_ledger(ledger, [d2]).text() == "explained: C φ=0 carry-over (known)"


def test_user_ledger_entries(tmp_path, traces):
    g, p = traces
    path = tmp_path / "mine.toml"
    path.write_text('[[divergence]]\nid = "port-fluence"\ntitle = "port ignores -flux"\n'
                    'signature = "scale_factor"\nfactor = "fluence"\n', encoding="utf-8")
    ledger = load_ledger([path])
    d = diff_pipeline(g, p)
    m = match_ledger(ledger, [d])
    assert m.fully_explained and m.text() == ("explained: C φ=0 carry-over (known), port ignores -flux (known)")
    assert match_ledger(ledger, []).text().startswith("unexplained: no pixel was traced")


@pytest.mark.parametrize("text, line, words", [
    ('[[divergence]]\nid = "x"\ntitle = "t"\nsignature = \n', 4, "not valid TOML"),
    ('# c\n\n[[divergence]]\nid = "x"\ntitle = "t"\nsignature = "magic"\n', 3, "signature 'magic': expected one of"),
    ('[[divergence]]\nid = "x"\ntitle = "t"\nsignature = "quantities"\nquantities = ["kk"]\n', 1,
     "unknown quantity kk"),
    ('[[divergence]]\nid = "x y"\ntitle = "t"\nsignature = "phi0_carryover"\n', 1, "id 'x y': expected letters"),
    ('[[divergence]]\nid = "x"\ntitle = "t"\nsignature = "phi0_carryover"\ncolour = 1\n', 1, "unknown key(s) colour"),
])
def test_bad_ledger_names_file_and_line(text, line, words):
    with pytest.raises(LedgerError) as exc:
        parse_ledger(text, "mine.toml")
    assert exc.value.line == line and words in str(exc.value) and "mine.toml, line" in str(exc.value)


def test_unreadable_ledger_file(tmp_path):
    with pytest.raises(LedgerError, match="no such file"):
        load_ledger([tmp_path / "absent.toml"])
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"# ok\n\xff\xfe")
    with pytest.raises(LedgerError, match=r"line 2: not UTF-8"):
        load_ledger([bad])


def test_nan_values_diverge():
    a = parse_trace("TRACE_C: F_cell 3\n", "a", 0, 0)
    b = parse_trace("TRACE_C: F_cell nan\n", "b", 0, 0)
    r = diff_pipeline(a, b).rows[0]
    assert r.diverged and math.isinf(r.rel_delta)


# ---- untrusted trace text: the reader and the diff never raise anything but TraceParseError ------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tracing.parse import TraceParseError  # noqa: E402

_HEADS = st.sampled_from(["TRACE:", "TRACE:  ", "TRACE_PY_TRICUBIC:", "TRACE_PY_TRICUBIC_H_COORDS:", "TRACE_C_SOURCE2:",
                          "TRACE_PY_ROTSTAR", "TRACE_C_TAP5:", "TRACE_C:", "TRACE_PY:", "TRACE_Q"])
_TOKENS = st.one_of(st.sampled_from(["=", "a =", "[1, 2", "3]", "|a|", "= 5", "nan", "-inf", "1e400", "0", "-0",
                                     "x:", "hkl_frac", "k_frac", "2e-10", "[", "]", ",", "[0,0,0]=5", "fluence"]),
                    st.text(alphabet=st.characters(codec="latin-1"), max_size=6))


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(_HEADS, st.lists(_TOKENS, max_size=6)), max_size=8))
def test_free_form_and_other_tags_never_raise_and_diff_never_raises(lines):
    text = "\n".join(h + " " + " ".join(t) for h, t in lines)
    try:
        tr = parse_trace(text, "x", 0, 0)
    except TraceParseError:
        return
    other = parse_trace(golden_text(), "golden", 0, 0)
    for a, b in ((tr, other), (other, tr), (tr, tr)):
        d = diff_pipeline(a, b)
        assert isinstance(d.sentence, str) and all(r.status in ("match", "diverge", "only A", "only B", "unit A",
                                                                "unit B") for r in d.rows)


_LEDGER_LINES = st.sampled_from(["[[divergence]]", 'id = "x"', 'id = "y"', "id = 3", 'title = "t"', "title = ''",
                                 'signature = "phi0_carryover"', 'signature = "quantities"', 'signature = "x"',
                                 'quantities = ["fluence"]', "quantities = [1]", 'factor = "fluence"', "factor = 2",
                                 "[other]", "x = 1", "=", "[[divergence", 'reference = "r"', "divergence = 1", ""])


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LEDGER_LINES, max_size=12))
def test_ledger_text_gives_entries_or_ledger_error(lines):
    try:
        entries = parse_ledger("\n".join(lines), "fuzz.toml")
    except LedgerError as exc:
        assert str(exc).startswith("known-divergence ledger fuzz.toml")
        return
    assert all(e.signature in ("phi0_carryover", "quantities", "scale_factor") for e in entries)


def test_the_carryover_does_not_cover_a_port_bug_at_later_ticks():
    # The real port's per-φ F_latt_b is N_b = 47 at every tick (computed from its 1e-10 indices, spec 11.3): that
    # diverges at ticks 1..9 too, which the carry-over cannot explain; the tick-0 k still is the carry-over's.
    g = parse_trace(golden_text(fluence=1.25932017574725e29), "golden", 1039, 685)
    p = parse_trace(port_text().replace("F_latt_b=40 ", "F_latt_b=47 "), "port", 1039, 685)
    m = match_ledger(load_ledger(), [diff_pipeline(g, p)])
    assert m.text() == "explained in part: C φ=0 carry-over (known); unexplained: F_latt_b (per φ, ticks 1–9)"


def test_the_per_phi_compare_converts_a_unit_problem_before_the_deltas(traces):
    from tracing.phi_compare import compare_traces
    g, p = traces
    cmp = compare_traces(g, p)
    # Without the conversion tick 0 would read Δk = 2e-10 - 1.99 ≈ -2 (the "every tick DIVERGE").
    assert cmp.first_divergence.phi_tic == 0 and cmp.first_divergence.delta == pytest.approx(6.883e-3, rel=1e-3)
    assert [r.phi_tic for r in cmp.rows if r.diverged] == [0]
    assert cmp.unit_notes == ["B's k_frac converted × 1e10: a unit problem in its trace"]
    assert cmp.describe() == ("first divergence at φ tick 0 (0.00°): Δk = 6.9e-3 (B's k_frac converted × 1e10: a "
                              "unit problem in its trace)")

"""tracing.parse: every trace dialect through one parser (spec §11.1, §11.3)."""
from __future__ import annotations

import pytest

from tracing.parse import TraceParseError, parse_trace
from tracing.records import PathKey

# The golden C's lines for CLI-FLAGS-003 pixel (slow 685, fast 1039), spec §8.3/§11.1: C-PARITY-001 makes tick 0
# report the same k_frac as tick 9 (-0.607255839576692). The in-between values are illustrative.
K_LAST = -0.607255839576692


def golden_phi_lines(n: int = 10, k0: float = K_LAST) -> list[str]:
    lines = []
    for i in range(n):
        k = k0 if i in (0, n - 1) else -0.5891 - 0.002 * i
        lines.append(f"TRACE_C_PHI phi_tic={i} phi_deg={0.01 * i:.15g} k_frac={k:.15g} "
                     f"F_latt_b={1.5 + i:.15g} F_latt={-2.38319665299058 if i == 0 else 1.0 + i:.15g}")
    return lines


GOLDEN_PIXEL = """\
nanoBragg banner line that is not a trace
TRACE_CONFIG: tracing pixel (spixel=685, fpixel=1039)
TRACE_C:detector_convention=CUSTOM
TRACE_C:angles_rad=rotx:0 roty:0 rotz:0 twotheta:0
TRACE_C:beam_center_m=Xclose:0.217742295 Yclose:0.21390708 pixel_mm:0.172
TRACE_C:Rx=[1 0 0; 0 1 0; 0 0 1]
TRACE_C: pixel_pos_meters -0.0383922537729319 0.0973681880033118 -0.230792784137485
TRACE_C: R_distance_meters 0.253416334111961
TRACE_C: hkl_frac -6.8795206024501 -0.607255839576692 -13.766298525469
TRACE_C: hkl_rounded -7 -1 -14
TRACE_C: F_latt -2.38319665299058
TRACE:  this human-readable line is ignored
TRACE_C: steps 10
TRACE_C: I_pixel_final 2.88139542684698e-07
TRACE_C: floatimage_accumulated 2.88139546000821e-07
"""


def test_golden_scalars_and_phi():
    text = GOLDEN_PIXEL + "\n".join(golden_phi_lines()) + "\n"
    tr = parse_trace(text, "c", 685, 1039)
    assert tr.dialect == "golden"
    # Numbers exactly as printed (%.15g round-trips through float).
    assert tr.scalars["hkl_frac"] == [-6.8795206024501, -0.607255839576692, -13.766298525469]
    assert tr.scalar("steps") == 10.0
    assert tr.scalars["hkl_rounded"] == [-7.0, -1.0, -14.0]
    # Geometry-block style: text kept aside, named sub-values and matrices read as numbers.
    assert tr.text["detector_convention"] == "CUSTOM"
    assert "detector_convention" not in tr.scalars
    assert tr.scalars["beam_center_m.Xclose"] == [0.217742295]
    assert tr.scalars["Rx"] == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    # Per-phi: ten ticks of one path; tick 0 and tick 9 both carry the carried-over k (C-PARITY-001).
    s = tr.series()
    assert [x.phi_tic for x in s] == list(range(10))
    assert s[0].get("k_frac") == K_LAST and s[9].get("k_frac") == K_LAST
    assert s[9].phi_deg == pytest.approx(0.09)
    assert tr.fields()[:5] == ["phi_tic", "phi_deg", "k_frac", "F_latt_b", "F_latt"]
    assert tr.notes == []  # TRACE_CONFIG matches the requested pixel


def test_golden_repeats_become_path_groups():
    # The golden C repeats the series per layer/sub-pixel without saying which: 3 repeats -> 3 groups.
    text = "\n".join(golden_phi_lines(4) * 3)
    tr = parse_trace(text, "c", 1, 2)
    assert tr.dialect == "golden"
    assert tr.paths() == [PathKey(layer=0), PathKey(layer=1), PathKey(layer=2)]
    assert len(tr.series(PathKey(layer=2))) == 4
    assert any("repeats 3 times" in n for n in tr.notes)


def test_repeated_scalars_first_and_all():
    text = "TRACE_C: omega_pixel_sr 1e-07\nTRACE_C: omega_pixel_sr 2e-07\n"
    tr = parse_trace(text, "c", 0, 0)
    assert tr.scalars["omega_pixel_sr"] == [1e-07]
    assert tr.scalars_all["omega_pixel_sr"] == [[1e-07], [2e-07]]
    assert tr.dialect == "none"


def test_rich_dialect_with_path_fields():
    lines = [f"TRACE_C_PHI phi_tic={i} phi_deg={i * 0.5} k_frac=0.1 F_latt_b=2 F_latt=3 h_frac=1.5 l_frac=-2 "
             f"F_cell=100 layer={lay} sub_s=0 sub_f=1 src=0 mos=0 extra_thing=7" for lay in (0, 1) for i in range(3)]
    tr = parse_trace("\n".join(lines), "c", 3, 4)
    assert tr.dialect == "rich"
    assert tr.paths() == [PathKey(0, 0, 1, 0, 0), PathKey(1, 0, 1, 0, 0)]
    s = tr.series()[1]
    assert s.values["h_frac"] == 1.5 and s.values["extra_thing"] == 7.0
    assert "layer" not in s.values  # path fields live in the PathKey
    assert tr.fields()[:7] == ["phi_tic", "phi_deg", "k_frac", "F_latt_b", "F_latt", "h_frac", "l_frac"]


def test_port_dialect_lines_are_read_into_the_common_records():
    text = """TRACE_PY: pixel_pos_meters 0.1 0.2 0.3
TRACE_PY: hkl_rounded 1 2 3
TRACE_PY:pix0_vector=0.1 0.2 0.3
TRACE_PY_PHI phi_tic=0 phi_deg=0 k_frac=-0.589139352775903 F_latt_b=1 F_latt=1.35179 S_x=1 S_y=2 S_z=3
TRACE_PY_PHI phi_tic=1 phi_deg=0.01 k_frac=-0.59 F_latt_b=1 F_latt=1.2 S_x=1 S_y=2 S_z=3
Final intensity = 1.0e-07
"""
    tr = parse_trace(text, "py", 685, 1039)
    # TRACE_PY_PHI with S_x.. and no path fields: the port's dialect (spec 11.3).
    assert tr.dialect == "port"
    assert tr.scalars["pix0_vector"] == [0.1, 0.2, 0.3]
    assert tr.series()[0].get("k_frac") == -0.589139352775903
    # S is printed in 1/Angstrom and stored in 1/m, the unit of scattering_vec_A_inv: 2 A^-1 = 2e10 m^-1.
    assert tr.series()[0].values["S_y"] == 2.0e10
    assert "h_frac" in tr.missing and "F_cell" in tr.missing


def test_no_trace_lines():
    tr = parse_trace("10% done\n100% done\n", "c", 0, 0)
    assert tr.dialect == "none" and tr.samples == [] and tr.scalars == {}


def test_wrong_pixel_is_noted():
    tr = parse_trace("TRACE_CONFIG: tracing pixel (spixel=1039, fpixel=685)\n", "c", 685, 1039)
    assert "not the requested" in tr.notes[0]


@pytest.mark.parametrize("bad, reason", [
    ("TRACE_C_PHI phi_tic=0 phi_deg=0 k_frac=abc F_latt_b=1 F_latt=1", "not a number"),
    ("TRACE_C_PHI phi_tic=0 phi_deg=0 k_frac 0.1 F_latt_b=1 F_latt=1", "no '='"),
    ("TRACE_C_PHI phi_tic=0 phi_deg=0 k_frac= F_latt_b=1 F_latt=1", "no value"),
    ("TRACE_C_PHI phi_tic=0 phi_deg=0 F_latt_b=1 F_latt=1", "missing field(s) k_frac"),
    ("TRACE_C_PHI phi_tic=0.5 phi_deg=0 k_frac=1 F_latt_b=1 F_latt=1", "not an integer"),
    ("TRACE_PY_PHI phi_tic=0 phi_deg=0 k_frac=1 F_latt_b=1 F_latt=1 =3", "no name"),
    ("TRACE_C:", "without a key"),
])
def test_malformed_lines_raise_with_line_number(bad, reason):
    text = "some banner\nTRACE_C: steps 10\n" + bad + "\n"
    with pytest.raises(TraceParseError) as ei:
        parse_trace(text, "c", 0, 0)
    assert ei.value.lineno == 3
    assert reason in str(ei.value) and "line 3" in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_special_values():
    # The C prints inf/nan/-nan with %g; they are numbers, not text.
    tr = parse_trace("TRACE_C: F_latt -nan\nTRACE_C: omega inf\n", "c", 0, 0)
    assert tr.scalars["omega"] == [float("inf")]
    assert tr.scalars["F_latt"][0] != tr.scalars["F_latt"][0]  # NaN

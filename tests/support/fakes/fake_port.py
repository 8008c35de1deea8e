"""A fake external PyTorch port: `python tests/support/fakes/fake_port.py <nanoBragg flags>`.

It renders with our PyTorch engine (a fresh rotation at every tick, as the port does, spec §14.1) and, like the
port, writes `-floatfile` and answers `-trace_pixel S F` with the §11.3 dialect and its quirks:
- `TRACE_PY: key values` once per pixel (the pixel centre; no sub-pixel repetition), `%.15g`;
- `scattering_vec_A_inv` in m^-1 despite its name; `hkl_rounded` by Python's round() (half to even);
- `F_cell_interpolated` and `F_cell_nearest` instead of `F_cell`; `I_before_scaling_pre_polar` / `_post_polar`;
- `TRACE_PY_PHI phi_tic= phi_deg= k_frac= F_latt_b= F_latt= S_x= S_y= S_z= a_star_y= b_star_y= c_star_y=
  V_actual=` with S in 1/Angstrom (the port's internal unit) and no path fields;
- human-readable lines (`Final intensity = ...`) and `TRACE:` lines the parser must ignore.
FAKE_PORT_HALF_EVEN=1 puts the traced pixel's h exactly on a half-integer in the printed hkl_frac, so that the
round-half-even quirk shows (used by the parser test through the real process).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, for simulator and tracing

import numpy as np  # noqa: E402

from simulator.argv import parse_argv, without_flag  # noqa: E402
from simulator.engine import render, trace_pixel  # noqa: E402
from simulator.io_files import write_float  # noqa: E402


def fmt(values) -> str:
    return " ".join(f"{float(v):.15g}" for v in np.atleast_1d(values))


def print_port_trace(tr) -> None:
    sc = tr.scalars
    out = []

    def line(key: str, values) -> None:
        out.append(f"TRACE_PY: {key} {fmt(values)}")

    for key in ("pix0_vector_meters", "fdet_vec", "sdet_vec", "pixel_pos_meters", "R_distance_meters",
                "omega_pixel_sr", "close_distance_meters", "obliquity_factor", "diffracted_vec", "incident_vec",
                "lambda_meters", "lambda_angstroms", "scattering_vec_A_inv", "rot_a_angstroms", "rot_b_angstroms",
                "rot_c_angstroms"):
        if key in sc:
            line(key, sc[key])
    line("spindle_axis_raw", [-1, 0, 0])
    line("spindle_axis_normalized", [-1, 0, 0])
    line("spindle_magnitude", [1])
    for key in ("rot_a_star_A_inv", "rot_b_star_A_inv", "rot_c_star_A_inv"):
        if key in sc:
            line(key, sc[key])
    frac = list(sc["hkl_frac"])
    if os.environ.get("FAKE_PORT_HALF_EVEN"):
        frac[0] = 3.5  # the C's ceil(3.5 - 0.5) = 3; Python's round(3.5) = 4
    line("hkl_frac", frac)
    out.append("TRACE_PY: hkl_rounded " + " ".join(str(round(v)) for v in frac))  # half to even, as the port
    for key in ("F_latt_a", "F_latt_b", "F_latt_c", "F_latt"):
        if key in sc:
            line(key, sc[key])
    line("F_cell_interpolated", sc["F_cell"])
    line("F_cell_nearest", sc["F_cell"])
    line("I_before_scaling_pre_polar", sc["I_before_scaling"])
    line("I_before_scaling_post_polar", [sc["I_before_scaling"][0] * sc["polar"][0]])
    for key in ("r_e_meters", "r_e_sqr", "fluence_photons_per_m2", "steps", "oversample_thick", "oversample_polar",
                "oversample_omega", "capture_fraction", "polar", "omega_pixel", "cos_2theta", "I_pixel_final",
                "floatimage_accumulated"):
        if key in sc:
            line(key, sc[key])
    out.append(f"Final intensity = {sc['I_pixel_final'][0]:.6e}")
    q_m = np.asarray(sc["scattering_vec_A_inv"])           # 1/m
    s_ang = q_m / 1e10                                       # the port's per-phi S is in 1/Angstrom
    a, b, c = (np.asarray(sc[k]) for k in ("rot_a_angstroms", "rot_b_angstroms", "rot_c_angstroms"))
    volume = float(np.dot(a, np.cross(b, c)))
    for smp in tr.series():
        v = smp.values
        out.append(f"TRACE_PY_PHI phi_tic={smp.phi_tic} phi_deg={smp.phi_deg:.15g} k_frac={v['k_frac']:.15g} "
                   f"F_latt_b={v['F_latt_b']:.15g} F_latt={v['F_latt']:.15g} S_x={s_ang[0]:.15g} "
                   f"S_y={s_ang[1]:.15g} S_z={s_ang[2]:.15g} a_star_y={sc['rot_a_star_A_inv'][1]:.15g} "
                   f"b_star_y={sc['rot_b_star_A_inv'][1]:.15g} c_star_y={sc['rot_c_star_A_inv'][1]:.15g} "
                   f"V_actual={volume:.15g}")
    out.append(f"TRACE: Omega (solid angle) = {sc['omega_pixel'][0]:.12e}")
    print("\n".join(out), flush=True)


def main(argv: list[str]) -> int:
    parsed = parse_argv(without_flag(without_flag(argv, "-trace_pixel"), "-phi0_carryover"))
    cfg = parsed.config
    cfg.sampling.phi0_carryover = False  # the port has no C-PARITY-001 emulation
    print("fake port: rendering", flush=True)
    img = render(cfg).image
    if cfg.output.floatfile:
        write_float(cfg.output.floatfile, img)
    tp = [argv[i + 1:i + 3] for i, a in enumerate(argv) if a == "-trace_pixel"]
    if tp:
        s, f = int(tp[-1][0]), int(tp[-1][1])
        print_port_trace(trace_pixel(cfg, s, f))
    print("100% done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

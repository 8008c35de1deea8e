"""Per-pixel trace of the PyTorch engine: PixelTrace records in the C's TRACE_C key vocabulary (spec 11.1(c)) and
their `TRACE_PY` text form. Built from the kernel's own per-path tensors, so the trace is what render() used."""
from __future__ import annotations

import math

import numpy as np

from simulator.beam import R_E, R_E_SQR
from simulator.kernel import KernelConsts
from simulator.setup import Setup
from tracing.records import PathKey, PhiSample, PixelTrace

INT_KEYS = {"hkl_rounded", "steps", "oversample_thick", "oversample_polar", "oversample_omega"}
PHI_LINE_FIELDS = ("k_frac", "F_latt_b", "F_latt", "h_frac", "l_frac", "h0", "k0", "l0", "F_latt_a", "F_latt_c",
                   "F_cell", "I_contrib")
INT_PHI_FIELDS = {"h0", "k0", "l0"}
# Printed after the path fields: the source's wavelength (A), the capture fraction and polarisation in force.
PATH_EXTRA_FIELDS = ("lambda_A", "capture", "polar")


def _add(tr: PixelTrace, key: str, values) -> None:
    vals = [float(v) for v in np.atleast_1d(np.asarray(values, dtype=np.float64))]
    tr.scalars.setdefault(key, vals)
    tr.scalars_all.setdefault(key, []).append(vals)


def build_trace(setup: Setup, k: KernelConsts, res: dict, slow: int, fast: int) -> PixelTrace:
    """PixelTrace from `kernel.evaluate(..., detail=True)` of one pixel."""
    g, cr = setup.geometry, setup.crystal
    N, L = setup.oversample, g.thicksteps
    S, T, M = setup.beam.n_sources, setup.phi.steps, cr.n_mosaic
    np_ = {key: v[0].detach().cpu().double().numpy() for key, v in res.items()
           if hasattr(v, "detach") and v.dim() > 0}
    tr = PixelTrace(engine="torch", slow=slow, fast=fast, dialect="py")
    if setup.phi.carryover:
        tr.notes.append("phi=0 carry-over emulation on")
    pos, air, d, q, keep = np_["pos"], np_["air"], np_["d"], np_["q"], np_["keep"]
    hkl, h0, F_latt, F2, term = np_["hkl"], np_["h0"], np_["F_latt"], np_["F2"], np_["term"]
    fa = np_.get("fa")
    Fc = np_.get("F_cell_signed")
    if Fc is None:
        Fc = np.sqrt(F2)
    omega_all = np_["omega_all"]
    cap_all, polar_all = np_["cap_all"], np_.get("polar_all")
    sc = setup.config.sampling
    lambdas, incident = setup.beam.lambdas, setup.beam.incident
    rtd = 180.0 / math.pi
    for j in range(L * N * N):
        omega_shown = omega_all[j] if setup.config.sampling.oversample_omega else omega_all[0]
        _add(tr, "pix0_vector_meters", g.pix0)
        _add(tr, "fdet_vec", g.fdet)
        _add(tr, "sdet_vec", g.sdet)
        _add(tr, "pixel_pos_meters", pos[j])
        _add(tr, "R_distance_meters", air[j])
        _add(tr, "omega_pixel_sr", omega_shown)
        _add(tr, "close_distance_meters", g.close_distance)
        _add(tr, "obliquity_factor", g.close_distance / air[j])
        _add(tr, "diffracted_vec", d[j])
        _add(tr, "incident_vec", incident[0])
        _add(tr, "lambda_meters", lambdas[0])
        _add(tr, "lambda_angstroms", lambdas[0] * 1e10)
        _add(tr, "scattering_vec_A_inv", q[j, 0])
        if not keep[j, 0]:
            continue
        # Real-space vectors at tick 0, mosaic 0 as used: recover them from the lattice the kernel used.
        mat = _lattice_used(setup, k, res, j)
        _add(tr, "rot_a_angstroms", mat[:, 0] * 1e10)
        _add(tr, "rot_b_angstroms", mat[:, 1] * 1e10)
        _add(tr, "rot_c_angstroms", mat[:, 2] * 1e10)
        _add(tr, "rot_a_star_A_inv", cr.a_star)
        _add(tr, "rot_b_star_A_inv", cr.b_star)
        _add(tr, "rot_c_star_A_inv", cr.c_star)
        _add(tr, "hkl_frac", hkl[j, 0, 0, 0])
        _add(tr, "hkl_rounded", h0[j, 0, 0, 0])
        if fa is not None:
            _add(tr, "F_latt_a", fa[j, 0, 0, 0, 0])
            _add(tr, "F_latt_b", fa[j, 0, 0, 0, 1])
            _add(tr, "F_latt_c", fa[j, 0, 0, 0, 2])
        _add(tr, "F_latt", F_latt[j, 0, 0, 0])
        _add(tr, "F_cell", Fc[j, 0, 0, 0])
    scal = res
    _add(tr, "I_before_scaling", float(scal["I"][0]))
    _add(tr, "r_e_meters", R_E)
    _add(tr, "r_e_sqr", R_E_SQR)
    _add(tr, "fluence_photons_per_m2", setup.beam.fluence)
    _add(tr, "steps", setup.steps)
    _add(tr, "oversample_thick", int(sc.oversample_thick))
    _add(tr, "oversample_polar", int(sc.oversample_polar))
    _add(tr, "oversample_omega", int(sc.oversample_omega))
    _add(tr, "capture_fraction", float(scal["cap"][0]))
    _add(tr, "polar", float(scal["polar"][0]))
    _add(tr, "omega_pixel", float(scal["omega"][0]))
    _add(tr, "cos_2theta", float(np.dot(incident[-1], d[-1])))
    S_val = float(scal["S"][0])
    _add(tr, "I_pixel_final", S_val)
    # The rendered image's value (render's compiled kernel when it ran, else this path's S rounded to float32).
    _add(tr, "floatimage_accumulated", res.get("image_value", float(np.float32(S_val))))

    # Per-phi samples of every path that reached the phi loop.
    angles = setup.phi.angles
    for j in range(L * N * N):
        t_layer, rem = divmod(j, N * N)
        sub_s, sub_f = divmod(rem, N)
        for s in range(S):
            if not keep[j, s]:
                continue
            for m in range(M):
                path = PathKey(layer=t_layer, sub_s=sub_s, sub_f=sub_f, src=s, mos=m)
                # The factors in force on this path (C loop, spec 7.1): capture of this layer's first sub-pixel
                # (every sub-pixel with -oversample_thick); polarisation of the pixel's first surviving path
                # (every path with -oversample_polar; 1 with -nopolar).
                path_extra = {
                    "lambda_A": float(lambdas[s]) * 1e10,
                    "capture": float(cap_all[j] if sc.oversample_thick else cap_all[t_layer * N * N]),
                    "polar": float(polar_all[j, s] if (sc.oversample_polar and polar_all is not None)
                                   else scal["polar"][0]),
                }
                for t in range(T):
                    hh = hkl[j, s, t, m]
                    vals = {
                        "k_frac": hh[1], "h_frac": hh[0], "l_frac": hh[2],
                        "h0": h0[j, s, t, m, 0], "k0": h0[j, s, t, m, 1], "l0": h0[j, s, t, m, 2],
                        "F_latt": F_latt[j, s, t, m],
                        "F_cell": Fc[j, s, t, m], "I_contrib": term[j, s, t, m],
                    }
                    if fa is not None:
                        vals.update(F_latt_a=fa[j, s, t, m, 0], F_latt_b=fa[j, s, t, m, 1],
                                    F_latt_c=fa[j, s, t, m, 2])
                    vals.update(path_extra)
                    tr.samples.append(PhiSample(phi_tic=t, phi_deg=float(angles[t] * rtd), path=path,
                                                values={kk: float(v) for kk, v in vals.items()}))
    return tr


def _lattice_used(setup: Setup, k: KernelConsts, res: dict, j: int) -> np.ndarray:
    """(3, 3) columns a, b, c (m) at tick 0, mosaic 0 for sub-path j, source 0, as the kernel used them."""
    from simulator.kernel import lattice_matrix

    ph = setup.phi
    angles = ph.eff_rest
    if res.get("_first") is not None and res["_first"][1:] == (j, 0):
        angles = ph.eff_first
    return lattice_matrix(setup, angles[:1])[:, :3]


def _fmt(v: float, as_int: bool) -> str:
    return str(int(round(v))) if as_int else f"{v:.15g}"


def format_trace(trace: PixelTrace) -> str:
    """`TRACE_PY: key v1 v2 ...` lines (%.15g; integers %d) in the C's order (a block per sub-path, then the
    pixel's final values), then one `TRACE_PY_PHI ...` line per tick per path."""
    lines: list[str] = []
    keys = list(trace.scalars)
    block = [key for key in keys if key not in _FINAL_KEYS]
    nblock = max((len(trace.scalars_all.get(key, [])) for key in block), default=0)
    for b in range(nblock):
        for key in block:
            vals_all = trace.scalars_all.get(key, [])
            if b < len(vals_all):
                lines.append("TRACE_PY: {} {}".format(key, " ".join(_fmt(v, key in INT_KEYS) for v in vals_all[b])))
    for key in keys:
        if key in _FINAL_KEYS:
            lines.append("TRACE_PY: {} {}".format(key, " ".join(_fmt(v, key in INT_KEYS) for v in trace.scalars[key])))
    for smp in trace.samples:
        parts = [f"phi_tic={smp.phi_tic}", f"phi_deg={smp.phi_deg:.15g}"]
        for name in PHI_LINE_FIELDS:
            v = smp.values.get(name)
            if v is None:
                continue
            parts.append(f"{name}=" + (str(int(v)) if name in INT_PHI_FIELDS else f"{v:.15g}"))
        p = smp.path
        parts += [f"layer={p.layer}", f"sub_s={p.sub_s}", f"sub_f={p.sub_f}", f"src={p.src}", f"mos={p.mos}"]
        for name in PATH_EXTRA_FIELDS:
            v = smp.values.get(name)
            if v is not None:
                parts.append(f"{name}={v:.15g}")
        lines.append("TRACE_PY_PHI " + " ".join(parts))
    return "\n".join(lines) + ("\n" if lines else "")


_FINAL_KEYS = {"I_before_scaling", "r_e_meters", "r_e_sqr", "fluence_photons_per_m2", "steps", "oversample_thick",
               "oversample_polar", "oversample_omega", "capture_fraction", "polar", "omega_pixel", "cos_2theta",
               "I_pixel_final", "floatimage_accumulated"}

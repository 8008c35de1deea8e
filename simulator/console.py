"""nanoBragg's console report in upstream's words and order (torch-free), for `python -m simulator`.

`setup_report(setup, seed)` gives the lines upstream main prints between parsing and rendering (banner, convention,
pivot, cell tables, crystal size, oversampling, HKL reading, layers, phi ticks, sources, mosaic domains and the
indented summary block, spec 4.4, 4.6, 6, 8.2, 10.5); `statistics_report` the lines after rendering. Values come
from the resolved Setup, printed with the C's formats (%g, %f, %.15g, %11.8f). Our own lines are printed by the CLI
with the "simulator: " prefix, except one: each per-item list (layers, phi ticks, divergence points, wavelengths,
sources) stops after budget.def's CONSOLE_LIST_MAX lines with a "simulator: ... N more" line, as the C's does.
"""
from __future__ import annotations

import math

import numpy as np

from simulator.beam import SOURCE_SEPARATORS, _mr, _resolve_div
from simulator.budget import CONSOLE_LIST_MAX, WORDS
from simulator.textfile import content_lines, read_input_text
from simulator.setup import Setup

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17"
AVOGADRO = 6.02214179e23
SHAPE_WORDS = {"ROUND": "ellipsoidal", "SQUARE": "parallelpiped", "GAUSS": "gaussian", "TOPHAT": "tophat-spot"}


def _mag(v) -> float:
    x, y, z = (float(t) for t in v)
    return math.sqrt(x * x + y * y + z * z)


def _dot(u, v) -> float:
    return float(u[0]) * float(v[0]) + float(u[1]) * float(v[1]) + float(u[2]) * float(v[2])


def _cross(u, v) -> tuple[float, float, float]:
    u0, u1, u2 = (float(t) for t in u)
    v0, v1, v2 = (float(t) for t in v)
    return (u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0)


def _rotate_axis(v, u, phi: float) -> list[float]:
    """nanoBragg's rotate_axis with its order of operations (u·dot first), so that even signed zeros print alike."""
    c, s = math.cos(phi), math.sin(phi)
    v0, v1, v2 = (float(t) for t in v)
    u0, u1, u2 = (float(t) for t in u)
    dot = (u0 * v0 + u1 * v1 + u2 * v2) * (1.0 - c)
    return [u0 * dot + v0 * c + (-u2 * v1 + u1 * v2) * s, u1 * dot + v1 * c + (u2 * v0 - u0 * v2) * s,
            u2 * dot + v2 * c + (-u1 * v0 + u0 * v1) * s]


def _g(x: float) -> str:
    return f"{x:g}"


def _angle_from(sin_v: float, cos_v: float) -> float:
    """The C's clamps (a cosine whose square exceeds 1 becomes +1) then atan2, in degrees."""
    sin_v = min(1.0, max(-1.0, sin_v))
    if cos_v * cos_v > 1.0:
        cos_v = 1.0
    return math.degrees(math.atan2(sin_v, cos_v))


def cell_lines(setup: Setup) -> list[str]:
    """Unit Cell / Recp Cell / volume and the two vector tables (spec 4.4): angles as atan2(sin, cos) with sin from
    the volume and the reciprocal lengths, cos from dot products, as the C computes them."""
    cr = setup.crystal
    a, b, c = (np.asarray(v, dtype=np.float64) * 1e10 for v in (cr.a0, cr.b0, cr.c0))
    As, Bs, Cs = cr.a_star, cr.b_star, cr.c_star
    la, lb, lc = _mag(a), _mag(b), _mag(c)
    las, lbs, lcs = _mag(As), _mag(Bs), _mag(Cs)
    V = cr.volume_A3
    Vs = 1.0 / V
    unit = (la, lb, lc, _angle_from(las * V / lb / lc, _dot(b, c) / lb / lc),
            _angle_from(lbs * V / la / lc, _dot(a, c) / la / lc), _angle_from(lcs * V / la / lb, _dot(a, b) / la / lb))
    recp = (las, lbs, lcs, _angle_from(la * Vs / lbs / lcs, _dot(Bs, Cs) / lbs / lcs),
            _angle_from(lb * Vs / las / lcs, _dot(As, Cs) / las / lcs),
            _angle_from(lc * Vs / las / lbs, _dot(As, Bs) / las / lbs))
    out = ["Unit Cell: " + " ".join(_g(x) for x in unit), "Recp Cell: " + " ".join(_g(x) for x in recp),
           f"volume = {V:g} A^3"]
    out += vector_table("real-space cell vectors (Angstrom):", ("a", "b", "c"), (a, b, c))
    out += vector_table("reciprocal-space cell vectors (Angstrom^-1):", ("a_star", "b_star", "c_star"), (As, Bs, Cs))
    return out


def vector_table(title: str, names: tuple[str, str, str], vecs) -> list[str]:
    """The C's `%-10s` header and `X: %11.8f %11.8f %11.8f` rows (one row per Cartesian axis)."""
    out = [title, "     {:<10s}  {:<10s}  {:<10s}".format(*names)]
    for i, axis in enumerate("XYZ"):
        out.append(f"{axis}: " + " ".join(f"{float(v[i]):11.8f}" for v in vecs))
    return out


def _warnings_before_geometry(setup: Setup) -> list[str]:
    cfg = setup.config
    out = []
    c, g = cfg.crystal, setup.geometry
    if g.thick > 0 and cfg.detector.abs_um is None:
        out.append(f"WARNING: setting detector attenuation depth to {g.mu:g} m")
    dom, spread = c.mosaic_domains, c.mosaic_spread_deg
    if dom is None or dom <= 0:
        if spread is not None and spread > 0:
            out.append("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains")
    elif spread is None or spread < 0:
        out.append("WARNING: no mosaic spread specified.  setting mosaic_domains = 1")
    elif spread == 0:
        out.append("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1")
    return out


def _clip_warnings(setup: Setup) -> list[str]:
    c = setup.config.crystal
    beam = setup.beam.beamsize
    out = []
    for size, word in ((c.sample_y_mm, "high"), (c.sample_z_mm, "wide")):
        if size is not None and beam >= 0 and beam < size / 1000.0:
            out.append(f"WARNING: clipping sample ({size / 1000.0:g} m {word}) with beam ({beam:g} m)")
    return out


def _oversample_lines(setup: Setup) -> list[str]:
    g, cr = setup.geometry, setup.crystal
    xmax = max(cr.size_m())
    rps = setup.beam.lambda0 * g.distance / g.px
    rec = max(1, int(math.ceil(3.0 * xmax / rps)))
    ov = setup.config.sampling.oversample
    out = []
    if ov is None or ov <= 0:
        out.append(f"auto-selected {setup.oversample}-fold oversampling")
    if setup.oversample < rec:
        out += [f"WARNING: maximum dimension of sample is {xmax * 1e10:g} A",
                f"         but reciprocal pixel size is {rps * 1e10:g} A",
                "         intensity may vary significantly across a pixel!",
                f"         recommend -oversample {rec} to work around this"]
    sx, sy, sz = cr.size_m()
    out.append(f"approximate MW = {sx * sy * sz * 1.2e6 * AVOGADRO / (cr.Na * cr.Nb * cr.Nc):g}")
    return out


def _hkl_lines(setup: Setup) -> list[str]:
    c = setup.config.crystal
    if c.hkl_file is None:
        return []
    out = [f"counting entries in {c.hkl_file}"]
    if c.default_F != 0:
        out += [f"initializing to default_F = {c.default_F:g}:", "done initializing:"]
    out.append(f"re-reading {c.hkl_file}")
    if c.dump_file is not None:
        out.append(f"writing dump file for next time: {c.dump_file}")
    return out


def _divergence(setup: Setup) -> tuple[tuple[int, float, float], tuple[int, float, float]]:
    b = setup.config.beam
    return (_resolve_div(b.hdivsteps, _mr(b.hdivrange_mrad), _mr(b.hdivstep_mrad), 1.0),
            _resolve_div(b.vdivsteps, _mr(b.vdivrange_mrad), _mr(b.vdivstep_mrad), 1.0))


def _dispersion(setup: Setup) -> tuple[int, float, float]:
    """(steps, range, step) of the spectral dispersion after upstream's resolution and sanity checks (spec 6.1)."""
    b = setup.config.beam
    disp = b.dispersion_pct / 100.0
    if b.dispsteps is not None and disp == 0:
        return 1, 0.0, 0.0
    return _resolve_div(b.dispsteps, disp if disp != 0 else None, None, 1.0)


def _file_sources(setup: Setup, path: str) -> list[tuple[float, float, float, float]]:
    """(X, Y, Z, weight) of each -sourcefile row as the C lists them: the file's numbers, missing ones defaulted
    (position -10 m * beam, weight 1), with the file reading rules of simulator.beam.read_sourcefile."""
    default = [-10.0 * float(x) for x in setup.geometry.beam]
    rows = []
    for _lineno, line in content_lines(read_input_text("-sourcefile", path)):
        toks = [t for t in SOURCE_SEPARATORS.split(line) if t]
        if not toks:
            continue
        # read_sourcefile checked each is a decimal token, whose value is float()'s (textfile.decimal)
        vals = [float(t) for t in toks[:5]] + [math.nan] * 5
        pos = [default[i] if math.isnan(vals[i]) else vals[i] for i in range(3)]
        rows.append((pos[0], pos[1], pos[2], 1.0 if math.isnan(vals[3]) else vals[3]))
    return rows


def _source_lines(setup: Setup) -> tuple[list[str], int]:
    """Divergence deviations and wavelengths (generated sources only), the source table; and the divergence-step
    count (-1 with -sourcefile, as upstream leaves it)."""
    b, beam = setup.config.beam, setup.beam
    out: list[str] = []
    divsteps = -1
    positions: list[list[float]] = []   # where the C lists its sources: before normalising, 10 m from the sample
    if b.sourcefile is None:
        (hs, hr, hst), (vs, vr, vst) = _divergence(setup)
        divsteps = 0
        for hi in range(hs):
            for vi in range(vs):
                hdiv, vdiv = hst * hi - hr / 2.0, vst * vi - vr / 2.0
                with np.errstate(invalid="ignore", divide="ignore"):
                    t = (np.float64(hdiv * hdiv - hst * hst / 4.0 * (1 - hs % 2)) / hr / hr
                         + np.float64(vdiv * vdiv - vst * vst / 4.0 * (1 - vs % 2)) / vr / vr)
                if b.round_div and t * 4.0 > 1.1:
                    continue
                if divsteps < CONSOLE_LIST_MAX:
                    out.append(f"divergence deviation: {hdiv:g} {vdiv:g}")
                divsteps += 1
                g = setup.geometry
                pos = _rotate_axis(_rotate_axis([-10.0 * float(x) for x in g.beam], g.polar_axis, vdiv),
                                   g.vertical, hdiv)
                positions += [pos] * _dispersion(setup)[0]
        out += list_cut(divsteps, "divergence deviation")
        ndisp, disp, step = _dispersion(setup)
        for di in range(min(ndisp, CONSOLE_LIST_MAX)):
            out.append(f"lambda{di} = {beam.lambda0 * (1.0 + step * di - disp / 2.0):.15g}")
        out += list_cut(ndisp, "lambda")
    n = beam.n_sources
    out.append(f"  created a total of {n} sources:")
    if b.sourcefile is None:
        rows = [(x, y, z, 1.0 / n) for x, y, z in positions]
    else:
        rows = _file_sources(setup, b.sourcefile)
    for (x, y, z, w), lam in zip(rows[:CONSOLE_LIST_MAX], beam.lambdas[:CONSOLE_LIST_MAX], strict=True):
        out.append(f"{x:g} {y:g} {z:g}   {w:g} {float(lam):g}")
    out += list_cut(n, "source")
    return out, divsteps


def list_cut(total: int, what: str) -> list[str]:
    """The line after a console list cut at CONSOLE_LIST_MAX lines (none when nothing was cut)."""
    return [f"simulator: {WORDS['LIST_CUT'] % (total - CONSOLE_LIST_MAX, what)}"] if total > CONSOLE_LIST_MAX else []


def setup_report(setup: Setup, seed: int | None) -> list[str]:
    """Upstream's lines from the banner to the noise parameters; `seed` as typed after -seed (None: no noise)."""
    cfg, g, cr = setup.config, setup.geometry, setup.crystal
    out = _clip_warnings(setup)
    if "auto-generating odet_vector" in g.warnings:
        out.append("WARNING: auto-generating odet_vector")
    out += [BANNER] + _warnings_before_geometry(setup)
    out.append(f"{g.convention.lower()} convention selected.")
    out.append("pivoting detector around " + ("sample" if g.pivot == "SAMPLE" else "direct beam spot"))
    out.append(f"XDS incident beam: {_dot(g.beam, g.fdet):g} {_dot(g.beam, g.sdet):g} {_dot(g.beam, g.odet):g}")
    if cfg.crystal.interpolate is None:
        auto_on = min(cr.Na, cr.Nb, cr.Nc) <= 2
        out.append("auto-selected tricubic interpolation of structure factors" if auto_on
                   else "auto-selected no interpolation")
    if cfg.crystal.mat_file is not None:
        out.append(f"reading {cfg.crystal.mat_file}")
    if cfg.crystal.misset_random and cr.misset_deg is not None:
        out.append("random orientation misset angles: {:f} {:f} {:f} deg".format(*cr.misset_deg))
    out += cell_lines(setup)
    sx, sy, sz = cr.size_m()
    out.append(f"crystal is {sx * 1e6:g} x {sy * 1e6:g} x {sz * 1e6:g} microns")
    out += _oversample_lines(setup)
    out += _hkl_lines(setup)
    # one line per layer and phi tick in upstream; the first CONSOLE_LIST_MAX here, then a count (budget.def)
    out += [f"thick{k} = {g.thickstep * k * 1e6:g} um" for k in range(min(g.thicksteps, CONSOLE_LIST_MAX))]
    out += list_cut(g.thicksteps, "thick")
    out += [f"phi{k} = {math.degrees(setup.phi.phi0 + setup.phi.step * k):g}"
            for k in range(min(setup.phi.steps, CONSOLE_LIST_MAX))]
    out += list_cut(setup.phi.steps, "phi")
    src, divsteps = _source_lines(setup)
    out += src
    out.append(f"  created a total of {cr.n_mosaic} mosaic domains")
    out += summary_block(setup, divsteps, seed)
    return out


def summary_block(setup: Setup, divsteps: int, seed: int | None) -> list[str]:
    """The indented block that closes the set-up report."""
    cfg, g, cr, beam = setup.config, setup.geometry, setup.crystal, setup.beam
    d = cfg.detector
    (hs, hr, hst), (vs, vr, vst) = _divergence(setup)
    ndisp, disp, _ = _dispersion(setup)
    out = [f"  {setup.hkl.hkls} initialized hkls (all others ={setup.hkl.default_F:g})",
           f"  {SHAPE_WORDS.get(setup.shape, setup.shape.lower())} xtal: {cr.Na:.0f}x{cr.Nb:.0f}x{cr.Nc:.0f} cells",
           f"  wave={beam.lambda0:g} meters +/- {disp * 100:g}% in {ndisp} steps",
           "  polarization effect disabled" if beam.nopolar else f"  Kahn polarization factor: {beam.polar_K:f}"]
    if g.curved:
        out.append("  curved detector: all pixels same distance from origin")
    if g.point_pixel:
        out.append("  pixel obliquity effect disabled")
    mu = g.mu if (d.abs_um is not None or g.thick > 0) else -1.0   # upstream's unset attenuation is -1
    fclose0 = (d.orgx_px - 0.5) * g.px if d.orgx_px is not None else g.detsize_f / 2.0
    sclose0 = (d.orgy_px - 0.5) * g.px if d.orgy_px is not None else g.detsize_s / 2.0
    xclose = d.xclose_mm / 1000.0 if d.xclose_mm is not None else fclose0
    yclose = d.yclose_mm / 1000.0 if d.yclose_mm is not None else sclose0
    pn = _cross(g.beam, g.polar_axis)
    xmin, xmax, ymin, ymax = cfg.output.roi if cfg.output.roi is not None else (-1, -1, -1, -1)
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax = g.fpixels if xmax < 0 else xmax
    ymax = g.spixels if ymax < 0 else ymax
    out += [f"  incident fluence: {beam.fluence:g} photons/m^2",
            f"  distance={g.distance:g} detsize={g.detsize_f:g}x{g.detsize_s:g}  pixel={g.px:g} meters "
            f"({g.fpixels}x{g.spixels} pixels)",
            f"  sensor is {g.thick:g} m thick in {g.thicksteps} layers with mu= {mu:g}",
            f"  Xbeam={g.Xbeam:g} Ybeam={g.Ybeam:g}", f"  Fbeam={g.Fbeam:g} Sbeam={g.Sbeam:g}",
            f"  Xclose={xclose:g} Yclose={yclose:g}", f"  Fclose={g.Fclose:g} Sclose={g.Sclose:g}",
            "  DIRECTION_OF_DETECTOR_X-AXIS= {:g} {:g} {:g}".format(*g.fdet),
            "  DIRECTION_OF_DETECTOR_Y-AXIS= {:g} {:g} {:g}".format(*g.sdet),
            "  DIRECTION_OF_DETECTOR_Z-AXIS= {:g} {:g} {:g}".format(*g.odet),
            "  INCIDENT_BEAM_DIRECTION= {:g} {:g} {:g}".format(*g.beam),
            "  spindle ROTATION_AXIS= {:g} {:g} {:g}".format(*g.spindle),
            "  POLARIZATION_PLANE_NORMAL= {:g} {:g} {:g}".format(*pn),
            "  dials origin= {:g} {:g} {:g}".format(*g.dials_origin_mm),
            f"  roi: {xmin} < x < {xmax} && {ymin} < y < {ymax}",
            f"  hdivrange={hr:g} hdivstep={hst:g}  radians", f"  vdivrange={vr:g} vdivstep={vst:g}  radians",
            f"  {divsteps} divergence steps", f"  {beam.n_sources} sources",
            f"  {cr.n_mosaic} mosaic domains over mosaic spread of {math.degrees(cr.mosaic_spread):g} degrees",
            f"  {setup.phi.steps} phi steps from {math.degrees(setup.phi.phi0):g} to "
            f"{math.degrees(setup.phi.phi0 + setup.phi.osc):g} degrees",
            f"  {setup.oversample}x{setup.oversample} pixel oversample steps"
            + "".join(f" +{w}" for w in ("thick", "polar", "omega") if getattr(cfg.sampling, f"oversample_{w}"))]
    if setup.mask is not None:
        out.append(f"  skipping zero-flagged pixels in {d.mask_file}")
    if seed is not None:
        out += ["", "  noise image paramters:", f"  seed: {-seed}", f"  water droplet size: {beam.water:g} m"]
    return out

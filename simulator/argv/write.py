"""Writing back: `to_argv` turns a configuration into an argv that the C (and parse_argv) read back as the same
configuration; `format_value` is the shortest text that reads back as a number."""
from __future__ import annotations

import math

from simulator.config import BeamConfig, CrystalConfig, DetectorConfig, NanoBraggConfig, OutputConfig, SamplingConfig

from .table import VECTOR_FIELDS

# --------------------------------------------------------------------------------------------- writing back

def format_value(x: float) -> str:
    """Shortest text that reads back as x: integers without a decimal point, 'inf' for infinity."""
    if isinstance(x, bool):
        raise TypeError("a flag value cannot be a bool")
    if isinstance(x, int):
        return str(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):  # an atof side-match of "nan" (fuzz finding, issue 22): the value checks then refuse it
        return "nan"
    return repr(float(x)) if x != int(x) or abs(x) >= 1e16 else str(int(x))


def to_argv(cfg: NanoBraggConfig) -> list[str]:
    """A nanoBragg argv that the C (and parse_argv) read back as this configuration.

    Order matters in the C: vectors first (they switch to CUSTOM), then the convention flag, then values that set
    the pivot as a side effect, and an explicit -pivot last; -twotheta after -twotheta_axis (which sets it too).
    """
    out: list[str] = []
    d, c, b, s, o = cfg.detector, cfg.crystal, cfg.beam, cfg.sampling, cfg.output
    D0, C0, B0, S0, O0 = DetectorConfig(), CrystalConfig(), BeamConfig(), SamplingConfig(), OutputConfig()

    def add(flag: str, *vals) -> None:
        out.append(flag)
        out.extend(format_value(v) if not isinstance(v, str) else v for v in vals)

    def changed(obj, ref, name: str) -> bool:
        return getattr(obj, name) != getattr(ref, name)

    if d.curved_det:
        add("-curved_det")  # first, so never the very last argument (upstream ignores a trailing -curved_det)
    # crystal and structure factors
    if c.cell is not None:
        add("-cell", *c.cell)
    if c.mat_file is not None:
        add("-mat", c.mat_file)
    if c.hkl_file is not None:
        add("-hkl", c.hkl_file)
    if changed(c, C0, "default_F"):
        add("-default_F", c.default_F)
    if c.interpolate is not None:
        add("-interpolate" if c.interpolate else "-nointerpolate")
    if c.dump_file is not None:
        add("-dump", c.dump_file)
    # -misset_seed is also read as -misset when three arguments follow it (upstream substring matching): written
    # just before a -misset, which then overrides those angles; without a -misset it goes last (see the end).
    misset_seed_last = c.misset_seed is not None and not c.misset_random and c.misset_deg is None
    if c.misset_seed is not None and not misset_seed_last:
        add("-misset_seed", c.misset_seed)
    if c.misset_random:
        add("-misset", "random")
    elif c.misset_deg is not None:
        add("-misset", *c.misset_deg)
    for ax in ("a", "b", "c"):
        if changed(c, C0, f"N{ax}"):
            add(f"-N{ax}", getattr(c, f"N{ax}"))
    for ax in ("x", "y", "z"):
        v = getattr(c, f"sample_{ax}_mm")
        if v is not None:
            add(f"-xtal_{ax}", v)
    if c.mosaic_spread_deg is not None:
        add("-mosaic", c.mosaic_spread_deg)
    if c.mosaic_domains is not None:
        add("-mosaic_dom", c.mosaic_domains)
    if changed(c, C0, "mosaic_seed"):
        add("-mosaic_seed", c.mosaic_seed)
    if changed(c, C0, "shape"):
        add({"ROUND": "-round_xtal", "GAUSS": "-gauss_xtal", "TOPHAT": "-tophat_spots",
             "SQUARE": "-square_xtal"}[c.shape])
    if changed(c, C0, "fudge"):
        add("-fudge", c.fudge)

    # beam
    if changed(b, B0, "lambda_A"):
        add("-lambda", b.lambda_A)
    if changed(b, B0, "fluence"):
        add("-fluence", b.fluence)
    for name, flag in (("flux", "-flux"), ("exposure_s", "-exposure"), ("beamsize_mm", "-beamsize"),
                       ("polar", "-polar"), ("dispersion_pct", "-dispersion"), ("dmin_A", "-dmin"),
                       ("water_um", "-water")):
        if changed(b, B0, name):
            add(flag, getattr(b, name))
    if b.nopolar:
        add("-nopolar")
    for name in ("dispsteps", "hdivrange_mrad", "vdivrange_mrad", "hdivstep_mrad", "vdivstep_mrad", "hdivsteps",
                 "vdivsteps"):
        v = getattr(b, name)
        if v is not None:
            add("-" + name.replace("_mrad", ""), v)
    if not b.round_div:
        add("-square_div")
    if b.sourcefile is not None:
        add("-sourcefile", b.sourcefile)

    # detector: vectors, then convention, then the values, then pivot
    for name in VECTOR_FIELDS:
        v = getattr(d, name)
        if v is not None:
            add("-" + name, *v)
    if d.pix0_vector_m is not None:
        add("-pix0_vector", *d.pix0_vector_m)
    any_vector = any(getattr(d, n) is not None for n in (*VECTOR_FIELDS, "pix0_vector_m"))
    if d.convention == "CUSTOM":
        if not any_vector:
            add("-fdet_vector", 0.0, 0.0, 1.0)  # the CUSTOM default: selects CUSTOM without changing a vector
    elif d.convention != "MOSFLM" or any_vector:
        add("-" + d.convention.lower())  # MOSFLM is the default; it needs saying only after a vector flag
    if changed(d, D0, "pixel_mm"):
        add("-pixel", d.pixel_mm)
    if d.fpixels is not None and d.fpixels == d.spixels:
        add("-detpixels", d.fpixels)
    else:
        if d.fpixels is not None:
            add("-detpixels_f", d.fpixels)
        if d.spixels is not None:
            add("-detpixels_s", d.spixels)
    if changed(d, D0, "detsize_f_mm"):
        add("-detsize_f", d.detsize_f_mm)
    if changed(d, D0, "detsize_s_mm"):
        add("-detsize_s", d.detsize_s_mm)
    if changed(d, D0, "distance_mm"):
        add("-distance", d.distance_mm)
    for name, flag in (("close_distance_mm", "-close_distance"), ("xbeam_mm", "-Xbeam"), ("ybeam_mm", "-Ybeam"),
                       ("xclose_mm", "-Xclose"), ("yclose_mm", "-Yclose"), ("orgx_px", "-ORGX"),
                       ("orgy_px", "-ORGY")):
        v = getattr(d, name)
        if v is not None:
            add(flag, v)
    for ax in ("x", "y", "z"):
        if changed(d, D0, f"rot{ax}_deg"):
            add(f"-detector_rot{ax}", getattr(d, f"rot{ax}_deg"))
    if changed(d, D0, "twotheta_deg") or (d.twotheta_axis is not None and d.twotheta_deg != d.twotheta_axis[0]):
        add("-twotheta", d.twotheta_deg)
    if d.point_pixel:
        add("-point_pixel")
    if d.abs_um is not None:
        add("-detector_abs", d.abs_um)
    if changed(d, D0, "thick_um"):
        add("-detector_thick", d.thick_um)
    if d.thicksteps is not None:
        add("-detector_thicksteps", d.thicksteps)
    if d.mask_file is not None:
        add("-mask", d.mask_file)
    if d.img_file is not None:
        add("-img", d.img_file)
    if d.pivot is not None:
        add("-pivot", d.pivot.lower())

    # sampling
    if changed(s, S0, "phi_deg"):
        add("-phi", s.phi_deg)
    for name, flag in (("osc_deg", "-osc"), ("phistep_deg", "-phistep"), ("phisteps", "-phisteps"),
                       ("oversample", "-oversample")):
        v = getattr(s, name)
        if v is not None:
            add(flag, v)
    for name in ("oversample_thick", "oversample_polar", "oversample_omega"):
        if getattr(s, name):
            add("-" + name)
    if s.phi0_carryover is not None:
        add("-phi0_carryover", "on" if s.phi0_carryover else "off")

    # output
    for name in ("floatfile", "intfile", "pgmfile", "noisefile"):
        v = getattr(o, name)
        if v is not None:
            add("-" + name, v)
    if o.nopgm:
        add("-nopgm")
    if o.nonoise:
        add("-nonoise")
    for name in ("scale", "adc", "pgmscale"):
        if changed(o, O0, name):
            add("-" + name, getattr(o, name))
    if o.seed is not None:
        add("-seed", o.seed)
    if o.roi is not None:
        add("-roi", *o.roi)
    if o.trace_pixel is not None:
        add("-trace_pixel", *o.trace_pixel)
    if o.printout_pixel is not None:
        add("-printout_pixel", *o.printout_pixel)
    elif o.printout:
        add("-printout")
    if misset_seed_last:
        add("-misset_seed", c.misset_seed)
    return out



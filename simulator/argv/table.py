"""The flag table: every nanoBragg flag, its aliases, how many values it takes and what it sets in the
configuration (CLI units: mm, degrees, Å, mrad, µm, eV), with the C's side effects (pivot, convention, re-enabled
outputs). One `_Flag` per flag; `_BY_NAME` maps every spelling to it."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.config import NanoBraggConfig

from .values import _Bad, _file, _int, _looks_numeric, _num

ENGINE_EXTRAS = {"-dtype": ("float32", "float64"), "-device": None}

@dataclass
class _Ctx:
    check_files: bool
    extras: dict[str, str]
    warnings: list[str]
    where: dict[str, int] = field(default_factory=dict)  # flag name -> token index of its last occurrence


@dataclass(frozen=True)
class _Flag:
    names: tuple[str, ...]
    nargs: int
    apply: Callable  # (cfg, values, first_token_index, ctx) -> None


def _set_vec(attr: str):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        vec = tuple(_num(f"-{attr}", x, t + i) for i, x in enumerate(v))
        setattr(cfg.detector, attr, vec)
        cfg.detector.convention = "CUSTOM"
    return apply


def _convention(name: str, pivot: str):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        cfg.detector.convention = name
        cfg.detector.pivot = pivot
    return apply


def _scalar(section: str, attr: str, flag: str, *, kind: str = "num", pivot: str | None = None,
            positive: bool = False, nonneg: bool = False):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        val = _int(flag, v[0], t) if kind == "int" else _num(flag, v[0], t)
        if positive and not val > 0:
            raise _Bad(f"{flag}: expected a value > 0, got {v[0]}", t)
        if nonneg and val < 0:
            raise _Bad(f"{flag}: expected a value >= 0, got {v[0]}", t)
        setattr(getattr(cfg, section), attr, val)
        if pivot:
            cfg.detector.pivot = pivot
    return apply


def _flag_true(section: str, attr: str, value=True, **also):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        setattr(getattr(cfg, section), attr, value)
        for k, val in also.items():
            setattr(getattr(cfg, section), k, val)
    return apply


def _filename(section: str, attr: str, flag: str, *, must_exist: bool, **also):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        setattr(getattr(cfg, section), attr, _file(flag, v[0], t, must_exist and ctx.check_files))
        for k, val in also.items():
            setattr(getattr(cfg, section), k, val)
    return apply


def _fast_slow(kind: str, which: str):
    """-detpixels[_f|_s] (kind "pixels", integer counts) and -detsize[_f|_s] (kind "size", mm): both > 0."""
    base = "-detpixels" if kind == "pixels" else "-detsize"
    flag = base if which == "both" else f"{base}_{which}"
    attrs = ("fpixels", "spixels") if kind == "pixels" else ("detsize_f_mm", "detsize_s_mm")
    what = "a pixel count" if kind == "pixels" else "a size in mm"

    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        val = _int(flag, v[0], t) if kind == "pixels" else _num(flag, v[0], t)
        if val <= 0:
            raise _Bad(f"{flag}: expected {what} > 0, got {v[0]}", t)
        if which in ("both", "f"):
            setattr(cfg.detector, attrs[0], val)
        if which in ("both", "s"):
            setattr(cfg.detector, attrs[1], val)
    return apply


def _cell(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    vals = [_num("-cell", x, t + i) for i, x in enumerate(v)]
    for i, x in enumerate(vals[:3]):
        if x <= 0:
            raise _Bad(f"-cell: expected lengths a b c > 0 (Å), got {v[i]}", t + i)
    cfg.crystal.cell = tuple(vals)  # type: ignore[assignment]


def _misset(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    cfg.crystal.misset_random = False
    cfg.crystal.misset_deg = tuple(_num("-misset", x, t + i) for i, x in enumerate(v))  # type: ignore[assignment]


def _set_N(which: str):
    flag = "-N" if which == "all" else f"-N{which}"

    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        n = _int(flag, v[0], t)
        if n < 0:
            raise _Bad(f"{flag}: expected a cell count >= 0, got {v[0]}", t)
        for ax in ("a", "b", "c") if which == "all" else (which,):
            setattr(cfg.crystal, f"N{ax}", n)
    return apply


def _energy(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    e = _num("-energy", v[0], t)
    if e <= 0:
        raise _Bad(f"-energy: expected photon energy in eV > 0, got {v[0]}", t)
    cfg.beam.lambda_A = 12398.42 / e


def _pixel(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    px = _num("-pixel", v[0], t)
    if px <= 0:
        raise _Bad(f"-pixel: expected a pixel size in mm > 0, got {v[0]}", t)
    cfg.detector.pixel_mm = px


def _pivot(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    p = v[0].lower()
    if p not in ("beam", "sample"):
        raise _Bad(f"-pivot: expected 'beam' or 'sample', got '{v[0]}'", t)
    cfg.detector.pivot = p.upper()


def _twotheta_axis(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    _set_vec("twotheta_axis")(cfg, v, t, ctx)
    # strstr("-twotheta_axis", "-twotheta") is true in the C: its first number also becomes the 2theta angle.
    cfg.detector.twotheta_deg = _num("-twotheta_axis", v[0], t)
    cfg.detector.pivot = "SAMPLE"


def _pix0(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    # Stored but never used by the C (spec 3.8); the _mm spelling is matched by the same branch, unconverted.
    cfg.detector.pix0_vector_m = tuple(_num("-pix0_vector", x, t + i) for i, x in enumerate(v))  # type: ignore
    cfg.detector.convention = "CUSTOM"


def _detector_abs(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    d = _num("-detector_abs", v[0], t)
    if d < 0:
        raise _Bad(f"-detector_abs: expected an attenuation depth in µm >= 0 or 'inf', got {v[0]}", t)
    cfg.detector.abs_um = d
    if d == 0 or math.isinf(d):
        cfg.detector.thick_um = 0.0


def _detector_thick(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    d = _num("-detector_thick", v[0], t)
    if d < 0:
        raise _Bad(f"-detector_thick: expected a thickness in µm >= 0, got {v[0]}", t)
    cfg.detector.thick_um = d


def _roi(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    vals = tuple(_int("-roi", x, t + i) for i, x in enumerate(v))
    if vals[0] > vals[1] or vals[2] > vals[3]:
        raise _Bad("-roi: expected xmin xmax ymin ymax with xmin <= xmax and ymin <= ymax", t)
    cfg.output.roi = vals  # type: ignore[assignment]


def _trace_pixel(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    s, f = (_int("-trace_pixel", x, t + i) for i, x in enumerate(v))
    if s < 0 or f < 0:
        raise _Bad("-trace_pixel: expected slow fast pixel indices >= 0", t)
    cfg.output.trace_pixel = (s, f)


def _printout_pixel(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    cfg.output.printout_pixel = tuple(_int("-printout_pixel", x, t + i) for i, x in enumerate(v))  # type: ignore
    cfg.output.printout = True


def _divsteps(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    n = _int("-divsteps", v[0], t)
    cfg.beam.hdivsteps = n
    cfg.beam.vdivsteps = n


def _divergence(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    d = _num("-divergence", v[0], t)
    cfg.beam.hdivrange_mrad = d
    cfg.beam.vdivrange_mrad = d


def _xtalsize(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    s = _num("-xtalsize", v[0], t)
    cfg.crystal.sample_x_mm = cfg.crystal.sample_y_mm = cfg.crystal.sample_z_mm = s


def _misset_seed(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    cfg.crystal.misset_seed = _int("-misset_seed", v[0], t)


def _carryover(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    w = v[0].lower()
    if w not in ("on", "off"):
        raise _Bad(f"-phi0_carryover: expected 'on' or 'off', got '{v[0]}'", t)
    cfg.sampling.phi0_carryover = w == "on"


def _extra(name: str, choices):
    def apply(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
        val = v[0]
        if choices and val not in choices:
            raise _Bad(f"{name}: expected one of {', '.join(choices)}, got '{val}'", t)
        if name == "-device" and not re.fullmatch(r"cpu|cuda(:\d+)?|mps", val):
            raise _Bad(f"-device: expected cpu or cuda[:N], got '{val}'", t)
        ctx.extras[name.lstrip("-")] = val
    return apply


def _noop(cfg, v, t, ctx):  # flags the C parses and never uses
    return None


def _shape(name: str):
    return _flag_true("crystal", "shape", name)


def _build_table() -> list[_Flag]:
    F = _Flag
    d, c, b, s, o = "detector", "crystal", "beam", "sampling", "output"
    return [
        # detector size
        F(("-detpixels",), 1, _fast_slow("pixels", "both")),
        F(("-detpixels_f", "-detpixels_x"), 1, _fast_slow("pixels", "f")),
        F(("-detpixels_s", "-detpixels_y"), 1, _fast_slow("pixels", "s")),
        F(("-detsize",), 1, _fast_slow("size", "both")),
        F(("-detsize_f", "-detsize_x"), 1, _fast_slow("size", "f")),
        F(("-detsize_s", "-detsize_y"), 1, _fast_slow("size", "s")),
        F(("-pixel",), 1, _pixel),
        F(("-distance",), 1, _scalar(d, "distance_mm", "-distance", positive=True, pivot="BEAM")),
        F(("-close_distance",), 1, _scalar(d, "close_distance_mm", "-close_distance", positive=True,
                                             pivot="SAMPLE")),
        F(("-Xbeam",), 1, _scalar(d, "xbeam_mm", "-Xbeam", pivot="BEAM")),
        F(("-Ybeam",), 1, _scalar(d, "ybeam_mm", "-Ybeam", pivot="BEAM")),
        F(("-Xclose",), 1, _scalar(d, "xclose_mm", "-Xclose", pivot="SAMPLE")),
        F(("-Yclose",), 1, _scalar(d, "yclose_mm", "-Yclose", pivot="SAMPLE")),
        F(("-ORGX",), 1, _scalar(d, "orgx_px", "-ORGX", pivot="SAMPLE")),
        F(("-ORGY",), 1, _scalar(d, "orgy_px", "-ORGY", pivot="SAMPLE")),
        F(("-mosflm",), 0, _convention("MOSFLM", "BEAM")),
        F(("-denzo",), 0, _convention("DENZO", "BEAM")),
        F(("-adxv",), 0, _convention("ADXV", "BEAM")),
        F(("-dials",), 0, _convention("DIALS", "BEAM")),
        F(("-xds",), 0, _convention("XDS", "SAMPLE")),
        F(("-fdet_vector",), 3, _set_vec("fdet_vector")),
        F(("-sdet_vector",), 3, _set_vec("sdet_vector")),
        F(("-odet_vector",), 3, _set_vec("odet_vector")),
        F(("-beam_vector",), 3, _set_vec("beam_vector")),
        F(("-polar_vector",), 3, _set_vec("polar_vector")),
        F(("-spindle_axis",), 3, _set_vec("spindle_axis")),
        F(("-twotheta_axis",), 3, _twotheta_axis),
        F(("-pix0_vector", "-pix0_vector_mm"), 3, _pix0),
        F(("-pivot",), 1, _pivot),
        F(("-detector_rotx",), 1, _scalar(d, "rotx_deg", "-detector_rotx")),
        F(("-detector_roty",), 1, _scalar(d, "roty_deg", "-detector_roty")),
        F(("-detector_rotz",), 1, _scalar(d, "rotz_deg", "-detector_rotz")),
        F(("-twotheta",), 1, _scalar(d, "twotheta_deg", "-twotheta", pivot="SAMPLE")),
        F(("-curved_det",), 0, _flag_true(d, "curved_det")),
        F(("-point_pixel",), 0, _flag_true(d, "point_pixel")),
        F(("-detector_thick",), 1, _detector_thick),
        F(("-detector_thicksteps", "-thicksteps"), 1, _scalar(d, "thicksteps", "-detector_thicksteps", kind="int")),
        F(("-detector_abs", "-detector_absorption"), 1, _detector_abs),
        F(("-mask",), 1, _filename(d, "mask_file", "-mask", must_exist=True)),
        F(("-img",), 1, _filename(d, "img_file", "-img", must_exist=True)),
        # crystal
        F(("-cell",), 6, _cell),
        F(("-mat", "-matrix"), 1, _filename(c, "mat_file", "-mat", must_exist=True)),
        F(("-misset",), 3, _misset),
        F(("-misset_seed",), 1, _misset_seed),
        F(("-N",), 1, _set_N("all")),
        F(("-Na",), 1, _set_N("a")),
        F(("-Nb",), 1, _set_N("b")),
        F(("-Nc",), 1, _set_N("c")),
        F(("-samplesize", "-sample_size", "-xtalsize", "-xtal_size"), 1, _xtalsize),
        F(("-sample_thick", "-sample_x", "-xtal_thick", "-xtal_x"), 1, _scalar(c, "sample_x_mm", "-xtal_x")),
        F(("-sample_width", "-sample_y", "-xtal_width", "-xtal_y", "-width"), 1,
          _scalar(c, "sample_y_mm", "-xtal_y")),
        F(("-sample_height", "-sample_z", "-xtal_height", "-xtal_z", "-height", "-sample_heigh", "-xtal_heigh",
           "-heigh"), 1, _scalar(c, "sample_z_mm", "-xtal_z")),
        F(("-mosaic", "-mosaici", "-mosaic_spr", "-mosaic_spread"), 1,
          _scalar(c, "mosaic_spread_deg", "-mosaic", nonneg=True)),
        F(("-mosaic_dom", "-mosaic_domains"), 1, _scalar(c, "mosaic_domains", "-mosaic_dom", kind="int")),
        F(("-mosaic_seed",), 1, _scalar(c, "mosaic_seed", "-mosaic_seed", kind="int")),
        F(("-square_xtal",), 0, _shape("SQUARE")),
        F(("-round_xtal",), 0, _shape("ROUND")),
        F(("-gauss_xtal",), 0, _shape("GAUSS")),
        F(("-tophat_spots", "-binary_spots"), 0, _shape("TOPHAT")),
        F(("-fudge",), 1, _scalar(c, "fudge", "-fudge")),
        F(("-hkl",), 1, _filename(c, "hkl_file", "-hkl", must_exist=True)),
        F(("-default_F",), 1, _scalar(c, "default_F", "-default_F")),
        F(("-interpolate",), 0, _flag_true(c, "interpolate", True)),
        F(("-nointerpolate",), 0, _flag_true(c, "interpolate", False)),
        F(("-dump",), 1, _filename(c, "dump_file", "-dump", must_exist=False)),
        # beam
        F(("-lambda", "-wave"), 1, _scalar(b, "lambda_A", "-lambda", positive=True)),
        F(("-energy",), 1, _energy),
        F(("-fluence",), 1, _scalar(b, "fluence", "-fluence", nonneg=True)),
        F(("-flux",), 1, _scalar(b, "flux", "-flux", nonneg=True)),
        F(("-exposure",), 1, _scalar(b, "exposure_s", "-exposure")),
        F(("-beamsize",), 1, _scalar(b, "beamsize_mm", "-beamsize")),
        F(("-polar",), 1, _polar),
        F(("-nopolar",), 0, _flag_true(b, "nopolar")),
        F(("-dispersion",), 1, _scalar(b, "dispersion_pct", "-dispersion", nonneg=True)),
        F(("-dispsteps",), 1, _scalar(b, "dispsteps", "-dispsteps", kind="int")),
        F(("-divergence",), 1, _divergence),
        F(("-hdivrange",), 1, _scalar(b, "hdivrange_mrad", "-hdivrange")),
        F(("-vdivrange",), 1, _scalar(b, "vdivrange_mrad", "-vdivrange")),
        F(("-hdivstep",), 1, _scalar(b, "hdivstep_mrad", "-hdivstep")),
        F(("-vdivstep",), 1, _scalar(b, "vdivstep_mrad", "-vdivstep")),
        F(("-hdivsteps",), 1, _scalar(b, "hdivsteps", "-hdivsteps", kind="int")),
        F(("-vdivsteps",), 1, _scalar(b, "vdivsteps", "-vdivsteps", kind="int")),
        F(("-divsteps",), 1, _divsteps),
        F(("-round_div",), 0, _flag_true(b, "round_div", True)),
        F(("-square_div",), 0, _flag_true(b, "round_div", False)),
        F(("-sourcefile",), 1, _filename(b, "sourcefile", "-sourcefile", must_exist=True)),
        F(("-dmin",), 1, _scalar(b, "dmin_A", "-dmin", nonneg=True)),
        F(("-water",), 1, _scalar(b, "water_um", "-water", nonneg=True)),
        # sampling
        F(("-phi",), 1, _scalar(s, "phi_deg", "-phi")),
        F(("-osc",), 1, _scalar(s, "osc_deg", "-osc")),
        F(("-phistep",), 1, _scalar(s, "phistep_deg", "-phistep")),
        F(("-phisteps",), 1, _scalar(s, "phisteps", "-phisteps", kind="int")),
        F(("-oversample",), 1, _scalar(s, "oversample", "-oversample", kind="int")),
        F(("-oversample_thick",), 0, _flag_true(s, "oversample_thick")),
        F(("-oversample_polar",), 0, _flag_true(s, "oversample_polar")),
        F(("-oversample_omega",), 0, _flag_true(s, "oversample_omega")),
        F(("-phi0_carryover",), 1, _carryover),
        # output
        F(("-floatfile", "-floatimage"), 1, _filename(o, "floatfile", "-floatfile", must_exist=False)),
        F(("-intfile", "-intimage"), 1, _filename(o, "intfile", "-intfile", must_exist=False)),
        F(("-pgmfile", "-pgmimage"), 1, _filename(o, "pgmfile", "-pgmfile", must_exist=False, nopgm=False)),
        F(("-noisefile", "-noiseimage"), 1, _filename(o, "noisefile", "-noisefile", must_exist=False,
                                                       nonoise=False)),
        F(("-nopgm",), 0, _flag_true(o, "nopgm")),
        F(("-nonoise",), 0, _flag_true(o, "nonoise")),
        F(("-scale",), 1, _scalar(o, "scale", "-scale")),
        F(("-adc",), 1, _scalar(o, "adc", "-adc")),
        F(("-pgmscale",), 1, _pgmscale),
        F(("-seed",), 1, _scalar(o, "seed", "-seed", kind="int")),
        F(("-roi",), 4, _roi),
        F(("-trace_pixel", "-dump_pixel"), 2, _trace_pixel),
        F(("-printout",), 0, _flag_true(o, "printout")),
        F(("-printout_pixel",), 2, _printout_pixel),
        # parsed by the C without effect
        F(("-coherent",), 0, _noop),
        F(("-density", "-MW"), 1, _noop),
        F(("-stol", "-4stol", "-Q", "-stolout"), 1, _noop),
        # engine-only options (PyTorch command line); harmless to keep in a config
        F(("-dtype",), 1, _extra("-dtype", ENGINE_EXTRAS["-dtype"])),
        F(("-device",), 1, _extra("-device", None)),
    ]


def _polar(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    cfg.beam.polar = _num("-polar", v[0], t)
    cfg.beam.nopolar = False  # the C's -polar branch also clears -nopolar given earlier


def _pgmscale(cfg: NanoBraggConfig, v: list[str], t: int, ctx: _Ctx) -> None:
    cfg.output.pgmscale = _num("-pgmscale", v[0], t)
    cfg.output.nopgm = False  # the C's -pgmscale branch re-enables PGM writing


_TABLE = _build_table()
VECTOR_FIELDS = ("fdet_vector", "sdet_vector", "odet_vector", "beam_vector", "polar_vector", "spindle_axis",
                 "twotheta_axis")
_BY_NAME: dict[str, _Flag] = {n: f for f in _TABLE for n in f.names}
KNOWN_FLAGS: tuple[str, ...] = tuple(sorted(_BY_NAME))


def flag_aliases(flag: str) -> frozenset[str]:
    """Every spelling of a known flag (e.g. -floatfile, -floatimage); {flag} for an unknown one."""
    spec = _BY_NAME.get(flag)
    return frozenset(spec.names) if spec else frozenset({flag})


def flag_nargs(flag: str) -> int | None:
    """Number of values a known flag takes, or None for an unknown flag."""
    spec = _BY_NAME.get(flag)
    return spec.nargs if spec else None


def is_flag_token(tok: str) -> bool:
    """True for a token that reads as a flag (known or not), False for a value such as -0.5."""
    return tok in _BY_NAME or (tok.startswith("-") and not _looks_numeric(tok) and len(tok) > 1)


"""The nanoBragg command-line grammar, both ways (torch-free).

`parse_argv` reads an argv list the way the C does (spec/nanobragg.md section 2): flags are applied in order, later
ones overwrite earlier ones, and the C's side effects that matter are reproduced:
- `-twotheta_axis x y z` also sets the detector two-theta to x degrees and the pivot to SAMPLE;
- every custom vector flag (and `-spindle_axis`, `-pix0_vector[_mm]`) switches the convention to CUSTOM;
- `-Xbeam/-Ybeam/-distance` set the BEAM pivot, `-Xclose/-Yclose/-ORGX/-ORGY/-close_distance/-twotheta` SAMPLE;
- `-printout_pixel` turns on printout, `-pgmfile/-pgmscale` re-enable PGM, `-noisefile` re-enables noise;
- `-detector_abs inf|0` switches thickness off (a later `-detector_thick` switches it back on);
- seeds are stored as typed (the engines negate them as the C does);
- upstream main's substring matching (decisions D8, spec 2.2): an argument that contains another flag's name also
  triggers that flag (`-misset_seed N a b` also sets the misset angles N, atof(a), atof(b) when three arguments
  follow), with the C's length guards (`-phi`, `-detpixels`, ...) and argument-count guards (`-curved_det` as the
  very last argument is ignored); such side effects use the C's lenient atof and are reported as warnings.
Deliberate improvements (decisions.md D5): unknown flags become warnings instead of being ignored silently, and bad
values (non-numbers, NaN, missing arguments, negative pixel counts, zero pixel size, missing files) are errors that
name the flag and what was expected.

`to_argv` writes a configuration back to an argv that the C reads the same way (parse(to_argv(c)) == c).
`diagnose_argv` reports every problem of a command-line text with character spans, for the editor.
"""
from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from simulator.config import (
    BeamConfig,
    ConfigError,
    CrystalConfig,
    DetectorConfig,
    NanoBraggConfig,
    OutputConfig,
    SamplingConfig,
)

ENGINE_EXTRAS = {"-dtype": ("float32", "float64"), "-device": None}


@dataclass
class Diagnostic:
    """One problem in a command line: `token` index, character span [start, end) in the text when known."""

    severity: str  # "error" or "warning"
    message: str
    token: int = -1
    start: int = -1
    end: int = -1


@dataclass
class ParsedArgs:
    config: NanoBraggConfig
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, str] = field(default_factory=dict)  # engine-only options, e.g. dtype, device
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _Bad(Exception):
    """Internal: a bad value at token index `token` (relative to the flag's first value when >= 0)."""

    def __init__(self, message: str, token: int):
        super().__init__(message)
        self.token = token


# --------------------------------------------------------------------------------------------- value readers

def _num(flag: str, text: str, tok: int) -> float:
    try:
        v = float(text)
    except ValueError:
        raise _Bad(f"{flag}: expected a number, got '{text}'", tok) from None
    if math.isnan(v):
        raise _Bad(f"{flag}: expected a number, got NaN", tok)
    return v


def _int(flag: str, text: str, tok: int) -> int:
    # The C parses counts with atoi; we insist on an integer so that a typo is not silently truncated.
    try:
        return int(text)
    except ValueError:
        try:
            v = float(text)
        except ValueError:
            raise _Bad(f"{flag}: expected an integer, got '{text}'", tok) from None
        if not math.isfinite(v) or v != int(v):
            raise _Bad(f"{flag}: expected an integer, got '{text}'", tok) from None
        return int(v)


def _file(flag: str, text: str, tok: int, check: bool) -> str:
    if check and not os.path.isfile(text):
        what = "not a regular file" if os.path.exists(text) else "file not found"
        raise _Bad(f"{flag}: {what}: {text}", tok)
    return text


# --------------------------------------------------------------------------------------------- the flag table

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


# --------------------------------------------------------------------------------------------- upstream substring rules

# Flags upstream compares with a length check or exactly (spec 2.2); every other name is found with strstr.
_EXACT_LEN = {"-phi": 4, "-phistep": 8, "-detpixels": 10, "-detsize": 8, "-detector_thick": 15, "-polar": 6,
              "-hdivstep": 9, "-vdivstep": 9, "-stol": 5, "-4stol": 6, "-Q": 2, "-mosaic": 7}
_EXACT_ONLY = {"-N", "-MW"}
# Our own flags (and the golden build's -dump_pixel alias), which upstream does not look for.
_NOT_UPSTREAM = {"-trace_pixel", "-dump_pixel", "-phi0_carryover", "-dtype", "-device"}
# Upstream reads these only when more arguments follow than our grammar takes (its argument-count guards).
_UPSTREAM_NEEDS = {"-curved_det": 1}
# Side matches whose effect our own flag already has (no warning needed).
_QUIET_SIDES = {("-printout_pixel", "-printout")}
_STRING_VALUED = {"-mat", "-hkl", "-dump", "-sourcefile", "-floatfile", "-intfile", "-pgmfile", "-noisefile",
                  "-mask", "-img", "-pivot", "-stol", "-density"}
_INT_VALUED = {"-detpixels", "-detpixels_f", "-detpixels_s", "-N", "-Na", "-Nb", "-Nc", "-mosaic_dom", "-mosaic_seed",
               "-misset_seed", "-seed", "-detector_thicksteps", "-dispsteps", "-hdivsteps", "-vdivsteps", "-divsteps",
               "-phisteps", "-oversample", "-roi", "-printout_pixel"}
_C_FLOAT_RE = re.compile(r"\s*[+-]?(inf(inity)?|nan|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)", re.I)
_C_INT_RE = re.compile(r"\s*[+-]?\d+")
LONG_MAX = 2 ** 63 - 1


def _c_number(text: str, integer: bool) -> float | int:
    """The C's atoi/atof: the longest numeric prefix, 0 when there is none ("-default_F" reads as 0)."""
    m = (_C_INT_RE if integer else _C_FLOAT_RE).match(text)
    if not m:
        return 0 if integer else 0.0
    if integer:  # strtol saturates (int() of a 5000-digit text would raise ValueError: a fuzz finding, issue 22)
        digits = m.group(0).strip()
        return int(digits) if len(digits.lstrip("+-")) <= 18 else (-LONG_MAX - 1 if digits.startswith("-")
                                                                     else LONG_MAX)
    return float(m.group(0))


def _upstream_hits(tok: str, needle: str) -> bool:
    """Does upstream's branch for `needle` fire on the argument `tok`? (strstr plus the few length checks)"""
    if needle in _EXACT_ONLY:
        return tok == needle
    if needle not in tok:
        return False
    if needle in _EXACT_LEN:
        return len(tok) == _EXACT_LEN[needle]
    if needle == "-stolout":
        return len(tok) > 7
    if needle == "-oversample":  # the -oversample_thick/_polar/_omega branches end the argument first
        return not any(x in tok for x in ("-oversample_thick", "-oversample_polar", "-oversample_omega"))
    return True


_UPSTREAM_NEEDLES: tuple[str, ...] = tuple(n for f in _TABLE for n in f.names if n not in _NOT_UPSTREAM)
_NEEDLE_SET = frozenset(_UPSTREAM_NEEDLES)
_NEEDLE_MAX = max(len(n) for n in _UPSTREAM_NEEDLES)


def _side_matches(tok: str, own: _Flag | None) -> list[_Flag]:
    """The other flags upstream's substring matching triggers for the argument `tok`, in table order."""
    return [spec for spec in _substring_hits(tok) if spec is not own]


@functools.lru_cache(maxsize=4096)
def _substring_hits(tok: str) -> tuple[_Flag, ...]:
    """Every flag whose upstream branch fires on `tok` (cached: the editor re-parses on every keystroke)."""
    if not tok.startswith("-") or tok in _NOT_UPSTREAM or _looks_numeric(tok):
        return ()
    present = {tok[p:p + n] for p, ch in enumerate(tok) if ch == "-"
               for n in range(2, min(len(tok) - p, _NEEDLE_MAX) + 1)} & _NEEDLE_SET
    out: list[_Flag] = []
    for needle in _UPSTREAM_NEEDLES:
        if needle not in present:
            continue
        spec = _BY_NAME[needle]
        if not any(spec is o for o in out) and _upstream_hits(tok, needle):
            out.append(spec)
    return tuple(out)


def _upstream_surprises(cfg: NanoBraggConfig, tokens: list[str], ctx: _Ctx, warn) -> None:
    """Warnings where a command line means something the reader may not expect (decisions D8)."""
    d = cfg.detector
    if "-pix0_vector" in ctx.where:
        warn("-pix0_vector is ignored by nanoBragg (upstream and the golden build): pix0 is recomputed from the beam "
             "centre and distance (spec 3.8); the flag only switches to the CUSTOM convention",
             ctx.where["-pix0_vector"])
    if "-odet_vector" in ctx.where and d.odet_vector is not None and d.convention == "CUSTOM":
        x, y, z = d.odet_vector
        length = math.sqrt(x * x + y * y + z * z)
        if length != 1.0:
            warn(f"-odet_vector {x:g} {y:g} {z:g} has length {length:.17g}, not exactly 1: nanoBragg (upstream and the "
                 "golden build) replaces it by unit(fdet x sdet) and prints 'WARNING: auto-generating odet_vector'",
                 ctx.where["-odet_vector"])
    for i, tok in enumerate(tokens):
        if tok == "-dump_pixel":
            warn("-dump_pixel is the golden build's alias of -trace_pixel (our engines trace this pixel); upstream "
                 "nanoBragg has no trace and reads it as -dump (its Fdump cache file name is the next argument)", i)


# --------------------------------------------------------------------------------------------- parsing

def _parse_tokens(tokens: list[str], check_files: bool) -> ParsedArgs:
    cfg = NanoBraggConfig()
    ctx = _Ctx(check_files=check_files, extras={}, warnings=[])
    diags: list[Diagnostic] = []
    _header_prepass(cfg, tokens, ctx, diags)

    def warn(msg: str, token: int) -> None:
        ctx.warnings.append(msg)
        diags.append(Diagnostic("warning", msg, token=token))

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("-h", "--help", "-help"):
            i += 1
            continue
        spec = _BY_NAME.get(tok)
        if tok.startswith("-") and _upstream_hits(tok, "-misset") and i + 1 < len(tokens) \
                and "rand" in tokens[i + 1]:
            # upstream: "-misset ...rand..." and nothing else of this argument (its branch ends with `continue`)
            cfg.crystal.misset_random = True
            cfg.crystal.misset_deg = None
            ctx.where["-misset"] = i
            if tok != "-misset":
                warn(f"upstream nanoBragg reads {tok} {tokens[i + 1]} as -misset random (substring match); "
                     f"{tok} itself is not applied. The golden build matches -misset exactly.", i)
            i += 2
            continue
        sides = _side_matches(tok, spec)
        if spec is None and not sides:
            if tok.startswith("-") and not _looks_numeric(tok):
                warn(f"unknown flag {tok} (the C ignores it)", i)
            else:
                warn(f"unexpected value '{tok}' (not preceded by a flag that takes it)", i)
            i += 1
            continue
        step = 1
        if spec is not None:
            step = _apply_own(cfg, tokens, i, spec, ctx, diags, warn)
        for side in sides:
            _apply_side(cfg, tokens, i, side, ctx, diags, warn, unknown=spec is None)
            if spec is None:
                step = max(step, 1 + _leading_values(tokens, i, side.nargs))
        i += step
    if not any(dg.severity == "error" for dg in diags):  # avoid a cascade: a bad -cell is not "no crystal"
        _check_consistency(cfg, diags)
        _upstream_surprises(cfg, tokens, ctx, warn)
    return ParsedArgs(config=cfg, warnings=ctx.warnings, extras=ctx.extras, diagnostics=diags)


def _apply_own(cfg: NanoBraggConfig, tokens: list[str], i: int, spec: _Flag, ctx: _Ctx,
               diags: list[Diagnostic], warn) -> int:
    """Apply the flag typed exactly at token i (strict values); returns how many tokens it used."""
    tok, n = tokens[i], spec.nargs
    need = _UPSTREAM_NEEDS.get(spec.names[0], n)
    if need > n and len(tokens) <= i + need:
        # upstream's argument-count guard: e.g. -curved_det as the very last argument does nothing
        warn(f"{tok} is the last argument: upstream nanoBragg (and the golden build) ignore it, because they only "
             f"read it when {need} more argument{'s' if need > 1 else ''} follow{'s' if need == 1 else ''}; "
             f"move it before another flag to switch it on (nanoBragg's fix/curved-det-flag-guard branch would "
             f"switch it on here)", i)
        return 1
    values = tokens[i + 1:i + 1 + n]
    missing = [k for k, v in enumerate(values) if is_flag_token(v)]
    if len(values) < n or missing:
        got = missing[0] if missing else len(values)
        diags.append(Diagnostic("error", f"{tok}: expects {n} value{'s' if n > 1 else ''}, got {got}", token=i))
        return 1 + got
    try:
        spec.apply(cfg, values, i + 1, ctx)
        ctx.where[spec.names[0]] = i
    except _Bad as bad:
        diags.append(Diagnostic("error", str(bad), token=bad.token))
    return 1 + n


def _apply_side(cfg: NanoBraggConfig, tokens: list[str], i: int, side: _Flag, ctx: _Ctx,
                diags: list[Diagnostic], warn, *, unknown: bool) -> None:
    """Apply `side`, triggered by upstream's substring match of token i, with the C's lenient atof/atoi values."""
    tok, name, n = tokens[i], side.names[0], side.nargs
    if len(tokens) <= i + max(n, _UPSTREAM_NEEDS.get(name, n)):
        return  # upstream's argument-count guard: not enough arguments follow, the branch is skipped
    raw = tokens[i + 1:i + 1 + n]
    vals = raw if name in _STRING_VALUED else [format_value(_c_number(v, name in _INT_VALUED)) for v in raw]
    try:
        side.apply(cfg, vals, i + 1, ctx)
        ctx.where[name] = i
    except _Bad as bad:
        diags.append(Diagnostic("error", f"{tok} (read by upstream nanoBragg as {name}): {bad}", token=i))
        return
    shown = " ".join(vals)
    if unknown:
        warn(f"{tok} is not a nanoBragg flag, but upstream nanoBragg matches flags by substring and reads it as "
             f"{name}{' ' + shown if shown else ''}", i)
    elif (tok, name) not in _QUIET_SIDES:
        golden = (f"the golden build matches -misset exactly: there {tok} sets nothing but its own value"
                  if name == "-misset" else "the golden build does the same")
        effect = {"-misset": f": misset angles {', '.join(vals)} degrees (the next three arguments, read with atof)",
                  "-twotheta": f": detector 2theta = {shown} degrees and the SAMPLE pivot"}.get(name, "")
        warn(f"upstream nanoBragg also reads {tok} as {name}{' ' + shown if shown else ''}{effect} (substring match; "
             f"{golden})", i)


def _leading_values(tokens: list[str], i: int, n: int) -> int:
    k = 0
    while k < n and i + 1 + k < len(tokens) and not is_flag_token(tokens[i + 1 + k]):
        k += 1
    return k


def _header_prepass(cfg: NanoBraggConfig, tokens: list[str], ctx: _Ctx, diags: list[Diagnostic]) -> None:
    """The C's pre-pass (spec 2.1): the -mask header, then the -img header, whatever their order; the main pass then
    overwrites whatever the command line sets itself."""
    for i, tok in enumerate(tokens[:-1]):
        if tok in ("-mask", "-img") and os.path.isfile(tokens[i + 1]):
            setattr(cfg.detector, "mask_file" if tok == "-mask" else "img_file", tokens[i + 1])
    if cfg.detector.mask_file is None and cfg.detector.img_file is None:
        return
    from simulator.smv_in import apply_smv_headers  # numpy only; keeps plain command lines free of it

    try:
        ctx.warnings.extend(apply_smv_headers(cfg))
    except ConfigError as err:
        diags.append(Diagnostic("error", str(err)))


def _looks_numeric(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def is_flag_token(tok: str) -> bool:
    """True for a token that reads as a flag (known or not), False for a value such as -0.5."""
    return tok in _BY_NAME or (tok.startswith("-") and not _looks_numeric(tok) and len(tok) > 1)


def _check_consistency(cfg: NanoBraggConfig, diags: list[Diagnostic]) -> None:
    """Whole-command checks the C makes before rendering (spec 2.3), as errors that say what is missing."""
    if cfg.crystal.mat_file is None and cfg.crystal.cell is None:
        diags.append(Diagnostic("error", "no crystal: give -cell a b c alpha beta gamma or -mat FILE"))
    if cfg.crystal.hkl_file is None and cfg.crystal.default_F == 0:
        diags.append(Diagnostic("error", "no structure factors: give -hkl FILE or -default_F F (> 0)"))


def parse_argv(argv: list[str], *, check_files: bool = True, require_inputs: bool = True) -> ParsedArgs:
    """Parse a nanoBragg argv (without the program name) into a configuration.

    Raises ConfigError with the first error (flag and what was expected); warnings (unknown flags) are returned.
    `require_inputs=False` skips the "no crystal / no structure factors" checks (for partial commands).
    """
    parsed = _parse_tokens(list(argv), check_files)
    errors = [d for d in parsed.diagnostics if d.severity == "error"
              and (require_inputs or d.token >= 0)]
    if errors:
        raise ConfigError(errors[0].message)
    return parsed


# --------------------------------------------------------------------------------------------- diagnostics with spans

_TOKEN_RE = re.compile(r"""'[^']*'|"[^"]*"|\S+""")


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split a command-line text into (token, start, end); quotes group, a leading program name is kept."""
    out = []
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"":
            tok = tok[1:-1]
        if tok == "\\":
            continue
        out.append((tok, m.start(), m.end()))
    return out


def strip_program(tokens: list[str]) -> list[str]:
    """Drop a leading program name (nanoBragg, ./nanoBragg, nbref, python -m simulator...) if present."""
    if tokens and not tokens[0].startswith("-"):
        prog = os.path.basename(tokens[0])
        if prog.lower().startswith(("nanobragg", "nbref")) or prog in ("nbparity", "simulator"):
            return tokens[1:]
    return tokens


def diagnose_argv(text: str, *, check_files: bool = True) -> list[Diagnostic]:
    """Every error and warning of a command-line text, each with the character span of the offending token."""
    spans = tokenize(text)
    tokens = [t for t, _, _ in spans]
    offset = len(tokens) - len(strip_program(tokens))
    parsed = _parse_tokens(tokens[offset:], check_files)
    out = []
    for d in parsed.diagnostics:
        if d.token >= 0:
            _, start, end = spans[d.token + offset]
            out.append(replace(d, start=start, end=end, token=d.token + offset))
        else:
            out.append(d)
    return out


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


def with_flag(argv: list[str], flag: str, *values: str) -> list[str]:
    """argv with every occurrence of `flag` (and its values) removed and `flag values` appended."""
    spec = _BY_NAME.get(flag)
    n = spec.nargs if spec else len(values)
    names = set(spec.names) if spec else {flag}
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in names:
            i += 1 + n
            continue
        out.append(argv[i])
        i += 1
    return append_flags(out, [flag, *values])  # appending must not change what the other flags mean


def without_flag(argv: list[str], flag: str) -> list[str]:
    """argv with every occurrence of `flag` (any alias) and its values removed."""
    spec = _BY_NAME.get(flag)
    n = spec.nargs if spec else 0
    names = set(spec.names) if spec else {flag}
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] in names:
            i += 1 + n
            continue
        out.append(argv[i])
        i += 1
    return out


def drop_ignored_trailing(argv: list[str]) -> list[str]:
    """argv without a last argument that nanoBragg ignores because it is last (a trailing `-curved_det`, whose
    branch needs one more argument): same meaning, and safe to append flags to."""
    if argv and argv[-1].startswith("-") and _upstream_hits(argv[-1], "-curved_det"):
        return list(argv[:-1])
    return list(argv)


def append_flags(argv: list[str], extra: list[str]) -> list[str]:
    """argv followed by the complete flags `extra`, placed so that neither changes meaning under upstream's matching:
    an ignored trailing `-curved_det` is dropped, and a `-misset_seed` near the end (read as `-misset` only when three
    arguments follow it) stays behind the new flags."""
    out = drop_ignored_trailing(list(argv))
    for k in range(max(0, len(out) - 3), len(out)):
        t = out[k]
        if t.startswith("-") and t != "-misset" and _upstream_hits(t, "-misset") \
                and not (k + 1 < len(out) and "rand" in out[k + 1]):
            return out[:k] + list(extra) + out[k:]
    return out + list(extra)
def flag_aliases(flag: str) -> frozenset[str]:
    """Every spelling of a known flag (e.g. -floatfile, -floatimage); {flag} for an unknown one."""
    spec = _BY_NAME.get(flag)
    return frozenset(spec.names) if spec else frozenset({flag})


def last_values(argv: list[str], flag: str, nargs: int | None = None) -> list[str] | None:
    """The values after the LAST occurrence of `flag` (any alias; later flags win in the C), or None.
    nargs: number of values (default: the flag table's)."""
    spec = _BY_NAME.get(flag)
    n = nargs if nargs is not None else (spec.nargs if spec else 0)
    names = flag_aliases(flag)
    found = None
    for i, tok in enumerate(argv):
        if tok in names and i + n < len(argv):
            found = list(argv[i + 1:i + 1 + n])
    return found


def map_values(argv: list[str], flags: Iterable[str], fn: Callable[[str, str], str]) -> list[str]:
    """Copy of argv with the single value of every occurrence of each flag (any alias) replaced by
    fn(canonical flag, value); e.g. paths made absolute."""
    canon = {name: flag for flag in flags for name in flag_aliases(flag)}
    out = list(argv)
    for i, tok in enumerate(out[:-1]):
        if tok in canon:
            out[i + 1] = fn(canon[tok], out[i + 1])
    return out


def flag_nargs(flag: str) -> int | None:
    """Number of values a known flag takes, or None for an unknown flag."""
    spec = _BY_NAME.get(flag)
    return spec.nargs if spec else None


__all__ = [
    "KNOWN_FLAGS",
    "VECTOR_FIELDS",
    "ConfigError",
    "Diagnostic",
    "ParsedArgs",
    "diagnose_argv",
    "append_flags",
    "drop_ignored_trailing",
    "flag_aliases",
    "flag_nargs",
    "format_value",
    "is_flag_token",
    "last_values",
    "map_values",
    "parse_argv",
    "strip_program",
    "to_argv",
    "tokenize",
    "with_flag",
    "without_flag",
]

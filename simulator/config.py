"""The typed nanoBragg configuration (torch-free).

Every field holds what the nanoBragg command line says, in the command line's units (the suffix of each name says
which: _mm, _A (Angstrom), _deg, _mrad, _um, _pct, _px). `None` means "not given on the command line"; the engines
resolve unset values the way the C does (spec/nanobragg.md sections 3-8). Defaults that the C applies
unconditionally are written here as plain defaults.

Nothing here imports torch: the C driver and the headless tools use it to start fast.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, is_dataclass

Vec3 = tuple[float, float, float]

CONVENTIONS = ("MOSFLM", "XDS", "DIALS", "ADXV", "DENZO", "CUSTOM")
PIVOTS = ("BEAM", "SAMPLE")
SHAPES = ("SQUARE", "ROUND", "GAUSS", "TOPHAT")

DEFAULT_FLUENCE = 125932015286227086360700780544.0  # photons/m^2 (spec 1.3)
DEFAULT_MOSAIC_SEED = 12345678  # the C stores it negated: -12345678


from simulator.errors import ConfigError  # noqa: E402,F401 - the type every caller catches lives here too

INT_MAX = 2147483647  # the C's int: counts beyond it cannot reach the reference engine intact
MAX_MOSAIC_SPREAD_DEG = 180.0  # a rotation by more is a rotation by less about the opposite axis


@dataclass
class DetectorConfig:
    pixel_mm: float = 0.1
    fpixels: int | None = None          # -detpixels / -detpixels_f|_x
    spixels: int | None = None          # -detpixels / -detpixels_s|_y
    detsize_f_mm: float = 102.4            # -detsize / -detsize_f
    detsize_s_mm: float = 102.4            # -detsize / -detsize_s
    distance_mm: float = 100.0
    close_distance_mm: float | None = None
    xbeam_mm: float | None = None
    ybeam_mm: float | None = None
    xclose_mm: float | None = None
    yclose_mm: float | None = None
    orgx_px: float | None = None
    orgy_px: float | None = None
    convention: str = "MOSFLM"
    # Vectors as given (CUSTOM); None = convention/default value.
    fdet_vector: Vec3 | None = None
    sdet_vector: Vec3 | None = None
    odet_vector: Vec3 | None = None
    beam_vector: Vec3 | None = None
    polar_vector: Vec3 | None = None
    spindle_axis: Vec3 | None = None
    twotheta_axis: Vec3 | None = None
    pix0_vector_m: Vec3 | None = None   # stored but never used by the C (spec 3.8)
    pivot: str | None = None            # pivot as set by the CLI flags in order; conventions may force it
    rotx_deg: float = 0.0
    roty_deg: float = 0.0
    rotz_deg: float = 0.0
    twotheta_deg: float = 0.0
    curved_det: bool = False
    point_pixel: bool = False
    thick_um: float = 0.0                  # -detector_thick
    thicksteps: int | None = None       # -detector_thicksteps / -thicksteps
    abs_um: float | None = None         # -detector_abs (attenuation depth); math.inf allowed
    mask_file: str | None = None
    img_file: str | None = None


@dataclass
class CrystalConfig:
    cell: tuple[float, float, float, float, float, float] | None = None  # a b c (A) alpha beta gamma (deg)
    mat_file: str | None = None
    misset_deg: Vec3 | None = None
    misset_random: bool = False
    misset_seed: int | None = None      # as typed; the C stores -N
    Na: int = 1
    Nb: int = 1
    Nc: int = 1
    sample_x_mm: float | None = None    # crystal size (xtalsize etc.)
    sample_y_mm: float | None = None
    sample_z_mm: float | None = None
    mosaic_spread_deg: float | None = None
    mosaic_domains: int | None = None
    mosaic_seed: int = DEFAULT_MOSAIC_SEED  # as typed; the C stores -N
    shape: str = "SQUARE"
    fudge: float = 1.0
    hkl_file: str | None = None
    default_F: float = 0.0
    interpolate: bool | None = None     # None = auto (on if any N <= 2)
    dump_file: str | None = None        # -dump: write the Fdump cache (on request only, decisions D5)


@dataclass
class BeamConfig:
    lambda_A: float = 1.0                  # -lambda / -wave (or derived from -energy)
    fluence: float = DEFAULT_FLUENCE       # photons/m^2
    flux: float = 0.0                      # photons/s
    exposure_s: float = 1.0
    beamsize_mm: float = 0.1
    polar: float = 0.0                     # Kahn factor K (-polar)
    nopolar: bool = False
    dispersion_pct: float = 0.0
    dispsteps: int | None = None
    hdivrange_mrad: float | None = None
    vdivrange_mrad: float | None = None
    hdivstep_mrad: float | None = None
    vdivstep_mrad: float | None = None
    hdivsteps: int | None = None
    vdivsteps: int | None = None
    round_div: bool = True
    sourcefile: str | None = None
    dmin_A: float = 0.0
    water_um: float = 0.0


@dataclass
class SamplingConfig:
    phi_deg: float = 0.0
    osc_deg: float | None = None
    phistep_deg: float | None = None
    phisteps: int | None = None
    oversample: int | None = None       # None = automatic (spec 4.6)
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    phi0_carryover: bool | None = None  # None = the engine's default (C: on, PyTorch: off; decisions D3)


@dataclass
class OutputConfig:
    floatfile: str | None = None
    intfile: str | None = None
    pgmfile: str | None = None
    noisefile: str | None = None
    nopgm: bool = False
    nonoise: bool = False
    scale: float = 0.0
    adc: float = 40.0
    pgmscale: float = 0.0
    seed: int | None = None             # as typed; the C stores -N; default -time(0)
    roi: tuple[int, int, int, int] | None = None  # xmin xmax ymin ymax (fast, fast, slow, slow), inclusive
    trace_pixel: tuple[int, int] | None = None    # (slow, fast)
    printout: bool = False
    printout_pixel: tuple[int, int] | None = None  # (fast, slow) as the C takes it


@dataclass
class NanoBraggConfig:
    """Every parameter of one nanoBragg run, as the command line gives it."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    crystal: CrystalConfig = field(default_factory=CrystalConfig)
    beam: BeamConfig = field(default_factory=BeamConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def pixel_counts(self) -> tuple[int, int]:
        """(spixels, fpixels) as the C resolves them (spec 3.1); img/mask headers are not consulted here."""
        return detector_shape(self.detector)


def detector_shape(det: DetectorConfig) -> tuple[int, int]:
    """(spixels, fpixels): a given count wins, else ceil(detsize/px - 0.5)."""
    px = det.pixel_mm
    f = det.fpixels if det.fpixels is not None else math.ceil(det.detsize_f_mm / px - 0.5)
    s = det.spixels if det.spixels is not None else math.ceil(det.detsize_s_mm / px - 0.5)
    return s, f


def resolve_phi(cfg: SamplingConfig) -> tuple[float, float, int]:
    """(osc deg, phistep deg, steps) by the table of spec 8.2, as the C resolves it: None = unset, and so are a
    negative -osc and a -phistep <= 0 (the C's defaults are -1). A count beyond the C's int is refused."""
    n, osc, step = cfg.phisteps, cfg.osc_deg, cfg.phistep_deg
    if n is not None and n < 0:
        raise ConfigError(f"-phisteps: expected a non-negative count, got {n}", flag="-phisteps")
    if n is not None and n > INT_MAX:
        raise ConfigError(f"-phisteps: expected at most {INT_MAX} phi steps, got {n}", flag="-phisteps")
    # None where unset or unset the C's way (negative -osc, -phistep <= 0): values, not flags, so they narrow.
    osc_set = osc if osc is not None and osc >= 0 else None
    step_pos = step if step is not None and step > 0 else None
    if n is None:
        if osc_set is None:
            return (step_pos, step_pos, 2) if step_pos is not None else (0.0, 0.0, 1)
        if step_pos is None:
            return osc_set, osc_set / 2.0, 2
        ratio = osc_set / step_pos
        steps = math.ceil(ratio) if math.isfinite(ratio) else math.inf
        if not 0 < steps <= INT_MAX:
            raise ConfigError(f"-phistep: -osc {osc_set:g} / -phistep {step_pos:g} gives {steps:g} phi steps; "
                              f"expected 1 to {INT_MAX}", flag="-phistep", expected=f"1 to {INT_MAX} phi steps")
        return osc_set, step_pos, int(steps)
    n = max(n, 1)
    if osc_set is None:
        return (step_pos, step_pos, 2) if step_pos is not None else (1.0, 1.0 / n, n)
    if step is None or step < 0:
        return osc_set, osc_set / n, n
    return osc_set, step, n


@dataclass(frozen=True)
class PhiTicks:
    """The φ ticks of a configuration (spec 8.2): φ_i = phi0 + i·step degrees, i = 0..n−1; osc the resolved
    oscillation (degrees). The one derivation of the grid: engines, driver, slider and curves all use it."""

    phi0: float
    osc: float
    step: float
    n: int

    def angle(self, tick: int) -> float:
        """φ of tick `tick` in degrees, with the C's two roundings (phi0 + tick*step)."""
        return self.phi0 + tick * self.step

    def angles(self) -> list[float]:
        return [self.angle(i) for i in range(self.n)]

    def has_zero_tick(self) -> bool:
        """Whether some tick is exactly 0.0°, where the C's φ=0 carry-over acts (spec 8.3)."""
        return any(self.angle(i) == 0.0 for i in range(self.n))


def phi_ticks(cfg: SamplingConfig) -> PhiTicks:
    """The resolved φ grid of `cfg` (resolve_phi's table; raises ConfigError as it does)."""
    osc, step, n = resolve_phi(cfg)
    return PhiTicks(float(cfg.phi_deg or 0.0), float(osc), float(step), int(n))


def config_to_dict(cfg: NanoBraggConfig) -> dict:
    """Plain nested dict (JSON-ready) of a configuration."""
    def conv(obj):
        if is_dataclass(obj):
            return {f.name: conv(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, tuple):
            return list(obj)
        if isinstance(obj, float) and math.isinf(obj):
            return "inf"
        return obj
    return conv(cfg)


_UNIT_SUFFIX = re.compile(r"_(mm|A|deg|mrad|um|pct|px|s|m)$")
_FLAG_OF = {"lambda_A": "-lambda", "thick_um": "-detector_thick", "rotx_deg": "-detector_rotx",
            "roty_deg": "-detector_roty", "rotz_deg": "-detector_rotz", "mosaic_spread_deg": "-mosaic",
            "mosaic_domains": "-mosaic_domains", "detsize_f_mm": "-detsize", "detsize_s_mm": "-detsize",
            "fpixels": "-detpixels", "spixels": "-detpixels", "sample_x_mm": "-samplesize",
            "sample_y_mm": "-samplesize", "sample_z_mm": "-samplesize", "Na": "-Na", "Nb": "-Nb", "Nc": "-Nc",
            "xbeam_mm": "-Xbeam", "ybeam_mm": "-Ybeam", "xclose_mm": "-Xclose", "yclose_mm": "-Yclose",
            "orgx_px": "-ORGX", "orgy_px": "-ORGY", "phi_deg": "-phi"}
_INF_ALLOWED = ("abs_um",)  # -detector_abs inf switches absorption off (spec 3.13)


def flag_of(field_name: str) -> str:
    """The command-line flag that sets a configuration field (for messages)."""
    return _FLAG_OF.get(field_name) or "-" + _UNIT_SUFFIX.sub("", field_name)


def validate_values(cfg: NanoBraggConfig) -> None:
    """Value checks both engines make before any work (the C reference stops with exit 9 on the same ones):
    NaN anywhere, infinity anywhere but -detector_abs, a wavelength or distance that is not positive/non-zero,
    a mosaic spread beyond 180 degrees, counts beyond the C's int, a region of interest with no detector pixel."""
    for part in (cfg.detector, cfg.crystal, cfg.beam, cfg.sampling, cfg.output):
        for name, v in vars(part).items():
            for x in (v if isinstance(v, tuple) else (v,)):
                if isinstance(x, float) and (math.isnan(x) or (math.isinf(x) and name not in _INF_ALLOWED)):
                    flag = flag_of(name)
                    raise ConfigError(f"{flag}: expected a finite number, got {x}", flag=flag,
                                      expected="a finite number")
                if isinstance(x, int) and not isinstance(x, bool) and abs(x) > INT_MAX and name != "seed":
                    flag = flag_of(name)
                    raise ConfigError(f"{flag}: expected a count of at most {INT_MAX}, got {x}", flag=flag,
                                      expected=f"at most {INT_MAX}")
    b, c, d = cfg.beam, cfg.crystal, cfg.detector
    if not b.lambda_A > 0:
        raise ConfigError(f"-lambda: expected a positive wavelength in Angstrom, got {b.lambda_A:g}",
                          flag="-lambda", expected="a wavelength > 0")
    if d.distance_mm == 0 and d.close_distance_mm is None:
        raise ConfigError("-distance: expected a non-zero sample-detector distance in mm, got 0",
                          flag="-distance", expected="a distance != 0")
    if c.mosaic_spread_deg is not None and c.mosaic_spread_deg > MAX_MOSAIC_SPREAD_DEG:
        raise ConfigError(f"-mosaic: expected a mosaic spread of at most {MAX_MOSAIC_SPREAD_DEG:g} degrees, got "
                          f"{c.mosaic_spread_deg:g}", flag="-mosaic", expected="0 to 180 degrees")
    roi = cfg.output.roi
    if roi is not None and d.pixel_mm > 0:
        s_n, f_n = detector_shape(d)
        xmin, xmax, ymin, ymax = roi
        if xmin > xmax or ymin > ymax or xmax < 0 or ymax < 0 or xmin > f_n - 1 or ymin > s_n - 1:
            raise ConfigError(f"-roi {xmin} {xmax} {ymin} {ymax}: selects no pixel of the {f_n} x {s_n} (fast x "
                              f"slow) detector; expected xmin <= xmax within 0..{f_n - 1}, ymin <= ymax within "
                              f"0..{s_n - 1}", flag="-roi", expected="a region on the detector")

"""Detector geometry as the C sets it up (spec 3.1-3.10, 3.13), in float64, torch-free.

All lengths in metres, vectors as numpy float64 arrays of shape (3,). The result is computed once per run and then
cast to the kernel's dtype/device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.config import INT_MAX, ConfigError, DetectorConfig
from simulator.vec import cross, dot, mag, rodrigues, rotate_xyz, unit

# Convention vectors (spec 3.3): beam, fast, slow, normal, 2theta axis, polarisation, spindle.
_CONVENTIONS: dict[str, dict[str, tuple[float, float, float]]] = {
    "MOSFLM": dict(b=(1, 0, 0), f=(0, 0, 1), s=(0, -1, 0), o=(1, 0, 0), t=(0, 0, -1), p=(0, 0, 1), u=(0, 0, 1)),
    "ADXV": dict(b=(0, 0, 1), f=(1, 0, 0), s=(0, -1, 0), o=(0, 0, 1), t=(-1, 0, 0), p=(1, 0, 0), u=(1, 0, 0)),
    "XDS": dict(b=(0, 0, 1), f=(1, 0, 0), s=(0, 1, 0), o=(0, 0, 1), t=(1, 0, 0), p=(1, 0, 0), u=(1, 0, 0)),
    "DIALS": dict(b=(0, 0, 1), f=(1, 0, 0), s=(0, 1, 0), o=(0, 0, 1), t=(0, 1, 0), p=(0, 1, 0), u=(0, 1, 0)),
}
_CONVENTIONS["DENZO"] = _CONVENTIONS["MOSFLM"]
# The C's variable defaults, which CUSTOM keeps for any vector the user did not give (spec 3.2, 3.3).
_CUSTOM_DEFAULTS = dict(b=(1, 0, 0), f=(0, 0, 1), s=(0, -1, 0), o=(1, 0, 0), t=(0, 1, 0), p=(0, 0, 1), u=(0, 0, 1))
_FORCED_PIVOT = {"MOSFLM": "BEAM", "DENZO": "BEAM", "ADXV": "BEAM", "XDS": "SAMPLE", "DIALS": "SAMPLE"}


@dataclass
class Geometry:
    """The resolved detector. Lengths in m, angles in rad unless named _deg; vectors unit and rotated (final)."""

    fpixels: int
    spixels: int
    px: float
    detsize_f: float
    detsize_s: float
    convention: str
    pivot: str
    fdet: np.ndarray
    sdet: np.ndarray
    odet: np.ndarray
    beam: np.ndarray            # propagation direction b (never rotated)
    polar_axis: np.ndarray      # p
    spindle: np.ndarray         # u
    twotheta_axis: np.ndarray
    vertical: np.ndarray        # unit(b × p)
    pix0: np.ndarray            # sample -> outer corner of pixel (0,0)
    distance: float             # close_distance/ratio after pix0 (spec 3.9)
    close_distance: float
    ratio: float
    Fbeam: float
    Sbeam: float
    Fclose: float
    Sclose: float
    Xbeam: float                # as given or defaulted (headers), m
    Ybeam: float
    orgx: float                 # pixels
    orgy: float
    dials_origin_mm: tuple[float, float, float]
    rotx: float
    roty: float
    rotz: float
    twotheta: float
    curved: bool
    point_pixel: bool
    thick: float                # detector thickness (m), 0 = none
    thicksteps: int             # layers (>= 1)
    thickstep: float            # layer spacing (m)
    mu: float                   # attenuation (1/m)
    log: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _vec(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).reshape(3)


def _resolve_thickness(det: DetectorConfig, g_log: list[str]) -> tuple[float, int, float, float]:
    """(thick m, layers, step m, mu 1/m) by the C's rules (spec 3.13)."""
    thick = (det.thick_um or 0.0) * 1e-6
    mu: float | None = None
    if det.abs_um is not None:
        if det.abs_um == 0.0 or math.isinf(det.abs_um):
            mu = 0.0
        else:
            mu = 1.0 / (det.abs_um * 1e-6)
    # A count <= 0 is "not given", as in the C (spec 3.13): -detector_thicksteps 0 gives 2 layers thick/2 apart.
    n = det.thicksteps if det.thicksteps is not None and det.thicksteps > 0 else -1
    step = -1.0
    if thick > 0 and n < 0:
        n, step = 2, thick / 2.0
    elif thick > 0 and n >= 0:
        n = max(n, 2)
        step = thick / (n - 1)
    if thick <= 0 or step <= 0 or n <= 0:
        return 0.0, 1, 0.0, (mu or 0.0)
    if mu is None:
        mu = 1.0 / thick
        g_log.append(f"detector attenuation depth not given: using mu = 1/thickness = {mu:g} /m")
    return thick, n, step, mu


def build_geometry(det: DetectorConfig) -> Geometry:
    """Resolve conventions, beam centres, pivot, rotations, distances and pix0 exactly as the C does."""
    px = det.pixel_mm / 1000.0
    if not (px > 0) or not math.isfinite(px):
        raise ConfigError(f"-pixel: expected a positive pixel size in mm, got {det.pixel_mm!r}")
    for name, n in (("-detpixels_f", det.fpixels), ("-detpixels_s", det.spixels)):
        if n is not None and n <= 0:
            raise ConfigError(f"{name}: expected a positive pixel count, got {n}")
    detsize_f = px * det.fpixels if det.fpixels is not None else det.detsize_f_mm / 1000.0
    detsize_s = px * det.spixels if det.spixels is not None else det.detsize_s_mm / 1000.0
    fpixels = int(math.ceil(detsize_f / px - 0.5))
    spixels = int(math.ceil(detsize_s / px - 0.5))
    if fpixels <= 0 or spixels <= 0:
        raise ConfigError(f"detector has no pixels ({fpixels} x {spixels}); check -detsize/-detpixels/-pixel")
    if max(fpixels, spixels) > INT_MAX:
        raise ConfigError(f"-detsize: the detector would be {fpixels} x {spixels} pixels; expected at most {INT_MAX} "
                          "a side", flag="-detsize")
    conv = det.convention.upper()
    log: list[str] = []
    warnings: list[str] = []

    # Vectors (spec 3.3): conventions overwrite everything; CUSTOM keeps the user's, else the C defaults.
    if conv == "CUSTOM":
        user = dict(b=det.beam_vector, f=det.fdet_vector, s=det.sdet_vector, o=det.odet_vector,
                    t=det.twotheta_axis, p=det.polar_vector, u=det.spindle_axis)
        raw = {k: _vec(user[k] if user[k] is not None else _CUSTOM_DEFAULTS[k]) for k in _CUSTOM_DEFAULTS}
    elif conv in _CONVENTIONS:
        raw = {k: _vec(v) for k, v in _CONVENTIONS[conv].items()}
    else:
        raise ConfigError(f"convention: expected one of MOSFLM XDS DIALS ADXV DENZO CUSTOM, got {det.convention!r}")

    # Unitise (spec 3.4); a non-unit odet is replaced by unit(f × s).
    b, f, s, p, u = (unit(raw[k]) for k in "bfspu")
    o_len = mag(raw["o"])
    if o_len != 1.0:
        o = unit(cross(f, s))
        warnings.append("auto-generating odet_vector")
    else:
        o = raw["o"] / o_len
    t2 = raw["t"]  # the C does not unitise the 2theta axis
    vertical = unit(cross(b, p))

    # Beam centres (spec 3.5), metres.
    Fclose = (det.orgx_px - 0.5) * px if det.orgx_px is not None else detsize_f / 2.0
    Sclose = (det.orgy_px - 0.5) * px if det.orgy_px is not None else detsize_s / 2.0
    Xclose = det.xclose_mm / 1000.0 if det.xclose_mm is not None else Fclose
    Yclose = det.yclose_mm / 1000.0 if det.yclose_mm is not None else Sclose
    xb = det.xbeam_mm / 1000.0 if det.xbeam_mm is not None else None
    yb = det.ybeam_mm / 1000.0 if det.ybeam_mm is not None else None
    if conv in ("MOSFLM", "DENZO"):
        Xbeam = xb if xb is not None else (detsize_s + px) / 2.0
        Ybeam = yb if yb is not None else (detsize_f + px) / 2.0
        half = 0.5 * px if conv == "MOSFLM" else 0.0
        Fbeam, Sbeam = Ybeam + half, Xbeam + half
    elif conv == "ADXV":
        Xbeam = xb if xb is not None else (detsize_f + px) / 2.0
        Ybeam = yb if yb is not None else (detsize_s - px) / 2.0
        Fbeam, Sbeam = Xbeam, detsize_s - Ybeam
    else:  # XDS, DIALS, CUSTOM
        Xbeam = xb if xb is not None else Xclose
        Ybeam = yb if yb is not None else Yclose
        Fbeam, Sbeam = Xbeam, Ybeam
        if conv == "CUSTOM":
            Fclose, Sclose = Xbeam, Ybeam

    # Pivot (spec 3.6): forced by every convention but CUSTOM.
    if conv in _FORCED_PIVOT:
        pivot = _FORCED_PIVOT[conv]
    else:
        pivot = (det.pivot or "BEAM").upper()
        if pivot not in ("BEAM", "SAMPLE"):
            raise ConfigError(f"-pivot: expected beam or sample, got {det.pivot!r}")

    # Ratio and distances (spec 3.7): fixed before the vectors rotate; 2theta not included.
    rtd = 180.0 / math.pi  # the C's NUM / NB_RTD (math.radians multiplies by pi/180: another rounding)
    rotx, roty, rotz = (a / rtd for a in (det.rotx_deg, det.roty_deg, det.rotz_deg))
    twotheta = det.twotheta_deg / rtd
    ratio = dot(b, rotate_xyz(o, rotx, roty, rotz))
    if ratio == 0.0:
        ratio = np.finfo(np.float64).tiny
    distance = det.distance_mm / 1000.0
    if det.close_distance_mm is not None:
        close_distance = det.close_distance_mm / 1000.0
    else:
        close_distance = abs(ratio * distance)
    distance = close_distance / ratio

    def full_rotation(v: np.ndarray) -> np.ndarray:
        return rodrigues(rotate_xyz(v, rotx, roty, rotz), t2, twotheta)

    # pix0 (spec 3.8); a user pix0 vector is never used.
    if pivot == "SAMPLE":
        pix0 = full_rotation(-Fclose * f - Sclose * s + close_distance * o)
        log.append("pivoting detector around sample")
    f, s, o = full_rotation(f), full_rotation(s), full_rotation(o)
    if pivot == "BEAM":
        pix0 = -Fbeam * f - Sbeam * s + distance * b
        log.append("pivoting detector around direct beam spot")

    # Recomputed values that the headers report (spec 3.9).
    Fclose = -dot(pix0, f)
    Sclose = -dot(pix0, s)
    close_distance = dot(pix0, o)
    R = (close_distance / ratio) * b - pix0
    Fbeam, Sbeam = dot(f, R), dot(s, R)
    distance = close_distance / ratio
    orgx, orgy = Fclose / px + 0.5, Sclose / px + 0.5
    dials = (1000.0 * pix0[2], 1000.0 * pix0[1], -1000.0 * pix0[0])

    thick, layers, step, mu = _resolve_thickness(det, log)
    log.append(f"DETECTOR_FAST_AXIS {f[0]:.15g} {f[1]:.15g} {f[2]:.15g}")
    log.append(f"DETECTOR_SLOW_AXIS {s[0]:.15g} {s[1]:.15g} {s[2]:.15g}")
    log.append(f"DETECTOR_NORMAL_AXIS {o[0]:.15g} {o[1]:.15g} {o[2]:.15g}")
    log.append(f"DETECTOR_PIX0_VECTOR {pix0[0]:.15g} {pix0[1]:.15g} {pix0[2]:.15g}")
    log.append(f"XDS incident beam: {dot(b, f):g} {dot(b, s):g} {dot(b, o):g}")
    return Geometry(
        fpixels=fpixels, spixels=spixels, px=px, detsize_f=detsize_f, detsize_s=detsize_s, convention=conv,
        pivot=pivot, fdet=f, sdet=s, odet=o, beam=b, polar_axis=p, spindle=u, twotheta_axis=t2, vertical=vertical,
        pix0=pix0, distance=distance, close_distance=close_distance, ratio=ratio, Fbeam=Fbeam, Sbeam=Sbeam,
        Fclose=Fclose, Sclose=Sclose, Xbeam=Xbeam, Ybeam=Ybeam, orgx=orgx, orgy=orgy, dials_origin_mm=dials,
        rotx=rotx, roty=roty, rotz=rotz, twotheta=twotheta, curved=det.curved_det, point_pixel=det.point_pixel,
        thick=thick, thicksteps=layers, thickstep=step, mu=mu, log=log, warnings=warnings,
    )

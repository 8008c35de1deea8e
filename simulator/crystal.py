"""Crystal setup as the C does it (spec 4.1-4.5, 4.7), float64, torch-free.

Reciprocal vectors a*, b*, c* in 1/Angstrom (static, never rotated by phi or mosaic); real vectors a0, b0, c0 in
metres (the phi = 0 reference). Mosaic domains are 3x3 rotation matrices U_m (domain 0 = identity) applied as
a = U_m·ap.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from simulator.budget import MOSAIC_BYTES_PER_DOMAIN, require_memory
from simulator.config import ConfigError, CrystalConfig
from simulator.textfile import decimal, read_input_text
from simulator.rng import Ran1, mosaic_rotation_umat, umat_to_misset_rad
from simulator.vec import cross, dot, mag, rotate_xyz

_DBL_MIN = np.finfo(np.float64).tiny
_RTD = 180.0 / math.pi    # the C's NB_RTD: degrees = rad * RTD, rad = degrees / RTD


@dataclass
class Crystal:
    """Resolved crystal. Vectors float64 (3,); umats (N_mos, 3, 3)."""

    a0: np.ndarray              # m
    b0: np.ndarray
    c0: np.ndarray
    a_star: np.ndarray          # 1/A, static
    b_star: np.ndarray
    c_star: np.ndarray
    Na: int
    Nb: int
    Nc: int
    cell: tuple[float, float, float, float, float, float]   # A, deg: as the vectors say (after the drift)
    volume_A3: float
    mosaic_spread: float        # rad
    umats: np.ndarray           # (N_mos, 3, 3)
    misset_deg: tuple[float, float, float] | None = None
    log: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_mosaic(self) -> int:
        return int(self.umats.shape[0])

    def size_m(self) -> tuple[float, float, float]:
        """Crystal size (|a|Na, |b|Nb, |c|Nc) in m."""
        return mag(self.a0) * self.Na, mag(self.b0) * self.Nb, mag(self.c0) * self.Nc


def reciprocal_from_cell(cell: tuple[float, ...],
                         warnings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """a*, b*, c* (1/A) in the C's default orientation and the cell volume (A^3), with the C's c*_z formula (4.1)."""
    a, b, c = cell[0], cell[1] if cell[1] > 0 else cell[0], cell[2] if cell[2] > 0 else cell[0]
    al, be, ga = (x / _RTD if x > 0 else math.pi / 2 for x in cell[3:6])
    s = (al + be + ga) / 2.0
    skew = abs(math.sin(s) * math.sin(s - al) * math.sin(s - be) * math.sin(s - ga))
    V = 2.0 * a * b * c * math.sqrt(skew)
    if V <= 0:
        warnings.append("WARNING: no volume")
        V = _DBL_MIN
    Vs = 1.0 / V
    lens = [b * c * math.sin(al) * Vs, c * a * math.sin(be) * Vs, a * b * math.sin(ga) * Vs]
    for i, x in enumerate(lens):
        if x <= 0:
            warnings.append("WARNING: reciprocal axis length is not positive")
            lens[i] = max(abs(x), _DBL_MIN)
    as_, bs_, cs_ = lens
    sin_as = a * Vs / bs_ / cs_
    sin_bs = b * Vs / as_ / cs_
    sin_gs = c * Vs / as_ / bs_
    cos_as = (math.cos(be) * math.cos(ga) - math.cos(al)) / (math.sin(be) * math.sin(ga))
    cos_bs = (math.cos(ga) * math.cos(al) - math.cos(be)) / (math.sin(ga) * math.sin(al))
    cos_gs = (math.cos(al) * math.cos(be) - math.cos(ga)) / (math.sin(al) * math.sin(be))
    vals = [sin_as, sin_bs, sin_gs, cos_as, cos_bs, cos_gs]
    if any(abs(x) > 1.0000001 for x in vals):
        warnings.append("WARNING: oddball reciprocal cell angles")
    sin_as, sin_bs, sin_gs = (max(-1.0, min(1.0, x)) for x in (sin_as, sin_bs, sin_gs))
    cos_as, cos_bs, cos_gs = (1.0 if x * x > 1 else x for x in (cos_as, cos_bs, cos_gs))
    a_star = np.array([as_, 0.0, 0.0])
    b_star = np.array([bs_ * cos_gs, bs_ * sin_gs, 0.0])
    c_star = np.array([cs_ * cos_bs, cs_ * (cos_as - cos_bs * cos_gs) / sin_gs, cs_ * V / (a * b * c * sin_gs)])
    return a_star, b_star, c_star, V


def read_mat(path: str, lambda_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a*, b*, c* (1/A) from a MOSFLM A matrix: first 9 numbers row by row, columns are the vectors, / lambda[A].

    The 9 numbers must be finite and the matrix not singular (|det| > 1e-9 |a*||b*||c*|): both engines stop
    otherwise, naming the file."""
    text = read_input_text("-mat", path)
    nums: list[float] = []
    for tok in (t for t in _MAT_SEPARATORS.split(text) if t):
        v = decimal(tok)
        if v is None:
            raise ConfigError(f"-mat: {path}: expected 9 numbers (3 rows of a*x b*x c*x ...), got {tok!r} after "
                              f"{len(nums)}", flag="-mat", file=path, expected="9 numbers")
        nums.append(v)
        if len(nums) == 9:
            break
    if len(nums) < 9:
        raise ConfigError(f"-mat: {path}: expected 9 numbers (3 rows of a*x b*x c*x ...), found {len(nums)}",
                          flag="-mat", file=path, expected="9 numbers")
    m = np.array(nums).reshape(3, 3)
    if not np.all(np.isfinite(m)):
        raise ConfigError(f"-mat: {path}: expected 9 finite numbers, got {' '.join(f'{x:g}' for x in nums)}",
                          flag="-mat", file=path, expected="finite numbers")
    if matrix_singular(m):
        raise ConfigError(f"-mat: {path}: the A matrix is singular (its reciprocal vectors do not span a cell)",
                          flag="-mat", file=path, expected="a non-singular matrix")
    m = m / lambda_A
    return m[:, 0].copy(), m[:, 1].copy(), m[:, 2].copy()


_MAT_SEPARATORS = re.compile(r"[ \t\n\v\f\r]+")   # fscanf's %s blanks


def matrix_singular(m: np.ndarray) -> bool:
    """True when the columns of `m` (3, 3) are (nearly) linearly dependent: |det| <= 1e-9 * product of norms."""
    a, b, c = m[:, 0], m[:, 1], m[:, 2]
    det = float(a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                + a[2] * (b[0] * c[1] - b[1] * c[0]))
    scale = mag(a) * mag(b) * mag(c)
    return not abs(det) > 1e-9 * scale


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    cosv = dot(u, v) / (mag(u) * mag(v))
    cosv = max(-1.0, min(1.0, cosv))
    sinv = math.sqrt(max(0.0, 1.0 - cosv * cosv))
    return math.degrees(math.atan2(sinv, cosv))


def resolve_mosaic(cfg: CrystalConfig, warnings: list[str]) -> tuple[int, float]:
    """(domains, spread rad) per the table of spec 4.7."""
    dom, spread = cfg.mosaic_domains, cfg.mosaic_spread_deg
    if dom is None:
        if spread is None or spread == 0:
            return 1, 0.0
        if spread > 0:
            warnings.append("WARNING: mosaic_domains not set: using 10")
            return 10, spread / _RTD
        return 1, 0.0
    if spread is None or spread <= 0:
        warnings.append("WARNING: mosaic_domains given without a mosaic spread: using 1 domain")
        return 1, 0.0
    if dom <= 0:
        raise ConfigError(f"-mosaic_domains: expected a positive count, got {dom}")
    return int(dom), spread / _RTD


def build_crystal(cfg: CrystalConfig, lambda_A: float, beamsize_m: float) -> Crystal:
    """Cell or matrix -> misset -> real vectors (m) -> N from sample size -> mosaic domains."""
    log: list[str] = []
    warnings: list[str] = []
    if cfg.mat_file is None and (cfg.cell is None or cfg.cell[0] <= 0):
        raise ConfigError("no unit cell: give -cell a b c alpha beta gamma or -mat FILE")
    # With -cell: the axis lengths (A) and the cell volume (A^3) that rescale the real vectors below.
    user_cell: tuple[tuple[float, float, float], float] | None = None
    if cfg.cell is not None and cfg.cell[0] > 0:
        cell = tuple(cfg.cell) + (0.0,) * (6 - len(cfg.cell))
        a_s, b_s, c_s, V_cell = reciprocal_from_cell(cell, warnings)
        user_cell = (cell[0], cell[1] if cell[1] > 0 else cell[0], cell[2] if cell[2] > 0 else cell[0]), V_cell
    if cfg.mat_file is not None:
        a_s, b_s, c_s = read_mat(cfg.mat_file, lambda_A)

    misset: tuple[float, float, float] | None = None
    misset_rad = (0.0, 0.0, 0.0)
    if cfg.misset_random:
        seed = -abs(cfg.misset_seed) if cfg.misset_seed is not None else -int(time.time())
        U = mosaic_rotation_umat(90.0, Ran1(seed))  # 90 "radians", as the C (C-IMPL-BUG-002)
        misset_rad = umat_to_misset_rad(U)  # kept in radians, as the C: no degree round trip
        misset = (misset_rad[0] * _RTD, misset_rad[1] * _RTD, misset_rad[2] * _RTD)
        log.append("random orientation misset angles: {:f} {:f} {:f} deg".format(*misset))
    elif cfg.misset_deg is not None:
        misset = cfg.misset_deg
        misset_rad = (misset[0] / _RTD, misset[1] / _RTD, misset[2] / _RTD)   # the C's NUM / RTD
    if misset is not None and any(m != 0.0 for m in misset):
        rx, ry, rz = misset_rad
        a_s, b_s, c_s = (rotate_xyz(v, rx, ry, rz) for v in (a_s, b_s, c_s))

    # Spec 4.4: reciprocal -> real -> reciprocal, rescaling the cross products only with -cell.
    # Scalar math in the C's order (simulator.vec): the same bits on every instruction set (issue 18).
    bxc, cxa, axb = cross(b_s, c_s), cross(c_s, a_s), cross(a_s, b_s)
    V_star = dot(a_s, bxc)
    if user_cell is not None:
        lens, V_cell = user_cell
        bxc = (bxc / mag(bxc)) * (lens[0] / V_cell)
        cxa = (cxa / mag(cxa)) * (lens[1] / V_cell)
        axb = (axb / mag(axb)) * (lens[2] / V_cell)
        V_star = 1.0 / V_cell
    V = 1.0 / V_star
    a, b, c = bxc * V, cxa * V, axb * V
    a_s, b_s, c_s = cross(b, c) * V_star, cross(c, a) * V_star, cross(a, b) * V_star
    cell_out = (mag(a), mag(b), mag(c), _angle(b, c), _angle(c, a), _angle(a, b))
    log.append("Unit Cell: {:g} {:g} {:g} {:g} {:g} {:g}".format(*cell_out))
    recp = (mag(a_s), mag(b_s), mag(c_s),
            _angle(b_s, c_s), _angle(c_s, a_s), _angle(a_s, b_s))
    log.append("Recp Cell: " + " ".join(f"{x:g}" for x in recp))
    log.append(f"volume = {V:g} A^3")
    a0, b0, c0 = a * 1e-10, b * 1e-10, c * 1e-10

    # Crystal size (spec 4.5): sample y/z clipped to the beam, N from the size when given.
    Na, Nb, Nc = cfg.Na, cfg.Nb, cfg.Nc
    sx = cfg.sample_x_mm / 1000.0 if cfg.sample_x_mm is not None else 0.0
    sy = cfg.sample_y_mm / 1000.0 if cfg.sample_y_mm is not None else 0.0
    sz = cfg.sample_z_mm / 1000.0 if cfg.sample_z_mm is not None else 0.0
    if beamsize_m >= 0 and beamsize_m < sy:
        warnings.append(f"WARNING: clipping sample ({sy * 1000:g} mm high) with beam ({beamsize_m * 1000:g} mm)")
        sy = beamsize_m
    if beamsize_m >= 0 and beamsize_m < sz:
        warnings.append(f"WARNING: clipping sample ({sz * 1000:g} mm wide) with beam ({beamsize_m * 1000:g} mm)")
        sz = beamsize_m
    if sx > 0:
        Na = int(math.ceil(sx / mag(a0)))
    if sy > 0:
        Nb = int(math.ceil(sy / mag(b0)))
    if sz > 0:
        Nc = int(math.ceil(sz / mag(c0)))
    Na, Nb, Nc = max(Na, 1), max(Nb, 1), max(Nc, 1)

    n_mos, spread = resolve_mosaic(cfg, warnings)
    require_memory(n_mos * MOSAIC_BYTES_PER_DOMAIN, "-mosaic_domains", f"{n_mos} mosaic rotation matrices")
    rng = Ran1(-abs(cfg.mosaic_seed))
    umats = np.empty((n_mos, 3, 3))
    for m in range(n_mos):
        umats[m] = mosaic_rotation_umat(spread, rng) if spread > 0 else np.eye(3)
    umats[0] = np.eye(3)  # domain 0 is the identity; its draws were consumed
    log.append(f"{n_mos} mosaic domains over mosaic spread of {math.degrees(spread):g} degrees")
    return Crystal(a0=a0, b0=b0, c0=c0, a_star=a_s, b_star=b_s, c_star=c_s, Na=Na, Nb=Nb, Nc=Nc, cell=cell_out,
                   volume_A3=V, mosaic_spread=spread, umats=umats, misset_deg=misset, log=log, warnings=warnings)

"""Beam: wavelength, fluence and the source list (spec 6.2-6.5), torch-free, float64.

Sources are stored as incident unit vectors i (pointing along the propagation, i = -source direction) and
wavelengths in metres, with a leading sources axis (N_src) so that divergence, dispersion and source files share it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from simulator.budget import SOURCE_BYTES, product, require_memory
from simulator.config import BeamConfig, ConfigError
from simulator.errors import file_error
from simulator.textfile import content_lines, decimal, read_input_text
from simulator.vec import rodrigues, unit

R_E = 2.81794117756025e-15        # m
R_E_SQR = 7.94079248018965e-30    # m^2 (the C's constant)
AVOGADRO = 6.02214179e23
F_BG_WATER = 2.57


@dataclass
class Beam:
    """lambda0 (m); incident (N_src, 3) unit vectors; lambdas (N_src,) m; fluence photons/m^2; Kahn factor."""

    lambda0: float
    incident: np.ndarray
    lambdas: np.ndarray
    fluence: float
    flux: float
    exposure: float
    beamsize: float
    polar_K: float
    nopolar: bool
    dmin: float            # m (0 = off)
    water: float           # m
    I_bg: float            # starting value of every pixel's accumulator (spec 9.1)
    log: list[str] = field(default_factory=list)

    @property
    def n_sources(self) -> int:
        return int(self.incident.shape[0])


def _resolve_div(count, rng, step, unit_range):
    """(count, range, step) by the table of spec 6.1 (None = unset)."""
    if count is None and rng is None and step is None:
        return 1, 0.0, 0.0
    if count is None and rng is None:
        rng, count = step, 2
    elif count is None and step is None:
        step, count = rng, 2
    elif count is None:
        count = int(math.ceil(rng / step)) if step > 0 else 1
    elif rng is None and step is None:
        rng = unit_range
        step = rng / count if count else 0.0
    elif rng is None:
        rng, count = step, 2
    elif step is None:
        count = max(count, 2)
        step = rng / (count - 1)
    if rng <= 0 or step <= 0 or count <= 0:
        return 1, 0.0, 0.0
    return int(count), float(rng), float(step)


def build_beam(cfg: BeamConfig, b: np.ndarray, p: np.ndarray, vertical: np.ndarray) -> Beam:
    """Resolve wavelength, fluence (flux/exposure/beamsize) and the sources (divergence x dispersion)."""
    if not (cfg.lambda_A > 0) or not math.isfinite(cfg.lambda_A):
        raise ConfigError(f"-lambda: expected a positive wavelength in Angstrom, got {cfg.lambda_A!r}")
    lambda0 = cfg.lambda_A * 1e-10
    beamsize = cfg.beamsize_mm / 1000.0
    fluence, flux, exposure = cfg.fluence, cfg.flux, cfg.exposure_s
    if flux != 0 and exposure > 0 and beamsize >= 0:
        fluence = flux * exposure / beamsize ** 2 if beamsize > 0 else math.inf
    if exposure > 0:
        flux = fluence / exposure * beamsize ** 2
    log: list[str] = []
    if cfg.sourcefile is not None:
        incident, lambdas = read_sourcefile(cfg.sourcefile, b, lambda0)
        log.append(f"created a total of {len(lambdas)} sources:")
    else:
        incident, lambdas = _generated_sources(cfg, b, p, vertical, lambda0)
        if len(lambdas) > 1:
            log.append(f"created a total of {len(lambdas)} sources:")
    water = cfg.water_um * 1e-6
    I_bg = F_BG_WATER ** 2 * R_E_SQR * fluence * water ** 3 * 1e6 * AVOGADRO / 18.0
    return Beam(lambda0=lambda0, incident=incident, lambdas=lambdas, fluence=fluence, flux=flux,
                exposure=exposure, beamsize=beamsize, polar_K=cfg.polar, nopolar=cfg.nopolar,
                dmin=cfg.dmin_A * 1e-10, water=water, I_bg=I_bg, log=log)


def source_counts(cfg: BeamConfig) -> tuple[int, int, int]:
    """(horizontal, vertical, dispersion) steps of the generated source grid (before round-divergence culling)."""
    hs = _resolve_div(cfg.hdivsteps, _mr(cfg.hdivrange_mrad), _mr(cfg.hdivstep_mrad), 1.0)[0]
    vs = _resolve_div(cfg.vdivsteps, _mr(cfg.vdivrange_mrad), _mr(cfg.vdivstep_mrad), 1.0)[0]
    disp = cfg.dispersion_pct / 100.0
    ds = _resolve_div(cfg.dispsteps, disp if disp != 0 else None, None, 1.0)[0]
    if cfg.dispsteps is not None and disp == 0:
        ds = 1
    return hs, vs, ds


def source_flag(cfg: BeamConfig, hs: int, vs: int, ds: int) -> str:
    """The flag behind the largest factor of the source count (for messages)."""
    if cfg.sourcefile is not None:
        return "-sourcefile"
    if hs >= vs and hs >= ds:
        return "-hdivsteps"
    return "-vdivsteps" if vs >= ds else "-dispsteps"


def _generated_sources(cfg: BeamConfig, b: np.ndarray, p: np.ndarray, vertical: np.ndarray,
                       lambda0: float) -> tuple[np.ndarray, np.ndarray]:
    """The divergence x dispersion source grid of spec 6.2: incident unit vectors (n, 3) and wavelengths (n,) m."""
    hs, hr, hst = _resolve_div(cfg.hdivsteps, _mr(cfg.hdivrange_mrad), _mr(cfg.hdivstep_mrad), 1.0)
    vs, vr, vst = _resolve_div(cfg.vdivsteps, _mr(cfg.vdivrange_mrad), _mr(cfg.vdivstep_mrad), 1.0)
    disp = cfg.dispersion_pct / 100.0
    ds, dr, dst = _resolve_div(cfg.dispsteps, disp if disp != 0 else None, None, 1.0)
    if cfg.dispsteps is not None and disp == 0:
        ds, dr, dst = 1, 0.0, 0.0  # dispersion defaults to 0.0, not "unset" (spec 6.1)
    n_max = product(hs, vs, ds)
    require_memory(n_max * SOURCE_BYTES, source_flag(cfg, hs, vs, ds),
                   f"{hs} x {vs} divergence x {ds} dispersion steps = {n_max} sources")
    dirs, lams = [], []
    for hi in range(hs):
        for vi in range(vs):
            hdiv = hst * hi - hr / 2.0
            vdiv = vst * vi - vr / 2.0
            with np.errstate(invalid="ignore", divide="ignore"):
                T = (np.float64(hdiv ** 2 - hst ** 2 / 4.0 * (1 - hs % 2)) / np.float64(hr ** 2)
                     + np.float64(vdiv ** 2 - vst ** 2 / 4.0 * (1 - vs % 2)) / np.float64(vr ** 2))
            if cfg.round_div and 4.0 * T > 1.1:
                continue
            d = rodrigues(rodrigues(-10.0 * b, p, vdiv), vertical, hdiv)
            for di in range(ds):
                dirs.append(unit(d))
                lams.append(lambda0 * (1.0 + dst * di - dr / 2.0))
    return -np.asarray(dirs).reshape(-1, 3), np.asarray(lams, dtype=np.float64)


SOURCE_SEPARATORS = re.compile(r"[ \t,;:!\r\n]+")   # the C reference's strtok set


def read_sourcefile(path: str, b: np.ndarray, lambda0: float) -> tuple[np.ndarray, np.ndarray]:
    """(incident (N, 3), lambdas (N,) m) from a source file (spec 6.3): up to 5 columns X Y Z weight lambda[m]
    separated by any of ' \t,;:!'; missing (or nan) columns default to -10 m*b (per component), weight 1, lambda0.
    Blank lines and (decisions D5) '#' comment lines are skipped. The weight is read and ignored, as in the C;
    the per-source wavelength is used. A column that is not a number, a direction that is zero or infinite, a
    wavelength that is not positive and finite, or an infinite weight stops with the file and line (both engines)."""
    text = read_input_text("-sourcefile", path)
    dirs, lams = [], []
    default_pos = -10.0 * np.asarray(b, dtype=np.float64)
    for lineno, line in content_lines(text):
        toks = [t for t in SOURCE_SEPARATORS.split(line) if t]
        if not toks:
            continue
        vals = []
        for tok in toks[:5]:
            v = decimal(tok)
            if v is None:
                raise file_error("-sourcefile", path, lineno, "a number (X Y Z weight lambda)", tok)
            vals.append(v)
        vals += [math.nan] * (5 - len(vals))   # a missing (or nan) column takes its default, as in the C
        pos = np.array([default_pos[i] if math.isnan(vals[i]) else vals[i] for i in range(3)])
        lam = lambda0 if math.isnan(vals[4]) else vals[4]
        if not np.all(np.isfinite(pos)) or not np.any(pos != 0):
            raise file_error("-sourcefile", path, lineno, "a finite, non-zero source direction X Y Z",
                             " ".join(toks[:3]))
        if math.isinf(vals[3]):
            raise file_error("-sourcefile", path, lineno, "a finite weight", toks[3])
        if not (lam > 0 and math.isfinite(lam)):
            raise file_error("-sourcefile", path, lineno, "a positive, finite wavelength in m", toks[4])
        dirs.append(unit(pos))
        lams.append(lam)
    if not dirs:
        raise ConfigError(f"-sourcefile: {path}: no sources found; expected X Y Z weight lambda lines",
                          flag="-sourcefile", file=path)
    return -np.asarray(dirs), np.asarray(lams, dtype=np.float64)


def _mr(v):
    return None if v is None else v / 1000.0

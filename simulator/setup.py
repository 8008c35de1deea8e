"""Configuration -> one resolved `Setup` (torch-free): geometry, crystal, beam, structure factors, sampling.

Everything is resolved once in float64, in the order the C does it, and collected with the log lines the C prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.beam import Beam, build_beam
from simulator.budget import IMAGE_BYTES_PER_PIXEL, IMAGE_FLAG, require_memory
from simulator.config import ConfigError, NanoBraggConfig, validate_values
from simulator.crystal import Crystal, build_crystal
from simulator.geometry import Geometry, build_geometry
from simulator.hkl import HKLGrid, build_grid
from simulator.budget import require_auto_oversample
from simulator.sampling import PhiGrid, auto_oversample, build_phi
from simulator.smv_in import read_mask

SHAPES_SUPPORTED = ("SQUARE", "ROUND", "GAUSS", "TOPHAT")


@dataclass
class Setup:
    """Everything the kernel needs, resolved. roi = (xmin, xmax, ymin, ymax) inclusive, clipped to the detector."""

    config: NanoBraggConfig
    geometry: Geometry
    crystal: Crystal
    beam: Beam
    hkl: HKLGrid
    phi: PhiGrid
    oversample: int
    shape: str
    fudge: float
    roi: tuple[int, int, int, int]
    interpolate: bool = False
    mask: np.ndarray | None = None   # bool (slow, fast): False = masked (never rendered)
    log: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """N_src * N_mos * phisteps * oversample^2 (layers not included, spec 7.1)."""
        return self.beam.n_sources * self.crystal.n_mosaic * self.phi.steps * self.oversample ** 2

    @property
    def n_paths(self) -> int:
        """Sub-paths per pixel: layers * oversample^2 (the J axis of the kernel)."""
        return self.geometry.thicksteps * self.oversample ** 2


def build_setup(cfg: NanoBraggConfig, carryover_default: bool = False) -> Setup:
    """Resolve a configuration. Raises ConfigError for values the engine cannot use."""
    validate_values(cfg)  # NaN, inf, ranges: the checks the C reference makes too (decisions D5)
    warnings: list[str] = []
    log: list[str] = []
    geo = build_geometry(cfg.detector)
    require_memory(geo.spixels * geo.fpixels * IMAGE_BYTES_PER_PIXEL, IMAGE_FLAG,
                   f"the {geo.fpixels} x {geo.spixels} pixel image")
    mask = None
    if cfg.detector.mask_file is not None:
        mask = read_mask(cfg.detector.mask_file, geo.spixels, geo.fpixels)
        if mask is None:
            warnings.append(f"-mask: {cfg.detector.mask_file} is not an SMV image; ignored")
    beam = build_beam(cfg.beam, geo.beam, geo.polar_axis, geo.vertical)
    crystal = build_crystal(cfg.crystal, cfg.beam.lambda_A, beam.beamsize)
    hkl = build_grid(cfg.crystal.hkl_file, cfg.crystal.default_F)
    warnings += geo.warnings + crystal.warnings

    # Interpolation (spec 5.4): auto = on if any N <= 2; off without HKLs.
    interp = cfg.crystal.interpolate
    if interp is None:
        interp = min(crystal.Na, crystal.Nb, crystal.Nc) <= 2
    if hkl.hkls == 0:
        interp = False
    log.append(f"{'' if interp else 'not '}using tricubic interpolation of structure factors")

    shape = cfg.crystal.shape.upper()
    if shape not in SHAPES_SUPPORTED:
        raise ConfigError(f"crystal shape: expected one of {', '.join(SHAPES_SUPPORTED)}, got {cfg.crystal.shape!r}")

    phi = build_phi(cfg.sampling, carryover_default=carryover_default)
    recommended = auto_oversample(beam.lambda0, geo.distance, geo.px, crystal.size_m())
    if cfg.sampling.oversample is None or cfg.sampling.oversample <= 0:
        oversample = require_auto_oversample(recommended)   # beyond the C's int: refused by both (issue 22)
        log.append(f"auto-selected {oversample}-fold oversampling")
    else:
        oversample = int(cfg.sampling.oversample)
        if oversample < recommended:
            warnings.append(f"WARNING: maximum spot size requires at least {recommended} x oversampling;"
                            f" using {oversample}")

    xmin, xmax, ymin, ymax = cfg.output.roi if cfg.output.roi is not None else (0, geo.fpixels, 0, geo.spixels)
    roi = (max(0, xmin), min(geo.fpixels - 1, xmax), max(0, ymin), min(geo.spixels - 1, ymax))

    log += geo.log + crystal.log + beam.log
    sx, sy, sz = crystal.size_m()
    log.append(f"crystal is {sx * 1e6:g} x {sy * 1e6:g} x {sz * 1e6:g} microns")
    log.append(f"{phi.steps} phi steps from {math.degrees(phi.phi0):g} to"
               f" {math.degrees(phi.phi0 + phi.osc):g} degrees")
    for i, a in enumerate(phi.angles):
        log.append(f"phi{i} = {math.degrees(a):g}")
    if phi.carryover:
        log.append("phi=0 carry-over (C-PARITY-001 emulation): on")
    log.append(f"fluence = {beam.fluence:g} photons/m^2; lambda0 = {beam.lambda0 * 1e10:g} A;"
               f" {beam.n_sources} source(s); Kahn factor {beam.polar_K:g}")
    return Setup(config=cfg, geometry=geo, crystal=crystal, beam=beam, hkl=hkl, phi=phi, oversample=oversample,
                 shape=shape, fudge=cfg.crystal.fudge, roi=roi, interpolate=bool(interp), mask=mask, log=log,
                 warnings=warnings)


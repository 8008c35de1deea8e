"""Every usage error of a command line, found before any engine runs, including what is inside its input files.

`check(argv, cwd)` parses the nanoBragg arguments, validates the values (simulator.config.validate_values), reads
and validates every input file with the torch-free readers (-hkl, -mat, -sourcefile, -mask, -img headers), counts
what the run would build and do (simulator.budget.Estimate) and refuses what does not fit in memory; with
`out=` it also checks the bundle folder (exists or can be made, writable, room for the bundle). Everything wrong is a
ConfigError naming the flag (or --out), the file and the line. It takes well under a second for any command line:
nothing big is allocated, only counted. Qt-free and torch-free: the headless commands, the window and
`python -m simulator` call it first.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from simulator.argv import parse_argv
from simulator.beam import read_sourcefile, source_counts, source_flag
from simulator.budget import (
    IMAGE_BYTES_PER_PIXEL,
    IMAGE_FLAG,
    MOSAIC_BYTES_PER_DOMAIN,
    PHI_BYTES_PER_TICK,
    SOURCE_BYTES,
    WORDS,
    Estimate,
    available_memory,
    product,
    require_auto_oversample,
)
from simulator.config import ConfigError, NanoBraggConfig, resolve_phi, validate_values
from simulator.crystal import build_crystal, read_mat, resolve_mosaic
from simulator.geometry import build_geometry
from simulator.hkl import build_grid, grid_bytes
from simulator.sampling import auto_oversample
from simulator.smv_in import read_mask

# Flags whose value is an input file, resolved against the caller's folder (the user's working folder).
INPUT_FLAGS = ("-hkl", "-mat", "-sourcefile", "-mask", "-img")


def resolve_inputs(argv: list[str], cwd: Path | str | None) -> list[str]:
    """argv with the relative file names of INPUT_FLAGS made absolute against `cwd` (None: unchanged)."""
    if cwd is None:
        return list(argv)
    out = list(argv)
    for i, tok in enumerate(out[:-1]):
        if tok in INPUT_FLAGS and not os.path.isabs(out[i + 1]):
            out[i + 1] = os.path.join(os.fspath(cwd), out[i + 1])
    return out


def check(argv: list[str], cwd: Path | str | None = None, *, out: Path | str | None = None,
          available: int | None = None) -> Estimate:
    """Parse, validate, read the input files and budget one nanoBragg command line; ConfigError on the first
    problem. `available`: memory in bytes to budget against (default: simulator.budget.available_memory())."""
    est = check_config(parse_argv(resolve_inputs(argv, cwd)).config, available)
    if out is not None:
        check_out(out, est, cwd)
    return est


def check_config(cfg: NanoBraggConfig, available: int | None = None) -> Estimate:
    """`estimate` and refuse what does not fit: the one call for callers that have parsed already."""
    est = estimate(cfg, available)
    est.check()
    return est


def estimate(cfg: NanoBraggConfig, available: int | None = None, *, large_files: bool = True) -> Estimate:
    """Validate `cfg` and its input files and count what a run would build (see the module docstring).

    large_files=False skips the files that can be large and do not change the work (the -hkl grid, the -mask
    image): a quick estimate of the work for the window to ask about before a long run, on the GUI thread; the
    memory figure then lacks the grid."""
    validate_values(cfg)
    geo = build_geometry(cfg.detector)
    if cfg.detector.mask_file is not None and large_files:
        read_mask(cfg.detector.mask_file, geo.spixels, geo.fpixels)
    image = WORDS["PART_IMAGE"] % (geo.fpixels, geo.spixels)
    memory: dict[str, tuple[int, str]] = {image: (geo.spixels * geo.fpixels * IMAGE_BYTES_PER_PIXEL, IMAGE_FLAG)}

    if cfg.beam.sourcefile is not None:
        sources = len(read_sourcefile(cfg.beam.sourcefile, geo.beam, cfg.beam.lambda_A * 1e-10)[1])
        memory[WORDS["PART_SOURCES"]] = (sources * SOURCE_BYTES, "-sourcefile")
    else:
        hs, vs, ds = source_counts(cfg.beam)
        sources = product(hs, vs, ds)
        memory[WORDS["PART_SOURCES"]] = (sources * SOURCE_BYTES, source_flag(cfg.beam, hs, vs, ds))

    _osc, _step, phi_steps = resolve_phi(cfg.sampling)
    memory[WORDS["PART_PHI"]] = (phi_steps * PHI_BYTES_PER_TICK, "-phisteps")
    n_mos, _spread = resolve_mosaic(cfg.crystal, [])
    memory[WORDS["PART_MOSAIC"]] = (n_mos * MOSAIC_BYTES_PER_DOMAIN, "-mosaic_domains")
    if cfg.crystal.mat_file is not None:
        read_mat(cfg.crystal.mat_file, cfg.beam.lambda_A)
    if cfg.crystal.hkl_file is not None and large_files:
        # build_grid parses, validates and budgets the file once and caches the grid the render then reuses.
        path = cfg.crystal.hkl_file
        grid = build_grid(path, cfg.crystal.default_F)
        hi = (grid.h_min + grid.shape[0] - 1, grid.k_min + grid.shape[1] - 1, grid.l_min + grid.shape[2] - 1)
        memory[WORDS["PART_GRID"] % (path, grid.h_min, hi[0], grid.k_min, hi[1], grid.l_min, hi[2])] = \
            (grid_bytes(grid.shape), "-hkl")
    # The crystal without its mosaic domains (only its size matters here; the domains are counted above).
    one_domain = dataclasses.replace(cfg.crystal, mosaic_domains=None, mosaic_spread_deg=None)
    crystal = build_crystal(one_domain, cfg.beam.lambda_A, cfg.beam.beamsize_mm / 1000.0)
    if cfg.sampling.oversample is None or cfg.sampling.oversample <= 0:
        oversample = require_auto_oversample(
            auto_oversample(cfg.beam.lambda_A * 1e-10, geo.distance, geo.px, crystal.size_m()))
    else:
        oversample = int(cfg.sampling.oversample)

    if cfg.output.roi is not None:
        xmin, xmax, ymin, ymax = cfg.output.roi
        roi_pixels = ((min(geo.fpixels - 1, xmax) - max(0, xmin) + 1)
                      * (min(geo.spixels - 1, ymax) - max(0, ymin) + 1))
    else:
        roi_pixels = geo.fpixels * geo.spixels
    return Estimate(spixels=geo.spixels, fpixels=geo.fpixels, roi_pixels=roi_pixels, oversample=oversample,
                    layers=geo.thicksteps, sources=sources, phi_steps=phi_steps, mosaic_domains=n_mos,
                    memory=memory, available=available_memory() if available is None else available)


def derived_lines(cfg: NanoBraggConfig, est: Estimate) -> list[str]:
    """What the run derived, in budget.def's words (both engines print these, after their prefix): the estimate,
    the phi steps (from -osc/-phistep/-phisteps), the mosaic domains and the sub-pixel grid."""
    osc, step, n = resolve_phi(cfg.sampling)
    phi0 = cfg.sampling.phi_deg
    n_mos, spread = resolve_mosaic(cfg.crystal, [])
    auto = cfg.sampling.oversample is None or cfg.sampling.oversample <= 0
    return [WORDS["ESTIMATE_LINE"] % est.sentence(),
            WORDS["DERIVED_PHI"] % (n, step, phi0, phi0 + osc),
            WORDS["DERIVED_MOSAIC"] % (n_mos, math.degrees(spread)),
            WORDS["DERIVED_OVERSAMPLE"] % (est.oversample, est.oversample,
                                           WORDS["OVERSAMPLE_AUTO" if auto else "OVERSAMPLE_GIVEN"])]


def check_out(out: Path | str, est: Estimate, cwd: Path | str | None = None) -> None:
    """ConfigError naming --out unless a bundle for `est`'s detector can be written under `out`."""
    from tracing.bundle import BundleError, check_output_folder, estimate_bundle_bytes

    folder = Path(out) if cwd is None or os.path.isabs(out) else Path(cwd) / out
    try:
        check_output_folder(folder, estimate_bundle_bytes(est.spixels * est.fpixels))
    except BundleError as e:
        raise ConfigError(f"--out {out}: {e.strerror or e}", flag="--out", file=str(out),
                          expected="a writable folder with room for the bundle") from None

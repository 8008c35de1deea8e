"""nanoBragg's `-printout` / `-printout_pixel f s` block (spec 11.2) for the PyTorch engine's command line.

Upstream prints, once a pixel is finished, the values its loop variables were left with: stol and the position of
the last sub-pixel (last layer, last source), h, k, l and F_latt of the last evaluated path (last phi tick, last
mosaic domain), F_cell of the last path that reached the structure factor, the raw sum I, I/steps, the pixel's
polarisation, solid angle and capture fraction, the float pixel value, and the real-space cell vectors of the last
orientation used. Here each printed pixel is traced (simulator.engine.trace_pixel, the same arithmetic as the
image, decisions D4) and its values are read from the trace; the image value comes from the rendered image.
"""
from __future__ import annotations

import math

import numpy as np

from simulator.config import ConfigError, NanoBraggConfig
from simulator.setup import Setup
from simulator.vec import mat_vec, rodrigues

# Every printed pixel is a separate trace (~50 ms each on a loaded 2-core machine): a bound keeps a plain -printout
# of a whole detector from running for hours; -roi or -printout_pixel narrows it.
MAX_PRINTOUT_PIXELS = 1024


def printout_pixels(cfg: NanoBraggConfig, setup: Setup) -> list[tuple[int, int]]:
    """(slow, fast) of the pixels upstream prints, in raster order: the -printout_pixel one, or every rendered pixel.
    Raises ConfigError, before any work, when there are more than MAX_PRINTOUT_PIXELS."""
    g = setup.geometry
    xmin, xmax, ymin, ymax = setup.roi
    want = cfg.output.printout_pixel
    pixels = []
    if want is not None and want[0] >= 0:
        f, s = want
        inside = xmin <= f <= xmax and ymin <= s <= ymax and 0 <= f < g.fpixels and 0 <= s < g.spixels
        if inside and (setup.mask is None or setup.mask[s, f]):
            pixels.append((s, f))
        return pixels
    n = (xmax - xmin + 1) * (ymax - ymin + 1)
    if n > MAX_PRINTOUT_PIXELS:
        raise ConfigError(f"-printout: prints every rendered pixel, {n} here; the PyTorch engine traces at most "
                          f"{MAX_PRINTOUT_PIXELS} (give -printout_pixel f s, or a -roi)")
    for s in range(ymin, ymax + 1):
        for f in range(xmin, xmax + 1):
            if setup.mask is None or setup.mask[s, f]:
                pixels.append((s, f))
    return pixels


def _last_lattice(setup: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a, b, c (m) at the last phi tick and the last mosaic domain, as every path but the run's first sees them."""
    cr, ph = setup.crystal, setup.phi
    ang = float(ph.eff_rest[-1])
    vecs = [v if ang == 0.0 else rodrigues(v, setup.geometry.spindle, ang) for v in (cr.a0, cr.b0, cr.c0)]
    if cr.mosaic_spread > 0:
        vecs = [mat_vec(cr.umats[-1], v) for v in vecs]   # no BLAS: the same bits on every CPU
    return vecs[0], vecs[1], vecs[2]


def pixel_block(setup: Setup, trace, value: float) -> list[str]:
    """The printout lines of one pixel from its trace (tracing.records.PixelTrace) and its image value."""
    sc, beam = trace.scalars, setup.beam
    P = [float(x) for x in trace.scalars_all["pixel_pos_meters"][-1]]
    r = math.sqrt(P[0] * P[0] + P[1] * P[1] + P[2] * P[2])
    d = [x / r for x in P]
    lam = float(beam.lambdas[-1])
    q = [(d[k] - float(beam.incident[-1][k])) / lam for k in range(3)]
    stol = 0.5 * math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2])
    twotheta = math.atan2(math.sqrt(P[1] * P[1] + P[2] * P[2]), P[0])
    last = trace.samples[-1].values if trace.samples else {}
    reached = [s.values for s in trace.samples if s.values.get("F_latt", 0.0) != 0.0 or beam.water != 0.0]
    f_cell = reached[-1]["F_cell"] if reached else 0.0
    hkl = [last.get(k, 0.0) for k in ("h_frac", "k_frac", "l_frac")]
    hkl0 = [int(last.get(k, 0.0)) for k in ("h0", "k0", "l0")]
    I = sc["I_before_scaling"][0]
    a, b, c = _last_lattice(setup)
    out = [f"{trace.fast:4d} {trace.slow:4d} : stol = {stol:g} or {math.sin(twotheta / 2.0) / (beam.lambda0 * 1e10):g}",
           f"at {P[0]:g} {P[1]:g} {P[2]:g}",
           "hkl= {:f} {:f} {:f}  hkl0= {:d} {:d} {:d}".format(*hkl, *hkl0),
           f" F_cell={f_cell:g}  F_latt={last.get('F_latt', 0.0):g}   I = {I:g}",
           f"I/steps {I / setup.steps:15.10g}", f"polar   {sc['polar'][0]:15.10g}",
           f"omega   {sc['omega_pixel'][0]:15.10g}", f"capfrac {sc['capture_fraction'][0]:15.10g}",
           f"pixel   {float(value):15.10g}", "real-space cell vectors (Angstrom):",
           "     {:<10s}  {:<10s}  {:<10s}".format("a", "b", "c")]
    for i, axis in enumerate("XYZ"):
        out.append(f"{axis}: {a[i] * 1e10:11.8f} {b[i] * 1e10:11.8f} {c[i] * 1e10:11.8f}")
    return out


def printout_lines(cfg: NanoBraggConfig, setup: Setup, image: np.ndarray, pixels: list[tuple[int, int]], *,
                   dtype: str = "float64", device: str = "cpu") -> list[str]:
    """The printout lines of `pixels` ((slow, fast), from printout_pixels), in order; image: the rendered
    (slow, fast) float32 image."""
    from simulator.engine import trace_pixel

    out: list[str] = []
    for s, f in pixels:
        out += pixel_block(setup, trace_pixel(cfg, s, f, dtype=dtype, device=device), float(image[s, f]))
    return out

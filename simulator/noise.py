"""The Poisson noise image of `python -m simulator` (spec 9.4; decisions D2), numpy only (torch-free).

Per ROI pixel, in the C's three regimes of poidev: mean < 12 and 12..1e6 draw an exact Poisson count (numpy's
generator, not the C's stream: noise images are compared statistically); mean > 1e6 is `xm + sqrt(xm)*gauss`,
unrounded, as the C. Then the ADC offset is added; values above 65535 are clamped and counted as overloads; the
stored value is truncated to uint16. Pixels outside the ROI stay 0. The photon count excludes the ADC offset and is
taken before clamping, as the C prints it.
"""
from __future__ import annotations

import numpy as np

from simulator.io_files import roi_mask

GAUSS_ABOVE = 1e6


def noise_image(image: np.ndarray, roi: tuple[int, int, int, int], adc: float, seed: int
                ) -> tuple[np.ndarray, float, int]:
    """(uint16 (slow, fast) noise image, photons, overloads) for the float image (slow, fast)."""
    rng = np.random.default_rng(abs(int(seed)))
    xm = np.maximum(image.astype(np.float32).astype(np.float64), 0.0)   # the C's poidev takes a float
    big = xm > GAUSS_ABOVE
    n = rng.poisson(np.where(big, 0.0, xm)).astype(np.float64)
    if big.any():
        n[big] = xm[big] + np.sqrt(xm[big]) * rng.standard_normal(int(big.sum()))
    inside = roi_mask(image.shape, roi)
    photons = float(np.sum(n[inside]))
    v = n + adc
    overloads = int(np.count_nonzero((v > 65535) & inside))
    v = np.clip(v, 0.0, 65535.0)
    out = np.where(inside, np.trunc(v), 0.0).astype(np.uint16)
    return out, photons, overloads

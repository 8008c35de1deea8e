"""Detector geometry for the cursor readout (Qt-free): 2θ and d of a pixel centre."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.config import NanoBraggConfig


@dataclass
class PixelGeometry:
    """Detector geometry for readouts: pixel (s, f) centre at pix0 + (f+0.5)·px·fdet + (s+0.5)·px·sdet (m)."""

    pix0: np.ndarray
    fdet: np.ndarray
    sdet: np.ndarray
    beam: np.ndarray
    px: float
    lambda_m: float

    @classmethod
    def from_config(cls, cfg: NanoBraggConfig) -> PixelGeometry | None:
        try:
            from simulator.geometry import build_geometry
            g = build_geometry(cfg.detector)
        except Exception:  # noqa: BLE001 - readouts then omit d and 2θ rather than guess
            return None
        return cls(np.asarray(g.pix0, float), np.asarray(g.fdet, float), np.asarray(g.sdet, float),
                   np.asarray(g.beam, float), float(g.px), cfg.beam.lambda_A * 1e-10)

    def two_theta_d(self, slow: int, fast: int) -> tuple[float, float]:
        """(2θ in degrees, d in Å) of the pixel centre (flat detector)."""
        pos = self.pix0 + (fast + 0.5) * self.px * self.fdet + (slow + 0.5) * self.px * self.sdet
        n = np.linalg.norm(pos)
        b = self.beam / np.linalg.norm(self.beam)
        cos2t = float(np.clip(np.dot(pos / n, b), -1.0, 1.0))
        two_theta = math.acos(cos2t)
        s = math.sin(two_theta / 2.0)
        d = self.lambda_m / (2.0 * s) * 1e10 if s > 0 else math.inf
        return math.degrees(two_theta), d

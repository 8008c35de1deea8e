"""Sampling grids (torch-free): phi ticks (spec 8.2) with the phi=0 carry-over (spec 8.3, decisions D3) and the
automatic oversampling (spec 4.6)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.budget import PHI_BYTES_PER_TICK, require_memory
from simulator.config import SamplingConfig, resolve_phi


@dataclass
class PhiGrid:
    """phi0, osc, step in rad; angles (N,) rad = phi0 + i*step (exact C arithmetic, used for the ==0 test).

    eff_rest (N,) rad: the lattice rotation actually used at each tick by every path except the run's first one;
    eff_first (N,) rad: the same for the run's very first path. Both equal `angles` when the carry-over is off.
    """

    phi0: float
    osc: float
    step: float
    steps: int
    angles: np.ndarray
    eff_rest: np.ndarray
    eff_first: np.ndarray
    carryover: bool

    @property
    def carry_changes(self) -> bool:
        """True when the carry-over changes any tick of any path."""
        return bool(np.any(self.eff_rest != self.angles) or np.any(self.eff_first != self.angles))


def _scan(angles: np.ndarray, start: float) -> np.ndarray:
    """Effective angle per tick when the lattice is rotated only at non-zero ticks, starting from `start`."""
    out = np.empty_like(angles)
    last = start
    for i, a in enumerate(angles):
        if a != 0.0:
            last = a
        out[i] = last
    return out


def build_phi(cfg: SamplingConfig, carryover_default: bool = False) -> PhiGrid:
    """Phi ticks phi_i = phi0 + i*phistep (rad), with the carry-over's effective angles when switched on."""
    osc_deg, step_deg, n = resolve_phi(cfg)
    rtd = 180.0 / math.pi
    phi0, step = cfg.phi_deg / rtd, step_deg / rtd
    require_memory(n * PHI_BYTES_PER_TICK, "-phisteps", f"{n} phi steps")
    angles = phi0 + step * np.arange(n, dtype=np.float64)  # the same two roundings per tick as phi0 + step*i
    carry = carryover_default if cfg.phi0_carryover is None else bool(cfg.phi0_carryover)
    if carry:
        nonzero = angles[angles != 0.0]
        # After any path, the lattice is the one of the path's last non-zero tick (or unrotated if none).
        carried = float(nonzero[-1]) if len(nonzero) else 0.0
        eff_first, eff_rest = _scan(angles, 0.0), _scan(angles, carried)
    else:
        eff_first = eff_rest = angles.copy()
    return PhiGrid(phi0=phi0, osc=osc_deg / rtd, step=step, steps=n, angles=angles, eff_rest=eff_rest,
                   eff_first=eff_first, carryover=carry)


def auto_oversample(lambda0: float, distance: float, px: float, crystal_size: tuple[float, float, float]) -> int:
    """ceil(3*max(crystal size)/(lambda0*distance/px)), at least 1 (spec 4.6); all lengths in m."""
    recip = lambda0 * distance / px
    return max(1, int(math.ceil(3.0 * max(crystal_size) / recip)))

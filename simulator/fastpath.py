"""The compiled kernel's inputs (numpy, torch-free): which renders it covers, its parameter block and lattice
tables, built from a `Setup` with the C's order of operations (float64 bit-exact with the C's tables)."""
from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass

import numpy as np

from simulator.beam import R_E_SQR
from simulator.compiled import NBParams
from simulator.setup import Setup
from simulator.vec import rodrigues

# fastkernel.cpp's REDUCE_MAX: its vectorised sine is used while every |N·pi·h| stays below this.
SIN_REDUCE_MAX = 1.0e5
# Largest padded F grid (cells; float64 + float32 copies: 12 bytes each) before the kernel range-checks instead.
MAX_PADDED_CELLS = 1 << 23


def covers(setup: Setup) -> str | None:
    """None when the compiled kernel renders `setup`, else why not (the torch path then renders it)."""
    smp = setup.config.sampling
    if setup.shape != "SQUARE":
        return f"-xtal_shape {setup.shape}"
    if setup.interpolate:
        return "tricubic interpolation"
    if smp.oversample_thick or smp.oversample_polar or smp.oversample_omega:
        return "-oversample_thick/polar/omega"
    if setup.geometry.curved:
        return "-curved_det"
    return None


def lattice_table(setup: Setup, angles: np.ndarray) -> np.ndarray:
    """(T*M, 9) float64: row t*M + m = U_m·R(angle_t)·a0, then b0, c0 (m), as the C's tables (a tick at angle 0
    uses the unrotated vectors; U only with a mosaic spread). Built elementwise in float64 with the C's sums."""
    cr = setup.crystal
    u = setup.geometry.spindle
    base = (cr.a0, cr.b0, cr.c0)
    rows = []
    for ang in angles:
        vecs = base if ang == 0.0 else tuple(rodrigues(v, u, float(ang)) for v in base)
        rot = np.stack(vecs)                                                 # (3 axes, 3)
        if cr.mosaic_spread > 0:
            U = cr.umats                                                     # (M, 3, 3)
            # out[m, axis, r] = (U[m,r,0]·v0 + U[m,r,1]·v1) + U[m,r,2]·v2, v = rot[axis]
            out = (U[:, None, :, 0] * rot[None, :, None, 0] + U[:, None, :, 1] * rot[None, :, None, 1]) \
                + U[:, None, :, 2] * rot[None, :, None, 2]
            rows.append(out.reshape(-1, 9))
        else:
            rows.append(np.repeat(rot.reshape(1, 9), cr.n_mosaic, axis=0))
    return np.ascontiguousarray(np.concatenate(rows, axis=0), dtype=np.float64)


def sine_reach(setup: Setup) -> float:
    """An upper bound of |N·pi·h| over every path: |h| <= |a|·|q| <= |a|·2/lambda_min (per axis)."""
    cr = setup.crystal
    q_max = 2.0 / float(np.min(setup.beam.lambdas))
    return max(n * math.pi * float(np.linalg.norm(v)) * q_max
               for n, v in ((cr.Na, cr.a0), (cr.Nb, cr.b0), (cr.Nc, cr.c0)))


def f_grid(setup: Setup, pad: bool = True) -> tuple[np.ndarray, tuple[int, int, int], tuple[int, int, int], bool]:
    """(F (cells + 1,) float64 with default_F in the last cell, grid origin, extents, padded): the file's grid,
    padded with default_F to every index the geometry can reach (|h| <= |a|·2/lambda_min, plus one for the
    rounding) when that stays under MAX_PADDED_CELLS, so the kernel needs no range checks. The values looked up
    are the C's either way (default_F outside the file's grid). pad=False: the file's grid as it is (a few pixels,
    e.g. a trace's one, cost less than the padded grid's fill)."""
    hk, cr = setup.hkl, setup.crystal
    if hk.hkls <= 0:
        return np.array([hk.default_F], dtype=np.float64), (0, 0, 0), (0, 0, 0), False
    lam_min = float(np.min(setup.beam.lambdas))
    glo, gshape = (hk.h_min, hk.k_min, hk.l_min), hk.grid.shape
    lo, hi = [], []
    for ax, vec in enumerate((cr.a0, cr.b0, cr.c0)):
        reach = int(math.ceil(float(np.linalg.norm(vec)) * 2.0 / lam_min)) + 2
        lo.append(min(-reach, glo[ax]))
        hi.append(max(reach, glo[ax] + gshape[ax] - 1))
    shape = tuple(h - lo_ + 1 for lo_, h in zip(lo, hi, strict=True))
    if not pad or math.prod(shape) > MAX_PADDED_CELLS:
        flat = np.ascontiguousarray(hk.grid, dtype=np.float64).ravel()
        return np.append(flat, hk.default_F), glo, tuple(gshape), False
    o = [g - lo_ for g, lo_ in zip(glo, lo, strict=True)]
    torch = sys.modules.get("torch")
    if torch is not None:
        # Where torch is loaded anyway (the window), its ops release the GIL (numpy's fill of a grid this size held
        # it for 0.1-0.2 s while a GUI thread ran); the values are the same copies either way.
        full_t = torch.full((math.prod(shape) + 1,), hk.default_F, dtype=torch.float64)
        full_t[:-1].view(shape)[o[0]:o[0] + gshape[0], o[1]:o[1] + gshape[1], o[2]:o[2] + gshape[2]] = \
            torch.from_numpy(hk.grid)
        return full_t.numpy(), (lo[0], lo[1], lo[2]), shape, True
    full = np.full(math.prod(shape) + 1, hk.default_F, dtype=np.float64)
    full[:-1].reshape(shape)[o[0]:o[0] + gshape[0], o[1]:o[1] + gshape[1], o[2]:o[2] + gshape[2]] = hk.grid
    return full, (lo[0], lo[1], lo[2]), shape, True


def f_squared_f32(F64: np.ndarray) -> np.ndarray:
    """F^2 rounded to float32 (n,): one correctly rounded float64 product, then one rounding to float32, in numpy
    or (where loaded, GIL-free) torch: the same bits either way."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch.from_numpy(F64).square().to(torch.float32).numpy()
    return np.square(F64).astype(np.float32)


@dataclass
class _GridEntry:
    """One padded F grid and its float32 F^2, for the HKL grid object it was made from."""

    source: np.ndarray                    # setup.hkl.grid (the HKL cache's shared array): identity is the key
    key: tuple
    F64: np.ndarray
    F2f: np.ndarray
    origin: tuple[int, int, int]
    shape: tuple[int, int, int]
    padded: bool


class PaddedGridCache:
    """The last padded F grid and F^2 table (issue 19: about 0.05-0.15 s of every CLI-FLAGS-003 render, 27 MB),
    reused while a render has the same HKL grid object (hkl.build_grid serves one array per file and default_F),
    the same wavelengths' reach and cell lengths; the last unpadded one (a trace's) beside it, so a click between
    two renders does not evict the render's grid. Thread-safe; the arrays are read-only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[bool, _GridEntry] = {}   # by `pad`

    def get(self, setup: Setup, pad: bool) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int],
                                                    tuple[int, int, int], bool]:
        """(F64, F2f, origin, shape, padded) of f_grid(setup, pad) and f_squared_f32 of it."""
        hk, cr = setup.hkl, setup.crystal
        key = (pad, float(hk.default_F), hk.h_min, hk.k_min, hk.l_min, float(np.min(setup.beam.lambdas)),
               *(float(np.linalg.norm(v)) for v in (cr.a0, cr.b0, cr.c0)))
        with self._lock:
            e = self._entries.get(pad)
            if e is not None and e.source is hk.grid and e.key == key:
                return e.F64, e.F2f, e.origin, e.shape, e.padded
        F64, origin, shape, padded = f_grid(setup, pad)
        F2f = f_squared_f32(F64)
        for a in (F64, F2f):
            a.flags.writeable = False
        if hk.hkls > 0:
            with self._lock:
                self._entries[pad] = _GridEntry(hk.grid, key, F64, F2f, origin, shape, padded)
        return F64, F2f, origin, shape, padded

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


GRID_CACHE = PaddedGridCache()


@dataclass
class KernelInputs:
    """The parameter block and the arrays it points into (kept alive with it)."""

    params: NBParams
    arrays: tuple[np.ndarray, ...]
    work_per_pixel: int           # sub-paths x sources x ticks x domains


def kernel_inputs(setup: Setup, first: tuple[int, int, int] | None, pad: bool = True) -> KernelInputs:
    """NBParams for `setup`; first = (render index, sub-path j, source) of the carry-over's first path, or None;
    pad: see f_grid."""
    g, cr, bm, hk, ph = setup.geometry, setup.crystal, setup.beam, setup.hkl, setup.phi
    N = setup.oversample
    src_dir = np.ascontiguousarray(-bm.incident, dtype=np.float64)
    lambdas = np.ascontiguousarray(bm.lambdas, dtype=np.float64)
    latN = lattice_table(setup, ph.eff_rest)
    latF = lattice_table(setup, ph.eff_first) if np.any(ph.eff_first != ph.eff_rest) else latN
    F64, F2f, glo, shape, padded = GRID_CACHE.get(setup, pad)
    p = NBParams(
        pixel=g.px, sub=g.px / N, close_distance=g.close_distance, thickstep=g.thickstep, mu=g.mu, thick=g.thick,
        dmin=bm.dmin, polar_K=bm.polar_K, I_bg=bm.I_bg, r_e_sqr=R_E_SQR, fluence=bm.fluence, steps=float(setup.steps),
        default_F=hk.default_F, Na=float(cr.Na), Nb=float(cr.Nb), Nc=float(cr.Nc),
        N=N, layers=g.thicksteps, S=bm.n_sources, TM=ph.steps * cr.n_mosaic, hkls=hk.hkls, nopolar=int(bm.nopolar),
        point_pixel=int(g.point_pixel), h_min=glo[0], k_min=glo[1], l_min=glo[2], padded=int(padded),
        h_n=shape[0], k_n=shape[1], l_n=shape[2], first_pix=-1, first_t=-1, first_ss=-1, first_sf=-1, first_src=-1,
        libm_sin=int(sine_reach(setup) >= SIN_REDUCE_MAX),
        src_dir=src_dir.ctypes.data, lambdas=lambdas.ctypes.data, latN=latN.ctypes.data, latF=latF.ctypes.data,
        F64=F64.ctypes.data, F2f=F2f.ctypes.data,
    )
    for name in ("pix0", "fdet", "sdet", "odet", "polar_axis"):
        getattr(p, name)[:] = [float(v) for v in getattr(g, name)]
    if first is not None and latF is not latN:
        j = first[1]
        p.first_pix, p.first_t, p.first_ss, p.first_sf, p.first_src = first[0], j // (N * N), (j // N) % N, j % N, \
            first[2]
    return KernelInputs(p, (src_dir, lambdas, latN, latF, F64, F2f),
                        setup.n_paths * bm.n_sources * ph.steps * cr.n_mosaic)

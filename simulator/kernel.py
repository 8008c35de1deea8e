"""The vectorised intensity kernel (torch): one call evaluates a chunk of pixels over every sub-path (thickness layer
x sub-pixel), source, phi tick and mosaic domain at once (spec 7.1).

Shapes used below: P pixels in the chunk, J = layers*oversample^2 sub-paths (order t, subS, subF), S sources,
T phi ticks, M mosaic domains, n = P*J*S paths. The Miller indices of all (T, M) lattices come from one matmul of
a (3*T*M, 3) matrix of rotated real-space vectors (rows axis-major: a of every (t, m), then b, then c) with the
scattering vectors (3, n): the result (3, T*M, n) keeps each axis a contiguous slab, so per-axis constants
broadcast over long rows and every elementwise pass vectorises.

Two ways through a chunk (`evaluate`):
- renders of the SQUARE shape without interpolation or oversample_* flags (`path_sums_square`): the sums over
  (t, m) are formed in-chunk; float32 gets its reduced indices from a float64 per-path reference split
  (`miller_reduced`) and its lattice factor from a multiply-add polynomial (`_sincg_ratio_poly`); every per-chunk
  tensor lives in a `Workspace` buffer reused by the next chunk. Working set: about five (3, T*M, n) tensors of the
  working dtype (float64: three float64 ones), plus float64 and int64 flat indices (T*M, n) with an HKL grid;
  opt-in, float32 only, the same sums as one torch.compile'd function (`_fused_split_sums`);
- everything else (traces, interpolation, oversample_* flags, other shapes) keeps the (P, J, S, T, M) tensors:
  about 12 tensors of P*J*S*T*M*3 elements.
`chunk_pixels` (engine.py) bounds P*J*S*T*M*3, hence both.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any
from dataclasses import dataclass

import numpy as np
import torch

from simulator.beam import R_E_SQR
from simulator.setup import Setup
from simulator.vec import rodrigues_matrix

ROUND_CONST = 0.723601254558268
GAUSS_WIDTH = 0.63
TOPHAT_THRESHOLD = 0.3969


@dataclass
class KernelConsts:
    """Per-run constants on the kernel's device. Lengths in m, q in 1/m.

    Geometry (positions, directions, q) and the lattice matrices are float64 whatever the working dtype: the
    Miller indices need ~1e-7 absolute accuracy at |h| ~ 1e2. The working dtype (float32/float64) is used for the
    lattice factors, structure factors and the sums over paths, which are the bulk of the work.
    """

    dtype: torch.dtype
    device: torch.device
    px: float
    sub: float                   # sub-pixel size (m)
    N: int                       # oversample
    pix0: torch.Tensor           # (3,)
    fdet: torch.Tensor
    sdet: torch.Tensor
    odet: torch.Tensor
    beam: torch.Tensor
    polar_axis: torch.Tensor
    sub_f: torch.Tensor          # (J,) sub-pixel fast index of each sub-path
    sub_s: torch.Tensor          # (J,)
    layer: torch.Tensor          # (J,) layer index
    odet_len: torch.Tensor       # (J,) Odet = t*thickstep (m)
    incident: torch.Tensor       # (S, 3)
    lambdas: torch.Tensor        # (S,) m
    mat_rest: torch.Tensor       # (3, T*M*3)
    mat_first: torch.Tensor | None
    rows_rest: torch.Tensor      # (3*T*M, 3) float64: row (axis*T + t)*M + m = that lattice vector (m), axis-major
    rows_first: torch.Tensor | None
    split: bool                  # float32 Miller indices by the reference split (see `miller_reduced`)
    ref_rows: torch.Tensor | None        # (3, 3) float64 rows a_ref, b_ref, c_ref (m): mean lattice
    drows_rest: torch.Tensor | None      # (3*T*M, 6) k.dtype: [rows_rest - ref (m) | one-hot of the axis]
    drows_first: torch.Tensor | None
    fused: bool                  # float32 renders through the torch.compile'd `_fused_split_sums` (opt-in)
    nvec: torch.Tensor           # (3,) Na Nb Nc
    F2: torch.Tensor | None      # flat F^2 grid (k.dtype): padded, or the file's grid + one trailing default cell
    padded: bool                 # F2 covers every index reachable by the geometry (default_F^2 outside the file's)
    strides_col: torch.Tensor | None   # (3, 1) float64 flat-index strides of the padded grid
    stride_off: torch.Tensor | None    # (1, 1) float64 offset of the padded grid's origin
    grid_lo: tuple[int, int, int]
    grid_shape: tuple[int, int, int]
    default_F2: float
    recip: torch.Tensor          # (3, 3) rows a*, b*, c* (1/A), static
    interp: bool                 # tricubic interpolation of F (spec 5.4) is on at the start of the run
    Fgrid: torch.Tensor | None   # (h_range, k_range, l_range) float64 F grid for the interpolation stencil
    T: int
    M: int
    layers: int
    thickstep: float
    mu: float
    thick: float
    close_distance: float
    distance: float
    curved: bool
    point_pixel: bool
    polar_K: float
    nopolar: bool
    dmin: float
    I_bg: float
    scale: float                 # r_e^2 * fluence / steps
    shape: str
    fudge: float
    water: bool
    over_thick: bool
    over_polar: bool
    over_omega: bool


def lattice_matrix(setup: Setup, angles: np.ndarray) -> np.ndarray:
    """(3, T*M*3) float64: column (t*M + m)*3 + {0,1,2} = U_m · Rod(u, angle_t) · {a0, b0, c0} (m)."""
    cr = setup.crystal
    base = np.stack([cr.a0, cr.b0, cr.c0], axis=1)            # (3, 3) columns a0 b0 c0
    cols = []
    for ang in angles:
        rotated = base if ang == 0.0 else rodrigues_matrix(setup.geometry.spindle, float(ang)) @ base
        for U in cr.umats:
            cols.append(U @ rotated if cr.mosaic_spread > 0 else rotated)
    return np.concatenate(cols, axis=1)


# Largest padded structure-factor grid (cells) before falling back to the range-checked lookup.
MAX_PADDED_CELLS = 1 << 23


def _padded_grid(setup: Setup, dtype: torch.dtype, device: torch.device
                 ) -> tuple[torch.Tensor, np.ndarray, float] | None:
    """(F^2 flat tensor (cells,) in `dtype` on `device`, strides (3,), offset) of a grid covering every reachable
    h0, k0, l0, or None if too big.

    |h| <= |a|·|q| <= |a|·2/lambda_min, so indices beyond that (plus one for rounding) cannot occur.
    Built with torch ops, which release the GIL (a GUI thread keeps running while a worker renders); numpy's
    fill of the up to 2^23-cell grid held it for 0.1-0.25 s.
    """
    hk, cr = setup.hkl, setup.crystal
    lam_min = float(np.min(setup.beam.lambdas))
    lo, hi = [], []
    for ax, vec in enumerate((cr.a0, cr.b0, cr.c0)):
        reach = int(math.ceil(np.linalg.norm(vec) * 2.0 / lam_min)) + 2
        glo = (hk.h_min, hk.k_min, hk.l_min)[ax]
        ghi = glo + hk.grid.shape[ax] - 1
        lo.append(min(-reach, glo))
        hi.append(max(reach, ghi))
    shape = [h - lo_ + 1 for lo_, h in zip(lo, hi, strict=True)]
    if math.prod(shape) > MAX_PADDED_CELLS:
        return None
    full = torch.full(shape, hk.default_F ** 2, dtype=dtype, device=device)
    o = [g - lo_ for g, lo_ in zip((hk.h_min, hk.k_min, hk.l_min), lo, strict=True)]
    gs = hk.grid.shape
    # Square in float64 (as the numpy grid did), then round once to `dtype`.
    file_f2 = torch.square(torch.from_numpy(hk.grid).to(device))     # not in place: hk.grid stays F
    full[o[0]:o[0] + gs[0], o[1]:o[1] + gs[1], o[2]:o[2] + gs[2]] = file_f2
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.float64)
    return full.reshape(-1), strides, -float(np.dot(lo, strides))


def axis_major_rows(mat: np.ndarray, T: int, M: int) -> np.ndarray:
    """(3*T*M, 3) float64: the columns of a `lattice_matrix` (3, T*M*3) reordered axis-major, row
    (axis*T + t)*M + m. With rows @ q^T the Miller indices come out as (3, T*M, paths), each axis a contiguous slab
    (per-axis constants then broadcast over long contiguous rows, which vectorises; (..., 3) last dims do not)."""
    return np.ascontiguousarray(mat.T.reshape(T * M, 3, 3).transpose(1, 0, 2).reshape(3 * T * M, 3))


# Float32 Miller indices by the reference split (see `miller_reduced`) only while |(a_i - a_ref)·q| stays below
# this: its float32 rounding error is about 6e-8 of it, i.e. <= 2.4e-7 absolute in h.
SPLIT_MAX_DELTA_H = 4.0


def make_consts(setup: Setup, dtype: torch.dtype, device: torch.device, fused: bool = False,
                pad: bool = True) -> KernelConsts:
    """Cast the float64 setup to tensors on `device` (geometry float64, lattice work in `dtype`).
    fused: use the torch.compile'd float32 kernel where it applies (see `_fused_split_sums`).
    pad: build the padded F^2 grid (whole renders); False keeps the file's grid with range checks (a pixel trace,
    where building the padded grid would cost more than the trace)."""
    g, cr, bm, ph = setup.geometry, setup.crystal, setup.beam, setup.phi

    def t(x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)

    def t64(x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, device=device)

    N, L = setup.oversample, g.thicksteps
    T, M = ph.steps, cr.n_mosaic
    tt, ss, ff = np.meshgrid(np.arange(L), np.arange(N), np.arange(N), indexing="ij")
    mat_rest = lattice_matrix(setup, ph.eff_rest)
    mat_first = None
    if np.any(ph.eff_first != ph.eff_rest):
        mat_first = lattice_matrix(setup, ph.eff_first)
    rows_rest = axis_major_rows(mat_rest, T, M)
    rows_first = None if mat_first is None else axis_major_rows(mat_first, T, M)
    # Reference split for float32: the mean lattice as reference; only if every |Δh| stays small.
    split, ref_rows, drows_rest, drows_first = False, None, None, None
    if dtype != torch.float64:
        ref = rows_rest.reshape(3, T * M, 3).mean(axis=1)                       # (3, 3)
        d_rest = rows_rest - np.repeat(ref, T * M, axis=0)
        d_first = None if rows_first is None else rows_first - np.repeat(ref, T * M, axis=0)
        q_max = 2.0 / float(np.min(bm.lambdas))
        span = max(float(np.linalg.norm(d, axis=1).max()) for d in (d_rest, d_first) if d is not None)
        if span * q_max <= SPLIT_MAX_DELTA_H:
            split, ref_rows = True, t64(ref)
            onehot = np.repeat(np.eye(3), T * M, axis=0)                         # (3*T*M, 3)
            drows_rest = t(np.concatenate([d_rest, onehot], 1))
            drows_first = None if d_first is None else t(np.concatenate([d_first, onehot], 1))
    F2, padded, strides_col, stride_off = None, False, None, None
    if setup.hkl.hkls > 0:
        grid = _padded_grid(setup, dtype, device) if pad else None
        if grid is not None:
            F2, strides, off = grid
            padded = True
            strides_col, stride_off = t64(strides).reshape(3, 1), t64([[off]])
        else:
            F2 = t(np.append(setup.hkl.grid.ravel() ** 2, setup.hkl.default_F ** 2))
    steps = setup.steps
    return KernelConsts(
        dtype=dtype, device=device, px=g.px, sub=g.px / N, N=N, pix0=t64(g.pix0), fdet=t64(g.fdet),
        sdet=t64(g.sdet), odet=t64(g.odet), beam=t64(g.beam), polar_axis=t64(g.polar_axis),
        sub_f=torch.as_tensor(ff.ravel(), device=device), sub_s=torch.as_tensor(ss.ravel(), device=device),
        layer=torch.as_tensor(tt.ravel(), device=device), odet_len=t64(tt.ravel() * g.thickstep),
        incident=t64(bm.incident), lambdas=t64(bm.lambdas), mat_rest=t64(mat_rest),
        mat_first=None if mat_first is None else t64(mat_first),
        rows_rest=t64(rows_rest), rows_first=None if rows_first is None else t64(rows_first),
        split=split, ref_rows=ref_rows, drows_rest=drows_rest, drows_first=drows_first,
        fused=bool(fused and split and setup.shape == "SQUARE" and (setup.hkl.hkls == 0 or F2 is not None and padded)),
        nvec=t([cr.Na, cr.Nb, cr.Nc]), F2=F2, padded=padded, strides_col=strides_col, stride_off=stride_off,
        grid_lo=(setup.hkl.h_min, setup.hkl.k_min, setup.hkl.l_min),
        grid_shape=setup.hkl.shape if setup.hkl.hkls > 0 else (0, 0, 0), default_F2=setup.hkl.default_F ** 2,
        recip=t(np.stack([cr.a_star, cr.b_star, cr.c_star])), interp=setup.interpolate,
        Fgrid=t64(setup.hkl.grid) if setup.interpolate else None, T=T, M=M, layers=L,
        thickstep=g.thickstep, mu=g.mu, thick=g.thick, close_distance=g.close_distance, distance=g.distance,
        curved=g.curved, point_pixel=g.point_pixel, polar_K=bm.polar_K, nopolar=bm.nopolar, dmin=bm.dmin,
        I_bg=bm.I_bg, scale=R_E_SQR * bm.fluence / steps, shape=setup.shape, fudge=setup.fudge,
        water=bm.water > 0, over_thick=setup.config.sampling.oversample_thick,
        over_polar=setup.config.sampling.oversample_polar, over_omega=setup.config.sampling.oversample_omega,
    )


def _rodrigues_batch(v: torch.Tensor, axis: torch.Tensor, ang: torch.Tensor) -> torch.Tensor:
    """Rotate v (..., 3) about the unit `axis` (3,) by per-element angles ang (...) (rad, right-handed)."""
    c, s = torch.cos(ang)[..., None], torch.sin(ang)[..., None]
    ax = axis.expand_as(v)
    return v * c + torch.linalg.cross(ax, v) * s + ax * (v * ax).sum(-1, keepdim=True) * (1 - c)


def positions(k: KernelConsts, s_idx: torch.Tensor, f_idx: torch.Tensor) -> torch.Tensor:
    """Sample-to-sub-pixel vectors (P, J, 3) in m (spec 3.10, 3.11)."""
    dt = torch.float64
    Fdet = k.sub * (f_idx[:, None] * k.N + k.sub_f[None, :]).to(dt) + k.sub / 2   # (P, J)
    Sdet = k.sub * (s_idx[:, None] * k.N + k.sub_s[None, :]).to(dt) + k.sub / 2
    pos = k.pix0 + Fdet[..., None] * k.fdet + Sdet[..., None] * k.sdet + k.odet_len[None, :, None] * k.odet
    if k.curved:
        v0 = (k.distance * k.beam).expand_as(pos)
        v1 = _rodrigues_batch(v0, k.sdet, pos[..., 1] / k.distance)
        pos = _rodrigues_batch(v1, k.fdet, pos[..., 2] / k.distance)
    return pos


def _dot3(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(a * b).sum(-1) for (..., 3) vectors, as ((a0 b0 + a1 b1) + a2 b2), the same rounding as the sum; torch's
    reduction over a last dimension of 3 is ~5x slower than these elementwise ops."""
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def polarization(k: KernelConsts, inc: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Kahn polarisation factor (spec 6.4) for incident i and diffracted d unit vectors (..., 3)."""
    cos2t = _dot3(inc, d)
    sin2 = 1 - cos2t * cos2t
    if k.polar_K == 0:
        return 0.5 * (1 + cos2t * cos2t)
    B = torch.linalg.cross(k.polar_axis.expand_as(inc), inc)
    B = B / torch.linalg.vector_norm(B, dim=-1, keepdim=True)
    E = torch.linalg.cross(inc, B)
    E = E / torch.linalg.vector_norm(E, dim=-1, keepdim=True)
    psi = -torch.atan2(_dot3(d, B), _dot3(d, E))
    return 0.5 * (1 + cos2t * cos2t - k.polar_K * torch.cos(2 * psi) * sin2)


# Added to pi*f so that f == 0 gives sin(N*t)/sin(t) = N exactly (t = 2^-100: N*t and sin(t) = t are exact) without
# a branch; for f != 0 (|pi*f| >= ~1e-7) the addition is far below half an ulp and changes nothing.
_TINY = 2.0 ** -100


def sincg_reduced(frac: torch.Tensor, h0: torch.Tensor, n: torch.Tensor, signed: bool) -> torch.Tensor:
    """sin(N·pi·h)/sin(pi·h) evaluated as (-1)^(h0(N-1))·sin(N·pi·f)/sin(pi·f) with f = h - h0 in [-1/2, 1/2]:
    float32 keeps its digits because the sine arguments stay small. N at f == 0 (the limit); 1 when N == 1.
    `signed=False` skips the sign (enough for F_latt^2). frac (..., 3), n (3,) -> (..., 3)."""
    x = torch.add(torch.tensor(_TINY, dtype=frac.dtype, device=frac.device), frac, alpha=math.pi)
    den = torch.sin(x)
    num = x.mul_(n).sin_()
    r = num.div_(den)
    if signed:
        odd = torch.remainder(h0 * (n.to(h0.dtype) - 1), 2) != 0
        r = torch.where(odd, -r, r)
    return r


def sincg_poly(k: KernelConsts, frac: torch.Tensor, h0: torch.Tensor, signed: bool) -> torch.Tensor:
    """float32 sin(N·pi·h)/sin(pi·h) (..., 3) from frac, h0 (..., 3), by the polynomial form renders use
    (`_sincg_ratio_poly`): (-1)^(h0(N-1)) · (-1)^round(N·f) · |ratio|; the sign only when `signed`."""
    f = frac.permute(-1, *range(frac.dim() - 1)).contiguous()             # (3, ...) axis-major
    m = torch.round(f * k.nvec.view(3, *([1] * (f.dim() - 1))))
    r, _ = _sincg_ratio_poly(k, f, None)
    r = r.permute(*range(1, r.dim()), 0)
    if signed:
        m = m.permute(*range(1, m.dim()), 0)
        odd = torch.remainder(h0 * (k.nvec.to(h0.dtype) - 1) + m.to(h0.dtype), 2) != 0
        r = torch.where(odd, -r, r)
    return r


def lattice_factor(k: KernelConsts, frac: torch.Tensor, h0: torch.Tensor, signed: bool):
    """(F_latt (...), per-axis factors (..., 3) or None) for the crystal shape (spec 4.8); frac = h - h0 in k.dtype."""
    if k.shape == "SQUARE":
        if frac.dtype != torch.float64:
            fa = sincg_poly(k, frac, h0, signed)     # what renders use in float32 (latt_sq_square)
        else:
            fa = sincg_reduced(frac, h0, k.nvec, signed)
        return fa.prod(-1), fa
    nprod = k.nvec.prod()            # a 0-dim tensor: no host read per chunk on a GPU
    if k.shape == "ROUND":
        hrad2 = ((frac * k.nvec) ** 2).sum(-1)
        x = math.pi * torch.sqrt(k.fudge * hrad2)
        safe = torch.where(x == 0, torch.ones_like(x), x)
        s3 = torch.where(x == 0, torch.ones_like(x), 3 * (torch.sin(safe) / safe - torch.cos(safe)) / safe ** 2)
        return nprod * ROUND_CONST * s3, None
    dvec = frac @ k.recip                                   # (..., 3) in 1/A with the static a*, b*, c*
    rho2 = (dvec * dvec).sum(-1) * nprod * nprod
    if k.shape == "GAUSS":
        return nprod * torch.exp(-(rho2 / GAUSS_WIDTH) * k.fudge), None
    return torch.where(rho2 * k.fudge < TOPHAT_THRESHOLD, nprod, 0.0).to(k.dtype), None


def f_cell_sq(k: KernelConsts, h0: torch.Tensor) -> torch.Tensor | float:
    """F_cell^2 by nearest-neighbour lookup at integer h0 (..., 3) (float64); default_F^2 outside the file's grid
    (spec 5.3). With a padded grid (every reachable index inside it) one matmul gives the flat index; otherwise
    out-of-range indices are redirected to the trailing default cell."""
    if k.F2 is None:
        return k.default_F2
    if k.padded:
        assert k.stride_off is not None and k.strides_col is not None  # `build` sets them with the padded grid
        h = h0.reshape(-1, 3)
        idx = torch.addmm(k.stride_off, h if h.dtype == torch.float64 else h.to(torch.float64),
                          k.strides_col).to(torch.int64)
        return k.F2[idx].view(h0.shape[:-1])
    lo = torch.tensor(k.grid_lo, dtype=h0.dtype, device=h0.device)
    rel = (h0 - lo).to(torch.int64)
    hr, kr, lr = k.grid_shape
    valid = (rel >= 0).all(-1) & (rel[..., 0] < hr) & (rel[..., 1] < kr) & (rel[..., 2] < lr)
    idx = (rel[..., 0] * kr + rel[..., 1]) * lr + rel[..., 2]
    idx = torch.where(valid, idx, hr * kr * lr)   # the trailing cell holds default_F^2
    return k.F2[idx]


class Workspace:
    """Reusable flat buffers for the per-chunk tensors of the fast path, one per name, grown on demand.

    Fresh allocations of multi-MB tensors cost a page fault per 4 KiB page on every chunk (in VMs ~10x the cost of
    the arithmetic on them); reusing the same buffers with out= and in-place ops avoids that and keeps the working
    set in cache. `None` where a function takes one means: allocate normally (traces, tests)."""

    def __init__(self, device: torch.device):
        self.device = device
        self._bufs: dict[tuple[str, torch.dtype], torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A contiguous tensor of `shape` (uninitialised) backed by buffer `name`."""
        n = math.prod(shape)
        buf = self._bufs.get((name, dtype))
        if buf is None or buf.numel() < n:
            buf = torch.empty(n, dtype=dtype, device=self.device)
            self._bufs[(name, dtype)] = buf
        return buf[:n].view(shape)


def _buf(ws: Workspace | None, name: str, shape: tuple[int, ...], dtype: torch.dtype, device) -> torch.Tensor:
    return ws.get(name, shape, dtype) if ws is not None else torch.empty(shape, dtype=dtype, device=device)


def miller_reduced(k: KernelConsts, q: torch.Tensor, first_col: int | None = None, need_h0: bool = True,
                   want_hkl: bool = False, ws: Workspace | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Miller indices of every (axis, tick, domain) for the scattering vectors q (n, 3) float64 (1/m), reduced.

    Returns (frac, h0, hkl), each (3, T*M, n) axis-major (row (axis*T + t)*M + m, as `rows_rest`):
    frac = h - h0 in [-1/2, 1/2] in k.dtype; h0 = ceil(h - 1/2) (the C's rounding) as integral floats, or None when
    not `need_h0` (frac then comes from round(h): only the exact half-integers differ, where F_latt^2 is the same);
    hkl = h0 + frac in float64 when `want_hkl` (what the lattice factor used), else None.
    first_col: the path (column) that sees `rows_first` (the carry-over's first path), or None.

    float64 (and float32 without k.split): h = rows · q in float64, as the C.
    float32 with k.split: h ~ 1e2 needs ~1e-7 absolute accuracy, beyond float32 (6e-6). Per path only
    h_ref = ref · q (the mean lattice, 3 numbers) is float64, split into n_ref + fr; per (tick, domain) the
    increment Δh = (a_i - a_ref) · q is float32 (|Δh| <= SPLIT_MAX_DELTA_H, so ~2e-7 absolute), then
    f = fr + Δh, shift = ceil(f - 1/2), frac = f - shift, h0 = n_ref + shift.
    Memory: two (3, T*M, n) tensors (frac, h0), in `ws` buffers "F" and "H" when given.
    """
    TM, n = k.T * k.M, q.shape[0]
    dev, f64 = q.device, torch.float64
    qT = _buf(ws, "qT", (3, n), f64, dev).copy_(q.T)   # contiguous (3, n): BLAS is ~3x faster than with q.T
    if not k.split:
        hkl = torch.mm(k.rows_rest, qT, out=_buf(ws, "F64", (3 * TM, n), f64, dev))   # (3*T*M, n) float64
        if first_col is not None and k.rows_first is not None:
            hkl[:, first_col] = k.rows_first @ qT[:, first_col]
        hkl = hkl.view(3, TM, n)
        disp = hkl.clone() if want_hkl else None
        h0 = _buf(ws, "H64", (3, TM, n), f64, dev)
        if need_h0:
            torch.sub(hkl, 0.5, out=h0).ceil_()    # the C's ceil(h - 0.5); not torch.round (half-even)
        else:
            torch.round(hkl, out=h0)
        frac = hkl.sub_(h0)
        if frac.dtype != k.dtype:
            frac = _buf(ws, "F", (3, TM, n), k.dtype, dev).copy_(frac)
        return frac, (h0 if need_h0 else None), disp
    dt = k.dtype
    assert k.ref_rows is not None and k.drows_rest is not None  # `build` sets them whenever k.split
    href = torch.mm(k.ref_rows, qT, out=_buf(ws, "href", (3, n), f64, dev))        # (3, n) float64
    nref = torch.round(href, out=_buf(ws, "nref", (3, n), f64, dev))
    # [q; fr] (6, n) against [a_i - a_ref | one-hot axis] (3*T*M, 6): f = Δh + fr in one product.
    aug = _buf(ws, "aug", (6, n), dt, dev)
    aug[:3].copy_(qT)
    aug[3:].copy_(href.sub_(nref))
    f = torch.mm(k.drows_rest, aug, out=_buf(ws, "F", (3 * TM, n), dt, dev))      # (3*T*M, n) f = fr + Δh
    if first_col is not None and k.drows_first is not None:
        f[:, first_col] = k.drows_first @ aug[:, first_col]
    f = f.view(3, TM, n)
    shift = _buf(ws, "H", (3, TM, n), dt, dev)
    if not need_h0:
        return f.sub_(torch.round(f, out=shift)), None, None
    torch.sub(f, 0.5, out=shift).ceil_()
    frac = f.sub_(shift)
    h0 = shift.add_(nref.to(dt)[:, None, :])
    disp = h0.to(f64) + frac.to(f64) if want_hkl else None
    return frac, h0, disp


def latt_sq_square(k: KernelConsts, frac: torch.Tensor, ws: Workspace | None = None) -> torch.Tensor:
    """F_latt^2 (T*M, n) of the SQUARE shape from frac (3, T*M, n) in [-1/2, 1/2] (overwritten).

    float64: the square of prod over axes of sin(N·pi·f)/sin(pi·f), the same operations as `sincg_reduced`
    (torch.sin, as the C's sin to the last bits). float32: `_sincg_ratio_poly`, a polynomial form (torch's float32
    sin is a scalar loop, ~10x the cost of a multiply-add pass). Uses `ws` buffers "A" and "B"."""
    shape, dt, dev = frac.shape, frac.dtype, frac.device
    if dt != torch.float64:
        r, spare = _sincg_ratio_poly(k, frac, ws)
    else:
        x = torch.add(torch.tensor(_TINY, dtype=dt, device=dev), frac, alpha=math.pi, out=frac)
        spare = torch.sin(x, out=_buf(ws, "A", shape, dt, dev))
        r = x.mul_(k.nvec.view(3, 1, 1)).sin_().div_(spare)
    fl = torch.mul(r[0], r[1], out=spare[0])
    return fl.mul_(r[2]).square_()


# sin(pi·x)/x = sum_k SINPI_COEF[k]·(x^2)^k on |x| <= 1/2 within 2.1e-8 relative (a weighted least-squares fit on
# Chebyshev nodes); evaluated in float32 within 2e-7.
SINPI_COEF = (3.1415926524470317, -5.167711443428678, 2.550104800757876, -0.5984715179339419, 0.07803295397341155)
# Added to f so that f == 0 gives N·t/t = N (t = 2^-60: t^2 and N·t stay normal floats in float32); below half an
# ulp of any |f| >= 2^-36.
_TINY32 = 2.0 ** -60


_COEF_CACHE: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, ...]] = {}


def _coef_tensors(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """SINPI_COEF as 0-dim tensors (addcmul takes its constant term as a tensor)."""
    key = (dtype, device)
    if key not in _COEF_CACHE:
        _COEF_CACHE[key] = tuple(torch.tensor(c, dtype=dtype, device=device) for c in SINPI_COEF)
    return _COEF_CACHE[key]


def _sin_pi_over_x(y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """sin(pi·x)/x for y = x^2 (|x| <= 1/2) into `out` (Horner, one fused multiply-add pass per coefficient;
    y untouched)."""
    c = _coef_tensors(y.dtype, y.device)
    p = torch.add(c[3], y, alpha=SINPI_COEF[4], out=out)
    for ck in c[2::-1]:
        torch.addcmul(ck, p, y, out=p)
    return p


def _sincg_ratio_poly(k: KernelConsts, frac: torch.Tensor, ws: Workspace | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(|sin(N·pi·f)/sin(pi·f)| up to its sign (3, T*M, n), a spare buffer of that shape) from frac (3, T*M, n) in
    [-1/2, 1/2] (overwritten).

    With g = N·f - round(N·f) in [-1/2, 1/2], sin(N·pi·f) = ±sin(pi·g), so both sines have arguments in
    [-pi/2, pi/2] and the ratio is (g·s(g^2))/(f·s(f^2)) with s = `_sin_pi_over_x`: elementwise multiply-adds
    only. The sign is dropped (only F_latt^2 uses this). f == 0 gives N (see _TINY32)."""
    shape, dt, dev = frac.shape, frac.dtype, frac.device
    f = frac.add_(_TINY32)
    g = torch.mul(f, k.nvec.view(3, *([1] * (f.dim() - 1))), out=_buf(ws, "A", shape, dt, dev))
    tmp = _buf(ws, "B", shape, dt, dev)
    g.sub_(torch.round(g, out=tmp))
    den = _sin_pi_over_x(torch.mul(f, f, out=tmp), _buf(ws, "C", shape, dt, dev)).mul_(f)
    num = _sin_pi_over_x(torch.mul(g, g, out=tmp), f).mul_(g)          # f is free once den has it
    return num.div_(den), g


def f_cell_sq_axis_major(k: KernelConsts, h0: torch.Tensor | None, ws: Workspace | None = None
                         ) -> torch.Tensor | float:
    """F_cell^2 (T*M, n) for h0 (3, T*M, n) (nearest neighbour, spec 5.3); the scalar default_F^2 without HKLs."""
    if k.F2 is None:
        return k.default_F2
    assert h0 is not None, "F_cell^2 from an HKL grid needs h0"
    if k.padded:
        assert k.stride_off is not None and k.strides_col is not None  # `build` sets them with the padded grid
        TM, n = h0.shape[1:]
        dev, f64 = h0.device, torch.float64
        h = h0.reshape(3, -1)
        if h.dtype != f64:
            h = _buf(ws, "H64", h.shape, f64, dev).copy_(h)
        # Flat index = h0·strides + offset: exact in float64 (integers < 2^53).
        idx = torch.addmm(k.stride_off, k.strides_col.T, h, out=_buf(ws, "idx64", (1, TM * n), f64, dev))
        idx_i = _buf(ws, "idx", (TM * n,), torch.int64, dev).copy_(idx.view(-1))
        return torch.index_select(k.F2, 0, idx_i, out=_buf(ws, "F2v", (TM * n,), k.F2.dtype, dev)).view(TM, n)
    return f_cell_sq(k, h0.permute(1, 2, 0))


def _fused_split_sums(q: torch.Tensor, ref_rows: torch.Tensor, drows: torch.Tensor, nvec: torch.Tensor,
                      strides: torch.Tensor | None, off: float, F2: torch.Tensor | None) -> torch.Tensor:
    """The float32 fast path in one function for torch.compile (which fuses it into one loop over the paths):
    sum over (t, m) of F_latt^2 (· F_cell^2 with a padded F^2 grid, strides (3, 1) float64, F2 (cells,)) for the
    paths q (n, 3) float64 (1/m); ref_rows (3, 3) float64, drows (3*T*M, 6) k.dtype as in KernelConsts.
    Same formulas as miller_reduced (split) + _sincg_ratio_poly + f_cell_sq_axis_major; results agree with the
    eager ones to float32 rounding (the compiler may contract multiply-adds and reorder the 6-term dot products)."""
    dt = drows.dtype
    href = (ref_rows[:, None, :] * q[None, :, :]).sum(-1)                  # (3, n) float64
    nref = torch.round(href)
    aug = torch.cat([q.T.to(dt), (href - nref).to(dt)], 0)                 # (6, n)
    n = q.shape[0]
    f = (drows[:, :, None] * aug[None, :, :]).sum(1).view(3, -1, n)        # (3, T*M, n) f = fr + Δh
    if F2 is not None:
        assert strides is not None, "the padded F^2 grid comes with its strides"
        shift = torch.ceil(f - 0.5)
        f = f - shift
        h0 = shift.to(torch.float64) + nref[:, None, :]
        idx = (h0 * strides[:, :, None]).sum(0) + off
        F2v = F2[idx.to(torch.int64)]
    else:
        f = f - torch.round(f)
        F2v = None
    f = f + _TINY32
    g = f * nvec.view(3, 1, 1)
    g = g - torch.round(g)
    c = SINPI_COEF

    def s(y):
        return (((c[4] * y + c[3]) * y + c[2]) * y + c[1]) * y + c[0]
    r = (g * s(g * g)) / (f * s(f * f))
    fl = r[0] * r[1] * r[2]
    fl = fl * fl
    if F2v is not None:
        fl = fl * F2v
    return fl.sum(0)


_FUSED_FN = None


def _fused_fn():
    """torch.compile(_fused_split_sums), built on first use (the first call compiles: seconds)."""
    global _FUSED_FN
    if _FUSED_FN is None:
        _FUSED_FN = torch.compile(_fused_split_sums, dynamic=True)
    return _FUSED_FN


def path_sums_square(k: KernelConsts, q: torch.Tensor, first_col: int | None, ws: Workspace | None = None
                     ) -> torch.Tensor:
    """Sum over ticks and domains of F_cell^2 · F_latt^2 (SQUARE shape) for the paths q (n, 3) float64 (1/m):
    (n,) in k.dtype. Working set: about five (3, T*M, n) tensors in k.dtype (float64 path: three float64 ones)
    plus, with HKLs, the float64 and int64 flat indices (T*M, n); all in `ws` buffers when given."""
    if k.fused:
        return _path_sums_fused(k, q, first_col)
    frac, h0, _ = miller_reduced(k, q, first_col, need_h0=k.F2 is not None, ws=ws)
    F2 = f_cell_sq_axis_major(k, h0, ws)
    term = latt_sq_square(k, frac, ws)
    term = term.mul_(F2)
    return torch.sum(term, 0, out=_buf(ws, "sum", (term.shape[1],), term.dtype, term.device))


def _path_sums_fused(k: KernelConsts, q: torch.Tensor, first_col: int | None) -> torch.Tensor:
    """path_sums_square through the compiled `_fused_split_sums`; the carry-over's first path (one column) is
    redone eagerly with its own lattice."""
    if k.F2 is not None:
        # with HKLs `build` allows the fused path only over the padded grid, which comes with its strides
        assert k.strides_col is not None and k.stride_off is not None
        out = _fused_fn()(q, k.ref_rows, k.drows_rest, k.nvec, k.strides_col, float(k.stride_off), k.F2)
    else:
        out = _fused_fn()(q, k.ref_rows, k.drows_rest, k.nvec, None, 0.0, None) * k.default_F2
    if first_col is not None and k.drows_first is not None:
        plain = dataclasses.replace(k, fused=False)
        out[first_col] = path_sums_square(plain, q[first_col:first_col + 1], 0)[0]
    return out


def interp_in_range(k: KernelConsts, hkl: torch.Tensor) -> torch.Tensor:
    """The C's range test for the 4x4x4 stencil on fractional h (..., 3): h - h_min + 3 <= h_range and
    h - 2 >= h_min on every axis (spec 5.4)."""
    lo = torch.tensor(k.grid_lo, dtype=hkl.dtype, device=hkl.device)
    rng = torch.tensor(k.grid_shape, dtype=hkl.dtype, device=hkl.device)
    return (~((hkl - lo + 3 > rng) | (hkl - 2 < lo))).all(-1)


def _polint(xa: list[torch.Tensor], ya: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """4-point Lagrange interpolation at x with nodes xa[0..3] (the C's polint term order)."""
    out = None
    for i in range(4):
        others = [j for j in range(4) if j != i]
        num = (x - xa[others[0]]) * (x - xa[others[1]]) * (x - xa[others[2]]) * ya[i]
        den = (xa[i] - xa[others[0]]) * (xa[i] - xa[others[1]]) * (xa[i] - xa[others[2]])
        term = num / den
        out = term if out is None else out + term
    assert out is not None  # four terms were added
    return out


def interp_F(k: KernelConsts, hkl: torch.Tensor) -> torch.Tensor:
    """Tricubic (tensor-product cubic Lagrange) F at fractional hkl (N, 3) float64 from the stencil
    floor(h) + {-1, 0, 1, 2} (spec 5.4): along l, then k, then h, as the C's polin3. Callers pass only points that
    pass `interp_in_range`, so the stencil lies inside the grid (indices are clamped anyway)."""
    lo = torch.tensor(k.grid_lo, dtype=hkl.dtype, device=hkl.device)
    base = torch.floor(hkl)                                         # (N, 3)
    shape = k.grid_shape
    idx = []
    nodes = []
    for ax in range(3):
        ax_nodes = [base[:, ax] + (i - 1) for i in range(4)]
        nodes.append(ax_nodes)
        idx.append([(n - lo[ax]).clamp(0, shape[ax] - 1).to(torch.int64) for n in ax_nodes])
    assert k.Fgrid is not None, "interpolation needs the F grid (KernelConsts.interp)"
    flat = k.Fgrid.reshape(-1)
    kr, lr = shape[1], shape[2]
    h, kk, ll = hkl[:, 0], hkl[:, 1], hkl[:, 2]
    along_h = []
    for i in range(4):
        along_k = []
        for j in range(4):
            ya = [flat[(idx[0][i] * kr + idx[1][j]) * lr + idx[2][m]] for m in range(4)]
            along_k.append(_polint(nodes[2], ya, ll))
        along_h.append(_polint(nodes[1], along_k, kk))
    return _polint(nodes[0], along_h, h)


def evaluate(k: KernelConsts, s_idx: torch.Tensor, f_idx: torch.Tensor,
             first: tuple[int, int, int] | None = None, detail: bool = False,
             interp_on: bool = False, interp_stop: int | None = None, ws: Workspace | None = None
             ) -> dict[str, Any]:
    """Evaluate pixels (s_idx[p], f_idx[p]) (P,) int64 tensors on k.device.

    first: (p, j, src) of the run's first path when it lies in this chunk and the carry-over changes its lattice.
    interp_on: tricubic interpolation is still on at the start of this chunk; interp_stop: flat index (in
    (P, J, S, T, M) order) from which it is off (the run's first out-of-range evaluation, as the C switches it off
    for good); None = find it here. The result's "interp_fail" is the flat index of this chunk's first
    out-of-range evaluation (or -1) when interpolation was on.
    Returns dict with "S" (P,) final intensity (photons), "I" (P,) sum before scaling, "omega", "polar", "cap",
    "omega_sum_w" (P,) (sum of omega over sub-paths), "interp_fail" (int); with detail=True also the per-path
    tensors used by the trace.
    """
    dt = k.dtype
    gdt = torch.float64
    P = s_idx.shape[0]
    S = k.incident.shape[0]
    pos = positions(k, s_idx, f_idx)                               # (P, J, 3)
    J = pos.shape[1]
    air = torch.linalg.vector_norm(pos, dim=-1)                    # (P, J)
    d = pos / air[..., None]
    if k.point_pixel:
        omega_all = 1.0 / (air * air)
    else:
        omega_all = (k.px * k.px) / (air * air) * (k.close_distance / air)
    # Capture fraction per (layer, sub-pixel): exp(-t*D*mu/rho) - exp(-(t+1)*D*mu/rho).
    if k.thick > 0:
        rho = _dot3(d, k.odet)
        tl = k.layer.to(gdt)[None, :]
        cap_all = torch.exp(-tl * k.thickstep * k.mu / rho) - torch.exp(-(tl + 1) * k.thickstep * k.mu / rho)
    else:
        cap_all = torch.ones_like(air)

    q = (d[:, :, None, :] - k.incident[None, None]) / k.lambdas[None, None, :, None]   # (P, J, S, 3) 1/m
    if k.dmin > 0:
        stol = 0.5 * torch.linalg.vector_norm(q, dim=-1)
        keep = ~((stol > 0) & (k.dmin > 0.5 / stol))
    else:
        keep = torch.ones(q.shape[:-1], dtype=torch.bool, device=q.device)

    running = k.over_thick or k.over_polar or k.over_omega
    qf = q.reshape(-1, 3)
    first_col = None
    if first is not None and k.mat_first is not None:
        first_col = (first[0] * J + first[1]) * S + first[2]
    keep_f = keep.to(dt)
    fast = not (detail or interp_on or running) and k.shape == "SQUARE"
    interp_fail, extra = -1, None
    if fast:
        # Renders: the sum over ticks and domains happens in path_sums_square, no (P, J, S, T, M) tensor is kept.
        I_path = path_sums_square(k, qf, first_col, ws).view(P, J, S)
        if k.dmin > 0:
            I_path = I_path * keep_f
        I = k.I_bg + I_path.sum(dim=(1, 2))
    else:
        I_path, I, extra, interp_fail = _paths_general(k, qf, first_col, keep, keep_f, omega_all, cap_all, d,
                                                       P, J, S, detail, interp_on, interp_stop)
    return _pixel_factors(k, P, J, S, d, keep, omega_all, cap_all, I_path, I, interp_fail, detail, extra, pos, air,
                          q)


def _paths_general(k, qf, first_col, keep, keep_f, omega_all, cap_all, d, P, J, S, detail, interp_on,
                   interp_stop):
    """The per-(t, m) path of `evaluate` (traces, interpolation, oversample_* flags, non-SQUARE shapes): keeps the
    (P, J, S, T, M) tensors. Returns (I_path (P, J, S), I (P,), the per-(t, m) tensors for traces, interp_fail)."""
    dt, gdt = k.dtype, torch.float64
    T, M = k.T, k.M
    q = qf
    running = k.over_thick or k.over_polar or k.over_omega
    frac_t, h0_t, hkl_t = miller_reduced(k, qf, first_col, need_h0=True, want_hkl=detail or interp_on)
    assert h0_t is not None  # need_h0=True
    # (3, T*M, P*J*S) axis-major -> (P, J, S, T, M, 3) views for the per-path code below.
    frac = frac_t.permute(2, 1, 0).reshape(P, J, S, T, M, 3)
    h0 = h0_t.permute(2, 1, 0).reshape(P, J, S, T, M, 3)
    hkl_detail = hkl_t.permute(2, 1, 0).reshape(P, J, S, T, M, 3) if hkl_t is not None else None
    use_interp = None
    if interp_on:
        assert hkl_detail is not None  # want_hkl=True
        inr = interp_in_range(k, hkl_detail)                       # (P, J, S, T, M)
        Fi = torch.zeros(inr.shape, dtype=torch.float64, device=q.device)
        if bool(inr.any()):
            Fi[inr] = interp_F(k, hkl_detail[inr])
    F_latt, fa = lattice_factor(k, frac, h0, signed=detail)
    F2 = f_cell_sq(k, h0)
    interp_fail = -1
    if interp_on:
        # Evaluations that reach the F_cell lookup, in loop order; the first out-of-range one switches the
        # interpolation off for itself and everything after it (spec 5.4).
        evaluated = keep[..., None, None].expand(inr.shape)
        if not k.water:
            evaluated = evaluated & (F_latt != 0)
        oob = (evaluated & ~inr).reshape(-1)
        if bool(oob.any()):
            interp_fail = int(torch.nonzero(oob)[0, 0])
        stop = interp_fail if interp_stop is None else interp_stop
        use_interp = inr.reshape(-1).clone()
        if stop >= 0:
            use_interp[stop:] = False
        use_interp = use_interp.view(inr.shape)
        F2nn = F2 if isinstance(F2, torch.Tensor) else torch.full(inr.shape, F2, dtype=dt, device=q.device)
        F2 = torch.where(use_interp, (Fi * Fi).to(dt), F2nn)
    nz = None
    if running and not k.water:
        nz = F_latt != 0       # the C skips zero lattice factors (no F_cell, no oversample_* factor)
    term = F_latt * F_latt if detail else F_latt.square_()         # (P, J, S, T, M)
    term = term * F2 if isinstance(F2, torch.Tensor) else term.mul_(F2)
    polar_all = None
    if not running:
        I_path = term.sum(dim=(-1, -2)) * keep_f                   # (P, J, S)
        I = k.I_bg + I_path.sum(dim=(1, 2))
    else:
        g = torch.ones((P, J, S), dtype=gdt, device=q.device)
        if k.over_thick:
            g = g * cap_all[:, :, None]
        if k.over_polar:
            polar_all = _polar_all(k, d, P, J, S)
            g = g * polar_all
        if k.over_omega:
            g = g * omega_all[:, :, None]
        tf = term.reshape(P, J, S, T * M)
        live = (nz.reshape(P, J, S, T * M) if nz is not None else torch.ones_like(tf, dtype=torch.bool))
        live = live & keep[..., None]
        cnt_rev = torch.flip(torch.cumsum(torch.flip(live.to(gdt), [-1]), -1), [-1])  # live terms at >= position
        A = (tf * torch.pow(g[..., None], cnt_rev) * live.to(gdt)).sum(-1)             # (P, J, S)
        G = torch.pow(g, live.to(gdt).sum(-1)).reshape(P, J * S)
        suffix = torch.flip(torch.cumprod(torch.flip(G, [1]), 1), [1])                 # inclusive
        excl = torch.cat([suffix[:, 1:], torch.ones((P, 1), dtype=gdt, device=q.device)], 1)
        I = k.I_bg * suffix[:, 0] + (A.reshape(P, J * S) * excl).sum(1)
        I_path = A
    F2_t = F2 if isinstance(F2, torch.Tensor) else torch.full_like(F_latt, F2)
    extra = dict(hkl=hkl_detail, h0=h0, F_latt=F_latt, fa=fa, F2=F2_t, term=term, polar_all=polar_all,
                 F_cell_signed=torch.where(use_interp, Fi.to(dt), torch.sqrt(F2_t)) if use_interp is not None
                 else None)
    return I_path, I, extra, interp_fail


def _polar_all(k: KernelConsts, d: torch.Tensor, P: int, J: int, S: int) -> torch.Tensor:
    """Polarisation factor of every (pixel, sub-path, source) (P, J, S) float64."""
    if k.nopolar:
        return torch.ones((P, J, S), dtype=torch.float64, device=d.device)
    return polarization(k, k.incident[None, None].expand(P, J, S, 3), d[:, :, None, :].expand(P, J, S, 3))


def _pixel_factors(k, P, J, S, d, keep, omega_all, cap_all, I_path, I, interp_fail, detail, extra, pos, air, q):
    """Per-pixel scaling (spec 7.1/7.3) of the path sums I (P,): the result dict of `evaluate`."""
    gdt = torch.float64
    # Per-pixel "last value" factors (spec 7.1/7.3): omega at sub-path 0, capture at the last layer's first
    # sub-pixel, polarisation at the first surviving (sub-path, source).
    omega = omega_all[:, 0]
    cap = cap_all[:, (k.layers - 1) * k.N * k.N]
    polar_all = extra.get("polar_all") if extra else None
    if k.nopolar:
        polar = torch.ones(P, dtype=gdt, device=q.device)
    elif k.dmin <= 0 and polar_all is None and not detail:
        # Every path survives (no dmin cut): the first one is sub-path 0, source 0 of every pixel.
        polar = polarization(k, k.incident[0].expand(P, 3), d[:, 0])
    else:
        flat_keep = keep.reshape(P, J * S)
        first_idx = torch.argmax(flat_keep.to(torch.int8), dim=1)      # first True (0 if none)
        any_keep = flat_keep.any(dim=1)
        if polar_all is None and detail:
            polar_all = _polar_all(k, d, P, J, S)
        if polar_all is not None:
            polar = polar_all.reshape(P, J * S).gather(1, first_idx[:, None])[:, 0]
        else:
            jj, ss = first_idx // S, first_idx % S
            ar = torch.arange(P, device=q.device)
            polar = polarization(k, k.incident[ss], d[ar, jj])
        polar = torch.where(any_keep, polar, torch.zeros_like(polar))
    if k.nopolar and detail:
        polar_all = _polar_all(k, d, P, J, S)
    if k.over_omega:
        omega = omega_all[:, -1]       # last values of the flagged factors, as the trace reports them
    if k.over_thick:
        cap = cap_all[:, -1]

    Sv = I * k.scale
    if not k.over_thick:
        Sv = Sv * cap
    if not k.over_polar:
        Sv = Sv * polar
    if not k.over_omega:
        Sv = Sv * omega
    out = {"S": Sv, "I": I, "omega": omega, "polar": polar, "cap": cap, "omega_sum_w": omega_all.sum(1)
           if k.over_omega else omega * J, "interp_fail": interp_fail}
    if detail:
        out.update(extra)
        out.update(pos=pos, air=air, d=d, q=q, keep=keep, omega_all=omega_all, cap_all=cap_all,
                   polar_all=polar_all, I_path=I_path)
    return out

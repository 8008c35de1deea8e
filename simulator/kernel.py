"""The vectorised intensity kernel (torch): one call evaluates a chunk of pixels over every sub-path (thickness layer
x sub-pixel), source, phi tick and mosaic domain at once (spec 7.1).

Shapes used below: P pixels in the chunk, J = layers*oversample^2 sub-paths (order t, subS, subF), S sources,
T phi ticks, M mosaic domains. The Miller indices of all (T, M) lattices come from one matmul of the scattering
vectors (P*J*S, 3) with a (3, T*M*3) matrix whose columns are the rotated real-space vectors a, b, c (m).
Peak memory is about 12 tensors of P*J*S*T*M*3 elements; `chunk_pixels` bounds that product (see engine.py).
"""
from __future__ import annotations

import math
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


def _padded_grid(setup: Setup) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(F^2 flat array, strides (3,), offset) of a grid covering every reachable h0, k0, l0, or None if too big.

    |h| <= |a|·|q| <= |a|·2/lambda_min, so indices beyond that (plus one for rounding) cannot occur.
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
    full = np.full(shape, hk.default_F ** 2)
    o = [g - lo_ for g, lo_ in zip((hk.h_min, hk.k_min, hk.l_min), lo, strict=True)]
    gs = hk.grid.shape
    full[o[0]:o[0] + gs[0], o[1]:o[1] + gs[1], o[2]:o[2] + gs[2]] = hk.grid ** 2
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.float64)
    return full.ravel(), strides, -float(np.dot(lo, strides))


def make_consts(setup: Setup, dtype: torch.dtype, device: torch.device) -> KernelConsts:
    """Cast the float64 setup to tensors on `device` (geometry float64, lattice work in `dtype`)."""
    g, cr, bm, ph = setup.geometry, setup.crystal, setup.beam, setup.phi

    def t(x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype, device=device)

    def t64(x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, device=device)

    N, L = setup.oversample, g.thicksteps
    tt, ss, ff = np.meshgrid(np.arange(L), np.arange(N), np.arange(N), indexing="ij")
    mat_rest = lattice_matrix(setup, ph.eff_rest)
    mat_first = None
    if np.any(ph.eff_first != ph.eff_rest):
        mat_first = lattice_matrix(setup, ph.eff_first)
    F2, padded, strides_col, stride_off = None, False, None, None
    if setup.hkl.hkls > 0:
        pad = _padded_grid(setup)
        if pad is not None:
            flat, strides, off = pad
            F2, padded = t(flat), True
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
        nvec=t([cr.Na, cr.Nb, cr.Nc]), F2=F2, padded=padded, strides_col=strides_col, stride_off=stride_off,
        grid_lo=(setup.hkl.h_min, setup.hkl.k_min, setup.hkl.l_min),
        grid_shape=setup.hkl.shape if setup.hkl.hkls > 0 else (0, 0, 0), default_F2=setup.hkl.default_F ** 2,
        recip=t(np.stack([cr.a_star, cr.b_star, cr.c_star])), interp=setup.interpolate,
        Fgrid=t64(setup.hkl.grid) if setup.interpolate else None, T=ph.steps, M=cr.n_mosaic, layers=L,
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


def polarization(k: KernelConsts, inc: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Kahn polarisation factor (spec 6.4) for incident i and diffracted d unit vectors (..., 3)."""
    cos2t = (inc * d).sum(-1)
    sin2 = 1 - cos2t * cos2t
    if k.polar_K == 0:
        return 0.5 * (1 + cos2t * cos2t)
    B = torch.linalg.cross(k.polar_axis.expand_as(inc), inc)
    B = B / torch.linalg.vector_norm(B, dim=-1, keepdim=True)
    E = torch.linalg.cross(inc, B)
    E = E / torch.linalg.vector_norm(E, dim=-1, keepdim=True)
    psi = -torch.atan2((d * B).sum(-1), (d * E).sum(-1))
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


def lattice_factor(k: KernelConsts, frac: torch.Tensor, h0: torch.Tensor, signed: bool):
    """(F_latt (...), per-axis factors (..., 3) or None) for the crystal shape (spec 4.8); frac = h - h0 in k.dtype."""
    if k.shape == "SQUARE":
        fa = sincg_reduced(frac, h0, k.nvec, signed)
        return fa.prod(-1), fa
    nprod = float(k.nvec.prod())
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
        idx = torch.addmm(k.stride_off, h0.reshape(-1, 3), k.strides_col).to(torch.int64)
        return k.F2[idx].view(h0.shape[:-1])
    lo = torch.tensor(k.grid_lo, dtype=h0.dtype, device=h0.device)
    rel = (h0 - lo).to(torch.int64)
    hr, kr, lr = k.grid_shape
    valid = (rel >= 0).all(-1) & (rel[..., 0] < hr) & (rel[..., 1] < kr) & (rel[..., 2] < lr)
    idx = (rel[..., 0] * kr + rel[..., 1]) * lr + rel[..., 2]
    idx = torch.where(valid, idx, hr * kr * lr)   # the trailing cell holds default_F^2
    return k.F2[idx]


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
             interp_on: bool = False, interp_stop: int | None = None) -> dict[str, torch.Tensor]:
    """Evaluate pixels (s_idx[p], f_idx[p]) (P,) int64 tensors on k.device.

    first: (p, j, src) of the run's first path when it lies in this chunk and the carry-over changes its lattice.
    interp_on: tricubic interpolation is still on at the start of this chunk; interp_stop: flat index (in
    (P, J, S, T, M) order) from which it is off (the run's first out-of-range evaluation, as the C switches it off
    for good); None = find it here. The result's "interp_fail" is the flat index of this chunk's first
    out-of-range evaluation (or -1) when interpolation was on.
    Returns dict with "S" (P,) final intensity (photons), "I" (P,) sum before scaling, "omega", "polar", "cap",
    "omega_sum_w" (P,) (sum of omega over sub-paths); with detail=True also the per-path tensors used by the trace.
    """
    dt = k.dtype
    gdt = torch.float64
    P = s_idx.shape[0]
    S, T, M = k.incident.shape[0], k.T, k.M
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
        rho = (d * k.odet).sum(-1)
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

    # Miller indices in float64 whatever the working dtype: h ~ 1e2 must keep ~1e-7 absolute accuracy for the
    # lattice factor of large crystals; only the reduced fraction f = h - h0 in [-1/2, 1/2] goes to k.dtype.
    q64 = q
    hkl = (q64.reshape(-1, 3) @ k.mat_rest).view(P, J, S, T, M, 3)
    if first is not None and k.mat_first is not None:
        p0, j0, s0 = first
        hkl[p0, j0, s0] = (q64[p0, j0, s0][None, :] @ k.mat_first).view(T, M, 3)
    h0 = (hkl - 0.5).ceil_()        # the C's ceil(h - 0.5); not torch.round (half-even)
    hkl_detail = hkl.clone() if detail else None
    use_interp = None
    if interp_on:
        inr = interp_in_range(k, hkl)                              # (P, J, S, T, M)
        Fi = torch.zeros(inr.shape, dtype=torch.float64, device=hkl.device)
        if bool(inr.any()):
            Fi[inr] = interp_F(k, hkl[inr])
    frac = hkl.sub_(h0)
    if frac.dtype != dt:
        frac = frac.to(dt)
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
        F2nn = F2 if isinstance(F2, torch.Tensor) else torch.full(inr.shape, F2, dtype=dt, device=hkl.device)
        F2 = torch.where(use_interp, (Fi * Fi).to(dt), F2nn)
    running = k.over_thick or k.over_polar or k.over_omega
    nz = None
    if running and not k.water:
        nz = F_latt != 0       # the C skips zero lattice factors (no F_cell, no oversample_* factor)
    term = F_latt * F_latt if detail else F_latt.square_()         # (P, J, S, T, M)
    term = term * F2 if isinstance(F2, torch.Tensor) else term.mul_(F2)

    keep_f = keep.to(dt)
    # Per-pixel "last value" factors (spec 7.1/7.3): omega at sub-path 0, capture at the last layer's first
    # sub-pixel, polarisation at the first surviving (sub-path, source).
    omega = omega_all[:, 0]
    cap = cap_all[:, (k.layers - 1) * k.N * k.N]
    flat_keep = keep.reshape(P, J * S)
    first_idx = torch.argmax(flat_keep.to(torch.int8), dim=1)      # first True (0 if none)
    any_keep = flat_keep.any(dim=1)
    if k.nopolar:
        polar_all = torch.ones((P, J, S), dtype=gdt, device=q.device)
        polar = torch.ones(P, dtype=gdt, device=q.device)
    else:
        inc_all = k.incident[None, None].expand(P, J, S, 3)
        d_all = d[:, :, None, :].expand(P, J, S, 3)
        if k.over_polar or detail:
            polar_all = polarization(k, inc_all, d_all)
            polar = polar_all.reshape(P, J * S).gather(1, first_idx[:, None])[:, 0]
        else:
            jj, ss = first_idx // S, first_idx % S
            ar = torch.arange(P, device=q.device)
            polar = polarization(k, k.incident[ss], d[ar, jj])
            polar_all = None
        polar = torch.where(any_keep, polar, torch.zeros_like(polar))

    if not running:
        I_path = term.sum(dim=(-1, -2)) * keep_f                   # (P, J, S)
        I = k.I_bg + I_path.sum(dim=(1, 2))
    else:
        g = torch.ones((P, J, S), dtype=gdt, device=q.device)
        if k.over_thick:
            g = g * cap_all[:, :, None]
        if k.over_polar:
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
        # Last values of the flagged factors, as the trace reports them.
        if k.over_omega:
            omega = omega_all[:, -1]
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
        out.update(pos=pos, air=air, d=d, q=q, keep=keep, hkl=hkl_detail, h0=h0, F_latt=F_latt, fa=fa,
                   F2=F2 if isinstance(F2, torch.Tensor) else torch.full_like(F_latt, F2), term=term,
                   omega_all=omega_all, cap_all=cap_all, polar_all=polar_all, I_path=I_path,
                   F_cell_signed=torch.where(use_interp, Fi.to(dt), torch.sqrt(F2)) if use_interp is not None
                   else None)
    return out

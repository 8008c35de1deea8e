"""Predicted reflections and resolution rings on the detector (Qt-free numpy, from a resolved simulator Setup).

Conventions (spec/decisions.md D6 and the engine's): the scattering vector of a pixel is q = (d̂ − î)/λ (1/m), with
d̂ the unit vector from the sample to the pixel centre pix0 + (f+0.5)·px·f̂ + (s+0.5)·px·ŝ and î the incident unit
vector; the fractional Miller index along axis a is h = a(φ) · q, a(φ) = U_m · R(spindle, φ) · a0 (m).

A reflection (h, k, l) is predicted at φ tick t when the detector pixel that its diffracted ray k' = î/λ + q_hkl
meets lies inside the image; its strength there is the lattice factor the engine evaluates at that pixel's centre,
L = Π_axes [sin(π N Δ) / (N sin(π Δ))]² with Δ = fractional − integer index (1 at the Bragg position, 0 at the
shape transform's first zero), times |F(hkl)|² from the HKL grid. Over the ticks the best (largest L) is kept.
Mosaic domains and sources other than the first are not spread out: one spot per reflection, at the mean setting.

Rings: points whose 2θ satisfies d = λ / (2 sin θ), traced around the beam by azimuth and intersected with the
(flat) detector plane, in view coordinates (x = fast px, y = slow px).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.vec import rodrigues_matrix

# Reflections kept: lattice factor at least this (relative to the Bragg peak's 1) at the best tick.
MIN_LATTICE = 1e-3
# Reflections tried: those within this many shape-transform widths of the Ewald sphere at some tick.
EWALD_WIDTHS = 6.0


@dataclass(frozen=True)
class Spot:
    """A predicted reflection: indices, where it lands (view px: x = fast, y = slow; pixel = floor of those),
    the φ tick and angle (deg) of its best setting, lattice factor L (0–1), |F|² and d (Å)."""

    h: int
    k: int
    l: int  # noqa: E741 (Miller index l)
    x: float
    y: float
    tick: int
    phi_deg: float
    lattice: float
    f_sq: float
    d_A: float

    @property
    def pixel(self) -> tuple[int, int]:
        """(slow, fast)."""
        return int(math.floor(self.y)), int(math.floor(self.x))

    @property
    def strength(self) -> float:
        return self.lattice * self.f_sq

    def label(self) -> str:
        return f"({self.h} {self.k} {self.l})"


@dataclass(frozen=True)
class DetectorFrame:
    """The flat detector and the beam: pix0 (m, to the outer corner of pixel (0, 0)), unit f̂, ŝ, normal ô,
    incident î, pixel size px (m), λ (m), shape (slow, fast)."""

    pix0: np.ndarray
    fdet: np.ndarray
    sdet: np.ndarray
    odet: np.ndarray
    incident: np.ndarray
    px: float
    lambda_m: float
    shape: tuple[int, int]

    @classmethod
    def from_setup(cls, setup) -> DetectorFrame:
        g = setup.geometry
        inc = np.asarray(setup.beam.incident[0], float)
        return cls(np.asarray(g.pix0, float), np.asarray(g.fdet, float), np.asarray(g.sdet, float),
                   np.asarray(g.odet, float), inc / np.linalg.norm(inc), float(g.px),
                   float(setup.beam.lambdas[0]), (int(g.spixels), int(g.fpixels)))

    def position(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Lab positions (n, 3) m of view coordinates (x fast px, y slow px)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        return self.pix0 + x[:, None] * self.px * self.fdet + y[:, None] * self.px * self.sdet

    def project(self, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where rays from the sample along `directions` (n, 3) meet the detector plane: (x, y, hits) with hits
        False for rays parallel to it or pointing away from it."""
        directions = np.asarray(directions, float)
        # The plane spanned by f̂ and ŝ through pix0 (ô as given may be a little off square to them).
        normal = np.cross(self.fdet, self.sdet)
        denom = directions @ normal
        along = float(self.pix0 @ normal)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = along / denom
        hits = np.isfinite(t) & (t > 0)
        pos = np.where(hits[:, None], t[:, None] * directions, 0.0) - self.pix0
        f, sd = self.fdet, self.sdet
        gram = np.array([[f @ f, f @ sd], [sd @ f, sd @ sd]])
        xy = np.linalg.solve(gram, np.stack([pos @ self.fdet, pos @ self.sdet]))
        return xy[0] / self.px, xy[1] / self.px, hits

    def q_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Scattering vectors (n, 3) 1/m at view coordinates."""
        pos = self.position(x, y)
        d = pos / np.linalg.norm(pos, axis=1)[:, None]
        return (d - self.incident) / self.lambda_m

    def d_spacing(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d (Å) = λ / (2 sin θ) at view coordinates (inf on the beam)."""
        pos = self.position(x, y)
        cos2t = np.clip(pos @ self.incident / np.linalg.norm(pos, axis=1), -1.0, 1.0)
        s = np.sin(np.arccos(cos2t) / 2.0)
        with np.errstate(divide="ignore"):
            return np.where(s > 0, self.lambda_m / (2.0 * s) * 1e10, np.inf)


# ---- rings ---------------------------------------------------------------------------------------------------------
def ring_points(frame: DetectorFrame, d_A: float, n: int = 720) -> tuple[np.ndarray, np.ndarray]:
    """The ring of d-spacing d_A (Å) as view coordinates (x, y) over n azimuths (NaN where the ray misses the
    detector plane, so a polyline breaks there); empty when λ/(2d) > 1 (no such ring)."""
    s = frame.lambda_m * 1e10 / (2.0 * d_A) if d_A > 0 else math.inf
    if not s <= 1.0:
        return np.zeros(0), np.zeros(0)
    two_theta = 2.0 * math.asin(s)
    b = frame.incident
    helper = np.array([1.0, 0.0, 0.0]) if abs(b[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(b, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(b, e1)
    psi = np.linspace(0.0, 2.0 * math.pi, n + 1)
    dirs = (math.cos(two_theta) * b[None, :] + math.sin(two_theta) * (np.cos(psi)[:, None] * e1
                                                                        + np.sin(psi)[:, None] * e2))
    x, y, hits = frame.project(dirs)
    return np.where(hits, x, np.nan), np.where(hits, y, np.nan)


def edge_resolution(frame: DetectorFrame) -> float:
    """d (Å) of the largest ring that lies on the detector all round: the largest d over the image's border."""
    s_n, f_n = frame.shape
    xs = np.concatenate([np.arange(f_n) + 0.5, np.arange(f_n) + 0.5, np.zeros(s_n), np.full(s_n, float(f_n))])
    ys = np.concatenate([np.zeros(f_n), np.full(f_n, float(s_n)), np.arange(s_n) + 0.5, np.arange(s_n) + 0.5])
    return float(np.max(frame.d_spacing(xs, ys)))


def corner_resolution(frame: DetectorFrame) -> float:
    """d (Å) at the detector's corners: the highest resolution it records at all."""
    s_n, f_n = frame.shape
    return float(np.min(frame.d_spacing(np.array([0.0, f_n, 0.0, f_n]), np.array([0.0, 0.0, s_n, s_n]))))


def parse_d_list(text: str) -> list[float]:
    """'3.5, 2.0 1.5' -> [3.5, 2.0, 1.5] (Å); raises ValueError naming the bad entry."""
    out = []
    for tok in text.replace(",", " ").split():
        try:
            v = float(tok)
        except ValueError:
            raise ValueError(f"d-spacings: expected numbers in Å separated by spaces or commas, got {tok!r}") \
                from None
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"d-spacings: expected positive numbers in Å, got {tok!r}")
        out.append(v)
    return out


# ---- reflections ---------------------------------------------------------------------------------------------------
def lattice_at(setup, angle: float, mosaic: int = 0) -> np.ndarray:
    """(3, 3) columns a, b, c (m) at spindle angle `angle` (rad) and mosaic domain `mosaic`, as the kernel."""
    cr = setup.crystal
    base = np.stack([cr.a0, cr.b0, cr.c0], axis=1)
    rotated = base if angle == 0.0 else rodrigues_matrix(setup.geometry.spindle, float(angle)) @ base
    return cr.umats[mosaic] @ rotated if cr.mosaic_spread > 0 else rotated


def _lattice_factor(frac: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Π over axes of [sin(π N Δ)/(N sin(π Δ))]², Δ = frac − round(frac): (m, 3) -> (m,)."""
    delta = frac - np.round(frac)
    x = np.pi * delta
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sin(n * x) / (n * np.sin(x))
    r = np.where(np.abs(delta) < 1e-12, 1.0, r)
    return np.prod(r * r, axis=1)


def predict_spots(setup, min_lattice: float = MIN_LATTICE, roi: tuple[int, int, int, int] | None = None
                  ) -> list[Spot]:
    """Reflections that land on the detector (or `roi` = (xmin, xmax, ymin, ymax) inclusive, as -roi) with
    lattice factor >= min_lattice at some φ tick of the command line, strongest first."""
    frame = DetectorFrame.from_setup(setup)
    s_n, f_n = frame.shape
    xmin, xmax, ymin, ymax = roi if roi is not None else (0, f_n - 1, 0, s_n - 1)
    cr = setup.crystal
    n_cells = np.array([cr.Na, cr.Nb, cr.Nc], float)
    # Reach of q over the image: its corners bound |q| (2 sin θ / λ grows with 2θ, largest at a corner or edge).
    corners_x = np.array([xmin, xmax + 1, xmin, xmax + 1, (xmin + xmax + 1) / 2], float)
    corners_y = np.array([ymin, ymin, ymax + 1, ymax + 1, (ymin + ymax + 1) / 2], float)
    q_corner = np.linalg.norm(frame.q_at(corners_x, corners_y), axis=1)
    border = _border(xmin, xmax, ymin, ymax)
    q_max = max(float(q_corner.max()), float(np.linalg.norm(frame.q_at(*border), axis=1).max()))
    s0 = frame.incident / frame.lambda_m
    best: dict[tuple[int, int, int], Spot] = {}
    angles = np.asarray(setup.phi.angles, float)
    # The index box and the |q| <= q_max cut once: a rotation about the spindle keeps |q| (mosaic is not spread).
    lat0 = lattice_at(setup, float(angles[0]) if angles.size else 0.0)
    reach = [int(math.ceil(np.linalg.norm(lat0[:, i]) * q_max)) + 1 for i in range(3)]
    hkl_all = _index_box(reach)
    qn = np.linalg.norm(hkl_all @ np.linalg.inv(lat0.T).T, axis=1)
    hkl_all = hkl_all[(qn <= q_max * 1.0001) & (qn > 0)]
    # Near the Ewald sphere: | |s0 + q| − 1/λ | within EWALD_WIDTHS shape-transform widths (1/(N|a|) on the
    # narrowest axis): a partial reflection whose side lobe grazes the sphere can still light a pixel.
    width = 1.0 / min(n_cells[i] * np.linalg.norm(lat0[:, i]) for i in range(3))
    for t, ang in enumerate(angles):
        lat = lattice_at(setup, float(ang))                 # columns a, b, c (m)
        recip = np.linalg.inv(lat.T)                        # columns a*, b*, c* (1/m): h = lat.T @ q
        kp = s0 + hkl_all @ recip.T                         # k' = s0 + q, (n, 3) 1/m
        eps = np.abs(np.sqrt(np.einsum("ij,ij->i", kp, kp)) - 1.0 / frame.lambda_m)
        keep = eps <= EWALD_WIDTHS * width
        hkl, kp = hkl_all[keep], kp[keep]
        if hkl.size == 0:
            continue
        x, y, hits = frame.project(kp)
        inside = hits & (x >= xmin) & (x < xmax + 1) & (y >= ymin) & (y < ymax + 1)
        hkl, x, y = hkl[inside], x[inside], y[inside]
        if hkl.size == 0:
            continue
        # The engine's lattice factor at the centre of the pixel the ray meets.
        xc, yc = np.floor(x) + 0.5, np.floor(y) + 0.5
        frac = frame.q_at(xc, yc) @ lat                     # (n, 3) fractional h, k, l
        latt = _lattice_factor(frac, n_cells)
        d_A = frame.d_spacing(x, y)
        for i in np.flatnonzero(latt >= min_lattice):
            key = (int(hkl[i, 0]), int(hkl[i, 1]), int(hkl[i, 2]))
            old = best.get(key)
            if old is None or latt[i] > old.lattice:
                f = setup.hkl.lookup(*key)
                best[key] = Spot(*key, float(x[i]), float(y[i]), t, math.degrees(float(ang)), float(latt[i]),
                                 float(f * f), float(d_A[i]))
    return sorted(best.values(), key=lambda s: -s.strength)


def _border(xmin: int, xmax: int, ymin: int, ymax: int) -> tuple[np.ndarray, np.ndarray]:
    nx, ny = xmax + 2 - xmin, ymax + 2 - ymin
    xs = np.concatenate([np.linspace(xmin, xmax + 1, nx)] * 2 + [np.full(ny, float(xmin)), np.full(ny, xmax + 1.0)])
    ys = np.concatenate([np.full(nx, float(ymin)), np.full(nx, ymax + 1.0)] + [np.linspace(ymin, ymax + 1, ny)] * 2)
    return xs, ys


def _index_box(reach: list[int]) -> np.ndarray:
    """All integer (h, k, l) with |h| <= reach[0] etc., as float64 (n, 3)."""
    axes = [np.arange(-r, r + 1, dtype=np.float64) for r in reach]
    g = np.meshgrid(*axes, indexing="ij")
    return np.stack([a.ravel() for a in g], axis=1)


def nearest_spot(spots: list[Spot], slow: int, fast: int) -> tuple[Spot, float] | None:
    """The predicted spot nearest to pixel (slow, fast)'s centre and its distance (px); None without spots."""
    if not spots:
        return None
    xy = np.array([[s.x, s.y] for s in spots])
    dist = np.hypot(xy[:, 0] - (fast + 0.5), xy[:, 1] - (slow + 0.5))
    i = int(np.argmin(dist))
    return spots[i], float(dist[i])

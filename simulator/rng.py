"""The C's random numbers for crystal setup (torch-free): NR-style `ran1` and `mosaic_rotation_umat` (spec 4.7, 4.3).

ran1 is the Park-Miller "minimal standard" generator with a Bays-Durham shuffle table. The C keeps the shuffle table
and its last output in statics shared by every seed; a negative seed reloads the table, and every seed the C uses
starts negative, so one `Ran1` object per seed stream gives the same numbers.
The return value is a single-precision float, as in the C.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

IA = 16807
IM = 2147483647
AM = 1.0 / IM
IQ = 127773
IR = 2836
NTAB = 32
NDIV = 1 + (IM - 1) // NTAB
RNMX = 1.0 - 1.2e-7


def _load_powf():
    """The C library's powf (what the C program calls), or None where it cannot be loaded."""
    try:
        name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
        lib = ctypes.CDLL(name)
        fn = lib.powf
    except (OSError, AttributeError, TypeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float, ctypes.c_float]
    return fn


_POWF = _load_powf()


def powf(x: float, y: float) -> np.float32:
    """Single-precision pow as the C's powf: libm's own when loadable (numpy's float32 power can differ by an ulp,
    which moves a 90-"radian" random misset by ~2e-4 deg), else numpy float32."""
    if _POWF is not None:
        return np.float32(_POWF(float(np.float32(x)), float(np.float32(y))))
    return np.power(np.float32(x), np.float32(y), dtype=np.float32)


class Ran1:
    """One stream of the C's ran1. `seed` is the C's stored (normally negative) seed value."""

    def __init__(self, seed: int):
        self.idum = int(seed)
        self.iy = 0
        self.iv = [0] * NTAB

    def _step(self) -> None:
        # Schrage's method: idum = IA*idum mod IM without overflow (exact in Python ints anyway).
        k = self.idum // IQ if self.idum >= 0 else -((-self.idum) // IQ)  # C division truncates toward zero
        self.idum = IA * (self.idum - k * IQ) - IR * k
        if self.idum < 0:
            self.idum += IM

    def __call__(self) -> np.float32:
        if self.idum <= 0 or self.iy == 0:
            self.idum = 1 if -self.idum < 1 else -self.idum
            for j in range(NTAB + 7, -1, -1):
                self._step()
                if j < NTAB:
                    self.iv[j] = self.idum
            self.iy = self.iv[0]
        self._step()
        j = self.iy // NDIV
        self.iy = self.iv[j]
        self.iv[j] = self.idum
        temp = np.float32(AM * self.iy)  # the C stores AM*iy (double) in a float
        if float(temp) > RNMX:
            return np.float32(RNMX)
        return temp


def mosaic_rotation_umat(spread_rad: float, rng: Ran1) -> np.ndarray:
    """A random rotation (3x3 float64, row-major like the C's umat) by at most `spread_rad` about a random axis.

    Uses three ran1 draws r = 2*ran1 - 1: axis (sqrt(1-r2^2) sin(pi r1), sqrt(1-r2^2) cos(pi r1), r2), angle
    spread*(1-r3^2)^(1/3). The C passes the spread as a `float` and uses powf, so that one step is done in float32
    (the angle is the float32 product, then widened); everything else is double.
    """
    f32 = np.float32
    r1 = 2.0 * float(rng()) - 1.0
    r2 = 2.0 * float(rng()) - 1.0
    r3 = 2.0 * float(rng()) - 1.0
    xyrad = math.sqrt(1.0 - r2 * r2)
    rot = float(f32(spread_rad) * powf(1.0 - r3 * r3, 1.0 / 3.0))
    vx = xyrad * math.sin(math.pi * r1)
    vy = xyrad * math.cos(math.pi * r1)
    vz = r2
    c, s = math.cos(rot), math.sin(rot)
    t = 1.0 - c
    # Right-handed rotation about (vx, vy, vz): c*I + t*v v^T + s*[v]x.
    # Grouped as the C's nb_mosaic_umat: c + t*(v v), (t*v_i)*v_j.
    return np.array([
        [c + t * (vx * vx), (t * vx) * vy - s * vz, (t * vx) * vz + s * vy],
        [(t * vx) * vy + s * vz, c + t * (vy * vy), (t * vy) * vz - s * vx],
        [(t * vx) * vz - s * vy, (t * vy) * vz + s * vx, c + t * (vz * vz)],
    ])


def umat_to_misset_rad(umat: np.ndarray) -> tuple[float, float, float]:
    """Angles (rotx, roty, rotz) in radians with R_z*R_y*R_x = umat, extracted as the C does (spec 4.3); scalar
    `math` on Python floats (the same bits on every instruction set)."""
    u = [[float(x) for x in row] for row in umat]
    if u[2][0] * u[2][0] < 1.0:
        rotx = math.atan2(u[2][1], u[2][2])
        roty = math.atan2(-u[2][0], math.sqrt(u[2][1] * u[2][1] + u[2][2] * u[2][2]))
        rotz = math.atan2(u[1][0], u[0][0])
    else:
        rotx = math.pi
        roty = math.pi / 2
        rotz = math.atan2(u[0][1], -u[1][1])
    return rotx, roty, rotz


def umat_to_misset_deg(umat: np.ndarray) -> tuple[float, float, float]:
    """`umat_to_misset_rad` in degrees (rad * 180/pi, the C's printout)."""
    rtd = 180.0 / math.pi
    rx, ry, rz = umat_to_misset_rad(umat)
    return rx * rtd, ry * rtd, rz * rtd

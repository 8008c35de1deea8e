"""Small float64 vector helpers (torch-free) used by the setup modules: the C's rotation conventions.

Every helper works on Python floats with `math`, in the C reference's order of operations (util.c), never with
numpy's vectorised math or BLAS (issue 18): `np.dot`, `np.linalg.norm` and `@` go through OpenBLAS kernels chosen
per CPU (FMA contraction and summation order differ between e.g. Haswell and SkylakeX kernels), and numpy's
sin/cos are SIMD-dispatched. A result one ulp away moves a ceil() across an integer (the automatic oversampling of
AT-PARALLEL-024), so set-up values must be the same on every instruction set. Python's float + - * / and
`math.sqrt` are correctly rounded; `math.sin`/`cos` call the same libm the C reference calls.
Inputs are any 3-sequences; outputs are float64 arrays (3,) (matrices (3, 3)).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# numpy arrays are not `Sequence`s to the type checker, yet most callers pass the (3,) arrays these helpers return.
Vec = Sequence[float] | np.ndarray


def _xyz(v: Vec) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])


def dot(a: Vec, b: Vec) -> float:
    """a·b summed left to right (the C's nb_dot)."""
    ax, ay, az = _xyz(a)
    bx, by, bz = _xyz(b)
    return ax * bx + ay * by + az * bz


def cross(a: Vec, b: Vec) -> np.ndarray:
    """a×b (the C's nb_cross)."""
    ax, ay, az = _xyz(a)
    bx, by, bz = _xyz(b)
    return np.array([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])


def mag(v: Vec) -> float:
    """|v| = sqrt(x*x + y*y + z*z) (the C's nb_mag)."""
    x, y, z = _xyz(v)
    return math.sqrt(x * x + y * y + z * z)


def unit(v: Vec) -> np.ndarray:
    """v/|v| (float64); a zero vector stays zero (the C's nb_unitize)."""
    x, y, z = _xyz(v)
    n = mag(v)
    return np.array([x / n, y / n, z / n]) if n != 0.0 else np.array([x, y, z])


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_xyz(v: Vec, rx: float, ry: float, rz: float) -> np.ndarray:
    """R_z(rz)·R_y(ry)·R_x(rx)·v (radians); each factor skipped when its angle is 0, as the C's nb_rotate_xyz."""
    x, y, z = _xyz(v)
    if rx != 0.0:
        c, s = math.cos(rx), math.sin(rx)
        y, z = c * y - s * z, s * y + c * z
    if ry != 0.0:
        c, s = math.cos(ry), math.sin(ry)
        x, z = c * x + s * z, -s * x + c * z
    if rz != 0.0:
        c, s = math.cos(rz), math.sin(rz)
        x, y = c * x - s * y, s * x + c * y
    return np.array([x, y, z])


def rodrigues(v: Vec, axis: Vec, phi: float) -> np.ndarray:
    """Right-handed rotation of v about `axis` (assumed unit) by phi radians (the C's nb_rotate_axis)."""
    c, s = math.cos(phi), math.sin(phi)
    vx, vy, vz = _xyz(v)
    ux, uy, uz = _xyz(axis)
    d = (ux * vx + uy * vy + uz * vz) * (1.0 - c)
    return np.array([vx * c + (uy * vz - uz * vy) * s + ux * d,
                     vy * c + (uz * vx - ux * vz) * s + uy * d,
                     vz * c + (ux * vy - uy * vx) * s + uz * d])


def rodrigues_matrix(axis: Vec, phi: float) -> np.ndarray:
    """3x3 matrix of `rodrigues(·, axis, phi)`."""
    return np.stack([rodrigues(e, axis, phi) for e in np.eye(3)], axis=1)


def mat_vec(m: np.ndarray, v: Vec) -> np.ndarray:
    """m·v for a 3x3 matrix, each row summed left to right (the C's nb_rotate_umat; no BLAS)."""
    return np.array([dot(m[i], v) for i in range(3)])

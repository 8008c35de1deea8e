"""Small float64 vector helpers (torch-free) used by the setup modules: the C's rotation conventions."""
from __future__ import annotations

import math

import numpy as np


def unit(v: np.ndarray) -> np.ndarray:
    """v/|v| (float64); a zero vector stays zero."""
    n = float(np.sqrt(np.dot(v, v)))
    return v / n if n > 0 else np.array(v, dtype=np.float64)


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotate_xyz(v: np.ndarray, rx: float, ry: float, rz: float) -> np.ndarray:
    """R_z(rz)·R_y(ry)·R_x(rx)·v (radians); each factor skipped when its angle is 0, as the C's rotate()."""
    out = np.array(v, dtype=np.float64)
    if rx != 0.0:
        out = rot_x(rx) @ out
    if ry != 0.0:
        out = rot_y(ry) @ out
    if rz != 0.0:
        out = rot_z(rz) @ out
    return out


def rodrigues(v: np.ndarray, axis: np.ndarray, phi: float) -> np.ndarray:
    """Right-handed rotation of v about `axis` (assumed unit) by phi radians: v cos + (u×v) sin + u(u·v)(1−cos)."""
    c, s = math.cos(phi), math.sin(phi)
    return v * c + np.cross(axis, v) * s + axis * float(np.dot(axis, v)) * (1.0 - c)


def rodrigues_matrix(axis: np.ndarray, phi: float) -> np.ndarray:
    """3x3 matrix of `rodrigues(·, axis, phi)`."""
    return np.stack([rodrigues(e, axis, phi) for e in np.eye(3)], axis=1)
